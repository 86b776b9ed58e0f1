"""Keras 3 model -> :class:`rnnmcu.ir.Model`.

One handler per Keras layer class, registered in one table (:data:`LAYER_HANDLERS`; a
duplicate registration is an error).  Recurrent layers (``SimpleRNN``, ``LSTM``, ``GRU``, a
generic ``RNN``, the project's ``PeepholeLSTM`` / ``PeepholeGRU``) dispatch once more on their
*cell* class (:data:`CELL_HANDLERS`), so a new cell is one :func:`register_cell` call.  The
project's cells (:mod:`rnnmcu.trainer.cells`) map to the IR cells ``peephole_lstm`` (``p`` =
``peephole_kernel``, rows i, f, o) and ``peephole_gru`` (``p`` row z); this module imports them,
which registers them with Keras, so ``.keras`` files using them load without ``custom_objects``.
Everything is canonicalised here, once: matrices transposed to ``(out, in)``, the GRU bias split,
activation aliases resolved, the ``Normalization`` layer folded into ``norm_mean`` / ``norm_std``,
the ``Masking`` value converted to sensor units.  Anything not understood raises
:class:`~rnnmcu.errors.UnsupportedModelError` naming the layer, its class and what is supported.

Keras semantics the references must reproduce (Keras 3.15, TensorFlow backend; each one is
checked by ``tests/test_keras_import.py``):

(a) **Masking, ``return_sequences=True``**: at a masked step the layer outputs its *previous*
    output (zeros before the first valid step) and its state is carried unchanged.  With
    ``return_sequences=False`` the output is the last valid step's.  Exception: inside
    ``Bidirectional`` (with ``return_sequences=True``) Keras forces ``zero_output_for_mask``, so
    both directions output **zeros** at masked steps.  A standalone layer configured with
    ``zero_output_for_mask=True`` is refused when the model masks (the IR cannot say it).
(b) **``go_backwards=True``, ``return_sequences=True``**: the layer walks the input last step
    first and returns outputs in *processing* order: ``y[k]`` is the output after consuming
    input step ``T-1-k`` (it is not flipped back).  With a mask, the mask is reversed along with
    the input (a masked input step is skipped), but the mask passed *on* to the next layer is the
    original, un-reversed one: a layer stacked after a ``go_backwards`` layer skips ``y[k]``
    when input step ``k`` (not ``T-1-k``) was masked.
(c) **``Bidirectional``, ``return_sequences=True``**: the backward layer's output sequence is
    flipped back, so row ``t`` of the merged output combines the forward output after step ``t``
    with the backward output after consuming steps ``T-1 .. t``.  ``merge_mode`` ``concat`` is
    ``[forward, backward]`` along features, ``ave`` is ``(f + b) / 2``.  With
    ``return_sequences=False`` the backward half is its final output (after consuming step 0).

IR mapping of ``Bidirectional``: ``forward`` is Keras' ``forward_layer`` (``go_backwards``
false) and ``backward`` is Keras' ``backward_layer`` as a Recurrent with ``go_backwards=True``
— i.e. run by itself it returns processing order (b); the Bidirectional then flips it (c).
"""
from __future__ import annotations

import dataclasses
import os
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import keras

from rnnmcu import ir
from rnnmcu.errors import InputError, UnsupportedModelError
# The project's own cells and layers: importing them registers them as Keras serialisables, so
# load_keras_model reads a .keras file that uses them without custom_objects.
from rnnmcu.trainer import cells as _cells

L = keras.layers

LayerHandler = Callable[[Any, "_Ctx"], list]
CellHandler = Callable[[Any, Any, "_Ctx", int], "ir.Recurrent"]

LAYER_HANDLERS: dict[type, LayerHandler] = {}
CELL_HANDLERS: dict[type, CellHandler] = {}


def register(*classes: type) -> Callable[[LayerHandler], LayerHandler]:
    """Register ``handler(layer, ctx) -> [ir layers]`` for exact Keras layer classes."""
    def deco(fn: LayerHandler) -> LayerHandler:
        for c in classes:
            if c in LAYER_HANDLERS:
                raise ValueError(f"a handler for Keras layer class {c.__name__} is already registered")
            LAYER_HANDLERS[c] = fn
        return fn
    return deco


def register_cell(*classes: type) -> Callable[[CellHandler], CellHandler]:
    """Register ``handler(rnn_layer, cell, ctx, input_dim) -> ir.Recurrent`` for a cell class."""
    def deco(fn: CellHandler) -> CellHandler:
        for c in classes:
            if c in CELL_HANDLERS:
                raise ValueError(f"a handler for Keras cell class {c.__name__} is already registered")
            CELL_HANDLERS[c] = fn
        return fn
    return deco


def supported_layers() -> list[str]:
    return sorted({c.__name__ for c in LAYER_HANDLERS})


def supported_cells() -> list[str]:
    return sorted({c.__name__ for c in CELL_HANDLERS})


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def _who(layer: Any) -> str:
    return f'{type(layer).__name__} layer "{layer.name}"'


_UNSUPPORTED_HINT = ("change the model to the supported layers and options (the README's table "
                     "\"What Keras models convert\" lists them), retrain, and convert again")


def _unsupported(layer: Any, what: str, hint: str | None = None) -> UnsupportedModelError:
    return UnsupportedModelError(f"{_who(layer)}: {what}", hint or _UNSUPPORTED_HINT)


def _np(v: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float32)


