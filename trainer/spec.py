"""The model + training spec: one dataclass, filled from defaults, a TOML file and CLI flags
(in that order; a flag given on the command line wins over the file).

A TOML spec holds the fields of :class:`ModelSpec` as top-level keys, optionally grouped in
``[model]`` and ``[training]`` tables (the grouping is only for reading; every key belongs to the
one spec)::

    cell = "gru"
    units = 24
    bidirectional = true
    merge_mode = "concat"
    [training]
    epochs = 40
    lr = 0.003
    qat = true          # quantisation-aware fine-tune after training (see rnnmcu.trainer.qat)
    qat_epochs = 10

Unknown keys and wrong types are refused with an error naming them.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from typing import Any, Mapping

from rnnmcu import facts
from rnnmcu.errors import InputError

CELLS = tuple(c.cli for c in facts.CELLS)  # the cell table: rnnmcu/facts.py
AVAILABLE_CELLS = CELLS  # every cell the spec names has a Keras implementation
MERGE_MODES = ("concat", "sum", "mul", "ave")
# Default learning rate per cell: SimpleRNN diverges or stalls at rates LSTM/GRU train well with.
DEFAULT_LR = {"rnn": 0.002, "lstm": 0.005, "gru": 0.005, "peephole-lstm": 0.005, "peephole-gru": 0.005}
CLASS_WEIGHTS = ("auto", "none")
# Spellings accepted for a few keys, mapped to the field name.
ALIASES = {"learning_rate": "lr", "cell_type": "cell", "rnn_units": "units", "num_layers": "layers",
           "dense_units": "dense", "head": "dense"}


@dataclass
class ModelSpec:
    # model
    cell: str = "gru"
    units: int = 32
    layers: int = 1
    bidirectional: bool = False
    merge_mode: str = "concat"
    dropout: float = 0.0            # a Dropout layer after each recurrent layer (0 = none)
    dense: int = 0                  # hidden Dense head size before the classifier (0 = none)
    dense_activation: str = "relu"
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    # training
    lr: float | None = None         # None: DEFAULT_LR for the cell
    epochs: int = 60
    batch_size: int = 32
    patience: int = 10              # early stopping on validation loss; best weights restored
    seed: int = 0
    clipnorm: float = 1.0           # gradient clipping by norm (0 = off)
    class_weights: str = "auto"     # "auto": inverse class frequency; "none"
    val_fraction: float = 0.2       # stratified validation split of the training set
    # quantisation-aware fine-tune (rnnmcu.trainer.qat): after training, qat_epochs more epochs
    # with int8 rounding simulated in the forward pass; the saved model stays a plain float model
    qat: bool = False
    qat_epochs: int = 10
    qat_lr: float | None = None     # None: learning_rate / 5

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def bad(name: str, msg: str) -> InputError:
            return InputError(f"spec: {name} {msg}")

        if self.cell not in CELLS:
            raise bad("cell", f"{self.cell!r} is not one of {', '.join(CELLS)}")
        if self.merge_mode not in MERGE_MODES:
            raise bad("merge_mode", f"{self.merge_mode!r} is not one of {', '.join(MERGE_MODES)}")
        if self.class_weights not in CLASS_WEIGHTS:
            raise bad("class_weights", f"{self.class_weights!r} is not one of {', '.join(CLASS_WEIGHTS)}")
        for name, lo, hi in (("units", 1, 4096), ("layers", 1, 16), ("dense", 0, 4096), ("epochs", 1, 100000),
                             ("batch_size", 1, 1 << 20), ("patience", 0, 100000), ("seed", 0, 2**31 - 1),
                             ("qat_epochs", 1, 100000)):
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise bad(name, f"= {v} is out of range {lo}..{hi}")
        if not 0.0 <= self.dropout < 1.0:
            raise bad("dropout", f"= {self.dropout} must be in [0, 1)")
        if self.lr is not None and not 0.0 < self.lr < 10.0:
            raise bad("lr", f"= {self.lr} must be in (0, 10)")
        if self.qat_lr is not None and not 0.0 < self.qat_lr < 10.0:
            raise bad("qat_lr", f"= {self.qat_lr} must be in (0, 10)")
        if self.clipnorm < 0:
            raise bad("clipnorm", f"= {self.clipnorm} must be >= 0 (0 turns clipping off)")
        if not 0.0 < self.val_fraction < 0.9:
            raise bad("val_fraction", f"= {self.val_fraction} must be in (0, 0.9)")
        for name in ("activation", "recurrent_activation", "dense_activation"):
            _check_activation(name, getattr(self, name))

    @property
    def learning_rate(self) -> float:
        """The learning rate used: ``lr``, or the cell's default when ``lr`` is None."""
        return self.lr if self.lr is not None else DEFAULT_LR[self.cell]

    @property
    def qat_learning_rate(self) -> float:
        """The fine-tune's learning rate: ``qat_lr``, or a fifth of :attr:`learning_rate`."""
        return self.qat_lr if self.qat_lr is not None else self.learning_rate / 5

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_activation(name: str, value: str) -> None:
    from rnnmcu.ir import ELEMENTWISE

    if value not in ELEMENTWISE:
        raise InputError(f"spec: {name} {value!r} is not an elementwise activation rnnmcu can convert",
                         hint=f"use one of {', '.join(ELEMENTWISE)}")


