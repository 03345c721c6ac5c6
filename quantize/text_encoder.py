"""Dynamic INT8 of the DistilBERT text encoder (onnxruntime ``quantize_dynamic``).

Weights become INT8 per channel; activations are quantized on the fly per call, so no calibration
set is needed (transformer activations vary too much per sentence for one static range). Parity
is the cosine similarity of FP32 and INT8 sentence vectors on the RAVDESS statements and a few
emotional sentences.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from onnxruntime.quantization import QuantType, quant_pre_process, quantize_dynamic

from edgemood.ravdess import STATEMENTS
from edgemood.text import MANIFEST, TextEncoder

TEXT_INT8 = "model.int8.onnx"
MIN_COSINE = 0.99
SENTENCES = (
    *STATEMENTS.values(),
    "I can't believe you did this to me.",
    "This is the best day of my life!",
    "Please, just leave me alone.",
    "What was that noise outside?",
    "Fine. Whatever you say.",
)


def _vectors(directory: Path, model: str) -> np.ndarray:
    encoder = TextEncoder(directory, model=model)
    return np.stack([encoder(s) for s in SENTENCES])


def quantize_text_encoder(directory: Path) -> dict:
    """Write ``model.int8.onnx`` beside ``model.onnx``, a report, and point the manifest at the
    INT8 model when every sentence vector keeps cosine >= 0.99 to FP32."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    files = manifest.setdefault("files", {"fp32": manifest.get("model", "model.onnx")})
    fp32 = directory / files["fp32"]
    out = directory / TEXT_INT8
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # Symbolic shape inference fails on the DistilBERT graph; ONNX shape inference suffices.
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8, per_channel=True)
    reference = _vectors(directory, files["fp32"])
    quantized = _vectors(directory, TEXT_INT8)
    cosine = (reference * quantized).sum(1) / (
        np.linalg.norm(reference, axis=1) * np.linalg.norm(quantized, axis=1) + 1e-12
    )
    report = {
        "model": TEXT_INT8,
        "size_bytes": out.stat().st_size,
        "fp32_model": fp32.name,
        "fp32_size_bytes": fp32.stat().st_size,
        "method": "onnxruntime quantize_dynamic, per-channel INT8 weights (MatMul), "
        "dynamic INT8 activations",
        "calibration": "none (dynamic quantization)",
        "parity": {
            "sentences": len(SENTENCES),
            "min_cosine": float(cosine.min()),
            "mean_cosine": float(cosine.mean()),
            "max_abs_change": float(np.abs(reference - quantized).max()),
            "holds": bool(cosine.min() >= MIN_COSINE),
            "target": {"min_cosine": MIN_COSINE},
        },
    }
    (directory / f"{TEXT_INT8}.json").write_text(json.dumps(report, indent=1) + "\n", "utf-8")
    files["int8"] = TEXT_INT8
    manifest["model"] = TEXT_INT8 if report["parity"]["holds"] else files["fp32"]
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return report
