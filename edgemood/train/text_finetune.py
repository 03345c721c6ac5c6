"""Fine-tune a Hugging Face sentence encoder on labelled sentences for edgemood's text slot.

A frozen sentence encoder (all-MiniLM-L6-v2) carries little emotion, so its body is trained with
a linear head over EMOTIONS on the masked mean of its last hidden state: the same pooling as
``edgemood.text.TextEncoder`` uses on the device, so the saved body exported to ONNX gives the
vectors the head was trained on. Recipe: AdamW 5e-5, batch 32, square-root inverse-frequency
class weights, at most 64 word pieces with padding per batch only, 1 epoch.

    edgemood text-finetune SOURCE OUT --corpus goemotions=DIR [--corpus xed=DIR]

writes OUT/encoder (a Hugging Face model directory: body + fast tokenizer), OUT/head.npz (W [8,
dim], b [8]) and OUT/finetune.json (recipe, data counts, time, test scores).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from edgemood.labels import EMOTIONS
from edgemood.text import MAX_TOKENS


def class_weights(labels: np.ndarray, n_classes: int = len(EMOTIONS)) -> np.ndarray:
    """Square-root inverse-frequency weights, mean 1 over the classes present; 0 for absent ones
    (calm never appears in text, and a weight of 0 keeps it out of the loss normalisation)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.zeros(n_classes)
    present = counts > 0
    weights[present] = 1.0 / np.sqrt(counts[present])
    weights[present] /= weights[present].mean()
    return weights.astype(np.float32)


