/* rnnmcu — the protocol dispatcher: checks a decoded frame (CRC, length, type, sequence, sizes)
 * and only then lets the model see it.  Integer-only: no float, no division, no malloc. */
#include <string.h>

#include "rnnmcu_app.h"
#include "rnnmcu_cobs.h"
#include "rnnmcu_crc32.h"
#include "rnnmcu_model_iface.h"
#include "rnnmcu_port.h"
#include "rnnmcu_proto.h"
#include "rnnmcu_trace.h"

/* Frame buffers, word-aligned so the payload (offset 4) can be handed to the model as
 * int16_t / float arrays. */
typedef union {
    uint32_t align;
    uint8_t b[RNNMCU_PROTO_FRAME_MAX];
} rnnmcu_app_buf_t;

static rnnmcu_app_buf_t rnnmcu_app_rxbuf;
static rnnmcu_app_buf_t rnnmcu_app_txbuf;
static rnnmcu_cobs_decoder_t rnnmcu_app_dec;
static uint8_t rnnmcu_app_synced;   /* an INFO has been answered */
static uint8_t rnnmcu_app_next_seq; /* seq the next non-INFO request must carry */

#define RX_PAYLOAD (rnnmcu_app_rxbuf.b + RNNMCU_PROTO_HEADER_SIZE)
#define TX_PAYLOAD (rnnmcu_app_txbuf.b + RNNMCU_PROTO_HEADER_SIZE)

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | ((uint16_t)p[1] << 8)); }

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

static void rnnmcu_app_send(uint8_t type, uint8_t seq, size_t payload_len)
{
    uint8_t *f = rnnmcu_app_txbuf.b;
    uint32_t crc;
    f[0] = type;
    f[1] = seq;
    wr16(f + 2, (uint16_t)payload_len);
    crc = rnnmcu_crc32_update(0u, f, RNNMCU_PROTO_HEADER_SIZE + payload_len);
    wr32(f + RNNMCU_PROTO_HEADER_SIZE + payload_len, crc);
    rnnmcu_cobs_write_frame(f, payload_len + RNNMCU_PROTO_OVERHEAD);
}

static void rnnmcu_app_send_error(uint8_t seq, rnnmcu_proto_err_t err)
{
    const char *msg = rnnmcu_proto_err_str(err);
    size_t n = strlen(msg);
    if (n > RNNMCU_PROTO_MAX_PAYLOAD - 1u) {
        n = RNNMCU_PROTO_MAX_PAYLOAD - 1u;
    }
    TX_PAYLOAD[0] = (uint8_t)err;
    memcpy(TX_PAYLOAD + 1, msg, n);
    rnnmcu_app_send(RNNMCU_PROTO_ERROR, seq, n + 1u);
}

/* Append a u8-length-prefixed string, truncated to what is left of the payload. */
static size_t rnnmcu_app_put_str(size_t at, const char *s)
{
    size_t n = (s != NULL) ? strlen(s) : 0u;
    size_t room = RNNMCU_PROTO_MAX_PAYLOAD - at;
    if (room == 0u) {
        return at;
    }
    if (n > 255u) {
        n = 255u;
    }
    if (n > room - 1u) {
        n = room - 1u;
    }
    TX_PAYLOAD[at] = (uint8_t)n;
    if (n != 0u) {
        memcpy(TX_PAYLOAD + at + 1u, s, n);
    }
    return at + 1u + n;
}

/* Bytes of `count` values of `es` bytes, or a value above the payload limit if it would not fit
 * (or overflow). */
static uint32_t rnnmcu_app_size(uint32_t count, uint32_t es)
{
    if (count > RNNMCU_PROTO_MAX_PAYLOAD || es > 4u) {
        return (uint32_t)RNNMCU_PROTO_MAX_PAYLOAD + 1u;
    }
    return count * es; /* <= 65535 * 4: no overflow */
}

/* ... of output values, and of input values (2 bytes each for an int8 model's 16-bit inputs) */
static uint32_t rnnmcu_app_bytes(uint32_t count)
{
    return rnnmcu_app_size(count, rnnmcu_app_model.elem_size);
}

