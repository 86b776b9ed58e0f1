/* rnnmcu — the part of a chunk that the two Cortex-M DSP kernels (rnnmcu_matvec_s8.c,
 * rnnmcu_matvec_s16.c in this folder) share, as assembly text for their chunk loops: the 4 rows
 * of a layout block (codegen/layout.py) against one chunk of 4 activations that the kernel has
 * already widened into (x0,x2) in %[xe] and (x1,x3) in %[xo].  Two post-incremented LDRD read
 * the block's 16 weight bytes; each row's word is widened by SXTB16 (plain and rotated by 8) into
 * (w0,w2) and (w1,w3) and goes into its sum %[a0]..%[a3] with two SMLAD: 2 + 4 * (2 + 2) = 18
 * instructions.  Operands the asm statement must name: a0..a3, wp, wa, wb, t, xe, xo. */
#ifndef RNNMCU_MV_DSP_H
#define RNNMCU_MV_DSP_H

#define RNNMCU_MV_DSP_ROW(A, W)                           \
    "sxtb16 %[t], %[" W "]\n\t"                           \
    "smlad  %[" A "], %[t], %[xe], %[" A "]\n\t"          \
    "sxtb16 %[t], %[" W "], ror #8\n\t"                   \
    "smlad  %[" A "], %[t], %[xo], %[" A "]\n\t"

#define RNNMCU_MV_DSP_ROWS4                               \
    "ldrd   %[wa], %[wb], [%[wp]], #8\n\t"                \
    RNNMCU_MV_DSP_ROW("a0", "wa")                         \
    RNNMCU_MV_DSP_ROW("a1", "wb")                         \
    "ldrd   %[wa], %[wb], [%[wp]], #8\n\t"                \
    RNNMCU_MV_DSP_ROW("a2", "wa")                         \
    RNNMCU_MV_DSP_ROW("a3", "wb")

#endif
