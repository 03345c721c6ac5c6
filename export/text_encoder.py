"""Export a DistilBERT or a BERT such as all-MiniLM-L6-v2 (hub name on the workstation, or a local
directory) to an edgemood text encoder directory with Hugging Face Optimum (optimum-onnx); see
``edgemood.text`` for the layout. ``edgemood export text`` runs it, and so does ``edgemood train
--text-encoder HUB_NAME`` (once, into its cache).

``save_offline_distilbert`` / ``save_offline_bert`` save stand-ins for hub models (random weights,
a tokenizer over given words) where no hub is reachable: tests and benchmarks export them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from edgemood.errors import ModelError
from edgemood.text import MANIFEST, MAX_TOKENS


def export_text_encoder(source: str, out_dir: str | Path, opset: int = 17) -> Path:
    """Export the encoder and its tokenizer.

    Args:
        source: a hub name such as ``distilbert-base-uncased`` (needs the hub, as on the owner's
            workstation) or a local directory holding the model and its fast tokenizer.
        out_dir: the encoder directory to write.
        opset: ONNX opset.
    Returns:
        ``out_dir``.
    """
    from optimum.exporters.onnx import main_export
    from transformers import AutoTokenizer

    config = _source_config(source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    main_export(source, output=out, task="feature-extraction", opset=opset, do_validation=False)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if not tokenizer.is_fast:
        raise ValueError(f"{source}: needs a fast tokenizer (tokenizer.json)")
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    manifest = {
        "model": "model.onnx",
        "tokenizer": "tokenizer.json",
        "max_tokens": MAX_TOKENS,
        "dim": int(getattr(config, "dim", getattr(config, "hidden_size", 768))),
        "pooling": "masked mean of last_hidden_state",
        "source": source,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return out


def _source_config(source: str):
    """The model's config, read before anything is exported: a hub name that is neither a local
    directory nor downloadable (no network) fails here in one line, not in a long traceback."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        where = (
            "is not a model directory"
            if Path(source).is_dir()
            else ("not found locally and could not be downloaded from the Hugging Face hub")
        )
        raise ModelError(
            f"{source}: {where} ({why}); pass a local directory holding the model and its fast "
            "tokenizer (saved with save_pretrained), or an exported edgemood text encoder"
        ) from exc


def _offline_wordpiece(words: Iterable[str]):
    """A lower-case WordPiece tokenizer over ``words`` with BERT's special tokens."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {token: i for i, token in enumerate(specials + sorted(set(words)))}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return tokenizer


def save_offline_distilbert(
    directory: str | Path, words: Iterable[str], config=None, seed: int = 0
):
    """A DistilBERT with random weights and a WordPiece tokenizer over ``words`` (lower-case),
    saved as on the hub. It stands in where no hub is reachable (tests, benchmarks): sizes and
    speed are those of ``config``'s architecture (default: distilbert-base-uncased's); its
    vectors mean nothing.

    Returns:
        The model, in eval mode.
    """
    import torch
    from transformers import DistilBertConfig, DistilBertModel, DistilBertTokenizerFast

    DistilBertTokenizerFast(tokenizer_object=_offline_wordpiece(words)).save_pretrained(directory)
    torch.manual_seed(seed)
    model = DistilBertModel(config or DistilBertConfig()).eval()
    model.save_pretrained(directory)
    return model


def save_offline_bert(directory: str | Path, words: Iterable[str], config, seed: int = 0):
    """A BERT (the architecture of all-MiniLM-L6-v2: ``BertModel``, with token type ids) with
    random weights from ``config`` and a WordPiece tokenizer over ``words``, saved as on the hub.

    Returns:
        The model, in eval mode.
    """
    import torch
    from transformers import BertModel, BertTokenizerFast

    BertTokenizerFast(tokenizer_object=_offline_wordpiece(words)).save_pretrained(directory)
    torch.manual_seed(seed)
    model = BertModel(config).eval()
    model.save_pretrained(directory)
    return model
