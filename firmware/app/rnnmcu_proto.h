/* rnnmcu — wire protocol constants shared by the firmware app (see firmware/PROTOCOL.md).
 *
 * A decoded frame is: type:u8, seq:u8, len:u16 LE, payload[len], crc32:u32 LE over everything
 * before it.  On the wire it is COBS-encoded and followed by one 0x00 delimiter.
 */
#ifndef RNNMCU_PROTO_H
#define RNNMCU_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "rnnmcu_facts.h" /* the version, types, error codes: generated from rnnmcu/facts.py */

#ifdef __cplusplus
extern "C" {
#endif

/* Largest payload the device accepts or sends.  Sizes the two static frame buffers
 * (about 2 * (RNNMCU_PROTO_MAX_PAYLOAD + 8) bytes of RAM).  Override with -D. */
#ifndef RNNMCU_PROTO_MAX_PAYLOAD
#define RNNMCU_PROTO_MAX_PAYLOAD 4096
#endif
#if RNNMCU_PROTO_MAX_PAYLOAD < 64 || RNNMCU_PROTO_MAX_PAYLOAD > 65535
#error "RNNMCU_PROTO_MAX_PAYLOAD must be between 64 and 65535 (it is reported as a u16)"
#endif

#define RNNMCU_PROTO_OVERHEAD (RNNMCU_PROTO_HEADER_SIZE + RNNMCU_PROTO_CRC_SIZE)
#define RNNMCU_PROTO_FRAME_MAX (RNNMCU_PROTO_MAX_PAYLOAD + RNNMCU_PROTO_OVERHEAD)

/* A fixed ASCII message for each code (never NULL). */
const char *rnnmcu_proto_err_str(rnnmcu_proto_err_t err);

#ifdef __cplusplus
}
#endif
#endif
