"""Bench: accuracy of the quantised models on short and long sequences — data set × cell ×
precision → accuracy, argmax agreement with the float model, max abs output error (and TFLite
full-int8 in LiteRT / TFLite Micro with --tflite, quantisation-aware fine-tuning with --qat).

Data sets (each generated here, a training set and a larger held-out test set):

* ``imu``        the synthetic IMU gestures (`rnnmcu data synth`): 64 steps, 6 channels
* ``imu-hard``   the same with slow gestures and rare large knocks (`--hard`)
* ``power183``   appliance power traces (`rnnmcu data synth --kind power --subsample 8`): one
                 heavy-tailed channel, 183 steps
* ``power1460``  the same at full length, 1,460 steps

For each set and cell it trains one classifier with `rnnmcu train` (32 units by default), converts
it to float32, int16, int8 and auto (`--precision auto`, the cheapest that agrees on 99.5% of a
held-out fifth of the calibration data) with the training split as calibration data, and
evaluates on the test set with the bit-exact integer reference.  Figures, not a pass/fail test.

    .venv/bin/python bench/accuracy.py [--sets imu,imu-hard,power183,power1460] [--cells lstm,gru]
                                       [--units 32] [--tflite] [--qat] [--json out.json]

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

SETS = {
    # name: (generator, keyword arguments, test per_class, training epochs)
    "imu": ("imu", {}, 400, 30),
    "imu-hard": ("imu", {"hard": True}, 400, 30),
    "power183": ("power", {"subsample": 8, "per_class": 80}, 100, 100),
    "power1460": ("power", {"per_class": 80}, 40, 120),
}


def spec_for(cell: str, units: int, seed: int, **kw):
    """``bi-<cell>``: the cell inside a Bidirectional (concat)."""
    from rnnmcu.trainer.spec import ModelSpec

    if cell.startswith("bi-"):
        return ModelSpec(cell=cell[3:], units=units, seed=seed, bidirectional=True, **kw)
    return ModelSpec(cell=cell, units=units, seed=seed, **kw)


def make_set(name: str, seed: int, work: str) -> tuple[str, str, int]:
    """(train.npz, test.npz, epochs) for set ``name``."""
    import numpy as np

    from rnnmcu.data import Dataset, save_npz
    from rnnmcu.trainer.synth import write_synth
    from rnnmcu.trainer.synth_power import make_power

    kind, kw, test_per_class, epochs = SETS[name]
    train_npz, test_npz = os.path.join(work, f"{name}-train.npz"), os.path.join(work, f"{name}-test.npz")
    if kind == "imu":
        write_synth(train_npz, seed=seed, **kw)
        write_synth(test_npz, per_class=test_per_class, seed=seed + 100, **kw)
    else:
        save_npz(train_npz, make_power(seed=seed, **kw))
        t = make_power(seed=seed + 100, **{**kw, "per_class": test_per_class})
        # every sequence of the test file is held out (make_power's own test split is a quarter)
        save_npz(test_npz, Dataset(x=np.concatenate([t.x, t.x_test]), y=np.concatenate([t.y, t.y_test]),
                                   class_names=t.class_names))
    return train_npz, test_npz, epochs


def row(data: str, cell: str, units: int, engine: str, e: dict, summary: dict | None = None) -> dict:
    return {"set": data, "cell": cell, "units": units, "engine": engine,
            "float_accuracy": e["float_accuracy"], "accuracy": e["quantised_accuracy"],
            "agreement": e["argmax_agreement"], "max_abs_error": e["max_abs_error"],
            "weight_bytes": (summary or {}).get("weight_bytes"), "sequences": e["sequences"],
            "saturations": sum(e["saturations"].values()),
            "disagreeing_float_margin_max": e.get("disagreeing_float_margin_max")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, default {','.join(SETS)}")
    ap.add_argument("--cells", default="lstm,gru", help="comma-separated, default lstm,gru")
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=None, help="override every set's training epochs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tflite", action="store_true", help="add TFLite (LiteRT, TFLite Micro) rows")
    ap.add_argument("--qat", action="store_true",
                    help="add int8 rows for the same model fine-tuned with quantisation-aware training")
    ap.add_argument("--json", default=None, help="also write the rows here")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    from rnnmcu import api
    from rnnmcu.api import train

    work = args.workdir or tempfile.mkdtemp(prefix="rnnmcu-bench-acc-")
    os.makedirs(work, exist_ok=True)
    rows = []
    for data in args.sets.split(","):
        train_npz, test_npz, epochs = make_set(data, args.seed, work)
        epochs = args.epochs or epochs
        for cell in args.cells.split(","):
            keras_path = os.path.join(work, f"{data}-{cell}.keras")
            t0 = time.time()
            train(train_npz, keras_path, spec_for(cell, args.units, args.seed, epochs=epochs), progress=False)
            print(f"[{data} {cell}] trained in {time.time() - t0:.0f} s", file=sys.stderr)
            for precision in ("float32", "int16", "int8", "auto"):
                out = os.path.join(work, f"{data}-{cell}-{precision}.rnnmcu")
                summary = api.convert(keras_path, train_npz, precision, out)
                e = api.evaluate(out, test_npz)
                name = f"rnnmcu {precision}" if precision != "auto" else f"rnnmcu auto ({summary['precision']})"
                rows.append(row(data, cell, args.units, name, e, summary))
            if args.qat:
                qat_path = os.path.join(work, f"{data}-{cell}-qat.keras")
                train(train_npz, qat_path, spec_for(cell, args.units, args.seed, epochs=epochs, qat=True),
                      progress=False)
                out = os.path.join(work, f"{data}-{cell}-qat-int8.rnnmcu")
                summary = api.convert(qat_path, train_npz, "int8", out)
                rows.append(row(data, cell, args.units, "rnnmcu int8 + QAT", api.evaluate(out, test_npz), summary))
            if args.tflite:
                rows += tflite(data, cell, args.units, keras_path, train_npz, test_npz, work)

    head = (f"{'set':10} {'cell':6} {'units':>5}  {'engine':22} {'float acc':>9} {'accuracy':>9} "
            f"{'agreement':>9} {'max abs err':>11}  note")
    print(head)
    print("-" * len(head))
    for r in rows:
        def f(v, fmt):
            return format(v, fmt) if isinstance(v, (int, float)) else "-"
        notes = [f"{r['saturations']} saturations"] if r.get("saturations") else []
        if r.get("disagreeing_float_margin_max") is not None:
            notes.append(f"float top-two gap <= {r['disagreeing_float_margin_max']:.4f} where they differ")
        note = r.get("reason") or ", ".join(notes)
        print(f"{r['set']:10} {r['cell']:6} {r['units']:>5}  {r['engine']:22} {f(r.get('float_accuracy'), '9.3f')} "
              f"{f(r.get('accuracy'), '9.3f')} {f(r.get('agreement'), '9.4f')} {f(r.get('max_abs_error'), '11.5f')}  {note}")
    print(f"(held-out sequences per row: {', '.join(sorted({str(r['sequences']) for r in rows}))}; "
          f"data and models in {work})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


def tflite(data: str, cell: str, units: int, keras_path: str, train_npz: str, test_npz: str, work: str) -> list[dict]:
    """TFLite full-int8 rows through the comparison engines of `rnnmcu compare`."""
    import numpy as np

    from rnnmcu.codegen import float_ref
    from rnnmcu.data import load_npz
    from rnnmcu.compare.table import tflite_rows
    from rnnmcu.trainer.keras_import import load_keras_model

    model = load_keras_model(keras_path)
    tr, te = load_npz(train_npz), load_npz(test_npz)
    # the test file's held-out split when it has one (as `rnnmcu eval`), else all of it
    x, L, y = (te.x_test, te.lengths_test, te.y_test) if te.x_test is not None else (te.x, te.lengths, te.y)
    Lf = np.full(len(x), x.shape[1]) if L is None else L
    y_ref = float_ref.forward(model, x, Lf)
    out, _, _ = tflite_rows(model, x, Lf, y, y_ref, tr.x, tr.lengths, os.path.join(work, f"tflite-{data}-{cell}"))
    fa = float((y_ref.argmax(-1) == y).mean())
    return [{"set": data, "cell": cell, "units": units, "engine": r.engine, "float_accuracy": fa,
             "accuracy": r.accuracy, "agreement": r.agreement, "max_abs_error": r.max_abs_error,
             "reason": r.reason, "sequences": len(x)} for r in out]


if __name__ == "__main__":
    sys.exit(main())
