"""The fusion model: PyTorch definition, ONNX export and the device runtime agree; masks work."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from edgemood.errors import ModelError
from edgemood.model import FusionModel, ModelInputs
from edgemood.train.fusion import FusionConfig, FusionNet
from edgemood.train.model_dir import AUDIO_MAX_FRAMES, example_inputs

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
    assert "audio.fc.bias" in names
    assert "visual" not in names and "text.fc" not in names
    weights = sum(int(np.prod(init.dims)) for init in graph.initializer)
    # audio (2 x 74 normalisation, 74 x 128 + 128), hidden layer over the audio slot only
    # (128 x 128 + 128: the untrained slots' columns are not exported), output (128 x 8 + 8)
    assert weights == 74 * 2 + 74 * 128 + 128 + 128 * 128 + 128 + 128 * 8 + 8
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
