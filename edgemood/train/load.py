"""Rebuild the PyTorch fusion model of a model directory, with or without its checkpoint.

``edgemood train`` writes ``fusion.pt`` beside ``fusion.onnx``; the model shipped inside the
package carries only the ONNX file (package data is size-budgeted). Its weights are all in the
ONNX initializers, so the PyTorch model can be rebuilt from them exactly, and every later step
(TFLite export, PT2E quantization) starts from the same FusionNet either way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from edgemood.card import read_card
from edgemood.labels import MODALITIES
from edgemood.train.fusion import EMBED, FusionConfig, FusionNet
from edgemood.train.model_dir import CHECKPOINT, ONNX_FP32, load_checkpoint


def load_net(directory: Path) -> FusionNet:
    """The model directory's FusionNet in eval mode: from ``fusion.pt`` when present, else from
    the FP32 ONNX file named in the card."""
    directory = Path(directory)
    if (directory / CHECKPOINT).is_file():
        return load_checkpoint(directory)
    card = read_card(directory)
    net = FusionNet(FusionConfig.from_dict(card.architecture))
    onnx_file = directory / card.files.get("onnx_fp32", ONNX_FP32)
    net.load_state_dict(_weights_from_onnx(onnx.load(str(onnx_file)), net))
    return net.eval()


def _weights_from_onnx(model: onnx.ModelProto, net: FusionNet) -> dict[str, torch.Tensor]:
    """Map ONNX initializers back to FusionNet parameter names.

    Gemm weights keep their PyTorch names. The per-frame encoders' ``fc`` becomes MatMul + Add,
    and the exporter stores the transposed weight under a generated name; it is found as the
    MatMul fed by the encoder's standardisation (input -> Sub -> Div -> MatMul).
    """
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = {out: node for node in model.graph.node for out in node.output}
    state = {
        name: torch.from_numpy(np.array(inits[name])) for name in net.state_dict() if name in inits
    }
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        source = graph_input_of(node.input[0], producer, {i.name for i in model.graph.input})
        if source is not None:
            state[f"{source}.fc.weight"] = torch.from_numpy(np.array(inits[node.input[1]]).T)
    hidden = state.get("head.0.weight")
    full = net.state_dict()["head.0.weight"]
    if hidden is not None and hidden.shape != full.shape:
        # A DeployedFusion export keeps only the trained modalities' columns; the others only
        # ever multiplied zeros, so zeros restore the full FusionNet exactly.
        trained = [i for i, m in enumerate(MODALITIES) if net.config.trained[m]]
        restored = torch.zeros_like(full)
        for k, slot in enumerate(trained):
            restored[:, slot * EMBED : (slot + 1) * EMBED] = hidden[:, k * EMBED : (k + 1) * EMBED]
        state["head.0.weight"] = restored
    missing = set(net.state_dict()) - set(state)
    if missing:
        raise ValueError(f"ONNX file lacks weights for {', '.join(sorted(missing))}")
    return state


# Layers with weights: a tensor computed by one of them no longer derives from a graph input
# in the sense of ``graph_input_of`` (it is that layer's output, not the features).
_LAYER_OPS = {"MatMul", "Gemm", "Conv"}


def graph_input_of(tensor: str, producer: dict, inputs: set[str]) -> str | None:
    """The graph input a tensor derives from without passing through another layer: first
    inputs followed upstream (MatMul <- Div <- Sub <- graph input), or None."""
    for _ in range(8):
        if tensor in inputs:
            return tensor
        node = producer.get(tensor)
        if node is None or not node.input or node.op_type in _LAYER_OPS:
            return None
        tensor = node.input[0]
    return None
