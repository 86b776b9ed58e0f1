"""Training: data file -> Keras classifier (.keras) + metrics (+ an optional report folder).

What :func:`train` does, in order:

1. loads and validates the data (``.npz`` or long-form ``.csv``; see :mod:`rnnmcu.trainer.datasets`);
2. splits off a stratified validation set (``spec.val_fraction`` of each class, seeded; every class
   with at least two sequences keeps at least one in each part);
3. builds the model (:mod:`rnnmcu.trainer.models`), Normalization adapted on the real training
   steps; variable-length data (``lengths``) is trained through a view of the same layers whose mask
   comes from the lengths (:func:`~rnnmcu.trainer.models.length_masked`), so a real all-zero step
   is data, and the saved model has no Masking layer;
4. fits with Adam + gradient clipping (``spec.clipnorm``), class weights (``auto``: inverse class
   frequency, so an imbalanced set does not collapse to the big class), ReduceLROnPlateau on the
   validation loss, early stopping on the validation loss with the best weights restored
   (``patience = 0`` trains all epochs and still restores the best);
5. with ``spec.qat``, fine-tunes for ``spec.qat_epochs`` more epochs with the int8 scheme's
   rounding simulated (:mod:`rnnmcu.trainer.qat`); the model keeps its plain Keras layers;
6. evaluates on the test split (``x_test``/``y_test``) if present, else on the validation split —
   padded sequences are evaluated at their true lengths;
7. saves the model atomically (a temporary ``.keras`` in the same folder, then ``os.replace``).

Determinism: ``keras.utils.set_random_seed(spec.seed)`` and TensorFlow's deterministic ops (on while
training only) make two trainings with the same seed and data give identical weights on the same
machine.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any

import numpy as np

from rnnmcu.errors import InputError
from rnnmcu.trainer import datasets
from rnnmcu.trainer.spec import ModelSpec


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)``: ``round(n_k * fraction)`` of each class k go to validation, at least
    one when the class has two or more sequences, never all of a class."""
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for k in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == k))
        n = idx.size
        nv = int(round(n * fraction))
        nv = min(max(nv, 1 if n >= 2 else 0), n - 1)
        va.append(idx[:nv])
        tr.append(idx[nv:])
    tr_i, va_i = np.sort(np.concatenate(tr)), np.sort(np.concatenate(va))
    if va_i.size == 0:
        raise InputError("too few sequences for a validation split (every class has a single sequence)",
                         hint="add sequences: each class needs at least two")
    return tr_i, va_i


def class_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    """Inverse class frequency, normalised so a balanced set gets 1.0 everywhere."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.ones(n_classes)
    w[present] = y.size / (present.sum() * counts[present])
    return {k: float(w[k]) for k in range(n_classes)}


def _progress_callback(total_epochs: int, enabled: bool, desc: str = "training"):
    import keras

    class TqdmEpochs(keras.callbacks.Callback):
        """One tqdm bar over epochs on stderr, with the latest losses."""

        def on_train_begin(self, logs=None):
            from tqdm import tqdm
            self.bar = tqdm(total=total_epochs, unit="epoch", file=sys.stderr, disable=not enabled,
                            desc=desc, dynamic_ncols=True, leave=True)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.set_postfix({k: f"{logs[k]:.3f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                                  if k in logs}, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return TqdmEpochs()


@contextlib.contextmanager
def _deterministic(seed: int):
    """Seed Python, numpy and TF, and turn TF's deterministic ops on for the duration."""
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    was = tf_config.is_op_determinism_enabled()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was:
            tf_config.disable_op_determinism()


