"""``biject_to(constraint)`` and ``transform_to(constraint)``: a transform from unconstrained
reals onto a constraint's region, to optimise a constrained parameter through an
unconstrained one (``value = transform_to(c)(raw)``). ``biject_to`` gives bijections
(its transforms have ``log_abs_det_jacobian``, for densities in the unconstrained space);
``transform_to`` may give a cheaper map that is only onto (softmax for the simplex).

A factory is registered per constraint class; ``register`` adds or replaces one:

    real                          identity
    greater_than(_eq) (positive)  exp, then shift by the lower bound
    less_than                     exp, then reflect about the upper bound
    interval, half_open_interval  sigmoid (then the affine map onto the interval)
    simplex                       stick breaking (biject_to) or softmax (transform_to)
    independent                   the base constraint's, over the extra event dims
    corr_cholesky                 CorrCholeskyTransform
    lower_cholesky                LowerCholeskyTransform (transform_to only)
    positive_(semi)definite       PositiveDefiniteTransform (transform_to only)
    cat, stack                    CatTransform / StackTransform of the parts' transforms
"""
import functools
from numbers import Number

from . import constraints
from .transforms import (AffineTransform, ComposeTransform, ExpTransform, IndependentTransform,
                         SigmoidTransform, SoftmaxTransform, StickBreakingTransform,
                         identity_transform)
from .transforms_more import (CatTransform, CorrCholeskyTransform, LowerCholeskyTransform,
                              PositiveDefiniteTransform, StackTransform)

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


def _constraint_class(key):
    """The Constraint subclass a registration is keyed on (an instance stands for its
    class); TypeError for anything else."""
    kind = type(key) if isinstance(key, constraints.Constraint) else key
    if isinstance(kind, type) and issubclass(kind, constraints.Constraint):
        return kind
    raise TypeError(f"Expected constraint to be either a Constraint subclass or instance, "
                    f"but got {key}")


class ConstraintRegistry:
    """A table from constraint classes to factories ``f(constraint) -> Transform``;
    calling the registry on a constraint instance runs its class's factory."""

    def __init__(self):
        self._registry = {}
        super().__init__()

    def register(self, constraint, factory=None):
        """Register ``factory`` for ``constraint`` (a Constraint subclass or an instance,
        meaning its class), replacing any earlier one, and return it.  Without ``factory``
        this returns a decorator that registers the function it decorates."""
        if factory is None:
            return functools.partial(self.register, constraint)
        self._registry[_constraint_class(constraint)] = factory
        return factory

    def __call__(self, constraint):
        kind = type(constraint)
        if kind not in self._registry:
            raise NotImplementedError(f"Cannot transform {kind.__name__} constraints")
        return self._registry[kind](constraint)


biject_to, transform_to = ConstraintRegistry(), ConstraintRegistry()


def _identity(constraint):
    return identity_transform


def _independent(registry):
    def factory(constraint):
        return IndependentTransform(registry(constraint.base_constraint),
                                    constraint.reinterpreted_batch_ndims)
    return factory


def _cat(registry):
    def factory(constraint):
        parts = [registry(each) for each in constraint.cseq]
        return CatTransform(parts, constraint.dim, constraint.lengths)
    return factory


def _stack(registry):
    def factory(constraint):
        return StackTransform([registry(each) for each in constraint.cseq], constraint.dim)
    return factory


def _above(constraint):
    return ComposeTransform([ExpTransform(), AffineTransform(constraint.lower_bound, 1)])


def _below(constraint):
    return ComposeTransform([ExpTransform(), AffineTransform(constraint.upper_bound, -1)])


def _between(constraint):
    low, high = constraint.lower_bound, constraint.upper_bound
    if isinstance(low, Number) and low == 0 and isinstance(high, Number) and high == 1:
        return SigmoidTransform()
    return ComposeTransform([SigmoidTransform(), AffineTransform(low, high - low)])


for _registry in (biject_to, transform_to):
    _registry.register(constraints.real, _identity)
    _registry.register(constraints.independent, _independent(_registry))
    for _kind in (constraints.greater_than, constraints.greater_than_eq):
        _registry.register(_kind, _above)
    _registry.register(constraints.less_than, _below)
    for _kind in (constraints.interval, constraints.half_open_interval):
        _registry.register(_kind, _between)
    _registry.register(constraints.corr_cholesky, lambda constraint: CorrCholeskyTransform())
    _registry.register(constraints.cat, _cat(_registry))
    _registry.register(constraints.stack, _stack(_registry))
biject_to.register(constraints.simplex, lambda constraint: StickBreakingTransform())
transform_to.register(constraints.simplex, lambda constraint: SoftmaxTransform())
# transform_to only (as in torch): these maps are onto but not one-to-one
transform_to.register(constraints.lower_cholesky, lambda constraint: LowerCholeskyTransform())
for _kind in (constraints.positive_definite, constraints.positive_semidefinite):
    transform_to.register(_kind, lambda constraint: PositiveDefiniteTransform())
