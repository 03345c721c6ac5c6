"""Visual features per frame: facial expression geometry from the 468 face landmarks (35), and the
expression CNN's 7 log-probabilities (``edgemood.face_expression``). A model card's
``visual_features`` names the set (and order) its model was trained on; ``FrameFeatures`` computes
exactly that set, so one function serves the device and training.

Every distance is measured in the face's own frame (rotated so the eye line is horizontal, so a
tilted head reads the same) and divided by the distance between the outer eye corners, so neither
the face's size in the image nor its position matters. Head pose (yaw, pitch, roll) is kept as
three angles in radians. Landmark indices are MediaPipe FaceMesh's; "right" is the subject's right
(the left side of the image).

``VISUAL_FEATURES`` (the one list of names and their order) with the landmarks each uses:
eye opening (159-145 / 33-133, 386-374 / 263-362), eye aspect ratio (160-144, 158-153; 385-380,
387-373), brow raise over the upper lid (105-159, 334-386), inner brow (107-133, 336-362), outer
brow (70-33, 300-263), inner-brow gap (107-336: frowning pulls it in), mouth opening (13-14), mouth
width (61-291: lip stretch, smile), mouth aspect, outer lip height (0-17), corner height over the
lip centre and corner angle (61, 291: smile up, frown down), upper lip to nose (2-0: upper lip
raise, disgust), lower lip to chin (17-152), nose to chin (1-152: jaw drop), nostril width
(98-327), nose length (6-2: nose wrinkle), lower lid to mouth corner (145-61, 374-291: cheek
raise), lip protrusion in depth (0, 17 vs 61, 291: pucker), left-right asymmetries of mouth
corners, eyes and brows, mouth centre offset from the nose, face height (10-152), head yaw, pitch,
roll.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import numpy as np

from edgemood.face_expression import CNN_FEATURES

VISUAL_FEATURES: tuple[str, ...] = (
    "eye_open_right",
    "eye_open_left",
    "eye_aspect_right",
    "eye_aspect_left",
    "brow_raise_right",
    "brow_raise_left",
    "brow_inner_raise_right",
    "brow_inner_raise_left",
    "brow_outer_raise_right",
    "brow_outer_raise_left",
    "brow_inner_gap",
    "mouth_open",
    "mouth_width",
    "mouth_aspect",
    "lip_outer_height",
    "mouth_corner_height_right",
    "mouth_corner_height_left",
    "mouth_corner_angle_right",
    "mouth_corner_angle_left",
    "upper_lip_raise",
    "lower_lip_to_chin",
    "jaw_drop",
    "nostril_width",
    "nose_length",
    "cheek_raise_right",
    "cheek_raise_left",
    "lip_pucker",
    "mouth_corner_asymmetry",
    "eye_open_asymmetry",
    "brow_raise_asymmetry",
    "mouth_offset",
    "face_height",
    "head_yaw",
    "head_pitch",
    "head_roll",
)
# Every per-frame visual feature there is: the geometry, then the CNN's log-probabilities. Face-set
# pools store all of them; a model uses the subset its card names.
ALL_VISUAL_FEATURES: tuple[str, ...] = VISUAL_FEATURES + CNN_FEATURES


def face_features(landmarks: np.ndarray) -> np.ndarray:
    """Expression geometry and head pose of one face.

    Args:
        landmarks: [468, 3] (x, y, z) in image pixels, as FaceLandmarker returns them.
    Returns:
        float32 [35], in VISUAL_FEATURES order; finite whatever the input.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    eye_line = points[263, :2] - points[33, :2]
    scale = max(float(np.hypot(*eye_line)), 1e-6)
    roll = math.atan2(eye_line[1], eye_line[0])
    cos, sin = math.cos(-roll), math.sin(-roll)
    # Into the face frame: origin between the eyes, x along the eye line, y down, unit = eye span.
    centre = (points[33, :2] + points[263, :2]) / 2
    xy = (points[:, :2] - centre) @ np.array([[cos, sin], [-sin, cos]]) / scale
    z = points[:, 2] / scale
    p = np.column_stack([xy, z])

    def dist(a: int, b: int) -> float:
        return float(np.hypot(*(xy[a] - xy[b])))

    def above(a: int, b: int) -> float:
        """How far landmark a sits above landmark b (positive = higher in the face)."""
        return float(xy[b, 1] - xy[a, 1])

    eye_open_r = dist(159, 145) / max(dist(33, 133), 1e-6)
    eye_open_l = dist(386, 374) / max(dist(263, 362), 1e-6)
    ear_r = (dist(160, 144) + dist(158, 153)) / (2 * max(dist(33, 133), 1e-6))
    ear_l = (dist(385, 380) + dist(387, 373)) / (2 * max(dist(263, 362), 1e-6))
    brow_r, brow_l = above(105, 159), above(334, 386)
    lip_centre = (xy[13] + xy[14]) / 2
    corner_r = float(lip_centre[1] - xy[61, 1])
    corner_l = float(lip_centre[1] - xy[291, 1])
    angle_r = math.atan2(corner_r, abs(float(xy[61, 0] - lip_centre[0])) + 1e-6)
    angle_l = math.atan2(corner_l, abs(float(xy[291, 0] - lip_centre[0])) + 1e-6)
    mouth_width = dist(61, 291)
    yaw = math.atan2(float(points[263, 2] - points[33, 2]), float(np.hypot(*eye_line)))
    vertical = points[152] - points[10]
    pitch = math.atan2(float(vertical[2]), float(np.hypot(vertical[0], vertical[1])) + 1e-6)
    values = [
        eye_open_r,
        eye_open_l,
        ear_r,
        ear_l,
        brow_r,
        brow_l,
        above(107, 133),
        above(336, 362),
        above(70, 33),
        above(300, 263),
        dist(107, 336),
        dist(13, 14),
        mouth_width,
        dist(13, 14) / max(mouth_width, 1e-6),
        dist(0, 17),
        corner_r,
        corner_l,
        angle_r,
        angle_l,
        above(2, 0),
        above(17, 152),
        above(1, 152),
        dist(98, 327),
        dist(6, 2),
        above(145, 61),
        above(374, 291),
        float((p[61, 2] + p[291, 2]) / 2 - (p[0, 2] + p[17, 2]) / 2),
        corner_l - corner_r,
        eye_open_l - eye_open_r,
        brow_l - brow_r,
        float(lip_centre[0] - xy[1, 0]),
        dist(10, 152),
        yaw,
        pitch,
        roll,
    ]
    return np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


