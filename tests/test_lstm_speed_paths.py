"""An LSTM layer's overlapped paths beside PyTorch (float64 values and gradients), on several
of minigrad's threads (``nn/modules/_lstm_overlap.py``):

* the forward whose input projections for later chunks of steps are made on other threads
  while the recurrence runs through the earlier ones;
* the backward whose weight and input gradients are made chunk by chunk beside the reverse
  sweep;

for stacked, bidirectional, batch_first layers, with and without initial states, without
biases, with frozen input weights, an input without a gradient, a loss reading only the last
step, second derivatives (``create_graph``), packed sequences (which keep the other path),
and errors raised inside the overlapped parts (raised again, no hang).
"""
import numpy as np
import pytest

import minigrad
from minigrad.nn.modules import _lstm_overlap, _rnn_layers

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

# large enough for the overlapped paths: S 4 H (H + I) and S 4 H I at least 8M multiply-adds,
# S = T N rows for 4 chunks
T, N, I, H = 48, 16, 64, 128


@pytest.fixture
def counted(monkeypatch):
    """How often each overlapped path ran."""
    calls = {"forward": 0, "backward": 0}

    def wrap(name, fn):
        def run(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return run
    monkeypatch.setattr(_rnn_layers, "forward_overlapped",
                        wrap("forward", _rnn_layers.forward_overlapped))
    monkeypatch.setattr(_rnn_layers, "backward_overlapped",
                        wrap("backward", _rnn_layers.backward_overlapped))
    return calls


def _pair(cfg, size=(I, H)):
    """The same LSTM in torch and minigrad (float64, torch's weights copied)."""
    torch.manual_seed(0)
    tm = torch.nn.LSTM(*size, **cfg).double()
    mm = minigrad.nn.LSTM(*size, **cfg).double()
    with minigrad.no_grad():
        for (_, p), (_, q) in zip(tm.named_parameters(), mm.named_parameters()):
            q.copy_(minigrad.tensor(p.detach().numpy()))
    return tm, mm


def _weights_of(shape):
    return np.cos(np.arange(int(np.prod(shape))) * 0.37).reshape(shape)


def _run(lib, m, x, hx=None, x_grad=True, last_only=False, freeze_ih=False, lengths=None):
    """Outputs, final states and the gradients of a weighted sum of them."""
    for name, p in m.named_parameters():
        p.requires_grad_(not (freeze_ih and "_ih" in name))
        p.grad = None                       # (each run its own gradients)
    xt = lib.tensor(x, requires_grad=x_grad)
    states = None if hx is None else tuple(lib.tensor(h, requires_grad=True) for h in hx)
    inp = xt
    if lengths is not None:
        inp = lib.nn.utils.rnn.pack_padded_sequence(xt, lengths, enforce_sorted=False)
    out, (hn, cn) = m(inp) if states is None else m(inp, states)
    if lengths is not None:
        out, _ = lib.nn.utils.rnn.pad_packed_sequence(out)
    w = lib.tensor(_weights_of(tuple(out.shape)), dtype=out.dtype)
    if last_only:
        loss = (out[-1] * w[-1]).sum()
    else:
        loss = (out * w).sum() + (hn * 0.5).sum() + (cn * 0.25).sum()
    loss.backward()
    got = {"out": out, "hn": hn, "cn": cn}
    if x_grad:
        got["x.grad"] = xt.grad
    for k, s in enumerate(states or ()):
        got[f"state{k}.grad"] = s.grad
    for name, p in m.named_parameters():
        if p.requires_grad:
            got[name + ".grad"] = p.grad
    # (copies: a later run must not change what this one returned)
    return {k: v.detach().numpy().copy() for k, v in got.items()}


def _compare(want, got):
    assert sorted(want) == sorted(got)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-11, err_msg=k)


