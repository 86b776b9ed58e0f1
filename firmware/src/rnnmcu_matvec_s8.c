/* rnnmcu — portable int8 x int8 matrix-vector product (the reference for arch/ replacements). */
#include "rnnmcu_kernels.h"

void rnnmcu_matvec_s8(const int8_t *w, const int8_t *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    uint16_t r, i;
    for (r = 0; r < rows; r++) {
        int32_t acc = 0;
        for (i = 0; i < cols; i++)
            acc += (int32_t)w[i] * (int32_t)x[i];
        y[r] = acc;
        w += cols;
    }
}
