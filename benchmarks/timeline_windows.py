"""Which window length for ``--timeline``: accuracy of a model on windows cut from RAVDESS clips.

Every clip is run through ``Recognizer.timeline`` (the code of ``edgemood infer --timeline``)
with windows of each length (hop: half a window), and each window's emotion is compared with the
clip's label. Two figures per length: over all windows that are not silent by
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

from edgemood.audio_features import SAMPLE_RATE
from edgemood.decode import decode_audio, media_files
from edgemood.pipeline import Recognizer
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
    recognizer = Recognizer(args.model, threads=1)
    clips = media_files([args.data])[:: args.every]
    whole = []
    rows = {w: {"all": [], "speech": [], "silent": 0, "seconds": 0.0} for w in LENGTHS}
    audio_s = 0.0
    for clip in clips:
        label = parse_name(clip).emotion
        samples = decode_audio(clip)
        audio_s += len(samples) / SAMPLE_RATE
        whole.append(recognizer.predict(clip).emotion == label)
        frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
        loudest = float(np.max(20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-10)))
        for length in LENGTHS:
            clock = time.perf_counter()
            run = recognizer.timeline(clip, window_s=length, hop_s=length / 2)
            segments = list(run)
            rows[length]["seconds"] += time.perf_counter() - clock
            rows[length]["silent"] += run.skipped
            for segment in segments:
                window = samples[
                    round(segment.start * SAMPLE_RATE) : round(segment.end * SAMPLE_RATE)
                ]
                hit = segment.emotion == label
                rows[length]["all"].append(hit)
                if _speech_share(window, loudest) >= 0.5:
                    rows[length]["speech"].append(hit)
    print(f"{len(clips)} clips, {audio_s:.0f} s; whole clip accuracy {np.mean(whole):.3f}")
    print(
        "| window (hop = window/2) | windows | accuracy, all | speech windows | accuracy, speech "
        "| silent, skipped | timeline wall RTF |"
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
