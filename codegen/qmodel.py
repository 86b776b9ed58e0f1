"""The quantised model: what ``rnnmcu convert`` writes and what the integer reference and the C
emitter read.  The fixed-point scheme is specified in ``codegen/NUMERICS.md``.

A ``.rnnmcu`` file is the float IR (:mod:`rnnmcu.ir`) plus an ``extra`` section holding one
:class:`QModel` (the precision, the input quantisation, and one Q-layer per IR layer).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from rnnmcu import facts, ir

PRECISIONS = ("int8", "int16", "float32")
TABLE_SIZE = 257  # 256 segments over the int16 input range, linear interpolation


def keeps_c(cell: str, precision: str) -> bool:
    """Whether a recurrent pass keeps a second state c beside h: an LSTM's cell (int16, or float),
    and an int8 GRU's 16-bit state (QRecurrent.state16, NUMERICS.md)."""
    return facts.CELL[cell].keeps_second_state(precision)  # the cell table: rnnmcu/facts.py


def act_range(precision: str) -> tuple[int, int]:
    """Range of the activation type between layers (int8 or int16)."""
    return (-128, 127) if precision == "int8" else (-32768, 32767)


@dataclass
class QRecurrent:
    cell: str
    units: int
    input_dim: int
    reset_after: bool
    go_backwards: bool
    return_sequences: bool
    w: np.ndarray        # int8 (G*n, in)
    u: np.ndarray        # int8 (G*n, n)
    mx: np.ndarray       # int32 (G*n) requantisation multipliers, input side
    shx: np.ndarray      # int32 (G*n) and their right shifts
    mh: np.ndarray       # int32 (G*n) recurrent side
    shh: np.ndarray      # int32 (G*n)
    b: np.ndarray        # int32 (G*n) bias in the pre-activation domain
    b_rec: np.ndarray    # int32 (G*n) recurrent bias (GRU reset_after candidate rows), else 0
    tab_rec: np.ndarray  # int16 (257) recurrent activation: pre_rec -> gate (scale 2^-q)
    tab_act: np.ndarray  # int16 (257) activation on the candidate: pre_act -> LSTM c / others h*2^k
    tab_out: np.ndarray  # int16 (257) LSTM only: c -> activation(c) at scale s_h / 2^k
    q: int               # gate fractional bits
    k: int               # extra fractional bits of table outputs that become h (8 for int8, 0 for int16)
    s_x: float
    s_h: float
    s_c: float
    s_pre_rec: float
    s_pre_act: float
    p: np.ndarray | None = None    # int16 (P, n) peepholes (LSTM: i, f, o; GRU: z), symmetric per row
    mp: np.ndarray | None = None   # int32 (P) multiplier of p*c (LSTM) or p*h~ (GRU) into pre_rec ...
    shp: np.ndarray | None = None  # int32 (P) ... and its shift
    state16: bool = False          # int8 GRU: the state is h at s_h / 2^k in c (int16), h = its top bits
    cs: int = 0                    # LSTM: c is shifted left by cs (saturating) before tab_out, whose
                                   # input range is then the activation's own (NUMERICS.md)
    type: str = field(default="recurrent", init=False)

    @property
    def peephole(self) -> bool:
        return self.p is not None and np.size(self.p) > 0

    @property
    def base_cell(self) -> str:
        return facts.CELL[self.cell].kind

    @property
    def has_c(self) -> bool:
        """Whether the pass keeps an int16 state c beside h: an LSTM's cell (its cell keeps one
        in every integer precision), an int8 GRU's 16-bit state (state16)."""
        return self.state16 or facts.CELL[self.cell].keeps_second_state("int16")


@dataclass
class QBidirectional:
    forward: QRecurrent
    backward: QRecurrent      # go_backwards=True; outputs flipped back to time order when merged
    merge_mode: str
    m: int                    # sum/ave/mul: y = satA(rq(v, m, sh)) with v = hf + hb or hf * hb
    sh: int
    s_y: float
    type: str = field(default="bidirectional", init=False)

    @property
    def return_sequences(self) -> bool:
        return self.forward.return_sequences

    @property
    def units(self) -> int:
        return self.forward.units

    @property
    def output_dim(self) -> int:
        return self.units * (2 if self.merge_mode == "concat" else 1)


@dataclass
class QDense:
    w: np.ndarray        # int8 (out, in)
    m: np.ndarray        # int32 (out)
    sh: np.ndarray       # int32 (out)
    b: np.ndarray        # int32 (out) in the pre-activation domain
    tab: np.ndarray      # int16 (257): pre -> y * 2^k
    k: int
    s_x: float
    s_pre: float
    s_y: float
    type: str = field(default="dense", init=False)


@dataclass
class QActivation:
    dim: int
    tab: np.ndarray      # int16 (257): (x << kin) -> y * 2^k
    kin: int
    k: int
    s_x: float
    s_y: float
    type: str = field(default="activation", init=False)


@dataclass
class QSoftmax:
    dim: int
    tab: np.ndarray      # int16 (257): sat16((x - max) << kin) -> exp, Q15
    kin: int
    qo: int              # output fractional bits (7 for int8, 15 for int16)
    s_x: float
    s_y: float
    type: str = field(default="softmax", init=False)


