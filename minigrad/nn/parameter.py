"""``Parameter``: a Tensor that a ``Module`` registers as one of its learnable weights.

Assigning a Parameter to a module attribute (``self.weight = Parameter(...)``) is what makes it
appear in ``module.parameters()`` and ``module.state_dict()``.  It shares memory with the data
it is built from, and requires grad by default.
"""
from __future__ import annotations

import sys

from ..creation import empty
from ..tensor import Tensor
from .._data_conversion import _to_array
from .._torch_function import _disabled_torch_function_impl

__all__ = ["Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer",
           "UninitializedTensorMixin", "is_lazy"]


class Parameter(Tensor):
    """A learnable tensor of a Module: ``Parameter(data, requires_grad=True)``.

    ``data`` (a Tensor or array-like) is wrapped without a copy when it is a Tensor, as in
    PyTorch.  Ops on a Parameter give plain Tensors.

    The Parameter is made by ``__new__``, as PyTorch's, and ``__init__`` does nothing: a
    subclass may give either its own arguments (``super().__new__(cls, data)`` and then
    attributes of its own, or an ``__init__`` that does not call Parameter's).
    """
    # ops on a Parameter (or a subclass of it) give plain Tensors, as in PyTorch
    __torch_function__ = _disabled_torch_function_impl

    def __new__(cls, data=None, requires_grad=True):
        if not isinstance(requires_grad, bool):      # (numpy's bool_ too), as PyTorch
            raise TypeError("_make_subclass(): argument 'require_grad' (position 3) must be "
                            f"bool, not {_qualified(requires_grad)}")
        if data is None:
            data = empty(0)
        array = data._array if isinstance(data, Tensor) else _to_array(data)
        self = cls._wrap(array)
        if isinstance(data, Tensor) and data.is_inference():
            self._vcounter = data._vcounter      # an alias of an inference tensor is one too
        if requires_grad:
            if array.dtype.kind not in "fcV":   # PyTorch's Parameter words it so
                raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                                   "gradients")
            self.requires_grad_(True)
        return self

    def __init__(self, *args, **kwargs):
        pass        # (made by __new__)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        # as PyTorch's: the data (its strides kept) and requires_grad only (no .grad, no
        # attributes)
        new = type(self)._wrap(self._array.copy(order="K"), self.requires_grad)
        memo[id(self)] = new
        return new


def _qualified(value):
    """'int', 'numpy.bool': the type's name as PyTorch's argument errors write it."""
    cls = type(value)
    module = cls.__module__
    return cls.__name__ if module == "builtins" else f"{module}.{cls.__name__}"


_UNINITIALIZED_SHAPE = (
    "Can't access the shape of an uninitialized parameter or buffer. This error usually "
    "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
    "initialized one. Call `forward` to initialize the parameters before accessing their "
    "attributes.")


# the Tensor methods PyTorch still lets a placeholder call (its ``_allowed_methods``); every
# other public method, and the operators below, refuse it (``weight + 1`` on a lazy layer's)
_ALLOWED_METHODS = frozenset(("size", "copy_", "is_complex", "is_floating_point", "half",
                              "float", "double", "char", "short", "int", "long", "cuda", "cpu",
                              "to", "get_device", "materialize", "share_memory_"))
_refused_names = []          # filled at the first look-up (Tensor's methods are attached late)


def _refused_methods():
    if not _refused_names:
        _refused_names.append(frozenset(
            n for n in dir(Tensor) if not n.startswith("_") and n not in _ALLOWED_METHODS
            and callable(getattr(Tensor, n, None)) and not isinstance(getattr(Tensor, n), type)))
    return _refused_names[0]


def _method(name):
    return f"<method '{name}' of 'minigrad.Tensor' objects>"


def _from_user(depth=2):
    """Is the code ``depth`` frames up outside minigrad?  PyTorch refuses a placeholder at
    its Python API (``__torch_function__``), not inside; minigrad's own code, which runs in
    Python too, may still use the placeholder's methods (requires_grad_, detach...)."""
    return not sys._getframe(depth).f_globals.get("__name__", "").startswith("minigrad.")


def _refusing_operator(where, dunder):
    """An operator of the placeholder: PyTorch's ValueError, naming what PyTorch's would
    (``where``: the name of the method it calls, or the callable's own description), when
    called from outside minigrad; Tensor's own ``dunder`` otherwise."""
    def operator(self, *args):
        if _from_user():
            self._refuse(where if where.startswith("<") else _method(where))
        return getattr(Tensor, dunder)(self, *args)
    operator.__name__ = dunder
    return operator


