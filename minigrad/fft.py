"""``minigrad.fft``: discrete Fourier transforms, as ``torch.fft`` (written in
``ops/fourier.py``, where each transform's forward sits beside its backward)."""
from .ops.fourier import (  # noqa: F401
    fft, ifft, rfft, irfft, hfft, ihfft, fft2, ifft2, rfft2, irfft2, hfft2, ihfft2, fftn, ifftn,
    rfftn, irfftn, hfftn, ihfftn, fftshift, ifftshift, fftfreq, rfftfreq)

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
           "hfft2", "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn",
           "fftshift", "ifftshift", "fftfreq", "rfftfreq"]
