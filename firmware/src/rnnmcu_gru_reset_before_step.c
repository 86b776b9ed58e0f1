/* rnnmcu — the GRU step, reset_after=0 (the original GRU):
 *   z, r = rec_act(rows z, r)   h~ = act(W_h x_t + U_h (r h_{t-1}) + b_h)   h_t = z h_{t-1} + (1 - z) h~
 * Untiled, in gate-major rows (z [0, n), r [n, 2n), candidate [2n, 3n)), since its candidate
 * product U_h (r h) needs the whole r first; scratch holds W x (ax, 3n words), U h (ah, 3n) and
 * r h (n).  A file of its own, so that a model links only the GRU form it uses.
 * codegen/qref.py's gru_step is the same arithmetic in numpy. */
#include "rnnmcu_step.h"

/* ax[r] = tab(pre(r)) for the rows [r0, r1): the reset gate r (z comes with the blend) */
RNNMCU_ALWAYS_INLINE void rnnmcu_gru_rb_gates(const rnnmcu_rnn_q_t *p, int32_t *ax, const int32_t *ah, uint32_t r0,
                                              uint32_t r1)
{
    uint32_t r;
    /* (traced: pre-activation at row r, gate value at 3 * n + r) */
    for (r = r0; r < r1; r++)
        ax[r] = RNNMCU_TAB(p->tab_rec, rnnmcu_pre(p->rq, ax, ah, r, 0), r, 3u * p->units + r);
}

/* rh = r * h, the vector that U_h multiplies */
RNNMCU_ALWAYS_INLINE void rnnmcu_gru_rb_reset_h(const rnnmcu_rnn_q_t *p, const int32_t *ax, const void *h, void *rh,
                                                const int bits)
{
    const uint32_t n = p->units;
    const int32_t q = p->q;
    uint32_t j;
    for (j = 0; j < n; j++)
        rnnmcu_act_put(rh, j, rnnmcu_act_sat32(rnnmcu_rshr(ax[n + j] * rnnmcu_act_get(h, j, bits), q), bits), bits);
}

/* the candidate rows [2n, 3n): ax[r] = sat16(pre(r)), before their table */
RNNMCU_ALWAYS_INLINE void rnnmcu_gru_rb_cand(const rnnmcu_rnn_q_t *p, int32_t *ax, const int32_t *ah)
{
    uint32_t r;
    for (r = 2u * p->units; r < 3u * p->units; r++) {
        ax[r] = rnnmcu_sat16_32(rnnmcu_pre(p->rq, ax, ah, r, 0));
        RNNMCU_TRACE_PUT(r, ax[r]);
    }
}

/* h_t: row z (whose peephole, in a peephole GRU, sees the new candidate) blends h_{t-1} and h~ */
RNNMCU_ALWAYS_INLINE void rnnmcu_gru_rb_update(const rnnmcu_rnn_q_t *p, const int32_t *ax, const int32_t *ah,
                                               void *h, int16_t *c, const int bits)
{
    const rnnmcu_gru_blend_t g = rnnmcu_gru_blend_of(p);
    const uint32_t n = p->units;
    const int16_t *const pp = p->p;
    const int16_t *const tab_rec = p->tab_rec, *const tab_act = p->tab_act;
    const rnnmcu_row_q_t *const rq = p->rq;
    const int state16 = p->state16;
    uint32_t j;
    for (j = 0; j < n; j++) {
        const int32_t ht = rnnmcu_table(tab_act, ax[2u * n + j]);
        int32_t zz = rnnmcu_pre(rq, ax, ah, j, 0);
        int32_t z;
        RNNMCU_TRACE_PUT(RNNMCU_TR_CAND(3u, 2u, n, j), ht);
        if (pp) /* peephole GRU: z sees the new candidate */
            zz += rnnmcu_peep(p, pp[j] * ht, 0u);
        z = RNNMCU_TAB(tab_rec, zz, RNNMCU_TR_PRE(n, 0u, j), RNNMCU_TR_GATE(3u, n, 0u, j));
        if (state16)
            rnnmcu_gru_h(&g, z, ht, h, h, j, c, 1, bits);
        else
            rnnmcu_gru_h(&g, z, ht, h, h, j, c, 0, bits);
    }
}

