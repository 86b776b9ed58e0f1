/* rnnmcu — runtime kernels: one recurrent step, a dense layer, an elementwise activation and a
 * softmax, in int8 (s8), int16 (s16) and float (f32) activations.  Weights are const and live in
 * the generated model file; state and scratch belong to the caller; nothing allocates. */
#ifndef RNNMCU_KERNELS_H
#define RNNMCU_KERNELS_H

#include <stdint.h>

#include "rnnmcu_facts.h" /* cells, gates, layout and tile sizes: generated from rnnmcu/facts.py */
#include "rnnmcu_trace.h" /* the TRACE debug build's hooks (empty unless RNNMCU_TRACE) */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RNNMCU_OK = 0,
    RNNMCU_ERR_STEPS = 1,        /* T is 0 or larger than the model's max_steps */
    RNNMCU_ERR_WINDOW_ONLY = 2,  /* step() on a model that needs a whole window */
    RNNMCU_STATUS_COUNT
} rnnmcu_status_t;

/* Human-readable text for a status (designated initialisers: cannot drift from the enum). */
const char *rnnmcu_status_str(int status);

/* What a gate row of an integer recurrent layer needs after its two dot products, in one record
 * (one pointer, fixed offsets): pre = rq(W x; mx, lx, ex) + rq(U h; mh, lh, eh) + b, with
 * rq(acc; m, l, e) = rnnmcu_rq32_le (the shift of NUMERICS.md split by the generator). */
typedef struct {
    int32_t mx;            /* input-side multiplier */
    int32_t mh;            /* recurrent-side multiplier */
    int32_t b;             /* bias in the pre-activation domain */
    uint8_t lx, ex;        /* input-side left and right shift */
    uint8_t lh, eh;        /* recurrent-side left and right shift */
} rnnmcu_row_q_t;

/* Integer recurrent layer (int8 weights; activations int8 or int16). */
typedef struct {
    uint8_t cell;          /* rnnmcu_cell_t */
    uint8_t reset_after;   /* GRU only */
    uint8_t q;             /* gate fractional bits */
    uint8_t k;             /* extra fractional bits of table outputs that become h */
    uint8_t unit_gate;     /* 1: tab_rec's values lie in [0, 2^q] (a sigmoid-like recurrent
                            * activation), so GRU's blend z*h + (1-z)*h~ fits int32 */
    uint8_t state16;       /* int8 GRU: the state is c (int16, h at scale s_h / 2^k, k more bits
                            * than h); h is its top bits (codegen/NUMERICS.md) */
    uint8_t cs;            /* LSTM: c is shifted left by cs (saturating) before tab_out */
    uint16_t input_dim;
    uint16_t units;
    const int8_t *w;       /* (G*units, input_dim) */
    const int8_t *u;       /* (G*units, units); GRU reset_after=0: the z and r rows only (2*units) */
    const int8_t *u_cand;  /* GRU reset_after=0: the candidate rows of U (units, units); else NULL */
    const int16_t *w16;    /* the same three in the wide layout (codegen/layout.py pack_wide, */
    const int16_t *u16;    /* rnnmcu build --wide-weights), read by the *_w16_* step functions; */
    const int16_t *u_cand16; /* NULL in a compact model, where w, u, u_cand are NULL in a wide one */
    const rnnmcu_row_q_t *rq; /* per gate row (G*units) */
    const int32_t *b_rec;  /* GRU reset_after: the candidate rows' recurrent bias (units); else NULL */
    const int16_t *tab_rec;
    const int16_t *tab_act;
    const int16_t *tab_out;
    const int16_t *p;      /* peepholes (LSTM: i, f, o rows; GRU: z), int16; NULL for plain cells */
    const int32_t *mp;     /* per peephole row: multiplier of p*c (LSTM) or p*h~ (GRU) ... */
    const int8_t *shp;     /* ... and its shift */
} rnnmcu_rnn_q_t;

typedef enum {
    RNNMCU_MERGE_CONCAT = 0,
    RNNMCU_MERGE_SUM = 1,
    RNNMCU_MERGE_MUL = 2,
    RNNMCU_MERGE_AVE = 3
} rnnmcu_merge_mode_t;

/* Bidirectional merge of two direction outputs at the same scale (sum/ave/mul; concat is a copy). */
typedef struct {
    uint8_t mode;          /* rnnmcu_merge_mode_t */
    uint16_t units;
    int32_t m;
    int32_t sh;
} rnnmcu_merge_q_t;

