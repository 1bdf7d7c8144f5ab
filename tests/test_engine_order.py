"""The order in which the backward engine runs nodes, side by side with PyTorch.

PyTorch keeps the ready nodes in a priority queue: the node created last (the highest
sequence number) runs first, a leaf's AccumulateGrad (the largest number) as soon as its
gradient is complete, and leaves ready together come out in the order of the C++ heap's
layout. Each program below records the order its hooks fire in (tensor hooks, node pre-hooks
and hooks, post-accumulate hooks) and the gradients they see; minigrad must record the same
list as torch.
"""
import numpy as np
import pytest
import torch

import minigrad

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 4))
V = RNG.standard_normal(6)


def _leaf(lib, log, name, value, acc=True):
    """A float64 leaf that logs its tensor hook (with its gradient's sum) and, with ``acc``,
    its post-accumulate hook."""
    t = lib.tensor(np.array(value, dtype=np.float64), requires_grad=True)
    t.register_hook(lambda g: log.append((name, round(float(g.detach().sum()), 6))))
    if acc:
        t.register_post_accumulate_grad_hook(lambda p: log.append("acc " + name))
    return t


def _mark(log, name, t):
    """``t`` (a non-leaf) with a hook that logs its name and gradient's sum."""
    t.register_hook(lambda g: log.append((name, round(float(g.detach().sum()), 6))))
    return t


def _node_hooks(log, name, t):
    """Pre-hook and hook on ``t.grad_fn``, logged under ``name``."""
    t.grad_fn.register_prehook(lambda go: log.append("pre " + name))
    t.grad_fn.register_hook(lambda gi, go: log.append("post " + name))
    return t


def diamond(lib, log):
    a = _leaf(lib, log, "a", V)
    b = _mark(log, "b", a * 2)
    c = _mark(log, "c", a + 1)
    _mark(log, "d", b * c).sum().backward()


def diamond_created_other_way(lib, log):
    a = _leaf(lib, log, "a", V)
    c = _mark(log, "c", a + 1)
    b = _mark(log, "b", a * 2)
    _mark(log, "d", b * c).sum().backward()


def branches_of_different_lengths(lib, log):
    x = _leaf(lib, log, "x", V)
    w = _leaf(lib, log, "w", V[::-1].copy())
    long = _mark(log, "long", _mark(log, "l2", _mark(log, "l1", x.exp()).sin()).cos())
    short = _mark(log, "short", x * w)
    (long + short).sum().backward()


def short_branch_made_first(lib, log):
    x = _leaf(lib, log, "x", V)
    w = _leaf(lib, log, "w", V[::-1].copy())
    short = _mark(log, "short", x * w)
    long = _mark(log, "long", _mark(log, "l1", (x * 3).tanh()).exp())
    (short * long).sum().backward()


def rnn_shared_weights(lib, log):
    W = _leaf(lib, log, "W", B * 0.3)
    U = _leaf(lib, log, "U", B[::-1].copy() * 0.2)
    h = _leaf(lib, log, "h0", A[0])
    xs = [_leaf(lib, log, f"x{t}", A[t]) for t in range(3)]
    for t, x in enumerate(xs):
        h = _mark(log, f"h{t + 1}", (W @ h + U @ x).tanh())
    h.pow(2).sum().backward()


def leaf_used_by_many_nodes(lib, log):
    a = _leaf(lib, log, "a", V)
    b = _leaf(lib, log, "b", V * 2)
    y = _mark(log, "y1", a * b) + _mark(log, "y2", a.sin()) + _mark(log, "y3", a.exp() * b)
    y.sum().backward()


def four_leaves_at_once(lib, log):
    leaves = [_leaf(lib, log, f"l{i}", V + i) for i in range(4)]
    lib.cat(leaves).sum().backward()


def seven_leaves_at_once(lib, log):
    leaves = [_leaf(lib, log, f"l{i}", V + i) for i in range(7)]
    lib.stack(leaves).pow(2).sum().backward()


def leaves_ready_beside_waiting_nodes(lib, log):
    xs = [_leaf(lib, log, f"x{i}", V + i) for i in range(5)]
    ws = [_leaf(lib, log, f"w{i}", V - i) for i in range(2)]
    m = _mark(log, "m", xs[0] * xs[1])
    n = _mark(log, "n", xs[2] * ws[0])
    y = lib.stack([m, xs[3], n, xs[4], ws[1]])
    _mark(log, "y", y).sum().backward()


def python_sum_of_leaves(lib, log):
    leaves = [_leaf(lib, log, f"l{i}", V * i) for i in range(5)]
    total = sum(t * (i + 1) for i, t in enumerate(leaves))
    total.sum().backward()


