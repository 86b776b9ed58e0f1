/* rnnmcu — the streaming app on a serial link (emulated boards, the host board, or any board fed
 * from a recording): the second implementation of the board hooks in rnnmcu_app.h, so every
 * board entry runs it unchanged.  Spec: firmware/stream/STREAM.md.
 *
 * Frames as in PROTOCOL.md (COBS, type:u8 seq:u8 len:u16 payload crc32).  Host -> device:
 * SAMPLE (0x10: seq32, flags, values in the model's input encoding), STATS (0x11), RESTART
 * (0x12).  Device -> host: EVENT (0x20) as it fires, STATS reply (0x91), RESTART reply (0x92).
 * A damaged or malformed frame is counted (bad_frames), never answered: the stream keeps going. */
#include <string.h>

#include "rnnmcu_app.h"
#include "rnnmcu_cobs.h"
#include "rnnmcu_crc32.h"
#include "rnnmcu_model_iface.h"
#include "rnnmcu_port.h"
#include "rnnmcu_stream.h"

#define ST_SAMPLE RNNMCU_ST_SAMPLE
#define ST_STATS RNNMCU_ST_STATS
#define ST_RESTART RNNMCU_ST_RESTART
#define ST_EVENT RNNMCU_ST_EVENT
#define ST_REPLY RNNMCU_ST_REPLY
#define ST_HEADER RNNMCU_PROTO_HEADER_SIZE
#define ST_CRC RNNMCU_PROTO_CRC_SIZE
#define ST_MAX_PAYLOAD 600u
#define ST_SELFTEST_STEPS 8u

typedef union {
    uint32_t align;
    uint8_t b[ST_MAX_PAYLOAD + ST_HEADER + ST_CRC];
} st_buf_t;

static st_buf_t st_rx;
static st_buf_t st_tx;
static rnnmcu_cobs_decoder_t st_dec;
static uint32_t st_received;    /* SAMPLE frames accepted */
static uint32_t st_next_seq;    /* seq32 the next sample should carry */
static uint32_t st_gaps;        /* samples missing (skipped seq32 values) */
static uint32_t st_bad;         /* damaged, malformed or out-of-order frames */
static uint32_t st_selftest;    /* ticks per sample measured at start */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static void st_send(uint8_t type, uint8_t seq, size_t len)
{
    uint8_t *f = st_tx.b;
    f[0] = type;
    f[1] = seq;
    wr16(f + 2, (uint16_t)len);
    wr32(f + ST_HEADER + len, rnnmcu_crc32_update(0u, f, ST_HEADER + len));
    rnnmcu_cobs_write_frame(f, ST_HEADER + len + ST_CRC);
}

static void st_restart(void)
{
    rnnmcu_stream_init();
    st_received = 0u;
    st_next_seq = 0u;
    st_gaps = 0u;
    st_bad = 0u;
}

static void st_sample(const uint8_t *pl, size_t len)
{
    const rnnmcu_model_desc_t *m = &rnnmcu_app_model;
    size_t want = 5u + (size_t)m->input_dim * m->in_elem_size;
    uint32_t seq;
    rnnmcu_stream_event_t ev;
    uint8_t *o = st_tx.b + ST_HEADER;
    /* values start at offset 5: copy them to an aligned place (the tx payload, free here) */
    static union {
        uint32_t align;
        uint8_t b[ST_MAX_PAYLOAD];
    } x;
    if (len != want) {
        st_bad++;
        return;
    }
    seq = rd32(pl);
    if (seq < st_next_seq) { /* a repeat or out of order: the stream only moves forward */
        st_bad++;
        return;
    }
    st_gaps += seq - st_next_seq;
    st_next_seq = seq + 1u;
    st_received++;
    memcpy(x.b, pl + 5, len - 5u);
    if (rnnmcu_stream_push(x.b, (pl[4] & 0x1u) != 0u, &ev)) {
        wr32(o, ev.sample);
        wr32(o + 4, seq);
        wr16(o + 8, (uint16_t)ev.cls);
        wr32(o + 10, (uint32_t)ev.confidence);
        wr32(o + 14, rnnmcu_stream_stats.ticks_last);
        st_send(ST_EVENT, (uint8_t)seq, 18u);
    }
}

static void st_stats(uint8_t seq)
{
    const rnnmcu_stream_stats_t *s = &rnnmcu_stream_stats;
    uint8_t *o = st_tx.b + ST_HEADER;
    const uint32_t v[] = {st_received, st_next_seq, st_gaps, st_bad, s->samples, s->steps, s->masked,
                          s->events, s->resets, s->errors, s->ticks_max, s->ticks_total_lo,
                          s->ticks_total_hi, s->ticks_last, rnnmcu_board_info.clock_hz,
                          rnnmcu_stream_binding.rate_mhz, st_selftest};
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        wr32(o + 4u * i, v[i]);
    }
    o[4u * i] = rnnmcu_board_info.counter_kind;
    wr16(o + 4u * i + 1u, rnnmcu_board_info.counter_scale);
    st_send((uint8_t)(ST_STATS | ST_REPLY), seq, 4u * i + 3u);
}

static void st_dispatch(size_t n)
{
    const uint8_t *f = st_rx.b;
    size_t len;
    if (n < ST_HEADER + ST_CRC ||
        rnnmcu_crc32_update(0u, f, n - ST_CRC) != rd32(f + n - ST_CRC)) {
        st_bad++;
        return;
    }
    len = (size_t)f[2] | ((size_t)f[3] << 8);
    if (len != n - ST_HEADER - ST_CRC) {
        st_bad++;
        return;
    }
    switch (f[0]) {
    case ST_SAMPLE:
        st_sample(f + ST_HEADER, len);
        break;
    case ST_STATS:
        st_stats(f[1]);
        break;
    case ST_RESTART:
        st_restart();
        st_send((uint8_t)(ST_RESTART | ST_REPLY), f[1], 0u);
        break;
    default:
        st_bad++;
        break;
    }
}

void rnnmcu_app_init(void)
{
    rnnmcu_cobs_decoder_init(&st_dec, st_rx.b, sizeof st_rx.b);
    st_selftest = rnnmcu_stream_selftest(ST_SELFTEST_STEPS);
    st_restart();
}

void rnnmcu_app_banner(void)
{
    char line[256];
    size_t n;
    rnnmcu_stream_banner_line(line, sizeof line - 1u, st_selftest);
    n = strlen(line);
    line[n] = '\0'; /* the 0x00 closes the banner off from the first frame */
    rnnmcu_port_write((const uint8_t *)line, n + 1u);
}

void rnnmcu_app_rx(uint8_t byte)
{
    switch (rnnmcu_cobs_decode_byte(&st_dec, byte)) {
    case RNNMCU_COBS_FRAME:
        st_dispatch(st_dec.len);
        break;
    case RNNMCU_COBS_BAD:
    case RNNMCU_COBS_OVERSIZE:
        st_bad++;
        break;
    default:
        break;
    }
}

void rnnmcu_app_rx_buf(const uint8_t *buf, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        rnnmcu_app_rx(buf[i]);
    }
}
