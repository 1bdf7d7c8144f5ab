"""Round 41's activation fast paths against PyTorch: the clamp-shaped activations (hardtanh,
relu6, hardsigmoid, threshold) multiply the gradient's bits by their bool mask (hardsigmoid
keeps the mask, not a float slope); threshold selects its value by bits. leaky_relu and rrelu
in eval are checked beside them. Values (bit for bit, signs of zeros, NaN and infinities),
gradients of NaN and infinite upstream gradients, first and second derivatives in float64,
layouts, 0-d, empty, 16-bit, in-place forms, module forms and node names."""
import numpy as np
import pytest
import torch

import minigrad as mg

F = {mg: mg.nn.functional, torch: torch.nn.functional}

OPS = {
    "hardtanh": lambda L, t: F[L].hardtanh(t),
    "hardtanh_bounds": lambda L, t: F[L].hardtanh(t, -0.3, 2.5),
    "relu6": lambda L, t: F[L].relu6(t),
    "hardsigmoid": lambda L, t: F[L].hardsigmoid(t),
    "threshold": lambda L, t: F[L].threshold(t, 0.1, 20.0),
    "threshold_neg": lambda L, t: F[L].threshold(t, -1.0, -0.0),
    "leaky_relu": lambda L, t: F[L].leaky_relu(t, 0.2),
    "leaky_relu_default": lambda L, t: F[L].leaky_relu(t),
    "leaky_relu_one": lambda L, t: F[L].leaky_relu(t, 1.0),
    "rrelu_eval": lambda L, t: F[L].rrelu(t, training=False),
}
INPLACE = {
    "hardtanh": lambda L, t: F[L].hardtanh(t, inplace=True),
    "relu6": lambda L, t: F[L].relu6(t, inplace=True),
    "hardsigmoid": lambda L, t: F[L].hardsigmoid(t, inplace=True),
    "threshold": lambda L, t: F[L].threshold(t, 0.1, 20.0, inplace=True),
    "leaky_relu": lambda L, t: F[L].leaky_relu(t, 0.2, inplace=True),
    "rrelu_eval": lambda L, t: F[L].rrelu(t, training=False, inplace=True),
}
MODULES = {
    "hardtanh": lambda L: L.nn.Hardtanh(-2.0, 2.0), "relu6": lambda L: L.nn.ReLU6(),
    "hardsigmoid": lambda L: L.nn.Hardsigmoid(), "threshold": lambda L: L.nn.Threshold(0.5, 2.0),
    "leaky_relu": lambda L: L.nn.LeakyReLU(0.1), "rrelu_eval": lambda L: L.nn.RReLU().eval(),
}
SPECIAL = [np.nan, np.inf, -np.inf, -0.0, 0.0, -3.0, 3.0, -1.0, 1.0, 6.0, 0.1, -1e-45, 1e-45,
           3.4e38, -3.4e38, 2.5, -0.3, 20.0]


def _bits(a):
    """Values with the sign of every zero visible (NaN as one string)."""
    return [repr(float(v)) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def _data(dtype, shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape) * 4
    flat = x.reshape(-1)
    flat[:len(SPECIAL)] = SPECIAL[:flat.size]
    return x.astype(dtype)


def _value_and_grad(L, fn, x, g, make=lambda a: a):
    t = L.tensor(x, requires_grad=True)
    y = fn(L, make(t))
    gx, = L.autograd.grad(y, t, L.tensor(g))
    return y, gx


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(7,), (300, 700), (2, 3, 70, 90)])
def test_values_and_gradients_bit_for_bit(name, dtype, shape):
    x = _data(dtype, shape)
    g = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    gf = g.reshape(-1)
    gf[-6:] = [np.nan, np.inf, -np.inf, np.nan, -0.0, 0.0]     # the upstream's own specials
    ref = _value_and_grad(torch, OPS[name], x, g)
    got = _value_and_grad(mg, OPS[name], x, g)
    assert _bits(ref[0].detach().numpy()) == _bits(got[0].detach().numpy())
    a, b = ref[1].numpy(), got[1].numpy()
    if name.startswith(("hardtanh", "relu6")):
        # at a NaN x PyTorch's vectorised loop gives 0 and its scalar tail g; the vectorised
        # answer is taken everywhere
        nan = np.isnan(x)
        assert not b[nan].any()
        a, b = a[~nan], b[~nan]
    assert _bits(a) == _bits(b)
    with torch.no_grad(), mg.no_grad():
        a, b = (OPS[name](L, L.tensor(x)).numpy() for L in (torch, mg))
    assert _bits(a) == _bits(b)
    assert got[0].grad_fn.name() == ref[0].grad_fn.name()


