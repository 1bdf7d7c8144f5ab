"""Autograd mechanics as third-party code uses them, run on minigrad and on PyTorch.

Each ``program(lib)`` exercises one piece of the autograd machinery: tensor hooks and their
handles, retain_grad, accumulation of .grad across backward calls, backward(inputs=...,
gradient=...), retain_graph, autograd.grad's options, custom autograd.Function features
(save_for_backward, mark_dirty, mark_non_differentiable, set_materialize_grads,
needs_input_grad, once_differentiable, the setup_context style), saved-tensor hooks, graph
node introspection, grad modes as context managers and decorators, in-place ops on leaves and
views, and version counters.  Both libraries must give the same values, dtypes and shapes, or
raise the same exception type with torch's words in the message, and the same warnings.
"""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, dotted, err, registry  # noqa: E402

HARNESS = SideBySide(
    rename=dotted, rename_error=dotted,
    tol={"float16": 1e-3, "float32": 1e-5, "float64": 1e-9}, scalar_tol=(1e-6, 1e-8),
    tag=lambda v: type(v) is list, requires_grad=True, first_line=True)

PROGRAMS, program = registry()
# the part of torch's message compared where the rest names its internals (legacy tensor type
# names, graph node names, its own hints)
_INPLACE = "one of the variables needed for gradient computation has been modified by an " \
    "inplace operation"


def _x(lib, *shape, seed=0, dtype="float64", rg=True):
    v = np.random.RandomState(seed).randn(*shape)
    return lib.tensor(v, dtype=getattr(lib, dtype), requires_grad=rg)


