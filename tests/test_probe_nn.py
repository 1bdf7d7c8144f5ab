"""Layer-level behaviour found to differ from PyTorch by side-by-side probes, now matched.

Covers: ``Module.type`` (casts integer buffers too, accepts tensor-type strings, refuses an
integer type for parameters), ``Sequential.__iadd__``, the dict methods of ``ParameterDict``
(copy, setdefault, popitem, fromkeys, ``|``, ``|=``, reversed), the ``grad_input`` a full
backward hook sees for tensor inputs that get no gradient (zeros, as PyTorch), constructor and
assignment errors (integer Parameter, Unflatten sizes, buffer assignment), lazy parameters
refusing ``numel``, ``Module.compile``, constructor signatures (activations, GroupNorm's
keyword-only ``bias``, lazy/sync batch norm ``bias``, Hardtanh's deprecated keywords),
``F.leaky_relu``/``F.sigmoid``/``F.tanh`` taking ``input=``, ``Module._apply`` taking a tensor
function and reaching children's overrides, ``modules(remove_duplicate=)``,
``MultiheadAttention.merge_masks``, the reset methods of GroupNorm/InstanceNorm, Embedding's
``_fill_padding_idx_with_zero``, the RNN check helpers, ``Module._call_impl`` and the causal
masks of ``nn.attention.bias``.
Every test runs the same code on torch and on minigrad and compares the two.
"""
import inspect
from importlib import import_module

import numpy as np
import pytest
import torch

import minigrad


LIBS = (torch, minigrad)


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy())


def _dtypes(module):
    return [str(v.dtype).split(".")[-1] for v in module.state_dict().values()]


@pytest.mark.parametrize("target", ["float64", "float16", "DoubleTensor"])
def test_module_type_casts_every_tensor(target):
    seen = []
    for L in LIBS:
        bn = L.nn.BatchNorm1d(2)
        dst = getattr(L, target) if target != "DoubleTensor" else f"{L.__name__}.DoubleTensor"
        assert bn.type(dst) is bn
        seen.append(_dtypes(bn))
    assert seen[0] == seen[1]
    assert seen[1][-1] == seen[1][0]          # num_batches_tracked follows too


def test_module_type_integer_refused():
    for L in LIBS:
        with pytest.raises(RuntimeError, match="requires gradients must be floating point"):
            L.nn.Linear(2, 2).type(L.int32)


def test_sequential_iadd():
    reprs = []
    for L in LIBS:
        s = L.nn.Sequential(L.nn.ReLU())
        s += L.nn.Sequential(L.nn.Tanh(), L.nn.ELU())
        reprs.append(repr(s))
        with pytest.raises(ValueError, match="add operator supports only objects of Sequential"):
            s += L.nn.ModuleList()
    assert reprs[0] == reprs[1]


def test_parameter_dict_dict_methods():
    out = []
    for L in LIBS:
        p = L.nn.ParameterDict({"b": L.nn.Parameter(L.ones(2)), "a": L.ones(3)})
        q = p.copy()
        key, value = q.popitem()
        merged = p | L.nn.ParameterDict({"z": L.ones(1)})
        p |= {"y": L.zeros(2)}
        fresh = p.fromkeys(["u", "v"], L.ones(1))
        got = p.setdefault("n")
        out.append((list(reversed(p)), list(q.keys()), key, tuple(value.shape),
                    list(merged.keys()), list(p.keys()), list(fresh.keys()),
                    q["a"] is p["a"], got, p.setdefault("b") is p["b"]))
    assert out[0] == out[1]


def _hook_run(L):
    log = []

    class M(L.nn.Module):
        def forward(self, a, b, c, e):
            return a * b + c

    m = M()
    m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
    a = L.ones(2, requires_grad=True)
    e = L.ones(3, requires_grad=True)       # requires grad but unused
    m(a, L.full((2,), 3.0), 2.0, e).sum().backward()
    m(a, L.ones(2), 1.0, L.ones(1, dtype=L.int64)).sum().backward()
    return [([None if g is None else (_np(g), str(g.dtype).split(".")[-1]) for g in gi],
             [_np(g) for g in go]) for gi, go in log], _np(e.grad)


