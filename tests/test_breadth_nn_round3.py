"""Padding layers, Adamax/NAdam/RAdam/Adadelta/ASGD, MultiheadAttention and the transformer
encoder, each run against PyTorch: same weights in, same outputs, gradients, optimizer
trajectories, state_dict keys, reprs and errors out (float64)."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import minigrad  # noqa: E402
import minigrad.nn as nn  # noqa: E402


def _load_torch_weights(ours, theirs):
    """Copy torch's state_dict into our module (same keys, checked)."""
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd)
    ours.load_state_dict({k: minigrad.tensor(v.detach().numpy().copy()) for k, v in sd.items()})


def _close(a, b, atol=1e-10, rtol=1e-8, msg=""):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=rtol, err_msg=msg)


# ----------------------------------------------------------------------------------------------
# padding layers
# ----------------------------------------------------------------------------------------------
PADS = [
    ("ZeroPad1d", (2,), (2, 3, 5)),
    ("ZeroPad2d", ((1, 0, 2, -1),), (2, 3, 4, 5)),
    ("ZeroPad3d", (1,), (3, 2, 3, 4)),
    ("ConstantPad1d", ((3, 1), 2.5), (3, 5)),
    ("ConstantPad2d", (1, -1.0), (1, 2, 3, 4)),
    ("ConstantPad3d", ((1, 0, 0, 2, 1, 1), 0.5), (1, 2, 2, 3, 4)),
    ("ReflectionPad1d", ((2, 3),), (2, 3, 5)),
    ("ReflectionPad2d", (2,), (3, 4, 5)),
    ("ReflectionPad3d", ((1, 2, 0, 1, 1, 0),), (1, 2, 3, 4, 3)),
    ("ReplicationPad1d", ((4, 1),), (3, 2)),
    ("ReplicationPad2d", ((1, 2, 3, 0),), (2, 1, 3, 3)),
    ("ReplicationPad3d", (2,), (2, 2, 2, 3)),
    ("CircularPad1d", ((2, 1),), (2, 3, 4)),
    ("CircularPad2d", ((1, 1, 2, 0),), (3, 4, 4)),
    ("CircularPad3d", ((1, 0, 1, 1, 0, 1),), (1, 2, 3, 3, 3)),
]


@pytest.mark.parametrize("name,args,shape", PADS, ids=[p[0] for p in PADS])
def test_padding_layers_match_torch(name, args, shape):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert ours.padding == theirs.padding and isinstance(ours.padding, tuple)
    assert ours.state_dict() == {} and list(ours.parameters()) == []
    x = np.random.default_rng(0).standard_normal(shape)
    a, b = minigrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = ours(a), theirs(b)
    _close(ya.detach().numpy(), yb.detach().numpy())
    up = np.random.default_rng(1).standard_normal(tuple(yb.shape))
    (ya * minigrad.tensor(up)).sum().backward()
    (yb * torch.tensor(up)).sum().backward()
    _close(a.grad.numpy(), b.grad.numpy())


def test_padding_attributes_and_errors():
    assert nn.ZeroPad2d(1).value == torch.nn.ZeroPad2d(1).value == 0.0
    assert nn.ConstantPad1d([1, 2], 3).padding == (1, 2)
    assert repr(nn.ConstantPad3d(1, 0)) == repr(torch.nn.ConstantPad3d(1, 0))
    for k in (1, 2, 3):
        with pytest.raises(ValueError, match=rf"expected {k + 1}D or {k + 2}D input \(got 1D"):
            getattr(nn, f"CircularPad{k}d")(1)(minigrad.zeros(4))
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        nn.ReflectionPad1d(3)(minigrad.zeros(1, 3))


def test_padding_second_derivative():
    x = minigrad.tensor(np.random.default_rng(2).standard_normal((1, 2, 4)), requires_grad=True)
    y = (nn.ReplicationPad1d((2, 1))(x) ** 3).sum()
    (g,) = minigrad.autograd.grad(y, x, create_graph=True)
    g.sum().backward()
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad((torch.nn.ReplicationPad1d((2, 1))(xt) ** 3).sum(), xt,
                                create_graph=True)
    gt.sum().backward()
    _close(x.grad.numpy(), xt.grad.numpy())


# ----------------------------------------------------------------------------------------------
# optimizers
# ----------------------------------------------------------------------------------------------
OPTIMS = [
    ("Adamax", {}),
    ("Adamax", dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1, maximize=True)),
    ("NAdam", {}),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", {}),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, betas=(0.5, 0.7))),
    ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Adadelta", {}),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("ASGD", {}),
    ("ASGD", dict(lr=0.1, lambd=0.01, alpha=0.5, t0=4, weight_decay=0.1)),
]


