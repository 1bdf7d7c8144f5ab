"""``minigrad.fft``: discrete Fourier transforms, as ``torch.fft`` (written in
``ops/fourier.py``, where each transform's forward sits beside its backward)."""
import functools

from .ops.fourier import (  # noqa: F401
    fft, ifft, rfft, irfft, hfft, ihfft, fft2, ifft2, rfft2, irfft2, hfft2, ihfft2, fftn, ifftn,
    rfftn, irfftn, hfftn, ihfftn, fftshift, ifftshift, fftfreq, rfftfreq)
from ._argument_error import ArgumentError as _ArgumentError
from .creation import _out_keyword
from ._tensor_methods import _torch_args

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
           "hfft2", "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn",
           "fftshift", "ifftshift", "fftfreq", "rfftfreq"]



# where a transform's parameters stand in its call (the input first)
_POSITIONS = {"n": 1, "s": 1, "dim": 2, "norm": 3}


def _by_position(fn, name):
    """The transform ``fn``, its refusal of an ``n``/``s``, ``dim`` or ``norm`` of the wrong
    type worded as PyTorch's parser words it: naming the transform called (fft2, not the
    fftn it runs) and the argument's position where it came by position."""
    @functools.wraps(fn)
    def transform(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TypeError as exc:
            error = getattr(exc, "argument", None)
            at = _POSITIONS.get(getattr(error, "arg", None))
            if at is None:
                raise
            given = len(args) > at and args[at] is error.value
            raise TypeError(_ArgumentError(f"fft_{name}", error.arg, error.expected, error.value,
                                          at + 1 if given else None, error.found).words()) \
                from None
    return transform


# out=: the transforms write their result into it (and word a wrong n, s, dim or norm as
# PyTorch's parser does); the frequency factories make theirs in out's dtype, as every
# factory does
for _name in __all__:
    if _name in ("fftfreq", "rfftfreq"):
        globals()[_name] = _out_keyword(globals()[_name])
    elif _name not in ("fftshift", "ifftshift"):
        globals()[_name] = _by_position(_torch_args(globals()[_name]), _name)
del _name
