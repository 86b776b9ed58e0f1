/* rnnmcu tests — the C COBS and CRC against Python: reads up to 70000 bytes on stdin, writes
 * crc32:u32 LE followed by rnnmcu_cobs_write_frame(data) (encoding + 0x00), after checking that
 * the streaming decoder turns that encoding back into the data (exit 3 if not). */
#include <stdio.h>
#include <string.h>

#include "rnnmcu_cobs.h"
#include "rnnmcu_crc32.h"
#include "rnnmcu_port.h"

#define CAP 70000u

static uint8_t data[CAP];
static uint8_t enc[CAP + CAP / 254u + 16u];
static uint8_t dec[CAP];
static size_t enc_len;

const rnnmcu_board_info_t rnnmcu_board_info = {"check", 0u, 0u, 1u, "test"};

void rnnmcu_port_write(const uint8_t *buf, size_t n)
{
    memcpy(enc + enc_len, buf, n);
    enc_len += n;
}

uint32_t rnnmcu_port_counter(void) { return 0u; }

int main(void)
{
    size_t n = fread(data, 1u, CAP, stdin);
    uint32_t crc = rnnmcu_crc32_update(0u, data, n);
    uint8_t crc_le[4];
    rnnmcu_cobs_decoder_t d;
    size_t i;
    rnnmcu_cobs_result_t r = RNNMCU_COBS_MORE;

    rnnmcu_cobs_write_frame(data, n);
    rnnmcu_cobs_decoder_init(&d, dec, sizeof dec);
    for (i = 0; i < enc_len; i++) {
        r = rnnmcu_cobs_decode_byte(&d, enc[i]);
        if (r != RNNMCU_COBS_MORE && i + 1u != enc_len) {
            return 3;
        }
    }
    /* an empty payload encodes as 01 00: a frame of length 0 */
    if (r != RNNMCU_COBS_FRAME || d.len != n || memcmp(dec, data, n) != 0) {
        return 3;
    }
    crc_le[0] = (uint8_t)crc;
    crc_le[1] = (uint8_t)(crc >> 8);
    crc_le[2] = (uint8_t)(crc >> 16);
    crc_le[3] = (uint8_t)(crc >> 24);
    fwrite(crc_le, 1u, 4u, stdout);
    fwrite(enc, 1u, enc_len, stdout);
    return 0;
}
