"""benchmarks/research/paper_replication.py: the AU table is paired with the right audio take."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.research.paper_replication import AU_COUNT, load_action_units, pair
from edgemood.model import ModelInputs
from edgemood.train.data import ravdess_clip

HEADER = "clip," + ",".join(f"AU{i:02d}" for i in range(AU_COUNT))


def _write(path: Path, rows: dict[str, list[float]], header: str = HEADER) -> Path:
    lines = [header] + [
        name + "," + ",".join(f"{v:.4f}" for v in row) for name, row in rows.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_action_units_pair_with_the_audio_of_the_same_take(tmp_path: Path) -> None:
    # Two takes that differ only in actor, and one in emotion: a mix-up of any field shows.
    first = [float(i) for i in range(AU_COUNT)]
    second = [float(-i) for i in range(AU_COUNT)]
    table = _write(
        tmp_path / "au.csv", {"01-01-05-02-01-01-12": first, "02-01-03-01-02-02-07": second}
    )
    units = load_action_units(table)
    assert sorted(units) == ["03-01-03-01-02-02-07", "03-01-05-02-01-01-12"]

    names = ["03-01-05-02-01-01-12", "03-01-03-01-02-02-07", "03-01-05-02-01-01-11"]
    audio = {n: np.full((7, 74), i, np.float32) for i, n in enumerate(names)}
    clips = [ravdess_clip(Path(f"Actor_x/{n}.flac"), ModelInputs(audio=audio[n])) for n in names]
    paired = pair(clips, units)
    # Actor 11's take has no AU row: dropped from every condition alike.
    for got in paired.values():
        assert [c.path.stem for c in got] == ["03-01-03-01-02-02-07", "03-01-05-02-01-01-12"]
    both = {c.path.stem: c for c in paired["audio+au"]}
    np.testing.assert_array_equal(both["03-01-05-02-01-01-12"].inputs.visual, [first])
    np.testing.assert_array_equal(both["03-01-03-01-02-02-07"].inputs.visual, [second])
    np.testing.assert_array_equal(both["03-01-03-01-02-02-07"].inputs.audio, audio[names[1]])
    assert all(c.inputs.visual is None for c in paired["audio"])
    assert all(c.inputs.audio is None for c in paired["au"])
    assert [c.label for c in paired["au"]] == [2, 4]  # happy, angry


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("clip,a,b\n01-01-05-02-01-01-12,1,2\n", "35 AU columns"),
        (HEADER + "\n03-01-05-02-01-01-12" + ",0" * AU_COUNT + "\n", "not a RAVDESS video"),
        (HEADER + "\n01-01-05-02-01-01-12" + ",x" * AU_COUNT + "\n", ":2:"),
        (HEADER + ("\n01-01-05-02-01-01-12" + ",0" * AU_COUNT) * 2 + "\n", "twice"),
    ],
)
def test_a_bad_table_is_refused_in_one_line(tmp_path: Path, content: str, message: str) -> None:
    table = tmp_path / "au.csv"
    table.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as caught:
        load_action_units(table)
    assert "\n" not in str(caught.value)
