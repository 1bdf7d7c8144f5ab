"""``Tensor``: an n-dimensional array that remembers how it was computed.

A Tensor wraps one numpy (CPU) or cupy (CUDA) array, ``_array``, and adds what autodiff needs:
``requires_grad``, ``grad``, and ``grad_fn`` (the ``Function`` node that produced it).  The math
lives in ``minigrad/ops/``; the methods here only forward to it, so that ``x.sum()`` and
``minigrad.sum(x)`` run the same code.
"""
from __future__ import annotations

import copy
import numbers
import operator
import warnings
import weakref
from collections import OrderedDict

import numpy as np

from . import backend, dtypes
from ._meta import MetaArray
from ._warn_once import COMPLEX_TO_REAL, warn_once
from ._formatting import tensor_repr
from ._grad_state import state as _grad_state
from ._hooks import RemovableHandle, warn_if_has_hooks
from ._type_names import python_type_name

__all__ = ["Tensor", "Size", "tensor", "as_tensor", "from_numpy", "is_tensor"]


class VersionCounter:
    """Shared by a tensor and its views; every in-place write bumps it, so that a backward
    that needs a value overwritten since forward raises instead of computing a wrong
    gradient."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class InferenceCounter:
    """What a tensor made inside ``inference_mode`` has instead of a version counter: it
    counts nothing (such tensors are never saved for a backward), reads 0, and allows an
    in-place write only inside inference mode, as PyTorch's inference tensors do. Its views
    share it, so they are inference tensors too."""
    __slots__ = ()

    @property
    def value(self):
        return 0

    @value.setter
    def value(self, _):
        if not _grad_state.inference:
            raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not "
                               "allowed.You can make a clone to get a normal tensor before doing "
                               "inplace update.See https://github.com/pytorch/rfcs/pull/17 for "
                               "more details.")


_INFERENCE = InferenceCounter()         # one for all: it holds no state
# (module-level names: ``_wrap``, run for every op's result, reads them without attribute
# look-ups on numpy)
_NDARRAY, _NP_SCALAR, _new_object = np.ndarray, np.generic, object.__new__


def _strided_empty(array):
    """An empty numpy array as PyTorch lays one out: numpy gives a new empty array zero
    strides, PyTorch row-major ones (each size counted as at least 1), and its views
    (``t()``, ``permute``, slices) carry them on.  Held with those strides, numpy's views of
    it report what PyTorch's do."""
    strides, n = [], array.itemsize
    for size in reversed(array.shape):
        strides.append(n)
        n *= max(size, 1)
    return np.ndarray(array.shape, array.dtype, np.empty(0, array.dtype), 0,
                      tuple(reversed(strides)))


class Size(tuple):
    """The shape of a tensor: a tuple that prints as ``minigrad.Size([1, 2, 11])``."""

    def __new__(cls, sizes=()):
        items = tuple(sizes)
        if any(type(s) is not int for s in items):
            items = tuple(_size_item(s, i) for i, s in enumerate(items))
        return tuple.__new__(cls, items)

    def __repr__(self):
        return f"minigrad.Size({list(map(int, self))})"   # (np.int64(3) shows as 3)

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    # concatenating or repeating a Size gives a Size, as in PyTorch (GPT-2's Conv1D builds its
    # output shape as ``x.size()[:-1] + (nf,)``)
    def __add__(self, other):
        if not isinstance(other, tuple):
            raise TypeError(f"can only concatenate tuple (not {type(other).__name__}) to "
                            "minigrad.Size")
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        out = tuple.__mul__(self, n)
        return out if out is NotImplemented else Size(out)

    __rmul__ = __mul__


# an array's shape as a Size without Size()'s checks (numpy's shapes are Python ints already):
# ``.shape`` is read many times an op, and the checks tripled its cost
_SIZE_OF = tuple.__new__


def _size_item(s, i):
    """One entry of a ``Size``: a bool or a one-element integer tensor becomes an int, other
    integers (numpy's too) are kept as given; anything else is PyTorch's TypeError."""
    if isinstance(s, bool):
        return int(s)
    if isinstance(s, Tensor):
        if s._array.size == 1 and s._array.dtype.kind in "iub":
            return int(s._array.reshape(-1)[0])
    elif not isinstance(s, (float, complex, np.floating, np.complexfloating)):
        try:
            operator.index(s)
            return s
        except TypeError:
            pass
    kind = type(s)
    name = kind.__qualname__ if kind.__module__ in ("builtins", __name__) else \
        f"{kind.__module__}.{kind.__qualname__}"
    raise TypeError(f"torch.Size() takes an iterable of 'int' (item {i} is '{name}')")


def _refuse_negative_strides(array):
    """PyTorch's refusal of a numpy array with a negative stride (``arr[::-1]`` must be
    copied first), word for word."""
    if any(st < 0 for st in array.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and "
                         "tensors with negative strides are not currently supported. (You "
                         "can probably work around this by making a copy of your array  "
                         "with array.copy().) ")