# Keras' activation functions by identity -> their Keras name (aliases included).
_KERAS_ACTIVATIONS: dict[Any, str] = {}
for _n in [n for n in dir(keras.activations) if not n.startswith("_")]:
    _f = getattr(keras.activations, _n)
    if callable(_f) and _n not in ("get", "serialize", "deserialize"):
        _KERAS_ACTIVATIONS.setdefault(_f, _n)


def _activation_name(fn: Any) -> str:
    """The Keras name of an activation function object (or a description of a foreign one)."""
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn
    try:
        if fn in _KERAS_ACTIVATIONS:
            return _KERAS_ACTIVATIONS[fn]
    except TypeError:  # unhashable callable object
        pass
    return f"<custom {getattr(fn, '__name__', type(fn).__name__)}>"


def _elementwise(layer: Any, option: str, fn: Any) -> str:
    """Canonical IR name of an elementwise activation, or an error naming layer/option/value."""
    name = _activation_name(fn)
    canon = ir.ACTIVATION_ALIASES.get(name, name)
    if canon in ir.ELEMENTWISE:
        return canon
    raise _unsupported(
        layer, f"{option}={name!r} is not supported; supported elementwise activations: "
        f"{', '.join(ir.ELEMENTWISE)}"
        + ("; softmax is supported as a Dense or Activation activation, or a Softmax layer"
           if name == "softmax" else ""))


def sanitise_name(name: str) -> str:
    """A C identifier from a Keras model name: ``my-model 2`` -> ``my_model_2``."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", name or "")
    s = re.sub(r"_+", "_", s).strip("_")
    if not s:
        s = "model"
    if s[0].isdigit():
        s = "m_" + s
    return s


@dataclass
class _Ctx:
    """Import state threaded through the handlers, layer by layer."""

    model_name: str
    dim: int                      # features entering the current layer
    seq: bool = True              # is the current tensor a sequence?
    index: int = 0                # position of the current layer in the flattened chain
    seen_compute: bool = False    # a computing layer (not Masking/Normalization/Input/noise) seen
    masked: bool = False          # a Masking layer precedes the current layer
    norm_mean: np.ndarray | None = None
    norm_std: np.ndarray | None = None
    mask_value: np.ndarray | None = None
    stateful: bool = False
    layers: list = field(default_factory=list)
    # the input transforms folded into norm_mean/norm_std so far, by Keras class name
    input_transforms: list = field(default_factory=list)
    # a per-feature affine map x -> a * x + c (float64) still to be folded into the next weight
    # layer, and the Keras layer it came from
    pending: tuple | None = None
    pending_from: Any = None
    # recurrent IR layers that are internal to one Keras layer (StackedRNNCells): their output
    # sequence never leaves it
    internal: set = field(default_factory=set)
    origin: dict = field(default_factory=dict)   # IR layer name -> the Keras layer it came from


def _build(layer: Any, make: Callable[[], Any]) -> Any:
    """Build an IR layer; an invariant it breaks becomes an error naming the Keras layer."""
    try:
        return make()
    except ir.IRError as e:
        raise _unsupported(layer, f"cannot be represented in the IR: {e}") from e


# ---------------------------------------------------------------------------------------------
# layer handlers
# ---------------------------------------------------------------------------------------------

@register(L.InputLayer)
def _input(layer: Any, ctx: _Ctx) -> list:
    return []


@register(L.Dropout, L.GaussianNoise, L.GaussianDropout, L.AlphaDropout, L.SpatialDropout1D)
def _identity_at_inference(layer: Any, ctx: _Ctx) -> list:
    return []


# --- per-feature affine layers: folded, never emitted ------------------------------------------
#
# Normalization, BatchNormalization (at inference) and Rescaling map each feature x to a * x + c.
# Before the first computing layer such a map folds into the input standardisation
# (norm_mean/norm_std, in sensor units), so the device still takes raw sensor values.  After it,
# the map folds into a weight layer: backwards into the Dense just before it when that Dense is
# linear (W' = a W, b' = a b + c), else forwards into the next Dense / recurrent / Bidirectional
# layer's input weights (W' = W diag(a), b' = b + W c).  Everything is computed in float64.

def _feature_axis_ok(axis: Any, ctx: _Ctx) -> bool:
    rank = 3 if ctx.seq else 2
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    return len(axes) == 1 and axes[0] in (-1, rank - 1)


def _per_feature(layer: Any, ctx: _Ctx, what: str, v: Any) -> np.ndarray:
    a = np.asarray(keras.ops.convert_to_numpy(v) if not isinstance(v, (int, float)) else v,
                   dtype=np.float64)
    if a.size == 1:
        return np.full(ctx.dim, float(a.reshape(-1)[0]))
    flat = a.reshape(-1)
    if flat.size != ctx.dim or a.shape[-1] != ctx.dim:
        raise _unsupported(layer, f"{what} has shape {a.shape}: only a scalar or one value per "
                           f"feature ({ctx.dim}) can be folded")
    return flat


def _affine(layer: Any, ctx: _Ctx, a: np.ndarray, c: np.ndarray) -> list:
    """Fold ``x -> a * x + c`` (per feature) in front of what comes next."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(c))):
        raise _unsupported(layer, "has non-finite weights", "retrain the model: its statistics "
                           "or weights hold NaN or inf")
    if not ctx.seen_compute and ctx.pending is None and np.all(a != 0):
        ctx.norm_mean, ctx.norm_std = ir.fold_affine_input(ctx.norm_mean, ctx.norm_std, a, c)
        ctx.input_transforms.append(type(layer).__name__)
        return []
    last = ctx.layers[-1] if ctx.layers else None
    if ctx.pending is None and isinstance(last, ir.Dense) and last.activation == "linear":
        ctx.layers[-1] = ir.fold_affine_after(last, a, c)
        return []
    if ctx.pending is not None:  # compose: a2 (a1 x + c1) + c2
        a1, c1 = ctx.pending
        a, c = a * a1, a * c1 + c
    ctx.pending, ctx.pending_from = (a, c), layer
    return []


