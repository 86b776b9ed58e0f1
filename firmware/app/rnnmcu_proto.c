/* rnnmcu — the error messages of the wire protocol, indexed by code. */
#include "rnnmcu_proto.h"

static const char *const rnnmcu_proto_err_msgs[RNNMCU_PROTO_ERR_COUNT] = {
    [RNNMCU_PROTO_OK] = "ok",
    [RNNMCU_PROTO_ERR_BAD_CRC] = "bad CRC",
    [RNNMCU_PROTO_ERR_BAD_COBS] = "bad COBS or frame too short",
    [RNNMCU_PROTO_ERR_OVERSIZE] = "frame larger than max payload",
    [RNNMCU_PROTO_ERR_UNKNOWN_TYPE] = "unknown request type",
    [RNNMCU_PROTO_ERR_BAD_LENGTH] = "payload length does not match the request",
    [RNNMCU_PROTO_ERR_BAD_SEQUENCE] = "bad sequence number (send INFO to resync)",
    [RNNMCU_PROTO_ERR_STEP_UNSUPPORTED] = "step not supported: window-only model",
    [RNNMCU_PROTO_ERR_T_RANGE] = "T out of range",
    [RNNMCU_PROTO_ERR_MODEL] = "model error",
};

const char *rnnmcu_proto_err_str(rnnmcu_proto_err_t err)
{
    if ((unsigned)err >= (unsigned)RNNMCU_PROTO_ERR_COUNT || rnnmcu_proto_err_msgs[err] == NULL) {
        return "unknown error";
    }
    return rnnmcu_proto_err_msgs[err];
}
