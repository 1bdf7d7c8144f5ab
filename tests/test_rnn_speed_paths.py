"""The recurrent layers' faster paths beside PyTorch (float64 values and gradients):

* an LSTM layer as one node from its input x, its input projections made in its kernels'
  gate-major layout (``_lstm_kernels.project``): unpacked either way round (batch_first),
  bidirectional, stacked, packed, with or without h0/c0, without biases, an input that is not
  rows in memory, frozen input weights, an input without a gradient; its W_ih and b_ih
  gradients completing where PyTorch's do; second derivatives through ``create_graph``;
* the steps' views made by iterating over the arrays (``_forward_whole``, ``_sweep_whole``,
  ``per_step``) for LSTM, GRU and Elman layers, in both directions and packed;
* the projections cut over two threads.
"""
import numpy as np
import pytest

import minigrad
from minigrad import parallel
from minigrad.nn.modules import _lstm_kernels

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
T, N, I, H = 5, 3, 4, 6


def _pair(kind, cfg, size=(I, H)):
    """The same layer in torch and minigrad (float64, torch's weights copied)."""
    nonlinearity = {"RNN_relu": "relu"}.get(kind)
    name = "RNN" if kind == "RNN_relu" else kind
    extra = dict(nonlinearity=nonlinearity) if nonlinearity else {}
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(*size, **cfg, **extra).double()
    mm = getattr(minigrad.nn, name)(*size, **cfg, **extra).double()
    with minigrad.no_grad():
        for (_, p), (_, q) in zip(tm.named_parameters(), mm.named_parameters()):
            q.copy_(minigrad.tensor(p.detach().numpy()))
    return tm, mm


def _weights_of(shape):
    return np.cos(np.arange(int(np.prod(shape))) * 0.37).reshape(shape)


def _forward_backward(lib, m, x, hx, packed_lengths=None, freeze_ih=False, x_grad=True):
    """Outputs, final states and the gradients of a weighted sum of all of them."""
    if freeze_ih:
        for name, p in m.named_parameters():
            if "_ih" in name:
                p.requires_grad_(False)
    xt = lib.tensor(x, requires_grad=x_grad)
    hx = None if hx is None else tuple(lib.tensor(h, requires_grad=True) for h in hx)
    arg = None if hx is None else (hx if len(hx) == 2 else hx[0])
    inp = xt
    if packed_lengths is not None:
        inp = lib.nn.utils.rnn.pack_padded_sequence(xt, packed_lengths, enforce_sorted=False)
    out, state = m(inp) if arg is None else m(inp, arg)
    if packed_lengths is not None:
        out, _ = lib.nn.utils.rnn.pad_packed_sequence(out)
    states = state if isinstance(state, tuple) else (state,)
    loss = (out * lib.tensor(_weights_of(tuple(out.shape)), dtype=out.dtype)).sum()
    for k, s in enumerate(states):
        loss = loss + (s * s).sum() * (k + 2)
    loss.backward()
    grads = ([xt.grad] if x_grad else []) + ([h.grad for h in hx] if hx else []) + \
        [p.grad for p in m.parameters() if p.requires_grad]
    return [out] + list(states), grads


def _check(kind, cfg, x, hx=None, **kw):
    tm, mm = _pair(kind, cfg)
    t_vals, t_grads = _forward_backward(torch, tm, x, hx, **kw)
    m_vals, m_grads = _forward_backward(minigrad, mm, x, hx, **kw)
    assert len(t_grads) == len(m_grads)
    for a, b in zip(t_vals + t_grads, m_vals + m_grads):
        assert a is not None and b is not None
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-9,
                                   atol=1e-11)


def _x(batch_first=False, t=T, n=N):
    return RNG.standard_normal((n, t, I) if batch_first else (t, n, I))


def _states(kind, layers=1, directions=1, n=N, size=H):
    count = 2 if kind == "LSTM" else 1
    return tuple(RNG.standard_normal((layers * directions, n, size)) for _ in range(count))


CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, batch_first=True),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=1, bidirectional=True, batch_first=True, bias=False),
    dict(num_layers=3, dropout=0.0),
]


