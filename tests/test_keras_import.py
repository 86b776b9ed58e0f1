"""Keras -> IR import: field and weight layout per layer/option, errors for what is unsupported,
the .keras file path, and the Keras semantics (masking, go_backwards, Bidirectional alignment)
that the references must reproduce."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

import keras  # noqa: E402  (installed by make setup: missing is a setup bug, never a skip)

from rnnmcu import ir  # noqa: E402
from rnnmcu.errors import InputError, UnsupportedModelError  # noqa: E402
from rnnmcu.trainer import keras_import as ki  # noqa: E402
from rnnmcu.trainer.cells import PeepholeGRU, PeepholeGRUCell, PeepholeLSTM, PeepholeLSTMCell  # noqa: E402
from rnnmcu.trainer.keras_import import import_model, load_keras_model  # noqa: E402

L = keras.layers
# Keras 3.15's own convert_to_numpy trips a numpy 2 deprecation; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
T, F = 6, 3


def randomise(model, seed: int = 0) -> None:
    """Non-trivial trainable weights (default initialisers leave biases at zero)."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.normal(0.0, 0.5, size=tuple(w.shape)).astype("float32"))


def seq(*layers, t=T, f=F, batch_size=None, name=None, seed=0):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((t, f), batch_size=batch_size), *layers], name=name)
    randomise(m, seed)
    return m


def np_(v):
    return np.asarray(keras.ops.convert_to_numpy(v))


def np_rnn_simple(x, W, U, b, act=np.tanh, backwards=False):
    """SimpleRNN over x (T, F) with IR-layout weights; outputs in processing order."""
    h = np.zeros(W.shape[0])
    out = []
    steps = range(len(x) - 1, -1, -1) if backwards else range(len(x))
    for t in steps:
        h = act(W @ x[t] + U @ h + b)
        out.append(h)
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# recurrent layers: fields and weight layout
# ---------------------------------------------------------------------------------------------

_LAYER_ARGS = ("return_sequences", "go_backwards", "unroll", "stateful", "name")


def rnn_over(cell_cls, units, **kw):
    """``keras.layers.RNN(cell_cls(units, cell options), layer options)`` from one kwargs dict."""
    layer_kw = {k: kw.pop(k) for k in list(kw) if k in _LAYER_ARGS}
    return L.RNN(cell_cls(units, **kw), **layer_kw)


CELLS = {
    "simple": (lambda **kw: L.SimpleRNN(4, **kw), 1),
    "lstm": (lambda **kw: L.LSTM(4, **kw), 4),
    "gru": (lambda **kw: L.GRU(4, **kw), 3),
    "gru_reset_before": (lambda **kw: L.GRU(4, reset_after=False, **kw), 3),
    "peephole_lstm": (lambda **kw: PeepholeLSTM(4, **kw), 4),
    "peephole_gru": (lambda **kw: PeepholeGRU(4, **kw), 3),
    "peephole_gru_reset_before": (lambda **kw: PeepholeGRU(4, reset_after=False, **kw), 3),
    "peephole_lstm_cell": (lambda **kw: rnn_over(PeepholeLSTMCell, 4, **kw), 4),
    "peephole_gru_cell": (lambda **kw: rnn_over(PeepholeGRUCell, 4, **kw), 3),
    "peephole_gru_cell_reset_before": (lambda **kw: rnn_over(PeepholeGRUCell, 4, reset_after=False, **kw), 3),
}


def ir_cell(case: str) -> str:
    """The IR cell a CELLS entry imports as."""
    for name in ("peephole_lstm", "peephole_gru", "simple", "lstm", "gru"):
        if case.startswith(name):
            return name
    raise KeyError(case)
