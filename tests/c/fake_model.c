/* rnnmcu tests — a fake model descriptor for protocol tests, independent of the code generator.
 *
 * Defined exactly (tests/test_protocol*.py recompute it in numpy):
 *   input_dim = 3, output_dim = 4, elem int16 (or int8 with -DFAKE_INT8)
 *   state: s[0..2] (int32), k (steps since reset, int32)
 *   step(x): s[c] += x[c]; k += 1; y[c] = sat(s[c]) for c < 3, y[3] = sat(k)
 *            (sat: saturate to the element type).  x[0] == FAKE_ERROR_VALUE (the type's minimum)
 *            makes step return -1 without touching the state.
 *   run(x, T): reset, then T steps; y = the last step's y, or every step's y with
 *            -DFAKE_OUTPUT_SEQUENCE.  T == 0 or T > max_steps returns -1.
 * Options: -DFAKE_WINDOW_ONLY (step = NULL, flag set), -DFAKE_MAX_STEPS=n (default 64),
 * -DFAKE_BENCH_RUN (the BENCH_RUN flag: BENCH times run() although the model steps).
 * -DFAKE_FLOAT32: float elements; step: s[c] += x[c] in float (no clamp), y[c] = s[c], y[3] = k;
 *   x[0] being NaN is the refused input.  (Test code: only the app must stay integer-only.)
 */
#include <stddef.h>
#include <stdint.h>

#include "rnnmcu_model_iface.h"

#ifndef FAKE_MAX_STEPS
#define FAKE_MAX_STEPS 64
#endif
#define FAKE_IN 3
#define FAKE_OUT 4

#if defined(FAKE_FLOAT32)
typedef float fake_elem_t;
#define FAKE_PRECISION RNNMCU_PRECISION_FLOAT32
#elif defined(FAKE_INT8)
typedef int8_t fake_elem_t;
#define FAKE_MIN (-128)
#define FAKE_MAX 127
#define FAKE_PRECISION RNNMCU_PRECISION_INT8
#else
typedef int16_t fake_elem_t;
#define FAKE_MIN (-32768)
#define FAKE_MAX 32767
#define FAKE_PRECISION RNNMCU_PRECISION_INT16
#endif

#ifdef FAKE_WINDOW_ONLY
#define FAKE_F1 RNNMCU_MODEL_WINDOW_ONLY
#else
#define FAKE_F1 0u
#endif
#ifdef FAKE_OUTPUT_SEQUENCE
#define FAKE_F2 RNNMCU_MODEL_OUTPUT_SEQUENCE
#else
#define FAKE_F2 0u
#endif
#ifdef FAKE_BENCH_RUN
#define FAKE_F3 RNNMCU_MODEL_BENCH_RUN
#else
#define FAKE_F3 0u
#endif

#ifdef FAKE_FLOAT32
typedef struct {
    float s[FAKE_IN];
    int32_t k;
} fake_state_t;
#else
typedef struct {
    int32_t s[FAKE_IN];
    int32_t k;
} fake_state_t;

static fake_elem_t fake_sat(int32_t v)
{
    return (fake_elem_t)(v < FAKE_MIN ? FAKE_MIN : (v > FAKE_MAX ? FAKE_MAX : v));
}
#endif

static fake_state_t fake_state;

static void fake_reset(void *state)
{
    fake_state_t *st = (fake_state_t *)state;
    int c;
    for (c = 0; c < FAKE_IN; c++) {
        st->s[c] = 0;
    }
    st->k = 0;
}

#ifdef FAKE_FLOAT32
static int fake_step(void *state, const void *x, void *y)
{
    fake_state_t *st = (fake_state_t *)state;
    const float *xv = (const float *)x;
    float *yv = (float *)y;
    int c;
    if (xv[0] != xv[0]) {
        return -1;
    }
    for (c = 0; c < FAKE_IN; c++) {
        st->s[c] += xv[c];
        yv[c] = st->s[c];
    }
    st->k++;
    yv[FAKE_IN] = (float)st->k;
    return 0;
}
#else
static int fake_step(void *state, const void *x, void *y)
{
    fake_state_t *st = (fake_state_t *)state;
    const fake_elem_t *xv = (const fake_elem_t *)x;
    fake_elem_t *yv = (fake_elem_t *)y;
    int c;
    if (xv[0] == FAKE_MIN) {
        return -1;
    }
    for (c = 0; c < FAKE_IN; c++) {
        /* clamp the running sum so it can never overflow int32 */
        int32_t s = st->s[c] + xv[c];
        st->s[c] = s > 1000000 ? 1000000 : (s < -1000000 ? -1000000 : s);
        yv[c] = fake_sat(st->s[c]);
    }
    if (st->k < 1000000) {
        st->k++;
    }
    yv[FAKE_IN] = fake_sat(st->k);
    return 0;
}
#endif

static int fake_run(void *state, const void *x, uint16_t T, void *y)
{
    const fake_elem_t *xv = (const fake_elem_t *)x;
    fake_elem_t *yv = (fake_elem_t *)y;
    uint16_t t;
    if (T == 0u || T > FAKE_MAX_STEPS) {
        return -1;
    }
    fake_reset(state);
    for (t = 0; t < T; t++) {
        int rc = fake_step(state, xv + (size_t)t * FAKE_IN, yv);
        if (rc != 0) {
            return rc;
        }
#ifdef FAKE_OUTPUT_SEQUENCE
        yv += FAKE_OUT;
#endif
    }
    return 0;
}

const rnnmcu_model_desc_t rnnmcu_app_model = {
    .name = "fake",
    .hash = 0x5eed1234u,
    .input_dim = FAKE_IN,
    .output_dim = FAKE_OUT,
    .max_steps = FAKE_MAX_STEPS,
    .precision = (uint8_t)FAKE_PRECISION,
    .elem_size = (uint8_t)sizeof(fake_elem_t),
    .in_elem_size = (uint8_t)sizeof(fake_elem_t),
    .flags = (uint8_t)(FAKE_F1 | FAKE_F2 | FAKE_F3),
    .state = &fake_state,
    .reset = fake_reset,
#ifdef FAKE_WINDOW_ONLY
    .step = NULL,
#else
    .step = fake_step,
#endif
    .run = fake_run,
};
