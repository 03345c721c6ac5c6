"""INT8 TFLite of the fusion model: PT2E post-training quantization, converted by litert-torch.

The fully connected layers get per-channel symmetric INT8 weights and INT8 activations calibrated
on real features (histogram observer); inputs and outputs stay float32, and so do the
standardisation, masking and pooling around them. Quantizing those element-wise ops as well (the
quantizer's default) made the converter give the shared ``present`` input a single scale from the
always-zero visual/text flags, which saturated the audio flag: 36 % agreement with FP32. Limiting
quantization to the linear layers keeps the weights and the arithmetic INT8 without that trap.
"""

from __future__ import annotations

from pathlib import Path

import torch

from edgemood.model import INPUT_NAMES
from edgemood.train.fusion import FusionNet
from export.fusion import NamedOutput, sample_kwargs
from quantize.calibration import FeedSet

TFLITE_INT8 = "fusion.int8.tflite"


def _linear_only_quantizer():
    from litert_torch.quantize import pt2e_quantizer as pq

    class LinearOnly(pq.PT2EQuantizer):
        STATIC_OPS = ["linear", "addmm"]  # noqa: RUF012 (overrides the parent's list)

    return LinearOnly().set_global(pq.get_symmetric_quantization_config(is_per_channel=True))


def quantize_tflite(net: FusionNet, out: Path, calibration: FeedSet) -> tuple[Path, str]:
    """Write the INT8 TFLite model; returns it and a one-line description of the method."""
    import litert_torch
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    kwargs = sample_kwargs()
    graph = torch.export.export(NamedOutput(net).eval(), (), kwargs).module()
    quantizer = _linear_only_quantizer()
    graph = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for feed in calibration.feeds:
            graph(**{name: torch.from_numpy(feed[name]) for name in INPUT_NAMES})
    graph = move_exported_model_to_eval(convert_pt2e(graph, fold_quantize=False))
    model = litert_torch.convert(
        graph, sample_kwargs=kwargs, quant_config=QuantConfig(pt2e_quantizer=quantizer)
    )
    model.export(str(out))
    method = (
        "PT2E static quantization (litert-torch PT2EQuantizer, linear layers only): per-channel "
        "symmetric INT8 weights, INT8 activations (histogram calibration); float32 I/O"
    )
    return out, method
