"""The seed paper's fusion on RAVDESS with real paired features: edgemood's 74 audio features and
the 35 OpenFace action units of the same takes (issue 16, point 5). A measurement, not a product.

    python -m benchmarks.research.paper_replication [--ravdess ../shared/ravdess]
        [--out benchmarks/research/results/paper_replication] [--seeds 0] [--epochs 40]
        [--random-seeds 0,1,2] [--encoders frame,temporal] [--protocols speaker,random]
        [--speed 0.9,1.1] [--jobs 2] [--report-only]

Model: the project's ``FusionNet`` itself, not a copy. Its layers are the paper's: per modality
a fully connected layer + ReLU into 128, concatenation, a hidden layer with ReLU and dropout,
softmax over 8 emotions. The action units are one 35-d vector per clip (clip means), fed to the
visual slot as a one-frame sequence: the visual encoder's per-frame FC + ReLU, "pooled" over
one frame, is then exactly the paper's FC + ReLU on the vector (standardised by the training
clips' mean and std first). Audio goes through ``--audio-encoder frame`` (the paper's per-frame
FC + ReLU, mean-pooled) and, for comparison, edgemood's ``temporal`` encoder. The text slot
stays empty (RAVDESS has two lexically neutral sentences); an empty slot is zero and changes
nothing.

Training: the project's recipe (``edgemood.train.fit``: AdamW, one-cycle, 40 epochs, noise,
feature masking, mixup, label smoothing, modality dropout for the fused model), as
``evaluate --no-validation`` runs it (every clip of the training side, the last epoch kept), but
without speed perturbation by default (``--speed 0.9,1.1`` adds it): the paper has none, and it
triples the audio training time. Each condition is its own model: audio only, AU only, and
audio + AU; the audio + AU model is also scored with one modality withheld (its ablations).

Protocols: the 5 speaker folds of ``folds.json`` (4 test actors each, trained on the other 16)
and a stratified random 80/20 split of the 1,200 clips (``edgemood.train.evaluate``). Figures:
accuracy and macro-F1 (``edgemood.metrics``); speaker: mean ± std over folds (each fold's value
first averaged over seeds), random: mean ± std over seeds (one split per seed).

The action units come from OpenFace, which the device does not run: the figures measure what a
face branch of this kind could buy, not the shipped product. Needs the ``[train]`` extra. Each
finished run is saved under ``OUT/runs/`` and reused when the script is run again;
``--report-only`` rebuilds ``paper_replication.json``/``.md`` from all the saved runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from edgemood.model import ModelInputs
from edgemood.ravdess import parse_name

AU_CSV = Path("openface_au") / "clip_means_actors01-20.csv"
AU_COUNT = 35
PAPER = {"accuracy": 0.908, "macro_f1": 0.88}
CONDITIONS = ("audio", "au", "audio+au")
RESULTS = Path(__file__).resolve().parent / "results"


def audio_stem(video_clip: str) -> str:
    """The audio file stem of a RAVDESS video clip name: ``01-01-05-02-01-01-12`` (or ``02-``)
    -> ``03-01-05-02-01-01-12`` (the same take, audio-only modality)."""
    name = parse_name(video_clip)
    if name is None or name.modality not in (1, 2):
        raise ValueError(f"{video_clip!r} is not a RAVDESS video clip name")
    return "03" + video_clip[2:]


def load_action_units(path: Path) -> dict[str, np.ndarray]:
    """The AU clip-means table: audio file stem -> its 35 values (float32).

    Raises:
        ValueError: a missing file, a header without ``clip`` and 35 AU columns, a bad name or
            value, or the same take twice (one-line messages).
    """
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or rows[0][:1] != ["clip"] or len(rows[0]) != 1 + AU_COUNT:
        raise ValueError(f"{path}: expected a 'clip' column and {AU_COUNT} AU columns")
    units: dict[str, np.ndarray] = {}
    for number, row in enumerate(rows[1:], 2):
        if len(row) != 1 + AU_COUNT:
            raise ValueError(f"{path}:{number}: {len(row)} fields, expected {1 + AU_COUNT}")
        try:
            stem = audio_stem(row[0])
            values = np.array([float(v) for v in row[1:]], np.float32)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
        if not np.isfinite(values).all():
            raise ValueError(f"{path}:{number}: a value is not finite")
        if stem in units:
            raise ValueError(f"{path}:{number}: {row[0]} appears twice")
        units[stem] = values
    return units


def pair(clips: list, units: dict[str, np.ndarray]) -> dict[str, list]:
    """Per condition, the clips that have both modalities, with only that condition's inputs.

    Audio clips without an AU row, and AU rows without audio, are dropped with a note on stderr
    (all conditions use the same clips, so they stay comparable).
    """
    by_stem = {c.path.stem: c for c in clips if c.inputs is not None and c.inputs.audio is not None}
    both = sorted(set(by_stem) & set(units))
    for label, missing in (
        ("audio clips without action units", set(by_stem) - set(units)),
        ("action-unit rows without audio", set(units) - set(by_stem)),
    ):
        if missing:
            print(f"paper_replication: dropped {len(missing)} {label}", file=sys.stderr)
    out: dict[str, list] = {condition: [] for condition in CONDITIONS}
    for stem in both:
        clip, au = by_stem[stem], units[stem][None, :]  # one frame of 35
        for condition, inputs in (
            ("audio", ModelInputs(audio=clip.inputs.audio)),
            ("au", ModelInputs(visual=au)),
            ("audio+au", ModelInputs(audio=clip.inputs.audio, visual=au)),
        ):
            out[condition].append(replace(clip, inputs=inputs, augmented=None))
    return out


# Set in the parent before the worker processes fork, so the features are not pickled per task.
_CLIPS: dict[str, list] = {}
_AUGMENTED: dict[str, dict] = {}
_SPEEDS: list[float] = []


def _run(task: tuple[str, str, str, int, int, str]) -> tuple[str, dict]:
    """One (encoder, condition, protocol, seed) evaluation, saved as JSON; returns (key, record)."""
    import torch

    from edgemood.train.evaluate import evaluate
    from edgemood.train.fit import TrainConfig
    from edgemood.train.fusion import FusionConfig

    torch.set_num_threads(1)
    encoder, condition, protocol, seed, epochs, runs = task
    key = f"{encoder}_{condition}_{protocol}_seed{seed}".replace("+", "-")
    path = Path(runs) / f"{key}.json"
    if path.is_file():
        return key, json.loads(path.read_text(encoding="utf-8"))
    started = time.perf_counter()
    fusion = FusionConfig(audio_encoder="frame" if encoder == "-" else encoder)
    augmented = _AUGMENTED.get(condition)
    # The copies come from ``augmented``; the config records their speeds (none for AU only).
    speeds = tuple(_SPEEDS) if augmented else ()
    config = TrainConfig(epochs=epochs, seed=seed, device="cpu", speed_perturbation=speeds)
    report = evaluate(
        _CLIPS[condition],
        protocol,
        fusion,
        config,
        log=lambda line: print(f"[{key}] {line}", file=sys.stderr, flush=True),
        augmented=augmented,
        validation=False,
    )
    record = {
        "encoder": encoder,
        "condition": condition,
        "protocol": protocol,
        "seed": seed,
        "epochs": epochs,
        "seconds": round(time.perf_counter() - started, 1),
        "folds": [
            {"name": f["name"], "metrics": {a: m for a, m in f["metrics"].items()}}
            for f in report["folds"]
        ],
        "pooled": {
            a: {k: r[k] for k in ("accuracy", "macro_f1", "confusion")}
            for a, r in report["pooled"].items()
        },
        "architecture": report["architecture"],
        "training": report["training"],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    print(f"[{key}] done in {record['seconds']:.0f} s", file=sys.stderr, flush=True)
    return key, record


# Which inputs of a run's model a row reads: its own condition, and for the fused model also
# each modality alone (the model trained with both, tested with one withheld).
_ABLATION = {"audio": "audio", "au": "visual", "audio+au": "audio+visual"}


def summarise(records: list[dict]) -> list[dict]:
    """Rows of (encoder, trained on, tested with, protocol): accuracy and macro-F1, mean ± std.

    Speaker: each fold's figure averaged over seeds, then mean ± std over the folds. Random:
    mean ± std over seeds (one split each).
    """
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for record in records:
        for ablation in {f for fold in record["folds"] for f in fold["metrics"]}:
            tested = {v: k for k, v in _ABLATION.items()}[ablation]
            key = (record["encoder"], record["condition"], tested, record["protocol"])
            per_seed = [fold["metrics"][ablation] for fold in record["folds"]]
            groups.setdefault(key, {})[record["seed"]] = per_seed
    rows = []
    for (encoder, trained, tested, protocol), by_seed in sorted(groups.items()):
        seeds = sorted(by_seed)
        row = {
            "encoder": encoder,
            "trained_on": trained,
            "tested_with": tested,
            "protocol": protocol,
            "seeds": seeds,
        }
        for metric in ("accuracy", "macro_f1"):
            table = np.array([[fold[metric] for fold in by_seed[s]] for s in seeds])  # [S, F]
            values = table.mean(0) if protocol == "speaker" else table[:, 0]
            row[metric] = {"mean": float(values.mean()), "std": float(values.std())}
            if protocol == "speaker":
                row[f"{metric}_per_fold"] = [round(float(v), 4) for v in values]
        rows.append(row)
    return rows


def _cell(row: dict | None, metric: str) -> str:
    if row is None:
        return "–"
    value = row[metric]
    if row["protocol"] == "random" and len(row["seeds"]) == 1:
        return f"{value['mean']:.3f} (one split)"
    return f"{value['mean']:.3f} ± {value['std']:.3f}"


def markdown(rows: list[dict], meta: dict) -> str:
    """The condition x protocol table beside the paper's figures."""
    index = {(r["encoder"], r["trained_on"], r["tested_with"], r["protocol"]): r for r in rows}
    lines = [
        "| audio encoder | trained on | tested with | speaker folds: accuracy | macro F1 | "
        "random 80/20: accuracy | macro F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for encoder, trained, tested in sorted({k[:3] for k in index}, key=_order):
        speaker = index.get((encoder, trained, tested, "speaker"))
        random = index.get((encoder, trained, tested, "random"))
        lines.append(
            f"| {encoder if trained != 'au' else '–'} | {trained} | {tested} | "
            f"{_cell(speaker, 'accuracy')} | {_cell(speaker, 'macro_f1')} | "
            f"{_cell(random, 'accuracy')} | {_cell(random, 'macro_f1')} |"
        )
    lines.append(
        f"| the paper | audio + video + text | same | – | – | "
        f"{PAPER['accuracy']:.3f} (split unstated) | {PAPER['macro_f1']:.2f} |"
    )
    lines += [
        "",
        f"Seeds {meta['seeds']} (random split: {meta['random_seeds']}), {meta['epochs']} epochs, "
        f"speed perturbation {meta['speed'] or 'none'}; {meta['clips']} clips. Speaker: mean ± "
        "std over the 5 folds (each fold averaged over seeds); random: mean ± std over seeds "
        "(one split per seed; each row's seeds are in paper_replication.json).",
    ]
    per_fold = [r for r in rows if r["protocol"] == "speaker"]
    if per_fold:
        lines += [
            "",
            "Speaker folds, accuracy per fold (test actors 1–4, 5–8, 9–12, 13–16, 17–20):",
            "",
        ]
        for r in sorted(
            per_fold, key=lambda r: _order((r["encoder"], r["trained_on"], r["tested_with"]))
        ):
            folds = ", ".join(f"{v:.3f}" for v in r["accuracy_per_fold"])
            encoder = "no audio" if r["encoder"] == "-" else f"{r['encoder']} encoder"
            what = f"{encoder}, trained on {r['trained_on']}, tested with {r['tested_with']}"
            lines.append(f"- {what}: {folds}")
    return "\n".join(lines)


def _order(key: tuple) -> tuple:
    encoder, trained, tested = key
    return (
        {"-": 0, "frame": 1, "temporal": 2}.get(encoder, 3),
        CONDITIONS.index(trained),
        CONDITIONS.index(tested),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ravdess", type=Path, default=Path("../shared/ravdess"))
    parser.add_argument("--out", type=Path, default=RESULTS / "paper_replication")
    parser.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    parser.add_argument(
        "--random-seeds", default="", help="seeds of the random split (default: --seeds)"
    )
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--encoders", default="frame,temporal", help="audio encoders to run")
    parser.add_argument("--protocols", default="speaker,random")
    parser.add_argument("--speed", default="", help="speed perturbation factors, e.g. 0.9,1.1")
    parser.add_argument("--cache", type=Path, default=None, help="feature cache folder")
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild the report from OUT/runs, no training"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, one thread each")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
        random_seeds = [int(s) for s in args.random_seeds.split(",") if s] or seeds
        speed = tuple(float(s) for s in args.speed.split(",") if s)
    except ValueError:
        print(
            "paper_replication: --seeds and --speed take comma-separated numbers", file=sys.stderr
        )
        return 2
    encoders = [e for e in args.encoders.split(",") if e]
    protocols = [p for p in args.protocols.split(",") if p]
    if not set(encoders) <= {"frame", "temporal"} or not set(protocols) <= {"speaker", "random"}:
        print(
            "paper_replication: --encoders frame,temporal; --protocols speaker,random",
            file=sys.stderr,
        )
        return 2
    if args.epochs < 1:
        print("paper_replication: --epochs must be at least 1", file=sys.stderr)
        return 2
    runs = args.out / "runs"
    if args.report_only:
        records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(runs.glob("*.json"))]
        if not records:
            print(f"paper_replication: {runs}: no saved runs", file=sys.stderr)
            return 1
        write_reports(args.out, records, {"wall_seconds": None})
        return 0
    try:
        units = load_action_units(args.ravdess / AU_CSV)
    except ValueError as exc:
        print(f"paper_replication: {exc}", file=sys.stderr)
        return 1

    from edgemood.features import FeatureExtractor
    from edgemood.train.commands import default_cache
    from edgemood.train.data import index_clips, load_features, speed_perturbed

    clips = index_clips(args.ravdess / "audio")
    if not clips:
        print(f"paper_replication: {args.ravdess / 'audio'}: no RAVDESS clips", file=sys.stderr)
        return 1
    cache = args.cache or default_cache()
    # The same extractor and cache key as `edgemood evaluate` (audio only here: no video).
    clips = load_features(clips, FeatureExtractor(), cache, "none")
    _CLIPS.update(pair(clips, units))
    if speed:
        _SPEEDS.extend(speed)
        copies = speed_perturbed(_CLIPS["audio+au"], speed, cache)
        # Per condition, the copies carry that condition's inputs only (no AU in audio runs).
        for condition, keep_au in (("audio", False), ("audio+au", True)):
            _AUGMENTED[condition] = {
                path: [
                    replace(
                        c, inputs=ModelInputs(c.inputs.audio, c.inputs.visual if keep_au else None)
                    )
                    for c in group
                ]
                for path, group in copies.items()
            }
    runs.mkdir(parents=True, exist_ok=True)
    # The paper's model (AU, frame encoder) first, so a cut-short run still answers the question.
    tasks = [
        (encoder, condition, protocol, seed, args.epochs, str(runs))
        for encoder in ["-", *encoders]
        for protocol in protocols
        for seed in (random_seeds if protocol == "random" else seeds)
        for condition in CONDITIONS
        if (condition == "au") == (encoder == "-")
    ]
    started = time.perf_counter()
    if args.jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = dict(pool.imap_unordered(_run, tasks))
    else:
        results = dict(map(_run, tasks))
    wall = round(time.perf_counter() - started, 1)
    write_reports(args.out, list(results.values()), {"wall_seconds": wall})
    return 0


def write_reports(out: Path, records: list[dict], meta: dict) -> None:
    """paper_replication.json (meta, summary rows, every run) and .md; the table also on stdout.

    Not named report.json: `edgemood train --evaluation benchmarks/results` reads every
    report.json below it as an `evaluate` report."""
    rows = summarise(records)
    meta = {
        "seeds": sorted({r["seed"] for r in records if r["protocol"] == "speaker"}),
        "random_seeds": sorted({r["seed"] for r in records if r["protocol"] == "random"}),
        "epochs": sorted({r["epochs"] for r in records}),
        "speed": sorted({s for r in records for s in r["training"]["speed_perturbation"]}),
        "clips": max(
            sum(f["metrics"][a]["n"] for f in r["folds"])
            for r in records
            for a in r["folds"][0]["metrics"]
        ),
        "paper": PAPER,
        **meta,
        "run_seconds": round(sum(r["seconds"] for r in records), 1),
    }
    (out / "paper_replication.json").write_text(
        json.dumps({"meta": meta, "rows": rows, "runs": records}, indent=1) + "\n",
        encoding="utf-8",
    )
    text = markdown(rows, meta)
    (out / "paper_replication.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
