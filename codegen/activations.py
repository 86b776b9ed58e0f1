"""Float definitions of the elementwise activations, exactly as Keras 3.15 computes them.

numpy only (no TensorFlow): code generation and the references use these without Keras.
Every function takes and returns ``float64`` arrays.  Each definition below follows the
Keras 3.15 source (``keras/src/activations/activations.py`` and the TensorFlow backend's
``keras/src/backend/tensorflow/nn.py``), with Keras' *activation* defaults — which are not
always the defaults of the op or layer of the same name:

* ``leaky_relu``: negative_slope 0.2 (the ``LeakyReLU`` *layer* defaults to 0.3)
* ``gelu``: exact erf form (``keras.activations.gelu`` has ``approximate=False``;
  ``keras.ops.gelu`` defaults to the tanh approximation)
* ``hard_sigmoid``: relu6(x + 3) / 6 (slope 1/6, not the Keras 2 slope 0.2)
* ``hard_silu`` (alias ``hard_swish``): x * hard_sigmoid(x)
* ``selu``: scale 1.0507009873554804934193349852946, alpha 1.6732632423543772848170429916717
* ``elu``, ``celu``: alpha 1
* ``squareplus``: b = 4
* ``soft_shrink``, ``hard_shrink``: threshold 0.5 (``hard_shrink`` keeps x where |x| > 0.5)
* ``sparse_plus``: 0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1
* ``sparse_sigmoid``: 0 for x <= -1, (x + 1) / 2 between, 1 for x >= 1

``bounds(name)`` is the output range ``(lo, hi)`` (``None`` for an unbounded side).
``saturates(name)`` is, for the functions bounded on both sides (sigmoid-, tanh-like), the input
magnitude ``s`` such that for every ``|x| >= s`` the function is within ``SATURATION_EPS`` (1e-6)
of its limit on that side; ``None`` for every other function.  The quantiser caps table input
ranges with it.

Keras exposes one elementwise activation that :data:`rnnmcu.ir.ELEMENTWISE` does not list yet:
``sparse_sigmoid``.  It is defined here (see :data:`EXTRA`) so the IR only has to name it.
``threshold`` is elementwise but has no defaults (``threshold(x, threshold, default_value)``), so
it cannot be used by name as a layer activation and is not defined here.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from rnnmcu import ir
from rnnmcu.ir import ELEMENTWISE

Fn = Callable[[np.ndarray], np.ndarray]

SATURATION_EPS = 1e-6

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
LEAKY_RELU_SLOPE = ir.LEAKY_RELU_SLOPE
SQUAREPLUS_B = 4.0
SHRINK_THRESHOLD = 0.5

# Elementwise Keras activations that rnnmcu.ir.ELEMENTWISE does not (yet) list.
EXTRA = ("sparse_sigmoid",)

# Keras names and aliases -> canonical name (the IR's table).  Canonical names map to themselves
# via canonical().
ALIASES = ir.ACTIVATION_ALIASES


def _f(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    x = _f(x)
    # Stable on both sides: exp of a non-positive number only.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, _f(x))


def _hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(_f(x) + 3.0, 0.0, 6.0) / 6.0


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu(x: np.ndarray) -> np.ndarray:
    x = _f(x)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _elu(x: np.ndarray) -> np.ndarray:
    x = _f(x)
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


_FUNCS: dict[str, Fn] = {
    "linear": lambda x: _f(x).copy(),
    "relu": lambda x: np.maximum(_f(x), 0.0),
    "relu6": lambda x: np.clip(_f(x), 0.0, 6.0),
    "leaky_relu": lambda x: np.where(_f(x) >= 0, _f(x), LEAKY_RELU_SLOPE * _f(x)),
    "elu": _elu,
    "selu": lambda x: SELU_SCALE * np.where(_f(x) > 0, _f(x),
                                            SELU_ALPHA * np.expm1(np.minimum(_f(x), 0.0))),
    "celu": lambda x: np.maximum(_f(x), 0.0) + np.expm1(np.minimum(_f(x), 0.0)),
    "gelu": _gelu,
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda x: _f(x) * _hard_sigmoid(x),
    "silu": lambda x: _f(x) * _sigmoid(x),
    "softplus": _softplus,
    "softsign": lambda x: _f(x) / (1.0 + np.abs(_f(x))),
    "tanh": lambda x: np.tanh(_f(x)),
    "exponential": lambda x: np.exp(_f(x)),
    "mish": lambda x: _f(x) * np.tanh(_softplus(x)),
    "log_sigmoid": lambda x: -_softplus(-_f(x)),
    "tanh_shrink": lambda x: _f(x) - np.tanh(_f(x)),
    "hard_tanh": lambda x: np.clip(_f(x), -1.0, 1.0),
    "soft_shrink": lambda x: np.where(_f(x) > SHRINK_THRESHOLD, _f(x) - SHRINK_THRESHOLD,
                                      np.where(_f(x) < -SHRINK_THRESHOLD,
                                               _f(x) + SHRINK_THRESHOLD, 0.0)),
    "hard_shrink": lambda x: np.where(np.abs(_f(x)) > SHRINK_THRESHOLD, _f(x), 0.0),
    "sparse_plus": lambda x: np.where(_f(x) <= -1.0, 0.0,
                                      np.where(_f(x) < 1.0, 0.25 * (_f(x) + 1.0) ** 2, _f(x))),
    "squareplus": lambda x: 0.5 * (_f(x) + np.sqrt(_f(x) ** 2 + SQUAREPLUS_B)),
    "sparse_sigmoid": lambda x: np.clip(0.5 * (_f(x) + 1.0), 0.0, 1.0),
}

NAMES: tuple[str, ...] = tuple(ELEMENTWISE) + tuple(n for n in EXTRA if n not in ELEMENTWISE)


def _minimum(fn: Fn, lo: float, hi: float) -> float:
    """The minimum of a unimodal ``fn`` on ``[lo, hi]`` by golden-section search (float64)."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    for _ in range(200):
        c, d = b - g * (b - a), a + g * (b - a)
        if fn(np.array(c)) < fn(np.array(d)):
            b = d
        else:
            a = c
    return float(fn(np.array((a + b) / 2.0)))


