"""INT8 of the text encoder (DistilBERT, or a BERT such as MiniLM): 8-bit weights in blocks.

The encoder's MatMul weights become 8-bit in blocks of 32 along the input axis, each block with
its own scale (onnxruntime's ``MatMulNBits``, ``accuracy_level`` 4: the kernel quantizes each
block of the activations on the fly to run the products in int8), and the embedding tables
become INT8 per row (``quantize_dynamic`` on the Gather nodes only). No calibration set is
needed.

Why not ``quantize_dynamic`` on every MatMul (what shipped until 2026-11-25): it quantizes each
MatMul's activations with one range per tensor, and on the GoEmotions test set 3.6 % of sentences
changed class against FP32 (96.4 % top-1 agreement, 99 % wanted); leaving layers in FP32 did not
close the gap. Block-wise weights and activations agree on 99.2 % (the fine-tuned head; the
bundled fusion model's text branch 99.3 %: the text-2 encoder, benchmarks/research/README.md,
"Text encoder"; the shipped text-3 encoder: benchmarks/RESULTS.md, "INT8 parity").
``MatMulNBits`` with 8 bits needs onnxruntime >= 1.22 on the device.

The gate here is the cosine of FP32 and INT8 sentence vectors on the RAVDESS statements and a few
emotional sentences; top-1 agreement on a real test set is measured by
``benchmarks/research/text_encoder.py``.
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
# Weight blocks of 32: on 800 GoEmotions test sentences 99.5 % top-1 agreement with FP32 (blocks
# of 64: 99.1 %, 128: 99.0 %), for 1 MB more than blocks of 128 (24.1 against 23.1 MB).
BLOCK = 32
# int8 products on activations quantized per block: 14 ms a sentence against 53 ms with FP32
# products on the same weights (measured under load), agreement 99.5 against 99.6 %.
ACCURACY_LEVEL = 4
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


def _quantize(fp32: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    with tempfile.TemporaryDirectory() as tmp:
        prepared, gathered = Path(tmp) / "prepared.onnx", Path(tmp) / "gathered.onnx"
        # Symbolic shape inference fails on the DistilBERT graph; ONNX shape inference suffices.
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        # The embedding tables (most of the weights): 8-bit Gather is only in quantize_dynamic.
        quantize_dynamic(
            str(prepared),
            str(gathered),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["Gather"],
        )
        config = DefaultWeightOnlyQuantConfig(
            block_size=BLOCK,
            is_symmetric=True,
            bits=8,
            accuracy_level=ACCURACY_LEVEL,
            op_types_to_quantize=("MatMul",),
        )
        quantizer = MatMulNBitsQuantizer(onnx.load(str(gathered)), algo_config=config)
        quantizer.process()
        quantizer.model.save_model_to_file(str(out), use_external_data_format=False)


def quantize_text_encoder(directory: Path) -> dict:
    """Write ``model.int8.onnx`` beside ``model.onnx``, a report, and point the manifest at the
    INT8 model when every sentence vector keeps cosine >= 0.99 to FP32."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    files = manifest.setdefault("files", {"fp32": manifest.get("model", "model.onnx")})
    fp32 = directory / files["fp32"]
    out = directory / TEXT_INT8
    _quantize(fp32, out)
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
        "method": f"MatMul weights INT8 in blocks of {BLOCK} (onnxruntime MatMulNBits, "
        f"accuracy_level {ACCURACY_LEVEL}), embedding tables INT8 per row (quantize_dynamic)",
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
