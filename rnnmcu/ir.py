"""The model IR: the contract between the Keras importer (``rnnmcu.trainer``) and code
generation (``rnnmcu.codegen``).  Neither side imports the other; both import this module.

Canonical form (fixed once, at import):

* Matrices are stored row-major with one row per *output*: ``W`` is ``(G*units, input_dim)``,
  ``U`` is ``(G*units, units)``, Dense ``W`` is ``(out, in)``.  (Keras stores the transpose.)
* Gate order, rows ``[g*units:(g+1)*units]``:
  - ``simple``: one block (G = 1)
  - ``lstm`` / ``peephole_lstm``: i, f, g (candidate, Keras "c"), o (G = 4) — Keras' own order
  - ``gru`` / ``peephole_gru``: z, r, h (candidate) (G = 3) — Keras' own order
* Biases: ``b`` is the input-side bias (G*units).  ``b_rec`` is the recurrent bias, non-zero only for
  GRU with ``reset_after=True`` (Keras' second bias row); zeros elsewhere.  ``use_bias=False``
  imports as zero biases.
* Peepholes (``p``): ``peephole_lstm`` has (3, units) rows for i, f, o; ``peephole_gru`` has
  (1, units) for z.  Other cells have ``p = None``.
* Activation names are the canonical names in :data:`ELEMENTWISE` (aliases resolved at import).
* Input standardisation is kept as ``norm_mean`` and ``norm_std`` in sensor units: the model's
  first layer sees ``(x - mean) / std``.  It holds a Keras ``Normalization`` layer and any
  ``BatchNormalization`` / ``Rescaling`` before the first computing layer, folded at import (a
  negative ``gamma`` makes a negative ``std``); such layers elsewhere are folded into the
  neighbouring Dense or recurrent weights.  ``std`` is never 0.
* **Which steps exist** (:attr:`Model.masking`).  A sequence is its first ``length`` steps (the
  data's ``lengths``, or all of them): later steps do not exist, whatever their values.  Within
  those, a model *without* ``mask_value`` (``masking == "lengths"``) runs every step, an
  all-zero one included.  A model *with* ``mask_value`` (it had a Keras ``Masking`` layer;
  ``masking == "value"``) keeps Keras' value semantics on top: a step whose raw input equals the
  mask value on every channel is skipped by the recurrent layers: their state and output carry
  over unchanged (zeros before the first valid step), and layers after the last recurrent layer
  still run at that position, as in Keras.  The device never sees masked steps: the host (or the
  app, through ``<name>_quantize_input``'s return value) leaves them out.  Keras' masked
  semantics for backward passes that return sequences have no streaming equivalent; the importer
  refuses that combination.
"""
from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from rnnmcu import facts

IR_VERSION = 1

CELLS = tuple(c.name for c in facts.CELLS)  # the cell table: rnnmcu/facts.py
GATES = {c.name: c.gates for c in facts.CELLS}
MERGE_MODES = ("concat", "sum", "mul", "ave")

# Elementwise activations with a float definition in rnnmcu.codegen.activations.
ELEMENTWISE = (
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "sigmoid",
    "hard_sigmoid", "hard_silu", "silu", "softplus", "softsign", "tanh", "exponential", "mish",
    "log_sigmoid", "tanh_shrink", "hard_tanh", "soft_shrink", "hard_shrink", "sparse_plus",
    "squareplus", "sparse_sigmoid",
)
# Keras names and aliases -> canonical name (the importer resolves them; canonical names map to
# themselves), and the one parameterised activation's constant: Keras' leaky_relu slope.
ACTIVATION_ALIASES: dict[str | None, str] = {None: "linear", "swish": "silu", "hard_swish": "hard_silu"}
LEAKY_RELU_SLOPE = 0.2


class IRError(ValueError):
    """An IR that breaks its own invariants (a bug in whoever built it, or a corrupt file)."""


def _arr(a: Any, dtype=np.float32) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=dtype))


