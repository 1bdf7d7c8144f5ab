"""Matrix products: ``matmul`` (batched, broadcasting) and ``linear`` (y = x W^T + b)."""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ._util import unbroadcast


class MatMul(Function):
    """a @ b with NumPy's rules: 1-D operands are promoted to matrices, batch dims broadcast.

    Shapes: a (..., n, k) @ b (..., k, m) -> (..., n, m).
    """

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return backend.xp_of(a).matmul(a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        xp = backend.xp_of(g)
        if a.ndim == 1 and b.ndim == 1:          # dot product: g is 0-d
            return (g * b if self.needs_input_grad[0] else None,
                    g * a if self.needs_input_grad[1] else None)
        # Work with matrices: a 1-D a is a row (1, k), a 1-D b a column (k, 1).
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            g = xp.expand_dims(g, -2)
        if b.ndim == 1:
            g = xp.expand_dims(g, -1)
        ga = gb = None
        if self.needs_input_grad[0]:
            # dL/da = g @ b^T   (..., n, m) @ (..., m, k) -> (..., n, k)
            ga = unbroadcast(xp.matmul(g, xp.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            # dL/db = a^T @ g   (..., k, n) @ (..., n, m) -> (..., k, m)
            gb = unbroadcast(xp.matmul(xp.swapaxes(a2, -1, -2), g), b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """y = x W^T + b, fused in one node.

    Shapes: x (*, in_features), W (out_features, in_features), b (out_features,)
    -> y (*, out_features).  The leading dims are flattened into one batch axis so each
    product is a single 2-D BLAS call.
    """

    def forward(self, x, w, b=None):
        x2 = x.reshape(-1, x.shape[-1])                  # (B, in)
        out = x2 @ w.T                                   # (B, in) @ (in, out) -> (B, out)
        if b is not None:
            out += b
        self.save_for_backward(x2, w)
        self.x_shape = x.shape
        return out.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        x2, w = self.saved_tensors
        g2 = g.reshape(x2.shape[0], w.shape[0])          # (B, out)
        gx = (g2 @ w).reshape(self.x_shape) if self.needs_input_grad[0] else None   # (B, in)
        gw = g2.T @ x2 if self.needs_input_grad[1] else None                         # (out, in)
        if len(self.needs_input_grad) == 2:
            return gx, gw
        gb = g2.sum(axis=0) if self.needs_input_grad[2] else None                   # (out,)
        return gx, gw, gb


def matmul(a, b):
    from .elementwise import cast
    from ._util import result_dtype
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        if a.ndim <= 2 and b.ndim <= 2:
            sa = "x".join(map(str, a.shape if a.ndim == 2 else (1,) + tuple(a.shape)))
            sb = "x".join(map(str, b.shape if b.ndim == 2 else tuple(b.shape) + (1,)))
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa} and {sb})")
        raise RuntimeError(f"matmul: the last dimension of input (shape {list(a.shape)}) must "
                           f"match the second-to-last dimension of other (shape "
                           f"{list(b.shape)}), got {k_a} and {k_b}")
    if a.ndim > 2 and b.ndim > 2:
        from ._util import broadcast_shape
        broadcast_shape(tuple(a.shape[:-2]), tuple(b.shape[:-2]), "matmul (batch dimensions)")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{a.dtype.name} != {b.dtype.name}")
    dtype = result_dtype(a, b)
    return MatMul.apply(cast(a, dtype), cast(b, dtype))


def linear(input, weight, bias=None):
    """y = x W^T + b.  input (*, in_features), weight (out_features, in_features)."""
    if weight.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                           f"{list(weight.shape)}")
    if input.ndim == 0:
        raise RuntimeError("linear: input must have at least 1 dimension, got a 0-d tensor")
    if input.shape[-1] != weight.shape[1]:
        rows = 1
        for s in input.shape[:-1]:
            rows *= s
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} "
                           f"and {weight.shape[1]}x{weight.shape[0]}): input has "
                           f"{input.shape[-1]} features but the weight expects in_features="
                           f"{weight.shape[1]}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{input.dtype.name} and {weight.dtype.name}")
    if bias is None:
        return Linear.apply(input, weight)
    if tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"linear: bias must have shape [{weight.shape[0]}] (out_features), got "
                           f"{list(bias.shape)}")
    if bias.dtype != weight.dtype:
        raise RuntimeError(f"linear: bias dtype {bias.dtype.name} does not match weight dtype "
                           f"{weight.dtype.name}")
    return Linear.apply(input, weight, bias)