/* An integer recurrent step runs over tiles of RNNMCU_TILE_UNITS(G) units (G gate rows each): for
 * each tile, the W x and U h sums of the tile's gate rows, then at once the cell update of the
 * tile's units.  The generator stores W, U and the row records unit-major (row G*j + g is gate g
 * of unit j: codegen/emit.py, tile_order) so that a tile's rows are one contiguous slice of the
 * packed matrices (rnnmcu_step.h, rnnmcu_tiled_step); scratch then holds one tile's sums, not
 * the whole layer's, and the new h until the last tile has read the old one.  A tile is at most
 * RNNMCU_TILE_ROWS rows, a whole number of pairs of 4-row blocks (RNNMCU_MV_ROWS; the RV32
 * kernel takes blocks two at a time): 64 units of a SimpleRNN, 16 of a GRU or an LSTM. */
#define RNNMCU_TILE_MIN(gates, n)                                                                 \
    ((uint32_t)(n) < RNNMCU_TILE_UNITS(gates) ? (uint32_t)(n) : RNNMCU_TILE_UNITS(gates))
/* Scratch words a tiled integer recurrent step needs (activations of act_bytes bytes): two tiles
 * of sums and the new h of the units before the last tile; GRU reset_after=0 (untiled: its
 * candidate product needs the whole r * h) 2 * G*units sums and r*h (units). */
#define RNNMCU_RNN_SCRATCH_WORDS(gates, units, act_bytes)                                        \
    (2u * (gates) * RNNMCU_TILE_MIN((gates), (units)) +                                          \
     (((uint32_t)(units) - RNNMCU_TILE_MIN((gates), (units))) * (act_bytes) + 3u) / 4u)

/* An arch may run its int8 products through its int16 kernel, widening each activation vector
 * once per step or product (RNNMCU_S8_VIA_S16 1): Xtensa does, arch/xtensa/rnnmcu_s8_via_s16.h.
 * An int8 model's scratch then needs RNNMCU_XBUF_WORDS(input_dim + units + 1) more words for a
 * recurrent layer, RNNMCU_XBUF_WORDS(input_dim) for a dense one (the generated state adds them;
 * 0 elsewhere, and in a build of the portable C only, which has no arch/ folder). */
#if defined(__XTENSA__) && defined(__has_include)
#if __has_include("arch/xtensa/rnnmcu_s8_via_s16.h")
#include "arch/xtensa/rnnmcu_s8_via_s16.h"
#endif
#endif
#ifndef RNNMCU_S8_VIA_S16
#define RNNMCU_S8_VIA_S16 0
#define RNNMCU_XBUF_WORDS(cols) 0
#endif

typedef struct {
    uint16_t input_dim;
    uint16_t output_dim;
    uint8_t k;
    const int8_t *w;       /* (output_dim, input_dim) */
    const int32_t *m;
    const int8_t *sh;
    const int32_t *b;
    const int16_t *tab;
} rnnmcu_dense_q_t;

typedef struct {
    uint16_t dim;
    uint8_t kin;
    uint8_t k;
    const int16_t *tab;
} rnnmcu_act_q_t;

typedef struct {
    uint16_t dim;
    uint8_t kin;
    uint8_t qo;
    const int16_t *tab;
} rnnmcu_softmax_q_t;

/* All row dot products of an int8 matrix (packed by codegen/layout.py) with an activation
 * vector: the step's hot loop.  Layout: rows in blocks of RNNMCU_MV_ROWS (zero rows pad the last
 * block), columns padded with zeros to a multiple of RNNMCU_MV_COLS; a block is stored chunk of
 * RNNMCU_MV_COLS columns after chunk, each chunk holding its rows one after the other:
 * packed[b][j][r][c] = W[ROWS*b + r][COLS*j + c].  y gets exactly `rows` values.
 * The portable versions are rnnmcu_matvec_<sfx>.c; firmware/src/arch/<arch>/ may replace them. */
/* Packed weights are read a 32-bit word at a time by the arch kernels: the generated arrays carry
 * this alignment (a GCC/Clang attribute; other compilers must align int8 arrays to 4 themselves). */
