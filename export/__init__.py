"""Workstation export of edgemood models (needs the ``[train]`` extra; never runs on the device).

Run from a checkout: ``edgemood export fusion MODEL_DIR`` writes FP32 ONNX and FP32 TFLite of the
fusion model into its model directory; ``edgemood export text SOURCE OUT`` exports DistilBERT (a
hub name or a local directory) with Optimum. ``quantize/`` then makes the INT8 versions. The
commands are in ``edgemood/cli/workstation.py``.

Training imports it too (``export.fusion.export_onnx`` writes every model directory's
``fusion.onnx``, ``export.text_encoder`` exports a hub encoder): it is not in the wheel, so
``edgemood.train.workstation.require_export`` finds it beside the package in a checkout.
"""
