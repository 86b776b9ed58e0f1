"""Reusable pieces for tests that build firmware for a board and talk to it (import them from
test modules; the fixtures are session-scoped so each board is built once per session).

    from boards_fixtures import build_and_launch    # tests/ is on sys.path under pytest
    with build_and_launch("qemu-rv32", gen_dir, work_dir) as (dev, result):
        dev.step(x)          # dev is a synced rnnmcu.hil.Device; result a BuildResult

``gen_dir`` is any folder of generated model C (rnnmcu.codegen.emit.generate writes one).
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

from rnnmcu import target
from rnnmcu.boards import platformio
from rnnmcu.boards.loader import Board, load_board
from rnnmcu.hil import Device

REPO_ROOT = Path(__file__).resolve().parent.parent
FAKE_MODEL = REPO_ROOT / "tests" / "c" / "fake_model.c"
EMULATED_BOARDS = ("qemu-m4", "qemu-rv32", "qemu-lx106")


def build_for(board: Board | str, gen_dir: str | Path, work_dir: str | Path) -> platformio.BuildResult:
    """Generate the project for ``board`` from ``gen_dir`` in ``work_dir``/project-<board>, build it."""
    b = board if isinstance(board, Board) else load_board(board)
    return target.build(b, gen_dir, work_dir, project=f"project-{b.name}")


@contextlib.contextmanager
def launch_device(board: Board | str, result: platformio.BuildResult, *,
                  timeout: float = 5.0) -> Iterator[Device]:
    """Run a built firmware (QEMU for emulated boards, a process for host); yield a synced Device."""
    with target.launch(board, result, timeout=timeout, sync=True) as dev:
        yield dev


@contextlib.contextmanager
def build_and_launch(board: Board | str, gen_dir: str | Path, work_dir: str | Path | None = None,
                     *, timeout: float = 5.0) -> Iterator[tuple[Device, platformio.BuildResult]]:
    """Build ``gen_dir`` for ``board`` and run it: yields (synced Device, BuildResult)."""
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="rnnmcu-fw-"))
        result = build_for(board, gen_dir, work_dir)
        dev = stack.enter_context(launch_device(board, result, timeout=timeout))
        yield dev, result


def fake_gen_dir(dest: Path) -> Path:
    """A 'generated model' folder holding A's fake model (tests/c/fake_model.c)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FAKE_MODEL, dest / "fake_model.c")
    return dest


@pytest.fixture(scope="session")
def fake_firmware(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], platformio.BuildResult]:
    """fake_firmware(board) -> BuildResult of the fake-model firmware, built once per session."""
    root = tmp_path_factory.mktemp("fake-fw")
    gen = fake_gen_dir(root / "gen")
    cache: dict[str, platformio.BuildResult] = {}

    def get(board: str) -> platformio.BuildResult:
        if board not in cache:
            cache[board] = build_for(board, gen, root)
        return cache[board]

    return get
