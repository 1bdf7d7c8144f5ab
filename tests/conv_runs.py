"""The convolution runs that the convolution tests compare with torch: the same call on each
library, the output and its gradients as numpy arrays."""
import numpy as np


def conv_grads(lib, op, arrays, kw, second=True, strided=False):
    """y = op(x, w, b, **kw) for ``arrays`` (x, w, b), its gradients in (x, w, b) under a fixed
    upstream gradient (cos of the element index, in x's dtype) and, with ``second``, the
    gradients in (x, w) of a scalar made of them (second order). ``strided``: x is handed
    over as a non-contiguous view of the same numbers (x doubled along the last axis, every
    other column taken)."""
    conv = getattr(lib.nn.functional, op)
    x, w, b = (lib.tensor(np.ascontiguousarray(a), requires_grad=True) for a in arrays)
    xin = lib.stack([x, x * 0], dim=-1).flatten(-2)[..., ::2] if strided else x
    y = conv(xin, w, b, **kw)
    g = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)).astype(arrays[0].dtype))
    grads = lib.autograd.grad(y, (x, w, b), g, create_graph=second)
    out = [y, *grads]
    if second:
        out += lib.autograd.grad((grads[0] ** 2).sum() + (grads[1] ** 2).sum() + (y ** 2).sum(),
                                 (x, w))
    return [a.detach().numpy() for a in out]
