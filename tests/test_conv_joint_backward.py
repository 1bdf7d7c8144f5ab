"""A convolution's first-order backward in one batch split (``_conv_joint_backward``) beside
torch: x's, w's and b's gradients in float64 over the paths a part can take (shifted GEMMs,
im2col, the strided phases, 1x1 products, depthwise, groups), 1-d to 3-d, odd batches, any
subset of the inputs requiring grad, a channels-last input, a non-contiguous upstream
gradient; float32 on LeNet's layers. A spy checks that the joint path ran, and that with
``create_graph=True`` it does not (the gradients stay differentiable: second order beside
torch too)."""
import numpy as np
import pytest

import minigrad
from minigrad.ops import _conv_joint_backward, conv_kernels

torch = pytest.importorskip("torch")
from torch_agreement import same_tensor  # noqa: E402


@pytest.fixture
def joint(monkeypatch, threads_restored):
    """Two threads, every batch cut over them; -> the list of the joint path's results
    (None where it declined)."""
    minigrad.set_num_threads(2)
    monkeypatch.setattr(conv_kernels, "_SPLIT_MIN_MACS", 0)
    seen, real = [], _conv_joint_backward.backward

    def spy(*args):
        out = real(*args)
        seen.append(out)
        return out
    monkeypatch.setattr(_conv_joint_backward, "backward", spy)
    return seen


def _grads(lib, op, arrays, kw, wants, g, channels_last=False):
    """The forward, then backward of a fixed upstream gradient ``g`` (an array, handed over
    transposed twice: non-contiguous); -> [y, grads of the inputs in ``wants``]."""
    x, w, b = (None if a is None else lib.tensor(a, requires_grad=r)
               for a, r in zip(arrays, wants))
    if channels_last:
        x = x.detach().to(memory_format=lib.channels_last).requires_grad_(wants[0])
    y = getattr(lib.nn.functional, op)(x, w, b, **kw)
    upstream = lib.tensor(np.ascontiguousarray(np.swapaxes(g, 0, 1))).transpose(0, 1)
    y.backward(upstream)
    return y, [t.grad for t, r in zip((x, w, b), wants) if r and t is not None]


