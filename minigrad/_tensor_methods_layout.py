"""Tensor's methods about a tensor's form and place rather than its values.

Shape and movement (``reshape``, ``view``, ``permute``, ``split``, ``flip``, ``T``...); device,
dtype and memory (``to``, ``cuda``, ``float``, ``type``, ``storage``, ``pin_memory``); new
tensors (``new_zeros``, ``new_empty_strided``...); ``backward``; the random fills in place
(``normal_``...); and the aliases, predicates and properties of ``ops/tensor_predicates.py``
(``is_signed``, ``nbytes``, ``H``, ``is_cpu``...).  One line per method, as next door.
"""
from __future__ import annotations

import functools

import numpy as np

from ._warn_once import warn_user
from ._meta import MetaArray
from .ops import elementwise as E, movement as M, inplace as I, movement_copies as MC
from .ops import elementary_functions as EF, compare as C, activation as A, shaping as H
from .ops import stacking as ST, sequence_more as SQ, complex_numbers as CN, spectral as SPEC
from .ops import tensor_predicates as TP, sampling_round8 as SR8
from .ops._int_list_args import int_list_argument
from ._global_flags import warn_once
from ._type_names import python_type_name
from ._argument_words import worded
from ._tensor_input import _combination
from . import _sparse_factories, backend, creation, dtypes
from . import _warn_once as WO
from . import _legacy_types as LT
from ._storage import TypedStorage, UntypedStorage
from . import _sampling as RS
from . import _memory_format as mf
from . import _tensor_input as TI
from .autograd.engine import tensor_backward
from .autograd import graph as autograd_graph
from .tensor import Tensor
from ._tensor_factories import _COPY_CONSTRUCT, tensor
from ._tensor_factories import _check_requires_grad



def _sized(method, words):
    """``method(self, *size, **kwargs)`` refusing a call with no size at all, as PyTorch's
    parser does (``x.permute()`` is a TypeError, not the identity of a 0-d tensor)."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if not args and not kwargs:
            raise TypeError(words)
        return method(self, *args, **kwargs)
    return call


def _missing(name, argument):
    return f'{name}() missing 1 required positional arguments: "{argument}"'


# movement
Tensor.reshape = _sized(M.reshape, _missing("reshape", "shape"))
Tensor.view = _sized(M.view,
                     "view() received an invalid combination of arguments - got (), but "
                     "expected one of:\n * (torch.dtype dtype)\n * (tuple of ints size)\n")
Tensor.flatten = M.flatten
Tensor.unflatten = M.unflatten_method


def _dims_given_apart(name, squeezer, signatures=("", "int dim", "tuple of ints dim")):
    """``squeezer`` as the method ``name``: like PyTorch's, whose one list argument may come
    as several ints (``x.squeeze(0, 1)`` is ``x.squeeze((0, 1))``); ``signatures``: the
    method's, for the refusal of a call none fits."""
    @functools.wraps(squeezer)
    def method(self, *args, **kwargs):
        if len(args) > 1:
            first = args[0]
            if kwargs or type(first) is bool or not (type(first) is int or (
                    hasattr(first, "__index__") and not isinstance(first, (list, tuple)))):
                # (only a first int opens the list: the parser lists the signatures)
                raise _combination(name, args, kwargs, signatures)
            for i, d in enumerate(args):
                if type(d) is not int and not hasattr(d, "__index__"):
                    raise TypeError(f"{name}(): argument 'dim' failed to unpack the object at "
                                    f"pos {i + 1} with error \"type must be tuple of ints,but "
                                    f"got {python_type_name(d)}\"")
            # (past the first, a bool unpacks as the int it is)
            return squeezer(self, tuple(int(d) if type(d) is bool else d for d in args))
        return squeezer(self, *args, **kwargs)
    return method


Tensor.squeeze = _dims_given_apart("squeeze", M.squeeze)
Tensor.count_nonzero = _dims_given_apart("count_nonzero", Tensor.count_nonzero,
                                         ("tuple of ints dim", "int dim = None"))