class FrameFeatures:
    """The named per-frame features of one face: geometry, CNN log-probabilities, or both.

    The CNN is loaded only when a CNN feature is asked for (an old 35-geometry card never loads
    it). ``cnn_seconds`` adds up the time spent in the CNN stage (crop + CNN), for the bench.
    """

    def __init__(self, names: Sequence[str] = VISUAL_FEATURES, threads: int = 1) -> None:
        """
        Args:
            names: feature names, each from ALL_VISUAL_FEATURES, in the order wanted.
            threads: LiteRT threads for the CNN.
        Raises:
            ValueError: an unknown or repeated name.
        """
        self.names = tuple(names)
        unknown = [n for n in self.names if n not in ALL_VISUAL_FEATURES]
        if unknown or len(set(self.names)) != len(self.names) or not self.names:
            what = f"unknown {', '.join(unknown)}" if unknown else "repeated or empty names"
            raise ValueError(f"visual features: {what}")
        self._columns = np.array([ALL_VISUAL_FEATURES.index(n) for n in self.names])
        self._geometry = any(n in VISUAL_FEATURES for n in self.names)
        self._cnn = None
        if any(n in CNN_FEATURES for n in self.names):
            from edgemood.face_expression import ExpressionCNN

            self._cnn = ExpressionCNN(threads=threads)
        self.cnn_seconds = 0.0

    def __call__(self, frame_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """float32 [len(names)] for one frame and the landmarks of its face."""
        full = np.zeros(len(ALL_VISUAL_FEATURES), np.float32)
        if self._geometry:
            full[: len(VISUAL_FEATURES)] = face_features(landmarks)
        if self._cnn is not None:
            clock = time.perf_counter()
            full[len(VISUAL_FEATURES) :] = self._cnn(frame_bgr, landmarks)
            self.cnn_seconds += time.perf_counter() - clock
        return full[self._columns]


def visual_features(
    frames: Iterable[np.ndarray], landmarker, features: FrameFeatures | None = None
) -> tuple[np.ndarray, int]:
    """Features of every frame in which a face is found.

    Args:
        frames: BGR images (e.g. edgemood.decode.read_frames).
        landmarker: a FaceLandmarker (or any callable frame -> [468, 3] | None).
        features: which features per face (default: the 35 geometry features).
    Returns:
        ([faces, len(features.names)] float32, frames seen). A frame without a face is skipped
        and counted: no face is a normal event, not an error.
    """
    features = features if features is not None else FrameFeatures()
    rows, seen = [], 0
    for frame in frames:
        seen += 1
        landmarks = landmarker(frame)
        if landmarks is not None:
            rows.append(features(frame, landmarks))
    if not rows:
        return np.zeros((0, len(features.names)), np.float32), seen
    return np.stack(rows), seen
