"""The board registry: one TOML file per board in this folder, checked against a schema on load.

    from rnnmcu.boards.loader import load_board, list_boards
    board = load_board("qemu-m4")      # -> Board
    [b.name for b in list_boards()]

A board file says what the firmware needs to know (arch, CPU flags, clock, counter, UART), what
the build must respect (flash/RAM budget), how to run it (an emulator command, or a PlatformIO
platform/board/framework for real parts) and what must be installed for it.  Errors name the file
and the key.  No other logic lives here.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from rnnmcu.errors import InputError

SCHEMA_VERSION = 1
KINDS = ("host", "emulated", "real")
ARCHES = ("host", "arm", "riscv32", "xtensa")
COUNTER_KINDS = {"none": 0, "cycles": 1, "instructions": 2}  # = rnnmcu_counter_kind_t
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
DEV_PLATFORM = "rnnmcu-emu"  # platform name that means "the project's own dev platform"


@dataclass(frozen=True)
class Counter:
    kind: str            # none | cycles | instructions
    scale: int           # instructions (or cycles) per counter tick
    source: str          # what the board reads, free text

    @property
    def kind_code(self) -> int:
        return COUNTER_KINDS[self.kind]


@dataclass(frozen=True)
class Uart:
    driver: str          # free text: cmsdk, 16550, usb-cdc, stdio
    baud: int
    fallback_baud: int = 0   # a rate every bridge on such boards takes (`rnnmcu build --baud`); 0: none


@dataclass(frozen=True)
class Emulator:
    command: tuple[str, ...]   # argv template; "{firmware}" is replaced by the ELF path
    package: str               # Debian package that provides command[0]

    @property
    def binary(self) -> str:
        return self.command[0]


@dataclass(frozen=True)
class PlatformIOEnv:
    platform: str               # PlatformIO platform, or "rnnmcu-emu" for the project's own
    board: str                  # PlatformIO board id
    framework: str | None       # arduino, espidf, or None (bare metal)
    build_flags: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)  # extra platformio.ini options
    # every framework the board builds with -> firmware/boards/<entry>/ (the default one included)
    entries: dict[str, str] = field(default_factory=dict)
    # extra ESP-IDF settings for sdkconfig.defaults (board specific, e.g. the flash size)
    sdkconfig: dict[str, str] = field(default_factory=dict)

    @property
    def is_dev_platform(self) -> bool:
        return self.platform == DEV_PLATFORM

    @property
    def frameworks(self) -> tuple[str, ...]:
        return tuple(self.entries)


@dataclass(frozen=True)
class CompileCheck:
    """The offline proof for a real board: a cross compiler of the same instruction-set family
    that exists on a developer machine (Debian packages), used to compile the model and runtime
    with -Werror and the board entry files against stand-in framework headers.  Not firmware."""
    cc: str                     # C compiler, e.g. xtensa-lx106-elf-gcc
    cxx: str                    # C++ compiler for Arduino entries
    flags: tuple[str, ...]      # CPU flags for that compiler
    package: str                # Debian package of cc and cxx


@dataclass(frozen=True)
class Requires:
    commands: tuple[str, ...] = ()         # executables that must be on PATH
    debian_packages: tuple[str, ...] = ()  # where they come from on Debian/Ubuntu
    pio_platforms: tuple[str, ...] = ()    # PlatformIO platforms that must be installed


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    kind: str                  # host | emulated | real
    arch: str                  # host | arm | riscv32 | xtensa
    cpu: str
    cpu_flags: tuple[str, ...]
    clock_hz: int
    has_fpu: bool
    entry: str                 # firmware/boards/<entry>/ holds the board entry files
    counter: Counter
    uart: Uart
    flash_bytes: int           # budget for code + constants + initialised data (0: no limit)
    ram_bytes: int             # budget for data + bss + stack (0: no limit)
    requires: Requires
    emulator: Emulator | None = None
    platformio: PlatformIOEnv | None = None
    compile_check: CompileCheck | None = None
    notes: str = ""
    source: str = ""           # the file it was loaded from

    @property
    def emulated(self) -> bool:
        return self.kind == "emulated"

    @property
    def framework(self) -> str | None:
        return self.platformio.framework if self.platformio is not None else None

    def with_framework(self, framework: str | None) -> "Board":
        """This board built with ``framework`` (None: its default): the PlatformIO env and the
        entry folder switch together.  An InputError names the frameworks the board has."""
        if framework is None or framework == self.framework:
            return self
        pio = self.platformio
        if pio is None or framework not in pio.entries:
            known = ", ".join(pio.frameworks) if pio is not None and pio.frameworks else "none"
            raise InputError(f"board {self.name!r} does not build with framework {framework!r} "
                             f"(it has: {known})",
                             f"choose one of those with --framework, or another board (`rnnmcu boards`)")
        return replace(self, entry=pio.entries[framework],
                       platformio=replace(pio, framework=framework))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name, "title": self.title, "kind": self.kind, "arch": self.arch,
            "cpu": self.cpu, "cpu_flags": list(self.cpu_flags), "clock_hz": self.clock_hz,
            "has_fpu": self.has_fpu, "entry": self.entry,
            "counter": {"kind": self.counter.kind, "scale": self.counter.scale,
                        "source": self.counter.source},
            "uart": {"driver": self.uart.driver, "baud": self.uart.baud,
                     "fallback_baud": self.uart.fallback_baud},
            "budget": {"flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes},
            "requires": {"commands": list(self.requires.commands),
                         "debian_packages": list(self.requires.debian_packages),
                         "pio_platforms": list(self.requires.pio_platforms)},
            "notes": self.notes,
        }
        if self.emulator is not None:
            d["emulator"] = {"command": list(self.emulator.command),
                             "package": self.emulator.package}
        if self.platformio is not None:
            d["platformio"] = {"platform": self.platformio.platform,
                               "board": self.platformio.board,
                               "framework": self.platformio.framework,
                               "frameworks": dict(self.platformio.entries),
                               "build_flags": list(self.platformio.build_flags),
                               "options": dict(self.platformio.options),
                               "sdkconfig": dict(self.platformio.sdkconfig)}
        if self.compile_check is not None:
            d["compile_check"] = {"cc": self.compile_check.cc, "cxx": self.compile_check.cxx,
                                  "flags": list(self.compile_check.flags),
                                  "package": self.compile_check.package}
        return d


# --- schema checking ---------------------------------------------------------------------------

class _Table:
    """Typed access to one TOML table that remembers which keys were read, so unknown keys
    (typos) are reported with the file and the dotted key."""

    def __init__(self, data: dict[str, Any], where: str, prefix: str = "") -> None:
        self.data = data
        self.where = where
        self.prefix = prefix
        self.seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def error(self, key: str, problem: str) -> InputError:
        return InputError(f"{self.where}: key '{self._key(key)}' {problem}",
                          "fix the board file (see boards/README.md for the schema)")

    def get(self, key: str, typ: type | tuple[type, ...], default: Any = ...) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if default is ...:
                raise self.error(key, "is missing")
            return default
        value = self.data[key]
        # bool is an int in Python: do not accept true for a number or 1 for a bool
        if isinstance(value, bool) and bool not in (typ if isinstance(typ, tuple) else (typ,)):
            raise self.error(key, f"must be {_tname(typ)}, not a boolean")
        if not isinstance(value, typ):
            raise self.error(key, f"must be {_tname(typ)}, not {type(value).__name__} {value!r}")
        return value

    def strs(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, list, default)
        if value is None:
            return ()
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.error(key, f"item {i} must be a non-empty string, not {item!r}")
        return tuple(value)

    def choice(self, key: str, choices: tuple[str, ...] | list[str], default: Any = ...) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            raise self.error(key, f"is {value!r}; expected one of {', '.join(choices)}")
        return value

    def count(self, key: str, default: Any = ..., minimum: int = 0) -> int:
        value = self.get(key, int, default)
        if value < minimum:
            raise self.error(key, f"must be >= {minimum}, not {value}")
        return value

    def table(self, key: str, required: bool = True) -> "_Table | None":
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise self.error(key, "(a table) is missing")
            return None
        value = self.data[key]
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table ([{self._key(key)}]), not {type(value).__name__}")
        return _Table(value, self.where, f"{self._key(key)}.")

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise self.error(unknown[0], "is not a known key"
                             + (f" (also unknown: {', '.join(unknown[1:])})" if unknown[1:] else ""))


def _tname(typ: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
             dict: "a table", float: "a number"}
    if isinstance(typ, tuple):
        return " or ".join(names.get(t, t.__name__) for t in typ)
    return names.get(typ, typ.__name__)


def parse_board(data: dict[str, Any], where: str, expected_name: str | None = None) -> Board:
    """Check one parsed board file and build a Board.  ``where`` names the file in errors."""
    top = _Table(data, where)
    schema = top.count("schema", minimum=1)
    if schema != SCHEMA_VERSION:
        raise top.error("schema", f"is {schema}; this rnnmcu reads schema {SCHEMA_VERSION}")
    name = top.get("name", str)
    if not NAME_RE.match(name):
        raise top.error("name", f"is {name!r}: use lower-case letters, digits and '-' (max 32)")
    if expected_name is not None and name != expected_name:
        raise top.error("name", f"is {name!r} but the file is named {expected_name}.toml")
    kind = top.choice("kind", KINDS)
    arch = top.choice("arch", ARCHES)
    if (kind == "host") != (arch == "host"):
        raise top.error("arch", f"is {arch!r}: only a board of kind 'host' uses arch 'host'")

    ct = top.table("counter")
    assert ct is not None
    counter = Counter(kind=ct.choice("kind", tuple(COUNTER_KINDS)),
                      scale=ct.count("scale", minimum=1), source=ct.get("source", str, ""))
    if counter.scale > 0xFFFF:
        raise ct.error("scale", f"is {counter.scale}: the protocol carries a 16-bit scale")
    ct.done()

    ut = top.table("uart")
    assert ut is not None
    uart = Uart(driver=ut.get("driver", str), baud=ut.count("baud", minimum=0),
                fallback_baud=ut.count("fallback_baud", 0, minimum=0))
    ut.done()

    bt = top.table("budget", required=kind != "host")
    flash = ram = 0
    if bt is not None:
        flash = bt.count("flash_bytes", minimum=0 if kind == "host" else 1)
        ram = bt.count("ram_bytes", minimum=0 if kind == "host" else 1)
        bt.done()

    rt = top.table("requires", required=False)
    requires = Requires()
    if rt is not None:
        requires = Requires(commands=rt.strs("commands", ()),
                            debian_packages=rt.strs("debian_packages", ()),
                            pio_platforms=rt.strs("pio_platforms", ()))
        rt.done()

    emulator = None
    et = top.table("emulator", required=kind == "emulated")
    if et is not None:
        if kind != "emulated":
            raise top.error("emulator", f"is only for boards of kind 'emulated', this one is {kind!r}")
        command = et.strs("command")
        if not command:
            raise et.error("command", "is empty")
        if not any("{firmware}" in part for part in command):
            raise et.error("command", "must contain '{firmware}' where the ELF path goes")
        emulator = Emulator(command=command, package=et.get("package", str))
        et.done()

    platformio = None
    pt = top.table("platformio", required=kind != "host")
    if pt is not None:
        options = pt.get("options", dict, {})
        for k, v in options.items():
            if not isinstance(v, str):
                raise pt.error(f"options.{k}", f"must be a string, not {v!r}")
        sdkconfig = pt.get("sdkconfig", dict, {})
        for k, v in sdkconfig.items():
            if not isinstance(v, str) or not k.startswith("CONFIG_"):
                raise pt.error(f"sdkconfig.{k}", "must be CONFIG_NAME = \"value\" (a string)")
        framework = pt.get("framework", str, "") or None
        entries = pt.get("frameworks", dict, {})
        for k, v in entries.items():
            if not isinstance(v, str) or not v:
                raise pt.error(f"frameworks.{k}", f"must be an entry folder name, not {v!r}")
        entry = top.get("entry", str)
        if framework is not None:
            if entries.get(framework, entry) != entry:
                raise pt.error(f"frameworks.{framework}",
                               f"is {entries[framework]!r} but the board's entry is {entry!r}")
            entries = {framework: entry, **{k: v for k, v in entries.items() if k != framework}}
        elif entries:
            raise pt.error("frameworks", "needs a default 'framework' in the same table")
        platformio = PlatformIOEnv(platform=pt.get("platform", str), board=pt.get("board", str),
                                   framework=framework, build_flags=pt.strs("build_flags", ()),
                                   options=dict(options), entries=dict(entries),
                                   sdkconfig=dict(sdkconfig))
        if kind == "emulated" and not platformio.is_dev_platform:
            raise pt.error("platform", f"is {platformio.platform!r}; emulated boards build with "
                                       f"the project's own platform {DEV_PLATFORM!r}")
        if kind == "real" and platformio.is_dev_platform:
            raise pt.error("platform", f"{DEV_PLATFORM!r} only builds emulated boards")
        pt.done()

    compile_check = None
    cc = top.table("compile_check", required=False)
    if cc is not None:
        if kind != "real":
            raise top.error("compile_check", "is only for boards of kind 'real' (the others build here)")
        compile_check = CompileCheck(cc=cc.get("cc", str), cxx=cc.get("cxx", str),
                                     flags=cc.strs("flags", ()), package=cc.get("package", str))
        cc.done()

    board = Board(
        name=name, title=top.get("title", str), kind=kind, arch=arch, cpu=top.get("cpu", str),
        cpu_flags=top.strs("cpu_flags", ()), clock_hz=top.count("clock_hz", minimum=0),
        has_fpu=top.get("has_fpu", bool), entry=top.get("entry", str), counter=counter, uart=uart,
        flash_bytes=flash, ram_bytes=ram, requires=requires, emulator=emulator,
        platformio=platformio, compile_check=compile_check, notes=top.get("notes", str, ""),
        source=where)
    top.done()
    return board


# --- the registry ------------------------------------------------------------------------------

def boards_dir() -> Path:
    """The folder holding the board files (inside the installed package)."""
    return Path(str(resources.files("rnnmcu.boards")))


def platform_dir() -> Path:
    """The project's own PlatformIO dev platform for emulated boards."""
    return boards_dir() / "platform"


def load_board_file(path: Path) -> Board:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read board file {where}: {exc.strerror}",
                         "check the path and its permissions") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where} is not valid TOML: {exc}", "fix the syntax at that line") from exc
    return parse_board(data, where, expected_name=path.stem)


def board_names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.toml"))


def load_board(name: str) -> Board:
    """The board called ``name`` (boards/<name>.toml), or an InputError listing the known ones."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InputError(f"{name!r} is not a board name",
                         f"use one of: {', '.join(board_names())} (see `rnnmcu boards`)")
    path = boards_dir() / f"{name}.toml"
    if not path.is_file():
        raise InputError(f"unknown board {name!r}",
                         f"use one of: {', '.join(board_names())} (see `rnnmcu boards`)")
    return load_board_file(path)


def list_boards() -> list[Board]:
    """Every board in the registry, host first, then emulated, then real, by name."""
    order = {k: i for i, k in enumerate(KINDS)}
    boards = [load_board(n) for n in board_names()]
    return sorted(boards, key=lambda b: (order[b.kind], b.name))
