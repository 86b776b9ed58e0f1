"""The bit-exact integer reference: numpy that does exactly what the generated C does — every
rounding, shift, table interpolation and saturation (``codegen/NUMERICS.md``) — vectorised over
the batch.  All arithmetic is in int64; the C keeps every intermediate in a type that cannot
overflow for the same values, so both agree bit for bit.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from rnnmcu import ir
from rnnmcu.codegen import float_ref
from rnnmcu.codegen.qmodel import (QActivation, QBidirectional, QDense, QModel, QRecurrent, QSoftmax,
                                   act_range)

I16 = (-32768, 32767)


class Saturations(Counter):
    """How often each saturation point clipped (over valid steps); a high count means the
    calibration data did not cover what the model meets.  ``at[name]`` counts them per step
    (processing order; ``-1`` for a layer that runs once per window)."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.at: dict[str, Counter] = {}
        self.step: int | None = None  # the step a recurrent layer is on, set by its loop

    def clip(self, name: str, a: np.ndarray, lo: int, hi: int, valid: np.ndarray | None = None) -> np.ndarray:
        hit = (a < lo) | (a > hi)
        if valid is not None:
            hit = hit & valid.reshape(valid.shape + (1,) * (hit.ndim - valid.ndim))
        n = int(np.count_nonzero(hit))
        if n:
            self[name] += n
            at = self.at.setdefault(name, Counter())
            if self.step is not None:
                at[self.step] += n
            elif hit.ndim == 3:
                for t, k in enumerate(hit.sum(axis=(0, 2)).tolist()):
                    if k:
                        at[t] += int(k)
            else:
                at[-1] += n
        return np.clip(a, lo, hi)


