"""Round 40 leftovers beside torch: a custom Function's own ``jvp`` in forward mode (dual
levels and torch.func.jvp) and its own ``vmap`` rule under vmap; linear's saved input after
an in-place write into a non-contiguous input; sparse embedding gradients through a
non-leaf weight; matrix_norm's refusal of an int dim; renorm's row-major result; the
blocked copy behind ``x.copy_(y.t())``."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _values(t):
    return None if t is None else np.asarray(t.detach().tolist())


def _error(lib, fn):
    with pytest.raises(Exception) as info:
        fn(lib)
    return type(info.value).__name__, str(info.value).replace("torch.", "minigrad.")


# ---- custom Function: its own jvp ------------------------------------------------------------

def _jvp_classes(lib):
    # Square's jvp (10 t x) is not the derivative of its backward; Pair's mixes two
    # tangents; OldStyle saves for forward inside forward(ctx, ...)
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(x, k):
            return x * x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_forward(inputs[0])
            ctx.save_for_backward(inputs[0])
            ctx.k = inputs[1]

        @staticmethod
        def jvp(ctx, t, _):
            x, = ctx.saved_tensors
            return 10 * t * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g * ctx.k, None

    class Pair(lib.autograd.Function):
        @staticmethod
        def forward(a, b):
            return a * b, a + b

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_forward(*inputs)

        @staticmethod
        def jvp(ctx, ta, tb):
            return ta * 7 + tb, ta - tb * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 + g2, g1 + g2

    class OldStyle(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_forward(x)
            return x * x

        @staticmethod
        def jvp(ctx, t):
            x, = ctx.saved_tensors
            return 100 * t + x

        @staticmethod
        def backward(ctx, g):
            return g

    return Square, Pair, OldStyle


_JVP_CASES = {
    "plain": lambda S, P, O: (lambda d: S.apply(d, 1.0)),
    "chain": lambda S, P, O: (lambda d: (S.apply(d.sin(), 2.0) * 3).exp()),
    "mixed": lambda S, P, O: (lambda d: S.apply(d, 1.0) + d * d),
    "nested": lambda S, P, O: (lambda d: S.apply(S.apply(d, 1.0), 1.0)),
    "pair": lambda S, P, O: (lambda d: P.apply(d, d * 2)),
    "pair_sum": lambda S, P, O: (lambda d: sum(P.apply(d, d.cos()))),
    "old_style": lambda S, P, O: (lambda d: O.apply(d)),
}


def _tangents(out, unpack):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [_values(unpack(o)) for o in outs]


def _dual(lib, case):
    f = _JVP_CASES[case](*_jvp_classes(lib))
    fwd = lib.autograd.forward_ad
    x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
    v = lib.tensor([1.0, 0.5, -1.0], dtype=lib.float64)
    with fwd.dual_level():
        out = f(fwd.make_dual(x, v))
        return _tangents(out, lambda o: fwd.unpack_dual(o).tangent)


def _func_jvp(lib, case):
    f = _JVP_CASES[case](*_jvp_classes(lib))
    x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
    v = lib.tensor([1.0, 0.5, -1.0], dtype=lib.float64)
    primal, tangent = lib.func.jvp(f, (x,), (v,))
    return _tangents(primal, lambda o: o) + _tangents(tangent, lambda o: o)


@pytest.mark.parametrize("case", sorted(_JVP_CASES))
def test_dual_level_calls_the_functions_jvp(case):
    for ours, theirs in zip(_dual(minigrad, case), _dual(torch, case)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("case", sorted(set(_JVP_CASES) - {"old_style"}))
def test_func_jvp_calls_the_functions_jvp(case):
    for ours, theirs in zip(_func_jvp(minigrad, case), _func_jvp(torch, case)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def _jvp_only(lib):
    """A Function with a jvp and no backward, in torch.func.jvp and in a dual level."""
    class ExpTwice(lib.autograd.Function):
        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_forward(output)

        @staticmethod
        def jvp(ctx, t):
            return ctx.saved_tensors[0] * t * 2
    x, v = lib.tensor([0.0, 1.0], dtype=lib.float64), lib.ones(2, dtype=lib.float64)
    found = [_values(t) for t in lib.func.jvp(lambda a: ExpTwice.apply(a.sin()) * 3, (x,), (v,))]
    with lib.autograd.forward_ad.dual_level():
        dual = lib.autograd.forward_ad.make_dual(x, v)
        found.append(_values(lib.autograd.forward_ad.unpack_dual(ExpTwice.apply(dual)).tangent))
    return found


def test_function_with_jvp_and_no_backward():
    for ours, theirs in zip(_jvp_only(minigrad), _jvp_only(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def _backward_inside_level(lib):
    """Reverse mode inside the level still goes through the Function's backward."""
    square = _jvp_classes(lib)[0]
    fwd = lib.autograd.forward_ad
    w = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
    with fwd.dual_level():
        y = square.apply(fwd.make_dual(w, lib.ones(3, dtype=lib.float64)), 3.0)
        tangent = fwd.unpack_dual(y).tangent
        y.sum().backward()
    return _values(w.grad), _values(tangent)


