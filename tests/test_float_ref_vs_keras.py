"""The float reference (rnnmcu.codegen.float_ref) against Keras, the oracle for the float path:
``forward(import_model(km), x)`` must equal Keras' output within 1e-5 (absolute for outputs of
magnitude <= 1, relative beyond), over the layer / option / activation matrix."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from typing import Callable

import numpy as np
import pytest

import keras  # noqa: E402  (installed by make setup: missing is a setup bug, never a skip)

from rnnmcu import ir  # noqa: E402
from rnnmcu.codegen.float_ref import forward  # noqa: E402
from rnnmcu.trainer.cells import PeepholeGRU, PeepholeGRUCell, PeepholeLSTM, PeepholeLSTMCell  # noqa: E402
from rnnmcu.trainer.keras_import import import_model  # noqa: E402

L = keras.layers
# Keras 3.15's own convert_to_numpy trips a numpy 2 deprecation; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
T, F, B = 7, 3, 4
TOL = 1e-5


def build(layers: list, seed: int, t: int | None = T, batch_size: int | None = None,
          wscale: float = 0.5):
    keras.utils.set_random_seed(seed)
    km = keras.Sequential([keras.Input((t, F), batch_size=batch_size), *layers])
    rng = np.random.default_rng(seed)
    for w in km.trainable_weights:
        w.assign(rng.normal(0.0, wscale, size=tuple(w.shape)).astype("float32"))
    return km


def inputs(seed: int, pad: str = "", mask_value: float = 0.0, scale: float = 1.0,
           offset: float = 0.0) -> np.ndarray:
    """(B, T, F) inputs; ``pad`` lists the masked patterns to apply: "post" (sequence 1 padded
    at the end), "pre" (sequence 2 padded at the start), "mid" (sequence 3, one step masked)."""
    x = (np.random.default_rng(1000 + seed).normal(size=(B, T, F)) * scale + offset).astype("float32")
    if "post" in pad:
        x[1, 4:] = mask_value
    if "pre" in pad:
        x[2, :2] = mask_value
    if "mid" in pad:
        x[3, 3] = mask_value
    return x


def compare(km, x: np.ndarray) -> None:
    want = np.asarray(keras.ops.convert_to_numpy(km(x, training=False)), dtype=np.float64)
    got = forward(import_model(km), x)
    assert got.shape == want.shape, f"shape {got.shape} != keras {want.shape}"
    assert np.isfinite(want).all(), "the test model overflows in Keras: make it smaller"
    assert np.isfinite(got).all(), "float_ref output is not finite where Keras' is"
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    if err.max() > TOL:
        idx = np.unravel_index(int(np.argmax(err)), err.shape)
        bad = sorted({int(i[0]) for i in np.argwhere(err > TOL)})
        steps = sorted({int(i[1]) for i in np.argwhere(err > TOL)}) if err.ndim == 3 else None
        pytest.fail(f"float_ref differs from Keras by {err.max():.3g} at {idx}: got {got[idx]!r}, "
                    f"keras {want[idx]!r}; sequences {bad}, steps {steps}")


def rnn_over(cell_cls, units: int, **kw):
    """``keras.layers.RNN(cell_cls(units, cell options), layer options)`` from one kwargs dict."""
    layer_kw = {k: kw.pop(k) for k in list(kw) if k in ("return_sequences", "go_backwards",
                                                         "stateful", "unroll")}
    return L.RNN(cell_cls(units, **kw), **layer_kw)


CELLS: dict[str, Callable[..., object]] = {
    "simple": lambda **kw: L.SimpleRNN(5, **kw),
    "lstm": lambda **kw: L.LSTM(5, **kw),
    "gru": lambda **kw: L.GRU(5, **kw),
    "gru_reset_before": lambda **kw: L.GRU(5, reset_after=False, **kw),
    "peephole_lstm": lambda **kw: PeepholeLSTM(5, **kw),
    "peephole_gru": lambda **kw: PeepholeGRU(5, **kw),
    "peephole_gru_reset_before": lambda **kw: PeepholeGRU(5, reset_after=False, **kw),
}
# The cells inside a plain keras.layers.RNN (the wrappers above are that too, built for you).
PEEPHOLE_CELLS: dict[str, Callable[..., object]] = {
    "rnn_peephole_lstm_cell": lambda **kw: rnn_over(PeepholeLSTMCell, 5, **kw),
    "rnn_peephole_gru_cell": lambda **kw: rnn_over(PeepholeGRUCell, 5, **kw),
    "rnn_peephole_gru_cell_reset_before": lambda **kw: rnn_over(PeepholeGRUCell, 5, reset_after=False, **kw),
}
OPTIONS = {
    "last": {},
    "seq": {"return_sequences": True},
    "back_last": {"go_backwards": True},
    "back_seq": {"go_backwards": True, "return_sequences": True},
    "no_bias": {"use_bias": False, "return_sequences": True},
}


@pytest.mark.parametrize("opt", OPTIONS)
@pytest.mark.parametrize("cell", [*CELLS, *PEEPHOLE_CELLS])
def test_cell_options(cell, opt):
    km = build([{**CELLS, **PEEPHOLE_CELLS}[cell](**OPTIONS[opt])], seed=len(cell) + len(opt))
    compare(km, inputs(1))


@pytest.mark.parametrize("cell", ["peephole_lstm", "peephole_gru", "peephole_gru_reset_before"])
def test_peepholes_matter(cell):
    """Large peepholes, so a reference that ignored or misplaced them could not pass."""
    km = build([CELLS[cell](return_sequences=True)], seed=50)
    p = km.layers[0].cell.peephole_kernel
    p.assign(np.random.default_rng(50).choice([-2.0, 2.0], size=tuple(p.shape)).astype("float32"))
    x = inputs(50)
    compare(km, x)
    m = import_model(km)
    m.layers[0].p = np.zeros_like(m.layers[0].p)
    want = np.asarray(keras.ops.convert_to_numpy(km(x)))
    assert np.abs(forward(m, x) - want).max() > 1e-2


def _acts(cell: str) -> list[tuple[str, str]]:
    names = list(ir.ELEMENTWISE)
    rec = ["sigmoid", "hard_sigmoid", "tanh", "softsign", "hard_tanh", "relu6"]
    return [(a, rec[i % len(rec)] if cell != "simple" else "sigmoid") for i, a in enumerate(names)]


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru", "peephole_lstm", "peephole_gru_reset_before"])
def test_activation_matrix(cell):
    """Every IR activation as ``activation`` (and a set of gate activations), per cell; each
    activation also as a Dense activation on the output."""
    for i, (act, rec) in enumerate(_acts(cell)):
        kw = {"activation": act}
        if cell != "simple":
            kw["recurrent_activation"] = rec
        # small weights: exponential-like activations chained over steps amplify float32 rounding
        km = build([CELLS[cell](return_sequences=True, **kw), L.Dense(3, activation=act)], seed=i,
                   wscale=0.3)
        try:
            compare(km, inputs(i, scale=0.5))
        except pytest.fail.Exception as e:
            raise AssertionError(f"{cell} activation={act} recurrent_activation={rec}: {e}") from None


@pytest.mark.parametrize("rec", ["exponential", "gelu", "mish", "log_sigmoid", "squareplus", "elu"])
def test_unusual_gate_activations(rec):
    km = build([L.LSTM(4, recurrent_activation=rec, return_sequences=True)], seed=3, wscale=0.2)
    compare(km, inputs(3, scale=0.3))


@pytest.mark.parametrize("rec", ["exponential", "gelu", "mish", "log_sigmoid", "squareplus", "elu"])
def test_unusual_gate_activations_peephole(rec):
    km = build([PeepholeLSTM(4, recurrent_activation=rec, return_sequences=True),
                PeepholeGRU(3, recurrent_activation=rec, activation="softsign", return_sequences=True)],
               seed=4, wscale=0.2)
    compare(km, inputs(4, scale=0.3))


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_masking_padded(cell, seq):
    km = build([L.Masking(0.0), CELLS[cell](return_sequences=seq), L.Dense(2)], seed=7)
    compare(km, inputs(7, pad="post mid" if seq else "post pre mid"))


@pytest.mark.parametrize("cell", CELLS)
def test_masking_pre_padded_sequence_output(cell):
    km = build([L.Masking(0.0), CELLS[cell](return_sequences=True)], seed=7)
    compare(km, inputs(7, pad="post pre mid"))


def test_masking_pre_padded_then_dense():
    km = build([L.Masking(0.0), L.LSTM(4, return_sequences=True), L.Dense(2)], seed=7)
    compare(km, inputs(7, pad="pre"))


def test_masking_nonzero_value_after_normalization():
    norm = L.Normalization(mean=[1.0, -2.0, 0.5], variance=[4.0, 0.25, 1.0])
    km = build([norm, L.Masking(0.0), L.GRU(4, return_sequences=True)], seed=8)
    # raw padding value = the mean: normalised exactly 0
    x = inputs(8, offset=0.5)
    x[1, 4:] = [1.0, -2.0, 0.5]
    x[3, 3] = [1.0, -2.0, 0.5]
    compare(km, x)


def test_masking_before_normalization():
    norm = L.Normalization(mean=[1.0, -2.0, 0.5], variance=[4.0, 0.25, 1.0])
    km = build([L.Masking(-9.0), norm, L.LSTM(4, return_sequences=True), L.Dense(2)], seed=9)
    compare(km, inputs(9, pad="post mid", mask_value=-9.0))


def test_normalization_adapted():
    rng = np.random.default_rng(0)
    data = rng.normal([3.0, -1.0, 20.0], [2.0, 0.1, 5.0], size=(64, T, F)).astype("float32")
    norm = L.Normalization()
    norm.adapt(data)
    km = build([norm, L.LSTM(4), L.Dense(2, activation="softmax")], seed=10)
    compare(km, data[:B])


def test_stateful_first_window():
    km = build([L.LSTM(4, stateful=True, return_sequences=True), L.Dense(2)], seed=11, batch_size=B)
    m = import_model(km)
    assert m.stateful
    compare(km, inputs(11))


def test_unknown_length():
    km = build([L.GRU(4, return_sequences=True), L.GRU(3)], seed=12, t=None)
    compare(km, inputs(12))


@pytest.mark.parametrize("variant", ["stacked", "dense_per_step", "time_distributed", "softmax_head",
                                     "softmax_layer", "activation_layers", "dropouts",
                                     "stacked_peephole", "peephole_mixed"])
def test_structures(variant):
    body = {
        "stacked": [L.LSTM(6, return_sequences=True), L.GRU(5, return_sequences=True,
                                                             go_backwards=True), L.SimpleRNN(4)],
        "dense_per_step": [L.GRU(5, return_sequences=True), L.Dense(4, activation="relu"),
                           L.LSTM(3, return_sequences=True), L.Dense(2)],
        "time_distributed": [L.Dense(4, activation="tanh"), L.LSTM(5, return_sequences=True),
                             L.TimeDistributed(L.Dense(3, activation="sigmoid"))],
        "softmax_head": [L.LSTM(5), L.Dense(4, activation="softmax")],
        "softmax_layer": [L.GRU(5, return_sequences=True), L.Dense(4), L.Softmax()],
        "activation_layers": [L.SimpleRNN(5, return_sequences=True), L.Activation("selu"),
                              L.LSTM(4), L.ReLU(max_value=6.0), L.Dense(3), L.Activation("softmax")],
        "dropouts": [L.GaussianNoise(0.3), L.LSTM(5, return_sequences=True, dropout=0.3,
                                                   recurrent_dropout=0.3), L.Dropout(0.5),
                     L.SpatialDropout1D(0.3), L.GRU(3)],
        "stacked_peephole": [PeepholeLSTM(6, return_sequences=True),
                             PeepholeGRU(5, return_sequences=True, go_backwards=True, reset_after=False),
                             L.RNN(PeepholeGRUCell(4, use_bias=False), return_sequences=True),
                             L.RNN(PeepholeLSTMCell(3), go_backwards=True)],
        "peephole_mixed": [L.Dense(4, activation="tanh"), L.LSTM(5, return_sequences=True),
                           PeepholeLSTM(4, return_sequences=True, dropout=0.3, recurrent_dropout=0.3),
                           L.TimeDistributed(L.Dense(3)), L.GRU(3, return_sequences=True),
                           PeepholeGRU(4), L.Dense(2, activation="softmax")],
    }[variant]
    compare(build(body, seed=13), inputs(13))


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("merge", ir.MERGE_MODES)
def test_bidirectional(merge, seq):
    for i, cell in enumerate(["simple", "lstm", "gru", "gru_reset_before", "peephole_lstm",
                              "peephole_gru"]):
        km = build([L.Bidirectional(CELLS[cell](return_sequences=seq), merge_mode=merge), L.Dense(2)],
                   seed=20 + i)
        try:
            compare(km, inputs(20 + i))
        except pytest.fail.Exception as e:
            raise AssertionError(f"Bidirectional({cell}, merge_mode={merge}, "
                                 f"return_sequences={seq}): {e}") from None


def test_bidirectional_stacked():
    km = build([L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="concat"),
                L.Bidirectional(L.LSTM(3), merge_mode="ave"), L.Dense(2)], seed=30)
    compare(km, inputs(30))


@pytest.mark.parametrize("merge", ir.MERGE_MODES)
def test_bidirectional_over_peephole_cells(merge):
    """Bidirectional(RNN(cell)) (not the wrappers), stacked, every merge mode."""
    km = build([L.Bidirectional(L.RNN(PeepholeGRUCell(4, reset_after=False), return_sequences=True),
                                merge_mode=merge),
                L.Bidirectional(L.RNN(PeepholeLSTMCell(3)), merge_mode=merge), L.Dense(2)], seed=31)
    compare(km, inputs(31))


# --- masking combined with time reversal ------------------------------------------------------
# Keras: (b) a go_backwards layer consumes the padding too (outputs zeros / carries while it
# does) and returns processing order over all T steps; the mask passed on is not reversed.
# (c) inside Bidirectional, masked steps output zeros (zero_output_for_mask is forced).


def test_masking_go_backwards_last():
    km = build([L.Masking(0.0), L.LSTM(4, go_backwards=True), L.Dense(2)], seed=40)
    compare(km, inputs(40, pad="post pre mid"))


def test_masking_bidirectional_last():
    km = build([L.Masking(0.0), L.Bidirectional(L.GRU(4), merge_mode="concat")], seed=41)
    compare(km, inputs(41, pad="post pre mid"))


@pytest.mark.parametrize("layers", [
    lambda: [L.Masking(0.0), L.SimpleRNN(4, go_backwards=True, return_sequences=True)],
    lambda: [L.Masking(0.0), L.Bidirectional(L.SimpleRNN(4, return_sequences=True), merge_mode="sum")],
    lambda: [L.Masking(0.0), L.GRU(4, go_backwards=True, return_sequences=True), L.LSTM(3)],
], ids=["go_backwards_sequence", "bidirectional_sequence", "stacked_after_go_backwards"])
def test_masking_with_backward_sequences_is_refused(layers):
    """Keras keeps all T positions there (keras_import docstring (b), (c)); rnnmcu removes masked
    steps before the network, so the import refuses instead of computing something else."""
    from rnnmcu.errors import UnsupportedModelError

    km = build(layers(), seed=42)
    with pytest.raises(UnsupportedModelError, match="Masking"):
        import_model(km)
