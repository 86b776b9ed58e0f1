"""Where a quantised model drifts: the float reference and the integer reference run side by side
over the same (mask-compressed) sequences, and every internal tensor is compared step by step.

For each tensor (``"<layer>.<tensor>"`` as :class:`rnnmcu.codegen.float_ref.Trace` names them,
plus ``input``) the report gives, over the valid steps of the data:

* the error of the integer value (dequantised) against the float one, per step and in total: the
  largest absolute error, the RMS error and the relative error (RMS error over the RMS of the
  tensor's float values over all steps);
* the range the quantiser calibrated (what the integer type can hold at the tensor's scale)
  against the range the float values actually use;
* the saturations, and the steps where they happen;
* the first step at which the error of that tensor passes :data:`DRIFT_REL` (relative RMS over
  the sequences), i.e. where it starts to drift.

For the model output it gives, per sequence, the first step at which the argmax of the integer
model differs from the float one (the streaming output: the class the device would report if the
window ended there), and the final agreement.  Memory stays bounded: sequences are processed in
batches and only per-step sums are kept.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnmcu import facts, ir
from rnnmcu.codegen import float_ref, qref
from rnnmcu.codegen.qmodel import (QActivation, QBidirectional, QDense, QModel, QRecurrent, QSoftmax,
                                   act_range)

DRIFT_REL = 0.05     # a tensor drifts from the first step its relative RMS error passes this
HIST_BINS = 64
BATCH = 64
INT16_MAX = 32767


def _rec_scales(ql: QRecurrent, tensor: str) -> tuple[np.ndarray, float]:
    """Per column: the real value of one integer unit, and the largest integer the tensor holds."""
    n = ql.units
    kind = facts.KIND[ql.base_cell]
    if tensor == "pre":  # by gate: the candidate's at the activation's scale, the others' at the gates'
        s = np.concatenate([np.full(n, ql.s_pre_act if g == kind.act_gate else ql.s_pre_rec) for g in kind.gates])
        return s, INT16_MAX
    if tensor == "gate":
        return np.full(len(kind.rec_gates) * n, 2.0 ** -ql.q), INT16_MAX
    if tensor == "cand":
        return np.full(n, ql.s_c if ql.base_cell == "lstm" else ql.s_h / 2 ** ql.k), INT16_MAX
    if tensor == "c":  # an LSTM's cell, or an int8 GRU's 16-bit state (h at s_h / 2^k)
        return np.full(n, ql.s_c if ql.base_cell == "lstm" else ql.s_h / 2 ** ql.k), INT16_MAX
    return np.full(n, ql.s_h), None  # h: the activation type


def trace_layout(ql) -> list[tuple[str, int, int]]:
    """``(tensor, offset, count)`` of a quantised layer's values in a device TRACE reply, in order
    (firmware/src/rnnmcu_trace.h is the same table in C): a recurrent layer's pre (G*n, gate-major),
    gate (R*n), cand (n), c (n, LSTM or an int8 GRU's 16-bit state), h (n); a Dense layer's pre and
    out; an Activation or Softmax layer's out."""
    if isinstance(ql, QRecurrent):
        n, kind = ql.units, facts.KIND[ql.base_cell]
        G, R = len(kind.gates), len(kind.rec_gates)
        parts = [("pre", G * n)] + ([("gate", R * n), ("cand", n)] if R else [])
        parts += [("c", n)] if ql.has_c else []
        parts += [("h", n)]
    elif isinstance(ql, QDense):
        d = int(ql.w.shape[0])
        parts = [("pre", d), ("out", d)]
    elif isinstance(ql, (QActivation, QSoftmax)):
        parts = [("out", ql.dim)]
    else:
        raise ValueError(f"{type(ql).__name__} layers are not traced (window-only models have no step)")
    out, at = [], 0
    for name, count in parts:
        out.append((name, at, count))
        at += count
    return out


def tensor_scales(q: QModel) -> dict[str, tuple[np.ndarray, int]]:
    """Every traced tensor's per-column scale and integer limit, by name."""
    amax = act_range(q.precision)[1]
    in_max = act_range("int16" if q.input_bits == 16 else q.precision)[1]
    out: dict[str, tuple[np.ndarray, int]] = {"input": (np.asarray(q.s_in, np.float64), in_max)}

    def rec(ql: QRecurrent, tag: str) -> None:
        for t in ("pre", "gate", "cand", "c", "h"):
            if t in ("gate", "cand") and not facts.KIND[ql.base_cell].rec_gates or t == "c" and not ql.has_c:
                continue
            s, lim = _rec_scales(ql, t)
            out[f"{tag}.{t}"] = (s, amax if lim is None else lim)

    head_from = q.head_from()
    for i, ql in enumerate(q.layers):
        tag = str(i)
        if head_from is not None and i == head_from:  # the 16-bit head
            amax = INT16_MAX
        if isinstance(ql, QRecurrent):
            rec(ql, tag)
        elif isinstance(ql, QBidirectional):
            rec(ql.forward, tag + ".f")
            rec(ql.backward, tag + ".b")
            out[f"{tag}.out"] = (np.full(1, ql.s_y), amax)
        elif isinstance(ql, QDense):
            out[f"{tag}.pre"] = (np.full(1, ql.s_pre), INT16_MAX)
            out[f"{tag}.out"] = (np.full(1, ql.s_y), amax)
        elif isinstance(ql, QActivation):
            out[f"{tag}.out"] = (np.full(1, ql.s_y), amax)
        elif isinstance(ql, QSoftmax):
            out[f"{tag}.out"] = (np.full(1, ql.s_y), amax)
    return out


@dataclass
class _Acc:
    """Per-step sums for one tensor."""

    T: int
    bins: np.ndarray
    n: np.ndarray = field(init=False)
    sse: np.ndarray = field(init=False)
    ssf: np.ndarray = field(init=False)
    maxerr: np.ndarray = field(init=False)
    used: float = 0.0
    hist: np.ndarray = field(init=False)
    seq_rel: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.n, self.sse, self.ssf, self.maxerr = (np.zeros(self.T) for _ in range(4))
        self.hist = np.zeros(len(self.bins) - 1, dtype=np.int64)

    def add(self, f: np.ndarray, r: np.ndarray, valid: np.ndarray) -> None:
        """f, r: (B, T, W) or (B, W); valid: (B, T) or (B,)."""
        if f.ndim == 2:  # once per window: count it at the last step
            f, r = f[:, None, :], r[:, None, :]
            valid = valid[:, None]
            at = slice(self.T - 1, self.T)
        else:
            at = slice(0, f.shape[1])
        v = valid[:, :, None] & np.ones(f.shape[-1], dtype=bool)[None, None, :]
        e = np.where(v, np.abs(f - r), 0.0)
        ff = np.where(v, f, 0.0)
        self.n[at] += v.sum(axis=(0, 2))
        self.sse[at] += (e ** 2).sum(axis=(0, 2))
        self.ssf[at] += (ff ** 2).sum(axis=(0, 2))
        self.maxerr[at] = np.maximum(self.maxerr[at], e.max(axis=(0, 2), initial=0.0))
        if v.any():
            self.used = max(self.used, float(np.abs(f[v]).max()))
            self.hist += np.histogram(np.clip(f[v], self.bins[0], self.bins[-1]), self.bins)[0]

    def summary(self, limit_real: float, sats: dict[int, int]) -> dict[str, Any]:
        n = np.maximum(self.n, 1)
        rms_err = np.sqrt(self.sse / n)
        live = self.n > 0
        tot_n = max(float(self.n.sum()), 1.0)
        tot_rms = math.sqrt(float(self.sse.sum()) / tot_n)
        tot_f = math.sqrt(float(self.ssf.sum()) / tot_n)
        # relative to the tensor's RMS over all steps: a step where the values happen to be small
        # (the first, from a zero state) does not look like drift
        rel = rms_err / tot_f if tot_f > 0 else np.zeros_like(rms_err)
        over = np.nonzero(live & (rel > DRIFT_REL))[0]
        return {
            "max_abs_error": float(self.maxerr.max(initial=0.0)),
            "rms_error": tot_rms,
            "relative_error": tot_rms / tot_f if tot_f > 0 else 0.0,
            "calibrated_range": float(limit_real),
            "used_range": self.used,
            "range_use": self.used / limit_real if limit_real > 0 else math.inf,
            "saturations": int(sum(sats.values())),
            "saturation_steps": sorted(int(t) for t in sats if t >= 0)[:50],
            "drift_step": int(over[0]) if over.size else None,
            "per_step": {"max_abs_error": self.maxerr.tolist(), "rms_error": rms_err.tolist(),
                         "relative_error": rel.tolist(), "values": self.n.astype(int).tolist()},
            "histogram": {"edges": self.bins.tolist(), "counts": self.hist.tolist()},
        }


def inspect(model: ir.Model, q: QModel, x: np.ndarray, lengths: np.ndarray | None = None, *,
            batch: int = BATCH) -> dict[str, Any]:
    """Compare the float and the integer reference tensor by tensor, step by step (module doc)."""
    if q.precision == "float32":
        raise ValueError("a float32 model has no integer reference to inspect")
    x = np.asarray(x, dtype=np.float32)
    B, T, _ = x.shape
    L0 = np.full(B, T, dtype=np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64)
    xc, L, _ = float_ref.compress(model, x, L0)
    all_steps = not model.needs_window
    scales = tensor_scales(q)
    accs: dict[str, _Acc] = {}
    sat = qref.Saturations()
    first_flip = np.full(B, -1, dtype=np.int64)
    agree = np.zeros(B, dtype=bool)
    for b0 in range(0, B, batch):
        sl = slice(b0, min(B, b0 + batch))
        xb, Lb = xc[sl], L[sl]
        ft, it = float_ref.Trace(), float_ref.Trace()
        with np.errstate(over="ignore", invalid="ignore"):
            yf = float_ref.forward(model, xb, Lb, all_steps=all_steps, masked=False, trace=ft)
        xq = qref.quantize_inputs(q, xb)
        yq = qref.forward(q, xq, Lb, all_steps=all_steps, saturations=sat, trace=it)
        ft.tensors["input"] = float_ref.standardise(model, xb)
        it.tensors["input"] = xq
        valid = np.arange(T)[None, :] < Lb[:, None]
        for name, f in ft.tensors.items():
            if name not in scales or name not in it.tensors:
                continue
            s, lim = scales[name]
            r = it.tensors[name].astype(np.float64) * (s if s.size > 1 else s[0])
            if name not in accs:
                R = max(float(np.max(s)) * lim, q.calib.get(name, 0.0)) * 1.5
                accs[name] = _Acc(T, np.linspace(-R, R, HIST_BINS + 1))
            accs[name].add(np.asarray(f, np.float64), r, valid if f.ndim == 3 else Lb > 0)
        # the streaming output's argmax: the class a device reports after each step
        yr = qref.dequantize(q, yq)
        if yf.ndim == 3 and yf.shape[-1] > 1:
            flips = (yf.argmax(-1) != yr.argmax(-1)) & valid
            has = flips.any(axis=1)
            first_flip[sl] = np.where(has, flips.argmax(axis=1), -1)
            last = np.maximum(Lb - 1, 0)
            agree[sl] = yf[np.arange(len(Lb)), last].argmax(-1) == yr[np.arange(len(Lb)), last].argmax(-1)
        elif yf.shape[-1] > 1:
            agree[sl] = yf.argmax(-1) == yr.argmax(-1)
            first_flip[sl] = np.where(agree[sl], -1, np.maximum(Lb - 1, 0))
    tensors = {}
    for name in _order(accs):
        s, lim = scales[name]
        tensors[name] = accs[name].summary(float(np.max(s)) * lim, dict(sat.at.get(name, {})))
    drift = [(n, t["drift_step"]) for n, t in tensors.items() if t["drift_step"] is not None and n != "input"]
    start = min(drift, key=lambda d: (d[1], _layer_key(d[0]))) if drift else None
    flipped = first_flip[first_flip >= 0]
    return {
        "model": model.name, "precision": q.precision, "sequences": int(B), "steps": int(T),
        "masking": model.masking,
        "tensors": tensors,
        "saturations": {k: int(v) for k, v in sat.items()},
        "drift_starts": None if start is None else {"tensor": start[0], "step": int(start[1]),
                                                    "threshold": DRIFT_REL},
        "outputs": {
            "final_agreement": float(agree.mean()) if B else 1.0,
            "sequences_flipped": int(flipped.size),
            "first_flip": first_flip.tolist(),
            "first_flip_median": float(np.median(flipped)) if flipped.size else None,
        },
    }


def _layer_key(name: str) -> tuple:
    if name == "input":
        return (-1,)
    head = name.split(".")[0]
    return (int(head) if head.isdigit() else 0, name)


_TENSOR_ORDER = {"pre": 0, "gate": 1, "cand": 2, "c": 3, "h": 4, "out": 5}


def _order(names) -> list[str]:
    return sorted(names, key=lambda n: (_layer_key(n)[0], n.rsplit(".", 1)[0],
                                        _TENSOR_ORDER.get(n.rsplit(".", 1)[-1], 9)))


def plot(report: dict[str, Any], path: str) -> None:
    """A PNG: the relative error of each layer's output over the steps, then each tensor's float
    values as a histogram against the range its integer type holds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tensors = report["tensors"]
    outs = [n for n in tensors if n.endswith((".h", ".out"))]
    names = list(tensors)
    cols = 4
    rows = 1 + -(-len(names) // cols)
    fig = plt.figure(figsize=(4 * cols, 2.6 * rows), dpi=90)
    ax = fig.add_subplot(rows, 1, 1)
    for n in outs:
        rel = np.asarray(tensors[n]["per_step"]["relative_error"])
        live = np.asarray(tensors[n]["per_step"]["values"]) > 0
        ax.plot(np.nonzero(live)[0], rel[live], label=n, lw=1)
    ax.axhline(DRIFT_REL, color="grey", ls=":", lw=1)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("step")
    ax.set_ylabel("relative RMS error")
    ds = report.get("drift_starts")
    ax.set_title(f"{report['model']} ({report['precision']}): error over time"
                 + (f"; drift starts in {ds['tensor']} at step {ds['step']}" if ds else ""))
    ax.legend(fontsize=7, ncol=4)
    for k, n in enumerate(names):
        a = fig.add_subplot(rows, cols, cols + k + 1)
        h = tensors[n]["histogram"]
        e = np.asarray(h["edges"])
        a.bar(e[:-1], h["counts"], width=np.diff(e), align="edge", color="#4878a8")
        R = tensors[n]["calibrated_range"]
        for v in (-R, R):
            a.axvline(v, color="#c03030", lw=1)
        a.set_yscale("log")
        a.set_title(f"{n}  use {tensors[n]['range_use']:.2f}, sat {tensors[n]['saturations']}", fontsize=8)
        a.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def describe_precision(q: QModel) -> str:
    """What a quantised model's precision means, in words (NUMERICS.md's naming)."""
    if q.precision == "float32":
        return "float32 weights and activations"
    if q.precision == "int16":
        return "int8 weights, int16 activations and state (16x8)"
    extra = ["16-bit inputs"] if q.input_bits == 16 else []
    if any(getattr(ql, "state16", False) for l in q.layers for ql in _directions(l)):
        extra.append("a 16-bit GRU state")
    if q.head_bits == 16:
        extra.append("a 16-bit head and outputs")
    return "int8 weights and activations (8x8)" + (f", with {_and(extra)}" if extra else "")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _directions(ql) -> list:
    return [ql.forward, ql.backward] if isinstance(ql, QBidirectional) else [ql]


def explain_saturations(model: ir.Model, q: QModel, counts: dict[str, int]) -> dict[str, str]:
    """For each saturation point that clipped (``qref.Saturations`` names), what it is and whether
    it matters, in a sentence."""
    out: dict[str, str] = {}
    for name, n in sorted(counts.items(), key=lambda kv: _layer_key(kv[0])):
        if not n:
            continue
        head, _, tensor = name.rpartition(".")
        idx = head.split(".")[0]
        layer = model.layers[int(idx)] if idx.isdigit() and int(idx) < len(model.layers) else None
        kind = type(layer).__name__ if layer is not None else "layer"
        cell = getattr(layer, "cell", None) or getattr(getattr(layer, "forward", None), "cell", None)
        who = f"layer {head} ({cell or kind})"
        if tensor == "pre" and cell is not None:
            why = (f"{n} gate pre-activations of {who} reached the end of their int16 range. Harmless "
                   "where the gate's activation is flat there (sigmoid, tanh: the range ends where they are "
                   "within 1e-6 of their limit); for a GRU's candidate the parts before the reset gate are "
                   "clipped too, which can matter")
        elif tensor == "pre":
            why = (f"{n} pre-activations of {who} reached the end of their int16 range: the calibration data "
                   "did not reach values these inputs produce")
        elif tensor == "c":
            why = (f"{n} values of {who}'s state (c) reached its calibrated range: on longer or larger inputs "
                   "than the calibration saw, the state is clipped and the outputs drift")
        elif tensor == "h":
            why = f"{n} values of {who}'s output h were clipped to the activation type"
        else:
            why = f"{n} outputs of {who} were clipped to the activation type: the calibration never saw them"
        out[name] = why
    return out
