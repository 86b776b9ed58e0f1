"""Synthetic appliance power traces: long, heavy-tailed, single-channel sequences.

A stand-in for a smart plug or a sub-meter logging one appliance's active power (watts) once a
minute: long idle runs near the standby draw, bursts of hundreds to thousands of watts, switch-on
transients, and rare large spikes from the mains that carry no class information.  Standardised,
such a signal spends most steps near its minimum and reaches 10-20 standard deviations in its
bursts: the kind of data on which per-tensor int8 scales trade the resolution of the common range
against clipping the rare peaks, and on which recurrent state drifts over a thousand steps.

Classes (``classes=K`` takes the first K):

``fridge``      compressor cycles of 80-130 W, on for 12-30 minutes and off for 25-60, each start
                with a 1-minute inrush of 2.5-4x the running power
``freezer``     the same kind of cycle, longer (on 30-70, off 40-90) at 120-180 W, and in half of
                the traces one defrost heater run of 250-400 W for 15-30 minutes
``kettle``      standby ~1 W and 2-6 boils of 1.9-3 kW lasting 2-5 minutes
``microwave``   standby 2-4 W and 2-5 runs of 5-15 minutes that alternate 900-1300 W and the
                ~80 W of the turntable (defrost mode) or stay on
``washer``      standby, then one programme: a 1.8-2.2 kW heating phase of 15-30 minutes, then a
                noisy 150-400 W drum phase of 60-200 minutes with spin bursts of 400-600 W

Every trace gets meter noise (1-2 % of the reading plus 0.3 W), and one in four a mains spike: one
or two single-minute readings of 3-6 kW at a random time.  ``subsample=k`` averages k consecutive
minutes (a 1,460-minute day becomes 183 steps at k = 8), as a coarser logger would.
"""
from __future__ import annotations

import numpy as np

from rnnmcu.errors import InputError

CLASS_NAMES = ("fridge", "freezer", "kettle", "microwave", "washer")
DEFAULT_STEPS = 1460          # about a day of one-minute readings
SPIKE_P = 0.25                # traces with a mains spike
CHANNEL_NAMES = ("power_w",)


def _cycles(n: int, rng: np.random.Generator, on: tuple[int, int], off: tuple[int, int],
            watts: tuple[float, float], inrush: tuple[float, float]) -> np.ndarray:
    p = np.zeros(n)
    w = rng.uniform(*watts)
    t = -int(rng.integers(0, off[1] + on[1]))  # a random phase: the trace starts mid-cycle
    while t < n:
        t_on = int(rng.integers(*on))
        a, b = max(t, 0), min(t + t_on, n)
        if a < b:
            p[a:b] = w * rng.uniform(0.95, 1.05)
            if t >= 0:
                p[a] = w * rng.uniform(*inrush)
        t += t_on + int(rng.integers(*off))
    return p


def _bursts(n: int, rng: np.random.Generator, count: tuple[int, int], dur: tuple[int, int],
            watts: tuple[float, float]) -> list[tuple[int, int, float]]:
    out = []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        d = int(rng.integers(dur[0], dur[1] + 1))
        t = int(rng.integers(0, max(1, n - d)))
        out.append((t, d, float(rng.uniform(*watts))))
    return out


