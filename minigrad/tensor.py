"""``Tensor``: an n-dimensional array that remembers how it was computed.

A Tensor wraps one numpy (CPU) or cupy (CUDA) array, ``_array``, and adds what autodiff needs:
``requires_grad``, ``grad``, and ``grad_fn`` (the ``Function`` node that produced it).  The math
lives in ``minigrad/ops/``; the methods here only forward to it, so that ``x.sum()`` and
``minigrad.sum(x)`` run the same code.

What is here: the ``Tensor`` class (construction, the autograd attributes, hooks, pickling
and copies). What lives apart: ``_tensor_python`` (its base: the legacy constructor's
arguments and Python's conversions -- ``len``, ``bool``, ``float``, ``numpy()``, ``repr``),
``_tensor_base`` (the base of that, and the version counters), ``_size`` (``Size``),
``_data_conversion`` (Python data and numpy arrays to arrays, with PyTorch's dtype rules),
``_tensor_factories`` (``tensor``, ``as_tensor``, ``from_numpy``) and the
``_tensor_methods*`` modules (the math, attached after the ops are defined).
"""
from __future__ import annotations

import copy
import numbers
import warnings
import weakref
from collections import OrderedDict

import numpy as np

from . import backend, dtypes
from ._meta import MetaArray
from ._grad_dtype import _CHOSEN, check_assigned_dtype, grad_dtype_property
from ._grad_state import state as _grad_state
from ._hooks import RemovableHandle, warn_if_has_hooks
from ._type_names import python_type_name
from ._tensor_base import VersionCounter, _INFERENCE
from ._tensor_copies import copied_memory, in_storage, storage_array
from ._tensor_python import TensorPython
from ._size import Size, _SIZE_OF

__all__ = ["Tensor", "Size"]


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




class Tensor(TensorPython):
    """A multi-dimensional array with reverse-mode automatic differentiation.

    Build one with ``minigrad.tensor(data)``, ``minigrad.zeros(...)``, ``minigrad.randn(...)``.
    ``Tensor(data)`` itself, as ``torch.Tensor(data)``, gives the default float dtype, and
    ``Tensor(2, 3)`` (PyTorch's legacy constructor) a tensor of that size (zeros here).
    """
    __slots__ = ("_array", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_vcounter",
                 "_base", "_hooks", "_wrapped_number", "__weakref__", "__dict__")

    # numpy: let Tensor's reflected operators win over ndarray's (array * tensor -> Tensor).
    __array_priority__ = 1000

    def __new__(cls, *args, **kwargs):
        self = _new_object(cls)
        if cls.__new__ is not Tensor.__new__:
            # a subclass's own __new__ calling super().__new__(cls, data): PyTorch's
            # constructor runs here, and the __init__ Python calls next finds it made
            self._construct(*args, **kwargs)
        return self

    def __init__(self, *args, **kwargs):
        try:
            self._array
        except AttributeError:          # not made yet (Tensor(data), a subclass's __init__)
            self._construct(*args, **kwargs)
        # else made by a subclass's __new__ (as_subclass, _make_subclass): as PyTorch's
        # Tensor.__init__, which takes whatever arguments that __new__ took, nothing to do

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
            if value._array.dtype != self._array.dtype or _CHOSEN:    # (some grad_dtype set)
                check_assigned_dtype(self, value._array.dtype)
            if value.device != self.device:
                raise RuntimeError(f"attempting to assign a gradient on device '{value.device}' "
                                   f"to a tensor on device '{self.device}'. Please ensure that "
                                   "the gradient and the tensor are on the same device")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    grad_dtype = grad_dtype_property        # (_grad_dtype.py: what it reads and refuses)

    @property
    def shape(self) -> Size:
        return _SIZE_OF(Size, self._array.shape)

    def size(self, dim=None):
        """The shape as a ``minigrad.Size``, or the length of dimension ``dim``."""
        if dim is None:
            return _SIZE_OF(Size, self._array.shape)
        return self._array.shape[self._dim_of("size", dim)]

    def _dim_of(self, name, dim):
        """The axis that size(dim) / stride(dim) read, with PyTorch's refusals: a dim that is
        no int (an integer tensor of one element is read as its value), any dim of a 0-d
        tensor, a dim out of range."""
        if type(dim) is not int:
            if isinstance(dim, Tensor) and dim._array.dtype.kind in "iu" and dim._array.size == 1:
                dim = int(dim._array.reshape(()))      # PyTorch reads an integer tensor's value
            elif isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
                raise TypeError(f"{name}(): argument 'dim' (position 1) must be int, not "
                                f"{type(dim).__name__}")
        if not self._array.ndim:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        return self._normalize_dim(dim)

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
        if not any(self._array.strides) and (self._array.size == 0 and "_numpy_strides" not in
                                             self.__dict__ or
                                             isinstance(self._array, MetaArray)):
            # numpy gives a new empty array zero strides; PyTorch, the row-major ones (each
            # size counted as at least 1).  An empty array with strides of its own (a view of
            # a tensor, or one laid out channels-last by minigrad) reports them, and so does one
            # made from such a numpy array, as PyTorch (``_tensor_factories``).  A meta
            # array's strides are all 0 (one element stands for all): row-major, as PyTorch's
            strides, n = [], 1
            for size in reversed(self._array.shape):
                strides.append(n)
                n *= max(size, 1)
            strides = tuple(reversed(strides))
        else:
            strides = tuple(s // self._array.itemsize for s in self._array.strides)
        return strides if dim is None else strides[self._dim_of("stride", dim)]

    def data_ptr(self) -> int:
        return backend.data_address(self._array) if self._array.size else 0  # empty: null

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
        return in_storage(t, storage_array(self))     # a view's: its storage, its offset

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
    # numpy's ufuncs, pickling and copies (Python's conversions: _tensor_python.py)
    # ------------------------------------------------------------------------------------------
    def __array_wrap__(self, array, context=None, return_scalar=False):
        # a numpy ufunc applied to a tensor (np.exp(t)) gives a tensor back, as in PyTorch,
        # which holds a bool result as uint8
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        return Tensor._wrap(np.asarray(array))

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
        array, storage = copied_memory(self, memo)      # (a view's: its base's memory copied)
        new = in_storage(_plain_type(self)._wrap(array, self.requires_grad), storage)
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
                          "_post_accumulate_grad_hooks", "_grad_sink", "_made_at",
                          "_numpy_strides", "_storage_root"})


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


# The factories (``tensor``, ``as_tensor``, ``from_numpy``) are in _tensor_factories.py, the data
# conversion under them in _data_conversion.py.  The math methods (x + y, x.sum(), x.to(...),
# x.backward()...) are attached by minigrad/_tensor_methods.py (operators, in-place methods,
# indexing), _tensor_methods_math.py (named math) and _tensor_methods_layout.py (shape, dtype,
# device), which import the ops and the backward engine: those modules are the one place where
# an earlier layer (Tensor) gets code from later ones.
