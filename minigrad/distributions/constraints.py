"""Constraints: the sets a distribution's parameters and samples live in.

A constraint's ``check(value)`` is a boolean tensor, True where ``value`` lies in the set.
``event_dim`` counts the rightmost dimensions forming one point (0: a number, 1: a vector
such as a point of the probability simplex, 2: a matrix); ``check`` reduces over them, so
its result has ``value``'s shape without those dimensions.  Names, reprs and error texts
follow ``torch.distributions.constraints``.
"""
from __future__ import annotations

from . import _ops as ops

__all__ = [
    "Constraint", "MixtureSameFamilyConstraint", "boolean", "cat", "corr_cholesky",
    "dependent", "dependent_property",
    "greater_than", "greater_than_eq", "half_open_interval", "independent",
    "integer_interval", "interval", "is_dependent", "less_than", "lower_cholesky",
    "lower_triangular", "multinomial", "nonnegative", "nonnegative_integer", "one_hot", "positive",
    "positive_definite", "positive_semidefinite", "real", "real_vector",
    "simplex", "square", "stack", "symmetric", "unit_interval",
]

# "not known until an instance exists": the value dependent constraints start from
_UNKNOWN = NotImplemented


def _public_name(obj):
    """The class name minus its first character (the private classes' underscore), as
    torch's reprs show it."""
    return type(obj).__name__[1:]


def _all_over_last(mask, ndims):
    """AND-reduce the ``ndims`` rightmost dims of a boolean tensor."""
    for _ in range(ndims):
        mask = mask.all(-1)
    return mask


def _is_whole(value):
    """True where value is a finite integer-valued number."""
    return value.remainder(1) == 0


class Constraint:
    """A region of the reals (of vectors or matrices when ``event_dim`` > 0).

    Subclasses set ``is_discrete``/``event_dim`` and implement ``check``.  The repr lists
    the attributes named in ``_shown`` as ``name=value``.
    """
    is_discrete = False
    event_dim = 0
    _shown = ()

    def check(self, value):
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)}" for name in self._shown)
        return f"{_public_name(self)}({fields})"


class _Dependent(Constraint):
    """Placeholder for a constraint fixed by other parameters (e.g. a Binomial's support
    depends on total_count); argument validation skips it and ``check`` refuses."""

    def __init__(self, *, is_discrete=_UNKNOWN, event_dim=_UNKNOWN):
        self._is_discrete, self._event_dim = is_discrete, event_dim
        super().__init__()

    @property
    def is_discrete(self):
        if self._is_discrete is _UNKNOWN:
            raise NotImplementedError(".is_discrete cannot be determined statically")
        return self._is_discrete

    @property
    def event_dim(self):
        if self._event_dim is _UNKNOWN:
            raise NotImplementedError(".event_dim cannot be determined statically")
        return self._event_dim

    def __call__(self, *, is_discrete=_UNKNOWN, event_dim=_UNKNOWN):
        """A copy with the given static facts filled in (unset ones are inherited)."""
        known = {"is_discrete": self._is_discrete, "event_dim": self._event_dim}
        if is_discrete is not _UNKNOWN:
            known["is_discrete"] = is_discrete
        if event_dim is not _UNKNOWN:
            known["event_dim"] = event_dim
        return _Dependent(**known)

    def check(self, x):
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint):
    """Whether ``constraint`` is a dependent one (argument validation skips those)."""
    return _Dependent in type(constraint).__mro__


class _DependentProperty(property, _Dependent):
    """Decorator for a property whose value is a constraint built from the instance (e.g.
    Uniform's support [low, high)); read on the class it acts as a dependent constraint.
    Usable bare or called first with ``is_discrete=`` / ``event_dim=``."""

    def __init__(self, fn=None, *, is_discrete=_UNKNOWN, event_dim=_UNKNOWN):
        property.__init__(self, fn)
        _Dependent.__init__(self, is_discrete=is_discrete, event_dim=event_dim)

    def __call__(self, fn):
        facts = {"is_discrete": self._is_discrete, "event_dim": self._event_dim}
        return _DependentProperty(fn, **facts)


class _IndependentConstraint(Constraint):
    """``base_constraint`` with its ``reinterpreted_batch_ndims`` rightmost dims made part of
    the event: a point is valid when every element of it is."""

    def __init__(self, base_constraint, reinterpreted_batch_ndims):
        if not isinstance(base_constraint, Constraint):
            raise TypeError(f"base_constraint must be a Constraint, got "
                            f"{type(base_constraint).__name__}")
        if not isinstance(reinterpreted_batch_ndims, int) or reinterpreted_batch_ndims < 0:
            raise ValueError(f"reinterpreted_batch_ndims must be a non-negative int, got "
                             f"{reinterpreted_batch_ndims}")
        super().__init__()
        self.base_constraint, self.reinterpreted_batch_ndims = (base_constraint,
                                                                reinterpreted_batch_ndims)

    @property
    def is_discrete(self):
        base = self.base_constraint
        return base.is_discrete

    @property
    def event_dim(self):
        extra = self.reinterpreted_batch_ndims
        return extra + self.base_constraint.event_dim

    def check(self, value):
        extra = self.reinterpreted_batch_ndims
        inner = self.base_constraint.check(value)
        if inner.dim() < extra:
            raise ValueError(f"Expected value.dim() >= {self.event_dim} but got {value.dim()}")
        if not extra:
            return inner
        flat = inner.reshape(tuple(inner.shape)[:inner.dim() - extra] + (-1,))
        return flat.all(-1)

    def __repr__(self):
        return f"{_public_name(self)}({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


