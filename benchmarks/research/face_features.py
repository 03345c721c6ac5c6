"""Face branch, visual features alone (issue 16): ``python -m benchmarks.research.face_features``.

Reads the face-set pools that ``edgemood face-pools`` writes (default
``~/.cache/edgemood/pools/{fer2013,jaffe,ck48}.npz``) and measures:

- the expression CNN alone (argmax of its 7 classes, mapped to edgemood emotions);
- a visual-only classifier (standardise + multinomial logistic regression, class-balanced) for
  each per-frame feature set: (a) the 35 geometry features, (b) the 7 CNN log-probabilities,
  (c) both, trained on FER2013 train (which the CNN was trained on) or on FER2013 test (which
  it never trained on), tested on JAFFE and CK+48 (never seen by either) and on the other FER2013
  split;
- the per-frame cost of the CNN stage (face crop + CNN) and, for scale, of the landmarker, on a
  real face photo (the astronaut, scikit-image, NASA).

Macro-F1 averages over the classes the test set has. Writes
``benchmarks/research/results/face_features/face_features.{json,md}``. Needs scikit-learn (a
benchmark dependency, not edgemood's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from edgemood.face_expression import CNN_CLASSES, CNN_TO_EMOTION
from edgemood.labels import EMOTIONS
from edgemood.train.face_sets import default_pool_dir
from edgemood.train.pools import Pool, load_pool

OUT = Path(__file__).parent / "results" / "face_features"
FEATURE_SETS = {
    "a: geometry (35)": slice(0, 35),
    "b: CNN (7)": slice(35, 42),
    "c: both (42)": slice(0, 42),
}
# The CNN class each of its 7 outputs stands for, as an EMOTIONS index.
CNN_AS_EMOTION = np.array([EMOTIONS.index(CNN_TO_EMOTION[c]) for c in CNN_CLASSES])


def scores(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy and macro-F1 over the classes present in ``labels``."""
    from sklearn.metrics import f1_score

    present = sorted(set(labels.tolist()))
    return {
        "n": len(labels),
        "accuracy": round(float(np.mean(labels == predicted)), 3),
        "macro_f1": round(float(f1_score(labels, predicted, labels=present, average="macro")), 3),
    }


def cnn_alone(pool: Pool) -> dict:
    """The CNN's own answer: argmax of its 7 log-probabilities, as an edgemood emotion."""
    result = scores(pool.labels, CNN_AS_EMOTION[np.argmax(pool.features[:, 35:42], axis=1)])
    # How sure it is: the mean of its top probability (overconfidence shows as a gap to accuracy).
    result["mean_top_probability"] = round(float(np.exp(pool.features[:, 35:42].max(1)).mean()), 3)
    return result


def classifier(train: Pool, columns: slice):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced", C=1.0)
    )
    return model.fit(train.features[:, columns], train.labels)


