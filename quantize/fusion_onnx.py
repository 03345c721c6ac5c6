"""Static INT8 ONNX of the fusion model (onnxruntime.quantization, QDQ format).

INT8 (per-channel symmetric weights, activations calibrated with min/max on real features): the
hidden layer, the temporal audio encoder's convolutions and, when trained, the text encoder's
layer: nearly all the weights. FP32: the per-frame (bag-of-frames) audio/visual encoders (74x128
and 35x128: they read standardised features whose range one INT8 scale fits badly) and the 8-way
output layer (it decides near-ties). Quantizing those too cost agreement with FP32 on held-out
actors: 96.7-97.5 % against 99.2-100 % this way (benchmarks/research/README.md, "INT8 of the
fusion model"). For the temporal encoder, keeping its first convolution FP32 as well did not
help (98.3 % against 99.6 % agreement, one held-out model) and put the file over its 100 KB
budget. Standardisation, masking and pooling stay float.
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

from export.load import graph_input_of
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


def frame_encoder_layers(model_path: Path) -> list[str]:
    """Names of the MatMuls that apply the per-frame audio/visual encoders."""
    graph = onnx.load(str(model_path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    inputs = {i.name for i in graph.input}
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and graph_input_of(node.input[0], producer, inputs) in ("audio", "visual")
    ]


def compact_names(path: Path) -> Path:
    """Rewrite an ONNX file in place without its size-only baggage: intermediate shape
    annotations (value_info; onnxruntime infers shapes again at load), node names, and long tensor
    names (``/net/audio/context/Conv_output_0_quantized`` -> ``v12``).

    About 17 % of the 48-channel INT8 model (99 -> 82 KB). Graph inputs and outputs keep their
    names: they are the device interface.
    """
    model = onnx.load(str(path))
    graph = model.graph
    if any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
        for node in graph.node
        for a in node.attribute
    ):
        return path  # subgraphs (If, Loop) may read outer names: leave them alone
    del graph.value_info[:]
    interface = {v.name for v in (*graph.input, *graph.output)}
    short: dict[str, str] = {}

    def rename(name: str) -> str:
        if not name or name in interface:  # "" marks an omitted optional input
            return name
        return short.setdefault(name, f"v{len(short)}")

    for tensor in graph.initializer:
        tensor.name = rename(tensor.name)
    for node in graph.node:
        node.name = ""
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def quantize_onnx(
    fp32: Path, out: Path, calibration: FeedSet, all_layers: bool = False
) -> tuple[Path, str]:
    """Write the INT8 model; returns it and a one-line description of the method.

    Args:
        all_layers: also quantize the per-frame encoders and the output layer.
    """
    exclude = [] if all_layers else [*frame_encoder_layers(fp32), output_layer(fp32)]
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
            op_types_to_quantize=["MatMul", "Gemm", "Conv"],
            nodes_to_exclude=exclude,
        )
    compact_names(out)
    method = (
        "onnxruntime quantize_static, QDQ, per-channel symmetric INT8 weights, INT8 activations "
        "(min/max calibration) on "
        + ("every MatMul/Gemm/Conv" if all_layers else
           "the hidden, text and convolution layers; per-frame encoders and output layer FP32")
    )  # fmt: skip
    return out, method
