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

from rnnmcu import facts

# RNNMCU_MV_ROWS, RNNMCU_MV_COLS, RNNMCU_TILE_ROWS, RNNMCU_TILE_UNITS and RNNMCU_W16_AT of the C:
# one source, rnnmcu/facts.py (codegen/emit.py tile_order and scratch_words size the generated
# arrays and state for the tiles)
ROWS = facts.MV_ROWS
COLS = facts.MV_COLS
TILE_ROWS = facts.TILE_ROWS
tile_units = facts.tile_units


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


# The wide layout (``rnnmcu build --wide-weights``): the same blocks and chunks, each weight an
# int16 (twice the flash), and a row's chunk stored as (c0, c2, c1, c3), so that its two 32-bit
# words are already the (w0, w2) and (w1, w3) halfword pairs that SMLAD multiplies with the
# activation pairs (x0, x2) and (x1, x3): a Cortex-M DSP kernel then loads weights and needs no
# SXTB16 for them.
WIDE_ORDER = facts.WIDE_ORDER


def pack_wide(w: np.ndarray) -> np.ndarray:
    """The int16 array to emit for int8 matrix ``w`` in the wide layout above."""
    blocks = pack(w).reshape(-1, COLS)
    return np.ascontiguousarray(blocks[:, WIDE_ORDER]).astype(np.int16).ravel()


def unpack_wide(packed: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The inverse of ``pack_wide`` (for tests and tools)."""
    chunks = np.asarray(packed).reshape(-1, COLS)
    narrow = np.empty_like(chunks)
    narrow[:, WIDE_ORDER] = chunks
    return unpack(narrow.astype(np.int8).ravel(), rows, cols)


def unpack(packed: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The inverse of ``pack`` (for tests and tools)."""
    rp, cp = padded(rows, ROWS), padded(cols, COLS)
    a = np.asarray(packed, dtype=np.int8).reshape(rp // ROWS, cp // COLS, ROWS, COLS)
    return np.ascontiguousarray(a.transpose(0, 2, 1, 3)).reshape(rp, cp)[:rows, :cols]
