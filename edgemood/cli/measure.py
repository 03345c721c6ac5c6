"""``edgemood bench``: latency per stage, real-time factor, face-stage frame rate, memory, model
sizes, cold start and, on a labelled RAVDESS folder, accuracy, measured on the device itself.

Runs the same ``Recognizer`` as ``edgemood infer`` (so the numbers are the product's), after a
warm-up, ``runs`` times per clip. The face stage is also timed on its own for every video clip,
even when the model in use does not read faces, so a device owner sees what it will cost.
Imports nothing from the training layer.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgemood.corpora import read_corpus
from edgemood.decode import probe
from edgemood.errors import EdgemoodError, InputError
from edgemood.features import FeatureExtractor
from edgemood.labels import EMOTIONS, MODALITIES
from edgemood.metrics import classification_report
from edgemood.pipeline import Recognizer
from edgemood.progress import Progress
from edgemood.transcript import is_text_file

STAGES = ("decode", "audio_features", "face", "text", "fusion")


class NothingMeasured(InputError):
    """Not one clip could be timed (each was reported as it failed)."""


@dataclass
class BenchConfig:
    runs: int = 10
    warmup: int = 2
    cold_runs: int = 3
    model: Path | None = None
    backend: str | None = None
    precision: str | None = None
    threads: int = 1
    text_encoder: Path | None = None


def _summary(seconds: list[float]) -> dict[str, float] | None:
    if not seconds:
        return None
    values = np.asarray(seconds) * 1e3
    return {
        "median_ms": round(float(np.median(values)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "n": len(values),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    VmHWM where /proc exists: ru_maxrss survives fork and exec, so a process started by a larger
    one would report its parent's peak (see ``_CHILD``). ru_maxrss (KiB on Linux) elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _infer_flags(config: BenchConfig) -> list[str]:
    flags = ["--threads", str(config.threads)]
    for name, value in (
        ("--model", config.model),
        ("--backend", config.backend),
        ("--precision", config.precision),
        ("--text-encoder", config.text_encoder),
    ):
        if value is not None:
            flags += [name, str(value)]
    return flags


# Run as a fresh `edgemood infer` that reports its own peak RSS (VmHWM, as peak_rss_mb) on exit.
# Inline, not an import of this module: the import would add to the cold start being measured.
_CHILD = (
    "import atexit, sys\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('edgemood-bench-rss-kib=%s\\n' % line.split()[1])\n"
    "atexit.register(_peak)\n"
    "sys.argv = ['edgemood', *sys.argv[1:]]\n"
    "from edgemood.cli import main\n"
    "main()\n"
)


def measured_infer(
    args: list[str], timeout: float = 300, prefix: list[str] | None = None
) -> tuple[subprocess.CompletedProcess, int | None]:
    """Run ``edgemood ARGS`` in a fresh process; returns it and its own peak RSS (KiB).

    ``prefix`` goes before the interpreter (e.g. a privilege-dropping wrapper)."""
    done = subprocess.run(
        [*(prefix or []), sys.executable, "-c", _CHILD, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    peaks = [int(line.split("=")[1]) for line in done.stderr.splitlines() if "bench-rss" in line]
    done.stderr = "".join(
        line for line in done.stderr.splitlines(keepends=True) if "bench-rss" not in line
    )
    return done, (max(peaks) if peaks else None)


def cold_start(clip: Path, config: BenchConfig) -> dict:
    """Wall time of fresh ``edgemood infer`` processes (interpreter start, imports, model
    loading, one clip), and the largest peak RSS among them."""
    args = ["infer", "--json", *_infer_flags(config), str(clip)]
    times, peaks = [], []
    for _ in range(config.cold_runs):
        clock = time.perf_counter()
        done, peak = measured_infer(args)
        times.append(time.perf_counter() - clock)
        if done.returncode != 0:
            reason = done.stderr.strip().splitlines() or ["?"]
            raise EdgemoodError(f"cold start: edgemood infer failed: {reason[-1]}")
        if peak is not None:
            peaks.append(peak)
    return {
        "command": " ".join(["edgemood", *args]),
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "runs": len(times),
        "peak_rss_mb": round(max(peaks) / 1024, 1) if peaks else None,
    }


def _face_stage(clips: list[Path], config: BenchConfig) -> dict | None:
    """Time the face stage alone with every visual feature there is, whatever the model uses:
    frame decoding + detection/landmarks + 35 geometry features + face crop and expression CNN.
    ``expression_ms_per_face`` is the crop + CNN part alone, per frame with a face."""
    from edgemood.visual_features import ALL_VISUAL_FEATURES

    videos = [c for c in clips if not is_text_file(c) and probe(c).has_video]
    if not videos:
        return None
    extractor = FeatureExtractor(
        use={"audio": False, "visual": True, "text": False},
        threads=config.threads,
        visual_features=ALL_VISUAL_FEATURES,
    )
    seconds, frames, with_face, expression_s = [], 0, 0, 0.0
    for clip in videos:
        for _ in range(config.warmup):
            extractor(clip)
        for _ in range(config.runs):
            before = extractor.frame_features().cnn_seconds
            features = extractor(clip)
            expression_s += extractor.frame_features().cnn_seconds - before
            seconds.append(features.timings["face"])
            frames += features.face_frames
            visual = features.inputs.visual
            with_face += 0 if visual is None else len(visual)
    total = sum(seconds)
    return {
        **(_summary(seconds) or {}),
        "frames_per_clip": frames // max(len(seconds), 1),
        "frames_with_face": round(with_face / max(frames, 1), 3),
        "fps": round(frames / total, 1) if total else None,
        "expression_ms_per_face": round(1000 * expression_s / with_face, 3) if with_face else None,
    }


def _sizes(recognizer: Recognizer) -> dict[str, int]:
    from edgemood.face import DETECTOR, LANDMARKS, MODEL_DIR
    from edgemood.face_expression import EXPRESSION_MODEL

    sizes = {f"fusion ({recognizer.model.file.name})": recognizer.model.file.stat().st_size}
    for name in (DETECTOR, LANDMARKS, EXPRESSION_MODEL):
        sizes[f"face ({name})"] = (MODEL_DIR / name).stat().st_size
    encoder = recognizer.features.text_encoder
    if encoder is not None:
        sizes[f"text ({encoder.model_file.name})"] = encoder.model_file.stat().st_size
    return sizes


def _text_encoder(recognizer: Recognizer) -> dict | None:
    """The text encoder of a model with a text branch: which one, and what loading it cost (it
    is loaded on the first clip with words; ``loaded`` false: no clip had any). Its per-clip
    latency (tokenize + encode) is the "text" stage."""
    if not recognizer.model.trained["text"]:
        return None
    encoder = recognizer.features.text_encoder
    if encoder is None:
        return {"name": None, "why_none": recognizer.features.no_encoder}
    return {
        "name": encoder.name,
        "dim": encoder.dim,
        "directory": str(encoder.directory),
        "loaded": encoder.loaded,
        "load_s": None if encoder.load_s is None else round(encoder.load_s, 3),
        "memory_mb": encoder.memory_mb,
    }


def _recognizer(config: BenchConfig) -> Recognizer:
    return Recognizer(
        config.model, config.backend, config.precision, config.threads, config.text_encoder
    )


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_bench(
    clips: list[Path], config: BenchConfig, cold: bool = True, log: Callable[[str], None] = _stderr
) -> dict:
    """Measure the pipeline on ``clips``. A clip that cannot be processed is reported through
    ``log`` and listed under "failed"; the others are measured. Raises NothingMeasured when
    none can be processed."""
    clock = time.perf_counter()
    recognizer = _recognizer(config)
    load_s = time.perf_counter() - clock
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    end_to_end, rtf, durations, used = [], [], [], dict.fromkeys(MODALITIES, False)
    measured, failed = [], []
    for clip in clips:
        try:
            for _ in range(config.warmup):
                recognizer.predict(clip)
            timed = []
            for _ in range(config.runs):
                clock = time.perf_counter()
                prediction = recognizer.predict(clip)
                timed.append((time.perf_counter() - clock, prediction))
        except (EdgemoodError, OSError) as exc:
            reason = str(exc) if isinstance(exc, EdgemoodError) else f"{clip}: {exc}"
            log(f"edgemood: {reason}")
            failed.append({"file": str(clip), "error": reason})
            continue
        for elapsed, prediction in timed:
            end_to_end.append(elapsed)
            if prediction.duration > 0:
                rtf.append(elapsed / prediction.duration)
            for stage, seconds in prediction.timings.items():
                stages.setdefault(stage, []).append(seconds)
        measured.append(clip)
        durations.append(prediction.duration)
        used = {m: used[m] or prediction.modalities[m] for m in MODALITIES}
    if not measured:
        raise NothingMeasured(f"no clip could be processed ({len(failed)} failed)")
    model = recognizer.model
    result = {
        "clips": [str(c) for c in measured],
        "failed": failed,
        "clip_seconds": [round(d, 3) for d in durations],
        "runs": config.runs,
        "warmup": config.warmup,
        "threads": config.threads,
        "backend": model.backend_name,
        "precision": model.precision,
        "model_file": str(model.file),
        "modalities_used": used,
        "model_load_s": round(load_s, 3),
        "stages": {s: _summary(v) for s, v in stages.items() if v},
        "end_to_end": _summary(end_to_end),
        "rtf": round(float(np.median(rtf)), 4) if rtf else None,
        "face_stage": _face_stage(measured, config),
        "text_encoder": _text_encoder(recognizer),
        "sizes_bytes": _sizes(recognizer),
    }
    result["peak_rss_mb"] = peak_rss_mb()
    if cold and config.cold_runs > 0:
        result["cold_start"] = cold_start(measured[0], config)
    return result


def _scores(probabilities: list[np.ndarray], labels: list[int]) -> dict:
    report = classification_report(np.stack(probabilities), np.asarray(labels))
    return {
        "clips": len(labels),
        "accuracy": round(report["accuracy"], 4),
        # Over the emotions the folder holds: an absent class has no F1 to average.
        "macro_f1": round(report["macro_f1_present"], 4),
        "emotions_present": len(report["classes"]),
        # The decision restricted to those emotions, mean of their recalls (cross-corpus UAR).
        "uar_restricted": round(report["uar_restricted"], 4),
        "top_answer": report["top_answer"],
        "top_answer_share": round(report["top_answer_share"], 4),
        "confusion": report["confusion"],
    }


def run_accuracy(data: Path, config: BenchConfig, log: Callable[[str], None] = _stderr) -> dict:
    """Accuracy, macro-F1, restricted UAR and confusion matrix on labelled clips: a folder of
    RAVDESS or EmoDB names, a folder per emotion, or a CSV manifest (``edgemood.corpora``).

    Clips of speakers the model card lists as trained on are counted, and flagged: a score on
    voices the model was trained on says little about a new speaker. The clips of the other
    speakers ("unheard") are also scored on their own when there are any."""
    recognizer = _recognizer(config)
    corpus = read_corpus(data)
    if corpus.note():
        log(f"edgemood: {corpus.note()}")
    probabilities, labels, speakers, failed = [], [], [], []
    with Progress(len(corpus.clips), "accuracy: clips") as progress:
        for done, clip in enumerate(corpus.clips, 1):
            try:
                probabilities.append(recognizer.predict(clip.path).probabilities)
                labels.append(clip.label)
                speakers.append(clip.speaker)
            except EdgemoodError as exc:
                failed.append(str(exc))
                progress.line(f"edgemood: {exc}")
            progress.update(done)
    if not probabilities:
        raise InputError(f"{data}: no clip could be processed ({failed[0]})")
    result = {"data": str(data), "corpus": corpus.name, **_scores(probabilities, labels)}
    result.update(failed=failed, left_out=dict(corpus.left_out), clips=len(corpus.clips))
    result["labels"] = list(EMOTIONS)
    trained = recognizer.model.card.training.speakers()
    ravdess = corpus.layout == "ravdess"
    if trained is None:
        result.update(training_actors=None, heard_clips=None, unheard=None)
        return result
    trained_here = trained.get(corpus.name, set())
    heard = [s is not None and s in trained_here for s in speakers]
    unheard = [i for i, h in enumerate(heard) if not h]
    key = "actors" if ravdess else "speakers"
    named = (lambda ids: sorted(int(s) for s in ids)) if ravdess else sorted
    result["training_actors" if ravdess else "training_speakers"] = named(trained_here)
    result["heard_clips"] = sum(heard)
    result["unheard"] = (
        {
            key: named({speakers[i] for i in unheard if speakers[i] is not None}),
            **_scores([probabilities[i] for i in unheard], [labels[i] for i in unheard]),
        }
        if unheard
        else None
    )
    return result


def format_table(result: dict) -> str:
    """The human-readable report."""
    lines = [
        f"edgemood bench: {len(result['clips'])} clip(s), {result['runs']} runs each after "
        f"{result['warmup']} warm-up, {result['threads']} thread(s)"
        + (f"; {len(result['failed'])} clip(s) failed (see above)" if result.get("failed") else ""),
        f"model: {result['model_file']} ({result['backend']}, {result['precision']}); used: "
        + ("+".join(m for m, on in result["modalities_used"].items() if on) or "none"),
        "",
        f"{'stage':<16}{'median ms':>12}{'p95 ms':>12}",
    ]
    for stage, summary in result["stages"].items():
        lines.append(f"{stage:<16}{summary['median_ms']:>12.2f}{summary['p95_ms']:>12.2f}")
    e2e = result["end_to_end"]
    lines.append(f"{'end to end':<16}{e2e['median_ms']:>12.2f}{e2e['p95_ms']:>12.2f}")
    lines.append(f"real-time factor (processing / clip duration): {result['rtf']}")
    face = result.get("face_stage")
    if face:
        note = "" if result["modalities_used"]["visual"] else " (not used by this model)"
        expression = face.get("expression_ms_per_face")
        lines.append(
            f"face stage alone{note}: {face['median_ms']:.2f} ms per clip, "
            f"{face['frames_per_clip']} frames, {face['fps']} frames/s"
            + (
                f"; of which face crop + expression CNN {expression} ms per face"
                if expression
                else ""
            )
        )
    lines += _text_encoder_lines(result.get("text_encoder"))
    lines.append(
        f"model load: {result['model_load_s']:.3f} s; peak RSS: {result['peak_rss_mb']} MB"
    )
    cold = result.get("cold_start")
    if cold:
        lines.append(
            f"cold start (fresh `edgemood infer`, {cold['runs']} runs): median "
            f"{cold['median_s']:.3f} s, min {cold['min_s']:.3f} s, "
            f"peak RSS {cold['peak_rss_mb']} MB"
        )
    lines.append(
        "model sizes: " + ", ".join(f"{k} {v:,} B" for k, v in result["sizes_bytes"].items())
    )
    accuracy = result.get("accuracy")
    if accuracy:
        lines += ["", *_accuracy_lines(accuracy)]
    return "\n".join(lines)


def _text_encoder_lines(text: dict | None) -> list[str]:
    if text is None:
        return []
    if text["name"] is None:
        return [f"text encoder: none ({text['why_none']}): text stage not measured"]
    if not text["loaded"]:
        return [
            f"text encoder: {text['name']} ({text['dim']}-d), not loaded: no clip had words "
            "(--transcript, CLIP.txt, CLIP.srt/.vtt, a RAVDESS name): text stage not measured"
        ]
    memory = "?" if text["memory_mb"] is None else f"{text['memory_mb']:+.1f} MB resident"
    return [
        f"text encoder: {text['name']} ({text['dim']}-d): loaded on the first clip with words in "
        f"{text['load_s']:.3f} s, {memory}; per clip: the text stage above"
    ]


def _accuracy_lines(accuracy: dict) -> list[str]:
    line = (
        f"accuracy on {accuracy['data']}: {accuracy['accuracy']:.3f}, macro-F1 "
        f"{accuracy['macro_f1']:.3f} ({accuracy['clips']} clips, {len(accuracy['failed'])} failed)"
    )
    heard = accuracy.get("heard_clips")
    who = "actors" if "training_actors" in accuracy else "speakers"
    if heard:
        scored = accuracy["clips"] - len(accuracy["failed"])
        line += (
            f"; {heard} of {scored} clips are from {who} this model was trained on (model "
            "card): not a figure for new speakers"
        )
    lines = [line]
    if accuracy["emotions_present"] < len(EMOTIONS):
        lines.append(
            f"{accuracy['emotions_present']} of the 8 emotions here: restricted to them, UAR "
            f"{accuracy['uar_restricted']:.3f} (chance {1 / accuracy['emotions_present']:.3f})"
        )
    lines.append(
        f"most frequent answer: {accuracy['top_answer']} "
        f"({100 * accuracy['top_answer_share']:.0f} % of the clips)"
    )
    unheard = accuracy.get("unheard")
    if unheard:
        lines.append(
            f"unheard {who} {', '.join(map(str, unheard[who]))}: accuracy "
            f"{unheard['accuracy']:.3f}, macro-F1 {unheard['macro_f1']:.3f}, restricted UAR "
            f"{unheard['uar_restricted']:.3f} ({unheard['clips']} clips)"
        )
    elif heard:
        lines.append(f"unheard {who}: none in this folder")
    lines.append("confusion (rows: true, columns: predicted): " + " ".join(e[:3] for e in EMOTIONS))
    for name, row in zip(EMOTIONS, accuracy["confusion"]):
        lines.append(f"  {name:<10}" + "".join(f"{v:>5}" for v in row))
    return lines


def to_json(result: dict) -> str:
    return json.dumps(result)