def matmul_chain(lib, log):
    a = _leaf(lib, log, "a", A)
    b = _leaf(lib, log, "b", B)
    c = _leaf(lib, log, "c", B.T.copy())
    _mark(log, "ab", a @ b)
    (_mark(log, "abc", (a @ b) @ c)).sum().backward()


def broadcast_add(lib, log):
    a = _leaf(lib, log, "a", A[0])
    b = _leaf(lib, log, "b", A)
    _mark(log, "s", a + b).exp().sum().backward()


def node_hooks_on_a_diamond(lib, log):
    a = _leaf(lib, log, "a", V)
    b = _node_hooks(log, "b", a * 2)
    c = _node_hooks(log, "c", a.sin())
    d = _node_hooks(log, "d", b * c)
    _node_hooks(log, "e", d.sum()).backward()


def hooks_that_change_gradients(lib, log):
    a = _leaf(lib, log, "a", V)
    b = a * 3
    b.register_hook(lambda g: g * 2)
    _mark(log, "b", b)
    c = a.exp()
    c.register_hook(lambda g: g + 1)
    _mark(log, "c", c)
    a.register_hook(lambda g: g * -1)
    (b * c).sum().backward()
    log.append(round(float(a.grad.sum()), 6))


def split_pieces(lib, log):
    a = _leaf(lib, log, "a", V)
    p = _mark(log, "x", a * 1).split(2)
    for i, q in enumerate(p):
        _mark(log, f"p{i}", q)
    (p[0] * 1 + p[1] * 2 + p[2] * 3).sum().backward()


def unbind_rows(lib, log):
    a = _leaf(lib, log, "a", A)
    rows = a.unbind(0)
    (rows[2] * rows[0] + rows[1]).sum().backward()


def chunk_pieces_used_apart(lib, log):
    a = _leaf(lib, log, "a", V)
    w = _leaf(lib, log, "w", V[:2])
    c = a.chunk(3)
    y = _mark(log, "y0", c[0] * w) + _mark(log, "y2", c[2].exp())
    y.sum().backward()


def max_with_indices(lib, log):
    a = _leaf(lib, log, "a", A)
    w = _leaf(lib, log, "w", A[:, 0])
    values, indices = a.max(dim=1)
    _mark(log, "v", values)
    (values * w + a.sum(1)).sum().backward()


def grad_several_inputs_and_outputs(lib, log):
    x = _leaf(lib, log, "x", V, acc=False)
    y = _leaf(lib, log, "y", V * 2, acc=False)
    u = _mark(log, "u", x * y)
    v = _mark(log, "v", x.exp() + y)
    gx, gy = lib.autograd.grad([u.sum(), v.sum()], [x, y])
    log.append((round(float(gx.sum()), 6), round(float(gy.sum()), 6)))


def grad_of_an_intermediate(lib, log):
    x = _leaf(lib, log, "x", V, acc=False)
    h = _mark(log, "h", x.sin())
    k = _mark(log, "k", h * x)
    (gh,) = lib.autograd.grad(k.sum(), [h])
    log.append(round(float(gh.sum()), 6))


def backward_with_inputs(lib, log):
    x = _leaf(lib, log, "x", V)
    w = _leaf(lib, log, "w", V * 2)
    b = _leaf(lib, log, "b", V * 3)
    h = _mark(log, "h", x * w)
    (h + b).pow(2).sum().backward(inputs=[w, b])
    log.append((x.grad is None, round(float(w.grad.sum()), 6)))


def retain_graph_twice(lib, log):
    x = _leaf(lib, log, "x", V)
    w = _leaf(lib, log, "w", V * 2)
    y = _mark(log, "y", (x * w).sin() + w)
    y.sum().backward(retain_graph=True)
    log.append("again")
    y.sum().backward()
    log.append(round(float(w.grad.sum()), 6))


def create_graph_second_order(lib, log):
    x = _leaf(lib, log, "x", V)
    w = _leaf(lib, log, "w", V * 0.5)
    y = _mark(log, "y", (x * w).tanh())
    (gx,) = lib.autograd.grad(y.sum(), [x], create_graph=True)
    log.append("second")
    (gx.pow(2).sum() + y.sum()).backward()


def several_roots(lib, log):
    x = _leaf(lib, log, "x", V)
    w = _leaf(lib, log, "w", V * 2)
    y1 = _mark(log, "y1", x * w)
    y2 = _mark(log, "y2", w.exp())
    lib.autograd.backward([y1.sum(), y2.sum(), w.sum()])


