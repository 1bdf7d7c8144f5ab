"""What ``Function.apply`` checks of an op's inputs, with PyTorch's errors and words.

* all inputs on one device (``_check_same_device``; a 0-d CPU tensor goes with a meta one);
* no complex input to an op not checked for complex numbers (``_refuse_complex``,
  ``complex_refusal``: ops that refuse one themselves raise the same error);
* no inference tensor saved for backward (``_refuse_inference``: it keeps no version counter,
  so a later write could not be caught);
* and the one change made to the inputs: two tensors over one array object get an array
  object each (``_unalias``), so what forward saves is matched to the right input.

Separate from ``function.py``: these are refusals of what a caller passed, not part of the
node; the custom-Function path (``_function_ctx.py``) and ``ops/`` raise the same errors.
"""
from __future__ import annotations

from .. import backend
from .._tensor_base import InferenceCounter


def _check_same_device(cls, inputs, arrays):
    first = type(arrays[0])
    if all(type(a) is first for a in arrays) and first.__module__ == "numpy":
        return
    devices = [backend.device_of(a) for a in arrays]
    for i, d in enumerate(devices[1:], 1):
        if d != devices[0]:
            if "meta" in (d.type, devices[0].type):
                # PyTorch: a CPU 0-d tensor goes with a meta one; other mixes are refused
                if (d.type == "cpu" and arrays[i].ndim == 0) or \
                        (devices[0].type == "cpu" and arrays[0].ndim == 0):
                    continue
                raise RuntimeError(f"Tensor on device {d} is not on the expected device "
                                   f"{devices[0]}!")
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                f"{devices[0]} and {d}! (in {cls.__name__}: input 0 is on {devices[0]}, input {i} "
                f"is on {d}; move them with .to(device))")


def _unalias(inputs, arrays):
    """Give each distinct input tensor an array object of its own (a numpy view where two
    share one: ``x * x.detach()``), so that a value forward saves is matched to the input it
    came from, not to another tensor over the same array (which may require grad when the
    saved one does not)."""
    seen = {}
    for i, a in enumerate(arrays):
        first = seen.setdefault(id(a), i)
        if first != i and inputs[first] is not inputs[i]:
            arrays[i] = a.view()


def _refuse_complex(cls, array):
    raise complex_refusal(cls.__name__, array.dtype)


# the kernels PyTorch names when it has no complex version of an op (by minigrad's Function)
_KERNELS = {"Erf": "erf_vml_cpu", "Logit": "logit_cpu"}


def complex_refusal(name, np_dtype):
    """The error of an op that minigrad has not made right for complex tensors (yet)."""
    kind = "ComplexFloat" if np_dtype.itemsize == 8 else "ComplexDouble"
    name = _KERNELS.get(name, name)
    return NotImplementedError(f'"{name}" not implemented for \'{kind}\' (minigrad supports '
                               f'complex tensors in the ops listed in docs/complex.md)')


def _refuse_inference(t):
    """An inference tensor (made in inference_mode) keeps no version counter, so a backward
    could not tell whether it was overwritten: PyTorch refuses to save one, and so does this."""
    if isinstance(t._vcounter, InferenceCounter):
        raise RuntimeError("Inference tensors cannot be saved for backward. Please do not use "
                           "Tensors created in inference mode in computation tracked by "
                           "autograd. To work around this, you can make a clone to get a "
                           "normal tensor and use it in autograd, or use `torch.no_grad()` "
                           "instead of `torch.inference_mode()`.")
