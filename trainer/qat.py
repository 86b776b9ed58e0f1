"""Quantisation-aware fine-tuning: a few more epochs with the int8 scheme's rounding in the forward pass.

Post-training quantisation (``rnnmcu convert --precision int8``) rounds a model that never saw
rounding.  :func:`fine_tune` trains the *same* weights a little longer through a wrapper model that
simulates the integer scheme of ``codegen/NUMERICS.md`` where it loses information:

* the inputs after ``Normalization``: one scale per channel, codegen's own (an int8 model takes
  16-bit inputs where its first layer can, so their rounding is all but nil; values beyond the
  range saturate);
* every ``kernel``, ``recurrent_kernel`` and ``Dense`` kernel: int8, symmetric, one scale per output
  row (Keras: per column), the row's max-abs mapping to 127; for the first layer the per-channel
  input scale is folded into the columns first, as codegen does;
* the hidden state ``h`` of every recurrent layer (what the next step and the next layer see):
  int8 with codegen's ``s_h``; a GRU's state keeps 8 more bits (its blend is carried at
  ``s_h / 256``, h is its int8 top), as the int8 GRU does;
* the outputs of ``Dense`` layers: int8, or int16 in the 16-bit head of an int8 model (the layers
  after its last recurrent one: for the softmax classifier, its logits).

Rounding uses the straight-through estimator: the forward pass sees ``w + stop_gradient(q(w) - w)``
(= ``q(w)``), the gradient flows to ``w`` unchanged.  Not simulated (int16 or finer, much smaller
errors): gate pre-activations and gate values, the LSTM cell state, the activation tables'
interpolation, peephole weights.

The scales are codegen's own (:func:`calibrate` asks the ``scales_of`` it is given, which
``rnnmcu.api.train`` makes ``rnnmcu.codegen.quantize.int8_scales``), recalibrated at the start of every fine-tune epoch over the training
sequences, as ``rnnmcu convert`` will calibrate.

The wrapper is built for the fine-tune only and shares its variables with the original model:
when it is done the original model — plain standard Keras layers, the same architecture as
without QAT — holds the fine-tuned weights, and that is what gets saved.  The weights kept are those
with the lowest *simulated int8* validation loss over the fine-tune epochs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from rnnmcu.errors import InputError

INT8_MAX = 127


# ---------------------------------------------------------------------------------------------
# calibration: the scales rnnmcu convert would choose for the current weights
# ---------------------------------------------------------------------------------------------

@dataclass
class Scales:
    """int8 scales: ``s_in`` per input channel, then one ``s_h`` per recurrent direction and one
    output scale per Dense layer, in model order (keys are the Keras layer names; a Bidirectional
    layer gives ``"<name>/forward"`` and ``"<name>/backward"``)."""

    s_in: np.ndarray
    s_h: dict[str, float] = field(default_factory=dict)
    s_out: dict[str, float] = field(default_factory=dict)
    in_bits: int = 8  # 16: the model's inputs are int16 (NUMERICS.md, "Wide inputs")
    out_bits: dict[str, int] = field(default_factory=dict)  # per Dense: 16 in an int8 model's 16-bit head


# what computes the scales: rnnmcu.codegen.quantize.int8_scales, passed in by the caller
# (rnnmcu.api.train), so that the trainer does not import the code generator
ScalesOf = Callable[[Any, np.ndarray, "np.ndarray | None"], dict]


def calibrate(model: Any, x: np.ndarray, lengths: np.ndarray | None, scales_of: ScalesOf) -> Scales:
    """The int8 scales ``rnnmcu convert`` would choose for the current weights: import the Keras
    model to the IR and ask ``scales_of`` (codegen's own quantiser: ``int8_scales``, calibrated
    on ``x`` over the full sequence lengths)."""
    from rnnmcu.trainer.keras_import import import_model

    d = scales_of(import_model(model, name="qat"), np.asarray(x, dtype=np.float32), lengths)
    return Scales(s_in=np.asarray(d["s_in"], dtype=np.float64), s_h=dict(d["s_h"]), s_out=dict(d["s_out"]),
                  in_bits=int(d["in_bits"]), out_bits=dict(d["out_bits"]))


# ---------------------------------------------------------------------------------------------
# fake quantisation (straight-through)
# ---------------------------------------------------------------------------------------------

def _ops():
    from keras import ops

    return ops


def fake_quant(v: Any, s: Any, bits: int = 8) -> Any:
    """int8 (or int16) rounding and saturation on the grid ``s`` (broadcast), straight-through
    gradient."""
    ops = _ops()
    top = INT8_MAX if bits == 8 else 32767
    q = ops.clip(ops.round(v / s), -top - 1, top) * s
    return v + ops.stop_gradient(q - v)


def fake_quant_rows(kernel: Any, col_scale: Any = None) -> Any:
    """A Keras kernel ``(in, out)`` as codegen quantises it: symmetric int8 per output row of the IR
    matrix (a Keras column), the max-abs mapping to 127, nothing clipped.  ``col_scale`` (per input)
    is folded in first and out again (the first layer's per-channel input scale)."""
    ops = _ops()
    k = kernel if col_scale is None else kernel * ops.expand_dims(col_scale, -1)
    mx = ops.max(ops.abs(k), axis=0, keepdims=True)
    s = ops.where(mx > 0, mx / INT8_MAX, ops.ones_like(mx))
    q = ops.round(k / s) * s
    if col_scale is not None:
        q = q / ops.expand_dims(col_scale, -1)
    return kernel + ops.stop_gradient(q - kernel)


# ---------------------------------------------------------------------------------------------
# the wrapper layers (built lazily: they subclass Keras classes)
# ---------------------------------------------------------------------------------------------

_CLASSES: dict[str, type] = {}


def _classes() -> dict[str, type]:
    if _CLASSES:
        return _CLASSES
    import keras

    from rnnmcu.trainer import cells as pcells

    ops = keras.ops

    class InputQuant(keras.layers.Layer):
        """int8 inputs, one scale per channel (after Normalization)."""

        def __init__(self, s_in: np.ndarray, bits: int = 8, **kw: Any) -> None:
            super().__init__(**kw)
            self.supports_masking = True
            self.bits = bits
            self.s = self.add_weight(shape=(len(s_in),), initializer="ones", trainable=False, name="s_in")
            self.s.assign(np.asarray(s_in, dtype=np.float32))

        def call(self, x: Any) -> Any:
            return fake_quant(x, self.s, self.bits)

        def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
            return mask

    class QATCell(keras.layers.Layer):
        """The inner cell's equations on int8-rounded weights, with the new ``h`` rounded to int8.
        Holds the original cell: its variables are the ones trained."""

        def __init__(self, inner: Any, key: str, s_h: float, col_scale: np.ndarray | None, **kw: Any) -> None:
            super().__init__(**kw)
            self.inner = inner
            self.key = key  # in Scales.s_h
            self.units = inner.units
            self.state_size = inner.state_size
            self.output_size = inner.units
            self.s_h = self.add_weight(shape=(), initializer="ones", trainable=False, name="s_h")
            self.s_h.assign(float(s_h))
            self.col_scale = None
            if col_scale is not None:
                self.col_scale = self.add_weight(shape=(len(col_scale),), initializer="ones",
                                                 trainable=False, name="col_scale")
                self.col_scale.assign(np.asarray(col_scale, dtype=np.float32))
            if isinstance(inner, (keras.layers.LSTMCell, pcells.PeepholeLSTMCell)):
                self.kind = "lstm"
            elif isinstance(inner, (keras.layers.GRUCell, pcells.PeepholeGRUCell)):
                self.kind = "gru"
            elif isinstance(inner, keras.layers.SimpleRNNCell):
                self.kind = "simple"
            else:
                raise InputError(f"quantisation-aware training: cell {type(inner).__name__} is not supported")

        def build(self, input_shape: Any) -> None:
            self.built = True

        def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
            c = self.inner
            nested = isinstance(states, (list, tuple))
            h_tm1 = states[0] if nested else states
            state_tm1 = h_tm1
            if self.kind == "gru":  # the GRU's state keeps 8 more bits; the matmuls see its int8 top
                h_tm1 = fake_quant(state_tm1, self.s_h)
            W = fake_quant_rows(c.kernel, self.col_scale)
            U = fake_quant_rows(c.recurrent_kernel)
            act, rec = c.activation, getattr(c, "recurrent_activation", None)
            p = getattr(c, "peephole_kernel", None)
            n = self.units
            new_states: list
            if self.kind == "simple":
                pre = ops.matmul(inputs, W) + ops.matmul(h_tm1, U)
                if c.use_bias:
                    pre = pre + c.bias
                h = fake_quant(act(pre), self.s_h)
                new_states = [h]
            elif self.kind == "lstm":
                c_tm1 = states[1]
                z = ops.matmul(inputs, W) + ops.matmul(h_tm1, U)
                if c.use_bias:
                    z = z + c.bias
                zi, zf, zc, zo = ops.split(z, 4, axis=-1)
                if p is not None:
                    zi, zf = zi + p[0] * c_tm1, zf + p[1] * c_tm1
                i, f = rec(zi), rec(zf)
                cc = f * c_tm1 + i * act(zc)
                if p is not None:
                    zo = zo + p[2] * cc
                h = fake_quant(rec(zo) * act(cc), self.s_h)
                new_states = [h, cc]
            else:
                reset_after = bool(c.reset_after)
                mx = ops.matmul(inputs, W)
                if c.use_bias:
                    mx = mx + (c.bias[0] if reset_after else c.bias)
                xz, xr, xh = ops.split(mx, 3, axis=-1)
                if reset_after:
                    mh = ops.matmul(h_tm1, U)
                    if c.use_bias:
                        mh = mh + c.bias[1]
                    hz, hr, hh = ops.split(mh, 3, axis=-1)
                    r = rec(xr + hr)
                    cand = act(xh + r * hh)
                else:
                    hz, hr = ops.split(ops.matmul(h_tm1, U[:, : 2 * n]), 2, axis=-1)
                    r = rec(xr + hr)
                    cand = act(xh + ops.matmul(r * h_tm1, U[:, 2 * n:]))
                zz = xz + hz
                if p is not None:
                    zz = zz + p[0] * cand
                z = rec(zz)
                state = fake_quant(z * state_tm1 + (1.0 - z) * cand, self.s_h / 256.0, 16)
                h = fake_quant(state, self.s_h)
                new_states = [state]
            return h, (new_states if nested else new_states[0])

        def get_initial_state(self, batch_size: Any = None) -> list:
            sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
            return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in sizes]

    class QATDense(keras.layers.Layer):
        """The inner Dense on int8-rounded weights; its output (softmax: its logits) rounded to int8."""

        def __init__(self, inner: Any, s_out: float, bits: int = 8, **kw: Any) -> None:
            super().__init__(**kw)
            self.supports_masking = True
            self.inner = inner
            self.bits = bits
            self.s_out = self.add_weight(shape=(), initializer="ones", trainable=False, name="s_out")
            self.s_out.assign(float(s_out))
            self.softmax = inner.activation is keras.activations.softmax

        def build(self, input_shape: Any) -> None:
            self.built = True

        def call(self, x: Any) -> Any:
            d = self.inner
            pre = ops.matmul(x, fake_quant_rows(d.kernel))
            if d.use_bias:
                pre = pre + d.bias
            if self.softmax:
                return ops.softmax(fake_quant(pre, self.s_out, self.bits), axis=-1)
            return fake_quant(d.activation(pre), self.s_out, self.bits)

        def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
            return mask

    class BiMerge(keras.layers.Layer):
        """Keras' Bidirectional merge of a forward and a backward (``go_backwards``) output; a
        backward output sequence is flipped back to input order first."""

        def __init__(self, mode: str, sequences: bool, **kw: Any) -> None:
            super().__init__(**kw)
            self.supports_masking = True
            self.mode, self.sequences = mode, sequences

        def call(self, inputs: Any, mask: Any = None) -> Any:
            yf, yb = inputs
            if self.sequences:
                yb = ops.flip(yb, axis=1)
            if self.mode == "concat":
                return ops.concatenate([yf, yb], axis=-1)
            if self.mode == "sum":
                return yf + yb
            if self.mode == "mul":
                return yf * yb
            return (yf + yb) / 2.0

        def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
            if not self.sequences or mask is None:
                return None
            return mask[0] if isinstance(mask, (list, tuple)) else mask

    _CLASSES.update(InputQuant=InputQuant, QATCell=QATCell, QATDense=QATDense, BiMerge=BiMerge)
    return _CLASSES


