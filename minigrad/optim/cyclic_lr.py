"""``CyclicLR``: the cyclical learning-rate policy (Smith, "Cyclical Learning Rates for
Training Neural Networks", 2017), re-exported by ``lr_scheduler``.

The rate moves linearly between ``base_lr`` and ``max_lr`` in a triangle wave whose rising
half lasts ``step_size_up`` steps and falling half ``step_size_down`` steps; the height of
each triangle is multiplied by ``scale_fn`` (of the cycle number, or of the step count).
Momentum (or Adam's beta1) runs the mirror image between ``max_momentum`` and
``base_momentum``.  The schedule is stepped once per batch.
"""
from __future__ import annotations

import math
import types

from ._lr_base import LRScheduler, _set_group_value
from .optimizer import Optimizer

__all__ = ["CyclicLR"]

_MODES = ("triangular", "triangular2", "exp_range")


def _per_group(name, optimizer, value):
    """``value`` repeated for every param group, or a list/tuple of one per group."""
    n_groups = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [value] * n_groups
    if len(value) != n_groups:
        raise ValueError(f"{name} must have the same length as optimizer.param_groups. "
                         f"{name} has {len(value)} values, param_groups has {n_groups}.")
    return list(value)


class CyclicLR(LRScheduler):
    """Cyclical learning rate (and inverse cyclical momentum).

    With ``T = step_size_up + step_size_down``, ``cycle = floor(1 + epoch / T)`` and
    ``x = 1 + epoch / T - cycle`` (the position in the cycle, in [0, 1)), the triangle is
    ``h = x / r`` on the way up (``x <= r``, ``r = step_size_up / T``) and
    ``h = (x - 1) / (r - 1)`` on the way down; then

        lr = base_lr + (max_lr - base_lr) * h * scale_fn(c)
        momentum = max_momentum - (max_momentum - base_momentum) * h * scale_fn(c)

    where ``c`` is ``cycle`` (scale_mode ``'cycle'``) or ``epoch`` (``'iterations'``).
    Built-in modes: ``'triangular'`` (scale 1), ``'triangular2'`` (halve every cycle:
    ``1 / 2 ** (cycle - 1)``) and ``'exp_range'`` (``gamma ** epoch``).
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                 cycle_momentum=True, base_momentum=0.8, max_momentum=0.9, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            # The cycle starts at the bottom, so the groups' current lr is overwritten.
            for group, lr in zip(optimizer.param_groups, base_lrs):
                _set_group_value(group, "lr", lr)
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in _MODES and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        self.mode, self.gamma, self.scale_mode = mode, gamma, scale_mode
        self._scale_fn_custom, self.cycle_momentum = scale_fn, cycle_momentum
        self._pick_scale_fn()
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with "
                                 "`cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for group, top, bottom in zip(optimizer.param_groups, self.max_momentums,
                                              self.base_momentums):
                    self._set_momentum(group, top)
                    group["max_momentum"] = top
                    group["base_momentum"] = bottom
        super().__init__(optimizer, last_epoch)
        # ``initial_lr`` may predate this schedule; the cycle's floor is base_lr regardless.
        self.base_lrs = base_lrs

    # -- the scale function: a built-in (module-level, so the schedule pickles) or the user's --
    def _pick_scale_fn(self):
        """Set ``_scale_fn_ref`` and the scale mode for the built-in modes (a user scale_fn
        keeps the scale_mode it was given)."""
        built_in = {"triangular": (_flat, "cycle"), "triangular2": (_halving, "cycle"),
                    "exp_range": (_exponential(self.gamma), "iterations")}
        if self._scale_fn_custom is None and self.mode in built_in:
            self._scale_fn_ref, self.scale_mode = built_in[self.mode]

    def scale_fn(self, x):
        """The height multiplier at ``x`` (cycle number or step, per ``scale_mode``)."""
        fn = self._scale_fn_ref if self._scale_fn_custom is None else self._scale_fn_custom
        return fn(x)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def get_lr(self):
        step = self.last_epoch
        cycle = math.floor(1 + step / self.total_size)
        x = 1.0 + step / self.total_size - cycle
        if x <= self.step_ratio:
            height = x / self.step_ratio
        else:
            height = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else step)
        lrs = [low + (high - low) * height * scale
               for low, high in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums,
                                        self.max_momentums):
                self._set_momentum(group, high - (high - low) * height * scale)
        return lrs

    def state_dict(self):
        """The schedule's state without the scale functions; a custom scale_fn that is a
        callable object (not a plain function) contributes a copy of its ``__dict__``."""
        functions = ("_scale_fn_ref", "_scale_fn_custom")
        state = {k: v for k, v in super().state_dict().items() if k not in functions}
        custom = self._scale_fn_custom
        picklable = custom is not None and not isinstance(custom, types.FunctionType)
        state["_scale_fn_custom"] = dict(custom.__dict__) if picklable else None
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        custom_state = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        if custom_state is not None:
            self._scale_fn_custom.__dict__.update(custom_state)
        self._pick_scale_fn()


def _flat(x):
    return 1.0


def _halving(x):
    return 1 / (2.0 ** (x - 1))


class _exponential:
    """gamma ** x, as a picklable callable."""

    def __init__(self, gamma):
        self.gamma = gamma

    def __call__(self, x):
        return self.gamma ** x
