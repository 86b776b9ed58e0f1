"""The plain functions behind the CLI: each takes paths and options, does one job, and returns a
JSON-able summary.  Scripts and tests call these directly."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Any, Iterator

import numpy as np

from rnnmcu import footprint
from rnnmcu.errors import CheckFailed, InputError


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _check_out_path(out_path: str) -> None:
    d = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(d):
        raise InputError(f"output folder {d} does not exist", "create it first or choose another -o path")


def _check_data(model, x: np.ndarray, what: str) -> None:
    if x.shape[2] != model.input_dim:
        raise InputError(f"{what}: sequences have {x.shape[2]} channels but the model takes {model.input_dim}",
                         "use data recorded with the same channels as the training data")


AUTO_ORDER = ("int8", "int16", "float32")  # cheapest first (int16: the same weights, 2-byte activations)
AUTO_HELD_OUT = 5                           # every 5th calibration sequence checks the choice


def convert(keras_path: str, calib_path: str | None, precision: str, out_path: str,
            name: str | None = None, max_calib: int = 2000, min_agreement: float = 0.995) -> dict[str, Any]:
    """Keras model -> IR -> calibrated, quantised ``.rnnmcu`` file.  ``precision="auto"`` takes
    the cheapest of int8, int16 and float32 whose argmax agreement with float, on a held-out fifth of
    the calibration data (quantised on the rest), is at least ``min_agreement``."""
    from rnnmcu import data as data_mod
    from rnnmcu.codegen import qmodel, quantize
    from rnnmcu.codegen.inspect import describe_precision
    from rnnmcu.trainer.keras_import import load_keras_model

    _check_out_path(out_path)
    model = load_keras_model(keras_path, name=name)
    if calib_path is None:
        if precision != "float32":
            raise InputError(f"--precision {precision} needs calibration data",
                             "pass --calib DATA.npz with sequences like those the device will see")
        x = np.zeros((1, 1, model.input_dim), dtype=np.float32)
        lengths = None
    else:
        ds = data_mod.load_npz(calib_path)
        _check_data(model, ds.x, calib_path)
        x, lengths = ds.x[:max_calib], None if ds.lengths is None else ds.lengths[:max_calib]
    auto = None
    if precision == "auto":
        precision, auto = choose_precision(model, x, lengths, min_agreement)
    _say(f"calibrating {model.name} on {x.shape[0]} sequences x {x.shape[1]} steps ({precision})")
    q = quantize.quantize(model, x, lengths, precision)
    qmodel.save(out_path, model, q)
    return {"model": model.name, "precision": precision, **({"auto": auto} if auto else {}),
            "scheme": describe_precision(q), "hash": q.hash,
            "output": out_path, "masking": model.masking, "input_dim": model.input_dim, "output_dim": model.output_dim,
            "layers": [type(l).__name__ for l in model.layers],
            "output_sequence": model.output_sequence, "window_only": model.needs_window,
            **footprint.summary(model, precision)}


def train(data_path: str, out_path: str, spec, **kw: Any) -> dict[str, Any]:
    """``rnnmcu train``: :func:`rnnmcu.trainer.train.train` with the code generator's int8 scales
    for a quantisation-aware fine-tune (``spec.qat``), so that QAT simulates exactly what
    ``convert`` will choose (the trainer does not import the generator itself)."""
    from rnnmcu.codegen.quantize import int8_scales
    from rnnmcu.trainer.train import train as run

    return run(data_path, out_path, spec, qat_scales=int8_scales, **kw)


def choose_precision(model, x: np.ndarray, lengths: np.ndarray | None, min_agreement: float) -> tuple[str, dict]:
    """The cheapest precision (AUTO_ORDER) whose outputs agree with float on a held-out part of the
    calibration data (every AUTO_HELD_OUT-th sequence; the rest calibrates), with what each one
    tried measured and costs."""
    from rnnmcu.codegen import float_ref, qref, quantize

    if not 0.0 < min_agreement <= 1.0:
        raise InputError(f"--min-agreement {min_agreement}: must be in (0, 1]", "e.g. --min-agreement 0.995")
    n = x.shape[0]
    held = np.arange(n) % AUTO_HELD_OUT == AUTO_HELD_OUT - 1
    if held.sum() < 1 or (~held).sum() < 1:
        raise InputError(f"--precision auto needs at least {AUTO_HELD_OUT} calibration sequences (it holds a "
                         f"fifth out to check the choice); the data has {n}",
                         "calibrate with more sequences, or choose --precision int8 or int16")
    L = None if lengths is None else np.asarray(lengths)
    xc, Lc = x[~held], None if L is None else L[~held]
    xh, Lh = x[held], None if L is None else L[held]
    yf = float_ref.forward(model, xh, Lh)
    tried = []
    chosen = AUTO_ORDER[-1]
    for prec in AUTO_ORDER:
        cost = footprint.summary(model, prec)
        if prec == "float32":
            tried.append({"precision": prec, "agreement": 1.0, **cost})
            break
        try:
            q = quantize.quantize(model, xc, Lc, prec)
        except quantize.QuantizationError as e:
            tried.append({"precision": prec, "refused": e.message, **cost})
            continue
        yq = qref.predict(model, q, xh, Lh)
        agree = compare_outputs(yf, yq, None, model.output_sequence, Lh).get("argmax_agreement")
        if agree is None:  # one output: agreement within 1 % of the float output's range
            span = float(np.ptp(yf)) or 1.0
            agree = float(np.mean(np.abs(yf - yq) <= 0.01 * span))
        tried.append({"precision": prec, "agreement": agree, **cost})
        if agree >= min_agreement:
            chosen = prec
            break
    _say(f"--precision auto: {chosen} ("
         + ", ".join(f"{t['precision']} {t['agreement']:.2%}" if "agreement" in t else f"{t['precision']} refused"
                     for t in tried) + f" agreement on {int(held.sum())} held-out sequences)")
    return chosen, {"min_agreement": min_agreement, "held_out_sequences": int(held.sum()), "tried": tried}


def _load_dataset(path: str, model, require_labels: bool = False):
    from rnnmcu import data as data_mod

    ds = data_mod.load_npz(path, require_labels=require_labels)
    _check_data(model, ds.x, path)
    return ds


def evaluate(model_path: str, data_path: str, keras_path: str | None = None) -> dict[str, Any]:
    """Float and quantised accuracy, argmax agreement and output error on a data set."""
    from rnnmcu.codegen import float_ref, qmodel, qref

    model, q = qmodel.load(model_path)
    ds = _load_dataset(data_path, model)
    x, y, L = ds.x, ds.y, ds.lengths
    if ds.x_test is not None:
        x, y, L = ds.x_test, ds.y_test, ds.lengths_test
    yf = float_ref.forward(model, x, L)
    sat = qref.Saturations()
    yq = float_ref.forward(model, x, L) if q.precision == "float32" else qref.predict(model, q, x, L, saturations=sat)
    if q.precision == "float32":
        yq = _float_c_equivalent(yq)
    out: dict[str, Any] = {"model": model.name, "precision": q.precision, "sequences": int(x.shape[0])}
    out.update(compare_outputs(yf, yq, y, model.output_sequence, L))
    out["saturations"] = {k: int(v) for k, v in sat.items()}
    if q.precision != "float32":
        from rnnmcu.codegen.inspect import describe_precision, explain_saturations

        out["scheme"] = describe_precision(q)
        notes = explain_saturations(model, q, out["saturations"])
        if notes:
            out["saturation_notes"] = notes
            out["saturation_next"] = ("see where and when with `rnnmcu inspect MODEL --data DATA --plot drift.png`; "
                                      "calibrate with data that covers what the device will see "
                                      "(full-length sequences, the largest inputs)")
    out["masking"] = model.masking
    if model.mask_value is not None:
        out["masked_steps"] = masked_real_steps(model, x, L)
        if out["masked_steps"] and L is not None:
            _say(f"warning: {out['masked_steps']} steps inside the data's lengths equal the model's "
                 "Masking value on every channel: the model skips them, as Keras does\n"
                 "next: if they are real readings, drop the Masking layer and retrain with the true "
                 "lengths in the data's `lengths` array (rnnmcu then runs every step within them)")
    if keras_path is not None:
        out["keras_max_abs_error_vs_float_reference"] = float(np.max(np.abs(_keras_predict(keras_path, model, x, L) - yf)))
    return out


def masked_real_steps(model, x: np.ndarray, lengths: np.ndarray | None) -> int:
    """How many steps within the sequences' lengths a value-masking model skips."""
    from rnnmcu.codegen import float_ref

    L = np.full(x.shape[0], x.shape[1]) if lengths is None else np.asarray(lengths)
    valid = np.arange(x.shape[1])[None, :] < L[:, None]
    return int(np.count_nonzero(float_ref.mask_steps(model, x) & valid))


