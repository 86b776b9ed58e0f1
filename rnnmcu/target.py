"""One way to reach a device: build → run → transport → Device (pytest-embedded's app → transport →
device layering).  ``api``, ``stream``, the benches and the test fixtures all go through here.

    res = target.build("qemu-m4", gen_dir, work_dir)          # a PlatformIO project, built
    with target.launch("qemu-m4", res) as dev:                 # QEMU (or a host process) + Device
        dev.step(x)
    with target.device("qemu-m4", gen_dir, work_dir) as dev:   # both; or over --port for a real board
        ...

``running`` is the layer below ``launch`` for callers that speak another protocol over the same link
(the streaming app): it yields the transport URL of the started firmware.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

from rnnmcu.boards import emulator, platformio
from rnnmcu.boards.loader import Board, load_board
from rnnmcu.errors import InputError
from rnnmcu.hil.device import Device
from rnnmcu.hil.transport import open_transport

PathLike = str | os.PathLike[str]


def _board(board: Board | str) -> Board:
    return board if isinstance(board, Board) else load_board(board)


def build(board: Board | str, gen_dir: PathLike, work_dir: PathLike, *, project: str = "project",
          **options: Any) -> platformio.BuildResult:
    """Lay out the firmware project for ``board`` around the generated model C in ``gen_dir``
    (``work_dir``/``project``) and build it.  ``options`` go to
    :func:`rnnmcu.boards.platformio.generate_project` (``arch``, ``trace``, ``app``, ``framework``,
    ``baud``)."""
    b = _board(board)
    proj = platformio.generate_project(b, gen_dir, Path(work_dir) / project, **options)
    return platformio.build(proj, b, framework=options.get("framework"))


@contextlib.contextmanager
def running(board: Board | str, firmware: platformio.BuildResult | PathLike, *,
            monitor: str | None = None) -> Iterator[str]:
    """Start a built firmware (a BuildResult, or the firmware file): the host board as a process
    (its ``spawn:`` URL), an emulated board under QEMU (its UART's socket URL; ``monitor``: QEMU's
    monitor on that Unix socket path, to read the device's memory); stopped on exit."""
    b = _board(board)
    path = firmware.firmware_path if isinstance(firmware, platformio.BuildResult) else Path(firmware)
    if b.kind == "host":
        if monitor is not None:
            raise InputError(f"{b.name} runs as a host process: it has no QEMU monitor", "use an emulated board")
        yield f"spawn:{path}"
    elif b.kind == "emulated":
        with emulator.launch(b, path, monitor=monitor) as url:
            yield url
    else:
        raise InputError(f"{b.name} is a real board: rnnmcu cannot start it",
                         f"flash it with `rnnmcu flash --board {b.name} --port PORT`, then pass --port PORT")


@contextlib.contextmanager
def connect(url: str, *, baud: int | None = None, timeout: float | None = None,
            sync: bool = False) -> Iterator[Device]:
    """A Device over ``url`` (a serial port, ``socket://``, ``spawn:``); ``sync``: synced first."""
    kw = {} if timeout is None else {"timeout": timeout}
    transport = open_transport(url) if baud is None else open_transport(url, baudrate=baud)
    with Device(transport, **kw) as dev:
        if sync:
            dev.sync()
        yield dev


@contextlib.contextmanager
def launch(board: Board | str, result: platformio.BuildResult, *, timeout: float | None = None,
           sync: bool = False) -> Iterator[Device]:
    """Start a built firmware (:func:`running`) and yield a Device talking to it."""
    with running(board, result) as url:
        with connect(url, timeout=timeout, sync=sync) as dev:
            yield dev


@contextlib.contextmanager
def device(board: Board | str, gen_dir: PathLike, work_dir: PathLike, *, port: str | None = None,
           timeout: float | None = None, **options: Any) -> Iterator[Device]:
    """The device for ``board``: over ``port`` when given (a flashed real board, or any running
    firmware), else the firmware built from ``gen_dir`` (:func:`build`) and started here."""
    b = _board(board)
    if port is not None:
        with connect(port, baud=b.uart.baud, timeout=timeout) as dev:
            yield dev
        return
    if b.kind == "real":
        raise InputError(f"board {b.name!r} is a real board: rnnmcu test needs --port",
                         f"flash it with `rnnmcu flash --board {b.name} --port PORT`, then pass --port PORT")
    with launch(b, build(b, gen_dir, work_dir, **options), timeout=timeout) as dev:
        yield dev
