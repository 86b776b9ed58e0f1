/* rnnmcu — the streaming decision policy: per-step class scores (the model's integer outputs)
 * -> events.  Integer-only, no malloc: the caller owns the state arrays (the generated
 * rnnmcu_stream_config.c sizes them for the model).  Its bit-exact twin is
 * codegen/stream_policy.py; the rules are documented there. */
#ifndef RNNMCU_POLICY_H
#define RNNMCU_POLICY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RNNMCU_POLICY_SMOOTH_NONE 0u
#define RNNMCU_POLICY_SMOOTH_EMA 1u
#define RNNMCU_POLICY_SMOOTH_MAJORITY 2u

#define RNNMCU_POLICY_RESET_NEVER 0u
#define RNNMCU_POLICY_RESET_EVERY 1u
#define RNNMCU_POLICY_RESET_IDLE 2u

#define RNNMCU_POLICY_EMA_FRAC 6  /* fraction bits of the EMA state */
#define RNNMCU_POLICY_NONE (-1)   /* no class */

/* update() result bits */
#define RNNMCU_POLICY_EVENT 0x1
#define RNNMCU_POLICY_RESET_MODEL 0x2

typedef struct {
    uint16_t n_classes;   /* 1..254 */
    uint8_t smooth;       /* RNNMCU_POLICY_SMOOTH_* */
    uint8_t reset;        /* RNNMCU_POLICY_RESET_* */
    uint16_t k;           /* majority window, 1..255 */
    int16_t idle_class;   /* a class that never fires, or RNNMCU_POLICY_NONE */
    int32_t alpha_q15;    /* ema weight of the new step, 1..32768 */
    int32_t threshold;    /* in model output units */
    uint32_t holdoff;     /* steps between two events */
    uint32_t reset_n;     /* every: N steps; idle: K inactive steps */
} rnnmcu_policy_config_t;

typedef struct {
    int32_t *ema;         /* n_classes (ema) */
    uint8_t *votes;       /* k (majority) */
    uint16_t *counts;     /* n_classes + 1 (majority; the last counts "none") */
    uint16_t vpos;
    uint16_t vfill;
    int16_t latched;
    uint32_t since_event;
    uint32_t idle_run;
    uint32_t since_reset;
} rnnmcu_policy_t;

typedef struct {
    int16_t cls;
    int32_t confidence;
} rnnmcu_policy_event_t;

/* Clear the state (the arrays must be set). */
void rnnmcu_policy_init(rnnmcu_policy_t *p, const rnnmcu_policy_config_t *cfg);

/* One model step: y holds n_classes scores of elem_size bytes (1: int8_t, 2: int16_t).
 * Returns RNNMCU_POLICY_EVENT (ev filled) and/or RNNMCU_POLICY_RESET_MODEL (the caller resets
 * the model's recurrent state before the next step), or 0. */
int rnnmcu_policy_update(rnnmcu_policy_t *p, const rnnmcu_policy_config_t *cfg, const void *y,
                         uint8_t elem_size, rnnmcu_policy_event_t *ev);

#ifdef __cplusplus
}
#endif
#endif
