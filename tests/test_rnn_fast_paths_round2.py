"""nn.LSTM beside PyTorch on the paths of the whole-layer kernels' gate-major layout
(nn/modules/_lstm_kernels.py): each step's gates kept as contiguous (4, b, H) blocks in the
order o, i, f, g, the step's recurrent product as four stacked ones, the input projections and
their gradient converted to and from rows, padded steps for packed batches, and the sweep's last
product left out when h0 wants no gradient. Outputs, h_n, c_n and the gradients of the input,
the initial states and every parameter are compared with PyTorch's live (float64 tightly,
float32 loosely), second derivatives (create_graph) too."""
import numpy as np
import pytest

import minigrad
from minigrad.nn.modules import _lstm_kernels
from minigrad.nn.utils import rnn as mg_rnn

torch = pytest.importorskip("torch")
from torch.nn.utils import rnn as th_rnn  # noqa: E402

RNG = np.random.default_rng(1202)
IN, HID = 5, 12


@pytest.fixture(autouse=True, scope="module")
def torch_on_one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pair(dtype="float64", **cfg):
    made = []
    for lib in (minigrad, torch):
        lib.manual_seed(0)
        made.append(lib.nn.LSTM(IN, HID, **cfg).to(getattr(lib, dtype)))
    mine, theirs = made
    with minigrad.no_grad():
        for p, q in zip(mine.parameters(), theirs.parameters()):
            p.copy_(minigrad.tensor(q.detach().numpy()))
    return mine, theirs


def _tol(dtype):
    return dict(rtol=1e-9, atol=1e-11) if dtype == "float64" else dict(rtol=3e-4, atol=3e-5)


def _close(got, want, dtype):
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        if b is None:
            assert a is None or not np.any(a.detach().numpy()), k
            continue
        assert a is not None, k
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **_tol(dtype),
                                   err_msg=f"item {k}")


def _run(lib, m, x, hx, state_grad, create_graph=False, loss_of="all"):
    """(output, h_n, c_n) and the gradients of a weighted sum of them with respect to x, the
    initial states (those in ``state_grad``) and the parameters (with create_graph: of the
    squared first gradients' sum)."""
    x = lib.tensor(x, requires_grad=True)
    if hx is not None:
        hx = tuple(lib.tensor(h, requires_grad=bool(g)) for h, g in zip(hx, state_grad))
    out, (h_n, c_n) = m(x) if hx is None else m(x, hx)
    weights = lib.tensor(np.cos(np.arange(out.numel()) * 0.37).reshape(tuple(out.shape)),
                         dtype=out.dtype)
    if loss_of == "last":             # only the last step's output read (the benchmark's case)
        loss = (out[-1] * weights[-1]).sum()
    else:
        loss = (out * weights).sum() + (h_n * h_n).sum() * 2 + (c_n * c_n).sum() * 3
    wrt = [x] + [h for h in (hx or ()) if h.requires_grad] + list(m.parameters())
    grads = lib.autograd.grad(loss, wrt, create_graph=create_graph, allow_unused=True)
    if create_graph:
        total = sum((g * g).sum() for g in grads if g is not None)
        grads = lib.autograd.grad(total, wrt, allow_unused=True)
    return [out, h_n, c_n], list(grads)


def _both(cfg, x, hx=None, state_grad=(True, True), dtype="float64", **kw):
    mine, theirs = _pair(dtype, **cfg)
    got = _run(minigrad, mine, x, hx, state_grad, **kw)
    want = _run(torch, theirs, x, hx, state_grad, **kw)
    _close(got[0] + got[1], want[0] + want[1], dtype)


def _states(layers, N, dtype="float64"):
    lead = (layers, N) if N else (layers,)
    return tuple(RNG.standard_normal(lead + (HID,)).astype(dtype) for _ in range(2))


CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, batch_first=True),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=1, bidirectional=True, batch_first=True, bias=False),
]


def _cfg_id(c):
    return "-".join(f"{k}{v}" for k, v in c.items())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=_cfg_id)
def test_matches_torch_with_states(cfg, dtype):
    layers = cfg["num_layers"] * (2 if cfg.get("bidirectional") else 1)
    shape = (6, 7, IN) if cfg.get("batch_first") else (7, 6, IN)
    x = RNG.standard_normal(shape).astype(dtype)
    _both(cfg, x, _states(layers, 6, dtype), dtype=dtype)


@pytest.mark.parametrize("state_grad", [(False, False), (False, True), (True, False)],
                         ids=["none", "c0_only", "h0_only"])
@pytest.mark.parametrize("cfg", CONFIGS[:3], ids=_cfg_id)
def test_states_without_gradient(cfg, state_grad):
    """h0 wanting no gradient: the sweep's last product is left out (and c0's still comes)."""
    layers = cfg["num_layers"] * (2 if cfg.get("bidirectional") else 1)
    shape = (4, 9, IN) if cfg.get("batch_first") else (9, 4, IN)
    _both(cfg, RNG.standard_normal(shape), _states(layers, 4), state_grad)


@pytest.mark.parametrize("cfg", CONFIGS[:3], ids=_cfg_id)
def test_no_initial_state_last_step_only(cfg):
    """The benchmark's shape of gradient: only the last step's output read, zero states."""
    shape = (5, 11, IN) if cfg.get("batch_first") else (11, 5, IN)
    _both(cfg, RNG.standard_normal(shape), loss_of="last")


@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched(batch_first):
    x = RNG.standard_normal((6, IN))
    _both(dict(num_layers=2, batch_first=batch_first), x, _states(2, 0))