@pytest.mark.parametrize("name", sorted(OPS))
def test_second_order_float64(name):
    x = np.array([-5.0, -3.0, -2.9, -1.0, -0.5, -0.0, 0.0, 0.05, 0.1, 0.3, 1.0, 2.9, 3.0, 5.5,
                  6.0, 7.0, 25.0])
    out = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        y = OPS[name](L, t * 1.0)
        g, = L.autograd.grad((y * y).sum(), t, create_graph=True)
        if name == "hardsigmoid" and L is torch:
            # PyTorch has no derivative of hardsigmoid_backward; minigrad's is that of the
            # first derivative here: (2 y y')' = 2 y'^2 (y'' is 0)
            sixth = torch.tensor(float(np.float32(1) / np.float32(6)), dtype=torch.float64)
            g2 = 4 * torch.where((t > -3) & (t < 3), sixth, 0) ** 2 * g.detach()
        else:
            g2, = L.autograd.grad((g * g).sum(), t)
        out.append((y.detach().numpy(), g.detach().numpy(), g2.detach().numpy()))
    for r, m in zip(*out):
        np.testing.assert_allclose(m, r, rtol=1e-12 if name == "hardsigmoid" else 1e-14, atol=0)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("layout", ["transposed", "sliced", "channels_last", "expanded_g"])
def test_layouts(name, layout):
    x = _data("float32", (4, 6, 50, 40), seed=3)
    res = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        if layout == "transposed":
            v = t.transpose(1, 3)
        elif layout == "sliced":
            v = t[:, ::2, 1:]
        elif layout == "channels_last":
            v = t.contiguous(memory_format=L.channels_last) * 1.0
        else:
            v = t * 1.0
        y = OPS[name](L, v)
        if layout == "expanded_g":
            gy, gx = L.autograd.grad(y.sum(), (v, t))
        else:
            g = np.random.default_rng(4).standard_normal(tuple(y.shape)).astype(np.float32)
            gy, gx = L.autograd.grad(y, (v, t), L.tensor(g))
        res.append((y.detach().numpy(), gx.numpy(), gy.stride(), y.stride()))
    (y0, g0, s0, t0), (y1, g1, s1, t1) = res
    assert _bits(y0) == _bits(y1)
    nan = np.isnan(x) if name.startswith(("hardtanh", "relu6")) else np.zeros(x.shape, bool)
    np.testing.assert_array_equal(g1[~nan], g0[~nan])
    assert t0 == t1
    if not (name.startswith("threshold") and layout in ("transposed", "channels_last")):
        assert s0 == s1          # (threshold's gradient: row-major, PyTorch's the input's)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,)])
def test_zero_dim_and_empty(name, shape):
    x = np.full(shape, 0.7, np.float64) if shape else np.float64(-0.7)
    res = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        y = OPS[name](L, t)
        gx, = L.autograd.grad(y.sum(), t)
        res.append((y.detach().numpy(), gx.numpy(), tuple(y.shape), str(y.dtype)[-7:]))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    np.testing.assert_array_equal(res[1][1], res[0][1])
    assert res[1][2] == res[0][2] and res[1][3] == res[0][3]


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit(name, dtype):
    x = _data("float32", (40, 30), seed=5)
    g = np.random.default_rng(6).standard_normal(x.shape).astype(np.float32)
    res = []
    for L in (torch, mg):
        d = getattr(L, dtype)
        t = L.tensor(x).to(d).requires_grad_()
        y = OPS[name](L, t)
        gx, = L.autograd.grad(y, t, L.tensor(g).to(d))
        res.append((y.detach().float().numpy(), gx.float().numpy(), str(y.dtype).split('.')[-1]))
    assert _bits(res[0][0]) == _bits(res[1][0])
    # (the gradient's zeros: PyTorch's 16-bit clamp backwards give g * 0, with g's sign)
    np.testing.assert_array_equal(res[1][1], res[0][1])
    assert res[0][2] == res[1][2]


