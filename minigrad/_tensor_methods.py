"""Attach the ops to ``Tensor`` as methods and operators (``x + y``, ``x.sum()``, ``x[i]``...).

Kept apart from tensor.py so the Tensor class stays short: here every method is one line that
calls the function in ``minigrad/ops`` that does the work.
"""
from __future__ import annotations

from .ops import elementwise as E, reduce as R, movement as M, indexing as X, inplace as I
from .ops import matmul as MM, compare as C
from . import backend, dtypes
from .autograd.engine import tensor_backward
from .tensor import Tensor, _parse_to, tensor


def _reflected(fn):
    return lambda self, other: fn(other, self)


_METHODS = {
    # arithmetic operators
    "__add__": E.add, "__radd__": E.add,     # commutative: the tensor stays input 0, as torch
    "__sub__": E.sub, "__rsub__": _reflected(E.sub),
    "__mul__": E.mul, "__rmul__": E.mul,
    "__truediv__": E.div, "__rtruediv__": _reflected(E.div),
    "__pow__": E.pow, "__rpow__": _reflected(E.pow),
    "__matmul__": MM.matmul, "__rmatmul__": _reflected(MM.matmul),
    "__neg__": E.neg, "__pos__": lambda self: self, "__abs__": E.abs,
    "__floordiv__": lambda a, b: E.div(a, b, rounding_mode="floor"),
    "__rfloordiv__": lambda a, b: E.div(b, a, rounding_mode="floor"),
    "__mod__": lambda a, b: E.remainder(a, b), "__rmod__": lambda a, b: E.remainder(b, a),
    "remainder": lambda a, b: E.remainder(a, b),
    # comparisons (no gradient)
    "__eq__": C.eq, "__ne__": C.ne, "__lt__": C.lt, "__le__": C.le, "__gt__": C.gt,
    "__ge__": C.ge, "__and__": C.logical_and, "__or__": C.logical_or,
    "__invert__": C.logical_not,
    # in place
    "__iadd__": I.add_, "__isub__": I.sub_, "__imul__": I.mul_, "__itruediv__": I.div_,
    "add_": I.add_, "sub_": I.sub_, "mul_": I.mul_, "div_": I.div_, "pow_": I.pow_,
    "clamp_": I.clamp_, "clip_": I.clamp_, "relu_": I.relu_, "zero_": I.zero_, "fill_": I.fill_,
    "copy_": I.copy_, "resize_": I.resize_,
    "resize_as_": lambda self, other, memory_format=None: I.resize_(self, other.shape),
    # indexing
    "__getitem__": X.getitem, "__setitem__": X.setitem,
    # pointwise
    "add": E.add, "sub": E.sub, "subtract": E.sub, "mul": E.mul, "multiply": E.mul,
    "div": E.div, "divide": E.div, "true_divide": E.div, "pow": E.pow, "neg": E.neg,
    "negative": E.neg, "exp": E.exp, "log": E.log, "log1p": E.log1p, "sqrt": E.sqrt,
    "rsqrt": E.rsqrt, "abs": E.abs, "sin": E.sin, "cos": E.cos, "tanh": E.tanh,
    "sigmoid": E.sigmoid, "relu": E.relu, "clamp": E.clamp, "clip": E.clamp,
    "maximum": E.maximum, "minimum": E.minimum, "square": E.square, "sign": C.sign,
    "floor": C.floor, "ceil": C.ceil, "round": C.round, "isnan": C.isnan, "isinf": C.isinf,
    "isfinite": C.isfinite, "eq": C.eq, "ne": C.ne, "lt": C.lt, "le": C.le, "gt": C.gt,
    "ge": C.ge, "logical_and": C.logical_and, "logical_or": C.logical_or,
    "logical_not": C.logical_not,
    "where": lambda self, condition, other: E.where(condition, self, other),
    # reductions
    "sum": R.sum, "mean": R.mean, "prod": R.prod, "max": R.max, "min": R.min, "amax": R.amax,
    "amin": R.amin, "argmax": R.argmax, "argmin": R.argmin, "var": R.var, "std": R.std,
    "logsumexp": R.logsumexp, "softmax": R.softmax, "log_softmax": R.log_softmax,
    "all": R.all, "any": R.any, "count_nonzero": R.count_nonzero,
    # movement
    "reshape": M.reshape, "view": M.view, "flatten": M.flatten, "unflatten": M.unflatten,
    "squeeze": M.squeeze, "unsqueeze": M.unsqueeze, "transpose": M.transpose,
    "swapaxes": M.transpose, "permute": M.permute, "t": M.t, "expand": M.expand,
    "expand_as": M.expand_as, "repeat": M.repeat, "split": M.split, "chunk": M.chunk,
    "unbind": M.unbind, "clone": M.clone, "contiguous": M.contiguous, "flip": M.flip,
    "matmul": MM.matmul, "mm": MM.matmul,
    "view_as": lambda self, other: M.view(self, other.shape),
    "reshape_as": lambda self, other: M.reshape(self, other.shape),
    "type_as": lambda self, other: self.to(other.dtype),
    "allclose": lambda self, other, rtol=1e-05, atol=1e-08, equal_nan=False:
        allclose(self, other, rtol, atol, equal_nan),
    "equal": lambda self, other: equal(self, other),
}


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when |a - b| <= atol + rtol |b| everywhere (shapes broadcast)."""
    from . import backend
    xa, xb = a._array, (b._array if isinstance(b, Tensor) else b)
    return bool(backend.xp_of(xa).allclose(xa, xb, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b) -> bool:
    """True when both tensors have the same shape and elements."""
    return tuple(a.shape) == tuple(b.shape) and bool((a._array == b._array).all())


# ----------------------------------------------------------------------------------------------
# Device and dtype
# ----------------------------------------------------------------------------------------------
def _to(self, *args, **kwargs) -> "Tensor":
    """``t.to(device)``, ``t.to(dtype)``, ``t.to(device, dtype)`` or ``t.to(other_tensor)``."""
    device, dtype = _parse_to(args, kwargs, allow_copy=True)
    out = self
    if dtype is not None:
        out = E.cast(out, dtypes.to_dtype(dtype))
    if device is not None:
        out = M.to_device(out, backend.device(device))
    return out

def _cuda(self, device=None) -> "Tensor":
    return _to(self, "cuda" if device is None else
                   (f"cuda:{device}" if isinstance(device, int) else device))

def _cpu(self) -> "Tensor":
    return _to(self, "cpu")

def _type(self, dtype=None):
    if dtype is None:
        return f"minigrad.{self.dtype.name}"
    return self.to(dtype)

def _float(self):
    return self.to(dtypes.float32)

def _double(self):
    return self.to(dtypes.float64)

def _half(self):
    return self.to(dtypes.float16)

def _long(self):
    return self.to(dtypes.int64)

def _int(self):
    return self.to(dtypes.int32)

def _bool(self):
    return self.to(dtypes.bool_)

def _new_tensor(self, data, dtype=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, device=self.device,
                  requires_grad=requires_grad)


Tensor.backward = tensor_backward
Tensor.to = _to
Tensor.cuda = _cuda
Tensor.cpu = _cpu
Tensor.type = _type
Tensor.float = _float
Tensor.double = _double
Tensor.half = _half
Tensor.long = _long
Tensor.int = _int
Tensor.bool = _bool
Tensor.new_tensor = _new_tensor
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)

Tensor.T = property(lambda self: M.permute(self, *reversed(range(self.ndim))))
Tensor.mT = property(lambda self: M.transpose(self, -2, -1))
