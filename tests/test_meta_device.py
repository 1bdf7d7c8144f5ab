"""The ``meta`` device side by side with PyTorch's: tensors with a shape and a dtype but no data.

Building a model on it (``with torch.device('meta')``), moving it to real storage
(``to_empty``) and loading weights (``load_state_dict(assign=True)``) or initialising them;
factories, devices, printing, shape and dtype propagation through ops without allocating,
and PyTorch's refusals of every read of the (absent) values.
"""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import outcome  # noqa: E402


def _same_meta(t, m):
    """t (torch) and m (minigrad) agree: shape, dtype, device; m holds no data."""
    assert tuple(m.shape) == tuple(t.shape)
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert str(m.device) == str(t.device) == "meta"
    assert m._array.size <= 1 or not any(m._array.strides), "a meta array of one element"


# -- devices ------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["meta", "meta:0"])
def test_device_object(spec):
    t, m = torch.device(spec), minigrad.device(spec)
    assert (str(m), repr(m), m.type, m.index) == (str(t), repr(t), t.type, t.index)
    assert (m == "meta") == (t == torch.device("meta"))
    assert m != minigrad.device("cpu")


def test_unknown_device_names_meta_among_known():
    _, words = outcome(lambda: minigrad.device("gpu"))
    _, torch_words = outcome(lambda: torch.device("gpu"))
    assert "meta" in words and "meta" in torch_words
    assert words.endswith("device type at start of device string: gpu")


# -- factories ----------------------------------------------------------------------------------
FACTORIES = {
    "empty": lambda L: L.empty(3, 4, device="meta"),
    "empty_int": lambda L: L.empty(3, 4, device="meta", dtype=L.int64),
    "zeros": lambda L: L.zeros(2, 3, device="meta", dtype=L.int32),
    "ones": lambda L: L.ones(5, device="meta", dtype=L.float16),
    "full": lambda L: L.full((2, 3), 7, device="meta"),
    "scalar": lambda L: L.empty((), device="meta"),
    "zero_size": lambda L: L.empty(0, 3, device="meta"),
    "rand": lambda L: L.rand(2, 3, device="meta"),
    "randn": lambda L: L.randn(2, 3, device="meta", dtype=L.float64),
    "randint": lambda L: L.randint(0, 5, (2, 3), device="meta"),
    "randperm": lambda L: L.randperm(6, device="meta"),
    "arange": lambda L: L.arange(5, device="meta"),
    "eye": lambda L: L.eye(3, device="meta"),
    "tensor": lambda L: L.tensor([1, 2], device="meta"),
    "cpu_to_meta": lambda L: L.ones(2, 3).to("meta"),
    "zeros_like": lambda L: L.zeros_like(L.empty(5, 1, device="meta")),
    "full_like": lambda L: L.full_like(L.empty(5, 1, device="meta"), 3),
    "randn_like": lambda L: L.randn_like(L.empty(5, 1, device="meta")),
    "empty_like_to_meta": lambda L: L.empty_like(L.ones(2, 2), device="meta"),
    "new_zeros": lambda L: L.empty(2, device="meta").new_zeros(3, 4),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories(name):
    _same_meta(FACTORIES[name](torch), FACTORIES[name](minigrad))


def test_huge_meta_tensors_take_no_memory():
    # 4 TiB and more: only a meta tensor of this size can exist
    t = torch.empty(1 << 20, 1 << 20, device="meta")
    m = minigrad.empty(1 << 20, 1 << 20, device="meta")
    _same_meta(t, m)
    w_t, w_m = torch.empty(1 << 20, 7, device="meta"), minigrad.empty(1 << 20, 7, device="meta")
    _same_meta(t @ w_t, m @ w_m)
    _same_meta((t + 1).sum(0), (m + 1).sum(0))
    with minigrad.device("meta"):
        layer = minigrad.nn.Linear(1 << 16, 1 << 16)       # 16 GiB of weights, not allocated
    assert layer.weight.device == minigrad.device("meta")


def test_random_factories_on_meta_draw_nothing():
    for L in (torch, minigrad):
        L.manual_seed(3)
        L.randn(100, device="meta"), L.rand(4, 4, device="meta")
        L.randint(0, 9, (10,), device="meta"), L.randperm(8, device="meta")
        after = L.randn(3).numpy()
        L.manual_seed(3)
        np.testing.assert_array_equal(after, L.randn(3).numpy())


# -- printing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda L: L.empty(3, 4, device="meta"),
    lambda L: L.empty(3, 4, device="meta", dtype=L.int64),
    lambda L: L.empty(3, device="meta", dtype=L.bool),
    lambda L: L.empty((), device="meta"),
    lambda L: L.empty(0, device="meta", dtype=L.float16),
    lambda L: L.empty(3, device="meta", requires_grad=True),
    lambda L: L.empty(3, device="meta", requires_grad=True) * 2,
    lambda L: L.nn.Parameter(L.empty(8, 3, 3, 3, device="meta")),
])
def test_repr(make):
    assert repr(make(minigrad)).replace("minigrad.", "torch.") == repr(make(torch))


