/* rnnmcu — the facts the C and the Python share.  GENERATED from rnnmcu/facts.py by
 * `python -m rnnmcu.facts`: edit that file, not this one (tests/test_house.py checks it). */
#ifndef RNNMCU_FACTS_H
#define RNNMCU_FACTS_H

#include <stdint.h>

/* cells as the kernels see them, and each one's gate rows per unit in the weights' order
 * (simple h; lstm i, f, c, o; gru z, r, h) */
typedef enum {
    RNNMCU_CELL_SIMPLE = 0,
    RNNMCU_CELL_LSTM = 1,
    RNNMCU_CELL_GRU = 2
} rnnmcu_cell_t;
#define RNNMCU_CELL_GATES(cell) ((cell) == RNNMCU_CELL_LSTM ? 4u : (cell) == RNNMCU_CELL_GRU ? 3u : 1u)
#define RNNMCU_SIMPLE_GATE_H 0u
#define RNNMCU_LSTM_GATE_I 0u
#define RNNMCU_LSTM_GATE_F 1u
#define RNNMCU_LSTM_GATE_C 2u
#define RNNMCU_LSTM_GATE_O 3u
#define RNNMCU_GRU_GATE_Z 0u
#define RNNMCU_GRU_GATE_R 1u
#define RNNMCU_GRU_GATE_H 2u

/* the packed weight layout: blocks of RNNMCU_MV_ROWS rows, rows in chunks of RNNMCU_MV_COLS
 * columns; the wide layout stores column j of a chunk at RNNMCU_W16_AT(j) */
#define RNNMCU_MV_ROWS 4u
#define RNNMCU_MV_COLS 4u
#define RNNMCU_W16_AT(j) ((((j) & 1u) << 1) | ((j) >> 1))
/* a tile of an integer recurrent step: at most RNNMCU_TILE_ROWS rows, whole pairs of blocks */
#define RNNMCU_TILE_ROWS 64u
#define RNNMCU_TILE_UNITS(gates) ((RNNMCU_TILE_ROWS / (uint32_t)(gates)) & ~7u)
/* the two formulas above against the Python's values (a negative array size fails to compile) */
typedef char rnnmcu_facts_check_[(RNNMCU_W16_AT(0u) == 0u &&
                                     RNNMCU_W16_AT(1u) == 2u &&
                                     RNNMCU_W16_AT(2u) == 1u &&
                                     RNNMCU_W16_AT(3u) == 3u &&
                                     RNNMCU_TILE_UNITS(1u) == 64u &&
                                     RNNMCU_TILE_UNITS(4u) == 16u &&
                                     RNNMCU_TILE_UNITS(3u) == 16u &&
                                     RNNMCU_CELL_GATES(RNNMCU_CELL_SIMPLE) == 1u &&
                                     RNNMCU_CELL_GATES(RNNMCU_CELL_LSTM) == 4u &&
                                     RNNMCU_CELL_GATES(RNNMCU_CELL_GRU) == 3u) ? 1 : -1];

/* the wire protocol: firmware/PROTOCOL.md */
#define RNNMCU_PROTO_VERSION 1u
#define RNNMCU_PROTO_HEADER_SIZE 4u
#define RNNMCU_PROTO_CRC_SIZE 4u
/* request types (host -> device); a reply has type | RNNMCU_PROTO_REPLY and the same seq */
typedef enum {
    RNNMCU_PROTO_INFO = 0x01,
    RNNMCU_PROTO_RESET = 0x02,
    RNNMCU_PROTO_STEP = 0x03,
    RNNMCU_PROTO_RUN = 0x04,
    RNNMCU_PROTO_BENCH = 0x05,
    RNNMCU_PROTO_TRACE = 0x06
} rnnmcu_proto_type_t;
#define RNNMCU_PROTO_REPLY 0x80u
#define RNNMCU_PROTO_ERROR 0xFFu
/* error codes carried in an ERROR reply (payload: code:u8 + UTF-8 message) */
typedef enum {
    RNNMCU_PROTO_OK = 0,
    RNNMCU_PROTO_ERR_BAD_CRC = 1,
    RNNMCU_PROTO_ERR_BAD_COBS = 2,
    RNNMCU_PROTO_ERR_OVERSIZE = 3,
    RNNMCU_PROTO_ERR_UNKNOWN_TYPE = 4,
    RNNMCU_PROTO_ERR_BAD_LENGTH = 5,
    RNNMCU_PROTO_ERR_BAD_SEQUENCE = 6,
    RNNMCU_PROTO_ERR_STEP_UNSUPPORTED = 7,
    RNNMCU_PROTO_ERR_T_RANGE = 8,
    RNNMCU_PROTO_ERR_MODEL = 9,
    RNNMCU_PROTO_ERR_COUNT
} rnnmcu_proto_err_t;
/* the model's number format (INFO's precision byte) */
typedef enum {
    RNNMCU_PRECISION_INT8 = 1,
    RNNMCU_PRECISION_INT16 = 2,
    RNNMCU_PRECISION_FLOAT32 = 3
} rnnmcu_precision_t;
/* the model descriptor's flags (INFO reports them) */
#define RNNMCU_MODEL_WINDOW_ONLY 0x01u /* needs a whole window: step is NULL (Bidirectional, go_backwards) */
#define RNNMCU_MODEL_OUTPUT_SEQUENCE 0x02u /* run() writes one output vector per step (T * output_dim) */
#define RNNMCU_MODEL_MASKING 0x04u /* the model skips masked steps (quantize_input reports them) */
#define RNNMCU_MODEL_BENCH_RUN 0x08u /* BENCH times run() over n copies, not n step()s (--input-projections) */
#define RNNMCU_MODEL_INPUT16 0x10u /* an int8 model whose inputs are int16 (in_elem_size 2): NUMERICS.md, Wide inputs */
#define RNNMCU_MODEL_TRACE 0x20u /* INFO only: the firmware answers TRACE (rnnmcu build --trace) */

/* the streaming app's frame types: firmware/stream/STREAM.md */
#define RNNMCU_ST_SAMPLE 0x10u
#define RNNMCU_ST_STATS 0x11u
#define RNNMCU_ST_RESTART 0x12u
#define RNNMCU_ST_EVENT 0x20u
#define RNNMCU_ST_REPLY 0x80u

#endif
