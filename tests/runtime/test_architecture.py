"""The layers as the README draws them, read from the source: no import circle inside edgemood,
no training stack outside edgemood/train, one place that opens a clip's streams, and a public
API that loads nothing until it is used."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import edgemood

PACKAGE = Path(edgemood.__file__).resolve().parent
TRAINING_STACK = ("torch", "transformers", "optimum", "librosa", "litert_torch", "onnx")
STREAM_OPENERS = {"probe", "decode_audio", "stream_audio", "read_frames", "timed_frames"}


def _modules() -> dict[str, Path]:
    out = {}
    for file in sorted(PACKAGE.rglob("*.py")):
        parts = list(file.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = file
    return out


def _imports(name: str, file: Path) -> set[str]:
    """Every module named by an import in ``file``, at any depth (a lazy import inside a
    function still ties the layers), except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    typing_only = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    package = name if file.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {i for i in _imports(name, file) if i in modules and i != name}
        for name, file in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for after in sorted(graph[node]):
            if state.get(after) == 1:
                return [*path[path.index(after) :], after]
            if after not in state and (found := visit(after)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_inside_edgemood():
    graph = _graph()
    assert "edgemood.features" in graph and "edgemood.timeline" in graph["edgemood.pipeline"]
    assert _cycle(graph) is None


def test_the_training_stack_is_imported_only_by_the_training_layer():
    offenders = []
    for name, file in _modules().items():
        if name == "edgemood.train" or name.startswith("edgemood.train."):
            continue
        used = {i.split(".")[0] for i in _imports(name, file)}
        offenders += [f"{name} imports {lib}" for lib in TRAINING_STACK if lib in used]
    assert offenders == []


def test_only_features_opens_a_clips_streams():
    """The data path (everything but the front ends, the service and training) opens media in
    one place: edgemood.features decides what is read and notes what goes unused."""
    callers = []
    for name, file in _modules().items():
        layer = name.split(".")[1] if name.count(".") else ""
        if layer in ("cli", "service", "train", "decode", "features"):
            continue
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
                called = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                if called in STREAM_OPENERS:
                    callers.append(f"{name}: {called}")
    assert callers == []


def test_the_runtime_and_the_cli_load_no_training_stack():
    code = (
        "import sys, edgemood.pipeline, edgemood.cli, edgemood.timeline; "
        "print(sorted(m for m in ('torch', 'transformers', 'librosa') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_the_public_api_is_loaded_on_first_use():
    code = (
        "import sys, edgemood; before = 'edgemood.pipeline' in sys.modules; "
        "r = edgemood.Recognizer; print(before, 'edgemood.pipeline' in sys.modules, "
        "r is sys.modules['edgemood.pipeline'].Recognizer)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True", "True"], done.stderr


def test_the_public_names():
    from edgemood.errors import EdgemoodError, InputError, ModelError
    from edgemood.labels import EMOTIONS
    from edgemood.pipeline import Recognizer
    from edgemood.prediction import Prediction
    from edgemood.timeline import Segment

    assert (edgemood.Recognizer, edgemood.Prediction, edgemood.Segment) == (
        Recognizer,
        Prediction,
        Segment,
    )
    assert edgemood.EMOTIONS == EMOTIONS and len(EMOTIONS) == 8
    assert (edgemood.EdgemoodError, edgemood.InputError, edgemood.ModelError) == (
        EdgemoodError,
        InputError,
        ModelError,
    )
    assert {"Recognizer", "Prediction", "Segment", "EMOTIONS", "__version__"} <= set(
        edgemood.__all__
    )
    assert all(hasattr(edgemood, name) for name in edgemood.__all__)
    try:
        edgemood.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
