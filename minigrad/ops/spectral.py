"""The short-time Fourier transform and its inverse (``stft``, ``istft``), as PyTorch's.

stft: (B?, L) signal -> (B?, N, T) complex, N = n_fft // 2 + 1 (onesided) or n_fft frequency
bins, T frames.  Frame t is the n_fft samples from t * hop (after ``center`` pads n_fft // 2
on both sides), times the window (win_length long, zero-padded to n_fft in the middle), then
transformed.

istft: the inverse by weighted overlap-add: each frame is transformed back, multiplied by the
window again, added at t * hop, and the sum is divided by the overlap-added squared window
(which must not vanish anywhere in the kept part).

Both are made of differentiable ops (pad, unfold, mul, fft, index_add), so their gradients,
and gradients of those, come from the ops' own backwards.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd._node_names import rename_node
from .._global_flags import warn_once
from . import fourier as fft
from ..tensor import Tensor
from .complex_numbers import view_as_real
from .elementwise import mul
from .division import div
from .movement import transpose
from .padding import pad
from .plumbing import reshape_to
from .scatter_gather import index_add
from .shaping import unfold

__all__ = ["stft", "istft"]

_TORCH_NAMES = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
                "complex64": "ComplexFloatTensor", "complex128": "ComplexDoubleTensor",
                "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


# the warnings PyTorch gives once per process (every time under set_warn_always(True))
_NO_STFT_WINDOW = (
    "A window was not provided. A rectangular window will be applied,which is known to cause "
    "spectral leakage. Other windows such as torch.hann_window or torch.hamming_window are "
    "recommended to reduce spectral leakage.To suppress this warning and use a rectangular "
    "window, explicitly set `window=torch.ones(n_fft, device=<device>)`.")
_NO_ISTFT_WINDOW = (
    "A window was not provided. A rectangular window will be applied.Please provide the same "
    "window used by stft to make the inversion lossless.To suppress this warning and use a "
    "rectangular window, explicitly set `window=torch.ones(n_fft, device=<device>)`.")
_REAL_STFT = (
    "stft with return_complex=False is deprecated. In a future pytorch release, stft will "
    "return complex tensors for all inputs, and return_complex=False will raise an error.\n"
    "Note: you can still call torch.view_as_real on the complex output to recover the old "
    "return format.")

_ISTFT_SHORT = ("The length of signal is shorter than the length parameter. Result is being "
                "padded with zeros in the tail. Please check your center and hop_length "
                "settings.")


def _flag(value):
    """How torch's stft/istft errors print an optional bool argument: None, 0 or 1."""
    return "None" if value is None else int(value)


def _describe(t):
    """torch.FloatTensor[20]: how torch names a tensor in its stft / istft errors."""
    name = _TORCH_NAMES.get(t._array.dtype.name, "Tensor")
    return f"torch.{name}[{', '.join(map(str, t.shape))}]"


def _window_of(window, win_length, n_fft, dtype):
    """The window zero-padded to n_fft in the middle (ones when None), a Tensor."""
    if window is None:
        window = Tensor._wrap(np.ones(win_length, dtype=dtype))
    left = (n_fft - win_length) // 2
    if left or n_fft - win_length - left:
        window = pad(window, [left, n_fft - win_length - left])
    return window