def rq(acc: np.ndarray, M: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """Requantise: (acc * M + 2^(sh-1)) >> sh (64-bit product, arithmetic shift)."""
    sh = sh.astype(np.int64)
    return (acc * M.astype(np.int64) + (np.int64(1) << (sh - 1))) >> sh


def rshr(v: np.ndarray, s: int) -> np.ndarray:
    """Rounding right shift (half up); s = 0 leaves v unchanged."""
    return v if s == 0 else (v + (1 << (s - 1))) >> s


def table(tab: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """Interpolated lookup of an int16 input in a 257-entry int16 table."""
    t = tab.astype(np.int64)
    u = pre + 32768
    i = u >> 8
    f = u & 255
    t0 = t[i]
    return t0 + (((t[i + 1] - t0) * f + 128) >> 8)


def matvec(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x (..., in) int64 @ w.T (out, in) int8 -> int64, exactly (float64 sums of these sizes are exact)."""
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1] + (w.shape[0],), dtype=np.int64)
    return np.rint(x.astype(np.float64) @ w.astype(np.float64).T).astype(np.int64)


def quantize_inputs(q: QModel, x: np.ndarray) -> np.ndarray:
    """Sensor units -> model inputs, in float32 exactly as the C ``<name>_quantize_input`` does:
    q = saturate(rint((x - mean) * inv)) (round half to even).  float32 models return float32."""
    xf = np.asarray(x, dtype=np.float32)
    v = (xf - q.in_mean.astype(np.float32)) * q.in_inv.astype(np.float32)
    if q.precision == "float32":
        return v.astype(np.float32)
    lo, hi = q.input_range
    return np.clip(np.rint(v), lo, hi).astype(np.int64)


def _valid(lengths: np.ndarray, T: int) -> np.ndarray:
    return np.arange(T)[None, :] < lengths[:, None]


def _recurrent(l: QRecurrent, x: np.ndarray, lengths: np.ndarray, lo: int, hi: int, sat: Saturations,
               tag: str, trace: float_ref.Trace | None = None) -> np.ndarray:
    B, T, _ = x.shape
    n = l.units
    if l.go_backwards:
        x = float_ref._reverse_valid(x, lengths)
    valid = _valid(lengths, T)
    rx = rq(matvec(x, l.w), l.mx, l.shx)  # (B, T, G*n)
    b = l.b.astype(np.int64)
    b_rec = l.b_rec.astype(np.int64)
    q, k = l.q, l.k
    h = np.zeros((B, n), dtype=np.int64)
    c = np.zeros((B, n), dtype=np.int64)
    out = np.zeros((B, T, n), dtype=np.int64)
    for t in range(T):
        v = valid[:, t]
        if not v.any():
            break
        sat.step = t
        rh_ = rq(matvec(h, l.u), l.mh, l.shh)
        cell = l.base_cell
        if cell == "simple":
            pre = sat.clip(f"{tag}.pre", rx[:, t] + rh_ + b, *I16, valid=v)
            tt = np.clip(table(l.tab_act, pre), *I16)
            h_new = sat.clip(f"{tag}.h", rshr(tt, k), lo, hi, valid=v)
            c_new = c
            if trace is not None:
                trace.put(f"{tag}.pre", t, pre, T)
        elif cell == "lstm":
            z = rx[:, t] + rh_ + b
            if l.peephole:  # i and f see c_{t-1}
                z[:, :n] += rq(l.p[0].astype(np.int64) * c, l.mp[:1], l.shp[:1])
                z[:, n:2 * n] += rq(l.p[1].astype(np.int64) * c, l.mp[1:2], l.shp[1:2])
            pre = sat.clip(f"{tag}.pre", z[:, :3 * n], *I16, valid=v)
            i = np.clip(table(l.tab_rec, pre[:, :n]), *I16)
            f = np.clip(table(l.tab_rec, pre[:, n:2 * n]), *I16)
            g = np.clip(table(l.tab_act, pre[:, 2 * n:3 * n]), *I16)
            c_new = sat.clip(f"{tag}.c", rshr(f * c, q) + rshr(i * g, q), *I16, valid=v)
            zo = z[:, 3 * n:]
            if l.peephole:  # o sees c_t
                zo = zo + rq(l.p[2].astype(np.int64) * c_new, l.mp[2:3], l.shp[2:3])
            po = sat.clip(f"{tag}.pre", zo, *I16, valid=v)
            o = np.clip(table(l.tab_rec, po), *I16)
            tt = np.clip(table(l.tab_out, np.clip(c_new << l.cs, *I16)), *I16)
            h_new = sat.clip(f"{tag}.h", rshr(o * tt, q + k), lo, hi, valid=v)
            if trace is not None:
                for name, a in (("pre", np.concatenate([pre, po], 1)), ("gate", np.concatenate([i, f, o], 1)),
                                ("cand", g), ("c", c_new)):
                    trace.put(f"{tag}.{name}", t, a, T)
        elif cell == "gru":
            pr = sat.clip(f"{tag}.pre", rx[:, t, n:2 * n] + rh_[:, n:2 * n] + b[n:2 * n], *I16, valid=v)
            r = np.clip(table(l.tab_rec, pr), *I16)
            if l.reset_after:
                px = sat.clip(f"{tag}.pre", rx[:, t, 2 * n:] + b[2 * n:], *I16, valid=v)
                ph = sat.clip(f"{tag}.pre", rh_[:, 2 * n:] + b_rec[2 * n:], *I16, valid=v)
                pre_h = sat.clip(f"{tag}.pre", px + rshr(r * ph, q), *I16, valid=v)
            else:
                rh = sat.clip(f"{tag}.h", rshr(r * h, q), lo, hi, valid=v)
                ah = rq(matvec(rh, l.u[2 * n:]), l.mh[2 * n:], l.shh[2 * n:])
                pre_h = sat.clip(f"{tag}.pre", rx[:, t, 2 * n:] + ah + b[2 * n:], *I16, valid=v)
            ht = np.clip(table(l.tab_act, pre_h), *I16)
            zz = rx[:, t, :n] + rh_[:, :n] + b[:n]
            if l.peephole:  # z sees the new candidate
                zz = zz + rq(l.p[0].astype(np.int64) * ht, l.mp[:1], l.shp[:1])
            pz = sat.clip(f"{tag}.pre", zz, *I16, valid=v)
            z = np.clip(table(l.tab_rec, pz), *I16)
            if l.state16:  # the state keeps k more bits in c (h at s_h / 2^k); h is its top bits
                c_new = sat.clip(f"{tag}.c", rshr(z * c + ((1 << q) - z) * ht, q), *I16, valid=v)
                h_new = sat.clip(f"{tag}.h", rshr(c_new, k), lo, hi, valid=v)
            else:
                num = z * (h << k) + ((1 << q) - z) * ht
                h_new = sat.clip(f"{tag}.h", rshr(num, q + k), lo, hi, valid=v)
                c_new = c
            if trace is not None:
                for name, a in (("pre", np.concatenate([pz, pr, pre_h], 1)), ("gate", np.concatenate([z, r], 1)),
                                ("cand", ht)) + ((("c", c_new),) if l.state16 else ()):
                    trace.put(f"{tag}.{name}", t, a, T)
        else:  # pragma: no cover - quantize refuses other cells
            raise ir.IRError(f"cell {l.cell} has no integer reference")
        vv = v[:, None]
        h = np.where(vv, h_new, h)
        c = np.where(vv, c_new, c)
        out[:, t] = h
        if trace is not None:
            trace.put(f"{tag}.h", t, h_new, T)
    sat.step = None
    return out


def _merge(l: QBidirectional, a: np.ndarray, b: np.ndarray, lo: int, hi: int, sat: Saturations,
           tag: str) -> np.ndarray:
    """Merge the two directions (both at the same h scale)."""
    if l.merge_mode == "concat":
        return np.concatenate([a, b], axis=-1)
    v = a * b if l.merge_mode == "mul" else a + b
    return sat.clip(f"{tag}.out", rq(v, np.int64(l.m), np.int64(l.sh)), lo, hi)


def _last(y: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    return y[np.arange(y.shape[0]), np.maximum(lengths - 1, 0)]


def forward(q: QModel, xq: np.ndarray, lengths: np.ndarray | None = None, *, all_steps: bool = False,
            saturations: Saturations | None = None, trace: float_ref.Trace | None = None) -> np.ndarray:
    """Integer forward pass over already quantised (and mask-compressed) inputs ``xq`` (B, T, F).
    Returns int64 outputs (B, D), or (B, T, D) for sequence models / ``all_steps``; steps past a
    sequence's length are zero."""
    if q.precision == "float32":
        raise ValueError("float32 models have no integer reference; use float_ref")
    xq = np.asarray(xq, dtype=np.int64)
    B, T, _ = xq.shape
    L = np.full(B, T, dtype=np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64)
    body = act_range(q.precision)
    head_from = q.head_from()
    sat = saturations if saturations is not None else Saturations()
    a = xq
    seq = True
    last_rec = max(i for i, l in enumerate(q.layers) if isinstance(l, (QRecurrent, QBidirectional)))
    for i, l in enumerate(q.layers):
        tag = str(i)
        lo, hi = act_range("int16") if head_from is not None and i >= head_from else body
        if isinstance(l, QRecurrent):
            y = _recurrent(l, a, L, lo, hi, sat, tag, trace)
            seq = l.return_sequences or (all_steps and i == last_rec)
            a = y if seq else _last(y, L)
        elif isinstance(l, QBidirectional):
            yf = _recurrent(l.forward, a, L, lo, hi, sat, tag + ".f", trace)
            yb = _recurrent(l.backward, a, L, lo, hi, sat, tag + ".b", trace)
            seq = l.return_sequences
            if seq:
                a = _merge(l, yf, float_ref._reverse_valid(yb, L), lo, hi, sat, tag)
            else:
                a = _merge(l, _last(yf, L), _last(yb, L), lo, hi, sat, tag)
            if trace is not None:
                trace.put_all(f"{tag}.out", a)
        elif isinstance(l, QDense):
            v = _valid(L, T) if seq else None
            pre = sat.clip(f"{tag}.pre", rq(matvec(a, l.w), l.m, l.sh) + l.b.astype(np.int64), *I16, valid=v)
            tt = np.clip(table(l.tab, pre), *I16)
            a = sat.clip(f"{tag}.out", rshr(tt, l.k), lo, hi, valid=v)
            if trace is not None:
                trace.put_all(f"{tag}.pre", pre)
                trace.put_all(f"{tag}.out", a)
        elif isinstance(l, QActivation):
            tt = np.clip(table(l.tab, a << l.kin), *I16)
            a = sat.clip(f"{tag}.out", rshr(tt, l.k), lo, hi, valid=_valid(L, T) if seq else None)
            if trace is not None:
                trace.put_all(f"{tag}.out", a)
        elif isinstance(l, QSoftmax):
            m = a.max(axis=-1, keepdims=True)
            d = np.clip((a - m) << l.kin, *I16)
            e = np.clip(table(l.tab, d), 0, 32767)
            s = e.sum(axis=-1, keepdims=True)
            a = np.minimum(((e << l.qo) + (s >> 1)) // s, hi)
            if trace is not None:
                trace.put_all(f"{tag}.out", a)
        else:  # pragma: no cover
            raise ir.IRError(f"unknown quantised layer {l!r}")
    if seq:
        a = np.where(_valid(L, T)[:, :, None], a, 0)
    return a


def dequantize(q: QModel, y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=np.float64) * (1.0 if q.precision == "float32" else q.s_out)


def predict(model: ir.Model, q: QModel, x: np.ndarray, lengths: np.ndarray | None = None, *,
            all_steps: bool = False, saturations: Saturations | None = None) -> np.ndarray:
    """Sensor-unit inputs -> dequantised outputs of the integer model (masking handled like the
    float reference: masked steps are removed before the model sees them)."""
    T = x.shape[1]
    L0 = np.full(x.shape[0], T, dtype=np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64)
    xc, L, keep = float_ref.compress(model, x, L0)
    y = forward(q, quantize_inputs(q, xc), L, all_steps=all_steps, saturations=saturations)
    y = dequantize(q, y)
    if y.ndim == 3 and model.mask_value is not None:
        y = float_ref.expand(y, keep, L0, T)
    return y
