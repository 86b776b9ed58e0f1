"""Byte links to a device: a pyserial URL (a port path, ``socket://``, ``loop://``, ``rfc2217://``)
or ``spawn:CMD ARGS`` (a subprocess on stdin/stdout pipes, the ``host`` board).

Every read takes a timeout and returns what arrived (possibly nothing); nothing blocks forever.
"""
from __future__ import annotations

import os
import select
import shlex
import signal
import subprocess
import tempfile
import time
from typing import Protocol

from rnnmcu.errors import DeviceError, InputError


class Transport(Protocol):
    url: str

    def write(self, data: bytes) -> None: ...

    def read(self, n: int, timeout: float) -> bytes:
        """Return 1..n bytes as soon as any arrive, or b"" after ``timeout`` seconds."""
        ...

    def close(self) -> None: ...

    def describe(self) -> str:
        """Extra context for error messages (for a subprocess: its exit status and stderr)."""
        ...


class SerialTransport:
    """A pyserial port opened with ``serial.serial_for_url``."""

    def __init__(self, url: str, baudrate: int = 115200) -> None:
        import serial  # pyserial; imported here so codec users do not need it

        self.url = url
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.1, write_timeout=5.0)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DeviceError(
                f"cannot open serial port {url!r}: {exc}",
                "check the path (ls /dev/tty*), your permission (the dialout group) and that no "
                "other program (a serial monitor, an emulator) holds the port",
            ) from exc
        self._serial_exc = serial.SerialException

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (self._serial_exc, OSError) as exc:
            raise DeviceError(f"writing to {self.url} failed: {exc}",
                              "is the device still connected / the emulator still running?") from exc

    def read(self, n: int, timeout: float) -> bytes:
        try:
            self._port.timeout = max(timeout, 0.0)
            first = self._port.read(1)
            if not first:
                return b""
            waiting = min(self._port.in_waiting, n - 1)
            return first + (self._port.read(waiting) if waiting > 0 else b"")
        except (self._serial_exc, OSError) as exc:
            raise DeviceError(f"reading from {self.url} failed: {exc}",
                              "is the device still connected / the emulator still running?") from exc

    def close(self) -> None:
        try:
            self._port.close()
        except (self._serial_exc, OSError):
            pass

    def describe(self) -> str:
        return f"serial link {self.url}"


class SpawnTransport:
    """A subprocess (in its own process group) whose stdin/stdout are the link; stderr goes to a
    temporary file so that its last lines can be shown when something goes wrong."""

    def __init__(self, url: str, argv: list[str], cwd: str | None = None) -> None:
        self.url = url
        self.argv = argv
        self._stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                cwd=cwd, start_new_session=True, bufsize=0)
        except OSError as exc:
            self._stderr.close()
            raise DeviceError(f"cannot start {argv[0]!r}: {exc}",
                              "check the command after 'spawn:' (path, build it first)") from exc
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._out_fd = self.proc.stdout.fileno()

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def stderr_text(self, limit: int = 4000) -> str:
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            data = self._stderr.read()
        except (OSError, ValueError):
            return ""
        text = data.decode("utf-8", errors="replace")
        return text if len(text) <= limit else "..." + text[-limit:]

    def describe(self) -> str:
        rc = self.proc.poll()
        state = "running" if rc is None else f"exited with status {rc}"
        err = self.stderr_text(1500).strip()
        return f"process {shlex.join(self.argv)} ({state})" + (f"; its stderr:\n{err}" if err else "")

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise DeviceError(f"writing to the device process failed: {exc}; {self.describe()}",
                              "the device process died: see its stderr above") from exc

    def read(self, n: int, timeout: float) -> bytes:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            left = deadline - time.monotonic()
            try:
                ready, _, _ = select.select([self._out_fd], [], [], max(left, 0.0))
            except InterruptedError:
                continue
            if ready:
                data = os.read(self._out_fd, n)
                if not data:
                    # wait briefly so the exit status is known for the message
                    try:
                        self.proc.wait(timeout=1.0)
                    except subprocess.TimeoutExpired:
                        pass
                    raise DeviceError(f"the device process closed its output; {self.describe()}",
                                      "the device process ended: see its stderr above")
                return data
            if left <= 0:
                return b""

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self._kill_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                pass
            # whatever the leader started (an emulator under a wrapper script) goes too
            self._kill_group(signal.SIGKILL)
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    def _kill_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def open_transport(url: str, *, baudrate: int = 115200, cwd: str | None = None) -> Transport:
    """Open ``url``: ``spawn:CMD ARGS`` runs a process; anything else goes to pyserial."""
    if not url or not url.strip():
        raise InputError("no device given", "pass a serial port (/dev/ttyUSB0, socket://host:port) "
                         "or spawn:<command> for the host board")
    if url.startswith("spawn:"):
        try:
            argv = shlex.split(url[len("spawn:"):])
        except ValueError as exc:
            raise InputError(f"cannot parse the command in {url!r}: {exc}",
                             "quote the command like a shell would") from exc
        if not argv:
            raise InputError(f"{url!r} names no command", "write spawn:<path to the host firmware>")
        return SpawnTransport(url, argv, cwd=cwd)
    return SerialTransport(url, baudrate=baudrate)
