"""Round 41: an LSTM layer on several of minigrad's threads makes the slopes of its backward
(the factors of the cell's derivative that do not depend on the incoming gradient) beside
its forward's recurrence, chunk by chunk, on the threads that have nothing else to do
(``nn/modules/_lstm_overlap.forward_overlapped``), where its backward made them first.

Checked beside PyTorch (float64 values, first and second order gradients): stacked,
bidirectional and batch_first layers, with and without initial states; the forward under
no_grad (no slopes made); a graph kept for a second backward, and freed after one; errors
in the slopes' chunks raised again; the slopes exactly those the backward made before.
"""
import numpy as np
import pytest

import minigrad
from minigrad.nn.modules import _lstm_kernels, _lstm_overlap, _rnn_layers

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

# large enough for the overlapped paths (S 4 H I >= 8M multiply-adds, S = T N rows for
# several chunks), small enough for the per-step composition of create_graph
T, N, I, H = 25, 16, 96, 80


@pytest.fixture
def counted(monkeypatch):
    """How often the backward made its own slopes, and the forward made them beside it."""
    calls = {"backward": 0, "forward": 0}
    real_slopes, real_arrays = _rnn_layers.lstm_slopes, _lstm_overlap.slope_arrays

    def slopes(*args):
        calls["backward"] += 1
        return real_slopes(*args)

    def arrays(*args):
        calls["forward"] += 1
        return real_arrays(*args)
    monkeypatch.setattr(_rnn_layers, "lstm_slopes", slopes)
    monkeypatch.setattr(_lstm_overlap, "slope_arrays", arrays)
    return calls


def _pair(cfg, size=(I, H)):
    """The same LSTM in torch and minigrad, float64, torch's weights copied."""
    torch.manual_seed(0)
    tm = torch.nn.LSTM(*size, **cfg).double()
    mm = minigrad.nn.LSTM(*size, **cfg).double()
    with minigrad.no_grad():
        for (_, p), (_, q) in zip(tm.named_parameters(), mm.named_parameters()):
            q.copy_(minigrad.tensor(p.detach().numpy()))
    return tm, mm


def _inputs(batch_first=False, states=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    hx = tuple(rng.standard_normal((states, N, H)) for _ in range(2))
    return x, hx


def _loss(lib, out, hn, cn):
    """A sum reading every step, the final states too, weighted unevenly."""
    w = np.sin(np.arange(int(np.prod(out.shape))) * 0.61).reshape(tuple(out.shape))
    return (out * lib.tensor(w)).sum() + (hn * 0.5).sum() + (cn * cn).sum()


def _run(lib, m, x, hx=None, twice=False):
    """Outputs, final states and gradients of ``_loss`` (backward twice over a kept graph
    with ``twice``)."""
    for p in m.parameters():
        p.grad = None
    xt = lib.tensor(x, requires_grad=True)
    states = None if hx is None else tuple(lib.tensor(h, requires_grad=True) for h in hx)
    out, (hn, cn) = m(xt) if states is None else m(xt, states)
    loss = _loss(lib, out, hn, cn)
    loss.backward(retain_graph=twice)
    if twice:
        loss.backward()
    got = {"out": out, "hn": hn, "cn": cn, "x.grad": xt.grad}
    for k, s in enumerate(states or ()):
        got[f"state{k}.grad"] = s.grad
    for name, p in m.named_parameters():
        got[name + ".grad"] = p.grad
    return {k: v.detach().numpy().copy() for k, v in got.items()}


def _compare(want, got):
    assert sorted(want) == sorted(got)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-11, err_msg=k)


@pytest.mark.parametrize("cfg,with_states", [
    (dict(), True),
    (dict(num_layers=2), False),
    (dict(num_layers=2, batch_first=True), True),
    (dict(bidirectional=True), True),
    (dict(num_layers=2, bidirectional=True, batch_first=True), False),
    (dict(bias=False, num_layers=2), True),
])
def test_slopes_made_beside_the_forward(many_threads, counted, cfg, with_states):
    tm, mm = _pair(cfg)
    count = cfg.get("num_layers", 1) * (2 if cfg.get("bidirectional") else 1)
    x, hx = _inputs(cfg.get("batch_first", False), count)
    hx = hx if with_states else None
    _compare(_run(torch, tm, x, hx), _run(minigrad, mm, x, hx))
    assert counted == {"forward": count, "backward": 0}


def test_one_thread_makes_them_in_the_backward(counted):
    tm, mm = _pair(dict(num_layers=2))
    x, hx = _inputs(states=2, seed=1)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(1)
    try:
        one = _run(minigrad, mm, x, hx)
    finally:
        minigrad.set_num_threads(before)
    assert counted == {"forward": 0, "backward": 2}
    _compare(_run(torch, tm, x, hx), one)


def test_no_slopes_without_a_graph(many_threads, counted):
    tm, mm = _pair(dict(num_layers=2))
    x, hx = _inputs(states=2, seed=2)
    with torch.no_grad():
        want = tm(torch.tensor(x), tuple(torch.tensor(h) for h in hx))
    with minigrad.no_grad():
        got = mm(minigrad.tensor(x), tuple(minigrad.tensor(h) for h in hx))
    # parameters that need no gradient, grad mode on: no node either
    for p in mm.parameters():
        p.requires_grad_(False)
    plain = mm(minigrad.tensor(x), tuple(minigrad.tensor(h) for h in hx))
    assert plain[0].grad_fn is None
    for out in (got, plain):
        np.testing.assert_allclose(out[0].numpy(), want[0].numpy(), rtol=1e-9, atol=1e-12)
        for a, b in zip(out[1], want[1]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)
    assert counted == {"forward": 0, "backward": 0}


