/* rnnmcu — the recurrent step functions for models with wide (int16) weights and
 * int16 activations (see rnnmcu_qkernels_impl.h, RNNMCU_WIDE). */
#define RNNMCU_ACT_T int16_t
#define RNNMCU_ACT_MIN (-32768)
#define RNNMCU_ACT_MAX 32767
#define RNNMCU_ACT_BITS 16
#define RNNMCU_SFX w16_s16
#define RNNMCU_WIDE 1
#include "rnnmcu_qkernels_impl.h"
