"""Round 39 leftovers beside torch: when a multi-grad hook fires (inside the hook of the last
tensor the pass reaches, before that gradient goes on) and which gradients it sees; 16-bit
softmax along another dim than the last, logsumexp and prod rounded as torch's CPU kernels
round (torch run by one thread: several threads split softmax's positions into ranges of
their own); in-place writes under vmap into tensors the function closes over."""
import functools

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _error(lib, fn):
    with pytest.raises(Exception) as info:
        fn(lib)
    return type(info.value).__name__, str(info.value).replace("torch.", "minigrad.")


def _grads(grads):
    return [None if g is None else g.tolist() for g in grads]


# ---- register_multi_grad_hook ---------------------------------------------------------------

def _leaf_timing(lib):
    """The hook runs inside the last leaf's hook: that leaf's .grad is still None."""
    log = []
    a = lib.tensor([1., 2.], dtype=lib.float64, requires_grad=True)
    b = lib.tensor([3., 4.], dtype=lib.float64, requires_grad=True)
    c = lib.tensor([5., 6.], dtype=lib.float64, requires_grad=True)
    lib.autograd.graph.register_multi_grad_hook(
        (a, b, c), lambda g: log.append((_grads(g), a.grad is None, b.grad is None)))
    ((a * 2).sum() + (b * 3).sum()).backward()
    (a * 5).sum().backward()
    return log


def _nonleaf_order(lib):
    """Among other hooks: the multi-grad hook's own tensor hooks run in registration order."""
    log = []
    x = lib.tensor([1., 2.], dtype=lib.float64, requires_grad=True)
    y, z = x * 2, x * 3
    lib.autograd.graph.register_multi_grad_hook(
        (y, z), lambda g: log.append(("all", _grads(g), x.grad is None)))
    y.register_hook(lambda g: log.append(("y", g.tolist())))
    x.register_hook(lambda g: log.append(("x", g.tolist())))
    (y.sum() + z.sum() * 0).backward(retain_graph=True)
    y.sum().backward()
    return log


def _partial_passes(lib):
    """backward(inputs=...) and autograd.grad: only the tensors the pass runs are awaited."""
    log = []
    a = lib.tensor([1., 2.], dtype=lib.float64, requires_grad=True)
    b = lib.tensor([3., 4.], dtype=lib.float64, requires_grad=True)
    c, d = a * b, a * b
    lib.autograd.graph.register_multi_grad_hook(
        (a, b, c, d), lambda g: log.append([t is not None for t in g]))
    c.sum().backward(retain_graph=True)
    c.sum().backward(inputs=(a,), retain_graph=True)
    (c.sum() + d.sum()).backward(inputs=(c,), retain_graph=True)
    lib.autograd.grad(c.sum() + d.sum(), (c, d), retain_graph=True)
    return log


def _multi_output(lib):
    log = []
    x = lib.tensor([1., 2., 3.], dtype=lib.float64, requires_grad=True)
    p, q = x.split([1, 2])
    p2, q2 = p * 2, q * 3
    lib.autograd.graph.register_multi_grad_hook((p, q), lambda g: log.append(("pq", _grads(g))))
    lib.autograd.graph.register_multi_grad_hook((p2, q2),
                                                lambda g: log.append(("p2q2", _grads(g))))
    q.register_hook(lambda g: log.append(("q", g.tolist())))
    (p2.sum() + q2.sum()).backward(retain_graph=True)
    q2.sum().backward()
    return log


def _parameters(lib):
    lin = lib.nn.Linear(3, 2).double()
    params = list(lin.parameters())
    log = []
    lib.autograd.graph.register_multi_grad_hook(
        params, lambda g: log.append([p.grad is None for p in params]))
    lin(lib.ones(4, 3, dtype=lib.float64)).sum().backward()
    return log


def _several_passes(lib):
    log = []
    a = lib.tensor([1., 2.], dtype=lib.float64, requires_grad=True)
    b = lib.tensor([3., 4.], dtype=lib.float64, requires_grad=True)
    handle = lib.autograd.graph.register_multi_grad_hook((a, b), lambda g: log.append(_grads(g)))
    a.sum().backward()
    b.sum().backward()
    (a.sum() * 0 + b.sum()).backward()
    lib.autograd.backward([a.sum(), b.sum()])
    handle.remove()
    (a.sum() + b.sum()).backward()
    return log


