"""Issue 14: what a new user trips over. Nothing is cut, skipped or ignored without a word; bad
paths fail in one line; bench and infer read the same files and go on past a bad clip."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ANGRY, HAPPY, SAD
from typer.testing import CliRunner

from edgemood.cli import app
from edgemood.decode import MAX_SECONDS, media_files
from edgemood.model import DEFAULT_MODEL_DIR
from edgemood.ravdess import parse_name

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _ravdess_copy(source: Path, folder: Path, actor: int, suffix: str = ".flac") -> Path:
    """A committed clip under the RAVDESS name of another actor (labels follow the name)."""
    parts = source.stem.split("-")
    path = folder / ("-".join([*parts[:-1], f"{actor:02d}"]) + suffix)
    shutil.copy(source, path)
    return path


# 1. Long clips -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory) -> Path:
    """65 s of a real voice (the angry fixture, repeated): longer than the 60 s analysed."""
    import soundfile

    samples, rate = soundfile.read(str(ANGRY), dtype="float32")
    repeats = int(np.ceil(65 * rate / len(samples)))
    path = tmp_path_factory.mktemp("long") / "long.wav"
    soundfile.write(str(path), np.tile(samples, repeats)[: 65 * rate], rate)
    return path


def test_a_long_clip_says_it_was_cut(audio_model, long_wav):
    result = runner.invoke(app, ["infer", "--json", "-m", str(audio_model), str(long_wav)])
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    assert line["analysed_s"] == pytest.approx(MAX_SECONDS, abs=0.05)
    assert line["duration_s"] == pytest.approx(65.0, abs=0.05)
    assert any("first 60 s of 65.0 s" in note for note in line["notes"]), line["notes"]
    text = runner.invoke(app, ["infer", "-m", str(audio_model), str(long_wav)])
    assert "note: only the first 60 s of 65.0 s analysed" in text.stdout


def test_the_service_says_a_long_clip_was_cut(audio_model, long_wav):
    from edgemood.service.worker import RecognizerSettings, WorkerPool

    pool = WorkerPool(RecognizerSettings(model=audio_model))
    try:
        payload = pool.infer(long_wav, None, 120)
    finally:
        pool.close()
    assert payload["json"]["analysed_s"] == pytest.approx(MAX_SECONDS, abs=0.05)
    assert payload["json"]["duration_s"] == pytest.approx(65.0, abs=0.05)
    assert any("first 60 s of 65.0 s" in note for note in payload["json"]["notes"])


def test_a_short_clip_is_analysed_whole(audio_model):
    import soundfile

    seconds = soundfile.info(str(ANGRY)).duration
    result = runner.invoke(app, ["infer", "--json", "-m", str(audio_model), str(ANGRY)])
    (line,) = _lines(result.stdout)
    assert line["analysed_s"] == pytest.approx(seconds, abs=0.05)
    assert line["duration_s"] == pytest.approx(seconds, abs=0.05)
    assert not any("analysed" in note for note in line["notes"])


# 2. One list of media suffixes; bench goes on past a bad clip ------------------------------


def test_folder_scan_finds_the_audio_formats_infer_reads(tmp_path):
    names = ["a.mp3", "b.ogg", "c.opus", "d.m4a", "e.WAV", "f.webm", "notes.txt", "g.json"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    found = {p.name for p in media_files([tmp_path])}
    assert found == {"a.mp3", "b.ogg", "c.opus", "d.m4a", "e.WAV", "f.webm"}


def _encode(source: Path, path: Path, codec: str) -> Path:
    """Re-encode a fixture clip with PyAV (its bundled FFmpeg)."""
    import av
    import soundfile

    samples, rate = soundfile.read(str(source), dtype="float32")
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=48000 if codec == "libopus" else rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            (samples * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=stream.rate)
        for chunk in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_bench_reports_a_bad_clip_and_measures_the_others(audio_model, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(HAPPY, folder / "happy.flac")
    mp3 = _encode(SAD, folder / "sad.mp3", "mp3")
    (folder / "broken.wav").write_bytes(b"RIFF not really a wave file" * 10)
    args = ["bench", "--json", "-m", str(audio_model), "--runs", "1", "--warmup", "0"]
    result = runner.invoke(app, [*args, "--cold-runs", "0", str(folder)])
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert report["clips"] == [str(folder / "happy.flac"), str(mp3)]
    assert [f["file"] for f in report["failed"]] == [str(folder / "broken.wav")]
    assert "broken.wav: not a readable audio or video file" in result.stderr


# 3. Accuracy on actors the model was trained on ---------------------------------------------


@pytest.fixture()
def card_model(audio_model, tmp_path) -> Path:
    """The test model, its card saying it was trained on actors 1 and 2."""
    directory = tmp_path / "model"
    shutil.copytree(audio_model, directory)
    card = json.loads((directory / "model.json").read_text())
    card["training"]["actors"] = [1, 2]
    (directory / "model.json").write_text(json.dumps(card))
    return directory


def test_bench_accuracy_flags_training_actors_and_scores_the_others(card_model, tmp_path):
    data = tmp_path / "ravdess"
    data.mkdir()
    for source in (ANGRY, HAPPY, SAD):
        _ravdess_copy(source, data, 1)
    unheard = [_ravdess_copy(ANGRY, data, 5), _ravdess_copy(SAD, data, 7)]
    args = ["bench", "-m", str(card_model), "--runs", "1", "--warmup", "0", "--cold-runs", "0"]
    result = runner.invoke(app, [*args, "--json", "--data", str(data), str(HAPPY)])
    assert result.exit_code == 0, result.output
    accuracy = json.loads(result.stdout)["accuracy"]
    assert accuracy["training_actors"] == [1, 2]
    assert accuracy["heard_clips"] == 3
    assert accuracy["unheard"]["actors"] == [5, 7] and accuracy["unheard"]["clips"] == 2
    # The unheard score is the one infer gives on those clips alone.
    infer = runner.invoke(app, ["infer", "--json", "-m", str(card_model), *map(str, unheard)])
    predicted = [line["emotion"] for line in _lines(infer.stdout)]
    truth = [parse_name(p).emotion for p in unheard]
    expected = np.mean([p == t for p, t in zip(predicted, truth)])
    assert accuracy["unheard"]["accuracy"] == pytest.approx(expected)
    table = runner.invoke(app, [*args, "--data", str(data), str(HAPPY)])
    assert "3 of 5 clips are from actors this model was trained on" in table.stdout
    assert "unheard actors 5, 7: accuracy" in table.stdout
    assert "accuracy: clips 5/5" in table.stderr  # progress, off stdout


def test_bench_accuracy_reads_an_emodb_folder_and_scores_its_four_classes(card_model, tmp_path):
    """EmoDB names (speaker, emotion letter): boredom is left out and said; the restricted UAR
    is the one infer's probabilities give, restricted to the classes the folder has."""
    card = json.loads((card_model / "model.json").read_text())
    card["training"]["corpora"] = {"emodb": {"speakers": ["03"]}}
    (card_model / "model.json").write_text(json.dumps(card))
    data = tmp_path / "emodb"
    data.mkdir()
    names = {"03a01Wa": ANGRY, "08a01Ta": SAD, "10a01Fa": HAPPY, "10a02Wb": SAD, "16a01La": SAD}
    for name, source in names.items():
        shutil.copy(source, data / f"{name}.flac")
    args = ["bench", "-m", str(card_model), "--runs", "1", "--warmup", "0", "--cold-runs", "0"]
    result = runner.invoke(app, [*args, "--json", "--data", str(data), str(HAPPY)])
    assert result.exit_code == 0, result.output
    accuracy = json.loads(result.stdout)["accuracy"]
    assert accuracy["corpus"] == "emodb" and accuracy["left_out"] == {"boredom": 1}
    assert "left out 1 clip of emotions outside the 8 (boredom 1)" in result.stderr
    assert accuracy["training_speakers"] == ["03"] and accuracy["heard_clips"] == 1
    assert accuracy["unheard"]["speakers"] == ["08", "10"]
    scored = sorted(p for p in data.iterdir() if "L" not in p.stem)
    infer = runner.invoke(app, ["infer", "--json", "-m", str(card_model), *map(str, scored)])
    classes = ["happy", "sad", "angry"]
    truth = {"W": "angry", "T": "sad", "F": "happy"}
    recalls = {c: [] for c in classes}
    for line in _lines(infer.stdout):
        stem = Path(line["file"]).stem
        restricted = max(classes, key=lambda c: line["probabilities"][c])
        recalls[truth[stem[5]]].append(restricted == truth[stem[5]])
    expected = np.mean([np.mean(r) for r in recalls.values()])
    assert accuracy["uar_restricted"] == pytest.approx(expected, abs=1e-3)
    table = runner.invoke(app, [*args, "--data", str(data), str(HAPPY)])
    assert "3 of the 8 emotions here: restricted to them, UAR" in table.stdout
    assert "unheard speakers 08, 10: accuracy" in table.stdout


