"""FP32 ONNX and FP32 TFLite of a model directory's fusion model, listed in its card.

Both keep the device interface (``edgemood.model``): inputs audio, audio_mask, visual, visual_mask,
text, present with fixed maximum lengths, output probabilities. ONNX keeps a dynamic batch axis;
TFLite is fixed at batch 1 (the device runs clips one by one; ``FusionModel.predict`` loops).
``export_onnx`` also writes the ``fusion.onnx`` of every model directory ``edgemood train`` makes
(``edgemood.train.model_dir.write_model_dir``).

TFLite goes through litert-torch (PyTorch -> LiteRT directly, no TensorFlow; onnx2tf would need
TensorFlow and numpy 1.26, which cannot share the training environment).
"""

from __future__ import annotations

from pathlib import Path

import torch

from edgemood.audio_features import AUDIO_FEATURES
from edgemood.card import read_card, write_card
from edgemood.model import INPUT_NAMES, OUTPUT_NAME
from edgemood.train.fusion import DeployedFusion, FusionNet
from edgemood.train.model_dir import AUDIO_MAX_FRAMES, ONNX_FP32, VISUAL_MAX_FRAMES
from edgemood.visual_features import VISUAL_FEATURES
from export.load import load_net

OPSET = 17
TFLITE_FP32 = "fusion.tflite"


def example_inputs(
    batch: int = 1, visual_dim: int = len(VISUAL_FEATURES), text_dim: int = 768
) -> tuple[torch.Tensor, ...]:
    """Zero inputs with the graph's fixed shapes (for export and shape checks); ``visual_dim``
    and ``text_dim`` are the model's input widths (``FusionConfig``)."""
    return (
        torch.zeros(batch, AUDIO_MAX_FRAMES, len(AUDIO_FEATURES)),
        torch.zeros(batch, AUDIO_MAX_FRAMES),
        torch.zeros(batch, VISUAL_MAX_FRAMES, visual_dim),
        torch.zeros(batch, VISUAL_MAX_FRAMES),
        torch.zeros(batch, text_dim),
        torch.zeros(batch, 3),
    )


def export_onnx(net: FusionNet, path: Path) -> Path:
    """Export FP32 ONNX (the DeployedFusion form) with named inputs/outputs, fixed lengths and a
    dynamic batch axis."""
    net = DeployedFusion(net).eval()
    dynamic = {name: {0: "batch"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    torch.onnx.export(
        net,
        example_inputs(visual_dim=net.config.visual_dim, text_dim=net.config.text_dim),
        str(path),
        input_names=list(INPUT_NAMES),
        output_names=[OUTPUT_NAME],
        dynamic_axes=dynamic,
        opset_version=OPSET,
        # The TorchScript exporter writes one self-contained file; the dynamo one needs
        # onnxscript and splits weights into a side file.
        dynamo=False,
    )
    return path


class NamedOutput(torch.nn.Module):
    """The exported form of the model (DeployedFusion) returning ``{"probabilities": ...}``, so
    the TFLite signature names its output as ONNX does."""

    def __init__(self, net: FusionNet) -> None:
        super().__init__()
        self.net = DeployedFusion(net).eval()

    # Named parameters, not *inputs: litert-torch names the TFLite signature's inputs after them.
    def forward(
        self,
        audio: torch.Tensor,
        audio_mask: torch.Tensor,
        visual: torch.Tensor,
        visual_mask: torch.Tensor,
        text: torch.Tensor,
        present: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        probabilities = self.net(audio, audio_mask, visual, visual_mask, text, present)
        return {OUTPUT_NAME: probabilities}


def sample_kwargs(net: FusionNet | None = None) -> dict[str, torch.Tensor]:
    """Batch-1 inputs by name (litert-torch names the signature's inputs after them), shaped for
    ``net``'s visual and text widths (default: 35 geometry features, 768-d text)."""
    if net is None:
        return dict(zip(INPUT_NAMES, example_inputs(batch=1)))
    dims = {"visual_dim": net.config.visual_dim, "text_dim": net.config.text_dim}
    return dict(zip(INPUT_NAMES, example_inputs(batch=1, **dims)))


def export_tflite(net: FusionNet, path: Path) -> Path:
    """Convert to FP32 TFLite with litert-torch."""
    import litert_torch

    model = litert_torch.convert(NamedOutput(net).eval(), sample_kwargs=sample_kwargs(net))
    model.export(str(path))
    return shorten_tensor_names(path)


def shorten_tensor_names(path: Path) -> Path:
    """Rename the TFLite file's tensors ``t0``, ``t1``, ... in place.

    litert-torch names every tensor after its full PyTorch module path (``export.fusion.
    NamedOutput/edgemood.train.fusion.DeployedFusion_net/...``): 12 KB of a 105 KB INT8 model,
    and nothing reads them. The device addresses the model through its signature, whose input and
    output names are kept (they live in the signature, not in the tensor names).
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    for subgraph in model.subgraphs:
        for index, tensor in enumerate(subgraph.tensors):
            tensor.name = f"t{index}".encode()
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


def export_fusion(directory: Path, tflite: bool = True) -> dict[str, Path]:
    """Write ``fusion.onnx`` and ``fusion.tflite`` into a model directory.

    Args:
        directory: a model directory (from ``edgemood train``, or the bundled one).
        tflite: also write the FP32 TFLite model.
    Returns:
        The card's file keys and the files written or found.
    """
    directory = Path(directory)
    card = read_card(directory)
    net = load_net(directory)
    files = card.files
    onnx_path = directory / files.get("onnx_fp32", ONNX_FP32)
    export_onnx(net, onnx_path)  # rewritten: an older file may predate the DeployedFusion form
    files["onnx_fp32"] = onnx_path.name
    written = {"onnx_fp32": onnx_path}
    if tflite:
        written["tflite_fp32"] = export_tflite(net, directory / TFLITE_FP32)
        files["tflite_fp32"] = TFLITE_FP32
    write_card(directory, card)
    return written
