"""Full-int8 TensorFlow Lite export of an rnnmcu IR model, along the paths that work.

TensorFlow's own path fails for Keras 3 recurrent layers: the conversion needs TensorList ops or the
int8 calibration of the WHILE loop segfaults (TensorFlow 2.21).  Two paths do work, and this
module builds them from the IR's weights (so it needs no Keras 3 model, only the IR):

``fused_lstm``
    LSTM stacks (``tanh`` / ``sigmoid``): a ``tf_keras`` rebuild with ``batch_size=1`` and the IR's
    weights, which the converter fuses into ``UNIDIRECTIONAL_SEQUENCE_LSTM`` (the state lives in
    variable tensors inside the interpreter).  The time axis is left open: calibration sees whole
    sequences at their true lengths, and the interpreters run it one step per ``invoke`` (the
    default input shape is ``[1, 1, F]``), the state carried by the interpreter and reset between
    sequences.
``step``
    GRU, SimpleRNN (and LSTMs with other activations): a single-step model
    ``(x_t, s_{t-1}...) -> (y_t, s_t...)`` written with TensorFlow ops from the IR's weights (the
    head fused in, so ``y_t`` is the model output if the window ended at ``t``).  The host loops over
    time and carries the state, dequantising each state output with its scale and requantising it
    with the state input's scale.  Calibration uses representative ``(x_t, s_{t-1})`` pairs taken by
    running the float step over the calibration sequences.

Inputs: the TFLite models take *standardised* inputs; the host applies the IR's
``(x - norm_mean) / norm_std`` in float before quantising with the model's input scale (the best case
for TFLite: one per-tensor input scale over raw channels in mixed units would cost it resolution).
Masked steps are removed on the host before the model sees them (as in the rnnmcu references).

Everything TensorFlow does runs in a child process (``python -m rnnmcu.compare.tflite_export``):
:func:`export` turns a crash (signal), a Python error or a timeout into an :class:`Export` whose
``reason`` says what happened.  The child also measures the TFLite Micro arena (the
``RecordingMicroAllocator`` total after one ``invoke``).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rnnmcu import ir

MANIFEST = "manifest.json"
TFLITE = "model.tflite"
DEFAULT_TIMEOUT_S = 600.0
MAX_REP_SEQUENCES = 300      # representative sequences for the fused LSTM
MAX_REP_PAIRS = 2000         # representative (x_t, state) pairs for single-step models

# Activations this exporter can write as TensorFlow ops (same definitions as codegen/activations.py).
TF_ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu", "relu6", "leaky_relu", "elu", "selu", "softsign",
                  "softplus", "silu", "hard_sigmoid", "hard_silu", "exponential", "gelu", "mish",
                  "hard_tanh", "log_sigmoid")


@dataclass
class TensorInfo:
    role: str           # "x", "y", or "s<k>" (the k-th carried state tensor)
    position: int       # index in the model's input (or output) list
    scale: float
    zero_point: int
    shape: list[int]


@dataclass
class Export:
    """What the child produced: a ``.tflite`` file and how to drive it, or why there is none."""

    ok: bool
    path: str | None                  # "fused_lstm" | "step" | None
    reason: str | None = None
    tflite_path: str | None = None
    tflite_bytes: int | None = None
    tflm_arena_bytes: int | None = None
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Export":
        d = dict(d)
        d["inputs"] = [TensorInfo(**t) for t in d.get("inputs", [])]
        d["outputs"] = [TensorInfo(**t) for t in d.get("outputs", [])]
        return Export(**d)


class NoPath(Exception):
    """This model has no working full-int8 TFLite path; the message says why."""


# ---------------------------------------------------------------------------------------------
# Which path (numpy only: the parent decides without TensorFlow)
# ---------------------------------------------------------------------------------------------

def choose_path(model: ir.Model) -> str:
    """``"fused_lstm"`` or ``"step"``, or :class:`NoPath` with the reason."""
    recs: list[ir.Recurrent] = []
    for l in model.layers:
        if isinstance(l, ir.Bidirectional):
            raise NoPath(f"layer {l.name!r} is Bidirectional: TFLite converts it only as a WHILE loop "
                         "(crashes in int8 calibration) or unrolled; no full-int8 path here")
        if isinstance(l, ir.Recurrent):
            if l.peephole:
                raise NoPath(f"layer {l.name!r} is a {l.cell} cell: TFLite has no Keras path to a "
                             "peephole cell (the fused LSTM's peephole inputs are not reachable "
                             "from Keras, and there is no peephole GRU kernel)")
            if l.go_backwards:
                raise NoPath(f"layer {l.name!r} has go_backwards=True: the single-step and the "
                             "streaming fused-LSTM paths run forwards only")
            recs.append(l)
        for a in _activations(l):
            if a not in TF_ACTIVATIONS:
                raise NoPath(f"layer {l.name!r}: activation {a!r} has no TensorFlow Lite op "
                             "mapping in this exporter")
    if all(r.cell == "lstm" and r.activation == "tanh" and r.recurrent_activation == "sigmoid"
           for r in recs):
        return "fused_lstm"
    return "step"


def _activations(l: Any) -> list[str]:
    if isinstance(l, ir.Recurrent):
        return [l.activation] + ([] if l.cell == "simple" else [l.recurrent_activation])
    if isinstance(l, (ir.Dense, ir.Activation)):
        return [l.activation]
    return []


def state_shapes(model: ir.Model) -> list[int]:
    """Widths of the host-carried state tensors of the single-step model, in order
    (per recurrent layer: h, then c for an LSTM)."""
    out: list[int] = []
    for l in model.layers:
        if isinstance(l, ir.Recurrent):
            out.append(l.units)
            if l.cell == "lstm":
                out.append(l.units)
    return out


# ---------------------------------------------------------------------------------------------
# Parent side: run the child, turn every failure into a reason
# ---------------------------------------------------------------------------------------------

def child_command(ir_path: str, calib_path: str, out_dir: str) -> list[str]:
    """The command line of the conversion child (tests replace it to simulate a crash)."""
    return [sys.executable, "-m", "rnnmcu.compare.tflite_export", "--ir", ir_path,
            "--calib", calib_path, "--out", out_dir]


def export(model: ir.Model, x_std: np.ndarray, lengths: np.ndarray, out_dir: str,
           timeout: float = DEFAULT_TIMEOUT_S) -> Export:
    """Convert ``model`` to full-int8 TFLite in a child process.

    ``x_std`` (B, T, F) are calibration sequences already standardised and with masked steps
    removed, ``lengths`` their valid lengths.  Never raises for a conversion problem: the result's
    ``reason`` says what went wrong."""
    t0 = time.monotonic()
    try:
        choose_path(model)
    except NoPath as e:
        return Export(ok=False, path=None, reason=f"no TFLite path: {e}")
    os.makedirs(out_dir, exist_ok=True)
    ir_path = os.path.join(out_dir, "model.rnnmcu-ir")
    calib_path = os.path.join(out_dir, "calib.npz")
    ir.save(ir_path, model)
    np.savez(calib_path, x=np.asarray(x_std, np.float32), lengths=np.asarray(lengths, np.int64))
    man = os.path.join(out_dir, MANIFEST)
    if os.path.exists(man):
        os.unlink(man)
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    log_path = os.path.join(out_dir, "convert.log")
    with open(log_path, "w") as log:
        try:
            proc = subprocess.run(child_command(ir_path, calib_path, out_dir), stdout=log,
                                  stderr=subprocess.STDOUT, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return Export(ok=False, path=None, seconds=time.monotonic() - t0,
                          reason=f"TFLite conversion did not finish within {timeout:.0f} s "
                                 f"(log: {log_path})")
    dt = time.monotonic() - t0
    if os.path.exists(man):
        with open(man) as fh:
            res = Export.from_dict(json.load(fh))
        res.seconds = dt
        return res
    rc = proc.returncode
    if rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
        what = f"TensorFlow crashed ({sig}) while converting"
    else:
        what = f"the TFLite converter exited with code {rc} without a result"
    return Export(ok=False, path=None, seconds=dt, reason=f"{what}; {_tail(log_path)} (log: {log_path})")


def _tail(path: str) -> str:
    try:
        with open(path, errors="replace") as fh:
            lines = [ln.strip() for ln in fh if ln.strip() and not ln.startswith(("W0000", "I0000", "WARNING"))]
    except OSError:
        return "no log"
    return f"last output: {lines[-1][:200]!r}" if lines else "no output"


# ---------------------------------------------------------------------------------------------
# Child side: TensorFlow from here on
# ---------------------------------------------------------------------------------------------

def _tf_act(name: str):
    import tensorflow as tf

    relu6 = tf.nn.relu6
    table = {
        "linear": lambda v: v,
        "tanh": tf.tanh,
        "sigmoid": tf.sigmoid,
        "relu": tf.nn.relu,
        "relu6": relu6,
        "leaky_relu": lambda v: tf.nn.leaky_relu(v, alpha=0.2),
        "elu": tf.nn.elu,
        "selu": tf.nn.selu,
        "softsign": tf.nn.softsign,
        "softplus": tf.nn.softplus,
        "silu": tf.nn.silu,
        "hard_sigmoid": lambda v: relu6(v + 3.0) / 6.0,
        "hard_silu": lambda v: v * relu6(v + 3.0) / 6.0,
        "exponential": tf.exp,
        "gelu": lambda v: tf.nn.gelu(v, approximate=False),
        "mish": lambda v: v * tf.tanh(tf.nn.softplus(v)),
        "hard_tanh": lambda v: tf.clip_by_value(v, -1.0, 1.0),
        "log_sigmoid": tf.math.log_sigmoid,
    }
    return table[name]


def _head(layers: list, a):
    """Dense / Activation / Softmax layers after the last recurrent layer, as TF ops."""
    import tensorflow as tf

    for l in layers:
        if isinstance(l, ir.Dense):
            a = _tf_act(l.activation)(tf.matmul(a, tf.constant(l.W.T)) + tf.constant(l.b))
        elif isinstance(l, ir.Activation):
            a = _tf_act(l.activation)(a)
        elif isinstance(l, ir.Softmax):
            a = tf.nn.softmax(a, axis=-1)
    return a


def step_function(model: ir.Model):
    """``step(x, states) -> (y, new_states)`` in TensorFlow ops (any batch size): the model's
    cells with the IR's weights, the layers after the last recurrent layer applied to its output."""
    import tensorflow as tf

    def dense(v, M):  # v (B, in) @ M (out, in).T
        return tf.matmul(v, tf.constant(np.ascontiguousarray(M.T)))

    def step(x, states):
        new: list = []
        k = 0
        a = x
        for l in model.layers:
            if isinstance(l, ir.Recurrent):
                n = l.units
                act, rec = _tf_act(l.activation), _tf_act(l.recurrent_activation)
                h = states[k]
                k += 1
                xw = dense(a, l.W) + tf.constant(l.b)
                if l.cell == "simple":
                    h = act(xw + dense(h, l.U))
                    new.append(h)
                elif l.cell == "lstm":
                    c = states[k]
                    k += 1
                    z = xw + dense(h, l.U)
                    i, f, g, o = tf.split(z, 4, axis=-1)
                    c = rec(f) * c + rec(i) * act(g)
                    h = rec(o) * act(c)
                    new += [h, c]
                else:  # gru
                    xz, xr, xh = tf.split(xw, 3, axis=-1)
                    if l.reset_after:
                        hu = dense(h, l.U) + tf.constant(l.b_rec)
                        hz, hr, hh = tf.split(hu, 3, axis=-1)
                        z, r = rec(xz + hz), rec(xr + hr)
                        cand = act(xh + r * hh)
                    else:
                        hz, hr = tf.split(dense(h, l.U[:2 * n]), 2, axis=-1)
                        z, r = rec(xz + hz), rec(xr + hr)
                        cand = act(xh + dense(r * h, l.U[2 * n:]))
                    h = z * h + (1.0 - z) * cand
                    new.append(h)
                a = h
            else:
                a = _head([l], a)
        return a, new

    return step


