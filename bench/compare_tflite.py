"""Bench: rnnmcu vs TensorFlow Lite (LiteRT and TFLite Micro) on the synthetic sensor set.

Trains a small LSTM, GRU and SimpleRNN classifier (Masking + Normalization + 16 units + softmax) on
variable-length synthetic IMU gestures, then prints the `rnnmcu compare` table for each.  Figures,
not a pass/fail test.

    .venv/bin/python bench/compare_tflite.py [--units 16] [--epochs 25] [--json out.json] [--plots DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def train(cell: str, data_path: str, out: str, units: int, epochs: int) -> str:
    import keras

    from rnnmcu.data import load_npz

    ds = load_npz(data_path)
    keras.utils.set_random_seed(0)
    norm = keras.layers.Normalization(axis=-1)
    valid = np.arange(ds.x.shape[1])[None, :] < ds.lengths[:, None]
    norm.adapt(ds.x[valid][None])
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[cell](units)
    km = keras.Sequential([keras.Input((None, ds.x.shape[2])), keras.layers.Masking(0.0), norm, rnn,
                           keras.layers.Dense(len(ds.class_names), activation="softmax")], name=f"bench_{cell}")
    km.compile(keras.optimizers.Adam(0.01, clipnorm=1.0), "sparse_categorical_crossentropy")
    km.fit(ds.x, ds.y, epochs=epochs, batch_size=32, verbose=0)
    km.save(out)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--cells", default="lstm,gru,rnn")
    ap.add_argument("--json", default=None)
    ap.add_argument("--plots", default=None, help="folder for one PNG per cell")
    a = ap.parse_args()

    from rnnmcu.data import save_npz
    from rnnmcu.compare import table as cmp
    from rnnmcu.trainer import synth

    results = {}
    with tempfile.TemporaryDirectory(prefix="rnnmcu-bench-") as tmp:
        data = os.path.join(tmp, "synth.npz")
        save_npz(data, synth.make_synth(classes=5, per_class=80, steps=64, variable_length=True, seed=0))
        for cell in a.cells.split(","):
            t0 = time.monotonic()
            model = train(cell, data, os.path.join(tmp, f"{cell}.keras"), a.units, a.epochs)
            c = cmp.compare(model, data)
            print(cmp.format_table(c))
            print(f"({time.monotonic() - t0:.0f} s including training)\n", flush=True)
            results[cell] = c.to_dict()
            if a.plots:
                os.makedirs(a.plots, exist_ok=True)
                cmp.plot(c, os.path.join(a.plots, f"compare_{cell}.png"))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
