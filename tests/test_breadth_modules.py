"""Issue #15's layers, optimizers, schedulers and utilities, each run against PyTorch: same
weights in, same outputs, gradients and learning rates out (float64 where the layer allows)."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import minigrad  # noqa: E402
import minigrad.nn as nn  # noqa: E402


def _copy_params(ours, theirs):
    """Give our module torch's parameter values (matched by name)."""
    for name, p in theirs.named_parameters():
        ours.get_parameter(name)._array = p.detach().numpy().copy()


def _run_both(ours, theirs, x, rtol=1e-6, atol=1e-9, unpack=lambda out: out):
    a = minigrad.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya, yb = unpack(ours(a)), unpack(theirs(b))
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=rtol, atol=atol)
    up = np.random.default_rng(1).standard_normal(tuple(yb.shape))
    (ya * minigrad.tensor(up)).sum().backward()
    (yb * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(ours.get_parameter(name).grad.numpy(), p.grad.numpy(),
                                   rtol=rtol, atol=atol, err_msg=name)


LAYERS = [
    ("LayerNorm", lambda L: L.nn.LayerNorm((3, 4)), (2, 5, 3, 4)),
    ("GroupNorm", lambda L: L.nn.GroupNorm(2, 6), (2, 6, 3, 3)),
    ("InstanceNorm1d affine", lambda L: L.nn.InstanceNorm1d(3, affine=True), (2, 3, 7)),
    ("InstanceNorm2d batch-less", lambda L: L.nn.InstanceNorm2d(3), (3, 4, 4)),
    ("PReLU per channel", lambda L: L.nn.PReLU(3), (2, 3, 4)),
    ("GELU tanh", lambda L: L.nn.GELU(approximate="tanh"), (3, 4)),
    ("Mish", lambda L: L.nn.Mish(), (3, 4)),
    ("Softmin", lambda L: L.nn.Softmin(dim=1), (3, 4)),
    ("Softmax2d", lambda L: L.nn.Softmax2d(), (2, 3, 2, 2)),
    ("Upsample bilinear", lambda L: L.nn.Upsample(scale_factor=2, mode="bilinear"),
     (1, 2, 3, 4)),
    ("PixelShuffle", lambda L: L.nn.PixelShuffle(2), (1, 8, 2, 3)),
    ("Unfold", lambda L: L.nn.Unfold(2, padding=1, stride=2), (2, 3, 5, 5)),
    ("AdaptiveMaxPool2d", lambda L: L.nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 5, 7)),
    ("AvgPool3d", lambda L: L.nn.AvgPool3d(2), (1, 2, 4, 4, 4)),
    ("RNN relu, 2 layers", lambda L: L.nn.RNN(4, 5, 2, nonlinearity="relu"), (6, 3, 4)),
    ("GRU bidirectional batch_first", lambda L: L.nn.GRU(4, 3, batch_first=True,
                                                         bidirectional=True), (2, 5, 4)),
    ("LSTM batch-less", lambda L: L.nn.LSTM(4, 3, num_layers=2), (5, 4)),
]


@pytest.mark.parametrize("name,make,shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(name, make, shape):
    theirs = make(torch).double()
    ours = make(minigrad)
    _copy_params(ours, theirs)
    x = np.random.default_rng(0).standard_normal(shape)
    unpack = (lambda out: out[0]) if name.split()[0] in ("RNN", "GRU", "LSTM") else \
        (lambda out: out)
    _run_both(ours, theirs, x, unpack=unpack)
    assert repr(ours) == repr(theirs).replace("torch.", "minigrad.")


def test_lstm_states_and_cells_match_torch():
    theirs, ours = torch.nn.LSTM(3, 4).double(), nn.LSTM(3, 4)
    _copy_params(ours, theirs)
    x = np.random.default_rng(2).standard_normal((5, 2, 3))
    h0, c0 = np.full((1, 2, 4), 0.1), np.full((1, 2, 4), -0.2)
    _, (h, c) = ours(minigrad.tensor(x), (minigrad.tensor(h0), minigrad.tensor(c0)))
    _, (th, tc) = theirs(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)))
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(c.detach().numpy(), tc.detach().numpy(), rtol=1e-6)
    tcell, cell = torch.nn.GRUCell(3, 2).double(), nn.GRUCell(3, 2)
    _copy_params(cell, tcell)
    np.testing.assert_allclose(cell(minigrad.tensor(x[0])).detach().numpy(),
                               tcell(torch.tensor(x[0])).detach().numpy(), rtol=1e-6)


def test_embedding_and_its_padding_row():
    theirs, ours = torch.nn.Embedding(6, 3, padding_idx=2).double(), nn.Embedding(6, 3,
                                                                                 padding_idx=2)
    assert float(abs(ours.weight[2]).sum()) == 0.0            # the padding row starts at 0
    _copy_params(ours, theirs)
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    (ours(minigrad.tensor(idx)) ** 2).sum().backward()
    (theirs(torch.tensor(idx)) ** 2).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy())
    with pytest.raises(IndexError, match="index out of range in self"):
        ours(minigrad.tensor([6]))


def test_lazy_layers_take_their_size_from_the_first_input():
    net = nn.Sequential(nn.LazyConv2d(4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.LazyLinear(2))
    opt = minigrad.optim.SGD(net.parameters(), lr=0.1)   # handed over before materialising
    out = net(minigrad.randn(2, 3, 5, 5))
    assert tuple(out.shape) == (2, 2)
    assert type(net[0]) is nn.Conv2d and tuple(net[0].weight.shape) == (4, 3, 3, 3)
    assert type(net[3]) is nn.Linear and net[3].in_features == 100
    before = net[3].weight.detach().clone()
    out.sum().backward()
    opt.step()
    assert not minigrad.equal(before, net[3].weight)     # the optimizer held the real tensors


def test_lazy_batch_norm_matches_torch_after_materialising():
    x = np.random.default_rng(4).standard_normal((4, 3, 2, 2))
    ours, theirs = nn.LazyBatchNorm2d().double(), torch.nn.LazyBatchNorm2d().double()
    _run_both(ours, theirs, x)
    assert type(ours) is nn.BatchNorm2d and repr(ours) == repr(theirs)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy())