def _representative_pairs(model: ir.Model, x: np.ndarray, L: np.ndarray, limit: int,
                          seed: int = 0) -> list[list[np.ndarray]]:
    """``[x_t, s_0, s_1, ...]`` (each batch 1) at valid steps of the float step model, sampled."""
    import tensorflow as tf

    step = step_function(model)
    B, T, _ = x.shape
    states = [tf.zeros((B, w), tf.float32) for w in state_shapes(model)]
    pairs: list[list[np.ndarray]] = []
    for t in range(T):
        v = np.nonzero(L > t)[0]
        if v.size == 0:
            break
        xt = tf.constant(x[:, t].astype(np.float32))
        s_np = [s.numpy() for s in states]
        for b in v:
            pairs.append([x[b, t][None].astype(np.float32)] + [s[b][None] for s in s_np])
        _, new = step(xt, states)
        # a sequence that has ended keeps its state (it is not sampled any more anyway)
        keep = tf.constant((L > t)[:, None])
        states = [tf.where(keep, nw, s) for nw, s in zip(new, states)]
    rng = np.random.default_rng(seed)
    if len(pairs) > limit:
        pairs = [pairs[i] for i in np.sort(rng.choice(len(pairs), limit, replace=False))]
    return pairs


def _int8_converter(conv, rep) -> bytes:
    import tensorflow as tf

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def _convert_fused_lstm(model: ir.Model, x: np.ndarray, L: np.ndarray) -> tuple[bytes, dict, dict]:
    import tensorflow as tf
    import tf_keras

    inp = tf_keras.Input(batch_size=1, shape=(None, model.input_dim), name="x")
    a = inp
    last = max(i for i, l in enumerate(model.layers) if isinstance(l, ir.Recurrent))
    for i, l in enumerate(model.layers[:last + 1]):
        if not isinstance(l, ir.Recurrent):
            raise NoPath(f"layer {l.name!r} ({type(l).__name__}) between recurrent layers has no fused path")
        lstm = tf_keras.layers.LSTM(l.units, return_sequences=l.return_sequences, name=f"lstm_{i}")
        a = lstm(a)
        lstm.set_weights([l.W.T, l.U.T, l.b])
    head = model.layers[last + 1:]
    if head:
        a = tf_keras.layers.Lambda(lambda v: _head(head, v), name="head")(a)
    km = tf_keras.Model(inp, a)
    order = np.random.default_rng(0).permutation(x.shape[0])[:MAX_REP_SEQUENCES]

    def rep():
        for b in order:
            yield [x[b:b + 1, :max(int(L[b]), 1)].astype(np.float32)]

    buf = _int8_converter(tf.lite.TFLiteConverter.from_keras_model(km), rep)
    return buf, {"x": 0}, {"y": 0}


