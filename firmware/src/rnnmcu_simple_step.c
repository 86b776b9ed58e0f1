/* rnnmcu — the SimpleRNN step: h_t = act(W x_t + U h_{t-1} + b), one gate row per unit.
 * rnnmcu_simple_step_<sfx> in every activation width (s8, s16), weight layout (w16_: int16
 * weights, rnnmcu build --wide-weights) and input form (px: input projections; x16: an int8
 * model's 16-bit inputs): rnnmcu_step.h has the tile loop they share.  codegen/qref.py's
 * simple_step is the same arithmetic in numpy. */
#include "rnnmcu_step.h"

/* the tile's units: their pre-activations through the activation's table, into h's scale (k) */
RNNMCU_ALWAYS_INLINE void rnnmcu_simple_tile(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                             uint32_t tu, void *h, int16_t *c, const int bits, const int px)
{
    void *const hn = rnnmcu_tile_hn(p, ah, h, u0, tu, 1u, bits);
    const rnnmcu_row_q_t *const rq = p->rq + u0;
    const int32_t k = p->k;
    const int16_t *const tab = p->tab_act;
    uint32_t r;
    (void)c;
    for (r = 0; r < tu; r++) {
        const int32_t a = RNNMCU_TAB(tab, rnnmcu_pre(rq, ax, ah, r, px), u0 + r, RNNMCU_TR_NONE);
        rnnmcu_act_put(hn, u0 + r, rnnmcu_act_sat32(rnnmcu_rshr(a, k), bits), bits);
    }
}

/* ---- the tiles, one phase per activation width and input form ---- */

RNNMCU_PHASE void rnnmcu_simple_tile_s8(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                        uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_simple_tile(p, ax, ah, u0, tu, h, c, 8, 0);
}

RNNMCU_PHASE void rnnmcu_simple_tile_px_s8(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                           uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_simple_tile(p, ax, ah, u0, tu, h, c, 8, 1);
}

RNNMCU_PHASE void rnnmcu_simple_tile_s16(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                         uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_simple_tile(p, ax, ah, u0, tu, h, c, 16, 0);
}

RNNMCU_PHASE void rnnmcu_simple_tile_px_s16(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                            uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_simple_tile(p, ax, ah, u0, tu, h, c, 16, 1);
}

/* ---- the step functions: x, then (px) input projections, then (x16) 16-bit inputs ---- */

void rnnmcu_simple_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 1u, 8, 0, RNNMCU_IN_X, rnnmcu_simple_tile_s8);
}

void rnnmcu_simple_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h,
                               int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 1u, 8, 1, RNNMCU_IN_X, rnnmcu_simple_tile_s8);
}

void rnnmcu_simple_step_px_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 1u, 8, 0, RNNMCU_IN_PX, rnnmcu_simple_tile_px_s8);
}

void rnnmcu_simple_step_px_w16_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h,
                                  int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 1u, 8, 1, RNNMCU_IN_PX, rnnmcu_simple_tile_px_s8);
}

void rnnmcu_simple_step_x16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                               int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 1u, 8, 0, RNNMCU_IN_X16, rnnmcu_simple_tile_s8);
}

void rnnmcu_simple_step_x16_w16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                                   int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 1u, 8, 1, RNNMCU_IN_X16, rnnmcu_simple_tile_s8);
}

void rnnmcu_simple_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h,
                            int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 1u, 16, 0, RNNMCU_IN_X, rnnmcu_simple_tile_s16);
}

void rnnmcu_simple_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h,
                                int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 1u, 16, 1, RNNMCU_IN_X, rnnmcu_simple_tile_s16);
}

void rnnmcu_simple_step_px_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 1u, 16, 0, RNNMCU_IN_PX, rnnmcu_simple_tile_px_s16);
}

void rnnmcu_simple_step_px_w16_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h,
                                   int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 1u, 16, 1, RNNMCU_IN_PX, rnnmcu_simple_tile_px_s16);
}
