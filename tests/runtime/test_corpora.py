"""Labelled clips from any corpus layout (edgemood.corpora), and the scores of a corpus with fewer
than 8 classes (edgemood.metrics.restricted_scores)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ANGRY, HAPPY, SAD

from edgemood.corpora import read_corpus, speaker_folds
from edgemood.errors import InputError
from edgemood.labels import EMOTIONS
from edgemood.metrics import restricted_scores


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


def test_ravdess_names_give_emotion_actor_statement_and_gender(tmp_path):
    for clip in (ANGRY, HAPPY, SAD):
        _copy(clip, tmp_path / "Actor_x" / clip.name)
    corpus = read_corpus(tmp_path)
    assert corpus.layout == "ravdess" and corpus.name == "ravdess"
    got = {c.path.name: (c.emotion, c.speaker, c.female, c.transcript) for c in corpus.clips}
    assert got == {
        ANGRY.name: ("angry", "01", False, "Kids are talking by the door"),
        HAPPY.name: ("happy", "02", True, "Dogs are sitting by the door"),
        SAD.name: ("sad", "03", False, "Kids are talking by the door"),
    }
    assert corpus.note() is None


def test_emodb_names_leave_boredom_out_and_say_so(tmp_path):
    # Speaker 03 is a man, 08 a woman (EmoDB's documentation); L is boredom, none of the 8.
    for name in ("03a01Wa", "03a01Nc", "08b02Ta", "08a01La", "16a05Fb", "10a02Ab", "11b03Ea"):
        _copy(ANGRY, tmp_path / f"{name}.flac")
    corpus = read_corpus(tmp_path)
    assert corpus.layout == "emodb"
    by_name = {c.path.stem: c for c in corpus.clips}
    assert {k: c.emotion for k, c in by_name.items()} == {
        "03a01Wa": "angry",
        "03a01Nc": "neutral",
        "08b02Ta": "sad",
        "16a05Fb": "happy",
        "10a02Ab": "fearful",
        "11b03Ea": "disgust",
    }
    assert by_name["03a01Wa"].female is False and by_name["08b02Ta"].female is True
    assert by_name["08b02Ta"].speaker == "08"
    assert corpus.emotions == ("neutral", "happy", "sad", "angry", "fearful", "disgust")
    assert corpus.note() == "emodb: left out 1 clip of emotions outside the 8 (boredom 1)"


def test_a_folder_per_emotion_reads_other_spellings_and_counts_the_rest(tmp_path):
    _copy(ANGRY, tmp_path / "Anger" / "a.flac")
    _copy(HAPPY, tmp_path / "happiness" / "b.flac")
    _copy(SAD, tmp_path / "sad" / "deeper" / "c.flac")
    _copy(SAD, tmp_path / "contempt" / "d.flac")
    _copy(SAD, tmp_path / "loose.flac")  # no emotion folder: not a labelled clip
    corpus = read_corpus(tmp_path, name="mine")
    assert corpus.layout == "folders"
    assert sorted((c.path.name, c.emotion) for c in corpus.clips) == [
        ("a.flac", "angry"),
        ("b.flac", "happy"),
        ("c.flac", "sad"),
    ]
    assert all(c.speaker is None and c.corpus == "mine" for c in corpus.clips)
    assert corpus.left_out == {"contempt": 1}


def test_a_csv_manifest_reads_paths_relative_to_itself(tmp_path):
    _copy(ANGRY, tmp_path / "clips" / "one.flac")
    _copy(HAPPY, tmp_path / "clips" / "two.flac")
    manifest = tmp_path / "labels.csv"
    manifest.write_text(
        "path,emotion,speaker,corpus,transcript,gender\n"
        "clips/one.flac,Anger,s1,studio,I said no,f\n"
        "clips/two.flac,happy,s2,,,\n"
        "clips/three.flac,sad,s3,,,\n"  # missing file
        "clips/one.flac,boredom,s1,,,\n",
        encoding="utf-8",
    )
    corpus = read_corpus(manifest)
    assert corpus.layout == "manifest" and corpus.name == "labels"
    one, two = corpus.clips
    assert (one.emotion, one.speaker, one.corpus, one.transcript, one.female) == (
        "angry",
        "s1",
        "studio",
        "I said no",
        True,
    )
    assert (two.emotion, two.corpus, two.transcript, two.female) == ("happy", "labels", None, None)
    assert one.path == (tmp_path / "clips" / "one.flac").resolve()
    assert corpus.left_out == {"(file not found)": 1, "boredom": 1}


def test_an_unreadable_layout_names_the_layouts_it_reads(tmp_path):
    _copy(ANGRY, tmp_path / "take.flac")
    with pytest.raises(InputError) as caught:
        read_corpus(tmp_path)
    message = str(caught.value)
    assert "RAVDESS names" in message and "EmoDB names" in message
    assert "a folder per emotion" in message and "CSV manifest" in message
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\nx.wav,angry\n", encoding="utf-8")
    with pytest.raises(InputError, match="path and emotion"):
        read_corpus(bad)


def test_speaker_folds_pair_a_man_and_a_woman(tmp_path):
    names = [f"{s}a01Wa" for s in ("03", "08", "09", "10", "11", "12", "13", "14", "15", "16")]
    for name in names:
        _copy(ANGRY, tmp_path / f"{name}.flac")
    folds = speaker_folds(read_corpus(tmp_path).clips)
    women = {"08", "09", "13", "14", "16"}
    assert len(folds) == 5
    assert all(len(f) == 2 and len(set(f) & women) == 1 for f in folds)
    assert sorted(s for f in folds for s in f) == sorted(n[:2] for n in names)


def test_ravdess_speaker_folds_are_the_published_ones(tmp_path):
    for actor in (1, 2, 5, 9):
        _copy(ANGRY, tmp_path / f"03-01-05-02-01-01-{actor:02d}.flac")
    folds = speaker_folds(read_corpus(tmp_path).clips)
    assert folds == [("01", "02"), ("05",), ("09",)]


def test_restricted_scores_against_hand_counts():
    # Four classes present (EmoDB's originals); the 8-way answer "calm" is wrong, but restricted
    # to the four the second-best of them decides.
    n, a, h, s = (EMOTIONS.index(e) for e in ("neutral", "angry", "happy", "sad"))
    calm = EMOTIONS.index("calm")

    def row(best: int, second: int) -> list[float]:
        p = np.full(8, 0.01)
        p[best], p[second] = 0.6, 0.3
        return list(p / p.sum())

    probabilities = np.array(
        [row(n, a), row(calm, n), row(a, h), row(a, s), row(h, a), row(s, n), row(calm, s)]
    )
    labels = np.array([n, n, a, a, h, s, s])
    got = restricted_scores(probabilities, labels)
    assert got["classes"] == ["neutral", "happy", "sad", "angry"]
    # restricted answers: n, n, a, a, h, s, s -> every recall 1
    assert got["uar_restricted"] == pytest.approx(1.0)
    assert got["accuracy_restricted"] == pytest.approx(1.0)
    # 8-way answers: n, calm, a, a, h, s, calm; F1: neutral 2/3, angry 1, happy 1, sad 2/3
    assert got["macro_f1_present"] == pytest.approx((2 / 3 + 1 + 1 + 2 / 3) / 4)
    assert got["top_answer"] in ("angry", "calm") and got["top_answer_share"] == pytest.approx(
        2 / 7
    )
    probabilities[4] = row(n, h)  # happy now answered neutral, even restricted
    assert restricted_scores(probabilities, labels)["uar_restricted"] == pytest.approx(0.75)