def test_backward_inside_a_dual_level():
    ours, theirs = _backward_inside_level(minigrad), _backward_inside_level(torch)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def _outer_graph(lib):
    """func.jvp's tangent keeps its graph to a tensor from outside."""
    square = _jvp_classes(lib)[0]
    x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
    w = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
    _, t = lib.func.jvp(lambda a: square.apply(a, 1.0) * w, (x,), (lib.ones_like(x),))
    t.sum().backward()
    return _values(t), _values(w.grad)


def test_func_jvp_tangent_through_the_functions_jvp_is_differentiable():
    for a, b in zip(_outer_graph(minigrad), _outer_graph(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# ---- custom Function: its own vmap rule ------------------------------------------------------

def _vmap_class(lib, log):
    class Rule(lib.autograd.Function):
        """forward x * y, x + y; the vmap rule adds +-100 (so that its use shows) and the
        backward scales by 10 (so that its use shows)."""
        @staticmethod
        def forward(x, y):
            return x * y, x + y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g1, g2):
            x, y = ctx.saved_tensors
            return g1 * y * 10 + g2, g1 * x * 10 + g2

        @staticmethod
        def vmap(info, in_dims, x, y):
            log.append(tuple(d is None for d in in_dims))
            xd, yd = in_dims
            x = x.movedim(xd, 0) if xd is not None else x.unsqueeze(0)
            y = y.movedim(yd, 0) if yd is not None else y.unsqueeze(0)
            return (x * y + 100, x + y - 100), (0, 0)
    return Rule


def _vmap_run(lib, case):
    log = []
    rule = _vmap_class(lib, log)
    xs = lib.arange(6.0, dtype=lib.float64).reshape(3, 2)
    y = lib.tensor([1.0, 2.0], dtype=lib.float64)
    if case == "unmapped":
        out = lib.vmap(rule.apply, in_dims=(0, None))(xs, y)
    elif case == "in_dim_1":
        out = lib.vmap(rule.apply, in_dims=(1, 0))(xs.t().contiguous(), xs)
    elif case == "closure":
        out = lib.vmap(lambda a: rule.apply(a, y))(xs)
    elif case == "derived":
        out = lib.vmap(lambda a: rule.apply(a.sin(), a * 2))(xs)
    elif case == "out_dims":
        out = lib.vmap(rule.apply, out_dims=1)(xs, xs)
    elif case == "grad_inside":
        out = (lib.vmap(lib.func.grad(lambda a: rule.apply(a, y)[0].sum()))(xs),)
    elif case == "grad_outside":
        out = (lib.func.grad(lambda a: lib.vmap(rule.apply, in_dims=(0, None))(
            a, y)[0].sum())(xs),)
    else:                               # a plain backward from outside the vmap
        w = xs.clone().requires_grad_()
        lib.vmap(rule.apply, in_dims=(0, None))(w, y)[0].sum().backward()
        out = (w.grad,)
    return [_values(o) for o in out], bool(log), log[-1] if log else None


@pytest.mark.parametrize("case", ["unmapped", "in_dim_1", "closure", "derived", "out_dims",
                                  "grad_inside", "grad_outside", "backward_outside"])
def test_vmap_calls_the_functions_vmap_rule(case):
    ours, theirs = _vmap_run(minigrad, case), _vmap_run(torch, case)
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert ours[1] == theirs[1]
    if case in ("unmapped", "closure", "derived"):     # which inputs count as unbatched
        assert ours[2] == theirs[2]


# ---- linear: the input saved after an in-place write -----------------------------------------

def _linear_inplace(lib, shape, perm, bias):
    w = lib.tensor(np.arange(15.0).reshape(3, 5) / 7, requires_grad=True)
    b = lib.tensor([1.0, 2, 3], dtype=lib.float64, requires_grad=True) if bias else None
    x = lib.tensor(np.arange(float(np.prod(shape))).reshape(shape) / 11).permute(*perm)
    y = lib.nn.functional.linear(x, w, b)
    x.add_(1)
    try:
        (y * y).sum().backward()
    except RuntimeError as exc:
        return "error", str(exc).split(":")[0]
    return _values(w.grad), None if b is None else _values(b.grad)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("shape, perm", [((2, 5, 4), (0, 2, 1)), ((5, 2, 4), (1, 2, 0)),
                                         ((5, 4), (1, 0)), ((2, 4, 5), (0, 1, 2))])
def test_linear_after_inplace_write_into_its_input(shape, perm, bias):
    ours = _linear_inplace(minigrad, shape, perm, bias)
    theirs = _linear_inplace(torch, shape, perm, bias)
    if isinstance(theirs[0], str):
        assert ours == theirs
        return
    assert not isinstance(ours[0], str), ours
    for a, b in zip(ours, theirs):
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12)


