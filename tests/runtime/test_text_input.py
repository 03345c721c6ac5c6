"""Issue 15, the runtime side of the text branch: where the words come from (and in what order),
text-only ``.txt`` inputs (CLI, HTTP, watch folder), the encoder a model was trained with (card
record, one-line mismatch error), the bundled encoder loaded only for a clip with words, and a
note whenever words go unused.

The text models here are built with random weights through the real training-layer export, with
a 64-d text slot: the width of the tiny encoder of ``conftest.encoder_dir`` (the slot follows
the encoder, 768 is not assumed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ANGRY, HAPPY
from typer.testing import CliRunner

from edgemood import text as text_module
from edgemood.cli import app
from edgemood.decode import MAX_SECONDS
from edgemood.errors import InputError, ModelError
from edgemood.transcript import find_words, text_file_words

runner = CliRunner()
SENTENCE = "Kids are talking by the door"  # RAVDESS statement 01: the name of ANGRY says it
SRT = (
    "1\n00:00:01,000 --> 00:00:03,000\ndogs are sitting\n\n"
    "2\n00:00:59,500 --> 00:01:01,000\nby the door\n\n"
    "3\n00:01:02,000 --> 00:01:04,000\ni can t believe it\n"
)


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _text_model(directory: Path, encoder: Path | None, dim: int, name: str | None = None) -> Path:
    """Audio + text branches, random weights, a ``dim``-wide text slot; the card records
    ``encoder`` as the training layer does (or ``name``; neither: an older card, no record)."""
    import torch

    from edgemood.train.fusion import FusionConfig, FusionNet
    from edgemood.train.model_dir import write_model_dir

    torch.manual_seed(0)
    trained = {"audio": True, "visual": False, "text": True}
    net = FusionNet(FusionConfig(trained=trained, text_dim=dim)).eval()
    training: dict = {"data": "random weights (test)"}
    if encoder is not None:
        training["text_encoder"] = text_module.encoder_record(encoder)
    elif name is not None:
        training["text_encoder"] = {"name": name, "dim": dim}
    return write_model_dir(net, directory, {"training": training})


@pytest.fixture(scope="module")
def text_model(tmp_path_factory, encoder_dir) -> Path:
    return _text_model(tmp_path_factory.mktemp("text_model"), encoder_dir, 64)


@pytest.fixture(autouse=True)
def _no_bundled_encoder(monkeypatch, tmp_path):
    """No encoder from the environment or the install unless a test puts one there: the tests
    must not depend on whether edgemood/assets/text is shipped yet."""
    monkeypatch.delenv("EDGEMOOD_TEXT_ENCODER", raising=False)
    monkeypatch.setattr(text_module, "DEFAULT_TEXT_ENCODER", tmp_path / "no_bundled_encoder")


# Where the words come from ------------------------------------------------------------------


def test_each_source_beats_the_next(tmp_path):
    clip = tmp_path / ANGRY.name  # a RAVDESS name: the last source
    clip.write_bytes(b"")
    assert (find_words(clip).text, find_words(clip).source) == (SENTENCE, "ravdess_name")
    clip.with_suffix(".vtt").write_text("WEBVTT\n\n00:00.500 --> 00:02.000\nwords in cues\n")
    assert (find_words(clip).text, find_words(clip).source) == ("words in cues", "subtitles")
    clip.with_suffix(".txt").write_text("  words of the\nsidecar \n")
    assert (find_words(clip).text, find_words(clip).source) == (
        "words of the sidecar",
        "sidecar_txt",
    )
    given = find_words(clip, "given words")
    assert (given.text, given.source, given.notes) == ("given words", "transcript", [])
    assert find_words(tmp_path / "interview.mp4").text is None


def test_subtitles_give_only_the_cues_of_the_analysed_span(tmp_path):
    clip = tmp_path / "talk.mp4"
    clip.with_suffix(".srt").write_text(SRT)
    words = find_words(clip, span_s=MAX_SECONDS)
    # The cue that starts before the cut (59.5 s) and runs past it is in; the one at 62 s is not.
    assert words.text == "dogs are sitting by the door"
    assert words.notes == ["talk.srt: 1 of 3 subtitle cues start after the analysed 60 s: not used"]
    short = find_words(clip, span_s=3.7)  # a 3.7 s clip: only the first cue
    assert short.text == "dogs are sitting"
    assert find_words(clip, span_s=0.5).text is None  # no cue starts before 0.5 s
    assert "no subtitle cue in the analysed 0.5 s" in find_words(clip, span_s=0.5).notes[0]


def test_unusable_sources_are_noted_and_the_next_one_used(tmp_path):
    clip = tmp_path / ANGRY.name
    clip.write_bytes(b"")
    clip.with_suffix(".txt").write_bytes(b"\xff\xfe\xfa not utf-8")
    clip.with_suffix(".srt").write_text("no cues in here\n")
    words = find_words(clip, "   ")
    assert (words.text, words.source) == (SENTENCE, "ravdess_name")
    assert words.notes == [
        "--transcript is empty: not used",
        f"{clip.stem}.txt: not UTF-8 text: not used",
        f"{clip.stem}.srt: no subtitle cues found: not used",
    ]
    clip.with_suffix(".txt").write_text(" \n")
    assert f"{clip.stem}.txt: empty: not used" in find_words(clip).notes


def test_a_text_file_is_its_own_words(tmp_path):
    path = tmp_path / "said.txt"
    path.write_text("\ufeffI can't\nbelieve it\n", encoding="utf-8")  # a BOM, a line break
    words = text_file_words(path)
    assert (words.text, words.source) == ("I can't believe it", "text_file")
    with pytest.raises(InputError, match="file not found"):
        text_file_words(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("")
    assert text_file_words(tmp_path / "empty.txt").notes == ["empty.txt: empty: no words to use"]


def test_the_extractor_reads_the_words_of_the_analysed_span(tmp_path):
    """65 s of voice with subtitles: the encoder gets the cues of the first 60 s only."""
    import soundfile

    from edgemood.features import FeatureExtractor

    samples, rate = soundfile.read(str(ANGRY), dtype="float32")
    clip = tmp_path / "long.wav"
    soundfile.write(str(clip), np.tile(samples, int(np.ceil(65 * rate / len(samples)))), rate)
    clip.with_suffix(".srt").write_text(SRT)
    heard: list[str] = []

    def encoder(text: str) -> np.ndarray:
        heard.append(text)
        return np.ones(4, np.float32)

    extractor = FeatureExtractor(use={"audio": True, "visual": False, "text": True},
                                 text_encoder=encoder)  # fmt: skip
    features = extractor(clip)
    inputs, notes = features.inputs, features.notes
    assert heard == ["dogs are sitting by the door"]
    assert features.text_source == "subtitles" and inputs.text is not None
    assert any("1 of 3 subtitle cues start after the analysed 60 s" in n for n in notes)


# Notes for words that go unused -------------------------------------------------------------


def test_a_model_without_a_text_branch_says_the_words_went_unused(audio_model, tmp_path):
    clip = tmp_path / "voice.flac"
    shutil.copy(HAPPY, clip)
    args = ["infer", "--json", "-m", str(audio_model), "--transcript", "so happy", str(clip)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    assert (
        "words from --transcript not used: text branch not trained in this model" in line["notes"]
    )
    assert line["text_source"] is None and line["modalities"]["text"] is False
    clip.with_suffix(".txt").write_text("so happy")
    (line,) = _lines(
        runner.invoke(app, ["infer", "--json", "-m", str(audio_model), str(clip)]).stdout
    )
    assert "words from voice.txt not used: text branch not trained in this model" in line["notes"]
    # A RAVDESS name is not words anyone gave: no note for it.
    (line,) = _lines(
        runner.invoke(app, ["infer", "--json", "-m", str(audio_model), str(ANGRY)]).stdout
    )
    assert not any("words" in note for note in line["notes"])


def test_a_text_model_without_an_encoder_says_so(text_model, tmp_path):
    clip = tmp_path / "voice.flac"
    shutil.copy(HAPPY, clip)
    clip.with_suffix(".txt").write_text("so happy")
    result = runner.invoke(app, ["infer", "--json", "-m", str(text_model), str(clip)])
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    assert "no text encoder installed: text not used (words from voice.txt)" in line["notes"]
    assert line["modalities"] == {"audio": True, "visual": False, "text": False}
    assert (
        "note: no text encoder installed"
        in runner.invoke(app, ["infer", "-m", str(text_model), str(clip)]).stdout
    )


# Text-only input ----------------------------------------------------------------------------


def test_a_txt_file_is_a_text_only_input(text_model, encoder_dir, tmp_path):
    from edgemood.model import FusionModel, ModelInputs

    said = tmp_path / "said.txt"
    said.write_text("i can t believe it\n")
    args = ["infer", "--json", "-m", str(text_model), "--text-encoder", str(encoder_dir)]
    result = runner.invoke(app, [*args, str(said)])
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    assert line["modalities"] == {"audio": False, "visual": False, "text": True}
    assert line["text_source"] == "text_file" and line["analysed_s"] == 0.0
    # The same as the model given the encoder's vector of those words, and nothing else.
    vector = text_module.TextEncoder(encoder_dir)("i can t believe it")
    expected = FusionModel(text_model).predict([ModelInputs(text=vector)])[0]
    got = np.array(list(line["probabilities"].values()))
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_an_unusable_txt_input_fails_in_one_line(audio_model, tmp_path):
    (tmp_path / "said.txt").write_text("so happy")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "latin1.txt").write_bytes("d\xe9j\xe0 vu".encode("latin-1"))
    args = ["infer", "--json", "-m", str(audio_model)]
    result = runner.invoke(app, [*args, *(str(tmp_path / n) for n in ("said.txt", "empty.txt",
                                                                     "latin1.txt"))])  # fmt: skip
    assert result.exit_code == 2
    errors = [line["error"] for line in _lines(result.stdout)]
    assert errors == [
        "no usable audio, face or text (words from said.txt not used: text branch not trained "
        "in this model)",
        "no usable audio, face or text (empty.txt: empty: no words to use)",
        "no usable audio, face or text (latin1.txt: not UTF-8 text: no words to use)",
    ]
    assert len(result.stderr.strip().splitlines()) == 3  # one line each, no traceback


# The encoder a model was trained with -------------------------------------------------------


def test_the_card_records_the_encoder_and_its_width(text_model, encoder_dir):
    card = json.loads((text_model / "model.json").read_text())
    manifest = json.loads((encoder_dir / "text_encoder.json").read_text())
    assert card["training"]["text_encoder"]["name"] == manifest["source"]
    assert card["training"]["text_encoder"]["dim"] == card["text_dim"] == 64


def test_another_encoder_fails_in_one_line_naming_both(tmp_path, encoder_dir):
    other = _text_model(tmp_path / "other", None, 64, name="all-MiniLM-L6-v2 (fine-tuned)")
    result = runner.invoke(app, ["infer", "-m", str(other), "--text-encoder", str(encoder_dir),
                                 str(ANGRY)])  # fmt: skip
    assert result.exit_code == 3
    (line,) = result.stderr.strip().splitlines()
    assert "trained with text encoder 'all-MiniLM-L6-v2 (fine-tuned)' (64-d)" in line
    assert f"the given text encoder is '{text_module.encoder_name(_manifest(encoder_dir))}'" in line


def test_an_encoder_of_another_width_fails_even_for_an_older_card(full_model, encoder_dir):
    """full_model's card names no encoder (as before this record) and has a 768-d slot."""
    with pytest.raises(ModelError, match=r"trained with a 768-d text encoder .* \(64-d"):
        _recognizer(full_model, encoder_dir)