OPTIONS = {
    "default": {},
    "return_sequences": {"return_sequences": True},
    "go_backwards": {"go_backwards": True},
    "go_backwards_seq": {"go_backwards": True, "return_sequences": True},
    "no_bias": {"use_bias": False},
    "unroll_dropout": {"unroll": True, "dropout": 0.3, "recurrent_dropout": 0.2},
    "activations": {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
    "aliases": {"activation": "swish", "recurrent_activation": "hard_swish"},
    "none_activation": {"activation": None},
}


@pytest.mark.parametrize("opt", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_layer(cell, opt):
    make, gates = CELLS[cell]
    kw = dict(OPTIONS[opt])
    if cell == "simple":
        kw.pop("recurrent_activation", None)
    layer = make(name="rnn", **kw)
    km = seq(layer, name="m1")
    m = import_model(km)
    assert len(m.layers) == 1
    r = m.layers[0]
    assert isinstance(r, ir.Recurrent)
    assert r.cell == ir_cell(cell)
    assert r.units == 4 and r.input_dim == F and r.name == "rnn"
    assert r.return_sequences == kw.get("return_sequences", False)
    assert r.go_backwards == kw.get("go_backwards", False)
    act = {"swish": "silu", None: "linear"}.get(kw.get("activation", "tanh"), kw.get("activation", "tanh"))
    assert r.activation == act
    if cell != "simple":
        ra = {"hard_swish": "hard_silu"}.get(kw.get("recurrent_activation", "sigmoid"),
                                             kw.get("recurrent_activation", "sigmoid"))
        assert r.recurrent_activation == ra
    c = layer.cell
    np.testing.assert_array_equal(r.W, np_(c.kernel).T)
    np.testing.assert_array_equal(r.U, np_(c.recurrent_kernel).T)
    assert r.W.shape == (gates * 4, F) and r.U.shape == (gates * 4, 4)
    if kw.get("use_bias", True) is False:
        assert not r.b.any() and not r.b_rec.any()
    elif "gru" in cell and "reset_before" not in cell:
        assert r.reset_after
        bias = np_(c.bias)
        assert bias.shape == (2, 12)
        np.testing.assert_array_equal(r.b, bias[0])
        np.testing.assert_array_equal(r.b_rec, bias[1])
        assert r.b_rec.any()
    else:
        np.testing.assert_array_equal(r.b, np_(c.bias))
        assert r.b.any() and not r.b_rec.any()
    if "reset_before" in cell:
        assert r.reset_after is False
    if r.cell.startswith("peephole"):
        assert r.p.shape == ((3, 4) if r.cell == "peephole_lstm" else (1, 4)) and r.p.any()
        np.testing.assert_array_equal(r.p, np_(c.peephole_kernel))
    else:
        assert r.p is None
    assert m.name == "m1" and m.input_dim == F and m.max_steps == T and not m.stateful
    assert m.mask_value is None and not m.norm_mean.any() and np.all(m.norm_std == 1)
    assert m.output_sequence == kw.get("return_sequences", False)


def test_gate_order_is_keras_order():
    """Row block g of W is Keras' kernel column block g: i, f, c, o for LSTM."""
    km = seq(L.LSTM(2, name="l"))
    r = import_model(km).layers[0]
    k = np_(km.layers[0].cell.kernel)
    for g in range(4):
        np.testing.assert_array_equal(r.W[2 * g:2 * g + 2], k[:, 2 * g:2 * g + 2].T)


def test_stateful_and_unknown_length():
    km = seq(L.GRU(3, stateful=True, name="g"), batch_size=1)
    m = import_model(km)
    assert m.stateful and m.max_steps == T
    keras.utils.set_random_seed(1)
    km2 = keras.Sequential([keras.Input((None, F)), L.LSTM(3)])
    assert import_model(km2).max_steps is None


def test_generic_rnn_layer_with_builtin_cell():
    km = seq(L.RNN(L.LSTMCell(3), return_sequences=True, name="r"))
    r = import_model(km).layers[0]
    assert r.cell == "lstm" and r.return_sequences and r.name == "r"


def test_stacked_and_dense():
    km = seq(L.LSTM(5, return_sequences=True, name="a"), L.GRU(4, return_sequences=True, name="b"),
             L.Dense(3, activation="relu", name="per_step"), L.SimpleRNN(2, name="c"),
             L.Dense(2, activation="softmax", name="out"))
    m = import_model(km)
    kinds = [type(l).__name__ for l in m.layers]
    assert kinds == ["Recurrent", "Recurrent", "Dense", "Recurrent", "Dense", "Softmax"]
    assert [l.input_dim for l in m.layers] == [3, 5, 4, 3, 2, 2]
    d = m.layers[2]
    np.testing.assert_array_equal(d.W, np_(km.get_layer("per_step").kernel).T)
    np.testing.assert_array_equal(d.b, np_(km.get_layer("per_step").bias))
    assert d.activation == "relu"
    assert m.layers[4].activation == "linear" and m.layers[4].name == "out"
    assert m.output_dim == 2 and not m.output_sequence


def test_stacked_peephole_layers_and_stateful():
    km = seq(PeepholeLSTM(5, return_sequences=True, name="a"),
             L.RNN(PeepholeGRUCell(4, reset_after=False), return_sequences=True, go_backwards=True,
                   name="b"),
             L.Dense(3, name="per_step"), PeepholeGRU(2, stateful=True, name="c"), L.Dense(2),
             batch_size=1)
    m = import_model(km)
    assert [getattr(l, "cell", None) for l in m.layers] == ["peephole_lstm", "peephole_gru", None,
                                                           "peephole_gru", None]
    assert [l.input_dim for l in m.layers] == [3, 5, 4, 3, 2]
    assert m.stateful and not m.layers[1].reset_after and m.layers[1].go_backwards
    for i, name in [(0, "a"), (1, "b"), (3, "c")]:
        np.testing.assert_array_equal(m.layers[i].p, np_(km.get_layer(name).cell.peephole_kernel))


def test_peephole_keras_and_ir_files_round_trip(tmp_path):
    km = seq(L.Bidirectional(PeepholeGRU(3, return_sequences=True), merge_mode="mul"),
             L.RNN(PeepholeLSTMCell(2)), L.Dense(2, activation="softmax"), name="peep")
    p = tmp_path / "peep.keras"
    km.save(p)
    a, b = import_model(km), load_keras_model(str(p))
    ir.save(str(tmp_path / "peep.rnnmcu"), b)
    c, _ = ir.load(str(tmp_path / "peep.rnnmcu"))
    for m in (b, c):
        assert m.layers[0].forward.cell == "peephole_gru" and m.layers[1].cell == "peephole_lstm"
        np.testing.assert_array_equal(m.layers[0].forward.p, a.layers[0].forward.p)
        np.testing.assert_array_equal(m.layers[0].backward.p, a.layers[0].backward.p)
        np.testing.assert_array_equal(m.layers[1].p, a.layers[1].p)
        np.testing.assert_array_equal(m.layers[1].U, a.layers[1].U)


def test_time_distributed_dense_and_dropped_layers():
    km = seq(L.GaussianNoise(0.1), L.SimpleRNN(4, return_sequences=True), L.Dropout(0.5),
             L.SpatialDropout1D(0.2), L.GaussianDropout(0.1), L.AlphaDropout(0.1),
             L.TimeDistributed(L.Dense(2, use_bias=False), name="td"))
    m = import_model(km)
    assert [type(l).__name__ for l in m.layers] == ["Recurrent", "Dense"]
    d = m.layers[1]
    assert d.name == "td" and not d.b.any()
    np.testing.assert_array_equal(d.W, np_(km.get_layer("td").layer.kernel).T)
    assert m.output_sequence


@pytest.mark.parametrize("layer,want", [
    (lambda: L.Activation("softmax", name="x"), ("Softmax", None)),
    (lambda: L.Softmax(name="x"), ("Softmax", None)),
    (lambda: L.Activation("gelu", name="x"), ("Activation", "gelu")),
    (lambda: L.Activation("hard_swish", name="x"), ("Activation", "hard_silu")),
    (lambda: L.ReLU(name="x"), ("Activation", "relu")),
    (lambda: L.ReLU(max_value=6.0, name="x"), ("Activation", "relu6")),
    (lambda: L.LeakyReLU(negative_slope=0.2, name="x"), ("Activation", "leaky_relu")),
    (lambda: L.ELU(name="x"), ("Activation", "elu")),
])
def test_activation_layers(layer, want):
    m = import_model(seq(L.LSTM(3), L.Dense(4), layer()))
    last = m.layers[-1]
    assert type(last).__name__ == want[0] and last.dim == 4 and last.name == "x"
    if want[1]:
        assert last.activation == want[1]


def test_normalization_folded():
    keras.utils.set_random_seed(0)
    norm = L.Normalization(name="norm")
    data = np.random.default_rng(0).normal([1.0, -5.0, 100.0], [0.5, 2.0, 30.0], size=(50, T, F))
    data[..., 0] = 7.0  # a constant channel: variance 0 -> Keras divides by epsilon()
    norm.adapt(data.astype("float32"))
    km = seq(norm, L.LSTM(3))
    m = import_model(km)
    np.testing.assert_array_equal(m.norm_mean, np_(norm.mean).reshape(-1))
    want_std = np.maximum(np.sqrt(np_(norm.variance).reshape(-1)), np.float32(keras.config.epsilon()))
    np.testing.assert_array_equal(m.norm_std, want_std)
    assert m.norm_std[0] == np.float32(1e-7)
    # the folded form reproduces the layer's output exactly
    x = data[:2].astype("float32")
    np.testing.assert_allclose((x - m.norm_mean) / m.norm_std, np_(norm(x)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("order", ["mask_first", "norm_first"])
def test_masking_with_normalization(order):
    norm = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 9.0, 16.0])
    mask = L.Masking(mask_value=0.5 if order == "norm_first" else -1.0)
    km = seq(*([mask, norm] if order == "mask_first" else [norm, mask]), L.GRU(3))
    m = import_model(km)
    np.testing.assert_array_equal(m.norm_mean, [1, 2, 3])
    np.testing.assert_array_equal(m.norm_std, [2, 3, 4])
    if order == "mask_first":
        np.testing.assert_array_equal(m.mask_value, [-1, -1, -1])
    else:  # normalised 0.5 in sensor units
        np.testing.assert_array_equal(m.mask_value, [2.0, 3.5, 5.0])


def test_masking_alone():
    m = import_model(seq(L.Masking(mask_value=0.0), L.SimpleRNN(3)))
    np.testing.assert_array_equal(m.mask_value, [0, 0, 0])


@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("cell", ["simple", "lstm", "gru", "peephole_lstm", "peephole_gru_reset_before",
                                  "peephole_gru_cell"])
def test_bidirectional(merge, cell):
    inner = CELLS[cell][0](return_sequences=True)
    km = seq(L.Bidirectional(inner, merge_mode=merge, name="bi"), L.Dense(2))
    m = import_model(km)
    bi = m.layers[0]
    assert isinstance(bi, ir.Bidirectional) and bi.merge_mode == merge and bi.name == "bi"
    assert not bi.forward.go_backwards and bi.backward.go_backwards
    assert bi.return_sequences and bi.output_dim == (8 if merge == "concat" else 4)
    kb = km.get_layer("bi")
    np.testing.assert_array_equal(bi.forward.W, np_(kb.forward_layer.cell.kernel).T)
    np.testing.assert_array_equal(bi.backward.W, np_(kb.backward_layer.cell.kernel).T)
    assert not np.array_equal(bi.forward.W, bi.backward.W)
    assert m.layers[1].input_dim == bi.output_dim
    assert bi.forward.cell == bi.backward.cell == ir_cell(cell)
    if ir_cell(cell).startswith("peephole"):
        np.testing.assert_array_equal(bi.forward.p, np_(kb.forward_layer.cell.peephole_kernel))
        np.testing.assert_array_equal(bi.backward.p, np_(kb.backward_layer.cell.peephole_kernel))
        assert not np.array_equal(bi.forward.p, bi.backward.p)


def test_functional_model_and_name():
    keras.utils.set_random_seed(0)
    i = keras.Input((T, F), name="sensor")
    h = L.LSTM(4, return_sequences=True)(i)
    h = L.Dropout(0.1)(h)
    o = L.Dense(2)(L.GRU(3)(h))
    km = keras.Model(i, o, name="my-model 2")
    m = import_model(km)
    assert m.name == "my_model_2"
    assert [type(l).__name__ for l in m.layers] == ["Recurrent", "Recurrent", "Dense"]
    assert import_model(km, name="kws").name == "kws"
    with pytest.raises(InputError):
        import_model(km, name="9lives")


def test_nested_sequential_is_flattened():
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((T, 4)), L.GRU(3)], name="inner")
    km = keras.Sequential([keras.Input((T, F)), L.Dense(4), inner, L.Dense(1)])
    m = import_model(km)
    assert [type(l).__name__ for l in m.layers] == ["Dense", "Recurrent", "Dense"]


