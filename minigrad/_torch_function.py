"""``__torch_function__``: Tensor subclasses and Tensor-likes take over minigrad's functions.

PyTorch offers every public function and Tensor method to the ``__torch_function__`` of the
arguments whose class defines one (a Tensor subclass, or any object that acts like a
tensor), before it runs::

    class Logged(minigrad.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            print(func.__name__)                          # mul, add, relu, sum
            return super().__torch_function__(func, types, args, kwargs)

    y = (x.as_subclass(Logged) * 2 + 1).relu().sum()     # y is a Logged too

The inherited handler (``Tensor.__torch_function__``, here ``default``) runs ``func`` with
the protocol switched off for subclasses and gives its Tensor results the caller's class
(``convert``), so that a subclass that overrides nothing keeps its class through every op.
A subclass that wants plain Tensors back sets ``__torch_function__ =
_disabled_torch_function_impl`` (``Parameter`` does).

What it costs, and when: nothing, until something takes part. A Tensor subclass that
takes part (``__init_subclass__``) gets dispatching twins of the Tensor methods and
properties in its own class dict (``install_methods``); and once, for the whole process,
minigrad's public functions (``minigrad.*``, ``nn.functional``, ``linalg``, ``special``,
``fft``) are replaced in their namespaces by dispatching twins (``install_functions``), and
Tensor's own named methods by twins too, so that ``t.add(sub)`` reaches ``sub``'s handler.
A Tensor-like that is not a Tensor subclass is found where a function refuses its argument
(``offer_refused``). While a ``TorchFunctionMode`` is active (``_torch_function_mode``), every
twin is in place, Tensor's operators and properties included, and each twin offers its call
to the innermost mode first (``offer_to_mode``); when the last mode exits, the twins that
only modes needed are taken out again (``set_mode_twins``). What differs from PyTorch is
listed in docs/autograd.md.
"""
from __future__ import annotations

import functools
import inspect
import sys

from ._torch_function_dispatch import (NOT_OFFERED, DisableTorchFunction,
                                       DisableTorchFunctionSubclass,
                                       _disabled_torch_function_impl, dispatch,
                                       is_torch_function_enabled, offer_to_mode,
                                       overloaded_args, relevant_args, takes_part)
from ._torch_function_dispatch import _class_takes_part
from ._torch_function_tables import FUNCTIONAL_IN_C as _FUNCTIONAL_IN_C, \
    MODES_ONLY as _MODES_ONLY, SELF_TYPED as _SELF_TYPED, UNOFFERED as _UNOFFERED
from .tensor import Tensor

__all__ = ["DisableTorchFunctionSubclass", "DisableTorchFunction",
           "_disabled_torch_function_impl", "is_torch_function_enabled", "takes_part",
           "relevant_args", "overloaded_args", "dispatch", "offer_to_mode", "default",
           "convert", "install_methods", "offered_functions", "offered_method_names",
           "install_functions", "set_mode_twins", "offer_refused", "NOT_OFFERED"]

live_modes = 0      # modes entered and not exited, in all threads: the twins look only then


# ----------------------------------------------------------------------------------------------
# The inherited handler
# ----------------------------------------------------------------------------------------------
def convert(result, cls):
    """``result`` with its Tensors (at the top, or items of a tuple or list) made instances
    of ``cls``, as aliases in the graph (``as_subclass``)."""
    if cls is Tensor:
        return result
    if isinstance(result, Tensor):
        return result if isinstance(result, cls) else result.as_subclass(cls)
    if isinstance(result, (tuple, list)):
        items = [convert(item, cls) for item in result]
        return type(result)(items)
    return result


_NOT_CONVERTED = set()      # the properties' getters whose result stays as it is (grad)


