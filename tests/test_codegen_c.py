"""Generated C against the references, over the layer/option/activation matrix (no TensorFlow):
int8/int16 C must equal the integer reference bit for bit, float32 C must be within 1e-5 of the
float reference.  The C runs under ASan/UBSan."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnnmcu import ir
from rnnmcu.codegen import emit, layout, quantize

from codegen_helpers import RUNTIME, STRICT, c_outputs, expected_stream, random_recurrent, sensor_data

ACTS = list(ir.ELEMENTWISE)


@st.composite
def models(draw, wide_layers: bool = False):
    """A random model; ``wide_layers``: recurrent layers of several unit tiles (RNNMCU_TILE_UNITS:
    16 units of an LSTM or a GRU, 64 of a SimpleRNN), with a part tile."""
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    F = draw(st.integers(1, 7))
    n_rec = draw(st.integers(1, 2))
    layers: list = []
    d = F
    for i in range(n_rec):
        cell = draw(st.sampled_from(["simple", "lstm", "gru", "peephole_lstm", "peephole_gru"]))
        n = draw(st.integers(17, 45) | st.integers(65, 70)) if wide_layers else draw(st.integers(1, 12))
        last = i == n_rec - 1
        opts = dict(return_sequences=(not last) or draw(st.booleans()),
                    reset_after=draw(st.booleans()), use_bias=draw(st.booleans()),
                    activation=draw(st.sampled_from(ACTS)) if draw(st.booleans()) else "tanh",
                    recurrent_activation=draw(st.sampled_from(["sigmoid", "hard_sigmoid", "tanh", "sparse_sigmoid"])))
        if draw(st.integers(0, 3)) == 0:  # Bidirectional, any merge mode
            mode = draw(st.sampled_from(list(ir.MERGE_MODES)))
            fw = random_recurrent(rng, cell, d, n, **opts)
            bw = random_recurrent(rng, cell, d, n, go_backwards=True, **opts)
            layers.append(ir.Bidirectional(forward=fw, backward=bw, merge_mode=mode))
            d = layers[-1].output_dim
        else:
            layers.append(random_recurrent(rng, cell, d, n, go_backwards=draw(st.booleans()) and draw(st.booleans()),
                                           **opts))
            d = n
    head = draw(st.sampled_from(["none", "dense", "dense_softmax", "dense_act", "act"]))
    if head.startswith("dense"):
        k = draw(st.integers(1, 6))
        layers.append(ir.Dense(W=rng.normal(0, 0.7, (k, d)), b=rng.normal(0, 0.1, k),
                               activation=draw(st.sampled_from(ACTS)) if head == "dense_act" else "linear"))
        d = k
        if head == "dense_softmax":
            layers.append(ir.Softmax(dim=d))
    elif head == "act":
        layers.append(ir.Activation(activation=draw(st.sampled_from(ACTS)), dim=d))
    mask = rng.normal(0, 1, F) if draw(st.booleans()) and draw(st.booleans()) else None
    mean, std = rng.normal(0, 2, F), rng.uniform(0.3, 4, F)
    # a folded BatchNormalization (x -> a x + c per feature, gamma of either sign) in front of
    # layer `at`: in the input standardisation (at 0: std may turn negative), backwards into a
    # linear Dense, or forwards into the next weight layer, as the importer folds it.  Drawn from
    # the example's own generator, after everything else, so the examples are those drawn before.
    at = int(rng.integers(-len(layers) - 1, len(layers) + 1))
    if at >= 0:
        d_at = F if at == 0 else layers[at - 1].output_dim
        a, c = rng.normal(0, 1.5, d_at) * rng.choice([1.0, 10.0, 0.1], d_at), rng.normal(0, 2, d_at)
        if at == 0:
            mean, std = ir.fold_affine_input(mean, std, a, c)
        elif isinstance(layers[at - 1], ir.Dense) and layers[at - 1].activation == "linear":
            layers[at - 1] = ir.fold_affine_after(layers[at - 1], a, c)
        elif at < len(layers) and isinstance(layers[at], (ir.Dense, ir.Recurrent, ir.Bidirectional)):
            layers[at] = ir.fold_affine_into(layers[at], a, c)
    model = ir.Model(name="m", input_dim=F, layers=layers, norm_mean=mean, norm_std=std, mask_value=mask)
    return model, seed, draw(st.booleans())


@pytest.mark.slow
@settings(max_examples=40)
@given(models(), st.sampled_from(["int8", "int16", "float32"]), st.booleans())
def test_c_matches_reference(tmp_path_factory, spec, precision, wide):
    model, seed, variable = spec
    wide = wide and precision != "float32"  # the int16 weight layout (--wide-weights)
    rng = np.random.default_rng(seed + 1)
    x, L = sensor_data(rng, model, 6, 12, variable)
    if model.mask_value is not None:  # make some steps padding/masked
        x[rng.random(x.shape[:2]) < 0.2] = model.mask_value
    try:
        q = quantize.quantize(model, x, L, precision)
    except quantize.QuantizationError as exc:
        # an exponential activation can drive the calibration run to (or past) float32's range;
        # the quantiser refuses such a model with a message and a next step, and it has no
        # integer form to compare
        assert exc.hint, exc
        assume(False)
    got = c_outputs(model, q, x, L, tmp_path_factory.mktemp("c"), wide=wide)
    with np.errstate(over="ignore", invalid="ignore"):  # a float32 run past float's range: assumed away below
        exp = expected_stream(model, q, x, L if L is not None else np.full(len(x), x.shape[1]))
    assert got.shape == exp.shape
    # float32 values near its limit (3.4e38) lose their last digits to the order of operations;
    # the comparison below is about the computation, not float32's edge
    assume(precision != "float32" or bool(np.all(np.abs(exp) < 1e30)))  # NaN fails this too
    if precision == "float32":
        np.testing.assert_allclose(got, exp, atol=1e-5, rtol=1e-5)
    else:
        bad = np.nonzero(got != exp)[0]
        assert bad.size == 0, f"{bad.size} values differ, first at flat index {bad[0]}: C {got[bad[0]]} ref {exp[bad[0]]}"


@pytest.mark.parametrize("cell,reset_after", [("simple", True), ("lstm", True), ("peephole_lstm", True),
                                               ("gru", True), ("peephole_gru", True), ("gru", False)])
def test_tiled_steps_match_reference(tmp_path_factory, cell, reset_after):
    """A step runs over tiles of units with its rows stored unit-major (emit.tile_order): 37 units
    of an LSTM or a GRU (70 of a SimpleRNN) are whole tiles and a part tile whose rows end inside
    a block of 4, in both widths and both weight layouts, bit-exact with the reference; a stacked
    layer reads the first one's output, so W's tiles span several column chunks too."""
    rng = np.random.default_rng(37)
    n = 70 if cell == "simple" else 37
    layers = [random_recurrent(rng, cell, 5, n, reset_after=reset_after, return_sequences=True),
              random_recurrent(rng, cell, n, 21, reset_after=reset_after)]
    model = ir.Model(name="m", input_dim=5, layers=layers, norm_mean=np.zeros(5), norm_std=np.ones(5))
    x, L = sensor_data(rng, model, 4, 9, True)
    for precision in ("int8", "int16"):
        q = quantize.quantize(model, x, L, precision)
        exp = expected_stream(model, q, x, L)
        for wide in (False, True):
            got = c_outputs(model, q, x, L, tmp_path_factory.mktemp("tiles"), wide=wide)
            assert got.shape == exp.shape and np.array_equal(got, exp), (precision, wide)


def test_lstm_with_no_gate_fraction_bits_matches_reference(tmp_path_factory):
    """A recurrent activation with a huge range (relu on large weights) leaves the gates no
    fractional bits (q = 0): the LSTM cell update then sums its products in 64 bits
    (rnnmcu_lstm_c64, out of line), bit-exact with the reference in both widths."""
    checked = []
    for scale in np.geomspace(20, 30, 5):
        rng = np.random.default_rng(1)
        layer = random_recurrent(rng, "lstm", 4, 6, recurrent_activation="relu", scale=float(scale))
        model = ir.Model(name="m", input_dim=4, layers=[layer], norm_mean=np.zeros(4), norm_std=np.ones(4))
        x, L = sensor_data(rng, model, 3, 3, False)
        for precision in ("int8", "int16"):
            try:
                q = quantize.quantize(model, x, L, precision)
            except quantize.QuantizationError:  # beyond even q = 0: refused, with a next step
                continue
            if q.layers[0].q != 0:
                continue
            got = c_outputs(model, q, x, L, tmp_path_factory.mktemp("q0"))
            assert np.array_equal(got, expected_stream(model, q, x, L)), (scale, precision)
            checked.append(precision)
    assert set(checked) == {"int8", "int16"}, checked


@pytest.mark.parametrize("cell", ["simple", "lstm", "peephole_lstm", "gru", "peephole_gru"])
def test_plain_steps_match_tiled(tmp_path_factory, cell):
    """The readable reference steps (rnnmcu_rnn_step_plain.c: untiled, one unit at a time) give the
    tiled steps' outputs bit for bit: the generated model is built with its calls of the tiled
    step renamed to the plain one, over several tiles and a part tile, in both widths (an int8
    GRU's 16-bit state included)."""
    rng = np.random.default_rng(41)
    n = 70 if cell == "simple" else 37
    layers = [random_recurrent(rng, cell, 5, n, return_sequences=True), random_recurrent(rng, cell, n, 19)]
    model = ir.Model(name="m", input_dim=5, layers=layers, norm_mean=np.zeros(5), norm_std=np.ones(5))
    x, L = sensor_data(rng, model, 4, 9, True)
    kind = {"simple": "simple", "lstm": "lstm", "peephole_lstm": "peephole_lstm"}.get(cell, "gru")
    plain = "lstm" if kind == "peephole_lstm" else kind
    for precision in ("int8", "int16"):
        q = quantize.quantize(model, x, L, precision)
        sfx = "s8" if precision == "int8" else "s16"
        work = tmp_path_factory.mktemp("plain")
        tiled = c_outputs(model, q, x, L, work / "tiled")
        renamed = (f"rnnmcu_{kind}_step_{sfx}=rnnmcu_{plain}_step_plain_{sfx}",)
        got = c_outputs(model, q, x, L, work / "plain", defines=renamed)
        # the plain step did run: the generated model calls the step the define renames
        assert f"rnnmcu_{kind}_step_{sfx}(" in "".join(p.read_text() for p in (work / "plain" / "gen").glob("*.c"))
        assert np.array_equal(got, tiled), precision
        assert np.array_equal(got, expected_stream(model, q, x, L)), precision


@pytest.mark.parametrize("cell", ["simple", "lstm", "peephole_lstm", "gru", "peephole_gru"])
def test_input_projections_match_reference(tmp_path_factory, cell):
    """run() computing the first layer's W x a block of steps at a time (--input-projections)
    gives the outputs of the plain step, bit for bit: every tiled cell form, int8 and int16,
    both weight layouts, windows of 1 to 23 steps against blocks of 1, 5 and 8 (a part block at
    the end), a stacked layer over it, and a model that returns its whole sequence."""
    rng = np.random.default_rng(41)
    n = 70 if cell == "simple" else 37
    seq_out = cell in ("simple", "gru")
    layers = [random_recurrent(rng, cell, 5, n, return_sequences=True),
              random_recurrent(rng, "lstm", n, 9, return_sequences=seq_out)]
    model = ir.Model(name="m", input_dim=5, layers=layers, norm_mean=np.zeros(5), norm_std=np.ones(5))
    x, L = sensor_data(rng, model, 4, 23, True)
    L[0], L[1] = 1, 23
    for precision, wide, B in (("int8", False, 8), ("int8", True, 5), ("int16", False, 1), ("int16", True, 8)):
        q = quantize.quantize(model, x, L, precision)
        exp = expected_stream(model, q, x, L)
        got = c_outputs(model, q, x, L, tmp_path_factory.mktemp("proj"), wide=wide, proj_steps=B)
        assert got.shape == exp.shape and np.array_equal(got, exp), (precision, wide, B)


def test_input_projections_state_and_flags():
    """The block's buffer is B x G x units words of state, B no longer than the longest window;
    the binding tells the app's BENCH to time run(), the path this build is for; step() is the
    plain one."""
    rng = np.random.default_rng(2)
    model = ir.Model(name="m", input_dim=6, layers=[random_recurrent(rng, "lstm", 6, 32)])
    q = quantize.quantize(model, rng.normal(0, 1, (4, 20, 6)).astype(np.float32), None, "int8")
    g = emit.generate_sources(model, q, proj_steps=8)
    assert "int32_t proj[1024];" in g.header and "RNNMCU_M_INPUT_PROJECTIONS 8 " in g.header
    assert "RNNMCU_MODEL_BENCH_RUN" in g.binding and ".step = rnnmcu_app_step" in g.binding
    # an int8 model takes 16-bit inputs: run()'s projections are the int16 product, and step()
    # multiplies them in the int16 kernel within its tiles (step_x16)
    assert q.input_bits == 16 and "typedef int16_t m_input_t;" in g.header
    assert "rnnmcu_rnn_proj_s16(&m_l0" in g.source and "rnnmcu_lstm_step_px_s8(&m_l0, px," in g.source
    assert "rnnmcu_lstm_step_x16_s8(&m_l0, x," in g.source
    assert "int32_t proj[6400];" in emit.generate_sources(model, q, max_steps=50, proj_steps=4096).header
    plain = emit.generate_sources(model, q)
    assert "proj[" not in plain.header and "BENCH_RUN" not in plain.binding
    assert "RNNMCU_MODEL_INPUT16" in plain.binding and ".in_elem_size = 2," in plain.binding
    assert "RNNMCU_MODEL_BENCH_RUN" in emit.generate_sources(model, q, bench_run=True).binding
    assert "RNNMCU_M_INPUT_PROJECTIONS 0 " in plain.header
    # int16: the inputs are the activations' own type; step() keeps the plain kernel
    q16 = quantize.quantize(model, rng.normal(0, 1, (4, 20, 6)).astype(np.float32), None, "int16")
    g16 = emit.generate_sources(model, q16, proj_steps=8)
    assert "rnnmcu_rnn_proj_s16(&m_l0" in g16.source and "rnnmcu_lstm_step_s16(&m_l0, x," in g16.source
    assert "proj[" not in emit.generate_sources(model, q16).header


def test_tile_order_and_scratch():
    """Row G*j + g of a tiled layer's arrays is gate g of unit j; the untiled GRU form and float
    keep the whole layer's sums in scratch, a tiled one two tiles' and the new h of the units before the last tile."""
    assert list(emit.tile_order(3, 2)) == [0, 2, 4, 1, 3, 5]
    assert list(emit.tile_order(1, 3)) == [0, 1, 2]
    rng = np.random.default_rng(1)
    lstm = random_recurrent(rng, "lstm", 6, 128)
    gru0 = random_recurrent(rng, "gru", 6, 128, reset_after=False)
    assert emit.scratch_words(lstm, "int8") == 2 * 4 * 16 + 112 // 4
    assert emit.scratch_words(lstm, "int16") == 2 * 4 * 16 + 112 // 2
    assert emit.scratch_words(random_recurrent(rng, "simple", 6, 5), "int8") == 2 * 5  # one tile: no new h
    assert emit.scratch_words(random_recurrent(rng, "simple", 6, 67), "int16") == 2 * 64 + 2
    assert emit.scratch_words(random_recurrent(rng, "gru", 6, 128), "int8") == 2 * 3 * 16 + 112 // 4
    assert [layout.tile_units(g) for g in (1, 3, 4)] == [64, 16, 16]
    assert emit.scratch_words(lstm, "float32") == 2 * 4 * 128 + 128
    assert emit.scratch_words(gru0, "int8") == 2 * 3 * 128 + 128
    # the C and the generator share the tile size (rnnmcu/facts.py; tests/test_house.py compiles it)
    assert f"#define RNNMCU_TILE_ROWS {layout.TILE_ROWS}u" in (RUNTIME / "rnnmcu_facts.h").read_text()


@pytest.mark.slow
@settings(max_examples=15)
@given(models(wide_layers=True), st.sampled_from(["int8", "int16"]), st.booleans())
def test_c_matches_reference_over_unit_tiles(tmp_path_factory, spec, precision, wide):
    """The integer steps over several unit tiles (the float kernels have no tiles, and float32
    sums over such wide layers drift past the 1e-5 above from the reference's order alone)."""
    test_c_matches_reference.hypothesis.inner_test(tmp_path_factory, spec, precision, wide)


def _sample_model(precision: str, cell: str, window: bool):
    rng = np.random.default_rng(3)
    layers = [random_recurrent(rng, cell, 4, 8, return_sequences=True, go_backwards=window),
              random_recurrent(rng, cell, 8, 8),
              ir.Dense(W=rng.normal(0, 1, (3, 8)), b=np.zeros(3)), ir.Softmax(dim=3)]
    model = ir.Model(name="sample", input_dim=4, layers=layers)
    x = rng.normal(0, 1, (4, 10, 4)).astype(np.float32)
    return model, quantize.quantize(model, x, None, precision)


CROSS = {
    "gcc": [],
    "clang": [],
    "arm": ["-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "riscv": ["-march=rv32imc", "-mabi=ilp32", "--specs=picolibc.specs"],
    "xtensa": ["-mlongcalls", "-mtext-section-literals"],
}


@pytest.mark.parametrize("compiler", sorted(CROSS))
def test_generated_c_builds_strict_on_every_compiler(c_compilers, tmp_path, compiler):
    """Runtime + generated model compile with -std=c99 -Wall -Wextra -Werror -pedantic (the
    integer LSTM with run() computing input projections, the SimpleRNN without).  The runtime
    includes no generated header, so it compiles once; each model's files compile on their own."""
    from concurrent.futures import ThreadPoolExecutor

    cc = c_compilers[compiler]
    jobs = [(src, "runtime") for src in sorted(RUNTIME.glob("*.c"))]
    for precision, wide in (("int8", False), ("int16", False), ("float32", False), ("int8", True), ("int16", True)):
        for cell, window in (("lstm", False), ("gru", True), ("simple", False)):
            model, q = _sample_model(precision, cell, window)
            gen = tmp_path / f"{precision}-{cell}-{int(wide)}"
            proj = 8 if cell == "lstm" and precision != "float32" else 0  # run() with input projections
            emit.generate(model, q, str(gen), wide=wide, proj_steps=proj)
            jobs += [(src, f"{precision} {cell} wide={wide}") for src in sorted(gen.glob("*.c"))]

    def build(job):
        src, what = job
        obj = tmp_path / f"{abs(hash(str(src)))}.o"
        return job, subprocess.run([cc, *STRICT, "-O2", *CROSS[compiler], "-I", str(src.parent), "-I", str(RUNTIME),
                                    "-c", str(src), "-o", str(obj)], capture_output=True, text=True)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for (src, what), r in pool.map(build, jobs):
            assert r.returncode == 0, f"{compiler} {what} {src.name}:\n{r.stderr}"
    assert len(jobs) > len(list(RUNTIME.glob("*.c"))) + 15


def test_window_model_has_no_step_function():
    model, q = _sample_model("int8", "lstm", window=True)
    g = emit.generate_sources(model, q)
    assert "int sample_step(" not in g.header and "_WINDOW_ONLY 1" in g.header
    assert ".step = 0" in g.binding and "RNNMCU_MODEL_WINDOW_ONLY" in g.binding


def test_generated_files_carry_banner_hash_and_precision():
    model, q = _sample_model("int16", "gru", window=False)
    g = emit.generate_sources(model, q)
    for text in (g.header, g.source, g.binding):
        assert text.startswith("/* Generated by rnnmcu") and q.hash in text and "int16" in text
    assert f"RNNMCU_SAMPLE_HASH 0x{q.hash[:8]}u" in g.header
