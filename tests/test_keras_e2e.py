"""Random Keras models over the layer/option/activation matrix, end to end through the public API:
Keras -> import -> convert -> generated C.

* int8 / int16: the firmware on the ``host`` board, driven over the serial protocol by
  ``rnnmcu.api.hil_test``, answers every STEP and RUN bit-exactly like the integer reference.
* float32: the generated C is within 1e-5 of Keras itself.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras  # noqa: E402  (installed by make setup: missing is a setup bug, never a skip)

from rnnmcu import api, ir  # noqa: E402
from rnnmcu.codegen import qmodel  # noqa: E402
from rnnmcu.data import Dataset, save_npz  # noqa: E402

from codegen_helpers import c_outputs, keras_on_lengths  # noqa: E402

pytestmark = [pytest.mark.keras, pytest.mark.slow]

from rnnmcu.trainer.cells import PeepholeGRU, PeepholeLSTM  # noqa: E402

L = keras.layers
CELLS = {"rnn": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU, "plstm": PeepholeLSTM, "pgru": PeepholeGRU}
ACTS = [a for a in ir.ELEMENTWISE if a != "exponential"] + ["swish", "hard_swish"]
# Recurrent activations are drawn from the bounded ones: an unbounded recurrence (linear, relu, ...)
# of random weights grows without limit over the steps, and two float32 implementations then differ
# by more than 1e-5 however exact each is.  Unbounded activations are covered in the recurrence by
# tests/test_codegen_c.py (against the float64 reference) and in heads here.
BOUNDED = ["tanh", "sigmoid", "hard_sigmoid", "softsign", "hard_tanh", "sparse_sigmoid", "relu6"]


@st.composite
def specs(draw):
    F = draw(st.integers(1, 5))
    layers = []
    n_rec = draw(st.integers(1, 2))
    backwards = False
    for i in range(n_rec):
        kind = draw(st.sampled_from(sorted(CELLS)))
        last = i == n_rec - 1
        bidi = draw(st.sampled_from([None, None, "concat", "sum", "mul", "ave"]))
        gb = bidi is None and draw(st.booleans()) and draw(st.booleans())
        backwards |= gb or bidi is not None
        opts = dict(units=draw(st.integers(1, 10)), return_sequences=(not last) or draw(st.booleans()),
                    go_backwards=gb, use_bias=draw(st.booleans()),
                    activation=draw(st.sampled_from(BOUNDED)) if draw(st.booleans()) else "tanh")
        if kind != "rnn":
            opts["recurrent_activation"] = draw(st.sampled_from(["sigmoid", "hard_sigmoid", "tanh", "relu6"]))
        if kind in ("gru", "pgru"):
            opts["reset_after"] = draw(st.booleans())
        layers.append((kind, opts, bidi))
    head = draw(st.sampled_from(["dense", "softmax", "td", "activation", "none"]))
    return dict(F=F, layers=layers, head=head, classes=draw(st.integers(2, 5)),
                dense_act=draw(st.sampled_from(ACTS)), norm=draw(st.booleans()),
                mask=not backwards and draw(st.booleans()), dropout=draw(st.booleans()),
                seed=draw(st.integers(0, 10_000)))


def build(spec, x):
    keras.utils.set_random_seed(spec["seed"])
    layers = [keras.Input((None, spec["F"]))]
    if spec["mask"]:
        layers.append(L.Masking(mask_value=0.0))
    if spec["norm"]:
        norm = L.Normalization()
        norm.adapt(x.reshape(-1, spec["F"]))
        layers.append(norm)
    for kind, opts, bidi in spec["layers"]:
        rnn = CELLS[kind](**opts)
        layers.append(rnn if bidi is None else L.Bidirectional(rnn, merge_mode=bidi))
        if spec["dropout"]:
            layers.append(L.Dropout(0.3))
    seq = spec["layers"][-1][1]["return_sequences"]
    if spec["head"] == "dense":
        layers.append(L.Dense(spec["classes"], activation=spec["dense_act"]))
    elif spec["head"] == "softmax":
        layers.append(L.Dense(spec["classes"], activation="softmax"))
    elif spec["head"] == "td" and seq:
        layers.append(L.TimeDistributed(L.Dense(spec["classes"])))
    elif spec["head"] == "activation":
        layers.append(L.Activation(spec["dense_act"]))
    return keras.Sequential(layers)


def sensor_data(spec, rng, n=8, T=10):
    F = spec["F"]
    x = (rng.normal(0, 1, (n, T, F)) * rng.uniform(0.5, 4, F) + rng.normal(0, 3, F)).astype(np.float32)
    lengths = rng.integers(2, T + 1, n)
    if spec["mask"]:
        for b in range(n):
            x[b, lengths[b]:] = 0.0  # post-padding, skipped by Masking
        return x, lengths
    return x, lengths


@settings(max_examples=16)
@given(specs())
def test_keras_model_end_to_end(tmp_path_factory, spec):
    tmp = tmp_path_factory.mktemp("e2e")
    rng = np.random.default_rng(spec["seed"])
    x, lengths = sensor_data(spec, rng)
    km = build(spec, x)
    km.save(tmp / "m.keras")
    save_npz(tmp / "d.npz", Dataset(x=x, lengths=lengths))

    # float32: generated C against Keras itself
    s = api.convert(str(tmp / "m.keras"), str(tmp / "d.npz"), "float32", str(tmp / "f.rnnmcu"))
    model, q = qmodel.load(str(tmp / "f.rnnmcu"))
    got = c_outputs(model, q, x, lengths, tmp / "f32")
    ref = keras_on_lengths(km, x, lengths)
    # the driver prints, per sequence, the step outputs (streaming models) then the run output
    pos, D = 0, model.output_dim
    for b in range(len(x)):
        n = int(lengths[b])
        if not model.needs_window:
            pos += n * D
        k = n * D if model.output_sequence else D
        c_run = got[pos:pos + k]
        pos += k
        want = ref[b, :n].ravel() if model.output_sequence else ref[b]
        np.testing.assert_allclose(c_run, want, atol=1e-5, rtol=1e-5, err_msg=f"sequence {b}, {s['layers']}")
    assert pos == got.size

    # int8 / int16: the host-board firmware over the protocol, bit for bit
    for precision in ("int8", "int16"):
        path = str(tmp / f"{precision}.rnnmcu")
        api.convert(str(tmp / "m.keras"), str(tmp / "d.npz"), precision, path)
        rep = api.hil_test("host", path, str(tmp / "d.npz"), bench_repeats=0,
                           junit=str(tmp / f"{precision}.xml"), report=str(tmp / f"{precision}.json"))
        assert rep["passed"], rep.get("mismatches", rep)[:5]
        assert rep["summary"]["mismatches"] == 0 and rep["summary"]["values_checked"] > 0