Tensor.unsqueeze = M.unsqueeze
Tensor.transpose = M.transpose
Tensor.swapaxes = M.transpose
Tensor.permute = _sized(M.permute, _missing("permute", "dims"))
Tensor.t = M.t
Tensor.expand = _sized(M.expand, _missing("expand", "size"))
Tensor.expand_as = M.expand_as
Tensor.repeat = MC.repeat


def _split_method(self, split_size, dim=0):
    """``Tensor.split``: its size argument is called ``split_size`` (torch.split's is
    ``split_size_or_sections``)."""
    return ST.split(self, split_size, dim)


_split_method.__qualname__ = "Tensor.split"    # (PyTorch's is a Python method: Python's words)
Tensor.split = _split_method
Tensor.chunk = ST.chunk
Tensor.unbind = ST.unbind
Tensor.clone = MC.clone
Tensor.contiguous = MC.contiguous


def _flip(self, *dims, **kwargs):
    """``x.flip(0, 1)`` as well as ``x.flip([0, 1])`` and ``x.flip(dims=...)``."""
    return SQ.flip_dims(self, int_list_argument("flip", "dims", dims, kwargs))


Tensor.flip = _flip
# reversed(t) is t.flip(0) (a 0-d tensor: itself), a tensor rather than an iterator, as PyTorch
Tensor.__reversed__ = lambda self: self if self.ndim == 0 else SQ.flip_dims(self, (0,))
Tensor.movedim = H.movedim
Tensor.moveaxis = H.movedim
Tensor.tril = H.tril
Tensor.triu = H.triu
# (recorded under PyTorch's node for them, not copy_'s)
Tensor.tril_ = lambda self, diagonal=0: I.named_write(self, "TrilBackward0", I.copy_, self,
                                                      H.tril(self, diagonal))
Tensor.triu_ = lambda self, diagonal=0: I.named_write(self, "TriuBackward0", I.copy_, self,
                                                      H.triu(self, diagonal))
Tensor.diag = H.diag
Tensor.outer = H.outer
Tensor.ger = H.outer
Tensor.repeat_interleave = H.repeat_interleave
Tensor.tile = H.tile_method
Tensor.unfold = H.unfold
Tensor.roll = H.roll
Tensor.view_as = M.view_as
Tensor.reshape_as = M.reshape_as


def _type_as(self, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as(): argument 'other' (position 1) must be Tensor, not "
                        f"{python_type_name(other)}")
    return self.to(other.dtype)


Tensor.type_as = _type_as


# ----------------------------------------------------------------------------------------------
# Device and dtype
# ----------------------------------------------------------------------------------------------
_TO_SIGNATURES = (
    "torch.device device = None, torch.dtype dtype = None, bool non_blocking = False, "
    "bool copy = False, *, torch.memory_format memory_format = None",
    "torch.dtype dtype, bool non_blocking = False, bool copy = False, *, "
    "torch.memory_format memory_format = None",
    "Tensor tensor, bool non_blocking = False, bool copy = False, *, "
    "torch.memory_format memory_format = None",
)
_DEVICE_LIKE = (str, backend.Device, int)


_TO_KEYWORDS = frozenset(("device", "dtype", "non_blocking", "copy", "memory_format"))


def _fits_to(value, device):
    """Does ``to()``'s parser read ``value`` as a device (``device``) or a dtype (None being
    either's default)?  A dtype is minigrad's, or Python's float, int, bool or complex."""
    if value is None:
        return True
    if device:
        return isinstance(value, _DEVICE_LIKE)
    return isinstance(value, dtypes.DType) or any(value is t for t in (float, int, bool, complex))


