"""benchmarks/research/face_fps.py: its frame sampling is the decoder's, and the measurement
runs."""

from __future__ import annotations

import numpy as np
import pytest
from media import write_clip

from benchmarks.research.face_fps import RATES, load_clips, measure, sample_indices
from edgemood.decode import timed_frames


def test_sampling_picks_the_frames_the_decoder_keeps(tmp_path):
    frames = [np.full((64, 64, 3), 4 * i, np.uint8) for i in range(40)]
    clip = write_clip(tmp_path / "ramp.mp4", frames, None, fps=10)
    for fps in (5.0, 3.0, 2.5):
        decoded = [round(t * 10) for t, _ in timed_frames(clip, fps, None)]
        assert list(sample_indices(40, 10.0, fps, 0.0)) == decoded


@pytest.mark.train  # scikit-learn comes with the [train] extra (librosa needs it)
def test_separable_units_are_classified_at_every_rate(tmp_path):
    rng = np.random.default_rng(0)
    # Three units, one per emotion: with 35 of which 32 were noise, 12 training takes would let
    # the classifier fit the noise (standardised to the signal's scale) and the check be flaky.
    header = "AU01_r;AU02_r;AU04_r"
    for actor in (1, 2, 3):
        folder = tmp_path / f"Actor_{actor:02d}"
        folder.mkdir()
        for emotion in (1, 3, 5):
            for take in (1, 2):
                rows = rng.normal(0, 0.5, (90, 3)) + np.eye(3)[emotion // 2] * 3
                name = f"01-01-{emotion:02d}-01-01-{take:02d}-{actor:02d}.csv"
                np.savetxt(folder / name, rows, delimiter=";", header=header, comments="")
    result = measure(*load_clips(tmp_path))
    assert result["clips"] == 18 and result["all_frames_accuracy"] == 1.0
    assert [row["accuracy"] for row in result["rates"]] == pytest.approx([1.0] * len(RATES))
    one = next(row for row in result["rates"] if row["fps"] == 1.0)
    assert one["frames_per_clip"] == pytest.approx(3.0)  # 90 frames at 29.97 fps: 3 s
