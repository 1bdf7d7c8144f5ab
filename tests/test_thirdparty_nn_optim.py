"""What ordinary third-party PyTorch training code reaches for, against PyTorch: the less
common losses and distances, module backward hooks (Grad-CAM style), ParameterList and
ParameterDict, IterableDataset / WeightedRandomSampler and the DataLoader's options, the
remaining ``nn.init`` functions, and the schedulers beyond the classic ones."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _pair(shape, seed, positive=False):
    """The same float64 values as a minigrad and a torch tensor."""
    a = np.random.default_rng(seed).standard_normal(shape)
    a = np.abs(a) + 0.1 if positive else a
    return minigrad.tensor(a), torch.tensor(a)


def _close(mine, theirs, atol=1e-10):
    np.testing.assert_allclose(np.asarray(mine.detach().numpy()), theirs.detach().numpy(),
                               rtol=1e-7, atol=atol)


def _same_model(build, seed=0):
    """``build(lib)`` in both libraries, with minigrad's weights copied from torch's."""
    torch.manual_seed(seed)
    tmodel = build(torch).double()
    model = build(minigrad).double()
    model.load_state_dict({k: minigrad.tensor(v.numpy()) for k, v in
                           tmodel.state_dict().items()})
    return model, tmodel


# ----------------------------------------------------------------------------------------------
# Losses and distances (each was missing: AttributeError)
# ----------------------------------------------------------------------------------------------
LOSSES = [
    ("smooth_l1", lambda F, x, y, z, v: F.smooth_l1_loss(x, y, beta=0.5)),
    ("smooth_l1_beta0", lambda F, x, y, z, v: F.smooth_l1_loss(x, y, beta=0.0)),
    ("huber", lambda F, x, y, z, v: F.huber_loss(x, y, reduction="sum", delta=0.7)),
    ("kl_batchmean", lambda F, x, y, z, v: F.kl_div(F.log_softmax(x, 1), F.softmax(y, 1),
                                                     reduction="batchmean")),
    ("kl_log_target", lambda F, x, y, z, v: F.kl_div(F.log_softmax(x, 1), F.log_softmax(y, 1),
                                                      reduction="none", log_target=True)),
    ("poisson", lambda F, x, y, z, v: F.poisson_nll_loss(x, v * 3)),
    ("poisson_full", lambda F, x, y, z, v: F.poisson_nll_loss(x.abs() + v, v * 3, log_input=False,
                                                              full=True)),
    ("gaussian", lambda F, x, y, z, v: F.gaussian_nll_loss(x, y, v, full=True)),
    ("gaussian_per_sample", lambda F, x, y, z, v: F.gaussian_nll_loss(x, y, v[:, 0] * 1e-8,
                                                                      reduction="sum")),
    ("soft_margin", lambda F, x, y, z, v: F.soft_margin_loss(x, y.sign())),
    ("multilabel_soft_margin", lambda F, x, y, z, v: F.multilabel_soft_margin_loss(
        x, (y > 0).double(), weight=v[0])),
    ("margin_ranking", lambda F, x, y, z, v: F.margin_ranking_loss(x[:, 0], x[:, 1],
                                                                   y[:, 0].sign(), margin=0.2)),
    ("hinge_embedding", lambda F, x, y, z, v: F.hinge_embedding_loss(x, y.sign(), margin=0.5)),
    ("cosine_embedding", lambda F, x, y, z, v: F.cosine_embedding_loss(x, y, z[:, 0].sign(),
                                                                       margin=0.1)),
    ("triplet", lambda F, x, y, z, v: F.triplet_margin_loss(x, y, z, reduction="none")),
    ("triplet_swap_l1", lambda F, x, y, z, v: F.triplet_margin_loss(x, y, z, p=1, swap=True)),
    ("cosine_similarity", lambda F, x, y, z, v: F.cosine_similarity(x, y)),
    ("cosine_similarity_broadcast", lambda F, x, y, z, v: F.cosine_similarity(
        x.unsqueeze(1), y.unsqueeze(0), dim=-1)),
    ("pairwise_distance", lambda F, x, y, z, v: F.pairwise_distance(x, y, keepdim=True)),
]


@pytest.mark.parametrize("name,fn", LOSSES, ids=[c[0] for c in LOSSES])
def test_functional_losses_match_torch(name, fn):
    (x, tx), (y, ty), (z, tz), (v, tv) = (_pair((5, 4), 1), _pair((5, 4), 2), _pair((5, 4), 3),
                                          _pair((5, 4), 4, positive=True))
    x.requires_grad_()
    tx.requires_grad_()
    out = fn(minigrad.nn.functional, x, y, z, v)
    tout = fn(torch.nn.functional, tx, ty, tz, tv)
    _close(out, tout)
    out.sum().backward()
    tout.sum().backward()
    _close(x.grad, tx.grad)


def test_cosine_similarity_of_zero_vectors_is_zero_with_finite_gradient():
    x = minigrad.zeros(2, 3, dtype=minigrad.float64, requires_grad=True)
    tx = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    y, ty = _pair((2, 3), 5)
    out = minigrad.nn.functional.cosine_similarity(x, y)
    tout = torch.nn.functional.cosine_similarity(tx, ty)
    _close(out, tout)
    out.sum().backward()
    tout.sum().backward()
    _close(x.grad, tx.grad)


def test_loss_modules_match_torch_and_check_arguments():
    (x, tx), (y, ty), (z, tz) = _pair((6, 3), 1), _pair((6, 3), 2), _pair((6, 3), 3)
    for lib, a, b, c in ((minigrad, x, y, z), (torch, tx, ty, tz)):
        nn = lib.nn
        lib.results = [nn.SmoothL1Loss(reduction="none", beta=2.0)(a, b),
                       nn.HuberLoss(delta=0.3)(a, b),
                       nn.KLDivLoss(reduction="sum")(nn.functional.log_softmax(a, 1),
                                                     nn.functional.softmax(b, 1)),
                       nn.PoissonNLLLoss(log_input=True)(a, c.abs()),
                       nn.GaussianNLLLoss()(a, b, c.abs()),
                       nn.SoftMarginLoss()(a, b.sign()),
                       nn.MultiLabelSoftMarginLoss()(a, (b > 0).double()),
                       nn.MarginRankingLoss(0.1)(a[:, 0], a[:, 1], b[:, 0].sign()),
                       nn.HingeEmbeddingLoss()(a, b.sign()),
                       nn.CosineEmbeddingLoss(margin=0.2)(a, b, c[:, 0].sign()),
                       nn.TripletMarginLoss(margin=0.5, swap=True)(a, b, c),
                       nn.CosineSimilarity(dim=0)(a, b),
                       nn.PairwiseDistance(p=1.0)(a, b)]
    for mine, theirs in zip(minigrad.results, torch.results):
        _close(mine, theirs)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        minigrad.nn.functional.gaussian_nll_loss(x, y, minigrad.ones(5))
    with pytest.raises(ValueError, match="negative"):
        minigrad.nn.functional.gaussian_nll_loss(x, y, -minigrad.ones(6, 3))
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        minigrad.nn.TripletMarginLoss(margin=0.0)
    kl = minigrad.nn.KLDivLoss(reduction="avg")      # refused at call time, as torch's
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        kl(x, y.abs())
    with pytest.warns(UserWarning, match="batchmean"):
        minigrad.nn.KLDivLoss()(x, y.abs())


# ----------------------------------------------------------------------------------------------
# Module backward hooks (register_full_backward_hook and friends were missing)
# ----------------------------------------------------------------------------------------------
def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(3, 4))


def test_grad_cam_with_forward_and_backward_hooks():
    model, tmodel = _same_model(_cnn)
    x, tx = _pair((1, 1, 6, 6), 7)
    maps = []
    for lib, m, inp in ((minigrad, model, x), (torch, tmodel, tx)):
        store = {}
        m[0].register_forward_hook(lambda mod, i, o: store.__setitem__("act", o))
        m[0].register_full_backward_hook(lambda mod, gi, go: store.__setitem__("grad", go[0]))
        out = m(inp)
        with pytest.warns(UserWarning, match="no inputs require gradients"):
            out[0, 2].backward()
        weights = store["grad"].mean(dim=(2, 3), keepdim=True)
        maps.append((weights * store["act"]).sum(1).relu())
        assert store["grad"].shape == store["act"].shape
    _close(maps[0], maps[1])


def test_full_backward_hooks_see_and_replace_gradients():
    def build(lib):
        nn = lib.nn
        return nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 2))
    model, tmodel = _same_model(build)
    x, tx = _pair((4, 3), 8)
    seen = []
    for m, inp in ((model, x), (tmodel, tx)):
        rec = []
        inp.requires_grad_()
        m[1].register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
        m[1].register_full_backward_hook(lambda mod, gi, go, rec=rec: rec.append((gi, go)) or
                                         (gi[0].clamp(-0.05, 0.05),))
        handle = m[2].register_full_backward_hook(lambda mod, gi, go, rec=rec:
                                                  rec.append((gi, go)))
        m(inp).sum().backward()
        handle.remove()
        m(inp).sum().backward()              # the removed hook records nothing more
        seen.append((rec, inp.grad, m[0].weight.grad))
    (rec, xg, wg), (trec, txg, twg) = seen
    assert len(rec) == len(trec) == 3
    for (gi, go), (tgi, tgo) in zip(rec, trec):
        for a, b in zip(gi + go, tgi + tgo):
            _close(a, b)
    _close(xg, txg)
    _close(wg, twg)


def test_full_backward_hook_without_input_gradient_fires_on_outputs():
    model, tmodel = _same_model(_cnn)
    x, tx = _pair((1, 1, 5, 5), 9)
    got = []
    for m, inp in ((model, x), (tmodel, tx)):
        rec = []
        m[0].register_full_backward_hook(lambda mod, gi, go, rec=rec: rec.append((gi, go)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m(inp).sum().backward()
        got.append(rec)
    (gi, go), = got[0]
    (tgi, tgo), = got[1]
    assert gi == tgi == (None,)
    _close(go[0], tgo[0])
    with minigrad.no_grad():           # no graph: the hooks are not involved
        assert not model(x).requires_grad


# ----------------------------------------------------------------------------------------------
# ParameterList / ParameterDict
# ----------------------------------------------------------------------------------------------
def _with_param_containers(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterList([nn.Parameter(lib.ones(2)), lib.zeros(2, 3)])
            self.extra = nn.ParameterDict({"x": nn.Parameter(lib.ones(1)), "y": lib.zeros(2)})

        def forward(self, x):
            for p in self.scales:
                x = x + p.sum()
            return x * self.extra["x"]
    return Net()


def test_parameter_list_and_dict_register_like_torch():
    nets = {}
    for lib in (minigrad, torch):
        net = _with_param_containers(lib)
        net.scales.append(lib.nn.Parameter(lib.full((1,), 2.0)))
        net.extra["z"] = lib.nn.Parameter(lib.ones(1))
        out = net(lib.ones(1))
        out.sum().backward()
        nets[lib.__name__] = net, out
    (net, out), (tnet, tout) = nets["minigrad"], nets["torch"]
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in tnet.named_parameters()]
    assert list(net.state_dict()) == list(tnet.state_dict())
    assert repr(net) == repr(tnet).replace("torch.", "minigrad.")
    assert isinstance(net.scales[1], minigrad.nn.Parameter) and net.scales[1].requires_grad
    assert len(net.scales[1:]) == 2 and list(net.extra.keys()) == ["x", "y", "z"]
    _close(out, tout)
    for p, tp in zip(net.parameters(), tnet.parameters()):
        if tp.grad is None:              # extra['y'] and ['z'] are not used by forward
            assert p.grad is None
        else:
            _close(p.grad, tp.grad)
    with pytest.raises(RuntimeError, match="should not be called"):
        net.scales(1)
    assert repr(minigrad.nn.ParameterList()) == "ParameterList()"


# ----------------------------------------------------------------------------------------------
# utils.data: IterableDataset, WeightedRandomSampler, the DataLoader's options
# ----------------------------------------------------------------------------------------------
def _stream(lib):
    data = lib.utils.data

    class Stream(data.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            for i in range(self.n):
                yield np.float32(i), {"k": i}

    class Sized(Stream):
        def __len__(self):
            return self.n
    return data, Stream, Sized


def _as_lists(batches):
    out = []
    for b in batches:
        if isinstance(b, (list, tuple)):
            out.append([_as_lists([x])[0] for x in b])
        elif isinstance(b, dict):
            out.append({k: _as_lists([v])[0] for k, v in b.items()})
        elif hasattr(b, "numpy"):
            out.append((b.numpy().tolist(), str(b.dtype).split(".")[-1]))
        else:
            out.append(b)
    return out


def test_iterable_dataset_batches_like_torch():
    got = {}
    for lib in (minigrad, torch):
        data, Stream, Sized = _stream(lib)
        got[lib.__name__] = [
            _as_lists(data.DataLoader(Stream(7), batch_size=3)),
            _as_lists(data.DataLoader(Stream(7), batch_size=3, drop_last=True)),
            _as_lists(data.DataLoader(Stream(2), batch_size=None)),
            _as_lists(data.DataLoader(Stream(2) + Stream(3), batch_size=2)),
            [len(data.DataLoader(Sized(7), batch_size=3)),
             len(data.DataLoader(Sized(7), batch_size=3, drop_last=True)),
             len(data.ChainDataset([Sized(2), Sized(3)]))],
            _as_lists(data.DataLoader([(np.ones(2), 1)], batch_size=None)),
            data.get_worker_info()]
    assert got["minigrad"] == got["torch"]
    data, Stream, _ = _stream(minigrad)
    with pytest.raises(TypeError, match="has no len"):
        len(data.DataLoader(Stream(7), batch_size=3))
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        data.DataLoader(Stream(7), batch_size=3, shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        data.DataLoader(Stream(7), sampler=[0, 1])


def test_dataloader_keeps_its_options_and_checks_them():
    data = minigrad.utils.data
    ds = data.TensorDataset(minigrad.arange(6))
    loader = data.DataLoader(ds, batch_size=4, num_workers=2, pin_memory=True, timeout=5,
                             prefetch_factor=3, persistent_workers=True)
    assert (loader.pin_memory, loader.timeout, loader.prefetch_factor,
            loader.persistent_workers, loader.worker_init_fn) == (True, 5, 3, True, None)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        data.DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        data.DataLoader(ds, persistent_workers=True)


def test_weighted_random_sampler():
    data = minigrad.utils.data
    minigrad.manual_seed(0)
    sampler = data.WeightedRandomSampler(minigrad.tensor([0.0, 3.0, 1.0]), 200)
    draws = np.array(list(sampler))
    assert len(sampler) == 200 and set(draws) == {1, 2}
    assert 0.6 < (draws == 1).mean() < 0.9
    once = sorted(data.WeightedRandomSampler([1.0, 2.0, 0.0], 3, replacement=False))
    assert once == [0, 1, 2]                 # zero weights come last, as torch.multinomial
    loader = data.DataLoader(data.TensorDataset(minigrad.arange(3)), batch_size=2,
                             sampler=data.WeightedRandomSampler([1, 1, 1], 5))
    assert [len(b[0]) for b in loader] == [2, 2, 1]
    for bad, message in (((([[1.0]], 3)), "1d sequence"), ((([1.0], 0)), "positive integer")):
        with pytest.raises(ValueError, match=message):
            data.WeightedRandomSampler(*bad)
    with pytest.raises(RuntimeError, match="without replacement"):
        list(data.WeightedRandomSampler([1.0, 1.0], 3, replacement=False))


# ----------------------------------------------------------------------------------------------
# nn.init: orthogonal_, sparse_, dirac_ and the deprecated names
# ----------------------------------------------------------------------------------------------
def test_orthogonal_sparse_dirac_init():
    init = minigrad.nn.init
    w = init.orthogonal_(minigrad.empty(4, 6, dtype=minigrad.float64), gain=2.0)
    np.testing.assert_allclose((w @ w.T).numpy(), 4 * np.eye(4), atol=1e-12)
    w = init.orthogonal_(minigrad.empty(6, 2, 2, dtype=minigrad.float64)).reshape(6, 4)
    np.testing.assert_allclose((w.T @ w).numpy(), np.eye(4), atol=1e-12)
    w = init.sparse_(minigrad.empty(5, 4), 0.5, std=0.01)
    assert ((w == 0).sum(0).numpy() == 3).all()
    for shape, groups in (((4, 2, 3), 2), ((2, 3, 3, 3, 3), 1), ((3, 2, 3, 3), 1)):
        np.testing.assert_array_equal(
            init.dirac_(minigrad.empty(*shape), groups).numpy(),
            torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())
    for call, message in ((lambda: init.orthogonal_(minigrad.empty(3)), "2 or more"),
                          (lambda: init.dirac_(minigrad.empty(3, 3)), "3, 4, or 5"),
                          (lambda: init.dirac_(minigrad.empty(3, 3, 3), 2), "divisible"),
                          (lambda: init.sparse_(minigrad.empty(2, 2, 2), 0.1), "2 dimensions")):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.warns(FutureWarning, match="`nn.init.xavier_uniform` is now deprecated"):
        init.xavier_uniform(minigrad.empty(2, 2))
    with pytest.warns(FutureWarning, match="`nn.init.constant` is now deprecated"):
        assert (init.constant(minigrad.empty(2), 0.5).numpy() == 0.5).all()
    with pytest.warns(FutureWarning, match="`nn.init.eye` is now deprecated"):
        np.testing.assert_array_equal(init.eye(minigrad.empty(2, 3)).numpy(), np.eye(2, 3))
    with pytest.warns(FutureWarning, match="`nn.init.dirac` is now deprecated"):
        w = init.dirac(minigrad.empty(2, 2, 3)).numpy()
        assert w[0, 0, 1] == w[1, 1, 1] == 1 and w.sum() == 2


# ----------------------------------------------------------------------------------------------
# Schedulers: ConstantLR, MultiplicativeLR, PolynomialLR, ChainedScheduler (were missing)
# ----------------------------------------------------------------------------------------------
SCHEDULES = {
    "constant": lambda S, o: S.ConstantLR(o, factor=0.25, total_iters=3),
    "multiplicative": lambda S, o: S.MultiplicativeLR(o, lambda epoch: 0.9),
    "polynomial": lambda S, o: S.PolynomialLR(o, total_iters=4, power=2.0),
    "chained": lambda S, o: S.ChainedScheduler([S.ConstantLR(o, factor=0.1, total_iters=2),
                                                S.ExponentialLR(o, gamma=0.9)]),
    "warmup_then_polynomial": lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, factor=0.1, total_iters=2), S.PolynomialLR(o, total_iters=3)],
        milestones=[2]),
}


def _two_group_sgd(lib):
    m = lib.nn.Linear(2, 2)
    return lib.optim.SGD([{"params": [m.weight]}, {"params": [m.bias], "lr": 0.5}], lr=1.0,
                         momentum=0.9)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_more_schedulers_match_torch_bit_for_bit(name):
    rates = []
    for lib in (minigrad, torch):
        opt = _two_group_sgd(lib)
        sched = SCHEDULES[name](lib.optim.lr_scheduler, opt)
        got = [sched.get_last_lr()]
        for _ in range(7):
            opt.step()
            sched.step()
            got.append(sched.get_last_lr() + [g["lr"] for g in opt.param_groups])
        rates.append(got)
    assert rates[0] == rates[1]


def test_more_schedulers_closed_form_state_and_errors():
    S = minigrad.optim.lr_scheduler
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # step(epoch) is deprecated, as in torch
        for lib in (minigrad, torch):
            poly = lib.optim.lr_scheduler.PolynomialLR(_two_group_sgd(lib), total_iters=4)
            poly.step(2)
            const = lib.optim.lr_scheduler.ConstantLR(_two_group_sgd(lib), 0.5, total_iters=4)
            const.step(5)
            lib.closed = poly.get_last_lr() + const.get_last_lr()
    assert minigrad.closed == torch.closed
    opt = _two_group_sgd(minigrad)
    chain = S.ChainedScheduler([S.ConstantLR(opt, factor=0.1, total_iters=2),
                                S.ExponentialLR(opt, gamma=0.9)])
    chain.step()
    opt2 = _two_group_sgd(minigrad)
    chain2 = S.ChainedScheduler([S.ConstantLR(opt2, factor=0.1, total_iters=2),
                                 S.ExponentialLR(opt2, gamma=0.9)])
    chain2.load_state_dict(chain.state_dict())
    assert [s.last_epoch for s in chain2._schedulers] == [1, 1]
    with pytest.raises(ValueError, match="between 0 and 1"):
        S.ConstantLR(opt, factor=2)
    with pytest.raises(ValueError, match="at least one scheduler"):
        S.ChainedScheduler([])