def _to_arguments_match(args, kwargs):
    """Whether ``to(*args, **kwargs)`` fits one of PyTorch's signatures (_TO_SIGNATURES) as
    far as the devices, dtypes and tensors go: only (device, dtype) may come as a pair, a
    keyword may not repeat a positional one, and no other keyword is known."""
    if not _TO_KEYWORDS.issuperset(kwargs) or any(
            k in kwargs and type(kwargs[k]) is not bool for k in ("non_blocking", "copy")):
        return False
    k = next((i for i, a in enumerate(args) if isinstance(a, bool)), len(args))
    if not all(isinstance(a, bool) for a in args[k:]):
        return False                # the flags (non_blocking, copy) come last
    rest = args[:k]
    # the flags' places: after (device, dtype) or after one dtype or tensor
    first = rest[0] if rest else None
    pair = first is None or isinstance(first, (str, backend.Device)) or (
        type(first) is int and k > 1)
    flags = len(args) - (2 if pair else 1)
    if (pair and k == 1 and len(args) > 1) or flags > 2 or (
            flags > 0 and "non_blocking" in kwargs) or (flags > 1 and "copy" in kwargs):
        return False
    if len(rest) >= 2 and not (len(rest) == 2 and pair and
                               not isinstance(rest[1], _DEVICE_LIKE + (Tensor,))):
        return False
    if not all(_fits_to(kwargs.get(k), k == "device") for k in ("device", "dtype")) or \
            not all(_fits_to(a, False) or (i == 0 and _fits_to(a, True))
                    for i, a in enumerate(rest) if not isinstance(a, Tensor)):
        return False
    if not rest:
        return True
    first = rest[0]
    if isinstance(first, Tensor):            # (Tensor tensor, ...): no device, no dtype
        return "device" not in kwargs and "dtype" not in kwargs
    if isinstance(first, _DEVICE_LIKE) or first is None:   # (device, dtype, ...)
        return "device" not in kwargs and (len(rest) < 2 or "dtype" not in kwargs)
    return "device" not in kwargs and "dtype" not in kwargs    # (dtype dtype, ...)


def check_to_arguments(args, kwargs, shown_args=None):
    """PyTorch's TypeError for ``to()`` arguments that fit none of its signatures (Tensor.to,
    and Module.to, which parses them alike); ``shown_args``: the arguments as given, when
    ``args`` replaced some."""
    if _to_arguments_match(args, kwargs):
        return
    args = args if shown_args is None else shown_args

    def shown(value):
        return "torch.device" if isinstance(value, backend.Device) else TI._type_name(value)
    given = [shown(a) for a in args] + [f"{k}={shown(v)}" for k, v in reversed(kwargs.items())]
    # (keywords alone are shown as PyTorch's parser shows them, with a trailing comma)
    shown_all = ", ".join(given) if args else "".join(f"{g}, " for g in given)
    raise TypeError("to() received an invalid combination of arguments - got "
                    f"({shown_all}), but expected one of:\n"
                    + "".join(f" * ({sig})\n" for sig in _TO_SIGNATURES))


_NUMBER_DTYPES = {bool: np.bool_, float: np.float64, complex: np.complex128}


def number_as_tensor(args):
    """``to()``'s positional arguments with a first bool, float or complex read as PyTorch's
    parser reads it: the ``other`` tensor (a wrapped number: bool, float64 or complex128),
    whose dtype is the target (Tensor.to and Module.to alike)."""
    if args and type(args[0]) in _NUMBER_DTYPES:
        return (Tensor._wrap(np.zeros((), _NUMBER_DTYPES[type(args[0])])),) + args[1:]
    return args


def _to(self, *args, **kwargs) -> "Tensor":
    """``t.to(device)``, ``t.to(dtype)``, ``t.to(device, dtype)`` or ``t.to(other_tensor)``,
    with ``copy=`` and ``memory_format=`` keywords.

    ``t`` itself when nothing changes: same dtype and device, no ``copy=True``, and a format
    that is ``preserve_format`` or the one t's strides already suggest.  Otherwise a new
    tensor, laid out in the format (by default as ``t`` is)."""
    given, args = args, number_as_tensor(args)
    check_to_arguments(args, kwargs, given)
    flags = [a for a in args if isinstance(a, bool)]     # to(dtype, non_blocking, copy)
    if len(flags) > 1:
        kwargs.setdefault("copy", flags[1])
    copy = bool(kwargs.pop("copy", False))
    fmt = mf.check(kwargs.pop("memory_format", None), "to")
    device, dtype = _parse_to([a for a in args if not isinstance(a, bool)], kwargs,
                              allow_copy=False)
    dtype = None if dtype is None else dtypes.to_dtype(dtype)
    device = None if device is None else backend.device(device)
    new_dtype = dtype is not None and dtype != self.dtype
    new_device = device is not None and device != self.device
    if not (new_dtype or new_device or copy) and (fmt is mf.preserve_format or
                                                  mf.suggest(self._array) is fmt):
        return self
    strides = mf.target_strides(self._array, fmt)
    source = self
    if new_dtype and self._array.dtype.kind == "c" and dtype is dtypes.bool_:
        source = C.ne(self, 0)             # any nonzero part is True, as PyTorch (no warning)
    elif new_dtype and self._array.dtype.kind == "c" and not dtype.is_complex:
        WO.warn_once(WO.COMPLEX_TO_REAL, stacklevel=WO.USER)   # (PyTorch: once a process)
        source = CN.real(self)
    out = E.cast(source, dtype) if new_dtype else self
    if (out is self and not new_device) or mf.element_strides(out._array) != strides:
        out = MC.Copy.apply(out, strides=strides)
    if new_device:
        out = MC.to_device(out, device)
    return out

