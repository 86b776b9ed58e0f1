"""Synthetic IMU-like gesture data: a realistic stand-in for a wrist or handheld sensor.

Each sequence is a window from a 6-axis IMU (optionally 9 with a magnetometer) sampled at
:data:`SAMPLE_RATE_HZ`, in the units the sensor gives — nothing is standardised:

* ``ax ay az`` accelerometer in m/s^2, gravity (~9.81) mostly on ``az`` with a random tilt
* ``gx gy gz`` gyroscope in deg/s
* ``mx my mz`` magnetometer in uT (earth field offset), only when ``channels > 6``

On top of the gesture each sequence gets: a per-sequence sensor bias, white noise, a slow drift
(ramp + low-frequency wobble), a random amplitude, a random speed (the gesture lasts 40-75 % of
the window) with a non-linear time warp, and a random onset (the gesture ends somewhere in the last
sixth of the window, as in a capture a motion trigger closes shortly after the movement).

Classes, in the order ``--classes K`` takes them:

``idle``         no gesture (tremor only)
``shake``        sustained oscillation on x (2.5-4 Hz, 60-95 % of the window) with wrist rotation
``circle``       the hand draws a circle: x and y in quadrature, constant yaw rate
``swipe_left``   x accelerates negative then decelerates positive, yaw rate negative then positive
``swipe_right``  the same motions in the opposite order (mirror of ``swipe_left``)
``tap``          two sharp taps on z
``wave``         slow side-to-side wave on y (2 cycles) with roll
``lift``         z up then brake, pitch rate positive then negative

``swipe_left``/``swipe_right`` have the same per-channel mean (~0 over the gesture: the hand
starts and ends at rest) and the same energy; only the order of the two motions differs, so a
classifier needs memory — a window mean or variance cannot tell them apart.

Hard mode (``hard=True``), a set on which int8 post-training quantisation loses accuracy: the
gestures are slower and smaller (:data:`HARD_GAIN` of their usual motion per channel), and in
:data:`HARD_KNOCK_P` of the sequences the device is knocked once or twice — a 1-2 step shock on
every IMU axis at once (5-15 g on the accelerometer, 1000-2000 deg/s on the gyroscope,
:data:`HARD_KNOCK`).  The knocks carry no class information, but they set the int8 input ranges, so
one int8 input step is as large as a good part of a gesture's own signal.

Variable length (``variable_length=True``): each sequence keeps a random valid length in
``[steps // 2, steps]``; the tail is padded with zeros and ``lengths`` is written (the lengths,
not the values, say which steps are real).
"""
from __future__ import annotations

import numpy as np

from rnnmcu.errors import InputError

SAMPLE_RATE_HZ = 50.0
GRAVITY = 9.81
CLASS_NAMES = ("idle", "shake", "circle", "swipe_left", "swipe_right", "tap", "wave", "lift")
CHANNEL_NAMES = ("ax", "ay", "az", "gx", "gy", "gz", "mx", "my", "mz")
MAX_CHANNELS = len(CHANNEL_NAMES)

# Per-channel noise (sigma), bias (sigma) and drift amplitude, in sensor units.
_NOISE = np.array([0.25, 0.25, 0.25, 3.0, 3.0, 3.0, 0.6, 0.6, 0.6])
_BIAS = np.array([0.15, 0.15, 0.15, 1.5, 1.5, 1.5, 2.0, 2.0, 2.0])
_DRIFT = np.array([0.3, 0.3, 0.3, 3.0, 3.0, 3.0, 1.0, 1.0, 1.0])
_EARTH_FIELD = np.array([22.0, 1.5, -41.0])
# hard mode (see the module docstring)
HARD_GAIN = np.array([0.5, 0.5, 0.5, 0.3, 0.3, 0.3])   # gesture motion per channel (ax..gz)
HARD_KNOCK_P = 0.5                                        # per sequence
HARD_KNOCK = np.array([[50.0, 150.0]] * 3 + [[1000.0, 2000.0]] * 3)  # |peak| range per channel


def _bump(u: np.ndarray, a: float, b: float) -> np.ndarray:
    """A half-sine pulse on [a, b] of local gesture time u, zero outside."""
    inside = (u >= a) & (u <= b)
    return np.where(inside, np.sin(np.pi * np.clip((u - a) / (b - a), 0.0, 1.0)), 0.0)


