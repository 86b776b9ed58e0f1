"""``rnnmcu compare``: the model side by side with TensorFlow Lite, on the user's own data.

Argument parsing only; the work is :func:`rnnmcu.compare.table.compare`.
"""
from __future__ import annotations

import json

import click

from rnnmcu.cli import CONTEXT_SETTINGS, DataFile, ExistingFile, OutputDir, OutputPath


@click.command("compare", context_settings=CONTEXT_SETTINGS)
@click.argument("keras_path", metavar="MODEL.keras",
                type=ExistingFile("Keras model", "train one with `rnnmcu train DATA.npz -o model.keras`"))
@click.option("--data", "data_path", required=True, type=DataFile(), metavar="DATA.npz",
              help="Windows to compare on (.npz); its test split when it has one.")
@click.option("--calib", "calib_path", type=DataFile(), default=None, metavar="DATA.npz",
              help="Calibration windows (default: the training split of --data).")
@click.option("--plot", "plot_path", type=OutputPath(), default=None, metavar="F.png",
              help="Also write a PNG comparing the engines.")
@click.option("--max-seqs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Compare on at most N sequences.")
@click.option("--timeout", type=click.FloatRange(min=1), default=600.0, show_default=True, metavar="S",
              help="Give up a TFLite conversion after S seconds (the row then says so).")
@click.option("--workdir", type=OutputDir(), default=None, metavar="DIR",
              help="Keep the .tflite, its manifest and the conversion log in DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def compare(keras_path: str, data_path: str, calib_path: str | None, plot_path: str | None,
            max_seqs: int | None, timeout: float, workdir: str | None, as_json: bool) -> None:
    """Compare rnnmcu with TensorFlow Lite (LiteRT and TFLite Micro) on one model and data set.

    One row per engine: float Keras, rnnmcu int8/int16/float32, TFLite full-int8 in LiteRT and in
    TFLite Micro.  Columns: accuracy, argmax agreement with float, max abs error, model bytes,
    working memory and MACs per step.  Where TFLite has no path for the model, its rows say why
    (the command still exits 0).

    \b
    Example:
      rnnmcu compare model.keras --data data.npz --plot compare.png
    """
    from rnnmcu.compare import table as cmp

    result = cmp.compare(keras_path, data_path, calib_path, max_seqs=max_seqs, timeout=timeout,
                         workdir=workdir)
    if plot_path:
        cmp.plot(result, plot_path)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(cmp.format_table(result))
        if plot_path:
            click.echo(f"plot: {plot_path}")
