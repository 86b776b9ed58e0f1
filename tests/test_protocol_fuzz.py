"""Fuzz the firmware app through the host board built with AddressSanitizer and UBSan: thousands
of malformed frames (fixed seed, bounded count), each of which must get exactly one ERROR with the
right code, each followed by a valid request whose answer proves the model state is intact.
Plus a bounded libFuzzer run of tests/c/fuzz_app.c."""
from __future__ import annotations

import random
import struct
import subprocess
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rnnmcu.hil import codec, open_transport
from rnnmcu.hil.codec import ErrorCode, FrameReader, MsgType
import protocol_helpers as S  # tests/ is on sys.path under pytest
I16 = np.dtype(np.int16)
MAXP = 256          # the fuzz builds use -DRNNMCU_PROTO_MAX_PAYLOAD=256: cheap oversize frames
CAP = MAXP + 8      # the device's decoded-frame buffer


def device_framing_verdict(chunk: bytes) -> int | None:
    """What the device's streaming decoder makes of the bytes before a delimiter: an error code,
    or None for a frame that passes COBS, size and CRC checks."""
    buf = bytearray()
    code = remaining = 0
    overflow = False
    for b in chunk:
        assert b != 0
        if overflow:
            continue
        if remaining == 0:
            if code and code != 0xFF:
                if len(buf) >= CAP:
                    overflow = True
                    continue
                buf.append(0)
            code, remaining = b, b - 1
        else:
            if len(buf) >= CAP:
                overflow = True
                continue
            buf.append(b)
            remaining -= 1
    if overflow:
        return ErrorCode.OVERSIZE
    if remaining or len(buf) < 8:
        return ErrorCode.BAD_COBS
    if zlib.crc32(bytes(buf[:-4])) != struct.unpack("<I", buf[-4:])[0]:
        return ErrorCode.BAD_CRC
    return None


def raw_frame(type_: int, seq: int, payload: bytes, length: int | None = None) -> bytes:
    body = struct.pack("<BBH", type_, seq, len(payload) if length is None else length) + payload
    return codec.cobs_encode(body + struct.pack("<I", zlib.crc32(body))) + b"\x00"


@dataclass
class Expect:
    what: str                # description for failure messages
    type: int                # reply type
    seq: int
    code: int | None = None  # for ERROR
    payload: bytes | None = None


