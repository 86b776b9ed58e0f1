"""The HIL runner: stream test sequences through a device and compare every output, bit for bit,
with the reference outputs the caller computed (rnnmcu.codegen's bit-exact reference)."""
from __future__ import annotations

import math
import statistics
import time
from typing import Any, Callable, Sequence

import numpy as np

from rnnmcu.errors import DeviceError, InputError
from rnnmcu.hil.codec import CounterKind, DeviceInfo
from rnnmcu.hil.device import Device

REPORT_SCHEMA = "rnnmcu-hil-report/1"


def _py(v: Any) -> Any:
    """A numpy scalar as a JSON-safe Python value (non-finite floats become strings)."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def _sequences(xq: np.ndarray | Sequence[np.ndarray], lengths: Sequence[int] | None,
               input_dim: int) -> list[np.ndarray]:
    if isinstance(xq, np.ndarray) and xq.ndim == 3:
        n = xq.shape[0]
        if lengths is None:
            lens = [xq.shape[1]] * n
        else:
            lens = [int(v) for v in np.asarray(lengths).reshape(-1)]
            if len(lens) != n:
                raise InputError(f"{len(lens)} lengths for {n} sequences",
                                 "pass one length per sequence")
        seqs = []
        for i, L in enumerate(lens):
            if not 1 <= L <= xq.shape[1]:
                raise InputError(f"sequence {i}: length {L} outside 1..{xq.shape[1]}",
                                 "fix the lengths array")
            seqs.append(xq[i, :L])
    else:
        seqs = [np.asarray(s) for s in xq]
        if lengths is not None:
            lens = [int(v) for v in np.asarray(lengths).reshape(-1)]
            if len(lens) != len(seqs):
                raise InputError(f"{len(lens)} lengths for {len(seqs)} sequences",
                                 "pass one length per sequence")
            seqs = [s[:L] for s, L in zip(seqs, lens)]
    for i, s in enumerate(seqs):
        if s.ndim != 2 or s.shape[1] != input_dim or s.shape[0] == 0:
            raise InputError(f"sequence {i} has shape {s.shape}, the device expects (T>0, {input_dim})",
                             "check that the test data belongs to this model")
    if not seqs:
        raise InputError("no test sequences", "pass at least one sequence")
    return seqs


def _as_device(arr: np.ndarray, info: DeviceInfo, what: str) -> np.ndarray:
    dtype = info.dtype
    a = np.asarray(arr)
    if dtype.kind == "i":
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a)) or not np.array_equal(a, np.round(a)):
                raise InputError(f"{what}: expected outputs are not integers for a {dtype.name} model",
                                 "pass the integer reference outputs (rnnmcu.codegen), not floats")
        elif a.dtype.kind not in "iu":
            raise InputError(f"{what}: expected outputs of dtype {a.dtype}", "pass numeric arrays")
        lim = np.iinfo(dtype)
        if a.size and (a.min() < lim.min or a.max() > lim.max):
            raise InputError(f"{what}: expected outputs outside the {dtype.name} range",
                             "pass the reference's saturated outputs")
    return a.astype(dtype)


def _bits(a: np.ndarray) -> np.ndarray:
    """Values as unsigned integers of the same width, so that floats compare bit for bit."""
    return a.view(np.dtype(f"<u{a.dtype.itemsize}"))


def _compare(exp: np.ndarray, got: np.ndarray, seq: int, phase: str, steps: Sequence[int],
             out: list[dict]) -> int:
    """Append one record per differing value; exp/got are (len(steps), output_dim)."""
    diff = _bits(np.ascontiguousarray(exp)) != _bits(np.ascontiguousarray(got))
    for r, j in zip(*np.nonzero(diff)):
        out.append({"sequence": seq, "phase": phase, "step": int(steps[r]), "index": int(j),
                    "expected": _py(exp[r, j]), "got": _py(got[r, j])})
    return int(diff.sum())


def run_hil(device: Device,
            expected_steps: Sequence[np.ndarray] | None,
            expected_run: Sequence[np.ndarray] | None,
            xq: np.ndarray | Sequence[np.ndarray],
            lengths: Sequence[int] | None = None,
            *,
            bench_repeats: int = 50,
            max_mismatches: int = 50,
            suite: str = "rnnmcu-hil",
            progress: Callable[[str], None] | None = None,
            indices: Sequence[int] | None = None) -> dict:
    """Check a device against reference outputs; return the report dict (see report.py).

    For each sequence i (``xq[i]`` of shape (len_i, input_dim) in device units, or a padded
    (N, T, input_dim) array with ``lengths``): RESET, one STEP per timestep compared with
    ``expected_steps[i]`` (len_i, output_dim) — skipped for window-only models or when
    ``expected_steps`` is None —, one RUN of the whole window compared with ``expected_run[i]``
    ((output_dim,), or (len_i, output_dim) for output-sequence models; skipped with a reason if
    the window does not fit the device), then BENCH of ``bench_repeats`` steps of the first input
    vector (0 disables).  Mismatches make ``passed`` false; device failures raise DeviceError
    naming the sequence and step.  ``indices`` names the sequences by their position in the
    data set (default 0, 1, ...) when some were left out.
    """
    say = progress or (lambda _msg: None)
    info = device.cached_info if device.synced else device.sync()
    seqs = _sequences(xq, lengths, info.input_dim)
    n = len(seqs)
    do_step = expected_steps is not None and not info.window_only
    if expected_steps is not None and len(expected_steps) != n:
        raise InputError(f"{len(expected_steps)} step references for {n} sequences",
                         "pass one expected array per sequence")
    if expected_run is not None and len(expected_run) != n:
        raise InputError(f"{len(expected_run)} run references for {n} sequences",
                         "pass one expected array per sequence")
    if expected_run is None and not do_step:
        raise InputError("nothing to check: no run references and no step pass",
                         "pass expected_run (and expected_steps for streaming models)")
    max_t = info.max_window()
    if info.window_only:
        too_long = [i for i, s in enumerate(seqs) if s.shape[0] > max_t]
        if too_long:
            raise InputError(f"sequences {too_long[:10]} are longer than the {max_t} steps this "
                             "window-only device can run", "shorten the test windows")
    if bench_repeats < 0 or bench_repeats > 0xFFFF:
        raise InputError(f"bench repeats {bench_repeats}: must be 0..65535", "choose a smaller count")

    # validate every reference before talking to the device
    exp_steps: list[np.ndarray | None] = []
    exp_runs: list[np.ndarray | None] = []
    for i, s in enumerate(seqs):
        L = s.shape[0]
        if do_step:
            e = _as_device(expected_steps[i], info, f"sequence {i} step reference")  # type: ignore[index]
            if e.shape != (L, info.output_dim):
                raise InputError(f"sequence {i}: step reference of shape {e.shape}, expected "
                                 f"({L}, {info.output_dim})", "one output vector per timestep")
            exp_steps.append(e)
        else:
            exp_steps.append(None)
        if expected_run is not None:
            e = _as_device(expected_run[i], info, f"sequence {i} run reference")
            want = (L, info.output_dim) if info.output_sequence else (info.output_dim,)
            if e.shape != want:
                raise InputError(f"sequence {i}: run reference of shape {e.shape}, expected {want}",
                                 "match the model's return_sequences setting")
            exp_runs.append(e)
        else:
            exp_runs.append(None)

    started = time.monotonic()
    records: list[dict] = []
    total_mismatches = 0
    values_checked = 0
    per_step: list[float] = []
    if indices is not None and len(indices) != n:
        raise InputError(f"{len(indices)} sequence indices for {n} sequences", "pass one index per sequence")
    names = list(range(n)) if indices is None else [int(v) for v in indices]
    for i, s in enumerate(seqs):
        L = s.shape[0]
        idx = names[i]
        t_seq = time.monotonic()
        mism: list[dict] = []
        rec: dict[str, Any] = {"index": idx, "name": f"seq{idx:04d}", "length": L}
        where = "RESET"
        try:
            if do_step:
                device.reset()
                got = np.empty((L, info.output_dim), dtype=info.dtype)
                for t in range(L):
                    where = f"STEP {t}"
                    got[t] = device.step(s[t])
                k = _compare(exp_steps[i], got, idx, "step", range(L), mism)  # type: ignore[arg-type]
                rec["step"] = {"steps": L, "mismatches": k}
                values_checked += got.size
            else:
                rec["step"] = {"skipped": "window-only model" if info.window_only
                               else "no step reference given"}
            e_run = exp_runs[i]
            if e_run is None:
                rec["run"] = {"skipped": "no run reference given"}
            elif L > max_t:
                rec["run"] = {"skipped": f"window of {L} steps exceeds the device's {max_t}"}
            else:
                where = f"RUN of {L} steps"
                y = device.run(s)
                if info.output_sequence:
                    k = _compare(e_run, y, idx, "run", range(L), mism)
                else:
                    k = _compare(e_run[None, :], y[None, :], idx, "run", [L - 1], mism)
                rec["run"] = {"steps": L, "mismatches": k}
                values_checked += y.size
            if bench_repeats:
                reps = bench_repeats if not info.bench_runs else min(bench_repeats, max_t)
                where = f"BENCH x{reps}"
                b = device.bench(s[0], reps)
                rec["bench"] = b.to_dict()
                if b.per_step is not None:
                    per_step.append(b.per_step)
            else:
                rec["bench"] = None
        except DeviceError as exc:
            raise DeviceError(f"HIL sequence {idx} ({where}): {exc.message}", exc.hint) from exc
        total_mismatches += len(mism)
        rec["mismatches_total"] = len(mism)
        rec["mismatches"] = mism[:max_mismatches]
        rec["passed"] = not mism
        rec["time_s"] = round(time.monotonic() - t_seq, 6)
        records.append(rec)
        say(f"sequence {i + 1}/{n}: {'ok' if not mism else f'{len(mism)} mismatches'}")

    failed = sum(1 for r in records if not r["passed"])
    unit = {CounterKind.CYCLES: "cycles", CounterKind.INSTRUCTIONS: "instructions"}.get(
        info.counter_kind)
    bench_summary = None
    if per_step:
        # a window-only or --input-projections build times run() (per step of the window, the head
        # once), a streaming one step() (the head every step): say which, the figures differ
        bench_summary = {"unit": unit, "timed": "run" if info.bench_runs else "step",
                         "per_step_min": min(per_step),
                         "per_step_median": statistics.median(per_step),
                         "per_step_max": max(per_step)}
    return {
        "schema": REPORT_SCHEMA,
        "suite": suite,
        "passed": failed == 0,
        "device": info.to_dict(),
        "summary": {
            "sequences": n,
            "passed": n - failed,
            "failed": failed,
            "mismatches": total_mismatches,
            "values_checked": values_checked,
            "step_pass": do_step,
            "runs_skipped": sum(1 for r in records if "skipped" in r["run"]),
            "bench": bench_summary,
            "elapsed_s": round(time.monotonic() - started, 6),
        },
        "sequences": records,
    }
