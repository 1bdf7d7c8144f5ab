"""Python data, numpy arrays and tensors turned into arrays with PyTorch's rules.

``_to_array`` is what ``minigrad.tensor(data)``, ``as_tensor``, ``Tensor(data)`` and the ops'
argument handling call: dtype inference (Python floats the default float dtype, ints int64,
bools bool; a numpy array keeps its dtype; a nested sequence takes the promotion of its
elements), the range checks of Python numbers stored as integers, and PyTorch's words for
ragged lists, strings, None and numbers past int64.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import backend, dtypes
from ._grad_state import state as _grad_state
from ._type_names import python_type_name
from ._tensor_base import TensorBase
from ._warn_once import COMPLEX_TO_REAL, GRAD_SCALAR, USER, warn_once


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
    if isinstance(data, TensorBase):
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
        _check_index_like(data, dtype)
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
                kind = dtypes.to_dtype(dtype).np.kind
                if kind in "iu":        # (read as an integer; bool takes any number)
                    raise TypeError("'complex' object cannot be interpreted as an integer")
                if kind != "b":
                    raise TypeError("must be real number, not complex")
                array = array != 0
            _check_cast_range(array, dtypes.to_dtype(dtype))
    if dtype is not None:
        target = dtypes.to_dtype(dtype).np
        if array.dtype.kind == "c" and target.kind not in "cb":
            # the real part, with PyTorch's warning (numpy's cast would give its own); a
            # copy, as the cast would have made (a float view of complex memory shares it)
            warn_once(COMPLEX_TO_REAL, stacklevel=USER)     # (PyTorch: once a process)
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
            (dtype is None or dtypes.to_dtype(dtype).np.kind not in "fbVc"):
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
            array = array.astype(_default_complex())
        elif kind not in "b":
            if isinstance(data, (str, bytes)):
                raise TypeError(f"new(): invalid data type '{type(data).__name__}' (a number "
                                f"or a sequence of numbers was expected, not {data!r})")
            raise RuntimeError(f"Could not infer dtype of {type(data).__name__} "
                            f"(numpy made an array of type {array.dtype})")
    return array


def _default_complex():
    """The dtype a Python complex number gets: the complex partner of the default float
    dtype; bfloat16 has none, and PyTorch refuses the number then."""
    if dtypes.default_float() is dtypes.bfloat16:
        raise RuntimeError("invalid default scalar type for complex")
    return dtypes.default_complex().np


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
    if isinstance(x, TensorBase):
        if x._array.size != 1:
            kind = x._array.dtype.kind if dtype is None else dtypes.to_dtype(dtype).np.kind
            raise _many_elements(kind, x.shape)
        kind = x._array.dtype.kind
        want = None if dtype is None else dtypes.to_dtype(dtype).np.kind
        if want is not None and want in "biu" and kind not in "biu":
            # an integer (or bool) dtype reads each element with __index__, as PyTorch does
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        if kind in "fV" and x._requires_grad and _grad_state.enabled:
            # once a process, the flag shared with float(t) (PyTorch's one place in its code)
            warn_once(GRAD_SCALAR, UserWarning, USER, key=GRAD_SCALAR)
        value = backend.as_numpy(x._array).reshape(()).item()
        if kind == "c" and want is not None and want in "fV":
            # a real dtype reads a complex tensor as a double: only with no imaginary part
            if value.imag:
                raise RuntimeError("value cannot be converted to type double without overflow")
            return np.dtype(x._array.real.dtype), value.real
        return x._array.dtype, value
    if isinstance(x, (np.generic, np.ndarray)) and x.ndim == 0:
        if isinstance(x, np.generic):
            _check_index_like(x, dtype)
        return x.dtype, x.item()
    if isinstance(x, bool):
        return np.dtype(np.bool_), x
    if isinstance(x, int):
        _check_int64_range(x)
        return np.dtype(np.int64), x
    if isinstance(x, float):
        return dtypes.default_float().np, x
    if isinstance(x, complex):
        return _default_complex(), x
    if isinstance(x, (str, bytes)):
        raise TypeError(f"new(): invalid data type '{type(x).__name__}' (a sequence of numbers "
                        f"was expected, but an element is {x!r})")
    if dtype is not None:
        raise _no_number(x, dtype)
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__} (an element of the sequence "
                    f"is {x!r})")


def _many_elements(kind, shape):
    """PyTorch's refusal of a tensor of several elements inside a nested sequence: it reads
    each element as a number of the result's dtype (of ``kind``), with int() for an integer or
    bool dtype and float() for the others."""
    if kind in "biu":
        return TypeError(f"only integer tensors of a single element can be converted to an "
                         f"index (an element of the sequence is a tensor of shape {list(shape)})")
    return ValueError(f"only one element tensors can be converted to Python scalars (an "
                      f"element of the sequence is a tensor of shape {list(shape)})")


def _check_index_like(x, dtype):
    """PyTorch reads a numpy scalar given for an integer dtype as an index (``__index__``),
    and for bool as an index or a Python number: a float32 (or bool, complex...) scalar is
    refused where an np.float64, a Python float, is read and truncated."""
    if dtype is None:
        return
    kind = dtypes.to_dtype(dtype).np.kind
    if kind in "iu" and not isinstance(x, (np.integer, float)) or \
            kind == "b" and not isinstance(x, (np.integer, np.bool_, float, complex)):
        raise TypeError(f"'numpy.{type(x).__name__}' object cannot be interpreted as an "
                        f"integer")


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
        if dtype is None and isinstance(x, TensorBase) and x._array.size != 1:
            # refused once the result's dtype is known: its kind picks PyTorch's words
            many.append(x.shape)
            found.append(x._array.dtype)
            return 0
        dt, value = _scalar_dtype(x, dtype)
        found.append(dt)
        return value

    many = []
    nested = unpack(data)
    if arrays:
        warn_once("Creating a tensor from a list of numpy.ndarrays is extremely slow. Please "
                  "consider converting the list to a single numpy.ndarray with "
                  "numpy.array() before converting to a tensor.", UserWarning, USER)
    result = found[0] if found else dtypes.default_float().np
    for dt in found[1:]:
        result = dtypes._promote(result, dt)
    if many:
        raise _many_elements(result.kind, many[0])
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
    if sizes and (not _is_int(sizes[0]) or isinstance(sizes[0], bool)):
        raise _legacy_refusal(sizes, {})             # (the first element decides)
    for pos, s in enumerate(sizes[1:], 2):      # (a bool after the first is read as an int)
        if not _is_int(s) and not isinstance(s, bool):
            raise TypeError(f"new(): argument 'size' failed to unpack the object at pos {pos} "
                            f"with error \"type must be tuple of ints,but got "
                            f"{python_type_name(s)}\"")
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



# PyTorch's legacy constructor (``torch.Tensor(...)``, ``t.new(...)``, ``torch.FloatTensor(...)``):
# its signatures, and the C++ element type names its TensorOptions print
_LEGACY_SIGNATURES = ("*, torch.device device = None", "torch.Storage storage", "Tensor other",
                      "tuple of ints size, *, torch.device device = None",
                      "object data, *, torch.device device = None")
_C_TYPE_NAMES = {"float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float",
                 "float64": "double", "int8": "signed char", "int16": "short int",
                 "int32": "int", "int64": "long int", "uint8": "unsigned char", "bool": "bool",
                 "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def legacy_keywords(args, kwargs):
    """The legacy constructor takes no keyword but ``device``: PyTorch's TypeError (``new()``'s
    signatures listed) for any other (``dtype=``, ``requires_grad=``)."""
    if any(k != "device" for k in kwargs):
        raise _legacy_refusal(args, kwargs)


def _legacy_refusal(args, kwargs):
    """PyTorch's TypeError for a legacy constructor call none of new()'s signatures takes
    (its first line as PyTorch words it: the keywords' types the last given first, a
    trailing ", " when all were keywords; the signatures listed bare)."""
    keywords = list(kwargs)
    if len(keywords) > 1:
        keywords[0], keywords[-1] = keywords[-1], keywords[0]
    given = [python_type_name(a) for a in args] + \
        [f"{k}={python_type_name(kwargs[k])}" for k in keywords]
    listed = ", ".join(given) + (", " if given and not args else "")
    return TypeError(f"new() received an invalid combination of arguments - got ({listed}), "
                     f"but expected one of:\n" + "".join(f" * ({s})\n" for s in _LEGACY_SIGNATURES))


def legacy_other_dtype(expected, got):
    """PyTorch's TypeError for ``new(tensor)`` / ``FloatTensor(tensor)`` given a tensor of
    another dtype (``expected``, ``got``: dtype names)."""
    def options(name):
        return (f"TensorOptions(dtype={_C_TYPE_NAMES.get(name, name)}, device=cpu, "
                f"layout=Strided, requires_grad=false (default), pinned_memory=false "
                f"(default), memory_format=(nullopt))")
    return TypeError(f"expected {options(expected)} (got {options(got)})")
