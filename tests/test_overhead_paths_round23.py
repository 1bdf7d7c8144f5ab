"""The boundaries of the per-op fast paths of round 23 (autograd/function.py, engine.py):
what a node saves packed directly when it is an input or the output array (else the general
packing), a result tensor made inline, the node class looked up once per op class, the
backward of minigrad's own ops called from the engine directly, and the check of what
``keep_for_backward`` kept only where something was kept. Each case runs the same code on
minigrad and on torch and compares values, gradients, node names and errors."""
import numpy as np
import pytest
import torch

import minigrad

RNG = np.random.default_rng(23)
LIBS = (minigrad, torch)


def _data(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _t(lib, a, requires_grad=False):
    return lib.tensor(a.copy(), requires_grad=requires_grad)


def _np(t):
    return None if t is None else np.asarray(t.detach().float().numpy()
                                             if t.dtype == torch.bfloat16 else
                                             t.detach().numpy())


def _grads_of(fn, arrays, requires, create_graph=False):
    """fn(lib, *tensors) on both libraries -> [(output, [grads...]), ...] (minigrad, torch)."""
    out = []
    for lib in LIBS:
        ts = [_t(lib, a, r) for a, r in zip(arrays, requires)]
        y = fn(lib, *ts)
        if y.requires_grad:
            y.sum().backward(create_graph=create_graph)
        out.append((_np(y), [_np(t.grad) for t in ts]))
    return out


def _assert_close_pairs(m, t, tol=1e-10):
    np.testing.assert_allclose(m[0], t[0], rtol=tol, atol=tol)
    for gm, gt in zip(m[1], t[1]):
        assert (gm is None) == (gt is None)
        if gt is not None:
            np.testing.assert_allclose(gm, gt, rtol=tol, atol=tol)


def _error_of(fn):
    """(type, message) of what fn() raises, or None."""
    try:
        fn()
    except Exception as e:          # noqa: BLE001 - compared between the libraries
        return type(e), str(e)
    return None


def _same_error(errors):
    """minigrad's and torch's errors: the same type and message (library names aside)."""
    m, t = errors
    assert (m is None) == (t is None), errors
    if m is not None:
        assert m[0] is t[0], errors
        assert m[1].replace("minigrad", "torch") == t[1], errors


# ----------------------------------------------------------------------------------------------
# what a node saves: input arrays and the output packed directly, anything else in general
# ----------------------------------------------------------------------------------------------
SAVERS = {
    "mul (two inputs)": lambda lib, a, b: a * b,
    "mul, same tensor": lambda lib, a, b: a * a,
    "div (input and divisor)": lambda lib, a, b: a / b,
    "exp (its output)": lambda lib, a, b: a.exp() * b,
    "tanh then mul": lambda lib, a, b: a.tanh() * b.sigmoid(),
    "three saved (addcmul)": lambda lib, a, b: lib.addcmul(a, a, b, value=0.5),
    "broadcast mul": lambda lib, a, b: a * b[:1],
    "matmul": lambda lib, a, b: a @ b,
}


@pytest.mark.parametrize("requires", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("name", sorted(SAVERS))
def test_saved_values_give_torchs_gradients(name, requires):
    a, b = _data(4, 4), _data(4, 4) + 3.0
    m, t = _grads_of(SAVERS[name], [a, b], requires)
    _assert_close_pairs(m, t)


@pytest.mark.parametrize("name", ["mul (two inputs)", "exp (its output)", "tanh then mul",
                                  "three saved (addcmul)"])
def test_second_order_through_saved_values(name):
    a, b = _data(3, 3), _data(3, 3) + 3.0
    grads = []
    for lib in LIBS:
        x, w = _t(lib, a, True), _t(lib, b, True)
        y = SAVERS[name](lib, x, w).sum()
        gx, = lib.autograd.grad(y, x, create_graph=True)
        ggx, ggw = lib.autograd.grad((gx * gx).sum(), (x, w), allow_unused=True)
        grads.append([_np(g) for g in (gx, ggx, ggw)])
    for gm, gt in zip(*grads):
        assert (gm is None) == (gt is None)
        if gt is not None:
            np.testing.assert_allclose(gm, gt, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_sixteen_bit_forward_packs_as_before(dtype):
    # a bfloat16 product runs in float32 and saves float32 copies (the general packing)
    a, b = _data(5, dtype=np.float32), _data(5, dtype=np.float32)
    res = []
    for lib in LIBS:
        dt = getattr(lib, dtype)
        x = lib.tensor(a).to(dt).requires_grad_(True)
        w = lib.tensor(b).to(dt).requires_grad_(True)
        y = (x * w).exp()
        y.sum().backward()
        res.append([np.asarray(v.detach().float().numpy()) for v in (y, x.grad, w.grad)])
    for vm, vt in zip(*res):
        np.testing.assert_allclose(vm, vt, rtol=1e-2, atol=1e-2)
    assert res[0][1].dtype == res[1][1].dtype


@pytest.mark.parametrize("changed", ["a", "b", "out"])
@pytest.mark.parametrize("op", ["mul", "exp", "same"])
def test_in_place_change_of_a_saved_value(op, changed):
    errors = []
    for lib in LIBS:
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = lib.tensor([4.0, 5.0, 6.0], requires_grad=True)
        x, w = a * 1, b * 1              # non-leaves, so that they can be changed in place
        y = x * w if op == "mul" else x.exp() if op == "exp" else x * x
        target = {"a": x, "b": w, "out": y}[changed]
        with lib.no_grad():
            target.add_(1)
        errors.append(_error_of(lambda: y.sum().backward()))
    _same_error(errors)


def test_saved_output_named_in_the_error():
    errors = []
    for lib in LIBS:
        x = lib.tensor([0.5, 1.5], requires_grad=True)
        y = x.exp()
        y.mul_(2)          # exp saved its output: changing it breaks exp's backward
        errors.append(_error_of(lambda: y.sum().backward()))
    assert errors[0] is not None and "output 0 of Exp," in errors[0][1]
    _same_error(errors)


def test_inference_tensor_refused_when_saved():
    errors = []
    for lib in LIBS:
        with lib.inference_mode():
            c = lib.tensor([1.0, 2.0])
        x = lib.tensor([3.0, 4.0], requires_grad=True)
        errors.append(_error_of(lambda: x * c))        # c is saved for x's gradient
        errors.append(_error_of(lambda: c * x))
    _same_error(errors[0::2])
    assert errors[0] is not None


def test_saved_attributes_as_torch():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        y = x * w
        assert y.grad_fn._saved_self is x and y.grad_fn._saved_other is w
        e = x.exp()
        np.testing.assert_allclose(_np(e.grad_fn._saved_result), np.exp([1.0, 2.0]))
        c = lib.tensor([5.0, 6.0])
        z = x * c       # only c is needed (x's gradient): x is not kept
        assert z.grad_fn._saved_self is None and z.grad_fn._saved_other is c


@pytest.mark.parametrize("op", ["mul", "exp", "addcmul"])
def test_saved_tensor_hooks_see_what_torch_packs(op):
    logs, grads = [], []
    for lib in LIBS:
        seen = []

        def pack(t):
            seen.append(tuple(t.shape))
            return t * 1

        def unpack(t):
            seen.append("unpack")
            return t

        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            y = x * w if op == "mul" else x.exp() if op == "exp" else \
                lib.addcmul(x, x, w, value=2.0)
        y.sum().backward()
        logs.append(sorted(map(str, seen)))
        grads.append([_np(x.grad), _np(w.grad)])
    assert logs[0] == logs[1]
    for gm, gt in zip(*grads):
        assert (gm is None) == (gt is None)
        if gt is not None:
            np.testing.assert_allclose(gm, gt)


# ----------------------------------------------------------------------------------------------
# results made inline: empty, 0-d, inference mode
# ----------------------------------------------------------------------------------------------
def test_results_made_inline_or_not_as_torch():
    for lib in LIBS:
        x = lib.ones(3, 4, requires_grad=True)
        empty = x[:0] * 2
        assert tuple(empty.shape) == (0, 4) and empty.stride() == (4, 1)
        s = (x * 2).sum()
        assert s.dim() == 0 and s.dtype == lib.float32 and s.requires_grad
        y = x * 3
        assert y._version == 0 and x._version == 0
        with lib.no_grad():
            y.add_(1)
        assert y._version == 1 and x._version == 0
        with lib.inference_mode():
            z = x * 2
        assert z.is_inference() and not z.requires_grad
        with lib.no_grad():
            u = x * 2
        assert not u.is_inference() and not u.requires_grad and u.grad_fn is None


# ----------------------------------------------------------------------------------------------
# node classes: one per op class, renamed ops their own
# ----------------------------------------------------------------------------------------------
def test_node_names_of_an_op_and_its_renamed_forms():
    names = []
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        seq = []
        for _ in range(2):      # both orders of first use: Sub, then Rsub, then Sub again...
            seq += [type((x - w).grad_fn).__name__, type((2 - x).grad_fn).__name__,
                    (x - w).grad_fn.name(), (2 - x).grad_fn.name(),
                    type(x.sum().grad_fn).__name__, type(x.sum(0).grad_fn).__name__,
                    type(x.reshape(2, 1).sum(1).grad_fn).__name__]
        names.append(seq)
    assert names[0] == names[1]


class _Twice(minigrad.autograd.Function):
    """A minigrad-style Function (arrays in forward) and a subclass of it."""

    def forward(self, a):
        self.save_for_backward(a)
        return 2 * a * a

    def backward(self, g):
        a, = self.saved_tensors
        return g * 4 * a


class _Thrice(_Twice):
    def forward(self, a):
        self.save_for_backward(a)
        return 3 * a * a

    def backward(self, g):
        a, = self.saved_tensors
        return g * 6 * a


def test_subclass_of_a_function_gets_its_own_node_class():
    a = _data(4)
    for first, second in ((_Twice, _Thrice), (_Thrice, _Twice)):
        for cls in (first, second):
            x = minigrad.tensor(a, requires_grad=True)
            y = cls.apply(x)
            assert type(y.grad_fn).__name__ == f"{cls.__name__}Backward0"
            assert isinstance(y.grad_fn, cls)
            y.sum().backward()
            k = 2.0 if cls is _Twice else 3.0
            xt = torch.tensor(a, requires_grad=True)
            (k * xt * xt).sum().backward()
            np.testing.assert_allclose(_np(x.grad), _np(xt.grad))
            np.testing.assert_allclose(_np(y), k * a * a)


# ----------------------------------------------------------------------------------------------
# the engine's direct call of minigrad ops' backward
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["mul", "add"])
def test_second_backward_without_retain_graph(op):
    errors = []
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x) if op == "mul" else (x + 1)
        y.sum().backward()
        errors.append(_error_of(lambda: y.sum().backward()))
    _same_error(errors)
    assert (errors[0] is None) == (op == "add")


def test_retain_graph_twice_and_create_graph_match_torch():
    a = _data(3)
    res = []
    for lib in LIBS:
        x = lib.tensor(a, requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        y.backward(retain_graph=True)
        g1 = _np(x.grad)
        x.grad = None
        gx, = lib.autograd.grad(y, x, create_graph=True)
        gx.sum().backward()
        res.append((g1, _np(gx), _np(x.grad)))
    for vm, vt in zip(*res):
        np.testing.assert_allclose(vm, vt, rtol=1e-12)


def test_kept_values_checked_even_when_backward_reads_none():
    # x[idx] keeps idx (keep_for_backward); where keeps its condition; mse_loss its target
    cases = {
        "index": lambda lib, x, k: (x[k], k),
        "where": lambda lib, x, k: (lib.where(k > 1, x, x * 2), k),
        "mse": lambda lib, x, k: (lib.nn.functional.mse_loss(x, k.to(x.dtype)), k),
    }
    for name, fn in cases.items():
        errors = []
        for lib in LIBS:
            x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
            k = lib.tensor([0, 2, 1])
            y, kept = fn(lib, x, k)
            errors.append(_error_of(lambda: y.sum().backward(retain_graph=True)))
            kept.add_(1)
            errors.append(_error_of(lambda: y.sum().backward()))
        assert errors[0] is None and errors[2] is None, name
        assert (errors[1] is None) == (errors[3] is None), name
        if errors[3] is not None:
            assert errors[1][0] is errors[3][0] and \
                "modified by an inplace operation" in errors[1][1], name


def test_hooks_and_retain_grad_around_the_direct_call():
    logs = []
    for lib in LIBS:
        log = []
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        h = x * 2
        h.retain_grad()
        h.register_hook(lambda g: log.append(("tensor", g.tolist())) or g * 10)
        y = h.relu()
        y.grad_fn.register_prehook(lambda go: log.append(("pre", go[0].tolist())))
        y.grad_fn.register_hook(lambda gi, go: log.append(("post", gi[0].tolist())))
        y.sum().backward()
        log.append(("x", x.grad.tolist()))
        log.append(("h", h.grad.tolist()))
        logs.append(log)
    assert logs[0] == logs[1]


def test_anomaly_mode_names_the_failing_backward():
    msgs = []
    for lib in LIBS:
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with pytest.warns(UserWarning):
            with lib.autograd.detect_anomaly():
                y = (x.sqrt() * 0).sum()        # 0 * inf = nan in sqrt's backward
                err = _error_of(lambda: y.backward())
        msgs.append(err)
    assert msgs[0] is not None and msgs[1] is not None
    assert msgs[0][0] is msgs[1][0] is RuntimeError
    assert "SqrtBackward0" in msgs[0][1] and "SqrtBackward0" in msgs[1][1]


def test_grad_of_an_intermediate_and_of_unused_inputs():
    a = _data(3)
    res = []
    for lib in LIBS:
        x = lib.tensor(a, requires_grad=True)
        u = lib.tensor(a, requires_grad=True)
        h = x.exp()
        y = (h * x).sum()
        gh, gx, gu = lib.autograd.grad(y, (h, x, u), allow_unused=True)
        res.append((_np(gh), _np(gx), gu))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)
    assert res[0][2] is None and res[1][2] is None
