"""The export tools' view of ``edgemood.train.load``: a model directory's FusionNet, rebuilt from
its checkpoint or from its ONNX file (the training layer adds branches to the bundled model the
same way, so the code lives there)."""

from edgemood.train.load import graph_input_of, load_net

__all__ = ["graph_input_of", "load_net"]
