"""Firmware projects for a board: generate a complete PlatformIO project, build it, check its size.

    from rnnmcu.boards.platformio import generate_project, build
    proj = generate_project("qemu-m4", "gen/", "out/fw-qemu-m4")  # gen/: the generated model C
    result = build(proj, "qemu-m4")     # -> BuildResult(firmware_path, flash_bytes, ram_bytes)

The project is self-contained: ``platformio.ini`` with one env named after the board, ``src/``
holding the board entry files, and ``lib/rnnmcu/`` holding the portable runtime and firmware app
(a PlatformIO library with a ``library.json``).  The generated model files go to ``src/`` for
boards without a framework (everything there builds with -std=c99 -Werror) and to the library
``lib/rnnmcu_model/`` for framework boards (Arduino, ESP-IDF), so that the strict flags apply to
rnnmcu's C and not to the framework headers the entry includes.  An ESP-IDF project also gets the
``CMakeLists.txt`` files and ``sdkconfig.defaults`` PlatformIO's espidf builder needs.

Emulated boards use the project's own dev platform (``platform = symlink://…``) and build
offline.  Real boards use their PlatformIO platform: if it is not installed and the PlatformIO
registry cannot be reached, build() fails within seconds, naming the generated project and the
`pio run` to finish it online.  The ``host`` board is compiled with the native C compiler,
without PlatformIO.

Every PlatformIO call runs with rnnmcu's own core directory (see rnnmcu.boards.provision),
telemetry and upgrade checks off.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import rnnmcu
from rnnmcu.boards.loader import Board, load_board, platform_dir
from rnnmcu.boards.provision import core_dir, pio_environment, provision
from rnnmcu.errors import InputError, ToolchainError

C_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2")
# the board entry of a framework board includes the framework's headers, which rnnmcu does not
# control: warnings are shown, not fatal (rnnmcu's own C keeps C_FLAGS through its libraries)
ENTRY_FLAGS = ("-Wall", "-Wextra")
MODEL_LIB = "rnnmcu_model"
BUILD_TIMEOUT = 600.0
REGISTRY_TIMEOUT = 3.0
FIRMWARE_NAMES = {"host": "firmware", "default": "firmware.elf"}


@dataclass(frozen=True)
class BuildResult:
    firmware_path: Path
    flash_bytes: int
    ram_bytes: int
    board: str = ""
    flash_budget: int = 0      # 0: no limit
    ram_budget: int = 0
    seconds: float = 0.0
    log_path: Path | None = None

    def summary(self) -> str:
        def line(what: str, used: int, budget: int) -> str:
            if not budget:
                return f"{what}: {used:,} bytes"
            return f"{what}: {used:,} of {budget:,} bytes ({100.0 * used / budget:.1f}%)"
        return (f"{self.board}: {self.firmware_path}\n  " + line("flash", self.flash_bytes, self.flash_budget)
                + "\n  " + line("RAM", self.ram_bytes, self.ram_budget))

    def to_dict(self) -> dict[str, object]:
        return {"board": self.board, "firmware": str(self.firmware_path),
                "flash_bytes": self.flash_bytes, "flash_budget": self.flash_budget,
                "ram_bytes": self.ram_bytes, "ram_budget": self.ram_budget,
                "seconds": round(self.seconds, 3)}


def _board(board: Board | str) -> Board:
    return board if isinstance(board, Board) else load_board(board)


def firmware_root() -> Path:
    return Path(str(resources.files("rnnmcu.firmware")))


# --- project generation ------------------------------------------------------------------------

def _check_gen_dir(gen_dir: Path) -> list[Path]:
    if not gen_dir.is_dir():
        raise InputError(f"generated model folder {gen_dir} does not exist",
                         "generate the model C first: rnnmcu generate MODEL.rnnmcu -o DIR")
    files = sorted(p for p in gen_dir.iterdir() if p.is_file() and p.suffix in (".c", ".h"))
    sources = [p for p in files if p.suffix == ".c"]
    if not sources:
        raise InputError(f"{gen_dir} holds no generated C files (*.c)",
                         "generate the model C first: rnnmcu generate MODEL.rnnmcu -o DIR")
    if not any("rnnmcu_app_model" in p.read_text(errors="replace") for p in sources):
        raise InputError(f"no C file in {gen_dir} defines rnnmcu_app_model (the app's model binding)",
                         "regenerate the model with rnnmcu generate: it writes rnnmcu_app_model.c")
    return files


def _runtime_files(board: Board, arch: bool = True) -> list[tuple[Path, str]]:
    """(source, path inside lib/rnnmcu/src) for the runtime and the app.  With ``arch`` the
    board's ``firmware/src/arch/<board.arch>/`` kernels come too, and each replaces the portable
    file of the same name (TFLite Micro's pattern); ``arch=False`` builds the portable C only."""
    fw = firmware_root()
    arch_dir = fw / "src" / "arch" / board.arch
    arch_files = sorted(p for p in arch_dir.rglob("*") if p.is_file() and p.suffix in (".c", ".h", ".S", ".s")) \
        if arch and arch_dir.is_dir() else []
    replaced = {p.name for p in arch_files}
    out: list[tuple[Path, str]] = []
    for folder in (fw / "src", fw / "app"):
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.suffix in (".c", ".h") and not (folder.name == "src" and p.name in replaced):
                out.append((p, p.name))
    for p in arch_files:
        out.append((p, str(Path("arch") / board.arch / p.relative_to(arch_dir))))
    return out


def has_wide_kernel(board: Board) -> bool:
    """Whether the board's arch has its own kernel for the wide weight layout (``--wide-weights``:
    Cortex-M with DSP, Xtensa); elsewhere the portable C runs it, slower than the compact layout's
    arch kernel."""
    return (firmware_root() / "src" / "arch" / board.arch / "rnnmcu_matvec_w16_s16.c").is_file()


def _entry_files(board: Board) -> list[Path]:
    folder = firmware_root() / "boards" / board.entry
    if not folder.is_dir():
        raise ToolchainError(f"the board entry files for {board.name} (firmware/boards/{board.entry}) "
                             "are missing from the installed rnnmcu",
                             "reinstall rnnmcu; if the board file is your own, add its entry folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _ini_list(values: list[str] | tuple[str, ...]) -> str:
    return "\n    ".join([""] + list(values)) if values else ""


def _uses_framework(board: Board) -> bool:
    return board.platformio is not None and board.platformio.framework is not None


def _baud(board: Board, baud: int | None) -> int:
    if baud is not None:
        if baud <= 0:
            raise InputError(f"baud rate {baud} is not positive", "use e.g. --baud 115200")
        return baud
    return board.uart.baud or 115200


def platformio_ini(board: Board, *, baud: int | None = None) -> str:
    pio = board.platformio
    if pio is None:
        raise InputError(f"board {board.name!r} has no PlatformIO environment",
                         "the host board builds without PlatformIO: use rnnmcu build --board host")
    rate = _baud(board, baud)
    platform = f"symlink://{platform_dir().resolve()}" if pio.is_dev_platform else pio.platform
    lines = [f"; Generated by rnnmcu {rnnmcu.__version__} for board {board.name}"
             + (f" ({pio.framework})" if pio.framework else "") + ": regenerate it rather than edit it.",
             "[platformio]", f"default_envs = {board.name}", "",
             f"[env:{board.name}]", f"platform = {platform}", f"board = {pio.board}"]
    if pio.framework:
        lines.append(f"framework = {pio.framework}")
    flags = list(board.cpu_flags) + list(pio.build_flags)
    options = dict(pio.options)
    if pio.framework:
        # what the framework entry (firmware/boards/arduino, .../espidf) reports in INFO
        flags += [f"'-DRNNMCU_BOARD_NAME=\"{board.name}\"'", f"-DRNNMCU_CLOCK_HZ={board.clock_hz}u",
                  f"-DRNNMCU_COUNTER_KIND={board.counter.kind_code}",
                  f"-DRNNMCU_COUNTER_SCALE={board.counter.scale}",
                  f"-DRNNMCU_BAUD={rate}", "-O2", "-Ilib/rnnmcu/src"]
        lines.append("build_flags =" + _ini_list(flags))
        # src/ holds only the entry; rnnmcu's C builds with C_FLAGS through library.json
        lines.append("build_src_flags =" + _ini_list(list(ENTRY_FLAGS)))
        lines += [f"lib_deps =" + _ini_list(["rnnmcu", MODEL_LIB])]
        if pio.framework == "espidf":
            options.setdefault("board_build.partitions", ESPIDF_PARTITIONS)
    else:
        lines.append("build_flags =" + _ini_list(list(C_FLAGS) + flags))
        lines.append("lib_deps = rnnmcu")
    lines += ["lib_ldf_mode = chain",
              f"board_upload.maximum_size = {board.flash_bytes}",
              f"board_upload.maximum_ram_size = {board.ram_bytes}",
              f"monitor_speed = {rate}"]
    for key, value in sorted(options.items()):
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def library_json(board: Board, name: str = "rnnmcu") -> str:
    flags = list(C_FLAGS) if _uses_framework(board) else []
    description = ("rnnmcu portable runtime (kernels, activation tables) and firmware app "
                   "(framed serial protocol)" if name == "rnnmcu" else
                   "the model generated by rnnmcu (weights, tables, the app's model binding)")
    return json.dumps({
        "name": name,
        "version": rnnmcu.__version__,
        "description": description,
        "frameworks": "*", "platforms": "*",
        "build": {"srcDir": "src", "includeDir": "src", "libArchive": False, "flags": flags},
    }, indent=2) + "\n"


# --- ESP-IDF project files (PlatformIO's espidf builder runs ESP-IDF's CMake on the project) ---

ESPIDF_PARTITIONS = "partitions_singleapp_large.csv"  # 1.5 MB factory app (ESP-IDF's own table)

ESPIDF_TOP_CMAKE = """\
# Generated by rnnmcu {version}: ESP-IDF's project file.  PlatformIO's espidf builder runs it;
# src/ is the main component (src/CMakeLists.txt), lib/ holds PlatformIO libraries.
cmake_minimum_required(VERSION 3.16.0)
include($ENV{{IDF_PATH}}/tools/cmake/project.cmake)
project({project})
"""

ESPIDF_SRC_CMAKE = """\
# Generated by rnnmcu {version}: the board entry is the main component.
FILE(GLOB_RECURSE app_sources ${{CMAKE_SOURCE_DIR}}/src/*.*)
idf_component_register(SRCS ${{app_sources}})
"""


def _kconfig_bool(name: str, on: bool) -> str:
    return f"{name}=y" if on else f"# {name} is not set"


def sdkconfig_defaults(board: Board, *, baud: int | None = None) -> str:
    """ESP-IDF settings the espidf entry relies on.  Names for ESP-IDF v5 first, then the v4.4
    names (ESP-IDF v5 maps those through its sdkconfig.rename; v4.4 ignores the v5 ones)."""
    mhz = board.clock_hz // 1_000_000
    chip = board.cpu.upper()
    lines = [f"# Generated by rnnmcu {rnnmcu.__version__} for board {board.name} (ESP-IDF): "
             "regenerate it rather than edit it.",
             "# CPU clock (reported in INFO)",
             f"CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_{mhz}=y",
             f"CONFIG_{chip}_DEFAULT_CPU_FREQ_{mhz}=y",
             "# UART0 carries the protocol: the console keeps its pins, at the same rate, and stays quiet",
             "CONFIG_ESP_CONSOLE_UART_DEFAULT=y",
             f"CONFIG_ESP_CONSOLE_UART_BAUDRATE={_baud(board, baud)}",
             "CONFIG_LOG_DEFAULT_LEVEL_NONE=y", "CONFIG_BOOTLOADER_LOG_LEVEL_NONE=y",
             "# a long BENCH or RUN keeps the main task busy: no task watchdog on the idle task",
             _kconfig_bool("CONFIG_ESP_TASK_WDT_INIT", False), _kconfig_bool("CONFIG_ESP_TASK_WDT", False),
             "CONFIG_ESP_MAIN_TASK_STACK_SIZE=8192",
             "# the same -O2 as the other boards",
             "CONFIG_COMPILER_OPTIMIZATION_PERF=y",
             f"# app partition: {ESPIDF_PARTITIONS} (also board_build.partitions in platformio.ini)",
             "CONFIG_PARTITION_TABLE_SINGLE_APP_LARGE=y"]
    extra = board.platformio.sdkconfig if board.platformio is not None else {}
    if extra:
        lines.append("# from the board file")
        lines += [f"{k}={v}" for k, v in sorted(extra.items())]
    return "\n".join(lines) + "\n"


def _readme(board: Board) -> str:
    pio = board.platformio
    assert pio is not None
    return (f"rnnmcu {rnnmcu.__version__}: firmware project for {board.title} ({board.name}, "
            f"PlatformIO {pio.platform}/{pio.board}, framework {pio.framework}).\n\n"
            f"Build (online once, to download the {pio.platform} platform):  pio run -e {board.name}\n"
            f"Flash:  pio run -e {board.name} -t upload --upload-port PORT   "
            f"(or: rnnmcu flash --board {board.name} --port PORT -d THIS_FOLDER)\n"
            f"Test:   rnnmcu test --board {board.name} --port PORT --model M.rnnmcu --data D.npz\n\n"
            "src/ holds the board entry, lib/rnnmcu/ the runtime and firmware app, "
            f"lib/{MODEL_LIB}/ the generated model.\n")


APPS = ("test", "stream")


def _stream_app_files(b: Board, app: str, runtime: list[tuple[Path, str]],
                      entry: list[Path]) -> tuple[list[tuple[Path, str]], list[Path]]:
    """The streaming app (firmware/stream/) implements the same board hooks as the test app: it
    replaces the test app's dispatcher (rnnmcu_app.c) and keeps its COBS and CRC.  A framework
    board with a sensor entry (firmware/boards/<entry>-stream/) gets that entry instead."""
    if app not in APPS:
        raise InputError(f"unknown firmware app {app!r}", f"use one of {', '.join(APPS)}")
    fw = firmware_root()
    kept = [(s, r) for s, r in runtime if not (s.parent.name == "app" and s.name == "rnnmcu_app.c")]
    kept += [(p, p.name) for p in sorted((fw / "stream").iterdir()) if p.is_file() and p.suffix in (".c", ".h")]
    sensor = fw / "boards" / f"{b.entry}-stream"
    if _uses_framework(b) and sensor.is_dir():
        entry = sorted(p for p in sensor.iterdir() if p.is_file() and not p.name.startswith("."))
    return kept, entry


BUILD_CONFIG = "rnnmcu_build_config.h"


def build_config(trace: bool = False) -> str:
    """The runtime's build options header (firmware/src/rnnmcu_build_config.h) for a project."""
    lines = [f"/* Generated by rnnmcu {rnnmcu.__version__}: this build's runtime options. */",
             "#ifndef RNNMCU_BUILD_CONFIG_H", "#define RNNMCU_BUILD_CONFIG_H"]
    if trace:
        lines.append("#define RNNMCU_TRACE 1 /* the TRACE debug build: rnnmcu build --trace */")
    return "\n".join(lines + ["#endif", ""])


def generate_project(board: Board | str, gen_dir: str | os.PathLike[str],
                     out_dir: str | os.PathLike[str], *, framework: str | None = None,
                     baud: int | None = None, arch: bool = True, app: str = "test",
                     trace: bool = False) -> Path:
    """Write a complete firmware project for ``board`` into ``out_dir`` (created or updated; a
    previous build cache in it is kept).  ``framework`` picks one of the board's frameworks
    (default: the board's own), ``baud`` overrides the board's UART rate, ``arch=False`` leaves
    the per-arch kernels out (the portable C only, for comparisons), ``app="stream"`` builds
    the streaming classifier (firmware/stream/) instead of the test firmware, ``trace=True`` the
    TRACE debug build (the model generated with ``trace`` too).  All files are written to a
    temporary folder first, so a failure leaves ``out_dir`` as it was."""
    b = _board(board).with_framework(framework)
    gen = Path(gen_dir)
    out = Path(out_dir)
    model_files = _check_gen_dir(gen)
    runtime = _runtime_files(b, arch)
    entry = _entry_files(b)
    if app != "test":  # ``app="stream"``: the streaming classifier instead of the test firmware
        runtime, entry = _stream_app_files(b, app, runtime, entry)
    in_lib = _uses_framework(b)
    if baud is not None and b.kind != "real":
        raise InputError(f"--baud is for real boards; {b.name} talks over "
                         f"{'a pipe' if b.kind == 'host' else 'the emulator'}", "leave it out")
    rate = _baud(b, baud)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder", "choose another output folder (-o)")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise InputError(f"folder {parent} does not exist", "create it or choose another -o")
    taken = {p.name for p in model_files} | {"CMakeLists.txt"}
    for p in entry:
        if p.name in taken:
            raise InputError(f"generated file {p.name} in {gen} clashes with the board entry file of "
                             f"{b.name}", "rename the model (the generated files carry its name)")
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as exc:
        raise InputError(f"cannot write into {parent}: {exc.strerror}",
                         "choose a writable output folder (-o)") from exc
    written = ["src", "lib", "platformio.ini", "README.txt", "CMakeLists.txt", "sdkconfig.defaults"]
    try:
        (stage / "src").mkdir()
        for p in entry:
            shutil.copyfile(p, stage / "src" / p.name)
        model_dst = stage / "lib" / MODEL_LIB / "src" if in_lib else stage / "src"
        model_dst.mkdir(parents=True, exist_ok=True)
        for p in model_files:
            shutil.copyfile(p, model_dst / p.name)
        if in_lib:
            (stage / "lib" / MODEL_LIB / "library.json").write_text(library_json(b, MODEL_LIB))
        lib = stage / "lib" / "rnnmcu"
        (lib / "src").mkdir(parents=True)
        for src, rel in runtime:
            dst = lib / "src" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        (lib / "library.json").write_text(library_json(b))
        if trace:
            (lib / "src" / BUILD_CONFIG).write_text(build_config(trace=True))
        if b.kind == "host":
            (stage / "README.txt").write_text(
                f"rnnmcu {rnnmcu.__version__}: host firmware project (built with the native C "
                "compiler by `rnnmcu build --board host`; sources in src/ and lib/rnnmcu/src/).\n")
        else:
            (stage / "platformio.ini").write_text(platformio_ini(b, baud=rate))
        if b.kind == "real":
            (stage / "README.txt").write_text(_readme(b))
        if b.framework == "espidf":
            project = re.sub(r"[^A-Za-z0-9_]", "_", f"rnnmcu_{b.name}")
            (stage / "CMakeLists.txt").write_text(
                ESPIDF_TOP_CMAKE.format(version=rnnmcu.__version__, project=project))
            (stage / "src" / "CMakeLists.txt").write_text(
                ESPIDF_SRC_CMAKE.format(version=rnnmcu.__version__))
            (stage / "sdkconfig.defaults").write_text(sdkconfig_defaults(b, baud=rate))
        out.mkdir(exist_ok=True)
        for name in written:
            old = out / name
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
            if (stage / name).exists():
                os.replace(stage / name, old)
        if b.framework == "espidf":
            # the sdkconfig PlatformIO derived from an earlier sdkconfig.defaults would win over
            # the new one: drop it so that it is derived again
            (out / f"sdkconfig.{b.name}").unlink(missing_ok=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


# --- sizes -------------------------------------------------------------------------------------

def elf_sizes(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(flash, ram) of an ELF file from its section table: flash = allocated sections with
    contents (code, constants, initialised data); RAM = writable allocated sections (data, bss,
    stack reservation)."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF":
        raise ToolchainError(f"{path} is not an ELF file", "rebuild the firmware")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
    flash = ram = 0
    for i in range(shnum):
        off = shoff + i * shentsize
        if is64:
            _, sh_type, flags, _, _, size = struct.unpack_from(end + "IIQQQQ", data, off)
        else:
            _, sh_type, flags, _, _, size = struct.unpack_from(end + "IIIIII", data, off)
        if not flags & 0x2:  # SHF_ALLOC
            continue
        if sh_type != 8:  # SHT_NOBITS
            flash += size
        if flags & 0x1:  # SHF_WRITE
            ram += size
    return flash, ram


def _check_fit(b: Board, flash: int, ram: int, firmware: Path) -> None:
    over = []
    if b.flash_bytes and flash > b.flash_bytes:
        over.append(f"flash {flash:,} bytes > budget {b.flash_bytes:,}")
    if b.ram_bytes and ram > b.ram_bytes:
        over.append(f"RAM {ram:,} bytes > budget {b.ram_bytes:,}")
    if over:
        raise InputError(f"the model does not fit {b.name}: " + ", ".join(over) + f" ({firmware})",
                         "use a smaller model (fewer units or layers) or int8 precision, or a "
                         "board with more memory (`rnnmcu boards`)")


# --- building ----------------------------------------------------------------------------------

def pio_command() -> list[str]:
    """How to run PlatformIO: the one installed with rnnmcu, else `pio` on PATH."""
    if importlib.util.find_spec("platformio") is not None:
        return [sys.executable, "-m", "platformio"]
    exe = shutil.which("pio") or shutil.which("platformio")
    if exe:
        return [exe]
    raise ToolchainError("PlatformIO is not installed",
                         "pip install 'platformio>=6.1,<7' in rnnmcu's environment (make setup does)")


def installed_platforms() -> dict[str, Path]:
    """PlatformIO platforms installed in rnnmcu's core dir: name -> folder."""
    found: dict[str, Path] = {}
    root = core_dir() / "platforms"
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if d.suffix == ".pio-link":  # a symlink:// platform: the manifest is at its target
                try:
                    uri = json.loads(d.read_text())["spec"]["uri"]
                    d = Path(uri[len("symlink://"):])
                except (OSError, ValueError, KeyError, TypeError):
                    continue
            if not d.is_dir():
                continue
            manifest = d / "platform.json"
            try:
                name = json.loads(manifest.read_text()).get("name") if manifest.is_file() else None
            except (OSError, ValueError):
                name = None
            found[str(name or d.name.split("@")[0])] = d
    return found


def _platform_name(spec: str) -> str:
    """'espressif32', 'platformio/espressif32@^6' or a URL -> the platform's name."""
    name = spec.split("@")[0].rstrip("/").split("/")[-1]
    return name[:-4] if name.endswith(".git") else name


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def registry_hosts() -> list[str]:
    """The PlatformIO registry API hosts `pio` downloads platforms from (its mirrors)."""
    try:
        from platformio import __registry_mirror_hosts__ as hosts
    except ImportError:
        hosts = ["registry.platformio.org", "registry.nm1.platformio.org"]
    return [f"api.{h}" for h in hosts]


def registry_unreachable(timeout: float = REGISTRY_TIMEOUT) -> str | None:
    """None if the PlatformIO registry answers (any HTTP reply, through the proxy settings
    `pio` would use), else why not.  ``RNNMCU_OFFLINE=1`` answers "offline" without asking.
    `pio` itself retries a dead registry for about a minute; this takes a few seconds at most."""
    if os.environ.get("RNNMCU_OFFLINE", "").strip() not in ("", "0"):
        return "RNNMCU_OFFLINE is set"
    try:
        import requests
    except ImportError:  # comes with PlatformIO; without it `pio` cannot download either
        return "the Python package requests is missing"
    reasons = []
    for host in registry_hosts():
        try:
            requests.head(f"https://{host}/v3/", timeout=timeout, allow_redirects=False)
            return None
        except requests.RequestException as exc:
            reasons.append(f"{host}: {type(exc).__name__}")
    return "; ".join(reasons) or "no registry host known"


def _offline_error(b: Board, proj: Path, platform: str, reason: str) -> ToolchainError:
    return ToolchainError(
        f"cannot build {b.name} here: PlatformIO's {platform!r} platform is not installed "
        f"(in {core_dir()}) and the PlatformIO registry cannot be reached ({reason})",
        f"the project is generated at {proj}; run `pio run -e {b.name}` in that folder when "
        f"online (any PlatformIO 6 install; it downloads {platform} once), or run this "
        "rnnmcu command again when online")


def _tail_has_registry_failure(log: str) -> bool:
    return any(s in log for s in ("HTTPClientError", "InternetConnectionError",
                                  "Could not find the package", "UnknownPackageError"))


def build(project_dir: str | os.PathLike[str], board: Board | str, *, verbose: bool = False,
          timeout: float = BUILD_TIMEOUT, framework: str | None = None) -> BuildResult:
    """Build a project made by generate_project; check the firmware against the board budget.
    A real board whose platform is missing and cannot be downloaded fails within seconds with a
    ToolchainError naming the project and the command that finishes it online."""
    b = _board(board).with_framework(framework)
    proj = Path(project_dir)
    if not (proj / "src").is_dir():
        raise InputError(f"{proj} is not a generated firmware project (no src/)",
                         "generate it first (rnnmcu build does both)")
    if b.kind == "host":
        return _build_host(proj, b, timeout=timeout)
    if not (proj / "platformio.ini").is_file():
        raise InputError(f"{proj} has no platformio.ini", "generate the project again")
    assert b.platformio is not None
    cmd = pio_command()
    provision()
    downloading = False
    if not b.platformio.is_dev_platform:
        name = _platform_name(b.platformio.platform)
        if name not in installed_platforms():
            reason = registry_unreachable()
            if reason is not None:
                raise _offline_error(b, proj, name, reason)
            downloading = True
            print(f"rnnmcu: PlatformIO downloads the {name} platform and its toolchain first "
                  "(once; several minutes)", file=sys.stderr)
    log_path = proj / "build.log"
    argv = cmd + ["run", "-d", str(proj), "-e", b.name]
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, env=pio_environment(), capture_output=True, text=True,
                           timeout=timeout * (3 if downloading else 1), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(f"`pio run -e {b.name}` did not finish within {timeout:.0f} s",
                             f"run it by hand in {proj} to see where it hangs") from exc
    seconds = time.monotonic() - t0
    log = (r.stdout or "") + (r.stderr or "")
    log_path.write_text(log)
    if verbose:
        sys.stderr.write(log)
    firmware = proj / ".pio" / "build" / b.name / "firmware.elf"
    if r.returncode != 0:
        if downloading and _tail_has_registry_failure(log):
            raise _offline_error(b, proj, _platform_name(b.platformio.platform),
                                 f"the download failed, log: {log_path}")
        if "greater than maximum allowed" in log and firmware.is_file():
            flash, ram = elf_sizes(firmware)
            _check_fit(b, flash, ram, firmware)
        raise ToolchainError(f"`pio run -e {b.name}` failed (log: {log_path}):\n{_tail(log)}",
                             "fix the error shown; if it is in generated or rnnmcu code, please "
                             "report it with the log")
    if not firmware.is_file():
        raise ToolchainError(f"`pio run -e {b.name}` made no {firmware}", f"see the log {log_path}")
    flash, ram = elf_sizes(firmware)
    _check_fit(b, flash, ram, firmware)
    return BuildResult(firmware, flash, ram, b.name, b.flash_bytes, b.ram_bytes, seconds, log_path)


@dataclass(frozen=True)
class CompileCheck:
    """What compile_check() did: object files, not firmware."""
    board: str
    compiler: str
    objects: tuple[Path, ...]
    text_bytes: int            # code + constants of the objects (an indication, not the firmware size)


def compile_check(project_dir: str | os.PathLike[str], board: Board | str, out_dir: str | os.PathLike[str],
                  *, timeout: float = 120.0) -> CompileCheck:
    """Compile the rnnmcu C of a generated real-board project (runtime, app and model; not the
    board entry, which needs the framework) with the board's same-family cross compiler and
    -std=c99 -Wall -Wextra -Werror -O2, into ``out_dir``.  A compile check, never firmware: it
    proves the C builds cleanly for the instruction set, where the real toolchain cannot be had."""
    b = _board(board)
    if b.compile_check is None:
        raise InputError(f"board {b.name} has no [compile_check] in its board file",
                         "only real boards have one; emulated boards build here for real")
    cc = shutil.which(b.compile_check.cc)
    if cc is None:
        raise ToolchainError(f"{b.compile_check.cc} (the compile check for {b.name}) is not installed",
                             f"sudo apt-get install {b.compile_check.package}")
    proj = Path(project_dir)
    dirs = [d for d in (proj / "lib" / "rnnmcu" / "src", proj / "lib" / MODEL_LIB / "src", proj / "src")
            if d.is_dir()]
    sources = [p for d in dirs for p in sorted(d.glob("*.c"))]
    sources = [p for p in sources if not p.name.startswith("board_")]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    def one(src: Path) -> Path:
        obj = out / (src.parent.parent.name + "__" + src.stem + ".o")
        argv = [cc, *C_FLAGS, *b.compile_check.flags, *(f"-I{d}" for d in dirs), "-c", str(src),
                "-o", str(obj)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise ToolchainError(f"compile check of {src.name} for {b.name} with "
                                 f"{b.compile_check.cc} failed:\n{_tail(r.stderr)}",
                                 "fix the error shown (rnnmcu's C must build with -Werror everywhere)")
        return obj

    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        objects = list(pool.map(one, sources))
    text = sum(elf_sizes(o)[0] for o in objects)
    return CompileCheck(b.name, b.compile_check.cc, tuple(objects), text)


def host_compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    if not cc:
        raise ToolchainError("no C compiler found for the host board",
                             "install gcc: sudo apt-get install build-essential")
    return cc


def _build_host(proj: Path, b: Board, *, timeout: float) -> BuildResult:
    """Compile the host firmware with the native compiler: each source to an object, on every
    core (the sources are independent), then one link."""
    from concurrent.futures import ThreadPoolExecutor

    cc = host_compiler()
    src = proj / "src"
    lib = proj / "lib" / "rnnmcu" / "src"
    sources = sorted(src.glob("*.c")) + sorted(lib.glob("*.c"))
    out_dir = proj / ".pio" / "build" / b.name
    obj_dir = out_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / FIRMWARE_NAMES["host"]
    tmp = out_dir / ".firmware.tmp"
    inc = ["-I", str(src), "-I", str(lib)]
    objs = [obj_dir / f"{i:03d}_{s.stem}.o" for i, s in enumerate(sources)]
    steps = [[cc, *C_FLAGS, *inc, "-c", str(s), "-o", str(o)] for s, o in zip(sources, objs)]
    link = [cc, "-o", str(tmp), *[str(o) for o in objs], "-lm"]
    log_path = proj / "build.log"
    t0 = time.monotonic()

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ToolchainError(f"{cc} did not finish within {timeout:.0f} s", "run it by hand") from exc

    with ThreadPoolExecutor(max_workers=max(1, min(len(steps), os.cpu_count() or 1))) as pool:
        results = list(pool.map(run, steps))
    failed = [r for r in results if r.returncode != 0]
    if not failed:
        results.append(run(link))
        steps.append(link)
        failed = [results[-1]] if results[-1].returncode != 0 else []
    log_path.write_text("".join(" ".join(a) + "\n" + r.stdout + r.stderr for a, r in zip(steps, results)))
    if failed:
        tmp.unlink(missing_ok=True)
        raise ToolchainError(f"building the host firmware failed (log: {log_path}):\n{_tail(failed[0].stderr)}",
                             "fix the error shown; if it is in generated or rnnmcu code, please "
                             "report it with the log")
    os.replace(tmp, exe)
    flash, ram = elf_sizes(exe)
    return BuildResult(exe, flash, ram, b.name, 0, 0, time.monotonic() - t0, log_path)


def transport_url(result: BuildResult) -> str:
    """For the host board: the `spawn:` URL that runs the built executable."""
    return f"spawn:{result.firmware_path}"


def upload(project_dir: str | os.PathLike[str], board: Board | str, port: str, *,
           timeout: float = BUILD_TIMEOUT) -> None:
    """`pio run -t upload --upload-port PORT` for a real board."""
    b = _board(board)
    proj = Path(project_dir)
    if b.kind != "real":
        raise InputError(f"{b.name} is {'the host' if b.kind == 'host' else 'an emulated'} board: "
                         "there is nothing to flash",
                         "run it with `rnnmcu test --board " + b.name + " ...` (rnnmcu starts it)")
    if not (proj / "platformio.ini").is_file():
        raise InputError(f"{proj} has no platformio.ini",
                         f"build the firmware first: rnnmcu build --board {b.name} --model M.rnnmcu -o {proj}")
    cmd = pio_command()
    assert b.platformio is not None
    name = _platform_name(b.platformio.platform)
    if name not in installed_platforms():
        reason = registry_unreachable()
        if reason is not None:
            raise ToolchainError(
                f"cannot flash {b.name}: PlatformIO's {name!r} platform is not installed (in "
                f"{core_dir()}) and the PlatformIO registry cannot be reached ({reason})",
                f"the project is at {proj}; run `pio run -e {b.name} -t upload --upload-port "
                f"{port}` in that folder when online")
    r = subprocess.run(cmd + ["run", "-d", str(proj), "-e", b.name, "-t", "upload",
                              "--upload-port", port], env=pio_environment(), capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    log = r.stdout + r.stderr
    (proj / "upload.log").write_text(log)
    if r.returncode != 0:
        raise ToolchainError(f"flashing {b.name} on {port} failed:\n{_tail(log)}",
                             "check the port (rnnmcu doctor lists them), the cable, and that the "
                             "board is in its bootloader")