@pytest.mark.parametrize("name", sorted(INPLACE))
@pytest.mark.parametrize("shape", [(5,), (300, 700)])
def test_inplace_forms(name, shape):
    x = _data("float32", shape, seed=7)
    g = np.random.default_rng(8).standard_normal(shape).astype(np.float32)
    res = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        h = t * 1.0
        before = h._version
        out = INPLACE[name](L, h)
        assert out is h
        gx, = L.autograd.grad(h, t, L.tensor(g))
        res.append((h.detach().numpy(), gx.numpy(), h._version - before, h.grad_fn.name()))
    assert _bits(res[0][0]) == _bits(res[1][0])
    keep = ~np.isnan(x) if name in ("hardtanh", "relu6") else slice(None)   # (see above)
    assert _bits(res[0][1][keep]) == _bits(res[1][1][keep])
    assert res[0][2] == res[1][2] and res[0][3] == res[1][3]


@pytest.mark.parametrize("name", ["hardtanh", "relu6", "hardsigmoid", "leaky_relu",
                                  "threshold"])
def test_input_written_after_the_op(name):
    """What the node keeps is its own: a later in-place write to the input leaves the
    gradient that of the values at the call (PyTorch refuses that backward instead)."""
    x = _data("float64", (50,), seed=9)
    res = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        h = t * 1.0
        y = OPS[name](L, h)
        if L is mg:
            h.mul_(-1.0)
        gx, = L.autograd.grad(y.sum(), t)
        res.append(gx.numpy())
    keep = ~np.isnan(x)
    np.testing.assert_array_equal(res[1][keep], res[0][keep])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_forms(name):
    x = _data("float32", (16, 8, 12, 12), seed=10)
    g = np.random.default_rng(11).standard_normal(x.shape).astype(np.float32)
    res = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        y = MODULES[name](L)(t)
        gx, = L.autograd.grad(y, t, L.tensor(g))
        res.append((y.detach().numpy(), gx.numpy(), y.grad_fn.name()))
    assert _bits(res[0][0]) == _bits(res[1][0])
    assert _bits(res[0][1]) == _bits(res[1][1])
    assert res[0][2] == res[1][2]


def test_no_grad_input_and_retain_graph():
    x = _data("float32", (300, 300), seed=12)
    for name in ("hardtanh", "hardsigmoid", "leaky_relu", "threshold"):
        res = []
        for L in (torch, mg):
            t = L.tensor(x, requires_grad=True)
            y = OPS[name](L, t)
            a, = L.autograd.grad(y.sum(), t, retain_graph=True)
            b, = L.autograd.grad(y.sum(), t)
            res.append((a.numpy(), b.numpy()))
            with L.no_grad():
                res.append(OPS[name](L, L.tensor(x)).numpy())
        np.testing.assert_array_equal(res[2][0], res[0][0])
        np.testing.assert_array_equal(res[2][1], res[0][1])
        assert _bits(res[3]) == _bits(res[1])


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_on_a_view_and_on_a_saved_value(name):
    """The in-place forms run on the tensor itself: a view's base sees the write (and its
    gradient goes through it), and a value another node saved makes that backward refuse."""
    x = _data("float64", (6, 8), seed=13)
    res = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        base = t * 1.0
        view = base[:, 2:5]
        INPLACE[name](L, view)
        gx, = L.autograd.grad((base * base).sum(), t)
        res.append((base.detach().numpy(), gx.numpy(), view._version, base.grad_fn.name()))
        a = t * 1.0
        b = a * a
        INPLACE[name](L, a)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            L.autograd.grad(b.sum(), t)
    assert _bits(res[0][0]) == _bits(res[1][0])
    keep = ~np.isnan(x)
    np.testing.assert_array_equal(res[1][1][keep], res[0][1][keep])
    assert res[0][2:] == res[1][2:]
