"""LSTM, GRU and Elman RNN layers run as one graph node per layer and direction (nn/modules/_rnn_layers.py)
beside PyTorch: outputs, final states, every gradient (input, initial states, each parameter)
in float64 and float32, and second derivatives through ``create_graph`` (the layer's backward
then runs as ops), plus central finite differences of minigrad's own first derivatives."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)

CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=1, bias=False),
    dict(num_layers=2, batch_first=True),
    dict(num_layers=1, bidirectional=True, batch_first=True, bias=False),
]


def _module(lib, kind, dtype, cfg, size=(5, 6)):
    lib.manual_seed(0)
    kind, cfg = _kind(kind, cfg)
    m = getattr(lib.nn, kind)(*size, **cfg)
    return m.to(getattr(lib, dtype))


KINDS = ["LSTM", "GRU", "RNN", "RNN_relu"]


def _kind(kind, cfg):
    """RNN_relu: an Elman layer with relu."""
    return ("RNN", dict(cfg, nonlinearity="relu")) if kind == "RNN_relu" else (kind, cfg)


def _copy_params(src, dst):
    with torch.no_grad():
        for (name, p), (_, q) in zip(src.named_parameters(), dst.named_parameters()):
            q.copy_(torch.tensor(p.detach().numpy()))


def _run(lib, m, x, hx, use_states):
    x = lib.tensor(x, requires_grad=True)
    hx = None if hx is None else tuple(lib.tensor(h, requires_grad=True) for h in hx)
    arg = hx if hx is None or len(hx) == 2 else hx[0]
    out, state = m(x) if arg is None else m(x, arg)
    states = state if isinstance(state, tuple) else (state,)
    loss = (out * lib.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape),
                             dtype=out.dtype)).sum()
    if use_states:
        loss = loss + sum((s * s).sum() * (k + 2) for k, s in enumerate(states))
    loss.backward()
    grads = [x.grad] + ([h.grad for h in hx] if hx is not None else []) + \
        [p.grad for p in m.parameters()]
    return [out] + list(states), grads


def _inputs(kind, cfg, dtype, T=4, N=3, batched=True):
    x = RNG.standard_normal((N, T, 5) if cfg.get("batch_first") else (T, N, 5))
    if not batched:
        x = x[:, 0] if cfg.get("batch_first") else x[:, 0]
    layers = cfg["num_layers"] * (2 if cfg.get("bidirectional") else 1)
    shape = (layers, N, 6) if batched else (layers, 6)
    hx = tuple(RNG.standard_normal(shape) for _ in range(2 if kind == "LSTM" else 1))
    return x.astype(dtype), tuple(h.astype(dtype) for h in hx)


def _close(a, b, dtype):
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(np.asarray(a.detach().tolist()),
                               b.detach().numpy(), **tol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("with_hx,use_states", [(False, False), (True, True)])
def test_layer_matches_torch(kind, cfg, dtype, with_hx, use_states):
    mine = _module(minigrad, kind, dtype, cfg)
    theirs = _module(torch, kind, dtype, cfg)
    _copy_params(mine, theirs)
    x, hx = _inputs(kind, cfg, dtype)
    got, got_grads = _run(minigrad, mine, x, hx if with_hx else None, use_states)
    want, want_grads = _run(torch, theirs, x, hx if with_hx else None, use_states)
    for a, b in zip(got + got_grads, want + want_grads):
        _close(a, b, dtype)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T,N", [(1, 1), (1, 4), (7, 1)])
def test_short_and_thin_sequences_and_unbatched(kind, T, N):
    cfg = dict(num_layers=2, bidirectional=True)
    mine, theirs = _module(minigrad, kind, "float64", cfg), _module(torch, kind, "float64", cfg)
    _copy_params(mine, theirs)
    for batched in (True, False):
        x, hx = _inputs(kind, cfg, "float64", T=T, N=N, batched=batched)
        got, got_grads = _run(minigrad, mine, x, hx, True)
        want, want_grads = _run(torch, theirs, x, hx, True)
        for a, b in zip(got + got_grads, want + want_grads):
            _close(a, b, "float64")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cfg", [dict(num_layers=1), dict(num_layers=2, bidirectional=True)])
def test_second_derivatives_match_torch(kind, cfg):
    """d/d(x, h0, W) of <grad of the loss wrt the parameters, v>: the layer's backward as ops."""
    def second(lib, m, x, hx):
        x = lib.tensor(x, requires_grad=True)
        hx = tuple(lib.tensor(h, requires_grad=True) for h in hx)
        out, state = m(x, hx if len(hx) == 2 else hx[0])
        states = state if isinstance(state, tuple) else (state,)
        loss = (out.sin()).sum() + sum((s * s).sum() for s in states)
        params = list(m.parameters())
        first = lib.autograd.grad(loss, [x] + params, create_graph=True)
        weights = [lib.tensor(np.cos(np.arange(g.numel()) * 0.37).reshape(tuple(g.shape)))
                   for g in first]
        total = sum((g * w).sum() for g, w in zip(first, weights))
        return lib.autograd.grad(total, [x, *hx] + params, allow_unused=True)
    mine, theirs = _module(minigrad, kind, "float64", cfg), _module(torch, kind, "float64", cfg)
    _copy_params(mine, theirs)
    x, hx = _inputs(kind, cfg, "float64", T=3, N=2)
    for a, b in zip(second(minigrad, mine, x, hx), second(torch, theirs, x, hx)):
        if b is None:
            assert a is None or np.allclose(a.tolist(), 0)
        else:
            _close(a, b, "float64")


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_match_central_differences(kind):
    cfg = dict(num_layers=1, bidirectional=True)
    m = _module(minigrad, kind, "float64", cfg, size=(3, 2))
    x = minigrad.tensor(RNG.standard_normal((3, 2, 3)), requires_grad=True)
    h = minigrad.tensor(RNG.standard_normal((2, 2, 2)), requires_grad=True)
    states = (h, minigrad.tensor(RNG.standard_normal((2, 2, 2)), requires_grad=True)) \
        if kind == "LSTM" else (h,)

    def f(x, *states):
        out, _ = m(x, states if kind == "LSTM" else states[0])
        return out
    assert minigrad.autograd.gradcheck(f, (x,) + states)
    assert minigrad.autograd.gradgradcheck(f, (x,) + states)


