"""The workstation commands: training (train, evaluate, add-branches), the data they read
(face-pools, text-pools, text-finetune) and the model files the device runs (export, quantize).

They need the [train] extra (torch) for everything but the pools, and export/quantize need a
checkout of edgemood (``export/`` and ``quantize/`` are not in the wheel). Nothing here is
imported before a command runs: ``edgemood infer`` pays for none of it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgemood.cli.options import OptionGroup, ThreadsOption, fail, with_option_groups
from edgemood.errors import EdgemoodError


def need_train_extra() -> None:
    """One line and exit code 4 when torch (the [train] extra) is not installed. Looked up, not
    imported: the command imports it when it needs it, and only edgemood.train imports the
    training stack."""
    if importlib.util.find_spec("torch") is None:
        fail("training needs the [train] extra: pip install 'edgemood[train]'", 4)


def _need_checkout(train_extra: bool = True) -> None:
    """``export/`` and ``quantize/`` importable (a checkout) and, unless told otherwise, the
    [train] extra."""
    from edgemood.train.workstation import require_export

    if train_extra:
        need_train_extra()
    try:
        require_export()
    except EdgemoodError as exc:
        fail(str(exc), exc.exit_code)


def _default_cache() -> Path:
    from edgemood.train.commands import default_cache

    return default_cache()


# Training --------------------------------------------------------------------------------------

DataOption = Annotated[
    Path,
    typer.Option(
        exists=True, file_okay=False, help="RAVDESS folder (Actor_XX/...); searched recursively."
    ),
]
CorporaOption = Annotated[
    list[Path],
    typer.Option(
        "--data",
        exists=True,
        metavar="PATH",
        help="Labelled clips: a folder of RAVDESS or EmoDB names, a folder per emotion "
        "(angry/, happy/ ...), or a CSV manifest (path,emotion[,speaker][,corpus][,transcript]); "
        "repeat for several corpora (each teaches only the classes it has).",
    ),
]
CacheOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(help="Feature cache folder (default: ~/.cache/edgemood/features)."),
]
TrainTextOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--text-encoder",
        help="Text encoder: a hub name (distilbert-base-uncased) or local directory, exported "
        "with Optimum, or an exported edgemood text encoder; its name and width go into the "
        "model card. Without it the text branch is not trained.",
    ),
]
EpochsOption = Annotated[
    int, typer.Option(min=1, help="Maximum (or, with --no-validation, exact) epochs.")
]
SeedOption = Annotated[int, typer.Option(help="Seed for splits, initialisation and batches.")]
OutOption = Annotated[Path, typer.Option(help="Model directory to write.")]


@dataclasses.dataclass(frozen=True)
class Training(OptionGroup):
    """How the fusion model is built and trained: train and evaluate."""

    seed: SeedOption = 0
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto"
    hidden: Annotated[int, typer.Option(help="Width of the fusion hidden layer.")] = 128
    pooling: Annotated[str, typer.Option(help="mean, max or mean+max over time.")] = "mean"
    audio_encoder: Annotated[
        str,
        typer.Option(
            help="temporal: convolutions over time, then pooling; frame: the paper's per-frame "
            "layer, pooled (a bag of frames)."
        ),
    ] = "temporal"
    channels: Annotated[
        int, typer.Option(min=1, help="Width of the temporal audio encoder's inner convolutions.")
    ] = 48
    speed: Annotated[
        str,
        typer.Option(
            help="Speed-perturbation factors for extra training copies, comma-separated; '' for "
            "none."
        ),
    ] = "0.9,1.1"
    augment: Annotated[
        str,
        typer.Option(
            help="Also train on a corrupted copy of each clip per kind, comma-separated: noise "
            "(0-20 dB SNR), room (simulated reverberation), codec (Opus/MP3 at low rates), "
            "telephone (300-3400 Hz, 8 kHz mu-law), gain (level and clipping)."
        ),
    ] = ""
    utterance_norm: Annotated[
        str,
        typer.Option(
            help="none; mean: take each clip's own mean out of its voice features (inside the "
            "model, so the device does it too); both: raw and mean-free side by side."
        ),
    ] = "none"
    balance: Annotated[
        str,
        typer.Option(
            help="With several corpora, draw clips so each corpus (corpus) or each corpus and "
            "class (corpus+class) has the same share per epoch, the smaller ones repeated; "
            "none: every clip once."
        ),
    ] = "corpus"
    temperature: Annotated[
        float,
        typer.Option(
            min=0.05,
            help="Divide the answers' logits by this (fit it with evaluate: its report gives the "
            "temperature fitted on held-out speakers).",
        ),
    ] = 1.0
    class_mask: Annotated[
        bool,
        typer.Option(help="Each corpus teaches only the classes it has (the loss is restricted)."),
    ] = True
    threads: ThreadsOption = 1

    def configs(self, epochs: int):
        """The FusionConfig and TrainConfig these options ask for (a bad value: exit 2)."""
        from edgemood.train.fit import TrainConfig
        from edgemood.train.fusion import FusionConfig

        try:
            factors = tuple(float(f) for f in self.speed.split(",") if f.strip())
        except ValueError:
            fail(f"--speed: not a comma-separated list of numbers: {self.speed!r}", 2)
        try:  # the config checks --pooling and --audio-encoder
            fusion = FusionConfig(
                hidden=self.hidden,
                pooling=self.pooling,
                audio_encoder=self.audio_encoder,
                channels=self.channels,
                utterance_norm=self.utterance_norm,
                temperature=self.temperature,
            )
            config = TrainConfig(
                epochs=epochs,
                seed=self.seed,
                device=self.device,
                speed_perturbation=factors,
                augment=tuple(k.strip() for k in self.augment.split(",") if k.strip()),
                class_mask=self.class_mask,
                balance=self.balance,
            )
        except ValueError as exc:
            fail(str(exc), 2)
        return fusion, config


@with_option_groups
def train(
    data: CorporaOption,
    out: OutOption,
    cache: CacheOption = None,
    text_encoder: TrainTextOption = None,
    epochs: EpochsOption = 40,
    validation: Annotated[
        bool,
        typer.Option(help="Hold out one man and one woman per corpus for early stopping."),
    ] = True,
    evaluation: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Evaluation report.json (or a folder of them) to record in the card."),
    ] = None,
    init_from: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            exists=True,
            file_okay=False,
            help="Model directory to start from (fine-tuning: its architecture and weights).",
        ),
    ] = None,
    *,
    training: Training,
) -> None:
    """Train the fusion model on labelled clips, write a model directory (train extra)."""
    need_train_extra()
    from edgemood.train.commands import train as run

    fusion, config = training.configs(epochs)
    directory = run(
        data,
        out,
        cache or _default_cache(),
        text_encoder,
        fusion,
        config,
        validation,
        evaluation,
        training.threads,
        init_from,
    )
    typer.echo(f"model written to {directory}")


@with_option_groups
def evaluate(
    data: CorporaOption,
    protocol: Annotated[
        str,
        typer.Option(
            help="speaker: each corpus' speaker folds; corpus: leave one corpus out (train on "
            "the others, test on it); random: 80/20 clips."
        ),
    ] = "speaker",
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md and PNGs.")] = Path(
        "runs/evaluate"
    ),
    cache: CacheOption = None,
    text_encoder: TrainTextOption = None,
    epochs: EpochsOption = 40,
    test_corpus: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            help="Test only this corpus' splits (repeatable; the other corpora still train), "
            "e.g. ravdess or emodb."
        ),
    ] = None,
    corrupt: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="Also score the test clips after these corruptions, comma-separated (noise, "
            "room, codec, telephone, gain): what each costs. Training data stay as they are."
        ),
    ] = None,
    validation: Annotated[
        bool,
        typer.Option(
            help="Hold out validation actors (speaker) or clips (random) for early stopping; "
            "--no-validation trains on all the rest for exactly --epochs, as train "
            "--no-validation does for the shipped model."
        ),
    ] = True,
    *,
    training: Training,
) -> None:
    """Train and test under a protocol; report the paper's metrics (train extra).

    Accuracy, macro P/R/F1, per-class table with AUC, confusion matrix (PNG)
    and calibration, for each input subset the model was trained on; restricted
    UAR and the most frequent answer for a corpus with fewer than 8 classes; a
    temperature fitted on the held-out predictions.
    """
    need_train_extra()
    if protocol not in ("speaker", "corpus", "random"):
        fail(f"unknown protocol {protocol!r} (speaker, corpus or random)", 2)
    if protocol == "corpus" and len(data) < 2:
        fail("--protocol corpus needs at least two --data corpora", 2)
    from edgemood.train.augment import CORRUPTIONS

    kinds = [k.strip() for k in (corrupt or "").split(",") if k.strip()]
    unknown = [k for k in kinds if k not in CORRUPTIONS]
    if unknown:
        fail(f"unknown corruption {', '.join(unknown)} (one of {', '.join(CORRUPTIONS)})", 2)
    from edgemood.train.commands import prepare, text_encoder_record, with_text_width
    from edgemood.train.evaluate import evaluate as run
    from edgemood.train.evaluate import markdown_report, write_report

    fusion, config = training.configs(epochs)
    from edgemood.train.commands import training_copies
    from edgemood.train.data import corrupted_copies

    cache = cache or _default_cache()
    clips = prepare(data, cache, text_encoder, training.threads)
    fusion = with_text_width(fusion, text_encoder_record(text_encoder, cache))
    report = run(
        clips,
        protocol,
        fusion,
        config,
        augmented=training_copies(clips, config, cache),
        validation=validation,
        corrupted=corrupted_copies(clips, kinds, cache) if kinds else None,
        test_corpora=test_corpus,
    )
    write_report(report, out)
    typer.echo(markdown_report(report))
    typer.echo(f"\nreport written to {out}")


VISUAL_SETS = ("geometry", "expression", "both")


def add_branches(
    data: DataOption,
    out: OutOption,
    model: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Voice model to extend (default: the bundled model)."),
    ] = None,
    faces: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            "--faces",
            exists=True,
            dir_okay=False,
            help="Face-set pool (edgemood face-pools); repeat for several.",
        ),
    ] = None,
    face_split: Annotated[
        str, typer.Option(help="Which split of the face pools trains: train, test or all.")
    ] = "test",
    visual_features: Annotated[
        str, typer.Option(help="Per-frame face features: geometry (35), expression (7) or both.")
    ] = "both",
    texts: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(exists=True, dir_okay=False, help="Text pool (sentence vectors, labels)."),
    ] = None,
    text_encoder: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="The encoder the text pool was made with (its card record)."),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs over the voices.")] = 30,
    seed: SeedOption = 0,
    cache: CacheOption = None,
) -> None:
    """Add face and/or text branches to a trained voice model, keeping its voice-only answers.

    Voices of the model's own training clips (from --data) are paired with faces and sentences
    of the same emotion from other data sets; the voice path stays frozen.
    """
    need_train_extra()
    from edgemood.model import DEFAULT_MODEL_DIR
    from edgemood.train.branches import BranchConfig
    from edgemood.train.commands import add_branches_to, text_encoder_record
    from edgemood.train.pairing import PairingConfig
    from edgemood.train.pools import face_pool, text_pool
    from edgemood.visual_features import ALL_VISUAL_FEATURES, CNN_FEATURES, VISUAL_FEATURES

    if not faces and texts is None:
        fail("give --faces and/or --texts: nothing to add", 2)
    if visual_features not in VISUAL_SETS:
        fail(f"--visual-features must be one of {', '.join(VISUAL_SETS)}", 2)
    if face_split not in ("train", "test", "all"):
        fail("--face-split must be train, test or all", 2)
    if texts is not None and not text_encoder:
        fail("--texts needs --text-encoder: the model card must name the sentences' encoder", 2)
    names = {"geometry": VISUAL_FEATURES, "expression": CNN_FEATURES, "both": ALL_VISUAL_FEATURES}[
        visual_features
    ]
    cache = cache or _default_cache()
    record = text_encoder_record(text_encoder, cache) if texts is not None else None
    directory = add_branches_to(
        model or DEFAULT_MODEL_DIR,
        data,
        out,
        cache,
        face_pool(faces, face_split, names) if faces else None,
        text_pool(texts, record) if texts is not None else None,
        record,
        BranchConfig(epochs=epochs, seed=seed),
        PairingConfig(),
        text_encoder,
    )
    typer.echo(f"model written to {directory}")


# The data training reads -----------------------------------------------------------------------


def face_pools(
    sets: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            help="Sets to extract: fer2013, jaffe, ck48 (default: all three).", show_default=False
        ),
    ] = None,
    root: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="face_sets folder, a SET/labels.csv per set (default: $EDGEMOOD_FACE_SETS, else "
            "../shared/face_sets beside the checkout)."
        ),
    ] = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Pool folder (default: ~/.cache/edgemood/pools)."),
    ] = None,
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="First N images of each set."),
    ] = None,
) -> None:
    """Face-set pools: labelled still faces (FER2013, JAFFE, CK+48) through the device's own face
    path, one OUT/SET.npz per set, for add-branches --faces and quantize --faces."""
    from edgemood.train.face_sets import DEFAULT_ROOT, SETS, write_face_pools

    try:
        write_face_pools(sets or list(SETS), root or DEFAULT_ROOT, out, limit)
    except EdgemoodError as exc:
        fail(str(exc), exc.exit_code)


def text_pools(
    encoder: Annotated[Path, typer.Argument(help="An edgemood text encoder directory.")],
    out: Annotated[Path, typer.Option(help="Pool folder: goemotions.npz, xed.npz.")],
    goemotions: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="GoEmotions folder."),
    ] = None,
    xed: Annotated[Optional[Path], typer.Option(help="XED folder.")] = None,  # noqa: UP045
) -> None:
    """Text pools: every kept sentence of GoEmotions and/or XED through the device's text
    encoder, for add-branches --texts and quantize --texts."""
    from edgemood.train.text_pools import write_text_pools

    try:
        write_text_pools(encoder, out, goemotions, xed)
    except EdgemoodError as exc:
        fail(str(exc), exc.exit_code)


def text_finetune(
    source: Annotated[str, typer.Argument(help="Hugging Face model directory or hub name.")],
    out: Annotated[Path, typer.Argument(help="Folder: encoder/, head.npz, finetune.json.")],
    corpus: Annotated[
        list[str],
        typer.Option(help="goemotions=DIR or xed=DIR: trained on (repeatable)."),
    ],
    also_test: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(help="A corpus only scored on its test split (not trained on; repeatable)."),
    ] = None,
    epochs: Annotated[int, typer.Option()] = 1,
    threads: Annotated[int, typer.Option(help="torch threads.")] = 2,
    freeze_layers: Annotated[int, typer.Option(help="Lower layers kept frozen.")] = 0,
    max_seconds: Annotated[float, typer.Option(help="Stop after this long (0: no limit).")] = 0.0,
    no_test: Annotated[bool, typer.Option("--no-test", help="Skip the FP32 test scores.")] = False,
    limit: Annotated[int, typer.Option(help="Use only this many train rows (0: all).")] = 0,
) -> None:
    """Fine-tune a Hugging Face sentence encoder on labelled sentences for the text slot (train
    extra); then edgemood export text OUT/encoder DIR and edgemood quantize text DIR."""
    import json

    need_train_extra()
    from edgemood.train.text_finetune import finetune_and_score, read_corpus

    def read(specs: list[str], option: str) -> list:
        try:
            return [read_corpus(spec) for spec in specs]
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None

    summary = finetune_and_score(
        source,
        out,
        read(corpus, "--corpus"),
        read(also_test or [], "--also-test"),
        epochs=epochs,
        threads=threads,
        freeze_layers=freeze_layers,
        max_seconds=max_seconds,
        test=not no_test,
        limit=limit,
    )
    typer.echo(json.dumps(summary["test"]))


# Model files for the device (export/ and quantize/ of a checkout) ------------------------------

export_app = typer.Typer(
    help="FP32 ONNX/TFLite of a fusion model, ONNX of a text encoder (a checkout; train extra).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
quantize_app = typer.Typer(
    help="INT8 fusion model (ONNX + TFLite) and INT8 text encoder (a checkout; train extra).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
ModelDirArgument = Annotated[Path, typer.Argument(help="Model directory (edgemood train --out).")]
ExportVerboseOption = Annotated[
    bool, typer.Option(help="Show the warnings and progress of torch, Optimum and LiteRT.")
]
QuantizeVerboseOption = Annotated[
    bool, typer.Option(help="Show the warnings and progress of torch, torchao and LiteRT.")
]


@export_app.command("fusion")
def export_fusion(
    model_dir: ModelDirArgument,
    tflite: Annotated[bool, typer.Option(help="Also write FP32 TFLite.")] = True,
    verbose: ExportVerboseOption = False,
) -> None:
    """Write fusion.onnx and fusion.tflite into MODEL_DIR and list them in its card."""
    _need_checkout(train_extra=False)
    from edgemood.card import read_card
    from export.quiet import third_party_output
    from export.tool_errors import one_line_errors

    with one_line_errors("export"):
        read_card(model_dir)  # a wrong directory fails before the slow imports below
    need_train_extra()
    with one_line_errors("export"):
        from export.fusion import export_fusion as export

        with third_party_output(verbose, "edgemood export"):
            written = export(model_dir, tflite=tflite)
    for key, path in written.items():
        typer.echo(f"{key}: {path} ({path.stat().st_size:,} bytes)")


@export_app.command("text")
def export_text(
    source: Annotated[str, typer.Argument(help="Hub name (distilbert-base-uncased) or local dir.")],
    out: Annotated[Path, typer.Argument(help="Encoder directory to write.")],
    verbose: ExportVerboseOption = False,
) -> None:
    """Export DistilBERT to an edgemood text encoder directory (ONNX + tokenizer.json)."""
    _need_checkout()
    from export.quiet import third_party_output
    from export.text_encoder import export_text_encoder
    from export.tool_errors import one_line_errors

    with one_line_errors("export"), third_party_output(verbose, "edgemood export"):
        directory = export_text_encoder(source, out)
    model = directory / "model.onnx"
    typer.echo(f"text encoder: {directory} ({model.stat().st_size:,} bytes)")


def _paths(value: str | None) -> list[Path]:
    return [Path(p) for p in (value or "").split(",") if p.strip()]


def _actors(value: str) -> list[int]:
    try:
        return [int(a) for a in value.split(",") if a.strip()]
    except ValueError as exc:
        raise typer.BadParameter("comma-separated actor numbers, e.g. 1,2,3,4") from exc


@quantize_app.command("fusion")
def quantize_fusion(
    model_dir: ModelDirArgument,
    data: Annotated[Path, typer.Option(help="RAVDESS folder for calibration and parity.")],
    cache: Annotated[Path | None, typer.Option(help="Feature cache (as for train).")] = None,
    test_actors: Annotated[
        str, typer.Option(help="Parity is measured on these actors; calibration never sees them.")
    ] = "1,2,3,4",
    calibration_clips: Annotated[int, typer.Option(help="At most this many.")] = 1000,
    all_layers: Annotated[
        bool,
        typer.Option(help="Quantize the per-frame encoders and the output layer too."),
    ] = False,
    tflite: Annotated[bool, typer.Option(help="Also write FP32 and INT8 TFLite.")] = True,
    held_out_evidence: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            help="fusion.int8.onnx.json of the same method on a model trained without its test "
            "actors (repeatable): lets a model trained on every actor default to INT8."
        ),
    ] = None,
    faces: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="Face pools (POOL[,POOL]) whose train split calibrates a model with a face "
            "branch, paired with voices as in its training (required for such a model)."
        ),
    ] = None,
    held_out_faces: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="Face pools (POOL[,POOL]) the face branch never trained on: parity on faces "
            "alone and on test voices paired with them (required for a model with a face branch)."
        ),
    ] = None,
    texts: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="Text pool (edgemood text-pools, encoded by the model's text encoder): its train "
            "split calibrates a model with a text branch, its test split judges parity (required "
            "for such a model)."
        ),
    ] = None,
    verbose: QuantizeVerboseOption = False,
) -> None:
    """Static INT8 ONNX and INT8 TFLite of the fusion model, with parity reports."""
    actors = _actors(test_actors)  # before the slow imports: a typo fails at once
    _need_checkout()
    from edgemood.card import read_card
    from export.quiet import third_party_output
    from export.tool_errors import one_line_errors
    from quantize.fusion import quantize_fusion as quantize

    with one_line_errors("quantize"), third_party_output(verbose, "edgemood quantize"):
        reports = quantize(
            model_dir,
            data,
            cache,
            actors,
            calibration_clips,
            all_layers=all_layers,
            tflite=tflite,
            evidence=held_out_evidence or [],
            faces=_paths(faces),
            held_out_faces=_paths(held_out_faces),
            texts=texts,
        )
    for r in reports:
        p = r["parity"]
        typer.echo(
            f"{r['model']}: {r['size_bytes']:,} bytes (FP32 {r['fp32_size_bytes']:,}); "
            f"agreement {p['agreement']:.2%} on {p['clips']} clips of actors "
            f"{p['test']['actors']}, accuracy {p['accuracy_fp32']:.3f} -> {p['accuracy_int8']:.3f}"
            f"; parity {'holds' if p['holds'] else 'FAILS'}"
        )
        for name, c in p["conditions"].items():
            if name != "voices":
                typer.echo(
                    f"  {name}: agreement {c['agreement']:.2%} on {c['clips']}, accuracy "
                    f"{c['accuracy_fp32']:.3f} -> {c['accuracy_int8']:.3f}"
                    f"; {'holds' if c['holds'] else 'FAILS'}"
                )
    # Notes printed while third-party output was held back, again where the user sees them.
    for note in (reports[0].get("faces") or {}).get("notes", []):
        typer.echo(f"quantize: note: {note}", err=True)
    card = read_card(model_dir)
    if (faces or held_out_faces) and not card.trained.get("visual"):
        typer.echo("quantize: the model has no face branch: face pools ignored", err=True)
    typer.echo(f"default: {card.default} ({card.default_reason or ''})")


@quantize_app.command("text")
def quantize_text(
    encoder_dir: Annotated[Path, typer.Argument(help="Encoder directory (edgemood export text).")],
    verbose: QuantizeVerboseOption = False,
) -> None:
    """INT8 of the text encoder (weights; quantize/text_encoder.py), checked against its size
    budget."""
    _need_checkout()
    from export.quiet import third_party_output
    from export.tool_errors import one_line_errors
    from quantize.size_budget import check_file
    from quantize.text_encoder import TEXT_INT8, quantize_text_encoder

    with one_line_errors("quantize"), third_party_output(verbose, "edgemood quantize"):
        report = quantize_text_encoder(encoder_dir)
    p = report["parity"]
    typer.echo(
        f"{report['model']}: {report['size_bytes']:,} bytes (FP32 {report['fp32_size_bytes']:,});"
        f" cosine to FP32 min {p['min_cosine']:.4f} over {p['sentences']} sentences"
    )
    problem = check_file("text_encoder_int8", encoder_dir / TEXT_INT8)
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(1)
