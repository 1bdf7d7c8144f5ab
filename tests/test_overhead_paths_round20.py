"""The common op path's fast cases (one or two plain numpy inputs, no hooks, no anomaly mode)
behave as PyTorch's ops: values, dtypes, gradients, hooks, anomaly mode, version counters,
views, no_grad / inference_mode. Each case runs the same code on minigrad and on torch."""
import numpy as np
import pytest
import torch

import minigrad

RNG = np.random.default_rng(20)


def _pair(shape, dtype=np.float32):
    x = RNG.standard_normal(shape).astype(dtype)
    return x


def _run_both(fn, arrays, requires):
    """fn(lib, *tensors) on both libraries; the outputs and the inputs' gradients."""
    out = {}
    for lib in (minigrad, torch):
        ts = [lib.tensor(a.copy(), requires_grad=r) for a, r in zip(arrays, requires)]
        y = fn(lib, *ts)
        grads = None
        if y.requires_grad:
            y.sum().backward()
            grads = [None if t.grad is None else np.asarray(t.grad.detach().numpy())
                     for t in ts]
        out[lib.__name__] = (y.detach().numpy(), str(y.dtype).split(".")[-1],
                             y.requires_grad, grads)
    return out["minigrad"], out["torch"]


def _assert_same(m, t, tol=1e-6):
    np.testing.assert_allclose(m[0], t[0], rtol=tol, atol=tol)
    assert m[1] == t[1]
    assert m[2] == t[2]
    if t[3] is None:
        assert m[3] is None
    else:
        for gm, gt in zip(m[3], t[3]):
            assert (gm is None) == (gt is None)
            if gt is not None:
                np.testing.assert_allclose(gm, gt, rtol=tol, atol=tol)


BINARY = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "matmul": lambda lib, a, b: a @ b,
    "broadcast_mul": lambda lib, a, b: a * b[:1],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("requires", [(False, False), (True, False), (False, True),
                                      (True, True)])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_match_torch(name, requires, dtype):
    a, b = _pair((6, 6), dtype), _pair((6, 6), dtype) + 3
    m, t = _run_both(BINARY[name], [a, b], requires)
    _assert_same(m, t, 1e-5 if dtype == np.float32 else 1e-10)


UNARY = {
    "relu": lambda lib, a: a.relu(),
    "exp": lambda lib, a: a.exp(),
    "sum": lambda lib, a: a.sum(),
    "view": lambda lib, a: a.view(36),
    "index": lambda lib, a: a[1],
    "t": lambda lib, a: a.t(),
    "tanh_scalar": lambda lib, a: (a * 1.5 + 0.25).tanh(),
}


@pytest.mark.parametrize("requires", [False, True])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_and_view_ops_match_torch(name, requires):
    m, t = _run_both(lambda lib, a: UNARY[name](lib, a), [_pair((6, 6))], [requires])
    _assert_same(m, t, 1e-6)


def test_same_tensor_twice_and_chain_of_fifty_ops():
    x = _pair((5, 5), np.float64)

    def chain(lib, a):
        y = a * a
        for i in range(50):
            y = (y * 0.9).tanh() if i % 2 else (y + 0.1).relu() * a
        return y
    m, t = _run_both(chain, [x], [True])
    _assert_same(m, t, 1e-10)


def test_broadcast_error_matches_torch():
    for lib in (minigrad, torch):
        a, b = lib.ones(3, 4, requires_grad=True), lib.ones(5, 4)
        with pytest.raises(RuntimeError, match="must match the size of tensor b"):
            a * b


@pytest.mark.parametrize("changed", ["a", "b"])
def test_saved_only_when_needed_and_version_checked(changed):
    # a * b with only b requiring grad: a is saved (d(ab)/db = a), b is not
    outcomes = []
    for lib in (minigrad, torch):
        a = lib.tensor([1.0, 2.0, 3.0])
        b = lib.tensor([4.0, 5.0, 6.0], requires_grad=True)
        y = a * b
        with lib.no_grad():
            (a if changed == "a" else b).add_(1)
        try:
            y.sum().backward()
            outcomes.append(("ok", b.grad.tolist()))
        except RuntimeError as e:
            assert "modified by an inplace operation" in str(e)
            outcomes.append(("error", None))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == ("error" if changed == "a" else "ok")


