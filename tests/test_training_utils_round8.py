"""Round 8, part B, against torch: optim.lr_scheduler.CyclicLR, nn.utils fusion of
BatchNorm into conv/linear layers, skip_init, convert_conv{2,3}d_weight_memory_format and
nn.utils.prune."""
import math
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import neutral, outcome  # noqa: E402
import torch.nn.utils.prune  # noqa: E402,F401  (torch does not import it by itself)

LIBS = (torch, minigrad)


def _np(t):
    return t.detach().numpy()


# ----------------------------------------------------------------------------- CyclicLR
def _cyclic_run(lib, optimizer, kwargs, steps):
    p = [lib.nn.Parameter(lib.zeros(2))]
    q = [lib.nn.Parameter(lib.zeros(2))]
    if optimizer == "sgd":
        opt = lib.optim.SGD([{"params": p}, {"params": q, "lr": 0.5}], lr=0.1, momentum=0.9)
    else:
        opt = lib.optim.Adam([{"params": p}, {"params": q}], lr=0.1)
    sched = lib.optim.lr_scheduler.CyclicLR(opt, **kwargs)
    trace = []
    for _ in range(steps):
        opt.step()
        sched.step()
        for g in opt.param_groups:
            trace += [g["lr"], g["momentum"] if optimizer == "sgd" else g["betas"][0]]
    return np.array(trace), sched, opt


def _bumpy(x):
    return 0.5 * (1 + math.sin(x))


CYCLIC_CASES = [
    dict(base_lr=0.01, max_lr=0.1, step_size_up=7),
    dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=5, step_size_down=11,
         mode="triangular2"),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range", gamma=0.99),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=_bumpy, scale_mode="iterations",
         base_momentum=0.5, max_momentum=[0.95, 0.9]),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=_bumpy),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=3, cycle_momentum=False),
]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("kwargs", CYCLIC_CASES)
def test_cyclic_lr_matches_torch_over_many_steps(kwargs, optimizer):
    theirs, t_sched, t_opt = _cyclic_run(torch, optimizer, kwargs, 250)
    ours, m_sched, m_opt = _cyclic_run(minigrad, optimizer, kwargs, 250)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert m_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), abs=1e-12)
    t_state = t_sched.state_dict()
    m_state = m_sched.state_dict()
    assert set(m_state) == set(t_state)
    for key in ("total_size", "step_ratio", "mode", "scale_mode", "base_lrs", "max_lrs",
                "last_epoch", "_scale_fn_custom"):
        assert m_state[key] == t_state[key], key
    for key in ("max_momentum", "base_momentum", "initial_lr"):
        assert [g.get(key) for g in m_opt.param_groups] == \
            [g.get(key) for g in t_opt.param_groups]


def test_cyclic_lr_state_dict_round_trip_resumes_the_cycle():
    kwargs = dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="triangular2")
    traces = []
    for lib in LIBS:
        _, sched, opt = _cyclic_run(lib, "sgd", kwargs, 13)
        fresh_opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(2)) for _ in range(2)], lr=1.0,
                                  momentum=0.9)
        fresh_opt.param_groups = [fresh_opt.param_groups[0],
                                  dict(fresh_opt.param_groups[0], params=[])]
        resumed = lib.optim.lr_scheduler.CyclicLR(fresh_opt, **kwargs)
        resumed.load_state_dict(sched.state_dict())
        lrs = []
        for _ in range(12):
            resumed.step()
            lrs.append(resumed.get_last_lr()[0])
        traces.append(lrs)
    np.testing.assert_allclose(traces[1], traces[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", [
    lambda lib, o: lib.optim.lr_scheduler.CyclicLR(o, [0.1, 0.2], 1.0),
    lambda lib, o: lib.optim.lr_scheduler.CyclicLR(o, 0.1, [1.0, 2.0]),
    lambda lib, o: lib.optim.lr_scheduler.CyclicLR(o, 0.1, 1.0, mode="sawtooth"),
    lambda lib, o: lib.optim.lr_scheduler.CyclicLR(
        lib.optim.Adagrad(o.param_groups[0]["params"]), 0.1, 1.0),
    lambda lib, o: lib.optim.lr_scheduler.CyclicLR("sgd", 0.1, 1.0),
])
def test_cyclic_lr_errors_match_torch(make):
    results = []
    for lib in LIBS:
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(2))], lr=0.1, momentum=0.9)
        results.append(outcome(lambda: make(lib, opt), text=neutral)[0:2])
    assert results[0][0] != "ok"
    assert results[1] == results[0]


# ----------------------------------------------------------------------------- fusion
def _copy_state(src, dst):
    dst.load_state_dict({k: minigrad.tensor(v.detach().numpy()) for k, v in
                         src.state_dict().items()})


