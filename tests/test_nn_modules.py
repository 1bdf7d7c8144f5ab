"""nn.Module machinery and the layers, checked against PyTorch (the oracle) and the seeds."""
import math
import pprint
from collections import OrderedDict

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")

HAS_CONV = hasattr(F, "conv2d")
HAS_POOL = hasattr(F, "max_pool2d")
needs_conv = pytest.mark.skipif(not HAS_CONV, reason="minigrad.nn.functional.conv2d not there yet")
needs_pool = pytest.mark.skipif(not HAS_POOL, reason="minigrad.nn.functional pooling not there yet")


def as_torch_text(text):
    return text.replace("minigrad", "torch")


def mg(array, requires_grad=False):
    return minigrad.tensor(np.asarray(array), requires_grad=requires_grad)


def th(array, requires_grad=False):
    return torch.tensor(np.asarray(array), requires_grad=requires_grad)


def copy_weights(src_torch, dst_minigrad):
    """Copy a torch module's parameters and buffers into the equivalent minigrad module."""
    state = OrderedDict((k, minigrad.tensor(v.detach().numpy()))
                        for k, v in src_torch.state_dict().items())
    dst_minigrad.load_state_dict(state)


# ----------------------------------------------------------------------------------------------
# repr, against torch's for many configurations
# ----------------------------------------------------------------------------------------------
REPRS = [
    "nn.Linear(576, 120)", "nn.Linear(3, 4, bias=False)",
    "nn.Conv2d(1, 6, 3)", "nn.Conv2d(in_channels=2, out_channels=4, kernel_size=5)",
    "nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, dilation=2, bias=False)",
    "nn.Conv2d(4, 8, 3, groups=2, padding=1, padding_mode='reflect')",
    "nn.Conv2d(1, 1, 3, padding='same')", "nn.Conv2d(1, 1, 3, padding='valid')",
    "nn.Conv2d(2, 2, 3, padding=(0, 1))",
    "nn.Conv2d(2, 2, 1, stride=(2, 1), padding_mode='circular')",
    "nn.Conv1d(2, 4, 5, stride=2, padding=2)", "nn.Conv1d(2, 4, 5, dilation=3, groups=2)",
    "nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1)",
    "nn.ConvTranspose2d(4, 2, 3, padding=1, bias=False, dilation=2)",
    "nn.ConvTranspose1d(3, 6, 2, stride=2, groups=3)",
    "nn.MaxPool2d(2)", "nn.MaxPool2d((2, 2), stride=1, padding=1, ceil_mode=True)",
    "nn.MaxPool1d(3)", "nn.MaxPool1d(3, 2, dilation=2)",
    "nn.AvgPool1d(2)", "nn.AvgPool2d(3, 2, 1)", "nn.AvgPool2d((2, 3))",
    "nn.AdaptiveAvgPool2d((1, 1))", "nn.AdaptiveAvgPool2d(1)", "nn.AdaptiveAvgPool1d(4)",
    "nn.ReLU()", "nn.ReLU(inplace=True)", "nn.LeakyReLU()", "nn.LeakyReLU(0.2, inplace=True)",
    "nn.Sigmoid()", "nn.Tanh()", "nn.Softmax(dim=1)", "nn.Softmax()", "nn.LogSoftmax(dim=-1)",
    "nn.ReLU6()", "nn.Hardtanh(-2.0, 2.0)", "nn.SiLU()", "nn.Softplus(beta=2.0)",
    "nn.Flatten()", "nn.Flatten(0, 2)", "nn.Unflatten(1, (2, 3))",
    "nn.Dropout()", "nn.Dropout(0.3, inplace=True)",
    "nn.BatchNorm1d(10)", "nn.BatchNorm2d(3, momentum=None, affine=False, "
    "track_running_stats=False)", "nn.BatchNorm2d(3, eps=1e-3, bias=False)",
    "nn.Identity()", "nn.CrossEntropyLoss()", "nn.NLLLoss()", "nn.MSELoss(reduction='sum')",
    "nn.L1Loss()", "nn.BCELoss()", "nn.BCEWithLogitsLoss()",
    "nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.Conv2d(20, 64, 5), nn.ReLU())",
    "nn.Sequential(OrderedDict([('conv1', nn.Conv2d(1, 20, 5)), ('relu1', nn.ReLU())]))",
    "nn.Sequential()", "nn.ModuleList()",
    "nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), "
    "nn.Linear(2, 2)])",
    "nn.ModuleList([nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.Sequential(nn.Linear(2, 2), "
    "nn.ReLU())])",
    "nn.ModuleDict({'a': nn.ReLU(), 'b': nn.Sequential(nn.Tanh())})",
]