def _to_array(data, dtype=None, device=None):
    """Turn Python data, a numpy/cupy array or a Tensor into an array with PyTorch's dtype rules.

    Inference (when ``dtype`` is None) follows ``torch.tensor``: Python floats give the default
    float dtype, ints int64, bools bool; a numpy array or numpy scalar keeps its dtype; inside
    a nested sequence a Tensor or numpy scalar counts as one number of its own dtype, and the
    sequence's dtype is the promotion of all of them (``[tensor(1., dtype=float64)]`` is
    float64).  Python numbers cast to an integer ``dtype`` must fit: PyTorch refuses 300 as
    uint8 (arrays and tensors are cast with wrap-around, as PyTorch casts them).
    """
    if isinstance(data, Tensor):
        array = data._array
    elif isinstance(data, np.ndarray) or type(data).__module__.startswith("cupy"):
        if isinstance(data, np.ndarray) and type(data) is not np.ndarray:
            data = np.asarray(data)   # a subclass (np.matrix keeps 2-d on indexing): its data
        _refuse_negative_strides(data)
        # refused even with a dtype to convert to, as PyTorch: strings, objects, dates, long
        # doubles, another byte order
        dtypes.from_numpy_dtype(data.dtype)
        array = data
    elif isinstance(data, np.generic):
        if (data.dtype if dtype is None else dtypes.to_dtype(dtype).np) == _UINT64:
            raise TypeError("an integer is required")    # (PyTorch's uint64 takes int only)
        array = np.asarray(data)            # np.float64(1.5) stays float64, as in PyTorch
        if dtype is not None:               # a number, as a Python one: np.int64(300) no uint8
            _check_cast_range(array, dtypes.to_dtype(dtype))
    elif dtype is not None and dtypes.to_dtype(dtype).np == _UINT64:
        array = _uint64_from_python(data)
    else:
        if isinstance(data, (list, tuple)) and not _only_python_numbers(data):
            array = _from_mixed_sequence(data, dtype)
        else:
            array = _from_python_numbers(data, dtype)
        if dtype is not None:
            if array.dtype.kind == "c" and not dtypes.to_dtype(dtype).is_complex:
                if dtypes.to_dtype(dtype).np.kind != "b":      # bool takes any number
                    raise TypeError("must be real number, not complex")
                array = array != 0
            _check_cast_range(array, dtypes.to_dtype(dtype))
    if dtype is not None:
        target = dtypes.to_dtype(dtype).np
        if array.dtype.kind == "c" and target.kind not in "cb":
            # the real part, with PyTorch's warning (numpy's cast would give its own); a
            # copy, as the cast would have made (a float view of complex memory shares it)
            warn_once(COMPLEX_TO_REAL, stacklevel=3)     # (PyTorch: once a process)
            array = array.real.copy() if array.real.dtype == target else array.real
        with np.errstate(over="ignore", invalid="ignore"):   # 1e300 as float32 is inf, silently
            array = dtypes.astype(array, target)
    else:
        dtypes.from_numpy_dtype(array.dtype)  # raises a clear error for unsupported dtypes
    if device is not None:
        array = backend.to_device(array, backend.device(device))
    return array


_PYTHON_NUMBERS = frozenset((int, float, bool, complex))


def _as_int64(value):
    """``value`` (an int) as PyTorch's conversions through an int64 take it: a uint64 element
    past int64 is refused."""
    if type(value) is int and value >= 2 ** 63:
        raise RuntimeError("value cannot be converted to type int64_t without overflow")
    return value

_UINT64 = np.dtype(np.uint64)


def _uint64_from_python(data):
    """A Python int (or nested sequence of them) as a uint64 array, as PyTorch stores one:
    only Python ints (bools too) in [0, 2**64) are taken -- a negative one is refused, not
    wrapped as the narrower unsigned types wrap it -- and any other element (a float, a numpy
    scalar, a tensor) is a TypeError."""
    leaves = list(_flatten(data)) if isinstance(data, (list, tuple)) else [data]
    for x in leaves:
        if isinstance(x, (str, bytes)):
            return _from_mixed_sequence(data, dtypes.uint64)   # (its words for a str)
        if not isinstance(x, int):
            raise TypeError("an integer is required")
        if x < 0:
            raise OverflowError("can't convert negative int to unsigned")
        if x >= 2 ** 64:
            raise OverflowError("int too big to convert")
    try:
        return np.array(data, dtype=_UINT64)
    except ValueError:
        shape = _check_rectangular(data)     # PyTorch's words for a ragged list
        if 0 not in shape:
            raise
        return np.empty(shape, dtype=_UINT64)


def _only_python_numbers(data) -> bool:
    """Are all leaves of the nested lists/tuples ``data`` Python bools, ints or floats?"""
    kinds = set(map(type, data))
    if kinds <= _PYTHON_NUMBERS:
        return True                   # the common case, at C speed: a flat list of numbers
    return all(type(x) in _PYTHON_NUMBERS or
               (isinstance(x, (list, tuple)) and _only_python_numbers(x)) for x in data)