def test_input_alone_wants_a_gradient(many_threads, counted):
    """Frozen parameters, an input that requires grad: the node is recorded, slopes made."""
    tm, mm = _pair(dict())
    for p in list(tm.parameters()) + list(mm.parameters()):
        p.requires_grad_(False)
    x, _ = _inputs(seed=3)
    grads = []
    for lib, m in ((torch, tm), (minigrad, mm)):
        xt = lib.tensor(x, requires_grad=True)
        out, _ = m(xt)
        (out[-1] * out[-1]).sum().backward()
        grads.append(xt.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-9, atol=1e-12)
    assert counted == {"forward": 1, "backward": 0}


def test_graph_kept_for_a_second_backward(many_threads, counted):
    tm, mm = _pair(dict(num_layers=2))
    x, hx = _inputs(states=2, seed=4)
    _compare(_run(torch, tm, x, hx, twice=True), _run(minigrad, mm, x, hx, twice=True))
    assert counted == {"forward": 2, "backward": 0}


def test_graph_freed_after_one_backward(many_threads):
    _, mm = _pair(dict())
    x, _ = _inputs(seed=5)
    out, _ = mm(minigrad.tensor(x, requires_grad=True))
    loss = out.sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_second_order_through_the_layer(many_threads):
    """create_graph after a forward that made the slopes (the backward then runs as ops)."""
    x, hx = _inputs(states=2, seed=6)
    results = []
    tm, mm = _pair(dict(num_layers=2))
    for lib, m in ((torch, tm), (minigrad, mm)):
        xt = lib.tensor(x, requires_grad=True)
        h0, c0 = (lib.tensor(v, requires_grad=True) for v in hx)
        out, (hn, cn) = m(xt, (h0, c0))
        loss = _loss(lib, out, hn, cn)
        wanted = [xt, h0, c0] + list(m.parameters())
        firsts = lib.autograd.grad(loss, wanted, create_graph=True)
        total = sum((g * g).sum() for g in firsts)
        seconds = lib.autograd.grad(total, wanted)
        results.append([g.detach().numpy() for g in firsts + seconds])
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_slopes_are_the_backwards_own(many_threads):
    """The slopes made chunk by chunk beside the recurrence are, bit for bit, those the
    backward makes of the forward's arrays in one go; the forward's results are those of
    the one-thread kernels."""
    rng = np.random.default_rng(7)
    x2 = rng.standard_normal((T * N, I))
    w_ih, w_hh = rng.standard_normal((4 * H, I)) * 0.1, rng.standard_normal((4 * H, H)) * 0.1
    b_ih, b_hh = rng.standard_normal(4 * H), rng.standard_normal(4 * H)
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    for reverse in (False, True):
        steps = _rnn_layers._Steps([N] * T, reverse)
        assert _lstm_overlap.overlap_worth(steps, H, I, True)
        *made, slopes = _lstm_overlap.forward_overlapped(x2, w_ih, b_ih, b_hh, h0, c0, w_hh,
                                                          steps, True)
        pre = _lstm_kernels.project(x2, w_ih, b_ih, b_hh, steps, N)
        plain = _lstm_kernels.lstm_forward(pre, h0, c0, w_hh, steps)
        for a, b in zip(made, plain):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(slopes, _lstm_kernels.lstm_slopes(*plain[1:])):
            np.testing.assert_array_equal(a, b)


def test_errors_in_the_slopes_are_raised_again(many_threads, monkeypatch):
    """An error in a chunk of the slopes (on whichever thread) reaches the caller, and no
    thread is left waiting; the next forward runs as before."""
    tm, mm = _pair(dict())
    x, _ = _inputs(seed=8)
    real = _lstm_overlap.slope_arrays

    def failing(*args):
        *arrays, fill = real(*args)

        def fill_some(t0, t1):
            if t0 > 3:
                raise FloatingPointError("slopes failed")
            fill(t0, t1)
        return (*arrays, fill_some)
    with monkeypatch.context() as m:
        m.setattr(_lstm_overlap, "slope_arrays", failing)
        with pytest.raises(FloatingPointError, match="slopes failed"):
            mm(minigrad.tensor(x, requires_grad=True))
    _compare(_run(torch, tm, x), _run(minigrad, mm, x))


def test_float32_benchmark_shape(many_threads):
    """The lstm_text benchmark's model in float32 (2 layers of 128 over 16 x 50 x 64,
    batch_first, the last step into a linear head), within float32's rounding of torch."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((16, 50, 64)).astype(np.float32)
    torch.manual_seed(2)
    tm = torch.nn.LSTM(64, 128, num_layers=2, batch_first=True)
    mm = minigrad.nn.LSTM(64, 128, num_layers=2, batch_first=True)
    with minigrad.no_grad():
        for (_, p), (_, q) in zip(tm.named_parameters(), mm.named_parameters()):
            q.copy_(minigrad.tensor(p.detach().numpy()))
    head = rng.standard_normal((10, 128)).astype(np.float32) * 0.1
    y = rng.integers(0, 10, 16)
    results = []
    for lib, m in ((torch, tm), (minigrad, mm)):
        for _ in range(2):                     # (the second step reuses the scratch buffers)
            for p in m.parameters():
                p.grad = None
            out, _ = m(lib.tensor(x))
            logits = lib.nn.functional.linear(out[:, -1], lib.tensor(head))
            loss = lib.nn.functional.cross_entropy(logits, lib.tensor(y))
            loss.backward()
        results.append([loss.detach().numpy()] + [p.grad.numpy() for p in m.parameters()])
    for want, got in zip(*results):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-6)
