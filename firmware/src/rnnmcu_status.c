/* rnnmcu — status strings. */
#include "rnnmcu_kernels.h"

static const char *const rnnmcu_status_text[RNNMCU_STATUS_COUNT] = {
    [RNNMCU_OK] = "ok",
    [RNNMCU_ERR_STEPS] = "number of steps is 0 or larger than the model's max_steps",
    [RNNMCU_ERR_WINDOW_ONLY] = "this model needs a whole window: call run(), not step()",
};

const char *rnnmcu_status_str(int status)
{
    if (status < 0 || status >= RNNMCU_STATUS_COUNT || !rnnmcu_status_text[status])
        return "unknown status";
    return rnnmcu_status_text[status];
}
