"""Evaluation protocols: speaker-independent actor folds, and the paper-style random 80/20 split.

Speaker-independent: for each fold, train on the other actors (validation actors taken from them,
one male and one female), test on the fold's 4 actors; mean ± std over folds. Random: a stratified
80/20 split of clips, which lets the same actor (and the same sentence) sit in train and test: it
is how figures like the paper's 90.8 % are usually obtained, and it overstates what a new speaker
will see.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgemood.labels import EMOTIONS, MODALITIES
from edgemood.metrics import classification_report
from edgemood.train.data import SPEAKER_FOLDS, Clip
from edgemood.train.fit import (
    TrainConfig,
    batch_arrays,
    pick_device,
    predict_arrays,
    train_model,
)
from edgemood.train.fusion import FusionConfig, FusionNet

SUMMARY_KEYS = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "ece")


def validation_actors(actors: Sequence[int], seed: int) -> set[int]:
    """One male (odd) and one female (even) actor from ``actors`` for early stopping."""
    rng = np.random.default_rng(seed)
    males = sorted(a for a in actors if a % 2)
    females = sorted(a for a in actors if a % 2 == 0)
    chosen = set()
    for group in (males, females):
        if len(group) > 1:
            chosen.add(int(rng.choice(group)))
    return chosen


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (first, second) with ``fraction`` of every class in the second part."""
    rng = np.random.default_rng(seed)
    first, second = [], []
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        cut = round(len(index) * fraction)
        second.extend(index[:cut])
        first.extend(index[cut:])
    return np.sort(np.array(first, int)), np.sort(np.array(second, int))  # int even if empty


def ablations(trained: dict[str, bool]) -> dict[str, dict[str, bool]]:
    """Modality subsets to report, among those the model was trained on."""
    subsets = {
        "audio": {"audio"},
        "visual": {"visual"},
        "audio+visual": {"audio", "visual"},
        "all": set(MODALITIES),
    }
    out: dict[str, dict[str, bool]] = {}
    for name, subset in subsets.items():
        kept = {m: trained[m] and m in subset for m in MODALITIES}
        # Subsets that come to the same inputs for this model are reported once.
        if any(kept.values()) and kept not in out.values():
            out[name] = kept
    return out


def _predict(net: FusionNet, clips: Sequence[Clip], keep: dict[str, bool], device) -> np.ndarray:
    keep = {m: net.config.trained[m] and keep[m] for m in MODALITIES}
    arrays = batch_arrays(clips, keep, net.config)
    return predict_arrays(net, arrays, device)


def run_split(
    train: Sequence[Clip],
    test: Sequence[Clip],
    val: Sequence[Clip] | None,
    fusion: FusionConfig,
    config: TrainConfig,
    label: str = "",
) -> dict:
    """Train on ``train`` (early stopping on ``val``; None: exactly ``config.epochs``), predict
    ``test`` under each ablation. ``label`` goes before the progress lines."""
    net, history = train_model(train, val, fusion, config, label=label)
    device = pick_device("cpu")
    results = {}
    for name, keep in ablations(net.config.trained).items():
        probs = _predict(net, test, keep, device)
        # Clips that lack every kept modality cannot be scored under that ablation.
        has = np.array(
            [any(keep[m] and getattr(c.inputs, m) is not None for m in MODALITIES) for c in test]
        )
        results[name] = {
            "probabilities": probs[has],
            "labels": np.array([c.label for c in test])[has],
        }
    return {"results": results, "best_epoch": history["best_epoch"], "trained": net.config.trained}


