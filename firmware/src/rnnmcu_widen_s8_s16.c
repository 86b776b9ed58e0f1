/* rnnmcu — int8 values widened to int16.  An int8 model's head (the layers after its last
 * recurrent one) and outputs are 16-bit (codegen/NUMERICS.md, "16-bit head"): it reads the last
 * recurrent layer's int8 output through this copy. */
#include "rnnmcu_kernels.h"

void rnnmcu_widen_s8_s16(const int8_t *x, uint32_t n, int16_t *y)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        y[i] = x[i];
}
