/* rnnmcu — int8 x int8 matrix-vector product for Xtensa (LX106/ESP8266, LX6/LX7/ESP32: no
 * sign-extending byte load on LX106, a single-cycle 32-bit MULL).  Replaces
 * firmware/src/rnnmcu_matvec_s8.c on arch "xtensa".  One pass computes the 4 rows of a block
 * (codegen/layout.py): each activation is loaded once per 4 rows, and the 4 weights of a row's
 * chunk come in one aligned word load and are sign-extended with shifts (2 instructions a byte,
 * against 3 for a byte load).  A weight array that is not word-aligned (never the case with GCC,
 * which word-aligns arrays on Xtensa) takes a byte-load loop, never a wrong word. */
#if !defined(__XTENSA__)
#error "firmware/src/arch/xtensa is for Xtensa cores (build without arch files elsewhere)"
#endif

#include <stdint.h>

#include "rnnmcu_kernels.h"

/* a += the dot product of the 4 sign-extended bytes of word v with x0..x3, one MAC at a time */
#define RNNMCU_MV_DOT4(a, v, x0, x1, x2, x3)          \
    do {                                              \
        const uint32_t v_ = (v);                      \
        a += ((int32_t)(v_ << 24) >> 24) * (x0);      \
        a += ((int32_t)(v_ << 16) >> 24) * (x1);      \
        a += ((int32_t)(v_ << 8) >> 24) * (x2);       \
        a += ((int32_t)v_ >> 24) * (x3);              \
    } while (0)

void rnnmcu_matvec_s8(const int8_t *w, const int8_t *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    const int aligned = ((uintptr_t)w & 3u) == 0u;
    uint32_t r0;
    for (r0 = 0; r0 < rows; r0 += 4u) {
        const int8_t *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        uint32_t j;
        if (aligned) {
            const uint32_t *wp = (const uint32_t *)(const void *)w;
            for (j = chunks; j != 0u; j--, wp += 4, xp += 4) {
                const int32_t x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
                RNNMCU_MV_DOT4(a0, wp[0], x0, x1, x2, x3);
                RNNMCU_MV_DOT4(a1, wp[1], x0, x1, x2, x3);
                RNNMCU_MV_DOT4(a2, wp[2], x0, x1, x2, x3);
                RNNMCU_MV_DOT4(a3, wp[3], x0, x1, x2, x3);
            }
            w += 16u * chunks;
        } else {
            for (j = 0; j < 4u * chunks; j++) {
                const int8_t *c = w + (j / 4u) * 16u + j % 4u;
                const int32_t xj = xp[j];
                a0 += c[0] * xj;
                a1 += c[4] * xj;
                a2 += c[8] * xj;
                a3 += c[12] * xj;
            }
            w += 16u * chunks;
            xp += 4u * chunks;
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

#undef RNNMCU_MV_DOT4
