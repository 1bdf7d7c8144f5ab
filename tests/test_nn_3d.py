"""The 3-d convolution and pooling layers, adaptive 3-d pools and LP pooling against PyTorch:
outputs, every gradient, reprs, state_dict keys, errors (the functionals' forward, gradients
and second derivatives are in the op registry)."""
import numpy as np
import pytest
import torch

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F

torch.set_num_threads(1)


def _same_module(make, x_shape, *, seed=0, out_index=None, forward_kw=None, positive=False):
    """Build the module in both libraries, copy torch's weights, run forward and backward
    on the same numbers: outputs, input gradient and every parameter's gradient agree."""
    rng = np.random.default_rng(seed)
    theirs = make(torch.nn).double()
    mine = make(nn).double()
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert sorted(mine.state_dict()) == sorted(state)
    mine.load_state_dict({k: minigrad.tensor(v) for k, v in state.items()})
    x = rng.standard_normal(x_shape)
    if positive:                  # x^p real for every p; no ties for a max
        x = np.abs(x) + 0.1
    results = []
    for lib, module in ((minigrad, mine), (torch, theirs)):
        xt = lib.tensor(x, requires_grad=True)
        out = module(xt, **(forward_kw or {}))
        out = out[out_index] if out_index is not None else out
        out.backward(lib.tensor(np.random.default_rng(seed + 1).standard_normal(
            tuple(out.shape))))
        results.append([out.detach().numpy(), xt.grad.numpy()] +
                       [p.grad.numpy() for _, p in sorted(module.named_parameters())])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(3, 2, 3), stride=(2, 1, 2), padding=(1, 0, 1), bias=False),
    dict(kernel_size=3, padding="same", dilation=(1, 2, 1)),
    dict(kernel_size=2, groups=2, padding_mode="reflect", padding=1),
])
def test_conv3d_module(kw):
    _same_module(lambda lib: lib.Conv3d(4, 6, **kw), (2, 4, 6, 5, 6))


@pytest.mark.parametrize("kw, size", [
    (dict(kernel_size=3, stride=2, padding=1, output_padding=1), None),
    (dict(kernel_size=(2, 3, 2), stride=(2, 1, 2), groups=2, bias=False), None),
    (dict(kernel_size=3, stride=2, padding=1), (2, 6, 8, 9, 8)),
])
def test_conv_transpose3d_module(kw, size):
    _same_module(lambda lib: lib.ConvTranspose3d(4, 6, **kw), (2, 4, 4, 5, 4),
                 forward_kw={"output_size": size} if size else None)


@pytest.mark.parametrize("make, shape, index", [
    (lambda lib: lib.MaxPool3d(2), (2, 3, 4, 6, 4), None),
    (lambda lib: lib.MaxPool3d((3, 2, 2), stride=1, padding=1, ceil_mode=True), (3, 5, 4, 5),
     None),
    (lambda lib: lib.AdaptiveAvgPool3d((2, None, 3)), (2, 3, 5, 4, 7), None),
    (lambda lib: lib.AdaptiveMaxPool3d(3, return_indices=True), (2, 3, 5, 4, 7), 0),
    (lambda lib: lib.LPPool1d(2, 3, stride=2), (2, 3, 9), None),
    (lambda lib: lib.LPPool2d(1.5, (2, 3), ceil_mode=True), (2, 3, 7, 8), None),
    (lambda lib: lib.LPPool3d(2, 2), (2, 3, 4, 6, 5), None),
])
def test_pool_modules(make, shape, index):
    _same_module(make, shape, out_index=index, positive=True)


def test_max_unpool3d_undoes_max_pool3d():
    x = np.random.default_rng(3).permutation(2 * 3 * 4 * 4 * 4).reshape(2, 3, 4, 4, 4) * 1.0
    outs = []
    for lib in (minigrad, torch):
        pooled, idx = lib.nn.MaxPool3d(2, return_indices=True)(lib.tensor(x))
        outs.append(lib.nn.MaxUnpool3d(2)(pooled, idx).numpy())
    np.testing.assert_array_equal(*outs)
    assert repr(nn.MaxUnpool3d(2)) == repr(torch.nn.MaxUnpool3d(2))


def test_lazy_conv3d_reads_its_channels():
    m = nn.LazyConv3d(5, 3)
    assert repr(m) == repr(torch.nn.LazyConv3d(5, 3))
    y = m(minigrad.zeros(1, 2, 4, 4, 4))
    assert type(m) is nn.Conv3d and tuple(m.weight.shape) == (5, 2, 3, 3, 3)
    assert tuple(y.shape) == (1, 5, 2, 2, 2)


def test_max_pool_with_indices_as_torch():
    for nd, shape in ((1, (2, 3, 7)), (2, (2, 3, 6, 7)), (3, (2, 3, 4, 6, 4))):
        a = np.random.default_rng(nd).standard_normal(shape)
        mine = getattr(F, f"max_pool{nd}d_with_indices")(minigrad.tensor(a), 2)
        theirs = getattr(torch.nn.functional, f"max_pool{nd}d_with_indices")(torch.tensor(a), 2)
        for m, t in zip(mine, theirs):
            np.testing.assert_array_equal(m.numpy(), t.numpy())


@pytest.mark.parametrize("fn, shape, size", [
    ("adaptive_avg_pool3d", (2, 3), 2),                     # too few dimensions
    ("adaptive_avg_pool3d", (2, 0, 3, 3, 3), 2),            # an empty channel axis
    ("adaptive_max_pool3d", (2, 3, 4, 4, 4), (2, 2)),       # output_size of the wrong length
    ("adaptive_avg_pool3d", (2, 3, 4, 4, 4), -1),
    ("adaptive_avg_pool3d", (2, 3, 4, 4, 4), (1, -2, 3)),
    ("adaptive_max_pool3d", (2, 3, 4, 4, 4), (1, -2, 3)),
    ("adaptive_max_pool3d", (3, 0, 4, 4), 2),                # unbatched, no channels
    ("adaptive_avg_pool3d", (2, 3, 4, 0, 4), 2),
])
def test_adaptive_3d_errors_as_torch(fn, shape, size):
    errors = []
    for lib in (minigrad, torch):
        with pytest.raises(Exception) as info:
            getattr(lib.nn.functional, fn)(lib.zeros(shape), size)
        errors.append(info.value)
    assert type(errors[0]) is type(errors[1])
    assert str(errors[0]) == str(errors[1])