@pytest.mark.parametrize("src", REPRS)
def test_repr_matches_torch(src):
    ours = eval(src, {"nn": nn, "OrderedDict": OrderedDict})
    theirs = eval(src, {"nn": torch.nn, "OrderedDict": OrderedDict})
    assert repr(ours) == repr(theirs)


def _seed_003_net(nn_):
    class Net(nn_.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn_.Conv2d(1, 6, 3)
            self.conv2 = nn_.Conv2d(6, 16, 3)
            self.fc1 = nn_.Linear(16 * 6 * 6, 120)
            self.fc2 = nn_.Linear(120, 84)
            self.fc3 = nn_.Linear(84, 10)
    return Net()


SEED_003_PRINT = """Net(
  (conv1): Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))
  (conv2): Conv2d(6, 16, kernel_size=(3, 3), stride=(1, 1))
  (fc1): Linear(in_features=576, out_features=120, bias=True)
  (fc2): Linear(in_features=120, out_features=84, bias=True)
  (fc3): Linear(in_features=84, out_features=10, bias=True)
)"""


def test_seed_003_print_net_and_parameter_sizes():
    net = _seed_003_net(nn)
    assert repr(net) == SEED_003_PRINT == repr(_seed_003_net(torch.nn))
    params = list(net.parameters())
    assert str(params[0].size()) == "minigrad.Size([6, 1, 3, 3])"
    assert str(params[2].size()) == "minigrad.Size([16, 6, 3, 3])"
    assert [n for n, _ in net.named_parameters()] == \
        [n for n, _ in _seed_003_net(torch.nn).named_parameters()]


def test_parameter_repr_and_defaults():
    p = nn.Parameter(minigrad.zeros(2))
    assert p.requires_grad and p.is_leaf
    assert repr(p) == as_torch_text(repr(torch.nn.Parameter(torch.zeros(2)))).replace(
        "torch", "minigrad")
    assert repr(p) == "Parameter containing:\ntensor([0., 0.], requires_grad=True)"
    data = minigrad.ones(3)
    q = nn.Parameter(data, requires_grad=False)
    q.data[0] = 5.0
    assert data[0].item() == 5.0            # shares memory, like torch
    assert not q.requires_grad
    assert type(q * 2) is minigrad.Tensor


# ----------------------------------------------------------------------------------------------
# Seed 004: state_dict writes into the layer
# ----------------------------------------------------------------------------------------------
SOBEL_X = [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]


def _single_channel_conv(lib, kernel, **options):
    """A 1-in, 1-out Conv2d whose weight and bias are set through state_dict(): the tensors it
    returns share the layer's memory (seed 004's experiment)."""
    layer = lib.nn.Conv2d(1, 1, len(kernel), **options)
    params = layer.state_dict()
    params["weight"][0][0] = lib.tensor(kernel)
    params["bias"][0] = 0.0
    return layer


def test_seed_004_state_dict_write_through_and_printout():
    (conv, sd), (_, tsd) = [(c, c.state_dict()) for c in
                            (_single_channel_conv(lib, SOBEL_X) for lib in (minigrad, torch))]
    assert conv.weight[0, 0].tolist() == SOBEL_X
    assert conv.bias.tolist() == [0.0]
    assert type(sd) is OrderedDict
    assert repr(sd) == as_torch_text(repr(tsd)).replace("torch", "minigrad") == repr(tsd)
    assert pprint.pformat(sd) == pprint.pformat(tsd)
    assert "OrderedDict([('weight'" in pprint.pformat(sd)
    try:
        from IPython.lib.pretty import pretty
    except ImportError:
        return
    assert pretty(sd) == pretty(tsd)   # how a notebook displays it


@needs_conv
def test_seed_004_convolution_outputs():
    line_image = minigrad.zeros(1, 1, 5, 5)
    line_image[0, 0, :, 2] = 1                               # one bright vertical line
    edges = _single_channel_conv(minigrad, SOBEL_X)(line_image)
    assert edges.tolist() == [[[[-4.0, 0.0, 4.0]] * 3]]
    box = [[1.0, 1.0], [1.0, 1.0]]
    strided = _single_channel_conv(minigrad, box, stride=2)(minigrad.ones(1, 1, 4, 4))
    assert strided.tolist() == [[[[4.0, 4.0], [4.0, 4.0]]]] and strided.shape[2:4] == (2, 2)
    padded = _single_channel_conv(minigrad, box, stride=3, padding=1)(minigrad.ones(1, 1, 4, 4))
    assert padded.tolist() == [[[[1.0, 2.0], [2.0, 4.0]]]]


def test_state_dict_shares_memory_and_is_detached():
    lin = nn.Linear(3, 2)
    sd = lin.state_dict()
    assert not sd["weight"].requires_grad and sd["weight"].grad_fn is None
    sd["weight"][1, 2] = 7.0
    assert lin.weight[1, 2].item() == 7.0
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight


# ----------------------------------------------------------------------------------------------
# Registration and traversal
# ----------------------------------------------------------------------------------------------
def _block(nn_):
    class Block(nn_.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn_.Conv2d(3, 4, 3, bias=False)
            self.bn = nn_.BatchNorm2d(4)
            self.head = nn_.Sequential(nn_.Flatten(), nn_.Linear(4, 2))
            self.shared = self.head           # the same module twice
            self.register_buffer("scale", None)
            self.register_buffer("step", (minigrad if nn_ is nn else torch).zeros(1),
                                 persistent=False)
            self.plain = 3
    return Block()


def test_traversal_matches_torch():
    ours, theirs = _block(nn), _block(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert len(list(ours.children())) == len(list(theirs.children()))
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_parameters(remove_duplicate=False)]
    assert ours.get_submodule("head.1") is ours.head[1]
    assert ours.plain == 3 and "conv" in dir(ours)


def test_setattr_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'minigrad.FloatTensor' as parameter "
                                        r"'weight' \(minigrad.nn.Parameter or None expected\)"):
        m.weight = minigrad.zeros(2, 2)
    m.bias = None
    assert "bias" not in dict(m.state_dict()) and m.bias is None
    m.extra = nn.ReLU()
    assert dict(m.named_children()) == {"extra": m.extra}
    del m.extra
    assert list(m.children()) == []
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(minigrad.zeros(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    with pytest.raises(KeyError, match="contain"):
        nn.Module().register_buffer("a.b", minigrad.zeros(1))
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required '
                                                  '"forward" function'):
        nn.Module()(1)


def test_train_eval_apply_zero_grad_requires_grad():
    net = nn.Sequential(nn.Linear(2, 3), nn.Dropout(), nn.Sequential(nn.BatchNorm1d(3)))
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train(1)
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == [type(m).__name__ for m in
                    [net[0], net[1], net[2][0], net[2], net]]
    net(minigrad.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_converts_in_place_keeping_parameter_identity():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    params = list(net.parameters())
    sd_keys = list(net.state_dict())
    assert net.double() is net
    assert list(net.parameters()) == params and all(
        a is b for a, b in zip(net.parameters(), params))
    assert all(p.dtype == minigrad.float64 for p in net.parameters())
    assert net[1].running_mean.dtype == minigrad.float64
    assert net[1].num_batches_tracked.dtype == minigrad.int64      # integers stay
    net.to(minigrad.float32).to("cpu")
    assert all(p.dtype == minigrad.float32 for p in net.parameters())
    assert list(net.state_dict()) == sd_keys
    net.cpu().float()


def test_forward_hooks_and_handles():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(tuple(out.shape)))
    h3 = lin.register_forward_hook(lambda m, args, out: out + 100)
    out = lin(minigrad.ones(5, 2))
    assert calls == [(5, 2)]
    assert np.allclose(out.detach().numpy(), lin.bias.detach().numpy() + 100)
    h1.remove(), h3.remove()
    out = lin(minigrad.ones(1, 2))
    assert np.allclose(out.detach().numpy(),
                       lin.weight.detach().numpy().sum(1) + lin.bias.detach().numpy())
    h2.remove()
    lin(minigrad.ones(1, 2))
    assert len(calls) == 2
    with lin.register_forward_hook(lambda m, a, kw, o: o * 0, with_kwargs=True):
        assert float(lin(minigrad.ones(1, 2)).abs().sum()) == 0
    assert float(lin(minigrad.ones(1, 2)).abs().sum()) != 0


def test_sequential_and_modulelist_behave_like_lists():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    tseq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert repr(seq[1:]) == repr(tseq[1:]) and repr(seq[::2]) == repr(tseq[::2])
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(dict(seq.named_children())) == ["0", "1", "2", "3"]
    with pytest.raises(IndexError, match="index 7 is out of range"):
        seq[7]
    y = seq(minigrad.randn(4, 2))
    assert y.shape == (4, 1) and float(y.min()) >= 0
    del seq[0]
    assert list(dict(seq.named_children())) == ["0", "1", "2"]
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    assert len(layers) == 5 and len(list(layers.parameters())) == 6
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    holder = nn.Module()
    holder.layers = layers
    assert [n for n, _ in holder.named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]


# ----------------------------------------------------------------------------------------------
# load_state_dict
# ----------------------------------------------------------------------------------------------
def _small(nn_):
    return nn_.Sequential(nn_.Linear(3, 4), nn_.BatchNorm1d(4), nn_.Linear(4, 2))


def test_load_state_dict_round_trip_from_torch():
    tnet, net = _small(torch.nn), _small(nn)
    tnet(torch.randn(5, 3))                       # move the running stats away from 0/1
    copy_weights(tnet, net)
    for (k, v), (tk, tv) in zip(net.state_dict().items(), tnet.state_dict().items()):
        assert k == tk
        assert np.array_equal(v.numpy(), tv.numpy())
    net.eval(), tnet.eval()
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    assert np.allclose(net(mg(x)).detach().numpy(), tnet(th(x)).detach().numpy(), atol=1e-6)


def test_load_state_dict_strict_reports_everything_at_once_and_loads_nothing():
    net, tnet = _small(nn), _small(torch.nn)
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    bad = OrderedDict((k, v.clone()) for k, v in net.state_dict().items())
    tbad = OrderedDict((k, v.clone()) for k, v in tnet.state_dict().items())
    for d, lib in ((bad, minigrad), (tbad, torch)):
        del d["0.bias"]
        d["2.weight"] = lib.zeros(3, 4)           # wrong shape
        d["1.surprise"] = lib.zeros(1)
        d["extra.weight"] = lib.zeros(1)
    with pytest.raises(RuntimeError) as ours:
        net.load_state_dict(bad)
    with pytest.raises(RuntimeError) as theirs:
        tnet.load_state_dict(tbad)
    assert str(ours.value) == str(theirs.value).replace("torch", "minigrad")
    msg = str(ours.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:\n\t"
                          'Missing key(s) in state_dict: "0.bias". ')
    assert "size mismatch for 2.weight: copying a param with shape minigrad.Size([3, 4]) " \
           "from checkpoint, the shape in current model is minigrad.Size([2, 4])." in msg
    for k, v in net.state_dict().items():         # nothing half-loaded
        assert np.array_equal(v.numpy(), before[k]), k


def test_load_state_dict_non_strict_returns_incompatible_keys():
    net, tnet = _small(nn), _small(torch.nn)
    sd = OrderedDict((k, v) for k, v in net.state_dict().items() if k != "2.bias")
    tsd = OrderedDict((k, v) for k, v in tnet.state_dict().items() if k != "2.bias")
    sd["junk"], tsd["junk"] = minigrad.zeros(1), torch.zeros(1)
    result = net.load_state_dict(sd, strict=False)
    expected = tnet.load_state_dict(tsd, strict=False)
    assert result.missing_keys == expected.missing_keys == ["2.bias"]
    assert result.unexpected_keys == expected.unexpected_keys == ["junk"]
    assert repr(net.load_state_dict(net.state_dict())) == "<All keys matched successfully>"


def test_load_state_dict_casts_dtype_and_fills_old_batchnorm_checkpoints():
    bn, tbn = nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    sd = OrderedDict([("weight", minigrad.tensor([2.0, 3.0], dtype=minigrad.float64)),
                      ("bias", minigrad.zeros(2)), ("running_mean", minigrad.ones(2)),
                      ("running_var", minigrad.ones(2))])
    assert not bn.load_state_dict(sd).missing_keys
    assert not tbn.load_state_dict({k: torch.tensor(v.numpy()) for k, v in sd.items()}
                                   ).missing_keys
    assert bn.weight.dtype == minigrad.float32 and bn.weight.tolist() == [2.0, 3.0]
    with pytest.raises(RuntimeError, match="expected minigrad.Tensor or Tensor-like object"):
        bn.load_state_dict({**sd, "weight": [1.0, 2.0]})


# ----------------------------------------------------------------------------------------------
# Default initialisation and nn.init, checked against the distributions' math
# ----------------------------------------------------------------------------------------------
def _values(t):
    return t.detach().numpy().ravel().astype(np.float64)


def test_default_init_bounds_linear_and_conv():
    minigrad.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = _values(lin.weight), _values(lin.bias)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.95 * bound
    conv = nn.Conv2d(8, 500, 3)
    bound = 1 / math.sqrt(8 * 9)
    w = _values(conv.weight)
    assert np.abs(w).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(_values(conv.bias)).max() <= bound
    # transposed: fan_in = weight.size(1) * k = (out_channels / groups) * k, as torch
    tconv = nn.ConvTranspose2d(200, 6, 3, groups=2)
    assert tconv.weight.shape == torch.nn.ConvTranspose2d(200, 6, 3, groups=2).weight.shape
    bound = 1 / math.sqrt(3 * 9)
    assert np.abs(_values(tconv.weight)).max() <= bound
    assert np.abs(_values(tconv.weight)).max() > 0.99 * bound
    assert np.abs(_values(tconv.bias)).max() <= bound


def test_init_is_seeded():
    minigrad.manual_seed(3)
    a = nn.Linear(5, 5).weight.detach().numpy().copy()
    minigrad.manual_seed(3)
    b = nn.Linear(5, 5).weight.detach().numpy()
    assert np.array_equal(a, b)
    g = minigrad.Generator().manual_seed(7)
    t1 = nn.init.normal_(minigrad.empty(10), generator=g).numpy().copy()
    g.manual_seed(7)
    assert np.array_equal(t1, nn.init.normal_(minigrad.empty(10), generator=g).numpy())


def test_init_functions_statistics():
    minigrad.manual_seed(1)
    n = 200_000
    w = minigrad.empty(400, 500)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
    assert (fan_in, fan_out) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(400, 500))
    assert nn.init._calculate_fan_in_and_fan_out(minigrad.empty(6, 3, 5, 5)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(6, 3, 5, 5))
    std = _values(nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")).std()
    assert abs(std - math.sqrt(2 / 400)) < 0.01 * math.sqrt(2 / 400)
    v = _values(nn.init.kaiming_uniform_(w, nonlinearity="relu"))
    bound = math.sqrt(6 / 500)
    assert np.abs(v).max() <= bound and abs(v.std() - bound / math.sqrt(3)) < 0.01 * bound
    v = _values(nn.init.xavier_uniform_(w, gain=2.0))
    a = 2.0 * math.sqrt(6 / 900)
    assert np.abs(v).max() <= a and np.abs(v).max() > 0.99 * a
    v = _values(nn.init.xavier_normal_(w))
    assert abs(v.std() - math.sqrt(2 / 900)) < 0.01 * math.sqrt(2 / 900)
    v = _values(nn.init.normal_(minigrad.empty(n), mean=3.0, std=0.5))
    assert abs(v.mean() - 3.0) < 0.01 and abs(v.std() - 0.5) < 0.01
    v = _values(nn.init.uniform_(minigrad.empty(n), -1.0, 3.0))
    assert v.min() >= -1 and v.max() < 3 and abs(v.mean() - 1.0) < 0.02
    # truncated normal on [-1, 2]: mean and std from the closed form
    v = _values(nn.init.trunc_normal_(minigrad.empty(n), mean=0.0, std=1.0, a=-1.0, b=2.0))
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
    Z = Phi(2) - Phi(-1)
    mean = (phi(-1) - phi(2)) / Z
    var = 1 + (-1 * phi(-1) - 2 * phi(2)) / Z - mean ** 2
    assert v.min() >= -1 and v.max() <= 2
    assert abs(v.mean() - mean) < 0.01 and abs(v.std() - math.sqrt(var)) < 0.01
    assert _values(nn.init.constant_(minigrad.empty(3), 0.25)).tolist() == [0.25] * 3
    assert _values(nn.init.zeros_(minigrad.ones(2))).tolist() == [0, 0]
    assert _values(nn.init.ones_(minigrad.zeros(2))).tolist() == [1, 1]
    assert np.array_equal(nn.init.eye_(minigrad.empty(2, 3)).numpy(), np.eye(2, 3))
    for args in [("linear",), ("relu",), ("tanh",), ("sigmoid",), ("leaky_relu",),
                 ("leaky_relu", 0.2), ("selu",), ("conv2d",)]:
        assert nn.init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args))
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        nn.init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(minigrad.empty(3))
    p = nn.Parameter(minigrad.zeros(3))
    nn.init.ones_(p)                            # works on a leaf that requires grad
    assert p.requires_grad and p.grad_fn is None and p.tolist() == [1, 1, 1]


