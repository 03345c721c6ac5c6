"""The expression CNN stage and the named visual feature sets, on real face photos (astronaut:
NASA; Grace Hopper: U.S. Navy; both ship with scikit-image / matplotlib) and the committed example
clip. The face sets themselves (FER2013, JAFFE, CK+) may never be committed: the pool tests build
a tiny face set from these photos."""

from __future__ import annotations

import csv
import json
import shutil

import cv2
import numpy as np
import pytest
from media import face_image

from edgemood.errors import ModelError
from edgemood.face import FaceLandmarker
from edgemood.face_expression import (
    CNN_FEATURES,
    EXPRESSION_MODEL,
    MODEL_DIR,
    ExpressionCNN,
    align_face,
)
from edgemood.features import FeatureExtractor
from edgemood.model import FusionModel
from edgemood.pipeline import EXAMPLE_CLIP
from edgemood.visual_features import (
    ALL_VISUAL_FEATURES,
    VISUAL_FEATURES,
    FrameFeatures,
    face_features,
)


@pytest.fixture(scope="module")
def landmarker():
    return FaceLandmarker()


@pytest.fixture(scope="module")
def cnn():
    return ExpressionCNN()


def _landmarks(landmarker, image):
    landmarker.reset()
    return landmarker(image)


def _rotated(image, degrees):
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def test_cnn_output_matches_a_direct_litert_run(landmarker, cnn):
    from ai_edge_litert.interpreter import Interpreter

    image = face_image("grace_hopper")
    points = _landmarks(landmarker, image)
    crop = align_face(image, points)
    assert crop.shape == (64, 64) and crop.dtype == np.float32
    assert -1.0 <= crop.min() < -0.5 and 0.5 < crop.max() <= 1.0  # dark hat, white collar
    # Its middle is the grey of the image at the middle of the landmarks, scaled as the CNN wants:
    # grey / 127.5 - 1 (measured: 0.631 against 0.649, interpolation).
    x, y = ((points[:, :2].min(0) + points[:, :2].max(0)) / 2).round().astype(int)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[y - 2 : y + 2, x - 2 : x + 2].mean()
    assert abs(crop[31:33, 31:33].mean() - (grey / 127.5 - 1)) < 0.05
    interpreter = Interpreter(model_path=str(MODEL_DIR / EXPRESSION_MODEL))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], crop[None, :, :, None])
    interpreter.invoke()
    direct = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
    ours = cnn.probabilities(crop)
    assert ours.shape == (7,) and np.all(ours >= 0) and abs(ours.sum() - 1) < 1e-4
    np.testing.assert_allclose(ours, direct, rtol=0, atol=1e-6)
    features = cnn(image, _landmarks(landmarker, image))
    np.testing.assert_allclose(features, np.log(direct + 1e-6), rtol=0, atol=1e-5)


def test_the_crop_is_upright_whatever_the_head_roll(landmarker, cnn):
    image = face_image("astronaut")
    upright = align_face(image, _landmarks(landmarker, image))
    tilted_image = _rotated(image, 20)
    tilted = align_face(tilted_image, _landmarks(landmarker, tilted_image))
    # The reference: the upright crop turned by the same 20 degrees (what a crop that ignored the
    # roll would look like). Measured: 0.082 from the upright crop vs 0.357 for the turned one
    # (grey levels in [-1, 1]; the landmarks move by about a pixel with the rotation).
    turned = _rotated(upright, 20)
    assert np.abs(tilted - upright).mean() < 0.12
    assert np.abs(turned - upright).mean() > 3 * np.abs(tilted - upright).mean()
    p_upright, p_tilted = cnn.probabilities(upright), cnn.probabilities(tilted)
    assert np.abs(p_upright - p_tilted).max() < 0.1
    assert int(np.argmax(p_upright)) == int(np.argmax(p_tilted)) == 3  # happy: she smiles


def test_the_crop_is_the_face_not_the_frame(landmarker):
    image = face_image("astronaut")
    points = _landmarks(landmarker, image)
    crop = align_face(image, points)
    # Her face fills the crop: the crop of the same face with the frame padded by 200 pixels on
    # two sides is the same picture.
    padded = np.pad(image, ((200, 0), (0, 200), (0, 0)))
    again = align_face(padded, points + np.float32([0, 200, 0]))
    assert np.abs(crop - again).max() <= 2 / 255 + 1e-6  # one grey level of interpolation
    whole = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (64, 64)) / 127.5 - 1
    assert np.abs(crop - whole).mean() > 0.2


