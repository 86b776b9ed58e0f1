/* rnnmcu — portable int16-weight (wide layout) x int8 matrix-vector product: the code is
 * rnnmcu_matvec_w16_impl.h.  A file of the same name under firmware/src/arch/<arch>/ replaces
 * this one on that arch. */
#define RNNMCU_MVW_X_T int8_t
#define RNNMCU_MVW_FN rnnmcu_matvec_w16_s8
#include "rnnmcu_matvec_w16_impl.h"
