"""Board commands: `rnnmcu boards`, `build`, `flash`, `doctor` (registered lazily by rnnmcu.cli).

Each command only parses its arguments and calls a plain function here that scripts and tests
can call too: board_rows(), build_firmware(), flash_firmware(), doctor_report().  Results go to
stdout (with --json where a script would read them), progress to stderr.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from rnnmcu.boards.loader import Board, list_boards, load_board
from rnnmcu.errors import InputError, ToolchainError


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr)


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB" if n else "-"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


# --- boards ------------------------------------------------------------------------------------

def board_rows(boards: list[Board] | None = None) -> list[dict[str, Any]]:
    return [b.to_dict() for b in (boards if boards is not None else list_boards())]


def boards_text(boards: list[Board] | None = None) -> str:
    rows = []
    for b in boards if boards is not None else list_boards():
        runs = ("native process" if b.kind == "host" else
                " ".join(b.emulator.command[:3]) if b.emulator else
                f"pio {b.platformio.platform}/{b.platformio.board}" if b.platformio else "-")
        counter = "none" if b.counter.kind == "none" else f"{b.counter.kind}/{b.counter.scale}"
        clock = f"{b.clock_hz / 1e6:g} MHz" if b.clock_hz else "-"
        rows.append([b.name, b.kind, b.arch, b.cpu, clock, counter, _kib(b.flash_bytes),
                     _kib(b.ram_bytes), runs])
    return _table(["board", "kind", "arch", "cpu", "clock", "counter", "flash", "RAM", "runs on"],
                  rows)


@click.command("boards")
@click.option("--json", "as_json", is_flag=True, help="Print the board records as JSON.")
def boards(as_json: bool) -> None:
    """List the boards rnnmcu can build for (boards/*.toml)."""
    if as_json:
        click.echo(json.dumps(board_rows(), indent=2))
    else:
        click.echo(boards_text())


# --- build -------------------------------------------------------------------------------------

def default_project_dir(board: str) -> Path:
    return Path("out") / f"fw-{board}"


def build_firmware(board: Board | str, model_path: str | os.PathLike[str],
                   out_dir: str | os.PathLike[str] | None = None, *, verbose: bool = False):
    """Generate the model C for ``model_path`` (.rnnmcu), a firmware project for ``board`` in
    ``out_dir`` and build it.  Returns rnnmcu.platformio.BuildResult."""
    from rnnmcu import platformio

    b = board if isinstance(board, Board) else load_board(board)
    model = Path(model_path)
    if not model.is_file():
        raise InputError(f"model file {model} does not exist",
                         "convert a Keras model first: rnnmcu convert model.keras -o model.rnnmcu")
    out = Path(out_dir) if out_dir is not None else default_project_dir(b.name)
    try:
        from rnnmcu.codegen import emit, qmodel
    except ImportError as exc:  # the generator is part of rnnmcu: a broken install
        raise ToolchainError(f"the rnnmcu code generator cannot be imported: {exc}",
                             "reinstall rnnmcu") from exc
    ir_model, q = qmodel.load(str(model))
    with tempfile.TemporaryDirectory(prefix="rnnmcu-gen-") as gen:
        emit.generate(ir_model, q, gen)
        project = platformio.generate_project(b, gen, out)
    _progress(f"rnnmcu: project for {b.name} at {project}; building")
    return platformio.build(project, b, verbose=verbose)


@click.command("build")
@click.option("--board", "-b", "board_name", required=True, metavar="BOARD",
              help="Board to build for (see `rnnmcu boards`).")
@click.option("--model", "-m", "model_path", required=True, metavar="MODEL.rnnmcu",
              help="Converted model (rnnmcu convert).")
@click.option("-o", "--output", "out_dir", default=None, metavar="DIR",
              help="Project folder (default out/fw-BOARD).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--verbose", is_flag=True, help="Show PlatformIO's output.")
def build(board_name: str, model_path: str, out_dir: str | None, as_json: bool, verbose: bool) -> None:
    """Build the firmware for a board: generated model + runtime + board entry, via PlatformIO
    (the host board with the native compiler).  Prints flash/RAM against the board's budget."""
    result = build_firmware(board_name, model_path, out_dir, verbose=verbose)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.summary())


# --- flash -------------------------------------------------------------------------------------

def flash_firmware(board: Board | str, port: str, project_dir: str | os.PathLike[str] | None = None) -> Path:
    """Upload a built project (rnnmcu build) to a real board on ``port``."""
    from rnnmcu import platformio

    b = board if isinstance(board, Board) else load_board(board)
    proj = Path(project_dir) if project_dir is not None else default_project_dir(b.name)
    platformio.upload(proj, b, port)
    return proj


@click.command("flash")
@click.option("--board", "-b", "board_name", required=True, metavar="BOARD",
              help="Board to flash (see `rnnmcu boards`).")
@click.option("--port", "-p", required=True, metavar="PORT", help="Serial port, e.g. /dev/ttyUSB0.")
@click.option("-d", "--project", "project_dir", default=None, metavar="DIR",
              help="Project built by `rnnmcu build` (default out/fw-BOARD).")
def flash(board_name: str, port: str, project_dir: str | None) -> None:
    """Flash the built firmware to a real board (pio run -t upload)."""
    proj = flash_firmware(board_name, port, project_dir)
    click.echo(f"flashed {board_name} on {port} from {proj}")


# --- doctor ------------------------------------------------------------------------------------

def _tool_version(exe: str) -> str:
    try:
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    first = (r.stdout or r.stderr).strip().splitlines()
    return first[0] if first else "?"


def doctor_report() -> dict[str, Any]:
    """What is installed and which boards are ready; never raises for a missing tool."""
    from rnnmcu import platformio
    from rnnmcu.boards import provision

    report: dict[str, Any] = {}
    try:
        from importlib.metadata import version
        pio_version: str | None = version("platformio")
    except Exception:  # noqa: BLE001 - not installed, or broken metadata
        pio_version = None
    try:
        platformio.pio_command()
        pio_ok = True
    except ToolchainError:
        pio_ok = False
    scons_ok = (provision.core_dir() / "packages" / "tool-scons" / "scons.py").is_file()
    report["platformio"] = {"installed": pio_ok, "version": pio_version,
                            "core_dir": str(provision.core_dir()), "tool_scons": scons_ok,
                            "platforms": sorted(platformio.installed_platforms())}
    boards_ = list_boards()
    tools: dict[str, dict[str, Any]] = {}
    for b in boards_:
        for cmd in b.requires.commands:
            if cmd not in tools:
                path = shutil.which(cmd)
                tools[cmd] = {"path": path, "version": _tool_version(path) if path else None}
    report["tools"] = tools
    try:
        from serial.tools import list_ports
        report["serial_ports"] = [{"device": p.device, "description": p.description}
                                  for p in list_ports.comports()]
    except ImportError:
        report["serial_ports"] = []
    per_board = {}
    installed = set(report["platformio"]["platforms"])
    for b in boards_:
        missing = [f"{c} (Debian: {' '.join(b.requires.debian_packages) or '?'})"
                   for c in b.requires.commands if tools[c]["path"] is None]
        if b.kind != "host" and not pio_ok:
            missing.append("PlatformIO (pip install platformio)")
        for p in b.requires.pio_platforms:
            if p not in installed:
                missing.append(f"PlatformIO platform {p} (online: pio pkg install -g -p {p})")
        per_board[b.name] = {"kind": b.kind, "ready": not missing, "missing": missing}
    report["boards"] = per_board
    return report


def doctor_text(report: dict[str, Any]) -> str:
    pio = report["platformio"]
    out = ["PlatformIO: " + (f"{pio['version']} (core dir {pio['core_dir']}; tool-scons "
                             f"{'provisioned' if pio['tool_scons'] else 'not yet provisioned: python -m rnnmcu.boards.provision'}; "
                             f"platforms: {', '.join(pio['platforms']) or 'none'})"
                             if pio["installed"] else "not installed (pip install platformio)"), ""]
    out.append(_table(["tool", "found", "version"],
                      [[n, t["path"] or "MISSING", t["version"] or "-"]
                       for n, t in sorted(report["tools"].items())]))
    out.append("")
    ports = report["serial_ports"]
    out.append("serial ports: " + (", ".join(f"{p['device']} ({p['description']})" for p in ports)
                                   if ports else "none found"))
    out.append("")
    out.append(_table(["board", "kind", "status"],
                      [[n, b["kind"], "ready" if b["ready"] else "missing: " + "; ".join(b["missing"])]
                       for n, b in report["boards"].items()]))
    return "\n".join(out)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(as_json: bool) -> None:
    """Check PlatformIO, cross compilers, QEMU and serial ports; say which boards are ready."""
    report = doctor_report()
    click.echo(json.dumps(report, indent=2) if as_json else doctor_text(report))
