/* rnnmcu tests — libFuzzer driver for the firmware app with the fake model (int16, streaming).
 * Build: clang -fsanitize=fuzzer,address,undefined with -Ifirmware/src -Ifirmware/app and the
 * sources firmware/app/[all .c], tests/c/fake_model.c and this file (test_protocol_fuzz.py does).
 *
 * Per input: a fresh app, a valid INFO, the fuzz bytes, a delimiter, then INFO (resync), a STEP
 * of zeros (reads the state) and a STEP of x1.  Checks: every reply is a well-formed frame with a
 * good CRC, and the last STEP adds x1 to the state the previous one reported (whatever the fuzz
 * bytes did to the model through valid requests, the state stays consistent).  Aborts otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rnnmcu_app.h"
#include "rnnmcu_cobs.h"
#include "rnnmcu_crc32.h"
#include "rnnmcu_port.h"
#include "rnnmcu_proto.h"

const rnnmcu_board_info_t rnnmcu_board_info = {"fuzz", 0u, 0u, 1u, "libFuzzer"};

#define OUT_CAP (1u << 20)
static uint8_t out[OUT_CAP];
static size_t out_len;
static int capture_request;
static uint8_t req[RNNMCU_PROTO_FRAME_MAX * 2u];
static size_t req_len;

void rnnmcu_port_write(const uint8_t *buf, size_t n)
{
    if (capture_request) {
        if (req_len + n > sizeof req) abort();
        memcpy(req + req_len, buf, n);
        req_len += n;
        return;
    }
    if (out_len + n > OUT_CAP) {
        out_len = 0; /* the fuzz input produced a lot of replies: keep only the recent ones */
    }
    memcpy(out + out_len, buf, n);
    out_len += n;
}

uint32_t rnnmcu_port_counter(void) { return 0u; }

/* Encode a request with the app's own encoder and feed it. */
static void send_req(uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t n)
{
    uint8_t raw[64];
    uint32_t crc;
    raw[0] = type;
    raw[1] = seq;
    raw[2] = (uint8_t)n;
    raw[3] = (uint8_t)(n >> 8);
    memcpy(raw + 4, payload, n);
    crc = rnnmcu_crc32_update(0u, raw, 4u + n);
    raw[4 + n] = (uint8_t)crc;
    raw[5 + n] = (uint8_t)(crc >> 8);
    raw[6 + n] = (uint8_t)(crc >> 16);
    raw[7 + n] = (uint8_t)(crc >> 24);
    capture_request = 1;
    req_len = 0;
    rnnmcu_cobs_write_frame(raw, 8u + n);
    capture_request = 0;
    rnnmcu_app_rx_buf(req, req_len);
}

/* Decode the last frame in out[]: returns its payload length and copies the frame to f. */
static size_t last_frame(uint8_t *f, size_t cap)
{
    rnnmcu_cobs_decoder_t d;
    size_t i;
    size_t start;
    size_t got = 0;
    if (out_len == 0u || out[out_len - 1u] != 0u) abort();
    start = out_len - 1u;
    while (start > 0u && out[start - 1u] != 0u) start--;
    rnnmcu_cobs_decoder_init(&d, f, cap);
    for (i = start; i < out_len; i++) {
        rnnmcu_cobs_result_t r = rnnmcu_cobs_decode_byte(&d, out[i]);
        if (r == RNNMCU_COBS_FRAME) got = d.len;
        else if (r != RNNMCU_COBS_MORE) abort();
    }
    if (got < 8u) abort();
    if (rnnmcu_crc32_update(0u, f, got - 4u) !=
        ((uint32_t)f[got - 4u] | ((uint32_t)f[got - 3u] << 8) | ((uint32_t)f[got - 2u] << 16) |
         ((uint32_t)f[got - 1u] << 24))) abort();
    return got;
}

static int16_t rd16s(const uint8_t *p) { return (int16_t)(uint16_t)(p[0] | (p[1] << 8)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t zeros[6] = {0, 0, 0, 0, 0, 0};
    static const uint8_t x1[6] = {5, 0, 0xFB, 0xFF, 7, 0}; /* 5, -5, 7 */
    static uint8_t f[RNNMCU_PROTO_FRAME_MAX];
    int16_t before[4];
    size_t n;
    int c;

    out_len = 0;
    rnnmcu_app_init();
    send_req(RNNMCU_PROTO_INFO, 9u, zeros, 0u);
    rnnmcu_app_rx_buf(data, size);
    rnnmcu_app_rx(0u);
    /* resync, then read the state with a zero step, then step x1 */
    send_req(RNNMCU_PROTO_INFO, 200u, zeros, 0u);
    send_req(RNNMCU_PROTO_STEP, 201u, zeros, 6u);
    n = last_frame(f, sizeof f);
    if (f[0] != (RNNMCU_PROTO_STEP | RNNMCU_PROTO_REPLY) || f[1] != 201u || n != 16u) abort();
    for (c = 0; c < 4; c++) before[c] = rd16s(f + 4 + 2 * c);
    send_req(RNNMCU_PROTO_STEP, 202u, x1, 6u);
    n = last_frame(f, sizeof f);
    if (f[0] != (RNNMCU_PROTO_STEP | RNNMCU_PROTO_REPLY) || f[1] != 202u || n != 16u) abort();
    for (c = 0; c < 3; c++) {
        int32_t want = (int32_t)before[c] + rd16s(x1 + 2 * c);
        int16_t got = rd16s(f + 4 + 2 * c);
        /* the sums saturate in the output; only check when nothing saturated */
        if (want > -32768 && want < 32767 && before[c] > -32768 && before[c] < 32767 && got != want)
            abort();
    }
    if (before[3] < 32767 && rd16s(f + 10) != before[3] + 1) abort();
    return 0;
}
