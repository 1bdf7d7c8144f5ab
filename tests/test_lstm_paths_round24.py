"""The whole-sequence recurrent layer nodes (nn/modules/_rnn_layers.py, their kernels in
_lstm_kernels.py and _rnn_kernels.py) beside PyTorch, on the paths their kernels branch on:
an incoming gradient that is zero at some steps (only the last output read, only the final
states, only c_n) or at none, packed sequences whose final states lie at different steps,
bidirectional, batch_first, proj_size, dropout in eval mode, given or default initial
states, float64 and float32, sizes large enough for the layers' cached scratch buffers (and
two graphs alive at once over them), and second derivatives through ``create_graph``."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

KINDS = ["LSTM", "GRU", "RNN", "RNN_relu"]


def _pair(kind, dtype, size=(7, 16), **cfg):
    """minigrad's layer in ``dtype`` and PyTorch's in float64 with the same values (PyTorch's
    float32 LSTM, oneDNN's, took about a second a call here; float64 is the closer reference
    anyway, float32 results are held to float32 tolerances)."""
    mods = []
    for lib, dt in ((minigrad, dtype), (torch, "float64")):
        name, extra = ("RNN", dict(nonlinearity="relu")) if kind == "RNN_relu" else (kind, {})
        lib.manual_seed(0)
        mods.append(getattr(lib.nn, name)(*size, **cfg, **extra).to(getattr(lib, dt)))
    mine, theirs = mods
    with torch.no_grad():
        for (_, p), (_, q) in zip(mine.named_parameters(), theirs.named_parameters()):
            q.copy_(torch.tensor(np.asarray(p.detach().tolist())))
    return mine, theirs


def _close(a, b, dtype):
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=3e-4, atol=3e-5)
    np.testing.assert_allclose(np.asarray(a.detach().tolist(), dtype=np.float64),
                               b.detach().double().numpy(), **tol)


def _loss(lib, out, states, reads, batch_first):
    """The loss reading the outputs as ``reads`` says: 'last' the last step's output only,
    'all' every output (weighted), 'h_n' / 'c_n' only that final state, 'mixed' all."""
    w = lib.tensor(np.cos(np.arange(out.numel()) * 0.37).reshape(tuple(out.shape)),
                   dtype=out.dtype)
    last = out[:, -1] if batch_first else out[-1]
    terms = {"last": lambda: (last * last).sum(),
             "all": lambda: (out * w).sum(),
             "h_n": lambda: (states[0] * states[0]).sum() * 2,
             "c_n": lambda: (states[-1] * states[-1]).sum() * 3}
    if reads == "mixed":
        return sum(terms[k]() for k in ("all", "h_n", "c_n"))
    return terms[reads]()


def _as(lib, a):
    return lib.tensor(a if lib is minigrad else a.astype(np.float64), requires_grad=True)


def _run(lib, m, x, hx, reads, batch_first=False, create_graph=False):
    x = _as(lib, x)
    hx = None if hx is None else tuple(_as(lib, h) for h in hx)
    out, state = m(x) if hx is None else m(x, hx if len(hx) == 2 else hx[0])
    states = state if isinstance(state, tuple) else (state,)
    loss = _loss(lib, out, states, reads, batch_first)
    wrt = [x] + list(hx or ()) + list(m.parameters())
    grads = lib.autograd.grad(loss, wrt, create_graph=create_graph, allow_unused=True)
    if create_graph:
        total = sum((g * g).sum() for g in grads if g is not None)
        grads = lib.autograd.grad(total, wrt, allow_unused=True)
    return [out, *states], list(grads)


def _compare(kind, dtype, reads, T=9, N=5, with_hx=True, create_graph=False, size=(7, 16),
             **cfg):
    mine, theirs = _pair(kind, dtype, size, **cfg)
    rng = np.random.default_rng(3)
    bf = cfg.get("batch_first", False)
    x = rng.standard_normal((N, T, 7) if bf else (T, N, 7)).astype(dtype)
    layers = cfg.get("num_layers", 1) * (2 if cfg.get("bidirectional") else 1)
    hx = None
    if with_hx:
        shapes = [(layers, N, cfg.get("proj_size") or size[1])]
        if kind == "LSTM":
            shapes.append((layers, N, size[1]))
        hx = tuple(rng.standard_normal(s).astype(dtype) for s in shapes)
    got = _run(minigrad, mine, x, hx, reads, bf, create_graph)
    want = _run(torch, theirs, x, hx, reads, bf, create_graph)
    for a, b in zip(got[0] + got[1], want[0] + want[1]):
        assert (a is None) == (b is None)
        if a is not None:
            _close(a, b, dtype)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reads", ["last", "all", "h_n", "c_n", "mixed"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sparse_and_dense_incoming_gradients(kind, reads, dtype):
    if reads == "c_n" and kind != "LSTM":
        reads = "h_n"
    _compare(kind, dtype, reads, num_layers=2)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cfg", [dict(bidirectional=True), dict(batch_first=True),
                                 dict(bidirectional=True, batch_first=True, num_layers=2),
                                 dict(bias=False, num_layers=2)],
                         ids=["bidir", "batch_first", "bidir-bf-2", "nobias"])
@pytest.mark.parametrize("with_hx", [False, True])
def test_layouts_and_initial_states(kind, cfg, with_hx):
    _compare(kind, "float64", "mixed" if kind == "LSTM" else "all", with_hx=with_hx, **cfg)
    _compare(kind, "float32", "last", with_hx=with_hx, **cfg)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reads", ["last", "mixed"])
def test_lstm_proj_size(dtype, reads):
    _compare("LSTM", dtype, reads, num_layers=2, proj_size=5, bidirectional=True)


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_in_eval_mode_is_off(kind):
    mine, theirs = _pair(kind, "float64", num_layers=2, dropout=0.5)
    mine.eval(), theirs.eval()
    x = np.random.default_rng(5).standard_normal((6, 4, 7))
    got, want = _run(minigrad, mine, x, None, "all"), _run(torch, theirs, x, None, "all")
    for a, b in zip(got[0] + got[1], want[0] + want[1]):
        _close(a, b, "float64")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reads", ["all", "h_n", "c_n"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_packed_final_states_at_different_steps(kind, reads, dtype):
    if reads == "c_n" and kind != "LSTM":
        return
    mine, theirs = _pair(kind, dtype, num_layers=2, bidirectional=True)
    lengths = [3, 7, 1, 5, 5]
    rng = np.random.default_rng(11)
    x = rng.standard_normal((7, 5, 7)).astype(dtype)
    hx = tuple(rng.standard_normal((4, 5, 16)).astype(dtype)
               for _ in range(2 if kind == "LSTM" else 1))
    results = []
    for lib, m in ((minigrad, mine), (torch, theirs)):
        xt = _as(lib, x)
        hs = tuple(_as(lib, h) for h in hx)
        packed = lib.nn.utils.rnn.pack_padded_sequence(xt, lengths, enforce_sorted=False)
        out, state = m(packed, hs if len(hs) == 2 else hs[0])
        padded, _ = lib.nn.utils.rnn.pad_packed_sequence(out)
        states = state if isinstance(state, tuple) else (state,)
        loss = _loss(lib, padded, states, reads, False)
        results.append([padded, *states] + list(lib.autograd.grad(
            loss, [xt, *hs] + list(m.parameters()))))
    for a, b in zip(*results):
        _close(a, b, dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_second_derivatives_through_the_composition(kind):
    _compare(kind, "float64", "last", T=4, N=3, create_graph=True, num_layers=2)


@pytest.mark.parametrize("kind", KINDS)
def test_two_graphs_alive_over_the_scratch_buffers(kind):
    """Large enough that the layers' arrays come from the scratch cache: a second forward
    while the first graph is still held must not change the first one's gradients."""
    dtype = "float32"
    mine, theirs = _pair(kind, dtype, size=(7, 48), num_layers=2)
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((24, 8, 7)).astype(dtype) for _ in range(2)]
    losses, inputs = [], []
    for x in xs:
        xt = minigrad.tensor(x, requires_grad=True)
        out, _ = mine(xt)
        losses.append((out[-1] * out[-1]).sum() + out.sum() * 0.1)
        inputs.append(xt)
    got = [minigrad.autograd.grad(loss, [xt])[0] for loss, xt in zip(losses, inputs)][::-1]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # (its 2-thread LSTM took seconds on a loaded machine)
    try:
        for x, g in zip(xs[::-1], got):
            xt = _as(torch, x)
            out, _ = theirs(xt)
            want = torch.autograd.grad((out[-1] * out[-1]).sum() + out.sum() * 0.1, [xt])[0]
            _close(g, want, dtype)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_batch_split_over_two_threads(kind):
    """A batch large enough for the LSTM's recurrence to run in parts on two threads
    (``_lstm_kernels._worth``); the GRU's beside it."""
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(2)
    try:
        _compare(kind, "float32", "mixed" if kind == "LSTM" else "all", T=3, N=64,
                 size=(7, 128))
    finally:
        minigrad.set_num_threads(before)