def leaf_among_roots(lib, log):
    x = _leaf(lib, log, "x", V)
    w = _leaf(lib, log, "w", V * 2)
    y = _mark(log, "y", x * 2)
    lib.autograd.backward([y, w], [lib.ones(6, dtype=lib.float64)] * 2)


def inplace_into_a_slice(lib, log):
    a = _leaf(lib, log, "a", V)
    w = _leaf(lib, log, "w", V[:3])
    x = _mark(log, "x", a * 1)
    x[1:4].mul_(w)
    _mark(log, "x2", x).exp().sum().backward()


def inplace_on_a_clone(lib, log):
    a = _leaf(lib, log, "a", V)
    b = _leaf(lib, log, "b", V * 2)
    x = a.clone()
    x.add_(b).mul_(a)
    _mark(log, "x", x).sum().backward()


def detached_branch(lib, log):
    a = _leaf(lib, log, "a", V)
    b = _leaf(lib, log, "b", V * 2)
    y = _mark(log, "y", a * b.detach()) + _mark(log, "z", a.detach() * b * b)
    y.sum().backward()


class _Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class _SquareM(minigrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def custom_function_in_the_graph(lib, log):
    square = _Square if lib is torch else _SquareM
    a = _leaf(lib, log, "a", V)
    b = _leaf(lib, log, "b", V * 2)
    s = _mark(log, "s", square.apply(a * b))
    t = _mark(log, "t", b.sin())
    (s + t).sum().backward()


def mlp_parameters(lib, log):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.ReLU(), lib.nn.Linear(5, 3),
                              lib.nn.Tanh(), lib.nn.Linear(3, 2)).double()
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: log.append(name))
    x = lib.tensor(A, requires_grad=True)
    x.register_hook(lambda g: log.append("x"))
    lib.nn.functional.cross_entropy(model(x), lib.tensor([0, 1, 1])).backward()


def linear_on_3d_input(lib, log):
    lin = lib.nn.Linear(4, 2).double()
    for name, p in lin.named_parameters():
        p.register_hook(lambda g, name=name: log.append(name))
    x = _leaf(lib, log, "x", np.stack([A, A * 2]))
    lin(x).sum().backward()


def linear_without_bias(lib, log):
    lin = lib.nn.Linear(4, 2, bias=False).double()
    lin.weight.register_hook(lambda g: log.append("W"))
    x = _leaf(lib, log, "x", A)
    lin(x).sum().backward()


def linear_with_leaf_input(lib, log):
    lin = lib.nn.Linear(4, 2).double()
    for name, p in lin.named_parameters():
        p.register_hook(lambda g, name=name: log.append(name))
    x = _leaf(lib, log, "x", A)
    lin(x).sum().backward()


def linear_on_1d_and_3d_inputs_without_and_with_bias(lib, log):
    for bias in (False, True):
        lin = lib.nn.Linear(4, 2, bias=bias).double()
        for name, p in lin.named_parameters():
            p.register_hook(lambda g, name=name: log.append(name))
        for value in (A[0], np.stack([A, A])):
            x = _leaf(lib, log, f"x{value.ndim}", value)
            lin(x).sum().backward()


def embedding_then_linear(lib, log):
    lib.manual_seed(0)
    emb = lib.nn.Embedding(10, 4).double()
    lin = lib.nn.Linear(4, 3).double()
    for name, p in [("emb", emb.weight), ("W", lin.weight), ("b", lin.bias)]:
        p.register_post_accumulate_grad_hook(lambda p, name=name: log.append(name))
    lin(emb(lib.tensor([[1, 2, 3], [4, 5, 1]]))).relu().sum().backward()


def optimizer_step_in_a_hook(lib, log):
    """Optimizer-in-backward: a step per parameter as its gradient completes."""
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(4, 4), lib.nn.GELU(), lib.nn.Linear(4, 1)).double()
    opts = {}
    for name, p in model.named_parameters():
        opts[name] = lib.optim.SGD([p], lr=0.1)

        def step(p, name=name):
            log.append(name)
            opts[name].step()
            opts[name].zero_grad()
        p.register_post_accumulate_grad_hook(step)
    for _ in range(2):
        model(lib.tensor(A)).pow(2).sum().backward()
    log.append(round(float(sum(p.detach().sum() for p in model.parameters())), 6))


def _two_outputs(lib):
    """A Function with two outputs: one node, whose outputs' hooks run together."""
    class TwoOutputs(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g0, g1):
            return g0 * 2 + g1 * 3
    return TwoOutputs


