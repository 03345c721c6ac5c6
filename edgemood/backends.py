"""One small interface over the two inference runtimes a device may have: ONNX Runtime and LiteRT.

Every model edgemood runs on the device (fusion model, text encoder, face detector, face landmarks)
goes through a ``Backend``, chosen by file extension or by name, so the rest of the code never
branches on the runtime (the openWakeWord ``inference_framework`` switch, as one class per runtime).
LiteRT (``ai-edge-litert``, the maintained successor of ``tflite-runtime``) is imported only when a
``.tflite`` model is opened.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from edgemood.errors import ModelError

BACKENDS = ("onnx", "tflite")


class Backend(Protocol):
    """A loaded model: named float/int inputs in, named outputs out."""

    path: Path
    input_names: list[str]
    output_names: list[str]

    def input_shape(self, name: str) -> list[int | None]: ...

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class OnnxBackend:
    """ONNX Runtime on the CPU, threads set explicitly (small models lose with more threads)."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises several unrelated types for a bad file
            reason = _first_line(exc)
            raise ModelError(f"{self.path}: not a loadable ONNX model ({reason})") from exc
        self._inputs = {i.name: i for i in self._session.get_inputs()}
        self.input_names = list(self._inputs)
        self.output_names = [o.name for o in self._session.get_outputs()]

    def input_shape(self, name: str) -> list[int | None]:
        return [d if isinstance(d, int) else None for d in self._inputs[name].shape]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {name: inputs[name] for name in self.input_names}
        return dict(zip(self.output_names, self._session.run(self.output_names, feed)))


class LiteRTBackend:
    """LiteRT interpreter; int8-quantised inputs and outputs are (de)quantised here, so callers
    always pass and get float32 whatever the model's precision."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError(
                f"{path}: a .tflite model needs LiteRT: pip install 'edgemood[tflite]'"
            ) from exc
        self.path = Path(path)
        try:
            with _native_stderr_silenced():
                self._interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            reason = _first_line(exc)
            raise ModelError(f"{self.path}: not a loadable TFLite model ({reason})") from exc
        # Models converted from PyTorch carry a signature whose names are the graph's own (audio,
        # ..., probabilities); the tensors themselves are called "serving_default_audio" etc.
        # Models without one (MediaPipe's) are addressed by tensor name.
        signatures = self._interpreter.get_signature_list()
        if signatures:
            runner = self._interpreter.get_signature_runner(next(iter(signatures)))
            self._inputs = runner.get_input_details()
            self._outputs = runner.get_output_details()
        else:
            self._inputs = {d["name"]: d for d in self._interpreter.get_input_details()}
            self._outputs = {d["name"]: d for d in self._interpreter.get_output_details()}
        self.input_names = list(self._inputs)
        self.output_names = list(self._outputs)

    def input_shape(self, name: str) -> list[int | None]:
        return [int(d) for d in self._inputs[name]["shape"]]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for name, detail in self._inputs.items():
            self._interpreter.set_tensor(detail["index"], _quantize(inputs[name], detail))
        self._interpreter.invoke()
        return {
            name: _dequantize(self._interpreter.get_tensor(detail["index"]), detail)
            for name, detail in self._outputs.items()
        }


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """LiteRT's C++ side prints "INFO: Created TensorFlow Lite XNNPACK delegate" straight to file
    descriptor 2, which would break the CLI's one-line-per-problem stderr; errors still arrive as
    Python exceptions."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr at all: nothing to protect
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _quantize(value: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    scale, zero_point = detail["quantization"]
    if np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        value = np.clip(np.round(value / scale + zero_point), info.min, info.max)
    return np.ascontiguousarray(value, dtype=dtype)


def _dequantize(value: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if np.issubdtype(value.dtype, np.integer) and scale:
        return ((value.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def backend_name_for(path: str | Path) -> str:
    """'onnx' or 'tflite' from a model file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".tflite":
        return "tflite"
    raise ModelError(f"{path}: unknown model type (expected .onnx or .tflite)")


def load_backend(path: str | Path, threads: int = 1) -> Backend:
    """Open a model with the runtime its extension names.

    Args:
        path: a ``.onnx`` or ``.tflite`` file.
        threads: intra-op threads for the runtime.
    Returns:
        A ready Backend.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    if backend_name_for(path) == "onnx":
        return OnnxBackend(path, threads)
    return LiteRTBackend(path, threads)
