"""The few pieces of the protocol-buffer wire format an event file needs, written by hand.

A message is a run of fields; each field is a key (``field_number << 3 | wire_type`` as a
varint) followed by its value: wire type 0 a varint (ints, bools, enums), 1 eight
little-endian bytes (double), 5 four (float), 2 a varint length and that many bytes (strings,
bytes, nested messages and packed repeated numbers). Proto3 leaves a plain scalar field out
when it holds its default (0, empty); a field inside a ``oneof`` or a set sub-message is
written even when empty, so the callers say which they mean: ``double``/``varint``... always
write, the ``opt_`` forms skip the default. Fields are emitted in field-number order, as the
reference serializer does, so identical content gives identical bytes.
"""
import struct

import numpy as np

_U64 = (1 << 64) - 1


def _varint_bytes(n):
    n &= _U64                                  # negative int64: ten-byte two's complement
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(field, wire):
    return _varint_bytes(field << 3 | wire)


def varint(field, n):
    return _key(field, 0) + _varint_bytes(int(n))


def double(field, x):
    return _key(field, 1) + struct.pack("<d", float(x))


def float32(field, x):
    with np.errstate(over="ignore"):           # beyond float32's range: inf, as protobuf stores it
        return _key(field, 5) + np.asarray(x, dtype="<f4").tobytes()


def length_delimited(field, payload):
    return _key(field, 2) + _varint_bytes(len(payload)) + payload


def string(field, text):
    return length_delimited(field, text.encode("utf-8"))


def packed_doubles(field, values):
    data = np.asarray(values, dtype="<f8").tobytes()
    return length_delimited(field, data) if data else b""


def packed_floats(field, values):
    data = np.asarray(values, dtype="<f4").tobytes()
    return length_delimited(field, data) if data else b""


# proto3 implicit presence: the default value is not written at all
def opt_varint(field, n):
    return varint(field, n) if n else b""


def opt_double(field, x):
    x = float(x)
    return double(field, x) if struct.pack("<d", x) != bytes(8) else b""   # -0.0 is written


def opt_string(field, text):
    return string(field, text) if text else b""


def opt_bytes(field, payload):
    return length_delimited(field, payload) if payload else b""