def _fold_pending(ctx: _Ctx, layer: Any) -> Any:
    """``layer`` (an IR layer) with the pending affine map folded into its input weights."""
    if isinstance(layer, (ir.Dense, ir.Recurrent, ir.Bidirectional)):
        return ir.fold_affine_into(layer, *ctx.pending)
    k = ctx.pending_from
    raise _unsupported(
        k, f"is followed by {type(layer).__name__} layer \"{layer.name}\" and follows "
        f"{_describe_ir(ctx.layers[-1]) if ctx.layers else 'the input'}: a per-feature "
        "affine map there cannot be folded into a neighbouring weight layer",
        f"place the {type(k).__name__} layer before a Dense or recurrent layer, or right after a "
        "Dense with a linear activation, retrain, and convert again")


def _describe_ir(layer: Any) -> str:
    return f'{type(layer).__name__} layer "{layer.name}"'


@register(L.Normalization)
def _normalization(layer: Any, ctx: _Ctx) -> list:
    if getattr(layer, "invert", False):
        raise _unsupported(layer, "invert=True is not supported")
    keep = list(getattr(layer, "_keep_axis", []) or [])
    axis = tuple(layer.axis) if isinstance(layer.axis, (list, tuple)) else (layer.axis,)
    # adapted on (N, F) or (N, T, F) data: either way the kept axis is the last (feature) one
    if keep != [2] and axis != (-1,) and not (len(axis) == 1 and _feature_axis_ok(axis[0], ctx)):
        raise _unsupported(layer, f"axis={layer.axis!r} is not supported: only axis=-1 "
                           "(per feature) normalisation can be folded into the input")
    if getattr(layer, "mean", None) is None or getattr(layer, "variance", None) is None:
        raise _unsupported(layer, "has no mean/variance (call adapt() or pass mean and variance)")
    mean = _np(layer.mean).reshape(-1)
    var = _np(layer.variance).reshape(-1)
    if mean.size == 1 and ctx.dim != 1:
        mean, var = np.full(ctx.dim, mean[0], np.float32), np.full(ctx.dim, var[0], np.float32)
    if mean.shape != (ctx.dim,) or var.shape != (ctx.dim,):
        raise _unsupported(layer, f"mean/variance have {mean.size} values for {ctx.dim} features")
    # Keras: (x - mean) / maximum(sqrt(variance), epsilon()), in float32.
    std = np.maximum(np.sqrt(var), np.float32(keras.config.epsilon())).astype(np.float32)
    if not ctx.seen_compute and ctx.pending is None and ctx.norm_mean is None:
        # the usual first layer: its statistics are the input standardisation, exactly
        ctx.norm_mean, ctx.norm_std = mean, std
        ctx.input_transforms.append("Normalization")
        return []
    inv = 1.0 / std.astype(np.float64)
    return _affine(layer, ctx, inv, -mean.astype(np.float64) * inv)


@register(L.BatchNormalization)
def _batch_normalization(layer: Any, ctx: _Ctx) -> list:
    if not _feature_axis_ok(layer.axis, ctx):
        raise _unsupported(layer, f"axis={layer.axis!r} is not supported: only the feature axis "
                           "(-1) is an affine map per feature that can be folded",
                           "use BatchNormalization(axis=-1), retrain, and convert again")
    mean = _per_feature(layer, ctx, "moving_mean", layer.moving_mean).astype(np.float64)
    var = _per_feature(layer, ctx, "moving_variance", layer.moving_variance).astype(np.float64)
    gamma = (_per_feature(layer, ctx, "gamma", layer.gamma) if layer.scale and layer.gamma is not None
             else np.ones(ctx.dim))
    beta = (_per_feature(layer, ctx, "beta", layer.beta) if layer.center and layer.beta is not None
            else np.zeros(ctx.dim))
    # inference: (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta
    a = gamma / np.sqrt(var + float(layer.epsilon))
    return _affine(layer, ctx, a, beta - mean * a)


@register(L.Rescaling)
def _rescaling(layer: Any, ctx: _Ctx) -> list:
    return _affine(layer, ctx, _per_feature(layer, ctx, "scale", layer.scale),
                   _per_feature(layer, ctx, "offset", layer.offset))


@register(L.Masking)
def _masking(layer: Any, ctx: _Ctx) -> list:
    if ctx.seen_compute or ctx.mask_value is not None or ctx.pending is not None:
        raise _unsupported(layer, "Masking is only supported on the model input (as the first "
                           "layer, or right after the input Normalization)",
                           "move the Masking layer right after the Input, retrain, and convert again")
    folded = [t for t in ctx.input_transforms if t != "Normalization"]
    if folded:
        raise _unsupported(layer, f"comes after {', '.join(folded)}: it would compare "
                           "transformed values, which have no exact equivalent in sensor units",
                           "move the Masking layer right after the Input, retrain, and convert again")
    mv = np.broadcast_to(np.asarray(layer.mask_value, dtype=np.float32), (ctx.dim,)).copy()
    if ctx.norm_mean is not None:
        # Masking after Normalization compares (x - mean) / std with mask_value: in sensor units
        # that is x == mean + mask_value * std (exact for mask_value 0: x - mean == 0 iff x == mean).
        mv = (ctx.norm_mean + mv * ctx.norm_std).astype(np.float32)
    ctx.mask_value = mv
    ctx.masked = True
    return []