_FIELDS = {f.name: f for f in dataclasses.fields(ModelSpec)}
_TYPES = {"cell": str, "units": int, "layers": int, "bidirectional": bool, "merge_mode": str,
          "dropout": float, "dense": int, "dense_activation": str, "activation": str,
          "recurrent_activation": str, "lr": float, "epochs": int, "batch_size": int, "patience": int,
          "seed": int, "clipnorm": float, "class_weights": str, "val_fraction": float,
          "qat": bool, "qat_epochs": int, "qat_lr": float}
assert set(_TYPES) == set(_FIELDS)


def _coerce(key: str, value: Any, where: str) -> Any:
    want = _TYPES[key]
    if want is bool:
        if isinstance(value, bool):
            return value
    elif want is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif want is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif want is str:
        if isinstance(value, str):
            return value.strip().lower()
    raise InputError(f"{where}: {key} = {value!r} should be {want.__name__}")


def spec_from_mapping(values: Mapping[str, Any], base: ModelSpec | None = None, where: str = "spec") -> ModelSpec:
    """A new spec: ``base`` (or the defaults) with ``values`` applied.  Unknown keys -> InputError."""
    flat: dict[str, Any] = {}
    for k, v in values.items():
        if k in ("model", "training", "train") and isinstance(v, Mapping):
            for k2, v2 in v.items():
                flat[k2] = v2
        else:
            flat[k] = v
    flat = {ALIASES.get(k.replace("-", "_"), k.replace("-", "_")): v for k, v in flat.items()}
    unknown = sorted(k for k in flat if k not in _FIELDS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}",
                         hint=f"known keys: {', '.join(_FIELDS)}")
    d = (base or ModelSpec()).to_dict()
    for k, v in flat.items():
        d[k] = _coerce(k, v, where)
    d["cell"] = {"simple": "rnn", "simplernn": "rnn", "peephole_lstm": "peephole-lstm",
                 "peephole_gru": "peephole-gru"}.get(d["cell"], d["cell"])
    try:
        return ModelSpec(**d)
    except InputError as e:
        raise InputError(f"{where}: {e.message}", hint=e.hint) from None


def load_spec(path: str, base: ModelSpec | None = None) -> ModelSpec:
    """Read a TOML spec file."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as e:
        raise InputError(f"{path}: cannot read the spec file ({e.strerror})") from e
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML ({e})") from e
    return spec_from_mapping(doc, base=base, where=str(path))


def build_spec(spec_file: str | None = None, **flags: Any) -> ModelSpec:
    """Defaults, then the TOML file, then every flag that is not None."""
    spec = load_spec(spec_file) if spec_file else ModelSpec()
    given = {k: v for k, v in flags.items() if v is not None}
    return spec_from_mapping(given, base=spec, where="options") if given else spec
