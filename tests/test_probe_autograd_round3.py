"""Autograd behaviour found to differ from PyTorch by side-by-side probes, now matched.

Covers: ``autograd.grad`` with a dict of inputs (a dict of gradients back; other mappings
refused), the ``only_inputs`` deprecation warning, zeros from ``materialize_grads`` that require
grad under ``create_graph``; ``GradientEdge`` / ``graph.get_gradient_edge`` as inputs of
``grad`` and ``backward``; ``backward(inputs=)`` making a non-leaf retain its gradient;
``func`` transforms checking ``argnums`` and refusing non-tensors (and ``jacrev`` a
non-positive ``chunk_size``); custom Functions (a forward returning no tensor, a backward
returning no tensor, a non-differentiable input returned as-is, ``mark_dirty`` of a non-input);
``Tensor._is_view``; hooks on a leaf's ``AccumulateGrad`` node (and its name and metadata);
the checks on what a node hook returns; values packed by saved-tensor hooks escaping the
version check; the ``_saved_*`` fields of view, cat, gather and clamp nodes and the clone
node names; the in-place (version counter) error naming the op that made the changed value
and giving PyTorch's hint; anomaly mode reporting NaN only (an infinite gradient passes) and
warning where a failed node was made; ``save_for_forward`` and ``saved_variables``; a new
``.grad`` laid out as its leaf (transposed, channels-last) or row-major; the list nesting of
a forward-mode ``autograd.functional.jacobian``;
``set_grad_enabled`` refusing a non-bool and the ``clone`` of the grad-mode contexts.
Every test runs the same code on torch and on minigrad and compares the two.
"""
import collections
import warnings

import numpy as np
import pytest
import torch

import minigrad


LIBS = (torch, minigrad)
X = np.linspace(-1.5, 2.0, 12).reshape(3, 4)


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy())


def _leaf(L, array=X):
    return L.tensor(array, requires_grad=True)


def _error(call):
    """(type name, message) of what ``call()`` raises."""
    try:
        call()
    except Exception as e:          # noqa: BLE001 - the type is what is compared
        return type(e).__name__, str(e)
    raise AssertionError("no error raised")


# -- autograd.grad ---------------------------------------------------------------------------
def test_grad_with_a_dict_of_inputs_returns_a_dict():
    seen = []
    for L in LIBS:
        x, y = _leaf(L), _leaf(L, X * 2)
        out = L.autograd.grad((x * y.sin()).sum(), {"b": y, "a": x})
        assert isinstance(out, dict) and list(out) == ["b", "a"]
        seen.append({k: _np(v) for k, v in out.items()})
    for k in seen[0]:
        np.testing.assert_allclose(seen[1][k], seen[0][k], rtol=1e-12)


def test_grad_of_named_parameters_and_batched_dict():
    seen = []
    for L in LIBS:
        m = L.nn.Linear(4, 2).double()
        with L.no_grad():
            m.weight.copy_(L.tensor(X[:2]))
            m.bias.fill_(0.5)
        x = L.tensor(X)
        grads = L.autograd.grad(m(x).tanh().sum(), dict(m.named_parameters()))
        xb = _leaf(L)
        batched = L.autograd.grad(xb ** 3, {"x": xb}, is_grads_batched=True,
                                  grad_outputs=L.eye(12, dtype=L.float64).reshape(12, 3, 4))
        seen.append([_np(grads["weight"]), _np(grads["bias"]), _np(batched["x"])])
    for a, b in zip(*seen):
        np.testing.assert_allclose(b, a, rtol=1e-12)


def test_grad_refuses_other_mappings():
    errors = []
    for L in LIBS:
        x = _leaf(L)
        errors.append(_error(lambda: L.autograd.grad(x.sum(), collections.OrderedDict(x=x))))
    assert errors[1] == errors[0]
    assert errors[0][0] == "TypeError" and "must be a dict, not OrderedDict" in errors[0][1]


def test_grad_only_inputs_false_warns():
    seen = []
    for L in LIBS:
        x = _leaf(L)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            g, = L.autograd.grad(x.sum(), x, only_inputs=False)
        seen.append(([(w.category, str(w.message)[:40]) for w in caught], _np(g)))
    assert seen[1][0] == seen[0][0] and seen[0][0][0][0] is FutureWarning
    np.testing.assert_array_equal(seen[1][1], seen[0][1])


