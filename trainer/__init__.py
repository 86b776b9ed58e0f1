"""Datasets, model specs, custom cells, training and the Keras -> IR import.

Importing this package does not import TensorFlow: the Keras-facing functions are loaded on
first use, so code that only needs the IR never pays for (or depends on) TensorFlow.
"""
from __future__ import annotations

from typing import Any

__all__ = ["import_model", "load_keras_model"]


def __getattr__(name: str) -> Any:
    if name in ("import_model", "load_keras_model"):
        from rnnmcu.trainer import keras_import

        return getattr(keras_import, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
