/* rnnmcu — the LSTM step with peepholes (p->p set): i and f also see c_{t-1}, o sees c_t
 *   i, f = rec_act(row + p c_{t-1})   g = act(row g)   c_t = f c_{t-1} + i g
 *   o = rec_act(row o + p_o c_t)      h_t = o out_act(c_t)
 * A file of its own, so that a plain LSTM does not link the peephole code.  The peepholes are
 * stored gate-major: p[g*n + unit] for g = i, f, o.  rnnmcu_peephole_lstm_step_<sfx> in every
 * activation width, weight layout and input form (rnnmcu_lstm_step.c); codegen/qref.py's
 * lstm_step is the same arithmetic in numpy. */
#include "rnnmcu_step.h"

/* the tile's units: i, f (with c_{t-1}) and g through their tables (in place in ax); then c_t,
 * row o with c_t, and h_t */
RNNMCU_ALWAYS_INLINE void rnnmcu_peephole_lstm_tile(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                                    uint32_t tu, void *h, int16_t *c, const int bits, const int px)
{
    void *const hn = rnnmcu_tile_hn(p, ah, h, u0, tu, 4u, bits);
    const rnnmcu_row_q_t *const rq = p->rq + 4u * u0;
    const uint32_t n = p->units;
    const int16_t *const pp = p->p + u0;
    const int16_t *const tab_rec = p->tab_rec;
    uint32_t j;
    c += u0;
    for (j = 0; j < tu; j++) {
        const uint32_t r = 4u * j;
        const int32_t cj = c[j];
        ax[r + RNNMCU_LSTM_GATE_I] = RNNMCU_TAB(tab_rec, rnnmcu_pre(rq, ax, ah, r + RNNMCU_LSTM_GATE_I, px) +
                                                             rnnmcu_peep(p, pp[j] * cj, 0u),
                                                RNNMCU_TR_PRE(n, 0u, u0 + j), RNNMCU_TR_GATE(4u, n, 0u, u0 + j));
        ax[r + RNNMCU_LSTM_GATE_F] = RNNMCU_TAB(tab_rec, rnnmcu_pre(rq, ax, ah, r + RNNMCU_LSTM_GATE_F, px) +
                                                             rnnmcu_peep(p, pp[n + j] * cj, 1u),
                                                RNNMCU_TR_PRE(n, 1u, u0 + j), RNNMCU_TR_GATE(4u, n, 1u, u0 + j));
        ax[r + RNNMCU_LSTM_GATE_C] = RNNMCU_TAB(p->tab_act, rnnmcu_pre(rq, ax, ah, r + RNNMCU_LSTM_GATE_C, px),
                                                RNNMCU_TR_PRE(n, 2u, u0 + j), RNNMCU_TR_CAND(4u, 3u, n, u0 + j));
    }
    {
        /* loaded once: see rnnmcu_lstm_h */
        const int32_t q = p->q, qk = p->q + p->k, cs = p->cs;
        const int16_t *const tab_out = p->tab_out;
        for (j = 0; j < tu; j++) {
            const uint32_t r = 4u * j;
            const int32_t c_new = rnnmcu_lstm_c(ax[r + RNNMCU_LSTM_GATE_I], ax[r + RNNMCU_LSTM_GATE_F],
                                                ax[r + RNNMCU_LSTM_GATE_C], (int32_t)c[j], q);
            const int32_t zo = rnnmcu_pre(rq, ax, ah, r + RNNMCU_LSTM_GATE_O, px) +
                               rnnmcu_peep(p, pp[2u * n + j] * c_new, 2u);
            const int32_t o = RNNMCU_TAB(tab_rec, zo, RNNMCU_TR_PRE(n, 3u, u0 + j), RNNMCU_TR_GATE(4u, n, 2u, u0 + j));
            rnnmcu_act_put(hn, u0 + j, rnnmcu_lstm_h(tab_out, cs, qk, o, c_new, bits), bits);
            c[j] = (int16_t)c_new;
            RNNMCU_TRACE_PUT(RNNMCU_TR_C(4u, 3u, n, u0 + j), c_new);
        }
    }
}

/* ---- the tiles, one phase per activation width and input form ---- */

RNNMCU_PHASE void rnnmcu_peephole_lstm_tile_s8(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                               uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_peephole_lstm_tile(p, ax, ah, u0, tu, h, c, 8, 0);
}

RNNMCU_PHASE void rnnmcu_peephole_lstm_tile_px_s8(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                                  uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_peephole_lstm_tile(p, ax, ah, u0, tu, h, c, 8, 1);
}

RNNMCU_PHASE void rnnmcu_peephole_lstm_tile_s16(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                                uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_peephole_lstm_tile(p, ax, ah, u0, tu, h, c, 16, 0);
}

RNNMCU_PHASE void rnnmcu_peephole_lstm_tile_px_s16(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                                   uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_peephole_lstm_tile(p, ax, ah, u0, tu, h, c, 16, 1);
}

/* ---- the step functions: x, then (px) input projections, then (x16) 16-bit inputs ---- */

void rnnmcu_peephole_lstm_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h,
                                  int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 8, 0, RNNMCU_IN_X, rnnmcu_peephole_lstm_tile_s8);
}

void rnnmcu_peephole_lstm_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h,
                                      int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 8, 1, RNNMCU_IN_X, rnnmcu_peephole_lstm_tile_s8);
}

void rnnmcu_peephole_lstm_step_px_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h,
                                     int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 4u, 8, 0, RNNMCU_IN_PX, rnnmcu_peephole_lstm_tile_px_s8);
}

void rnnmcu_peephole_lstm_step_px_w16_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h,
                                         int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 4u, 8, 1, RNNMCU_IN_PX, rnnmcu_peephole_lstm_tile_px_s8);
}

void rnnmcu_peephole_lstm_step_x16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                                      int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 8, 0, RNNMCU_IN_X16, rnnmcu_peephole_lstm_tile_s8);
}

void rnnmcu_peephole_lstm_step_x16_w16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                                          int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 8, 1, RNNMCU_IN_X16, rnnmcu_peephole_lstm_tile_s8);
}

void rnnmcu_peephole_lstm_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h,
                                   int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 16, 0, RNNMCU_IN_X, rnnmcu_peephole_lstm_tile_s16);
}

void rnnmcu_peephole_lstm_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h,
                                       int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 16, 1, RNNMCU_IN_X, rnnmcu_peephole_lstm_tile_s16);
}

void rnnmcu_peephole_lstm_step_px_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h,
                                      int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 4u, 16, 0, RNNMCU_IN_PX, rnnmcu_peephole_lstm_tile_px_s16);
}

void rnnmcu_peephole_lstm_step_px_w16_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h,
                                          int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 4u, 16, 1, RNNMCU_IN_PX, rnnmcu_peephole_lstm_tile_px_s16);
}