def _arrays(seed, n, c, o, size, k, groups, bias=True, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, c) + size).astype(dtype),
            (rng.standard_normal((o, c // groups) + (k,) * len(size)) / np.sqrt(c)).astype(dtype),
            rng.standard_normal(o).astype(dtype) if bias else None)


CASES = [
    # op, (n, c, o, size, k, groups), kwargs
    ("conv2d", (4, 6, 8, (12, 12), 3, 1), dict(padding=1)),                 # shifted GEMMs
    ("conv2d", (3, 6, 8, (11, 13), 3, 1), dict()),                          # valid, odd batch
    ("conv2d", (5, 4, 6, (13, 12), 3, 1), dict(stride=2, padding=1)),       # strided
    ("conv2d", (4, 6, 8, (10, 10), 3, 2), dict(padding=2, dilation=2, groups=2)),
    ("conv2d", (4, 6, 12, (9, 9), 1, 1), dict()),                           # 1x1: products
    ("conv2d", (4, 6, 6, (12, 12), 3, 6), dict(padding=1, groups=6)),       # depthwise
    ("conv2d", (3, 4, 6, (12, 12), 4, 1), dict(padding="same")),
    ("conv2d", (2, 1, 20, (28, 28), 5, 1), dict()),                         # LeNet's first
    ("conv1d", (5, 8, 10, (30,), 3, 1), dict(padding=1)),
    ("conv1d", (3, 8, 8, (31,), 5, 1), dict(stride=3, dilation=2)),
    ("conv3d", (3, 4, 6, (6, 7, 5), 3, 1), dict(padding=1)),
]


def _upstream(op, arrays, kw):
    """A fixed upstream gradient of y's shape (torch's forward gives the shape)."""
    shape = tuple(getattr(torch.nn.functional, op)(
        *(None if a is None else torch.tensor(a) for a in arrays), **kw).shape)
    return np.cos(np.arange(int(np.prod(shape)))).reshape(shape)


@pytest.mark.parametrize("op, shape, kw", CASES)
@pytest.mark.parametrize("wants", [(True, True, True), (False, True, True), (True, False, False),
                                   (True, True, None)], ids=["all", "no-x", "x-only", "no-bias"])
def test_joint_backward_beside_torch(joint, op, shape, kw, wants):
    n, c, o, size, k, groups = shape
    arrays = _arrays(1, n, c, o, size, k, groups, bias=wants[2] is not None)
    g = _upstream(op, arrays, kw)
    wants = tuple(bool(r) for r in wants)
    y_t, expect = _grads(torch, op, arrays, kw, wants, g)
    y_m, got = _grads(minigrad, op, arrays, kw, wants, g)
    assert joint and joint[-1] is not None, "the joint path did not run"
    np.testing.assert_allclose(y_m.detach().numpy(), y_t.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    same_tensor(got, expect, tol=1e-10, strides=True)


def test_channels_last_input(joint):
    """x's gradient laid out as torch lays it out for a channels-last x."""
    arrays = _arrays(2, 4, 6, 8, (10, 10), 3, 1)
    g = _upstream("conv2d", arrays, dict(padding=1))
    expect = _grads(torch, "conv2d", arrays, dict(padding=1), (True,) * 3, g, True)[1]
    got = _grads(minigrad, "conv2d", arrays, dict(padding=1), (True,) * 3, g, True)[1]
    assert joint and joint[-1] is not None
    same_tensor(got, expect, tol=1e-10, strides=True)


@pytest.mark.parametrize("op, shape, kw", CASES[:3] + CASES[5:6])
def test_create_graph_keeps_the_functions(joint, op, shape, kw):
    """With create_graph the gradients are recorded Functions (not the joint path), and
    their own gradients match torch's (the second backward, recording nothing, may take it)."""
    n, c, o, size, k, groups = shape
    arrays = _arrays(3, n, c, o, size, k, groups)
    g = _upstream(op, arrays, kw)
    out = []
    for lib in (torch, minigrad):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays)
        y = getattr(lib.nn.functional, op)(x, w, b, **kw)
        gx, gw, gb = lib.autograd.grad(y, (x, w, b), lib.tensor(g), create_graph=True)
        assert joint == []
        second = lib.autograd.grad((gx ** 2).sum() + (gw ** 2).sum() + (gb * y.sum()).sum(),
                                   (x, w, b))
        out.append([t.detach().numpy() for t in (gx, gw, gb, *second)])
    for a, b in zip(out[1], out[0]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("layer", [(64, 1, 20, (28, 28), 5), (64, 20, 50, (12, 12), 5)])
def test_lenet_layers_float32(threads_restored, layer):
    """LeNet's two convolutions at their real size (the joint path with its real threshold),
    float32 beside torch."""
    minigrad.set_num_threads(2)
    n, c, o, size, k = layer
    arrays = _arrays(4, n, c, o, size, k, 1, dtype=np.float32)
    g = _upstream("conv2d", arrays, {}).astype(np.float32)
    wants = (c > 1, True, True)
    expect = _grads(torch, "conv2d", arrays, {}, wants, g)[1]
    got = _grads(minigrad, "conv2d", arrays, {}, wants, g)[1]
    for a, b in zip(got, expect):
        assert a.dtype == minigrad.float32
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4,
                                   atol=2e-4 * float(b.abs().max()))


def test_declines_without_a_split(threads_restored):
    """One thread, or one image: no split (None), and the backward takes the separate
    kernels, still beside torch."""
    x, w, _ = _arrays(5, 3, 4, 6, (8, 8), 3, 1, bias=False)
    geom = minigrad.nn.functional.conv2d(minigrad.tensor(x, requires_grad=True),
                                         minigrad.tensor(w)).grad_fn.geom
    g = _upstream("conv2d", (x, w, None), {})
    for threads, n in ((1, 3), (2, 1)):
        minigrad.set_num_threads(threads)
        assert _conv_joint_backward.backward(x[:n], g[:n], w, geom, None, (True, True)) is None
        expect = _grads(torch, "conv2d", (x[:n], w, None), {}, (True, True, False), g[:n])[1]
        got = _grads(minigrad, "conv2d", (x[:n], w, None), {}, (True, True, False), g[:n])[1]
        same_tensor(got, expect, tol=1e-10, strides=True)
