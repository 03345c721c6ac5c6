"""A corpus of malformed and awkward inputs, made from the committed fixtures (and generated
media), for the robustness tests and ``python tests/corpus.py OUT`` by hand.

Each case: the file, what edgemood must do (``"error"``: exit 2 with one line, or ``"predict"``:
a prediction, perhaps with a modality missing) and, for predictions, the modalities expected
with the audio+visual test model.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from media import face_image, read_audio, write_clip

FIXTURES = Path(__file__).parent / "fixtures"
VOICE = FIXTURES / "03-01-03-02-02-01-02.flac"


@dataclass
class Case:
    name: str
    path: Path
    expect: str  # "error" or "predict"
    modalities: dict[str, bool] = field(default_factory=dict)  # for "predict", with an a+v model
    message: str = ""  # part of the one-line error, for "error"


def _wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    import soundfile

    soundfile.write(str(path), samples.astype(np.float32), rate)
    return path


def _noise_frames(count: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def build(out: Path, long_minutes: float = 10.0) -> list[Case]:
    """Write every case into ``out``; returns them."""
    out.mkdir(parents=True, exist_ok=True)
    voice = read_audio(VOICE)
    face = face_image("astronaut")
    good = write_clip(out / "good.mp4", face, voice)
    av_ok = {"audio": True, "visual": True, "text": False}
    audio_only = {"audio": True, "visual": False, "text": False}
    cases = [Case("good clip", good, "predict", av_ok)]

    (out / "zero.mp4").write_bytes(b"")
    cases.append(Case("zero-byte file", out / "zero.mp4", "error", message="empty file"))
    data = good.read_bytes()
    for fraction in (0.02, 0.3, 0.7, 0.95):
        path = out / f"truncated_{int(fraction * 100)}.mp4"
        path.write_bytes(data[: int(len(data) * fraction)])
        # A cut mp4 may still hold decodable audio before the damage: either outcome is fine,
        # as long as it is a clean one (checked by the caller).
        cases.append(Case(f"mp4 truncated at {fraction:.0%}", path, "either"))
    (out / "random.mp4").write_bytes(np.random.default_rng(1).bytes(50_000))
    cases.append(Case("random bytes named .mp4", out / "random.mp4", "error", message="not a"))
    (out / "text.mp4").write_text("this is a text file, not a video\n" * 100)
    cases.append(Case("text file named .mp4", out / "text.mp4", "error", message="not a"))

    mute = write_clip(out / "no_audio.mp4", face, None, seconds=2.0)
    cases.append(Case("mp4 without audio", mute, "predict", {**av_ok, "audio": False}))
    m4a = write_clip(out / "no_video.mp4", None, voice)
    cases.append(Case("mp4 without video", m4a, "predict", audio_only))
    noface = write_clip(out / "no_face.mp4", _noise_frames(30, 240, 320), voice, fps=15)
    cases.append(Case("video without a face", noface, "predict", audio_only))

    cases.append(
        Case("pure silence", _wav(out / "silence.wav", np.zeros(32000)), "error", message="silent")
    )
    clipped = np.clip(voice * 20, -1, 1)
    cases.append(Case("clipped audio", _wav(out / "clipped.wav", clipped), "predict", audio_only))
    dc = np.clip(voice + 0.5, -1, 1)
    cases.append(Case("DC offset audio", _wav(out / "dc.wav", dc), "predict", audio_only))
    cases.append(
        Case("0.15 s clip", _wav(out / "short.wav", voice[8000:10400]), "predict", audio_only)
    )
    cases.append(Case("10 ms clip", _wav(out / "tiny.wav", voice[8000:8160]), "either"))

    seconds = long_minutes * 60
    tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(int(16000 * seconds)) / 16000)).astype(
        np.float32
    )
    tone[::7919] += 0.3  # not a pure tone: clicks
    cases.append(
        Case(f"{long_minutes:g} min audio", _wav(out / "long.wav", tone), "predict", audio_only)
    )
    long_video = write_clip(
        out / "long.mp4", np.zeros((64, 64, 3), np.uint8), None, fps=2, seconds=seconds
    )
    cases.append(Case(f"{long_minutes:g} min video, no face, no audio", long_video, "error",
                      message="no usable"))  # fmt: skip

    big = np.ascontiguousarray(np.kron(face, np.ones((8, 8, 1), np.uint8)))  # 4096 x 4096
    # Over the 4096x2160 decoding limit: the face is reported missing, the audio still used.
    cases.append(Case("4096x4096 frames", write_clip(out / "huge_frames.mp4", big, voice,
                                                     fps=2), "predict", audio_only))  # fmt: skip
    cases.append(Case("1 fps video", write_clip(out / "fps1.mp4", face, voice, fps=1),
                      "predict", av_ok))  # fmt: skip
    cases.append(Case("120 fps video", write_clip(out / "fps120.mp4", face, voice, fps=120),
                      "predict", av_ok))  # fmt: skip
    odd = write_clip(out / "odd.mkv", face, voice, fps=7)
    cases.append(Case("7 fps mkv", odd, "predict", av_ok))

    spaced = out / "clip with spaces é 情绪.mp4"
    spaced.write_bytes(good.read_bytes())
    cases.append(Case("name with spaces and non-ASCII", spaced, "predict", av_ok))
    (out / "a_directory.mp4").mkdir(exist_ok=True)
    cases.append(Case("path is a directory", out / "a_directory.mp4", "error", message="directory"))
    locked = out / "unreadable.mp4"
    locked.write_bytes(good.read_bytes())
    os.chmod(locked, 0)
    cases.append(Case("unreadable file (mode 000)", locked, "error", message="permission denied"))
    cases.append(Case("missing file", out / "missing.mp4", "error", message="file not found"))
    return cases


if __name__ == "__main__":
    for case in build(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 10.0):
        print(f"{case.expect:8s} {case.name}: {case.path}")
