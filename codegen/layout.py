"""Weight layout: how an int8 matrix (rows, cols) is stored in the generated C so that the
runtime's ``rnnmcu_matvec_*`` reads it.  The C kernels never index a matrix themselves: they
hand the whole packed array to matvec.  ``pack`` and every matvec implementation (the portable
``firmware/src/rnnmcu_matvec_*.c`` and the ``firmware/src/arch/<arch>/`` replacements) change
together; the generated C is the same for every arch.

The layout (``RNNMCU_MV_ROWS`` / ``RNNMCU_MV_COLS`` in ``rnnmcu_kernels.h``):

* rows are taken in blocks of ``ROWS`` = 4 (the last block padded with zero rows), so that one
  pass of a kernel computes 4 dot products while each activation value is loaded once;
* columns are padded with zeros to a multiple of ``COLS`` = 4 and cut into chunks of 4;
* block ``b`` is stored chunk after chunk, each chunk holding its 4 rows one after the other,
  4 bytes each::

      [b][chunk j][row r][c]  =  W[4b + r, 4j + c]

  so a chunk of one row is one aligned 32-bit word (SIMD loads: SXTB16/SMLAD on Cortex-M, word
  loads elsewhere) and a block is read front to back by a single pointer.

The padding bytes are zeros and never meet an activation value: kernels stop at ``cols``.
"""
from __future__ import annotations

import numpy as np

ROWS = 4   # RNNMCU_MV_ROWS
COLS = 4   # RNNMCU_MV_COLS


def padded(n: int, to: int) -> int:
    return -(-n // to) * to


def pack(w: np.ndarray) -> np.ndarray:
    """The int8 array to emit for matrix ``w`` (rows, cols), in the blocked layout above."""
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"pack expects a matrix, got shape {w.shape}")
    if w.size and (w.min() < -128 or w.max() > 127):
        raise ValueError("pack expects int8 values")
    rows, cols = w.shape
    rp, cp = padded(rows, ROWS), padded(cols, COLS)
    full = np.zeros((rp, cp), dtype=np.int8)
    full[:rows, :cols] = w
    # (block, row-in-block, chunk, col-in-chunk) -> (block, chunk, row-in-block, col-in-chunk)
    blocks = full.reshape(rp // ROWS, ROWS, cp // COLS, COLS).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(blocks).ravel()


def unpack(packed: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The inverse of ``pack`` (for tests and tools)."""
    rp, cp = padded(rows, ROWS), padded(cols, COLS)
    a = np.asarray(packed, dtype=np.int8).reshape(rp // ROWS, cp // COLS, ROWS, COLS)
    return np.ascontiguousarray(a.transpose(0, 2, 1, 3)).reshape(rp, cp)[:rows, :cols]