def _dense_ir(layer: Any, ctx: _Ctx, W: np.ndarray, b: np.ndarray | None) -> list:
    if getattr(layer, "quantization_mode", None):
        raise _unsupported(layer, f"quantization_mode={layer.quantization_mode!r} is not supported "
                           "(import the float model; rnnmcu quantises itself)")
    if W.ndim != 2 or W.shape[0] != ctx.dim:
        raise _unsupported(layer, f"kernel shape {W.shape} does not take {ctx.dim} features")
    name = _activation_name(layer.activation)
    out: list = []
    bias = np.zeros(W.shape[1], np.float32) if b is None else b
    if name == "softmax":
        out.append(_build(layer, lambda: ir.Dense(W=W.T, b=bias, activation="linear", name=layer.name)))
        out.append(ir.Softmax(dim=W.shape[1], name=f"{layer.name}_softmax"))
    else:
        act = _elementwise(layer, "activation", layer.activation)
        out.append(_build(layer, lambda: ir.Dense(W=W.T, b=bias, activation=act, name=layer.name)))
    ctx.dim = W.shape[1]
    return out


@register(L.Dense)
def _dense(layer: Any, ctx: _Ctx) -> list:
    return _dense_ir(layer, ctx, _np(layer.kernel), _np(layer.bias) if layer.use_bias else None)


@register(L.TimeDistributed)
def _time_distributed(layer: Any, ctx: _Ctx) -> list:
    inner = layer.layer
    if type(inner) is not L.Dense:
        raise _unsupported(layer, f"wraps {_who(inner)}; only TimeDistributed(Dense) is supported")
    if not ctx.seq:
        raise _unsupported(layer, "needs a sequence input")
    out = _dense_ir(inner, ctx, _np(inner.kernel), _np(inner.bias) if inner.use_bias else None)
    out[0].name = layer.name
    return out


@register(L.Activation)
def _activation_layer(layer: Any, ctx: _Ctx) -> list:
    name = _activation_name(layer.activation)
    if name == "softmax":
        return [ir.Softmax(dim=ctx.dim, name=layer.name)]
    return [ir.Activation(activation=_elementwise(layer, "activation", layer.activation),
                          dim=ctx.dim, name=layer.name)]


@register(L.Softmax)
def _softmax_layer(layer: Any, ctx: _Ctx) -> list:
    rank = 3 if ctx.seq else 2
    axis = layer.axis if not isinstance(layer.axis, (list, tuple)) else tuple(layer.axis)
    if isinstance(axis, tuple):
        axis = axis[0] if len(axis) == 1 else axis
    if axis not in (-1, rank - 1):
        raise _unsupported(layer, f"axis={layer.axis!r} is not supported: only the feature axis (-1)")
    if ctx.masked and ctx.seq:
        # Keras' Softmax layer applies the (batch, time) mask to the (batch, time, class) input
        # by broadcasting it against the class axis: not a per-step softmax.
        raise _unsupported(layer, "a Softmax layer receiving a masked sequence is not supported "
                           "(Keras broadcasts the time mask over the classes)",
                           "use Activation('softmax') or Dense(..., activation='softmax')")
    return [ir.Softmax(dim=ctx.dim, name=layer.name)]


@register(L.ReLU)
def _relu_layer(layer: Any, ctx: _Ctx) -> list:
    mv, ns, th = layer.max_value, float(layer.negative_slope), float(layer.threshold)
    if ns == 0.0 and th == 0.0 and mv is None:
        act = "relu"
    elif ns == 0.0 and th == 0.0 and mv is not None and float(mv) == 6.0:
        act = "relu6"
    elif ns == ir.LEAKY_RELU_SLOPE and th == 0.0 and mv is None:
        act = "leaky_relu"
    else:
        raise _unsupported(layer, f"max_value={mv!r}, negative_slope={ns!r}, threshold={th!r} is "
                           "not supported: only relu, relu6 (max_value=6) and leaky_relu "
                           "(negative_slope=0.2)")
    return [ir.Activation(activation=act, dim=ctx.dim, name=layer.name)]


@register(L.LeakyReLU)
def _leaky_relu_layer(layer: Any, ctx: _Ctx) -> list:
    if float(layer.negative_slope) != ir.LEAKY_RELU_SLOPE:
        raise _unsupported(layer, f"negative_slope={layer.negative_slope!r} is not supported: only "
                           f"{ir.LEAKY_RELU_SLOPE} (the leaky_relu activation)")
    return [ir.Activation(activation="leaky_relu", dim=ctx.dim, name=layer.name)]


@register(L.ELU)
def _elu_layer(layer: Any, ctx: _Ctx) -> list:
    if float(layer.alpha) != 1.0:
        raise _unsupported(layer, f"alpha={layer.alpha!r} is not supported: only 1.0")
    return [ir.Activation(activation="elu", dim=ctx.dim, name=layer.name)]


# --- recurrent -------------------------------------------------------------------------------

