/* rnnmcu — integer kernels with int8 activations (see rnnmcu_qkernels_impl.h). */
#define RNNMCU_ACT_T int8_t
#define RNNMCU_ACT_MIN (-128)
#define RNNMCU_ACT_MAX 127
#define RNNMCU_ACT_BITS 8
#define RNNMCU_SFX s8
#include "rnnmcu_qkernels_impl.h"
