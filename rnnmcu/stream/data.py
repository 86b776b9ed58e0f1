"""Long synthetic IMU recordings with gestures at known times: the streaming counterpart of
trainer/synth.py (whose gesture shapes it reuses, read-only).

One recording is a continuous stream at :data:`synth.SAMPLE_RATE_HZ`: gravity with a slowly
wandering tilt, hand tremor, sensor bias, drift and white noise throughout, and gestures (classes
1.. of synth.CLASS_NAMES; class 0 is ``idle``) placed one after another with idle gaps between
them.  The ground truth is per gesture (``onsets``, ``ends`` (exclusive), ``classes``) and per
sample (``y_step``: the class from the middle of a gesture to a little after its end — the part a
causal model can be asked to call — and idle elsewhere).

    rec = make_stream(classes=4, gestures=12, seed=1)
    rec["x_stream"]  # (N, channels) float32 in sensor units
"""
from __future__ import annotations

import numpy as np

from rnnmcu.errors import InputError
from rnnmcu.trainer import synth

LABEL_FROM = 0.5    # per-step labels start this far into a gesture (fraction of its duration)
LABEL_TAIL = 0.25   # ... and last this much (fraction of its duration) after its end


def step_labels(n: int, onsets: np.ndarray, ends: np.ndarray, classes: np.ndarray) -> np.ndarray:
    y = np.zeros(n, dtype=np.int64)
    for o, e, c in zip(onsets, ends, classes):
        d = int(e - o)
        a, b = int(o + LABEL_FROM * d), min(n, int(e + LABEL_TAIL * d))
        y[a:b] = c
    return y


def make_stream(classes: int = 5, gestures: int = 20, channels: int = 6, seed: int = 0,
                gap_s: tuple[float, float] = (1.0, 3.0), dur_s: tuple[float, float] = (0.6, 1.2),
                rate_hz: float = synth.SAMPLE_RATE_HZ) -> dict[str, np.ndarray]:
    """A recording with ``gestures`` gestures of the classes 1..classes-1, in random order."""
    if not 2 <= classes <= len(synth.CLASS_NAMES):
        raise InputError(f"--classes must be between 2 and {len(synth.CLASS_NAMES)}, got {classes}")
    if not 1 <= channels <= 6:
        raise InputError(f"--channels must be 1..6 (accelerometer and gyroscope), got {channels}")
    if gestures < 1:
        raise InputError(f"--gestures must be >= 1, got {gestures}")
    rng = np.random.default_rng(seed)
    names = synth.CLASS_NAMES[:classes]
    plan = []
    t = int(rng.uniform(*gap_s) * rate_hz)
    for _ in range(gestures):
        c = int(rng.integers(1, classes))
        d = int(rng.uniform(*dur_s) * rate_hz)
        if names[c] == "shake":
            d = int(d * 1.5)  # a sustained motion
        plan.append((t, t + d, c))
        t += d + int(rng.uniform(*gap_s) * rate_hz)
    n = t
    tt = np.arange(n, dtype=np.float64)
    x = np.zeros((n, 6))
    # gravity with a slowly wandering tilt
    tilt = 0.15 * np.sin(2 * np.pi * tt / rate_hz / rng.uniform(20, 40) + rng.uniform(0, 6.3, (2, 1)))
    x[:, 0] = synth.GRAVITY * np.sin(tilt[0])
    x[:, 1] = synth.GRAVITY * np.sin(tilt[1])
    x[:, 2] = synth.GRAVITY * np.cos(tilt[0]) * np.cos(tilt[1])
    for o, e, c in plan:
        u = (tt[o:e] - o) / max(e - o - 1, 1)
        x[o:e] += synth._gesture(names[c], u, (e - o) / rate_hz, rng) * rng.uniform(0.8, 1.2)
    trem = np.sin(2 * np.pi * rng.uniform(8, 12) * tt / rate_hz)
    x[:, 3:6] += trem[:, None] * rng.uniform(0.5, 2.0, 3)
    x += rng.normal(0, 1, 6) * synth._BIAS[:6]
    wob = np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * tt / rate_hz + rng.uniform(0, 6.3))
    x += 0.5 * wob[:, None] * rng.uniform(-1, 1, 6) * synth._DRIFT[:6]
    x += rng.normal(0, 1, x.shape) * synth._NOISE[:6]
    onsets = np.array([p[0] for p in plan], dtype=np.int64)
    ends = np.array([p[1] for p in plan], dtype=np.int64)
    cls = np.array([p[2] for p in plan], dtype=np.int64)
    return {"x_stream": x[:, :channels].astype(np.float32), "onsets": onsets, "ends": ends,
            "classes": cls, "y_step": step_labels(n, onsets, ends, cls),
            "class_names": np.array(names), "rate_hz": np.float64(rate_hz)}


def write_stream(path: str, **kw) -> dict:
    if not str(path).lower().endswith(".npz"):
        raise InputError(f"{path}: a recording is written as .npz")
    rec = make_stream(**kw)
    np.savez(path, **rec)
    n = len(rec["x_stream"])
    return {"path": str(path), "samples": n, "seconds": round(n / float(rec["rate_hz"]), 2),
            "gestures": int(len(rec["onsets"])), "classes": [str(c) for c in rec["class_names"]]}
