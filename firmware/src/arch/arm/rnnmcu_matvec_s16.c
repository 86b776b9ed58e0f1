/* rnnmcu — int8 x int16 matrix-vector product for Cortex-M with the DSP extension
 * (__ARM_FEATURE_DSP).  Replaces firmware/src/rnnmcu_matvec_s16.c on arch "arm"; parts without
 * DSP (M0/M0+/M3) compile the portable code at the end, by __ARM_FEATURE_DSP.
 *
 * Per chunk of 4 columns: two words of activations (x0,x1) (x2,x3) are repacked once into
 * (x0,x2) (x1,x3) (PKHBT/PKHTB), then each of the block's 4 rows costs half an LDRD of weights,
 * two SXTB16 and two SMLAD. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <stdint.h>

#include "rnnmcu_kernels.h"
#include "rnnmcu_mv_block.h"
#include "rnnmcu_mv_dsp.h"

void rnnmcu_matvec_s16(const int8_t *w, const int16_t *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    uint32_t r0;
    for (r0 = 0; r0 < rows; r0 += 4u) {
        const uint32_t *wp = (const uint32_t *)(const void *)w;
        const int16_t *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (chunks != 0u) {
            /* The chunk loop in assembly, as in rnnmcu_matvec_s8.c: two chunks per turn; per
             * chunk two LDR of x (x is only halfword-aligned: no LDRD), PKHTB/PKHBT into (x1,x3)
             * and (x0,x2), two post-incremented LDRD of weights, 8 SXTB16, 8 SMLAD: 22
             * instructions for 16 MACs, plus CMP/BNE per two chunks.  13 registers. */
            const int16_t *const xend = xp + 4u * chunks;
            uint32_t xe = chunks & 1u, xb, wa, wb, t, xo;
#define RNNMCU_MV_CHUNK                                   \
    "ldr    %[xe], [%[xp]], #4\n\t"                       \
    "ldr    %[xb], [%[xp]], #4\n\t"                       \
    "pkhtb  %[xo], %[xb], %[xe], asr #16\n\t"             \
    "pkhbt  %[xe], %[xe], %[xb], lsl #16\n\t" RNNMCU_MV_DSP_ROWS4
            __asm__(RNNMCU_MV_DSP_LOOP(RNNMCU_MV_CHUNK)
                    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp), [wp] "+r"(wp),
                      [xe] "+&r"(xe), [xb] "=&r"(xb), [wa] "=&r"(wa), [wb] "=&r"(wb), [t] "=&r"(t), [xo] "=&r"(xo)
                    : [xend] "r"(xend)
                    : "cc", "memory");
#undef RNNMCU_MV_CHUNK
        }
        if (tail) {
            RNNMCU_MV_TAIL((const int8_t *)(const void *)wp, xp, tail, RNNMCU_MV_AT_SAME, a0, a1, a2, a3);
            wp += 4;
        }
        w = (const int8_t *)(const void *)wp;
        RNNMCU_MV_STORE4(y + r0, rows - r0, a0, a1, a2, a3);
    }
}

#else /* no DSP (M0, M0+, M3): the portable code (rnnmcu_matvec_portable.h) */
#define RNNMCU_MV_W_T int8_t
#define RNNMCU_MV_WIDE 0
#define RNNMCU_MV_X_T int16_t
#define RNNMCU_MV_FN rnnmcu_matvec_s16
#include "rnnmcu_matvec_portable.h"
#endif
