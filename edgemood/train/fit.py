"""Training the fusion model: modality dropout, time-crop augmentation, early stopping."""

from __future__ import annotations

import copy
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from edgemood.labels import EMOTIONS, MODALITIES
from edgemood.progress import Progress
from edgemood.train.data import Clip
from edgemood.train.fusion import FusionConfig, FusionNet
from edgemood.train.model_dir import AUDIO_MAX_FRAMES, VISUAL_MAX_FRAMES
from edgemood.train.pairing import Partners


@dataclass
class TrainConfig:
    epochs: int = 40  # the one-cycle schedule spans them; the temporal model settles by ~30
    patience: int = 40  # epochs without a better validation loss before stopping
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-3
    modality_dropout: float = 0.3  # chance to hide each modality of a clip (one always stays)
    min_crop: float = 0.4  # a random window of at least this fraction of the frames is kept
    noise: float = 0.3  # Gaussian noise on standardised features
    # Chance that a clip's feature is replaced by its training mean (whole clip), so no single
    # feature (say, a speaker's pitch level) can carry the decision alone.
    feature_mask: float = 0.15
    # Mixup of the fused vectors of two clips and of their labels, weight ~ Beta(a, a); 0: off.
    mixup: float = 0.4
    label_smoothing: float = 0.05
    # Training clips are also seen at these speeds (edgemood.train.data.speed_perturbed).
    speed_perturbation: tuple[float, ...] = (0.9, 1.1)
    # Training clips are also seen after each of these corruptions (edgemood.train.augment):
    # noise, room, codec, telephone, gain.
    augment: tuple[str, ...] = ()
    # Each corpus teaches only the classes it has: the loss is restricted to them, so a corpus
    # without calm does not teach that calm never happens (edgemood.train.fit.masked_loss).
    class_mask: bool = True
    # How an epoch draws clips when several corpora train together: "corpus" gives each corpus
    # the same share, the smaller ones repeated (epoch_size), "corpus+class" also each class
    # within it, "none" takes every clip once. One corpus (with "corpus") takes every clip once,
    # as before.
    balance: str = "corpus"
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.balance not in BALANCES:
            raise ValueError(f"balance must be one of {', '.join(BALANCES)}")
        from edgemood.train.augment import CORRUPTIONS

        unknown = [kind for kind in self.augment if kind not in CORRUPTIONS]
        if unknown:
            raise ValueError(
                f"unknown augmentation {', '.join(unknown)} (one of {', '.join(CORRUPTIONS)})"
            )

    def to_dict(self) -> dict:
        return asdict(self)


BALANCES = ("none", "corpus", "corpus+class")


def class_masks(clips: Sequence[Clip], classes: dict[str, set[int]] | None = None) -> np.ndarray:
    """[N, 8] float32: 1 for the classes of each clip's corpus (``classes``: corpus -> label
    set, default: the labels its clips carry)."""
    if classes is None:
        classes = corpus_classes(clips)
    allowed = np.zeros((len(clips), len(EMOTIONS)), np.float32)
    for i, clip in enumerate(clips):
        allowed[i, sorted(classes.get(clip.corpus, range(len(EMOTIONS))))] = 1.0
    return allowed


def corpus_classes(clips: Sequence[Clip]) -> dict[str, set[int]]:
    """Corpus -> the labels its clips carry."""
    out: dict[str, set[int]] = {}
    for clip in clips:
        out.setdefault(clip.corpus, set()).add(clip.label)
    return out


def sampling_weights(clips: Sequence[Clip], balance: str) -> np.ndarray | None:
    """Per-clip draw probabilities for ``balance``; None when every clip is drawn once (one
    corpus under "corpus", or "none")."""
    corpora = [c.corpus for c in clips]
    if balance == "none" or (balance == "corpus" and len(set(corpora)) == 1):
        return None
    if balance == "corpus":
        count = Counter(corpora)
        weights = np.array([1.0 / count[c] for c in corpora])
    else:
        pairs = [(c.corpus, c.label) for c in clips]
        count = Counter(pairs)
        classes = Counter(corpus for corpus, _ in count)  # classes per corpus
        weights = np.array([1.0 / (classes[p[0]] * count[p]) for p in pairs])
    return weights / weights.sum()


