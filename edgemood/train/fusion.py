"""The paper's fusion model in PyTorch, with the same graph interface the device runs as ONNX.

Per modality an encoder into 128 (per frame a fully connected layer + ReLU, then masked pooling
over time; for audio, by default, a small 1-D convolution stack over time before the pooling, see
``_TemporalEncoder``), concatenation to 384, a hidden layer with ReLU and dropout, softmax over
the 8 emotions. ``present`` (audio, visual, text) zeroes a missing modality's 128-d slot, so any
modality can be absent; an untrained modality's encoder is not built at all, its slot is always
zero, and the exported file carries no weights for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from edgemood.audio_features import AUDIO_FEATURES
from edgemood.labels import EMOTIONS, MODALITIES

EMBED = 128
POOLINGS = ("mean", "max", "mean+max")
# "frame": the paper's per-frame FC + ReLU, pooled (a bag of frames). "temporal": convolutions over
# up to ~400 ms of context first, so the encoder sees how pitch, energy and spectrum move.
AUDIO_ENCODERS = ("frame", "temporal")
UTTERANCE_NORMS = ("none", "mean", "both")


@dataclass
class FusionConfig:
    audio_dim: int = 74
    visual_dim: int = 35
    text_dim: int = 768
    hidden: int = 128
    dropout: float = 0.5
    # "mean+max" adds the masked mean and the masked max of the per-frame encodings (both 128-d,
    # so the slot stays 128 as in the paper). On RAVDESS speaker folds mean pooling did as well
    # (benchmarks/research/README.md, "Voice model"), and it is the simpler, so it is the default.
    pooling: str = "mean"
    # Cards written before the temporal encoder existed have no such key: they load as "frame"
    # (``from_dict``).
    audio_encoder: str = "temporal"
    # Width of the temporal encoder's inner convolutions: 48 kept the voice-only INT8 model under
    # its then 100 KB budget (64 was a little more accurate, 32 clearly less:
    # benchmarks/research/README.md, "Voice model").
    channels: int = 48
    # The temporal encoder pools only frames within this many dB of the clip's loudest (0: all
    # frames): RAVDESS clips are about a third silence, and how much varies by speaker and take.
    speech_range_db: float = 35.0
    # Per-utterance normalisation of the voice's features inside the graph (the device has no
    # speaker statistics): "none"; "mean" subtracts the clip's own mean over its speech frames
    # from every feature (the microphone's colour, the speaker's pitch and loudness level go);
    # "both" feeds the raw and the mean-subtracted features side by side. Measured across
    # corpora: benchmarks/RESULTS.md, "Across corpora".
    utterance_norm: str = "none"
    # Answers are softmax(logits / temperature): fitted on held-out speakers' predictions
    # (``edgemood evaluate`` reports it) so that the probabilities mean what they say; 1: none.
    temperature: float = 1.0
    trained: dict[str, bool] = field(
        default_factory=lambda: {"audio": True, "visual": True, "text": True}
    )

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}")
        if self.audio_encoder not in AUDIO_ENCODERS:
            raise ValueError(f"audio_encoder must be one of {', '.join(AUDIO_ENCODERS)}")
        if self.utterance_norm not in UTTERANCE_NORMS:
            raise ValueError(f"utterance_norm must be one of {', '.join(UTTERANCE_NORMS)}")
        if self.utterance_norm != "none" and self.audio_encoder != "temporal":
            raise ValueError("utterance_norm needs the temporal audio encoder")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> FusionConfig:
        """A config from a card or checkpoint; those older than the temporal encoder used the
        per-frame one."""
        return cls(**{"audio_encoder": "frame", **values})


def _pool(h: torch.Tensor, m: torch.Tensor, pooling: str) -> torch.Tensor:
    """Masked pooling over time of h [B, T, C] (already zero where m [B, T, 1] is 0)."""
    # ReLU outputs are >= 0, so a masked max over h*m is the max over real frames (0 if none).
    mean = h.sum(1) / m.sum(1).clamp(min=1.0)
    if pooling == "mean":
        return mean
    peak = h.amax(1)
    return peak if pooling == "max" else mean + peak


class _FrameEncoder(nn.Module):
    """Standardise per-frame features, FC + ReLU into 128, then masked pooling over time."""

    def __init__(self, dim: int, pooling: str) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.fc = nn.Linear(dim, EMBED)
        self.pooling = pooling

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1)
        return _pool(torch.relu(self.fc((x - self.mean) / self.std)) * m, m, self.pooling)


class _TemporalEncoder(nn.Module):
    """Standardise, then three convolutions over time with ReLU, then masked pooling into 128
    over the frames that are speech.

    A bag of frames sees each 10 ms frame alone (plus the deltas); emotion lives as much in how
    pitch, loudness and spectrum move over tens to hundreds of milliseconds. Steps: pairs of
    frames (20 ms, stride 2), 5 steps of those (stride 2: 40 ms), 5 dilated steps of those
    (~400 ms of context) into 128. Striding keeps it cheap: the last two layers run on a quarter
    of the frames. Pooling skips silence (``speech_range_db``), whose share of a clip says more
    about the take than the emotion. Measured against the per-frame encoder on the RAVDESS
    speaker folds: benchmarks/research/README.md, "Voice model".
    """

    def __init__(
        self,
        dim: int,
        pooling: str,
        channels: int,
        speech_range_db: float,
        utterance_norm: str = "none",
    ) -> None:
        super().__init__()
        self.utterance_norm = utterance_norm
        width = 2 * dim if utterance_norm == "both" else dim
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))
        self.pairs = nn.Conv1d(width, channels, 2, stride=2)
        self.local = nn.Conv1d(channels, channels, 5, stride=2, padding=2)
        self.context = nn.Conv1d(channels, EMBED, 5, padding=4, dilation=2)
        self.pooling = pooling
        self.speech_range_db = speech_range_db

    def utterance(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The features as the convolutions see them before standardisation: as they are, or
        with the clip's mean over its speech frames taken out (``utterance_norm``)."""
        if self.utterance_norm == "none":
            return x
        speech = _speech_frames(x, mask, self.speech_range_db).unsqueeze(-1)
        level = (x * speech).sum(1, keepdim=True) / speech.sum(1, keepdim=True).clamp(min=1.0)
        centred = x - level
        return centred if self.utterance_norm == "mean" else torch.cat([x, centred], dim=2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        speech = _speech_frames(x, mask, self.speech_range_db)
        x = self.utterance(x, mask)
        # Padding frames must read as zeros after standardisation, or they leak into the
        # convolutions at a clip's end.
        x = ((x - self.mean) / self.std * mask.unsqueeze(-1)).transpose(1, 2)
        # A pair counts when its second frame is real (masks are a prefix, or a training crop).
        pairs = mask[:, 1::2][:, None, : x.shape[2] // 2]
        h = torch.relu(self.pairs(x)) * pairs
        steps = pairs[:, :, ::2]  # matches the stride-2 output length, ceil(pairs / 2)
        h = torch.relu(self.local(h)) * steps
        h = torch.relu(self.context(h)) * steps
        # Pool over the steps that are speech (silence still gives the convolutions context).
        pooled = steps * speech[:, 1::4][:, None, : steps.shape[2]]  # the frames steps read
        h = h * pooled
        return _pool(h.transpose(1, 2), pooled.transpose(1, 2), self.pooling)


LOG_RMS = AUDIO_FEATURES.index("log_rms")


def _speech_frames(x: torch.Tensor, mask: torch.Tensor, range_db: float) -> torch.Tensor:
    """1 for frames within ``range_db`` of the clip's loudest frame (log RMS, dB), else 0; the
    mask itself when ``range_db`` is 0. Part of the exported graph, so the device needs no VAD."""
    if not range_db:
        return mask
    level = x[:, :, LOG_RMS] * mask + (mask - 1.0) * 1e4  # far below any level outside the mask
    loudest = level.amax(1, keepdim=True)
    return (level > loudest - range_db).to(x.dtype) * mask


class _VectorEncoder(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, EMBED)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


def _zeros(*inputs: torch.Tensor) -> torch.Tensor:
    """A zero 128-d slot that still reads its inputs: the ONNX exporter drops unused inputs, and
    every exported model must keep the same six-input interface."""
    first = sum(x.flatten(1)[:, :1] for x in inputs)
    return (first * 0.0).expand(-1, EMBED)


def _slots(
    model: nn.Module,
    audio: torch.Tensor,
    audio_mask: torch.Tensor,
    visual: torch.Tensor,
    visual_mask: torch.Tensor,
    text: torch.Tensor,
    present: torch.Tensor,
) -> list[torch.Tensor]:
    """The audio, visual and text 128-d slots of ``model`` (its ``audio``/``visual``/``text``
    encoders, None where untrained), each multiplied by its ``present`` flag."""
    slots = [
        model.audio(audio, audio_mask) if model.audio is not None else _zeros(audio, audio_mask),
        model.visual(visual, visual_mask)
        if model.visual is not None
        else _zeros(visual, visual_mask),
        model.text(text) if model.text is not None else _zeros(text),
    ]
    return [s * present[:, i : i + 1] for i, s in enumerate(slots)]


def _audio_encoder(config: FusionConfig) -> nn.Module:
    if config.audio_encoder == "temporal":
        return _TemporalEncoder(
            config.audio_dim,
            config.pooling,
            config.channels,
            config.speech_range_db,
            config.utterance_norm,
        )
    return _FrameEncoder(config.audio_dim, config.pooling)


class FusionNet(nn.Module):
    """Takes the six named inputs, returns probabilities (``logits=True``: pre-softmax scores)."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        trained = config.trained
        self.audio = _audio_encoder(config) if trained["audio"] else None
        self.visual = (
            _FrameEncoder(config.visual_dim, config.pooling) if trained["visual"] else None
        )
        self.text = _VectorEncoder(config.text_dim) if trained["text"] else None
        self.head = nn.Sequential(
            nn.Linear(EMBED * len(MODALITIES), config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, len(EMOTIONS)),
        )

    def fuse(self, *inputs: torch.Tensor, **named: torch.Tensor) -> torch.Tensor:
        """The six inputs of ``_slots`` (positional or by name) -> the fused 384-d vector."""
        return torch.cat(_slots(self, *inputs, **named), dim=1)

    def logits(self, *inputs: torch.Tensor, **named: torch.Tensor) -> torch.Tensor:
        """The six inputs of ``_slots`` (positional or by name) -> pre-softmax scores [B, 8]."""
        return self.head(self.fuse(*inputs, **named))

    def forward(self, *inputs: torch.Tensor, **named: torch.Tensor) -> torch.Tensor:
        """The six inputs of ``_slots`` (positional or by name) -> probabilities [B, 8]."""
        return _softmax(self.logits(*inputs, **named), self.config.temperature)

    def set_normalisation(self, modality: str, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Bake the training set's feature mean/std into the model (exported with it)."""
        encoder = getattr(self, modality)
        if encoder is not None:
            encoder.mean.copy_(mean)
            encoder.std.copy_(std.clamp(min=1e-4))


class DeployedFusion(nn.Module):
    """A trained FusionNet in the form that is exported (ONNX, TFLite): same inputs, same
    probabilities, fewer weights.

    The slot of a modality the model was not trained on is always zero (no encoder; the device
    also marks it absent), so the hidden layer's columns for it only ever multiply zeros. They
    are dropped here: an audio-only model's hidden layer shrinks from 384x128 to 128x128, and the
    exported file from 248 KB to ~110 KB (FP32). Parameter names stay FusionNet's, with
    ``head.0.weight`` holding the kept columns only (``edgemood.train.load`` restores the full
    shape).
    """

    def __init__(self, net: FusionNet) -> None:
        super().__init__()
        self.config = net.config
        self.audio, self.visual, self.text = net.audio, net.visual, net.text
        self.keep = [i for i, m in enumerate(MODALITIES) if net.config.trained[m]]
        columns = torch.cat([torch.arange(i * EMBED, (i + 1) * EMBED) for i in self.keep])
        full = net.head[0]
        hidden = nn.Linear(len(columns), full.out_features)
        with torch.no_grad():
            hidden.weight.copy_(full.weight[:, columns])
            hidden.bias.copy_(full.bias)
        self.head = nn.Sequential(hidden, nn.ReLU(), nn.Dropout(net.config.dropout), net.head[3])

    def logits(self, *inputs: torch.Tensor, **named: torch.Tensor) -> torch.Tensor:
        slots = _slots(self, *inputs, **named)
        fused = torch.cat([slots[i] for i in self.keep], dim=1)
        # The dropped slots are zeros that still read their inputs: adding one column of each
        # keeps every input in the exported graph (one interface for all models).
        for i, slot in enumerate(slots):
            if i not in self.keep:
                fused = fused + slot[:, :1]
        return self.head(fused)

    def forward(self, *inputs: torch.Tensor, **named: torch.Tensor) -> torch.Tensor:
        return _softmax(self.logits(*inputs, **named), self.config.temperature)


def _softmax(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Probabilities at ``temperature`` (at 1 the graph has no division: older exports stay as
    they were)."""
    if temperature != 1.0:
        logits = logits / temperature
    return torch.softmax(logits, dim=-1)
