/* rnnmcu — portable int8 x int8 matrix-vector product over the blocked layout of codegen/layout.py
 * (see rnnmcu_kernels.h): the reference for the firmware/src/arch/<arch>/ replacements, and the
 * kernel of every board without an arch folder.  One pass computes the RNNMCU_MV_ROWS (4) rows of a
 * block, each activation loaded once per pass; the zero padding of the last chunk is skipped. */
#include "rnnmcu_kernels.h"

#define RNNMCU_MV_MAC4(a, c, x0, x1, x2, x3) \
    a += (int32_t)(c)[0] * (x0) + (int32_t)(c)[1] * (x1) + (int32_t)(c)[2] * (x2) + (int32_t)(c)[3] * (x3)

void rnnmcu_matvec_s8(const int8_t *w, const int8_t *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    uint32_t r0;
    for (r0 = 0; r0 < rows; r0 += 4u) {
        const int8_t *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        uint32_t j;
        for (j = chunks; j != 0u; j--, w += 16, xp += 4) {
            const int32_t x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
            RNNMCU_MV_MAC4(a0, w, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(a1, w + 4, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(a2, w + 8, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(a3, w + 12, x0, x1, x2, x3);
        }
        if (tail) {
            for (j = 0; j < tail; j++) {
                const int32_t xj = xp[j];
                a0 += w[j] * xj;
                a1 += w[4u + j] * xj;
                a2 += w[8u + j] * xj;
                a3 += w[12u + j] * xj;
            }
            w += 16;
        }
        y[r0] = a0;
        if (r0 + 1u < rows) y[r0 + 1u] = a1;
        if (r0 + 2u < rows) y[r0 + 2u] = a2;
        if (r0 + 3u < rows) y[r0 + 3u] = a3;
    }
}

#undef RNNMCU_MV_MAC4