def epoch_size(clips: Sequence[Clip]) -> int:
    """Clips drawn per epoch under balance: as many per corpus as the largest corpus has, so
    balance repeats the small corpora instead of starving the large one (which then still sees
    about every clip once an epoch, as when it trains alone)."""
    sizes = Counter(c.corpus for c in clips)
    return len(sizes) * max(sizes.values())


def masked_loss(
    scores: torch.Tensor, target: torch.Tensor, allowed: torch.Tensor, smoothing: float
) -> torch.Tensor:
    """Cross-entropy with label smoothing over each sample's allowed classes only.

    With every class allowed it equals ``torch.nn.CrossEntropyLoss(label_smoothing=...)``; a
    class outside a sample's corpus gets neither probability mass nor gradient from it. A row
    with no class allowed (a face or sentence alone) counts as all allowed."""
    allowed = torch.where(allowed.sum(1, keepdim=True) > 0, allowed, torch.ones_like(allowed))
    log_p = torch.log_softmax(scores.masked_fill(allowed == 0, -1e9), dim=1)
    log_p = log_p.masked_fill(allowed == 0, 0.0)
    target_p = allowed * (smoothing / allowed.sum(1, keepdim=True))
    target_p = target_p + (1 - smoothing) * torch.nn.functional.one_hot(target, scores.shape[1])
    return -(target_p * log_p).sum(1).mean()


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def batch_arrays(
    clips: Sequence[Clip], trained: dict[str, bool], dims: FusionConfig | None = None
) -> dict[str, np.ndarray]:
    """Pad clips into arrays; lengths up to the longest clip (at most the export maximum).
    ``dims``: the model's input widths (default: FusionConfig's, 35-d faces and 768-d text)."""
    n = len(clips)
    dims = dims or FusionConfig()

    def frames(modality: str, cap: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
        seqs = [getattr(c.inputs, modality) for c in clips]
        length = max([len(s) for s in seqs if s is not None] + [1])
        # A multiple of 4: the temporal audio encoder halves the frame count twice.
        length = min(-(-length // 4) * 4, cap)
        data = np.zeros((n, length, dim), np.float32)
        mask = np.zeros((n, length), np.float32)
        for i, seq in enumerate(seqs):
            if seq is not None and trained[modality] and len(seq):
                if len(seq) > length:  # same thinning as the device runtime
                    seq = seq[np.linspace(0, len(seq) - 1, length).round().astype(int)]
                data[i, : len(seq)] = seq
                mask[i, : len(seq)] = 1.0
        return data, mask

    audio, audio_mask = frames("audio", AUDIO_MAX_FRAMES, dims.audio_dim)
    visual, visual_mask = frames("visual", VISUAL_MAX_FRAMES, dims.visual_dim)
    text = np.zeros((n, dims.text_dim), np.float32)
    for i, clip in enumerate(clips):
        if clip.inputs.text is not None and trained["text"]:
            text[i] = clip.inputs.text
    present = np.stack(
        [audio_mask.max(1), visual_mask.max(1), np.abs(text).max(1) > 0], axis=1
    ).astype(np.float32)
    return {
        "audio": audio,
        "audio_mask": audio_mask,
        "visual": visual,
        "visual_mask": visual_mask,
        "text": text,
        "present": present,
    }


def _normalise(net: FusionNet, arrays: dict[str, np.ndarray]) -> None:
    """Bake the training frames' mean/std, as each encoder sees them, into the model."""
    for modality in ("audio", "visual"):
        mask = arrays[f"{modality}_mask"].astype(bool)
        if not mask.any():
            continue
        encoder = getattr(net, modality)
        if hasattr(encoder, "utterance") and encoder.utterance_norm != "none":
            frames = np.concatenate(
                [
                    _seen(
                        encoder,
                        arrays[modality][i : i + 256],
                        arrays[f"{modality}_mask"][i : i + 256],
                    )
                    for i in range(0, len(mask), 256)
                ]
            )
        else:
            frames = arrays[modality][mask]
        net.set_normalisation(
            modality, torch.from_numpy(frames.mean(0)), torch.from_numpy(frames.std(0))
        )


def _seen(encoder: torch.nn.Module, data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The real frames of padded clips after the encoder's per-utterance step."""
    with torch.no_grad():
        seen = encoder.utterance(torch.from_numpy(data), torch.from_numpy(mask)).numpy()
    return seen[mask.astype(bool)]


def _raw_stats(arrays: dict[str, np.ndarray], modality: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of a modality's real frames as stored (for augmentation, which works on
    the features before the model's own steps)."""
    frames = arrays[modality][arrays[f"{modality}_mask"].astype(bool)]
    if not len(frames):
        return torch.zeros(1), torch.ones(1)
    return torch.from_numpy(frames.mean(0)), torch.from_numpy(frames.std(0)).clamp(min=1e-4)


def augment_batch(
    batch: dict[str, torch.Tensor],
    config: TrainConfig,
    gen: torch.Generator,
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]],
) -> None:
    """In place: random time crop (as a mask window), feature noise and masking, modality
    dropout. ``stats``: the training features' (mean, std) per modality."""
    for modality in ("audio", "visual"):
        mask = batch[f"{modality}_mask"]
        lengths = mask.sum(1)
        keep = config.min_crop + (1 - config.min_crop) * torch.rand(len(mask), generator=gen)
        window = (lengths * keep).ceil()
        start = ((lengths - window) * torch.rand(len(mask), generator=gen)).floor()
        steps = torch.arange(mask.shape[1]).unsqueeze(0)
        inside = (steps >= start.unsqueeze(1)) & (steps < (start + window).unsqueeze(1))
        batch[f"{modality}_mask"] = mask * inside.to(mask.dtype)
        # Noise in units of each feature's spread (the model standardises by the same std).
        mean, std = stats[modality]
        noise = torch.randn(batch[modality].shape, generator=gen) * std
        features = batch[modality] + config.noise * noise
        hidden = torch.rand((len(mask), 1, features.shape[2]), generator=gen) < config.feature_mask
        batch[modality] = torch.where(hidden, mean, features)
    present = batch["present"]
    drop = (torch.rand(present.shape, generator=gen) < config.modality_dropout).float()
    kept = present * (1 - drop)
    # A clip must keep at least one modality: where all were dropped, restore the originals.
    none_left = kept.sum(1, keepdim=True) == 0
    batch["present"] = torch.where(none_left, present, kept)


def _to(arrays: dict[str, np.ndarray], index: np.ndarray, device: torch.device) -> dict:
    return {k: torch.from_numpy(v[index]).to(device) for k, v in arrays.items()}


def predict_arrays(
    net: FusionNet, arrays: dict[str, np.ndarray], device: torch.device, batch: int = 256
) -> np.ndarray:
    """Probabilities [N, 8] for padded arrays (eval mode, no augmentation)."""
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(arrays["audio"]), batch):
            index = np.arange(start, min(start + batch, len(arrays["audio"])))
            feed = _to(arrays, index, device)
            out.append(net(**feed).cpu().numpy())
    return np.concatenate(out)


def trained_modalities(clips: Sequence[Clip]) -> dict[str, bool]:
    """A modality is trained when the training clips carry it."""
    return {m: any(getattr(c.inputs, m) is not None for c in clips) for m in MODALITIES}


def train_model(
    train: Sequence[Clip],
    val: Sequence[Clip] | None,
    fusion: FusionConfig | None = None,
    config: TrainConfig | None = None,
    log=None,
    label: str = "",
    stream=None,
    partners: Partners | None = None,
    init: FusionNet | None = None,
) -> tuple[FusionNet, dict]:
    """Train the fusion model.

    Args:
        train: clips with features.
        val: validation clips (other actors); None trains for exactly ``config.epochs``.
        fusion: architecture (its ``trained`` flags are set from the data).
        config: optimisation settings.
        log: callable(str) for other lines (default: stderr).
        label: put before the progress lines (e.g. "fold 2/5 ").
        stream: where per-epoch progress goes (default: stderr).
        partners: faces and sentences from other data sets, paired with the voices anew every
            epoch (``edgemood.train.pairing``); their branches are then trained too.
        init: a trained model to start from (fine-tuning): its architecture, weights and
            feature normalisation are kept, and only modalities it has are trained.
    Returns:
        (model on the CPU, best weights restored; history dict).
    """
    fusion = copy.deepcopy(fusion or FusionConfig())
    config = config or TrainConfig()
    log = log or (lambda line: print(line, file=sys.stderr))
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = pick_device(config.device)

    fusion.trained = trained_modalities(train)
    if partners is not None:
        if partners.faces is not None:
            fusion.trained["visual"], fusion.visual_dim = True, partners.visual_dim
        if partners.texts is not None:
            fusion.trained["text"], fusion.text_dim = True, partners.text_dim
    if init is not None:
        fusion = copy.deepcopy(init.config)
        net = copy.deepcopy(init)
    else:
        net = FusionNet(fusion)
    arrays = batch_arrays(train, fusion.trained, fusion)
    labels = np.array([c.label for c in train])
    if init is None:  # a fine-tuned model keeps the normalisation its weights learnt with
        _normalise(net, arrays)
    classes = corpus_classes(train)
    if config.class_mask:
        arrays["allowed"] = class_masks(train, classes)
    weights = sampling_weights(train, config.balance)
    draws = epoch_size(train)
    if partners is not None and partners.faces is not None:
        faces = torch.from_numpy(partners.faces.features)
        net.set_normalisation("visual", faces.mean(0), faces.std(0))
    # Noise is scaled to each feature's spread, so standardised noise of config.noise.
    stats = {}
    for modality in ("audio", "visual"):
        encoder = getattr(net, modality)
        if encoder is None:
            stats[modality] = (torch.zeros(1), torch.ones(1))
        elif getattr(encoder, "utterance_norm", "none") != "none":
            # The buffers describe the normalised features; noise goes onto the stored ones.
            stats[modality] = _raw_stats(arrays, modality)
        else:
            stats[modality] = (encoder.mean.clone(), encoder.std.clone())
    val_arrays = batch_arrays(val, fusion.trained, fusion) if val else None
    val_labels = np.array([c.label for c in val]) if val else None
    # Validation is scored as training is: over each clip's corpus' classes.
    val_allowed = class_masks(val, classes) if val and config.class_mask else None

    net.to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    epoch_parts = _epoch_parts(arrays, labels, partners, rng, weights, draws)
    steps_per_epoch = len(shuffled_batches(epoch_parts, config.batch_size, rng))
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch
    )

    def loss_fn(scores: torch.Tensor, target: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        return masked_loss(scores, target, allowed, config.label_smoothing)

    best = (math.inf, -1.0)
    best_state, best_epoch, history = None, 0, []
    # One line per epoch off a terminal (logs), a bar rewritten in place on one.
    progress = Progress(config.epochs, f"{label}epoch", every=1, stream=stream)
    log(f"{label}training on {describe_device(device)}")
    for epoch in range(1, config.epochs + 1):
        net.train()
        if epoch > 1:
            epoch_parts = _epoch_parts(arrays, labels, partners, rng, weights, draws)
        total, seen = 0.0, 0
        for part, index in shuffled_batches(epoch_parts, config.batch_size, rng):
            part_arrays, part_labels = epoch_parts[part]
            batch = _trimmed({k: torch.from_numpy(v[index]) for k, v in part_arrays.items()})
            augment_batch(batch, config, gen, stats)
            allowed = batch.pop("allowed", torch.ones(len(index), len(EMOTIONS))).to(device)
            feed = {k: v.to(device) for k, v in batch.items()}
            target = torch.from_numpy(part_labels[index]).to(device)
            fused = net.fuse(**feed)
            if config.mixup:
                weight = float(rng.beta(config.mixup, config.mixup))
                other = torch.from_numpy(rng.permutation(len(index))).to(device)
                scores = net.head(weight * fused + (1 - weight) * fused[other])
                loss = weight * loss_fn(scores, target, allowed) + (1 - weight) * loss_fn(
                    scores, target[other], allowed[other]
                )
            else:
                loss = loss_fn(net.head(fused), target, allowed)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(index)
            seen += len(index)
        record = {"epoch": epoch, "train_loss": total / seen}
        if val_arrays is not None:
            probs = predict_arrays(net, val_arrays, device)
            if val_allowed is not None:
                probs = probs * val_allowed / (probs * val_allowed).sum(1, keepdims=True)
            val_loss = float(-np.log(probs[np.arange(len(probs)), val_labels] + 1e-9).mean())
            val_acc = float((probs.argmax(1) == val_labels).mean())
            record.update(val_loss=val_loss, val_accuracy=val_acc)
            if (val_loss, -val_acc) < best:
                best = (val_loss, -val_acc)
                best_state = copy.deepcopy(net.state_dict())
                best_epoch = epoch
            elif epoch - best_epoch >= config.patience:
                history.append(record)
                progress.update(epoch, _epoch_info(record))
                progress.line(f"{label}early stop at epoch {epoch}; best epoch {best_epoch}")
                break
        history.append(record)
        progress.update(epoch, _epoch_info(record))
    progress.close()
    if best_state is not None:
        net.load_state_dict(best_state)
    else:
        best_epoch = len(history)
    net.to("cpu").eval()
    return net, {
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "history": history,
        "device": describe_device(device),
    }


def _epoch_parts(
    arrays: dict[str, np.ndarray],
    labels: np.ndarray,
    partners: Partners | None,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
    draws: int | None = None,
) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    """This epoch's training samples as parts of (arrays, labels); with ``weights``, ``draws``
    clips (default: as many as there are) drawn with replacement by those probabilities
    (``sampling_weights``, ``epoch_size``)."""
    if weights is not None:
        drawn = rng.choice(len(labels), size=draws or len(labels), p=weights)
        arrays, labels = {k: v[drawn] for k, v in arrays.items()}, labels[drawn]
    return partners.epoch(arrays, labels, rng) if partners is not None else [(arrays, labels)]


def shuffled_batches(
    parts: list[tuple[dict[str, np.ndarray], np.ndarray]], size: int, rng: np.random.Generator
) -> list[tuple[int, np.ndarray]]:
    """(part, sample indices) batches: each part shuffled and cut into batches, then the batches
    of all parts shuffled together (a batch never mixes parts of different lengths)."""
    batches = []
    for part, (_, labels) in enumerate(parts):
        order = rng.permutation(len(labels))
        batches += [(part, order[i : i + size]) for i in range(0, len(order), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _trimmed(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cut frames past the batch's longest real sequence (to a multiple of 4: the temporal audio
    encoder halves the frame count twice)."""
    for modality in ("audio", "visual"):
        mask = batch[f"{modality}_mask"]
        real = int(mask.sum(1).max().item()) if mask.numel() else 0
        length = min(max(4, -(-real // 4) * 4), mask.shape[1])
        batch[modality] = batch[modality][:, :length]
        batch[f"{modality}_mask"] = mask[:, :length]
    return batch


def _epoch_info(record: dict) -> str:
    info = f"loss {record['train_loss']:.4f}"
    if "val_accuracy" in record:
        info += f", validation loss {record['val_loss']:.4f}, accuracy {record['val_accuracy']:.3f}"
    return info


def describe_device(device: torch.device) -> str:
    """'cpu', or 'cuda (GPU name)': what --device auto resolved to, for logs and the card."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type
