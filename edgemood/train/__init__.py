"""Training layer (workstation): PyTorch fusion model, RAVDESS data, training, evaluation.

Needs the ``[train]`` extra. It imports the runtime (features, model card); the runtime never
imports this package.
"""
