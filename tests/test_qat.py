"""Quantisation-aware fine-tuning (``--qat``): the wrapper simulates codegen's int8 scheme (its
outputs track the bit-exact integer reference far closer than the float model does), the saved model
is the plain Keras model with fine-tuned weights, and on a case where post-training int8 loses
accuracy the fine-tune shrinks the float -> int8 gap (measured with rnnmcu.api.convert/evaluate)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from rnnmcu.trainer.spec import ModelSpec

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from rnnmcu.trainer.synth import write_synth

    d = tmp_path_factory.mktemp("qat")
    write_synth(str(d / "train.npz"), classes=3, per_class=24, steps=24, seed=0, hard=True)
    return d


@pytest.mark.parametrize("kw", [dict(cell="gru", dense=4), dict(cell="rnn"),
                                dict(cell="peephole-gru", bidirectional=True, merge_mode="concat")],
                         ids=["gru-dense", "rnn", "bi-peephole-gru"])
def test_wrapper_tracks_integer_reference_and_saved_model_is_plain(small, tmp_path, kw):
    import keras

    from rnnmcu import ir
    from rnnmcu.codegen import float_ref, qref, quantize
    from rnnmcu.data import load_npz
    from rnnmcu.trainer import qat
    from rnnmcu.trainer.keras_import import import_model, load_keras_object
    from rnnmcu.api import train

    out = str(tmp_path / "q.keras")
    m = train(str(small / "train.npz"), out, ModelSpec(units=6, epochs=2, batch_size=16, qat=True, qat_epochs=2,
                                                       **kw), progress=False)
    assert m["qat"]["epochs_run"] == 2 and len(m["qat"]["history"]["loss"]) == 2
    assert len(m["qat"]["s_in"]) == 6
    saved = load_keras_object(out)
    kinds = [type(l).__name__ for l in saved.layers]
    assert not any(k.startswith("QAT") or k in ("InputQuant", "BiMerge") for k in kinds), kinds
    ds = load_npz(str(small / "train.npz"))
    model = import_model(saved)
    scales = qat.calibrate(saved, ds.x, None, quantize.int8_scales)
    wrapper = qat.build_qat_model(saved, scales)
    y_sim = wrapper.predict(ds.x_test, verbose=0)
    y_float = float_ref.forward(model, ds.x_test)
    assert np.allclose(y_float, saved.predict(ds.x_test, verbose=0), atol=2e-5)
    if any(isinstance(l, ir.Bidirectional) for l in model.layers):
        return  # integer conversion of bidirectional/peephole layers is not available yet
    q = quantize.quantize(model, ds.x, None, "int8")
    np.testing.assert_allclose(q.s_in, scales.s_in, rtol=1e-6)
    y_int = qref.predict(model, q, ds.x_test)
    err_sim = float(np.mean(np.abs(y_sim - y_int)))
    err_float = float(np.mean(np.abs(y_float - y_int)))
    print(kw, "mean |int8 ref - simulated|", err_sim, "mean |int8 ref - float|", err_float)
    # not simulated: int16 gates/cell state and the tables' interpolation, so close, not equal
    # (with 16-bit inputs and a 16-bit GRU state the integer model is itself close to float)
    assert err_sim < 0.01


def test_fake_quant_rows_matches_codegen():
    import keras

    from rnnmcu.codegen.quantize import quantize_rows
    from rnnmcu.trainer.qat import fake_quant_rows

    rng = np.random.default_rng(0)
    k = rng.normal(size=(5, 7)).astype(np.float32)          # Keras kernel (in, out)
    col = rng.uniform(0.01, 0.2, size=5).astype(np.float32)  # per-input scale folded in first
    got = keras.ops.convert_to_numpy(fake_quant_rows(keras.ops.convert_to_tensor(k), keras.ops.convert_to_tensor(col)))
    wq, s = quantize_rows((k * col[:, None]).T)              # codegen: IR rows (out, in)
    want = (wq.astype(np.float64) * s[:, None]).T / col[:, None]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_qat_shrinks_the_int8_accuracy_gap(tmp_path):
    from rnnmcu import api
    from rnnmcu.trainer.synth import write_synth
    from rnnmcu.api import train

    t0 = time.monotonic()
    write_synth(str(tmp_path / "train.npz"), per_class=80, seed=1, hard=True)
    write_synth(str(tmp_path / "test.npz"), per_class=200, seed=101, hard=True)
    res = {}
    for mode in ("ptq", "qat"):
        keras_path = str(tmp_path / f"{mode}.keras")
        spec = ModelSpec(cell="gru", units=8, seed=1, epochs=30, qat=mode == "qat", qat_epochs=8)
        train(str(tmp_path / "train.npz"), keras_path, spec, progress=False)
        api.convert(keras_path, str(tmp_path / "train.npz"), "int8", str(tmp_path / f"{mode}.rnnmcu"))
        e = api.evaluate(str(tmp_path / f"{mode}.rnnmcu"), str(tmp_path / "test.npz"))
        res[mode] = (e["float_accuracy"], e["quantised_accuracy"], e["float_accuracy"] - e["quantised_accuracy"])
    print(res, f"{time.monotonic() - t0:.0f} s")
    assert res["ptq"][2] > 0, "the case no longer shows a post-training int8 loss"
    assert res["qat"][2] < res["ptq"][2]


def test_gru_state_is_simulated_at_its_deployed_width():
    """A GRU that updates slowly (z near 1) towards a constant candidate: each step's change is
    below half an int8 step of h, so a state rounded to int8 stops short, while the deployed int8
    GRU carries its state at s_h / 256 (NUMERICS.md) and gets there.  The QAT cell carries it the
    same way: it ends where the integer reference ends, not where an int8-state simulation does."""
    import keras

    from rnnmcu import ir
    from rnnmcu.codegen import qref, quantize
    from rnnmcu.trainer import qat
    from rnnmcu.trainer.keras_import import import_model

    keras.utils.set_random_seed(0)
    n, T = 4, 120
    gru = keras.layers.GRU(n, name="g")
    km = keras.Sequential([keras.Input((T, 1)), gru])
    k, rk, b = (np.zeros(w.shape, np.float32) for w in gru.get_weights())
    b[0, :n] = 4.0            # z = sigmoid(4) ~ 0.98: 2 % of the way per step
    b[0, 2 * n:] = 0.6        # candidate tanh(0.6) ~ 0.54, whatever the input
    gru.set_weights([k, rk, b])
    x = np.ones((2, T, 1), np.float32)
    model = import_model(km)
    q = quantize.quantize(model, x, None, "int8")
    assert q.layers[0].state16
    y_int = qref.predict(model, q, x)[0]
    scales = qat.calibrate(km, x, None, quantize.int8_scales)
    y_sim = np.asarray(qat.build_qat_model(km, scales)(x))[0]
    float_end = float(np.tanh(0.6)) * (1 - (1 / (1 + np.exp(-4.0))) ** T)
    np.testing.assert_allclose(y_int, float_end, atol=2 * q.layers[0].s_h)
    np.testing.assert_allclose(y_sim, y_int, atol=q.layers[0].s_h)
    # an int8 state would stall where a step's change rounds to nothing
    h = 0.0
    for _ in range(T):
        h = np.round((0.982 * h + 0.018 * np.tanh(0.6)) / q.layers[0].s_h) * q.layers[0].s_h
    assert float_end - h > 10 * q.layers[0].s_h
