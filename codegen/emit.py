"""C emitter: a quantised model -> ``<name>_model.h``, ``<name>_model.c`` (const weights, the
caller-owned state type and the streaming API, docs/ARCHITECTURE.md) and ``rnnmcu_app_model.c`` (the
descriptor that binds the model to the firmware app).  The runtime kernels it calls are the
portable C in ``firmware/src``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

import rnnmcu
from rnnmcu import facts, footprint, ir
from rnnmcu.atomic import atomic_file
from rnnmcu.errors import InputError
from rnnmcu.codegen import layout
from rnnmcu.codegen.inspect import trace_layout
from rnnmcu.codegen.quantize import check_narrow
from rnnmcu.codegen.qmodel import QActivation, QBidirectional, QDense, QModel, QRecurrent, QSoftmax

DEFAULT_WINDOW_STEPS = 128
# rnnmcu_cell_t of each IR cell: its kind's enum name in rnnmcu_facts.h
CELL_ENUM = {c.name: f"RNNMCU_CELL_{c.kind.upper()}" for c in facts.CELLS}
MERGE_ENUM = {"concat": "RNNMCU_MERGE_CONCAT", "sum": "RNNMCU_MERGE_SUM", "mul": "RNNMCU_MERGE_MUL",
              "ave": "RNNMCU_MERGE_AVE"}
CTYPE = {"int8": "int8_t", "int16": "int16_t", "float32": "float"}
SFX = {"int8": "s8", "int16": "s16", "float32": "f32"}
PREC_ENUM = {"int8": "RNNMCU_PRECISION_INT8", "int16": "RNNMCU_PRECISION_INT16",
             "float32": "RNNMCU_PRECISION_FLOAT32"}
ELEM_SIZE = {"int8": 1, "int16": 2, "float32": 4}


def act_enum(name: str) -> str:
    if name not in ir.ELEMENTWISE:
        raise ir.IRError(f"activation {name!r} has no C implementation")
    return "RNNMCU_ACT_" + name.upper()


def _fmt_float(v: float) -> str:
    s = repr(float(np.float32(v)))
    if s in ("inf", "-inf", "nan"):
        raise ir.IRError(f"non-finite value {s} in a float array")
    if "e" not in s and "." not in s:
        s += ".0"
    return s + "f"


def c_array(ctype: str, name: str, a: np.ndarray, per_line: int = 16, aligned: bool = False) -> str:
    a = np.asarray(a).ravel()
    if ctype == "float":
        vals = [_fmt_float(v) for v in a]
    elif ctype == "int32_t":
        vals = [f"{int(v)}" if int(v) != -(2 ** 31) else "(-2147483647 - 1)" for v in a]
    else:
        vals = [str(int(v)) for v in a]
    if not vals:
        vals = ["0"]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    body = ",\n    ".join(lines)
    align = " RNNMCU_WEIGHTS_ALIGNED" if aligned else ""
    return f"static const {ctype} {name}[{max(len(a), 1)}]{align} = {{\n    {body}\n}};\n"


@dataclass
class Generated:
    header: str
    source: str
    binding: str
    name: str

    def files(self) -> dict[str, str]:
        return {f"{self.name}_model.h": self.header, f"{self.name}_model.c": self.source,
                "rnnmcu_app_model.c": self.binding}


def _layers(model: ir.Model, q: QModel) -> list:
    return list(model.layers) if q.precision == "float32" else list(q.layers)


def _is_rec(l) -> bool:
    return isinstance(l, (QRecurrent, ir.Recurrent))


def _is_bi(l) -> bool:
    return isinstance(l, (QBidirectional, ir.Bidirectional))


def _directions(i: int, l) -> list[tuple[str, object]]:
    """(state/array suffix, recurrent layer) for each recurrent pass a layer makes."""
    if _is_bi(l):
        return [(f"{i}f", l.forward), (f"{i}b", l.backward)]
    return [(str(i), l)] if _is_rec(l) else []


def _gates(l) -> int:
    return ir.GATES[l.cell]


def _base(cell: str) -> str:
    return facts.CELL[cell].kind


def _step_fn(l, prec: str) -> str:
    """Which rnnmcu_<fn>_step_* a recurrent layer calls: each integer cell form has its own, so that
    a model links only the forms it uses; float32 dispatches in rnnmcu_rnn_step_f32."""
    if prec == "float32":
        return "rnn"
    if l.cell == "peephole_lstm":
        return "peephole_lstm"
    if _base(l.cell) == "gru" and not l.reset_after:
        return "gru_reset_before"
    return _base(l.cell)


def _has_c(l) -> bool:
    """Whether a recurrent pass keeps a state c beside h: an LSTM's cell, an int8 GRU's 16-bit
    state (state16); a float pass when its cell keeps one in float32."""
    return l.has_c if isinstance(l, QRecurrent) else facts.CELL[l.cell].keeps_second_state("float32")


def _out_dim(l) -> int:
    if _is_bi(l):
        return l.output_dim
    if isinstance(l, (QRecurrent, ir.Recurrent)):
        return l.units
    if isinstance(l, QDense):
        return int(l.w.shape[0])
    if isinstance(l, ir.Dense):
        return int(l.W.shape[0])
    return l.dim


def split_shift(sh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NUMERICS.md's requantisation shift ``sh`` as rnnmcu_rq32_le takes it: a left shift
    ``l = max(33 - sh, 0)`` of the accumulator and a right shift ``e = max(sh - 33, 0)`` of the
    product's high word.  ``l`` is capped at 31: the proven bounds (check_narrow) allow ``l = 32``
    only for a row whose accumulator is always 0, where any shift gives 0."""
    sh = np.asarray(sh, dtype=np.int64)
    return np.minimum(np.maximum(33 - sh, 0), 31), np.maximum(sh - 33, 0)