@pytest.mark.parametrize("create_graph", [False, True])
def test_materialized_zeros_require_grad_with_create_graph(create_graph):
    seen = []
    for L in LIBS:
        x, unused = _leaf(L), _leaf(L)
        gx, gu = L.autograd.grad((x ** 2).sum(), [x, unused], materialize_grads=True,
                                 create_graph=create_graph)
        seen.append((gx.requires_grad, gu.requires_grad, gu.is_leaf, _np(gu)))
    assert seen[1][:3] == seen[0][:3]
    np.testing.assert_array_equal(seen[1][3], seen[0][3])


# -- torch.func ------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [0, -2])
def test_jacrev_refuses_a_non_positive_chunk_size(chunk_size):
    errors = [_error(lambda: L.func.jacrev(L.sin, chunk_size=chunk_size)) for L in LIBS]
    assert errors[1] == errors[0]


# -- custom Functions ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["number", "list"])
def test_custom_function_returning_no_tensor_passes_it_through(kind):
    seen = []
    for L in LIBS:
        class NoTensor(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return 3.0 if kind == "number" else [x * 2, x * 3]

            @staticmethod
            def backward(ctx, *grads):
                return grads[0]

        out = NoTensor.apply(_leaf(L))
        seen.append((type(out).__name__,
                     out if kind == "number" else [o.requires_grad for o in out]))
    assert seen[1] == seen[0]


def test_is_view_matches_base():
    for L in LIBS:
        x = L.ones(3, 4)
        w = L.ones(3, 4, requires_grad=True)
        cases = [x, x[0], x.view(12), x.t(), x.detach(), w.detach(), (w * 2)[1],
                 x.reshape(12), x.t().contiguous(), x.unbind()[0], x.expand(2, 3, 4)]
        flags = [c._is_view() for c in cases]
        assert flags == [c._base is not None for c in cases]
        assert flags == [False, True, True, True, False, False, True, True, False, True, True]


# -- hooks -----------------------------------------------------------------------------------
def _accumulate_grad_log(L, how):
    """What the hooks on a leaf (tensor, post-accumulate and AccumulateGrad node hooks) see
    during one pass run ``how``."""
    x = L.tensor([1.0, 2.0], requires_grad=True)
    log = []
    x.register_hook(lambda g: (log.append(("tensor", g.tolist())), g * 2)[1])
    x.register_post_accumulate_grad_hook(lambda p: log.append(("post-acc", p.grad.tolist())))
    acc = (x * 3).grad_fn.next_functions[0][0]
    acc.register_prehook(lambda gos: (log.append(("pre", gos[0].tolist())), (gos[0] * 5,))[1])
    handle = acc.register_hook(lambda gis, gos: log.append(("post", gis, gos[0].tolist())))
    if how == "backward":
        (x * 3).sum().backward()
    elif how == "inputs":
        (x * 3).sum().backward(inputs=[x])
    elif how == "grad":
        L.autograd.grad((x * 3).sum(), x)
    else:                                   # removed post hook
        handle.remove()
        (x * 3).sum().backward()
    return log, _np(x.grad), acc.variable is x, type(acc).__name__


@pytest.mark.parametrize("how", ["backward", "inputs", "grad", "removed"])
def test_hooks_on_a_leafs_accumulate_grad_node(how):
    seen = [_accumulate_grad_log(L, how) for L in LIBS]
    assert seen[1][0] == seen[0][0]
    assert seen[1][2:] == seen[0][2:]
    if seen[0][1] is None:
        assert seen[1][1] is None
    else:
        np.testing.assert_array_equal(seen[1][1], seen[0][1])


def test_accumulate_grad_post_hook_must_return_nothing():
    errors = []
    for L in LIBS:
        x = L.ones(2, requires_grad=True)
        acc = (x * 3).grad_fn.next_functions[0][0]     # (PyTorch drops it once unreferenced)
        acc.register_hook(lambda gis, gos: (L.ones(2),))
        errors.append(_error(lambda: (x * 3).sum().backward()))
    assert errors[1] == errors[0]


def _node_hook_result(L, pre, make):
    x = L.ones(2, requires_grad=True)
    y = x.exp() * x
    if pre:
        y.grad_fn.register_prehook(lambda gos: make(L))
    else:
        y.grad_fn.register_hook(lambda gis, gos: make(L))
    try:
        y.sum().backward()
    except Exception as e:          # noqa: BLE001 - the type is what is compared
        return type(e).__name__, str(e)
    return "ok", None if x.grad is None else x.grad.tolist()


NODE_HOOK_RESULTS = {
    "empty": lambda L: (),
    "one None": lambda L: (None,),
    "two None": lambda L: (None, None),
    "list": lambda L: [L.ones(2)],
    "string": lambda L: "ab",
    "number": lambda L: (3,),
    "wrong size": lambda L: (L.ones(3),),
    "wrong size twice": lambda L: (L.ones(3), L.ones(3)),
    "wrong dtype": lambda L: (L.ones(2, dtype=L.float64),),
    "wrong dtype twice": lambda L: (L.ones(2, dtype=L.float64),) * 2,
    "replaced": lambda L: (L.full((2,), 3.0),),
    "replaced twice": lambda L: (L.full((2,), 3.0),) * 2,
}


@pytest.mark.parametrize("pre", [True, False])
@pytest.mark.parametrize("case", list(NODE_HOOK_RESULTS))
def test_what_a_node_hook_returns_is_checked(pre, case):
    seen = [_node_hook_result(L, pre, NODE_HOOK_RESULTS[case]) for L in LIBS]
    assert seen[1][0] == seen[0][0]
    if seen[0][0] == "ok":
        np.testing.assert_allclose(np.array(seen[1][1], dtype=float),
                                   np.array(seen[0][1], dtype=float), rtol=1e-6)
    else:       # the words up to the library-specific type names
        assert seen[1][1].split(" (was")[0] == seen[0][1].split(" (was")[0]


# -- anomaly mode ----------------------------------------------------------------------------
def test_anomaly_mode_lets_an_infinite_gradient_through():
    seen = []
    for L in LIBS:
        x = L.tensor([0.0, 1.0, 4.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with L.autograd.detect_anomaly():
                L.sqrt(x).sum().backward()
        seen.append(_np(x.grad))
    np.testing.assert_array_equal(seen[1], seen[0])


def test_anomaly_mode_names_the_op_that_turns_inf_into_nan():
    errors = []
    for L in LIBS:
        x = L.tensor([0.0, 1.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with L.autograd.detect_anomaly():
                y = (x * 0).sqrt()         # inf from SqrtBackward0, times 0 in MulBackward0
                errors.append(_error(lambda: y.sum().backward()))
    assert errors[1][0] == errors[0][0]
    assert errors[1][1].splitlines()[0] == errors[0][1].splitlines()[0]
    assert "MulBackward0" in errors[0][1] and "nan" in errors[0][1]


# -- grad mode -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [None, 0, 1, "yes", np.bool_(True)])
def test_set_grad_enabled_takes_only_a_bool(mode):
    errors = [_error(lambda: L.set_grad_enabled(mode)) for L in LIBS]
    for L in LIBS:
        assert L.is_grad_enabled()
    assert errors[1][0] == errors[0][0] == "TypeError"
    assert errors[1][1] == errors[0][1]


@pytest.mark.parametrize("name", ["no_grad", "enable_grad", "inference_mode", "set_grad_enabled"])
def test_grad_mode_contexts_clone(name):
    seen = []
    for L in LIBS:
        with L.no_grad():
            original = getattr(L, name)(False) if name == "set_grad_enabled" else \
                getattr(L, name)()
            copy = original.clone()
            with copy:
                inside = (L.is_grad_enabled(), L.is_inference_mode_enabled())
        seen.append((type(copy).__name__, type(copy) is type(original), inside,
                     L.is_grad_enabled()))
    assert seen[1] == seen[0]


# -- backward(inputs=) -----------------------------------------------------------------------
def test_backward_inputs_makes_a_non_leaf_retain_its_gradient():
    seen = []
    for L in LIBS:
        x = L.ones(3, requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: g * 10)
        (y * y).sum().backward(inputs=[y])
        z = x * 3
        (z * z).sum().backward(inputs=[z], retain_graph=True)
        first = (_np(z.grad).copy(), z.retains_grad)
        (z * z).sum().backward(inputs=[x])      # z now keeps receiving gradients
        seen.append((_np(y.grad), y.retains_grad, first, _np(z.grad), _np(x.grad)))
    a, b = seen
    np.testing.assert_array_equal(b[0], a[0])
    assert b[1] == a[1] and b[2][1] == a[2][1]
    for u, v in [(a[2][0], b[2][0]), (a[3], b[3]), (a[4], b[4])]:
        np.testing.assert_array_equal(v, u)


# -- graph nodes as libraries read them ------------------------------------------------------
SAVED_FIELDS = {
    "view": (lambda L, x: x.view(6, 4), ["_saved_self_sym_sizes"]),
    "reshape": (lambda L, x: x.reshape(4, 6), ["_saved_self_sym_sizes"]),
    "flatten": (lambda L, x: x.flatten(1), ["_saved_self_sym_sizes"]),
    "expand": (lambda L, x: x.expand(5, 2, 3, 4), ["_saved_self_sym_sizes"]),
    "permute": (lambda L, x: x.permute(2, 0, 1), ["_saved_dims"]),
    "transpose": (lambda L, x: x.transpose(0, 2), ["_saved_dim0", "_saved_dim1"]),
    "cat": (lambda L, x: L.cat([x, x], 1), ["_saved_dim"]),
    "index_select": (lambda L, x: x.index_select(1, L.tensor([0, 2])),
                     ["_saved_dim", "_saved_self_sym_sizes", "_saved_index"]),
    "gather": (lambda L, x: x.gather(2, L.ones(2, 3, 1, dtype=L.int64)),
               ["_saved_dim", "_saved_sparse_grad", "_saved_index"]),
    "clamp": (lambda L, x: x.clamp(-0.5, 0.5), ["_saved_min", "_saved_max"]),
    "clamp_min": (lambda L, x: x.clamp(min=0.25), ["_saved_min", "_saved_max"]),
}


@pytest.mark.parametrize("case", list(SAVED_FIELDS))
def test_saved_fields_by_torchs_names(case):
    make, names = SAVED_FIELDS[case]
    seen = []
    for L in LIBS:
        x = L.tensor(np.linspace(-1, 1, 24).reshape(2, 3, 4), requires_grad=True)
        node = make(L, x).grad_fn
        values = [getattr(node, n) for n in names]
        values = [(str(v.dtype).split(".")[-1], v.tolist()) if hasattr(v, "tolist") else v
                  for v in values]
        # (minigrad's gather keeps no copy of its input: PyTorch's shows it as _saved_self)
        shown = sorted(n for n in dir(node) if n.startswith("_saved_")
                       and not (case == "gather" and n == "_saved_self"))
        seen.append((node.name(), values, shown))
    assert seen[1][1:] == seen[0][1:]
    if case not in ("reshape", "flatten"):     # (minigrad's reshape node is no view node)
        assert seen[1][0] == seen[0][0]


def test_clamp_saves_its_input():
    for L in LIBS:
        x = L.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        assert x.clamp(-0.5, 0.5).grad_fn._saved_self is x


CLONES = {
    "clone": lambda L, x: x.clone(),
    "contiguous": lambda L, x: x.transpose(0, 1).contiguous(),
    "channels_last": lambda L, x: x.contiguous(memory_format=L.channels_last),
}


@pytest.mark.parametrize("case", list(CLONES))
def test_clone_and_contiguous_nodes_are_clones(case):
    names = [CLONES[case](L, L.ones(2, 3, 4, 5, requires_grad=True) * 1).grad_fn.name()
             for L in LIBS]
    assert names[1] == names[0] == "CloneBackward0"


# -- custom Functions: what backward returns, marks ------------------------------------------
@pytest.mark.parametrize("returned", ["list", "number", "array"])
def test_custom_backward_must_return_tensors_or_none(returned):
    errors = []
    for L in LIBS:
        class Bad(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return {"list": [g * 2], "number": 3.0, "array": np.ones(3)}[returned]

        x = L.ones(3, requires_grad=True)
        errors.append(_error(lambda: L.autograd.grad(Bad.apply(x).sum(), x)))
    assert errors[1] == errors[0]


def test_non_differentiable_input_returned_as_is():
    seen = []
    for L in LIBS:
        class PassThrough(L.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                ctx.mark_non_differentiable(x)
                return x, y * 2

            @staticmethod
            def backward(ctx, gx, gy):
                return gx, gy * 2

        x, y = L.ones(3, requires_grad=True), L.ones(3, requires_grad=True)
        a, b = PassThrough.apply(x, y)
        g, = L.autograd.grad(b.sum(), y)
        seen.append((a.requires_grad, a.grad_fn is None, a is x, b.requires_grad, _np(g)))
    assert seen[1][:4] == seen[0][:4]
    np.testing.assert_array_equal(seen[1][4], seen[0][4])


def test_mark_dirty_of_a_tensor_that_is_no_input_warns():
    seen = []
    for L in LIBS:
        class Dirty(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x * 2
                ctx.mark_dirty(y)
                return y

            @staticmethod
            def backward(ctx, g):
                return g

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = Dirty.apply(L.ones(2, requires_grad=True))
        seen.append(([str(w.message)[:60] for w in caught], out.requires_grad))
    assert seen[1] == seen[0]


# -- saved tensor hooks and in-place writes --------------------------------------------------
@pytest.mark.parametrize("pack", ["clone", "identity"])
def test_values_packed_by_hooks_are_not_version_checked(pack):
    seen = []
    for L in LIBS:
        x = L.tensor([1.0, 2.0, 3.0], requires_grad=True)
        h = x * 1
        pack_hook = (lambda t: t.clone()) if pack == "clone" else (lambda t: t)
        with L.autograd.graph.saved_tensors_hooks(pack_hook, lambda t: t):
            y = (h * h).sum()
        h.add_(1)
        y.backward()
        seen.append(_np(x.grad))
    np.testing.assert_array_equal(seen[1], seen[0])


def test_without_hooks_the_same_write_is_refused():
    errors = []
    for L in LIBS:
        h = L.tensor([1.0, 2.0, 3.0], requires_grad=True) * 1
        y = (h * h).sum()
        h.add_(1)
        errors.append(_error(y.backward))
    assert errors[1][0] == errors[0][0]
    assert errors[1][1].split(" [")[0] == errors[0][1].split(" [")[0]


# -- GradientEdge ----------------------------------------------------------------------------
def _edge_results(L):
    G = L.autograd.graph
    out = []
    x = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True)
    e = G.get_gradient_edge(x)
    out.append((type(e).__name__, e._fields, e.output_nr, e.node.variable is x,
                e.node is (x * 1).grad_fn.next_functions[0][0]))
    z = x.exp()
    e = G.get_gradient_edge(z)
    out.append((e.node.name(), e.output_nr))
    out.append(L.autograd.grad((z * z).sum(), e, retain_graph=True))
    out.append(L.autograd.grad((z * z).sum(), [G.get_gradient_edge(x), e, x]))
    a, b = (x * 2).split(1)
    out.append(L.autograd.grad((a * 3).sum(), [G.get_gradient_edge(b)], allow_unused=True))
    out.append(_error(lambda: L.autograd.grad((a * 3).sum(), [G.get_gradient_edge(b)],
                                              materialize_grads=True)))
    (x.exp() ** 2).sum().backward(inputs=G.get_gradient_edge(x))
    out.append(x.grad)
    z = x.exp()
    (z ** 2).sum().backward(inputs=[G.get_gradient_edge(z), x])
    out.append((x.grad, z.retains_grad))
    out.append(_error(lambda: G.get_gradient_edge(L.ones(2))))
    return out


def _plain(value):
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if hasattr(value, "detach"):
        return np.round(_np(value), 10).tolist()
    return value


def test_gradient_edges_as_inputs():
    seen = [_plain(_edge_results(L)) for L in LIBS]
    assert seen[1] == seen[0]


# -- torch.func argument checks --------------------------------------------------------------
@pytest.mark.parametrize("transform", ["grad", "grad_and_value", "jacrev", "jacfwd", "hessian"])
@pytest.mark.parametrize("argnums", [(0, 0), (), 0.0, [0, 1], (0, 0.5), 5, (0, -3)])
def test_transform_argnums_are_checked_in_torchs_words(transform, argnums):
    errors = []
    for L in LIBS:
        f = getattr(L.func, transform)(lambda x, y: (x * y).sum(), argnums=argnums)
        errors.append(_error(lambda: f(L.ones(2), L.ones(2))))
    assert errors[1] == errors[0]


@pytest.mark.parametrize("transform", ["grad", "grad_and_value", "jacrev"])
@pytest.mark.parametrize("arg", ["float", "list with a float"])
def test_transforms_refuse_a_non_tensor_to_differentiate(transform, arg):
    errors = []
    for L in LIBS:
        value = 3.0 if arg == "float" else [L.ones(2), 3.0]
        f = getattr(L.func, transform)(lambda x: (x[0] if isinstance(x, list) else x) * 2.0)
        errors.append(_error(lambda: f(value)))
    assert errors[1] == errors[0]


def test_accumulate_grad_node_name_and_metadata():
    seen = []
    for L in LIBS:
        x = L.ones(2, requires_grad=True)
        acc = (x * 2).grad_fn.next_functions[0][0]
        acc.metadata["note"] = 1
        seen.append((acc.name(), type(acc).__name__, acc.metadata,
                     (x * 3).grad_fn.next_functions[0][0].metadata,
                     isinstance(acc, L.autograd.graph.Node)))
    assert seen[1] == seen[0]


@pytest.mark.parametrize("returned", [None, "the tensor", 1, (1,)])
def test_post_accumulate_grad_hook_result(returned):
    seen = []
    for L in LIBS:
        x = L.ones(2, requires_grad=True)
        x.register_post_accumulate_grad_hook(
            lambda p: p if isinstance(returned, str) else returned)
        try:
            (x * 2).sum().backward()
            seen.append(("ok", x.grad.tolist()))
        except Exception as e:      # noqa: BLE001 - the type is what is compared
            seen.append((type(e).__name__, str(e)))
    assert seen[1] == seen[0]


def test_save_for_forward_and_saved_variables():
    seen = []
    for L in LIBS:
        class Exp(L.autograd.Function):
            @staticmethod
            def forward(x):
                return x.exp()

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(output)
                ctx.save_for_forward(output, None)

            @staticmethod
            def backward(ctx, g):
                y, = ctx.saved_variables
                return g * y

            @staticmethod
            def jvp(ctx, t):
                return t * ctx.saved_tensors[0]

        x = L.tensor([0.5, 1.0], dtype=L.float64, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            g, = L.autograd.grad(Exp.apply(x).sum(), x)
        fa = L.autograd.forward_ad
        with fa.dual_level():
            dual = fa.make_dual(x.detach(), L.ones(2, dtype=L.float64))
            tangent = fa.unpack_dual(Exp.apply(dual)).tangent
        refused = _error(lambda: Exp.apply(x).grad_fn.save_for_forward(3))
        seen.append((_np(g), _np(tangent), [(w.category, str(w.message)) for w in caught
                                            if "saved_variables" in str(w.message)], refused))
    np.testing.assert_allclose(seen[1][0], seen[0][0], rtol=1e-12)
    np.testing.assert_allclose(seen[1][1], seen[0][1], rtol=1e-12)
    assert seen[1][2:] == seen[0][2:]


# -- the words of the in-place (version counter) error ---------------------------------------
def _version_case(L, case):
    """A backward that reads a saved value changed in place since (``case`` picks which)."""
    x = L.ones(3, requires_grad=True)
    if case == "saved output":
        y = x.sigmoid()
        y.mul_(2)
        return y.sum()
    if case == "saved non-leaf input":
        h = x * 1
        y = h * h
        h.add_(1)
        return y.sum()
    if case == "saved leaf changed without grad":
        w = L.ones(3, requires_grad=True)
        y = x * w
        with L.no_grad():
            w.add_(1)
        return y.sum()
    if case == "saved plain tensor":
        w = L.ones(3)
        y = x * w
        w.add_(1)
        return y.sum()
    if case == "custom function output":
        class Twice(L.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                out = a * 2
                ctx.save_for_backward(out)
                return out

            @staticmethod
            def backward(ctx, g):
                return g * ctx.saved_tensors[0]

        y = Twice.apply(x)
        y.add_(1)
        return y.sum()
    y = x.tanh()                # "index write": a saved output changed through an index
    y[0] = 5.0
    return y.sum()


@pytest.mark.parametrize("anomaly", [False, True])
@pytest.mark.parametrize("case", ["saved output", "saved non-leaf input",
                                  "saved leaf changed without grad", "saved plain tensor",
                                  "custom function output", "index write"])
def test_in_place_error_names_the_producer_and_the_hint(case, anomaly):
    errors = []
    for L in LIBS:
        loss = _version_case(L, case)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with L.autograd.set_detect_anomaly(anomaly):
                kind, message = _error(loss.backward)
        errors.append((kind, message.replace("minigrad.", "torch.")))
    assert errors[1] == errors[0]


@pytest.mark.parametrize("recorded", [False, True])
def test_anomaly_mode_warns_where_the_failed_node_was_made(recorded):
    seen = []
    for L in LIBS:
        x = L.ones(3, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with L.autograd.set_detect_anomaly(recorded):
                h = x * 1
                y = h * h  # FORWARD-LINE
                h.add_(1)
            with L.autograd.set_detect_anomaly(True):
                kind, _ = _error(y.sum().backward)
        found = [str(w.message) for w in caught if "Error detected" in str(w.message)]
        seen.append((kind, [m.split(" (Triggered internally")[0] for m in found]))
    assert seen[1] == seen[0]
    assert len(seen[0][1]) == 1 and ("FORWARD-LINE" in seen[0][1][0]) == recorded


# -- the layout of a new .grad ---------------------------------------------------------------
LEAVES = {
    "transposed": lambda L: L.tensor(np.arange(12.0).reshape(3, 4)).t().detach(),
    "channels_last": lambda L: L.tensor(np.arange(120.0).reshape(2, 3, 4, 5)).to(
        memory_format=L.channels_last),
    "strided slice": lambda L: L.tensor(np.arange(24.0).reshape(3, 8))[:, ::2].detach(),
    "row-major": lambda L: L.tensor(np.arange(12.0).reshape(3, 4)),
}
USES = {
    "scaled": lambda x: x * 2,
    "expanded": lambda x: x.unsqueeze(0).expand(3, *x.shape),
    "added to itself": lambda x: x + x,
    "transposed back": lambda x: x.transpose(0, 1).contiguous(),
}


@pytest.mark.parametrize("use", list(USES))
@pytest.mark.parametrize("leaf", list(LEAVES))
def test_a_new_grad_takes_the_layout_of_its_leaf(leaf, use):
    seen = []
    for L in LIBS:
        x = LEAVES[leaf](L).requires_grad_()
        USES[use](x).sum().backward()
        first = (x.grad.stride(), x.grad.is_contiguous())
        USES[use](x).sum().backward()
        seen.append((first, x.grad.stride(), _np(x.grad)))
    assert seen[1][:2] == seen[0][:2]
    np.testing.assert_array_equal(seen[1][2], seen[0][2])


# -- autograd.functional ---------------------------------------------------------------------
def _structure(value):
    """The container types of a nested result (tensors as '')."""
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[{','.join(_structure(v) for v in value)}]"
    return ""


@pytest.mark.parametrize("case", ["one to one", "two to one", "two to two", "one to two",
                                  "tuple of one"])
def test_forward_mode_jacobian_nests_as_torch(case):
    funcs = {"one to one": (lambda x: x * 2, False), "two to one": (lambda x, y: x * y, True),
             "two to two": (lambda x, y: (x * y, x.sum()), True),
             "one to two": (lambda x: (x * 2, x.sum()), False),
             "tuple of one": (lambda x: x * 2, True)}
    seen = []
    for L in LIBS:
        f, several = funcs[case]
        a, b = L.tensor([1.0, 2.0]), L.tensor([3.0, 4.0])
        inputs = ((a, b) if case.startswith("two") else (a,)) if several else a
        result = L.autograd.functional.jacobian(f, inputs, vectorize=True,
                                                strategy="forward-mode")
        flat = result
        while isinstance(flat, (list, tuple)):
            flat = flat[0]
        seen.append((_structure(result), _np(flat)))
    assert seen[1][0] == seen[0][0]
    np.testing.assert_array_equal(seen[1][1], seen[0][1])


def test_func_transforms_compute_inside_inference_mode():
    """torch.func's transforms differentiate inside inference_mode (plain autograd records
    nothing there); their results are ordinary tensors."""
    programs = [
        lambda L, x: L.func.grad(lambda t: (t ** 3).sum())(x),
        lambda L, x: L.func.vjp(lambda t: t.sin(), x)[1](L.ones(2))[0],
        lambda L, x: L.func.jacrev(lambda t: t ** 2)(x),
        lambda L, x: L.func.jacfwd(lambda t: t ** 2)(x),
        lambda L, x: L.func.hessian(lambda t: (t ** 3).sum())(x),
        lambda L, x: L.func.jvp(lambda t: t ** 2, (x,), (L.ones(2),))[1],
    ]
    for program in programs:
        outs = []
        for L in (torch, minigrad):
            with L.inference_mode():
                x = L.tensor([1.0, 2.0], dtype=L.float64)
                out = program(L, x)
                assert not out.is_inference()
                outs.append(out.numpy())
        np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12)
