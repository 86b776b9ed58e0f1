"""Firmware for each emulated board, built through `pio run` with the project's own dev platform
(offline), boots under QEMU and answers over a real serial link (a TCP socket chardev) through
rnnmcu.hil.Device; QEMU never outlives its launch."""
from __future__ import annotations

import os
import socket
import sys
import time

import numpy as np
import pytest

from rnnmcu.boards import emulator, platformio
from rnnmcu.boards.loader import load_board
from rnnmcu.hil import Device, codec, open_transport
from rnnmcu.hil.codec import MsgType

from boards_fixtures import EMULATED_BOARDS, fake_firmware, launch_device  # noqa: F401

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def gone(pid: int) -> bool:
    """True once the process has exited and been reaped (no zombie either)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("board", EMULATED_BOARDS)
def test_firmware_builds_boots_and_answers(board, fake_firmware):
    b = load_board(board)
    result = fake_firmware(board)
    assert result.firmware_path.name == "firmware.elf"
    assert 0 < result.flash_bytes <= b.flash_bytes and 0 < result.ram_bytes <= b.ram_bytes
    t0 = time.monotonic()
    with launch_device(b, result) as dev:
        boot = time.monotonic() - t0
        info = dev.info()
        assert (info.board, info.model_name) == (board, "fake")
        assert info.counter_kind == 2 and info.counter_scale == b.counter.scale
        assert info.clock_hz == b.clock_hz
        # the fake model: running sums of the inputs and a step counter
        assert dev.step(np.array([1, 2, 3], np.int16)).tolist() == [1, 2, 3, 1]
        assert dev.step(np.array([-5, 0, 7], np.int16)).tolist() == [-4, 2, 10, 2]
        window = np.arange(30, dtype=np.int16).reshape(10, 3)
        assert dev.run(window).tolist() == [*window.sum(axis=0).tolist(), 10]
        t1 = time.monotonic()
        for _ in range(50):
            dev.step(np.array([1, 1, 1], np.int16))
        rtt = (time.monotonic() - t1) / 50
        bench = dev.bench(np.array([1, 2, 3], np.int16), 200)
        assert bench.ticks > 0
        print(f"\n{board}: build {result.seconds:.1f} s, flash {result.flash_bytes} B, "
              f"RAM {result.ram_bytes} B, boot+sync {boot * 1000:.0f} ms, step round trip "
              f"{rtt * 1000:.2f} ms, {bench.ticks * bench.counter_scale / 200:.0f} instr/step",
              file=sys.stderr)


@pytest.mark.parametrize("board", EMULATED_BOARDS)
def test_bench_instruction_count_is_identical_across_runs(board, fake_firmware):
    result = fake_firmware(board)
    counts = []
    for _ in range(2):
        with launch_device(board, result) as dev:
            counts.append([dev.bench(np.array([3, -2, 1], np.int16), n).ticks for n in (1, 64)])
    assert counts[0] == counts[1], counts


def test_qemu_is_gone_after_the_connection_dies_mid_run(fake_firmware):
    b = load_board("qemu-rv32")
    result = fake_firmware("qemu-rv32")
    with emulator.Emulator(b, result.firmware_path) as emu:
        pid = emu.pid
        host, port = emu.url[len("socket://"):].split(":")
        s = socket.create_connection((host, int(port)))
        window = np.ones((64, 3), np.int16)
        frame = codec.encode_frame(MsgType.RUN, 1, codec.run_payload(window))
        s.sendall(frame[: len(frame) // 2])  # half a RUN request, then the link drops
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        assert emu.alive()
    assert gone(pid)


def test_qemu_is_gone_after_an_exception_and_an_interrupt(fake_firmware):
    result = fake_firmware("qemu-lx106")
    pids = []
    for exc_type in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc_type):
            with emulator.launch(load_board("qemu-lx106"), result.firmware_path) as url:
                dev = Device(open_transport(url), timeout=2)
                dev.sync()
                pids.append(_qemu_pid(url))
                raise exc_type("stop")
    assert len(pids) == 2 and all(gone(p) for p in pids)


def test_hung_device_times_out_and_qemu_is_killed(fake_firmware):
    """A device that never answers (a frame too long for it, then silence) ends in a DeviceError
    naming what was received, and QEMU is killed all the same."""
    from rnnmcu.errors import DeviceError

    result = fake_firmware("qemu-m4")
    with pytest.raises(DeviceError):
        with emulator.launch(load_board("qemu-m4"), result.firmware_path) as url:
            pid = _qemu_pid(url)
            t = open_transport(url)
            # bytes without a delimiter: the device waits for the end of a frame forever
            t.write(b"\x05" * 64)
            dev = Device(t, timeout=0.3)
            dev._read_frame("nothing", 0.3)
    assert gone(pid)


def _qemu_pid(url: str) -> int:
    """The pid of the QEMU process serving ``url`` (from /proc: the command line has the port)."""
    port = url.rsplit(":", 1)[1]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if cmd and b"qemu-system" in cmd[0] and any(f"port={port},".encode() in a for a in cmd):
                return int(entry)
    raise AssertionError(f"no QEMU process serves {url}")