def default(cls, func, types, args=(), kwargs=None):
    """``Tensor.__torch_function__``: run ``func`` with subclasses switched off and give its
    Tensor results the class ``cls``; ``NotImplemented`` when another class in ``types`` is
    not one of cls's parents (that class's own handler is asked instead)."""
    if not all(issubclass(cls, kind) for kind in types):
        return NotImplemented
    with DisableTorchFunctionSubclass():
        result = func(*args, **(kwargs or {}))
        if func in _NOT_CONVERTED:
            return result
        return convert(result, cls)


Tensor.__torch_function__ = classmethod(default)


# ----------------------------------------------------------------------------------------------
# Dispatching twins of the methods (per subclass) and of the functions (once)
# ----------------------------------------------------------------------------------------------
# dunders that PyTorch offers to the protocol (not: construction, attribute access, pickling
# and copying, which go through their own paths, and __hash__ / __iter__, which it ignores)
_DUNDERS = frozenset(
    "__add__ __radd__ __iadd__ __sub__ __rsub__ __isub__ __mul__ __rmul__ __imul__ "
    "__truediv__ __rtruediv__ __itruediv__ __rdiv__ __floordiv__ __rfloordiv__ __ifloordiv__ "
    "__mod__ __rmod__ __imod__ __pow__ __rpow__ __ipow__ __matmul__ __rmatmul__ __neg__ "
    "__pos__ __abs__ __invert__ __and__ __rand__ __iand__ __or__ __ror__ __ior__ __xor__ "
    "__rxor__ __ixor__ __lshift__ __rlshift__ __ilshift__ __rshift__ __rrshift__ __irshift__ "
    "__eq__ __ne__ __lt__ __le__ __gt__ __ge__ __getitem__ __setitem__ __len__ __bool__ "
    "__float__ __int__ __index__ __complex__ __format__ __contains__ __reversed__ "
    "__array__".split())
# the properties whose value is a Tensor (PyTorch offers every property; these are the ones
# whose class the handler changes, or, for grad, deliberately keeps)
_PROPERTIES = ("T", "mT", "H", "mH", "real", "imag", "data", "grad")
# methods that PyTorch does not offer: making tensors from other things, and the layout
_UNOFFERED_METHODS = frozenset(("as_subclass", "new", "new_empty", "new_empty_strided",
                                "new_full", "new_ones", "new_tensor", "new_zeros", "stride",
                                "unflatten", "to_sparse_coo"))


# the operators that PyTorch offers as the method they run (``x * 2`` and ``2 * x`` offer
# Tensor.mul with (x, 2), ``x += 1`` Tensor.add_, ``x != y`` Tensor.ne); the other dunders
# offer themselves (``__rsub__``, ``__eq__``, ``__getitem__``, ``__floordiv__``, ``__pow__``)
_DUNDER_METHODS = {
    "__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub",
    "__isub__": "sub_", "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul_",
    "__truediv__": "div", "__rtruediv__": "__rdiv__", "__itruediv__": "div_",
    "__ifloordiv__": "floor_divide_", "__mod__": "remainder", "__imod__": "remainder_",
    "__matmul__": "matmul", "__neg__": "neg",
    "__pos__": "positive", "__abs__": "abs", "__rand__": "bitwise_and",
    "__ror__": "bitwise_or", "__rxor__": "bitwise_xor", "__ne__": "ne", "__lt__": "lt",
    "__le__": "le", "__gt__": "gt", "__ge__": "ge"}
# the offered dunders that are not binary operators (a binary one's TypeError, the
# handler's too, becomes NotImplemented, as in PyTorch, so that Python asks the other operand)
_NOT_BINARY = frozenset(
    "__neg__ __pos__ __abs__ __invert__ __getitem__ __setitem__ __len__ __bool__ __float__ "
    "__int__ __index__ __complex__ __format__ __contains__ __reversed__ __array__".split())


# methods that PyTorch offers to modes only (the factories above, and printing)
_MODES_ONLY_METHODS = (_UNOFFERED_METHODS - {"as_subclass"}) | {"__repr__"}