class UninitializedTensorMixin:
    """A placeholder whose shape is not known yet (a lazy layer's weight before its first
    forward).  It holds no data; ``materialize(shape)`` gives it an uninitialised array of
    that shape and turns it, in place, into ``cls_to_become``.

    As PyTorch's, it refuses to be computed with: a method call (but for the few PyTorch
    allows: ``size``, ``to``, ``float``...) or an operator raises ValueError."""
    cls_to_become = Tensor

    @property
    def shape(self):
        raise RuntimeError(_UNINITIALIZED_SHAPE)

    def size(self, dim=None):
        return Tensor.size(self, dim) if dim is not None else Tensor.size(self)

    def __getattribute__(self, name):
        if name[0] != "_" and name in _refused_methods() and _from_user():
            def refused(*args, **kwargs):
                self._refuse(_method(name))
            return refused
        return super().__getattribute__(name)

    def _refuse(self, where):
        if not where.startswith("<"):
            where = _method(where)
        raise ValueError(
            f"Attempted to use an uninitialized parameter in {where}. This error happens when "
            "you are using a `LazyModule` or explicitly manipulating "
            f"`minigrad.nn.parameter.{type(self).__name__}` objects. When using LazyModules Call "
            "`forward` with a dummy batch to initialize the parameters before calling torch "
            "functions")

    # the operators, each named as PyTorch's error names it
    __add__ = _refusing_operator("add", "__add__")
    __radd__ = _refusing_operator("add", "__radd__")
    __iadd__ = _refusing_operator("add", "__iadd__")
    __sub__ = _refusing_operator("sub", "__sub__")
    __isub__ = _refusing_operator("sub", "__isub__")
    __rsub__ = _refusing_operator("<function Tensor.__rsub__>", "__rsub__")
    __mul__ = _refusing_operator("mul", "__mul__")
    __rmul__ = _refusing_operator("mul", "__rmul__")
    __imul__ = _refusing_operator("mul", "__imul__")
    __truediv__ = _refusing_operator("div", "__truediv__")
    __itruediv__ = _refusing_operator("div", "__itruediv__")
    __rtruediv__ = _refusing_operator("<function Tensor.__rdiv__>", "__rtruediv__")
    __floordiv__ = _refusing_operator("<function Tensor.__floordiv__>", "__floordiv__")
    __rfloordiv__ = _refusing_operator("<function Tensor.__rfloordiv__>", "__rfloordiv__")
    __mod__ = _refusing_operator("remainder", "__mod__")
    __pow__ = _refusing_operator("<function TensorBase.pow>", "__pow__")
    __rpow__ = _refusing_operator("<function Tensor.__rpow__>", "__rpow__")
    __matmul__ = _refusing_operator("matmul", "__matmul__")
    __rmatmul__ = _refusing_operator("<function Tensor.__rmatmul__>", "__rmatmul__")
    __neg__ = _refusing_operator("neg", "__neg__")
    __abs__ = _refusing_operator("abs", "__abs__")
    __invert__ = _refusing_operator("__invert__", "__invert__")
    __and__ = _refusing_operator("__and__", "__and__")
    __or__ = _refusing_operator("__or__", "__or__")
    __xor__ = _refusing_operator("__xor__", "__xor__")
    __eq__ = _refusing_operator("__eq__", "__eq__")
    __ne__ = _refusing_operator("ne", "__ne__")
    __lt__ = _refusing_operator("lt", "__lt__")
    __le__ = _refusing_operator("le", "__le__")
    __gt__ = _refusing_operator("gt", "__gt__")
    __ge__ = _refusing_operator("ge", "__ge__")
    __bool__ = _refusing_operator("__bool__", "__bool__")
    __float__ = _refusing_operator("__float__", "__float__")
    __int__ = _refusing_operator("__int__", "__int__")
    __iter__ = _refusing_operator("dim", "__iter__")
    __len__ = _refusing_operator("<function Tensor.__len__>", "__len__")
    __getitem__ = _refusing_operator("<slot wrapper '__getitem__' of 'minigrad.Tensor' "
                                     "objects>", "__getitem__")
    __setitem__ = _refusing_operator("<slot wrapper '__setitem__' of 'minigrad.Tensor' "
                                     "objects>", "__setitem__")
    __hash__ = Tensor.__hash__

    # what counting code reads first (``sum(p.numel() ...)``) refuses, as in PyTorch
    def numel(self):
        self._refuse("numel")

    def nelement(self):
        self._refuse("numel")

    def dim(self):
        self._refuse("dim")

    def materialize(self, shape, device=None, dtype=None):
        """Give the placeholder an (uninitialised) array of ``shape``; it becomes a plain
        ``cls_to_become`` (a Parameter, or a Tensor for a buffer)."""
        device = self.device if device is None else device
        dtype = self.dtype if dtype is None else dtype
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self._array = empty(*shape, dtype=dtype, device=device)._array
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, device=self.device, dtype=self.dtype)
        return memo[id(self)]


def is_lazy(param):
    """Whether ``param`` is a lazy module's placeholder (not materialized yet)."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet (what a lazy layer holds before its first
    forward); ``materialize(shape)`` makes it a Parameter of that shape."""
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return Parameter.__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet; ``materialize(shape)`` makes it a Tensor."""
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        self._init(empty(0, device=device, dtype=dtype)._array, requires_grad)
        self.persistent = persistent


class _BufferMeta(type):
    """``isinstance(t, Buffer)`` is true for the tensors ``Buffer(...)`` made: they are
    plain tensors marked ``_is_buffer``."""

    def __instancecheck__(cls, instance):
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Mark a tensor as a module buffer: ``self.stats = Buffer(t, persistent=False)`` in a
    Module registers it as ``register_buffer("stats", t, persistent=False)`` would.

    Returns ``data.detach()`` (no copy; ``requires_grad`` kept) marked with ``persistent``;
    ``data=None`` gives an empty tensor.
    """

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise AttributeError(f"'{type(data).__name__}' object has no attribute 'detach' "
                                 "(Buffer expects a Tensor)")
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t
