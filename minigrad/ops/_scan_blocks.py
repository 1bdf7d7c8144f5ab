"""The running sum of float32 rows kept in float64, as blocks of matrix products.

PyTorch's CPU kernel keeps a float32 running sum in float64 and rounds each sum once. numpy's
``cumsum`` along a row is one add after another, each waiting for the last: about 3.3 ns a
number here whatever the dtype (1024x4096 float32: 14 ms, PyTorch's whole forward 4). This
module cuts each row into chunks of ``_CHUNK`` numbers and makes every chunk's running sums
at once with the matrix library:

    rows (k, n) in float64, seen as chunks (k C, L)         L = _CHUNK, C = n / L
    total_c = chunk_c @ ones                                 (a matrix-vector product)
    carry_c = total_0 + ... + total_(c-1)                    (per row: a short cumsum)
    chunk_c[0] += carry_c                                    (the carry rides on the first
                                                              number: it reaches every sum)
    sums = chunks @ T,   T[i, j] = 1 for i <= j              (upper triangle of ones)

(``reverse``: suffix sums, the lower triangle and the carry of the chunks after, riding on
the last number.) The matrix product adds a chunk's numbers in their order, times 1 or 0,
both exact; only the carry is added in another order than one after another, in float64,
so after rounding to float32 the sums are PyTorch's (1024x4096 normal numbers: no float32
result differs). A +0 carry on the first chunk also turns a leading -0.0 into 0.0, as
PyTorch's sums start from +0.

An inf or NaN times the triangle's zeros is NaN: a block whose chunk totals are not all
finite (a float32 number in float64 never overflows, so only an inf or NaN input makes one)
is summed by numpy's cumsum instead. Blocks of rows of ``_BLOCK`` numbers stay in cache.
1024x4096 float32, one thread: about 8 ms against numpy's 16 (the forward; the backward alike).
"""
from __future__ import annotations

import numpy as np

from ..parallel import blas_on_one_thread, run_split

__all__ = ["fits", "running_sum_rows"]

_CHUNK = 16                     # numbers per chunk: 16 measured best (8: 2x the carries to
#                                 sum one by one; 32: 2x the product's arithmetic)
_BLOCK = 1 << 15                # numbers per block of rows (its float64 copy: 256 KB)
_MIN_ROW = 4 * _CHUNK           # shorter rows: numpy's cumsum (too few chunks to gain)
_MIN_SIZE = 1 << 13             # fewer numbers: numpy's cumsum (the setup costs ~15 us;
#                                 32x256 float32 is the break-even, 29 us against 36)

_TRIANGLES = {}


def _triangle(reverse):
    """(L, L) float64: T[i, j] = 1 where chunk number i is in sum j (i <= j; reverse:
    i >= j)."""
    t = _TRIANGLES.get(reverse)
    if t is None:
        t = np.tril(np.ones((_CHUNK, _CHUNK))) if reverse else \
            np.triu(np.ones((_CHUNK, _CHUNK)))
        _TRIANGLES[reverse] = t
    return t


def fits(a, n):
    """Whether rows of ``a`` (numpy, n numbers each, the running sum's axis last) go by
    chunks: float32 (summed in float64), rows of at least _MIN_ROW numbers, at least
    _MIN_SIZE numbers in all."""
    return a.dtype == np.float32 and n >= _MIN_ROW and a.size >= _MIN_SIZE


def running_sum_rows(rows, dst, reverse):
    """dst (m, n) float32 = the running sums of rows (m, n) float32 along each row, from the
    end when ``reverse``, kept in float64 (module docstring). rows may be any view; dst is
    written block of rows by block, the blocks split over minigrad's threads (each part
    with its own buffers, the matrix library on the part's own thread)."""
    m, n = rows.shape
    chunks = -(-n // _CHUNK)
    width = chunks * _CHUNK                         # a row padded with zeros to whole chunks
    k = max(1, min(m, _BLOCK // width))

    def piece(first, stop):
        _scan_part(rows, dst, reverse, first, stop, k, chunks)
    with blas_on_one_thread(k * width):
        run_split(piece, m, 3 * rows.size * 4)     # read, written in float64, written back


def _scan_part(rows, dst, reverse, first, stop, k, chunks):
    """``running_sum_rows`` for the rows first..stop, k rows a block."""
    n = rows.shape[1]
    width = chunks * _CHUNK
    wide = np.zeros((k, width))                     # the padding stays zero throughout
    sums = np.empty((k * chunks, _CHUNK))
    ones = np.ones(_CHUNK)
    tri = _triangle(reverse)
    # the number each chunk's carry rides on: its first (its last, reversed; the last chunk
    # of a padded row then has zeros after its numbers, which change no sum)
    rider = _CHUNK - 1 if reverse else 0
    with np.errstate(all="ignore"):
        for start in range(first, stop, k):
            r = min(k, stop - start)
            block = wide[:r]
            block[:, :n] = rows[start:start + r]
            flat = block.reshape(r * chunks, _CHUNK)
            totals = (flat @ ones).reshape(r, chunks)
            out = dst[start:start + r]
            if not np.isfinite(totals).all():       # inf or NaN inside: one by one
                src = block[:, :n][:, ::-1] if reverse else block[:, :n]
                src[:, 0] += 0                      # from +0, as PyTorch: -0.0 gives 0.0
                np.cumsum(src, axis=1, out=src)
                out[...] = block[:, :n]
                continue
            carry = np.empty((r, chunks))
            if reverse:                             # the totals of the chunks after
                tail = carry[:, ::-1]
                tail[:, 0] = 0
                np.cumsum(totals[:, :0:-1], axis=1, out=tail[:, 1:])
            else:
                carry[:, 0] = 0
                np.cumsum(totals[:, :-1], axis=1, out=carry[:, 1:])
            flat[:, rider] += carry.reshape(-1)
            got = np.matmul(flat, tri, out=sums[:r * chunks])
            out[...] = got.reshape(r, width)[:, :n]