def _offer(offered, qualified, args, kwargs, subclasses=True, with_self=False):
    """The call offered to this thread's mode, then (``subclasses``) to the arguments'
    handlers: their answer, or ``NOT_OFFERED`` when nothing took it. ``with_self``: a plain
    Tensor first argument is in the mode's ``types`` (``offer_to_mode``)."""
    if live_modes:
        result = offer_to_mode(offered, qualified, args, kwargs, with_self=with_self)
        if result is not NOT_OFFERED:
            return result
    if subclasses:
        relevant = relevant_args(args, kwargs)
        if relevant:
            return dispatch(offered, qualified, relevant, args, kwargs)
    return NOT_OFFERED


# a subclass's reflected operator and the operator it reflects: Python asks the subclass's
# own twin first for ``t - sub``, where PyTorch's subclass (no ``__rsub__`` of its own) is
# asked as the argument of ``t.__sub__``; the twin gives the call that form
_REFLECTED = {f"__r{op}__": f"__{op}__" for op in (
    "add sub mul truediv floordiv mod pow matmul and or xor lshift rshift".split())}


def _method_twin(name, func, subclasses=True):
    method_name = _DUNDER_METHODS.get(name, name)
    qualified = f"torch.Tensor.{method_name}"
    binary = name in _DUNDERS and name not in _NOT_BINARY
    with_self = method_name in _SELF_TYPED
    forward = _REFLECTED.get(name)

    @functools.wraps(func)
    def method(self, *args, **kwargs):
        if forward and args and isinstance(args[0], Tensor) and \
                type(args[0]) is not type(self) and isinstance(self, type(args[0])):
            result = _method_twins()[forward](args[0], self)
            if result is not NotImplemented:
                return result
        if live_modes or subclasses and relevant_args((self,) + args, kwargs):
            # the handlers get what ``torch.Tensor.<name>`` is now (a twin while one is there)
            offered = getattr(Tensor, method_name)
            if binary:
                try:
                    result = _offer(offered, qualified, (self,) + args, kwargs, subclasses,
                                    with_self)
                except TypeError:
                    return NotImplemented
            else:
                result = _offer(offered, qualified, (self,) + args, kwargs, subclasses,
                                with_self)
            if result is not NOT_OFFERED:
                return result
        return func(self, *args, **kwargs)
    method.__name__ = name      # (PyTorch's name: '__eq__', 'backward', where ours has another)
    method._twin_of = func      # (the parser's words find the method through it)
    return method


def _property_twin(name, prop, subclasses=True):
    """A twin of Tensor's property (or slot) ``prop``: its getter offered to modes and (with
    ``subclasses``) to the subclasses' handlers as ``torch.Tensor.<name>.__get__``, its setter
    to modes as ``__set__`` (self then value), each with ``types`` holding self's class."""
    qualified = f"torch.Tensor.{name}"
    if not isinstance(prop, property):      # a slot (grad_fn): written as it is (minigrad
        return property(lambda self: _slot_get(self, prop, qualified), prop.__set__,  # sets
                        prop.__delete__, getattr(prop, "__doc__", None))  # it, PyTorch not)
    fget, fset, fdel = prop.fget, prop.fset, prop.fdel

    def get(self):
        if live_modes or subclasses and relevant_args((self,)):
            # the handlers get ``torch.Tensor.<name>.__get__`` as it is now
            result = _offer(Tensor.__dict__[name].__get__, qualified + ".__get__", (self,),
                            None, subclasses, True)
            if result is not NOT_OFFERED:
                return result
        return fget(self)

    def set_(self, value):
        if live_modes:
            result = offer_to_mode(Tensor.__dict__[name].__set__, qualified + ".__set__",
                                   (self, value), None, with_self=True)
            if result is not NOT_OFFERED:
                return
        fset(self, value)
    return property(get, set_ if fset is not None else None, fdel,
                    getattr(prop, "__doc__", None))


