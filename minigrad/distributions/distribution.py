"""``Distribution``: the base class, with PyTorch's interface.

A distribution holds parameters of shape ``batch_shape`` (many independent distributions
evaluated at once) and draws points of shape ``event_shape`` (() for a scalar, (k,) for a
k-vector).  ``sample(sample_shape)`` returns ``sample_shape + batch_shape + event_shape``;
``log_prob(value)`` reduces the event dims and returns ``batch_shape`` (broadcast with
value's leading dims).

Validation (on by default, as in PyTorch under ``__debug__``): the constructor checks each
parameter against ``arg_constraints`` and ``log_prob`` checks its value against ``support``,
raising ValueError with PyTorch's message.
"""
from __future__ import annotations

from .._warn_once import warn_user
from . import _ops as ops
from . import constraints
from .utils import lazy_property

__all__ = ["Distribution"]


def _format_param(value):
    """How __repr__ shows a parameter: its value when it has one element, else its size."""
    if value.numel() != 1:
        return repr(value.size()).replace("minigrad.", "torch.")
    return repr(value) if value.dim() else format(value.item())


def _size_text(shape):
    """A shape spelled as PyTorch prints a ``torch.Size`` in its messages."""
    return "torch.Size([" + ", ".join(str(int(d)) for d in shape) + "])"


def _broadcast_clash(shape_a, shape_b):
    """True when two shapes cannot broadcast: some aligned (right-justified) pair of sizes
    differs with neither being 1."""
    return any(a != b and 1 not in (a, b) for a, b in zip(shape_a[::-1], shape_b[::-1]))


