"""Module backward hooks: ``register_full_backward_hook`` and ``register_full_backward_pre_hook``.

A hooked module's call threads its tensor inputs, and afterwards its tensor outputs, through
an identity node (``BackwardHookFunction``).  In backward the output node sees the gradients of the
outputs (grad_output), the input node those of the inputs (grad_input); the input node runs
the hooks, since only then are both known.  As in PyTorch:

    pre-hook(module, grad_output) -> new grad_output or None      (before the module's backward)
    hook(module, grad_input, grad_output) -> new grad_input or None   (after it)

grad_input has one entry per positional argument of forward (None for those that are not
tensors); once one input requires grad, a tensor input that gets no gradient (it does not
require grad, or is unused) shows zeros, as in PyTorch.  When no input requires grad the
hooks run at once, with grad_input all None.

The deprecated ``register_backward_hook`` kind is set instead on the node that made the
output (``hook_output_node``), as PyTorch sets it: its grad_input is that node's.
"""
from __future__ import annotations

import threading

from ..._warn_once import warn_user
from ... import backend
from ...autograd import Function
from ...autograd import is_grad_enabled
from ...autograd._engine_checks import _checked_hook_result
from ...tensor import Tensor

__all__ = ["BackwardHookCall"]


class _Pending(threading.local):
    on_grads = None


_pending = _Pending()       # the callback of the BackwardHookFunction being applied


class BackwardHookFunction(Function):
    """Returns its tensors unchanged; in backward, ``on_grads(grads)`` sees (and may replace)
    their gradients.  The callback comes through ``_pending``, not as an argument, so that
    the node's inputs are the tensors only, as PyTorch's (a hook on the node, the deprecated
    module hook's, sees one gradient per tensor)."""

    @staticmethod
    def forward(ctx, *tensors):
        ctx.on_grads = _pending.on_grads
        ctx.set_materialize_grads(False)       # a None gradient stays None, as in PyTorch
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return tuple(ctx.on_grads(grads))


def _as_tuple(result, n, what):
    """What a hook returned, as a tuple of ``n`` gradients.  PyTorch takes its len() whatever
    it is (a bare Tensor: its first dim, so that one of n rows passes as n gradients)."""
    count = len(result)
    if count != n:
        kind = "pre hook" if what == "output" else "hook"     # which hook returned it
        raise RuntimeError(f"Backward {kind} returned an invalid number of grad_{what}, got "
                           f"{count}, but expected {n}")
    return tuple(result)


def _hook():
    """(a stand-in named as the tensor hook PyTorch checks a module hook's values through)"""


_hook.__name__ = "hook"


def _checked(grads, new):
    """A module hook's replacement gradients, each checked against the one it replaces as
    PyTorch checks them: None stays None; a value for a None, a non-Tensor, another dtype or
    another size is refused in PyTorch's words."""
    return tuple(None if v is None else _checked_hook_result(_hook, g, v)
                 for g, v in zip(grads, new))


