"""run() with the first layer's input projections computed a block of steps at a time
(rnnmcu build --input-projections B) against the plain step, on the emulated boards: instructions
per step and RAM from the linker, for LSTM 32, GRU 64 and LSTM 128 with 6 inputs (IMU) and 40
(keyword-spotting features).

    .venv/bin/python bench/input_projections.py [--boards qemu-m4,qemu-rv32,qemu-lx106]
                                                [--blocks 8,16] [--precision int8] [--wide-weights]
                                                [--json out.json] [--jobs 2]

B=0 is a build without the option.  Every build here is generated with emit's bench_run (what a
--input-projections build has anyway): its BENCH times one run() over 48 copies of the vector
(firmware/app/rnnmcu_app.c), so both sides time run(); run() of a plain build steps through the
window with step()'s forward function, minus the app's per-step call and output copy.
Instruction counts come from QEMU -icount shift=0.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
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
sys.path.insert(0, str(REPO / "bench"))

from step_cost import _NUMPY, BOARDS  # noqa: E402

from rnnmcu import ir, target  # noqa: E402
from rnnmcu.boards.loader import load_board  # noqa: E402
from rnnmcu.codegen import emit, quantize  # noqa: E402

from codegen_helpers import random_recurrent  # noqa: E402

STEPS = 48
SHAPES = [("lstm", 32), ("gru", 64), ("lstm", 128)]


def measure(board: str, cell: str, n: int, F: int, precision: str, wide: bool, B: int, work: Path) -> dict:
    b = load_board(board)
    with _NUMPY:  # every numpy step of a worker, one worker at a time (step_cost._NUMPY)
        rng = np.random.default_rng(7)
        model = ir.Model(name="m", input_dim=F, layers=[random_recurrent(rng, cell, F, n)],
                         norm_mean=np.zeros(F), norm_std=np.ones(F))
        x = rng.normal(0, 1, (8, 32, F)).astype(np.float32)
        q = quantize.quantize(model, x, None, precision)
        xs = (rng.normal(0, 1, F) * 3).astype({8: np.int8, 16: np.int16}[q.input_bits])
        emit.generate(model, q, str(work / "gen"), wide=wide, proj_steps=B, bench_run=True)
    res = target.build(b, work / "gen", work, project="proj")
    with target.launch(b, res) as dev:
        info = dev.sync()
        assert info.bench_runs, "the build's flags do not say BENCH times run()"
        r = dev.bench(xs, STEPS).to_dict()
    return {"per_step": r["per_step"], "ram_bytes": res.ram_bytes, "flash_bytes": res.flash_bytes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--blocks", default="8,16", help="block lengths B to compare with the plain step")
    ap.add_argument("--inputs", default="6,40")
    ap.add_argument("--precision", choices=["int8", "int16"], default="int8")
    ap.add_argument("--wide-weights", action="store_true")
    ap.add_argument("--json", default=str(REPO / "bench" / "input_projections.json"))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    blocks = [0] + [int(v) for v in a.blocks.split(",")]
    tasks = [(bd, F, cell, n, B) for bd in a.boards.split(",") for F in map(int, a.inputs.split(","))
             for cell, n in SHAPES for B in blocks]
    root = Path(tempfile.mkdtemp(prefix="rnnmcu-proj-"))
    t0 = time.monotonic()

    def one(i_task):
        i, (bd, F, cell, n, B) = i_task
        r = measure(bd, cell, n, F, a.precision, a.wide_weights, B, root / f"t{i}")
        print(f"[{time.monotonic() - t0:6.1f}s] {bd} {cell}{n} {F} in B={B}: {r['per_step']}", file=sys.stderr)
        return {"board": bd, "model": f"{cell}{n}", "inputs": F, "block": B, **r}

    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        rows = list(pool.map(one, enumerate(tasks)))
    base = {(r["board"], r["model"], r["inputs"]): r for r in rows if r["block"] == 0}
    for r in rows:
        b0 = base[(r["board"], r["model"], r["inputs"])]
        r["change_pct"] = round(100.0 * (r["per_step"] - b0["per_step"]) / b0["per_step"], 2)
        r["extra_ram_bytes"] = r["ram_bytes"] - b0["ram_bytes"]
    head = f"{'board':<11} {'model':<8} {'in':>3} " + " ".join(
        f"{'B=0' if B == 0 else f'B={B}':>22}" for B in blocks)
    print(f"instructions per step of run(), {a.precision}{' wide weights' if a.wide_weights else ''} "
          f"(change against B=0; extra RAM from the linker)")
    print(head)
    for key, b0 in base.items():
        cells = []
        for B in blocks:
            r = next(x for x in rows if (x["board"], x["model"], x["inputs"]) == key and x["block"] == B)
            cells.append(f"{r['per_step']:>10,.0f}" if B == 0 else
                         f"{r['per_step']:>8,.0f} {r['change_pct']:+5.1f}% {r['extra_ram_bytes']:+6,}B")
        print(f"{key[0]:<11} {key[1]:<8} {key[2]:>3} " + " ".join(f"{c:>22}" for c in cells))
    tmp = Path(a.json + ".tmp")
    tmp.write_text(json.dumps({"precision": a.precision, "wide": a.wide_weights, "steps": STEPS, "rows": rows},
                              indent=2))
    tmp.replace(a.json)
    print(f"wrote {a.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
