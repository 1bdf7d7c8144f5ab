"""``F.interpolate`` (modes ``nearest``, ``nearest-exact``, ``linear``, ``bilinear``,
``trilinear``, ``bicubic`` and ``area``, with ``align_corners``).  The taps of each mode (the
formulas below) are computed in ``_resize_taps.py``; ``pixel_shuffle`` / ``pixel_unshuffle``
are in ``pixel_shuffle.py``.

Resizing is separable: one spatial dim at a time, each output position ``dst`` mixes a few
input positions ("taps", clamped into [0, n_in - 1]) with constant weights:

    nearest        src = min(floor(dst * scale), n_in - 1)
    nearest-exact  src = min(floor((dst + 0.5) * scale), n_in - 1)
    linear         x = dst * (n_in - 1) / (n_out - 1)                 (align_corners=True)
                   x = max((dst + 0.5) * scale - 0.5, 0)              (align_corners=False)
                   out = (1 - t) in[floor(x)] + t in[floor(x) + 1],  t = x - floor(x)
    bicubic        x as linear but not clamped at 0; taps floor(x) - 1 .. floor(x) + 2 with
                   Keys' cubic weights (a = -0.75) of the distances t + 1, t, 1 - t, 2 - t
    area           the mean of in[floor(dst n_in / n_out) : ceil((dst + 1) n_in / n_out)]:
                   adaptive average pooling, which computes it (``ops.avg_pool``)

With ``antialias=True`` (bilinear, bicubic, and lanczos, which needs it) a shrinking resize
widens its filter to cover every input an output spans (see ``_taps_antialias``); lanczos's
filter is the Lanczos-3 windowed sinc, sinc(x) sinc(x / 3) for |x| < 3.

where ``scale`` is n_in / n_out, or 1 / scale_factor when a scale factor is given.  The nearest
modes floor a float32 position, as PyTorch's CPU kernels do (see ``_nearest_index``); a dim
whose size does not change is copied as it is by the linear modes, 2-d nearest and the
anti-aliased and uint8 bicubic resizes, as PyTorch does whatever the scale factor.  On numpy
float32/float64 each dim's taps make one linear map, applied by ``SeparableResize``
(``_resize_maps``: small matrix products, repeats and gathers) whose gradient is the
transposed maps, the same op again.  float16/bfloat16 numpy inputs are resized as PyTorch's
kernels round them (``_resize_16bit``).  Other inputs (cupy, empty) read with
``IndexSelect``s and mix with a multiply-add of constant weights, so their gradient (a
scatter-add of weighted gradients) and its own derivatives come from those ops.

uint8 images (bilinear, bicubic) are resized as PyTorch does them: each dim's weights rounded
to fixed point (15 bits for the largest), integer sums rounded and clamped to [0, 255] after
each dim, the last dim first.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._warn_once import warn_user
from ..dtypes import reduced_float
from .. import _memory_format as mf, backend
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._int_lists import int_like
from ._resize_maps import Banded, SeparableResize, nearest_map
from ._util import FLOAT32_64, not_implemented_for
from .elementwise import add, mul
from .movement_copies import clone, keep_channels_last
from .avg_pool import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d
from .scatter_gather import IndexSelect
from ._resize_taps import _dims_taps
from ._resize_16bit import HalfResize

__all__ = ["interpolate", "upsample"]

_NEEDS_NDIM = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5, "lanczos": 4}
_ALL = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact",
        "lanczos")
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")


def _requested(input, size, scale_factor, dim):
    """(output_size, scale_factors) as PyTorch's Python function reads them: exactly one of
    them given, a single value repeated over the ``dim`` spatial dims, a sequence's length
    checked (and a size's elements be integers)."""
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if not isinstance(size, (list, tuple)):
            return [size] * max(dim, 0), None
        if len(size) != dim:
            raise ValueError(    # the size shown as given (a list or a tuple), as PyTorch
                f"Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {list(input.shape[2:])} and output size of "
                f"{size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                "output size in (o1, o2, ...,oK) format.")
        if not all(isinstance(v, (numbers.Integral, np.integer)) or (
                isinstance(v, Tensor) and v._array.dtype.kind not in "fcV") for v in size):
            raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                            "Tuple[int, int, int], but got size with types "
                            f"{[type(v) for v in size]}")
        return size, None
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if not isinstance(scale_factor, (list, tuple)):
        return None, [scale_factor] * max(dim, 0)
    if len(scale_factor) != dim:
        raise ValueError(
            f"Input and scale_factor must have the same number of spatial dimensions, but got "
            f"input with spatial dimensions of {list(input.shape[2:])} and scale_factor of shape "
            f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
            "and scale_factor in (s1, s2, ...,sK) format.")
    return None, scale_factor


def _kernel(mode, nd, antialias):
    """The name of PyTorch's kernel for a mode and a number of spatial dims, and whether it
    takes align_corners."""
    if mode in ("nearest", "nearest-exact"):
        return f"{'_upsample_nearest_exact' if mode == 'nearest-exact' else 'upsample_nearest'}" \
               f"{nd}d", False
    base = {"linear": "upsample_linear1d", "bilinear": "upsample_bilinear2d",
            "trilinear": "upsample_trilinear3d", "bicubic": "upsample_bicubic2d",
            "lanczos": "upsample_lanczos2d"}[mode]
    return ("_" + base + "_aa" if antialias else base), True


def _float_like(v):
    """A scale factor the kernel's float-list parser takes: a real number; not a tensor
    (``F.interpolate`` turns a tensor ``scale_factor`` into a list of it, which PyTorch's
    kernels refuse unless ``recompute_scale_factor`` made sizes of it first)."""
    return isinstance(v, numbers.Real) and not isinstance(v, Tensor)


def _described(value, ok):
    """How PyTorch's parser names an argument in its list of a call's types, marked with
    ``!`` when it did not fit."""
    if isinstance(value, (list, tuple)):
        open_, close = ("[", "]") if isinstance(value, list) else ("(", ",)" if len(value) == 1
                                                                      else ")")
        text = f"{type(value).__name__} of {open_}" \
               f"{', '.join(type(v).__name__ for v in value)}{close}"
    else:
        text = type(value).__name__
    return text if ok else f"!{text}!"


def _parse_sizes(kernel, nd, with_corners, output_size, scale_factors, align_corners=False):
    """PyTorch's parser on (output_size, align_corners, scale_factors): an int list (the first
    element no bool), a bool and a float list, or its TypeError listing the kernel's two
    signatures."""
    sizes_ok = output_size is not None and all(int_like(v, i == 0)
                                               for i, v in enumerate(output_size))
    scales_ok = scale_factors is not None and all(_float_like(v) for v in scale_factors)
    corners_ok = not with_corners or isinstance(align_corners, bool)     # 0 / 1 are refused
    if (output_size is None or sizes_ok) and (scale_factors is None or scales_ok) and \
            corners_ok:
        return
    corners = ", bool align_corners" if with_corners else ""
    scales = ", ".join(f"float scales{'_' + a if nd > 1 else ''} = None" for a in "dhw"[3 - nd:])
    given = [type(align_corners).__name__] if with_corners else []
    got = ", ".join(["Tensor", type(output_size).__name__] + given +
                    [type(scale_factors).__name__])
    marked = ", ".join(["Tensor", _described(output_size, sizes_ok)] +
                       [_described(align_corners, corners_ok) for _ in given] +
                       [_described(scale_factors, scales_ok)])
    raise TypeError(f"{kernel}() received an invalid combination of arguments - got ({got}), "
                    f"but expected one of:\n"
                    f" * (Tensor input, tuple of ints output_size{corners}, tuple of floats "
                    f"scale_factors)\n"
                    f"      didn't match because some of the arguments have invalid types: "
                    f"({marked})\n"
                    f" * (Tensor input, tuple of ints output_size{corners}, {scales}, *, Tensor "
                    f"out = None)\n")


def _output_sizes(spatial, output_size, scale_factors):
    """The kernel's output sizes: the given ones, or each input size times its factor,
    truncated (a NaN or infinite product does not fit an int64)."""
    if output_size is not None:
        return [int(v) for v in output_size]
    out = []
    for n, f in zip(spatial, scale_factors):
        product = n * float(f)
        if not math.isfinite(product) or abs(product) >= 2.0 ** 63:
            raise RuntimeError("value cannot be converted to type int64_t without overflow")
        out.append(int(product))
    return out


def _resize_dim(out, d, taps):
    """Float path: sum over taps of weight * out[..., index, ...] along dim ``d``."""
    if taps[0][1] is None:
        return IndexSelect.apply(out, index=backend.to_device(taps[0][0], out.device), dim=d)
    view = [1] * out.ndim
    view[d] = len(taps[0][0])
    total = None
    for index, weight in taps:
        w = Tensor._wrap(backend.to_device(weight.reshape(view).astype(out._array.dtype),
                                           out.device))
        picked = IndexSelect.apply(out, index=backend.to_device(index, out.device), dim=d)
        term = mul(picked, w)
        total = term if total is None else add(total, term)
    return total


def _maps(dims):
    """Each dim's taps as one linear map: ((dim, map), ...)."""
    return tuple((d, nearest_map(taps[0][0], n_in) if taps[0][1] is None else
                  Banded(taps, n_in, n_out)) for d, n_in, n_out, taps in dims)


def _same_taps(dims, other):
    """Do two lists of dims' taps hold the same maps?"""
    if [d[:3] for d in dims] != [d[:3] for d in other]:
        return False
    return all(len(a[3]) == len(b[3]) and all(
        np.array_equal(ia, ib) and (wa is None) == (wb is None) and
        (wa is None or np.array_equal(wa, wb)) for (ia, wa), (ib, wb) in zip(a[3], b[3]))
        for a, b in zip(dims, other))


# the maps of recent resizes, by what they depend on (building them took most of the time of
# a small resize): key -> (maps, grad_maps) or None (nothing to resize)
_MAPS = {}
_MAPS_KEPT = 256


def _cached_maps(input, mode, sizes, scales, scales32, align_corners, antialias):
    """numpy float32/float64: (each dim's taps as one linear map, for ``SeparableResize``
    (see ``_resize_maps``), the gradient's maps or None when they are the same), or None
    when no dim is resized; kept for the next call alike (the maps hold no state but caches
    of their own blocks)."""
    key = (mode, input.ndim, input._array.dtype, tuple(input.shape[2:]), tuple(sizes),
           tuple(scales), tuple(float(v) for v in scales32), align_corners, antialias)
    found = _MAPS.get(key, _MAPS)
    if found is not _MAPS:
        return found
    dims = _dims_taps(input, mode, sizes, scales, scales32, align_corners, antialias)
    grad_dims = _dims_taps(input, mode, sizes, scales, scales32, align_corners, antialias,
                           backward=True)
    found = None if not dims and not grad_dims else \
        (_maps(dims), None if _same_taps(dims, grad_dims) else _maps(grad_dims))
    if len(_MAPS) >= _MAPS_KEPT:
        _MAPS.clear()
    _MAPS[key] = found
    return found


def _resize_dim_uint8(a, d, taps, n_in):
    """uint8 path on a numpy array: fixed-point weights, rounded and clamped sums."""
    n_out = len(taps[0][0])
    # the (n_out, n_in) matrix of the taps, those clamped onto one input summed in tap order
    flat = np.concatenate([np.arange(n_out) * n_in + index for index, _ in taps])
    weights = np.bincount(flat, np.concatenate([weight for _, weight in taps]),
                          minlength=n_out * n_in).reshape(n_out, n_in)
    # the most fractional bits that keep round(largest weight * 2^bits) below 2^15
    largest = np.abs(weights).max() if weights.size else 0.0
    bits = 0
    while bits < 22 and np.floor(largest * 2.0 ** (bits + 1) + 0.5) < 2 ** 15:
        bits += 1
    fixed = (np.sign(weights) * np.floor(np.abs(weights) * 2.0 ** bits + 0.5)).astype(np.int64)
    summed = np.moveaxis(np.moveaxis(a.astype(np.int64), d, -1) @ fixed.T, -1, d)
    half = (1 << bits) >> 1
    return np.clip((summed + half) >> bits, 0, 255).astype(np.uint8)


def _check_sizes(input, sizes):
    """PyTorch's upsampling checks: positive input and output sizes, then no empty dim but
    the batch's."""
    spatial = list(input.shape[2:])
    if not (all(n > 0 for n in spatial) and all(n > 0 for n in sizes)):
        names = "DHW"[3 - len(sizes):]
        given = ", ".join(f"{n}: {v}" for n, v in zip(names, spatial))
        wanted = ", ".join(f"{n}: {v}" for n, v in zip(names, sizes))
        joint = " and output" if len(sizes) == 1 else " output"
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({given}){joint} ({wanted})")
    if input._array.size == 0 and 0 in input.shape[1:]:
        raise RuntimeError(f"Non-empty {input.ndim}D data tensor expected but got a tensor with "
                           f"sizes {list(input.shape)}")


def _wrong_rank(input, mode):
    if mode in _NEEDS_NDIM and mode not in ("bicubic", "lanczos") and input.ndim in (3, 4, 5):
        return NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                   f"{_NEEDS_NDIM[mode]}D input")
    return NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                               f"(got {input.ndim}D) for the modes: nearest | linear | bilinear | "
                               f"bicubic | trilinear | lanczos | area | nearest-exact (got {mode})")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *spatial) ``input`` to ``size`` (or by
    ``scale_factor``): output (N, C, *size), each value a fixed mix of nearby input values.
    PyTorch's order: align_corners, the sizes, recompute_scale_factor, antialias, the mode
    and the input's rank, then the kernel's argument types, sizes and dtype.  A channels-last
    input gives a channels-last result, as PyTorch's kernels allocate it."""
    out = _interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                       antialias)
    # (area is an adaptive average pool, which lays out and names its own result)
    if mode == "area":
        return out
    return rename_node(keep_channels_last(out, input), _upsample_node(mode, input.ndim, antialias))


