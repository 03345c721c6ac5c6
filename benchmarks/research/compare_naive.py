"""edgemood's INT8 ONNX runtime against the naive pipeline a researcher would write from the paper.

    python -m benchmarks.research.compare_naive --work /tmp/naive [--data ravdess/audio --limit 240]

Naive: PyTorch FP32 fusion model + transformers DistilBERT FP32 (mean-pooled last hidden state)
+ the same feature extractors. edgemood: INT8 ONNX fusion model + INT8 ONNX DistilBERT
(onnxruntime, `tokenizers`) + the same extractors. Both compute all the inputs the paper's model
takes (audio features and the 768-d text vector; RAVDESS audio has no faces), on the same clips,
each in its own fresh process so start-up, memory and model loading are counted separately.

No model hub is reachable here, so DistilBERT is built from ``DistilBertConfig()`` (the
distilbert-base-uncased architecture: 66 M parameters) with random weights: its size and speed
are those of the real model; its vectors are not (the voice-only model it ran with read no text).
Needs the ``[train]`` extra. Writes ``benchmarks/research/results/naive/compare.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

START = time.perf_counter()  # a child's cold start counts from here

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CLIPS = sorted((REPO / "tests" / "fixtures").glob("*.flac"))
OUT = Path(__file__).resolve().parent / "results" / "naive"


def prepare(work: Path) -> dict[str, Path]:
    """Full-size DistilBERT (random weights) saved as on the hub, its ONNX export, INT8 copy."""
    import shutil

    from edgemood.ravdess import STATEMENTS
    from export.text_encoder import export_text_encoder, save_offline_distilbert
    from quantize.text_encoder import quantize_text_encoder

    hf, fp32, int8 = work / "distilbert", work / "text_fp32", work / "text_int8"
    if not (hf / "config.json").is_file():
        words = {w for s in STATEMENTS.values() for w in s.lower().replace(".", "").split()}
        save_offline_distilbert(hf, words)  # the distilbert-base-uncased architecture
    if not (fp32 / "text_encoder.json").is_file():
        export_text_encoder(str(hf), fp32)
    if not (int8 / "model.int8.onnx").is_file():
        shutil.copytree(fp32, int8, dirs_exist_ok=True)
        quantize_text_encoder(int8)
    return {"hf": hf, "fp32": fp32, "int8": int8}


def _naive(work: Path):
    """Load the naive pipeline; returns (text_fn, fusion_fn)."""
    import torch
    from transformers import AutoTokenizer, DistilBertModel

    from edgemood.model import DEFAULT_MODEL_DIR, INPUT_NAMES
    from export.load import load_net

    net = load_net(DEFAULT_MODEL_DIR)
    tokenizer = AutoTokenizer.from_pretrained(work / "distilbert")
    bert = DistilBertModel.from_pretrained(work / "distilbert").eval()

    def text(sentence: str):
        with torch.no_grad():
            batch = tokenizer(sentence, return_tensors="pt")
            hidden = bert(**batch).last_hidden_state[0]
            mask = batch["attention_mask"][0, :, None].float()
            return ((hidden * mask).sum(0) / mask.sum()).numpy()

    def fusion(feed: dict):
        with torch.no_grad():
            return net(*[torch.from_numpy(feed[n]) for n in INPUT_NAMES]).numpy()[0]

    return text, fusion


def _edgemood(work: Path):
    from edgemood.model import FusionModel
    from edgemood.text import TextEncoder

    model = FusionModel(backend="onnx", precision="int8")
    encoder = TextEncoder(work / "text_int8")
    return encoder, lambda feed: model.backend.run(feed)["probabilities"][0]


def measure(pipeline: str, work: Path, clips: list[Path], runs: int, data_clips: list[Path]):
    """In a fresh process: load one pipeline, time it per stage, predict the data clips."""
    import numpy as np

    from edgemood.cli.measure import peak_rss_mb
    from edgemood.features import FeatureExtractor
    from edgemood.model import FusionModel, ModelInputs
    from edgemood.ravdess import parse_name
    from edgemood.text import resolve_transcript

    clock = time.perf_counter()
    text, fusion = _naive(work) if pipeline == "naive" else _edgemood(work)
    padder = FusionModel(backend="onnx", precision="fp32")  # padding only: same for both
    extractor = FeatureExtractor(use={"audio": True, "visual": True, "text": False})
    load_s = time.perf_counter() - clock

    def one(clip: Path) -> tuple[np.ndarray, dict[str, float]]:
        t0 = time.perf_counter()
        inputs = extractor(clip).inputs
        t1 = time.perf_counter()
        vector = text(resolve_transcript(clip) or "")
        t2 = time.perf_counter()
        probabilities = fusion(padder.feed([ModelInputs(inputs.audio, inputs.visual, vector)]))
        t3 = time.perf_counter()
        stages = {"features": t1 - t0, "text": t2 - t1, "fusion": t3 - t2, "end_to_end": t3 - t0}
        return probabilities, stages

    one(clips[0])
    cold_s = time.perf_counter() - START  # process start to first answer
    times: dict[str, list[float]] = {}
    for clip in clips:
        one(clip)  # warm-up
        for _ in range(runs):
            for stage, seconds in one(clip)[1].items():
                times.setdefault(stage, []).append(seconds)
    predictions = [int(np.argmax(one(c)[0])) for c in data_clips]
    return {
        "pipeline": pipeline,
        "load_s": load_s,
        "cold_start_s": cold_s,
        "median_ms": {k: float(np.median(v) * 1e3) for k, v in times.items()},
        "p95_ms": {k: float(np.percentile(v, 95) * 1e3) for k, v in times.items()},
        "peak_rss_mb": peak_rss_mb(),
        "predictions": predictions,
        "labels": [parse_name(c).label for c in data_clips],
    }


def _sizes(work: Path) -> dict[str, dict[str, int]]:
    from edgemood.model import DEFAULT_MODEL_DIR

    weights = (work / "distilbert" / "model.safetensors").stat().st_size
    return {
        "naive": {
            "fusion (PyTorch FP32 weights, from fusion.onnx)": (DEFAULT_MODEL_DIR / "fusion.onnx")
            .stat()
            .st_size,
            "DistilBERT (safetensors FP32)": weights,
        },
        "edgemood": {
            "fusion.int8.onnx": (DEFAULT_MODEL_DIR / "fusion.int8.onnx").stat().st_size,
            "model.int8.onnx": (work / "text_int8" / "model.int8.onnx").stat().st_size,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/edgemood-naive"))
    parser.add_argument("--clips", type=Path, nargs="*", default=DEFAULT_CLIPS)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--data", type=Path, help="RAVDESS folder for the accuracy comparison")
    parser.add_argument("--limit", type=int, default=240, help="clips of --data (every n-th)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--measure", choices=("naive", "edgemood"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    data_clips: list[Path] = []
    if args.data:
        from edgemood.decode import media_files

        found = media_files([args.data])
        step = max(1, len(found) // args.limit)
        data_clips = found[::step][: args.limit]
    if args.measure:
        result = measure(args.measure, args.work, args.clips, args.runs, data_clips)
        print(json.dumps(result))
        return 0

    prepare(args.work)
    results = {}
    for pipeline in ("naive", "edgemood"):
        command = [sys.executable, "-m", "benchmarks.research.compare_naive", "--measure", pipeline,
                   "--work", str(args.work), "--runs", str(args.runs), "--limit", str(args.limit),
                   "--clips", *map(str, args.clips)]  # fmt: skip
        if args.data:
            command += ["--data", str(args.data)]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
        results[pipeline] = json.loads(done.stdout.strip().splitlines()[-1])
    report = summarise(results, _sizes(args.work), args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "compare.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def summarise(results: dict, sizes: dict, args) -> dict:
    naive, edge = results["naive"], results["edgemood"]
    report = {
        "clips": [str(c) for c in args.clips],
        "runs": args.runs,
        "pipelines": {
            k: {x: v[x] for x in v if x not in ("predictions", "labels")}
            for k, v in results.items()
        },
        "sizes_bytes": sizes,
        "ratios": {
            "end_to_end_speedup": naive["median_ms"]["end_to_end"]
            / edge["median_ms"]["end_to_end"],
            "text_speedup": naive["median_ms"]["text"] / edge["median_ms"]["text"],
            "fusion_speedup": naive["median_ms"]["fusion"] / edge["median_ms"]["fusion"],
            "cold_start_speedup": naive["cold_start_s"] / edge["cold_start_s"],
            "rss_ratio": naive["peak_rss_mb"] / edge["peak_rss_mb"],
            "size_ratio": sum(sizes["naive"].values()) / sum(sizes["edgemood"].values()),
        },
    }
    if naive["labels"]:
        labels = naive["labels"]

        def accuracy(p: list[int]) -> float:
            return sum(a == b for a, b in zip(p, labels)) / len(labels)

        report["accuracy"] = {
            "data": str(args.data),
            "clips": len(labels),
            "naive": accuracy(naive["predictions"]),
            "edgemood": accuracy(edge["predictions"]),
            "agreement": sum(a == b for a, b in zip(naive["predictions"], edge["predictions"]))
            / len(labels),
        }
    return report


def markdown(report: dict) -> str:
    p, r = report["pipelines"], report["ratios"]
    rows = ["| | naive (PyTorch + transformers FP32) | edgemood (ONNX INT8) | ratio |",
            "|---|---|---|---|"]  # fmt: skip
    for stage in ("features", "text", "fusion", "end_to_end"):
        n, e = p["naive"]["median_ms"][stage], p["edgemood"]["median_ms"][stage]
        rows.append(f"| {stage} median (ms) | {n:.2f} | {e:.2f} | {n / e:.1f}x |")
    n, e = p["naive"]["cold_start_s"], p["edgemood"]["cold_start_s"]
    rows.append(f"| cold start to first answer (s) | {n:.2f} | {e:.2f} | {n / e:.1f}x |")
    n, e = p["naive"]["peak_rss_mb"], p["edgemood"]["peak_rss_mb"]
    rows.append(f"| peak RSS (MB) | {n:.0f} | {e:.0f} | {n / e:.1f}x |")
    n, e = (
        sum(report["sizes_bytes"]["naive"].values()),
        sum(report["sizes_bytes"]["edgemood"].values()),
    )
    rows.append(f"| model files (MB) | {n / 1e6:.1f} | {e / 1e6:.1f} | {r['size_ratio']:.1f}x |")
    if "accuracy" in report:
        a = report["accuracy"]
        rows.append(
            f"| accuracy on {a['clips']} clips | {a['naive']:.3f} | {a['edgemood']:.3f} | "
            f"agreement {a['agreement']:.3f} |"
        )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
