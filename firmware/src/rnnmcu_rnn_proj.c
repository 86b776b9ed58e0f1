/* rnnmcu — input projections (rnnmcu build --input-projections): a tiled layer's W x, requantised
 * and with the bias added, for `steps` consecutive input vectors (x[steps][input_dim]) at once:
 * px[t][r], G*units words per step in the layer's row order, what rnnmcu_<cell>_step_px_<sfx>
 * takes in place of x.  The products run step by step through the step's own kernel; the
 * requantisation runs row by row over the block, each row's multiplier, shifts and bias loaded
 * once per block rather than once per step.  scratch: the widening buffer on an arch with
 * RNNMCU_S8_VIA_S16 (RNNMCU_XBUF_WORDS(input_dim) words).  GRU reset_after=0 has none: it is not
 * tiled. */
#include "rnnmcu_step.h"

RNNMCU_ALWAYS_INLINE void rnnmcu_rnn_proj(const rnnmcu_rnn_q_t *p, const void *x, uint16_t steps, int32_t *px,
                                          int32_t *scratch, const int bits, const int wide)
{
    const uint32_t rows = RNNMCU_CELL_GATES(p->cell) * p->units, cols = p->input_dim;
    const void *const w = wide ? (const void *)p->w16 : (const void *)p->w;
    uint32_t t, r;
    for (t = 0; t < steps; t++)
        rnnmcu_mv(w, wide, (const uint8_t *)x + t * cols * (uint32_t)(bits / 8), bits, rows, cols, px + t * rows,
                  scratch);
    for (r = 0; r < rows; r++) {
        const int32_t m = p->rq[r].mx, b = p->rq[r].b;
        const uint32_t l = p->rq[r].lx, e = p->rq[r].ex;
        int32_t *y = px + r;
        for (t = 0; t < steps; t++, y += rows)
            *y = rnnmcu_rq32_le(*y, m, l, e) + b;
    }
}

void rnnmcu_rnn_proj_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, uint16_t steps, int32_t *px, int32_t *scratch)
{
    rnnmcu_rnn_proj(p, x, steps, px, scratch, 8, 0);
}

void rnnmcu_rnn_proj_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, uint16_t steps, int32_t *px, int32_t *scratch)
{
    rnnmcu_rnn_proj(p, x, steps, px, scratch, 8, 1);
}

void rnnmcu_rnn_proj_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, uint16_t steps, int32_t *px, int32_t *scratch)
{
    rnnmcu_rnn_proj(p, x, steps, px, scratch, 16, 0);
}

void rnnmcu_rnn_proj_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, uint16_t steps, int32_t *px,
                             int32_t *scratch)
{
    rnnmcu_rnn_proj(p, x, steps, px, scratch, 16, 1);
}