def _upsample_node(mode, ndim, antialias):
    """PyTorch's node for a resize: UpsampleBilinear2DBackward0, UpsampleNearestExact1D...,
    with ``Aa`` after the dims when antialiased."""
    kind = "".join(part.capitalize() for part in mode.split("-"))
    return f"Upsample{kind}{ndim - 2}D{'Aa' if antialias else ''}Backward0"


def _interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                 antialias):
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    output_size, scale_factors = _requested(input, size, scale_factor, dim)
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        output_size = [int(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if input.ndim not in (3, 4, 5) or mode not in _ALL or \
            (mode in _NEEDS_NDIM and input.ndim != _NEEDS_NDIM[mode]):
        raise _wrong_rank(input, mode)
    if mode == "lanczos":
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[dim - 1](
            input, output_size)
    kernel, with_corners = _kernel(mode, dim, antialias)
    _parse_sizes(kernel, dim, with_corners, output_size, scale_factors, align_corners)
    sizes = _output_sizes(input.shape[2:], output_size, scale_factors)
    _check_sizes(input, sizes)
    if scale_factors is None:
        scales = [n / s for n, s in zip(input.shape[2:], sizes)]
        scales32 = [np.float32(n) / np.float32(s) if s else 0.0
                    for n, s in zip(input.shape[2:], sizes)]
    else:
        scales = [1.0 / float(f) if f else 0.0 for f in scale_factors]
        scales32 = [np.float32(v) for v in scales]
    np_dtype = input._array.dtype
    uint8 = np_dtype == np.uint8 and mode in ("nearest", "nearest-exact", "bilinear", "bicubic",
                                              "lanczos")
    if antialias and np_dtype not in FLOAT32_64 and not uint8:
        # PyTorch's anti-aliased kernels: float32, float64 and uint8 only
        raise not_implemented_for("compute_index_ranges_weights", np_dtype)
    if np_dtype.kind not in "fV" and not uint8:
        name = {"nearest": "compute_indices_weights_nearest",
                "nearest-exact": "compute_indices_weights_nearest",
                "bicubic": "compute_indices_weights_cubic"}.get(mode,
                                                                "compute_indices_weights_linear")
        if input.ndim == 4 and mode in ("nearest", "nearest-exact", "bilinear"):
            # PyTorch's CPU kernels of 2-d nearest and bilinear check the dtype first in
            # their channels-last version, whatever the input's layout
            name = f"upsample_{'bilinear' if mode == 'bilinear' else 'nearest'}2d_channels_last"
        raise not_implemented_for(name, np_dtype)
    if reduced_float(np_dtype) and type(input._array) is np.ndarray and input._array.size:
        # float16/bfloat16: computed in float32 and rounded where PyTorch's kernels round
        factors = list(scale_factors) if scale_factors is not None else [None] * dim
        near = _dims_taps(input, mode, sizes, scales, scales32, False, False) \
            if mode in ("nearest", "nearest-exact") else None
        return HalfResize.apply(input, half=np_dtype, mode=mode, sizes=sizes, factors=factors,
                                align_corners=bool(align_corners), nearest_dims=near)
    fixed_point = uint8 and mode in ("bilinear", "bicubic", "lanczos")
    numpy_float = type(input._array) is np.ndarray and np_dtype in FLOAT32_64 and \
        input._array.size
    if numpy_float:
        maps = _cached_maps(input, mode, sizes, scales, scales32, align_corners, antialias)
        if maps is None:
            return clone(input, memory_format=mf.contiguous_format)
        return SeparableResize.apply(input, maps=maps[0], grad_maps=maps[1])
    dims = _dims_taps(input, mode, sizes, scales, scales32, align_corners, antialias)
    if not dims:
        # a new tensor, even when nothing changes (row-major, as PyTorch's kernels write it)
        return clone(input, memory_format=mf.contiguous_format)
    out = backend.as_numpy(input._array) if fixed_point else input
    for d, n_in, _, taps in dims:
        out = _resize_dim_uint8(out, d, taps, n_in) if fixed_point else \
            _resize_dim(out, d, taps)
    if fixed_point:
        # the matmuls leave the resized dims' strides permuted; PyTorch allocates its result in
        # the input's suggested layout
        out = Tensor._wrap(backend.to_device(np.ascontiguousarray(out), input.device))
        return keep_channels_last(out, input)
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated spelling of ``interpolate`` (with a warning, as PyTorch)."""
    warn_user("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
              "instead.", UserWarning)
    return interpolate(input, size, scale_factor, mode, align_corners)
