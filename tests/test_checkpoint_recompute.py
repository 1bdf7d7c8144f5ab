"""minigrad.utils.checkpoint against PyTorch and against the same code run without it: equal
gradients (first and second order), the forward really runs without a graph, dropout draws
the same mask when recomputed, PyTorch's warnings and errors."""
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
from minigrad.utils.checkpoint import checkpoint, checkpoint_sequential

torch = pytest.importorskip("torch")
from torch.utils.checkpoint import checkpoint as torch_checkpoint  # noqa: E402
from torch.utils.checkpoint import checkpoint_sequential as torch_sequential  # noqa: E402


def _mlps():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 5),
                                 torch.nn.Sigmoid(), torch.nn.Linear(5, 3)).double()
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 5), nn.Sigmoid(),
                          nn.Linear(5, 3)).double()
    model.load_state_dict({k: minigrad.tensor(v.numpy()) for k, v in
                           tmodel.state_dict().items()})
    return model, tmodel


X = np.random.default_rng(0).standard_normal((7, 4))


def _grads(model, x):
    return [x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()]


def _assert_close(ours, theirs, tol=1e-12):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("use_reentrant", [True, False])
@pytest.mark.parametrize("how", ["module", "lambda", "bound_method", "sequential"])
def test_gradients_equal_torch_and_uncheckpointed(how, use_reentrant):
    model, tmodel = _mlps()
    results = []
    for lib, net, ckpt, seq in ((minigrad, model, checkpoint, checkpoint_sequential),
                                (torch, tmodel, torch_checkpoint, torch_sequential)):
        x = lib.tensor(X, requires_grad=True)
        if how == "module":
            y = ckpt(net, x, use_reentrant=use_reentrant)
        elif how == "lambda":
            y = ckpt(lambda a: net(a).sin() * a.sum(), x, use_reentrant=use_reentrant)
        elif how == "bound_method":
            y = ckpt(net.forward, x, use_reentrant=use_reentrant)
        else:
            y = seq(net, 3, x, use_reentrant=use_reentrant)
        (y ** 2).sum().backward()
        results.append(_grads(net, x))
    _assert_close(results[0], results[1])
    # and the same code without checkpointing
    plain, _ = _mlps()
    x = minigrad.tensor(X, requires_grad=True)
    y = plain(x) if how in ("module", "bound_method", "sequential") else \
        plain(x).sin() * x.sum()
    (y ** 2).sum().backward()
    _assert_close(results[0], _grads(plain, x))


def test_forward_runs_without_a_graph_and_backward_recomputes():
    model, _ = _mlps()
    seen = []

    def block(a):
        h = model(a)
        seen.append(h.requires_grad)
        return h.tanh()
    x = minigrad.tensor(X, requires_grad=True)
    y = checkpoint(block, x, use_reentrant=False)
    assert seen == [False]                       # nothing recorded, no activation kept
    assert y.requires_grad and y.grad_fn.name() == "CheckpointFunctionBackward"
    # the node's inputs: x and the model's 6 parameters, nothing from inside the block (the
    # function run, not a tensor, has no edge, as in PyTorch's custom Functions)
    assert len(y.grad_fn.next_functions) == 1 + 6
    y.sum().backward()
    assert seen == [False, True]                 # recomputed once, with a graph


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_autograd_grad_and_second_order_match_torch(use_reentrant):
    model, tmodel = _mlps()
    out = []
    for lib, net, ckpt in ((minigrad, model, checkpoint), (torch, tmodel, torch_checkpoint)):
        x = lib.tensor(X, requires_grad=True)
        y = ckpt(lambda a: net(a).sin(), x, use_reentrant=False)
        g, = lib.autograd.grad((y ** 2).sum(), x, create_graph=True)
        (g * g).sum().backward()
        out.append([g.detach().numpy()] + _grads(net, x))
    _assert_close(out[0], out[1], 1e-11)
    # gradients with respect to parameters through autograd.grad (no .grad touched); a
    # reentrant checkpoint refuses it, as PyTorch's ("not compatible with .grad()")
    model, tmodel = _mlps()
    if use_reentrant:
        for lib, net, ckpt in ((minigrad, model, checkpoint), (torch, tmodel, torch_checkpoint)):
            x = lib.tensor(X, requires_grad=True)
            y = ckpt(net, x, use_reentrant=True)
            with pytest.raises(RuntimeError, match=r"compatible with \.grad\(\)"):
                lib.autograd.grad(y.sum(), [x] + list(net.parameters()))
        return
    x = minigrad.tensor(X, requires_grad=True)
    y = checkpoint(model, x, use_reentrant=use_reentrant)
    grads = minigrad.autograd.grad(y.sum(), [x] + list(model.parameters()))
    plain, _ = _mlps()
    x2 = minigrad.tensor(X, requires_grad=True)
    expected = minigrad.autograd.grad(plain(x2).sum(), [x2] + list(plain.parameters()))
    _assert_close([g.numpy() for g in grads], [g.numpy() for g in expected])
    assert all(p.grad is None for p in model.parameters())