# ----------------------------------------------------------------------------------------------
# BatchNorm against torch, float64
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,shape,kwargs", [
    ("BatchNorm2d", (4, 3, 5, 6), {}),
    ("BatchNorm2d", (2, 3, 4, 4), {"momentum": None}),
    ("BatchNorm1d", (8, 5), {"affine": False}),
    ("BatchNorm1d", (4, 3, 7), {"momentum": 0.3, "eps": 1e-3}),
    ("BatchNorm2d", (3, 2, 3, 3), {"track_running_stats": False}),
    ("BatchNorm2d", (3, 2, 3, 3), {"bias": False}),
])
def test_batchnorm_matches_torch_train_and_eval(cls, shape, kwargs):
    rng = np.random.default_rng(0)
    ours = getattr(nn, cls)(shape[1], dtype=minigrad.float64, **kwargs)
    theirs = getattr(torch.nn, cls)(shape[1], dtype=torch.float64, **kwargs)
    if ours.weight is not None:
        w = rng.uniform(0.5, 1.5, shape[1])
        ours.weight.data = mg(w)
        theirs.weight.data = th(w)
    if ours.bias is not None:
        b = rng.standard_normal(shape[1])
        ours.bias.data = mg(b)
        theirs.bias.data = th(b)
    for mode in ("train", "train", "eval"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        x = rng.standard_normal(shape) * 2 + 1
        g = rng.standard_normal(shape)
        xm, xt = mg(x, True), th(x, True)
        ym, yt = ours(xm), theirs(xt)
        np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        ym.backward(mg(g))
        yt.backward(th(g))
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
        for name in ("weight", "bias"):
            if getattr(ours, name) is not None:
                np.testing.assert_allclose(getattr(ours, name).grad.numpy(),
                                           getattr(theirs, name).grad.numpy(), rtol=1e-9)
        for (k, v), (tk, tv) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            assert k == tk
            np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-12, err_msg=k)
        ours.zero_grad(), theirs.zero_grad()