def hooks_on_a_node_with_two_outputs(lib, log):
    x = _leaf(lib, log, "x", V)
    a, b = _two_outputs(lib).apply(_mark(log, "h", x * 1))
    b.register_hook(lambda g: log.append("b1"))
    a.register_hook(lambda g: log.append("a1"))
    b.register_hook(lambda g: log.append("b2"))
    _node_hooks(log, "two", a)
    b.retain_grad()
    (a.exp().sum() + b.sum()).backward()


def every_hook_of_a_leaf(lib, log):
    x = lib.tensor(V, requires_grad=True)
    y = x * 2
    acc = y.grad_fn.next_functions[0][0]
    acc.register_prehook(lambda g: log.append("acc pre"))
    acc.register_hook(lambda gi, go: log.append("acc post"))
    x.register_post_accumulate_grad_hook(lambda p: log.append("post accumulate"))
    x.register_hook(lambda g: log.append("tensor"))
    y.grad_fn.register_prehook(lambda g: log.append("mul pre"))
    y.register_hook(lambda g: log.append("y"))
    y.retain_grad()
    y.register_hook(lambda g: log.append("y again"))
    y.sum().backward()


def callback_queued_by_a_hook(lib, log):
    x = _leaf(lib, log, "x", V)
    w = _leaf(lib, log, "w", V * 2)

    def hook(g):
        log.append("h")
        lib.autograd.Variable._execution_engine.queue_callback(lambda: log.append("callback"))
    y = x * w
    y.register_hook(hook)
    (y.exp() + w).sum().backward()


def roots_sharing_a_node(lib, log):
    x = _leaf(lib, log, "x", V)
    w = _leaf(lib, log, "w", V[:3])
    p, q = _mark(log, "h", x.exp()).split(3)
    lib.autograd.backward([q * w, p, w], [lib.ones(3, dtype=lib.float64)] * 3)


def _drops_first_input(lib):
    """x * w whose backward gives None for x: the nodes behind x get no gradient."""
    class DropsX(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            return x * w

        @staticmethod
        def backward(ctx, g):
            return None, g
    return DropsX


def nodes_that_get_no_gradient(lib, log):
    """PyTorch still runs a node (and a leaf's AccumulateGrad) whose gradients are all None:
    its tensor hooks see None, its node hooks run, the post-accumulate hook sees no .grad."""
    x = lib.tensor(V, requires_grad=True)
    w = _leaf(lib, log, "w", V * 2)
    x.register_hook(lambda g: log.append(("x", g is None)))
    x.register_post_accumulate_grad_hook(lambda p: log.append(("x acc", p.grad is None)))
    h = x * 2
    h.register_hook(lambda g: log.append(("h", g is None)))
    h.grad_fn.register_prehook(lambda go: log.append(("h pre", go[0] is None)))
    h.grad_fn.register_hook(lambda gi, go: log.append(("h post", gi[0] is None)))
    _drops_first_input(lib).apply(h, w).sum().backward()
    log.append(x.grad is None)


def custom_function_that_gets_no_gradient(lib, log):
    """A custom Function whose output gets no gradient still has its backward called: on
    zeros, or on None after ``set_materialize_grads(False)``; what it returns goes on."""
    class Logged(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            log.append(("backward", None if g is None else float(g.sum())))
            return (None if g is None else g * 2), None
    x = lib.tensor(V, requires_grad=True)
    y = lib.tensor(V * 2, requires_grad=True)
    drops = _drops_first_input(lib)
    drops.apply(Logged.apply(x, True), y).sum().backward()
    drops.apply(Logged.apply(y, False), x).sum().backward()
    log.append((x.grad.tolist(), y.grad.tolist()))


def output_that_gets_no_gradient(lib, log):
    x = _leaf(lib, log, "x", V)
    a, b = _two_outputs(lib).apply(x * 1)
    a.register_hook(lambda g: log.append(("a", g is None)))
    b.register_hook(lambda g: log.append(("b", g is None)))
    a.sum().backward()


PROGRAMS = [diamond, diamond_created_other_way, branches_of_different_lengths,
            short_branch_made_first, rnn_shared_weights, leaf_used_by_many_nodes,
            four_leaves_at_once, seven_leaves_at_once, leaves_ready_beside_waiting_nodes,
            python_sum_of_leaves, matmul_chain, broadcast_add, node_hooks_on_a_diamond,
            hooks_that_change_gradients, split_pieces, unbind_rows, chunk_pieces_used_apart,
            max_with_indices, grad_several_inputs_and_outputs, grad_of_an_intermediate,
            backward_with_inputs, retain_graph_twice, create_graph_second_order, several_roots,
            leaf_among_roots, inplace_into_a_slice, inplace_on_a_clone, detached_branch,
            custom_function_in_the_graph, mlp_parameters, linear_on_3d_input,
            linear_without_bias, linear_with_leaf_input,
            linear_on_1d_and_3d_inputs_without_and_with_bias, embedding_then_linear,
            optimizer_step_in_a_hook, hooks_on_a_node_with_two_outputs, every_hook_of_a_leaf,
            callback_queued_by_a_hook, roots_sharing_a_node, nodes_that_get_no_gradient,
            output_that_gets_no_gradient, custom_function_that_gets_no_gradient]


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__ for p in PROGRAMS])
def test_hooks_fire_in_pytorchs_order(program):
    logs = []
    for lib in (torch, minigrad):
        lib.manual_seed(0)          # layers' default inits draw the same numbers in both
        log = []
        program(lib, log)
        logs.append(log)
    assert logs[1] == logs[0]


