"""Long-form CSV, stream windowing and padding helpers: round trips and every malformed-file error."""
from __future__ import annotations

import numpy as np
import pytest

from rnnmcu.data import Dataset
from rnnmcu.errors import InputError
from rnnmcu.trainer import datasets
from rnnmcu.trainer.synth import make_synth

HEADER = "seq,t,a,b,label\n"


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def good_rows(n_seq=4, steps=3):
    rows = []
    for s in range(n_seq):
        for t in range(steps):
            rows.append(f"s{s},{t},{s + 0.5},{t - 1.25},{'up' if s % 2 else 'down'}\n")
    return rows


def test_csv_round_trip_fixed_length(tmp_path):
    ds = make_synth(per_class=6, steps=20, seed=1)
    p = str(tmp_path / "r.csv")
    datasets.save_csv(p, ds, feature_names=["ax", "ay", "az", "gx", "gy", "gz"])
    back = datasets.load_csv(p)
    np.testing.assert_array_equal(back.x, ds.x)       # 9 significant digits: float32 exact
    np.testing.assert_array_equal(back.x_test, ds.x_test)
    assert back.lengths is None
    # class names are sorted in a CSV; compare labels by name
    assert [back.class_names[k] for k in back.y] == [ds.class_names[k] for k in ds.y]
    assert [back.class_names[k] for k in back.y_test] == [ds.class_names[k] for k in ds.y_test]


def test_csv_round_trip_variable_length(tmp_path):
    ds = make_synth(per_class=6, steps=24, seed=2, variable_length=True)
    p = str(tmp_path / "v.csv")
    datasets.save_csv(p, ds)
    back = datasets.load_csv(p, variable_length=True)
    np.testing.assert_array_equal(back.lengths, ds.lengths)
    np.testing.assert_array_equal(back.lengths_test, ds.lengths_test)
    t = back.x.shape[1]
    np.testing.assert_array_equal(back.x, ds.x[:, :t])
    assert np.all(ds.x[:, t:] == 0)


def test_csv_any_row_order_and_column_names(tmp_path):
    rows = good_rows()
    p = write(tmp_path, "Sequence,time,a,b,Class\n" + "".join(reversed(rows)))
    ds = datasets.load_csv(p)
    assert ds.x.shape == (4, 3, 2)
    assert ds.class_names == ["down", "up"]
    np.testing.assert_array_equal(ds.x[0, :, 1], [-1.25, -0.25, 0.75])


def test_csv_integer_labels_sort_numerically(tmp_path):
    rows = [f"s{s},{t},1,2,{[2, 10, 9][s]}\n" for s in range(3) for t in range(2)]
    ds = datasets.load_csv(write(tmp_path, HEADER + "".join(rows)))
    assert ds.class_names == ["2", "9", "10"]
    assert ds.y.tolist() == [0, 2, 1]


def _err(tmp_path, text, match, **kw):
    with pytest.raises(InputError, match=match):
        datasets.load_csv(write(tmp_path, text), **kw)


def test_csv_errors_name_row_and_column(tmp_path):
    rows = good_rows()
    _err(tmp_path, "", "empty; a header row is required")
    _err(tmp_path, "".join(rows), "header row is required")
    _err(tmp_path, "seq,a,label\n", "no time index column")
    _err(tmp_path, HEADER, "no data rows")
    bad = rows.copy(); bad[2] = "s0,2,abc,1,down\n"
    _err(tmp_path, HEADER + "".join(bad), r"line 4 column 'a': 'abc' is not a number")
    bad = rows.copy(); bad[1] = "s0,1,nan,1,down\n"
    _err(tmp_path, HEADER + "".join(bad), r"line 3 column 'a': 'nan' is not a finite number")
    bad = rows.copy(); bad[1] = "s0,1,1,,down\n"
    _err(tmp_path, HEADER + "".join(bad), r"line 3 column 'b': '' is not a number")
    bad = rows.copy(); bad[4] = "s1,1,1,1,\n"
    _err(tmp_path, HEADER + "".join(bad), r"line 6 column 'label': missing label")
    bad = rows.copy(); bad[5] = "s1,2,1,1,down\n"
    _err(tmp_path, HEADER + "".join(bad), r"line 7 column 'label': sequence 's1' changes label from 'up'")
    bad = rows.copy(); bad[5] = "s1,2,1,1\n"
    _err(tmp_path, HEADER + "".join(bad), r"line 7: 4 fields but the header has 5")
    bad = rows.copy(); bad[2] = "s0,1,1,1,down\n"
    _err(tmp_path, HEADER + "".join(bad), r"line 4 column 't': sequence 's0' repeats time index 1")
    bad = rows.copy(); bad[2] = "s0,5,1,1,down\n"
    _err(tmp_path, HEADER + "".join(bad), r"sequence 's0' jumps from time index 1 to 5")
    bad = rows.copy(); bad[2] = "s0,2.5,1,1,down\n"
    _err(tmp_path, HEADER + "".join(bad), r"line 4 column 't': '2.5' is not an integer")
    _err(tmp_path, "seq,t,a,a,label\n", "duplicate column")


def test_csv_ragged_needs_variable_length(tmp_path):
    rows = good_rows()[:-1]  # s3 loses its last step
    p = write(tmp_path, HEADER + "".join(rows))
    with pytest.raises(InputError, match=r"ragged sequences: 's3' \(line 11\) has 2 steps") as e:
        datasets.load_csv(p)
    assert "--variable-length" in str(e.value)
    ds = datasets.load_csv(p, variable_length=True)
    assert ds.lengths.tolist() == [3, 3, 3, 2] and np.all(ds.x[3, 2] == 0)


