/* rnnmcu — wire protocol constants shared by the firmware app (see firmware/PROTOCOL.md).
 *
 * A decoded frame is: type:u8, seq:u8, len:u16 LE, payload[len], crc32:u32 LE over everything
 * before it.  On the wire it is COBS-encoded and followed by one 0x00 delimiter.
 */
#ifndef RNNMCU_PROTO_H
#define RNNMCU_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RNNMCU_PROTO_VERSION 1u

/* Largest payload the device accepts or sends.  Sizes the two static frame buffers
 * (about 2 * (RNNMCU_PROTO_MAX_PAYLOAD + 8) bytes of RAM).  Override with -D. */
#ifndef RNNMCU_PROTO_MAX_PAYLOAD
#define RNNMCU_PROTO_MAX_PAYLOAD 4096
#endif
#if RNNMCU_PROTO_MAX_PAYLOAD < 64 || RNNMCU_PROTO_MAX_PAYLOAD > 65535
#error "RNNMCU_PROTO_MAX_PAYLOAD must be between 64 and 65535 (it is reported as a u16)"
#endif

#define RNNMCU_PROTO_HEADER_SIZE 4u
#define RNNMCU_PROTO_CRC_SIZE 4u
#define RNNMCU_PROTO_OVERHEAD (RNNMCU_PROTO_HEADER_SIZE + RNNMCU_PROTO_CRC_SIZE)
#define RNNMCU_PROTO_FRAME_MAX (RNNMCU_PROTO_MAX_PAYLOAD + RNNMCU_PROTO_OVERHEAD)

/* Request types (host -> device).  A reply has type | RNNMCU_PROTO_REPLY and the same seq. */
typedef enum {
    RNNMCU_PROTO_INFO = 0x01,
    RNNMCU_PROTO_RESET = 0x02,
    RNNMCU_PROTO_STEP = 0x03,
    RNNMCU_PROTO_RUN = 0x04,
    RNNMCU_PROTO_BENCH = 0x05,
    RNNMCU_PROTO_TRACE = 0x06  /* a TRACE build's only (rnnmcu build --trace): UNKNOWN_TYPE otherwise */
} rnnmcu_proto_type_t;

#define RNNMCU_PROTO_REPLY 0x80u
#define RNNMCU_PROTO_ERROR 0xFFu

/* Error codes carried in an ERROR reply (payload: code:u8 + UTF-8 message). */
typedef enum {
    RNNMCU_PROTO_OK = 0,
    RNNMCU_PROTO_ERR_BAD_CRC = 1,
    RNNMCU_PROTO_ERR_BAD_COBS = 2,
    RNNMCU_PROTO_ERR_OVERSIZE = 3,
    RNNMCU_PROTO_ERR_UNKNOWN_TYPE = 4,
    RNNMCU_PROTO_ERR_BAD_LENGTH = 5,
    RNNMCU_PROTO_ERR_BAD_SEQUENCE = 6,
    RNNMCU_PROTO_ERR_STEP_UNSUPPORTED = 7,
    RNNMCU_PROTO_ERR_T_RANGE = 8,
    RNNMCU_PROTO_ERR_MODEL = 9,
    RNNMCU_PROTO_ERR_COUNT
} rnnmcu_proto_err_t;

/* A fixed ASCII message for each code (never NULL). */
const char *rnnmcu_proto_err_str(rnnmcu_proto_err_t err);

#ifdef __cplusplus
}
#endif
#endif
