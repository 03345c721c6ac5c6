"""Whole recordings (``infer --timeline``, ``Recognizer.timeline``): windows, skipped stretches,
emotions over time, subtitles, JSON, the plot, and the service.

The spliced fixture (tests/fixtures/README.md) is the committed happy clip three times, 3 s of
digital silence, the committed sad clip three times; rebuilt with::

    H, S = (soundfile.read(f, dtype="int16")[0] for f in (HAPPY, SAD))
    soundfile.write(SPLICED, np.concatenate([H, H, H, np.zeros(48000, np.int16), S, S, S]), 16000)

The bundled model calls both source clips right as whole clips. Expected windows, boundaries and
skips are worked out here from the samples as soundfile reads them (not through edgemood).
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile
from conftest import FIXTURES, HAPPY
from typer.testing import CliRunner

from edgemood.cli import app
from edgemood.decode import stream_audio, timed_frames
from edgemood.labels import EMOTIONS
from edgemood.pipeline import Recognizer
from edgemood.subtitles import parse_subtitles, words_between

runner = CliRunner()
SPLICED = FIXTURES / "spliced_happy_sad.flac"
RATE = 16000


def _samples(path) -> np.ndarray:
    return soundfile.read(str(path), dtype="float32")[0]


def _parts() -> tuple[float, float]:
    """End of the happy part and start of the sad part, in seconds."""
    happy_end = 3 * len(_samples(HAPPY)) / RATE
    return happy_end, happy_end + 3.0


def _expected_windows(samples: np.ndarray, window: float, hop: float) -> list[tuple]:
    """(start, end, silent) of every window by the documented rule: windows every ``hop`` from
    0, the last one the first that reaches the end (cut there); silent = peak below -60 dBFS."""
    duration = len(samples) / RATE
    out, k = [], 0
    while True:
        start = k * hop
        end = min(start + window, duration)
        piece = samples[round(start * RATE) : round(end * RATE)]
        out.append((start, end, float(np.abs(piece).max()) < 1e-3))
        if start + window >= duration:
            return out
        k += 1


def _same_bounds(segments, bounds: list[tuple[float, float]]) -> None:
    got = np.array([(s.start, s.end) for s in segments])
    np.testing.assert_allclose(got, np.array(bounds), atol=1e-3)


@pytest.fixture(scope="module")
def bundled() -> Recognizer:
    return Recognizer()


def test_spliced_clip_gives_windows_with_the_right_bounds_skips_and_emotions(bundled):
    run = bundled.timeline(SPLICED)
    segments = list(run)
    expected = _expected_windows(_samples(SPLICED), 2.0, 1.0)
    kept = [(s, e) for s, e, silent in expected if not silent]
    skipped = sum(silent for *_, silent in expected)
    assert 0 < skipped < len(expected)  # the silent middle is skipped, the rest is not
    assert run.windows == len(expected) and run.skipped == skipped
    _same_bounds(segments, kept)
    assert f"{skipped} of {len(expected)} windows skipped: no speech" in " ".join(run.notes)
    happy_end, sad_start = _parts()
    # Windows well inside each part (0.5 s away from its edges) get that part's emotion.
    happy = [s.emotion for s in segments if s.end <= happy_end - 0.5]
    sad = [s.emotion for s in segments if s.start >= sad_start + 0.5]
    assert len(happy) >= 8 and len(sad) >= 7
    assert happy.count("happy") / len(happy) >= 0.75, happy
    assert sad.count("sad") / len(sad) >= 0.75, sad
    summary = run.summary()
    assert summary["share"]["happy"] + summary["share"]["sad"] >= 0.8
    assert summary["dominant"] in ("happy", "sad")
    assert sum(summary["share"].values()) == pytest.approx(1.0, abs=1e-3)
    # The parts' times, from the hop each window stands for: the whole file minus the skips.
    assert summary["analysed_s"] == pytest.approx(len(_samples(SPLICED)) / RATE - skipped, abs=1e-3)


def test_segments_arrive_before_the_file_is_read_to_the_end(bundled):
    run = bundled.timeline(SPLICED)
    first = next(iter(run))
    assert (first.start, first.end) == (0.0, 2.0)
    assert run.windows == 1  # one window analysed so far, not the whole recording
    with pytest.raises(RuntimeError):
        iter(run).__next__()  # a timeline is iterated once


def test_other_window_and_hop(bundled):
    run = bundled.timeline(SPLICED, window_s=3.0, hop_s=3.0)
    segments = list(run)
    expected = _expected_windows(_samples(SPLICED), 3.0, 3.0)
    _same_bounds(segments, [(s, e) for s, e, silent in expected if not silent])
    with pytest.raises(ValueError):
        bundled.timeline(SPLICED, window_s=1.0, hop_s=2.0)


def test_streamed_audio_is_the_file(tmp_path):
    chunks = list(stream_audio(SPLICED))
    assert len(chunks) > 10  # streamed in pieces, not read whole
    np.testing.assert_allclose(np.concatenate(chunks), _samples(SPLICED), atol=1e-4)


def test_a_silent_recording_is_one_clear_error(tmp_path):
    silent = tmp_path / "silence.flac"
    soundfile.write(str(silent), np.zeros(5 * RATE, np.float32), RATE)
    result = runner.invoke(app, ["infer", "--timeline", str(silent)])
    assert result.exit_code == 2
    assert "no speech" in result.stderr and "in any of 4 windows" in result.stderr
    assert "Traceback" not in result.output


def test_cli_table_and_json(bundled):
    result = runner.invoke(app, ["infer", "--timeline", str(SPLICED)])
    assert result.exit_code == 0, result.output
    run = bundled.timeline(SPLICED)
    segments = list(run)
    rows = [line for line in result.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == len(segments)
    assert rows[0].split()[:3] == ["0.0", "2.0", segments[0].emotion]
    assert f"({run.skipped} windows skipped: no speech" in result.stdout
    assert f"dominant: {run.summary()['dominant']}" in result.stdout

    result = runner.invoke(app, ["infer", "--timeline", "--json", str(SPLICED), str(HAPPY)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2  # still one line per clip
    line = lines[0]
    assert list(line) == [
        *("file", "emotion", "sentiment", "probabilities", "modalities", "text_source"),
        *("analysed_s", "duration_s", "notes", "segments", "summary"),
    ]
    assert [s["start"] for s in line["segments"]] == [s.start for s in segments]
    assert [s["emotion"] for s in line["segments"]] == [s.emotion for s in segments]
    assert list(line["segments"][0]) == ["start", "end", "emotion", "probabilities", "modalities"]
    assert line["segments"][0]["modalities"] == {"audio": True, "visual": False, "text": False}
    assert line["summary"] == run.summary()
    assert line["emotion"] == max(line["probabilities"], key=line["probabilities"].get)
    assert line["analysed_s"] == line["summary"]["analysed_s"]
    # A 3.7 s clip: windows 0-2, 1-3 and 2-3.7 s (the last cut at the end of the file).
    expected = [(s, round(e, 3)) for s, e, _ in _expected_windows(_samples(HAPPY), 2.0, 1.0)]
    assert [(s["start"], s["end"]) for s in lines[1]["segments"]] == expected
    assert expected[-1][1] == round(len(_samples(HAPPY)) / RATE, 3)


def test_a_clip_shorter_than_a_window_is_one_segment(bundled):
    segments = list(bundled.timeline(HAPPY, window_s=5.0, hop_s=2.5))
    _same_bounds(segments, [(0.0, len(_samples(HAPPY)) / RATE)])
    assert segments[0].emotion == "happy"


def test_bad_window_settings_are_one_line():
    result = runner.invoke(app, ["infer", "--timeline", "--window", "1", "--hop", "2", str(HAPPY)])
    assert result.exit_code == 2 and "--hop 2 is longer than --window 1" in result.stderr


SRT = """1
00:00:00,500 --> 00:00:02,000
<i>Dogs are sitting</i>
by the door.

