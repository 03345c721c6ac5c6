"""The text slot: a transcript becomes a sentence vector from a BERT-family encoder run as ONNX.

No torch or transformers on the device: ``tokenizers`` reads the fast tokenizer's
``tokenizer.json`` and onnxruntime runs the encoder exported by Optimum on the workstation
(``export/text_encoder.py`` of a checkout). The vector is the masked mean of the last hidden
state; its width is the encoder's (``dim`` in the manifest: 768 for DistilBERT, 384 for MiniLM),
and a fusion model's text slot has the width of the encoder its text branch was trained with.

Encoder directory layout::

    text_encoder.json   manifest: model file, tokenizer file, max_tokens, dim, name (the
                        encoder's identity, recorded in model cards), source model
    model.onnx          feature-extraction export (inputs input_ids, attention_mask)
    tokenizer.json      the fast tokenizer

Which encoder runs: ``--text-encoder``, else $EDGEMOOD_TEXT_ENCODER, else the bundled one
(``edgemood/assets/text``, when it is installed) for a model with a trained text branch. It is
loaded on the first clip that has words (``LazyTextEncoder``): an audio-only run never pays for
it. Without an encoder the text slot is marked missing; it is never filled with made-up numbers.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from edgemood.backends import load_backend
from edgemood.bundled import bundled
from edgemood.card import ModelCard
from edgemood.errors import ModelError

# Spoken clips of a few seconds hold 10-30 words, so 64 word pieces leave room. One sentence per
# call is not padded: padding a RAVDESS statement (~8 pieces) to 64 made the INT8 encoder 3x
# slower for the same vector (benchmarks/research/README.md, "Text encoder").
MAX_TOKENS = 64
MANIFEST = "text_encoder.json"
ENV_VAR = "EDGEMOOD_TEXT_ENCODER"
DEFAULT_TEXT_ENCODER = bundled("text_encoder")


def resolve_transcript(clip: str | Path, transcript: str | None = None) -> str | None:
    """The words spoken in a clip (``edgemood.transcript.find_words`` without the notes)."""
    from edgemood.transcript import find_words

    return find_words(clip, transcript).text


def find_text_encoder(explicit: Path | None = None) -> Path | None:
    """The encoder directory: ``explicit``, else $EDGEMOOD_TEXT_ENCODER, else None (no hub)."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else None


def read_manifest(directory: Path) -> dict:
    """The encoder directory's manifest; ModelError (one line) when the directory is missing,
    is not an encoder, or its manifest is unreadable."""
    if not directory.exists():
        raise ModelError(f"{directory}: text encoder not found (no such directory)")
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ModelError(f"{directory}: not a text encoder (no {MANIFEST})") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"{directory / MANIFEST}: unreadable ({exc})") from exc


def bundled_text_encoder() -> Path | None:
    """The encoder shipped in ``edgemood/assets/text``, or None when this install has none."""
    return DEFAULT_TEXT_ENCODER if (DEFAULT_TEXT_ENCODER / MANIFEST).is_file() else None


def encoder_name(manifest: dict) -> str:
    """An encoder's identity: the manifest's ``name``, else the ``source`` it was exported from
    (a hub name, or the directory given on the workstation). Not the directory it lies in now:
    the same encoder is in one place on the workstation and another on the device."""
    return str(manifest.get("name") or manifest.get("source") or "unnamed")


def encoder_record(directory: Path) -> dict:
    """What a model card records of the encoder its text branch was trained with."""
    manifest = read_manifest(Path(directory))
    return {
        "name": encoder_name(manifest),
        "dim": int(manifest["dim"]),
        "source": manifest.get("source"),
    }


def encoder_mismatch(
    card: ModelCard, model_dir: Path, manifest: dict, directory: Path, origin: str = "given"
) -> str | None:
    """Why the encoder in ``directory`` cannot feed this model's text slot (one line), or None.
    ``origin`` says where the encoder came from in the message ("given", "bundled").

    The slot's width is the card's ``text_dim``; with a recorded encoder, the names must match
    too (two 384-d encoders give vectors the branch was not trained on)."""
    dim = int(manifest.get("dim", 0))
    record = card.text_encoder
    width = int(card.text_dim or 0)
    if record is None and dim == width:
        return None
    if record is not None and record.name == encoder_name(manifest) and dim == width:
        return None
    trained = (
        f"text encoder '{record.name}' ({record.dim if record.dim is not None else width}-d)"
        if record is not None
        else f"a {width}-d text encoder (not named in its card)"
    )
    return (
        f"{model_dir}: its text branch was trained with {trained}, but the {origin} text "
        f"encoder is '{encoder_name(manifest)}' ({dim}-d, {directory}); pass --text-encoder "
        "with the model's encoder"
    )