#if defined(__GNUC__) || defined(__clang__)
#define RNNMCU_WEIGHTS_ALIGNED __attribute__((aligned(4)))
#else
#define RNNMCU_WEIGHTS_ALIGNED
#endif
#define RNNMCU_MV_PAD(n, to) (((uint32_t)(n) + (to) - 1u) / (to) * (to))
void rnnmcu_matvec_s8(const int8_t *w, const int8_t *x, uint16_t rows, uint16_t cols, int32_t *y);
void rnnmcu_matvec_s16(const int8_t *w, const int16_t *x, uint16_t rows, uint16_t cols, int32_t *y);
/* The same over the wide layout (int16 weights, a row's chunk stored as c0, c2, c1, c3: pack_wide):
 * twice the weight flash, for the Cortex-M DSP kernel that then loads SMLAD operands directly.
 * RNNMCU_W16_AT(j): where column j of a chunk sits (layout.WIDE_ORDER). */
void rnnmcu_matvec_w16_s8(const int16_t *w, const int8_t *x, uint16_t rows, uint16_t cols, int32_t *y);
void rnnmcu_matvec_w16_s16(const int16_t *w, const int16_t *x, uint16_t rows, uint16_t cols, int32_t *y);

/* One timestep: updates h (and c for LSTM) in place. c may be NULL for other cells.
 * rnnmcu_rnn_step_* dispatches on p->cell; generated code calls the cell's own function, so the
 * linker (--gc-sections) keeps only the cells a model uses. */
void rnnmcu_rnn_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_rnn_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_simple_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_simple_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch);
/* an LSTM with peepholes (p->p set); rnnmcu_lstm_step_* ignores p->p */
void rnnmcu_peephole_lstm_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_peephole_lstm_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c,
                                   int32_t *scratch);
void rnnmcu_gru_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch);
/* a GRU with reset_after = 0 (p->reset_after clear); rnnmcu_gru_step_* is the reset_after = 1 form */
void rnnmcu_gru_reset_before_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c,
                                     int32_t *scratch);
void rnnmcu_gru_reset_before_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c,
                                      int32_t *scratch);
/* The readable reference of each step (rnnmcu_rnn_step_plain.c): untiled, one unit at a time, the
 * same h and c bit for bit as the step of the same cell above (compact weights, input x) */
void rnnmcu_simple_step_plain_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_simple_step_plain_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c,
                                  int32_t *scratch);
void rnnmcu_lstm_step_plain_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_plain_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_plain_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_plain_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch);
/* The step functions of models generated with wide weights (w16, u16, u_cand16) */
void rnnmcu_rnn_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_rnn_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_simple_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_simple_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c,
                                int32_t *scratch);
void rnnmcu_lstm_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_peephole_lstm_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c,
                                      int32_t *scratch);
void rnnmcu_peephole_lstm_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c,
                                       int32_t *scratch);
void rnnmcu_gru_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_gru_reset_before_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c,
                                         int32_t *scratch);
void rnnmcu_gru_reset_before_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c,
                                          int32_t *scratch);
/* run() with input projections (rnnmcu build --input-projections): rnnmcu_rnn_proj_<sfx> computes
 * a tiled layer's W x, requantised and with the bias added, for a block of `steps` input vectors
 * at once (px: steps * G*units words); the step_px functions then take this step's G*units words
 * of px in place of x (and overwrite them).  GRU reset_after=0 has none: it is not tiled. */
void rnnmcu_rnn_proj_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, uint16_t steps, int32_t *px, int32_t *scratch);
void rnnmcu_simple_step_px_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_px_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_peephole_lstm_step_px_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_px_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_rnn_proj_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, uint16_t steps, int32_t *px, int32_t *scratch);
void rnnmcu_simple_step_px_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_px_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_peephole_lstm_step_px_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_px_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_rnn_proj_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, uint16_t steps, int32_t *px, int32_t *scratch);
void rnnmcu_simple_step_px_w16_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_px_w16_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_peephole_lstm_step_px_w16_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_px_w16_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_rnn_proj_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, uint16_t steps, int32_t *px, int32_t *scratch);
void rnnmcu_simple_step_px_w16_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_px_w16_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_peephole_lstm_step_px_w16_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h,
                                          int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_px_w16_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch);
/* The first layer of an int8 model whose inputs are 16-bit (codegen/NUMERICS.md, "Wide inputs"):
 * the tiled steps with x int16 (its product through the int16 kernel) and h int8 */
