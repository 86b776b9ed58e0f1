/* rnnmcu — a Bidirectional layer's merge of its two directions' outputs at the same scale: sum,
 * average or product, requantised (concat is a copy, done by the generated code). */
#include "rnnmcu_step.h"

RNNMCU_ALWAYS_INLINE void rnnmcu_merge(const rnnmcu_merge_q_t *p, const void *a, const void *b, void *y,
                                       const int bits)
{
    uint32_t j;
    for (j = 0; j < p->units; j++) {
        const int32_t aj = rnnmcu_act_get(a, j, bits), bj = rnnmcu_act_get(b, j, bits);
        const int32_t v = p->mode == RNNMCU_MERGE_MUL ? aj * bj : aj + bj;
        rnnmcu_act_put(y, j, rnnmcu_act_sat64(rnnmcu_rq(v, p->m, p->sh), bits), bits);
    }
}

void rnnmcu_merge_s8(const rnnmcu_merge_q_t *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    rnnmcu_merge(p, a, b, y, 8);
}

void rnnmcu_merge_s16(const rnnmcu_merge_q_t *p, const int16_t *a, const int16_t *b, int16_t *y)
{
    rnnmcu_merge(p, a, b, y, 16);
}
