"""The Keras graphs users write, trained for a few epochs the way users train them and converted
through the public API (a ``.keras`` file in, ``.rnnmcu`` files out):

* float32: the generated C (host, ASan/UBSan) agrees with Keras itself within 1e-5 on
  variable-length sequences, real all-zero steps and masked steps included;
* int8 and int16: the firmware answers every STEP and RUN bit-exactly like the integer reference,
  on the ``host`` board and on the emulated Cortex-M4F (``qemu-m4``).

The axes: functional / Sequential / nested models; with and without Masking; BatchNormalization at
the input, after a recurrent layer and after a Dense; a per-step Dense front; ``RNN(cell)`` and
``StackedRNNCells``; TimeDistributed(Dense) on ``return_sequences``; Bidirectional with a mask; a
softmax as a Dense activation, an Activation layer and a Softmax layer; Rescaling; return_state
left unused."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402  (installed by make setup: missing is a setup bug, never a skip)

from rnnmcu import api  # noqa: E402
from rnnmcu.codegen import qmodel  # noqa: E402
from rnnmcu.data import Dataset, save_npz  # noqa: E402
from rnnmcu.trainer.synth import make_synth  # noqa: E402

from codegen_helpers import c_outputs, keras_on_lengths  # noqa: E402

L = keras.layers
pytestmark = [pytest.mark.keras, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Layer '.*' \\(of type .*\\) was passed an input with a mask")]
F, CLASSES, STEPS = 6, 3, 20


def _functional(*layers, name):
    x = keras.Input((None, F), name="imu")
    h = x
    for layer in layers:
        h = layer(h)
    return keras.Model(x, h, name=name)


def g_masking_lstm():
    return _functional(L.Masking(0.0), L.LSTM(12), L.Dense(CLASSES, activation="softmax"), name="masking_lstm")


def g_masking_gru_gru():
    return _functional(L.Masking(0.0), L.GRU(10, return_sequences=True), L.Dropout(0.2), L.GRU(8),
                       L.Dense(CLASSES, activation="softmax"), name="masking_gru_gru")


def g_masking_bidirectional():
    return _functional(L.Masking(0.0), L.BatchNormalization(), L.Bidirectional(L.GRU(6)),
                       L.Dense(CLASSES, activation="softmax"), name="masking_bidi")


def g_masking_simple_rnn():
    return _functional(L.Masking(0.0), L.SimpleRNN(10, recurrent_dropout=0.1), L.Dense(CLASSES),
                       L.Softmax(), name="masking_simple")


def g_sequential_batchnorm():
    return keras.Sequential([keras.Input((None, F)), L.BatchNormalization(), L.LSTM(10, return_sequences=True),
                             L.BatchNormalization(), L.GRU(8), L.Dense(CLASSES, activation="softmax")],
                            name="sequential_bn")


def g_nested_dense_front():
    front = keras.Sequential([keras.Input((None, F)), L.Masking(0.0), L.Dense(8, activation="relu"),
                              L.BatchNormalization()], name="front")
    return _functional(front, L.GRU(10), L.Dense(8, activation="relu"), L.BatchNormalization(),
                       L.Dense(CLASSES, activation="softmax"), name="nested_front")


def g_stacked_cells():
    return _functional(L.Rescaling(0.1, offset=-0.5), L.RNN(L.StackedRNNCells([L.LSTMCell(10), L.GRUCell(8)])),
                       L.Dense(CLASSES, activation="softmax"), name="stacked_cells")


def g_masking_sequence_out():
    return _functional(L.Masking(0.0), L.RNN(L.GRUCell(10), return_sequences=True),
                       L.TimeDistributed(L.Dense(CLASSES)), L.Activation("softmax"), name="masking_seq_out")


def g_return_state_unused():
    x = keras.Input((None, F))
    h, _, _ = L.LSTM(10, return_state=True)(L.Normalization(mean=[0.0] * 3 + [1.0] * 3,
                                                            variance=[4.0] * F)(x))
    return keras.Model(x, L.Dense(CLASSES, activation="softmax")(h), name="return_state_unused")


def g_functional_in_functional():
    inner = _functional(L.Masking(0.0), L.LSTM(10, return_sequences=True), name="inner")
    x = keras.Input((None, F))
    return keras.Model(x, L.Dense(CLASSES, activation="softmax")(L.SimpleRNN(8)(inner(x))), name="nested_func")


GRAPHS = {f.__name__[2:]: f for f in (g_masking_lstm, g_masking_gru_gru, g_masking_bidirectional,
                                      g_masking_simple_rnn, g_sequential_batchnorm, g_nested_dense_front,
                                      g_stacked_cells, g_masking_sequence_out, g_return_state_unused,
                                      g_functional_in_functional)}


def _masked(km) -> bool:
    return any(isinstance(layer, L.Masking) for layer in _flat(km))


def _flat(km):
    for layer in km.layers:
        yield from (_flat(layer) if isinstance(layer, keras.Model) else [layer])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each graph trained for 3 epochs on a small gesture set (Masking graphs on the zero-padded
    variable-length set, the others on full-length windows), saved as .keras, and converted."""
    d = tmp_path_factory.mktemp("graphs")
    var = make_synth(classes=CLASSES, per_class=12, steps=STEPS, variable_length=True, seed=3)
    fixed = make_synth(classes=CLASSES, per_class=12, steps=STEPS, seed=4)
    # the test sequences: variable lengths, and real all-zero steps inside them (a Masking model
    # skips them as Keras does; every other model runs them)
    x, lengths = var.x_test[:10].copy(), var.lengths_test[:10].copy()
    x[0, 3] = 0.0
    x[4, 0] = 0.0
    data = d / "test.npz"
    save_npz(data, Dataset(x=x, lengths=lengths))
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make in GRAPHS.items():
            keras.utils.set_random_seed(7)
            km = make()
            train = var if _masked(km) else fixed
            km.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
            km.fit(train.x, train.y if not name.endswith("sequence_out") else
                   np.repeat(train.y[:, None], STEPS, axis=1), epochs=3, batch_size=16, verbose=0)
            path = d / f"{name}.keras"
            km.save(path)
            conv = {p: str(d / f"{name}-{p}.rnnmcu") for p in ("float32", "int8", "int16")}
            for p, dst in conv.items():
                summary = api.convert(str(path), str(data), p, dst)
                assert summary["masking"] == ("value" if _masked(km) else "lengths")
            out[name] = {"keras": km, "path": str(path), "rnnmcu": conv}
    return {"data": str(data), "x": x, "lengths": lengths, "graphs": out, "dir": d}


