/* rnnmcu — the GRU step, reset_after=1 (Keras' default; rnnmcu_gru_reset_before_step.c has the
 * original form):
 *   z, r = rec_act(rows z, r)   h~ = act(W_h x_t + b_h + r (U_h h_{t-1} + b_rec))
 *   h_t = z h_{t-1} + (1 - z) h~
 * rnnmcu_gru_step_<sfx> in every activation width (s8, s16), weight layout (w16_: int16 weights,
 * rnnmcu build --wide-weights) and input form (px: input projections; x16: an int8 model's 16-bit
 * inputs): rnnmcu_step.h has the tile loop they share.  codegen/qref.py's gru_step is the same
 * arithmetic in numpy. */
#include "rnnmcu_step.h"

/* The tile's units from their candidate pre-activations (ax) on: h~, z (whose peephole, in a
 * peephole GRU, sees the new candidate) and the blend; state16 a constant (two loops). */
RNNMCU_ALWAYS_INLINE void rnnmcu_gru_units(const rnnmcu_rnn_q_t *p, const int32_t *ax, const int32_t *ah,
                                           const rnnmcu_row_q_t *rq, uint32_t u0, uint32_t tu, const void *h,
                                           void *hn, int16_t *c, const int state16, const int bits, const int px)
{
    const rnnmcu_gru_blend_t g = rnnmcu_gru_blend_of(p);
    const int16_t *const pp = p->p ? p->p + u0 : 0;
    const int16_t *const tab_rec = p->tab_rec, *const tab_act = p->tab_act;
    uint32_t j;
    for (j = 0; j < tu; j++) {
        const uint32_t r = 3u * j;
        const int32_t ht = rnnmcu_table(tab_act, ax[r + RNNMCU_GRU_GATE_H]);
        int32_t zz = rnnmcu_pre(rq, ax, ah, r + RNNMCU_GRU_GATE_Z, px);
        int32_t z;
        RNNMCU_TRACE_PUT(RNNMCU_TR_CAND(3u, 2u, g.units, u0 + j), ht);
        if (pp) /* peephole GRU: z sees the new candidate */
            zz += rnnmcu_peep(p, pp[j] * ht, 0u);
        z = RNNMCU_TAB(tab_rec, zz, RNNMCU_TR_PRE(g.units, 0u, u0 + j), RNNMCU_TR_GATE(3u, g.units, 0u, u0 + j));
        rnnmcu_gru_h(&g, z, ht, h, hn, u0 + j, c, state16, bits);
    }
}

/* the tile's units: r, then the candidate pre-activation px + r * (U_h h + b_rec), saturated (in
 * place of the candidate's W x); then rnnmcu_gru_units */
RNNMCU_ALWAYS_INLINE void rnnmcu_gru_tile(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                          uint32_t tu, void *h, int16_t *c, const int bits, const int px)
{
    void *const hn = rnnmcu_tile_hn(p, ah, h, u0, tu, 3u, bits);
    const rnnmcu_row_q_t *const rq = p->rq + 3u * u0;
    const int32_t q = p->q;
    uint32_t j;
    {
        const int32_t *const b_rec = p->b_rec + u0; /* the candidate rows' own */
        const int16_t *const tab_rec = p->tab_rec;
        for (j = 0; j < tu; j++) {
            const uint32_t r = 3u * j + RNNMCU_GRU_GATE_R, rc = 3u * j + RNNMCU_GRU_GATE_H;
            const int32_t r_ = RNNMCU_TAB(tab_rec, rnnmcu_pre(rq, ax, ah, r, px), RNNMCU_TR_PRE(p->units, 1u, u0 + j),
                                          RNNMCU_TR_GATE(3u, p->units, 1u, u0 + j));
            const int32_t xh = rnnmcu_sat16_32(rnnmcu_pre_x(rq, ax, rc, px));
            const int32_t uh = rnnmcu_sat16_32(rnnmcu_rq32_le(ah[rc], rq[rc].mh, rq[rc].lh, rq[rc].eh) + b_rec[j]);
            ax[rc] = rnnmcu_sat16_32(xh + rnnmcu_rshr(r_ * uh, q));
            RNNMCU_TRACE_PUT(RNNMCU_TR_PRE(p->units, 2u, u0 + j), ax[rc]);
        }
    }
    /* the blend, with the 16-bit state's test outside the loop (each branch a loop of its own) */
    if (p->state16)
        rnnmcu_gru_units(p, ax, ah, rq, u0, tu, h, hn, c, 1, bits, px);
    else
        rnnmcu_gru_units(p, ax, ah, rq, u0, tu, h, hn, c, 0, bits, px);
}

/* ---- the tiles, one phase per activation width and input form ---- */

RNNMCU_PHASE void rnnmcu_gru_tile_s8(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                     uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_gru_tile(p, ax, ah, u0, tu, h, c, 8, 0);
}

RNNMCU_PHASE void rnnmcu_gru_tile_px_s8(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                        uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_gru_tile(p, ax, ah, u0, tu, h, c, 8, 1);
}

RNNMCU_PHASE void rnnmcu_gru_tile_s16(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                      uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_gru_tile(p, ax, ah, u0, tu, h, c, 16, 0);
}

RNNMCU_PHASE void rnnmcu_gru_tile_px_s16(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                         uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_gru_tile(p, ax, ah, u0, tu, h, c, 16, 1);
}

/* ---- the step functions: x, then (px) input projections, then (x16) 16-bit inputs ---- */

void rnnmcu_gru_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 3u, 8, 0, RNNMCU_IN_X, rnnmcu_gru_tile_s8);
}

void rnnmcu_gru_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 3u, 8, 1, RNNMCU_IN_X, rnnmcu_gru_tile_s8);
}

void rnnmcu_gru_step_px_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 3u, 8, 0, RNNMCU_IN_PX, rnnmcu_gru_tile_px_s8);
}

void rnnmcu_gru_step_px_w16_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 3u, 8, 1, RNNMCU_IN_PX, rnnmcu_gru_tile_px_s8);
}

void rnnmcu_gru_step_x16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                            int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 3u, 8, 0, RNNMCU_IN_X16, rnnmcu_gru_tile_s8);
}

void rnnmcu_gru_step_x16_w16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                                int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 3u, 8, 1, RNNMCU_IN_X16, rnnmcu_gru_tile_s8);
}

void rnnmcu_gru_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 3u, 16, 0, RNNMCU_IN_X, rnnmcu_gru_tile_s16);
}

void rnnmcu_gru_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h,
                             int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 3u, 16, 1, RNNMCU_IN_X, rnnmcu_gru_tile_s16);
}

void rnnmcu_gru_step_px_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 3u, 16, 0, RNNMCU_IN_PX, rnnmcu_gru_tile_px_s16);
}

void rnnmcu_gru_step_px_w16_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h,
                                int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 3u, 16, 1, RNNMCU_IN_PX, rnnmcu_gru_tile_px_s16);
}
