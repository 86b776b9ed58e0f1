"""ModelSpec -> Keras model, from standard Keras layers only (so the importer handles it):

    Input(shape=(None, F))
    -> Masking(mask_value=0.0)          only when the data has padding (some length < T)
    -> Normalization(axis=-1)           adapted per channel on the training data's real steps
    -> [SimpleRNN | LSTM | GRU | PeepholeLSTM | PeepholeGRU] x layers
                                        (each optionally in Bidirectional, then Dropout)
    -> Dense(dense, dense_activation)   only when spec.dense > 0
    -> Dense(classes, softmax)

The model takes raw sensor units: standardisation lives in the Normalization layer (which the
importer folds into the IR's ``norm_mean``/``norm_std``), and masking happens on the raw input, so a
step whose channels are all exactly 0.0 is padding.  A channel that is constant on the training
data gets variance 1 (not 0), so a later non-constant value does not explode.

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
                masking: bool = False, name: str = "rnnmcu_model"):
    """Build and compile the Keras classifier.

    ``norm_steps`` is ``(N, F)``: every real (non-padding) step of the training sequences; the
    Normalization layer is adapted on it.  ``masking`` adds the Masking layer (padding = 0.0)."""
    import keras

    rnn = _rnn_class(spec.cell)
    if n_classes < 2:
        raise InputError(f"a classifier needs at least two classes, got {n_classes}")
    norm_steps = np.asarray(norm_steps, dtype=np.float32)
    if norm_steps.ndim != 2 or norm_steps.shape[1] != n_features or norm_steps.shape[0] == 0:
        raise InputError(f"normalisation data must be (steps, {n_features}); got {norm_steps.shape}")

    # Sequential (not functional): the graph then holds only these layers, no mask operations.
    layers: list = [keras.Input(shape=(None, n_features), name="input")]
    if masking:
        layers.append(keras.layers.Masking(mask_value=0.0, name="masking"))
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

    opt_kw = {"learning_rate": spec.learning_rate}
    if spec.clipnorm > 0:
        opt_kw["clipnorm"] = spec.clipnorm
    model.compile(optimizer=keras.optimizers.Adam(**opt_kw), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
