"""Training the variants of issue #6: peephole LSTM/GRU, Bidirectional (every merge mode, every cell),
stacked layers — the saved model imports to the IR with the right layers, and ``convert --precision
float32`` reproduces it; a slow check that each variant learns the default synthetic set."""
from __future__ import annotations

import time

import numpy as np
import pytest

from rnnmcu.trainer.spec import ModelSpec
from rnnmcu.trainer.synth import write_synth

pytestmark = pytest.mark.keras

FAST = [  # (id, spec kwargs, Keras layer kinds after Normalization, IR cell per recurrent direction)
    ("peephole-lstm", dict(cell="peephole-lstm"), ["PeepholeLSTM"], ["peephole_lstm"]),
    ("peephole-gru", dict(cell="peephole-gru"), ["PeepholeGRU"], ["peephole_gru"]),
    ("bi-rnn-ave", dict(cell="rnn", bidirectional=True, merge_mode="ave"), ["Bidirectional"], ["simple"] * 2),
    ("bi-peephole-lstm-sum", dict(cell="peephole-lstm", bidirectional=True, merge_mode="sum"),
     ["Bidirectional"], ["peephole_lstm"] * 2),
    ("bi-peephole-gru-mul", dict(cell="peephole-gru", bidirectional=True, merge_mode="mul"),
     ["Bidirectional"], ["peephole_gru"] * 2),
    ("bi-gru-concat-2-layers", dict(cell="gru", bidirectional=True, layers=2), ["Bidirectional"] * 2, ["gru"] * 4),
    ("peephole-gru-2-layers", dict(cell="peephole-gru", layers=2), ["PeepholeGRU"] * 2, ["peephole_gru"] * 2),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    p = str(tmp_path_factory.mktemp("variants") / "tiny.npz")
    write_synth(p, classes=3, per_class=12, steps=20, seed=0)
    return p


@pytest.mark.parametrize("name,kw,kinds,cells", FAST, ids=[c[0] for c in FAST])
def test_variant_trains_imports_and_converts_float32(tiny, tmp_path, name, kw, kinds, cells):
    from rnnmcu import api, ir
    from rnnmcu.codegen import float_ref
    from rnnmcu.data import load_npz
    from rnnmcu.trainer.keras_import import load_keras_model, load_keras_object
    from rnnmcu.trainer.train import train

    out = str(tmp_path / "m.keras")
    m = train(tiny, out, ModelSpec(units=4, epochs=2, batch_size=16, **kw), progress=False)
    assert m["epochs_run"] == 2 and 0.0 <= m["accuracy"] <= 1.0
    keras_model = load_keras_object(out)  # a fresh load of the saved file
    assert [type(l).__name__ for l in keras_model.layers] == ["Normalization", *kinds, "Dense"]
    model = load_keras_model(out)
    dirs = []
    for layer in model.layers:
        if isinstance(layer, ir.Bidirectional):
            assert layer.merge_mode == kw.get("merge_mode", "concat")
            dirs += [layer.forward, layer.backward]
        elif isinstance(layer, ir.Recurrent):
            dirs.append(layer)
    assert [d.cell for d in dirs] == cells and all(d.units == 4 for d in dirs)
    ds = load_npz(tiny)
    np.testing.assert_allclose(float_ref.forward(model, ds.x_test), keras_model.predict(ds.x_test, verbose=0),
                               atol=2e-5)
    conv = api.convert(out, tiny, "float32", str(tmp_path / "m.rnnmcu"))
    assert conv["precision"] == "float32"
    e = api.evaluate(str(tmp_path / "m.rnnmcu"), tiny)
    assert e["argmax_agreement"] == 1.0 and e["max_abs_error"] < 1e-5
    assert e["float_accuracy"] == pytest.approx(m["accuracy"])


def test_bidirectional_size_estimate_counts_peepholes(tiny, tmp_path):
    from rnnmcu.trainer.train import train

    m = train(tiny, str(tmp_path / "b.keras"), ModelSpec(cell="peephole-lstm", units=4, bidirectional=True,
                                                         epochs=1, batch_size=16), progress=False)
    size = m["size"]
    mats = 2 * (4 * 4 * 6 + 4 * 4 * 4) + 8 * 3
    biases = 2 * 16 + 3
    assert size["parameters"] == mats + biases + 2 * 3 * 4 and size["needs_window"] is True
    assert size["int8"]["state_bytes"] == 2 * 4 * (1 + 2)


SLOW = [  # (id, spec kwargs): <= 32 units
    ("peephole-lstm", dict(cell="peephole-lstm", units=16)),
    ("peephole-gru", dict(cell="peephole-gru", units=16)),
    ("bidirectional-lstm", dict(cell="lstm", units=16, bidirectional=True)),
    ("bidirectional-gru", dict(cell="gru", units=16, bidirectional=True)),
    ("stacked-2-gru", dict(cell="gru", units=16, layers=2)),
]


@pytest.fixture(scope="module")
def default_set(tmp_path_factory):
    p = str(tmp_path_factory.mktemp("variants-acc") / "gestures.npz")
    write_synth(p, seed=0)  # 5 classes x 120 sequences x 64 steps x 6 channels
    return p


@pytest.mark.slow
@pytest.mark.parametrize("name,kw", SLOW, ids=[c[0] for c in SLOW])
def test_variant_reaches_95_percent_on_default_set(default_set, tmp_path, name, kw):
    from rnnmcu.trainer.train import train

    t0 = time.monotonic()
    m = train(default_set, str(tmp_path / "m.keras"), ModelSpec(epochs=30, **kw), progress=False)
    print(f"{name}: test accuracy {m['accuracy']:.4f} after {m['epochs_run']} epochs, {time.monotonic() - t0:.0f} s")
    assert m["eval_split"] == "test" and m["n_test"] == 150
    assert m["accuracy"] >= 0.95, (name, m["accuracy"], m["confusion"])