def test_csv_all_zero_step_is_data_when_padding(tmp_path):
    """With lengths, a real step whose channels are all 0.0 is kept as data, not taken for padding."""
    rows = good_rows()[:-1]
    rows[1] = "s0,1,0,0.0,down\n"
    ds = datasets.load_csv(write(tmp_path, HEADER + "".join(rows)), variable_length=True)
    assert ds.lengths.tolist() == [3, 3, 3, 2] and np.all(ds.x[0, 1] == 0.0)
    datasets.validate(ds)


def test_csv_single_class_and_empty_splits(tmp_path):
    one = [r.replace(",up", ",down") for r in good_rows()]
    _err(tmp_path, HEADER + "".join(one), "single class")
    split_header = "seq,t,a,b,label,split\n"
    all_test = [r.rstrip("\n") + ",test\n" for r in good_rows()]
    _err(tmp_path, split_header + "".join(all_test), "training split is empty")
    mixed = [r.rstrip("\n") + (",test\n" if r.startswith("s3") else ",train\n") for r in good_rows()]
    ds = datasets.load_csv(write(tmp_path, split_header + "".join(mixed)))
    assert ds.x.shape[0] == 3 and ds.x_test.shape[0] == 1
    bad = mixed.copy(); bad[0] = bad[0].replace(",train", ",valid")
    _err(tmp_path, split_header + "".join(bad), r"line 2 column 'split': 'valid' is not train or test")
    # a class only in the test split
    only = mixed + [f"s9,{t},1,1,sideways,test\n" for t in range(3)]
    _err(tmp_path, split_header + "".join(only), "'sideways' appear only in the test split")


def test_validate_single_class_and_empty_split():
    x = np.ones((4, 5, 2), np.float32)
    with pytest.raises(InputError, match="single class"):
        datasets.validate(Dataset(x=x, y=np.zeros(4, np.int64)))
    with pytest.raises(InputError, match="training split is empty"):
        datasets.validate(Dataset(x=x[:0], y=np.zeros(0, np.int64)))
    with pytest.raises(InputError, match="test split is empty"):
        datasets.validate(Dataset(x=x, y=np.array([0, 1, 0, 1]), x_test=x[:0], y_test=np.zeros(0, np.int64)))
    with pytest.raises(InputError, match="no labels"):
        datasets.validate(Dataset(x=x))
    datasets.validate(Dataset(x=x, y=np.array([0, 1, 0, 1])))


def test_padding_helpers():
    seqs = [np.ones((3, 2)), np.full((5, 2), 2.0)]
    x, lengths = datasets.pad_sequences(seqs)
    assert x.shape == (2, 5, 2) and x.dtype == np.float32 and lengths.tolist() == [3, 5]
    assert np.all(x[0, 3:] == 0)
    assert datasets.valid_steps(x, lengths).shape == (8, 2)
    assert datasets.valid_mask(x, lengths).sum() == 8
    assert datasets.has_padding(lengths, 5) and not datasets.has_padding(None, 5)
    x, lengths = datasets.pad_sequences([np.array([[1.0, 1.0], [0.0, 0.0]])])
    assert lengths.tolist() == [2]      # a real all-zero step: its length says it is real
    with pytest.raises(InputError, match="more than max_len"):
        datasets.pad_sequences(seqs, max_len=4)


def test_window_stream_labels():
    x = np.arange(10, dtype=np.float32)[:, None]
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    xs, ys = datasets.window_stream(x, labels, window=4, hop=2)
    assert xs.shape == (4, 4, 1)
    np.testing.assert_array_equal(xs[1, :, 0], [2, 3, 4, 5])
    assert ys.tolist() == [0, 1, 1, 2]            # windows 0-3, 2-5, 4-7, 6-9 (2:2 tie -> later label)
    _, last = datasets.window_stream(x, labels, window=4, hop=2, label_mode="last")
    assert last.tolist() == [1, 1, 2, 2]
    with pytest.raises(InputError, match="fewer than one window"):
        datasets.window_stream(x, labels, window=11, hop=1)
    with pytest.raises(InputError, match="label mode"):
        datasets.window_stream(x, labels, window=4, hop=1, label_mode="first")


def test_stream_csv_windowing_and_test_split(tmp_path):
    lines = ["t,a,b,label\n"]
    for t in range(100):
        lines.append(f"{t},{t * 0.1},{1 + (t % 7)},{'walk' if (t // 10) % 2 else 'rest'}\n")
    p = write(tmp_path, "".join(lines))
    ds = datasets.load_stream_csv(p, window=10, hop=5, test_fraction=0.2)
    assert ds.class_names == ["rest", "walk"]
    assert ds.x.shape == (15, 10, 2) and ds.x_test.shape == (3, 10, 2)
    # the test windows come only from the last 20 steps: no window straddles the boundary
    assert ds.x[:, :, 0].max() < 8.0 - 1e-6 and ds.x_test[:, :, 0].min() >= 8.0 - 1e-6
    assert ds.y[:3].tolist() == [0, 1, 1]   # steps 0-9 rest, 5-14 tie -> walk (later), 10-19 walk
    bad = lines.copy(); bad[5] = "7,0.4,1,rest\n"
    with pytest.raises(InputError, match="line 6 column 't': time index 7 follows 3"):
        datasets.load_stream_csv(write(tmp_path, "".join(bad)), window=10, hop=5)
    one = ["t,a,label\n"] + [f"{t},1,rest\n" for t in range(30)]
    with pytest.raises(InputError, match="every training window is labelled 'rest'"):
        datasets.load_stream_csv(write(tmp_path, "".join(one)), window=10, hop=5)


def test_load_dispatch(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        datasets.load(str(tmp_path / "missing.npz"))
    p = write(tmp_path, "x", name="d.txt")
    with pytest.raises(InputError, match="unknown data format"):
        datasets.load(p)
