"""Helpers for tests that check generated C against the references: random IR models and a
native build of the stdin/stdout model driver (tests/c/model_driver.c)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from rnnmcu import ir
from rnnmcu.codegen import emit, float_ref, qref
from rnnmcu.codegen.qmodel import QModel

REPO = Path(__file__).resolve().parent.parent
RUNTIME = REPO / "firmware" / "src"
DRIVER = REPO / "tests" / "c" / "model_driver.c"
DTYPE = {"int8": np.int8, "int16": np.int16, "float32": np.float32}
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def random_recurrent(rng: np.random.Generator, cell: str, F: int, n: int, *, return_sequences=False,
                     go_backwards=False, reset_after=True, use_bias=True, activation="tanh",
                     recurrent_activation="sigmoid", scale=0.5) -> ir.Recurrent:
    G = ir.GATES[cell]
    base = cell.replace("peephole_", "")
    b = rng.normal(0, 0.2, G * n) if use_bias else np.zeros(G * n)
    b_rec = rng.normal(0, 0.2, G * n) if (use_bias and base == "gru" and reset_after) else np.zeros(G * n)
    p = rng.normal(0, 0.5, (3 if base == "lstm" else 1, n)) if cell.startswith("peephole") else None
    return ir.Recurrent(cell=cell, units=n, input_dim=F, W=rng.normal(0, scale, (G * n, F)),
                        U=rng.normal(0, scale / np.sqrt(n) * 2, (G * n, n)), b=b, b_rec=b_rec,
                        activation=activation, recurrent_activation=recurrent_activation,
                        return_sequences=return_sequences, go_backwards=go_backwards, reset_after=reset_after, p=p)


def sensor_data(rng: np.random.Generator, model: ir.Model, B: int, T: int, variable: bool = False):
    x = (rng.normal(0, 1, (B, T, model.input_dim)) * model.norm_std + model.norm_mean).astype(np.float32)
    L = rng.integers(1, T + 1, B) if variable else None
    return x, L


SANITIZE = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
_RUNTIME_LIBS: dict[bool, str] = {}


def runtime_objects(sanitize: bool) -> list[str]:
    """The runtime and the driver compiled once per test session (they do not depend on the model)."""
    import tempfile

    if sanitize not in _RUNTIME_LIBS:
        d = tempfile.mkdtemp(prefix="rnnmcu-rt-")
        _RUNTIME_LIBS[sanitize] = d
        for src in sorted(RUNTIME.glob("*.c")) + [DRIVER]:
            subprocess.run(["gcc", *STRICT, *(SANITIZE if sanitize else ["-O2"]), "-I", str(RUNTIME), "-c",
                            str(src), "-o", os.path.join(d, src.stem + ".o")], check=True, capture_output=True, text=True)
    d = _RUNTIME_LIBS[sanitize]
    return sorted(os.path.join(d, f) for f in os.listdir(d))


def build_driver(gen_dir: str | os.PathLike, exe: str | os.PathLike, *, sanitize: bool = True,
                 defines: tuple[str, ...] = ()) -> str:
    """The driver on the generated model; ``defines``: -D options for the model's files."""
    gen_dir = str(gen_dir)
    srcs = [os.path.join(gen_dir, f) for f in sorted(os.listdir(gen_dir)) if f.endswith(".c")]
    san = SANITIZE if sanitize else ["-O2"]
    r = subprocess.run(["gcc", *STRICT, *san, *(f"-D{d}" for d in defines), "-I", gen_dir, "-I", str(RUNTIME), "-o", str(exe), *srcs,
                        *runtime_objects(sanitize), "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(exe)


def run_driver(exe: str, xq: np.ndarray, lengths: np.ndarray, dtype, in_dtype=None) -> np.ndarray:
    """Outputs of ``dtype``; the inputs are ``in_dtype`` (default: the same)."""
    in_dtype = dtype if in_dtype is None else in_dtype
    buf = bytearray(np.uint32(len(xq)).tobytes())
    for b in range(len(xq)):
        buf += np.uint32(lengths[b]).tobytes() + np.ascontiguousarray(xq[b, :lengths[b]], dtype=in_dtype).tobytes()
    r = subprocess.run([exe], input=bytes(buf), capture_output=True, check=True)
    return np.frombuffer(r.stdout, dtype=dtype)


def expected_stream(model: ir.Model, q: QModel, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """What the driver prints for these sequences, from the references (integer, or float for float32)."""
    xc, L, _ = float_ref.compress(model, x, lengths)
    if q.precision == "float32":
        steps = None if model.needs_window else float_ref.forward(model, xc, L, all_steps=True, masked=False)
        runs = float_ref.forward(model, xc, L, masked=False)
    else:
        xq = qref.quantize_inputs(q, xc)
        steps = None if model.needs_window else qref.forward(q, xq, L, all_steps=True)
        runs = qref.forward(q, xq, L)
    parts = []
    for b in np.nonzero(L > 0)[0]:  # a sequence its Masking layer skips whole gives the C no steps
        if steps is not None:
            parts.append(steps[b, :L[b]].ravel())
        parts.append(runs[b, :L[b]].ravel() if runs.ndim == 3 else runs[b])
    return np.concatenate(parts)


def c_outputs(model: ir.Model, q: QModel, x: np.ndarray, lengths: np.ndarray | None, workdir, *,
              wide: bool = False, proj_steps: int = 0, defines: tuple[str, ...] = ()) -> np.ndarray:
    """Generate (``wide``: the int16 weight layout; ``proj_steps``: run() with input projections),
    build (ASan/UBSan; ``defines``: -D options for the model's files) and run the C model on the
    same inputs the references see."""
    gen = Path(workdir) / "gen"
    emit.generate(model, q, str(gen), wide=wide, proj_steps=proj_steps)
    exe = build_driver(gen, Path(workdir) / "drv", defines=defines)
    L0 = np.full(len(x), x.shape[1]) if lengths is None else np.asarray(lengths)
    xc, L, _ = float_ref.compress(model, x, L0)
    some = L > 0  # as rnnmcu test does: a sequence whose every step is masked is not run
    return run_driver(exe, qref.quantize_inputs(q, xc[some]), L[some], out_dtype(q), in_dtype(q))


def out_dtype(q: QModel):
    """The numpy type of the model's outputs (int16 for an int8 model's 16-bit head)."""
    return {8: np.int8, 16: np.int16, 32: np.float32}[q.output_bits]


def in_dtype(q: QModel):
    """The numpy type of the model's inputs (int16 for an int8 model's 16-bit inputs)."""
    return {8: np.int8, 16: np.int16, 32: np.float32}[q.input_bits]


def keras_on_lengths(km, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A Keras model's output on each sequence's first ``length`` steps (grouped by length), laid
    out as the float reference lays it out (zeros past a sequence's length).  The model is called,
    not ``predict``-ed: Keras 3.15's predict returns too few steps for TimeDistributed once it has
    seen another sequence length."""
    out = None
    for n in np.unique(lengths):
        sel = np.nonzero(lengths == n)[0]
        y = np.asarray(km(x[sel, :n], training=False), dtype=np.float64)
        if out is None:
            out = np.zeros((len(x), x.shape[1], y.shape[-1]) if y.ndim == 3 else (len(x), y.shape[-1]))
        if y.ndim == 3:
            out[sel, :n] = y
        else:
            out[sel] = y
    return out
