"""The rnnmcu wire protocol, host side: COBS framing, CRC-32, typed requests and replies.

Mirrors ``firmware/app`` byte for byte; ``firmware/PROTOCOL.md`` is the specification.
"""
from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from rnnmcu import facts
from rnnmcu.errors import DeviceError

# the numbers are rnnmcu/facts.py's, which also generates the C's (firmware/src/rnnmcu_facts.h)
PROTOCOL_VERSION = facts.PROTOCOL_VERSION
HEADER = struct.Struct("<BBH")
HEADER_SIZE = facts.PROTO_HEADER_SIZE
CRC_SIZE = facts.PROTO_CRC_SIZE
OVERHEAD = HEADER_SIZE + CRC_SIZE
MAX_WIRE_PAYLOAD = 0xFFFF  # the len field is a u16
REPLY = facts.PROTO_REPLY
ERROR = facts.PROTO_ERROR

# flags of the model descriptor (RNNMCU_MODEL_*): see facts.MODEL_FLAGS
FLAG_WINDOW_ONLY = facts.MODEL_FLAGS["WINDOW_ONLY"][0]
FLAG_OUTPUT_SEQUENCE = facts.MODEL_FLAGS["OUTPUT_SEQUENCE"][0]
FLAG_MASKING = facts.MODEL_FLAGS["MASKING"][0]
FLAG_BENCH_RUN = facts.MODEL_FLAGS["BENCH_RUN"][0]
FLAG_INPUT16 = facts.MODEL_FLAGS["INPUT16"][0]
FLAG_TRACE = facts.MODEL_FLAGS["TRACE"][0]


MsgType = enum.IntEnum("MsgType", facts.PROTO_TYPES)
"""Request types; a reply has type | REPLY.  TRACE is answered by a TRACE build only (FLAG_TRACE)."""


ErrorCode = enum.IntEnum("ErrorCode", facts.PROTO_ERRORS)
"""Codes of ERROR replies (``rnnmcu_proto_err_t``)."""


Precision = enum.IntEnum("Precision", facts.PRECISIONS)


DTYPES: dict[int, np.dtype] = {
    Precision.INT8: np.dtype("<i1"),
    Precision.INT16: np.dtype("<i2"),
    Precision.FLOAT32: np.dtype("<f4"),
}


class CounterKind(enum.IntEnum):
    NONE = 0
    CYCLES = 1
    INSTRUCTIONS = 2


def hexdump(data: bytes, limit: int = 64) -> str:
    """Bytes as hex for error messages, truncated to ``limit`` bytes."""
    shown = bytes(data[:limit]).hex(" ")
    if len(data) > limit:
        shown += f" ... ({len(data)} bytes in all)"
    return shown if shown else "(nothing)"


class ProtocolError(DeviceError):
    """A reply that does not follow the protocol (bad COBS, CRC, length, type or sequence)."""

    def __init__(self, message: str, raw: bytes = b"", hint: str | None = None) -> None:
        if raw:
            message = f"{message}; received: {hexdump(raw)}"
        super().__init__(
            message,
            hint or "check that the firmware and rnnmcu versions match and that the link is clean "
            "(baud rate, no other program on the port)",
        )
        self.raw = bytes(raw)


class DeviceErrorReply(DeviceError):
    """The device answered a request with an ERROR frame."""

    def __init__(self, code: int, device_message: str, request: str) -> None:
        try:
            name = ErrorCode(code).name.lower()
        except ValueError:
            name = f"code {code}"
        super().__init__(
            f"device refused {request}: {name} ({device_message!r})",
            _ERROR_HINTS.get(code, "see firmware/PROTOCOL.md for the error codes"),
        )
        self.code = code
        self.device_message = device_message
        self.request = request


_ERROR_HINTS = {
    ErrorCode.BAD_CRC: "the link corrupts bytes: check the baud rate and cabling, then retry",
    ErrorCode.BAD_COBS: "the link dropped or corrupted bytes: retry after sync()",
    ErrorCode.OVERSIZE: "send less per frame: the device's max_payload is in its INFO reply",
    ErrorCode.UNKNOWN_TYPE: "the firmware is older than this rnnmcu: rebuild and flash it",
    ErrorCode.BAD_LENGTH: "the payload size does not match the model's dimensions: re-read INFO",
    ErrorCode.BAD_SEQUENCE: "re-synchronise with sync() (sends INFO) and resend",
    ErrorCode.STEP_UNSUPPORTED: "this model needs whole windows: use run() instead of step()",
    ErrorCode.T_RANGE: "use a window length between 1 and the device's max_steps that fits a frame",
    ErrorCode.MODEL: "the model rejected the input: check the firmware's model and its limits",
}


# --- COBS -------------------------------------------------------------------------------------

