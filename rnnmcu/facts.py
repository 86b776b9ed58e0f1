"""The facts Python and C share, written once: the cell table, the weight layout and tile sizes,
the wire protocol's types, errors and descriptor flags, and the streaming app's frame codes.

``firmware/src/rnnmcu_facts.h`` is generated from this module (``python -m rnnmcu.facts``
rewrites it; ``tests/test_house.py`` fails when it is stale), and the runtime, the firmware app and
the streaming app include it instead of repeating the numbers.  The Python side imports them from
here: ``rnnmcu.ir`` (cells, gates), ``rnnmcu.codegen.layout`` (tiles, layout), ``rnnmcu.hil.codec``
(protocol), ``rnnmcu.stream`` (stream codes).  Plain data only: this module imports nothing of
rnnmcu, so every room may use it.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CellKind:
    """A cell as the integer and float C kernels see it (``rnnmcu_cell_t``)."""
    name: str                     # C: RNNMCU_CELL_<NAME>
    code: int                     # the enum value
    gates: tuple[str, ...]        # gate rows per unit, in the weights' order (Keras' own)
    # the precisions in which a pass keeps a second state vector beside h: an LSTM's cell c
    # (int16, or float), an int8 GRU's 16-bit state (codegen/NUMERICS.md); 2 bytes a unit, 4 in float32
    second_state: tuple[str, ...] = ()
    # the gates a peephole variant's peephole weights feed (rows of the IR's p, in this order)
    peephole_gates: tuple[str, ...] = ()
    # the gate through the cell's activation (the candidate); the others go through the recurrent
    # activation (sigmoid by default)
    act_gate: str = "h"

    @property
    def rec_gates(self) -> tuple[str, ...]:
        """The gates through the recurrent activation, in the weights' order."""
        return tuple(g for g in self.gates if g != self.act_gate)


CELL_KINDS = (
    CellKind("simple", 0, ("h",)),
    CellKind("lstm", 1, ("i", "f", "c", "o"), ("int8", "int16", "float32"), ("i", "f", "o"), "c"),
    CellKind("gru", 2, ("z", "r", "h"), ("int8",), ("z",), "h"),
)


@dataclass(frozen=True)
class Cell:
    """A recurrent cell of the IR: its C kind (kernels), whether it has peepholes, the name users
    type (``rnnmcu train --cell``) and the Keras layer and cell classes that import as it."""
    name: str                     # the IR's name (model files, reports)
    cli: str                      # rnnmcu train --cell
    kind: str                     # a CELL_KINDS name
    peephole: bool
    keras: tuple[str, ...]

    @property
    def gates(self) -> int:
        return len(KIND[self.kind].gates)

    @property
    def gate_names(self) -> tuple[str, ...]:
        return KIND[self.kind].gates

    def keeps_second_state(self, precision: str) -> bool:
        """Whether a pass keeps c (LSTM) or a 16-bit state (int8 GRU) beside h."""
        return precision in KIND[self.kind].second_state


def cell_of_keras(class_name: str) -> Cell | None:
    """The cell a Keras layer or cell class imports as (by class name), or None."""
    return next((c for c in CELLS if class_name in c.keras), None)


KIND = {k.name: k for k in CELL_KINDS}
CELLS = (
    Cell("simple", "rnn", "simple", False, ("SimpleRNN", "SimpleRNNCell")),
    Cell("lstm", "lstm", "lstm", False, ("LSTM", "LSTMCell")),
    Cell("gru", "gru", "gru", False, ("GRU", "GRUCell")),
    Cell("peephole_lstm", "peephole-lstm", "lstm", True, ("PeepholeLSTM", "PeepholeLSTMCell")),
    Cell("peephole_gru", "peephole-gru", "gru", True, ("PeepholeGRU", "PeepholeGRUCell")),
)
CELL = {c.name: c for c in CELLS}

# --- weight layout and tiles (codegen/layout.py packs for these; firmware/src reads them) -------
MV_ROWS = 4        # rows of a block of the packed weights (a matvec pass)
MV_COLS = 4        # columns of a chunk of a packed row
WIDE_ORDER = (0, 2, 1, 3)  # where column j of a chunk sits in the wide (int16, SMLAD) layout
TILE_ROWS = 64     # rows of a tile of an integer recurrent step


