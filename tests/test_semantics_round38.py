"""Round 38 semantics, each case run side by side in minigrad and torch:

* in-place writes into a view whose elements share memory without a zero stride
  (``as_strided((3, 3), (1, 1))``): every visit of an address updates it again, in the order
  PyTorch's kernels visit the elements (the last visit's value stays), with and without a
  graph to record; the gradient through such a write, as PyTorch's CopySlices gives it;
* complex ``reciprocal`` at 0, at subnormal values, at infinities (PyTorch's inf / NaN
  pattern of its complex division);
* ``soft_margin_loss`` of complex inputs (computed; refused for autograd);
* the factories' words for ``full`` calls they refuse;
* ``retain_grad()`` of a base written through its view (``.grad`` of the new value);
* autograd corners that agree (kept as guards): backward twice, saved tensors changed in
  place, detach_/requires_grad_ refusals, inference_mode views, autograd.grad's options.
"""
import math

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import neutral, outcome, same_outcome  # noqa: E402

LIBS = (minigrad, torch)


def _bits(values):
    """Values as strings: NaN, signed zeros and infinities compare exactly."""
    return [repr(complex(v)) if isinstance(v, complex) else repr(float(v)) for v in values]


# ----------------------------------------------------------------------------------------------
# in-place writes into views whose elements share memory
# ----------------------------------------------------------------------------------------------
OVERLAP_WRITES = [
    "b.add_(1)", "b.mul_(2)", "b.sub_(1)", "b.neg_()", "b.pow_(2)", "b.div_(2)", "b.sqrt_()",
    "b.add_(L.ones(3, 3))", "b.mul_(b)", "b.add_(b)", "b.clamp_(0, 3)", "b.fill_(5)",
    "b.zero_()", "b.copy_(L.arange(9.).reshape(3, 3))", "b.copy_(b.t())",
    "b.copy_(L.arange(9.).reshape(3, 3).t())", "b.copy_(L.arange(3.))",
    "b.copy_(L.arange(3.).reshape(3, 1))", "b.addcmul_(L.ones(3, 3), L.ones(3, 3))",
    "b.lerp_(L.zeros(3, 3), 0.5)", "b.clamp_(min=L.arange(9.).reshape(3, 3))",
    "b.abs_()", "b.relu_()", "b.masked_fill_(L.ones(3, 3, dtype=L.bool), 1)",
    "b.index_fill_(0, L.tensor([0]), 7)", "b.mul_(0).add_(L.arange(9.).reshape(3, 3))",
    "b.sub_(L.arange(9.).reshape(3, 3).t())", "b.exp_().log_()", "b[0] = 7",
    "b[1:] = L.arange(6.).reshape(2, 3)", "b[:, 1].add_(1)", "b.t().add_(1)",
    "b.put_(L.tensor([0, 1]), L.tensor([7., 8.]))", "b += 1", "b *= 2", "b.floor_divide_(2)",
    "b.remainder_(3)", "b.sigmoid_()", "b.add_(1, alpha=2)", "b.square_()", "b.hardtanh_(0, 2)",
    "b.sign_()", "b.lt_(3)", "b.eq_(b)", "b.clamp_max_(3)", "b.nan_to_num_()",
    "b.copy_(L.ones(3, 3, dtype=L.int64) * L.arange(3))", "b.float_power_(2)",
    "b.clamp_min_(L.full((3, 3), 3.))", "b.masked_scatter_(L.ones(3, 3, dtype=L.bool), "
    "L.arange(9.))", "L.nn.functional.leaky_relu_(b.neg_())",
]


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float16", "bfloat16",
                                   "complex64"])
@pytest.mark.parametrize("write", ["b.add_(1)", "b.mul_(2)", "b.neg_()", "b.logical_not_()",
                                   "b.copy_(L.arange(9).reshape(3, 3))"])
def test_overlapping_view_writes_in_other_dtypes(dtype, write):
    def run(L):
        a = L.arange(1, 6)
        a = (a % 2 == 0) if dtype == "bool" else a.to(getattr(L, dtype))
        exec(write, {"L": L, "b": a.as_strided((3, 3), (1, 1))})
        return a.tolist()
    mine, theirs = same_outcome(run)
    assert str(mine[1]) == str(theirs[1])


@pytest.mark.parametrize("write", OVERLAP_WRITES)
def test_overlapping_view_is_written_visit_by_visit(write):
    def run(L):
        a = L.arange(1., 6.)
        b = a.as_strided((3, 3), (1, 1))
        exec(write, {"L": L, "b": b})
        return a.tolist()
    mine, theirs = same_outcome(run)
    if mine[0] == "ok":
        np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-5)


