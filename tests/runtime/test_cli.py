"""End to end through the real CLI: clips in, JSON lines / text out, errors one line each."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ANGRY, HAPPY, SAD
from typer.testing import CliRunner

from edgemood.cli import app
from edgemood.labels import EMOTIONS

runner = CliRunner()


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_json_shape_on_a_ravdess_flac(av_model):
    result = runner.invoke(app, ["infer", "--json", "--model", str(av_model), str(ANGRY)])
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    assert list(line) == [
        *("file", "emotion", "sentiment", "probabilities", "modalities", "text_source"),
        *("analysed_s", "duration_s", "notes"),
    ]
    assert line["file"] == str(ANGRY)
    assert list(line["probabilities"]) == list(EMOTIONS)
    assert abs(sum(line["probabilities"].values()) - 1) < 1e-3
    assert line["emotion"] == max(line["probabilities"], key=line["probabilities"].get)
    assert line["sentiment"] in ("positive", "neutral", "negative")
    assert line["modalities"] == {"audio": True, "visual": False, "text": False}


def test_video_with_face_uses_audio_and_visual(av_model, face_clip):
    result = runner.invoke(app, ["infer", "--json", "-m", str(av_model), str(face_clip)])
    assert result.exit_code == 0, result.output
    assert _lines(result.stdout)[0]["modalities"] == {"audio": True, "visual": True, "text": False}


def test_video_without_audio_is_visual_only(av_model, silent_video):
    result = runner.invoke(app, ["infer", "--json", "-m", str(av_model), str(silent_video)])
    assert result.exit_code == 0, result.output
    modalities = _lines(result.stdout)[0]["modalities"]
    assert modalities == {"audio": False, "visual": True, "text": False}


def test_audio_only_model_says_the_face_was_not_used(audio_model, face_clip):
    result = runner.invoke(app, ["infer", "-m", str(audio_model), str(face_clip)])
    assert result.exit_code == 0, result.output
    assert "used: audio)" in result.stdout
    assert "visual branch not trained" in result.stdout


def test_audio_only_model_rejects_a_mute_video(audio_model, silent_video):
    result = runner.invoke(app, ["infer", "-m", str(audio_model), str(silent_video)])
    assert result.exit_code == 2
    assert "no usable audio, face or text" in result.stderr
    assert "Traceback" not in result.output


def test_many_clips_bad_ones_reported_others_processed(av_model, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.mp4"
    folder = tmp_path / "no_media"  # a folder is searched for clips; this one has none
    folder.mkdir()
    clips = [ANGRY, text, HAPPY, empty, missing, folder, SAD]
    result = runner.invoke(app, ["infer", "--json", "-m", str(av_model), *map(str, clips)])
    assert result.exit_code == 2
    lines = _lines(result.stdout)
    assert [line["file"] for line in lines] == [str(c) for c in clips]
    errors = {line["file"]: line["error"] for line in lines if "error" in line}
    assert set(errors) == {str(text), str(empty), str(missing), str(folder)}
    assert "not a readable audio or video file" in errors[str(text)]
    assert "empty file" in errors[str(empty)]
    assert "file not found" in errors[str(missing)]
    assert "no media files in this folder" in errors[str(folder)]
    stderr_lines = [line for line in result.stderr.splitlines() if line.startswith("edgemood:")]
    assert len(stderr_lines) == 4 and "Traceback" not in result.output


def test_missing_model_is_one_line(tmp_path):
    result = runner.invoke(app, ["infer", "-m", str(tmp_path), str(ANGRY)])
    assert result.exit_code == 3
    assert result.stderr.strip().count("\n") == 0 and "no model.json" in result.stderr


@pytest.mark.parametrize("command", [[], ["infer"], ["train"], ["evaluate"]])
def test_help_reads_well(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout and len(result.stdout) > 200


def test_device_runtime_imports_no_torch_or_transformers(av_model):
    code = (
        "import sys\n"
        "from edgemood.cli import app\n"
        f"try:\n    app(['infer', '--json', '-m', {str(av_model)!r}, {str(HAPPY)!r}])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "heavy = [m for m in ('torch', 'transformers', 'librosa', 'numba', 'optimum') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert '"emotion"' in result.stdout
    assert "HEAVY []" in result.stdout


def test_silence_is_reported_quiet_speech_is_not(audio_model, tmp_path):
    from media import read_audio, write_clip

    speech = read_audio(HAPPY)
    silent = write_clip(tmp_path / "silent.mkv", None, speech * 0.0)
    quiet = write_clip(tmp_path / "quiet.mkv", None, speech * 0.05)  # about -45 dBFS peaks
    result = runner.invoke(
        app, ["infer", "--json", "-m", str(audio_model), str(silent), str(quiet)]
    )
    assert result.exit_code == 2
    silent_line, quiet_line = _lines(result.stdout)
    assert "audio is silent" in silent_line["error"]
    assert quiet_line["modalities"]["audio"] is True
