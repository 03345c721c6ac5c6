"""Peak memory and speed of ``edgemood infer --timeline`` on 1-, 10- and 60-minute recordings.

The recordings are built in a scratch folder (not committed) from real material: a one-minute
H.264 video of a real face photo (scikit-image's astronaut, NASA, public domain) that moves a
little every frame (so that the decoder has real work, unlike a still image), 640x480 at 25 fps,
with RAVDESS speech (``--ravdess`` folder; else the committed test clips) one clip after another
with short pauses; the 10- and 60-minute files repeat that minute by remuxing its packets (no
re-encoding). Each file is then run in a fresh process, one thread, ``infer --timeline --json``
with the bundled model (audio + face: the recordings have no subtitles) or ``--model DIR``;
the process reports its own peak RSS (VmHWM); wall and CPU time (user + system) are measured
around it, and the 1-minute load average is printed: other jobs share this machine.

    python -m benchmarks.timeline_memory --minutes 1 10 60 [--ravdess DIR] [--scratch /tmp/x]
        [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RATE = 16000
FPS = 25
SIZE = (640, 480)
# Runs the CLI in the child and prints its peak RSS: the figure of that process alone.
CHILD = """
import sys
from edgemood.cli import main
sys.argv = ["edgemood", *sys.argv[1:]]
try:
    main()
finally:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("PEAK_KB", line.split()[1], file=sys.stderr)
"""


def _speech(ravdess: Path | None, seconds: float) -> np.ndarray:
    """RAVDESS clips back to back, 0.5 s apart, up to ``seconds`` of audio."""
    import soundfile

    folder = ravdess if ravdess is not None else REPO / "tests" / "fixtures"
    clips = sorted(folder.rglob("03-01-*.flac"))[::7] or sorted(folder.rglob("*.flac"))
    parts, total, i = [], 0, 0
    while total < seconds * RATE:
        samples, rate = soundfile.read(str(clips[i % len(clips)]), dtype="float32")
        assert rate == RATE, rate
        parts += [samples, np.zeros(RATE // 2, np.float32)]
        total += len(samples) + RATE // 2
        i += 1
    return np.concatenate(parts)[: int(seconds * RATE)]


def _frames(count: int):
    """The face photo, panned a few pixels and zoomed slightly from frame to frame."""
    import cv2
    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    canvas = cv2.resize(face, (SIZE[0] + 40, SIZE[1] + 40))
    for i in range(count):
        dx = int(20 + 18 * np.sin(i / 17))
        dy = int(20 + 18 * np.cos(i / 23))
        yield np.ascontiguousarray(canvas[dy : dy + SIZE[1], dx : dx + SIZE[0]])


def build_minute(path: Path, ravdess: Path | None) -> Path:
    """One minute of face video with speech, H.264 + AAC in mp4."""
    import av

    audio = (np.clip(_speech(ravdess, 60.0), -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast", "crf": "28", "g": str(2 * FPS)}
        sound = out.add_stream("aac", rate=RATE)
        sound.layout = "mono"
        for image in _frames(60 * FPS):
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        for start in range(0, len(audio), 1024):
            frame = av.AudioFrame.from_ndarray(
                audio[start : start + 1024].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    return path


def repeat(minute: Path, times: int, path: Path) -> Path:
    """``minute`` played ``times`` times in a row: its packets remuxed with shifted times (each
    stream by its own length, so that time stamps keep rising: AAC's padding makes the audio a
    few ms longer than the video)."""
    import av

    first: dict[int, int] = {}
    last: dict[int, int] = {}
    with av.open(str(minute)) as source:
        for packet in source.demux():
            if packet.dts is not None:
                index = packet.stream.index
                first[index] = min(first.get(index, packet.dts), packet.dts)
                last[index] = max(last.get(index, 0), packet.dts + (packet.duration or 0))
    spans = {index: last[index] - first[index] for index in first}
    with av.open(str(path), "w") as out:
        streams = None
        for n in range(times):
            with av.open(str(minute)) as source:
                if streams is None:
                    streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
                for packet in source.demux():
                    if packet.dts is None:
                        continue
                    index = packet.stream.index
                    shift = n * spans[index]
                    packet.pts = None if packet.pts is None else packet.pts + shift
                    packet.dts += shift
                    packet.stream = streams[index]
                    out.mux(packet)
    return path


def measure(clip: Path, model: Path | None, minutes: float) -> dict:
    args = ["infer", "--timeline", "--json", "--threads", "1", str(clip)]
    args += ["--model", str(model)] if model is not None else []
    clock, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if "PEAK_KB" in line)
    result = json.loads(done.stdout)
    return {
        "minutes": minutes,
        "model": "bundled" if model is None else str(model),
        "wall_s": round(wall, 1),
        "rtf": round(wall / (minutes * 60), 4),
        "peak_rss_mb": round(peak / 1024, 1),
        "windows": result["summary"]["windows"],
        "skipped": result["summary"]["skipped_windows"],
        "visual_windows": sum(s["modalities"]["visual"] for s in result["segments"]),
        "cpu_rtf": round(cpu / (minutes * 60), 4),
        "load": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, nargs="+", default=[1, 10, 60])
    parser.add_argument("--ravdess", type=Path, default=None)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/edgemood-timeline-bench"))
    parser.add_argument(
        "--model", type=Path, default=None, help="model directory (default: the bundled model)"
    )
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    minute = args.scratch / "minute.mp4"
    if not minute.exists():
        build_minute(minute, args.ravdess)
    print("| file | model | windows (skipped) | face used in | wall | RTF (wall) | RTF (CPU) "
          "| peak RSS | load |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for minutes in args.minutes:
        clip = args.scratch / f"{minutes}min.mp4"
        if not clip.exists():
            repeat(minute, minutes, clip)
        row = measure(clip, args.model, minutes)
        print(
            f"| {minutes} min mp4 ({clip.stat().st_size / 1e6:.0f} MB) | {row['model']} | "
            f"{row['windows']} ({row['skipped']}) | {row['visual_windows']} windows | "
            f"{row['wall_s']} s | {row['rtf']} | {row['cpu_rtf']} | {row['peak_rss_mb']} MB "
            f"| {row['load']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
