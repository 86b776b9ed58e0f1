"""Helpers for tests/test_protocol*.py: build the host firmware (app + fake model) and the C test
drivers, and the fake model's definition in numpy (`import protocol_helpers`: tests/ is on sys.path)."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "firmware" / "src"
APP = ROOT / "firmware" / "app"
HOST_MAIN = ROOT / "firmware" / "boards" / "host" / "main.c"
TESTS_C = Path(__file__).resolve().parent / "c"
FAKE_MODEL = TESTS_C / "fake_model.c"

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]

FAKE_IN = 3
FAKE_OUT = 4
FAKE_MAX_STEPS = 64
FAKE_HASH = 0x5EED1234


def app_sources() -> list[Path]:
    return sorted(APP.glob("*.c"))


def compile_c(out: Path, sources: Sequence[Path], *, cc: str = "gcc",
              flags: Sequence[str] = (), link: bool = True) -> Path:
    if shutil.which(cc) is None:
        raise AssertionError(f"compiler {cc!r} not found: run `make setup` as root, which installs it")
    cmd = [cc, *STRICT, "-O1", "-g", f"-I{SRC}", f"-I{APP}", *flags, *map(str, sources)]
    cmd += ["-o", str(out)] if link else []
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=out.parent)
    if res.returncode != 0:
        raise AssertionError(f"compile failed: {' '.join(cmd)}\n{res.stdout}\n{res.stderr}")
    return out


def build_host(outdir: Path, *, defines: Sequence[str] = (), sanitize: bool = False,
               cc: str = "gcc") -> Path:
    """The host board firmware with the fake model; cached by its options inside outdir."""
    key = hashlib.sha1(repr((sorted(defines), sanitize, cc)).encode()).hexdigest()[:10]
    exe = outdir / f"host-{key}"
    if not exe.exists():
        flags = [f"-D{d}" for d in defines] + (SANITIZE if sanitize else [])
        compile_c(exe, [*app_sources(), HOST_MAIN, FAKE_MODEL], cc=cc, flags=flags)
    return exe


def fake_dtype(int8: bool = False) -> np.dtype:
    return np.dtype(np.int8 if int8 else np.int16)


def fake_steps(x: np.ndarray, dtype: np.dtype, state: np.ndarray | None = None) -> np.ndarray:
    """Outputs of fake_model.c's step for each row of x (T, 3) -> (T, 4); ``state`` (4 int64:
    three sums and the step count) is updated in place when given."""
    lim = np.iinfo(dtype)
    st = np.zeros(FAKE_IN + 1, dtype=np.int64) if state is None else state
    out = np.empty((x.shape[0], FAKE_OUT), dtype=dtype)
    for t in range(x.shape[0]):
        st[:FAKE_IN] = np.clip(st[:FAKE_IN] + x[t].astype(np.int64), -1_000_000, 1_000_000)
        st[FAKE_IN] = min(st[FAKE_IN] + 1, 1_000_000)
        out[t] = np.clip(st, lim.min, lim.max)
    return out


def fake_run(x: np.ndarray, dtype: np.dtype, output_sequence: bool = False) -> np.ndarray:
    ys = fake_steps(x, dtype)
    return ys if output_sequence else ys[-1]


def fake_steps_f32(x: np.ndarray) -> np.ndarray:
    """fake_model.c built with -DFAKE_FLOAT32: float32 running sums (float32 adds, in order)."""
    s = np.zeros(FAKE_IN, dtype=np.float32)
    out = np.empty((x.shape[0], FAKE_OUT), dtype=np.float32)
    for t in range(x.shape[0]):
        s = (s + x[t].astype(np.float32)).astype(np.float32)
        out[t, :FAKE_IN] = s
        out[t, FAKE_IN] = np.float32(t + 1)
    return out
