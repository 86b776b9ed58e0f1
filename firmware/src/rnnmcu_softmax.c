/* rnnmcu — softmax: e_i = exp(x_i - max x) from a table (x shifted left by kin), then
 * y_i = e_i * 2^qo / sum e, rounded, in the output's integer range. */
#include "rnnmcu_step.h"

RNNMCU_ALWAYS_INLINE void rnnmcu_softmax(const rnnmcu_softmax_q_t *p, const void *x, void *y, const int bits)
{
    const int32_t act_max = bits == 8 ? 127 : 32767;
    int32_t m = rnnmcu_act_get(x, 0u, bits), s = 0;
    uint32_t i;
    for (i = 1; i < p->dim; i++)
        if (rnnmcu_act_get(x, i, bits) > m)
            m = rnnmcu_act_get(x, i, bits);
    for (i = 0; i < p->dim; i++) {
        const int32_t d = rnnmcu_sat16((int64_t)(rnnmcu_act_get(x, i, bits) - m) * ((int32_t)1 << p->kin));
        s += rnnmcu_sat(rnnmcu_table(p->tab, d), 0, 32767);
    }
    for (i = 0; i < p->dim; i++) {
        const int32_t d = rnnmcu_sat16((int64_t)(rnnmcu_act_get(x, i, bits) - m) * ((int32_t)1 << p->kin));
        const int32_t e = rnnmcu_sat(rnnmcu_table(p->tab, d), 0, 32767);
        const int32_t v = ((e << p->qo) + (s >> 1)) / s;
        rnnmcu_act_put(y, i, v > act_max ? act_max : v, bits);
    }
}

void rnnmcu_softmax_s8(const rnnmcu_softmax_q_t *p, const int8_t *x, int8_t *y)
{
    rnnmcu_softmax(p, x, y, 8);
}

void rnnmcu_softmax_s16(const rnnmcu_softmax_q_t *p, const int16_t *x, int16_t *y)
{
    rnnmcu_softmax(p, x, y, 16);
}