def _random_case(seed):
    rng = np.random.default_rng(seed)
    ndim = int(rng.integers(1, 4))
    size = tuple(int(v) for v in rng.integers(1, 5, ndim))
    stride = tuple(int(s) if n > 1 else int(rng.integers(0, 4))
                   for s, n in zip(rng.integers(1, 4, ndim), size))
    perm = [int(p) for p in rng.permutation(ndim)]
    source = rng.integers(-9, 9, size=size).astype(float)
    op = ["copy", "add", "sub", "mul2", "mulself", "clamp", "lerp", "addcmul"][seed % 8]
    return size, stride, perm, source, op


@pytest.mark.parametrize("seed", range(48))
def test_overlapping_writes_random_layouts(seed):
    """Random as_strided layouts, and sources laid out in random orders (their strides
    break ties in the order of visits)."""
    size, stride, perm, source, op = _random_case(seed)
    count = sum((n - 1) * s for n, s in zip(size, stride)) + 1

    def run(L):
        a = L.tensor(np.arange(1., count + 1))
        b = a.as_strided(size, stride)
        laid = np.ascontiguousarray(source.transpose(perm))
        s = L.tensor(laid).permute(*[int(i) for i in np.argsort(perm)])
        {"copy": lambda: b.copy_(s), "add": lambda: b.add_(s), "sub": lambda: b.sub_(s, alpha=2),
         "mul2": lambda: b.mul_(2), "mulself": lambda: b.mul_(b),
         "clamp": lambda: b.clamp_(min=s), "lerp": lambda: b.lerp_(s, 0.5),
         "addcmul": lambda: b.addcmul_(s, s)}[op]()
        return a.tolist()
    assert run(minigrad) == run(torch)


def test_overlapping_write_bumps_the_version_once():
    for_each = []
    for L in LIBS:
        a = L.arange(5.)
        b = a.as_strided((3, 3), (1, 1))
        before = b._version
        b.add_(1)
        for_each.append(b._version - before)
    assert for_each[0] == for_each[1]


@pytest.mark.parametrize("size", [(3, 3), (2, 3), (3, 2), (2, 2, 2)])
@pytest.mark.parametrize("write", ["b.add_(1)", "b.mul_(2)", "b.neg_()", "b.mul_(w)",
                                   "b.copy_(w)", "b.exp_()", "b.mul_(w.mT.contiguous().mT)"])
def test_overlapping_write_with_a_graph(write, size):
    """Recorded: the values are the kernel's (accumulated), and the gradient of the base
    is PyTorch's CopySlices': the op's gradient copied back at the view's positions, in the
    order of its copy (for (2, 3), the shorter dim inner)."""
    def run(L):
        x = L.arange(1., 8., dtype=L.float64).div(4).requires_grad_()
        w = L.arange(float(np.prod(size)), dtype=L.float64).reshape(size)
        a = x.clone()
        b = a.as_strided(size, (1,) * len(size))
        exec(write, {"L": L, "b": b, "w": w})
        (a * L.arange(1., 8., dtype=L.float64)).sum().backward()
        return a.tolist(), x.grad.tolist()
    mine, theirs = run(minigrad), run(torch)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-12)


def test_expanded_writes_still_refused():
    same_outcome(lambda L: L.zeros(3, 1).expand(3, 3).add_(1))
    same_outcome(lambda L: L.zeros(3).as_strided((3, 3), (0, 1)).mul_(2))


def test_plain_views_keep_their_values():
    """Layouts whose elements do not share memory are untouched by the slower path."""
    def run(L):
        a = L.arange(24.).reshape(4, 6)
        a[::2, 1:5].add_(1)
        a.t()[1:3].mul_(3)
        a.as_strided((2, 3), (7, 2)).sub_(L.ones(3))
        a.as_strided((3, 2), (1, 6), 2).copy_(L.arange(6.).reshape(2, 3).t())
        return a.tolist()
    assert run(minigrad) == run(torch)


# ----------------------------------------------------------------------------------------------
# complex reciprocal at its edges
# ----------------------------------------------------------------------------------------------
RECIPROCAL_VALUES = [
    0j, complex(0., -0.), complex(-0., 0.), complex(1e-310, 0), complex(0, 1e-310),
    complex(1e-310, 1e-310), complex(math.inf, 0), complex(0, math.inf), complex(-math.inf, 1),
    complex(1e308, 1e308), complex(1e200, 1e200), complex(1e-200, 1e-200), complex(math.nan, 0),
    complex(3, 4), complex(-2, 1e-320), complex(1e-320, -2), complex(math.inf, math.inf),
    complex(math.inf, math.nan), complex(0, math.nan), complex(1e38, 1e38), complex(1e-40, 0),
    complex(0, -1e-40), complex(1e-45, 1e-45),
]


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("form", ["z.reciprocal()", "L.reciprocal(z[::2])",
                                  "z.clone().reciprocal_()"])