@pytest.mark.parametrize("raw,want", [("sequential_3", "sequential_3"), ("3d-net", "m_3d_net"),
                                      ("--", "model"), ("a.b", "a_b")])
def test_sanitise_name(raw, want):
    assert ki.sanitise_name(raw) == want


def test_trainer_package_import_is_tensorflow_free():
    import subprocess
    import sys

    code = ("import sys, rnnmcu.trainer, rnnmcu.codegen.activations; "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "assert not bad, bad; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# ---------------------------------------------------------------------------------------------
# the handler table
# ---------------------------------------------------------------------------------------------

def test_duplicate_registration_is_an_error():
    with pytest.raises(ValueError, match="LSTM"):
        ki.register(L.LSTM)(lambda layer, ctx: [])
    with pytest.raises(ValueError, match="GRUCell"):
        ki.register_cell(L.GRUCell)(lambda *a: None)


def test_supported_lists():
    layers = ki.supported_layers()
    for name in ["InputLayer", "Normalization", "Masking", "SimpleRNN", "LSTM", "GRU", "RNN",
                 "Bidirectional", "Dense", "TimeDistributed", "Dropout", "GaussianNoise",
                 "GaussianDropout", "AlphaDropout", "SpatialDropout1D", "Activation", "Softmax"]:
        assert name in layers
    for name in ["PeepholeLSTM", "PeepholeGRU"]:
        assert name in layers
    assert ki.supported_cells() == ["GRUCell", "LSTMCell", "PeepholeGRUCell", "PeepholeLSTMCell",
                                    "SimpleRNNCell"]


def test_a_new_cell_is_one_registration():
    class TwiceCell(L.SimpleRNNCell):
        pass

    km = seq(L.RNN(TwiceCell(3), name="twice"))
    with pytest.raises(UnsupportedModelError, match="TwiceCell"):
        import_model(km)
    ki.register_cell(TwiceCell)(ki.CELL_HANDLERS[L.SimpleRNNCell])
    try:
        assert import_model(km).layers[0].cell == "simple"
    finally:
        del ki.CELL_HANDLERS[TwiceCell]


# ---------------------------------------------------------------------------------------------
# unsupported models
# ---------------------------------------------------------------------------------------------

def _raises(km, *needles):
    with pytest.raises(UnsupportedModelError) as e:
        import_model(km)
    msg = str(e.value)
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    return msg


def test_conv1d_unsupported():
    msg = _raises(seq(L.Conv1D(4, 3, name="conv"), L.LSTM(3)), '"conv"', "Conv1D", "LSTM", "Dense",
                  "supported layers")
    assert "Bidirectional" in msg


def test_return_state_unused_imports_and_used_is_refused():
    keras.utils.set_random_seed(0)
    i = keras.Input((T, F))
    o, _, _ = L.LSTM(3, return_state=True, name="x")(i)
    m = import_model(keras.Model(i, L.Dense(2)(o)))   # the states go nowhere: the same chain
    assert [type(l).__name__ for l in m.layers] == ["Recurrent", "Dense"]
    i = keras.Input((T, F))
    _, h, _ = L.LSTM(3, return_state=True, name="y")(i)
    msg = _raises(keras.Model(i, L.Dense(2)(h)), 'LSTM layer "y"', "output 1", "return_state=True")
    assert "next:" in msg
    _raises(seq(L.GRU(3, return_state=True, name="z")), "2 outputs", "return_state=True")


def test_two_inputs_unsupported():
    keras.utils.set_random_seed(0)
    a, b = keras.Input((T, F), name="in_a"), keras.Input((T, F), name="in_b")
    o = L.LSTM(3)(L.Concatenate(name="cat")([a, b]))
    _raises(keras.Model([a, b], o, name="two"), '"two"', "2 inputs", "in_a", "InputLayer")


def test_merge_inside_unsupported():
    keras.utils.set_random_seed(0)
    i = keras.Input((T, F))
    o = L.LSTM(3)(L.Add(name="plus")([L.Dense(F)(i), i]))
    msg = _raises(keras.Model(i, o), 'Add layer "plus"', "2 input tensors", "chain of layers")
    assert "next:" in msg


def test_dense_only_unsupported():
    _raises(seq(L.Dense(4, name="d1"), L.Dense(2, name="d2"), name="flat"),
            '"flat"', "no recurrent layer", "d1 (Dense)", "LSTM")


def test_attention_unsupported():
    keras.utils.set_random_seed(0)
    i = keras.Input((T, F))
    h = L.LSTM(4, return_sequences=True)(i)
    o = L.Attention(name="att")([h, h])
    msg = _raises(keras.Model(i, o), 'Attention layer "att"', "attention")
    assert "next:" in msg


def test_softmax_recurrent_activation_unsupported():
    _raises(seq(L.LSTM(3, activation="softmax", name="x")),
            'LSTM layer "x"', "activation='softmax'", "tanh", "sigmoid")


@pytest.mark.parametrize("make,needles", [
    (lambda: [L.LSTM(3), L.Dense(2, activation="log_softmax", name="x")],
     ['Dense layer "x"', "'log_softmax'"]),
    (lambda: [L.LSTM(3), L.Activation("sparsemax", name="x")], ['Activation layer "x"', "sparsemax"]),
    (lambda: [L.GRU(3, recurrent_activation=lambda v: v * 2, name="x")],
     ['GRU layer "x"', "recurrent_activation", "custom"]),
    (lambda: [L.LSTM(3), L.LeakyReLU(name="x")], ['LeakyReLU layer "x"', "negative_slope=0.3"]),
    (lambda: [L.Bidirectional(L.LSTM(3), merge_mode=None, name="x")], ['Bidirectional layer "x"', "None"]),
    (lambda: [L.Normalization(mean=0.0, variance=1.0, invert=True, name="x"), L.LSTM(3)],
     ['Normalization layer "x"', "invert"]),
    (lambda: [L.Normalization(axis=None, mean=0.0, variance=1.0, name="x"), L.LSTM(3)],
     ['Normalization layer "x"', "axis"]),
    (lambda: [L.Dense(3), L.Masking(name="x"), L.LSTM(3)], ['Masking layer "x"', "input"]),
    (lambda: [L.LSTM(3, return_sequences=True), L.TimeDistributed(L.Dropout(0.1), name="x")],
     ['TimeDistributed layer "x"', "Dropout"]),
    (lambda: [L.Masking(), L.GRU(3, return_sequences=True), L.Softmax(name="x")],
     ['Softmax layer "x"', "mask"]),
    (lambda: [L.Masking(), L.GRU(3, return_sequences=True, zero_output_for_mask=True, name="x")],
     ['GRU layer "x"', "zero_output_for_mask"]),
    (lambda: [PeepholeGRU(3, recurrent_activation="softmax", name="x")],
     ['PeepholeGRU layer "x"', "recurrent_activation='softmax'"]),
    (lambda: [L.RNN(PeepholeLSTMCell(3, activation=lambda v: v * 2), name="x")],
     ['RNN layer "x"', "activation", "custom"]),
])
def test_unsupported_options(make, needles):
    _raises(seq(*make()), *needles)


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------

def test_keras_file_round_trip(tmp_path):
    norm = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    km = seq(norm, L.Masking(0.0), L.Bidirectional(L.GRU(3)), L.Dense(2, activation="softmax"),
             name="saved")
    p = tmp_path / "m.keras"
    km.save(p)
    a, b = import_model(km), load_keras_model(str(p))
    assert b.name == "saved" and b.source == str(p)
    assert load_keras_model(str(p), name="other").name == "other"
    for la, lb in zip(a.layers, b.layers):
        assert type(la) is type(lb)
        for attr in ("W", "U", "b", "b_rec"):
            if hasattr(la, attr):
                np.testing.assert_array_equal(getattr(la, attr), getattr(lb, attr))
    np.testing.assert_array_equal(a.layers[0].backward.W, b.layers[0].backward.W)
    np.testing.assert_array_equal(b.mask_value, [1.0, 2.0, 3.0])
    # and through the IR file format
    ir.save(str(tmp_path / "m.rnnmcu"), b)
    c, _ = ir.load(str(tmp_path / "m.rnnmcu"))
    np.testing.assert_array_equal(c.layers[0].forward.U, b.layers[0].forward.U)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_keras_model(str(tmp_path / "nope.keras"))


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04garbage"])
def test_corrupt_file(tmp_path, content):
    p = tmp_path / "bad.keras"
    p.write_bytes(content)
    with pytest.raises(InputError, match="cannot load"):
        load_keras_model(str(p))


# ---------------------------------------------------------------------------------------------
# Keras semantics the references must match (documented in keras_import's docstring)
# ---------------------------------------------------------------------------------------------

def _x(seed=0, b=1):
    return np.random.default_rng(seed).normal(size=(b, T, F)).astype("float32")


def _simple_weights(layer):
    c = layer.cell
    return np_(c.kernel).T.astype(np.float64), np_(c.recurrent_kernel).T.astype(np.float64), np_(c.bias)


def test_semantics_a_masked_steps_repeat_previous_output():
    rnn = L.SimpleRNN(3, return_sequences=True)
    km = seq(L.Masking(0.0), rnn)
    x = _x()
    x[0, 1] = 0.0          # a masked step in the middle
    x[0, 4:] = 0.0         # post-padding
    y = km.predict(x, verbose=0)[0]
    W, U, b = _simple_weights(rnn)
    valid = np_rnn_simple(x[0, [0, 2, 3]], W, U, b)
    np.testing.assert_allclose(y[[0, 2, 3]], valid, atol=1e-5)
    np.testing.assert_array_equal(y[1], y[0])     # previous output, not zeros
    np.testing.assert_array_equal(y[4], y[3])
    np.testing.assert_array_equal(y[5], y[3])
    x2 = _x()
    x2[0, :2] = 0.0        # pre-padding: zeros before the first valid step
    y2 = km.predict(x2, verbose=0)[0]
    assert not y2[:2].any() and y2[2].any()


def test_semantics_b_go_backwards_returns_processing_order():
    rnn = L.SimpleRNN(3, return_sequences=True, go_backwards=True)
    km = seq(rnn)
    x = _x()
    y = km.predict(x, verbose=0)[0]
    W, U, b = _simple_weights(rnn)
    np.testing.assert_allclose(y, np_rnn_simple(x[0], W, U, b, backwards=True), atol=1e-5)
    # with post-padding masked: the padding is consumed first, giving zeros at the front
    km2 = seq(L.Masking(0.0), L.SimpleRNN(3, return_sequences=True, go_backwards=True))
    xm = x.copy()
    xm[0, 4:] = 0.0
    W, U, b = _simple_weights(km2.layers[-1])
    y2 = km2.predict(xm, verbose=0)[0]
    assert not y2[:2].any()
    np.testing.assert_allclose(y2[2:], np_rnn_simple(xm[0, :4], W, U, b, backwards=True), atol=1e-5)


def test_semantics_b_mask_passed_on_after_go_backwards_is_not_reversed():
    first = L.SimpleRNN(3, return_sequences=True, go_backwards=True)
    second = L.SimpleRNN(2, return_sequences=True)
    km = seq(L.Masking(0.0), first, second)
    x = _x()
    x[0, 4:] = 0.0                    # input steps 4, 5 masked
    y = km.predict(x, verbose=0)[0]
    W1, U1, b1 = _simple_weights(first)
    W2, U2, b2 = _simple_weights(second)
    h1 = np.concatenate([np.zeros((2, 3)), np_rnn_simple(x[0, :4], W1, U1, b1, backwards=True)])
    # the second layer skips positions 4, 5 of ITS input (the original mask), i.e. it consumes
    # h1[0..3], two of which are the zero outputs for the consumed padding
    want = np_rnn_simple(h1[:4], W2, U2, b2)
    np.testing.assert_allclose(y[:4], want, atol=1e-5)
    np.testing.assert_array_equal(y[4], y[3])
    np.testing.assert_array_equal(y[5], y[3])


def test_semantics_c_bidirectional_alignment_and_masked_zeros():
    bi = L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="concat")
    km = seq(bi)
    x = _x()
    y = km.predict(x, verbose=0)[0]
    Wf, Uf, bf = _simple_weights(bi.forward_layer)
    Wb, Ub, bb = _simple_weights(bi.backward_layer)
    np.testing.assert_allclose(y[:, :3], np_rnn_simple(x[0], Wf, Uf, bf), atol=1e-5)
    # backward half flipped back: row t = after consuming steps T-1 .. t
    np.testing.assert_allclose(y[:, 3:], np_rnn_simple(x[0], Wb, Ub, bb, backwards=True)[::-1], atol=1e-5)
    # masked: zeros at masked steps in both halves (not the previous output)
    bi2 = L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="concat")
    km2 = seq(L.Masking(0.0), bi2)
    xm = x.copy()
    xm[0, 4:] = 0.0
    y2 = km2.predict(xm, verbose=0)[0]
    assert not y2[4:].any()
    Wf, Uf, bf = _simple_weights(bi2.forward_layer)
    Wb, Ub, bb = _simple_weights(bi2.backward_layer)
    np.testing.assert_allclose(y2[:4, :3], np_rnn_simple(xm[0, :4], Wf, Uf, bf), atol=1e-5)
    np.testing.assert_allclose(y2[:4, 3:], np_rnn_simple(xm[0, :4], Wb, Ub, bb, backwards=True)[::-1],
                               atol=1e-5)
    # return_sequences=False: the backward half is its final output (after consuming step 0)
    bi3 = L.Bidirectional(L.SimpleRNN(3), merge_mode="concat")
    km3 = seq(bi3)
    y3 = km3.predict(x, verbose=0)[0]
    Wb, Ub, bb = _simple_weights(bi3.backward_layer)
    np.testing.assert_allclose(y3[3:], np_rnn_simple(x[0], Wb, Ub, bb, backwards=True)[-1], atol=1e-5)


def test_every_keras_cell_the_importer_takes_is_in_the_cell_table():
    """rnnmcu/facts.py names the Keras classes of each cell (the size estimate reads them): every
    cell class the importer registers is there, and imports as the cell the table says."""
    from rnnmcu import facts

    for cls in ki.CELL_HANDLERS:
        cell = facts.cell_of_keras(cls.__name__)
        assert cell is not None, cls.__name__
    layer = {"SimpleRNNCell": keras.layers.SimpleRNN(3), "LSTMCell": keras.layers.LSTM(3),
             "GRUCell": keras.layers.GRU(3), "PeepholeLSTMCell": PeepholeLSTM(3), "PeepholeGRUCell": PeepholeGRU(3)}
    for name, rnn in layer.items():
        m = import_model(keras.Sequential([keras.Input((5, 2)), rnn]), name="t")
        assert m.layers[0].cell == facts.cell_of_keras(name).name, name
