""".ci/compare_predictions.py: the x86-vs-arm64 check of .ci/arm64.sh fails on real
differences (beyond 5e-4, another emotion, a failed or missing clip) and only on those."""

import json
from pathlib import Path

import pytest
from tools import ci_script

main = ci_script("compare_predictions").main

EMOTIONS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


def line(file: str, happy: float, emotion: str = "happy") -> dict:
    """An infer --json line whose other seven probabilities share what happy leaves."""
    rest = (1.0 - happy) / 7
    return {
        "file": file,
        "emotion": emotion,
        "sentiment": "positive",
        "probabilities": {e: (happy if e == "happy" else rest) for e in EMOTIONS},
        "modalities": {"audio": True, "visual": False, "text": False},
    }


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def run(tmp_path: Path, reference: list[dict], other: list[dict], capsys) -> tuple[int, str]:
    code = main(
        [str(write(tmp_path / "x86.jsonl", reference)), str(write(tmp_path / "arm64.jsonl", other))]
    )
    return code, capsys.readouterr().out


def test_tiny_differences_agree(tmp_path, capsys):
    code, out = run(
        tmp_path,
        [line("a.flac", 0.9), line("b.mp4", 0.6)],
        [line("b.mp4", 0.6 + 1e-7), line("a.flac", 0.9)],
        capsys,
    )
    assert code == 0
    assert "MISMATCH" not in out
    assert "2 clips, largest probability difference 1e-07 (agree)" in out


def test_difference_beyond_tolerance_fails_naming_clip_and_emotion(tmp_path, capsys):
    code, out = run(tmp_path, [line("a.flac", 0.9)], [line("a.flac", 0.9 + 1e-3)], capsys)
    assert code == 1
    mismatches = [x for x in out.splitlines() if x.startswith("MISMATCH")]
    # happy moved by 1e-3; each of the other seven by 1e-3 / 7 (< 5e-4): one line.
    assert mismatches == [
        "MISMATCH a.flac: happy probability 0.9 vs 0.901 (difference 0.001 > 0.0005)"
    ]
    assert "largest probability difference 0.001 (1 mismatches)" in out


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        ([line("a.flac", 0.9, emotion="sad")], "a.flac: emotion happy vs sad"),
        ([], "a.flac: only in the reference"),
        ([line("a.flac", 0.9), line("c.flac", 0.5)], "c.flac: only in the other file"),
        ([{"file": "a.flac", "error": "cannot decode"}], "a.flac: failed: reference 'ok'"),
    ],
)
def test_other_mismatches_fail(tmp_path, capsys, other, expected):
    reference = [line("a.flac", 0.9)]
    if not other:  # an empty file is bad input; a file missing one clip is a mismatch
        reference.append(line("b.flac", 0.5))
        other = [line("b.flac", 0.5)]
    code, out = run(tmp_path, reference, other, capsys)
    assert code == 1
    assert f"MISMATCH {expected}" in out


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    reference = write(tmp_path / "x86.jsonl", [line("a.flac", 0.9)])
    other = tmp_path / "arm64.jsonl"
    other.write_text("Traceback (most recent call last):\n")
    assert main([str(reference), str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "arm64.jsonl:1: not JSON" in err
    assert main([str(reference), str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err


def test_clips_that_read_words_get_the_text_tolerance_and_only_they(tmp_path, capsys):
    words = line("said.flac", 0.9)
    words["modalities"] = {"audio": True, "visual": False, "text": True}
    moved_words = {**words, "probabilities": line("said.flac", 0.902)["probabilities"]}
    reference = [words, line("plain.flac", 0.9)]
    other = [moved_words, line("plain.flac", 0.902)]
    paths = [str(write(tmp_path / "x86.jsonl", reference)), str(write(tmp_path / "a.jsonl", other))]
    code = main([*paths, "--text-tolerance", "5e-3"])
    out = capsys.readouterr().out
    assert code == 1
    mismatches = [x for x in out.splitlines() if x.startswith("MISMATCH")]
    # 2e-3 is within 5e-3 for the clip with words, over 5e-4 for the one without.
    assert mismatches == [
        "MISMATCH plain.flac: happy probability 0.9 vs 0.902 (difference 0.002 > 0.0005)"
    ]
    assert main(paths) == 1  # without --text-tolerance both are held to 5e-4
    assert "said.flac" in capsys.readouterr().out


def test_clips_answered_by_a_face_alone_get_the_face_tolerance_and_only_they(tmp_path, capsys):
    face = line("mute.mp4", 0.9)
    face["modalities"] = {"audio": False, "visual": True, "text": False}
    both = line("talk.mp4", 0.9)
    both["modalities"] = {"audio": True, "visual": True, "text": False}
    moved = [{**r, "probabilities": line(r["file"], 0.902)["probabilities"]} for r in (face, both)]
    paths = [
        str(write(tmp_path / "x86.jsonl", [face, both])),
        str(write(tmp_path / "a.jsonl", moved)),
    ]
    code = main([*paths, "--face-tolerance", "5e-3", "--text-tolerance", "5e-3"])
    mismatches = [x for x in capsys.readouterr().out.splitlines() if x.startswith("MISMATCH")]
    # A face with a voice is held to 5e-4 like any other clip; a face alone to 5e-3.
    assert code == 1 and mismatches == [
        "MISMATCH talk.mp4: happy probability 0.9 vs 0.902 (difference 0.002 > 0.0005)"
    ]
