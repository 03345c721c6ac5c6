"""The HTTP column of the README's bad-input table, row by row, each on its own input and with
its exact status (issue 19), through a real ``edgemood serve`` with the bundled
model. The 504 row (over ``clip_timeout_s``) is test_serve.py's
test_clip_time_limit_gives_504_and_a_fresh_worker; every other row is here.

Root reads mode-000 files anyway, so the server runs without the DAC capabilities (setpriv), as a
service user would be refused."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import HAPPY
from live_service import DROP_DAC, Server
from media import face_image, read_audio, write_clip

MAX_UPLOAD_MB = 3.0


def _wav(path: Path, samples: np.ndarray) -> Path:
    import soundfile

    soundfile.write(str(path), samples.astype(np.float32), 16000)
    return path


def _build(root: Path) -> dict[str, Path]:
    """Every input of the table, written under ``root``."""
    voice = read_audio(HAPPY)
    face = face_image("astronaut")
    small = np.ascontiguousarray(face[::4, ::4])  # 128x128: frame rates, not faces, are tested
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> Path:
        (root / name).write_bytes(data)
        return root / name

    good = write_clip(root / "good.mp4", face, voice)
    data = good.read_bytes()
    files["empty"] = put("empty.wav", b"")
    files["text"] = put("notes.mp4", b"this is a text file, not a video\n" * 50)
    files["random"] = put("random.mp4", np.random.default_rng(1).bytes(50_000))
    # PyAV writes the mp4 index (moov) last: cut at 30 %, the index is lost.
    files["truncated_mp4"] = put("cut.mp4", data[: int(len(data) * 0.3)])
    flac = HAPPY.read_bytes()
    files["truncated_decodable"] = put("cut.flac", flac[: int(len(flac) * 0.6)])
    damaged = bytearray(data)
    middle = len(data) // 2
    damaged[middle : middle + 2000] = np.random.default_rng(2).bytes(2000)
    files["damaged_frames"] = put("damaged.mp4", bytes(damaged))
    files["no_audio"] = write_clip(root / "mute.mp4", face, None, seconds=2.0)
    files["no_video"] = write_clip(root / "voice_only.mp4", None, voice)
    noise = [np.random.default_rng(i).integers(0, 255, (120, 160, 3), np.uint8) for i in range(20)]
    files["no_face"] = write_clip(root / "no_face.mp4", noise, voice, fps=5)
    files["silence"] = _wav(root / "silence.wav", np.zeros(32000))
    files["quiet"] = _wav(root / "quiet.wav", voice * 10 ** (-70 / 20) / np.abs(voice).max())
    files["few_ms"] = _wav(root / "tiny.wav", voice[8000:8160])  # 10 ms of speech
    files["clipped"] = _wav(root / "clipped.wav", np.clip(voice * 20, -1, 1))
    files["dc_offset"] = _wav(root / "dc.wav", np.clip(voice + 0.5, -1, 1))
    files["short"] = _wav(root / "short.wav", voice[8000:10400])  # 0.15 s
    minutes = np.tile(voice, int(600 * 16000 / len(voice)) + 1)[: 600 * 16000]
    files["long"] = _wav(root / "long.wav", minutes)  # 10 min
    big = np.ascontiguousarray(np.kron(small, np.ones((32, 32, 1), np.uint8)))  # 4096 x 4096
    files["huge_frames"] = write_clip(root / "huge.mp4", big, voice, fps=1)
    for fps in (1, 7, 120):
        files[f"fps{fps}"] = write_clip(root / f"fps{fps}.mkv", small, voice, fps=fps)
    files["odd_name"] = put("clip with spaces é 情绪.flac", flac)
    files["too_large"] = put("big.flac", np.random.default_rng(3).bytes(int(3.2 * 2**20)))
    return files


# (table row, input, how it is sent, status). "path": POST {"path": ...} under allowed_dirs.
ROWS = [
    ("missing file", "missing", "path", 404),
    ("a directory", "directory", "path", 404),
    ("unreadable (permissions)", "unreadable", "path", 403),
    ("empty file", "empty", "upload", 415),
    ("not media: text", "text", "upload", 415),
    ("not media: random bytes", "random", "upload", 415),
    ("truncated mp4 (index lost)", "truncated_mp4", "upload", 415),
    ("truncated, still decodable up to the damage", "truncated_decodable", "upload", 200),
    ("damaged video frames", "damaged_frames", "upload", 200),
    ("no audio stream, a face in view", "no_audio", "upload", 200),
    ("no video stream", "no_video", "upload", 200),
    ("no face in any frame", "no_face", "upload", 200),
    ("silence", "silence", "upload", 422),
    ("peak below -60 dBFS", "quiet", "upload", 422),
    ("a few ms of sound", "few_ms", "upload", 422),
    ("clipped audio", "clipped", "upload", 200),
    ("DC-offset audio", "dc_offset", "upload", 200),
    ("0.15 s clip", "short", "upload", 200),
    ("long clip (10 min)", "long", "path", 200),
    ("frames larger than 4096x2160", "huge_frames", "path", 200),
    ("1 fps", "fps1", "upload", 200),
    ("7 fps", "fps7", "upload", 200),
    ("120 fps", "fps120", "upload", 200),
    ("spaces and non-ASCII in the name (upload)", "odd_name", "upload", 200),
    ("spaces and non-ASCII in the name (path)", "odd_name", "path", 200),
    ("upload over max_upload_mb", "too_large", "upload", 413),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("http_table"), start=False,
                    max_upload_mb=MAX_UPLOAD_MB)  # fmt: skip
    files = _build(server.allowed)
    files["missing"] = server.allowed / "missing.mp4"
    files["directory"] = server.allowed / "a_directory.mp4"
    files["directory"].mkdir()
    files["unreadable"] = server.allowed / "locked.flac"
    files["unreadable"].write_bytes(HAPPY.read_bytes())
    os.chmod(files["unreadable"], 0)
    server.start(prefix=DROP_DAC)
    yield server, files
    os.chmod(files["unreadable"], 0o644)
    assert server.stop() == 0


@pytest.mark.parametrize(("row", "key", "mode", "status"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_table_http_status(server, row, key, mode, status):
    server, files = server
    path = files[key]
    if mode == "upload" and status == 413:
        got, reply = _oversized_upload(server, path.stat().st_size)
        name = path.name
    elif mode == "upload":
        got, reply = server.upload(path.name, path.read_bytes())
        name = path.name
    else:
        got, reply = server.post(json.dumps({"path": str(path)}).encode(), "application/json")
        name = str(path)
    assert got == status, (row, reply)
    if status == 200 and key == "no_audio":  # the bundled model sees: the face answers alone
        assert reply["file"] == name and reply["modalities"] == {
            "audio": False,
            "visual": True,
            "text": False,
        }
        assert "no audio track" in reply["notes"]
    elif status == 200:
        assert reply["file"] == name and reply["modalities"]["audio"] is True
    elif status != 413:
        assert reply["file"] == name and reply["error"] and "\n" not in reply["error"]


def _oversized_upload(server, size: int) -> tuple[int, dict]:
    """Declare a multipart body of ``size`` bytes and send only its start: the service answers
    413 from the Content-Length alone and closes, so sending all of it races that close (a broken
    pipe on the client, seen on Python 3.13) instead of reading the answer."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("POST", "/v1/infer")
        connection.putheader("Content-Type", "multipart/form-data; boundary=b")
        connection.putheader("Content-Length", str(size))
        for key, value in server.headers.items():
            connection.putheader(key, value)
        connection.endheaders()
        connection.send(b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.flac"')
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


def test_model_that_cannot_be_loaded_stops_the_service_with_exit_3(tmp_path):
    server = Server(tmp_path, start=False, model=str(tmp_path / "no_model"))
    with pytest.raises(RuntimeError, match="server exited with 3"):
        server.start()
    assert "no_model: model not found" in server.log.read_text()