def _recurrent_ir(layer: Any, ctx: _Ctx, *, in_bidirectional: bool = False) -> list:
    """The IR layers of one Keras recurrent layer: one, or one per cell of a ``StackedRNNCells``
    (each but the last returning sequences; ``go_backwards`` on the first, which then hands
    the others its outputs in processing order, as the stacked cells see them)."""
    if not ctx.seq:
        raise _unsupported(layer, "needs a sequence input but receives one vector per window "
                           "(set return_sequences=True on the recurrent layer before it)")
    if (ctx.masked and layer.return_sequences and not in_bidirectional
            and getattr(layer, "zero_output_for_mask", False)):
        raise _unsupported(layer, "zero_output_for_mask=True with Masking is not supported")
    if layer.stateful:
        ctx.stateful = True
    stacked = isinstance(layer.cell, L.StackedRNNCells)
    cells = list(layer.cell.cells) if stacked else [layer.cell]
    if stacked and in_bidirectional:
        raise _unsupported(layer, "Bidirectional over StackedRNNCells is not supported",
                           "stack Bidirectional layers instead (one cell each, return_sequences=True "
                           "on all but the last), retrain, and convert again")
    out: list = []
    dim = ctx.dim
    for k, cell in enumerate(cells):
        handler = CELL_HANDLERS.get(type(cell))
        if handler is None:
            raise _unsupported(layer, f"cell class {type(cell).__name__} is not supported; "
                               f"supported cells: {', '.join(supported_cells())}")
        r = handler(layer, cell, ctx, dim)
        if stacked:
            last = k == len(cells) - 1
            r = _build(layer, lambda r=r, last=last: dataclasses.replace(
                r, name=f"{layer.name}_{k}", go_backwards=bool(layer.go_backwards) and k == 0,
                return_sequences=bool(layer.return_sequences) or not last))
            if not last:
                ctx.internal.add(r.name)
        out.append(r)
        dim = r.units
    return out


@register(L.SimpleRNN, L.LSTM, L.GRU, L.RNN, _cells.PeepholeLSTM, _cells.PeepholeGRU)
def _recurrent(layer: Any, ctx: _Ctx) -> list:
    rs = _recurrent_ir(layer, ctx)
    ctx.dim, ctx.seq = rs[-1].units, rs[-1].return_sequences
    return rs


def _weights(layer: Any, cell: Any, input_dim: int, gates: int) -> tuple[np.ndarray, ...]:
    k, rk = _np(cell.kernel), _np(cell.recurrent_kernel)
    u = cell.units
    if k.shape != (input_dim, gates * u) or rk.shape != (u, gates * u):
        raise _unsupported(layer, f"unexpected weight shapes kernel {k.shape}, recurrent_kernel {rk.shape}")
    return k.T, rk.T


def _common(layer: Any, cell: Any) -> dict[str, Any]:
    return dict(units=int(cell.units), return_sequences=bool(layer.return_sequences),
                go_backwards=bool(layer.go_backwards), name=layer.name,
                activation=_elementwise(layer, "activation", cell.activation))


@register_cell(L.SimpleRNNCell)
def _simple_cell(layer: Any, cell: Any, ctx: _Ctx, input_dim: int) -> ir.Recurrent:
    W, U = _weights(layer, cell, input_dim, 1)
    b = _np(cell.bias) if cell.use_bias else np.zeros(cell.units, np.float32)
    kw = _common(layer, cell)
    return _build(layer, lambda: ir.Recurrent(cell="simple", input_dim=input_dim, W=W, U=U, b=b,
                                              b_rec=np.zeros_like(b), **kw))


def _peepholes(layer: Any, cell: Any, rows: int) -> np.ndarray:
    p = _np(cell.peephole_kernel)
    if p.shape != (rows, cell.units):
        raise _unsupported(layer, f"unexpected peephole_kernel shape {p.shape}, expected "
                           f"{(rows, cell.units)}")
    return p


@register_cell(L.LSTMCell, _cells.PeepholeLSTMCell)
def _lstm_cell(layer: Any, cell: Any, ctx: _Ctx, input_dim: int) -> ir.Recurrent:
    W, U = _weights(layer, cell, input_dim, 4)
    b = _np(cell.bias) if cell.use_bias else np.zeros(4 * cell.units, np.float32)
    kw = _common(layer, cell)
    ra = _elementwise(layer, "recurrent_activation", cell.recurrent_activation)
    peephole = isinstance(cell, _cells.PeepholeLSTMCell)
    p = _peepholes(layer, cell, 3) if peephole else None
    return _build(layer, lambda: ir.Recurrent(cell="peephole_lstm" if peephole else "lstm",
                                              input_dim=input_dim, W=W, U=U, b=b,
                                              b_rec=np.zeros_like(b), recurrent_activation=ra,
                                              p=p, **kw))


@register_cell(L.GRUCell, _cells.PeepholeGRUCell)
def _gru_cell(layer: Any, cell: Any, ctx: _Ctx, input_dim: int) -> ir.Recurrent:
    W, U = _weights(layer, cell, input_dim, 3)
    g = 3 * cell.units
    reset_after = bool(cell.reset_after)
    if not cell.use_bias:
        b, b_rec = np.zeros(g, np.float32), np.zeros(g, np.float32)
    elif reset_after:
        bias = _np(cell.bias)
        if bias.shape != (2, g):
            raise _unsupported(layer, f"unexpected bias shape {bias.shape} for reset_after=True")
        b, b_rec = bias[0], bias[1]
    else:
        b, b_rec = _np(cell.bias), np.zeros(g, np.float32)
    kw = _common(layer, cell)
    ra = _elementwise(layer, "recurrent_activation", cell.recurrent_activation)
    peephole = isinstance(cell, _cells.PeepholeGRUCell)
    p = _peepholes(layer, cell, 1) if peephole else None
    return _build(layer, lambda: ir.Recurrent(cell="peephole_gru" if peephole else "gru",
                                              input_dim=input_dim, W=W, U=U, b=b, b_rec=b_rec,
                                              recurrent_activation=ra, reset_after=reset_after,
                                              p=p, **kw))


