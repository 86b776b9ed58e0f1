/* rnnmcu — what every integer recurrent step shares: reading and writing an activation of either
 * width, a gate row's pre-activation, the matrix-vector products of a tile, the cell-state
 * updates of LSTM and GRU, and the tile loop itself.  A private header of the step files
 * (rnnmcu_<cell>_step.c); each defines its public functions by name and passes what varies —
 * the activation width (bits: 8 or 16), the weight layout (wide: int16 weights) and what the step
 * takes as its input (in: RNNMCU_IN_*) — as constants to the inline functions here, which the
 * compiler then specialises (every function here is always inlined).
 *
 * Each function mirrors its twin in codegen/qref.py operation for operation
 * (codegen/NUMERICS.md). */
#ifndef RNNMCU_STEP_H
#define RNNMCU_STEP_H

#include <string.h>

#include "rnnmcu_kernels.h"
#include "rnnmcu_ops.h"
#include "rnnmcu_trace.h"

#if defined(__GNUC__) || defined(__clang__)
#define RNNMCU_ALWAYS_INLINE static inline __attribute__((always_inline))
/* The phases of a step are separate functions, called one after the other, so that their stack
 * frames do not add up (a step's stack is its own small frame plus the largest phase's), and each
 * loop has only its own values live. */
#define RNNMCU_PHASE static __attribute__((noinline))
#else
#define RNNMCU_ALWAYS_INLINE static inline
#define RNNMCU_PHASE static
#endif

/* What a step takes as its input */
enum {
    RNNMCU_IN_X = 0,   /* x, the layer's input vector: the step computes W x itself */
    RNNMCU_IN_PX = 1,  /* px: this step's G*units words of rq(W x) + b, from rnnmcu_rnn_proj_<sfx>
                        * (run() with input projections); the step overwrites them */
    RNNMCU_IN_X16 = 2  /* x int16 with h int8: an int8 model's first layer on 16-bit inputs, its
                        * W x through the int16 kernel */
};

/* ---- activations of either width ---- */

/* v saturated to a `bits`-bit activation (v known to fit in int32: one SSAT on Cortex-M) */
RNNMCU_ALWAYS_INLINE int32_t rnnmcu_act_sat32(int32_t v, const int bits)
{
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
    return bits == 8 ? __ssat(v, 8) : __ssat(v, 16);
#else
    return bits == 8 ? rnnmcu_sat(v, -128, 127) : rnnmcu_sat(v, -32768, 32767);
#endif
}

/* the same for a 64-bit value */
RNNMCU_ALWAYS_INLINE int32_t rnnmcu_act_sat64(int64_t v, const int bits)
{
    return bits == 8 ? rnnmcu_sat(v, -128, 127) : rnnmcu_sat(v, -32768, 32767);
}

/* v[j] of an activation vector of `bits`-bit values */
RNNMCU_ALWAYS_INLINE int32_t rnnmcu_act_get(const void *v, uint32_t j, const int bits)
{
    return bits == 8 ? (int32_t)((const int8_t *)v)[j] : (int32_t)((const int16_t *)v)[j];
}

/* v[j] = a (a value already in the activation's range) */
RNNMCU_ALWAYS_INLINE void rnnmcu_act_put(void *v, uint32_t j, int32_t a, const int bits)
{
    if (bits == 8)
        ((int8_t *)v)[j] = (int8_t)a;
    else
        ((int16_t *)v)[j] = (int16_t)a;
}

/* ---- the products ---- */

/* y = W[r0, r0 + rows) v: the rows from r0 (a multiple of RNNMCU_MV_ROWS) of a packed matrix of
 * `cols` columns (codegen/layout.py), int8 or (wide) int16 weights, with the kernel of the
 * vector's width (rnnmcu_matvec_<sfx>, an arch's own where it has one) */
RNNMCU_ALWAYS_INLINE void rnnmcu_mv_rows(const void *w, const int wide, uint32_t r0, const void *v, const int vbits,
                                         uint32_t rows, uint32_t cols, int32_t *y)
{
    const uint32_t at = r0 * RNNMCU_MV_PAD(cols, RNNMCU_MV_COLS);
    if (wide && vbits == 8)
        rnnmcu_matvec_w16_s8((const int16_t *)w + at, (const int8_t *)v, (uint16_t)rows, (uint16_t)cols, y);
    else if (wide)
        rnnmcu_matvec_w16_s16((const int16_t *)w + at, (const int16_t *)v, (uint16_t)rows, (uint16_t)cols, y);
    else if (vbits == 8)
        rnnmcu_matvec_s8((const int8_t *)w + at, (const int8_t *)v, (uint16_t)rows, (uint16_t)cols, y);
    else
        rnnmcu_matvec_s16((const int8_t *)w + at, (const int16_t *)v, (uint16_t)rows, (uint16_t)cols, y);
}

