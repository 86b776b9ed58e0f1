/* rnnmcu — the TRACE debug build (rnnmcu build --trace; rnnmcu inspect --board): one layer's
 * intermediate tensors of one step, written where the app asks, for the host to check against the
 * integer reference bit for bit (firmware/PROTOCOL.md, TRACE).  Without RNNMCU_TRACE every hook is
 * empty: a normal build's code is the same.
 *
 * A traced recurrent layer's values, in this order, int16 each (n units, G gate rows per unit, R of
 * them through the recurrent activation: LSTM 4 and 3 (i, f, o), GRU 3 and 2 (z, r), SimpleRNN 1
 * and 0); rnnmcu.codegen.inspect.trace_layout is the same table in Python:
 *   pre   G*n  each gate row's pre-activation (saturated to int16), gate-major: row g*n + unit
 *   gate  R*n  the recurrent-activation gates' values
 *   cand  n    LSTM g, GRU h~ (SimpleRNN: none)
 *   c     n    LSTM c, an int8 GRU's 16-bit state (else none)
 *   h     n    the new h
 * A Dense layer's pre (its outputs' count) then out; an Activation or Softmax layer's out. */
#ifndef RNNMCU_TRACE_H
#define RNNMCU_TRACE_H

#include <stdint.h>

#include "rnnmcu_build_config.h"

#define RNNMCU_TR_PRE(n, g, u) ((uint32_t)(g) * (uint32_t)(n) + (uint32_t)(u))
#define RNNMCU_TR_GATE(G, n, k, u) (((uint32_t)(G) + (uint32_t)(k)) * (uint32_t)(n) + (uint32_t)(u))
#define RNNMCU_TR_CAND(G, R, n, u) (((uint32_t)(G) + (uint32_t)(R)) * (uint32_t)(n) + (uint32_t)(u))
#define RNNMCU_TR_C(G, R, n, u) (((uint32_t)(G) + (uint32_t)(R) + 1u) * (uint32_t)(n) + (uint32_t)(u))
#define RNNMCU_TR_NONE 0xFFFFFFFFu

#ifdef RNNMCU_TRACE
extern int16_t *rnnmcu_trace_buf;   /* where the traced layer's values go (the app's reply) */
extern uint32_t rnnmcu_trace_cap;   /* its room, in values */
extern uint32_t rnnmcu_trace_len;   /* one past the highest value written */
extern uint8_t rnnmcu_trace_want;   /* the layer to trace */
extern uint8_t rnnmcu_trace_now;    /* the layer running (the generated model sets it) */
extern uint8_t rnnmcu_trace_overflow; /* a value fell beyond cap */
void rnnmcu_trace_put(uint32_t off, int32_t v);
/* table(tab, pre) that also records pre at pre_off and the value at val_off (RNNMCU_TR_NONE: not) */
int32_t rnnmcu_trace_table(const int16_t *tab, int32_t pre, uint32_t pre_off, uint32_t val_off);
#define RNNMCU_TRACE_PUT(off, v)                                                                  \
    do {                                                                                         \
        if (rnnmcu_trace_now == rnnmcu_trace_want)                                               \
            rnnmcu_trace_put((off), (int32_t)(v));                                               \
    } while (0)
#define RNNMCU_TRACE_LAYER(i) (rnnmcu_trace_now = (uint8_t)(i))
#define RNNMCU_TRACE_VEC(off, src, count)                                                         \
    do {                                                                                         \
        uint32_t i_;                                                                             \
        for (i_ = 0; i_ < (uint32_t)(count); i_++)                                               \
            RNNMCU_TRACE_PUT((off) + i_, (src)[i_]);                                             \
    } while (0)
#define RNNMCU_TAB(tab, pre, pre_off, val_off) rnnmcu_trace_table((tab), rnnmcu_sat16_32(pre), (pre_off), (val_off))
#else
#define RNNMCU_TRACE_PUT(off, v) ((void)0)
#define RNNMCU_TRACE_LAYER(i) ((void)0)
#define RNNMCU_TRACE_VEC(off, src, count) ((void)0)
#define RNNMCU_TAB(tab, pre, pre_off, val_off) rnnmcu_table((tab), rnnmcu_sat16_32(pre))
#endif

#endif
