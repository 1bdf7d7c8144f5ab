"""Ops that copy elements into a new array without changing them: ``repeat`` (tiling),
constant ``pad``, the layout copies ``clone`` and ``contiguous`` (and
``keep_channels_last``, which lays a result out as its input is), and ``to_device``.

The layout copies go through ``_tiled_copy`` (``copy_into``, ``contiguous_copy``), which
copies a transposed or channels-last source in cache-sized tiles where numpy's walk is slow.

Their backward passes the gradient back: repeat's copies summed, the padding cropped, a
clone's gradient as it is, a device move's moved back.  The views and reshapes that share
their input's memory live in ``movement.py``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import _memory_format as mf
from .._tiled_copy import contiguous_copy, copy_into
from ..autograd import Function
from ._int_list_args import int_list_argument
from ._util import check_tensor
from .indexing import BasicGetItem
from .plumbing import reshape_to, sum_to


class Repeat(Function):
    """Tile ``a`` ``repeats[i]`` times along axis i: (s0, s1) -> (r0 s0, r1 s1).

    Backward: output axis i is ``repeats[i]`` copies of input axis i, so view the gradient
    as (r0, s0, r1, s1, ...) and sum the copies (``sum_to`` (1, s0, 1, s1, ...)), whose own
    backward is the broadcast back: any order works.
    """
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, a, *, repeats):
        self.in_shape = a.shape
        self.repeats = repeats
        xp = backend.xp_of(a)
        if not repeats:                  # a 0-d tensor repeated () times: itself, as a copy
            return a.copy()              # (numpy's tile would make it 1-d)
        return xp.ascontiguousarray(xp.tile(a, repeats))   # tile by ones keeps a's layout

    def backward(self, g):
        shape = (1,) * (len(self.repeats) - len(self.in_shape)) + tuple(self.in_shape)
        split, kept = [], []
        for r, s in zip(self.repeats, shape):
            split += [r, s]
            kept += [1, s]
        return reshape_to(sum_to(reshape_to(g, split), kept), self.in_shape)


class Pad(Function):
    """Constant padding: ``widths`` is one (before, after) pair per axis.
    Backward: the gradient cropped back to the input's place (pad's adjoint is a slice)."""
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, a, *, widths, value):
        self.widths = widths
        return backend.xp_of(a).pad(a, widths, mode="constant", constant_values=value)

    def backward(self, g):
        index = tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        return BasicGetItem.apply(g, index=index, basic=True)


class Copy(Function):
    """clone(): a copy with the given element ``strides`` (a dense layout, see
    minigrad/_memory_format.py); the gradient is passed straight through."""
    complex_ok = True             # linear, real coefficients: right as written
    _node_name = "CloneBackward0"       # PyTorch's clone node

    def forward(self, a, *, strides):
        return copy_into(mf.empty_strided(backend.xp_of(a), a.shape, strides, a.dtype), a)

    def backward(self, g):
        return g


class Contiguous(Function):
    """A C-contiguous copy; the gradient is passed straight through."""
    complex_ok = True
    _node_name = "CloneBackward0"       # PyTorch's contiguous() clones

    def forward(self, a):
        # (a numpy array: the tiled copy where a transposed walk is slow)
        return contiguous_copy(a) if type(a) is np.ndarray else \
            backend.xp_of(a).ascontiguousarray(a)

    def backward(self, g):
        return g


class ToDevice(Function):
    """Move to another device.  Backward: move the gradient back."""
    def forward(self, a, *, device):
        self.source = backend.device_of(a)
        return backend.to_device(a, device)

    def backward(self, g):
        return g if g.device == self.source else ToDevice.apply(g, device=self.source)


def repeat(a, *repeats, **kwargs):
    repeats = int_list_argument("repeat", "repeats", repeats, kwargs)
    if len(repeats) < a.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           f"of dimensions of tensor (repeats {list(repeats)}, tensor shape "
                           f"{list(a.shape)})")
    if any(r < 0 for r in repeats):
        # as PyTorch: only a negative size of the result is refused (a negative repeat of an
        # empty dim gives an empty dim)
        sizes = (1,) * (len(repeats) - a.ndim) + tuple(a.shape)
        target = [r * s for r, s in zip(repeats, sizes)]
        bad = next((t for t in target if t < 0), None)
        if bad is not None:
            raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: "
                               f"{target} (repeats can not be negative (got repeats "
                               f"{list(repeats)} for a tensor of shape {list(a.shape)}))")
        repeats = tuple(r if r >= 0 else 0 for r in repeats)
    return Repeat.apply(a, repeats=repeats)


def pad(a, pad, mode="constant", value=0.0):
    """Pad with a constant. ``pad`` lists (left, right) pairs from the LAST dimension backwards."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode '{mode}' is not supported (only 'constant')")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > a.ndim:
        raise RuntimeError(f"Padding length must be divisible by 2 and at most twice the number "
                           f"of dimensions of the input ({a.ndim}), got {len(pad)}")
    if any(p < 0 for p in pad):
        raise RuntimeError(f"pad: negative padding (cropping) is not supported, got {list(pad)}")
    widths = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        widths[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return Pad.apply(a, widths=tuple(widths), value=0 if value is None else value)


def clone(a, *, memory_format=mf.preserve_format):
    """A copy of ``a`` laid out in ``memory_format`` (by default as ``a`` is, when dense)."""
    fmt = mf.check(memory_format, "clone")
    return Copy.apply(check_tensor("clone", a), strides=mf.target_strides(a._array, fmt))


def contiguous(a, memory_format=mf.contiguous_format):
    """``a`` itself when stored densely in ``memory_format``'s order, else such a copy."""
    fmt = mf.check(memory_format, "contiguous", none_means=None)
    if mf.is_contiguous(a._array, fmt):
        return a
    if fmt is mf.preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    if fmt is mf.contiguous_format:
        return Contiguous.apply(a)
    return Copy.apply(a, strides=mf.target_strides(a._array, fmt))


def keep_channels_last(out, like):
    """``out`` laid out channels-last (channels-last-3d) where ``like``, an input of the same
    rank, looks so: the layout PyTorch gives the results of its padding, resizing and
    shuffling ops, which allocate them in their input's suggested format."""
    fmt = mf.suggest(like._array)
    if fmt is mf.contiguous_format or out.ndim != like.ndim:
        return out
    return contiguous(out, memory_format=fmt)


def to_device(a, device):
    if a.device == device:
        return a
    return ToDevice.apply(a, device=device)