def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no delimiter).  Same block layout as rnnmcu_cobs_write_frame."""
    out = bytearray()
    n = len(data)
    i = 0
    while True:
        run = 0
        while i + run < n and run < 254 and data[i + run] != 0:
            run += 1
        out.append(run + 1)
        out += data[i:i + run]
        i += run
        if i >= n:
            break
        if run < 254:
            i += 1
            if i == n:
                out.append(1)
                break
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block sequence (without its delimiter); raise ProtocolError if malformed."""
    out = bytearray()
    i = 0
    n = len(data)
    if n == 0:
        raise ProtocolError("empty COBS frame")
    while i < n:
        code = data[i]
        if code == 0:
            raise ProtocolError(f"zero byte inside a COBS frame at offset {i}", data)
        end = i + code
        if end > n:
            raise ProtocolError(
                f"truncated COBS block: code {code} at offset {i} needs {code - 1} bytes, "
                f"{n - i - 1} left", data)
        block = data[i + 1:end]
        if 0 in block:
            raise ProtocolError("zero byte inside a COBS block", data)
        out += block
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


# --- frames -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def encode_frame(type_: int, seq: int, payload: bytes = b"") -> bytes:
    """A complete frame as sent on the wire: COBS(header + payload + CRC) + 0x00."""
    if not 0 <= type_ <= 0xFF or not 0 <= seq <= 0xFF:
        raise ValueError(f"type {type_} / seq {seq} must fit in a byte")
    if len(payload) > MAX_WIRE_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the u16 length field")
    body = HEADER.pack(type_, seq, len(payload)) + bytes(payload)
    return cobs_encode(body + struct.pack("<I", crc32(body))) + b"\x00"


def decode_frame(chunk: bytes) -> Frame:
    """Decode the bytes between two delimiters (no 0x00) into a checked Frame."""
    raw = cobs_decode(chunk)
    if len(raw) < OVERHEAD:
        raise ProtocolError(f"frame of {len(raw)} bytes is shorter than the {OVERHEAD}-byte minimum",
                            chunk)
    body, (crc,) = raw[:-CRC_SIZE], struct.unpack("<I", raw[-CRC_SIZE:])
    if crc32(body) != crc:
        raise ProtocolError(f"bad CRC: frame says {crc:08x}, bytes give {crc32(body):08x}", chunk)
    type_, seq, length = HEADER.unpack(body[:HEADER_SIZE])
    payload = body[HEADER_SIZE:]
    if length != len(payload):
        raise ProtocolError(f"length field says {length} payload bytes, frame has {len(payload)}",
                            chunk)
    return Frame(type_, seq, bytes(payload))


class FrameReader:
    """Split a byte stream at 0x00 delimiters.  ``feed`` returns complete chunks (still COBS)."""

    def __init__(self, max_chunk: int = 2 * (MAX_WIRE_PAYLOAD + OVERHEAD)) -> None:
        self.max_chunk = max_chunk
        self.pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        chunks: list[bytes] = []
        for part_index, part in enumerate(bytes(data).split(b"\x00")):
            if part_index > 0:
                if self.pending:
                    chunks.append(bytes(self.pending))
                self.pending.clear()
            self.pending += part
            if len(self.pending) > self.max_chunk:
                raw = bytes(self.pending)
                self.pending.clear()
                raise ProtocolError(f"more than {self.max_chunk} bytes without a frame delimiter",
                                    raw)
        return chunks


# --- typed payloads ---------------------------------------------------------------------------

_INFO_FIXED = struct.Struct("<BBBBHHHHIIBH")