def _inputs(batch_first=False, layers=1, directions=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    hx = tuple(rng.standard_normal((layers * directions, N, H)) for _ in range(2))
    return x, hx


@pytest.mark.parametrize("cfg", [
    dict(),
    dict(num_layers=2, dropout=0.0),
    dict(batch_first=True),
    dict(bidirectional=True),
    dict(num_layers=2, bidirectional=True, batch_first=True),
    dict(bias=False),
])
def test_values_and_gradients(many_threads, counted, cfg):
    tm, mm = _pair(cfg)
    layers = cfg.get("num_layers", 1)
    dirs = 2 if cfg.get("bidirectional") else 1
    x, hx = _inputs(cfg.get("batch_first", False), layers, dirs)
    _compare(_run(torch, tm, x, hx), _run(minigrad, mm, x, hx))
    assert counted["forward"] == layers * dirs and counted["backward"] == layers * dirs


def test_without_states_last_step_only(many_threads, counted):
    tm, mm = _pair(dict(num_layers=2))
    x, _ = _inputs(seed=1)
    _compare(_run(torch, tm, x, last_only=True), _run(minigrad, mm, x, last_only=True))
    assert counted["backward"] == 2


@pytest.mark.parametrize("x_grad,freeze_ih", [(False, False), (True, True), (False, True)])
def test_gradients_left_out(many_threads, counted, x_grad, freeze_ih):
    tm, mm = _pair(dict(bidirectional=True))
    x, hx = _inputs(seed=2, directions=2)
    want = _run(torch, tm, x, hx, x_grad=x_grad, freeze_ih=freeze_ih)
    _compare(want, _run(minigrad, mm, x, hx, x_grad=x_grad, freeze_ih=freeze_ih))
    assert counted["backward"] == 2


def test_matches_one_thread_path(counted):
    """Both paths agree with torch, and the overlapped forward gives the one-thread kernels'
    very numbers (the same products; the backward's sums in chunks round otherwise)."""
    tm, mm = _pair(dict(num_layers=2))
    x, hx = _inputs(seed=3, layers=2)
    before = minigrad.get_num_threads()
    try:
        minigrad.set_num_threads(1)
        one = _run(minigrad, mm, x, hx)
        assert counted == {"forward": 0, "backward": 0}
        minigrad.set_num_threads(2)
        two = _run(minigrad, mm, x, hx)
        assert counted == {"forward": 2, "backward": 2}
    finally:
        minigrad.set_num_threads(before)
    reference = _run(torch, tm, x, hx)
    _compare(one, reference)
    _compare(two, reference)
    np.testing.assert_array_equal(one["out"], two["out"])     # the same products


def test_packed_sequences(many_threads, counted):
    tm, mm = _pair(dict(num_layers=2, bidirectional=True))
    x, hx = _inputs(seed=4, layers=2, directions=2)
    lengths = [T, T - 3, T, 7, T - 1, 2, T, 20] * 2
    _compare(_run(torch, tm, x, hx, lengths=lengths),
             _run(minigrad, mm, x, hx, lengths=lengths))
    assert counted == {"forward": 0, "backward": 0}          # steps of fewer rows


def test_second_derivatives(many_threads):
    """create_graph through the layer (its backward then runs as ops), then the gradient of
    a function of the first gradients, against torch's."""
    t_len, n, i, h = 6, 3, 5, 4
    rng = np.random.default_rng(5)
    x = rng.standard_normal((t_len, n, i))
    hx = tuple(rng.standard_normal((2, n, h)) for _ in range(2))
    results = []
    for lib in (torch, minigrad):
        torch.manual_seed(1)
        m = torch.nn.LSTM(i, h, num_layers=2).double()
        if lib is minigrad:
            tm = m
            m = minigrad.nn.LSTM(i, h, num_layers=2).double()
            with minigrad.no_grad():
                for (_, p), (_, q) in zip(tm.named_parameters(), m.named_parameters()):
                    q.copy_(minigrad.tensor(p.detach().numpy()))
        xt = lib.tensor(x, requires_grad=True)
        h0, c0 = (lib.tensor(v, requires_grad=True) for v in hx)
        out, (hn, cn) = m(xt, (h0, c0))
        loss = (out * lib.tensor(_weights_of(out.shape))).sum() + (cn ** 2).sum()
        params = list(m.parameters())
        firsts = lib.autograd.grad(loss, [xt, h0, c0] + params, create_graph=True)
        total = sum((g * g).sum() for g in firsts)
        seconds = lib.autograd.grad(total, [xt, h0, c0] + params)
        results.append([g.detach().numpy() for g in firsts + seconds])
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_overlapped_backward_double_backward_matches(many_threads, counted):
    """A first backward on the overlapped path, then create_graph on the same layer."""
    tm, mm = _pair(dict())
    x, hx = _inputs(seed=6)
    _compare(_run(torch, tm, x, hx), _run(minigrad, mm, x, hx))
    xt = minigrad.tensor(x, requires_grad=True)
    xr = torch.tensor(x, requires_grad=True)
    for lib, m, xx in ((minigrad, mm, xt), (torch, tm, xr)):
        out, _ = m(xx)
        g, = lib.autograd.grad(out[-1].sum(), xx, create_graph=True)
        (g[0] * g[0]).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-8, atol=1e-11)


def test_errors_are_raised_again(many_threads, monkeypatch):
    """An error inside the overlapped sweep, the taking of its rows or the projections reaches
    the caller (no thread is left waiting)."""
    _, mm = _pair(dict())
    x, _ = _inputs(seed=7)

    def failing_sweep(*args, **kwargs):
        raise FloatingPointError("sweep failed")
    with monkeypatch.context() as m:
        m.setattr(_lstm_overlap, "lstm_backward_sweep", failing_sweep)
        out, _ = mm(minigrad.tensor(x, requires_grad=True))
        with pytest.raises(FloatingPointError, match="sweep failed"):
            out.sum().backward()

    def failing_rows(*args, **kwargs):
        raise FloatingPointError("rows failed")
    with monkeypatch.context() as m:
        m.setattr(_lstm_overlap, "to_rows", failing_rows)
        out, _ = mm(minigrad.tensor(x, requires_grad=True))
        with pytest.raises(FloatingPointError, match="rows failed"):
            out.sum().backward()
    real_project = _lstm_overlap.project

    def failing_project(*args, **kwargs):
        pre, fill = real_project(*args, **kwargs)

        def fill_some(t0, t1):
            if t0 > 0:
                raise FloatingPointError("projection failed")
            fill(t0, t1)
        return pre, fill_some
    with monkeypatch.context() as m:
        m.setattr(_lstm_overlap, "project", failing_project)
        with pytest.raises(FloatingPointError, match="projection failed"):
            mm(minigrad.tensor(x))
    out, _ = mm(minigrad.tensor(x, requires_grad=True))      # works again after
    out.sum().backward()


@pytest.mark.parametrize("t_len", [2, 3, 13])
def test_few_steps_many_rows(many_threads, counted, t_len):
    """Chunks of one or a few steps (a large batch over few steps)."""
    n, i, h = 400, 128, 32
    tm, mm = _pair(dict(bidirectional=True), size=(i, h))
    rng = np.random.default_rng(8)
    x = rng.standard_normal((t_len, n, i))
    _compare(_run(torch, tm, x), _run(minigrad, mm, x))
    assert counted == {"forward": 2, "backward": 2}
