"""The host board (firmware app + fake model, compiled with gcc) driven through spawn:, plus the
transports' timeouts, process handling and socket:// / loop:// links."""
from __future__ import annotations

import os
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rnnmcu.errors import DeviceError, InputError
from rnnmcu.hil import Device, DeviceErrorReply, ErrorCode, open_transport
from rnnmcu.hil import codec
from rnnmcu.hil.codec import FrameReader, MsgType
from rnnmcu.hil.device import DeviceTimeout
from rnnmcu.hil.transport import SpawnTransport
import protocol_helpers as S  # tests/ is on sys.path under pytest
I16 = np.dtype(np.int16)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostfw")

    def get(*defines: str) -> Path:
        return S.build_host(out, defines=defines)
    return get


@pytest.fixture
def dev(builds):
    d = Device(open_transport(f"spawn:{builds()}"), timeout=5.0)
    d.sync()
    yield d
    d.close()


def _device(exe: Path) -> Device:
    d = Device(open_transport(f"spawn:{exe}"), timeout=5.0)
    d.sync()
    return d


class Raw:
    """Frames by hand, for sequence and error tests."""

    def __init__(self, exe: Path) -> None:
        self.t = open_transport(f"spawn:{exe}")
        self.reader = FrameReader()
        self.backlog: list[bytes] = []

    def request(self, type_: int, seq: int, payload: bytes = b"") -> codec.Frame:
        self.t.write(codec.encode_frame(type_, seq, payload))
        return self.reply()

    def reply(self, timeout: float = 5.0) -> codec.Frame:
        deadline = time.monotonic() + timeout
        while True:
            while self.backlog:
                chunk = self.backlog.pop(0)
                try:
                    return codec.decode_frame(chunk)
                except codec.ProtocolError:
                    continue  # the boot banner
            data = self.t.read(4096, max(deadline - time.monotonic(), 0))
            assert data, "no reply from the host board"
            self.backlog += self.reader.feed(data)

    def close(self) -> None:
        self.t.close()


def _err(frame: codec.Frame) -> int:
    assert frame.type == 0xFF, f"expected ERROR, got type {frame.type:#x}"
    return frame.payload[0]


def test_sync_skips_the_banner_and_reports_the_model(dev: Device) -> None:
    info = dev.cached_info
    assert (info.model_name, info.board, info.model_hash) == ("fake", "host", S.FAKE_HASH)
    assert (info.input_dim, info.output_dim, info.max_steps) == (3, 4, 64)
    assert (info.precision, info.elem_size, info.flags) == (2, 2, 0)
    assert info.max_payload == 4096 and info.counter_kind == 0
    assert info.build_info.startswith("gcc")
    assert dev.info() == info  # INFO in sequence


def test_step_streams_the_running_sum(dev: Device) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(-12000, 12000, size=(40, 3)).astype(I16)
    want = S.fake_steps(x, I16)
    got = np.array([dev.step(v) for v in x])
    assert got.dtype == I16
    np.testing.assert_array_equal(got, want)
    dev.reset()
    np.testing.assert_array_equal(dev.step(x[0]), want[0])


def test_saturation_is_visible_on_the_wire(dev: Device) -> None:
    x = np.full((3, 3), 20000, dtype=I16)
    got = np.array([dev.step(v) for v in x])
    assert got[-1, :3].tolist() == [32767] * 3 and got[-1, 3] == 3


def test_run_starts_from_zero_and_leaves_the_last_state(dev: Device) -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(-300, 300, size=(64, 3)).astype(I16)
    for _ in range(5):
        dev.step(np.array([1000, 1000, 1000], dtype=I16))
    np.testing.assert_array_equal(dev.run(x), S.fake_run(x, I16))
    # the state after run is the state after its last step
    nxt = np.array([1, 2, 3], dtype=I16)
    np.testing.assert_array_equal(dev.step(nxt), S.fake_steps(np.vstack([x, nxt]), I16)[-1])


