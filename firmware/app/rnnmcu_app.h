/* rnnmcu — the portable firmware app: feeds received bytes through the frame decoder and answers
 * requests with the model bound in rnnmcu_app_model.  Board entries call these three functions. */
#ifndef RNNMCU_APP_H
#define RNNMCU_APP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reset the model state and the protocol state.  Writes nothing. */
void rnnmcu_app_init(void);

/* Optional: write "rnnmcu ready <model> <hash>\n" and a 0x00 delimiter.  Call it once, before any
 * byte is fed; the host skips everything up to the first valid frame. */
void rnnmcu_app_banner(void);

/* Feed one received byte; a completed frame is answered through rnnmcu_port_write. */
void rnnmcu_app_rx(uint8_t byte);

/* Feed n received bytes (same as calling rnnmcu_app_rx for each). */
void rnnmcu_app_rx_buf(const uint8_t *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
