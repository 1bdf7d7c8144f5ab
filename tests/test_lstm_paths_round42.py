"""Round 42: recurrent layers on several of minigrad's threads, beside PyTorch (float64
values and gradients): the ``lstm_text`` benchmark's model in float64 (an input without a
gradient, only the last step read), and the configurations the multi-thread LSTM paths
(``nn/modules/_lstm_overlap.py``) leave to the plain ones: GRU and Elman layers, an LSTM
with projections, dropout between layers in eval mode, a large batch (the recurrence run in
parts of the batch), second order through stacked layers with a bias-free first layer.
"""
import numpy as np
import pytest

import minigrad
from minigrad import parallel
from minigrad.nn.modules import _lstm_kernels, _rnn_layers

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

TOL = dict(rtol=1e-9, atol=1e-11)


@pytest.fixture
def paths(monkeypatch):
    """How many LSTM layer forwards ran overlapped, and how many recurrences were cut over
    the threads by rows."""
    calls = {"overlapped": 0, "in parts": 0}
    real_overlapped, real_over_batch = _rnn_layers.forward_overlapped, parallel.over_batch

    def overlapped(*args):
        calls["overlapped"] += 1
        return real_overlapped(*args)

    def over_batch(fn, n, worth=True):
        ran = real_over_batch(fn, n, worth)
        calls["in parts"] += bool(ran and getattr(fn, "__name__", "") == "part")
        return ran
    monkeypatch.setattr(_rnn_layers, "forward_overlapped", overlapped)
    monkeypatch.setattr(_lstm_kernels.parallel, "over_batch", over_batch)
    return calls