def _from_python_numbers(data, dtype):
    """numpy's conversion, with PyTorch's inference: float -> default dtype, int -> int64."""
    try:
        array = np.asarray(data)
    except ValueError as exc:
        if not isinstance(data, (list, tuple)):
            raise
        numpy_error = exc
    else:
        numpy_error = None
    if numpy_error is not None:
        shape = _check_rectangular(data)     # raises PyTorch's message for ragged lists
        if 0 not in shape:
            raise numpy_error
        array = np.empty(shape, dtype=dtypes.default_float().np)    # holds no numbers
    kind = array.dtype.kind
    if kind in "OSU" and dtype is not None and not isinstance(data, (list, tuple, int)):
        raise _no_number(data, dtype)
    if (kind in "uO" or (kind in "fV" and array.size and
                         float(np.abs(array).max()) >= 2.0 ** 63)) and \
            (dtype is None or dtypes.to_dtype(dtype).np.kind not in "fbV"):
        # numpy holds Python ints >= 2**63 as uint64, objects or (mixed with smaller ints)
        # float64: int64 would wrap 2**63 to -2**63, float32 would round, without a word
        _check_int64_range(data, floats_decide=dtype is None)
        if kind == "O" and isinstance(data, (list, tuple)):
            # ints past int64 beside floats (numpy keeps them as objects): a float tensor,
            # each number read as a double, as PyTorch
            array, kind = array.astype(np.float64), "f"
    if dtype is None:
        if kind in "fV":
            with np.errstate(over="ignore"):      # 1e300 as float32 is inf, silently
                array = array.astype(dtypes.default_float().np)
        elif kind in "iu":
            array = array.astype(np.int64)
        elif kind == "c":
            array = array.astype(dtypes.default_complex().np)
        elif kind not in "b":
            if isinstance(data, (str, bytes)):
                raise TypeError(f"new(): invalid data type '{type(data).__name__}' (a number "
                                f"or a sequence of numbers was expected, not {data!r})")
            raise RuntimeError(f"Could not infer dtype of {type(data).__name__} "
                            f"(numpy made an array of type {array.dtype})")
    return array


def _no_number(x, dtype):
    """PyTorch's TypeError for ``x`` (None, a str, an object) where a number of the given
    ``dtype`` goes (``torch.tensor(None, dtype=...)``, ``t.new_tensor([1, None])``)."""
    if isinstance(x, (str, bytes)):
        return TypeError(f"new(): invalid data type '{type(x).__name__}'")
    if dtypes.to_dtype(dtype).np.kind in "biu":
        return TypeError(f"'{type(x).__name__}' object cannot be interpreted as an integer")
    return TypeError(f"must be real number, not {type(x).__name__}")


def _scalar_dtype(x, dtype=None):
    """The dtype PyTorch gives one element of a nested sequence, and its value as a number
    (``dtype``: the one asked for, if any)."""
    if isinstance(x, Tensor):
        if x._array.size != 1:
            # PyTorch tries int() on an integer or bool tensor, float() on the others
            if x._array.dtype.kind in "biu":
                raise TypeError(f"only integer tensors of a single element can be converted to "
                                f"an index (an element of the sequence is a tensor of shape "
                                f"{list(x.shape)})")
            raise ValueError(f"only one element tensors can be converted to Python scalars "
                             f"(an element of the sequence is a tensor of shape "
                             f"{list(x.shape)})")
        kind = x._array.dtype.kind
        want = None if dtype is None else dtypes.to_dtype(dtype).np.kind
        if want is not None and want in "biu" and kind not in "biu":
            # an integer (or bool) dtype reads each element with __index__, as PyTorch does
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        if kind in "fV" and x._requires_grad and _grad_state.enabled:
            warnings.warn("Converting a tensor with requires_grad=True to a scalar may lead to "
                          "unexpected behavior.\nConsider using tensor.detach() first.",
                          UserWarning, stacklevel=4)
        value = backend.as_numpy(x._array).reshape(()).item()
        if kind == "c" and want is not None and want in "fV":
            # a real dtype reads a complex tensor as a double: only with no imaginary part
            if value.imag:
                raise RuntimeError("value cannot be converted to type double without overflow")
            return np.dtype(x._array.real.dtype), value.real
        return x._array.dtype, value
    if isinstance(x, (np.generic, np.ndarray)) and x.ndim == 0:
        return x.dtype, x.item()
    if isinstance(x, bool):
        return np.dtype(np.bool_), x
    if isinstance(x, int):
        _check_int64_range(x)
        return np.dtype(np.int64), x
    if isinstance(x, float):
        return dtypes.default_float().np, x
    if isinstance(x, complex):
        return dtypes.default_complex().np, x
    if isinstance(x, (str, bytes)):
        raise TypeError(f"new(): invalid data type '{type(x).__name__}' (a sequence of numbers "
                        f"was expected, but an element is {x!r})")
    if dtype is not None:
        raise _no_number(x, dtype)
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__} (an element of the sequence "
                    f"is {x!r})")


def _from_mixed_sequence(data, dtype=None):
    """A nested sequence holding tensors, numpy scalars or arrays: each tensor is one number
    (PyTorch calls .item() on it), and the dtype is the promotion of every element's dtype
    (``dtype``: the one asked for, if any, which words the refusal of a non-number)."""
    found = []
    first = data
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
        if isinstance(first, str):
            # PyTorch reads the sizes down the first elements, and a str is a sequence
            raise ValueError(f"too many dimensions '{type(first).__name__}'")
        if isinstance(first, np.ndarray) and first.ndim == 0:
            raise TypeError("len() of unsized object")      # so is an array, even a 0-d one
    arrays = []

    def unpack(x):
        if isinstance(x, (list, tuple, range)):       # (a range inside is a sequence too)
            return [unpack(y) for y in x]
        if isinstance(x, np.ndarray):
            arrays.append(x)
            if x.ndim:
                found.append(x.dtype)
                return x.tolist()
        dt, value = _scalar_dtype(x, dtype)
        found.append(dt)
        return value

    nested = unpack(data)
    if arrays:
        warnings.warn("Creating a tensor from a list of numpy.ndarrays is extremely slow. Please "
                      "consider converting the list to a single numpy.ndarray with "
                      "numpy.array() before converting to a tensor.", UserWarning, stacklevel=4)
    result = found[0] if found else dtypes.default_float().np
    for dt in found[1:]:
        result = dtypes._promote(result, dt)
    if result == _UINT64 and dtype is None:
        # PyTorch infers uint64 and then stores each element as a Python int, which a numpy
        # scalar, a tensor or an array row is not
        raise TypeError("an integer is required")
    try:
        return np.array(nested, dtype=result)
    except ValueError:
        shape = _check_rectangular(nested)
        if 0 not in shape:
            raise
        return np.empty(shape, dtype=result)


