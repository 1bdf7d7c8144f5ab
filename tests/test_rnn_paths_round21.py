"""Recurrent layers beside PyTorch on the paths of the whole-sequence LSTM kernels
(nn/modules/_lstm_kernels.py): the gates through one tanh, the recurrence split over the batch
on two threads (batches of 8 or more rows with enough work a step), reused scratch buffers.
Every configuration is also run on one thread; outputs, final states and the gradients of the
input, the initial states and every parameter are compared with PyTorch's, then second
derivatives (create_graph) with PyTorch's and with central differences in float64."""
import numpy as np
import pytest

import minigrad
from minigrad.nn.modules import _lstm_kernels

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(21)
IN, HID = 7, 64


@pytest.fixture(autouse=True, scope="module")
def torch_on_one_thread():
    """PyTorch's reference on one thread (its OpenMP threads wait for a busy core for long)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request, monkeypatch):
    """One thread, or two with every LSTM batch of 8 rows or more split over them (the
    kernels split only larger ones by default)."""
    monkeypatch.setattr(_lstm_kernels, "_MIN_STEP_MACS", 0)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(request.param)
    yield request.param
    minigrad.set_num_threads(before)


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setattr(_lstm_kernels, "_MIN_STEP_MACS", 0)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(2)
    yield
    minigrad.set_num_threads(before)


def _pair(kind, dtype, **cfg):
    """The same module in minigrad and torch (torch's weights copied into minigrad's)."""
    nonlinearity = {}
    if kind == "RNN_relu":
        kind, nonlinearity = "RNN", dict(nonlinearity="relu")
    made = []
    for lib in (minigrad, torch):
        lib.manual_seed(0)
        made.append(getattr(lib.nn, kind)(IN, HID, **cfg, **nonlinearity).to(
            getattr(lib, dtype)))
    mine, theirs = made
    with minigrad.no_grad():
        for p, q in zip(mine.parameters(), theirs.parameters()):
            p.copy_(minigrad.tensor(q.detach().numpy()))
    return mine, theirs


def _tol(dtype):
    return dict(rtol=1e-9, atol=1e-11) if dtype == "float64" else dict(rtol=3e-4, atol=3e-5)


def _check(got, want, dtype):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        if b is None:
            assert a is None or not np.any(a.detach().numpy())
            continue
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **_tol(dtype))


def _forward_backward(lib, m, x, hx, create_graph=False):
    """Outputs, states and the gradients of a weighted sum of them (with create_graph: the
    gradients of the squared first gradients' sum)."""
    x = lib.tensor(x, requires_grad=True)
    hx = None if hx is None else tuple(lib.tensor(h, requires_grad=True) for h in hx)
    out, state = m(x) if hx is None else m(x, hx if len(hx) == 2 else hx[0])
    states = state if isinstance(state, tuple) else (state,)
    weights = lib.tensor(np.cos(np.arange(out.numel()) * 0.41).reshape(tuple(out.shape)),
                         dtype=out.dtype)
    loss = (out * weights).sum() + sum((s * s).sum() * (k + 2) for k, s in enumerate(states))
    wrt = [x] + list(hx or ()) + list(m.parameters())
    grads = lib.autograd.grad(loss, wrt, create_graph=create_graph, allow_unused=True)
    if create_graph:
        total = sum((g * g).sum() for g in grads if g is not None)
        grads = lib.autograd.grad(total, wrt, allow_unused=True)
    return [out, *states], list(grads)


def _inputs(kind, dtype, T, N, layers, batch_first=False, batched=True, with_hx=True,
            proj=0):
    x = RNG.standard_normal((N, T, IN) if batch_first else (T, N, IN))
    if not batched:
        x = x[0] if batch_first else x[:, 0]
    if not with_hx:
        return x.astype(dtype), None
    lead = (layers, N) if batched else (layers,)
    shapes = [lead + (proj or HID,)] + ([lead + (HID,)] if kind == "LSTM" else [])
    return x.astype(dtype), tuple(RNG.standard_normal(s).astype(dtype) for s in shapes)


KINDS = ["LSTM", "GRU", "RNN", "RNN_relu"]
CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, batch_first=True),
    dict(num_layers=3, bidirectional=True),
    dict(num_layers=2, bidirectional=True, batch_first=True, bias=False),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
