"""Datasets for training: long-form CSV, windowing of one long labelled stream, padding helpers.

Everything returns the same :class:`rnnmcu.data.Dataset` as :func:`rnnmcu.data.load_npz`:
``x`` float32 ``(n, T, F)`` in raw sensor units, ``y`` int64 class indices, ``lengths`` int64 or
``None``, ``class_names``, and an optional test split (``x_test``, ``y_test``, ``lengths_test``).

**Long-form CSV** (one row per time step; a header row is required)::

    seq,t,ax,ay,az,gx,gy,gz,label[,split]
    s0,0,0.12,-0.3,9.79,1.2,-0.4,0.3,idle,train
    s0,1,...

* ``seq`` — sequence id (any text); rows of a sequence need not be contiguous in the file
* ``t`` — integer time index; within a sequence the indices must be consecutive (any start,
  any row order), without duplicates or gaps
* every other column is a feature, in header order (or name them with ``features=``)
* ``label`` — class name (text or integer); must be the same on every row of a sequence
* ``split`` (optional) — ``train`` or ``test``; test sequences become ``x_test``/``y_test``

Accepted column names: sequence id ``seq|sequence|sequence_id|id``, time ``t|time|step|time_index``,
label ``label|class|y``, split ``split``.  Class names are sorted (numerically when all are
integers) and ``y`` indexes them.

**Padding rule** (variable length): sequences of different lengths are an error unless
``variable_length=True``; then each is padded at the end with zeros up to the longest one and
``lengths`` holds the true lengths.  The lengths, not the values, say which steps are real: a real
step whose channels are all 0.0 is data like any other (the trainer masks by length).

**Windowing** (:func:`load_stream_csv`, :func:`window_stream`): one long labelled stream with columns
``[t,] features..., label`` is cut into windows of ``window`` steps every ``hop`` steps.  A window's
label is the **majority** label of its steps (ties go to the tied label that occurs latest in the
window, i.e. the most recent activity), or with ``label_mode="last"`` the label of its last step —
what a streaming device that classifies "now" would be asked.  With ``test_fraction`` the last part
of the stream is the test split and no window straddles the boundary (overlapping windows would
otherwise leak test steps into training).
"""
from __future__ import annotations

import csv
import math
import os
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from rnnmcu.errors import InputError

SEQ_COLS = ("seq", "sequence", "sequence_id", "id")
TIME_COLS = ("t", "time", "step", "time_index")
LABEL_COLS = ("label", "class", "y")
SPLIT_COLS = ("split",)
SPLITS = ("train", "test")


def _dataset(**kw):
    from rnnmcu.data import Dataset
    return Dataset(**kw)


# ---------------------------------------------------------------------------------------------
# Padding and lengths
# ---------------------------------------------------------------------------------------------