@dataclass(frozen=True)
class DeviceInfo:
    protocol_version: int
    precision: int
    elem_size: int
    flags: int
    input_dim: int
    output_dim: int
    max_steps: int
    max_payload: int
    model_hash: int
    clock_hz: int
    counter_kind: int
    counter_scale: int
    model_name: str
    board: str
    build_info: str

    @property
    def dtype(self) -> np.dtype:
        """The output values' type (and the inputs', but with FLAG_INPUT16): the precision's, or
        int16 for an int8 model whose outputs are 16-bit (elem_size 2)."""
        if self.precision == Precision.INT8 and self.elem_size == 2:
            return np.dtype("<i2")
        return DTYPES[self.precision]

    @property
    def in_dtype(self) -> np.dtype:
        """The input values' type: int16 with FLAG_INPUT16, else the precision's."""
        return np.dtype("<i2") if self.flags & FLAG_INPUT16 else DTYPES[self.precision]

    @property
    def in_elem_size(self) -> int:
        return self.in_dtype.itemsize

    @property
    def window_only(self) -> bool:
        return bool(self.flags & FLAG_WINDOW_ONLY)

    @property
    def bench_runs(self) -> bool:
        """BENCH times one RUN of n copies (window-only models and FLAG_BENCH_RUN ones, e.g. built
        with --input-projections), not n STEPs; n is then limited by max_window()."""
        return self.window_only or bool(self.flags & FLAG_BENCH_RUN)

    @property
    def output_sequence(self) -> bool:
        return bool(self.flags & FLAG_OUTPUT_SEQUENCE)

    @property
    def traces(self) -> bool:
        """The firmware is a TRACE build: it answers TRACE."""
        return bool(self.flags & FLAG_TRACE)

    def max_window(self) -> int:
        """Largest T a RUN accepts: max_steps, the request size and the reply size all limit it."""
        per_in = self.input_dim * self.in_elem_size
        t_in = (self.max_payload - 2) // per_in if per_in else self.max_steps
        t = min(self.max_steps, t_in)
        if self.output_sequence and self.output_dim:
            t = min(t, self.max_payload // (self.output_dim * self.elem_size))
        return max(t, 0)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["precision_name"] = Precision(self.precision).name.lower() \
            if self.precision in Precision._value2member_map_ else f"unknown({self.precision})"
        d["counter_kind_name"] = CounterKind(self.counter_kind).name.lower() \
            if self.counter_kind in CounterKind._value2member_map_ else f"unknown({self.counter_kind})"
        d["model_hash_hex"] = f"{self.model_hash:08x}"
        return d


def parse_info(payload: bytes) -> DeviceInfo:
    if len(payload) < _INFO_FIXED.size:
        raise ProtocolError(f"INFO reply of {len(payload)} bytes is shorter than "
                            f"{_INFO_FIXED.size}", payload)
    fixed = _INFO_FIXED.unpack_from(payload)
    strings: list[str] = []
    at = _INFO_FIXED.size
    for what in ("model name", "board name", "build info"):
        if at >= len(payload):
            raise ProtocolError(f"INFO reply ends before the {what}", payload)
        n = payload[at]
        if at + 1 + n > len(payload):
            raise ProtocolError(f"INFO reply: {what} of {n} bytes runs past the end", payload)
        strings.append(payload[at + 1:at + 1 + n].decode("utf-8", errors="replace"))
        at += 1 + n
    info = DeviceInfo(*fixed, *strings)
    if info.protocol_version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"device speaks protocol version {info.protocol_version}, this host speaks "
            f"{PROTOCOL_VERSION}", hint="rebuild the firmware with this rnnmcu version")
    if info.precision not in DTYPES or (DTYPES[info.precision].itemsize != info.elem_size
                                        and not (info.precision == Precision.INT8 and info.elem_size == 2)):
        raise ProtocolError(f"INFO reply: precision {info.precision} with element size "
                            f"{info.elem_size} is not a known combination", payload)
    if info.flags & FLAG_INPUT16 and info.precision != Precision.INT8:
        raise ProtocolError(f"INFO reply: the 16-bit input flag with precision {info.precision} "
                            "(only int8 models take 16-bit inputs)", payload)
    return info


@dataclass(frozen=True)
class BenchResult:
    ticks: int
    n: int
    counter_kind: int
    counter_scale: int

    @property
    def per_step(self) -> float | None:
        """Counter units (instructions or cycles) per step, None without a counter."""
        if self.counter_kind == CounterKind.NONE or self.n == 0:
            return None
        return self.ticks * self.counter_scale / self.n

    def to_dict(self) -> dict:
        return {"ticks": self.ticks, "n": self.n, "counter_kind": self.counter_kind,
                "counter_kind_name": CounterKind(self.counter_kind).name.lower()
                if self.counter_kind in CounterKind._value2member_map_ else "unknown",
                "counter_scale": self.counter_scale, "per_step": self.per_step}


_BENCH = struct.Struct("<IHBH")


def parse_bench(payload: bytes) -> BenchResult:
    if len(payload) != _BENCH.size:
        raise ProtocolError(f"BENCH reply of {len(payload)} bytes, expected {_BENCH.size}", payload)
    return BenchResult(*_BENCH.unpack(payload))


def parse_error(payload: bytes) -> tuple[int, str]:
    if not payload:
        return 0, "(empty error reply)"
    return payload[0], payload[1:].decode("utf-8", errors="replace")


def step_payload(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values).tobytes()


def run_payload(window: np.ndarray) -> bytes:
    return struct.pack("<H", window.shape[0]) + np.ascontiguousarray(window).tobytes()


def bench_payload(values: np.ndarray, n: int) -> bytes:
    return struct.pack("<H", n) + np.ascontiguousarray(values).tobytes()


def trace_payload(layer: int, values: np.ndarray) -> bytes:
    return struct.pack("<B", layer) + np.ascontiguousarray(values).tobytes()


def parse_trace(payload: bytes) -> np.ndarray:
    """A TRACE reply: count:u16, then count int16 values."""
    if len(payload) < 2:
        raise ProtocolError(f"TRACE reply of {len(payload)} bytes has no count", payload)
    (n,) = struct.unpack_from("<H", payload)
    if len(payload) != 2 + 2 * n:
        raise ProtocolError(f"TRACE reply of {len(payload)} bytes for {n} values", payload)
    return np.frombuffer(payload, dtype="<i2", offset=2).astype(np.int16)
