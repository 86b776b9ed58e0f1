/* rnnmcu — the integer kernels, written once for both activation widths.
 *
 * Included by rnnmcu_kernels_s8.c and rnnmcu_kernels_s16.c with
 *   RNNMCU_ACT_T    int8_t / int16_t   (activations between layers, hidden state h)
 *   RNNMCU_ACT_MIN  / RNNMCU_ACT_MAX   its range
 *   RNNMCU_SFX      s8 / s16           function-name suffix
 * Each function mirrors its twin in codegen/qref.py operation for operation. */
#ifndef RNNMCU_SFX
#error "include from rnnmcu_kernels_s8.c or rnnmcu_kernels_s16.c"
#endif

#include "rnnmcu_kernels.h"
#include "rnnmcu_ops.h"

#define RNNMCU_CAT2(a, b) a##_##b
#define RNNMCU_CAT(a, b) RNNMCU_CAT2(a, b)
#define RNNMCU_FN(name) RNNMCU_CAT(name, RNNMCU_SFX)

/* y[r] = sum_i W[r][i] * x[i] for a rows x cols int8 matrix stored as codegen/layout.py packs it:
 * rnnmcu_matvec_s8 / _s16 in rnnmcu_matvec_<sfx>.c, or an arch-specific replacement. */
void RNNMCU_FN(rnnmcu_matvec)(const int8_t *w, const RNNMCU_ACT_T *x, uint16_t rows, uint16_t cols, int32_t *y);

#define SAT_ACT(v) ((RNNMCU_ACT_T)rnnmcu_sat((v), RNNMCU_ACT_MIN, RNNMCU_ACT_MAX))

