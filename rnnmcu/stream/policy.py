"""The streaming decision policy, bit-exact twin of firmware/stream/rnnmcu_policy.c.

A streaming classifier steps the model once per sensor sample; the policy turns the per-step class
scores (the model's integer outputs) into *events*.  Everything is integer, in the model's output
units, and every operation here is the one the C does (same order, same rounding):

* smoothing ``ema``: ``s[i] += floor(((y[i] << 6) - s[i]) * alpha_q15 / 2^15)`` (int32 state with
  6 fraction bits, int64 product); the candidate is the first argmax of ``s`` and its confidence
  ``floor(s[c] / 2^6)``; it is *confident* when the confidence >= threshold.
* smoothing ``majority:K``: each step votes for its first argmax if that score >= threshold, else
  for "none"; the candidate is the class with most votes among the last K (ties: lowest index);
  it is confident with a strict majority of K (``2 * votes > K``).
* smoothing ``none``: candidate = first argmax of the step, confident when its score >= threshold.
* A candidate that is confident and is not the idle class is *active*.  An event fires when the
  active class differs from the latched class and at least ``holdoff`` steps have passed since the
  last event; the class is then latched until the policy is no longer active (re-arming).
* State reset of the model (not of the smoothing): ``never``; ``every:N`` after every N model steps;
  ``idle:K`` once after K consecutive inactive steps.

:func:`simulate` runs a whole stream through the bit-exact integer model (``qref.forward`` with
``all_steps=True`` on the quantised, mask-compressed samples) with the same resets as the device,
and returns the events the device must print.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

SF = 6                 # fraction bits of the EMA state
NONE = -1              # no class (latched / idle class not set)
SMOOTH_CODES = {"none": 0, "ema": 1, "majority": 2}
RESET_CODES = {"never": 0, "every": 1, "idle": 2}
MAX_K = 255
U32 = 0xFFFFFFFF


class PolicyError(ValueError):
    """A policy option that cannot be used (the message says which and why)."""


def _floor_shift(v: int, s: int) -> int:
    return v >> s  # Python ints shift arithmetically: floor division by 2^s (the C helper's rule)


@dataclass(frozen=True)
class PolicyConfig:
    n_classes: int
    smooth: str = "ema"          # none | ema | majority
    alpha_q15: int = 8192        # ema
    k: int = 5                   # majority
    threshold: int = 0           # in model output units (integer)
    holdoff: int = 0             # steps between two events
    idle_class: int = NONE       # class index that never fires, or NONE
    reset: str = "never"         # never | every | idle
    reset_n: int = 0             # every: N steps; idle: K inactive steps
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not 1 <= self.n_classes <= 254:
            raise PolicyError(f"{self.n_classes} output classes: the policy takes 1..254")
        if self.smooth not in SMOOTH_CODES:
            raise PolicyError(f"smoothing {self.smooth!r} is not one of {', '.join(SMOOTH_CODES)}")
        if self.smooth == "ema" and not 1 <= self.alpha_q15 <= 32768:
            raise PolicyError(f"ema alpha {self.alpha_q15} must be in 1..32768 (Q15: 32768 = 1.0)")
        if self.smooth == "majority" and not 1 <= self.k <= MAX_K:
            raise PolicyError(f"majority window {self.k} must be in 1..{MAX_K}")
        if self.reset not in RESET_CODES:
            raise PolicyError(f"reset {self.reset!r} is not one of never, every:N, idle:K")
        if self.reset != "never" and not 1 <= self.reset_n <= U32:
            raise PolicyError(f"reset {self.reset}:{self.reset_n}: N must be a positive step count")
        if not 0 <= self.holdoff <= U32:
            raise PolicyError(f"hold-off {self.holdoff} must be a non-negative step count")
        if self.idle_class != NONE and not 0 <= self.idle_class < self.n_classes:
            raise PolicyError(f"idle class {self.idle_class} is not in 0..{self.n_classes - 1}")
        if not -(1 << 31) <= self.threshold < (1 << 31):
            raise PolicyError(f"threshold {self.threshold} does not fit in int32")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- option parsing (the `rnnmcu app` / `stream-eval` spellings) ------------------------------

def parse_reset(text: str) -> tuple[str, int]:
    """``never`` | ``every:N`` | ``idle:K`` -> (mode, n)."""
    t = text.strip().lower()
    if t == "never":
        return "never", 0
    m = re.fullmatch(r"(every|idle):(\d+)", t)
    if not m or int(m.group(2)) < 1:
        raise PolicyError(f"--reset {text!r}: use never, every:N or idle:K (N, K steps >= 1)")
    return m.group(1), int(m.group(2))


def parse_smooth(text: str) -> tuple[str, int, int]:
    """``none`` | ``ema:ALPHA_Q15`` | ``majority:K`` -> (mode, alpha_q15, k)."""
    t = text.strip().lower()
    if t == "none":
        return "none", 32768, 1
    m = re.fullmatch(r"(ema|majority):(\d+)", t)
    if not m:
        raise PolicyError(f"--smooth {text!r}: use none, ema:ALPHA_Q15 (1..32768) or majority:K")
    v = int(m.group(2))
    if m.group(1) == "ema":
        if not 1 <= v <= 32768:
            raise PolicyError(f"--smooth ema:{v}: alpha is Q15, 1..32768 (e.g. ema:8192 = 0.25)")
        return "ema", v, 1
    if not 1 <= v <= MAX_K:
        raise PolicyError(f"--smooth majority:{v}: K must be 1..{MAX_K}")
    return "majority", 32768, v


def parse_idle_class(text: str | None, class_names: list[str] | tuple[str, ...] | None,
                     n_classes: int) -> int:
    if text is None or text.strip().lower() in ("", "none"):
        return NONE
    names = list(class_names or [])
    if text in names:
        return names.index(text)
    if text.lstrip("-").isdigit():
        i = int(text)
        if 0 <= i < n_classes:
            return i
    known = ", ".join(names) if names else "the model has no class names"
    raise PolicyError(f"--idle-class {text!r} is neither a class name ({known}) "
                      f"nor an index in 0..{n_classes - 1}")


def threshold_q(threshold: float, s_out: float, precision: str) -> int:
    """A threshold in output units (a probability for a softmax model) -> integer output units
    (the smallest integer score that reaches it)."""
    if precision == "float32":
        raise PolicyError("the streaming policy is integer-only: convert the model to int8 or int16")
    if not math.isfinite(threshold):
        raise PolicyError(f"--threshold {threshold} is not a number")
    return int(math.ceil(threshold / s_out - 1e-9))


def make_config(n_classes: int, *, reset: str = "never", smooth: str = "ema:8192",
                threshold: float = 0.5, holdoff: int = 0, idle_class: str | None = None,
                s_out: float = 1.0, precision: str = "int8",
                class_names: list[str] | tuple[str, ...] | None = None) -> PolicyConfig:
    mode, n = parse_reset(reset)
    sm, alpha, k = parse_smooth(smooth)
    return PolicyConfig(n_classes=n_classes, smooth=sm, alpha_q15=alpha, k=k,
                        threshold=threshold_q(threshold, s_out, precision), holdoff=int(holdoff),
                        idle_class=parse_idle_class(idle_class, class_names, n_classes),
                        reset=mode, reset_n=n, class_names=tuple(class_names or ()))


# --- the policy --------------------------------------------------------------------------------

@dataclass
class Event:
    step: int          # index of the model step (mask-compressed stream)
    sample: int        # index of the sensor sample (including masked samples)
    cls: int
    confidence: int    # in output units (ema: smoothed; majority: votes; none: the score)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class Policy:
    """One policy instance: ``update(scores)`` once per model step -> (event or None, reset)."""

    def __init__(self, cfg: PolicyConfig) -> None:
        self.cfg = cfg
        self.init()

    def init(self) -> None:
        c = self.cfg
        self.ema = [0] * c.n_classes
        self.votes = [0] * max(c.k, 1)
        self.counts = [0] * (c.n_classes + 1)   # last slot: "none"
        self.vpos = 0
        self.vfill = 0
        self.latched = NONE
        self.since_event = U32
        self.idle_run = 0
        self.since_reset = 0

    def snapshot(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "cfg"}

    def restore(self, snap: dict[str, Any]) -> None:
        for k, v in snap.items():
            setattr(self, k, list(v) if isinstance(v, list) else v)

    @staticmethod
    def _argmax(v: list[int] | np.ndarray, n: int) -> int:
        best = 0
        for i in range(1, n):
            if v[i] > v[best]:
                best = i
        return best

    def update(self, y: np.ndarray | list[int]) -> tuple[tuple[int, int] | None, bool]:
        c = self.cfg
        n = c.n_classes
        ys = [int(v) for v in y]
        if c.smooth == "ema":
            for i in range(n):
                d = (ys[i] << SF) - self.ema[i]
                self.ema[i] += _floor_shift(d * c.alpha_q15, 15)
            cand = self._argmax(self.ema, n)
            conf = _floor_shift(self.ema[cand], SF)
            confident = conf >= c.threshold
        elif c.smooth == "majority":
            top = self._argmax(ys, n)
            vote = top if ys[top] >= c.threshold else n
            if self.vfill == c.k:
                self.counts[self.votes[self.vpos]] -= 1
            else:
                self.vfill += 1
            self.votes[self.vpos] = vote
            self.counts[vote] += 1
            self.vpos = 0 if self.vpos + 1 == c.k else self.vpos + 1
            cand = self._argmax(self.counts, n)
            conf = self.counts[cand]
            confident = 2 * conf > c.k
        else:
            cand = self._argmax(ys, n)
            conf = ys[cand]
            confident = conf >= c.threshold
        if self.since_event < U32:
            self.since_event += 1
        event = None
        if confident and cand != c.idle_class:
            self.idle_run = 0
            if cand != self.latched and self.since_event >= c.holdoff:
                event = (cand, conf)
                self.latched = cand
                self.since_event = 0
        else:
            self.latched = NONE
            if self.idle_run < U32:
                self.idle_run += 1
        self.since_reset += 1
        reset = False
        if c.reset == "every" and self.since_reset >= c.reset_n:
            reset = True
        elif c.reset == "idle" and self.idle_run == c.reset_n:
            reset = True
        if reset:
            self.since_reset = 0
        return event, reset


def min_latency_steps(cfg: PolicyConfig, full_scale: int) -> int:
    """Steps from the onset of a perfectly confident class (score ``full_scale`` on one non-idle
    class, 0 elsewhere, after a long idle run) to its event: the policy's own delay."""
    cls = 1 if cfg.idle_class == 0 and cfg.n_classes > 1 else 0
    if cls == cfg.idle_class:
        return 0
    p = Policy(cfg)
    idle = [0] * cfg.n_classes
    if cfg.idle_class != NONE:
        idle[cfg.idle_class] = full_scale
    for _ in range(max(cfg.k, 64)):
        p.update(idle)
    y = [0] * cfg.n_classes
    y[cls] = full_scale
    for t in range(1, 100000):
        ev, _ = p.update(y)
        if ev is not None:
            return t
    return 0


