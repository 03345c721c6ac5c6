"""``Recognizer.predict`` on media already in memory answers as it does for the same media in a
file: audio read by an independent decoder (soundfile), frames as the file path samples them,
words as given. Bad arrays get the errors and notes a bad file gets."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from conftest import HAPPY

from edgemood import InputError, Recognizer
from edgemood.decode import SAMPLE_RATE, decode_audio, read_frames
from edgemood.pipeline import EXAMPLE_CLIP
from edgemood.ravdess import parse_name


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def test_audio_and_words_as_arrays_answer_as_the_file(recognizer):
    samples, rate = soundfile.read(str(HAPPY), dtype="float32")
    assert rate == SAMPLE_RATE
    statement = parse_name(HAPPY).transcript
    from_file = recognizer.predict(HAPPY)
    from_arrays = recognizer.predict(audio=samples, text=statement)
    assert from_file.text_source == "ravdess_name" and from_arrays.text_source == "transcript"
    assert (
        from_arrays.modalities
        == from_file.modalities
        == {
            "audio": True,
            "visual": False,
            "text": True,
        }
    )
    np.testing.assert_allclose(from_arrays.probabilities, from_file.probabilities, atol=1e-6)
    assert from_arrays.file == "<arrays>"
    assert from_arrays.duration == pytest.approx(len(samples) / SAMPLE_RATE)


def test_frames_as_arrays_answer_as_the_video(recognizer):
    from_file = recognizer.predict(EXAMPLE_CLIP)
    from_arrays = recognizer.predict(
        audio=decode_audio(EXAMPLE_CLIP), frames=list(read_frames(EXAMPLE_CLIP))
    )
    assert from_arrays.modalities == from_file.modalities
    assert from_file.modalities["visual"] and from_file.modalities["audio"]
    np.testing.assert_array_equal(from_arrays.probabilities, from_file.probabilities)
    assert from_arrays.emotion == "happy"  # the example's label (its README)


def test_words_alone_answer_as_a_text_file(recognizer, tmp_path):
    words = "I can't believe we won, this is the best day of my life"
    (tmp_path / "said.txt").write_text(words + "\n", encoding="utf-8")
    from_file = recognizer.predict(tmp_path / "said.txt")
    from_arrays = recognizer.predict(text=words)
    assert (
        from_arrays.modalities
        == from_file.modalities
        == {
            "audio": False,
            "visual": False,
            "text": True,
        }
    )
    np.testing.assert_array_equal(from_arrays.probabilities, from_file.probabilities)


def test_integer_pcm_is_scaled_as_a_decoder_scales_it(recognizer):
    pcm, _ = soundfile.read(str(HAPPY), dtype="int16")
    floats, _ = soundfile.read(str(HAPPY), dtype="float32")
    a = recognizer.predict(audio=pcm)
    b = recognizer.predict(audio=floats)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-4)


def test_silent_audio_is_one_clear_error(recognizer):
    with pytest.raises(InputError, match=r"<arrays>: no usable audio, face or text \(.*silent"):
        recognizer.predict(audio=np.zeros(SAMPLE_RATE, np.float32))


def test_a_long_array_is_cut_with_a_note(recognizer):
    samples, _ = soundfile.read(str(HAPPY), dtype="float32")
    long = np.tile(samples, 20)  # 74 s
    prediction = recognizer.predict(audio=long)
    assert prediction.duration == pytest.approx(60.0)
    assert any(n.startswith("only the first 60 s of 74.1 s analysed") for n in prediction.notes)


def test_frames_for_a_model_without_a_face_branch_are_noted(audio_model):
    recognizer = Recognizer(audio_model)
    samples, _ = soundfile.read(str(HAPPY), dtype="float32")
    prediction = recognizer.predict(audio=samples, frames=list(read_frames(EXAMPLE_CLIP)))
    assert prediction.modalities["visual"] is False
    assert "visual branch not trained in this model: face not used" in prediction.notes


def test_a_path_and_arrays_or_neither_is_a_usage_error(recognizer):
    with pytest.raises(ValueError, match="a path or arrays"):
        recognizer.predict()
    with pytest.raises(ValueError, match="a path or arrays"):
        recognizer.predict(HAPPY, text="words")
