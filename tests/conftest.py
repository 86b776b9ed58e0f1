"""Shared test setup.

Markers (all run by the default ``make test``; deselect with ``-m 'not slow'`` when iterating):
``slow`` (takes more than a few seconds), ``emulator`` (boots QEMU), ``keras`` (imports TensorFlow).

Fixtures for every part's tests:
``tmp_workdir``  a fresh temporary directory, made the current directory for the test
``c_compilers``  session-wide map of the C compilers the Makefile installs (gcc, clang, arm, riscv,
                 xtensa -> path); asking for one that is missing FAILS the test (an install problem,
                 never a reason to skip); ``c_compilers.libc_flags("riscv")`` gives the flags it
                 needs to find its C library headers
``emulators``    the same for the QEMU system emulators
``repo_root``    the checkout's root folder
``seed``         this test's seed, derived from its node id (not from Python's hash seed) and
                 already applied to ``random``, numpy's global generator and, when already
                 imported, Keras/TensorFlow
"""
from __future__ import annotations

import os
import random
import shutil
import zlib
from pathlib import Path

import pytest

# Before anything can import TensorFlow: keep its C++ logging quiet, and keep PlatformIO offline-fast.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("PLATFORMIO_SETTING_ENABLE_TELEMETRY", "No")
os.environ.setdefault("PLATFORMIO_DISABLE_UPGRADE_CHECK", "true")

REPO_ROOT = Path(__file__).resolve().parent.parent

MARKERS = {
    "slow": "takes more than a few seconds (still run by make test)",
    "emulator": "boots a QEMU emulated board (still run by make test)",
    "keras": "imports TensorFlow/Keras (still run by make test)",
}

# name -> (executable, Debian package that provides it)
COMPILERS = {
    "gcc": ("gcc", "build-essential"),
    "clang": ("clang", "clang"),
    "arm": ("arm-none-eabi-gcc", "gcc-arm-none-eabi"),
    "riscv": ("riscv64-unknown-elf-gcc", "gcc-riscv64-unknown-elf"),
    "xtensa": ("xtensa-lx106-elf-gcc", "gcc-xtensa-lx106"),
}
# Flags a compiler needs to find its C library headers (<stdint.h>, <string.h>): Debian's bare
# riscv64-unknown-elf-gcc has no default libc, picolibc comes in through its specs file.
LIBC_FLAGS = {"riscv": ["--specs=picolibc.specs"]}
EMULATORS = {
    "arm": ("qemu-system-arm", "qemu-system-arm"),
    "riscv32": ("qemu-system-riscv32", "qemu-system-misc"),
    "xtensa": ("qemu-system-xtensa", "qemu-system-misc"),
}


# The files that take longest (`make test` prints the slowest tests), scheduled first: make test runs
# whole files on two workers (pytest-xdist --dist loadfile), and a long file started last would
# leave one worker idle while it runs.  Order only; a file missing here just runs in its turn.
LONGEST_FIRST = ("test_keras_e2e.py", "test_hil_emulated.py", "test_keras_real_graphs.py", "test_qat.py",
                 "test_trained_agreement.py", "test_train_accuracy.py", "test_train_variants.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # pragma: no cover - hypothesis is in the dev extra
        return
    # Two shared cores and a loaded CI machine: no per-example deadline, reproducible examples.
    settings.register_profile("rnnmcu", deadline=None, derandomize=True, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "rnnmcu"))


class ToolMap(dict):
    """``{name: absolute path}`` of the tools found; ``tools[name]`` fails the test when missing."""

    def __init__(self, kind: str, table: dict[str, tuple[str, str]]) -> None:
        super().__init__()
        self.kind = kind
        self.table = table
        self.missing: dict[str, tuple[str, str]] = {}
        for name, (exe, pkg) in table.items():
            path = shutil.which(exe)
            if path:
                self[name] = path
            else:
                self.missing[name] = (exe, pkg)

    def libc_flags(self, name: str) -> list[str]:
        """Extra flags ``name`` needs for the C library headers (see LIBC_FLAGS)."""
        self[name]  # fails the test if the tool is missing
        return list(LIBC_FLAGS.get(name, [])) if self.kind == "C compiler" else []

    def __missing__(self, name: str) -> str:
        if name in self.missing:
            exe, pkg = self.missing[name]
            pytest.fail(f"{self.kind} {exe!r} is not installed (Debian package {pkg}); "
                        "run `make setup` as root, which installs it", pytrace=False)
        raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.table)}")


@pytest.fixture(scope="session")
def c_compilers() -> ToolMap:
    return ToolMap("C compiler", COMPILERS)


@pytest.fixture(scope="session")
def emulators() -> ToolMap:
    return ToolMap("emulator", EMULATORS)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def tmp_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _seed_for(nodeid: str) -> int:
    return zlib.crc32(nodeid.encode("utf-8")) & 0x7FFFFFFF


@pytest.fixture(autouse=True)
def seed(request: pytest.FixtureRequest) -> int:
    """This test's seed (already applied); Keras tests call ``keras.utils.set_random_seed(seed)``
    after importing Keras, if it was not imported yet."""
    import sys

    seed = _seed_for(request.node.nodeid)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    # Only when the test run has already paid for TensorFlow: never import it here.
    if "keras" in sys.modules:
        try:
            sys.modules["keras"].utils.set_random_seed(seed)
        except Exception:  # pragma: no cover - a partial Keras import
            pass
    elif "tensorflow" in sys.modules:
        try:
            sys.modules["tensorflow"].random.set_seed(seed)
        except Exception:  # pragma: no cover
            pass
    return seed