def _convert_step(model: ir.Model, x: np.ndarray, L: np.ndarray) -> tuple[bytes, dict, dict]:
    import tensorflow as tf

    step = step_function(model)
    widths = state_shapes(model)
    specs = [tf.TensorSpec([1, model.input_dim], tf.float32, name="x")]
    specs += [tf.TensorSpec([1, w], tf.float32, name=f"s{k}") for k, w in enumerate(widths)]

    class Step(tf.Module):
        @tf.function(input_signature=specs)
        def __call__(self, x, *states):
            y, new = step(x, list(states))
            return {"y": y, **{f"s{k}": s for k, s in enumerate(new)}}

    mod = Step()
    cf = mod.__call__.get_concrete_function()
    pairs = _representative_pairs(model, x, L, MAX_REP_PAIRS)

    def rep():
        for p in pairs:
            yield p

    conv = tf.lite.TFLiteConverter.from_concrete_functions([cf], mod)
    buf = _int8_converter(conv, rep)
    return buf, None, None  # roles come from the signature


def _tensor_infos(details: list[dict], roles: dict[str, int]) -> list[TensorInfo]:
    out = []
    for role, pos in sorted(roles.items(), key=lambda kv: kv[1]):
        d = details[pos]
        s, z = d["quantization"]
        out.append(TensorInfo(role=role, position=pos, scale=float(s), zero_point=int(z),
                              shape=[int(v) for v in d["shape"]]))
    return out


