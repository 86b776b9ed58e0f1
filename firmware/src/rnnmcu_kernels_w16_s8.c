/* rnnmcu — the recurrent step functions for models with wide (int16) weights and
 * int8 activations (see rnnmcu_qkernels_impl.h, RNNMCU_WIDE). */
#define RNNMCU_ACT_T int8_t
#define RNNMCU_ACT_MIN (-128)
#define RNNMCU_ACT_MAX 127
#define RNNMCU_ACT_BITS 8
#define RNNMCU_SFX w16_s8
#define RNNMCU_WIDE 1
#include "rnnmcu_qkernels_impl.h"
