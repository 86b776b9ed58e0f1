/* rnnmcu — the Cortex-M DSP matrix-vector product over the wide weight layout (codegen/layout.py
 * pack_wide), written once for both activation widths; included by rnnmcu_matvec_w16_s8.c and
 * rnnmcu_matvec_w16_s16.c in this folder with
 *   RNNMCU_MVW_X_T     int8_t / int16_t
 *   RNNMCU_MVW_FN      rnnmcu_matvec_w16_s8 / rnnmcu_matvec_w16_s16
 *   RNNMCU_MVW_XLOAD   assembly text that loads the chunk's 4 activations from %[xp] (post-
 *                      incremented) as the halfword pairs (x0,x2) into %[xe] and (x1,x3) into
 *                      %[xo]; it may use %[w0] as a temporary
 *
 * In the wide layout a row's chunk is two words that are already SMLAD operands, (w0,w2) and
 * (w1,w3): a block's chunk is 4 rows x 2 words, read by two LDMs into r4, r5, r6, r8 (local register
 * variables: an LDM's register list must be literal and ascending; r7 is left to the frame pointer
 * and r9 to platforms that reserve it), then 8 SMLADs.  Per chunk of 16 MACs: the activation load,
 * 2 LDM and 8 SMLAD, and a CMP/BNE per two chunks (the loop takes two chunks per turn and enters an
 * odd count halfway). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <stdint.h>

#include "rnnmcu_kernels.h"
#include "rnnmcu_mv_block.h"
#include "rnnmcu_mv_dsp.h"

#define RNNMCU_MVW_ROWS2(A, B)                                \
    "ldmia  %[wp]!, {r4, r5, r6, r8}\n\t"                     \
    "smlad  %[" A "], %[w0], %[xe], %[" A "]\n\t"             \
    "smlad  %[" A "], %[w1], %[xo], %[" A "]\n\t"             \
    "smlad  %[" B "], %[w2], %[xe], %[" B "]\n\t"             \
    "smlad  %[" B "], %[w3], %[xo], %[" B "]\n\t"
#define RNNMCU_MVW_CHUNK RNNMCU_MVW_XLOAD RNNMCU_MVW_ROWS2("a0", "a1") RNNMCU_MVW_ROWS2("a2", "a3")

void RNNMCU_MVW_FN(const int16_t *w, const RNNMCU_MVW_X_T *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    const int16_t *wp = w;
    uint32_t left = rows;
    while (left != 0u) {
        const RNNMCU_MVW_X_T *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (chunks != 0u) {
            const RNNMCU_MVW_X_T *const xend = xp + 4u * chunks;
            uint32_t xe = chunks & 1u, xo;
            register uint32_t w0 __asm__("r4");
            register uint32_t w1 __asm__("r5");
            register uint32_t w2 __asm__("r6");
            register uint32_t w3 __asm__("r8");
            __asm__(RNNMCU_MV_DSP_LOOP(RNNMCU_MVW_CHUNK)
                    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp), [wp] "+r"(wp),
                      [xe] "+&r"(xe), [xo] "=&r"(xo), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)
                    : [xend] "r"(xend)
                    : "cc", "memory");
        }
        if (tail) {
            RNNMCU_MV_TAIL(wp, xp, tail, RNNMCU_W16_AT, a0, a1, a2, a3);
            wp += 16;
        }
        RNNMCU_MV_STORE_NEXT(y, left, a0, a1, a2, a3);
    }
}

#undef RNNMCU_MVW_ROWS2
#undef RNNMCU_MVW_CHUNK

#endif