2
00:00:14,200 --> 00:00:16,000
Kids are talking by the door
"""
VTT = """WEBVTT

NOTE a comment block

00:00.500 --> 00:02.000 align:start
Dogs are sitting by the door.

intro
00:00:14.200 --> 00:00:16.000
Kids are talking by the door
"""


def test_subtitles_srt_and_vtt_read_the_same():
    srt, vtt = parse_subtitles(SRT), parse_subtitles(VTT.replace("\n", "\r\n"))
    assert [(c.start, c.end) for c in srt] == [(0.5, 2.0), (14.2, 16.0)]
    assert srt == vtt
    assert srt[0].text == "Dogs are sitting by the door."
    assert words_between(srt, 1.0, 3.0) == "Dogs are sitting by the door."
    assert words_between(srt, 2.0, 14.2) == ""  # touching is not overlapping
    assert words_between(srt, 0.0, 20.0).endswith("door. Kids are talking by the door")


def test_subtitles_with_a_model_without_text_are_named_not_ignored(audio_model, tmp_path):
    clip = tmp_path / "talk.flac"
    shutil.copy(SPLICED, clip)
    clip.with_suffix(".vtt").write_text(VTT)
    run = Recognizer(audio_model).timeline(clip, transcript="given words")
    list(run)
    notes = " ".join(run.to_json()["notes"])
    assert "talk.vtt: 2 subtitle cues not used: text branch not trained" in notes
    assert "--transcript not used in timeline mode" in notes


@pytest.mark.train
def test_subtitle_cues_feed_the_windows_they_fall_in(full_model, tmp_path):
    from conftest import WORDS
    from transformers import DistilBertConfig

    from export.text_encoder import export_text_encoder, save_offline_distilbert

    # A one-layer DistilBERT with the real width (768), so its vectors fit the text slot.
    config = DistilBertConfig(vocab_size=1000, dim=768, n_layers=1, n_heads=2, hidden_dim=128)
    save_offline_distilbert(tmp_path / "bert", WORDS, config)
    encoder = export_text_encoder(str(tmp_path / "bert"), tmp_path / "encoder")
    clip = tmp_path / "talk.flac"
    shutil.copy(SPLICED, clip)
    clip.with_suffix(".srt").write_text(SRT)
    segments = list(Recognizer(full_model, text_encoder=encoder).timeline(clip))
    cues = parse_subtitles(SRT)
    for segment in segments:
        assert segment.modalities["text"] == bool(words_between(cues, segment.start, segment.end))
    assert any(s.modalities["text"] for s in segments)
    assert not all(s.modalities["text"] for s in segments)


@pytest.fixture(scope="module")
def face_talk(tmp_path_factory):
    """An mp4: a real face throughout, voice (happy), 4 s of digital silence, voice again."""
    from media import face_image, write_clip

    voice = _samples(HAPPY)
    audio = np.concatenate([voice, np.zeros(4 * RATE, np.float32), voice])
    path = tmp_path_factory.mktemp("timeline") / "face_talk.mp4"
    return write_clip(path, face_image("astronaut"), audio), len(voice) / RATE


def test_frames_carry_their_times(face_talk):
    clip, _ = face_talk
    stamps = [t for t, _ in timed_frames(clip, 5.0, None)]
    # write_clip writes 15 fps: every third frame is sampled, at 0.2 s steps.
    assert stamps[:4] == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert np.diff(stamps) == pytest.approx(0.2)


def test_face_keeps_silent_windows_with_an_av_model(av_model, audio_model, face_talk):
    clip, voiced = face_talk
    segments = list(Recognizer(av_model).timeline(clip))
    silent = [s for s in segments if s.start >= voiced and s.end <= voiced + 4.0]
    assert silent and all(s.modalities == {"audio": False, "visual": True, "text": False}
                          for s in silent)  # fmt: skip
    assert all(s.modalities["visual"] for s in segments)
    assert any(s.modalities["audio"] for s in segments)
    # The same file with a model that has no face branch: those windows are skipped, and why.
    run = Recognizer(audio_model).timeline(clip)
    starts = {s.start for s in run}
    assert not starts & {s.start for s in silent}
    assert run.skipped >= len(silent)
    assert "visual branch not trained in this model: face not used" in run.notes


def test_plot_draws_the_parts_in_their_colours(tmp_path):
    import matplotlib.image

    from edgemood.cli.timeline_plot import COLOURS

    out = tmp_path / "timeline.png"
    result = runner.invoke(app, ["infer", "--plot", str(out), str(SPLICED)])
    assert result.exit_code == 0, result.output
    assert f"plot: {out}" in result.stdout
    image = matplotlib.image.imread(str(out))[:, :, :3]
    height, width = image.shape[:2]
    assert width >= 1200 and height >= 400

    def share(colour: str, columns: slice) -> float:
        return _colour_share(image, colour, columns)

    left, right = slice(0, width // 3), slice(width // 2, width)
    assert share(COLOURS["happy"], left) > 5 * share(COLOURS["happy"], right)
    assert share(COLOURS["sad"], right) > 5 * share(COLOURS["sad"], left)


def _colour_share(image: np.ndarray, colour: str, columns: slice) -> float:
    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return float(np.mean(np.all(np.abs(image[:, columns] - rgb) < 0.02, axis=2)))


def test_an_hour_is_drawn_in_bands_with_its_gap(tmp_path):
    import matplotlib.image

    from edgemood.cli.timeline_plot import COLOURS, plot_timeline

    def window(start: float, emotion: str) -> dict:
        probabilities = {e: float(e == emotion) for e in EMOTIONS}
        return {"start": start, "end": start + 2.0, "probabilities": probabilities}

    # An hour: happy for 25 minutes, nothing for 10, sad for 25 (3,000 windows).
    segments = [window(float(t), "happy") for t in range(1500)]
    segments += [window(float(t), "sad") for t in range(2100, 3598)]
    summary = {"hop_s": 1.0, "window_s": 2.0, "share": {"happy": 0.5, "sad": 0.5},
               "dominant": "happy", "analysed_s": 3000.0, "windows": 3599,
               "skipped_windows": 599}  # fmt: skip
    result = {"file": "hour.mp4", "duration_s": 3600.0, "segments": segments, "summary": summary}
    image = matplotlib.image.imread(str(plot_timeline(result, tmp_path / "hour.png")))[:, :, :3]
    width = image.shape[1]
    # The plot area spans about 6 % to 84 % of the width: 25 min happy, 10 min gap, 25 min sad.
    happy, gap, sad = (
        slice(width // 10, width // 3),
        slice(46 * width // 100, 51 * width // 100),
        slice(3 * width // 5, 4 * width // 5),
    )
    assert _colour_share(image, COLOURS["happy"], happy) > 0.5
    assert _colour_share(image, COLOURS["sad"], sad) > 0.5
    assert (
        _colour_share(image, COLOURS["happy"], gap) + _colour_share(image, COLOURS["sad"], gap)
        < 0.01
    )


def test_plot_without_the_extra_fails_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    result = runner.invoke(app, ["infer", "--plot", str(tmp_path / "t.png"), str(HAPPY)])
    assert result.exit_code == 4
    assert result.stderr.strip().count("\n") == 0 and "[plot]" in result.stderr
    assert not (tmp_path / "t.png").exists()


def test_service_timeline_upload_and_watch_folder(tmp_path):
    from live_service import Server, wait_for

    server = Server(tmp_path, watch_timeline=True)
    try:
        boundary = "edgemoodtimeline"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{SPLICED.name}"\r\n\r\n'
            ).encode()
            + SPLICED.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            server.url("/v1/infer?timeline=1"), data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as reply:
            answer = json.loads(reply.read())
        cli = runner.invoke(app, ["infer", "--timeline", "--json", str(SPLICED)])
        expected = json.loads(cli.stdout)
        assert answer == {**expected, "file": SPLICED.name}
        request.full_url = server.url("/v1/infer?timeline=maybe")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 400
        assert "timeline must be 1 or 0" in json.loads(refused.value.read())["error"]
        status, plain = server.upload(SPLICED.name, SPLICED.read_bytes())
        assert status == 200 and "segments" not in plain  # without ?timeline: the clip shape

        # The watch folder reads the sidecar subtitles as infer does (the bundled model reads).
        beside = tmp_path / "cli"
        beside.mkdir()
        shutil.copy(SPLICED, beside / "talk.flac")
        (beside / "talk.srt").write_text(SRT)
        cli = runner.invoke(app, ["infer", "--timeline", "--json", str(beside / "talk.flac")])
        with_words = json.loads(cli.stdout)
        assert any(s["modalities"]["text"] for s in with_words["segments"])
        shutil.copy(SPLICED, server.watch / "talk.flac")
        (server.watch / "talk.srt").write_text(SRT)
        result = server.watch / "results" / "talk.flac.json"
        wait_for(result.exists, timeout=60)
        filed = json.loads(result.read_text())
        assert filed["segments"] == with_words["segments"]
        # The result is written first, then the clip and its sidecar are filed.
        wait_for((server.watch / "done" / "talk.srt").exists, timeout=30)
    finally:
        server.stop()
