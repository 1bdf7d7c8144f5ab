"""Small mends from the lead's review of round 32, each beside torch."""
import pytest
import torch

import minigrad


def _raised(call):
    try:
        return repr(call())
    except Exception as exc:        # noqa: BLE001  (the type and the words are compared)
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("shape", [(), (2,), (2, 3)], ids=str)
@pytest.mark.parametrize("method", ["size", "stride"])
@pytest.mark.parametrize("dim", [0, -1, 1, 2, -3, (0,), 1.0, None, True])
def test_size_and_stride_of_a_dim(shape, method, dim):
    """0-d tensors have no dimension to read (IndexError naming the dim); a dim that is no
    int is the parser's TypeError."""
    def call(lib):
        t = lib.ones(shape)
        return lambda: tuple(getattr(t, method)(dim)) if dim is None else \
            getattr(t, method)(dim)
    assert _raised(call(minigrad)) == _raised(call(torch))


@pytest.mark.parametrize("exponent", [3, -2, 3.0, -2.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cube_and_inverse_square_round_as_pytorch(exponent, dtype):
    """x ** 3 is x * x * x and x ** -2 is 1 / (x * x) in PyTorch's scalar kernel: the same
    bits here (C's pow rounds otherwise, and took 17x longer for negative bases)."""
    import numpy as np
    a = (np.random.default_rng(0).standard_normal(5000) * 10).astype(dtype)
    a[:7] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -3e20]
    theirs = torch.tensor(a, requires_grad=True)
    mine = minigrad.tensor(a, requires_grad=True)
    (theirs ** exponent).sum().backward()
    (mine ** exponent).sum().backward()
    np.testing.assert_array_equal((mine ** exponent).detach().numpy(),
                                  (theirs ** exponent).detach().numpy())
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5)], ids=str)
def test_sign_and_abs_gradient_in_place(dtype, shape):
    """sign (and abs's gradient, which is made of it) written in place: 0 at NaN and at
    either zero (no negative zero), as PyTorch's."""
    import numpy as np
    specials = np.array([np.nan, -0.0, 0.0, -1.5, 2.0, np.inf, -np.inf], dtype=dtype)
    a = np.resize(specials, shape).astype(dtype)
    results = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        x.abs().sum().backward()
        results.append((lib.sign(x.detach()).numpy(), x.grad.numpy()))
    for mine, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_array_equal(np.signbit(mine), np.signbit(theirs))


def _edges(t):
    return [(type(n).__name__ if n is not None else None, i) for n, i in t.grad_fn.next_functions]


GRAPHS = {
    "conv2d no bias": lambda L, x: L.nn.functional.conv2d(x, L.ones(3, 2, 3, 3,
                                                                   requires_grad=True)),
    "conv_transpose2d no bias": lambda L, x: L.nn.functional.conv_transpose2d(x, L.ones(2, 3, 3,
                                                                                        3)),
    "conv1d bias": lambda L, x: L.nn.functional.conv1d(x.flatten(2), L.ones(3, 2, 3),
                                                       L.ones(3, requires_grad=True)),
    "conv2d empty channels": lambda L, x: L.nn.functional.conv2d(x[:, :0], L.ones(3, 0, 3, 3)),
    "clamp tensor min": lambda L, x: L.clamp(x, min=L.zeros(1)),
    "clamp tensor max": lambda L, x: L.clamp(x, max=L.zeros(1, requires_grad=True)),
    "clamp both": lambda L, x: L.clamp(x, min=L.zeros(1, requires_grad=True), max=L.ones(1)),
}


@pytest.mark.parametrize("case", list(GRAPHS))
def test_optional_inputs_show_their_edges(case):
    """A convolution without bias and a clamp with one tensor bound show PyTorch's three
    edges, (None, 0) for the input not given."""
    shown = []
    for lib in (torch, minigrad):
        x = lib.ones(1, 2, 5, 5, requires_grad=True)
        shown.append(_edges(GRAPHS[case](lib, x)))
    assert shown[1] == shown[0]


@pytest.mark.parametrize("name", ["elu", "gelu", "silu", "hardswish", "softplus", "mish", "selu"])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_activation_backward_of_one_expanded_number(name, reduce):
    """The gradient of sum() / mean() is one number expanded over the input: the blocked
    backwards fill a block of it per piece instead of copying it out whole; the same
    values as PyTorch's, across a block boundary and with odd sizes."""
    import numpy as np
    a = np.random.default_rng(1).standard_normal((3, 70001)).astype(np.float32)
    a[0, :5] = [0.0, -0.0, -3.0, 3.0, 40.0]
    grads = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        getattr(getattr(lib.nn.functional, name)(x), reduce)().backward()
        grads.append(x.grad.numpy())
    scale = 1.0 if reduce == "sum" else 1.0 / a.size
    # (float32 roundings of two formulas: a few ulps of the slope, which is near 0 at GELU's
    # minimum)
    np.testing.assert_allclose(grads[1], grads[0], rtol=2e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(), (50,)], ids=str)
def test_rsqrt_is_one_node(dtype, shape):
    """rsqrt as PyTorch's one node: its value, gradient (-g / 2 r^3) and second derivative
    bit for bit, its edge straight to the input."""
    import numpy as np
    a = np.resize(np.array([4.0, 0.0, np.inf, 1e-30, 2.5, 7.0], dtype=dtype), shape)
    seen = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        y = lib.rsqrt(x)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        seen.append((y.detach().numpy(), g.detach().numpy(), h.numpy(), str(y.dtype)[-7:],
                     _edges(y)))
    for mine, theirs in zip(seen[1][:3], seen[0][:3]):
        np.testing.assert_array_equal(mine, theirs)
    assert seen[1][3:] == seen[0][3:]


@pytest.mark.parametrize("shape, dim, keepdim", [((1,), 0, False), ((2,), -1, False),
                                                 ((2,), 0, True), ((2, 3), 1, False),
                                                 ((2, 3), 0, True), ((3,), None, False)])
def test_float16_prod_shape(shape, dim, keepdim):
    """float16 prod (rounded at each partial product) of a 1-d tensor along its dim is 0-d."""
    import numpy as np
    a = np.arange(1, 1 + int(np.prod(shape)), dtype=np.float16).reshape(shape)
    args = () if dim is None else (dim, keepdim)
    mine = minigrad.tensor(a).prod(*args)
    theirs = torch.tensor(a).prod(*args)
    assert tuple(mine.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


@pytest.mark.parametrize("call", ["F", "torch"])
def test_same_padding_warning_names_the_callers_line(call):
    """The once-per-process 'same' padding warning points at the user's line, as PyTorch's
    does, whatever depth of minigrad's wrappers it comes from."""
    import warnings
    from minigrad import _warn_once
    conv = minigrad.nn.functional.conv1d if call == "F" else minigrad.conv1d
    _warn_once.state.given.clear()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        conv(minigrad.ones(1, 1, 8), minigrad.ones(1, 1, 4), padding="same")
    assert [w.filename for w in seen] == [__file__]