def _any_mode(lib):
    log = []
    x = lib.tensor([1., 2.], dtype=lib.float64, requires_grad=True)
    y, z = x * 2, x * 3
    plain = lib.ones(2, dtype=lib.float64)          # left out in mode "any"
    lib.autograd.graph.register_multi_grad_hook((y, z, plain), lambda g: log.append(g.tolist()),
                                                mode="any")
    x.register_hook(lambda g: log.append(("x", g.tolist())))
    (y.sum() + z.sum()).backward()
    return log


@pytest.mark.parametrize("case", [_leaf_timing, _nonleaf_order, _partial_passes, _multi_output,
                                  _parameters, _several_passes, _any_mode])
def test_multi_grad_hook_timing_and_grads(case):
    assert case(minigrad) == case(torch)


def test_multi_grad_hook_leaf_in_autograd_grad_refused():
    def run(lib):
        a = lib.tensor([1., 2.], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([3., 4.], dtype=lib.float64, requires_grad=True)
        lib.autograd.graph.register_multi_grad_hook((a, b), lambda g: None)
        lib.autograd.grad((a * 2).sum() + (b * 3).sum(), (b,))
    assert _error(minigrad, run) == _error(torch, run)


def test_multi_grad_hook_all_mode_needs_grad():
    def run(lib):
        a = lib.tensor([1., 2.], requires_grad=True)
        lib.autograd.graph.register_multi_grad_hook((a, lib.ones(2)), lambda g: None)
    assert _error(minigrad, run) == _error(torch, run)


# ---- 16-bit softmax, logsumexp, prod --------------------------------------------------------

@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _bits(t):
    return t.float().numpy() if hasattr(t, "numpy") and not isinstance(t, minigrad.Tensor) \
        else np.asarray(t.float().tolist(), dtype=np.float32)


def _same_bits(fn, data, dtype_name, few=0.0):
    """minigrad's 16-bit result equals torch's bit for bit; with ``few``, that share of the
    elements may be one unit in the last place apart (exp's own last bit differs now and
    then between numpy's and torch's)."""
    got = _bits(fn(minigrad, getattr(minigrad.tensor(data), dtype_name)()))
    want = torch.from_numpy(data)
    want = fn(torch, getattr(want, dtype_name)()).float().numpy()
    if not few:
        np.testing.assert_array_equal(got, want)
        return
    half = getattr(torch, dtype_name)
    steps = (torch.from_numpy(got).to(half).view(torch.int16).int() -
             torch.from_numpy(want).to(half).view(torch.int16).int()).abs()
    assert int(steps.max()) <= 1 and int((steps > 0).sum()) <= few * got.size


_SHAPES = [((7, 33, 5), 0), ((7, 33, 5), 1), ((7, 165), 0), ((9, 3, 100), 1), ((5, 130), 0),
           ((2, 7, 3), 1), ((7, 40), 0), ((3, 40, 70), 1), ((64, 7), 0)]


@pytest.mark.parametrize("dtype_name", ["half", "bfloat16"])
@pytest.mark.parametrize("shape, dim", _SHAPES)
def test_half_softmax_other_dim_bits(one_thread, shape, dim, dtype_name):
    data = np.random.default_rng(sum(shape) + dim).standard_normal(shape).astype(np.float32) * 3
    _same_bits(lambda lib, t: t.softmax(dim), data, dtype_name, few=0.001)


@pytest.mark.parametrize("dtype_name", ["half", "bfloat16"])
@pytest.mark.parametrize("shape, dim", [((7, 33, 5), 1), ((2, 7, 3), 1), ((7, 20), 0),
                                        ((9, 3, 10), 1)])
def test_half_softmax_short_inner_bits(one_thread, shape, dim, dtype_name):
    # fewer than 32 positions after dim: every exp rounded to 16 bits before the division
    data = np.random.default_rng(len(shape) + dim).standard_normal(shape).astype(np.float32)
    _same_bits(lambda lib, t: t.softmax(dim), data * 2, dtype_name)


@pytest.mark.parametrize("dtype_name", ["half", "bfloat16"])
@pytest.mark.parametrize("shape, dim", _SHAPES + [((4, 100), 1), ((3, 5, 7), (0, 2)),
                                                   ((2000,), 0)])
def test_half_logsumexp_bits(shape, dim, dtype_name):
    data = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32) * 4
    _same_bits(lambda lib, t: lib.logsumexp(t, dim), data, dtype_name)