def test_run_limits(dev: Device) -> None:
    with pytest.raises(InputError, match="1..64"):
        dev.run(np.zeros((65, 3), dtype=I16))
    with pytest.raises(InputError, match="shape"):
        dev.run(np.zeros((5, 2), dtype=I16))


def test_bench_reports_no_counter_and_resets(dev: Device) -> None:
    dev.step(np.array([5, 5, 5], dtype=I16))
    b = dev.bench(np.array([1, 2, 3], dtype=I16), 100)
    assert (b.ticks, b.n, b.counter_kind, b.counter_scale, b.per_step) == (0, 100, 0, 1, None)
    np.testing.assert_array_equal(dev.step(np.array([1, 1, 1], dtype=I16)), [1, 1, 1, 1])


def test_model_error_leaves_state_and_sequence_intact(dev: Device) -> None:
    dev.step(np.array([10, 20, 30], dtype=I16))
    with pytest.raises(DeviceErrorReply) as ei:
        dev.step(np.array([-32768, 0, 0], dtype=I16))
    assert ei.value.code == ErrorCode.MODEL and ei.value.exit_code == 4
    np.testing.assert_array_equal(dev.step(np.array([1, 1, 1], dtype=I16)), [11, 21, 31, 2])


def test_host_side_input_validation(dev: Device) -> None:
    with pytest.raises(InputError, match="quantise"):
        dev.step(np.array([0.5, 0.1, 0.2]))
    with pytest.raises(InputError, match="range"):
        dev.step(np.array([40000, 0, 0]))
    with pytest.raises(InputError, match=r"\(3,\)"):
        dev.step(np.array([1, 2], dtype=I16))
    with pytest.raises(InputError, match="65535"):
        dev.bench(np.zeros(3, dtype=I16), 0)


def test_requests_before_sync_are_refused(builds) -> None:
    d = Device(open_transport(f"spawn:{builds()}"))
    try:
        with pytest.raises(DeviceError, match="sync"):
            d.reset()
    finally:
        d.close()


def test_sequence_rules(builds) -> None:
    raw = Raw(builds())
    try:
        x = struct.pack("<3h", 1, 2, 3)
        # nothing but INFO before INFO
        assert _err(raw.request(MsgType.STEP, 0, x)) == ErrorCode.BAD_SEQUENCE
        f = raw.request(MsgType.INFO, 200)
        assert f.type == 0x81 and f.seq == 200
        # a wrong seq is refused and executes nothing; the expected seq does not move
        e = raw.request(MsgType.STEP, 7, x)
        assert _err(e) == ErrorCode.BAD_SEQUENCE and e.seq == 7
        f = raw.request(MsgType.STEP, 201, x)
        assert f.type == 0x83 and struct.unpack("<4h", f.payload) == (1, 2, 3, 1)
        # replaying the same STEP is refused: the state is untouched
        assert _err(raw.request(MsgType.STEP, 201, x)) == ErrorCode.BAD_SEQUENCE
        # an error with the right seq leaves the expected seq where it was
        assert _err(raw.request(MsgType.STEP, 202, x[:4])) == ErrorCode.BAD_LENGTH
        f = raw.request(MsgType.STEP, 202, x)
        assert struct.unpack("<4h", f.payload) == (2, 4, 6, 2)
        # seq wraps modulo 256
        seq = 203
        for _ in range(300):
            f = raw.request(MsgType.RESET, seq & 0xFF)
            assert f.type == 0x82 and f.seq == seq & 0xFF and f.payload == b""
            seq += 1
        # INFO with any seq restarts the sequence
        assert raw.request(MsgType.INFO, 17).type == 0x81
        assert raw.request(MsgType.STEP, 18, x).type == 0x83
    finally:
        raw.close()


