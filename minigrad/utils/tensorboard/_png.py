"""A minimal PNG encoder (8-bit gray, gray+alpha, RGB or RGBA; no interlacing).

A PNG is the 8-byte signature and a list of chunks, each ``uint32 length | type | data |
uint32 CRC-32(type + data)`` (big-endian): IHDR (width, height, bit depth, colour type,
compression, filter method, interlace), IDAT (the zlib stream of the scanlines, each row
led by its filter byte; 0 = none) and an empty IEND.
"""
import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}          # channels -> gray, gray+alpha, RGB, RGBA


def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(pixels):
    """PNG bytes of a uint8 array of shape (H, W, C), C in 1..4."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width, channels = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPE[channels], 0, 0, 0)
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = 0                                       # filter type "none" on every row
    rows[:, 1:] = pixels.reshape(height, width * channels)
    return (_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _chunk(b"IEND", b""))