def _slot_get(self, slot, qualified):
    """A mode-only twin's read of the slot ``slot``, offered to the mode first."""
    if live_modes:
        name = qualified.rpartition(".")[2]
        result = offer_to_mode(Tensor.__dict__[name].__get__, qualified + ".__get__", (self,),
                               None, with_self=True)
        if result is not NOT_OFFERED:
            return result
    return slot.__get__(self, Tensor)


_MODE_METHOD_TWINS = {}     # {name: twin} of the methods offered to modes only
# the properties (and the slot grad_fn) whose getters PyTorch offers to modes and that
# ``_PROPERTIES`` does not hold: their twins are on Tensor only while a mode is active
_MODE_PROPERTY_TWINS = {}
_MODE_SLOTS = ("grad_fn", "_base")


@functools.lru_cache(maxsize=1)
def _method_twins():
    """{name: twin} for Tensor's public methods and offered dunders, and the properties
    (and, in ``_MODE_METHOD_TWINS``, the methods that only modes are offered), made before
    any twin is set on Tensor, so that each wraps Tensor's own."""
    twins = {}
    for klass in reversed(Tensor.__mro__[:-1]):
        for name, attr in vars(klass).items():
            offered = name in _DUNDERS or not name.startswith("_") and \
                name not in _UNOFFERED_METHODS
            if offered and callable(attr) and not isinstance(attr, (type, staticmethod,
                                                                    classmethod)):
                twins[name] = _method_twin(name, getattr(Tensor, name))
    for name in _PROPERTIES:
        twins[name] = _property_twin(name, vars(Tensor)[name])
        if name == "grad":
            _NOT_CONVERTED.update((vars(Tensor)[name].__get__, twins[name].__get__))
    for name in sorted(_MODES_ONLY_METHODS):
        if callable(getattr(Tensor, name, None)):
            _MODE_METHOD_TWINS[name] = _method_twin(name, getattr(Tensor, name), False)
    for klass in reversed(Tensor.__mro__[:-1]):
        for name, attr in vars(klass).items():
            if isinstance(attr, property) and name not in twins and (
                    not name.startswith("_") or name in ("_version", "_backward_hooks")):
                _MODE_PROPERTY_TWINS[name] = _property_twin(name, attr, False)
    for name in _MODE_SLOTS:
        _MODE_PROPERTY_TWINS[name] = _property_twin(name, vars(Tensor)[name], False)
    return twins


def install_methods(cls):
    """Give subclass ``cls`` the dispatching twins of the Tensor methods and properties that
    no class between it and Tensor defines (its own stay its own)."""
    between = [vars(klass) for klass in cls.__mro__ if klass is not Tensor and
               issubclass(klass, Tensor) and klass is not cls]
    own = vars(cls)
    for name, twin in {**_method_twins(), **_MODE_METHOD_TWINS}.items():
        if name in own or any(name in d for d in between):
            continue
        setattr(cls, name, twin)


# namespace (as sys.modules names it) -> the prefix of PyTorch's name for its functions
_NAMESPACES = (("minigrad", "torch"), ("minigrad.nn.functional", "torch.nn.functional"),
               ("minigrad.linalg", "torch.linalg"), ("minigrad.special", "torch.special"),
               ("minigrad.fft", "torch.fft"))
_functions_installed = False    # for good: a class that takes part has appeared
_mode_twins_on = False          # while a mode is active
_ABSENT = object()


def _python_level(prefix, name):
    return prefix == "torch.nn.functional" and name not in _FUNCTIONAL_IN_C


def _function_twin(fn, module_name, name, prefix, subclasses=True):
    """``fn`` offering its calls first (to modes only, unless ``subclasses``); pickled by
    reference as ``module_name.name`` (the namespace that holds it)."""
    qualified = f"{prefix}.{name}"
    tensors_typed = "all" if _python_level(prefix, name) else False

    @functools.wraps(fn)
    def public(*args, **kwargs):
        if live_modes or subclasses and relevant_args(args, kwargs):
            result = _offer(public, qualified, args, kwargs, subclasses, tensors_typed)
            if result is not NOT_OFFERED:
                return result
        try:
            return fn(*args, **kwargs)
        except TypeError as exc:
            _named_as_public(exc, fn, name)
            raise
    public.__module__, public.__qualname__ = module_name, name
    public._twin_of = fn            # (the parser's words find the function through it)
    return public