@pytest.mark.parametrize("type_,payload,code", [
    (MsgType.RESET, b"\x00", ErrorCode.BAD_LENGTH),
    (MsgType.INFO, b"\x00", ErrorCode.BAD_LENGTH),
    (MsgType.STEP, b"\x00" * 7, ErrorCode.BAD_LENGTH),
    (MsgType.RUN, b"\x00", ErrorCode.BAD_LENGTH),
    (MsgType.RUN, struct.pack("<H", 0), ErrorCode.T_RANGE),
    (MsgType.RUN, struct.pack("<H", 65) + b"\x00" * 390, ErrorCode.T_RANGE),
    (MsgType.RUN, struct.pack("<H", 2) + b"\x00" * 6, ErrorCode.BAD_LENGTH),
    (MsgType.BENCH, struct.pack("<H", 0) + b"\x00" * 6, ErrorCode.T_RANGE),
    (MsgType.BENCH, struct.pack("<H", 3) + b"\x00" * 5, ErrorCode.BAD_LENGTH),
    (0x06, b"", ErrorCode.UNKNOWN_TYPE),
    (0x83, b"", ErrorCode.UNKNOWN_TYPE),
    (0x00, b"", ErrorCode.UNKNOWN_TYPE),
])
def test_error_codes(builds, type_: int, payload: bytes, code: int) -> None:
    raw = Raw(builds())
    try:
        raw.request(MsgType.INFO, 0)
        f = raw.request(type_, 1, payload)
        assert _err(f) == code and f.seq == 1
        assert f.payload[1:].decode() == {
            ErrorCode.BAD_LENGTH: "payload length does not match the request",
            ErrorCode.T_RANGE: "T out of range",
            ErrorCode.UNKNOWN_TYPE: "unknown request type"}[code]
        # and the request with the same seq still works afterwards
        assert raw.request(MsgType.RESET, 1).type == 0x82
    finally:
        raw.close()


def test_framing_errors_carry_seq_zero(builds) -> None:
    raw = Raw(builds())
    try:
        raw.request(MsgType.INFO, 0)
        good = codec.cobs_decode(codec.encode_frame(MsgType.RESET, 1)[:-1])
        bad_crc = bytearray(good)
        bad_crc[-1] ^= 1
        raw.t.write(codec.cobs_encode(bytes(bad_crc)) + b"\x00")
        f = raw.reply()
        assert (_err(f), f.seq) == (ErrorCode.BAD_CRC, 0)
        raw.t.write(b"\x05\x01\x02\x00")  # a COBS block cut short
        assert _err(raw.reply()) == ErrorCode.BAD_COBS
        raw.t.write(codec.cobs_encode(b"\x02\x01\x00") + b"\x00")  # shorter than a header + CRC
        assert _err(raw.reply()) == ErrorCode.BAD_COBS
        raw.t.write(b"\x00\x00\x00")  # empty frames are ignored: no reply
        raw.t.write(bytes([0xFF]) * 6000 + b"\x00")
        f = raw.reply()
        assert (_err(f), f.seq) == (ErrorCode.OVERSIZE, 0)
        assert raw.request(MsgType.RESET, 1).type == 0x82
    finally:
        raw.close()


def test_window_only_model(builds) -> None:
    d = _device(builds("FAKE_WINDOW_ONLY"))
    try:
        assert d.cached_info.window_only
        with pytest.raises(DeviceErrorReply) as ei:
            d.step(np.zeros(3, dtype=I16))
        assert ei.value.code == ErrorCode.STEP_UNSUPPORTED
        assert "run()" in str(ei.value)
        x = np.arange(30, dtype=I16).reshape(10, 3)
        np.testing.assert_array_equal(d.run(x), S.fake_run(x, I16))
        b = d.bench(np.ones(3, dtype=I16), 64)
        assert b.n == 64
        with pytest.raises(DeviceErrorReply) as ei:
            d.bench(np.ones(3, dtype=I16), 65)  # window-only: n is a window length
        assert ei.value.code == ErrorCode.T_RANGE
    finally:
        d.close()