def test_dropout_recomputes_the_same_mask():
    drop = nn.Dropout(0.5)
    lin = nn.Linear(4, 8).double()

    def block(a):
        return drop(lin(a)) * 3

    def run(checkpointed, preserve=True):
        minigrad.manual_seed(11)
        lin.zero_grad()
        x = minigrad.tensor(X, requires_grad=True)
        y = checkpoint(block, x, use_reentrant=False, preserve_rng_state=preserve) \
            if checkpointed else block(x)
        (y * y).sum().backward()
        return y.detach().numpy(), [x.grad.numpy(), lin.weight.grad.numpy()]
    y_plain, g_plain = run(False)
    y_ckpt, g_ckpt = run(True)
    np.testing.assert_array_equal(y_plain, y_ckpt)
    _assert_close(g_ckpt, g_plain)
    # the random state after backward is the one the forward left (not rewound)
    minigrad.manual_seed(11)
    x = minigrad.tensor(X, requires_grad=True)
    y = checkpoint(block, x, use_reentrant=False)
    after_forward = minigrad.rand(3).numpy()
    minigrad.manual_seed(11)
    y = checkpoint(block, x, use_reentrant=False)
    y.sum().backward()
    np.testing.assert_array_equal(minigrad.rand(3).numpy(), after_forward)
    # without preserve_rng_state the recomputation draws a new mask: wrong on purpose
    _, g_fresh = run(True, preserve=False)
    assert not np.allclose(g_fresh[0], g_plain[0])


def test_multiple_outputs_kwargs_and_unknown_leaves():
    a, ta = minigrad.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    w = minigrad.tensor(X[:, :1].copy(), requires_grad=True)
    tw = torch.tensor(X[:, :1].copy(), requires_grad=True)
    hidden = {"w": w}                 # not visible to a scan of the function: found in backward

    def f(lib, hid):
        return lambda x, scale=1.0: (x.exp() * scale, 3, (x * hid["w"]).sin())
    outs = checkpoint(f(minigrad, hidden), a, use_reentrant=False, scale=2.0)
    touts = torch_checkpoint(f(torch, {"w": tw}), ta, use_reentrant=False, scale=2.0)
    assert outs[1] == 3 and touts[1] == 3
    (outs[0].sum() + outs[2].sum()).backward()
    (touts[0].sum() + touts[2].sum()).backward()
    _assert_close([a.grad.numpy(), w.grad.numpy()], [ta.grad.numpy(), tw.grad.numpy()])
    out = checkpoint(lambda x: [x * 2], a, use_reentrant=False)
    assert isinstance(out, list) and out[0].requires_grad


def test_warnings_and_errors_match_torch():
    lin, tlin = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    x, tx = minigrad.ones(3, 2), torch.ones(3, 2)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        y = checkpoint(lin, x.requires_grad_())
    assert y.grad_fn is not None
    x = minigrad.ones(3, 2)
    for fn in (lambda: checkpoint(lin, x, use_reentrant=True),
               lambda: torch_checkpoint(tlin, tx, use_reentrant=True)):
        with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
            y = fn()
        assert not y.requires_grad
    assert checkpoint(lin, x, use_reentrant=False).requires_grad      # parameters do
    with pytest.raises(ValueError) as theirs:
        torch_checkpoint(tlin, tx, use_reentrant=True, foo=1)
    with pytest.raises(ValueError) as ours:
        checkpoint(lin, x, use_reentrant=True, foo=1)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError) as theirs:
        torch_checkpoint(tlin, tx, use_reentrant=True, debug=True)
    with pytest.raises(ValueError) as ours:
        checkpoint(lin, x, use_reentrant=True, debug=True)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError) as theirs:
        torch_sequential([tlin], 1, tx, use_reentrant=False, foo=1)
    with pytest.raises(ValueError) as ours:
        checkpoint_sequential([lin], 1, x, use_reentrant=False, foo=1)
    assert str(ours.value) == str(theirs.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lin, x.requires_grad_(), use_reentrant=False)


def test_modified_input_is_caught():
    lin = nn.Linear(2, 2)
    x = minigrad.ones(3, 2, requires_grad=True)
    h = x * 1
    y = checkpoint(lin, h, use_reentrant=False)
    with minigrad.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_a_tensor_passed_twice_gets_its_gradient_once():
    grads = []
    for lib, ckpt in ((minigrad, checkpoint), (torch, torch_checkpoint)):
        a = lib.tensor(X[0], requires_grad=True)
        ckpt(lambda u, v: (u * v.sin()).sum(), a, a, use_reentrant=False).backward()
        grads.append(a.grad.numpy())
    _assert_close([grads[0]], [grads[1]])