def test_an_older_card_without_the_record_still_loads(tmp_path, encoder_dir):
    older = _text_model(tmp_path / "older", None, 64)
    assert "text_encoder" not in json.loads((older / "model.json").read_text())["training"]
    prediction = _recognizer(older, encoder_dir).predict(ANGRY)
    assert prediction.modalities["text"] and prediction.text_source == "ravdess_name"


def test_a_mismatched_bundled_encoder_fails_too(tmp_path, encoder_dir, monkeypatch):
    monkeypatch.setattr(text_module, "DEFAULT_TEXT_ENCODER", encoder_dir)
    other = _text_model(tmp_path / "other", None, 64, name="some other encoder")
    with pytest.raises(ModelError, match="but the bundled text encoder is"):
        _recognizer(other, None)
    # An older card and a bundled encoder of another width: not used, said on each clip.
    older = _text_model(tmp_path / "older", None, 32)
    prediction = _recognizer(older, None).predict(ANGRY)
    assert not prediction.modalities["text"]
    assert any("does not fit this model's 32-d text slot" in n for n in prediction.notes)


def _manifest(directory: Path) -> dict:
    return json.loads((directory / "text_encoder.json").read_text())


def _recognizer(model: Path, encoder: Path | None):
    from edgemood.pipeline import Recognizer

    return Recognizer(model, text_encoder=encoder)


