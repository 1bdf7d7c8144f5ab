"""Recurrent and sequence-model code written for PyTorch, run side by side with it: RNN / LSTM /
GRU in every configuration (layers, directions, ``proj_size``, ``batch_first``, unbatched,
initial states, packed batches in and out of order), the cells, ``nn.utils.rnn``'s padding and
packing, ``Embedding`` and ``EmbeddingBag``; outputs, states and the gradients of inputs,
states and every parameter, in float64, and the errors for bad input."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
LIBS = (minigrad, torch)


def _close(mine, theirs):
    np.testing.assert_allclose(np.asarray(mine.detach().numpy()), theirs.detach().numpy(),
                               rtol=1e-8, atol=1e-10)


def _same(build, seed=0):
    """``build(lib)`` in both libraries (float64), minigrad's weights copied from torch's."""
    torch.manual_seed(seed)
    theirs = build(torch).double()
    ours = build(minigrad).double()
    ours.load_state_dict({k: minigrad.tensor(v.numpy()) for k, v in
                          theirs.state_dict().items()})
    return {minigrad: ours, torch: theirs}


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [] if out is None else [out]


def _compare(run):
    """run(lib) -> list of tensors (or plain values), compared between the libraries."""
    ours, theirs = run(minigrad), run(torch)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, torch.Tensor):
            assert tuple(a.shape) == tuple(b.shape)
            _close(a, b)
        else:
            assert a == b


CONFIGS = [
    ("RNN", dict(num_layers=2, nonlinearity="relu")),
    ("RNN", dict(bidirectional=True, bias=False)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=2, num_layers=2, bidirectional=True, batch_first=True)),
]


def _run_rnn(models, name, kw, x, states, packed=None):
    def run(L):
        m = models[L]
        m.zero_grad()
        xi = L.tensor(x, requires_grad=True)
        hs = [L.tensor(s, requires_grad=True) for s in states]
        inp = xi
        if packed is not None:
            inp = L.nn.utils.rnn.pack_padded_sequence(xi, packed, batch_first=m.batch_first,
                                                      enforce_sorted=False)
        hx = None if not hs else (tuple(hs) if name == "LSTM" else hs[0])
        out, h_n = m(inp, hx)
        if packed is not None:
            out = L.nn.utils.rnn.pad_packed_sequence(out, batch_first=m.batch_first)[0]
        loss = (out ** 2).sum() + sum((h ** 3).sum() for h in _flat(h_n))
        loss.backward()
        return ([out] + _flat(h_n) + [xi.grad] + [h.grad for h in hs]
                + [p.grad for p in m.parameters()])
    return run


@pytest.mark.parametrize("name,kw", CONFIGS)
def test_recurrent_layers_match_torch(name, kw):
    models = _same(lambda L: getattr(L.nn, name)(3, 4, **kw))
    rng = np.random.default_rng(0)
    d, layers = 2 if kw.get("bidirectional") else 1, kw.get("num_layers", 1)
    h_size = kw.get("proj_size") or 4
    shape = (2, 5, 3) if kw.get("batch_first") else (5, 2, 3)
    x = rng.standard_normal(shape)
    states = [rng.standard_normal((d * layers, 2, h_size))]
    if name == "LSTM":
        states.append(rng.standard_normal((d * layers, 2, 4)))
    _compare(_run_rnn(models, name, kw, x, []))
    _compare(_run_rnn(models, name, kw, x, states))
    unbatched = x[0] if kw.get("batch_first") else x[:, 0]
    _compare(_run_rnn(models, name, kw, unbatched, [s[:, 0] for s in states]))
    # a packed batch out of length order, with initial states in the caller's order
    _compare(_run_rnn(models, name, kw, x, states, packed=[2, 5]))
    _compare(_run_rnn(models, name, kw, x, [], packed=[5, 1]))


def test_parameter_names_shapes_and_init():
    for L in LIBS:
        m = L.nn.LSTM(3, 8, 2, bidirectional=True, proj_size=2)
        bound = 1 / np.sqrt(8)
        assert all(float(p.detach().abs().max()) <= bound for p in m.parameters())
    ours, theirs = (L.nn.LSTM(3, 8, 2, bidirectional=True, proj_size=2) for L in LIBS)
    assert ([(k, tuple(v.shape)) for k, v in ours.state_dict().items()]
            == [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()])
    assert ours._flat_weights_names == theirs._flat_weights_names
    assert [len(w) for w in ours.all_weights] == [len(w) for w in theirs.all_weights]
    ours.flatten_parameters()
    assert repr(ours) == repr(theirs)
    assert minigrad.nn.RNN(2, 3, 1, "relu").mode == "RNN_RELU"      # 4th positional argument
    assert repr(minigrad.nn.RNNCell(2, 3, nonlinearity="relu")) == \
        repr(torch.nn.RNNCell(2, 3, nonlinearity="relu"))


def test_cells_in_a_loop():
    models = _same(lambda L: L.nn.ModuleList([L.nn.RNNCell(3, 4), L.nn.LSTMCell(4, 5),
                                              L.nn.GRUCell(5, 4)]))
    x = np.random.default_rng(1).standard_normal((6, 2, 3))

    def run(L):
        rnn, lstm, gru = models[L]
        xi = L.tensor(x, requires_grad=True)
        h, hc, g, outs = None, None, None, []
        for t in range(x.shape[0]):
            h = rnn(xi[t], h)
            hc = lstm(h, hc)
            g = gru(hc[0], g)
            outs.append(g)
        loss = (L.stack(outs) ** 2).sum() + hc[1].sum()
        loss.backward()
        single = lstm(h[0].detach())                                     # unbatched
        return [loss, xi.grad, *single] + [p.grad for p in models[L].parameters()]
    _compare(run)


def test_training_loop_with_packed_batches_tied_weights_and_clipping():
    def build(L):
        nn = L.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(12, 6, padding_idx=0)
                self.lstm = nn.LSTM(6, 6, 2, batch_first=True, bidirectional=True)
                self.gru = nn.GRU(12, 6)
                self.out = nn.Linear(6, 12)
                self.out.weight = self.emb.weight                       # tied embeddings

            def forward(self, x, lengths):
                packed = nn.utils.rnn.pack_padded_sequence(self.emb(x), lengths,
                                                           batch_first=True,
                                                           enforce_sorted=False)
                out, (h, _) = self.lstm(packed)
                out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
                out, _ = self.gru(out.transpose(0, 1), h[-1:].contiguous())
                return self.out(out)
        return Net()
    models = _same(build)
    rng = np.random.default_rng(2)
    x, lengths = rng.integers(1, 12, (3, 5)), [3, 5, 2]
    for b, n in enumerate(lengths):
        x[b, n:] = 0
    y = rng.integers(0, 12, (5, 3))

    def run(L):
        net = models[L]
        opt = L.optim.SGD(net.parameters(), lr=0.2, momentum=0.9)
        record = []
        for _ in range(3):
            opt.zero_grad()
            loss = L.nn.functional.cross_entropy(
                net(L.tensor(x), L.tensor(lengths)).reshape(-1, 12), L.tensor(y.reshape(-1)))
            loss.backward()
            record += [loss, L.nn.utils.clip_grad_norm_(net.parameters(), 0.5)]
            opt.step()
        return record + list(net.parameters())
    _compare(run)


def test_padding_and_packing_utilities():
    rng = np.random.default_rng(3)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]

    def run(L):
        U = L.nn.utils.rnn
        xs = [L.tensor(s, requires_grad=True) for s in seqs]
        right = U.pad_sequence(xs, batch_first=True, padding_value=-1.0)
        left = U.pad_sequence(xs, padding_side="left")
        packed = U.pack_sequence(xs, enforce_sorted=False)
        padded, lengths = U.pad_packed_sequence(packed, total_length=6, padding_value=0.5)
        back = U.unpack_sequence(packed)
        loss = (right ** 3).sum() + (left ** 2).sum() + (padded ** 3).sum()
        loss = loss + sum((b * b).sum() for b in back)
        loss.backward()
        return [right, left, *packed, padded, lengths, *back] + [x.grad for x in xs]
    _compare(run)


def test_embedding_bag_modes_offsets_and_weights():
    weight = np.random.default_rng(4).standard_normal((7, 3))
    flat, offsets = np.array([1, 2, 4, 5, 4, 3, 2, 0, 6]), np.array([0, 2, 2, 5])
    square = np.array([[1, 2, 4], [4, 3, 3], [0, 6, 0]])
    for mode in ("sum", "mean", "max"):
        for kw in ({}, {"padding_idx": 4}, {"max_norm": 1.0}, {"include_last_offset": True}):
            def run(L, kw=kw, mode=mode):
                bag = L.nn.EmbeddingBag.from_pretrained(L.tensor(weight), freeze=False,
                                                        mode=mode, **kw)
                ends = np.append(offsets, 9) if kw.get("include_last_offset") else offsets
                a = bag(L.tensor(flat), L.tensor(ends))
                b = bag(L.tensor(square))
                ((a ** 3).sum() + (b ** 3).sum()).backward()
                return [a, b, bag.weight.grad, bag.weight.detach()]
            _compare(run)

    def weighted(L):
        bag = L.nn.EmbeddingBag.from_pretrained(L.tensor(weight), freeze=False, mode="sum",
                                                padding_idx=0)
        w = L.tensor(np.linspace(-1, 2, 9), requires_grad=True)
        out = bag(L.tensor(flat), L.tensor(offsets), per_sample_weights=w)
        (out ** 2).sum().backward()
        return [out, w.grad, bag.weight.grad]
    _compare(weighted)


def test_embedding_bag_frequency_scaling_divides_by_the_batch_count():
    w = minigrad.ones(5, 1, dtype=minigrad.float64, requires_grad=True)
    out = minigrad.nn.functional.embedding_bag if hasattr(
        minigrad.nn.functional, "embedding_bag") else minigrad.nn.modules.sparse.embedding_bag
    y = out(minigrad.tensor([1, 1, 1, 2, 2, 3, 1]), w, minigrad.tensor([0, 2, 5]), mode="sum",
            scale_grad_by_freq=True)
    y.backward(minigrad.tensor([[1.0], [10.0], [100.0]], dtype=minigrad.float64))
    assert w.grad.flatten().tolist() == [0.0, 28.0, 10.0, 100.0, 0.0]


def test_embedding_options_and_repr():
    weight = np.random.default_rng(5).standard_normal((7, 3))
    for kw in ({"padding_idx": -1, "max_norm": 0.5, "norm_type": 1.0},
               {"scale_grad_by_freq": True}):
        def run(L, kw=kw):
            emb = L.nn.Embedding(7, 3, **kw).double()
            emb.weight.data.copy_(L.tensor(weight))
            out = emb(L.tensor([[1, 6, 6], [2, 1, 0]]))
            (out ** 3).sum().backward()
            return [out, emb.weight.grad, emb.weight.detach(),
                    repr(emb).replace("minigrad", "torch")]
        _compare(run)
    assert repr(minigrad.nn.EmbeddingBag(5, 2, mode="max", padding_idx=1, max_norm=2.0)) == \
        repr(torch.nn.EmbeddingBag(5, 2, mode="max", padding_idx=1, max_norm=2.0))


def _bad(L):
    nn, U = L.nn, L.nn.utils.rnn
    return {
        "input size": lambda: nn.LSTM(3, 4)(L.zeros(5, 2, 6)),
        "input 4-d": lambda: nn.GRU(3, 4)(L.zeros(5, 2, 3, 1)),
        "h0 shape": lambda: nn.GRU(3, 4)(L.zeros(5, 2, 3), L.zeros(1, 3, 4)),
        "h0 dims": lambda: nn.GRU(3, 4)(L.zeros(5, 2, 3), L.zeros(2, 4)),
        "c0 shape": lambda: nn.LSTM(3, 4)(L.zeros(5, 2, 3), (L.zeros(1, 2, 4),
                                                              L.zeros(1, 2, 5))),
        "lstm hx dims": lambda: nn.LSTM(3, 4)(L.zeros(5, 3), (L.zeros(1, 1, 4),
                                                              L.zeros(1, 1, 4))),
        "dtype": lambda: nn.LSTM(3, 4)(L.zeros(5, 2, 3, dtype=L.float64)),
        "proj on GRU": lambda: nn.GRU(3, 4, proj_size=2),
        "proj too big": lambda: nn.LSTM(3, 4, proj_size=4),
        "hidden float": lambda: nn.LSTM(3, 4.0),
        "dropout": lambda: nn.LSTM(3, 4, 2, dropout=2),
        "cell input": lambda: nn.LSTMCell(3, 4)(L.zeros(2, 5)),
        "cell batch": lambda: nn.GRUCell(3, 4)(L.zeros(2, 3), L.zeros(3, 4)),
        "cell hidden": lambda: nn.LSTMCell(3, 4)(L.zeros(2, 3), (L.zeros(2, 4),
                                                                 L.zeros(2, 5))),
        "cell 3-d": lambda: nn.RNNCell(3, 4)(L.zeros(1, 2, 3)),
        "unsorted": lambda: U.pack_padded_sequence(L.zeros(5, 3, 2), L.tensor([2, 5, 3])),
        "zero length": lambda: U.pack_padded_sequence(L.zeros(5, 3, 2), [5, 3, 0],
                                                      enforce_sorted=False),
        "lengths count": lambda: U.pack_padded_sequence(L.zeros(5, 3, 2), [5, 3]),
        "total_length": lambda: U.pad_packed_sequence(
            U.pack_sequence([L.zeros(3), L.zeros(2)]), total_length=2),
        "empty pad": lambda: U.pad_sequence([]),
        "bag offsets": lambda: nn.EmbeddingBag(5, 2)(L.tensor([1, 2, 3]), L.tensor([1, 2])),
        "bag 1-d alone": lambda: nn.EmbeddingBag(5, 2)(L.tensor([1, 2, 3])),
        "bag weights mean": lambda: nn.EmbeddingBag(5, 2)(L.tensor([[1, 2]]),
                                                          per_sample_weights=L.ones(1, 2)),
        "bag index": lambda: nn.EmbeddingBag(5, 2)(L.tensor([[1, 2, 7]])),
        "bag max scaled": lambda: nn.EmbeddingBag(5, 2, mode="max",
                                                  scale_grad_by_freq=True)(L.tensor([[1]])),
    }


@pytest.mark.parametrize("case", list(_bad(torch)))
def test_errors_match_torch(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as theirs:
            _bad(torch)[case]()
        with pytest.raises(type(theirs.value)) as ours:
            _bad(minigrad)[case]()
    expected = str(theirs.value).split("\n")[0].replace("torch.", "minigrad.")
    assert str(ours.value).split("\n")[0] == expected


def test_single_layer_dropout_warns():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        minigrad.nn.GRU(3, 4, dropout=0.5)