@pytest.mark.parametrize("dtype_name", ["half", "bfloat16"])
def test_half_logsumexp_infinities(dtype_name):
    data = np.array([[-np.inf] * 3, [1., 2., np.inf], [1., -np.inf, 3.]], dtype=np.float32)
    _same_bits(lambda lib, t: lib.logsumexp(t, 1, keepdim=True), data, dtype_name)


@pytest.mark.parametrize("dtype_name", ["half", "bfloat16"])
@pytest.mark.parametrize("shape, dim", [((7, 33, 5), 0), ((7, 33, 5), 1), ((7, 33, 5), 2),
                                        ((4, 100), 1), ((3, 700), 1), ((2000,), None),
                                        ((5, 130), 0), ((3, 40, 70), 2), ((3, 64), 1),
                                        ((20, 50), None), ((2, 3, 64), -1)])
def test_half_prod_bits(shape, dim, dtype_name):
    data = np.random.default_rng(7).uniform(0.9, 1.1, shape).astype(np.float32)
    _same_bits(lambda lib, t: t.prod() if dim is None else t.prod(dim), data, dtype_name)


@pytest.mark.parametrize("dtype_name", ["half", "bfloat16"])
def test_half_prod_transposed_and_keepdim(dtype_name):
    data = np.random.default_rng(3).uniform(0.8, 1.25, (70, 90)).astype(np.float32)
    _same_bits(lambda lib, t: t.t().prod(1, keepdim=True), data, dtype_name)
    _same_bits(lambda lib, t: t.prod(1, keepdim=True), data, dtype_name)


@pytest.mark.parametrize("dtype_name", ["half", "bfloat16"])
def test_half_prod_overflow_on_the_way(dtype_name):
    data = np.array([[300., 300., 300., 1e-6] * 20], dtype=np.float32)
    _same_bits(lambda lib, t: t.prod(1), data, dtype_name)


def test_half_prod_and_logsumexp_gradients_dtype():
    for lib in (minigrad, torch):
        x = lib.tensor([[1.5, 0.5, 2.0], [1.0, 3.0, 0.25]]).bfloat16().requires_grad_()
        (x.prod(1).sum() + lib.logsumexp(x, 0).sum()).backward()
        assert x.grad.dtype == lib.bfloat16
    got = minigrad.tensor([[1.5, 0.5, 2.0], [1.0, 3.0, 0.25]], dtype=minigrad.float64)
    got.requires_grad_()
    want = torch.tensor([[1.5, 0.5, 2.0], [1.0, 3.0, 0.25]], dtype=torch.float64,
                        requires_grad=True)
    for lib, x in ((minigrad, got), (torch, want)):
        (x.prod(1).sum() + lib.logsumexp(x, 0).sum()).backward()
    np.testing.assert_allclose(np.array(got.grad.tolist()), want.grad.numpy(), rtol=1e-12)


# ---- vmap: in-place writes into tensors the function closes over ----------------------------

_OPS = {
    "sub_": lambda y, x: y.sub_(x),
    "mul_": lambda y, x: y.mul_(x),
    "copy_": lambda y, x: y.copy_(x),
    "setitem": lambda y, x: y.__setitem__(0, x[0]),
}


@pytest.mark.parametrize("name", sorted(_OPS))
def test_vmap_batched_write_into_closed_over_tensor_refused(name):
    def run(lib):
        op = _OPS[name]
        y = lib.zeros(3) + 1
        xs = lib.arange(12.).reshape(4, 3)
        try:
            lib.func.vmap(lambda x: op(y, x))(xs)
        finally:
            assert y.tolist() == [1.0, 1.0, 1.0]       # nothing written
    assert _error(minigrad, run) == _error(torch, run)


def test_vmap_unbatched_write_into_closed_over_tensor_lands_once():
    def run(lib):
        y = lib.zeros(3)
        xs = lib.arange(12.).reshape(4, 3)
        out = lib.func.vmap(lambda x: y.add_(1) * x)(xs)
        return out.tolist(), y.tolist()
    assert run(minigrad) == run(torch)


def test_vmap_closed_over_through_partial_and_reads():
    def run(lib):
        y = lib.zeros(3)
        w = lib.ones(3) * 2

        def body(acc, scale, x):
            acc.add_(1)
            return x * scale
        xs = lib.arange(6.).reshape(2, 3)
        out = lib.vmap(functools.partial(body, y, w))(xs)
        return out.tolist(), y.tolist(), w.tolist()
    assert run(minigrad) == run(torch)