def test_output_sequence_and_payload_limit(builds) -> None:
    d = _device(builds("FAKE_OUTPUT_SEQUENCE", "RNNMCU_PROTO_MAX_PAYLOAD=256"))
    try:
        info = d.cached_info
        assert info.output_sequence and info.max_payload == 256
        assert info.max_window() == 32  # 32 * 4 outputs * 2 bytes = 256
        x = np.arange(96, dtype=I16).reshape(32, 3) - 40
        y = d.run(x)
        assert y.shape == (32, 4)
        np.testing.assert_array_equal(y, S.fake_run(x, I16, output_sequence=True))
        raw_payload = struct.pack("<H", 33) + x[:33].tobytes() + b"\x00" * 6
        with pytest.raises(DeviceErrorReply) as ei:
            d._request(MsgType.RUN, raw_payload, "RUN of 33 steps")
        assert ei.value.code == ErrorCode.T_RANGE
        with pytest.raises(InputError, match="at most 256"):
            d.run(np.zeros((64, 3), dtype=I16))
    finally:
        d.close()


def test_int8_model(builds) -> None:
    d = _device(builds("FAKE_INT8"))
    try:
        assert d.cached_info.dtype == np.dtype(np.int8)
        x = np.array([[100, -100, 5]] * 3, dtype=np.int8)
        got = np.array([d.step(v) for v in x])
        np.testing.assert_array_equal(got, S.fake_steps(x, np.dtype(np.int8)))
        assert got[-1].tolist() == [127, -128, 15, 3]
    finally:
        d.close()


# --- transports -------------------------------------------------------------------------------

def test_timeout_names_the_request_and_shows_what_arrived(tmp_path: Path) -> None:
    script = tmp_path / "mute.sh"
    script.write_text("#!/bin/sh\nprintf 'boot\\001'\nexec sleep 30\n")
    script.chmod(0o755)
    d = Device(open_transport(f"spawn:{script}"), timeout=0.3)
    try:
        with pytest.raises(DeviceError) as ei:
            d.sync(attempts=2, timeout=0.3)
        # a request in sequence that gets no answer names itself
        d._info = codec.parse_info(struct.pack("<BBBBHHHHIIBH", 1, 2, 2, 0, 3, 4, 64, 4096, 0, 0,
                                               0, 1) + b"\x00\x00\x00")
        with pytest.raises(DeviceTimeout, match=r"no reply to RESET \(seq \d+\) within 0.3 s"):
            d.reset()
    finally:
        d.close()
    msg = str(ei.value)
    assert "2 attempts" in msg and "INFO" in msg and "62 6f 6f 74 01" in msg
    assert ei.value.exit_code == 4


def test_dead_process_reports_status_and_stderr(tmp_path: Path) -> None:
    script = tmp_path / "dies.sh"
    script.write_text("#!/bin/sh\necho 'firmware exploded' >&2\nexit 3\n")
    script.chmod(0o755)
    t = open_transport(f"spawn:{script}")
    try:
        with pytest.raises(DeviceError) as ei:
            t.read(10, 5.0)
    finally:
        t.close()
    assert "status 3" in str(ei.value) and "firmware exploded" in str(ei.value)


