"""Small helpers shared by the ops: broadcasting, dtype promotion, argument checks."""
from __future__ import annotations

import functools
import numbers

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from .._type_names import python_type_name  # noqa: F401  (used here and by the ops)
from .._argument_error import argument_error  # (used here and by the ops)
from ..autograd._forward_numerics import _quiet_enter, _quiet_exit
from ..autograd._input_checks import complex_refusal
from ..tensor import Tensor


# The dtypes the numpy fast paths take, for identity tests: ``dtype in FLOAT32_64`` costs
# ~20 ns where ``dtype.name in (...)`` costs ~2 us
FLOAT32_64 = (np.dtype(np.float32), np.dtype(np.float64))


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the backward of NumPy/PyTorch broadcasting.

    Broadcasting copies an input along new leading axes and along axes of size 1; the gradient
    of a copy is the sum of the copies' gradients.
    """
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def broadcast_shape(a_shape, b_shape, op="op"):
    """The broadcast shape of two shapes, or PyTorch's error naming both sizes."""
    if a_shape == b_shape:
        return a_shape
    n = max(len(a_shape), len(b_shape))
    a = (1,) * (n - len(a_shape)) + tuple(a_shape)
    b = (1,) * (n - len(b_shape)) + tuple(b_shape)
    for i in range(n - 1, -1, -1):          # PyTorch names the last clashing dim
        x, y = a[i], b[i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i} (in {op}: shapes {list(a_shape)} and "
                f"{list(b_shape)} cannot be broadcast together)")
    return tuple(y if x == 1 else x for x, y in zip(a, b))


def to_tensor_like(value, like, dtype=None):
    """A Python number (or array) as a 0-d/n-d Tensor on ``like``'s device."""
    xp = backend.xp_of(like._array)
    return Tensor._wrap(xp.asarray(value, dtype=dtype))


def sort_keys(array):
    """``array`` as numpy can order it: bfloat16 (a numpy extension type, whose sorts leave a
    NaN where it was and order around it) as the float32 values it holds, exactly; numpy's own
    float sorts put NaN last, as PyTorch."""
    return array.astype(np.float32) if array.dtype.kind == "V" else array


def c_order(array, source=None):
    """``array`` laid out row-major: PyTorch's reductions, scans and softmax return contiguous
    results whatever their input's layout (numpy's follow the input's, so a reduction of a
    transposed tensor could not be ``view``-ed as PyTorch's can).  Given the reduced array
    ``source``, a keepdim result's size-1 dims get row-major strides too (numpy gives them
    others when ``source`` is not row-major)."""
    flags = getattr(array, "flags", None)
    if flags is None:
        return array
    if not flags.c_contiguous:
        return array.copy()
    if source is not None and 1 in array.shape and not source.flags.c_contiguous:
        return row_major_view(array)
    return array


def row_major_view(array):
    """A C-contiguous ``array`` with PyTorch's row-major strides on its size-1 dims too (a
    view, the same memory; numpy may leave another step there, which never moves but shows
    in ``stride()``)."""
    return dense_view(array, mf.row_major_strides(array.shape))


def dense_view(array, strides):
    """A dense ``array`` viewed with the element ``strides`` of its own order (they differ at
    most on size-1 dims): the same memory, with the strides PyTorch would give it."""
    strides = tuple(strides)
    if mf.element_strides(array) == strides:
        return array
    return backend.strided_view(array, array.shape, tuple(s * array.itemsize for s in strides))


def dim_like(dim):
    """Does PyTorch's parser read ``dim`` as an int: a Python or numpy integer (no bool), or
    an integer tensor of one element?"""
    if type(dim) is int:                # (the usual case, before the ABC's slower check)
        return True
    return isinstance(dim, numbers.Integral) and not isinstance(dim, bool) or (
        isinstance(dim, Tensor) and dim._array.dtype.kind in "iub" and dim._array.size == 1)


