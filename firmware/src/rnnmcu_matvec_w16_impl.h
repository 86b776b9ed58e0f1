/* rnnmcu — the portable matrix-vector product over the wide weight layout (codegen/layout.py
 * pack_wide: int16 weights, a row's chunk stored as columns 0, 2, 1, 3), written once for both
 * activation widths.  Included by rnnmcu_matvec_w16_s8.c / _s16.c (and arch/arm's _nodsp twins)
 * with
 *   RNNMCU_MVW_X_T   int8_t / int16_t   (the activations)
 *   RNNMCU_MVW_FN    rnnmcu_matvec_w16_s8 / rnnmcu_matvec_w16_s16
 * One pass computes the 4 rows of a block, each activation loaded once per pass. */
#include "rnnmcu_kernels.h"

/* a += the chunk c (columns 0, 2, 1, 3) times x0..x3 */
#define RNNMCU_MVW_MAC4(a, c, x0, x1, x2, x3) \
    a += (int32_t)(c)[0] * (x0) + (int32_t)(c)[1] * (x2) + (int32_t)(c)[2] * (x1) + (int32_t)(c)[3] * (x3)

void RNNMCU_MVW_FN(const int16_t *w, const RNNMCU_MVW_X_T *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    uint32_t r0;
    for (r0 = 0; r0 < rows; r0 += 4u) {
        const RNNMCU_MVW_X_T *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        uint32_t j;
        for (j = chunks; j != 0u; j--, w += 16, xp += 4) {
            const int32_t x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
            RNNMCU_MVW_MAC4(a0, w, x0, x1, x2, x3);
            RNNMCU_MVW_MAC4(a1, w + 4, x0, x1, x2, x3);
            RNNMCU_MVW_MAC4(a2, w + 8, x0, x1, x2, x3);
            RNNMCU_MVW_MAC4(a3, w + 12, x0, x1, x2, x3);
        }
        if (tail) {
            for (j = 0; j < tail; j++) {
                const uint32_t at = ((j & 1u) << 1) | (j >> 1); /* where column j sits: 0, 2, 1 */
                const int32_t xj = xp[j];
                a0 += w[at] * xj;
                a1 += w[4u + at] * xj;
                a2 += w[8u + at] * xj;
                a3 += w[12u + at] * xj;
            }
            w += 16;
        }
        y[r0] = a0;
        if (r0 + 1u < rows) y[r0 + 1u] = a1;
        if (r0 + 2u < rows) y[r0 + 2u] = a2;
        if (r0 + 3u < rows) y[r0 + 3u] = a3;
    }
}

#undef RNNMCU_MVW_MAC4
