/* rnnmcu — the Xtensa int8-weight matrix-vector product, written once for both activation
 * widths; included by rnnmcu_matvec_s8.c and rnnmcu_matvec_s16.c in this folder with
 *   RNNMCU_MV_X_T   int8_t / int16_t   (the activations)
 *   RNNMCU_MV_FN    rnnmcu_matvec_s8 / rnnmcu_matvec_s16
 *
 * One pass computes the 4 rows of a block (codegen/layout.py): each activation is loaded once per
 * 4 rows, and the 4 weights of a row's chunk come in one aligned word load, XORed with 0x80808080
 * into unsigned bytes (w + 128) that one EXTUI each extracts (a signed byte takes two shifts on
 * LX106, which has no SEXT); 128 * sum(x), computed once per call, corrects every row.  The chunk
 * is inline assembly so that GCC cannot interleave the 4 rows' products and spill them.  A weight
 * array that is not word-aligned (never the case with GCC, which word-aligns arrays on Xtensa)
 * takes a byte-load loop, never a wrong word. */
#if !defined(__XTENSA__)
#error "firmware/src/arch/xtensa is for Xtensa cores (build without arch files elsewhere)"
#endif

#include <stdint.h>

#include "rnnmcu_kernels.h"
#include "rnnmcu_mv_block.h"

/* a += the dot product of word v's 4 bytes, read as unsigned (w + 128: v was XORed with
 * 0x80808080), with x0..x3; the caller takes 128 * sum(x) off at the end of the row.  An
 * unsigned byte is one EXTUI, where a signed one takes two shifts on LX106. */
#define RNNMCU_MV_DOT4U(A, V, X0, X1, X2, X3)                                                  \
    do {                                                                                       \
        uint32_t v_ = (V), t_;                                                                 \
        __asm__("xor %[wd], %[wd], %[msk]\n\t"                                                  \
                "extui %[tm], %[wd], 0, 8\n\tmull %[tm], %[tm], %[e0]\n\tadd %[ac], %[ac], %[tm]\n\t"  \
                "extui %[tm], %[wd], 8, 8\n\tmull %[tm], %[tm], %[e1]\n\tadd %[ac], %[ac], %[tm]\n\t"  \
                "extui %[tm], %[wd], 16, 8\n\tmull %[tm], %[tm], %[e2]\n\tadd %[ac], %[ac], %[tm]\n\t" \
                "extui %[tm], %[wd], 24, 8\n\tmull %[tm], %[tm], %[e3]\n\tadd %[ac], %[ac], %[tm]"       \
                : [ac] "+r"(A), [wd] "+r"(v_), [tm] "=&r"(t_)                                  \
                : [msk] "r"(mask), [e0] "r"(X0), [e1] "r"(X1), [e2] "r"(X2), [e3] "r"(X3));    \
    } while (0)

void RNNMCU_MV_FN(const int8_t *w, const RNNMCU_MV_X_T *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    const int aligned = ((uintptr_t)w & 3u) == 0u;
    const uint32_t mask = 0x80808080u;
    const RNNMCU_MV_X_T *const xend = x + 4u * chunks;
    uint32_t off = 0;  /* 128 * (sum of the x that the word loop sees), wrapping like the sums */
    uint32_t r0, j;
    if (aligned) {  /* the byte-loop fallback needs no offset; a chunk a turn (a step's tiles call
                     * this once per tile, so the sum is not once per step) */
        const RNNMCU_MV_X_T *xp;
        for (xp = x; xp != xend; xp += 4)
            off += (uint32_t)((int32_t)xp[0] + xp[1] + xp[2] + xp[3]);
        off *= 128u;
    }
    for (r0 = 0; r0 < rows; r0 += 4u) {
        const RNNMCU_MV_X_T *xp = x;
        uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;  /* wrapping sums: the offset form may exceed int32 midway */
        if (aligned) {
            const uint32_t *wp = (const uint32_t *)(const void *)w;
            for (; xp != xend; wp += 4, xp += 4) {
                const int32_t x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
                RNNMCU_MV_DOT4U(a0, wp[0], x0, x1, x2, x3);
                RNNMCU_MV_DOT4U(a1, wp[1], x0, x1, x2, x3);
                RNNMCU_MV_DOT4U(a2, wp[2], x0, x1, x2, x3);
                RNNMCU_MV_DOT4U(a3, wp[3], x0, x1, x2, x3);
            }
            w += 16u * chunks;
            a0 -= off;
            a1 -= off;
            a2 -= off;
            a3 -= off;
        } else {
            for (j = 0; j < 4u * chunks; j++) {
                const int8_t *c = w + (j / 4u) * 16u + j % 4u;
                const int32_t xj = xp[j];
                a0 += (uint32_t)(c[0] * xj);
                a1 += (uint32_t)(c[4] * xj);
                a2 += (uint32_t)(c[8] * xj);
                a3 += (uint32_t)(c[12] * xj);
            }
            w += 16u * chunks;
            xp += 4u * chunks;
        }
        if (tail) {  /* wrapping sums: the products convert to uint32_t */
            RNNMCU_MV_TAIL(w, xp, tail, RNNMCU_MV_AT_SAME, a0, a1, a2, a3);
            w += 16;
        }
        RNNMCU_MV_STORE4(y + r0, rows - r0, a0, a1, a2, a3);
    }
}

#undef RNNMCU_MV_DOT4U
