"""What a model costs on the device, from its IR alone: multiply-accumulates per step, the bytes of
its weights and of its recurrent state, and the working memory of the generated ``<name>_state_t``.

One place for these figures: ``convert`` and ``--precision auto``, the streaming app's load
estimate, ``rnnmcu compare``, ``bench/step_cost.py`` and the C generator (``codegen.emit`` sizes the scratch with
:func:`scratch_words`) all read them here.  The linker's figures of a real build are
``bench/footprint.py``'s; these are what the layer sizes imply, without padding or tables.
"""
from __future__ import annotations

from rnnmcu import facts, ir

ELEM = {"int8": 1, "int16": 2, "float32": 4}  # bytes of an activation between layers


def tiled(cell: str, reset_after: bool) -> bool:
    """Whether an integer recurrent step runs over unit tiles (RNNMCU_TILE_UNITS): every cell form
    but GRU reset_after=0, whose candidate product needs the whole r * h before any candidate row."""
    return not (facts.CELL[cell].kind == "gru" and not reset_after)


def scratch_words(layer, precision: str) -> int:
    """The int32 (float) scratch words one recurrent direction's step needs, beyond the widening
    buffer of RNNMCU_XBUF_WORDS: rnnmcu_kernels.h's RNNMCU_RNN_SCRATCH_WORDS for tiled integer
    steps (two tiles of sums and the new h of the units before the last tile), all 2 * G*n sums
    and r * h otherwise.  ``layer``: an ``ir.Recurrent`` or a quantised one (cell, units,
    reset_after)."""
    G, n = facts.CELL[layer.cell].gates, layer.units
    if precision == "float32" or not tiled(layer.cell, layer.reset_after):
        return 2 * G * n + n
    act_bytes = 1 if precision == "int8" else 2
    t = min(n, facts.tile_units(G))
    return 2 * G * t + ((n - t) * act_bytes + 3) // 4


def _directions(model: ir.Model):
    for layer in model.layers:
        yield from ([layer.forward, layer.backward] if isinstance(layer, ir.Bidirectional) else [layer])


def macs_per_step(model: ir.Model) -> int:
    """Multiply-accumulates per step of the network (the same in every engine and precision)."""
    macs = 0
    for d in _directions(model):
        if isinstance(d, ir.Recurrent):
            macs += d.gates * d.units * (d.input_dim + d.units)
        elif isinstance(d, ir.Dense):
            macs += d.W.size
    return int(macs)


def head_macs(model: ir.Model) -> int:
    """The part of :func:`macs_per_step` a model does once per window rather than per step: the
    Dense layers after a last recurrent layer that returns only its final h (0 when the model
    classifies every step)."""
    last = max((i for i, l in enumerate(model.layers) if isinstance(l, (ir.Recurrent, ir.Bidirectional))),
               default=None)
    if last is None or model.layers[last].return_sequences:
        return 0
    return int(sum(l.W.size for l in model.layers[last + 1:] if isinstance(l, ir.Dense)))


def parameters(model: ir.Model) -> int:
    """Trained numbers the model carries after import (affine layers folded): matrices, biases
    (a GRU with reset_after has its recurrent bias too, as in Keras' count) and peepholes."""
    total = 0
    for d in _directions(model):
        if isinstance(d, ir.Recurrent):
            total += d.W.size + d.U.size + d.b.size
            total += d.b_rec.size if facts.CELL[d.cell].kind == "gru" and d.reset_after else 0
            total += d.p.size if d.p is not None else 0
        elif isinstance(d, ir.Dense):
            total += d.W.size + d.b.size
    return int(total)


def weight_bytes(model: ir.Model, precision: str) -> int:
    """The weight matrices (int8 in both integer precisions, float32 otherwise) and three 32-bit
    words per output row (bias and requantisation), activation tables not included."""
    per = 4 if precision == "float32" else 1
    total = 0
    for d in _directions(model):
        if isinstance(d, ir.Recurrent):
            g = d.gates * d.units
            total += g * (d.input_dim + d.units) * per + g * 4 * 3
        elif isinstance(d, ir.Dense):
            total += d.W.size * per + d.W.shape[0] * 4 * 3
    return int(total)


def state_bytes(model: ir.Model, precision: str) -> int:
    """h per recurrent direction, and the second state the cell table says it keeps (an LSTM's c,
    an int8 GRU's 16-bit state): 2 bytes a unit, 4 in float32."""
    el, second = ELEM[precision], 4 if precision == "float32" else 2
    total = 0
    for d in _directions(model):
        if isinstance(d, ir.Recurrent):
            total += d.units * el + (d.units * second if facts.CELL[d.cell].keeps_second_state(precision) else 0)
    return int(total)


def working_bytes(model: ir.Model, precision: str) -> int:
    """Bytes of the generated ``<name>_state_t`` as ``codegen/emit.py`` lays it out (alignment
    padding not counted): the state, the largest scratch, the two layer ping-pong buffers, the
    int8 16-bit head's two buffers, and the window buffers of a model that needs the whole window."""
    el = ELEM[precision]
    scratch, maxw = 0, model.input_dim
    for layer in model.layers:
        maxw = max(maxw, layer.output_dim)
    for d in _directions(model):
        if isinstance(d, ir.Recurrent):
            scratch = max(scratch, scratch_words(d, precision))
        elif isinstance(d, ir.Dense):
            scratch = max(scratch, d.output_dim)
    total = state_bytes(model, precision) + 4 * scratch + 2 * maxw * el
    last_rec = max(i for i, l in enumerate(model.layers) if isinstance(l, (ir.Recurrent, ir.Bidirectional)))
    if precision == "int8" and last_rec < len(model.layers) - 1:  # the 16-bit head's two buffers
        total += 2 * 2 * max(l.output_dim for l in model.layers[last_rec:])
    if model.needs_window:
        total += 2 * int(model.max_steps or 256) * maxw * el
    return int(total)


def summary(model: ir.Model, precision: str) -> dict[str, int]:
    """Weight bytes, state bytes and multiply-accumulates per step."""
    return {"weight_bytes": weight_bytes(model, precision), "state_bytes": state_bytes(model, precision),
            "macs_per_step": macs_per_step(model)}
