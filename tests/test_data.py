"""rnnmcu.data: loading checks every array and says what to do; saving is atomic."""
from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from rnnmcu.cli import main
from rnnmcu.data import Dataset, load_npz, save_npz
from rnnmcu.errors import InputError


def good_arrays(n: int = 4, t: int = 6, f: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(n, t, f)).astype(np.float32), "y": np.arange(n) % 2}


def write(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


# ---------------------------------------------------------------------------------------------
# Good files
# ---------------------------------------------------------------------------------------------

def test_load_minimal_x_only(tmp_path: Path) -> None:
    p = write(tmp_path / "d.npz", x=np.zeros((2, 3, 1), np.float64))
    ds = load_npz(p)
    assert ds.x.dtype == np.float32 and ds.x.shape == (2, 3, 1)
    assert ds.y is None and ds.lengths is None and ds.class_names is None
    assert (ds.n, ds.steps, ds.features) == (2, 3, 1)
    assert ds.num_classes is None


def test_load_full_and_normalise_dtypes(tmp_path: Path) -> None:
    a = good_arrays()
    p = write(tmp_path / "d.npz", x=a["x"].astype(np.int16), y=a["y"].astype(np.float64),
              lengths=np.array([6, 1, 3, 6], np.int32), class_names=np.array(["rest", "move"]),
              x_test=a["x"][:2], y_test=np.array([1, 0], np.uint8), lengths_test=np.array([2.0, 6.0]),
              sample_rate_hz=np.array(50.0))
    ds = load_npz(p, require_labels=True)
    assert ds.x.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [0, 1, 0, 1]
    assert ds.lengths.dtype == np.int64 and ds.lengths.tolist() == [6, 1, 3, 6]
    assert ds.class_names == ["rest", "move"]
    assert ds.y_test.dtype == np.int64 and ds.lengths_test.tolist() == [2, 6]
    assert ds.num_classes == 2
    assert float(ds.extra["sample_rate_hz"]) == 50.0


def test_num_classes_from_labels(tmp_path: Path) -> None:
    p = write(tmp_path / "d.npz", x=np.zeros((3, 2, 1)), y=np.array([0, 4, 2]))
    assert load_npz(p).num_classes == 5


def test_save_roundtrip_and_class_names_are_strings(tmp_path: Path) -> None:
    a = good_arrays()
    ds = Dataset(x=a["x"], y=a["y"], lengths=np.array([1, 2, 3, 6]), class_names=["a", "b"],
                 x_test=a["x"][:1], y_test=np.array([1]), extra={"channel_names": np.array(["ax", "ay", "az"])})
    p = tmp_path / "sub" / "out.npz"
    save_npz(p, ds)
    with zipfile.ZipFile(p) as z:
        names = set(z.namelist())
    assert names == {"x.npy", "y.npy", "lengths.npy", "class_names.npy", "x_test.npy", "y_test.npy",
                     "channel_names.npy"}
    with np.load(p, allow_pickle=False) as z:  # strings without pickle
        assert z["class_names"].dtype.kind == "U"
    back = load_npz(p)
    np.testing.assert_array_equal(back.x, ds.x)
    np.testing.assert_array_equal(back.y, ds.y)
    np.testing.assert_array_equal(back.lengths, ds.lengths)
    assert back.class_names == ["a", "b"]
    assert back.extra["channel_names"].tolist() == ["ax", "ay", "az"]
    assert [f for f in os.listdir(p.parent) if f != "out.npz"] == []


def test_save_without_npz_suffix_writes_that_exact_path(tmp_path: Path) -> None:
    p = tmp_path / "data.bin"
    save_npz(p, Dataset(x=np.ones((1, 1, 1), np.float32)))
    assert os.listdir(tmp_path) == ["data.bin"]
    assert load_npz(p).x.shape == (1, 1, 1)


def test_save_refuses_invalid_and_keeps_old_file(tmp_path: Path) -> None:
    p = tmp_path / "d.npz"
    save_npz(p, Dataset(x=np.ones((1, 2, 1), np.float32)))
    before = p.read_bytes()
    with pytest.raises(InputError, match="NaN"):
        save_npz(p, Dataset(x=np.full((1, 2, 1), np.nan, np.float32)))
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["d.npz"]


def test_save_failure_mid_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError):
        save_npz(tmp_path / "d.npz", Dataset(x=np.ones((1, 2, 1), np.float32)))
    assert os.listdir(tmp_path) == []


@given(n=st.integers(1, 5), t=st.integers(1, 7), f=st.integers(1, 4), classes=st.integers(1, 4),
       data=st.data())
