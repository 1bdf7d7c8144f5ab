"""The array fast paths of layer_norm, group_norm and instance_norm (``_norm_rows``: the
block kernels of ``NativeLayerNorm`` and ``NativeGroupNorm``; instance_norm with the input's
statistics as a group norm with a group per channel) beside torch: float64 values and every
gradient (the array backward, no graph recorded), second derivatives through the kept
composed backward (create_graph), float32 within rounding, options (no affine, weight or bias
alone, several normalised dims, one group and a group per channel, running statistics),
non-contiguous and large-mean inputs, rows long and short enough to cross the kernels' block
and matrix-product thresholds, several threads, and empty batches."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _call(lib, op, x, params, options):
    F = lib.nn.functional
    if op == "layer_norm":
        return F.layer_norm(x, options["shape"], *params, eps=options.get("eps", 1e-5))
    if op == "group_norm":
        return F.group_norm(x, options["groups"], *params, eps=options.get("eps", 1e-5))
    w, b = params if params else (None, None)
    return F.instance_norm(x, options.get("rm"), options.get("rv"), w, b,
                           use_input_stats=True, momentum=0.2, eps=options.get("eps", 1e-5))


def _params(lib, x, op, options, affine, dtype):
    """weight and bias (None where absent), shaped for ``op``; requiring grad."""
    shape = options["shape"] if op == "layer_norm" else (x.shape[1],)
    n = int(np.prod(shape))
    w = np.linspace(-1.5, 2.0, n).reshape(shape).astype(dtype)
    b = np.linspace(0.5, -0.7, n).reshape(shape).astype(dtype)
    return [lib.tensor(w, requires_grad=True) if "w" in affine else None,
            lib.tensor(b, requires_grad=True) if "b" in affine else None]


def _run(lib, op, x, options, affine, create_graph=False, layout=None):
    """Output, the gradients of every input and parameter for a fixed upstream gradient, and
    with ``create_graph`` the gradients of a weighted sum of their squares."""
    dtype = x.dtype
    xt = lib.tensor(x, requires_grad=True)
    leaf = xt
    if layout == "transposed":          # a non-contiguous input of the same values
        xt = lib.tensor(np.ascontiguousarray(np.swapaxes(x, -1, -2)),
                        requires_grad=True)
        leaf = xt
        xt = xt.transpose(-1, -2)
    params = _params(lib, x, op, options, affine, dtype)
    opts = dict(options)
    if op == "instance_norm" and options.get("running"):
        c = x.shape[1]
        opts["rm"] = lib.tensor(np.linspace(0.1, 0.3, c).astype(dtype))
        opts["rv"] = lib.tensor(np.linspace(1.0, 2.0, c).astype(dtype))
    if op == "instance_norm":
        args = params if any(p is not None for p in params) else []
    else:
        args = params
    y = _call(lib, op, xt, args, opts)
    ins = [leaf] + [p for p in params if p is not None]
    gy = lib.tensor(np.cos(np.arange(y.numel()) * 0.7).reshape(tuple(y.shape)).astype(dtype),
                    requires_grad=create_graph)
    grads = lib.autograd.grad(y, ins, gy, create_graph=create_graph)
    out = [y.detach().numpy()] + [g.detach().numpy() for g in grads]
    if opts.get("rm") is not None:
        out += [opts["rm"].numpy(), opts["rv"].numpy()]
    if create_graph:
        total = sum((g * g * (k + 1)).sum() for k, g in enumerate(grads))
        second = lib.autograd.grad(total, ins + [gy], allow_unused=True)
        out += [None if g is None else g.numpy() for g in second]
    return out, y


def _compare(mine, theirs, rtol, atol):
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


CASES = [
    ("layer_norm", (3, 5, 7), {"shape": (7,)}),
    ("layer_norm", (2, 3, 5, 7), {"shape": (5, 7)}),
    ("layer_norm", (4, 6), {"shape": (4, 6)}),
    ("layer_norm", (2, 3, 5), {"shape": (5,)}),
    ("layer_norm", (70, 300), {"shape": (300,)}),       # several blocks of rows
    ("layer_norm", (3, 2, 1100), {"shape": (1100,)}),    # rows past the row-dot threshold
    ("group_norm", (4, 6, 5, 3), {"groups": 3}),
    ("group_norm", (4, 6, 5, 3), {"groups": 1}),
    ("group_norm", (4, 6, 5, 3), {"groups": 6}),
    ("group_norm", (3, 8), {"groups": 4}),
    ("group_norm", (2, 4, 300, 70), {"groups": 2}),       # several blocks of groups
    ("instance_norm", (3, 4, 5, 6), {}),
    ("instance_norm", (2, 3, 7), {}),
    ("instance_norm", (2, 3, 2, 3, 4), {}),
    ("instance_norm", (3, 4, 5, 6), {"running": True}),
    ("instance_norm", (2, 3, 200, 30), {"running": True}),
]
AFFINE = {"layer_norm": ["", "w", "b", "wb"], "group_norm": ["", "w", "b", "wb"],
          "instance_norm": ["", "wb"]}


def _cases():
    for op, shape, options in CASES:
        for affine in AFFINE[op]:
            yield op, shape, options, affine


def _data(shape, dtype, seed, mean=1.0):
    x = np.random.default_rng(seed).standard_normal(shape) * 3 + mean
    return x.astype(dtype)


@pytest.mark.parametrize("op, shape, options, affine", list(_cases()))
def test_float64_values_and_gradients(op, shape, options, affine):
    if op == "group_norm" and affine == "b":
        pytest.skip("torch's group norm backward needs a weight with a bias")
    x = _data(shape, np.float64, len(shape))
    mine, y = _run(minigrad, op, x, options, affine)
    theirs, yt = _run(torch, op, x, options, affine)
    _compare(mine, theirs, 1e-10, 1e-11)
    assert type(y.grad_fn).__name__ == type(yt.grad_fn).__name__
    assert y.is_contiguous()


@pytest.mark.parametrize("op, shape, options", [
    ("layer_norm", (3, 5, 7), {"shape": (7,)}),
    ("layer_norm", (2, 3, 4, 5), {"shape": (4, 5)}),
    ("group_norm", (4, 6, 5, 3), {"groups": 3}),
    ("group_norm", (2, 6, 4), {"groups": 6}),
    ("instance_norm", (3, 4, 5, 6), {}),
    ("instance_norm", (2, 3, 7), {"running": True}),
])
@pytest.mark.parametrize("affine", ["", "wb"])
def test_second_derivatives_through_the_composed_backward(op, shape, options, affine):
    x = _data(shape, np.float64, 7)
    mine, _ = _run(minigrad, op, x, options, affine, create_graph=True)
    theirs, _ = _run(torch, op, x, options, affine, create_graph=True)
    _compare(mine, theirs, 1e-9, 1e-10)


@pytest.mark.parametrize("op, shape, options, affine", [
    ("layer_norm", (64, 768), {"shape": (768,)}, "wb"),
    ("layer_norm", (5, 6, 300), {"shape": (6, 300)}, ""),
    ("group_norm", (4, 16, 16, 16), {"groups": 4}, "wb"),
    ("group_norm", (4, 16, 16, 16), {"groups": 16}, ""),
    ("instance_norm", (4, 16, 16, 16), {"running": True}, "wb"),
    ("instance_norm", (4, 16, 16, 16), {}, ""),
])
@pytest.mark.parametrize("mean", [0.0, 300.0])
def test_float32_within_rounding(op, shape, options, affine, mean):
    """float32 beside torch's float32 (a mean large beside the spread too: the statistics
    are of the centred values); the tolerance is a few roundings of the results' size."""
    x = _data(shape, np.float32, 3, mean)
    mine, _ = _run(minigrad, op, x, options, affine)
    theirs, _ = _run(torch, op, x, options, affine)
    for a, b in zip(mine, theirs):
        scale = np.abs(b).max() + 1e-30
        assert a.dtype == np.float32
        assert np.abs(a.astype(np.float64) - b).max() / scale < 2e-5