def _gesture(name: str, u: np.ndarray, dur_s: float, rng: np.random.Generator) -> np.ndarray:
    """The motion part of one gesture, (len(u), 6) in m/s^2 and deg/s.  ``u`` is local gesture time in
    [0, 1] inside the gesture and outside [0, 1] elsewhere (where the result is zero)."""
    out = np.zeros((u.shape[0], 6))
    on = (u >= 0.0) & (u <= 1.0)
    env = _bump(u, 0.0, 1.0) ** 0.5  # soft start and stop
    t_s = u * dur_s  # seconds since onset
    if name == "idle":
        return out
    if name == "shake":
        f = rng.uniform(2.5, 4.0)
        ph = 2 * np.pi * f * t_s
        out[:, 0] = 12.0 * np.sin(ph) * env
        out[:, 4] = 160.0 * np.cos(ph) * env
    elif name == "circle":
        ph = 2 * np.pi * u
        out[:, 0] = 5.0 * np.sin(ph) * env
        out[:, 1] = 5.0 * np.cos(ph) * env
        out[:, 5] = 180.0 * env
    elif name in ("swipe_left", "swipe_right"):
        s = -1.0 if name == "swipe_left" else 1.0
        push = _bump(u, 0.0, 0.5) - _bump(u, 0.5, 1.0)
        out[:, 0] = s * 8.0 * push
        out[:, 5] = s * 120.0 * push
        out[:, 2] = 1.0 * _bump(u, 0.0, 1.0)  # a small lift during the motion, same for both
    elif name == "tap":
        for c in (0.25, 0.7):
            spike = _bump(u, c - 0.06, c + 0.06)
            ring = _bump(u, c + 0.06, c + 0.2) * np.sin(2 * np.pi * 3 * (u - c - 0.06) / 0.14)
            out[:, 2] += -14.0 * spike + 4.0 * ring
            out[:, 3] += 60.0 * spike
    elif name == "wave":
        ph = 2 * np.pi * 2.0 * u
        out[:, 1] = 6.0 * np.sin(ph) * env
        out[:, 3] = 110.0 * np.cos(ph) * env
    elif name == "lift":
        push = _bump(u, 0.0, 0.5) - _bump(u, 0.5, 1.0)
        out[:, 2] = 6.0 * push
        out[:, 4] = 90.0 * push
    else:  # pragma: no cover - names come from CLASS_NAMES
        raise ValueError(name)
    out[~on] = 0.0
    return out