def _rnn_layers(layer: Any) -> list:
    import keras

    if isinstance(layer, keras.layers.Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    if isinstance(layer, keras.layers.RNN):
        return [layer]
    return []


def build_qat_model(model: Any, scales: Scales, by_length: bool = False) -> Any:
    """The fine-tune wrapper around ``model`` (a Sequential built by :mod:`rnnmcu.trainer.models`,
    or any Sequential of Masking / Normalization / recurrent / Bidirectional / Dropout / Dense).
    ``by_length``: the wrapper takes ``[x, valid]`` and masks by length, like
    :func:`rnnmcu.trainer.models.length_masked`."""
    import keras

    from rnnmcu.trainer.models import length_mask_layer

    C = _classes()
    inp = keras.Input(shape=model.input_shape[1:], name="qat_input")
    a = inp
    if by_length:
        valid = keras.Input(shape=model.input_shape[1:2], dtype="bool", name="qat_valid")
        a = length_mask_layer(name="qat_length_mask")([inp, valid])
        inp = [inp, valid]
    first = True
    for layer in model.layers:
        if isinstance(layer, keras.layers.Masking):
            a = layer(a)
        elif isinstance(layer, keras.layers.Normalization):
            a = C["InputQuant"](scales.s_in, scales.in_bits, name="qat_input_quant")(layer(a))
        elif isinstance(layer, (keras.layers.Dropout, keras.layers.GaussianNoise)):
            a = layer(a)
        elif _rnn_layers(layer):
            col = scales.s_in if first else None
            if isinstance(layer, keras.layers.Bidirectional):
                # Keras' Bidirectional re-creates its layers from their config, which would lose the
                # wrapped cells: run the two directions and merge them as it does.
                ys = []
                for r, d in ((layer.forward_layer, "forward"), (layer.backward_layer, "backward")):
                    key = f"{layer.name}/{d}"
                    ys.append(keras.layers.RNN(C["QATCell"](r.cell, key, scales.s_h[key], col),
                                               return_sequences=r.return_sequences, go_backwards=r.go_backwards,
                                               zero_output_for_mask=r.return_sequences,
                                               name=f"qat_{layer.name}_{d}")(a))
                a = C["BiMerge"](layer.merge_mode, layer.return_sequences, name=f"qat_{layer.name}_merge")(ys)
            else:
                a = keras.layers.RNN(C["QATCell"](layer.cell, layer.name, scales.s_h[layer.name], col),
                                     return_sequences=layer.return_sequences, go_backwards=layer.go_backwards,
                                     zero_output_for_mask=getattr(layer, "zero_output_for_mask", False),
                                     name=f"qat_{layer.name}")(a)
            first = False
        elif isinstance(layer, keras.layers.Dense):
            a = C["QATDense"](layer, scales.s_out[layer.name], scales.out_bits.get(layer.name, 8),
                              name=f"qat_{layer.name}")(a)
            first = False
        else:
            raise InputError(f"quantisation-aware training: layer {layer.name!r} ({type(layer).__name__}) "
                             "is not supported", hint="train without --qat")
    return keras.Model(inp, a, name=f"qat_{model.name}")


def assign_scales(qat_model: Any, scales: Scales) -> None:
    """Point the wrapper's rounding at new scales (after recalibration)."""
    C = _classes()
    for layer in qat_model.layers:
        if isinstance(layer, C["InputQuant"]):
            layer.s.assign(scales.s_in.astype(np.float32))
        elif isinstance(layer, C["QATDense"]):
            layer.s_out.assign(scales.s_out[layer.inner.name])
        elif isinstance(getattr(layer, "cell", None), C["QATCell"]):
            layer.cell.s_h.assign(scales.s_h[layer.cell.key])
            if layer.cell.col_scale is not None:
                layer.cell.col_scale.assign(scales.s_in.astype(np.float32))


def fine_tune(model: Any, x_tr: np.ndarray, y_tr: np.ndarray, l_tr: np.ndarray | None,
              x_va: np.ndarray, y_va: np.ndarray, l_va: np.ndarray | None = None, *,
              by_length: bool = False, epochs: int, lr: float, batch_size: int,
              clipnorm: float = 0.0, class_weight: dict | None = None, progress_cb: Any = None,
              scales_of: ScalesOf) -> dict[str, Any]:
    """Fine-tune ``model`` in place with int8 rounding simulated (``by_length``: variable-length
    data, masked by ``l_tr``/``l_va``).  Returns the fine-tune's history, the epochs run, the best
    epoch and the scales of the kept weights."""
    import keras

    from rnnmcu.trainer.datasets import valid_mask

    def inputs(xx: np.ndarray, ll: np.ndarray | None) -> Any:
        return [xx, valid_mask(xx, ll)] if by_length else xx

    scales = calibrate(model, x_tr, l_tr, scales_of)
    qm = build_qat_model(model, scales, by_length)
    opt_kw: dict[str, Any] = {"learning_rate": lr}
    if clipnorm > 0:
        opt_kw["clipnorm"] = clipnorm
    qm.compile(optimizer=keras.optimizers.Adam(**opt_kw), loss="sparse_categorical_crossentropy",
               metrics=["accuracy"])

    class Recalibrate(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch:
                assign_scales(qm, calibrate(model, x_tr, l_tr, scales_of))

    def sim_accuracy() -> float:
        return float(np.mean(np.argmax(qm.predict(inputs(x_va, l_va), batch_size=256, verbose=0), 1) == y_va))

    before = sim_accuracy()
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=epochs, restore_best_weights=True)
    callbacks = [Recalibrate(), stopper] + ([progress_cb] if progress_cb is not None else [])
    hist = qm.fit(inputs(x_tr, l_tr), y_tr, validation_data=(inputs(x_va, l_va), y_va), epochs=epochs,
                  batch_size=batch_size, shuffle=True, class_weight=class_weight, verbose=0,
                  callbacks=callbacks)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    val_loss = history.get("val_loss", [])
    # the kept weights (restored best) and their own scales
    final = calibrate(model, x_tr, l_tr, scales_of)
    assign_scales(qm, final)
    return {"epochs_run": len(history.get("loss", [])),
            "best_epoch": int(np.argmin(val_loss)) + 1 if val_loss else 0,
            "history": history,
            "sim_int8_val_accuracy_before": before,
            "sim_int8_val_accuracy_after": sim_accuracy(),
            "learning_rate": lr,
            "s_in": [float(v) for v in final.s_in],
            "s_h": dict(final.s_h)}
