"""Second derivatives of float16 and bfloat16 graphs, and backward passes that stay silent.

* A 16-bit node whose forward runs in float32 (every bfloat16 op, the float16 ops marked
  ``half_in_float32``) keeps float32 copies of what it saves. Under ``create_graph`` those
  copies were read as constants, so the gradient had no graph: ``autograd.grad`` of a
  bfloat16 ``x * x`` gave a tensor without ``grad_fn``, and differentiating it again raised
  "element 0 of tensors does not require grad". They are now read as float32 casts of the
  input or output they were made from, which the graph records.
* numpy warned ("invalid value encountered in add", "overflow encountered in cast") when a
  backward summed an inf and a -inf gradient or rounded a gradient past float16's range;
  PyTorch computes the IEEE answer silently, as minigrad's forward already did.

Each case runs beside torch: first and second derivatives within 16-bit rounding.
"""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

_RNG = np.random.default_rng(5)
_X = _RNG.standard_normal((2, 3, 5, 5))
_W = _RNG.standard_normal((4, 3, 3, 3)) * 0.3
_M = _RNG.standard_normal((5, 5)) * 0.3

# f(lib, x) for x (2, 3, 5, 5); each loss is nonlinear in its normalised values, so that
# its gradients are not rounding noise around zero
CASES = {
    "cube": lambda L, x: x * x * x,
    "exp_times_x": lambda L, x: x.exp() * x,
    "sin": lambda L, x: x.sin(),
    "tanh": lambda L, x: x.tanh(),
    "sigmoid": lambda L, x: x.sigmoid(),
    "quotient": lambda L, x: x / (x + 3),
    "pow": lambda L, x: x.pow(3),
    "sqrt": lambda L, x: (x * x + 1).sqrt(),
    "log": lambda L, x: (x * x + 1).log(),
    "mean": lambda L, x: (x * x).mean(-1) ** 2,
    "conv2d": lambda L, x: L.nn.functional.conv2d(x, L.tensor(_W, dtype=x.dtype)) ** 2,
    "matmul": lambda L, x: (x @ L.tensor(_M, dtype=x.dtype)) ** 2,
    "gelu": lambda L, x: L.nn.functional.gelu(x) * x,
    "softplus": lambda L, x: L.nn.functional.softplus(x) * x,
    "silu": lambda L, x: L.nn.functional.silu(x) * x,
    "log_softmax": lambda L, x: L.log_softmax(x * x, -1),
    "cross_entropy": lambda L, x: L.nn.functional.cross_entropy(
        (x * x).reshape(-1, 5), L.zeros(30, dtype=L.long)),
    "max_pool2d": lambda L, x: L.nn.functional.max_pool2d(x * x, 2),
    "layer_norm": lambda L, x: L.nn.functional.layer_norm(x * x, (5,)).sin(),
    "batch_norm": lambda L, x: L.nn.functional.batch_norm(x * x, None, None,
                                                           training=True).sin(),
}
# largest difference from torch, over the largest magnitude, seen on these cases: float16
# 0.004, bfloat16 0.04 (its 8-bit mantissa, through a few roundings of the second pass)
TOLERANCE = {"float16": 0.01, "bfloat16": 0.06}


def _grads(lib, name, dtype):
    x = lib.tensor(_X, dtype=getattr(lib, dtype), requires_grad=True)
    g, = lib.autograd.grad(CASES[name](lib, x).sum(), x, create_graph=True)
    h, = lib.autograd.grad((g * g).sum(), x)
    return g, h


def _numpy(t):
    return t.detach().float().numpy() if isinstance(t, torch.Tensor) else \
        np.asarray(t.detach().float())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivative_of_a_16_bit_graph(name, dtype):
    mine, ref = _grads(minigrad, name, dtype), _grads(torch, name, dtype)
    assert mine[0].requires_grad and mine[0].grad_fn is not None
    for m, r in zip(mine, ref):
        assert str(m.dtype).split(".")[-1] == str(r.dtype).split(".")[-1]
        m, r = _numpy(m), _numpy(r)
        scale = np.abs(r).max()
        assert np.abs(m - r).max() <= TOLERANCE[dtype] * scale, (name, dtype)


def test_bfloat16_cube_second_derivative_exact():
    # 3 x^2 and 6 x: exact in bfloat16 for these x, on both sides
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor([0.5, 1.25, -2.0], dtype=lib.bfloat16, requires_grad=True)
        g, = lib.autograd.grad((x * x * x).sum(), x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        out.append((g.float().tolist(), h.float().tolist()))
    assert out[0] == out[1] == ([0.75, 4.6875, 12.0], [3.0, 7.5, -12.0])


def _silent_backward(lib):
    x = lib.tensor([1000.0, 1.0], requires_grad=True)
    (x.exp() - x.exp()).sum().backward()            # inf + (-inf) in the gradient's sum
    (x.exp()).sum().backward()
    (-x.exp()).sum().backward()                      # .grad: inf, then + (-inf)
    h = lib.tensor([[1e4, -1e4, 3.0]], dtype=lib.float16, requires_grad=True)
    g, = lib.autograd.grad((lib.nn.functional.layer_norm(h, (3,)) * 60000).sum(), h)
    return x.grad.tolist(), g.float().tolist()


def test_backward_is_silent_about_ieee_specials():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mine = _silent_backward(minigrad)
    ref = _silent_backward(torch)
    np.testing.assert_equal(mine[0], ref[0])
    np.testing.assert_allclose(mine[1], ref[1], rtol=1e-3)
    assert np.geterr()["invalid"] == "warn"         # numpy's own setting is left as it was
