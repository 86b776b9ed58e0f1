"""`rnnmcu compare`: every engine's row is filled or says why; the TFLite numbers come from real
interpreter runs; a conversion that crashes, times out or has no path is a clean row (exit 0)."""
from __future__ import annotations

import json
import signal
import struct
import sys

import numpy as np
import pytest
from click.testing import CliRunner

pytestmark = [pytest.mark.keras, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]

CLASSES = 4
MAX_SEQS = 40


@pytest.fixture(scope="module")
def data_path(tmp_path_factory):
    from rnnmcu.data import save_npz
    from rnnmcu.trainer import synth

    ds = synth.make_synth(classes=CLASSES, per_class=32, steps=32, variable_length=True, seed=3)
    p = tmp_path_factory.mktemp("cmp") / "synth.npz"
    save_npz(str(p), ds)
    return str(p)


def _keras_model(cell: str, data_path: str, out: str, epochs: int, bidirectional: bool = False) -> str:
    """A tiny model like `rnnmcu train` builds: Masking, Normalization, recurrent layer, softmax."""
    import keras

    from rnnmcu.data import load_npz

    ds = load_npz(data_path)
    keras.utils.set_random_seed(0)
    norm = keras.layers.Normalization(axis=-1)
    valid = np.arange(ds.x.shape[1])[None, :] < ds.lengths[:, None]
    norm.adapt(ds.x[valid][None])
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[cell](12)
    if bidirectional:
        rnn = keras.layers.Bidirectional(rnn)
    km = keras.Sequential([keras.Input((None, ds.x.shape[2])), keras.layers.Masking(0.0), norm, rnn,
                           keras.layers.Dense(CLASSES, activation="softmax")], name=f"tiny_{cell}")
    if epochs:
        km.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
        km.fit(ds.x, ds.y, epochs=epochs, batch_size=16, verbose=0)
    km.save(out)
    return out


def _run_cli(args: list[str]):
    from rnnmcu.cli.compare import compare

    res = CliRunner().invoke(compare, args, catch_exceptions=False)
    return res


def _check_complete(doc: dict) -> None:
    from rnnmcu.compare.table import COLUMNS, ENGINES

    assert [r["engine"] for r in doc["rows"]] == list(ENGINES)
    for r in doc["rows"]:
        for c in COLUMNS:
            assert r[c] is not None or r["reason"] or c in r["missing"], (r["engine"], c)


