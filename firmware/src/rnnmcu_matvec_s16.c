/* rnnmcu — portable int8 x int16 matrix-vector product: the code is rnnmcu_matvec_portable.h.  A
 * file of the same name under firmware/src/arch/<arch>/ replaces this one on that arch. */
#define RNNMCU_MV_W_T int8_t
#define RNNMCU_MV_WIDE 0
#define RNNMCU_MV_X_T int16_t
#define RNNMCU_MV_FN rnnmcu_matvec_s16
#include "rnnmcu_matvec_portable.h"
