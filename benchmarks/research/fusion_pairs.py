"""Fusion from unpaired data, measured on unseen speakers and unseen faces (issues 15 and 16).

    python -m benchmarks.research.fusion_pairs --faces ~/.cache/edgemood/pools/fer2013.npz
        [--face-split train] [--held-out-faces ~/.cache/edgemood/pools/jaffe.npz,...ck48.npz]
        [--texts ~/.cache/edgemood/pools/goemotions.npz] [--text-encoder edgemood/assets/text]
        [--held-out-texts ~/.cache/edgemood/pools/goemotions.npz]
        [--ravdess ../shared/ravdess/audio] [--variants own-words-n80,frozen,mask,head]
        [--folds 1,2,3,4,5]
        [--epochs 40] [--out benchmarks/research/results/fusion_pairs] [--report-only]
    python -m benchmarks.research.fusion_pairs --faces-alone MODEL_DIR --held-out-faces POOL,...

For each RAVDESS speaker fold (``edgemood.train.data.SPEAKER_FOLDS``: 4 test actors) a voice
model is trained on the other 16 actors with the shipped recipe (40 epochs, speed perturbation
0.9/1.1, no validation; cached under ``--voice-models``), then face/text branches are added to
it (``edgemood.train.branches``) in each variant:

- ``own-words-n80`` (shipped): voice path frozen; voices get faces (and sentences) of their own
  label anew every epoch, 80 % of the sentences neutral and half of those the voice's own
  statement, plus single-modality samples (``edgemood.train.pairing``); ``own-words``,
  ``own-words-all``, ``neutral80``, ``unbalanced``: other mixtures (see ``VARIANTS``);
- ``frozen``: the same without own statements, half of the sentences neutral;
- ``mask``: voice path frozen, presence mask only: faces and sentences only alone;
- ``head``: as ``frozen``, but the whole fusion head trains too (voice answers may move).

Each model is then scored on the fold's test actors and on faces and sentences it never saw:
``audio`` (voices alone), ``face`` (held-out face images alone: JAFFE and CK+48, no FER2013),
``audio+face`` (each test voice with a random held-out face of its label, calm with a neutral
face; 3 draws), ``product`` (the same pairs scored by multiplying the model's audio-alone and
face-alone probabilities: late fusion of two experts, the reference to beat), ``text`` (the
corpus' test sentences alone), ``audio+statement`` (each voice with the vector of its own
RAVDESS statement, a neutral sentence: must not be worse than ``audio``) and ``audio+text``
(each voice with a random test sentence of its label).

Each finished (fold, variant) is saved under ``OUT/runs/`` and reused; ``--report-only`` rebuilds
``fusion_pairs.json``/``.md`` from the saved runs. Needs the ``[train]`` extra and ../shared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from edgemood.labels import MODALITIES
from edgemood.metrics import classification_report
from edgemood.train.pools import Pool, load_pool

DRAWS = 3
REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"


def _pools(paths: str) -> Pool | None:
    """One pool from comma-separated pool files (concatenated), or None."""
    pools = [load_pool(Path(p).expanduser()) for p in paths.split(",") if p.strip()]
    if not pools:
        return None
    return Pool(
        np.concatenate([p.features for p in pools]),
        np.concatenate([p.labels for p in pools]),
        np.concatenate([p.groups for p in pools]),
        np.concatenate([p.split for p in pools]),
        pools[0].meta,
    )


def _score(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy and macro-F1 over the classes the labels hold (face sets have no calm, CK+48 no
    neutral: a class that cannot be right would only pull every face figure down)."""
    report = classification_report(probabilities, labels)
    present = [row["f1"] for row in report["per_class"].values() if row["support"]]
    return {"accuracy": report["accuracy"], "macro_f1": float(np.mean(present)), "n": report["n"]}


VARIANTS = {
    "frozen": ({}, {"neutral_text": 0.5, "own_words": 0.0}),
    "mask": ({}, {"pairs": False, "neutral_text": 0.5, "own_words": 0.0}),
    "head": ({"train_head": True}, {"neutral_text": 0.5, "own_words": 0.0}),
    # More neutral sentences with voices of every emotion, and fewer sentences alone: what
    # keeps a neutral statement from dragging a voice to "neutral" (measured).
    "unbalanced": ({}, {"balanced_neutral_text": False, "neutral_text": 0.5, "own_words": 0.0}),
    "neutral80": ({}, {"neutral_text": 0.8, "own_words": 0.0}),
    # Half of the neutral sentences beside a training voice are its own RAVDESS statement
    # (shipped with the text-1 encoder).
    "own-words": ({}, {"neutral_text": 0.5, "own_words": 0.5}),
    # Every neutral sentence beside a training voice is its own statement; or 80 % of the
    # sentences neutral, half of those its own (shipped since the text-2 encoder).
    "own-words-all": ({}, {"neutral_text": 0.5, "own_words": 1.0}),
    "own-words-n80": ({}, {"neutral_text": 0.8, "own_words": 0.5}),
}


