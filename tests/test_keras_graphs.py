"""Keras graphs as users write them, imported through Keras' own node graph: functional models
with the mask riding along as a second tensor, nested models, folded BatchNormalization /
Rescaling / Normalization, RNN over StackedRNNCells, return_state left unused.  Each accepted
graph is checked against Keras itself (the float reference within 1e-5, variable lengths and
masked steps included); each refused one must name the layer and give a next step."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402  (installed by make setup: missing is a setup bug, never a skip)

from rnnmcu import ir  # noqa: E402
from rnnmcu.codegen import float_ref  # noqa: E402
from rnnmcu.errors import UnsupportedModelError  # noqa: E402
from rnnmcu.trainer.keras_import import import_model  # noqa: E402

from codegen_helpers import keras_on_lengths  # noqa: E402

L = keras.layers
pytestmark = [pytest.mark.keras,
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
              # Keras warns that a nested model 'destroys' the mask; at run time it does not (checked)
              pytest.mark.filterwarnings("ignore:Layer '.*' \\(of type .*\\) was passed an input with a mask")]
F = 3


def functional(*layers, f=F, t=None, name=None):
    """``keras.Model(x, layers(...(x)))``: the functional form of a chain."""
    x = keras.Input((t, f))
    h = x
    for layer in layers:
        h = layer(h)
    return keras.Model(x, h, name=name)


def randomise(model, seed=0):
    """Non-trivial weights, and BatchNormalization statistics far from the identity."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.normal(0.0, 0.5, size=tuple(w.shape)).astype("float32"))
    for layer in _all_layers(model):
        if isinstance(layer, L.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 2, tuple(layer.moving_mean.shape)).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.1, 4, tuple(layer.moving_variance.shape)).astype("float32"))
    return model


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def data(seed=0, b=6, t=9, f=F, masked=True):
    """Sensor-like sequences (offsets and scales per channel), variable lengths, and (``masked``)
    all-zero steps inside the lengths, which a Masking(0.0) layer skips."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(0, 1, (b, t, f)) * rng.uniform(0.5, 3, f) + rng.normal(0, 2, f)).astype(np.float32)
    lengths = rng.integers(3, t + 1, b)
    lengths[0] = t
    for i in range(b):
        x[i, lengths[i]:] = 0.0
    if masked:
        x[0, 2] = 0.0
        x[1, 0] = 0.0
    return x, lengths


def agrees(km, masked=True, seed=0):
    """Import ``km`` and check the float reference against Keras; returns the IR model."""
    m = import_model(km)
    x, lengths = data(seed, masked=masked)
    np.testing.assert_allclose(float_ref.forward(m, x, lengths), keras_on_lengths(km, x, lengths),
                               atol=1e-5, rtol=1e-5)
    return m


def kinds(m):
    return [type(layer).__name__ for layer in m.layers]


# ---------------------------------------------------------------------------------------------
# functional graphs with Masking: the mask is a second tensor on every node after it
# ---------------------------------------------------------------------------------------------

GRAPHS = {
    "masking_lstm_softmax": lambda: functional(L.Masking(0.0), L.LSTM(6), L.Dense(3, activation="softmax")),
    "masking_gru_seq_gru": lambda: functional(L.Masking(0.0), L.GRU(5, return_sequences=True), L.GRU(4),
                                              L.Dense(3, activation="softmax")),
    "masking_bidirectional_gru": lambda: functional(L.Masking(0.0), L.Bidirectional(L.GRU(4)),
                                                    L.Dense(3, activation="softmax")),
    "masking_simple_rnn": lambda: functional(L.Masking(0.0), L.SimpleRNN(4)),
    "masking_td_dense_softmax_act": lambda: functional(L.Masking(0.0), L.LSTM(4, return_sequences=True),
                                                       L.TimeDistributed(L.Dense(3)), L.Activation("softmax")),
    "masking_per_step_dense_front": lambda: functional(L.Masking(0.0), L.Dense(5, activation="relu"),
                                                       L.Dropout(0.2), L.GRU(4), L.Dense(2)),
    "normalization_masking_rnn_cell": lambda: functional(
        L.Normalization(mean=[1.0, -2.0, 0.5], variance=[4.0, 1.0, 0.25]), L.Masking(0.0),
        L.RNN(L.LSTMCell(4), return_sequences=True), L.GaussianNoise(0.1), L.SimpleRNN(3)),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_functional_masked_graph_matches_keras(name, tmp_path):
    km = randomise(GRAPHS[name]())
    m = agrees(km)
    assert m.masking == "value" and m.mask_value is not None
    # loaded from a .keras file, the mask edges are the saved copy of Masking's computation
    km.save(tmp_path / "m.keras")
    back = agrees(keras.saving.load_model(tmp_path / "m.keras"))
    assert kinds(back) == kinds(m) and back.masking == "value"
    # the Sequential spelling of the same layers imports to the same IR
    seq = keras.Sequential([keras.Input((None, F)), *km.layers[1:]])
    m2 = import_model(seq)
    assert kinds(m2) == kinds(m)
    for a, b in zip(m.layers, m2.layers):
        for attr in ("W", "U", "b"):
            if hasattr(a, attr):
                np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))


def test_masking_skips_a_real_all_zero_step_as_keras_does():
    km = randomise(functional(L.Masking(0.0), L.GRU(4)))
    m = agrees(km)
    x, lengths = data(masked=True)
    nomask = import_model(randomise(functional(L.GRU(4))))
    assert nomask.masking == "lengths" and m.masking == "value"
    # with the Masking layer, the zero step inside sequence 0 changes nothing: skipped
    y_skip = float_ref.forward(m, np.delete(x[:1], 2, axis=1), np.array([lengths[0] - 1]))
    np.testing.assert_allclose(float_ref.forward(m, x[:1], lengths[:1]), y_skip, atol=1e-12)


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_nested_sequential_in_functional(where, tmp_path):
    if where == "outside":  # the mask enters the nested model and comes out with its output
        inner = keras.Sequential([keras.Input((None, F)), L.LSTM(4, return_sequences=True), L.Dense(3)],
                                 name="inner")
        km = functional(L.Masking(0.0), inner, L.GRU(3), L.Dense(2))
    else:                   # the mask is made inside the nested model
        inner = keras.Sequential([keras.Input((None, F)), L.Masking(0.0), L.LSTM(4, return_sequences=True)],
                                 name="inner")
        km = functional(inner, L.GRU(3), L.Dense(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = agrees(randomise(km))
        km.save(tmp_path / "m.keras")
        back = agrees(keras.saving.load_model(tmp_path / "m.keras"))
    assert m.masking == "value" and len([k for k in kinds(m) if k == "Recurrent"]) == 2
    assert kinds(back) == kinds(m)


def test_functional_in_functional_and_sequential_in_sequential():
    inner = functional(L.Masking(0.0), L.LSTM(4, return_sequences=True), name="inner_f")
    km = functional(inner, L.Bidirectional(L.GRU(3)), L.Dense(2, activation="softmax"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agrees(randomise(km))
    inner_s = keras.Sequential([keras.Input((None, F)), L.BatchNormalization(), L.GRU(4, return_sequences=True)])
    km2 = keras.Sequential([keras.Input((None, F)), inner_s, L.SimpleRNN(3), L.Dense(2)])
    m = agrees(randomise(km2), masked=False)
    assert kinds(m) == ["Recurrent", "Recurrent", "Dense"] and m.masking == "lengths"


# ---------------------------------------------------------------------------------------------
# folded affine layers
# ---------------------------------------------------------------------------------------------

BN = {
    "after_input": lambda: functional(L.BatchNormalization(), L.LSTM(4), L.Dense(2)),
    "after_masking": lambda: functional(L.Masking(0.0), L.BatchNormalization(), L.GRU(4), L.Dense(2)),
    "after_normalization": lambda: functional(L.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0]),
                                              L.BatchNormalization(), L.SimpleRNN(4)),
    "between_recurrent": lambda: functional(L.Masking(0.0), L.LSTM(5, return_sequences=True),
                                            L.BatchNormalization(), L.GRU(3), L.Dense(2)),
    "before_bidirectional": lambda: functional(L.LSTM(5, return_sequences=True), L.BatchNormalization(),
                                               L.Bidirectional(L.GRU(3), merge_mode="sum")),
    "after_recurrent_before_dense": lambda: functional(L.LSTM(4), L.BatchNormalization(), L.Dropout(0.5),
                                                       L.Dense(3, activation="softmax")),
    "after_relu_dense": lambda: functional(L.GRU(4), L.Dense(5, activation="relu"), L.BatchNormalization(),
                                           L.Dense(2, activation="softmax")),
    "after_linear_dense": lambda: functional(L.LSTM(4), L.Dense(5), L.BatchNormalization(),
                                             L.Activation("tanh"), L.Dense(2)),
    "after_per_step_dense": lambda: functional(L.Masking(0.0), L.Dense(4, activation="tanh"),
                                               L.BatchNormalization(), L.LSTM(3)),
    "after_td_dense_sequence_out": lambda: functional(L.Masking(0.0), L.GRU(4, return_sequences=True),
                                                      L.TimeDistributed(L.Dense(3)), L.BatchNormalization(),
                                                      L.Activation("softmax")),
    "two_in_a_row": lambda: functional(L.LSTM(4, return_sequences=True), L.BatchNormalization(),
                                       L.BatchNormalization(), L.GRU(3)),
    "no_center_no_scale": lambda: functional(L.BatchNormalization(center=False, scale=False), L.GRU(3),
                                             L.BatchNormalization(center=False), L.Dense(2)),
}


@pytest.mark.parametrize("name", BN)
def test_batch_normalization_folds(name):
    km = randomise(BN[name]())
    m = agrees(km, masked=any(isinstance(k, L.Masking) for k in km.layers))
    assert not any("batch" in layer.name for layer in m.layers)   # nothing emitted for it
    if name.startswith("after_input") or name in ("after_masking", "after_normalization"):
        # before the first computing layer it is part of the input standardisation
        assert np.any(m.norm_std != 1) and np.any(m.norm_mean != 0)


def test_batch_normalization_negative_gamma_at_input_gives_negative_std():
    km = randomise(functional(L.BatchNormalization(), L.GRU(3)))
    bn = km.layers[1]
    bn.gamma.assign(np.array([-1.5, 0.7, -0.2], np.float32))
    m = agrees(km, masked=False)
    assert np.sign(m.norm_std).tolist() == [-1, 1, -1]


def test_batch_normalization_zero_gamma_at_input_folds_into_the_first_layer():
    km = randomise(functional(L.BatchNormalization(), L.LSTM(3), L.Dense(2)))
    km.layers[1].gamma.assign(np.array([0.0, 0.7, 1.0], np.float32))
    m = agrees(km, masked=False)
    assert np.all(m.norm_std == 1) and not m.layers[0].W[:, 0].any()   # channel 0 is constant


def test_rescaling_and_mid_model_normalization_fold():
    km = randomise(functional(L.Rescaling(0.5, offset=-1.0), L.LSTM(4, return_sequences=True),
                              L.Normalization(mean=[0.1] * 4, variance=[0.3] * 4), L.GRU(3),
                              L.Rescaling([2.0, -1.0, 0.5]), L.Dense(2)))
    m = agrees(km, masked=False)
    assert kinds(m) == ["Recurrent", "Recurrent", "Dense"]
    np.testing.assert_allclose(m.norm_std, 2.0) and np.testing.assert_allclose(m.norm_mean, 2.0)


def test_fold_functions_equal_an_explicit_diagonal_dense():
    """ir.fold_affine_*: the folded layer equals the affine map as its own (diagonal) Dense."""
    rng = np.random.default_rng(3)
    a, c = rng.normal(0, 2, 4), rng.normal(0, 1, 4)
    diag = ir.Dense(W=np.diag(a), b=c)
    rec = ir.Recurrent(cell="gru", units=3, input_dim=4, W=rng.normal(size=(9, 4)), U=rng.normal(size=(9, 3)),
                       b=rng.normal(size=9), b_rec=rng.normal(size=9))
    head = ir.Dense(W=rng.normal(size=(2, 3)), b=rng.normal(size=2))
    explicit = ir.Model(name="e", input_dim=4, layers=[diag, rec, head])
    folded = ir.Model(name="f", input_dim=4, layers=[ir.fold_affine_into(rec, a, c), head])
    x = rng.normal(0, 1, (3, 5, 4))
    np.testing.assert_allclose(float_ref.forward(folded, x), float_ref.forward(explicit, x), atol=1e-5)
    lin = ir.Dense(W=rng.normal(size=(4, 4)), b=rng.normal(size=4))
    after = ir.Model(name="g", input_dim=4, layers=[ir.fold_affine_after(lin, a, c), rec])
    both = ir.Model(name="h", input_dim=4, layers=[lin, diag, rec])
    np.testing.assert_allclose(float_ref.forward(after, x), float_ref.forward(both, x), atol=1e-5)
    m, s = ir.fold_affine_input(np.ones(4), np.full(4, 2.0), a, c)
    np.testing.assert_allclose((x - m) / s, a * (x - 1.0) / 2.0 + c, atol=1e-5)
    with pytest.raises(ir.IRError):
        ir.fold_affine_input(None, None, np.zeros(4), c)
    with pytest.raises(ir.IRError):
        ir.fold_affine_after(ir.Dense(W=np.eye(4), b=np.zeros(4), activation="relu"), a, c)


# ---------------------------------------------------------------------------------------------
# Keras 3 recurrent wrappers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("opts,masked", [({}, True), ({"return_sequences": True}, True),
                                         ({"go_backwards": True}, False),
                                         ({"go_backwards": True, "return_sequences": True}, False),
                                         ({"go_backwards": True}, True), ({"unroll": True}, False)])
def test_stacked_rnn_cells(opts, masked):
    cells = [L.LSTMCell(4), L.GRUCell(3), L.SimpleRNNCell(2)]
    front = [L.Masking(0.0)] if masked else []
    km = randomise(functional(*front, L.RNN(L.StackedRNNCells(cells), name="stack", **opts)))
    if opts.get("unroll"):
        km = randomise(keras.Sequential([keras.Input((9, F)), L.RNN(L.StackedRNNCells(
            [L.LSTMCell(4), L.GRUCell(3)]), unroll=True, name="stack")]))
        m = import_model(km)
        x, _ = data(masked=False)
        np.testing.assert_allclose(float_ref.forward(m, x), np.asarray(km(x)), atol=1e-5)
        return
    m = agrees(km, masked=masked)
    assert [layer.cell for layer in m.layers] == ["lstm", "gru", "simple"]
    assert [layer.name for layer in m.layers] == ["stack_0", "stack_1", "stack_2"]
    assert [layer.go_backwards for layer in m.layers] == [bool(opts.get("go_backwards")), False, False]
    assert [layer.return_sequences for layer in m.layers] == [True, True, bool(opts.get("return_sequences"))]


def test_stateful_functional_model_imports_as_streaming():
    x = keras.Input((None, F), batch_size=1)
    km = keras.Model(x, L.Dense(2)(L.GRU(3, stateful=True)(x)))
    assert import_model(km).stateful


# ---------------------------------------------------------------------------------------------
# refused graphs: the layer, what is supported, and a next step
# ---------------------------------------------------------------------------------------------

def _two_inputs():
    a, b = keras.Input((None, F), name="in_a"), keras.Input((None, F), name="in_b")
    return keras.Model([a, b], L.LSTM(2)(L.Concatenate()([a, b])))


def _skip():
    x = keras.Input((None, F))
    h = L.Dense(F, name="front")(x)
    return keras.Model(x, L.LSTM(2)(L.Add(name="skip")([h, x])))


def _initial_state():
    x = keras.Input((None, F))
    y, h, c = L.LSTM(4, return_sequences=True, return_state=True)(x)
    return keras.Model(x, L.LSTM(4, name="second")(y, initial_state=[h, c]))


def _explicit_mask():
    x = keras.Input((None, F))
    mask = keras.ops.any(keras.ops.not_equal(x, 0.0), axis=-1)
    return keras.Model(x, L.GRU(2, name="g")(x, mask=mask))


def _raw_op():
    x = keras.Input((None, F))
    return keras.Model(x, L.GRU(2)(x * 2.0))


def _shared():
    x = keras.Input((None, F))
    d = L.Dense(F, name="twice")
    return keras.Model(x, L.GRU(2)(d(d(x))))


def _two_outputs():
    x = keras.Input((None, F))
    h = L.GRU(2)(x)
    return keras.Model(x, [L.Dense(2)(h), L.Dense(3)(h)])


def _attention():
    x = keras.Input((None, F))
    h = L.LSTM(4, return_sequences=True)(x)
    return keras.Model(x, L.GRU(2)(L.Attention(name="att")([h, h])))


REFUSED = {
    "two inputs": (_two_inputs, ["2 inputs", "in_a"]),
    "skip connection": (_skip, ['Add layer "skip"', "2 input tensors", "front (Dense)"]),
    "initial_state": (_initial_state, ['LSTM layer "second"', "initial_state"]),
    "explicit mask": (_explicit_mask, ['GRU layer "g"', "mask="]),
    "keras.ops call": (_raw_op, ["keras.ops call", "multiply"]),
    "shared layer": (_shared, ['Dense layer "twice"', "more than once"]),
    "two outputs": (_two_outputs, ["2 outputs"]),
    "attention": (_attention, ['Attention layer "att"', "attention"]),
    "layer normalization": (lambda: functional(L.LSTM(4, return_sequences=True), L.LayerNormalization(name="ln"),
                                               L.GRU(2)), ['LayerNormalization layer "ln"', "BatchNormalization"]),
    "lambda": (lambda: functional(L.Lambda(lambda v: v * 2, name="lam"), L.GRU(2)),
               ['Lambda layer "lam"', "Python code"]),
    "batchnorm at the end": (lambda: functional(L.GRU(3), L.Dense(2, activation="softmax"),
                                                L.BatchNormalization(name="bn")),
                             ['BatchNormalization layer "bn"', "ends the model"]),
    "batchnorm before an activation": (lambda: functional(L.GRU(3), L.BatchNormalization(name="bn"),
                                                          L.Activation("relu"), L.Dense(2)),
                                       ['BatchNormalization layer "bn"', "Activation", "cannot be folded"]),
    "batchnorm over time": (lambda: functional(L.GRU(3, return_sequences=True), L.BatchNormalization(axis=1, name="bn"),
                                               L.GRU(2), t=9), ['BatchNormalization layer "bn"', "axis=1"]),
    "masking after batchnorm": (lambda: functional(L.BatchNormalization(), L.Masking(0.0, name="mk"), L.GRU(2)),
                                ['Masking layer "mk"', "BatchNormalization"]),
    "stacked cells in bidirectional": (
        lambda: functional(L.Bidirectional(L.RNN(L.StackedRNNCells([L.GRUCell(2), L.GRUCell(2)])), name="bi")),
        ["StackedRNNCells", "Bidirectional"]),
    "backward sequence with masking": (
        lambda: functional(L.Masking(0.0), L.Bidirectional(L.GRU(2, return_sequences=True), name="bi"), L.GRU(2)),
        ['Bidirectional layer "bi"', "backward pass"]),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused_graph_names_the_layer_and_the_next_step(name):
    make, needles = REFUSED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = make()
    with pytest.raises(UnsupportedModelError) as e:
        import_model(km)
    msg = str(e.value)
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    assert e.value.hint and "\n  next: " in msg, msg


def test_ir_masking_and_negative_std_round_trip(tmp_path):
    km = randomise(functional(L.Masking(0.0), L.BatchNormalization(), L.GRU(3)))
    km.layers[2].gamma.assign(np.array([-1.0, 1.0, 2.0], np.float32))
    with pytest.raises(UnsupportedModelError):      # Masking after BN: refused
        import_model(functional(L.BatchNormalization(), L.Masking(0.0), L.GRU(3)))
    m = import_model(km)
    ir.save(str(tmp_path / "m.rnnmcu"), m)
    back, _ = ir.load(str(tmp_path / "m.rnnmcu"))
    assert back.masking == "value" and back.norm_std[0] < 0
    np.testing.assert_array_equal(back.norm_std, m.norm_std)
    with pytest.raises(ir.IRError, match="non-zero"):
        ir.Model(name="z", input_dim=3, layers=m.layers, norm_std=np.array([1.0, 0.0, 1.0]))
