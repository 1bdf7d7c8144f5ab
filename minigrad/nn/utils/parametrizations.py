"""Ready-made parametrizations (see ``parametrize``): ``weight_norm``, ``spectral_norm`` and
``orthogonal`` (in ``orthogonal.py``).

weight_norm:   w = g * v / ||v||   (norm over every dim but ``dim``), kept as
               ``parametrizations.<name>.original0`` (g) and ``original1`` (v).
spectral_norm: w = W / sigma(W), sigma the largest singular value of W seen as a matrix
               (dim ``dim`` first, the rest flattened), estimated by power iteration with
               the vectors u, v kept as buffers ``parametrizations.<name>.0._u`` / ``._v``.
"""
from __future__ import annotations

from ..._random_factories import randn
from ...autograd import no_grad
from ...tensor import Tensor
from .. import functional as F
from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ..modules.module import Module
from .orthogonal import orthogonal  # noqa: F401  (its own module: the maps are long)
from .parametrize import register_parametrization
from .weight_norm import _norm_except_dim

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


class _WeightNorm(Module):
    """(g, v) -> g * v / ||v||, the norm over every dim but ``dim`` (all dims for -1)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def _dim_for(self, v):
        return self.dim + v.ndim if self.dim < -1 else self.dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, self._dim_for(weight_v)))

    def right_inverse(self, weight):
        """weight -> (g, v) = (||weight||, weight), so that forward(g, v) == weight."""
        return _norm_except_dim(weight, self._dim_for(weight)), weight


def weight_norm(module, name="weight", dim=0):
    """Reparametrize ``module.<name>`` as g * v / ||v|| (magnitude g, direction v), with g
    and v as ``parametrizations.<name>.original0`` / ``original1``; ``dim=None`` takes one
    norm over the whole tensor.  Returns ``module``."""
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    module._register_load_state_dict_pre_hook(_old_weight_norm_keys_renamer(name))
    return module


def _old_weight_norm_keys_renamer(name):
    """A load_state_dict pre-hook that renames the old hook-based ``<name>_g`` / ``<name>_v``
    keys to ``parametrizations.<name>.original0`` / ``original1``, so checkpoints saved with
    ``nn.utils.weight_norm`` load into a module using this parametrization."""
    def rename(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
               error_msgs):
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)
    return rename


class _SpectralNorm(Module):
    """W -> W / sigma, sigma = u . (W_mat v) with u, v from power iteration on W_mat (done in
    training mode only, without gradient; sigma's gradient flows through W_mat alone).  A 1-d
    weight is simply normalized to unit 2-norm."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = self._reshape_weight_to_matrix(weight)
            h, w = mat.shape
            kw = dict(dtype=mat.dtype, device=mat.device)
            self.register_buffer("_u", F.normalize(randn(h, **kw), dim=0, eps=eps))
            self.register_buffer("_v", F.normalize(randn(w, **kw), dim=0, eps=eps))
            self._power_method(mat, 15)

    def _reshape_weight_to_matrix(self, weight):
        """(d_dim, prod of the other dims): ``dim`` moved first, the rest flattened."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, mat, n):
        """n steps of u <- normalize(W v), v <- normalize(W^T u), written into the buffers."""
        with no_grad():
            mat = mat.detach()
            for _ in range(n):
                u = F.normalize(mat @ self._v, dim=0, eps=self.eps)
                _write(self._u, u)
                v = F.normalize(mat.t() @ self._u, dim=0, eps=self.eps)
                _write(self._v, v)

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = (u * (mat @ v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        """Assigning a weight stores it as is (taken to be spectrally normalized already)."""
        return value


def _write(dest, src):
    """Copy ``src``'s values into ``dest`` in place (the buffer keeps its identity)."""
    dest._array[...] = src._array
    dest._vcounter.value += 1


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Reparametrize ``module.<name>`` as W / sigma(W) (spectral norm 1).  ``dim`` is the
    output dim (default 1 for ConvTranspose layers, else 0); u and v start random, after
    15 power iterations, and get ``n_power_iterations`` more at every access in training
    mode.  Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    register_parametrization(module, name,
                             _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
