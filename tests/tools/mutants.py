"""Targeted mutation testing: break the code on purpose, one way at a time, and see the suite fail.

    python tests/tools/mutants.py [--only ID,ID] [--list]

Each mutant below replaces an exact piece of one module (audio_features, visual_features,
decode, watch, the INT8 recipe, the HTTP status codes) with a plausible mistake, in a scratch
copy of the checkout (the working tree is never touched), and runs that module's tests there
(``pytest -x``: the first failure kills it). A mutant that passes every test *survives*: a test
is missing, or the change does not matter (say which in ``benchmarks/RESULTS.md``, "Tests and CI").
Prints a Markdown table.

About 8 minutes on the idle 2-core machine: not part of CI. Needs the [train,test] extras (librosa,
torch for the INT8 tests). The list is hand-written, not generated: each entry is a mistake a
person could make (a wrong constant, a sign, a dropped step, a wrong landmark), including the
four that review found the suite blind to (issue 19).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AUDIO_TESTS = ["tests/runtime/test_audio_features.py", "tests/runtime/test_audio_reference.py",
               "tests/runtime/test_bundled_predictions.py"]  # fmt: skip
VISUAL_TESTS = ["tests/runtime/test_face.py", "tests/runtime/test_visual_reference.py"]
DECODE_TESTS = ["tests/runtime/test_decode_limits.py", "tests/runtime/test_decode.py",
                "tests/runtime/test_bundled_predictions.py"]  # fmt: skip
WATCH_TESTS = ["tests/service/test_watch_names.py", "tests/service/test_watch_ready.py",
               "tests/service/test_serve.py::test_watch_folder_files_every_clip_once"]  # fmt: skip
INT8_TESTS = ["tests/train/test_int8_recipe.py", "tests/train/test_export_quantize.py"]
HTTP_TESTS = ["tests/service/test_http_bad_input.py"]
TEXT_TESTS = ["tests/runtime/test_text_input.py"]
DATA_PATH_TESTS = ["tests/runtime/test_predict_arrays.py", "tests/runtime/test_timeline.py",
                   "tests/runtime/test_cli.py"]  # fmt: skip
CORPUS_TESTS = ["tests/runtime/test_corpora.py"]
CORPUS_TRAIN_TESTS = ["tests/train/test_corpora_training.py"]
FE = "edgemood/features.py"
TR, TX = "edgemood/transcript.py", "edgemood/text.py"


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    edits: tuple[tuple[str, str], ...]  # (exact original text, replacement), each found once
    tests: tuple[str, ...]
    what: str


def _m(id_: str, file: str, old: str, new: str, tests: list[str], what: str) -> Mutant:
    return Mutant(id_, file, ((old, new),), tuple(tests), what)


AF, VF, DE, WA = (
    "edgemood/audio_features.py",
    "edgemood/visual_features.py",
    "edgemood/decode.py",
    "edgemood/service/watch.py",
)
# fmt: off
MUTANTS = [
    # --- audio features ---
    _m("A1", AF, "mfcc = mfcc[:, 1:]  # drop c0", "mfcc = mfcc[:, 1:] * 1.5", AUDIO_TESTS,
       "every MFCC x1.5 (issue 19)"),
    _m("A2", AF, "10 * np.log10(r / (1 - r))", "-10 * np.log10(r / (1 - r))", AUDIO_TESTS,
       "HNR sign flipped (issue 19)"),
    _m("A3", AF, "(np.mean(power, axis=1) + 1e-10)", "(np.mean(power, axis=1) + 1e-10) + 0.2",
       AUDIO_TESTS, "spectral flatness +0.2 (issue 19)"),
    _m("A4", AF, "        centroid / nyquist,", "        centroid / nyquist + 0.01,", AUDIO_TESTS,
       "centroid offset by 80 Hz"),
    _m("A5", AF, "zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)",
       "zcr = 0.9 * np.mean(signs[:, 1:] != signs[:, :-1], axis=1)", AUDIO_TESTS, "ZCR x0.9"),
    _m("A6", AF, "cumulative >= 0.85 * cumulative", "cumulative >= 0.9 * cumulative", AUDIO_TESTS,
       "roll-off at 90 % instead of 85 %"),
    _m("A7", AF, "def _delta(values: np.ndarray, width: int = 9)",
       "def _delta(values: np.ndarray, width: int = 7)", AUDIO_TESTS, "delta width 7"),
    _m("A8", AF, "log_mel.max() - 80.0", "log_mel.max() - 60.0", AUDIO_TESTS, "top_db 60"),
    _m("A9", AF, "k = max(1, round(0.2 * (high - low)))", "k = max(1, round(0.1 * (high - low)))",
       AUDIO_TESTS, "contrast quantile 10 %"),
    _m("A10", AF, "/ np.log2(power.shape[1])", "/ np.log2(power.shape[1] + 64)", AUDIO_TESTS,
       "entropy normalised by the wrong bin count"),
    _m("A11", AF, "* 1000.0  # log10 power per kHz", "* 100.0  # log10 power per kHz",
       AUDIO_TESTS, "slope per 100 Hz"),
    _m("A12", AF, "YIN_THRESHOLD = 0.15", "YIN_THRESHOLD = 0.3", AUDIO_TESTS,
       "YIN threshold 0.3"),
    _m("A13", AF, "flux = np.sqrt(np.sum(np.square(np.diff(normalised, axis=0, "
       "prepend=normalised[:1])), 1))",
       "flux = np.sum(np.abs(np.diff(normalised, axis=0, prepend=normalised[:1])), 1)",
       AUDIO_TESTS, "flux L1 instead of L2"),
    _m("A14", AF, "log_rms = np.maximum(20 * np.log10",
       "log_rms = np.maximum(10 * np.log10", AUDIO_TESTS, "log RMS in power dB"),
    _m("A15", AF, "np.square(freqs[None] - centroid[:, None])",
       "np.abs(freqs[None] - centroid[:, None])", AUDIO_TESTS, "bandwidth p=1 under a sqrt"),
    _m("A16", AF, "np.arange(WIN) / WIN)", "np.arange(WIN) / (WIN - 1))", AUDIO_TESTS,
       "symmetric Hann window"),
    _m("A17", AF, "voicing = 1.0 - aperiodicity", "voicing = 1.0 - aperiodicity / 2",
       AUDIO_TESTS, "voicing confidence halved aperiodicity"),
    _m("A18", AF, "0.5 * (left - right)", "0.5 * (right - left)", AUDIO_TESTS,
       "parabolic pitch interpolation the wrong way"),
    _m("A19", AF, "cumulative = np.cumsum(power, axis=1)",
       "cumulative = np.cumsum(magnitude, axis=1)", AUDIO_TESTS, "roll-off on magnitude"),
    _m("A20", AF, "weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]",
       "weights *= 1.0", AUDIO_TESTS, "mel filters not area-normalised"),
    _m("A21", AF, "np.log2(np.maximum(f0, 1.0))", "np.log(np.maximum(f0, 1.0))", AUDIO_TESTS,
       "natural log of f0"),
    _m("A22", AF, "np.clip(hnr, -20.0, 40.0)", "np.clip(hnr, -20.0, 20.0)", AUDIO_TESTS,
       "HNR capped at 20 dB"),
    # --- face crop and expression CNN (issue 16) ---
    _m("X1", "edgemood/face_expression.py", "cos, sin = math.cos(roll), math.sin(roll)",
       "cos, sin = 1.0, 0.0", ["tests/runtime/test_face_expression.py"],
       "crop ignores the head roll"),
    _m("X2", "edgemood/face_expression.py", "return crop.astype(np.float32) / 127.5 - 1.0",
       "return crop.astype(np.float32) / 255.0", ["tests/runtime/test_face_expression.py"],
       "crop scaled to [0, 1], not [-1, 1]"),
    _m("X3", "edgemood/visual_features.py", "return full[self._columns]",
       "return full[: len(self.names)]", ["tests/runtime/test_face_expression.py"],
       "feature columns not in the card's order"),
    # --- visual features ---
    _m("V1", VF, "cos, sin = math.cos(-roll), math.sin(-roll)",
       "cos, sin = math.cos(roll), math.sin(roll)", VISUAL_TESTS, "face frame rotated wrong way"),
    _m("V2", VF, "z = points[:, 2] / scale", "z = points[:, 2]", VISUAL_TESTS,
       "depth not divided by the eye span"),
    _m("V3", VF, "brow_r, brow_l = above(105, 159), above(334, 386)",
       "brow_r, brow_l = above(105, 145), above(334, 386)", VISUAL_TESTS, "brow vs lower lid"),
    _m("V4", VF, "return float(xy[b, 1] - xy[a, 1])", "return float(xy[a, 1] - xy[b, 1])",
       VISUAL_TESTS, "'above' sign flipped"),
    _m("V5", VF, "dist(13, 14) / max(mouth_width, 1e-6)", "dist(13, 14) / max(dist(0, 17), 1e-6)",
       VISUAL_TESTS, "mouth aspect over lip height"),
    _m("V6", VF, "math.atan2(float(points[263, 2] - points[33, 2])",
       "math.atan2(float(points[33, 2] - points[263, 2])", VISUAL_TESTS, "yaw sign"),
    _m("V7", VF, "vertical = points[152] - points[10]", "vertical = points[152] - points[1]",
       VISUAL_TESTS, "pitch from the nose tip"),
    _m("V8", VF, "        corner_l - corner_r,", "        corner_r - corner_l,", VISUAL_TESTS,
       "mouth asymmetry sign"),
    _m("V9", VF, "eye_open_r = dist(159, 145) / max(dist(33, 133), 1e-6)",
       "eye_open_r = dist(159, 145)", VISUAL_TESTS, "right eye opening not normalised"),
    # --- decode ---
    _m("D1", DE, "    if side <= MAX_FRAME_SIDE:\n        return frame",
       "    if True:\n        return frame", DECODE_TESTS, "large frames not shrunk"),
    _m("D2", DE, "next_pick += step", "next_pick += step / 2", DECODE_TESTS,
       "frames sampled at twice the rate"),
    _m("D3", DE, "np.concatenate(chunks)[:limit]", "np.concatenate(chunks)", DECODE_TESTS,
       "audio not cut at the limit"),
    _m("D4", DE, 'AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)',
       'AudioResampler(format="flt", layout="mono", rate=22050)', DECODE_TESTS,
       "resampled to 22.05 kHz"),
    _m("D5", DE, "if path.stat().st_size == 0:", "if False:", DECODE_TESTS,
       "empty file not named as such"),
    _m("D6", DE, "stamp = frame.time if frame.time is not None else count / native",
       "stamp = count / native", DECODE_TESTS, "frame times counted, skipped frames ignored"),
    _m("D7", DE, "if not (s.disposition & s.disposition.attached_pic)", "if True",
       DECODE_TESTS, "cover art counted as video"),
    _m("D8", DE, "turns = round(rotation / 90) % 4", "turns = round(-rotation / 90) % 4",
       DECODE_TESTS, "rotated video turned the wrong way"),
    _m("D9", DE, "damaged = True  # a damaged packet: skip it, the next keyframe recovers\n"
       "                    continue", "raise", DECODE_TESTS, "decoding stops at a damaged packet"),
    # --- watch folder ---
    _m("W1", WA, "        return folder / candidate", "        return folder / name",
       WATCH_TESTS, "_free_name returns the name unchanged (issue 19)"),
    _m("W2", WA, "elif now - seen[2] >= settle:", "elif now - seen[2] >= 0:",
       WATCH_TESTS, "no settle time"),
    _m("W3", WA, "name.lower().endswith(PARTIAL_SUFFIXES + SIDECAR_SUFFIXES)",
       "name.lower().endswith(SIDECAR_SUFFIXES)", WATCH_TESTS, ".part files picked up"),
    _m("W4", WA, "os.replace(clip, self._free_name(self.inbox, clip.name))",
       "os.replace(clip, self.inbox / clip.name)", WATCH_TESTS, "recover overwrites the inbox"),
    _m("W5", WA, "folders = (self.inbox,) if folder == self.inbox else (self.done, self.failed)",
       "folders = (folder,)", WATCH_TESTS, "done/ and failed/ names not shared"),
    _m("W6", WA, 'result = {**payload["json"], "file": original}', 'result = {**payload["json"]}',
       WATCH_TESTS, "result names the processing/ path"),
    # --- text input (issue 15) ---
    _m("T1", TR, "    if sidecar.is_file():", "    if sidecar.is_file() and False:", TEXT_TESTS,
       "CLIP.txt skipped"),
    _m("T2", TR, "return words_between(cues, 0.0, span_s)", "return words_between(cues, 0.0, 1e9)",
       TEXT_TESTS, "subtitle cues past the analysed span read"),
    _m("T3", TX, "record.name == encoder_name(manifest) and dim == width",
       "dim == width", TEXT_TESTS, "encoder identity not checked"),
    _m("T4", TX, "self.encoder: TextEncoder | None = None",
       "self.encoder: TextEncoder | None = TextEncoder(self.directory, threads=threads)",
       TEXT_TESTS, "text encoder loaded eagerly"),
    _m("T5", WA, 'return not any(other != name and other.lstrip(".").startswith(stem)',
       'return True or not any(other != name and other.lstrip(".").startswith(stem)',
       TEXT_TESTS, "a CLIP.txt whose clip is on its way taken as text-only"),
    # --- the data path: what is read, clips and windows alike (issue 26) ---
    _m("F1", FE, 'plan.visual_notes.append("visual branch',
       'plan.visual_notes.count("visual branch',
       DATA_PATH_TESTS, "an unused video track goes without a note"),
    _m("F2", FE, "window.end = min(end, self.media_end) if done else end", "window.end = end",
       DATA_PATH_TESTS, "the last window runs past the recording's end"),
    _m("F3", FE, "frames = itertools.chain([first], frames)", "pass", DATA_PATH_TESTS,
       "the first frame given as an array is dropped"),
    _m("F4", FE, "samples = samples / float(np.iinfo(samples.dtype).max)", "pass",
       DATA_PATH_TESTS, "integer PCM given as an array is not scaled"),
    # --- corpora and cross-corpus training (issue 25) ---
    _m("C1", "edgemood/metrics.py",
       "restricted = present[probabilities[:, present].argmax(1)]",
       "restricted = probabilities.argmax(1)", CORPUS_TESTS,
       "restricted UAR taken from the 8-way answer"),
    _m("C2", "edgemood/train/fit.py",
       "log_p = torch.log_softmax(scores.masked_fill(allowed == 0, -1e9), dim=1)",
       "log_p = torch.log_softmax(scores, dim=1)", CORPUS_TRAIN_TESTS,
       "the loss not restricted to the corpus' classes"),
    _m("C3", "edgemood/corpora.py", '"T": "sad",', '"T": "fearful",', CORPUS_TESTS,
       "EmoDB's T (Trauer) read as fearful"),
    _m("C4", "edgemood/train/fit.py",
       "weights = np.array([1.0 / (classes[p[0]] * count[p]) for p in pairs])",
       "weights = np.array([1.0 / count[p] for p in pairs])", CORPUS_TRAIN_TESTS,
       "corpus+class balance forgets the corpus share"),
    _m("C5", "edgemood/train/evaluate.py", "tested = {id(c) for c in test}", "tested = set()",
       CORPUS_TRAIN_TESTS, "test speakers also train"),
    # --- the INT8 recipe ---
    Mutant("Q1", "quantize/fusion_onnx.py",
           (("per_channel=True,", "per_channel=False,"),
            ("nodes_to_exclude=exclude,", "nodes_to_exclude=[],")),
           tuple(INT8_TESTS), "ONNX: output layer quantized, per tensor (issue 19)"),
    _m("Q2", "quantize/fusion_onnx.py", "per_channel=True,", "per_channel=False,", INT8_TESTS,
       "ONNX: per-tensor weights"),
    _m("Q3", "quantize/fusion_onnx.py",
       "exclude = [] if all_layers else [*frame_encoder_layers(fp32), output_layer(fp32)]",
       "exclude = [] if all_layers else [*frame_encoder_layers(fp32)]", INT8_TESTS,
       "ONNX: output layer quantized"),
    _m("Q4", "quantize/fusion_tflite.py", "get_symmetric_quantization_config(is_per_channel=True)",
       "get_symmetric_quantization_config(is_per_channel=False)", INT8_TESTS,
       "TFLite: per-tensor weights"),
    _m("Q5", "quantize/fusion_tflite.py", "None if all_layers else chosen_only", "None",
       INT8_TESTS, "TFLite: every layer quantized"),
    _m("Q6", "quantize/parity.py", 'result["agreement"] >= MIN_AGREEMENT',
       'result["agreement"] >= 0.5', INT8_TESTS, "parity bar at 50 % agreement"),
    # --- the HTTP status of bad input (the README's table) ---
    _m("H1", "edgemood/service/http_api.py", '"unreadable": 403,', '"unreadable": 404,', HTTP_TESTS,
       "unreadable path answered 404"),
    _m("H2", "edgemood/service/http_api.py", '"not_a_file": 404,', '"not_a_file": 415,', HTTP_TESTS,
       "directory answered 415"),
    _m("H3", "edgemood/service/http_api.py", '"nothing_usable": 422,', '"nothing_usable": 415,',
       HTTP_TESTS, "silence / no audio answered 415"),
]
# fmt: on


def _scratch_copy() -> Path:
    """The tracked files (and untracked, not ignored ones) of the checkout, in a temp folder."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
        capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="edgemood-mutants-"))
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    return root


