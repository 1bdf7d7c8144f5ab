"""``LRScheduler``, the base class of the learning-rate schedules in ``lr_scheduler.py`` and
``_lr_more.py``: it owns the epoch counter and writes each new rate into the optimizer's
param_groups."""
from __future__ import annotations

import functools
import types
import weakref

from .._warn_once import warn_user
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaScheduler", "NestedSchedulers"]


def _set_group_value(group, key, value):
    """``group[key] = value``, except that a tensor hyper-parameter (``lr=torch.tensor(0.1)``)
    is filled in place, as PyTorch does, so that code holding that tensor sees the schedule."""
    current = group[key]
    if isinstance(current, Tensor):
        current.fill_(value.detach().reshape(()) if isinstance(value, Tensor) else value)
    else:
        group[key] = value


def _group_values(optimizer, key):
    """``[group[key] for each group]`` with tensors cloned: a list of rates kept by the caller
    (``get_last_lr()``) does not change when a later step fills the group's tensor."""
    return [g[key].clone() if isinstance(g[key], Tensor) else g[key]
            for g in optimizer.param_groups]


def _track_step_calls(optimizer):
    """Replace the optimizer's bound ``step`` by a wrapper that records, in
    ``optimizer._opt_called``, that it has run: a schedule's first ``step()`` warns when the
    optimizer has not stepped yet (the schedule's first rate would be skipped). The wrapper
    holds the optimizer weakly, and is installed once however many schedules share it."""
    if getattr(optimizer.step, "_wrapped_by_lr_sched", False):
        return
    owner = weakref.ref(optimizer)
    current = optimizer.step
    unbound = getattr(current, "__func__", None)
    if getattr(current, "__self__", None) is not optimizer or unbound is None:
        unbound = lambda opt, *args, **kwargs: current(*args, **kwargs)  # noqa: E731

    @functools.wraps(current)
    def step(*args, **kwargs):
        opt = owner()
        opt._opt_called = True
        return unbound(opt, *args, **kwargs)

    step._wrapped_by_lr_sched = True
    optimizer.step = step


def _warn_if_optimizer_not_stepped(optimizer):
    if not getattr(optimizer.step, "_wrapped_by_lr_sched", False):
        warn_user("Seems like `optimizer.step()` has been overridden after learning rate "
                  "scheduler initialization: make sure `optimizer.step()` is called "
                  "before `lr_scheduler.step()`.", UserWarning)
    elif not getattr(optimizer, "_opt_called", False):
        warn_user("Detected call of `lr_scheduler.step()` before `optimizer.step()`. The "
                  "optimizer should step first, then the schedule: in the other order the "
                  "schedule's first learning rate is never used.", UserWarning)


# the words of the warning a ``step(epoch)`` call gives (third-party code imports the name to
# filter the warning)
EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where "
    "possible. Please use `scheduler.step()` to step the scheduler.")


class _enable_get_lr_call:
    """``with _enable_get_lr_call(schedule):`` marks ``get_lr()`` calls inside as made by a
    step, so they do not warn (for schedules that write their own ``step``)."""

    def __init__(self, o):
        self.o = o

    def __enter__(self):
        self.o._get_lr_called_within_step = True
        return self

    def __exit__(self, *exc):
        self.o._get_lr_called_within_step = False


def _warn_get_lr_called_within_step(lr_scheduler):
    """The warning a schedule's ``get_lr()`` gives when called from outside its step."""
    if not getattr(lr_scheduler, "_get_lr_called_within_step", False):
        warn_user("To get the last learning rate computed by the scheduler, please use "
                  "`get_last_lr()`.", UserWarning)