/* an int8 vector widened to int16: the int8 products of an arch that runs them through its int16
 * kernel (RNNMCU_S8_VIA_S16, Xtensa: one L16SI per value instead of a byte load and two shifts) */
RNNMCU_ALWAYS_INLINE void rnnmcu_widen(const int8_t *v, uint32_t n, int16_t *xb)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        xb[i] = v[i];
}

/* y = W v for a whole matrix (row 0 on); an int8 v on RNNMCU_S8_VIA_S16 is widened first into
 * xb (RNNMCU_XBUF_WORDS(cols) words) */
RNNMCU_ALWAYS_INLINE void rnnmcu_mv(const void *w, const int wide, const void *v, const int vbits, uint32_t rows,
                                    uint32_t cols, int32_t *y, int32_t *xb)
{
    if (vbits == 8 && RNNMCU_S8_VIA_S16) {
        rnnmcu_widen((const int8_t *)v, cols, (int16_t *)(void *)xb);
        rnnmcu_mv_rows(w, wide, 0u, xb, 16, rows, cols, y);
    } else {
        rnnmcu_mv_rows(w, wide, 0u, v, vbits, rows, cols, y);
    }
}

/* ---- a gate row ---- */

/* Row r's pre-activation before saturation: rq(W x) + rq(U h) + b in int32 (the generator proves
 * each term below 2^26 and clamps biases to 2^28: check_narrow).  ax holds W x, or (px) rq(W x) + b
 * already; ah holds U h. */
RNNMCU_ALWAYS_INLINE int32_t rnnmcu_pre(const rnnmcu_row_q_t *rq, const int32_t *ax, const int32_t *ah, uint32_t r,
                                        const int px)
{
    const int32_t uh = rnnmcu_rq32_le(ah[r], rq[r].mh, rq[r].lh, rq[r].eh);
    if (px)
        return ax[r] + uh;
    return rnnmcu_rq32_le(ax[r], rq[r].mx, rq[r].lx, rq[r].ex) + uh + rq[r].b;
}

/* Row r's input side alone, rq(W x) + b (GRU's candidate row, whose U h the reset gate scales) */
RNNMCU_ALWAYS_INLINE int32_t rnnmcu_pre_x(const rnnmcu_row_q_t *rq, const int32_t *ax, uint32_t r, const int px)
{
    return px ? ax[r] : rnnmcu_rq32_le(ax[r], rq[r].mx, rq[r].lx, rq[r].ex) + rq[r].b;
}

/* A peephole term pv = p * v (int16 x int16) of peephole row g, requantised into the recurrent
 * pre-activation; proven below 2^26, so the int64 of rnnmcu_rq narrows exactly. */
RNNMCU_ALWAYS_INLINE int32_t rnnmcu_peep(const rnnmcu_rnn_q_t *p, int32_t pv, uint32_t g)
{
    return (int32_t)rnnmcu_rq(pv, p->mp[g], p->shp[g]);
}

/* ---- the cell states ---- */

/* LSTM: c_t = f * c_{t-1} + i * g, saturated to int16.  Each product is at most 2^30, so with
 * q >= 1 (every bounded gate activation) the sum of the two shifted products fits in int32; q = 0
 * (an unbounded recurrent activation with a huge range) takes the 64-bit sum, out of line (a
 * function of its own: the common case's loop keeps its registers). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, cold))
#endif
static int32_t rnnmcu_lstm_c64(int32_t i, int32_t f, int32_t g, int32_t c)
{
    return rnnmcu_sat16((int64_t)f * c + (int64_t)i * g);
}

RNNMCU_ALWAYS_INLINE int32_t rnnmcu_lstm_c(int32_t i, int32_t f, int32_t g, int32_t c, int32_t q)
{
    if (q > 0)
        return rnnmcu_sat16_32(rnnmcu_rshr(f * c, q) + rnnmcu_rshr(i * g, q));
    return rnnmcu_lstm_c64(i, f, g, c);
}

/* LSTM: h_t = o * out_act(c_t), c_t shifted left by cs (saturating) into tab_out's domain, the
 * product shifted right by qk = q + k into h's scale.  (The callers load p's fields once per
 * tile: a store through an int8 h may alias them, so the compiler would reload them per unit.) */