@dataclass
class Recurrent:
    cell: str
    units: int
    input_dim: int
    W: np.ndarray
    U: np.ndarray
    b: np.ndarray
    b_rec: np.ndarray
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    return_sequences: bool = False
    go_backwards: bool = False
    reset_after: bool = True
    p: np.ndarray | None = None
    name: str = ""
    type: str = field(default="recurrent", init=False)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise IRError(f"unknown cell {self.cell!r}; known: {', '.join(CELLS)}")
        g = GATES[self.cell] * self.units
        self.W, self.U, self.b, self.b_rec = _arr(self.W), _arr(self.U), _arr(self.b), _arr(self.b_rec)
        _shape(self, "W", (g, self.input_dim))
        _shape(self, "U", (g, self.units))
        _shape(self, "b", (g,))
        _shape(self, "b_rec", (g,))
        for a in (self.activation, self.recurrent_activation):
            if a not in ELEMENTWISE:
                raise IRError(f"layer {self.name!r}: unknown activation {a!r}")
        if self.peephole:
            if self.p is None:
                raise IRError(f"layer {self.name!r}: {self.cell} needs peephole weights p")
            self.p = _arr(self.p)
            _shape(self, "p", (len(facts.KIND[self.kind].peephole_gates), self.units))
        elif self.p is not None:
            raise IRError(f"layer {self.name!r}: only peephole cells carry p")

    @property
    def gates(self) -> int:
        return GATES[self.cell]

    @property
    def kind(self) -> str:
        """The cell's C kind (simple, lstm, gru): which reference and kernel compute it."""
        return facts.CELL[self.cell].kind

    @property
    def peephole(self) -> bool:
        return facts.CELL[self.cell].peephole

    @property
    def output_dim(self) -> int:
        return self.units


@dataclass
class Bidirectional:
    forward: Recurrent
    backward: Recurrent
    merge_mode: str = "concat"
    name: str = ""
    type: str = field(default="bidirectional", init=False)

    def __post_init__(self) -> None:
        if self.merge_mode not in MERGE_MODES:
            raise IRError(f"layer {self.name!r}: merge_mode {self.merge_mode!r} not in {MERGE_MODES}")
        if self.forward.return_sequences != self.backward.return_sequences:
            raise IRError(f"layer {self.name!r}: both directions must agree on return_sequences")
        if self.forward.units != self.backward.units or self.forward.input_dim != self.backward.input_dim:
            raise IRError(f"layer {self.name!r}: both directions must have the same shape")

    @property
    def return_sequences(self) -> bool:
        return self.forward.return_sequences

    @property
    def input_dim(self) -> int:
        return self.forward.input_dim

    @property
    def output_dim(self) -> int:
        return self.forward.units * (2 if self.merge_mode == "concat" else 1)


@dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray
    activation: str = "linear"
    name: str = ""
    type: str = field(default="dense", init=False)

    def __post_init__(self) -> None:
        self.W, self.b = _arr(self.W), _arr(self.b)
        if self.W.ndim != 2:
            raise IRError(f"layer {self.name!r}: W must be 2-D (out, in)")
        _shape(self, "b", (self.W.shape[0],))
        if self.activation not in ELEMENTWISE:
            raise IRError(f"layer {self.name!r}: unknown activation {self.activation!r}")

    @property
    def input_dim(self) -> int:
        return int(self.W.shape[1])

    @property
    def output_dim(self) -> int:
        return int(self.W.shape[0])


@dataclass
class Activation:
    activation: str
    dim: int
    name: str = ""
    type: str = field(default="activation", init=False)

    def __post_init__(self) -> None:
        if self.activation not in ELEMENTWISE:
            raise IRError(f"layer {self.name!r}: unknown activation {self.activation!r}")

    @property
    def input_dim(self) -> int:
        return self.dim

    @property
    def output_dim(self) -> int:
        return self.dim


@dataclass
class Softmax:
    dim: int
    name: str = ""
    type: str = field(default="softmax", init=False)

    @property
    def input_dim(self) -> int:
        return self.dim

    @property
    def output_dim(self) -> int:
        return self.dim


Layer = Union[Recurrent, Bidirectional, Dense, Activation, Softmax]
_LAYER_TYPES = {"recurrent": Recurrent, "bidirectional": Bidirectional, "dense": Dense,
                "activation": Activation, "softmax": Softmax}