def _check_cast_range(array, target):
    """PyTorch's overflow check when Python numbers are stored as an integer dtype.

    A float must be finite and within the type's range; an int within it too, except that an
    unsigned type also takes negatives down to -max (two's complement: -1 as uint8 is 255).
    """
    kind = target.np.kind
    if kind not in "iu" or array.dtype.kind not in "iufV" or array.size == 0:
        return
    info = np.iinfo(target.np)
    if array.dtype.kind in "fV":
        with np.errstate(invalid="ignore"):
            bad = ~((array >= info.min) & (array <= info.max))     # NaN and inf included
    else:
        low = -int(info.max) if kind == "u" else int(info.min)
        bad = (array < low) | (array > info.max)
    if bad.any():
        value = array[bad].flat[0].item()
        raise RuntimeError(f"value cannot be converted to type {target.name} without overflow "
                           f"(got {value!r}; {target.name} holds [{info.min}, {info.max}])")


_INT64 = (-2 ** 63, 2 ** 63 - 1)


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def _legacy_sizes(sizes):
    """The sizes of ``Tensor(2, 3)``, checked with PyTorch's words."""
    for pos, s in enumerate(sizes, 1):
        if not _is_int(s):
            raise TypeError(f"new(): argument 'size' must be tuple of ints, but found element "
                            f"of type {type(s).__name__} at pos {pos}")
    sizes = tuple(int(s) for s in sizes)
    for s in sizes:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(sizes)}")
    return sizes


def _check_int64_range(data, floats_decide=True):
    """PyTorch's overflow error for a Python int outside int64, naming the value (unless
    ``floats_decide`` and a float among the numbers makes the tensor floating point)."""
    items = list(_flatten(data)) if isinstance(data, (list, tuple)) else [data]
    if floats_decide and any(isinstance(x, (float, complex)) for x in items):
        return                     # a float among them: the tensor is floating point, as PyTorch
    for x in items:
        if isinstance(x, int) and not isinstance(x, bool) and not _INT64[0] <= x <= _INT64[1]:
            raise ValueError(f"Overflow when unpacking long long: {x} does not fit in int64 "
                             f"(the range is [{_INT64[0]}, {_INT64[1]}])")


def _check_rectangular(data):
    """PyTorch's error for ragged nested lists (numpy's would talk about "inhomogeneous"
    arrays).  The shape is read down the first elements and every element is held to it; a
    shape with a zero in it holds no numbers and is returned unchecked, as PyTorch builds such
    a tensor (``[[], [1]]`` is an empty 2 x 0 tensor)."""
    shape, x = [], data
    while isinstance(x, (list, tuple)):
        shape.append(len(x))
        if not x:
            break
        x = x[0]
    if 0 not in shape:
        _check_against(data, shape, 0)
    return tuple(shape)


def _check_against(data, shape, dim):
    """Every element of ``data`` (at ``dim``) a sequence of length shape[dim + 1], or a
    number at the last dim."""
    inner = dim + 1 < len(shape)
    for i, x in enumerate(data):
        if isinstance(x, (list, tuple)) != inner:
            if inner:
                raise TypeError("not a sequence")
            if isinstance(data[0], int):
                raise TypeError(f"'{type(x).__name__}' object cannot be interpreted as an "
                                f"integer")
            raise TypeError(f"must be real number, not {type(x).__name__}")
        if inner:
            if len(x) != shape[dim + 1]:
                raise ValueError(f"expected sequence of length {shape[dim + 1]} at dim "
                                 f"{dim + 1} (got {len(x)})")
            _check_against(x, shape, dim + 1)