def normalize_dim(dim, ndim, op=None, arg="dim"):
    """A dimension index in [0, ndim) from one in [-ndim, ndim), or PyTorch's IndexError; a
    ``dim`` that is no int is the TypeError of PyTorch's parser (argument ``arg`` of ``op``)."""
    span = max(ndim, 1)
    if type(dim) is int and -span <= dim < span:       # (the usual case: no ABC check)
        return dim % span if ndim else 0
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        if isinstance(dim, Tensor) and dim._array.dtype.kind in "iub" and dim._array.size == 1:
            return normalize_dim(int(dim._array.reshape(())), ndim)   # PyTorch reads its index
        raise argument_error(op, arg, "int", dim)
    if not -span <= dim < span:
        if not -2 ** 63 <= dim < 2 ** 63:       # PyTorch's parser reads an int64 first
            raise ValueError("Overflow when unpacking long long")
        raise IndexError(f"Dimension out of range (expected to be in range of [{-span}, "
                         f"{span - 1}], but got {dim})")
    return dim % span if ndim else 0


def normalize_dims(dim, ndim, op=None, position=None):
    """``dim`` as a sorted tuple of axes (None -> all axes); a ``dim`` that is neither an int
    nor a list of them is the TypeError of PyTorch's parser for a "tuple of ints" (argument
    ``dim`` of ``op``, at ``position`` where known)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        for i, d in enumerate(dim):
            if type(d) is not int and not (dim_like(d) or i and isinstance(d, bool)):
                raise argument_error(op, "dim", "tuple of ints", dim, position, found=(i, d))
        axes = tuple(normalize_dim(int(d) if isinstance(d, bool) else d, ndim) for d in dim)
        if len(set(axes)) != len(axes):
            twice = next(a for i, a in enumerate(axes) if a in axes[:i])
            raise RuntimeError(f"dim {twice} appears multiple times in the list of dims (got "
                               f"dim={tuple(dim)})")
        return tuple(sorted(axes)) if ndim else ()
    if type(dim) is not int and not dim_like(dim):
        raise argument_error(op, "dim", "tuple of ints", dim, position)
    axis = normalize_dim(dim, ndim)        # checked on a 0-d tensor too: only 0 and -1
    return (axis,) if ndim else ()


def result_dtype(*operands):
    """The numpy dtype of an op on Tensors and Python numbers, by PyTorch's promotion rules."""
    return dtypes.result_type(*(o._array if isinstance(o, Tensor) else o for o in operands))


class _IeeeErrors:
    """``np.errstate(divide="ignore", invalid="ignore", over="ignore")`` as a context, entered
    as ``Function.apply`` enters it (numpy's errstate spends about 1 us on its Python
    machinery, most of a small backward's arithmetic)."""
    __slots__ = ("token",)

    def __enter__(self):
        self.token = _quiet_enter()
        return self

    def __exit__(self, *exc):
        _quiet_exit(self.token)
        return False


def ieee_errors():
    """A context in which numpy computes inf/nan silently, as PyTorch does (no RuntimeWarning).

    A no-op for cupy arrays, which never warn.
    """
    return _IeeeErrors()


def ieee(method):
    """Run a forward/backward with numpy's divide/invalid/overflow warnings off.

    log(0) = -inf, 1/0 = inf and sqrt(-1) = nan are the IEEE answers PyTorch returns silently;
    numpy would also print a RuntimeWarning for each.
    """
    @functools.wraps(method)
    def quiet(*args, **kwargs):
        token = _quiet_enter()
        try:
            return method(*args, **kwargs)
        finally:
            _quiet_exit(token)
    return quiet


def torch_sign(xp, x):
    """PyTorch's sign: -1, 0 or 1, and 0 for NaN (numpy's sign gives NaN there)."""
    s = xp.sign(x)
    if x.dtype.kind not in "fV":
        return s
    if x.dtype.kind == "f" and x.ndim:
        # in place in s (one new array, not three): NaN's sign made 0, and + 0 clears the
        # sign of a zero
        s[s != s] = 0
        s += 0
        return s
    # (+ 0 clears the sign of a zero: bfloat16's sign of -0.0 is -0.0, PyTorch's is 0.0)
    return (xp.where(xp.isnan(x), 0, s) + 0).astype(s.dtype, copy=False)