def _named_as_public(exc, fn, name):
    """Python's refusal of a call of ``fn`` (too few or too many arguments) names it by its
    ``__qualname__``, which ``install_functions`` may have set to ``_plain_<name>``: the
    words name it ``name`` again, as they did before."""
    words = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    plain = getattr(fn, "__qualname__", name)
    if plain != name and exc.__traceback__.tb_next is None and words.startswith(plain + "("):
        exc.args = (name + words[len(plain):],) + exc.args[1:]


def _public_functions(names_ok):
    found = []
    for module_name, _ in _NAMESPACES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name, fn in list(vars(module).items()):
            if not (name.startswith("_") or not names_ok(name) or isinstance(fn, type) or
                    not callable(fn) or type(fn).__name__ == "module" or
                    not getattr(fn, "__module__", "").startswith("minigrad")):
                found.append((module, name, fn))
    return found


def offered_functions():
    """(namespace module, name, function) of the public functions that take part, as the
    namespaces hold them now (before ``install_functions``: the plain ones)."""
    return _public_functions(lambda name: name not in _UNOFFERED)


def offered_method_names():
    """The Tensor methods and properties that take part."""
    return sorted(_method_twins())


@functools.lru_cache(maxsize=1)
def _function_table():
    """(module, name, plain function, twin, whether the module is its home) for each name
    of the namespaces, and of the layers' modules, that gets a twin; one twin for a
    function that several names hold. Made once, before any twin is set."""
    prefixes, twins, table = dict(_NAMESPACES), {}, []
    found = [(m, n, f, True) for m, n, f in offered_functions()] + \
        [(m, n, f, False) for m, n, f in _public_functions(_MODES_ONLY.__contains__)]
    for module, name, fn, subclasses in found:
        # (a function that nn.functional shares with torch gets a twin of each kind there)
        key = (id(fn), _python_level(prefixes[module.__name__], name))
        if key not in twins:
            twins[key] = (fn, _function_twin(fn, module.__name__, name,
                                             prefixes[module.__name__], subclasses))
        home = getattr(fn, "__module__", None) == module.__name__ and \
            getattr(fn, "__qualname__", None) == name
        table.append((module, name, fn, twins[key][1], home))
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("minigrad.nn.modules.") and module is not None:
            for name, fn in list(vars(module).items()):
                # (the layers call nn.functional's)
                twin = twins.get((id(fn), True)) or twins.get((id(fn), False))
                if twin is not None and twin[0] is fn:
                    table.append((module, name, fn, twin[1], False))
    return table


def _set_functions(on):
    """Put the function twins in their namespaces (a plain function whose home is a namespace
    stays reachable there as ``_plain_<name>``, so that one kept from before, a default
    argument say, still pickles by reference), or take them out again."""
    for module, name, fn, twin, home in _function_table():
        if on:
            setattr(module, name, twin)
            if home:
                setattr(module, f"_plain_{name}", fn)
                fn.__qualname__ = f"_plain_{name}"
        elif vars(module).get(name) is twin:
            setattr(module, name, fn)
            if home:
                fn.__qualname__ = name
                if f"_plain_{name}" in vars(module):
                    delattr(module, f"_plain_{name}")


def _set_on_tensor(twins, on):
    """Set the twins ``{name: twin}`` on Tensor itself, or put back what was there."""
    for name, twin in twins.items():
        if on:
            setattr(Tensor, name, twin)
        elif vars(Tensor).get(name) is twin:
            original = _TENSOR_OWN[name]
            if original is _ABSENT:
                delattr(Tensor, name)
            else:
                setattr(Tensor, name, original)


