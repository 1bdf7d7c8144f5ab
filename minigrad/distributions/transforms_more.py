"""More transforms: structural ones (pieces of a tensor, reshaping), matrix ones (Cholesky
factors, positive-definite matrices) and the probability integral transform.

    CatTransform(tseq, dim, lengths)     tseq[i] on the i-th run of lengths[i] entries of dim
    StackTransform(tseq, dim)            tseq[i] on index i of dim
    ReshapeTransform(in_shape, out_shape)  event of in_shape -> event of out_shape, log|J| = 0
    CorrCholeskyTransform()              R^(D(D-1)/2) -> Cholesky factors of D x D correlations
    LowerCholeskyTransform()             square matrices -> lower triangular, positive diagonal
    PositiveDefiniteTransform()          square matrices -> L L^T (L from LowerCholeskyTransform)
    CumulativeDistributionTransform(d)   y = d.cdf(x), log|J| = d.log_prob(x)

``transforms`` re-exports all of them; ``constraint_registry`` registers them for the cat,
stack, corr_cholesky, lower_cholesky and positive (semi)definite constraints.
"""
from __future__ import annotations

from . import _ops as ops
from . import constraints
from ._transform_base import _LOG_TWO, _TOO_FEW_DIMS, Transform, _Parameterless
from .utils import sum_rightmost

__all__ = ["CatTransform", "CorrCholeskyTransform", "CumulativeDistributionTransform",
           "LowerCholeskyTransform", "PositiveDefiniteTransform", "ReshapeTransform",
           "StackTransform"]


def _check_along(t, dim, expected, label, what, holder):
    """AssertionError unless ``t`` has the dim ``dim`` and it is ``expected`` long.
    ``label`` names t in the size message, ``holder`` in the range message; ``what`` says
    what the size is compared with."""
    if not -t.dim() <= dim < t.dim():
        raise AssertionError(f"dim {dim} out of range for {holder} with {t.dim()} dimensions")
    size = t.size(dim)
    if size != expected:
        raise AssertionError(f"{label}.size({dim}) = {size} must equal {what} {expected}")


class _AlongDim(Transform):
    """Base of CatTransform and StackTransform: a list of transforms, each one acting on
    its own part of the dim ``dim``.  Subclasses give ``_parts(t)`` (the pieces of a tensor,
    in order), ``_join(pieces)``, ``_expected`` (the size dim must have) and ``_what``."""

    def __init__(self, tseq, dim, cache_size):
        tseq = list(tseq)
        if any(not isinstance(each, Transform) for each in tseq):
            raise AssertionError("All elements of tseq must be Transform instances")
        if cache_size:
            tseq = [each.with_cache(cache_size) for each in tseq]
        Transform.__init__(self, cache_size)
        self.transforms, self.dim = tseq, dim

    @property
    def bijective(self):
        return all(each.bijective for each in self.transforms)

    def _checked(self, t, label, holder="tensor"):
        _check_along(t, self.dim, self._expected, label, self._what, holder)
        return self._parts(t)

    def _call(self, x):
        pieces = self._checked(x, "x")
        return self._join([f(piece) for f, piece in zip(self.transforms, pieces)])

    def _inverse(self, y):
        pieces = self._checked(y, "y")
        return self._join([f.inv(piece) for f, piece in zip(self.transforms, pieces)])

    def _piece_terms(self, x, y):
        """Each transform's log|J| at its own piece of (x, y)."""
        x_pieces = self._checked(x, "x", holder="x")
        y_pieces = self._checked(y, "y", holder="y")
        return [f.log_abs_det_jacobian(a, b)
                for f, a, b in zip(self.transforms, x_pieces, y_pieces)]


class CatTransform(_AlongDim):
    """Applies ``tseq[i]`` to the i-th consecutive slice of dim ``dim``, of length
    ``lengths[i]`` (1 each by default), and concatenates the results along ``dim`` -- the
    transform counterpart of ``cat``.  domain/codomain: ``constraints.cat`` of the parts'.

    log|J|: each part's, summed over the event dims it lacks against ``event_dim`` (the
    parts' largest); concatenated along ``dim`` when that dim is a batch dim of the result,
    otherwise (dim inside the event) added up."""

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        _AlongDim.__init__(self, tseq, dim, cache_size)
        count = len(self.transforms)
        self.lengths = [1] * count if lengths is None else list(lengths)
        if len(self.lengths) != count:
            raise AssertionError(f"lengths ({len(self.lengths)}) must match transforms "
                                 f"({count})")

    _what = "length"

    @property
    def event_dim(self):
        return max(each.event_dim for each in self.transforms)

    @property
    def length(self):
        """The size dim ``dim`` must have: the sum of ``lengths``."""
        return sum(self.lengths)

    _expected = length

    def with_cache(self, cache_size=1):
        if cache_size == self._cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    def _parts(self, t):
        pieces, start = [], 0
        for width in self.lengths:
            pieces.append(t.narrow(self.dim, start, width))
            start = start + width
        return pieces

    def _join(self, pieces):
        return ops.cat(pieces, self.dim)

    def log_abs_det_jacobian(self, x, y):
        widest = self.event_dim
        terms = [sum_rightmost(term, widest - f.event_dim)
                 for f, term in zip(self.transforms, self._piece_terms(x, y))]
        # where does dim sit among the dims of a log|J| (x's dims minus the event dims)?
        axis = (self.dim if self.dim < 0 else self.dim - x.dim()) + widest
        if axis < 0:
            return ops.cat(terms, axis)
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    @constraints.dependent_property
    def domain(self):
        return constraints.cat([f.domain for f in self.transforms], self.dim, self.lengths)

    @constraints.dependent_property
    def codomain(self):
        return constraints.cat([f.codomain for f in self.transforms], self.dim, self.lengths)