@register(L.Bidirectional)
def _bidirectional(layer: Any, ctx: _Ctx) -> list:
    if layer.merge_mode not in ir.MERGE_MODES:
        raise _unsupported(layer, f"merge_mode={layer.merge_mode!r} is not supported; supported: "
                           f"{', '.join(ir.MERGE_MODES)}")
    fwd, bwd = layer.forward_layer, layer.backward_layer
    for sub in (fwd, bwd):
        if type(sub) not in LAYER_HANDLERS or LAYER_HANDLERS[type(sub)] is not _recurrent:
            raise _unsupported(layer, f"wraps {_who(sub)}; supported inside Bidirectional: "
                               f"{', '.join(c.__name__ for c, h in LAYER_HANDLERS.items() if h is _recurrent)}")
    if fwd.go_backwards or not bwd.go_backwards:
        raise _unsupported(layer, "the wrapped layer has go_backwards=True (the forward half would "
                           "run backwards): not supported")
    (f,) = _recurrent_ir(fwd, ctx, in_bidirectional=True)
    (b,) = _recurrent_ir(bwd, ctx, in_bidirectional=True)
    bi = _build(layer, lambda: ir.Bidirectional(forward=f, backward=b, merge_mode=layer.merge_mode,
                                                name=layer.name))
    ctx.dim, ctx.seq = bi.output_dim, bi.return_sequences
    return [bi]


# ---------------------------------------------------------------------------------------------
# model walking
# ---------------------------------------------------------------------------------------------

def _describe(layers: list) -> str:
    return ", ".join(f'{l.name} ({type(l).__name__})' for l in layers)


_CHAIN_HINT = "rnnmcu imports a chain of layers from one input to one output"
_BRANCH_NEXT = ("rewrite the model as one chain (Input -> [Masking] -> [Normalization/"
                "BatchNormalization] -> recurrent layers -> Dense), retrain, and convert again")


def _producer(t: Any) -> str:
    op = t._keras_history.operation
    return f'{op.name} ({type(op).__name__})'


def _is_model(layer: Any) -> bool:
    return isinstance(layer, keras.Model)


def _model_inputs(model: Any) -> list:
    try:
        return list(model.inputs)
    except (AttributeError, ValueError) as e:
        raise UnsupportedModelError(
            f'{type(model).__name__} model "{model.name}" is not built: its input shape is unknown',
            "start it with keras.Input(shape=(timesteps or None, features))") from e


def _chain(model: Any) -> list:
    """The Keras layers of a single-input single-output model, input to output, with nested
    models flattened in place.

    A functional graph is walked backwards from its output along each node's data input.  The
    only other tensor a node may take is Keras' own mask: the ``mask`` argument that Keras fills
    in from the data input's ``_keras_mask`` (set by a ``Masking`` layer and propagated by the
    layers after it).  Anything else (a second input, ``initial_state``, a merge, a skip
    connection, an explicit ``mask=``, a ``return_state`` output used downstream, a raw
    ``keras.ops`` call, a shared layer) is refused, naming the layer.  Keras' runtime hands a
    nested model's inner mask on with its output tensor, so a nested model's layers take part
    in masking exactly as they would flattened."""
    if isinstance(model, keras.Sequential):
        _model_inputs(model)
        out: list = []
        for l in model.layers:
            out.extend(_chain(l) if _is_model(l) else [l])
        return out
    if not _is_model(model) or not hasattr(model, "_inbound_nodes"):
        raise UnsupportedModelError(f"{type(model).__name__} is not a Keras model",
                                    "pass a keras.Sequential or functional keras.Model")
    if type(model) is not keras.Model and not isinstance(model, keras.src.models.Functional):
        raise UnsupportedModelError(
            f'model "{model.name}" is a subclassed {type(model).__name__}: only Sequential and '
            "functional models can be imported",
            "build the same layers with keras.Sequential or the functional API, copy the weights "
            "(set_weights) and save that model")
    ins, outs = _model_inputs(model), list(model.outputs)
    if len(ins) != 1:
        raise UnsupportedModelError(
            f'model "{model.name}" has {len(ins)} inputs '
            f"({', '.join(t._keras_history.operation.name + ' (InputLayer)' for t in ins)}); "
            "rnnmcu imports models with a single input",
            "feed all sensor channels through one Input of shape (timesteps, features)")
    if len(outs) != 1:
        raise UnsupportedModelError(
            f'model "{model.name}" has {len(outs)} outputs '
            f"({_describe([t._keras_history.operation for t in outs])}); "
            "rnnmcu imports models with a single output",
            "save a model with the one output the device should compute: keras.Model(inputs, output)")
    chain: list = []
    t = outs[0]
    while True:
        op, node_index, tensor_index = t._keras_history
        if isinstance(op, L.InputLayer):
            break
        if not isinstance(op, keras.layers.Layer):
            raise UnsupportedModelError(
                f'operation "{op.name}" ({type(op).__name__}) is a keras.ops call inside the model, '
                f"not a layer; {_CHAIN_HINT}",
                "express it with a supported layer (Rescaling, Activation, Dense) or move it out of "
                "the model, retrain, and convert again")
        if tensor_index != 0:
            raise UnsupportedModelError(
                f"{_who(op)}: its output {tensor_index} (a state, from return_state=True) is used "
                f"downstream; {_CHAIN_HINT}",
                "use the layer's sequence or last output (output 0) and drop the states")
        node = op._inbound_nodes[node_index]
        data = [v for v in keras.tree.flatten(node.arguments.args) if _is_keras_tensor(v)]
        refusal = REFUSED_LAYERS.get(type(op))
        if refusal is not None:
            raise _unsupported(op, refusal[0], refusal[1])
        if len(data) != 1:
            raise UnsupportedModelError(
                f"{_who(op)} takes {len(data)} input tensors "
                f"({', '.join(_producer(v) for v in data)}): a merge or a skip connection; "
                f"{_CHAIN_HINT}, without merges", _BRANCH_NEXT)
        x_in = data[0]
        for key, value in node.arguments.kwargs.items():
            extra = [v for v in keras.tree.flatten(value) if _is_keras_tensor(v)]
            if not extra:
                continue
            if key == "mask" and len(extra) == 1 and _same_mask(extra[0], getattr(x_in, "_keras_mask", None)):
                continue  # Keras' own mask edge: the Masking layer's mask, propagated
            if key == "mask":
                raise _unsupported(op, "is called with an explicit mask= tensor; rnnmcu follows "
                                   "the masks that a Masking layer makes",
                                   "put a Masking(mask_value) layer after the Input instead, or "
                                   "give the true lengths in the data's `lengths` array")
            raise _unsupported(op, f"takes the tensor argument {key}= "
                               f"({', '.join(_producer(v) for v in extra)}); {_CHAIN_HINT}, "
                               "each recurrent layer starting from its zero state",
                               "start the recurrent layer from its zero state (drop initial_state), "
                               "retrain, and convert again")
        if op in chain:
            raise UnsupportedModelError(f"{_who(op)} is used more than once: shared layers are "
                                        "not supported", _BRANCH_NEXT)
        chain.append(op)
        t = x_in
    chain.reverse()
    out = []
    for l in chain:
        out.extend(_chain(l) if _is_model(l) else [l])
    return out


