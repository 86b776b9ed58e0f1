/* rnnmcu — the portable matrix-vector product over the blocked layout of codegen/layout.py (see
 * rnnmcu_kernels.h), written once for both activation widths and both weight layouts: the
 * reference for the firmware/src/arch/<arch>/ replacements, and the kernel of every board without
 * an arch folder (and of Cortex-M parts without DSP).  Included by rnnmcu_matvec_s8.c, _s16.c,
 * rnnmcu_matvec_w16_s8.c, _w16_s16.c (and arch/arm's _nodsp twins) with
 *   RNNMCU_MV_W_T    int8_t (compact layout) / int16_t (wide layout, pack_wide)
 *   RNNMCU_MV_X_T    int8_t / int16_t   (the activations)
 *   RNNMCU_MV_FN     the function's name
 * One pass computes the 4 rows of a block, each activation loaded once per pass; the zero padding
 * of the last chunk is skipped. */
#include "rnnmcu_kernels.h"
#include "rnnmcu_mv_block.h"

/* where column j of a row's chunk is stored: in place, or RNNMCU_W16_AT's order (0, 2, 1, 3) */
#if defined(RNNMCU_MV_WIDE) && RNNMCU_MV_WIDE
#define RNNMCU_MV_AT(j) RNNMCU_W16_AT(j)
#else
#define RNNMCU_MV_AT(j) RNNMCU_MV_AT_SAME(j)
#endif

/* a += the chunk c times x0..x3 */
#define RNNMCU_MV_MAC4(a, c, x0, x1, x2, x3)                                                   \
    a += (int32_t)(c)[RNNMCU_MV_AT(0u)] * (x0) + (int32_t)(c)[RNNMCU_MV_AT(1u)] * (x1) +        \
         (int32_t)(c)[RNNMCU_MV_AT(2u)] * (x2) + (int32_t)(c)[RNNMCU_MV_AT(3u)] * (x3)

void RNNMCU_MV_FN(const RNNMCU_MV_W_T *w, const RNNMCU_MV_X_T *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    uint32_t r0;
    for (r0 = 0; r0 < rows; r0 += 4u) {
        const RNNMCU_MV_X_T *xp = x;
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
            RNNMCU_MV_TAIL(w, xp, tail, RNNMCU_MV_AT, a0, a1, a2, a3);
            w += 16;
        }
        RNNMCU_MV_STORE4(y + r0, rows - r0, a0, a1, a2, a3);
    }
}

#undef RNNMCU_MV_MAC4
#undef RNNMCU_MV_AT
