"""``LazyModuleMixin``: what makes a module lazy (PyTorch's ``torch.nn.modules.lazy``).

A lazy module is built without knowing its input size; its parameters and buffers start as
``UninitializedParameter`` / ``UninitializedBuffer`` placeholders.  On the first call a
forward pre-hook hands the inputs to ``initialize_parameters(*args, **kwargs)``, which
materializes them from the input's shape; then the hook goes away and, when the class names
one, the module becomes ``cls_to_become`` (``LazyLinear`` becomes ``Linear``).

The parameters exist from construction (so ``model.parameters()`` can be handed to an
optimizer first); materializing replaces their contents *in place*, so the optimizer keeps
holding the right tensors.  ``load_state_dict`` fills placeholders too (any shape).

The lazy layers themselves live beside their eager classes, as in PyTorch: ``LazyLinear`` in
``linear.py``, ``LazyConv*d``/``LazyConvTranspose*d`` in ``conv.py``, ``LazyBatchNorm*d`` in
``batchnorm.py``, ``LazyInstanceNorm*d`` in ``instancenorm.py``.
"""
from __future__ import annotations

from ... import creation
from ..parameter import UninitializedBuffer, UninitializedParameter, is_lazy

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    """Put first among a module's bases (``class LazyMLP(LazyModuleMixin, Linear)``) and
    define ``initialize_parameters(*args, **kwargs)``: it is called with the inputs of the
    first forward, and must materialize every placeholder (``param.materialize(shape)``).
    ``cls_to_become``: the class the module turns into afterwards (None: it stays)."""
    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def has_uninitialized_params(self):
        """Whether a parameter or buffer is still a placeholder."""
        return any(is_lazy(t) for t in (*self._parameters.values(), *self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs):
        """Materialize the placeholders from the first forward's inputs (subclasses)."""
        raise NotImplementedError("initialize_parameters is not implemented for "
                                  f"{self.__class__.__name__}")

    def _infer_parameters(self, module, args, kwargs=None):
        """The forward pre-hook: initialize from the inputs, check that nothing is left
        uninitialized, drop the hook and become ``cls_to_become``."""
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._forward_pre_hooks.pop(module._initialize_hook.id, None)
        del module._initialize_hook
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _replicate_for_data_parallel(self):
        raise RuntimeError("Modules with uninitialized parameters can't be used with "
                           "`DataParallel`. Run a dummy forward pass to correctly initialize "
                           "the modules")

    # helpers of the lazy layers ---------------------------------------------------------
    def _fill(self, name, shape):
        """Give the parameter/buffer ``name`` an (uninitialized) array of ``shape``, in place:
        a placeholder is materialized, a loaded tensor gets a fresh array."""
        param = getattr(self, name, None)
        if is_lazy(param):
            param.materialize(shape)
        elif param is not None:
            param._array = creation.empty(*shape, dtype=param.dtype, device=param.device)._array

    def _placeholders(self, *names):
        """Replace the (empty) parameters/buffers ``names`` by uninitialized placeholders."""
        for name in names:
            t = getattr(self, name, None)
            if t is None:
                continue
            if name in self._parameters:
                self.register_parameter(name, UninitializedParameter(
                    t.requires_grad, device=t.device, dtype=t.dtype))
            else:
                self.register_buffer(name, UninitializedBuffer(device=t.device, dtype=t.dtype),
                                     name not in self._non_persistent_buffers_set)
