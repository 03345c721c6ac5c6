"""How many face frames a clip needs (issues 16 and 17): ``python -m benchmarks.research.face_fps``.

The face stage costs per sampled frame (landmarks + expression CNN), so the sampling rate is the
lever on its time. No RAVDESS video is here, but OpenFace action units of its videos are, frame
by frame, for actors 01-05 (``../shared/ravdess/openface_au/per_frame``, 29.97 fps): real
expressions of real takes. The shipped face branch pools its per-frame features by their mean,
so the question is how far a mean over frames sampled at F per second strays from the mean over
every frame, in what a classifier makes of it.

Protocol: leave one actor out over actors 01-05 (60 takes each). A classifier (standardise +
multinomial logistic regression) is trained on the other four actors' all-frame clip means, then
scored on the held-out actor's clip means taken from frames sampled as ``edgemood.decode``
samples them (the first frame at or after each 1/F step), averaged over every start phase.
Reported per rate: accuracy, and agreement with the same classifier's answers on every frame.
Needs scikit-learn (a benchmark dependency, not edgemood's). Writes
``benchmarks/research/results/face_fps/face_fps.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edgemood.decode import frame_picker
from edgemood.ravdess import parse_name

NATIVE_FPS = 29.97  # RAVDESS video
RATES = (29.97, 10.0, 5.0, 3.0, 2.5, 2.0, 1.0)
OUT = Path(__file__).parent / "results" / "face_fps"


def sample_indices(frames: int, native: float, fps: float, phase: float) -> np.ndarray:
    """Frame indices ``edgemood.decode.timed_frames`` keeps at ``fps`` (its own picker), its
    first pick shifted by ``phase`` (in frames, 0 <= phase < native / fps)."""
    keep = frame_picker(fps, phase / native)
    return np.array([i for i in range(frames) if keep(i / native)], dtype=int)


def load_clips(root: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Per-frame AU arrays, emotion labels and actors of every per-frame clip under ``root``."""
    frames, labels, actors = [], [], []
    for path in sorted(root.glob("Actor_*/*.csv")):
        info = parse_name(path.stem)
        table = np.loadtxt(path, delimiter=";", skiprows=1, ndmin=2)
        frames.append(table.astype(np.float64))
        labels.append(info.label)
        actors.append(info.actor)
    return frames, np.array(labels), np.array(actors)


def measure(frames: list[np.ndarray], labels: np.ndarray, actors: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    full = np.stack([f.mean(0) for f in frames])
    rows = {rate: {"correct": 0.0, "agree": 0.0, "frames": 0.0, "n": 0} for rate in RATES}
    full_correct = 0
    for actor in np.unique(actors):
        train, test = actors != actor, np.flatnonzero(actors == actor)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
        model.fit(full[train], labels[train])
        reference = model.predict(full[test])
        full_correct += int((reference == labels[test]).sum())
        for rate in RATES:
            step = NATIVE_FPS / rate
            phases = np.arange(max(1, int(np.ceil(step))))
            for phase in phases:
                means = []
                for i in test:
                    picks = sample_indices(len(frames[i]), NATIVE_FPS, rate, float(phase))
                    picks = picks if picks.size else np.array([0])
                    means.append(frames[i][picks].mean(0))
                    rows[rate]["frames"] += picks.size / len(phases)
                answer = model.predict(np.stack(means))
                rows[rate]["correct"] += (answer == labels[test]).sum() / len(phases)
                rows[rate]["agree"] += (answer == reference).sum() / len(phases)
            rows[rate]["n"] += len(test)
    n = len(labels)
    return {
        "clips": n,
        "actors": sorted(int(a) for a in np.unique(actors)),
        "all_frames_accuracy": full_correct / n,
        "rates": [
            {
                "fps": rate,
                "frames_per_clip": rows[rate]["frames"] / n,
                "accuracy": rows[rate]["correct"] / n,
                "agreement_with_all_frames": rows[rate]["agree"] / n,
            }
            for rate in RATES
        ],
    }


def markdown(result: dict) -> str:
    lines = [
        f"Leave one actor out over actors {result['actors']} ({result['clips']} takes); "
        f"all-frame accuracy {result['all_frames_accuracy']:.3f}.",
        "",
        "| face frames per second | frames per take | accuracy | agreement with every frame |",
        "|---|---|---|---|",
    ]
    for row in result["rates"]:
        lines.append(
            f"| {row['fps']:g} | {row['frames_per_clip']:.1f} | {row['accuracy']:.3f} | "
            f"{row['agreement_with_all_frames']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-frame", type=Path, default=Path("../shared/ravdess/openface_au/per_frame")
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = measure(*load_clips(args.per_frame))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "face_fps.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "face_fps.md").write_text(markdown(result))
    print(markdown(result), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