class BackwardHookCall:
    """The hooks of one module call: wraps its inputs, then its outputs."""

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.n_inputs = 0
        self.input_slots = []          # positions in args of the tensors wrapped
        self.input_zeros = []          # (position, tensor) of every tensor argument
        self.grad_output = None

    def _wrap(self, values, slots, on_grads):
        """``values`` with those at ``slots`` replaced by their identity-node aliases."""
        _pending.on_grads = on_grads
        try:
            out = BackwardHookFunction.apply(*(values[i] for i in slots))
        finally:
            _pending.on_grads = None
        out = out if isinstance(out, tuple) else (out,)
        values = list(values)
        for i, v in zip(slots, out):
            values[i] = v
        return values

    def wrap_inputs(self, args):
        self.n_inputs = len(args)
        self.input_slots = [i for i, a in enumerate(args)
                            if isinstance(a, Tensor) and a.requires_grad]
        if not self.input_slots or not is_grad_enabled():
            return args
        # as PyTorch: every tensor input missing a gradient (one not requiring grad, or not
        # used) reaches the hooks as zeros
        self.input_zeros = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor)]
        return tuple(self._wrap(args, self.input_slots, self._input_grads))

    def wrap_outputs(self, output, warn=True):
        if not isinstance(output, (Tensor, tuple)) and warn:
            # a list or dict output is not looked into, so no grad_output ever comes and the
            # hooks never run (see _input_grads), as in PyTorch, which says so here
            warn_user("For backward hooks to be called, module output should be a Tensor "
                      f"or a tuple of Tensors but received {type(output)}")
        single = isinstance(output, Tensor)
        values = [output] if single else list(output) if isinstance(output, tuple) else None
        if values is None or not is_grad_enabled():
            return output
        slots = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not slots:
            return output
        self.n_outputs = len(values)
        self.output_slots = slots
        values = self._wrap(values, slots, self._output_grads)
        return values[0] if single else tuple(values)

    def _output_grads(self, grads):
        full = [None] * self.n_outputs
        for i, g in zip(self.output_slots, grads):
            full[i] = g
        full = tuple(full)
        for hook in list(self.pre_hooks.values()):
            result = hook(self.module, full)
            if result is not None:
                full = _checked(full, _as_tuple(result, self.n_outputs, "output"))
        self.grad_output = full
        if not self.input_slots and self.hooks:   # nothing will reach the inputs: run now
            warn_user("Full backward hook is firing when gradients are computed with "
                      "respect to module outputs since no inputs require gradients. See "
                      "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                      "#torch.nn.Module.register_full_backward_hook for more details.")
            self._run_hooks((None,) * self.n_inputs)
        return tuple(full[i] for i in self.output_slots)

    def _input_grads(self, grads):
        if self.grad_output is None:
            # the gradient reached the inputs without passing through the outputs (an output
            # not wrapped, or a double backward): PyTorch runs no hook then
            return grads
        full = [None] * self.n_inputs
        for i, g in zip(self.input_slots, grads):
            full[i] = g
        for i, a in self.input_zeros:
            if full[i] is None:
                full[i] = Tensor._wrap(backend.xp_of(a._array).zeros(a.shape, a._array.dtype))
        full = self._run_hooks(tuple(full))
        self.grad_output = None        # spent: a retained graph's next pass brings its own
        return tuple(full[i] for i in self.input_slots)

    def _run_hooks(self, grad_input):
        grad_output = self.grad_output if self.grad_output is not None else ()
        for hook in list(self.hooks.values()):
            result = hook(self.module, grad_input, grad_output)
            if result is not None:
                grad_input = _checked(grad_input,
                                      _as_tuple(result, len(grad_input), "input"))
        return grad_input


_NON_FULL = ("is deprecated and will be removed in future versions. This hook will be missing "
             "some ")
_USE_FULL = "Please use register_full_backward_hook to get the documented behavior."


def _first_tensor(output):
    """The tensor PyTorch's old hook is set through: ``output`` itself, else the first tensor
    found going into its first element (or a dict's first tensor value); None if none."""
    var = output
    try:
        while not isinstance(var, Tensor):
            var = next(v for v in var.values() if isinstance(v, Tensor)) \
                if isinstance(var, dict) else var[0]
    except (IndexError, KeyError, TypeError, StopIteration):
        return None
    return var


def hook_output_node(module, hooks, inputs, wrapped, output):
    """The deprecated ``register_backward_hook`` kind, set as PyTorch sets it: on the node
    that made the output's first tensor, so that each hook gets ``(module, grad_input,
    grad_output)`` with that node's gradients: grad_input one per edge of the node (for a
    matrix into a Linear, addmm's (bias, input, W^T)), not per input of the module.  What a
    hook returns replaces those gradients.  Warns as PyTorch does (``warn_non_full_hook``)."""
    var = _first_tensor(output)
    grad_fn = None if var is None else var.grad_fn
    if grad_fn is None:
        return                          # (PyTorch sets no hook then, and says nothing)
    grad_fn.next_functions              # (the node's edges as PyTorch's, before the hooks)
    for hook in hooks:
        grad_fn.register_hook(_bound_to(module, hook))
    warn_non_full_hook(inputs, wrapped, output)


def _bound_to(module, hook):
    """``hook`` as a node hook: called with the module first."""
    def on_node(grad_input, grad_output):
        return hook(module, grad_input, grad_output)
    return on_node


def warn_non_full_hook(inputs, wrapped, output):
    """PyTorch's FutureWarning for a module hooked by the deprecated
    ``register_backward_hook``, given its call's positional ``inputs``, those ``wrapped`` for
    the hooks (see BackwardHookCall.wrap_inputs) and its ``output``.  PyTorch gives one where
    its old hook (set on the output's grad_fn) would miss gradients: an output or input that
    is not a Tensor or a tuple of Tensors, outputs from several nodes or none, or a forward of
    more than one node (the output's node is not fed by exactly the inputs' nodes: a leaf
    input or a parameter is enough)."""
    var = _first_tensor(output)
    if var is None:
        return
    grad_fn = var.grad_fn
    if grad_fn is None:
        return                                  # (PyTorch sets no hook then, and says nothing)
    if not isinstance(output, Tensor) and not (
            isinstance(output, tuple) and all(isinstance(r, Tensor) for r in output)):
        message = ("Using non-full backward hooks on a Module that does not return a single "
                   "Tensor or a tuple of Tensors " + _NON_FULL + "of the grad_output. " +
                   _USE_FULL)
    elif not all(isinstance(i, Tensor) for i in inputs):
        message = ("Using non-full backward hooks on a Module that does not take as input a "
                   "single Tensor or a tuple of Tensors " + _NON_FULL + "of the grad_input. " +
                   _USE_FULL)
    else:
        outputs = (output,) if isinstance(output, Tensor) else output
        nodes = {r.grad_fn for r in outputs if r.grad_fn is not None}
        if not nodes or (len(nodes) == 1 and grad_fn not in nodes):
            message = ("Using a non-full backward hook when outputs are nested in python data "
                       "structure " + _NON_FULL + "grad_output.")
        elif len(nodes) > 1:
            message = ("Using a non-full backward hook when outputs are generated by different "
                       "autograd Nodes " + _NON_FULL + "grad_output. " + _USE_FULL)
        else:
            # the nodes feeding the output's, seen through the identity node minigrad put
            # between the inputs and the forward (PyTorch has none for an old hook)
            ours = {w.grad_fn for w, i in zip(wrapped, inputs) if w is not i}
            feeding = set()
            for node, _ in grad_fn.next_functions:
                if node in ours:
                    feeding.update(n for n, _ in node.next_functions if n is not None)
                else:
                    feeding.add(node)
            if {i.grad_fn for i in inputs if i.grad_fn is not None} == feeding:
                return
            message = ("Using a non-full backward hook when the forward contains multiple "
                       "autograd Nodes " + _NON_FULL + "grad_input. " + _USE_FULL)
    warn_user(message, FutureWarning)
