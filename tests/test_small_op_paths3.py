"""The short paths of small ops, third round, beside torch: the gradients of linear and of a
product of two matrices computed on the arrays when nothing is recorded (and the recorded
path taken otherwise: create_graph, other dtypes, other shapes, a profiler), plain SGD's
update without the general one, and the optimizer's scan of a group for tensor values."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _close(t, m, tol):
    t = t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
    m = m.detach().numpy() if hasattr(m, "detach") else np.asarray(m)
    assert t.dtype == m.dtype and t.shape == m.shape
    np.testing.assert_allclose(m, t, rtol=tol, atol=tol, equal_nan=True)


def _tol(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


def _pair(lib, arrays, grads):
    return [lib.tensor(a, requires_grad=r) for a, r in zip(arrays, grads)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape", [(4, 8), (2, 3, 8), (0, 8), (8,)])
@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True), (True, False, False),
                                   (False, False, True), (True, True, None)])
def test_linear_gradients(dtype, x_shape, needs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((5, 8)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    g = rng.standard_normal(x_shape[:-1] + (5,)).astype(dtype)
    arrays, flags = (x, w, b), needs
    if needs[2] is None:
        arrays, flags = (x, w), needs[:2]
    if not any(flags):
        return
    out = []
    for lib in (torch, minigrad):
        ts = _pair(lib, arrays, flags)
        y = lib.nn.functional.linear(*ts)
        wanted = [t for t in ts if t.requires_grad]
        grads = lib.autograd.grad(y, wanted, lib.tensor(g))
        out.append((y, grads))
    (ty, tg), (my, mg) = out
    _close(ty, my, _tol(dtype))
    for a, c in zip(tg, mg):
        _close(a, c, _tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_transposed_input_and_gradient(dtype):
    """A transposed (not row-major) input and gradient: the same numbers as torch."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 6)).astype(dtype)
    w = rng.standard_normal((3, 8)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    g = rng.standard_normal((3, 6)).astype(dtype)
    res = []
    for lib in (torch, minigrad):
        xt, wt, bt = _pair(lib, (x, w, b), (True, True, True))
        y = lib.nn.functional.linear(xt.t(), wt, bt)
        y.backward(lib.tensor(g).t())
        res.append((y, xt.grad, wt.grad, bt.grad))
    for a, c in zip(*res):
        _close(a, c, _tol(dtype))
    assert res[1][3].is_contiguous()


def test_mlp_step_matches_torch():
    """Three layers, relu, cross entropy and plain SGD steps: the parameters after 3 steps."""
    rng = np.random.default_rng(2)
    shapes = [(16, 12), (16,), (8, 16), (8,), (4, 8), (4,)]
    params = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in shapes]
    x = rng.standard_normal((6, 12)).astype(np.float32)
    y = rng.integers(0, 4, 6)
    res = []
    for lib in (torch, minigrad):
        ps = [lib.tensor(p, requires_grad=True) for p in params]
        opt = lib.optim.SGD(ps, lr=0.1)
        xt, yt = lib.tensor(x), lib.tensor(y)
        F = lib.nn.functional
        for _ in range(3):
            opt.zero_grad()
            h = F.relu(F.linear(xt, ps[0], ps[1]))
            h = F.relu(F.linear(h, ps[2], ps[3]))
            loss = F.cross_entropy(F.linear(h, ps[4], ps[5]), yt)
            loss.backward()
            opt.step()
        res.append(ps + [loss])
    for a, c in zip(*res):
        _close(a, c, 1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)),
                                    ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((4,), (4,))])
@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True)])
def test_matmul_gradients(dtype, shapes, needs):
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shapes[0]).astype(dtype)
    b = rng.standard_normal(shapes[1]).astype(dtype)
    res = []
    for lib in (torch, minigrad):
        at, bt = _pair(lib, (a, b), needs)
        y = at @ bt
        g = np.linspace(-1, 1, max(y.numel(), 1)).reshape(tuple(y.shape)).astype(dtype)
        wanted = [t for t in (at, bt) if t.requires_grad]
        res.append((y, *lib.autograd.grad(y, wanted, lib.tensor(g))))
    for x, z in zip(*res):
        _close(x, z, _tol(dtype))


@pytest.mark.parametrize("op", ["linear", "matmul"])
def test_second_order_through_recorded_path(op):
    """create_graph: the gradients are recorded ops, so they differentiate again."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((5, 4) if op == "linear" else (4, 5))
    b = rng.standard_normal(5)
    res = []
    for lib in (torch, minigrad):
        xt, wt, bt = _pair(lib, (x, w, b), (True, True, True))
        y = lib.nn.functional.linear(xt, wt, bt) if op == "linear" else xt @ wt + bt
        gx, gw = lib.autograd.grad((y ** 2).sum(), (xt, wt), create_graph=True)
        assert gx.requires_grad and gw.requires_grad
        hx, hw, hb = lib.autograd.grad((gx ** 3).sum() + (gw * gw).sum(), (xt, wt, bt))
        res.append((gx, gw, hx, hw, hb))
    for a, c in zip(*res):
        _close(a, c, 1e-10)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "complex64"])
def test_other_dtypes_take_the_recorded_path(dtype):
    """Half floats (multiplied in float32 inside the op) and complex factors (conjugated)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((5, 4))
    if dtype == "complex64":
        x = x + 1j * rng.standard_normal((3, 4))
        w = w - 1j * rng.standard_normal((5, 4))
    res = []
    for lib in (torch, minigrad):
        d = getattr(lib, dtype)
        xt = lib.tensor(x).to(d).requires_grad_(True)
        wt = lib.tensor(w).to(d).requires_grad_(True)
        y = lib.nn.functional.linear(xt, wt)
        z = xt @ wt.t()
        g = lib.ones_like(y)
        res.append((y, *lib.autograd.grad(y, (xt, wt), g),
                    *lib.autograd.grad(z, (xt, wt), g)))
    tol = 1e-5 if dtype == "complex64" else 2e-2
    for a, c in zip(*res):
        _close(a.to(torch.float32) if a.dtype == torch.bfloat16 else a,
               c.float() if c.dtype == minigrad.bfloat16 else c, tol)


