"""``torch.library``: custom operators, defined from a Python function.

    @custom_op("demo::cube", mutates_args=())
    def cube(x: Tensor) -> Tensor:              # any code: numpy, a C library, ...
        return minigrad.from_numpy(x.numpy() ** 3)

    def keep_input(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    def cube_grad(ctx, grad):                   # d(x^3)/dx = 3 x^2
        x, = ctx.saved_tensors
        return 3 * grad * x * x

    cube.register_autograd(cube_grad, setup_context=keep_input)

``custom_op`` reads the function's type annotations into PyTorch's schema (``(Tensor x) ->
Tensor``; annotations are required, as in PyTorch) and returns a ``CustomOpDef``. Calling it
checks the arguments against the schema, runs the kernel (the function, or one registered for
the input's device with ``register_kernel``) with autograd off, refuses an output that aliases
an input, and, when an input needs a gradient, records one node whose backward is what
``register_autograd`` gave (a custom ``autograd.Function`` underneath, so ``ctx`` is that
Function's: ``save_for_backward``, ``needs_input_grad``...). Without one, backward raises, as
PyTorch's does. An op that mutates its arguments records no node.

``register_fake`` keeps the function: PyTorch calls it only while tracing, which minigrad
never does. ``torch.ops.<namespace>.<name>`` finds a custom op by its name (an
``OpOverloadPacket``-like handle: call it, or its ``.default``). Left out, because minigrad has
no dispatcher for them to register into: ``Library``/``define``/``impl``, ``opcheck``,
``register_vmap``/``register_autocast``/``register_torch_dispatch``, and ``torch.ops.aten``.
"""
from __future__ import annotations

import collections.abc
import inspect
import types
import typing

from . import backend, ops as _ops
from .autograd.function import Function
from .autograd.grad_mode import is_grad_enabled, no_grad
from .backend import Device
from .dtypes import DType
from .tensor import Tensor

__all__ = ["CustomOpDef", "custom_op", "infer_schema", "register_autograd", "register_fake",
           "register_kernel"]

_OPS = {}       # "namespace::name" -> CustomOpDef
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                 "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")
_SCALAR = {int, float, bool}
_PLAIN_TYPES = {Tensor: "Tensor", int: "SymInt", float: "float", bool: "bool", str: "str",
                DType: "ScalarType", Device: "Device"}
_LIST_ITEMS = {"Tensor", "Tensor?", "SymInt", "float", "bool", "Scalar"}


