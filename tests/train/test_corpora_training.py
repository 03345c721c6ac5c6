"""Training on several corpora: each teaches only its own classes, corpora share each epoch
equally, speaker folds and leave-one-corpus-out splits keep test speakers out of training, and the
per-utterance normalisation is part of the exported model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import TRAIN_REASON

pytest.importorskip("torch", reason=TRAIN_REASON)
pytestmark = pytest.mark.train

import torch
from conftest import ANGRY, HAPPY, SAD
from typer.testing import CliRunner

from edgemood.cli import app
from edgemood.labels import EMOTIONS
from edgemood.model import FusionModel, ModelInputs
from edgemood.train.data import Clip
from edgemood.train.evaluate import protocol_splits
from edgemood.train.fit import class_masks, epoch_size, masked_loss, sampling_weights
from edgemood.train.fusion import FusionConfig, FusionNet

runner = CliRunner()


def _clip(corpus: str, emotion: str, speaker: str = "01", female: bool | None = None) -> Clip:
    if corpus == "ravdess":  # a RAVDESS name: its folds are the published ones
        code = f"{EMOTIONS.index(emotion) + 1:02d}"
        path = Path(f"Actor_{speaker}/03-01-{code}-01-01-01-{speaker}.wav")
        return Clip(path, EMOTIONS.index(emotion), corpus, speaker, female=female, ravdess=True)
    return Clip(
        Path(f"{corpus}/{speaker}/{emotion}.wav"),
        EMOTIONS.index(emotion),
        corpus,
        speaker,
        female=female,
    )


def test_with_every_class_allowed_the_loss_is_torch_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(16, 8, generator=gen)
    target = torch.randint(0, 8, (16,), generator=gen)
    reference = torch.nn.CrossEntropyLoss(label_smoothing=0.05)(scores, target)
    got = masked_loss(scores, target, torch.ones(16, 8), 0.05)
    assert torch.allclose(got, reference, atol=1e-6)
    # A row allowing nothing (a face alone, no corpus) counts as all allowed.
    assert torch.allclose(masked_loss(scores, target, torch.zeros(16, 8), 0.05), reference)


def test_a_class_outside_the_corpus_gets_no_gradient_and_no_mass():
    scores = torch.zeros(1, 8, requires_grad=True)
    allowed = torch.zeros(1, 8)
    allowed[0, [0, 2, 3, 4]] = 1  # EmoDB's originals: neutral, happy, sad, angry
    loss = masked_loss(scores, torch.tensor([4]), allowed, 0.1)
    loss.backward()
    assert torch.all(scores.grad[0, [1, 5, 6, 7]] == 0)
    assert torch.all(scores.grad[0, [0, 2, 3]] > 0) and scores.grad[0, 4] < 0
    # Uniform scores over 4 allowed classes: the loss is log 4 whatever the smoothing.
    assert loss.item() == pytest.approx(np.log(4), abs=1e-6)


def test_class_masks_follow_each_corpus():
    clips = [_clip("a", "calm"), _clip("a", "sad"), _clip("b", "sad"), _clip("b", "angry")]
    masks = class_masks(clips)
    calm, sad, angry = (EMOTIONS.index(e) for e in ("calm", "sad", "angry"))
    assert np.flatnonzero(masks[0]).tolist() == [calm, sad]
    assert np.flatnonzero(masks[3]).tolist() == [sad, angry]


def test_balance_gives_each_corpus_and_class_an_equal_share():
    clips = [_clip("big", "sad")] * 90 + [_clip("big", "angry")] * 10 + [_clip("small", "sad")] * 5
    assert sampling_weights(clips[:100], "corpus") is None  # one corpus: every clip once
    assert sampling_weights(clips, "none") is None
    per_corpus = sampling_weights(clips, "corpus")
    assert per_corpus[:100].sum() == pytest.approx(0.5) and per_corpus[100:].sum() == pytest.approx(
        0.5
    )
    # An epoch draws 100 per corpus: the small one repeats, the large one is not cut.
    assert epoch_size(clips) == 200 and epoch_size(clips[:100]) == 100
    both = sampling_weights(clips, "corpus+class")
    assert both[:90].sum() == pytest.approx(0.25) and both[90:100].sum() == pytest.approx(0.25)
    assert both[100:].sum() == pytest.approx(0.5)


def test_speaker_folds_test_each_corpus_apart_and_train_on_the_other():
    clips = [
        _clip("ravdess", "sad", f"{a:02d}", a % 2 == 0) for a in range(1, 9) for _ in range(2)
    ] + [_clip("emodb", "angry", s, s in ("08", "09")) for s in ("03", "08", "09", "10")]
    splits = protocol_splits(clips, "speaker", seed=0, validation=True)
    assert [s.corpus for s in splits] == ["ravdess", "ravdess", "emodb", "emodb"]
    for split in splits:
        test_speakers = {c.speaker_key for c in split.test}
        assert not test_speakers & {c.speaker_key for c in split.train + split.val}
        assert {c.corpus for c in split.test} == {split.corpus}
    # EmoDB folds: one man and one woman each; the other corpus always trains.
    emodb = splits[2]
    assert {c.female for c in emodb.test} == {True, False}
    assert {c.corpus for c in emodb.train} == {"ravdess", "emodb"}
    # One man and one woman held out for validation in a corpus with 4+ speakers.
    assert {c.female for c in splits[0].val} == {True, False}


def test_leave_one_corpus_out_never_trains_on_the_test_corpus():
    clips = [_clip("ravdess", "sad", f"{a:02d}", a % 2 == 0) for a in range(1, 9)] + [
        _clip("emodb", "angry", s) for s in ("03", "08")
    ]
    splits = protocol_splits(clips, "corpus", seed=0, validation=False)
    assert [(s.corpus, {c.corpus for c in s.train}) for s in splits] == [
        ("ravdess", {"emodb"}),
        ("emodb", {"ravdess"}),
    ]
    with pytest.raises(ValueError, match="two corpora"):
        protocol_splits(clips[:8], "corpus", seed=0, validation=False)


@pytest.mark.parametrize("norm", ["mean", "both"])
def test_utterance_normalisation_ignores_a_constant_offset_and_exports(norm, tmp_path):
    """With "mean", adding a constant to every frame of a feature (a microphone's level, a
    speaker's pitch) cannot change the answer; "both" still sees it. ONNX gives the same."""
    from export.fusion import export_onnx

    torch.manual_seed(0)
    net = FusionNet(
        FusionConfig(utterance_norm=norm, trained={"audio": True, "visual": False, "text": False})
    ).eval()
    rng = np.random.default_rng(0)
    audio = rng.normal(size=(120, 74)).astype(np.float32)
    shifted = audio + rng.normal(size=74).astype(np.float32)  # the same offset in every frame
    path = export_onnx(net, tmp_path / "fusion.onnx")

    def torch_probs(frames: np.ndarray) -> np.ndarray:
        x = torch.zeros(1, 1000, 74)
        x[0, : len(frames)] = torch.from_numpy(frames)
        mask = torch.zeros(1, 1000)
        mask[0, : len(frames)] = 1
        with torch.no_grad():
            return net(
                x,
                mask,
                torch.zeros(1, 50, 35),
                torch.zeros(1, 50),
                torch.zeros(1, 768),
                torch.tensor([[1.0, 0.0, 0.0]]),
            ).numpy()[0]

    same = np.allclose(torch_probs(audio), torch_probs(shifted), atol=1e-5)
    assert same == (norm == "mean")
    import onnxruntime as ort

    session = ort.InferenceSession(str(path))
    feed = {
        i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
        for i in session.get_inputs()
    }
    feed["audio"][0, :120] = audio
    feed["audio_mask"][0, :120] = 1
    feed["present"][0, 0] = 1
    got = session.run(None, feed)[0][0]
    assert np.allclose(got, torch_probs(audio), atol=1e-5)


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    """RAVDESS names (4 actors, 3 emotions) and EmoDB names (4 speakers, angry/sad/boredom)."""
    root = tmp_path_factory.mktemp("corpora")
    for actor in range(1, 5):
        for code, source in (("05", ANGRY), ("03", HAPPY), ("04", SAD)):
            target = (
                root / "ravdess" / f"Actor_{actor:02d}" / f"03-01-{code}-01-01-01-{actor:02d}.flac"
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    (root / "emodb").mkdir()
    for speaker in ("03", "08", "10", "13"):
        for letter, source in (("W", ANGRY), ("T", SAD), ("L", HAPPY)):
            shutil.copy(source, root / "emodb" / f"{speaker}a01{letter}a.flac")
    return root


def test_train_on_two_corpora_credits_both_and_says_what_it_left_out(two_corpora, tmp_path):
    out = tmp_path / "model"
    args = ["train", "--data", str(two_corpora / "ravdess"), "--data", str(two_corpora / "emodb")]
    args += ["--out", str(out), "--cache", str(tmp_path / "cache"), "--epochs", "2"]
    args += ["--augment", "gain,telephone"]
    result = runner.invoke(app, [*args, "--device", "cpu", "--speed", "", "--no-validation"])
    assert result.exit_code == 0, result.output
    assert "emodb: left out 4 clips of emotions outside the 8 (boredom 4)" in result.output
    card = json.loads((out / "model.json").read_text())
    # 12 RAVDESS + 8 EmoDB clips, each with a copy per corruption.
    assert card["training"]["clips"] == 20 and card["training"]["perturbed_copies"] == 40
    assert card["training"]["config"]["augment"] == ["gain", "telephone"]
    corpora = card["training"]["corpora"]
    assert corpora["emodb"]["emotions"] == ["sad", "angry"] and corpora["emodb"]["clips"] == 8
    assert corpora["ravdess"]["speakers"] == ["01", "02", "03", "04"]
    assert any("EmoDB" in c for c in card["credits"]) and any(
        "RAVDESS" in c for c in card["credits"]
    )
    assert FusionModel(out).predict([ModelInputs(audio=np.zeros((50, 74), np.float32))]).shape == (
        1,
        8,
    )


def test_evaluate_leave_one_corpus_out_reports_restricted_scores(two_corpora, tmp_path):
    args = [
        "evaluate",
        "--data",
        str(two_corpora / "ravdess"),
        "--data",
        str(two_corpora / "emodb"),
    ]
    args += ["--protocol", "corpus", "--out", str(tmp_path / "run"), "--epochs", "2"]
    args += ["--cache", str(tmp_path / "cache"), "--device", "cpu", "--speed", ""]
    result = runner.invoke(app, [*args, "--no-validation", "--corrupt", "gain"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert set(report["summary"]) == {
        "ravdess: audio",
        "emodb: audio",
        "ravdess: audio, gain",
        "emodb: audio, gain",
    }
    assert report["corrupted"] == ["gain"]
    emodb = report["pooled"]["emodb: audio"]
    assert emodb["classes"] == ["sad", "angry"] and emodb["n"] == 8
    assert 0.0 <= emodb["uar_restricted"] <= 1.0
    # EmoDB-trained (sad, angry) tested on RAVDESS: scored over the classes both have.
    assert report["pooled"]["ravdess: audio"]["classes"] == ["sad", "angry"]
    # The same clips at another level and clipped: other answers.
    gained = report["pooled"]["emodb: audio, gain"]
    assert gained["n"] == 8
    assert (gained["confusion"], gained["ece"]) != (emodb["confusion"], emodb["ece"])
    assert report["calibration"]["temperature"] > 0
    only = runner.invoke(app, [*args, "--no-validation", "--test-corpus", "emodb"])
    assert only.exit_code == 0, only.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert set(report["summary"]) == {"audio"} and report["pooled"]["audio"]["n"] == 8
    one = runner.invoke(app, [*args[:3], *args[5:], "--no-validation"])
    assert one.exit_code == 2 and "two --data corpora" in one.output


def test_the_fitted_temperature_recovers_how_over_confident_answers_are():
    """Labels drawn from softmax(z / 2), answers softmax(z): the temperature that fits is 2."""
    from edgemood.metrics import expected_calibration_error, fit_temperature, tempered

    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(20000, 8))
    truth = np.exp(z / 2) / np.exp(z / 2).sum(1, keepdims=True)
    labels = np.array([rng.choice(8, p=p) for p in truth])
    answers = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    t = fit_temperature(answers, labels)
    assert t == pytest.approx(2.0, rel=0.05)
    assert np.allclose(tempered(answers, 2.0), truth, atol=1e-6)
    assert expected_calibration_error(tempered(answers, t), labels) < 0.5 * (
        expected_calibration_error(answers, labels)
    )


def test_a_temperature_softens_the_exported_answers(tmp_path):
    from export.fusion import export_onnx

    torch.manual_seed(0)
    trained = {"audio": True, "visual": False, "text": True}
    net = FusionNet(FusionConfig(trained=trained)).eval()
    hot = FusionNet(FusionConfig(trained=trained, temperature=2.0)).eval()
    hot.load_state_dict(net.state_dict())
    inputs = [torch.zeros(1, 1000, 74), torch.zeros(1, 1000), torch.zeros(1, 50, 35)]
    inputs += [torch.zeros(1, 50), torch.randn(1, 768), torch.tensor([[0.0, 0.0, 1.0]])]
    inputs[1][0, :100] = 1
    inputs[0][0, :100] = torch.randn(100, 74)
    with torch.no_grad():
        logits = net.logits(*inputs)
        assert torch.allclose(hot(*inputs), torch.softmax(logits / 2, -1), atol=1e-6)
    import onnxruntime as ort

    path = export_onnx(hot, tmp_path / "hot.onnx")
    names = [i.name for i in ort.InferenceSession(str(path)).get_inputs()]
    got = ort.InferenceSession(str(path)).run(None, dict(zip(names, [x.numpy() for x in inputs])))
    assert np.allclose(got[0], torch.softmax(logits / 2, -1).numpy(), atol=1e-5)


def test_fine_tuning_starts_from_a_model_and_says_so(two_corpora, tmp_path):
    base = tmp_path / "base"
    common = ["--cache", str(tmp_path / "cache"), "--device", "cpu", "--speed", ""]
    first = ["train", "--data", str(two_corpora / "ravdess"), "--out", str(base), "--epochs", "2"]
    assert runner.invoke(app, [*first, *common, "--no-validation"]).exit_code == 0
    tuned = tmp_path / "tuned"
    args = ["train", "--data", str(two_corpora / "emodb"), "--out", str(tuned), "--epochs", "2"]
    result = runner.invoke(app, [*args, *common, "--no-validation", "--init-from", str(base)])
    assert result.exit_code == 0, result.output
    card = json.loads((tuned / "model.json").read_text())
    assert card["training"]["init_from"] == str(base)
    before = torch.load(base / "fusion.pt", weights_only=True)["weights"]
    after = torch.load(tuned / "fusion.pt", weights_only=True)["weights"]
    # The normalisation its weights learnt with stays; the weights moved.
    assert torch.equal(before["audio.mean"], after["audio.mean"])
    assert not torch.equal(before["head.3.weight"], after["head.3.weight"])


def test_a_manifest_transcript_is_what_the_text_branch_reads(encoder_dir, tmp_path):
    from edgemood.features import FeatureExtractor
    from edgemood.text import TextEncoder
    from edgemood.train.data import index_corpora, load_features

    (tmp_path / "a.flac").write_bytes(ANGRY.read_bytes())
    (tmp_path / "b.flac").write_bytes(ANGRY.read_bytes())
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,emotion,transcript\na.flac,angry,i can t believe it\nb.flac,angry,happy sad so\n",
        encoding="utf-8",
    )
    encoder = TextEncoder(encoder_dir)
    clips, _ = index_corpora([manifest])
    extractor = FeatureExtractor(text_encoder=encoder)
    loaded = load_features(clips, extractor, tmp_path / "cache", "tiny", progress=False)
    assert np.allclose(loaded[0].inputs.text, encoder("i can t believe it"), atol=1e-6)
    assert np.allclose(loaded[1].inputs.text, encoder("happy sad so"), atol=1e-6)
    # From the cache: the same words (the words are part of the key).
    again = load_features(index_corpora([manifest])[0], extractor, tmp_path / "cache", "tiny",
                          progress=False)  # fmt: skip
    assert np.array_equal(again[1].inputs.text, loaded[1].inputs.text)


def test_a_folder_per_emotion_trains_without_validation_and_says_why(tmp_path):
    data = tmp_path / "mine"
    for folder, source in (("Anger", ANGRY), ("happiness", HAPPY), ("sad", SAD)):
        (data / folder).mkdir(parents=True)
        shutil.copy(source, data / folder / "take.flac")
    out = tmp_path / "model"
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "2", "--speed", ""]
    result = runner.invoke(app, [*args, "--cache", str(tmp_path / "cache"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "no validation speakers" in result.output and "exactly 2 epochs" in result.output
    card = json.loads((out / "model.json").read_text())
    assert card["training"]["corpora"]["mine"]["emotions"] == ["happy", "sad", "angry"]
    assert card["credits"] == ["mine: the user's labelled clips"]
    assert "their licences bind the weights" in card["licence"]


def test_fine_tuning_the_bundled_model_keeps_its_face_features_and_text_encoder(tmp_path):
    from edgemood.bundled import bundled
    from edgemood.card import read_card

    data = tmp_path / "data"
    data.mkdir()
    for source in (ANGRY, HAPPY, SAD):
        shutil.copy(source, data / source.name)
    out = tmp_path / "tuned"
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--speed", ""]
    args += ["--init-from", str(bundled("model")), "--cache", str(tmp_path / "cache")]
    result = runner.invoke(app, [*args, "--device", "cpu", "--no-validation"])
    assert result.exit_code == 0, result.output
    tuned, shipped = read_card(out), read_card(bundled("model"))
    assert tuned.visual_features == shipped.visual_features
    assert tuned.training.text_encoder == shipped.training.text_encoder
    assert set(shipped.credits) <= set(tuned.credits)
    assert FusionModel(out).predict([ModelInputs(audio=np.zeros((50, 74), np.float32))]).shape == (
        1,
        8,
    )
