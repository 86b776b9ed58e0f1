/* rnnmcu — int8-weight x int16 matrix-vector product for RV32 (RV32IMC: ESP32-C3, QEMU virt).
 * Replaces firmware/src/rnnmcu_matvec_s16.c on arch "riscv32"; the code is rnnmcu_matvec_impl.h. */
#define RNNMCU_MV_X_T int16_t
#define RNNMCU_MV_FN rnnmcu_matvec_s16
#include "rnnmcu_matvec_impl.h"
