"""Graph structure side by side with PyTorch, round 2: what graph drawers (torchviz), graph
walkers and hooks on nodes read.

Each case builds the same expression with ``L = torch`` and ``L = minigrad`` on the same
numpy data and compares the whole graph below the output: every node's class name
(``type(grad_fn).__name__``), its ``next_functions`` in order with the output numbers, and
for a leaf which tensor its ``AccumulateGrad.variable`` is. Covered here, newly matched:

* ``linear`` / ``nn.Linear``: on a matrix PyTorch's ``AddmmBackward0`` lists (bias, input,
  ``TBackward0`` of the weight), ``MmBackward0`` (input, ``TBackward0``); on a batch or a
  vector the output's ``ViewBackward0`` / ``UnsafeViewBackward0`` is over that product,
  whose input is a ``ViewBackward0`` of x. minigrad's fused node makes those nodes when its
  edges are first read, and from then on the gradients go through them (hooks on them
  run, the gradient of W^T is W's transposed);
* ``cross_entropy`` with class indices: ``NllLossBackward0`` over ``LogSoftmaxBackward0``,
  made the same way from the fused loss node (``_saved_result`` is the log-softmax);
* nodes for ops on a Python number with no edge for it (``1 - x``, ``x ** 2``, ``2 ** x``,
  ``tril``, ``masked_fill``, a mean's division), ``square``'s one edge for x * x,
  ``masked_fill``'s (input, value) order, ``outer`` and ``normalize`` as PyTorch composes
  them, the norms' three edges with ``(None, 0)`` for an absent weight or bias, and
  ``CopySlices`` of an in-place op on a view listing the base's edge and then the op's
  other inputs.

The behaviour behind the new nodes (gradients, hooks, double backward) is compared with
PyTorch's too.
"""
import numpy as np
import pytest
import torch

import minigrad

RNG = np.random.default_rng(7)
DATA = {
    "x": RNG.standard_normal((3, 4)) + 2.5,
    "y": RNG.standard_normal((3, 4)),
    "v": RNG.standard_normal(4),
    "w": RNG.standard_normal(5),
    "m": RNG.standard_normal((4, 5)),
    "b3": RNG.standard_normal((2, 3, 4)),
    "img": RNG.standard_normal((2, 3, 6, 6)),
    "logits": RNG.standard_normal((5, 6)),
    "p": RNG.uniform(0.1, 0.9, (3, 4)),
}
CONST = {
    "tgt": np.array([1, 0, 3, 5, 2]),
    "mask": RNG.random((3, 4)) > 0.5,
    "yc": RNG.standard_normal((3, 4)),
    "t01": (RNG.random((3, 4)) > 0.5).astype(np.float64),
}


def _inputs(L):
    d = {k: L.tensor(a, requires_grad=True) for k, a in DATA.items()}
    d.update({k: L.tensor(a) for k, a in CONST.items()})
    return d


def _shape(node, names, depth=0):
    """The graph below ``node``: (class name, ((child, output_nr), ...)), a leaf as
    ('AccumulateGrad', which input or parameter shape)."""
    if node is None:
        return None
    name = type(node).__name__
    if name == "AccumulateGrad":
        var = node.variable
        return (name, names.get(id(var), "param" + str(tuple(var.shape))))
    assert depth < 12
    return (name, tuple((_shape(n, names, depth + 1), nr) for n, nr in node.next_functions))


def _graph(L, build):
    L.manual_seed(0)
    d = _inputs(L)
    names = {id(t): k for k, t in d.items()}
    out = build(L, d)
    return _shape(out.grad_fn, names)


def F(L):
    return L.nn.functional


def _mul_on_view(L, d):
    a = d["x"] * 1
    a[0].mul_(2)
    return a


def _add_on_transpose(L, d):
    a = d["x"] * 1
    a.t().add_(1)
    return a


def _exp_on_column(L, d):
    a = d["x"] * 1
    a[:, 1].exp_()
    return a