# ---- sparse embedding through a non-leaf weight ----------------------------------------------

_WEIGHT_OPS = {
    "mul_number": lambda lib, w: w * 2,
    "number_mul": lambda lib, w: 2 * w,
    "div_number": lambda lib, w: w / 2,
    "neg": lambda lib, w: -w,
    "mul_row": lambda lib, w: w * lib.arange(3.0, dtype=lib.float64),
    "mul_0d": lambda lib, w: w * lib.tensor(3.0, dtype=lib.float64),
    "add_number": lambda lib, w: w + 1,
    "add_self": lambda lib, w: w + w,
    "sub": lambda lib, w: w - lib.ones(3, dtype=lib.float64),
    "clone": lambda lib, w: w.clone(),
    "contiguous": lambda lib, w: w.contiguous(),
}


def _sparse_through(lib, op, how):
    """w's gradient (sparse?, values) for a loss reading ``op(w)`` by a sparse embedding:
    once, twice, or once beside a dense use of ``op(w)``."""
    w = lib.arange(15.0, dtype=lib.float64).reshape(5, 3).requires_grad_()
    idx = lib.tensor([1, 3, 1])
    weight = _WEIGHT_OPS[op](lib, w)
    out = lib.nn.functional.embedding(idx, weight, sparse=True)
    loss = (out * lib.arange(3.0, dtype=lib.float64)).sum()
    if how == "twice":
        loss = loss + lib.nn.functional.embedding(idx, weight, sparse=True).sum()
    elif how == "dense_too":
        loss = loss + weight.sum()
    loss.backward()
    g = w.grad
    return g.is_sparse, _values(g.to_dense() if g.is_sparse else g)