class StackTransform(_AlongDim):
    """Applies ``tseq[i]`` to index i of dim ``dim`` (dim has one entry per transform) and
    stacks the results along ``dim`` -- the transform counterpart of ``stack``.  The parts'
    log|J| are stacked along ``dim`` as well.  domain/codomain: ``constraints.stack``."""

    def __init__(self, tseq, dim=0, cache_size=0):
        _AlongDim.__init__(self, tseq, dim, cache_size)

    _what = "len(transforms)"
    _expected = property(lambda self: len(self.transforms))

    def with_cache(self, cache_size=1):
        if cache_size == self._cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    def _parts(self, t):
        return [t.select(self.dim, index) for index in range(t.size(self.dim))]

    def _join(self, pieces):
        return ops.stack(pieces, self.dim)

    def log_abs_det_jacobian(self, x, y):
        return ops.stack(self._piece_terms(x, y), self.dim)

    @constraints.dependent_property
    def domain(self):
        return constraints.stack([f.domain for f in self.transforms], self.dim)

    @constraints.dependent_property
    def codomain(self):
        return constraints.stack([f.codomain for f in self.transforms], self.dim)


def _reshaper(source, target):
    """A forward_shape/inverse_shape method: a shape ending in the attribute ``source``
    (an event shape) -> the same batch dims followed by the attribute ``target``."""
    def reshape(self, shape):
        old, new = getattr(self, source), getattr(self, target)
        if len(shape) < len(old):
            raise ValueError(_TOO_FEW_DIMS)
        cut = len(shape) - len(old)
        tail = tuple(shape[cut:])
        if tail != tuple(old):
            raise ValueError(f"Shape mismatch: expected {tail} but got {old}")
        return ops.Size(tuple(shape[:cut]) + tuple(new))
    return reshape


