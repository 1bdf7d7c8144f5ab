"""Small tensor methods PyTorch code calls every day: ``reciprocal``, ``logical_xor``, the
questions a tensor answers about itself (``is_signed``, ``is_nonzero``, ``is_same_size``,
``nbytes``, ``dim_order``, ``is_cpu``...), the conjugate transposes ``H`` / ``mH`` (plain
transposes, conjugated for complex tensors), the legacy constructor ``new`` and the Python
callbacks ``apply_`` / ``map_``.
"""
from __future__ import annotations

import numpy as np

from .._warn_once import warn_user
from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function
from .._data_conversion import _legacy_sizes, legacy_keywords, legacy_other_dtype
from ..tensor import Size, Tensor
from ._util import broadcast_shape, check_tensor, scalar_type_name
from . import compare as C
from .elementwise import cast, mul, neg
from ._int_list_args import int_list_argument
from .movement import expand, transpose
from .plumbing import conj_of

__all__ = ["Reciprocal", "reciprocal", "logical_xor", "is_signed", "is_nonzero",
           "is_same_size", "nbytes", "dim_order", "H", "mH", "broadcast_to", "new", "apply_",
           "map_", "output_nr", "numel", "is_floating_point"]


class Reciprocal(Function):
    """out = 1 / a.  Backward: -g conj(out) ** 2 (the saved output, so second derivatives
    follow)."""
    complex_ok = True

    def forward(self, a):
        if a.dtype.kind == "c":
            out = _complex_reciprocal(a)
        else:
            with np.errstate(divide="ignore"):        # 1 / 0 is inf, silently, as PyTorch
                if type(a) is np.ndarray and a.dtype.kind == "f":
                    # (the same rounded quotient: numpy's reciprocal loop is unvectorised,
                    # twice a division's time)
                    out = np.divide(a.dtype.type(1), a)
                else:
                    out = backend.xp_of(a).reciprocal(a)
        out = out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))   # a's layout
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out = conj_of(self.saved_tensors[0])
        return neg(mul(g, mul(out, out)))


def _complex_reciprocal(a):
    """1 / (c + di) as PyTorch's complex division computes it (Smith's way, in the parts'
    own precision): with the larger part ``big`` and the other ``small``,
    ``rat = small / big``, ``scl = 1 / (big + small rat)``; then ``scl - rat scl i`` when
    |c| >= |d|, else ``rat scl - scl i``; 0 gives ``1/|c| + (0/|d|) i`` (inf + nan i).  So a
    subnormal whose reciprocal overflows gives inf with a NaN part, not numpy's inf + 0i."""
    xp = backend.xp_of(a)
    c, d = a.real, a.imag
    zero = c.dtype.type(0)
    real_first = xp.abs(c) >= xp.abs(d)             # (NaN: the second form, NaN either way)
    with np.errstate(all="ignore"):
        big, small = xp.where(real_first, c, d), xp.where(real_first, d, c)
        rat = small / big
        scl = 1 / (big + small * rat)
        re = xp.where(real_first, (1 + zero * rat) * scl, (rat + zero) * scl)
        im = xp.where(real_first, (zero - rat) * scl, (zero * rat - 1) * scl)
        at_zero = (c == 0) & (d == 0)
        if at_zero.any():
            re = xp.where(at_zero, 1 / xp.abs(c), re)
            im = xp.where(at_zero, zero / xp.abs(d), im)
    out = xp.empty(a.shape, a.dtype)
    out.real, out.imag = re, im
    return out