def _tensor_twins():
    """(the twins that stay on Tensor once a class takes part: its named methods, in-place
    operators and indexing, through which a subclass argument is reached, ``t.add(sub)``,
    ``t[sub]``; the others, which only modes need: the other operators, the properties,
    and the methods only modes are offered)."""
    if not _TENSOR_OWN:
        every = {**_method_twins(), **_MODE_METHOD_TWINS, **_MODE_PROPERTY_TWINS}
        _TENSOR_OWN.update((name, vars(Tensor).get(name, _ABSENT)) for name in every)
        for name, twin in every.items():
            kept = name in _method_twins() and name not in _PROPERTIES and \
                (not name.startswith("_") or name in _KEPT_DUNDERS) and \
                _takes_arguments(getattr(Tensor, name))
            (_TENSOR_TWINS[0] if kept else _TENSOR_TWINS[1])[name] = twin
    return _TENSOR_TWINS


def _takes_arguments(method):
    """Whether a Tensor method may be given anything beyond ``self`` (a subclass argument
    can reach it then). One that may not (``storage()``, ``numpy()``) keeps no twin on plain
    Tensors: a twin is one frame more between a warning and the line it names."""
    code = getattr(inspect.unwrap(method), "__code__", None)
    if code is None:
        return True
    varying = code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
    return bool(varying or code.co_argcount > 1 or code.co_kwonlyargcount)


_TENSOR_OWN = {}                # Tensor's own attributes that its twins replace (or _ABSENT)
_TENSOR_TWINS = ({}, {})
# the operators of a plain Tensor that a subclass argument reaches only through Tensor's own
# (Python asks a subclass operand first for ``t + sub`` and ``t == sub``, not for these)
_KEPT_DUNDERS = frozenset(
    "__iadd__ __isub__ __imul__ __itruediv__ __ifloordiv__ __imod__ __ipow__ __iand__ "
    "__ior__ __ixor__ __ilshift__ __irshift__ __getitem__ __setitem__ __contains__".split())


def install_functions():
    """Once a class takes part: the function twins in the namespaces (and the layers'
    modules: ``nn.EmbeddingBag`` calls ``embedding_bag`` as PyTorch's calls
    ``F.embedding_bag``), and Tensor's named methods' twins on Tensor, for good."""
    global _functions_installed
    if _functions_installed:
        return
    kept, _ = _tensor_twins()
    _functions_installed = True
    if not _mode_twins_on:
        _set_functions(True)
        _set_on_tensor(kept, True)


def set_mode_twins(on):
    """When the first mode is entered (``on``) every twin goes in place, Tensor's operators
    and properties included; when the last one exits, those that nothing else needs go."""
    global _mode_twins_on
    kept, only_modes = _tensor_twins()
    _mode_twins_on = on
    _set_on_tensor(only_modes, on)
    if not _functions_installed:
        _set_functions(on)
        _set_on_tensor(kept, on)


def _init_subclass(cls, **kwargs):
    """A new Tensor subclass that takes part: its method twins, and the function twins."""
    super(Tensor, cls).__init_subclass__(**kwargs)
    if _class_takes_part(cls):
        install_methods(cls)
        install_functions()


Tensor.__init_subclass__ = classmethod(_init_subclass)


# ----------------------------------------------------------------------------------------------
# Tensor-likes: found where a function refuses an argument that is not a Tensor
# ----------------------------------------------------------------------------------------------

def offer_refused(public, qualified, args, kwargs):
    """A call that ``public`` refuses for an argument that is not a Tensor, offered to the
    Tensor-likes among the arguments: their answer, or ``NOT_OFFERED`` when there are none.
    From then on every function offers its calls (``install_functions``)."""
    relevant = relevant_args(args, kwargs)
    if not relevant:
        return NOT_OFFERED
    install_functions()
    return dispatch(public, qualified, relevant, args, kwargs)