def _roles_from_signature(interp) -> tuple[dict[str, int], dict[str, int]]:
    sig = interp._get_full_signature_list()
    (only,) = sig.values()
    in_pos = {d["index"]: i for i, d in enumerate(interp.get_input_details())}
    out_pos = {d["index"]: i for i, d in enumerate(interp.get_output_details())}
    ins = {name: in_pos[idx] for name, idx in only["inputs"].items()}
    outs = {("y" if name == "y" else name): out_pos[idx] for name, idx in only["outputs"].items()}
    return ins, outs


def _tflm_arena(buf: bytes, inputs: list[TensorInfo], work: str) -> int | None:
    """The TFLite Micro arena after one invoke, as its RecordingMicroAllocator reports it."""
    import re

    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(buf, arena_size=max(1 << 20, 20 * len(buf)))
    for t in inputs:
        interp.set_input(np.full(t.shape, t.zero_point, np.int8), t.position)
    interp.invoke()
    path = os.path.join(work, "tflm_allocations.txt")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "w") as fh:
            os.dup2(fh.fileno(), 2)
            interp.print_allocations()
            sys.stderr.flush()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    with open(path) as fh:
        m = re.search(r"Arena allocation total (\d+) bytes", fh.read())
    return int(m.group(1)) if m else None


