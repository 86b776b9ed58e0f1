"""Each cell type with <= 32 units learns the default synthetic gesture set to >= 95 % test accuracy."""
from __future__ import annotations

import pytest

from rnnmcu.trainer.spec import ModelSpec
from rnnmcu.trainer.synth import write_synth

pytestmark = [pytest.mark.keras, pytest.mark.slow]


@pytest.fixture(scope="module")
def default_set(tmp_path_factory):
    p = str(tmp_path_factory.mktemp("acc") / "gestures.npz")
    write_synth(p, seed=0)  # 5 classes x 120 sequences x 64 steps x 6 channels
    return p


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_default_synth_set_reaches_95_percent(default_set, tmp_path, cell):
    from rnnmcu.trainer.train import train

    m = train(default_set, str(tmp_path / "m.keras"), ModelSpec(cell=cell, units=32, epochs=60), progress=False)
    assert m["eval_split"] == "test" and m["n_test"] == 150
    assert m["accuracy"] >= 0.95, (cell, m["accuracy"], m["confusion"])
