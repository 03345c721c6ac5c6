"""`edgemood bench`: the numbers it reports are there, plausible and consistent, on real clips."""

from __future__ import annotations

import json
import shutil

from conftest import ANGRY, HAPPY, SAD
from typer.testing import CliRunner

from edgemood.cli import app
from edgemood.decode import media_files

runner = CliRunner()


def test_bench_json_on_a_video_clip(av_model, face_clip):
    result = runner.invoke(
        app,
        ["bench", "--json", "--runs", "2", "--warmup", "1", "--cold-runs", "1", "-m",
         str(av_model), str(face_clip)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["modalities_used"] == {"audio": True, "visual": True, "text": False}
    for stage in ("decode", "audio_features", "face", "fusion"):
        summary = report["stages"][stage]
        assert 0 < summary["median_ms"] <= summary["p95_ms"], stage
        assert summary["n"] == 2
    e2e = report["end_to_end"]["median_ms"]
    # End to end covers every stage, so it is at least their sum (medians of 2 runs: allow 5 %).
    assert e2e >= 0.95 * sum(s["median_ms"] for s in report["stages"].values())
    duration = report["clip_seconds"][0]
    assert report["rtf"] > 0
    assert abs(report["rtf"] - e2e / 1000 / duration) < 0.5 * report["rtf"]
    face = report["face_stage"]
    assert face["frames_per_clip"] > 0 and face["fps"] > 0 and face["frames_with_face"] > 0.5
    assert report["peak_rss_mb"] > 30
    cold = report["cold_start"]
    assert cold["runs"] == 1 and cold["median_s"] > 0 and 30 < cold["peak_rss_mb"] < 2000
    fusion_size = (av_model / "fusion.onnx").stat().st_size
    assert report["sizes_bytes"]["fusion (fusion.onnx)"] == fusion_size


def test_bench_accuracy_on_a_labelled_folder(tmp_path):
    for clip in (ANGRY, HAPPY, SAD):
        shutil.copy(clip, tmp_path / clip.name)
    result = runner.invoke(
        app,
        ["bench", "--cold-runs", "0", "--runs", "1", "--warmup", "0", "--data", str(tmp_path),
         "--backend", "tflite", "--precision", "int8", str(ANGRY)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fusion.int8.tflite (tflite, int8)" in result.stdout
    assert "accuracy on" in result.stdout and "confusion" in result.stdout
    json_run = runner.invoke(
        app,
        ["bench", "--json", "--cold-runs", "0", "--runs", "1", "--warmup", "0", "--data",
         str(tmp_path), str(ANGRY)],
    )  # fmt: skip
    accuracy = json.loads(json_run.stdout)["accuracy"]
    assert accuracy["clips"] == 3 and accuracy["failed"] == []
    assert sum(map(sum, accuracy["confusion"])) == 3
    assert accuracy["emotions_present"] == 3
    correct = sum(accuracy["confusion"][i][i] for i in range(8))
    assert accuracy["accuracy"] == round(correct / 3, 4)


def test_bench_bad_input_is_one_line():
    result = runner.invoke(app, ["bench", "--runs", "1", "/no/such/clip.mp4"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "edgemood: /no/such/clip.mp4: file not found"


def test_media_files_expands_folders(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.flac", "sub/b.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert media_files([tmp_path]) == [tmp_path / "a.flac", tmp_path / "sub" / "b.mp4"]
    assert media_files([tmp_path / "notes.txt"]) == [tmp_path / "notes.txt"]


def test_stage_plot_compares_all_four_model_files(tmp_path):
    from benchmarks.plot_stages import main

    assert main([str(ANGRY), "--runs", "1", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "stages.json").read_text())
    assert list(results) == ["onnx fp32", "onnx int8", "tflite fp32", "tflite int8"]
    files = {r["model_file"].rsplit("/", 1)[1] for r in results.values()}
    assert files == {"fusion.onnx", "fusion.int8.onnx", "fusion.tflite", "fusion.int8.tflite"}
    assert (tmp_path / "stages.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