@pytest.mark.parametrize("kind", KINDS)
def test_outputs_are_separate_tensors_as_torch(kind):
    """An in-place change of the output leaves h_n (and c_n) as they were, in both."""
    results = []
    for lib in (minigrad, torch):
        m = _module(lib, kind, "float64", dict(num_layers=1))
        out, state = m(lib.ones(3, 2, 5, dtype=lib.float64))
        h_n = state[0] if kind == "LSTM" else state
        before = h_n.detach().clone()
        with lib.no_grad():
            out.mul_(0)
        results.append(bool((h_n == before).all()))
    assert results == [True, True]


def test_node_names_and_parameter_order_match_torch():
    names, orders = [], []
    for lib in (minigrad, torch):
        m = _module(lib, "GRU", "float64", dict(num_layers=1))
        log = []
        for name, p in m.named_parameters():
            p.register_post_accumulate_grad_hook(lambda p, name=name: log.append(name))
        out, h = m(lib.ones(3, 2, 5, dtype=lib.float64))
        names.append((type(out.grad_fn).__name__, type(h.grad_fn).__name__))
        (out.sum() + h.sum()).backward()
        orders.append(log)
    assert names[0] == names[1] and orders[0] == orders[1]


def _packed_run(lib, m, x, lengths, hx, enforce_sorted, create_graph=False):
    x = lib.tensor(x, requires_grad=True)
    hx = tuple(lib.tensor(h, requires_grad=True) for h in hx)
    packed = lib.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    out, state = m(packed, hx if len(hx) == 2 else hx[0])
    padded, _ = lib.nn.utils.rnn.pad_packed_sequence(out)
    states = state if isinstance(state, tuple) else (state,)
    weights = lib.tensor(np.cos(np.arange(padded.numel()) * 0.3).reshape(tuple(padded.shape)),
                         dtype=padded.dtype)
    loss = (padded * weights).sum() + sum((s * s).sum() * (k + 2) for k, s in enumerate(states))
    wrt = [x, *hx] + list(m.parameters())
    grads = lib.autograd.grad(loss, wrt, create_graph=create_graph)
    if create_graph:
        total = sum((g * g).sum() for g in grads)
        grads = lib.autograd.grad(total, wrt, allow_unused=True)
    return [padded, *states], list(grads)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cfg", [dict(num_layers=1), dict(num_layers=2, bidirectional=True)],
                         ids=["one", "two-bidirectional"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lengths,enforce_sorted", [([5, 3, 3, 1], True), ([2, 5, 1, 4], False),
                                                    ([4, 4, 4], True)])
def test_packed_sequences_match_torch(kind, cfg, dtype, lengths, enforce_sorted):
    mine, theirs = _module(minigrad, kind, dtype, cfg), _module(torch, kind, dtype, cfg)
    _copy_params(mine, theirs)
    layers = cfg["num_layers"] * (2 if cfg.get("bidirectional") else 1)
    x = RNG.standard_normal((max(lengths), len(lengths), 5)).astype(dtype)
    hx = tuple(RNG.standard_normal((layers, len(lengths), 6)).astype(dtype)
               for _ in range(2 if kind == "LSTM" else 1))
    got, got_grads = _packed_run(minigrad, mine, x, lengths, hx, enforce_sorted)
    want, want_grads = _packed_run(torch, theirs, x, lengths, hx, enforce_sorted)
    for a, b in zip(got + got_grads, want + want_grads):
        _close(a, b, dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_packed_second_derivatives_match_torch(kind):
    cfg = dict(num_layers=2, bidirectional=True)
    mine, theirs = _module(minigrad, kind, "float64", cfg), _module(torch, kind, "float64", cfg)
    _copy_params(mine, theirs)
    x = RNG.standard_normal((4, 3, 5))
    hx = tuple(RNG.standard_normal((4, 3, 6)) for _ in range(2 if kind == "LSTM" else 1))
    got = _packed_run(minigrad, mine, x, [4, 2, 1], hx, True, create_graph=True)[1]
    want = _packed_run(torch, theirs, x, [4, 2, 1], hx, True, create_graph=True)[1]
    for a, b in zip(got, want):
        _close(a, b, "float64")
