"""The autograd contract, point by point, against PyTorch.

Every scenario is written once as ``scenario(lib)`` and run with ``lib = minigrad`` and
``lib = torch``; what it returns (numbers, arrays, shapes, names, exception types) must agree.
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _plain(value):
    """Tensors to numpy arrays (float64), recursively; other values unchanged."""
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, minigrad.Tensor):
        return value.detach().numpy().astype(np.float64)
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().astype(np.float64)
    return value


def _same(a, b, path="result"):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), f"{path}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), f"{path}: array vs {b!r}"
        assert a.shape == b.shape, f"{path}: shape {a.shape} vs {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=path)
    else:
        assert a == b, f"{path}: minigrad {a!r}, torch {b!r}"


def run_both(scenario):
    """Run ``scenario(lib)`` on both; an exception is compared by type."""
    results = []
    for lib in (minigrad, torch):
        try:
            results.append(_plain(scenario(lib)))
        except Exception as exc:  # noqa: BLE001 -- the type is what we compare
            results.append(("raised", type(exc).__name__))
    _same(results[0], results[1])
    return results[0]


def _name(node):
    """A node's name without torch's C++ namespace ('torch::autograd::AccumulateGrad')."""
    return node.name().split("::")[-1]


def t(lib, values, requires_grad=True):
    return lib.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ----------------------------------------------------------------------------------------------
# Higher-order gradients
# ----------------------------------------------------------------------------------------------
def test_tanh_derivatives_to_the_sixth_order():
    def scenario(lib):
        x = t(lib, np.linspace(-2, 2, 7))
        y, out = lib.tanh(x), []
        for _ in range(6):
            y, = lib.autograd.grad(y.sum(), x, create_graph=True)
            out.append(y)
        return out
    run_both(scenario)


def test_backward_create_graph_then_backward_of_the_gradient():
    def scenario(lib):
        x = t(lib, [0.3, -1.2, 2.0])
        y = (x ** 3 * x.sin()).sum()
        y.backward(create_graph=True)
        g = x.grad
        x.grad = None
        (g * g).sum().backward()
        return g, x.grad, g.requires_grad
    run_both(scenario)


def test_hessian_of_a_small_conv_net_matches_torch():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((2, 1, 5, 5))
    w1, w2 = rng.standard_normal((2, 1, 3, 3)), rng.standard_normal((4, 2 * 3 * 3))

    def scenario(lib):
        F = lib.nn.functional
        w = t(lib, w1)

        def loss(w):
            h = lib.tanh(F.conv2d(t(lib, xs, False), w))
            return (h.reshape(2, -1) @ t(lib, w2, False).t()).pow(2).sum()
        return lib.autograd.functional.hessian(loss, w)
    run_both(scenario)


def test_gradient_penalty_through_conv_and_linear():
    rng = np.random.default_rng(1)
    xs, w1, w2 = (rng.standard_normal(s) for s in [(3, 2, 6, 6), (4, 2, 3, 3), (1, 4 * 4 * 4)])

    def scenario(lib):
        F = lib.nn.functional
        x, wa, wb = t(lib, xs), t(lib, w1), t(lib, w2)
        score = F.linear(F.relu(F.conv2d(x, wa)).reshape(3, -1), wb).sum()
        gx, = lib.autograd.grad(score, x, create_graph=True)
        penalty = ((gx.reshape(3, -1).pow(2).sum(1).sqrt() - 1) ** 2).mean()
        penalty.backward()
        return penalty, wa.grad, wb.grad
    run_both(scenario)


# ----------------------------------------------------------------------------------------------
# autograd.grad
# ----------------------------------------------------------------------------------------------
def test_grad_returns_a_tuple_and_touches_no_grad():
    def scenario(lib):
        lin = lib.nn.Linear(3, 2).double()
        with lib.no_grad():
            lin.weight.copy_(t(lib, [[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], False))
        x = t(lib, np.ones((4, 3)))
        out = lib.autograd.grad(lin(x).sum(), [x])
        return type(out).__name__, len(out), lin.weight.grad is None, x.grad is None, out[0]
    run_both(scenario)


def test_grad_of_non_leaf_inputs_and_several_outputs():
    def scenario(lib):
        x = t(lib, [1.0, 2.0, 3.0])
        h = x * x
        a, b = h.sum(), (h * 3).sum()
        return lib.autograd.grad([a, b], [h, x])
    run_both(scenario)


def test_grad_outputs_for_several_non_scalar_outputs():
    def scenario(lib):
        x = t(lib, [[1.0, -2.0], [0.5, 4.0]])
        y1, y2 = x.exp(), x.sum(0)
        return lib.autograd.grad((y1, y2), x, grad_outputs=(t(lib, [[1., 2.], [3., 4.]], False),
                                                            t(lib, [5., 6.], False)))
    run_both(scenario)


def test_grad_allow_unused_and_materialize_grads():
    def unused(lib):
        x, z = t(lib, [1.0]), t(lib, [2.0])
        return lib.autograd.grad((x * 2).sum(), [x, z])

    def allowed(lib):
        x, z = t(lib, [1.0]), t(lib, [2.0])
        gx, gz = lib.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
        return gx, gz is None

    def materialized(lib):
        x, z = t(lib, [1.0]), t(lib, [2.0])
        return lib.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True)
    assert run_both(unused) == ("raised", "RuntimeError")
    run_both(allowed)
    run_both(materialized)


def test_grad_frees_the_graph_unless_retained():
    def scenario(lib):
        x = t(lib, [1.0, 2.0])
        y = (x.exp() * x).sum()
        lib.autograd.grad(y, x)
        return lib.autograd.grad(y, x)

    def retained(lib):
        x = t(lib, [1.0, 2.0])
        y = (x.exp() * x).sum()
        first = lib.autograd.grad(y, x, retain_graph=True)
        return first, lib.autograd.grad(y, x)
    assert run_both(scenario) == ("raised", "RuntimeError")
    run_both(retained)


def test_grad_refuses_inputs_without_grad_and_outputs_without_graph():
    def no_grad_input(lib):
        x, z = t(lib, [1.0]), t(lib, [1.0], False)
        return lib.autograd.grad((x * z).sum(), z)

    def no_graph_output(lib):
        x = t(lib, [1.0])
        return lib.autograd.grad(t(lib, [1.0], False).sum(), x)
    assert run_both(no_grad_input) == ("raised", "RuntimeError")
    assert run_both(no_graph_output) == ("raised", "RuntimeError")


# ----------------------------------------------------------------------------------------------
# backward
# ----------------------------------------------------------------------------------------------
def test_backward_inputs_accumulates_only_there():
    def scenario(lib):
        x, w = t(lib, [1.0, 2.0]), t(lib, [3.0, 4.0])
        h = x * w
        h.retain_grad()
        (h * h).sum().backward(inputs=[w, h])
        return x.grad is None, w.grad, h.grad
    run_both(scenario)


def test_autograd_backward_with_several_roots_sharing_a_graph():
    def scenario(lib):
        x = t(lib, [1.0, -1.0, 2.0])
        h = x.tanh()
        lib.autograd.backward([h.sum(), (h * h).sum()], [None, t(lib, 2.0, False)])
        return x.grad
    run_both(scenario)


def test_backward_twice_needs_retain_graph():
    def scenario(lib):
        x = t(lib, [1.0, 2.0])
        y = (x * x).sum()
        y.backward()
        y.backward()

    def additions_only(lib):
        x = t(lib, [1.0, 2.0])
        y = (x + x).sum()
        y.backward()
        y.backward()          # nothing was saved: allowed, accumulates
        return x.grad
    assert run_both(scenario) == ("raised", "RuntimeError")
    run_both(additions_only)


def test_hooks_on_leaves_and_intermediates():
    def scenario(lib):
        x = t(lib, [1.0, 2.0])
        seen = []
        x.register_hook(lambda g: seen.append(g.clone()))
        h = x * 3
        handle = h.register_hook(lambda g: g * 10)
        (h * x).sum().backward(retain_graph=True)
        first = x.grad.clone()
        handle.remove()
        x.grad = None
        (h * x).sum().backward()
        return first, x.grad, seen
    run_both(scenario)


# ----------------------------------------------------------------------------------------------
# Custom Functions (PyTorch's tutorial API)
# ----------------------------------------------------------------------------------------------
def _custom(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x ** 3 * scale

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x ** 2 * ctx.scale, None

    class SplitTwo(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = (x > 0).to(lib.int64)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(x)
            return x * 2, x.exp(), idx

        @staticmethod
        def backward(ctx, ga, gb, gi):
            x, = ctx.saved_tensors
            return ga * 2 + gb * x.exp()
    return Cube, SplitTwo


def test_custom_function_with_ctx_and_double_backward():
    def scenario(lib):
        Cube, _ = _custom(lib)
        x = t(lib, [1.0, -2.0])
        y = Cube.apply(x, 2.0)
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        return y, g, h, y.grad_fn.name()[:4]
    run_both(scenario)


def test_custom_function_several_outputs_and_non_differentiable():
    def scenario(lib):
        _, SplitTwo = _custom(lib)
        x = t(lib, [0.5, -1.0])
        a, b, idx = SplitTwo.apply(x)
        (a.sum() * 3).backward()          # gb materialised as zeros
        first = x.grad.clone()
        x.grad = None
        a2, b2, _ = SplitTwo.apply(x)
        (a2 + b2).sum().backward()
        return first, x.grad, idx.requires_grad, a.requires_grad, idx
    run_both(scenario)


def test_custom_function_needs_input_grad_and_materialize():
    def scenario(lib):
        record = {}

        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                ctx.set_materialize_grads(False)
                return x * 2, y * 2

            @staticmethod
            def backward(ctx, ga, gb):
                record["needs"] = tuple(ctx.needs_input_grad)
                record["gb_is_none"] = gb is None
                return ga * 2, None
        x, y = t(lib, [1.0]), t(lib, [1.0], False)
        a, b = F.apply(x, y)
        a.sum().backward()
        return record, x.grad
    run_both(scenario)


def test_grad_of_some_inputs_computes_only_their_gradients(monkeypatch):
    """autograd.grad and backward(inputs=...) run a node's backward for the wanted inputs
    only, as PyTorch's engine does: the input's gradient of a convolution without its weight
    gradient, and the other way round; the values are torch's."""
    from minigrad.ops import _conv_weight_grad, conv_kernels
    made = []
    for module, name in ((conv_kernels, "input_grad"), (_conv_weight_grad, "weight_grad")):
        def spy(*args, _kernel=getattr(module, name), _name=name, **kwargs):
            made.append(_name)
            return _kernel(*args, **kwargs)
        monkeypatch.setattr(module, name, spy)
    rng = np.random.default_rng(4)
    xs, ws = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    w2s, gs = rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)

    def scenario(lib, which):
        x, w, w2 = t(lib, xs), t(lib, ws), t(lib, w2s)
        bn = lib.nn.BatchNorm2d(4).double()
        y = lib.nn.functional.conv2d(bn(lib.nn.functional.conv2d(x, w, padding=1)), w2)
        loss = (y.sum(dim=(0, 2, 3)) * lib.tensor(gs)).sum()
        if which == "x":
            return lib.autograd.grad(loss, x)
        if which == "w2":
            return lib.autograd.grad(loss, w2)
        if which == "bn":
            return lib.autograd.grad(loss, (bn.bias, x))
        loss.backward(inputs=[w])
        return w.grad, x.grad is None, w2.grad is None, bn.weight.grad is None
    expected = {"x": ["input_grad", "input_grad"], "w2": ["weight_grad"],
                "bn": ["input_grad", "input_grad"], "inputs=w": ["input_grad", "weight_grad"]}
    for which, kernels in expected.items():
        made.clear()
        run_both(lambda lib: scenario(lib, which.split("=")[-1]))
        assert made == kernels, (which, made)            # (torch's run calls none of them)


