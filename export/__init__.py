"""Workstation export of edgemood models (needs the ``[train]`` extra; never runs on the device).

Run from a checkout: ``python -m export fusion MODEL_DIR`` writes FP32 ONNX and FP32 TFLite of the
fusion model into its model directory; ``python -m export text SOURCE OUT`` exports DistilBERT (a
hub name or a local directory) with Optimum. ``quantize/`` then makes the INT8 versions.
"""
