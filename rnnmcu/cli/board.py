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

from rnnmcu.boards import loader
from rnnmcu.cli import ExistingFile
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
                   out_dir: str | os.PathLike[str] | None = None, *, verbose: bool = False,
                   framework: str | None = None, baud: int | None = None, wide: bool = False,
                   input_projections: int = 0, trace: bool = False):
    """Generate the model C for ``model_path`` (.rnnmcu), a firmware project for ``board`` (with
    ``framework``, default the board's) in ``out_dir`` and build it; ``wide``: recurrent weights
    in the int16 layout (twice their flash; faster on Cortex-M with DSP and on Xtensa);
    ``input_projections``: run() computes the first layer's W x that many steps at a time;
    ``trace``: the TRACE debug build (rnnmcu inspect --port reads its intermediate tensors).  Returns
    rnnmcu.boards.platformio.BuildResult; a real board that cannot be built here raises ToolchainError
    after writing the project (its message names the folder and the command to finish)."""
    from rnnmcu.boards import platformio

    b = (board if isinstance(board, Board) else load_board(board)).with_framework(framework)
    model = Path(model_path)
    if not model.is_file():
        raise InputError(f"model file {model} does not exist",
                         "convert a Keras model first: rnnmcu convert model.keras -o model.rnnmcu")
    if out_dir is None:
        out = default_project_dir(b.name)
        out.parent.mkdir(parents=True, exist_ok=True)
    else:
        out = Path(out_dir)
    try:
        from rnnmcu.codegen import emit, qmodel
    except ImportError as exc:  # the generator is part of rnnmcu: a broken install
        raise ToolchainError(f"the rnnmcu code generator cannot be imported: {exc}",
                             "reinstall rnnmcu") from exc
    ir_model, q = qmodel.load(str(model))
    if wide and not platformio.has_wide_kernel(b):
        _progress(f"rnnmcu: note: --wide-weights speeds up Cortex-M with the DSP extension and Xtensa only; "
                  f"on {b.arch} the portable kernel runs the int16 weights (slower than the compact layout's, "
                  "and the weights take twice the flash)")
    with tempfile.TemporaryDirectory(prefix="rnnmcu-gen-") as gen:
        emit.generate(ir_model, q, gen, wide=wide, proj_steps=input_projections, trace=trace)
        project = platformio.generate_project(b, gen, out, baud=baud, trace=trace)
    _progress(f"rnnmcu: project for {b.name}"
              + (f" ({b.framework})" if b.framework else "") + f" at {project}; building")
    return platformio.build(project, b, verbose=verbose)


@click.command("build")
@click.option("--board", "-b", "board_name", required=True, metavar="BOARD",
              help="Board to build for (see `rnnmcu boards`).")
@click.option("--model", "-m", "model_path", required=True, metavar="MODEL.rnnmcu",
              type=ExistingFile("model file", "convert a Keras model first: rnnmcu convert model.keras -o model.rnnmcu"),
              help="Converted model (rnnmcu convert).")
@click.option("-o", "--output", "out_dir", default=None, metavar="DIR",
              help="Project folder (default out/fw-BOARD).")
@click.option("--framework", "framework", type=click.Choice(["arduino", "espidf"]), default=None,
              help="Framework of a real board (default: the board's, see `rnnmcu boards`).")
@click.option("--baud", type=click.IntRange(min=1), default=None, metavar="RATE",
              help="UART rate of a real board (default: the board's, e.g. 921600 on the ESP32s; "
                   "115200 if the USB bridge refuses it).")
@click.option("--wide-weights", "wide", is_flag=True,
              help="Store the recurrent weights as int16 (twice their flash): the Cortex-M DSP and "
                   "Xtensa kernels then multiply them without unpacking (a quarter, resp. a sixth, fewer "
                   "instructions per step at 128 units). Same outputs; other boards run them with "
                   "portable C, slower than their own.")
@click.option("--input-projections", "input_projections", type=int, default=0, metavar="N",
              help="run() computes the first layer's input projections N steps at a time, for "
                   "N x gates x units x 4 bytes more RAM (0: off, the default). Same outputs; measured "
                   "1-1.6% faster on Xtensa LX106 and up to 1.8% slower on Cortex-M4 and RV32 (README). "
                   "step() is unchanged.")
@click.option("--trace", is_flag=True,
              help="The TRACE debug build: it also answers TRACE, a step that returns one layer's "
                   "intermediate tensors (rnnmcu inspect --board/--port compares them with the reference).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--verbose", is_flag=True, help="Show PlatformIO's output.")
def build(board_name: str, model_path: str, out_dir: str | None, framework: str | None,
          baud: int | None, wide: bool, input_projections: int, trace: bool, as_json: bool,
          verbose: bool) -> None:
    """Build the firmware for a board: generated model + runtime + board entry, via PlatformIO
    (the host board with the native compiler).  Prints flash/RAM against the board's budget.
    Offline, a real board's project is still written; the error says how to finish it online."""
    result = build_firmware(board_name, model_path, out_dir, verbose=verbose, framework=framework,
                            baud=baud, wide=wide, input_projections=input_projections, trace=trace)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.summary())