def _trajectory(lib, name, kw, steps, w0, grads, dtype):
    params = [lib.tensor(w.astype(dtype), requires_grad=True) for w in w0]
    opt = getattr(lib.optim, name)([{"params": params[:1]},
                                    {"params": params[1:], "lr": 0.05}], **kw)
    for s in range(steps):
        for p, g in zip(params, grads[s]):
            p.grad = lib.tensor(g.astype(dtype))
        opt.step()
    return params, opt


@pytest.mark.parametrize("name,kw", OPTIMS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMS)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_optimizer_trajectory_matches_torch(name, kw, dtype):
    rng = np.random.default_rng(0)
    w0 = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    grads = [[rng.standard_normal(w.shape) for w in w0] for _ in range(15)]
    ours, oo = _trajectory(minigrad, name, kw, 15, w0, grads, dtype)
    theirs, ot = _trajectory(torch, name, kw, 15, w0, grads, dtype)
    tol = dict(atol=1e-12, rtol=1e-10) if dtype == "float64" else dict(atol=1e-6, rtol=1e-5)
    for a, b in zip(ours, theirs):
        _close(a.detach().numpy(), b.detach().numpy(), **tol)
    sa, sb = oo.state_dict(), ot.state_dict()
    assert sa["param_groups"] == [{k: v for k, v in g.items()} for g in sb["param_groups"]]
    for i in sb["state"]:
        assert list(sa["state"][i]) == list(sb["state"][i])
        for key, value in sb["state"][i].items():
            assert sa["state"][i][key].dtype.name == str(value.dtype).split(".")[-1], key
            _close(sa["state"][i][key].numpy(), value.numpy(), **tol, msg=key)


def _interrupted(lib, name, kw, w0, grads):
    """6 steps, state_dict() into a fresh optimizer (load_state_dict), 6 more steps."""
    params, opt = _trajectory(lib, name, kw, 6, w0, grads, "float64")
    saved = opt.state_dict()
    fresh = getattr(lib.optim, name)([{"params": params[:1]},
                                      {"params": params[1:], "lr": 0.05}], **kw)
    fresh.load_state_dict(saved)
    assert fresh.state_dict()["param_groups"] == saved["param_groups"]
    for s in range(6, 12):
        for p, g in zip(params, grads[s]):
            p.grad = lib.tensor(g)
        fresh.step()
    return params, fresh


@pytest.mark.parametrize("name,kw", [OPTIMS[0], OPTIMS[3], OPTIMS[7], OPTIMS[9], OPTIMS[11]],
                         ids=["Adamax", "NAdam", "RAdam", "Adadelta", "ASGD"])