void RNNMCU_FN(rnnmcu_rnn_step)(const rnnmcu_rnn_q_t *p, const RNNMCU_ACT_T *x, RNNMCU_ACT_T *h,
                                int16_t *c, int32_t *scratch)
{
    const uint16_t n = p->units, in = p->input_dim;
    const int32_t q = p->q, k = p->k;
    const uint16_t G = p->cell == RNNMCU_CELL_LSTM ? 4u : (p->cell == RNNMCU_CELL_GRU ? 3u : 1u);
    const uint16_t rows = (uint16_t)(G * n);
    int32_t *ax = scratch;         /* G*n: W x, then the gate values */
    int32_t *ah = scratch + rows;  /* G*n: U h */
    uint32_t r;
    uint16_t j;

    RNNMCU_FN(rnnmcu_matvec)(p->w, x, rows, in, ax);
    if (p->cell == RNNMCU_CELL_SIMPLE || p->cell == RNNMCU_CELL_LSTM) {
        /* rows i, f, g (LSTM) or all rows (SimpleRNN) now; LSTM's o after c_t (its peephole sees c_t) */
        const uint32_t first = p->cell == RNNMCU_CELL_LSTM ? 3u * n : n;
        RNNMCU_FN(rnnmcu_matvec)(p->u, h, rows, n, ah);
        for (r = 0; r < first; r++) {
            int64_t z = rnnmcu_rq(ax[r], p->mx[r], p->shx[r]) + rnnmcu_rq(ah[r], p->mh[r], p->shh[r]) + p->b[r];
            if (p->p && r < 2u * n) { /* peephole LSTM: i and f see c_{t-1} */
                const uint32_t g = r / n;
                z += rnnmcu_rq(p->p[r] * (int32_t)c[r - g * n], p->mp[g], p->shp[g]);
            }
            {
                const int is_act = p->cell == RNNMCU_CELL_SIMPLE || r >= 2u * n;
                ax[r] = rnnmcu_sat16(rnnmcu_table(is_act ? p->tab_act : p->tab_rec, rnnmcu_sat16(z)));
            }
        }
        if (p->cell == RNNMCU_CELL_SIMPLE) {
            for (j = 0; j < n; j++)
                h[j] = SAT_ACT(rnnmcu_rshr(ax[j], k));
            return;
        }
        for (j = 0; j < n; j++) {
            const uint32_t ro = 3u * n + j;
            const int32_t i_ = ax[j], f_ = ax[n + j], g_ = ax[2 * n + j];
            const int32_t c_new = rnnmcu_sat16((int64_t)rnnmcu_rshr(f_ * c[j], q) + rnnmcu_rshr(i_ * g_, q));
            int64_t zo = rnnmcu_rq(ax[ro], p->mx[ro], p->shx[ro]) + rnnmcu_rq(ah[ro], p->mh[ro], p->shh[ro]) + p->b[ro];
            if (p->p) /* peephole LSTM: o sees c_t */
                zo += rnnmcu_rq(p->p[2u * n + j] * c_new, p->mp[2], p->shp[2]);
            {
                const int32_t o_ = rnnmcu_sat16(rnnmcu_table(p->tab_rec, rnnmcu_sat16(zo)));
                const int32_t t = rnnmcu_sat16(rnnmcu_table(p->tab_out, c_new));
                h[j] = SAT_ACT(rnnmcu_rshr(o_ * t, q + k));
            }
            c[j] = (int16_t)c_new;
        }
        return;
    }

    /* GRU: rows z [0, n), r [n, 2n), candidate [2n, 3n); r first, then the candidate, then z
     * (whose peephole, in a peephole GRU, sees the new candidate) */
    RNNMCU_FN(rnnmcu_matvec)(p->u, h, p->reset_after ? rows : (uint16_t)(2u * n), n, ah);
    for (r = n; r < 2u * n; r++) {
        const int32_t pre = rnnmcu_sat16(rnnmcu_rq(ax[r], p->mx[r], p->shx[r]) +
                                         rnnmcu_rq(ah[r], p->mh[r], p->shh[r]) + p->b[r]);
        ax[r] = rnnmcu_sat16(rnnmcu_table(p->tab_rec, pre));
    }
    if (p->reset_after) {
        for (j = 0; j < n; j++) {
            const uint32_t row = 2u * n + j;
            const int32_t px = rnnmcu_sat16(rnnmcu_rq(ax[row], p->mx[row], p->shx[row]) + p->b[row]);
            const int32_t ph = rnnmcu_sat16(rnnmcu_rq(ah[row], p->mh[row], p->shh[row]) + p->b_rec[row]);
            ax[row] = rnnmcu_sat16((int64_t)px + rnnmcu_rshr(ax[n + j] * ph, q));
        }
    } else {
        RNNMCU_ACT_T *rh = (RNNMCU_ACT_T *)(scratch + 2u * rows); /* n values */
        for (j = 0; j < n; j++)
            rh[j] = SAT_ACT(rnnmcu_rshr(ax[n + j] * (int32_t)h[j], q));
        RNNMCU_FN(rnnmcu_matvec)(p->u_cand, rh, n, n, ah + 2u * n);
        for (j = 0; j < n; j++) {
            const uint32_t row = 2u * n + j;
            ax[row] = rnnmcu_sat16(rnnmcu_rq(ax[row], p->mx[row], p->shx[row]) +
                                   rnnmcu_rq(ah[row], p->mh[row], p->shh[row]) + p->b[row]);
        }
    }
    for (j = 0; j < n; j++) {
        const int32_t ht = rnnmcu_sat16(rnnmcu_table(p->tab_act, ax[2u * n + j]));
        int64_t zz = rnnmcu_rq(ax[j], p->mx[j], p->shx[j]) + rnnmcu_rq(ah[j], p->mh[j], p->shh[j]) + p->b[j];
        if (p->p) /* peephole GRU: z sees the new candidate */
            zz += rnnmcu_rq(p->p[j] * ht, p->mp[0], p->shp[0]);
        {
            const int32_t z = rnnmcu_sat16(rnnmcu_table(p->tab_rec, rnnmcu_sat16(zz)));
            const int64_t num = (int64_t)z * ((int32_t)h[j] * ((int32_t)1 << k)) +
                                (int64_t)(((int32_t)1 << q) - z) * ht;
            h[j] = SAT_ACT(rnnmcu_rshr64(num, q + k));
        }
    }
}

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
    RNNMCU_FN(rnnmcu_matvec)(p->w, x, p->output_dim, p->input_dim, scratch);
    for (r = 0; r < p->output_dim; r++) {
        const int32_t pre = rnnmcu_sat16(rnnmcu_rq(scratch[r], p->m[r], p->sh[r]) + p->b[r]);
        y[r] = SAT_ACT(rnnmcu_rshr(rnnmcu_sat16(rnnmcu_table(p->tab, pre)), p->k));
    }
}

void RNNMCU_FN(rnnmcu_activation)(const rnnmcu_act_q_t *p, const RNNMCU_ACT_T *x, RNNMCU_ACT_T *y)
{
    uint16_t i;
    for (i = 0; i < p->dim; i++) {
        const int32_t t = rnnmcu_sat16(rnnmcu_table(p->tab, (int32_t)x[i] * ((int32_t)1 << p->kin)));
        y[i] = SAT_ACT(rnnmcu_rshr(t, p->k));
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

#undef SAT_ACT