@pytest.mark.parametrize("cell,epochs", [("lstm", 12), ("gru", 0), ("rnn", 0)])
def test_compare_every_row_filled_and_tflite_really_ran(cell, epochs, data_path, tmp_path):
    """LSTM trained (accuracy must be non-trivial), GRU/SimpleRNN untrained (interpreter plumbing)."""
    from rnnmcu.data import load_npz
    from rnnmcu.compare import table as cmp

    model = _keras_model(cell, data_path, str(tmp_path / f"{cell}.keras"), epochs)
    png = tmp_path / "cmp.png"
    res = _run_cli([model, "--data", data_path, "--json", "--plot", str(png), "--max-seqs", str(MAX_SEQS)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    _check_complete(doc)
    rows = {r["engine"]: r for r in doc["rows"]}
    for e in cmp.ENGINES:
        assert rows[e]["reason"] is None, (e, rows[e]["reason"])
    assert doc["tflite_path"] == ("fused_lstm" if cell == "lstm" else "step")
    if cell == "lstm":
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in doc["tflite_ops"]
    # The interpreters ran one invoke per valid step of every sequence.
    L = load_npz(data_path).lengths_test[:MAX_SEQS]
    assert doc["checks"][f"{cmp.LITERT} invokes"] == doc["checks"][f"{cmp.TFLM} invokes"] == int(L.sum())
    # Two independent int8 runtimes on the same .tflite agree to a few output steps (1/256 each).
    assert doc["checks"]["litert_vs_tflm_max_abs_diff"] <= 8 / 256
    for e in (cmp.LITERT, cmp.TFLM):
        r = rows[e]
        assert r["model_bytes"] > 1000 and r["macs_per_step"] == rows[cmp.KERAS]["macs_per_step"] > 0
        assert 0.0 < r["max_abs_error"] < 0.5
        assert r["agreement"] >= 0.7
    assert rows[cmp.TFLM]["working_bytes"] > 1000
    assert rows["rnnmcu float32"]["max_abs_error"] < 1e-4
    assert rows["rnnmcu int16"]["agreement"] >= 0.85
    if epochs:  # trained: well above chance (1/4) in every engine
        for e in cmp.ENGINES:
            assert rows[e]["accuracy"] >= 0.45, (e, rows[e]["accuracy"])
    # the text table shows every engine and the LiteRT/TFLM cross-check
    c = cmp.Comparison(**{**doc, "rows": [cmp.Row(**r) for r in doc["rows"]]})
    table = cmp.format_table(c)
    assert all(e in table for e in cmp.ENGINES) and "LiteRT vs TFLM" in table and "n/a [1]" in table
    assert "(16x8)" in table and "(8x8)" in table  # the precisions named as TFLite names them
    # --plot wrote a real PNG of a sensible size
    blob = png.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n" and blob[12:16] == b"IHDR"
    w, h = struct.unpack(">II", blob[16:24])
    assert w >= 800 and h >= 300 and len(blob) > 20_000


def _crash_now(*_args):
    return [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]


def _hang(*_args):
    return [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.mark.parametrize("child,expect", [(_crash_now, "crashed (SIGSEGV)"), (_hang, "did not finish within 2 s")])
def test_conversion_crash_or_timeout_is_a_clean_row(child, expect, data_path, tmp_path, monkeypatch):
    from rnnmcu.compare import table as cmp
    from rnnmcu.compare import tflite_export

    monkeypatch.setattr(tflite_export, "child_command", child)
    model = _keras_model("rnn", data_path, str(tmp_path / "r.keras"), 0)
    res = _run_cli([model, "--data", data_path, "--json", "--max-seqs", "8", "--timeout", "2"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    _check_complete(doc)
    rows = {r["engine"]: r for r in doc["rows"]}
    for e in (cmp.LITERT, cmp.TFLM):
        assert expect in rows[e]["reason"] and rows[e]["accuracy"] is None
    assert rows["rnnmcu int8"]["reason"] is None and rows["rnnmcu int8"]["accuracy"] is not None
    assert signal.SIGSEGV  # the crash is a real signal in the child, not an exception here


def test_model_tflite_cannot_take_gives_reason_rows_and_exit_0(data_path, tmp_path):
    """A Bidirectional LSTM: no full-int8 TFLite path; rnnmcu's integer modes take it."""
    from rnnmcu.compare import table as cmp

    model = _keras_model("lstm", data_path, str(tmp_path / "bi.keras"), 0, bidirectional=True)
    res = _run_cli([model, "--data", data_path, "--max-seqs", "8", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    _check_complete(doc)
    rows = {r["engine"]: r for r in doc["rows"]}
    for e in (cmp.LITERT, cmp.TFLM):
        assert "no TFLite path" in rows[e]["reason"] and "Bidirectional" in rows[e]["reason"]
    assert rows["rnnmcu float32"]["reason"] is None and rows["rnnmcu float32"]["max_abs_error"] < 1e-4
    assert rows["rnnmcu int8"]["reason"] is None and rows["rnnmcu int8"]["agreement"] is not None
    table = _run_cli([model, "--data", data_path, "--max-seqs", "8"])
    assert table.exit_code == 0 and "no TFLite path" in table.stdout


def test_choose_path_and_working_memory():
    from rnnmcu import footprint, ir
    from rnnmcu.compare import tflite_export as te

    def rec(cell, act="tanh", d=3, **kw):
        g = ir.GATES[cell] * 4
        return ir.Recurrent(cell=cell, units=4, input_dim=d, W=np.zeros((g, d)), U=np.zeros((g, 4)),
                            b=np.zeros(g), b_rec=np.zeros(g), activation=act, name="r",
                            p=np.zeros((3 if cell == "peephole_lstm" else 1, 4)) if cell.startswith("peephole") else None, **kw)

    def model(*layers):
        return ir.Model(name="m", input_dim=3, layers=list(layers))

    assert te.choose_path(model(rec("lstm"))) == "fused_lstm"
    assert te.choose_path(model(rec("lstm", "relu"))) == "step"
    assert te.choose_path(model(rec("gru"))) == "step"
    with pytest.raises(te.NoPath, match="peephole"):
        te.choose_path(model(rec("peephole_lstm")))
    with pytest.raises(te.NoPath, match="go_backwards"):
        te.choose_path(model(rec("simple", go_backwards=True)))
    with pytest.raises(te.NoPath, match="hard_shrink"):
        te.choose_path(model(rec("simple", "hard_shrink")))
    assert te.state_shapes(model(rec("lstm", return_sequences=True), rec("gru", d=4))) == [4, 4, 4]
    # int8 LSTM, 4 units, 3 inputs: h 4 + c 8 + scratch 2 * 16 words (one tile of sums: emit.scratch_words)
    # * 4 + buffers 2 * 4; float32: h 16 + c 16 + scratch (2 * 16 + 4) * 4 + buffers 2 * 16
    assert footprint.working_bytes(model(rec("lstm")), "int8") == 4 + 8 + 32 * 4 + 8
    assert footprint.working_bytes(model(rec("lstm")), "float32") == 16 + 16 + 36 * 4 + 32
    # with a Dense head an int8 model adds the 16-bit head's two int16 buffers of max(4, 2) values
    head = ir.Dense(W=np.ones((2, 4)), b=np.zeros(2))
    assert footprint.working_bytes(model(rec("lstm"), head), "int8") == 4 + 8 + 32 * 4 + 8 + 2 * 2 * 4
    assert footprint.working_bytes(model(rec("lstm"), head), "int16") == 8 + 8 + 32 * 4 + 16
