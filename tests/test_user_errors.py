"""Every user mistake through the real commands (no stand-ins): a clear message that names the
problem and the next step, the documented exit code, no traceback, and no partial output file."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rnnmcu.cli import main

pytestmark = [pytest.mark.keras]


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_fails(r, code: int, *fragments: str) -> None:
    assert r.exit_code == code, (r.exit_code, r.output)
    assert "Traceback" not in r.output, r.output
    err = "\n" + r.stderr  # progress lines may come first
    assert "\nerror: " in err and "next: " in err, r.stderr
    for f in fragments:
        assert f in r.stderr, f"{f!r} not in {r.stderr!r}"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    import keras

    d = tmp_path_factory.mktemp("errors")
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (6, 8, 3)).astype(np.float32)
    np.savez(d / "data.npz", x=x, y=np.arange(6) % 2)
    np.savez(d / "data4.npz", x=np.zeros((2, 8, 4), np.float32))
    (d / "garbage.npz").write_bytes(b"this is not a zip file")
    np.savez(d / "nan.npz", x=np.full((2, 4, 3), np.nan, np.float32))
    keras.utils.set_random_seed(0)
    keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4), keras.layers.Dense(2, activation="softmax")]
                     ).save(d / "gru.keras")
    keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(5), keras.layers.Dense(2)]).save(d / "lstm.keras")
    keras.Sequential([keras.Input((8, 3)), keras.layers.Conv1D(4, 3), keras.layers.LSTM(4)]).save(d / "conv.keras")
    assert run("convert", d / "gru.keras", "--calib", d / "data.npz", "--precision", "int8",
               "-o", d / "gru.rnnmcu").exit_code == 0
    assert run("convert", d / "lstm.keras", "--calib", d / "data.npz", "--precision", "int8",
               "-o", d / "lstm.rnnmcu").exit_code == 0
    return d


def test_unsupported_layer(work):
    out = work / "conv.rnnmcu"
    r = run("convert", work / "conv.keras", "--calib", work / "data.npz", "--precision", "int8", "-o", out)
    assert_fails(r, 2, "Conv1D")
    assert not out.exists()


def test_calibration_data_with_wrong_channels(work):
    out = work / "wrong.rnnmcu"
    assert_fails(run("convert", work / "gru.keras", "--calib", work / "data4.npz", "--precision", "int8", "-o", out), 2, "4 channels", "takes 3")
    assert not out.exists() and not any(p.name.startswith(".rnnmcu-") for p in work.iterdir())


@pytest.mark.parametrize("bad", ["garbage.npz", "nan.npz", "missing.npz"])
def test_malformed_or_missing_data(work, bad):
    out = work / "x.rnnmcu"
    r = run("convert", work / "gru.keras", "--calib", work / bad, "--precision", "int8", "-o", out)
    assert r.exit_code == 2 and "Traceback" not in r.output and bad in r.stderr, r.output
    assert not out.exists()


def test_missing_and_corrupt_keras_file(work):
    assert run("convert", work / "nope.keras", "--calib", work / "data.npz", "--precision", "int8", "-o", work / "n.rnnmcu").exit_code == 2
    (work / "corrupt.keras").write_bytes(b"PK\x03\x04 truncated")
    assert_fails(run("convert", work / "corrupt.keras", "--calib", work / "data.npz", "--precision", "int8", "-o", work / "c.rnnmcu"), 2)
    assert not (work / "c.rnnmcu").exists()


def test_integer_precision_needs_calibration(work):
    assert_fails(run("convert", work / "gru.keras", "--precision", "int8", "-o", work / "n.rnnmcu"), 2, "--calib")


def test_wide_weights_need_an_integer_model(work):
    f32 = work / "gru32.rnnmcu"
    assert run("convert", work / "gru.keras", "--calib", work / "data.npz", "--precision", "float32",
               "-o", f32).exit_code == 0
    out = work / "gen-wide"
    assert_fails(run("generate", f32, "-o", out, "--wide-weights"), 2, "float32", "--precision int8")
    assert not out.exists() or not any(out.iterdir())
    # an integer model takes it: int16 weight arrays, the w16 step functions
    r = run("generate", work / "gru.rnnmcu", "-o", out, "--wide-weights")
    assert r.exit_code == 0, r.output
    src = next(out.glob("*_model.c")).read_text()
    # (the first layer of an int8 model multiplies its 16-bit inputs: the x16 step)
    assert "static const int16_t" in src and "rnnmcu_gru_step_x16_w16_s8(" in src


def test_input_projections_need_an_integer_recurrent_layer_that_steps(work):
    """--input-projections hoists the first layer's integer W x out of run()'s steps: a float32
    model, a model that runs layer by layer over its window and a block outside 0..4096 are
    refused by name, before any file is written."""
    import keras

    f32, bi = work / "gru-f32.rnnmcu", work / "bidir.rnnmcu"
    assert run("convert", work / "gru.keras", "--calib", work / "data.npz", "--precision", "float32",
               "-o", f32).exit_code == 0
    keras.Sequential([keras.Input((8, 3)), keras.layers.Bidirectional(keras.layers.LSTM(4)),
                      keras.layers.Dense(2)]).save(work / "bidir.keras")
    assert run("convert", work / "bidir.keras", "--calib", work / "data.npz", "--precision", "int8",
               "-o", bi).exit_code == 0
    out = work / "gen-proj"
    for model, n, what in ((f32, "8", "float32"), (bi, "8", "Bidirectional"),
                           (work / "lstm.rnnmcu", "-1", "1..4096"), (work / "lstm.rnnmcu", "5000", "1..4096")):
        assert_fails(run("generate", model, "-o", out, "--input-projections", n), 2, "--input-projections", what)
        assert not out.exists() or not any(out.iterdir())
    proj = work / "fw-proj"
    assert_fails(run("build", "--board", "host", "--model", bi, "-o", proj, "--input-projections", "8"),
                 2, "Bidirectional", "leave --input-projections out")
    assert not proj.exists()
    r = run("generate", work / "lstm.rnnmcu", "-o", out, "--input-projections", "8")
    assert r.exit_code == 0, r.output
    src = next(out.glob("*_model.c")).read_text()
    # an int8 model's inputs are 16-bit: its projections are the int16 product
    assert "rnnmcu_rnn_proj_s16(" in src and "rnnmcu_lstm_step_px_s8(" in src


def test_corrupt_model_file(work):
    (work / "bad.rnnmcu").write_bytes(b"not a model")
    for cmd in (["eval", work / "bad.rnnmcu", "--data", work / "data.npz"],
                ["generate", work / "bad.rnnmcu", "-o", work / "gen"],
                ["test", "--board", "host", "--model", work / "bad.rnnmcu", "--data", work / "data.npz"]):
        assert_fails(run(*cmd), 2, "bad.rnnmcu")
    assert not (work / "gen").exists() or not any((work / "gen").iterdir())


def test_edited_model_file_fails_its_hash(work):
    import zipfile

    src, dst = work / "gru.rnnmcu", work / "edited.rnnmcu"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "ir.json":
                data = data.replace(b'"reset_after": true', b'"reset_after": false', 1)
            zout.writestr(item, data)
    assert_fails(run("eval", dst, "--data", work / "data.npz"), 2, "hash")


def test_wrong_input_shape_for_eval_and_test(work):
    assert_fails(run("eval", work / "gru.rnnmcu", "--data", work / "data4.npz"), 2, "4 channels")
    assert_fails(run("test", "--board", "host", "--model", work / "gru.rnnmcu", "--data", work / "data4.npz"),
                 2, "4 channels")


def test_unknown_board_and_real_board_without_port(work):
    assert_fails(run("test", "--board", "nosuchboard", "--model", work / "gru.rnnmcu", "--data", work / "data.npz"),
                 2, "nosuchboard")
    assert_fails(run("test", "--board", "esp32", "--model", work / "gru.rnnmcu", "--data", work / "data.npz"),
                 2, "--port")


def test_unreachable_port(work):
    assert_fails(run("test", "--board", "host", "--model", work / "gru.rnnmcu", "--data", work / "data.npz",
                     "--port", "/dev/ttyRNNMCU-NOPE"), 4, "ttyRNNMCU-NOPE")


@pytest.fixture(scope="module")
def gru_firmware(work):
    """The host-board firmware built for gru.rnnmcu."""
    from rnnmcu.boards import platformio
    from rnnmcu.codegen import emit, qmodel

    model, q = qmodel.load(str(work / "gru.rnnmcu"))
    emit.generate(model, q, str(work / "gen-gru"))
    res = platformio.build(platformio.generate_project("host", work / "gen-gru", work / "proj-gru"), "host")
    return str(res.firmware_path)


def test_device_running_a_different_model(work, gru_firmware):
    r = run("test", "--board", "host", "--model", work / "lstm.rnnmcu", "--data", work / "data.npz",
            "--port", f"spawn:{gru_firmware}", "--report", work / "r.json")
    assert_fails(r, 1, "different model")
    assert not (work / "r.json").exists()


def test_device_answering_garbage(work):
    py = sys.executable
    r = run("test", "--board", "host", "--model", work / "gru.rnnmcu", "--data", work / "data.npz",
            "--port", f"spawn:{py} -c \"import os,sys; sys.stdout.buffer.write(os.urandom(5000)); sys.stdout.flush(); sys.stdin.read()\"")
    assert r.exit_code == 4 and "Traceback" not in r.output, r.output
    assert "error: " in r.stderr


def test_device_that_stops_answering_mid_run(work, gru_firmware):
    # the reply stream is cut after 400 bytes (dd with bs=1 passes each byte on at once): INFO and a
    # few replies get through, then silence; the error names the request that got none
    r = run("test", "--board", "host", "--model", work / "gru.rnnmcu", "--data", work / "data.npz",
            "--port", f"spawn:sh -c '{gru_firmware} | dd bs=1 count=400 2>/dev/null; sleep 30'")
    assert_fails(r, 4)
    assert re.search(r"HIL sequence \d+ \((STEP \d+|RUN of \d+ steps|BENCH x\d+)\): no reply", r.stderr), r.stderr


def test_good_run_passes_and_writes_reports(work, gru_firmware):
    r = run("test", "--board", "host", "--model", work / "gru.rnnmcu", "--data", work / "data.npz",
            "--port", f"spawn:{gru_firmware}", "--junit", work / "ok.xml", "--report", work / "ok.json", "--json")
    assert r.exit_code == 0, r.output
    assert (work / "ok.xml").read_text().startswith("<?xml") and (work / "ok.json").stat().st_size > 0
