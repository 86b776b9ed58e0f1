"""Per-arch matvec kernels (firmware/src/arch/<arch>/) and the blocked weight layout: the layout
round-trips, an arch kernel replaces the portable file of the same name (and only on its arch),
and every kernel variant is bit-exact with the integer reference on its emulated board, on
shapes that exercise the padding (rows and columns not multiples of 4, GRU's split U) and the
loops' entry cases (0, 1 and 2 whole chunks of columns)."""
from __future__ import annotations

import numpy as np
import pytest

from rnnmcu import api, ir
from rnnmcu.boards import platformio
from rnnmcu.boards.loader import load_board
from rnnmcu.codegen import layout, qmodel, qref, quantize
from rnnmcu.data import Dataset, save_npz
from rnnmcu.hil import codec

from codegen_helpers import random_recurrent


@pytest.mark.parametrize("rows,cols", [(1, 1), (4, 4), (10, 7), (13, 33), (12, 6)])
def test_wide_pack_roundtrip_and_word_order(rows, cols):
    w = np.random.default_rng(rows * 100 + cols).integers(-128, 128, (rows, cols)).astype(np.int8)
    p = layout.pack_wide(w)
    assert p.dtype == np.int16 and p.size == layout.padded(rows, 4) * layout.padded(cols, 4)
    assert (layout.unpack_wide(p, rows, cols) == w).all()
    # block 0, chunk 0, row 0: the halfword pairs (w0, w2) and (w1, w3) that SMLAD takes
    full = np.zeros((layout.padded(rows, 4), layout.padded(cols, 4)), np.int16)
    full[:rows, :cols] = w
    assert list(p[:4]) == [full[0, 0], full[0, 2], full[0, 1], full[0, 3]]


@pytest.mark.parametrize("rows,cols", [(1, 1), (4, 4), (10, 7), (13, 33), (12, 6)])
def test_pack_roundtrip_and_padding(rows, cols):
    w = np.random.default_rng(rows * 100 + cols).integers(-128, 128, (rows, cols)).astype(np.int8)
    p = layout.pack(w)
    assert p.dtype == np.int8 and p.size == layout.padded(rows, 4) * layout.padded(cols, 4)
    assert (layout.unpack(p, rows, cols) == w).all()
    # row r, column c of block 0 / chunk 0 sits at r*4 + c
    assert p[0] == w[0, 0] and (rows < 2 or p[4] == w[1, 0])


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-rv32", "qemu-lx106", "host"])
def test_arch_files_replace_portable_ones(board):
    b = load_board(board)
    files = {rel: src for src, rel in platformio._runtime_files(b)}
    portable = {rel for rel in files if "/" not in rel}
    arch = {rel for rel in files if rel.startswith("arch/")}
    if board == "host":  # no arch kernels
        assert not arch and {"rnnmcu_matvec_s8.c", "rnnmcu_matvec_s16.c"} <= portable
        return
    assert f"arch/{b.arch}/rnnmcu_matvec_s8.c" in arch and f"arch/{b.arch}/rnnmcu_matvec_s16.c" in arch
    assert "rnnmcu_matvec_s8.c" not in portable and "rnnmcu_matvec_s16.c" not in portable
    # arch=False: the portable C only
    plain = {rel for _, rel in platformio._runtime_files(b, arch=False)}
    assert "rnnmcu_matvec_s8.c" in plain and not any(r.startswith("arch/") for r in plain)


def test_which_boards_have_a_wide_kernel():
    """--wide-weights pays off where the arch has its own wide-layout kernel (build notes the
    others): the Cortex-M DSP one and Xtensa's, not RV32's (LB loads int8 in one instruction)."""
    have = {n: platformio.has_wide_kernel(load_board(n)) for n in ("qemu-m4", "qemu-rv32", "qemu-lx106", "host")}
    assert have == {"qemu-m4": True, "qemu-rv32": False, "qemu-lx106": True, "host": False}
    files = {rel for _, rel in platformio._runtime_files(load_board("qemu-lx106"))}
    assert "arch/xtensa/rnnmcu_matvec_w16_s16.c" in files and "rnnmcu_matvec_w16_s16.c" not in files