def test_div_keeps_divisor_for_both_gradients():
    outcomes = []
    for lib in (minigrad, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([4.0, 5.0])
        y = a / b
        with lib.no_grad():
            b.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        outcomes.append(True)
    assert outcomes == [True, True]


def test_hooks_still_fire():
    logs = {}
    for lib in (minigrad, torch):
        log = []
        a = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        b = lib.tensor([2.0, 2.0, 2.0])
        y = a * b
        y.register_hook(lambda g: log.append(("tensor", g.tolist())))
        y.grad_fn.register_hook(lambda gi, go: log.append(("post", len(gi))))
        y.grad_fn.register_prehook(lambda go: log.append(("pre", go[0].tolist())))
        z = y.relu()
        z.register_hook(lambda g: g * 3)
        z.sum().backward()
        log.append(("grad", a.grad.tolist()))
        logs[lib.__name__] = log
    assert logs["minigrad"] == logs["torch"]


def test_anomaly_mode_names_the_node():
    messages = []
    for lib in (minigrad, torch):
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with lib.autograd.detect_anomaly(), pytest.warns(UserWarning):
            y = x.sqrt() * lib.tensor([0.0, 1.0])
            with pytest.raises(RuntimeError) as info:
                y.sum().backward()
        messages.append(str(info.value).split(" returned")[0])
    assert messages[0] == messages[1] == "Function 'SqrtBackward0'"


@pytest.mark.parametrize("make", ["view", "t", "index"])
def test_views_share_memory_and_version(make):
    seen = []
    for lib in (minigrad, torch):
        a = lib.arange(12.0).reshape(3, 4).requires_grad_(True)
        base = a * 1
        v = {"view": lambda: base.view(12), "t": lambda: base.t(),
             "index": lambda: base[1]}[make]()
        before = (base._version, v._version)
        with lib.no_grad():
            v.mul_(2)
        seen.append((before, base._version, v._version, v._base is base,
                     base.detach().numpy().tolist()))
    assert seen[0] == seen[1]


def test_saved_view_modified_in_place_is_caught():
    for lib in (minigrad, torch):
        a = lib.arange(4.0, requires_grad=True)
        h = a * 1
        v = h.view(2, 2)
        y = v.exp()         # saves its output
        with lib.no_grad():
            y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_no_grad_and_inference_mode_respected(mode):
    seen = []
    for lib in (minigrad, torch):
        a = lib.ones(3, 3, requires_grad=True)
        with getattr(lib, mode)():
            outs = [a * 2, a + a, a @ a, a.relu(), a.exp()]
            views = [a.view(9), a[0], a.t()]
        # (a view's requires_grad is left out: PyTorch reports a no_grad view of a leaf that
        # requires grad as requiring grad too, which minigrad does not follow yet)
        seen.append([(o.requires_grad, o.grad_fn is None, o.is_inference()) for o in outs] +
                    [(o.grad_fn is None, o.is_inference(), o._base is a) for o in views])
    assert seen[0] == seen[1]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_sixteen_bit_inputs(dtype):
    results = []
    for lib in (minigrad, torch):
        a = lib.tensor([1.1, 2.3, -3.7], dtype=getattr(lib, dtype), requires_grad=True)
        b = lib.tensor([0.3, 0.7, 1.9], dtype=getattr(lib, dtype))
        y = (a * b + a).exp()
        y.sum().backward()
        results.append((y.float().tolist(), str(y.dtype).split(".")[-1],
                        a.grad.float().tolist(), str(a.grad.dtype).split(".")[-1]))
    assert results[0][1] == results[1][1] and results[0][3] == results[1][3]
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-2)
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-2)


def test_errors_quiet_inside_forward_and_restored_after():
    # inf * 0 gives nan silently (numpy would warn), and the caller's numpy setting is back
    before = np.geterr()
    m = (minigrad.tensor([np.inf]) * minigrad.tensor([0.0])).tolist()
    t = (torch.tensor([np.inf]) * torch.tensor([0.0])).tolist()
    assert np.isnan(m[0]) and np.isnan(t[0])
    assert np.geterr() == before
    with np.errstate(all="raise"):
        minigrad.tensor([1.0]) / minigrad.tensor([0.0])
        assert np.geterr()["divide"] == "raise"