def reciprocal(input):
    """1 / input elementwise; integer and bool tensors give the default float dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"reciprocal(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input._array.dtype.kind not in "fcV":
        input = cast(input, dtypes.default_float().np)
    return Reciprocal.apply(input)


def _tensor_argument(value, name, label, position):
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{label}' (position {position}) must be Tensor, "
                        f"not {type(value).__name__}")


def logical_xor(input, other):
    """True where exactly one of ``input``, ``other`` (broadcast; any dtypes) is nonzero."""
    _tensor_argument(input, "logical_xor", "input", 1)
    _tensor_argument(other, "logical_xor", "other", 2)
    a, b = input._array, other._array
    broadcast_shape(a.shape, b.shape, "logical_xor")
    if a.dtype != b.dtype:      # read in the promoted dtype, as PyTorch (see compare._LOGICAL)
        a, b = C._in_common_dtype(a, b), C._in_common_dtype(b, a)
    dtypes.refuse_unsigned("logical_xor_cpu", a.dtype)     # (no uint16/32/64 kernel)
    return Tensor._wrap(mf.pointwise_result(backend.xp_of(a).logical_xor(a, b), a, b))


# ----------------------------------------------------------------------------------------------
# What a tensor says about itself
# ----------------------------------------------------------------------------------------------
def is_signed(input) -> bool:
    """Does input's dtype hold negative values (floats, complex and signed integers; not
    uint8, bool)?"""
    _tensor_argument(input, "is_signed", "input", 1)
    return input._array.dtype.kind in "fiVc"


def is_nonzero(input) -> bool:
    """The truth of a one-element tensor (NaN counts as nonzero); more or fewer elements are
    ambiguous, as ``bool(tensor)``."""
    _tensor_argument(input, "is_nonzero", "input", 1)
    n = input._array.size
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._array.reshape(()) != 0)


def is_same_size(input, other) -> bool:
    """Do the two tensors have the same shape?"""
    _tensor_argument(other, "is_same_size", "other", 1)
    return tuple(input.shape) == tuple(other.shape)


def nbytes(input) -> int:
    """numel * element size, in bytes (an expanded view counts each element it shows)."""
    return int(input._array.size * input._array.itemsize)


def output_nr(input) -> int:
    """Which output of its ``grad_fn`` this tensor is (0 for a leaf)."""
    return int(input._output_nr or 0)


def dim_order(input, *, ambiguity_check=False):
    """The dimensions from outermost to innermost in memory: sorted by stride, largest first
    (a tie keeps the dimensions' order).  ``(0, 1, 2, 3)`` for a contiguous 4-d tensor,
    ``(0, 2, 3, 1)`` for channels_last.  ``ambiguity_check=True`` refuses a tensor whose order
    its layout leaves open (a dimension of size 1, or two neighbouring dimensions with equal
    strides); a list of memory formats accepts such a tensor when exactly one of them fits."""
    if not isinstance(ambiguity_check, bool) and not (
            isinstance(ambiguity_check, list)
            and all(isinstance(f, mf.memory_format) for f in ambiguity_check)):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory formats.")
    strides = [s // input._array.itemsize for s in input._array.strides]
    if ambiguity_check is not False:
        open_order = 1 in input._array.shape or any(
            a == b for a, b in zip(strides, strides[1:]))
        formats = ambiguity_check if isinstance(ambiguity_check, list) else []
        if open_order and sum(mf.is_contiguous(input._array, f) for f in formats) != 1:
            raise RuntimeError("The tensor does not have unique dim order, or cannot map to "
                               "exact one of the given memory formats.")
    order, ambiguous = _memory_order(input._array, strides, ambiguity_check is not False)
    if ambiguous:
        raise RuntimeError("The tensor does not have unique dim order.")
    return order


def _outer(shape, strides, a, b):
    """1 when dimension ``a`` lies outside ``b`` in memory, -1 when inside, 0 when the layout
    does not tell (a zero stride, or equal strides over equal sizes)."""
    sa, sb = strides[a], strides[b]
    if sa == 0 or sb == 0:
        return 0
    if sa == sb:
        return 0 if shape[a] == 0 or (shape[b] != 0 and (
            shape[b] >= shape[a] or shape[b] % shape[a] == 0)) else 1
    return 1 if sa > sb or sa % sb == 0 else -1


def _memory_order(array, strides, check):
    """Dimensions outermost first: the contiguous and channels-last orders where the tensor is
    exactly one of them, else an insertion sort by stride that leaves undecided pairs in the
    dimensions' order; and whether a neighbouring pair stays undecided (for ``check``)."""
    shape, ndim = array.shape, array.ndim
    if ndim < 2:
        return tuple(range(ndim)), False
    rowmajor = mf.is_contiguous(array)
    channels = ndim == 4 and mf.is_contiguous(array, mf.channels_last)
    if rowmajor != channels:
        return (tuple(range(ndim)) if rowmajor else (0, *range(2, ndim), 1)), False
    perm = list(range(ndim))            # innermost first
    perm.reverse()
    for i in range(1, ndim):
        j = i
        for k in reversed(range(i)):
            c = _outer(shape, strides, perm[k], perm[j])
            if c > 0:
                perm[k], perm[j] = perm[j], perm[k]
                j = k
            elif c < 0:
                break
    ambiguous = check and any(_outer(shape, strides, perm[i], perm[i + 1]) != -1
                              for i in range(ndim - 1))
    return tuple(reversed(perm)), ambiguous


# ----------------------------------------------------------------------------------------------
# Transposes and broadcast
# ----------------------------------------------------------------------------------------------
def H(input):
    """The conjugate transpose of a matrix (the transpose, for a real one)."""
    if input.ndim == 0:
        warn_user("Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
                  UserWarning)
        return conj_of(input)
    if input.ndim != 2:
        hint = " For batches of matrices, consider using tensor.mH" if input.ndim > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{input.ndim}-D tensor.{hint}")
    return conj_of(transpose(input, 0, 1))


def mH(input):
    """The conjugate transpose of the last two dimensions (the transpose, for real tensors)."""
    if input.ndim == 0:
        warn_user("Tensor.mH is deprecated on 0-D tensors. Consider using x.conj().",
                  UserWarning)
        return conj_of(input)
    if input.ndim == 1:
        raise RuntimeError("tensor.mH is only supported on matrices or batches of matrices. "
                           "Got 1-D tensor.")
    return conj_of(transpose(input, -2, -1))


def broadcast_to(input, *size, **kwargs):
    """``torch.broadcast_to(input, size)``: ``input`` expanded to ``size`` (a view); the size
    read, and refused, as PyTorch's parser does for broadcast_to."""
    check_tensor("broadcast_to", input)
    return expand(input, int_list_argument("broadcast_to", "size", size, kwargs, 2, False))


def numel(input) -> int:
    """``torch.numel``: the number of elements of the tensor ``input``."""
    return check_tensor("numel", input).numel()


def is_floating_point(input) -> bool:
    """``torch.is_floating_point``: whether the tensor ``input`` has a floating dtype."""
    return check_tensor("is_floating_point", input).is_floating_point()


# ----------------------------------------------------------------------------------------------
# The legacy constructor and Python callbacks
# ----------------------------------------------------------------------------------------------
def new(input, *args, **kwargs):
    """PyTorch's legacy ``t.new(...)``, in t's dtype (and device, unless given):
    ``new()`` an empty 1-d tensor, ``new(2, 3)`` or ``new(Size)`` an uninitialised one of
    that shape (minigrad fills it with zeros), ``new(sequence)`` a tensor of that data,
    ``new(tensor)`` that tensor, which must have t's dtype."""
    legacy_keywords(args, kwargs)                     # (device is the only keyword)
    device = kwargs.get("device")
    xp_dtype = input._array.dtype
    where = backend.device(device) if device is not None else input.device
    if len(args) == 1 and isinstance(args[0], Tensor):
        other = args[0]
        if other._array.dtype != xp_dtype:
            raise legacy_other_dtype(input.dtype.name, other.dtype.name)
        return other
    if len(args) == 1 and isinstance(args[0], Size):
        return _zeros(tuple(args[0]), xp_dtype, where)
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        data = args[0]
        if not isinstance(data, (list, tuple, range, np.ndarray)):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        array = np.asarray(data)
        if xp_dtype.kind in "iub" and array.dtype.kind in "fV":
            array = np.trunc(array)                   # C's cast: 1.5 -> 1, as PyTorch
        return Tensor._wrap(backend.to_device(array.astype(xp_dtype), where))
    return _zeros(_legacy_sizes(args) if args else (0,), xp_dtype, where)


def _zeros(shape, np_dtype, where):
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: "
                           f"{list(shape)}")
    return Tensor._wrap(backend.to_device(np.zeros(shape, np_dtype), where))