# ----------------------------------------------------------------------------------------------
# Schemas from annotations
# ----------------------------------------------------------------------------------------------
def _type_name(annotation):
    """The schema's name of a parameter annotation, or None when it has none."""
    if annotation in _PLAIN_TYPES:
        return _PLAIN_TYPES[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = set(args) - {type(None)}
        if rest == _SCALAR:
            inner = "Scalar"
        elif len(rest) == 1 and len(args) == 2:
            inner = _type_name(rest.pop())
            if inner is None or inner.endswith("?") or inner == "Tensor[]":
                return None
        else:
            return None
        return inner + "?" if type(None) in args else inner
    if origin in (list, collections.abc.Sequence) and len(args) == 1:
        inner = _type_name(args[0])
        return inner + "[]" if inner in _LIST_ITEMS else None
    return None


def _return_name(annotation, error):
    if annotation is None or annotation is type(None):
        return "()"
    if typing.get_origin(annotation) is tuple:
        return "(" + ", ".join(_one_return(a, error) for a in typing.get_args(annotation)) + ")"
    return _one_return(annotation, error)


def _one_return(annotation, error):
    name = _type_name(annotation)
    if name not in ("Tensor", "Tensor[]", "SymInt", "float", "bool", "Scalar"):
        error(f"Return has unsupported type {annotation}. The valid types are: Tensor, "
              "list[Tensor], int, float, bool, int | float | bool, or a tuple of them.")
    return name


def _default_text(value):
    if value is None or isinstance(value, (bool, int, float)):
        return str(value)
    if isinstance(value, (str, Device)):
        return f'"{value}"'
    if isinstance(value, DType):
        return str(value).rsplit(".", 1)[-1]
    return None


def _mutated_names(signature, hints, mutates_args, error):
    names = list(signature.parameters)
    if mutates_args == "unknown":
        return {n for n in names if (_type_name(hints.get(n)) or "").startswith("Tensor")}
    mutated = set(mutates_args)
    missing = mutated - set(names)
    if missing:
        error(f"{missing} in mutates_args were not found in the custom op's signature. "
              "mutates_args should contain the names of all args that the custom op "
              "mutates, or just the string 'unknown' if you don't know.")
    return mutated


def infer_schema(prototype_function, /, *, mutates_args, op_name=None):
    """PyTorch's schema of a function from its annotations: ``(Tensor x, SymInt n=2) ->
    Tensor``; a mutated Tensor argument is written ``Tensor(a0!) x``."""
    signature = inspect.signature(prototype_function)

    def error(what):
        raise ValueError(f"infer_schema(func): {what} Got func with signature {signature})")

    hints = typing.get_type_hints(prototype_function)
    params, seen_keyword = [], False
    mutated = _mutated_names(signature, hints, mutates_args, error)
    for index, (name, param) in enumerate(signature.parameters.items()):
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            error("We do not support positional-only args, varargs, or varkwargs.")
        if param.kind == param.KEYWORD_ONLY and not seen_keyword:
            params.append("*")
            seen_keyword = True
        if param.annotation is param.empty:
            error(f"Parameter {name} must have a type annotation.")
        kind = _type_name(hints.get(name))
        if kind is None:
            error(f"Parameter {name} has unsupported type {hints.get(name)}. The valid types "
                  "are: Tensor, int, float, bool, str, dtype, device, int | float | bool, "
                  "their Optional forms and Sequences/lists of Tensors and numbers.")
        if name in mutated:
            if not kind.startswith("Tensor"):
                error(f"Parameter {name} is in mutable_args but only Tensors or collections "
                      "of Tensors can be mutated")
            kind = f"Tensor(a{index}!){kind[len('Tensor'):]}"
        if param.default is param.empty:
            params.append(f"{kind} {name}")
            continue
        text = _default_text(param.default)
        if text is None:
            error(f"Parameter {name} has an unsupported default value type "
                  f"{type(param.default)}. Please file an issue on GitHub so we can "
                  "prioritize this.")
        params.append(f"{kind} {name}={text}")
    if signature.return_annotation is signature.empty:
        error("No return type annotation was provided. Please add one.")
    returns = _return_name(hints.get("return"), error)
    return f"{op_name or ''}({', '.join(params)}) -> {returns}"


# ----------------------------------------------------------------------------------------------
# The operator
# ----------------------------------------------------------------------------------------------
class CustomOpDef:
    """What ``custom_op`` returns: call it as the function it wraps."""

    def __init__(self, namespace, name, schema, fn, mutated):
        self._namespace, self._name = namespace, name
        self._qualname = f"{namespace}::{name}"
        self._schema = schema
        self._init_fn = fn
        self._signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
        self._mutated = frozenset(mutated)
        self._tensor_params = {n for n in self._signature.parameters if hints.get(n) is Tensor}
        self._returns_list = typing.get_origin(hints.get("return")) is list
        self._returns_tensor = "Tensor" in schema.rsplit("->", 1)[-1]
        self._backend_fns = {}
        self._abstract_fn = None
        self._backward_fn = None
        self._setup_context_fn = None
        self._device_types = None
        self._autograd_class = self._make_autograd_class()

    def __repr__(self):
        return f"<CustomOpDef({self._qualname})>"

    def _declaration(self):
        return f"{self._qualname}{self._schema}"

    # -- registrations -----------------------------------------------------------------------
    def register_kernel(self, device_types, fn=None, /):
        """The implementation for inputs on these devices (``"cpu"``, ``"cuda"``), in place of
        the function ``custom_op`` decorated. A decorator when ``fn`` is not given."""
        kinds = [device_types] if isinstance(device_types, str) or device_types is None \
            else list(device_types)
        for kind in kinds:
            if kind is not None and kind.split(":")[0] not in _DEVICE_TYPES:
                raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at "
                                   f"start of device string: {kind}")

        def register(func):
            for kind in kinds:
                if kind is None:
                    self._init_fn = func
                else:
                    self._backend_fns[kind.split(":")[0]] = func
            return func
        return register if fn is None else register(fn)

    def register_fake(self, fn, /):
        """The function that says an output's shape and dtype without computing it. PyTorch
        calls it while tracing; minigrad never traces, so it is kept and returned."""
        self._abstract_fn = fn
        return fn

    def register_autograd(self, backward, /, *, setup_context=None):
        """``backward(ctx, *grads)`` -> one gradient per input (None for non-Tensors);
        ``setup_context(ctx, inputs, output)`` saves what backward needs."""
        if self._mutated:
            raise RuntimeError(
                f"Cannot register autograd formula for non-functional operator {self!r} with "
                f"schema {self._declaration()}. Please create a functional operator and "
                "register an autograd formula for that.")
        self._backward_fn = backward
        self._setup_context_fn = setup_context

    # -- calls ---------------------------------------------------------------------------------
    def _make_autograd_class(self):
        op = self
        where = f"{op._namespace}.{op._name}.default"

        def forward(*inputs):
            return op._run(inputs)

        def setup_context(ctx, inputs, output):
            if op._setup_context_fn is not None:
                op._setup_context_fn(ctx=ctx, inputs=inputs, output=output)   # by keyword, as torch

        def backward(ctx, *grads):
            if op._backward_fn is None:
                raise RuntimeError(f"Trying to backward through {where} but no autograd "
                                   "formula was registered. Please use register_autograd to "
                                   "add one.")
            return op._backward_fn(ctx, *grads)

        name = f"GeneratedBackwardFor_{op._namespace}_{op._name}_defaultBackward"
        return type(name, (Function,), {"forward": staticmethod(forward),
                                        "setup_context": staticmethod(setup_context),
                                        "backward": staticmethod(backward),
                                        "name": classmethod(lambda cls: cls.__name__)})

    def _bind(self, args, kwargs):
        n_positional = sum(p.kind == p.POSITIONAL_OR_KEYWORD
                           for p in self._signature.parameters.values())
        if len(args) > n_positional:
            raise RuntimeError(f"{self._qualname}() expected at most {n_positional} "
                               f"argument(s) but received {len(args)} argument(s). "
                               f"Declaration: {self._declaration()}")
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise RuntimeError(f"{self._qualname}() {e}. Declaration: "
                               f"{self._declaration()}") from None
        bound.apply_defaults()
        for position, name in enumerate(self._signature.parameters):
            value = bound.arguments[name]
            if name in self._tensor_params and not isinstance(value, Tensor):
                raise RuntimeError(
                    f"{self._qualname}() Expected a value of type 'Tensor' for argument "
                    f"'{name}' but instead found type '{type(value).__name__}'.\nPosition: "
                    f"{position}\nValue: {value}\nDeclaration: {self._declaration()}\nCast "
                    f"error details: Unable to cast {value} to Tensor")
        return tuple(bound.arguments.values())

    def _run(self, inputs):
        """The kernel on ``inputs`` (every argument, in the signature's order)."""
        device = next((a.device.type for a in inputs if isinstance(a, Tensor)), "cpu")
        kernel = self._backend_fns.get(device)
        if kernel is None:
            if self._device_types is not None and device not in self._device_types:
                raise NotImplementedError(f"{self._qualname}: no kernel for device type "
                                          f"'{device}' (custom_op was given device_types="
                                          f"{self._device_types})")
            kernel = self._init_fn
        args, kwargs = [], {}
        for value, param in zip(inputs, self._signature.parameters.values()):
            if param.kind == param.KEYWORD_ONLY:
                kwargs[param.name] = value
            else:
                args.append(value)
        with no_grad():
            out = kernel(*args, **kwargs)
        self._check_aliasing(inputs, out)
        return tuple(out) if isinstance(out, list) else out

    def _check_aliasing(self, inputs, out):
        outs = out if isinstance(out, (tuple, list)) else (out,)
        arrays = [a._array for a in inputs if isinstance(a, Tensor)]
        for k, o in enumerate(o for o in outs if isinstance(o, Tensor)):
            if any(o._array is a or backend.xp_of(a).may_share_memory(o._array, a)
                   for a in arrays):
                raise RuntimeError(
                    f"{self._name} (with implementation in {inspect.getmodule(self._init_fn)})"
                    ": The output of this custom operator (1) must not also be an input to this "
                    "custom operator and (2) may not alias any inputs to this custom operator or "
                    "other returns. The most common way to trigger this error is if we have y = "
                    "custom_op(x) and y and x are the same Tensor. Please instead return a clone "
                    "of the offending output tensor(s) (e.g. return x.clone()) or refactor the "
                    "custom operator to not return y.")

    def __call__(self, *args, **kwargs):
        inputs = self._bind(args, kwargs)
        needs_node = (self._returns_tensor and not self._mutated and is_grad_enabled() and
                      any(isinstance(a, Tensor) and a.requires_grad for a in inputs))
        if not needs_node:
            out = self._run(inputs)
        else:
            out = self._autograd_class.apply(*inputs)
        if isinstance(out, tuple) and self._returns_list:
            return list(out)
        return out