def _trained_bn(bn_cls, channels, x, layer):
    bn = bn_cls(channels).double()
    for _ in range(3):
        bn(layer(x))
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.normal_()
    return bn


@pytest.mark.parametrize("conv_name,bn_name,in_shape,transpose,bias", [
    ("Conv2d", "BatchNorm2d", (5, 3, 6, 6), False, True),
    ("ConvTranspose2d", "BatchNorm2d", (5, 3, 6, 6), True, False),
    ("Conv1d", "BatchNorm1d", (5, 3, 7), False, True),
    ("Conv3d", "BatchNorm3d", (2, 3, 4, 4, 4), False, False),
])
def test_fuse_conv_bn_eval_matches_torch(conv_name, bn_name, in_shape, transpose, bias):
    torch.manual_seed(0)
    t_conv = getattr(torch.nn, conv_name)(3, 4, 3, bias=bias).double()
    x = torch.randn(*in_shape, dtype=torch.float64)
    t_bn = _trained_bn(getattr(torch.nn, bn_name), 4, x, t_conv).double()
    t_conv.eval()
    t_bn.eval()
    m_conv = getattr(minigrad.nn, conv_name)(3, 4, 3, bias=bias).double()
    m_bn = getattr(minigrad.nn, bn_name)(4).double()
    _copy_state(t_conv, m_conv)
    _copy_state(t_bn, m_bn)
    m_conv.eval()
    m_bn.eval()
    t_fused = torch.nn.utils.fuse_conv_bn_eval(t_conv, t_bn, transpose=transpose)
    m_fused = minigrad.nn.utils.fuse_conv_bn_eval(m_conv, m_bn, transpose=transpose)
    assert m_fused is not m_conv and isinstance(m_fused, type(m_conv))
    assert m_conv.bias is None if not bias else True   # the original is untouched
    for name in ("weight", "bias"):
        theirs, ours = getattr(t_fused, name), getattr(m_fused, name)
        assert isinstance(ours, minigrad.nn.Parameter)
        assert ours.requires_grad == theirs.requires_grad
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-13, atol=1e-13)
    # the fused layer alone reproduces conv followed by bn
    y = m_fused(minigrad.tensor(x.numpy()))
    np.testing.assert_allclose(_np(y), _np(t_bn(t_conv(x))), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bn_features", [4, 1])
def test_fuse_linear_bn_eval_matches_torch(bn_features):
    torch.manual_seed(1)
    t_lin = torch.nn.Linear(5, 4).double()
    x = torch.randn(8, 5, dtype=torch.float64)
    t_bn = torch.nn.BatchNorm1d(bn_features).double()
    with torch.no_grad():
        t_bn.running_mean.normal_()
        t_bn.running_var.uniform_(0.5, 2)
        t_bn.weight.uniform_(0.5, 2)
        t_bn.bias.normal_()
    t_lin.eval()
    t_bn.eval()
    m_lin, m_bn = minigrad.nn.Linear(5, 4).double(), minigrad.nn.BatchNorm1d(bn_features).double()
    _copy_state(t_lin, m_lin)
    _copy_state(t_bn, m_bn)
    m_lin.eval()
    m_bn.eval()
    t_fused = torch.nn.utils.fuse_linear_bn_eval(t_lin, t_bn)
    m_fused = minigrad.nn.utils.fuse_linear_bn_eval(m_lin, m_bn)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(_np(getattr(m_fused, name)), _np(getattr(t_fused, name)),
                                   rtol=1e-13, atol=1e-13)


def test_fuse_weights_functions_and_missing_parts_match_torch():
    rng = np.random.default_rng(2)
    w, rm = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(4)
    rv, bw = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    res = []
    for lib in LIBS:
        T = lambda a: lib.tensor(a, dtype=lib.float64)  # noqa: E731
        fw, fb = lib.nn.utils.fuse_conv_bn_weights(T(w), None, T(rm), T(rv), 1e-3, None, None)
        lw, lb = lib.nn.utils.fuse_linear_bn_weights(T(w[:, :, 0, 0]), None, T(rm), T(rv),
                                                      1e-5, T(bw), T(rm))
        res.append([_np(t) for t in (fw, fb, lw, lb)] + [type(fw).__name__, fb.requires_grad])
    for ours, theirs in zip(res[1][:4], res[0][:4]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-13)
    assert res[1][4:] == res[0][4:]


@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(5, 4).eval(),
                                                 lib.nn.BatchNorm1d(3).eval()),
    lambda lib: lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(5, 4), lib.nn.BatchNorm1d(4).eval()),
    lambda lib: lib.nn.utils.fuse_conv_bn_eval(lib.nn.Conv2d(2, 4, 1).eval(), lib.nn.BatchNorm2d(4)),
    lambda lib: lib.nn.utils.fuse_conv_bn_eval(
        lib.nn.Conv2d(2, 4, 1).eval(), lib.nn.BatchNorm2d(4, track_running_stats=False).eval()),
])
def test_fusion_errors_match_torch(make):
    theirs, ours = (outcome(lambda: make(lib), text=neutral) for lib in LIBS)
    assert theirs[0] == "AssertionError" and ours == theirs