def save_model_atomic(model, out_path: str) -> None:
    from rnnmcu.atomic import atomic_path

    with atomic_path(out_path, suffix=".keras") as tmp:
        model.save(tmp)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_metrics(cm: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for k, name in enumerate(names):
        tp = cm[k, k]
        pred = cm[:, k].sum()
        true = cm[k, :].sum()
        p = float(tp / pred) if pred else 0.0
        r = float(tp / true) if true else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[name] = {"precision": p, "recall": r, "f1": f1, "support": int(true)}
    return out


def _check_out_path(out_path: str) -> None:
    if not str(out_path).endswith(".keras"):
        raise InputError(f"{out_path}: the model file must end in .keras", hint="e.g. -o model.keras")
    d = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(d):
        raise InputError(f"{out_path}: folder {d} does not exist", hint="create it first")


def train(data_path: str, out_path: str, spec: ModelSpec, report_dir: str | None = None,
          progress: bool = True, *, variable_length: bool = False, window: int | None = None,
          hop: int | None = None, label_mode: str = "majority", test_fraction: float = 0.0,
          qat_scales: Any = None) -> dict[str, Any]:
    """Train a classifier on ``data_path`` and save it to ``out_path`` (``.keras``).

    ``variable_length`` lets a long-form CSV hold sequences of different lengths (padded);
    ``window``/``hop``/``label_mode``/``test_fraction`` window a CSV stream instead.
    ``qat_scales``: what computes the int8 scales a ``spec.qat`` fine-tune simulates
    (``rnnmcu.codegen.quantize.int8_scales``; :func:`rnnmcu.api.train` passes it).
    Returns the metrics dict (also written to ``report_dir/metrics.json`` when given)."""
    _check_out_path(out_path)
    from rnnmcu.trainer.models import check_cell
    check_cell(spec.cell)  # the 'not available yet' InputError before loading data or TensorFlow
    ds = datasets.load(data_path, variable_length=variable_length, window=window, hop=hop,
                       label_mode=label_mode, test_fraction=test_fraction)
    return train_dataset(ds, out_path, spec, report_dir=report_dir, progress=progress, source=str(data_path),
                         qat_scales=qat_scales)


def train_dataset(ds, out_path: str, spec: ModelSpec, report_dir: str | None = None, progress: bool = True,
                  source: str = "dataset", qat_scales: Any = None) -> dict[str, Any]:
    """:func:`train` on an already loaded :class:`rnnmcu.data.Dataset`."""
    _check_out_path(out_path)
    if spec.qat and qat_scales is None:
        raise ValueError("a quantisation-aware fine-tune needs qat_scales (rnnmcu.codegen.quantize.int8_scales): "
                         "train through rnnmcu.api.train, which passes it")
    datasets.validate(ds, source=source)
    from rnnmcu.trainer.models import build_model, compile_for_training, length_masked

    k = datasets.n_classes(ds)
    names = list(ds.class_names) if ds.class_names is not None else [str(i) for i in range(k)]
    x, y, lengths = ds.x.astype(np.float32), np.asarray(ds.y, dtype=np.int64), ds.lengths
    steps, f = x.shape[1], x.shape[2]
    by_length = datasets.has_padding(lengths, steps) or (
        ds.x_test is not None and datasets.has_padding(ds.lengths_test, ds.x_test.shape[1]))

    tr, va = stratified_split(y, spec.val_fraction, spec.seed)
    x_tr, y_tr, x_va, y_va = x[tr], y[tr], x[va], y[va]
    l_tr = lengths[tr] if lengths is not None else None
    l_va = lengths[va] if lengths is not None else None

    def inputs(xx: np.ndarray, ll: np.ndarray | None):
        """What the fitted model takes: x, or [x, valid] when it masks by length."""
        return [xx, datasets.valid_mask(xx, ll)] if by_length else xx

    t0 = time.monotonic()
    with _deterministic(spec.seed):
        import keras

        model = build_model(spec, f, k, datasets.valid_steps(x_tr, l_tr))
        fit_model = length_masked(model) if by_length else model
        compile_for_training(fit_model, spec.learning_rate, spec.clipnorm)
        patience = spec.patience if spec.patience > 0 else spec.epochs
        stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                restore_best_weights=True)
        callbacks = [
            stopper,
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                              patience=max(2, patience // 3), min_lr=spec.learning_rate / 64),
            _progress_callback(spec.epochs, progress),
        ]
        cw = class_weights(y_tr, k) if spec.class_weights == "auto" else None
        hist = fit_model.fit(inputs(x_tr, l_tr), y_tr, validation_data=(inputs(x_va, l_va), y_va),
                             epochs=spec.epochs, batch_size=spec.batch_size, shuffle=True,
                             class_weight=cw, verbose=0, callbacks=callbacks)

        def predict(xx: np.ndarray, ll: np.ndarray | None) -> np.ndarray:
            return np.argmax(fit_model.predict(inputs(xx, ll), batch_size=256, verbose=0), axis=1)

        qat_info = None
        if spec.qat:
            from rnnmcu.trainer.qat import fine_tune

            float_val = float(np.mean(predict(x_va, l_va) == y_va))
            qat_info = fine_tune(model, x_tr, y_tr, l_tr, x_va, y_va, l_va, by_length=by_length,
                                 epochs=spec.qat_epochs, lr=spec.qat_learning_rate,
                                 batch_size=spec.batch_size, clipnorm=spec.clipnorm, class_weight=cw,
                                 progress_cb=_progress_callback(spec.qat_epochs, progress, "int8 fine-tune"),
                                 scales_of=qat_scales)
            qat_info["float_val_accuracy_before"] = float_val
        if ds.x_test is not None:
            x_ev, l_ev, y_ev, split = (ds.x_test.astype(np.float32), ds.lengths_test,
                                       np.asarray(ds.y_test, dtype=np.int64), "test")
        else:
            x_ev, l_ev, y_ev, split = x_va, l_va, y_va, "validation"
        y_pred = predict(x_ev, l_ev)
        val_pred = predict(x_va, l_va)
    seconds = time.monotonic() - t0

    save_model_atomic(model, out_path)

    history = {key: [float(v) for v in vals] for key, vals in hist.history.items()}
    epochs_run = len(history.get("loss", []))
    val_loss = history.get("val_loss", [])
    best_epoch = int(np.argmin(val_loss)) + 1 if val_loss else epochs_run
    cm = confusion_matrix(y_ev, y_pred, k)
    from rnnmcu.trainer.report import estimate_size

    metrics: dict[str, Any] = {
        "accuracy": float(np.mean(y_pred == y_ev)),
        "eval_split": split,
        "n_eval": int(y_ev.size),
        "val_accuracy": float(np.mean(val_pred == y_va)),
        "class_names": names,
        "per_class": per_class_metrics(cm, names),
        "confusion": cm.tolist(),
        "epochs_run": epochs_run,
        "best_epoch": best_epoch,
        "stopped_early": epochs_run < spec.epochs,
        "seed": spec.seed,
        "spec": spec.to_dict(),
        "learning_rate": spec.learning_rate,
        "n_train": int(tr.size),
        "n_val": int(va.size),
        "n_test": int(ds.x_test.shape[0]) if ds.x_test is not None else 0,
        "steps": int(steps),
        "channels": int(f),
        "masking": "lengths" if by_length else "none",
        "class_weights": cw,
        "train_seconds": round(seconds, 2),
        "data": source,
        "model": str(out_path),
        "size": estimate_size(model),
        "history": history,
        "qat": qat_info,
    }
    if report_dir is not None:
        from rnnmcu.trainer.report import write_report
        write_report(report_dir, metrics)
        metrics["report"] = str(report_dir)
    return metrics
