/* rnnmcu — int16-weight (wide layout) x int8 matrix-vector product for Cortex-M with the DSP
 * extension (rnnmcu_mvw_dsp.h): the chunk's 4 activations are one word, widened by SXTB16 into
 * (x0,x2) and (x1,x3), so a chunk of 16 MACs is 3 + 2 + 8 = 13 instructions.  Replaces
 * firmware/src/rnnmcu_matvec_w16_s8.c on arch "arm"; without DSP
 * (M0/M0+/M3), the portable code at the end. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define RNNMCU_MVW_X_T int8_t
#define RNNMCU_MVW_FN rnnmcu_matvec_w16_s8
#define RNNMCU_MVW_XLOAD                                  \
    "ldr    %[xo], [%[xp]], #4\n\t"                       \
    "sxtb16 %[xe], %[xo]\n\t"                             \
    "sxtb16 %[xo], %[xo], ror #8\n\t"
#include "rnnmcu_mvw_dsp.h"
#else /* no DSP (M0, M0+, M3): the portable code (rnnmcu_matvec_portable.h) */
#define RNNMCU_MV_W_T int16_t
#define RNNMCU_MV_WIDE 1
#define RNNMCU_MV_X_T int8_t
#define RNNMCU_MV_FN rnnmcu_matvec_w16_s8
#include "rnnmcu_matvec_portable.h"
#endif
