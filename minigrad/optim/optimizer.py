"""``Optimizer``: the base class of SGD, Adam, AdamW and RMSprop.

An optimizer holds ``param_groups``, a list of dicts, each with its ``'params'`` (a list of
tensors) and its hyper-parameters ('lr', ...); and ``state``, a dict tensor -> dict of that
tensor's buffers (momentum, moving averages).  ``step()`` updates every parameter that has a
``.grad``, in place on the raw arrays: no graph is recorded and Parameters keep their identity
(except with ``differentiable=True``, for the optimizers whose PyTorch counterpart has the flag:
the update is then made of tensor operations recorded in the graph, for non-leaf parameters as
in meta-learning).
``state_dict()``/``load_state_dict()`` use PyTorch's layout:
    {'state': {0: {'momentum_buffer': tensor}, ...},
     'param_groups': [{'lr': 0.01, ..., 'params': [0, 1, ...]}]}
where parameters are numbered in the order of the groups.

The hooks run around every optimizer's step are in ``_step_hooks.py``, the array helpers of
the updates (complex parameters as real pairs, tensor hyper-parameters) in
``_update_arrays.py``, and the helpers PyTorch's module offers optimizer authors (``required``,
``ParamsT``, ``_use_grad_for_differentiable``...) in ``_optimizer_helpers.py``; this module
exports those.
"""
from __future__ import annotations

import copy
from collections import OrderedDict, defaultdict

import numpy as np

from .._warn_once import warn_user
from .. import backend
from .._global_flags import typename
from ..autograd import enable_grad, set_grad_enabled
from ..nn.modules.hooks import RemovableHandle
from ..tensor import Tensor
from .._zero_grads import _zero_grads
from ._step_hooks import (mark_step_hooked, register_optimizer_step_post_hook,
                          register_optimizer_step_pre_hook)
from ._update_arrays import _like_complex, _with_float_scalars, complex_of_pairs, real_pairs
# what third-party optimizers import from torch.optim.optimizer
from ._optimizer_helpers import (  # noqa: F401
    ParamsT, StateDict, _check_loaded_shapes, _default_to_fused_or_foreach, _get_scalar_dtype,
    _get_value, _use_grad_for_differentiable, required)

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


def _typename(obj):
    """The name PyTorch's messages give a wrong parameter: a tensor's type ('FloatTensor'),
    else the qualified class name ('minigrad.nn.modules.linear.Linear', 'float')."""
    return typename(obj)


# the kinds of an optimizer's own hooks (``_optimizer_<kind>_hooks``)
_HOOK_KINDS = ("step_pre", "step_post", "state_dict_pre", "state_dict_post",
               "load_state_dict_pre", "load_state_dict_post")

