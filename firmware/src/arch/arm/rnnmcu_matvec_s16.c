/* rnnmcu — int8 x int16 matrix-vector product for Cortex-M with the DSP extension
 * (__ARM_FEATURE_DSP).  Replaces firmware/src/rnnmcu_matvec_s16.c on arch "arm"; parts without
 * DSP get rnnmcu_matvec_s16_nodsp.c from this folder instead.
 *
 * Per chunk of 4 columns: two words of activations (x0,x1) (x2,x3) are repacked once into
 * (x0,x2) (x1,x3) (PKHBT/PKHTB), then each of the block's 4 rows costs one weight word, two
 * SXTB16 and two SMLAD. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <arm_acle.h>
#include <string.h>

#include "rnnmcu_kernels.h"

static inline int16x2_t rnnmcu_sxtb16_ror8(uint32_t v)
{
    int16x2_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

void rnnmcu_matvec_s16(const int8_t *w, const int16_t *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    uint32_t r0;
    for (r0 = 0; r0 < rows; r0 += 4u) {
        const uint32_t *wp = (const uint32_t *)(const void *)w;
        const int16_t *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        uint32_t j, t;
        for (j = chunks; j != 0u; j--) {
            uint32_t x01, x23, v;
            int16x2_t xe, xo;
            memcpy(&x01, xp, 4);
            memcpy(&x23, xp + 2, 4);
            xp += 4;
            xe = (int16x2_t)((x01 & 0xFFFFu) | (x23 << 16));   /* (x0, x2): PKHBT */
            xo = (int16x2_t)((x23 & 0xFFFF0000u) | (x01 >> 16)); /* (x1, x3): PKHTB */
            v = wp[0];
            a0 = __smlad(__sxtb16(v), xe, a0);
            a0 = __smlad(rnnmcu_sxtb16_ror8(v), xo, a0);
            v = wp[1];
            a1 = __smlad(__sxtb16(v), xe, a1);
            a1 = __smlad(rnnmcu_sxtb16_ror8(v), xo, a1);
            v = wp[2];
            a2 = __smlad(__sxtb16(v), xe, a2);
            a2 = __smlad(rnnmcu_sxtb16_ror8(v), xo, a2);
            v = wp[3];
            a3 = __smlad(__sxtb16(v), xe, a3);
            a3 = __smlad(rnnmcu_sxtb16_ror8(v), xo, a3);
            wp += 4;
        }
        if (tail) {
            const int8_t *c = (const int8_t *)(const void *)wp;
            for (t = 0; t < tail; t++) {
                const int32_t xj = xp[t];
                a0 += c[t] * xj;
                a1 += c[4u + t] * xj;
                a2 += c[8u + t] * xj;
                a3 += c[12u + t] * xj;
            }
            wp += 4;
        }
        w = (const int8_t *)(const void *)wp;
        y[r0] = a0;
        if (r0 + 1u < rows) y[r0 + 1u] = a1;
        if (r0 + 2u < rows) y[r0 + 2u] = a2;
        if (r0 + 3u < rows) y[r0 + 3u] = a3;
    }
}

#endif
