"""Trained models on the synthetic sensor task: the quantised models agree with the float model
(argmax) on >= 99% (int8) and >= 99.8% (int16) of 500 held-out sequences, for SimpleRNN, LSTM
and GRU; and the float32 path is exact to float rounding."""
from __future__ import annotations

import pytest

from rnnmcu import api

pytestmark = [pytest.mark.keras, pytest.mark.slow]

CASES = [("lstm", 16), ("gru", 16), ("rnn", 32)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from rnnmcu.trainer.synth import write_synth

    d = tmp_path_factory.mktemp("agree")
    write_synth(str(d / "train.npz"), seed=1)
    write_synth(str(d / "test.npz"), per_class=400, seed=7)  # test split: 500 sequences, none seen in training
    return d


@pytest.mark.parametrize("cell,units", CASES)
def test_quantised_agreement(data, cell, units):
    from rnnmcu.trainer.spec import ModelSpec
    from rnnmcu.trainer.train import train

    keras_path = str(data / f"{cell}.keras")
    train(str(data / "train.npz"), keras_path, ModelSpec(cell=cell, units=units, seed=1), progress=False)
    got = {}
    for precision in ("int8", "int16", "float32"):
        out = str(data / f"{cell}-{precision}.rnnmcu")
        api.convert(keras_path, str(data / "train.npz"), precision, out)
        got[precision] = api.evaluate(out, str(data / "test.npz"))
    print(cell, {p: (e["float_accuracy"], e["quantised_accuracy"], e["argmax_agreement"], e["max_abs_error"])
                 for p, e in got.items()})
    assert got["int8"]["sequences"] == 500
    assert got["int8"]["float_accuracy"] >= 0.9, "the float model did not learn the task"
    assert got["int8"]["argmax_agreement"] >= 0.99
    assert got["int16"]["argmax_agreement"] >= 0.998
    assert got["float32"]["argmax_agreement"] == 1.0 and got["float32"]["max_abs_error"] < 1e-6