class _Boolean(Constraint):
    """{0, 1}."""
    is_discrete = True

    def check(self, value):
        return (value == 1) | (value == 0)


class _OneHot(Constraint):
    """0/1 vectors with exactly one 1."""
    is_discrete = True
    event_dim = 1

    def check(self, value):
        zeros_and_ones = ((value == 1) | (value == 0)).all(-1)
        return zeros_and_ones & (value.sum(-1) == 1)


class _Bounded(Constraint):
    """Base of the constraints described by bounds: stores them as attributes of the same
    names and lists them in the repr."""

    def _set_bounds(self, **bounds):
        for name, bound in bounds.items():
            setattr(self, name, bound)
        self._shown = tuple(bounds)
        Constraint.__init__(self)


class _IntegerInterval(_Bounded):
    """Integers k with lower_bound <= k <= upper_bound."""
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self._set_bounds(lower_bound=lower_bound, upper_bound=upper_bound)

    def check(self, value):
        inside = (value >= self.lower_bound) & (value <= self.upper_bound)
        return _is_whole(value) & inside


class _IntegerGreaterThan(_Bounded):
    """Integers k >= lower_bound."""
    is_discrete = True

    def __init__(self, lower_bound):
        self._set_bounds(lower_bound=lower_bound)

    def check(self, value):
        return _is_whole(value) & (value >= self.lower_bound)


class _Real(Constraint):
    """Every real number (NaN excluded)."""

    def check(self, value):
        return value == value


class _GreaterThan(_Bounded):
    """x > lower_bound."""

    def __init__(self, lower_bound):
        self._set_bounds(lower_bound=lower_bound)

    def check(self, value):
        return value > self.lower_bound


class _GreaterThanEq(_GreaterThan):
    """x >= lower_bound."""

    def check(self, value):
        return value >= self.lower_bound


class _LessThan(_Bounded):
    """x < upper_bound."""

    def __init__(self, upper_bound):
        self._set_bounds(upper_bound=upper_bound)

    def check(self, value):
        return self.upper_bound > value


class _Interval(_Bounded):
    """The closed interval [lower_bound, upper_bound]."""

    def __init__(self, lower_bound, upper_bound):
        self._set_bounds(lower_bound=lower_bound, upper_bound=upper_bound)

    def check(self, value):
        return (value >= self.lower_bound) & (self.upper_bound >= value)


class _HalfOpenInterval(_Interval):
    """[lower_bound, upper_bound)."""

    def check(self, value):
        return (value >= self.lower_bound) & (self.upper_bound > value)


class _Simplex(Constraint):
    """Nonnegative vectors whose entries sum to 1 (to within 1e-6)."""
    event_dim = 1

    def check(self, value):
        sums_to_one = (1 - value.sum(-1)).abs() < 1e-6
        return sums_to_one & (value >= 0).all(-1)


class _MatrixConstraint(Constraint):
    """Base of the constraints on matrices (the two rightmost dims)."""
    event_dim = 2


def _is_lower(value):
    """Per matrix: nothing above the diagonal."""
    return _all_over_last(value.tril() == value, 2)


class _Square(_MatrixConstraint):
    """Matrices with as many rows as columns."""

    def check(self, value):
        rows, cols = value.shape[-2], value.shape[-1]
        return ops.full(tuple(value.shape)[:-2], rows == cols, dtype=ops.bool_dtype)


class _Symmetric(_Square):
    """Square matrices equal to their transpose (to a relative tolerance of 1e-6)."""

    def check(self, value):
        shape_ok = _Square.check(self, value)
        if not bool(shape_ok.all()):
            return shape_ok
        gap = (value - value.mT).abs()
        return _all_over_last(gap <= 1e-6 * (value.abs() + 1), 2)


class _LowerTriangular(_MatrixConstraint):
    """Matrices with zeros above the diagonal."""

    def check(self, value):
        return _is_lower(value)


class _LowerCholesky(_MatrixConstraint):
    """Lower-triangular matrices with a positive diagonal."""

    def check(self, value):
        diag_positive = (value.diagonal(dim1=-2, dim2=-1) > 0).all(-1)
        return diag_positive & _is_lower(value)


class _CorrCholesky(_MatrixConstraint):
    """Cholesky factors of correlation matrices: lower Cholesky with rows of unit norm."""

    def check(self, value):
        tolerance = 10 * value.shape[-1] * ops.finfo(value.dtype).eps
        norms = value.pow(2).sum(-1).sqrt()
        rows_ok = ((1.0 - norms).abs() <= tolerance).all(-1)
        return rows_ok & _LowerCholesky.check(self, value)


