"""Face landmarks without the mediapipe package: MediaPipe's own two models, run with LiteRT.

Why this route: mediapipe >= 0.10.30 (and 1.x) ships no model files and needs a download that is
not reachable offline; the legacy wheels that still carry the face models pin numpy<2, protobuf<5,
jax and opencv-contrib (which overwrites opencv-python-headless). The two models themselves are
small .tflite files (Apache-2.0, copied from the mediapipe 0.10.21 wheel with their licence into
``assets/face/``): the BlazeFace short-range detector (229,714 bytes, 128x128 input) and the
468-point face landmark model (1,242,398 bytes, 192x192 input). Run directly under ai-edge-litert
they cost about 2.3 ms each per frame on the x86 development machine, against 11.8 ms for legacy
face_mesh, and give the same landmarks. The pre- and post-processing (anchors, box decoding,
rotated face crop, landmark mapping, tracking) is MediaPipe's, rewritten in numpy + OpenCV.

Tracking, as face_mesh does it: once a face is found, the next frame's crop is placed from the
previous landmarks and the detector runs again only when the landmark model loses the face.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from edgemood.backends import load_backend
from edgemood.bundled import bundled

MODEL_DIR = bundled("face")
DETECTOR = "face_detection_short_range.tflite"
LANDMARKS = "face_landmark.tflite"
DETECTION_SIZE = 128
LANDMARK_SIZE = 192
MIN_DETECTION_SCORE = 0.5
MIN_PRESENCE = 0.5
NMS_IOU = 0.3
ROI_SCALE = 1.5  # the crop is 1.5x the face box, as MediaPipe's face_landmark graph sets it
# Eye corners that fix the roll of the crop (MediaPipe: landmarks 33 and 263).
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263


@lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    """BlazeFace short-range SSD anchor centres [896, 2]: strides 8 (2 per cell) and 16 (6)."""
    centres = []
    for stride, per_cell in ((8, 2), (16, 6)):
        grid = DETECTION_SIZE // stride
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def _letterbox(image_rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Resize keeping the aspect ratio, pad to a square; returns (image, scale, pad_x, pad_y)."""
    import cv2

    height, width = image_rgb.shape[:2]
    scale = size / max(height, width)
    resized = cv2.resize(image_rgb, (max(1, round(width * scale)), max(1, round(height * scale))))
    pad_x = (size - resized.shape[1]) / 2
    pad_y = (size - resized.shape[0]) / 2
    out = np.zeros((size, size, 3), dtype=resized.dtype)
    top, left = int(pad_y), int(pad_x)
    out[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return out, scale, left, top


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def landmark_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """The face's square in its own frame, as MediaPipe builds it from the landmarks.

    Args:
        landmarks: [468, 3] (or [468, 2]) in image pixels.
    Returns:
        (centre x, centre y, side, roll): the centre of the landmarks' box in the face's frame
        (x along the eye line), the larger side of that box, and the eye line's angle in radians
        (clockwise in image coordinates, y down).
    """
    right_eye, left_eye = landmarks[RIGHT_EYE_OUTER], landmarks[LEFT_EYE_OUTER]
    angle = -math.atan2(-(left_eye[1] - right_eye[1]), left_eye[0] - right_eye[0])
    centre = (landmarks[:, :2].min(0) + landmarks[:, :2].max(0)) / 2
    cos, sin = math.cos(-angle), math.sin(-angle)
    local = (landmarks[:, :2] - centre) @ np.array([[cos, sin], [-sin, cos]])
    low, high = local.min(0), local.max(0)
    middle = (low + high) / 2
    back = middle @ np.array([[cos, -sin], [sin, cos]]) + centre
    return float(back[0]), float(back[1]), float(max(high - low)), angle


class FaceLandmarker:
    """Detector + landmark model on the vendored MediaPipe .tflite files."""

    def __init__(self, threads: int = 1, model_dir: Path | None = None) -> None:
        """
        Args:
            threads: LiteRT threads per model.
            model_dir: folder holding the two .tflite files (default: the bundled ones).
        """
        directory = Path(model_dir) if model_dir is not None else MODEL_DIR
        self._detector = load_backend(directory / DETECTOR, threads)
        self._landmarks = load_backend(directory / LANDMARKS, threads)
        self._detector_input = self._detector.input_names[0]
        self._landmark_input = self._landmarks.input_names[0]
        self._previous: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the tracked face (call between clips)."""
        self._previous = None

    def __call__(self, frame_bgr: np.ndarray) -> np.ndarray | None:
        """Landmarks of the most prominent face.

        Args:
            frame_bgr: uint8 image [height, width, 3] as OpenCV reads it.
        Returns:
            float32 [468, 3] in image pixels (z in the same pixel scale, smaller = nearer), or
            None when there is no face.
        """
        # The models take RGB; the channels are swapped on the small crops, not on the frame (a
        # reversed copy of a whole 640x480 frame cost more than the landmark crop and resize).
        image = frame_bgr
        if self._previous is not None:
            landmarks = self._landmarks_in(image, self._roi_from_landmarks(self._previous))
            if landmarks is not None:
                self._previous = landmarks
                return landmarks
        roi = self._detect(image)
        landmarks = self._landmarks_in(image, roi) if roi is not None else None
        self._previous = landmarks
        return landmarks

    def _detect(self, image: np.ndarray) -> tuple[float, float, float, float] | None:
        """Best face in a BGR image as a crop (centre x, centre y, side, rotation) in pixels."""
        boxed, scale, left, top = _letterbox(image, DETECTION_SIZE)
        tensor = (boxed[:, :, ::-1].astype(np.float32) / 127.5 - 1.0)[None]
        out = self._detector.run({self._detector_input: tensor})
        raw = out["regressors"][0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(out["classificators"][0, :, 0], -50, 50)))
        keep = np.flatnonzero(scores >= MIN_DETECTION_SCORE)
        if keep.size == 0:
            return None
        anchors = _anchors()[keep]
        decoded = raw[keep] / DETECTION_SIZE
        centres = decoded[:, :2] + anchors
        half = decoded[:, 2:4] / 2
        boxes = np.concatenate([centres - half, centres + half], axis=1)
        keypoints = decoded[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        best = int(np.argmax(scores[keep]))
        # Weighted NMS around the best box: average the overlapping detections by score.
        overlap = _iou(boxes[best], boxes) > NMS_IOU
        weights = scores[keep][overlap][:, None]
        box = (boxes[overlap] * weights).sum(0) / weights.sum()
        points = (keypoints[overlap] * weights[:, :, None]).sum(0) / weights.sum()
        # Back from the 128-pixel letterbox to image pixels.
        box_px = (box * DETECTION_SIZE - [left, top, left, top]) / scale
        points_px = (points * DETECTION_SIZE - [left, top]) / scale
        right_eye, left_eye = points_px[0], points_px[1]
        angle = -math.atan2(-(left_eye[1] - right_eye[1]), left_eye[0] - right_eye[0])
        width, height = box_px[2] - box_px[0], box_px[3] - box_px[1]
        centre_x, centre_y = (box_px[0] + box_px[2]) / 2, (box_px[1] + box_px[3]) / 2
        return centre_x, centre_y, max(width, height) * ROI_SCALE, angle

    @staticmethod
    def _roi_from_landmarks(landmarks: np.ndarray) -> tuple[float, float, float, float]:
        centre_x, centre_y, side, angle = landmark_box(landmarks)
        return centre_x, centre_y, side * ROI_SCALE, angle

    def _landmarks_in(
        self, image: np.ndarray, roi: tuple[float, float, float, float]
    ) -> np.ndarray | None:
        import cv2

        centre_x, centre_y, side, angle = roi
        if not (side > 4 and math.isfinite(side)):
            return None
        cos, sin = math.cos(angle), math.sin(angle)
        corners = []
        for dx, dy in ((-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5)):
            corners.append(
                [centre_x + side * (dx * cos - dy * sin), centre_y + side * (dx * sin + dy * cos)]
            )
        size = LANDMARK_SIZE
        target = np.float32([[0, 0], [size, 0], [0, size]])
        forward = cv2.getAffineTransform(np.float32(corners), target)
        crop = cv2.warpAffine(
            image, forward, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        tensor = (crop[:, :, ::-1].astype(np.float32) / 255.0)[None]
        out = self._landmarks.run({self._landmark_input: tensor})
        presence = 1.0 / (1.0 + math.exp(-float(np.clip(out["conv2d_31"].reshape(-1)[0], -50, 50))))
        if presence < MIN_PRESENCE:
            return None
        points = out["conv2d_21"].reshape(-1, 3).astype(np.float64)
        inverse = cv2.invertAffineTransform(forward)
        xy = points[:, :2] @ inverse[:, :2].T + inverse[:, 2]
        z = points[:, 2] * side / size
        return np.column_stack([xy, z]).astype(np.float32)