# PyTorch's names of the scalar types ('Long' for int64), as its kernels' dtype errors spell
# them: kept in dtypes, named here for the ops that import their helpers from this module
scalar_type_name = dtypes.scalar_type_name


# the C++ names of the scalar types, as errors that print a kernel's element type spell them
_CPP_TYPE = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char",
             "int16": "short int", "int32": "int", "int64": "long int", "uint16": "short unsigned int",
             "uint32": "unsigned int", "uint64": "long unsigned int", "float16": "c10::Half",
             "float32": "float", "float64": "double", "bfloat16": "c10::BFloat16",
             "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def cpp_type_name(np_dtype):
    """The C++ name of a dtype's element type: 'float' for float32, 'long int' for int64."""
    name = np.dtype(np_dtype).name
    return _CPP_TYPE.get(name, name)


def number_arg(fn, name, value, position=None):
    """PyTorch's parser for a Scalar argument ``name`` of ``fn``: a Python or numpy number, or
    a 0-d tensor that does not require grad. Anything else (a str, None, a list, an array, a
    1-d or grad-requiring tensor) is its TypeError, raised before any check of the input; the
    position is named when the argument came by position. A complex number with an imaginary
    part cannot be read as a float; one without is its real part. Returns the value."""
    if isinstance(value, Tensor):
        ok = value.ndim == 0 and not value.requires_grad
    else:
        ok = isinstance(value, (bool, int, float, complex, np.number, np.bool_))
    if not ok:
        raise argument_error(fn, name, "Number", value, position)
    if isinstance(value, (complex, np.complexfloating)):
        if value.imag:
            raise RuntimeError("value cannot be converted to type float without overflow")
        value = value.real
    return value


def check_python_int(value):
    """PyTorch's OverflowError for a Python int operand it cannot hold in 64 bits (it reads
    ints in [-2**63, 2**64), the upper half as unsigned)."""
    if type(value) is int:
        if value < -2 ** 63:
            raise OverflowError("can't convert negative int to unsigned")
        if value >= 2 ** 64:
            raise OverflowError("int too big to convert")
    return value


def not_implemented_for(kernel, np_dtype):
    """PyTorch's refusal of a kernel that has no version for ``np_dtype`` (for a complex dtype
    with a pointer to the list of what takes complex tensors: PyTorch may have a complex
    kernel where minigrad has none yet)."""
    if np.dtype(np_dtype).kind == "c":
        return complex_refusal(kernel, np.dtype(np_dtype))
    return NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_type_name(np_dtype)}'")


def no_complex_kernel(kernel, *tensors):
    """PyTorch's refusal of a complex input to an op it has no complex kernel for (minigrad's
    version would compute something, but not what PyTorch users can rely on)."""
    for t in tensors:
        if isinstance(t, Tensor) and t._array.dtype.kind == "c":
            raise not_implemented_for(kernel, t._array.dtype)


def not_a_tensor(name, value, position=1):
    """PyTorch's TypeError for a non-Tensor where an op's tensor argument goes."""
    return TypeError(f"{name}(): argument 'input' (position {position}) must be Tensor, not "
                     f"{python_type_name(value)}")


def check_tensor(name, value, arg="input", position=1):
    """PyTorch's TypeError for a non-Tensor (a list, a number, a numpy array) where an op's
    tensor argument goes; ``value`` itself when it is one."""
    if not isinstance(value, Tensor):       # (position: the function's; a method's wrapper
        raise argument_error(name, arg, "Tensor", value, position)      # words its own)
    return value


