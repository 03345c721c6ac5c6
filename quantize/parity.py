"""INT8 against FP32 on the same inputs: top-1 agreement, accuracy difference, largest change in
a probability; and the JSON report written beside each quantized model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgemood.model import FusionModel
from quantize.calibration import FeedSet, Splits

# Issue 4's bar: INT8 must agree with FP32 on >= 99 % of held-out clips and lose <= 1 point.
MIN_AGREEMENT = 0.99
MAX_ACCURACY_LOSS = 0.01


def predict(model: FusionModel, feeds: FeedSet) -> np.ndarray:
    return np.concatenate([model.backend.run(feed)["probabilities"] for feed in feeds.feeds])


def compare(reference: np.ndarray, candidate: np.ndarray, labels: list[int]) -> dict:
    """Agreement and accuracy of ``candidate`` against ``reference`` probabilities."""
    truth = np.asarray(labels)
    ref_top, cand_top = reference.argmax(1), candidate.argmax(1)
    acc_ref = float((ref_top == truth).mean())
    acc_cand = float((cand_top == truth).mean())
    return {
        "clips": len(truth),
        "agreement": float((ref_top == cand_top).mean()),
        "disagreements": int((ref_top != cand_top).sum()),
        "accuracy_fp32": acc_ref,
        "accuracy_int8": acc_cand,
        "accuracy_change": acc_cand - acc_ref,
        "max_abs_probability_change": float(np.abs(candidate - reference).max()),
    }


def holds(result: dict) -> bool:
    return result["agreement"] >= MIN_AGREEMENT and result["accuracy_change"] >= -MAX_ACCURACY_LOSS


def parity_report(
    fp32: FusionModel, int8: FusionModel, splits: Splits, method: str, data: Path
) -> dict:
    """Everything the JSON report beside an INT8 model says. The top-level parity figures are
    the test voices' (as for an audio-only model); ``conditions`` has every condition (with a
    face branch also faces, voices+faces; with a text branch texts, voices+texts), and parity
    holds only if it holds on each."""
    found = {
        name: compare(predict(fp32, feeds), predict(int8, feeds), feeds.labels)
        for name, feeds in (splits.conditions or {"voices": splits.test}).items()
    }
    conditions = {
        name: {**splits.conditions.get(name, splits.test).describe(), **r, "holds": holds(r)}
        for name, r in found.items()
    }
    result = found["voices"]
    return {
        "model": int8.file.name,
        "size_bytes": int8.file.stat().st_size,
        "fp32_model": fp32.file.name,
        "fp32_size_bytes": fp32.file.stat().st_size,
        "method": method,
        "calibration": {"data": str(data), **splits.calibration.describe()},
        "faces": splits.faces,
        "texts": splits.texts,
        "parity": {
            "test": splits.test.describe(),
            "test_actors_in_training": splits.test_actors_in_training,
            **result,
            "conditions": conditions,
            "holds": all(c["holds"] for c in conditions.values()),
            "target": {"min_agreement": MIN_AGREEMENT, "max_accuracy_loss": MAX_ACCURACY_LOSS},
        },
    }


def write_report(report: dict, path: Path) -> Path:
    path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return path