def _pair(kind, *size, **cfg):
    """The same layer in torch and minigrad, float64, torch's weights copied."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(*size, **cfg).double()
    mm = getattr(minigrad.nn, kind)(*size, **cfg).double()
    with minigrad.no_grad():
        for (_, p), (_, q) in zip(tm.named_parameters(), mm.named_parameters()):
            q.copy_(minigrad.tensor(p.detach().numpy()))
    return tm, mm


def _grads(lib, m, x, loss_of, x_grad=True):
    """Output, final state(s) and every gradient of ``loss_of(lib, out, state)``."""
    for p in m.parameters():
        p.grad = None
    xt = lib.tensor(x, requires_grad=x_grad)
    out, state = m(xt)
    loss_of(lib, out, state).backward()
    got = [out, *(state if isinstance(state, tuple) else (state,))]
    got += [xt.grad] if x_grad else []
    got += [p.grad for p in m.parameters()]
    return [g.detach().numpy().copy() for g in got]


def _weighted(lib, out, state):
    """Every step read, unevenly weighted, the final states too."""
    w = np.cos(np.arange(int(np.prod(out.shape))) * 0.37).reshape(tuple(out.shape))
    states = state if isinstance(state, tuple) else (state,)
    return (out * lib.tensor(w)).sum() + sum((s * s).sum() for s in states)


def _same(want, got, tol=TOL):
    assert len(want) == len(got)
    for k, (a, b) in enumerate(zip(want, got)):
        assert a.shape == b.shape, k
        np.testing.assert_allclose(b, a, err_msg=str(k), **tol)


def test_benchmark_model_in_float64(many_threads, paths):
    """lstm_text's model (2 layers of 128 over 16 x 50 x 64, batch_first, the last step into a
    linear head, cross-entropy) in float64: the first layer's input wants no gradient and
    the incoming gradient is zero at every step but the last."""
    rng = np.random.default_rng(42)
    x = rng.standard_normal((16, 50, 64))
    head_w, head_b = rng.standard_normal((10, 128)) * 0.1, rng.standard_normal(10) * 0.1
    y = rng.integers(0, 10, 16)
    tm, mm = _pair("LSTM", 64, 128, num_layers=2, batch_first=True)
    results = []
    for lib, m in ((torch, tm), (minigrad, mm)):
        w = lib.tensor(head_w, requires_grad=True)
        b = lib.tensor(head_b, requires_grad=True)
        for _ in range(2):                 # (the second step reuses the scratch buffers)
            for p in list(m.parameters()) + [w, b]:
                p.grad = None
            out, _ = m(lib.tensor(x))
            logits = lib.nn.functional.linear(out[:, -1], w, b)
            loss = lib.nn.functional.cross_entropy(logits, lib.tensor(y))
            loss.backward()
        results.append([loss.detach().numpy()] + [p.grad.numpy() for p in m.parameters()] +
                       [w.grad.numpy(), b.grad.numpy()])
    _same(*results, tol=dict(rtol=1e-8, atol=1e-12))
    assert paths["overlapped"] == 4


@pytest.mark.parametrize("kind,cfg", [
    ("GRU", dict(num_layers=2)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("RNN", dict(num_layers=2)),
    ("RNN", dict(num_layers=2, nonlinearity="relu", bidirectional=True)),
])
def test_gru_and_elman_layers(many_threads, kind, cfg):
    tm, mm = _pair(kind, 24, 40, **cfg)
    x = np.random.default_rng(1).standard_normal((30, 12, 24))
    _same(_grads(torch, tm, x, _weighted), _grads(minigrad, mm, x, _weighted))


@pytest.mark.parametrize("cfg", [dict(num_layers=2), dict(bidirectional=True)])
def test_lstm_with_projections(many_threads, cfg):
    tm, mm = _pair("LSTM", 32, 48, proj_size=20, **cfg)
    x = np.random.default_rng(2).standard_normal((40, 16, 32))
    _same(_grads(torch, tm, x, _weighted), _grads(minigrad, mm, x, _weighted))


def test_dropout_between_layers_in_eval_mode(many_threads, paths):
    tm, mm = _pair("LSTM", 64, 80, num_layers=3, dropout=0.5)
    tm.eval()
    mm.eval()
    x = np.random.default_rng(3).standard_normal((30, 16, 64))
    _same(_grads(torch, tm, x, _weighted), _grads(minigrad, mm, x, _weighted))
    assert paths["overlapped"] == 3


def test_large_batch_run_in_parts(many_threads, paths):
    """A batch large enough for the recurrence to be cut over the threads by rows (each
    thread the whole sequence for its rows), with initial states."""
    tm, mm = _pair("LSTM", 16, 128, num_layers=2)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 72, 16))
    hx = [rng.standard_normal((2, 72, 128)) for _ in range(2)]
    results = []
    for lib, m in ((torch, tm), (minigrad, mm)):
        xt = lib.tensor(x, requires_grad=True)
        h0, c0 = (lib.tensor(v, requires_grad=True) for v in hx)
        out, state = m(xt, (h0, c0))
        _weighted(lib, out, state).backward()
        got = [out, *state, xt.grad, h0.grad, c0.grad] + [p.grad for p in m.parameters()]
        results.append([g.detach().numpy() for g in got])
    _same(*results)
    assert paths["in parts"] >= 4           # (2 layers: forward and backward each)
    assert paths["overlapped"] == 0


def test_second_order_without_bias(many_threads, paths):
    """create_graph through two bias-free layers that made their slopes beside the
    forward (the backward then runs as the per-step composition)."""
    tm, mm = _pair("LSTM", 96, 80, num_layers=2, bias=False)
    x = np.random.default_rng(5).standard_normal((25, 16, 96))
    results = []
    for lib, m in ((torch, tm), (minigrad, mm)):
        xt = lib.tensor(x, requires_grad=True)
        out, state = m(xt)
        loss = _weighted(lib, out, state)
        wanted = [xt] + list(m.parameters())
        firsts = lib.autograd.grad(loss, wanted, create_graph=True)
        seconds = lib.autograd.grad(sum((g * g).sum() for g in firsts), wanted)
        results.append([g.detach().numpy() for g in firsts + seconds])
    _same(*results, tol=dict(rtol=1e-8, atol=1e-10))
    assert paths["overlapped"] == 2