static uint32_t rnnmcu_app_in_bytes(uint32_t count)
{
    return rnnmcu_app_size(count, rnnmcu_app_model.in_elem_size);
}

static uint32_t rnnmcu_app_run_out_count(uint16_t T)
{
    const rnnmcu_model_desc_t *m = &rnnmcu_app_model;
    if ((m->flags & RNNMCU_MODEL_OUTPUT_SEQUENCE) != 0u) {
        return (uint32_t)T * m->output_dim;
    }
    return m->output_dim;
}

static rnnmcu_proto_err_t rnnmcu_app_info(size_t plen, size_t *out_len)
{
    const rnnmcu_model_desc_t *m = &rnnmcu_app_model;
    size_t at;
    if (plen != 0u) {
        return RNNMCU_PROTO_ERR_BAD_LENGTH;
    }
    TX_PAYLOAD[0] = (uint8_t)RNNMCU_PROTO_VERSION;
    TX_PAYLOAD[1] = m->precision;
    TX_PAYLOAD[2] = m->elem_size;
#ifdef RNNMCU_TRACE
    TX_PAYLOAD[3] = (uint8_t)(m->flags | RNNMCU_MODEL_TRACE);
#else
    TX_PAYLOAD[3] = m->flags;
#endif
    wr16(TX_PAYLOAD + 4, m->input_dim);
    wr16(TX_PAYLOAD + 6, m->output_dim);
    wr16(TX_PAYLOAD + 8, m->max_steps);
    wr16(TX_PAYLOAD + 10, (uint16_t)RNNMCU_PROTO_MAX_PAYLOAD);
    wr32(TX_PAYLOAD + 12, m->hash);
    wr32(TX_PAYLOAD + 16, rnnmcu_board_info.clock_hz);
    TX_PAYLOAD[20] = rnnmcu_board_info.counter_kind;
    wr16(TX_PAYLOAD + 21, rnnmcu_board_info.counter_scale);
    at = 23u;
    at = rnnmcu_app_put_str(at, m->name);
    at = rnnmcu_app_put_str(at, rnnmcu_board_info.board);
    at = rnnmcu_app_put_str(at, rnnmcu_board_info.build_info);
    *out_len = at;
    return RNNMCU_PROTO_OK;
}

static rnnmcu_proto_err_t rnnmcu_app_reset(size_t plen, size_t *out_len)
{
    if (plen != 0u) {
        return RNNMCU_PROTO_ERR_BAD_LENGTH;
    }
    rnnmcu_app_model.reset(rnnmcu_app_model.state);
    *out_len = 0u;
    return RNNMCU_PROTO_OK;
}

static int rnnmcu_app_can_step(void)
{
    return (rnnmcu_app_model.flags & RNNMCU_MODEL_WINDOW_ONLY) == 0u && rnnmcu_app_model.step != NULL;
}

static rnnmcu_proto_err_t rnnmcu_app_step(size_t plen, size_t *out_len)
{
    const rnnmcu_model_desc_t *m = &rnnmcu_app_model;
    uint32_t out_bytes = rnnmcu_app_bytes(m->output_dim);
    if (!rnnmcu_app_can_step()) {
        return RNNMCU_PROTO_ERR_STEP_UNSUPPORTED;
    }
    if (plen != rnnmcu_app_in_bytes(m->input_dim)) {
        return RNNMCU_PROTO_ERR_BAD_LENGTH;
    }
    if (out_bytes > RNNMCU_PROTO_MAX_PAYLOAD) {
        return RNNMCU_PROTO_ERR_MODEL;
    }
    if (m->step(m->state, RX_PAYLOAD, TX_PAYLOAD) != 0) {
        return RNNMCU_PROTO_ERR_MODEL;
    }
    *out_len = out_bytes;
    return RNNMCU_PROTO_OK;
}

/* T values of a window are checked in this order: T in 1..max_steps, the outputs fit in a reply,
 * the payload holds exactly T input vectors. */
