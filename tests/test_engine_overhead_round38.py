"""The backward engine's shortcuts for small graphs, side by side with PyTorch.

A plain backward now builds a reduction's spread gradient as one view (no reshape and expand
nodes run), copies a leaf's first gradient straight into a row-major ``.grad``, makes the
root's 1 without ``ones_like``, sets the grad mode and the pass's per-thread state without
context objects, and lays out a pointwise result of a broadcast number and row-major
operands without ordering its dims. Each test runs one program on both libraries and
compares what a user can see: gradients, their strides and views as hooks get them, the
hooks' order, errors, the grad mode inside the pass.
"""
import threading

import numpy as np
import pytest
import torch

import minigrad

RNG = np.random.default_rng(38)


def _t(lib, shape, grad=True, dtype=np.float64):
    return lib.tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=grad)


def _both(program):
    """``program(lib, values)`` on torch and minigrad with the same inputs; both results."""
    state = RNG.bit_generator.state
    a = program(torch)
    RNG.bit_generator.state = state
    b = program(minigrad)
    return a, b


def _same(a, b):
    """Nested lists/tuples/dicts of tensors and plain values, compared."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, minigrad.Tensor), type(b)
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    else:
        assert a == b, (a, b)


def _look(g):
    """What a hook can see of a gradient besides its values."""
    return (tuple(g.stride()), g.is_contiguous(), g._is_view(), g.requires_grad)


# ----------------------------------------------------------------------------------------------
# A reduction's gradient: one view, as PyTorch's expand
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 4), (3, 1, 5), (1, 1), (5,), (2, 3, 4), ()])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_full_reduction_grad_as_hooks_see_it(shape, reduce):
    # (a full sum's gradient over a shape with size-1 dims, or of a 0-d tensor: PyTorch
    # expands the 0-d gradient directly, all strides 0 and a view even for shape (); minigrad
    # expands a reshape of it (stride 1 at a size-1 dim) and hands a 0-d one on as it is:
    # only the values are compared there)
    plain = 1 not in shape and shape != ()

    def program(lib):
        x = _t(lib, shape)
        seen = []
        x.register_hook(lambda g: seen.append(((_look(g) if plain or reduce == "mean" else
                                                 None), g.clone())))
        getattr(x, reduce)().backward()
        return seen, x.grad, tuple(x.grad.stride()), x.grad.is_contiguous()
    _same(*_both(program))


@pytest.mark.parametrize("shape,dim,keepdim", [((4, 4), 0, False), ((4, 4), 1, True),
                                               ((2, 3, 4), (0, 2), False),
                                               ((2, 1, 4), 1, False), ((3, 4), -1, True),
                                               ((2, 3, 4), (), False)])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_reduction_over_dims(shape, dim, keepdim, reduce):
    def program(lib):
        x = _t(lib, shape)
        seen = []
        x.register_hook(lambda g: seen.append(_look(g)))
        out = getattr(x, reduce)(dim, keepdim=keepdim)
        w = _t(lib, tuple(out.shape), grad=False)
        (out * w).sum().backward()
        return seen, x.grad, tuple(x.grad.stride())
    _same(*_both(program))


def test_sum_with_given_gradient_that_requires_grad():
    # the output's gradient requires grad, no create_graph: the spread view says so too
    def program(lib):
        x = _t(lib, (3, 4))
        v = _t(lib, (3,))
        seen = []
        x.register_hook(lambda g: seen.append(_look(g)))
        x.sum(1).backward(v)
        return seen, x.grad, x.grad.requires_grad, v.grad
    _same(*_both(program))


def test_hook_writing_into_spread_gradient_refused():
    # the spread gradient repeats one number: writing into it fails in both
    for lib in (torch, minigrad):
        x = _t(lib, (2, 3))

        def hook(g):
            g.add_(1.0)
        x.register_hook(hook)
        with pytest.raises(RuntimeError):
            x.sum().backward()


@pytest.mark.parametrize("layout", ["transposed", "size1", "sliced", "zero_d", "empty"])
def test_first_grad_layout(layout):
    # a leaf's first gradient, copied from a spread view: the leaf's strides (dense) or
    # row-major (not dense), as PyTorch lays out a new .grad
    def program(lib):
        if layout == "transposed":
            x = _t(lib, (4, 3), grad=False).t().requires_grad_()
        elif layout == "size1":
            x = _t(lib, (3, 1, 4), grad=False).permute(1, 0, 2).requires_grad_()
        elif layout == "sliced":
            x = _t(lib, (4, 6), grad=False)[:, ::2].requires_grad_()
        elif layout == "zero_d":
            x = _t(lib, ())
        else:
            x = lib.zeros(0, 3, dtype=lib.float64, requires_grad=True)
        (x.sum() * 2).backward()
        return x.grad, tuple(x.grad.stride()), x.grad.is_contiguous()
    _same(*_both(program))


def test_grad_layout_policy_off():
    if not hasattr(torch.autograd, "enforce_grad_layout_policy"):
        pytest.skip("this torch has no enforce_grad_layout_policy")

    def program(lib):
        x = _t(lib, (4, 3), grad=False).t().requires_grad_()
        with lib.autograd.enforce_grad_layout_policy(False):
            (x * 3).backward(_t(lib, (3, 4), grad=False))
        return x.grad, tuple(x.grad.stride())
    _same(*_both(program))


# ----------------------------------------------------------------------------------------------
# The root's gradient and the pass around the nodes
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_root_gradient_dtype_and_leaf_root(dtype):
    def program(lib):
        x = _t(lib, (3,), dtype=dtype)
        s = x.sum()
        seen = []
        s.register_hook(lambda g: seen.append((g.clone(), tuple(g.shape))))
        s.backward()
        leaf = _t(lib, (), dtype=dtype)
        leaf.backward()
        one = _t(lib, (1, 1), dtype=dtype)
        one.backward()
        return seen, x.grad, leaf.grad, one.grad, tuple(one.grad.stride())
    _same(*_both(program))


def test_grad_mode_inside_and_after_the_pass():
    def program(lib):
        x = _t(lib, (3,))
        modes = []
        x.register_hook(lambda g: modes.append(lib.is_grad_enabled()) or None)
        (x * x).sum().backward()
        (x * x).sum().backward(create_graph=True)
        with lib.no_grad():
            y = x.detach().requires_grad_()
        with lib.enable_grad():
            z = (y * 2).sum()
        with lib.no_grad():
            z.backward()
            modes.append(lib.is_grad_enabled())
        modes.append(lib.is_grad_enabled())
        return modes, y.grad
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(*_both(program))


def test_grad_mode_restored_after_a_failing_hook():
    for lib in (torch, minigrad):
        x = _t(lib, (3,))

        def hook(g):
            raise ValueError("boom")
        x.register_hook(hook)
        with pytest.raises(ValueError):
            (x * 2).sum().backward()
        assert lib.is_grad_enabled()
        with lib.no_grad():
            with pytest.raises(ValueError):
                x2 = x.detach().requires_grad_()
                with lib.enable_grad():
                    loss = (x2 * 2).sum()
                x2.register_hook(hook)
                loss.backward()
            assert not lib.is_grad_enabled()


def test_retain_graph_errors():
    def program(lib):
        out = []
        x = _t(lib, (4,))
        s = x.sum()
        s.backward()
        s.backward()           # a sum saves no tensor: a second pass is allowed
        out.append(x.grad)
        m = (x * x).sum()
        m.backward()
        with pytest.raises(RuntimeError) as err:
            m.backward()
        out.append("second time" in str(err.value))
        k = (x * x).sum()
        k.backward(retain_graph=True)
        k.backward()
        out.append(x.grad)
        return out
    _same(*_both(program))


def test_create_graph_through_reductions():
    def program(lib):
        x = _t(lib, (3, 4))
        y = (x * x * x).sum(1).mean()
        g, = lib.autograd.grad(y, [x], create_graph=True)
        h, = lib.autograd.grad(g.sum(), [x])
        return g, h, g.requires_grad
    _same(*_both(program))


def test_accumulate_versus_grad_and_inputs():
    def program(lib):
        x, w, b = _t(lib, (4, 3)), _t(lib, (3, 2)), _t(lib, (2,))
        loss = (x @ w + b).relu().sum()
        gw, = lib.autograd.grad(loss, [w], retain_graph=True)
        untouched = (x.grad, w.grad, b.grad)
        loss.backward(inputs=[w, b], retain_graph=True)
        after_inputs = (x.grad, w.grad, b.grad)
        loss.backward()
        return gw, untouched, after_inputs, x.grad, w.grad, b.grad
    _same(*_both(program))


def test_retain_grad_and_nonleaf_inputs():
    def program(lib):
        x = _t(lib, (3,))
        h = x * 2
        h.retain_grad()
        y = h * h
        y.sum().backward(retain_graph=True)
        first = h.grad.clone()
        g, = lib.autograd.grad(y.sum(), [h])
        return first, g, x.grad
    _same(*_both(program))


def test_hooks_order_and_replacement():
    def program(lib):
        log = []
        x, y = _t(lib, (2, 3)), _t(lib, (2, 3))
        x.register_hook(lambda g: log.append("x") or g * 2)
        y.register_post_accumulate_grad_hook(lambda p: log.append(("acc y", p.grad.clone())))
        p = x * y
        p.register_hook(lambda g: log.append("p") or None)
        s = p.sum()
        s.grad_fn.register_prehook(lambda go: log.append(("pre sum", go[0].clone())) or None)
        s.grad_fn.register_hook(lambda gi, go: log.append(("post sum", _look(gi[0]))) or None)
        p.grad_fn.register_hook(lambda gi, go: log.append("post mul") or (gi[0], gi[1] * 3))
        s.backward()
        return log, x.grad, y.grad
    _same(*_both(program))


def test_accumulate_grad_node_hooks():
    def program(lib):
        log = []
        w = _t(lib, (3,))
        acc = (w * 1.0).grad_fn.next_functions[0][0]
        acc.register_prehook(lambda gs: log.append("pre acc") or (gs[0] * 10,))
        acc.register_hook(lambda gi, go: log.append(("post acc", go[0].clone())) or None)
        w.sum().backward()
        return log, w.grad
    _same(*_both(program))


def test_anomaly_mode():
    def program(lib):
        x = _t(lib, (3,))
        with lib.autograd.detect_anomaly():
            x.sum().backward()
            y = _t(lib, (3,))
            z = (y.sqrt() * 0).sum()
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with pytest.raises(RuntimeError) as err:
                    (z / 0 * 0).backward()
        return x.grad, "nan" in str(err.value).lower()
    _same(*_both(program))


def test_grad_dtype():
    if not hasattr(torch.Tensor, "grad_dtype"):
        pytest.skip("this torch has no grad_dtype")

    def program(lib):
        x = _t(lib, (3, 4), dtype=np.float32)
        x.grad_dtype = lib.float64
        x.sum().backward()
        (x * 2).sum().backward()
        return x.grad, str(x.grad.dtype).split(".")[-1]
    _same(*_both(program))


def test_saved_tensor_hooks():
    def program(lib):
        log = []
        x, y = _t(lib, (3,)), _t(lib, (3,))

        def pack(t):
            log.append(("pack", tuple(t.shape)))
            return t * 1

        def unpack(t):
            log.append("unpack")
            return t
        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            s = (x * y).sum()
        s.backward()
        return log, x.grad, y.grad
    _same(*_both(program))


def test_queue_callback_and_nested_pass():
    def program(lib):
        log = []
        x = _t(lib, (3,))
        w = _t(lib, (3,))

        def hook(g):
            engine = lib.autograd.Variable._execution_engine
            engine.queue_callback(lambda: log.append("outer callback"))
            with lib.enable_grad():
                inner = (w * w).sum()
            gw, = lib.autograd.grad(inner, [w])       # a pass inside the pass
            log.append(("inner", gw.clone()))
            return g
        x.register_hook(hook)
        (x * 2).sum().backward()
        log.append(x.grad.clone())
        return log
    _same(*_both(program))


def test_queue_callback_outside_a_pass_refused():
    for lib in (torch, minigrad):
        with pytest.raises(RuntimeError, match="during backward pass"):
            lib.autograd.Variable._execution_engine.queue_callback(lambda: None)


def test_backward_in_threads():
    def program(lib):
        results = [None] * 4

        def work(i):
            x = lib.tensor(np.arange(6.0).reshape(2, 3) + i, requires_grad=True)
            for _ in range(20):
                x.grad = None
                (x * x).sum().backward()
            results[i] = x.grad
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results, lib.is_grad_enabled()
    _same(*_both(program))


def test_small_mlp_step():
    def program(lib):
        lib.manual_seed(0)
        l1 = lib.nn.Linear(8, 16).double()
        l2 = lib.nn.Linear(16, 3).double()
        with lib.no_grad():
            for p in list(l1.parameters()) + list(l2.parameters()):
                p.copy_(lib.tensor(RNG.standard_normal(tuple(p.shape))))
        x = _t(lib, (4, 8), grad=False)
        target = lib.tensor([0, 1, 2, 1])
        opt = lib.optim.SGD(list(l1.parameters()) + list(l2.parameters()), lr=0.1)
        out = []
        for _ in range(3):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(l2(lib.relu(l1(x))), target)
            loss.backward()
            out.append([p.grad.clone() for p in l1.parameters()])
            opt.step()
        out.append([p.detach().clone() for p in l2.parameters()])
        return out
    _same(*_both(program))


# ----------------------------------------------------------------------------------------------
# A pointwise op's result layout beside a broadcast number
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["scalar_first", "scalar_second", "size1", "transposed",
                                  "partial", "three_d", "both_scalar"])
def test_broadcast_number_times_tensor_layout(case):
    def program(lib):
        s = lib.tensor(RNG.standard_normal(()))
        if case == "scalar_first":
            a, b = s.expand(4, 5), _t(lib, (4, 5), grad=False)
        elif case == "scalar_second":
            a, b = _t(lib, (4, 5), grad=False), s.expand(4, 5)
        elif case == "size1":
            a, b = s.expand(4, 1, 5), _t(lib, (5, 1, 4), grad=False).permute(2, 1, 0)
        elif case == "transposed":
            a, b = s.expand(4, 5), _t(lib, (5, 4), grad=False).t()
        elif case == "partial":
            a, b = _t(lib, (4, 1), grad=False).expand(4, 5), _t(lib, (5, 4), grad=False).t()
        elif case == "three_d":
            a, b = s.reshape(1, 1, 1).expand(2, 3, 4), _t(lib, (2, 3, 4), grad=False)
        else:
            a, b = s.expand(3, 4), s.reshape(1, 1).expand(3, 4)
        out = []
        for r in (a * b, b * a, a + b, b - a):
            out.append((r, tuple(r.stride())))
        return out
    _same(*_both(program))


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 1), (1,), (0, 2)])
def test_expand_views(shape):
    def program(lib):
        base = _t(lib, tuple(1 if n == 0 else n for n in shape[-1:]), grad=False)
        x = base.expand(*shape) if shape[-1] != 0 else _t(lib, shape, grad=False)
        y = _t(lib, (1,) + tuple(shape[1:]), grad=False).expand(*shape)
        return (x, tuple(x.stride()), y, tuple(y.stride()))
    _same(*_both(program))


def test_expand_refusals():
    for lib in (torch, minigrad):
        x = _t(lib, (3, 1), grad=False)
        with pytest.raises(RuntimeError):
            x.expand(2, 4)
        with pytest.raises(RuntimeError):
            x.expand(-1, 3, 2)
        with pytest.raises(RuntimeError):
            x.expand(3)


def test_reduction_grad_from_strided_or_hooked_gradient():
    # a gradient that is not row-major (given, or put in by a hook) takes the recorded ops'
    # path: the same values and views as PyTorch
    def program(lib):
        x = _t(lib, (3, 4))
        seen = []
        x.register_hook(lambda g: seen.append((_look(g), g.clone())))
        v = _t(lib, (6,), grad=False)[::2]
        x.sum(1).backward(v)
        s = x.sum(0, keepdim=True)
        s.register_hook(lambda g: g * 2)
        s.backward(_t(lib, (1, 4), grad=False))
        return seen, x.grad
    _same(*_both(program))


def test_reductions_under_func_transforms():
    def program(lib):
        x = _t(lib, (3, 4), grad=False)

        def f(t):
            return (t * t).sum() + t.mean(0).sum()
        g = lib.func.grad(f)(x)
        batched = lib.func.vmap(lib.func.grad(lambda r: (r.sin() * r).sum()))(x)
        return g, batched
    _same(*_both(program))
