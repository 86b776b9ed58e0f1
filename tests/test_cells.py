"""The project's Keras cells (rnnmcu.trainer.cells): the forward pass against an independent
numpy loop written from the docstring equations (on Keras' weight layout, not the IR's) and
against the project's float reference through the importer; configuration and saving (a saved
model loads in a fresh process with no custom objects); gradients; and a small memory task."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json
import subprocess
import sys

import numpy as np
import pytest

import keras  # noqa: E402  (installed by make setup: missing is a setup bug, never a skip)

from rnnmcu.codegen.float_ref import forward  # noqa: E402
from rnnmcu.trainer.cells import PeepholeGRU, PeepholeGRUCell, PeepholeLSTM, PeepholeLSTMCell  # noqa: E402
from rnnmcu.trainer.keras_import import import_model  # noqa: E402

L = keras.layers
pytestmark = [pytest.mark.keras,
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]
T, F, B = 8, 3, 3
TOL = 1e-5


def np_(v) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def hard_sigmoid(v):  # Keras 3: relu6(x + 3) / 6
    return np.clip(v / 6.0 + 0.5, 0.0, 1.0)


def ref_lstm(x, cell, act=np.tanh, rec=sigmoid):
    """Peephole LSTM over one sequence x (T, F), Keras layout, step by step; (T, units)."""
    k, rk, p = np_(cell.kernel), np_(cell.recurrent_kernel), np_(cell.peephole_kernel)
    b = np_(cell.bias) if cell.use_bias else np.zeros(k.shape[1])
    n = cell.units
    h, c, out = np.zeros(n), np.zeros(n), []
    for xt in x:
        z = xt @ k + h @ rk + b
        i = rec(z[:n] + p[0] * c)
        f = rec(z[n:2 * n] + p[1] * c)
        g = act(z[2 * n:3 * n])
        c = f * c + i * g
        o = rec(z[3 * n:] + p[2] * c)
        h = o * act(c)
        out.append(h)
    return np.array(out)


def ref_gru(x, cell, act=np.tanh, rec=sigmoid):
    """Peephole GRU over one sequence x (T, F), Keras layout, step by step; (T, units)."""
    k, rk, p = np_(cell.kernel), np_(cell.recurrent_kernel), np_(cell.peephole_kernel)[0]
    n = cell.units
    if not cell.use_bias:
        bi, br = np.zeros(3 * n), np.zeros(3 * n)
    elif cell.reset_after:
        bi, br = np_(cell.bias)
    else:
        bi, br = np_(cell.bias), None
    h, out = np.zeros(n), []
    for xt in x:
        xw = xt @ k + bi
        if cell.reset_after:
            hu = h @ rk + br
            r = rec(xw[n:2 * n] + hu[n:2 * n])
            cand = act(xw[2 * n:] + r * hu[2 * n:])
            z = rec(xw[:n] + hu[:n] + p * cand)
        else:
            r = rec(xw[n:2 * n] + h @ rk[:, n:2 * n])
            cand = act(xw[2 * n:] + (r * h) @ rk[:, 2 * n:])
            z = rec(xw[:n] + h @ rk[:, :n] + p * cand)
        h = z * h + (1.0 - z) * cand
        out.append(h)
    return np.array(out)


def build(layer, seed: int, wscale: float = 0.5):
    keras.utils.set_random_seed(seed)
    km = keras.Sequential([keras.Input((T, F)), layer])
    rng = np.random.default_rng(seed)
    for w in km.trainable_weights:
        w.assign(rng.normal(0.0, wscale, size=tuple(w.shape)).astype("float32"))
    return km


def x_in(seed: int) -> np.ndarray:
    return np.random.default_rng(100 + seed).normal(size=(B, T, F)).astype("float32")


CASES = {
    "lstm": (lambda: PeepholeLSTMCell(4), ref_lstm, {}),
    "lstm_no_bias": (lambda: PeepholeLSTMCell(4, use_bias=False), ref_lstm, {}),
    "lstm_acts": (lambda: PeepholeLSTMCell(4, activation="softsign", recurrent_activation="hard_sigmoid"),
                  ref_lstm, {"act": lambda v: v / (1 + np.abs(v)), "rec": hard_sigmoid}),
    "gru": (lambda: PeepholeGRUCell(4), ref_gru, {}),
    "gru_reset_before": (lambda: PeepholeGRUCell(4, reset_after=False), ref_gru, {}),
    "gru_no_bias": (lambda: PeepholeGRUCell(4, use_bias=False), ref_gru, {}),
    "gru_reset_before_acts": (lambda: PeepholeGRUCell(4, reset_after=False, activation="relu",
                                                      recurrent_activation="hard_sigmoid"),
                              ref_gru, {"act": lambda v: np.maximum(v, 0.0), "rec": hard_sigmoid}),
}


@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_forward_matches_numpy_equations_and_float_ref(case, backwards):
    make, ref, fns = CASES[case]
    rnn = L.RNN(make(), return_sequences=True, go_backwards=backwards)
    km = build(rnn, seed=len(case))
    assert np.abs(np_(rnn.cell.peephole_kernel)).min() > 0  # the peepholes take part
    x = x_in(len(case))
    got = np_(km(x, training=False))
    want = np.stack([ref(xb[::-1] if backwards else xb, rnn.cell, **fns) for xb in x])
    np.testing.assert_allclose(got, want, atol=TOL, rtol=TOL)
    np.testing.assert_allclose(forward(import_model(km), x), want, atol=TOL, rtol=TOL)
    # and the peepholes matter: zeroing them changes the output
    rnn.cell.peephole_kernel.assign(np.zeros(tuple(rnn.cell.peephole_kernel.shape), "float32"))
    assert np.abs(np_(km(x, training=False)) - got).max() > 1e-3


def test_zero_peepholes_equal_keras_cells():
    """With p = 0 the cells are Keras' LSTMCell / GRUCell (same weight layout and order)."""
    x = x_in(0)
    for ours, theirs in [(PeepholeLSTMCell(3), L.LSTMCell(3)),
                         (PeepholeGRUCell(3), L.GRUCell(3)),
                         (PeepholeGRUCell(3, reset_after=False), L.GRUCell(3, reset_after=False))]:
        a = build(L.RNN(ours, return_sequences=True), seed=1)
        b = build(L.RNN(theirs, return_sequences=True), seed=2)
        b.set_weights(a.get_weights()[:3])
        ours.peephole_kernel.assign(np.zeros(tuple(ours.peephole_kernel.shape), "float32"))
        np.testing.assert_allclose(np_(a(x)), np_(b(x)), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# construction and configuration
# ---------------------------------------------------------------------------------------------

def test_weight_shapes_and_initial_biases():
    keras.utils.set_random_seed(0)
    lstm = PeepholeLSTMCell(5)
    lstm.build((None, F))
    assert [tuple(w.shape) for w in lstm.weights] == [(F, 20), (5, 20), (20,), (3, 5)]
    assert [w.name for w in lstm.weights] == ["kernel", "recurrent_kernel", "bias", "peephole_kernel"]
    np.testing.assert_array_equal(np_(lstm.bias), np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    assert np.abs(np_(lstm.peephole_kernel)).max() > 0
    plain = PeepholeLSTMCell(5, unit_forget_bias=False, bias_initializer="ones",
                             peephole_initializer="zeros")
    plain.build((None, F))
    np.testing.assert_array_equal(np_(plain.bias), np.ones(20))
    assert not np_(plain.peephole_kernel).any()
    gru = PeepholeGRUCell(5)
    gru.build((None, F))
    assert [tuple(w.shape) for w in gru.weights] == [(F, 15), (5, 15), (2, 15), (1, 5)]
    gru2 = PeepholeGRUCell(5, reset_after=False, use_bias=False)
    gru2.build((None, F))
    assert gru2.bias is None
    assert [tuple(w.shape) for w in gru2.weights] == [(F, 15), (5, 15), (1, 5)]


@pytest.mark.parametrize("kw,match", [
    ({"units": 0}, "units"), ({"units": 2.5}, "units"), ({"units": True}, "units"),
    ({"units": 3, "dropout": 1.0}, "dropout"), ({"units": 3, "recurrent_dropout": -0.1}, "recurrent_dropout"),
])
def test_invalid_options(kw, match):
    for cls in (PeepholeLSTMCell, PeepholeGRUCell, PeepholeLSTM, PeepholeGRU):
        with pytest.raises(ValueError, match=match):
            cls(**kw)


def test_configs_round_trip():
    opts = dict(activation="relu", recurrent_activation="hard_sigmoid", use_bias=False,
                kernel_initializer="ones", peephole_initializer="zeros", dropout=0.1,
                recurrent_dropout=0.2, seed=3)
    for obj in (PeepholeLSTMCell(4, unit_forget_bias=False, **opts), PeepholeGRUCell(4, reset_after=False, **opts),
                PeepholeLSTM(4, return_sequences=True, go_backwards=True, unit_forget_bias=False, **opts),
                PeepholeGRU(4, stateful=True, reset_after=False, **opts)):
        cfg = obj.get_config()
        again = type(obj).from_config(cfg)
        assert again.get_config() == cfg
        ser = keras.saving.serialize_keras_object(obj)
        assert ser["registered_name"] == f"rnnmcu>{type(obj).__name__}"
        assert type(keras.saving.deserialize_keras_object(ser)) is type(obj)
    layer = PeepholeGRU(4, reset_after=False, go_backwards=True, name="pg")
    assert isinstance(layer, L.RNN) and type(layer.cell) is PeepholeGRUCell
    assert layer.cell.reset_after is False and layer.go_backwards and layer.units == 4


def test_wrappers_equal_rnn_over_cell():
    x = x_in(5)
    for wrapper, cell in [(PeepholeLSTM(3, return_sequences=True), PeepholeLSTMCell(3)),
                          (PeepholeGRU(3, go_backwards=True), PeepholeGRUCell(3))]:
        a = build(wrapper, seed=5)
        b = build(L.RNN(cell, return_sequences=wrapper.return_sequences, go_backwards=wrapper.go_backwards),
                  seed=5)
        b.set_weights(a.get_weights())
        np.testing.assert_allclose(np_(a(x)), np_(b(x)), atol=1e-6)


def test_dropout_acts_in_training_only():
    x = x_in(6)
    for cls in (PeepholeLSTM, PeepholeGRU):
        km = build(cls(4, dropout=0.5, recurrent_dropout=0.5, return_sequences=True), seed=6)
        ref = build(cls(4, return_sequences=True), seed=6)
        ref.set_weights(km.get_weights())
        np.testing.assert_allclose(np_(km(x, training=False)), np_(ref(x)), atol=1e-6)
        assert np.abs(np_(km(x, training=True)) - np_(ref(x))).max() > 1e-3


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [PeepholeLSTM, PeepholeGRU])
def test_peephole_kernel_gets_gradients(cls):
    import tensorflow as tf

    km = build(cls(4), seed=7)
    km.add(L.Dense(1))
    x = x_in(7)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(km(x, training=True)))
    p = km.layers[0].cell.peephole_kernel
    grads = tape.gradient(loss, km.trainable_variables)
    assert all(g is not None for g in grads)
    g = np_(grads[[v.path for v in km.trainable_variables].index(p.path)])
    assert g.shape == tuple(p.shape)
    assert np.all(np.abs(g).max(axis=1) > 1e-6), g  # every peephole row (i, f, o / z) learns


