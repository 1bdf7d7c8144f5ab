"""autograd.gradcheck / gradgradcheck, autograd.graph (saved-tensor hooks, Node,
increment_version) and Tensor.register_post_accumulate_grad_hook, against torch."""
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import graph as mgraph

torch = pytest.importorskip("torch")
tgraph = torch.autograd.graph


def pair(*shape, seed=0, dtype="float64"):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


def wrong_backward(lib):
    class Triple(lib.autograd.Function):       # forward 2x, backward 3x: a wrong gradient
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3
    return Triple.apply


# ----------------------------------------------------------------------------------------------
# gradcheck / gradgradcheck
# ----------------------------------------------------------------------------------------------
def test_gradcheck_passes_on_correct_gradients():
    (x, tx), (y, ty) = pair(2, 3), pair(3, seed=1)

    def f(lib):
        return lambda a, b: ((a * b).sin(), (a.exp() @ b.unsqueeze(-1)).squeeze(-1))
    assert mg.autograd.gradcheck(f(mg), (x, y)) is torch.autograd.gradcheck(f(torch), (tx, ty))
    assert mg.autograd.gradgradcheck(f(mg), (x, y)) is \
        torch.autograd.gradgradcheck(f(torch), (tx, ty))
    # a single tensor for inputs, an input that does not require grad
    assert mg.autograd.gradcheck(lambda a, b: a * b, (x, y.detach()))
    assert mg.autograd.gradcheck(lambda a: a.tanh(), x)


def test_gradcheck_mismatch_message_matches_torch():
    x, tx = pair(3)
    with pytest.raises(RuntimeError) as ours:
        mg.autograd.gradcheck(wrong_backward(mg), (x,))
    with pytest.raises(RuntimeError) as theirs:
        torch.autograd.gradcheck(wrong_backward(torch), (tx,))
    assert type(ours.value).__name__ == type(theirs.value).__name__ == "GradcheckError"
    assert str(ours.value) == str(theirs.value).replace("torch.float64", "minigrad.float64")
    assert mg.autograd.gradcheck(wrong_backward(mg), (x,), raise_exception=False) is False
    # second derivative wrong, first right: only gradgradcheck notices
    ok = mg.autograd.gradcheck(lambda a: wrong_backward(mg)(a) * 0 + a * a, (x,))
    assert ok
    with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect to "
                                           "input 0"):
        mg.autograd.gradgradcheck(lambda a: wrong_backward(mg)(a) * a, (x,))
    with pytest.raises(RuntimeError):
        torch.autograd.gradgradcheck(lambda a: wrong_backward(torch)(a) * a, (tx,))


def test_gradcheck_errors_and_warnings_match_torch():
    a = np.ones(3)
    with pytest.raises(ValueError) as ours:
        mg.autograd.gradcheck(lambda t: t * 2, (mg.tensor(a),))
    with pytest.raises(ValueError) as theirs:
        torch.autograd.gradcheck(lambda t: t * 2, (torch.tensor(a),))
    assert str(ours.value) == str(theirs.value)
    x, tx = pair(3, dtype="float32")
    with warnings.catch_warnings(record=True) as w1:
        warnings.simplefilter("always")
        mg.autograd.gradcheck(lambda t: t * 2, (x,), eps=1e-3, atol=1e-2, raise_exception=False)
    with warnings.catch_warnings(record=True) as w2:
        warnings.simplefilter("always")
        torch.autograd.gradcheck(lambda t: t * 2, (tx,), eps=1e-3, atol=1e-2,
                                 raise_exception=False)
    ours = [str(m.message) for m in w1 if issubclass(m.category, UserWarning)]
    theirs = [str(m.message) for m in w2 if "double precision" in str(m.message)]
    assert ours == theirs and len(ours) == 1


