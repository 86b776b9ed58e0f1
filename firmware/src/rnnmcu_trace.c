/* rnnmcu — the TRACE debug build's recorder (rnnmcu_trace.h); empty in a normal build. */
#include "rnnmcu_ops.h"
#include "rnnmcu_trace.h"

#ifdef RNNMCU_TRACE
int16_t *rnnmcu_trace_buf;
uint32_t rnnmcu_trace_cap;
uint32_t rnnmcu_trace_len;
uint8_t rnnmcu_trace_want = 0xFFu;
uint8_t rnnmcu_trace_now = 0xFEu;
uint8_t rnnmcu_trace_overflow;

void rnnmcu_trace_put(uint32_t off, int32_t v)
{
    if (rnnmcu_trace_buf == 0)
        return;
    if (off >= rnnmcu_trace_cap) {
        rnnmcu_trace_overflow = 1u;
        return;
    }
    rnnmcu_trace_buf[off] = (int16_t)v;
    if (off + 1u > rnnmcu_trace_len)
        rnnmcu_trace_len = off + 1u;
}

int32_t rnnmcu_trace_table(const int16_t *tab, int32_t pre, uint32_t pre_off, uint32_t val_off)
{
    const int32_t v = rnnmcu_table(tab, pre);
    RNNMCU_TRACE_PUT(pre_off, pre);
    if (val_off != RNNMCU_TR_NONE)
        RNNMCU_TRACE_PUT(val_off, v);
    return v;
}
#else
typedef int rnnmcu_trace_unused_t; /* ISO C forbids an empty translation unit */
#endif
