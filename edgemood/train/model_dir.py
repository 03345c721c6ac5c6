"""Writing a model directory: the PyTorch checkpoint, its FP32 ONNX export and the model card."""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from edgemood import __version__
from edgemood.audio_features import AUDIO_FEATURES, FRAME_RATE
from edgemood.decode import VISUAL_FPS
from edgemood.labels import EMOTIONS
from edgemood.model import CARD_FORMAT, CARD_NAME, INPUT_NAMES, OUTPUT_NAME
from edgemood.train.fusion import DeployedFusion, FusionConfig, FusionNet
from edgemood.visual_features import VISUAL_FEATURES

# Fixed maximum lengths (10 s of audio frames at 100/s, 10 s of face frames at 5/s): static shapes
# keep ONNX Runtime's plan warm and are what TFLite and INT8 calibration need. Longer clips are
# thinned uniformly to fit (edgemood.model._place).
AUDIO_MAX_FRAMES = 1000
VISUAL_MAX_FRAMES = 50
OPSET = 17
CHECKPOINT = "fusion.pt"
ONNX_FP32 = "fusion.onnx"

LICENCE = (
    "Weights trained on RAVDESS (Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual "
    "Database of Emotional Speech and Song (RAVDESS). PLoS ONE 13(5): e0196391. "
    "https://doi.org/10.1371/journal.pone.0196391) fall under CC BY-NC-SA 4.0: non-commercial "
    "use only, share alike, credit the authors."
)


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


def load_checkpoint(directory: Path) -> FusionNet:
    """Rebuild the PyTorch model saved by write_model_dir."""
    state = torch.load(directory / CHECKPOINT, map_location="cpu", weights_only=True)
    net = FusionNet(FusionConfig.from_dict(state["config"]))
    net.load_state_dict(state["weights"])
    return net.eval()


def write_card(directory: Path, card: dict[str, Any]) -> None:
    """Write model.json atomically (a reader never sees half a card)."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".model.", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(card, handle, indent=1)
        handle.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a card is meant to be read
    os.replace(tmp, directory / CARD_NAME)


def write_model_dir(
    net: FusionNet,
    directory: Path,
    extra: dict[str, Any] | None = None,
    visual_features: Sequence[str] = VISUAL_FEATURES,
) -> Path:
    """Save checkpoint, FP32 ONNX and card into ``directory``.

    Args:
        net: the trained model (normalisation baked in).
        directory: created if needed.
        extra: card fields to add (training data, protocol, metrics, ...).
        visual_features: the per-frame visual features the model was trained on, by name (from
            edgemood.visual_features.ALL_VISUAL_FEATURES); one per ``net.config.visual_dim``.
    Returns:
        The directory.
    """
    if len(visual_features) != net.config.visual_dim:
        raise ValueError(
            f"{len(visual_features)} visual feature names for visual_dim {net.config.visual_dim}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"config": net.config.to_dict(), "weights": net.state_dict()}, directory / CHECKPOINT
    )
    export_onnx(net, directory / ONNX_FP32)
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "edgemood_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "emotions": list(EMOTIONS),
        "audio_features": list(AUDIO_FEATURES),
        "visual_features": list(visual_features),
        "text_dim": net.config.text_dim,
        "audio_max_frames": AUDIO_MAX_FRAMES,
        "visual_max_frames": VISUAL_MAX_FRAMES,
        "audio_frame_rate": FRAME_RATE,
        "visual_fps": VISUAL_FPS,
        "trained": dict(net.config.trained),
        "architecture": net.config.to_dict(),
        "files": {"onnx_fp32": ONNX_FP32},
        "default": ONNX_FP32,
        "licence": LICENCE,
        "versions": {"torch": torch.__version__},
    }
    card.update(extra or {})
    write_card(directory, card)
    return directory