def _warned(fn):
    """fn()'s result and the categories of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, sorted({w.category.__name__ for w in caught})


# ----------------------------------------------------------------------------------------------
# tensor hooks
# ----------------------------------------------------------------------------------------------
@program
def hook_returns_new_grad(lib):
    x = _x(lib, 3)
    x.register_hook(lambda g: g * 2)
    (x * x).sum().backward()
    return x.grad


@program
def hook_returns_none_keeps_grad(lib):
    x = _x(lib, 3)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()))
    (x * 3).sum().backward()
    return x.grad, seen


@program
def hook_removed_handle(lib):
    x = _x(lib, 3)
    h = x.register_hook(lambda g: g * 10)
    h.remove()
    (x * 2).sum().backward()
    return x.grad


@program
def hook_remove_twice(lib):
    x = _x(lib, 3)
    h = x.register_hook(lambda g: g * 10)
    h.remove()
    h.remove()
    (x * 2).sum().backward()
    return x.grad


@program
def hook_handle_context_manager(lib):
    x = _x(lib, 3)
    with x.register_hook(lambda g: g * 10):
        pass
    (x * 2).sum().backward()
    return x.grad


@program
def hooks_chain_in_order(lib):
    x = _x(lib, 3)
    order = []
    x.register_hook(lambda g: (order.append(1), g + 1)[1])
    x.register_hook(lambda g: (order.append(2), g * 3)[1])
    x.sum().backward()
    return x.grad, order


@program
def hook_on_nonleaf_changes_upstream(lib):
    x = _x(lib, 3)
    y = x * 2
    y.register_hook(lambda g: g * 0 + 5)
    (y * y).sum().backward()
    return x.grad


@program
def hook_on_nonleaf_sees_grad(lib):
    x = _x(lib, 3)
    y = x.exp()
    seen = []
    y.register_hook(lambda g: seen.append(g.clone()))
    (y * 4).sum().backward()
    return seen, x.grad


@program
def hook_on_tensor_without_grad(lib):
    x = lib.ones(3)
    return err(lambda: x.register_hook(lambda g: g))


@program
def hook_on_nonleaf_with_retain_grad(lib):
    x = _x(lib, 3)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 3)
    y.sum().backward()
    return y.grad, x.grad


@program
def hook_wrong_shape_return(lib):
    x = _x(lib, 3)
    y = x * 2
    y.register_hook(lambda g: g.sum())
    return err(lambda: y.sum().backward())


@program
def hook_on_leaf_inplace_grad_accumulation(lib):
    x = _x(lib, 2)
    x.register_hook(lambda g: g * 2)
    (x * 1).sum().backward()
    (x * 1).sum().backward()
    return x.grad


@program
def post_accumulate_grad_hook(lib):
    x = _x(lib, 3)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone()))
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    return seen


@program
def post_accumulate_grad_hook_nonleaf(lib):
    x = _x(lib, 3)
    y = x * 2
    return err(lambda: y.register_post_accumulate_grad_hook(lambda t: None))


# ----------------------------------------------------------------------------------------------
# retain_grad and .grad of non-leaves
# ----------------------------------------------------------------------------------------------
@program
def retain_grad_nonleaf(lib):
    x = _x(lib, 3)
    y = x * x
    y.retain_grad()
    (y * 2).sum().backward()
    return y.grad, y.retains_grad, x.retains_grad


@program
def nonleaf_grad_warns(lib):
    x = _x(lib, 3)
    y = x * 2
    y.sum().backward()
    return _warned(lambda: y.grad is None)


@program
def retain_grad_on_leaf_noop(lib):
    x = _x(lib, 3)
    x.retain_grad()
    x.sum().backward()
    return x.grad, x.retains_grad


@program
def retain_grad_on_no_grad_tensor(lib):
    x = lib.ones(3)
    return err(lambda: x.retain_grad())


@program
def retain_grad_accumulates(lib):
    x = _x(lib, 3)
    y = x * 2
    y.retain_grad()
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    return y.grad


@program
def grad_accumulates_across_backward(lib):
    x = _x(lib, 3)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    return x.grad


@program
def grad_set_none_then_backward(lib):
    x = _x(lib, 3)
    (x * 2).sum().backward()
    x.grad = None
    (x * 3).sum().backward()
    return x.grad


@program
def grad_assign_wrong_shape(lib):
    x = _x(lib, 3)
    return err(lambda: setattr(x, "grad", lib.zeros(4, dtype=lib.float64)))


@program(words="attempting to assign a gradient with dtype")
def grad_assign_wrong_dtype(lib):
    x = _x(lib, 3)
    setattr(x, "grad", lib.zeros(3, dtype=lib.float32))


@program
def grad_assign_then_accumulate(lib):
    x = _x(lib, 3)
    x.grad = lib.ones(3, dtype=lib.float64)
    (x * 2).sum().backward()
    return x.grad


@program
def grad_float32_leaf_from_float64_graph(lib):
    x = _x(lib, 3, dtype="float32")
    y = x.double() * 2
    y.sum().backward()
    return x.grad


@program
def grad_half_leaf(lib):
    x = _x(lib, 3, dtype="float16")
    (x.float() * 3).sum().backward()
    return x.grad


@program
def zero_grad_leaves_tensor(lib):
    x = _x(lib, 3)
    (x * 2).sum().backward()
    x.grad.zero_()
    (x * 1).sum().backward()
    return x.grad


# ----------------------------------------------------------------------------------------------
# backward options
# ----------------------------------------------------------------------------------------------
@program
def backward_inputs_subset(lib):
    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    (a * b).sum().backward(inputs=[a])
    return a.grad, b.grad is None


@program
def backward_inputs_single_tensor(lib):
    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    (a * b).sum().backward(inputs=b)
    return a.grad is None, b.grad


@program
def backward_inputs_nonleaf(lib):
    a = _x(lib, 3)
    m = a * 2
    (m * m).sum().backward(inputs=[m])
    return m.grad, a.grad is None


@program
def backward_inputs_empty(lib):
    a = _x(lib, 3)
    return err(lambda: (a * 2).sum().backward(inputs=[]))


@program
def backward_nonscalar_needs_gradient(lib):
    a = _x(lib, 3)
    return err(lambda: (a * 2).backward())


@program
def backward_gradient_given(lib):
    a = _x(lib, 3)
    (a * 2).backward(gradient=lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64))
    return a.grad


@program
def backward_gradient_wrong_shape(lib):
    a = _x(lib, 3)
    return err(lambda: (a * 2).backward(lib.ones(4, dtype=lib.float64)))


@program
def backward_gradient_wrong_dtype(lib):
    a = _x(lib, 3)
    return err(lambda: (a * 2).backward(lib.ones(3, dtype=lib.float32)))


@program
def backward_gradient_int_dtype(lib):
    a = _x(lib, 3)
    return err(lambda: (a * 2).backward(lib.ones(3, dtype=lib.int64)))


@program
def backward_scalar_gradient_broadcast_not_allowed(lib):
    a = _x(lib, 3)
    return err(lambda: (a * 2).backward(lib.tensor(1.0, dtype=lib.float64)))


@program
def backward_no_grad_tensor(lib):
    a = lib.ones(3)
    return err(lambda: a.sum().backward())


@program
def backward_twice_without_retain(lib):
    a = _x(lib, 3)
    y = (a.exp() * a).sum()
    y.backward()
    return err(lambda: y.backward())


@program
def backward_twice_with_retain(lib):
    a = _x(lib, 3)
    y = (a.exp() * a).sum()
    y.backward(retain_graph=True)
    y.backward()
    return a.grad


@program
def backward_create_graph_double(lib):
    a = _x(lib, 3)
    y = (a ** 3).sum()
    y.backward(create_graph=True)
    g = a.grad
    a.grad = None
    g.sum().backward()
    return g.requires_grad, a.grad


@program
def backward_on_leaf_scalar(lib):
    a = lib.tensor(2.0, requires_grad=True)
    a.backward()
    return a.grad


# ----------------------------------------------------------------------------------------------
# autograd.grad
# ----------------------------------------------------------------------------------------------
@program
def grad_basic(lib):
    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    ga, gb = lib.autograd.grad((a * b).sum(), (a, b))
    return ga, gb, a.grad is None


@program
def grad_single_input_returns_tuple(lib):
    a = _x(lib, 3)
    out = lib.autograd.grad((a * 2).sum(), a)
    return type(out).__name__, len(out), out[0]


@program
def grad_unused_error(lib):
    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    return err(lambda: lib.autograd.grad((a * 2).sum(), [a, b]))


@program
def grad_allow_unused(lib):
    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    ga, gb = lib.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    return ga, gb is None


@program
def grad_materialize(lib):
    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    ga, gb = lib.autograd.grad((a * 2).sum(), [a, b], materialize_grads=True)
    return ga, gb


@program
def grad_materialize_allow_unused_false(lib):
    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    return err(lambda: lib.autograd.grad((a * 2).sum(), [a, b], allow_unused=False,
                                         materialize_grads=True))


@program
def grad_outputs_nonscalar_without_grad_outputs(lib):
    a = _x(lib, 3)
    return err(lambda: lib.autograd.grad(a * 2, a))


@program
def grad_outputs_given(lib):
    a = _x(lib, 3)
    (g,) = lib.autograd.grad(a * a, a, grad_outputs=lib.ones(3, dtype=lib.float64) * 2)
    return g


@program
def grad_outputs_list_with_none(lib):
    a = _x(lib, 3)
    (g,) = lib.autograd.grad([(a * a).sum(), (a * 3).sum()], a, grad_outputs=[None, None])
    return g


@program
def grad_outputs_wrong_shape(lib):
    a = _x(lib, 3)
    return err(lambda: lib.autograd.grad(a * 2, a, grad_outputs=lib.ones(2, dtype=lib.float64)))


@program
def grad_outputs_wrong_length(lib):
    a = _x(lib, 3)
    return err(lambda: lib.autograd.grad([(a * 2).sum()], a,
                                         grad_outputs=[lib.tensor(1.0), lib.tensor(1.0)]))


@program
def grad_create_graph_second_order(lib):
    a = _x(lib, 3)
    (g,) = lib.autograd.grad((a ** 3).sum(), a, create_graph=True)
    (h,) = lib.autograd.grad(g.sum(), a)
    return g, g.requires_grad, h


@program
def grad_no_create_graph_result_no_grad(lib):
    a = _x(lib, 3)
    (g,) = lib.autograd.grad((a ** 3).sum(), a)
    return g.requires_grad, g.grad_fn is None


@program
def grad_retain_graph_twice(lib):
    a = _x(lib, 3)
    y = (a.sin() * a).sum()
    g1 = lib.autograd.grad(y, a, retain_graph=True)[0]
    g2 = lib.autograd.grad(y, a)[0]
    return g1, g2, err(lambda: lib.autograd.grad(y, a))


@program
def grad_is_grads_batched(lib):
    a = _x(lib, 3)
    y = a * a
    (j,) = lib.autograd.grad(y, a, grad_outputs=lib.eye(3, dtype=lib.float64),
                             is_grads_batched=True)
    return j


@program
def grad_input_not_requiring_grad(lib):
    a = _x(lib, 3)
    b = lib.ones(3, dtype=lib.float64)
    return err(lambda: lib.autograd.grad((a * b).sum(), [a, b]))


@program
def grad_output_not_requiring_grad(lib):
    a = _x(lib, 3)
    return err(lambda: lib.autograd.grad(lib.ones(()), a))


@program
def grad_wrt_nonleaf(lib):
    a = _x(lib, 3)
    m = a.exp()
    (g,) = lib.autograd.grad((m * 3).sum(), m)
    return g


@program
def grad_only_inputs_warns(lib):
    a = _x(lib, 3)
    return _warned(lambda: lib.autograd.grad((a * 2).sum(), a, only_inputs=True)[0])


@program
def grad_does_not_touch_dotgrad(lib):
    a = _x(lib, 3)
    (a * 2).sum().backward()
    lib.autograd.grad((a * 5).sum(), a)
    return a.grad


@program
def autograd_backward_function(lib):
    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    lib.autograd.backward([(a * b).sum(), (a * 2).sum()])
    return a.grad, b.grad


@program
def autograd_backward_grad_tensors(lib):
    a = _x(lib, 3)
    lib.autograd.backward(a * 3, grad_tensors=lib.ones(3, dtype=lib.float64) * 2)
    return a.grad


# ----------------------------------------------------------------------------------------------
# custom autograd.Function
# ----------------------------------------------------------------------------------------------
def _square(lib):
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g
    return Square


@program
def function_save_for_backward(lib):
    a = _x(lib, 3)
    y = _square(lib).apply(a)
    y.sum().backward()
    return y, a.grad, y.grad_fn.name()


@program
def function_double_backward(lib):
    a = _x(lib, 3)
    y = _square(lib).apply(a)
    (g,) = lib.autograd.grad(y.sum(), a, create_graph=True)
    (h,) = lib.autograd.grad(g.sum(), a)
    return g, h


@program
def function_saved_tensors_twice_after_free(lib):
    a = _x(lib, 3)
    y = _square(lib).apply(a)
    y.sum().backward()
    return err(lambda: y.grad_fn.saved_tensors)


@program
def function_needs_input_grad(lib):
    seen = []

    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k):
            return x * y * k

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            return g, None, None

    a = _x(lib, 3)
    b = _x(lib, 3, rg=False)
    F.apply(a, b, 2.0).sum().backward()
    return seen, a.grad


@program
def function_returns_too_few_grads(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    return err(lambda: F.apply(a, b).sum().backward())


@program
def function_returns_too_many_grads(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    a = _x(lib, 3)
    return err(lambda: F.apply(a).sum().backward())


@program
def function_extra_none_grads_ok(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None

    a = _x(lib, 3)
    F.apply(a).sum().backward()
    return a.grad


@program
def function_wrong_shape_grad(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum()

    a = _x(lib, 3)
    return err(lambda: F.apply(a).sum().backward())


@program
def function_broadcastable_grad_shape(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum(0)

        @staticmethod
        def backward(ctx, g):
            return g.unsqueeze(0)

    a = _x(lib, 2, 3)
    return err(lambda: F.apply(a).sum().backward())


@program
def function_wrong_dtype_grad_cast(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.float()

    a = _x(lib, 3)
    F.apply(a).sum().backward()
    return a.grad


@program
def function_returns_none_grad(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return None, g

    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    F.apply(a, b).sum().backward()
    return a.grad is None, b.grad


@program
def function_grad_for_non_tensor_input(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    a = _x(lib, 3)
    return err(lambda: F.apply(a, 2.0).sum().backward())


@program
def function_mark_dirty(lib):
    class AddOne(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    a = _x(lib, 3)
    b = a.clone()
    v0 = b._version
    c = AddOne.apply(b)
    (c * 2).sum().backward()
    return c is b, b._version > v0, a.grad, c.grad_fn.name()


@program
def function_inplace_without_mark_dirty_leaf(lib):
    class AddOne(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    a = _x(lib, 3)
    return err(lambda: AddOne.apply(a))


@program
def function_mark_non_differentiable(lib):
    class SortIdx(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            v, i = x.sort()
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(i)
            return v, i

        @staticmethod
        def backward(ctx, gv, gi):
            (i,) = ctx.saved_tensors
            out = lib.zeros_like(gv)
            out[i] = gv
            return out

    a = _x(lib, 4)
    v, i = SortIdx.apply(a)
    (v * lib.arange(4.0, dtype=lib.float64)).sum().backward()
    return v.requires_grad, i.requires_grad, a.grad


@program
def function_materialize_grads_default(lib):
    seen = []

    class Two(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append((g1 is None, g2 is None))
            return g1 * 2 + g2 * 3

    a = _x(lib, 3)
    p, q = Two.apply(a)
    p.sum().backward()
    return seen, a.grad


@program
def function_set_materialize_grads_false(lib):
    seen = []

    class Two(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append((g1 is None, g2 is None))
            out = 0
            if g1 is not None:
                out = out + g1 * 2
            if g2 is not None:
                out = out + g2 * 3
            return out

    a = _x(lib, 3)
    p, q = Two.apply(a)
    p.sum().backward()
    return seen, a.grad


@program
def function_once_differentiable(lib):
    from importlib import import_module
    once = import_module(lib.__name__ + ".autograd.function").once_differentiable

    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        @once
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    a = _x(lib, 3)
    y = F.apply(a)
    (g,) = lib.autograd.grad(y.sum(), a, create_graph=True)
    return g, g.requires_grad, err(lambda: g.sum().backward())


@program
def function_setup_context_style(lib):
    class Mul(lib.autograd.Function):
        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k = inputs
            ctx.k = k
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    a = _x(lib, 3)
    y = Mul.apply(a, 4.0)
    y.sum().backward()
    return y, a.grad


@program
def function_forward_returns_input(lib):
    class Ident(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    a = _x(lib, 3)
    y = Ident.apply(a)
    y.sum().backward()
    return y is a, a.grad


@program
def function_non_tensor_output(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, 7

        @staticmethod
        def backward(ctx, g, _):
            return g * 2

    a = _x(lib, 3)
    y, k = F.apply(a)
    y.sum().backward()
    return k, a.grad


@program
def function_no_grad_input(lib):
    a = _x(lib, 3, rg=False)
    y = _square(lib).apply(a)
    return y.requires_grad, y.grad_fn is None


@program
def function_under_no_grad(lib):
    a = _x(lib, 3)
    with lib.no_grad():
        y = _square(lib).apply(a)
    return y.requires_grad


@program
def function_call_forward_directly_errors(lib):
    Sq = _square(lib)
    return err(lambda: Sq()(lib.ones(2)), quiet=True)


@program
def function_vmap_absent(lib):
    Sq = _square(lib)
    return hasattr(Sq, "generate_vmap_rule"), Sq.generate_vmap_rule


@program
def function_backward_not_implemented(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    a = _x(lib, 3)
    return err(lambda: F.apply(a).sum().backward())


@program
def function_save_non_tensor_errors(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

    a = _x(lib, 3)
    return err(lambda: F.apply(a))


@program
def function_save_none_ok(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, None)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            x, n = ctx.saved_tensors
            return g * 2 + 0 * x if n is None else g

    a = _x(lib, 3)
    F.apply(a).sum().backward()
    return a.grad


@program(words=_INPLACE)
def function_saved_input_modified_inplace(lib):
    a = _x(lib, 3)
    b = a * 1
    y = _square(lib).apply(b)
    b.add_(1)
    y.sum().backward()


# ----------------------------------------------------------------------------------------------
# saved tensor hooks
# ----------------------------------------------------------------------------------------------
@program
def saved_tensors_hooks_pack_unpack(lib):
    packed = []

    def pack(t):
        packed.append(tuple(t.shape))
        return t * 1

    def unpack(t):
        return t

    a = _x(lib, 3)
    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = (a * a).sum()
    y.backward()
    return a.grad, len(packed) > 0


@program
def saved_tensors_hooks_unpack_changes_value(lib):
    a = _x(lib, 3)
    with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t * 0 + 1):
        y = _square(lib).apply(a)
    y.sum().backward()
    return a.grad


@program
def save_on_cpu(lib):
    a = _x(lib, 3)
    with lib.autograd.graph.save_on_cpu():
        y = (a.exp() * a).sum()
    y.backward()
    return a.grad


@program
def disable_saved_tensors_hooks(lib):
    a = _x(lib, 3)

    def run():
        with lib.autograd.graph.disable_saved_tensors_hooks("no hooks here"):
            with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
    return err(run)


# ----------------------------------------------------------------------------------------------
# anomaly detection
# ----------------------------------------------------------------------------------------------
@program
def detect_anomaly_nan_backward(lib):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    a = _x(lib, 3)

    def run():
        with lib.autograd.detect_anomaly():
            Bad.apply(a).sum().backward()
    return err(run, quiet=True)


@program
def detect_anomaly_check_nan_false(lib):
    a = _x(lib, 3)

    def run():
        with lib.autograd.detect_anomaly(check_nan=False):
            (a * 2).sum().backward()
        return a.grad
    return _warned(run)[0], lib.is_anomaly_enabled()


@program
def set_detect_anomaly_flag(lib):
    with lib.autograd.set_detect_anomaly(True):
        on = lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()
    return on, lib.is_anomaly_enabled()


# ----------------------------------------------------------------------------------------------
# graph introspection
# ----------------------------------------------------------------------------------------------
@program
def grad_fn_names(lib):
    a = _x(lib, 2, 3)
    y = (a * 2).sum(1).exp()
    return y.grad_fn.name()


@program
def next_functions_structure(lib):
    a, b = _x(lib, 3, seed=1), _x(lib, 3, seed=2)
    y = a * b
    nf = y.grad_fn.next_functions
    return len(nf), [f.name().split(':')[-1] for f, _ in nf], [i for _, i in nf], \
        nf[0][0].variable is a


@program
def next_functions_constant_input(lib):
    a = _x(lib, 3)
    c = lib.ones(3, dtype=lib.float64)
    y = a + c
    nf = y.grad_fn.next_functions
    return [f is None for f, _ in nf]


@program
def accumulate_grad_node(lib):
    a = _x(lib, 3)
    y = a * 2
    node = y.grad_fn.next_functions[0][0]
    return node.name().split(':')[-1]


@program
def leaf_grad_fn_none(lib):
    a = _x(lib, 3)
    return a.grad_fn is None, a.is_leaf, (a * 2).is_leaf, lib.ones(2).is_leaf


@program
def node_register_hook(lib):
    a = _x(lib, 3)
    y = a.exp()
    seen = []
    y.grad_fn.register_hook(lambda gi, go: seen.append((len(gi), len(go))))
    (y * 2).sum().backward()
    return seen, a.grad


@program
def node_hook_replaces_grad_inputs(lib):
    a = _x(lib, 3)
    y = a * 3
    y.grad_fn.register_hook(lambda gi, go: tuple(None if g is None else g * 0 + 1 for g in gi))
    y.sum().backward()
    return a.grad


@program
def node_register_prehook(lib):
    a = _x(lib, 3)
    y = a * 3
    y.grad_fn.register_prehook(lambda go: (go[0] * 10,))
    y.sum().backward()
    return a.grad


@program
def node_hook_handle_remove(lib):
    a = _x(lib, 3)
    y = a * 3
    h = y.grad_fn.register_prehook(lambda go: (go[0] * 10,))
    h.remove()
    y.sum().backward()
    return a.grad


@program
def node_metadata(lib):
    a = _x(lib, 3)
    y = a * 3
    y.grad_fn.metadata["tag"] = "mine"
    return dict(y.grad_fn.metadata), y.grad_fn.metadata is y.grad_fn.metadata


@program
def node_isinstance_graph_node(lib):
    a = _x(lib, 3)
    y = a * 3
    return isinstance(y.grad_fn, lib.autograd.graph.Node), \
        isinstance(_square(lib).apply(a).grad_fn, lib.autograd.graph.Node)


@program
def custom_function_node_next_functions(lib):
    a = _x(lib, 3)
    y = _square(lib).apply(a * 2)
    return [f.name() for f, _ in y.grad_fn.next_functions]


# ----------------------------------------------------------------------------------------------
# grad modes
# ----------------------------------------------------------------------------------------------
@program
def no_grad_decorator(lib):
    @lib.no_grad()
    def f(x):
        return x * 2

    a = _x(lib, 3)
    return f(a).requires_grad, lib.is_grad_enabled()


@program
def no_grad_bare_decorator(lib):
    @lib.no_grad
    def f(x):
        return x * 2

    a = _x(lib, 3)
    return f(a).requires_grad


@program
def enable_grad_inside_no_grad(lib):
    a = _x(lib, 3)
    with lib.no_grad():
        with lib.enable_grad():
            y = a * 2
        z = a * 2
    return y.requires_grad, z.requires_grad


@program
def set_grad_enabled_function_and_context(lib):
    a = _x(lib, 3)
    with lib.set_grad_enabled(False):
        y = a * 2
    lib.set_grad_enabled(False)
    z = a * 2
    lib.set_grad_enabled(True)
    w = a * 2
    return y.requires_grad, z.requires_grad, w.requires_grad, lib.is_grad_enabled()


@program
def set_grad_enabled_decorator(lib):
    @lib.set_grad_enabled(False)
    def f(x):
        return x * 2

    a = _x(lib, 3)
    return f(a).requires_grad, lib.is_grad_enabled()


@program
def enable_grad_decorator(lib):
    @lib.enable_grad()
    def f(x):
        return x * 2

    a = _x(lib, 3)
    with lib.no_grad():
        y = f(a)
    return y.requires_grad


@program
def no_grad_generator_decorator(lib):
    @lib.no_grad()
    def gen(x):
        for i in range(2):
            yield x * i, lib.is_grad_enabled()

    a = _x(lib, 3)
    out = [(t.requires_grad, e) for t, e in gen(a)]
    return out, lib.is_grad_enabled()


@program
def inference_mode_nested(lib):
    a = _x(lib, 3)
    with lib.inference_mode():
        y = a * 2
        with lib.inference_mode(False):
            z = a * 2
    return y.requires_grad, y.is_inference(), z.requires_grad


@program
def no_grad_exception_restores(lib):
    def run():
        with lib.no_grad():
            raise ValueError("boom")
    r = err(run)
    return r, lib.is_grad_enabled()


# ----------------------------------------------------------------------------------------------
# views, in-place ops and versions
# ----------------------------------------------------------------------------------------------
@program
def inplace_on_leaf_requiring_grad(lib):
    a = _x(lib, 3)
    return err(lambda: a.add_(1))


@program
def inplace_on_leaf_under_no_grad(lib):
    a = _x(lib, 3)
    with lib.no_grad():
        a.mul_(2)
    (a * 1).sum().backward()
    return a, a.grad, a._version


@program
def inplace_on_view_of_leaf(lib):
    a = _x(lib, 3)
    return err(lambda: a[0:2].mul_(2))


@program
def view_requires_grad_propagation(lib):
    a = _x(lib, 2, 3)
    v = a.view(3, 2)
    t = a.t()
    return v.requires_grad, v.is_leaf, t.requires_grad, v._base is a


@program
def inplace_on_view_of_nonleaf_grad(lib):
    a = _x(lib, 4)
    b = a * 1
    b[1:3].mul_(10)
    b.sum().backward()
    return a.grad


@program
def inplace_nonleaf_modified_saved(lib):
    a = _x(lib, 3)
    b = a * 1
    c = b.exp()
    b.add_(1)
    return err(lambda: c.sum().backward())


@program(words=_INPLACE)
def inplace_output_of_exp_modified(lib):
    a = _x(lib, 3)
    c = a.exp()
    c.add_(1)
    c.sum().backward()


@program
def inplace_sigmoid_ok(lib):
    a = _x(lib, 3)
    b = a * 1
    b.sigmoid_()
    b.sum().backward()
    return a.grad


@program
def version_counter_increments(lib):
    a = lib.zeros(3)
    v = [a._version]
    a.add_(1)
    v.append(a._version)
    a[0] = 5
    v.append(a._version)
    a.mul_(2).add_(1)
    v.append(a._version)
    b = a.view(3)
    b.add_(1)
    v.append((a._version, b._version))
    return v


@program
def detach_shares_version(lib):
    a = _x(lib, 3)
    d = a.detach()
    d.add_(1)
    return a._version, d._version, d.requires_grad, d.is_leaf


@program(words="Can't detach views in-place. Use detach() instead")
def detach_inplace_on_view(lib):
    a = _x(lib, 3)
    v = a * 1
    w = v[0:2]
    w.detach_()


@program
def detach_inplace_nonleaf(lib):
    a = _x(lib, 3)
    v = a * 2
    v.detach_()
    return v.requires_grad, v.grad_fn is None, v.is_leaf


@program(words=_INPLACE)
def detach_then_modify_breaks_backward(lib):
    a = _x(lib, 3)
    b = a.exp()
    b.detach().zero_()
    b.sum().backward()


@program
def requires_grad_on_nonleaf_error(lib):
    a = _x(lib, 3)
    b = a * 2
    return err(lambda: b.requires_grad_(False))


@program
def requires_grad_int_tensor_error(lib):
    return err(lambda: lib.tensor([1, 2]).requires_grad_())


@program
def requires_grad_int_factory_error(lib):
    return err(lambda: lib.ones(3, dtype=lib.int64, requires_grad=True))


@program
def data_assignment_keeps_grad_flag(lib):
    a = _x(lib, 3)
    a.data = lib.zeros(3, dtype=lib.float64)
    (a * 2).sum().backward()
    return a, a.grad, a.requires_grad


@program
def data_inplace_no_version_tracking(lib):
    a = _x(lib, 3)
    b = a.exp()
    b.data.mul_(0)
    b.sum().backward()
    return a.grad


@program(words=_INPLACE)
def leaf_inplace_after_use_error(lib):
    a = _x(lib, 3)
    y = (a * a).sum()
    with lib.no_grad():
        a.add_(1)
    y.backward()


@program
def view_of_leaf_inplace_under_no_grad_then_grad(lib):
    a = _x(lib, 4)
    with lib.no_grad():
        a[:2] = 0
    (a ** 2).sum().backward()
    return a.grad


@program
def grad_outputs_int_dtype_cast(lib):
    a = _x(lib, 3)
    return lib.autograd.grad(a * 2, a, grad_outputs=lib.ones(3, dtype=lib.int64))


@program
def grad_outputs_too_few(lib):
    a = _x(lib, 3)
    return err(lambda: lib.autograd.grad([(a * 2).sum(), a.sum()], a,
                                         grad_outputs=[lib.tensor(1.0, dtype=lib.float64)]))


@program
def backward_gradient_bool_dtype_cast(lib):
    a = _x(lib, 3)
    (a * 2).backward(lib.ones(3, dtype=lib.bool))
    return a.grad


@program
def pack_hook_runs_without_grad(lib):
    a = _x(lib, 3)
    seen = []

    def pack(t):
        e = t.exp()
        seen.append((lib.is_grad_enabled(), e.requires_grad))
        return e

    with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t.log()):
        y = (a * a).sum()
    y.backward()
    return seen, a.grad


@program
def product_keeps_only_the_factor_a_gradient_reads(lib):
    # x * 2 keeps 2, not x (x is read only for the scalar's gradient, which nobody wants):
    # changing x in place afterwards leaves that backward valid, as in PyTorch
    a = _x(lib, 3)
    z = a * 1.0
    y = z * 2
    z.add_(1)
    y.sum().backward()
    first = a.grad.clone()
    z = a * 1.0
    z.add_(z * 2, alpha=0.5)
    z.sum().backward()
    z = a * 1.0
    y = z / 4 + 2 / z                 # z / 4 keeps 4; 2 / z is z.reciprocal() * 2
    z.add_(1)
    y.sum().backward()
    layer = lib.nn.Linear(3, 2, bias=False).double().requires_grad_(False)   # frozen
    layer.weight.copy_(lib.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], dtype=lib.float64))
    z = a * 1.0
    out = layer(z) @ lib.ones(2, 2, dtype=lib.float64)
    z.add_(1)                          # its weights are what the backward reads, not z
    out.sum().backward()
    frozen = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64)
    w = _x(lib, 3)
    out = frozen * w
    frozen.mul_(3)                    # w's gradient reads frozen: the backward must refuse
    try:
        out.sum().backward()
        refused = "no error"
    except RuntimeError as exc:
        refused = "modified by an inplace operation" in str(exc)
    return first, a.grad, refused


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program_matches_torch(program):
    HARNESS.check(program)