@pytest.mark.parametrize("op, how", [(op, "once") for op in sorted(_WEIGHT_OPS)] +
                         [("mul_number", "twice"), ("mul_number", "dense_too"),
                          ("clone", "twice")])
def test_sparse_embedding_gradient_through_a_non_leaf_weight(op, how):
    ours, theirs = _sparse_through(minigrad, op, how), _sparse_through(torch, op, how)
    assert ours[0] == theirs[0]
    np.testing.assert_array_equal(ours[1], theirs[1])


def _sparse_module(lib):
    lib.manual_seed(0)
    emb = lib.nn.Embedding(5, 3, sparse=True).double()
    with lib.no_grad():
        emb.weight.copy_(lib.arange(15.0).reshape(5, 3))
    idx = lib.tensor([1, 3, 1])
    (lib.nn.functional.embedding(idx, emb.weight * 2, sparse=True).sum() +
     emb(idx).sum()).backward()
    g = emb.weight.grad
    return g.is_sparse, _values(g.to_dense())


def test_sparse_embedding_module_weight_used_twice():
    ours, theirs = _sparse_module(minigrad), _sparse_module(torch)
    assert ours[0] == theirs[0]
    np.testing.assert_array_equal(ours[1], theirs[1])


# ---- matrix_norm's dim, renorm's layout ------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3), dim=0),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3), dim=1.5),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3), ord=None),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3), dim=(0,)),
    lambda lib: lib.norm(lib.ones(3, 3), "nuc", dim=0),
    lambda lib: lib.linalg.norm(lib.ones(3, 3), "fro", dim=0),
])
def test_matrix_norm_dim_refusals(call):
    """An int dim is no tuple for PyTorch's parser (TypeError); a 1-tuple, or an int given
    to norm / linalg.norm, reaches matrix_norm's RuntimeError."""
    assert _error(minigrad, call) == _error(torch, call)


@pytest.mark.parametrize("make", [
    lambda lib: lib.arange(12.0).reshape(3, 4).t(),
    lambda lib: lib.arange(24.0).reshape(2, 3, 4).transpose(0, 2),
    lambda lib: lib.arange(24.0).reshape(4, 6)[:, ::2],
    lambda lib: lib.arange(120.0).reshape(2, 3, 4, 5).to(memory_format=lib.channels_last),
])
def test_renorm_result_is_row_major(make):
    ours = minigrad.renorm(make(minigrad), 2, 1, 5)
    theirs = torch.renorm(make(torch), 2, 1, 5)
    assert ours.stride() == theirs.stride()
    np.testing.assert_allclose(_values(ours), _values(theirs), rtol=1e-6)


def test_renorm_gradient_of_a_transposed_input():
    def run(lib):
        x = lib.tensor(np.linspace(-2, 3, 12).reshape(4, 3), requires_grad=True)
        y = lib.renorm(x.t(), 2, 0, 1.5)
        (y * lib.arange(12.0, dtype=lib.float64).reshape(3, 4)).sum().backward()
        return _values(y), _values(x.grad)
    for a, b in zip(run(minigrad), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# ---- copy_ from another layout (the blocked copy) --------------------------------------------

@pytest.mark.parametrize("n, dtype", [(1024, np.float32), (512, np.float64), (1000, np.float32),
                                      (300, np.int64)])
def test_copy_from_a_transposed_tensor_is_exact(n, dtype):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n, n)) * 1000
    src = data.astype(dtype)
    ours = minigrad.zeros(n, n, dtype=minigrad.from_numpy(src).dtype)
    ours.copy_(minigrad.from_numpy(src).t())
    theirs = torch.zeros(n, n, dtype=torch.from_numpy(src).dtype)
    theirs.copy_(torch.from_numpy(src).t())
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours._version == theirs._version


