"""One exception tree for every failure a user can meet; each class maps to an exit code.

0 ok · 1 mismatch / failed check · 2 usage or bad input · 3 toolchain / PlatformIO / emulator ·
4 serial / device · 130 interrupted.  Messages say what went wrong *and* what to do next.
"""
from __future__ import annotations


class RnnmcuError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  next: {self.hint}"


class CheckFailed(RnnmcuError):
    """The device or a model disagreed with the reference, or a check did not pass."""
    exit_code = 1


class InputError(RnnmcuError):
    """Bad input from the user: a file, a shape, a model, an option."""
    exit_code = 2


class UnsupportedModelError(InputError):
    """The Keras model uses a layer or option rnnmcu cannot import."""


class ToolchainError(RnnmcuError):
    """A compiler, PlatformIO, QEMU or another tool is missing or failed."""
    exit_code = 3


class DeviceError(RnnmcuError):
    """The serial link or the device misbehaved: unreachable port, timeout, corrupt frames."""
    exit_code = 4
