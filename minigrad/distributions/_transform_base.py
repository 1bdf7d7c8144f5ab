"""The base of the transforms: ``Transform`` (the contract: a map, its inverse and
log|det J|, with caching), its inverse view, ``ComposeTransform`` and the base of the
parameter-free transforms. The transforms themselves are in ``transforms.py`` and
``transforms_more.py``, which both build on this module.
"""
from __future__ import annotations

import math
import weakref

from . import _ops as ops
from . import constraints
from .utils import sum_rightmost

_LOG_TWO = math.log(2.0)


def _deref(ref):
    """The object behind a weak reference (None if there is none or it has died)."""
    return None if ref is None else ref()


def _with_event_dims(constraint, event_dim):
    """``constraint`` widened with independent() until it spans ``event_dim`` dims."""
    missing = event_dim - constraint.event_dim
    return constraints.independent(constraint, missing) if missing > 0 else constraint


class Transform:
    """Base class of the transforms.

    Subclasses provide ``_call`` (x -> y), ``_inverse`` (y -> x), ``log_abs_det_jacobian``,
    the ``domain``/``codomain`` constraints, ``bijective`` and, for monotone maps, ``sign``.
    """
    bijective = False
    domain = constraints.real
    codomain = constraints.real

    def __init__(self, cache_size=0):
        if cache_size not in (0, 1):
            raise ValueError("cache_size must be 0 or 1")
        super().__init__()
        self._cache_size = cache_size
        self._inv = None                 # weak reference to the inverse, made on demand
        self._memo = (None, None)        # the latest (x, y) when caching

    def __getstate__(self):
        # a weak reference cannot be pickled; the inverse is rebuilt on demand (an inverse
        # transform's own strong reference to its source is kept, so it still works)
        state = self.__dict__.copy()
        if isinstance(state.get("_inv"), weakref.ref):
            state["_inv"] = None
        return state

    @property
    def event_dim(self):
        in_dims, out_dims = self.domain.event_dim, self.codomain.event_dim
        if in_dims != out_dims:
            raise ValueError("Please use either .domain.event_dim or .codomain.event_dim")
        return in_dims

    @property
    def inv(self):
        inverse = _deref(self._inv)
        if inverse is None:
            inverse = _InverseTransform(self)
            self._inv = weakref.ref(inverse)
        return inverse

    @property
    def sign(self):
        """+1 for an increasing map, -1 for a decreasing one (elementwise bijections only)."""
        raise NotImplementedError

    def with_cache(self, cache_size=1):
        """This transform with the given cache size (itself when it already has it)."""
        if cache_size == self._cache_size:
            return self
        cls = type(self)
        if cls.__init__ is not Transform.__init__:
            raise NotImplementedError(f"{type(self)}.with_cache is not implemented")
        return cls(cache_size=cache_size)

    def __eq__(self, other):
        return other is self

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return id(self)

    def _through_memo(self, value, compute, forward):
        """compute(value), reusing the stored pair when ``value`` is its input side."""
        if not self._cache_size:
            return compute(value)
        known_x, known_y = self._memo
        seen, answer = (known_x, known_y) if forward else (known_y, known_x)
        if value is seen:
            return answer
        result = compute(value)
        self._memo = (value, result) if forward else (result, value)
        return result

    def __call__(self, x):
        return self._through_memo(x, self._call, forward=True)

    def _inv_call(self, y):
        return self._through_memo(y, self._inverse, forward=False)

    def _call(self, x):
        raise NotImplementedError

    def _inverse(self, y):
        raise NotImplementedError

    def log_abs_det_jacobian(self, x, y):
        """log |dy/dx| at the pair (x, y = self(x))."""
        raise NotImplementedError

    def forward_shape(self, shape):
        """Shape of y for an x of ``shape``."""
        return shape

    def inverse_shape(self, shape):
        """Shape of x for a y of ``shape``."""
        return shape

    def __repr__(self):
        return f"{type(self).__name__}()"