static rnnmcu_proto_err_t rnnmcu_app_run(size_t plen, size_t *out_len)
{
    const rnnmcu_model_desc_t *m = &rnnmcu_app_model;
    uint16_t T;
    uint32_t out_bytes;
    uint32_t in_bytes;
    if (plen < 2u) {
        return RNNMCU_PROTO_ERR_BAD_LENGTH;
    }
    T = rd16(RX_PAYLOAD);
    if (T == 0u || T > m->max_steps) {
        return RNNMCU_PROTO_ERR_T_RANGE;
    }
    out_bytes = rnnmcu_app_bytes(rnnmcu_app_run_out_count(T));
    if (out_bytes > RNNMCU_PROTO_MAX_PAYLOAD) {
        return RNNMCU_PROTO_ERR_T_RANGE;
    }
    in_bytes = rnnmcu_app_in_bytes((uint32_t)T * m->input_dim);
    if (in_bytes > RNNMCU_PROTO_MAX_PAYLOAD || plen != 2u + in_bytes) {
        return RNNMCU_PROTO_ERR_BAD_LENGTH;
    }
    if (m->run == NULL) {
        return RNNMCU_PROTO_ERR_MODEL;
    }
    memmove(RX_PAYLOAD, RX_PAYLOAD + 2, in_bytes); /* realign the values */
    if (m->run(m->state, RX_PAYLOAD, T, TX_PAYLOAD) != 0) {
        return RNNMCU_PROTO_ERR_MODEL;
    }
    *out_len = out_bytes;
    return RNNMCU_PROTO_OK;
}

#ifdef RNNMCU_TRACE
/* TRACE (a debug build's): one step on one input vector, like STEP, whose reply is one layer's
 * intermediate values (firmware/src/rnnmcu_trace.h): count:u16, then count int16 values.  The
 * step's own output goes to the receive buffer after the input. */
static rnnmcu_proto_err_t rnnmcu_app_trace(size_t plen, size_t *out_len)
{
    const rnnmcu_model_desc_t *m = &rnnmcu_app_model;
    uint32_t in_bytes = rnnmcu_app_in_bytes(m->input_dim);
    uint32_t y_at = (in_bytes + 3u) & ~3u;
    int rc;
    if (!rnnmcu_app_can_step()) {
        return RNNMCU_PROTO_ERR_STEP_UNSUPPORTED;
    }
    if (plen != 1u + in_bytes) {
        return RNNMCU_PROTO_ERR_BAD_LENGTH;
    }
    if (y_at + rnnmcu_app_bytes(m->output_dim) > RNNMCU_PROTO_MAX_PAYLOAD) {
        return RNNMCU_PROTO_ERR_MODEL;
    }
    rnnmcu_trace_want = RX_PAYLOAD[0];
    memmove(RX_PAYLOAD, RX_PAYLOAD + 1, in_bytes); /* realign the values */
    rnnmcu_trace_buf = (int16_t *)(void *)(TX_PAYLOAD + 2);
    rnnmcu_trace_cap = (RNNMCU_PROTO_MAX_PAYLOAD - 2u) / 2u;
    rnnmcu_trace_len = 0u;
    rnnmcu_trace_overflow = 0u;
    rc = m->step(m->state, RX_PAYLOAD, RX_PAYLOAD + y_at);
    rnnmcu_trace_buf = 0;
    rnnmcu_trace_want = 0xFFu;
    if (rc != 0 || rnnmcu_trace_overflow) {
        return RNNMCU_PROTO_ERR_MODEL; /* or the layer's values do not fit a reply */
    }
    wr16(TX_PAYLOAD, (uint16_t)rnnmcu_trace_len);
    *out_len = 2u + 2u * rnnmcu_trace_len;
    return RNNMCU_PROTO_OK;
}
#endif

/* BENCH: reset, time n calls of step (or one run over n copies of the vector for window-only
 * models and models flagged RNNMCU_MODEL_BENCH_RUN, e.g. run() computing input projections
 * ahead), reset again.  The state after BENCH is the reset state. */
