"""The proven 32-bit pre-activation sums (codegen/NUMERICS.md): the quantiser keeps every W/U/Dense
term and peephole term below NARROW_TERM for any input, rnnmcu_rq32 (and rnnmcu_rq32_le with the
shift split by the generator) equals rnnmcu_rq on that domain (compiled C, under UBSan), and the
generator refuses a quantised model that breaks the bounds."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from rnnmcu import ir
from rnnmcu.codegen import emit, quantize
from rnnmcu.codegen.qmodel import act_range
from rnnmcu.codegen.quantize import NARROW_BIAS, NARROW_TERM, QuantizationError, check_narrow, term_bounds

from codegen_helpers import c_outputs, expected_stream, random_recurrent

REPO = Path(__file__).resolve().parent.parent

DRIVER = r"""
#include <stdio.h>
#include "rnnmcu_ops.h"
int main(void)
{
    long acc, m, sh, l, e;
    while (scanf("%ld %ld %ld %ld %ld", &acc, &m, &sh, &l, &e) == 5)
        printf("%ld %ld %ld\n", (long)rnnmcu_rq((int32_t)acc, (int32_t)m, (int32_t)sh),
               (long)rnnmcu_rq32((int32_t)acc, (int32_t)m, (int32_t)sh),
               (long)rnnmcu_rq32_le((int32_t)acc, (int32_t)m, (uint32_t)l, (uint32_t)e));
    return 0;
}
"""


def _proven_cases(rng: np.random.Generator, n: int) -> list[tuple[int, int, int]]:
    """(acc, M, sh) the quantiser can emit: M as quantize_multiplier makes it, |acc| within a
    row bound that passes term_bounds."""
    out = []
    while len(out) < n:
        m = float(np.exp(rng.uniform(np.log(1e-9), np.log(4.0))))
        M, sh = quantize.quantize_multiplier(m)
        B = int(rng.integers(1, 2 ** 30))
        (rqb,), (pre,) = term_bounds(np.array([[1]]), B, np.array([M]), np.array([sh]))
        if rqb > NARROW_TERM or pre >= 2 ** 30:
            continue
        for acc in (B, -B, int(rng.integers(-B, B + 1)), 0):
            out.append((acc, M, sh))
    return out


def _compile(c_compilers, tmp_path: Path, name: str, text: str, soft_mulhi: bool) -> Path:
    src = tmp_path / f"{name}.c"
    src.write_text(text)
    exe = tmp_path / name
    subprocess.run([c_compilers["gcc"], "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2",
                    "-fsanitize=undefined", "-fno-sanitize-recover=all", f"-I{REPO / 'firmware' / 'src'}",
                    *(["-DRNNMCU_SOFT_MULHI"] if soft_mulhi else []), str(src), "-o", str(exe)], check=True)
    return exe


# soft_mulhi: the 16-bit-halves high product that Xtensa cores without MULSH (LX106) compile
@pytest.mark.parametrize("soft_mulhi", [False, True], ids=["mulhi64", "soft_mulhi"])
def test_rq32_equals_rq_on_the_proven_domain(tmp_path: Path, c_compilers, seed, soft_mulhi) -> None:
    exe = _compile(c_compilers, tmp_path, "rq", DRIVER, soft_mulhi)
    cases = _proven_cases(np.random.default_rng(seed), 4000)
    # every shift the generator can emit, at the domain's edge: sh = 1 leaves only acc = 0, whose
    # left shift of 32 the generator caps at 31
    cases += [(0, 2 ** 30, 1), (0, 2 ** 31 - 1, 2), (1, 2 ** 30, 32), (-1, 2 ** 30, 33), (-(2 ** 20), 2 ** 30, 62)]
    lsh, esh = emit.split_shift(np.array([sh for _, _, sh in cases]))
    assert lsh.max() <= 31 and esh.min() >= 0
    res = subprocess.run([str(exe)], input="".join(f"{a} {m} {s} {li} {ei}\n"
                                                   for (a, m, s), li, ei in zip(cases, lsh, esh)),
                         capture_output=True, text=True, check=True)
    got = [tuple(map(int, line.split())) for line in res.stdout.splitlines()]
    assert len(got) == len(cases)
    for (acc, M, sh), (rq, rq32, rq32_le) in zip(cases, got):
        want = (acc * M + (1 << (sh - 1))) >> sh  # NUMERICS.md: rq
        assert rq == want and rq32 == want and rq32_le == want, (acc, M, sh, rq, rq32, rq32_le, want)
    assert res.stderr == ""


MULHI_DRIVER = r"""
#include <stdio.h>
#include "rnnmcu_ops.h"
int main(void)
{
    long a, b;
    while (scanf("%ld %ld", &a, &b) == 2)
        printf("%ld\n", (long)rnnmcu_mulhi((int32_t)a, (int32_t)b));
    return 0;
}
"""


def test_soft_mulhi_is_the_high_word_of_the_64_bit_product(tmp_path: Path, c_compilers, seed) -> None:
    exe = _compile(c_compilers, tmp_path, "mulhi", MULHI_DRIVER, soft_mulhi=True)
    edges = [-2 ** 31, -2 ** 31 + 1, -65536, -65535, -32769, -32768, -1, 0, 1, 32767, 32768, 65535, 65536,
             2 ** 31 - 1]
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a in edges for b in edges] + \
        [tuple(map(int, rng.integers(-2 ** 31, 2 ** 31, 2))) for _ in range(5000)]
    res = subprocess.run([str(exe)], input="".join(f"{a} {b}\n" for a, b in pairs),
                         capture_output=True, text=True, check=True)
    got = [int(v) for v in res.stdout.split()]
    assert got == [(a * b) >> 32 for a, b in pairs]
    assert res.stderr == ""  # UBSan: no partial sum overflows


def test_zero_multiplier_takes_the_no_preshift_path() -> None:
    assert quantize.quantize_multiplier(0.0) == (0, 33)


def _degenerate_model(cell: str, rng: np.random.Generator) -> ir.Model:
    layer = random_recurrent(rng, cell, 3, 8)
    layer.W = layer.W * 1e4  # weights enormous next to what the calibration data will show
    dense = ir.Dense(W=rng.normal(0, 1e4, (2, 8)), b=np.array([1e9, -1e9]))
    return ir.Model(name="degen", input_dim=3, layers=[layer, dense],
                    norm_mean=np.zeros(3), norm_std=np.ones(3))


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru", "peephole_lstm", "peephole_gru"])
@pytest.mark.parametrize("precision", ["int8", "int16"])
def test_degenerate_calibration_is_widened_to_the_bounds(cell, precision, seed, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    model = _degenerate_model(cell, rng)
    x = np.zeros((4, 6, 3), np.float32)
    x[0, 0, 0] = 1e-6  # next to nothing reaches the pre-activations during calibration
    q = quantize.quantize(model, x, None, precision)
    check_narrow(q)  # holds by construction
    amax = -act_range(precision)[0]
    rec = q.layers[0]
    for wq, M, sh in ((rec.w, rec.mx, rec.shx), (rec.u, rec.mh, rec.shh)):
        rqb, pre = term_bounds(wq, amax, M, sh)
        assert max(rqb) <= NARROW_TERM and max(pre) < 2 ** 30
    assert np.max(np.abs(q.layers[1].b.astype(np.int64))) <= NARROW_BIAS
    # and the C still equals the integer reference on inputs that drive every sum to its extremes
    xt = rng.normal(0, 3, (3, 5, 3)).astype(np.float32)
    L = np.full(3, 5)
    assert np.array_equal(c_outputs(model, q, xt, L, tmp_path), expected_stream(model, q, xt, L))


def test_generator_refuses_a_model_outside_the_bounds(tmp_path: Path, seed) -> None:
    rng = np.random.default_rng(seed)
    layer = random_recurrent(rng, "lstm", 3, 8)
    model = ir.Model(name="m", input_dim=3, layers=[layer], norm_mean=np.zeros(3), norm_std=np.ones(3))
    q = quantize.quantize(model, rng.normal(0, 1, (4, 6, 3)).astype(np.float32), None, "int8")
    emit.generate(model, q, str(tmp_path / "ok"))
    q.layers[0].b = q.layers[0].b.copy()
    q.layers[0].b[0] = 2 ** 30  # as an older rnnmcu could have written it
    with pytest.raises(QuantizationError, match="re-run `rnnmcu convert`"):
        emit.generate(model, q, str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def _linear_gate_lstm(scale: float) -> tuple[ir.Model, np.ndarray]:
    rng = np.random.default_rng(5)
    layer = random_recurrent(rng, "lstm", 3, 8, recurrent_activation="linear")
    layer.W = layer.W * scale
    model = ir.Model(name="hugegate", input_dim=3, layers=[layer], norm_mean=np.zeros(3), norm_std=np.ones(3))
    return model, rng.normal(0, 2, (4, 6, 3)).astype(np.float32)


@pytest.mark.parametrize("precision", ["int8", "int16"])
def test_lstm_with_no_fractional_gate_bits_takes_the_64_bit_cell_sum(precision, tmp_path: Path) -> None:
    """A linear recurrent activation whose pre-activations reach ~2e4 leaves no fractional gate
    bits (q = 0), the corner where the C's LSTM cell sums f*c + i*g in 64 bits (they may exceed
    int32 unshifted) and every rounding shift by q is a no-op: the C must still equal the integer
    reference there."""
    model, x = _linear_gate_lstm(1.2e3)
    q = quantize.quantize(model, x, None, precision)
    assert q.layers[0].q == 0
    L = np.full(4, 6)
    assert np.array_equal(c_outputs(model, q, x, L, tmp_path), expected_stream(model, q, x, L))


@pytest.mark.parametrize("rec_act,unit_gate", [("sigmoid", 1), ("tanh", 0)])
@pytest.mark.parametrize("precision", ["int8", "int16"])
def test_gru_blend_is_int32_only_for_a_gate_in_zero_one(rec_act, unit_gate, precision, seed, tmp_path: Path) -> None:
    """GRU's h = z*h + (1-z)*h~ is an int32 sum in the C when the recurrent activation's table
    stays in [0, 2^q] (rnnmcu_rnn_q_t.unit_gate); a gate that can be negative (tanh) makes
    (1 - z) up to 2 and the sum may pass 2^31, so it keeps 64 bits.  Large weights drive z, h and
    h~ to their extremes; the C must equal the integer reference either way."""
    rng = np.random.default_rng(seed)
    F = 3
    layer = random_recurrent(rng, "gru", F, 8, recurrent_activation=rec_act, scale=4.0)
    model = ir.Model(name="blend", input_dim=F, layers=[layer], norm_mean=np.zeros(F), norm_std=np.ones(F))
    x = (rng.normal(0, 3, (4, 8, F))).astype(np.float32)
    q = quantize.quantize(model, x, None, precision)
    src = emit.generate_sources(model, q).source
    assert f"{{ RNNMCU_CELL_GRU, 1, {q.layers[0].q}, {q.layers[0].k}, {unit_gate}, " in src
    L = np.full(4, 8)
    assert np.array_equal(c_outputs(model, q, x, L, tmp_path), expected_stream(model, q, x, L))


def test_a_calibration_that_overflows_float32_is_refused_by_name() -> None:
    """An exponential activation fed back on itself overflows float32 during calibration: the
    quantiser names the tensor instead of failing on a NaN multiplier."""
    rng = np.random.default_rng(0)
    layer = random_recurrent(rng, "simple", 2, 4, activation="exponential", scale=3.0)
    model = ir.Model(name="boom", input_dim=2, layers=[layer], norm_mean=np.zeros(2), norm_std=np.ones(2))
    x = np.full((2, 40, 2), 5.0, np.float32)
    with pytest.raises(QuantizationError, match="overflows float32 in layer 0"):
        quantize.quantize(model, x, None, "int8")


def test_a_gate_range_beyond_int16_is_refused() -> None:
    model, x = _linear_gate_lstm(2e4)
    with pytest.raises(QuantizationError, match="recurrent activation 'linear' reaches .* int16 gate") as e:
        quantize.quantize(model, x, None, "int8")
    assert "bounded recurrent_activation" in e.value.hint
