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
def test_peephole_cells_accepted_without_importing_tensorflow(cell):
    import subprocess
    import sys

    s = ModelSpec(cell=cell)
    check_cell(s.cell)
    assert load_spec_text('cell = "peephole_gru"\n').cell == "peephole-gru"
    code = ("import sys; import rnnmcu.trainer, rnnmcu.trainer.models, rnnmcu.trainer.spec, rnnmcu.trainer.qat; "
            "from rnnmcu.trainer.models import check_cell; check_cell('peephole-lstm'); "
            "sys.exit(1 if 'tensorflow' in sys.modules or 'keras' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_unknown_cell_refused():
    with pytest.raises(InputError, match="not available"):
        check_cell("transformer")


def test_qat_keys_toml_and_flags(tmp_path):
    p = tmp_path / "q.toml"
    p.write_text('cell = "gru"\n[training]\nqat = true\nqat_epochs = 4\n')
    s = load_spec(str(p))
    assert s.qat is True and s.qat_epochs == 4 and s.qat_lr is None
    assert s.qat_learning_rate == pytest.approx(s.learning_rate / 5)
    s2 = build_spec(str(p), qat=False, qat_epochs=None, qat_lr=0.001)
    assert s2.qat is False and s2.qat_epochs == 4 and s2.qat_learning_rate == 0.001
    assert ModelSpec().qat is False
    for text, match in (('qat = "yes"\n', "qat = 'yes' should be bool"), ("qat_epochs = 0\n", "qat_epochs"),
                        ("qat_lr = -1\n", "qat_lr")):
        p.write_text(text)
        with pytest.raises(InputError, match=match):
            load_spec(str(p))


def load_spec_text(text: str) -> ModelSpec:
    from rnnmcu.trainer.spec import spec_from_mapping
    import tomllib

    return spec_from_mapping(tomllib.loads(text))