def inspect(model_path: str, data_path: str, keras_path: str | None = None, *, max_seqs: int | None = None,
            plot: str | None = None, board: str | None = None, port: str | None = None,
            device_seqs: int = 2) -> dict[str, Any]:
    """Where the quantised model drifts from the float one, tensor by tensor and step by step
    (:mod:`rnnmcu.codegen.inspect`), on the data's test split (or its sequences).  ``plot`` writes
    the PNG; ``board``/``port`` also compares the device's own intermediates (a TRACE build) with
    the integer reference on the first ``device_seqs`` sequences."""
    from rnnmcu.codegen import float_ref, inspect as insp, qmodel

    model, q = qmodel.load(model_path)
    if q.precision == "float32":
        raise InputError("a float32 model has no integer arithmetic to inspect",
                         "convert with --precision int8 or int16, or check float32 with `rnnmcu eval --keras`")
    ds = _load_dataset(data_path, model)
    x, L = (ds.x_test, ds.lengths_test) if ds.x_test is not None else (ds.x, ds.lengths)
    if max_seqs is not None:
        x, L = x[:max_seqs], None if L is None else L[:max_seqs]
    if plot is not None:
        _check_out_path(plot)
    _say(f"inspecting {model.name} ({q.precision}) on {x.shape[0]} sequences x {x.shape[1]} steps")
    rep = insp.inspect(model, q, x, L)
    rep["data"] = data_path
    if keras_path is not None:
        yf = float_ref.forward(model, x, L)
        rep["keras_max_abs_error_vs_float_reference"] = float(np.max(np.abs(_keras_predict(keras_path, model, x, L) - yf)))
    if board is not None or port is not None:
        rep["device"] = device_trace(model, q, x, L, board=board, port=port, max_seqs=device_seqs)
    if plot is not None:
        from rnnmcu.atomic import atomic_path

        with atomic_path(plot, suffix=".png") as tmp:
            insp.plot(rep, tmp)
        rep["plot"] = plot
    return rep


