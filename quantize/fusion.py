"""Quantize a model directory's fusion model to INT8 ONNX and INT8 TFLite, check parity, and list
the results in its card (the default becomes INT8 ONNX when its parity holds)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgemood.model import FusionModel, read_card
from edgemood.train.model_dir import write_card
from export.fusion import export_fusion
from export.load import load_net
from quantize.calibration import build_splits
from quantize.fusion_onnx import ONNX_INT8, quantize_onnx
from quantize.fusion_tflite import TFLITE_INT8, quantize_tflite
from quantize.parity import parity_report, write_report


def quantize_fusion(
    model_dir: Path,
    data: Path,
    cache: Path | None,
    test_actors: Sequence[int],
    max_calibration: int = 1000,
    keep_output_layer_fp32: bool = True,
    tflite: bool = True,
) -> list[dict]:
    """Write fusion.int8.onnx (+ .json report) and, with ``tflite``, fusion.tflite and
    fusion.int8.tflite (+ report) into ``model_dir``. Returns the reports."""
    directory = Path(model_dir)
    export_fusion(directory, tflite=tflite)  # the FP32 references the INT8 models are judged by
    splits = build_splits(directory, data, cache, test_actors, max_calibration)
    card = read_card(directory)
    files = card["files"]
    reports = []

    fp32 = FusionModel(directory, backend="onnx", precision="fp32")
    path, method = quantize_onnx(
        fp32.file, directory / ONNX_INT8, splits.calibration, keep_output_layer_fp32
    )
    report = parity_report(fp32, FusionModel(path), splits, method, data)
    write_report(report, path.with_suffix(".onnx.json"))
    reports.append(report)
    files["onnx_int8"] = ONNX_INT8

    if tflite:
        fp32_tflite = FusionModel(directory, backend="tflite", precision="fp32")
        net = load_net(directory)
        path, method = quantize_tflite(net, directory / TFLITE_INT8, splits.calibration)
        report = parity_report(fp32_tflite, FusionModel(path), splits, method, data)
        write_report(report, path.with_suffix(".tflite.json"))
        reports.append(report)
        files["tflite_int8"] = TFLITE_INT8

    card["quantization"] = {
        r["model"]: {"size_bytes": r["size_bytes"], "method": r["method"], **r["parity"]}
        for r in reports
    }
    # The device default is INT8 only if it keeps FP32's answers on actors the model never heard
    # (issue 4's bar); agreement on training actors is reported but does not count.
    parity = reports[0]["parity"]
    honest = parity["holds"] and not parity["test_actors_in_training"]
    card["default"] = ONNX_INT8 if honest else files["onnx_fp32"]
    write_card(directory, card)
    return reports
