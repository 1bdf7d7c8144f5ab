"""The autograd API under adversarial use (round 16), each case run with torch beside minigrad:
accumulation into a ``.grad`` that is itself on a graph, custom Functions' broadcast
gradients and missing forward, custom Functions inside torch.func transforms and forward AD
(PyTorch's refusals), once_differentiable's stand-in node, gradcheck's forward-mode check,
hook and ``.grad`` setter messages, node names."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import both  # noqa: E402

LIBS = (minigrad, torch)
X = np.array([0.5, -1.25, 2.0, 0.75, -0.3])


def _result_or_error_words(fn, lib):
    """(result, None) or (None, (exception type name, message))."""
    try:
        return fn(lib), None
    except Exception as exc:  # noqa: BLE001 (compared with the other library's)
        return None, (type(exc).__name__, str(exc).replace("minigrad", "torch"))


def _same_error(fn, words=None):
    """fn raises in both libraries: the same exception type, and torch's message (or its
    first ``words`` characters) inside minigrad's."""
    (_, mine), (_, theirs) = (_result_or_error_words(fn, lib) for lib in LIBS)
    assert theirs is not None, "torch did not raise"
    assert mine is not None, f"minigrad did not raise (torch: {theirs})"
    assert mine[0] == theirs[0]
    assert theirs[1][:words] in mine[1]


def _values(t):
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def _leaf(lib, values=X):
    return lib.tensor(values, dtype=lib.float64, requires_grad=True)


# ---- accumulation into .grad ----------------------------------------------------------------
def test_backward_adds_in_place_into_a_grad_that_requires_grad():
    def run(L):
        x = _leaf(L)
        x.grad = L.zeros(5, dtype=L.float64).requires_grad_()
        g = x.grad
        (x * 2).sum().backward()
        return x.grad is g, x.grad.requires_grad, x.grad.is_leaf, _values(x.grad)
    mine, theirs = both(run)
    assert mine[:3] == theirs[:3]
    np.testing.assert_allclose(mine[3], theirs[3])


