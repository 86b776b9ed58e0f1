/* rnnmcu — the integer kernels, written once for both activation widths and both weight layouts.
 *
 * Included by rnnmcu_kernels_s8.c and rnnmcu_kernels_s16.c (and their _w16_ twins) with
 *   RNNMCU_ACT_T    int8_t / int16_t   (activations between layers, hidden state h)
 *   RNNMCU_ACT_MIN  / RNNMCU_ACT_MAX   its range, RNNMCU_ACT_BITS 8 / 16
 *   RNNMCU_SFX      s8 / s16 (w16_s8 / w16_s16)   function-name suffix
 *   RNNMCU_WIDE     1 for the recurrent step functions of the wide layout (rnnmcu_rnn_q_t's w16,
 *                   u16, u_cand16 and rnnmcu_matvec_w16_*); the other layers' functions come from
 *                   the compact build only
 * Each function mirrors its twin in codegen/qref.py operation for operation. */
#ifndef RNNMCU_SFX
#error "include from rnnmcu_kernels_s8.c or rnnmcu_kernels_s16.c"
#endif

#if defined(RNNMCU_WIDE) && RNNMCU_WIDE
#define RNNMCU_W_T int16_t
#define RNNMCU_WP(f) (p->f##16)
#else
#define RNNMCU_W_T int8_t
#define RNNMCU_WP(f) (p->f)
#endif

#include <string.h>

#include "rnnmcu_kernels.h"
#include "rnnmcu_ops.h"
#include "rnnmcu_trace.h"

#define RNNMCU_CAT2(a, b) a##_##b
#define RNNMCU_CAT(a, b) RNNMCU_CAT2(a, b)
#define RNNMCU_FN(name) RNNMCU_CAT(name, RNNMCU_SFX)

/* y[r] = sum_i W[r][i] * x[i] for a rows x cols int8 matrix stored as codegen/layout.py packs it:
 * rnnmcu_matvec_s8 / _s16 in rnnmcu_matvec_<sfx>.c, or an arch-specific replacement. */
void RNNMCU_FN(rnnmcu_matvec)(const RNNMCU_W_T *w, const RNNMCU_ACT_T *x, uint16_t rows, uint16_t cols, int32_t *y);

#define SAT_ACT(v) ((RNNMCU_ACT_T)rnnmcu_sat((v), RNNMCU_ACT_MIN, RNNMCU_ACT_MAX))
/* the same for an int32 argument: one SSAT on Cortex-M */
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
#define SAT_ACT32(v) ((RNNMCU_ACT_T)__ssat((v), RNNMCU_ACT_BITS))
#else
#define SAT_ACT32(v) SAT_ACT(v)
#endif

/* The pre-activation of row r before saturation: both requantised products plus the bias, in
 * int32 (the generator proves each term below 2^26 and clamps biases to 2^28: check_narrow). */
#define RNNMCU_PRE(r)                                                    \
    (rnnmcu_rq32_le(ax[r], rq[r].mx, rq[r].lx, rq[r].ex) +                \
     rnnmcu_rq32_le(ah[r], rq[r].mh, rq[r].lh, rq[r].eh) + rq[r].b)

/* A peephole term p * v (int16 x int16) requantised into the recurrent pre-activation; proven
 * below 2^26, so the int64 of rnnmcu_rq narrows exactly. */
#define RNNMCU_PEEP(pv, g) ((int32_t)rnnmcu_rq((pv), p->mp[g], p->shp[g]))

/* Table outputs are interpolations between two int16 entries, so they need no saturation. */

/* The phases of a step are separate functions, called one after the other, so that their stack
 * frames do not add up (a step's stack is its own small frame plus the largest phase's, not the
 * sum of every loop's spills), and each loop has only its own values live. */
#if defined(__GNUC__) || defined(__clang__)
#define RNNMCU_PHASE static __attribute__((noinline))
#else
#define RNNMCU_PHASE static
#endif

