"""Flash and RAM per model and emulated board, next to the weight bytes.

    .venv/bin/python bench/footprint.py [--boards qemu-m4,qemu-rv32,qemu-lx106] [--precision int8]
                                        [--json out.json]

Flash (from the firmware ELF's symbols): the model's constant data (weights, and the per-row
multipliers, shifts, biases and tables), its int8 weights alone, and everything else (runtime
kernels, firmware app and protocol, board start-up, libc/libgcc pieces): the runtime's overhead.
RAM: the model's state + scratch (the generated <name>_state_t), the app's protocol buffers,
other static RAM, and the stack high-water mark measured on the device: the board entries paint
the stack at reset; after a STEP, a RUN and a BENCH, QEMU's monitor reads the stack back and the
lowest overwritten word is the high-water mark.  The serial protocol is not involved.

That high-water mark is the whole firmware's (the protocol app's frames included).  The inference
code's own share comes from the same build: it is compiled with GCC's -fstack-usage and
-fcallgraph-info=su, and the deepest call chain under <model>_step and <model>_run, frame by frame
(every frame static: no alloca, no VLA, no recursion, which the analysis checks), is the stack
that inference needs on top of its caller's: the runtime's RAM beyond state and scratch.
"""
from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

from rnnmcu import target  # noqa: E402
from rnnmcu.boards import platformio  # noqa: E402
from rnnmcu.boards.loader import load_board  # noqa: E402
from rnnmcu.codegen import emit, quantize  # noqa: E402

from step_cost import F, models  # noqa: E402

PAINT = 0xC0FFEE5A
NM = {"qemu-m4": "arm-none-eabi-nm", "qemu-rv32": "riscv64-unknown-elf-nm", "qemu-lx106": "xtensa-lx106-elf-nm"}
APP_BUFFERS = ("rnnmcu_app_rxbuf", "rnnmcu_app_txbuf")


