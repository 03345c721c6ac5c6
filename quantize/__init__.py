"""Workstation INT8 quantization of edgemood models (needs the ``[train]`` extra).

``edgemood quantize fusion MODEL_DIR --data RAVDESS_DIR`` writes static INT8 ONNX and INT8 TFLite
of the fusion model, calibrated on training actors' real features, each with a JSON report of its
size, calibration set and agreement with FP32 on held-out actors; ``edgemood quantize text
ENCODER_DIR`` writes a dynamic INT8 text encoder (the commands: ``edgemood/cli/workstation.py``).
See README.md here.
"""