@dataclass
class Model:
    """A whole network: ``x (T, input_dim)`` in sensor units → outputs.

    ``output_sequence`` is true when the model outputs one vector per step (the last recurrent
    layer returns sequences); otherwise it outputs one vector per window, after the last step.
    """

    name: str
    input_dim: int
    layers: list[Layer]
    norm_mean: np.ndarray | None = None
    norm_std: np.ndarray | None = None
    mask_value: np.ndarray | None = None
    max_steps: int | None = None
    stateful: bool = False
    class_names: list[str] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise IRError(f"model name {self.name!r} must be a C identifier")
        f = self.input_dim
        self.norm_mean = _arr(np.zeros(f) if self.norm_mean is None else self.norm_mean)
        self.norm_std = _arr(np.ones(f) if self.norm_std is None else self.norm_std)
        _shape(self, "norm_mean", (f,))
        _shape(self, "norm_std", (f,))
        if np.any(self.norm_std == 0) or not np.all(np.isfinite(self.norm_std)):
            raise IRError("norm_std must be finite and non-zero")
        if self.mask_value is not None:
            self.mask_value = _arr(self.mask_value)
            _shape(self, "mask_value", (f,))
        if not any(isinstance(l, (Recurrent, Bidirectional)) for l in self.layers):
            raise IRError("a model needs at least one recurrent layer")
        seq = True
        d = f
        for l in self.layers:
            if l.input_dim != d:
                raise IRError(f"layer {l.name!r}: takes {l.input_dim} inputs but receives {d}")
            if isinstance(l, (Recurrent, Bidirectional)):
                if not seq:
                    raise IRError(f"layer {l.name!r}: a recurrent layer needs a sequence input")
                seq = l.return_sequences
            d = l.output_dim

    @property
    def output_dim(self) -> int:
        return self.layers[-1].output_dim

    @property
    def output_sequence(self) -> bool:
        seq = True
        for l in self.layers:
            if isinstance(l, (Recurrent, Bidirectional)):
                seq = l.return_sequences
        return seq

    @property
    def masking(self) -> str:
        """``"lengths"``: every step within a sequence's length runs; ``"value"``: steps equal to
        ``mask_value`` on every channel are skipped too (a Keras ``Masking`` layer)."""
        return "lengths" if self.mask_value is None else "value"

    @property
    def needs_window(self) -> bool:
        """True when a step cannot be computed from the past alone (backward passes)."""
        for l in self.layers:
            if isinstance(l, Bidirectional) or (isinstance(l, Recurrent) and l.go_backwards):
                return True
        return False


# ---------------------------------------------------------------------------------------------
# Folding a per-feature affine map ``x -> a * x + c`` (Normalization, BatchNormalization at
# inference, Rescaling) into its neighbours.  Float64 arithmetic; the IR stores float32.
# ---------------------------------------------------------------------------------------------

