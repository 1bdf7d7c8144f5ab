"""Matrix products with one thin operand and one long axis, in blocks of that axis.

A convolution on few channels makes such products: LeNet's first layer is w (20, 25) @ cols
(25, 64 * 576), a ResNet stem's weight gradient cols (27, N*L) @ g^T (N*L, 32). Measured
with OpenBLAS 0.3 (SkylakeX kernels, one thread), a product whose thin operand has fewer
than about a thousand entries ran 1.6-4x faster as a stack of products over blocks of 1024
columns than as one call (20x25 @ 25x36864: 0.78 -> 0.37 ms; the weight gradient's
25x36864 @ 36864x20: 0.85 -> 0.40 ms), and no faster once that operand was larger
(64x25 @ 25x32768 took 1.25x as long in blocks).

    thin_matmul(a, b, out)    out = a @ b          a (..., M, K), b (..., K, N), M*K small
    thin_contract(a, b)       a @ b                a (..., M, L), b (..., L, P), M*P small

Blocks are strided views, never copies: ``numpy.matmul`` runs one BLAS call per block.
Other array modules (cupy) get one ``matmul``.

The gain is OpenBLAS's: its AVX-512 kernels (the "SkylakeX" core type, which it also picks
on AMD's Zen 4) run such a thin product as one call at 35-48 GFLOPS, and blocks of it on
its small-matrix path at twice that. With its AVX2 ("Haswell") kernels, forced on the same
machine, one call ran at 48 GFLOPS and the blocks 1.3-1.6x slower. So products go in blocks
only under OpenBLAS with those kernels (``blocks_pay``, asked of threadpoolctl once).
"""
from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["thin_matmul", "thin_contract", "blocks_pay", "THIN_ENTRIES", "BLOCK"]

THIN_ENTRIES = 1000     # the thin operand's entries (M*K or M*P) below which blocks pay
BLOCK = 1024            # columns (or contraction steps) per block


def _blocks(a, axis, count):
    """``count`` blocks of BLOCK along ``axis`` of a, as a new axis before the last two:
    a (..., X, Y) -> (..., count, X', Y') with the cut axis BLOCK long. A view."""
    axis %= a.ndim
    shape, strides = list(a.shape), list(a.strides)
    shape[axis], step = BLOCK, strides[axis]
    shape.insert(a.ndim - 2, count)
    strides.insert(a.ndim - 2, BLOCK * step)
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=a.flags.writeable)


# OpenBLAS core types whose kernels run thin products faster in blocks (see the docstring)
BLOCKED_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})
_pay = None             # blocks_pay()'s answer, once known


def blocks_pay():
    """Whether numpy's BLAS runs thin products faster in blocks: OpenBLAS with one of
    BLOCKED_CORES' kernels (numpy's own OpenBLAS when several are loaded)."""
    global _pay
    if _pay is None:
        _pay = False
        try:
            import threadpoolctl
            libs = [lib for lib in threadpoolctl.ThreadpoolController().select(
                user_api="blas").lib_controllers if lib.internal_api == "openblas"]
        except Exception:       # noqa: BLE001 -- not knowing the BLAS: one product, as numpy
            libs = []
        libs = [lib for lib in libs if "numpy" in str(lib.filepath)] or libs
        if libs:
            _pay = str(getattr(libs[0], "architecture", "")).lower() in BLOCKED_CORES
    return _pay


def _worth(a, long_size, thin_entries):
    return (type(a) is np.ndarray and thin_entries < THIN_ENTRIES and
            long_size >= 2 * BLOCK and a.dtype.kind in "fc" and blocks_pay())


def thin_matmul(a, b, out):
    """out = a @ b for a (..., M, K), b (..., K, N), out (..., M, N) (leading axes as
    ``numpy.matmul`` broadcasts them); N in blocks when M*K is small. Returns out."""
    xp = backend.xp_of(b)
    N = b.shape[-1]
    if not _worth(b, N, a.shape[-2] * a.shape[-1]) or out.dtype != b.dtype:
        xp.matmul(a, b, out=out)
        return out
    count = N // BLOCK
    whole = count * BLOCK
    # (..., 1, M, K) @ (..., count, K, BLOCK) -> (..., count, M, BLOCK), all in place
    np.matmul(a[..., None, :, :], _blocks(b[..., :whole], -1, count),
              out=_blocks(out[..., :whole], -1, count))
    if whole < N:
        np.matmul(a, b[..., whole:], out=out[..., whole:])
    return out


def thin_contract(a, b):
    """a @ b for a (..., M, L), b (..., L, P) with a long contraction L and M*P small: the
    products of L's blocks, summed. -> (..., M, P), a new array."""
    L = a.shape[-1]
    if not _worth(a, L, a.shape[-2] * b.shape[-1]) or type(b) is not np.ndarray or \
            a.dtype != b.dtype:
        return a @ b
    count = L // BLOCK
    whole = count * BLOCK
    # (..., count, M, BLOCK) @ (..., count, BLOCK, P) -> (..., count, M, P), summed
    out = np.matmul(_blocks(a[..., :whole], -1, count),
                    _blocks(b[..., :whole, :], -2, count)).sum(axis=-3)
    if whole < L:
        out += a[..., whole:] @ b[..., whole:, :]
    return out
