"""Compare two ``edgemood infer --json`` outputs clip by clip (used by .ci/arm64.sh: x86 vs arm64).

    python .ci/compare_predictions.py [--tolerance 5e-4] [--text-tolerance 5e-3]
        [--face-tolerance 5e-3] [--label TEXT] REFERENCE OTHER

Fails (exit 1, one line per mismatch) when the files list different clips, a clip failed on
either side, the emotions or modalities differ, or a probability differs by more than the
tolerance; always prints the largest probability difference seen. Bad input exits 2.

Clips whose words were read (``"text": true``) get ``--text-tolerance``: the bundled text
encoder is quantized INT8, whose integer kernels differ between x86 and Arm builds of
onnxruntime (measured with the earlier, dynamically quantized encoder: 0.0028 at most on the
committed RAVDESS clips, against 2.4e-7 for everything without words). Clips answered by the face
without a voice (``"visual": true, "audio": false``) get ``--face-tolerance``: LiteRT's Arm and
x86 float kernels give landmarks a hair apart, and with no voice the face's features carry the
whole answer (measured: 0.0010 on the committed rotated-portrait clip, 2026-11-25).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


class InputError(Exception):
    """A file that is not readable JSON lines from ``infer --json``."""


def read_predictions(path: Path) -> dict[str, dict[str, Any]]:
    """The JSON lines of ``path`` keyed by their ``file`` field."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    out: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "file" not in record:
            raise InputError(f"{path}:{number}: not an infer --json line (no 'file')")
        if record["file"] in out:
            raise InputError(f"{path}:{number}: {record['file']} appears twice")
        out[record["file"]] = record
    if not out:
        raise InputError(f"{path}: no predictions")
    return out


def compare(
    reference: dict[str, dict[str, Any]],
    other: dict[str, dict[str, Any]],
    tolerance: float,
    text_tolerance: float | None = None,
    face_tolerance: float | None = None,
) -> tuple[list[str], float]:
    """The mismatches (one line each) and the largest probability difference; clips that read
    words are held to ``text_tolerance``, clips answered by a face without a voice to
    ``face_tolerance`` (each default: ``tolerance``)."""
    problems: list[str] = []
    largest = 0.0
    for clip in sorted(reference.keys() - other.keys()):
        problems.append(f"{clip}: only in the reference")
    for clip in sorted(other.keys() - reference.keys()):
        problems.append(f"{clip}: only in the other file")
    for clip in sorted(reference.keys() & other.keys()):
        ref, oth = reference[clip], other[clip]
        if "error" in ref or "error" in oth:
            why_ref, why_oth = ref.get("error", "ok"), oth.get("error", "ok")
            problems.append(f"{clip}: failed: reference {why_ref!r}, other {why_oth!r}")
            continue
        if ref.get("emotion") != oth.get("emotion"):
            problems.append(f"{clip}: emotion {ref.get('emotion')} vs {oth.get('emotion')}")
        m_ref, m_oth = ref.get("modalities"), oth.get("modalities")
        if m_ref != m_oth:
            problems.append(f"{clip}: modalities {m_ref} vs {m_oth}")
        p_ref, p_oth = ref.get("probabilities", {}), oth.get("probabilities", {})
        bar = _bar(m_ref or {}, tolerance, text_tolerance, face_tolerance)
        if p_ref.keys() != p_oth.keys():
            problems.append(f"{clip}: emotions listed {sorted(p_ref)} vs {sorted(p_oth)}")
            continue
        for emotion in p_ref:
            diff = abs(float(p_ref[emotion]) - float(p_oth[emotion]))
            largest = max(largest, diff)
            if diff > bar:
                problems.append(
                    f"{clip}: {emotion} probability {p_ref[emotion]} vs {p_oth[emotion]}"
                    f" (difference {diff:.2g} > {bar:g})"
                )
    return problems, largest


def _bar(used: dict, tolerance: float, text: float | None, face: float | None) -> float:
    """The largest difference allowed for a clip that used the modalities ``used``."""
    bars = [tolerance]
    if used.get("text") and text is not None:
        bars.append(text)
    if used.get("visual") and not used.get("audio") and face is not None:
        bars.append(face)
    return max(bars)


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("other", type=Path)
    parser.add_argument("--tolerance", type=float, default=5e-4)
    parser.add_argument(
        "--text-tolerance", type=float, default=None, help="for clips that read words"
    )
    parser.add_argument(
        "--face-tolerance", type=float, default=None, help="for clips answered by a face alone"
    )
    parser.add_argument("--label", default="", help="Prefix of the printed lines.")
    args = parser.parse_args(argv)
    prefix = f"{args.label}: " if args.label else ""
    try:
        reference, other = read_predictions(args.reference), read_predictions(args.other)
    except InputError as exc:
        print(f"{prefix}error: {exc}", file=sys.stderr)
        return 2
    problems, largest = compare(
        reference, other, args.tolerance, args.text_tolerance, args.face_tolerance
    )
    for problem in problems:
        print(f"{prefix}MISMATCH {problem}")
    clips = len(reference.keys() | other.keys())
    verdict = f"{len(problems)} mismatches" if problems else "agree"
    print(f"{prefix}{clips} clips, largest probability difference {largest:.2g} ({verdict})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