@pytest.fixture(scope="module")
def odd_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("arch")
    rng = np.random.default_rng(11)
    F = 6
    x = (rng.normal(0, 1, (3, 12, F)) * 2).astype(np.float32)
    # the device also sees one sequence far outside the calibration range: inputs saturate at the
    # activation minimum and maximum, the corners of the kernels' arithmetic (e.g. Xtensa's offset form)
    xs = np.concatenate([x, np.sign(x[:1]) * 1e3]).astype(np.float32)
    save_npz(d / "data.npz", Dataset(x=xs, lengths=np.array([12, 7, 10, 12])))
    # columns per matrix: 6, 19 | 19, 9 | 9, 5 | 5, 3 | 3, i.e. 0, 1, 2 and 4 whole chunks of 4
    # (the Cortex-M loop takes two chunks per turn and enters an odd count halfway) with and
    # without a tail; the 19-unit LSTM is a whole tile of 16 units and a part tile of 3
    # (RNNMCU_TILE_UNITS), the two GRU forms are tiled (reset_after) and untiled
    layers = [random_recurrent(rng, "lstm", F, 19, return_sequences=True),
              random_recurrent(rng, "gru", 19, 9, return_sequences=True),
              random_recurrent(rng, "gru", 9, 5, reset_after=False, return_sequences=True),
              random_recurrent(rng, "simple", 5, 3),
              ir.Dense(W=rng.normal(0, 0.5, (3, 3)), b=rng.normal(0, 0.1, 3))]
    model = ir.Model(name="arch_odd", input_dim=F, layers=layers, norm_mean=np.zeros(F), norm_std=np.full(F, 2.0))
    out = {}
    for precision in ("int8", "int16"):
        q = quantize.quantize(model, x, None, precision)
        path = d / f"odd-{precision}.rnnmcu"
        qmodel.save(str(path), model, q)
        out[precision] = str(path)
    return d, out


@pytest.mark.emulator
@pytest.mark.slow
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-rv32", "qemu-lx106"])
@pytest.mark.parametrize("precision", ["int8", "int16"])
@pytest.mark.parametrize("wide", [False, True], ids=["compact", "wide"])
def test_arch_kernel_bit_exact_on_board(odd_models, board, precision, wide):
    """Every kernel on its board, both weight layouts (wide: the Cortex-M DSP w16 kernels, Xtensa's
    w16 kernel under int8 and int16 activations, the portable w16 C on RV32) equal the integer
    reference bit for bit."""
    d, paths = odd_models
    rep = api.hil_test(board, paths[precision], str(d / "data.npz"), bench_repeats=4, wide=wide)
    s = rep["summary"]
    assert rep["passed"] and s["mismatches"] == 0 and s["values_checked"] > 0, rep.get("mismatches")


@pytest.mark.emulator
@pytest.mark.slow
@pytest.mark.parametrize("board,precision,wide", [("qemu-m4", "int8", True), ("qemu-rv32", "int8", False),
                                                  ("qemu-lx106", "int8", False), ("qemu-lx106", "int16", True)])
def test_input_projections_bit_exact_on_board(odd_models, board, precision, wide):
    """run() computing the first layer's W x 5 steps at a time (--input-projections 5; windows of
    12, 7 and 10 steps end in part blocks) on each arch's kernels: RUN and STEP equal the
    reference, the device says BENCH times run(), and the bench runs."""
    d, paths = odd_models
    rep = api.hil_test(board, paths[precision], str(d / "data.npz"), bench_repeats=4, wide=wide,
                       input_projections=5)
    s = rep["summary"]
    assert rep["passed"] and s["mismatches"] == 0 and s["values_checked"] > 0, rep.get("mismatches")
    assert s["step_pass"] and s["runs_skipped"] == 0
    assert rep["device"]["flags"] & codec.FLAG_BENCH_RUN and s["bench"]["per_step_min"] > 0
    assert s["bench"]["timed"] == "run"


def _smlad(a: np.ndarray, b: np.ndarray, acc: int) -> np.ndarray:
    """ARM SMLAD on int32 words: the signed low halves' product plus the signed high halves' plus acc."""
    lo = lambda v: ((v & 0xFFFF) ^ 0x8000) - 0x8000  # noqa: E731
    hi = lambda v: v >> 16  # noqa: E731
    return lo(a) * lo(b) + hi(a) * hi(b) + acc


def test_cortex_m_table_lookup_equals_the_reference():
    """rnnmcu_ops.h's Cortex-M DSP rnnmcu_table (one word load of t[i], t[i + 1] and one SMLAD with
    f * 0xFFFF + 256) against qref.table for every int16 input, on tables at the int16 extremes
    (the largest steps between neighbours, both signs) and a random one."""
    rng = np.random.default_rng(5)
    x = np.arange(-32768, 32768, dtype=np.int64)
    u = x + 32768
    f = u & 255
    for tab in (np.where(np.arange(257) % 2, 32767, -32768), np.where(np.arange(257) % 2, -32768, 32767),
                rng.integers(-32768, 32768, 257)):
        tab = tab.astype(np.int16)
        t = tab.astype(np.int64)
        pair = (t[u >> 8] & 0xFFFF) | (t[(u >> 8) + 1] << 16)  # the little-endian word at t + i
        got = _smlad(pair, f * 0xFFFF + 256, 128) >> 8
        assert np.array_equal(got, qref.table(tab, x))