# The bundled encoder, loaded only for a clip with words --------------------------------------


def test_the_bundled_encoder_is_used_and_loaded_lazily(
    text_model, encoder_dir, monkeypatch, tmp_path
):
    built = []

    class Counting(text_module.TextEncoder):
        def __init__(self, *args, **kwargs) -> None:
            built.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(text_module, "TextEncoder", Counting)
    monkeypatch.setattr(text_module, "DEFAULT_TEXT_ENCODER", encoder_dir)
    recognizer = _recognizer(text_model, None)
    assert recognizer.features.text_encoder.directory == encoder_dir
    voice = tmp_path / "voice.flac"  # no RAVDESS name, no sidecar: no words
    shutil.copy(HAPPY, voice)
    for _ in range(2):
        prediction = recognizer.predict(voice)
    assert prediction.modalities == {"audio": True, "visual": False, "text": False}
    assert built == [] and not recognizer.features.text_encoder.loaded
    first = recognizer.predict(voice, transcript="so happy")
    again = recognizer.predict(ANGRY)  # words from the name
    assert len(built) == 1 and first.modalities["text"] and again.text_source == "ravdess_name"
    assert first.to_json()["text_source"] == "transcript"


def test_an_audio_only_run_never_imports_the_tokenizer(text_model, encoder_dir, tmp_path):
    """In a fresh process: a clip without words leaves tokenizers unimported; one with words
    imports it (so the check can fail)."""
    voice = tmp_path / "voice.flac"
    shutil.copy(HAPPY, voice)
    code = (
        "import sys\nfrom edgemood.pipeline import Recognizer\n"
        f"r = Recognizer({str(text_model)!r}, text_encoder={str(encoder_dir)!r})\n"
        f"r.predict({str(voice)!r})\nprint('tokenizers' in sys.modules)\n"
        f"r.predict({str(voice)!r}, transcript='so happy')\nprint('tokenizers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True"], done.stderr