def _is_keras_tensor(v: Any) -> bool:
    return isinstance(v, keras.KerasTensor)


def _masking_source(t: Any) -> tuple[Any, Any] | None:
    """``(x, value)`` when ``t`` is ``any(not_equal(x, value), axis=-1)``: the mask a Masking layer
    computes from its input ``x``, or None."""
    try:
        op, ni, _ = t._keras_history
        if type(op).__name__ != "Any" or list(np.ravel(op.axis)) != [-1] or op.keepdims:
            return None
        (inner,) = [v for v in keras.tree.flatten(op._inbound_nodes[ni].arguments.args) if _is_keras_tensor(v)]
        op2, ni2, _ = inner._keras_history
        args = list(op2._inbound_nodes[ni2].arguments.args)
        if type(op2).__name__ != "NotEqual" or len(args) != 2 or not _is_keras_tensor(args[0]):
            return None
        return args[0], args[1]
    except (AttributeError, ValueError, IndexError, TypeError):
        return None


def _same_mask(given: Any, propagated: Any) -> bool:
    """Is the ``mask=`` tensor a node takes the mask Keras propagates to its data input?  In a
    model built in this process it is the very tensor; in a model loaded from a ``.keras`` file it
    is the saved copy of the Masking layer's computation (the same comparison on the same input)."""
    if propagated is None:
        return False
    if given is propagated:
        return True
    a, b = _masking_source(given), _masking_source(propagated)
    if a is None or b is None or a[0] is not b[0] or _is_keras_tensor(a[1]) or _is_keras_tensor(b[1]):
        return False
    return bool(np.array_equal(np.asarray(a[1]), np.asarray(b[1])))


def _check_masked_time_reversal(ctx: _Ctx) -> None:
    """With Masking, Keras runs a backward pass over all T positions (padding included) and
    returns its sequence in processing order (b), zeros inside Bidirectional (c), and hands the
    un-reversed mask on.  rnnmcu removes masked steps before the network (as the device never sees
    them), which equals Keras only when no backward pass returns a sequence: refuse the rest
    (the cells of one StackedRNNCells layer step together, so their inner sequences don't count)."""
    for l in ctx.layers:
        backward = isinstance(l, ir.Bidirectional) or (isinstance(l, ir.Recurrent) and l.go_backwards)
        if backward and l.return_sequences and l.name not in ctx.internal:
            k = ctx.origin.get(l.name)
            who = _who(k) if k is not None else f'layer "{l.name}"'
            raise UnsupportedModelError(
                f"{who}: a backward pass (go_backwards or Bidirectional) that returns sequences in a "
                "model with Masking: Keras' masked semantics here (padding consumed in processing "
                "order, zeros inside Bidirectional) have no streaming equivalent",
                "drop the Masking layer and give the true lengths in the data's `lengths` array "
                "(rnnmcu runs each sequence on its valid steps), or use return_sequences=False for "
                "the backward layer")


# Layers refused by name, with why and what to do instead (checked before any handler).
REFUSED_LAYERS: dict[type, tuple[str, str]] = {}


def _refuse(classes: list[str], why: str, next_step: str) -> None:
    for n in classes:
        c = getattr(L, n, None)
        if c is not None:
            REFUSED_LAYERS[c] = (why, next_step)