def tiled(l) -> bool:
    """Whether an integer recurrent layer's step runs over unit tiles (rnnmcu.footprint.tiled)."""
    return footprint.tiled(l.cell, l.reset_after)


def tile_order(G: int, n: int) -> np.ndarray:
    """The generated row order of a tiled layer's W, U and row records: unit-major, row G*j + g of
    the emitted arrays is gate g of unit j (row g*n + j of the quantised layer), so that a tile of
    units is one contiguous run of rows."""
    return (np.arange(G)[None, :] * n + np.arange(n)[:, None]).ravel()


scratch_words = footprint.scratch_words  # the state's scratch, sized in one place


def _row_records(name: str, l, order=None) -> str:
    """The rnnmcu_row_q_t records of a quantised recurrent layer's gate rows (in ``order``)."""
    lx, ex = split_shift(l.shx)
    lh, eh = split_shift(l.shh)
    cols = [np.asarray(a) for a in (l.mx, l.mh, l.b, lx, ex, lh, eh)]
    if order is not None:
        cols = [a[order] for a in cols]
    rows = [f"    {{ {int(a)}, {int(c)}, {int(b)}, {int(d)}, {int(e)}, {int(f)}, {int(g)} }},"
            for a, c, b, d, e, f, g in zip(*cols)]
    return (f"static const rnnmcu_row_q_t {name}[{len(rows)}] = {{ /* mx, mh, b, lx, ex, lh, eh */\n"
            + "\n".join(rows) + "\n};\n")


