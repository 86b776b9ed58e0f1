/* rnnmcu — what the Cortex-M DSP kernels in this folder share, as assembly text: the chunk loop
 * (RNNMCU_MV_DSP_LOOP, all four kernels) and, for the compact layout's two (rnnmcu_matvec_s8.c,
 * rnnmcu_matvec_s16.c), RNNMCU_MV_DSP_ROWS4: the 4 rows of a layout block (codegen/layout.py) against one chunk of 4 activations that the kernel has
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

/* A chunk loop around CHUNK (assembly text that consumes one chunk): two chunks per turn, and an
 * odd count enters at the second, so the CMP/BNE is paid once per two chunks.  %[xe] holds the
 * chunk count's parity on entry (CHUNK may overwrite it); the loop ends when %[xp] reaches %[xend]. */
#define RNNMCU_MV_DSP_LOOP(CHUNK)                         \
    "cmp    %[xe], #0\n\t"                                \
    "bne    2f\n"                                         \
    "1:\n\t" CHUNK                                        \
    "2:\n\t" CHUNK                                        \
    "cmp    %[xp], %[xend]\n\t"                           \
    "bne    1b"

#define RNNMCU_MV_DSP_ROWS4                               \
    "ldrd   %[wa], %[wb], [%[wp]], #8\n\t"                \
    RNNMCU_MV_DSP_ROW("a0", "wa")                         \
    RNNMCU_MV_DSP_ROW("a1", "wb")                         \
    "ldrd   %[wa], %[wb], [%[wp]], #8\n\t"                \
    RNNMCU_MV_DSP_ROW("a2", "wa")                         \
    RNNMCU_MV_DSP_ROW("a3", "wb")

#endif