@pytest.mark.parametrize("where", ["output", "leaf"])
def test_a_hook_may_not_give_a_gradient_where_none_came(where):
    """A tensor hook called with None (no gradient came) that returns a tensor is refused."""
    errors = []
    for lib in (torch, minigrad):
        x = lib.tensor(V, requires_grad=True)
        w = lib.tensor(V, requires_grad=True)
        if where == "output":
            a, b = _two_outputs(lib).apply(x * 1)
            b.register_hook(lambda g, lib=lib: lib.ones(6, dtype=lib.float64))
            root = a.sum()
        else:
            x.register_hook(lambda g, lib=lib: lib.ones(6, dtype=lib.float64))
            root = _drops_first_input(lib).apply(x, w).sum()
        with pytest.raises(RuntimeError) as info:
            root.backward()
        errors.append(str(info.value))
    assert errors[1] == errors[0]


F32 = RNG.standard_normal((2, 5, 8)).astype(np.float32)
MODELS = {
    "transformer_layer": (lambda L: L.nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, batch_first=True), [F32]),
    "transformer_layer_norm_first": (lambda L: L.nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, batch_first=True, norm_first=True), [F32]),
    "multihead_attention": (lambda L: L.nn.MultiheadAttention(8, 2, batch_first=True),
                            [F32, F32 * 2, F32 * 3]),
    "gru": (lambda L: L.nn.GRU(8, 6, batch_first=True), [F32]),
    "conv_batchnorm": (lambda L: L.nn.Sequential(
        L.nn.Conv2d(2, 4, 3), L.nn.BatchNorm2d(4), L.nn.ReLU(), L.nn.Conv2d(4, 2, 2)),
        [F32.reshape(2, 2, 5, 4)]),
    "layernorm_mlp": (lambda L: L.nn.Sequential(
        L.nn.Linear(8, 8), L.nn.LayerNorm(8), L.nn.GELU(), L.nn.Linear(8, 3)), [F32]),
    "embedding_layernorm": (lambda L: L.nn.Sequential(
        L.nn.Embedding(10, 8), L.nn.LayerNorm(8), L.nn.Linear(8, 2)),
        [RNG.integers(0, 10, (2, 5))]),
    "groupnorm_conv1d": (lambda L: L.nn.Sequential(
        L.nn.Conv1d(5, 4, 3), L.nn.GroupNorm(2, 4), L.nn.SiLU(), L.nn.Conv1d(4, 2, 1)),
        [F32]),
}


@pytest.mark.parametrize("model", list(MODELS))
def test_parameters_complete_in_pytorchs_order(model):
    """The order of the parameters' post-accumulate hooks (what optimizer-in-backward and
    gradient bucketing see) in common layers."""
    build, inputs = MODELS[model]
    logs = []
    for lib in (torch, minigrad):
        lib.manual_seed(0)
        module = build(lib)
        log = []
        for name, p in module.named_parameters():
            p.register_post_accumulate_grad_hook(lambda p, name=name: log.append(name))
        out = module(*[lib.tensor(a) for a in inputs])
        (out[0] if isinstance(out, tuple) else out).pow(2).sum().backward()
        logs.append(log)
    assert logs[1] == logs[0]


def test_sequence_numbers_follow_creation_order():
    """``grad_fn._sequence_nr()`` grows with each node made; a leaf's AccumulateGrad has the
    largest (2**64 - 1), as in PyTorch."""
    results = []
    for lib in (torch, minigrad):
        x = lib.tensor(V, requires_grad=True)
        a = x * 2
        b = x.exp()
        c = a + b
        seqs = [t.grad_fn._sequence_nr() for t in (a, b, c)]
        acc = a.grad_fn.next_functions[0][0]
        results.append(([s - seqs[0] > 0 for s in seqs[1:]], acc._sequence_nr()))
    assert results[1] == results[0]