def check_tensors(values, argument=0):
    """PyTorch's TypeError for an element of a list of tensors (argument ``argument`` of an
    op such as cat, meshgrid, atleast_2d) that is no Tensor; the values otherwise."""
    for i, value in enumerate(values):
        if not isinstance(value, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument {argument}, but got "
                            f"{python_type_name(value)}")
    return values


class Omitted:
    """The default of an argument whose absence matters (it may be left out but not given as
    None, or giving it changes how another argument reads); shown as ``text``."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


# a dim that may be left out but not given as None (max, min, median, squeeze): PyTorch's
# parser refuses an explicit None there
NO_DIM = Omitted("<no dim>")


def bool_arg(name, arg, value, position=None):
    """A bool flag argument (keepdim, descending, ...): PyTorch takes no int, None or numpy
    bool for one."""
    if value is True or value is False:
        return value
    raise argument_error(name, arg, "bool", value, position)


def float_arg(name, arg, value, position=None):
    """A float argument (eps, momentum, max_norm, ...) as PyTorch's parser reads one: a Python
    or numpy real number (a bool too) or a tensor of one real element, as a Python float."""
    if isinstance(value, (float, int)):
        return float(value)
    if isinstance(value, (np.floating, np.integer, np.bool_)) or (
            isinstance(value, Tensor) and value._array.size == 1 and
            value._array.dtype.kind != "c"):
        return float(value.item())
    raise argument_error(name, arg, "float", value, position)


_INT64 = 2 ** 63


def int_arg(name, arg, value, position=None):
    """An int argument (k, offset, diagonal, ...): PyTorch takes no bool or float for one, and
    reads an integer tensor of one element as its value; its parser reads an int64, so a
    Python int out of that range is its ValueError."""
    if type(value) is int and -_INT64 <= value < _INT64:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        if not -_INT64 <= value < _INT64:
            raise ValueError("Overflow when unpacking long long")
        return int(value)
    if isinstance(value, Tensor) and value._array.dtype.kind in "iu" and value._array.size == 1:
        return int(value._array.reshape(()))
    raise argument_error(name, arg, "int", value, position)


def along(axis, key):
    """An indexing tuple that applies ``key`` to ``axis`` and keeps the axes before it whole."""
    return (slice(None),) * axis + (key,)


def prod(values):
    """The product of a sequence of ints (1 for an empty one): a shape's element count."""
    n = 1
    for v in values:
        n *= v
    return n


def window_slices(offset, stride, dilation, out_size):
    """For kernel offset (p, q, ...): the strided slices that pick, for every output position,
    the input element at that offset of its window: rows p*d, p*d + s, ..., p*d + s*(L-1).
    Shared by the convolution and pooling kernels."""
    return tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                 for o, s, d, n in zip(offset, stride, dilation, out_size))


def check_fill_value(value, dtype):
    """PyTorch's conversion of a fill number to ``dtype``: integers within the type (an
    unsigned one also takes negatives down to -max: they wrap), floats into an integer type
    finite and within it, floats into a float type within its range or not finite; a bool
    takes anything."""
    check_python_int(value)                  # past 64 bits: PyTorch's OverflowError first
    if dtype.kind in "bc" or isinstance(value, (bool, np.bool_)):
        return
    if isinstance(value, (complex, np.complexfloating)):
        fits = value.imag == 0                   # a real dtype takes a complex with no imag
        value = value.real
    else:
        fits = True
    if dtype.kind in "fV":
        fits = fits and (not np.isfinite(value) or abs(value) <= float(dtypes.np_finfo(dtype).max))
    else:
        info = np.iinfo(dtype)
        if isinstance(value, (int, np.integer)):
            low = -int(info.max) if dtype.kind == "u" else int(info.min)
            fits = fits and low <= value <= info.max
        else:
            fits = fits and bool(info.min <= value <= info.max)     # False for NaN
    if not fits:
        name = dtypes.c_type_name(dtype)
        if name == dtype.name and dtype.kind in "iu":
            name += "_t"                     # uint16 -> uint16_t
        raise RuntimeError(f"value cannot be converted to type {name} without overflow")
