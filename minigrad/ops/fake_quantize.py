"""``torch.fake_quantize_per_tensor_affine`` and ``torch.fake_quantize_per_channel_affine``:
quantization-aware training's rounding, simulated in floating point.

Each value is mapped to the integer grid ``q = round(x / scale) + zero_point`` (round half to
even), clamped to ``[quant_min, quant_max]`` and mapped back, ``(q - zero_point) * scale``.
The output keeps the input's dtype and shape. The gradient is the straight-through one:
``grad`` where ``q`` fell inside ``[quant_min, quant_max]`` before clamping, 0 elsewhere (and
for NaN). As PyTorch's kernels, ``1 / scale`` and the final product are taken in float32
(a float64 input is scaled in float64; per tensor its product is rounded through float32,
per channel kept in float64); a NaN lands on ``quant_min``. A per-channel zero point of a
floating dtype is added before rounding, ``q = round(x / scale + zero_point)``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._util import scalar_type_name
from ..autograd import Function
from .elementwise import mul

__all__ = ["fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine"]

_F32 = np.dtype("float32")


class FakeQuantize(Function):
    """One fake quantization: ``rule(a)`` gives the output and the mask of values that were
    not clamped. Backward is ``g * mask``, a product with a constant (PyTorch's, whose
    gradient has no graph back to the input even under create_graph)."""
    def forward(self, a, *, rule):
        out, self.mask = rule(a)
        return out

    def backward(self, g):
        return mul(g, Tensor._wrap(self.mask))


_NODES = {name: FakeQuantize.renamed(name) for name in (
    "FakeQuantizePerTensorAffineCachemaskBackward0",
    "FakeQuantizePerTensorAffineCachemaskTensorQparamsBackward0",
    "FakeQuantizePerChannelAffineCachemaskBackward0")}


def _rule(scale, zero_point, quant_min, quant_max, per_channel=False, float_zero_point=False):
    """The FakeQuantize rule: (output, mask of values inside the grid) of an array ``a``.
    ``scale``/``zero_point``: float32 arrays (or scalars) broadcasting against ``a``."""
    def rule(a):
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return _apply(a, scale, zero_point, quant_min, quant_max, per_channel,
                          float_zero_point)
    return rule


def _apply(a, scale, zero_point, quant_min, quant_max, per_channel, float_zero_point):
    """(output, inside mask) of ``a`` fake-quantized on the grid of ``scale`` and
    ``zero_point``, with the roundings of PyTorch's kernels: a float64 input is scaled in
    float64 by 1/scale taken in float32 (in float64 for a floating zero point); the product
    back is in float32, in float64 for a float64 input quantized per channel."""
    xp = backend.xp_of(a)
    work_dtype = np.dtype("float64") if a.dtype == np.float64 else _F32
    work = a.astype(work_dtype, copy=False)
    if float_zero_point:
        inv = work_dtype.type(1) / scale.astype(work_dtype)
        q = xp.rint(work * inv + zero_point)
    else:
        inv = (np.float32(1) / scale).astype(_F32)
        q = xp.rint(work * inv) + zero_point
    inside = (q >= quant_min) & (q <= quant_max)
    q = xp.fmin(xp.fmax(q, quant_min), quant_max)             # NaN -> quant_min
    back = work_dtype if per_channel else _F32
    out = (q - zero_point).astype(back) * scale.astype(back)
    return out.astype(a.dtype, copy=False), inside


def _check_floating(input, kernel):
    dtype = input._array.dtype
    if dtype.kind != "f" and str(dtype) != "bfloat16":
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{scalar_type_name(dtype)}'")


def _check_range(quant_min, quant_max):
    if quant_min > quant_max:
        raise RuntimeError("`quant_min` should be less than or         equal to `quant_max`.")


def _not_differentiable(op, name, t):
    if isinstance(t, Tensor) and t.requires_grad:
        raise RuntimeError(f"The function '{op}' is not differentiable with respect to "
                           f"argument '{name}'. This input cannot have requires_grad True.")


def _int_arg(op, name, value, position):
    if type(value) is not int and not isinstance(value, np.integer):
        raise TypeError(f"{op}(): argument '{name}' (position {position}) must be int, not "
                        f"{type(value).__name__}")
    return int(value)


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """``(clamp(round(x / scale) + zero_point, quant_min, quant_max) - zero_point) * scale``
    with one ``scale`` (a float, or a one-element tensor) and ``zero_point`` (an int, or a
    one-element tensor; a Python number is checked to lie in ``[quant_min, quant_max]``).
    Same shape and dtype as ``input``; the gradient passes where no clamping happened."""
    op = "fake_quantize_per_tensor_affine"
    for value in (scale, zero_point):
        if isinstance(value, Tensor):
            continue
        if isinstance(value, bool) or (value is zero_point and not isinstance(
                value, (int, np.integer))) or not isinstance(value, (int, float, np.number)):
            names = ", ".join(type(v).__name__ for v in (input, scale, zero_point,
                                                          quant_min, quant_max))
            raise TypeError(f"{op}() received an invalid combination of arguments - got "
                            f"({names}), but expected one of:")
    quant_min = _int_arg(op, "quant_min", quant_min, 4)
    quant_max = _int_arg(op, "quant_max", quant_max, 5)
    if isinstance(scale, Tensor) and isinstance(zero_point, Tensor):
        # tensor qparams: the zero point (truncated to an int) is not range-checked
        _not_differentiable("_fake_quantize_per_tensor_affine_cachemask_tensor_qparams",
                            "scale", scale)
        node = _NODES["FakeQuantizePerTensorAffineCachemaskTensorQparamsBackward0"]
        s, zp = scale.item(), int(zero_point.item())
        _check_range(quant_min, quant_max)
    else:
        s = scale.item() if isinstance(scale, Tensor) else scale
        zp = int(zero_point.item() if isinstance(zero_point, Tensor) else zero_point)
        node = _NODES["FakeQuantizePerTensorAffineCachemaskBackward0"]
        _check_range(quant_min, quant_max)
        if not quant_min <= zp <= quant_max:
            raise RuntimeError("`zero_point` must be between `quant_min` and `quant_max`.")
    _check_floating(input, "fake_quantize_tensor_cachemask_kernel_type_handling")
    s = np.asarray(s, dtype=_F32)
    return node.apply(input, rule=_rule(s, zp, quant_min, quant_max))


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """Fake quantization with one ``scale`` and ``zero_point`` per index along ``axis``
    (1-d tensors of length ``input.shape[axis]``; scale float32, zero_point int32, or a
    floating zero point, added before rounding). Same shape and dtype as ``input``; the
    gradient passes where no clamping happened."""
    op = "fake_quantize_per_channel_affine"
    axis = _int_arg(op, "axis", axis, 4)
    quant_min = _int_arg(op, "quant_min", quant_min, 5)
    quant_max = _int_arg(op, "quant_max", quant_max, 6)
    _not_differentiable("fake_quantize_per_channel_affine_cachemask", "scale", scale)
    _not_differentiable("fake_quantize_per_channel_affine_cachemask", "zero_point", zero_point)
    s_dtype, z_dtype = scale._array.dtype, zero_point._array.dtype
    if s_dtype != _F32 and str(s_dtype) != "bfloat16":
        raise RuntimeError(f"Scale must be Float or BFloat16, found {scalar_type_name(s_dtype)}")
    float_zp = z_dtype in (np.float32, np.float16)
    if z_dtype != np.int32 and not float_zp:
        raise RuntimeError(f"Zero-point must be Int32, Float or Half, found "
                           f"{scalar_type_name(z_dtype)}")
    if scale.ndim != 1:
        raise RuntimeError("scale should be a 1-D tensor")
    if zero_point.ndim != 1:
        raise RuntimeError("zero point should be a 1-D tensor")
    if scale.numel() != zero_point.numel():
        raise RuntimeError("scale and zero-point need to have the same dimensions")
    nd = input.ndim
    if nd == 0:
        raise IndexError(f"Dimension specified as {axis} but tensor has no dimensions")
    if not -nd <= axis < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, "
                         f"{nd - 1}], but got {axis})")
    if scale.numel() != input.shape[axis]:
        raise RuntimeError("dimensions of scale and zero-point are not consistent with input "
                           "tensor")
    if axis < 0:
        raise RuntimeError("`axis` must be between 0 and number of dimensions of input")
    _check_range(quant_min, quant_max)
    zp = zero_point._array
    if not float_zp and zp.size and (zp.min() < quant_min or zp.max() > quant_max):
        raise RuntimeError("`zero_point` must be between `quant_min` and `quant_max`.")
    _check_floating(input, "fake_quantize_channel_cachemask_cpu_type_handling")
    shape = [1] * nd
    shape[axis] = -1
    s = scale._array.astype(_F32).reshape(shape)
    zp = zp.astype(_F32 if float_zp else np.int64).reshape(shape)
    node = _NODES["FakeQuantizePerChannelAffineCachemaskBackward0"]
    return node.apply(input, rule=_rule(s, zp, quant_min, quant_max, True, float_zp))