def _is_contiguous(self, *, memory_format=mf.contiguous_format) -> bool:
    """Are the elements stored densely in ``memory_format``'s order (row-major by default;
    NHWC for ``channels_last``, which is False on a tensor that is not 4-d)?"""
    return mf.is_contiguous(self._array, mf.check(memory_format, "is_contiguous",
                                                  none_means=None))

def _cuda(self, device=None, non_blocking=False, memory_format=mf.preserve_format) -> "Tensor":
    return _to(self, "cuda" if device is None else
               (f"cuda:{device}" if isinstance(device, int) else device),
               memory_format=mf.check(memory_format, "cuda"))

def _cpu(self, memory_format=mf.preserve_format) -> "Tensor":
    return _to(self, "cpu", memory_format=mf.check(memory_format, "cpu"))

def _type(self, dtype=None, non_blocking=False, **kwargs):
    """No argument: the legacy type name, ``'minigrad.FloatTensor'`` (``'minigrad.cuda.
    FloatTensor'`` on a GPU).  A dtype, or a legacy name (``'torch.DoubleTensor'``,
    ``'torch.cuda.LongTensor'``, minigrad's spelling too): the tensor converted to it."""
    if dtype is None:
        where = "cuda." if self.device.type == "cuda" else ""
        return f"minigrad.{where}{dtypes.SCALAR_NAMES.get(self.dtype.name, self.dtype.name)}Tensor"
    if dtype is Tensor or dtype in ("torch.Tensor", "minigrad.Tensor"):
        # the default tensor type: the default dtype, on the CPU
        return self.to(dtypes.get_default_dtype()).to("cpu")
    if isinstance(dtype, str):
        parts = dtype.split(".")
        by_name = {f"{v}Tensor": k for k, v in dtypes.SCALAR_NAMES.items()}
        if len(parts) not in (2, 3) or parts[0] not in ("torch", "minigrad") or \
                parts[-1] not in by_name or (len(parts) == 3 and parts[1] != "cuda"):
            raise ValueError(f"invalid type: {dtype!r} (expected a dtype or a name such as "
                             "'torch.FloatTensor' or 'torch.cuda.LongTensor')")
        converted = self.to(dtypes._named(by_name[parts[-1]]))
        return converted.to("cuda" if len(parts) == 3 else "cpu")
    if LT.is_legacy_type(dtype):                       # x.type(minigrad.LongTensor)
        return self.to(dtype.dtype).to("cpu")
    if isinstance(dtype, type):                        # PyTorch takes no Python/numpy type
        module = "" if dtype.__module__ == "builtins" else f"{dtype.__module__}."
        raise ValueError(f"invalid type: '{module}{dtype.__name__}'")
    if not isinstance(dtype, dtypes.DType):
        raise TypeError("dtype must be a type, str, or dtype object")
    return self.to(dtype)

def _as_dtype(dtype, name):
    """``t.float()``, ``t.long()``...: ``t.to(dtype, memory_format=...)``."""
    def convert(self, *args, memory_format=mf.preserve_format):
        if args:                            # memory_format is a keyword only, as in PyTorch
            raise TypeError(f"{name}() takes 0 positional arguments but {len(args)} "
                            f"{'was' if len(args) == 1 else 'were'} given")
        return _to(self, dtype, memory_format=mf.check(memory_format, name))
    convert.__name__ = convert.__qualname__ = name      # (Python's refusals name it so)
    convert.__doc__ = f"``self.to({dtype!r}, memory_format=memory_format)``."
    return convert