def test_plain_backward_after_create_graph_adds_into_the_graph_gradient():
    def run(L):
        x = _leaf(L)
        with warnings.catch_warnings():     # (PyTorch gives its warning once a process)
            warnings.simplefilter("ignore")
            (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        g.sum().backward()
        return x.grad is g, x.grad.requires_grad, x.grad.grad_fn is not None, _values(x.grad)
    mine, theirs = both(run)
    assert mine[:3] == theirs[:3]
    np.testing.assert_allclose(mine[3], theirs[3], rtol=1e-12)


def test_first_gradient_under_create_graph_is_a_recorded_copy():
    def run(L):
        x = _leaf(L)
        with warnings.catch_warnings():     # (PyTorch gives its warning once a process)
            warnings.simplefilter("ignore")
            (x ** 3).sum().backward(create_graph=True)
        second, = L.autograd.grad(x.grad.sum(), x)
        return x.grad.grad_fn.name(), _values(x.grad), _values(second)
    mine, theirs = both(run)
    assert mine[0] == theirs[0]
    for a, b in zip(mine[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_grad_setter_wrong_dtype_in_pytorchs_words():
    def run(L):
        _leaf(L).grad = L.ones(5, dtype=L.float32)
    _same_error(run, words=140)


# ---- custom Functions --------------------------------------------------------------------------
def _identity_fn(L, backward):
    class Passing(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

    Passing.backward = staticmethod(backward)
    return Passing


@pytest.mark.parametrize("y_values", [X, X[:1]])
def test_custom_backward_gradient_broadcast_to_a_larger_shape_is_summed(y_values):
    def run(L):
        fn = _identity_fn(L, lambda ctx, g: (g.reshape(1, 5) * 2, g))
        x, y = _leaf(L), _leaf(L, y_values)
        fn.apply(x, y).sum().backward()
        return _values(x.grad), _values(y.grad)
    for a, b in zip(*both(run)):
        np.testing.assert_allclose(a, b)


def test_custom_backward_gradient_of_an_incompatible_shape_still_refused():
    def run(L):
        fn = _identity_fn(L, lambda ctx, g: (g[:3], g))
        fn.apply(_leaf(L), _leaf(L)).sum().backward()
    _same_error(run)


def test_function_without_forward():
    def run(L):
        class OnlyBackward(L.autograd.Function):
            @staticmethod
            def backward(ctx, g):
                return g
        OnlyBackward.apply(_leaf(L))
    _same_error(run)


def _sine_functions(L):
    """Sine as custom Functions: old style, setup_context style, with a vmap rule, with jvp."""
    class Old(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            return g * ctx.saved_tensors[0].cos()

    class New(L.autograd.Function):
        @staticmethod
        def forward(x):
            return x.sin()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            return g * ctx.saved_tensors[0].cos()

    class Vmappable(New):
        generate_vmap_rule = True

    class WithJvp(Vmappable):
        @staticmethod
        def jvp(ctx, t):
            return t * ctx.saved_tensors[0].cos()

    return {"old": Old, "new": New, "vmappable": Vmappable, "jvp": WithJvp}


def _forward_ad(L, fn, x):
    fa = L.autograd.forward_ad
    with fa.dual_level():
        dual = fa.make_dual(x, L.ones_like(x))
        return fa.unpack_dual(fn.apply(dual)).tangent


TRANSFORMS = {
    "grad": lambda L, F, x: L.func.grad(lambda t: F.apply(t).sum())(x),
    "vjp": lambda L, F, x: L.func.vjp(F.apply, x)[1](L.ones_like(x))[0],
    "jvp": lambda L, F, x: L.func.jvp(F.apply, (x,), (L.ones_like(x),))[1],
    "jacrev": lambda L, F, x: L.func.jacrev(F.apply)(x),
    "jacfwd": lambda L, F, x: L.func.jacfwd(F.apply)(x),
    "hessian": lambda L, F, x: L.func.hessian(lambda t: F.apply(t).sum())(x),
    "vmap": lambda L, F, x: L.vmap(F.apply)(x),
    "vmap_grad": lambda L, F, x: L.vmap(L.func.grad(lambda t: F.apply(t).sum()))(
        x.reshape(5, 1)),
    "forward_ad": _forward_ad,
    "autograd_jacobian": lambda L, F, x: L.autograd.functional.jacobian(F.apply, x),
    "autograd_jacobian_forward": lambda L, F, x: L.autograd.functional.jacobian(
        F.apply, x, vectorize=True, strategy="forward-mode"),
    "autograd_hessian_forward": lambda L, F, x: L.autograd.functional.hessian(
        lambda t: F.apply(t).sum(), x, vectorize=True, outer_jacobian_strategy="forward-mode"),
    "linearize": lambda L, F, x: L.func.linearize(F.apply, x)[1](L.ones_like(x)),
}


@pytest.mark.parametrize("kind", ["old", "new", "vmappable", "jvp"])
@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_custom_function_inside_transforms(kind, transform):
    """Refused where PyTorch refuses (no setup_context, no vmap rule, no jvp), else the same
    derivative."""
    def run(L):
        return TRANSFORMS[transform](L, _sine_functions(L)[kind], L.tensor(X))
    (mine, my_err), (theirs, their_err) = (_result_or_error_words(run, lib) for lib in LIBS)
    assert my_err == their_err
    if their_err is None:
        np.testing.assert_allclose(_values(mine), _values(theirs), rtol=1e-12, atol=1e-15)


def test_custom_function_outside_transforms_after_a_refusal():
    """The transform counters are reset when the refused call unwinds."""
    def run(L):
        old = _sine_functions(L)["old"]
        with pytest.raises(RuntimeError):
            L.func.grad(lambda t: old.apply(t).sum())(L.tensor(X))
        x = _leaf(L)
        old.apply(x).sum().backward()
        return _values(x.grad)
    np.testing.assert_allclose(*both(run))


# ---- once_differentiable -----------------------------------------------------------------------
def _square_once(L):
    class SquareOnce(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        @L.autograd.function.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g
    return SquareOnce


def _once_gradient(L):
    x = _leaf(L)
    v = L.ones(5, dtype=L.float64, requires_grad=True)
    g, = L.autograd.grad(_square_once(L).apply(x), x, v, create_graph=True)
    return x, v, g


def test_once_differentiable_result_hangs_off_a_stand_in():
    def run(L):
        x, v, g = _once_gradient(L)
        unused = [L.autograd.grad(g.sum(), t, retain_graph=True, allow_unused=True)[0]
                  for t in (x, v)]
        return g.requires_grad, g.grad_fn.name(), unused
    mine, theirs = both(run)
    assert mine == theirs == (True, "torch::autograd::Error", [None, None])


@pytest.mark.parametrize("how", ["grad", "backward"])
def test_once_differentiable_differentiated_again(how):
    def run(L):
        x, v, g = _once_gradient(L)
        if how == "grad":
            L.autograd.grad(g.sum(), x)
        else:
            g.sum().backward()
    _same_error(run, words=80)


def test_gradgradcheck_of_once_differentiable_is_a_mismatch():
    def run(L):
        L.autograd.gradgradcheck(_square_once(L).apply, (_leaf(L),))
    _same_error(run, words=50)


# ---- gradcheck's forward-mode check -----------------------------------------------------------
@pytest.mark.parametrize("backward_ad", [True, False])
def test_gradcheck_forward_ad_passes_on_correct_ops(backward_ad):
    def run(L):
        return L.autograd.gradcheck(lambda x: (x.sin() * x, x.exp().sum()), (_leaf(L),),
                                    check_forward_ad=True, check_backward_ad=backward_ad)
    assert both(run) == [True, True]


def test_gradcheck_forward_ad_refuses_a_function_without_jvp():
    def run(L):
        L.autograd.gradcheck(_sine_functions(L)["old"].apply, (_leaf(L),),
                             check_forward_ad=True, check_backward_ad=False)
    _same_error(run)


# ---- hooks and node names ----------------------------------------------------------------------
@pytest.mark.parametrize("on_leaf", [True, False])
def test_tensor_hook_returning_a_number(on_leaf):
    def run(L):
        x = _leaf(L)
        y = x if on_leaf else x * 2
        y.register_hook(lambda g: 3.0)
        (y * 2).sum().backward()
    _same_error(run)


@pytest.mark.parametrize("op", [
    lambda L, x: L.logaddexp(x, x * 2),
    lambda L, x: L.logaddexp2(x, x * 2),
    lambda L, x: L.complex(x, x * 2),
])
def test_node_names(op):
    mine, theirs = both(lambda L: op(L, _leaf(L)).grad_fn.name())
    assert mine == theirs


# ---- custom Functions: apply's keywords, vjp, gradients of the wrong kind ----------------------
def _scaling(L, forward):
    class Scale(L.autograd.Function):
        @staticmethod
        def backward(ctx, g):
            return g * 2, None
    Scale.forward = staticmethod(forward)
    return Scale


@pytest.mark.parametrize("forward", [
    lambda ctx, x, *, scale=2.0: x * scale,             # keyword-only
    lambda ctx, x, **kw: x * kw.get("scale", 2.0),      # **kwargs
    lambda ctx, x: x,                                   # no such parameter
])
def test_apply_refuses_keywords_forward_takes_by_keyword_only(forward):
    _same_error(lambda L: _scaling(L, forward).apply(_leaf(L), scale=3.0))


def test_apply_binds_a_positional_parameter_given_by_keyword():
    def run(L):
        x = _leaf(L)
        y = _scaling(L, lambda ctx, x, scale=2.0: x * scale).apply(x, scale=3.0)
        y.sum().backward()
        return _values(y), _values(x.grad)
    for a, b in zip(*both(run)):
        np.testing.assert_allclose(a, b)


def _with_vjp(L, also_backward):
    class Sevenfold(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 7

        @staticmethod
        def vjp(ctx, g):
            return g * 7
    if also_backward:
        Sevenfold.backward = staticmethod(lambda ctx, g: g)
    return Sevenfold


def test_custom_function_vjp_stands_for_backward():
    def run(L):
        x = _leaf(L)
        _with_vjp(L, False).apply(x).sum().backward()
        return _values(x.grad)
    np.testing.assert_allclose(*both(run))


def test_custom_function_with_both_backward_and_vjp():
    def run(L):
        _with_vjp(L, True).apply(_leaf(L)).sum().backward()
    _same_error(run)


def test_custom_backward_complex_gradient_for_a_real_input():
    def run(L):
        fn = _identity_fn(L, lambda ctx, g: (g.to(L.complex128), g))
        fn.apply(_leaf(L), _leaf(L)).sum().backward()
    _same_error(run)


def test_custom_function_node_type():
    def run(L):
        y = _identity_fn(L, lambda ctx, g: (g, g)).apply(_leaf(L), _leaf(L))
        return (isinstance(y.grad_fn, L.autograd.function.BackwardCFunction),
                isinstance((y * 2).grad_fn, L.autograd.function.BackwardCFunction))
    mine, theirs = both(run)
    assert mine == theirs == (True, False)


def test_input_returned_as_is_without_grad_is_a_new_tensor():
    def run(L):
        class Same(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g
        x = L.tensor(X)
        y = Same.apply(x)
        y.mul_(2)                      # the memory is shared
        return y is x, y.requires_grad, _values(x)
    mine, theirs = both(run)
    assert mine[:2] == theirs[:2]
    np.testing.assert_allclose(mine[2], theirs[2])


# ---- allow_mutation_on_saved_tensors ----------------------------------------------------------
@pytest.mark.parametrize("op", [
    lambda y: (y * y).sum(),
    lambda y: y.exp().sum(),
    lambda y: (y.reshape(5, 1) @ y.reshape(1, 5)).sum(),
    lambda y: (y ** 3).sum(),
])
def test_allow_mutation_on_saved_tensors_uses_the_saved_values(op):
    def run(L):
        x = _leaf(L)
        y = x * 2
        with L.autograd.graph.allow_mutation_on_saved_tensors():
            z = op(y)
            y.add_(1)
            z.backward()
        return _values(x.grad)
    np.testing.assert_allclose(*both(run), rtol=1e-12)


def test_allow_mutation_on_saved_tensors_not_nested():
    def run(L):
        with L.autograd.graph.allow_mutation_on_saved_tensors():
            with L.autograd.graph.allow_mutation_on_saved_tensors():
                pass
    _same_error(run)


# ---- torch.func's structure messages ----------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda L, x: L.func.vjp(lambda a: (a, [a, {"k": a}]), x)[1](x),
    lambda L, x: L.func.vjp(lambda a: ((a,),), x)[1](x),
    lambda L, x: L.func.jvp(lambda a, b: a, (x, x), ([x], x)),
])
def test_func_structure_mismatch_messages(call):
    _same_error(lambda L: call(L, L.tensor(X)))


def test_node_hook_giving_a_gradient_where_none_was():
    def run(L):
        x = _leaf(L)
        y = x * 2                   # the scalar factor's slot gets no gradient
        y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0],) * 2)
        y.sum().backward()
    _same_error(run)


@pytest.mark.parametrize("call", [
    lambda L, x: L.autograd.grad([x.sum(), None], x),
    lambda L, x: L.autograd.grad([x.sum(), 3.0], x),
    lambda L, x: L.autograd.backward([x.sum(), None]),
])
def test_non_tensor_among_the_outputs(call):
    _same_error(lambda L: call(L, _leaf(L)))


# ---- custom Functions written without @staticmethod; backward twice; mark_dirty -------------
def _relu_without_staticmethod(L):
    class MyReLU(L.autograd.Function):
        def forward(ctx, x):            # PyTorch runs this as written: tensors in
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * (x > 0)
    return MyReLU


def test_function_written_without_staticmethod_gets_tensors():
    def run(L):
        x = _leaf(L)
        y = _relu_without_staticmethod(L).apply(x * x - 1)
        g, = L.autograd.grad(y.sum(), x, create_graph=True)
        gg, = L.autograd.grad(g.sum(), x)
        return y.grad_fn.name(), _values(y), _values(g), _values(gg)
    mine, theirs = both(run)
    assert mine[0] == theirs[0]
    for a, b in zip(mine[1:], theirs[1:]):
        np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("reads_saved", [False, True])
def test_custom_function_backward_twice(reads_saved):
    """PyTorch frees a custom Function's saved tensors only: a second backward works unless
    backward reads them."""
    def run(L):
        class Twice(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                ctx.factor = 2.0
                return x * 2

            @staticmethod
            def backward(ctx, g):
                if reads_saved:
                    ctx.saved_tensors
                return g * ctx.factor
        x = _leaf(L)
        y = Twice.apply(x)
        y.sum().backward()
        y.sum().backward()
        return _values(x.grad)
    if reads_saved:
        _same_error(run)
    else:
        np.testing.assert_allclose(*both(run))


def test_mark_dirty_of_an_input_not_returned():
    def run(L):
        class Dirty(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.mark_dirty(x)
                x.mul_(2)
                return x * 1

            @staticmethod
            def backward(ctx, g):
                return g
        Dirty.apply(_leaf(L) * 1)
    _same_error(run)


def _doubling_in_place(L):
    class DoubleInPlace(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x.mul_(2)

        @staticmethod
        def backward(ctx, g):
            return g * 2
    return DoubleInPlace


@pytest.mark.parametrize("view", [
    lambda y: y[:2],
    lambda y: y.reshape(5, 1).t()[:, 1:3],
    lambda y: y[1::2],
])
def test_mark_dirty_on_a_view_rebases_the_base(view):
    def run(L):
        x = _leaf(L)
        y = x * 1
        v = view(y)
        z = _doubling_in_place(L).apply(v)
        g, = L.autograd.grad((y * y).sum() + (z * 10).sum(), x, create_graph=True)
        gg, = L.autograd.grad(g.sum(), x)
        return (z is v, z.grad_fn.name(), y.grad_fn.name(), z._version, _values(y), _values(g),
                _values(gg))
    mine, theirs = both(run)
    assert mine[:4] == theirs[:4]
    for a, b in zip(mine[4:], theirs[4:]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_mark_dirty_on_a_view_of_a_leaf():
    _same_error(lambda L: _doubling_in_place(L).apply(_leaf(L)[:2]))


def test_gradcheck_reports_a_non_reentrant_backward_first():
    """A backward that adds noise: PyTorch's reentrancy check comes before the comparison
    with the numerical Jacobian (which would fail too)."""
    def run(L):
        noise = iter(np.random.default_rng(3).random((10, 5)) * 1e-3)

        class Noisy(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2 + L.tensor(next(noise))
        L.autograd.gradcheck(Noisy.apply, (_leaf(L),))
    _same_error(run, words=60)


# ---- complex numbers in the Jacobian transforms -----------------------------------------------
Z = X[:3] + 1j * X[2:]
R = X[:3]


@pytest.mark.parametrize("call", [
    lambda L, z, r: L.func.jacrev(lambda t: t * t)(z),
    lambda L, z, r: L.func.jacrev(lambda a, t: t * t, argnums=1)(r, z),
    lambda L, z, r: L.func.jacrev(lambda d: d["a"] * d["b"])({"a": r, "b": z}),
    lambda L, z, r: L.func.jacrev(lambda a: (a, a * 1j))(r),
    lambda L, z, r: L.func.jacfwd(lambda t: t * t)(z),
    lambda L, z, r: L.func.jacfwd(lambda a: a * 1j)(r),
    lambda L, z, r: L.func.hessian(lambda t: t.abs().sum())(z),
    lambda L, z, r: L.autograd.functional.jacobian(lambda t: t * 1j, r),
    lambda L, z, r: L.autograd.functional.hessian(lambda t: t.abs().sum(), z),
])
def test_complex_refused_by_jacobians(call):
    _same_error(lambda L: call(L, L.tensor(Z), L.tensor(R)))


@pytest.mark.parametrize("call", [
    lambda L, z: L.func.jvp(lambda t: t * t.conj(), (z,), (L.ones_like(z) * (1 + 2j),))[1],
    lambda L, z: L.func.vjp(lambda t: t * t.conj() + t, z)[1](L.ones_like(z) * (1 + 2j))[0],
    lambda L, z: L.func.grad(lambda t: (t * t.conj()).real.sum())(z),
    lambda L, z: L.func.jacrev(lambda a, t: a * t.abs(), argnums=0)(z.real.clone(), z.real.clone()),
    lambda L, z: L.autograd.functional.jacobian(lambda t: t.abs(), z),
])
def test_complex_allowed_where_pytorch_allows(call):
    mine, theirs = both(lambda L: call(L, L.tensor(Z)).detach().numpy())
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)


# ---- vmap's structure messages ------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda L, x: L.vmap(lambda a: (a, a), out_dims=(0,))(x),
    lambda L, x: L.vmap(lambda a: (a, [a]), out_dims=(0, [0, 1]))(x),
    lambda L, x: L.vmap(lambda a, b: a, in_dims=(0, 0.5))(x, x),
    lambda L, x: L.vmap(lambda a: a, in_dims=((0,),))(x),
    lambda L, x: L.vmap(lambda p: p[0], in_dims=((0,),))((x, x)),
    lambda L, x: L.vmap(lambda a, b: a, in_dims=(0, 0, 0))(x, x),
    lambda L, x: L.vmap(lambda d: d["a"], in_dims=({"b": 0},))({"a": x}),
])
def test_vmap_dims_structure_messages(call):
    _same_error(lambda L: call(L, L.tensor(X).reshape(5, 1)))


def test_custom_function_next_functions_leave_out_non_tensor_arguments():
    def run(L):
        class Affine(L.autograd.Function):
            @staticmethod
            def forward(ctx, x, k, y):
                ctx.k = k
                return x * k + y

            @staticmethod
            def backward(ctx, g):
                return g * ctx.k, None, g
        z = Affine.apply(_leaf(L), 2.0, L.tensor(X))
        return ([(type(n).__name__ if n is not None else None, i)
                 for n, i in z.grad_fn.next_functions], z.grad_fn.needs_input_grad)
    mine, theirs = both(run)
    assert mine == theirs
