/* rnnmcu — COBS (consistent overhead byte stuffing): a streaming decoder that never stores more
 * than its buffer holds, and an encoder that writes straight to the link. */
#ifndef RNNMCU_COBS_H
#define RNNMCU_COBS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RNNMCU_COBS_MORE = 0,      /* byte consumed, frame not finished */
    RNNMCU_COBS_FRAME = 1,     /* a delimiter closed a well-formed frame: buf[0..len) */
    RNNMCU_COBS_BAD = 2,       /* a delimiter closed a frame with a truncated COBS block */
    RNNMCU_COBS_OVERSIZE = 3   /* a delimiter closed a frame that did not fit in buf */
} rnnmcu_cobs_result_t;

/* Caller-owned decoder state; buf/cap are the decoded-frame buffer. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;         /* decoded bytes so far */
    uint8_t code;       /* code byte of the current block (0: none yet) */
    uint8_t remaining;  /* data bytes still expected in the current block */
    uint8_t started;    /* a non-zero byte has been seen since the last delimiter */
    uint8_t overflow;   /* the frame outgrew buf: discard until the delimiter */
} rnnmcu_cobs_decoder_t;

void rnnmcu_cobs_decoder_init(rnnmcu_cobs_decoder_t *d, uint8_t *buf, size_t cap);

/* Feed one received byte.  A delimiter with nothing before it (0x00 0x00) returns MORE: empty
 * frames are ignored, so a host may send 0x00 to flush a half-received frame.  After FRAME, BAD
 * or OVERSIZE the decoder is ready for the next frame; after FRAME, d->len is the frame size and
 * buf holds it until the next byte is fed. */
rnnmcu_cobs_result_t rnnmcu_cobs_decode_byte(rnnmcu_cobs_decoder_t *d, uint8_t byte);

/* COBS-encode src[0..n) and write it with rnnmcu_port_write, followed by the 0x00 delimiter. */
void rnnmcu_cobs_write_frame(const uint8_t *src, size_t n);

#endif
