"""Click commands ``rnnmcu train`` and ``rnnmcu data ...`` (registered lazily by rnnmcu.cli).

Each command only parses its options and calls a plain function (:func:`rnnmcu.trainer.train.train`,
:func:`rnnmcu.trainer.synth.write_synth`, :mod:`rnnmcu.trainer.datasets`); errors are
:mod:`rnnmcu.errors` exceptions, which ``rnnmcu``'s main maps to exit codes.  Results go to stdout
(``--json`` for scripts), progress to stderr.
"""
from __future__ import annotations

from typing import Any

import click

from rnnmcu.cli import ExistingFile
from rnnmcu.trainer.spec import CELLS, MERGE_MODES


def _emit(result: Any, as_json: bool, title: str | None = None) -> None:
    from rnnmcu.cli import emit

    emit(result, as_json, title=title)


@click.command("train")
@click.argument("data_path", metavar="DATA",
                type=ExistingFile("data file", "make a dataset with `rnnmcu data synth -o data.npz`, or pass a CSV"))
@click.option("-o", "--output", "out_path", required=True, metavar="MODEL.keras",
              help="Where to save the trained Keras model (.keras).")
@click.option("--spec", "spec_file", metavar="FILE.toml", type=ExistingFile("spec file"), help="Model/training spec; flags override it.")
@click.option("--cell", type=click.Choice(CELLS), help="Recurrent cell (default gru).")
@click.option("--units", type=click.IntRange(1, 4096), help="Units per recurrent layer (default 32).")
@click.option("--layers", type=click.IntRange(1, 16), help="Stacked recurrent layers (default 1).")
@click.option("--bidirectional/--unidirectional", default=None, help="Wrap each recurrent layer in Bidirectional.")
@click.option("--merge-mode", type=click.Choice(MERGE_MODES), help="Bidirectional merge mode (default concat).")
@click.option("--dropout", type=click.FloatRange(0.0, 1.0, max_open=True), help="Dropout after each recurrent layer.")
@click.option("--dense", type=click.IntRange(0, 4096), help="Hidden Dense head size before the classifier (0 = none).")
@click.option("--activation", help="Recurrent activation (default tanh).")
@click.option("--recurrent-activation", help="Gate activation for LSTM/GRU (default sigmoid).")
@click.option("--epochs", type=click.IntRange(1), help="Maximum epochs (default 60).")
@click.option("--batch-size", type=click.IntRange(1), help="Batch size (default 32).")
@click.option("--lr", type=click.FloatRange(0.0, 10.0, min_open=True), help="Learning rate (default 0.005; 0.002 for rnn).")
@click.option("--patience", type=click.IntRange(0), help="Early-stopping patience in epochs (0 = off; default 10).")
@click.option("--clipnorm", type=click.FloatRange(0.0), help="Gradient clipping norm (0 = off; default 1.0).")
@click.option("--class-weights", type=click.Choice(("auto", "none")), help="Class weighting (default auto).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), help="Random seed (default 0).")
@click.option("--qat/--no-qat", default=None,
              help="After training, fine-tune with int8 rounding simulated (quantisation-aware); "
                   "the saved model stays a plain Keras model.")
@click.option("--qat-epochs", type=click.IntRange(1), help="Epochs of the quantisation-aware fine-tune (default 10).")
@click.option("--qat-lr", type=click.FloatRange(0.0, 10.0, min_open=True),
              help="Learning rate of the fine-tune (default: a fifth of --lr).")
@click.option("--variable-length", is_flag=True, help="CSV: pad sequences of different lengths with zeros and keep their lengths (each trains and runs on its own length).")
@click.option("--window", type=click.IntRange(1), help="CSV stream: window length in steps (windowing mode).")
@click.option("--hop", type=click.IntRange(1), help="CSV stream: hop between windows (default = window).")
@click.option("--label-mode", type=click.Choice(("majority", "last")), default="majority", show_default=True,
              help="CSV stream: window label = majority of its steps, or its last step.")
@click.option("--test-fraction", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.0,
              help="CSV stream: the last part of the stream held out as the test split.")
@click.option("--report", "report_dir", metavar="DIR", help="Write metrics.json and PNG plots here.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print all metrics as JSON.")
def train(data_path: str, out_path: str, spec_file: str | None, report_dir: str | None, quiet: bool,
          as_json: bool, variable_length: bool, window: int | None, hop: int | None, label_mode: str,
          test_fraction: float, **flags: Any) -> None:
    """Train a recurrent classifier on DATA (.npz, or .csv long form / stream).

    The model takes raw sensor units (a Normalization layer is adapted on the data) and is
    saved as MODEL.keras for `rnnmcu convert`.

    \b
    Examples:
      rnnmcu train data.npz -o model.keras --cell lstm --units 16
      rnnmcu train data.npz -o model.keras --spec model.toml --report report/
      rnnmcu train data.npz -o model.keras --cell gru --units 8 --qat --qat-epochs 10
      rnnmcu train data.npz -o model.keras --cell peephole-lstm --bidirectional --merge-mode sum
      rnnmcu train stream.csv -o model.keras --window 64 --hop 16 --test-fraction 0.2
    """
    from rnnmcu.trainer.spec import build_spec
    from rnnmcu.api import train as run

    spec = build_spec(spec_file, **flags)
    metrics = run(data_path, out_path, spec, report_dir=report_dir, progress=not quiet,
                  variable_length=variable_length, window=window, hop=hop, label_mode=label_mode,
                  test_fraction=test_fraction)
    if as_json:
        _emit(metrics, True)
        return
    summary = {
        "model": metrics["model"],
        f"{metrics['eval_split']} accuracy": round(metrics["accuracy"], 4),
        "validation accuracy": round(metrics["val_accuracy"], 4),
        "epochs": f"{metrics['epochs_run']} (best {metrics['best_epoch']})",
        "sequences": f"train {metrics['n_train']}, validation {metrics['n_val']}, test {metrics['n_test']}",
        "parameters": metrics["size"]["parameters"],
        "MACs per step": metrics["size"]["macs_per_step"],
        "int8 weight bytes": metrics["size"]["int8"]["weight_bytes"],
    }
    if metrics.get("qat"):
        q = metrics["qat"]
        summary["int8 fine-tune"] = (f"{q['epochs_run']} epochs (best {q['best_epoch']}); simulated int8 "
                                     f"validation accuracy {q['sim_int8_val_accuracy_before']:.4f} -> "
                                     f"{q['sim_int8_val_accuracy_after']:.4f}")
    if report_dir:
        summary["report"] = report_dir
    shape = f"{spec.layers}x " if spec.layers > 1 else ""
    bi = f" bidirectional ({spec.merge_mode})" if spec.bidirectional else ""
    _emit(summary, False, title=f"trained {shape}{spec.cell} x{spec.units}{bi} on {data_path}")


@click.group("data")
def data() -> None:
    """Make and convert datasets."""


@data.command("synth")
@click.option("-o", "--output", "out_path", required=True, metavar="FILE.npz|FILE.csv",
              help="Output file; .npz or long-form .csv.")
@click.option("--kind", type=click.Choice(("imu", "power")), default="imu", show_default=True,
              help="imu: wrist IMU gestures (short, 6-9 channels); power: appliance power traces "
                   "(one channel of watts, long and heavy-tailed: idle runs, kilowatt bursts, rare spikes).")
@click.option("--classes", type=click.IntRange(2, 8), default=5, show_default=True,
              help="Number of classes: imu idle, shake, circle, swipe_left, swipe_right, tap, wave, lift; "
                   "power fridge, freezer, kettle, microwave, washer (at most 5).")
@click.option("--per-class", type=click.IntRange(2), default=None,
              help="Sequences per class, a quarter of them held out as the test split (default: imu 120, power 60).")
@click.option("--steps", type=click.IntRange(16), default=None,
              help="Steps per sequence (default: imu 64 at 50 Hz, power 1460 one-minute readings).")
@click.option("--subsample", type=click.IntRange(1), default=1, show_default=True,
              help="power: average this many consecutive readings (8 makes a 1460-minute day 183 steps).")
@click.option("--channels", type=click.IntRange(1, 9), default=6, show_default=True,
              help="imu: ax ay az (m/s^2), gx gy gz (deg/s), mx my mz (uT), in that order.")
@click.option("--variable-length", is_flag=True, help="imu: random lengths, zero-padded tails and a lengths array.")
@click.option("--hard", is_flag=True,
              help="imu: slow gestures on the gyroscope and rare large knocks on it (a set where int8 loses accuracy).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def synth(out_path: str, kind: str, classes: int, per_class: int | None, steps: int | None, subsample: int,
          channels: int, variable_length: bool, hard: bool, seed: int, as_json: bool) -> None:
    """Write a synthetic dataset (raw sensor units, train + test split).

    \b
    Examples:
      rnnmcu data synth -o data.npz --classes 5 --per-class 120 --steps 64
      rnnmcu data synth --kind power -o power.npz --subsample 8
    """
    from rnnmcu.errors import InputError

    if kind == "power":
        from rnnmcu.trainer.synth_power import write_power

        for flag, used in (("--variable-length", variable_length), ("--hard", hard), ("--channels", channels != 6)):
            if used:
                raise InputError(f"{flag} applies to --kind imu, not power",
                                 "leave it out, or make an IMU set with --kind imu")
        summary = write_power(out_path, classes=classes, per_class=per_class or 60, steps=steps,
                              subsample=subsample, seed=seed)
    else:
        from rnnmcu.trainer.synth import write_synth

        if subsample != 1:
            raise InputError("--subsample applies to --kind power, not imu", "leave it out")
        summary = write_synth(out_path, classes=classes, per_class=per_class or 120, steps=steps or 64,
                              channels=channels, variable_length=variable_length, seed=seed, hard=hard)
    _emit(summary, as_json, title=f"wrote {out_path}")


@data.command("convert")
@click.argument("csv_path", metavar="DATA.csv", type=ExistingFile("CSV file"))
@click.option("-o", "--output", "out_path", required=True, metavar="FILE.npz")
@click.option("--variable-length", is_flag=True, help="Pad sequences of different lengths and write lengths.")
@click.option("--window", type=click.IntRange(1), help="Treat the CSV as one labelled stream and window it.")
@click.option("--hop", type=click.IntRange(1), help="Hop between windows (default = window).")
@click.option("--label-mode", type=click.Choice(("majority", "last")), default="majority", show_default=True)
@click.option("--test-fraction", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.0,
              help="Stream: the last part held out as the test split.")
@click.option("--json", "as_json", is_flag=True)
def convert(csv_path: str, out_path: str, variable_length: bool, window: int | None, hop: int | None,
            label_mode: str, test_fraction: float, as_json: bool) -> None:
    """Convert a long-form CSV (or a labelled stream with --window) to a checked .npz."""
    from rnnmcu.data import save_npz
    from rnnmcu.errors import InputError
    from rnnmcu.trainer import datasets

    if not out_path.lower().endswith(".npz"):
        raise InputError(f"{out_path}: the output must end in .npz")
    if not csv_path.lower().endswith(".csv"):
        raise InputError(f"{csv_path}: the input must be a .csv file")
    ds = datasets.load(csv_path, variable_length=variable_length, window=window, hop=hop,
                       label_mode=label_mode, test_fraction=test_fraction)
    save_npz(out_path, ds)
    summary = {"path": out_path, "train": int(ds.x.shape[0]),
               "test": int(ds.x_test.shape[0]) if ds.x_test is not None else 0,
               "steps": int(ds.x.shape[1]), "channels": int(ds.x.shape[2]), "classes": ds.class_names,
               "variable_length": ds.lengths is not None}
    _emit(summary, as_json, title=f"wrote {out_path}")
