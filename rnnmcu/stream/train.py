"""Training for streaming: the model sees long recordings as the device does — one continuous
stream, state carried from one training window to the next — so what is evaluated on the stream
(`rnnmcu stream-eval`) is what runs on the device.

Each recording is cut into ``batch`` contiguous parts that run side by side (row b of every batch
continues row b of the previous one); a stateful recurrent layer carries its state across the
consecutive windows of an epoch and is reset at the start of each epoch.  Labels:

* ``step``: per-step labels (``y_step`` of rnnmcu stream-data: the gesture class from the middle of
  a gesture to a little after its end, idle elsewhere); the model outputs a class at every step.
* ``sequence``: one label per window (the class at the window's last step), the recurrent layer
  returns its last state only; the device steps it once per sample all the same.

The saved model is the trained network with a batch size of one and ``stateful=True`` (it imports as
a streaming model: rnnmcu convert); calibration data for the conversion is written beside it
(``<out>.calib.npz``: windows of the training streams, full length)."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from rnnmcu.errors import InputError


def _load(paths: list[str]) -> list[dict[str, np.ndarray]]:
    recs = []
    for p in paths:
        if not os.path.isfile(p):
            raise InputError(f"recording {p} does not exist", "make one with rnnmcu stream-data")
        with np.load(p, allow_pickle=False) as z:
            if "x_stream" not in z.files or "y_step" not in z.files:
                raise InputError(f"{p} has no x_stream / y_step", "a labelled recording comes from rnnmcu stream-data")
            recs.append({k: z[k] for k in z.files})
    return recs


def _parallel(x: np.ndarray, y: np.ndarray, batch: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, F) -> (n_windows, batch, window, F): ``batch`` contiguous parts side by side."""
    per = (len(x) // batch) // window * window
    if per == 0:
        raise InputError(f"a recording of {len(x)} samples is too short for {batch} x {window}-step windows",
                         "use a longer recording or a smaller --window")
    xs = x[:per * batch].reshape(batch, per // window, window, -1).transpose(1, 0, 2, 3)
    ys = y[:per * batch].reshape(batch, per // window, window).transpose(1, 0, 2)
    return xs, ys


def build(n_features: int, n_classes: int, *, cell: str, units: int, batch: int, window: int | None,
          mean: np.ndarray, var: np.ndarray, per_step: bool):
    import keras
    from keras import layers as L

    from rnnmcu import facts

    # the cell's Keras layer, by its rnnmcu train --cell name (the cell table's first Keras class)
    rnn = getattr(L, next(c.keras[0] for c in facts.CELLS if c.cli == cell and not c.peephole))
    inp = keras.Input(batch_shape=(batch, window, n_features))
    h = L.Normalization(mean=mean, variance=var)(inp)
    h = rnn(units, return_sequences=per_step, stateful=True)(h)
    out = L.Dense(n_classes, activation="softmax")(h)
    return keras.Model(inp, out, name="stream_model")


def train_stream(paths: list[str], out_path: str, *, cell: str = "gru", units: int = 16, window: int = 64,
                 epochs: int = 10, labels: str = "step", batch: int = 8, seed: int = 0,
                 learning_rate: float = 5e-3) -> dict[str, Any]:
    if not out_path.endswith(".keras"):
        raise InputError(f"{out_path}: the model is written as .keras", "use -o model.keras")
    if labels not in ("step", "sequence"):
        raise InputError(f"--labels {labels!r}: use step or sequence")
    recs = _load(paths)
    import keras

    keras.utils.set_random_seed(seed)
    names = [str(c) for c in recs[0].get("class_names", [])]
    n_classes = max(len(names), int(max(r["y_step"].max() for r in recs)) + 1)
    xs, ys = zip(*[_parallel(r["x_stream"].astype(np.float32), r["y_step"], batch, window) for r in recs])
    allx = np.concatenate([r["x_stream"] for r in recs]).astype(np.float64)
    mean, var = allx.mean(0), allx.var(0) + 1e-6
    per_step = labels == "step"
    model = build(allx.shape[1], n_classes, cell=cell, units=units, batch=batch, window=window,
                  mean=mean, var=var, per_step=per_step)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = []
    for _ in range(epochs):
        losses, accs = [], []
        for X, Y in zip(xs, ys):          # one recording after the other, each from a fresh state
            model.reset_states() if hasattr(model, "reset_states") else None
            for layer in model.layers:
                if hasattr(layer, "reset_state") and getattr(layer, "stateful", False):
                    layer.reset_state()
            for w in range(len(X)):
                target = Y[w] if per_step else Y[w][:, -1]
                loss, acc = model.train_on_batch(X[w], target)
                losses.append(float(loss))
                accs.append(float(acc))
        history.append({"loss": round(float(np.mean(losses)), 4), "accuracy": round(float(np.mean(accs)), 4)})
    # the deployable copy: batch 1, any length, stateful, same weights
    deploy = build(allx.shape[1], n_classes, cell=cell, units=units, batch=1, window=None, mean=mean, var=var,
                   per_step=per_step)
    deploy.set_weights(model.get_weights())
    deploy.save(out_path)
    calib = out_path[:-len(".keras")] + ".calib.npz"
    cx = np.concatenate([x.reshape(-1, window * 4 if x.shape[0] >= 4 else window, x.shape[-1])[:64]
                         for x in (r["x_stream"][: (len(r["x_stream"]) // (window * 4)) * window * 4]
                                   for r in recs) if len(x)])
    np.savez(calib, x=cx.astype(np.float32), y=np.zeros(len(cx), dtype=np.int64),
             class_names=np.array(names or [str(i) for i in range(n_classes)]))
    return {"model": out_path, "calibration": calib, "labels": labels, "cell": cell, "units": units,
            "window": window, "batch": batch, "epochs": epochs, "classes": names, "history": history}
