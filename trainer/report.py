"""Training report folder and a model size estimate.

``write_report(dir, metrics)`` writes (each file atomically):

* ``metrics.json`` — accuracy, per-class precision/recall/F1, confusion matrix, epochs run, seed,
  spec, history and the size estimate (the dict :func:`rnnmcu.trainer.train.train` returns)
* ``curves.png`` — loss and accuracy per epoch, training and validation (1000 x 400 px)
* ``confusion.png`` — the confusion matrix of the evaluation split (600 x 520 px)

:func:`estimate_size` is what the generated C will hold for the trained model, per precision: it
imports the Keras model into the IR (``trainer.keras_import``) and reads the figures from
:mod:`rnnmcu.footprint`, the one place the product counts weights, state and MACs (``convert``,
``compare`` and the generator read the same functions).
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

PRECISIONS = ("int8", "int16", "float32")

CURVES_PX = (1000, 400)
CONFUSION_PX = (600, 520)
_DPI = 100


def estimate_size(model) -> dict[str, Any]:
    """Parameters, MACs per step (``head_macs``: the Dense work done once per window), whether the
    model needs the whole window, and per precision the weight and state bytes
    (:mod:`rnnmcu.footprint` on the imported IR)."""
    from rnnmcu import footprint
    from rnnmcu.errors import RnnmcuError
    from rnnmcu.trainer.keras_import import import_model

    try:
        m = import_model(model)
    except RnnmcuError as e:  # a model convert would refuse: the report says so instead of a size
        return {"unavailable": e.message}
    head = footprint.head_macs(m)
    out: dict[str, Any] = {"parameters": footprint.parameters(m),
                           "macs_per_step": footprint.macs_per_step(m) - head,
                           "head_macs": head,
                           "needs_window": bool(m.needs_window)}
    for p in PRECISIONS:
        out[p] = {"weight_bytes": footprint.weight_bytes(m, p), "state_bytes": footprint.state_bytes(m, p)}
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
