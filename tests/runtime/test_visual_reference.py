"""Visual features under known geometric changes of real landmarks (issue 19): the astronaut's
468 MediaPipe landmarks, moved exactly (no second pass of the landmark model), so each expected
value is known: similarity transforms change head roll by their angle and nothing else; moving
one landmark by d eye-spans moves the features that read it by d; a depth offset of the outer
eye corners or of the chin sets yaw or pitch to a known angle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from media import face_image

from edgemood.face import FaceLandmarker
from edgemood.visual_features import VISUAL_FEATURES, face_features

INDEX = {name: i for i, name in enumerate(VISUAL_FEATURES)}
RIGHT_EYE_OUTER, LEFT_EYE_OUTER, UPPER_LIP, LOWER_LIP = 33, 263, 13, 14
RIGHT_BROW, RIGHT_MOUTH_CORNER, FOREHEAD, CHIN = 105, 61, 10, 152


@pytest.fixture(scope="module")
def landmarks() -> np.ndarray:
    points = FaceLandmarker()(face_image("astronaut"))
    assert points is not None
    return points.astype(np.float64)


def _face_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit x (along the eye line), unit y (down the face) in the image, and the eye span."""
    eye = points[LEFT_EYE_OUTER, :2] - points[RIGHT_EYE_OUTER, :2]
    span = float(np.hypot(*eye))
    x = eye / span
    return x, np.array([-x[1], x[0]]), span


def _changed(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    return {n: float(after[i] - before[i]) for n, i in INDEX.items() if abs(after[i] - before[i])
            > 1e-6}  # fmt: skip


@pytest.mark.parametrize("angle", [0.0, 0.3, -1.0, 2.5])
def test_similarity_transform_changes_roll_by_its_angle_only(landmarks, angle):
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = landmarks.copy()
    moved[:, :2] = 2.7 * landmarks[:, :2] @ rotation.T + [311.0, -45.0]
    moved[:, 2] = 2.7 * landmarks[:, 2]
    before, after = face_features(landmarks), face_features(moved)
    roll = after[INDEX["head_roll"]] - before[INDEX["head_roll"]]
    assert math.remainder(roll - angle, 2 * math.pi) == pytest.approx(0.0, abs=1e-5)
    others = [i for n, i in INDEX.items() if n != "head_roll"]
    np.testing.assert_allclose(after[others], before[others], atol=1e-5)


def _move(points: np.ndarray, index: int, up: float = 0.0, along: np.ndarray | None = None):
    """A copy with landmark ``index`` moved ``up`` eye spans up the face, or by the image
    vector ``along`` (in eye spans)."""
    _, y, span = _face_axes(points)
    moved = points.copy()
    moved[index, :2] += span * (-up * y if along is None else along)
    return moved


def test_lowering_the_lower_lip_opens_the_mouth_by_as_much(landmarks):
    d = 0.05
    lips = landmarks[LOWER_LIP, :2] - landmarks[UPPER_LIP, :2]
    before = face_features(landmarks)
    after = face_features(_move(landmarks, LOWER_LIP, along=d * lips / np.hypot(*lips)))
    changed = _changed(before, after)
    assert changed["mouth_open"] == pytest.approx(d, abs=1e-5)
    width = before[INDEX["mouth_width"]]
    assert changed["mouth_aspect"] == pytest.approx(d / width, abs=1e-5)
    # The lip centre moved by half the lip's shift: what reads it moved with it, nothing else.
    assert set(changed) <= {"mouth_open", "mouth_aspect", "mouth_corner_height_right",
                            "mouth_corner_height_left", "mouth_corner_angle_right",
                            "mouth_corner_angle_left", "mouth_offset"}  # fmt: skip


def test_raising_the_right_brow(landmarks):
    d = 0.04
    changed = _changed(face_features(landmarks), face_features(_move(landmarks, RIGHT_BROW, d)))
    assert changed == pytest.approx({"brow_raise_right": d, "brow_raise_asymmetry": -d}, abs=1e-5)


def test_raising_the_right_mouth_corner(landmarks):
    d = 0.03
    before = face_features(landmarks)
    changed = _changed(before, face_features(_move(landmarks, RIGHT_MOUTH_CORNER, d)))
    assert changed.pop("mouth_corner_height_right") == pytest.approx(d, abs=1e-5)
    assert changed.pop("mouth_corner_asymmetry") == pytest.approx(-d, abs=1e-5)
    assert changed.pop("cheek_raise_right") == pytest.approx(-d, abs=1e-5)
    assert changed.pop("mouth_corner_angle_right") > 0  # the corner now points further up
    # The mouth's width and aspect read the corner too (their change is not a known constant).
    assert set(changed) <= {"mouth_width", "mouth_aspect"}


@pytest.mark.parametrize("angle", [-0.4, 0.0, 0.3])
def test_depth_of_the_outer_eye_corners_sets_the_yaw(landmarks, angle):
    moved = landmarks.copy()
    span = _face_axes(landmarks)[2]
    moved[LEFT_EYE_OUTER, 2] = moved[RIGHT_EYE_OUTER, 2] + span * math.tan(angle)
    assert face_features(moved)[INDEX["head_yaw"]] == pytest.approx(angle, abs=1e-5)


@pytest.mark.parametrize("angle", [-0.3, 0.0, 0.2])
def test_depth_of_the_chin_sets_the_pitch(landmarks, angle):
    moved = landmarks.copy()
    height = float(np.hypot(*(landmarks[CHIN, :2] - landmarks[FOREHEAD, :2])))
    moved[CHIN, 2] = moved[FOREHEAD, 2] + height * math.tan(angle)
    assert face_features(moved)[INDEX["head_pitch"]] == pytest.approx(angle, abs=1e-4)
    span = _face_axes(landmarks)[2]
    assert face_features(moved)[INDEX["face_height"]] == pytest.approx(height / span, abs=1e-5)


def test_opening_the_right_eye_is_measured_in_eye_widths(landmarks):
    """The upper lid moved d eye spans away from the lower lid: the opening, a ratio to the
    eye's own width (corner 33 to corner 133), grows by d / width."""
    d = 0.02
    lids = landmarks[159, :2] - landmarks[145, :2]
    span = _face_axes(landmarks)[2]
    width = float(np.hypot(*(landmarks[133, :2] - landmarks[RIGHT_EYE_OUTER, :2]))) / span
    before = face_features(landmarks)
    changed = _changed(before, face_features(_move(landmarks, 159, along=d * lids /
                                                                   np.hypot(*lids))))  # fmt: skip
    assert changed.pop("eye_open_right") == pytest.approx(d / width, abs=1e-5)
    assert changed.pop("eye_open_asymmetry") == pytest.approx(-d / width, abs=1e-5)
    # The brow is measured from this lid: it now sits lower above it (by the vertical part).
    assert changed.pop("brow_raise_right") < 0 and changed.pop("brow_raise_asymmetry") > 0
    assert changed == {}