class ReshapeTransform(Transform):
    """Reshapes the rightmost dims: an event of shape ``in_shape`` becomes one of shape
    ``out_shape`` (same number of elements), batch dims untouched.  A bijection with unit
    Jacobian: log|J| = 0, of the batch shape."""
    bijective = True

    def __init__(self, in_shape, out_shape, cache_size=0):
        self.in_shape, self.out_shape = ops.Size(in_shape), ops.Size(out_shape)
        if self.in_shape.numel() != self.out_shape.numel():
            raise ValueError("in_shape, out_shape have different numbers of elements")
        Transform.__init__(self, cache_size)

    @constraints.dependent_property
    def domain(self):
        return constraints.independent(constraints.real, len(self.in_shape))

    @constraints.dependent_property
    def codomain(self):
        return constraints.independent(constraints.real, len(self.out_shape))

    def with_cache(self, cache_size=1):
        if cache_size == self._cache_size:
            return self
        return ReshapeTransform(self.in_shape, self.out_shape, cache_size=cache_size)

    @staticmethod
    def _swap_event(t, old, new):
        batch = tuple(t.shape)[:t.dim() - len(old)]
        return t.reshape(batch + tuple(new))

    def _call(self, x):
        return self._swap_event(x, self.in_shape, self.out_shape)

    def _inverse(self, y):
        return self._swap_event(y, self.out_shape, self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        return x.new_zeros(tuple(x.shape)[:x.dim() - len(self.in_shape)])

    forward_shape = _reshaper("in_shape", "out_shape")
    inverse_shape = _reshaper("out_shape", "in_shape")


def _tril_positions(n, diag):
    """Row-major positions, in a flattened n x n matrix, of the entries (i, j) with
    j - i <= diag (the lower triangle shifted by diag), in row order."""
    return [i * n + j for i in range(n) for j in range(n) if j - i <= diag]


def _index(positions, like):
    """A list of positions as an int64 tensor on ``like``'s device."""
    return ops.tensor(positions, dtype=ops.int64, device=like.device)


def _lower_entries(mat, diag):
    """The entries (i, j), j - i <= diag, of each (..., n, n) matrix as a (..., m) vector in
    row order; diag must lie in [-n, n - 1]."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    flat = mat.reshape(tuple(mat.shape)[:-2] + (n * n,))
    return flat[..., _index(_tril_positions(n, diag), mat)]


def _strictly_lower_matrix(vec):
    """A (..., m) vector -> the (..., D, D) matrix with zeros on and above the diagonal and
    vec filling the entries below it in row order; m must be D (D - 1) / 2."""
    m = vec.shape[-1]
    size = round((1 + (1 + 8 * m) ** 0.5) / 2)
    if size * (size - 1) // 2 != m:
        raise ValueError(f"The size of last dimension is {m} which cannot be expressed as "
                         f"the lower triangular part of a square D x D matrix.")
    batch = tuple(vec.shape)[:-1]
    # every matrix slot reads one entry of [vec, 0]: its own in the triangle, else the 0
    slots = [m] * (size * size)
    for k, position in enumerate(_tril_positions(size, -1)):
        slots[position] = k
    padded = ops.cat([vec, vec.new_zeros(batch + (1,))], -1)
    return padded[..., _index(slots, vec)].reshape(batch + (size, size))


def _shift_right_with_one(t):
    """(..., n) -> (..., n): a 1 first, then t without its last entry."""
    ones = ops.ones(tuple(t.shape)[:-1] + (1,), dtype=t.dtype, device=t.device)
    return ops.cat([ones, t[..., :-1]], -1)


class CorrCholeskyTransform(Transform):
    """Real vectors x of length D (D - 1) / 2 -> lower triangular D x D matrices y with a
    positive diagonal and rows of unit length (Cholesky factors of correlation matrices).

    The entries of x, in row order, fill the strictly lower triangle after r = tanh(x);
    each row is then stick-broken with signs: y_ij = r_ij sqrt(1 - sum_{k<j} y_ik^2) below
    the diagonal and y_ii = sqrt(1 - sum_{k<i} y_ik^2).  log|J| is that of x -> the strictly
    lower entries of y (shape: x's batch shape):
        sum log(1 - tanh(x)^2) + 1/2 sum_{0 < j < i} log(1 - sum_{k<j} y_ik^2).
    ``intermediates`` is accepted for torch's signature and not used.
    """
    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def _call(self, x):
        margin = ops.finfo(x.dtype).eps
        r = _strictly_lower_matrix(x.tanh().clamp(min=margin - 1, max=1 - margin))
        # y = r * sqrt(left), left_ij = prod_{k<j} (1 - r_ik^2) what row i still has
        kept = (1 - r * r).sqrt().cumprod(-1)
        size = r.shape[-1]
        diagonal = ops.eye(size, dtype=r.dtype, device=r.device)
        return (r + diagonal) * _shift_right_with_one(kept)

    def _inverse(self, y):
        left = _shift_right_with_one(1 - (y * y).cumsum(-1))
        ratio = _lower_entries(y, -1) / _lower_entries(left, -1).sqrt()
        return ratio.atanh()

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        # entry (i, j) of 1 - cumsum(y^2) is what row i has left after column j; the entry
        # (i, j + 1) of the triangle is scaled by its square root, so take j <= i - 2
        left = 1 - (y * y).cumsum(-1)
        sticks = 0.5 * _lower_entries(left, -2).log().sum(-1)
        tanh_part = 2.0 * (_LOG_TWO - x - ops.softplus(-2.0 * x))
        return sticks + tanh_part.sum(-1)

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError(_TOO_FEW_DIMS)
        m = shape[-1]
        size = round((0.25 + 2 * m) ** 0.5 + 0.5)
        if size * (size - 1) // 2 != m:
            raise ValueError("Input is not a flattened lower-diagonal number")
        return shape[:-1] + (size, size)        # a tuple stays a tuple, as PyTorch's

    def inverse_shape(self, shape):
        if len(shape) < 2:
            raise ValueError(_TOO_FEW_DIMS)
        if shape[-2] != shape[-1]:
            raise ValueError("Input is not square")
        size = shape[-1]
        return shape[:-2] + (size * (size - 1) // 2,)


def _map_diagonal(mat, fn):
    """The strictly lower triangle of ``mat`` plus fn of its diagonal (on the diagonal)."""
    return mat.tril(-1) + fn(mat.diagonal(dim1=-2, dim2=-1)).diag_embed()


class LowerCholeskyTransform(_Parameterless):
    """Square matrices -> lower triangular ones with a positive diagonal: keeps the strictly
    lower triangle, exponentiates the diagonal and drops the rest.  Not a bijection (the
    upper triangle is lost); the inverse takes the log of the diagonal."""
    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def _call(self, x):
        return _map_diagonal(x, lambda d: d.exp())

    def _inverse(self, y):
        return _map_diagonal(y, lambda d: d.log())


class PositiveDefiniteTransform(_Parameterless):
    """Square matrices -> positive-definite ones: y = L L^T with L = LowerCholeskyTransform()(x).
    Not a bijection; the inverse goes back through the Cholesky factor of y."""
    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def _call(self, x):
        factor = LowerCholeskyTransform()(x)
        return factor @ factor.mT

    def _inverse(self, y):
        return LowerCholeskyTransform().inv(ops.cholesky(y))


class CumulativeDistributionTransform(Transform):
    """y = F(x) with F the cdf of ``distribution``: from its support onto (0, 1), increasing.
    The inverse is the distribution's icdf and log|dy/dx| = log pdf(x) = log_prob(x)."""
    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution, cache_size=0):
        Transform.__init__(self, cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        return self.distribution.support

    def with_cache(self, cache_size=1):
        if cache_size == self._cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)
