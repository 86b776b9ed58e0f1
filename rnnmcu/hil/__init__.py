"""Hardware-in-the-loop: the protocol codec, transports, the device client, the runner and reports.

    from rnnmcu.hil import open_transport, Device
    with Device(open_transport("spawn:./build/host/firmware")) as dev:
        info = dev.sync()
        y = dev.step(x_t)
"""
from rnnmcu.hil.codec import (BenchResult, DeviceErrorReply, DeviceInfo, ErrorCode, MsgType,
                              ProtocolError)
from rnnmcu.hil.device import Device, DeviceTimeout
from rnnmcu.hil.transport import open_transport

__all__ = ["BenchResult", "Device", "DeviceErrorReply", "DeviceInfo", "DeviceTimeout", "ErrorCode",
           "MsgType", "ProtocolError", "open_transport"]
