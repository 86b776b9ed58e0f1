"""Synthetic gesture data: determinism, shapes, units, labels, variable length, the CLI."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from rnnmcu.data import load_npz
from rnnmcu.errors import InputError
from rnnmcu.trainer import datasets
from rnnmcu.trainer.synth import CLASS_NAMES, make_synth, write_synth


def test_same_seed_same_data_other_seed_other_data():
    a = make_synth(per_class=12, steps=32, seed=3)
    b = make_synth(per_class=12, steps=32, seed=3)
    c = make_synth(per_class=12, steps=32, seed=4)
    for name in ("x", "y", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.x, c.x)


def test_shapes_dtypes_labels_and_split():
    ds = make_synth(classes=5, per_class=20, steps=40, channels=6, seed=0)
    assert ds.x.shape == (75, 40, 6) and ds.x.dtype == np.float32
    assert ds.x_test.shape == (25, 40, 6) and ds.x_test.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert ds.class_names == list(CLASS_NAMES[:5])
    assert np.bincount(ds.y).tolist() == [15] * 5
    assert np.bincount(ds.y_test).tolist() == [5] * 5
    assert ds.lengths is None and ds.lengths_test is None
    assert np.all(np.isfinite(ds.x))


def test_raw_sensor_units_not_standardised():
    ds = make_synth(per_class=20, steps=48, channels=9, classes=8, seed=1)
    steps = ds.x.reshape(-1, 9)
    mean = steps.mean(axis=0)
    assert 9.0 < mean[2] < 10.5          # gravity on az, m/s^2
    assert abs(mean[0]) < 1.5 and abs(mean[1]) < 1.5
    assert steps[:, 3:6].std(axis=0).max() > 20   # gyroscope in deg/s
    assert mean[6] > 15 and mean[8] < -30         # earth field on the magnetometer, uT


def test_order_classes_have_the_same_window_statistics():
    """swipe_left/right differ only in the order of motions: mean and energy do not tell them apart."""
    ds = make_synth(per_class=200, steps=64, seed=2)
    left = ds.x[ds.y == CLASS_NAMES.index("swipe_left")]
    right = ds.x[ds.y == CLASS_NAMES.index("swipe_right")]
    for stat in (lambda a: a.mean(axis=1), lambda a: a.std(axis=1)):
        sl, sr = stat(left), stat(right)
        gap = np.abs(sl.mean(0) - sr.mean(0))
        spread = 0.5 * (sl.std(0) + sr.std(0))
        assert np.all(gap < 0.5 * spread + 1e-3), (gap, spread)


def test_variable_length_pads_with_zeros_and_writes_lengths():
    ds = make_synth(per_class=12, steps=40, variable_length=True, seed=5)
    assert ds.lengths is not None and ds.lengths_test is not None
    assert ds.lengths.dtype == np.int64
    assert ds.lengths.min() >= 20 and ds.lengths.max() <= 40 and ds.lengths.min() < 40
    for x, lengths in ((ds.x, ds.lengths), (ds.x_test, ds.lengths_test)):
        for i, n in enumerate(lengths):
            assert np.all(x[i, n:] == 0.0)


@pytest.mark.parametrize("kw", [dict(classes=1), dict(classes=9), dict(channels=0), dict(channels=10),
                                dict(steps=8), dict(per_class=1)])
def test_bad_arguments_are_input_errors(kw):
    with pytest.raises(InputError):
        make_synth(**kw)


def test_write_npz_and_csv(tmp_path):
    p = tmp_path / "d.npz"
    info = write_synth(str(p), per_class=8, steps=24, seed=0)
    ds = load_npz(str(p), require_labels=True)
    assert ds.x.shape == (30, 24, 6) and info["train"] == 30 and info["test"] == 10
    ref = make_synth(per_class=8, steps=24, seed=0)
    np.testing.assert_array_equal(ds.x, ref.x)

    c = tmp_path / "d.csv"
    write_synth(str(c), per_class=8, steps=24, seed=0, variable_length=True)
    back = datasets.load_csv(str(c), variable_length=True)
    assert back.x.shape[0] == 30 and back.x_test.shape[0] == 10
    with pytest.raises(InputError, match="must end in .npz or .csv"):
        write_synth(str(tmp_path / "d.txt"))
    assert not (tmp_path / "d.txt").exists()


def test_cli_synth(tmp_path):
    from rnnmcu.cli import main

    out = tmp_path / "s.npz"
    r = CliRunner().invoke(main, ["data", "synth", "-o", str(out), "--classes", "3", "--per-class", "8",
                                  "--steps", "20", "--channels", "4", "--seed", "7", "--json"])
    assert r.exit_code == 0, r.output
    ds = load_npz(str(out))
    assert ds.x.shape == (18, 20, 4) and ds.class_names == ["idle", "shake", "circle"]
    r = CliRunner().invoke(main, ["data", "synth", "-o", str(tmp_path / "s.bin")])
    assert r.exit_code == 2
    assert "must end in .npz or .csv" in r.output


# --- the power set: long, heavy-tailed, one channel ---------------------------------------------

def test_power_set_is_long_heavy_tailed_and_deterministic():
    from rnnmcu.trainer.synth_power import CLASS_NAMES, make_power

    ds = make_power(per_class=8, seed=3)
    assert ds.x.shape == (30, 1460, 1) and ds.x_test.shape == (10, 1460, 1) and ds.x.dtype == np.float32
    assert ds.class_names == list(CLASS_NAMES) and sorted(set(ds.y.tolist())) == [0, 1, 2, 3, 4]
    z = (ds.x - ds.x.mean()) / ds.x.std()
    assert z.max() > 10 and np.median(z) < 0             # rare kilowatt bursts over long idle runs
    assert np.all(ds.x >= 0)
    kettle = ds.x[ds.y == CLASS_NAMES.index("kettle")]
    fridge = ds.x[ds.y == CLASS_NAMES.index("fridge")]
    assert np.all(kettle.max(axis=(1, 2)) > 1500) and np.median(kettle) < 2
    assert np.all(fridge.mean(axis=(1, 2)) > 20) and np.all(fridge.max(axis=(1, 2)) > 200)  # cycles, inrush
    np.testing.assert_array_equal(make_power(per_class=8, seed=3).x, ds.x)


def test_power_subsampling_averages_blocks():
    from rnnmcu.trainer.synth_power import make_power, subsample_mean

    x = np.arange(2 * 10, dtype=np.float32).reshape(2, 10, 1)
    got = subsample_mean(x, 4)
    np.testing.assert_allclose(got[0, :, 0], [1.5, 5.5, 8.5])       # the last block holds 2 steps
    assert make_power(per_class=4, subsample=8, seed=1).x.shape[1] == 183


@pytest.mark.parametrize("kw,msg", [(dict(classes=6), "--classes"), (dict(steps=100), "--steps"),
                                    (dict(subsample=100), "--subsample"), (dict(per_class=1), "--per-class")])
def test_power_refuses_bad_options(kw, msg):
    from rnnmcu.trainer.synth_power import make_power

    with pytest.raises(InputError, match=msg):
        make_power(**kw)


def test_cli_synth_power_and_kind_specific_flags(tmp_path):
    from click.testing import CliRunner

    from rnnmcu.cli import main
    from rnnmcu.data import load_npz

    out = tmp_path / "p.npz"
    r = CliRunner().invoke(main, ["data", "synth", "--kind", "power", "-o", str(out), "--per-class", "4",
                                  "--subsample", "4", "--json"])
    assert r.exit_code == 0, r.output
    assert load_npz(str(out)).x.shape == (15, 365, 1)
    r = CliRunner().invoke(main, ["data", "synth", "--kind", "power", "-o", str(out), "--hard"])
    assert r.exit_code == 2 and "--hard applies to --kind imu" in r.output
    r = CliRunner().invoke(main, ["data", "synth", "-o", str(out), "--subsample", "2"])
    assert r.exit_code == 2 and "--subsample applies to --kind power" in r.output
