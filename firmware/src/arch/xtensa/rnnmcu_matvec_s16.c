/* rnnmcu — int8 x int16 matrix-vector product for Xtensa (LX106/ESP8266, LX6/LX7/ESP32).
 * Replaces firmware/src/rnnmcu_matvec_s16.c on arch "xtensa"; the code is rnnmcu_matvec_impl.h. */
#define RNNMCU_MV_X_T int16_t
#define RNNMCU_MV_FN rnnmcu_matvec_s16
#include "rnnmcu_matvec_impl.h"