def _sign_recall(n: int, seed: int, t: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """The label is the sign of the first input; the rest of the window is distracting noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = rng.normal(0.0, 1.0, size=(n, t, 1))
    x[:, 0, 0] = np.where(y == 1, 1.0, -1.0)
    return x.astype("float32"), y.astype("float32")


@pytest.mark.slow
@pytest.mark.parametrize("cls", [PeepholeLSTM, PeepholeGRU])
def test_learns_a_task_that_needs_memory(cls):
    keras.utils.set_random_seed(8)
    x, y = _sign_recall(1024, 0)
    xt, yt = _sign_recall(256, 1)
    km = keras.Sequential([keras.Input((None, 1)), cls(8), L.Dense(1, activation="sigmoid")])
    km.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy",
               metrics=["accuracy"])
    p0 = np_(km.layers[0].cell.peephole_kernel)
    km.fit(x, y, batch_size=64, epochs=8, verbose=0)
    _, acc = km.evaluate(xt, yt, verbose=0)
    assert acc >= 0.9, f"{cls.__name__} reached only {acc:.2f} accuracy (chance is 0.5)"
    assert not np.allclose(np_(km.layers[0].cell.peephole_kernel), p0)


# ---------------------------------------------------------------------------------------------
# saving: a fresh process loads the model without custom objects
# ---------------------------------------------------------------------------------------------

_FRESH = r"""
import json, sys
import numpy as np
from rnnmcu.codegen.float_ref import forward
from rnnmcu.trainer.keras_import import load_keras_model
import keras

path, xpath = sys.argv[1], sys.argv[2]
m = load_keras_model(path)                         # the user's path: no custom_objects
km = keras.saving.load_model(path, compile=False)  # plain Keras, once rnnmcu has been imported
x = np.load(xpath)
print(json.dumps({
    "cells": [getattr(l, "cell", None) or [l.forward.cell, l.backward.cell] for l in m.layers
              if hasattr(l, "cell") or hasattr(l, "forward")],
    "layers": [type(l).__name__ for l in km.layers],
    "keras": np.asarray(km(x)).tolist(),
    "ref": forward(m, x).tolist(),
}))
"""


@pytest.mark.slow
def test_saved_model_loads_in_a_fresh_process(tmp_path):
    keras.utils.set_random_seed(9)
    km = keras.Sequential([
        keras.Input((T, F)),
        L.Bidirectional(PeepholeGRU(4, return_sequences=True, reset_after=False), merge_mode="sum"),
        L.RNN(PeepholeLSTMCell(3, use_bias=False), return_sequences=True),
        PeepholeLSTM(3, go_backwards=True),
        L.Dense(2),
    ], name="peep")
    rng = np.random.default_rng(9)
    for w in km.trainable_weights:
        w.assign(rng.normal(0.0, 0.5, size=tuple(w.shape)).astype("float32"))
    x = x_in(9)
    path, xpath = tmp_path / "peep.keras", tmp_path / "x.npy"
    km.save(path)
    np.save(xpath, x)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-c", _FRESH, str(path), str(xpath)], capture_output=True,
                       text=True, timeout=300, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["cells"] == [["peephole_gru", "peephole_gru"], "peephole_lstm", "peephole_lstm"]
    assert out["layers"] == ["Bidirectional", "RNN", "PeepholeLSTM", "Dense"]
    want = np_(km(x))
    np.testing.assert_allclose(np.array(out["keras"]), want, atol=1e-6)
    np.testing.assert_allclose(np.array(out["ref"]), want, atol=TOL)