def test_dropout_channel_forms_zero_whole_channels():
    minigrad.manual_seed(0)
    y = nn.Dropout2d(0.5)(minigrad.ones(4, 8, 3, 3))
    per_channel = y.numpy().reshape(4, 8, 9)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()
    assert nn.Dropout1d(0.5).eval()(minigrad.ones(2, 3, 4)).sum().item() == 24
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        nn.Dropout1d()(minigrad.ones(2, 3, 4, 5))


def test_max_unpool_undoes_max_pool_as_torch():
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 6))
    out, idx = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    ours = nn.MaxUnpool2d(2)(minigrad.tensor(out.numpy()), minigrad.tensor(idx.numpy()))
    np.testing.assert_array_equal(ours.numpy(), torch.nn.MaxUnpool2d(2)(out, idx).numpy())


def test_fold_of_unfold_counts_each_pixel_once_per_window():
    x = minigrad.ones(1, 1, 4, 4)
    counts = minigrad.nn.functional.fold(minigrad.nn.functional.unfold(x, 2), 4, 2)
    expected = torch.nn.functional.fold(torch.nn.functional.unfold(torch.ones(1, 1, 4, 4), 2),
                                         4, 2)
    np.testing.assert_array_equal(counts.numpy(), expected.numpy())


# ----------------------------------------------------------------------------------------------
# optimizers, schedulers, nn.utils
# ----------------------------------------------------------------------------------------------
def test_adagrad_matches_torch():
    start = np.array([1.0, -2.0, 0.5])
    ours, theirs = minigrad.tensor(start, requires_grad=True), torch.tensor(start,
                                                                           requires_grad=True)
    kw = dict(lr=0.3, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2)
    o, t = minigrad.optim.Adagrad([ours], **kw), torch.optim.Adagrad([theirs], **kw)
    for _ in range(6):
        for lib, p, opt in ((minigrad, ours, o), (torch, theirs, t)):
            opt.zero_grad()
            (p ** 4).sum().backward()
            opt.step()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        minigrad.optim.Adagrad([ours], lr=-1)


SCHEDULES = {
    "LinearLR": lambda L, o: L.optim.lr_scheduler.LinearLR(o, 0.25, 1.0, 6),
    "CosineAnnealingWarmRestarts": lambda L, o:
        L.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=0.01),
    "OneCycleLR": lambda L, o: L.optim.lr_scheduler.OneCycleLR(o, 1.0, total_steps=24),
    "OneCycleLR three phases": lambda L, o: L.optim.lr_scheduler.OneCycleLR(
        o, 0.5, epochs=4, steps_per_epoch=6, three_phase=True, anneal_strategy="linear"),
    "SequentialLR": lambda L, o: L.optim.lr_scheduler.SequentialLR(
        o, [L.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=4),
            L.optim.lr_scheduler.CosineAnnealingLR(o, 10)], milestones=[5]),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_torch(name):
    def rates(lib):
        p = lib.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
        sched = SCHEDULES[name](lib, opt)
        seen = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(20):
                opt.step()
                sched.step()
                seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        return np.array(seen)
    np.testing.assert_allclose(rates(minigrad), rates(torch), rtol=1e-12, atol=1e-15)


def test_reduce_lr_on_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88, 0.9, 0.91]
    seen = []
    for lib in (minigrad, torch):
        opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=1.0)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=2, cooldown=1,
                                                         factor=0.5, min_lr=0.2)
        rates = []
        for m in metrics:
            sched.step(m)
            rates.append(opt.param_groups[0]["lr"])
        seen.append(rates)
    assert seen[0] == seen[1]


def test_one_cycle_refuses_a_step_too_many_with_torchs_words():
    opt = minigrad.optim.SGD([minigrad.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = minigrad.optim.lr_scheduler.OneCycleLR(opt, 1.0, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of "
                                         "total steps is 2"):
        sched.step()


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_matches_torch(norm_type):
    grads = [np.arange(6.0).reshape(2, 3) - 2, np.array([3.0, -7.0])]
    ours = [minigrad.zeros(*g.shape, dtype=minigrad.float64, requires_grad=True) for g in grads]
    theirs = [torch.zeros(*g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for o, t, g in zip(ours, theirs, grads):
        o.grad, t.grad = minigrad.tensor(g), torch.tensor(g)
    total = minigrad.nn.utils.clip_grad_norm_(ours, 2.5, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 2.5, norm_type)
    assert float(total) == pytest.approx(float(expected), rel=1e-12)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_parameter_vectors():
    layer = nn.Linear(3, 2)
    layer(minigrad.randn(4, 3)).pow(2).sum().mul(100).backward()
    minigrad.nn.utils.clip_grad_value_(layer.parameters(), 0.5)
    assert all(float(abs(p.grad).max()) <= 0.5 for p in layer.parameters())
    vec = minigrad.nn.utils.parameters_to_vector(layer.parameters())
    assert tuple(vec.shape) == (8,)
    minigrad.nn.utils.vector_to_parameters(minigrad.arange(8.0), layer.parameters())
    np.testing.assert_array_equal(layer.weight.detach().numpy(),
                                  np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(layer.bias.detach().numpy(), [6.0, 7.0])