# --- whole-stream host simulation ---------------------------------------------------------------

def simulate(cfg: PolicyConfig, outputs_for: Callable[[int, int], np.ndarray], n_steps: int,
             sample_index: np.ndarray | None = None, window: int = 256) -> tuple[list[Event], int]:
    """Run the policy over ``n_steps`` model steps.  ``outputs_for(start, stop)`` returns the
    per-step integer outputs of the model started from a zero state at step ``start`` (shape
    (stop - start, D)); a reset requested after step j restarts the model at j + 1, as the device
    does.  Returns the events and the number of resets."""
    p = Policy(cfg)
    events: list[Event] = []
    resets = 0
    seg = 0                       # first step since the last reset
    done = 0                      # steps processed
    w = cfg.reset_n if cfg.reset == "every" else window
    while done < n_steps:
        stop = min(n_steps, seg + w)
        y = outputs_for(seg, stop)
        restarted = False
        for j in range(done, stop):
            ev, reset = p.update(y[j - seg])
            if ev is not None:
                s = int(sample_index[j]) if sample_index is not None else j
                events.append(Event(step=j, sample=s, cls=ev[0], confidence=ev[1]))
            if reset:
                resets += 1
                seg = done = j + 1
                restarted = True
                break
        if not restarted:
            done = stop
            if cfg.reset != "every":
                w *= 2           # the segment continues: recompute it from its start, longer
    return events, resets


