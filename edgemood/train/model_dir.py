"""Writing a model directory: the PyTorch checkpoint, its FP32 ONNX export (``export.fusion``
of the checkout) and the model card (``edgemood.card``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from edgemood import __version__
from edgemood.audio_features import AUDIO_FEATURES, FRAME_RATE
from edgemood.card import CARD_FORMAT, ModelCard, write_card
from edgemood.decode import VISUAL_FPS
from edgemood.labels import EMOTIONS
from edgemood.train.fusion import FusionConfig, FusionNet
from edgemood.train.workstation import require_export
from edgemood.visual_features import VISUAL_FEATURES

# Fixed maximum lengths (10 s of audio frames at 100/s, 10 s of face frames at 5/s): static shapes
# keep ONNX Runtime's plan warm and are what TFLite and INT8 calibration need. Longer clips are
# thinned uniformly to fit (edgemood.model._place).
AUDIO_MAX_FRAMES = 1000
VISUAL_MAX_FRAMES = 50
CHECKPOINT = "fusion.pt"
ONNX_FP32 = "fusion.onnx"

LICENCE = (
    "Weights trained on RAVDESS (Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual "
    "Database of Emotional Speech and Song (RAVDESS). PLoS ONE 13(5): e0196391. "
    "https://doi.org/10.1371/journal.pone.0196391) fall under CC BY-NC-SA 4.0: non-commercial "
    "use only, share alike, credit the authors."
)


def load_checkpoint(directory: Path) -> FusionNet:
    """Rebuild the PyTorch model saved by write_model_dir."""
    state = torch.load(directory / CHECKPOINT, map_location="cpu", weights_only=True)
    net = FusionNet(FusionConfig.from_dict(state["config"]))
    net.load_state_dict(state["weights"])
    return net.eval()


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
    require_export()
    from export.fusion import export_onnx

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
    write_card(directory, ModelCard.from_dict(card))
    return directory
