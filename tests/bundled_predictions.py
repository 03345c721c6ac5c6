"""The bundled model's answers on the committed clips, as a stored record.

``tests/fixtures/bundled_predictions.json`` holds, for every model file the bundled card lists
(and the card's default), the 8 probabilities it gives each committed clip (the three RAVDESS
fixtures and the ``--example`` clip). ``tests/runtime/test_bundled_predictions.py`` checks the live
model against it. Regenerate it only on purpose, after retraining or re-quantizing the bundled
model, from the repository root::

    python tests/bundled_predictions.py

and commit the JSON with the new model (review the labels it prints first).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORD = HERE / "fixtures" / "bundled_predictions.json"
CLIPS = {
    "03-01-05-02-01-01-01.flac": HERE / "fixtures" / "03-01-05-02-01-01-01.flac",
    "03-01-03-02-02-01-02.flac": HERE / "fixtures" / "03-01-03-02-02-01-02.flac",
    "03-01-04-01-01-01-03.flac": HERE / "fixtures" / "03-01-04-01-01-01-03.flac",
    "example.mp4": None,  # edgemood/assets/example/example.mp4 (EXAMPLE_CLIP)
}
# The labels the README and the fixtures' README give these clips: the RAVDESS labels of the
# three fixtures, and the example's voice track is the happy fixture.
EXPECTED = {
    "03-01-05-02-01-01-01.flac": "angry",
    "03-01-03-02-02-01-02.flac": "happy",
    "03-01-04-01-01-01-03.flac": "sad",
    "example.mp4": "happy",
}
VARIANTS = ("default", "onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8")


def clip_path(name: str) -> Path:
    """Where a recorded clip lives."""
    from edgemood.pipeline import EXAMPLE_CLIP

    return CLIPS[name] or EXAMPLE_CLIP


def measure() -> dict[str, dict[str, list[float]]]:
    """Probabilities per model variant per clip, through the device pipeline (Recognizer)."""
    from edgemood.pipeline import Recognizer

    out = {}
    for variant in VARIANTS:
        backend, precision = (None, None) if variant == "default" else variant.split("_")
        recognizer = Recognizer(backend=backend, precision=precision)
        out[variant] = {
            name: [float(p) for p in recognizer.predict(clip_path(name)).probabilities]
            for name in CLIPS
        }
    return out


def _format(record: dict) -> str:
    """JSON with one line per clip (small diffs when the model is retrained)."""
    variants = []
    for variant, clips in record["probabilities"].items():
        rows = [
            f"    {json.dumps(name)}: [{', '.join(f'{p:.6f}' for p in values)}]"
            for name, values in clips.items()
        ]
        variants.append(f"  {json.dumps(variant)}: {{\n" + ",\n".join(rows) + "\n  }")
    head = [f"{json.dumps(k)}: {json.dumps(record[k])}," for k in ("model_default", "emotions")]
    return "\n".join(["{", *head, '"probabilities": {', ",\n".join(variants), "}", "}"]) + "\n"


def main() -> None:
    from edgemood.labels import EMOTIONS
    from edgemood.model import DEFAULT_MODEL_DIR, read_card

    record = {
        "model_default": read_card(DEFAULT_MODEL_DIR).default,
        "emotions": list(EMOTIONS),
        "probabilities": measure(),
    }
    RECORD.write_text(_format(record), encoding="utf-8")
    for variant, clips in record["probabilities"].items():
        for name, probabilities in clips.items():
            label = EMOTIONS[max(range(len(probabilities)), key=probabilities.__getitem__)]
            flag = "" if label == EXPECTED[name] else f"  (README: {EXPECTED[name]})"
            print(f"{variant:12s} {name:28s} {label}{flag}", file=sys.stderr)
    print(f"wrote {RECORD}", file=sys.stderr)


if __name__ == "__main__":
    main()