static rnnmcu_proto_err_t rnnmcu_app_bench(size_t plen, size_t *out_len)
{
    const rnnmcu_model_desc_t *m = &rnnmcu_app_model;
    uint32_t vec_bytes = rnnmcu_app_in_bytes(m->input_dim);
    uint16_t n;
    uint32_t t0;
    uint32_t t1;
    int rc = 0;
    if (plen < 2u || plen != 2u + vec_bytes) {
        return RNNMCU_PROTO_ERR_BAD_LENGTH;
    }
    n = rd16(RX_PAYLOAD);
    if (n == 0u) {
        return RNNMCU_PROTO_ERR_T_RANGE;
    }
    memmove(RX_PAYLOAD, RX_PAYLOAD + 2, vec_bytes);
    if (rnnmcu_app_can_step() && (m->flags & RNNMCU_MODEL_BENCH_RUN) == 0u) {
        uint16_t i;
        if (rnnmcu_app_bytes(m->output_dim) > RNNMCU_PROTO_MAX_PAYLOAD) {
            return RNNMCU_PROTO_ERR_MODEL;
        }
        m->reset(m->state);
        t0 = rnnmcu_port_counter();
        for (i = 0; i < n && rc == 0; i++) {
            rc = m->step(m->state, RX_PAYLOAD, TX_PAYLOAD);
        }
        t1 = rnnmcu_port_counter();
    } else {
        uint32_t total = rnnmcu_app_in_bytes((uint32_t)n * m->input_dim);
        uint16_t i;
        if (n > m->max_steps || total > RNNMCU_PROTO_MAX_PAYLOAD ||
            rnnmcu_app_bytes(rnnmcu_app_run_out_count(n)) > RNNMCU_PROTO_MAX_PAYLOAD) {
            return RNNMCU_PROTO_ERR_T_RANGE;
        }
        if (m->run == NULL) {
            return RNNMCU_PROTO_ERR_MODEL;
        }
        for (i = 1; i < n; i++) {
            memcpy(RX_PAYLOAD + (size_t)i * vec_bytes, RX_PAYLOAD, vec_bytes);
        }
        m->reset(m->state);
        t0 = rnnmcu_port_counter();
        rc = m->run(m->state, RX_PAYLOAD, n, TX_PAYLOAD);
        t1 = rnnmcu_port_counter();
    }
    m->reset(m->state);
    if (rc != 0) {
        return RNNMCU_PROTO_ERR_MODEL;
    }
    wr32(TX_PAYLOAD, rnnmcu_board_info.counter_kind == (uint8_t)RNNMCU_COUNTER_NONE ? 0u : t1 - t0);
    wr16(TX_PAYLOAD + 4, n);
    TX_PAYLOAD[6] = rnnmcu_board_info.counter_kind;
    wr16(TX_PAYLOAD + 7, rnnmcu_board_info.counter_scale);
    *out_len = 9u;
    return RNNMCU_PROTO_OK;
}