def _callback_target(input, name):
    if input.requires_grad:
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use "
                           f"var.detach().{name}() instead.")
    if input.device.type != "cpu":
        raise TypeError(f"{name}_ is only implemented on CPU tensors")


def _store(input, values):
    """Write the Python results back (cast as PyTorch casts a Python number to the dtype)."""
    for v in values:
        if not isinstance(v, (bool, int, float, np.generic)):
            raise TypeError(f"must be real number, not {type(v).__name__}")
    array = np.asarray(values, dtype=np.float64 if input._array.dtype.kind in "fV" else None)
    if input._array.dtype.kind in "iu" and array.dtype.kind in "fV":
        array = np.trunc(array)
    input._array[...] = array.reshape(input._array.shape).astype(input._array.dtype)
    input._vcounter.value += 1
    return input


def apply_(input, callable):
    """Replace each element x by ``callable(x)`` (a Python number); CPU only, and not on a
    tensor that requires grad.  Slow by nature: one Python call per element."""
    _callback_target(input, "apply_")
    return _store(input, [callable(x) for x in input._array.reshape(-1).tolist()])


def _operand(input, name, position, tensor):
    """``tensor`` broadcast to input's shape, as a flat list (map_'s and map2_'s checks)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}(): argument 'tensor' (position {position}) must be Tensor, "
                        f"not {type(tensor).__name__}")
    if tensor._array.dtype != input._array.dtype:
        raise TypeError(f"{name}: expected torch.{scalar_type_name(input._array.dtype)}Tensor "
                        f"for 'other' (got torch.{scalar_type_name(tensor._array.dtype)}Tensor)")
    return expand(tensor, *input.shape)._array.reshape(-1).tolist()


def map_(input, tensor, callable):
    """Replace each element x by ``callable(x, y)``, y the matching element of ``tensor``
    (broadcast to input's shape; same dtype).  CPU only; not on a tensor that requires grad."""
    _callback_target(input, "map_")
    others = _operand(input, "map_", 1, tensor)
    return _store(input, [callable(x, y) for x, y in
                          zip(input._array.reshape(-1).tolist(), others)])


def map2_(input, x, y, callable):
    """Replace each element e by ``callable(e, a, b)``, a and b the matching elements of
    ``x`` and ``y`` (broadcast to input's shape; same dtype). CPU only; not on a tensor that
    requires grad."""
    _callback_target(input, "map2_")
    xs, ys = _operand(input, "map2_", 1, x), _operand(input, "map2_", 2, y)
    return _store(input, [callable(e, a, b) for e, a, b in
                          zip(input._array.reshape(-1).tolist(), xs, ys)])