# Options that later releases added (flags, mostly): a parameter group loaded from an older
# checkpoint that lacks one gets this value (not the constructor's), as PyTorch's optimizers
# fill them when they load a state dict; only the names this optimizer's defaults have.
_LATE_OPTIONS = {"amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                 "differentiable": False, "fused": None, "decoupled_weight_decay": False,
                 "nesterov": False, "centered": False}


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``.

    ``params``: an iterable of tensors, of (name, tensor) pairs, or of dicts (parameter
    groups: ``{'params': [...], 'lr': 0.1}``; missing hyper-parameters come from
    ``defaults``).
    """

    # this optimizer's values that differ from ``_LATE_OPTIONS`` (or add to it)
    _late_options = {}

    def __init__(self, params, defaults):
        self.defaults = defaults
        for kind in _HOOK_KINDS:       # made here, as PyTorch's __init__ makes them
            self.__dict__[f"_optimizer_{kind}_hooks"] = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)
        mark_step_hooked(self)

    def __repr__(self):
        # each group opens on a new line and each entry ends one, so groups are separated by
        # an empty line (PyTorch's layout)
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for kind in _HOOK_KINDS:
            self.__dict__.setdefault(f"_optimizer_{kind}_hooks", OrderedDict())
        mark_step_hooked(self)

    # ------------------------------------------------------------------------------------------
    # hooks
    # ------------------------------------------------------------------------------------------
    def _hook_dict(self, kind):
        """The OrderedDict id -> hook of one kind ('step_pre', 'state_dict_post', ...), an
        attribute ``__init__`` makes (``__setstate__`` for copies and unpickled optimizers):
        one whose Optimizer.__init__ never ran lacks it, PyTorch's AttributeError."""
        return getattr(self, f"_optimizer_{kind}_hooks")

    def _add_hook(self, kind, hook, prepend=False):
        hooks = self._hook_dict(kind)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` runs before each ``step``; it may return a new
        ``(args, kwargs)``."""
        return self._add_hook("step_pre", hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` runs after each ``step`` (an EMA update, say)."""
        return self._add_hook("step_post", hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer)`` runs before ``state_dict()`` builds its result."""
        return self._add_hook("state_dict_pre", hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` runs on ``state_dict()``'s result; what it returns
        (unless None) becomes the result."""
        return self._add_hook("state_dict_post", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` runs before ``load_state_dict``; what it returns
        (unless None) is loaded instead."""
        return self._add_hook("load_state_dict_pre", hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer)`` runs after ``load_state_dict`` has loaded."""
        return self._add_hook("load_state_dict_post", hook, prepend)

    def add_param_group(self, param_group):
        """Add a group of parameters, e.g. layers to unfreeze: ``{'params': [...], 'lr': ...}``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        # named parameters come as (name, tensor) pairs: all of a group's, or none
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(params):
            raise ValueError("all optimizer params should be with/without names. Some param "
                             "names are missing")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            # a non-leaf is fine when it keeps its .grad, or when the steps are recorded
            # (differentiable=True: the tensor is a function of what is optimized upstream)
            if not (p.is_leaf or p.retains_grad or self.defaults.get("differentiable")):
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group)
        group["params"] = params
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        if len(set(map(id, params))) != len(params):
            warn_user("optimizer contains a parameter group with duplicate parameters; in "
                      "future, this will cause an error")
        seen = set()
        for g in self.param_groups:
            seen.update(map(id, g["params"]))
            if ("param_names" in group) != ("param_names" in g):
                kind = "with names" if "param_names" in group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {kind} to the optimizer")
        if not seen.isdisjoint(map(id, params)):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Clear ``.grad`` of every parameter in ``param_groups``: set it to None, or (with
        ``set_to_none=False``) fill the existing tensor with zeros."""
        if not getattr(type(self).step, "_runs_step_hooks", False):
            mark_step_hooked(self)
        for group in self.param_groups:
            _zero_grads(group["params"], set_to_none)

    def step(self, closure=None):
        """One optimization step; ``closure`` (re-evaluates the model, returns the loss) is
        called with gradients enabled and its loss returned."""
        if type(self)._update is Optimizer._update:
            # a subclass that defines neither step nor _update: refuse even with no gradients
            raise NotImplementedError
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # inf/nan gradients make inf/nan parameters silently, as in PyTorch (no numpy warnings)
        with np.errstate(all="ignore"):
            self._step_groups()
        return loss

    def _step_groups(self):
        """``step``'s updates: each parameter with a gradient, group by group."""
        misshapen = self.__dict__.get("_misshapen")      # (see load_state_dict)
        for group in self.param_groups:
            numbers = None         # the group's hyper-parameters as numbers, read once
            if group.get("capturable") or group.get("fused"):
                # refused before any parameter of the group moves, as in PyTorch
                with_grad = [p for p in group["params"] if p.grad is not None]
                if with_grad:
                    self._check_kernel_flags(group, with_grad)
            for p in group["params"]:
                if p.grad is None:
                    continue
                if numbers is None:
                    numbers = _with_float_scalars(group)
                if p._array.dtype.kind not in "fcV":
                    # numpy would say "Cannot cast ufunc 'subtract' output..." mid-update
                    raise RuntimeError("For integral input tensors, argument alpha must not be "
                                       f"a floating point number ({type(self).__name__} cannot "
                                       f"update a {p.dtype.name} parameter of shape "
                                       f"{list(p.shape)}; optimize floating-point tensors)")
                state = self.state[p] if p in self.state else {}
                if misshapen:
                    _check_loaded_shapes(self, p, state)
                if group.get("differentiable"):
                    # the update is recorded in the graph (tensor ops, in place on p)
                    with set_grad_enabled(True):
                        self._update_differentiable(p, p.grad, state, numbers)
                    self.state[p] = state
                    continue
                if p.grad.is_sparse:
                    self._update_sparse(p, p.grad, state, numbers)
                elif p._array.dtype.kind == "c":
                    self._update_complex(p, state, numbers)
                elif p._array.dtype.itemsize == 2 and self._half_update is not None and \
                        type(p._array) is np.ndarray:
                    # float16/bfloat16 on the CPU: PyTorch's chain of rounded operations
                    self._half_update(p, p.grad._array, state, numbers)
                else:
                    self._update(p, p.grad._array, state, numbers)
                if state:
                    self.state[p] = state      # SGD without momentum keeps no state, as torch
                p._vcounter.value += 1

    def _update_complex(self, p, state, group):
        """A complex parameter is updated as PyTorch's optimizers update it: as the real
        tensor of its (real, imag) pairs, shape (..., 2), with its gradient and state read
        the same way; so Adam's second moment, say, is kept per part, not as |g|^2.  The
        state is stored complex, shaped like the parameter, as PyTorch's."""
        real_p = Tensor._wrap(real_pairs(p._array))
        real_state = {k: Tensor._wrap(real_pairs(v._array)) if _like_complex(v, p) else v
                      for k, v in state.items()}
        self._update(real_p, real_pairs(p.grad._array), real_state, group)
        state.clear()
        for k, v in real_state.items():
            shaped = isinstance(v, Tensor) and v._array.shape == real_p._array.shape and \
                v._array.dtype == real_p._array.dtype
            state[k] = Tensor._wrap(complex_of_pairs(v._array)) if shaped else v

    # PyTorch's capturable=True kernels run only on these devices; its assertion names the
    # tensors it checks ('params and state_steps' for most optimizers)
    _capturable_devices = ["cuda", "xpu", "hpu", "privateuseone", "xla"]
    _capturable_what = "params and state_steps"
    _fused_devices = ["mps", "cuda", "xpu", "hpu", "cpu", "mtia", "privateuseone"]
    # (devices, tensors) its foreach=True path's assertion names, where they differ
    _foreach_capturable = None

    def _check_kernel_flags(self, group, with_grad):
        """PyTorch's refusals of a ``capturable`` or ``fused`` group about to step
        (``with_grad``: its parameters that have a gradient): capturable needs an
        accelerator (AssertionError on the CPU); fused needs floating-point parameters."""
        devices, what = self._capturable_devices, self._capturable_what
        if group.get("foreach") and self._foreach_capturable is not None:
            devices, what = self._foreach_capturable
        if group.get("capturable") and any(p.device.type not in devices for p in with_grad):
            raise AssertionError(f"If capturable=True, {what} must be on supported devices: "
                                 f"{devices}.")
        if group.get("fused"):
            self._check_fused(with_grad)

    def _check_fused(self, with_grad):
        """SGD and Adagrad (as PyTorch) check only the first parameter they ever step."""
        if getattr(self, "_need_device_dtype_check_for_fused", True):
            self._fused_param_check(with_grad[0])
            self._need_device_dtype_check_for_fused = False

    def _fused_param_check(self, p):
        """A fused kernel takes floating-point parameters on its devices (RuntimeError)."""
        if not (p.device.type in self._fused_devices and p.is_floating_point()):
            raise RuntimeError("`fused=True` requires all the params to be floating point "
                               f"Tensors of supported devices: {self._fused_devices} but "
                               f"{p.dtype} and {p.device.type}")

    # names of per-parameter state tensors that are 0-d scalars, not shaped like the parameter
    # (NAdam's 'mu_product', ASGD's 'eta' and 'mu'): load_state_dict skips their shape check
    _scalar_state = frozenset()
    # names of per-parameter state entries that the built-in optimizers keep as 0-d float32
    # tensors: a plain number there in a loaded state dict (one written by an older release:
    # 'step': 3) becomes one.  Empty for other subclasses of Optimizer (their state is their own).
    _tensor_numbers = frozenset()

    # the step of a float16/bfloat16 parameter, as ``_half_steps``' functions (None: ``_update``)
    _half_update = None

    def _update(self, param, grad, state, group):
        """Update ``param._array`` in place from ``grad`` (an array); subclasses define it."""
        raise NotImplementedError

    def _update_differentiable(self, param, grad, state, group):
        """``differentiable=True``: update ``param`` in place with tensor operations, so that
        the step is part of the autograd graph (gradients flow to what param, grad and the
        state were computed from); the optimizers that support it define it."""
        raise NotImplementedError(f"{type(self).__name__}(differentiable=True) is not "
                                  "supported by minigrad")

    @staticmethod
    def _differentiable_gradient(param, grad, group):
        """The gradient a differentiable step follows: ``-grad`` when maximising, plus
        ``weight_decay * param`` (L2 decay); with decoupled weight decay (AdamW, NAdam and
        RAdam's flag) ``param`` shrinks by ``lr * weight_decay`` in place instead."""
        g = -grad if group["maximize"] else grad
        decay = group.get("weight_decay", 0)
        if decay != 0:
            if group.get("decoupled_weight_decay", False):
                param.mul_(1 - group["lr"] * decay)
            else:
                g = g.add(param, alpha=decay)
        return g

    def _update_sparse(self, param, grad, state, group):
        """Update ``param`` from a sparse COO gradient (``embedding(..., sparse=True)``): only
        the optimizers that say so take one; the others refuse, with PyTorch's words."""
        raise RuntimeError(f"{self._sparse_name} does not support sparse gradients"
                           f"{self._sparse_hint}")

    _sparse_hint = ""

    @property
    def _sparse_name(self):
        return type(self).__name__

    @staticmethod
    def _zeros_like(param):
        """A zero state buffer shaped like ``param``, on its device."""
        return Tensor._wrap(backend.xp_of(param._array).zeros_like(param._array))

    @staticmethod
    def _scalar_tensor(value):
        """A 0-d tensor on the CPU holding ``value``: float32, or float64 under a float64
        default dtype (PyTorch keeps its per-parameter scalar state, such as NAdam's
        mu_product, in that dtype)."""
        return Tensor._wrap(np.asarray(value, dtype=_get_scalar_dtype().np))

    @staticmethod
    def _step_tensor(fused=None):
        """The step counter, a 0-d tensor on the CPU as in PyTorch's state_dict: float32, or
        float64 under a float64 default dtype unless the group is ``fused``."""
        return Tensor._wrap(np.zeros((), dtype=_get_scalar_dtype(fused).np))

    @staticmethod
    def _check_tensor_lr(lr):
        """A tensor ``lr`` must hold one element (PyTorch's ValueError)."""
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")

    @staticmethod
    def _check_flags(name, fused=None, differentiable=False, foreach=None,
                     differentiable_ok=False):
        """PyTorch's implementation switches: accepted (foreach, fused and capturable choose
        kernels, not results: minigrad's updates are already vectorised over each tensor),
        with PyTorch's refusals of the combinations it does not allow; differentiable=True
        records the steps in the graph, for the optimizers that can (``differentiable_ok``)."""
        if fused and differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        if differentiable and not differentiable_ok:
            raise NotImplementedError(f"{name}(differentiable=True) is not supported by minigrad")

    # ------------------------------------------------------------------------------------------
    # state_dict
    # ------------------------------------------------------------------------------------------
    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}.

        Parameters are numbered from 0 through all groups in order; the state tensors are the
        optimizer's own (not copies), as in PyTorch.
        """
        for hook in list(self._hook_dict("state_dict_pre").values()):
            hook(self)
        index = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = list(range(start, start + len(group["params"])))
            for i, p in zip(ids, group["params"]):
                index.setdefault(id(p), i)
            packed["params"] = ids
            start += len(ids)
            groups.append(packed)
        state = {index[id(p)]: v for p, v in self.state.items() if id(p) in index}
        result = {"state": state, "param_groups": groups}
        for hook in list(self._hook_dict("state_dict_post").values()):
            changed = hook(self, result)
            if changed is not None:
                result = changed
        return result

    def load_state_dict(self, state_dict):
        """Load a ``state_dict()`` (of an optimizer over parameters of the same shapes).

        Floating-point state tensors are cast to their parameter's dtype and device ('step'
        stays as it is), not checked against their shapes: a misfit is refused by ``step``,
        as PyTorch's update refuses it.  As in PyTorch, a
        state tensor that needs no cast is taken as it is, not copied: loading the live
        ``state_dict()`` of another optimizer makes the two share their state tensors.  The
        parameter groups are copied.
        """
        state_dict = dict(state_dict)          # shallow, as the hooks may replace entries
        for hook in list(self._hook_dict("load_state_dict_pre").values()):
            changed = hook(self, state_dict)
            if changed is not None:
                state_dict = changed
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        param_lens = (len(g["params"]) for g in groups)
        saved_lens = (len(g["params"]) for g in saved_groups)
        if any(p_len != s_len for p_len, s_len in zip(param_lens, saved_lens)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = {}
        for g, sg in zip(groups, saved_groups):
            for old_id, p in zip(sg["params"], g["params"]):
                id_map[old_id] = p
        state, misshapen = defaultdict(dict), False
        for key, value in state_dict["state"].items():
            if key not in id_map:
                state[key] = value             # state of no parameter: kept as it is
                continue
            param = id_map[key]
            new = {}
            for name, v in value.items():
                if isinstance(v, Tensor) and name != "step":
                    array = v._array
                    if array.dtype.kind in "fV" and param._array.dtype.kind in "fV":
                        array = array.astype(param._array.dtype, copy=False)
                    array = backend.to_device(array, param.device)
                    if name not in self._scalar_state and tuple(array.shape) != tuple(param.shape):
                        misshapen = True       # taken, as PyTorch; its step refuses it
                    if array is not v._array:
                        v = Tensor._wrap(array)
                elif name in self._tensor_numbers and isinstance(v, (int, float)) and \
                        not isinstance(v, bool):
                    v = self._scalar_tensor(float(v))
                new[name] = v
            state[param] = new
        new_groups = []
        for g, sg in zip(groups, saved_groups):
            ng = dict(sg)
            ng["params"] = g["params"]
            if "param_names" in g and "param_names" not in sg:
                ng["param_names"] = g["param_names"]
            for name, value in {**_LATE_OPTIONS, **self._late_options}.items():
                if name in self.defaults:
                    ng.setdefault(name, value)
            new_groups.append(ng)
        self.state = state
        self.param_groups = new_groups
        self._misshapen = misshapen
        for hook in list(self._hook_dict("load_state_dict_post").values()):
            hook(self)