def test_optimizer_state_dict_round_trip(name, kw):
    """Interrupt and resume from a state_dict, as torch does (which casts the scalar state,
    NAdam's mu_product and ASGD's eta/mu, to the parameter's dtype on load)."""
    rng = np.random.default_rng(3)
    w0 = [rng.standard_normal((2, 3)), rng.standard_normal(4)]
    grads = [[rng.standard_normal(w.shape) for w in w0] for _ in range(12)]
    ours, oo = _interrupted(minigrad, name, kw, w0, grads)
    theirs, ot = _interrupted(torch, name, kw, w0, grads)
    for a, b in zip(ours, theirs):
        _close(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
    for i, st in ot.state_dict()["state"].items():
        for key, value in st.items():
            assert oo.state_dict()["state"][i][key].dtype.name == str(value.dtype)[6:], key
    uninterrupted, _ = _trajectory(minigrad, name, kw, 12, w0, grads, "float64")
    for a, b in zip(ours, uninterrupted):
        _close(a.detach().numpy(), b.detach().numpy(), atol=1e-6)


def test_optimizer_defaults_reprs_and_errors():
    for name in ("Adamax", "NAdam", "RAdam", "Adadelta", "ASGD"):
        ours = getattr(minigrad.optim, name)([minigrad.zeros(2, requires_grad=True)])
        theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)])
        assert ours.defaults == theirs.defaults
        assert list(ours.param_groups[0]) == list(theirs.param_groups[0])
        assert repr(ours) == repr(theirs)
    p = [minigrad.zeros(2, requires_grad=True)]
    bad = [("Adamax", dict(lr=-1), "Invalid learning rate: -1"),
           ("Adamax", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
           ("NAdam", dict(momentum_decay=-0.1), "Invalid momentum_decay value: -0.1"),
           ("NAdam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
           ("RAdam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
           ("RAdam", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
           ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
           ("ASGD", dict(weight_decay=-2), "Invalid weight_decay value: -2")]
    for name, kw, msg in bad:
        with pytest.raises(ValueError) as ours:
            getattr(minigrad.optim, name)(p, **kw)
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
        assert str(ours.value) == str(theirs.value) == msg


def test_optimizers_train_a_model():
    rng = np.random.default_rng(4)
    x, y = minigrad.tensor(rng.standard_normal((32, 3))), minigrad.tensor(rng.standard_normal(32))
    for name, lr in (("Adamax", 0.05), ("NAdam", 0.05), ("RAdam", 0.05), ("Adadelta", 1.0),
                     ("ASGD", 0.05)):
        model = nn.Linear(3, 1).double()
        opt = getattr(minigrad.optim, name)(model.parameters(), lr=lr)
        first = None
        for _ in range(60):
            loss = ((model(x).squeeze(1) - y) ** 2).mean()
            first = float(loss) if first is None else first
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert float(loss) < first, name


# ----------------------------------------------------------------------------------------------
# MultiheadAttention
# ----------------------------------------------------------------------------------------------
def _mha_case(kw, fwd, masks, batch_first=False, unbatched=False, L=4, S=5, N=2, E=8, H=2):
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, **kw).double()
    ours = nn.MultiheadAttention(E, H, batch_first=batch_first, **kw).double()
    assert repr(ours) == repr(theirs)
    _load_torch_weights(ours, theirs)
    rng = np.random.default_rng(0)
    dims = (E, kw.get("kdim") or E, kw.get("vdim") or E)
    lens = (L, S, S)

    def shape(n, d):
        return (n, d) if unbatched else (N, n, d) if batch_first else (n, N, d)
    arrays = [rng.standard_normal(shape(n, d)) for n, d in zip(lens, dims)]
    ins_o = [minigrad.tensor(a, requires_grad=True) for a in arrays]
    ins_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yo, wo = ours(*ins_o, **{k: minigrad.tensor(v) for k, v in masks.items()}, **fwd)
        yt, wt = theirs(*ins_t, **{k: torch.tensor(v) for k, v in masks.items()}, **fwd)
    _close(yo.detach().numpy(), yt.detach().numpy())
    loss_o = (yo * minigrad.tensor(up := rng.standard_normal(tuple(yt.shape)))).sum()
    loss_t = (yt * torch.tensor(up)).sum()
    if wt is None:
        assert wo is None
    else:
        _close(wo.detach().numpy(), wt.detach().numpy())
        up2 = rng.standard_normal(tuple(wt.shape))
        loss_o = loss_o + (wo * minigrad.tensor(up2)).sum()
        loss_t = loss_t + (wt * torch.tensor(up2)).sum()
    loss_o.backward()
    loss_t.backward()
    for a, b in zip(ins_o, ins_t):
        _close(a.grad.numpy(), b.grad.numpy())
    for name, p in theirs.named_parameters():
        _close(ours.get_parameter(name).grad.numpy(), p.grad.numpy(), msg=name)


KPM = np.array([[0, 0, 1, 0, 1], [0, 0, 0, 0, 0]], bool)
MHA = [
    ("plain", {}, {}, {}, False, False),
    ("no weights", {}, dict(need_weights=False), {}, False, False),
    ("per-head weights, batch_first", {}, dict(average_attn_weights=False), {}, True, False),
    ("kdim vdim no bias", dict(kdim=3, vdim=6, bias=False), {}, {}, False, False),
    ("bias_kv zero_attn masks", dict(add_bias_kv=True, add_zero_attn=True), {},
     dict(key_padding_mask=KPM, attn_mask=np.triu(np.ones((4, 5), bool), 2)), False, False),
    ("float 3d mask, no weights", dict(add_bias_kv=True), dict(need_weights=False),
     dict(key_padding_mask=KPM, attn_mask=np.random.default_rng(2).standard_normal((4, 4, 5))),
     True, False),
    ("unbatched kpm", {}, {}, dict(key_padding_mask=KPM[0]), False, True),
    ("unbatched kdim, no weights", dict(kdim=3, vdim=6), dict(need_weights=False), {}, False,
     True),
]


@pytest.mark.parametrize("case", MHA, ids=[c[0] for c in MHA])
def test_multihead_attention_matches_torch(case):
    _, kw, fwd, masks, batch_first, unbatched = case
    _mha_case(kw, fwd, masks, batch_first, unbatched)


def test_multihead_attention_causal_hint():
    _mha_case({}, dict(need_weights=False, is_causal=True),
              dict(attn_mask=np.triu(np.ones((5, 5), bool), 1)), L=5)


def test_multihead_attention_parameters_and_errors():
    m = nn.MultiheadAttention(8, 2, kdim=4, vdim=3, add_bias_kv=True)
    t = torch.nn.MultiheadAttention(8, 2, kdim=4, vdim=3, add_bias_kv=True)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert m.in_proj_weight is None and m.head_dim == 4 and not m._qkv_same_embed_dim
    plain = nn.MultiheadAttention(8, 2)
    assert plain.q_proj_weight is None and plain.bias_k is None
    assert float(abs(plain.in_proj_bias).sum()) == 0.0
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0, got "
                                         "embed_dim=0 and num_heads=4 instead"):
        nn.MultiheadAttention(0, 4)
    x = minigrad.zeros(3, 2, 8)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is .*\[2, 3\].*, but "
                                           r"should be \(3, 3\)\."):
        plain(x, x, x, attn_mask=minigrad.zeros(2, 3, dtype=minigrad.bool))
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        plain(x, x, x, attn_mask=minigrad.zeros(3, 3, dtype=minigrad.int64))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        plain(x, x, x, is_causal=True)
    y = minigrad.zeros(3, 2, 5)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 5"):
        plain(y, y, y)


def test_multihead_attention_fully_masked_rows_and_dropout():
    m = nn.MultiheadAttention(4, 2).double().requires_grad_(False)
    x = minigrad.tensor(np.random.default_rng(5).standard_normal((3, 2, 4)))
    kpm = minigrad.tensor(np.array([[1, 1, 1], [0, 1, 0]], bool))
    out, w = m(x, x, x, key_padding_mask=kpm)              # as torch: NaN for the dead row
    assert np.isnan(out.numpy()[:, 0]).all() and not np.isnan(out.numpy()[:, 1]).any()
    out, _ = m(x, x, x, key_padding_mask=kpm, need_weights=False)   # as torch: zeros there
    _close(out.numpy()[:, 0], 0 * out.numpy()[:, 0])
    drop = nn.MultiheadAttention(4, 1, dropout=0.5).double().requires_grad_(False)
    _, w = drop(x, x, x)
    assert (w.numpy() == 0).any()
    drop.eval()
    _, w = drop(x, x, x)
    _close(w.numpy().sum(-1), np.ones((2, 3)))


def test_multihead_attention_double_backward():
    m = nn.MultiheadAttention(4, 2).double()
    q = minigrad.tensor(np.random.default_rng(6).standard_normal((3, 2, 4)), requires_grad=True)
    (g,) = minigrad.autograd.grad((m(q, q, q)[0] ** 2).sum(), q, create_graph=True)
    g.sum().backward()
    t = torch.nn.MultiheadAttention(4, 2).double()
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    qt = torch.tensor(q.detach().numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad((t(qt, qt, qt)[0] ** 2).sum(), qt, create_graph=True)
    gt.sum().backward()
    _close(g.detach().numpy(), gt.detach().numpy())
    _close(q.grad.numpy(), qt.grad.numpy())


# ----------------------------------------------------------------------------------------------
# TransformerEncoderLayer / TransformerEncoder
# ----------------------------------------------------------------------------------------------
def _encoders(layer_kw, enc_kw=None, norm=False, E=8):
    out = []
    for lib in (torch, minigrad):
        kw = dict(layer_kw)
        if kw.get("activation") == "GELU module":
            kw["activation"] = lib.nn.GELU()
        layer = lib.nn.TransformerEncoderLayer(E, 2, 16, dropout=0.0, **kw)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            enc = lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(E) if norm else None,
                                            **(enc_kw or {}))
        out.append((enc.double(), [str(w.message) for w in caught]))
    (theirs, wt), (ours, wo) = out
    assert wo == wt
    assert repr(ours) == repr(theirs)
    _load_torch_weights(ours, theirs)
    return ours, theirs


TRANSFORMER = [
    ("post-norm", {}, {}, False, None),
    ("pre-norm gelu batch_first kpm", dict(norm_first=True, activation="gelu",
                                           batch_first=True), {}, True, "kpm"),
    ("GELU module, causal float mask", dict(activation="GELU module", batch_first=True), {},
     False, "causal"),
    ("no bias", dict(bias=False, batch_first=True), dict(enable_nested_tensor=False), False,
     None),
]


def _inputs(kind, batch_first, S=5, N=3, E=8):
    x = np.random.default_rng(0).standard_normal((N, S, E) if batch_first else (S, N, E))
    if kind == "kpm":
        return x, dict(src_key_padding_mask=np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0],
                                                      [0, 1, 1, 1, 1]], bool))
    if kind == "causal":
        return x, dict(mask=np.triu(np.full((S, S), -np.inf), 1))
    return x, {}