# --- flash -------------------------------------------------------------------------------------

def project_board(project_dir: str | os.PathLike[str]) -> str | None:
    """The board a generated project is for (its platformio.ini default env), or None."""
    ini = Path(project_dir) / "platformio.ini"
    if not ini.is_file():
        return None
    import configparser
    cp = configparser.ConfigParser(interpolation=None)
    try:
        cp.read(ini, encoding="utf-8")
        return cp.get("platformio", "default_envs").split(",")[0].strip() or None
    except (configparser.Error, OSError):
        return None


def _find_project(board: str | None) -> tuple[str, Path]:
    """(board, project) when neither or only one is given: out/fw-BOARD, or the one real-board
    project under out/."""
    if board is not None:
        return board, default_project_dir(board)
    found = []
    for d in sorted(Path("out").glob("fw-*")):
        name = project_board(d)
        if name is not None:
            try:
                if load_board(name).kind == "real":
                    found.append((name, d))
            except InputError:
                continue
    if len(found) == 1:
        return found[0]
    raise InputError("which board? " + ("no real-board project under out/" if not found else
                                        "several projects under out/: "
                                        + ", ".join(str(d) for _, d in found)),
                     "pass --board BOARD (and -d DIR if the project is elsewhere)")


def flash_firmware(board: Board | str | None, port: str,
                   project_dir: str | os.PathLike[str] | None = None) -> Path:
    """Upload a built project (rnnmcu build) to a real board on ``port``.  Without ``board`` it
    is read from the project (``project_dir``, else the one real-board project under out/)."""
    from rnnmcu.boards import platformio

    if board is None:
        if project_dir is not None:
            board = project_board(project_dir)
            if board is None:
                raise InputError(f"{project_dir} is not a project made by rnnmcu build (no "
                                 "platformio.ini)", "pass the folder given to rnnmcu build -o")
        else:
            board, project_dir = _find_project(None)
    b = board if isinstance(board, Board) else load_board(board)
    proj = Path(project_dir) if project_dir is not None else default_project_dir(b.name)
    platformio.upload(proj, b, port)
    return proj


@click.command("flash")
@click.option("--board", "-b", "board_name", default=None, metavar="BOARD",
              help="Board to flash (default: the one the project was built for).")
@click.option("--port", "-p", required=True, metavar="PORT", help="Serial port, e.g. /dev/ttyUSB0.")
@click.option("-d", "--project", "project_dir", default=None, metavar="DIR",
              help="Project built by `rnnmcu build` (default out/fw-BOARD, or the only one in out/).")
def flash(board_name: str | None, port: str, project_dir: str | None) -> None:
    """Flash the built firmware to a real board (pio run -t upload)."""
    proj = flash_firmware(board_name, port, project_dir)
    click.echo(f"flashed {project_board(proj) or board_name} on {port} from {proj}")


# --- doctor ------------------------------------------------------------------------------------

def _tool_version(exe: str) -> str:
    try:
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    first = (r.stdout or r.stderr).strip().splitlines()
    return first[0] if first else "?"


def _tool_kind(cmd: str) -> str:
    return "emulator" if cmd.startswith("qemu-") else "compiler"


