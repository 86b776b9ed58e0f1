"""Training tiny models end to end: model file, metrics.json, PNGs, size estimate, reproducibility."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from rnnmcu.errors import InputError
from rnnmcu.trainer.report import CONFUSION_PX, CURVES_PX
from rnnmcu.trainer.spec import ModelSpec
from rnnmcu.trainer.synth import write_synth

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    fixed, var = str(d / "fixed.npz"), str(d / "var.npz")
    write_synth(fixed, classes=3, per_class=16, steps=24, seed=0)
    write_synth(var, classes=3, per_class=16, steps=24, seed=1, variable_length=True)
    return {"fixed": fixed, "var": var}


def png_size(path) -> tuple[int, int]:
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def tiny_spec(cell, **kw):
    return ModelSpec(cell=cell, units=8, epochs=3, batch_size=16, **kw)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_train_each_cell_writes_model_and_report(tiny, tmp_path, cell):
    import keras

    from rnnmcu.trainer.train import train

    out = tmp_path / "m.keras"
    rep = tmp_path / "report"
    m = train(tiny["fixed"], str(out), tiny_spec(cell), report_dir=str(rep), progress=False)
    assert out.is_file() and not [p for p in tmp_path.iterdir() if p.name.startswith(".rnnmcu-")]
    model = keras.models.load_model(str(out))
    assert model.input_shape == (None, None, 6) and model.output_shape == (None, 3)
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds == ["Normalization", {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[cell], "Dense"]

    doc = json.loads((rep / "metrics.json").read_text())
    for key in ("accuracy", "per_class", "confusion", "epochs_run", "seed", "spec", "size", "history"):
        assert key in doc
    assert doc["eval_split"] == "test" and doc["n_eval"] == 12 and doc["n_test"] == 12
    assert doc["epochs_run"] == 3 and doc["seed"] == 0 and doc["spec"]["cell"] == cell
    assert np.array(doc["confusion"]).shape == (3, 3) and np.sum(doc["confusion"]) == 12
    assert set(doc["per_class"]) == {"idle", "shake", "circle"}
    assert all(0.0 <= v["precision"] <= 1.0 and 0.0 <= v["recall"] <= 1.0 for v in doc["per_class"].values())
    assert 0.0 <= doc["accuracy"] <= 1.0 and doc["masking"] == "none"
    assert doc["size"]["int8"]["weight_bytes"] < doc["size"]["float32"]["weight_bytes"]
    assert png_size(rep / "curves.png") == CURVES_PX
    assert png_size(rep / "confusion.png") == CONFUSION_PX
    # the model in the file is the model that was evaluated
    from rnnmcu.data import load_npz
    ds = load_npz(tiny["fixed"])
    acc = float(np.mean(np.argmax(model.predict(ds.x_test, verbose=0), 1) == ds.y_test))
    assert acc == pytest.approx(doc["accuracy"])


def test_same_seed_identical_weights(tiny, tmp_path):
    import keras

    from rnnmcu.trainer.train import train

    spec = tiny_spec("gru", seed=11)
    train(tiny["fixed"], str(tmp_path / "a.keras"), spec, progress=False)
    train(tiny["fixed"], str(tmp_path / "b.keras"), spec, progress=False)
    train(tiny["fixed"], str(tmp_path / "c.keras"), tiny_spec("gru", seed=12), progress=False)
    wa = keras.models.load_model(str(tmp_path / "a.keras")).get_weights()
    wb = keras.models.load_model(str(tmp_path / "b.keras")).get_weights()
    wc = keras.models.load_model(str(tmp_path / "c.keras")).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(wa, wb))
    assert not all(np.array_equal(a, c) for a, c in zip(wa, wc))


def test_variable_length_masks_by_length_and_keeps_real_zero_steps(tiny, tmp_path):
    """lengths, not values, say which steps are real: a real all-zero step trains as data, the
    saved model has no Masking layer, and evaluation runs each sequence at its true length."""
    import keras

    from rnnmcu.data import Dataset, load_npz, save_npz
    from rnnmcu.trainer import datasets
    from rnnmcu.trainer.train import train

    ds = load_npz(tiny["var"])
    x = ds.x.copy()
    x[0, 2] = 0.0                      # a real step with every channel exactly 0.0
    x_test = ds.x_test.copy()
    x_test[1, 0] = 0.0
    data = tmp_path / "zeros.npz"
    save_npz(data, Dataset(x=x, y=ds.y, lengths=ds.lengths, class_names=ds.class_names,
                           x_test=x_test, y_test=ds.y_test, lengths_test=ds.lengths_test))
    out = str(tmp_path / "v.keras")
    m = train(str(data), out, tiny_spec("lstm"), progress=False)
    assert m["masking"] == "lengths"
    model = keras.models.load_model(out)
    assert [type(l).__name__ for l in model.layers] == ["Normalization", "LSTM", "Dense"]
    norm = model.get_layer("normalization")
    valid = datasets.valid_steps(ds.x, ds.lengths)
    # adapted on real steps only (not on padding), on the training part of the training split
    assert np.all(np.abs(np.ravel(norm.mean) - valid.mean(0)) < 0.2 * valid.std(0) + 1e-3)
    # the reported accuracy is the saved model's on each test sequence cut to its length
    pred = np.array([np.argmax(model.predict(x_test[i:i + 1, :n], verbose=0)[0])
                     for i, n in enumerate(ds.lengths_test)])
    assert float(np.mean(pred == ds.y_test)) == pytest.approx(m["accuracy"])
    # and it converts with length semantics: the all-zero steps run, they are not skipped
    from rnnmcu import api
    from rnnmcu.codegen import float_ref, qmodel
    conv = api.convert(out, str(data), "int8", str(tmp_path / "v.rnnmcu"))
    assert conv["masking"] == "lengths"
    ir_model, _ = qmodel.load(str(tmp_path / "v.rnnmcu"))
    _, kept, _ = float_ref.compress(ir_model, x_test, ds.lengths_test)
    np.testing.assert_array_equal(kept, ds.lengths_test)
    assert "masked_steps" not in api.evaluate(str(tmp_path / "v.rnnmcu"), str(data))


def test_bidirectional_stacked_head_dropout_and_size_estimate(tiny, tmp_path):
    import keras

    from rnnmcu.trainer.report import estimate_size
    from rnnmcu.trainer.train import train

    spec = ModelSpec(cell="lstm", units=4, layers=2, bidirectional=True, merge_mode="concat", dropout=0.1,
                     dense=5, epochs=1, batch_size=16)
    out = str(tmp_path / "b.keras")
    m = train(tiny["fixed"], out, spec, progress=False)
    model = keras.models.load_model(out)
    assert [type(l).__name__ for l in model.layers] == ["Normalization", "Bidirectional", "Dropout",
                                                        "Bidirectional", "Dropout", "Dense", "Dense"]
    size = estimate_size(model)
    assert size == m["size"]
    # the figures are rnnmcu.footprint's on the imported model (the one size rule of the product)
    from rnnmcu import footprint
    from rnnmcu.trainer.keras_import import import_model
    ir_model = import_model(model)
    assert size["int8"] == {"weight_bytes": footprint.weight_bytes(ir_model, "int8"),
                            "state_bytes": footprint.state_bytes(ir_model, "int8")}
    # by hand: LSTM G=4, u=4; layer 1 in=6, layer 2 in=8 (concat), two directions each; every
    # output row carries three 32-bit words (bias and its requantisation)
    mats = 2 * (4 * 4 * 6 + 4 * 4 * 4) + 2 * (4 * 4 * 8 + 4 * 4 * 4) + 8 * 5 + 5 * 3
    biases = 4 * (4 * 4) + 5 + 3
    rows = 4 * 16 + 5 + 3                                      # output rows: 4 directions, 2 Dense
    assert size["parameters"] == mats + biases
    assert size["macs_per_step"] == mats - 8 * 5 - 5 * 3 and size["head_macs"] == 8 * 5 + 5 * 3
    assert size["needs_window"] is True
    assert size["float32"]["weight_bytes"] == 4 * mats + 12 * rows
    assert size["int8"]["weight_bytes"] == mats + 12 * rows
    assert size["int8"]["state_bytes"] == 4 * 4 * (1 + 2)       # 4 directions x (h int8 + c int16)
    assert size["float32"]["state_bytes"] == 4 * 4 * (4 + 4)


def test_imbalanced_set_gets_class_weights(tmp_path):
    from rnnmcu.data import Dataset
    from rnnmcu.trainer.synth import make_synth
    from rnnmcu.trainer.train import class_weights, stratified_split, train_dataset

    assert class_weights(np.array([0, 0, 0, 1]), 2) == {0: pytest.approx(2 / 3), 1: pytest.approx(2.0)}
    ds = make_synth(classes=2, per_class=20, steps=20, seed=3)
    keep = np.concatenate([np.flatnonzero(ds.y == 0), np.flatnonzero(ds.y == 1)[:4]])
    small = Dataset(x=ds.x[keep], y=ds.y[keep], class_names=ds.class_names)
    tr, va = stratified_split(small.y, 0.2, 0)
    assert set(small.y[va]) == {0, 1} and set(small.y[tr]) == {0, 1}
    m = train_dataset(small, str(tmp_path / "i.keras"), tiny_spec("gru"), progress=False)
    assert m["eval_split"] == "validation"
    assert m["class_weights"][1] > 1.5 > 1.0 > m["class_weights"][0]


def test_input_errors(tiny, tmp_path):
    from rnnmcu.trainer.train import train

    with pytest.raises(InputError, match="must end in .keras"):
        train(tiny["fixed"], str(tmp_path / "m.h5"), tiny_spec("gru"), progress=False)
    with pytest.raises(InputError, match="no such file"):
        train(str(tmp_path / "none.npz"), str(tmp_path / "m.keras"), tiny_spec("gru"), progress=False)
    assert not (tmp_path / "m.keras").exists()


def test_cli_train(tiny, tmp_path):
    from rnnmcu.cli import main

    spec = tmp_path / "s.toml"
    spec.write_text('cell = "gru"\nunits = 6\nepochs = 2\n')
    out = tmp_path / "m.keras"
    r = CliRunner().invoke(main, ["train", tiny["fixed"], "-o", str(out), "--spec", str(spec), "--units", "5",
                                  "--batch-size", "16", "--quiet", "--json", "--report", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert doc["spec"]["units"] == 5 and doc["epochs_run"] == 2 and out.is_file()
    bad = tmp_path / "bad.toml"
    bad.write_text("unitz = 3\n")
    r = CliRunner().invoke(main, ["train", tiny["fixed"], "-o", str(out), "--spec", str(bad)])
    assert r.exit_code == 2 and "unknown key(s) unitz" in r.output