def test_functional_batch_norm_and_errors():
    from minigrad.ops.normalization import batch_norm
    batch_norm = getattr(F, "batch_norm", batch_norm)
    x = np.random.default_rng(1).standard_normal((4, 3))
    rm, rv = np.zeros(3), np.ones(3)
    a, b = mg(rm), mg(rv)
    y = batch_norm(mg(x), a, b, training=True, momentum=0.5)
    ta, tb = th(rm), th(rv)
    ty = torch.nn.functional.batch_norm(th(x), ta, tb, training=True, momentum=0.5)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-10)
    np.testing.assert_allclose(a.numpy(), ta.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.numpy(), tb.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(minigrad.ones(1, 3))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        nn.BatchNorm2d(3)(minigrad.ones(2, 3))


# ----------------------------------------------------------------------------------------------
# Layers' forward and backward against torch
# ----------------------------------------------------------------------------------------------
LAYERS = [
    ("Linear(4, 3)", (5, 4)), ("Linear(4, 3, bias=False)", (2, 7, 4)),
    ("ReLU()", (3, 4)), ("LeakyReLU(0.1)", (3, 4)), ("Sigmoid()", (3, 4)), ("Tanh()", (3, 4)),
    ("Softmax(dim=1)", (3, 4)), ("LogSoftmax(dim=0)", (3, 4)), ("ReLU6()", (3, 4)),
    ("SiLU()", (3, 4)), ("Softplus(beta=2.0)", (3, 4)), ("Hardtanh(-0.5, 0.5)", (3, 4)),
    ("Flatten()", (2, 3, 4)), ("Flatten(0, 1)", (2, 3, 4)), ("Unflatten(1, (2, 2))", (3, 4)),
    ("Identity(7, a=1)", (2, 2)), ("Dropout(0.5)", (3, 4)),
]
CONV_LAYERS = [
    ("Conv2d(2, 4, 3)", (2, 2, 7, 6)), ("Conv2d(2, 4, (3, 2), stride=2, padding=1)", (1, 2, 7, 6)),
    ("Conv2d(4, 4, 3, groups=2, bias=False, dilation=2)", (2, 4, 9, 9)),
    ("Conv2d(2, 3, 3, padding='same')", (1, 2, 5, 5)),
    ("Conv2d(2, 3, 3, padding=2, padding_mode='reflect')", (2, 2, 5, 6)),
    ("Conv2d(2, 3, 3, padding=(1, 2), padding_mode='replicate')", (2, 2, 5, 6)),
    ("Conv2d(2, 3, 3, padding=1, padding_mode='circular')", (2, 2, 5, 6)),
    ("Conv2d(2, 3, 4, padding='same', padding_mode='reflect')", (1, 2, 6, 6)),
    ("Conv1d(3, 5, 3, stride=2, padding=1)", (2, 3, 11)),
    ("Conv1d(2, 2, 3, padding=1, padding_mode='circular')", (2, 2, 6)),
    ("ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)", (2, 3, 4, 5)),
    ("ConvTranspose1d(2, 4, 3, stride=2, groups=2)", (2, 2, 5)),
]
POOL_LAYERS = [
    ("MaxPool2d(2)", (2, 3, 6, 6)), ("MaxPool2d(3, stride=2, padding=1)", (1, 2, 7, 7)),
    ("MaxPool1d(2)", (2, 3, 8)), ("AvgPool2d(2)", (2, 3, 6, 6)), ("AvgPool1d(3, 2)", (2, 2, 9)),
    ("AdaptiveAvgPool2d((1, 1))", (2, 3, 5, 5)), ("AdaptiveAvgPool2d(2)", (2, 3, 4, 4)),
    ("AdaptiveAvgPool1d(3)", (2, 2, 6)),
]


def _check_layer(src, shape):
    rng = np.random.default_rng(0)
    ours = eval("nn." + src, {"nn": nn}).double()
    theirs = eval("nn." + src, {"nn": torch.nn}).double()
    copy_weights(theirs, ours)
    x = rng.standard_normal(shape)
    if "Dropout" in src:
        ours.eval(), theirs.eval()
    xm, xt = mg(x, True), th(x, True)
    ym, yt = ours(xm), theirs(xt)
    np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(), rtol=1e-9, atol=1e-12)
    g = rng.standard_normal(tuple(yt.shape))
    ym.backward(mg(g)), yt.backward(th(g))
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (n, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=n)


