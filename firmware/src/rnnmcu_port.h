/* rnnmcu — what each board entry file provides to the portable firmware app.
 * Board entries live under firmware/boards/<board>/ and are the only board-specific code. */
#ifndef RNNMCU_PORT_H
#define RNNMCU_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RNNMCU_COUNTER_NONE = 0,         /* no counter: bench replies 0 ticks */
    RNNMCU_COUNTER_CYCLES = 1,       /* a CPU cycle counter (real parts: DWT CYCCNT, ccount, mcycle) */
    RNNMCU_COUNTER_INSTRUCTIONS = 2  /* an instruction counter (QEMU -icount shift=0) */
} rnnmcu_counter_kind_t;

typedef struct {
    const char *board;        /* board name as in boards/<board>.toml */
    uint32_t clock_hz;        /* CPU clock the board runs at (0 if unknown) */
    uint8_t counter_kind;     /* rnnmcu_counter_kind_t */
    uint16_t counter_scale;   /* instructions (or cycles) per counter tick */
    const char *build_info;   /* compiler + flags, free text */
} rnnmcu_board_info_t;

extern const rnnmcu_board_info_t rnnmcu_board_info;

/* Write n bytes to the link (blocking until queued). */
void rnnmcu_port_write(const uint8_t *buf, size_t n);
/* Free-running counter of the kind in rnnmcu_board_info (wraps at 2^32). */
uint32_t rnnmcu_port_counter(void);

#ifdef __cplusplus
}
#endif
#endif