void rnnmcu_simple_step_x16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_x16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_peephole_lstm_step_x16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                                      int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_x16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_simple_step_x16_w16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_lstm_step_x16_w16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_peephole_lstm_step_x16_w16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                                          int16_t *c, int32_t *scratch);
void rnnmcu_gru_step_x16_w16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h, int16_t *c, int32_t *scratch);
void rnnmcu_merge_s8(const rnnmcu_merge_q_t *p, const int8_t *a, const int8_t *b, int8_t *y);
void rnnmcu_merge_s16(const rnnmcu_merge_q_t *p, const int16_t *a, const int16_t *b, int16_t *y);
/* Dense layer; scratch holds output_dim words. */
void rnnmcu_dense_s8(const rnnmcu_dense_q_t *p, const int8_t *x, int8_t *y, int32_t *scratch);
void rnnmcu_dense_s16(const rnnmcu_dense_q_t *p, const int16_t *x, int16_t *y, int32_t *scratch);
/* int16 -> int8, saturated: an int8 model's first Dense layer on 16-bit inputs (rnnmcu_narrow_s16_s8.c) */
void rnnmcu_narrow_s16_s8(const int16_t *x, uint16_t n, int8_t *y);
/* int8 -> int16: an int8 model's 16-bit head reads the body's output (rnnmcu_widen_s8_s16.c) */
void rnnmcu_widen_s8_s16(const int8_t *x, uint32_t n, int16_t *y);
void rnnmcu_activation_s8(const rnnmcu_act_q_t *p, const int8_t *x, int8_t *y);
void rnnmcu_activation_s16(const rnnmcu_act_q_t *p, const int16_t *x, int16_t *y);
void rnnmcu_softmax_s8(const rnnmcu_softmax_q_t *p, const int8_t *x, int8_t *y);
void rnnmcu_softmax_s16(const rnnmcu_softmax_q_t *p, const int16_t *x, int16_t *y);

/* ---- float ---- */
typedef enum {
    RNNMCU_ACT_LINEAR, RNNMCU_ACT_RELU, RNNMCU_ACT_RELU6, RNNMCU_ACT_LEAKY_RELU, RNNMCU_ACT_ELU,
    RNNMCU_ACT_SELU, RNNMCU_ACT_CELU, RNNMCU_ACT_GELU, RNNMCU_ACT_SIGMOID, RNNMCU_ACT_HARD_SIGMOID,
    RNNMCU_ACT_HARD_SILU, RNNMCU_ACT_SILU, RNNMCU_ACT_SOFTPLUS, RNNMCU_ACT_SOFTSIGN, RNNMCU_ACT_TANH,
    RNNMCU_ACT_EXPONENTIAL, RNNMCU_ACT_MISH, RNNMCU_ACT_LOG_SIGMOID, RNNMCU_ACT_TANH_SHRINK,
    RNNMCU_ACT_HARD_TANH, RNNMCU_ACT_SOFT_SHRINK, RNNMCU_ACT_HARD_SHRINK, RNNMCU_ACT_SPARSE_PLUS,
    RNNMCU_ACT_SQUAREPLUS, RNNMCU_ACT_SPARSE_SIGMOID,
    RNNMCU_ACT_COUNT
} rnnmcu_act_t;

float rnnmcu_act_f32(int act, float x);

typedef struct {
    uint8_t cell;
    uint8_t reset_after;
    uint8_t act;           /* rnnmcu_act_t */
    uint8_t rec_act;       /* rnnmcu_act_t */
    uint16_t input_dim;
    uint16_t units;
    const float *w;        /* (G*units, input_dim) */
    const float *u;        /* (G*units, units) */
    const float *b;        /* (G*units) */
    const float *b_rec;    /* (G*units) GRU reset_after recurrent bias, else zeros */
    const float *p;        /* peepholes (LSTM: i, f, o rows; GRU: z), NULL for plain cells */
} rnnmcu_rnn_f32_t;

typedef struct {
    uint16_t input_dim;
    uint16_t output_dim;
    uint8_t act;
    const float *w;
    const float *b;
} rnnmcu_dense_f32_t;

void rnnmcu_rnn_step_f32(const rnnmcu_rnn_f32_t *p, const float *x, float *h, float *c, float *scratch);
void rnnmcu_dense_f32(const rnnmcu_dense_f32_t *p, const float *x, float *y);
void rnnmcu_activation_f32(int act, uint16_t dim, const float *x, float *y);
void rnnmcu_softmax_f32(uint16_t dim, const float *x, float *y);
void rnnmcu_merge_f32(int mode, uint16_t units, const float *a, const float *b, float *y);

#ifdef __cplusplus
}
#endif
#endif