def _check_window(window, win, fail):
    """stft's and istft's check of ``window``: None, or 1-d of length ``win``."""
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        fail(f"expected a 1D window tensor of size equal to win_length={win}, but got window "
             f"with size {list(window.shape)}")


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None,
         align_to_window=None):
    """Short-time Fourier transform of a (L,) or (B, L) signal: (B?, N, T) complex, or
    (B?, N, T, 2) real with return_complex=False (deprecated in torch, still accepted)."""
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    if center:      # padded first, whatever its shape, as torch: a too-short signal (or one
        ndim = input.ndim       # of 3 dims) fails after that, before any warning or check
        half = n_fft // 2
        padded = pad(reshape_to(input, (1,) * (3 - ndim) + tuple(input.shape)), [half, half],
                     mode=pad_mode)
        input = reshape_to(padded, tuple(padded.shape[len(padded.shape) - ndim:]))
    if window is None:
        warn_once(_NO_STFT_WINDOW)
    is_complex = input._array.dtype.kind == "c" or (
        window is not None and window._array.dtype.kind == "c")
    if return_complex is None:
        if not is_complex:
            raise RuntimeError("stft requires the return_complex parameter be given for real "
                               "inputs, and will further require that return_complex=True in "
                               "a future PyTorch release.")
        return_complex = True
    if not return_complex:
        warn_once(_REAL_STFT)
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length

    def fail(what):
        w = "None" if window is None else \
            f"torch.{_TORCH_NAMES.get(window._array.dtype.name, 'Tensor')}{{{list(window.shape)}}}"
        raise RuntimeError(
            f"stft({_describe(input)}, n_fft={n_fft}, hop_length={hop}, win_length={win}, "
            f"window={w}, normalized={int(normalized)}, onesided={_flag(onesided)}, "
            f"return_complex={int(return_complex)}, align_to_window={align_to_window}) : {what}")

    if input._array.dtype.kind not in "fcV":
        fail("expected a tensor of floating point or complex values")
    if input.ndim not in (1, 2):
        fail("expected a 1D or 2D tensor")
    length = input.shape[-1]
    if not 0 < n_fft <= length:
        fail(f"expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        fail(f"expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        fail(f"expected 0 < win_length <= n_fft, but got win_length={win}")
    _check_window(window, win, fail)
    if onesided is None:
        onesided = not is_complex
    elif onesided and is_complex:
        raise RuntimeError("Cannot have onesided output if window or input is complex")

    real_dtype = np.empty(0, input._array.dtype).real.dtype
    w = _window_of(window, win, n_fft, real_dtype)
    if align_to_window:
        # frames start where the window starts, not where the n_fft frame does
        left = (n_fft - win) // 2
        input = pad(input, [left, n_fft - win - left])
    frames = mul(unfold(input, -1, n_fft, hop), w)          # (B?, T, n_fft)
    norm = "ortho" if normalized else "backward"
    spec = fft.rfft(frames, norm=norm) if onesided else fft.fft(frames, norm=norm)
    spec = transpose(spec, -1, -2)                           # (B?, N, T)
    if not return_complex:
        return view_as_real(spec)
    # PyTorch transposes a batch's result in place, and squeezes an unbatched one's batch
    # dim away in place: the nodes a printed result shows
    return rename_node(spec, "TransposeBackward1" if input.ndim == 2 else "SqueezeBackward4")


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    """The inverse of ``stft`` by weighted overlap-add: (B?, N, T) complex -> (B?, L)."""
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    onesided_given = onesided

    def fail(what, sep=" : "):
        kind = {"complex64": "CPUComplexFloatType", "complex128": "CPUComplexDoubleType"}.get(
            input._array.dtype.name, input._array.dtype.name)
        w = "None" if window is None else \
            f"torch.{_TORCH_NAMES.get(window._array.dtype.name, 'Tensor')}{{{list(window.shape)}}}"
        raise RuntimeError(
            f"istft({kind}[{', '.join(map(str, input.shape))}], n_fft={n_fft}, hop_length={hop}"
            f", win_length={win}, window={w}, center={int(center)}, "
            f"normalized={int(normalized)}, onesided={_flag(onesided_given)}, "
            f"length={length}, return_complex={int(return_complex)}){sep}{what}")

    if window is None:
        warn_once(_NO_ISTFT_WINDOW)
    if input._array.dtype.kind != "c":
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")
    if input.ndim not in (2, 3):
        fail(f"expected a tensor with 3 or 4 dimensions, but got {input.ndim + 1}")
    if window is not None and window._array.dtype.kind == "c" and not return_complex:
        fail("Complex windows are incompatible with return_complex=False")
    bins, n_frames = input.shape[-2], input.shape[-1]
    if onesided is None:
        onesided = bins != n_fft
    if onesided:
        if return_complex:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        if bins != n_fft // 2 + 1:
            fail(f"expected the frequency dimension (3rd to the last) of the input tensor to "
                 f"match n_fft / 2 + 1 when onesided=True, but got {bins}")
    elif bins != n_fft:
        fail(f"expected the frequency dimension (3rd to the last) of the input tensor to match "
             f"n_fft when onesided=False, but got {bins}")
    if not 0 < hop <= win:
        fail("expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        fail(f"expected 0 < win_length <= n_fft but got win_length={win}")
    _check_window(window, win, fail)

    real_dtype = np.empty(0, input._array.dtype).real.dtype
    w = _window_of(window, win, n_fft, real_dtype)
    spec = transpose(input, -1, -2)                          # (B?, T, N)
    if normalized:
        spec = mul(spec, math.sqrt(n_fft))
    if return_complex:
        frames = fft.ifft(spec, n=n_fft)
    else:
        if not onesided:              # the first half is all a real signal needs
            spec = spec[..., :n_fft // 2 + 1]
        frames = fft.irfft(spec, n=n_fft)
    frames = mul(frames, w)                                  # (B?, T, n_fft)

    # overlap-add: sample k of frame t lands at t * hop + k
    total = (n_frames - 1) * hop + n_fft
    xp = backend.xp_of(frames._array)
    where = Tensor._wrap((xp.arange(n_frames)[:, None] * hop + xp.arange(n_fft)).reshape(-1))
    batch = tuple(frames.shape[:-2])
    flat = reshape_to(frames, batch + (n_frames * n_fft,))
    zeros = Tensor._wrap(xp.zeros(batch + (total,), dtype=frames._array.dtype))
    y = index_add(zeros, -1, where, flat)
    w2 = reshape_to(mul(w, w), (1, n_fft)).expand(n_frames, n_fft)
    envelope = index_add(Tensor._wrap(xp.zeros(total, dtype=w2._array.dtype)), 0, where,
                         reshape_to(w2, (n_frames * n_fft,)))

    start = n_fft // 2 if center else 0
    end = total - n_fft // 2 if center else total
    if length is not None:
        end = min(start + length, total)
    end = max(end, start)
    y, envelope = y[..., start:end], envelope[start:end]
    if bool(xp.any(xp.abs(envelope._array) < 1e-11)):
        # torch's check prints its failed condition (a bool tensor) after the words
        fail("window overlap add min: 1\n[ CPUBoolType{} ]", sep=" ")
    y = div(y, envelope)
    if length is not None and y.shape[-1] < length:
        warn_once(_ISTFT_SHORT)
        return pad(y, [0, length - y.shape[-1]])
    # PyTorch squeezes an unbatched input's batch dim away last (before any padding)
    return y if input.ndim == 3 else rename_node(y, "SqueezeBackward1")