def test_full_backward_hook_zero_grads_for_inputs_without_gradient():
    (tl, te), (ml, me) = (_hook_run(L) for L in LIBS)
    assert len(tl) == len(ml) == 2
    for (tgi, tgo), (mgi, mgo) in zip(tl, ml):
        assert len(tgi) == len(mgi)
        for t, m in zip(tgi, mgi):
            assert (t is None) == (m is None)
            if t is not None:
                np.testing.assert_allclose(m[0], t[0])
                assert m[1] == t[1]
        for t, m in zip(tgo, mgo):
            np.testing.assert_allclose(m, t)
    np.testing.assert_allclose(me, te)


def _error(fn):
    try:
        fn()
    except Exception as e:            # noqa: BLE001 - the type and words are compared
        return type(e).__name__, str(e).replace("minigrad", "torch")
    return None


@pytest.mark.parametrize("build", [
    lambda L: L.nn.Parameter(L.ones(2, dtype=L.int64)),
    lambda L: L.nn.Unflatten(1, 6),
    lambda L: L.nn.Unflatten(1, (2, 3.0)),
    lambda L: L.nn.Unflatten(1, (("a", 2), ("b", 3))),
    lambda L: setattr(L.nn.BatchNorm1d(2), "running_mean", 3),
])
def test_constructor_and_assignment_errors(build):
    t, m = (_error(lambda: build(L)) for L in LIBS)
    assert t is not None and t == m


def test_unflatten_accepts_int_sequences():
    for L in LIBS:
        assert L.nn.Unflatten(1, [2, 3])(L.ones(4, 6)).shape == (4, 2, 3)


def test_lazy_parameter_counting_refused():
    for L in LIBS:
        m = L.nn.LazyLinear(3)
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in "
                                             "<method 'numel'"):
            sum(p.numel() for p in m.parameters())
        m(L.ones(2, 4))
        assert sum(p.numel() for p in m.parameters()) == 15


def test_module_compile_in_place():
    for L in LIBS:
        m = L.nn.Linear(2, 2)
        assert m.compile() is None
        assert isinstance(m, L.nn.Linear)


@pytest.mark.parametrize("name", ["ELU", "CELU", "GELU", "SELU", "Hardswish", "Hardsigmoid",
                                  "Mish", "Hardtanh", "GroupNorm", "LazyBatchNorm1d",
                                  "SyncBatchNorm"])
def test_module_constructor_signatures(name):
    def sig(L):
        params = inspect.signature(getattr(L.nn, name).__init__).parameters.values()
        return [(p.name, p.kind, p.default) for p in params]
    assert sig(torch) == sig(minigrad)


def test_norm_bias_keyword_and_positional_device():
    out = []
    for L in LIBS:
        gn = L.nn.GroupNorm(2, 4, 1e-5, True, None, L.float64)
        lazy = L.nn.LazyBatchNorm1d(bias=False)
        lazy(L.ones(3, 5))
        sync = L.nn.SyncBatchNorm(3, bias=False)
        out.append((str(gn.weight.dtype).split(".")[-1], repr(lazy), list(lazy.state_dict()),
                    list(sync.state_dict()), list(L.nn.GroupNorm(2, 4, bias=False).state_dict())))
    assert out[0] == out[1]


def test_hardtanh_deprecated_keywords():
    out = []
    for L in LIBS:
        with pytest.warns(FutureWarning, match="`max_value` is deprecated"):
            m = L.nn.Hardtanh(max_value=0.5, min_value=-0.25)
        out.append((repr(m), _np(m(L.tensor([-1.0, 0.0, 1.0])))))
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])


