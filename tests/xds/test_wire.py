"""Wire-format varints against protobuf's own encoding, at each boundary of the encoded length."""

import pytest
from google.protobuf import wrappers_pb2

from contour.xds import wire

BOUNDARIES = [1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 2**35 + 5, 2**64 - 1]


@pytest.mark.parametrize("value", BOUNDARIES, ids=[str(v) for v in BOUNDARIES])
def test_varint_matches_protobuf(value: int) -> None:
    # UInt64Value is field 1, varint: the key byte 0x08, then the value's varint.
    assert b"\x08" + wire.varint(value) == wrappers_pb2.UInt64Value(value=value).SerializeToString()


def test_varint_of_zero_is_one_zero_byte() -> None:
    assert wire.varint(0) == b"\x00"
