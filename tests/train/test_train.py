"""The training layer end to end on a tiny RAVDESS-named folder: index, cache, train, evaluate,
write a model directory that the device runtime loads."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import TRAIN_REASON

# Every test here needs torch (the training layer, export or quantize).
pytest.importorskip("torch", reason=TRAIN_REASON)
pytestmark = pytest.mark.train

from conftest import ANGRY, HAPPY, SAD
from typer.testing import CliRunner

from edgemood.cli import app
from edgemood.labels import EMOTIONS
from edgemood.metrics import auc, classification_report, expected_calibration_error
from edgemood.model import FusionModel
from edgemood.train.data import index_clips
from edgemood.train.evaluate import stratified_split, validation_actors

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_ravdess(tmp_path_factory):
    """8 actors x 3 emotions, the committed clips under RAVDESS names (labels follow the names)."""
    root = tmp_path_factory.mktemp("ravdess")
    sources = {"05": ANGRY, "03": HAPPY, "04": SAD}
    for actor in range(1, 9):
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir()
        for emotion, source in sources.items():
            shutil.copy(source, folder / f"03-01-{emotion}-01-01-01-{actor:02d}.flac")
    (root / "README.txt").write_text("not a clip")
    return root


def test_index_reads_labels_and_actors_from_names(tiny_ravdess):
    clips = index_clips(tiny_ravdess)
    assert len(clips) == 24
    assert {c.actor for c in clips} == set(range(1, 9))
    assert {EMOTIONS[c.label] for c in clips} == {"angry", "happy", "sad"}


def test_train_writes_a_model_the_runtime_loads(tiny_ravdess, tmp_path):
    out = tmp_path / "model"
    cache = tmp_path / "cache"
    args = ["train", "--data", str(tiny_ravdess), "--out", str(out), "--cache", str(cache)]
    result = runner.invoke(app, [*args, "--epochs", "5", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    card = json.loads((out / "model.json").read_text())
    # 18 training clips (6 belong to the 2 validation actors), each also at 0.9x and 1.1x speed.
    assert card["training"]["clips"] == 18 and card["training"]["perturbed_copies"] == 36
    assert len(list(cache.glob("*.npz"))) == 24 + 36
    assert card["trained"] == {"audio": True, "visual": False, "text": False}
    assert len(card["training"]["validation_actors"]) == 2
    assert "CC BY-NC-SA 4.0" in card["licence"]
    model = FusionModel(out)
    assert model.trained["audio"] and not model.trained["visual"]
    # A second run reuses the cache: same features, no re-extraction needed.
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    result = runner.invoke(app, [*args, "--epochs", "1", "--no-validation", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    after = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    assert {name: after[name] for name in before} == before
    assert len(after) == 24 + 48  # now all 24 clips train, so 12 more perturbed copies
    card = json.loads((out / "model.json").read_text())
    assert card["training"]["validation_actors"] == []
    assert card["training"]["actors"] == list(range(1, 9))


def test_card_records_both_ways_of_evaluating_a_protocol(tiny_ravdess, tmp_path):
    """Reports of the same protocol with and without validation both reach the card."""
    reports = tmp_path / "reports"
    for folder, validation, accuracy in (("speaker", True, 0.5), ("fixed", False, 0.6)):
        (reports / folder).mkdir(parents=True)
        report = {
            "protocol": "speaker",
            "validation": validation,
            "training": {"epochs": 40},
            "summary": {"audio": {"accuracy": {"mean": accuracy, "std": 0.1}}},
            "clips": 24,
            "actors": list(range(1, 9)),
        }
        (reports / folder / "report.json").write_text(json.dumps(report))
    out = tmp_path / "model"
    args = ["train", "--data", str(tiny_ravdess), "--out", str(out), "--no-validation"]
    args += ["--cache", str(tmp_path / "cache"), "--epochs", "1", "--evaluation", str(reports)]
    result = runner.invoke(app, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "model.json").read_text())["metrics"]
    assert metrics["speaker"]["summary"]["audio"]["accuracy"]["mean"] == 0.5
    assert metrics["speaker"]["validation"] is True
    fixed = metrics["speaker, no validation"]
    assert fixed["summary"]["audio"]["accuracy"]["mean"] == 0.6 and fixed["epochs"] == 40


def test_evaluate_speaker_protocol_keeps_actors_apart(tiny_ravdess, tmp_path):
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--data",
            str(tiny_ravdess),
            "--protocol",
            "speaker",
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "--epochs",
            "3",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert [f["name"].split(" (")[0] for f in report["folds"]] == ["fold 1", "fold 2"]
    assert set(report["summary"]) == {"audio"}
    pooled = report["pooled"]["audio"]
    assert pooled["n"] == 24 and np.array(pooled["confusion"]).sum() == 24
    assert set(pooled["per_class"]) >= {"angry", "happy", "sad"}
    assert (out / "confusion_speaker_audio.png").stat().st_size > 1000
    assert "| angry |" in (out / "report.md").read_text()


def test_evaluate_without_validation_trains_on_every_other_actor(tiny_ravdess, tmp_path):
    """--no-validation: the recipe of the shipped model (all non-test actors, fixed epochs)."""
    from edgemood.train.commands import prepare
    from edgemood.train.evaluate import evaluate, markdown_report
    from edgemood.train.fit import TrainConfig

    clips = prepare(tiny_ravdess, tmp_path / "cache", None, 1)
    for validation, train_clips, held_out in ((True, 6, 6), (False, 12, 0)):
        lines: list[str] = []
        config = TrainConfig(epochs=2, device="cpu", speed_perturbation=())
        report = evaluate(clips, "speaker", config=config, log=lines.append, validation=validation)
        folds = [line for line in lines if line.startswith("fold")]
        # 8 actors x 3 clips: 4 test actors per fold; validation takes 2 of the other 4.
        assert all(f"train {train_clips} " in f and f"validation {held_out}," in f for f in folds)
        assert report["validation"] is validation
        assert ("no validation" in markdown_report(report)) is not validation
    assert report["best_epochs"] == [2, 2]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--pooling", "median", "pooling must be one of"),
        ("--audio-encoder", "lstm", "audio_encoder"),
    ],
)
def test_bad_architecture_options_fail_in_one_line(tiny_ravdess, tmp_path, option, value, message):
    args = ["train", "--data", str(tiny_ravdess), "--out", str(tmp_path / "m"), option, value]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_validation_actors_are_one_male_one_female():
    chosen = validation_actors(list(range(5, 21)), seed=3)
    assert len(chosen) == 2 and {a % 2 for a in chosen} == {0, 1}


def test_stratified_split_keeps_class_shares():
    labels = np.repeat(np.arange(8), [40] + [80] * 7)
    first, second = stratified_split(labels, 0.2, seed=0)
    everything, nothing = stratified_split(labels, 0.0, seed=0)
    assert len(everything) == len(labels) and labels[nothing].size == 0  # empty, still an index
    assert len(set(first) & set(second)) == 0 and len(first) + len(second) == len(labels)
    assert np.bincount(labels[second]).tolist() == [8] + [16] * 7


def test_metrics_on_known_values():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    probs = np.pad(probs, ((0, 0), (0, 6)))
    labels = np.array([0, 1, 1, 0])
    report = classification_report(probs, labels)
    assert report["accuracy"] == 0.5
    assert report["per_class"]["neutral"]["precision"] == 0.5
    assert report["per_class"]["neutral"]["support"] == 2
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True])) == 0.75
    perfect = np.eye(8)[labels]
    assert expected_calibration_error(perfect, labels) == 0.0
    assert expected_calibration_error(np.full((4, 8), 1 / 8), labels) > 0.2


def test_speed_perturbation_shifts_pitch(tmp_path):
    from edgemood.audio_features import AUDIO_FEATURES
    from edgemood.features import FeatureExtractor
    from edgemood.train.data import ravdess_clip, speed_perturbed

    clip = ravdess_clip(HAPPY)
    extractor = FeatureExtractor(use={"audio": True, "visual": False, "text": False})
    clip.inputs = extractor(HAPPY).inputs
    copies = speed_perturbed([clip], (0.9, 1.1), tmp_path, progress=False)[HAPPY]
    assert [c.augmented for c in copies] == ["speed 0.9", "speed 1.1"]
    f0 = AUDIO_FEATURES.index("f0_log2")

    def median_f0(audio):
        voiced = audio[:, f0] > 0
        return 2 ** np.median(audio[voiced, f0])

    base = median_f0(clip.inputs.audio)
    slow, fast = (median_f0(c.inputs.audio) for c in copies)
    assert abs(slow / base - 0.9) < 0.03 and abs(fast / base - 1.1) < 0.03
    assert len(copies[0].inputs.audio) > len(clip.inputs.audio) > len(copies[1].inputs.audio)
    assert len(list(tmp_path.glob("*.npz"))) == 2  # cached for the next run


@pytest.fixture(scope="module")
def tiny_ravdess_video(tmp_path_factory):
    """8 actors x 2 emotions of audio-visual clips named like RAVDESS's 01-01-...mp4: real face
    photos (the astronaut for happy, Grace Hopper for sad) with RAVDESS voices, 1.5 s each."""
    import cv2
    from media import face_image, read_audio, write_clip

    root = tmp_path_factory.mktemp("ravdess_video")
    faces = {
        "03": cv2.resize(face_image("astronaut"), (256, 256)),
        "04": cv2.resize(face_image("grace_hopper"), (256, 300)),
    }
    voices = {"03": read_audio(HAPPY)[:24000], "04": read_audio(SAD)[:24000]}
    for actor in range(1, 9):
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir()
        for emotion in ("03", "04"):
            name = f"01-01-{emotion}-01-01-01-{actor:02d}.mp4"
            write_clip(folder / name, faces[emotion], voices[emotion], fps=10)
    return root


def test_visual_branch_trains_and_is_reported(tiny_ravdess_video, tmp_path):
    cache = tmp_path / "cache"
    out = tmp_path / "eval"
    common = ["--data", str(tiny_ravdess_video), "--cache", str(cache), "--device", "cpu"]
    result = runner.invoke(
        app, ["evaluate", *common, "--out", str(out), "--epochs", "3", "--speed", ""]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["summary"]) == {"audio", "visual", "audio+visual"}
    assert report["pooled"]["visual"]["n"] == 16
    assert (out / "confusion_speaker_audio_visual.png").is_file()

    model = tmp_path / "model"
    result = runner.invoke(app, ["train", *common, "--out", str(model), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    card = json.loads((model / "model.json").read_text())
    assert card["trained"] == {"audio": True, "visual": True, "text": False}
    clip = next((tiny_ravdess_video / "Actor_03").glob("*.mp4"))
    result = runner.invoke(app, ["infer", "--json", "-m", str(model), str(clip)])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[0])
    assert line["modalities"] == {"audio": True, "visual": True, "text": False}


def test_cached_face_rows_sampled_otherwise_are_computed_again(tiny_ravdess_video, tmp_path):
    """A cache written before face frames were sampled the current way (its entries carry no
    sampling record) gives its face rows again only after they are recomputed: training would
    otherwise learn from frames the device no longer picks. Audio-only entries stay as cached."""
    from edgemood.features import FeatureExtractor
    from edgemood.train.data import load_features

    video = index_clips(tiny_ravdess_video)[:1]
    shutil.copy(HAPPY, tmp_path / HAPPY.name)
    audio = index_clips(tmp_path)
    cache = tmp_path / "cache"
    extractor = FeatureExtractor(use={"audio": True, "visual": True, "text": False})
    load_features(video + audio, extractor, cache, progress=False)
    entries = sorted(cache.glob("*.npz"))
    assert len(entries) == 2
    for entry in entries:  # as an older edgemood wrote them: no sampling record, marked rows
        with np.load(entry) as data:
            arrays = {k: data[k] for k in data.files if k != "visual_sampling"}
        if "visual" in arrays:
            arrays["visual"] = np.full_like(arrays["visual"], 7.0)
        np.savez(entry, **arrays)
    again = load_features(video + audio, extractor, cache, progress=False)
    by_path = {c.path: c.inputs for c in again}
    assert by_path[video[0].path].visual is not None
    assert not np.any(by_path[video[0].path].visual == 7.0)  # recomputed
    assert by_path[audio[0].path].visual is None and by_path[audio[0].path].audio is not None
    records = []
    for entry in sorted(cache.glob("*.npz")):
        with np.load(entry) as data:
            records.append(("visual" in data.files, "visual_sampling" in data.files))
    assert sorted(records) == [(False, False), (True, True)]  # written back with the record