@pytest.mark.parametrize("case", TRANSFORMER, ids=[c[0] for c in TRANSFORMER])
def test_transformer_encoder_matches_torch(case):
    _, layer_kw, enc_kw, norm, kind = case
    ours, theirs = _encoders(layer_kw, enc_kw, norm)
    x, masks = _inputs(kind, layer_kw.get("batch_first", False))
    a, b = minigrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya = ours(a, **{k: minigrad.tensor(v) for k, v in masks.items()})
    yb = theirs(b, **{k: torch.tensor(v) for k, v in masks.items()})
    _close(ya.detach().numpy(), yb.detach().numpy())
    up = np.random.default_rng(1).standard_normal(tuple(yb.shape))
    (ya * minigrad.tensor(up)).sum().backward()
    (yb * torch.tensor(up)).sum().backward()
    _close(a.grad.numpy(), b.grad.numpy())
    for name, p in theirs.named_parameters():
        _close(ours.get_parameter(name).grad.numpy(), p.grad.numpy(), msg=name)


@pytest.mark.parametrize("left_aligned", [True, False])
def test_transformer_encoder_eval_zeroes_padding_as_torch(left_aligned):
    """In eval mode without gradients PyTorch runs on nested tensors: padded positions come
    out as zeros (before the final norm), when the padding mask is left aligned."""
    ours, theirs = _encoders(dict(batch_first=True), norm=False)
    x, masks = _inputs("kpm", True)
    if not left_aligned:
        masks["src_key_padding_mask"][0] = [0, 1, 0, 1, 1]
    ours.eval()
    theirs.eval()
    with torch.no_grad(), minigrad.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ya = ours(minigrad.tensor(x), **{k: minigrad.tensor(v) for k, v in masks.items()})
        yb = theirs(torch.tensor(x), **{k: torch.tensor(v) for k, v in masks.items()})
    _close(ya.numpy(), yb.numpy(), atol=1e-6)
    assert (ya.numpy()[2, 1:] == 0).all() == left_aligned


