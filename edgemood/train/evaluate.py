"""Evaluation protocols: speaker-independent folds, leave-one-corpus-out, and the paper-style
random 80/20 split.

Speaker-independent: for each fold of each corpus, train on every other speaker (validation
speakers taken from them, one man and one woman per corpus), test on the fold's speakers; mean ±
std over a corpus' folds. Leave-one-corpus-out: train on the other corpora, test on all of one: the
figure that says how the model meets voices, languages and rooms it never heard. Random: a
stratified 80/20 split of clips, which lets the same actor (and the same sentence) sit in train and
test: it is how figures like the paper's 90.8 % are usually obtained, and it overstates what a new
speaker will see. A corpus with fewer than 8 classes is scored by restricted UAR too
(``edgemood.metrics.restricted_scores``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from edgemood.corpora import speaker_folds
from edgemood.labels import EMOTIONS, MODALITIES
from edgemood.metrics import (
    classification_report,
    expected_calibration_error,
    fit_temperature,
    tempered,
)
from edgemood.train.data import Clip
from edgemood.train.fit import (
    TrainConfig,
    batch_arrays,
    pick_device,
    predict_arrays,
    train_model,
)
from edgemood.train.fusion import FusionConfig, FusionNet

SUMMARY_KEYS = (
    "accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "ece",
    "uar_restricted",
    "macro_f1_present",
    "top_answer_share",
)


def validation_actors(actors: Sequence[int], seed: int) -> set[int]:
    """One male (odd) and one female (even) RAVDESS actor from ``actors`` for early stopping."""
    rng = np.random.default_rng(seed)
    return {int(a) for a in _one_per_gender([(a, a % 2 == 0) for a in sorted(actors)], rng)}


def _one_per_gender(speakers: list[tuple], rng: np.random.Generator) -> list:
    """One speaker of each gender group (men, women, unknown) that has more than one."""
    chosen = []
    for female in (False, True, None):
        group = [s for s, f in speakers if f is female]
        if len(group) > 1:
            chosen.append(rng.choice(group))
    return chosen


def validation_speakers(clips: Sequence[Clip], seed: int) -> set[str]:
    """Speakers (``Clip.speaker_key``) held out for early stopping: in each corpus with at least
    4 known speakers, one man and one woman (as RAVDESS training always did); none from a
    corpus that names no speakers (clips of a folder per emotion)."""
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    for corpus in dict.fromkeys(c.corpus for c in clips):
        genders = {c.speaker_key: c.female for c in clips if c.corpus == corpus and c.speaker}
        if len(genders) >= 4:
            chosen |= {str(s) for s in _one_per_gender(sorted(genders.items()), rng)}
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
    corrupted_tests: dict[str, Sequence[Clip]] | None = None,
) -> dict:
    """Train on ``train`` (early stopping on ``val``; None: exactly ``config.epochs``), predict
    ``test`` under each ablation, and each of ``corrupted_tests`` (kind -> the test clips after
    it) too, as "ablation, kind". ``label`` goes before the progress lines."""
    net, history = train_model(train, val, fusion, config, label=label)
    device = pick_device("cpu")
    results = {}
    for kind, clips in {"": test, **(corrupted_tests or {})}.items():
        for name, keep in ablations(net.config.trained).items():
            probs = _predict(net, clips, keep, device)
            # Clips that lack every kept modality cannot be scored under that ablation.
            has = np.array(
                [
                    any(keep[m] and getattr(c.inputs, m) is not None for m in MODALITIES)
                    for c in clips
                ]
            )
            results[f"{name}, {kind}" if kind else name] = {
                "probabilities": probs[has],
                "labels": np.array([c.label for c in clips])[has],
            }
    return {
        "results": results,
        "best_epoch": history["best_epoch"],
        "trained": net.config.trained,
        # The classes training could teach: a test corpus is scored over those it shares.
        "classes": sorted({c.label for c in train}),
    }


PROTOCOLS = ("speaker", "corpus", "random")


class Split(NamedTuple):
    """One train/validation/test split of a protocol."""

    name: str
    corpus: str  # the test clips' corpus ("" for a random split of several)
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]


def protocol_splits(
    clips: Sequence[Clip], protocol: str, seed: int, validation: bool, log=None
) -> list[Split]:
    """The train/validation/test splits of a protocol (see ``evaluate``)."""
    log = log or (lambda line: None)
    corpora = list(dict.fromkeys(c.corpus for c in clips))
    splits = []

    def split(name: str, corpus: str, test: list[Clip], number: int) -> Split:
        tested = {id(c) for c in test}
        rest = [c for c in clips if id(c) not in tested]
        held = validation_speakers(rest, seed + number) if validation else set()
        val = [c for c in rest if c.speaker_key in held]
        train = [c for c in rest if c.speaker_key not in held]
        return Split(name, corpus, train, val, test)

    if protocol == "speaker":
        number = 0
        for corpus in corpora:
            members = [c for c in clips if c.corpus == corpus]
            folds = speaker_folds(members)
            if not folds:
                log(f"{corpus}: fewer than 2 speakers named, no speaker folds: not tested")
            for k, fold in enumerate(folds, 1):
                number += 1
                test = [c for c in members if c.speaker in fold]
                name = f"fold {k} (test actors {[int(a) for a in fold]})"
                if members[0].actor is None or len(corpora) > 1:
                    name = f"{corpus} fold {k} (test speakers {', '.join(fold)})"
                splits.append(split(name, corpus, test, number))
    elif protocol == "corpus":
        if len(corpora) < 2:
            raise ValueError("the corpus protocol needs clips of at least two corpora")
        for number, corpus in enumerate(corpora, 1):
            test = [c for c in clips if c.corpus == corpus]
            others = ", ".join(c for c in corpora if c != corpus)
            splits.append(split(f"{corpus} (trained on {others})", corpus, test, number))
    elif protocol == "random":
        labels = np.array([c.label for c in clips])
        rest, test_index = stratified_split(labels, 0.2, seed)
        train_index, val_index = stratified_split(
            labels[rest], 0.1 if validation else 0.0, seed + 1
        )
        pick = lambda idx: [clips[i] for i in idx]  # noqa: E731
        corpus = corpora[0] if len(corpora) == 1 else ""
        splits.append(
            Split(
                "random 80/20",
                corpus,
                pick(rest[train_index]),
                pick(rest[val_index]),
                pick(test_index),
            )
        )
    else:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}")
    return splits


def evaluate(
    clips: Sequence[Clip],
    protocol: str,
    fusion: FusionConfig | None = None,
    config: TrainConfig | None = None,
    log=None,
    augmented: dict[Path, list[Clip]] | None = None,
    validation: bool = True,
    corrupted: dict[Path, list[Clip]] | None = None,
    test_corpora: Sequence[str] | None = None,
) -> dict:
    """Run a protocol and return a JSON-ready report.

    Args:
        clips: clips with features, of one corpus or several.
        protocol: 'speaker' (each corpus' speaker folds, ``edgemood.corpora.speaker_folds``;
            the other corpora always train), 'corpus' (leave one corpus out: train on the
            others, test on all of it) or 'random' (stratified 80/20 clips).
        fusion: architecture.
        config: training settings (seed, epochs, device ...).
        log: callable(str) for progress.
        augmented: perturbed training copies per clip path (speed_perturbed); a split trains
            on the copies of its own training clips only, never of its test or validation ones.
        validation: hold out validation speakers (speaker, corpus) or clips (random) for early
            stopping; False trains on all the rest for exactly ``config.epochs``, the recipe of
            a model shipped with ``train --no-validation``.
        corrupted: per clip path, its corrupted copies (``corrupted_copies``): the test clips
            are also scored after each corruption ("ablation, kind"): what it costs.
        test_corpora: test only the splits of these corpora (the others still train).
    Returns:
        {'protocol', 'folds': [...], 'summary': {ablation: {metric: {'mean','std'}}},
         'pooled': {ablation: classification_report}, 'best_epochs': [...]}; with more than one
        test corpus, the summary and pooled keys are "corpus: ablation".
    """
    fusion = fusion or FusionConfig()
    config = config or TrainConfig()
    log = log or (lambda line: print(line, file=sys.stderr))
    splits = protocol_splits(clips, protocol, config.seed, validation, log)
    if test_corpora:
        splits = [s for s in splits if s.corpus in test_corpora]
    if not splits:
        raise ValueError(f"the {protocol} protocol finds no test split in these clips")
    per_fold, pooled, best_epochs, per_split = [], {}, [], []
    several = len({split.corpus for split in splits}) > 1
    for number, (name, corpus, train, val, test) in enumerate(splits, 1):
        copies = [copy for clip in train for copy in (augmented or {}).get(clip.path, [])]
        log(
            f"split {number}/{len(splits)}, {name}: train {len(train)} "
            f"(+{len(copies)} perturbed copies), validation {len(val)}, test {len(test)} clips"
        )
        train = [*train, *copies]
        label = f"split {number}/{len(splits)} "
        run = run_split(
            train, test, val or None, fusion, config, label, _corrupted(test, corrupted)
        )
        best_epochs.append(run["best_epoch"])
        every = run["results"].get("all") or next(iter(run["results"].values()))
        per_split.append((every["probabilities"], every["labels"]))
        fold_report = {"name": name, "best_epoch": run["best_epoch"], "metrics": {}}
        for inputs, result in run["results"].items():
            ablation = f"{corpus}: {inputs}" if several else inputs
            report = classification_report(
                result["probabilities"], result["labels"], run["classes"]
            )
            fold_report["metrics"][ablation] = {k: report[k] for k in (*SUMMARY_KEYS, "n")}
            pool = pooled.setdefault(
                ablation, {"probabilities": [], "labels": [], "classes": set()}
            )
            pool["classes"] |= set(run["classes"])
            pool["probabilities"].append(result["probabilities"])
            pool["labels"].append(result["labels"])
            accuracy, uar = report["accuracy"], report["uar_restricted"]
            log(f"  {ablation}: accuracy {accuracy:.3f}, restricted UAR {uar:.3f}")
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
        ablation: {
            **classification_report(
                np.concatenate(pool["probabilities"]),
                np.concatenate(pool["labels"]),
                sorted(pool["classes"]),
            ),
            "splits": len(pool["probabilities"]),
        }
        for ablation, pool in pooled.items()
    }
    return {
        "protocol": protocol,
        "calibration": calibration(per_split),
        "clips": len(clips),
        "actors": sorted({c.actor for c in clips if c.actor is not None}),
        "corpora": {
            corpus: {
                "clips": sum(c.corpus == corpus for c in clips),
                "speakers": len({c.speaker for c in clips if c.corpus == corpus and c.speaker}),
            }
            for corpus in dict.fromkeys(c.corpus for c in clips)
        },
        "folds": per_fold,
        "summary": summary,
        "pooled": pooled_reports,
        "best_epochs": best_epochs,
        "validation": validation,
        "corrupted": list(_corrupted([], corrupted)),
        "architecture": fusion.to_dict(),
        "training": config.to_dict(),
    }


def _corrupted(
    test: Sequence[Clip], corrupted: dict[Path, list[Clip]] | None
) -> dict[str, list[Clip]]:
    """Kind -> the test clips after that corruption (a clip without a copy stays as it is)."""
    tags = list(dict.fromkeys(c.augmented for group in (corrupted or {}).values() for c in group))
    out = {}
    for tag in tags:
        kind = tag.split(" v")[0]
        out[kind] = [
            next((x for x in corrupted.get(c.path, []) if x.augmented == tag), c) for c in test
        ]
    return out


def calibration(splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict | None:
    """The temperature that makes held-out predictions (each split's test speakers, every
    input the model has) mean what they say, and the ECE it buys, measured honestly: each
    split is scored at the temperature fitted on the other splits (``metrics.fit_temperature``).
    Train the shipped model with ``--temperature`` set to ``temperature``."""
    if not splits or sum(len(labels) for _, labels in splits) < 2:
        return None
    probabilities = np.concatenate([p for p, _ in splits])
    labels = np.concatenate([y for _, y in splits])
    if len(splits) > 1:
        crossed = []
        for k in range(len(splits)):
            rest = [s for i, s in enumerate(splits) if i != k]
            t = fit_temperature(
                np.concatenate([p for p, _ in rest]), np.concatenate([y for _, y in rest])
            )
            crossed.append(tempered(splits[k][0], t))
        after = expected_calibration_error(np.concatenate(crossed), labels)
    else:
        after = None  # one split: no held-out split to fit on
    return {
        "temperature": round(fit_temperature(probabilities, labels), 3),
        "ece": round(expected_calibration_error(probabilities, labels), 4),
        "ece_at_fitted_temperature_cross_fitted": None if after is None else round(after, 4),
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
    corpora = report.get("corpora") or {}
    described = ", ".join(
        f"{name} ({c['clips']} clips, {c['speakers']} speakers)" for name, c in corpora.items()
    )
    lines = [
        f"Protocol: **{report['protocol']}**, {report['clips']} clips"
        + (f": {described}" if described else "")
        + (
            f"; test clips also scored after: {', '.join(report['corrupted'])}"
            if report.get("corrupted")
            else ""
        )
        + "; "
        + (
            "early stopping on validation actors/clips"
            if report.get("validation", True)
            else f"no validation: all other clips, {report['training']['epochs']} epochs"
        ),
        "",
    ]
    lines.append(
        "| inputs | accuracy | macro P | macro R | macro F1 | ECE | restricted UAR | "
        "F1 (its classes) | top answer share |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for ablation, metrics in report["summary"].items():
        cells = [f"{metrics[k]['mean']:.3f} ± {metrics[k]['std']:.3f}" for k in SUMMARY_KEYS]
        lines.append(f"| {ablation} | " + " | ".join(cells) + " |")
    fitted = report.get("calibration")
    if fitted:
        crossed = fitted["ece_at_fitted_temperature_cross_fitted"]
        lines += [
            "",
            f"Calibration: ECE {fitted['ece']:.3f} on the held-out predictions; temperature "
            f"{fitted['temperature']:.3f} fitted on them"
            + (f" (cross-fitted over splits: ECE {crossed:.3f})" if crossed is not None else "")
            + "; train with --temperature to ship it.",
        ]
    for ablation, pooled in report["pooled"].items():
        lines += [
            "",
            f"Per class, {ablation} (pooled over "
            f"{pooled.get('splits', len(report['folds']))} test split(s)):",
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
        name = re.sub(r"[^A-Za-z0-9]+", "_", ablation).strip("_")  # "emodb: audio, noise"
        save_confusion_png(
            pooled["confusion"],
            out_dir / f"confusion_{report['protocol']}_{name}.png",
            f"{report['protocol']} protocol, {ablation} inputs",
        )
