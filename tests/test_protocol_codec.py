"""The protocol codec: COBS, CRC, frames, typed payloads — in Python and against the C code."""
from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnmcu.errors import DeviceError
from rnnmcu.hil import codec
from rnnmcu.hil.codec import ErrorCode, FrameReader, ProtocolError
import protocol_helpers as S  # tests/ is on sys.path under pytest

# Published COBS examples (Cheshire & Baker's scheme, as tabulated on Wikipedia's COBS page).
KNOWN = [
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
]


@pytest.mark.parametrize("raw,enc", KNOWN)
def test_cobs_known_vectors(raw: bytes, enc: bytes) -> None:
    assert codec.cobs_encode(raw) == enc
    assert codec.cobs_decode(enc) == raw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1200))
def test_cobs_round_trip(data: bytes) -> None:
    enc = codec.cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= len(data) + len(data) // 254 + 1
    assert codec.cobs_decode(enc) == data


@pytest.mark.parametrize("bad", [b"\x03\x11", b"\x02\x00", b"\x05\x01\x02\x00\x03", b""])
def test_cobs_decode_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        codec.cobs_decode(bad)


def test_crc_is_ieee_crc32() -> None:
    assert codec.crc32(b"123456789") == 0xCBF43926


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=600))
def test_frame_round_trip(type_: int, seq: int, payload: bytes) -> None:
    wire = codec.encode_frame(type_, seq, payload)
    assert wire.endswith(b"\x00") and wire.count(0) == 1
    frame = codec.decode_frame(wire[:-1])
    assert (frame.type, frame.seq, frame.payload) == (type_, seq, payload)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=80), st.data())
def test_any_single_byte_corruption_is_detected(payload: bytes, data) -> None:
    raw = codec.cobs_decode(codec.encode_frame(0x83, 7, payload)[:-1])
    pos = data.draw(st.integers(0, len(raw) - 1))
    flip = data.draw(st.integers(1, 255))
    bad = bytearray(raw)
    bad[pos] ^= flip
    with pytest.raises(ProtocolError):
        codec.decode_frame(codec.cobs_encode(bytes(bad)))


def test_protocol_error_shows_raw_bytes_and_is_a_device_error() -> None:
    wire = bytearray(codec.encode_frame(0x81, 1, b"abc")[:-1])
    wire[-1] ^= 0x55
    with pytest.raises(ProtocolError) as ei:
        codec.decode_frame(bytes(wire))
    assert isinstance(ei.value, DeviceError) and ei.value.exit_code == 4
    assert "bad CRC" in str(ei.value)
    assert bytes(wire[:4]).hex(" ") in str(ei.value)


def test_length_field_mismatch_is_rejected() -> None:
    body = struct.pack("<BBH", 0x83, 1, 5) + b"abc"
    raw = body + struct.pack("<I", zlib.crc32(body))
    with pytest.raises(ProtocolError, match="length field says 5"):
        codec.decode_frame(codec.cobs_encode(raw))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=6), st.data())
def test_frame_reader_any_chunking(payloads: list[bytes], data) -> None:
    stream = b"".join(codec.encode_frame(0x83, i, p) for i, p in enumerate(payloads))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader = FrameReader()
    chunks: list[bytes] = []
    last = 0
    for c in cuts + [len(stream)]:
        chunks += reader.feed(stream[last:c])
        last = c
    assert [codec.decode_frame(c).payload for c in chunks] == payloads
    assert not reader.pending


def test_frame_reader_bounds_runaway_input() -> None:
    reader = FrameReader(max_chunk=100)
    with pytest.raises(ProtocolError, match="without a frame delimiter"):
        reader.feed(b"\x01" * 101)


def _info_payload(**kw) -> bytes:
    v = dict(version=1, precision=2, elem=2, flags=3, ind=6, outd=5, maxs=100, maxp=4096,
             hash=0xDEADBEEF, clock=25_000_000, kind=2, scale=40)
    v.update(kw)
    fixed = struct.pack("<BBBBHHHHIIBH", v["version"], v["precision"], v["elem"], v["flags"],
                        v["ind"], v["outd"], v["maxs"], v["maxp"], v["hash"], v["clock"],
                        v["kind"], v["scale"])
    strs = b"".join(bytes([len(s)]) + s for s in (b"har", b"mps2-an386", b"gcc 12 -O2"))
    return fixed + strs


def test_parse_info_fields() -> None:
    info = codec.parse_info(_info_payload())
    assert (info.input_dim, info.output_dim, info.max_steps, info.max_payload) == (6, 5, 100, 4096)
    assert info.model_hash == 0xDEADBEEF and info.clock_hz == 25_000_000
    assert (info.counter_kind, info.counter_scale) == (2, 40)
    assert (info.model_name, info.board, info.build_info) == ("har", "mps2-an386", "gcc 12 -O2")
    assert info.window_only and info.output_sequence and info.dtype == np.dtype("<i2")
    # RUN limit: 2 + T*6*2 <= 4096 -> 341; outputs T*5*2 <= 4096 -> 409; max_steps 100
    assert info.max_window() == 100
    assert codec.parse_info(_info_payload(maxs=1000)).max_window() == 341
    d = info.to_dict()
    assert d["precision_name"] == "int16" and d["model_hash_hex"] == "deadbeef"


@pytest.mark.parametrize("payload,msg", [
    (_info_payload()[:10], "shorter"),
    (_info_payload()[:-3], "runs past the end"),
    (_info_payload(version=2), "protocol version 2"),
    (_info_payload(precision=1, elem=4), "not a known combination"),
    (_info_payload(precision=2, elem=1), "not a known combination"),
])
def test_parse_info_rejects_bad_replies(payload: bytes, msg: str) -> None:
    with pytest.raises(ProtocolError, match=msg):
        codec.parse_info(payload)


def test_bench_reply() -> None:
    b = codec.parse_bench(struct.pack("<IHBH", 1000, 10, 2, 40))
    assert b.per_step == 4000.0
    assert codec.parse_bench(struct.pack("<IHBH", 0, 10, 0, 1)).per_step is None
    with pytest.raises(ProtocolError):
        codec.parse_bench(b"\x00" * 8)


def test_error_codes_and_types_are_the_facts() -> None:
    # one source: rnnmcu/facts.py, which generates the C's (tests/test_house.py compiles and checks it)
    from rnnmcu import facts

    assert {e.name: e.value for e in ErrorCode} == facts.PROTO_ERRORS
    assert {t.name: t.value for t in codec.MsgType} == facts.PROTO_TYPES
    assert "rnnmcu_facts.h" in (S.APP / "rnnmcu_proto.h").read_text()
    assert "RNNMCU_PROTO_ERR_BAD_CRC" not in (S.APP / "rnnmcu_proto.h").read_text()


@pytest.fixture(scope="module")
def cobs_check(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cobs") / "cobs_crc_check"
    return S.compile_c(out, [S.APP / "rnnmcu_cobs.c", S.APP / "rnnmcu_crc32.c",
                             S.TESTS_C / "cobs_crc_check.c"],
                       flags=S.SANITIZE)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=2000),
                 st.lists(st.sampled_from([b"\x00", b"\xff" * 253, b"\x01" * 254, b"\x7f" * 255]),
                          max_size=6).map(b"".join)))
def test_c_cobs_and_crc_equal_python(cobs_check: Path, data: bytes) -> None:
    res = subprocess.run([str(cobs_check)], input=data, capture_output=True, timeout=20)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert struct.unpack("<I", res.stdout[:4])[0] == zlib.crc32(data)
    assert res.stdout[4:] == codec.cobs_encode(data) + b"\x00"