/* ---- the phases, one per activation width ---- */

RNNMCU_PHASE void rnnmcu_gru_rb_gates_ph(const rnnmcu_rnn_q_t *p, int32_t *ax, const int32_t *ah)
{
    rnnmcu_gru_rb_gates(p, ax, ah, p->units, 2u * p->units);
}

RNNMCU_PHASE void rnnmcu_gru_rb_reset_h_s8(const rnnmcu_rnn_q_t *p, const int32_t *ax, const void *h, void *rh)
{
    rnnmcu_gru_rb_reset_h(p, ax, h, rh, 8);
}

RNNMCU_PHASE void rnnmcu_gru_rb_reset_h_s16(const rnnmcu_rnn_q_t *p, const int32_t *ax, const void *h, void *rh)
{
    rnnmcu_gru_rb_reset_h(p, ax, h, rh, 16);
}

RNNMCU_PHASE void rnnmcu_gru_rb_cand_ph(const rnnmcu_rnn_q_t *p, int32_t *ax, const int32_t *ah)
{
    rnnmcu_gru_rb_cand(p, ax, ah);
}

RNNMCU_PHASE void rnnmcu_gru_rb_update_s8(const rnnmcu_rnn_q_t *p, const int32_t *ax, const int32_t *ah, void *h,
                                          int16_t *c)
{
    rnnmcu_gru_rb_update(p, ax, ah, h, c, 8);
}

RNNMCU_PHASE void rnnmcu_gru_rb_update_s16(const rnnmcu_rnn_q_t *p, const int32_t *ax, const int32_t *ah, void *h,
                                           int16_t *c)
{
    rnnmcu_gru_rb_update(p, ax, ah, h, c, 16);
}

/* The step: W x, U_zr h, z and r, r h, U_h (r h), the candidate rows, the blend */
RNNMCU_ALWAYS_INLINE void rnnmcu_gru_rb_step(const rnnmcu_rnn_q_t *p, const void *x, void *h, int16_t *c,
                                             int32_t *scratch, const int bits, const int wide)
{
    const uint32_t n = p->units, rows = 3u * n;
    int32_t *const ax = scratch, *const ah = scratch + rows;
    void *const rh = scratch + 2u * rows;  /* after the 2 * rows sums */
    int32_t *const xb = scratch + 2u * rows + n; /* the widening buffer (RNNMCU_S8_VIA_S16) */
    rnnmcu_mv(wide ? (const void *)p->w16 : (const void *)p->w, wide, x, bits, rows, p->input_dim, ax, xb);
    rnnmcu_mv(wide ? (const void *)p->u16 : (const void *)p->u, wide, h, bits, 2u * n, n, ah, xb);
    rnnmcu_gru_rb_gates_ph(p, ax, ah);
    if (bits == 8)
        rnnmcu_gru_rb_reset_h_s8(p, ax, h, rh);
    else
        rnnmcu_gru_rb_reset_h_s16(p, ax, h, rh);
    rnnmcu_mv(wide ? (const void *)p->u_cand16 : (const void *)p->u_cand, wide, rh, bits, n, n, ah + 2u * n, xb);
    rnnmcu_gru_rb_cand_ph(p, ax, ah);
    if (bits == 8)
        rnnmcu_gru_rb_update_s8(p, ax, ah, h, c);
    else
        rnnmcu_gru_rb_update_s16(p, ax, ah, h, c);
}

/* ---- the step functions ---- */

void rnnmcu_gru_reset_before_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c,
                                     int32_t *scratch)
{
    rnnmcu_gru_rb_step(p, x, h, c, scratch, 8, 0);
}

void rnnmcu_gru_reset_before_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c,
                                         int32_t *scratch)
{
    rnnmcu_gru_rb_step(p, x, h, c, scratch, 8, 1);
}

void rnnmcu_gru_reset_before_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c,
                                      int32_t *scratch)
{
    rnnmcu_gru_rb_step(p, x, h, c, scratch, 16, 0);
}

void rnnmcu_gru_reset_before_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c,
                                          int32_t *scratch)
{
    rnnmcu_gru_rb_step(p, x, h, c, scratch, 16, 1);
}