class Distribution:
    """The parent of ``Normal``, ``Categorical`` and the other distributions (not used directly).

    Subclasses set ``arg_constraints`` and ``support`` (Constraint objects), the flags
    ``has_rsample`` / ``has_enumerate_support``, and implement what they can of ``rsample``
    or ``sample``, ``log_prob``, ``cdf``, ``icdf``, ``entropy``, ``enumerate_support`` and the
    ``mean`` / ``mode`` / ``variance`` properties, plus ``expand``.
    """
    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument/value validation on or off for every distribution created later."""
        if not any(value == flag for flag in (False, True)):
            raise ValueError(f"set_default_validate_args expects a bool, got {value!r}")
        setattr(Distribution, "_validate_args", value)

    def __init__(self, batch_shape=ops.Size(), event_shape=ops.Size(), validate_args=None):
        self._batch_shape, self._event_shape = ops.Size(batch_shape), ops.Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()
        super().__init__()

    def _check_parameters(self):
        """Raise PyTorch's ValueError for the first parameter outside its constraint."""
        try:
            rules = self.arg_constraints
        except NotImplementedError:
            rules = {}
            warn_user(f"{self.__class__} does not define `arg_constraints`. Please set "
                      "`arg_constraints = {}` or initialize the distribution with "
                      "`validate_args=False` to turn off validation.")
        for name in rules:
            rule = rules[name]
            # a dependent constraint needs the other parameters; an unset lazy parameter
            # (probs of a distribution given logits) would be built just to be checked
            if constraints.is_dependent(rule) or self._is_unbuilt_lazy(name):
                continue
            current = getattr(self, name)
            if bool(rule.check(current).all()):
                continue
            raise ValueError(
                f"Expected parameter {name} ({type(current).__name__} of shape "
                f"{tuple(current.shape)}) of distribution {self!r} to satisfy the "
                f"constraint {rule!r}, but found invalid values:\n{current}")

    def _is_unbuilt_lazy(self, name):
        declared = getattr(type(self), name, None)
        return name not in vars(self) and isinstance(declared, lazy_property)

    def expand(self, batch_shape, _instance=None):
        """This distribution with its parameters expanded (broadcast, no copy) to
        ``batch_shape``; subclasses implement it (usually with ``_expand_params``)."""
        raise NotImplementedError

    def _expand_params(self, cls, batch_shape, _instance, names):
        """Shared body of the subclasses' ``expand``: a bare instance of ``cls`` (see
        ``_get_checked_instance``) whose attributes ``names`` (those this instance holds) are
        views of ours broadcast to ``batch_shape`` + their own trailing (event) dims, with
        the same event shape and validation flag."""
        twin = self._get_checked_instance(cls, _instance)
        new_batch = ops.Size(batch_shape)
        held = vars(self)
        batch_rank = len(self._batch_shape)
        for name in names:
            if name in held:
                trailing = tuple(held[name].shape)[batch_rank:]
                setattr(twin, name, held[name].expand(tuple(new_batch) + trailing))
        if "_given" in held:                    # which parameter was given (GivenParameter)
            twin._given = held["_given"]
        Distribution.__init__(twin, new_batch, self._event_shape, validate_args=False)
        twin._validate_args = self._validate_args
        return twin

    @property
    def batch_shape(self):
        """Shape of the independent parameter sets held (the distribution's batch)."""
        return self._batch_shape

    @property
    def event_shape(self):
        """Shape of one draw of one distribution of the batch."""
        return self._event_shape

    @property
    def arg_constraints(self):
        """{parameter name: the Constraint it must satisfy}."""
        raise NotImplementedError

    @property
    def support(self):
        """The Constraint every sample satisfies."""
        raise NotImplementedError

    @property
    def mean(self):
        raise NotImplementedError            # bare, as PyTorch's (only mode names itself)

    @property
    def mode(self):
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError            # bare, as PyTorch's (only mode names itself)

    @property
    def stddev(self):
        """Square root of the variance."""
        return self.variance.sqrt()

    def sample(self, sample_shape=ops.Size()):
        """Draws of shape ``sample_shape + batch_shape + event_shape``, without gradient."""
        with ops.no_grad():
            draws = self.rsample(sample_shape)
        return draws

    def rsample(self, sample_shape=ops.Size()):
        """Reparameterized draws: differentiable with respect to the parameters."""
        raise NotImplementedError

    def sample_n(self, n):
        warn_user("`sample_n(n)` will be deprecated. Use `sample((n,))` instead.",
                  FutureWarning)
        return self.sample(ops.Size([n]))

    def log_prob(self, value):
        """log density (or log mass) at ``value``."""
        raise NotImplementedError

    def cdf(self, value):
        """P(X <= value)."""
        raise NotImplementedError

    def icdf(self, value):
        """The inverse of cdf."""
        raise NotImplementedError

    def enumerate_support(self, expand=True):
        """Every value of a discrete distribution's support, along a new dim 0."""
        raise NotImplementedError

    def entropy(self):
        """-E[log p(X)], of shape batch_shape."""
        raise NotImplementedError

    def perplexity(self):
        """exp(entropy)."""
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=ops.Size()):
        """sample_shape + batch_shape + event_shape."""
        return ops.Size((*ops.Size(sample_shape), *self._batch_shape, *self._event_shape))

    def _checked(self, value):
        """``value`` itself, after ``_validate_sample`` when validation is on."""
        if self._validate_args:
            self._validate_sample(value)
        return value

    def _validate_sample(self, value):
        """Refuse a log_prob/cdf argument that is not a tensor, does not broadcast with
        batch_shape + event_shape, or lies outside the support (PyTorch's messages)."""
        if not ops.is_tensor(value):
            raise ValueError("The value argument to log_prob must be a Tensor")
        given = tuple(value.shape)
        event = tuple(self._event_shape)
        if given[max(len(given) - len(event), 0):] != event:
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{_size_text(given)} vs {_size_text(event)}.")
        full = tuple(self._batch_shape) + event
        if _broadcast_clash(given, full):
            raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                             f"{_size_text(given)} vs {_size_text(full)}.")
        try:
            region = self.support
        except NotImplementedError:
            warn_user(f"{self.__class__} does not define `support` to enable sample "
                      "validation. Please initialize the distribution with "
                      "`validate_args=False` to turn off validation.")
            return
        if not bool(region.check(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                             f"{given}) to be within the support ({region!r}) "
                             f"of the distribution {self!r}, but found invalid values:\n"
                             f"{value}")

    def _get_checked_instance(self, cls, _instance=None):
        """A bare instance for ``expand`` to fill; a subclass with its own __init__ must
        override expand."""
        if _instance is not None:
            return _instance
        own_type = type(self)
        if own_type.__init__ is not cls.__init__:
            raise NotImplementedError(
                f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                "__init__() method must also define a custom .expand() method.")
        return own_type.__new__(own_type)

    def __repr__(self):
        held = vars(self)
        shown = [f"{name}: {_format_param(held[name])}" for name in self.arg_constraints
                 if name in held]
        return f"{type(self).__name__}({', '.join(shown)})"
