/* rnnmcu — int16-weight (wide layout) x int8 matrix-vector product for Cortex-M without the DSP
 * extension (M0, M0+, M3: no SXTB16/SMLAD).  On arch "arm" this file or rnnmcu_matvec_w16_s8.c (DSP) defines the
 * function, by __ARM_FEATURE_DSP; without DSP it is the portable code (rnnmcu_matvec_portable.h:
 * each activation loaded once per 4 rows, each weight one load with an immediate offset). */
#if !(defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP)
#define RNNMCU_MV_W_T int16_t
#define RNNMCU_MV_WIDE 1
#define RNNMCU_MV_X_T int8_t
#define RNNMCU_MV_FN rnnmcu_matvec_w16_s8
#include "rnnmcu_matvec_portable.h"
#endif