def _flatten(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flatten(x)
        else:
            yield x


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation.

    Build one with ``minigrad.tensor(data)``, ``minigrad.zeros(...)``, ``minigrad.randn(...)``.
    ``Tensor(data)`` itself, as ``torch.Tensor(data)``, gives the default float dtype, and
    ``Tensor(2, 3)`` (PyTorch's legacy constructor) a tensor of that size (zeros here).
    """
    __slots__ = ("_array", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_vcounter",
                 "_base", "_hooks", "_wrapped_number", "__weakref__", "__dict__")

    # numpy: let Tensor's reflected operators win over ndarray's (array * tensor -> Tensor).
    __array_priority__ = 1000

    def __init__(self, *args, requires_grad=False, dtype=None, device=None):
        # PyTorch's legacy constructor: Tensor(2, 3) and Tensor(Size([2, 3])) are sizes,
        # Tensor([2, 3]) and Tensor((2, 3)) data, Tensor(other) shares other's memory.
        if args and (len(args) > 1 or isinstance(args[0], Size) or _is_int(args[0])):
            sizes = tuple(args[0]) if isinstance(args[0], Size) else args
            array = np.zeros(_legacy_sizes(sizes), dtypes.to_dtype(
                dtype if dtype is not None else dtypes.default_float()).np)
            if device is not None:
                array = backend.to_device(array, backend.device(device))
        elif args and isinstance(args[0], Tensor) and dtype is None and device is None:
            array = args[0]._array
        else:
            data = args[0] if args else ()
            if isinstance(data, (numbers.Number, np.generic)) or data is None:
                raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
            array = _to_array(data, dtype if dtype is not None else dtypes.default_float(),
                              device)
        self._init(array, requires_grad)

    def _init(self, array, requires_grad=False):
        if type(array) is _NDARRAY and not array.size and array.ndim and \
                not any(array.strides):
            array = _strided_empty(array)
        self._array = array
        self._grad = None
        self.grad_fn = None
        self._vcounter = _INFERENCE if _grad_state.inference else VersionCounter()
        self._base = None
        self._hooks = None
        self._output_nr = 0
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """Wrap an array without copying or converting it (the fast path ops use)."""
        if type(array) is not _NDARRAY:
            if isinstance(array, _NP_SCALAR):
                # numpy ufuncs and reductions on 0-d arrays return scalars; a numpy float64
                # scalar is a Python float, which type promotion would then treat as a weak
                # Python number.
                array = np.asarray(array)
        elif not array.size and array.ndim and not any(array.strides):
            array = _strided_empty(array)
        t = _new_object(cls)
        t._array = array
        t._grad = None
        t.grad_fn = None
        t._vcounter = _INFERENCE if _grad_state.inference else VersionCounter()
        t._base = None
        t._hooks = None
        t._output_nr = 0
        t._requires_grad = requires_grad
        return t

    # ------------------------------------------------------------------------------------------
    # Attributes
    # ------------------------------------------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's memory, outside the graph; writes to it are not tracked
        (it has a version counter of its own; an inference tensor's is an inference tensor)."""
        t = Tensor._wrap(self._array)
        if self._vcounter is _INFERENCE:
            t._vcounter = _INFERENCE
        return t

    @data.setter
    def data(self, value):
        # Only the memory is swapped: the shape and dtype may change, but a tensor that
        # requires gradients keeps a dtype that gradients exist for.
        if not isinstance(value, Tensor):
            cls = type(value)
            name = cls.__qualname__ if cls.__module__ == "builtins" else \
                f"{cls.__module__}.{cls.__qualname__}"
            raise TypeError(f"Variable data has to be a tensor, but got {name}")
        if self.requires_grad and not (value.is_floating_point() or value.is_complex()):
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")
        self._array = value._array

    @property
    def grad(self):
        """The gradient accumulated by ``backward`` (None until then)."""
        if self._grad is None and _grad_fn_or_none(self) is not None and not self.retains_grad:
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being "
                          "accessed. backward() leaves it None: call .retain_grad() on this "
                          "tensor before backward() to keep its gradient, or read the .grad of "
                          "the leaf tensor it was computed from.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        # A gradient of the wrong shape would broadcast silently in an optimizer's update.
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if tuple(value._array.shape) != tuple(self._array.shape):
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value.shape)}' to a tensor of size "
                                   f"'{list(self.shape)}'. Please ensure that the gradient and "
                                   "the tensor are the same size")
            if value._array.dtype != self._array.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype "
                                   f"'{dtypes.c_type_name(value._array.dtype)}' to a tensor "
                                   f"with grad_dtype '{dtypes.scalar_type_name(self._array.dtype)}'"
                                   ". The gradient must match the tensor's grad_dtype "
                                   "(defaults to the tensor's dtype)")
            if value.device != self.device:
                raise RuntimeError(f"attempting to assign a gradient on device '{value.device}' "
                                   f"to a tensor on device '{self.device}'. Please ensure that "
                                   "the gradient and the tensor are on the same device")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def shape(self) -> Size:
        return _SIZE_OF(Size, self._array.shape)

    def size(self, dim=None):
        """The shape as a ``minigrad.Size``, or the length of dimension ``dim``."""
        if dim is None:
            return _SIZE_OF(Size, self._array.shape)
        if type(dim) is not int:
            if isinstance(dim, Tensor) and dim._array.dtype.kind in "iu" and dim._array.size == 1:
                dim = int(dim._array.reshape(()))      # PyTorch reads an integer tensor's value
            elif isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
                raise TypeError(f"size(): argument 'dim' (position 1) must be int, not "
                                f"{type(dim).__name__}")
        return self._array.shape[self._normalize_dim(dim)]

    def _normalize_dim(self, dim, ndim=None):
        ndim = self._array.ndim if ndim is None else ndim
        span = max(ndim, 1)
        if not isinstance(dim, numbers.Integral) or not -span <= dim < span:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-span}, "
                             f"{span - 1}], but got {dim})")
        return dim % span if ndim else 0

    @property
    def ndim(self) -> int:
        return self._array.ndim

    def dim(self) -> int:
        return self._array.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._array.size)

    nelement = numel

    @property
    def dtype(self) -> dtypes.DType:
        return dtypes.from_numpy_dtype(self._array.dtype)

    @property
    def device(self) -> backend.Device:
        return backend.device_of(self._array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def itemsize(self) -> int:
        return self._array.itemsize

    def element_size(self) -> int:
        return self._array.itemsize

    def is_floating_point(self) -> bool:
        return self._array.dtype.kind in "fV"

    def stride(self, dim=None):
        if not any(self._array.strides) and (self._array.size == 0 or
                                             isinstance(self._array, MetaArray)):
            # numpy gives a new empty array zero strides; PyTorch, the row-major ones (each
            # size counted as at least 1).  An empty array with strides of its own (a view of
            # a tensor, or one laid out channels-last by minigrad) reports them.  A meta
            # array's strides are all 0 (one element stands for all): row-major, as PyTorch's
            strides, n = [], 1
            for size in reversed(self._array.shape):
                strides.append(n)
                n *= max(size, 1)
            strides = tuple(reversed(strides))
        else:
            strides = tuple(s // self._array.itemsize for s in self._array.strides)
        return strides if dim is None else strides[self._normalize_dim(dim)]

    def data_ptr(self) -> int:
        return backend.data_address(self._array)

    @property
    def _version_value(self) -> int:
        return self._vcounter.value

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has had (its views share the count):
        an int, a snapshot, as PyTorch's."""
        if self._vcounter is _INFERENCE:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._vcounter.value

    def _is_view(self) -> bool:
        """Whether this tensor is a view of another (then ``_base`` is that tensor)."""
        return self._base is not None

    def is_inference(self) -> bool:
        """Whether this tensor was made inside ``inference_mode`` (or is a view of one)."""
        return self._vcounter is _INFERENCE

    # ------------------------------------------------------------------------------------------
    # Autograd
    # ------------------------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        """Whether gradients are computed for this tensor (set it on leaves only)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if type(value) is not bool:
            raise RuntimeError("requires_grad must be a bool")      # PyTorch's words
        if _grad_fn_or_none(self) is not None:  # torch refuses the assignment on a non-leaf
            if not value:                    # (and says what to do instead when turning off)
                raise RuntimeError("you can only change requires_grad flags of leaf variables. "
                                   "If you want to use a computed variable in a subgraph that "
                                   "doesn't require differentiation use var_no_grad = "
                                   "var.detach().")
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        if value and self._array.dtype.kind not in "fcV":     # the setter's own words
            raise RuntimeError(f"only Tensors of floating point and complex dtype can require "
                               f"gradients (this tensor is {self.dtype})")
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True) -> "Tensor":
        if type(requires_grad) is not bool:         # (not 1, not a numpy or tensor bool)
            raise TypeError(f"requires_grad_(): argument 'requires_grad' (position 1) must be "
                            f"bool, not {python_type_name(requires_grad)}")
        if _grad_fn_or_none(self) is not None:
            if not requires_grad:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                                   "you want to use a computed variable in a subgraph that doesn't "
                                   "require differentiation use var_no_grad = var.detach().")
            return self
        if requires_grad and self._array.dtype.kind not in "fcV":
            raise RuntimeError("only Tensors of floating point dtype can require gradients "
                               f"(this tensor is {self.dtype}; convert it with .float() first)")
        if requires_grad and self._vcounter is _INFERENCE and not _grad_state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        if not requires_grad and "_made_at" in self.__dict__ and self._base._requires_grad:
            return self     # (as PyTorch: a view of a tensor that requires grad does too)
        self._requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` during ``backward``."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        node = _grad_fn_or_none(self)
        if node is not None:
            if node._retained is None:
                node._retained = {}
            node._retained[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        node = _grad_fn_or_none(self)
        return node is not None and bool(node._retained) and self._output_nr in node._retained \
            and node._retained[self._output_nr]() is self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a
        replacement. Returns a handle whose ``remove()`` unregisters the hook."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self.grad_fn
        # hooks live in an OrderedDict keyed by their handle's id (registration order)
        if node is None:
            if self._hooks is None:
                self._hooks = OrderedDict()
            hooks = self._hooks
        else:
            if node._pre_hooks is None:
                node._pre_hooks = {}
            hooks = node._pre_hooks.get(self._output_nr)
            if hooks is None:
                hooks = node._pre_hooks[self._output_nr] = OrderedDict()
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    @property
    def _backward_hooks(self):
        """The OrderedDict of this tensor's ``register_hook`` hooks, keyed by handle id (None
        before the first); code that clears hooks assigns a new dict here."""
        node = self.grad_fn
        if node is None:
            return self._hooks
        return node._pre_hooks.get(self._output_nr) if node._pre_hooks else None

    @_backward_hooks.setter
    def _backward_hooks(self, hooks):
        node = self.grad_fn
        if node is None:
            self._hooks = hooks
        elif hooks is not None:
            if node._pre_hooks is None:
                node._pre_hooks = {}
            node._pre_hooks[self._output_nr] = hooks
        elif node._pre_hooks:
            node._pre_hooks.pop(self._output_nr, None)

    def detach(self) -> "Tensor":
        """The same data (shared memory), cut out of the graph."""
        t = Tensor._wrap(self._array)
        t._vcounter = self._vcounter
        return t

    def detach_(self) -> "Tensor":
        """Cut this tensor out of the graph in place (a view cannot be: use detach())."""
        if self._base is not None:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is "
                "set as True, gradients are views of DDP buckets, and hence detach_() cannot "
                "be called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution. "
                f"(this tensor of shape {list(self.shape)} is a view of one of shape "
                f"{list(self._base.shape)})")
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------------------------------------
    # Conversion
    # ------------------------------------------------------------------------------------------
    def numpy(self, force=False) -> np.ndarray:
        """The data as a numpy array (shared memory on the CPU)."""
        # refused only while grad mode is on: under no_grad PyTorch hands the data over
        if self.requires_grad and _grad_state.enabled and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self.device.type != "cpu" and not force:
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        if self._array.dtype.kind == "V":      # numpy has no bfloat16 of its own, as PyTorch says
            raise TypeError("Got unsupported ScalarType BFloat16")
        return backend.as_numpy(self._array)

    def __array__(self, dtype=None, copy=None):
        # np.asarray(t) is t.numpy(), as PyTorch's: refused for a tensor that requires grad
        # (detach it first) and for one on a GPU (.cpu() first)
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # a numpy ufunc applied to a tensor (np.exp(t)) gives a tensor back, as in PyTorch,
        # which holds a bool result as uint8
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        return Tensor._wrap(np.asarray(array))

    def item(self):
        if self._array.size != 1:
            raise RuntimeError(f"a Tensor with {self._array.size} elements cannot be converted to "
                               "Scalar")
        return self._array.reshape(()).item()

    def tolist(self):
        return backend.as_numpy(self._array).tolist()

    def __len__(self):
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))    # views by unbind, as PyTorch (grad_fn UnbindBackward0)

    def __bool__(self):
        if self._array.size != 1:
            how_many = "no values" if self._array.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {how_many} is ambiguous "
                               f"(it has {self._array.size} elements; use .any() or .all())")
        value = self._array.reshape(()).item()
        if self._array.dtype == _UINT64:
            _as_int64(value)            # (PyTorch reads a uint64 as an int64 here)
        return bool(value)

    def _one_scalar(self):
        if self._array.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars "
                             f"(this one has {self._array.size} elements, shape "
                             f"{list(self.shape)})")
        return self.item()

    def __float__(self):
        # (PyTorch gives it once per process, with grad mode on; here Python's filters decide)
        if self._requires_grad and _grad_state.enabled:
            warnings.warn("Converting a tensor with requires_grad=True to a scalar may lead to "
                          "unexpected behavior.\nConsider using tensor.detach() first.",
                          UserWarning, stacklevel=2)
        return float(self._real_scalar("double"))

    def __int__(self):
        return _as_int64(int(self._real_scalar("int64_t")))

    def _real_scalar(self, c_type):
        """The one element as a real number; a complex one only with no imaginary part
        (PyTorch's conversion refuses the rest as an overflow)."""
        value = self._one_scalar()
        if isinstance(value, complex):
            if value.imag != 0:
                raise RuntimeError(f"value cannot be converted to type {c_type} without "
                                   f"overflow")
            value = value.real
        return value

    def __complex__(self):
        return complex(self._one_scalar())

    def __index__(self):
        if self._array.dtype.kind not in "iub" or self._array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return _as_int64(int(self.item()))

    def __format__(self, spec):
        if self._array.ndim == 0:
            return format(self.item(), spec)
        if spec:
            # PyTorch formats 0-d tensors only: even a one-element [2.5] refuses
            raise TypeError(f"unsupported format string passed to Tensor.__format__ (got "
                            f"{spec!r} for a Tensor of shape {list(self.shape)}: format its "
                            "elements, or .item())")
        return repr(self)

    def __repr__(self):
        return tensor_repr(self)

    def __hash__(self):
        return id(self)

    def __reduce_ex__(self, protocol):
        # pickle (multiprocessing, copy, joblib...) as PyTorch: the values, the class (a
        # Parameter stays one), requires_grad and the attributes set on the tensor; not the
        # graph (an intermediate result comes back as a leaf) and not .grad.  Loading a
        # pickle runs code, so minigrad.load never does: checkpoints stay safetensors.
        warn_if_has_hooks(self)
        array = self._array if isinstance(self._array, MetaArray) else \
            backend.to_device(self._array, backend.cpu)         # (a meta one: shape and dtype)
        state = _user_state(self)
        return (_unpickle_tensor,
                (_plain_type(self), array, self._requires_grad, str(self.device), state))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.  If you were attempting to "
                               "deepcopy a module, this may be because of a minigrad.nn.utils."
                               "weight_norm usage, see https://github.com/pytorch/pytorch/pull/"
                               "103001")
        if id(self) in memo:
            return memo[id(self)]
        # order="K": a permuted tensor keeps its strides, as PyTorch's copy of the storage does
        new = _plain_type(self)._wrap(self._array.copy(order="K"), self.requires_grad)
        if self.grad is not None:
            new.grad = Tensor._wrap(self.grad._array.copy(order="K"))
        state = _user_state(self)
        if state:                               # attributes set on the tensor are copied too
            new.__dict__.update(copy.deepcopy(state, memo))
        memo[id(self)] = new
        return new


# What minigrad itself keeps in a tensor's __dict__ (its live views, how a view was made,
# hooks): bookkeeping about this object in this process, neither pickled nor deep-copied
_BOOKKEEPING = frozenset({"_views", "_view_meta", "_inplace_refusal",
                          "_post_accumulate_grad_hooks", "_grad_sink", "_made_at"})


def _plain_type(t):
    """``type(t)``, with a checked view's class (``_checked_view.py``) the one its user sees:
    Tensor."""
    cls = type(t)
    return Tensor if getattr(cls, "_checked_view", False) else cls


def _grad_fn_or_none(t):
    """``t.grad_fn``, None for a stale view (where PyTorch's getter of the same property
    reads no history)."""
    try:
        return t.grad_fn
    except RuntimeError:
        return None


def _user_state(t):
    """The attributes set on ``t`` by its user (``t.name = ...``), or None."""
    d = getattr(t, "__dict__", None)
    if not d:
        return None
    state = {k: v for k, v in d.items() if k not in _BOOKKEEPING}
    return state or None


def _unpickle_tensor(cls, array, requires_grad, device, state):
    """The tensor ``Tensor.__reduce_ex__`` pickled: its class, values, requires_grad, device
    and attributes."""
    if device != "cpu":
        array = backend.to_device(array, backend.device(device))
    t = cls._wrap(array, requires_grad)
    if state:
        t.__dict__.update(state)
    return t


def _parse_to(args, kwargs, allow_copy):
    """The (device, dtype) that ``.to(*args, **kwargs)`` asks for (Tensor.to and Module.to).

    Positional arguments: a Tensor (its device and dtype), a device (str or Device), a dtype.
    ``non_blocking`` is accepted and ignored; ``copy`` too where ``allow_copy``.
    """
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if allow_copy:
        kwargs.pop("copy", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, (str, backend.Device)) or (isinstance(arg, int) and
                                                        not isinstance(arg, bool)):
            device = arg                # (an int: an accelerator's index, as PyTorch)
        elif arg is not None:
            dtype = arg
    return device, dtype


def _zero_grads(params, set_to_none):
    """Reset each tensor's ``.grad``: to None, or to zeros in place (a new version), taken
    out of any graph first (a grad made with create_graph=True), as PyTorch does."""
    for p in params:
        if p.grad is not None:
            if set_to_none:
                p.grad = None
            else:
                p.grad.grad_fn = None
                p.grad._requires_grad = False
                p.grad._array[...] = 0
                p.grad._vcounter.value += 1


_COPY_CONSTRUCT = ("To copy construct from a tensor, it is recommended to use "
                   "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                   ".requires_grad_(True), rather than {}(sourceTensor).")


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """Make a tensor from data (nested lists, numbers, numpy arrays), copying the data.

    Python floats give float32, ints int64, bools bool; a numpy array keeps its dtype.
    ``pin_memory=True`` needs an accelerator (page-locked memory is for copies to one).
    """
    backend.check_pin_memory(pin_memory, "tensor", none_ok=False)   # (a bool only, here)
    if device is None and backend.default_is_meta:      # (set_default_device('meta'))
        device = backend.meta
    if isinstance(data, Tensor):
        warnings.warn(_COPY_CONSTRUCT.format("torch.tensor"), UserWarning, stacklevel=2)
        data = data.detach()._array
    array = _to_array(data, dtype, device)
    if array is data or (isinstance(data, np.ndarray) and np.shares_memory(array, data)):
        # the copy keeps a dense layout (Fortran order too); a broadcast one is row-major
        array = dtypes.preserving_copy(array) if type(array) is np.ndarray else \
            array.copy(order="K")
    elif type(data) is np.ndarray and type(array) is np.ndarray and data.ndim > 1:
        array = dtypes.preserving_copy(array, data)     # numpy's cast, laid out as PyTorch's
    t = Tensor._wrap(array)
    if requires_grad:
        _require_grad_at_creation(t)
    return t


def _require_grad_at_creation(t):
    """``requires_grad=True`` given to a factory function; a non-floating tensor is refused in
    the factories' words (``requires_grad_()`` has its own)."""
    if t._array.dtype.kind not in "fcV":
        raise RuntimeError(f"Only Tensors of floating point and complex dtype can require "
                           f"gradients (this tensor is {t.dtype})")
    return t.requires_grad_(True)


def as_tensor(data, *, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a numpy array when dtype and device allow."""
    if device is None and backend.default_is_meta:      # (set_default_device('meta'))
        device = backend.meta
    if isinstance(data, Tensor):
        return data.to(*(a for a in (device, dtype) if a is not None))
    array = _to_array(data, dtype, device)
    if (isinstance(data, np.ndarray) and not data.flags.writeable and
            np.shares_memory(array, data)):
        if not _readonly_warned:
            _warn_readonly_once()
        array = writable_alias_of(array)
    return Tensor._wrap(array)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with ``array``: writing to one changes the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy_dtype(array.dtype)
    if array.flags.writeable:
        return Tensor._wrap(_to_array(array))
    if not _readonly_warned:
        _warn_readonly_once()
    return Tensor._wrap(writable_alias_of(_to_array(array)))


_readonly_warned = False


class _WritableMemory:
    """The memory of the read-only array ``array`` offered to numpy as writable (numpy's
    array interface with its read-only flag off); an array made from it keeps this object,
    and so ``array`` and the memory under it, alive."""

    def __init__(self, array):
        self._array = array
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)
        self.__array_interface__ = interface


def writable_alias_of(array):
    """``array`` (a read-only numpy array) as a writable array on the same memory, as PyTorch
    takes such memory (from_numpy, as_tensor, frombuffer of bytes: it warns, then writes
    through).  An array whose elements share memory (a 0 stride, as np.broadcast_to gives)
    stays read-only: PyTorch refuses writes into such a tensor in its own words."""
    if array.flags.writeable or type(array) is not np.ndarray or any(
            st == 0 and n > 1 for st, n in zip(array.strides, array.shape)):
        return array
    return np.asarray(_WritableMemory(array))


def _warn_readonly_once():
    """PyTorch's warning for from_numpy (or as_tensor) of a non-writable array, whose memory
    the tensor would share, given once per process."""
    global _readonly_warned
    _readonly_warned = True
    warnings.warn("The given NumPy array is not writable, and minigrad does not support "
                  "non-writable tensors. This means writing to this tensor will result in "
                  "undefined behavior. You may want to copy the array to protect its data or make "
                  "it writable before converting it to a tensor. This type of warning will be "
                  "suppressed for the rest of this program.", UserWarning, stacklevel=3)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


# The math methods (x + y, x.sum(), x.to(...), x.backward()...) are attached by
# minigrad/_tensor_methods.py (operators, in-place methods, indexing), _tensor_methods_math.py
# (named math) and _tensor_methods_layout.py (shape, dtype, device), which import the ops and
# the backward engine: those modules are the one place where an earlier layer (Tensor) gets
# code from later ones.