def test_transformer_layer_unbatched_and_errors():
    ours, theirs = _encoders({})
    x = np.random.default_rng(7).standard_normal((4, 8))
    _close(ours.layers[0](minigrad.tensor(x)).detach().numpy(),
           theirs.layers[0](torch.tensor(x)).detach().numpy())
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    layer = nn.TransformerEncoderLayer(4, 2, 8)
    assert layer.activation_relu_or_gelu == 1 and layer.norm1.eps == 1e-5
    enc = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    assert len(enc.layers) == 3 and enc.layers[0] is not layer
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight


# ----------------------------------------------------------------------------------------------
# nn.utils.weight_norm
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, 2, None, -1])
def test_weight_norm_matches_torch(dim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = torch.nn.utils.weight_norm(torch.nn.Conv1d(2, 3, 4).double(), dim=dim)
    ours = nn.utils.weight_norm(nn.Conv1d(2, 3, 4).double(), dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight_g",
                                                                     "weight_v"]
    assert tuple(ours.weight_g.shape) == tuple(theirs.weight_g.shape)
    _load_torch_weights(ours, theirs)
    x = np.random.default_rng(8).standard_normal((2, 2, 7))
    a, b = minigrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = ours(a), theirs(b)
    _close(ya.detach().numpy(), yb.detach().numpy())
    (ya ** 2).sum().backward()
    (yb ** 2).sum().backward()
    for name, p in theirs.named_parameters():
        _close(ours.get_parameter(name).grad.numpy(), p.grad.numpy(), msg=name)
    _close(a.grad.numpy(), b.grad.numpy())


def test_remove_weight_norm_and_errors():
    lin = nn.utils.weight_norm(nn.Linear(3, 4))
    w = lin(minigrad.eye(3)).detach().numpy() - lin.bias.detach().numpy()
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same "
                                           "parameter weight"):
        nn.utils.weight_norm(lin)
    nn.utils.remove_weight_norm(lin)
    assert list(lin.state_dict()) == ["bias", "weight"]
    assert isinstance(lin.weight, nn.Parameter) and not lin._forward_pre_hooks
    _close(lin.weight.detach().numpy().T, w, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in Linear"):
        nn.utils.remove_weight_norm(lin)