def test_copy_into_a_strided_window_and_from_itself():
    def run(lib):
        base = lib.zeros(600, 1200)
        src = lib.arange(600 * 600, dtype=lib.float32).reshape(600, 600)
        base[:, ::2].copy_(src.t())
        square = lib.arange(512 * 512, dtype=lib.float32).reshape(512, 512)
        square.copy_(square.t().clone())
        return base.numpy().copy(), square.numpy().copy()
    for a, b in zip(run(minigrad), run(torch)):
        np.testing.assert_array_equal(a, b)


# ---- flex_attention (eager) ------------------------------------------------------------------

def _flex(lib):
    import importlib
    return importlib.import_module(lib.__name__ + ".nn.attention.flex_attention")


_DOC = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]


def _flex_mods(lib, rng_bias):
    """flex_attention's module and the mask and score functions the cases name."""
    fa = _flex(lib)
    bias, doc = lib.tensor(rng_bias), lib.tensor(_DOC)
    causal = lambda b, h, q, kv: q >= kv                                  # noqa: E731
    window = lambda b, h, q, kv: (q - kv).abs() <= 2                      # noqa: E731
    masks = {"causal": causal, "window": window,
             "first_row_none": lambda b, h, q, kv: (q > 0) & (kv < q),
             "per_head": lambda b, h, q, kv: (b == 0) | (h == 1) | (kv == 0),
             "same_doc": lambda b, h, q, kv: doc[q] == doc[kv], "noop": fa.noop_mask,
             "and": fa.and_masks(causal, window), "or": fa.or_masks(causal, window)}
    mods = {"relative": lambda s, b, h, q, kv: s + (q - kv) * 0.1,
            "head_bias": lambda s, b, h, q, kv: s * 0.5 + bias[h, kv],
            "soft_cap": lambda s, b, h, q, kv: 3 * lib.tanh(s / 3)}
    return fa, masks, mods


_FLEX_CASES = [(None, None, None), ("relative", None, None), (None, "causal", None),
               ("head_bias", "causal", (2, 2)), ("soft_cap", "window", (1, None)),
               ("relative", "and", None), (None, "or", None), ("relative", "first_row_none", None),
               (None, "per_head", (2, 2)), ("head_bias", "same_doc", None), (None, "noop", None)]


def _flex_run(lib, mod, mask, bh):
    rng = np.random.default_rng(0)
    q, k, v = (lib.tensor(rng.standard_normal((2, 2, 10, 4))) for _ in range(3))
    fa, masks, mods = _flex_mods(lib, rng.standard_normal((2, 10)))
    block = None
    if mask is not None:
        b, h = bh or (None, None)
        block = fa.create_block_mask(masks[mask], b, h, 10, 10, device="cpu", BLOCK_SIZE=4)
    out, lse = fa.flex_attention(q, k, v, score_mod=None if mod is None else mods[mod],
                                 block_mask=block, return_lse=True)
    layout = None if block is None else (
        block.kv_num_blocks.tolist(), block.full_kv_num_blocks.tolist(),
        block.to_dense().tolist(), round(block.sparsity(), 6), tuple(block.shape))
    return _values(out), _values(lse), layout


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("mod, mask, bh", _FLEX_CASES)
def test_flex_attention_values_and_block_layout(mod, mask, bh):
    ours, theirs = _flex_run(minigrad, mod, mask, bh), _flex_run(torch, mod, mask, bh)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(np.isinf(ours[1]), np.isinf(theirs[1]))
    finite = ~np.isinf(theirs[1])
    np.testing.assert_allclose(ours[1][finite], theirs[1][finite], rtol=1e-10)
    assert ours[2] == theirs[2]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kwargs", [{"scale": 0.3}, {"enable_gqa": True}])
