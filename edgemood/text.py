"""The text slot: a transcript becomes a 768-d sentence vector from DistilBERT, run as ONNX.

No torch or transformers on the device: ``tokenizers`` reads the fast tokenizer's
``tokenizer.json`` and onnxruntime runs the encoder exported by Optimum on the workstation
(``edgemood.train.text_export``). The vector is the masked mean of the last hidden state.

Encoder directory layout::

    text_encoder.json   manifest: model file, tokenizer file, max_tokens, dim, source model
    model.onnx          DistilBERT feature-extraction export (inputs input_ids, attention_mask)
    tokenizer.json      the fast tokenizer

Without an encoder the text slot is marked missing; it is never filled with made-up numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from edgemood.backends import load_backend
from edgemood.errors import ModelError
from edgemood.ravdess import parse_name

TEXT_DIM = 768
# Spoken clips of a few seconds hold 10-30 words, so 64 word pieces leave room. One sentence per
# call is not padded: padding a RAVDESS statement (~8 pieces) to 64 made the INT8 encoder 3x
# slower for the same vector (benchmarks/RESULTS.md).
MAX_TOKENS = 64
MANIFEST = "text_encoder.json"
ENV_VAR = "EDGEMOOD_TEXT_ENCODER"


def resolve_transcript(clip: str | Path, transcript: str | None = None) -> str | None:
    """The words spoken in a clip.

    Args:
        clip: the media file.
        transcript: given explicitly (wins).
    Returns:
        ``transcript``; else the sidecar ``CLIP.txt`` (same stem, beside the clip); else the
        statement a RAVDESS file name encodes; else None.
    """
    if transcript and transcript.strip():
        return transcript.strip()
    sidecar = Path(clip).with_suffix(".txt")
    if sidecar.is_file():
        text = sidecar.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text
    name = parse_name(clip)
    return name.transcript if name is not None else None


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


class TextEncoder:
    """DistilBERT ONNX + tokenizer.json, loaded once, called per transcript."""

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