#if RNNMCU_ACT_BITS == 8 && defined(RNNMCU_S8_VIA_S16)
/* the int16-activation kernel of the layout */
#if defined(RNNMCU_WIDE) && RNNMCU_WIDE
#define RNNMCU_MV16 rnnmcu_matvec_w16_s16
#else
#define RNNMCU_MV16 rnnmcu_matvec_s16
#endif
/* xb[0..n) = v[0..n) as int16 */
static void RNNMCU_FN(rnnmcu_widen)(const int8_t *v, uint32_t n, int16_t *xb)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        xb[i] = v[i];
}
/* An int8 product through the int16 kernel (rnnmcu_kernels.h, RNNMCU_S8_VIA_S16): v widened once
 * into xb, the scratch words after the step's own (a dense layer's too, so that a model links the
 * int16 kernel only) */
static inline void RNNMCU_FN(rnnmcu_mv_via16)(const RNNMCU_W_T *w, const int8_t *v, uint16_t rows, uint16_t cols,
                                              int32_t *y, int16_t *xb)
{
    RNNMCU_FN(rnnmcu_widen)(v, cols, xb);
    RNNMCU_MV16(w, xb, rows, cols, y);
}
#define RNNMCU_MV(w, v, r, c, y, xw) RNNMCU_FN(rnnmcu_mv_via16)((w), (v), (r), (c), (y), (int16_t *)(void *)(xw))
#else
#define RNNMCU_MV(w, v, r, c, y, xw) RNNMCU_FN(rnnmcu_matvec)((w), (v), (r), (c), (y))
#endif
/* the words a recurrent step's widened vector may use: after its W x, U h and r * h */
#define RNNMCU_XW (scratch + 2u * rows + n)

/* What a phase starts with: the per-row records of the layer (rnnmcu_row_q_t); ax holds W x
 * (then the gate values), ah holds U h. */
#define RNNMCU_ROW_LOCALS const rnnmcu_row_q_t *const rq = p->rq

/* ax[r] = tab(sat16(pre(r))) for the rows [r0, r1): the gates without peepholes */
RNNMCU_PHASE void RNNMCU_FN(rnnmcu_gate_rows)(const rnnmcu_rnn_q_t *p, int32_t *ax, const int32_t *ah,
                                              uint32_t r0, uint32_t r1, const int16_t *tab)
{
    RNNMCU_ROW_LOCALS;
    uint32_t r;
    /* (traced as the untiled GRU's rows: pre-activation at row r, gate value at 3 * n + r) */
    for (r = r0; r < r1; r++)
        ax[r] = RNNMCU_TAB(tab, RNNMCU_PRE(r), r, 3u * p->units + r);
}

/* ---- the tiled steps (every cell form but GRU reset_after=0): rnnmcu_qtiles_impl.h, once for
 * steps that compute their own W x and once for steps of run() whose W x rnnmcu_rnn_proj computed
 * for a block of steps at once ---- */

/* c_t = f * c_{t-1} + i * g, saturated to int16.  Each product is at most 2^30, so with q >= 1
 * (every bounded gate activation) the sum of the two shifted products fits in int32; q = 0 (an
 * unbounded recurrent activation with a huge range) takes the 64-bit sum. */
#define RNNMCU_LSTM_C(i_, f_, g_, cj)                                                              \
    (q > 0 ? rnnmcu_sat16_32(rnnmcu_rshr((f_) * (cj), q) + rnnmcu_rshr((i_) * (g_), q))          \
           : rnnmcu_sat16((int64_t)rnnmcu_rshr((f_) * (cj), q) + rnnmcu_rshr((i_) * (g_), q)))

/* h_t of a GRU unit: z blends h_{t-1} (hk = h * 2^k) and the candidate ht.  With unit_gate, z in
 * [0, 2^q] makes the blend a convex combination of hk and ht (both int16 range: h is int16 with
 * k = 0 or int8 with k = 8) scaled by 2^q <= 2^15: at most 2^30, and 2^(q+k-1) <= 2^22 of
 * rounding keeps it below 2^31, so it is summed in int32; other gates take the 64-bit sum. */
#define RNNMCU_GRU_BLEND(z, hk, ht)                                                                 \
    (unit_gate ? SAT_ACT32(rnnmcu_rshr((z) * (hk) + (((int32_t)1 << q) - (z)) * (ht), q + k))       \
               : SAT_ACT(rnnmcu_rshr64((int64_t)(z) * (hk) + (int64_t)(((int32_t)1 << q) - (z)) * (ht), q + k)))