@pytest.mark.parametrize("kind", KINDS)
def test_layers_match_torch(kind, cfg, dtype, two_threads):
    mine, theirs = _pair(kind, dtype, **cfg)
    layers = cfg["num_layers"] * (2 if cfg.get("bidirectional") else 1)
    x, hx = _inputs(kind, dtype, 4, 9, layers, cfg.get("batch_first", False))
    got, got_grads = _forward_backward(minigrad, mine, x, hx)
    want, want_grads = _forward_backward(torch, theirs, x, hx)
    _check(got + got_grads, want + want_grads, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_long_lstm_sequence(dtype, threads):
    """Enough steps that the passes over all steps at once (the gates' inputs, the cell
    derivative's factors) are split over the threads too."""
    mine, theirs = _pair("LSTM", dtype, num_layers=1)
    x, hx = _inputs("LSTM", dtype, 180, 8, 1)
    got, got_grads = _forward_backward(minigrad, mine, x, hx)
    want, want_grads = _forward_backward(torch, theirs, x, hx)
    _check(got + got_grads, want + want_grads, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", KINDS)
def test_without_initial_state_and_unbatched(kind, dtype, threads):
    mine, theirs = _pair(kind, dtype, num_layers=2, bidirectional=True)
    for batched, with_hx in [(True, False), (False, True), (False, False)]:
        x, hx = _inputs(kind, dtype, 5, 8, 4, batched=batched, with_hx=with_hx)
        got, got_grads = _forward_backward(minigrad, mine, x, hx)
        want, want_grads = _forward_backward(torch, theirs, x, hx)
        _check(got + got_grads, want + want_grads, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_projections_and_dropout_zero_in_training(dtype, threads):
    for cfg in (dict(num_layers=2, proj_size=5), dict(num_layers=3, dropout=0.0)):
        mine, theirs = _pair("LSTM", dtype, **cfg)
        mine.train()
        theirs.train()
        x, hx = _inputs("LSTM", dtype, 4, 8, cfg["num_layers"], proj=cfg.get("proj_size", 0))
        got, got_grads = _forward_backward(minigrad, mine, x, hx)
        want, want_grads = _forward_backward(torch, theirs, x, hx)
        _check(got + got_grads, want + want_grads, dtype)


def _packed(lib, m, x, lengths, hx, create_graph=False):
    x = lib.tensor(x, requires_grad=True)
    hx = tuple(lib.tensor(h, requires_grad=True) for h in hx)
    packed = lib.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, state = m(packed, hx if len(hx) == 2 else hx[0])
    padded, _ = lib.nn.utils.rnn.pad_packed_sequence(out)
    states = state if isinstance(state, tuple) else (state,)
    weights = lib.tensor(np.sin(np.arange(padded.numel()) * 0.3).reshape(tuple(padded.shape)),
                         dtype=padded.dtype)
    loss = (padded * weights).sum() + sum((s * s).sum() * (k + 2) for k, s in enumerate(states))
    wrt = [x, *hx] + list(m.parameters())
    grads = lib.autograd.grad(loss, wrt, create_graph=create_graph)
    if create_graph:
        grads = lib.autograd.grad(sum((g * g).sum() for g in grads), wrt, allow_unused=True)
    return [padded, *states], list(grads)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", KINDS)
def test_packed_sequences_split_over_the_batch(kind, dtype, threads):
    """Lengths that end inside either half of the batch, both directions."""
    mine, theirs = _pair(kind, dtype, num_layers=2, bidirectional=True)
    lengths = [3, 6, 1, 6, 2, 5, 4, 1, 6, 2]
    x = RNG.standard_normal((6, len(lengths), IN)).astype(dtype)
    hx = tuple(RNG.standard_normal((4, len(lengths), HID)).astype(dtype)
               for _ in range(2 if kind == "LSTM" else 1))
    got, got_grads = _packed(minigrad, mine, x, lengths, hx)
    want, want_grads = _packed(torch, theirs, x, lengths, hx)
    _check(got + got_grads, want + want_grads, dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_second_derivatives_match_torch(kind, threads):
    """torch.autograd.grad(create_graph=True) through the layers, then the gradient of the
    first gradients' squares: of the input, the initial states and every parameter."""
    mine, theirs = _pair(kind, "float64", num_layers=2, bidirectional=True)
    x, hx = _inputs(kind, "float64", 3, 8, 4)
    got, got_grads = _forward_backward(minigrad, mine, x, hx, create_graph=True)
    want, want_grads = _forward_backward(torch, theirs, x, hx, create_graph=True)
    _check(got_grads, want_grads, "float64")


def test_packed_second_derivatives_match_torch(threads):
    mine, theirs = _pair("LSTM", "float64", num_layers=1, bidirectional=True)
    lengths = [2, 3, 1, 3, 3, 2, 1, 3]
    x = RNG.standard_normal((3, len(lengths), IN))
    hx = tuple(RNG.standard_normal((2, len(lengths), HID)) for _ in range(2))
    got = _packed(minigrad, mine, x, lengths, hx, create_graph=True)[1]
    want = _packed(torch, theirs, x, lengths, hx, create_graph=True)[1]
    _check(got, want, "float64")


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_double_backward_matches_central_differences(kind):
    """gradgradcheck on a tiny layer: minigrad's second derivatives against central
    differences of its first derivatives, in float64."""
    minigrad.manual_seed(3)
    m = getattr(minigrad.nn, kind)(2, 2, num_layers=2).double()
    x = minigrad.tensor(RNG.standard_normal((2, 2, 2)), requires_grad=True)
    h = minigrad.tensor(RNG.standard_normal((2, 2, 2)), requires_grad=True)
    c = minigrad.tensor(RNG.standard_normal((2, 2, 2)), requires_grad=True)

    def f(x, h, c):
        out, _ = m(x, (h, c) if kind == "LSTM" else h)
        return out
    assert minigrad.autograd.gradcheck(f, (x, h, c))
    assert minigrad.autograd.gradgradcheck(f, (x, h, c))


def test_first_derivatives_at_large_gates_match_torch():
    """Pre-activations far in the sigmoids' and tanh's tails (saturated gates). float32 with
    pre-activations in the hundreds: each result within 1e-4 of its largest entry."""
    mine, theirs = _pair("LSTM", "float32", num_layers=1)
    with minigrad.no_grad():
        for p in mine.parameters():
            p.mul_(40)
    with torch.no_grad():
        for p in theirs.parameters():
            p.mul_(40)
    x, hx = _inputs("LSTM", "float32", 4, 8, 1)
    got, got_grads = _forward_backward(minigrad, mine, 3 * x, hx)
    want, want_grads = _forward_backward(torch, theirs, 3 * x, hx)
    for a, b in zip(got + got_grads, want + want_grads):
        a, b = a.detach().numpy(), b.detach().numpy()
        assert np.all(np.isfinite(a)) and np.max(np.abs(a - b)) <= 1e-4 * np.max(np.abs(b))


def test_kept_outputs_and_gradients_survive_the_next_step(threads):
    """The kernels' arrays come from a reused scratch cache: what a step hands out (outputs,
    states, gradients) must not change when the next step runs."""
    mine, theirs = _pair("LSTM", "float32", num_layers=2)
    kept = []
    for step in range(3):
        x, hx = _inputs("LSTM", "float32", 4, 8, 2)
        got, got_grads = _forward_backward(minigrad, mine, x, hx)
        want, want_grads = _forward_backward(torch, theirs, x, hx)
        kept.append((got + got_grads, want + want_grads))
    for got, want in kept:
        _check(got, want, "float32")


def test_torch_lstm_function_matches(threads):
    """torch.lstm on flat weights (the functional form) runs the same kernels."""
    mine, theirs = _pair("LSTM", "float64", num_layers=2, bidirectional=True)
    x, hx = _inputs("LSTM", "float64", 4, 8, 4)
    results = []
    for lib, m in ((minigrad, mine), (torch, theirs)):
        xt = lib.tensor(x, requires_grad=True)
        h = tuple(lib.tensor(a) for a in hx)
        out, h_n, c_n = lib.lstm(xt, h, list(m.parameters()), True, 2, 0.0, True, True, False)
        (out.sum() + (h_n * c_n).sum()).backward()
        results.append([out, h_n, c_n, xt.grad])
    _check(*results, "float64")