def test_close_kills_the_process_group(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.sh"
    script.write_text("#!/bin/sh\ntrap '' HUP\nsleep 60 &\nsleep 60\n")
    script.chmod(0o755)
    t = open_transport(f"spawn:{script}")
    assert isinstance(t, SpawnTransport)
    pgid = t.proc.pid
    time.sleep(0.2)
    t.close()
    assert t.returncode is not None
    # SIGKILL has been sent to the whole group; the kernel tears the members down asynchronously,
    # so on a loaded machine the orphaned `sleep` may take a moment to go (no process can wait for
    # a grandchild): it must be gone within 2 s, never survive
    deadline = time.monotonic() + 2.0
    while _live_group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _live_group_members(pgid) == []


def _live_group_members(pgid: int) -> list[int]:
    """Processes of a process group that are not zombies (an orphan may wait to be reaped)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


def test_host_board_exits_zero_on_eof(builds) -> None:
    res = subprocess.run([str(builds())], input=b"", capture_output=True, timeout=10)
    assert res.returncode == 0
    assert res.stdout == b"rnnmcu ready fake 5eed1234\n\x00"


@pytest.mark.parametrize("url,exc,text", [
    ("", InputError, "no device"),
    ("spawn:", InputError, "names no command"),
    ("spawn:'unclosed", InputError, "cannot parse"),
    ("spawn:/nonexistent/firmware", DeviceError, "cannot start"),
    ("/dev/ttyNOPE99", DeviceError, "cannot open serial port"),
])
def test_open_transport_errors(url: str, exc: type, text: str) -> None:
    with pytest.raises(exc, match=text) as ei:
        open_transport(url)
    assert ei.value.hint


def test_loop_transport_echoes_and_times_out() -> None:
    t = open_transport("loop://")
    try:
        t.write(b"abc")
        assert t.read(10, 1.0) == b"abc"
        assert t.read(10, 0.2) == b""
    finally:
        t.close()


def test_device_over_socket(builds) -> None:
    """A TCP bridge to the host board, like QEMU's -chardev socket: socket:// through pyserial."""
    exe = builds()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def bridge() -> None:
        conn, _ = srv.accept()

        def up() -> None:
            while (data := conn.recv(4096)):
                proc.stdin.write(data)
                proc.stdin.flush()
            proc.stdin.close()
        threading.Thread(target=up, daemon=True).start()
        while (data := os.read(proc.stdout.fileno(), 4096)):
            conn.sendall(data)
        conn.close()

    th = threading.Thread(target=bridge, daemon=True)
    th.start()
    d = Device(open_transport(f"socket://127.0.0.1:{port}"), timeout=5.0)
    try:
        assert d.sync().model_name == "fake"
        x = np.array([[3, 4, 5], [1, 1, 1]], dtype=I16)
        np.testing.assert_array_equal(d.run(x), [4, 5, 6, 2])
    finally:
        d.close()
        proc.wait(timeout=5)
        srv.close()
    assert proc.returncode == 0


def test_stale_and_foreign_replies_are_protocol_errors(tmp_path: Path) -> None:
    """A device answering with the wrong seq: a ProtocolError that shows the bytes."""
    frame = codec.encode_frame(0x81, 99, b"")
    script = tmp_path / "liar.py"
    script.write_text(
        "import sys, os\n"
        "sys.stdin.buffer.read1(100)\n"
        f"os.write(1, {frame!r})\n"
        "sys.stdin.buffer.read()\n")
    d = Device(open_transport(f"spawn:{shlex.quote(sys.executable)} {script}"), timeout=2.0)
    d._info = codec.parse_info(struct.pack("<BBBBHHHHIIBH", 1, 2, 2, 0, 3, 4, 64, 4096, 0, 0, 0, 1)
                               + b"\x00\x00\x00")
    try:
        with pytest.raises(codec.ProtocolError, match="seq 99"):
            d.info()
    finally:
        d.close()


def test_float32_model_moves_exact_bits(builds) -> None:
    d = _device(builds("FAKE_FLOAT32"))
    try:
        assert d.cached_info.dtype == np.dtype("<f4")
        rng = np.random.default_rng(9)
        x = (rng.standard_normal((20, 3)) * 1e3).astype(np.float32)
        x[3] = [1e-40, -0.0, 3.4e38]   # a denormal, a negative zero, a huge value
        got = np.array([d.step(v) for v in x])
        want = S.fake_steps_f32(x)
        assert got.dtype == np.float32
        assert got.view(np.uint32).tolist() == want.view(np.uint32).tolist()
        np.testing.assert_array_equal(d.run(x).view(np.uint32), want[-1].view(np.uint32))
        with pytest.raises(DeviceErrorReply) as ei:
            d.step(np.array([np.nan, 0, 0], dtype=np.float32))
        assert ei.value.code == ErrorCode.MODEL
    finally:
        d.close()
