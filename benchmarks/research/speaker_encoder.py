"""A frozen pretrained speaker encoder as an emotion feature, within and across corpora.

Measures how much emotion a linear probe reads from resemblyzer's GE2E d-vector (a speaker
embedding, trained to tell voices apart, never on emotions) against the clip statistics of
edgemood's own 74 audio features, on RAVDESS and EmoDB, and what the encoder costs on a device.

The encoder (re-implemented here, small): 40-band power mel spectrogram at 16 kHz (25 ms Hann
window, 10 ms hop, not log), cut into partial utterances of 160 frames (1.6 s) 1.3 times per
second; each partial through a 3-layer LSTM (256 units), the last layer's final hidden state
through linear 256 → ReLU → L2 norm; the clip vector is the L2-normed mean of its partials' vectors.
Before that the waveform is raised (never lowered) to -30 dBFS. resemblyzer also shortens long
silences with webrtcvad; the main vectors here skip that (``--trim-path`` adds a trimmed set).
Weights: resemblyzer 0.1.4's ``pretrained.pt`` (Resemble AI, Apache-2.0, after Wan et al. 2018,
"Generalized end-to-end loss for speaker verification"), loaded with ``weights_only=True``; the
module and the mel are written anew here (no code copied), and checked against resemblyzer's own
``VoiceEncoder.embed_utterance`` where its wheel can be imported (``reference_check`` in the JSON).
The mel is numpy alone (FFT of zero-padded centred frames, a Slaney filterbank matrix [40, 201]
computed here, which a device can load as a saved array), so no librosa on a device.

Features per clip (cached in ``--cache``):
- ``edgemood-148``: mean and std over frames of ``edgemood.audio_features`` (74 per 10 ms).
- ``dvector-256``: the clip's d-vector.
- ``both``: the two side by side (404).

Normalisations, applied to each corpus before the probe's own standardisation on its training set:
- ``none``.
- ``utterance``: each clip against itself. edgemood: frames minus the clip's own frame mean
  (cepstral-mean style), so the 74 means become 0 and only the 74 stds are left (74-d);
  d-vector: the vector minus its own mean over the 256 dimensions, over their std (nearly a
  no-op: it is already unit-norm).
- ``speaker``: z-score per speaker over all of that speaker's clips (the test speaker's too:
  it assumes a device has heard the speaker's range of emotions before).
- ``corpus``: z-score per corpus (the test corpus by its own statistics).

Probes: scikit-learn logistic regression (lbfgs, class_weight balanced, 5000 iterations) on
features standardised on the training set, labels as ``edgemood.labels.EMOTIONS``; ``results``
with C fixed (``--c``, default 1.0, sklearn's default), ``results_c_selected`` with C picked per
fit from 1, 0.1, 0.01, 0.001 by UAR over 4 speaker-grouped folds of the training rows only.
- a. RAVDESS speaker folds (test actors 1-4, 5-8, 9-12, 13-16, 17-20): 8-way accuracy, mean.
- b. all of RAVDESS → EmoDB originals (339): UAR with the decision restricted to angry, happy,
  neutral, sad; 8-way accuracy; share of the most frequent 8-way answer; neutral recall.
- c. EmoDB originals → RAVDESS clips of those 4 classes (560): UAR.
- d. EmoDB speaker folds, one man + one woman each ((03, 08), (10, 09), (11, 13), (12, 14),
  (15, 16)): 4-class UAR, mean.

ONNX: the partial encoder ([partials, frames, 40] → [partials, 256], both axes dynamic) exported
with the TorchScript exporter and its parity with torch; two onnxruntime dynamic INT8 variants
(``INT8_VARIANTS``: everything INT8, and the first LSTM kept FP32), each with its size, the
cosine of its clip vectors to the FP32 ones and probe b trained and tested on its vectors; and the
time per second of audio on one thread (levelling + numpy mel + onnxruntime + averaging).

Corpora: RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA 4.0) and EmoDB (Burkhardt et al. 2005,
CC0). Run from the checkout, one thread:

    pip download --no-deps resemblyzer==0.1.4 -d /tmp/resemblyzer
    unzip -q /tmp/resemblyzer/Resemblyzer-0.1.4-py3-none-any.whl -d /tmp/resemblyzer/wheel
    pip download --no-deps --only-binary=:all: webrtcvad-wheels -d /tmp/webrtcvad_dl  # optional
    unzip -q /tmp/webrtcvad_dl/webrtcvad_wheels-*.whl -d /tmp/webrtcvad
    OMP_NUM_THREADS=1 python -m benchmarks.research.speaker_encoder \\
        --weights /tmp/resemblyzer/wheel --trim-path /tmp/webrtcvad \\
        --out benchmarks/research/results/speaker_encoder.json

``--weights`` takes ``pretrained.pt`` or a folder holding it (the unzipped wheel); if that
folder also holds resemblyzer's source, the reference check runs (webrtcvad stubbed out when it
is missing: it only trims). ``--trim-path DIR`` (a folder with the unzipped ``webrtcvad-wheels``
wheel) adds d-vectors of clips trimmed by resemblyzer's own ``trim_long_silences``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgemood.labels import EMOTIONS

SAMPLE_RATE = 16000
HOP = 160  # 10 ms
N_FFT = 400  # 25 ms, also the window
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
PARTIALS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75  # a last partial shorter than this share of 160 frames is dropped
TARGET_DBFS = -30.0
HIDDEN = 256
LAYERS = 3

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
FOUR = ("neutral", "happy", "sad", "angry")
FOUR_IDS = np.array([EMOTIONS.index(e) for e in FOUR])
EMODB_LETTERS = {"W": "angry", "F": "happy", "N": "neutral", "T": "sad"}
RAVDESS_FOLDS = [tuple(range(k, k + 4)) for k in (1, 5, 9, 13, 17)]
EMODB_MEN = ("03", "10", "11", "12", "15")
EMODB_WOMEN = ("08", "09", "13", "14", "16")
EMODB_FOLDS = list(zip(sorted(EMODB_MEN), sorted(EMODB_WOMEN)))
FEATURE_SETS = ("edgemood-148", "dvector-256", "both")
NORMALISATIONS = ("none", "utterance", "speaker", "corpus")


# ---------------------------------------------------------------- mel, numpy only


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    hz = np.asarray(hz, dtype=np.float64)
    step = 200.0 / 3
    log_step = math.log(6.4) / 27.0
    above = 1000.0 / step + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step
    return np.where(hz >= 1000.0, above, hz / step)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    step = 200.0 / 3
    log_step = math.log(6.4) / 27.0
    above = 1000.0 * np.exp(log_step * (mel - 1000.0 / step))
    return np.where(mel >= 1000.0 / step, above, mel * step)


def mel_filterbank() -> np.ndarray:
    """Triangular Slaney-normalised filters [N_MELS, N_FFT // 2 + 1] over 0–8 kHz."""
    bins = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - left) / (centre - left)
    falling = (right - bins[None, :]) / (right - centre)
    filters = np.clip(np.minimum(rising, falling), 0.0, None)
    return (filters * (2.0 / (right - left))).astype(np.float32)