def custom_op(name, fn=None, /, *, mutates_args, device_types=None, schema=None, tags=None):
    """Make ``fn`` an operator named ``"namespace::name"``; ``mutates_args`` names the
    arguments it writes into (``()`` for none, or ``"unknown"``). A decorator when ``fn`` is
    not given."""
    if not (mutates_args == "unknown" or (not isinstance(mutates_args, str) and
                                          isinstance(mutates_args, collections.abc.Iterable))):
        raise ValueError("mutates_args must either be a sequence of the names of the arguments "
                         "that are mutated or the string 'unknown'. ")

    def inner(func):
        namespace, opname = name.split("::")
        text = infer_schema(func, mutates_args=mutates_args) if schema is None else schema
        signature = inspect.signature(func)
        mutated = _mutated_names(signature, typing.get_type_hints(func), mutates_args,
                                 _raise_value_error)
        op = CustomOpDef(namespace, opname, text, func, mutated)
        if device_types is not None:
            op._device_types = (device_types,) if isinstance(device_types, str) \
                else tuple(device_types)
        _OPS[op._qualname] = op
        _ops.custom_namespaces.setdefault(op._namespace, _OpNamespace(op._namespace))
        return op
    return inner if fn is None else inner(fn)


class _OpPacket:
    """``torch.ops.<namespace>.<name>`` of a custom op: calling it (or its one overload,
    ``.default``) calls the op."""

    def __init__(self, op):
        self._op = op
        self.default = op
        self._qualified_op_name = op._qualname

    def __call__(self, *args, **kwargs):
        return self._op(*args, **kwargs)

    def overloads(self):
        return ["default"]

    def __repr__(self):
        return f"<OpOverloadPacket(op='{self._op._namespace}.{self._op._name}')>"

    def __str__(self):
        return f"{self._op._namespace}.{self._op._name}"


