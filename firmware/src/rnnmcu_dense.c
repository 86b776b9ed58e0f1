/* rnnmcu — a Dense layer: y = act(W x + b), its pre-activation saturated to int16 and through the
 * activation's table into the output's scale (k).  scratch: output_dim words of sums, then the
 * widening buffer on an arch with RNNMCU_S8_VIA_S16.  codegen/qref.py's dense is the same. */
#include "rnnmcu_step.h"

RNNMCU_ALWAYS_INLINE void rnnmcu_dense(const rnnmcu_dense_q_t *p, const void *x, void *y, int32_t *scratch,
                                       const int bits)
{
    uint32_t r;
    rnnmcu_mv(p->w, 0, x, bits, p->output_dim, p->input_dim, scratch, scratch + p->output_dim);
    for (r = 0; r < p->output_dim; r++) {
        const int32_t pre = rnnmcu_sat16_32(rnnmcu_rq32(scratch[r], p->m[r], p->sh[r]) + p->b[r]);
        RNNMCU_TRACE_PUT(r, pre);
        rnnmcu_act_put(y, r, rnnmcu_act_sat32(rnnmcu_rshr(rnnmcu_table(p->tab, pre), p->k), bits), bits);
    }
}

void rnnmcu_dense_s8(const rnnmcu_dense_q_t *p, const int8_t *x, int8_t *y, int32_t *scratch)
{
    rnnmcu_dense(p, x, y, scratch, 8);
}

void rnnmcu_dense_s16(const rnnmcu_dense_q_t *p, const int16_t *x, int16_t *y, int32_t *scratch)
{
    rnnmcu_dense(p, x, y, scratch, 16);
}