def test_roundtrip_property(tmp_path_factory: pytest.TempPathFactory, n: int, t: int, f: int, classes: int,
                            data: st.DataObject) -> None:
    x = np.asarray(data.draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=n * t * f, max_size=n * t * f)),
                   np.float32).reshape(n, t, f)
    y = np.asarray(data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)), np.int64)
    lengths = np.asarray(data.draw(st.lists(st.integers(1, t), min_size=n, max_size=n)), np.int64)
    p = tmp_path_factory.mktemp("rt") / "d.npz"
    save_npz(p, Dataset(x=x, y=y, lengths=lengths, class_names=[f"c{i}" for i in range(classes)]))
    back = load_npz(p, require_labels=True)
    np.testing.assert_array_equal(back.x, x)
    np.testing.assert_array_equal(back.y, y)
    np.testing.assert_array_equal(back.lengths, lengths)


# ---------------------------------------------------------------------------------------------
# Bad files: each names the array and the problem, through the API and through the CLI
# ---------------------------------------------------------------------------------------------

def _pickled_object_array(p: Path) -> None:
    x = np.empty((2,), dtype=object)
    x[0], x[1] = [1.0], [2.0]
    np.savez(p, x=x, allow_pickle=True)


def _text_file(p: Path) -> None:
    p.write_text("t,ax,ay\n0,1,2\n")


def _npy_file(p: Path) -> None:
    with open(p, "wb") as fh:
        np.save(fh, np.zeros((2, 3, 1)))


def _pickle_file(p: Path) -> None:
    p.write_bytes(pickle.dumps({"x": [1, 2, 3]}))


def _zip_not_npz(p: Path) -> None:
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("readme.txt", "hello")


