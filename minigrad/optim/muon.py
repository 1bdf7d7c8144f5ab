"""``Muon``: momentum whose update direction is orthogonalised (MomentUm Orthogonalized by
Newton-Schulz, Keller Jordan 2024), for the 2-d weight matrices of a network."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .optimizer import Optimizer

__all__ = ["Muon"]

# the quintic Newton-Schulz coefficients of the original Muon write-up, chosen so that the
# iteration pulls every singular value of the (normalised) update quickly towards ~1
_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def _bfloat16(a):
    """a (float32) rounded to the nearest bfloat16 (ties to even), kept as float32: PyTorch runs
    the Newton-Schulz iteration in bfloat16, which numpy does not have, so each of its steps
    is rounded the same way here. bfloat16 is float32 with the low 16 bits of the mantissa
    dropped: add half of that unit (minus one, plus the kept last bit, for ties to even) and
    clear them. NaN stays NaN."""
    xp = backend.xp_of(a)
    a = xp.ascontiguousarray(a, dtype=np.float32)
    bits = a.view(np.uint32)
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))) \
        & np.uint32(0xFFFF0000)
    out = rounded.view(np.float32)
    return xp.where(xp.isnan(a), a, out)


def orthogonalize(G, coefficients, steps, eps):
    """The Newton-Schulz iteration of Muon: G (m, n) -> about U V^T where G = U S V^T.

    X = G / max(||G||_F, eps) has every singular value in (0, 1]; each step applies the
    odd polynomial p(s) = a s + b s^3 + c s^5 to the singular values, as
        A = X X^T;   X <- a X + (b A + c A A) X          (X taken wide, m <= n)
    which keeps the singular vectors and drives the singular values towards 1 (to roughly
    0.7-1.2 with the default coefficients, which favour speed over exactness). In bfloat16,
    as PyTorch.
    """
    a, b, c = coefficients
    tall = G.shape[0] > G.shape[1]
    X = _bfloat16(G.T if tall else G)
    norm = _bfloat16(np.float32(np.sqrt(np.sum(np.square(X, dtype=np.float32)))))
    X = _bfloat16(X / _bfloat16(np.maximum(norm, np.float32(eps))))
    for _ in range(steps):
        A = _bfloat16(X @ X.T)
        B = _bfloat16(b * A + c * (A @ A))
        X = _bfloat16(a * X + B @ X)
    return X.T if tall else X


def _lr_scale(adjust_lr_fn, shape):
    """How the learning rate scales with the matrix's shape (rows A, columns B):
    'original' (default) sqrt(max(1, A / B)); 'match_rms_adamw' 0.2 sqrt(max(A, B)), so that
    the update's RMS matches AdamW's."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1.0, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return 1.0


class Muon(Optimizer):
    """Muon, PyTorch's formulation (torch >= 2.9), for 2-d parameters only.

    For each parameter p (m, n) with gradient g, and momentum buffer B (zeros at first):
        B = lerp(B, g, 1 - momentum)                  (B = momentum B + (1 - momentum) g)
        U = lerp(g, B, momentum)  if nesterov,  else B
        O = orthogonalize(U)                          (Newton-Schulz, ``ns_steps`` steps)
        p = p (1 - lr weight_decay)                   (decoupled weight decay)
        p = p - lr * scale(m, n) * O                  (scale: see ``adjust_lr_fn``)
    State per parameter: 'momentum_buffer'.
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=_NS_COEFFICIENTS, eps=1e-7, ns_steps=5, adjust_lr_fn=None):
        if hasattr(lr, "numel") and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                        nesterov=nesterov, ns_coefficients=ns_coefficients, eps=eps,
                        ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    def _update(self, param, grad, state, group):
        p = param._array
        steps, coefficients = group["ns_steps"], group["ns_coefficients"]
        if steps >= 100:
            raise ValueError("Number of steps must be less than 100 for computational "
                             "efficiency")
        if grad.ndim != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        if len(coefficients) != 3:
            raise ValueError("Coefficients must be a tuple of exactly 3 values")
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = self._zeros_like(param)
        buf = state["momentum_buffer"]._array
        momentum = group["momentum"]
        buf[...] = _lerp(buf, grad, 1.0 - momentum)
        update = _lerp(grad, buf, momentum) if group["nesterov"] else buf
        O = orthogonalize(update.astype(np.float32, copy=False), coefficients, steps,
                          group["eps"])
        lr = float(group["lr"])
        p *= 1.0 - lr * group["weight_decay"]
        p -= (lr * _lr_scale(group["adjust_lr_fn"], p.shape) * O).astype(p.dtype, copy=False)


def _lerp(start, end, weight):
    """start + weight (end - start), from the nearer end as PyTorch's lerp computes it."""
    diff = end - start
    return start + weight * diff if abs(weight) < 0.5 else end - diff * (1.0 - weight)
