"""Side-by-side checks against torch for what a scan of op_db's samples (round 36) found.

* ``segment_reduce`` takes bfloat16 data, as PyTorch's CPU kernel does (it was refused), and
  rounds each segment's running sum (product) to bfloat16 after every element, as PyTorch;
* with ``initial``, a segment's running sum (product) starts at ``initial`` in data's dtype,
  so float16 results round as PyTorch's do (``initial`` used to be added at the end).
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _pair(values, dtype):
    """The same values as a torch tensor and a minigrad tensor of ``dtype`` (by name)."""
    t = torch.tensor(values, dtype=torch.float64).to(getattr(torch, dtype))
    m = minigrad.tensor(np.asarray(values, dtype=np.float64)).to(getattr(minigrad, dtype))
    return t, m


def _numpy(x):
    return x.detach().float().numpy() if "bfloat16" in str(x.dtype) else x.detach().numpy()


_DATA = [[1.25, -2.5, 3.75, 0.5, 7.0], [2.0, 4.5, -1.5, 6.25, 3.0],
         [-3.5, 1.75, 2.25, -0.75, 5.5], [0.25, 8.5, 1.5, 2.75, -4.0]]
_CASES = [("sum", None), ("mean", None), ("prod", None), ("max", None), ("min", None),
          ("sum", 2.0), ("mean", 1.0), ("prod", 3.0), ("max", 4.0), ("min", -1.0)]


@pytest.mark.parametrize("reduce, initial", _CASES)
@pytest.mark.parametrize("by", ["lengths", "offsets"])
def test_segment_reduce_bfloat16(reduce, initial, by):
    t, m = _pair(_DATA, "bfloat16")
    sizes = [[2, 0, 3], [1, 4, 0], [5, 0, 0], [0, 2, 3]]
    cut = np.array(sizes) if by == "lengths" else np.concatenate(
        [np.zeros((4, 1), np.int64), np.cumsum(sizes, 1)], 1)
    extra = {} if initial is None else {"initial": initial}
    want = torch.segment_reduce(t, reduce, axis=1, **{by: torch.tensor(cut)}, **extra)
    got = minigrad.segment_reduce(m, reduce, axis=1, **{by: minigrad.tensor(cut)}, **extra)
    assert str(got.dtype) == "minigrad.bfloat16" and want.dtype == torch.bfloat16
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(_numpy(got), _numpy(want))


@pytest.mark.parametrize("reduce", ["sum", "mean", "prod", "max", "min"])
@pytest.mark.parametrize("initial", [None, 0.3])
def test_segment_reduce_bfloat16_rounds_each_step(reduce, initial):
    """Long segments of a 3-d tensor (a trailing dim after the axis): PyTorch's bfloat16
    results, bit for bit (a float32 sum rounded once differs from them)."""
    rng = np.random.default_rng(7)
    values = rng.normal(0, 3, (3, 30, 2))
    t, m = _pair(values.tolist(), "bfloat16")
    sizes = np.array([[6, 0, 9, 15], [10, 10, 5, 5], [1, 2, 3, 24]])
    extra = {} if initial is None else {"initial": initial}
    want = torch.segment_reduce(t, reduce, axis=1, lengths=torch.tensor(sizes), **extra)
    got = minigrad.segment_reduce(m, reduce, axis=1, lengths=minigrad.tensor(sizes), **extra)
    assert str(got.dtype) == "minigrad.bfloat16" and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(_numpy(got), _numpy(want))


def test_segment_reduce_bfloat16_unsafe_and_grad():
    """unsafe=True lengths that cover only part of the axis; the gradient flows (its dtype)."""
    values = [1.5, -2.25, 3.0, 0.75, -1.0, 2.5, 4.0]
    t, m = _pair(values, "bfloat16")
    t.requires_grad_(True)
    m.requires_grad_(True)
    want = torch.segment_reduce(t, "sum", lengths=torch.tensor([2, 3]), unsafe=True)
    got = minigrad.segment_reduce(m, "sum", lengths=minigrad.tensor([2, 3]), unsafe=True)
    np.testing.assert_array_equal(_numpy(got), _numpy(want))
    want.sum().backward()
    got.sum().backward()
    assert str(m.grad.dtype) == "minigrad.bfloat16"
    np.testing.assert_array_equal(_numpy(m.grad), _numpy(t.grad))


@pytest.mark.parametrize("reduce, initial", [("sum", 2.0), ("mean", 1.0), ("prod", 2.0)])
def test_segment_reduce_float16_initial_rounding(reduce, initial):
    """float16 with initial: the running value starts at initial, as PyTorch's, so every
    step rounds alike and the results are equal bit for bit."""
    rng = np.random.default_rng(36)
    values = rng.uniform(-4, 4, (6, 10)).round(3)
    t, m = _pair(values.tolist(), "float16")
    lengths = np.array([4, 3, 3])
    want = torch.segment_reduce(t, reduce, axis=1, lengths=torch.tensor(lengths).expand(6, 3),
                                initial=initial)
    got = minigrad.segment_reduce(m, reduce, axis=1,
                                  lengths=minigrad.tensor(np.tile(lengths, (6, 1))),
                                  initial=initial)
    assert str(got.dtype) == "minigrad.float16"
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("reduce, initial", [("sum", 2.0), ("mean", -1.5), ("prod", 0.5),
                                             ("max", 1.0), ("min", 0.0)])
def test_segment_reduce_float64_initial_grad(reduce, initial):
    """float64 values and gradients with initial (empty segments included)."""
    values = np.array(_DATA)
    t = torch.tensor(values, requires_grad=True)
    m = minigrad.tensor(values, requires_grad=True)
    sizes = np.array([[2, 0, 3], [1, 4, 0], [5, 0, 0], [0, 2, 3]])
    want = torch.segment_reduce(t, reduce, axis=1, lengths=torch.tensor(sizes), initial=initial)
    got = minigrad.segment_reduce(m, reduce, axis=1, lengths=minigrad.tensor(sizes),
                                  initial=initial)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    w = np.cos(np.arange(want.numel())).reshape(tuple(want.shape))
    (want * torch.tensor(w)).sum().backward()
    (got * minigrad.tensor(w)).sum().backward()
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8"])
def test_tensordot_of_integers_keeps_their_dtype(dtype):
    """op_db's integer tensordot samples: a contracted size-1 dim broadcast against a longer
    one; PyTorch's matrix product stays in the inputs' dtype and wraps round."""
    def run(L):
        kind = getattr(L, dtype)
        a = L.full((1, 1, 1), 100, dtype=kind)
        b = L.full((2, 1, 2), 100, dtype=kind)
        return L.tensordot(a, b, ([0, 1], [2, 0]))
    got, want = run(minigrad), run(torch)
    assert str(got.dtype).split(".")[1] == str(want.dtype).split(".")[1]
    assert got.tolist() == want.tolist()


def test_rrelu_training_in_bfloat16():
    """PyTorch's kernel takes bfloat16 (not float16), its bounds and slopes in float32, each
    slope rounded once: the same values and gradient for a seed."""
    results = []
    for L in (torch, minigrad):
        L.manual_seed(3)
        x = L.tensor(np.linspace(-3, 2, 40).astype(np.float32)).bfloat16().requires_grad_()
        y = L.nn.functional.rrelu(x, training=True)
        y.sum().backward()
        results.append((str(y.dtype).split(".")[1], y.float().tolist(), x.grad.float().tolist()))
    assert results[0] == results[1]
