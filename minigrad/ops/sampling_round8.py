"""Round-8 tensor factories and memory helpers with PyTorch's names.

* ``bernoulli(input, p=None)`` (also ``Tensor.bernoulli``): 0/1 draws with probability
  ``input`` elementwise, or the scalar ``p`` for every element (then any dtype of input).
  Of an input that requires grad, the draws do too: the probabilities get zeros
  (BernoulliBackward0); with ``p`` the node refuses a backward, as PyTorch's.
* ``binomial(count, prob)``: the number of successes in ``count`` trials of chance ``prob``,
  elementwise over the broadcast shape, in their (shared, floating) dtype.
* ``empty_strided(size, stride)`` / ``Tensor.new_empty_strided``: uninitialised values with
  exactly the given element strides; ``empty_permuted(size, physical_layout)``: the
  dimensions laid out in memory in the order ``physical_layout`` (outermost first).
* ``Tensor.pin_memory`` / ``is_pinned``: page-locked host memory needs an accelerator, as on
  a CPU-only PyTorch build.  ``Tensor.share_memory_`` / ``is_shared``: move the data into an
  anonymous shared mapping (visible to ``fork``-ed worker processes).

Random draws come from a minigrad ``Generator`` (the default one unless ``generator=``), so
``manual_seed`` repeats them; bernoulli and binomial draw PyTorch's numbers.
"""
from __future__ import annotations

import mmap
import numbers

import numpy as np

from .. import backend, cuda, dtypes
from .. import _memory_format as mf
from ..autograd import Function
from ..creation import _size, check_layout
from .._random_factories import bernoulli_draws, stream_of
from ..tensor import Tensor
from ._util import not_implemented_for, scalar_type_name
from .sampling_binomial import binomial_draws

__all__ = ["bernoulli", "binomial", "empty_strided", "new_empty_strided", "empty_permuted",
           "pin_memory", "is_pinned", "share_memory_", "is_shared"]


def _wrap_like(draws, like, dtype):
    return Tensor._wrap(backend.to_device(np.asarray(draws).astype(dtype), like.device))


# ----------------------------------------------------------------------------- sampling
def bernoulli(input, p=None, *, generator=None):
    """``out[i] = 1`` with probability ``input[i]`` (or ``p``), else 0, in input's dtype.

    Without ``p``, input holds the probabilities and must be floating with values in [0, 1];
    with a float ``p`` input only gives the shape and dtype.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    array = input._array
    if p is None:
        if array.dtype.kind not in "fV":        # (a complex one fails drawing into itself)
            raise not_implemented_for("bernoulli_tensor_cpu_self_" if array.dtype.kind == "c"
                                      else "bernoulli_tensor_cpu_p_", array.dtype)
        probs = backend.as_numpy(array)
        if probs.size and not ((probs >= 0) & (probs <= 1)).all():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  "
                               "(Could this error message be improved?  If so, please report "
                               "an enhancement request to PyTorch.)")
    else:
        if isinstance(p, Tensor) or not isinstance(p, numbers.Real):
            raise TypeError(f"bernoulli() received an invalid combination of arguments - got "
                            f"({type(p).__name__}), but expected one of:\n"
                            " * (*, Generator generator = None)\n"
                            " * (float p, *, Generator generator = None)\n")
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        probs = p
    # (the result is a new contiguous tensor, its draws in row-major order whatever input's
    # layout, as PyTorch's)
    draws = bernoulli_draws(generator, array.shape, probs)
    if input.requires_grad:     # (a node only where one can be recorded: grad mode is on)
        draws = backend.to_device(np.asarray(draws).astype(array.dtype), input.device)
        return (Bernoulli if p is None else BernoulliP).apply(input, value=draws)
    return _wrap_like(draws, input, array.dtype)


class Bernoulli(Function):
    """bernoulli(probs)'s draws (made beforehand).  As PyTorch's, the result requires grad
    when the probabilities do, and the gradient they get is zeros (a draw is a constant)."""
    def forward(self, probs, *, value):
        return value

    def backward(self, g):
        return Tensor._wrap(backend.xp_of(g._array).zeros_like(g._array))


class BernoulliP(Function):
    """bernoulli(input, p)'s draws: PyTorch records a node that refuses a backward."""
    _node_name = "torch::autograd::NotImplemented"

    def forward(self, input, *, value):
        return value

    def backward(self, g):
        raise RuntimeError("derivative for aten::bernoulli is not implemented")


def binomial(count, prob, generator=None):
    """Binomial(count, prob) draws elementwise (broadcast), in the inputs' floating dtype.

    Counts are whole numbers of trials (a fractional part is dropped, a negative count gives
    0); ``prob`` outside [0, 1] is clipped; NaN in either gives NaN.
    """
    for position, (name, value) in enumerate((("count", count), ("prob", prob)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"binomial(): argument '{name}' (position {position}) must be "
                            f"Tensor, not {type(value).__name__}")
    dt = count._array.dtype
    if dt.kind not in "fV":
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                         f"{scalar_type_name(dt)}")
    if prob._array.dtype != dt:
        raise RuntimeError(f"Found dtype {scalar_type_name(prob._array.dtype)} but expected "
                           f"{scalar_type_name(dt)}")
    if dt == np.float16:
        raise not_implemented_for("binomial_cpu", dt)
    n, q = np.broadcast_arrays(backend.as_numpy(count._array), backend.as_numpy(prob._array))
    bad = np.isnan(n) | np.isnan(q) | np.isinf(n)
    # PyTorch's kernel, element by element; NaN and infinite counts give NaN without drawing
    draws = np.full(n.shape, np.nan)
    draws[~bad] = binomial_draws(n[~bad], q[~bad], stream_of(generator))
    return _wrap_like(draws, count, dt)


