"""Bench: post-training quantisation (PTQ) vs quantisation-aware fine-tuning (QAT) at int8.

For each case (cell x units x data set) trains the same spec twice with the same seed — without and
with ``qat`` (the first phase is identical; QAT adds ``--qat-epochs`` of fine-tune with int8 rounding
simulated) — converts both with ``rnnmcu.api.convert`` (int8, the training set as calibration data)
and evaluates them on held-out sequences with ``rnnmcu.api.evaluate`` (the bit-exact integer
reference).  Prints float accuracy, int8 accuracy, the gap and float/int8 argmax agreement.
Figures, not a pass/fail test.  A third row per case (``--control``) fine-tunes in float for the
same number of epochs, to separate QAT's effect from "more epochs".

    .venv/bin/python bench/qat.py [--cases gru:8,lstm:8] [--data hard|default] [--qat-epochs 10]
                                  [--seeds 1,2] [--control] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_case(work: str, train_npz: str, test_npz: str, cell: str, units: int, seed: int, mode: str,
             qat_epochs: int, epochs: int) -> dict:
    from rnnmcu import api
    from rnnmcu.trainer.spec import ModelSpec
    from rnnmcu.api import train

    tag = f"{cell}{units}-s{seed}-{mode}"
    keras_path = os.path.join(work, f"{tag}.keras")
    spec = ModelSpec(cell=cell, units=units, seed=seed, epochs=epochs + (qat_epochs if mode == "float+" else 0),
                     qat=mode == "qat", qat_epochs=qat_epochs,
                     patience=0 if mode == "float+" else 10)
    t0 = time.time()
    m = train(train_npz, keras_path, spec, progress=False)
    secs = time.time() - t0
    out = os.path.join(work, f"{tag}.rnnmcu")
    api.convert(keras_path, train_npz, "int8", out)
    e = api.evaluate(out, test_npz)
    return {"cell": cell, "units": units, "seed": seed, "mode": mode, "float_accuracy": e["float_accuracy"],
            "int8_accuracy": e["quantised_accuracy"], "gap": e["float_accuracy"] - e["quantised_accuracy"],
            "agreement": e["argmax_agreement"], "saturations": sum(e["saturations"].values()),
            "sequences": e["sequences"], "epochs": m["epochs_run"] + (m["qat"]["epochs_run"] if m["qat"] else 0),
            "train_seconds": round(secs, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="gru:8,lstm:8,rnn:16", help="cell:units,...")
    ap.add_argument("--data", choices=("hard", "default"), default="hard",
                    help="hard: rnnmcu data synth --hard (slow gyro gestures, rare knocks on gz)")
    ap.add_argument("--per-class", type=int, default=120)
    ap.add_argument("--test-per-class", type=int, default=400, help="test split = a quarter of this per class")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--qat-epochs", type=int, default=10)
    ap.add_argument("--control", action="store_true", help="add a float fine-tune row (same extra epochs, no rounding)")
    ap.add_argument("--json", default=None, help="also write the rows here")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    from rnnmcu.trainer.synth import write_synth

    work = args.workdir or tempfile.mkdtemp(prefix="rnnmcu-bench-qat-")
    os.makedirs(work, exist_ok=True)
    hard = args.data == "hard"
    train_npz, test_npz = os.path.join(work, "train.npz"), os.path.join(work, "test.npz")
    write_synth(train_npz, per_class=args.per_class, steps=args.steps, seed=1, hard=hard)
    write_synth(test_npz, per_class=args.test_per_class, steps=args.steps, seed=101, hard=hard)
    modes = ["ptq", "qat"] + (["float+"] if args.control else [])
    rows = []
    for case in args.cases.split(","):
        cell, units = case.split(":")
        for seed in (int(s) for s in args.seeds.split(",")):
            for mode in modes:
                r = run_case(work, train_npz, test_npz, cell, int(units), seed, mode, args.qat_epochs, args.epochs)
                rows.append(r)
                print(f"[{cell}x{units} seed {seed} {mode}] float {r['float_accuracy']:.3f} int8 "
                      f"{r['int8_accuracy']:.3f} ({r['train_seconds']} s)", file=sys.stderr, flush=True)

    print(f"data: {args.data}, {args.per_class} per class for training, {rows[0]['sequences'] if rows else 0} "
          f"held-out test sequences x {args.steps} steps; int8 via rnnmcu.api.convert/evaluate")
    hdr = f"{'case':<12} {'seed':>4} {'mode':<7} {'float acc':>9} {'int8 acc':>9} {'gap':>7} {'agree':>7} {'sat':>6} {'epochs':>6} {'s':>6}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['cell'] + 'x' + str(r['units']):<12} {r['seed']:>4} {r['mode']:<7} {r['float_accuracy']:>9.4f} "
              f"{r['int8_accuracy']:>9.4f} {r['gap']:>+7.4f} {r['agreement']:>7.4f} {r['saturations']:>6} "
              f"{r['epochs']:>6} {r['train_seconds']:>6}")
    by = {}
    for r in rows:
        by.setdefault(r["mode"], []).append(r)
    print()
    for mode, rs in by.items():
        n = len(rs)
        print(f"mean over {n} run(s), {mode:<7}: float {sum(r['float_accuracy'] for r in rs) / n:.4f}  "
              f"int8 {sum(r['int8_accuracy'] for r in rs) / n:.4f}  gap {sum(r['gap'] for r in rs) / n:+.4f}  "
              f"agreement {sum(r['agreement'] for r in rs) / n:.4f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