def _new_tensor(self, data, dtype=None, requires_grad=False):
    creation._check_dtype_argument(dtype, "new_tensor")
    _check_requires_grad(requires_grad, "new_tensor")
    if isinstance(data, Tensor):
        warn_user(_COPY_CONSTRUCT.format("tensor.new_tensor"), UserWarning)
        data = data.detach()._array
    return tensor(data, dtype=dtype or self.dtype, device=self.device,
                  requires_grad=requires_grad)


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False,
             pin_memory=False):
    """``Tensor.new_full``: a tensor of shape ``size`` (a tuple or list) filled with
    ``fill_value``, in self's dtype and device unless given."""
    creation.check_pin_memory(pin_memory, "new_full")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"new_full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    return creation.renamed("new_full", "full", creation.full, tuple(size), fill_value,
                            dtype=dtype or self.dtype, device=device or self.device,
                            requires_grad=requires_grad)

def _new_zeros(self, *size, dtype=None, device=None, requires_grad=False,
               pin_memory=False):
    creation.check_pin_memory(pin_memory, "new_zeros")
    size = creation._size(size, "new_zeros")     # (new_zeros words a negative size as empty)
    return creation.renamed("new_zeros", "zeros", creation.zeros, size,
                            dtype=dtype or self.dtype, device=device or self.device,
                            requires_grad=requires_grad)

def _new_ones(self, *size, dtype=None, device=None, requires_grad=False,
              pin_memory=False):
    creation.check_pin_memory(pin_memory, "new_ones")
    return creation.renamed("new_ones", "ones", creation.ones, *size, dtype=dtype or self.dtype,
                            device=device or self.device, requires_grad=requires_grad)

def _new_empty(self, *size, dtype=None, device=None, requires_grad=False,
               pin_memory=False):
    creation.check_pin_memory(pin_memory, "new_empty")
    return creation.renamed("new_empty", "empty", creation.empty, *size,
                            dtype=dtype or self.dtype, device=device or self.device,
                            requires_grad=requires_grad)


# device, dtype and creation
Tensor.backward = tensor_backward
Tensor.register_post_accumulate_grad_hook = autograd_graph.register_post_accumulate_grad_hook
Tensor.to = _to
Tensor.is_contiguous = _is_contiguous
Tensor.is_complex = lambda self: self._array.dtype.kind == "c"
Tensor.get_device = lambda self: -1 if self.device.type == "cpu" else self.device.index


def _storage_offset(self) -> int:
    """Where this tensor's first element lies in its storage (``untyped_storage()``: its
    base's memory), in elements (0 for a tensor that owns its memory)."""
    return (backend.data_address(self._array) - UntypedStorage(self)._address()) \
        // self._array.itemsize


Tensor.storage_offset = _storage_offset
Tensor.untyped_storage = lambda self: UntypedStorage(self)
Tensor.storage = lambda self: TypedStorage(self)
Tensor.cuda = _cuda
Tensor.cpu = _cpu
Tensor.type = _type
Tensor.float = _as_dtype(dtypes.float32, "float")
Tensor.double = _as_dtype(dtypes.float64, "double")
Tensor.half = _as_dtype(dtypes.float16, "half")
Tensor.bfloat16 = _as_dtype(dtypes.bfloat16, "bfloat16")
Tensor.cfloat = _as_dtype(dtypes.complex64, "cfloat")
Tensor.cdouble = _as_dtype(dtypes.complex128, "cdouble")
Tensor.long = _as_dtype(dtypes.int64, "long")
Tensor.int = _as_dtype(dtypes.int32, "int")
Tensor.short = _as_dtype(dtypes.int16, "short")
Tensor.char = _as_dtype(dtypes.int8, "char")
Tensor.byte = _as_dtype(dtypes.uint8, "byte")
Tensor.bool = _as_dtype(dtypes.bool_, "bool")
Tensor.new_tensor = _new_tensor
Tensor.new_full = worded(new_full, True, "new_full")     # (too many, too few: torch's words)
Tensor.new_zeros = creation._size_keyword(_new_zeros, "size", 1, "new_zeros")
Tensor.new_ones = creation._size_keyword(_new_ones, "size", 1, "new_ones")
Tensor.new_empty = creation._size_keyword(_new_empty, "size", 1, "new_empty")



