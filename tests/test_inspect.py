"""rnnmcu inspect: the float and the integer reference compared tensor by tensor and step by step
(where a quantised model drifts), and the TRACE debug build whose device intermediates must equal
the integer reference's bit for bit, on the host board and under QEMU."""
from __future__ import annotations

import copy
import json
import struct
import tempfile

import numpy as np
import pytest
from click.testing import CliRunner

from rnnmcu import api, ir
from rnnmcu.codegen import emit, float_ref, inspect, qmodel, qref, quantize
from rnnmcu.data import Dataset, save_npz
from rnnmcu.errors import InputError

from codegen_helpers import random_recurrent
from test_numerics_fidelity import big_c_lstm, slow_gru

T = 120


def test_a_stalled_gru_state_is_where_drift_starts():
    """The int8 GRU whose state is rounded to int8 each step (state16 off) stops short of float:
    the inspector puts the start of the drift in that layer's h, at a step after the start; with the
    16-bit state nothing drifts."""
    model = slow_gru()
    x = np.ones((3, T, 1), np.float32)
    q = quantize.quantize(model, x, None, "int8")
    good = inspect.inspect(model, q, x)
    assert good["drift_starts"] is None and good["tensors"]["0.h"]["max_abs_error"] <= 2 * q.layers[0].s_h
    assert "0.c" in good["tensors"]  # the 16-bit state is a tensor of its own
    q.layers[0].state16 = False
    bad = inspect.inspect(model, q, x)
    ds = bad["drift_starts"]
    assert ds["tensor"] == "0.h" and 0 < ds["step"] < T
    per = bad["tensors"]["0.h"]["per_step"]
    assert len(per["rms_error"]) == T and per["relative_error"][-1] > per["relative_error"][ds["step"] - 1]
    assert bad["tensors"]["0.pre"]["drift_step"] is None       # the pre-activations are fine (U = 0)
    assert "0.c" not in bad["tensors"]


def test_ranges_saturations_and_flips_are_reported():
    rng = np.random.default_rng(0)
    model = ir.Model(name="s", input_dim=2, layers=[random_recurrent(rng, "lstm", 2, 5, return_sequences=True),
                                                    ir.Dense(W=rng.normal(0, 1, (3, 5)), b=np.zeros(3)),
                                                    ir.Softmax(dim=3)])
    x = rng.normal(0, 1, (8, 30, 2)).astype(np.float32)
    q = quantize.quantize(model, x, None, "int8")
    y = x.copy()
    y[2, 7] = 60.0                          # far beyond the calibrated input range
    r = inspect.inspect(model, q, y)
    t = r["tensors"]
    assert t["input"]["used_range"] > t["input"]["calibrated_range"] and t["input"]["saturations"] == 0
    sat = qref.Saturations()
    qref.forward(q, qref.quantize_inputs(q, y), None, all_steps=True, saturations=sat)
    assert r["saturations"] == {k: int(v) for k, v in sat.items()}
    for name, n in sat.items():
        assert t[name]["saturations"] == n and 7 in t[name]["saturation_steps"]
    assert len(r["outputs"]["first_flip"]) == 8 and 0.0 <= r["outputs"]["final_agreement"] <= 1.0
    assert set(t) >= {"input", "0.pre", "0.gate", "0.cand", "0.c", "0.h", "1.pre", "1.out", "2.out"}
    h = t["0.h"]["histogram"]
    assert sum(h["counts"]) == 8 * 30 * 5 and len(h["edges"]) == inspect.HIST_BINS + 1


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru", "peephole_lstm", "peephole_gru"])
def test_trace_layout_is_the_reference_trace(cell):
    """Every traced tensor of a layer, in trace_layout's order and widths, is what the integer
    reference records under that name."""
    rng = np.random.default_rng(1)
    model = ir.Model(name="t", input_dim=3, layers=[random_recurrent(rng, cell, 3, 4, return_sequences=True),
                                                    ir.Dense(W=rng.normal(0, 1, (2, 4)), b=np.zeros(2)),
                                                    ir.Activation(activation="tanh", dim=2)])
    x = rng.normal(0, 1, (2, 5, 3)).astype(np.float32)
    for precision in ("int8", "int16"):
        q = quantize.quantize(model, x, None, precision)
        tr = float_ref.Trace()
        qref.forward(q, qref.quantize_inputs(q, x), None, all_steps=True, trace=tr)
        for i, ql in enumerate(q.layers):
            at = 0
            for name, off, count in inspect.trace_layout(ql):
                assert off == at and tr.tensors[f"{i}.{name}"].shape[-1] == count, (precision, i, name)
                at += count


def test_cli_inspect_prints_a_table_json_and_a_plot(tmp_path):
    rng = np.random.default_rng(2)
    model = ir.Model(name="cli", input_dim=2, layers=[random_recurrent(rng, "gru", 2, 4),
                                                      ir.Dense(W=rng.normal(0, 1, (3, 4)), b=np.zeros(3))])
    x = rng.normal(0, 1, (6, 20, 2)).astype(np.float32)
    qmodel.save(str(tmp_path / "m.rnnmcu"), model, quantize.quantize(model, x, None, "int8"))
    save_npz(tmp_path / "d.npz", Dataset(x=x))
    from rnnmcu.cli import main

    r = CliRunner().invoke(main, ["inspect", str(tmp_path / "m.rnnmcu"), "--data", str(tmp_path / "d.npz"),
                                  "--plot", str(tmp_path / "p.png")])
    assert r.exit_code == 0, r.output
    assert "0.h" in r.output and "drift starts" in r.output and "final class agrees" in r.output
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = CliRunner().invoke(main, ["inspect", str(tmp_path / "m.rnnmcu"), "--data", str(tmp_path / "d.npz"),
                                  "--json", "--max-seqs", "3"])
    doc = json.loads(r.stdout)
    assert doc["sequences"] == 3 and len(doc["tensors"]["0.h"]["per_step"]["rms_error"]) == 20
    f32 = tmp_path / "f.rnnmcu"
    qmodel.save(str(f32), model, quantize.quantize(model, x, None, "float32"))
    r = CliRunner().invoke(main, ["inspect", str(f32), "--data", str(tmp_path / "d.npz")])
    assert r.exit_code == 2 and "float32" in r.output and "next:" in r.output