def _sequence(name: str, steps: int, valid: int, channels: int, rng: np.random.Generator,
              hard: bool = False) -> np.ndarray:
    t = np.arange(valid, dtype=np.float64)
    # Speed: the gesture lasts 40-75 % of the valid window; random onset inside it.
    lo, hi = (0.60, 0.95) if name == "shake" else (0.40, 0.75)  # shaking is a sustained motion
    dur = max(8, int(round(rng.uniform(lo, hi) * valid)))
    # Random onset; the gesture ends in the last sixth of the window, as in a capture that a
    # motion trigger closes shortly after the movement.
    latest = valid - dur
    onset = rng.integers(max(0, latest - valid // 6), latest + 1)
    u = (t - onset) / max(dur - 1, 1)
    # Non-linear time warp: faster start or faster end.
    gamma = rng.uniform(0.8, 1.25)
    u = np.where((u >= 0) & (u <= 1), np.clip(u, 0, 1) ** gamma, u)
    motion = _gesture(name, u, dur / SAMPLE_RATE_HZ, rng) * rng.uniform(0.7, 1.3)
    if hard:
        motion *= HARD_GAIN

    # Orientation: gravity on z with a random tilt of up to ~12 degrees.
    tilt_x, tilt_y = rng.uniform(-0.2, 0.2, size=2)
    grav = GRAVITY * np.array([np.sin(tilt_x), np.sin(tilt_y), np.cos(tilt_x) * np.cos(tilt_y)])

    x = np.zeros((valid, MAX_CHANNELS))
    x[:, :3] = grav + motion[:, :3]
    x[:, 3:6] = motion[:, 3:6]
    x[:, 6:9] = _EARTH_FIELD + 0.3 * motion[:, 3:6] / 10.0  # rotation shows a little on the field
    # Hand tremor (8-12 Hz, small) in every class.
    trem_f = rng.uniform(8.0, 12.0)
    trem = np.sin(2 * np.pi * trem_f * t / SAMPLE_RATE_HZ + rng.uniform(0, 2 * np.pi))
    x[:, 3:6] += trem[:, None] * rng.uniform(0.5, 2.0, size=3)
    # Sensor bias, slow drift (ramp + wobble), white noise.
    x += rng.normal(0.0, 1.0, MAX_CHANNELS) * _BIAS
    ramp = (t / max(steps - 1, 1))[:, None] * rng.uniform(-1, 1, MAX_CHANNELS)
    wob = np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t / SAMPLE_RATE_HZ + rng.uniform(0, 2 * np.pi))
    x += (ramp + 0.5 * wob[:, None] * rng.uniform(-1, 1, MAX_CHANNELS)) * _DRIFT
    x += rng.normal(0.0, 1.0, x.shape) * _NOISE
    if hard and rng.random() < HARD_KNOCK_P:
        for _ in range(int(rng.integers(1, 3))):  # a knock shakes every axis of the IMU at once
            at, width = int(rng.integers(0, valid)), int(rng.integers(1, 3))
            peak = rng.choice((-1.0, 1.0), size=6) * rng.uniform(HARD_KNOCK[:, 0], HARD_KNOCK[:, 1])
            x[at:at + width, :6] += peak

    out = np.zeros((steps, channels), dtype=np.float32)
    out[:valid] = x[:, :channels]
    return out


def make_synth(classes: int = 5, per_class: int = 120, steps: int = 64, channels: int = 6,
               variable_length: bool = False, seed: int = 0, test_fraction: float = 0.25, hard: bool = False):
    """Build a synthetic gesture :class:`rnnmcu.data.Dataset`.

    ``per_class`` sequences are drawn per class; ``round(per_class * test_fraction)`` of each class
    go to the held-out test split (``x_test``/``y_test``/``lengths_test``).  Deterministic for a seed.
    ``hard``: slow gestures on the gyroscope and rare knocks on ``gz`` (module docstring).
    """
    from rnnmcu.data import Dataset

    if not 2 <= classes <= len(CLASS_NAMES):
        raise InputError(f"--classes must be between 2 and {len(CLASS_NAMES)}, got {classes}",
                         hint=f"the synthetic classes are {', '.join(CLASS_NAMES)}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise InputError(f"--channels must be between 1 and {MAX_CHANNELS}, got {channels}",
                         hint=f"channels are {', '.join(CHANNEL_NAMES)} in that order")
    if steps < 16:
        raise InputError(f"--steps must be at least 16, got {steps}", hint="a gesture needs room to happen")
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test fraction must be in (0, 1), got {test_fraction}")
    n_test = int(round(per_class * test_fraction))
    if per_class < 2 or n_test < 1 or per_class - n_test < 1:
        raise InputError(f"--per-class {per_class} is too small to give both a training and a test "
                         f"sequence per class", hint="use --per-class 8 or more")

    rng = np.random.default_rng(seed)
    names = list(CLASS_NAMES[:classes])
    xs, ys, ls, split = [], [], [], []
    for k, name in enumerate(names):
        for i in range(per_class):
            valid = int(rng.integers(steps // 2, steps + 1)) if variable_length else steps
            xs.append(_sequence(name, steps, valid, channels, rng, hard=hard))
            ys.append(k)
            ls.append(valid)
            split.append(i < n_test)
    x = np.stack(xs)
    y = np.asarray(ys, dtype=np.int64)
    lengths = np.asarray(ls, dtype=np.int64)
    is_test = np.asarray(split)
    tr = rng.permutation(np.flatnonzero(~is_test))
    te = rng.permutation(np.flatnonzero(is_test))
    return Dataset(
        x=x[tr], y=y[tr], lengths=lengths[tr] if variable_length else None, class_names=names,
        x_test=x[te], y_test=y[te], lengths_test=lengths[te] if variable_length else None,
    )


def write_synth(out_path: str, classes: int = 5, per_class: int = 120, steps: int = 64,
                channels: int = 6, variable_length: bool = False, seed: int = 0, hard: bool = False) -> dict:
    """Generate a synthetic set and write it as ``.npz`` or long-form ``.csv`` (atomically).
    Returns a small summary for the CLI."""
    from rnnmcu.trainer import datasets

    lower = str(out_path).lower()
    if not (lower.endswith(".npz") or lower.endswith(".csv")):
        raise InputError(f"{out_path}: the output must end in .npz or .csv")
    ds = make_synth(classes=classes, per_class=per_class, steps=steps, channels=channels,
                    variable_length=variable_length, seed=seed, hard=hard)
    if lower.endswith(".npz"):
        from rnnmcu.data import save_npz
        save_npz(str(out_path), ds)
    else:
        datasets.save_csv(str(out_path), ds, feature_names=list(CHANNEL_NAMES[:channels]))
    return {"path": str(out_path), "train": int(ds.x.shape[0]), "test": int(ds.x_test.shape[0]),
            "steps": steps, "channels": list(CHANNEL_NAMES[:channels]), "classes": ds.class_names,
            "variable_length": variable_length, "seed": seed, "hard": hard}
