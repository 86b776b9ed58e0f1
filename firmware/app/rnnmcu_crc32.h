/* rnnmcu — CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320): the same value as zlib.crc32. */
#ifndef RNNMCU_CRC32_H
#define RNNMCU_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0; the result of one call is the input of the next. */
uint32_t rnnmcu_crc32_update(uint32_t crc, const uint8_t *data, size_t n);

#endif
