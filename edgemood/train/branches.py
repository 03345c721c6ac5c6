"""Adding face and text branches to a trained voice model, the voice's own path kept as it is.

The fusion head is the paper's: hidden = ReLU(W_a a + W_v v + W_t t + b), then a softmax layer.
Here the audio encoder, W_a, b and the softmax layer come from a voice model trained on RAVDESS
and stay frozen; only the face and text encoders and their columns W_v, W_t learn, from voices
paired with faces and sentences of other data sets (``edgemood.train.pairing``). So:

- audio-only answers are exactly the voice model's (an absent modality's slot is zero): adding a
  face or words can never cost a voice-only user anything;
- each new branch learns what it adds in the voice model's own hidden space, so two modalities
  that agree add up, and a branch alone still reaches the softmax through the same layer;
- training is cheap: the voices' audio slots are computed once (a few augmented draws each, as
  the voice model saw them in training), never back-propagated through.

``BranchConfig.train_head`` lets the whole head learn too (audio-only answers then change); it is
measured against the frozen head in benchmarks/research/README.md, "Fusion from unpaired data
(folds 1–2 unless said)".
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from edgemood.labels import MODALITIES
from edgemood.progress import Progress
from edgemood.train.fit import TrainConfig, augment_batch, batch_arrays, shuffled_batches
from edgemood.train.fusion import EMBED, FusionNet
from edgemood.train.pairing import Partners


@dataclass
class BranchConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-3
    modality_dropout: float = 0.3  # chance to hide each modality of a sample (one always stays)
    noise: float = 0.3  # Gaussian noise on the face features, in units of their spread
    label_smoothing: float = 0.05
    # Audio slots per voice: one clean, the rest under the voice model's own training
    # augmentation (time crop, noise, feature masking), so the head does not meet voices only
    # as cleanly as the voice model fits its training clips.
    audio_draws: int = 4
    train_head: bool = False
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def audio_slots(
    net: FusionNet, voices: Sequence, draws: int, seed: int, chunk: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """The audio encoder's 128-d slots for ``voices``: [draws, N, 128] (draw 0 clean, the others
    augmented as in training) and the labels [N]."""
    trained = {m: m == "audio" for m in MODALITIES}
    arrays = batch_arrays(voices, trained, net.config)
    gen = torch.Generator().manual_seed(seed)
    augment = TrainConfig(modality_dropout=0.0)
    stats = {
        "audio": (net.audio.mean.clone(), net.audio.std.clone()),
        "visual": (torch.zeros(1), torch.ones(1)),
    }
    out = np.zeros((draws, len(voices), EMBED), np.float32)
    net.eval()
    with torch.no_grad():
        for draw in range(draws):
            for start in range(0, len(voices), chunk):
                batch = {k: torch.from_numpy(v[start : start + chunk]) for k, v in arrays.items()}
                if draw:
                    augment_batch(batch, augment, gen, stats)
                slot = net.audio(batch["audio"], batch["audio_mask"])
                out[draw, start : start + chunk] = slot.numpy()
    return out, np.array([v.label for v in voices])


def add_branches(
    voice_net: FusionNet,
    voices: Sequence,
    partners: Partners,
    config: BranchConfig | None = None,
    label: str = "",
    stream=None,
) -> tuple[FusionNet, dict]:
    """A fusion model with ``voice_net``'s audio path and new face/text branches.

    Args:
        voice_net: a trained model with an audio branch.
        voices: the clips it trained on (with speed copies), labelled.
        partners: face and/or sentence pools (training parts) and the pairing rates.
        config: training settings.
        label: put before the progress lines.
        stream: where per-epoch progress goes (default: stderr).
    Returns:
        (the model, on the CPU in eval mode; history).
    """
    config = config or BranchConfig()
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    fusion = copy.deepcopy(voice_net.config)
    if partners.faces is not None:
        fusion.trained["visual"], fusion.visual_dim = True, partners.visual_dim
    if partners.texts is not None:
        fusion.trained["text"], fusion.text_dim = True, partners.text_dim
    net = FusionNet(fusion)
    net.audio.load_state_dict(voice_net.audio.state_dict())
    kept = {name: p.detach().clone() for name, p in voice_net.head.named_parameters()}
    with torch.no_grad():
        net.head[0].weight[:, :EMBED] = kept["0.weight"][:, :EMBED]
        net.head[0].bias.copy_(kept["0.bias"])
        net.head[3].load_state_dict(voice_net.head[3].state_dict())
    if partners.faces is not None:
        faces = torch.from_numpy(partners.faces.features)
        net.set_normalisation("visual", faces.mean(0), faces.std(0))
    for p in net.audio.parameters():
        p.requires_grad_(False)
    if not config.train_head:
        for p in (net.head[0].bias, *net.head[3].parameters()):
            p.requires_grad_(False)

    slots, labels = audio_slots(net, voices, config.audio_draws, config.seed)
    n = len(labels)
    # The voices' own words (their RAVDESS statements), where the clips carry them.
    own_text = None
    if net.text is not None and all(v.inputs.text is not None for v in voices):
        own_text = np.stack([v.inputs.text for v in voices]).astype(np.float32)
    base = {
        "audio": slots[0],
        "audio_mask": np.ones((n, 1), np.float32),
        "visual": np.zeros((n, 4, fusion.visual_dim), np.float32),
        "visual_mask": np.zeros((n, 4), np.float32),
        "text": np.zeros((n, fusion.text_dim), np.float32),
        "present": np.tile(np.array([[1.0, 0.0, 0.0]], np.float32), (n, 1)),
    }
    visual_stats = (
        (net.visual.mean.clone(), net.visual.std.clone()) if net.visual is not None else None
    )
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    progress = Progress(config.epochs, f"{label}branch epoch", every=1, stream=stream)
    history = []
    for epoch in range(1, config.epochs + 1):
        net.train()
        net.audio.eval()  # frozen: no statistics of its own move
        base["audio"] = slots[rng.integers(0, len(slots), n), np.arange(n)]
        parts = partners.epoch(base, labels, rng, own_text)
        total, seen = 0.0, 0
        for part, index in shuffled_batches(parts, config.batch_size, rng):
            arrays, part_labels = parts[part]
            batch = {k: torch.from_numpy(v[index]) for k, v in arrays.items()}
            logits = net.head(_fused(net, batch, config, gen, visual_stats))
            loss = loss_fn(logits, torch.from_numpy(part_labels[index]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if not config.train_head:  # weight decay must not move the voice's columns either
                with torch.no_grad():
                    net.head[0].weight[:, :EMBED] = kept["0.weight"][:, :EMBED]
            total += loss.item() * len(index)
            seen += len(index)
        history.append({"epoch": epoch, "train_loss": total / seen})
        progress.update(epoch, f"loss {total / seen:.4f}")
    progress.close()
    return net.eval(), {"history": history, "config": config.to_dict()}


def _fused(
    net: FusionNet,
    batch: dict[str, torch.Tensor],
    config: BranchConfig,
    gen: torch.Generator,
    visual_stats: tuple[torch.Tensor, torch.Tensor] | None,
) -> torch.Tensor:
    """The 384-d fused vector of a batch whose audio is already a slot, with modality dropout
    and face-feature noise."""
    present = batch["present"]
    drop = (torch.rand(present.shape, generator=gen) < config.modality_dropout).float()
    kept = present * (1 - drop)
    present = torch.where(kept.sum(1, keepdim=True) == 0, present, kept)
    slots = [batch["audio"] * present[:, :1]]
    if net.visual is not None:
        visual = batch["visual"]
        if visual_stats is not None and config.noise:
            visual = (
                visual + config.noise * torch.randn(visual.shape, generator=gen) * visual_stats[1]
            )
        slots.append(net.visual(visual, batch["visual_mask"]) * present[:, 1:2])
    else:
        slots.append(torch.zeros_like(slots[0]))
    if net.text is not None:
        slots.append(net.text(batch["text"]) * present[:, 2:3])
    else:
        slots.append(torch.zeros_like(slots[0]))
    return torch.cat(slots, dim=1)