def tile_units(gates: int) -> int:
    """Units per tile of a cell with ``gates`` rows per unit: whole pairs of 4-row blocks (the RV32
    kernel takes blocks two at a time)."""
    return (TILE_ROWS // gates) & ~7


# --- the wire protocol (firmware/PROTOCOL.md) ----------------------------------------------------
PROTOCOL_VERSION = 1
PROTO_HEADER_SIZE = 4
PROTO_CRC_SIZE = 4
PROTO_TYPES = {"INFO": 0x01, "RESET": 0x02, "STEP": 0x03, "RUN": 0x04, "BENCH": 0x05, "TRACE": 0x06}
PROTO_REPLY = 0x80
PROTO_ERROR = 0xFF
PROTO_ERRORS = {"BAD_CRC": 1, "BAD_COBS": 2, "OVERSIZE": 3, "UNKNOWN_TYPE": 4, "BAD_LENGTH": 5,
                "BAD_SEQUENCE": 6, "STEP_UNSUPPORTED": 7, "T_RANGE": 8, "MODEL": 9}
PRECISIONS = {"INT8": 1, "INT16": 2, "FLOAT32": 3}
# flags of the model descriptor (INFO reports them)
MODEL_FLAGS = {
    "WINDOW_ONLY": (0x01, "needs a whole window: step is NULL (Bidirectional, go_backwards)"),
    "OUTPUT_SEQUENCE": (0x02, "run() writes one output vector per step (T * output_dim)"),
    "MASKING": (0x04, "the model skips masked steps (quantize_input reports them)"),
    "BENCH_RUN": (0x08, "BENCH times run() over n copies, not n step()s (--input-projections)"),
    "INPUT16": (0x10, "an int8 model whose inputs are int16 (in_elem_size 2): NUMERICS.md, Wide inputs"),
    "TRACE": (0x20, "INFO only: the firmware answers TRACE (rnnmcu build --trace)"),
}

# --- the streaming app's frames (firmware/stream/STREAM.md) -----------------------------------
STREAM_CODES = {"SAMPLE": 0x10, "STATS": 0x11, "RESTART": 0x12, "EVENT": 0x20, "REPLY": 0x80}

_HERE = Path(__file__).resolve().parent
# the checkout's firmware/ (beside rnnmcu/), or the installed package's rnnmcu/firmware/
HEADER_PATH = ((_HERE.parent / "firmware") if (_HERE.parent / "firmware" / "src").is_dir()
               else (_HERE / "firmware")) / "src" / "rnnmcu_facts.h"


def _c_enum(c_type: str, entries: list[str]) -> list[str]:
    """A C99 ``typedef enum``: ``entries`` ("NAME = value" or "NAME"), comma-separated."""
    return ["typedef enum {", *(f"    {e}," for e in entries[:-1]), f"    {entries[-1]}", f"}} {c_type};"]


def c_header() -> str:
    """The text of firmware/src/rnnmcu_facts.h."""
    L = ["/* rnnmcu — the facts the C and the Python share.  GENERATED from rnnmcu/facts.py by",
         " * `python -m rnnmcu.facts`: edit that file, not this one (tests/test_house.py checks it). */",
         "#ifndef RNNMCU_FACTS_H", "#define RNNMCU_FACTS_H", "", "#include <stdint.h>", "",
         "/* cells as the kernels see them, and each one's gate rows per unit in the weights' order",
         " * (" + "; ".join(f"{k.name} {', '.join(k.gates)}" for k in CELL_KINDS) + ") */"]
    L += _c_enum("rnnmcu_cell_t", [f"RNNMCU_CELL_{k.name.upper()} = {k.code}" for k in CELL_KINDS])
    expr = "1u"
    for k in reversed(CELL_KINDS[1:]):
        expr = f"(cell) == RNNMCU_CELL_{k.name.upper()} ? {len(k.gates)}u : {expr}"
    L += [f"#define RNNMCU_CELL_GATES(cell) ({expr})"]
    for k in CELL_KINDS:
        for g, gate in enumerate(k.gates):
            L.append(f"#define RNNMCU_{k.name.upper()}_GATE_{gate.upper()} {g}u")
    L += ["",
          "/* the packed weight layout: blocks of RNNMCU_MV_ROWS rows, rows in chunks of RNNMCU_MV_COLS",
          " * columns; the wide layout stores column j of a chunk at RNNMCU_W16_AT(j) */",
          f"#define RNNMCU_MV_ROWS {MV_ROWS}u", f"#define RNNMCU_MV_COLS {MV_COLS}u",
          "#define RNNMCU_W16_AT(j) ((((j) & 1u) << 1) | ((j) >> 1))",
          "/* a tile of an integer recurrent step: at most RNNMCU_TILE_ROWS rows, whole pairs of blocks */",
          f"#define RNNMCU_TILE_ROWS {TILE_ROWS}u",
          "#define RNNMCU_TILE_UNITS(gates) ((RNNMCU_TILE_ROWS / (uint32_t)(gates)) & ~7u)",
          "/* the two formulas above against the Python's values (a negative array size fails to compile) */"]
    checks = [f"RNNMCU_W16_AT({j}u) == {p}u" for j, p in enumerate(WIDE_ORDER)]
    checks += [f"RNNMCU_TILE_UNITS({len(k.gates)}u) == {tile_units(len(k.gates))}u" for k in CELL_KINDS]
    checks += [f"RNNMCU_CELL_GATES(RNNMCU_CELL_{k.name.upper()}) == {len(k.gates)}u" for k in CELL_KINDS]
    L += ["typedef char rnnmcu_facts_check_[(" + " &&\n                                     ".join(checks) + ") ? 1 : -1];", ""]
    L += ["/* the wire protocol: firmware/PROTOCOL.md */",
          f"#define RNNMCU_PROTO_VERSION {PROTOCOL_VERSION}u",
          f"#define RNNMCU_PROTO_HEADER_SIZE {PROTO_HEADER_SIZE}u",
          f"#define RNNMCU_PROTO_CRC_SIZE {PROTO_CRC_SIZE}u",
          "/* request types (host -> device); a reply has type | RNNMCU_PROTO_REPLY and the same seq */"]
    L += _c_enum("rnnmcu_proto_type_t", [f"RNNMCU_PROTO_{n} = 0x{v:02X}" for n, v in PROTO_TYPES.items()])
    L += [f"#define RNNMCU_PROTO_REPLY 0x{PROTO_REPLY:02X}u", f"#define RNNMCU_PROTO_ERROR 0x{PROTO_ERROR:02X}u",
          "/* error codes carried in an ERROR reply (payload: code:u8 + UTF-8 message) */"]
    L += _c_enum("rnnmcu_proto_err_t", ["RNNMCU_PROTO_OK = 0", *(f"RNNMCU_PROTO_ERR_{n} = {v}" for n, v in
                                                                 PROTO_ERRORS.items()), "RNNMCU_PROTO_ERR_COUNT"])
    L += ["/* the model's number format (INFO's precision byte) */"]
    L += _c_enum("rnnmcu_precision_t", [f"RNNMCU_PRECISION_{n} = {v}" for n, v in PRECISIONS.items()])
    L += ["/* the model descriptor's flags (INFO reports them) */"]
    L += [f"#define RNNMCU_MODEL_{n} 0x{v:02X}u /* {doc} */" for n, (v, doc) in MODEL_FLAGS.items()]
    L += ["", "/* the streaming app's frame types: firmware/stream/STREAM.md */"]
    L += [f"#define RNNMCU_ST_{n} 0x{v:02X}u" for n, v in STREAM_CODES.items()]
    L += ["", "#endif", ""]
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    """Rewrite firmware/src/rnnmcu_facts.h (``--check``: exit 1 when it is stale)."""
    argv = sys.argv[1:] if argv is None else argv
    text = c_header()
    if "--check" in argv:
        stale = not HEADER_PATH.is_file() or HEADER_PATH.read_text() != text
        if stale:
            print(f"error: {HEADER_PATH} is stale\nnext: python -m rnnmcu.facts", file=sys.stderr)
        return 1 if stale else 0
    HEADER_PATH.write_text(text)
    print(f"wrote {HEADER_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