def test_frame_features_compute_exactly_the_named_set(landmarker, cnn):
    image = face_image("grace_hopper")
    points = _landmarks(landmarker, image)
    geometry = FrameFeatures(VISUAL_FEATURES)(image, points)
    np.testing.assert_array_equal(geometry, face_features(points))
    both = FrameFeatures(ALL_VISUAL_FEATURES)(image, points)
    assert both.shape == (42,) and np.isfinite(both).all()
    np.testing.assert_array_equal(both[:35], geometry)
    np.testing.assert_allclose(both[35:], cnn(image, points), atol=1e-6)
    assert CNN_FEATURES == tuple(
        f"cnn_{c}" for c in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    )
    picked = ("cnn_happy", "mouth_width", "cnn_angry")
    np.testing.assert_array_equal(
        FrameFeatures(picked)(image, points), both[[ALL_VISUAL_FEATURES.index(n) for n in picked]]
    )
    assert FrameFeatures(VISUAL_FEATURES)._cnn is None  # an old card never loads the CNN
    for bad in (["mouth_width", "smile_score"], ["cnn_happy", "cnn_happy"], []):
        with pytest.raises(ValueError):
            FrameFeatures(bad)


def test_feature_extractor_follows_the_card_list():
    old = FeatureExtractor(use={"audio": False, "visual": True, "text": False})
    new = FeatureExtractor(
        use={"audio": False, "visual": True, "text": False}, visual_features=ALL_VISUAL_FEATURES
    )
    old_features, new_features = old(EXAMPLE_CLIP), new(EXAMPLE_CLIP)
    old_inputs, new_inputs = old_features.inputs, new_features.inputs
    assert old_inputs.visual.shape[1] == 35 and new_inputs.visual.shape[1] == 42
    assert len(old_inputs.visual) == len(new_inputs.visual) == old_features.face_frames > 0
    np.testing.assert_allclose(new_inputs.visual[:, :35], old_inputs.visual, atol=1e-6)
    assert new_features.notes == old_features.notes
    # The bundled card lists all 42; an older card (35 geometry names) gets those 35.
    assert FusionModel().visual_features == ALL_VISUAL_FEATURES


def test_no_face_gives_no_row_and_a_note(tmp_path):
    from media import write_clip

    clip = write_clip(tmp_path / "blank.mp4", np.zeros((240, 320, 3), np.uint8), None, seconds=1)
    extractor = FeatureExtractor(
        use={"audio": False, "visual": True, "text": False}, visual_features=ALL_VISUAL_FEATURES
    )
    features = extractor(clip)
    inputs = features.inputs
    assert inputs.visual is None
    assert any(n.startswith("no face found in") for n in features.notes)


def _write_model(directory, names):
    import torch

    from edgemood.train.fusion import FusionConfig, FusionNet
    from edgemood.train.model_dir import write_model_dir

    torch.manual_seed(0)
    trained = {"audio": True, "visual": True, "text": False}
    net = FusionNet(FusionConfig(trained=trained, visual_dim=len(names))).eval()
    return write_model_dir(net, directory, {"training": {"data": "test"}}, visual_features=names)


@pytest.mark.train
def test_a_model_card_with_cnn_features_runs_end_to_end(tmp_path, face_clip):
    from edgemood.pipeline import Recognizer

    model_dir = _write_model(tmp_path / "m42", ALL_VISUAL_FEATURES)
    recognizer = Recognizer(model_dir)
    assert recognizer.features.visual_features == ALL_VISUAL_FEATURES
    prediction = recognizer.predict(face_clip)
    assert prediction.modalities["visual"]
    segments = list(recognizer.timeline(face_clip, window_s=1.0, hop_s=1.0))
    assert segments and any(s.modalities["visual"] for s in segments)
    # A card whose names disagree with the graph's visual width is refused at load.
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    card = json.loads((broken / "model.json").read_text())
    card["visual_features"] = list(VISUAL_FEATURES)
    (broken / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="visual input has 42 features"):
        FusionModel(broken)
    card["visual_features"] = [*VISUAL_FEATURES[:-1], "smile_score", *CNN_FEATURES]
    (broken / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="other visual features"):
        FusionModel(broken)


