"""The running sum of float32 rows kept in float64, as blocks of matrix products (and the
running product, by chunks: at the end).

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

__all__ = ["fits", "running_sum_rows", "fits_product", "running_product_rows"]

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


# ----------------------------------------------------------------------------------------------
# Running products of float32 rows in float64, by chunks
# ----------------------------------------------------------------------------------------------
# PyTorch keeps a float32 running product in float64 too. numpy's cumprod along a row waits
# on each multiply like cumsum (3.5 ns a number). Here a block of rows is seen as chunks of
# _PCHUNK numbers and copied, transposed, to (_PCHUNK, rows, chunks) float64: the chunk's
# running products are then _PCHUNK - 1 multiplies of whole (rows, chunks) planes, each
# chunk's carry (the product of the chunks before it) a short cumprod of the chunk totals,
# and the result the chunk products times their carry, written back transposed in float32.
# Only the grouping of the float64 products differs from one after another: rounded to
# float32 the results are PyTorch's. A chunk of float32 numbers can overflow or underflow
# float64 where the running product would not (16 factors of 1e38 after a carry of 1e-300):
# a block with a chunk total outside [1e-250, 1e250] (or a zero, inf or NaN in it), or a
# carry above 1e250, is multiplied one by one instead. 1024x1024, one thread: ~2x numpy's.
_PCHUNK = 8                     # 8 measured best (16: slower transposing copies)
_PBLOCK = 1 << 17               # numbers per block of rows (the float64 copy: 1 MB)
_PMIN_ROW = 8 * _PCHUNK
_PMIN_SIZE = 1 << 14
_SAFE = 1e250


def fits_product(a, n):
    """Whether float32 rows of ``a`` (n numbers each, the product's axis last) go by
    chunks (``running_product_rows``)."""
    return a.dtype == np.float32 and n >= _PMIN_ROW and a.size >= _PMIN_SIZE


def running_product_rows(rows, dst):
    """dst (m, n) float32 = the running products of rows (m, n) float32 along each row,
    kept in float64 (see above); blocks of rows split over minigrad's threads."""
    m, n = rows.shape
    chunks = -(-n // _PCHUNK)
    k = max(1, min(m, _PBLOCK // (chunks * _PCHUNK)))

    def piece(first, stop):
        _product_part(rows, dst, first, stop, k, chunks)
    run_split(piece, m, 3 * rows.size * 4)


def _product_part(rows, dst, first, stop, k, chunks):
    """``running_product_rows`` for the rows first..stop, k rows a block."""
    n, step = rows.shape[1], _PCHUNK
    full = n // step                              # whole chunks; rem numbers in the last
    rem = n - full * step
    planes = np.empty((step, k, chunks))          # [j, row, chunk]: the chunk's j-th number
    carry = np.empty((k, chunks))
    with np.errstate(all="ignore"):
        for start in range(first, stop, k):
            r = min(k, stop - start)
            src, out, b, c = rows[start:start + r], dst[start:start + r], planes[:, :r], carry[:r]
            b[:, :, :full] = src[:, :full * step].reshape(r, full, step).transpose(2, 0, 1)
            if rem:
                b[:rem, :, full] = src[:, full * step:].T
                b[rem:, :, full] = 1
            for j in range(1, step):
                np.multiply(b[j], b[j - 1], out=b[j])
            size = np.abs(b[step - 1])
            c[:, 0] = 1
            np.cumprod(b[step - 1, :, :-1], axis=1, out=c[:, 1:])
            if not (size.min() >= 1 / _SAFE and size.max() <= _SAFE
                    and np.abs(c).max() <= _SAFE):
                out[...] = np.cumprod(src, axis=1, dtype=np.float64)     # one by one
                continue
            np.multiply(b[:, :, :full], c[None, :, :full],
                        out=out[:, :full * step].reshape(r, full, step).transpose(2, 0, 1))
            if rem:
                np.multiply(b[:rem, :, full], c[None, :, full], out=out[:, full * step:].T)