@pytest.mark.parametrize("with_states", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN", "RNN_relu"])
def test_layers_unpacked(kind, cfg, with_states):
    layers, dirs = cfg["num_layers"], 2 if cfg.get("bidirectional") else 1
    hx = _states(kind, layers, dirs) if with_states else None
    _check(kind, cfg, _x(cfg.get("batch_first", False)), hx)


@pytest.mark.parametrize("cfg", [dict(num_layers=2), dict(num_layers=1, bidirectional=True),
                                 dict(num_layers=2, bidirectional=True, bias=False)],
                         ids=["2layers", "bidir", "bidir-nobias"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_layers_packed(kind, cfg):
    """Packed batches (steps of fewer sequences: the per-step products of the projections,
    the sliced views), lengths unsorted, with initial states."""
    layers, dirs = cfg["num_layers"], 2 if cfg.get("bidirectional") else 1
    _check(kind, cfg, _x(t=6, n=4), _states(kind, layers, dirs, n=4),
           packed_lengths=[3, 6, 1, 4])


def test_lstm_with_projections():
    """proj_size: the per-step path (the layer node does not take it) beside the others."""
    cfg = dict(num_layers=2, proj_size=3, bidirectional=True)
    hx = (RNG.standard_normal((4, N, 3)), RNG.standard_normal((4, N, H)))
    _check("LSTM", cfg, _x(), hx)


@pytest.mark.parametrize("x_grad", [True, False])
def test_lstm_frozen_input_weights(x_grad):
    """W_ih and b_ih without gradients (their products left out), x with or without."""
    _check("LSTM", dict(num_layers=2), _x(), _states("LSTM", 2), freeze_ih=True,
           x_grad=x_grad)


def test_lstm_input_not_rows_in_memory():
    """A batch_first input transposed in the layer (its steps not rows in memory) and a
    strided view as the input."""
    _check("LSTM", dict(num_layers=1, batch_first=True), _x(True))
    tm, mm = _pair("LSTM", dict(num_layers=1))
    base = RNG.standard_normal((T, 2 * N, I))
    outs = []
    for lib, m in ((torch, tm), (minigrad, mm)):
        xb = lib.tensor(base, requires_grad=True)
        out, (h, c) = m(xb[:, ::2])
        (out.sum() + c.sum()).backward()
        outs.append([out.detach().numpy(), xb.grad.numpy()] +
                    [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11)


def test_lstm_parameters_complete_in_pytorchs_order():
    """The gradients of W_ih and b_ih complete after b_hh's and W_hh's, as PyTorch's do
    (float64, where PyTorch runs its composed layer)."""
    logs = []
    for lib in (torch, minigrad):
        lib.manual_seed(0)
        m = lib.nn.LSTM(I, H, num_layers=2, bidirectional=True).double()
        log = []
        for name, p in m.named_parameters():
            p.register_post_accumulate_grad_hook(lambda p, name=name: log.append(name))
        out, (h, c) = m(lib.tensor(_x()))
        (out.sum() + h.sum()).backward()
        logs.append(log)
    assert logs[1] == logs[0]


def test_lstm_second_derivatives():
    """create_graph through the layer node (its backward as ops, the projections made again
    as a Linear): the gradient of a gradient's norm beside PyTorch's."""
    tm, mm = _pair("LSTM", dict(num_layers=2))
    x, hx = _x(t=3, n=2), _states("LSTM", 2, n=2)
    results = []
    for lib, m in ((torch, tm), (minigrad, mm)):
        xt = lib.tensor(x, requires_grad=True)
        h0, c0 = (lib.tensor(h, requires_grad=True) for h in hx)
        out, (h, c) = m(xt, (h0, c0))
        loss = (out * out).sum() + (c * h).sum()
        params = list(m.parameters())
        grads = lib.autograd.grad(loss, [xt, h0] + params, create_graph=True)
        total = sum((g * g).sum() for g in grads)
        second = lib.autograd.grad(total, [xt, c0] + params)
        results.append([g.detach().numpy() for g in grads + second])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-10)


def test_lstm_functional_call():
    """torch.lstm / _VF-style functional entry (``_functional_rnn``) takes the same node."""
    tm, mm = _pair("LSTM", dict(num_layers=1, bidirectional=True))
    x, hx = _x(), _states("LSTM", 1, 2)
    results = []
    for lib, m in ((torch, tm), (minigrad, mm)):
        params = [p for p in m.parameters()]
        xt = lib.tensor(x, requires_grad=True)
        out, h, c = lib.lstm(xt, tuple(lib.tensor(s) for s in hx), params, True, 1, 0.0,
                             False, True, False)
        (out.sum() + c.sum()).backward()
        results.append([out.detach().numpy(), xt.grad.numpy()] +
                       [p.grad.numpy() for p in params])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_split_over_two_threads(kind, monkeypatch):
    """The projections cut over the steps on two threads (and the LSTM's recurrence over the
    batch), as a larger layer runs them."""
    monkeypatch.setattr(parallel, "MATMUL_MIN_MACS", 0)
    monkeypatch.setattr(_lstm_kernels, "_MIN_STEP_MACS", 0)
    before = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        _check(kind, dict(num_layers=2, bidirectional=True), _x(t=6, n=9),
               _states(kind, 2, 2, n=9))
        _check(kind, dict(num_layers=1), _x(t=6, n=9), _states(kind, 1, 1, n=9),
               packed_lengths=[6, 2, 5, 6, 1, 3, 4, 6, 2])
    finally:
        parallel.set_num_threads(before)


def test_float32_beside_torch():
    """float32 (the benchmark's dtype): values and gradients to float32 rounding."""
    torch.manual_seed(0)
    tm = torch.nn.LSTM(I, H, num_layers=2, batch_first=True)
    mm = minigrad.nn.LSTM(I, H, num_layers=2, batch_first=True)
    with minigrad.no_grad():
        for (_, p), (_, q) in zip(tm.named_parameters(), mm.named_parameters()):
            q.copy_(minigrad.tensor(p.detach().numpy()))
    x = _x(True).astype(np.float32)
    results = []
    for lib, m in ((torch, tm), (minigrad, mm)):
        out, (h, c) = m(lib.tensor(x))
        (out[:, -1].sum() + (c * c).sum()).backward()
        results.append([out.detach().numpy()] + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)
