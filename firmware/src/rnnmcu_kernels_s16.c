/* rnnmcu — integer kernels with int16 activations (see rnnmcu_qkernels_impl.h). */
#define RNNMCU_ACT_T int16_t
#define RNNMCU_ACT_MIN (-32768)
#define RNNMCU_ACT_MAX 32767
#define RNNMCU_ACT_BITS 16
#define RNNMCU_SFX s16
#include "rnnmcu_qkernels_impl.h"