@pytest.mark.parametrize("op, shape, options, affine", [
    ("layer_norm", (3, 6, 5), {"shape": (5,)}, "wb"),
    ("layer_norm", (3, 6, 5), {"shape": (6, 5)}, "w"),
    ("group_norm", (3, 4, 6, 5), {"groups": 2}, "wb"),
    ("instance_norm", (3, 4, 6, 5), {"running": True}, "wb"),
])
def test_non_contiguous_input(op, shape, options, affine):
    x = _data(shape, np.float64, 11)
    mine, y = _run(minigrad, op, x, options, affine, layout="transposed")
    theirs, _ = _run(torch, op, x, options, affine, layout="transposed")
    _compare(mine, theirs, 1e-10, 1e-11)
    assert y.is_contiguous()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op, shape, options, affine", [
    ("layer_norm", (1024, 1100), {"shape": (1100,)}, "wb"),
    ("group_norm", (8, 32, 64, 64), {"groups": 8}, "wb"),
    ("instance_norm", (8, 32, 64, 64), {"running": True}, ""),
])
def test_large_inputs_on_threads(op, shape, options, affine, threads):
    """Inputs past the size at which the passes split over the threads."""
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        x = _data(shape, np.float64, 5)
        mine, _ = _run(minigrad, op, x, options, affine)
    finally:
        minigrad.set_num_threads(before)
    theirs, _ = _run(torch, op, x, options, affine)
    _compare(mine, theirs, 1e-9, 1e-10)


