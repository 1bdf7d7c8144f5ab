"""The ``state_dict`` half of ``Module``, a mixin kept apart from ``module.py``: saving
(``state_dict``, ``_save_to_state_dict``), loading (``load_state_dict``,
``_load_from_state_dict``, ``_load_defaults``) and the extra-state pair
(``get_extra_state`` / ``set_extra_state``) a subclass may override.

The key checks and the copy of a load are ``state_dict.py``'s; the state_dict hooks are
registered by ``ModuleExtras`` (``module_extras.py``) and run here.
"""
from __future__ import annotations

from collections import OrderedDict

from ..._warn_once import warn_user
from ..parameter import is_lazy
from .module_extras import run_state_dict_hooks
from .state_dict import load_own_keys, load_state_dict

__all__ = ["ModuleStateDict"]


class ModuleStateDict:
    """``Module``'s state_dict methods (see ``Module``); a mixin, with no state of its own."""

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # a lazy layer's placeholder is saved as itself (PyTorch's state dict holds the
        # uninitialized parameter), so that loading it leaves another lazy layer lazy
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars or is_lazy(param) else \
                    param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars or is_lazy(buf) else buf.detach()
        if type(self).get_extra_state is not ModuleStateDict.get_extra_state:
            destination[prefix + "_extra_state"] = self.get_extra_state()

    def get_extra_state(self):
        """Override (with ``set_extra_state``) to keep any picklable value in the state dict,
        under '<prefix>_extra_state'."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called.")

    def set_extra_state(self, state):
        """Receives what ``get_extra_state`` returned, when a state dict is loaded."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called.")

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict name -> tensor of every parameter and persistent buffer.

        The tensors share memory with the module's (writing into
        ``conv.state_dict()['weight'][0][0]`` changes the layer), and are detached from the
        graph unless ``keep_vars=True``.  Keys are PyTorch's: 'conv1.weight', 'bn.running_mean'.
        """
        if args:  # the positional form state_dict(destination, prefix, keep_vars), deprecated
            warn_user("Positional args are being deprecated, use kwargs instead. Refer to "
                      "https://pytorch.org/docs/main/generated/torch.nn.Module.html"
                      "#torch.nn.Module.state_dict for details.", FutureWarning)
            destination, prefix, keep_vars = (list(args) + [destination, prefix, keep_vars][
                len(args):])[:3]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        # each module's version under its dotted path ('' the root), read back by
        # load_state_dict (BatchNorm's version 2 added num_batches_tracked)
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        run_state_dict_hooks(self, "_state_dict_pre_hooks", self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return run_state_dict_hooks(self, "_state_dict_hooks", self, destination, prefix,
                                    local_metadata)

    def _load_defaults(self, state_dict, prefix, local_metadata):
        """Hook for subclasses: values to use for keys an older checkpoint lacks
        (``local_metadata``: what the checkpoint recorded of this module, its version)."""
        return {}

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """This module's own part of ``load_state_dict`` (PyTorch's signature, for subclasses
        that override it to edit ``state_dict`` first and then call ``super()``): its load
        pre-hooks, then its keys checked, missing / unexpected ones and errors appended to the
        lists."""
        load_own_keys(self, state_dict, prefix, local_metadata, strict, missing_keys,
                      unexpected_keys, error_msgs,
                      type(self).set_extra_state is not ModuleStateDict.set_extra_state)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Write the values of ``state_dict`` (keyed as ``state_dict()`` keys them) into this
        module's parameters and buffers, submodules included.

        Every key is checked before anything is copied: missing keys, unexpected keys (when
        ``strict``) and shape mismatches are all reported in one RuntimeError, as PyTorch
        words it, and the module is left untouched.  Values are cast to each parameter's
        dtype and device.  Returns ``_IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        return load_state_dict(self, state_dict, strict, assign)


# these are Module's methods: Python's own errors name them so ("Module.state_dict() takes 1
# positional argument..."), as PyTorch's, and pickle finds them there
for _name, _fn in list(vars(ModuleStateDict).items()):
    if callable(_fn) and not _name.startswith("__"):
        _fn.__qualname__ = "Module." + _name
        _fn.__module__ = __name__.rpartition(".")[0] + ".module"
del _name, _fn