def device_trace(model, q, x: np.ndarray, lengths: np.ndarray | None, *, board: str | None = None,
                 port: str | None = None, max_seqs: int = 2) -> dict[str, Any]:
    """The device's own intermediate tensors, layer by layer and step by step (TRACE, a debug
    build: firmware/PROTOCOL.md), against the integer reference's, bit for bit, on the first
    ``max_seqs`` sequences that have steps.  ``port``: a TRACE build already running there."""
    from rnnmcu.codegen import float_ref, qref

    if model.needs_window:
        raise InputError("this model runs whole windows (Bidirectional or go_backwards): a device traces steps",
                         "inspect it on the host (leave --board/--port out)")
    if board is None:
        raise InputError("--port needs --board (the board's serial settings)", "add --board NAME")
    xc, Lc, _ = float_ref.compress(model, x, lengths)
    sel = np.nonzero(Lc > 0)[0][:max(1, max_seqs)]
    xq, L = qref.quantize_inputs(q, xc[sel]), Lc[sel]
    with tempfile.TemporaryDirectory(prefix="rnnmcu-trace-") as work:
        with _device_for(board, model, q, work, port, trace=True) as dev:
            info = dev.sync()
            if info.model_hash != q.hash32:
                raise CheckFailed(f"the device runs a different model (hash {info.model_hash:08x}, "
                                  f"expected {q.hash32:08x})", "flash the TRACE build of this model")
            if not info.traces:
                raise InputError("the device's firmware is not a TRACE build",
                                 f"flash one: rnnmcu build --board {board} --model MODEL.rnnmcu --trace")
            _say(f"tracing {len(q.layers)} layers over {int(L.sum())} steps on {info.board}")
            rep = compare_trace(dev, q, xq, L)
    rep.update({"board": board, "sequences": [int(b) for b in sel]})
    return rep


