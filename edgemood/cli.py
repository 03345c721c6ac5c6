"""The ``edgemood`` command line: infer on the device; train and evaluate on the workstation."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgemood.errors import EdgemoodError, InputError, ModelError

app = typer.Typer(
    help="Multimodal emotion recognition (voice, face, words) for edge devices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: it wraps every line to the terminal, where rich's boxed tables cut
    # long words at 80 columns with an ellipsis.
    rich_markup_mode=None,
)

ModelOption = Annotated[
    Optional[Path],  # noqa: UP045 (typer reads the annotation at runtime on Python 3.10)
    typer.Option(
        "--model", "-m", help="Model directory or .onnx/.tflite file (default: the bundled one)."
    ),
]
BackendOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="Runtime: onnx or tflite (default: the model directory's default)."),
]
PrecisionOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="fp32 or int8 (default: the model directory's default)."),
]
ThreadsOption = Annotated[int, typer.Option(min=1, help="Threads per runtime session.")]
TextEncoderOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        help="Directory of an exported text encoder (else $EDGEMOOD_TEXT_ENCODER, else the "
        "bundled one for a model with a text branch)."
    ),
]


def _fail(message: str, code: int, debug: bool = False) -> None:
    """One line on stderr and the exit code; with --debug, the traceback of the error at hand."""
    if debug and sys.exc_info()[0] is not None:
        raise  # _fail is called from inside an except block
    typer.echo(f"edgemood: {message}", err=True)
    raise typer.Exit(code)


def _format(prediction) -> str:
    from edgemood.labels import MODALITIES

    used = "+".join(m for m in MODALITIES if prediction.modalities[m]) or "none"
    lines = [
        f"{prediction.file}: {prediction.emotion} (sentiment: {prediction.sentiment}; used: {used})"
    ]
    order = sorted(
        prediction.to_json()["probabilities"].items(), key=lambda kv: kv[1], reverse=True
    )
    lines += [f"  {name:<10} {p:6.3f}  {'#' * round(p * 40)}" for name, p in order]
    lines += [f"  note: {note}" for note in prediction.notes]
    return "\n".join(lines)


def _expand(args: list[str]) -> list[tuple[Path, str | None]]:
    """Files, folders (searched recursively) and quoted patterns to the clips they name, in the
    order given; a folder without media or a pattern that matches nothing comes with its error."""
    from edgemood.decode import MEDIA_SUFFIXES, is_pattern, media_files

    out: list[tuple[Path, str | None]] = []
    for arg in args:
        found = media_files([arg])
        if Path(arg).is_dir() and not found:
            kinds = " ".join(sorted(MEDIA_SUFFIXES))
            out.append((Path(arg), f"{arg}: no media files in this folder (looked for {kinds})"))
        elif is_pattern(arg) and found == [Path(arg)]:
            out.append((Path(arg), f"{arg}: no file matches this pattern"))
        else:
            out += [(path, None) for path in found]
    return out


@app.command(short_help="Emotion, sentiment and probabilities of each clip.")
def infer(
    clips: Annotated[
        # Plain strings: click's path checks would reject an unreadable file for the whole call
        # with a boxed message; edgemood reports each bad clip on one line and goes on.
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            help="Video or audio files, folders (searched recursively for media files) or "
            "patterns such as '*.m4a' (expanded here when quoted). A .txt file is a text-only "
            "input: its content is the words.",
            show_default=False,
        ),
    ] = None,
    example: Annotated[
        bool, typer.Option("--example", help="Run on the bundled example clip.")
    ] = False,
    model: ModelOption = None,
    backend: BackendOption = None,
    precision: PrecisionOption = None,
    threads: ThreadsOption = 1,
    text_encoder: TextEncoderOption = None,
    transcript: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="The spoken words (else, in order: CLIP.txt beside the clip, the CLIP.srt/.vtt "
            "cues of the analysed span, the RAVDESS name). JSON 'text_source' says which."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line per clip, on stdout.")
    ] = False,
    timeline: Annotated[
        bool,
        typer.Option(
            "--timeline",
            help="Follow each whole recording over time: a row per window and a summary "
            "(--json adds 'segments' and 'summary'). Text comes from CLIP.srt/CLIP.vtt cues.",
        ),
    ] = False,
    window: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(min=0.1, help="--timeline: window length in seconds (default 2)."),
    ] = None,
    hop: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(min=0.1, help="--timeline: seconds between window starts (default 1)."),
    ] = None,
    plot: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="Draw the timeline as a PNG (implies --timeline; several clips: "
            "PLOT_STEM-CLIP_STEM.png). Needs the [plot] extra."
        ),
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Print the emotion, the sentiment and the 8 probabilities of each clip.

    Sentiment: happy and surprised are positive; neutral and calm are neutral;
    sad, angry, fearful and disgust are negative.

    Exit code 0 when every clip was processed, 2 when any clip failed (the
    others are still processed), 3 when the model cannot be loaded.
    """
    from edgemood.pipeline import EXAMPLE_CLIP, Recognizer
    from edgemood.prediction import error_json

    failed = 0

    def report(file: str, reason: str) -> None:
        nonlocal failed
        failed += 1
        typer.echo(f"edgemood: {reason}", err=True)
        if as_json:
            typer.echo(json.dumps(error_json(file, reason), ensure_ascii=False))

    paths = _expand(clips or []) + ([(EXAMPLE_CLIP, None)] if example else [])
    if not paths:
        _fail("no clips given (pass files, or --example for the bundled one)", 2)
    timeline = timeline or plot is not None
    if timeline:
        from edgemood.timeline import HOP_S, WINDOW_S

        window, hop = window or WINDOW_S, hop or HOP_S
    if timeline and hop > window:
        _fail(f"--hop {hop:g} is longer than --window {window:g}: windows would leave gaps", 2)
    if plot is not None:
        from edgemood.timeline_plot import EXTRA_MESSAGE, have_plotting

        if not have_plotting():
            _fail(EXTRA_MESSAGE, 4)
    try:
        recognizer = Recognizer(
            model, backend=backend, precision=precision, threads=threads, text_encoder=text_encoder
        )
    except EdgemoodError as exc:
        _fail(str(exc), exc.exit_code, debug)

    # A progress bar on stderr for several clips, and only on a terminal: stdout stays clean for
    # --json, and logs (a service, a pipe) get the error lines alone.
    progress = (
        typer.progressbar(paths, label="clips", file=sys.stderr)
        if len(paths) > 1 and sys.stderr.isatty()
        else contextlib.nullcontext(paths)
    )
    with progress as bar:
        for clip, error in bar:
            if error is not None:
                report(str(clip), error)
                continue
            try:
                if timeline:
                    _timeline(recognizer, clip, (window, hop, transcript), as_json,
                              _plot_path(plot, clip, len(paths)))  # fmt: skip
                    continue
                prediction = recognizer.predict(clip, transcript)
            except (EdgemoodError, OSError, MemoryError) as exc:
                if debug:
                    raise
                report(str(clip), str(exc) if isinstance(exc, EdgemoodError) else f"{clip}: {exc}")
                continue
            if as_json:
                typer.echo(json.dumps(prediction.to_json(), ensure_ascii=False))
            else:
                typer.echo(_format(prediction))
    if failed:
        raise typer.Exit(InputError.exit_code)


