"""rnnmcu.codegen.activations against Keras 3 (the oracle for the float path)."""
from __future__ import annotations

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from rnnmcu import ir
from rnnmcu.codegen import activations as act

import keras  # noqa: E402  (installed by make setup: missing is a setup bug, never a skip)

# Public names of keras.activations that are not elementwise activations usable by name.
NOT_ELEMENTWISE = {
    "get": "lookup function",
    "serialize": "serialisation helper",
    "deserialize": "serialisation helper",
    "softmax": "normalises over an axis (ir.Softmax)",
    "log_softmax": "normalises over an axis",
    "sparsemax": "normalises over an axis",
    "glu": "splits the feature axis in two halves",
    "threshold": "elementwise, but needs (threshold, default_value): unusable by name",
}

GRID = np.linspace(-20.0, 20.0, 40001, dtype=np.float32)
# Points where piecewise definitions switch, and their float32 neighbours.
_KINKS = np.array([-6, -3, -1.5, -1, -0.5, 0, 0.5, 1, 3, 6], dtype=np.float32)
EDGES = np.concatenate([_KINKS, np.nextafter(_KINKS, np.float32(-np.inf)),
                        np.nextafter(_KINKS, np.float32(np.inf))])
X32 = np.sort(np.concatenate([GRID, EDGES]))


def keras_elementwise_names() -> list[str]:
    names = [n for n in dir(keras.activations) if not n.startswith("_")]
    return sorted(n for n in names if n not in NOT_ELEMENTWISE)


def keras_eval(name: str, x32: np.ndarray) -> np.ndarray:
    fn = keras.activations.get(name)
    return np.asarray(keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(x32))), np.float64)


def test_every_keras_elementwise_activation_is_covered():
    missing = [n for n in keras_elementwise_names() if n not in act.ALIASES and n not in act.NAMES]
    assert not missing, (f"Keras exposes elementwise activation(s) {missing} that "
                         "rnnmcu.codegen.activations does not define")


def test_ir_elementwise_is_defined_here():
    assert set(ir.ELEMENTWISE) <= set(act.NAMES)


def test_not_elementwise_list_is_current():
    # A name listed as excluded that Keras dropped would hide nothing, but keep the list honest.
    public = {n for n in dir(keras.activations) if not n.startswith("_")}
    assert set(NOT_ELEMENTWISE) <= public


@pytest.mark.parametrize("name", sorted(set(act.NAMES) | set(keras_elementwise_names())))
def test_matches_keras(name):
    ours = act.get(name)(X32.astype(np.float64))
    theirs = keras_eval(name, X32)
    assert ours.dtype == np.float64 and ours.shape == X32.shape
    err = np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))
    worst = int(np.argmax(err))
    assert err[worst] <= 1e-6, f"{name} at x={X32[worst]!r}: ours {ours[worst]!r}, keras {theirs[worst]!r}"


@pytest.mark.parametrize("alias,canon", [("swish", "silu"), ("hard_swish", "hard_silu"), (None, "linear")])
def test_aliases(alias, canon):
    assert act.ALIASES[alias] == canon
    assert act.canonical(alias) == canon
    assert act.get(alias) is act.get(canon)
    assert keras.activations.get(alias) is keras.activations.get(canon)


def test_unknown_name():
    with pytest.raises(ValueError, match="softmax"):
        act.get("softmax")


@pytest.mark.parametrize("name", act.NAMES)
def test_bounds_hold_and_are_tight(name):
    lo, hi = act.bounds(name)
    x = np.concatenate([np.linspace(-60.0, 60.0, 240001), [-1e9, 1e9]])  # softsign is slow
    if name == "exponential":
        x = x[x < 40]
    y = act.get(name)(x)
    if lo is not None:
        assert y.min() >= lo - 1e-12, f"{name} goes below {lo}: {y.min()}"
        assert y.min() <= lo + 1e-4, f"{name}: lower bound {lo} is loose (min seen {y.min()})"
    else:
        assert y.min() < -10
    if hi is not None:
        assert y.max() <= hi + 1e-12, f"{name} goes above {hi}: {y.max()}"
        assert y.max() >= hi - 1e-4, f"{name}: upper bound {hi} is loose (max seen {y.max()})"
    else:
        assert y.max() > 10


@pytest.mark.parametrize("name", act.NAMES)
def test_saturates(name):
    s = act.saturates(name)
    lo, hi = act.bounds(name)
    if lo is None or hi is None:
        assert s is None
        return
    assert s is not None and s > 0
    f = act.get(name)
    beyond = np.concatenate([s * np.linspace(1.0, 4.0, 301), [s * 1e3]])
    assert np.all(np.abs(f(beyond) - hi) <= act.SATURATION_EPS * (1 + 1e-9))
    assert np.all(np.abs(f(-beyond) - lo) <= act.SATURATION_EPS * (1 + 1e-9))
    # and not much earlier: just inside, one side is still further than eps from its limit
    inside = s * (1 - 1e-3)
    assert max(abs(f(np.array(inside)) - hi), abs(f(np.array(-inside)) - lo)) > act.SATURATION_EPS


def test_saturation_values():
    assert act.saturates("hard_sigmoid") == 3.0
    assert act.saturates("hard_tanh") == 1.0
    assert math.isclose(act.saturates("sigmoid"), math.log(999999.0))
    assert math.isclose(act.saturates("tanh"), 0.5 * math.log((2 - 1e-6) / 1e-6))
    assert act.saturates("relu") is None and act.saturates("elu") is None


def test_keras_defaults_that_differ_from_ops():
    # the activation gelu is the exact erf form, not keras.ops.gelu's tanh approximation
    x = np.array([-1.3, 0.7, 2.1])
    exact = 0.5 * x * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    np.testing.assert_allclose(act.get("gelu")(x), exact, rtol=0, atol=1e-15)
    assert act.get("leaky_relu")(np.array([-1.0]))[0] == -0.2
    assert act.get("hard_sigmoid")(np.array([0.6]))[0] == pytest.approx(0.6)