def _child(ir_path: str, calib_path: str, out_dir: str) -> int:
    t0 = time.monotonic()
    model, _ = ir.load(ir_path)
    with np.load(calib_path) as z:
        x, L = z["x"], z["lengths"]
    man = os.path.join(out_dir, MANIFEST)
    path = None
    try:
        path = choose_path(model)
        if path == "fused_lstm":
            buf, ins, outs = _convert_fused_lstm(model, x, L)
        else:
            buf, ins, outs = _convert_step(model, x, L)
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        interp = Interpreter(model_content=buf,
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interp.allocate_tensors()
        if ins is None:
            ins, outs = _roles_from_signature(interp)
        inputs = _tensor_infos(interp.get_input_details(), ins)
        outputs = _tensor_infos(interp.get_output_details(), outs)
        ops = sorted({o["op_name"] for o in interp._get_ops_details()})
        for t in inputs + outputs:
            d = (interp.get_input_details() if t in inputs else interp.get_output_details())[t.position]
            if d["dtype"] is not np.int8:
                raise NoPath(f"the converter left tensor {t.role!r} as {d['dtype'].__name__}, not int8")
        tfl = os.path.join(out_dir, TFLITE)
        with open(tfl, "wb") as fh:
            fh.write(buf)
        arena = _tflm_arena(buf, inputs, out_dir)
        res = Export(ok=True, path=path, tflite_path=tfl, tflite_bytes=len(buf), tflm_arena_bytes=arena,
                     inputs=inputs, outputs=outputs, ops=ops)
        code = 0
    except NoPath as e:
        res, code = Export(ok=False, path=path, reason=f"no TFLite path: {e}"), 1
    except Exception as e:  # noqa: BLE001 - every converter failure becomes a reason
        msg = " ".join(str(e).split())
        res = Export(ok=False, path=path, reason=f"TFLite conversion failed ({type(e).__name__}: {msg[:300]})")
        code = 1
    res.seconds = time.monotonic() - t0
    tmp = man + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(asdict(res), fh, indent=1)
    os.replace(tmp, man)
    return code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rnnmcu.compare.tflite_export",
                                description="Convert an rnnmcu IR model to full-int8 TFLite (child process).")
    p.add_argument("--ir", required=True)
    p.add_argument("--calib", required=True, help=".npz with standardised x (B, T, F) and lengths")
    p.add_argument("--out", required=True, help="folder for model.tflite and manifest.json")
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return _child(a.ir, a.calib, a.out)


if __name__ == "__main__":
    sys.exit(main())
