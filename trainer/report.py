"""Training report folder and a model size estimate.

``write_report(dir, metrics)`` writes (each file atomically):

* ``metrics.json`` — accuracy, per-class precision/recall/F1, confusion matrix, epochs run, seed,
  spec, history and the size estimate (the dict :func:`rnnmcu.trainer.train.train` returns)
* ``curves.png`` — loss and accuracy per epoch, training and validation (1000 x 400 px)
* ``confusion.png`` — the confusion matrix of the evaluation split (600 x 520 px)

:func:`estimate_size` reads a Keras model's layers and estimates, per precision, what the generated
C will hold.  It is an estimate of the *model*, not of the runtime code:

* weights: every matrix entry (kernel, recurrent kernel, Dense kernel); ``float32`` 4 B each,
  ``int8``/``int16`` 1 B each (int8 weights in both integer modes, codegen/NUMERICS.md)
* biases: ``float32`` 4 B, integer modes 4 B (int32, added to the int32 accumulator)
* scales: integer modes only, one int32 multiplier per output row of each matrix (per-row
  symmetric quantisation)
* input: the Normalization mean and std folded into input quantisation, 2 x 4 B per channel
* state: per recurrent direction the hidden vector h (``int8`` 1 B, ``int16`` 2 B, ``float32``
  4 B per unit) plus the LSTM cell c (2 B in both integer modes, 4 B in float32) and an int8 GRU's
  16-bit state (2 B per unit)
* MACs per step: each recurrent matrix applied once per step (``G * units * (inputs + units)`` per
  direction) plus Dense layers applied per step; ``head_macs`` is the Dense work done once per window
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

PRECISIONS = ("int8", "int16", "float32")
_WEIGHT_B = {"int8": 1, "int16": 1, "float32": 4}
_BIAS_B = {"int8": 4, "int16": 4, "float32": 4}
_SCALE_B = {"int8": 4, "int16": 4, "float32": 0}
_H_B = {"int8": 1, "int16": 2, "float32": 4}
_C_B = {"int8": 2, "int16": 2, "float32": 4}

CURVES_PX = (1000, 400)
CONFUSION_PX = (600, 520)
_DPI = 100


def _rnn_parts(layer) -> list:
    """The plain recurrent layers inside ``layer`` (one, or two for Bidirectional), or []."""
    import keras

    if isinstance(layer, keras.layers.Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    if isinstance(layer, keras.layers.RNN) or hasattr(layer, "cell"):
        return [layer]
    return []


def _var_kind(v) -> str:
    name = getattr(v, "path", None) or v.name
    name = name.split("/")[-1]
    if "bias" in name:
        return "bias"
    if "peephole" in name:
        return "peephole"
    return "matrix"


def estimate_size(model) -> dict[str, Any]:
    """Weight bytes, state bytes and MACs per step for int8/int16/float32 (see module docstring)."""
    import keras

    from rnnmcu import facts

    counts = {"weights": 0, "biases": 0, "peepholes": 0, "rows": 0, "h_units": 0,
              "macs_step": 0, "macs_head": 0, "input_channels": 0}
    second = {p: 0 for p in PRECISIONS}  # units with a second state (LSTM c, int8 GRU): the cell table
    seq = True
    needs_window = False
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            counts["input_channels"] = int(np.prod(layer.mean.shape))
            continue
        parts = _rnn_parts(layer)
        if parts:
            if isinstance(layer, keras.layers.Bidirectional) or getattr(parts[0], "go_backwards", False):
                needs_window = True
            for rnn in parts:
                units = int(rnn.cell.units)
                cell = facts.cell_of_keras(type(rnn.cell).__name__)
                counts["h_units"] += units
                for p in PRECISIONS:
                    second[p] += units if cell is not None and cell.keeps_second_state(p) else 0
                for v in rnn.trainable_weights:
                    n = int(np.prod(v.shape))
                    kind = _var_kind(v)
                    if kind == "matrix":
                        counts["weights"] += n
                        counts["rows"] += int(v.shape[-1])
                        counts["macs_step"] += n
                    elif kind == "bias":
                        counts["biases"] += n
                    else:
                        counts["peepholes"] += n
            seq = bool(parts[0].return_sequences)
        elif isinstance(layer, keras.layers.Dense):
            kernel, *rest = layer.trainable_weights
            n = int(np.prod(kernel.shape))
            counts["weights"] += n
            counts["rows"] += int(kernel.shape[-1])
            counts["biases"] += sum(int(np.prod(b.shape)) for b in rest)
            counts["macs_step" if seq else "macs_head"] += n
    out: dict[str, Any] = {
        "parameters": counts["weights"] + counts["biases"] + counts["peepholes"],
        "macs_per_step": counts["macs_step"],
        "head_macs": counts["macs_head"],
        "needs_window": needs_window,
    }
    for p in PRECISIONS:
        weight_b = (counts["weights"] * _WEIGHT_B[p] + counts["biases"] * _BIAS_B[p]
                    + counts["peepholes"] * (4 if p == "float32" else 2) + counts["rows"] * _SCALE_B[p]
                    + counts["input_channels"] * 2 * 4)
        state_b = counts["h_units"] * _H_B[p] + second[p] * _C_B[p]
        out[p] = {"weight_bytes": int(weight_b), "state_bytes": int(state_b)}
    return out


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

def _atomic_write(path: str, write) -> None:
    from rnnmcu.atomic import atomic_file

    with atomic_file(path, "wb", suffix=os.path.splitext(path)[1]) as fh:
        write(fh)


def _figure(px: tuple[int, int]):
    import matplotlib
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=(px[0] / _DPI, px[1] / _DPI), dpi=_DPI)


def plot_curves(path: str, history: dict[str, list[float]]) -> None:
    fig = _figure(CURVES_PX)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key, title in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        for k, style, label in ((key, "-", "train"), (f"val_{key}", "--", "validation")):
            if history.get(k):
                ax.plot(np.arange(1, len(history[k]) + 1), history[k], style, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.9, wspace=0.25)
    _atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=_DPI))


def plot_confusion(path: str, cm: np.ndarray, names: list[str], title: str) -> None:
    fig = _figure(CONFUSION_PX)
    ax = fig.subplots()
    cm = np.asarray(cm)
    ax.imshow(cm, cmap="Blues")
    k = len(names)
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    top = cm.max() if cm.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if top and cm[i, j] > top / 2 else "black")
    fig.subplots_adjust(left=0.2, right=0.97, bottom=0.22, top=0.92)
    _atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=_DPI))


def write_report(report_dir: str, metrics: dict[str, Any]) -> dict[str, str]:
    """Write metrics.json, curves.png and confusion.png into ``report_dir`` (created if needed)."""
    from rnnmcu.errors import InputError

    try:
        os.makedirs(report_dir, exist_ok=True)
    except OSError as e:
        raise InputError(f"{report_dir}: cannot create the report folder ({e.strerror})") from e
    paths = {name: os.path.join(report_dir, name) for name in ("metrics.json", "curves.png", "confusion.png")}
    text = json.dumps(metrics, indent=2, sort_keys=True).encode() + b"\n"
    _atomic_write(paths["metrics.json"], lambda fh: fh.write(text))
    plot_curves(paths["curves.png"], metrics.get("history", {}))
    plot_confusion(paths["confusion.png"], np.asarray(metrics["confusion"]), metrics["class_names"],
                   f"{metrics['eval_split']} accuracy {metrics['accuracy']:.1%}")
    return paths