def mean_pool(hidden, mask):
    """Masked mean over real tokens (torch), as ``edgemood.text.TextEncoder`` pools."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def finetune(
    source: str | Path,
    texts: Sequence[str],
    labels: Sequence[int],
    out_dir: str | Path,
    epochs: int = 1,
    lr: float = 5e-5,
    batch_size: int = 32,
    max_tokens: int = MAX_TOKENS,
    seed: int = 0,
    threads: int = 2,
    freeze_layers: int = 0,
    max_seconds: float = 0.0,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict:
    """Fine-tune ``source``'s body with a linear head over EMOTIONS.

    Args:
        source: a local Hugging Face model directory (with a fast tokenizer) or a hub name.
        texts, labels: training sentences and their EMOTIONS indices.
        out_dir: receives ``encoder/`` (body + tokenizer) and ``head.npz`` (W, b).
        freeze_layers: keep the embeddings and this many bottom layers fixed (their forward
            pass then builds no autograd graph: about half the cost of a step with 3 of 6).
        max_seconds: stop after this much training time (0: none), part-way through the epoch;
            the summary says how many rows were seen. Rows come in a seeded random order, so
            a stopped epoch trained on a random subset.
    Returns:
        A summary: rows, rows seen, steps, seconds, final running loss.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    labels = np.asarray(labels, dtype=np.int64)
    if len(texts) != len(labels) or not len(texts):
        raise ValueError("texts and labels must be non-empty and of equal length")
    tokenizer = AutoTokenizer.from_pretrained(source)
    body = AutoModel.from_pretrained(source)
    dim = body.config.hidden_size
    if freeze_layers:
        frozen = [body.embeddings, *_layers(body)[:freeze_layers]]
        for module in frozen:
            module.requires_grad_(False)
    head = torch.nn.Linear(dim, len(EMOTIONS))
    params = [p for p in body.parameters() if p.requires_grad] + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights(labels)))
    rng = np.random.default_rng(seed)
    body.train()
    start, step, running, seen = time.monotonic(), 0, None, 0
    steps = epochs * ((len(texts) + batch_size - 1) // batch_size)
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for first in range(0, len(order), batch_size):
            if max_seconds and time.monotonic() - start > max_seconds:
                log(f"time budget of {max_seconds:.0f} s reached after {step} steps, {seen} rows")
                break
            idx = order[first : first + batch_size]
            batch = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=max_tokens,
                return_tensors="pt",
            )
            hidden = body(**batch).last_hidden_state
            logits = head(mean_pool(hidden, batch["attention_mask"]))
            loss = loss_fn(logits, torch.from_numpy(labels[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            seen += len(idx)
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            if step % 50 == 0 or step == steps:
                log(f"step {step}/{steps} loss {running:.4f} {time.monotonic() - start:.0f} s")
    seconds = time.monotonic() - start
    out = Path(out_dir)
    body.eval()
    body.save_pretrained(out / "encoder")
    tokenizer.save_pretrained(out / "encoder")
    np.savez(
        out / "head.npz",
        W=head.weight.detach().numpy().astype(np.float32),
        b=head.bias.detach().numpy().astype(np.float32),
        classes=np.array(EMOTIONS),
    )
    return {
        "rows": len(texts),
        "rows_seen": seen,
        "steps": step,
        "seconds": seconds,
        "loss": running,
        "dim": dim,
        "freeze_layers": freeze_layers,
    }


def _layers(body) -> list:
    """The transformer layers of a BERT-like (``encoder.layer``) or DistilBERT
    (``transformer.layer``) body, bottom first."""
    for path in ("encoder.layer", "transformer.layer"):
        module = body
        for name in path.split("."):
            module = getattr(module, name, None)
        if module is not None:
            return list(module)
    raise ValueError(f"{type(body).__name__}: no encoder.layer or transformer.layer to freeze")


def encode_torch(
    directory: str | Path, texts: Sequence[str], max_tokens: int = MAX_TOKENS, batch: int = 64
) -> np.ndarray:
    """Sentence vectors of a saved body (FP32, torch), pooled as on the device."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    body = AutoModel.from_pretrained(directory).eval()
    out = []
    with torch.inference_mode():
        for first in range(0, len(texts), batch):
            enc = tokenizer(
                list(texts[first : first + batch]),
                padding=True,
                truncation=True,
                max_length=max_tokens,
                return_tensors="pt",
            )
            out.append(mean_pool(body(**enc).last_hidden_state, enc["attention_mask"]).numpy())
    return np.concatenate(out).astype(np.float32)


def load_head(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(W [8, dim], b [8]) of a saved head."""
    with np.load(path) as data:
        return data["W"], data["b"]


def predict(vectors: np.ndarray, head: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """EMOTIONS indices the head gives sentence vectors."""
    weight, bias = head
    return (vectors @ weight.T + bias).argmax(1)


def read_corpus(spec: str) -> tuple[str, list]:
    """``goemotions=DIR`` or ``xed=DIR`` to the corpus's name and sentences; ValueError else."""
    from edgemood.train.text_corpora import read_goemotions, read_xed

    name, _, path = spec.partition("=")
    readers = {"goemotions": read_goemotions, "xed": read_xed}
    if name not in readers or not path:
        raise ValueError(f"{spec}: expected goemotions=DIR or xed=DIR")
    return name, readers[name](path)


def text_scores(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy, macro-F1 over the classes present in ``labels`` (7: text has no calm) and
    per-class precision/recall/F1/support."""
    from edgemood.metrics import confusion

    matrix = confusion(np.asarray(labels), np.asarray(predicted)).astype(np.float64)
    true_pos, support, called = np.diag(matrix), matrix.sum(1), matrix.sum(0)
    per_class = {}
    for k in np.flatnonzero(support):
        precision = true_pos[k] / called[k] if called[k] else 0.0
        recall = true_pos[k] / support[k]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[EMOTIONS[k]] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(support[k]),
        }
    return {
        "accuracy": float(true_pos.sum() / matrix.sum()),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "per_class": per_class,
    }


def finetune_and_score(
    source: str,
    out: Path,
    corpora: Sequence[tuple[str, list]],
    also_test: Sequence[tuple[str, list]] = (),
    epochs: int = 1,
    threads: int = 2,
    freeze_layers: int = 0,
    max_seconds: float = 0.0,
    test: bool = True,
    limit: int = 0,
) -> dict:
    """``edgemood text-finetune``: fine-tune on the train split of ``corpora`` (``read_corpus``;
    ``limit``: only this many train rows), write OUT/finetune.json and, with ``test``, score the
    FP32 encoder on the test splits of ``corpora`` and ``also_test``; returns the summary."""
    train = [s for _, rows in corpora for s in rows if s.split == "train"]
    if limit:
        train = [train[i] for i in np.random.default_rng(0).permutation(len(train))[:limit]]
    out.mkdir(parents=True, exist_ok=True)
    summary = finetune(
        source,
        [s.text for s in train],
        [s.label for s in train],
        out,
        epochs=epochs,
        threads=threads,
        freeze_layers=freeze_layers,
        max_seconds=max_seconds,
    )
    summary["corpora"] = [name for name, _ in corpora]
    summary["source"] = str(source)
    summary["recipe"] = "AdamW 5e-5, batch 32, sqrt inverse-frequency class weights, 64 tokens"
    head = load_head(out / "head.npz")
    summary["test"] = {}
    for name, rows in [*corpora, *also_test] if test else []:
        tested = [s for s in rows if s.split == "test"]
        vectors = encode_torch(out / "encoder", [s.text for s in tested])
        labels = np.array([s.label for s in tested])
        summary["test"][name] = text_scores(labels, predict(vectors, head))
    (out / "finetune.json").write_text(json.dumps(summary, indent=1) + "\n", "utf-8")
    return summary


if __name__ == "__main__":  # the tool moved: say where, rather than exit having done nothing
    raise SystemExit(
        "python -m edgemood.train.text_finetune is now `edgemood text-finetune` (see --help)"
    )
