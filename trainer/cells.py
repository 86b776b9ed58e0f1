"""The project's recurrent cells for Keras 3: a peephole LSTM and a peephole GRU.

Both are ordinary Keras RNN cells (use them in ``keras.layers.RNN(cell, ...)``, inside
``keras.layers.Bidirectional``, with ``Masking``), with the weight layout of Keras' own
``LSTMCell`` / ``GRUCell`` plus one ``peephole_kernel``:

=====================  ==========================  ==========================================
weight                 ``PeepholeLSTMCell``         ``PeepholeGRUCell``
=====================  ==========================  ==========================================
``kernel``             ``(F, 4*units)`` i, f, c, o  ``(F, 3*units)`` z, r, h
``recurrent_kernel``   ``(units, 4*units)``         ``(units, 3*units)``
``bias``               ``(4*units,)``               ``(2, 3*units)`` (``reset_after=True``:
                                                    input row, recurrent row) or ``(3*units,)``
``peephole_kernel``    ``(3, units)`` rows i, f, o  ``(1, units)`` row z
=====================  ==========================  ==========================================

:class:`PeepholeLSTM` and :class:`PeepholeGRU` are ``keras.layers.RNN`` subclasses that build the
cell from the same arguments as ``keras.layers.LSTM`` / ``GRU``.

All four classes are registered as Keras serialisables (package ``rnnmcu``): a saved ``.keras``
model loads back with ``keras.saving.load_model`` once this module has been imported, which
:func:`rnnmcu.trainer.keras_import.load_keras_model` does itself.

``dropout`` (on the input) and ``recurrent_dropout`` (on ``h_{t-1}`` where it enters the
recurrent matmul) act in training only, with one mask per sequence shared by all gates; they
do not change the inference equations below, which are what the importer maps to the IR.
"""
from __future__ import annotations

import inspect
import operator
from typing import Any

import keras
from keras import activations, constraints, initializers, ops, regularizers

try:  # Keras' own mixin: the RNN layer prepares and resets its per-sequence dropout masks.
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
except ImportError as e:  # pragma: no cover - a Keras that moved it
    raise ImportError("rnnmcu.trainer.cells needs keras.src.layers.rnn.dropout_rnn_cell "
                      "(Keras 3); install the Keras version in rnnmcu's requirements") from e

__all__ = ["PeepholeLSTMCell", "PeepholeGRUCell", "PeepholeLSTM", "PeepholeGRU"]

_PACKAGE = "rnnmcu"


def _check_common(units: Any, dropout: float, recurrent_dropout: float) -> int:
    try:
        n = operator.index(units)
    except TypeError:
        n = 0
    if isinstance(units, bool) or n <= 0:
        raise ValueError(f"units must be a positive integer, got {units!r}")
    for name, v in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
        if not 0.0 <= float(v) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {v!r}")
    return n


