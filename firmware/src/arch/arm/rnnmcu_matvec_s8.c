/* rnnmcu — int8 x int8 matrix-vector product for Cortex-M with the DSP extension (M4, M7, M33,
 * M55: __ARM_FEATURE_DSP).  Replaces firmware/src/rnnmcu_matvec_s8.c on arch "arm"; parts
 * without DSP (M0/M0+/M3) get rnnmcu_matvec_s8_nodsp.c from this folder instead.
 *
 * One pass computes the 4 rows of a block (codegen/layout.py): per chunk of 4 columns it loads
 * 4 activations once (one word), widens them with SXTB16 into (x0,x2) and (x1,x3), and for each
 * row loads one aligned word of weights, widens it the same way and adds two SMLADs: 16 MACs in
 * 1 + 2 + 4 * (1 + 2 + 2) instructions. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <arm_acle.h>
#include <string.h>

#include "rnnmcu_kernels.h"

/* bytes 1 and 3 of v, sign-extended into two halfwords (SXTB16 with its built-in rotation) */
static inline int16x2_t rnnmcu_sxtb16_ror8(uint32_t v)
{
    int16x2_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

void rnnmcu_matvec_s8(const int8_t *w, const int8_t *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    const uint32_t *wp = (const uint32_t *)(const void *)w;  /* blocks are word-aligned */
    uint32_t left = rows;
    /* few values live across blocks (wp, y, left and the shape), so the block loop spills little */
    while (left != 0u) {
        const int8_t *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        uint32_t j;
        for (j = chunks; j != 0u; j--) {
            uint32_t xv, v;
            int16x2_t xe, xo;
            memcpy(&xv, xp, 4);  /* x may be unaligned: LDR handles it on v7-M */
            xp += 4;
            xe = __sxtb16(xv);
            xo = rnnmcu_sxtb16_ror8(xv);
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
            uint32_t t;
            for (t = 0; t < tail; t++) {
                const int32_t xj = xp[t];
                a0 += c[t] * xj;
                a1 += c[4u + t] * xj;
                a2 += c[8u + t] * xj;
                a3 += c[12u + t] * xj;
            }
            wp += 4;
        }
        if (left >= 4u) {
            y[0] = a0;
            y[1] = a1;
            y[2] = a2;
            y[3] = a3;
            y += 4;
            left -= 4u;
        } else {
            y[0] = a0;
            if (left > 1u) y[1] = a1;
            if (left > 2u) y[2] = a2;
            left = 0u;
        }
    }
}

#endif
