"""INT8 calibration and parity of a model with a face branch: faces (selected by feature name,
padded as the device pads them, paired with voices by the training's rules) are in the
calibration set, and parity is judged on faces alone and on voices paired with held-out faces."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TRAIN_REASON

pytest.importorskip("torch", reason=TRAIN_REASON)
pytestmark = pytest.mark.train

from face_pools import faces_by_name, write_face_pool

from edgemood.labels import EMOTIONS
from edgemood.model import FusionModel, ModelInputs
from edgemood.train.pairing import PairingConfig
from quantize.calibration import build_splits
from quantize.faces import load_face_sets
from quantize.fusion import quantize_fusion
from quantize.partners import pair_voices

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def av_copy(av_model, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("av") / "model"
    shutil.copytree(av_model, directory)
    return directory


@pytest.fixture(scope="module")
def pools(av_copy, tmp_path_factory) -> dict:
    names = FusionModel(av_copy).visual_features
    root = tmp_path_factory.mktemp("pools")
    calibration = write_face_pool(root / "cal.npz", names, seed=1)
    held_out = write_face_pool(root / "held.npz", names, splits=("",), seed=2, source="held")
    return {
        "names": names,
        "cal_path": root / "cal.npz",
        "held_path": root / "held.npz",
        "cal": calibration,
        "held": held_out,
    }


def _splits(model_dir: Path, ravdess_dir: Path, pools: dict):
    faces = load_face_sets(FusionModel(model_dir), [pools["cal_path"]], [pools["held_path"]])
    return build_splits(model_dir, ravdess_dir, None, test_actors=[1, 2], faces=faces)


def test_calibration_feeds_hold_voices_voice_face_pairs_and_faces(av_copy, ravdess_dir, pools):
    model = FusionModel(av_copy)
    splits = _splits(av_copy, ravdess_dir, pools)
    cal = splits.calibration
    train = pools["cal"].split == "train"
    train_faces = faces_by_name(pools["cal"], pools["names"])[train]
    train_labels = pools["cal"].labels[train]
    kinds = {"voice": 0, "voice+face": 0, "face": 0}
    for feed, label in zip(cal.feeds, cal.labels):
        voice, face = feed["present"][0, :2] == 1.0
        kinds["voice+face" if voice and face else "voice" if voice else "face"] += 1
        if not face:
            assert not feed["visual"].any() and not feed["visual_mask"].any()
            continue
        # One frame, a train-split face by the card's feature names, of the voice's label.
        frame = feed["visual"][0, 0]
        match = np.flatnonzero((train_faces == frame).all(1))
        assert len(match) and train_labels[match[0]] == label
        assert feed["visual_mask"][0].tolist() == [1.0] + [0.0] * (model.visual_frames - 1)
        # Padded exactly as the device pads a voice (if any) with this one face frame.
        audio = None
        if voice:
            audio = feed["audio"][0, : int(feed["audio_mask"][0].sum())]
        device = model.feed([ModelInputs(audio=audio, visual=frame[None])])
        for name, value in device.items():
            np.testing.assert_array_equal(feed[name], value, err_msg=name)
    assert all(kinds.values()), kinds  # every kind of input is calibrated
    assert set(cal.actors) - {0} == {3, 4, 5, 6}  # never the parity-test actors


def test_calm_voices_are_paired_with_neutral_faces(pools):
    """The training's pairing rule (calm -> neutral), used rather than re-implemented."""
    model_feed = {
        "audio": np.ones((1, 4, 74), np.float32),
        "audio_mask": np.ones((1, 4), np.float32),
        "visual": np.zeros((1, 3, pools["cal"].features.shape[1]), np.float32),
        "visual_mask": np.zeros((1, 3), np.float32),
        "text": np.zeros((1, 8), np.float32),
        "present": np.array([[1.0, 0.0, 0.0]], np.float32),
    }
    calm, neutral = EMOTIONS.index("calm"), EMOTIONS.index("neutral")
    pairing = PairingConfig(face_rate=1.0)
    rng = np.random.default_rng(0)
    feeds, got = pair_voices([model_feed] * 4, [calm] * 4, rng, pools["cal"], pairing=pairing)
    assert got[:, 1].all()
    for feed in feeds:
        row = np.flatnonzero((pools["cal"].features == feed["visual"][0, 0]).all(1))[0]
        assert pools["cal"].labels[row] == neutral