def symbols(board: str, elf: Path) -> dict[str, tuple[int, int, str]]:
    out = subprocess.run([NM[board], "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        p = line.split()
        if len(p) == 4:
            syms[p[3]] = (int(p[0], 16), int(p[1], 16), p[2])
        elif len(p) == 3:
            syms[p[2]] = (int(p[0], 16), 0, p[1])
    return syms


class Monitor:
    """QEMU's human monitor on a unix socket."""

    def __init__(self, path: str) -> None:
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(200):
            try:
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.02)
        self.read_prompt()

    def read_prompt(self) -> str:
        buf = b""
        self.s.settimeout(10)
        while not buf.endswith(b"(qemu) "):
            buf += self.s.recv(65536)
        return buf.decode(errors="replace")

    def words(self, addr: int, n: int) -> list[int]:
        self.s.sendall(f"xp /{n}wx {addr:#x}\n".encode())
        text = self.read_prompt()
        vals = []
        for line in text.splitlines():
            m = re.match(r"\s*([0-9a-fA-F]+):((?:\s+0x[0-9a-fA-F]+)+)", line)
            if m:
                vals += [int(v, 16) for v in m.group(2).split()]
        return vals[:n]


STACK_FLAGS = ("-fstack-usage", "-fcallgraph-info=su")
_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def with_stack_usage(proj: Path) -> None:
    """Add GCC's per-function stack usage and call graph outputs to a generated project's flags."""
    ini = proj / "platformio.ini"
    text = ini.read_text()
    if "build_flags =\n" not in text:
        raise SystemExit(f"{ini}: no build_flags list to extend")
    ini.write_text(text.replace("build_flags =\n", "build_flags =\n" + "".join(f"    {f}\n" for f in STACK_FLAGS), 1))


def call_graph(build_dir: Path) -> tuple[dict[str, int | None], dict[str, set[str]]]:
    """Frames (bytes; None for a function with a dynamic frame) and callees from the .ci files
    GCC wrote next to the objects.  Functions defined in no compiled file (libc's memset) have no
    frame entry."""
    frames: dict[str, int | None] = {}
    calls: dict[str, set[str]] = {}
    files = list(build_dir.rglob("*.ci"))
    if not files:
        raise SystemExit(f"no .ci files under {build_dir}: was the project built with {' '.join(STACK_FLAGS)}?")
    for ci in files:
        for line in ci.read_text(errors="replace").splitlines():
            m = _NODE.match(line)
            if m:
                sm = re.search(r"\\n(\d+) bytes \((\w+)", m.group(2))
                if sm:
                    frames[m.group(1)] = int(sm.group(1)) if sm.group(2) == "static" else None
                continue
            m = _EDGE.match(line)
            if m:
                calls.setdefault(m.group(1), set()).add(m.group(2))
    return frames, calls


def fold_aliases(frames: dict[str, int | None], calls: dict[str, set[str]],
                 syms: dict[str, tuple[int, int, str]]) -> None:
    """GCC's identical code folding (-fipa-icf) keeps one body for functions that compile to the
    same code (rnnmcu_lstm_tile_x16_s8 and rnnmcu_lstm_tile_s8): the call graph then names the
    folded one in its edges but has no node for it, and nm lists both names at one address.  Give
    each such name the frame and callees of the function whose body it shares."""
    body = {}
    for title in frames:
        plain = title.rsplit(":", 1)[-1]
        if plain in syms:
            body.setdefault(syms[plain][0], title)
    changed = True
    while changed:
        changed = False
        for callee in {t for ts in calls.values() for t in ts} - frames.keys():
            plain = callee.rsplit(":", 1)[-1]
            if plain in syms and syms[plain][2] in ("T", "t") and syms[plain][0] in body:
                frames[callee] = frames[body[syms[plain][0]]]
                calls[callee] = set(calls.get(body[syms[plain][0]], ()))
                changed = True


def deepest(fn: str, frames: dict[str, int | None], calls: dict[str, set[str]],
            path: tuple[str, ...] = ()) -> tuple[int, list[str], set[str]]:
    """(bytes, the call chain, functions without a frame of their own: libc) of the deepest path."""
    if fn in path:
        raise SystemExit(f"recursion through {fn}: no static stack bound")
    if fn not in frames:
        return 0, [], {fn}
    if frames[fn] is None:
        raise SystemExit(f"{fn} has a dynamic stack frame: no static stack bound")
    best, chain, outside = 0, [], set()
    for callee in sorted(calls.get(fn, ())):
        n, c, o = deepest(callee, frames, calls, path + (fn,))
        outside |= o
        if n > best:
            best, chain = n, c
    return frames[fn] + best, [fn] + chain, outside


def reachable(roots: list[str], frames: dict[str, int | None], calls: dict[str, set[str]]) -> set[str]:
    """The functions of the compiled sources (those with a frame entry: not libc's or libgcc's)
    that ``roots`` call, directly or not, themselves included, by their plain names: GCC titles a
    file-local function "path:name" in its call graph, nm lists it as name."""
    seen: set[str] = set()
    todo = [fn for fn in roots if fn in frames]
    while todo:
        fn = todo.pop()
        if fn not in seen:
            seen.add(fn)
            todo.extend(c for c in calls.get(fn, ()) if c in frames)
    return {fn.rsplit(":", 1)[-1] for fn in seen}


def measure(board: str, name: str, model, precision: str, work: Path, wide: bool = False) -> dict:
    b = load_board(board)
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (8, 32, F)).astype(np.float32)
    q = quantize.quantize(model, x, None, precision)
    emit.generate(model, q, str(work / "gen"), wide=wide)
    proj = platformio.generate_project(b, work / "gen", work / "proj")
    with_stack_usage(proj)
    res = platformio.build(proj, b)
    syms = symbols(board, res.firmware_path)
    prefix = model.name + "_"
    frames, calls = call_graph(proj / ".pio")
    fold_aliases(frames, calls, syms)
    infer = {}
    for api in ("step", "run"):
        if prefix + api in frames:
            infer[api] = deepest(prefix + api, frames, calls)
    # the inference code alone: the runtime's and the model's functions that the model's API
    # reaches in the call graph; the rest of the overhead is the app, protocol, start-up and the
    # libc/libgcc helpers (memset, memcpy, 64-bit multiply; a board file may supply the last)
    api = [prefix + f for f in ("step", "run", "reset", "quantize_input")]
    code = {fn for fn in reachable(api, frames, calls)
            if fn.startswith(("rnnmcu_", prefix)) and fn in syms and syms[fn][2] in ("T", "t")}
    kernel = sum({syms[fn][0]: syms[fn][1] for fn in code}.values())  # a folded alias counts once
    # the model's constant arrays are file-local (static const): lower-case t/r, like its file-local
    # functions (a stacked model's <name>_forward), which are code
    model_const = {k: v for k, v in syms.items() if k.startswith(prefix) and v[2] in ("t", "r") and k not in code}
    weights = sum(v[1] for k, v in model_const.items() if re.search(r"_(w|u|u_cand)$", k))
    const_bytes = sum(v[1] for v in model_const.values())
    state = syms["rnnmcu_app_state"][1]
    buffers = sum(syms[k][1] for k in APP_BUFFERS if k in syms)
    lo, top = syms["__stack_limit"][0], syms["__stack_top"][0]
    stack_reserved = top - lo
    mon_path = str(work / "monitor.sock")
    with target.running(b, res, monitor=mon_path) as url, target.connect(url) as dev:
        info = dev.sync()
        xs = rng.integers(-60, 60, (8, F)).astype(info.in_dtype)
        if not info.window_only:
            dev.step(xs[0])
        dev.run(xs)
        dev.bench(xs[0], 4 if not info.window_only else min(4, info.max_steps))
        words = Monitor(mon_path).words(lo, stack_reserved // 4)
    used_from = next((i for i, w in enumerate(words) if w != PAINT), len(words))
    stack_hwm = stack_reserved - 4 * used_from
    static_ram = res.ram_bytes - stack_reserved
    return {"board": board, "model": name, "precision": precision,
            "flash_bytes": res.flash_bytes, "model_const_bytes": const_bytes, "weight_bytes": weights,
            "runtime_flash_overhead": res.flash_bytes - const_bytes, "inference_code_bytes": kernel,
            "state_scratch_bytes": state, "protocol_buffer_bytes": buffers,
            "other_static_ram_bytes": static_ram - state - buffers,
            "stack_high_water_bytes": stack_hwm, "stack_reserved_bytes": stack_reserved,
            "inference_stack_bytes": max(v[0] for v in infer.values()),
            "inference_stack_chain": {k: v[1] for k, v in infer.items()},
            "inference_stack_outside": sorted(set().union(*(v[2] for v in infer.values()))),
            "ram_beyond_state_scratch_and_buffers": static_ram - state - buffers + stack_hwm}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", default="qemu-m4,qemu-rv32,qemu-lx106")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--units", default="16,32,64,128")
    ap.add_argument("--json", default=str(REPO / "bench" / "footprint.json"))
    ap.add_argument("--wide-weights", action="store_true", help="the int16 weight layout (rnnmcu build --wide-weights)")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rnnmcu-footprint-"))
    rows = []
    i = 0
    for board in a.boards.split(","):
        for name, model in models([int(u) for u in a.units.split(",")]):
            i += 1
            r = measure(board, name, model, a.precision, root / f"m{i}", a.wide_weights)
            print(f"{board} {name}: {r}", file=sys.stderr)
            rows.append(r)
    Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")
    cols = [("flash", "flash_bytes"), ("model const", "model_const_bytes"), ("weights", "weight_bytes"),
            ("rt flash ovh", "runtime_flash_overhead"), ("infer. code", "inference_code_bytes"), ("state+scr", "state_scratch_bytes"),
            ("proto bufs", "protocol_buffer_bytes"), ("other RAM", "other_static_ram_bytes"),
            ("stack HWM", "stack_high_water_bytes"), ("infer. stack", "inference_stack_bytes")]
    print(f"{'board':<11} {'model':<24} " + " ".join(f"{c[0]:>12}" for c in cols))
    for r in rows:
        print(f"{r['board']:<11} {r['model']:<24} " + " ".join(f"{r[c[1]]:>12,}" for c in cols))
    outside = sorted(set().union(*(r["inference_stack_outside"] for r in rows))) if rows else []
    print(f"bytes, {a.precision}{' with wide (int16) weights' if a.wide_weights else ''}; rt flash ovh = flash - model const (runtime kernels + app + protocol + "
          f"board start-up + libc); stack HWM painted on the device (whole firmware); infer. stack = "
          f"the deepest call chain under <model>_step/_run from GCC's -fstack-usage"
          + (f" (not counting libc's {', '.join(outside)})" if outside else "") + f"; JSON: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