FILTERBANK = mel_filterbank()
WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_power(wav: np.ndarray) -> np.ndarray:
    """Power mel spectrogram [1 + len // HOP, N_MELS] of centred frames (zero padding)."""
    padded = np.pad(wav.astype(np.float32), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    spectrum = np.fft.rfft(frames * WINDOW, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power @ FILTERBANK.T


def raise_level(wav: np.ndarray) -> np.ndarray:
    """Scale up to TARGET_DBFS RMS; louder clips are left as they are."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    if rms <= 0.0:
        return wav
    gain = 10 ** (TARGET_DBFS / 20) / rms
    return wav * np.float32(gain) if gain > 1.0 else wav


def partial_mels(wav: np.ndarray) -> np.ndarray:
    """The clip's partial utterances [partials, PARTIAL_FRAMES, N_MELS].

    Windows of 160 frames start every round(16000 / 1.3 / 160) = 77 frames until they cover the
    clip; the last is kept when at least 75 % of it holds audio (the clip is zero-padded to it),
    and a clip shorter than one window gives one zero-padded window.
    """
    step = round(SAMPLE_RATE / PARTIALS_PER_SECOND / HOP)
    frames_needed = math.ceil((len(wav) + 1) / HOP)
    starts = list(range(0, max(1, frames_needed - PARTIAL_FRAMES + step + 1), step))
    span = PARTIAL_FRAMES * HOP
    if len(starts) > 1 and (len(wav) - starts[-1] * HOP) / span < MIN_COVERAGE:
        starts.pop()
    end = (starts[-1] + PARTIAL_FRAMES) * HOP
    if end >= len(wav):
        wav = np.pad(wav, (0, end - len(wav)))
    mel = mel_power(wav)
    return np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])


def pool(partials: np.ndarray) -> np.ndarray:
    """Clip vector: the L2-normed mean of the partials' (unit) vectors."""
    mean = partials.mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


# ---------------------------------------------------------------- the encoder


class PartialEncoder(nn.Module):
    """[partials, frames, 40] power mels → [partials, 256] unit vectors (GE2E d-vectors)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        vectors = torch.relu(self.linear(hidden[-1]))
        return vectors / vectors.norm(dim=1, keepdim=True)


def find_weights(path: Path) -> Path:
    """``pretrained.pt`` itself, or the first one under a folder (an unzipped wheel)."""
    if path.is_file():
        return path
    found = sorted(path.rglob("pretrained.pt"))
    if not found:
        raise SystemExit(f"no pretrained.pt under {path}")
    return found[0]


def load_encoder(weights: Path) -> PartialEncoder:
    state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
    encoder = PartialEncoder()
    # The checkpoint also holds GE2E's similarity scale and bias, used only in training.
    ours = {k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}
    encoder.load_state_dict(ours, strict=True)
    return encoder.eval()


def embed(encoder: PartialEncoder, wav: np.ndarray, level: bool = True) -> np.ndarray:
    """The clip's d-vector (``level=False``: the waveform is already levelled)."""
    wav = raise_level(wav) if level else wav
    with torch.inference_mode():
        partials = encoder(torch.from_numpy(partial_mels(wav))).numpy()
    return pool(partials)


# ---------------------------------------------------------------- corpora and features


def ravdess_clips(root: Path) -> list[tuple[Path, int, str]]:
    """(path, EMOTIONS index, actor) of every speech clip."""
    clips = []
    for path in sorted(root.glob("Actor_*/*.flac")):
        fields = path.stem.split("-")
        clips.append((path, int(fields[2]) - 1, fields[6]))
    return clips


def emodb_clips(root: Path) -> list[tuple[Path, int, str]]:
    """(path, EMOTIONS index, speaker) of the original takes (the 4 classes there)."""
    clips = []
    for path in sorted(root.glob("*.flac")):
        emotion = EMODB_LETTERS[path.stem[5]]
        clips.append((path, EMOTIONS.index(emotion), path.stem[:2]))
    return clips


def load(path: Path) -> np.ndarray:
    import librosa

    wav, _ = librosa.load(path, sr=SAMPLE_RATE, mono=True)
    return wav.astype(np.float32)


def corpus_vectors(
    name: str,
    clips: list[tuple[Path, int, str]],
    encoder: PartialEncoder,
    cache: Path,
    trim: Callable[[np.ndarray], np.ndarray] | None,
) -> dict[str, np.ndarray]:
    """Per-clip features of one corpus, computed once and kept in ``cache/NAME.npz``."""
    from edgemood.audio_features import audio_features

    file = cache / f"{name}.npz"
    data = dict(np.load(file)) if file.exists() else {}
    names = np.array([p.name for p, _, _ in clips])
    if "names" in data and not np.array_equal(data["names"], names):
        data = {}
    wanted = ["dvector", "edgemood_mean", "edgemood_std", "seconds"]
    if trim is not None:
        wanted.append("dvector_trim")
    if all(k in data for k in wanted):
        return data
    rows: dict[str, list] = {k: [] for k in wanted}
    started = time.perf_counter()
    for i, (path, _, _) in enumerate(clips):
        wav = load(path)
        rows["seconds"].append(len(wav) / SAMPLE_RATE)
        rows["dvector"].append(embed(encoder, wav))
        frames = audio_features(wav)
        rows["edgemood_mean"].append(frames.mean(axis=0))
        rows["edgemood_std"].append(frames.std(axis=0))
        if trim is not None:
            rows["dvector_trim"].append(embed(encoder, trim(raise_level(wav)), level=False))
        if (i + 1) % 200 == 0:
            print(f"{name}: {i + 1}/{len(clips)} in {time.perf_counter() - started:.0f} s")
    data = {k: np.asarray(v, dtype=np.float32) for k, v in rows.items()}
    data["names"] = names
    data["labels"] = np.array([label for _, label, _ in clips])
    data["speakers"] = np.array([speaker for _, _, speaker in clips])
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(file, **data)
    return data


def _zscore(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 1e-8, std, 1.0)


def feature_matrix(data: dict, feature_set: str, norm: str, dvector: str = "dvector") -> np.ndarray:
    """One corpus's features for a feature set under a normalisation (module docstring)."""
    if norm == "utterance":
        edgemood = data["edgemood_std"]
        dv = data[dvector]
        dv = (dv - dv.mean(axis=1, keepdims=True)) / dv.std(axis=1, keepdims=True)
    else:
        edgemood = np.hstack([data["edgemood_mean"], data["edgemood_std"]])
        dv = data[dvector]
    parts = {"edgemood-148": [edgemood], "dvector-256": [dv], "both": [edgemood, dv]}
    x = np.hstack(parts[feature_set]).astype(np.float64)
    if norm == "speaker":
        for speaker in np.unique(data["speakers"]):
            rows = data["speakers"] == speaker
            x[rows] = _zscore(x[rows])
    elif norm == "corpus":
        x = _zscore(x)
    return x


# ---------------------------------------------------------------- probes


C_GRID = (1.0, 0.1, 0.01, 0.001)


def fit_predict(
    x_train, y_train, groups, x_test, c: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Class probabilities [n, classes] of the test rows, the classes (EMOTIONS ids) and C.

    ``c=None``: C picked from C_GRID by UAR (balanced accuracy) over 4 speaker-grouped folds
    of the training rows (``groups``), then refitted on all of them.
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    x_train = scaler.transform(x_train)
    if c is None:
        splits = list(GroupKFold(n_splits=4).split(x_train, y_train, groups))
        model = LogisticRegressionCV(
            Cs=list(C_GRID),
            cv=splits,
            scoring="balanced_accuracy",
            max_iter=5000,
            class_weight="balanced",
        )
        model.fit(x_train, y_train)
        chosen = float(model.C_[0])
    else:
        model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        model.fit(x_train, y_train)
        chosen = c
    return model.predict_proba(scaler.transform(x_test)), model.classes_, chosen


def uar(truth: np.ndarray, predicted: np.ndarray, classes) -> float:
    return float(np.mean([np.mean(predicted[truth == c] == c) for c in classes]))


def restricted(proba: np.ndarray, classes: np.ndarray, allowed=FOUR_IDS) -> np.ndarray:
    columns = [int(np.flatnonzero(classes == c)[0]) for c in allowed]
    return classes[np.array(columns)[proba[:, columns].argmax(axis=1)]]


def probe_a(rav: dict, x: np.ndarray, c: float | None) -> dict:
    actors = rav["speakers"].astype(int)
    accuracies, chosen = [], []
    for fold in RAVDESS_FOLDS:
        test = np.isin(actors, fold)
        proba, classes, c_used = fit_predict(
            x[~test], rav["labels"][~test], actors[~test], x[test], c
        )
        accuracies.append(float(np.mean(classes[proba.argmax(1)] == rav["labels"][test])))
        chosen.append(c_used)
    return {"accuracy_8way": float(np.mean(accuracies)), "per_fold": accuracies, "C": chosen}


def probe_b(rav: dict, x_rav: np.ndarray, emo: dict, x_emo: np.ndarray, c: float | None) -> dict:
    proba, classes, c_used = fit_predict(x_rav, rav["labels"], rav["speakers"], x_emo, c)
    truth = emo["labels"]
    answers = classes[proba.argmax(1)]
    four = restricted(proba, classes)
    counts = np.bincount(answers, minlength=len(EMOTIONS))
    neutral = EMOTIONS.index("neutral")
    return {
        "uar_restricted": uar(truth, four, FOUR_IDS),
        "accuracy_restricted": float(np.mean(four == truth)),
        "accuracy_8way": float(np.mean(answers == truth)),
        "most_frequent_answer": EMOTIONS[int(counts.argmax())],
        "most_frequent_share": float(counts.max() / len(answers)),
        "neutral_recall_8way": float(np.mean(answers[truth == neutral] == neutral)),
        "neutral_recall_restricted": float(np.mean(four[truth == neutral] == neutral)),
        "answers_8way": {EMOTIONS[i]: int(n) for i, n in enumerate(counts)},
        "C": c_used,
    }


def probe_c(emo: dict, x_emo: np.ndarray, rav: dict, x_rav: np.ndarray, c: float | None) -> dict:
    keep = np.isin(rav["labels"], FOUR_IDS)
    proba, classes, c_used = fit_predict(x_emo, emo["labels"], emo["speakers"], x_rav[keep], c)
    answers = classes[proba.argmax(1)]
    truth = rav["labels"][keep]
    return {
        "uar": uar(truth, answers, FOUR_IDS),
        "accuracy": float(np.mean(answers == truth)),
        "clips": int(keep.sum()),
        "C": c_used,
    }


def probe_d(emo: dict, x: np.ndarray, c: float | None) -> dict:
    scores, chosen = [], []
    for fold in EMODB_FOLDS:
        test = np.isin(emo["speakers"], fold)
        proba, classes, c_used = fit_predict(
            x[~test], emo["labels"][~test], emo["speakers"][~test], x[test], c
        )
        scores.append(uar(emo["labels"][test], classes[proba.argmax(1)], FOUR_IDS))
        chosen.append(c_used)
    return {"uar": float(np.mean(scores)), "per_fold": scores, "C": chosen}


def all_probes(
    rav: dict, emo: dict, feature_set: str, norm: str, c: float | None, dvector: str
) -> dict:
    x_rav = feature_matrix(rav, feature_set, norm, dvector)
    x_emo = feature_matrix(emo, feature_set, norm, dvector)
    return {
        "dims": int(x_rav.shape[1]),
        "a_ravdess_folds": probe_a(rav, x_rav, c),
        "b_ravdess_to_emodb": probe_b(rav, x_rav, emo, x_emo, c),
        "c_emodb_to_ravdess": probe_c(emo, x_emo, rav, x_rav, c),
        "d_emodb_folds": probe_d(emo, x_emo, c),
    }


# ---------------------------------------------------------------- checks and ONNX


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def reference_check(weights: Path, encoder: PartialEncoder, paths: list[Path]) -> dict:
    """Our vectors against resemblyzer's VoiceEncoder.embed_utterance (same levelled input,
    no trimming), and our numpy mel against its librosa one."""
    source = next((p for p in weights.parents if (p / "resemblyzer" / "audio.py").exists()), None)
    if source is None:
        return {"ran": False, "why": f"no resemblyzer source beside {weights}"}
    sys.path.insert(0, str(source))
    try:
        import webrtcvad  # noqa: F401

        stubbed = False
    except ImportError:
        sys.modules["webrtcvad"] = types.ModuleType("webrtcvad")
        stubbed = True
    from resemblyzer import VoiceEncoder, audio

    reference = VoiceEncoder(device="cpu", verbose=False, weights_fpath=weights)
    cosines, mel_errors = [], []
    for path in paths:
        wav = raise_level(load(path))
        cosines.append(float(_cosine(embed(encoder, wav), reference.embed_utterance(wav))[0]))
        theirs = audio.wav_to_mel_spectrogram(wav)
        ours = mel_power(wav)
        mel_errors.append(float(np.abs(ours - theirs).max() / np.abs(theirs).max()))
    import librosa

    bank = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)
    return {
        "ran": True,
        "resemblyzer_source": str(source / "resemblyzer"),
        "webrtcvad_stubbed": stubbed,
        "clips": [p.name for p in paths],
        "cosine": cosines,
        "cosine_min": float(min(cosines)),
        "mel_max_abs_error_over_max": float(max(mel_errors)),
        "filterbank_max_abs_diff_vs_librosa": float(np.abs(bank - FILTERBANK).max()),
    }


def resemblyzer_trim(weights: Path, trim_path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """resemblyzer's own trim_long_silences, with a real webrtcvad from ``trim_path``."""
    source = next(p for p in weights.parents if (p / "resemblyzer" / "audio.py").exists())
    sys.path.insert(0, str(source))
    import webrtcvad  # noqa: F401
    from resemblyzer.audio import trim_long_silences

    return lambda wav: trim_long_silences(wav).astype(np.float32)


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session, mels: np.ndarray) -> np.ndarray:
    return session.run(None, {"mels": mels})[0]


INT8_VARIANTS = {
    # Every LSTM and the Gemm, per-tensor weights: onnxruntime's defaults.
    "int8_all": {},
    # The first LSTM left FP32: its input is the raw power mel (not log), spanning orders of
    # magnitude, and DynamicQuantizeLSTM quantizes it per tensor to 8 bits, which zeroes most of
    # it. Weights per output channel.
    "int8_first_lstm_fp32": {"exclude_first_lstm": True, "per_channel": True},
}


def export_onnx(encoder: PartialEncoder, folder: Path) -> dict[str, Path]:
    """FP32 ONNX and the INT8_VARIANTS of it, in ``folder``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    paths = {"fp32": folder / "dvector_fp32.onnx"}
    torch.onnx.export(
        encoder,
        (torch.zeros(2, PARTIAL_FRAMES, N_MELS),),
        str(paths["fp32"]),
        input_names=["mels"],
        output_names=["vectors"],
        dynamic_axes={"mels": {0: "partials", 1: "frames"}, "vectors": {0: "partials"}},
        opset_version=17,
        dynamo=False,
    )
    lstms = [n.name for n in onnx.load(str(paths["fp32"])).graph.node if n.op_type == "LSTM"]
    for name, options in INT8_VARIANTS.items():
        paths[name] = folder / f"dvector_{name}.onnx"
        quantize_dynamic(
            str(paths["fp32"]),
            str(paths[name]),
            weight_type=QuantType.QInt8,
            per_channel=options.get("per_channel", False),
            nodes_to_exclude=lstms[:1] if options.get("exclude_first_lstm") else [],
        )
    return paths


def onnx_section(
    encoder: PartialEncoder, rav: dict, emo: dict, rav_clips, emo_clips, cache: Path, c: float
) -> dict:
    import onnx

    paths = export_onnx(encoder, cache)
    sessions = {name: _session(path) for name, path in paths.items()}

    # INT8 vectors of every clip, and FP32 ONNX against torch on every tenth clip.
    file = cache / "onnx_vectors.npz"
    stored = dict(np.load(file)) if file.exists() else {}
    wanted = [f"{v}/{n}" for v in INT8_VARIANTS for n in ("ravdess", "emodb")]
    if not all(k in stored for k in wanted):
        worst_partial, worst_clip = 0.0, 0.0
        rows: dict[str, list] = {k: [] for k in wanted}
        for corpus, clips in (("ravdess", rav_clips), ("emodb", emo_clips)):
            for i, (path, _, _) in enumerate(clips):
                mels = partial_mels(raise_level(load(path)))
                if i % 10 == 0:
                    with torch.inference_mode():
                        ours = encoder(torch.from_numpy(mels)).numpy()
                    theirs = _run(sessions["fp32"], mels)
                    worst_partial = max(worst_partial, float(np.abs(theirs - ours).max()))
                    worst_clip = max(worst_clip, float(np.abs(pool(theirs) - pool(ours)).max()))
                for variant in INT8_VARIANTS:
                    rows[f"{variant}/{corpus}"].append(pool(_run(sessions[variant], mels)))
        stored = {k: np.asarray(v, dtype=np.float32) for k, v in rows.items()}
        stored["parity"] = np.array([worst_partial, worst_clip])
        np.savez(file, **stored)
    worst_partial, worst_clip = (float(v) for v in stored["parity"])

    report: dict = {
        "export": "torch.onnx.export, TorchScript exporter, opset 17, axes partials and frames",
        "fp32_bytes": paths["fp32"].stat().st_size,
        "fp32_parity_max_abs_diff": {"partial_vectors": worst_partial, "clip_vectors": worst_clip},
        "fp32_parity_clips": "every tenth clip of both corpora",
        "int8": "onnxruntime.quantization.quantize_dynamic, QInt8 weights",
    }
    for variant, options in INT8_VARIANTS.items():
        vectors = {n: stored[f"{variant}/{n}"] for n in ("ravdess", "emodb")}
        cosines = np.concatenate(
            [_cosine(vectors[n], d["dvector"]) for n, d in (("ravdess", rav), ("emodb", emo))]
        )
        rav8, emo8 = {**rav, "dvector": vectors["ravdess"]}, {**emo, "dvector": vectors["emodb"]}
        probe: dict = {}
        for label, c_probe in ((f"C={c}", c), ("C selected", None)):
            for feature_set in ("dvector-256", "both"):
                for norm in NORMALISATIONS:
                    fp = probe_b(
                        rav,
                        feature_matrix(rav, feature_set, norm),
                        emo,
                        feature_matrix(emo, feature_set, norm),
                        c_probe,
                    )
                    q = probe_b(
                        rav8,
                        feature_matrix(rav8, feature_set, norm),
                        emo8,
                        feature_matrix(emo8, feature_set, norm),
                        c_probe,
                    )
                    probe.setdefault(label, {})[f"{feature_set}/{norm}"] = {
                        key: {"fp32": fp[key], "int8": q[key]}
                        for key in ("uar_restricted", "accuracy_8way", "most_frequent_share")
                    }
        graph = onnx.load(str(paths[variant])).graph
        report[variant] = {
            "options": options,
            "bytes": paths[variant].stat().st_size,
            "ops": sorted({n.op_type for n in graph.node}),
            "cosine_to_fp32": {
                "mean": float(cosines.mean()),
                "min": float(cosines.min()),
                "p01": float(np.percentile(cosines, 1)),
                "clips": len(cosines),
            },
            "probe_b_trained_and_tested_on_int8_vectors": probe,
        }
    report["timing"] = time_per_second(sessions, rav_clips[::40] + emo_clips[::12])
    return report


def time_per_second(sessions: dict, clips) -> dict:
    """ms of one thread per second of audio: levelling + numpy mel + partials + onnxruntime."""
    wavs = [load(path) for path, _, _ in clips]
    seconds = sum(len(w) for w in wavs) / SAMPLE_RATE
    result = {"clips": len(wavs), "audio_seconds": round(seconds, 2), "repeats": 3}
    mel_best = min(_timed(lambda: [partial_mels(raise_level(w)) for w in wavs]) for _ in range(3))
    result["mel_ms_per_audio_second"] = 1000 * mel_best / seconds
    for name, session in sessions.items():
        _run(session, partial_mels(raise_level(wavs[0])))  # warm-up

        def whole(session=session):
            for w in wavs:
                pool(_run(session, partial_mels(raise_level(w))))

        best = min(_timed(whole) for _ in range(3))
        result[f"{name}_ms_per_audio_second"] = 1000 * best / seconds
    partials = sum(len(partial_mels(w)) for w in wavs)
    result["partials_per_audio_second"] = partials / seconds
    return result


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


# ---------------------------------------------------------------- main


def main() -> None:
    """Measure and write the JSON report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=Path, required=True, help="pretrained.pt or a folder")
    parser.add_argument("--ravdess", type=Path, default=SHARED / "ravdess" / "audio")
    parser.add_argument("--emodb", type=Path, default=SHARED / "emodb" / "audio")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/edgemood_speaker_encoder"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the probe")
    parser.add_argument("--trim-path", type=Path, help="folder with webrtcvad: add trimmed vectors")
    parser.add_argument("--no-onnx", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    weights = find_weights(args.weights)
    if args.trim_path:  # before the reference check, which stubs webrtcvad when it is missing
        sys.path.insert(0, str(args.trim_path))
    encoder = load_encoder(weights)
    rav_clips, emo_clips = ravdess_clips(args.ravdess), emodb_clips(args.emodb)
    report: dict = {
        "weights": str(weights),
        "command": "OMP_NUM_THREADS=1 python -m benchmarks.research.speaker_encoder "
        + " ".join(sys.argv[1:]),
        "clips": {"ravdess": len(rav_clips), "emodb": len(emo_clips)},
        "probe": f"LogisticRegression(C={args.c}, class_weight='balanced', lbfgs) on "
        "StandardScaler(train)",
    }
    probe_clips = [rav_clips[i][0] for i in (0, 333, 777)] + [emo_clips[i][0] for i in (0, 150)]
    report["reference_check"] = reference_check(weights, encoder, probe_clips)
    trim = resemblyzer_trim(weights, args.trim_path) if args.trim_path else None
    rav = corpus_vectors("ravdess", rav_clips, encoder, args.cache, trim)
    emo = corpus_vectors("emodb", emo_clips, encoder, args.cache, trim)
    report["audio_seconds"] = {
        "ravdess": float(rav["seconds"].sum()),
        "emodb": float(emo["seconds"].sum()),
    }

    for key, c in (("results", args.c), ("results_c_selected", None)):
        results = report[key] = {}
        for feature_set in FEATURE_SETS:
            for norm in NORMALISATIONS:
                name = f"{feature_set}/{norm}"
                results[name] = all_probes(rav, emo, feature_set, norm, c, "dvector")
                print(key, name, _line(results[name]), flush=True)
        if trim is not None:
            for norm in NORMALISATIONS:
                name = f"dvector-256-trimmed/{norm}"
                results[name] = all_probes(rav, emo, "dvector-256", norm, c, "dvector_trim")
                print(key, name, _line(results[name]), flush=True)
    if trim is not None:
        cosines = np.concatenate([_cosine(d["dvector"], d["dvector_trim"]) for d in (rav, emo)])
        report["trimmed_cosine_to_untrimmed"] = {
            "mean": float(cosines.mean()),
            "min": float(cosines.min()),
        }
    if not args.no_onnx:
        report["onnx"] = onnx_section(encoder, rav, emo, rav_clips, emo_clips, args.cache, args.c)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report.get("reference_check"), indent=1))
    print(json.dumps(report.get("onnx", {}), indent=1))


def _line(result: dict) -> str:
    return (
        f"a {result['a_ravdess_folds']['accuracy_8way']:.3f}  "
        f"b uar {result['b_ravdess_to_emodb']['uar_restricted']:.3f} "
        f"8way {result['b_ravdess_to_emodb']['accuracy_8way']:.3f} "
        f"top {result['b_ravdess_to_emodb']['most_frequent_share']:.2f} "
        f"neu {result['b_ravdess_to_emodb']['neutral_recall_8way']:.2f}  "
        f"c {result['c_emodb_to_ravdess']['uar']:.3f}  "
        f"d {result['d_emodb_folds']['uar']:.3f}"
    )


if __name__ == "__main__":
    main()