# ---- sort / argsort / topk: ties in torch's order -------------------------------------------

def _tie_rows(seed, shape, values):
    rng = np.random.default_rng(seed)
    return rng.integers(0, values, shape)


@pytest.mark.parametrize("n", [16, 17, 20, 40, 100, 257, 1000])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_ties_torch_order(n, descending):
    for values, dtype in ((2, np.int64), (3, np.float32), (10, np.float64), (4, np.int32)):
        a = _tie_rows(n + values, (3, n), values).astype(dtype)
        if dtype == np.float32:
            a[1, ::5] = np.nan
        got = minigrad.tensor(a).sort(descending=descending)
        want = torch.tensor(a).sort(descending=descending)
        assert got.indices.tolist() == want.indices.tolist()
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        assert minigrad.tensor(a).argsort(descending=descending).tolist() == \
            torch.tensor(a).argsort(descending=descending).tolist()
        assert minigrad.tensor(a).t().sort(0, descending=descending).indices.tolist() == \
            torch.tensor(a).t().sort(0, descending=descending).indices.tolist()


def test_sort_stable_keeps_index_order():
    a = _tie_rows(1, (2, 50), 3)
    got = minigrad.tensor(a).sort(stable=True, descending=True).indices.tolist()
    assert got == torch.tensor(a).sort(stable=True, descending=True).indices.tolist()


@pytest.mark.parametrize("n", [4, 5, 10, 17, 40, 100, 700, 3000])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("sorted_", [True, False])
def test_topk_ties_torch_order(n, largest, sorted_):
    for values in (2, 5):
        a = _tie_rows(n * values, (3, n), values).astype(np.float32)
        a[1, ::3] = np.nan
        for k in sorted({1, 2, min(n, 5), n // 2, n, max(1, n // 64), max(1, n // 70)}):
            got = minigrad.tensor(a).topk(k, largest=largest, sorted=sorted_)
            want = torch.tensor(a).topk(k, largest=largest, sorted=sorted_)
            assert got.indices.tolist() == want.indices.tolist(), k
            np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())


def test_topk_ties_int_and_other_dim():
    a = _tie_rows(9, (200, 3), 6)
    for k in (1, 3, 60):
        got = minigrad.tensor(a).topk(k, 0)
        want = torch.tensor(a).topk(k, 0)
        assert got.indices.tolist() == want.indices.tolist()


def test_msort_and_kthvalue_with_ties():
    a = _tie_rows(4, (40, 3), 3).astype(np.float64)
    np.testing.assert_array_equal(minigrad.msort(minigrad.tensor(a)).numpy(),
                                  torch.msort(torch.tensor(a)).numpy())
    for k in (1, 7, 20, 40):
        assert minigrad.tensor(a).kthvalue(k, 0).indices.tolist() == \
            torch.tensor(a).kthvalue(k, 0).indices.tolist()


# ---- a custom Function with both a vmap staticmethod and generate_vmap_rule ----------------

def test_vmap_custom_function_with_rule_and_generated_rule_refused():
    def run(lib):
        class Twice(lib.autograd.Function):
            generate_vmap_rule = True

            @staticmethod
            def forward(x):
                return x * 2

            @staticmethod
            def setup_context(ctx, inputs, output):
                pass

            @staticmethod
            def backward(ctx, g):
                return g * 2

            @staticmethod
            def vmap(info, in_dims, x):
                return x * 2, in_dims[0]
        lib.func.vmap(Twice.apply)(lib.ones(2, 3))
    assert _error(minigrad, run) == _error(torch, run)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("shape, dim, keepdim", [((1,), 0, False), ((70,), 0, False),
                                                 ((70,), -1, True), ((3, 70), 1, False)])
def test_16bit_prod_of_a_row_keeps_torch_shape(dtype, shape, dim, keepdim):
    a = np.linspace(0.9, 1.1, int(np.prod(shape))).reshape(shape)
    got = minigrad.tensor(a).to(getattr(minigrad, dtype)).prod(dim, keepdim)
    want = torch.tensor(a).to(getattr(torch, dtype)).prod(dim, keepdim)
    assert tuple(got.shape) == tuple(want.shape)
    assert got.float().tolist() == want.float().tolist()
