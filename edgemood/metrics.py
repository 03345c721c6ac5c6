"""Classification metrics in numpy (runtime-safe: used by `edgemood bench --data` and by training):
the columns of the paper's Table 4.1, plus calibration."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

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


def restricted_scores(
    probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[int] | None = None
) -> dict:
    """Scores of a corpus that has only some of the 8 classes (EmoDB has no calm, no surprised).

    ``uar_restricted``: the decision restricted to the classes present in ``labels``, then the
    mean of their recalls (unweighted average recall: the cross-corpus field's measure, chance =
    1 / classes). ``macro_f1_present``: the 8-way answers' F1 averaged over the present classes
    only. ``top_answer`` / ``top_answer_share``: the most frequent 8-way answer and its share of
    the clips (a model collapsing onto one class shows here first). ``classes``: the classes
    the model could learn (a model trained on a 4-class corpus, tested on RAVDESS): the UAR is
    then taken over the clips and classes both have.
    """
    present = np.unique(labels)
    if classes is not None:
        present = np.intersect1d(present, np.asarray(classes, int))
        keep = np.isin(labels, present)
        probabilities, labels = probabilities[keep], labels[keep]
    if not len(labels):
        return {
            "classes": [],
            "uar_restricted": float("nan"),
            "accuracy_restricted": float("nan"),
            "macro_f1_present": float("nan"),
            "top_answer": None,
            "top_answer_share": float("nan"),
        }
    restricted = present[probabilities[:, present].argmax(1)]
    recalls = [float((restricted[labels == k] == k).mean()) for k in present]
    predicted = probabilities.argmax(1)
    f1s = []
    for k in present:
        hits = float(((predicted == k) & (labels == k)).sum())
        denominator = float((predicted == k).sum() + (labels == k).sum())
        f1s.append(2 * hits / denominator if denominator else 0.0)
    counts = np.bincount(predicted, minlength=len(EMOTIONS))
    return {
        "classes": [EMOTIONS[k] for k in present],
        "uar_restricted": float(np.mean(recalls)),
        "accuracy_restricted": float((restricted == labels).mean()),
        "macro_f1_present": float(np.mean(f1s)),
        "top_answer": EMOTIONS[int(counts.argmax())],
        "top_answer_share": float(counts.max() / len(labels)),
    }


def classification_report(
    probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[int] | None = None
) -> dict:
    """Accuracy, macro P/R/F1, per-class P/R/F1/one-vs-rest accuracy/AUC, confusion, ECE, and
    the scores of ``restricted_scores`` (for a corpus with fewer than 8 classes).

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
        **restricted_scores(probabilities, labels, classes),
        "per_class": per_class,
        "confusion": matrix.tolist(),
    }


def tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities a softmax gives at ``temperature`` (softmax(logits / T) from
    softmax(logits): log p differs from the logits by a constant per row)."""
    log_p = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    log_p -= log_p.max(1, keepdims=True)
    out = np.exp(log_p)
    return out / out.sum(1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` (Guo et al.
    2017, "On Calibration of Modern Neural Networks"): > 1 softens over-confident answers.
    Searched on a log grid from 0.25 to 8, then refined around the best point."""
    rows = np.arange(len(labels))

    def nll(t: float) -> float:
        return float(-np.log(tempered(probabilities, t)[rows, labels] + 1e-12).mean())

    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 61))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    fine = best * np.exp(np.linspace(-0.06, 0.06, 25))
    return float(fine[int(np.argmin([nll(t) for t in fine]))])
