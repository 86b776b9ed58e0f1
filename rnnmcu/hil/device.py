"""A device speaking the rnnmcu protocol over a transport: sync, info, reset, step, run, bench."""
from __future__ import annotations

import sys
import time
from typing import Callable

import numpy as np

from rnnmcu.errors import DeviceError, InputError
from rnnmcu.hil import codec
from rnnmcu.hil.codec import (BenchResult, DeviceErrorReply, DeviceInfo, Frame, FrameReader, MsgType,
                              ProtocolError, hexdump)
from rnnmcu.hil.transport import Transport


class DeviceTimeout(DeviceError):
    """No complete reply arrived in time."""


class Device:
    """One request in flight at a time; sequence numbers follow the device's rule (INFO restarts
    them, each success advances them, an error leaves them unchanged)."""

    def __init__(self, transport: Transport, *, timeout: float = 2.0,
                 log: Callable[[str], None] | None = None) -> None:
        self.transport = transport
        self.timeout = timeout
        self.log = log
        self._reader = FrameReader()
        self._seq = 0
        self._info: DeviceInfo | None = None
        self._sync_counter = 0

    # --- plumbing ---------------------------------------------------------------------------

    def _say(self, msg: str) -> None:
        if self.log is not None:
            self.log(msg)

    def _timeout_error(self, waiting: str, received: bytes, timeout: float) -> DeviceTimeout:
        return DeviceTimeout(
            f"no reply to {waiting} within {timeout:g} s; received so far: {hexdump(received)}; "
            f"{self.transport.describe()}",
            "check that the board runs rnnmcu firmware on this port at this baud rate "
            "(reset it, or raise --timeout for slow links)")

    def _read_frame(self, waiting: str, timeout: float, *, lenient: bool = False,
                    accept: Callable[[Frame], bool] | None = None,
                    received: bytearray | None = None) -> Frame:
        """Read until a frame arrives (that ``accept`` takes).  ``lenient`` skips undecodable
        chunks (boot banner, line noise) instead of raising."""
        deadline = time.monotonic() + timeout
        received = bytearray() if received is None else received
        pending: list[bytes] = []
        while True:
            while pending:
                chunk = pending.pop(0)
                try:
                    frame = codec.decode_frame(chunk)
                except ProtocolError as exc:
                    if lenient:
                        self._say(f"skipped {len(chunk)} bytes that are not a frame: {hexdump(chunk, 32)}")
                        continue
                    raise ProtocolError(f"corrupt reply to {waiting}: {exc.message}",
                                        bytes(received)) from exc
                if accept is None or accept(frame):
                    if pending or self._reader.pending:
                        self._say(f"{len(pending)} more frames / {len(self._reader.pending)} bytes "
                                  "follow the reply")
                    return frame
                self._say(f"skipped a stale frame type {frame.type:#04x} seq {frame.seq}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timeout_error(waiting, bytes(received), timeout)
            data = self.transport.read(4096, left)
            if data:
                received += data
                pending.extend(self._reader.feed(data))

    def _request(self, type_: MsgType, payload: bytes, what: str) -> bytes:
        if self._info is None and type_ != MsgType.INFO:
            raise DeviceError(f"{what} before the device was synchronised",
                              "call Device.sync() first")
        if self._info is not None and len(payload) > self._info.max_payload:
            raise InputError(
                f"{what} needs a {len(payload)}-byte payload, the device accepts at most "
                f"{self._info.max_payload}", "send a shorter window or rebuild the firmware with a "
                "larger -DRNNMCU_PROTO_MAX_PAYLOAD")
        seq = self._seq
        self.transport.write(codec.encode_frame(type_, seq, payload))
        frame = self._read_frame(f"{what} (seq {seq})", self.timeout)
        return self._check_reply(frame, type_, seq, what)

    def _check_reply(self, frame: Frame, type_: MsgType, seq: int, what: str) -> bytes:
        if frame.type == codec.ERROR and frame.seq in (seq, 0):
            code, message = codec.parse_error(frame.payload)
            raise DeviceErrorReply(code, message, what)
        if frame.type != (type_ | codec.REPLY) or frame.seq != seq:
            raise ProtocolError(
                f"reply to {what} has type {frame.type:#04x} seq {frame.seq}, expected "
                f"{type_ | codec.REPLY:#04x} seq {seq}",
                hint="another program may be talking to the device, or a reply was lost: sync() again")
        self._seq = (seq + 1) & 0xFF
        return frame.payload

    # --- requests ---------------------------------------------------------------------------

    def sync(self, attempts: int = 5, timeout: float | None = None) -> DeviceInfo:
        """Skip boot output and stale bytes, then send INFO until a valid reply (the first bytes
        to a freshly opened emulator pty can be lost).  Restarts the sequence numbers."""
        per_try = timeout if timeout is not None else min(self.timeout, 1.0)
        last: Exception | None = None
        received = bytearray()
        for attempt in range(1, attempts + 1):
            self._sync_counter = (self._sync_counter + 1) & 0xFF
            seq = (0x40 + 7 * self._sync_counter) & 0xFF
            # a lone delimiter ends any half-received frame on the device side
            self.transport.write(b"\x00" + codec.encode_frame(MsgType.INFO, seq))
            try:
                frame = self._read_frame(
                    f"INFO (sync attempt {attempt}/{attempts})", per_try, lenient=True,
                    accept=lambda f, s=seq: f.seq == s and f.type in (MsgType.INFO | codec.REPLY,
                                                                      codec.ERROR),
                    received=received)
            except DeviceTimeout as exc:
                last = exc
                self._say(f"sync attempt {attempt}: no reply, retrying")
                continue
            if frame.type == codec.ERROR:
                code, message = codec.parse_error(frame.payload)
                raise DeviceErrorReply(code, message, "INFO")
            self._info = codec.parse_info(frame.payload)
            self._seq = (seq + 1) & 0xFF
            self._say(f"synced with {self._info.model_name} on {self._info.board} "
                      f"(hash {self._info.model_hash:08x})")
            return self._info
        raise DeviceError(f"device did not answer INFO after {attempts} attempts of {per_try:g} s; "
                          f"received in all: {hexdump(bytes(received))}; "
                          f"{self.transport.describe()}",
                          "check the port, that the board is running rnnmcu firmware, and the "
                          "baud rate")

    def info(self) -> DeviceInfo:
        """INFO in sequence (after sync)."""
        info = codec.parse_info(self._request(MsgType.INFO, b"", "INFO"))
        self._info = info
        return info

    @property
    def synced(self) -> bool:
        return self._info is not None

    @property
    def cached_info(self) -> DeviceInfo:
        if self._info is None:
            raise DeviceError("the device has not been synchronised", "call Device.sync() first")
        return self._info

    def reset(self) -> None:
        payload = self._request(MsgType.RESET, b"", "RESET")
        if payload:
            raise ProtocolError(f"RESET reply carries {len(payload)} unexpected bytes", payload)

    def _values(self, values: np.ndarray, window: bool, what: str) -> np.ndarray:
        info = self.cached_info
        arr = np.asarray(values)
        ok = (arr.ndim == 2 and arr.shape[1] == info.input_dim) if window \
            else arr.shape == (info.input_dim,)
        if not ok:
            want = f"(T, {info.input_dim})" if window else f"({info.input_dim},)"
            raise InputError(f"{what}: values of shape {arr.shape}, the device expects {want}",
                             "pass one value per model input channel")
        dtype = info.in_dtype
        if dtype.kind == "i":
            if arr.dtype.kind not in "iu":
                raise InputError(f"{what}: {arr.dtype} values for a model that takes {dtype.name} inputs",
                                 "quantise the inputs first (the model's quantize_input)")
            lim = np.iinfo(dtype)
            if arr.size and (arr.min() < lim.min or arr.max() > lim.max):
                raise InputError(f"{what}: values outside the {dtype.name} range "
                                 f"[{lim.min}, {lim.max}]", "quantise and saturate the inputs first")
        return np.ascontiguousarray(arr.astype(dtype))

    def _decode_values(self, payload: bytes, count: int, what: str) -> np.ndarray:
        dtype = self.cached_info.dtype
        if len(payload) != count * dtype.itemsize:
            raise ProtocolError(f"{what} reply has {len(payload)} bytes, expected "
                                f"{count} x {dtype.itemsize}", payload)
        return np.frombuffer(payload, dtype=dtype).astype(dtype.newbyteorder("="))

    def step(self, values: np.ndarray) -> np.ndarray:
        info = self.cached_info
        x = self._values(values, False, "STEP")
        payload = self._request(MsgType.STEP, codec.step_payload(x), "STEP")
        return self._decode_values(payload, info.output_dim, "STEP")

    def run(self, window: np.ndarray) -> np.ndarray:
        """One window from a zero state: (output_dim,) or (T, output_dim) for sequence models."""
        info = self.cached_info
        x = self._values(window, True, "RUN")
        T = x.shape[0]
        if not 1 <= T <= info.max_steps:
            raise InputError(f"RUN of {T} steps: the device takes 1..{info.max_steps}",
                             "split the sequence or stream it with step()")
        payload = self._request(MsgType.RUN, codec.run_payload(x), f"RUN of {T} steps")
        if info.output_sequence:
            return self._decode_values(payload, T * info.output_dim, "RUN").reshape(T, info.output_dim)
        return self._decode_values(payload, info.output_dim, "RUN")

    def bench(self, x: np.ndarray, n: int) -> BenchResult:
        """Counter ticks for n steps of the same input (one RUN of n copies for window-only and
        FLAG_BENCH_RUN models: DeviceInfo.bench_runs).  Leaves the model in its reset state."""
        info = self.cached_info
        if not 1 <= n <= 0xFFFF:
            raise InputError(f"bench repeats {n}: must be 1..65535", "choose a smaller count")
        v = self._values(x, False, "BENCH")
        result = codec.parse_bench(self._request(MsgType.BENCH, codec.bench_payload(v, n),
                                                 f"BENCH x{n}"))
        if result.n != n:
            raise ProtocolError(f"BENCH reply counts {result.n} repeats, {n} were asked")
        return result

    def trace(self, layer: int, values: np.ndarray) -> np.ndarray:
        """One step on ``values`` (like STEP: the state advances) whose reply is layer ``layer``'s
        intermediate values of that step, int16 (firmware/src/rnnmcu_trace.h).  A TRACE build only."""
        info = self.cached_info
        if not info.traces:
            raise InputError("this firmware does not answer TRACE",
                             "build it with `rnnmcu build --trace` (rnnmcu inspect --board builds one)")
        if not 0 <= layer <= 255:
            raise InputError(f"TRACE layer {layer}: must be 0..255", "pass a layer index of the model")
        x = self._values(values, False, "TRACE")
        return codec.parse_trace(self._request(MsgType.TRACE, codec.trace_payload(layer, x), f"TRACE layer {layer}"))

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(msg: str) -> None:
    """A log callback that writes progress to stderr."""
    print(msg, file=sys.stderr)
