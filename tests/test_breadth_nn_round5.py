"""Round 5 of the nn breadth work, against PyTorch: TransformerDecoderLayer /
TransformerDecoder / Transformer, nn.utils.parametrize and parametrizations (weight_norm,
spectral_norm), the hook-based spectral_norm, and the less common Module methods
(set_submodule, state_dict hooks, load_state_dict(assign=), always_call hooks, to_empty...).
Weights are copied through state_dict in float64; values and gradients must match."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import minigrad as mg  # noqa: E402
import minigrad.nn.utils.parametrize as MP  # noqa: E402
import torch.nn.utils.parametrize as TP  # noqa: E402


def cp(tm, mm):
    mm.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def chk(tm, mm, targs, margs, kw_t={}, kw_m={}):
    to = tm(*targs, **kw_t)
    mo = mm(*margs, **kw_m)
    np.testing.assert_allclose(mo.detach().numpy(), to.detach().numpy(), atol=1e-10)
    w = np.random.randn(*to.shape)
    (to * torch.tensor(w)).sum().backward()
    (mo * mg.tensor(w)).sum().backward()
    for a, b in zip(targs, margs):
        if isinstance(a, torch.Tensor) and a.requires_grad:
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=1e-9)
    tp, mp = dict(tm.named_parameters()), dict(mm.named_parameters())
    assert list(tp) == list(mp)
    for k in tp:
        np.testing.assert_allclose(mp[k].grad.numpy(), tp[k].grad.numpy(), atol=1e-9, err_msg=k)


@pytest.mark.filterwarnings("ignore")    # torch's notes on nested tensors and masks
def test_transformer_decoder_layer_and_transformer():
    torch.manual_seed(0)
    np.random.seed(0)
    for nf in (False, True):
      for bf in (False, True):
        for act in ("relu","gelu"):
            tl = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation=act, batch_first=bf, norm_first=nf, dtype=torch.float64)
            ml = mg.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation=act, batch_first=bf, norm_first=nf, dtype=mg.float64)
            cp(tl, ml)
            t = np.random.randn(2,5,8) if bf else np.random.randn(5,2,8); m = np.random.randn(2,4,8) if bf else np.random.randn(4,2,8)
            tt=torch.tensor(t, requires_grad=True); tm=torch.tensor(m, requires_grad=True)
            mt=mg.tensor(t, requires_grad=True); mm_=mg.tensor(m, requires_grad=True)
            cm = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
            kpm = np.array([[0,0,0,1],[0,0,0,0]], bool)
            chk(tl, ml, (tt, tm), (mt, mm_), dict(tgt_mask=cm, memory_key_padding_mask=torch.tensor(kpm), tgt_is_causal=True),
                dict(tgt_mask=mg.nn.Transformer.generate_square_subsequent_mask(5, dtype=mg.float64), memory_key_padding_mask=mg.tensor(kpm), tgt_is_causal=True))
    assert repr(ml) == repr(tl)
    tr = torch.nn.Transformer(8, 2, 2, 2, 16, 0.0, dtype=torch.float64); mr = mg.nn.Transformer(8, 2, 2, 2, 16, 0.0, dtype=mg.float64)
    assert list(tr.state_dict())==list(mr.state_dict())
    cp(tr, mr)
    s=np.random.randn(6,3,8); t=np.random.randn(5,3,8)
    chk(tr, mr, (torch.tensor(s, requires_grad=True), torch.tensor(t, requires_grad=True)), (mg.tensor(s, requires_grad=True), mg.tensor(t, requires_grad=True)),
        dict(tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)), dict(tgt_mask=mg.nn.Transformer.generate_square_subsequent_mask(5, dtype=mg.float64)))
    assert repr(tr).replace("torch","")==repr(mr).replace("minigrad",""), (repr(tr), repr(mr))


class TSym(torch.nn.Module):
    def forward(self, X): return X.triu() + X.triu(1).transpose(-1, -2)
class MSym(mg.nn.Module):
    def forward(self, X): return X.triu() + X.triu(1).transpose(-1, -2)


def _same_spectral(cls, args, apply):
    """Layer ``cls(*args)`` in both libraries with spectral normalisation ``apply(lib, m)``:
    the same state_dict keys and buffers, outputs and gradients, in train and eval mode."""
    tl = cls(*args, dtype=torch.float64)
    ml = getattr(mg.nn, cls.__name__)(*args, dtype=mg.float64)
    cp(tl, ml)
    apply(torch, tl)
    apply(mg, ml)
    assert list(tl.state_dict()) == list(ml.state_dict())
    cp(tl, ml)                                           # torch's u and v vectors too
    x = np.random.randn(2, 5) if cls is torch.nn.Linear else np.random.randn(1, 2, 5, 5)
    for mode in ("train", "eval"):
        getattr(tl, mode)()
        getattr(ml, mode)()
        to, mo = tl(torch.tensor(x)), ml(mg.tensor(x))
        np.testing.assert_allclose(mo.detach().numpy(), to.detach().numpy(), rtol=1e-9)
        to.pow(2).sum().backward()
        mo.pow(2).sum().backward()
        for (k, a), (_, b) in zip(tl.named_parameters(), ml.named_parameters()):
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-9, err_msg=k)
        for k, v in tl.state_dict().items():
            np.testing.assert_allclose(ml.state_dict()[k].numpy(), v.numpy(), rtol=1e-9,
                                       err_msg=k)
    return tl, ml


def test_parametrize_weight_norm_spectral_norm():
    np.random.seed(1)
    torch.manual_seed(1)
    tl = torch.nn.Linear(3,3, dtype=torch.float64); ml = mg.nn.Linear(3,3, dtype=mg.float64); cp(tl, ml)
    TP.register_parametrization(tl, "weight", TSym()); MP.register_parametrization(ml, "weight", MSym())
    assert list(tl.state_dict()) == list(ml.state_dict())
    assert repr(tl).replace("TSym","S") == repr(ml).replace("MSym","S")
    x = np.random.randn(2,3)
    to = tl(torch.tensor(x)); mo = ml(mg.tensor(x)); assert np.allclose(to.detach().numpy(), mo.detach().numpy())
    to.sum().backward(); mo.sum().backward()
    assert np.allclose(tl.parametrizations.weight.original.grad.numpy(), ml.parametrizations.weight.original.grad.numpy())
    assert MP.is_parametrized(ml) and MP.is_parametrized(ml, "weight") and not MP.is_parametrized(ml, "bias")
    with MP.cached():
        assert ml.weight is ml.weight
    MP.remove_parametrizations(ml, "weight"); TP.remove_parametrizations(tl, "weight")
    assert type(ml) is mg.nn.Linear and list(tl.state_dict()) == list(ml.state_dict()), list(ml.state_dict())
    assert np.allclose(tl.weight.detach().numpy(), ml.weight.detach().numpy())
    # weight_norm
    for dim in (0, 1, None):
        tl = torch.nn.Linear(4,3, dtype=torch.float64); ml = mg.nn.Linear(4,3, dtype=mg.float64); cp(tl, ml)
        torch.nn.utils.parametrizations.weight_norm(tl, dim=dim); mg.nn.utils.parametrizations.weight_norm(ml, dim=dim)
        assert list(tl.state_dict()) == list(ml.state_dict()), list(ml.state_dict())
        assert repr(tl) == repr(ml), (repr(tl), repr(ml))
        for k, v in tl.state_dict().items(): assert np.allclose(v.numpy(), ml.state_dict()[k].numpy()), k
        x = np.random.randn(2,4)
        to = tl(torch.tensor(x)); mo = ml(mg.tensor(x)); to.pow(2).sum().backward(); mo.pow(2).sum().backward()
        for (k, a), (_, b) in zip(tl.named_parameters(), ml.named_parameters()):
            assert np.allclose(a.grad.numpy(), b.grad.numpy()), k
    # spectral norm, the parametrization and the older hook
    for cls, args in ((torch.nn.Linear, (5, 3)), (torch.nn.Conv2d, (2, 3, 3)),
                      (torch.nn.ConvTranspose2d, (2, 3, 3))):
        _same_spectral(cls, args, lambda lib, m: lib.nn.utils.parametrizations.spectral_norm(
            m, n_power_iterations=2))
    for cls, args in ((torch.nn.Linear, (5, 3)), (torch.nn.ConvTranspose2d, (2, 3, 3))):
        tl, ml = _same_spectral(cls, args, lambda lib, m: lib.nn.utils.spectral_norm(
            m, n_power_iterations=3))
        torch.nn.utils.remove_spectral_norm(tl); mg.nn.utils.remove_spectral_norm(ml)
        assert list(tl.state_dict()) == list(ml.state_dict()), (list(tl.state_dict()), list(ml.state_dict()))
        assert np.allclose(tl.weight.detach().numpy(), ml.weight.detach().numpy())


def both(fn):
    out = []
    for lib in (torch, mg):
        try: out.append(("ok", fn(lib)))
        except Exception as e: out.append((type(e).__name__, str(e)))
    return out
def same(fn):
    a, b = both(fn); assert a == b, (a, b)
def net(lib):
    return lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3))


def test_module_methods():
    for tgt in ["0.foo", "0.training", "1.running_mean", "0.weight"]:
        same(lambda lib: tuple(net(lib).get_parameter(tgt).shape))
        same(lambda lib: tuple(net(lib).get_buffer(tgt).shape))
    for tgt in ["0.weight", "2", "0.x"]:
        same(lambda lib: type(net(lib).get_submodule(tgt)).__name__)
    def setsub(lib, tgt, strict=False, mod=True):
        n = net(lib); n.set_submodule(tgt, lib.nn.ReLU() if mod else 3, strict=strict); return repr(n).replace("minigrad","torch")
    for args in [("0",), ("5",), ("5", True), ("", ), ("0", False, False), ("0.weight",), ("0.x.y",)]:
        same(lambda lib: setsub(lib, *args))
    # state dict hooks
    def sdh(lib):
        n = net(lib); log = []
        n[0].register_state_dict_pre_hook(lambda m, p, kv: log.append(("pre", p, kv)))
        n.register_state_dict_post_hook(lambda m, sd, p, meta: log.append(("post", p, sorted(sd))))
        n[1]._register_state_dict_hook(lambda m, sd, p, meta: {k: v for k, v in sd.items() if "running" not in k})
        sd = n.state_dict(prefix="x.")
        return log, list(sd)
    same(sdh)
    def ldh(lib):
        n = net(lib); log = []
        sd = n.state_dict(); del sd["0.bias"]; sd["extra"] = lib.zeros(1)
        n.register_load_state_dict_pre_hook(lambda m, sd, p, meta, strict, mk, uk, em: log.append(("pre", p, sorted(sd))))
        n[0]._register_load_state_dict_pre_hook(lambda sd, p, *a: log.append(("pre0", p)))
        def post(m, keys):
            log.append(("post", list(keys.missing_keys), list(keys.unexpected_keys)))
            keys.missing_keys.clear(); keys.unexpected_keys.clear()
        n.register_load_state_dict_post_hook(post)
        r = n.load_state_dict(sd)
        return log, repr(r)
    same(ldh)
    def assign(lib):
        n = net(lib); sd = {k: v.clone() * 2 for k, v in n.state_dict().items()}
        n.load_state_dict(sd, assign=True)
        return [(k, type(v).__name__, v.requires_grad, bool((v == sd[k]).all())) for k, v in n.state_dict(keep_vars=True).items()], n[0].weight is sd["0.weight"]
    same(assign)
    def always(lib):
        log = []
        class Bad(lib.nn.Module):
            def forward(self, x): raise ValueError("boom")
        b = Bad(); b.register_forward_hook(lambda m, a, o: log.append(("always", o)), always_call=True)
        b.register_forward_hook(lambda m, a, o: log.append("never"))
        try: b(1)
        except ValueError: pass
        return log
    same(always)
    def empty(lib):
        n = net(lib).to_empty(device="cpu"); return [tuple(p.shape) for p in n.parameters()], n.share_memory() is n
    same(empty)
    def reqgrad(lib):
        n = net(lib).requires_grad_(False); n[0].requires_grad_(True); return [p.requires_grad for p in n.parameters()]
    same(reqgrad)
    def zg(lib):
        n = net(lib); n(lib.randn(4, 2)).sum().backward(); n[0].zero_grad(); return [p.grad is None for p in n.parameters()]
    same(zg)
    def nm(lib):
        l = lib.nn.Linear(2, 2); s = lib.nn.Sequential(l, l)
        return [k for k, _ in s.named_modules(remove_duplicate=False)], [k for k, _ in s.named_modules()]
    same(nm)
    def dirr(lib):
        return [k for k in ("weight", "bias", "in_features", "forward") if k in dir(lib.nn.Linear(2, 2))]
    same(dirr)
    def extra(lib):
        class A(lib.nn.Module):
            def __init__(self):
                super().__init__(); self.l = lib.nn.Linear(1, 1)
            def extra_repr(self): return "hello=1"
        return repr(lib.nn.Sequential(A()))
    same(extra)
    assert [str(p.dtype) for p in net(mg).bfloat16().parameters()] == \
        [str(p.dtype).replace("torch", "minigrad") for p in net(torch).bfloat16().parameters()]


@pytest.mark.filterwarnings("ignore")
def test_transformer_errors_unbatched_and_masks():
    t = torch.nn.Transformer(8, 2, 1, 1, 16, 0.0, batch_first=True, norm_first=True,
                             activation="gelu", dtype=torch.float64)
    m = mg.nn.Transformer(8, 2, 1, 1, 16, 0.0, batch_first=True, norm_first=True,
                          activation="gelu", dtype=mg.float64)
    cp(t, m)
    for s, g in (((2, 4, 8), (3, 5, 8)), ((2, 4, 8), (2, 5, 6))):
        msgs = []
        for lib, mod in ((torch, t), (mg, m)):
            with pytest.raises(RuntimeError) as e:
                mod(lib.zeros(s, dtype=lib.float64), lib.zeros(g, dtype=lib.float64))
            msgs.append(str(e.value))
        assert msgs[0] == msgs[1]
    s, g = np.random.randn(4, 8), np.random.randn(3, 8)     # unbatched
    smask = np.array([[0, 0, 1, 0]] * 3, bool)               # memory_mask (T, S), bool
    chk(t, m, (torch.tensor(s, requires_grad=True), torch.tensor(g, requires_grad=True)),
        (mg.tensor(s, requires_grad=True), mg.tensor(g, requires_grad=True)),
        dict(memory_mask=torch.tensor(smask), tgt_is_causal=False),
        dict(memory_mask=mg.tensor(smask), tgt_is_causal=False))
    dec_t = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, 16, 0.0, dtype=torch.float64), 2)
    dec_m = mg.nn.TransformerDecoder(mg.nn.TransformerDecoderLayer(8, 2, 16, 0.0, dtype=mg.float64), 2)
    cp(dec_t, dec_m)
    x, mem = np.random.randn(3, 2, 8), np.random.randn(4, 2, 8)
    kpm = np.array([[0, 0, 1], [0, 0, 0]], bool)
    chk(dec_t, dec_m, (torch.tensor(x, requires_grad=True), torch.tensor(mem, requires_grad=True)),
        (mg.tensor(x, requires_grad=True), mg.tensor(mem, requires_grad=True)),
        dict(tgt_key_padding_mask=torch.tensor(kpm)), dict(tgt_key_padding_mask=mg.tensor(kpm)))
    mask = mg.nn.Transformer.generate_square_subsequent_mask(3, dtype=mg.float64)
    np.testing.assert_array_equal(
        mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(3).numpy())


def test_parametrize_errors_and_multi_original():
    class Twice(mg.nn.Module):
        def forward(self, x):
            return x * 2

    class Split(mg.nn.Module):        # right_inverse returns two tensors
        def forward(self, a, b):
            return a + b

        def right_inverse(self, w):
            return w / 2, w / 2

    lin = mg.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        MP.register_parametrization(lin, "nothing", Twice())
    MP.register_parametrization(lin, "weight", Split())
    assert list(lin.state_dict()) == ["bias", "parametrizations.weight.original0",
                                      "parametrizations.weight.original1"]
    w = lin.weight.detach().numpy().copy()
    MP.register_parametrization(lin, "weight", Twice())            # chained
    np.testing.assert_allclose(lin.weight.detach().numpy(), 2 * w)
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        lin.weight = mg.zeros(2, 2)
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        MP.remove_parametrizations(lin, "weight", leave_parametrized=False)
    MP.remove_parametrizations(lin, "weight")
    assert type(lin) is mg.nn.Linear and isinstance(lin.weight, mg.nn.Parameter)
    np.testing.assert_allclose(lin.weight.detach().numpy(), 2 * w)
    with pytest.raises(ValueError, match="does not have a parametrization"):
        MP.remove_parametrizations(lin, "weight")


def test_parametrized_deepcopy_is_independent():
    import copy
    lin = mg.nn.utils.parametrizations.weight_norm(mg.nn.Linear(3, 2))
    twin = copy.deepcopy(lin)
    assert type(twin).__name__ == "ParametrizedLinear"
    np.testing.assert_allclose(twin.weight.detach().numpy(), lin.weight.detach().numpy())
    MP.remove_parametrizations(twin, "weight")
    assert type(twin) is mg.nn.Linear and tuple(lin.weight.shape) == (2, 3)