def test_complex_reciprocal_edges(dtype, form):
    def run(L):
        z = L.tensor(RECIPROCAL_VALUES, dtype=getattr(L, dtype))
        return _bits(eval(form, {"L": L, "z": z}).tolist())
    assert run(minigrad) == run(torch)


def test_complex_reciprocal_gradient():
    def run(L):
        z = L.tensor([1 + 2j, -3 + 0.5j], dtype=L.complex128, requires_grad=True)
        z.reciprocal().abs().sum().backward()
        return z.grad.tolist()
    np.testing.assert_allclose(run(minigrad), run(torch), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# soft_margin_loss of complex inputs
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target", ["L.tensor([1., -1., 1.], dtype=L.float64)",
                                    "L.tensor([1, -1, 1])",
                                    "L.tensor([1 + 0j, -1 + 0j, 1j], dtype=L.complex128)"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_soft_margin_loss_complex(reduction, target, dtype):
    def run(L):
        x = L.tensor([1 + 1j, 2j, -0.5 + 0.25j], dtype=getattr(L, dtype))
        out = L.nn.functional.soft_margin_loss(x, eval(target, {"L": L}), reduction=reduction)
        return str(out.dtype).replace("minigrad", "torch"), out.reshape(-1).tolist()
    mine, theirs = run(minigrad), run(torch)
    assert mine[0] == theirs[0]
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-5 if dtype == "complex64" else 1e-12)


@pytest.mark.parametrize("call", [
    "F.soft_margin_loss(L.tensor([1 + 1j, 2j], requires_grad=True), L.tensor([1., -1.]))",
    "F.soft_margin_loss(L.tensor([1.]), L.tensor([1 + 2j]))",
    "F.soft_margin_loss(L.tensor([True]), L.tensor([1.]))",
    "F.soft_margin_loss(L.tensor([1]), L.tensor([1.]))",
])
def test_soft_margin_loss_refusals(call):
    same_outcome(lambda L: eval(call, {"L": L, "F": L.nn.functional}))


def test_soft_margin_loss_complex_overflow():
    def run(L):
        x = L.tensor([100 + 1j], dtype=L.complex64)
        return _bits(L.nn.functional.soft_margin_loss(x, L.tensor([-1.]),
                                                      reduction="none").tolist())
    assert run(minigrad) == run(torch)


# ----------------------------------------------------------------------------------------------
# full: the words for calls it refuses
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    "L.full(2, 1)", "L.full(fill_value=None)", "L.full((2,), None)", "L.full((2,))",
    "L.full((2,), 'a')", "L.full(2.0, 1)", "L.full((2,), fill_value=1, size=3)",
    "L.full((2,), [1])", "L.full((2,), L.tensor([3.]))", "L.full(None, 1)",
    "L.full((2,), 1, foo=1)", "L.zeros(2, fill_value=1)", "L.full_like(L.ones(2), None)",
    "L.full_like(L.ones(2))", "L.empty(2, 'a')", "L.full((2,), 1+1j, dtype=L.float32)",
    "L.full((2,), 2**70)", "L.full((-1,), 1)", "L.full([2], 1.5, dtype=L.int64).tolist()",
    "L.full((2,), L.tensor(3.)).tolist()", "L.ones((2,), 3)",
])
def test_full_refusals(call):
    same_outcome(lambda L: eval(call, {"L": L}))


@pytest.mark.parametrize("write", [
    "x.unfold(0, 3, 1).add_(1)", "x.unfold(0, 3, 2).mul_(2)",
    "x.unfold(0, 3, 1).copy_(L.arange(18.).reshape(6, 3))", "x.unfold(0, 3, 1)[1:3].add_(1)",
    "x.unfold(0, 3, 1).t().add_(1)", "x.as_strided((4, 4), (2, 1)).sub_(1)",
    "x.as_strided((2, 3, 4), (3, 2, 1)).add_(1)", "x.unfold(0, 4, 1).unfold(0, 2, 1).add_(1)",
    "x.as_strided((3, 3), (1, 1), 2).zero_()", "x.unfold(0, 3, 1).fill_(L.tensor(2.))",
    "x.unfold(0, 3, 1)[:, 0] = 5", "x.unfold(0, 3, 1)[...] = L.arange(3.)",
    "x.unfold(0, 3, 1)[L.tensor([0, 1])] = 1.",
    "x.unfold(0, 3, 1).masked_fill_(L.tensor([True, False, True]), 4.)",
    "x.unfold(0, 3, 1).masked_fill_(L.tensor([[True, False, True]] * 6), L.tensor(4.))",
    "x.unfold(0, 3, 1).index_put_((L.tensor([0, 1]),), L.ones(3))",
])
def test_overlapping_windows_written_in_place(write):
    def run(L):
        x = L.arange(8.)
        exec(write, {"L": L, "x": x})
        return x.tolist()
    mine, theirs = same_outcome(run)
    assert mine == theirs


