"""Run a firmware on an emulated board (QEMU) with its UART on a loopback TCP socket.

    from rnnmcu.boards.loader import load_board
    from rnnmcu.boards.emulator import launch
    with launch(load_board("qemu-m4"), "build/firmware.elf") as url:   # "socket://127.0.0.1:P"
        with Device(open_transport(url)) as dev:
            dev.sync()

QEMU runs with ``-icount shift=0`` (one instruction per virtual nanosecond, so the boards'
counters count instructions, identically on every run), no display and no monitor.  The serial
port is a TCP server that waits for the first client before the CPU starts, so the boot banner
is never lost.  QEMU is started in its own process group and always killed when the block ends —
also on exceptions, Ctrl-C and a hung device — and it dies with the Python process (Linux
parent-death signal) should that be killed outright.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from rnnmcu.boards.loader import Board
from rnnmcu.errors import InputError, ToolchainError

QEMU_FLAGS = ("-icount", "shift=0", "-display", "none", "-monitor", "none", "-nodefaults")
LISTEN_MARK = "waiting for connection"
PORT_RETRIES = 3
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def emulator_command(board: Board, firmware: Path, port: int, monitor: str | None = None) -> list[str]:
    """QEMU's command line for ``board`` running ``firmware``, its UART on TCP ``port``;
    ``monitor``: a Unix socket path for QEMU's monitor (to read memory), else none."""
    if board.emulator is None:
        raise InputError(f"board {board.name!r} is not emulated",
                         "flash it with `rnnmcu flash --board ... --port ...`, or pick an "
                         "emulated board (`rnnmcu boards`)")
    argv = [part.replace("{firmware}", str(firmware)) for part in board.emulator.command]
    exe = shutil.which(argv[0])
    if exe is None:
        raise ToolchainError(
            f"{argv[0]} is not installed (needed to emulate {board.name})",
            f"install the Debian package {board.emulator.package}: "
            f"sudo apt-get install {board.emulator.package}")
    argv[0] = exe
    chardev = f"socket,id=s0,host=127.0.0.1,port={port},server=on,wait=on,nodelay=on"
    flags = list(QEMU_FLAGS)
    if monitor is not None:
        flags[flags.index("-monitor") + 1] = f"unix:{monitor},server=on,wait=off"
    return argv + flags + ["-chardev", chardev, "-serial", "chardev:s0"]


class Emulator:
    """One QEMU process.  Use as a context manager, or call start() and stop() yourself."""

    def __init__(self, board: Board, firmware: str | os.PathLike[str], *,
                 start_timeout: float = 10.0, monitor: str | None = None) -> None:
        self.board = board
        self.monitor = monitor
        self.firmware = Path(firmware)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None  # type: ignore[name-defined]

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def output(self) -> str:
        """What QEMU wrote to stdout/stderr so far."""
        if self._log is None:
            return ""
        try:
            return Path(self._log.name).read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> str:
        if not self.firmware.is_file():
            raise InputError(f"firmware {self.firmware} does not exist",
                             f"build it first: rnnmcu build --board {self.board.name} ...")
        with open(self.firmware, "rb") as f:
            if f.read(4) != b"\x7fELF":
                raise InputError(f"firmware {self.firmware} is not an ELF file",
                                 f"pass the firmware.elf that rnnmcu build made for {self.board.name}")
        last = ""
        for _ in range(PORT_RETRIES):
            self.port = free_port()
            argv = emulator_command(self.board, self.firmware.resolve(), self.port, self.monitor)
            self._log = tempfile.NamedTemporaryFile(prefix="rnnmcu-qemu-", suffix=".log")
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
            self.command = argv
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if LISTEN_MARK in self.output():
                    return self.url
                if self.proc.poll() is not None:
                    break
                time.sleep(0.005)
            last = self.output().strip()
            code = self.proc.poll()
            self.stop()
            if code is None:
                raise ToolchainError(
                    f"{Path(argv[0]).name} did not open its serial socket within "
                    f"{self.start_timeout:.0f} s for {self.board.name}" + (f":\n{last}" if last else ""),
                    "check that QEMU works: " + " ".join(argv))
            if "Address already in use" not in last:
                break  # a real failure, not a lost race for the port
        raise ToolchainError(
            f"{Path(self.command[0]).name} exited before the firmware ran ({self.board.name}, "
            f"{self.firmware}):\n{last or '(no output)'}",
            "check that the firmware was built for this board, and run the command by hand: "
            + " ".join(self.command))

    def stop(self) -> None:
        """Kill QEMU's process group and reap it.  Safe to call more than once."""
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, sig)
                    try:
                        proc.wait(timeout=wait)
                        break
                    except subprocess.TimeoutExpired:
                        continue
            else:
                # QEMU is gone; anything it left in its group goes too
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def check_alive(self, cause: BaseException | None = None) -> None:
        """Raise ToolchainError with QEMU's output if it has exited."""
        if self.proc is None or self.proc.poll() is None:
            return
        time.sleep(0.05)  # let its last words reach the log
        raise ToolchainError(
            f"{Path(self.command[0]).name} exited (code {self.proc.returncode}) while running "
            f"{self.firmware} on {self.board.name}:\n{self.output().strip() or '(no output)'}",
            "check that the firmware was built for this board, and run the command by hand: "
            + " ".join(self.command)) from cause

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def launch(board: Board, firmware_path: str | os.PathLike[str], *,
           start_timeout: float = 10.0, monitor: str | None = None) -> Iterator[str]:
    """Start QEMU for ``board`` running ``firmware_path``; yield the serial URL
    (``socket://127.0.0.1:P``) for rnnmcu.hil.open_transport.  ``monitor``: QEMU's monitor on
    that Unix socket path (to read the device's memory).  QEMU is killed on exit."""
    emu = Emulator(board, firmware_path, start_timeout=start_timeout, monitor=monitor)
    try:
        yield emu.start()
    except Exception as exc:
        # QEMU loads the image only once the first client connects: if it died, its own
        # message explains the failure better than the broken link does
        emu.check_alive(exc)
        raise
    finally:
        emu.stop()
