"""Issue-4/6 acceptance on the emulated boards: firmware built through `pio run` offline, run under
QEMU (-icount shift=0), driven by `rnnmcu test` over the serial socket: every output of int8 and
int16 SimpleRNN / LSTM / GRU / peephole LSTM / peephole GRU / stacked Bidirectional models is
bit-exact with the integer reference, and the instruction count per step is the same on two runs."""
from __future__ import annotations

import numpy as np
import pytest

from rnnmcu import api, ir
from rnnmcu.codegen import qmodel, quantize
from rnnmcu.data import Dataset, save_npz

from codegen_helpers import random_recurrent

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

BOARDS = ["qemu-m4", "qemu-rv32", "qemu-lx106"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("hil")
    rng = np.random.default_rng(5)
    F = 6
    x = (rng.normal(0, 1, (5, 24, F)) * 3 + 1).astype(np.float32)
    lengths = rng.integers(8, 25, 5)
    save_npz(d / "data.npz", Dataset(x=x, lengths=lengths))
    out = {}
    for cell in ("simple", "lstm", "gru", "peephole_lstm", "peephole_gru", "bidirectional"):
        if cell == "bidirectional":  # a window-only model: RUN only, STEP refused by the device
            first = ir.Bidirectional(forward=random_recurrent(rng, "gru", F, 8, return_sequences=True),
                                     backward=random_recurrent(rng, "gru", F, 8, return_sequences=True,
                                                               go_backwards=True), merge_mode="concat")
            layers = [first, ir.Bidirectional(forward=random_recurrent(rng, "lstm", 16, 8),
                                              backward=random_recurrent(rng, "lstm", 16, 8, go_backwards=True),
                                              merge_mode="ave")]
            width = 8
        else:
            layers = [random_recurrent(rng, cell, F, 12, return_sequences=True, reset_after=cell == "gru"),
                      random_recurrent(rng, cell, 12, 16)]
            width = 16
        layers += [ir.Dense(W=rng.normal(0, 0.5, (4, width)), b=rng.normal(0, 0.1, 4)), ir.Softmax(dim=4)]
        model = ir.Model(name=f"hil_{cell}", input_dim=F, layers=layers, norm_mean=np.ones(F), norm_std=np.full(F, 3.0))
        for precision in ("int8", "int16"):
            q = quantize.quantize(model, x, lengths, precision)
            path = d / f"{cell}-{precision}.rnnmcu"
            qmodel.save(str(path), model, q)
            out[(cell, precision)] = str(path)
    return d, out


@pytest.mark.parametrize("board", BOARDS)
def test_bit_exact_on_emulated_board(models, board):
    d, paths = models
    figures = {}
    for (cell, precision), path in sorted(paths.items()):
        rep = api.hil_test(board, path, str(d / "data.npz"), bench_repeats=16,
                           report=str(d / f"{board}-{cell}-{precision}.json"))
        s = rep["summary"]
        assert rep["passed"] and s["mismatches"] == 0 and s["values_checked"] > 0, rep.get("mismatches")
        assert rep["device"]["board"] == board and rep["device"]["counter_kind_name"] == "instructions"
        bench = s["bench"]
        assert bench["unit"] == "instructions" and bench["per_step_min"] > 0
        assert bench["timed"] == ("run" if cell == "bidirectional" else "step")
        figures[(cell, precision)] = rep["sequences"][0]["bench"]
    print(board, {k: v["per_step"] for k, v in figures.items()})
    # a second run of one model (a new QEMU process): the same instruction count for the same input
    again = api.hil_test(board, paths[("lstm", "int8")], str(d / "data.npz"), bench_repeats=16, max_seqs=1)
    assert again["sequences"][0]["bench"] == figures[("lstm", "int8")]