# bench ---------------------------------------------------------------------------------------


def test_bench_reports_the_text_stage_and_the_encoder(text_model, encoder_dir):
    from edgemood.cli.measure import BenchConfig, format_table, run_bench

    config = BenchConfig(runs=2, warmup=1, cold_runs=0, model=text_model, text_encoder=encoder_dir)
    result = run_bench([ANGRY], config, cold=False, log=lambda line: None)
    assert result["stages"]["text"]["n"] == 2
    encoder = result["text_encoder"]
    assert encoder["loaded"] and encoder["dim"] == 64 and encoder["load_s"] > 0
    assert encoder["memory_mb"] is not None
    assert f"text encoder: {encoder['name']} (64-d): loaded" in format_table(result)


def test_bench_times_a_text_file(text_model, encoder_dir, tmp_path):
    from edgemood.cli.measure import BenchConfig, run_bench

    said = tmp_path / "said.txt"
    said.write_text("so happy")
    config = BenchConfig(runs=2, warmup=0, cold_runs=0, model=text_model, text_encoder=encoder_dir)
    result = run_bench([said], config, cold=False, log=lambda line: None)
    assert result["failed"] == [] and result["stages"]["text"]["n"] == 2
    assert result["face_stage"] is None and result["modalities_used"]["text"]