QLayer = Union[QRecurrent, QBidirectional, QDense, QActivation, QSoftmax]
_QTYPES = {"recurrent": QRecurrent, "bidirectional": QBidirectional, "dense": QDense,
           "activation": QActivation, "softmax": QSoftmax}


def _qlayer_from_dict(ld: dict[str, Any]) -> Any:
    ld = dict(ld)
    cls = _QTYPES[ld.pop("type")]
    if cls is QBidirectional:
        ld["forward"] = _qlayer_from_dict(ld["forward"])
        ld["backward"] = _qlayer_from_dict(ld["backward"])
    return cls(**ld)


@dataclass
class QModel:
    precision: str
    in_mean: np.ndarray    # float32 (F): sensor-unit mean
    in_inv: np.ndarray     # float32 (F): 1 / (std * input scale); float32: 1 / std
    s_in: np.ndarray       # float64 (F): input scale per channel (standardised units per LSB)
    layers: list[QLayer]   # empty for float32 (the float IR is the model)
    s_out: float           # output scale (1.0 for float32)
    calib: dict[str, float]  # calibration ranges (documentation, reports)
    hash: str = ""
    in_bits: int = 0       # int8 models: 16 when the inputs are int16 (NUMERICS.md), 8 or 0 (older files) when int8
    head_bits: int = 0     # int8 models: 16 when the layers after the last recurrent one and the outputs
                           # are int16 (NUMERICS.md, "16-bit head"); 0 in older files (int8 throughout)

    @property
    def output_bits(self) -> int:
        """The width of the model's output values (32 for float32)."""
        return {"float32": 32, "int16": 16}.get(self.precision) or (16 if self.head_bits == 16 else 8)

    @property
    def output_max(self) -> int:
        """The largest integer output value (an int8 model with a 16-bit head: 32767)."""
        return act_range("int16" if self.output_bits == 16 else self.precision)[1]

    def head_from(self) -> int | None:
        """Index of the first layer computed at 16 bits in an int8 model with a 16-bit head (the
        layer after the last recurrent one; len(layers) when there is none), else None."""
        if self.precision != "int8" or self.head_bits != 16:
            return None
        return 1 + max(i for i, l in enumerate(self.layers) if isinstance(l, (QRecurrent, QBidirectional)))

    @property
    def input_bits(self) -> int:
        """The width of the model's input values (32 for float32)."""
        return {"float32": 32, "int16": 16}.get(self.precision) or (16 if self.in_bits == 16 else 8)

    @property
    def input_range(self) -> tuple[int, int]:
        """The integer range of an integer model's input values (quantize_input clamps to it)."""
        return act_range("int16" if self.input_bits == 16 else self.precision)

    def compute_hash(self, model: ir.Model) -> str:
        arrays: dict[str, np.ndarray] = {}
        q = ir._to_json(dataclasses.replace(self, hash="", calib={}), arrays, "q")
        # fields added later hash only when they are set, so older files keep their hashes
        for key in ("in_bits", "head_bits"):
            q.pop(key) if not q.get(key) else None
        for ld in q["layers"]:
            for d in (ld, ld.get("forward"), ld.get("backward")):
                if isinstance(d, dict) and d.get("state16") is False:
                    d.pop("state16")
                if isinstance(d, dict) and d.get("cs") == 0:
                    d.pop("cs")
        doc = {"model": ir.model_to_dict(model, arrays), "q": q}
        h = hashlib.sha256(json.dumps(doc, sort_keys=True).encode())
        for key in sorted(arrays, key=lambda s: int(s[1:])):
            a = np.ascontiguousarray(arrays[key])
            h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
        return h.hexdigest()

    @property
    def hash32(self) -> int:
        return int(self.hash[:8], 16)


def qmodel_to_extra(q: QModel) -> dict[str, Any]:
    return {"qmodel": q}


def qmodel_from_extra(extra: dict[str, Any]) -> QModel:
    d = dict(extra["qmodel"])
    layers = [_qlayer_from_dict(ld) for ld in d.pop("layers")]
    return QModel(layers=layers, **d)


def save(path: str, model: ir.Model, q: QModel) -> None:
    ir.save(path, model, qmodel_to_extra(q))


def load(path: str) -> tuple[ir.Model, QModel]:
    from rnnmcu.errors import InputError

    try:
        model, extra = ir.load(path)
    except ir.IRError as e:
        raise InputError(str(e), "convert the Keras model again with `rnnmcu convert`") from e
    if not extra or "qmodel" not in extra:
        raise InputError(f"{path}: holds a float IR but no quantised model",
                         "run `rnnmcu convert MODEL.keras --calib DATA.npz -o MODEL.rnnmcu`")
    try:
        q = qmodel_from_extra(extra)
    except (TypeError, KeyError) as e:
        raise InputError(f"{path}: malformed quantised section ({e})", "convert the model again") from e
    if q.hash != q.compute_hash(model):
        raise InputError(f"{path}: the model hash does not match its content (corrupt or edited file)",
                         "convert the model again")
    return model, q