def _warn_outside_step(get_lr):
    """``get_lr`` of a built-in schedule, warning when called from outside ``step()``: there it
    computes the rates of a step, not the rates in use (that is ``get_last_lr()``)."""
    @functools.wraps(get_lr)
    def checked(self):
        if not getattr(self, "_get_lr_called_within_step", False):
            warn_user("To get the last learning rate computed by the scheduler, please use "
                      "`get_last_lr()`.", UserWarning)
        return get_lr(self)
    return checked


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` (the rates for epoch ``self.last_epoch``)."""

    _is_initial = False
    _get_lr_called_within_step = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # minigrad's own schedules warn when get_lr() is called by hand; a user's schedule
        # that defines its own get_lr does not (as in PyTorch)
        if cls.__module__.startswith("minigrad.") and "get_lr" in cls.__dict__:
            cls.get_lr = _warn_outside_step(cls.__dict__["get_lr"])

    def _rates(self, compute):
        """``compute()`` (get_lr or the closed form) with the within-step flag set."""
        self._get_lr_called_within_step = True
        try:
            return compute()
        finally:
            self._get_lr_called_within_step = False

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                # a tensor lr is copied: the schedule fills the group's own in place
                lr = group["lr"]
                group.setdefault("initial_lr", lr.clone() if isinstance(lr, Tensor) else lr)
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when "
                        "resuming scheduler with last_epoch >= 0.\nThis typically happens "
                        "when:\n1. You're trying to resume training from a checkpoint but "
                        "haven't properly loaded the optimizer state\n2. You're using "
                        "last_epoch >= 0 for a fresh training run (not recommended)")
        self.base_lrs = _group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        _track_step_calls(optimizer)
        self._initial_step()

    def _initial_step(self):
        """Step 0, the one a schedule takes when it is built (``_is_initial`` tells ``step``
        that it is not a user's call)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def get_last_lr(self):
        """The learning rates set by the last ``step()``, one per param group."""
        return self._last_lr

    def step(self, epoch=None):
        """Advance one epoch (or jump to ``epoch``, deprecated) and set the groups' lr."""
        if self._step_count == 1:
            _warn_if_optimizer_not_stepped(self.optimizer)
        self._step_count += 1
        if epoch is not None:
            warn_user(EPOCH_DEPRECATION_WARNING, UserWarning)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        """Set the groups' lr for the next epoch, or for ``epoch`` (closed form where there is
        one): ``step`` without its call counting and warnings, which SequentialLR uses to
        restart a schedule at a milestone."""
        if epoch is None:
            self.last_epoch += 1
            values = self._rates(self.get_lr)
        else:
            self.last_epoch = epoch
            values = self._rates(getattr(self, "_get_closed_form_lr", self.get_lr))
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            _set_group_value(group, "lr", lr)
        self._last_lr = _group_values(self.optimizer, "lr")

    def state_dict(self):
        """Everything but the optimizer (and functions, for LambdaLR)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class LambdaScheduler(LRScheduler):
    """A schedule driven by ``lr_lambda(epoch)``: one function for every param group, or a
    list of one per group. The functions are not in the ``state_dict`` (they may not pickle)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        if not isinstance(lr_lambda, (list, tuple)):
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        else:
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got "
                                 f"{len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        # one entry per group: None for a plain function, the attributes of a callable object
        # (a warm-up schedule with state of its own)
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else
                               dict(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", None)
        self.__dict__.update(state)
        for fn, attributes in zip(self.lr_lambdas, saved or []):
            if attributes is not None:
                fn.__dict__.update(attributes)


class NestedSchedulers:
    """The ``state_dict`` of a schedule made of other schedules (``self._schedulers``): its
    own state, with each inner schedule's state in their order."""

    def _check_schedulers(self, optimizer, schedulers):
        """Each inner schedule must step without arguments (not ReduceLROnPlateau, which
        needs its metric) and drive ``optimizer``; PyTorch's ValueErrors otherwise."""
        for i, s in enumerate(schedulers):
            if getattr(s, "_steps_on_metric", False):
                raise ValueError(f"{type(self).__name__} does not support `ReduceLROnPlateau` "
                                 "scheduler as it requires additional kwargs to be specified "
                                 f"when calling `step`, but got one at index {i} in the given "
                                 "schedulers sequence.")
            if s.optimizer is not optimizer:
                raise ValueError(f"{type(self).__name__} expects all schedulers to belong to "
                                 f"the same optimizer, but got scheduler {type(s).__name__} at "
                                 f"index {i} has {s.optimizer}, which is different from "
                                 f"{type(optimizer).__name__}.")

    def state_dict(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        self.__dict__.update(state)
        for s, sd in zip(self._schedulers, inner):
            s.load_state_dict(sd)
