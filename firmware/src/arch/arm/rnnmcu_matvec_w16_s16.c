/* rnnmcu — int16-weight (wide layout) x int16 matrix-vector product for Cortex-M with the DSP
 * extension (rnnmcu_mvw_dsp.h): the chunk's 4 activations are two words (x is only halfword-
 * aligned: no LDRD), repacked by PKHTB/PKHBT into (x1,x3) and (x0,x2), so a chunk of 16 MACs is
 * 4 + 2 + 8 = 14 instructions.  Replaces firmware/src/rnnmcu_matvec_w16_s16.c on arch "arm";
 * without DSP (M0/M0+/M3), the portable code at the end. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define RNNMCU_MVW_X_T int16_t
#define RNNMCU_MVW_FN rnnmcu_matvec_w16_s16
#define RNNMCU_MVW_XLOAD                                  \
    "ldr    %[xe], [%[xp]], #4\n\t"                       \
    "ldr    %[w0], [%[xp]], #4\n\t"                       \
    "pkhtb  %[xo], %[w0], %[xe], asr #16\n\t"             \
    "pkhbt  %[xe], %[xe], %[w0], lsl #16\n\t"
#include "rnnmcu_mvw_dsp.h"
#else /* no DSP (M0, M0+, M3): the portable code (rnnmcu_matvec_portable.h) */
#define RNNMCU_MV_W_T int16_t
#define RNNMCU_MV_WIDE 1
#define RNNMCU_MV_X_T int16_t
#define RNNMCU_MV_FN rnnmcu_matvec_w16_s16
#include "rnnmcu_matvec_portable.h"
#endif