def test_gradcheck_module_path_and_caller_inputs_untouched():
    from minigrad.autograd.gradcheck import GradcheckError, gradcheck
    assert gradcheck is mg.autograd.gradcheck
    assert issubclass(GradcheckError, RuntimeError)
    assert issubclass(mg.testing.gradcheck.__globals__["GradcheckError"], GradcheckError)
    x, _ = pair(4)
    before = x.detach().numpy().copy()
    gradcheck(lambda a: a.sin(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None


# ----------------------------------------------------------------------------------------------
# saved_tensors_hooks and friends
# ----------------------------------------------------------------------------------------------
def model(lib, x, w):
    return ((x * w).sin() * x).exp().sum() + (x @ w).tanh()


def test_saved_tensors_hooks_roundtrip_first_and_second_order():
    (x, tx), (w, tw) = pair(4), pair(4, seed=1)
    counts = {"pack": 0, "unpack": 0}

    def pack(t):
        counts["pack"] += 1
        return ("stored", t.detach().clone())      # a copy: nothing shared with the graph

    def unpack(box):
        counts["unpack"] += 1
        return box[1]
    with mgraph.saved_tensors_hooks(pack, unpack):
        y = model(mg, x, w)
    with tgraph.saved_tensors_hooks(pack, unpack):
        ty = model(torch, tx, tw)
    assert counts["pack"] > 0 and counts["unpack"] == 0
    g = mg.autograd.grad(y, (x, w), create_graph=True)
    tg = torch.autograd.grad(ty, (tx, tw), create_graph=True)
    assert counts["unpack"] > 0
    for a, b in zip(g, tg):
        close(a, b)
    h = mg.autograd.grad(g[0].sum() + g[1].pow(2).sum(), (x, w))
    th = torch.autograd.grad(tg[0].sum() + tg[1].pow(2).sum(), (tx, tw))
    for a, b in zip(h, th):
        close(a, b)


def test_saved_tensors_hooks_nesting_ctx_functions_and_errors():
    x, tx = pair(3)
    seen = []
    with mgraph.saved_tensors_hooks(lambda t: seen.append("outer") or t, lambda t: t):
        with mgraph.saved_tensors_hooks(lambda t: seen.append("inner") or t, lambda t: t):
            y = x.exp().sum()
        z = x.sin().sum()
    assert "inner" in seen and seen[-1] == "outer"
    close(mg.autograd.grad(y + z, x)[0], torch.autograd.grad(tx.exp().sum() + tx.sin().sum(),
                                                              tx)[0])

    class Cube(mg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        def backward(ctx, g):
            a, = ctx.saved_tensors
            return g * 3 * a * a
    with mgraph.saved_tensors_hooks(lambda t: t.detach().clone(), lambda t: t):
        y = Cube.apply(x).sum()
    g, = mg.autograd.grad(y, x, create_graph=True)
    close(g, 3 * tx * tx)
    close(mg.autograd.grad(g.sum(), x)[0], 6 * tx)

    for lib, graph in ((mg, mgraph), (torch, tgraph)):
        a = lib.tensor(np.ones(3), requires_grad=True)
        with graph.saved_tensors_hooks(lambda t: t, lambda t: 3):
            b = a.exp().sum()
        with pytest.raises(TypeError, match="unpack_hook expected to be a Tensor but got "
                                            "result of type int"):
            b.backward()
        with graph.disable_saved_tensors_hooks("no hooks here"):
            with pytest.raises(RuntimeError, match="no hooks here"):
                graph.saved_tensors_hooks(lambda t: t, lambda t: t).__enter__()
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            with pytest.raises(RuntimeError, match="no hooks 2"):
                graph.disable_saved_tensors_hooks("no hooks 2").__enter__()
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            pass                                    # usable again afterwards


def test_save_on_cpu_node_and_increment_version():
    (x, tx), (w, tw) = pair(3), pair(3, seed=2)
    with mgraph.save_on_cpu():
        y = model(mg, x, w)
    with tgraph.save_on_cpu():
        ty = model(torch, tx, tw)
    y.backward()
    ty.backward()
    close(x.grad, tx.grad)
    close(w.grad, tw.grad)

    y, ty = (x * w).sin(), (tx * tw).sin()
    for node, tnode in ((y.grad_fn, ty.grad_fn), (y.grad_fn.next_functions[0][0],
                                                  ty.grad_fn.next_functions[0][0])):
        assert isinstance(node, mgraph.Node) and isinstance(tnode, tgraph.Node)
        assert node.name() == tnode.name()
    assert isinstance(y.grad_fn.next_functions[0][0].next_functions[0][0], mgraph.Node)
    assert not isinstance(x, mgraph.Node)

    for lib, graph in ((mg, mgraph), (torch, tgraph)):
        a = lib.tensor(np.ones(3), requires_grad=True) * 2
        b = a.sin()
        version = (lambda t: t._version) if lib is torch else (lambda t: t._version)
        v = version(a)
        graph.increment_version(a)
        assert version(a) == v + 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()


def test_post_accumulate_grad_hook_matches_torch():
    results = []
    for lib in (mg, torch):
        w = lib.tensor(np.arange(3.0), requires_grad=True)
        seen = []
        handle = w.register_post_accumulate_grad_hook(
            lambda t: seen.append(t.grad.detach().numpy().copy()))
        (w * w).sum().backward()
        (w * 3).sum().backward()
        lib.autograd.grad((w * 5).sum(), w)        # accumulates nothing: no call
        handle.remove()
        (w * 7).sum().backward()
        results.append((seen, w.grad.detach().numpy()))
        with pytest.raises(RuntimeError) as e1:
            (w * 2).register_post_accumulate_grad_hook(lambda t: None)
        with pytest.raises(RuntimeError) as e2:
            lib.ones(2).register_post_accumulate_grad_hook(lambda t: None)
        results.append((str(e1.value), str(e2.value)))
    (ours, ours_grad), ours_err, (theirs, theirs_grad), theirs_err = results
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(ours_grad, theirs_grad)
    assert ours_err == theirs_err


def test_hook_free_path_unchanged():
    """Without hooks, nodes keep the plain packed form (no pack/unpack calls)."""
    x, _ = pair(3)
    y = x.exp()
    assert y.grad_fn._packed is True
    with mgraph.saved_tensors_hooks(lambda t: t, lambda t: t):
        z = x.exp()
    assert z.grad_fn._packed == "hooked"


def test_node_class_names_are_torchs():
    """``type(y.grad_fn).__name__`` is PyTorch's node name (graph drawers such as torchviz
    label nodes by it), for built-in ops and for a PyTorch-style Function; the node is still
    an instance of its op's class."""
    def twice(lib):
        class Twice(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return a * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2
        return Twice

    Twice, TorchTwice = twice(mg), twice(torch)
    (x, tx) = pair(2, 3)
    ours = [x * 2, x.exp(), x.sum(), x[0], x.relu(), x.sigmoid(), Twice.apply(x)]
    theirs = [tx * 2, tx.exp(), tx.sum(), tx[0], tx.relu(), tx.sigmoid(),
              TorchTwice.apply(tx)]
    for y, ty in zip(ours, theirs):
        assert type(y.grad_fn).__name__ == y.grad_fn.name() == type(ty.grad_fn).__name__
    assert isinstance(ours[-1].grad_fn, Twice)
    ours[-1].sum().backward()
    theirs[-1].sum().backward()
    close(x.grad, tx.grad)


def test_transpose_and_product_node_names_are_torchs():
    """t(), .T, permute, mm, mv, dot and bmm record the nodes PyTorch records (a product's by
    the dims of its operands); their gradients stay right."""
    def make(lib):
        g = lambda *s: lib.tensor(np.arange(1.0, 1 + np.prod(s)).reshape(s) / 7,   # noqa: E731
                                  requires_grad=True)
        m, v, b = g(3, 3), g(3), g(2, 3, 3)
        outs = [m.t(), m.T, m.permute(1, 0), m.transpose(0, 1), m.mT, m @ m, lib.mm(m, m),
                lib.matmul(m, m), m @ v, lib.mv(m, v), v @ v, lib.dot(v, v), lib.bmm(b, b)]
        return (m, v, b), outs

    (ms, ours), (ts, theirs) = make(mg), make(torch)
    for y, ty in zip(ours, theirs):
        assert type(y.grad_fn).__name__ == type(ty.grad_fn).__name__
    sum(o.sum() for o in ours).backward()
    sum(o.sum() for o in theirs).backward()
    for a, b in zip(ms, ts):
        close(a.grad, b.grad)