def _corrupt_member(p: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.npy", b"\x93NUMPY garbage")
    p.write_bytes(buf.getvalue())


def _nan_at(p: Path) -> None:
    x = np.zeros((3, 5, 2), np.float32)
    x[2, 4, 1] = np.nan
    np.savez(p, x=x)


def _inf_at(p: Path) -> None:
    x = np.zeros((3, 5, 2), np.float64)
    x[1, 0, 0] = -np.inf
    np.savez(p, x=x)


def _too_big_for_float32(p: Path) -> None:
    x = np.zeros((1, 2, 1), np.float64)
    x[0, 1, 0] = 1e300
    np.savez(p, x=x)


BAD_CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "missing file": (lambda p: None, ["does not exist", "rnnmcu data synth"]),
    "directory": (lambda p: p.mkdir(), ["is a directory"]),
    "empty file": (lambda p: p.write_bytes(b""), ["not an .npz", "empty", "numpy.savez"]),
    "csv text": (_text_file, ["not an .npz", "numpy.savez"]),
    "npy not npz": (_npy_file, ["not an .npz", ".npy", "numpy.savez"]),
    "python pickle": (_pickle_file, ["not an .npz"]),
    "zip without arrays": (_zip_not_npz, ["no arrays"]),
    "corrupt member": (_corrupt_member, ["'x'", "cannot be read"]),
    "pickled object array": (_pickled_object_array, ["'x'", "Python objects", "pickle"]),
    "no x": (lambda p: write(p, inputs=np.zeros((1, 2, 1))), ["'inputs'", "looks like 'x'"]),
    "capital X": (lambda p: write(p, X=np.zeros((1, 2, 1))), ["'X'", "looks like 'x'"]),
    "only y": (lambda p: write(p, y=np.zeros(3)), ["no array named 'x'", "found: y"]),
    "labels alias": (lambda p: write(p, x=np.zeros((1, 2, 1)), labels=np.zeros(1)), ["'labels'", "'y'"]),
    "x 2-D": (lambda p: write(p, x=np.zeros((4, 5))), ["'x'", "(4, 5)", "3-D", "x[..., None]"]),
    "x 4-D": (lambda p: write(p, x=np.zeros((1, 2, 3, 4))), ["'x'", "4-D", "3-D"]),
    "x strings": (lambda p: write(p, x=np.array([[["a"]]])), ["'x'", "strings", "real numbers"]),
    "x bool": (lambda p: write(p, x=np.ones((1, 2, 1), bool)), ["'x'", "booleans"]),
    "x complex": (lambda p: write(p, x=np.ones((1, 2, 1), complex)), ["'x'", "complex"]),
    "x empty": (lambda p: write(p, x=np.zeros((0, 5, 2))), ["'x'", "empty"]),
    "x zero steps": (lambda p: write(p, x=np.zeros((2, 0, 2))), ["'x'", "empty"]),
    "x NaN": (_nan_at, ["'x'", "NaN", "sequence 2", "step 4", "channel 1"]),
    "x inf": (_inf_at, ["'x'", "infinite", "sequence 1", "step 0", "channel 0"]),
    "x overflows float32": (_too_big_for_float32, ["'x'", "too large for float32", "step 1"]),
    "y wrong length": (lambda p: write(p, x=np.zeros((4, 2, 1)), y=np.zeros(3, int)), ["'y'", "(3,)", "4 windows"]),
    "y column": (lambda p: write(p, x=np.zeros((4, 2, 1)), y=np.zeros((4, 1), int)), ["'y'", "reshape(-1)"]),
    "y one-hot": (lambda p: write(p, x=np.zeros((2, 2, 1)), y=np.eye(2)), ["'y'", "one-hot", "argmax"]),
    "y fractional": (lambda p: write(p, x=np.zeros((3, 2, 1)), y=np.array([0, 0.5, 1])),
                     ["y[1]", "not a whole number"]),
    "y NaN": (lambda p: write(p, x=np.zeros((2, 2, 1)), y=np.array([0, np.nan])), ["y[1]", "whole number"]),
    "y strings": (lambda p: write(p, x=np.zeros((2, 2, 1)), y=np.array(["a", "b"])), ["'y'", "integer class"]),
    "y negative": (lambda p: write(p, x=np.zeros((3, 2, 1)), y=np.array([0, 1, -1])), ["y[2]", "negative"]),
    "lengths zero": (lambda p: write(p, x=np.zeros((2, 5, 1)), lengths=np.array([5, 0])),
                     ["lengths[1]", "out of range", "1..5"]),
    "lengths too long": (lambda p: write(p, x=np.zeros((2, 5, 1)), lengths=np.array([6, 5])),
                         ["lengths[0]", "= 6", "1..5"]),
    "lengths shape": (lambda p: write(p, x=np.zeros((2, 5, 1)), lengths=np.array([5])), ["'lengths'", "(1,)"]),
    "lengths fractional": (lambda p: write(p, x=np.zeros((2, 5, 1)), lengths=np.array([2.5, 1])),
                           ["lengths[0]", "whole number"]),
    "class_names numeric": (lambda p: write(p, x=np.zeros((1, 2, 1)), class_names=np.array([1, 2])),
                            ["'class_names'", "strings"]),
    "class_names too few": (lambda p: write(p, x=np.zeros((2, 2, 1)), y=np.array([0, 2]),
                                            class_names=np.array(["a", "b"])),
                            ["y[1] = 2", "only 2 classes"]),
    "class_names duplicate": (lambda p: write(p, x=np.zeros((1, 2, 1)), class_names=np.array(["a", "a"])),
                              ["'class_names'", "repeats 'a'"]),
    "x_test channels": (lambda p: write(p, x=np.zeros((1, 2, 3)), x_test=np.zeros((1, 2, 2))),
                        ["'x_test'", "2 channels", "'x' has 3"]),
    "x_test NaN": (lambda p: write(p, x=np.zeros((1, 2, 1)), x_test=np.full((1, 2, 1), np.nan)),
                   ["'x_test'", "NaN", "sequence 0"]),
    "x_test without y_test": (lambda p: write(p, x=np.zeros((1, 2, 1)), y=np.zeros(1, int),
                                              x_test=np.zeros((1, 2, 1))), ["'y_test'"]),
    "y_test without x_test": (lambda p: write(p, x=np.zeros((1, 2, 1)), y_test=np.zeros(1, int)),
                              ["'y_test'", "'x_test' is not"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_load_npz_rejects(tmp_path: Path, case: str) -> None:
    make, fragments = BAD_CASES[case]
    p = tmp_path / "bad.npz"
    make(p)
    with pytest.raises(InputError) as ei:
        load_npz(p)
    e = ei.value
    assert e.exit_code == 2
    for frag in fragments:
        assert frag in str(e), f"{frag!r} not in message: {e}"
    assert e.hint, "every data error says what to do next"


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_cli_rejects_bad_data_with_exit_2(tmp_path: Path, case: str) -> None:
    make, fragments = BAD_CASES[case]
    p = tmp_path / "bad.npz"
    make(p)
    model = tmp_path / "m.rnnmcu"
    model.write_bytes(b"placeholder: the data is checked while parsing, before the model is read")
    r = CliRunner().invoke(main, ["eval", str(model), "--data", str(p)])
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert r.stderr.startswith("error: "), r.stderr
    assert "next: " in r.stderr
    assert "Traceback" not in r.output
    for frag in fragments:
        assert frag in r.stderr, f"{frag!r} not in: {r.stderr}"


def test_require_labels(tmp_path: Path) -> None:
    p = write(tmp_path / "d.npz", x=np.zeros((1, 2, 1)))
    with pytest.raises(InputError, match="needs the array 'y'"):
        load_npz(p, require_labels=True)