def _T(self):
    """All dims reversed; PyTorch warns (once a process) that this is deprecated unless the
    tensor is 2-d."""
    if self.ndim == 0:
        warn_once("Tensor.T is deprecated on 0-D tensors. This function is the identity in "
                  "these cases.")
    elif self.ndim != 2:
        warn_once("The use of `x.T` on tensors of dimension other than 2 to reverse their "
                  "shape is deprecated and it will throw an error in a future release. "
                  "Consider `x.mT` to transpose batches of matrices or `x.permute(*torch."
                  "arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.")
    return M.permute(self, tuple(reversed(range(self.ndim))))


Tensor.T = property(_T)
Tensor.mT = property(M.mT)
Tensor.layout = property(lambda self: creation.strided)     # minigrad's tensors are all dense

# random fills in place (minigrad/_sampling.py)
Tensor.normal_ = RS.normal_
Tensor.uniform_ = RS.uniform_
Tensor.exponential_ = RS.exponential_
Tensor.geometric_ = RS.geometric_
Tensor.log_normal_ = RS.log_normal_
Tensor.cauchy_ = RS.cauchy_
Tensor.random_ = RS.random_
Tensor.bernoulli_ = RS.bernoulli_

# aliases and small methods (ops/tensor_predicates.py)
Tensor.reciprocal = TP.reciprocal
Tensor.absolute = EF.abs
Tensor.logical_xor = C.tensor_method(TP.logical_xor, "logical_xor")
Tensor.greater = C.method(C.gt, "greater")
Tensor.greater_equal = C.method(C.ge, "greater_equal")
Tensor.less = C.method(C.lt, "less")
Tensor.less_equal = C.method(C.le, "less_equal")
Tensor.not_equal = C.method(C.ne, "not_equal")
Tensor.swapdims = M.transpose
Tensor.broadcast_to = lambda self, *size, **kwargs: M.expand(
    self, int_list_argument("broadcast_to", "size", size, kwargs))
Tensor.hardshrink = A.hardshrink
Tensor.prelu = A.prelu
Tensor.is_signed = TP.is_signed
Tensor.is_nonzero = TP.is_nonzero
Tensor.is_same_size = TP.is_same_size
Tensor.dim_order = TP.dim_order
Tensor.new = TP.new
Tensor.apply_ = TP.apply_
Tensor.map_ = TP.map_
Tensor.map2_ = TP.map2_
Tensor.nbytes = property(TP.nbytes)
Tensor.output_nr = property(TP.output_nr)
Tensor.H = property(TP.H)
Tensor.mH = property(TP.mH)
Tensor.is_cpu = property(lambda self: self.device.type == "cpu")
Tensor.is_meta = property(lambda self: isinstance(self._array, MetaArray))
Tensor.is_sparse = False        # a class attribute: SparseCooTensor's says True (cheap test)
Tensor.to_sparse = _sparse_factories.to_sparse
Tensor.to_sparse_coo = _sparse_factories.to_sparse_coo
Tensor.to_sparse_csr = _sparse_factories.to_sparse_csr
Tensor.sparse_mask = _sparse_factories.sparse_mask
Tensor.is_quantized = property(lambda self: False)
Tensor.is_nested = property(lambda self: False)
Tensor.name = None                                    # PyTorch's (named-tensor) default

# round 8: out-of-place bernoulli, strided factories, pinned/shared memory (ops/sampling_round8.py)
Tensor.bernoulli = SR8.bernoulli
Tensor.new_empty_strided = SR8.new_empty_strided
Tensor.pin_memory = SR8.pin_memory
Tensor.is_pinned = SR8.is_pinned
Tensor.share_memory_ = SR8.share_memory_
Tensor.is_shared = SR8.is_shared
Tensor.stft, Tensor.istft = SPEC.stft, SPEC.istft


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
