/* rnnmcu — the streaming classifier: one sensor sample per call, one model step, the decision
 * policy, model state resets, and the counters a host reads back.  Constant memory: the model
 * state, one output vector and the policy state, all static (rnnmcu_stream_config.c). */
#ifndef RNNMCU_STREAM_H
#define RNNMCU_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "rnnmcu_policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the generated rnnmcu_stream_config.c provides. */
typedef struct {
    rnnmcu_policy_config_t policy_cfg;
    rnnmcu_policy_t *policy;
    void *y;                          /* one output vector of the model */
    const char *const *class_names;   /* n_classes names */
    uint32_t rate_mhz;                /* sample rate in milli-hertz */
    uint16_t latency_steps;           /* the policy's delay from a clean onset to its event */
} rnnmcu_stream_binding_t;

extern const rnnmcu_stream_binding_t rnnmcu_stream_binding;

/* Sensor units -> model inputs (the model's <name>_quantize_input); returns 1 for a masked sample. */
int rnnmcu_stream_quantize(const float *x, void *q);

typedef struct {
    uint32_t sample;      /* index of the sample that fired it (masked samples count) */
    int16_t cls;
    int32_t confidence;
} rnnmcu_stream_event_t;

typedef struct {
    uint32_t samples;     /* samples pushed (masked ones included) */
    uint32_t steps;       /* model steps */
    uint32_t masked;      /* masked samples (no step) */
    uint32_t events;
    uint32_t resets;      /* model state resets by the policy */
    uint32_t errors;      /* model steps that failed */
    uint32_t ticks_last;  /* counter ticks of the last sample (step + policy) */
    uint32_t ticks_max;
    uint32_t ticks_total_lo;
    uint32_t ticks_total_hi;
} rnnmcu_stream_stats_t;

extern rnnmcu_stream_stats_t rnnmcu_stream_stats;

/* Reset the model, the policy and the counters. */
void rnnmcu_stream_init(void);

/* One sample in the model's input encoding (input_dim values of elem_size bytes); masked: the
 * model's quantize_input said so (no step).  Returns 1 and fills ev when an event fires. */
int rnnmcu_stream_push(const void *xq, int masked, rnnmcu_stream_event_t *ev);

/* Counter ticks of model step + policy, the most of n pushes of a zero sample; re-inits after. */
uint32_t rnnmcu_stream_selftest(uint16_t n);

/* The startup line: "rnnmcu stream <model> <hash> rate_mhz=.. clock_hz=.. instr_per_sample=..
 * budget=.. load_ppm=.. latency_steps=.. latency_us=..\n" (instructions = ticks * counter scale). */
void rnnmcu_stream_banner_line(char *buf, size_t cap, uint32_t ticks_per_sample);

/* "event <sample> <class> <name> <confidence>\n" */
void rnnmcu_stream_event_line(char *buf, size_t cap, const rnnmcu_stream_event_t *ev);

#ifdef __cplusplus
}
#endif
#endif
