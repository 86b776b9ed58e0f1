"""Float reference: a numpy forward pass of an :class:`rnnmcu.ir.Model`, vectorised over the batch.

It is the oracle for the float path (checked against Keras) and the calibration engine for the
quantiser: pass a :class:`Stats` collector and every internal tensor's range over valid steps is
recorded under a stable name (``"<layer index>.<tensor>"``).

Sequence semantics (the same in the integer reference and on the device):

* a sequence ``b`` is its first ``lengths[b]`` steps; later steps do not exist;
* masked steps (raw input equal to the model's mask value on every channel) are removed before
  the recurrent layers see the sequence — the recurrent state is carried across them — and, for
  sequence outputs, the last recurrent layer's output at a masked step repeats its previous
  output (zeros before the first valid step) while the layers after it run on every position
  (Keras' semantics; the device simply never sees masked steps);
* a ``go_backwards`` layer processes the (valid part of the) sequence last step first and, with
  ``return_sequences``, returns outputs in processing order (as Keras does);
* ``all_steps=True`` returns the model output after every step, also for models that output one
  vector per window: that is what a device's streaming ``step`` call returns.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnmcu import ir
from rnnmcu.codegen import activations


@dataclass
class Stats:
    """Running max-abs of named tensors over valid steps, plus optional sample reservoirs."""

    maxabs: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, a: np.ndarray, valid: np.ndarray | None = None) -> None:
        v = a[valid] if valid is not None else a
        if v.size == 0:
            return
        m = float(np.max(np.abs(v)))
        self.maxabs[name] = max(self.maxabs.get(name, 0.0), m)


@dataclass
class Trace:
    """Every step's value of each internal tensor, by name (``"<layer>.<tensor>"``, a
    Bidirectional's directions as ``"<layer>.f"`` / ``"<layer>.b"``): ``(B, T, width)`` arrays in
    processing order, or ``(B, width)`` for a layer that runs once per window.  The float and the
    integer reference fill the same names: a recurrent layer's ``pre`` (every gate row's
    pre-activation, in the IR's gate order), ``gate`` (the recurrent-activation gates: LSTM i, f, o;
    GRU z, r), ``cand`` (LSTM g, GRU h~), ``c`` (LSTM) and ``h``; a Dense layer's ``pre`` and
    ``out``; an Activation, Softmax or merged Bidirectional layer's ``out``."""

    tensors: dict[str, np.ndarray] = field(default_factory=dict)

    def put(self, name: str, t: int, a: np.ndarray, steps: int) -> None:
        arr = self.tensors.get(name)
        if arr is None:
            arr = self.tensors[name] = np.zeros((a.shape[0], steps, a.shape[1]), dtype=a.dtype)
        arr[:, t] = a

    def put_all(self, name: str, a: np.ndarray) -> None:
        self.tensors[name] = np.array(a, copy=True)


def mask_steps(model: ir.Model, x: np.ndarray) -> np.ndarray:
    """(B, T) bool: True where a step is masked (raw input equals the mask value on every channel)."""
    if model.mask_value is None:
        return np.zeros(x.shape[:2], dtype=bool)
    return np.all(x == model.mask_value.astype(x.dtype), axis=-1)


