"""``minigrad.fft``: discrete Fourier transforms, as ``torch.fft`` (written in
``ops/fourier.py``, where each transform's forward sits beside its backward)."""
from .ops.fourier import (  # noqa: F401
    fft, ifft, rfft, irfft, hfft, ihfft, fft2, ifft2, rfft2, irfft2, hfft2, ihfft2, fftn, ifftn,
    rfftn, irfftn, hfftn, ihfftn, fftshift, ifftshift, fftfreq, rfftfreq)
from .creation import _out_keyword
from ._tensor_methods import _torch_args

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
           "hfft2", "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn",
           "fftshift", "ifftshift", "fftfreq", "rfftfreq"]

# out=: the transforms write their result into it; the frequency factories make theirs in
# out's dtype, as every factory does
for _name in __all__:
    if _name in ("fftfreq", "rfftfreq"):
        globals()[_name] = _out_keyword(globals()[_name])
    elif _name not in ("fftshift", "ifftshift"):
        globals()[_name] = _torch_args(globals()[_name])
del _name