# Output ranges.  The minima of gelu, silu and mish have no closed form: found numerically once.
_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "linear": (None, None),
    "relu": (0.0, None),
    "relu6": (0.0, 6.0),
    "leaky_relu": (None, None),
    "elu": (-1.0, None),
    "selu": (-SELU_SCALE * SELU_ALPHA, None),
    "celu": (-1.0, None),
    "gelu": (_minimum(_gelu, -3.0, 0.0), None),
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "hard_silu": (-0.375, None),  # x (x + 3) / 6 is smallest at x = -1.5
    "silu": (_minimum(_FUNCS["silu"], -3.0, 0.0), None),
    "softplus": (0.0, None),
    "softsign": (-1.0, 1.0),
    "tanh": (-1.0, 1.0),
    "exponential": (0.0, None),
    "mish": (_minimum(_FUNCS["mish"], -3.0, 0.0), None),
    "log_sigmoid": (None, 0.0),
    "tanh_shrink": (None, None),
    "hard_tanh": (-1.0, 1.0),
    "soft_shrink": (None, None),
    "hard_shrink": (None, None),
    "sparse_plus": (0.0, None),
    "squareplus": (0.0, None),
    "sparse_sigmoid": (0.0, 1.0),
}

_E = SATURATION_EPS
# Functions bounded on both sides: |x| beyond which f is within SATURATION_EPS of its limit.
_SATURATES: dict[str, float] = {
    # 1 - sigmoid(s) = eps  <=>  s = ln((1 - eps) / eps); symmetric about (0, 1/2)
    "sigmoid": math.log((1.0 - _E) / _E),
    # 1 - tanh(s) = eps  <=>  s = atanh(1 - eps)
    "tanh": math.atanh(1.0 - _E),
    # 1 - s / (1 + s) = eps  <=>  s = (1 - eps) / eps
    "softsign": (1.0 - _E) / _E,
    "hard_sigmoid": 3.0,
    "hard_tanh": 1.0,
    "relu6": 6.0,
    "sparse_sigmoid": 1.0,
}


def canonical(name: str | None) -> str:
    """The canonical name of a Keras activation name or alias; ``ValueError`` if unknown."""
    n = ALIASES.get(name, name)
    if n not in _FUNCS:
        raise ValueError(f"unknown elementwise activation {name!r}; known: {', '.join(NAMES)}")
    return n  # type: ignore[return-value]


def get(name: str | None) -> Fn:
    """The float64 numpy implementation of the activation ``name`` (aliases accepted)."""
    return _FUNCS[canonical(name)]


def bounds(name: str | None) -> tuple[float | None, float | None]:
    """The output range ``(lo, hi)`` of ``name``; ``None`` for an unbounded side."""
    return _BOUNDS[canonical(name)]


def saturates(name: str | None) -> float | None:
    """Input magnitude beyond which ``name`` is within 1e-6 of its limit on either side, for
    functions bounded on both sides; ``None`` for the others."""
    return _SATURATES.get(canonical(name))


assert set(_FUNCS) == set(NAMES) == set(_BOUNDS), "activation tables out of step"