def _face_set(root, landmarker):
    """A tiny face set in the layout of ../shared/face_sets/jaffe: two real faces (one at 256
    pixels, one cut tight and shrunk to 48 like FER2013), a blank image, a class edgemood has not
    and a missing file."""
    folder = root / "jaffe"
    (folder / "img").mkdir(parents=True)
    for name, size, margin, file in (
        ("astronaut", 256, 0.5, "NA.HA1.1.png"),  # JAFFE-like: 256 px, face about half of it
        ("grace_hopper", 48, 0.0, "GH.NE1.2.png"),  # FER2013-like: 48 px, face fills it
    ):
        image = face_image(name)
        points = _landmarks(landmarker, image)
        low, high = points[:, :2].min(0), points[:, :2].max(0)
        x0, y0 = (low - margin * (high - low)).astype(int)
        x1, y1 = (high + margin * (high - low)).astype(int)
        face = cv2.cvtColor(image[max(y0, 0) : y1, max(x0, 0) : x1], cv2.COLOR_BGR2GRAY)
        cv2.imwrite(str(folder / "img" / file), cv2.resize(face, (size, size)))
    cv2.imwrite(str(folder / "img" / "BL.SA1.3.png"), np.full((256, 256), 128, np.uint8))
    rows = [
        ("img/NA.HA1.1.png", "happy"),
        ("img/GH.NE1.2.png", "neutral"),
        ("img/BL.SA1.3.png", "sad"),
        ("img/XX.CO1.4.png", "DROP(contempt)"),
        ("img/MI.SU1.5.png", "surprised"),
    ]
    with open(folder / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "subject", "jaffe_code", "label8"])
        writer.writerows([(p, p[4:6], "", label) for p, label in rows])
    return root


def test_face_set_pool_round_trip(tmp_path, landmarker):
    from typer.testing import CliRunner

    from edgemood.cli import app
    from edgemood.train.face_sets import build_pool, prepare_still
    from edgemood.train.pools import load_pool

    root = _face_set(tmp_path / "sets", landmarker)
    pool = build_pool(root, "jaffe", landmarker=landmarker)
    assert pool.features.shape == (2, 42) and list(pool.groups) == ["NA", "GH"]
    assert list(pool.labels) == [2, 0] and list(pool.split) == ["", ""]  # happy, neutral
    meta = pool.meta
    assert meta["feature_names"] == list(ALL_VISUAL_FEATURES)
    assert (meta["images"], meta["faces"], meta["dropped_no_face"]) == (4, 2, 1)
    assert (meta["dropped_label"], meta["dropped_unreadable"]) == (1, 1)
    # The pool's rows are the device's features of the same face.
    still = cv2.imread(str(root / "jaffe" / "img" / "GH.NE1.2.png"), cv2.IMREAD_GRAYSCALE)
    image = prepare_still(still)
    device = FrameFeatures(ALL_VISUAL_FEATURES)(image, _landmarks(landmarker, image))
    np.testing.assert_allclose(pool.features[1], device, atol=1e-5)
    assert np.argmax(pool.features[0, 35:]) == CNN_FEATURES.index("cnn_happy")

    out = tmp_path / "pools"
    done = CliRunner().invoke(app, ["face-pools", "jaffe", "--root", str(root), "--out", str(out)])
    assert done.exit_code == 0, done.output
    loaded = load_pool(out / "jaffe.npz")
    np.testing.assert_allclose(loaded.features, pool.features, atol=1e-5)
    assert list(loaded.labels) == list(pool.labels) and list(loaded.groups) == ["NA", "GH"]
    assert loaded.meta["dropped_no_face"] == 1 and loaded.meta["source"] == "jaffe"


def test_face_set_command_bad_input(tmp_path):
    from typer.testing import CliRunner

    from edgemood.cli import app

    done = CliRunner().invoke(app, ["face-pools", "celeba", "--root", str(tmp_path)])
    assert done.exit_code == 2
    assert "unknown face set 'celeba'" in done.stderr
    done = CliRunner().invoke(app, ["face-pools", "ck48", "--root", str(tmp_path / "nowhere")])
    assert done.exit_code == 2
    err = done.stderr
    assert "no labels.csv" in err and len(err.strip().splitlines()) == 1


def test_training_feature_cache_keeps_feature_sets_apart(tmp_path, face_clip):
    from edgemood.train.data import index_clips, load_features

    folder = tmp_path / "Actor_02"
    folder.mkdir()
    shutil.copy(face_clip, folder / "02-01-03-02-02-01-02.mp4")  # RAVDESS name: video, happy
    cache = tmp_path / "cache"
    use = {"audio": False, "visual": True, "text": False}
    old = load_features(index_clips(tmp_path), FeatureExtractor(use=use), cache, progress=False)
    new_extractor = FeatureExtractor(use=use, visual_features=ALL_VISUAL_FEATURES)
    new = load_features(index_clips(tmp_path), new_extractor, cache, progress=False)
    again = load_features(index_clips(tmp_path), FeatureExtractor(use=use), cache, progress=False)
    assert old[0].inputs.visual.shape[1] == again[0].inputs.visual.shape[1] == 35
    assert new[0].inputs.visual.shape[1] == 42
    assert len(list(cache.glob("*.npz"))) == 2