def compare_trace(dev, q, xq: np.ndarray, lengths: np.ndarray) -> dict[str, Any]:
    """For each layer, each sequence from a reset, each step: the device's TRACE values against
    the integer reference's tensors (``xq``: quantised, mask-compressed inputs), bit for bit."""
    from rnnmcu.codegen import float_ref, qref
    from rnnmcu.codegen.inspect import trace_layout

    tr = float_ref.Trace()
    qref.forward(q, xq, lengths, all_steps=True, trace=tr)
    layouts = [trace_layout(ql) for ql in q.layers]
    per: dict[str, dict[str, Any]] = {f"{i}.{name}": {"values_checked": 0, "mismatches": 0, "first_mismatch": None}
                                      for i, lay in enumerate(layouts) for name, _, _ in lay}
    for i, lay in enumerate(layouts):
        for b in range(len(xq)):
            dev.reset()
            for t in range(int(lengths[b])):
                got = dev.trace(i, xq[b, t]).astype(np.int64)
                for name, off, count in lay:
                    rec = per[f"{i}.{name}"]
                    want = np.asarray(tr.tensors[f"{i}.{name}"][b, t], dtype=np.int64)
                    have = got[off:off + count] if got.size >= off + count else np.full(count, -(2 ** 40))
                    bad = np.nonzero(have != want)[0]
                    rec["values_checked"] += count
                    rec["mismatches"] += int(bad.size)
                    if bad.size and rec["first_mismatch"] is None:
                        j = int(bad[0])
                        rec["first_mismatch"] = {"sequence": b, "step": t, "index": j,
                                                 "expected": int(want[j]), "got": int(have[j])}
    total = sum(r["mismatches"] for r in per.values())
    return {"steps": int(np.sum(lengths)), "values_checked": sum(r["values_checked"] for r in per.values()),
            "mismatches": total, "bit_exact": total == 0, "tensors": per}


def _float_c_equivalent(y: np.ndarray) -> np.ndarray:
    return y.astype(np.float32).astype(np.float64)


def compare_outputs(yf: np.ndarray, yq: np.ndarray, labels: np.ndarray | None, seq: bool,
                    lengths: np.ndarray | None) -> dict[str, Any]:
    if seq:  # compare the last valid step of each sequence
        idx = (np.full(yf.shape[0], yf.shape[1]) if lengths is None else np.asarray(lengths)) - 1
        yf = yf[np.arange(len(idx)), idx]
        yq = yq[np.arange(len(idx)), idx]
    res: dict[str, Any] = {"max_abs_error": float(np.max(np.abs(yf - yq))) if yf.size else 0.0}
    if yf.shape[-1] > 1:
        differ = yf.argmax(-1) != yq.argmax(-1)
        res["argmax_agreement"] = float(np.mean(~differ))
        if differ.any():
            # how close to a tie the float model was where the classes differ: its top two scores
            top2 = np.sort(yf[differ], axis=-1)[..., -2:]
            res["disagreeing_sequences"] = int(np.count_nonzero(differ))
            res["disagreeing_float_margin_max"] = float(np.max(top2[..., 1] - top2[..., 0]))
        if labels is not None:
            res["float_accuracy"] = float(np.mean(yf.argmax(-1) == labels))
            res["quantised_accuracy"] = float(np.mean(yq.argmax(-1) == labels))
    return res