def test_flex_attention_scale_and_grouped_heads(kwargs):
    def run(lib):
        rng = np.random.default_rng(1)
        q = lib.tensor(rng.standard_normal((2, 4, 6, 3)))
        heads = 2 if kwargs.get("enable_gqa") else 4
        k, v = (lib.tensor(rng.standard_normal((2, heads, 6, 3))) for _ in range(2))
        return _values(_flex(lib).flex_attention(q, k, v, **kwargs))
    np.testing.assert_allclose(run(minigrad), run(torch), rtol=1e-10)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("call", [
    lambda lib, q, k, v: _flex(lib).flex_attention(q, k[:, :1], v[:, :1]),
    lambda lib, q, k, v: _flex(lib).flex_attention(q[0], k, v),
    lambda lib, q, k, v: _flex(lib).flex_attention(q, lib.cat([k, k], 1), lib.cat([v, v], 1),
                                                   enable_gqa=True),
    lambda lib, q, k, v: _flex(lib).flex_attention(
        q, k, v, return_aux=_flex(lib).AuxRequest(max_scores=True)),
])
def test_flex_attention_refusals(call):
    def run(lib):
        rng = np.random.default_rng(2)
        q, k, v = (lib.tensor(rng.standard_normal((1, 2, 5, 3))) for _ in range(3))
        return call(lib, q, k, v)
    assert _error(minigrad, run) == _error(torch, run)


def _bias_mask(seed):
    rng = np.random.default_rng(seed)
    bias = rng.standard_normal((2, 6, 6))
    keep = np.tril(np.ones((6, 6), dtype=bool)) | (rng.random((6, 6)) < 0.3)
    return rng, bias, keep


def _flex_grads(seed):
    """minigrad's flex_attention gradients, for a score_mod adding a bias tensor (which
    requires grad too) and a mask."""
    rng, bias_np, keep_np = _bias_mask(seed)
    q, k, v = (minigrad.tensor(rng.standard_normal((2, 2, 6, 3)), requires_grad=True)
               for _ in range(3))
    bias = minigrad.tensor(bias_np, requires_grad=True)
    keep = minigrad.tensor(keep_np)
    fa = _flex(minigrad)
    block = fa.create_block_mask(lambda b, h, i, j: keep[i, j], None, None, 6, 6)
    out = fa.flex_attention(q, k, v, score_mod=lambda s, b, h, i, j: s + bias[h, i, j],
                            block_mask=block)
    weights = minigrad.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape))
    (out * weights).sum().backward()
    return [_values(t.grad) for t in (q, k, v, bias)]


def _sdpa_grads(seed):
    """The same gradients through torch's scaled_dot_product_attention (whose CPU kernel has
    a backward, where flex_attention's has none), the bias and mask as a float mask."""
    rng, bias_np, keep_np = _bias_mask(seed)
    q, k, v = (torch.tensor(rng.standard_normal((2, 2, 6, 3)), requires_grad=True)
               for _ in range(3))
    bias = torch.tensor(bias_np, requires_grad=True)
    mask = bias + torch.where(torch.tensor(keep_np), 0.0, -torch.inf).double()
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    weights = torch.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape))
    (out * weights).sum().backward()
    return [_values(t.grad) for t in (q, k, v, bias)]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", [0, 1])
def test_flex_attention_gradients_match_sdpa(seed):
    for ours, theirs in zip(_flex_grads(seed), _sdpa_grads(seed)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_flex_attention_fully_masked_row_gives_zeros_and_finite_gradients():
    fa = _flex(minigrad)
    rng = np.random.default_rng(3)
    q, k, v = (minigrad.tensor(rng.standard_normal((1, 1, 4, 2)), requires_grad=True)
               for _ in range(3))
    block = fa.create_block_mask(lambda b, h, i, j: (i > 0) & (j < i), None, None, 4, 4)
    out, lse = fa.flex_attention(q, k, v, block_mask=block, return_lse=True)
    out.sum().backward()
    assert _values(out)[0, 0, 0].tolist() == [0.0, 0.0]
    assert np.isneginf(_values(lse)[0, 0, 0])
    assert all(np.isfinite(_values(t.grad)).all() for t in (q, k, v))
