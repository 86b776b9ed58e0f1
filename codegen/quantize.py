"""Calibration and the fixed-point plan (see ``codegen/NUMERICS.md``).

``quantize(model, x, lengths, precision)`` runs the float reference over the calibration data for
the full sequence length, records the range of every internal tensor, and builds a
:class:`~rnnmcu.codegen.qmodel.QModel`: int8 weights (symmetric, per output row, no clipping),
requantisation multipliers, biases in the pre-activation domain and one interpolated int16 table
per activation.
"""
from __future__ import annotations

import math

import numpy as np

from rnnmcu import footprint, ir
from rnnmcu.codegen import activations, float_ref
from rnnmcu.codegen.qmodel import (QActivation, QBidirectional, QDense, QModel, QRecurrent, QSoftmax,
                                   act_range, keeps_c)
from rnnmcu.errors import InputError, UnsupportedModelError

HEADROOM = 1.2          # ranges beyond the calibrated maximum that still do not saturate
WIDE_INPUT_HEADROOM = 2.0  # 16-bit inputs: their range is twice the largest calibration value
INT16_MAX = 32767


class QuantizationError(InputError):
    """The model cannot be represented in the chosen fixed-point plan."""


def quantize_multiplier(m: float) -> tuple[int, int]:
    """``m ≈ M * 2**-sh`` with ``M`` in [2**30, 2**31) and 1 <= sh <= 62 (M may be smaller when m is tiny)."""
    if not math.isfinite(m) or m < 0:
        raise QuantizationError(f"invalid requantisation multiplier {m}")
    if m == 0:
        return 0, 33  # any shift gives 0; 33 keeps rnnmcu_rq32 on its no-pre-shift path
    e = math.floor(math.log2(m))
    sh = 30 - e
    if sh > 62:
        return int(round(m * 2.0 ** 62)), 62
    M = int(round(m * 2.0 ** sh))
    if M >= 2 ** 31:
        M //= 2
        sh -= 1
    if sh < 1:
        raise QuantizationError(f"requantisation multiplier {m:.3g} is too large for the fixed-point plan",
                                "the model's weights or calibration ranges are degenerate; check the calibration data")
    return M, sh


def make_table(fn, s_in: float, s_out: float, *, lo: int = -32768, hi: int = 32767) -> np.ndarray:
    """257 int16 entries: entry j holds fn(s_in * (256 j - 32768)) / s_out, rounded and clamped."""
    xs = (np.arange(257, dtype=np.float64) * 256.0 - 32768.0) * s_in
    with np.errstate(over="ignore", invalid="ignore"):
        ys = fn(xs) / s_out
    ys = np.nan_to_num(ys, nan=0.0, posinf=hi, neginf=lo)
    return np.clip(np.rint(ys), lo, hi).astype(np.int16)