_refuse(["LayerNormalization", "GroupNormalization", "UnitNormalization", "RMSNormalization"],
        "normalises each step by statistics of that step's own features, a per-step reduction "
        "that rnnmcu does not compute",
        "use BatchNormalization (folded into the weights at conversion) or a Normalization layer "
        "on the input instead, retrain, and convert again")
_refuse(["Attention", "AdditiveAttention", "MultiHeadAttention", "GroupedQueryAttention"],
        "attention mixes every step of a window with every other (and takes query and value "
        "inputs), while rnnmcu runs recurrent layers one step at a time",
        "classify from the last recurrent output instead (return_sequences=False on the last "
        "recurrent layer, then Dense), retrain, and convert again")
_refuse(["Lambda"],
        "runs arbitrary Python code, which cannot be converted to C",
        "replace the Lambda with standard layers (Rescaling, Activation, Dense, ...), retrain, and "
        "convert again")


_AFFINE_OR_NOOP = {"_input", "_identity_at_inference", "_normalization", "_batch_normalization",
                   "_rescaling", "_masking"}


def import_model(keras_model: Any, name: str | None = None, *, source: str = "") -> ir.Model:
    """Convert a Keras 3 Sequential or functional model (nested models flattened) into the IR."""
    if name is not None and not (name.isidentifier() and name.isascii()):
        raise InputError(f"model name {name!r} is not a C identifier",
                         "use letters, digits and underscores, not starting with a digit")
    layers = _chain(keras_model)
    shape = tuple(_model_inputs(keras_model)[0].shape)
    if len(shape) != 3 or shape[2] is None:
        raise UnsupportedModelError(
            f'model "{keras_model.name}" has input shape {shape}; rnnmcu needs '
            "(batch, timesteps, features) with a fixed number of features",
            "start the model with keras.Input(shape=(timesteps or None, features))")
    model_name = name or sanitise_name(keras_model.name)
    ctx = _Ctx(model_name=model_name, dim=int(shape[2]))
    for i, layer in enumerate(layers):
        ctx.index = i
        refusal = REFUSED_LAYERS.get(type(layer))
        if refusal is not None:
            raise _unsupported(layer, refusal[0], refusal[1])
        handler = LAYER_HANDLERS.get(type(layer))
        if handler is None:
            raise _unsupported(layer, "is not supported; supported layers: "
                               f"{', '.join(supported_layers())}")
        produced = handler(layer, ctx)
        if handler.__name__ not in _AFFINE_OR_NOOP:
            ctx.seen_compute = True
        if produced and ctx.pending is not None:
            produced[0] = _fold_pending(ctx, produced[0])
            ctx.pending = ctx.pending_from = None
        for p in produced:
            ctx.origin[p.name] = layer
        ctx.layers.extend(produced)
    if len(keras_model.outputs) != 1:
        raise UnsupportedModelError(
            f'model "{keras_model.name}" has {len(keras_model.outputs)} outputs '
            "(a recurrent layer with return_state=True at the end?); rnnmcu imports models with a "
            "single output", "drop return_state=True from the last recurrent layer")
    if ctx.pending is not None:
        k = ctx.pending_from
        raise _unsupported(k, "ends the model: a per-feature affine map there has no weight layer "
                           "after it to fold into",
                           f"place the {type(k).__name__} layer before a Dense or recurrent layer, "
                           "or right after a Dense with a linear activation, retrain, and convert again")
    if ctx.mask_value is not None:
        _check_masked_time_reversal(ctx)
    if not any(isinstance(l, (ir.Recurrent, ir.Bidirectional)) for l in ctx.layers):
        raise UnsupportedModelError(
            f'model "{keras_model.name}" has no recurrent layer (layers: {_describe(layers)}); '
            "rnnmcu needs at least one of "
            f"{', '.join(c.__name__ for c, h in LAYER_HANDLERS.items() if h in (_recurrent, _bidirectional))}",
            "add a recurrent layer (e.g. LSTM) after the input, retrain, and convert again")
    try:
        return ir.Model(name=model_name, input_dim=int(shape[2]), layers=ctx.layers,
                        norm_mean=ctx.norm_mean, norm_std=ctx.norm_std, mask_value=ctx.mask_value,
                        max_steps=int(shape[1]) if shape[1] is not None else None,
                        stateful=ctx.stateful, source=source or f"keras:{keras_model.name}")
    except ir.IRError as e:
        raise UnsupportedModelError(f'model "{keras_model.name}" cannot be represented: {e}',
                                    _UNSUPPORTED_HINT) from e


def load_keras_object(path: str, custom_objects: dict | None = None) -> Any:
    """Load a ``.keras`` file (without compiling it) as a Keras model, with a clear
    :class:`InputError` for a missing or unreadable file.  The project's own layers and cells
    (:mod:`rnnmcu.trainer.cells`) need no ``custom_objects``: this module registered them."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file", "check the path of the trained .keras model")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a .keras file",
                         "save the model with model.save('name.keras')")
    try:
        return keras.saving.load_model(path, compile=False, custom_objects=custom_objects)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: cannot load the Keras model ({type(e).__name__}: {e})",
                         "is it a model saved by Keras 3 with model.save('name.keras')?") from e


def load_keras_model(path: str, name: str | None = None, custom_objects: dict | None = None) -> ir.Model:
    """Load a ``.keras`` file and import it into the IR."""
    km = load_keras_object(path, custom_objects)
    return import_model(km, name=name, source=os.path.abspath(path))