def test_a_custom_functions_needs_input_grad_stays_as_at_forward():
    """PyTorch narrows its own nodes' outputs to the wanted inputs, but a custom Function's
    ctx.needs_input_grad keeps what it was at forward."""
    def scenario(lib):
        record = {}

        class Mul(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                ctx.save_for_backward(x, y)
                return x * y

            @staticmethod
            def backward(ctx, g):
                record["needs"] = tuple(ctx.needs_input_grad)
                x, y = ctx.saved_tensors
                return g * y, g * x
        x, y = t(lib, [1.0, 2.0]), t(lib, [3.0, 4.0])
        gx, = lib.autograd.grad(Mul.apply(x, y).sum(), x)
        return record, gx
    run_both(scenario)


def test_once_differentiable_refuses_a_second_derivative():
    def scenario(lib):
        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @lib.autograd.function.once_differentiable
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return g * 2 * x
        x = t(lib, [3.0])
        g, = lib.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
        first = g.detach().clone()
        g.sum().backward()
        return first
    assert run_both(scenario) == ("raised", "RuntimeError")


def test_mark_dirty_in_place_custom_function():
    def scenario(lib):
        class Double_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2
        x = t(lib, [1.0, 2.0])
        h = x * 1
        out = Double_.apply(h)
        (out * out).sum().backward()
        return out is h, x.grad, h
    run_both(scenario)


# ----------------------------------------------------------------------------------------------
# Graph introspection and requires_grad rules
# ----------------------------------------------------------------------------------------------
def test_next_functions_in_torch_order():
    def scenario(lib):
        a, b = t(lib, [1.0]), t(lib, [2.0])
        out = []
        for y in (3 * b, b * 3, 3 + b, a * b, (a * b).sum(), a - b):
            out.append(tuple(None if f is None else _name(f) for f, _ in y.grad_fn.next_functions))
        out.append((a * b).grad_fn.next_functions[0][0] is (a + b).grad_fn.next_functions[0][0])
        out.append(((a * b).sum()).grad_fn.name())
        return out
    run_both(scenario)


def test_requires_grad_assignment_rules():
    def non_leaf(lib):
        y = t(lib, [1.0]) * 2
        y.requires_grad = False

    def integer(lib):
        lib.tensor([1, 2]).requires_grad = True

    def leaf_ok(lib):
        x = lib.zeros(2, dtype=lib.float64)
        x.requires_grad = True
        y = t(lib, [1.0]) * 2
        y.requires_grad_(True)              # already requires grad: allowed
        return x.requires_grad, x.is_leaf, y.is_leaf
    assert run_both(non_leaf) == ("raised", "RuntimeError")
    assert run_both(integer) == ("raised", "RuntimeError")
    run_both(leaf_ok)


def test_retain_grad_before_an_in_place_op():
    def scenario(lib):
        x = t(lib, [1.0, 2.0, 3.0])
        a = x * 2
        a.retain_grad()
        a.mul_(3)
        (a * a).sum().backward()
        return a.grad, x.grad, a.retains_grad
    run_both(scenario)


def test_copy_into_a_view_of_a_tensor_without_grad_rebases_the_base():
    def scenario(lib):
        x = t(lib, [1.0, 2.0])
        base = lib.zeros(2, 3, dtype=lib.float64)
        base[0, 1:].copy_(x * 2)
        y = (base * t(lib, np.arange(6.0).reshape(2, 3), False)).sum()
        y.backward()
        return base.requires_grad, base.is_leaf, base, x.grad, _name(base.grad_fn)
    run_both(scenario)


def test_in_place_write_into_a_view_of_an_intermediate():
    def scenario(lib):
        x = t(lib, [1.0, 2.0, 3.0, 4.0])
        y = x.exp()
        v = y.view(2, 2)[:, 1]
        v.mul_(t(lib, [10.0, 20.0]))
        (y * y).sum().backward()
        return y, x.grad

    def leaf_view(lib):
        x = t(lib, [1.0, 2.0])
        x[0:1].mul_(2)
    run_both(scenario)
    assert run_both(leaf_view) == ("raised", "RuntimeError")


def test_saved_tensor_modified_in_place_is_caught():
    def scenario(lib):
        x = t(lib, [1.0, 2.0])
        y = x.exp()
        z = y * y
        y.add_(1)
        z.sum().backward()
    assert run_both(scenario) == ("raised", "RuntimeError")


# ----------------------------------------------------------------------------------------------
# autograd.functional
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp", "vhp"])
def test_functional_products(name):
    rng = np.random.default_rng(3)
    xs, vs, ws = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4)

    def scenario(lib):
        F = lib.autograd.functional
        x, v = t(lib, xs, False), t(lib, vs, False)
        if name in ("hvp", "vhp"):
            return getattr(F, name)(lambda a: (a.sin() * a ** 2).sum(), x, v)
        return getattr(F, name)(lambda a: a.tanh() * t(lib, ws, False), x, v)
    run_both(scenario)