def trace_models():
    """Every traced kernel path: a Dense first layer on 16-bit inputs, the peephole LSTM, the
    untiled GRU (int8 inputs), a softmax; the tiled GRU with its 16-bit state, SimpleRNN; an int16
    LSTM whose table of c is shifted."""
    rng = np.random.default_rng(3)
    a = ir.Model(name="tra", input_dim=3, layers=[
        ir.Dense(W=rng.normal(0, 0.6, (4, 3)), b=rng.normal(0, 0.1, 4), activation="tanh"),
        random_recurrent(rng, "peephole_lstm", 4, 5, return_sequences=True),
        random_recurrent(rng, "gru", 5, 4, reset_after=False),
        ir.Dense(W=rng.normal(0, 1, (3, 4)), b=np.zeros(3)), ir.Softmax(dim=3)])
    b = ir.Model(name="trb", input_dim=3, layers=[
        random_recurrent(rng, "gru", 3, 18, return_sequences=True),  # two unit tiles
        random_recurrent(rng, "simple", 18, 4), ir.Dense(W=rng.normal(0, 1, (2, 4)), b=np.zeros(2))])
    c = big_c_lstm()
    x = rng.normal(0, 1, (3, 12, 3)).astype(np.float32)
    xc = np.random.default_rng(4).normal(0, 1, (3, 40, 2)).astype(np.float32)
    return [(a, "int8", x), (b, "int8", x), (c, "int16", xc)]


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", pytest.param("qemu-m4", marks=pytest.mark.emulator)])
def test_device_intermediates_are_bit_exact(board):
    for model, precision, x in trace_models():
        q = quantize.quantize(model, x, None, precision)
        rep = api.device_trace(model, q, x, None, board=board, max_seqs=2)
        assert rep["bit_exact"], {k: v for k, v in rep["tensors"].items() if v["mismatches"]}
        assert rep["values_checked"] > 0 and rep["steps"] == 2 * x.shape[1]
        assert all(v["values_checked"] > 0 for v in rep["tensors"].values())
    assert q.layers[0].cs > 0


@pytest.mark.slow
def test_a_device_that_differs_is_named_by_layer_tensor_and_step(tmp_path):
    """The device runs q; the reference the host holds has one candidate bias moved by one LSB
    (the hash kept): the first difference is that unit's candidate pre-activation at step 0."""
    model, precision, x = trace_models()[1]
    q = quantize.quantize(model, x, None, precision)
    other = copy.deepcopy(q)
    n = other.layers[0].units
    other.layers[0].b[2 * n + 3] += 1
    xq = qref.quantize_inputs(q, x[:1])
    with tempfile.TemporaryDirectory() as work:
        with api._device_for("host", model, q, work, None, trace=True) as dev:
            assert dev.sync().traces
            rep = api.compare_trace(dev, other, xq, np.array([x.shape[1]]))
    assert not rep["bit_exact"]
    m = rep["tensors"]["0.pre"]["first_mismatch"]
    assert (m["sequence"], m["step"], m["index"]) == (0, 0, 2 * n + 3) and m["got"] == m["expected"] - 1


def test_trace_builds_refuse_what_they_cannot_trace(tmp_path):
    rng = np.random.default_rng(5)
    bi = ir.Model(name="bi", input_dim=2, layers=[ir.Bidirectional(
        forward=random_recurrent(rng, "gru", 2, 3), backward=random_recurrent(rng, "gru", 2, 3, go_backwards=True))])
    x = rng.normal(0, 1, (2, 6, 2)).astype(np.float32)
    with pytest.raises(InputError, match="whole windows"):
        emit.generate_sources(bi, quantize.quantize(bi, x, None, "int8"), trace=True)
    with pytest.raises(InputError, match="whole windows"):
        api.device_trace(bi, quantize.quantize(bi, x, None, "int8"), x, None, board="host")
    m = ir.Model(name="f", input_dim=2, layers=[random_recurrent(rng, "gru", 2, 3)])
    with pytest.raises(InputError, match="float32"):
        emit.generate_sources(m, quantize.quantize(m, x, None, "float32"), trace=True)
    # a normal build has no hooks in its model code, a TRACE build names the layers
    q = quantize.quantize(m, x, None, "int8")
    assert "RNNMCU_TRACE" not in emit.generate_sources(m, q).source
    assert "RNNMCU_TRACE_LAYER(0);" in emit.generate_sources(m, q, trace=True).source


def test_trace_payload_and_reply_codec():
    from rnnmcu.hil import codec
    from rnnmcu.hil.codec import ProtocolError

    assert codec.trace_payload(3, np.array([1, -2], np.int16)) == b"\x03\x01\x00\xfe\xff"
    vals = codec.parse_trace(struct.pack("<H", 2) + np.array([7, -9], "<i2").tobytes())
    assert vals.dtype == np.int16 and vals.tolist() == [7, -9]
    with pytest.raises(ProtocolError):
        codec.parse_trace(struct.pack("<H", 3) + b"\x00\x00")
