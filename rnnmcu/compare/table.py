"""Side by side with TensorFlow Lite: one model, one data set, one row per engine.

Engines (rows): the float Keras model; rnnmcu int8, int16 (the bit-exact integer reference,
:func:`rnnmcu.codegen.qref.predict`) and float32 (the float reference cast to float32, as the C computes
it); TFLite full-int8 (:mod:`rnnmcu.compare.tflite_export`) run in LiteRT (``ai-edge-litert``) and
the same ``.tflite`` in the TFLite Micro interpreter (``tflite-micro``).

Columns: accuracy on the labels, argmax agreement with the float Keras model, max abs output error
against it, model bytes, working memory bytes and multiply-accumulates per step.  A value that cannot
be measured is ``None`` with the reason in ``Row.missing`` (a whole row that could not run has
``Row.reason``); nothing is left blank silently.

How the figures are measured:

* every sequence runs on its true length (Keras: grouped by length; the references and the TFLite
  host loops: per sequence), masked steps are skipped as the model's Masking layer does;
* sequence-output models are scored on the output at each sequence's last valid step;
* model bytes: Keras = parameters x 4 (float32); rnnmcu = weights + biases/requantisation
  parameters from :func:`rnnmcu.footprint.summary` (activation tables not included); TFLite = the
  ``.tflite`` file size (weights, quantisation parameters, graph and metadata);
* working memory: rnnmcu = the generated ``<name>_state_t`` (recurrent state, the cell scratch
  buffer and the two layer ping-pong buffers; plus the window buffers for models that need the
  whole window), computed from the layer sizes as ``codegen/emit.py`` lays it out, without padding
  (:func:`rnnmcu.footprint.working_bytes`);
  TFLM = the arena its ``RecordingMicroAllocator`` reports after one invoke (host build: pointers are
  64-bit, so a 32-bit part needs somewhat less); Keras and LiteRT are host runtimes without a fixed
  arena, so ``None`` with that reason;
* MACs per step: from the layer sizes (the same network in every engine).
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnmcu import footprint, ir
from rnnmcu.errors import InputError, RnnmcuError

KERAS = "keras float"
RNNMCU = ("rnnmcu int8", "rnnmcu int16", "rnnmcu float32")
LITERT = "tflite int8 (LiteRT)"
TFLM = "tflite int8 (TFLM)"
ENGINES = (KERAS, *RNNMCU, LITERT, TFLM)
MAX_CALIB = 2000             # calibration sequences for rnnmcu (as `rnnmcu convert`)
MAX_TFLITE_CALIB = 300       # calibration sequences handed to the TFLite converter child
COLUMNS = ("accuracy", "agreement", "max_abs_error", "model_bytes", "working_bytes", "macs_per_step")
HEADERS = ("accuracy", "agree w/ float", "max abs err", "model bytes", "working bytes", "MACs/step")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Row:
    engine: str
    accuracy: float | None = None
    agreement: float | None = None
    max_abs_error: float | None = None
    model_bytes: int | None = None
    working_bytes: int | None = None
    macs_per_step: int | None = None
    reason: str | None = None                                # the engine could not run: why
    missing: dict[str, str] = field(default_factory=dict)    # column -> why it has no value
    seconds: float = 0.0

    def complete(self) -> bool:
        """Every column has a value or a stated reason."""
        return all(getattr(self, c) is not None or c in self.missing or self.reason for c in COLUMNS)


@dataclass
class Comparison:
    model: str
    data: str
    sequences: int
    steps: int
    output_sequence: bool
    calib_sequences: int
    tflite_path: str | None
    tflite_ops: list[str]
    rows: list[Row]
    checks: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def row(self, engine: str) -> Row:
        return next(r for r in self.rows if r.engine == engine)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def _lengths(x: np.ndarray, L: np.ndarray | None) -> np.ndarray:
    return np.full(x.shape[0], x.shape[1], dtype=np.int64) if L is None else np.asarray(L, dtype=np.int64)


def _score(row: Row, y_ref: np.ndarray, y: np.ndarray, labels: np.ndarray | None, seq: bool,
           L: np.ndarray) -> None:
    from rnnmcu.api import compare_outputs

    m = compare_outputs(y_ref, y, labels, seq, L)
    row.max_abs_error = m["max_abs_error"]
    if "argmax_agreement" in m:
        row.agreement = m["argmax_agreement"]
    else:
        row.missing["agreement"] = "one output per step: no argmax"
    if "quantised_accuracy" in m:
        row.accuracy = m["quantised_accuracy"]
    else:
        row.missing["accuracy"] = "no class labels in the data" if labels is None else "one output: no argmax"


def load_keras(path: str) -> Any:
    """The Keras model object (not compiled), or an :class:`InputError` saying why not."""
    import zipfile

    import keras

    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file", "check the path of the trained .keras model")
    try:
        return keras.saving.load_model(path, compile=False)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: cannot load the Keras model ({type(e).__name__}: {e})",
                         "is it a model saved by Keras 3 with model.save('name.keras')?") from e


def keras_predict(km: Any, x: np.ndarray, L: np.ndarray) -> np.ndarray:
    """The Keras model on each sequence's valid prefix (grouped by length); sequence outputs are
    zero past each length."""
    out = None
    for n in np.unique(L):
        sel = np.nonzero(L == n)[0]
        y = np.asarray(km.predict(x[sel, :n], verbose=0, batch_size=256), dtype=np.float64)
        if out is None:
            out = np.zeros((x.shape[0], x.shape[1]) + y.shape[2:] if y.ndim == 3 else (x.shape[0],) + y.shape[1:])
        if y.ndim == 3:
            out[sel, :n] = y
        else:
            out[sel] = y
    return out


# ---------------------------------------------------------------------------------------------
# rnnmcu rows
# ---------------------------------------------------------------------------------------------

def rnnmcu_rows(model: ir.Model, x: np.ndarray, L: np.ndarray, labels: np.ndarray | None,
                y_ref: np.ndarray, calib_x: np.ndarray, calib_L: np.ndarray | None) -> list[Row]:
    """rnnmcu int8 / int16 (bit-exact reference) and float32 (float reference in float32)."""
    from rnnmcu.codegen import float_ref, qref, quantize

    rows = []
    for prec in ("int8", "int16", "float32"):
        row = Row(engine=f"rnnmcu {prec}")
        t0 = time.monotonic()
        try:
            cx = calib_x[:MAX_CALIB] if prec != "float32" else calib_x[:1]
            cl = None if calib_L is None else calib_L[:cx.shape[0]]
            q = quantize.quantize(model, cx, cl, prec)
            if prec == "float32":
                y = float_ref.forward(model, x, L).astype(np.float32).astype(np.float64)
            else:
                y = qref.predict(model, q, x, L)
            _score(row, y_ref, y, labels, model.output_sequence, L)
            sz = footprint.summary(model, prec)
            row.model_bytes = sz["weight_bytes"]
            row.macs_per_step = sz["macs_per_step"]
            row.working_bytes = footprint.working_bytes(model, prec)
        except RnnmcuError as e:
            row.reason = e.message
        row.seconds = time.monotonic() - t0
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# TFLite rows
# ---------------------------------------------------------------------------------------------

class _Runner:
    """One interpreter (LiteRT or TFLM) over one exported model, driven one step per invoke."""

    def __init__(self, engine: str, buf: bytes, exp: Any) -> None:
        self.exp = exp
        self.x = next(t for t in exp.inputs if t.role == "x")
        self.y = next(t for t in exp.outputs if t.role == "y")
        self.s_in = sorted((t for t in exp.inputs if t.role != "x"), key=lambda t: t.role)
        self.s_out = {t.role: t for t in exp.outputs if t.role != "y"}
        self.invokes = 0
        if engine == LITERT:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            it = Interpreter(model_content=buf, num_threads=1,
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            it.allocate_tensors()
            ind, outd = it.get_input_details(), it.get_output_details()
            self._set = lambda pos, v: it.set_tensor(ind[pos]["index"], v)
            self._get = lambda pos: it.get_tensor(outd[pos]["index"])
            self._invoke = it.invoke
            self._reset = it.reset_all_variables
        else:
            from tflite_micro import runtime

            # TFLM crashes (no exception) on a too-small arena: give twice what it measured.
            arena = max(2 * int(exp.tflm_arena_bytes or 0), 64 * 1024)
            it = runtime.Interpreter.from_bytes(buf, arena_size=arena)
            self._set = lambda pos, v: it.set_input(v, pos)
            self._get = lambda pos: it.get_output(pos)
            self._invoke = it.invoke
            self._reset = it.reset

    @staticmethod
    def _q(t: Any, v: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(np.asarray(v, np.float64) / t.scale) + t.zero_point, -128, 127) \
            .astype(np.int8).reshape(t.shape)

    @staticmethod
    def _dq(t: Any, v: np.ndarray) -> np.ndarray:
        return (np.asarray(v, np.float64).reshape(-1) - t.zero_point) * t.scale

    def run(self, xs: np.ndarray, L: np.ndarray, all_steps: bool) -> np.ndarray:
        """Standardised, mask-compressed sequences -> (B, D) last-step outputs, or (B, T, D)."""
        B, T, _ = xs.shape
        D = int(np.prod(self.y.shape))
        out = np.zeros((B, T, D) if all_steps else (B, D))
        for b in range(B):
            self._reset()  # the fused LSTM keeps its state in the interpreter
            states = {t.role: np.zeros(int(np.prod(t.shape))) for t in self.s_in}
            for t in range(int(L[b])):
                self._set(self.x.position, self._q(self.x, xs[b, t]))
                for s in self.s_in:
                    self._set(s.position, self._q(s, states[s.role]))
                self._invoke()
                self.invokes += 1
                y = self._dq(self.y, self._get(self.y.position))
                for role, s in self.s_out.items():
                    states[role] = self._dq(s, self._get(s.position))
                if all_steps:
                    out[b, t] = y
                elif t == L[b] - 1:
                    out[b] = y
        return out


def tflite_rows(model: ir.Model, x: np.ndarray, L: np.ndarray, labels: np.ndarray | None,
                y_ref: np.ndarray, calib_x: np.ndarray, calib_L: np.ndarray | None, workdir: str,
                timeout: float | None = None) -> tuple[list[Row], Any, dict[str, Any]]:
    """The TFLite columns: convert (in a child process), then run the same ``.tflite`` in LiteRT
    and TFLite Micro.  Returns the two rows, the :class:`~rnnmcu.compare.tflite_export.Export` and
    cross-checks (LiteRT vs TFLM output difference, number of invokes).  ``bench/accuracy.py``
    calls this with any IR model and data."""
    from rnnmcu.codegen import float_ref
    from rnnmcu.compare import tflite_export as te

    rows = [Row(engine=LITERT), Row(engine=TFLM)]
    checks: dict[str, Any] = {}
    cx = calib_x[:MAX_TFLITE_CALIB]
    cL = _lengths(calib_x, calib_L)[:cx.shape[0]]
    cxc, cLc, _ = float_ref.compress(model, cx, cL)
    _say(f"converting to full-int8 TFLite (child process, calibration on {cx.shape[0]} sequences)")
    kw = {} if timeout is None else {"timeout": timeout}
    exp = te.export(model, float_ref.standardise(model, cxc).astype(np.float32), cLc,
                    os.path.join(workdir, "tflite"), **kw)
    if not exp.ok:
        for r in rows:
            r.reason = exp.reason
            r.seconds = exp.seconds
        return rows, exp, checks
    with open(exp.tflite_path, "rb") as fh:
        buf = fh.read()
    xc, Lc, keep = float_ref.compress(model, x, L)
    xs = float_ref.standardise(model, xc).astype(np.float32)
    seq = model.output_sequence
    outs = {}
    for row in rows:
        t0 = time.monotonic()
        try:
            runner = _Runner(row.engine, buf, exp)
            y = runner.run(xs, Lc, all_steps=seq)
            if seq and model.mask_value is not None:
                y = float_ref.expand(y, keep, L, x.shape[1])
            outs[row.engine] = y
            checks[f"{row.engine} invokes"] = runner.invokes
            _score(row, y_ref, y, labels, seq, L)
        except Exception as e:  # noqa: BLE001 - an interpreter failure is this row's reason
            row.reason = f"the interpreter failed ({type(e).__name__}: {' '.join(str(e).split())[:200]})"
        row.model_bytes = exp.tflite_bytes
        row.macs_per_step = footprint.macs_per_step(model)
        row.seconds = time.monotonic() - t0
    rows[0].missing["working_bytes"] = "LiteRT is a host runtime: no fixed arena"
    if exp.tflm_arena_bytes is not None:
        rows[1].working_bytes = exp.tflm_arena_bytes
    else:
        rows[1].missing["working_bytes"] = "TFLM did not report its arena"
    if len(outs) == 2:
        checks["litert_vs_tflm_max_abs_diff"] = float(np.max(np.abs(outs[LITERT] - outs[TFLM])))
    return rows, exp, checks


# ---------------------------------------------------------------------------------------------
# The whole comparison
# ---------------------------------------------------------------------------------------------

def _eval_split(ds) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    if ds.x_test is not None:
        return ds.x_test, ds.y_test, ds.lengths_test
    return ds.x, ds.y, ds.lengths


def compare(keras_path: str, data_path: str, calib_path: str | None = None, *,
            workdir: str | None = None, max_seqs: int | None = None,
            timeout: float | None = None) -> Comparison:
    """Run every engine on the test split of ``data_path`` (its ``x`` when it has no test split).

    Calibration: ``calib_path``'s training windows; without it, the training split of
    ``data_path`` (or, if it has no test split, the evaluation windows themselves)."""
    from rnnmcu.data import load_npz
    from rnnmcu.trainer.keras_import import import_model

    ds = load_npz(data_path)
    x, labels, L = _eval_split(ds)
    if max_seqs is not None:
        x, L = x[:max_seqs], None if L is None else L[:max_seqs]
        labels = None if labels is None else labels[:max_seqs]
    if calib_path is not None:
        cds = load_npz(calib_path)
        calib_x, calib_L = cds.x, cds.lengths
    elif ds.x_test is not None:
        calib_x, calib_L = ds.x, ds.lengths
    else:
        _say("no --calib and no test split: calibrating on the evaluation windows themselves")
        calib_x, calib_L = x, L
    L = _lengths(x, L)

    km = load_keras(keras_path)
    shape = tuple(km.inputs[0].shape)
    if len(shape) != 3 or shape[2] != x.shape[2] or calib_x.shape[2] != x.shape[2]:
        raise InputError(f"the model takes input {shape} but the data has {x.shape[2]} channels "
                         f"(calibration: {calib_x.shape[2]})",
                         "use data recorded with the same channels as the training data")
    _say(f"float Keras on {x.shape[0]} sequences")
    t0 = time.monotonic()
    y_ref = keras_predict(km, x, L)
    seq = y_ref.ndim == 3
    kr = Row(engine=KERAS, agreement=1.0 if y_ref.shape[-1] > 1 else None, max_abs_error=0.0,
             model_bytes=int(km.count_params()) * 4)
    if y_ref.shape[-1] > 1 and labels is not None:
        yl = y_ref[np.arange(len(L)), L - 1] if seq else y_ref
        kr.accuracy = float(np.mean(yl.argmax(-1) == labels))
    elif labels is None:
        kr.missing["accuracy"] = "no class labels in the data"
    else:
        kr.missing["accuracy"] = kr.missing["agreement"] = "one output: no argmax"
    kr.missing["working_bytes"] = "Keras is a host framework: no fixed working memory"
    kr.seconds = time.monotonic() - t0

    rows = [kr]
    tpath, tops, checks = None, [], {}
    try:
        model = import_model(km, source=os.path.abspath(keras_path))
    except RnnmcuError as e:
        kr.missing["macs_per_step"] = "the model does not import into rnnmcu"
        for eng in ENGINES[1:]:
            rows.append(Row(engine=eng, reason=f"rnnmcu cannot import the model: {e.message}"))
        model = None
    if model is not None:
        kr.macs_per_step = footprint.macs_per_step(model)
        _say("rnnmcu int8 / int16 / float32 references")
        rows += rnnmcu_rows(model, x, L, labels, y_ref, calib_x, calib_L)
        with tempfile.TemporaryDirectory(prefix="rnnmcu-compare-") as tmp:
            trows, exp, checks = tflite_rows(model, x, L, labels, y_ref, calib_x, calib_L,
                                             workdir or tmp, timeout)
        if workdir is None:  # the temporary folder is gone: do not point at a log inside it
            for r in trows:
                if r.reason and tmp in r.reason:
                    r.reason = re.sub(r"\(log: [^)]*\)", "(keep the conversion log with --workdir DIR)", r.reason)
        rows += trows
        tpath, tops = exp.path, exp.ops
        checks["tflite_convert_seconds"] = round(exp.seconds, 2)
    return Comparison(model=os.path.basename(keras_path), data=os.path.basename(data_path),
                      sequences=int(x.shape[0]), steps=int(x.shape[1]), output_sequence=seq,
                      calib_sequences=int(min(calib_x.shape[0], MAX_CALIB)), tflite_path=tpath,
                      tflite_ops=tops, rows=rows, checks=checks)


# ---------------------------------------------------------------------------------------------
# Output: table and plot
# ---------------------------------------------------------------------------------------------

def _cell(v: Any, col: str) -> str:
    if v is None:
        return "n/a"
    if col in ("accuracy", "agreement"):
        return f"{100 * v:.1f}%"
    if col == "max_abs_error":
        return f"{v:.4f}"
    return f"{int(v):,}"


def format_table(c: Comparison) -> str:
    """One aligned table, one row per engine, and numbered notes for every missing value."""
    head = ("engine",) + HEADERS
    body, notes = [], []
    for r in c.rows:
        cells = [r.engine]
        for col in COLUMNS:
            v = getattr(r, col)
            txt = _cell(v, col)
            why = r.reason if r.reason and v is None else r.missing.get(col)
            if v is None and why:
                if why not in notes:
                    notes.append(why)
                txt += f" [{notes.index(why) + 1}]"
            cells.append(txt)
        body.append(cells)
    w = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    line = lambda cells: "  ".join(s.ljust(w[0]) if i == 0 else s.rjust(w[i]) for i, s in enumerate(cells))
    out = [f"{c.model} on {c.data}: {c.sequences} sequences x up to {c.steps} steps"
           + (f"; TFLite path: {c.tflite_path} ({', '.join(c.tflite_ops)})" if c.tflite_path else ""),
           line(head), line(["-" * n for n in w])]
    out += [line(b) for b in body]
    if notes:
        out.append("")
        out += [f"[{i + 1}] {n}" for i, n in enumerate(notes)]
    out.append("rnnmcu int8: int8 weights and activations (8x8), with 16-bit inputs, GRU state, head and "
               "outputs; rnnmcu int16: int8 weights, int16 activations (16x8); TFLite: full-int8 (8x8)")
    if "litert_vs_tflm_max_abs_diff" in c.checks:
        out.append(f"LiteRT vs TFLM on the same .tflite: max abs output difference "
                   f"{c.checks['litert_vs_tflm_max_abs_diff']:.4g}")
    return "\n".join(out)


def plot(c: Comparison, path: str) -> None:
    """A PNG with three panels: accuracy and agreement, model bytes, working memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.engine for r in c.rows]
    ypos = np.arange(len(names))
    fig, axes = plt.subplots(1, 3, figsize=(15, 0.55 * len(names) + 2.2), sharey=True)
    ax = axes[0]
    for k, (col, label, off) in enumerate((("accuracy", "accuracy", -0.2), ("agreement", "argmax agreement with float", 0.2))):
        vals = [getattr(r, col) for r in c.rows]
        ax.barh(ypos + off, [100 * v if v is not None else 0 for v in vals], height=0.38, label=label,
                color=("tab:blue", "tab:orange")[k])
        for y, v in zip(ypos, vals):
            ax.text(1 if v is None else 100 * v + 0.5, y + off, "n/a" if v is None else f"{100 * v:.1f}",
                    va="center", fontsize=7)
    ax.set_xlim(0, 112)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, fontsize=7, frameon=False)
    ax.set_title("accuracy / agreement (%)")
    for ax, col, title in ((axes[1], "model_bytes", "model bytes"), (axes[2], "working_bytes", "working memory (bytes)")):
        vals = [getattr(r, col) for r in c.rows]
        top = max([v for v in vals if v] or [1])
        ax.barh(ypos, [v or 0 for v in vals], color="tab:green" if col == "model_bytes" else "tab:purple")
        for y, v in zip(ypos, vals):
            ax.text((v or 0) + 0.01 * top, y, "n/a" if v is None else f"{v:,}", va="center", fontsize=7)
        ax.set_xlim(0, top * 1.3)
        ax.set_title(title)
    axes[0].set_yticks(ypos, names)
    axes[0].invert_yaxis()
    fig.suptitle(f"{c.model} on {c.data} ({c.sequences} sequences)")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