# ----------------------------------------------------------------------------- skip_init
def test_skip_init_builds_the_module_and_refuses_like_torch():
    for lib in LIBS:
        m = lib.nn.utils.skip_init(lib.nn.Linear, 6, out_features=2, bias=False)
        assert type(m) is lib.nn.Linear and tuple(m.weight.shape) == (2, 6)
        assert m.bias is None and m.weight.requires_grad
        m = lib.nn.utils.skip_init(lib.nn.Conv2d, 2, 3, 3, dtype=lib.float64)
        assert m.weight.dtype == lib.float64 and tuple(m.bias.shape) == (3,)
    for bad in ("int", "ReLU"):
        theirs, ours = (outcome(lambda: lib.nn.utils.skip_init(
            int if bad == "int" else lib.nn.ReLU), text=neutral) for lib in LIBS)
        assert theirs[0] == "RuntimeError" and ours == theirs


# ----------------------------------------------------------------------------- memory format
def test_convert_conv_weight_memory_format_matches_torch():
    strides = []
    for lib in LIBS:
        net = lib.nn.Sequential(lib.nn.Conv2d(2, 3, 3),
                                lib.nn.Sequential(lib.nn.ConvTranspose2d(3, 2, 2)),
                                lib.nn.Conv3d(2, 2, 2), lib.nn.Linear(2, 2))
        before = _np(net[0].weight).copy()
        w = net[0].weight
        out = lib.nn.utils.convert_conv2d_weight_memory_format(net, lib.channels_last)
        assert out is net and net[0].weight is w
        np.testing.assert_array_equal(_np(net[0].weight), before)
        row = [net[0].weight.stride(), net[1][0].weight.stride(), net[2].weight.stride()]
        lib.nn.utils.convert_conv3d_weight_memory_format(net, lib.channels_last_3d)
        row += [net[2].weight.stride(), net[0].weight.stride()]
        lib.nn.utils.convert_conv2d_weight_memory_format(net, lib.contiguous_format)
        row += [net[0].weight.stride(), net[3].weight.stride()]
        strides.append([tuple(s) for s in row])
    assert strides[1] == strides[0]


# ----------------------------------------------------------------------------- prune
_RNG = np.random.default_rng(0)
_W = ((_RNG.permutation(60) + 0.5) * _RNG.choice([-1, 1], 60)).reshape(5, 12).astype(np.float32)
_B = _RNG.standard_normal(5).astype(np.float32)   # distinct |values|: no ties to break
_X = np.random.default_rng(1).standard_normal((3, 12)).astype(np.float32)


def _linear(lib, scale=1.0):
    layer = lib.nn.Linear(12, 5)
    with lib.no_grad():
        layer.weight.copy_(lib.tensor(_W * scale))
        layer.bias.copy_(lib.tensor(_B))
    return layer


