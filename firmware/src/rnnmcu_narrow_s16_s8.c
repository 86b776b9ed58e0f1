/* rnnmcu — int16 values narrowed to int8, saturated.  An int8 model whose inputs are 16-bit runs
 * its first Dense layer in the int16 kernel with the int8 layer's table and k (codegen/NUMERICS.md,
 * "Wide inputs"): the values then lie in [-128, 128], and this keeps them in int8. */
#include "rnnmcu_kernels.h"

void rnnmcu_narrow_s16_s8(const int16_t *x, uint16_t n, int8_t *y)
{
    uint16_t i;
    for (i = 0; i < n; i++)
        y[i] = (int8_t)(x[i] > 127 ? 127 : (x[i] < -128 ? -128 : x[i]));
}
