"""Datasets on disk: one ``.npz`` file, loaded with ``allow_pickle=False`` and checked in full.

Arrays (names are the keys in the file):

==============  =============  ======================================================================
``x``           (n, T, F)      input windows in sensor units; any real numeric dtype, read as float32
``y``           (n,)           class index per window, whole numbers >= 0 (optional)
``lengths``     (n,)           valid steps per window, 1..T; steps past it are padding (optional)
``class_names`` (C,)           string array, one name per class (optional)
``x_test`` ...  as above       a held-out split: ``x_test``, ``y_test``, ``lengths_test`` (optional)
anything else   any            kept in ``Dataset.extra`` (e.g. ``channel_names``, ``sample_rate_hz``)
==============  =============  ======================================================================

A name that looks like a misspelt known array (``X``, ``labels``, ``Y_test`` ...) is an error rather
than an extra, so that a typo cannot silently drop the labels.

Every problem is an :class:`rnnmcu.errors.InputError` that names the array, what is wrong (down to
the sequence, step and channel for a non-finite value) and what to do about it.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnmcu.errors import InputError

KNOWN_ARRAYS = ("x", "y", "lengths", "class_names", "x_test", "y_test", "lengths_test")
# Names people use for the known arrays; found in a file they are an error, not an extra.
_ALIASES = {"inputs": "x", "input": "x", "data": "x", "features": "x", "labels": "y", "label": "y",
            "targets": "y", "target": "y", "len": "lengths", "lens": "lengths", "length": "lengths",
            "seq_lengths": "lengths", "classes": "class_names", "names": "class_names",
            "labels_test": "y_test", "x_val": "x_test", "y_val": "y_test"}

_MAKE_HINT = "save it with numpy.savez(path, x=x, y=y), x shaped (n, T, F); or make one with `rnnmcu data synth -o data.npz`"


@dataclass
class Dataset:
    """Windows ``x`` (n, T, F) float32 with optional labels, lengths, class names and a test split."""

    x: np.ndarray
    y: np.ndarray | None = None
    lengths: np.ndarray | None = None
    class_names: list[str] | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    lengths_test: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def steps(self) -> int:
        return int(self.x.shape[1])

    @property
    def features(self) -> int:
        return int(self.x.shape[2])

    @property
    def num_classes(self) -> int | None:
        """Number of classes: from ``class_names`` if given, else 1 + the largest label seen."""
        if self.class_names is not None:
            return len(self.class_names)
        ys = [a for a in (self.y, self.y_test) if a is not None and a.size]
        if not ys:
            return None
        return int(max(int(a.max()) for a in ys)) + 1

    def validate(self, source: str = "dataset") -> "Dataset":
        """Check every array and normalise dtypes in place; returns ``self``."""
        _validate(self, source)
        return self


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def load_npz(path: str | os.PathLike[str], require_labels: bool = False) -> Dataset:
    """Read and check a dataset file.  Raises :class:`InputError` on any problem."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"data file {path!r} does not exist",
                         "check the path; make a dataset with `rnnmcu data synth -o data.npz`")
    if os.path.isdir(path):
        raise InputError(f"data file {path!r} is a directory, not an .npz file",
                         "pass the path of the .npz file inside it")
    if not zipfile.is_zipfile(path):
        kind = _sniff(path)
        raise InputError(f"data file {path!r} is not an .npz archive ({kind})", _MAKE_HINT)
    raw: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as z:
            names = [m[:-4] for m in z.namelist() if m.endswith(".npy")]
        with np.load(path, allow_pickle=False) as npz:
            for name in names:
                try:
                    raw[name] = npz[name]
                except ValueError as e:
                    if "pickle" in str(e).lower() or "object" in str(e).lower():
                        raise InputError(
                            f"{path}: array {name!r} holds Python objects (a pickled object array), "
                            "which rnnmcu does not load",
                            f"store {name!r} as a plain numeric array "
                            "(strings as numpy.array(names, dtype=str))") from None
                    raise InputError(f"{path}: array {name!r} cannot be read ({e})", _MAKE_HINT) from None
    except InputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise InputError(f"data file {path!r} is not a readable .npz archive ({e})", _MAKE_HINT) from None

    if not raw:
        raise InputError(f"{path}: the archive holds no arrays (no .npy members)", _MAKE_HINT)
    for name in sorted(set(raw) - set(KNOWN_ARRAYS)):
        meant = name.lower() if name.lower() in KNOWN_ARRAYS else _ALIASES.get(name.lower())
        if meant is not None:
            raise InputError(f"{path}: array {name!r} looks like {meant!r} under another name",
                             f"rnnmcu reads the key {meant!r}: rename it "
                             f"(numpy.savez(path, {meant}=...)); known keys: {', '.join(KNOWN_ARRAYS)}")

    if "x" not in raw:
        raise InputError(f"{path}: no array named 'x' (found: {', '.join(sorted(raw)) or 'none'})",
                         "the inputs must be stored under the key 'x': numpy.savez(path, x=x, y=y)")
    class_names = None
    if "class_names" in raw:
        class_names = _class_names(raw["class_names"], path)
    ds = Dataset(x=raw["x"], y=raw.get("y"), lengths=raw.get("lengths"), class_names=class_names,
                 x_test=raw.get("x_test"), y_test=raw.get("y_test"), lengths_test=raw.get("lengths_test"),
                 extra={k: v for k, v in raw.items() if k not in KNOWN_ARRAYS})
    _validate(ds, path)
    if require_labels and ds.y is None:
        raise InputError(f"{path}: no labels: this command needs the array 'y' (class index per window)",
                         "add y to the file: numpy.savez(path, x=x, y=y)")
    return ds