RNNMCU_ALWAYS_INLINE int32_t rnnmcu_lstm_h(const int16_t *tab_out, int32_t cs, int32_t qk, int32_t o, int32_t c_new,
                                           const int bits)
{
    const int32_t t = rnnmcu_table(tab_out, rnnmcu_sat16_32(c_new * ((int32_t)1 << cs)));
    return rnnmcu_act_sat32(rnnmcu_rshr(o * t, qk), bits);
}

/* GRU: z * a + (2^q - z) * b, shifted right by s with rounding, saturated to `bits`.  With
 * unit_gate, z in [0, 2^q] makes it a convex combination of a and b (both int16 range) scaled by
 * 2^q <= 2^15: at most 2^30, and 2^(s-1) <= 2^22 of rounding keeps it below 2^31, so it is summed
 * in int32; other gates take the 64-bit sum. */
RNNMCU_ALWAYS_INLINE int32_t rnnmcu_gru_blend(int unit_gate, int32_t q, int32_t z, int32_t a, int32_t b, int32_t s,
                                              const int bits)
{
    const int32_t one = (int32_t)1 << q;
    if (unit_gate)
        return rnnmcu_act_sat32(rnnmcu_rshr(z * a + (one - z) * b, s), bits);
    return rnnmcu_act_sat64(rnnmcu_rshr64((int64_t)z * a + (int64_t)(one - z) * b, s), bits);
}

/* What a GRU unit's blend reads of the layer, loaded once per tile (see rnnmcu_lstm_h) */
typedef struct {
    int32_t q, k;
    int unit_gate;
    uint32_t units; /* for the trace */
} rnnmcu_gru_blend_t;

RNNMCU_ALWAYS_INLINE rnnmcu_gru_blend_t rnnmcu_gru_blend_of(const rnnmcu_rnn_q_t *p)
{
    rnnmcu_gru_blend_t b;
    b.q = p->q;
    b.k = p->k;
    b.unit_gate = p->unit_gate;
    b.units = p->units;
    return b;
}

/* GRU unit j's new h from z and the candidate ht: h_{t-1} (at 2^k, k more bits than h) blended
 * with ht.  With state16 (an int8 GRU's 16-bit state, codegen/NUMERICS.md), the state c[j] is
 * blended instead, and the new h is its top bits. */
RNNMCU_ALWAYS_INLINE void rnnmcu_gru_h(const rnnmcu_gru_blend_t *g, int32_t z, int32_t ht, const void *h, void *hn,
                                       uint32_t j, int16_t *c, const int state16, const int bits)
{
    if (state16) {
        const int32_t c_new = rnnmcu_gru_blend(g->unit_gate, g->q, z, c[j], ht, g->q, 16);
        c[j] = (int16_t)c_new;
        rnnmcu_act_put(hn, j, rnnmcu_act_sat32(rnnmcu_rshr(c_new, g->k), bits), bits);
        RNNMCU_TRACE_PUT(RNNMCU_TR_C(3u, 2u, g->units, j), c_new);
    } else {
        const int32_t hk = rnnmcu_act_get(h, j, bits) * ((int32_t)1 << g->k);
        rnnmcu_act_put(hn, j, rnnmcu_gru_blend(g->unit_gate, g->q, z, hk, ht, g->q + g->k, bits), bits);
    }
}

/* ---- the tile loop ---- */

/* A tiled step runs over tiles of RNNMCU_TILE_UNITS(G) units (rnnmcu_kernels.h): rows are
 * unit-major (gate g of unit j is row G*j + g of W, U and rq: RNNMCU_<CELL>_GATE_<G> of
 * rnnmcu_facts.h), so a tile of tu units is the rows [G*u0, G*(u0 + tu)).  A tile function gets
 * the tile's W x sums in ax (or its px words) and its U h sums in ah, both indexed from the tile's
 * first row; it writes the units' new h to hn (rnnmcu_tile_hn) and updates c in place. */
typedef void rnnmcu_tile_fn(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0, uint32_t tu, void *h,
                            int16_t *c);

