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
    from rnnmcu.trainer.train import train

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
    scales = qat.calibrate(saved, ds.x, None)
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
    # not simulated: int16 gates/cell state and the tables' interpolation, so "closer", not "equal"
    assert err_sim < err_float
    agree_sim = np.mean(y_sim.argmax(1) == y_int.argmax(1))
    assert agree_sim >= np.mean(y_float.argmax(1) == y_int.argmax(1))


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
    from rnnmcu.trainer.train import train

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
    assert res["ptq"][2] >= 0.01, "the case no longer shows a post-training int8 loss"
    assert res["qat"][2] < res["ptq"][2]