def quantize_rows(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row int8: W ≈ Wq * s[:, None].  Never clips (the scale covers each row's max)."""
    W = np.asarray(W, dtype=np.float64)
    mx = np.max(np.abs(W), axis=1) if W.shape[1] else np.zeros(W.shape[0])
    s = np.where(mx > 0, mx / 127.0, 1.0)
    Wq = np.rint(W / s[:, None])
    if np.any(np.abs(Wq) > 127):  # pragma: no cover - guaranteed by construction
        raise QuantizationError("weight out of int8 range after scaling")
    return Wq.astype(np.int8), s


def quantize_rows_int16(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row int16 (peephole weights: one multiply per unit, so precision is cheap)."""
    W = np.asarray(W, dtype=np.float64)
    mx = np.max(np.abs(W), axis=1)
    s = np.where(mx > 0, mx / 32767.0, 1.0)
    return np.clip(np.rint(W / s[:, None]), -32767, 32767).astype(np.int16), s


def _range(stats: float_ref.Stats, key: str, act: str | None = None) -> float:
    """A calibrated pre-activation range: max-abs * headroom, capped where the activation saturates."""
    r = stats.maxabs.get(key, 0.0) * HEADROOM
    cap = activations.saturates(act) if act is not None else None
    if cap is not None:
        r = min(r, cap) if r > 0 else cap
    return max(r, 1e-2)


def _out_range(stats: float_ref.Stats, key: str, act: str) -> float:
    """Range of an activation's output: its natural bound when bounded, else calibrated."""
    lo, hi = activations.bounds(act)
    r = stats.maxabs.get(key, 0.0) * HEADROOM
    if lo is not None and hi is not None:
        bound = max(abs(lo), abs(hi))
        r = min(r, bound) if r > 0 else bound
    return max(r, 1e-6)


def _gate_bits(act: str, stats: float_ref.Stats, key: str) -> int:
    lo, hi = activations.bounds(act)
    if lo is not None and hi is not None:
        g = max(abs(lo), abs(hi))
    else:
        g = max(stats.maxabs.get(key, 1.0) * HEADROOM, 1e-6)
    q = int(15 - max(0, math.ceil(math.log2(g))))
    if q < 0:  # the integer part alone would not fit in int16 (and the kernels shift by q)
        raise QuantizationError(
            f"{key.rsplit('.', 1)[0]}: the recurrent activation {act!r} reaches {g:.3g} (with headroom) on the "
            "calibration data, more than the int16 gate values can hold (32767)",
            "use a bounded recurrent_activation (sigmoid, hard_sigmoid, tanh) for this layer, or smaller "
            "weights or inputs")
    return q


def _input_ranges(xs: np.ndarray, amax: int) -> np.ndarray:
    """Per-channel clipping range minimising the mean squared quantisation error (rounding + clipping).
    ``xs``: (N, F) standardised valid samples."""
    F = xs.shape[1]
    out = np.zeros(F)
    for c in range(F):
        v = xs[:, c]
        m = float(np.max(np.abs(v))) if v.size else 0.0
        if m == 0:
            out[c] = 1.0
            continue
        best, best_err = m, math.inf
        for f in np.linspace(1.0, 0.3, 15):
            r = m * f
            s = r / amax
            qv = np.clip(np.rint(v / s), -amax - 1, amax) * s
            err = float(np.mean((qv - v) ** 2))
            if err < best_err - 1e-15:
                best, best_err = r, err
        out[c] = best
    return out


def quantize(model: ir.Model, x: np.ndarray, lengths: np.ndarray | None, precision: str, *,
             head_bits: int = 16) -> QModel:
    """Calibrate ``model`` on ``x`` and quantise it (NUMERICS.md).  ``head_bits=8`` gives an int8
    model an int8 head and outputs, as models quantised before the 16-bit head have (comparisons,
    and the tests that keep those files working)."""
    if head_bits not in (8, 16):
        raise InputError(f"head_bits must be 8 or 16, not {head_bits!r}", "leave it at 16")
    if precision not in ("int8", "int16", "float32"):
        raise InputError(f"unknown precision {precision!r}", "use int8, int16 or float32")
    stats = float_ref.Stats()
    xc, Lc, _ = float_ref.compress(model, x, lengths)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, by name
        float_ref.forward(model, xc, Lc, stats=stats, masked=False, all_steps=True)
    overflow = sorted(name for name, m in stats.maxabs.items() if not math.isfinite(m))
    if overflow and precision != "float32":
        more = f" and {len(overflow) - 1} more" if len(overflow) > 1 else ""
        raise QuantizationError(f"the calibration run overflows float32 in layer {overflow[0].split('.')[0]} "
                                f"(tensor {overflow[0]}{more}): no fixed-point range can hold it",
                                "bound the activation that overflows (e.g. softplus or a clipped "
                                "activation instead of exponential), or calibrate with data in the "
                                "range the model was trained on")
    if precision == "float32":
        return _finish(model, QModel(precision="float32", in_mean=model.norm_mean.astype(np.float32),
                                     in_inv=(1.0 / model.norm_std.astype(np.float64)).astype(np.float32),
                                     s_in=np.ones(model.input_dim), layers=[], s_out=1.0,
                                     calib=dict(stats.maxabs)))
    lo, amax = act_range(precision)
    k = 8 if precision == "int8" else 0
    first = model.layers[0]
    # int8 models take 16-bit inputs where the first layer can (NUMERICS.md, "Wide inputs")
    in_bits = 16 if precision == "int8" and takes_wide_input(first) else 8 * (2 if precision == "int16" else 1)
    in_max = 32767 if in_bits == 16 else amax
    # Inputs: per-channel ranges when the first layer has a weight matrix to fold them into.
    valid = np.arange(xc.shape[1])[None, :] < Lc[:, None]
    xs = float_ref.standardise(model, xc)[valid]
    if in_bits == 16:
        # 16-bit inputs can afford room above the calibration data: a rare spike larger than any
        # the calibration saw (heavy-tailed signals) still fits, at 2^-14 of the range per step
        ranges = np.max(np.abs(xs), axis=0, initial=0.0) * WIDE_INPUT_HEADROOM if xs.size else np.ones(xs.shape[1])
        ranges = np.where(ranges > 0, ranges, 1.0)
    else:
        ranges = _input_ranges(xs, in_max)
    if not isinstance(first, (ir.Recurrent, ir.Bidirectional, ir.Dense)):
        ranges[:] = ranges.max()
    s_in = ranges / in_max
    in_inv = (1.0 / (model.norm_std.astype(np.float64) * s_in)).astype(np.float32)

    layers: list = []
    s_x: np.ndarray | float = s_in  # per channel for the first layer, then a scalar
    # an int8 model's head (the layers after the last recurrent one) and outputs are 16-bit
    # (NUMERICS.md, "16-bit head"): it reads the last recurrent layer's int8 output
    head16 = precision == "int8" and head_bits == 16
    last_rec = max(i for i, l in enumerate(model.layers) if isinstance(l, (ir.Recurrent, ir.Bidirectional)))
    for i, layer in enumerate(model.layers):
        tag = str(i)
        head = head16 and i > last_rec
        lp, lk = ("int16", 0) if head else (precision, k)        # this layer's activations
        x_bits = 16 if (i == 0 and in_bits == 16) or (head and i > last_rec + 1) else act_bits(precision)
        x_max = 2 ** (x_bits - 1)  # the largest |input value| the layer multiplies
        l_amax = act_range(lp)[1]
        if isinstance(layer, ir.Recurrent):
            ql = _q_recurrent(layer, stats, tag, s_x, precision, k, x_max=x_max)
            s_x = ql.s_h
        elif isinstance(layer, ir.Bidirectional):
            ql = _q_bidirectional(layer, stats, tag, s_x, precision, k, x_max=x_max)
            s_x = ql.s_y
        elif isinstance(layer, ir.Dense):
            ql = _q_dense(layer, stats, tag, s_x, lp, lk, x_max=x_max)
            s_x = ql.s_y
        elif isinstance(layer, ir.Activation):
            sx = float(np.max(s_x))
            s_y = _out_range(stats, f"{tag}.out", layer.activation) / l_amax
            kin = 8 if x_bits == 8 else 0
            tab = make_table(activations.get(layer.activation), sx / 2 ** kin, s_y / 2 ** lk)
            ql = QActivation(dim=layer.dim, tab=tab, kin=kin, k=lk, s_x=sx, s_y=s_y)
            s_x = s_y
        elif isinstance(layer, ir.Softmax):
            sx = float(np.max(s_x))
            kin = 8 if x_bits == 8 else 0
            qo = 7 if lp == "int8" else 15
            tab = make_table(np.exp, sx / 2 ** kin, 2.0 ** -15, lo=0)
            ql = QSoftmax(dim=layer.dim, tab=tab, kin=kin, qo=qo, s_x=sx, s_y=2.0 ** -qo)
            s_x = ql.s_y
        else:  # pragma: no cover - guarded above
            raise UnsupportedModelError(f"layer {layer.name!r}: not supported in {precision}")
        layers.append(ql)
    q = QModel(precision=precision, in_mean=model.norm_mean.astype(np.float32), in_inv=in_inv,
               s_in=s_in, layers=layers, s_out=float(s_x), calib=dict(stats.maxabs),
               in_bits=in_bits if precision == "int8" else 0, head_bits=16 if head16 else 0)
    return _finish(model, q)


def act_bits(precision: str) -> int:
    return 8 if precision == "int8" else 16


def takes_wide_input(layer) -> bool:
    """Can an int8 model's first layer multiply 16-bit inputs?  A Dense layer, and a recurrent
    layer (or both directions of a Bidirectional) whose step can take its input projection from
    the 16-bit product (every cell form but GRU reset_after=False)."""
    if isinstance(layer, ir.Dense):
        return True
    if isinstance(layer, ir.Bidirectional):
        return takes_wide_input(layer.forward) and takes_wide_input(layer.backward)
    if isinstance(layer, ir.Recurrent):
        return footprint.tiled(layer.cell, layer.reset_after)
    return False


def _finish(model: ir.Model, q: QModel) -> QModel:
    q.hash = q.compute_hash(model)
    return q


def _scaled_rows(W: np.ndarray, s_x: np.ndarray | float) -> np.ndarray:
    """Fold a per-channel input scale into the matrix columns (W acts on integer inputs)."""
    return np.asarray(W, dtype=np.float64) * np.asarray(s_x, dtype=np.float64)


def _multipliers(s_w: np.ndarray, s_pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    M, S = zip(*(quantize_multiplier(float(a / b)) for a, b in zip(s_w, s_pre))) if len(s_w) else ((), ())
    return np.asarray(M, dtype=np.int32), np.asarray(S, dtype=np.int32)


# Narrow pre-activations (codegen/NUMERICS.md, "Proven 32-bit sums"): every requantised term of a
# pre-activation sum is at most NARROW_TERM in magnitude for any input, and biases are clamped to
# NARROW_BIAS, so the kernels add them in int32 and the accumulator pre-shift of rnnmcu_rq32 cannot
# overflow.  A clamped bias changes nothing: with the terms that small the sum saturates anyway.
NARROW_TERM = 2 ** 26
NARROW_BIAS = 2 ** 28


def _bias(b: np.ndarray, s_pre: np.ndarray) -> np.ndarray:
    v = np.rint(np.asarray(b, dtype=np.float64) / s_pre)
    return np.clip(v, -NARROW_BIAS, NARROW_BIAS).astype(np.int32)


def term_bounds(wq: np.ndarray, amax: int, M: np.ndarray, sh: np.ndarray) -> tuple[list[int], list[int]]:
    """Per row: the largest |rq(acc)| and the largest |acc| * 2^max(0, 33 - sh) over every input
    vector with entries in [-amax, amax] (exact integers)."""
    B = np.sum(np.abs(np.asarray(wq, dtype=np.int64)), axis=1) * amax
    rq, pre = [], []
    for b, m, s in zip(B.tolist(), np.asarray(M).tolist(), np.asarray(sh).tolist()):
        rq.append((b * m + (1 << (s - 1))) >> s)
        d = max(0, 33 - s)
        pre.append(b << d if d <= 30 else 2 ** 40)  # a pre-shift of 31+ bits never fits
    return rq, pre


def _row_excess(wq: np.ndarray, amax: int, M: np.ndarray, sh: np.ndarray) -> np.ndarray:
    rq, pre = term_bounds(wq, amax, M, sh)
    return np.maximum(np.asarray(rq, dtype=np.float64) / NARROW_TERM, np.asarray(pre, dtype=np.float64) / 2.0 ** 30)


def _narrow_excess(wq: np.ndarray, amax: int, M: np.ndarray, sh: np.ndarray) -> float:
    """How far the rows are from the narrow bounds: <= 1 when they hold."""
    return float(np.max(_row_excess(wq, amax, M, sh), initial=0.0))


def _peephole_excess(p: np.ndarray, mp: np.ndarray, shp: np.ndarray) -> float:
    """p (P, n) int16 times an int16 (c or h~), one multiplier per row of p."""
    p = np.asarray(p).reshape(len(mp), -1)
    per_row = np.max(np.abs(p.astype(np.int64)), axis=1, initial=0)[:, None]
    return _narrow_excess(per_row, 32768, mp, shp)


def check_narrow(q: QModel) -> None:
    """The generated C adds pre-activation terms in int32 (rnnmcu_rq32): refuse a quantised model
    whose bounds do not hold (one written by an older rnnmcu)."""
    amax = -act_range(q.precision)[0]

    def require(ok: bool, where: str) -> None:
        if not ok:
            raise QuantizationError(f"{where}: the quantised model breaks the 32-bit pre-activation bounds "
                                    "of this rnnmcu version", "re-run `rnnmcu convert` to quantise it again")

    def biases_ok(*bs: np.ndarray) -> bool:
        return all(np.max(np.abs(b.astype(np.int64)), initial=0) <= NARROW_BIAS for b in bs)

    def rec(ql: QRecurrent, where: str) -> None:
        ex = max(_narrow_excess(ql.w, amax, ql.mx, ql.shx), _narrow_excess(ql.u, amax, ql.mh, ql.shh))
        if ql.p is not None:
            ex = max(ex, _peephole_excess(ql.p, ql.mp, ql.shp))
        require(ex <= 1 and biases_ok(ql.b, ql.b_rec), where)

    for i, ql in enumerate(q.layers):
        if isinstance(ql, QRecurrent):
            rec(ql, f"layer {i}")
        elif isinstance(ql, QBidirectional):
            rec(ql.forward, f"layer {i} (forward)")
            rec(ql.backward, f"layer {i} (backward)")
        elif isinstance(ql, QDense):
            require(_narrow_excess(ql.w, amax, ql.m, ql.sh) <= 1 and biases_ok(ql.b), f"layer {i}")


def _h_range(layer: ir.Recurrent, stats: float_ref.Stats, tag: str) -> float:
    """Range of the hidden state h (and of what becomes h: activation(c) for LSTM, h~ for GRU)."""
    act = layer.activation
    if layer.kind == "lstm":
        return _out_range(stats, f"{tag}.phi_c", act)
    r = _out_range(stats, f"{tag}.h", act)
    if layer.kind == "gru":
        r = max(r, _out_range(stats, f"{tag}.cand", act))
    return r


def _q_bidirectional(layer: ir.Bidirectional, stats: float_ref.Stats, tag: str, s_x, precision: str,
                     k: int, x_max: int | None = None) -> QBidirectional:
    """Both directions share one h scale, so concatenation needs no rescaling; sum/ave/mul
    requantise the combined value to the calibrated range of the merged output."""
    lo, amax = act_range(precision)
    R_h = max(_h_range(layer.forward, stats, tag + ".f"), _h_range(layer.backward, stats, tag + ".b"))
    s_h = R_h / amax
    fw = _q_recurrent(layer.forward, stats, tag + ".f", s_x, precision, k, s_h=s_h, x_max=x_max)
    bw = _q_recurrent(layer.backward, stats, tag + ".b", s_x, precision, k, s_h=s_h, x_max=x_max)
    mode = layer.merge_mode
    if mode == "concat":
        return QBidirectional(forward=fw, backward=bw, merge_mode=mode, m=0, sh=1, s_y=s_h)
    s_y = max(stats.maxabs.get(f"{tag}.out", 0.0) * HEADROOM, 1e-6) / amax
    real = {"sum": s_h / s_y, "ave": s_h / (2.0 * s_y), "mul": s_h * s_h / s_y}[mode]
    m, sh = quantize_multiplier(real)
    return QBidirectional(forward=fw, backward=bw, merge_mode=mode, m=m, sh=sh, s_y=s_y)


def _q_recurrent(layer: ir.Recurrent, stats: float_ref.Stats, tag: str, s_x, precision: str, k: int,
                 s_h: float | None = None, x_max: int | None = None) -> QRecurrent:
    lo, amax = act_range(precision)
    n, G = layer.units, layer.gates
    act, rec = layer.activation, layer.recurrent_activation
    base = layer.kind
    rec_rows = np.zeros(G * n, dtype=bool)
    if base == "lstm":
        rec_rows[: 2 * n] = True
        rec_rows[3 * n:] = True
    elif base == "gru":
        rec_rows[: 2 * n] = True
    R_rec = _range(stats, f"{tag}.pre_rec", rec) if rec_rows.any() else 1.0
    R_act = _range(stats, f"{tag}.pre_act", act)
    s_pre_rec, s_pre_act = R_rec / INT16_MAX, R_act / INT16_MAX
    s_pre = np.where(rec_rows, s_pre_rec, s_pre_act)
    q = _gate_bits(rec, stats, f"{tag}.gate") if rec_rows.any() else 15

    if base == "lstm":
        R_c = max(stats.maxabs.get(f"{tag}.c", 0.0) * HEADROOM, 1e-6)
        s_c = R_c / INT16_MAX
    else:
        s_c = 0.0
    if s_h is None:
        s_h = _h_range(layer, stats, tag) / amax

    Wq, s_w = quantize_rows(_scaled_rows(layer.W, s_x))
    Uq, s_u = quantize_rows(layer.U)
    # p * c (LSTM, c at s_c) or p * h~ (GRU, h~ at s_h / 2^k) joins the recurrent-gate pre-activation
    pq = s_p = mp = shp = None
    if layer.p is not None:
        pq, s_p = quantize_rows_int16(layer.p)
        s_other = s_c if base == "lstm" else s_h / 2 ** k
    amax_in = -lo
    x_max = amax_in if x_max is None else x_max
    for _ in range(8):
        # widen a pre-activation range whose worst-case terms break the narrow bounds (only for
        # degenerate calibration: a range far below what the weights can produce)
        mx, shx = _multipliers(s_w, s_pre)
        mh, shh = _multipliers(s_u * s_h, s_pre)
        ex = np.maximum(_row_excess(Wq, x_max, mx, shx), _row_excess(Uq, amax_in, mh, shh))
        ex_rec = float(np.max(ex[rec_rows], initial=0.0))
        ex_act = float(np.max(ex[~rec_rows], initial=0.0))
        if pq is not None:
            mp, shp = _multipliers(s_p * s_other, np.full(len(s_p), s_pre_rec))
            ex_rec = max(ex_rec, _peephole_excess(pq, mp, shp))
        if ex_rec <= 1 and ex_act <= 1:
            break
        if ex_rec > 1:
            R_rec *= 2 * ex_rec
        if ex_act > 1:
            R_act *= 2 * ex_act
        s_pre_rec, s_pre_act = R_rec / INT16_MAX, R_act / INT16_MAX
        s_pre = np.where(rec_rows, s_pre_rec, s_pre_act)
    else:  # pragma: no cover - each pass widens by twice the excess
        raise QuantizationError("could not fit the pre-activation ranges to 32-bit sums")
    b = layer.b.astype(np.float64).copy()
    b_rec = np.zeros(G * n)
    if base == "gru":
        if layer.reset_after:
            b[: 2 * n] += layer.b_rec[: 2 * n]
            b_rec[2 * n:] = layer.b_rec[2 * n:]
    bq = _bias(b, s_pre)
    bq_rec = _bias(b_rec, s_pre)
    gate_fn = activations.get(rec)
    act_fn = activations.get(act)
    tab_rec = make_table(gate_fn, s_pre_rec, 2.0 ** -q)
    cs = 0
    if base == "lstm":
        tab_act = make_table(act_fn, s_pre_act, s_c)
        # the table of act(c) spans act's own input range where act saturates: c's range can be
        # many times wider (c sums over steps), and the table's 256 segments would then waste most
        # of their resolution on act's flat ends
        cap = activations.saturates(act)
        if cap is not None and R_c > cap:
            cs = min(int(math.floor(math.log2(R_c / cap))), 14)
        tab_out = make_table(act_fn, s_c / 2 ** cs, s_h / 2 ** k)
    else:
        tab_act = make_table(act_fn, s_pre_act, s_h / 2 ** k)
        tab_out = np.zeros(257, dtype=np.int16)
    return QRecurrent(cell=layer.cell, units=n, input_dim=layer.input_dim, reset_after=bool(layer.reset_after),
                      go_backwards=bool(layer.go_backwards), return_sequences=bool(layer.return_sequences),
                      w=Wq, u=Uq, mx=mx, shx=shx, mh=mh, shh=shh, b=bq, b_rec=bq_rec,
                      tab_rec=tab_rec, tab_act=tab_act, tab_out=tab_out, q=q, k=k,
                      s_x=float(np.max(s_x)), s_h=s_h, s_c=s_c, s_pre_rec=s_pre_rec, s_pre_act=s_pre_act,
                      p=pq, mp=mp, shp=shp, state16=base == "gru" and keeps_c(layer.cell, precision),
                      cs=cs)


def _q_dense(layer: ir.Dense, stats: float_ref.Stats, tag: str, s_x, precision: str, k: int,
             x_max: int | None = None) -> QDense:
    lo, amax = act_range(precision)
    x_max = -lo if x_max is None else x_max
    R_pre = _range(stats, f"{tag}.pre", layer.activation)
    s_pre = R_pre / INT16_MAX
    R_y = _out_range(stats, f"{tag}.out", layer.activation)
    if layer.activation == "linear":
        R_y = R_pre
    s_y = R_y / amax
    Wq, s_w = quantize_rows(_scaled_rows(layer.W, s_x))
    m, sh = _multipliers(s_w, np.full(len(s_w), s_pre))
    ex = _narrow_excess(Wq, x_max, m, sh)
    if ex > 1:  # degenerate calibration: widen the pre-activation range to the narrow bounds
        s_pre *= 2 * ex
        if layer.activation == "linear":
            s_y *= 2 * ex
        m, sh = _multipliers(s_w, np.full(len(s_w), s_pre))
    return QDense(w=Wq, m=m, sh=sh, b=_bias(layer.b, np.full(len(s_w), s_pre)),
                  tab=make_table(activations.get(layer.activation), s_pre, s_y / 2 ** k), k=k,
                  s_x=float(np.max(s_x)), s_pre=s_pre, s_y=s_y)


def int8_scales(model: ir.Model, x: np.ndarray, lengths: np.ndarray | None) -> dict:
    """The int8 scales ``rnnmcu convert`` chooses for ``model`` calibrated on ``x`` (full sequence
    lengths when ``lengths`` is None), as plain data for quantisation-aware training
    (``rnnmcu.trainer.qat`` simulates them): ``s_in`` per input channel and ``in_bits`` (16 for
    16-bit inputs); by layer name, ``s_h`` of each recurrent pass ("<name>/forward" and
    "<name>/backward" for a Bidirectional layer), and ``s_out`` and ``out_bits`` (16 in the
    16-bit head) of each Dense layer, whose output is its pre-activation."""
    q = quantize(model, np.asarray(x, dtype=np.float32), lengths, "int8")
    out: dict = {"s_in": np.asarray(q.s_in, dtype=np.float64), "in_bits": int(q.input_bits),
                 "s_h": {}, "s_out": {}, "out_bits": {}}
    head_from = q.head_from()
    for i, (layer, ql) in enumerate(zip(model.layers, q.layers)):
        if isinstance(ql, QRecurrent):
            out["s_h"][layer.name] = ql.s_h
        elif isinstance(ql, QBidirectional):
            out["s_h"][f"{layer.name}/forward"] = ql.forward.s_h
            out["s_h"][f"{layer.name}/backward"] = ql.backward.s_h
        elif isinstance(ql, QDense) and isinstance(layer, ir.Dense):
            out["s_out"][layer.name] = ql.s_y
            out["out_bits"][layer.name] = 16 if head_from is not None and i >= head_from else 8
    return out
