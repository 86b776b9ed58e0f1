/* rnnmcu — int16-weight (wide layout) x int16 matrix-vector product for Xtensa (LX106/ESP8266,
 * LX6/LX7/ESP32).  Replaces firmware/src/rnnmcu_matvec_w16_s16.c on arch "xtensa"; int8 models
 * reach it too, their activations widened once per step (rnnmcu_kernels.h, RNNMCU_S8_VIA_S16).
 *
 * The wide layout (codegen/layout.py, pack_wide) stores every weight as an int16, a row's chunk
 * as columns (0, 2, 1, 3): each weight is one L16SI at a fixed offset, where the compact layout
 * costs an EXTUI and a share of an XOR and of an offset correction per weight (rnnmcu_matvec_impl.h).
 * One pass computes the 4 rows of a block, each activation loaded once per pass; the chunk is
 * inline assembly (two loads, two MULLs, two ADDs at a time, so that a load's result is not used
 * by the next instruction) so that GCC cannot interleave the rows and spill. */
#if !defined(__XTENSA__)
#error "firmware/src/arch/xtensa is for Xtensa cores (build without arch files elsewhere)"
#endif

#include <stdint.h>

#include "rnnmcu_kernels.h"
#include "rnnmcu_mv_block.h"

/* A += row chunk at byte offset OFF of wp (columns 0, 2, 1, 3 at +0, +2, +4, +6) times x0..x3 */
#define RNNMCU_MVW_ROW(A, OFF)                                                                   \
    __asm__("l16si %[t0], %[wp], " #OFF "+0\n\tl16si %[t1], %[wp], " #OFF "+4\n\t"               \
            "mull %[t0], %[t0], %[e0]\n\tmull %[t1], %[t1], %[e1]\n\t"                           \
            "add %[ac], %[ac], %[t0]\n\tadd %[ac], %[ac], %[t1]\n\t"                             \
            "l16si %[t0], %[wp], " #OFF "+2\n\tl16si %[t1], %[wp], " #OFF "+6\n\t"               \
            "mull %[t0], %[t0], %[e2]\n\tmull %[t1], %[t1], %[e3]\n\t"                           \
            "add %[ac], %[ac], %[t0]\n\tadd %[ac], %[ac], %[t1]"                                 \
            : [ac] "+r"(A), [t0] "=&r"(t0_), [t1] "=&r"(t1_)                                     \
            : [wp] "r"(w), [e0] "r"(x0), [e1] "r"(x1), [e2] "r"(x2), [e3] "r"(x3),               \
              "m"(*(const int16_t(*)[16])w))

void rnnmcu_matvec_w16_s16(const int16_t *w, const int16_t *x, uint16_t rows, uint16_t cols, int32_t *y)
{
    const uint32_t chunks = cols / 4u, tail = cols % 4u;
    const int16_t *const xend = x + 4u * chunks;
    uint32_t r0;
    for (r0 = 0; r0 < rows; r0 += 4u) {
        const int16_t *xp = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (; xp != xend; xp += 4, w += 16) {
            const int32_t x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
            int32_t t0_, t1_;
            RNNMCU_MVW_ROW(a0, 0);
            RNNMCU_MVW_ROW(a1, 8);
            RNNMCU_MVW_ROW(a2, 16);
            RNNMCU_MVW_ROW(a3, 24);
        }
        if (tail) {
            RNNMCU_MV_TAIL(w, xp, tail, RNNMCU_W16_AT, a0, a1, a2, a3);
            w += 16;
        }
        RNNMCU_MV_STORE4(y + r0, rows - r0, a0, a1, a2, a3);
    }
}

#undef RNNMCU_MVW_ROW