def test_functional_operand_named_input():
    x = np.array([-1.5, 0.0, 2.0], np.float32)
    for fn, kwargs in [("leaky_relu", {"negative_slope": 0.2}), ("sigmoid", {}), ("tanh", {})]:
        got = [_np(getattr(L.nn.functional, fn)(input=L.tensor(x), **kwargs)) for L in LIBS]
        np.testing.assert_allclose(got[1], got[0], rtol=1e-6)


def _rotary_like(L, log):
    class Rotary(L.nn.Module):
        """Keeps a plain tensor attribute in step with .to()/.half() by overriding _apply, as
        third-party modules do."""
        def __init__(self):
            super().__init__()
            self.cache = L.ones(2)
            self.lin = L.nn.Linear(2, 2)

        def _apply(self, fn, recurse=True):
            self.cache = fn(self.cache)
            log.append(str(self.cache.dtype).split(".")[-1])
            return super()._apply(fn, recurse)
    return Rotary()


def test_apply_takes_tensor_functions_and_reaches_overrides():
    out = []
    for L in LIBS:
        log = []
        m = L.nn.Sequential(_rotary_like(L, log), L.nn.BatchNorm1d(2))
        weight, running_mean = m[0].lin.weight, m[1].running_mean
        m.double()
        m.half()
        m.to(L.float32)
        m._apply(lambda t: t * 0 + 2 if t.is_floating_point() else t)
        sd = m.state_dict()
        out.append((log, str(m[0].cache.dtype).split(".")[-1], m[0].lin.weight is weight,
                    m[1].running_mean is running_mean,
                    {k: (str(v.dtype).split(".")[-1], _np(v).tolist()) for k, v in sd.items()}))
    assert out[0] == out[1]


def test_modules_remove_duplicate():
    counts = []
    for L in LIBS:
        lin = L.nn.Linear(1, 1)
        s = L.nn.Sequential(lin, lin)
        counts.append((len(list(s.modules())), len(list(s.modules(remove_duplicate=False)))))
    assert counts[0] == counts[1]


def test_multihead_attention_merge_masks():
    rs = np.random.RandomState(0)
    attn2, attn3 = rs.randn(5, 5).astype(np.float32), rs.randn(6, 5, 5).astype(np.float32)
    pad = rs.randn(3, 5).astype(np.float32)
    out = []
    for L in LIBS:
        m = L.nn.MultiheadAttention(4, 2, batch_first=True)
        q = L.ones(3, 5, 4)
        res = []
        for a, k in [(None, None), (None, pad), (attn2, None), (attn2, pad), (attn3, pad)]:
            merged, kind = m.merge_masks(None if a is None else L.tensor(a),
                                         None if k is None else L.tensor(k), q)
            res.append((_np(merged), kind))
        out.append(res)
    for (tm, tk), (mm, mk) in zip(*out):
        assert tk == mk
        assert (tm is None) == (mm is None)
        if tm is not None:
            np.testing.assert_allclose(mm, tm)


def test_norm_reset_methods_and_embedding_padding_fill():
    out = []
    for L in LIBS:
        states = []
        for mod in [L.nn.GroupNorm(2, 4), L.nn.InstanceNorm1d(3, affine=True,
                                                              track_running_stats=True)]:
            for t in list(mod.parameters()) + list(mod.buffers()):
                t.data.fill_(5)
            mod.reset_parameters()
            states.append({k: _np(v).tolist() for k, v in mod.state_dict().items()})
        inorm = L.nn.InstanceNorm2d(3, track_running_stats=True)
        inorm.running_mean.fill_(3.0)
        inorm.reset_running_stats()
        states.append(_np(inorm.running_mean).tolist())
        e = L.nn.Embedding(3, 2, padding_idx=1)
        e.weight.data.fill_(2.0)
        e._fill_padding_idx_with_zero()
        states.append(_np(e.weight).tolist())
        out.append(states)
    assert out[0] == out[1]