@pytest.mark.parametrize("name", GRAPHS)
def test_float32_c_agrees_with_keras(trained, name, tmp_path):
    g = trained["graphs"][name]
    x, lengths = trained["x"], trained["lengths"]
    model, q = qmodel.load(g["rnnmcu"]["float32"])
    got = c_outputs(model, q, x, lengths, tmp_path)
    # Keras on each sequence's real steps: a Masking model skips the all-zero ones itself
    ref = keras_on_lengths(g["keras"], x, lengths)
    pos, D = 0, model.output_dim
    for b in range(len(x)):
        n = int(lengths[b])
        kept = n - int(np.count_nonzero(np.all(x[b, :n] == 0.0, axis=1))) if model.mask_value is not None else n
        if not model.needs_window:
            pos += kept * D                       # the per-step outputs of the streaming calls
        k = kept * D if model.output_sequence else D
        c_run = got[pos:pos + k]
        pos += k
        if model.output_sequence:                 # run() over the steps the device is given
            keep = np.nonzero(~np.all(x[b, :n] == 0.0, axis=1))[0] if model.mask_value is not None else np.arange(n)
            want = ref[b, keep].ravel()
        else:
            want = ref[b]
        np.testing.assert_allclose(c_run, want, atol=1e-5, rtol=1e-5, err_msg=f"{name}, sequence {b}")
    assert pos == got.size


@pytest.mark.parametrize("board", ["host", pytest.param("qemu-m4", marks=pytest.mark.emulator)])
@pytest.mark.parametrize("name", GRAPHS)
def test_int8_int16_bit_exact_on_board(trained, name, board):
    g = trained["graphs"][name]
    for precision in ("int8", "int16"):
        rep = api.hil_test(board, g["rnnmcu"][precision], trained["data"], bench_repeats=0)
        s = rep["summary"]
        assert rep["passed"] and s["mismatches"] == 0 and s["values_checked"] > 0, rep.get("mismatches")


def test_a_masking_model_counts_and_warns_about_real_steps_it_skips(trained, capsys):
    out = api.evaluate(trained["graphs"]["masking_lstm"]["rnnmcu"]["int8"], trained["data"])
    assert out["masking"] == "value" and out["masked_steps"] == 2
    err = capsys.readouterr().err
    assert "warning: 2 steps inside the data's lengths equal the model's Masking value" in err
    assert "next:" in err
    out = api.evaluate(trained["graphs"]["stacked_cells"]["rnnmcu"]["int8"], trained["data"])
    assert out["masking"] == "lengths" and "masked_steps" not in out
    assert "warning" not in capsys.readouterr().err


def test_a_sequence_the_masking_layer_skips_whole_is_left_out_by_name(trained, tmp_path):
    """Every step of sequence 1 equals the mask value: the device is given no steps for it, so
    rnnmcu test leaves it out, says so, and names the others by their place in the data."""
    x, lengths = trained["x"][:3].copy(), trained["lengths"][:3].copy()
    x[1] = 0.0
    save_npz(tmp_path / "d.npz", Dataset(x=x, lengths=lengths))
    rep = api.hil_test("host", trained["graphs"]["masking_gru_gru"]["rnnmcu"]["int8"], str(tmp_path / "d.npz"),
                       bench_repeats=1, junit=str(tmp_path / "j.xml"))
    assert rep["passed"] and rep["fully_masked_sequences"] == [1]
    assert [s["index"] for s in rep["sequences"]] == [0, 2]
    assert 'name="seq0002"' in (tmp_path / "j.xml").read_text()
    x[:] = 0.0
    save_npz(tmp_path / "z.npz", Dataset(x=x, lengths=lengths))
    from rnnmcu.errors import InputError
    with pytest.raises(InputError, match="every step of every sequence equals the model's Masking value"):
        api.hil_test("host", trained["graphs"]["masking_gru_gru"]["rnnmcu"]["int8"], str(tmp_path / "z.npz"))
