"""Quantize a model directory's fusion model to INT8 ONNX and INT8 TFLite, check parity, and list
the results in its card (the default becomes INT8 ONNX when its parity holds)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from edgemood.card import read_card, write_card
from edgemood.model import FusionModel
from export.fusion import export_fusion
from export.load import load_net
from quantize.calibration import build_splits
from quantize.faces import load_face_sets, require_faces
from quantize.fusion_onnx import ONNX_INT8, quantize_onnx
from quantize.fusion_tflite import TFLITE_INT8, quantize_tflite
from quantize.parity import parity_report, write_report
from quantize.texts import load_text_sets, require_texts


def quantize_fusion(
    model_dir: Path,
    data: Path,
    cache: Path | None,
    test_actors: Sequence[int],
    max_calibration: int = 1000,
    all_layers: bool = False,
    tflite: bool = True,
    evidence: Sequence[Path] = (),
    faces: Sequence[Path] = (),
    held_out_faces: Sequence[Path] = (),
    texts: Path | None = None,
) -> list[dict]:
    """Write fusion.int8.onnx (+ .json report) and, with ``tflite``, fusion.tflite and
    fusion.int8.tflite (+ report) into ``model_dir``. ``evidence``: INT8 ONNX reports of the
    same method on held-out actors (see below). ``faces``/``held_out_faces``: face pools for
    calibration and parity, required for a model with a face branch (``quantize.faces``);
    ``texts``: a text pool, required for a model with a text branch (``quantize.texts``).
    Returns the reports."""
    directory = Path(model_dir)
    card = read_card(directory)
    require_faces(card, directory, faces, held_out_faces)  # before slow work
    require_texts(card, directory, texts)
    export_fusion(directory, tflite=tflite)  # the FP32 references the INT8 models are judged by
    fp32 = FusionModel(directory, backend="onnx", precision="fp32")
    face_sets = load_face_sets(fp32, faces, held_out_faces)
    text_sets = load_text_sets(fp32, texts)
    splits = build_splits(
        directory, data, cache, test_actors, max_calibration, faces=face_sets, texts=text_sets
    )
    card = read_card(directory)
    files = card.files
    reports = []

    path, method = quantize_onnx(fp32.file, directory / ONNX_INT8, splits.calibration, all_layers)
    report = parity_report(fp32, FusionModel(path), splits, method, data)
    write_report(report, path.with_suffix(".onnx.json"))
    reports.append(report)
    files["onnx_int8"] = ONNX_INT8

    if tflite:
        fp32_tflite = FusionModel(directory, backend="tflite", precision="fp32")
        net = load_net(directory)
        path, method = quantize_tflite(net, directory / TFLITE_INT8, splits.calibration, all_layers)
        report = parity_report(fp32_tflite, FusionModel(path), splits, method, data)
        write_report(report, path.with_suffix(".tflite.json"))
        reports.append(report)
        files["tflite_int8"] = TFLITE_INT8

    card.quantization = {
        r["model"]: {"size_bytes": r["size_bytes"], "method": r["method"], **r["parity"]}
        for r in reports
    }
    proof = [json.loads(Path(p).read_text(encoding="utf-8")) for p in evidence]
    default, card.default_reason = choose_default(reports[0], proof)
    card.default = ONNX_INT8 if default == "int8" else files["onnx_fp32"]
    if proof:
        card.int8_held_out_evidence = [
            {"report": str(p), "agreement": r["parity"]["agreement"],
             "accuracy_change": r["parity"]["accuracy_change"],
             "test_actors": r["parity"]["test"]["actors"], "holds": r["parity"]["holds"]}
            for p, r in zip(evidence, proof)
        ]  # fmt: skip
    write_card(directory, card)
    return reports


def choose_default(report: dict, proof: Sequence[dict]) -> tuple[str, str]:
    """'int8' or 'fp32' as the device default, and why, in words for the user.

    The device default is INT8 only if it keeps FP32's answers on actors the model never heard
    (issue 4's bar). A model trained on every actor (the shipped one) has no such actors: then
    held-out evidence is needed, i.e. reports of the same method on models trained without
    their test actors (e.g. the first speaker fold, several seeds)."""
    parity = report["parity"]
    actors = ",".join(str(a) for a in parity["test"]["actors"])
    if not parity["holds"]:
        conditions = parity.get("conditions") or {"voices": parity}
        failed = "; ".join(
            f"{name}: agreement {c['agreement']:.2%}, accuracy change {c['accuracy_change']:+.3f}"
            for name, c in conditions.items()
            if not c["holds"]
        )
        return "fp32", f"INT8 parity fails on actors {actors} ({failed}): FP32 stays the default"
    if not parity["test_actors_in_training"]:
        return "int8", f"INT8 parity holds on actors {actors}, unheard in training: INT8 default"
    good = [
        r for r in proof
        if r["method"] == report["method"]
        and r["parity"]["holds"]
        and not r["parity"]["test_actors_in_training"]
    ]  # fmt: skip
    if proof and len(good) == len(proof):
        return "int8", (
            f"INT8 parity holds here and in {len(proof)} held-out report(s) of the same method: "
            "INT8 default"
        )
    why = (
        f"{len(proof) - len(good)} of {len(proof)} --held-out-evidence report(s) do not show "
        "parity of the same method on unheard actors"
        if proof
        else "no --held-out-evidence given"
    )
    return "fp32", (
        f"parity holds, but test actors {actors} were in this model's training data, so it says "
        f"nothing about new voices, and {why}: FP32 stays the default. To make INT8 the default, "
        "pass --held-out-evidence FOLD_MODEL/fusion.int8.onnx.json (the report of `edgemood "
        "quantize fusion` on a model trained without its test actors; repeatable)"
    )