def quantize_stream(model: Any, q: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sensor samples (N, F) -> (model inputs as ``<name>_quantize_input`` gives them, masked)."""
    from rnnmcu.codegen import qref

    x = np.asarray(x, dtype=np.float32)
    if model.mask_value is not None:
        masked = np.all(x == np.asarray(model.mask_value, dtype=np.float32)[None, :], axis=1)
    else:
        masked = np.zeros(len(x), dtype=bool)
    return qref.quantize_inputs(q, x), masked


def simulate_model(model: Any, q: Any, cfg: PolicyConfig, x: np.ndarray) -> dict[str, Any]:
    """A stream of sensor samples ``x`` (N, F) -> what the device computes: the quantised
    samples, which are masked, the events (with sample indices) and the reset count."""
    from rnnmcu.codegen import qref

    xq, masked = quantize_stream(model, q, x)
    keep = np.flatnonzero(~masked)
    xs = xq[keep]

    def outputs_for(start: int, stop: int) -> np.ndarray:
        return qref.forward(q, xs[None, start:stop], None, all_steps=True)[0]

    events, resets = simulate(cfg, outputs_for, len(xs), keep)
    return {"xq": xq, "masked": masked, "events": events, "resets": resets, "steps": int(len(xs))}


# --- event-level metrics ------------------------------------------------------------------------

def event_metrics(events: list[dict[str, int]], onsets: Any, ends: Any, classes: Any, *, n_samples: int,
                  rate_hz: float, idle_class: int = NONE, tolerance_s: float = 0.5) -> dict[str, Any]:
    """Events against ground-truth gestures [onset, end).  An event of the right class inside a
    gesture (or up to ``tolerance_s`` after its end) detects it, the first one only; every other
    event is a false alarm (wrong class, a repeat, or no gesture there).  Latency: event sample
    minus onset."""
    on = np.asarray(onsets, dtype=np.int64)
    en = np.asarray(ends, dtype=np.int64)
    cl = np.asarray(classes, dtype=np.int64)
    keep = cl != idle_class
    on, en, cl = on[keep], en[keep], cl[keep]
    tol = int(round(tolerance_s * rate_hz))
    detected = np.full(len(on), -1, dtype=np.int64)
    false_alarms = wrong = repeats = 0
    for e in events:
        s, c = int(e["sample"]), int(e["cls"])
        inside = np.flatnonzero((on <= s) & (s < en + tol))
        if len(inside) == 0:
            false_alarms += 1
            continue
        g = int(inside[0])
        if cl[g] != c:
            wrong += 1
            false_alarms += 1
        elif detected[g] >= 0:
            repeats += 1
            false_alarms += 1
        else:
            detected[g] = s
    hours = n_samples / rate_hz / 3600.0
    lat = (detected - on)[detected >= 0]
    per_class = {}
    for k in sorted(set(cl.tolist())):
        m = cl == k
        per_class[int(k)] = {"gestures": int(m.sum()), "detected": int((detected[m] >= 0).sum())}
    return {
        "gestures": int(len(on)), "detected": int((detected >= 0).sum()),
        "recall": float((detected >= 0).mean()) if len(on) else 0.0,
        "events": len(events), "false_alarms": false_alarms, "wrong_class": wrong, "repeats": repeats,
        "hours": round(hours, 5),
        "false_alarms_per_hour": round(false_alarms / hours, 2) if hours > 0 else 0.0,
        "latency_samples_mean": round(float(lat.mean()), 2) if len(lat) else None,
        "latency_samples_median": float(np.median(lat)) if len(lat) else None,
        "latency_samples_max": int(lat.max()) if len(lat) else None,
        "latency_ms_mean": round(1000.0 * float(lat.mean()) / rate_hz, 1) if len(lat) else None,
        "per_class": per_class, "tolerance_s": tolerance_s,
    }


# --- generated C configuration -------------------------------------------------------------------

def _c_str(s: str) -> str:
    return '"' + "".join(ch if ch.isalnum() or ch in " _-.:/" else f"\\x{ord(ch):02x}" for ch in s) + '"'


def config_files(model_name: str, precision: str, cfg: PolicyConfig, *, rate_mhz: int,
                 latency_steps: int, banner: str, out_elem: int | None = None) -> dict[str, str]:
    """``rnnmcu_stream_config.h`` (the options as #defines) and ``rnnmcu_stream_config.c`` (the
    policy state arrays sized for this model, the binding the stream app uses)."""
    U = model_name.upper()
    T = f"{model_name}_value_t"  # the model's output type (int16 for an int8 model's 16-bit head)
    elem = out_elem if out_elem is not None else {"int8": 1, "int16": 2}[precision]
    names = list(cfg.class_names) or [str(i) for i in range(cfg.n_classes)]
    h = [banner,
         "#ifndef RNNMCU_STREAM_CONFIG_H\n#define RNNMCU_STREAM_CONFIG_H\n\n",
         f"#define RNNMCU_STREAM_N_CLASSES {cfg.n_classes}u\n",
         f"#define RNNMCU_STREAM_SMOOTH {SMOOTH_CODES[cfg.smooth]}u /* {cfg.smooth} */\n",
         f"#define RNNMCU_STREAM_ALPHA_Q15 {cfg.alpha_q15}\n",
         f"#define RNNMCU_STREAM_MAJORITY_K {cfg.k}u\n",
         f"#define RNNMCU_STREAM_THRESHOLD {cfg.threshold} /* model output units */\n",
         f"#define RNNMCU_STREAM_HOLDOFF {cfg.holdoff}u /* steps */\n",
         f"#define RNNMCU_STREAM_IDLE_CLASS ({cfg.idle_class}) /* -1: none */\n",
         f"#define RNNMCU_STREAM_RESET {RESET_CODES[cfg.reset]}u /* {cfg.reset} */\n",
         f"#define RNNMCU_STREAM_RESET_N {cfg.reset_n}u\n",
         f"#define RNNMCU_STREAM_RATE_MHZ {rate_mhz}u /* sample rate in milli-hertz */\n",
         f"#define RNNMCU_STREAM_LATENCY_STEPS {latency_steps}u /* policy delay from onset */\n",
         f"#define RNNMCU_STREAM_ELEM_SIZE {elem}u /* bytes per model output value */\n",
         "\n#endif\n"]
    c = [banner,
         f'#include "{model_name}_model.h"\n#include "rnnmcu_policy.h"\n#include "rnnmcu_stream.h"\n'
         '#include "rnnmcu_stream_config.h"\n\n',
         "static int32_t rnnmcu_stream_ema[RNNMCU_STREAM_N_CLASSES];\n",
         "static uint8_t rnnmcu_stream_votes[RNNMCU_STREAM_MAJORITY_K];\n",
         "static uint16_t rnnmcu_stream_counts[RNNMCU_STREAM_N_CLASSES + 1u];\n",
         f"static {T} rnnmcu_stream_y[RNNMCU_STREAM_N_CLASSES];\n\n",
         "static const char *const rnnmcu_stream_names[RNNMCU_STREAM_N_CLASSES] = {\n"
         + "".join(f"    {_c_str(n)},\n" for n in names) + "};\n\n",
         "static rnnmcu_policy_t rnnmcu_stream_policy = {\n"
         "    .ema = rnnmcu_stream_ema,\n    .votes = rnnmcu_stream_votes,\n"
         "    .counts = rnnmcu_stream_counts,\n};\n\n",
         "const rnnmcu_stream_binding_t rnnmcu_stream_binding = {\n"
         "    .policy_cfg = {\n"
         "        .n_classes = (uint16_t)RNNMCU_STREAM_N_CLASSES,\n"
         "        .smooth = (uint8_t)RNNMCU_STREAM_SMOOTH,\n"
         "        .reset = (uint8_t)RNNMCU_STREAM_RESET,\n"
         "        .k = (uint16_t)RNNMCU_STREAM_MAJORITY_K,\n"
         "        .idle_class = (int16_t)RNNMCU_STREAM_IDLE_CLASS,\n"
         "        .alpha_q15 = (int32_t)RNNMCU_STREAM_ALPHA_Q15,\n"
         "        .threshold = (int32_t)RNNMCU_STREAM_THRESHOLD,\n"
         "        .holdoff = (uint32_t)RNNMCU_STREAM_HOLDOFF,\n"
         "        .reset_n = (uint32_t)RNNMCU_STREAM_RESET_N,\n"
         "    },\n"
         "    .policy = &rnnmcu_stream_policy,\n"
         "    .y = rnnmcu_stream_y,\n"
         "    .class_names = rnnmcu_stream_names,\n"
         "    .rate_mhz = RNNMCU_STREAM_RATE_MHZ,\n"
         "    .latency_steps = (uint16_t)RNNMCU_STREAM_LATENCY_STEPS,\n"
         "};\n\n",
         "/* Sensor units -> model inputs (for sensor entries; the replay link sends quantised samples). */\n"
         f"int rnnmcu_stream_quantize(const float *x, void *q)\n{{\n"
         f"    return {model_name}_quantize_input(x, ({model_name}_input_t *)q);\n}}\n"]
    _ = U
    return {"rnnmcu_stream_config.h": "".join(h), "rnnmcu_stream_config.c": "".join(c)}
