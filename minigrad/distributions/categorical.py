"""``Categorical`` (an index in 0..K-1) and ``OneHotCategorical`` (the same draw as a
one-hot K-vector), parameterised by ``probs`` (normalised over the last dim) or ``logits``
(log-probabilities up to a constant, normalised by logsumexp)."""
from __future__ import annotations

import numpy as np

from . import _ops as ops
from . import constraints
from .distribution import Distribution
from .utils import enumerate_values, lazy_property, logits_to_probs, param_numpy, \
    probs_to_logits, wrap_draws

__all__ = ["Categorical", "OneHotCategorical"]


def _draw_categories(probs, n):
    """n independent category indices for each row of ``probs`` (..., K), returned as an
    int64 numpy array (n, ...): one ``multinomial`` call with replacement over the rows, as
    PyTorch's sampler makes (so a seed gives its draws)."""
    p = param_numpy(probs)
    k = p.shape[-1]
    rows = p.reshape(-1, k)
    # PyTorch draws with multinomial, whose refusals these are, in its order: no draws, then
    # the weights (NaN rows come from unvalidated probabilities that sum to 0, or from NaN
    # logits), in the words its kernel gives n draws with replacement
    if n <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not rows.size:
        return np.zeros((n,) + p.shape[:-1], dtype=np.int64)
    index = ops.multinomial(ops.Tensor._wrap(np.ascontiguousarray(rows)), n, True)._array
    return index.T.reshape((n,) + p.shape[:-1])


def _nan_like_mean(dist):
    """Categories are labels, so mean and variance are undefined: NaN of batch shape."""
    p = dist.probs
    return ops.full(dist._extended_shape(), float("nan"), dtype=p.dtype, device=p.device)


class Categorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(
        constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) is (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if logits is None:
            if probs.dim() == 0:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            table = self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() == 0:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            table = self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        self._param = table
        self._num_events = table.shape[-1]
        super().__init__(ops.Size(tuple(table.shape)[:-1]), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(Categorical, batch_shape, _instance, ("probs", "logits"))
        held = vars(twin)
        twin._param = held["logits"] if "logits" in held else held["probs"]
        twin._num_events = self._num_events
        return twin

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=False)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=False)

    @property
    def param_shape(self):
        return self._param.size()

    @property
    def mean(self):
        return _nan_like_mean(self)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return _nan_like_mean(self)

    def sample(self, sample_shape=ops.Size()):
        wanted = ops.Size(sample_shape)
        indices = _draw_categories(self.probs, wanted.numel())
        as_long = ops.zeros(1, dtype=ops.int64, device=self.probs.device)
        return wrap_draws(indices, as_long).reshape(self._extended_shape(wanted))

    def log_prob(self, value):
        """logits[..., value]: the normalised log-probability of each category index."""
        index = self._checked(value).long()
        table = self.logits
        batch = ops.broadcast_shapes(tuple(index.shape), tuple(table.shape[:-1]))
        index = index.reshape(tuple(index.shape) + (1,)).expand(tuple(batch) + (1,))
        table = table.expand(tuple(batch) + (self._num_events,))
        return table.gather(-1, index).squeeze(-1)

    def entropy(self):
        """-sum_k p_k log p_k (logits clamped at the dtype's min so 0 * -inf stays 0)."""
        finite_logits = self.logits.clamp(min=ops.finfo(self.logits.dtype).min)
        return -(self.probs * finite_logits).sum(-1)

    def enumerate_support(self, expand=True):
        labels = ops.arange(self._num_events, dtype=ops.int64, device=self._param.device)
        return enumerate_values(labels, self._batch_shape, expand)


def _from_categorical(name, doc):
    """A read-only property forwarding to the wrapped Categorical's attribute ``name``."""
    return property(lambda self: getattr(self._categorical, name), doc=doc)


class OneHotCategorical(Distribution):
    """The Categorical draw as a one-hot K-vector (event shape (K,)); everything is
    delegated to a wrapped ``Categorical`` over the same parameters."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(
        constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        labels = Categorical(probs, logits)
        self._categorical = labels
        super().__init__(labels.batch_shape, labels.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(OneHotCategorical, batch_shape, _instance, ())
        twin._categorical = self._categorical.expand(batch_shape)
        return twin

    _param = _from_categorical("_param", "The parameter tensor given (probs or logits).")
    probs = _from_categorical("probs", "Normalised category probabilities (..., K).")
    logits = _from_categorical("logits", "Normalised log-probabilities (..., K).")
    param_shape = _from_categorical("param_shape", "Shape of the parameter tensor.")
    mean = _from_categorical("probs", "E[x] = probs.")

    @property
    def mode(self):
        p = self.probs
        return ops.one_hot(p.argmax(-1), num_classes=p.shape[-1]).to(p.dtype)

    @property
    def variance(self):
        p = self.probs
        return p * (1 - p)                   # PyTorch's form (its rounding, its last node)

    def sample(self, sample_shape=ops.Size()):
        labels = self._categorical.sample(sample_shape)
        return ops.one_hot(labels, self._categorical._num_events).to(self.probs.dtype)

    def log_prob(self, value):
        hot = self._checked(value).max(-1)[1]      # max, not argmax: a bool one-hot too
        return self._categorical.log_prob(hot)

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        k = self._event_shape[0]
        rows = ops.eye(k, dtype=self._param.dtype, device=self._param.device)
        return enumerate_values(rows, self._batch_shape, expand)