def _sniff(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as e:
        raise InputError(f"data file {path!r} cannot be read ({e.strerror})",
                         "check the file's permissions") from None
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single-array .npy file"
    return "unrecognised content"


def _class_names(a: np.ndarray, path: str) -> list[str]:
    if a.dtype.kind not in "US":
        raise InputError(f"{path}: 'class_names' has dtype {a.dtype}, expected strings",
                         "store it as numpy.array(['walk', 'run', ...], dtype=str)")
    if a.ndim != 1:
        raise InputError(f"{path}: 'class_names' has shape {a.shape}, expected one name per class (C,)",
                         "store a 1-D array of names")
    names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in a.tolist()]
    return names


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------

def _validate(ds: Dataset, src: str) -> None:
    ds.x = _check_x(ds.x, "x", src)
    n, t, f = ds.x.shape
    ds.y = None if ds.y is None else _check_labels(ds.y, "y", n, src)
    ds.lengths = None if ds.lengths is None else _check_lengths(ds.lengths, "lengths", n, t, src)

    has_test = ds.x_test is not None
    for name in ("y_test", "lengths_test"):
        if getattr(ds, name) is not None and not has_test:
            raise InputError(f"{src}: {name!r} is given but 'x_test' is not",
                             f"add x_test, or drop {name!r}")
    if has_test:
        ds.x_test = _check_x(ds.x_test, "x_test", src)
        nt, tt, ft = ds.x_test.shape
        if ft != f:
            raise InputError(f"{src}: 'x_test' has {ft} channels but 'x' has {f}",
                             "both splits must have the same channels (last axis)")
        if ds.y is not None and ds.y_test is None:
            raise InputError(f"{src}: 'x' has labels 'y' but 'x_test' has no 'y_test'",
                             "add y_test (one class index per test window), or drop x_test")
        if ds.y_test is not None:
            if ds.y is None:
                raise InputError(f"{src}: 'y_test' is given but 'y' is not",
                                 "add y (one class index per window), or drop y_test")
            ds.y_test = _check_labels(ds.y_test, "y_test", nt, src)
        if ds.lengths_test is not None:
            ds.lengths_test = _check_lengths(ds.lengths_test, "lengths_test", nt, tt, src)

    if ds.class_names is not None:
        names = [str(c) for c in ds.class_names]
        if len(names) == 0:
            raise InputError(f"{src}: 'class_names' is empty", "give one name per class, or drop class_names")
        if any(not c.strip() for c in names):
            raise InputError(f"{src}: 'class_names' has an empty name at index "
                             f"{next(i for i, c in enumerate(names) if not c.strip())}",
                             "give every class a non-empty name")
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise InputError(f"{src}: 'class_names' repeats {', '.join(map(repr, dup))}",
                             "give every class a distinct name")
        ds.class_names = names
        for name in ("y", "y_test"):
            a = getattr(ds, name)
            if a is not None and a.size and int(a.max()) >= len(names):
                i = int(np.argmax(a))
                raise InputError(f"{src}: {name}[{i}] = {int(a[i])} but 'class_names' names only "
                                 f"{len(names)} classes (0..{len(names) - 1})",
                                 "add the missing class names, or fix the labels")