/* The same blend of the 16-bit state cj (state16: h at s_h / 2^k) and ht, to the new state (int16;
 * the same int32 bound holds, cj and ht both int16) */
#define RNNMCU_GRU_BLEND16(z, cj, ht)                                                               \
    (unit_gate ? rnnmcu_sat16_32(rnnmcu_rshr((z) * (cj) + (((int32_t)1 << q) - (z)) * (ht), q))     \
               : rnnmcu_sat16(rnnmcu_rshr64((int64_t)(z) * (cj) + (int64_t)(((int32_t)1 << q) - (z)) * (ht), q)))
/* Unit j's new h (and, with state16, its new state c[j]) from z and the candidate ht */
#define RNNMCU_GRU_H(hn_j, h_j, cj_ptr, z, ht)                                                      \
    do {                                                                                         \
        if (state16) {                                                                           \
            const int32_t cn_ = RNNMCU_GRU_BLEND16((z), (int32_t)*(cj_ptr), (ht));               \
            *(cj_ptr) = (int16_t)cn_;                                                            \
            (hn_j) = SAT_ACT32(rnnmcu_rshr(cn_, k));                                             \
        } else {                                                                                 \
            (hn_j) = RNNMCU_GRU_BLEND((z), (int32_t)(h_j) * ((int32_t)1 << k), (ht));             \
        }                                                                                        \
    } while (0)

#define RNNMCU_PXM 0
#include "rnnmcu_qtiles_impl.h"
#undef RNNMCU_PXM
#define RNNMCU_PXM 1
#include "rnnmcu_qtiles_impl.h"
#undef RNNMCU_PXM
#if RNNMCU_ACT_BITS == 8 /* an int8 model's first layer on 16-bit inputs */
#define RNNMCU_PXM 2
#include "rnnmcu_qtiles_impl.h"
#undef RNNMCU_PXM
#endif

#undef RNNMCU_LSTM_C

/* W x requantised, plus the bias, for `steps` consecutive input vectors (x[steps][input_dim]) of a
 * tiled layer: px[t][r], G*units words per step in the layer's row order, what
 * rnnmcu_<cell>_step_px_<sfx> takes in place of x (run() with input projections: codegen/emit.py).
 * The products run step by step through the step's own kernel; the requantisation runs row by row
 * over the block, each row's multiplier, shifts and bias loaded once per block rather than once
 * per step.  scratch: the widening buffer on Xtensa (RNNMCU_XBUF_WORDS(input_dim) words). */
void RNNMCU_FN(rnnmcu_rnn_proj)(const rnnmcu_rnn_q_t *p, const RNNMCU_ACT_T *x, uint16_t steps, int32_t *px,
                                int32_t *scratch)
{
    const uint32_t rows = RNNMCU_CELL_GATES(p->cell) * p->units, cols = p->input_dim;
    uint32_t t, r;
    (void)scratch;
    for (t = 0; t < steps; t++)
        RNNMCU_MV(RNNMCU_WP(w), x + t * cols, (uint16_t)rows, (uint16_t)cols, px + t * rows, scratch);
    for (r = 0; r < rows; r++) {
        const int32_t m = p->rq[r].mx, b = p->rq[r].b;
        const uint32_t l = p->rq[r].lx, e = p->rq[r].ex;
        int32_t *y = px + r;
        for (t = 0; t < steps; t++, y += rows)
            *y = rnnmcu_rq32_le(*y, m, l, e) + b;
    }
}


/* ---- GRU reset_after=0: untiled, in gate-major rows (z [0, n), r [n, 2n), candidate [2n, 3n)),
 * since its candidate product U_c (r * h) needs the whole r first ---- */

/* What the untiled step starts with: its G*n gate rows; scratch holds W x in ax and U h in ah. */
#define RNNMCU_STEP_LOCALS(G)                                          \
    const uint16_t n = p->units;                                       \
    const uint16_t rows = (uint16_t)((G) * n);                         \
    int32_t *const ax = scratch;                                       \
    int32_t *const ah = scratch + rows

/* GRU reset_after=0: r * h, the vector that U_c multiplies */
RNNMCU_PHASE void RNNMCU_FN(rnnmcu_gru_reset_h)(const rnnmcu_rnn_q_t *p, const int32_t *ax, const RNNMCU_ACT_T *h,
                                                RNNMCU_ACT_T *rh)
{
    const uint16_t n = p->units;
    const int32_t q = p->q;
    uint16_t j;
    for (j = 0; j < n; j++)
        rh[j] = SAT_ACT32(rnnmcu_rshr(ax[n + j] * (int32_t)h[j], q));
}

