"""Make `pio run` work offline for the emulated boards:  python -m rnnmcu.boards.provision

PlatformIO needs its core package `tool-scons` before it builds anything, and would download it.
This fills rnnmcu's own PlatformIO core directory (see core_dir()) with a `tool-scons` package
made from the SCons that pip installed (PyPI `scons`), registered under the owner and version
PlatformIO asks for.  Idempotent: a second run only checks and returns (well under a second).

The core directory is stable per user so generated projects build the same way later:
``$RNNMCU_PIO_CORE`` if set, else ``$XDG_CACHE_HOME/rnnmcu/pio-core-<id>`` (``~/.cache/...``), one per installation.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rnnmcu.errors import RnnmcuError, ToolchainError

MARK = "rnnmcu-provisioned"


def core_dir() -> Path:
    """The PlatformIO core dir rnnmcu uses: $RNNMCU_PIO_CORE, else one per rnnmcu installation
    under ~/.cache/rnnmcu.  Per installation, because PlatformIO registers the dev platform by
    name with the path of *this* installation's boards/platform: two checkouts sharing one core
    dir would each find the other's platform under the same name (UnknownPlatform)."""
    env = os.environ.get("RNNMCU_PIO_CORE")
    if env:
        return Path(env).expanduser().resolve()
    import hashlib

    from rnnmcu.boards.loader import platform_dir

    tag = hashlib.sha1(str(platform_dir().resolve()).encode()).hexdigest()[:10]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache).resolve() / "rnnmcu" / f"pio-core-{tag}"


def pio_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every PlatformIO call of rnnmcu runs with."""
    env = dict(os.environ if base is None else base)
    env["PLATFORMIO_CORE_DIR"] = str(core_dir())
    env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] = "No"
    env["PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL"] = "3650"
    env["PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD"] = "0"
    env["PLATFORMIO_DISABLE_UPGRADE_CHECK"] = "true"
    env["PLATFORMIO_NO_ANSI"] = "true"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def _scons_requirement() -> str:
    try:
        from platformio.dependencies import get_core_dependencies
    except ImportError as exc:
        raise ToolchainError("PlatformIO is not installed in this Python environment",
                             "pip install 'platformio>=6.1,<7' (or reinstall rnnmcu)") from exc
    return str(get_core_dependencies()["tool-scons"])


def _scons_location() -> tuple[Path, str]:
    try:
        import SCons
    except ImportError as exc:
        raise ToolchainError("SCons is not installed in this Python environment",
                             "pip install 'scons>=4.7,<5' (or reinstall rnnmcu)") from exc
    return Path(SCons.__file__).resolve().parent.parent, str(SCons.__version__)


def _package_version(requirement: str) -> str:
    """A version that satisfies PlatformIO's spec, e.g. '~4.41101.0' -> '4.41101.0'."""
    version = requirement.lstrip("~^=>< ")
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ToolchainError(f"unexpected tool-scons requirement {requirement!r} in PlatformIO",
                             "use PlatformIO 6.1 or 6.2 (pip install 'platformio>=6.1,<7')")
    return version


SCONS_PY = '''#!/usr/bin/env python3
# Written by rnnmcu (python -m rnnmcu.boards.provision): PlatformIO's tool-scons entry point,
# running the SCons that pip installed.
import sys
try:
    import SCons  # noqa: F401
except ImportError:
    sys.path.insert(0, {site!r})
from SCons.Script.Main import main

if __name__ == "__main__":
    sys.exit(main())
'''


def provision(verbose: bool = False) -> Path:
    """Create (or check) the core dir and its tool-scons package; return the core dir."""
    core = core_dir()
    requirement = _scons_requirement()
    version = _package_version(requirement)
    site, scons_version = _scons_location()
    pkg = core / "packages" / "tool-scons"
    wanted = {"version": version, "site": str(site), "scons": scons_version}
    mark = pkg / f".{MARK}"
    try:
        if mark.is_file() and json.loads(mark.read_text()) == wanted and (pkg / "scons.py").is_file():
            if verbose:
                print(f"rnnmcu: PlatformIO core at {core} is ready", file=sys.stderr)
            return core
    except (OSError, ValueError):
        pass
    try:
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "scons.py").write_text(SCONS_PY.format(site=str(site)))
        (pkg / "package.json").write_text(json.dumps({
            "name": "tool-scons", "version": version,
            "description": f"SCons {scons_version} from PyPI, registered by rnnmcu",
            "system": "*"}, indent=2) + "\n")
        (pkg / ".piopm").write_text(json.dumps({
            "type": "tool", "name": "tool-scons", "version": version,
            "spec": {"owner": "platformio", "id": None, "name": "tool-scons",
                     "requirements": requirement, "uri": None}}) + "\n")
        (mark).write_text(json.dumps(wanted) + "\n")
    except OSError as exc:
        raise ToolchainError(f"cannot write the PlatformIO core directory {core}: {exc.strerror}",
                             "set RNNMCU_PIO_CORE to a writable folder") from exc
    if verbose:
        print(f"rnnmcu: PlatformIO core at {core}: tool-scons {version} from SCons "
              f"{scons_version}", file=sys.stderr)
    return core


def main() -> int:
    try:
        provision(verbose=True)
    except RnnmcuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
