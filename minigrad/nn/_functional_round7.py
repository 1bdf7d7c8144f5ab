"""``nn.functional`` names that third-party code still calls: the deprecated ``upsample_nearest``
and ``upsample_bilinear``, the ``adaptive_max_pool1d/2d/3d_with_indices`` spellings, and
``cross_map_lrn2d``, the math of ``nn.CrossMapLRN2d``."""
from __future__ import annotations

from .._warn_once import warn_user
from ..dtypes import int64
from ..ops._util import scalar_type_name
from ..ops.interpolate import interpolate
from ..ops.padding import pad
from ..ops.pool import adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d

__all__ = ["upsample_nearest", "upsample_bilinear", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices"]


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(input, size, scale_factor, mode="nearest")``."""
    warn_user("`nn.functional.upsample_nearest` is deprecated. Use "
              "`nn.functional.interpolate` instead.", UserWarning)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(input, size, scale_factor, mode="bilinear",
    align_corners=True)`` (4-d input only)."""
    warn_user("`nn.functional.upsample_bilinear` is deprecated. Use "
              "`nn.functional.interpolate` instead.", UserWarning)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool1d(..., return_indices=True)``: (output, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool2d(..., return_indices=True)``: (output, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool3d(..., return_indices=True)``: (output, indices)."""
    return adaptive_max_pool3d(input, output_size, True)


def cross_map_lrn2d(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels as the legacy (Lua Torch) ``CrossMapLRN2d``
    computes it, on (N, C, H, W)::

        out[:, c] = x[:, c] * (k + alpha / size * S[:, c]) ** -beta
        S[:, c]   = sum of x[:, j]^2 for j in [c - p + 1, c + p - 1] (clipped to [0, C)),
                    plus x[:, 0]^2 again once c >= p,           p = (size - 1) // 2 + 1

    The extra ``x[:, 0]^2`` is the legacy running-sum's quirk (it never drops channel 0 from
    the window), kept because PyTorch's CrossMapLRN2d gives exactly these values; for an even
    ``size`` the window is ``size - 1`` wide.  Differs from ``local_response_norm`` only there.
    """
    if input.ndim != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
    kind = input._array.dtype.kind
    if kind in "biu":       # PyTorch's legacy code scales the input's dtype in place
        raise RuntimeError(f"result type {'Long' if kind == 'b' else 'Float'} can't be cast to "
                           f"the desired output type {scalar_type_name(input._array.dtype)}")
    channels = input.shape[1]
    half = (size - 1) // 2 + 1
    sq = input * input
    # zero-pad the channel dim by half - 1 on both sides, then add the 2 half - 1 shifted slices
    padded = pad(sq, (0, 0, 0, 0, half - 1, half - 1))
    total = padded[:, 0:channels]
    for off in range(1, 2 * half - 1):
        total = total + padded[:, off:off + channels]
    if channels > half:             # channel 0 counted again from channel `half` on
        # the mask built in int64 (a complex input has no ``>``)
        stale = sq[:, 0:1] * (input.new_ones(channels, dtype=int64).cumsum(0) > half).to(
            input.dtype)[None, :, None, None]
        total = total + stale
    return input * (total * (alpha / size) + k) ** -beta
