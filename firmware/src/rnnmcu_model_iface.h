/* rnnmcu — the interface between a generated model and the firmware app.
 *
 * A generated project contains one `rnnmcu_app_model` descriptor (in the generated
 * rnnmcu_app_model.c) that binds the model's functions and a statically allocated state.
 * The app (protocol, main loop) only ever talks to the model through this descriptor, so the
 * app is the same source for every model and every board.
 */
#ifndef RNNMCU_MODEL_IFACE_H
#define RNNMCU_MODEL_IFACE_H

#include <stddef.h>
#include <stdint.h>

#include "rnnmcu_facts.h" /* rnnmcu_precision_t and the RNNMCU_MODEL_* flags: generated from rnnmcu/facts.py */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;          /* model name (C identifier) */
    uint32_t hash;             /* first 32 bits of the model hash (RNNMCU_<NAME>_HASH) */
    uint16_t input_dim;        /* values per timestep */
    uint16_t output_dim;       /* values per output vector */
    uint16_t max_steps;        /* largest T that run() accepts */
    uint8_t precision;         /* rnnmcu_precision_t */
    uint8_t elem_size;         /* bytes per output value: 1, 2 or 4 (an int8 model's
                                * outputs are 16-bit: 2; NUMERICS.md, "16-bit head") */
    uint8_t in_elem_size;      /* bytes per input value: the precision's (1, 2, 4), or 2
                                * with RNNMCU_MODEL_INPUT16 */
    uint8_t flags;             /* RNNMCU_MODEL_* */
    void *state;               /* statically allocated <name>_state_t */
    /* Zero the recurrent state. */
    void (*reset)(void *state);
    /* One timestep: x has input_dim values, y receives output_dim values. NULL for WINDOW_ONLY. */
    int (*step)(void *state, const void *x, void *y);
    /* A whole window from a zero state: x has T*input_dim values (row-major, step-major); y
     * receives output_dim values, or T*output_dim with RNNMCU_MODEL_OUTPUT_SEQUENCE.
     * The state after run() is the state after the last step.  Returns 0, or non-zero if T is 0
     * or larger than max_steps. */
    int (*run)(void *state, const void *x, uint16_t T, void *y);
} rnnmcu_model_desc_t;

extern const rnnmcu_model_desc_t rnnmcu_app_model;

#ifdef __cplusplus
}
#endif
#endif