# 4. Missing model and text encoder paths --------------------------------------------------


def test_a_missing_model_path_is_named(tmp_path):
    missing = tmp_path / "nonexistent"
    result = runner.invoke(app, ["infer", "--model", str(missing), str(ANGRY)])
    assert result.exit_code == 3
    message = f"edgemood: {missing}: model not found (no such file or directory)"
    assert result.stderr.strip() == message


def test_a_missing_text_encoder_fails_even_for_an_audio_model(audio_model, tmp_path):
    missing = tmp_path / "nonexistent"
    args = ["infer", "-m", str(audio_model), "--text-encoder", str(missing), str(ANGRY)]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output
    assert f"{missing}: text encoder not found" in result.stderr


def test_an_unused_text_encoder_is_noted(audio_model, encoder_dir):
    args = ["infer", "--json", "-m", str(audio_model), "--text-encoder", str(encoder_dir)]
    result = runner.invoke(app, [*args, str(ANGRY)])
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    assert "text branch not trained in this model: text encoder not used" in line["notes"]


def test_precision_that_contradicts_the_model_file_is_refused():
    file = DEFAULT_MODEL_DIR / "fusion.int8.tflite"
    result = runner.invoke(app, ["infer", "-m", str(file), "--precision", "fp32", str(ANGRY)])
    assert result.exit_code == 3, result.output
    assert "is a int8 model file, but --precision fp32 was asked" in result.stderr


