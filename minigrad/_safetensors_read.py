"""The tensors of a safetensors file as ``minigrad.load`` reads them (``_read_tensors``): each
one's bytes checked against its dtype and shape; the dtypes PyTorch has and minigrad lacks
widened exactly (float8, through a table of its 256 values) or refused.
"""
from __future__ import annotations

import struct

import numpy as np

from ._warn_once import warn_user
from . import dtypes

# safetensors dtype name -> the numpy dtype minigrad keeps it as.
_NATIVE = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "I32": np.int32,
           "I64": np.int64, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
           "F16": np.float16, "BF16": dtypes.BFLOAT16, "F32": np.float32, "F64": np.float64,
           "C64": np.complex64, "C128": np.complex128}
# Dtypes torch can hold and minigrad cannot: widened exactly to one it has (with a warning).
# name -> (bytes per element, what it becomes, how)
_WIDENED = {"F8_E4M3": (1, "float32"), "F8_E5M2": (1, "float32"),
            "F8_E4M3FNUZ": (1, "float32"), "F8_E5M2FNUZ": (1, "float32")}
_REFUSED = {"F8_E8M0": "float8_e8m0",
            "F4": "float4", "F6_E2M3": "float6_e2m3", "F6_E3M2": "float6_e3m2"}


def _float8_table(exponent_bits, bias, ieee):
    """The 256 float32 values of an 8-bit float (1 sign bit, ``exponent_bits``, the rest
    mantissa). ``ieee``: an all-ones exponent is inf/NaN (e5m2); else the OCP 'fn' rule (e4m3fn:
    only S.1111.111 is NaN, no inf) or, for the 'fnuz' kinds (bias one more), 0x80 is NaN."""
    mantissa_bits = 7 - exponent_bits
    code = np.arange(256)
    e = (code >> mantissa_bits) & ((1 << exponent_bits) - 1)
    m = (code & ((1 << mantissa_bits) - 1)).astype(np.float64)
    magnitude = np.where(e == 0, m * 2.0 ** (1 - bias - mantissa_bits),
                         (1 + m / 2 ** mantissa_bits) * 2.0 ** (e - bias))
    value = np.where(code >> 7, -magnitude, magnitude)
    top = (1 << exponent_bits) - 1
    if ieee:
        value = np.where(e == top, np.where(m == 0, np.copysign(np.inf, value), np.nan), value)
    elif bias in (8, 16):                       # fnuz: no negative zero, 0x80 is the NaN
        value[0x80] = np.nan
    else:
        value[(e == top) & (m == (1 << mantissa_bits) - 1)] = np.nan
    return value.astype(np.float32)


def _widen(raw, kind, key, name):
    """Convert the little-endian bytes of a dtype minigrad lacks to one it has, exactly."""
    exponent_bits, bias, ieee = {"F8_E4M3": (4, 7, False), "F8_E5M2": (5, 15, True),
                                 "F8_E4M3FNUZ": (4, 8, False), "F8_E5M2FNUZ": (5, 16, False)}[kind]
    return _float8_table(exponent_bits, bias, ieee)[raw.view(np.uint8)]


def _read_tensors(data, header, name):
    """{key: numpy array} from the validated ``header``: each tensor's bytes, checked against
    its dtype and shape; dtypes minigrad lacks are widened (with one warning) or refused."""
    start = 8 + struct.unpack("<Q", data[:8])[0]
    buffer = memoryview(data)
    arrays, widened = {}, []
    for key, info in header.items():
        if key == "__metadata__":
            continue
        kind, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if kind in _REFUSED or (kind not in _NATIVE and kind not in _WIDENED):
            what = _REFUSED.get(kind, "an unknown dtype")
            raise ValueError(f"minigrad.load: {name} holds '{key}' as {kind} ({what}), which "
                             "minigrad cannot represent; it loads bool, uint8, uint16, uint32, "
                             "uint64, int8, int16, int32, int64, float16, bfloat16, float32, "
                             "float64, complex64, complex128, and widens float8")
        itemsize = np.dtype(_NATIVE[kind]).itemsize if kind in _NATIVE else _WIDENED[kind][0]
        count = 1
        for s in shape:
            count *= s
        if end - begin != count * itemsize:
            raise ValueError(f"minigrad.load: {name} is damaged: '{key}' ({kind}, shape "
                             f"{shape}) needs {count * itemsize} bytes but its data_offsets "
                             f"[{begin}, {end}] span {end - begin}")
        raw = np.frombuffer(buffer[start + begin:start + end], dtype=np.uint8)
        if kind in _NATIVE:
            # (bfloat16, a 2-byte pattern to numpy, is read as little-endian 16-bit words)
            array = raw.view("<u2").astype(np.uint16).view(_NATIVE[kind]) if kind == "BF16" \
                else raw.view(np.dtype(_NATIVE[kind]).newbyteorder("<")).astype(_NATIVE[kind])
        else:
            array = _widen(raw, kind, key, name)
            widened.append(f"'{key}' {kind} as {_WIDENED[kind][1]}")
        arrays[key] = array.reshape(shape)
    if widened:
        warn_user(f"minigrad.load: {name} holds dtypes minigrad does not have; converted "
                  f"exactly: {', '.join(widened)}")
    return arrays