def _rec_decl(p: str, l, prec: str, wide: bool = False) -> str:
    """Weights and the parameter struct of one recurrent pass, named ``p``; ``wide``: W and U in
    the int16 layout of layout.pack_wide."""
    out = []
    if prec == "float32":
        out.append(c_array("float", f"{p}_w", l.W))
        out.append(c_array("float", f"{p}_u", l.U))
        out.append(c_array("float", f"{p}_b", l.b))
        out.append(c_array("float", f"{p}_brec", l.b_rec if _base(l.cell) == "gru" and l.reset_after
                           else np.zeros_like(l.b_rec)))
        if l.p is not None:
            out.append(c_array("float", f"{p}_p", l.p))
        out.append(f"static const rnnmcu_rnn_f32_t {p} = {{ {CELL_ENUM[l.cell]}, {int(l.reset_after)}, "
                   f"{act_enum(l.activation)}, {act_enum(l.recurrent_activation)}, {l.input_dim}, {l.units}, "
                   f"{p}_w, {p}_u, {p}_b, {p}_brec, {f'{p}_p' if l.p is not None else '0'} }};\n\n")
        return "".join(out)
    split = _base(l.cell) == "gru" and not l.reset_after  # U's candidate rows act on r*h: own matrix
    n = l.units
    wt, pk = ("int16_t", layout.pack_wide) if wide else ("int8_t", layout.pack)
    order = tile_order(_gates(l), n) if tiled(l) else None
    w, u = np.asarray(l.w), np.asarray(l.u[: 2 * n] if split else l.u)
    if order is not None:  # (a split GRU is never tiled)
        w, u = w[order], u[order]
    out.append(c_array(wt, f"{p}_w", pk(w), aligned=True))
    out.append(c_array(wt, f"{p}_u", pk(u), aligned=True))
    if split:
        out.append(c_array(wt, f"{p}_u_cand", pk(l.u[2 * n:]), aligned=True))
    out.append(_row_records(f"{p}_rq", l, order))
    pair = _base(l.cell) == "gru" and l.reset_after  # candidate rows keep their recurrent bias apart
    if pair:
        out.append(c_array("int32_t", f"{p}_b_rec", l.b_rec[2 * n:]))
    for arr in ("tab_rec", "tab_act", "tab_out"):
        out.append(c_array("int16_t", f"{p}_{arr}", getattr(l, arr)))
    if l.peephole:
        out.append(c_array("int16_t", f"{p}_p", l.p))
        out.append(c_array("int32_t", f"{p}_mp", l.mp))
        out.append(c_array("int8_t", f"{p}_shp", l.shp))
    peep = f"{p}_p, {p}_mp, {p}_shp" if l.peephole else "0, 0, 0"
    unit_gate = int(np.min(l.tab_rec) >= 0 and np.max(l.tab_rec) <= 2 ** l.q)  # GRU's blend fits int32
    ptrs = f"{p}_w, {p}_u, {f'{p}_u_cand' if split else '0'}"
    weights = f"0, 0, 0, {ptrs}" if wide else f"{ptrs}, 0, 0, 0"  # (w, u, u_cand), then the wide three
    out.append(f"static const rnnmcu_rnn_q_t {p} = {{ {CELL_ENUM[l.cell]}, {int(l.reset_after)}, {l.q}, {l.k}, "
               f"{unit_gate}, {int(l.state16)}, {l.cs}, "
               f"{l.input_dim}, {l.units}, {weights}, "
               f"{p}_rq, {f'{p}_b_rec' if pair else '0'}, {p}_tab_rec, {p}_tab_act, {p}_tab_out, {peep} }};\n\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Per-layer emitters (hls4ml's pattern): how each IR layer type appears in the generated C — its
# constants, its fields in <name>_state_t, its reset, the call that runs it and the scratch it
# needs.  generate_sources walks the layers and asks each one's emitter; a new layer type is a
# new emitter registered for its IR classes (float and quantised).
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Emit:
    """What a layer's emitter needs to know of the whole model."""
    name: str               # the model's C prefix
    prec: str               # int8, int16 or float32
    wide: bool = False      # recurrent weights in the int16 layout (--wide-weights)
    wide_in: bool = False   # an int8 model whose inputs are 16-bit: its first layer takes them
    head_from: int | None = None  # an int8 model's 16-bit head: the index of its first layer

    @property
    def sfx(self) -> str:
        return SFX[self.prec]

    @property
    def wsfx(self) -> str:  # the wide layout's step functions: rnnmcu_<cell>_step_w16_<sfx>
        return "w16_" if self.wide else ""

    def layer_sfx(self, i) -> str:
        """The kernel suffix of layer i: the head's layers run the int16 kernels."""
        return "s16" if self.head_from is not None and isinstance(i, int) and i >= self.head_from else self.sfx

    def first(self, i, step: str) -> bool:
        """Whether layer (or direction) i multiplies the model's 16-bit inputs."""
        return self.wide_in and str(i) in ("0", "0f", "0b") and step == "step"


class LayerEmitter:
    """The C of one IR layer type.  ``i`` is the layer's index (a direction's: "0f", "0b"), which
    names its constants (<name>_l<i>) and state fields (s->l<i>_h)."""

    def consts(self, e: Emit, i, l) -> str:
        return ""

    def state(self, e: Emit, i, l) -> list[str]:
        return []

    def reset(self, e: Emit, i, l) -> list[str]:
        return []

    def scratch(self, e: Emit, l) -> int:
        return 0

    def call(self, e: Emit, i, l, src: str, dst: str, step: str = "step") -> str:
        raise ir.IRError(f"no C call for layer {l!r}")


EMITTERS: dict[type, LayerEmitter] = {}


def register(*types: type):
    """Class decorator: the emitter of these IR layer classes."""
    def deco(cls: type[LayerEmitter]) -> type[LayerEmitter]:
        for t in types:
            EMITTERS[t] = cls()
        return cls
    return deco


def emitter_of(l) -> LayerEmitter:
    for t in type(l).__mro__:
        if t in EMITTERS:
            return EMITTERS[t]
    raise ir.IRError(f"no C emitter for layer {type(l).__name__}")


@register(QRecurrent, ir.Recurrent)
class RecurrentEmitter(LayerEmitter):
    def consts(self, e, i, l):
        return _rec_decl(f"{e.name}_l{i}", l, e.prec, e.wide)

    def state(self, e, i, l):
        out = [f"    {CTYPE[e.prec]} l{i}_h[{l.units}];\n"]
        if _has_c(l):
            out.append(f"    {'float' if e.prec == 'float32' else 'int16_t'} l{i}_c[{l.units}];\n")
        return out

    def reset(self, e, i, l):
        return [f"    memset(s->l{i}_h, 0, sizeof s->l{i}_h);\n"] + \
            ([f"    memset(s->l{i}_c, 0, sizeof s->l{i}_c);\n"] if _has_c(l) else [])

    def scratch(self, e, l):
        return scratch_words(l, e.prec)

    def call(self, e, i, l, src, dst, step="step"):
        """A recurrent layer's ``step`` function is step, or step_px (its input is the requantised
        W x in ``src``); with 16-bit inputs the first layer's is step_x16."""
        cc = f"s->l{i}_c" if _has_c(l) else "0"
        fn = "step_x16" if e.first(i, step) else step
        return f"rnnmcu_{_step_fn(l, e.prec)}_{fn}_{e.wsfx}{e.sfx}(&{e.name}_l{i}, {src}, s->l{i}_h, {cc}, s->scratch);"


@register(QBidirectional, ir.Bidirectional)
class BidirectionalEmitter(LayerEmitter):
    """Its two directions are recurrent layers "<i>f" and "<i>b"; the window code runs them and
    merges their outputs (rnnmcu_merge_<sfx>, a copy for concat)."""

    def consts(self, e, i, l):
        out = "".join(EMITTERS[type(d)].consts(e, s, d) for s, d in _directions(i, l))
        if isinstance(l, QBidirectional) and l.merge_mode != "concat":
            out += (f"static const rnnmcu_merge_q_t {e.name}_l{i}_merge = {{ {MERGE_ENUM[l.merge_mode]}, "
                    f"{l.units}, {l.m}, {l.sh} }};\n\n")
        return out

    def state(self, e, i, l):
        return [f for s, d in _directions(i, l) for f in EMITTERS[type(d)].state(e, s, d)]

    def reset(self, e, i, l):
        return [f for s, d in _directions(i, l) for f in EMITTERS[type(d)].reset(e, s, d)]

    def scratch(self, e, l):
        return max(scratch_words(d, e.prec) for _, d in _directions(0, l))


@register(QDense)
class DenseEmitter(LayerEmitter):
    def consts(self, e, i, l):
        p = f"{e.name}_l{i}"
        out = [c_array("int8_t", f"{p}_w", layout.pack(l.w), aligned=True)]
        for arr, ct in (("m", "int32_t"), ("sh", "int8_t"), ("b", "int32_t"), ("tab", "int16_t")):
            out.append(c_array(ct, f"{p}_{arr}", getattr(l, arr)))
        out.append(f"static const rnnmcu_dense_q_t {p} = {{ {l.w.shape[1]}, {l.w.shape[0]}, {l.k}, "
                   f"{p}_w, {p}_m, {p}_sh, {p}_b, {p}_tab }};\n\n")
        return "".join(out)

    def scratch(self, e, l):
        return _out_dim(l)

    def call(self, e, i, l, src, dst, step="step"):
        p = f"&{e.name}_l{i}"
        if e.first(i, step):  # the int16 product of the 16-bit inputs, narrowed to int8
            return (f"rnnmcu_dense_s16({p}, {src}, s->wide, s->scratch);\n"
                    f"    rnnmcu_narrow_s16_s8(s->wide, {_out_dim(l)}, {dst});")
        return f"rnnmcu_dense_{e.layer_sfx(i)}({p}, {src}, {dst}, s->scratch);"


@register(ir.Dense)
class FloatDenseEmitter(LayerEmitter):
    def consts(self, e, i, l):
        p = f"{e.name}_l{i}"
        return (c_array("float", f"{p}_w", l.W) + c_array("float", f"{p}_b", l.b)
                + f"static const rnnmcu_dense_f32_t {p} = {{ {l.input_dim}, {l.output_dim}, "
                  f"{act_enum(l.activation)}, {p}_w, {p}_b }};\n\n")

    def scratch(self, e, l):
        return _out_dim(l)

    def call(self, e, i, l, src, dst, step="step"):
        return f"rnnmcu_dense_{e.sfx}(&{e.name}_l{i}, {src}, {dst});"


@register(QActivation)
class ActivationEmitter(LayerEmitter):
    def consts(self, e, i, l):
        p = f"{e.name}_l{i}"
        return (c_array("int16_t", f"{p}_tab", l.tab)
                + f"static const rnnmcu_act_q_t {p} = {{ {l.dim}, {l.kin}, {l.k}, {p}_tab }};\n\n")

    def call(self, e, i, l, src, dst, step="step"):
        return f"rnnmcu_activation_{e.layer_sfx(i)}(&{e.name}_l{i}, {src}, {dst});"


@register(ir.Activation)
class FloatActivationEmitter(LayerEmitter):
    def call(self, e, i, l, src, dst, step="step"):
        return f"rnnmcu_activation_f32({act_enum(l.activation)}, {l.dim}, {src}, {dst});"


@register(QSoftmax)
class SoftmaxEmitter(LayerEmitter):
    def consts(self, e, i, l):
        p = f"{e.name}_l{i}"
        return (c_array("int16_t", f"{p}_tab", l.tab)
                + f"static const rnnmcu_softmax_q_t {p} = {{ {l.dim}, {l.kin}, {l.qo}, {p}_tab }};\n\n")

    def call(self, e, i, l, src, dst, step="step"):
        return f"rnnmcu_softmax_{e.layer_sfx(i)}(&{e.name}_l{i}, {src}, {dst});"


@register(ir.Softmax)
class FloatSoftmaxEmitter(LayerEmitter):
    def call(self, e, i, l, src, dst, step="step"):
        return f"rnnmcu_softmax_f32({l.dim}, {src}, {dst});"


def projection_rows(model: ir.Model, q: QModel) -> int:
    """G*units of the layer whose input projections run() can compute for a block of steps at once
    (rnnmcu build --input-projections): the first layer of a model that steps, when it is a tiled
    integer recurrent layer.  Raises InputError, naming why, for any other model."""
    why = None
    if q.precision == "float32":
        why = "a float32 model has no integer projections to hoist"
    elif model.needs_window:
        why = "this model runs layer by layer over a whole window (Bidirectional or go_backwards)"
    elif not isinstance(q.layers[0], QRecurrent):
        why = f"its first layer is {type(model.layers[0]).__name__}, not a recurrent layer"
    elif not tiled(q.layers[0]):
        why = "its first layer is a GRU with reset_after=False, whose step is not tiled"
    if why:
        raise InputError(f"--input-projections applies to a model whose first layer is an integer "
                         f"SimpleRNN, LSTM or GRU (reset_after=True) that steps: {why}",
                         "leave --input-projections out")
    l0 = q.layers[0]
    return _gates(l0) * l0.units


def generate_sources(model: ir.Model, q: QModel, *, max_steps: int | None = None,
                     wide: bool = False, proj_steps: int = 0, bench_run: bool = False,
                     trace: bool = False) -> Generated:
    """The model's C.  ``wide``: recurrent weights in the int16 layout (twice their flash, for the
    Cortex-M DSP kernel that then needs no SXTB16 on weights; rnnmcu build --wide-weights).
    ``proj_steps``: run() computes the first layer's input projections (requantised W x plus bias)
    for blocks of that many steps before stepping through them (projection_rows; 0: off), for
    proj_steps * G*units * 4 bytes more state (rnnmcu build --input-projections); such a build's
    BENCH times run(), as ``bench_run`` makes any build's (for benchmarks that compare the two).
    ``trace``: step() tells the runtime which layer runs and records each layer's outputs for the
    TRACE debug build (firmware/src/rnnmcu_trace.h; the hooks are empty unless RNNMCU_TRACE)."""
    name = model.name
    prec = q.precision
    if not 0 <= proj_steps <= 4096:
        raise InputError(f"--input-projections {proj_steps}: the block must be 1..4096 steps (0: off)",
                         "choose a block of a few steps, such as 8 or 16")
    proj_rows = projection_rows(model, q) if proj_steps else 0
    if trace and (prec == "float32" or model.needs_window):
        raise InputError("a TRACE build records an integer model's steps: "
                         + ("a float32 model has none" if prec == "float32" else
                            "this model runs whole windows (Bidirectional or go_backwards), not steps"),
                         "inspect an int8 or int16 model that streams, or inspect on the host only")
    if wide and prec == "float32":
        raise InputError("--wide-weights stores int8 weights as int16 for the integer kernels; "
                         "a float32 model has float weights",
                         "leave --wide-weights out, or convert with --precision int8 or int16")
    TB_ = CTYPE[prec]  # the body's activations (recurrent layers and the layers before them)
    sfx = SFX[prec]
    # an int8 model's head (the layers after the last recurrent one) and outputs are 16-bit
    # (NUMERICS.md, "16-bit head"): the int16 kernels on a widened copy of the body's output
    head_from = q.head_from() if prec != "float32" else None
    T_ = "int16_t" if head_from is not None else TB_  # the model's outputs
    # an int8 model whose inputs are int16 (NUMERICS.md, "Wide inputs"): its first layer takes the
    # 16-bit product (the step_x16 steps, or rnnmcu_dense_s16 and a narrowing)
    wide_in = prec == "int8" and q.input_bits == 16
    TI_ = "int16_t" if wide_in else TB_
    wsfx = "w16_" if wide else ""  # the wide layout's step functions: rnnmcu_<cell>_step_w16_<sfx>
    U = name.upper()
    if prec != "float32":
        check_narrow(q)
    layers = _layers(model, q)
    window = model.needs_window
    seq_out = model.output_sequence
    if window:
        steps = int(max_steps or model.max_steps or DEFAULT_WINDOW_STEPS)
    else:
        steps = int(max_steps or 65535)
    steps = max(1, min(steps, 65535))
    proj_steps = min(proj_steps, steps)  # a block longer than the longest window only costs RAM
    l0 = layers[0]
    wide_dense = _out_dim(l0) if wide_in and isinstance(l0, QDense) else 0
    F, D = model.input_dim, model.output_dim
    head = [] if head_from is None else list(range(head_from, len(layers)))
    head_in = _out_dim(layers[head_from - 1]) if head_from is not None else 0
    head_w = max([head_in] + [_out_dim(layers[i]) for i in head])
    maxw = max([F] + [_out_dim(l) for l in layers])
    last_rec = max(i for i, l in enumerate(layers) if _is_rec(l) or _is_bi(l))
    e = Emit(name=name, prec=prec, wide=wide, wide_in=wide_in, head_from=head_from)
    scratch = max(emitter_of(l).scratch(e, l) for l in layers)

    banner = (f"/* Generated by rnnmcu {rnnmcu.__version__} — do not edit.\n"
              f" * model: {name}   precision: {prec}   hash: {q.hash}\n"
              f" * source: {model.source or 'n/a'} */\n")

    # ---------------- header ----------------
    h = [banner, f"#ifndef RNNMCU_{U}_MODEL_H\n#define RNNMCU_{U}_MODEL_H\n\n#include <stdint.h>\n\n"
         + ('#include "rnnmcu_kernels.h" /* RNNMCU_XBUF_WORDS */\n\n' if prec == "int8" else ""),
         '#ifdef __cplusplus\nextern "C" {\n#endif\n\n',
         f"#define RNNMCU_{U}_INPUT_DIM {F}\n",
         f"#define RNNMCU_{U}_OUTPUT_DIM {D}\n",
         f"#define RNNMCU_{U}_MAX_STEPS {steps}\n",
         f"#define RNNMCU_{U}_PRECISION \"{prec}\"\n",
         f"#define RNNMCU_{U}_HASH 0x{q.hash[:8]}u\n",
         f"#define RNNMCU_{U}_HASH_STR \"{q.hash}\"\n",
         f"#define RNNMCU_{U}_OUTPUT_SEQUENCE {int(seq_out)} /* run() writes T * OUTPUT_DIM values */\n",
         f"#define RNNMCU_{U}_WINDOW_ONLY {int(window)} /* 1: no {name}_step(); use {name}_run() */\n",
         f"#define RNNMCU_{U}_MASKING {int(model.mask_value is not None)} /* 1: value masking (a Keras "
         f"Masking layer): {name}_quantize_input() returns 1 for a step to skip; 0: every step runs */\n",
         f"#define RNNMCU_{U}_WIDE_WEIGHTS {int(wide)} /* 1: recurrent weights stored as int16 (--wide-weights) */\n",
         f"#define RNNMCU_{U}_INPUT_PROJECTIONS {proj_steps} /* run() computes the first layer's W x "
         f"this many steps at a time (--input-projections; 0: off) */\n",
         f"#define RNNMCU_{U}_OUTPUT_SCALE {_fmt_float(q.s_out)} /* real output = value * scale */\n",
         f"#define RNNMCU_{U}_INPUT_BITS {32 if prec == 'float32' else q.input_bits} /* the width of "
         f"the model's input values ({name}_input_t) */\n\n",
         f"typedef {T_} {name}_value_t; /* the model's outputs */\n",
         f"typedef {TI_} {name}_input_t; /* the model's inputs, from {name}_quantize_input() */\n\n",
         "typedef struct {\n"]
    for i, l in enumerate(layers):
        h += emitter_of(l).state(e, i, l)
    if prec == "int8":
        # where the runtime widens int8 products to int16 (Xtensa: rnnmcu_kernels.h, RNNMCU_S8_VIA_S16),
        # the widened vector follows a step's own scratch words
        # (a tiled step widens x and h together; the untiled GRU one vector at a time)
        widest = max([d.input_dim + d.units + 1 if tiled(d) else max(d.input_dim, d.units)
                      for l in layers for _, d in _directions(0, l)]
                     + [l.w.shape[1] for l in layers if isinstance(l, QDense)] or [0])
        h.append(f"    int32_t scratch[{scratch} + RNNMCU_XBUF_WORDS({widest})];\n")
    else:
        h.append(f"    {'float' if prec == 'float32' else 'int32_t'} scratch[{scratch}];\n")
    h.append(f"    {TB_} buf[2][{maxw}];\n")
    if head:  # (a model with no head widens its outputs straight into y)
        h.append(f"    int16_t hbuf[2][{head_w}]; /* the 16-bit head: its input (widened) and outputs */\n")
    if proj_steps:
        h.append(f"    int32_t proj[{proj_steps * proj_rows}]; /* run(): the first layer's requantised W x "
                 f"for {proj_steps} steps */\n")
    if wide_dense:
        h.append(f"    int16_t wide[{wide_dense}]; /* the first (Dense) layer's output before it is "
                 f"narrowed to int8 */\n")
    if window:
        h.append(f"    {TB_} seq[2][{steps * maxw}];\n")
    h.append(f"}} {name}_state_t;\n\n")
    h.append(f"/* Zero the recurrent state. */\nvoid {name}_reset({name}_state_t *s);\n")
    if not window:
        h.append(f"/* One timestep: x[{F}] -> y[{D}] (the model output if the window ended here). Returns 0. */\n"
                 f"int {name}_step({name}_state_t *s, const {TI_} *x, {T_} *y);\n")
    h.append(f"/* A whole window x[T][{F}] from a zero state -> y[{D}]"
             f"{' per step (y[T][%d])' % D if seq_out else ''}. Returns 0, or RNNMCU_ERR_STEPS. */\n"
             f"int {name}_run({name}_state_t *s, const {TI_} *x, uint16_t T, {T_} *y);\n")
    h.append(f"/* Sensor units -> model input (standardisation folded in). Returns 1 when the model masks\n"
             f" * by value (RNNMCU_{U}_MASKING) and the sample equals the mask value on every channel:\n"
             f" * the caller skips that step; else 0. */\n"
             f"int {name}_quantize_input(const float *x, {TI_} *q);\n\n")
    h.append('#ifdef __cplusplus\n}\n#endif\n#endif\n')

    # ---------------- source ----------------
    c = [banner, f'#include <string.h>\n#include <math.h>\n\n#include "{name}_model.h"\n#include "rnnmcu_kernels.h"\n\n']
    for i, l in enumerate(layers):
        c.append(emitter_of(l).consts(e, i, l))
    c.append(c_array("float", f"{name}_in_mean", q.in_mean))
    c.append(c_array("float", f"{name}_in_inv", q.in_inv))
    if model.mask_value is not None:
        c.append(c_array("float", f"{name}_mask", model.mask_value))

    def call(i, l, src: str, dst: str, step: str = "step") -> str:
        return emitter_of(l).call(e, i, l, src, dst, step)

    # reset
    c.append(f"void {name}_reset({name}_state_t *s)\n{{\n")
    for i, l in enumerate(layers):
        c += emitter_of(l).reset(e, i, l)
    c.append("}\n\n")

    if not window:
        # one step through the whole stack; head=0 stops after the last recurrent layer; the _px
        # twin takes the first layer's W x from run()'s projections
        def forward(fn: str, px: bool) -> None:
            first = "int32_t *px" if px else f"const {TI_} *x"
            c.append(f"static void {name}_{fn}({name}_state_t *s, {first}, {T_} *y, int head)\n{{\n")
            src, b = "px" if px else "x", 0
            tr = trace and not px

            def traced(i: int, l, out: str) -> None:
                if tr:  # the layer's own output: the last part of its TRACE values
                    _, off, count = trace_layout(l)[-1]
                    c.append(f"    RNNMCU_TRACE_VEC({off}u, {out}, {count}u);\n")

            for i, l in enumerate(layers):
                if head_from is not None and i == head_from:  # the 16-bit head reads a widened copy
                    c.append(f"    rnnmcu_widen_s8_s16({src}, {head_in}, s->hbuf[0]);\n")
                    src, b = "s->hbuf[0]", 1
                if tr:
                    c.append(f"    RNNMCU_TRACE_LAYER({i});\n")
                if _is_rec(l):
                    c.append(f"    {call(i, l, src, '', 'step_px' if px and i == 0 else 'step')}\n")
                    src = f"s->l{i}_h"
                    traced(i, l, src)
                    if i == last_rec and i < len(layers) - 1:
                        c.append("    if (!head)\n        return;\n")
                else:
                    dst = f"s->{'hbuf' if head_from is not None and i >= head_from else 'buf'}[{b}]"
                    c.append(f"    {call(i, l, src, dst)}\n")
                    traced(i, l, dst)
                    src, b = dst, b ^ 1
            if tr:
                c.append("    RNNMCU_TRACE_LAYER(0xFE);\n")
            if head_from is not None and head_from == len(layers):  # no head: the outputs, widened
                c.append(f"    if (head)\n        rnnmcu_widen_s8_s16({src}, {D}, y);\n}}\n\n")
            else:
                c.append(f"    if (head)\n        memcpy(y, {src}, sizeof(*y) * {D});\n}}\n\n")

        forward("forward", False)
        c.append(f"int {name}_step({name}_state_t *s, const {TI_} *x, {T_} *y)\n{{\n"
                 f"    {name}_forward(s, x, y, 1);\n    return RNNMCU_OK;\n}}\n\n")
        if proj_steps:
            forward("forward_px", True)
            B = proj_steps
            yt = f"y + (t0 + t) * {D}u, 1" if seq_out else "y, t0 + t + 1u == T"
            c.append(f"int {name}_run({name}_state_t *s, const {TI_} *x, uint16_t T, {T_} *y)\n{{\n"
                     f"    uint32_t t0, t;\n    if ({_steps_check(steps)})\n        return RNNMCU_ERR_STEPS;\n"
                     f"    {name}_reset(s);\n"
                     f"    /* the first layer's W x for {B} steps at a time, then those steps */\n"
                     f"    for (t0 = 0; t0 < T; t0 += {B}u) {{\n"
                     f"        const uint32_t nb = T - t0 < {B}u ? T - t0 : {B}u;\n"
                     f"        rnnmcu_rnn_proj_{wsfx}{'s16' if wide_in else sfx}(&{name}_l0, x + t0 * {F}u, (uint16_t)nb, s->proj, s->scratch);\n"
                     f"        for (t = 0; t < nb; t++)\n"
                     f"            {name}_forward_px(s, s->proj + t * {proj_rows}u, {yt});\n"
                     f"    }}\n    return RNNMCU_OK;\n}}\n\n")
        else:
            c.append(f"int {name}_run({name}_state_t *s, const {TI_} *x, uint16_t T, {T_} *y)\n{{\n"
                     f"    uint16_t t;\n    if ({_steps_check(steps)})\n        return RNNMCU_ERR_STEPS;\n"
                     f"    {name}_reset(s);\n    for (t = 0; t < T; t++)\n")
            if seq_out:
                c.append(f"        {name}_forward(s, x + (uint32_t)t * {F}u, y + (uint32_t)t * {D}u, 1);\n")
            else:
                c.append(f"        {name}_forward(s, x + (uint32_t)t * {F}u, y, t + 1u == T);\n")
            c.append("    return RNNMCU_OK;\n}\n\n")
    else:
        # layer by layer over the window (backward passes need the whole window)
        c.append(f"int {name}_run({name}_state_t *s, const {TI_} *x, uint16_t T, {T_} *y)\n{{\n"
                 f"    uint16_t t;\n    if ({_steps_check(steps)})\n        return RNNMCU_ERR_STEPS;\n"
                 f"    {name}_reset(s);\n")
        src, src_dim, is_seq, sb, bb = "x", F, True, 0, 0
        done = False
        for i, l in enumerate(layers):
            od = _out_dim(l)
            if head_from is not None and i == head_from:
                # the 16-bit head, step by step (or once): a widened copy of the body's output through
                # the int16 kernels, into y
                def head_code(at: str, y_at: str) -> str:
                    out = [f"rnnmcu_widen_s8_s16({at}, {src_dim}, s->hbuf[0]);"]
                    cur, hb = "s->hbuf[0]", 1
                    for j in range(head_from, len(layers)):
                        out.append(call(j, layers[j], cur, f"s->hbuf[{hb}]"))
                        cur, hb = f"s->hbuf[{hb}]", hb ^ 1
                    out.append(f"memcpy({y_at}, {cur}, sizeof(*y) * {D}u);")
                    return out
                if is_seq:
                    body = head_code(f"{src} + (uint32_t)t * {src_dim}u", f"y + (uint32_t)t * {D}u")
                    c.append("    for (t = 0; t < T; t++) {\n" + "".join(f"        {x}\n" for x in body) + "    }\n")
                else:
                    c.append("".join(f"    {x}\n" for x in head_code(src, "y")))
                done = True
                break
            if _is_rec(l):
                gb = bool(l.go_backwards)
                xt = f"{src} + (uint32_t)({'T - 1u - t' if gb else 't'}) * {src_dim}u"
                c.append(f"    for (t = 0; t < T; t++) {{\n        {call(i, l, xt, '')}\n")
                if l.return_sequences:
                    dst = f"s->seq[{sb}]"
                    c.append(f"        memcpy({dst} + (uint32_t)t * {od}u, s->l{i}_h, sizeof(s->l{i}_h));\n")
                    c.append("    }\n")
                    src, sb = dst, sb ^ 1
                else:
                    c.append("    }\n")
                    src, is_seq = f"s->l{i}_h", False
            elif _is_bi(l):
                n = l.forward.units
                concat = l.merge_mode == "concat"

                def merge(a: str, b: str, y: str) -> str:
                    if prec == "float32":
                        return f"rnnmcu_merge_f32({MERGE_ENUM[l.merge_mode]}, {n}, {a}, {b}, {y});"
                    return f"rnnmcu_merge_{sfx}(&{name}_l{i}_merge, {a}, {b}, {y});"

                fw = call(f"{i}f", l.forward, f"{src} + (uint32_t)t * {src_dim}u", "")
                bw = call(f"{i}b", l.backward, f"{src} + (uint32_t)(T - 1u - t) * {src_dim}u", "")
                if l.return_sequences:  # the backward output of step T-1-t belongs to time T-1-t
                    dst = f"s->seq[{sb}]"
                    at = f"{dst} + (uint32_t)(T - 1u - t) * {od}u"
                    c.append(f"    for (t = 0; t < T; t++) {{\n        {fw}\n"
                             f"        memcpy({dst} + (uint32_t)t * {od}u, s->l{i}f_h, sizeof(s->l{i}f_h));\n    }}\n")
                    c.append(f"    for (t = 0; t < T; t++) {{\n        {bw}\n        " +
                             (f"memcpy({at} + {n}u, s->l{i}b_h, sizeof(s->l{i}b_h));" if concat
                              else merge(at, f"s->l{i}b_h", at)) + "\n    }\n")
                    src, sb = dst, sb ^ 1
                else:
                    dst = f"s->buf[{bb}]"
                    c.append(f"    for (t = 0; t < T; t++) {{\n        {fw}\n        {bw}\n    }}\n")
                    if concat:
                        c.append(f"    memcpy({dst}, s->l{i}f_h, sizeof(s->l{i}f_h));\n"
                                 f"    memcpy({dst} + {n}u, s->l{i}b_h, sizeof(s->l{i}b_h));\n")
                    else:
                        c.append(f"    {merge(f's->l{i}f_h', f's->l{i}b_h', dst)}\n")
                    src, bb, is_seq = dst, bb ^ 1, False
            elif is_seq:
                dst = f"s->seq[{sb}]"
                c.append(f"    for (t = 0; t < T; t++)\n        "
                         f"{call(i, l, f'{src} + (uint32_t)t * {src_dim}u', f'{dst} + (uint32_t)t * {od}u')}\n")
                src, sb = dst, sb ^ 1
            else:
                dst = f"s->buf[{bb}]"
                c.append(f"    {call(i, l, src, dst)}\n")
                src, bb = dst, bb ^ 1
            src_dim = od
        n_out = f"(uint32_t)T * {D}u" if is_seq else f"{D}u"
        if done:
            c.append("    return RNNMCU_OK;\n}\n\n")
        elif head_from is not None:  # no head layers: the body's output, widened
            c.append(f"    rnnmcu_widen_s8_s16({src}, {n_out}, y);\n    return RNNMCU_OK;\n}}\n\n")
        else:
            c.append(f"    memcpy(y, {src}, sizeof(*y) * {n_out});\n    return RNNMCU_OK;\n}}\n\n")

    # quantize_input
    c.append(f"int {name}_quantize_input(const float *x, {TI_} *q)\n{{\n    int i, masked = "
             f"{1 if model.mask_value is not None else 0};\n    for (i = 0; i < {F}; i++) {{\n"
             f"        float v = (x[i] - {name}_in_mean[i]) * {name}_in_inv[i];\n")
    if model.mask_value is not None:
        c.append(f"        if (x[i] != {name}_mask[i])\n            masked = 0;\n")
    if prec == "float32":
        c.append("        q[i] = v;\n")
    else:
        lo, hi = q.input_range
        c.append(f"        if (!(v < {hi}.0f))\n            v = {hi}.0f;\n"
                 f"        if (!(v > {lo}.0f))\n            v = {lo}.0f;\n"
                 f"        q[i] = ({TI_})rintf(v);\n")
    c.append("    }\n    return masked;\n}\n")

    # ---------------- app binding ----------------
    flags = ["RNNMCU_MODEL_WINDOW_ONLY" if window else None,
             "RNNMCU_MODEL_OUTPUT_SEQUENCE" if seq_out else None,
             "RNNMCU_MODEL_MASKING" if model.mask_value is not None else None,
             "RNNMCU_MODEL_BENCH_RUN" if proj_steps or bench_run else None,
             "RNNMCU_MODEL_INPUT16" if wide_in else None]
    flags_s = " | ".join(f for f in flags if f) or "0"
    bnd = [banner, f'#include "{name}_model.h"\n#include "rnnmcu_model_iface.h"\n\n',
           f"static {name}_state_t rnnmcu_app_state;\n\n",
           f"static void rnnmcu_app_reset(void *s)\n{{\n    {name}_reset(({name}_state_t *)s);\n}}\n\n"]
    if not window:
        bnd.append(f"static int rnnmcu_app_step(void *s, const void *x, void *y)\n{{\n"
                   f"    return {name}_step(({name}_state_t *)s, (const {TI_} *)x, ({T_} *)y);\n}}\n\n")
    bnd.append(f"static int rnnmcu_app_run(void *s, const void *x, uint16_t T, void *y)\n{{\n"
               f"    return {name}_run(({name}_state_t *)s, (const {TI_} *)x, T, ({T_} *)y);\n}}\n\n")
    bnd.append("const rnnmcu_model_desc_t rnnmcu_app_model = {\n"
               f"    .name = \"{name}\",\n    .hash = RNNMCU_{U}_HASH,\n"
               f"    .input_dim = {F},\n    .output_dim = {D},\n    .max_steps = {steps},\n"
               f"    .precision = {PREC_ENUM[prec]},\n    .elem_size = {2 if head_from is not None else ELEM_SIZE[prec]},\n"
               f"    .in_elem_size = {2 if wide_in else ELEM_SIZE[prec]},\n"
               f"    .flags = {flags_s},\n    .state = &rnnmcu_app_state,\n"
               f"    .reset = rnnmcu_app_reset,\n"
               f"    .step = {'0' if window else 'rnnmcu_app_step'},\n    .run = rnnmcu_app_run,\n}};\n")
    return Generated(header="".join(h), source="".join(c), binding="".join(bnd), name=name)


def _steps_check(steps: int) -> str:
    return "T == 0" if steps >= 65535 else f"T == 0 || T > {steps}u"


def write_atomic(path: str, text: str) -> None:
    with atomic_file(path, "w", suffix=os.path.splitext(path)[1]) as fh:
        fh.write(text)


def generate(model: ir.Model, q: QModel, out_dir: str, *, max_steps: int | None = None,
             wide: bool = False, proj_steps: int = 0, bench_run: bool = False, trace: bool = False) -> list[str]:
    """Write the generated model files into ``out_dir``; returns their paths."""
    g = generate_sources(model, q, max_steps=max_steps, wide=wide, proj_steps=proj_steps, bench_run=bench_run,
                         trace=trace)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for fname, text in g.files().items():
        p = os.path.join(out_dir, fname)
        write_atomic(p, text)
        paths.append(p)
    return paths


def runtime_dir() -> str:
    """Folder of the portable runtime sources (firmware/src) inside the installed package."""
    from importlib import resources

    return str(resources.files("rnnmcu.firmware") / "src")
