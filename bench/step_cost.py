"""Step cost on the emulated boards: instructions per timestep, multiply-accumulates per step and
instructions per MAC, for SimpleRNN / LSTM / GRU at 16, 32, 64 and 128 units (6 inputs), one
stacked and one bidirectional model, in int8 and int16 with the board's arch kernels, in int8
with the wide weight layout (rnnmcu build --wide-weights: int16 weights), in int8 with the
portable C only (the project generated without firmware/src/arch/), and in float32.

    .venv/bin/python bench/step_cost.py [--boards qemu-m4,qemu-rv32,qemu-lx106] [--units 16,32,64,128]
                                        [--json out.json] [--jobs 2]

Figures come from each board's BENCH (instruction counter under QEMU -icount shift=0: the same
on every run).  A step is the model's `step()` (or, for window-only models, `run()` of one step's
share of a window: BENCH divides by n).  Results table on stdout, progress on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# One BLAS thread: the workers below fork compilers and emulators while another may be inside numpy,
# and OpenBLAS's fork handler waits for its own threads (seen here: a worker stuck in
# Popen._execute_child while the other sat in float_ref's matmul, for good).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from rnnmcu import footprint, ir, target  # noqa: E402
from rnnmcu.boards.loader import load_board  # noqa: E402
from rnnmcu.codegen import emit, quantize  # noqa: E402
from rnnmcu.errors import RnnmcuError  # noqa: E402

from codegen_helpers import random_recurrent  # noqa: E402

F = 6
BOARDS = ["qemu-m4", "qemu-rv32", "qemu-lx106"]
VARIANTS = ["int8", "int16", "int8-wide", "int8-portable", "float32"]
REPEATS = 40
# Quantisation runs numpy's matmul, and two threads inside OpenBLAS's threaded gemm at once can
# deadlock (seen here: one spinning in inner_thread, the other waiting on its level-3 lock, for
# good); the workers take turns for that part only, builds and emulator runs stay parallel.
_NUMPY = threading.Lock()


def models(units: list[int]) -> list[tuple[str, ir.Model]]:
    rng = np.random.default_rng(7)
    out = []
    for cell in ("simple", "lstm", "gru"):
        for n in units:
            layers = [random_recurrent(rng, cell, F, n)]
            out.append((f"{cell}{n}", ir.Model(name=f"{cell}{n}", input_dim=F, layers=layers,
                                               norm_mean=np.zeros(F), norm_std=np.ones(F))))
    layers = [random_recurrent(rng, "lstm", F, 32, return_sequences=True), random_recurrent(rng, "lstm", 32, 32),
              ir.Dense(W=rng.normal(0, 0.5, (4, 32)), b=rng.normal(0, 0.1, 4))]
    out.append(("stacked_lstm32x2+dense4", ir.Model(name="stacked", input_dim=F, layers=layers,
                                                     norm_mean=np.zeros(F), norm_std=np.ones(F))))
    bi = ir.Bidirectional(forward=random_recurrent(rng, "gru", F, 32),
                          backward=random_recurrent(rng, "gru", F, 32, go_backwards=True), merge_mode="concat")
    layers = [bi, ir.Dense(W=rng.normal(0, 0.5, (4, 64)), b=rng.normal(0, 0.1, 4))]
    out.append(("bidir_gru32+dense4", ir.Model(name="bidir", input_dim=F, layers=layers,
                                                norm_mean=np.zeros(F), norm_std=np.ones(F))))
    return out


def measure(board: str, model: ir.Model, variant: str, work: Path) -> dict:
    """Build, boot and BENCH one model; {'per_step': …} or {'na': reason}."""
    b = load_board(board)
    precision = variant.split("-")[0]
    if precision == "float32" and board == "qemu-lx106":
        return {"na": "n/a (no soft-float on this toolchain)"}
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (8, 32, F)).astype(np.float32)
    gen, proj = work / "gen", work / "proj"
    with _NUMPY:
        try:
            q = quantize.quantize(model, x, None, precision)
        except RnnmcuError as exc:
            return {"na": f"n/a (quantize: {exc})"}
        emit.generate(model, q, str(gen), wide=variant.endswith("-wide"))
    try:
        res = target.build(b, gen, proj.parent, project=proj.name, arch=variant != "int8-portable")
    except RnnmcuError as exc:
        return {"na": f"n/a (build failed: {str(exc).splitlines()[0]})"}
    dtype = {8: np.int8, 16: np.int16, 32: np.float32}[q.input_bits]  # the model's input type
    xs = (rng.normal(0, 1, F) * (3 if precision != "float32" else 0.5)).astype(dtype)
    with target.launch(b, res) as dev:
        info = dev.sync()
        reps = min(REPEATS, info.max_steps) if info.window_only else REPEATS
        r = dev.bench(xs, reps).to_dict()
    return {"per_step": r["per_step"], "flash_bytes": res.flash_bytes, "ram_bytes": res.ram_bytes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--units", default="16,32,64,128")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--json", default=str(REPO / "bench" / "step_cost.json"))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    boards, variants = a.boards.split(","), a.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    ms = models([int(u) for u in a.units.split(",")])
    tasks = [(bd, name, m, v) for bd in boards for name, m in ms for v in variants]
    root = Path(tempfile.mkdtemp(prefix="rnnmcu-stepcost-"))
    t0 = time.monotonic()

    def one(i_task):
        i, (bd, name, m, v) = i_task
        r = measure(bd, m, v, root / f"t{i}")
        print(f"[{time.monotonic() - t0:6.1f}s] {bd} {name} {v}: {r.get('per_step', r.get('na'))}", file=sys.stderr)
        return bd, name, m, v, r

    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        results = list(pool.map(one, enumerate(tasks)))
    rows = []
    for bd, name, m, v, r in results:
        macs = footprint.macs_per_step(m)
        row = {"board": bd, "model": name, "variant": v, "macs_per_step": macs}
        if "per_step" in r:
            row.update(instructions_per_step=r["per_step"], instructions_per_mac=round(r["per_step"] / macs, 3),
                       flash_bytes=r["flash_bytes"], ram_bytes=r["ram_bytes"])
        else:
            row["na"] = r["na"]
        rows.append(row)
    Path(a.json).write_text(json.dumps({"repeats": REPEATS, "inputs": F, "rows": rows}, indent=1) + "\n")
    # table: one line per board x model, instructions per step (per MAC) for each variant
    print(f"{'board':<11} {'model':<24} {'MACs':>6}  " + "  ".join(f"{v:>22}" for v in variants))
    by = {(r["board"], r["model"], r["variant"]): r for r in rows}
    for bd in boards:
        for name, m in ms:
            cells = []
            for v in variants:
                r = by[(bd, name, v)]
                cells.append(f"{r['instructions_per_step']:>11,.0f} ({r['instructions_per_mac']:5.2f})"
                             if "instructions_per_step" in r else f"{r['na'][:22]:>22}")
            print(f"{bd:<11} {name:<24} {footprint.macs_per_step(m):>6}  " + "  ".join(f"{c:>22}" for c in cells))
    nas = sorted({r["na"] for r in rows if "na" in r})
    for reason in nas:
        print("note:", reason)
    print(f"instructions per step (instructions per MAC); JSON: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