class _PeepholeCell(keras.layers.Layer, DropoutRNNCell):
    """What both cells share: options, the kernel/recurrent_kernel/peephole weights, dropout, config."""

    gates = 0            # G: gate blocks in kernel / recurrent_kernel
    peephole_rows = 0    # rows of peephole_kernel

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 peephole_initializer: Any = "glorot_uniform", kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 peephole_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None,
                 peephole_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        units = _check_common(units, dropout, recurrent_dropout)
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.peephole_initializer = initializers.get(peephole_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.peephole_regularizer = regularizers.get(peephole_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.peephole_constraint = constraints.get(peephole_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.output_size = units

    def _build_common(self, input_shape: Any) -> None:
        input_dim = input_shape[-1]
        g = self.gates * self.units
        self.kernel = self.add_weight(shape=(input_dim, g), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, g), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)

    def _build_peephole(self) -> None:
        # Created after the bias: get_weights()[:3] is Keras' LSTMCell/GRUCell layout.
        self.peephole_kernel = self.add_weight(shape=(self.peephole_rows, self.units),
                                               name="peephole_kernel",
                                               initializer=self.peephole_initializer,
                                               regularizer=self.peephole_regularizer,
                                               constraint=self.peephole_constraint)

    def _add_bias(self, shape: tuple[int, ...], initializer: Any) -> None:
        self.bias = (self.add_weight(shape=shape, name="bias", initializer=initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)

    def _dropped(self, inputs: Any, h_tm1: Any, training: bool) -> tuple[Any, Any]:
        """(inputs, h_{t-1}) as the matmuls see them: with this sequence's dropout masks in
        training, unchanged otherwise."""
        if training and 0.0 < self.dropout < 1.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h_tm1 = h_tm1 * self.get_recurrent_dropout_mask(h_tm1)
        return inputs, h_tm1

    def get_initial_state(self, batch_size: Any = None) -> list:
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in sizes]

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "peephole_initializer": initializers.serialize(self.peephole_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "peephole_regularizer": regularizers.serialize(self.peephole_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "peephole_constraint": constraints.serialize(self.peephole_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PeepholeLSTMCell(_PeepholeCell):
    r"""LSTM cell with diagonal peephole connections (Gers & Schmidhuber, 2000).

    With x the input, h and c the output and cell state, σ ``recurrent_activation``,
    φ ``activation``, ⊙ elementwise, ``W = kernel``, ``U = recurrent_kernel``, ``b = bias``
    (gate blocks i, f, c, o — Keras' LSTM order) and ``p = peephole_kernel`` (rows i, f, o)::

        i_t = σ(x_t W_i + h_{t-1} U_i + b_i + p_i ⊙ c_{t-1})
        f_t = σ(x_t W_f + h_{t-1} U_f + b_f + p_f ⊙ c_{t-1})
        g_t = φ(x_t W_c + h_{t-1} U_c + b_c)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        o_t = σ(x_t W_o + h_{t-1} U_o + b_o + p_o ⊙ c_t)      (the *new* cell state)
        h_t = o_t ⊙ φ(c_t)

    The state is ``[h, c]``; the output is ``h``.  With ``p = 0`` this is Keras' ``LSTMCell``.
    ``unit_forget_bias=True`` (the default) initialises ``b_f`` to one, as Keras does.
    ``peephole_initializer`` defaults to ``glorot_uniform`` over the ``(3, units)`` kernel.
    """

    gates = 4
    peephole_rows = 3

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [units, units]

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self._build_common(input_shape)
        n = self.units
        if self.unit_forget_bias:
            base = self.bias_initializer

            def bias_init(shape: Any, dtype: Any = None) -> Any:
                return ops.concatenate([base((n,), dtype=dtype), ops.ones((n,), dtype=dtype),
                                        base((2 * n,), dtype=dtype)])
        else:
            bias_init = self.bias_initializer
        self._add_bias((4 * n,), bias_init)
        self._build_peephole()

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[Any, list]:
        h_tm1, c_tm1 = states[0], states[1]
        x, h_in = self._dropped(inputs, h_tm1, training)
        z = ops.matmul(x, self.kernel) + ops.matmul(h_in, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        zi, zf, zc, zo = ops.split(z, 4, axis=-1)
        p = self.peephole_kernel
        i = self.recurrent_activation(zi + p[0] * c_tm1)
        f = self.recurrent_activation(zf + p[1] * c_tm1)
        c = f * c_tm1 + i * self.activation(zc)
        o = self.recurrent_activation(zo + p[2] * c)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PeepholeGRUCell(_PeepholeCell):
    r"""GRU cell whose update gate also sees the new candidate through a diagonal peephole.

    This is rnnmcu's own definition (the analogue of the peephole LSTM's output gate seeing
    ``c_t``): the candidate h̃_t is computed first, from the reset gate as in Keras' GRU, and the
    update gate z_t then sees ``p_z ⊙ h̃_t``.  With x the input, h the state, σ
    ``recurrent_activation``, φ ``activation``, ⊙ elementwise, ``W = kernel``,
    ``U = recurrent_kernel`` (gate blocks z, r, h — Keras' GRU order) and ``p_z = peephole_kernel[0]``.

    ``reset_after=True`` (the default, as in Keras; ``bias`` is ``(2, 3*units)``: row 0 the input
    bias ``b``, row 1 the recurrent bias ``b'``)::

        r_t = σ(x_t W_r + b_r + h_{t-1} U_r + b'_r)
        h̃_t = φ(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + b'_h))
        z_t = σ(x_t W_z + b_z + h_{t-1} U_z + b'_z + p_z ⊙ h̃_t)
        h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t

    ``reset_after=False`` (``bias`` is ``(3*units,)``)::

        r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
        h̃_t = φ(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)
        z_t = σ(x_t W_z + h_{t-1} U_z + b_z + p_z ⊙ h̃_t)
        h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t

    ``use_bias=False`` drops every bias term.  With ``p_z = 0`` this is Keras' ``GRUCell``.
    The state and the output are ``h``.
    """

    gates = 3
    peephole_rows = 1

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)
        self.state_size = units

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self._build_common(input_shape)
        g = 3 * self.units
        self._add_bias((2, g) if self.reset_after else (g,), self.bias_initializer)
        self._build_peephole()

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[Any, Any]:
        nested = isinstance(states, (list, tuple))
        h_tm1 = states[0] if nested else states
        x, h_in = self._dropped(inputs, h_tm1, training)
        n = self.units
        mx = ops.matmul(x, self.kernel)
        if self.use_bias:
            mx = mx + (self.bias[0] if self.reset_after else self.bias)
        xz, xr, xh = ops.split(mx, 3, axis=-1)
        if self.reset_after:
            mh = ops.matmul(h_in, self.recurrent_kernel)
            if self.use_bias:
                mh = mh + self.bias[1]
            hz, hr, hh_rec = ops.split(mh, 3, axis=-1)
            r = self.recurrent_activation(xr + hr)
            cand = self.activation(xh + r * hh_rec)
        else:
            mh = ops.matmul(h_in, self.recurrent_kernel[:, : 2 * n])
            hz, hr = ops.split(mh, 2, axis=-1)
            r = self.recurrent_activation(xr + hr)
            cand = self.activation(xh + ops.matmul(r * h_in, self.recurrent_kernel[:, 2 * n:]))
        z = self.recurrent_activation(xz + hz + self.peephole_kernel[0] * cand)
        h = z * h_tm1 + (1.0 - z) * cand
        return h, ([h] if nested else h)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}


# ---------------------------------------------------------------------------------------------
# layer wrappers: keras.layers.RNN around the cell, with LSTM/GRU-style arguments
# ---------------------------------------------------------------------------------------------

class _PeepholeRNN(keras.layers.RNN):
    """``keras.layers.RNN`` over a peephole cell built from the cell arguments."""

    cell_class: type = _PeepholeCell
    cell_name = ""

    def __init__(self, units: int, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, activity_regularizer: Any = None,
                 **kwargs: Any) -> None:
        cell_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in self._cell_args()}
        cell = self.cell_class(units, dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                               name=self.cell_name, **cell_kw)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @classmethod
    def _cell_args(cls) -> set[str]:
        names: set[str] = set()
        for c in cls.cell_class.__mro__:
            if "__init__" in c.__dict__ and issubclass(c, _PeepholeCell):
                names |= {p for p in inspect.signature(c.__init__).parameters
                          if p not in ("self", "units", "kwargs")}
        return names

    @property
    def units(self) -> int:
        return self.cell.units

    def get_config(self) -> dict[str, Any]:
        base = super().get_config()
        cell_config = dict(base.pop("cell")["config"])
        for k in ("name", "dtype", "trainable"):
            cell_config.pop(k, None)
        return {**base, **cell_config,
                "activity_regularizer": regularizers.serialize(self.activity_regularizer)}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> "_PeepholeRNN":
        return cls(**config)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PeepholeLSTM(_PeepholeRNN):
    """``keras.layers.RNN(PeepholeLSTMCell(units, ...), ...)`` with ``keras.layers.LSTM``'s
    arguments (plus the peephole ones); see :class:`PeepholeLSTMCell` for the equations."""

    cell_class = PeepholeLSTMCell
    cell_name = "peephole_lstm_cell"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PeepholeGRU(_PeepholeRNN):
    """``keras.layers.RNN(PeepholeGRUCell(units, ...), ...)`` with ``keras.layers.GRU``'s
    arguments (plus the peephole ones); see :class:`PeepholeGRUCell` for the equations."""

    cell_class = PeepholeGRUCell
    cell_name = "peephole_gru_cell"