def doctor_report() -> dict[str, Any]:
    """What is installed, what each board needs and what is missing; never raises for a
    missing tool.  Keys: platformio, platforms, tools, serial_ports, boards."""
    from rnnmcu.boards import platformio
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
    core = provision.core_dir()
    scons_ok = (core / "packages" / "tool-scons" / "scons.py").is_file()
    installed = set(platformio.installed_platforms())
    report["platformio"] = {"installed": pio_ok, "version": pio_version, "core_dir": str(core),
                            "tool_scons": scons_ok, "platforms": sorted(installed)}
    boards_ = list_boards()

    # platforms: the bundled dev platform, and every one a real board needs
    platforms: dict[str, dict[str, Any]] = {}
    for b in boards_:
        if b.platformio is None:
            continue
        pname = loader.DEV_PLATFORM if b.platformio.is_dev_platform else \
            platformio._platform_name(b.platformio.platform)
        entry = platforms.setdefault(pname, {"boards": []})
        entry["boards"].append(b.name)
    for pname, entry in platforms.items():
        if pname == loader.DEV_PLATFORM:
            entry.update(installed=(loader.platform_dir() / "platform.json").is_file(),
                         where=str(loader.platform_dir()), next=None)
        else:
            ok = pname in installed
            entry.update(installed=ok, where=str(core / "platforms") if ok else None,
                         next=None if ok else
                         f"online, once: PLATFORMIO_CORE_DIR={core} pio pkg install -g -p {pname} "
                         "(or `rnnmcu build` when online does it)")
    report["platforms"] = platforms

    tools: dict[str, dict[str, Any]] = {}

    def add_tool(cmd: str, package: str, board: str, role: str) -> None:
        if cmd not in tools:
            path = shutil.which(cmd)
            tools[cmd] = {"kind": _tool_kind(cmd), "path": path,
                          "version": _tool_version(path) if path else None,
                          "package": package, "boards": [], "next": None if path else
                          f"sudo apt-get install {package}"}
        tools[cmd]["boards"].append(f"{board} ({role})")

    for b in boards_:
        for cmd in b.requires.commands:
            kind = _tool_kind(cmd)
            package = next((p for p in b.requires.debian_packages
                            if p.startswith("qemu") == (kind == "emulator")
                            and not p.startswith("picolibc")), None)
            add_tool(cmd, package or "?", b.name, "build" if kind == "compiler" else "run")
        if b.compile_check is not None:
            for cmd in (b.compile_check.cc, b.compile_check.cxx):
                add_tool(cmd, b.compile_check.package, b.name, "compile check")
    report["tools"] = tools

    try:
        from serial.tools import list_ports
        report["serial_ports"] = [{"device": p.device, "description": p.description}
                                  for p in list_ports.comports()]
    except ImportError:
        report["serial_ports"] = []

    per_board = {}
    for b in boards_:
        needs: list[str] = []
        missing: list[str] = []
        for c in b.requires.commands:
            needs.append(c)
            if tools[c]["path"] is None:
                missing.append(c)
        if b.kind != "host":
            needs.append("PlatformIO")
            if not pio_ok:
                missing.append("PlatformIO")
        for pn in b.requires.pio_platforms:
            needs.append(f"PlatformIO platform {pn}")
            if pn not in installed:
                missing.append(f"PlatformIO platform {pn}")
        check = None
        if b.compile_check is not None:
            cc_ok = all(tools[c]["path"] for c in (b.compile_check.cc, b.compile_check.cxx))
            check = {"compiler": b.compile_check.cc, "ready": cc_ok,
                     "next": None if cc_ok else f"sudo apt-get install {b.compile_check.package}"}
        if not missing:
            next_step = (f"rnnmcu test --board {b.name} ..." if b.kind != "real" else
                         f"rnnmcu build --board {b.name} ...; rnnmcu flash --port PORT")
        elif b.kind == "real":
            next_step = ("install the platform (see its row) when online; offline, `rnnmcu build "
                         f"--board {b.name}` writes the project for `pio run -e {b.name}` later")
        else:
            next_step = "install what is missing (see its row)"
        per_board[b.name] = {"kind": b.kind, "arch": b.arch,
                             "frameworks": list(b.platformio.frameworks) if b.platformio else [],
                             "ready": not missing, "needs": needs, "missing": missing,
                             "compile_check": check, "next": next_step}
    report["boards"] = per_board
    return report


def doctor_text(report: dict[str, Any]) -> str:
    """One table: what is installed, what each board needs, what is missing and what to do."""
    rows: list[list[str]] = []
    pio = report["platformio"]
    if pio["installed"]:
        rows.append(["platformio", "platformio", "ok",
                     f"{pio['version']}; core dir {pio['core_dir']}; tool-scons "
                     + ("provisioned" if pio["tool_scons"] else
                        "not yet provisioned (python -m rnnmcu.boards.provision; builds do it)")])
    else:
        rows.append(["platformio", "platformio", "MISSING", "pip install 'platformio>=6.1,<7'"])
    for name, p in sorted(report["platforms"].items()):
        rows.append(["platform", name, "ok" if p["installed"] else "MISSING",
                     (f"for {', '.join(p['boards'])}" if p["installed"] else
                      f"{p['next']}; needed by {', '.join(p['boards'])}")])
    for name, t in sorted(report["tools"].items(), key=lambda kv: (kv[1]["kind"], kv[0])):
        rows.append([t["kind"], name, "ok" if t["path"] else "MISSING",
                     (f"{t['version'] or t['path']}" if t["path"] else t["next"])
                     + f"; for {', '.join(t['boards'])}"])
    ports = report["serial_ports"]
    for port in ports:
        rows.append(["serial port", port["device"], "found", port["description"]])
    if not ports:
        rows.append(["serial port", "-", "none", "no serial ports found (plug in a board for "
                     "rnnmcu flash/test --port)"])
    for name, b in report["boards"].items():
        detail = "needs " + ", ".join(b["needs"]) if b["needs"] else "needs nothing more"
        if b["missing"]:
            detail += "; MISSING " + ", ".join(b["missing"])
        if b["compile_check"] is not None:
            c = b["compile_check"]
            detail += (f"; offline compile check ({c['compiler']}): "
                       + ("available" if c["ready"] else f"missing ({c['next']})"))
        detail += f"; next: {b['next']}"
        rows.append([f"board ({b['kind']})", name, "ready" if b["ready"] else "NOT READY", detail])
    return _table(["what", "name", "status", "details / next step"], rows)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(as_json: bool) -> None:
    """Check PlatformIO and its platforms, cross compilers, QEMU and serial ports; say what each
    board needs, what is missing and what to do next (one table)."""
    report = doctor_report()
    click.echo(json.dumps(report, indent=2) if as_json else doctor_text(report))
