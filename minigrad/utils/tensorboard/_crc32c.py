"""CRC-32C (Castagnoli) and the TFRecord framing TensorBoard's event files use.

A record is ``uint64 length | uint32 masked_crc(length bytes) | data | uint32
masked_crc(data)``, all little-endian. The checksum is CRC-32C (reflected polynomial
0x82F63B78, initial value and final xor 0xFFFFFFFF); the stored value is "masked": rotated
right by 15 bits and offset by 0xA282EAD8, so a CRC of data that itself holds CRCs is not
degenerate. The 256-entry table is built on first use.
"""
import struct

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_table = []


def _build_table():
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        _table.append(crc)


def crc32c(data):
    """CRC-32C of ``data`` (bytes-like)."""
    if not _table:
        _build_table()
    table = _table
    crc = 0xFFFFFFFF
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data):
    """One TFRecord: the length, its masked CRC, the data, the data's masked CRC."""
    header = struct.pack("<Q", len(data))
    return (header + struct.pack("<I", masked_crc32c(header)) + data
            + struct.pack("<I", masked_crc32c(data)))


class RecordWriter:
    """Writes TFRecords to a binary file object (``write``/``flush``/``close``), as
    tensorboard's ``RecordWriter``: ``write(data)`` frames ``data`` and writes it at once."""

    def __init__(self, writer):
        self._writer = writer

    def write(self, data):
        self._writer.write(frame(data))

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()

    @property
    def closed(self):
        return self._writer.closed