@pytest.mark.parametrize("cls,kw", [("GRU", {}), ("LSTM", {"proj_size": 2}),
                                    ("RNN", {"bidirectional": True, "batch_first": True})])
def test_rnn_public_check_helpers(cls, kw):
    out = []
    for L in LIBS:
        m = getattr(L.nn, cls)(3, 4, **kw)
        x = L.ones(2, 5, 3) if kw.get("batch_first") else L.ones(5, 2, 3)
        res = [m.get_expected_hidden_size(x, None),
               m.get_expected_hidden_size(L.ones(7, 3), L.tensor([3, 2, 2]))]
        bad_hidden = (L.zeros(1, 3, 2), L.zeros(1, 2, 4)) if cls == "LSTM" else L.zeros(9)
        for call in (lambda: m.check_input(L.ones(5, 2), None),
                     lambda: m.check_input(L.ones(5, 2, 2), None),
                     lambda: m.check_input(x.double(), None),
                     lambda: m.check_forward_args(x, bad_hidden, None)):
            res.append(_error(call))
        hx = L.arange(8.0).reshape(1, 2, 4)
        hx = (hx, hx * 2) if cls == "LSTM" else hx
        permuted = m.permute_hidden(hx, L.tensor([1, 0]))
        permuted = permuted if isinstance(permuted, tuple) else (permuted,)
        res.append([_np(t).tolist() for t in permuted])
        out.append(res)
    assert out[0] == out[1]


def test_call_impl_aliases_run_hooks():
    for L in LIBS:
        lin = L.nn.Linear(2, 2)
        lin.register_forward_hook(lambda mod, args, out: out * 0)
        for call in (lin._call_impl, lin._wrapped_call_impl):
            assert float(call(L.ones(1, 2)).abs().sum()) == 0.0


@pytest.mark.parametrize("lq,lk", [(3, 5), (4, 4)])
def test_attention_causal_bias(lq, lk):
    out = []
    for L in LIBS:
        bias = import_module(L.__name__ + ".nn.attention.bias")
        q = L.tensor(np.random.RandomState(0).randn(2, 2, lq, 4).astype(np.float32),
                     requires_grad=True)
        k = L.tensor(np.random.RandomState(1).randn(2, 2, lk, 4).astype(np.float32))
        masks = (bias.causal_lower_right(lq, lk), bias.causal_upper_left(lq, lk))
        ys = [L.nn.functional.scaled_dot_product_attention(q, k, k, attn_mask=m) for m in masks]
        (ys[0].sum() + 2 * ys[1].sum()).backward()
        out.append(([_np(y) for y in ys], [_np(m._materialize()) for m in masks],
                    int(masks[0].variant), _np(q.grad)))
    for t, m in zip(out[0][0] + out[0][1] + [out[0][3]], out[1][0] + out[1][1] + [out[1][3]]):
        np.testing.assert_allclose(m, t, rtol=1e-5, atol=1e-6)
    assert out[0][2] == out[1][2]


def test_lazy_state_dict_round_trip():
    out = []
    for L in LIBS:
        sd = L.nn.LazyLinear(3).state_dict()
        fresh = L.nn.LazyLinear(3)
        result = fresh.load_state_dict(sd)
        still_lazy = fresh.has_uninitialized_params()
        y = fresh(L.ones(2, 4))
        err = _error(lambda: L.nn.Linear(2, 3).load_state_dict(sd))
        out.append(([type(v).__name__ for v in sd.values()], repr(result), still_lazy,
                    tuple(y.shape), err[0], err[1][:40]))
    assert out[0] == out[1]