# -- reading values: refused as PyTorch refuses -------------------------------------------------
@pytest.mark.parametrize("read", [
    lambda t: t.sum().item(),
    lambda t: t.tolist(),
    lambda t: t.numpy(),
    lambda t: float(t[0, 0]),
    lambda t: int(t[0, 0]),
    lambda t: bool(t[0, 0]),
    lambda t: t.cpu(),
    lambda t: t.to("cpu"),
])
def test_value_reads_refused(read):
    t = outcome(lambda: read(torch.empty(3, 4, device="meta")))
    m = outcome(lambda: read(minigrad.empty(3, 4, device="meta")))
    assert t[0] != "ok" and m == t


def test_data_ptr_is_zero():
    assert minigrad.empty(3, device="meta").data_ptr() == \
        torch.empty(3, device="meta").data_ptr() == 0


# -- ops: shapes and dtypes, nothing computed ---------------------------------------------------
def _e(L, *shape, dtype=None, grad=False):
    return L.empty(*shape, device="meta", dtype=dtype, requires_grad=grad)


OPS = {
    "add_broadcast": lambda L, F: _e(L, 3, 4) + _e(L, 4),
    "mul_number": lambda L, F: _e(L, 3, 4, dtype=L.int32) * 1.5,
    "true_divide_int": lambda L, F: _e(L, 3, 4, dtype=L.int64) / 2,
    "pow": lambda L, F: _e(L, 2, 6) ** 2,
    "compare": lambda L, F: _e(L, 2, 6) == _e(L, 2, 6),
    "sum_dim": lambda L, F: _e(L, 3, 4).sum(1),
    "sum_all": lambda L, F: _e(L, 3, 4).sum(),
    "mean_keepdim": lambda L, F: _e(L, 3, 4).mean(0, keepdim=True),
    "max_indices": lambda L, F: _e(L, 3, 4).max(1)[1],
    "argmax": lambda L, F: _e(L, 5, 6).argmax(),
    "var": lambda L, F: _e(L, 3, 4).var(1),
    "any": lambda L, F: (_e(L, 2, 6) > 0).any(1),
    "cumsum": lambda L, F: _e(L, 5, 6).cumsum(1),
    "matmul_batched": lambda L, F: _e(L, 2, 3, 4) @ _e(L, 4, 5),
    "matvec": lambda L, F: _e(L, 3, 4) @ _e(L, 4),
    "half_matmul": lambda L, F: _e(L, 5, 6, dtype=L.float16) @ _e(L, 6, 2, dtype=L.float16),
    "bmm": lambda L, F: L.bmm(_e(L, 2, 3, 4), _e(L, 2, 4, 5)),
    "einsum": lambda L, F: L.einsum("bij,bjk->bik", _e(L, 2, 3, 4), _e(L, 2, 4, 5)),
    "linear": lambda L, F: F.linear(_e(L, 2, 7), _e(L, 5, 7), _e(L, 5)),
    "conv1d": lambda L, F: F.conv1d(_e(L, 2, 3, 10), _e(L, 4, 3, 3), padding=1),
    "conv2d": lambda L, F: F.conv2d(_e(L, 2, 3, 8, 8), _e(L, 4, 3, 3, 3), stride=2),
    "conv2d_groups": lambda L, F: F.conv2d(_e(L, 2, 4, 8, 8), _e(L, 4, 1, 3, 3), groups=4,
                                           dilation=2),
    "conv3d": lambda L, F: F.conv3d(_e(L, 1, 2, 5, 5, 5), _e(L, 3, 2, 2, 2, 2)),
    "conv_transpose2d": lambda L, F: F.conv_transpose2d(_e(L, 2, 3, 5, 5), _e(L, 3, 4, 3, 3),
                                                        stride=2),
    "max_pool2d": lambda L, F: F.max_pool2d(_e(L, 2, 3, 8, 8), 2),
    "avg_pool2d": lambda L, F: F.avg_pool2d(_e(L, 2, 3, 8, 8), 3, stride=2),
    "adaptive_avg_pool2d": lambda L, F: F.adaptive_avg_pool2d(_e(L, 2, 3, 8, 8), 1),
    "batch_norm": lambda L, F: F.batch_norm(_e(L, 2, 3, 4, 4), _e(L, 3), _e(L, 3),
                                            training=True),
    "layer_norm": lambda L, F: F.layer_norm(_e(L, 2, 3, 4), (4,)),
    "group_norm": lambda L, F: F.group_norm(_e(L, 2, 4, 5), 2),
    "softmax": lambda L, F: F.softmax(_e(L, 2, 5), dim=1),
    "log_softmax": lambda L, F: F.log_softmax(_e(L, 2, 5), dim=1),
    "cross_entropy": lambda L, F: F.cross_entropy(_e(L, 4, 5), _e(L, 4, dtype=L.int64)),
    "mse_loss": lambda L, F: F.mse_loss(_e(L, 4, 5), _e(L, 4, 5)),
    "embedding": lambda L, F: F.embedding(_e(L, 2, 3, dtype=L.int64), _e(L, 10, 4)),
    "dropout": lambda L, F: F.dropout(_e(L, 2, 3), 0.5, training=True),
    "gelu": lambda L, F: F.gelu(_e(L, 2, 3)),
    "cat": lambda L, F: L.cat([_e(L, 2, 3), _e(L, 4, 3)]),
    "stack": lambda L, F: L.stack([_e(L, 2, 3), _e(L, 2, 3)], 1),
    "permute_reshape": lambda L, F: _e(L, 2, 3, 4).permute(2, 0, 1).reshape(4, 6),
    "view": lambda L, F: _e(L, 2, 3, 4).view(-1),
    "expand": lambda L, F: _e(L, 5, 1).expand(5, 4),
    "index_slices": lambda L, F: _e(L, 5, 3)[1:4, ::2],
    "index_tensor": lambda L, F: _e(L, 5, 3)[_e(L, 4, dtype=L.int64)],
    "gather": lambda L, F: L.gather(_e(L, 5, 3), 1, _e(L, 5, 2, dtype=L.int64)),
    "scatter": lambda L, F: _e(L, 5, 3).scatter(0, _e(L, 2, 3, dtype=L.int64), _e(L, 2, 3)),
    "where": lambda L, F: L.where(_e(L, 5, 3, dtype=L.bool), _e(L, 5, 3), 0.0),
    "masked_fill": lambda L, F: _e(L, 5, 3).masked_fill(_e(L, 5, 3, dtype=L.bool), 1.0),
    "topk": lambda L, F: _e(L, 5, 6).topk(2, dim=1)[0],
    "sort_indices": lambda L, F: _e(L, 5, 6).sort(1)[1],
    "pad": lambda L, F: F.pad(_e(L, 2, 3, 4), (1, 2)),
    "interpolate": lambda L, F: F.interpolate(_e(L, 1, 2, 4, 4), scale_factor=2),
    "unfold": lambda L, F: F.unfold(_e(L, 1, 2, 5, 5), 3),
    "sdpa_causal": lambda L, F: F.scaled_dot_product_attention(
        _e(L, 2, 4, 5, 8), _e(L, 2, 4, 5, 8), _e(L, 2, 4, 5, 8), is_causal=True),
    "to_half": lambda L, F: _e(L, 5, 6).to(L.float16),
    "clone": lambda L, F: _e(L, 5, 6).clone(),
    "contiguous": lambda L, F: _e(L, 5, 6).t().contiguous(),
    "split": lambda L, F: _e(L, 2, 6).split([1, 5], 1)[1],
    "lstm": lambda L, F: L.nn.LSTM(4, 6, device="meta")(_e(L, 3, 2, 4))[0],
    "transformer_layer": lambda L, F: L.nn.TransformerEncoderLayer(8, 2, 16, device="meta")(
        _e(L, 3, 2, 8)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_ops_give_meta_results(name):
    f = OPS[name]
    _same_meta(f(torch, torch.nn.functional), f(minigrad, minigrad.nn.functional))


def test_backward_gives_meta_gradients():
    grads = []
    for L in (torch, minigrad):
        w = L.empty(4, 5, device="meta", requires_grad=True)
        x = L.empty(3, 4, device="meta", requires_grad=True)
        (x @ w).relu().sum().backward()
        grads.append((w.grad, x.grad))
    for t, m in zip(*grads):
        _same_meta(t, m)


def test_shape_errors_still_raised():
    for L in (torch, minigrad):
        with pytest.raises(RuntimeError):
            L.empty(3, 4, device="meta") @ L.empty(5, 6, device="meta")
        with pytest.raises(RuntimeError):
            L.empty(3, 4, device="meta") + L.empty(5, device="meta")


# -- the default device -------------------------------------------------------------------------
def test_device_context_sets_the_default():
    for L in (torch, minigrad):
        with L.device("meta"):
            made = [L.empty(2), L.zeros(2), L.randn(2), L.arange(3), L.tensor([1.0]),
                    L.nn.Linear(2, 3).weight]
            assert str(L.get_default_device()) == "meta"
        assert all(str(t.device) == "meta" for t in made)
        assert str(L.get_default_device()) == "cpu" and L.empty(2).device.type == "cpu"


def test_set_default_device_meta():
    try:
        minigrad.set_default_device("meta")
        assert minigrad.ones(2).device.type == "meta"
        assert minigrad.get_default_device() == minigrad.device("meta")
    finally:
        minigrad.set_default_device("cpu")
    assert minigrad.ones(2).device.type == "cpu"


def test_module_device_argument():
    t, m = torch.nn.Conv2d(3, 8, 3, device="meta"), minigrad.nn.Conv2d(3, 8, 3, device="meta")
    _same_meta(t.weight, m.weight)
    assert type(m.weight) is minigrad.nn.Parameter and m.weight.requires_grad


# -- materialising a meta model -----------------------------------------------------------------
def _net(L):
    nn = L.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.emb = nn.Embedding(10, 4, padding_idx=0)
            self.fc = nn.Linear(8 * 4 * 4 + 4, 5)
            self.ln = nn.LayerNorm(5)

        def forward(self, x, ids):
            h = L.nn.functional.max_pool2d(self.bn(self.conv(x)).relu(), 2).flatten(1)
            return self.ln(self.fc(L.cat([h, self.emb(ids).mean(1)], 1)))

    return Net


def test_meta_model_to_empty_load_state_dict_assign():
    torch.manual_seed(0)
    tnet = _net(torch)()
    with torch.no_grad():
        tnet.bn.running_mean.uniform_(-1, 1)
        tnet.bn.running_var.uniform_(0.5, 2)
    tnet.eval()
    with minigrad.device("meta"):
        mnet = _net(minigrad)()
    assert all(v.device.type == "meta" for v in mnet.state_dict().values())
    out = mnet(minigrad.empty(2, 3, 8, 8, device="meta"),
               minigrad.empty(2, 3, dtype=minigrad.int64, device="meta"))
    assert out.device.type == "meta" and tuple(out.shape) == (2, 5)

    weights = {id(p) for p in mnet.parameters()}
    assert mnet.to_empty(device="cpu") is mnet
    assert {id(p) for p in mnet.parameters()} == weights        # the same Parameter objects
    assert all(v.device.type == "cpu" for v in mnet.state_dict().values())
    sd = {k: minigrad.tensor(v.numpy()) for k, v in tnet.state_dict().items()}
    result = mnet.load_state_dict(sd, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert isinstance(mnet.conv.weight, minigrad.nn.Parameter)
    mnet.eval()

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    ids = rng.integers(0, 10, (2, 3))
    want = tnet(torch.tensor(x), torch.tensor(ids)).detach().numpy()
    got = mnet(minigrad.tensor(x), minigrad.tensor(ids)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_meta_model_reset_parameters_matches_torch():
    made = []
    for L in (torch, minigrad):
        L.manual_seed(7)
        with L.device("meta"):
            layers = [L.nn.Linear(6, 4), L.nn.Conv2d(2, 3, 3), L.nn.Embedding(5, 3)]
        for layer in layers:
            layer.to_empty(device="cpu")
        L.manual_seed(1)            # the build on the meta device drew nothing
        for layer in layers:
            layer.reset_parameters()
        made.append([p.detach().numpy() for layer in layers for p in layer.parameters()])
    for t, m in zip(*made):
        np.testing.assert_allclose(m, t, rtol=1e-6, atol=1e-7)


def test_meta_build_draws_no_random_numbers():
    for L in (torch, minigrad):
        L.manual_seed(0)
        with L.device("meta"):
            L.nn.Linear(4, 3), L.nn.Conv2d(3, 4, 3), L.nn.Embedding(9, 2)
            L.nn.init.trunc_normal_(L.empty(5, 5))
            L.nn.init.orthogonal_(L.empty(5, 5))
            L.nn.init.xavier_normal_(L.empty(5, 5))
        after = L.randn(4).numpy()
        L.manual_seed(0)
        np.testing.assert_array_equal(after, L.randn(4).numpy())


@pytest.mark.parametrize("init", ["uniform_", "normal_", "trunc_normal_", "xavier_uniform_",
                                  "kaiming_normal_", "orthogonal_", "zeros_", "ones_", "eye_"])
def test_init_on_meta_is_a_no_op(init):
    t = getattr(torch.nn.init, init)(torch.empty(4, 6, device="meta"))
    m_in = minigrad.empty(4, 6, device="meta")
    m = getattr(minigrad.nn.init, init)(m_in)
    assert m is m_in
    _same_meta(t, m)


def test_to_empty_onto_meta_and_back():
    for L in (torch, minigrad):
        lin = L.nn.Linear(3, 2)
        lin.to_empty(device="meta")
        assert lin.weight.device.type == "meta" and isinstance(lin.weight, L.nn.Parameter)
        lin.to_empty(device="cpu")
        assert lin.weight.device.type == "cpu" and tuple(lin.weight.shape) == (2, 3)


# -- what needs the lead's diffs ----------------------------------------------------------------
def test_is_meta_property():
    assert minigrad.empty(2, device="meta").is_meta == torch.empty(2, device="meta").is_meta
    assert minigrad.empty(2).is_meta == torch.empty(2).is_meta


def test_mixing_with_cpu_tensors():
    for L in (torch, minigrad):     # a CPU 0-d tensor goes with a meta one (a number)
        assert (L.empty(3, device="meta") + L.tensor(2.0)).device.type == "meta"
    for a, b in (("meta", "cpu"), ("cpu", "meta")):
        t = outcome(lambda: torch.empty(3, device=a) + torch.empty(3, device=b))
        m = outcome(lambda: minigrad.empty(3, device=a) + minigrad.empty(3, device=b))
        assert t[0] == "RuntimeError" and m == t


def test_in_place_ops_on_meta():
    for name, f in {
        "chain": lambda L: L.empty(3, 4, device="meta").mul_(2).add_(
            L.empty(4, device="meta")).clamp_(0, 1),
        "index_put_": lambda L: L.empty(5, 3, device="meta").index_put_(
            (L.empty(2, dtype=L.int64, device="meta"),), L.empty(3, device="meta")),
    }.items():
        _same_meta(f(torch), f(minigrad))


def test_strides_are_contiguous():
    assert minigrad.empty(3, 4, device="meta").stride() == \
        torch.empty(3, 4, device="meta").stride()


def test_copying_a_checkpoint_into_meta_parameters_warns_as_torch():
    caught = []
    for L in (torch, minigrad):
        source = L.nn.Sequential(L.nn.Linear(2, 3))
        with L.device("meta"):
            target = L.nn.Sequential(L.nn.Linear(2, 3))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            target.load_state_dict(source.state_dict())
        caught.append([str(x.message) for x in w])
        assert target[0].weight.is_meta if L is torch else target[0].weight.device.type == "meta"
    assert caught[0] == caught[1] and len(caught[0]) == 2


def test_skip_init_draws_nothing_and_allocates_on_the_target():
    states = []
    for L in (torch, minigrad):
        L.manual_seed(5)
        layer = L.nn.utils.skip_init(L.nn.Linear, 4, 3)
        states.append((L.rand(3).tolist(), layer.weight.device.type, tuple(layer.weight.shape)))
    assert states[0] == states[1]


def test_random_fills_on_meta_draw_nothing():
    drawn = []
    for L in (torch, minigrad):
        L.manual_seed(0)
        t = L.empty(3, 4, device="meta")
        t.normal_().uniform_().exponential_().geometric_(0.5).log_normal_().cauchy_()
        t.random_().bernoulli_()
        drawn.append(L.rand(3).tolist())
    assert drawn[0] == drawn[1]


def test_cpu_convolutions_after_a_meta_forward_match_torch():
    """Ops on meta arrays must leave nothing behind for CPU calls: the convolutions' cached
    scratch buffers (keyed by array module) once handed a meta buffer to the next CPU conv,
    whose results then came out as meta arrays."""
    with minigrad.device("meta"):
        net = minigrad.nn.Conv2d(8, 16, 3, padding=1)
    net(minigrad.empty(4, 8, 64, 64, device="meta")).sum().backward()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 8, 64, 64), dtype=np.float32)      # (the meta run's dtype)
    w = rng.standard_normal((16, 8, 3, 3), dtype=np.float32)
    outs = []
    for L in (torch, minigrad):
        xt, wt = L.tensor(x, requires_grad=True), L.tensor(w, requires_grad=True)
        y = L.nn.functional.conv2d(xt, wt, padding=1)
        y.square().sum().backward()
        outs.append([np.asarray(t.detach().tolist()) for t in (y, xt.grad, wt.grad)])
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-3)