def test_hooks_saved_tensor_hooks_and_anomaly():
    """Tensor hooks change the gradient the backward reads; saved tensors come back through
    the saved-tensor hooks; anomaly mode sees the same numbers."""
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    res = []
    for lib in (torch, minigrad):
        xt, wt, bt = _pair(lib, (x, w, b), (True, True, True))
        packed = []

        def pack(t):
            packed.append(1)
            return t * 2

        def unpack(t):
            return t / 2 + 1
        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            y = lib.nn.functional.linear(xt, wt, bt)
            z = xt @ wt.t()
        y.register_hook(lambda g: g * 3)
        with lib.autograd.detect_anomaly():
            (y.sum() + z.sum()).backward()
        res.append((xt.grad, wt.grad, bt.grad, len(packed)))
    for a, c in zip(res[0][:3], res[1][:3]):
        _close(a, c, 1e-10)
    assert res[0][3] == res[1][3]


def test_inplace_change_of_saved_input_is_refused():
    for lib in (torch, minigrad):
        xt = lib.ones(3, 4, requires_grad=True)
        w = lib.ones(5, 4, requires_grad=True)
        h = xt * 1
        y = lib.nn.functional.linear(h, w)
        h.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_inf_and_nan_gradients_silent():
    """inf * 0 in the products of the backward: NaN as torch, and no numpy warning."""
    x = np.array([[np.inf, 0.0], [1.0, 2.0]], dtype=np.float32)
    w = np.array([[0.0, 1.0], [np.inf, -1.0]], dtype=np.float32)
    g = np.array([[0.0, np.inf], [1.0, np.nan]], dtype=np.float32)
    res = []
    for lib in (torch, minigrad):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            xt, wt, bt = _pair(lib, (x, w, np.full(2, 3e38, np.float32)), (True, True, True))
            y = lib.nn.functional.linear(xt, wt, bt)
            y.backward(lib.tensor(g))
            g2 = np.full((2, 2), 3e38, np.float32)
            bt.grad = None
            lib.nn.functional.linear(xt, wt, bt).backward(lib.tensor(g2))   # bias sum: inf
            res.append((xt.grad, wt.grad, bt.grad))
    for a, c in zip(*res):
        _close(a, c, 1e-5)


def test_profiler_still_sees_the_backward_products():
    """Under the profiler the backward runs its ops, which the profiler times: the products
    of the gradients appear among its events, as torch's mm does."""
    x = minigrad.ones(3, 4, requires_grad=True)
    w = minigrad.ones(5, 4, requires_grad=True)
    y = minigrad.nn.functional.linear(x, w)
    with minigrad.profiler.profile() as prof:
        y.sum().backward()
    names = [e.name for e in prof.events()]
    tx = torch.ones(3, 4, requires_grad=True)
    tw = torch.ones(5, 4, requires_grad=True)
    ty = torch.nn.functional.linear(tx, tw)
    with torch.profiler.profile() as tprof:
        ty.sum().backward()
    tnames = [e.name for e in tprof.events()]
    assert tnames.count("aten::mm") == 2
    # (minigrad names its products aten::matmul, torch's backward aten::mm)
    assert names.count("aten::mm") + names.count("aten::matmul") == tnames.count("aten::mm")
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("opts", [dict(), dict(momentum=0.9), dict(weight_decay=0.1),
                                  dict(maximize=True), dict(momentum=0.5, nesterov=True),
                                  dict(momentum=0.9, dampening=0.3)])
@pytest.mark.parametrize("lr_tensor", [False, True])
def test_sgd_steps(opts, lr_tensor):
    rng = np.random.default_rng(7)
    p0 = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3)]
    res = []
    for lib in (torch, minigrad):
        p = lib.tensor(p0, requires_grad=True)
        lr = lib.tensor(0.05) if lr_tensor else 0.05
        opt = lib.optim.SGD([p], lr=lr, **opts)
        for g in grads:
            p.grad = lib.tensor(g)
            opt.step()
        opt.param_groups[0]["momentum"] = 0.0    # momentum turned off: the buffer is unused
        opt.param_groups[0]["nesterov"] = False
        p.grad = lib.tensor(grads[0])
        opt.step()
        res.append((p, opt.state_dict()["state"].get(0, {}).get("momentum_buffer")))
    _close(res[0][0], res[1][0], 1e-6)
    if res[0][1] is None:
        assert res[1][1] is None
    else:
        _close(res[0][1], res[1][1], 1e-6)


def test_sgd_complex_parameter():
    rng = np.random.default_rng(8)
    p0 = (rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype(np.complex64)
    g0 = (rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype(np.complex64)
    res = []
    for lib in (torch, minigrad):
        p = lib.tensor(p0, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        p.grad = lib.tensor(g0)
        opt.step()
        res.append(p)
    _close(*res, 1e-6)