def test_audio_only_model_is_calibrated_without_faces(audio_model, ravdess_dir, pools, capsys):
    faces = load_face_sets(FusionModel(audio_model), [pools["cal_path"]], [pools["held_path"]])
    assert faces is None
    assert "no face branch" in capsys.readouterr().err
    splits = build_splits(audio_model, ravdess_dir, None, test_actors=[1, 2], faces=faces)
    assert not any(f["present"][0, 1] for f in splits.calibration.feeds)
    assert list(splits.conditions) == ["voices"]


NOT_A_POOL = ["--faces", "pyproject.toml", "--held-out-faces", "pyproject.toml"]


@pytest.mark.parametrize(
    "options, says", [([], "--held-out-faces"), (NOT_A_POOL, "not a face pool")]
)
def test_face_model_without_face_pools_is_refused(av_copy, ravdess_dir, options, says):
    command = ["-m", "edgemood", "quantize", "fusion", str(av_copy), "--data", str(ravdess_dir),
               *options]  # fmt: skip
    done = subprocess.run(
        [sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines


def test_parity_is_reported_and_required_on_each_face_condition(av_copy, ravdess_dir, pools):
    (report,) = quantize_fusion(
        av_copy, ravdess_dir, None, [1, 2], tflite=False,
        faces=[pools["cal_path"]], held_out_faces=[pools["held_path"]],
    )  # fmt: skip
    parity = report["parity"]
    conditions = parity["conditions"]
    assert set(conditions) == {"voices", "faces", "voices+faces"}
    assert parity["holds"] == all(c["holds"] for c in conditions.values())
    assert conditions["voices"]["agreement"] == parity["agreement"]
    held = faces_by_name(pools["held"], pools["names"])
    assert conditions["faces"]["clips"] == len(held)
    # The faces condition, recomputed through the device path from the files themselves.
    batch = [ModelInputs(visual=row[None]) for row in held]
    fp32 = FusionModel(av_copy, backend="onnx", precision="fp32").predict(batch)
    int8 = FusionModel(av_copy, backend="onnx", precision="int8").predict(batch)
    agreement = float((fp32.argmax(1) == int8.argmax(1)).mean())
    assert conditions["faces"]["agreement"] == pytest.approx(agreement)
    truth = pools["held"].labels
    change = float((int8.argmax(1) == truth).mean() - (fp32.argmax(1) == truth).mean())
    assert conditions["faces"]["accuracy_change"] == pytest.approx(change)
    # Voices with faces: every face-labelled test voice (angry/happy/sad) gets one.
    paired = conditions["voices+faces"]
    assert paired["with_face"] == paired["with_voice"] == paired["clips"] > 0
    assert report["faces"]["held_out"]["images"] == len(held)
    card = json.loads((av_copy / "model.json").read_text())
    assert card["quantization"]["fusion.int8.onnx"]["conditions"]["faces"] == conditions["faces"]


def test_command_prints_each_condition_and_the_notes(av_model, ravdess_dir, pools, tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(av_model, directory)
    done = subprocess.run(
        [sys.executable, "-m", "edgemood", "quantize", "fusion", str(directory),
         "--data", str(ravdess_dir),
         "--faces", str(pools["cal_path"]), "--held-out-faces", str(pools["held_path"]),
         "--no-tflite"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "faces: agreement" in done.stdout and "voices+faces: agreement" in done.stdout
    # The held-out pool has no splits: said on stderr, not only in the JSON.
    assert "held.npz: no splits" in done.stderr