static void rnnmcu_app_dispatch(size_t frame_len)
{
    const uint8_t *f = rnnmcu_app_rxbuf.b;
    uint8_t type;
    uint8_t seq;
    size_t plen;
    size_t out_len = 0;
    rnnmcu_proto_err_t err;

    if (frame_len < RNNMCU_PROTO_OVERHEAD) {
        rnnmcu_app_send_error(0u, RNNMCU_PROTO_ERR_BAD_COBS);
        return;
    }
    if (rnnmcu_crc32_update(0u, f, frame_len - RNNMCU_PROTO_CRC_SIZE) !=
        rd32(f + frame_len - RNNMCU_PROTO_CRC_SIZE)) {
        rnnmcu_app_send_error(0u, RNNMCU_PROTO_ERR_BAD_CRC);
        return;
    }
    type = f[0];
    seq = f[1];
    plen = rd16(f + 2);
    if (plen != frame_len - RNNMCU_PROTO_OVERHEAD) {
        rnnmcu_app_send_error(seq, RNNMCU_PROTO_ERR_BAD_LENGTH);
        return;
    }
#ifdef RNNMCU_TRACE
    if (type < (uint8_t)RNNMCU_PROTO_INFO || type > (uint8_t)RNNMCU_PROTO_TRACE) {
#else
    if (type < (uint8_t)RNNMCU_PROTO_INFO || type > (uint8_t)RNNMCU_PROTO_BENCH) {
#endif
        rnnmcu_app_send_error(seq, RNNMCU_PROTO_ERR_UNKNOWN_TYPE);
        return;
    }
    if (type != (uint8_t)RNNMCU_PROTO_INFO && (!rnnmcu_app_synced || seq != rnnmcu_app_next_seq)) {
        rnnmcu_app_send_error(seq, RNNMCU_PROTO_ERR_BAD_SEQUENCE);
        return;
    }
    switch (type) {
    case RNNMCU_PROTO_INFO:
        err = rnnmcu_app_info(plen, &out_len);
        break;
    case RNNMCU_PROTO_RESET:
        err = rnnmcu_app_reset(plen, &out_len);
        break;
    case RNNMCU_PROTO_STEP:
        err = rnnmcu_app_step(plen, &out_len);
        break;
    case RNNMCU_PROTO_RUN:
        err = rnnmcu_app_run(plen, &out_len);
        break;
#ifdef RNNMCU_TRACE
    case RNNMCU_PROTO_TRACE:
        err = rnnmcu_app_trace(plen, &out_len);
        break;
#endif
    default:
        err = rnnmcu_app_bench(plen, &out_len);
        break;
    }
    if (err != RNNMCU_PROTO_OK) {
        rnnmcu_app_send_error(seq, err);
        return;
    }
    rnnmcu_app_synced = 1u;
    rnnmcu_app_next_seq = (uint8_t)(seq + 1u);
    rnnmcu_app_send((uint8_t)(type | RNNMCU_PROTO_REPLY), seq, out_len);
}

void rnnmcu_app_init(void)
{
    rnnmcu_cobs_decoder_init(&rnnmcu_app_dec, rnnmcu_app_rxbuf.b, sizeof rnnmcu_app_rxbuf.b);
    rnnmcu_app_synced = 0u;
    rnnmcu_app_next_seq = 0u;
    rnnmcu_app_model.reset(rnnmcu_app_model.state);
}

void rnnmcu_app_banner(void)
{
    static const char hex[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                 '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    uint8_t line[64];
    size_t n = 0;
    const char *prefix = "rnnmcu ready ";
    const char *name = rnnmcu_app_model.name != NULL ? rnnmcu_app_model.name : "?";
    int shift;
    while (*prefix != '\0') {
        line[n++] = (uint8_t)*prefix++;
    }
    while (*name != '\0' && n < 40u) {
        uint8_t c = (uint8_t)*name++;
        line[n++] = (c >= 0x21u && c <= 0x7Eu) ? c : (uint8_t)'?';
    }
    line[n++] = (uint8_t)' ';
    for (shift = 28; shift >= 0; shift -= 4) {
        line[n++] = (uint8_t)hex[(rnnmcu_app_model.hash >> shift) & 0x0Fu];
    }
    line[n++] = (uint8_t)'\n';
    line[n++] = 0u; /* closes the banner off from the first frame */
    rnnmcu_port_write(line, n);
}

void rnnmcu_app_rx(uint8_t byte)
{
    switch (rnnmcu_cobs_decode_byte(&rnnmcu_app_dec, byte)) {
    case RNNMCU_COBS_FRAME:
        rnnmcu_app_dispatch(rnnmcu_app_dec.len);
        break;
    case RNNMCU_COBS_BAD:
        rnnmcu_app_send_error(0u, RNNMCU_PROTO_ERR_BAD_COBS);
        break;
    case RNNMCU_COBS_OVERSIZE:
        rnnmcu_app_send_error(0u, RNNMCU_PROTO_ERR_OVERSIZE);
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
