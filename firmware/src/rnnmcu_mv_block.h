/* rnnmcu — the parts every matrix-vector kernel shares around its chunk loop, over the blocked
 * layout of codegen/layout.py (rnnmcu_kernels.h): the last, partial chunk of a block's columns
 * and the store of a block's rows.  Included by the portable template and the
 * firmware/src/arch/<arch>/ kernels. */
#ifndef RNNMCU_MV_BLOCK_H
#define RNNMCU_MV_BLOCK_H

#include <stdint.h>

/* where column j of a row's chunk is stored: in place (the compact layout; the wide one's order
 * is RNNMCU_W16_AT) */
#define RNNMCU_MV_AT_SAME(j) (j)

/* a0..a3 += the first `tail` columns of the block's chunk at c (its 4 rows one after the other,
 * column j of a row at at(j)) times xp[0..tail): the columns after the last whole chunk */
#define RNNMCU_MV_TAIL(c, xp, tail, at, a0, a1, a2, a3)                                          \
    do {                                                                                         \
        uint32_t j_;                                                                             \
        for (j_ = 0; j_ < (tail); j_++) {                                                        \
            const uint32_t k_ = at(j_);                                                          \
            const int32_t xj_ = (xp)[j_];                                                        \
            (a0) += (c)[k_] * xj_;                                                               \
            (a1) += (c)[4u + k_] * xj_;                                                          \
            (a2) += (c)[8u + k_] * xj_;                                                          \
            (a3) += (c)[12u + k_] * xj_;                                                         \
        }                                                                                        \
    } while (0)

/* y[0..n) = the first n of a0..a3 (n >= 1: the rows of a block that exist) */
#define RNNMCU_MV_STORE4(y, n, a0, a1, a2, a3) \
    do {                                       \
        (y)[0] = (int32_t)(a0);                \
        if ((n) > 1u) (y)[1] = (int32_t)(a1);  \
        if ((n) > 2u) (y)[2] = (int32_t)(a2);  \
        if ((n) > 3u) (y)[3] = (int32_t)(a3);  \
    } while (0)

/* RNNMCU_MV_STORE4 for a loop that walks y and the rows left: stores the block's rows, then moves
 * y and left on (a whole block, the usual case, stores without a compare per row) */
#define RNNMCU_MV_STORE_NEXT(y, left, a0, a1, a2, a3)         \
    do {                                                      \
        if ((left) >= 4u) {                                   \
            (y)[0] = (a0);                                    \
            (y)[1] = (a1);                                    \
            (y)[2] = (a2);                                    \
            (y)[3] = (a3);                                    \
            (y) += 4;                                         \
            (left) -= 4u;                                     \
        } else {                                              \
            RNNMCU_MV_STORE4((y), (left), a0, a1, a2, a3);    \
            (left) = 0u;                                      \
        }                                                     \
    } while (0)

#endif
