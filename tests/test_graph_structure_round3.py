"""Graph structure side by side with PyTorch, round 3: the pieces of ``split`` / ``chunk`` /
``unbind`` share one node, and a reshape that copies shows PyTorch's clone.

PyTorch's ``split`` makes one ``SplitBackward0`` node with an output per piece: every
piece's ``grad_fn`` is that node, its ``output_nr`` its place, a consumer's
``next_functions`` names ``(node, k)``, hooks on the node run once with a gradient (or None)
per piece, and the node shows ``_saved_dim``, ``_saved_split_size(s)`` and
``_saved_self_sym_sizes``. The graph walk here numbers the nodes in the order first met, so
a node reached twice must be the same object in both libraries. A reshape that copies (of a
transposed tensor) is PyTorch's ``UnsafeViewBackward0`` over a ``CloneBackward0``.

The behaviour behind the nodes (gradients, hooks, double backward, errors) is compared with
PyTorch's too.
"""
import numpy as np
import pytest
import torch

import minigrad

from test_graph_structure_round2 import _same  # noqa: E402  (nested results, float64-close)

RNG = np.random.default_rng(11)
DATA = {
    "x": RNG.standard_normal((3, 4)),
    "b3": RNG.standard_normal((2, 3, 4)),
    "w": RNG.standard_normal((4, 12)),
    "a4": RNG.standard_normal((2, 3, 4, 5)),
    "k4": RNG.standard_normal((2, 3, 6, 5)),
    "ab": RNG.standard_normal((2, 1, 3, 4)),
    "bb": RNG.standard_normal((1, 3, 4, 5)),
    "v": RNG.standard_normal(4),
}


def _inputs(L):
    return {k: L.tensor(a, requires_grad=True) for k, a in DATA.items()}


def _walk(root, names):
    """The graph below ``root`` as (name, node number, edges) with the nodes numbered in the
    order first met, so that a shared node shows as one number; a leaf by its input name."""
    numbers = {}

    def visit(node, depth):
        if node is None:
            return None
        name = type(node).__name__
        if name == "AccumulateGrad":
            return (name, names.get(id(node.variable), "param"))
        seen = id(node) in numbers
        number = numbers.setdefault(id(node), len(numbers))
        if seen:
            return (name, number)
        assert depth < 16
        return (name, number, tuple((visit(n, depth + 1), nr) for n, nr in node.next_functions))
    return visit(root, 0)


def _graph(L, build):
    d = _inputs(L)
    names = {id(t): k for k, t in d.items()}
    out = build(L, d)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [(_walk(o.grad_fn, names), o.output_nr) for o in outs]


def _pair(f):
    return lambda L, d: f(L, *d["x"].split(2, 1))