def voice_model(args, clips, copies, fold: int):
    """The fold's voice model (the shipped audio recipe on the other 16 actors), cached."""
    import torch

    from edgemood.train.data import SPEAKER_FOLDS
    from edgemood.train.fit import TrainConfig, train_model
    from edgemood.train.fusion import FusionConfig, FusionNet

    path = Path(args.voice_models) / f"fold{fold}.pt"
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = FusionNet(FusionConfig.from_dict(state["config"]))
        net.load_state_dict(state["weights"])
        return net.eval()
    test_actors = set(SPEAKER_FOLDS[fold - 1])
    train = [c for c in clips if c.actor not in test_actors]
    train += [copy for c in train for copy in copies.get(c.path, [])]
    net, _ = train_model(
        train,
        None,
        FusionConfig(),
        TrainConfig(epochs=args.epochs),
        log=lambda line: None,
        label=f"fold {fold} voice ",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": net.config.to_dict(), "weights": net.state_dict()}, path)
    return net


def run_fold(args, clips, copies, fold: int, variant: str, pools: dict) -> dict:
    """Add branches to the fold's voice model in one variant and score every condition."""
    import torch

    from edgemood.train.branches import BranchConfig, add_branches
    from edgemood.train.commands import give_own_words
    from edgemood.train.data import SPEAKER_FOLDS
    from edgemood.train.fit import batch_arrays, predict_arrays
    from edgemood.train.pairing import PairingConfig, Partners, empty_like

    torch.set_num_threads(1)
    test_actors = set(SPEAKER_FOLDS[fold - 1])
    voices = [c for c in clips if c.actor not in test_actors]
    voices += [copy for c in voices for copy in copies.get(c.path, [])]
    test = [c for c in clips if c.actor in test_actors]
    if pools["encoder"] is not None:  # the voices' own words, as the text encoder reads them
        give_own_words([*voices, *test], pools["encoder"])
    branch, pairing = VARIANTS[variant]
    partners = Partners(pools["faces"], pools["texts"], PairingConfig(**pairing))
    clock = time.perf_counter()
    net, _ = add_branches(
        voice_model(args, clips, copies, fold),
        voices,
        partners,
        BranchConfig(seed=args.seed, **branch),
        label=f"fold {fold} {variant} ",
    )
    seconds = time.perf_counter() - clock
    device = torch.device("cpu")
    labels = np.array([c.label for c in test])
    voices = batch_arrays(test, {m: m == "audio" for m in MODALITIES}, net.config)
    rng = np.random.default_rng(1000 + fold)
    voice_alone = predict_arrays(net, voices, device)
    scores = {"audio": _score(voice_alone, labels)}
    held = pools["held_faces"]
    if held is not None:
        alone = empty_like(voices, len(held))
        alone["visual"][:, 0] = held.features
        alone["visual_mask"][:, 0] = 1.0
        alone["present"][:, 1] = 1.0
        scores["face"] = _score(predict_arrays(net, alone, device), held.labels)
        fused, product = [], []
        draw = Partners(held, None, PairingConfig(face_rate=1.0, face_alone=0.0))
        for _ in range(DRAWS):
            paired = draw.epoch(voices, labels, rng)[0][0]
            fused.append(predict_arrays(net, paired, device))
            face_only = {k: v.copy() for k, v in paired.items()}
            face_only["present"][:, 0] = 0.0
            p = voice_alone * predict_arrays(net, face_only, device)
            product.append(p / p.sum(1, keepdims=True))
        scores["audio+face"] = _score(np.concatenate(fused), np.tile(labels, DRAWS))
        scores["product"] = _score(np.concatenate(product), np.tile(labels, DRAWS))
    texts = pools["held_texts"]
    if texts is not None:
        alone = empty_like(voices, len(texts))
        alone["text"][:] = texts.features
        alone["present"][:, 2] = 1.0
        scores["text"] = _score(predict_arrays(net, alone, device), texts.labels)
        for name, share in (("audio+text", 0.0), ("audio+neutral", 1.0)):
            rule = PairingConfig(
                text_rate=1.0, neutral_text=share, text_alone=0, balanced_neutral_text=False
            )
            draw = Partners(None, texts, rule)
            fused = [
                predict_arrays(net, draw.epoch(voices, labels, rng)[0][0], device)
                for _ in range(DRAWS)
            ]
            scores[name] = _score(np.concatenate(fused), np.tile(labels, DRAWS))
    if pools["encoder"] is not None:
        said = {k: v.copy() for k, v in voices.items()}
        said["text"][:] = np.stack([c.inputs.text for c in test])
        said["present"][:, 2] = 1.0
        scores["audio+statement"] = _score(predict_arrays(net, said, device), labels)
    return {"fold": fold, "variant": variant, "train_seconds": seconds, "scores": scores}


def faces_alone(model_dir: str, pools: str) -> None:
    """A model directory's face-only answers on each held-out face pool, through the device
    runtime (``FusionModel``: the card's default file; its visual features picked by name)."""
    from edgemood.model import FusionModel, ModelInputs

    model = FusionModel(model_dir)
    for path in (p for p in pools.split(",") if p.strip()):
        pool = load_pool(Path(path).expanduser())
        names = pool.meta["feature_names"]
        columns = [names.index(n) for n in model.card.visual_features]
        inputs = [ModelInputs(visual=row[None, columns]) for row in pool.features]
        score = _score(model.predict(inputs), pool.labels)
        print(
            f"{Path(path).stem}: {len(pool)} faces, accuracy {score['accuracy']:.3f}, "
            f"macro-F1 {score['macro_f1']:.3f} ({model.file.name})"
        )


def report(out: Path) -> dict:
    """Mean ± std over folds per variant and condition, from the saved runs."""
    runs = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    table: dict = {}
    for run in runs:
        for condition, score in run["scores"].items():
            cell = table.setdefault(run["variant"], {}).setdefault(condition, [])
            cell.append((run["fold"], score["accuracy"], score["macro_f1"]))
    summary = {
        variant: {
            condition: {
                "folds": [f for f, _, _ in cells],
                "accuracy": {
                    "mean": float(np.mean([a for _, a, _ in cells])),
                    "std": float(np.std([a for _, a, _ in cells])),
                },
                "macro_f1": {
                    "mean": float(np.mean([f for _, _, f in cells])),
                    "std": float(np.std([f for _, _, f in cells])),
                },
            }
            for condition, cells in conditions.items()
        }
        for variant, conditions in table.items()
    }
    (out / "fusion_pairs.json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = ["| variant | inputs | folds | accuracy | macro-F1 |", "|---|---|---|---|---|"]
    for variant, conditions in summary.items():
        for condition, cell in conditions.items():
            acc, f1 = cell["accuracy"], cell["macro_f1"]
            lines.append(
                f"| {variant} | {condition} | {len(cell['folds'])} | "
                f"{acc['mean']:.3f} ± {acc['std']:.3f} | {f1['mean']:.3f} ± {f1['std']:.3f} |"
            )
    (out / "fusion_pairs.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ravdess", default=str(REPO.parent / "shared" / "ravdess" / "audio"))
    parser.add_argument("--faces", default="", help="training face pool(s), comma-separated")
    parser.add_argument("--face-split", default="test", help="split of --faces to train on")
    parser.add_argument("--held-out-faces", default="", help="face pools to score on")
    parser.add_argument("--texts", default="", help="text pool (train split trains, test scores)")
    parser.add_argument(
        "--held-out-texts",
        default="",
        help="text pool(s) whose test split scores (default: those of --texts); to compare "
        "branches trained on different pools on the same sentences",
    )
    parser.add_argument("--text-encoder", default="", help="encoder of the text pool")
    parser.add_argument("--variants", default="own-words-n80,frozen,mask,head")
    parser.add_argument(
        "--voice-models",
        default=str(Path.home() / ".cache" / "edgemood" / "fold_models"),
        help="where each fold's voice model (foldN.pt) is cached",
    )
    parser.add_argument("--folds", default="1,2,3,4,5")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "fusion_pairs"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--faces-alone", metavar="MODEL_DIR", help="only score MODEL_DIR on --held-out-faces"
    )
    args = parser.parse_args(argv)
    if args.faces_alone:
        faces_alone(args.faces_alone, args.held_out_faces)
        return 0
    out = Path(args.out)
    if not args.report_only:
        from edgemood.text import TextEncoder
        from edgemood.train.commands import default_cache, prepare
        from edgemood.train.data import speed_perturbed

        faces = _pools(args.faces)
        if faces is not None and args.face_split:
            faces = faces.subset(faces.split == args.face_split)
        texts = _pools(args.texts)
        held_texts = _pools(args.held_out_texts) if args.held_out_texts else texts
        pools = {
            "faces": faces,
            "texts": texts.subset(texts.split == "train") if texts is not None else None,
            "held_faces": _pools(args.held_out_faces),
            "held_texts": held_texts.subset(held_texts.split == "test")
            if held_texts is not None
            else None,
            "encoder": TextEncoder(Path(args.text_encoder)) if args.text_encoder else None,
        }
        cache = default_cache()
        clips = prepare(Path(args.ravdess), cache, None, 1)
        copies = speed_perturbed(clips, (0.9, 1.1), cache, progress=False)
        (out / "runs").mkdir(parents=True, exist_ok=True)
        for variant in args.variants.split(","):
            for fold in (int(f) for f in args.folds.split(",")):
                path = out / "runs" / f"{variant}_fold{fold}.json"
                if path.exists():
                    continue
                result = run_fold(args, clips, copies, fold, variant, pools)
                result["command"] = " ".join(sys.argv)
                path.write_text(json.dumps(result, indent=1) + "\n")
                print(f"{variant} fold {fold}: {result['scores']}", file=sys.stderr, flush=True)
    report(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
