/* rnnmcu — COBS decoder (streaming, bounded) and encoder (zero-copy to the port). */
#include "rnnmcu_cobs.h"
#include "rnnmcu_port.h"

static void rnnmcu_cobs_restart(rnnmcu_cobs_decoder_t *d)
{
    d->len = 0;
    d->code = 0;
    d->remaining = 0;
    d->started = 0;
    d->overflow = 0;
}

void rnnmcu_cobs_decoder_init(rnnmcu_cobs_decoder_t *d, uint8_t *buf, size_t cap)
{
    d->buf = buf;
    d->cap = cap;
    rnnmcu_cobs_restart(d);
}

static void rnnmcu_cobs_put(rnnmcu_cobs_decoder_t *d, uint8_t byte)
{
    if (d->len >= d->cap) {
        d->overflow = 1;
        return;
    }
    d->buf[d->len] = byte;
    d->len++;
}

rnnmcu_cobs_result_t rnnmcu_cobs_decode_byte(rnnmcu_cobs_decoder_t *d, uint8_t byte)
{
    rnnmcu_cobs_result_t result;
    if (byte == 0u) {
        if (!d->started) {
            return RNNMCU_COBS_MORE;
        }
        if (d->overflow) {
            result = RNNMCU_COBS_OVERSIZE;
        } else if (d->remaining != 0u) {
            result = RNNMCU_COBS_BAD;
        } else {
            result = RNNMCU_COBS_FRAME;
        }
        {
            size_t len = d->len;
            rnnmcu_cobs_restart(d);
            d->len = len; /* keep the size readable until the next byte */
        }
        return result;
    }
    if (!d->started) {
        /* first byte of a new frame: forget the previous frame's size */
        d->len = 0;
        d->started = 1;
    }
    if (d->overflow) {
        return RNNMCU_COBS_MORE;
    }
    if (d->remaining == 0u) {
        /* a code byte: the block before it ended with an implied zero unless it was full */
        if (d->code != 0u && d->code != 0xFFu) {
            rnnmcu_cobs_put(d, 0u);
        }
        d->code = byte;
        d->remaining = (uint8_t)(byte - 1u);
    } else {
        rnnmcu_cobs_put(d, byte);
        d->remaining--;
    }
    return RNNMCU_COBS_MORE;
}

void rnnmcu_cobs_write_frame(const uint8_t *src, size_t n)
{
    static const uint8_t delimiter = 0u;
    size_t i = 0;
    for (;;) {
        size_t run = 0;
        uint8_t code;
        while (i + run < n && run < 254u && src[i + run] != 0u) {
            run++;
        }
        code = (uint8_t)(run + 1u);
        rnnmcu_port_write(&code, 1u);
        if (run != 0u) {
            rnnmcu_port_write(src + i, run);
        }
        i += run;
        if (i >= n) {
            break;
        }
        if (run < 254u) {
            i++; /* the zero this block stands for */
            if (i == n) {
                /* the data ended with a zero: an empty last block carries it */
                code = 1u;
                rnnmcu_port_write(&code, 1u);
                break;
            }
        }
    }
    rnnmcu_port_write(&delimiter, 1u);
}
