/* rnnmcu — the LSTM step (no peepholes: rnnmcu_peephole_lstm_step.c has those):
 *   i, f, o = rec_act(rows i, f, o)   g = act(row g)   c_t = f c_{t-1} + i g   h_t = o out_act(c_t)
 * with row = W x_t + U h_{t-1} + b.  rnnmcu_lstm_step_<sfx> in every activation width (s8, s16),
 * weight layout (w16_: int16 weights, rnnmcu build --wide-weights) and input form (px: input
 * projections; x16: an int8 model's 16-bit inputs): rnnmcu_step.h has the tile loop they share.
 * codegen/qref.py's lstm_step is the same arithmetic in numpy. */
#include "rnnmcu_step.h"

/* c_t and h_t of the tile's units from their gate values (ax, 4 rows per unit) */
RNNMCU_ALWAYS_INLINE void rnnmcu_lstm_units(const rnnmcu_rnn_q_t *p, const int32_t *ax, uint32_t u0, uint32_t tu,
                                            void *hn, int16_t *c, const int bits)
{
    const int32_t q = p->q, qk = p->q + p->k, cs = p->cs; /* loaded once: see rnnmcu_lstm_h */
    const int16_t *const tab_out = p->tab_out;
    uint32_t j;
    c += u0;
    for (j = 0; j < tu; j++, ax += 4) {
        const int32_t c_new = rnnmcu_lstm_c(ax[RNNMCU_LSTM_GATE_I], ax[RNNMCU_LSTM_GATE_F], ax[RNNMCU_LSTM_GATE_C],
                                            (int32_t)c[j], q);
        rnnmcu_act_put(hn, u0 + j, rnnmcu_lstm_h(tab_out, cs, qk, ax[RNNMCU_LSTM_GATE_O], c_new, bits), bits);
        c[j] = (int16_t)c_new;
        RNNMCU_TRACE_PUT(RNNMCU_TR_C(4u, 3u, p->units, u0 + j), c_new);
    }
}

/* the tile's units: rows i, f, g, o of each through their tables (in place in ax), then c_t, h_t */
RNNMCU_ALWAYS_INLINE void rnnmcu_lstm_tile(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                           uint32_t tu, void *h, int16_t *c, const int bits, const int px)
{
    void *const hn = rnnmcu_tile_hn(p, ah, h, u0, tu, 4u, bits);
    const rnnmcu_row_q_t *const rq = p->rq + 4u * u0;
    const int16_t *const tab_rec = p->tab_rec, *const tab_act = p->tab_act;
    uint32_t r;
    /* unrolled by unit: a loop over rows choosing the table per row is 3% slower on Cortex-M4
     * (traced: unit u0 + r / 4; pre-activations by gate, gate values i, f, o, the candidate g) */
    for (r = 0; r < 4u * tu; r += 4u) {
        ax[r + RNNMCU_LSTM_GATE_I] = RNNMCU_TAB(tab_rec, rnnmcu_pre(rq, ax, ah, r + RNNMCU_LSTM_GATE_I, px),
                                                RNNMCU_TR_PRE(p->units, 0u, u0 + r / 4u),
                                                RNNMCU_TR_GATE(4u, p->units, 0u, u0 + r / 4u));
        ax[r + RNNMCU_LSTM_GATE_F] = RNNMCU_TAB(tab_rec, rnnmcu_pre(rq, ax, ah, r + RNNMCU_LSTM_GATE_F, px),
                                                RNNMCU_TR_PRE(p->units, 1u, u0 + r / 4u),
                                                RNNMCU_TR_GATE(4u, p->units, 1u, u0 + r / 4u));
        ax[r + RNNMCU_LSTM_GATE_C] = RNNMCU_TAB(tab_act, rnnmcu_pre(rq, ax, ah, r + RNNMCU_LSTM_GATE_C, px),
                                                RNNMCU_TR_PRE(p->units, 2u, u0 + r / 4u),
                                                RNNMCU_TR_CAND(4u, 3u, p->units, u0 + r / 4u));
        ax[r + RNNMCU_LSTM_GATE_O] = RNNMCU_TAB(tab_rec, rnnmcu_pre(rq, ax, ah, r + RNNMCU_LSTM_GATE_O, px),
                                                RNNMCU_TR_PRE(p->units, 3u, u0 + r / 4u),
                                                RNNMCU_TR_GATE(4u, p->units, 2u, u0 + r / 4u));
    }
    rnnmcu_lstm_units(p, ax, u0, tu, hn, c, bits);
}

/* ---- the tiles, one phase per activation width and input form ---- */

RNNMCU_PHASE void rnnmcu_lstm_tile_s8(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                      uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_lstm_tile(p, ax, ah, u0, tu, h, c, 8, 0);
}

RNNMCU_PHASE void rnnmcu_lstm_tile_px_s8(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                         uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_lstm_tile(p, ax, ah, u0, tu, h, c, 8, 1);
}

RNNMCU_PHASE void rnnmcu_lstm_tile_s16(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                       uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_lstm_tile(p, ax, ah, u0, tu, h, c, 16, 0);
}

RNNMCU_PHASE void rnnmcu_lstm_tile_px_s16(const rnnmcu_rnn_q_t *p, int32_t *ax, int32_t *ah, uint32_t u0,
                                          uint32_t tu, void *h, int16_t *c)
{
    rnnmcu_lstm_tile(p, ax, ah, u0, tu, h, c, 16, 1);
}

/* ---- the step functions: x, then (px) input projections, then (x16) 16-bit inputs ---- */

void rnnmcu_lstm_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 8, 0, RNNMCU_IN_X, rnnmcu_lstm_tile_s8);
}

void rnnmcu_lstm_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h,
                             int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 8, 1, RNNMCU_IN_X, rnnmcu_lstm_tile_s8);
}

void rnnmcu_lstm_step_px_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 4u, 8, 0, RNNMCU_IN_PX, rnnmcu_lstm_tile_px_s8);
}

void rnnmcu_lstm_step_px_w16_s8(const rnnmcu_rnn_q_t *p, int32_t *px, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 4u, 8, 1, RNNMCU_IN_PX, rnnmcu_lstm_tile_px_s8);
}

void rnnmcu_lstm_step_x16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                             int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 8, 0, RNNMCU_IN_X16, rnnmcu_lstm_tile_s8);
}

void rnnmcu_lstm_step_x16_w16_s8(const rnnmcu_rnn_q_t *p, const int16_t *x, int8_t *h,
                                 int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 8, 1, RNNMCU_IN_X16, rnnmcu_lstm_tile_s8);
}

void rnnmcu_lstm_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 16, 0, RNNMCU_IN_X, rnnmcu_lstm_tile_s16);
}

void rnnmcu_lstm_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h,
                              int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, x, NULL, h, c, scratch, 4u, 16, 1, RNNMCU_IN_X, rnnmcu_lstm_tile_s16);
}

void rnnmcu_lstm_step_px_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 4u, 16, 0, RNNMCU_IN_PX, rnnmcu_lstm_tile_px_s16);
}

void rnnmcu_lstm_step_px_w16_s16(const rnnmcu_rnn_q_t *p, int32_t *px, int16_t *h,
                                 int16_t *c, int32_t *scratch)
{
    rnnmcu_tiled_step(p, NULL, px, h, c, scratch, 4u, 16, 1, RNNMCU_IN_PX, rnnmcu_lstm_tile_px_s16);
}
