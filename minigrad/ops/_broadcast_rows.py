"""A binary ufunc of a large row-major array and a small operand broadcast over its leading
dims (a bias ``x + v``, a per-channel scale ``x4 * w[:, None, None]``, ``x / v``), computed
over a 2-d view in long rows: ``ufunc_by_rows(ufunc, a, b)``.

Why: numpy's ufunc loop runs once per contiguous run it can form from both operands, and each
start costs about 100 ns.  When the small operand repeats every ``M`` elements of the large one
(a (1024,) vector beside a (1024, 1024) matrix: ``M`` = 1024; a (C, 1, 1) scale beside an
(N, C, H, W) batch: runs of ``H * W``), the loop restarts every ``M`` (or ``H * W``) elements,
and the op runs 1.4-2x slower than a pass over two full-size operands.

How: the small operand's trailing block, the part of the large operand's shape it varies over
(all of ``(C, H, W)`` for a (C, 1, 1) scale), is written out once, repeated ``r`` times where it
is shorter than ``ROW_ELEMENTS`` (``r`` divides the leading size), and the large operand is
viewed as rows of ``r * M`` elements: numpy then restarts once per row.  The block is kept
within ``BLOCK_BYTES``, where it stays in cache (L2, or L3 past 2 MiB) while the rows stream
past it; measured as fast as numpy's own loop or faster up to 4 MiB (12 MiB: 2x slower).
The values are the ufunc's own, element by element, so the result is bit-identical; it is
row-major, as PyTorch's result beside a row-major full-size operand.  (A (C, 1, 1) operand
gains beyond the loop starts: numpy's loop over a repeated number is slower per element than
over two arrays.)

Where no long rows can be had (a column ``v[:, None]``, a transposed or strided large operand,
a 0-d number beside a strided view, an outer product), ``by_runs`` sets numpy's buffer size to
the run's length for the call: numpy otherwise copies every run shorter than its buffer.
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf
from .._tiled_copy import MIN_BYTES as TILED_BYTES, laid_out_like
from ._util import prod

ROW_ELEMENTS = 8192         # runs this long amortise a loop start (numpy 2.x, one thread)
MIN_ELEMENTS = 1 << 16      # smaller: the checks and the block cost what the rows save
BLOCK_BYTES = 1 << 22       # the block written out, repeats included (measured: no loss to 4 MiB)
_KINDS = frozenset("fiu")   # (bool, complex, bfloat16's void loops: left to numpy as they are)


def ufunc_by_rows(ufunc, a, b):
    """``ufunc(a, b)`` computed in rows of at least ``ROW_ELEMENTS`` elements where one of
    ``a``, ``b`` is a row-major numpy array of the broadcast shape (at least ``MIN_ELEMENTS``
    elements) and the other, of the same dtype, has size 1 (or, expanded, a step of 0) along
    its leading dims and a trailing block of at most ``BLOCK_BYTES`` (with its repeats) that
    numpy's own loop would walk in runs shorter than ``ROW_ELEMENTS``; None in every other
    case (then the caller computes ``ufunc(a, b)`` as before)."""
    if a.size > b.size:
        full, small = a, b
    elif a.size < b.size:
        full, small = b, a
    else:           # (an expanded operand, ``v.expand(n, m) * x``: its steps of 0 undone)
        full, small = (a, b) if a.flags.c_contiguous else (b, a)
        small = _unexpanded(small)
        if small is None:
            return None
    if type(full) is not np.ndarray or type(small) is not np.ndarray or \
            full.dtype != small.dtype or full.size < MIN_ELEMENTS or small.size <= 1 or \
            full.dtype.kind not in _KINDS or not full.flags.c_contiguous:
        return None
    shape, little = full.shape, small.shape
    pad = full.ndim - small.ndim
    if pad < 0:
        return None
    first = pad                 # the block's first dim: small is 1 along every dim before it
    while little[first - pad] == 1:
        first += 1
    trailing, kept = shape[first:], little[first - pad:]
    run = _numpy_run(trailing, kept)
    if run >= ROW_ELEMENTS or first == 0:
        return None             # (long runs: numpy's loop starts cost little)
    block = 1
    for m, n in zip(kept, trailing):
        if m != n and m != 1:
            return None         # (a small operand of a shape of its own: numpy's broadcast)
        block *= n
    lead = full.size // block
    if block * full.itemsize > BLOCK_BYTES or lead == 1:
        return None
    reps = _repeats(lead, block, full.itemsize)
    if reps == 1 and run == block:
        return None             # (no longer row to be had: numpy's loop as it is)
    tile = np.empty((reps,) + trailing, full.dtype)
    tile[...] = small.reshape(kept)
    rows = full.reshape(lead // reps, reps * block)
    tile = tile.reshape(reps * block)
    out = ufunc(rows, tile) if full is a else ufunc(tile, rows)
    return out.reshape(shape)


# numpy copies an operand into its buffer wherever its innermost run is shorter than the
# buffer (8192 elements): a run of 1024 beside a broadcast operand (``x + v[:, None]``,
# ``x.t() + v``, a strided ``x[::2] + 1``) then costs a copy per element, 1.6-2x the pass.
# A buffer the run's length leaves it unbuffered (measured: 0.22 -> 0.13 ms for 1024x1024
# float32); runs shorter than RUN_MIN are left as they are (their restarts cost more).
RUN_MIN = 512
_DEFAULT_BUFFER = 8192


def by_runs(ufunc, a, b):
    """``ufunc(a, b)`` with numpy's buffer made as long as the innermost run numpy walks,
    where ``a`` and ``b`` are numpy arrays of one floating dtype and a broadcast result of
    at least ``MIN_ELEMENTS`` elements, each stepping by one element or by 0 along the
    result's innermost dim (a full-size operand's memory order, else row-major), and the
    run is ``RUN_MIN`` to 8191 elements long; None otherwise.  The values are the ufunc's
    own (only its walk is cut otherwise); the result is laid out as the full-size operand
    (row-major where there is none)."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype or \
            a.dtype.kind != "f" or np.getbufsize() != _DEFAULT_BUFFER:
        return None             # (floating: the result has the operands' dtype)
    if a.size >= MIN_ELEMENTS or b.size >= MIN_ELEMENTS:
        full = a if a.size >= b.size else b
        shape = full.shape
        if any(n != 1 and n != m for x in (a, b)
               for n, m in zip(x.shape, shape[len(shape) - x.ndim:])) or \
                full.ndim < max(a.ndim, b.ndim):
            return None         # (both broadcast: a result larger than either)
    else:                       # (an outer product's kind: neither operand full-size)
        if a.size * b.size < MIN_ELEMENTS or a.ndim + b.ndim < 2:
            return None
        full = None
        shape = np.broadcast_shapes(a.shape, b.shape)
        if prod(shape) < MIN_ELEMENTS:
            return None
    run = _run_length(shape, full, a, b)
    if run is None:
        return None
    # (the result laid out as ``full``: numpy then walks all three in one order, and a
    # transposed ``full``'s result is PyTorch's layout, no copy needed after)
    out = np.empty_like(full) if full is not None else np.empty(shape, a.dtype)
    old = np.setbufsize(-(-run // 16) * 16)
    try:
        return ufunc(a, b, out=out)
    finally:
        np.setbufsize(old)


def _run_length(shape, full, a, b):
    """The length of the innermost run numpy walks ``a`` and ``b`` broadcast to ``shape``
    in ``full``'s memory order (row-major where ``full`` is None): the trailing dims all
    three merge; None where an operand steps along the innermost dim by other than one
    element or 0, or the run is outside ``RUN_MIN``..8191."""
    item = a.itemsize
    steps = []
    for x in ((full, a, b) if full is not None else (a, b)):
        pad = len(shape) - x.ndim
        steps.append([0] * pad + [0 if n == 1 else s for n, s in zip(x.shape, x.strides)])
    dims = [d for d in range(len(shape)) if shape[d] != 1]
    if full is not None:
        dims.sort(key=lambda d: -full.strides[d])
        if not dims or full.strides[dims[-1]] != item:
            return None
    if not dims:
        return None
    inner = dims[-1]
    if any(st[inner] not in (0, item) for st in steps):
        return None
    run = shape[inner]
    for d in reversed(dims[:-1]):
        if any(st[d] != st[inner] * shape[inner] for st in steps):
            break
        run *= shape[d]
        inner = d
    return run if RUN_MIN <= run < _DEFAULT_BUFFER else None


def rows_or_relaid(ufunc, a, b):
    """(``ufunc(a, b)`` in long rows, b) where a broadcast operand (shapes differ) or an
    expanded one (shapes alike, steps of 0) makes short runs (or, where no long rows can
    be had, with numpy's buffer cut to the run: ``by_runs``); otherwise (None, the b to
    compute with): b itself, or, a transposed b beside a large a, b re-laid in a's order
    (``laid_out_like``: one walk instead of a strided one)."""
    if a.shape != b.shape:
        if a.size >= MIN_ELEMENTS or b.size >= MIN_ELEMENTS:
            out = ufunc_by_rows(ufunc, a, b)
            return (by_runs(ufunc, a, b) if out is None else out), b
        if a.size * b.size >= MIN_ELEMENTS:         # (an outer product's kind)
            return by_runs(ufunc, a, b), b
    elif a.nbytes >= TILED_BYTES and not (a.flags.c_contiguous and b.flags.c_contiguous):
        out = ufunc_by_rows(ufunc, a, b)
        return (out, b) if out is not None else (None, laid_out_like(b, a))
    return None, b


def as_parallel_binary(out, a, b):
    """``out`` (from ``ufunc_by_rows`` or ``by_runs``) laid out as ``parallel.binary`` lays out
    numpy's result of ``ufunc(a, b)``: as it is when ``a`` is row-major (and, 0-d, ``b`` too),
    else in PyTorch's layout of the pair."""
    if a.flags.c_contiguous and (a.ndim or b.flags.c_contiguous):
        return out
    return mf.pointwise_layout(out, (a, b))


def _unexpanded(x):
    """``x`` (a numpy array) with each dim it steps through by 0 (an expanded dim) cut to
    size 1; None where there is none."""
    if type(x) is not np.ndarray or all(x.strides):
        return None
    return x[tuple(slice(0, 1) if step == 0 else slice(None) for step in x.strides)]


def _numpy_run(shape, little):
    """The length of the runs numpy's loop walks the block in: the trailing dims along which
    the small operand is all size 1 or all full size, merged."""
    run = 1
    repeated = None
    for m, n in zip(reversed(little), reversed(shape)):
        if n == 1:
            continue
        if repeated is None:
            repeated = m == 1
        elif repeated != (m == 1):
            break
        run *= n
    return run


def _repeats(lead, block, itemsize):
    """How many copies of the block make a row: the least divisor of ``lead`` that makes the
    row at least ``ROW_ELEMENTS`` long (within ``BLOCK_BYTES``); 1 where the block is that long
    already or no such divisor is near."""
    want = -(-ROW_ELEMENTS // block)
    if want <= 1:
        return 1
    most = min(lead, 4 * want, BLOCK_BYTES // (block * itemsize))
    for reps in range(want, most + 1):
        if lead % reps == 0:
            return reps
    return 1