/* ax[r] = sat16(pre(r)) for the rows [r0, r1): GRU reset_after=0's candidate before its table */
RNNMCU_PHASE void RNNMCU_FN(rnnmcu_pre_rows)(const rnnmcu_rnn_q_t *p, int32_t *ax, const int32_t *ah,
                                             uint32_t r0, uint32_t r1)
{
    RNNMCU_ROW_LOCALS;
    uint32_t r;
    for (r = r0; r < r1; r++) {
        ax[r] = rnnmcu_sat16_32(RNNMCU_PRE(r));
        RNNMCU_TRACE_PUT(r, ax[r]);
    }
}

/* GRU h_t: row z (whose peephole, in a peephole GRU, sees the new candidate) blends h_{t-1} and
 * the candidate */
RNNMCU_PHASE void RNNMCU_FN(rnnmcu_gru_update)(const rnnmcu_rnn_q_t *p, const int32_t *ax, const int32_t *ah,
                                               RNNMCU_ACT_T *h, int16_t *c)
{
    RNNMCU_ROW_LOCALS;
    const uint16_t n = p->units;
    const int32_t q = p->q, k = p->k;
    const int16_t *const pp = p->p;
    const int16_t *const tab_rec = p->tab_rec, *const tab_act = p->tab_act;
    const int unit_gate = p->unit_gate, state16 = p->state16;
    uint16_t j;
    for (j = 0; j < n; j++) {
        const int32_t ht = rnnmcu_table(tab_act, ax[2u * n + j]);
        int32_t zz = RNNMCU_PRE(j);
        RNNMCU_TRACE_PUT(RNNMCU_TR_CAND(3u, 2u, n, j), ht);
        if (pp) /* peephole GRU: z sees the new candidate */
            zz += RNNMCU_PEEP(pp[j] * ht, 0);
        {
            const int32_t z = RNNMCU_TAB(tab_rec, zz, RNNMCU_TR_PRE(n, 0u, j), RNNMCU_TR_GATE(3u, n, 0u, j));
            RNNMCU_GRU_H(h[j], h[j], c + j, z, ht);
            if (state16)
                RNNMCU_TRACE_PUT(RNNMCU_TR_C(3u, 2u, n, j), c[j]);
        }
    }
}

#undef RNNMCU_GRU_BLEND
#undef RNNMCU_GRU_BLEND16
#undef RNNMCU_GRU_H

/* GRU reset_after=0 (the original GRU): U_c multiplies r * h; a function of its own, so that a
 * model links only the GRU form it uses */
void RNNMCU_FN(rnnmcu_gru_reset_before_step)(const rnnmcu_rnn_q_t *p, const RNNMCU_ACT_T *x, RNNMCU_ACT_T *h,
                                             int16_t *c, int32_t *scratch)
{
    RNNMCU_STEP_LOCALS(3u);
    RNNMCU_ACT_T *const rh = (RNNMCU_ACT_T *)(scratch + 2u * rows); /* after the 2 * rows sums */

    RNNMCU_MV(RNNMCU_WP(w), x, rows, p->input_dim, ax, RNNMCU_XW);
    RNNMCU_MV(RNNMCU_WP(u), h, (uint16_t)(2u * n), n, ah, RNNMCU_XW);
    RNNMCU_FN(rnnmcu_gate_rows)(p, ax, ah, n, 2u * n, p->tab_rec);
    RNNMCU_FN(rnnmcu_gru_reset_h)(p, ax, h, rh);
    RNNMCU_MV(RNNMCU_WP(u_cand), rh, n, n, ah + 2u * n, RNNMCU_XW);
    RNNMCU_FN(rnnmcu_pre_rows)(p, ax, ah, 2u * n, 3u * n);
    RNNMCU_FN(rnnmcu_gru_update)(p, ax, ah, h, c);
}