def cnn_cost(frames: int = 300) -> dict:
    """Milliseconds per frame: landmarks (tracking), geometry, crop + CNN, on one real face."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from media import face_image

    from edgemood.face import FaceLandmarker
    from edgemood.face_expression import ExpressionCNN, align_face
    from edgemood.visual_features import face_features

    image = face_image("astronaut")
    landmarker, cnn = FaceLandmarker(threads=1), ExpressionCNN(threads=1)
    stages: dict[str, list[float]] = {"landmarks": [], "geometry": [], "crop": [], "cnn": []}
    for i in range(frames + 20):
        clock = time.perf_counter()
        points = landmarker(image)
        t1 = time.perf_counter()
        face_features(points)
        t2 = time.perf_counter()
        crop = align_face(image, points)
        t3 = time.perf_counter()
        cnn.probabilities(crop)
        t4 = time.perf_counter()
        if i >= 20:  # warm-up
            for name, seconds in zip(stages, (t1 - clock, t2 - t1, t3 - t2, t4 - t3)):
                stages[name].append(seconds * 1000)
    return {
        name: {
            "median_ms": round(statistics.median(v), 3),
            "p95_ms": round(float(np.percentile(v, 95)), 3),
        }
        for name, v in stages.items()
    } | {"frames": frames, "image": f"astronaut {image.shape[1]}x{image.shape[0]}"}


def sweep(root: Path, seed: int = 0) -> dict:
    """How the stills are prepared and cropped, measured on random samples of each set: detection
    rate per (min side, border) of ``prepare_still``, and the CNN alone per crop scale (FER2013
    test: the CNN never trained on it; chosen there, JAFFE and CK+48 shown for reference)."""
    import cv2

    from edgemood.face import FaceLandmarker
    from edgemood.face_expression import ExpressionCNN, align_face
    from edgemood.train.face_sets import prepare_still, read_labels

    cv2.setNumThreads(1)
    landmarker, cnn = FaceLandmarker(threads=1), ExpressionCNN(threads=1)
    rng = np.random.default_rng(seed)
    out: dict = {"detection": {}, "crop_scale": {}}
    for name, count, split in (
        ("fer2013", 1200, "test"),
        ("ck48", 981, None),
        ("jaffe", 213, None),
    ):
        stills = [s for s in read_labels(root, name)[0] if split is None or s.split == split]
        pick = rng.choice(len(stills), min(count, len(stills)), replace=False)
        greys = [cv2.imread(str(stills[i].path), cv2.IMREAD_GRAYSCALE) for i in pick]
        labels = np.array([EMOTIONS.index(stills[i].label) for i in pick])
        for min_side in (96, 192):
            for border in (0.0, 0.25, 0.4):
                found = 0
                for grey in greys:
                    landmarker.reset()
                    found += landmarker(prepare_still(grey, min_side, border)) is not None
                key = f"{name} min_side {min_side} border {border}"
                out["detection"][key] = round(found / len(greys), 3)
        scales = (1.0, 1.1, 1.2, 1.3, 1.45)
        predicted: dict = {s: [] for s in scales}
        whole, kept = [], []
        for grey, label in zip(greys, labels):
            image = prepare_still(grey)
            landmarker.reset()
            points = landmarker(image)
            if points is None:
                continue
            kept.append(label)
            for scale in scales:
                probabilities = cnn.probabilities(align_face(image, points, scale=scale))
                predicted[scale].append(CNN_AS_EMOTION[np.argmax(probabilities)])
            resized = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA)
            whole.append(CNN_AS_EMOTION[np.argmax(cnn.probabilities(resized / 127.5 - 1))])
        kept_labels = np.array(kept)
        rows = {"whole image resized": scores(kept_labels, np.array(whole))}
        rows |= {f"scale {s}": scores(kept_labels, np.array(predicted[s])) for s in scales}
        out["crop_scale"][f"{name} ({len(kept)} faces)"] = rows
        print(name, out["crop_scale"][f"{name} ({len(kept)} faces)"], flush=True)
    return out


def run(pools: Path) -> dict:
    fer = load_pool(pools / "fer2013.npz")
    tests = {"jaffe": load_pool(pools / "jaffe.npz"), "ck48": load_pool(pools / "ck48.npz")}
    fer_train = fer.subset(fer.split == "train")
    fer_test = fer.subset(fer.split == "test")
    result: dict = {
        "pools": {
            name: {k: p.meta[k] for k in ("images", "faces", "dropped_no_face", "detection_rate")}
            for name, p in {"fer2013": fer, **tests}.items()
        },
        "cnn_alone": {
            "fer2013 train (trained on)": cnn_alone(fer_train),
            "fer2013 test (its validation)": cnn_alone(fer_test),
            **{name: cnn_alone(p) for name, p in tests.items()},
        },
        "classifier": {},
    }
    for train_name, train, other_name, other in (
        ("fer2013 train", fer_train, "fer2013 test", fer_test),
        ("fer2013 test", fer_test, "fer2013 train", fer_train),
        ("fer2013 train+test", fer, None, None),
    ):
        for set_name, columns in FEATURE_SETS.items():
            model = classifier(train, columns)
            row = {
                name: scores(p.labels, model.predict(p.features[:, columns]))
                for name, p in {**tests, **({other_name: other} if other else {})}.items()
            }
            result["classifier"][f"{set_name}, trained on {train_name}"] = row
            print(f"{set_name}, trained on {train_name}: {row}", flush=True)
    result["cost"] = cnn_cost()
    result["cost"]["load_average_1min"] = round(os.getloadavg()[0], 2)  # the machine is shared
    return result


def markdown(result: dict) -> str:
    lines = [
        "| what | JAFFE acc | JAFFE macro-F1 | CK+48 acc | CK+48 macro-F1 "
        "| other FER2013 split: acc | macro-F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    cnn = result["cnn_alone"]
    fer_test = cnn["fer2013 test (its validation)"]
    lines.append(
        f"| CNN alone (argmax) | {cnn['jaffe']['accuracy']} | {cnn['jaffe']['macro_f1']} | "
        f"{cnn['ck48']['accuracy']} | {cnn['ck48']['macro_f1']} | test: {fer_test['accuracy']} | "
        f"{fer_test['macro_f1']} |"
    )
    for name, row in result["classifier"].items():
        which = "test" if "fer2013 test" in row else "train" if "fer2013 train" in row else None
        other = row[f"fer2013 {which}"] if which else None
        lines.append(
            f"| LR {name} | {row['jaffe']['accuracy']} | {row['jaffe']['macro_f1']} | "
            f"{row['ck48']['accuracy']} | {row['ck48']['macro_f1']} | "
            + (f"{which}: {other['accuracy']} | {other['macro_f1']} |" if other else "– | – |")
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pools", type=Path, default=None, help="pool folder")
    parser.add_argument("--sweep", type=Path, default=None, help="face_sets folder: sweep only")
    parser.add_argument("--cost", action="store_true", help="per-frame cost only (no pools)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.cost:
        cost = cnn_cost() | {"load_average_1min": round(os.getloadavg()[0], 2)}
        print(json.dumps(cost, indent=1))
        return
    if args.sweep:
        result = sweep(args.sweep)
        (OUT / "sweep.json").write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps(result, indent=1))
        return
    result = run(args.pools or default_pool_dir())
    (OUT / "face_features.json").write_text(json.dumps(result, indent=1) + "\n")
    (OUT / "face_features.md").write_text(markdown(result))
    print(markdown(result))
    print(json.dumps(result["cnn_alone"], indent=1))
    print(json.dumps(result["cost"], indent=1))


if __name__ == "__main__":
    main()