def _prune_scenario(lib):
    """Values and layouts a sequence of pruning calls produces."""
    P = lib.nn.utils.prune
    out = {}
    layer = _linear(lib)
    P.l1_unstructured(layer, "weight", amount=0.3)
    out["keys1"] = list(layer.state_dict().keys())
    out["params1"] = [n for n, _ in layer.named_parameters()]
    out["buffers1"] = [n for n, _ in layer.named_buffers()]
    out["pruned1"] = P.is_pruned(layer)
    out["w1"] = _np(layer.weight)
    P.ln_structured(layer, "weight", amount=2, n=2, dim=0)
    P.l1_unstructured(layer, "weight", amount=5)
    hooks = list(layer._forward_pre_hooks.values())
    out["container"] = (type(hooks[0]).__name__, len(hooks[0]), len(hooks))
    out["mask3"] = _np(layer.weight_mask)
    with lib.no_grad():
        layer.weight_orig.mul_(2)    # the pre-hook recomputes weight before forward
    y = layer(lib.tensor(_X))
    out["y"] = _np(y)
    y.sum().backward()
    out["grad"] = _np(layer.weight_orig.grad)
    P.remove(layer, "weight")
    out["keys_removed"] = list(layer.state_dict().keys())
    out["removed"] = (type(layer.weight).__name__, P.is_pruned(layer), len(layer._forward_pre_hooks))
    out["w_removed"] = _np(layer.weight)
    layer = _linear(lib)
    P.ln_structured(layer, "weight", amount=0.5, n=float("inf"), dim=1)
    out["ln_inf"] = _np(layer.weight_mask)
    layer = _linear(lib)
    P.ln_structured(layer, "weight", amount=0.4, n=1, dim=-1,
                    importance_scores=lib.tensor(_W[::-1].copy()))
    out["ln_scores"] = _np(layer.weight_mask)
    a, b = _linear(lib), _linear(lib, 1.013)
    P.l1_unstructured(a, "bias", amount=2)
    P.global_unstructured([(a, "weight"), (b, "weight"), (a, "bias")],
                          pruning_method=P.L1Unstructured, amount=0.4)
    out["global"] = [_np(a.weight_mask), _np(b.weight_mask), _np(a.bias_mask)]
    layer = _linear(lib)
    P.custom_from_mask(layer, "bias", mask=lib.tensor([1, 0, 1, 0, 1]))
    P.identity(layer, "weight")
    out["custom"] = [_np(layer.bias), _np(layer.weight_mask), layer.weight_mask.dtype.is_floating_point]
    out["prune_method"] = _np(P.L1Unstructured(amount=3).prune(lib.tensor(_W)))
    layer = lib.nn.Conv2d(3, 6, 2)
    P.random_unstructured(layer, "weight", amount=17)
    out["random_count"] = float(layer.weight_mask.sum())
    P.random_structured(layer, "weight", amount=0.5, dim=0)
    mask = _np(layer.weight_mask)
    out["random_channels"] = int((mask.reshape(6, -1).sum(1) == 0).sum())
    out["random_keeps_old"] = float(mask.sum()) <= 12 * 6 - 17
    return out


def test_prune_scheme_matches_torch():
    theirs, ours = _prune_scenario(torch), _prune_scenario(minigrad)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        t, m = theirs[key], ours[key]
        if isinstance(t, np.ndarray):
            np.testing.assert_allclose(m, t, rtol=1e-5, atol=1e-5, err_msg=key)  # float32
        elif isinstance(t, list) and t and isinstance(t[0], np.ndarray):
            for x, y in zip(m, t):
                np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6, err_msg=key)
        elif key == "random_channels":
            assert m == t == 3
        else:
            assert m == t, key


@pytest.mark.parametrize("call", [
    lambda P, m: P.l1_unstructured(m, "weight", amount=1.5),
    lambda P, m: P.l1_unstructured(m, "weight", amount=-1),
    lambda P, m: P.l1_unstructured(m, "weight", amount="a"),
    lambda P, m: P.l1_unstructured(m, "weight", amount=100),
    lambda P, m: P.random_unstructured(m, "weight", amount=61),
    lambda P, m: P.ln_structured(m, "bias", amount=1, n=2, dim=0),
    lambda P, m: P.ln_structured(m, "weight", amount=1, n=2, dim=2),
    lambda P, m: P.random_structured(m, "bias", amount=1, dim=0),
    lambda P, m: P.global_unstructured([(m, "weight")], P.RandomStructured, amount=1),
    lambda P, m: P.global_unstructured(3, P.L1Unstructured, amount=1),
    lambda P, m: P.global_unstructured([(m, "weight")], P.L1Unstructured,
                                       importance_scores=[1], amount=1),
])
def test_prune_errors_match_torch_and_leave_module_intact(call):
    results = []
    for lib in LIBS:
        layer = _linear(lib)
        kind, msg = outcome(lambda: call(lib.nn.utils.prune, layer), text=neutral)
        msg = msg.replace("torch.Size", "").replace("Size", "")
        results.append((kind, msg, sorted(layer.state_dict().keys())))
    assert results[0][0] != "ok"
    assert results[1] == results[0]


def test_prune_remove_unpruned_raises_like_torch():
    kinds = []
    for lib in LIBS:
        with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
            lib.nn.utils.prune.remove(_linear(lib), "weight")
        kinds.append(lib.nn.utils.prune.is_pruned(_linear(lib)))
    assert kinds == [False, False]


def test_random_pruning_uses_minigrads_generator():
    masks = []
    for _ in range(2):
        minigrad.manual_seed(5)
        layer = minigrad.nn.Linear(40, 30)
        minigrad.nn.utils.prune.random_unstructured(layer, "weight", amount=0.25)
        masks.append(_np(layer.weight_mask))
    np.testing.assert_array_equal(masks[0], masks[1])
    assert masks[0].sum() == 1200 - 300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minigrad.nn.utils.prune.random_structured(layer, "weight", amount=0.5, dim=1)
    assert (_np(layer.weight_mask).sum(0) == 0).sum() == 20