# The service: HTTP and the watch folder -------------------------------------------------------


def test_a_lone_txt_in_the_watch_folder_waits_for_its_clip_then_is_text_only(tmp_path):
    from edgemood.service.watch import WatchFolder

    processed = []

    def infer(path: Path) -> dict:
        processed.append(path.name)
        return {"json": {"file": str(path), "emotion": "calm"}, "timings": {}}

    inbox = tmp_path / "inbox"
    watch = WatchFolder(inbox, tmp_path / "results", infer, settle_s=1.0, text_alone_s=10.0)
    (inbox / "paired.txt").write_text("dogs are sitting by the door")
    (inbox / ".paired.flac.part").write_bytes(b"being written")  # its clip, on its way
    (inbox / "alone.txt").write_text("kids are talking by the door")
    assert watch.ready(0.0) == []
    assert watch.ready(5.0) == []  # settled, but a lone .txt waits text_alone_s more
    assert [p.name for p in watch.ready(11.5)] == ["alone.txt"]
    assert watch.process(inbox / "alone.txt") == "done"
    assert processed == ["alone.txt"]
    assert (inbox / "done" / "alone.txt").read_text() == "kids are talking by the door"
    assert (tmp_path / "results" / "alone.txt.json").is_file()
    assert (inbox / "paired.txt").exists()  # still waiting: a file of its stem is being written


@pytest.fixture(scope="module")
def text_server(tmp_path_factory, text_model, encoder_dir):
    from live_service import Server

    tmp = tmp_path_factory.mktemp("text_serve")
    server = Server(tmp, model=str(text_model), text_encoder=str(encoder_dir), settle_s=0.3,
                    text_alone_s=0.5)  # fmt: skip
    yield server
    if server.process.poll() is None:
        server.stop()


def test_http_takes_a_txt_as_a_text_only_input(text_server, text_model, encoder_dir):
    said = "i can t believe it"
    status, reply = text_server.upload("said.txt", said.encode())
    assert status == 200, reply
    assert reply["file"] == "said.txt" and reply["text_source"] == "text_file"
    assert reply["modalities"] == {"audio": False, "visual": False, "text": True}
    cli = runner.invoke(app, ["infer", "--json", "-m", str(text_model), "--text-encoder",
                              str(encoder_dir), "--transcript", said, str(HAPPY)])  # fmt: skip
    assert _lines(cli.stdout)[0]["text_source"] == "transcript"
    inside = text_server.allowed / "said.txt"
    inside.write_text(said)
    status, by_path = text_server.post(json.dumps({"path": str(inside)}).encode(),
                                       "application/json")  # fmt: skip
    assert status == 200 and by_path["probabilities"] == reply["probabilities"]
    status, empty = text_server.upload("empty.txt", b"")
    assert status == 422 and empty["error"] == (
        "no usable audio, face or text (empty.txt: empty: no words to use)"
    )


def test_the_watch_folder_reads_sidecars_and_lone_text_files(text_server):
    from live_service import wait_for

    inbox = text_server.watch
    (inbox / "alone.txt").write_text("kids are talking by the door")
    (inbox / "voice.txt").write_text("dogs are sitting by the door")
    shutil.copy(HAPPY, inbox / "voice.flac")
    results = inbox / "results"
    wait_for(lambda: (results / "alone.txt.json").is_file() and (results / "voice.flac.json")
             .is_file())  # fmt: skip
    alone = json.loads((results / "alone.txt.json").read_text())
    voice = json.loads((results / "voice.flac.json").read_text())
    assert alone["text_source"] == "text_file" and alone["modalities"]["text"]
    assert voice["text_source"] == "sidecar_txt"
    assert voice["modalities"] == {"audio": True, "visual": False, "text": True}
    assert (inbox / "done" / "voice.txt").is_file() and not (results / "voice.txt.json").exists()
