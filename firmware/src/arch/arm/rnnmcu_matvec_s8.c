/* rnnmcu — int8 x int8 matrix-vector product for Cortex-M with the DSP extension (M4, M7, M33,
 * M55: __ARM_FEATURE_DSP).  Replaces firmware/src/rnnmcu_matvec_s8.c on arch "arm"; parts
 * without DSP (M0/M0+/M3) compile the portable code below, by __ARM_FEATURE_DSP.
 *
 * One pass computes the 4 rows of a block (codegen/layout.py): per chunk of 4 columns it loads
 * 4 activations once (one word), widens them with SXTB16 into (x0,x2) and (x1,x3), and for each
 * row widens its word of weights the same way (two rows per LDRD) and adds two SMLADs: 16 MACs
 * in 1 + 2 + 2 + 4 * (2 + 2) = 21 instructions, and a CMP/BNE per two chunks. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <stdint.h>

#include "rnnmcu_kernels.h"
#include "rnnmcu_mv_block.h"
#include "rnnmcu_mv_dsp.h"

void rnnmcu_matvec_s8(const int8_t *w, const int8_t *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    const uint32_t *wp = (const uint32_t *)(const void *)w;  /* blocks are word-aligned */
    uint32_t left = rows;
    /* few values live across blocks (wp, y, left and the shape), so the block loop spills little */
    while (left != 0u) {
        const int8_t *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (chunks != 0u) {
            /* The chunk loop in assembly, two chunks per turn (an odd count enters at the second):
             * per chunk one LDR of x, two post-incremented LDRD of weights, 10 SXTB16, 8 SMLAD,
             * and the loop's CMP/BNE once per two chunks: 22 instructions for 16 MACs, where
             * GCC's own loop takes 24 (it adds the pointer increment and a counter).  13
             * registers: the 4 sums, 3 pointers, 6 temporaries. */
            const int8_t *const xend = xp + 4u * chunks;
            uint32_t xe = chunks & 1u, xv, wa, wb, t, xo;
#define RNNMCU_MV_CHUNK                                   \
    "ldr    %[xv], [%[xp]], #4\n\t"                       \
    "sxtb16 %[xe], %[xv]\n\t"                             \
    "sxtb16 %[xo], %[xv], ror #8\n\t" RNNMCU_MV_DSP_ROWS4
            __asm__(RNNMCU_MV_DSP_LOOP(RNNMCU_MV_CHUNK)
                    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp), [wp] "+r"(wp),
                      [xe] "+&r"(xe), [xv] "=&r"(xv), [wa] "=&r"(wa), [wb] "=&r"(wb), [t] "=&r"(t), [xo] "=&r"(xo)
                    : [xend] "r"(xend)
                    : "cc", "memory");
#undef RNNMCU_MV_CHUNK
        }
        if (tail) {
            RNNMCU_MV_TAIL((const int8_t *)(const void *)wp, xp, tail, RNNMCU_MV_AT_SAME, a0, a1, a2, a3);
            wp += 4;
        }
        RNNMCU_MV_STORE_NEXT(y, left, a0, a1, a2, a3);
    }
}

#else /* no DSP (M0, M0+, M3): the portable code (rnnmcu_matvec_portable.h) */
#define RNNMCU_MV_W_T int8_t
#define RNNMCU_MV_WIDE 0
#define RNNMCU_MV_X_T int8_t
#define RNNMCU_MV_FN rnnmcu_matvec_s8
#include "rnnmcu_matvec_portable.h"
#endif