def _trace(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if name == "fridge":
        p = _cycles(n, rng, (12, 31), (25, 61), (80.0, 130.0), (2.5, 4.0))
    elif name == "freezer":
        p = _cycles(n, rng, (30, 71), (40, 91), (120.0, 180.0), (2.5, 4.0))
        if rng.random() < 0.5:
            d = int(rng.integers(15, 31))
            t = int(rng.integers(0, n - d))
            p[t:t + d] = rng.uniform(250.0, 400.0)
    elif name == "kettle":
        p = np.full(n, rng.uniform(0.5, 1.5))
        for t, d, w in _bursts(n, rng, (2, 6), (2, 5), (1900.0, 3000.0)):
            p[t:t + d] = w
    elif name == "microwave":
        p = np.full(n, rng.uniform(2.0, 4.0))
        for t, d, w in _bursts(n, rng, (2, 5), (5, 15), (900.0, 1300.0)):
            seg = np.full(d, w)
            if rng.random() < 0.5:  # defrost: the magnetron cycles, the turntable keeps turning
                period = int(rng.integers(2, 5))
                seg[(np.arange(d) // period) % 2 == 1] = rng.uniform(60.0, 100.0)
            p[t:t + d] = seg
    elif name == "washer":
        p = np.full(n, rng.uniform(1.0, 3.0))
        heat, drum = int(rng.integers(15, 31)), int(rng.integers(60, 201))
        t = int(rng.integers(0, max(1, n - heat - drum)))
        p[t:t + heat] = rng.uniform(1800.0, 2200.0)
        a, b = t + heat, min(t + heat + drum, n)
        p[a:b] = rng.uniform(150.0, 400.0) * rng.uniform(0.7, 1.3, b - a)
        for s, d, w in _bursts(b - a, rng, (2, 5), (3, 8), (400.0, 600.0)):
            p[a + s:a + s + d] = w
    else:  # pragma: no cover - make_power checks the class names
        raise ValueError(name)
    p = p * (1.0 + rng.normal(0.0, rng.uniform(0.01, 0.02), n)) + rng.normal(0.0, 0.3, n)
    if rng.random() < SPIKE_P:
        for _ in range(int(rng.integers(1, 3))):
            p[int(rng.integers(0, n))] = rng.uniform(3000.0, 6000.0)
    return np.maximum(p, 0.0)


def subsample_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Average ``k`` consecutive steps of ``(n, T, F)`` (a trailing partial block is averaged
    over the steps it has)."""
    if k <= 1:
        return x
    n, t, f = x.shape
    m = -(-t // k)
    pad = m * k - t
    xp = np.concatenate([x, np.zeros((n, pad, f), x.dtype)], axis=1).reshape(n, m, k, f)
    counts = np.full(m, float(k))
    counts[-1] = k - pad
    return (xp.sum(axis=2) / counts[None, :, None]).astype(np.float32)


def make_power(classes: int = 5, per_class: int = 60, steps: int = DEFAULT_STEPS, subsample: int = 1,
               seed: int = 0, test_fraction: float = 0.25):
    """A :class:`rnnmcu.data.Dataset` of appliance power traces, ``(n, ceil(steps / subsample), 1)``
    in watts, with a held-out test split (a quarter of each class).  Deterministic for a seed."""
    from rnnmcu.data import Dataset

    if not 2 <= classes <= len(CLASS_NAMES):
        raise InputError(f"--classes must be between 2 and {len(CLASS_NAMES)}, got {classes}",
                         hint=f"the power classes are {', '.join(CLASS_NAMES)}")
    if steps < 240:
        raise InputError(f"--steps must be at least 240 for power traces, got {steps}",
                         hint=f"an appliance cycle needs hours of one-minute readings (default {DEFAULT_STEPS})")
    if subsample < 1 or steps // subsample < 16:
        raise InputError(f"--subsample {subsample} leaves fewer than 16 steps of {steps}",
                         hint="use a smaller --subsample")
    n_test = int(round(per_class * test_fraction))
    if per_class < 2 or n_test < 1 or per_class - n_test < 1:
        raise InputError(f"--per-class {per_class} is too small to give both a training and a test "
                         "sequence per class", hint="use --per-class 8 or more")
    rng = np.random.default_rng(seed)
    names = list(CLASS_NAMES[:classes])
    xs, ys, is_test = [], [], []
    for k, name in enumerate(names):
        for i in range(per_class):
            xs.append(_trace(name, steps, rng))
            ys.append(k)
            is_test.append(i < n_test)
    x = subsample_mean(np.stack(xs)[:, :, None].astype(np.float32), subsample)
    y = np.asarray(ys, dtype=np.int64)
    test = np.asarray(is_test)
    tr, te = rng.permutation(np.flatnonzero(~test)), rng.permutation(np.flatnonzero(test))
    return Dataset(x=x[tr], y=y[tr], class_names=names, x_test=x[te], y_test=y[te])


def write_power(out_path: str, classes: int = 5, per_class: int = 60, steps: int | None = None,
                subsample: int = 1, seed: int = 0) -> dict:
    """Generate a power set and write it as ``.npz`` or long-form ``.csv`` (atomically).  Returns a
    small summary for the CLI."""
    from rnnmcu.trainer import datasets

    lower = str(out_path).lower()
    if not (lower.endswith(".npz") or lower.endswith(".csv")):
        raise InputError(f"{out_path}: the output must end in .npz or .csv")
    steps = DEFAULT_STEPS if steps is None else steps
    ds = make_power(classes=classes, per_class=per_class, steps=steps, subsample=subsample, seed=seed)
    if lower.endswith(".npz"):
        from rnnmcu.data import save_npz
        save_npz(str(out_path), ds)
    else:
        datasets.save_csv(str(out_path), ds, feature_names=list(CHANNEL_NAMES))
    return {"path": str(out_path), "kind": "power", "train": int(ds.x.shape[0]), "test": int(ds.x_test.shape[0]),
            "steps": int(ds.x.shape[1]), "subsample": subsample, "channels": list(CHANNEL_NAMES),
            "classes": ds.class_names, "seed": seed}