def test_functional_jacobian_and_hessian_of_tuples():
    rng = np.random.default_rng(4)
    xs, ys = rng.standard_normal(3), rng.standard_normal((2, 3))

    def scenario(lib):
        F = lib.autograd.functional
        x, y = t(lib, xs, False), t(lib, ys, False)
        jac = F.jacobian(lambda a, b: (a * b, (a.exp() * b).sum(0)), (x, y))
        hes = F.hessian(lambda a, b: (a.sin() * b).sum(), (x, y))
        return jac, hes
    run_both(scenario)


def test_first_order_only_ops_name_themselves_when_differentiated_twice():
    class ArrayOnly(minigrad.autograd.Function):      # an array-level backward
        first_order_only = True

        def forward(self, a):
            self.save_for_backward(a)
            return a * a

        def backward(self, g):
            a, = self.saved_tensors
            return 2 * a * g
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    g, = minigrad.autograd.grad(ArrayOnly.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match="ArrayOnlyBackward0"):
        g.sum().backward()


# ----------------------------------------------------------------------------------------------
# .grad takes over a fresh gradient (no copy) and copies a shared one
# ----------------------------------------------------------------------------------------------
class _Doubler(minigrad.autograd.Function):
    made = []                         # ids of the arrays its backward returned (no reference)

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        out = g * 2
        _Doubler.made.append(id(out._array))
        return out