class Fuzzer:
    def __init__(self, rng: random.Random, window_only: bool, output_sequence: bool) -> None:
        self.rng = rng
        self.window_only = window_only
        self.output_sequence = output_sequence
        self.seq = 0
        self.state = np.zeros(4, dtype=np.int64)

    # valid requests -----------------------------------------------------------------------
    def _x(self, n: int = 1) -> np.ndarray:
        return np.array([[self.rng.randint(-2000, 2000) for _ in range(3)] for _ in range(n)],
                        dtype=I16)

    def valid(self) -> tuple[bytes, Expect]:
        seq = self.seq
        self.seq = (self.seq + 1) & 0xFF
        if self.window_only:
            T = self.rng.randint(1, MAXP // 8)
            x = self._x(T)
            y = S.fake_run(x, I16, self.output_sequence)
            return (codec.encode_frame(MsgType.RUN, seq, struct.pack("<H", T) + x.tobytes()),
                    Expect(f"valid RUN T={T}", 0x84, seq, payload=y.tobytes()))
        x = self._x(1)
        y = S.fake_steps(x, I16, self.state)
        return (codec.encode_frame(MsgType.STEP, seq, x.tobytes()),
                Expect("valid STEP", 0x83, seq, payload=y.tobytes()))

    # malformed requests -------------------------------------------------------------------
    def malformed(self) -> tuple[bytes, Expect]:
        r = self.rng
        seq = self.seq
        kind = r.choice(["garbage", "truncated", "oversize", "oversize_frame", "bad_crc", "replay",
                         "step_len", "reset_len", "len_field", "t_zero", "t_big", "run_len",
                         "unknown", "bench_zero", "bench_len", "model_error"])
        step_frame = codec.encode_frame(MsgType.STEP, seq, self._x(1).tobytes())
        if kind == "garbage":
            while True:
                chunk = bytes(r.randint(1, 255) for _ in range(r.randint(1, 400)))
                v = device_framing_verdict(chunk)
                if v is not None:
                    return chunk + b"\x00", Expect(kind, 0xFF, 0, v)
        if kind == "truncated":
            cut = r.randint(1, len(step_frame) - 2)
            chunk = step_frame[:cut]
            return chunk + b"\x00", Expect(kind, 0xFF, 0, device_framing_verdict(chunk))
        if kind == "oversize":
            chunk = bytes(r.randint(1, 255) for _ in range(r.randint(2 * CAP, 3 * CAP)))
            v = device_framing_verdict(chunk)
            return chunk + b"\x00", Expect(kind, 0xFF, 0, v)
        if kind == "oversize_frame":
            payload = bytes(r.randint(0, 255) for _ in range(r.randint(MAXP + 1, MAXP + 300)))
            return codec.encode_frame(MsgType.RUN, seq, payload), Expect(kind, 0xFF, 0, ErrorCode.OVERSIZE)
        if kind == "bad_crc":
            raw = bytearray(codec.cobs_decode(step_frame[:-1]))
            pos = r.randrange(len(raw))
            raw[pos] ^= 1 << r.randrange(8)
            return codec.cobs_encode(bytes(raw)) + b"\x00", Expect(kind, 0xFF, 0, ErrorCode.BAD_CRC)
        if kind == "replay":
            bad = (seq - r.randint(1, 255)) & 0xFF
            t = r.choice([MsgType.STEP, MsgType.RESET, MsgType.RUN, MsgType.BENCH])
            payload = {MsgType.STEP: self._x(1).tobytes(), MsgType.RESET: b"",
                       MsgType.RUN: struct.pack("<H", 1) + self._x(1).tobytes(),
                       MsgType.BENCH: struct.pack("<H", 5) + self._x(1).tobytes()}[t]
            return codec.encode_frame(t, bad, payload), Expect(kind, 0xFF, bad, ErrorCode.BAD_SEQUENCE)
        if kind == "step_len":
            n = r.choice([k for k in range(0, 20) if k != 6])
            code = ErrorCode.STEP_UNSUPPORTED if self.window_only else ErrorCode.BAD_LENGTH
            return codec.encode_frame(MsgType.STEP, seq, bytes(n)), Expect(kind, 0xFF, seq, code)
        if kind == "reset_len":
            return (codec.encode_frame(MsgType.RESET, seq, bytes(r.randint(1, 9))),
                    Expect(kind, 0xFF, seq, ErrorCode.BAD_LENGTH))
        if kind == "len_field":
            payload = self._x(1).tobytes()
            wrong = r.choice([k for k in range(0, 40) if k != 6])
            return raw_frame(MsgType.STEP, seq, payload, wrong), Expect(kind, 0xFF, seq, ErrorCode.BAD_LENGTH)
        if kind == "t_zero":
            return (codec.encode_frame(MsgType.RUN, seq, struct.pack("<H", 0) + self._x(1).tobytes()),
                    Expect(kind, 0xFF, seq, ErrorCode.T_RANGE))
        if kind == "t_big":
            T = r.randint(S.FAKE_MAX_STEPS + 1, 65535)
            extra = bytes(r.randint(0, 255) for _ in range(r.randint(0, 200)))
            return (codec.encode_frame(MsgType.RUN, seq, struct.pack("<H", T) + extra),
                    Expect(kind, 0xFF, seq, ErrorCode.T_RANGE))
        if kind == "run_len":
            T = r.randint(1, MAXP // 8)
            n = T * 6 + r.choice([-6, -1, 1, 2, 6])
            payload = struct.pack("<H", T) + bytes(max(n, 0))
            code = ErrorCode.BAD_LENGTH
            if self.output_sequence and T * 8 > MAXP:
                code = ErrorCode.T_RANGE
            return codec.encode_frame(MsgType.RUN, seq, payload), Expect(kind, 0xFF, seq, code)
        if kind == "unknown":
            t = r.choice([0x00, 0x06, 0x07, 0x40, 0x81, 0x83, 0xFE, 0xFF])
            return codec.encode_frame(t, seq, bytes(r.randint(0, 8))), Expect(kind, 0xFF, seq, ErrorCode.UNKNOWN_TYPE)
        if kind == "bench_zero":
            return (codec.encode_frame(MsgType.BENCH, seq, struct.pack("<H", 0) + self._x(1).tobytes()),
                    Expect(kind, 0xFF, seq, ErrorCode.T_RANGE))
        if kind == "bench_len":
            n = r.choice([0, 1, 2, 3, 4, 5, 7, 9])
            return (codec.encode_frame(MsgType.BENCH, seq, struct.pack("<H", 4) + bytes(n)),
                    Expect(kind, 0xFF, seq, ErrorCode.BAD_LENGTH))
        # model_error: the fake model refuses x[0] == INT16_MIN without touching its state
        x = self._x(1)
        x[0, 0] = -32768
        if self.window_only:
            return (codec.encode_frame(MsgType.RUN, seq, struct.pack("<H", 1) + x.tobytes()),
                    Expect(kind, 0xFF, seq, ErrorCode.MODEL))
        return codec.encode_frame(MsgType.STEP, seq, x.tobytes()), Expect(kind, 0xFF, seq, ErrorCode.MODEL)


def _read_replies(t, reader: FrameReader, n: int, timeout: float = 20.0) -> list[codec.Frame]:
    frames: list[codec.Frame] = []
    deadline = time.monotonic() + timeout
    pending: list[bytes] = []
    while len(frames) < n:
        while pending and len(frames) < n:
            frames.append(codec.decode_frame(pending.pop(0)))
        if len(frames) >= n:
            break
        data = t.read(65536, max(deadline - time.monotonic(), 0))
        assert data, f"only {len(frames)} of {n} replies arrived; {t.describe()}"
        pending += reader.feed(data)
    assert not pending, f"{len(pending)} replies more than requests"
    return frames


@pytest.fixture(scope="module")
def asan_builds(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzzfw")
    return lambda *d: S.build_host(out, defines=(f"RNNMCU_PROTO_MAX_PAYLOAD={MAXP}", *d),
                                   sanitize=True)


@pytest.mark.slow
@pytest.mark.parametrize("variant,cases", [((), 2500), (("FAKE_WINDOW_ONLY", "FAKE_OUTPUT_SEQUENCE"), 800)],
                         ids=["streaming", "window-only"])
def test_malformed_frames_get_one_error_and_never_touch_state(asan_builds, variant, cases) -> None:
    exe = asan_builds(*variant)
    t = open_transport(f"spawn:{exe}")
    reader = FrameReader()
    fz = Fuzzer(random.Random(20240611), "FAKE_WINDOW_ONLY" in variant,
                "FAKE_OUTPUT_SEQUENCE" in variant)
    seen_codes: set[int] = set()
    try:
        # skip the banner, then INFO with seq 0
        t.write(codec.encode_frame(MsgType.INFO, 0))
        frames = []
        while not frames:
            data = t.read(4096, 10.0)
            assert data, t.describe()
            for chunk in reader.feed(data):
                try:
                    frames.append(codec.decode_frame(chunk))
                except codec.ProtocolError:
                    pass  # the banner
        assert frames[0].type == 0x81
        fz.seq = 1
        done = 0
        while done < cases:
            batch = min(100, cases - done)
            wire = bytearray()
            expects: list[Expect] = []
            for _ in range(batch):
                w, e = fz.malformed()
                wire += w
                expects.append(e)
                w, e = fz.valid()
                wire += w
                expects.append(e)
            t.write(bytes(wire))
            replies = _read_replies(t, reader, len(expects))
            for i, (f, e) in enumerate(zip(replies, expects)):
                ctx = f"case {done + i // 2} ({e.what}): got type {f.type:#x} seq {f.seq} {f.payload[:40]!r}"
                assert (f.type, f.seq) == (e.type, e.seq), ctx
                if e.code is not None:
                    assert f.payload[0] == e.code, ctx
                    assert f.payload[1:].decode() != "", ctx
                    seen_codes.add(e.code)
                else:
                    assert f.payload == e.payload, ctx
            done += batch
        assert t.read(100, 0.2) == b"", "replies nobody asked for"
        assert t.returncode is None, t.describe()
    finally:
        t.close()
    assert t.returncode == 0, t.describe()
    assert "runtime error" not in t.describe() and "Sanitizer" not in t.describe()
    want = {ErrorCode.BAD_CRC, ErrorCode.BAD_COBS, ErrorCode.OVERSIZE, ErrorCode.UNKNOWN_TYPE,
            ErrorCode.BAD_LENGTH, ErrorCode.BAD_SEQUENCE, ErrorCode.T_RANGE, ErrorCode.MODEL}
    if "FAKE_WINDOW_ONLY" in variant:
        want.add(ErrorCode.STEP_UNSUPPORTED)
    assert want <= seen_codes


@pytest.mark.slow
def test_libfuzzer_driver_bounded_run(tmp_path: Path, c_compilers) -> None:
    exe = tmp_path / "fuzz_app"
    S.compile_c(exe, [*S.app_sources(), S.FAKE_MODEL, S.TESTS_C / "fuzz_app.c"],
                cc=c_compilers["clang"],
                flags=["-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all"])
    res = subprocess.run([str(exe), "-seed=1", "-runs=40000", "-max_len=700", "-max_total_time=60"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Done 40000 runs" in res.stderr