def _written_view(L, d):
    a = d["x"] * 1
    v = a.t()
    v.mul_(3)
    return v


def _setitem(L, d):
    a = d["x"] * 1
    a[0] = d["v"]
    return a


CASES = {
    # linear on a matrix
    "Linear": lambda L, d: L.nn.Linear(4, 3).double()(d["x"]),
    "Linear, input without grad": lambda L, d: L.nn.Linear(4, 3).double()(d["x"].detach()),
    "Linear, no bias": lambda L, d: L.nn.Linear(4, 3, bias=False).double()(d["x"]),
    "Linear after relu": lambda L, d: L.nn.Linear(4, 3).double()(d["x"].relu()),
    "Linear, frozen weight": lambda L, d: F(L).linear(d["x"], d["m"].t().detach(), d["w"]),
    "Linear, frozen bias": lambda L, d: F(L).linear(d["x"], d["m"].t(), d["w"].detach()),
    "linear, weight a transpose": lambda L, d: F(L).linear(d["x"], d["m"].t(), d["m"][0]),
    "linear, no bias, weight a transpose": lambda L, d: F(L).linear(d["x"], d["m"].t()),
    "Linear on a batch": lambda L, d: L.nn.Linear(4, 3).double()(d["b3"]),
    "Linear on a batch, no bias": lambda L, d: L.nn.Linear(4, 3, bias=False).double()(d["b3"]),
    "Linear on a vector": lambda L, d: L.nn.Linear(4, 3).double()(d["v"]),
    "Linear on a batch, frozen weight": lambda L, d: F(L).linear(d["b3"], d["m"].t().detach()),
    "two-layer MLP": lambda L, d: L.nn.Sequential(
        L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.Linear(8, 2)).double()(d["x"]),
    # cross entropy
    "cross_entropy": lambda L, d: F(L).cross_entropy(d["logits"], d["tgt"]),
    "cross_entropy sum": lambda L, d: F(L).cross_entropy(d["logits"], d["tgt"],
                                                         reduction="sum"),
    "cross_entropy none": lambda L, d: F(L).cross_entropy(d["logits"], d["tgt"],
                                                          reduction="none"),
    "cross_entropy weight, ignore_index": lambda L, d: F(L).cross_entropy(
        d["logits"], d["tgt"], weight=L.ones(6, dtype=L.float64), ignore_index=0),
    "CrossEntropyLoss after Linear": lambda L, d: L.nn.CrossEntropyLoss()(
        L.nn.Linear(6, 6).double()(d["logits"]), d["tgt"]),
    "cross_entropy, probabilities": lambda L, d: F(L).cross_entropy(
        d["logits"], d["logits"].detach().softmax(1)),
    "nll_loss of log_softmax": lambda L, d: F(L).nll_loss(d["logits"].log_softmax(1), d["tgt"]),
    # a Python number: no edge
    "1 - x": lambda L, d: 1 - d["x"],
    "x ** 2": lambda L, d: d["x"] ** 2,
    "x ** 0.5": lambda L, d: d["x"] ** 0.5,
    "square": lambda L, d: d["x"].square(),
    "2 ** x": lambda L, d: 2 ** d["x"],
    "mean of x ** 2": lambda L, d: (d["x"] ** 2).mean(dim=(0, 1)),
    "tril": lambda L, d: d["x"].tril(),
    "triu": lambda L, d: d["x"].triu(1),
    "masked_fill, number": lambda L, d: d["x"].masked_fill(d["mask"], 0.0),
    "masked_fill, tensor": lambda L, d: d["x"].masked_fill(d["mask"], d["v"][0]),
    "x - 1, x / 3, x * 3": lambda L, d: (d["x"] - 1) / 3 * 3,
    # composites laid out as PyTorch's
    "outer": lambda L, d: L.outer(d["v"], d["w"]),
    "normalize": lambda L, d: F(L).normalize(d["x"], dim=1),
    "normalize a vector": lambda L, d: F(L).normalize(d["v"], dim=0),
    # norms: three edges
    "layer_norm, no affine": lambda L, d: F(L).layer_norm(d["x"], (4,)),
    "layer_norm, weight only": lambda L, d: F(L).layer_norm(d["x"], (4,), weight=d["v"]),
    "LayerNorm": lambda L, d: L.nn.LayerNorm(4).double()(d["x"]),
    "group_norm, no affine": lambda L, d: F(L).group_norm(d["img"], 3),
    "GroupNorm": lambda L, d: L.nn.GroupNorm(1, 3).double()(d["img"]),
    # in-place ops on views
    "mul_ on a row": _mul_on_view,
    "add_ on a transpose": _add_on_transpose,
    "exp_ on a column": _exp_on_column,
    "the written view itself": _written_view,
    "a row assigned": _setitem,
    # guards: common graphs that matched already
    "conv2d + max_pool2d": lambda L, d: F(L).max_pool2d(L.nn.Conv2d(3, 4, 3).double()(
        d["img"]), 2),
    "BatchNorm2d": lambda L, d: L.nn.BatchNorm2d(3).double()(d["img"]),
    "cat of unsplit pieces": lambda L, d: L.cat([d["x"][:, :2], d["y"]], 1),
    "mse_loss": lambda L, d: F(L).mse_loss(d["x"], d["yc"]),
    "bce_with_logits": lambda L, d: F(L).binary_cross_entropy_with_logits(d["x"], d["t01"]),
    "softmax, view, permute": lambda L, d: d["b3"].softmax(-1).view(6, 4).t(),
    "where, sum(dim)": lambda L, d: L.where(d["mask"], d["x"], d["y"]).sum(1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_graph_matches_pytorch(case):
    build = CASES[case]
    assert _graph(minigrad, build) == _graph(torch, build)


# -- the nodes made on first look: what they do, against PyTorch's ----------------------------

def _linear_run(L):
    """An nn.Linear on relu(x), its graph read, hooks on its nodes, two backwards and a
    double backward; everything recorded for comparison."""
    L.manual_seed(0)
    x = L.tensor(DATA["m"].T.copy(), requires_grad=True)          # (5, 4)
    lin = L.nn.Linear(4, 3).double()
    with L.no_grad():
        lin.weight.copy_(L.tensor(np.linspace(-1, 1, 12).reshape(3, 4)))
        lin.bias.copy_(L.tensor([0.1, -0.2, 0.3]))
    y = lin(x.relu())
    node = y.grad_fn
    bias_node, input_node, t_node = (n for n, _ in node.next_functions)
    log = []
    t_node.register_prehook(lambda go: log.append(("T in", go[0].detach().numpy().copy())))
    t_node.register_hook(lambda gi, go: log.append(("T out", gi[0].detach().numpy().copy())))
    node.register_hook(lambda gi, go: log.append(
        ("addmm", [None if g is None else tuple(g.shape) for g in gi])))
    lin.weight.register_hook(lambda g: log.append("weight"))
    lin.bias.register_hook(lambda g: log.append("bias"))
    x.register_hook(lambda g: log.append("x"))
    (y ** 2).sum().backward(retain_graph=True)
    (y ** 2).sum().backward()
    grads = [t.grad.numpy().copy() for t in (x, lin.weight, lin.bias)]
    # the node called directly: the gradient of W^T in, W's out
    direct = t_node(L.ones(4, 3, dtype=L.float64)).detach().numpy()
    # double backward through a graph whose nodes were read
    y2 = lin(x)
    y2.grad_fn.next_functions
    gw, = L.autograd.grad((y2 ** 3).sum(), lin.weight, create_graph=True)
    second = L.autograd.grad(gw.sum(), x)[0].numpy()
    return dict(names=[type(n).__name__ for n in (bias_node, input_node, t_node)],
                variables=[bias_node.variable is lin.bias,
                           t_node.next_functions[0][0].variable is lin.weight],
                order=t_node._sequence_nr() < node._sequence_nr(),
                log=log, grads=grads, direct=direct, second=second)


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-12, atol=1e-12)
    return a == b


def test_linear_weight_transpose_node_acts_as_pytorchs():
    ours, theirs = _linear_run(minigrad), _linear_run(torch)
    assert ours["names"] == ["AccumulateGrad", "ReluBackward0", "TBackward0"]
    assert _same(ours, theirs), (ours, theirs)


def test_linear_gradients_unchanged_by_reading_the_graph():
    """The same step with and without reading next_functions gives PyTorch's gradients."""
    def run(L, read):
        x = L.tensor(DATA["m"].T.copy(), requires_grad=True)
        w = L.tensor(DATA["m"].T[:3].copy(), requires_grad=True)
        b = L.tensor(DATA["w"][:3], requires_grad=True)
        y = F(L).linear(x, w, b)
        z = F(L).linear(y.tanh(), w[:, :3], None)
        if read:
            y.grad_fn.next_functions, z.grad_fn.next_functions
        z.pow(2).sum().backward()
        return [t.grad.numpy() for t in (x, w, b)]
    expected = run(torch, False)
    for read in (False, True):
        assert _same(run(minigrad, read), expected)


@pytest.mark.parametrize("frozen", ["weight", "bias", "input"])
def test_linear_with_a_frozen_operand_after_reading_the_graph(frozen):
    def run(L):
        ts = [L.tensor(DATA["m"].T.copy()), L.tensor(DATA["m"].T[:3].copy()),
              L.tensor(DATA["w"][:3])]
        which = ["input", "weight", "bias"].index(frozen)
        for k, t in enumerate(ts):
            t.requires_grad_(k != which)
        y = F(L).linear(*ts)
        names = [None if n is None else type(n).__name__ for n, _ in y.grad_fn.next_functions]
        node_grads = []
        y.grad_fn.register_hook(lambda gi, go: node_grads.append(
            [None if g is None else g.numpy().copy() for g in gi]))
        (y.sin() * 3).sum().backward()
        return names, node_grads, [None if t.grad is None else t.grad.numpy() for t in ts]
    assert _same(run(minigrad), run(torch))


def test_graph_read_inside_a_backward_hook():
    """A hook that walks the graph during the backward pass leaves the pass's gradients
    PyTorch's (minigrad's fused nodes are split only outside a pass: there they show their
    own edges), and after the pass the freed graph reads as PyTorch's."""
    def run(L):
        x = L.tensor(DATA["m"].T.copy(), requires_grad=True)
        w = L.tensor(DATA["m"].T[:3].copy(), requires_grad=True)
        y = F(L).linear(x, w, L.tensor(DATA["w"][:3], requires_grad=True))
        loss = F(L).cross_entropy(y, L.tensor([0, 2, 1, 1, 0]))
        seen = []
        y.register_hook(lambda g: seen.append([type(n).__name__ for n, _ in
                                               y.grad_fn.next_functions]))
        loss.backward()
        names = _shape(loss.grad_fn, {id(x): "x", id(w): "w"})
        return len(seen), names, x.grad.numpy(), w.grad.numpy()
    assert _same(run(minigrad), run(torch))


def _batch_linear_run(L, bias, input_grad):
    """linear on a (2, 3, 4) input: the graph's nodes in PyTorch's creation order, what hooks
    on each of them see over two backwards, the gradients and a second derivative."""
    x0 = L.tensor(DATA["b3"], requires_grad=True)
    w = L.tensor(DATA["m"].T.copy(), requires_grad=True)
    b = L.tensor(DATA["w"], requires_grad=True) if bias else None
    x = x0 * 1 if input_grad else L.tensor(DATA["b3"])
    y = F(L).linear(x, w, b)
    nodes, todo = [], [y.grad_fn]
    while todo:
        n = todo.pop(0)
        if n is not None and type(n).__name__ != "AccumulateGrad":
            nodes.append(n)
            todo.extend(m for m, _ in n.next_functions)
    log = []
    for k, n in enumerate(nodes[:4]):
        n.register_hook(lambda gi, go, k=k: log.append(
            (k, [None if g is None else g.detach().numpy().copy() for g in gi])))
    (y ** 2).sum().backward(retain_graph=True)
    (y ** 2).sum().backward()
    grads = [t.grad.numpy() for t in (x0, w, b) if t is not None and t.grad is not None]
    y2 = F(L).linear(x0 * 1 if input_grad else x, w, b)
    y2.grad_fn.next_functions
    gw, = L.autograd.grad((y2 ** 3).sum(), w, create_graph=True)
    second = L.autograd.grad(gw.sum(), x0)[0].numpy() if input_grad else None
    return dict(names=[type(n).__name__ for n in nodes],
                order=list(np.argsort([n._sequence_nr() for n in nodes])),
                log=log, grads=grads, second=second)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("input_grad", [True, False])
def test_linear_on_a_batch_acts_as_pytorchs(bias, input_grad):
    ours = _batch_linear_run(minigrad, bias, input_grad)
    assert _same(ours, _batch_linear_run(torch, bias, input_grad))


def _cross_entropy_run(L, reduction, weight, ignore_index):
    x0 = L.tensor(DATA["logits"], requires_grad=True)
    x = x0 * 1.5
    t = L.tensor(CONST["tgt"])
    w = None if weight is None else L.tensor(weight)
    loss = F(L).cross_entropy(x, t, weight=w, reduction=reduction, ignore_index=ignore_index)
    nll = loss.grad_fn
    lsm = nll.next_functions[0][0]
    result, dim = lsm._saved_result.detach().numpy().copy(), lsm._saved_dim
    log = []
    nll.register_prehook(lambda go: log.append("nll"))
    lsm.register_hook(lambda gi, go: log.append(("log_softmax", go[0].detach().numpy().copy(),
                                                 gi[0].detach().numpy().copy())))
    total = loss.sum() if reduction == "none" else loss
    g, = L.autograd.grad(total, x0, create_graph=True)
    h, = L.autograd.grad((g ** 2).sum(), x0)
    return dict(names=[type(n).__name__ for n in (nll, lsm, lsm.next_functions[0][0])],
                result=result, dim=dim,
                order=lsm._sequence_nr() < nll._sequence_nr(), log=log, value=loss.detach().numpy(),
                grad=g.detach().numpy(), second=h.numpy())


@pytest.mark.parametrize("reduction,weight,ignore_index", [
    ("mean", None, -100), ("sum", None, -100), ("none", None, -100),
    ("mean", np.linspace(0.5, 2, 6), 3), ("none", np.linspace(0.5, 2, 6), 1)])
def test_cross_entropy_log_softmax_node_acts_as_pytorchs(reduction, weight, ignore_index):
    ours = _cross_entropy_run(minigrad, reduction, weight, ignore_index)
    theirs = _cross_entropy_run(torch, reduction, weight, ignore_index)
    assert ours["names"] == ["NllLossBackward0", "LogSoftmaxBackward0", "MulBackward0"]
    assert _same(ours, theirs), (ours, theirs)


def test_cross_entropy_after_backward_keeps_its_error():
    """The logits changed in place after the loss was made: minigrad's fused node, which
    read them, refuses the backward after its graph was read too (the node stays fused)."""
    x = minigrad.tensor(DATA["logits"], requires_grad=True) * 1
    loss = minigrad.nn.functional.cross_entropy(x, minigrad.tensor(CONST["tgt"]))
    x.add_(1)
    assert type(loss.grad_fn.next_functions[0][0]).__name__ == "MulBackward0"
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("case", ["mul_ on a row", "add_ on a transpose", "exp_ on a column"])
def test_inplace_on_view_gradients(case):
    """The writes whose CopySlices is shown as PyTorch's give PyTorch's gradients."""
    def run(L):
        d = _inputs(L)
        out = CASES[case](L, d)
        out.grad_fn.next_functions
        (out * L.tensor(CONST["yc"])).sum().backward()
        return d["x"].grad.numpy()
    assert _same(run(minigrad), run(torch))