@pytest.mark.parametrize("op, shape, options", [
    ("layer_norm", (0, 5), {"shape": (5,)}),
    ("layer_norm", (0, 3, 5), {"shape": (3, 5)}),
    ("group_norm", (0, 4, 3), {"groups": 2}),
])
def test_empty_batch(op, shape, options):
    x = np.zeros(shape)
    outs = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x, requires_grad=True)
        w = lib.ones(options["shape"] if op == "layer_norm" else (shape[1],),
                     dtype=lib.float64, requires_grad=True)
        y = _call(lib, op, xt, [w, None], options)
        y.sum().backward()
        outs.append((tuple(y.shape), xt.grad, w.grad))
    assert outs[0][0] == outs[1][0]
    for a, b in zip(outs[0][1:], outs[1][1:]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_instance_norm_running_statistics_in_float32():
    x = _data((4, 3, 5, 6), np.float32, 2, 4.0)
    stats = []
    for lib in (minigrad, torch):
        rm = lib.zeros(3)
        rv = lib.ones(3)
        lib.nn.functional.instance_norm(lib.tensor(x), rm, rv, momentum=0.3)
        stats.append((rm.numpy(), rv.numpy()))
    np.testing.assert_allclose(stats[0][0], stats[1][0], rtol=1e-6)
    np.testing.assert_allclose(stats[0][1], stats[1][1], rtol=1e-6)


@pytest.mark.parametrize("module", ["LayerNorm", "GroupNorm", "InstanceNorm2d"])
def test_modules_train_step_matches_torch(module):
    """A module's forward and backward on float64, its parameters' gradients too."""
    x = _data((4, 6, 5, 5), np.float64, 9)
    res = []
    for lib in (minigrad, torch):
        lib.manual_seed(0)
        layer = {"LayerNorm": lambda: lib.nn.LayerNorm((5, 5)),
                 "GroupNorm": lambda: lib.nn.GroupNorm(3, 6),
                 "InstanceNorm2d": lambda: lib.nn.InstanceNorm2d(
                     6, affine=True, track_running_stats=True)}[module]().double()
        xt = lib.tensor(x, requires_grad=True)
        y = layer(xt)
        (y * y.detach().cos()).sum().backward()
        res.append([y.detach().numpy(), xt.grad.numpy()] +
                   [p.grad.numpy() for p in layer.parameters()] +
                   [b.numpy() for b in layer.buffers() if b.dtype == lib.float64])
    _compare(res[0], res[1], 1e-10, 1e-11)
