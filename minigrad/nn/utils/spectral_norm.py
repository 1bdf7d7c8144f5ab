"""The hook-based ``spectral_norm`` / ``remove_spectral_norm`` (PyTorch's older API).

    weight = weight_orig / sigma,   sigma = u . (W v)

with W = ``weight_orig`` as a matrix (dim ``dim`` first, other dims flattened) and the unit
vectors u (rows) and v (columns) kept as buffers ``<name>_u`` / ``<name>_v``.  A forward
pre-hook recomputes ``module.<name>`` before every call, after ``n_power_iterations`` steps
of  v <- normalize(W^T u),  u <- normalize(W v)  in training mode (none in eval mode).
state_dict keys: ``<name>_orig``, ``<name>_u``, ``<name>_v``.
"""
from __future__ import annotations

from ..._random_factories import randn
from ...autograd import no_grad
from .. import functional as F
from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ..parameter import Parameter

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


class SpectralNorm:
    """The forward pre-hook that sets ``module.<name>`` = weight_orig / sigma."""

    _version = 1

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        self.name = name
        self.dim = dim
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight):
        """(size of ``dim``, product of the other sizes)."""
        mat = weight
        if self.dim != 0:
            mat = mat.permute(self.dim, *(d for d in range(mat.ndim) if d != self.dim))
        return mat.reshape(mat.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with no_grad():
                fixed = mat.detach()
                for _ in range(self.n_power_iterations):
                    _write(v, F.normalize(fixed.t() @ u, dim=0, eps=self.eps))
                    _write(u, F.normalize(fixed @ v, dim=0, eps=self.eps))
            u = u.clone()
            v = v.clone()
        sigma = (u * (mat @ v)).sum()
        return weight / sigma

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same "
                                   f"parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]       # (no such parameter: a KeyError, as PyTorch)
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        with no_grad():
            mat = fn.reshape_weight_to_matrix(weight)
            h, w = mat.shape
            kw = dict(dtype=weight.dtype, device=weight.device)
            u = F.normalize(randn(h, **kw), dim=0, eps=fn.eps)
            v = F.normalize(randn(w, **kw), dim=0, eps=fn.eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        module._register_state_dict_hook(_SpectralNormStateDictHook(fn))
        return fn


class _SpectralNormStateDictHook:
    """Records the format version in the state dict's metadata, as PyTorch's does
    (``_metadata[prefix]['spectral_norm'] = {'<name>.version': 1}``)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, module, state_dict, prefix, local_metadata):
        versions = local_metadata.setdefault("spectral_norm", {})
        key = self.fn.name + ".version"
        if key in versions:
            raise RuntimeError(f"Unexpected key in metadata['spectral_norm']: {key}")
        versions[key] = self.fn._version


def _write(dest, src):
    dest._array[...] = src._array
    dest._vcounter.value += 1


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Make ``module.<name>`` read as the stored weight over its largest singular value
    (power iteration, see the module docstring); ``dim``
    defaults to 1 for ConvTranspose layers, else 0.  Returns ``module``."""
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``<name>`` becomes a plain Parameter (its current value)."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            sd_hooks = module.__dict__.get("_state_dict_hooks") or {}
            for k, h in list(sd_hooks.items()):
                if isinstance(getattr(h, "hook", None), _SpectralNormStateDictHook) and \
                        h.hook.fn is hook:
                    del sd_hooks[k]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
