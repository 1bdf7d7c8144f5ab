"""Weight averaging (SWA: Izmailov et al., 2018; EMA): ``AveragedModel`` keeps a running
average of a model's weights, ``SWALR`` anneals the learning rate to a constant for the
averaging phase, and ``update_bn`` recomputes BatchNorm statistics for the averaged weights.

    swa_model = AveragedModel(model)                  # or multi_avg_fn=get_ema_multi_avg_fn()
    for epoch in ...:
        train_one_epoch(model, optimizer)
        swa_model.update_parameters(model)
        swa_scheduler.step()
    update_bn(loader, swa_model)
"""
from __future__ import annotations

import copy
import itertools
import math

import numpy as np

from .. import dtypes
from ..autograd import no_grad
from ..nn.modules.module import Module
from ..nn.modules.normalization import _BatchNorm
from ..tensor import Tensor
from .._tensor_factories import tensor
from ._lr_base import LRScheduler

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")


def get_ema_avg_fn(decay=0.999):
    """``avg_fn(averaged, current, num_averaged)`` of an exponential moving average:
    decay * averaged + (1 - decay) * current (a new tensor)."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """``avg_fn`` of the plain running mean: averaged + (current - averaged) / (n + 1)."""
    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


def get_ema_multi_avg_fn(decay=0.999):
    """``multi_avg_fn(averaged_list, current_list, num_averaged)`` of an exponential moving
    average, in place: averaged = lerp(averaged, current, 1 - decay)."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, _):
        with no_grad():
            floating = ema_param_list[0].is_floating_point() or ema_param_list[0].is_complex()
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                if floating:
                    p_ema.lerp_(p_model, 1 - decay)
                else:
                    p_ema.copy_(p_ema * decay + p_model * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """``multi_avg_fn`` of the plain running mean, in place: averaged = lerp(averaged,
    current, 1 / (n + 1))."""
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        with no_grad():
            first = averaged_param_list[0]
            weight = 1 / (float(num_averaged) + 1)
            if isinstance(num_averaged, Tensor):
                # PyTorch divides by the long tensor: a weight in the default float dtype
                weight = float(np.float32(weight))
            for p_avg, p_model in zip(averaged_param_list, current_param_list):
                if first.is_floating_point() or first.is_complex():
                    p_avg.lerp_(p_model, weight)
                else:
                    p_avg.copy_(p_avg + (p_model - p_avg) / (num_averaged + 1))
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are a running average of ``model``'s.

    ``update_parameters(model)``: the first call copies the weights; each later one averages
    them in with ``avg_fn(averaged, current, n_averaged)`` (returns the new value, one tensor
    at a time) or ``multi_avg_fn(averaged_list, current_list, n_averaged)`` (updates in
    place); by default the equal-weight mean (SWA).  ``use_buffers=True`` averages the
    buffers (BatchNorm statistics) too; otherwise they are copied from ``model``.
    ``n_averaged`` (a long buffer) counts the updates.  Calling it runs the averaged copy.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=dtypes.long, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        """Average ``model``'s current weights into this copy (see the class docstring)."""
        with no_grad():
            self._update(model)

    def _update(self, model):
        if self.use_buffers:
            own = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            own, theirs = self.parameters(), model.parameters()
        averaged, current = [], []
        first = int(self.n_averaged) == 0
        for p_avg, p_model in zip(own, theirs):
            p_model = p_model.detach().to(p_avg.device)
            averaged.append(p_avg.detach())
            current.append(p_model)
            if first:
                p_avg.detach().copy_(p_model)
        if not first:
            n = self.n_averaged
            if self.multi_avg_fn is not None:
                for group_avg, group_cur in _by_device_and_dtype(averaged, current):
                    self.multi_avg_fn(group_avg, group_cur, n.to(group_avg[0].device))
            else:
                # PyTorch's CPU path: one tensor at a time (the equal-weight mean by default)
                avg_fn = self.avg_fn if self.avg_fn is not None else get_swa_avg_fn()
                for p_avg, p_model in zip(averaged, current):
                    p_avg.copy_(avg_fn(p_avg, p_model, n.to(p_avg.device)))
        if not self.use_buffers:
            for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                b_avg.detach().copy_(b_model.detach().to(b_avg.device))
        self.n_averaged += 1


def _by_device_and_dtype(averaged, current):
    """The (averaged, current) pairs split into lists that share a device and dtype, in order
    of first appearance (what a ``multi_avg_fn`` gets, as in PyTorch)."""
    groups = {}
    for a, c in zip(averaged, current):
        key = (str(a.device), a.dtype)
        pair = groups.setdefault(key, ([], []))
        pair[0].append(a)
        pair[1].append(c)
    return list(groups.values())


def update_bn(loader, model, device=None):
    """Recompute the running mean/var of every BatchNorm in ``model`` with one pass over
    ``loader`` (batches, or tuples/lists whose first item is the input), as a plain average
    over the batches (momentum=None), in train mode and without gradients; the modules'
    momentum and the model's mode are restored afterwards."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate from its current value to ``swa_lr`` over
    ``anneal_epochs`` steps, then hold it there.

    At step k, with alpha = anneal(min(1, k / anneal_epochs)) and anneal(x) = x ('linear') or
    (1 - cos(pi x)) / 2 ('cos'): lr_k = alpha * swa_lr + (1 - alpha) * lr_0, where lr_0 is
    recovered from the current lr (so that another scheduler may have changed it).
    ``swa_lr``: one value or one per param group (stored as the groups' 'swa_lr').
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        if isinstance(swa_lr, (list, tuple)):
            if len(swa_lr) != len(optimizer.param_groups):
                raise ValueError(f"swa_lr must have the same length as optimizer.param_groups. "
                                 f"swa_lr has {len(swa_lr)} values, param_groups has "
                                 f"{len(optimizer.param_groups)}.")
            swa_lrs = list(swa_lr)
        else:
            swa_lrs = [swa_lr] * len(optimizer.param_groups)
        for value, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', "
                             f"instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        """The starting lr that the schedule at weight ``alpha`` maps to ``lr``."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else \
            self._linear_anneal

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / span)))
        alpha = self.anneal_func(max(0, min(1, step / span)))
        groups = self.optimizer.param_groups
        start = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, start)]

    def state_dict(self):
        return {key: value for key, value in self.__dict__.items()
                if key not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
