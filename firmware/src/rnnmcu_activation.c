/* rnnmcu — an elementwise activation layer: y = act(x) through the activation's table, x shifted
 * left by kin into the table's domain and the result right by k into the output's scale. */
#include "rnnmcu_step.h"

RNNMCU_ALWAYS_INLINE void rnnmcu_activation(const rnnmcu_act_q_t *p, const void *x, void *y, const int bits)
{
    uint32_t i;
    for (i = 0; i < p->dim; i++) {
        const int32_t t = rnnmcu_sat16(rnnmcu_table(p->tab, rnnmcu_act_get(x, i, bits) * ((int32_t)1 << p->kin)));
        rnnmcu_act_put(y, i, rnnmcu_act_sat32(rnnmcu_rshr(t, p->k), bits), bits);
    }
}

void rnnmcu_activation_s8(const rnnmcu_act_q_t *p, const int8_t *x, int8_t *y)
{
    rnnmcu_activation(p, x, y, 8);
}

void rnnmcu_activation_s16(const rnnmcu_act_q_t *p, const int16_t *x, int16_t *y)
{
    rnnmcu_activation(p, x, y, 16);
}