# ---- scaled_dot_product_attention with an attn_mask and is_causal together ------------------
@pytest.mark.parametrize("mask_kind", ["bool", "float", "float_grad"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sdpa_attn_mask_and_causal_together(mask_kind, dtype):
    """PyTorch 2.13's CPU kernels apply both (a bool mask and-ed with the causal one, a float
    mask added beside -inf above the diagonal; rows left with nothing give 0); a mask that
    needs a gradient is refused by both (their reference kernel takes only one of the two)."""
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 3, 4, 8))
    k = rng.standard_normal((2, 3, 5, 8))
    mask = (rng.random((4, 5)) > 0.4) if mask_kind == "bool" else \
        rng.standard_normal((2, 1, 4, 5))
    out = []
    for L in LIBS:
        dt = getattr(L, dtype)
        Q = L.tensor(q, dtype=dt, requires_grad=True)
        K = L.tensor(k, dtype=dt, requires_grad=True)
        M = L.tensor(mask) if mask_kind == "bool" else L.tensor(
            mask, dtype=dt, requires_grad=mask_kind == "float_grad")
        if mask_kind == "float_grad":      # a mask that needs a gradient: refused by both
            with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
                L.nn.functional.scaled_dot_product_attention(Q, K, K, attn_mask=M,
                                                             is_causal=True)
            out.append([])
            continue
        y = L.nn.functional.scaled_dot_product_attention(Q, K, K, attn_mask=M, is_causal=True)
        (y * y).sum().backward()
        out.append([_np(y), _np(Q.grad), _np(K.grad)])
    tol = 1e-12 if dtype == "float64" else 2e-5
    for a, b in zip(*out):
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


SDPA_PAIRS = {      # which calls with both an attn_mask and is_causal each library takes
    "mask needs grad": lambda L, q, m: dict(q=q, attn_mask=m.clone().requires_grad_()),
    "query needs grad": lambda L, q, m: dict(q=q.clone().requires_grad_(), attn_mask=m),
    "dropout": lambda L, q, m: dict(q=q, attn_mask=m, dropout_p=0.1),
    "3-d": lambda L, q, m: dict(q=q[0], attn_mask=m),
    "value dim": lambda L, q, m: dict(q=q, v=q[..., :5], attn_mask=m),
    "grouped heads": lambda L, q, m: dict(q=q, k=q[:, :1], v=q[:, :1], attn_mask=m,
                                          enable_gqa=True),
    "heads differ": lambda L, q, m: dict(q=q, k=q[:, :1], v=q[:, :1], attn_mask=m),
    "key batch 1": lambda L, q, m: dict(q=q, k=q[:1], v=q[:1], attn_mask=m),
    "3-d mask": lambda L, q, m: dict(q=q, attn_mask=m.expand(3, 4, 4)),
    "4-d mask": lambda L, q, m: dict(q=q, attn_mask=m.expand(2, 3, 4, 4)),
    "last dim strided": lambda L, q, m: dict(
        q=q.transpose(-1, -2).contiguous().transpose(-1, -2), attn_mask=m),
    "other dims strided": lambda L, q, m: dict(
        q=q.transpose(1, 2).contiguous().transpose(1, 2), attn_mask=m),
}


@pytest.mark.parametrize("name", sorted(SDPA_PAIRS))
def test_sdpa_mask_with_causal_taken_or_refused_as_torch(name):
    rng = np.random.default_rng(4)
    q, m = rng.standard_normal((2, 3, 4, 8)), rng.standard_normal((4, 4))
    outcomes = []
    for L in LIBS:
        kw = SDPA_PAIRS[name](L, L.tensor(q), L.tensor(m))
        query = kw.pop("q")
        key, value = kw.pop("k", query), kw.pop("v", query)
        try:
            y = L.nn.functional.scaled_dot_product_attention(query, key, value, is_causal=True,
                                                             **kw)
            outcomes.append(None if kw.get("dropout_p") else _np(y))
        except RuntimeError as exc:
            outcomes.append(str(exc))
    a, b = outcomes
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
    elif a is not None:
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