def _keras_predict(keras_path: str, model, x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """Keras output on each sequence's valid prefix (grouped by length), padded like float_ref."""
    from rnnmcu.trainer.keras_import import load_keras_object

    km = load_keras_object(keras_path)
    L = np.full(x.shape[0], x.shape[1]) if lengths is None else np.asarray(lengths)
    out = None
    for n in np.unique(L):
        sel = np.nonzero(L == n)[0]
        y = np.asarray(km.predict(x[sel, :n], verbose=0))
        if out is None:
            shape = (x.shape[0], x.shape[1]) + y.shape[2:] if y.ndim == 3 else (x.shape[0],) + y.shape[1:]
            out = np.zeros(shape)
        if y.ndim == 3:
            out[sel, :n] = y
        else:
            out[sel] = y
    return out


def generate(model_path: str, out_dir: str, max_steps: int | None = None, wide: bool = False,
             input_projections: int = 0) -> list[str]:
    from rnnmcu.codegen import emit, qmodel

    model, q = qmodel.load(model_path)
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise InputError(f"folder {parent} does not exist", "create it or choose another -o")
    return emit.generate(model, q, out_dir, max_steps=max_steps, wide=wide, proj_steps=input_projections)


# ---------------------------------------------------------------------------------------------
# Hardware in the loop
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _device_for(board: str, model, q, workdir: str, port: str | None, wide: bool = False,
                input_projections: int = 0, trace: bool = False) -> Iterator[Any]:
    """A synced-ready Device for ``board``: the given port, or firmware built from ``q`` and
    started here (the host board as a process, emulated boards under QEMU); ``trace``: the TRACE
    debug build."""
    from rnnmcu import target
    from rnnmcu.boards.loader import load_board
    from rnnmcu.codegen import emit

    b = load_board(board)
    gen = os.path.join(workdir, "gen")
    if port is None and b.kind != "real":
        emit.generate(model, q, gen, wide=wide, proj_steps=input_projections, trace=trace)
        _say(f"building {'the TRACE firmware' if trace else 'firmware'} for {board}")
    with target.device(b, gen, workdir, port=port, trace=trace) as dev:
        yield dev


def expected_outputs(model, q, x: np.ndarray, lengths: np.ndarray | None):
    """What the device must answer: quantised (mask-compressed) input windows, per-step outputs
    and whole-window outputs, one array per sequence."""
    from rnnmcu.codegen import float_ref, qref

    xc, L, _ = float_ref.compress(model, x, lengths)
    xq = qref.quantize_inputs(q, xc)
    if q.precision == "float32":
        steps = None if model.needs_window else float_ref.forward(model, xc, L, all_steps=True, masked=False)
        runs = float_ref.forward(model, xc, L, masked=False)
        dt = np.float32
    else:
        steps = None if model.needs_window else qref.forward(q, xq, L, all_steps=True)
        runs = qref.forward(q, xq, L)
        dt = {8: np.int8, 16: np.int16}[q.output_bits]
    dt_in = {8: np.int8, 16: np.int16, 32: np.float32}[q.input_bits]
    seqs = [xq[b, :L[b]].astype(dt_in) for b in range(len(L))]
    exp_steps = None if steps is None else [steps[b, :L[b]].astype(dt) for b in range(len(L))]
    exp_runs = [(runs[b, :L[b]] if runs.ndim == 3 else runs[b]).astype(dt) for b in range(len(L))]
    return seqs, exp_steps, exp_runs


def hil_test(board: str, model_path: str, data_path: str, port: str | None = None,
             junit: str | None = None, report: str | None = None, max_seqs: int | None = None,
             bench_repeats: int = 20, wide: bool = False, input_projections: int = 0) -> dict[str, Any]:
    """Run every test sequence on the device, step by step and as whole windows, and compare each
    output with the bit-exact reference.  ``wide``: build the firmware with the wide weight layout;
    ``input_projections``: with run() computing the first layer's W x that many steps at a time
    (both ignored with ``port``: the device runs what was flashed)."""
    from rnnmcu.codegen import qmodel
    from rnnmcu.hil import report as report_mod
    from rnnmcu.hil.runner import run_hil

    model, q = qmodel.load(model_path)
    ds = _load_dataset(data_path, model)
    x, L = (ds.x_test, ds.lengths_test) if ds.x_test is not None else (ds.x, ds.lengths)
    if max_seqs is not None:
        x, L = x[:max_seqs], None if L is None else L[:max_seqs]
    seqs, exp_steps, exp_runs = expected_outputs(model, q, x, L)
    if q.precision == "float32":
        raise InputError("rnnmcu test proves bit-exactness, and a float32 model has no bit-exact reference",
                         "convert with --precision int8 or int16 for the device test; check float32 with `rnnmcu eval`")
    # a sequence whose every step the model's Masking layer skips gives the device nothing to run
    empty = [i for i, s in enumerate(seqs) if s.shape[0] == 0]
    keep = [i for i, s in enumerate(seqs) if s.shape[0] > 0]
    if empty:
        if not keep:
            raise InputError(f"{data_path}: every step of every sequence equals the model's Masking value, "
                             "so the device would be given no steps",
                             "test with sequences that hold real readings")
        _say(f"note: {len(empty)} sequence(s) ({', '.join(map(str, empty[:10]))}"
             f"{', ...' if len(empty) > 10 else ''}) are skipped: every step equals the model's Masking "
             "value, so the device is given no steps")
        seqs = [seqs[i] for i in keep]
        exp_runs = [exp_runs[i] for i in keep]
        exp_steps = None if exp_steps is None else [exp_steps[i] for i in keep]
    for out in (junit, report):
        if out is not None:
            _check_out_path(out)
    with tempfile.TemporaryDirectory(prefix="rnnmcu-test-") as work:
        with _device_for(board, model, q, work, port, wide, input_projections) as dev:
            info = dev.sync()
            if info.model_hash != q.hash32:
                raise CheckFailed(
                    f"the device runs a different model (hash {info.model_hash:08x}, expected {q.hash32:08x} for {model.name})",
                    "flash the firmware built from this .rnnmcu file, or pass the matching model")
            rep = run_hil(dev, exp_steps, exp_runs, seqs, bench_repeats=bench_repeats,
                          suite=f"rnnmcu-{board}-{model.name}", progress=_say, indices=keep)
    rep.update({"board": board, "model": model.name, "precision": q.precision, "hash": q.hash,
                "fully_masked_sequences": empty})
    if junit:
        report_mod.write_junit(junit, rep)
    if report:
        report_mod.write_json(report, rep)
    return rep
