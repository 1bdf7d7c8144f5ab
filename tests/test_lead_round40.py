"""Round 40, the lead's own fixes, each against torch 2.13.

* Convolutions on small planes with many channels (ResNet-18's last stages): im2col's
  forward as one product below 64 outputs per image, the input gradient's columns unpadded
  where padding them costs more than it saves, and the weight gradient made row-major for 256
  and more output channels per group (its transposed layout cost a slow pass wherever used).
* The version-counter error names the saved tensor the way PyTorch prints it:
  ``[torch.FloatTensor [3]]`` for a dtype with a legacy tensor class, ``[CPUBFloat16Type [3]]``
  and ``[CPUComplexFloatType [3]]`` for the others (it said ``minigrad.FloatTensor``).
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _version_error(lib, dtype_name):
    dtype = getattr(lib, dtype_name)
    x = lib.ones(3, dtype=dtype, requires_grad=True)
    y = x.exp()
    y.add_(1)
    loss = y.sum()
    if dtype.is_complex:
        loss = loss.abs()
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    return str(info.value)


@pytest.mark.parametrize("dtype_name", ["float32", "float64", "float16", "bfloat16",
                                        "complex64", "complex128"])
def test_version_error_names_the_tensor_as_torch_does(dtype_name):
    mine, theirs = _version_error(minigrad, dtype_name), _version_error(torch, dtype_name)
    assert mine.split("Hint")[0] == theirs.split("Hint")[0]


def test_version_error_of_a_saved_view_as_torch_does():
    def run(lib):
        a = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True) * 1
        v = a[0]
        out = (v * v).sum()
        a.mul_(2)
        with pytest.raises(RuntimeError) as info:
            out.backward()
        return str(info.value).split("Hint")[0]
    assert run(minigrad) == run(torch)


# ---------------------------------------------------------------------------------------------
# Convolutions on small planes with many channels: im2col's forward as one product for all the
# images (fewer than 64 outputs per image), and the input gradient's columns on the unpadded
# width where the padded one would add more multiply-adds than col2im saves. Both against
# torch in float64: forward, every gradient, and the second derivative.
# ---------------------------------------------------------------------------------------------
_SMALL_PLANES = [
    # (N, C, O, spatial, kernel, stride, padding, dilation, groups)
    (3, 8, 160, (4, 4), 3, 1, 1, 1, 1),        # narrow products; input grad not wide
    (2, 6, 130, (5, 7), 3, 1, 1, 1, 2),        # groups, a non-square plane
    (3, 4, 70, (7, 7), 3, 2, 1, 1, 1),         # strided: 4x4 outputs
    (2, 4, 96, (6, 6), 3, 1, 2, 2, 1),         # dilation
    (1, 8, 160, (4, 4), 3, 1, 1, 1, 1),        # one image: per-image product
    (4, 5, 90, (9,), 3, 1, 1, 1, 1),           # 1-d
    (2, 3, 80, (3, 4, 4), 3, 1, 1, 1, 1),      # 3-d
    (3, 8, 24, (6, 6), 3, 1, 1, 1, 1),         # few channels: wide columns as before
    (2, 4, 256, (3, 3), 3, 1, 1, 1, 1),        # weight gradient as g @ cols^T, row-major
    (2, 4, 512, (5, 5), 3, 2, 1, 1, 2),        # the same by groups, strided
]


def _conv(lib, case, x, w, b):
    N, C, O, size, k, s, p, d, g = case
    fn = getattr(lib.nn.functional, f"conv{len(size)}d")
    return fn(x, w, b, stride=s, padding=p, dilation=d, groups=g)


def _conv_values(lib, case):
    N, C, O, size, k, s, p, d, g = case
    rng = np.random.default_rng(sum(size) + O)
    x = lib.tensor(rng.standard_normal((N, C) + size), requires_grad=True)
    w = lib.tensor(rng.standard_normal((O, C // g) + (k,) * len(size)) * 0.2, requires_grad=True)
    b = lib.tensor(rng.standard_normal(O), requires_grad=True)
    y = _conv(lib, case, x, w, b)
    gy = lib.tensor(rng.standard_normal(tuple(y.shape)))
    gx, gw, gb = lib.autograd.grad(y, (x, w, b), gy, create_graph=True)
    # the second derivative: of a function of both first-order gradients, in x and w
    second = lib.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (x, w))
    return [y, gx, gw, gb, *second]


@pytest.mark.parametrize("case", _SMALL_PLANES, ids=lambda c: "x".join(map(str, c[:3])) +
                         "_" + "x".join(map(str, c[3])))
def test_small_plane_convolutions_as_torch(case):
    mine, theirs = _conv_values(minigrad, case), _conv_values(torch, case)
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", _SMALL_PLANES[:3] + _SMALL_PLANES[-2:], ids=str)
def test_small_plane_convolutions_float32_as_torch(case):
    def run(lib):
        N, C, O, size, k, s, p, d, g = case
        rng = np.random.default_rng(3)
        x = lib.tensor(rng.standard_normal((N, C) + size).astype(np.float32), requires_grad=True)
        w = lib.tensor((rng.standard_normal((O, C // g) + (k,) * len(size)) * 0.2).astype(
            np.float32), requires_grad=True)
        y = _conv(lib, case, x, w, None)
        y.backward(lib.ones_like(y))
        return y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), (
            y.stride(), x.grad.stride(), w.grad.stride())
    mine, theirs = run(minigrad), run(torch)
    for a, b in zip(mine[:3], theirs[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    assert mine[3] == theirs[3]


# ---------------------------------------------------------------------------------------------
# Refusals in PyTorch's words and order: a weight of another dtype than the input (by the
# kernel that finds it: complex, oneDNN, the plain kernels), and the 3-d adaptive average
# pool's empty-dim check before its rank check.
# ---------------------------------------------------------------------------------------------
_DTYPES = ["float32", "float64", "float16", "bfloat16", "complex64", "int64"]


def _refusal(fn):
    """("ok", the result when it is a tuple, such as a shape) or (the exception's type name,
    its first line)."""
    try:
        result = fn()
    except Exception as exc:         # noqa: BLE001 -- the refusal is what is compared
        return type(exc).__name__, str(exc).split("\n")[0]
    return "ok", result if isinstance(result, tuple) else None


@pytest.mark.parametrize("op, nd", [("conv2d", 2), ("conv_transpose1d", 1), ("conv3d", 3)])
@pytest.mark.parametrize("batched", [2, 1, None])
@pytest.mark.parametrize("bias", [False, True])
def test_convolution_weight_dtype_refusals_as_torch(op, nd, batched, bias):
    for x_dtype in _DTYPES:
        for w_dtype in _DTYPES:
            if x_dtype == w_dtype:
                continue

            def call(lib):
                shape = ((batched,) if batched else ()) + (3,) + (4,) * nd
                w_shape = (3, 4) + (2,) * nd if "transpose" in op else (4, 3) + (2,) * nd
                x = lib.ones(shape, dtype=getattr(lib, x_dtype))
                w = lib.ones(w_shape, dtype=getattr(lib, w_dtype))
                b = lib.ones(4, dtype=getattr(lib, w_dtype)) if bias else None
                return getattr(lib.nn.functional, op)(x, w, b)
            assert _refusal(lambda: call(minigrad)) == _refusal(lambda: call(torch)), \
                (x_dtype, w_dtype)


@pytest.mark.parametrize("case", ["channels", "padding string", "weight rank", "groups",
                                  "empty batch", "stride 0"])
def test_complex_input_weight_dtype_checked_first(case):
    def call(lib):
        F = lib.nn.functional
        x = lib.ones(2, 3, 6, 6, dtype=lib.complex64)
        w = lib.ones(4, 3, 3, 3)
        return {"channels": lambda: F.conv2d(x[:, :2], w),
                "padding string": lambda: F.conv2d(x, w, padding="wide"),
                "weight rank": lambda: F.conv2d(x, w[0]),
                "groups": lambda: F.conv_transpose2d(x, w[:3], groups=2),
                "empty batch": lambda: F.conv2d(x[:0], w),
                "stride 0": lambda: F.conv2d(x, w, stride=0)}[case]()
    assert _refusal(lambda: call(minigrad)) == _refusal(lambda: call(torch))


@pytest.mark.parametrize("shape", [(2, 3, 0), (2, 0), (0,), (2, 3, 4), (2, 0, 3, 3), (0, 0, 0),
                                   (1, 2, 0, 3, 3), (3, 0, 4, 4)])
@pytest.mark.parametrize("size", [2, 1, (0, 2, 2), -1])
def test_adaptive_avg_pool3d_empty_before_rank_as_torch(shape, size):
    def call(lib):
        return tuple(lib.nn.functional.adaptive_avg_pool3d(lib.zeros(shape), size).shape)
    assert _refusal(lambda: call(minigrad)) == _refusal(lambda: call(torch))
