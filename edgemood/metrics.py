"""Classification metrics in numpy (runtime-safe: used by `edgemood bench --data` and by training):
the columns of the paper's Table 4.1, plus calibration."""

from __future__ import annotations

import itertools

import numpy as np

from edgemood.labels import EMOTIONS


def confusion(
    labels: np.ndarray, predicted: np.ndarray, classes: int = len(EMOTIONS)
) -> np.ndarray:
    """Confusion matrix [true, predicted] of counts."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve by the rank statistic (ties count half); NaN with one class."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> float:
    """ECE of the top-1 confidence over equal-width bins."""
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def classification_report(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, macro P/R/F1, per-class P/R/F1/one-vs-rest accuracy/AUC, confusion, ECE.

    Args:
        probabilities: [N, 8].
        labels: [N] indices into EMOTIONS.
    Returns:
        A JSON-ready dict.
    """
    predicted = probabilities.argmax(1)
    matrix = confusion(labels, predicted)
    true_pos = np.diag(matrix).astype(np.float64)
    predicted_count = matrix.sum(0)
    actual_count = matrix.sum(1)
    precision = np.divide(
        true_pos, predicted_count, out=np.zeros_like(true_pos), where=predicted_count > 0
    )
    recall = np.divide(true_pos, actual_count, out=np.zeros_like(true_pos), where=actual_count > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(true_pos), where=denom > 0)
    n = len(labels)
    per_class = {}
    for k, name in enumerate(EMOTIONS):
        one_vs_rest = (n - predicted_count[k] - actual_count[k] + 2 * true_pos[k]) / max(n, 1)
        per_class[name] = {
            "precision": float(precision[k]),
            "recall": float(recall[k]),
            "f1": float(f1[k]),
            "accuracy_ovr": float(one_vs_rest),
            "auc": auc(probabilities[:, k], labels == k),
            "support": int(actual_count[k]),
        }
    return {
        "n": int(n),
        "accuracy": float((predicted == labels).mean()) if n else float("nan"),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "ece": expected_calibration_error(probabilities, labels),
        "per_class": per_class,
        "confusion": matrix.tolist(),
    }