# ----------------------------------------------------------------------------- factories
def _strided(size, stride, dtype, device, requires_grad, name):
    if isinstance(size, numbers.Integral):
        raise TypeError(f"{name}(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    shape = _size((size,), name)
    if isinstance(stride, numbers.Integral) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in stride):
        raise TypeError(f"{name}(): argument 'stride' must be tuple of ints, not "
                        f"{type(stride).__name__}")
    stride = tuple(int(s) for s in stride)
    if len(stride) != len(shape):
        raise RuntimeError(f"dimensionality of sizes ({len(shape)}) must match dimensionality "
                           f"of strides ({len(stride)})")
    if any(s < 0 for s in stride):
        if 0 not in shape:
            raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)} "
                               f"and strides={list(stride)}")
        # (no element: PyTorch needs no storage, and lays the tensor out contiguously)
        stride = tuple(int(np.prod([max(n, 1) for n in shape[k + 1:]], dtype=np.int64))
                       for k in range(len(shape)))
    dt = dtypes.default_float() if dtype is None else dtypes.to_dtype(dtype)
    if requires_grad and not dt.is_floating_point and dt.np.kind != "c":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    if device is None and backend.default_is_meta:     # with minigrad.device("meta")
        device = backend.meta
    xp = backend.array_module(backend.device(device)) if device is not None else np
    t = Tensor._wrap(mf.empty_strided(xp, shape, stride, dt.np))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _refuse_pinning(pin_memory):
    if pin_memory and not cuda.is_available():
        raise RuntimeError("pin_memory=True requires a CUDA or other accelerator backend; no "
                           "pinned memory allocator is available on this system.")


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """Uninitialised tensor of ``size`` whose element strides are ``stride`` (overlapping
    strides such as 0 are allowed, as in PyTorch)."""
    check_layout(layout, "empty_strided")
    _refuse_pinning(pin_memory)
    return _strided(size, stride, dtype, device, requires_grad, "empty_strided")


def new_empty_strided(self, size, stride, dtype=None, device=None, requires_grad=False,
                      layout=None, pin_memory=False):
    """``empty_strided`` with this tensor's dtype and device unless given."""
    check_layout(layout, "new_empty_strided")
    _refuse_pinning(pin_memory)
    dtype = self.dtype if dtype is None else dtype
    device = self.device if device is None else device
    return _strided(size, stride, dtype, device, requires_grad, "new_empty_strided")


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """Uninitialised dense tensor of ``size`` stored with dimension ``physical_layout[0]``
    outermost and ``physical_layout[-1]`` innermost (``(0, 2, 3, 1)`` for a 4-d size is
    channels-last)."""
    check_layout(layout, "empty_permuted")
    _refuse_pinning(pin_memory)
    shape = _size((size,), "empty_permuted")
    order = [int(d) for d in physical_layout]
    if len(order) != len(shape):
        raise RuntimeError("Number of dimensions in size does not match the length of the "
                           f"physical_layout; i.e. len(size) = {len(shape)} is not equal to "
                           f"len(physical_layout) = {len(order)}")
    for i, d in enumerate(order):
        if not 0 <= d < len(shape):
            raise RuntimeError(f"Dimension out of range (expected to be between 0 and "
                               f"{len(shape) - 1}, but got {d} at index {i}).  NB: negative "
                               "dims not currently supported; file an issue if you want it.")
    if len(set(order)) != len(order):
        raise RuntimeError("Duplicate dim not allowed")
    stride = [0] * len(shape)
    step = 1
    for d in reversed(order):   # innermost dimension first
        stride[d] = step
        step *= max(shape[d], 1)
    return _strided(shape, stride, dtype, device, requires_grad, "empty_permuted")


# ----------------------------------------------------------------------------- memory
def pin_memory(self, device=None):
    """Page-locked copy for fast host-to-accelerator transfers; without an accelerator
    there is nothing to pin for (PyTorch's CPU-only build refuses the same way)."""
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return self if self.is_pinned() else self.clone()


def is_pinned(self, device=None):
    """False: minigrad never allocates page-locked host memory."""
    return False


def _root(array):
    """The object at the bottom of a numpy view chain (the owner of the memory)."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array


def share_memory_(self):
    """Move the data into an anonymous shared memory mapping (children started with
    ``fork`` then see the same memory); returns self.  Device arrays are left in place."""
    array = self._array
    if isinstance(array, np.ndarray) and not is_shared(self):
        nbytes = max(array.nbytes, 1)   # mmap refuses a zero-length mapping
        buffer = np.frombuffer(mmap.mmap(-1, nbytes), dtype=np.uint8)[:array.nbytes]
        shared = buffer.view(array.dtype).reshape(array.shape)
        shared[...] = array
        self._array = shared
    return self


def is_shared(self):
    """Whether the data lives in shared memory (always true for device arrays, which
    PyTorch counts as shared)."""
    array = self._array
    if not isinstance(array, np.ndarray):
        return True
    root = _root(array)
    if isinstance(root, memoryview):   # np.frombuffer keeps the mapping behind a memoryview
        root = root.obj
    return isinstance(root, mmap.mmap)