def test_dropout_between_layers():
    """p = 1 drops every value between the layers (the same on both sides): the second
    layer sees zeros, the first gets no gradient from it."""
    x = RNG.standard_normal((5, 3, IN))
    _both(dict(num_layers=2, dropout=1.0), x, _states(2, 3))


def test_proj_size_matches_torch():
    mine, theirs = _pair(num_layers=2, proj_size=4)
    x = RNG.standard_normal((5, 3, IN))
    hx = (RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 3, HID)))
    got = _run(minigrad, mine, x, hx, (True, True))
    want = _run(torch, theirs, x, hx, (True, True))
    _close(got[0] + got[1], want[0] + want[1], "float64")


def _packed_run(lib, rnn_mod, m, x, lengths, hx):
    xt = lib.tensor(x, requires_grad=True)
    hx_t = tuple(lib.tensor(h, requires_grad=True) for h in hx)
    packed = rnn_mod.pack_padded_sequence(xt, lengths, enforce_sorted=False)
    out, (h_n, c_n) = m(packed, hx_t)
    padded, _ = rnn_mod.pad_packed_sequence(out)
    weights = lib.tensor(np.sin(np.arange(padded.numel()) * 0.29).reshape(
        tuple(padded.shape)), dtype=padded.dtype)
    loss = (padded * weights).sum() + (h_n * h_n).sum() + (c_n * c_n).sum() * 2
    wrt = [xt, *hx_t] + list(m.parameters())
    return [padded, h_n, c_n] + list(lib.autograd.grad(loss, wrt))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_sequences(bidirectional, dtype):
    mine, theirs = _pair(dtype, num_layers=2, bidirectional=bidirectional)
    lengths = [3, 7, 1, 7, 5]
    x = RNG.standard_normal((7, 5, IN)).astype(dtype)
    hx = _states(2 * (2 if bidirectional else 1), 5, dtype)
    _close(_packed_run(minigrad, mg_rnn, mine, x, lengths, hx),
           _packed_run(torch, th_rnn, theirs, x, lengths, hx), dtype)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_with_scratch_full_of_huge_values(bidirectional, monkeypatch):
    """The padded layout's rows that no step has are read by the passes over every step at
    once (and hold whatever a reused scratch buffer held): huge values or NaN there reach no
    result."""
    made = _lstm_kernels.scratch

    def dirty(kind, shape, dtype):
        a = made(kind, shape, dtype)
        a.fill(1e300 if kind != "pre" else np.nan)
        return a
    monkeypatch.setattr(_lstm_kernels, "scratch", dirty)
    mine, theirs = _pair(num_layers=2, bidirectional=bidirectional)
    x = RNG.standard_normal((6, 4, IN))
    lengths = [6, 2, 4, 1]
    hx = _states(2 * (2 if bidirectional else 1), 4)
    _close(_packed_run(minigrad, mg_rnn, mine, x, lengths, hx), _packed_run(torch, th_rnn, theirs, x, lengths, hx), "float64")


@pytest.mark.parametrize("cfg", [dict(num_layers=2), dict(num_layers=1, bidirectional=True)],
                         ids=_cfg_id)
def test_double_backward(cfg):
    """create_graph runs the backward as differentiable ops: second derivatives as PyTorch's."""
    layers = cfg["num_layers"] * (2 if cfg.get("bidirectional") else 1)
    _both(cfg, RNG.standard_normal((4, 3, IN)), _states(layers, 3), create_graph=True)


def test_double_backward_without_h0_gradient():
    _both(dict(num_layers=1), RNG.standard_normal((4, 3, IN)), _states(1, 3), (False, True),
          create_graph=True)


@pytest.mark.parametrize("packed", [False, True])
def test_batch_split_over_two_threads(packed, monkeypatch):
    """Two threads each running the recurrence for its part of the batch, and the passes over
    every step cut over the steps (both forced here for small sizes): each part's rows of the
    layout are written and read where they belong."""
    monkeypatch.setattr(_lstm_kernels, "_MIN_STEP_MACS", 0)
    monkeypatch.setattr(minigrad.parallel, "MIN_PARALLEL_BYTES", 64)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(2)
    try:
        mine, theirs = _pair(num_layers=2, bidirectional=True)
        x = RNG.standard_normal((9, 10, IN))
        hx = _states(4, 10)
        if packed:
            lengths = [9, 3, 5, 1, 6, 2, 4, 4, 9, 5]
            _close(_packed_run(minigrad, mg_rnn, mine, x, lengths, hx),
                   _packed_run(torch, th_rnn, theirs, x, lengths, hx), "float64")
        else:
            got = _run(minigrad, mine, x, hx, (False, True))
            want = _run(torch, theirs, x, hx, (False, True))
            _close(got[0] + got[1], want[0] + want[1], "float64")
    finally:
        minigrad.set_num_threads(before)


def test_gate_layout_round_trip():
    """``to_rows`` undoes the layout the forward's input pass makes (PyTorch's gate order
    back), for whole and packed steps."""
    from minigrad.nn.modules._rnn_layers import _Steps
    H = 3
    for sizes in ([4, 4, 4], [4, 3, 1]):
        steps = _Steps(sizes, False)
        xw = RNG.standard_normal((sum(sizes), 4 * H))
        # an identity W_ih: the projection is xw itself, in the layout
        pre = _lstm_kernels.project(xw, np.eye(4 * H), None, None, steps, sizes[0])
        pre[:, :3] *= 2                                  # (the sigmoid gates come halved)
        back = _lstm_kernels.to_rows(pre, steps, np.empty_like(xw))
        np.testing.assert_array_equal(back, xw)