def evaluate(
    clips: Sequence[Clip],
    protocol: str,
    fusion: FusionConfig | None = None,
    config: TrainConfig | None = None,
    folds: Sequence[Sequence[int]] = SPEAKER_FOLDS,
    log=None,
    augmented: dict[Path, list[Clip]] | None = None,
    validation: bool = True,
) -> dict:
    """Run a protocol and return a JSON-ready report.

    Args:
        clips: clips with features.
        protocol: 'speaker' (actor folds) or 'random' (stratified 80/20 clips).
        fusion: architecture.
        config: training settings (seed, epochs, device ...).
        folds: test actors per fold for the speaker protocol.
        log: callable(str) for progress.
        augmented: perturbed training copies per clip path (speed_perturbed); a split trains
            on the copies of its own training clips only, never of its test or validation ones.
        validation: hold out validation actors (speaker) or clips (random) for early stopping;
            False trains on all the rest for exactly ``config.epochs``, the recipe of a model
            shipped with ``train --no-validation``.
    Returns:
        {'protocol', 'folds': [...], 'summary': {ablation: {metric: {'mean','std'}}},
         'pooled': {ablation: classification_report}, 'best_epochs': [...]}
    """
    fusion = fusion or FusionConfig()
    config = config or TrainConfig()
    log = log or (lambda line: print(line, file=sys.stderr))
    splits = []
    if protocol == "speaker":
        actors_here = {c.actor for c in clips}
        for number, test_actors in enumerate(folds, 1):
            if not actors_here & set(test_actors):
                continue
            rest = sorted(actors_here - set(test_actors))
            val_actors = validation_actors(rest, config.seed + number) if validation else set()
            test = [c for c in clips if c.actor in test_actors]
            val = [c for c in clips if c.actor in val_actors]
            train = [c for c in clips if c.actor not in test_actors and c.actor not in val_actors]
            splits.append((f"fold {number} (test actors {list(test_actors)})", train, val, test))
    elif protocol == "random":
        labels = np.array([c.label for c in clips])
        rest, test_index = stratified_split(labels, 0.2, config.seed)
        train_index, val_index = stratified_split(
            labels[rest], 0.1 if validation else 0.0, config.seed + 1
        )
        pick = lambda idx: [clips[i] for i in idx]  # noqa: E731
        splits.append(
            ("random 80/20", pick(rest[train_index]), pick(rest[val_index]), pick(test_index))
        )
    else:
        raise ValueError("protocol must be 'speaker' or 'random'")

    per_fold, pooled, best_epochs = [], {}, []
    for number, (name, train, val, test) in enumerate(splits, 1):
        copies = [copy for clip in train for copy in (augmented or {}).get(clip.path, [])]
        log(
            f"split {number}/{len(splits)}, {name}: train {len(train)} "
            f"(+{len(copies)} perturbed copies), validation {len(val)}, test {len(test)} clips"
        )
        train = [*train, *copies]
        label = f"split {number}/{len(splits)} "
        run = run_split(train, test, val or None, fusion, config, label)
        best_epochs.append(run["best_epoch"])
        fold_report = {"name": name, "best_epoch": run["best_epoch"], "metrics": {}}
        for ablation, result in run["results"].items():
            report = classification_report(result["probabilities"], result["labels"])
            fold_report["metrics"][ablation] = {k: report[k] for k in (*SUMMARY_KEYS, "n")}
            pool = pooled.setdefault(ablation, {"probabilities": [], "labels": []})
            pool["probabilities"].append(result["probabilities"])
            pool["labels"].append(result["labels"])
            accuracy, f1 = report["accuracy"], report["macro_f1"]
            log(f"  {ablation}: accuracy {accuracy:.3f}, macro-F1 {f1:.3f}")
        per_fold.append(fold_report)

    summary = {}
    for ablation in pooled:
        values = [f["metrics"][ablation] for f in per_fold if ablation in f["metrics"]]
        summary[ablation] = {
            key: {
                "mean": float(np.mean([v[key] for v in values])),
                "std": float(np.std([v[key] for v in values])),
            }
            for key in SUMMARY_KEYS
        }
    pooled_reports = {
        ablation: classification_report(
            np.concatenate(pool["probabilities"]), np.concatenate(pool["labels"])
        )
        for ablation, pool in pooled.items()
    }
    return {
        "protocol": protocol,
        "clips": len(clips),
        "actors": sorted({c.actor for c in clips}),
        "folds": per_fold,
        "summary": summary,
        "pooled": pooled_reports,
        "best_epochs": best_epochs,
        "validation": validation,
        "architecture": fusion.to_dict(),
        "training": config.to_dict(),
    }


def save_confusion_png(matrix: Sequence[Sequence[int]], path: Path, title: str) -> None:
    """Row-normalised confusion matrix with counts, as a PNG."""
    import matplotlib

    matrix = np.asarray(matrix, dtype=np.float64)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(7, 6))
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45, ha="right")
    axes.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for i in range(len(EMOTIONS)):
        for j in range(len(EMOTIONS)):
            axes.text(
                j,
                i,
                int(matrix[i, j]),
                ha="center",
                va="center",
                color="white" if rates[i, j] > 0.5 else "black",
                fontsize=8,
            )
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown_report(report: dict) -> str:
    """The summary and the per-class table (the paper's Table 4.1 columns) as Markdown."""
    lines = [
        f"Protocol: **{report['protocol']}**, {report['clips']} clips, "
        f"actors {report['actors'][0]}–{report['actors'][-1]}; "
        + (
            "early stopping on validation actors/clips"
            if report.get("validation", True)
            else f"no validation: all other clips, {report['training']['epochs']} epochs"
        ),
        "",
    ]
    lines.append("| inputs | accuracy | macro P | macro R | macro F1 | ECE |")
    lines.append("|---|---|---|---|---|---|")
    for ablation, metrics in report["summary"].items():
        cells = [f"{metrics[k]['mean']:.3f} ± {metrics[k]['std']:.3f}" for k in SUMMARY_KEYS]
        lines.append(f"| {ablation} | " + " | ".join(cells) + " |")
    for ablation, pooled in report["pooled"].items():
        lines += [
            "",
            f"Per class, {ablation} (pooled over {len(report['folds'])} test split(s)):",
            "",
        ]
        lines.append("| emotion | precision | recall | F1 | accuracy (1-vs-rest) | AUC | n |")
        lines.append("|---|---|---|---|---|---|---|")
        for name, row in pooled["per_class"].items():
            lines.append(
                f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | "
                f"{row['accuracy_ovr']:.3f} | {row['auc']:.3f} | {row['support']} |"
            )
    return "\n".join(lines)


def write_report(report: dict, out_dir: Path) -> None:
    """report.json, report.md and one confusion PNG per ablation into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(markdown_report(report) + "\n", encoding="utf-8")
    for ablation, pooled in report["pooled"].items():
        name = ablation.replace("+", "_")
        save_confusion_png(
            pooled["confusion"],
            out_dir / f"confusion_{report['protocol']}_{name}.png",
            f"{report['protocol']} protocol, {ablation} inputs",
        )