CASES = {
    "split pieces": lambda L, d: d["x"].split(2, 1),
    "split by sizes": lambda L, d: d["x"].split([1, 3], 1),
    "split, one piece": lambda L, d: d["x"].split(4, 1),
    "split, last piece shorter": lambda L, d: d["b3"].split(2, 2)[::-1],
    "chunk": lambda L, d: d["b3"].chunk(3, 1),
    "unbind": lambda L, d: d["x"].unbind(0),
    "unbind, last dim": lambda L, d: d["b3"].unbind(-1),
    "rows by iteration": lambda L, d: L.stack([r * 2 for r in d["x"]], 0),
    "split pieces multiplied": _pair(lambda L, a, b: a * b),
    "chunk pieces reversed into cat": lambda L, d: L.cat(d["x"].chunk(2, 1)[::-1], 1),
    "unbind into stack": lambda L, d: L.stack(d["x"].unbind(1), 0),
    "unbind, two rows used": lambda L, d: (lambda *r: r[2] + r[0])(*d["x"].unbind(0)),
    "split by sizes, both used": lambda L, d: (lambda a, b: b.sum(1) + a.squeeze(1))(
        *d["x"].split([1, 3], 1)),
    "gated halves (glu by hand)": lambda L, d: (lambda a, b: a * b.sigmoid())(
        *d["x"].chunk(2, -1)),
    "unsafe_split": lambda L, d: (lambda a, b: a + b)(*L.unsafe_split(d["x"], 2, 1)),
    "unsafe_chunk": lambda L, d: L.unsafe_chunk(d["x"], 2, 1),
    "split_with_sizes": lambda L, d: L.split_with_sizes(d["x"], [3, 1], 1),
    "split of a product": lambda L, d: (d["x"] @ d["w"]).split(4, 1),
    "piece of a piece": lambda L, d: d["x"].split(2, 1)[1].unbind(1),
    "q k v of a projection": lambda L, d: (lambda q, k, v: (q * k).softmax(-1) * v)(
        *L.nn.functional.linear(d["b3"], d["w"].t()).split(4, -1)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_graph_matches_pytorch(case):
    build = CASES[case]
    assert _graph(minigrad, build) == _graph(torch, build)


RESHAPE_CASES = {
    "reshape of a transpose": lambda L, d: d["x"].t().reshape(12),
    "reshape of a transpose, used": lambda L, d: d["x"].t().reshape(2, 6).sum(0),
    "flatten of a transpose": lambda L, d: d["x"].t().flatten(),
    "reshape of a permutation": lambda L, d: d["b3"].permute(2, 0, 1).reshape(4, 6),
    "reshape of a contiguous tensor": lambda L, d: d["b3"].reshape(6, 4),
    "reshape of a strided view": lambda L, d: d["b3"][:, 1:].reshape(2, 2, 2, 2),
}


@pytest.mark.parametrize("case", list(RESHAPE_CASES))
def test_reshape_graph_matches_pytorch(case):
    build = RESHAPE_CASES[case]
    assert _graph(minigrad, build) == _graph(torch, build)


MATMUL_CASES = {
    "batch times a matrix": lambda L, d: d["b3"] @ d["w"],
    "batch times a frozen matrix": lambda L, d: d["b3"] @ d["w"].detach(),
    "transposed batch times a matrix": lambda L, d: d["b3"].mT @ d["w"][:3],
    "transposed batch times a frozen matrix, not folded": lambda L, d:
        d["b3"].mT @ d["w"][:3].detach(),
    "4-d batch times a matrix": lambda L, d: d["a4"] @ d["w"][:, :5].t(),
    "batch times a vector": lambda L, d: d["b3"] @ d["w"][:, 0],
    "vector times a matrix": lambda L, d: d["v"] @ d["w"][:, 4:9],
    "vector times a frozen matrix": lambda L, d: d["v"] @ d["w"][:, 4:9].detach(),
    "two batches": lambda L, d: d["b3"] @ d["w"].reshape(2, 4, 6),
    "frozen batch times a batch": lambda L, d: d["b3"].detach() @ d["w"].reshape(2, 4, 6),
    "q @ k^T": lambda L, d: d["a4"] @ d["k4"].transpose(-1, -2),
    "broadcast batches": lambda L, d: d["ab"] @ d["bb"],
    "batch of 4-d and of 3-d": lambda L, d: d["a4"] @ d["k4"][0].mT,
    "5-d batches": lambda L, d: d["a4"][None] @ d["k4"][None].mT,
    "a strided batch": lambda L, d: d["a4"][:, :, ::2] @ d["k4"].mT,
    "an expanded batch": lambda L, d: d["b3"][:1].expand(2, 3, 4) @ d["w"].reshape(2, 4, 6),
    "attention by hand": lambda L, d: (lambda q, k, v: (q @ k.mT / 2).softmax(-1) @ v)(
        *d["a4"].chunk(2, 2), d["k4"][:, :, :2]),
    "float32": lambda L, d: d["b3"].float() @ d["w"].float().reshape(2, 4, 6),
}


@pytest.mark.parametrize("case", list(MATMUL_CASES))
def test_batched_matmul_graph_matches_pytorch(case):
    build = MATMUL_CASES[case]
    assert _graph(minigrad, build) == _graph(torch, build)


def _matmul_run(L, case):
    """A batched product's graph read, hooks on its nodes, two backwards and a second
    derivative."""
    a0 = L.tensor(DATA["a4"], requires_grad=True)
    b0 = L.tensor(DATA["k4"], requires_grad=True)
    a = a0 * 1.5
    if case == "vm":            # a vector times a matrix: the vector a0[0, 0, 0]
        a0 = L.tensor(DATA["a4"][0, 0, 0], requires_grad=True)
        a = a0 * 1.5
    b = (b0 * 0.5).mT if case == "bmm" else L.tensor(
        DATA["w"][0, :5] if case == "mv" else DATA["w"][:, :5].T.copy(), requires_grad=True)
    y = a @ b
    nodes, todo = [], [y.grad_fn]
    while todo:
        n = todo.pop(0)
        if n is not None and type(n).__name__ != "AccumulateGrad" and n not in nodes:
            nodes.append(n)
            todo.extend(m for m, _ in n.next_functions)
    log = []
    for k, n in enumerate(nodes[:6]):
        n.register_hook(lambda gi, go, k=k: log.append(
            (k, [_arr(g) for g in gi], [_arr(g) for g in go])))
        n.register_prehook(lambda go, k=k: log.append((k, "pre")))
    (y.sin() ** 2).sum().backward(retain_graph=True)
    (y.sin() ** 2).sum().backward()
    grads = [_arr(t.grad) for t in (a0, b0 if case == "bmm" else b)]
    y2 = a0 @ ((b0 * 0.5).mT if case == "bmm" else b)
    y2.grad_fn.next_functions
    g, = L.autograd.grad((y2 ** 3).sum(), a0, create_graph=True)
    second = _arr(L.autograd.grad((g * g).sum(), b0 if case == "bmm" else b)[0])
    return dict(names=[type(n).__name__ for n in nodes],
                order=list(np.argsort([n._sequence_nr() for n in nodes])),
                log=log, grads=grads, second=second,
                saved=[n._saved_self_sym_sizes for n in nodes if "Reshape" in n.name() or
                       n.name() in ("ViewBackward0", "ExpandBackward0")])


@pytest.mark.parametrize("case", ["bmm", "mm", "mv", "vm"])
def test_batched_matmul_nodes_act_as_pytorchs(case):
    ours, theirs = _matmul_run(minigrad, case), _matmul_run(torch, case)
    assert _same(ours, theirs), (ours, theirs)


def test_batched_matmul_gradients_unchanged_by_reading_the_graph():
    def run(L, read):
        a = L.tensor(DATA["a4"], requires_grad=True)
        k = L.tensor(DATA["k4"], requires_grad=True)
        s = (a @ k.mT).softmax(-1)
        out = s @ k
        if read:
            s.grad_fn.next_functions[0][0].next_functions, out.grad_fn.next_functions
        (out ** 2).sum().backward()
        return [_arr(a.grad), _arr(k.grad)]
    expected = run(torch, False)
    for read in (False, True):
        assert _same(run(minigrad, read), expected)


# -- the node itself -----------------------------------------------------------------------------

SPLITS = {
    "split": lambda L, x: x.split(2, 1),
    "split 3": lambda L, x: x.split(3, 1),
    "split sizes": lambda L, x: x.split([1, 3], 1),
    "split, dim 0": lambda L, x: x.split(2),
    "chunk": lambda L, x: x.chunk(2, 1),
    "chunk 3": lambda L, x: x.chunk(3, 0),
    "unbind": lambda L, x: x.unbind(0),
    "unbind -1": lambda L, x: x.unbind(-1),
    "iteration": lambda L, x: tuple(x),
    "unsafe_split": lambda L, x: L.unsafe_split(x, 2, 1),
    "split_with_sizes": lambda L, x: L.split_with_sizes(x, [2, 2], 1),
}


def _node_view(L, how):
    x = L.tensor(DATA["x"], requires_grad=True)
    pieces = SPLITS[how](L, x)
    node = pieces[0].grad_fn
    saved = {a: getattr(node, a) for a in dir(node) if a.startswith("_saved_")}
    if saved["_saved_dim"] >= 2 ** 63:      # PyTorch shows a dim given as -1 as its wrap
        saved["_saved_dim"] -= 2 ** 64 - x.ndim
    return dict(name=node.name(), type=type(node).__name__,
                same=[p.grad_fn is node for p in pieces], nr=[p.output_nr for p in pieces],
                edges=[(type(n).__name__, k) for n, k in node.next_functions],
                leaf=node.next_functions[0][0].variable is x, saved=saved,
                shapes=[tuple(p.shape) for p in pieces],
                version=[p._version for p in pieces],
                # (PyTorch's unsafe_split makes no views; minigrad's pieces are views all the same)
                base=None if "unsafe" in how else [p._base is x for p in pieces])


@pytest.mark.parametrize("how", list(SPLITS))
def test_pieces_share_one_node_as_pytorchs(how):
    assert _node_view(minigrad, how) == _node_view(torch, how)


def _arr(g):
    return None if g is None else g.detach().numpy().copy()


def _hooks_run(L, how, used):
    """Hooks on the split node and on its pieces, over two backwards, with only the pieces
    in ``used`` reaching the loss; the gradients, and the node called by hand."""
    x0 = L.tensor(DATA["x"], requires_grad=True)
    x = x0 * 1.5
    pieces = SPLITS[how](L, x)
    node = pieces[0].grad_fn
    log = []
    node.register_prehook(lambda go: log.append(("pre", [_arr(g) for g in go])))
    node.register_hook(lambda gi, go: log.append(("post", [_arr(g) for g in gi],
                                                  [_arr(g) for g in go])))
    for k in used:
        pieces[k].register_hook(lambda g, k=k: log.append(("piece", k, _arr(g))))
    pieces[used[0]].retain_grad()
    x.register_hook(lambda g: log.append(("x", _arr(g))))
    loss = sum(((pieces[k] * (k + 1)) ** 2).sum() for k in used)
    loss.backward(retain_graph=True)
    loss.backward()
    grads = dict(x0=_arr(x0.grad), retained=_arr(pieces[used[0]].grad))
    direct = node(*[L.ones_like(p) if k == used[0] else None
                    for k, p in enumerate(pieces)])
    return dict(log=log, grads=grads, direct=_arr(direct))


@pytest.mark.parametrize("how,used", [("split", (0, 1)), ("split", (1,)), ("chunk 3", (2, 0)),
                                      ("split sizes", (1,)), ("unbind", (0, 2)),
                                      ("unbind -1", (3,)), ("iteration", (1, 0))])
def test_hooks_and_gradients_through_the_node(how, used):
    ours, theirs = _hooks_run(minigrad, how, used), _hooks_run(torch, how, used)
    assert _same(ours, theirs), (ours, theirs)


def _second_order(L, how):
    x = L.tensor(DATA["x"], requires_grad=True)
    pieces = SPLITS[how](L, x)
    loss = (pieces[0] ** 3).sum() + (pieces[-1].sin() * pieces[0].sum()).sum()
    g, = L.autograd.grad(loss, x, create_graph=True)
    names = [type(n).__name__ if n is not None else None for n, _ in g.grad_fn.next_functions]
    h, = L.autograd.grad((g ** 2).sum(), x)
    return dict(g=_arr(g), h=_arr(h), node=g.grad_fn.name(), edges=names)


@pytest.mark.parametrize("how", ["split", "split sizes", "chunk 3", "unbind", "unbind -1"])
def test_second_derivative_through_the_node(how):
    assert _same(_second_order(minigrad, how), _second_order(torch, how))


def _grad_of_a_piece(L):
    x = L.tensor(DATA["x"], requires_grad=True)
    a, b = (x * 2).split(2, 1)
    out = (a * b).sum() + b.exp().sum()
    ga, gb = L.autograd.grad(out, [a, b], retain_graph=True)
    gx, = L.autograd.grad(out, x)
    return dict(ga=_arr(ga), gb=_arr(gb), gx=_arr(gx))


def test_autograd_grad_with_respect_to_pieces():
    assert _same(_grad_of_a_piece(minigrad), _grad_of_a_piece(torch))


def test_writing_into_a_piece_is_refused_as_pytorch():
    def message(L):
        x = L.tensor(DATA["x"], requires_grad=True)
        a, b = (x * 1).split(2, 1)
        with pytest.raises(RuntimeError) as info:
            b.mul_(2)
        return str(info.value)
    assert message(minigrad) == message(torch)


def test_pieces_without_grad_mode():
    def run(L):
        x = L.tensor(DATA["x"], requires_grad=True)
        with L.no_grad():
            pieces = x.split(2, 1)
        return [(p.grad_fn, p.requires_grad, p.is_leaf, p.output_nr) for p in pieces]
    assert run(minigrad) == run(torch)


def test_empty_unbind_and_zero_sized_pieces():
    def run(L):
        x = L.zeros(0, 3, requires_grad=True)
        pieces = x.split(2, 1)
        (pieces[0].sum() + pieces[1].sum()).backward()
        return (len(x.unbind(0)), [tuple(p.shape) for p in pieces],
                [p.output_nr for p in pieces], tuple(x.grad.shape))
    assert run(minigrad) == run(torch)


# -- the clone under a copying reshape -----------------------------------------------------------

def _reshape_run(L):
    x = L.tensor(DATA["x"], requires_grad=True)
    y = x.t().reshape(2, 6)
    node = y.grad_fn
    clone = node.next_functions[0][0]
    log = []
    clone.register_prehook(lambda go: log.append(("clone in", _arr(go[0]))))
    clone.register_hook(lambda gi, go: log.append(("clone out", _arr(gi[0]))))
    ((y * L.tensor(np.arange(12.0).reshape(2, 6))) ** 2).sum().backward()
    g, = L.autograd.grad((x.t().reshape(12).tanh() ** 2).sum(), x, create_graph=True)
    return dict(names=[type(node).__name__, type(clone).__name__,
                       type(clone.next_functions[0][0]).__name__],
                order=clone._sequence_nr() < node._sequence_nr(), log=log, grad=_arr(x.grad),
                second=_arr(L.autograd.grad(g.sum(), x)[0]))


def test_reshape_copy_clone_node_acts_as_pytorchs():
    assert _same(_reshape_run(minigrad), _reshape_run(torch))