@pytest.mark.parametrize("src,shape", LAYERS)
def test_layer_matches_torch(src, shape):
    _check_layer(src, shape)


@needs_conv
@pytest.mark.parametrize("src,shape", CONV_LAYERS)
def test_conv_layer_matches_torch(src, shape):
    _check_layer(src, shape)


@needs_pool
@pytest.mark.parametrize("src,shape", POOL_LAYERS)
def test_pool_layer_matches_torch(src, shape):
    _check_layer(src, shape)


@needs_conv
def test_conv_transpose_output_size():
    ours = nn.ConvTranspose2d(2, 2, 3, stride=2)
    theirs = torch.nn.ConvTranspose2d(2, 2, 3, stride=2)
    x = minigrad.randn(1, 2, 4, 4)
    assert ours(x, output_size=[10, 10]).shape == \
        theirs(torch.randn(1, 2, 4, 4), output_size=[10, 10]).shape
    with pytest.raises(ValueError, match="requested an output size of"):
        ours(x, output_size=[20, 20])


def test_constructor_errors_match_torch():
    for src in ["Conv2d(3, 4, 3, groups=2)", "Conv2d(4, 3, 3, groups=2)",
                "Conv2d(2, 2, 3, groups=0)", "Conv2d(2, 2, 3, padding='full')",
                "Conv2d(2, 2, 3, stride=2, padding='same')",
                "Conv2d(2, 2, 3, padding_mode='mirror')",
                "ConvTranspose2d(2, 2, 3, padding_mode='reflect')", "Dropout(1.5)"]:
        with pytest.raises(ValueError) as theirs:
            eval("nn." + src, {"nn": torch.nn})
        with pytest.raises(ValueError) as ours:
            eval("nn." + src, {"nn": nn})
        # torch's words first (up to the set of choices it prints in some messages), then
        # minigrad may add the values it got
        assert str(ours.value).startswith(str(theirs.value).split("{")[0]), src