def run(mutant: Mutant, root: Path, timeout: float = 900.0) -> tuple[str, float, str]:
    """Apply, test, restore. Returns ('killed' | 'survived' | 'timeout' | 'stale', seconds,
    detail); 'stale': the text to replace is no longer in the file."""
    path = root / mutant.file
    original = path.read_text(encoding="utf-8")
    text = original
    for old, new in mutant.edits:
        if text.count(old) != 1:  # the code moved on: update this mutant
            return "stale", 0.0, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    # The scratch copy's package first: the editable install points at the real checkout.
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    clock = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutant.tests],
            cwd=root, env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        outcome = "survived" if done.returncode == 0 else "killed"
        failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
        detail = failed[0].split(" - ")[0].removeprefix("FAILED ") if failed else ""
        if done.returncode not in (0, 1):
            detail = detail or f"pytest exit {done.returncode}"
    except subprocess.TimeoutExpired:
        outcome, detail = "timeout", ""
    finally:
        path.write_text(original, encoding="utf-8")
    return outcome, time.monotonic() - clock, detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated mutant ids")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m.id in args.only.split(",")]
    if args.list:
        for m in chosen:
            print(f"{m.id:4s} {m.file:28s} {m.what}")
        return 0
    root = _scratch_copy()
    print("| mutant | module | change | outcome | first failing test | s |")
    print("|---|---|---|---|---|---|")
    survivors = 0
    try:
        for mutant in chosen:
            outcome, seconds, detail = run(mutant, root)
            survivors += outcome != "killed"
            print(f"| {mutant.id} | {Path(mutant.file).stem} | {mutant.what} | {outcome} | "
                  f"{detail or '-'} | {seconds:.0f} |", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{len(chosen) - survivors} of {len(chosen)} killed, {survivors} survived")
    return 0


if __name__ == "__main__":
    sys.exit(main())
