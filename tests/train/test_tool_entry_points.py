"""``edgemood export`` and ``edgemood quantize`` from the command line (issue 19), on tiny
models: an audio-only fusion model with random weights and the tiny DistilBERT of conftest.
Each command's files, card entries and printed summary are checked, and a bad option ends in
one clear line, not a traceback. Needs the [train] extra."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import build_model_dir

REPO = Path(__file__).resolve().parents[2]


def _tool(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgemood", *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_export_and_quantize_fusion_from_the_command_line(tmp_path, ravdess_dir):
    trained = {"audio": True, "visual": False, "text": False}
    model = build_model_dir(tmp_path / "model", trained, seed=5)
    done = _tool("export", "fusion", model, "--no-tflite")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"onnx_fp32: {model / 'fusion.onnx'} (")
    assert not (model / "fusion.tflite").exists()

    done = _tool("quantize", "fusion", model, "--data", ravdess_dir, "--test-actors", "1,2",
                 "--no-tflite")  # fmt: skip
    assert done.returncode == 0, done.stderr
    card = json.loads((model / "model.json").read_text())
    report = json.loads((model / "fusion.int8.onnx.json").read_text())
    assert card["files"]["onnx_int8"] == "fusion.int8.onnx" and "tflite_int8" not in card["files"]
    assert report["parity"]["test"]["actors"] == [1, 2]
    # One line per INT8 file, then the default the card got and why (issue 14).
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("fusion.int8.onnx:")]
    assert "default" in done.stdout
    parity = report["parity"]
    assert line.startswith(f"fusion.int8.onnx: {report['size_bytes']:,} bytes")
    assert f"agreement {parity['agreement']:.2%} on {parity['clips']} clips" in line
    assert line.endswith("parity holds" if parity["holds"] else "parity FAILS")


def test_quantize_text_encoder_from_the_command_line(tmp_path, encoder_dir):
    """On the tiny DistilBERT exported by conftest (export_text_encoder, the function behind
    ``edgemood export text``, which is not run again here: it costs a minute)."""
    out = Path(shutil.copytree(encoder_dir, tmp_path / "encoder"))
    done = _tool("quantize", "text", out)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "text_encoder.json").read_text())
    assert manifest["files"]["int8"] == "model.int8.onnx"
    assert done.stdout.startswith(
        f"model.int8.onnx: {(out / 'model.int8.onnx').stat().st_size:,} bytes"
    )
    assert "cosine to FP32 min" in done.stdout


def test_tools_fail_in_one_line(tmp_path):
    for tool in ("export", "quantize"):
        done = _tool(tool)  # no arguments: the help
        assert "Usage:" in done.stdout + done.stderr and "fusion" in done.stdout + done.stderr
    missing = tmp_path / "nothing"
    done = _tool("export", "fusion", missing)
    assert (done.returncode, done.stderr) == (
        3,
        f"export: {missing}: not a model directory (no model.json)\n",
    )
    done = _tool("quantize", "fusion", missing, "--data", tmp_path, "--test-actors", "one")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "comma-separated actor numbers" in done.stderr
