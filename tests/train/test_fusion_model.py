"""The fusion model: PyTorch definition, ONNX export and the device runtime agree; masks work."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TRAIN_REASON

# Every test here needs torch (the training layer, export or quantize).
pytest.importorskip("torch", reason=TRAIN_REASON)
pytestmark = pytest.mark.train

import onnx
import torch

from edgemood.errors import ModelError
from edgemood.model import FusionModel, ModelInputs
from edgemood.train.fusion import FusionConfig, FusionNet
from edgemood.train.model_dir import AUDIO_MAX_FRAMES
from export.fusion import example_inputs

RNG = np.random.default_rng(0)


def _inputs(audio_len=300, visual_len=20, text=True) -> ModelInputs:
    return ModelInputs(
        audio=RNG.normal(size=(audio_len, 74)).astype(np.float32) if audio_len else None,
        visual=RNG.normal(size=(visual_len, 35)).astype(np.float32) if visual_len else None,
        text=RNG.normal(size=768).astype(np.float32) if text else None,
    )


def _torch_probs(net: FusionNet, feed: dict) -> np.ndarray:
    with torch.no_grad():
        return net(**{k: torch.from_numpy(v) for k, v in feed.items()}).numpy()


def test_probabilities_sum_to_one_and_onnx_matches_torch(full_model):
    from edgemood.train.model_dir import load_checkpoint

    model = FusionModel(full_model)
    batch = [_inputs(), _inputs(audio_len=0), _inputs(visual_len=0, text=False)]
    probs = model.predict(batch)
    assert probs.shape == (3, 8)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    reference = _torch_probs(load_checkpoint(full_model), model.feed(batch))
    np.testing.assert_allclose(probs, reference, atol=1e-5)


def test_missing_modality_changes_nothing_in_the_others():
    net = FusionNet(FusionConfig()).eval()
    feed = {
        k: v.numpy().copy()
        for k, v in zip(
            ("audio", "audio_mask", "visual", "visual_mask", "text", "present"), example_inputs(2)
        )
    }
    feed["audio"][:] = RNG.normal(size=feed["audio"].shape)
    feed["audio_mask"][:, :200] = 1
    feed["present"][:] = [1, 0, 0]
    before = _torch_probs(net, feed)
    # Whatever sits in the absent visual and text slots, the prediction is the same.
    feed["visual"][:] = RNG.normal(size=feed["visual"].shape) * 10
    feed["visual_mask"][:] = 1
    feed["text"][:] = 5.0
    np.testing.assert_array_equal(_torch_probs(net, feed), before)
    # Frames beyond the audio mask are ignored too.
    feed["audio"][:, 200:] = 99.0
    np.testing.assert_array_equal(_torch_probs(net, feed), before)
    # And the audio slot itself does change the result (the test could fail).
    feed["audio"][:, :200] += 1.0
    assert not np.allclose(_torch_probs(net, feed), before)


def test_untrained_branch_has_no_weights_and_no_effect(audio_model):
    graph = onnx.load(str(audio_model / "fusion.onnx")).graph
    names = " ".join(init.name for init in graph.initializer)
    assert "audio.context.bias" in names
    assert "visual" not in names and "text.fc" not in names
    weights = sum(int(np.prod(init.dims)) for init in graph.initializer)
    # audio: 2 x 74 normalisation, then the temporal encoder's convolutions (74 -> 48 over frame
    # pairs, 48 -> 48 over 5 steps, 48 -> 128 over 5 dilated steps); hidden layer over the audio
    # slot only (128 x 128 + 128: the untrained slots' columns are not exported); output.
    audio = 74 * 2 + (74 * 2 * 48 + 48) + (48 * 48 * 5 + 48) + (48 * 128 * 5 + 128)
    assert weights == audio + 128 * 128 + 128 + 128 * 8 + 8
    model = FusionModel(audio_model)
    assert model.trained == {"audio": True, "visual": False, "text": False}
    inputs = _inputs()
    assert model.usable(inputs) == {"audio": True, "visual": False, "text": False}
    feed = model.feed([inputs])
    assert feed["present"].tolist() == [[1.0, 0.0, 0.0]]
    assert feed["visual_mask"].sum() == 0


def test_long_sequences_are_thinned_to_the_fixed_length(full_model):
    model = FusionModel(full_model)
    long = _inputs(audio_len=AUDIO_MAX_FRAMES * 3 + 7)
    feed = model.feed([long])
    assert feed["audio_mask"].sum() == AUDIO_MAX_FRAMES
    np.testing.assert_array_equal(feed["audio"][0, 0], long.audio[0])
    np.testing.assert_array_equal(feed["audio"][0, -1], long.audio[-1])
    assert np.isfinite(model.predict([long])).all()


def test_bad_model_paths_raise_model_error(tmp_path, full_model):
    with pytest.raises(ModelError, match="no model\\.json"):
        FusionModel(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable model card"):
        FusionModel(tmp_path)
    with pytest.raises(ModelError, match="no tflite_int8 model"):
        FusionModel(full_model, backend="tflite", precision="int8")
    with pytest.raises(ModelError, match="unknown backend"):
        FusionModel(full_model, backend="tensorrt")


def _encode(net: FusionNet, frames: np.ndarray, length: int) -> np.ndarray:
    """The audio slot of one clip, padded to ``length`` frames."""
    audio = np.zeros((1, length, 74), np.float32)
    mask = np.zeros((1, length), np.float32)
    audio[0, : len(frames)] = frames
    mask[0, : len(frames)] = 1
    with torch.no_grad():
        return net.audio(torch.from_numpy(audio), torch.from_numpy(mask)).numpy()


@pytest.mark.parametrize("frames", [301, 302, 303, 304])
def test_temporal_encoder_ignores_padding_and_hears_frame_order(frames):
    torch.manual_seed(0)
    net = FusionNet(FusionConfig(audio_encoder="temporal")).eval()
    clip = RNG.normal(size=(frames, 74)).astype(np.float32)
    slot = _encode(net, clip, AUDIO_MAX_FRAMES)
    # Whatever the padding (the runtime pads to the maximum, training to the batch's longest
    # clip), the clip encodes the same.
    np.testing.assert_allclose(_encode(net, clip, 308), slot, atol=1e-5)
    # Unlike a bag of frames, it hears the order: the same frames backwards encode differently.
    assert not np.allclose(_encode(net, clip[::-1].copy(), AUDIO_MAX_FRAMES), slot, atol=1e-3)
    frame = FusionNet(FusionConfig(audio_encoder="frame")).eval()
    np.testing.assert_allclose(
        _encode(frame, clip[::-1].copy(), AUDIO_MAX_FRAMES),
        _encode(frame, clip, AUDIO_MAX_FRAMES),
        atol=1e-5,
    )


def test_cards_from_before_the_temporal_encoder_load_as_frame_models(audio_model):
    card = json.loads((audio_model / "model.json").read_text())
    assert FusionConfig.from_dict(card["architecture"]).audio_encoder == "temporal"
    new_keys = ("audio_encoder", "channels")
    older = {k: v for k, v in card["architecture"].items() if k not in new_keys}
    assert FusionConfig.from_dict(older).audio_encoder == "frame"


def test_temporal_encoder_pools_speech_not_silence():
    from edgemood.train.fusion import LOG_RMS, _speech_frames

    x = torch.zeros(1, 8, 74)
    x[0, :, LOG_RMS] = torch.tensor([-90.0, -30.0, -20.0, -54.0, -56.0, -25.0, 0.0, 0.0])
    mask = torch.tensor([[1.0, 1, 1, 1, 1, 1, 0, 0]])
    # Within 35 dB of the loudest real frame (-20 dB); the padding (louder, but masked) is not.
    assert _speech_frames(x, mask, 35.0).tolist() == [[0, 1, 1, 1, 0, 1, 0, 0]]
    assert torch.equal(_speech_frames(x, mask, 0.0), mask)
    # In the encoder: appending silence to a clip leaves its encoding nearly as it was.
    torch.manual_seed(0)
    net = FusionNet(FusionConfig()).eval()
    clip = RNG.normal(size=(300, 74)).astype(np.float32)
    clip[:, LOG_RMS] = -20.0
    quiet = clip[:100].copy()
    quiet[:, LOG_RMS] = -80.0
    padded = np.concatenate([clip, quiet])
    gated = np.abs(_encode(net, padded, 400) - _encode(net, clip, 400)).max()
    net.audio.speech_range_db = 0.0
    ungated = np.abs(_encode(net, padded, 400) - _encode(net, clip, 400)).max()
    # (Not unchanged: the last speech steps hear the silence through their context.)
    assert gated < ungated / 4