class _OpNamespace:
    """``torch.ops.<namespace>``: its attributes are the custom ops made under that name;
    an unknown one raises PyTorch's AttributeError."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, opname):
        op = _OPS.get(f"{self._name}::{opname}")
        if op is None or opname.startswith("__"):
            raise AttributeError(f"'_OpNamespace' '{self._name}' object has no attribute "
                                 f"'{opname}'")
        return _OpPacket(op)

    def __repr__(self):
        return f"<module 'torch.ops.{self._name}' from 'torch.ops'>"


def _raise_value_error(what):
    raise ValueError(what)


def _lookup(op):
    if isinstance(op, CustomOpDef):
        return op
    if isinstance(op, str) and op in _OPS:
        return _OPS[op]
    namespace, _, opname = str(op).partition("::")
    raise AttributeError(f"'_OpNamespace' '{namespace}' object has no attribute '{opname}'")


def register_autograd(op, backward, /, *, setup_context=None, lib=None):
    """``op.register_autograd(backward, setup_context=...)`` for an op or its name."""
    _lookup(op).register_autograd(backward, setup_context=setup_context)


def register_fake(op, func=None, /, *, lib=None, _stacklevel=1, allow_override=True):
    """``op.register_fake(func)`` for an op or its name; a decorator without ``func``."""
    target = _lookup(op)
    return target.register_fake if func is None else target.register_fake(func)


def register_kernel(op, device_types, func=None, /, *, lib=None):
    """``op.register_kernel(device_types, func)`` for an op or its name."""
    return _lookup(op).register_kernel(device_types, func)