def compress(model: ir.Model, x: np.ndarray, lengths: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Remove masked steps: returns (x', lengths', keep) where keep[b] lists the original indices
    of the steps kept for sequence b (so per-step outputs can be expanded back)."""
    B, T, _ = x.shape
    L = np.full(B, T, dtype=np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64)
    m = mask_steps(model, x)
    out = np.zeros_like(x)
    newlen = np.zeros(B, dtype=np.int64)
    keep: list[np.ndarray] = []
    for b in range(B):
        idx = np.nonzero(~m[b, : L[b]])[0]
        out[b, : len(idx)] = x[b, idx]
        newlen[b] = len(idx)
        keep.append(idx)
    return out, newlen, keep


def expand(y: np.ndarray, keep: list[np.ndarray], lengths: np.ndarray | None, T: int) -> np.ndarray:
    """Inverse of :func:`compress` for per-step outputs: (B, T', D) -> (B, T, D), carrying the
    previous output across masked steps (zeros before the first valid step)."""
    B, _, D = y.shape
    out = np.zeros((B, T, D), dtype=y.dtype)
    for b in range(B):
        L = T if lengths is None else int(lengths[b])
        src = np.full(L, -1, dtype=np.int64)
        src[keep[b]] = np.arange(len(keep[b]))
        src = np.maximum.accumulate(src) if L else src
        ok = src >= 0
        out[b, :L][ok] = y[b, src[ok]]
    return out


def standardise(model: ir.Model, x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float64) - model.norm_mean.astype(np.float64)) / model.norm_std.astype(np.float64)


def _valid(lengths: np.ndarray, T: int) -> np.ndarray:
    return np.arange(T)[None, :] < lengths[:, None]


def _reverse_valid(a: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reverse each sequence's valid prefix in time: out[b, k] = a[b, L_b - 1 - k]."""
    B, T = a.shape[:2]
    idx = lengths[:, None] - 1 - np.arange(T)[None, :]
    idx = np.where(idx >= 0, idx, 0)
    return np.take_along_axis(a, idx.reshape(B, T, *([1] * (a.ndim - 2))), axis=1)


def recurrent(layer: ir.Recurrent, x: np.ndarray, lengths: np.ndarray, stats: Stats | None = None,
              tag: str = "", trace: Trace | None = None) -> np.ndarray:
    """Run one recurrent layer over (B, T, F) valid prefixes; returns (B, T, units) outputs in
    processing order (the last valid output is at index lengths-1)."""
    B, T, _ = x.shape
    n = layer.units
    if layer.go_backwards:
        x = _reverse_valid(x, lengths)
    act = activations.get(layer.activation)
    rec = activations.get(layer.recurrent_activation)
    W, U = layer.W.astype(np.float64), layer.U.astype(np.float64)
    b, b_rec = layer.b.astype(np.float64), layer.b_rec.astype(np.float64)
    p = None if layer.p is None else layer.p.astype(np.float64)
    h = np.zeros((B, n))
    c = np.zeros((B, n))
    out = np.zeros((B, T, n))
    xw = x @ W.T + b  # (B, T, G*n): input projections for the whole window
    valid = _valid(lengths, T)
    for t in range(T):
        v = valid[:, t]
        if not v.any():
            break
        vv = v[:, None]
        hu = h @ U.T
        if layer.kind == "simple":
            pre = xw[:, t] + hu
            h_new = act(pre)
            if stats is not None:
                stats.add(f"{tag}.pre_act", pre, v)
            if trace is not None:
                trace.put(f"{tag}.pre", t, pre, T)
            c_new = c
        elif layer.kind == "lstm":
            z = xw[:, t] + hu
            zi, zf, zg, zo = (z[:, k * n:(k + 1) * n] for k in range(4))
            if p is not None:
                zi = zi + p[0] * c
                zf = zf + p[1] * c
            i, f, g = rec(zi), rec(zf), act(zg)
            c_new = f * c + i * g
            if p is not None:
                zo = zo + p[2] * c_new
            o = rec(zo)
            phi = act(c_new)
            h_new = o * phi
            if stats is not None:
                stats.add(f"{tag}.pre_rec", np.concatenate([zi, zf, zo], 1), v)
                stats.add(f"{tag}.pre_act", zg, v)
                stats.add(f"{tag}.gate", np.concatenate([i, f, o], 1), v)
                stats.add(f"{tag}.cand", g, v)
                stats.add(f"{tag}.c", c_new, v)
                stats.add(f"{tag}.phi_c", phi, v)
            if trace is not None:
                for name, a in (("pre", np.concatenate([zi, zf, zg, zo], 1)), ("gate", np.concatenate([i, f, o], 1)),
                                ("cand", g), ("c", c_new)):
                    trace.put(f"{tag}.{name}", t, a, T)
        elif layer.kind == "gru":
            ux = xw[:, t]
            if layer.reset_after:
                hr = hu + b_rec
                zz = ux[:, :n] + hr[:, :n]
                zr = ux[:, n:2 * n] + hr[:, n:2 * n]
                r = rec(zr)
                pre_h = ux[:, 2 * n:] + r * hr[:, 2 * n:]
                parts = [ux[:, 2 * n:], hr[:, 2 * n:]]
            else:
                zz = ux[:, :n] + hu[:, :n]
                zr = ux[:, n:2 * n] + hu[:, n:2 * n]
                r = rec(zr)
                rh = r * h
                pre_h = ux[:, 2 * n:] + rh @ U[2 * n:].T
                parts = [ux[:, 2 * n:]]
            hh = act(pre_h)
            if p is not None:
                zz = zz + p[0] * hh
            z = rec(zz)
            h_new = z * h + (1.0 - z) * hh
            c_new = c
            if stats is not None:
                stats.add(f"{tag}.pre_rec", np.concatenate([zz, zr], 1), v)
                stats.add(f"{tag}.pre_act", np.concatenate([pre_h] + parts, 1), v)
                stats.add(f"{tag}.gate", np.concatenate([z, r], 1), v)
                stats.add(f"{tag}.cand", hh, v)
            if trace is not None:  # c: the state, which an int8 GRU keeps at 16 bits
                for name, a in (("pre", np.concatenate([zz, zr, pre_h], 1)), ("gate", np.concatenate([z, r], 1)),
                                ("cand", hh), ("c", h_new)):
                    trace.put(f"{tag}.{name}", t, a, T)
        else:  # pragma: no cover - ir.Recurrent validates cells
            raise ir.IRError(f"unknown cell {layer.cell}")
        h = np.where(vv, h_new, h)
        c = np.where(vv, c_new, c)
        out[:, t] = h
        if stats is not None:
            stats.add(f"{tag}.h", h_new, v)
        if trace is not None:
            trace.put(f"{tag}.h", t, h_new, T)
    return out


def _merge(mode: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if mode == "concat":
        return np.concatenate([a, b], axis=-1)
    if mode == "sum":
        return a + b
    if mode == "mul":
        return a * b
    return (a + b) / 2.0


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def forward(model: ir.Model, x: np.ndarray, lengths: np.ndarray | None = None, *,
            all_steps: bool = False, stats: Stats | None = None, masked: bool = True,
            trace: Trace | None = None) -> np.ndarray:
    """Float forward pass.  ``x`` (B, T, F) in sensor units.  Returns (B, D) for window models,
    or (B, T, D) when the model outputs sequences or ``all_steps`` is set (steps past a
    sequence's length are zero)."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != model.input_dim:
        raise ir.IRError(f"input must be (batch, steps, {model.input_dim}), got {x.shape}")
    B, T, _ = x.shape
    L0 = np.full(B, T, dtype=np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64)
    keep = None
    if masked and model.mask_value is not None:
        x, L, keep = compress(model, x, L0)
    else:
        L = L0
    a = standardise(model, x)
    if stats is not None:
        stats.add("input", a, _valid(L, T))
    seq = True
    last_rec = max(i for i, l in enumerate(model.layers) if isinstance(l, (ir.Recurrent, ir.Bidirectional)))
    for i, layer in enumerate(model.layers):
        tag = str(i)
        if isinstance(layer, ir.Recurrent):
            y = recurrent(layer, a, L, stats, tag, trace)
            keep_seq = layer.return_sequences or (all_steps and i == last_rec)
            a = y if keep_seq else _last(y, L)
            seq = keep_seq
        elif isinstance(layer, ir.Bidirectional):
            yf = recurrent(layer.forward, a, L, stats, tag + ".f", trace)
            yb = recurrent(layer.backward, a, L, stats, tag + ".b", trace)
            if layer.return_sequences:
                a = _merge(layer.merge_mode, yf, _reverse_valid(yb, L))
            else:
                a = _merge(layer.merge_mode, _last(yf, L), _last(yb, L))
            seq = layer.return_sequences
            if stats is not None:
                stats.add(f"{tag}.out", a, _valid(L, T) if seq else None)
            if trace is not None:
                trace.put_all(f"{tag}.out", a)
        elif isinstance(layer, ir.Dense):
            pre = a @ layer.W.astype(np.float64).T + layer.b.astype(np.float64)
            a = activations.get(layer.activation)(pre)
            if stats is not None:
                v = _valid(L, T) if seq else None
                stats.add(f"{tag}.pre", pre, v)
                stats.add(f"{tag}.out", a, v)
            if trace is not None:
                trace.put_all(f"{tag}.pre", pre)
                trace.put_all(f"{tag}.out", a)
        elif isinstance(layer, ir.Activation):
            a = activations.get(layer.activation)(a)
            if stats is not None:
                stats.add(f"{tag}.out", a, _valid(L, T) if seq else None)
            if trace is not None:
                trace.put_all(f"{tag}.out", a)
        elif isinstance(layer, ir.Softmax):
            a = _softmax(a)
            if trace is not None:
                trace.put_all(f"{tag}.out", a)
        else:  # pragma: no cover
            raise ir.IRError(f"unknown layer {layer!r}")
        if keep is not None and seq and i == last_rec:
            # back to all T positions: the recurrent output carries over masked steps (zeros before
            # the first valid one) and the layers after it see every position, as in Keras
            a = expand(np.where(_valid(L, T)[:, :, None], a, 0.0), keep, L0, T)
            L, keep = L0, None
    if seq:
        a = np.where(_valid(L, T)[:, :, None], a, 0.0)
    return a


def _last(y: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    idx = np.maximum(lengths - 1, 0)
    out = y[np.arange(y.shape[0]), idx]
    return np.where((lengths > 0)[:, None], out, 0.0)
