"""Text branch scores and INT8 parity (issue 15): the fine-tuned head on the test splits of
GoEmotions and XED, with vectors from the INT8 encoder (read from the pools that
``edgemood text-pools`` wrote with the shipped encoder) and from the FP32 encoder (encoded
here); cosine of FP32 vs INT8 vectors, top-1 agreement, TF-IDF + logistic regression on the same
splits, and the latency of one one-sentence transcript (INT8, 1 thread). With ``--model`` also the
top-1 agreement of a fusion model's text branch (sentences alone) on FP32 against INT8 vectors.

    python -m benchmarks.research.text_encoder --fp32 DIR --head HEAD.npz --pools DIR \\
        --goemotions DIR --xed DIR --out benchmarks/research/results/text_encoder.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edgemood.text import TextEncoder
from edgemood.train.pools import load_pool
from edgemood.train.text_corpora import read_goemotions, read_xed
from edgemood.train.text_finetune import load_head, predict, text_scores

ASSET = Path(__file__).resolve().parents[2] / "edgemood" / "assets" / "text"
SENTENCE = "Kids are talking by the door."


def _tfidf(train, test) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vectorizer.fit_transform([s.text for s in train])
    model = LogisticRegression(max_iter=1000, class_weight="balanced")
    model.fit(x, [s.label for s in train])
    predicted = model.predict(vectorizer.transform([s.text for s in test]))
    return text_scores(np.array([s.label for s in test]), predicted)


def _branch_answers(model_dir: Path, vectors: np.ndarray) -> np.ndarray:
    """EMOTIONS indices a fusion model gives sentence vectors alone (its text branch)."""
    from edgemood.model import FusionModel, ModelInputs

    model = FusionModel(model_dir)
    answers = [
        model.predict([ModelInputs(text=v) for v in vectors[i : i + 256]]).argmax(1)
        for i in range(0, len(vectors), 256)
    ]
    return np.concatenate(answers)


def main() -> None:
    """Measure and write the JSON report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder", type=Path, default=ASSET)
    parser.add_argument("--fp32", type=Path, required=True, help="encoder dir with model.onnx")
    parser.add_argument("--head", type=Path, required=True)
    parser.add_argument("--pools", type=Path, required=True)
    parser.add_argument("--goemotions", type=Path, required=True)
    parser.add_argument("--xed", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--fp32-cache", type=Path, help="npz of FP32 test vectors: written once, then reused"
    )
    parser.add_argument("--fp32-only", action="store_true", help="only fill --fp32-cache")
    parser.add_argument(
        "--model", type=Path, help="also the text-only answers of this fusion model's text branch"
    )
    args = parser.parse_args()
    head = load_head(args.head)
    fp32 = TextEncoder(args.fp32, model="model.onnx")
    report: dict = {"encoder": str(args.encoder), "fp32": str(args.fp32 / "model.onnx")}
    corpora = {
        name: reader(getattr(args, name))
        for name, reader in (("goemotions", read_goemotions), ("xed", read_xed))
    }
    cached = dict(np.load(args.fp32_cache)) if args.fp32_cache and args.fp32_cache.exists() else {}
    seconds = {}
    for name, rows in corpora.items():
        if name not in cached:
            start = time.monotonic()
            cached[name] = np.stack([fp32(s.text) for s in rows if s.split == "test"])
            seconds[name] = time.monotonic() - start
            if args.fp32_cache:
                np.savez(args.fp32_cache, **cached)
    if args.fp32_only:
        return
    for name, rows in corpora.items():
        test = [s for s in rows if s.split == "test"]
        pool = load_pool(args.pools / f"{name}.npz")
        int8 = pool.features[pool.split == "test"]
        labels = pool.labels[pool.split == "test"]
        assert list(labels) == [s.label for s in test], "pool and corpus disagree"
        reference = cached[name]
        cosine = (reference * int8).sum(1) / (
            np.linalg.norm(reference, axis=1) * np.linalg.norm(int8, axis=1) + 1e-12
        )
        p32, p8 = predict(reference, head), predict(int8, head)
        report[name] = {
            "test_sentences": len(test),
            "fp32_encode_seconds": seconds.get(name),
            "fp32": text_scores(labels, p32),
            "int8": text_scores(labels, p8),
            "parity": {
                "mean_cosine": float(cosine.mean()),
                "min_cosine": float(cosine.min()),
                "top1_agreement": float((p32 == p8).mean()),
            },
            "tfidf_logreg": _tfidf([s for s in rows if s.split == "train"], test),
        }
        if args.model is not None:
            b32, b8 = _branch_answers(args.model, reference), _branch_answers(args.model, int8)
            report[name]["fusion_text_branch"] = {
                "model": str(args.model),
                "fp32": text_scores(labels, b32),
                "int8": text_scores(labels, b8),
                "top1_agreement": float((b32 == b8).mean()),
            }
        print(name, json.dumps(report[name]["parity"]), flush=True)
    encoder = TextEncoder(args.encoder, threads=1)
    for _ in range(5):
        encoder(SENTENCE)
    times = []
    for _ in range(100):
        start = time.perf_counter()
        encoder(SENTENCE)
        times.append(time.perf_counter() - start)
    report["latency_ms_one_sentence_int8_1_thread"] = {
        "sentence": SENTENCE,
        "median": 1000 * float(np.median(times)),
        "p90": 1000 * float(np.percentile(times, 90)),
    }
    report["sizes_bytes"] = {
        p.name: p.stat().st_size for p in sorted(args.encoder.iterdir()) if p.is_file()
    }
    report["fp32_model_bytes"] = (args.fp32 / "model.onnx").stat().st_size
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report["latency_ms_one_sentence_int8_1_thread"]))


if __name__ == "__main__":
    main()