def _check_x(a: Any, name: str, src: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "iuf":
        what = {"b": "booleans", "c": "complex numbers", "U": "strings", "S": "bytes", "O": "objects",
                "M": "dates", "m": "time deltas", "V": "raw records"}.get(a.dtype.kind, str(a.dtype))
        raise InputError(f"{src}: {name!r} has dtype {a.dtype} ({what}); it must hold real numbers",
                         f"convert it first, e.g. {name}.astype(numpy.float32)")
    if a.ndim != 3:
        hint = ("shape it (n windows, T steps, F channels): for single-channel windows (n, T) "
                f"use {name}[..., None]" + (f"; for one window (T, F) use {name}[None]" if a.ndim == 2 else ""))
        raise InputError(f"{src}: {name!r} has shape {a.shape} ({a.ndim}-D), expected 3-D "
                         "(windows, steps, channels)", hint)
    if 0 in a.shape:
        raise InputError(f"{src}: {name!r} is empty (shape {a.shape})",
                         "it needs at least one window of at least one step and one channel")
    with np.errstate(over="ignore", invalid="ignore"):
        x32 = np.ascontiguousarray(a, dtype=np.float32)
    bad = ~np.isfinite(x32)
    if bad.any():
        i, t, c = (int(v) for v in np.argwhere(bad)[0])
        v = a[i, t, c]
        what = ("NaN" if np.isnan(v) else "infinite" if np.isinf(v) else
                f"{float(v):g}, too large for float32")
        raise InputError(
            f"{src}: {name!r} has {int(bad.sum())} non-finite value(s); the first is at sequence {i}, "
            f"step {t}, channel {c} ({what})",
            "replace them (padding too) with finite numbers, e.g. numpy.nan_to_num, or drop those sequences")
    return x32


def _check_labels(a: Any, name: str, n: int, src: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2 and a.shape[0] == n and a.shape[1] > 1:
        raise InputError(f"{src}: {name!r} has shape {a.shape}: one-hot labels are not accepted",
                         f"store class indices: {name}.argmax(axis=1)")
    if a.shape != (n,):
        hint = (f"flatten it: {name}.reshape(-1)" if a.size == n else
                f"give one label per window of x ({n})")
        raise InputError(f"{src}: {name!r} has shape {a.shape} but there are {n} windows; expected ({n},)",
                         hint)
    if a.dtype.kind in "iu":
        y = a.astype(np.int64)
    elif a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{src}: {name}[{i}] = {a[i]!r} is not a whole number; "
                             f"{name!r} holds class indices 0..C-1",
                             f"store integer class indices (e.g. {name}.astype(numpy.int64) after rounding)")
        y = a.astype(np.int64)
    else:
        raise InputError(f"{src}: {name!r} has dtype {a.dtype}; it must hold integer class indices",
                         "map labels to 0..C-1 and store class names in 'class_names'")
    if (y < 0).any():
        i = int(np.argmax(y < 0))
        raise InputError(f"{src}: {name}[{i}] = {int(y[i])} is negative; labels are class indices 0..C-1",
                         "shift the labels so the smallest class is 0")
    return y


def _check_lengths(a: Any, name: str, n: int, t: int, src: str) -> np.ndarray:
    a = np.asarray(a)
    if a.shape != (n,):
        raise InputError(f"{src}: {name!r} has shape {a.shape} but there are {n} windows; expected ({n},)",
                         "give one length (number of valid steps) per window")
    if a.dtype.kind == "f":
        if (~np.isfinite(a) | (a != np.round(a))).any():
            i = int(np.argmax(~np.isfinite(a) | (a != np.round(a))))
            raise InputError(f"{src}: {name}[{i}] = {a[i]!r} is not a whole number of steps",
                             "store lengths as integers")
    elif a.dtype.kind not in "iu":
        raise InputError(f"{src}: {name!r} has dtype {a.dtype}; it must hold integer step counts",
                         "store lengths as integers")
    lens = a.astype(np.int64)
    out = (lens < 1) | (lens > t)
    if out.any():
        i = int(np.argmax(out))
        raise InputError(f"{src}: {name}[{i}] = {int(lens[i])} is out of range: lengths must be 1..{t} "
                         f"(the windows have {t} steps)",
                         "drop empty windows and cap lengths at the window length")
    return lens


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------

def save_npz(path: str | os.PathLike[str], dataset: Dataset) -> None:
    """Check ``dataset`` and write it atomically (a temp file in the same folder, then rename)."""
    path = os.fspath(path)
    dataset.validate(path)
    arrays: dict[str, np.ndarray] = {"x": dataset.x}
    for name in ("y", "lengths", "x_test", "y_test", "lengths_test"):
        v = getattr(dataset, name)
        if v is not None:
            arrays[name] = v
    for name, v in dataset.extra.items():
        if name in KNOWN_ARRAYS:
            raise InputError(f"{path}: extra array {name!r} clashes with the known array of that name",
                             "set it as a Dataset field instead")
        v = np.asarray(v)
        if v.dtype.kind == "O":
            raise InputError(f"{path}: extra array {name!r} holds Python objects, which cannot be saved "
                             "without pickle", "store numbers or strings (dtype=str)")
        arrays[name] = v
    if dataset.class_names is not None:
        arrays["class_names"] = np.array(dataset.class_names, dtype=np.str_)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create folder {folder!r} for {path!r} ({e.strerror})",
                         "choose an output path in a writable folder") from None
    if os.path.isdir(path):
        raise InputError(f"output path {path!r} is a directory", "give a file name, e.g. data.npz")
    from rnnmcu.atomic import atomic_file

    with atomic_file(path, "wb", suffix=".npz.tmp") as fh:
        np.savez_compressed(fh, **arrays)
