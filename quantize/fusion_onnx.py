"""Static INT8 ONNX of the fusion model (onnxruntime.quantization, QDQ format).

Only the fully connected layers are quantized (MatMul/Gemm: per-channel symmetric INT8 weights,
INT8 activations calibrated with min/max on real features): they hold every weight and almost all
the arithmetic. Standardisation, masking and pooling stay float, where INT8 would only add error.
The 8-way output layer (1,032 weights) stays FP32 by default: it decides near-ties between
emotions, and on held-out actors quantizing it too cost agreement (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

from quantize.calibration import FeedSet

ONNX_INT8 = "fusion.int8.onnx"


class _Reader(CalibrationDataReader):
    def __init__(self, feeds: FeedSet) -> None:
        self._feeds = iter(feeds.feeds)

    def get_next(self) -> dict | None:
        return next(self._feeds, None)


def output_layer(model_path: Path) -> str:
    """Name of the Gemm that produces the logits (the node feeding Softmax)."""
    graph = onnx.load(str(model_path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type == "Softmax":
            source = producer.get(node.input[0])
            if source is not None and source.op_type in ("Gemm", "MatMul", "Add"):
                return source.name
    raise ValueError(f"{model_path}: no Softmax fed by a linear layer")


def quantize_onnx(
    fp32: Path, out: Path, calibration: FeedSet, keep_output_layer_fp32: bool = True
) -> tuple[Path, str]:
    """Write the INT8 model; returns it and a one-line description of the method."""
    exclude = [output_layer(fp32)] if keep_output_layer_fp32 else []
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared))  # shape inference, graph clean-up
        quantize_static(
            str(prepared),
            str(out),
            _Reader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=["MatMul", "Gemm"],
            nodes_to_exclude=exclude,
        )
    method = (
        "onnxruntime quantize_static, QDQ, per-channel symmetric INT8 weights, INT8 activations "
        "(min/max calibration) on MatMul/Gemm"
        + ("; output layer kept FP32" if exclude else "; output layer INT8 too")
    )
    return out, method
