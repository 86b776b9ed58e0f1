/* rnnmcu — the RV32IMC int8-weight matrix-vector product, written once for both activation
 * widths; included by rnnmcu_matvec_s8.c and rnnmcu_matvec_s16.c in this folder with
 *   RNNMCU_MV_X_T   int8_t / int16_t   (the activations)
 *   RNNMCU_MV_FN    rnnmcu_matvec_s8 / rnnmcu_matvec_s16
 *
 * RV32IMC has no multiply-accumulate and no SIMD, so a MAC costs at least a byte load, a MUL and
 * an ADD; what a kernel can still save is the rest.  One pass computes two blocks of the layout
 * (codegen/layout.py), 8 rows, with two weight pointers: each activation is loaded once per 8 rows
 * instead of once per 4, and a chunk of 4 columns costs 4 + 3 * 32 + 4 instructions for 32 MACs
 * (3.25 per MAC; the portable kernel's 4-row pass takes 3.5).  A signed byte load (LB) is one
 * instruction where a word load plus extraction takes two per weight, so weights are read
 * byte by byte.  Each row's chunk is inline assembly, its loads two ahead of their use (no
 * load-use stall on in-order pipelines), so that GCC cannot hoist all 32 loads of a pass and
 * spill them.  An odd last block is computed twice (its pair is itself) rather than by a second,
 * 4-row copy of the loops: one code path, about 300 bytes less flash, at the price of one block
 * on layers whose row count is not a multiple of 8. */
#if !defined(__riscv) || __riscv_xlen != 32
#error "firmware/src/arch/riscv32 is for RV32 cores (build without arch files elsewhere)"
#endif

#include <stdint.h>

#include "rnnmcu_kernels.h"
#include "rnnmcu_mv_block.h"

/* A += the dot product of the 4 weight bytes at P + OFF (OFF a literal 0, 4, 8 or 12, so that
 * the 4 rows of a block share one pointer) with X0..X3 */
#define RNNMCU_MV_MAC4(A, P, OFF, X0, X1, X2, X3)                                                \
    do {                                                                                         \
        int32_t t0_, t1_;                                                                        \
        __asm__("lb %[t0], " #OFF "+0(%[p])\n\tlb %[t1], " #OFF "+1(%[p])\n\t"                   \
                "mul %[t0], %[t0], %[e0]\n\tmul %[t1], %[t1], %[e1]\n\t"                         \
                "add %[ac], %[ac], %[t0]\n\tadd %[ac], %[ac], %[t1]\n\t"                         \
                "lb %[t0], " #OFF "+2(%[p])\n\tlb %[t1], " #OFF "+3(%[p])\n\t"                   \
                "mul %[t0], %[t0], %[e2]\n\tmul %[t1], %[t1], %[e3]\n\t"                         \
                "add %[ac], %[ac], %[t0]\n\tadd %[ac], %[ac], %[t1]"                               \
                : [ac] "+r"(A), [t0] "=&r"(t0_), [t1] "=&r"(t1_)                                 \
                : [p] "r"(P), [e0] "r"(X0), [e1] "r"(X1), [e2] "r"(X2), [e3] "r"(X3),            \
                  "m"(*(const int8_t(*)[16])(P)));                                               \
    } while (0)

/* A += the weight byte at P + OFF times X */
#define RNNMCU_MV_MAC1(A, P, OFF, X)                                                             \
    do {                                                                                         \
        int32_t t_;                                                                              \
        __asm__("lb %[t], " #OFF "(%[p])\n\tmul %[t], %[t], %[e]\n\tadd %[ac], %[ac], %[t]"        \
                : [ac] "+r"(A), [t] "=&r"(t_)                                                    \
                : [p] "r"(P), [e] "r"(X), "m"(*(const int8_t(*)[13])(P)));                      \
    } while (0)

void RNNMCU_MV_FN(const int8_t *w, const RNNMCU_MV_X_T *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    const uint32_t block = 16u * (chunks + (tail != 0u));  /* bytes per block of 4 rows */
    const RNNMCU_MV_X_T *const xend = x + 4u * chunks;
    uint32_t left = rows;
    uint32_t j;
    while (left != 0u) {  /* two blocks: rows [0, 4) through wa, [4, 8) through wb */
        const int8_t *wa = w, *wb = left > 4u ? w + block : w;  /* an odd last block pairs with itself */
        const RNNMCU_MV_X_T *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
        for (; xp != xend; xp += 4, wa += 16, wb += 16) {
            const int32_t x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
            RNNMCU_MV_MAC4(a0, wa, 0, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(a1, wa, 4, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(a2, wa, 8, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(a3, wa, 12, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(b0, wb, 0, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(b1, wb, 4, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(b2, wb, 8, x0, x1, x2, x3);
            RNNMCU_MV_MAC4(b3, wb, 12, x0, x1, x2, x3);
        }
        for (j = tail; j != 0u; j--, xp++, wa++, wb++) {  /* the last columns, one at a time */
            const int32_t xj = *xp;
            RNNMCU_MV_MAC1(a0, wa, 0, xj);
            RNNMCU_MV_MAC1(a1, wa, 4, xj);
            RNNMCU_MV_MAC1(a2, wa, 8, xj);
            RNNMCU_MV_MAC1(a3, wa, 12, xj);
            RNNMCU_MV_MAC1(b0, wb, 0, xj);
            RNNMCU_MV_MAC1(b1, wb, 4, xj);
            RNNMCU_MV_MAC1(b2, wb, 8, xj);
            RNNMCU_MV_MAC1(b3, wb, 12, xj);
        }
        RNNMCU_MV_STORE4(y, left, a0, a1, a2, a3);
        if (left <= 4u)
            break;
        left -= 4u;
        RNNMCU_MV_STORE4(y + 4, left, b0, b1, b2, b3);
        left = left > 4u ? left - 4u : 0u;
        y += 8;
        w += 2u * block;
    }
}

#undef RNNMCU_MV_MAC4
#undef RNNMCU_MV_MAC1