def _spectrum(value):
    """Eigenvalues of symmetric matrices, outside autograd (they are only compared)."""
    with ops.no_grad():
        return ops.eigvalsh(value.detach())


class _SpectralConstraint(_Symmetric):
    """Symmetric matrices whose eigenvalues pass ``_eigen_ok``."""

    def _eigen_ok(self, eigenvalues):
        raise NotImplementedError

    def check(self, value):
        symmetric_ok = _Symmetric.check(self, value)
        if not bool(symmetric_ok.all()):
            return symmetric_ok
        return self._eigen_ok(_spectrum(value)).all(-1)


class _PositiveSemidefinite(_SpectralConstraint):
    """Symmetric with no negative eigenvalue."""

    def _eigen_ok(self, eigenvalues):
        return eigenvalues >= 0


class _PositiveDefinite(_SpectralConstraint):
    """Symmetric with only positive eigenvalues."""

    def _eigen_ok(self, eigenvalues):
        return eigenvalues > 0


class _Sliced(Constraint):
    """Base of cat/stack: a list of constraints, each applied to its part of ``dim``."""

    @property
    def is_discrete(self):
        return any(part.is_discrete for part in self.cseq)

    def _widest_event(self):
        return max(part.event_dim for part in self.cseq)


class _Cat(_Sliced):
    """``cseq[i]`` checks the i-th consecutive slice of ``dim``, of length ``lengths[i]``
    (each 1 by default); the results are concatenated along ``dim``."""

    def __init__(self, cseq, dim=0, lengths=None):
        self.cseq = list(cseq)
        self.lengths = [1] * len(self.cseq) if lengths is None else list(lengths)
        if len(self.cseq) != len(self.lengths):
            raise ValueError("cat: lengths must have one entry per constraint")
        self.dim = dim
        super().__init__()

    @property
    def event_dim(self):
        return self._widest_event()

    def check(self, value):
        pieces, offset = [], 0
        for part, width in zip(self.cseq, self.lengths):
            pieces.append(part.check(value.narrow(self.dim, offset, width)))
            offset = offset + width
        return ops.cat(pieces, self.dim)


class _Stack(_Sliced):
    """``cseq[i]`` checks index i of ``dim``; the results are stacked along ``dim``."""

    def __init__(self, cseq, dim=0):
        self.cseq, self.dim = list(cseq), dim
        super().__init__()

    @property
    def event_dim(self):
        widest = self._widest_event()
        # a negative dim that reaches into the event makes the stacked dim an event dim too
        return widest + 1 if widest + self.dim < 0 else widest

    def check(self, value):
        results = [part.check(value.select(self.dim, index))
                   for index, part in enumerate(self.cseq)]
        return ops.stack(results, self.dim)


class _Multinomial(Constraint):
    """Count vectors: non-negative entries summing to at most ``upper_bound`` (PyTorch's
    weaker form of "summing to exactly the total count")."""
    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        return (value >= 0).all(dim=-1) & (value.sum(dim=-1) <= self.upper_bound)


class MixtureSameFamilyConstraint(Constraint):
    """The support of a ``MixtureSameFamily``: a value is valid when it lies in the support
    of the components, checked with the component dim put back in (as a size-1 dim just left
    of the event dims) and every element of the event valid."""

    def __init__(self, base_constraint):
        if not isinstance(base_constraint, Constraint):
            raise AssertionError(f"base_constraint must be a Constraint, got "
                                 f"{type(base_constraint).__name__}")
        self.base_constraint = base_constraint

    @property
    def is_discrete(self):
        return self.base_constraint.is_discrete

    @property
    def event_dim(self):
        return self.base_constraint.event_dim

    def check(self, value):
        ndims = self.event_dim
        if value.dim() < ndims:
            raise ValueError(f"Expected value.dim() >= {ndims} but got {value.dim()}")
        ok = self.base_constraint.check(value.unsqueeze(-1 - ndims))
        kept = tuple(ok.shape)[:value.dim() - ndims]
        return ok.reshape(kept + (-1,)).all(-1)

    def __repr__(self):
        return f"MixtureSameFamilyConstraint({self.base_constraint!r})"


# The public instances and factories, under torch.distributions.constraints' names.
dependent, dependent_property = _Dependent(), _DependentProperty
independent = _IndependentConstraint
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer, positive_integer = _IntegerGreaterThan(0), _IntegerGreaterThan(1)
real, integer_interval = _Real(), _IntegerInterval
real_vector = _IndependentConstraint(real, 1)
positive, nonnegative = _GreaterThan(0.0), _GreaterThanEq(0.0)
greater_than, greater_than_eq, less_than = _GreaterThan, _GreaterThanEq, _LessThan
interval, half_open_interval = _Interval, _HalfOpenInterval
unit_interval = interval(0.0, 1.0)
simplex = _Simplex()
lower_triangular = _LowerTriangular()
lower_cholesky, corr_cholesky = _LowerCholesky(), _CorrCholesky()
square, symmetric = _Square(), _Symmetric()
positive_semidefinite, positive_definite = _PositiveSemidefinite(), _PositiveDefinite()
cat, stack = _Cat, _Stack
multinomial = _Multinomial
