"""Names PyTorch removed or deprecated that older code still calls.

Removed ones (``torch.solve``, ``torch.eig``, ``Tensor.reinforce``...) raise PyTorch's
RuntimeError, whose first sentence code may match on, and say what replaces them.
Deprecated ones (``torch.range``, ``set_default_tensor_type``, ``Tensor.resize``) work, with
PyTorch's warning.
"""
from __future__ import annotations

import math

from ._warn_once import warn_user
from . import dtypes
from .autograd.function import Function
from ._range_factories import arange
from .tensor import Tensor

__all__ = ["matrix_rank", "solve", "lstsq", "eig", "symeig", "range", "set_default_tensor_type"]

_REMOVED = "This function was deprecated since version 1.9 and is now removed."


def _removed(name, replacement):
    def gone(*args, **kwargs):
        raise RuntimeError(f"{_REMOVED} Use {replacement} instead (see its documentation: "
                           "the arguments or the results differ).")
    gone.__name__ = gone.__qualname__ = name
    gone.__doc__ = f"Removed from PyTorch in 1.9: raises, naming {replacement}."
    return gone


matrix_rank = _removed("matrix_rank", "`linalg.matrix_rank` (symmetric= is now hermitian=)")
solve = _removed("solve", "`linalg.solve(A, B)` (the arguments are reversed)")
lstsq = _removed("lstsq", "`linalg.lstsq(A, B)` (the arguments are reversed)")
eig = _removed("eig", "`linalg.eig` or `linalg.eigvals`")
symeig = _removed("symeig", "`linalg.eigh` or `linalg.eigvalsh` (lower triangle by default)")


def _reinforce(self, reward):
    raise RuntimeError("reinforce() was removed.\nUse torch.distributions instead: sample an "
                       "action from a distribution, then backpropagate -log_prob(action) * "
                       "reward.")


Tensor.solve = lambda self, A: solve(self, A)
Tensor.lstsq = lambda self, A: lstsq(self, A)
Tensor.eig = lambda self, eigenvectors=False: eig(self)
Tensor.symeig = lambda self, eigenvectors=False, upper=True: symeig(self)
Tensor.reinforce = _reinforce


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False,
          out=None, layout=None):
    """``torch.range`` (deprecated): start, start + step, ... up to and *including* end; the
    default float dtype unless ``dtype`` says otherwise. Use ``arange``, which stops before
    end."""
    if end is None:
        raise TypeError('range() missing 1 required positional arguments: "end"')
    warn_user("torch.range is deprecated and will be removed in a future release because "
              "its behavior is inconsistent with Python's range builtin. Instead, use "
              "torch.arange, which produces values in [start, end).", UserWarning)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    count = int(math.floor((end - start) / step)) + 1
    dtype = dtypes.default_float() if dtype is None else dtype
    # start + i * step, i = 0 .. count - 1, as a float64 ramp rounded once to dtype
    ramp = arange(count, dtype=dtypes.float64, device=device) * step + start
    return ramp.to(dtype).requires_grad_(requires_grad)


def set_default_tensor_type(t):
    """``torch.set_default_tensor_type`` (deprecated): a legacy type (``DoubleTensor``) or its
    name (``'torch.DoubleTensor'``) sets the default float dtype."""
    warn_user("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
              "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
              UserWarning)
    floating = "only floating-point types are supported as the default type"
    if isinstance(t, str):
        names = {"FloatTensor": dtypes.float32, "DoubleTensor": dtypes.float64,
                 "HalfTensor": dtypes.float16}
        dtype = names.get(t.split(".")[-1])
        if dtype is None:
            raise TypeError(f"invalid type: '{t}'" if "Tensor" not in t else floating)
    else:
        dtype = getattr(t, "dtype", None)
        if not isinstance(dtype, dtypes.DType):
            raise TypeError(f"invalid type object: {floating}")
    if not dtype.is_floating_point:
        raise TypeError(floating)
    dtypes.set_default_dtype(dtype)


class Resize(Function):
    """PyTorch's autograd resize (``Tensor.resize``/``resize_as``): a reshape that keeps the
    element count, its result sharing the input's memory when that is contiguous (a copy
    otherwise), its gradient the output's gradient laid back in the input's shape."""

    @staticmethod
    def forward(ctx, tensor, sizes):
        ctx.sizes = sizes
        count = 1
        for s in sizes:
            count = count * s
        ctx.numel = count
        if tensor.numel() != count:
            want = "x".join(map(str, sizes))
            have = "x".join(map(str, tensor.size()))
            raise RuntimeError(f"requested resize to {want} ({count} elements in total), but "
                               f"the given tensor has a size of {have} ({tensor.numel()} "
                               "elements). autograd's resize can only change the shape of a "
                               "given tensor, while preserving the number of elements. ")
        ctx.input_sizes = tensor.size()
        if tensor.is_contiguous():
            return tensor.detach().view(*sizes)
        return tensor.contiguous().view(*sizes)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.contiguous().view(ctx.input_sizes), None


def _resize(self, *sizes):
    """The deprecated out-of-place resize: a reshape that must keep the element count
    (PyTorch's autograd ``Resize``; ``resize_`` is the one that may change it). As in
    PyTorch, the sizes are separate integers (a tuple is refused by the count check)."""
    warn_user("non-inplace resize is deprecated", UserWarning)
    return Resize.apply(self, sizes)


def _resize_as(self, tensor):
    warn_user("non-inplace resize_as is deprecated", UserWarning)
    return Resize.apply(self, tensor.size())


_resize_as.__qualname__ = "Tensor.resize_as"      # (PyTorch's is a Python method: its words)


def _volatile(self):
    warn_user("volatile was removed (Variable.volatile is always False)", UserWarning)
    return False


Tensor.resize = _resize
Tensor.resize_as = _resize_as
Tensor.volatile = property(_volatile)
