"""Weight layout: how an int8 matrix (rows, cols) is stored in the generated C so that the
runtime's ``rnnmcu_matvec_*`` reads it.  The C kernels never index a matrix themselves: they
hand the whole packed array to matvec.  ``pack`` and the matvec implementations change together.
"""
from __future__ import annotations

import numpy as np


def pack(w: np.ndarray) -> np.ndarray:
    """The int8 array to emit for matrix ``w`` (rows, cols): row-major."""
    return np.ascontiguousarray(w, dtype=np.int8).ravel()
