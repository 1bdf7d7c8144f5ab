"""More learning-rate schedules, re-exported by ``lr_scheduler``: ``ConstantLR``,
``MultiplicativeLR``, ``PolynomialLR`` and ``ChainedScheduler``.

As in ``lr_scheduler.py`` each ``get_lr`` is PyTorch's "chainable" recurrence (the new rate
from the current one), so that the rates match torch's to the last bit and schedules can be
combined; ``_get_closed_form_lr`` serves the deprecated ``step(epoch)``.
"""
from __future__ import annotations

from ._lr_base import LambdaScheduler, LRScheduler, NestedSchedulers, _group_values

__all__ = ["ConstantLR", "MultiplicativeLR", "PolynomialLR", "ChainedScheduler"]


class ConstantLR(LRScheduler):
    """lr = initial_lr * factor for the first ``total_iters`` epochs, then initial_lr (a
    warm-up at a constant reduced rate)."""

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        if factor > 1.0 or factor < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [g["lr"] * self.factor for g in groups]
        if self.last_epoch != self.total_iters:
            return [g["lr"] for g in groups]
        return [g["lr"] * (1.0 / self.factor) for g in groups]

    def _get_closed_form_lr(self):
        done = self.last_epoch >= self.total_iters
        return [base * (self.factor + done * (1 - self.factor)) for base in self.base_lrs]


class MultiplicativeLR(LambdaScheduler):
    """Each epoch multiplies the rate by ``lr_lambda(epoch)`` (one function, or one per param
    group)."""

    def get_lr(self):
        groups = self.optimizer.param_groups
        if not self._is_initial:
            return [g["lr"] * fn(self.last_epoch)
                    for fn, g in zip(self.lr_lambdas, groups, strict=True)]
        return [g["lr"] for g in groups]


class PolynomialLR(LRScheduler):
    """lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power: a polynomial
    decay to 0 at ``total_iters``."""

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self._is_initial or self.last_epoch > self.total_iters:
            return [g["lr"] for g in groups]
        ratio = ((1.0 - self.last_epoch / self.total_iters) /
                 (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [g["lr"] * ratio for g in groups]

    def _get_closed_form_lr(self):
        left = 1.0 - min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * left ** self.power for base in self.base_lrs]


class ChainedScheduler(NestedSchedulers, LRScheduler):
    """Step several schedulers of one optimizer together, each multiplying in its own change
    (e.g. a ConstantLR warm-up with an ExponentialLR decay)."""

    def __init__(self, schedulers, optimizer=None):
        if len(schedulers) < 1:
            raise ValueError(f"{type(self).__name__} expects at least one scheduler to be "
                             "chained, but got no scheduler.")
        optimizer = optimizer or schedulers[0].optimizer
        self._check_schedulers(optimizer, schedulers)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = _group_values(optimizer, "lr")

    def step(self):
        for s in self._schedulers:
            s.step()
        self._last_lr = _group_values(self.optimizer, "lr")
