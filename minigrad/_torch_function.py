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

What it costs, and when: nothing, until a class that takes part exists. A Tensor subclass
that takes part (``__init_subclass__``) gets, in its own class dict, a dispatching twin of
every public Tensor method and of the Tensor-valued properties (``install_methods``), so
plain Tensors' methods stay as they were; and once, for the whole process, minigrad's
public functions (``minigrad.*``, ``nn.functional``, ``linalg``, ``special``, ``fft``) are
replaced in their namespaces by dispatching twins (``install_functions``; names that
PyTorch does not offer, such as the factories, stay as they are). A Tensor-like that is
not a Tensor subclass is found where a function refuses its argument
(``overrides.handle_refused``). ``DisableTorchFunctionSubclass`` and
``DisableTorchFunction`` are PyTorch's ``torch._C`` context managers.

What differs from PyTorch: a function imported by name before the first such class existed
(``from minigrad import add``) keeps the plain version, as do minigrad's internal calls; a
plain Tensor's method given a subclass argument (``t.add(sub)``) runs plainly (the operator
``t + sub`` does not: Python asks the subclass's reflected twin first);
``TorchFunctionMode`` is not offered.
"""
from __future__ import annotations

import functools
import sys
import threading

from .tensor import Tensor

__all__ = ["DisableTorchFunctionSubclass", "DisableTorchFunction",
           "_disabled_torch_function_impl", "is_torch_function_enabled", "takes_part",
           "relevant_args", "overloaded_args", "dispatch", "default", "convert",
           "install_methods", "offered_functions", "offered_method_names",
           "install_functions", "offer_refused", "NOT_OFFERED"]


class _State(threading.local):
    subclasses_off = 0      # depth of DisableTorchFunctionSubclass (and DisableTorchFunction)
    all_off = 0             # depth of DisableTorchFunction


_state = _State()


class DisableTorchFunctionSubclass:
    """``with DisableTorchFunctionSubclass():`` Tensor subclasses' ``__torch_function__`` is
    not consulted in the block (Tensor-likes that are not Tensors still are)."""

    def __enter__(self):
        _state.subclasses_off += 1
        return self

    def __exit__(self, *exc):
        _state.subclasses_off -= 1
        return False


class DisableTorchFunction:
    """``with DisableTorchFunction():`` no ``__torch_function__`` is consulted in the block."""

    def __enter__(self):
        _state.subclasses_off += 1
        _state.all_off += 1
        return self

    def __exit__(self, *exc):
        _state.subclasses_off -= 1
        _state.all_off -= 1
        return False


def is_torch_function_enabled():
    """``torch._C._is_torch_function_enabled()``: False inside ``DisableTorchFunction``."""
    return _state.all_off == 0


def _disabled_torch_function_impl(func, types, args=(), kwargs=None):
    """The ``__torch_function__`` of a class that does not take part (``Parameter``): as a
    marker it is never consulted; called, it runs ``func`` with subclasses switched off."""
    with DisableTorchFunctionSubclass():
        return func(*args, **(kwargs or {}))


# ----------------------------------------------------------------------------------------------
# Who takes part, and in which order
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _class_takes_part(kind):
    """Whether instances of ``kind`` are offered calls: its class defines a handler that is
    not the disabled one. minigrad's own subclasses (sparse tensors, checked views) take no
    part unless they define a handler of their own."""
    if kind is Tensor:
        return False
    handler = getattr(kind, "__torch_function__", None)
    if handler is None or getattr(handler, "__func__", handler) is _disabled_torch_function_impl:
        return False
    if any(k.__name__ == "Tensor" and k.__module__ == "torch" for k in kind.__mro__):
        return False        # PyTorch's own tensors (their handler would call back into ours)
    home = getattr(kind, "__module__", None) or ""
    return not (home.startswith("minigrad.") and "__torch_function__" not in vars(kind))


def takes_part(kind):
    """Whether an argument of class ``kind`` is offered the call now."""
    if not _class_takes_part(kind):
        return False
    if issubclass(kind, Tensor):
        return _state.subclasses_off == 0
    return _state.all_off == 0


_PLAIN_TYPES = frozenset((Tensor, int, float, bool, complex, str, type(None), slice,
                          type(Ellipsis)))


def relevant_args(args, kwargs=None):
    """The arguments (and the items of list and tuple arguments, one level down) whose
    class takes part: [] for plain calls, which is what callers check first."""
    found = []
    for arg in args:
        kind = type(arg)
        if kind in _PLAIN_TYPES:
            continue
        if kind is list or kind is tuple:
            found.extend(item for item in arg if type(item) not in _PLAIN_TYPES and
                         takes_part(type(item)))
        elif takes_part(kind):
            found.append(arg)
    if kwargs:
        found.extend(relevant_args(tuple(kwargs.values())))
    return found


def overloaded_args(relevant):
    """One argument per class, in argument order, except that a subclass goes before its
    parent classes (PyTorch's order of asking)."""
    found, kinds = [], []
    for arg in relevant:
        kind = type(arg)
        if kind in kinds:
            continue
        position = len(found)
        for k, earlier in enumerate(kinds):
            if issubclass(kind, earlier):
                position = k
                break
        found.insert(position, arg)
        kinds.insert(position, kind)
    return found


def dispatch(public, name, relevant, args, kwargs, python_level=False):
    """Offer ``public(*args, **kwargs)`` to the overloading arguments' handlers: the first
    answer that is not ``NotImplemented``; PyTorch's TypeError when all decline. ``name``:
    the dotted name the error gives ('torch.add', 'torch.Tensor.add'); ``python_level``:
    the words of PyTorch's functions written in Python (``handle_torch_function``'s, as
    ``nn.functional``'s)."""
    overloaded = overloaded_args(relevant)
    types = tuple(type(arg) for arg in overloaded)
    for arg in overloaded:
        result = arg.__torch_function__(public, types, args, kwargs or {})
        if result is not NotImplemented:
            return result
    if python_level or name.startswith("torch.nn.functional."):
        raise TypeError(f"no implementation found for '{name}' on types that implement "
                        f"__torch_function__: {list(types)}")
    raise TypeError(_declined(name, types))


def _declined(name, types):
    lines = "".join(f"  - tensor subclass {kind}\n" for kind in types)
    return (f"Multiple dispatch failed for '{name}'; all __torch_function__ handlers returned "
            f"NotImplemented:\n\n{lines}\nFor more information, try re-running with "
            f"TORCH_LOGS=not_implemented")


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
# offer themselves (``__rsub__``, ``__eq__``, ``__getitem__``, ``__floordiv__``)
_DUNDER_METHODS = {
    "__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub",
    "__isub__": "sub_", "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul_",
    "__truediv__": "div", "__rtruediv__": "__rdiv__", "__itruediv__": "div_",
    "__ifloordiv__": "floor_divide_", "__mod__": "remainder", "__imod__": "remainder_",
    "__pow__": "pow", "__ipow__": "pow_", "__matmul__": "matmul", "__neg__": "neg",
    "__pos__": "positive", "__abs__": "abs", "__rand__": "bitwise_and",
    "__ror__": "bitwise_or", "__rxor__": "bitwise_xor", "__ne__": "ne", "__lt__": "lt",
    "__le__": "le", "__gt__": "gt", "__ge__": "ge"}
# the offered dunders that are not binary operators (a binary one's TypeError, the
# handler's too, becomes NotImplemented, as in PyTorch, so that Python asks the other operand)
_NOT_BINARY = frozenset(
    "__neg__ __pos__ __abs__ __invert__ __getitem__ __setitem__ __len__ __bool__ __float__ "
    "__int__ __index__ __complex__ __format__ __contains__ __reversed__ __array__".split())


def _method_twin(name, func):
    offered = getattr(Tensor, _DUNDER_METHODS[name]) if name in _DUNDER_METHODS else func
    qualified = f"torch.Tensor.{_DUNDER_METHODS.get(name, name)}"
    binary = name in _DUNDERS and name not in _NOT_BINARY

    @functools.wraps(func)
    def method(self, *args, **kwargs):
        relevant = relevant_args((self,) + args, kwargs)
        if not relevant:
            return func(self, *args, **kwargs)
        if binary:
            try:
                return dispatch(offered, qualified, relevant, (self,) + args, kwargs)
            except TypeError:
                return NotImplemented
        return dispatch(offered, qualified, relevant, (self,) + args, kwargs)
    return method


def _property_twin(name, prop):
    getter = prop.__get__
    qualified = f"torch.Tensor.{name}.__get__"

    def get(self):
        relevant = relevant_args((self,))
        if relevant:
            return dispatch(getter, qualified, relevant, (self,), None)
        return prop.fget(self)
    return property(get, prop.fset, prop.fdel, prop.__doc__), getter


@functools.lru_cache(maxsize=1)
def _method_twins():
    """{name: twin} for Tensor's public methods and offered dunders, and the properties."""
    twins = {}
    for klass in reversed(Tensor.__mro__[:-1]):
        for name, attr in vars(klass).items():
            offered = name in _DUNDERS or not name.startswith("_") and \
                name not in _UNOFFERED_METHODS
            if offered and callable(attr) and not isinstance(attr, (type, staticmethod,
                                                                    classmethod)):
                twins[name] = _method_twin(name, getattr(Tensor, name))
    for name in _PROPERTIES:
        twins[name], getter = _property_twin(name, vars(Tensor)[name])
        if name == "grad":
            _NOT_CONVERTED.add(getter)
    return twins


def install_methods(cls):
    """Give subclass ``cls`` the dispatching twins of the Tensor methods and properties that
    no class between it and Tensor defines (its own stay its own)."""
    between = [vars(klass) for klass in cls.__mro__ if klass is not Tensor and
               issubclass(klass, Tensor) and klass is not cls]
    own = vars(cls)
    for name, twin in _method_twins().items():
        if name in own or any(name in d for d in between):
            continue
        setattr(cls, name, twin)


# names of minigrad's namespaces that PyTorch does not offer to the protocol (factories and
# conversions from other things, settings, and the tensor predicates)
_UNOFFERED = frozenset((
    "arange as_strided as_tensor asarray bartlett_window blackman_window broadcast_shapes "
    "can_cast compile cond empty empty_permuted empty_strided enable_grad eye fill from_file "
    "from_dlpack from_numpy frombuffer full get_default_dtype get_num_threads get_rng_state "
    "hamming_window hann_window inference_mode is_grad_enabled is_storage is_tensor "
    "kaiser_window linspace load logspace manual_seed no_grad normal ones promote_types "
    "rand rand_like randint randint_like randn randn_like randperm range result_type save "
    "scalar_tensor seed set_default_dtype set_grad_enabled set_num_threads set_printoptions "
    "set_rng_state sparse_bsc_tensor sparse_bsr_tensor sparse_compressed_tensor "
    "sparse_coo_tensor sparse_csc_tensor sparse_csr_tensor tensor tril_indices triu_indices "
    "typename vander vmap zeros fftfreq rfftfreq upsample upsample_bilinear upsample_nearest "
    "handle_torch_function").split())
# namespace (as sys.modules names it) -> the prefix of PyTorch's name for its functions
_NAMESPACES = (("minigrad", "torch"), ("minigrad.nn.functional", "torch.nn.functional"),
               ("minigrad.linalg", "torch.linalg"), ("minigrad.special", "torch.special"),
               ("minigrad.fft", "torch.fft"))
_functions_installed = False


def _function_twin(fn, module_name, name, prefix):
    """``fn`` offering its calls first; pickled by reference as ``module_name.name`` (the
    namespace that holds it), which is where it is found again."""
    qualified = f"{prefix}.{name}"

    @functools.wraps(fn)
    def public(*args, **kwargs):
        relevant = relevant_args(args, kwargs)
        if relevant:
            return dispatch(public, qualified, relevant, args, kwargs)
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


def offered_functions():
    """(namespace module, name, function) of the public functions that take part, as the
    namespaces hold them now (before ``install_functions``: the plain ones)."""
    found = []
    for module_name, _ in _NAMESPACES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name, fn in list(vars(module).items()):
            if not (name.startswith("_") or name in _UNOFFERED or isinstance(fn, type) or
                    not callable(fn) or type(fn).__name__ == "module" or
                    not getattr(fn, "__module__", "").startswith("minigrad")):
                found.append((module, name, fn))
    return found


def offered_method_names():
    """The Tensor methods and properties that take part."""
    return sorted(_method_twins())


def install_functions():
    """Replace, once, the public functions of minigrad's namespaces by dispatching twins
    (one twin for a function that several namespaces hold), and the layers' modules' names
    for them too (``nn.EmbeddingBag`` calls ``embedding_bag`` as PyTorch's calls
    ``F.embedding_bag``). A plain function whose home is a namespace stays reachable under
    ``_plain_<name>`` there, so that one kept from before (a default argument) still
    pickles by reference."""
    global _functions_installed
    if _functions_installed:
        return
    _functions_installed = True
    prefixes = dict(_NAMESPACES)
    twins = {}
    for module, name, fn in offered_functions():
        twin = twins.get(id(fn))
        if twin is None:
            twin = twins[id(fn)] = (fn, _function_twin(fn, module.__name__, name,
                                                       prefixes[module.__name__]))
            if getattr(fn, "__module__", None) == module.__name__ and \
                    getattr(fn, "__qualname__", None) == name:
                setattr(module, f"_plain_{name}", fn)
                fn.__qualname__ = f"_plain_{name}"
        setattr(module, name, twin[1])
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("minigrad.nn.modules.") and module is not None:
            for name, fn in list(vars(module).items()):
                twin = twins.get(id(fn))
                if twin is not None and twin[0] is fn:
                    setattr(module, name, twin[1])


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
NOT_OFFERED = object()


def offer_refused(public, qualified, args, kwargs):
    """A call that ``public`` refuses for an argument that is not a Tensor, offered to the
    Tensor-likes among the arguments: their answer, or ``NOT_OFFERED`` when there are none.
    From then on every function offers its calls (``install_functions``)."""
    relevant = relevant_args(args, kwargs)
    if not relevant:
        return NOT_OFFERED
    install_functions()
    return dispatch(public, qualified, relevant, args, kwargs)
