"""ModelSpec: defaults, TOML loading, flags over the file, refusals (no TensorFlow needed)."""
from __future__ import annotations

import pytest

from rnnmcu.errors import InputError
from rnnmcu.trainer.models import check_cell
from rnnmcu.trainer.spec import ModelSpec, build_spec, load_spec


def test_defaults_and_per_cell_learning_rate():
    s = ModelSpec()
    assert s.cell == "gru" and s.clipnorm == 1.0 and s.class_weights == "auto"
    assert s.learning_rate == 0.005
    assert ModelSpec(cell="rnn").learning_rate == 0.002
    assert ModelSpec(cell="rnn", lr=0.01).learning_rate == 0.01


def test_toml_then_flags(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('cell = "lstm"\nunits = 24\nbidirectional = true\nmerge_mode = "sum"\n'
                 '[training]\nepochs = 7\nlearning_rate = 0.003\n')
    s = load_spec(str(p))
    assert (s.cell, s.units, s.bidirectional, s.merge_mode, s.epochs, s.lr) == ("lstm", 24, True, "sum", 7, 0.003)
    s2 = build_spec(str(p), units=8, cell=None, epochs=None)
    assert s2.units == 8 and s2.cell == "lstm" and s2.epochs == 7


@pytest.mark.parametrize("text,match", [
    ('cell = "lstm"\nunitz = 3\nfoo = 1\n', "unknown key.*foo, unitz"),
    ('units = "many"\n', "units = 'many' should be int"),
    ('cell = "transformer"\n', "cell 'transformer' is not one of"),
    ('dropout = 1.5\n', "dropout"),
    ('activation = "softmax"\n', "not an elementwise activation"),
    ('units = 0\n', "units"),
    ('cell = \n', "not valid TOML"),
])
def test_toml_errors(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(InputError, match=match):
        load_spec(str(p))


def test_missing_spec_file(tmp_path):
    with pytest.raises(InputError, match="cannot read the spec file"):
        load_spec(str(tmp_path / "nope.toml"))


@pytest.mark.parametrize("cell", ["peephole-lstm", "peephole-gru"])
def test_peephole_cells_accepted_by_spec_refused_by_builder(cell):
    s = ModelSpec(cell=cell)
    with pytest.raises(InputError, match="not available yet"):
        check_cell(s.cell)
