"""Which window length for ``--timeline``: accuracy of a model on windows cut from RAVDESS clips.

Every clip is cut into windows of each length (hop: half a window), each window is run through
the same features and fusion model as ``edgemood infer --timeline`` does, and its emotion is
compared with the clip's label. Two figures per length: over all windows that are not silent by
the -60 dBFS rule, and over "speech" windows only (at least half of their 10 ms frames within
35 dB of the clip's loudest frame: the span the fusion model pools over), since a window of room
noise before the actor speaks has no emotion to find. The whole clip is the reference.

    python -m benchmarks.timeline_windows /work/shared/ravdess/audio --every 5 [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edgemood.audio_features import SAMPLE_RATE, audio_features
from edgemood.decode import decode_audio, media_files
from edgemood.features import SILENCE_PEAK
from edgemood.labels import EMOTIONS
from edgemood.model import FusionModel, ModelInputs
from edgemood.ravdess import parse_name

LENGTHS = (1.0, 1.5, 2.0, 3.0, 4.0)


def _speech_share(samples: np.ndarray, loudest_db: float) -> float:
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    if not len(frames):
        return 0.0
    db = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-10)
    return float(np.mean(db >= loudest_db - 35.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--every", type=int, default=5, help="use every Nth clip (sorted)")
    args = parser.parse_args()
    model = FusionModel(args.model, threads=1)
    clips = media_files([args.data])[:: args.every]
    whole = []
    rows = {w: {"all": [], "speech": [], "silent": 0, "seconds": 0.0} for w in LENGTHS}
    for clip in clips:
        label = parse_name(clip).emotion
        samples = decode_audio(clip)
        probabilities = model.predict([ModelInputs(audio=audio_features(samples))])[0]
        whole.append(EMOTIONS[int(np.argmax(probabilities))] == label)
        frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
        loudest = float(np.max(20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-10)))
        for length in LENGTHS:
            size, hop = int(length * SAMPLE_RATE), int(length * SAMPLE_RATE / 2)
            starts = range(0, max(1, len(samples) - size + hop), hop)
            batch, speech = [], []
            clock = time.perf_counter()
            for start in starts:
                window = samples[start : start + size]
                if window.size == 0 or float(np.abs(window).max()) < SILENCE_PEAK:
                    rows[length]["silent"] += 1
                    continue
                batch.append(ModelInputs(audio=audio_features(window)))
                speech.append(_speech_share(window, loudest) >= 0.5)
            if batch:
                hits = [EMOTIONS[i] == label for i in np.argmax(model.predict(batch), axis=1)]
                rows[length]["all"] += hits
                rows[length]["speech"] += [h for h, s in zip(hits, speech) if s]
            rows[length]["seconds"] += time.perf_counter() - clock
    audio_s = sum(len(decode_audio(c)) for c in clips) / SAMPLE_RATE
    print(f"{len(clips)} clips, {audio_s:.0f} s; whole clip accuracy {np.mean(whole):.3f}")
    print(
        "| window (hop = window/2) | windows | accuracy, all | speech windows | accuracy, speech "
        "| silent, skipped | features+fusion RTF |"
    )
    print("|---|---|---|---|---|---|---|")
    out = {"clips": len(clips), "whole_clip_accuracy": float(np.mean(whole)), "windows": {}}
    for length, row in rows.items():
        acc_all, acc_speech = np.mean(row["all"]), np.mean(row["speech"])
        rtf = row["seconds"] / audio_s
        print(
            f"| {length:g} s | {len(row['all'])} | {acc_all:.3f} | {len(row['speech'])} | "
            f"{acc_speech:.3f} | {row['silent']} | {rtf:.4f} |"
        )
        out["windows"][str(length)] = {
            "windows": len(row["all"]), "accuracy_all": float(acc_all),
            "speech_windows": len(row["speech"]), "accuracy_speech": float(acc_speech),
            "silent": row["silent"], "rtf": rtf,
        }  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