void RNNMCU_FN(rnnmcu_rnn_step)(const rnnmcu_rnn_q_t *p, const RNNMCU_ACT_T *x, RNNMCU_ACT_T *h, int16_t *c,
                                 int32_t *scratch)
{
    if (p->cell == RNNMCU_CELL_SIMPLE)
        RNNMCU_FN(rnnmcu_simple_step)(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM && p->p)
        RNNMCU_FN(rnnmcu_peephole_lstm_step)(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM)
        RNNMCU_FN(rnnmcu_lstm_step)(p, x, h, c, scratch);
    else if (p->reset_after)
        RNNMCU_FN(rnnmcu_gru_step)(p, x, h, c, scratch);
    else
        RNNMCU_FN(rnnmcu_gru_reset_before_step)(p, x, h, c, scratch);
}

#undef RNNMCU_STEP_LOCALS
#undef RNNMCU_ROW_LOCALS
#undef RNNMCU_PHASE
#undef RNNMCU_PRE
#undef RNNMCU_PEEP

#if !(defined(RNNMCU_WIDE) && RNNMCU_WIDE) /* the other layers: in the compact build only */

void RNNMCU_FN(rnnmcu_merge)(const rnnmcu_merge_q_t *p, const RNNMCU_ACT_T *a, const RNNMCU_ACT_T *b,
                             RNNMCU_ACT_T *y)
{
    uint16_t j;
    for (j = 0; j < p->units; j++) {
        const int32_t v = p->mode == RNNMCU_MERGE_MUL ? (int32_t)a[j] * b[j] : (int32_t)a[j] + b[j];
        y[j] = SAT_ACT(rnnmcu_rq(v, p->m, p->sh));
    }
}

void RNNMCU_FN(rnnmcu_dense)(const rnnmcu_dense_q_t *p, const RNNMCU_ACT_T *x, RNNMCU_ACT_T *y,
                             int32_t *scratch)
{
    uint16_t r;
    RNNMCU_MV(p->w, x, p->output_dim, p->input_dim, scratch, scratch + p->output_dim);
    for (r = 0; r < p->output_dim; r++) {
        const int32_t pre = rnnmcu_sat16_32(rnnmcu_rq32(scratch[r], p->m[r], p->sh[r]) + p->b[r]);
        RNNMCU_TRACE_PUT(r, pre);
        y[r] = SAT_ACT32(rnnmcu_rshr(rnnmcu_table(p->tab, pre), p->k));
    }
}

void RNNMCU_FN(rnnmcu_activation)(const rnnmcu_act_q_t *p, const RNNMCU_ACT_T *x, RNNMCU_ACT_T *y)
{
    uint16_t i;
    for (i = 0; i < p->dim; i++) {
        const int32_t t = rnnmcu_sat16(rnnmcu_table(p->tab, (int32_t)x[i] * ((int32_t)1 << p->kin)));
        y[i] = SAT_ACT32(rnnmcu_rshr(t, p->k));
    }
}

void RNNMCU_FN(rnnmcu_softmax)(const rnnmcu_softmax_q_t *p, const RNNMCU_ACT_T *x, RNNMCU_ACT_T *y)
{
    int32_t m = x[0], s = 0;
    uint16_t i;
    for (i = 1; i < p->dim; i++)
        if (x[i] > m)
            m = x[i];
    for (i = 0; i < p->dim; i++) {
        const int32_t d = rnnmcu_sat16((int64_t)(x[i] - m) * ((int32_t)1 << p->kin));
        s += rnnmcu_sat(rnnmcu_table(p->tab, d), 0, 32767);
    }
    for (i = 0; i < p->dim; i++) {
        const int32_t d = rnnmcu_sat16((int64_t)(x[i] - m) * ((int32_t)1 << p->kin));
        const int32_t e = rnnmcu_sat(rnnmcu_table(p->tab, d), 0, 32767);
        const int32_t v = ((e << p->qo) + (s >> 1)) / s;
        y[i] = (RNNMCU_ACT_T)(v > RNNMCU_ACT_MAX ? RNNMCU_ACT_MAX : v);
    }
}

#endif /* !RNNMCU_WIDE */

#undef SAT_ACT
#undef SAT_ACT32
#undef RNNMCU_W_T
#undef RNNMCU_WP
#undef RNNMCU_MV
#undef RNNMCU_XW
#ifdef RNNMCU_MV16
#undef RNNMCU_MV16
#endif
