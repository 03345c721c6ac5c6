"""Per-stage latency of the device pipeline for FP32 vs INT8 and ONNX vs TFLite, in one run on the
same clips, as a PNG (and the numbers as JSON).

    python -m benchmarks.plot_stages [CLIPS...] [--runs 20] [--out benchmarks/results/stages]

Uses ``edgemood.cli.measure.run_bench`` (the same measurement as ``edgemood bench``) with the
bundled model's four files; needs matplotlib (``[train]`` or ``[test]`` extra) for the plot only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgemood.cli.measure import BenchConfig, run_bench
from edgemood.decode import media_files
from edgemood.pipeline import EXAMPLE_CLIP

OUT = Path(__file__).resolve().parent / "results" / "stages"
CONFIGS = (("onnx", "fp32"), ("onnx", "int8"), ("tflite", "fp32"), ("tflite", "int8"))


def measure(clips: list[Path], runs: int, threads: int) -> dict[str, dict]:
    results = {}
    for backend, precision in CONFIGS:
        config = BenchConfig(runs=runs, warmup=2, backend=backend, precision=precision,
                             threads=threads)  # fmt: skip
        results[f"{backend} {precision}"] = run_bench(clips, config, cold=False)
    return results


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    stages = [s for s in ("decode", "audio_features", "face", "text", "fusion")
              if any(s in r["stages"] for r in results.values())]  # fmt: skip
    face_alone = all(r.get("face_stage") for r in results.values())
    labels = [*stages, *(["face (alone)"] if face_alone else []), "end to end"]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(results)
    for i, (name, result) in enumerate(results.items()):
        values = [result["stages"].get(s, {}).get("median_ms", 0.0) for s in stages]
        if face_alone:  # timed even when the model does not read faces (edgemood.cli.measure)
            values.append(result["face_stage"]["median_ms"])
        values.append(result["end_to_end"]["median_ms"])
        ax.bar(np.arange(len(labels)) + i * width, values, width, label=name)
    ax.set_xticks(np.arange(len(labels)) + width * (len(results) - 1) / 2, labels)
    ax.set_ylabel("median latency (ms)")
    ax.set_yscale("log")
    ax.set_title("edgemood per-stage latency, bundled model (log scale)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, nargs="*")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    clips = media_files(args.clips) if args.clips else [EXAMPLE_CLIP]
    results = measure(clips, args.runs, args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stages.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, args.out / "stages.png")
    for name, result in results.items():
        stages = ", ".join(f"{k} {v['median_ms']:.2f}" for k, v in result["stages"].items())
        print(f"{name}: {stages}; end to end {result['end_to_end']['median_ms']:.2f} ms, "
              f"rtf {result['rtf']}")  # fmt: skip
    print(f"written {args.out / 'stages.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