def test_a_fresh_gradient_becomes_grad_without_a_copy():
    x = minigrad.randn(4, requires_grad=True)
    _Doubler.made.clear()
    _Doubler.apply(x).sum().backward()
    assert id(x.grad._array) == _Doubler.made[0]
    assert x.grad.tolist() == [2.0] * 4


def test_a_shared_or_held_gradient_is_copied():
    a, b = minigrad.randn(3, requires_grad=True), minigrad.randn(3, requires_grad=True)
    (a + b).sum().backward()                  # one gradient array for both
    a.grad.add_(1)
    assert b.grad.tolist() == [1.0] * 3
    held = []
    c = minigrad.randn(3, requires_grad=True)
    c.register_hook(lambda g: held.append(g))
    _Doubler.apply(c).sum().backward()
    c.grad.add_(1)                            # must not change what the hook kept
    assert held[0].tolist() == [2.0] * 3 and c.grad.tolist() == [3.0] * 3
    d = minigrad.randn(3, requires_grad=True)
    y = _Doubler.apply(d).sum()
    y.backward(retain_graph=True)
    y.backward()                              # accumulates in place into the stolen array
    assert d.grad.tolist() == [4.0] * 3


class _ReshapedDoubler(minigrad.autograd.Function):
    """Its backward hands back reshapes of one fresh array (as many kernels do): to x alone,
    or the same memory to x and y."""
    made = []

    @staticmethod
    def forward(ctx, x, y):
        return x * 2 + y

    @staticmethod
    def backward(ctx, g):
        flat = (g * 2)._array.reshape(-1)
        _ReshapedDoubler.made.append(id(flat.base))
        gx = minigrad.Tensor._wrap(flat.reshape(g.shape))
        return gx, (gx if _ReshapedDoubler.share else None)