class _InverseTransform(Transform):
    """y -> x of a given transform; it reads and fills that transform's cache."""

    def __init__(self, transform):
        Transform.__init__(self, transform._cache_size)
        self._inv = transform            # strong reference: the inverse keeps its source alive

    domain = property(lambda self: self._inv.codomain)
    codomain = property(lambda self: self._inv.domain)
    bijective = property(lambda self: self._inv.bijective)
    sign = property(lambda self: self._inv.sign)
    inv = property(lambda self: self._inv)

    def __eq__(self, other):
        return isinstance(other, _InverseTransform) and other._inv == self._inv

    def __hash__(self):
        return hash(self._inv)

    def __repr__(self):
        return f"{type(self).__name__}({self._inv!r})"

    def __call__(self, x):
        return self._inv._inv_call(x)

    def log_abs_det_jacobian(self, x, y):
        # d x / d y is the reciprocal of the source's d y / d x, taken at the swapped pair
        return -(self._inv.log_abs_det_jacobian(y, x))

    def forward_shape(self, shape):
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self._inv.forward_shape(shape)


class ComposeTransform(Transform):
    """``parts`` applied first to last: ComposeTransform([f, g])(x) == g(f(x)).  An empty
    list is the identity map."""

    def __init__(self, parts, cache_size=0):
        parts = list(parts)
        if cache_size:
            parts = [each.with_cache(cache_size) for each in parts]
        Transform.__init__(self, cache_size)
        self.parts = parts

    def __eq__(self, other):
        return isinstance(other, ComposeTransform) and other.parts == self.parts

    def __hash__(self):
        return hash(tuple(self.parts))

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        if not self.parts:
            return constraints.real
        # walk back from the output, tracking how many event dims the input must carry
        dims = self.parts[-1].codomain.event_dim
        for each in self.parts[::-1]:
            inner = each.domain.event_dim
            dims = max(inner, dims - each.codomain.event_dim + inner)
        return _with_event_dims(self.parts[0].domain, dims)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        if not self.parts:
            return constraints.real
        dims = self.parts[0].domain.event_dim
        for each in self.parts:
            outer = each.codomain.event_dim
            dims = max(outer, dims - each.domain.event_dim + outer)
        return _with_event_dims(self.parts[-1].codomain, dims)

    @property
    def bijective(self):
        return all(each.bijective for each in self.parts)

    @property
    def sign(self):
        total = 1
        for each in self.parts:
            total = total * each.sign
        return total

    @property
    def inv(self):
        inverse = _deref(self._inv)
        if inverse is None:
            inverse = ComposeTransform([each.inv for each in self.parts[::-1]])
            inverse._inv = weakref.ref(self)
            self._inv = weakref.ref(inverse)
        return inverse

    def with_cache(self, cache_size=1):
        if cache_size == self._cache_size:
            return self
        return ComposeTransform(self.parts, cache_size)

    def __call__(self, x):
        value = x
        for each in self.parts:
            value = each(value)
        return value

    def log_abs_det_jacobian(self, x, y):
        if not self.parts:
            return ops.zeros_like(x)
        total = None
        dims = self.domain.event_dim          # event dims of the current intermediate value
        current = x
        last = len(self.parts) - 1
        for position, each in enumerate(self.parts):
            following = y if position == last else each(current)
            term = each.log_abs_det_jacobian(current, following)
            term = sum_rightmost(term, dims - each.domain.event_dim)
            total = term if total is None else total + term
            dims = dims - each.domain.event_dim + each.codomain.event_dim
            current = following
        return total

    def forward_shape(self, shape):
        for each in self.parts:
            shape = each.forward_shape(shape)
        return shape

    def inverse_shape(self, shape):
        for each in self.parts[::-1]:
            shape = each.inverse_shape(shape)
        return shape

    def __repr__(self):
        indent = "\n    "
        listing = ("," + indent).join(map(repr, self.parts))
        return f"{type(self).__name__}({indent}{listing}\n)"


identity_transform = ComposeTransform([])


class _Parameterless(Transform):
    """Base of the transforms without parameters: all instances of one class are equal
    (and hash alike)."""

    def __eq__(self, other):
        return isinstance(other, type(self))

    def __hash__(self):
        return hash(type(self))


_TOO_FEW_DIMS = "Too few dimensions on input"