@pytest.mark.parametrize("src,make_target", [
    ("CrossEntropyLoss()", lambda r: r.integers(0, 4, 6)),
    ("CrossEntropyLoss(weight=W, label_smoothing=0.1, reduction='sum')",
     lambda r: r.integers(0, 4, 6)),
    ("NLLLoss(ignore_index=1)", lambda r: r.integers(0, 4, 6)),
    ("MSELoss()", lambda r: r.standard_normal((6, 4))),
    ("L1Loss(reduction='none')", lambda r: r.standard_normal((6, 4))),
    ("BCEWithLogitsLoss(pos_weight=W)", lambda r: r.uniform(0, 1, (6, 4))),
])
def test_loss_modules_match_torch(src, make_target):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4))
    t = make_target(rng)
    w = rng.uniform(0.5, 2, 4)
    ours = eval("nn." + src, {"nn": nn, "W": mg(w)})
    theirs = eval("nn." + src, {"nn": torch.nn, "W": th(w)})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    xm, xt = mg(x, True), th(x, True)
    lm, lt = ours(xm, mg(t)), theirs(xt, th(t))
    np.testing.assert_allclose(lm.detach().numpy(), lt.detach().numpy(), rtol=1e-9)
    lm.sum().backward(), lt.sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_bce_loss_module_matches_torch():
    rng = np.random.default_rng(3)
    p, y = rng.uniform(0.05, 0.95, (5, 2)), rng.uniform(0, 1, (5, 2))
    ours, theirs = nn.BCELoss(), torch.nn.BCELoss()
    assert ours(mg(p), mg(y)).item() == pytest.approx(theirs(th(p), th(y)).item(), rel=1e-12)


def test_dropout_training_zeroes_and_scales():
    minigrad.manual_seed(0)
    x = minigrad.ones(200, 100)
    y = nn.Dropout(0.25)(x).numpy()
    assert np.allclose(np.unique(y), [0.0, 1 / 0.75])
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert nn.Dropout(0.25).eval()(x) is x


@needs_conv
@needs_pool
def test_small_cnn_loss_falls_on_a_fixed_batch():
    minigrad.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(16, 3))
    x = minigrad.randn(12, 1, 8, 8)
    y = minigrad.randint(0, 3, (12,))
    optimizer = minigrad.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    model.eval()
    assert model(x).shape == (12, 3)
