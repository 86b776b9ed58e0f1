"""Bench: accuracy of the quantised models — cell × precision → accuracy, argmax agreement with
the float model, max abs output error (and TFLite full-int8 in LiteRT / TFLite Micro with --tflite).

Trains one small classifier per cell on the synthetic IMU gesture set (`rnnmcu data synth`),
converts it to int8 / int16 / float32 with the training split as calibration data, and evaluates
on held-out sequences with the bit-exact integer reference.  Figures, not a pass/fail test.

    .venv/bin/python bench/accuracy.py [--cells rnn,lstm,gru] [--units 16] [--tflite] [--qat] [--hard]
                                       [--json out.json]

Cells: rnn, lstm, gru, peephole-lstm, peephole-gru, and bi-<cell> for a Bidirectional (concat)
one.  "float acc" of a QAT row is the fine-tuned float model's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

UNITS = {"rnn": 32, "lstm": 16, "gru": 16}
VARIANTS = "rnn,lstm,gru,peephole-lstm,peephole-gru,bi-lstm,bi-gru"


def spec_for(cell: str, units: int, seed: int, **kw):
    """``bi-<cell>``: the cell inside a Bidirectional (concat)."""
    from rnnmcu.trainer.spec import ModelSpec

    if cell.startswith("bi-"):
        return ModelSpec(cell=cell[3:], units=units, seed=seed, bidirectional=True, **kw)
    return ModelSpec(cell=cell, units=units, seed=seed, **kw)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", default=VARIANTS, help=f"comma-separated, default {VARIANTS}")
    ap.add_argument("--units", type=int, default=None, help="units per cell (default: rnn 32, others 16)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-per-class", type=int, default=400, help="test split = a quarter of this per class")
    ap.add_argument("--tflite", action="store_true", help="add TFLite (LiteRT, TFLite Micro) rows")
    ap.add_argument("--qat", action="store_true",
                    help="add int8 rows for the same model fine-tuned with quantisation-aware training")
    ap.add_argument("--hard", action="store_true", help="the harder synthetic set (rare large shocks)")
    ap.add_argument("--json", default=None, help="also write the rows here")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    from rnnmcu import api
    from rnnmcu.trainer.synth import write_synth
    from rnnmcu.trainer.train import train

    work = args.workdir or tempfile.mkdtemp(prefix="rnnmcu-bench-acc-")
    os.makedirs(work, exist_ok=True)
    train_npz, test_npz = os.path.join(work, "train.npz"), os.path.join(work, "test.npz")
    write_synth(train_npz, seed=args.seed, hard=args.hard)
    write_synth(test_npz, per_class=args.test_per_class, seed=args.seed + 100, hard=args.hard)
    rows = []
    for cell in args.cells.split(","):
        units = args.units or UNITS.get(cell, 16)
        keras_path = os.path.join(work, f"{cell}.keras")
        t0 = time.time()
        train(train_npz, keras_path, spec_for(cell, units, args.seed), progress=False)
        print(f"[{cell}] trained in {time.time() - t0:.0f} s", file=sys.stderr)
        for precision in ("float32", "int16", "int8"):
            out = os.path.join(work, f"{cell}-{precision}.rnnmcu")
            summary = api.convert(keras_path, train_npz, precision, out)
            e = api.evaluate(out, test_npz)
            rows.append({"cell": cell, "units": units, "engine": f"rnnmcu {precision}",
                         "float_accuracy": e["float_accuracy"], "accuracy": e["quantised_accuracy"],
                         "agreement": e["argmax_agreement"], "max_abs_error": e["max_abs_error"],
                         "weight_bytes": summary["weight_bytes"], "sequences": e["sequences"],
                         "saturations": sum(e["saturations"].values())})
        if args.qat:
            qat_path = os.path.join(work, f"{cell}-qat.keras")
            train(train_npz, qat_path, spec_for(cell, units, args.seed, qat=True), progress=False)
            out = os.path.join(work, f"{cell}-qat-int8.rnnmcu")
            summary = api.convert(qat_path, train_npz, "int8", out)
            e = api.evaluate(out, test_npz)
            rows.append({"cell": cell, "units": units, "engine": "rnnmcu int8 + QAT",
                         "float_accuracy": e["float_accuracy"], "accuracy": e["quantised_accuracy"],
                         "agreement": e["argmax_agreement"], "max_abs_error": e["max_abs_error"],
                         "weight_bytes": summary["weight_bytes"], "sequences": e["sequences"],
                         "saturations": sum(e["saturations"].values())})
        if args.tflite:
            rows += tflite(cell, units, keras_path, train_npz, test_npz, work)

    head = f"{'cell':13} {'units':>5}  {'engine':20} {'float acc':>9} {'accuracy':>9} {'agreement':>9} {'max abs err':>11}  note"
    print(head)
    print("-" * len(head))
    for r in rows:
        def f(v, fmt):
            return format(v, fmt) if isinstance(v, (int, float)) else "-"
        note = r.get("reason") or (f"{r['saturations']} saturations" if r.get("saturations") else "")
        print(f"{r['cell']:13} {r['units']:>5}  {r['engine']:20} {f(r.get('float_accuracy'), '9.3f')} "
              f"{f(r.get('accuracy'), '9.3f')} {f(r.get('agreement'), '9.3f')} {f(r.get('max_abs_error'), '11.5f')}  {note}")
    print(f"({rows[0]['sequences'] if rows else 0} held-out sequences per row; data and models in {work})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


def tflite(cell: str, units: int, keras_path: str, train_npz: str, test_npz: str, work: str) -> list[dict]:
    """TFLite full-int8 rows through the comparison engines of `rnnmcu compare`."""
    import numpy as np

    from rnnmcu.codegen import float_ref
    from rnnmcu.data import load_npz
    from rnnmcu.trainer.compare import tflite_rows
    from rnnmcu.trainer.keras_import import load_keras_model

    model = load_keras_model(keras_path)
    tr, te = load_npz(train_npz), load_npz(test_npz)
    x, L, y = te.x_test, te.lengths_test, te.y_test
    Lf = np.full(len(x), x.shape[1]) if L is None else L
    y_ref = float_ref.forward(model, x, Lf)
    out, _, _ = tflite_rows(model, x, Lf, y, y_ref, tr.x, tr.lengths, os.path.join(work, f"tflite-{cell}"))
    fa = float((y_ref.argmax(-1) == y).mean())
    return [{"cell": cell, "units": units, "engine": r.engine, "float_accuracy": fa, "accuracy": r.accuracy,
             "agreement": r.agreement, "max_abs_error": r.max_abs_error, "reason": r.reason,
             "sequences": len(x)} for r in out]


if __name__ == "__main__":
    sys.exit(main())