# ----------------------------------------------------------------------------------------------
# retain_grad() of a base written through its view
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("write", ["v.mul_(3)", "v.mul_(3); v.add_(1)", "v[0] = 5.",
                                   "v.copy_(L.tensor([4., 5.], dtype=L.float64))",
                                   "v.exp_()"])
def test_retained_grad_of_a_base_follows_a_write_through_its_view(write):
    """PyTorch's ``.grad`` of the base is the gradient of its new value (after the
    write), not of the value the view's write replaced."""
    def run(L):
        x = L.arange(1., 5., dtype=L.float64).requires_grad_()
        y = x * 2
        y.retain_grad()
        v = y[1:3]
        exec(write, {"L": L, "v": v})
        (y * L.arange(1., 5., dtype=L.float64)).sum().backward()
        return y.grad.tolist(), x.grad.tolist()
    mine, theirs = run(minigrad), run(torch)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# autograd corners that agree (kept from this round's probes)
# ----------------------------------------------------------------------------------------------
AUTOGRAD_CORNERS = [
    "x = L.ones(2, requires_grad=True); y = (x * x).sum(); y.backward(); y.backward()",
    "x = L.ones(2, requires_grad=True); y = x * 2; z = y * y; y.add_(1); z.sum().backward()",
    "x = L.ones(2, requires_grad=True); y = x.sigmoid(); y.mul_(2); y.sum().backward(); "
    "r = x.grad",
    "x = L.ones(2, requires_grad=True); y = x * 2; y.retain_grad(); z = y * 3; y.add_(1); "
    "(z.sum() + y.sum()).backward(); r = (y.grad, x.grad)",
    "x = L.ones(2, requires_grad=True); y = (x * 1)[0:1]; y.detach_()",
    "x = L.ones(2, requires_grad=True); y = x * 2; y.requires_grad_(False)",
    "x = L.ones(3, requires_grad=True); x.data = L.ones(2, dtype=L.int64); "
    "r = (x.dtype, x.requires_grad)",
    "x = L.ones(3, requires_grad=True); x.set_(L.zeros(2))",
    "x = L.ones(2, requires_grad=True)\nwith L.inference_mode():\n  y = x * 2\nz = y * x",
    "x = L.ones(2, requires_grad=True)\nwith L.inference_mode():\n  y = x * 2\ny.add_(1)",
    "y = L.ones(2)\nwith L.inference_mode():\n  v = y.view(2)\nv.add_(1)",
    "x = L.ones(2, requires_grad=True); z = L.ones(2, requires_grad=True); "
    "r = L.autograd.grad((x * 2).sum(), [x, z])",
    "x = L.ones(2, requires_grad=True); z = L.ones(2, requires_grad=True); "
    "r = L.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True)",
    "x = L.ones(2, requires_grad=True); r = L.autograd.grad(x * 2, x, L.eye(2), "
    "is_grads_batched=True)",
    "x = L.ones(2, requires_grad=True); y = (x * x).sum(); L.autograd.grad(y, x); "
    "L.autograd.grad(y, x)",
    "x = L.ones(2, requires_grad=True); y = x * 2; y.backward(L.ones(2, dtype=L.int64)); "
    "r = x.grad",
    "x = L.ones(4, requires_grad=True); y = x * 2; v = y[1:3]; v.retain_grad(); v.mul_(3); "
    "y.sum().backward(); r = (v.grad, x.grad)",
    "x = L.ones(4, requires_grad=True); y = x * 1; s = y[1:].pow(2); y.add_(1); "
    "s.sum().backward()",
    "x = L.ones(4, requires_grad=True) * 1; y = x.split(2)[0]; y.mul_(2)",
    "x = L.ones(2, 3, requires_grad=True); x.t_(); r = x.shape",
    "x = L.ones(2, 3, requires_grad=True); x.resize_(6)",
]


@pytest.mark.parametrize("code", AUTOGRAD_CORNERS)
def test_autograd_corners(code):
    def run(L):
        scope = {"L": L}
        exec(code, scope)
        return str(scope.get("r")).replace("minigrad", "torch")
    mine, theirs = (outcome(run, L, quiet=True, text=neutral) for L in LIBS)
    assert mine[0] == theirs[0], (mine, theirs)
    # minigrad may add a parenthesis of its own after PyTorch's words
    assert mine[1] == theirs[1] or mine[1].startswith(theirs[1] + " ("), (mine, theirs)