def _plot_path(plot: Path | None, clip: Path, count: int) -> Path | None:
    if plot is None or count == 1:
        return plot
    return plot.with_name(f"{plot.stem}-{clip.stem}{plot.suffix or '.png'}")


def _timeline(recognizer, clip: Path, settings: tuple, as_json: bool, plot: Path | None) -> None:
    """One recording through ``--timeline``: rows printed as windows are analysed."""
    from edgemood.timeline_text import footer, header, row

    window, hop, transcript = settings
    run = recognizer.timeline(clip, window, hop, transcript)
    last = None
    if not as_json:
        typer.echo(header(run))
    for segment in run:
        if not as_json:
            typer.echo(row(run, segment, last))
        last = segment
    result = run.to_json()
    if plot is not None:
        from edgemood.timeline_plot import plot_timeline

        plot_timeline(result, plot)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(footer(run, last) + (f"\n  plot: {plot}" if plot is not None else ""))


@app.command(short_help="Speed, memory, model sizes and accuracy on this device.")
def bench(
    clips: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            help="Clips or folders to time (default: the bundled example).", show_default=False
        ),
    ] = None,
    data: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="RAVDESS-named folder: also report accuracy, macro-F1, confusion."),
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="Timed runs per clip.")] = 10,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed runs per clip first.")] = 2,
    cold_runs: Annotated[
        int, typer.Option(min=0, help="Fresh `edgemood infer` processes to time (0: skip).")
    ] = 3,
    model: ModelOption = None,
    backend: BackendOption = None,
    precision: PrecisionOption = None,
    threads: ThreadsOption = 1,
    text_encoder: TextEncoderOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Measure speed, memory, model sizes and (with --data) accuracy here.

    Per stage (decode, audio features, face, text, fusion) and end to end:
    median and p95 latency after a warm-up; real-time factor (processing time /
    clip duration, key "rtf" in --json); frames per second of the face stage;
    peak RSS; cold start of a fresh `edgemood infer`. A clip that cannot be
    processed is reported and skipped (exit code 2, as infer).
    """
    from edgemood.bench import BenchConfig, NothingMeasured, format_table, run_accuracy, run_bench
    from edgemood.pipeline import EXAMPLE_CLIP

    config = BenchConfig(
        runs=runs,
        warmup=warmup,
        cold_runs=cold_runs,
        model=model,
        backend=backend,
        precision=precision,
        threads=threads,
        text_encoder=text_encoder,
    )
    expanded = _expand(clips) if clips else [(EXAMPLE_CLIP, None)]
    for _, error in expanded:
        if error is not None:
            typer.echo(f"edgemood: {error}", err=True)
    files = [path for path, error in expanded if error is None]
    try:
        if not files:
            raise NothingMeasured("no media files to time")
        result = run_bench(files, config)
        if data is not None:
            result["accuracy"] = run_accuracy(data, config)
    except NothingMeasured:  # each bad clip has had its line on stderr already
        raise typer.Exit(InputError.exit_code) from None
    except EdgemoodError as exc:
        _fail(str(exc), exc.exit_code, debug)
    typer.echo(json.dumps(result) if as_json else format_table(result))
    # Like infer: the others were measured, but a bad clip (or bad labelled clip) sets exit 2.
    accuracy_failed = (result.get("accuracy") or {}).get("failed")
    if len(files) < len(expanded) or result["failed"] or accuracy_failed:
        raise typer.Exit(InputError.exit_code)


@app.command(short_help="Local HTTP API and watch folder, models kept warm.")
def serve(
    config_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--config", help="TOML settings (default /etc/edgemood/config.toml if any)."),
    ] = None,
    host: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Address to bind (default 127.0.0.1)."),
    ] = None,
    port: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="HTTP port (default 8377)."),
    ] = None,
    watch: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Watch folder: clips dropped here are processed once."),
    ] = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Results folder for the watch folder (default WATCH/results)."),
    ] = None,
    watch_timeline: Annotated[
        bool,
        typer.Option(
            "--watch-timeline",
            help="Watch folder results window by window (segments and summary, as infer "
            "--timeline --json); CLIP.srt/CLIP.vtt dropped beside a clip give the text.",
        ),
    ] = False,
    model: ModelOption = None,
    backend: BackendOption = None,
    precision: PrecisionOption = None,
    threads: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="Threads per runtime session (default 1)."),
    ] = None,
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="Inference processes (default 1)."),
    ] = None,
    max_upload_mb: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Upload size limit in MB (413 above; default 100)."),
    ] = None,
    clip_timeout_s: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Per-clip time limit in seconds (504 above; default 120)."),
    ] = None,
    log_level: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="debug, info, warning or error (default info)."),
    ] = None,
    token_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="Bearer token file (mode 600): every endpoint but /healthz then needs "
            "'Authorization: Bearer <token>'. Required to bind anything but loopback."
        ),
    ] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help="Serve a non-loopback address without a token (logged at every start).",
        ),
    ] = False,
    make_token: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--make-token",
            help="Write a new random token to this file (mode 600, never overwritten) and exit.",
        ),
    ] = None,
    allow_dir: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            help="Folder whose files POST /v1/infer may read by 'path' (repeatable; replaces "
            "the config's allowed_dirs)."
        ),
    ] = None,
) -> None:
    """Keep the models warm and serve a local HTTP API (and a watch folder).

    POST /v1/infer (multipart field 'file', or a 'path' under allowed_dirs)
    returns the JSON of `edgemood infer --json` (?timeline=1: of `infer
    --timeline --json`); GET /healthz; GET /metrics
    (Prometheus). Settings come from a TOML file; options override it. A
    non-loopback host needs a token (--token-file) or --insecure-no-auth.
    Needs the serve extra: pip install 'edgemood[serve]'.
    """
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        _fail("edgemood serve needs the [serve] extra: pip install 'edgemood[serve]'", 4)
    from edgemood.service.config import load_config
    from edgemood.service.server import run

    if make_token is not None:
        from edgemood.service.auth import make_token as write_token

        try:
            write_token(make_token)
        except EdgemoodError as exc:
            _fail(str(exc), exc.exit_code)
        typer.echo(f"edgemood: new token in {make_token} (mode 600); set api_token_file to it "
                   "and chown it to the service user", err=True)  # fmt: skip
        raise typer.Exit(0)
    overrides = {
        "host": host, "port": port, "watch": watch, "output": output,
        "watch_timeline": watch_timeline or None, "model": model,
        "backend": backend, "precision": precision, "threads": threads, "workers": workers,
        "max_upload_mb": max_upload_mb, "clip_timeout_s": clip_timeout_s, "log_level": log_level,
        "api_token_file": token_file, "insecure_no_auth": insecure_no_auth or None,
        "allowed_dirs": [str(d) for d in allow_dir] if allow_dir else None,
    }  # fmt: skip
    try:
        config = load_config(config_file, overrides)
        code = run(config)
    except EdgemoodError as exc:
        _fail(str(exc), exc.exit_code)
    raise typer.Exit(code)


def _need_train_extra() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        _fail("training needs the [train] extra: pip install 'edgemood[train]'", 4)


DataOption = Annotated[
    Path,
    typer.Option(
        exists=True, file_okay=False, help="RAVDESS folder (Actor_XX/...); searched recursively."
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
DeviceOption = Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")]
SeedOption = Annotated[int, typer.Option(help="Seed for splits, initialisation and batches.")]
HiddenOption = Annotated[int, typer.Option(help="Width of the fusion hidden layer.")]
PoolingOption = Annotated[str, typer.Option(help="mean, max or mean+max over time.")]
ChannelsOption = Annotated[
    int, typer.Option(min=1, help="Width of the temporal audio encoder's inner convolutions.")
]
AudioEncoderOption = Annotated[
    str,
    typer.Option(
        help="temporal: convolutions over time, then pooling; frame: the paper's per-frame "
        "layer, pooled (a bag of frames)."
    ),
]


SpeedOption = Annotated[
    str,
    typer.Option(
        help="Speed-perturbation factors for extra training copies, comma-separated; '' for none."
    ),
]


def _configs(
    epochs: int,
    seed: int,
    device: str,
    hidden: int,
    pooling: str,
    speed: str,
    audio_encoder: str,
    channels: int,
):
    from edgemood.train.fit import TrainConfig
    from edgemood.train.fusion import FusionConfig

    try:
        factors = tuple(float(f) for f in speed.split(",") if f.strip())
    except ValueError:
        _fail(f"--speed: not a comma-separated list of numbers: {speed!r}", 2)
    try:  # the config checks --pooling and --audio-encoder
        fusion = FusionConfig(
            hidden=hidden, pooling=pooling, audio_encoder=audio_encoder, channels=channels
        )
    except ValueError as exc:
        _fail(str(exc), 2)
    return fusion, TrainConfig(epochs=epochs, seed=seed, device=device, speed_perturbation=factors)


@app.command(short_help="Train the fusion model on RAVDESS (train extra).")
def train(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Model directory to write.")],
    cache: CacheOption = None,
    text_encoder: TrainTextOption = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="Maximum (or, with --no-validation, exact) epochs.")
    ] = 40,
    validation: Annotated[
        bool,
        typer.Option(help="Hold out one male and one female actor for early stopping."),
    ] = True,
    evaluation: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Evaluation report.json (or a folder of them) to record in the card."),
    ] = None,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    hidden: HiddenOption = 128,
    pooling: PoolingOption = "mean",
    audio_encoder: AudioEncoderOption = "temporal",
    channels: ChannelsOption = 48,
    speed: SpeedOption = "0.9,1.1",
    threads: ThreadsOption = 1,
) -> None:
    """Train the fusion model on a RAVDESS folder, write a model directory (train extra)."""
    _need_train_extra()
    from edgemood.train.commands import train as run

    fusion, config = _configs(epochs, seed, device, hidden, pooling, speed, audio_encoder, channels)
    directory = run(
        data,
        out,
        cache or _default_cache(),
        text_encoder,
        fusion,
        config,
        validation,
        evaluation,
        threads,
    )
    typer.echo(f"model written to {directory}")


@app.command(short_help="Train and test under a protocol (train extra).")
def evaluate(
    data: DataOption,
    protocol: Annotated[
        str, typer.Option(help="speaker: actor folds (speaker-independent); random: 80/20 clips.")
    ] = "speaker",
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md and PNGs.")] = Path(
        "runs/evaluate"
    ),
    cache: CacheOption = None,
    text_encoder: TrainTextOption = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="Maximum (or, with --no-validation, exact) epochs.")
    ] = 40,
    validation: Annotated[
        bool,
        typer.Option(
            help="Hold out validation actors (speaker) or clips (random) for early stopping; "
            "--no-validation trains on all the rest for exactly --epochs, as train "
            "--no-validation does for the shipped model."
        ),
    ] = True,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    hidden: HiddenOption = 128,
    pooling: PoolingOption = "mean",
    audio_encoder: AudioEncoderOption = "temporal",
    channels: ChannelsOption = 48,
    speed: SpeedOption = "0.9,1.1",
    threads: ThreadsOption = 1,
) -> None:
    """Train and test under a protocol; report the paper's metrics (train extra).

    Accuracy, macro P/R/F1, per-class table with AUC, confusion matrix (PNG)
    and calibration, for each input subset the model was trained on.
    """
    _need_train_extra()
    if protocol not in ("speaker", "random"):
        _fail(f"unknown protocol {protocol!r} (speaker or random)", 2)
    from edgemood.train.commands import prepare, text_encoder_record, with_text_width
    from edgemood.train.evaluate import evaluate as run
    from edgemood.train.evaluate import markdown_report, write_report

    fusion, config = _configs(epochs, seed, device, hidden, pooling, speed, audio_encoder, channels)
    from edgemood.train.data import speed_perturbed

    cache = cache or _default_cache()
    clips = prepare(data, cache, text_encoder, threads)
    fusion = with_text_width(fusion, text_encoder_record(text_encoder, cache))
    report = run(
        clips,
        protocol,
        fusion,
        config,
        augmented=speed_perturbed(clips, config.speed_perturbation, cache),
        validation=validation,
    )
    write_report(report, out)
    typer.echo(markdown_report(report))
    typer.echo(f"\nreport written to {out}")


VISUAL_SETS = ("geometry", "expression", "both")


@app.command(
    "add-branches", short_help="Teach a voice model faces and words from other data (train extra)."
)
def add_branches(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Model directory to write.")],
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
            help="Face-set pool (python -m edgemood.train.face_sets); repeat for several.",
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
    _need_train_extra()
    from edgemood.model import DEFAULT_MODEL_DIR
    from edgemood.train.branches import BranchConfig
    from edgemood.train.commands import add_branches_to, text_encoder_record
    from edgemood.train.pairing import PairingConfig
    from edgemood.train.pools import face_pool, text_pool
    from edgemood.visual_features import ALL_VISUAL_FEATURES, CNN_FEATURES, VISUAL_FEATURES

    if not faces and texts is None:
        _fail("give --faces and/or --texts: nothing to add", 2)
    if visual_features not in VISUAL_SETS:
        _fail(f"--visual-features must be one of {', '.join(VISUAL_SETS)}", 2)
    if face_split not in ("train", "test", "all"):
        _fail("--face-split must be train, test or all", 2)
    if texts is not None and not text_encoder:
        _fail("--texts needs --text-encoder: the model card must name the sentences' encoder", 2)
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


def _default_cache() -> Path:
    from edgemood.train.commands import default_cache

    return default_cache()


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except ModelError as exc:
        typer.echo(f"edgemood: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