def pad_sequences(seqs: Sequence[np.ndarray], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(T_i, F)`` arrays into ``(n, T, F)`` float32, zero-padded at the end, and their lengths.

    Raises :class:`InputError` when a sequence is longer than ``max_len``, empty, or has a different
    channel count.  ``lengths`` says which steps are real, whatever their values."""
    if len(seqs) == 0:
        raise InputError("no sequences to pad")
    feats = {np.asarray(s).shape[1] if np.ndim(s) == 2 else -1 for s in seqs}
    if len(feats) != 1 or -1 in feats:
        raise InputError(f"sequences must all be 2-D (steps, channels) with one channel count; got {sorted(feats)}")
    lengths = np.asarray([len(s) for s in seqs], dtype=np.int64)
    if np.any(lengths == 0):
        raise InputError(f"sequence {int(np.argmin(lengths))} is empty")
    t = int(lengths.max()) if max_len is None else int(max_len)
    if lengths.max() > t:
        i = int(np.argmax(lengths))
        raise InputError(f"sequence {i} has {lengths[i]} steps, more than max_len={t}")
    x = np.zeros((len(seqs), t, feats.pop()), dtype=np.float32)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    return x, lengths


def valid_mask(x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """Boolean ``(n, T)``: True on real steps."""
    n, t = x.shape[:2]
    if lengths is None:
        return np.ones((n, t), dtype=bool)
    return np.arange(t)[None, :] < np.asarray(lengths)[:, None]


def valid_steps(x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """All real steps of all sequences as ``(N, F)`` (for normalisation statistics)."""
    return x[valid_mask(x, lengths)]


def has_padding(lengths: np.ndarray | None, steps: int) -> bool:
    return lengths is not None and bool(np.any(np.asarray(lengths) < steps))


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

def validate(ds, source: str = "dataset", require_labels: bool = True) -> None:
    """Check a Dataset is usable for training; raise :class:`InputError` naming the problem."""
    x = ds.x
    if x is None or x.ndim != 3:
        raise InputError(f"{source}: x must be (sequences, steps, channels); got shape {getattr(x, 'shape', None)}")
    if x.shape[0] == 0:
        raise InputError(f"{source}: the training split is empty", hint="add training sequences")
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise InputError(f"{source}: x has shape {x.shape}; need at least one step and one channel")
    for name, xx, ll, yy in (("train", x, ds.lengths, ds.y), ("test", ds.x_test, ds.lengths_test, ds.y_test)):
        if xx is None:
            continue
        if name == "test" and xx.shape[0] == 0:
            raise InputError(f"{source}: the test split is empty", hint="drop x_test or add test sequences")
        if not np.all(np.isfinite(xx)):
            i, s, f = (int(v) for v in np.argwhere(~np.isfinite(xx))[0])
            raise InputError(f"{source}: {name} sequence {i} step {s} channel {f} is not finite (NaN or inf)")
        if ll is not None:
            ll = np.asarray(ll)
            if ll.shape != (xx.shape[0],) or np.any(ll < 1) or np.any(ll > xx.shape[1]):
                raise InputError(f"{source}: {name} lengths must be one per sequence in 1..{xx.shape[1]}")
        if yy is not None:
            yy = np.asarray(yy)
            if yy.shape != (xx.shape[0],):
                raise InputError(f"{source}: {name} has {xx.shape[0]} sequences but {yy.shape[0]} labels")
    if require_labels:
        if ds.y is None:
            raise InputError(f"{source}: no labels (y)", hint="training needs one class label per sequence")
        y = np.asarray(ds.y)
        if np.any(y < 0):
            raise InputError(f"{source}: labels must be class indices >= 0; found {int(y.min())}")
        classes = np.unique(y)
        if classes.size < 2:
            raise InputError(f"{source}: the training split holds a single class ({_name(ds, classes[0])}); "
                             f"a classifier needs at least two", hint="add sequences of other classes")
        k = n_classes(ds)
        if ds.class_names is not None and int(y.max()) >= len(ds.class_names):
            raise InputError(f"{source}: label {int(y.max())} but only {len(ds.class_names)} class names")
        if ds.y_test is not None and ds.y_test.size and (int(ds.y_test.min()) < 0 or int(ds.y_test.max()) >= k):
            raise InputError(f"{source}: test labels outside 0..{k - 1}")
    if ds.x_test is not None and ds.x_test.shape[2] != x.shape[2]:
        raise InputError(f"{source}: x_test has {ds.x_test.shape[2]} channels but x has {x.shape[2]}")


def n_classes(ds) -> int:
    if ds.class_names is not None:
        return len(ds.class_names)
    m = int(np.max(ds.y))
    if ds.y_test is not None and ds.y_test.size:
        m = max(m, int(np.max(ds.y_test)))
    return m + 1


def _name(ds, k) -> str:
    return repr(ds.class_names[int(k)]) if ds.class_names is not None else f"class {int(k)}"


# ---------------------------------------------------------------------------------------------
# CSV parsing helpers
# ---------------------------------------------------------------------------------------------

def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _open_csv(path: str) -> tuple[list[str], Iterable[tuple[int, list[str]]], object]:
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e.strerror})", hint="check the path") from e
    reader = csv.reader(fh)
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        raise InputError(f"{path}: the file is empty; a header row is required") from None
    except csv.Error as e:
        fh.close()
        raise InputError(f"{path} line 1: {e}") from e
    header = [h.strip() for h in header]
    if not header or all(not h for h in header):
        fh.close()
        raise InputError(f"{path}: the first row must be a header naming the columns")
    if any(not h for h in header):
        fh.close()
        raise InputError(f"{path} line 1: column {header.index('') + 1} has an empty name")
    dup = [h for h, c in Counter(header).items() if c > 1]
    if dup:
        fh.close()
        raise InputError(f"{path} line 1: duplicate column name(s) {', '.join(map(repr, dup))}")
    numeric = [h for h in header if _is_number(h)]
    if numeric:
        fh.close()
        raise InputError(f"{path} line 1: the first row looks like data ({numeric[0]!r} is a number); "
                         f"a header row is required", hint="add a header such as: seq,t,ax,ay,az,label")

    def rows():
        try:
            for i, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue  # blank line
                yield reader.line_num, row
        except csv.Error as e:
            raise InputError(f"{path} line {reader.line_num}: {e}") from e

    return header, rows(), fh


def _pick(header: list[str], given: str | None, choices: tuple[str, ...], what: str, path: str,
          required: bool) -> str | None:
    if given is not None:
        if given not in header:
            raise InputError(f"{path}: no {what} column {given!r}; columns are {', '.join(header)}")
        return given
    lower = {h.lower(): h for h in header}
    for c in choices:
        if c in lower:
            return lower[c]
    if required:
        raise InputError(f"{path}: no {what} column (expected one of {', '.join(choices)}); "
                         f"columns are {', '.join(header)}", hint=f"rename the {what} column or name it explicitly")
    return None


def _float(path: str, line: int, col: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{path} line {line} column {col!r}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise InputError(f"{path} line {line} column {col!r}: {text.strip()!r} is not a finite number",
                         hint="fill or drop missing samples before training")
    return v


def _int(path: str, line: int, col: str, text: str) -> int:
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{path} line {line} column {col!r}: {text!r} is not an integer time index") from None
    if not math.isfinite(v) or v != int(v):
        raise InputError(f"{path} line {line} column {col!r}: {text!r} is not an integer time index")
    return int(v)


def _class_names(labels: Iterable[str]) -> list[str]:
    uniq = set(labels)
    try:
        return sorted(uniq, key=lambda s: (int(s), s))
    except ValueError:
        return sorted(uniq)


def _features(header: list[str], used: set[str], features: Sequence[str] | None, path: str) -> list[str]:
    if features is not None:
        missing = [f for f in features if f not in header]
        if missing:
            raise InputError(f"{path}: feature column(s) {', '.join(map(repr, missing))} not found; "
                             f"columns are {', '.join(header)}")
        return list(features)
    feats = [h for h in header if h not in used]
    if not feats:
        raise InputError(f"{path}: no feature columns besides {', '.join(sorted(used))}")
    return feats


# ---------------------------------------------------------------------------------------------
# Long-form CSV
# ---------------------------------------------------------------------------------------------

def load_csv(path: str, *, variable_length: bool = False, require_labels: bool = True,
             seq_col: str | None = None, time_col: str | None = None, label_col: str | None = None,
             features: Sequence[str] | None = None):
    """Read a long-form CSV (see the module docstring) into a Dataset."""
    path = str(path)
    header, rows, fh = _open_csv(path)
    with fh:
        sc = _pick(header, seq_col, SEQ_COLS, "sequence id", path, True)
        tc = _pick(header, time_col, TIME_COLS, "time index", path, True)
        lc = _pick(header, label_col, LABEL_COLS, "label", path, require_labels)
        pc = _pick(header, None, SPLIT_COLS, "split", path, False)
        feats = _features(header, {c for c in (sc, tc, lc, pc) if c}, features, path)
        idx = {h: i for i, h in enumerate(header)}
        fi = [idx[f] for f in feats]
        # per sequence: list of (t, line, values), label, label line, split
        seqs: dict[str, dict] = {}
        for line, row in rows:
            if len(row) != len(header):
                raise InputError(f"{path} line {line}: {len(row)} fields but the header has {len(header)}")
            sid = row[idx[sc]].strip()
            if not sid:
                raise InputError(f"{path} line {line} column {sc!r}: empty sequence id")
            t = _int(path, line, tc, row[idx[tc]])
            vals = [_float(path, line, header[j], row[j]) for j in fi]
            s = seqs.get(sid)
            if s is None:
                s = seqs[sid] = {"steps": [], "label": None, "line": line, "split": None}
            s["steps"].append((t, line, vals))
            if lc is not None:
                lab = row[idx[lc]].strip()
                if not lab:
                    raise InputError(f"{path} line {line} column {lc!r}: missing label for sequence {sid!r}")
                if s["label"] is None:
                    s["label"] = lab
                elif lab != s["label"]:
                    raise InputError(f"{path} line {line} column {lc!r}: sequence {sid!r} changes label from "
                                     f"{s['label']!r} (line {s['line']}) to {lab!r}",
                                     hint="one label per sequence; use windowing (load_stream_csv) for a labelled stream")
            if pc is not None:
                sp = row[idx[pc]].strip().lower()
                if sp not in SPLITS:
                    raise InputError(f"{path} line {line} column {pc!r}: {row[idx[pc]]!r} is not train or test")
                if s["split"] is None:
                    s["split"] = sp
                elif sp != s["split"]:
                    raise InputError(f"{path} line {line} column {pc!r}: sequence {sid!r} is in both splits")
    if not seqs:
        raise InputError(f"{path}: no data rows after the header")

    arrays: dict[str, np.ndarray] = {}
    for sid, s in seqs.items():
        steps = sorted(s["steps"], key=lambda r: r[0])
        for (t0, l0, _), (t1, l1, _) in zip(steps, steps[1:]):
            if t1 == t0:
                raise InputError(f"{path} line {l1} column {tc!r}: sequence {sid!r} repeats time index {t1} "
                                 f"(also on line {l0})")
            if t1 != t0 + 1:
                raise InputError(f"{path} line {l1} column {tc!r}: sequence {sid!r} jumps from time index {t0} "
                                 f"to {t1} (missing steps)", hint="fill the gap or split the sequence")
        arrays[sid] = np.asarray([r[2] for r in steps], dtype=np.float32)
        s["first_line"] = min(r[1] for r in steps)

    lens = {sid: len(a) for sid, a in arrays.items()}
    if len(set(lens.values())) > 1 and not variable_length:
        a, b = sorted(lens, key=lambda k: lens[k])[0], sorted(lens, key=lambda k: lens[k])[-1]
        raise InputError(f"{path}: ragged sequences: {a!r} (line {seqs[a]['first_line']}) has {lens[a]} steps "
                         f"but {b!r} (line {seqs[b]['first_line']}) has {lens[b]}",
                         hint="pass --variable-length to pad with zeros and keep the true lengths, "
                              "or cut the sequences to one length")
    names = _class_names(s["label"] for s in seqs.values()) if lc is not None else None
    out = {}
    for split in SPLITS:
        ids = [sid for sid, s in seqs.items() if (s["split"] or "train") == split]
        if not ids:
            out[split] = None
            continue
        x, lengths = pad_sequences([arrays[i] for i in ids])
        y = np.asarray([names.index(seqs[i]["label"]) for i in ids], dtype=np.int64) if names else None
        out[split] = (x, lengths if variable_length else None, y, ids)
    if out["train"] is None:
        raise InputError(f"{path}: the training split is empty (every sequence is marked test)",
                         hint="mark some sequences split=train")
    if out["test"] is not None and out["test"][0].shape[1] != out["train"][0].shape[1] and not variable_length:
        raise InputError(f"{path}: test sequences have {out['test'][0].shape[1]} steps but training ones have "
                         f"{out['train'][0].shape[1]}", hint="pass --variable-length")
    x, lengths, y, ids = out["train"]
    if names is not None:
        train_classes = set(y.tolist())
        if len(train_classes) < 2:
            raise InputError(f"{path}: the training split holds a single class ({names[y[0]]!r}); "
                             f"a classifier needs at least two", hint="add sequences of other classes")
        if out["test"] is not None:
            only = sorted({names[k] for k in out["test"][2].tolist()} - {names[k] for k in train_classes})
            if only:
                raise InputError(f"{path}: class(es) {', '.join(map(repr, only))} appear only in the test split",
                                 hint="put some of their sequences in the training split")
    xt = lt = yt = None
    if out["test"] is not None:
        xt, lt, yt, _ = out["test"]
        if variable_length and xt.shape[1] != x.shape[1]:
            t = max(xt.shape[1], x.shape[1])
            x = _pad_to(x, t)
            xt = _pad_to(xt, t)
    return _dataset(x=x, y=y, lengths=lengths, class_names=names, x_test=xt, y_test=yt, lengths_test=lt)


def _pad_to(x: np.ndarray, t: int) -> np.ndarray:
    if x.shape[1] == t:
        return x
    out = np.zeros((x.shape[0], t, x.shape[2]), dtype=x.dtype)
    out[:, : x.shape[1]] = x
    return out


def _fmt(v: float) -> str:
    return format(float(v), ".9g")  # 9 significant digits round-trip any float32


def save_csv(path: str, ds, feature_names: Sequence[str] | None = None) -> None:
    """Write a Dataset as long-form CSV (``seq,t,<features>,label,split``), atomically.
    Only the real steps of variable-length sequences are written."""
    path = str(path)
    f = ds.x.shape[2]
    feats = list(feature_names) if feature_names is not None else [f"f{i}" for i in range(f)]
    if len(feats) != f:
        raise InputError(f"{len(feats)} feature names for {f} channels")
    has_y = ds.y is not None
    from rnnmcu.atomic import atomic_file

    with atomic_file(path, "w", suffix=".csv", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["seq", "t", *feats] + (["label"] if has_y else []) + ["split"])
        parts = [("train", ds.x, ds.y, ds.lengths)]
        if ds.x_test is not None:
            parts.append(("test", ds.x_test, ds.y_test, ds.lengths_test))
        for split, x, y, lengths in parts:
            for i in range(x.shape[0]):
                n = int(lengths[i]) if lengths is not None else x.shape[1]
                lab = []
                if has_y:
                    k = int(y[i])
                    lab = [ds.class_names[k] if ds.class_names is not None else str(k)]
                sid = f"{split}{i}"
                for t in range(n):
                    w.writerow([sid, t, *(_fmt(v) for v in x[i, t])] + lab + [split])


# ---------------------------------------------------------------------------------------------
# Windowing of one long labelled stream
# ---------------------------------------------------------------------------------------------

def _window_label(labels: np.ndarray, mode: str) -> int:
    if mode == "last":
        return int(labels[-1])
    counts = np.bincount(labels)
    top = np.flatnonzero(counts == counts.max())
    if top.size == 1:
        return int(top[0])
    # tie: the tied label that occurs latest in the window
    last_pos = {int(k): int(np.flatnonzero(labels == k)[-1]) for k in top}
    return max(last_pos, key=last_pos.get)


def window_stream(x: np.ndarray, labels: np.ndarray, window: int, hop: int,
                  label_mode: str = "majority") -> tuple[np.ndarray, np.ndarray]:
    """Cut a stream ``x (N, F)`` with per-step integer ``labels (N,)`` into windows
    ``(n, window, F)`` starting at 0, hop, 2*hop, ... (a last partial window is dropped)."""
    if label_mode not in ("majority", "last"):
        raise InputError(f"label mode {label_mode!r}: use 'majority' or 'last'")
    if window < 1 or hop < 1:
        raise InputError(f"window ({window}) and hop ({hop}) must be at least 1")
    n = x.shape[0]
    if n < window:
        raise InputError(f"the stream has {n} steps, fewer than one window of {window}",
                         hint="use a shorter --window or a longer recording")
    starts = np.arange(0, n - window + 1, hop)
    xs = np.stack([x[s:s + window] for s in starts]).astype(np.float32)
    ys = np.asarray([_window_label(labels[s:s + window], label_mode) for s in starts], dtype=np.int64)
    return xs, ys


def load_stream_csv(path: str, window: int, hop: int, *, label_mode: str = "majority",
                    test_fraction: float = 0.0, time_col: str | None = None,
                    label_col: str | None = None, features: Sequence[str] | None = None):
    """Read one long labelled stream (columns ``[t,] features..., label``; rows in time order) and
    window it into a Dataset.  See the module docstring for the label rule and the test split."""
    path = str(path)
    if not 0.0 <= test_fraction < 1.0:
        raise InputError(f"test fraction must be in [0, 1), got {test_fraction}")
    header, rows, fh = _open_csv(path)
    with fh:
        tc = _pick(header, time_col, TIME_COLS, "time index", path, False)
        lc = _pick(header, label_col, LABEL_COLS, "label", path, True)
        feats = _features(header, {c for c in (tc, lc) if c}, features, path)
        idx = {h: i for i, h in enumerate(header)}
        fi = [idx[f] for f in feats]
        vals, labs, prev_t = [], [], None
        for line, row in rows:
            if len(row) != len(header):
                raise InputError(f"{path} line {line}: {len(row)} fields but the header has {len(header)}")
            if tc is not None:
                t = _int(path, line, tc, row[idx[tc]])
                if prev_t is not None and t != prev_t + 1:
                    raise InputError(f"{path} line {line} column {tc!r}: time index {t} follows {prev_t}; "
                                     f"a stream must be one step per row in time order")
                prev_t = t
            vals.append([_float(path, line, header[j], row[j]) for j in fi])
            lab = row[idx[lc]].strip()
            if not lab:
                raise InputError(f"{path} line {line} column {lc!r}: missing label")
            labs.append(lab)
    if not vals:
        raise InputError(f"{path}: no data rows after the header")
    names = _class_names(labs)
    x = np.asarray(vals, dtype=np.float32)
    y = np.asarray([names.index(l) for l in labs], dtype=np.int64)
    n = x.shape[0]
    n_test = int(round(n * test_fraction))
    cut = n - n_test
    if cut < window:
        raise InputError(f"{path}: the training part of the stream has {cut} steps, fewer than one window of "
                         f"{window}", hint="lower the test fraction or the window")
    xw, yw = window_stream(x[:cut], y[:cut], window, hop, label_mode)
    xt = yt = None
    if n_test:
        if n_test < window:
            raise InputError(f"{path}: the test part of the stream has {n_test} steps, fewer than one window "
                             f"of {window}", hint="raise the test fraction or lower the window")
        xt, yt = window_stream(x[cut:], y[cut:], window, hop, label_mode)
    ds = _dataset(x=xw, y=yw, lengths=None, class_names=names, x_test=xt, y_test=yt, lengths_test=None)
    if np.unique(yw).size < 2:
        raise InputError(f"{path}: every training window is labelled {names[int(yw[0])]!r}; a classifier "
                         f"needs at least two classes", hint="check the label column or use a smaller --hop")
    return ds


# ---------------------------------------------------------------------------------------------
# One entry point for training
# ---------------------------------------------------------------------------------------------

def load(path: str, *, variable_length: bool = False, window: int | None = None, hop: int | None = None,
         label_mode: str = "majority", test_fraction: float = 0.0):
    """Load ``.npz`` (via :func:`rnnmcu.data.load_npz`) or ``.csv`` (long form, or a stream when
    ``window`` is given) and validate it for training."""
    path = str(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file", hint="make one with: rnnmcu data synth -o data.npz")
    lower = path.lower()
    if lower.endswith(".npz"):
        if window is not None:
            raise InputError("--window applies to a CSV stream, not to an .npz file")
        from rnnmcu.data import load_npz
        ds = load_npz(path, require_labels=True)
    elif lower.endswith(".csv"):
        if window is not None:
            ds = load_stream_csv(path, window, hop or window, label_mode=label_mode, test_fraction=test_fraction)
        else:
            ds = load_csv(path, variable_length=variable_length)
    else:
        raise InputError(f"{path}: unknown data format; use .npz or .csv")
    validate(ds, source=path)
    return ds