def check_encoder_files(directory: Path, manifest: dict) -> None:
    """ModelError (one line) when the files the manifest names are missing: found at start-up,
    not on the first clip with words, although the encoder is loaded only then."""
    for key, default in (("model", "model.onnx"), ("tokenizer", "tokenizer.json")):
        file = directory / manifest.get(key, default)
        if not file.is_file():
            raise ModelError(f"{file}: text encoder file missing ({MANIFEST} names it)")


def _rss_mb() -> float | None:
    """Resident memory of this process now (Linux), for the encoder's memory in bench."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


class LazyTextEncoder:
    """A TextEncoder built on its first call: the manifest is read (and the files checked) at
    once, the tokenizer and the ONNX session only when a clip has words."""

    def __init__(self, directory: str | Path, threads: int = 1) -> None:
        """
        Args:
            directory: an encoder directory (layout in the module docstring).
            threads: onnxruntime threads.
        """
        self.directory = Path(directory)
        self.threads = threads
        self.manifest = read_manifest(self.directory)
        check_encoder_files(self.directory, self.manifest)
        self.name = encoder_name(self.manifest)
        self.dim = int(self.manifest["dim"])
        self.model_file = self.directory / self.manifest.get("model", "model.onnx")
        self.encoder: TextEncoder | None = None
        self.load_s: float | None = None  # seconds to load it (tokenizer, session, first call)
        self.memory_mb: float | None = None  # resident memory that loading it added

    @property
    def loaded(self) -> bool:
        """Whether the encoder has been built (a clip had words)."""
        return self.encoder is not None

    def __call__(self, text: str) -> np.ndarray:
        """Encode one transcript (``TextEncoder.__call__``), loading the encoder first."""
        if self.encoder is not None:
            return self.encoder(text)
        before, clock = _rss_mb(), time.perf_counter()
        self.encoder = TextEncoder(self.directory, threads=self.threads)
        vector = self.encoder(text)
        self.load_s = time.perf_counter() - clock
        after = _rss_mb()
        if before is not None and after is not None:
            self.memory_mb = round(after - before, 1)
        return vector


class TextEncoder:
    """An encoder's ONNX + tokenizer.json, loaded once, called per transcript."""

    def __init__(self, directory: str | Path, threads: int = 1, model: str | None = None) -> None:
        """
        Args:
            directory: an encoder directory (layout in the module docstring).
            threads: onnxruntime threads.
            model: an ONNX file of the directory other than the one the manifest names (e.g.
                to compare its FP32 and INT8 models).
        """
        from tokenizers import Tokenizer

        self.directory = Path(directory)
        manifest = read_manifest(self.directory)
        self.max_tokens = int(manifest.get("max_tokens", MAX_TOKENS))
        self.dim = int(manifest["dim"])
        self.name = encoder_name(manifest)
        tokenizer_path = self.directory / manifest.get("tokenizer", "tokenizer.json")
        try:
            self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # tokenizers raises a bare Exception for missing/bad files
            raise ModelError(f"{tokenizer_path}: unreadable tokenizer") from exc
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.no_padding()  # a tokenizer.json may carry the hub's padding settings
        self.model_file = self.directory / (model or manifest.get("model", "model.onnx"))
        self._backend = load_backend(self.model_file, threads)

    def __call__(self, text: str) -> np.ndarray:
        """Encode one transcript.

        Args:
            text: the words.
        Returns:
            float32 [dim]: masked mean of the last hidden state over real tokens.
        """
        encoding = self._tokenizer.encode(text)
        feed = {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
        }
        if "token_type_ids" in self._backend.input_names:
            feed["token_type_ids"] = np.asarray([encoding.type_ids], dtype=np.int64)
        hidden = self._backend.run(feed)[self._backend.output_names[0]][0]
        mask = feed["attention_mask"][0].astype(np.float32)[:, None]
        return ((hidden * mask).sum(0) / max(mask.sum(), 1.0)).astype(np.float32)
