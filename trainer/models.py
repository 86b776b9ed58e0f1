"""ModelSpec -> Keras model, from standard Keras layers only (so the importer handles it):

    Input(shape=(None, F))
    -> Normalization(axis=-1)           adapted per channel on the training data's real steps
    -> [SimpleRNN | LSTM | GRU | PeepholeLSTM | PeepholeGRU] x layers
                                        (each optionally in Bidirectional, then Dropout)
    -> Dense(dense, dense_activation)   only when spec.dense > 0
    -> Dense(classes, softmax)

The model takes raw sensor units: standardisation lives in the Normalization layer (which the
importer folds into the IR's ``norm_mean``/``norm_std``).  A channel that is constant on the
training data gets variance 1 (not 0), so a later non-constant value does not explode.

Variable-length data is trained through :func:`length_masked`, a second view of the same layers
whose mask comes from the data's ``lengths``, never from the values: a real step whose channels are
all 0.0 is data.  The saved model has no ``Masking`` layer, so it converts with length semantics
(``rnnmcu.ir.Model.masking == "lengths"``): the device runs every step it is given.

The peephole cells are the project's own (:mod:`rnnmcu.trainer.cells`), imported only when a
spec asks for them, so importing this module needs neither TensorFlow nor the cells.
"""
from __future__ import annotations

import numpy as np

from rnnmcu.errors import InputError
from rnnmcu.trainer.spec import AVAILABLE_CELLS, ModelSpec


def check_cell(cell: str) -> None:
    """Refuse cells that have no Keras implementation (without importing TF)."""
    if cell not in AVAILABLE_CELLS:
        raise InputError(f"cell {cell!r} is not available: rnnmcu has no Keras layer for it",
                         hint=f"train with one of {', '.join(AVAILABLE_CELLS)}")


def _rnn_class(cell: str):
    check_cell(cell)
    if cell.startswith("peephole"):
        from rnnmcu.trainer import cells

        return {"peephole-lstm": cells.PeepholeLSTM, "peephole-gru": cells.PeepholeGRU}[cell]
    import keras

    return {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]


def build_model(spec: ModelSpec, n_features: int, n_classes: int, norm_steps: np.ndarray,
                name: str = "rnnmcu_model"):
    """Build the Keras classifier (not compiled: :func:`compile_for_training` does that on the
    model that ``fit`` trains).

    ``norm_steps`` is ``(N, F)``: every real (non-padding) step of the training sequences; the
    Normalization layer is adapted on it."""
    import keras

    rnn = _rnn_class(spec.cell)
    if n_classes < 2:
        raise InputError(f"a classifier needs at least two classes, got {n_classes}")
    norm_steps = np.asarray(norm_steps, dtype=np.float32)
    if norm_steps.ndim != 2 or norm_steps.shape[1] != n_features or norm_steps.shape[0] == 0:
        raise InputError(f"normalisation data must be (steps, {n_features}); got {norm_steps.shape}")

    # Sequential (not functional): the graph then holds only these layers, no mask operations.
    layers: list = [keras.Input(shape=(None, n_features), name="input")]
    norm = keras.layers.Normalization(axis=-1, name="normalization")
    layers.append(norm)
    for i in range(spec.layers):
        last = i == spec.layers - 1
        layer = rnn(spec.units, activation=spec.activation, return_sequences=not last,
                    name=f"{spec.cell.replace('-', '_')}_{i}",
                    **({} if spec.cell == "rnn" else {"recurrent_activation": spec.recurrent_activation}))
        if spec.bidirectional:
            layer = keras.layers.Bidirectional(layer, merge_mode=spec.merge_mode, name=f"bidirectional_{i}")
        layers.append(layer)
        if spec.dropout > 0:
            layers.append(keras.layers.Dropout(spec.dropout, name=f"dropout_{i}"))
    if spec.dense > 0:
        layers.append(keras.layers.Dense(spec.dense, activation=spec.dense_activation, name="head"))
    layers.append(keras.layers.Dense(n_classes, activation="softmax", name="classes"))
    model = keras.Sequential(layers, name=name)

    # Adapt on the real steps only, then give constant channels variance 1.
    norm.adapt(norm_steps[None, :, :])
    w = norm.get_weights()  # mean, variance, count
    var = np.asarray(w[1], dtype=np.float32)
    if np.any(var <= 0):
        w[1] = np.where(var <= 0, np.float32(1.0), var).astype(np.float32)
        norm.set_weights(w)
        norm.finalize_state()
    return model


def compile_for_training(model, learning_rate: float, clipnorm: float = 0.0) -> None:
    """Adam (with gradient clipping when ``clipnorm`` > 0), sparse categorical cross-entropy."""
    import keras

    opt_kw = {"learning_rate": learning_rate}
    if clipnorm > 0:
        opt_kw["clipnorm"] = clipnorm
    model.compile(optimizer=keras.optimizers.Adam(**opt_kw), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])


_LENGTH_MASK: list = []


def length_mask_layer(**kw):
    """A layer ``[x, valid] -> x`` that attaches the boolean ``(batch, steps)`` mask ``valid`` to
    ``x``, as a Masking layer attaches its value mask; steps past a sequence's length are zeroed
    (they are masked anyway).  Built on first use: it subclasses a Keras class."""
    if not _LENGTH_MASK:
        import keras
        from keras import ops

        class LengthMask(keras.layers.Layer):
            def __init__(self, **kw):
                super().__init__(**kw)
                self.supports_masking = True

            def call(self, inputs):
                x, valid = inputs
                return ops.where(ops.expand_dims(ops.cast(valid, "bool"), -1), x, ops.zeros_like(x))

            def compute_mask(self, inputs, mask=None):
                return ops.cast(inputs[1], "bool")

            def compute_output_shape(self, input_shape):
                return input_shape[0]

        _LENGTH_MASK.append(LengthMask)
    return _LENGTH_MASK[0](**kw)


def length_masked(model):
    """The training view of a Sequential ``model``: inputs ``[x, valid]`` with ``valid`` the
    ``(batch, steps)`` mask of real steps (:func:`rnnmcu.trainer.datasets.valid_mask`), the same
    layers (and so the same weights) after a :func:`length_mask_layer`.  Fit and predict
    variable-length data through it; save ``model``."""
    import keras

    x = keras.Input(shape=model.input_shape[1:], name="x")
    valid = keras.Input(shape=model.input_shape[1:2], dtype="bool", name="valid")
    a = length_mask_layer(name="length_mask")([x, valid])
    for layer in model.layers:
        a = layer(a)
    return keras.Model([x, valid], a, name=f"{model.name}_by_length")