# 5. Patterns and folders given to infer -----------------------------------------------------


def test_infer_expands_a_quoted_pattern_and_a_folder(audio_model, tmp_path):
    nested = tmp_path / "clips" / "inner"
    nested.mkdir(parents=True)
    shutil.copy(ANGRY, tmp_path / "clips" / "a.flac")
    shutil.copy(SAD, nested / "b.flac")
    pattern = str(tmp_path / "clips" / "*.flac")
    result = runner.invoke(app, ["infer", "--json", "-m", str(audio_model), pattern])
    assert result.exit_code == 0, result.output
    assert [line["file"] for line in _lines(result.stdout)] == [str(tmp_path / "clips/a.flac")]
    result = runner.invoke(app, ["infer", "--json", "-m", str(audio_model), str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = [line["file"] for line in _lines(result.stdout)]
    assert files == [str(tmp_path / "clips/a.flac"), str(nested / "b.flac")]


def test_a_pattern_matching_nothing_is_reported(audio_model, tmp_path):
    pattern = str(tmp_path / "*.m4a")
    result = runner.invoke(app, ["infer", "--json", "-m", str(audio_model), pattern, str(ANGRY)])
    assert result.exit_code == 2
    assert f"{pattern}: no file matches this pattern" in result.stderr
    lines = _lines(result.stdout)
    assert lines[0] == {"file": pattern, "error": "no file matches this pattern"}
    assert lines[1]["file"] == str(ANGRY)


# 6. Training progress and the resolved device ---------------------------------------------


def _two_actors(folder: Path) -> Path:
    """The three committed clips as actors 1 and 2."""
    folder.mkdir()
    for actor in (1, 2):
        for source in (ANGRY, HAPPY, SAD):
            _ravdess_copy(source, folder, actor)
    return folder


@pytest.mark.train
def test_training_reports_each_epoch_and_the_device(tmp_path):
    from edgemood.features import FeatureExtractor
    from edgemood.train.data import index_clips
    from edgemood.train.fit import TrainConfig, train_model

    folder = _two_actors(tmp_path / "data")
    clips = index_clips(folder)
    extractor = FeatureExtractor(use={"audio": True, "visual": False, "text": False})
    for clip in clips:
        clip.inputs = extractor(clip.path).inputs
    stream = io.StringIO()
    config = TrainConfig(epochs=3, device="cpu", batch_size=4)
    _, history = train_model(clips[:3], clips[3:], config=config, label="fold 1/5 ",
                             stream=stream, log=lambda line: None)  # fmt: skip
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [f"fold 1/5 epoch {e}/3" for e in (1, 2, 3)]
    for line, record in zip(lines, history["history"]):
        assert f"loss {record['train_loss']:.4f}" in line
        assert f"accuracy {record['val_accuracy']:.3f}" in line
    assert history["device"] == "cpu"


@pytest.mark.train
def test_the_card_records_the_resolved_device(tmp_path):
    folder = _two_actors(tmp_path / "data")
    out = tmp_path / "model"
    args = ["train", "--data", str(folder), "--out", str(out), "--cache", str(tmp_path / "c")]
    result = runner.invoke(app, [*args, "--epochs", "1", "--no-validation", "--speed", ""])
    assert result.exit_code == 0, result.output
    training = json.loads((out / "model.json").read_text())["training"]
    assert training["config"]["device"] == "auto"  # what was asked
    import torch

    resolved = f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
    assert training["device"] == resolved  # what it resolved to
    assert f"training on {resolved}" in result.stderr


# 7. quantize fusion says why FP32 stays the default -----------------------------------------


@pytest.mark.train
def test_quantize_explains_an_fp32_default():
    from quantize.fusion import choose_default

    report = {
        "method": "static",
        "parity": {"holds": True, "test_actors_in_training": True, "test": {"actors": [1, 2]},
                   "agreement": 1.0, "accuracy_change": 0.0},
    }  # fmt: skip
    default, reason = choose_default(report, [])
    assert default == "fp32"
    assert "test actors 1,2 were in this model's training data" in reason
    assert "--held-out-evidence" in reason
    held_out = json.loads(json.dumps(report))
    held_out["parity"]["test_actors_in_training"] = False
    assert choose_default(report, [held_out])[0] == "int8"
    assert choose_default(held_out, [])[0] == "int8"


# 8. Export without network ----------------------------------------------------------------


@pytest.mark.train
def test_export_text_without_the_hub_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "no-such-owner/no-such-distilbert"
    result = runner.invoke(app, ["export", "text", name, str(tmp_path / "out")])
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith(f"export: {name}: not found locally and could not be downloaded")
    assert "pass a local directory" in lines[0]


_NOISY = """
import os, sys, warnings
from export.quiet import third_party_output
with third_party_output(verbose=sys.argv[1] == "verbose", command="edgemood quantize"):
    print("(00:00) [START] LiteRT-Torch Convert")
    os.write(2, b"I0000 flatbuffer_export.cc:4410] Estimated count of arithmetic ops\\n")
    warnings.warn("isinstance(treespec, LeafSpec) is deprecated", FutureWarning)
    if sys.argv[2] == "fail":
        raise RuntimeError("conversion failed")
print("fusion.int8.onnx: parity holds")
"""


def _noisy(*args: str):
    import subprocess

    return subprocess.run(
        [sys.executable, "-c", _NOISY, *args], capture_output=True, text=True, cwd=REPO
    )


def test_third_party_output_is_summarised_unless_verbose():
    quiet = _noisy("quiet", "ok")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "fusion.int8.onnx: parity holds\n"
    (line,) = quiet.stderr.splitlines()
    assert line.startswith("edgemood quantize: ") and "hidden (--verbose shows them)" in line
    verbose = _noisy("verbose", "ok")
    assert "[START] LiteRT-Torch Convert" in verbose.stdout
    assert "Estimated count" in verbose.stderr and "LeafSpec" in verbose.stderr
    failed = _noisy("quiet", "fail")  # a failure shows what was held back: it may say why
    assert failed.returncode == 1
    assert "[START] LiteRT-Torch Convert" in failed.stderr and "conversion failed" in failed.stderr


# 9. Sidecars in the watch folder ------------------------------------------------------------


def test_watch_folder_files_a_sidecar_with_its_clip(tmp_path):
    from edgemood.service.watch import WatchFolder

    seen = {}

    def infer(path: Path) -> dict:
        seen["transcript"] = path.with_suffix(".txt").read_text()
        return {"json": {"file": str(path), "emotion": "calm"}, "timings": {}}

    inbox = tmp_path / "inbox"
    watch = WatchFolder(inbox, tmp_path / "results", infer, settle_s=0.0)
    (inbox / "clip.txt").write_text("kids are talking by the door")
    (inbox / "lonely.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    assert watch.ready(0.0) == [] and watch.ready(1.0) == []  # sidecars alone are not clips
    shutil.copy(ANGRY, inbox / "clip.flac")
    watch.ready(2.0)
    (ready,) = watch.ready(3.0)
    assert watch.process(ready) == "done"
    assert seen["transcript"] == "kids are talking by the door"
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["clip.flac", "clip.txt"]
    assert list((inbox / "failed").iterdir()) == []
    assert (inbox / "lonely.srt").exists()  # still waiting for its clip
    # The same name again: the second pair is renamed together.
    (inbox / "clip.txt").write_text("dogs are sitting by the door")
    shutil.copy(ANGRY, inbox / "clip.flac")
    watch.ready(4.0)
    assert watch.process(watch.ready(5.0)[0]) == "done"
    assert (inbox / "done" / "clip.1.txt").read_text() == "dogs are sitting by the door"
    assert (inbox / "done" / "clip.1.flac").exists()


# 10. Small ones -----------------------------------------------------------------------------


def test_json_errors_do_not_repeat_the_file_name(tmp_path):
    missing = str(tmp_path / "a.mp4")
    result = runner.invoke(app, ["infer", "--json", missing])
    assert result.exit_code == 2
    assert _lines(result.stdout) == [{"file": missing, "error": "file not found"}]
    assert result.stderr.strip() == f"edgemood: {missing}: file not found"


def test_serve_takes_allowed_dirs_on_the_command_line(tmp_path, monkeypatch):
    import edgemood.service.server

    captured = {}

    def run(config) -> int:
        captured["c"] = config
        return 0

    monkeypatch.setattr(edgemood.service.server, "run", run)
    config = tmp_path / "config.toml"
    config.write_text(f'allowed_dirs = ["{tmp_path / "old"}"]\n')
    args = ["serve", "--config", str(config), "--allow-dir", str(tmp_path / "a")]
    result = runner.invoke(app, [*args, "--allow-dir", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert captured["c"].allowed_dirs == [tmp_path / "a", tmp_path / "b"]


def test_help_is_not_cut_at_80_columns():
    import os
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "edgemood", "infer", "--help"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, check=True,
    )  # fmt: skip
    text = " ".join(done.stdout.split())
    assert "patterns such as '*.m4a' (expanded here when quoted)" in text, done.stdout
    assert "…" not in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "edgemood", "--help"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, check=True,
    )  # fmt: skip
    commands = done.stdout.split("Commands:")[1]
    assert "..." not in commands and "…" not in commands, done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
