/* rnnmcu — int16-weight (wide layout) x int8 matrix-vector product for Cortex-M without the DSP
 * extension: on arch "arm" this file or rnnmcu_matvec_w16_s8.c (DSP) defines the function, by
 * __ARM_FEATURE_DSP; without DSP it is the portable code (rnnmcu_matvec_w16_impl.h). */
#if !(defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP)
#define RNNMCU_MVW_X_T int8_t
#define RNNMCU_MVW_FN rnnmcu_matvec_w16_s8
#include "rnnmcu_matvec_w16_impl.h"
#endif