def fold_affine_input(norm_mean: np.ndarray | None, norm_std: np.ndarray | None, a: np.ndarray,
                      c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The input standardisation ``(x - mean) / std`` followed by ``a * . + c`` as one
    standardisation ``(x - mean') / std'`` (``a`` must have no zero)."""
    a, c = np.asarray(a, np.float64), np.asarray(c, np.float64)
    if np.any(a == 0):
        raise IRError("an affine map with a zero scale cannot fold into the input standardisation")
    m = np.zeros(a.shape) if norm_mean is None else np.asarray(norm_mean, np.float64)
    s = np.ones(a.shape) if norm_std is None else np.asarray(norm_std, np.float64)
    return _arr(m - c * s / a), _arr(s / a)


def fold_affine_into(layer: "Layer", a: np.ndarray, c: np.ndarray) -> "Layer":
    """``layer`` taking ``a * x + c`` instead of ``x``: ``W' = W diag(a)``, ``b' = b + W c`` (the
    input-side bias; a GRU's recurrent bias is untouched).  Dense, Recurrent or Bidirectional."""
    a, c = np.asarray(a, np.float64), np.asarray(c, np.float64)

    def fold(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        W64 = W.astype(np.float64)
        return W64 * a[None, :], b.astype(np.float64) + W64 @ c

    if isinstance(layer, Dense):
        W, b = fold(layer.W, layer.b)
        return Dense(W=W, b=b, activation=layer.activation, name=layer.name)
    if isinstance(layer, Recurrent):
        W, b = fold(layer.W, layer.b)
        return dataclasses.replace(layer, W=W, b=b)
    if isinstance(layer, Bidirectional):
        return dataclasses.replace(layer, forward=fold_affine_into(layer.forward, a, c),
                                   backward=fold_affine_into(layer.backward, a, c))
    raise IRError(f"an affine map cannot fold into {type(layer).__name__} layer {layer.name!r}")


def fold_affine_after(layer: "Dense", a: np.ndarray, c: np.ndarray) -> "Dense":
    """A linear Dense followed by ``a * . + c``: ``W' = diag(a) W``, ``b' = a b + c``."""
    if not isinstance(layer, Dense) or layer.activation != "linear":
        raise IRError(f"an affine map folds backwards only into a linear Dense, not {layer.name!r}")
    a, c = np.asarray(a, np.float64), np.asarray(c, np.float64)
    return Dense(W=layer.W.astype(np.float64) * a[:, None], b=layer.b.astype(np.float64) * a + c,
                 activation="linear", name=layer.name)


def _shape(obj: Any, attr: str, want: tuple[int, ...]) -> None:
    got = getattr(obj, attr).shape
    if tuple(got) != tuple(want):
        raise IRError(f"{type(obj).__name__} {getattr(obj, 'name', '')!r}: {attr} has shape {got}, expected {want}")


# ---------------------------------------------------------------------------------------------
# Serialisation: a zip with ``ir.json`` (structure; arrays replaced by references) and
# ``arrays.npz``.  Other parts (the quantised plan) add their own members via ``extra``.
# ---------------------------------------------------------------------------------------------

def _to_json(obj: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"$array": key}
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            out[f.name] = _to_json(getattr(obj, f.name), arrays, f"{path}.{f.name}")
        return out
    if isinstance(obj, (list, tuple)):
        return [_to_json(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        return {k: _to_json(v, arrays, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    return obj


def _from_json(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, dict):
        if "$array" in obj:
            return np.asarray(arrays[obj["$array"]])
        return {k: _from_json(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v, arrays) for v in obj]
    return obj


def _layer_from_dict(d: dict[str, Any]) -> Layer:
    d = dict(d)
    kind = d.pop("type")
    cls = _LAYER_TYPES.get(kind)
    if cls is None:
        raise IRError(f"unknown layer type {kind!r} in IR file")
    if cls is Bidirectional:
        d["forward"] = _layer_from_dict(d["forward"])
        d["backward"] = _layer_from_dict(d["backward"])
    return cls(**d)


def model_to_dict(model: Model, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    return _to_json(model, arrays, "model")


def model_from_dict(d: dict[str, Any], arrays: Any) -> Model:
    d = _from_json(d, arrays)
    d["layers"] = [_layer_from_dict(l) for l in d["layers"]]
    return Model(**d)


def save(path: str, model: Model, extra: dict[str, Any] | None = None) -> None:
    """Write ``model`` (and an optional JSON-able ``extra`` section that may hold arrays)
    atomically: a half-written file is never left at ``path``."""
    arrays: dict[str, np.ndarray] = {}
    doc = {"format": "rnnmcu-ir", "version": IR_VERSION, "model": model_to_dict(model, arrays)}
    if extra is not None:
        doc["extra"] = _to_json(extra, arrays, "extra")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    from rnnmcu.atomic import atomic_file

    with atomic_file(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ir.json", json.dumps(doc, indent=1, sort_keys=True))
        z.writestr("arrays.npz", buf.getvalue())


def load(path: str) -> tuple[Model, dict[str, Any] | None]:
    """Read a file written by :func:`save`.  Raises :class:`IRError` on anything malformed."""
    try:
        with zipfile.ZipFile(path) as z:
            doc = json.loads(z.read("ir.json"))
            arrays = dict(np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError, OSError) as e:
        raise IRError(f"{path}: not a readable rnnmcu model file ({e})") from e
    if doc.get("format") != "rnnmcu-ir":
        raise IRError(f"{path}: not an rnnmcu model file")
    if doc.get("version") != IR_VERSION:
        raise IRError(f"{path}: IR version {doc.get('version')} but this rnnmcu reads version {IR_VERSION}")
    try:
        model = model_from_dict(doc["model"], arrays)
    except (TypeError, KeyError) as e:
        raise IRError(f"{path}: malformed model section ({e})") from e
    extra = _from_json(doc["extra"], arrays) if "extra" in doc else None
    return model, extra
