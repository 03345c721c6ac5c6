"""The INT8 recipe on a model with trained weights (issue 19): the bundled model, re-quantized
here by the workstation code (ONNX and TFLite), must keep FP32's answers on realistic inputs at
the README's bar (>= 99 % agreement), and the layers the recipe keeps FP32 (per-frame encoders,
the 8-way output layer) must really be FP32 in the files, with per-channel INT8 weights
everywhere else. A recipe that quantizes the output layer per tensor still agrees on these inputs
(measured: 100 %): the file structure is what catches it.

Inputs: real speech (the three fixtures and the example's voice). Calibration sees them at two
gains and with noise; the parity set is the same voices changed otherwise (louder, quieter,
noisier, cut, faster, slower, reversed, clipped), 40 inputs. Needs the [train] extra."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ANGRY, HAPPY, SAD

from edgemood.audio_features import audio_features
from edgemood.decode import decode_audio
from edgemood.model import DEFAULT_MODEL_DIR, FusionModel, ModelInputs
from edgemood.pipeline import EXAMPLE_CLIP

AGREEMENT = 0.99  # README: the default becomes INT8 only at >= 99 % agreement with FP32
ONNX_INT8_BYTES, ONNX_FLOAT = 3, 1  # onnx.TensorProto.INT8, FLOAT


def _noisy(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    scale = np.sqrt(np.mean(np.square(x)) / 10 ** (snr_db / 10))
    return x + np.random.default_rng(seed).normal(scale=scale, size=x.size).astype(np.float32)


def _speed(x: np.ndarray, rate: float) -> np.ndarray:
    return np.interp(np.arange(0, len(x), rate), np.arange(len(x)), x).astype(np.float32)


CALIBRATION = [lambda x: x, lambda x: 0.5 * x, lambda x: _noisy(x, 30, 0)]
PARITY = [
    lambda x: 2 * x,
    lambda x: 0.25 * x,
    lambda x: _noisy(x, 20, 1),
    lambda x: _noisy(x, 10, 2),
    lambda x: x[: int(len(x) * 0.6)],
    lambda x: x[int(len(x) * 0.4) :],
    lambda x: _speed(x, 0.9),
    lambda x: _speed(x, 1.1),
    lambda x: x[::-1].copy(),
    lambda x: 8 * x,
]


def test_parity_bar_is_the_readmes():
    """README: INT8 becomes the default only at >= 99 % agreement with FP32 and at most one
    point of accuracy lost."""
    from quantize.parity import holds

    assert holds({"agreement": 0.99, "accuracy_change": -0.01})
    assert not holds({"agreement": 0.989, "accuracy_change": 0.0})
    assert not holds({"agreement": 1.0, "accuracy_change": -0.011})


@pytest.fixture(scope="module")
def requantized(tmp_path_factory):
    """A copy of the bundled model whose INT8 files are rewritten by the recipe under test."""
    from export.load import load_net
    from quantize.calibration import FeedSet
    from quantize.fusion_onnx import ONNX_INT8, quantize_onnx
    from quantize.fusion_tflite import TFLITE_INT8, quantize_tflite

    directory = Path(shutil.copytree(DEFAULT_MODEL_DIR, tmp_path_factory.mktemp("int8") / "m"))
    for name in (ONNX_INT8, TFLITE_INT8):
        (directory / name).unlink()
    voices = [decode_audio(p) for p in (ANGRY, HAPPY, SAD, EXAMPLE_CLIP)]
    fp32 = FusionModel(directory, backend="onnx", precision="fp32")
    calibration = FeedSet(feeds=[fp32.feed([ModelInputs(audio=audio_features(change(v)))])
                                 for v in voices[:3] for change in CALIBRATION])  # fmt: skip
    parity = [ModelInputs(audio=audio_features(np.clip(change(v), -1, 1)))
              for v in voices for change in PARITY]  # fmt: skip
    quantize_onnx(fp32.file, directory / ONNX_INT8, calibration)
    quantize_tflite(load_net(directory), directory / TFLITE_INT8, calibration)
    return directory, parity


@pytest.mark.parametrize("backend", ["onnx", "tflite"])
def test_int8_agrees_with_fp32_on_real_voices(requantized, backend):
    directory, parity = requantized
    fp32 = FusionModel(directory, backend=backend, precision="fp32").predict(parity)
    int8 = FusionModel(directory, backend=backend, precision="int8").predict(parity)
    assert len(set(fp32.argmax(1))) >= 4  # the parity set is not one class
    assert (int8.argmax(1) == fp32.argmax(1)).mean() >= AGREEMENT
    # Measured 0.0038 (mean absolute change of a probability) with the recipe.
    assert np.abs(int8 - fp32).mean() < 0.01


def _onnx_layers(path: Path) -> list[tuple[str, object, object]]:
    """(op, weight tensor, weight scale or None) of every Conv/Gemm/MatMul, in graph order; the
    weight is the int8 initializer behind a DequantizeLinear, or the float initializer."""
    import onnx

    graph = onnx.load(str(path)).graph
    init = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    layers = []
    for node in graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        weight = node.input[1]  # W of Conv, B of Gemm and MatMul
        if weight in init:
            layers.append((node.op_type, init[weight], None))
        else:
            dq = producer[weight]
            layers.append((node.op_type, init[dq.input[0]], init[dq.input[1]]))
    return layers


def test_onnx_int8_keeps_the_output_layer_fp32_and_the_rest_per_channel(requantized):
    import onnx

    directory, _ = requantized
    graph = onnx.load(str(directory / "fusion.int8.onnx")).graph
    softmax = next(n for n in graph.node if n.op_type == "Softmax")
    logits = next(n for n in graph.node if softmax.input[0] in n.output)
    layers = _onnx_layers(directory / "fusion.int8.onnx")
    assert logits.op_type == "Gemm" and layers[-1][0] == "Gemm"
    output_weight, output_scale = layers[-1][1], layers[-1][2]
    assert output_scale is None and output_weight.data_type == ONNX_FLOAT
    assert list(output_weight.dims) == [8, 128]
    quantized = [layer for layer in layers[:-1] if layer[2] is not None]
    # The bundled model: the text layer, three temporal convolutions and the hidden layer; the
    # per-frame face encoder stays FP32 like the output layer (INT8 there failed face parity).
    assert [op for op, _, _ in quantized] == ["Gemm", "Conv", "Conv", "Conv", "Gemm"]
    floats = [(op, list(w.dims)) for op, w, scale in layers[:-1] if scale is None]
    assert floats == [("MatMul", [42, 128])]
    for op, weight, scale in quantized:
        assert scale is not None and weight.data_type == ONNX_INT8_BYTES, op
        assert list(scale.dims) == [weight.dims[0]], op  # one scale per output channel


def test_tflite_int8_keeps_the_output_layer_fp32_and_the_rest_per_channel(requantized):
    from ai_edge_litert.interpreter import Interpreter

    directory, _ = requantized
    interpreter = Interpreter(model_path=str(directory / "fusion.int8.tflite"))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    producer = {out: op for op in ops for out in op["outputs"]}
    softmax = next(op for op in ops if op["op_name"] == "SOFTMAX")
    logits = producer[softmax["inputs"][0]]
    while logits["op_name"] not in ("FULLY_CONNECTED", "BATCH_MATMUL"):  # past reshapes/adds
        logits = producer[logits["inputs"][0]]
    assert tensors[logits["inputs"][1]]["dtype"] == np.float32
    layers = [op for op in ops if op["op_name"] in ("FULLY_CONNECTED", "CONV_2D")]
    int8 = [op for op in layers if tensors[op["inputs"][1]]["dtype"] == np.int8]
    assert len(int8) == 5  # the text layer, three temporal convolutions, the hidden layer
    for op in int8:
        weight = tensors[op["inputs"][1]]
        scales = weight["quantization_parameters"]["scales"]
        assert len(scales) == weight["shape"][0] > 1, op["op_name"]
