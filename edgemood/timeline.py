"""Whole recordings: emotion over time, window by window, in bounded memory.

A recording is cut into windows of ``WINDOW_S`` seconds every ``HOP_S`` seconds (the choice and
its measurement: benchmarks/RESULTS.md, "Whole recordings"). The windows and their features come
from ``FeatureExtractor.windows`` (edgemood.features: the same features as a clip, streamed in
bounded memory); each goes through the fusion model as a clip does. Its text comes from the
subtitle cues (``CLIP.srt`` / ``CLIP.vtt``) shown during it.

A window is skipped, and counted, when it holds no speech and no face: its audio peaks below
-60 dBFS (``features.SILENCE_PEAK``, the rule a whole clip is called silent by) or there is no
audio at that time, and no frame in it shows a face (or the model does not use faces).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgemood.errors import InputError
from edgemood.features import Windows
from edgemood.labels import EMOTIONS, MODALITIES
from edgemood.model import FusionModel
from edgemood.prediction import Prediction

WINDOW_S = 2.0
HOP_S = 1.0


@dataclass
class Segment:
    """One analysed window: ``start`` to ``end`` seconds, its probabilities and what fed them."""

    start: float
    end: float
    probabilities: np.ndarray  # [8], EMOTIONS order
    modalities: dict[str, bool]

    @property
    def emotion(self) -> str:
        return EMOTIONS[int(np.argmax(self.probabilities))]

    def to_json(self) -> dict[str, Any]:
        """``{"start", "end", "emotion", "probabilities", "modalities"}``."""
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "emotion": self.emotion,
            "probabilities": {e: round(float(p), 4) for e, p in zip(EMOTIONS, self.probabilities)},
            "modalities": {m: bool(self.modalities[m]) for m in MODALITIES},
        }


class Timeline:
    """Emotion over a whole recording. Iterate to get each ``Segment`` as soon as its window is
    analysed; the counts (``windows``, ``skipped``), ``notes`` and ``summary()`` fill in as it
    goes. Made by ``Recognizer.timeline``; iterated once."""

    def __init__(
        self, windows: Windows, model: FusionModel, model_notes: list[str] | None = None
    ) -> None:
        """
        Args:
            windows: the recording's windows and their features (``FeatureExtractor.windows``).
            model: the fusion model each window goes through.
            model_notes: notes that hold for every clip of this model (``Recognizer.notes``).
        """
        self._windows = windows
        self.model = model
        self.model_notes = list(model_notes or [])
        self.path = windows.path
        self.window_s = windows.window_s
        self.hop_s = windows.hop_s
        self.segments: list[Segment] = []
        self.windows = 0
        self.skipped = 0
        self.notes: list[str] = windows.notes
        self.timings: dict[str, float] = {}
        self._used = dict.fromkeys(MODALITIES, False)
        self._started = False

    @property
    def file_duration(self) -> float | None:
        return self._windows.file_duration

    @property
    def media_end(self) -> float:
        """Seconds of the recording gone through."""
        return self._windows.media_end

    @property
    def skip_reason(self) -> str:
        return self._windows.skip_reason

    def __iter__(self) -> Iterator[Segment]:
        if self._started:
            raise RuntimeError("a Timeline is iterated once; call Recognizer.timeline again")
        self._started = True
        yield from self._run()

    def _run(self) -> Iterator[Segment]:
        clock = time.perf_counter()
        fusion = 0.0
        for window in self._windows:
            self.windows += 1
            if window.empty:
                self.skipped += 1
                continue
            stage = time.perf_counter()
            probabilities = self.model.predict([window.inputs])[0]
            fusion += time.perf_counter() - stage
            segment = Segment(
                window.start, window.end, probabilities, self.model.usable(window.inputs)
            )
            for m in MODALITIES:
                self._used[m] |= segment.modalities[m]
            self.segments.append(segment)
            yield segment
        streams = self._windows.timings
        self.timings.update(
            {
                "decode_and_audio_features": streams["decode_and_audio_features"],
                "face": streams["face"],
                "text": streams["text"],
                "fusion": fusion,
                **(
                    {"audio_features": streams["audio_features"]}
                    if "audio_features" in streams
                    else {}
                ),
                "total": time.perf_counter() - clock,
            }
        )
        if self.skipped:
            self.notes.append(
                f"{self.skipped} of {self.windows} windows skipped: {self.skip_reason}"
            )
        if not self.segments:
            raise InputError(
                f"{self.path}: {self.skip_reason} in any of {self.windows} windows"
                + (f" ({'; '.join(self.notes[:-1])})" if len(self.notes) > 1 else "")
            )

    def _owned(self, i: int) -> float:
        """Seconds of the recording segment ``i`` stands for: from its start to the next
        window's start (its hop), the last one to its end."""
        segment = self.segments[i]
        if i == len(self.segments) - 1 and segment.end >= self.media_end - 1e-6:
            return segment.end - segment.start
        return min(segment.start + self.hop_s, segment.end) - segment.start

    def summary(self) -> dict[str, Any]:
        """Share of the analysed time per emotion, the dominant emotion, window counts.

        Each analysed window stands for the stretch from its start to the next window's start,
        so overlapping windows are not counted twice.
        """
        seconds = dict.fromkeys(EMOTIONS, 0.0)
        for i, segment in enumerate(self.segments):
            seconds[segment.emotion] += self._owned(i)
        analysed = sum(seconds.values())
        share = {e: round(s / analysed, 4) if analysed else 0.0 for e, s in seconds.items()}
        return {
            "dominant": max(share, key=share.get) if analysed else None,
            "share": share,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "windows": self.windows,
            "analysed_windows": len(self.segments),
            "skipped_windows": self.skipped,
            "skipped_because": self.skip_reason,
            "analysed_s": round(analysed, 3),
        }

    def prediction(self) -> Prediction:
        """The whole recording as one Prediction: probabilities averaged over the analysed
        windows (each weighted by the time it stands for)."""
        weights = np.array([self._owned(i) for i in range(len(self.segments))])
        stacked = np.stack([s.probabilities for s in self.segments])
        mean = (stacked * weights[:, None]).sum(0) / max(weights.sum(), 1e-9)
        return Prediction(
            file=str(self.path),
            probabilities=mean.astype(np.float32),
            modalities=dict(self._used),
            notes=[*self.notes, *self.model_notes],
            timings=dict(self.timings),
            duration=float(weights.sum()),
            file_duration=self.file_duration,
            text_source="subtitles" if self._used["text"] else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The clip's one JSON object (the shape of ``Prediction.to_json``) plus ``segments``
        and ``summary``. Call after iterating."""
        return {
            **self.prediction().to_json(),
            "segments": [s.to_json() for s in self.segments],
            "summary": self.summary(),
        }