/* Where a step's U h sums start in scratch: after a tile of W x sums (none with px) */
RNNMCU_ALWAYS_INLINE uint32_t rnnmcu_ah_at(const rnnmcu_rnn_q_t *p, uint32_t G, const int in)
{
    return in == RNNMCU_IN_PX ? 0u : G * RNNMCU_TILE_MIN(G, p->units);
}

/* Where a tile's new h go: h itself in the last tile (every U h is done by then) or when the
 * products read a widened copy of h (RNNMCU_S8_VIA_S16); else after a whole tile of U h sums,
 * copied to h at the end of the step */
RNNMCU_ALWAYS_INLINE void *rnnmcu_tile_hn(const rnnmcu_rnn_q_t *p, int32_t *ah, void *h, uint32_t u0, uint32_t tu,
                                          uint32_t G, const int bits)
{
    if ((bits == 8 && RNNMCU_S8_VIA_S16) || u0 + tu == p->units)
        return h;
    return ah + G * RNNMCU_TILE_MIN(G, p->units);
}

/* The widened x (and after it h) of a step on RNNMCU_S8_VIA_S16: the words after its own */
RNNMCU_ALWAYS_INLINE int16_t *rnnmcu_tile_xw(const rnnmcu_rnn_q_t *p, int32_t *scratch, uint32_t G)
{
    return (int16_t *)(void *)(scratch + RNNMCU_RNN_SCRATCH_WORDS(G, p->units, 1u));
}

RNNMCU_ALWAYS_INLINE int16_t *rnnmcu_tile_hw(const rnnmcu_rnn_q_t *p, int32_t *scratch, uint32_t G)
{
    return rnnmcu_tile_xw(p, scratch, G) + 2u * ((p->input_dim + 1u) / 2u);
}

/* One tiled step: for each tile, W x (unless it comes as px: in == RNNMCU_IN_PX, x unused) and
 * U h, then the tile function.  On RNNMCU_S8_VIA_S16 an int8 step widens x (when it multiplies
 * it) and h once, and its products read the copies.  The layer's fields and the vectors'
 * addresses are read where used, not kept across the calls: fewer values live across calls, a
 * smaller frame. */
RNNMCU_ALWAYS_INLINE void rnnmcu_tiled_step(const rnnmcu_rnn_q_t *p, const void *x, int32_t *px, void *h,
                                            int16_t *c, int32_t *scratch, const uint32_t G, const int bits,
                                            const int wide, const int in, rnnmcu_tile_fn *tile)
{
    const int via16 = bits == 8 && RNNMCU_S8_VIA_S16;
    const int xbits = in == RNNMCU_IN_X16 || via16 ? 16 : bits, hbits = via16 ? 16 : bits;
    uint32_t u0;
    if (via16) {
        if (in == RNNMCU_IN_X)
            rnnmcu_widen((const int8_t *)x, p->input_dim, rnnmcu_tile_xw(p, scratch, G));
        rnnmcu_widen((const int8_t *)h, p->units, rnnmcu_tile_hw(p, scratch, G));
    }
    for (u0 = 0; u0 < p->units; u0 += RNNMCU_TILE_UNITS(G)) {
        const uint32_t tu = p->units - u0 < RNNMCU_TILE_UNITS(G) ? p->units - u0 : RNNMCU_TILE_UNITS(G);
        int32_t *const ah = scratch + rnnmcu_ah_at(p, G, in);
        if (in != RNNMCU_IN_PX)
            rnnmcu_mv_rows(wide ? (const void *)p->w16 : (const void *)p->w, wide, G * u0,
                           via16 && in == RNNMCU_IN_X ? (const void *)rnnmcu_tile_xw(p, scratch, G) : x, xbits,
                           G * tu, p->input_dim, scratch);
        rnnmcu_mv_rows(wide ? (const void *)p->u16 : (const void *)p->u, wide, G * u0,
                       via16 ? (const void *)rnnmcu_tile_hw(p, scratch, G) : h, hbits, G * tu, p->units, ah);
        tile(p, in == RNNMCU_IN_PX ? px + G * u0 : scratch, ah, u0, tu, h, c);
    }
    if (!via16 && p->units > RNNMCU_TILE_UNITS(G))
        memcpy(h, scratch + rnnmcu_ah_at(p, G, in) + G * RNNMCU_TILE_UNITS(G),
               (p->units - 1u) / RNNMCU_TILE_UNITS(G) * RNNMCU_TILE_UNITS(G) * (uint32_t)(bits / 8));
}

#endif