def test_a_sole_reshape_of_a_fresh_array_becomes_grad_without_a_copy():
    x, y = minigrad.randn(2, 3, requires_grad=True), minigrad.randn(2, 3)
    _ReshapedDoubler.made.clear()
    _ReshapedDoubler.share = False
    _ReshapedDoubler.apply(x, y).sum().backward()
    assert x.grad._array.base is not None and id(x.grad._array.base) == \
        _ReshapedDoubler.made[0]
    assert x.grad.tolist() == [[2.0] * 3] * 2


def test_a_reshape_whose_memory_is_also_elsewhere_is_copied():
    x, y = minigrad.randn(2, 3, requires_grad=True), minigrad.randn(2, 3, requires_grad=True)
    _ReshapedDoubler.share = True
    _ReshapedDoubler.apply(x, y).sum().backward()
    x.grad.add_(1)                            # y's gradient is the same array: not changed
    assert y.grad.tolist() == [[2.0] * 3] * 2 and x.grad.tolist() == [[3.0] * 3] * 2
    held = []
    z = minigrad.randn(2, 3, requires_grad=True)
    z.register_hook(lambda g: held.append(g.view(-1)))   # a second view of the memory
    _ReshapedDoubler.share = False
    _ReshapedDoubler.apply(z, minigrad.zeros(2, 3)).sum().backward()
    z.grad.add_(1)
    assert held[0].tolist() == [2.0] * 6 and z.grad.tolist() == [[3.0] * 3] * 2
