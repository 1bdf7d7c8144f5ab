"""Round 42: torch.nn names that were missing (nn.factory_kwargs, F.grouped_mm, the fused
attention questions and flash-attention registry of nn.attention), BatchNorm's unbiased running
variance, and a sweep of module semantics over every layer, each compared with PyTorch."""
import copy
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = (torch, minigrad)


def _words(x):
    return str(x).replace("minigrad", "torch")


def outcome(fn, lib):
    """fn(lib) as a comparable string, or the exception's type and words."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _words(fn(lib))
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return f"{type(exc).__name__}: {_words(exc)}"


def agree(fn):
    want, got = outcome(fn, torch), outcome(fn, minigrad)
    assert got == want


# ---- nn.factory_kwargs ----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    None, {}, {"device": "cpu"}, {"device": None, "dtype": "float64"},
    {"memory_format": "channels_last"}, {"device": "cpu", "factory_kwargs": {"dtype": "int64"}},
    {"factory_kwargs": {"dtype": "int64", "other": 1}}, {"requires_grad": True},
    {"dtype": "float64", "factory_kwargs": {"dtype": "int64"}}, {"factory_kwargs": None},
    {"factory_kwargs": 3}])
def test_factory_kwargs(kwargs):
    def call(lib):
        def resolve(v):
            return getattr(lib, v) if isinstance(v, str) and v != "cpu" else v
        if kwargs is None:
            return lib.nn.factory_kwargs(None)
        kw = {k: (dict((a, resolve(b)) for a, b in v.items()) if isinstance(v, dict) else
                  resolve(v)) for k, v in kwargs.items()}
        return sorted(lib.nn.factory_kwargs(kw).items(), key=str)   # PyTorch: set order
    agree(call)


def test_factory_kwargs_builds_a_layer():
    def call(lib):
        class Scale(lib.nn.Module):
            def __init__(self, n, **kwargs):
                super().__init__()
                self.w = lib.nn.Parameter(lib.ones(n, **lib.nn.factory_kwargs(kwargs)))
        return Scale(3, dtype=lib.float64).w.dtype, lib.nn.factory_kwargs({"x": 1})
    agree(call)


# ---- F.grouped_mm ---------------------------------------------------------------------------
_LAYOUTS = [((8, 4), (3, 4, 8), [2, 4, 8]), ((8, 4), (3, 4, 8), [0, 5, 8]),
            ((3, 8, 4), (3, 4, 8), None), ((3, 8, 4), (4, 8), [2, 4, 8]),
            ((8, 8), (8, 4), [2, 4, 8]), ((8, 8), (8, 4), [3, 3, 8])]


@pytest.mark.parametrize("sa,sb,offs", _LAYOUTS)
def test_grouped_mm_values_and_grads(sa, sb, offs):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    outs = []
    for lib in LIBS:
        ta = lib.tensor(a, dtype=lib.float32, requires_grad=True)
        tb = lib.tensor(b, dtype=lib.float32, requires_grad=True)
        o = None if offs is None else lib.tensor(offs, dtype=lib.int32)
        y = lib.nn.functional.grouped_mm(ta, tb, offs=o)
        g = lib.tensor(rng.standard_normal(tuple(y.shape)) if lib is torch else outs[0][3],
                       dtype=lib.float32)
        y.backward(g)
        outs.append((y.detach().numpy(), ta.grad.numpy(), tb.grad.numpy(), g.numpy()))
    for want, got in zip(outs[0][:3], outs[1][:3]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_grouped_mm_second_order_matches_torch_slices():
    """Second derivatives: PyTorch's grouped_mm has none on CPU, so the reference is the
    same products written with torch slices and matmul."""
    rng = np.random.default_rng(1)
    a, b, offs = rng.standard_normal((6, 4)), rng.standard_normal((2, 4, 3)), [2, 6]

    def run(lib, grouped):
        ta = lib.tensor(a, requires_grad=True)
        tb = lib.tensor(b, requires_grad=True)
        if grouped:   # float64 is refused by PyTorch's kernel, so minigrad alone runs it so
            y = lib.nn.functional.grouped_mm(ta.float(), tb.float(),
                                             offs=lib.tensor(offs, dtype=lib.int32)).double()
        else:
            y = lib.cat([ta[:2] @ tb[0], ta[2:] @ tb[1]])
        ga, = lib.autograd.grad((y ** 2).sum(), ta, create_graph=True)
        gb, = lib.autograd.grad((ga ** 2).sum(), tb)
        return gb.numpy()
    np.testing.assert_allclose(run(minigrad, True), run(torch, False), rtol=1e-4)


@pytest.mark.parametrize("case", range(15))
def test_grouped_mm_errors(case):
    def call(lib):
        F, R = lib.nn.functional, lib.randn

        def ints(*v):
            return lib.tensor(v, dtype=lib.int32)
        calls = [
            lambda: F.grouped_mm(R(3, 8, 4), R(3, 4, 8), offs=ints(2, 4, 8)),
            lambda: F.grouped_mm(R(3, 8, 4), R(4, 8)),
            lambda: F.grouped_mm(R(8, 4), R(3, 4, 8), offs=ints(2, 4, 8).long()),
            lambda: F.grouped_mm(R(8, 4), R(3, 4, 8), offs=ints(2, 4, 8), bias=R(3, 8)),
            lambda: F.grouped_mm(R(8, 4), R(3, 4, 8), offs=ints(2, 4, 8), out_dtype=lib.float64),
            lambda: F.grouped_mm(lib.ones(8, 4, dtype=lib.int32), lib.ones(3, 4, 8),
                                 offs=ints(2, 4, 8)),
            lambda: F.grouped_mm(R(8, 4).double(), R(3, 4, 8).double(), offs=ints(2, 4, 8)),
            lambda: F.grouped_mm(R(8, 4), R(3, 4, 8).half(), offs=ints(2, 4, 8)),
            lambda: F.grouped_mm(R(8, 8), R(3, 4, 8), offs=ints(2, 4, 8)),
            lambda: F.grouped_mm(R(8), R(3, 4, 8), offs=ints(2, 4, 8)),
            lambda: F.grouped_mm(R(8, 4), R(8), offs=ints(2, 4, 8)),
            lambda: F.grouped_mm(R(8, 4), R(3, 4, 8), offs=ints(2, 8)),
            lambda: F.grouped_mm(R(8, 4), R(3, 4, 8), offs=ints(2, 4, 8)[None]),
            lambda: F.grouped_mm(R(2, 8, 4), R(3, 4, 8)),
            lambda: F.grouped_mm(R(8, 16).bfloat16(), R(3, 16, 16).bfloat16(),
                                 offs=ints(2, 4, 8)).dtype,
        ]
        out = calls[case]()
        return out if case == 14 else tuple(out.shape)
    agree(call)


# ---- nn.attention: fused-kernel questions, the flash-attention registry ----------------------
def test_sdpa_params_and_can_use():
    def call(lib):
        A = lib.nn.attention
        q = lib.ones(1, 2, 3, 4)
        p = A.SDPAParams(q, q, q, None, 0.25, True, False)
        r = [tuple(p.query.shape), p.attn_mask, p.dropout, p.is_causal, p.enable_gqa,
             A.can_use_flash_attention(p), A.can_use_efficient_attention(p, True),
             lib.backends.cuda.can_use_cudnn_attention(p),
             lib.backends.cuda.SDPAParams is A.SDPAParams,
             lib.backends.cuda.SDPBackend is A.SDPBackend]
        for bad in (lambda: A.SDPAParams(q, q, q), lambda: setattr(p, "dropout", 0.5)):
            try:
                bad()
            except (TypeError, AttributeError) as exc:
                r.append(type(exc).__name__)
        return r
    agree(call)


def test_flash_attention_registry():
    def call(lib):
        A = lib.nn.attention
        log, r = [], [A.list_flash_attention_impls(), A.current_flash_attention_impl()]

        class Handle:
            def remove(self):
                log.append("removed")
        A.register_flash_attention_impl("Mine", register_fn=lambda: log.append("on"))
        A.register_flash_attention_impl("Kept", register_fn=Handle)
        r.append(A.list_flash_attention_impls())
        A.activate_flash_attention_impl("Mine")
        r.append(A.current_flash_attention_impl())
        A.activate_flash_attention_impl("Kept")
        r.append(A.current_flash_attention_impl())
        A.restore_flash_attention_impl()
        r.append((A.current_flash_attention_impl(), list(log)))
        for bad in (lambda: A.activate_flash_attention_impl("nope"),
                    lambda: A.activate_flash_attention_impl("FA3"),
                    lambda: A.register_flash_attention_impl("X", lambda: None)):
            try:
                bad()
            except Exception as exc:  # noqa: BLE001
                r.append(f"{type(exc).__name__}: {exc}".replace("'Kept', 'Mine', ", ""))
        r.append(A.current_flash_attention_impl())
        for name in ("Mine", "Kept"):   # leave the registry as it was
            A._registry._FLASH_ATTENTION_IMPLS.pop(name) if lib is torch else \
                A._kernel_checks._IMPLS.pop(name)
        return r
    agree(call)


# ---- BatchNorm's running variance: the unbiased factor applied in double ---------------------
@pytest.mark.parametrize("momentum", [None, 0.1, 0.5])
def test_batch_norm_running_var_rounding(momentum):
    def call(lib):
        m = lib.nn.BatchNorm1d(2, momentum=momentum)
        x = lib.arange(12.).reshape(6, 2)
        m(x)
        first = m.running_var.tolist()
        m(x * 2)
        return first, m.running_var.tolist(), m.running_mean.tolist()
    agree(call)


# ---- every layer: repr, state_dict, named_* with prefixes, train/eval, deepcopy, to(dtype) ----
def _ctor_table(lib):
    nn, t = lib.nn, lib.zeros
    one = ((), {})
    table = {n: one for n in (
        "BCELoss BCEWithLogitsLoss CELU CTCLoss CosineEmbeddingLoss CosineSimilarity Dropout "
        "Dropout1d Dropout2d Dropout3d ELU FeatureAlphaDropout Flatten GLU GaussianNLLLoss "
        "Hardshrink Hardsigmoid Hardswish Hardtanh HingeEmbeddingLoss HuberLoss Identity "
        "KLDivLoss L1Loss LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d LazyInstanceNorm1d "
        "LazyInstanceNorm2d LazyInstanceNorm3d LogSigmoid MSELoss MarginRankingLoss Mish Module "
        "MultiLabelMarginLoss MultiLabelSoftMarginLoss MultiMarginLoss NLLLoss NLLLoss2d PReLU "
        "PairwiseDistance PoissonNLLLoss RReLU ReLU SELU SiLU Sigmoid SmoothL1Loss "
        "SoftMarginLoss Softmax2d Softplus Softshrink Softsign Tanh Tanhshrink "
        "TripletMarginLoss TripletMarginWithDistanceLoss").split()}
    for n in ("AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d "
              "AdaptiveMaxPool3d AvgPool1d MaxPool1d MaxPool3d CrossMapLRN2d "
              "LocalResponseNorm").split():
        table[n] = ((3,), {})
    for d in "123":
        for pad in ("Circular", "Reflection", "Replication", "Zero"):
            table[f"{pad}Pad{d}d"] = ((1,), {})
        table[f"ConstantPad{d}d"] = ((1, 2.0), {})
        table[f"LPPool{d}d"] = ((2, 3), {})
        table[f"MaxUnpool{d}d"] = ((2,), {})
        table[f"LazyConv{d}d"] = ((4, 3), {})
        table[f"LazyConvTranspose{d}d"] = ((4, 3), {})
        table[f"InstanceNorm{d}d"] = ((4,), {"affine": d == "2", "track_running_stats": d == "3"})
    table.update({
        "AdaptiveMaxPool2d": ((3,), {"return_indices": True}),
        "AdaptiveLogSoftmaxWithLoss": ((8, 10, [4, 7]), {"div_value": 2.0}),
        "AlphaDropout": ((0.3,), {}), "AvgPool2d": ((3, 2), {"ceil_mode": True}),
        "AvgPool3d": ((3,), {"divisor_override": 2}), "BatchNorm1d": ((4,), {}),
        "BatchNorm2d": ((4,), {"affine": False}),
        "BatchNorm3d": ((4,), {"track_running_stats": False}), "Bilinear": ((3, 4, 5), {}),
        "ChannelShuffle": ((2,), {}), "Conv1d": ((2, 4, 3), {}),
        "Conv2d": ((2, 4, 3), {"padding": 1, "bias": False}),
        "Conv3d": ((2, 4, 3), {"stride": 2, "padding_mode": "reflect"}),
        "ConvTranspose1d": ((2, 4, 3), {}),
        "ConvTranspose2d": ((2, 4, 3), {"output_padding": 1, "stride": 2}),
        "ConvTranspose3d": ((2, 4, 3), {"groups": 2}),
        "CrossEntropyLoss": ((), {"label_smoothing": 0.1}),
        "Embedding": ((10, 3), {"padding_idx": 0}), "EmbeddingBag": ((10, 3), {}),
        "Fold": ((4, 2), {}), "FractionalMaxPool2d": ((2,), {"output_size": 3}),
        "FractionalMaxPool3d": ((2,), {"output_ratio": 0.5}),
        "GELU": ((), {"approximate": "tanh"}), "GRU": ((3, 4), {"num_layers": 2}),
        "GRUCell": ((3, 4), {}), "GroupNorm": ((2, 4), {}), "LayerNorm": ((4,), {}),
        "LSTM": ((3, 4), {"proj_size": 2, "bidirectional": True}), "LSTMCell": ((3, 4), {}),
        "LazyLinear": ((4,), {}), "LeakyReLU": ((0.2,), {}), "Linear": ((3, 4), {}),
        "LinearCrossEntropyLoss": ((3, 5), {}), "LogSoftmax": ((1,), {}),
        "MaxPool2d": ((3,), {"return_indices": True, "dilation": 2}),
        "MultiheadAttention": ((8, 2), {}), "PixelShuffle": ((2,), {}),
        "PixelUnshuffle": ((2,), {}), "RMSNorm": ((4,), {}),
        "RNN": ((3, 4), {"nonlinearity": "relu"}), "RNNCell": ((3, 4), {}),
        "ReLU6": ((), {"inplace": True}), "Softmax": ((-1,), {}), "Softmin": ((0,), {}),
        "SyncBatchNorm": ((4,), {}), "Threshold": ((0.1, 20.0), {}),
        "Transformer": ((), {"d_model": 8, "nhead": 2, "num_encoder_layers": 1,
                             "num_decoder_layers": 1, "dim_feedforward": 16}),
        "TransformerDecoderLayer": ((8, 2), {"dim_feedforward": 16}),
        "TransformerEncoderLayer": ((8, 2), {"dim_feedforward": 16, "norm_first": True}),
        "Unflatten": ((1, (2, 2)), {}), "Unfold": ((2,), {}),
        "Upsample": ((), {"scale_factor": 2}), "UpsamplingBilinear2d": ((), {"scale_factor": 2}),
        "UpsamplingNearest2d": ((), {"size": 3}),
        "Sequential": ((nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), {}),
        "ModuleList": (([nn.Linear(2, 3), nn.Tanh()],), {}),
        "ModuleDict": (({"a": nn.Linear(2, 3), "b": nn.ReLU()},), {}),
        "ParameterList": (([nn.Parameter(t(2))],), {}),
        "ParameterDict": (({"w": nn.Parameter(t(2)), "v": t(1)},), {}),
        "TransformerEncoder": ((nn.TransformerEncoderLayer(8, 2, 16),),
                               {"num_layers": 2, "enable_nested_tensor": False}),
        "TransformerDecoder": ((nn.TransformerDecoderLayer(8, 2, 16),),
                               {"num_layers": 2, "norm": nn.LayerNorm(8)}),
    })
    return table


_LAYERS = sorted(_ctor_table(torch))


def _layer_facts(lib, name):
    lib.manual_seed(0)
    args, kwargs = _ctor_table(lib)[name]
    m = getattr(lib.nn, name)(*args, **kwargs)
    lazy = m.has_uninitialized_params() if hasattr(m, "has_uninitialized_params") else False
    shape = (lambda v: "lazy") if lazy else (lambda v: None if v is None else tuple(v.shape))
    f = [repr(m), m.extra_repr(), m.training]
    f.append([(k, shape(v), _words(v.dtype)) for k, v in m.state_dict().items()])
    f.append([(k, shape(p), p.requires_grad) for k, p in m.named_parameters(prefix="p")])
    f.append([(k, shape(b)) for k, b in m.named_buffers(prefix="b", remove_duplicate=False)])
    f.append([(k, type(v).__name__) for k, v in m.named_modules(prefix="root")])
    f.append([k for k, _ in m.named_children()])
    f.append([k for k, _ in m.named_parameters(recurse=False)])
    f.append([x.training for x in m.eval().modules()])
    if not lazy:
        c = copy.deepcopy(m)
        f.append([(k, _words(v.dtype)) for k, v in c.to(lib.float64).state_dict().items()])
        f.append([(k, _words(v.dtype)) for k, v in c.half().state_dict().items()])
    return f


@pytest.mark.parametrize("name", _LAYERS)
def test_layer_facts(name):
    assert _words(_layer_facts(minigrad, name)) == _words(_layer_facts(torch, name))


@pytest.mark.parametrize("name", [n for n in _LAYERS if not n.startswith("Lazy")])
def test_layer_seeded_init_and_load(name):
    """Same seed, same initial values (reset_parameters draws as PyTorch does); PyTorch's
    state_dict then loads with no missing or unexpected keys."""
    built = []
    for lib in LIBS:
        lib.manual_seed(0)
        args, kwargs = _ctor_table(lib)[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built.append(getattr(lib.nn, name)(*args, **kwargs))
    ref, mine = built
    for k, v in mine.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ref.state_dict()[k].numpy())
    sd = OrderedDict((k, minigrad.tensor(v.detach().numpy() * 2))
                     for k, v in ref.state_dict().items())
    result = mine.load_state_dict(sd)
    assert (result.missing_keys, result.unexpected_keys) == ([], [])
    for k, v in mine.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy())


# ---- module semantics programs rely on ------------------------------------------------------
def _try(r, fn):
    try:
        r.append(_words(fn()))
    except Exception as exc:  # noqa: BLE001
        r.append(f"{type(exc).__name__}: {_words(exc)}")


def sem_load_state_dict(lib):
    nn, r = lib.nn, []
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    sd = m.state_dict()
    sd.pop("0.bias")
    sd["extra.w"] = lib.zeros(1)
    res = m.load_state_dict(sd, strict=False)
    r += [res, res.missing_keys, res.unexpected_keys]
    _try(r, lambda: m.load_state_dict(sd))
    _try(r, lambda: nn.Linear(2, 3).load_state_dict({"weight": lib.zeros(3, 3),
                                                     "bias": lib.zeros(3)}, strict=False))
    _try(r, lambda: nn.Linear(2, 3).load_state_dict({"weight": [1.0], "bias": lib.zeros(3)}))
    _try(r, lambda: nn.Linear(2, 3).load_state_dict([1, 2]))
    lin, w = nn.Linear(2, 3), lib.ones(3, 2, dtype=lib.float64)
    r.append(lin.load_state_dict({"weight": w, "bias": lib.zeros(3)}, assign=True))
    r += [lin.weight.dtype, type(lin.weight).__name__, lin.weight.requires_grad]
    r.append(dict(m.state_dict()._metadata))
    return r


def sem_buffers_and_setattr(lib):
    nn, r = lib.nn, []
    m = nn.Module()
    m.register_buffer("a", lib.zeros(2))
    m.register_buffer("b", lib.ones(2), persistent=False)
    m.register_buffer("c", None)
    r += [list(m.state_dict()), [k for k, _ in m.named_buffers()], m.c]
    for args in (("a.b", lib.zeros(1)), ("", lib.zeros(1)), ("x", 3)):
        _try(r, lambda: m.register_buffer(*args))
    lin = nn.Linear(2, 3)
    _try(r, lambda: setattr(lin, "weight", lib.zeros(3, 2)))
    lin.weight = None
    lin.sub = nn.ReLU()
    lin.sub = None
    r += [list(lin._parameters), list(lin._modules), lin.weight, lin.sub]
    _try(r, lambda: setattr(lin, "sub", 3))
    lin.plain = 5
    _try(r, lambda: setattr(lin, "plain", nn.Parameter(lib.zeros(1))))
    r += ["plain" in lin.__dict__, list(lin._parameters)]
    _try(r, lambda: delattr(lin, "nothing"))
    return r


def sem_named_members(lib):
    nn = lib.nn
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    m.extra = nn.Linear(2, 2)
    m.extra.weight = lin.weight
    buf = lib.zeros(1)
    m.register_buffer("b1", buf)
    m.register_buffer("b2", buf)
    return [[k for k, _ in m.named_parameters()],
            [k for k, _ in m.named_parameters(remove_duplicate=False)],
            [k for k, _ in m.named_modules()],
            [k for k, _ in m.named_modules(prefix="x", remove_duplicate=False)],
            [k for k, _ in m.named_buffers()],
            [k for k, _ in m.named_buffers(remove_duplicate=False)], list(m.state_dict()),
            len(list(m.parameters()))]


def sem_train_grad_dtype(lib):
    nn, r = lib.nn, []
    m = nn.Sequential(nn.Dropout(), nn.Sequential(nn.BatchNorm1d(2)))
    r += [m.eval() is m, [x.training for x in m.modules()]]
    m.train()
    m[1].eval()
    r.append([x.training for x in m.modules()])
    _try(r, lambda: m.train("yes"))
    lin = nn.Linear(2, 1)
    lin(lib.ones(1, 2)).sum().backward()
    lin.zero_grad(set_to_none=False)
    r.append(lin.weight.grad)
    lin.zero_grad()
    r.append(lin.weight.grad)
    bn = nn.BatchNorm1d(2)
    bn.register_buffer("ib", lib.zeros(2, dtype=lib.int64))
    weight = bn.weight
    bn.to(lib.float64)
    r += [[(k, v.dtype) for k, v in bn.state_dict().items()], bn.weight is weight]
    bn.half()
    r += [bn.weight.dtype, bn.running_mean.dtype, bn.ib.dtype]
    _try(r, lambda: bn.to(lib.int32))
    seen = []
    m.apply(lambda x: seen.append(type(x).__name__))
    return r + [seen]


def sem_deepcopy_sharing(lib):
    nn = lib.nn
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, lin)
    m(lib.ones(1, 2)).sum().backward()
    c = copy.deepcopy(m)
    return (c[0] is c[1], c[0].weight is m[0].weight, c[0].weight.grad is not None,
            type(c[0].weight).__name__, len(list(c.parameters())))


def sem_module_list(lib):
    nn, r = lib.nn, []
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU(), nn.Tanh()])
    r += [type(ml[1:]).__name__, repr(ml[::2]), repr(ml[-1])]
    ml.insert(1, nn.Sigmoid())
    ml.insert(3, nn.ELU())
    ml.extend([nn.GELU()])
    ml.append(nn.SiLU())
    r.append(repr(ml))
    r.append(type(ml.pop(0)).__name__)
    del ml[1]
    del ml[0:2]
    ml[-1] = nn.Tanh()
    r += [list(ml._modules), repr(ml + nn.ModuleList([nn.ReLU()]))]
    _try(r, lambda: ml[10])
    _try(r, lambda: ml.extend(3))
    r.append(repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.ReLU(), nn.Tanh()])))
    _try(r, lambda: nn.ModuleList([nn.ReLU(), nn.Tanh()]).insert(-1, nn.ELU()))   # KeyError
    return r


def sem_sequential(lib):
    nn, r = lib.nn, []
    s = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    r += [repr(s[1:3]), list(s[::2]._modules)]
    s.append(nn.ELU())
    s.insert(0, nn.GELU())
    s.insert(-1, nn.SiLU())
    del s[0]
    del s[1:3]
    s[-1] = nn.Identity()
    r += [repr(s), type(s.pop(1)).__name__, list(s._modules)]
    for bad in (lambda: s[10], lambda: s.insert(20, nn.ReLU()), lambda: s.insert(0, 3),
                lambda: s * 2):
        _try(r, bad)
    named = nn.Sequential(OrderedDict([("a", nn.ReLU()), ("b", nn.Tanh())]))
    r += [repr(named[1:]), repr(named.b)]
    _try(r, lambda: named["a"])
    s2 = nn.Sequential(nn.ReLU())
    s2 += nn.Sequential(nn.Tanh())
    return r + [repr(s2), repr(s + s2)]


def sem_dicts_and_param_lists(lib):
    nn, r = lib.nn, []
    d = nn.ModuleDict({"a": nn.ReLU(), "b": nn.Linear(1, 1)})
    d["c"] = nn.Tanh()
    d.update([("e", nn.ELU())])
    r += [repr(d), type(d.pop("a")).__name__, list(d)]
    for bad in (lambda: d["zz"], lambda: d.update(3), lambda: d.update([("a",)]),
                lambda: d.__setitem__("x.y", nn.ReLU())):
        _try(r, bad)
    pl = nn.ParameterList([nn.Parameter(lib.zeros(2)), lib.ones(3)])
    pl.append(nn.Parameter(lib.zeros(1)))
    pl.extend([nn.Parameter(lib.zeros(4))])
    pl[0] = nn.Parameter(lib.zeros(7))
    r += [repr(pl), [k for k, _ in pl.named_parameters()], len(pl[1:])]
    _try(r, lambda: pl[20])
    pd = nn.ParameterDict({"a": nn.Parameter(lib.zeros(2)), "b": lib.ones(3)})
    pd["c"] = nn.Parameter(lib.zeros(1))
    r += [repr(pd), tuple(pd.pop("a").shape), pd.get("zz", 5), pd.popitem()[0]]
    pd["s"] = "string"
    return r + [repr(pd), list(pd | nn.ParameterDict({"z": nn.Parameter(lib.zeros(1))}))]


def sem_submodules_hooks_extra_state(lib):
    nn, r, log = lib.nn, [], []
    m = nn.Sequential(nn.Sequential(nn.Linear(1, 2)), nn.BatchNorm1d(2))
    r += [repr(m.get_submodule("0.0")), tuple(m.get_parameter("0.0.weight").shape)]
    for fn, arg in ((m.get_submodule, "0.5"), (m.get_parameter, "1.running_mean"),
                    (m.get_buffer, "0.0.weight"), (m.get_submodule, "x")):
        _try(r, lambda: fn(arg))
    lin = nn.Linear(2, 2)
    lin.register_forward_pre_hook(lambda mod, args: log.append("pre"))
    lin.register_forward_hook(lambda mod, args, kw, out: out * 2, with_kwargs=True)
    lin.register_forward_pre_hook(lambda mod, args: log.append("first"), prepend=True)
    r.append(tuple(lin(lib.ones(1, 2)).shape))

    class Stateful(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.v = nn.Linear(1, 1), 3

        def get_extra_state(self):
            return {"v": self.v}

        def set_extra_state(self, state):
            self.v = state["v"]
    sd = Stateful().state_dict()
    other = Stateful()
    other.v = 0
    r += [list(sd), other.load_state_dict(sd), other.v, log]
    return r


@pytest.mark.parametrize("case", [sem_load_state_dict, sem_buffers_and_setattr,
                                  sem_named_members, sem_train_grad_dtype, sem_deepcopy_sharing,
                                  sem_module_list, sem_sequential, sem_dicts_and_param_lists,
                                  sem_submodules_hooks_extra_state], ids=lambda f: f.__name__)
def test_module_semantics(case):
    agree(case)


# ---- small fixes found by the sweep ---------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("shapes", [((), ()), ((8,), (8,)), ((3, 8), (4, 8)),
                                    ((3, 2, 8), (4, 3, 8)), ((3, 2, 8), (4, 2, 7))])
def test_transformer_input_checks(batch_first, shapes):
    def call(lib):
        lib.manual_seed(0)
        m = lib.nn.Transformer(8, 2, 1, 1, 16, batch_first=batch_first)
        src, tgt = (lib.ones(s) if s else lib.tensor(1.0) for s in shapes)
        return tuple(m(src, tgt).shape)
    agree(call)


@pytest.mark.parametrize("x_dtype,stat_dtype", [("float32", "float64"), ("float64", "float32"),
                                                ("float16", "float64"), ("float32", "float16")])
def test_instance_norm_running_stats_keep_input_dtype(x_dtype, stat_dtype):
    rng = np.random.default_rng(3)
    x, rm, rv = rng.standard_normal((2, 3, 5)), rng.standard_normal(3), rng.random(3) + 0.5
    outs = []
    for lib in LIBS:
        xt = lib.tensor(x).to(getattr(lib, x_dtype))
        stats = [lib.tensor(v).to(getattr(lib, stat_dtype)) for v in (rm, rv)]
        y = lib.nn.functional.instance_norm(xt, *stats, use_input_stats=False)
        m = lib.nn.InstanceNorm1d(3, track_running_stats=True).to(getattr(lib, stat_dtype))
        m.running_mean.copy_(stats[0])
        m.running_var.copy_(stats[1])
        z = m.eval()(xt)
        outs.append((_words(y.dtype), _words(z.dtype), y.double().numpy(), z.double().numpy()))
    assert outs[1][:2] == outs[0][:2]
    tol = 1e-2 if "float16" in (x_dtype, stat_dtype) else 1e-5
    np.testing.assert_allclose(outs[1][2], outs[0][2], rtol=tol, atol=tol)
    np.testing.assert_allclose(outs[1][3], outs[0][3], rtol=tol, atol=tol)


# ---- private nn.functional helpers third-party attention layers call ------------------------
def _arr(t):
    return np.round(t.detach().double().numpy(), 6).tolist()


def test_canonical_mask_and_none_or_dtype():
    def call(lib):
        F, r = lib.nn.functional, []
        m = lib.tensor([[True, False], [False, True]])
        for args in [(m, "src_mask", None, "other", lib.float32),
                     (m, "a", lib.float32, "b", lib.float64),
                     (m.float(), "a", lib.bool, "b", lib.float64, False),
                     (None, "a", None, "b", lib.float32), (m.long(), "km", None, "o", lib.float32),
                     (m, "x", None, "o", lib.int64), (m, "x", None, "o", lib.bool)]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                _try(r, lambda: (lambda y: None if y is None else (_arr(y), y.dtype))(
                    F._canonical_mask(*args)))
            r.append([str(w.message) for w in caught])
        r += [F._none_or_dtype(None), F._none_or_dtype(m)]
        _try(r, lambda: F._none_or_dtype(3))
        return r
    agree(call)


def test_in_projection_helpers_and_shape_check():
    def call(lib):
        F, r, rng = lib.nn.functional, [], np.random.default_rng(0)
        q = lib.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
        k = lib.tensor(rng.standard_normal((5, 2, 4)))
        w = lib.tensor(rng.standard_normal((12, 4)), requires_grad=True)
        b = lib.tensor(rng.standard_normal(12))
        for qq, kk, vv, bb in [(q, q, q, b), (q, k, k, b), (q, k, k * 2, None), (q, q, q, None)]:
            outs = F._in_projection_packed(qq, kk, vv, w, bb)
            r.append((type(outs).__name__, [_arr(o)[0][0] for o in outs],
                      [o.is_contiguous() for o in outs]))
            sum(o.sum() for o in outs).backward()
            r.append(_arr(w.grad)[0])
            w.grad = None
        ws = [lib.tensor(rng.standard_normal((4, 4))) for _ in range(3)]
        r.append([_arr(o)[0][0] for o in F._in_projection(q, k, k, *ws, b[:4], None, b[4:8])])
        for bad in [(ws[0][:3], ws[1], ws[2]), (ws[0], ws[1][:, :3], ws[2]),
                    (ws[0], ws[1], ws[2], b[:3])]:
            _try(r, lambda: F._in_projection(q, k, k, *bad))
        r.append(F._mha_shape_check(q, k, k, None, None, 2))
        r.append(F._mha_shape_check(q[0], k[0], k[0], None, lib.zeros(2, 2, 2), 2))
        for args in [(q, k[0], k, None, None, 2), (q[0], k[0], k[0], None, lib.zeros(3, 3, 5), 2),
                     (q[0, 0], k, k, None, None, 2)]:
            _try(r, lambda: F._mha_shape_check(*args))
        return r
    agree(call)


def test_reduction_softmax_dim_batch_size_helpers():
    def call(lib):
        F, r = lib.nn.functional, []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r.append([F._get_softmax_dim("softmax", n, 3) for n in range(5)])
            r.append(str(caught[0].message))
        for size in ([1, 3], [1, 3, 1, 1], [2, 3], [1, 3, 2]):
            _try(r, lambda: F._verify_batch_size(size))
        red = F._Reduction
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r.append([red.get_enum(x) for x in ("none", "mean", "sum", "elementwise_mean")])
            r.append([red.legacy_get_string(a, b) for a in (None, True, False)
                      for b in (None, True, False)])
            r.append(red.legacy_get_enum(False, True, emit_warning=False))
            r.append([str(w.message) for w in caught])
        _try(r, lambda: red.get_enum("avg"))
        r.append(F._threshold(lib.tensor([0.5, 2.0]), 1.0, -1.0).tolist())
        return r
    agree(call)


def test_list_with_default():
    def call(lib):
        helper = __import__(lib.__name__ + ".nn.modules.utils",
                            fromlist=["_list_with_default"])._list_with_default
        r = [helper(3, [1, 2]), helper([None, 4], [7, 8, 9]), helper((None, None), [1, 2, 3, 4]),
             helper([None], [5, 6])]
        _try(r, lambda: helper([1, 2], [3, 4]))
        return r
    agree(call)


def test_attention_block_built_on_private_helpers():
    """A self-attention block of the kind research code writes by copying PyTorch's layers:
    masks made canonical, packed projections, heads through scaled_dot_product_attention;
    values and gradients against PyTorch, float64."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 5, 8))
    pad = np.array([[False] * 5, [False, False, False, True, True]])

    def run(lib):
        F = lib.nn.functional
        lib.manual_seed(0)
        proj = lib.nn.Linear(8, 24).double()
        inp = lib.tensor(x, requires_grad=True)
        key_pad = F._canonical_mask(lib.tensor(pad), "key_padding_mask",
                                    F._none_or_dtype(None), "attn_mask", inp.dtype)
        q, k, v = F._in_projection_packed(inp, inp, inp, proj.weight, proj.bias)
        heads = [t.unflatten(-1, (2, 4)).transpose(1, 2) for t in (q, k, v)]
        mask = key_pad[:, None, None, :]
        out = F.scaled_dot_product_attention(*heads, attn_mask=mask).transpose(1, 2).flatten(2)
        (out ** 2).sum().backward()
        return out.detach().numpy(), inp.grad.numpy(), proj.weight.grad.numpy()
    for want, got in zip(run(torch), run(minigrad)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_functional_namespace_extras():
    def call(lib):
        F, r = lib.nn.functional, []
        _try(r, lambda: F.assert_int_or_pair([1, 2, 3], "kernel", "{} must be int or pair"))
        r += [F.assert_int_or_pair(3, "k", "{}"), F.GRID_SAMPLE_INTERPOLATION_MODES,
              F.GRID_SAMPLE_PADDING_MODES, F.has_torch_function_unary(lib.ones(1)),
              F.has_torch_function((lib.ones(1),)), F.has_torch_function_variadic(lib.ones(1)),
              F.has_torch_function is lib.overrides.has_torch_function]
        return r
    agree(call)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_private_grouped_mm_moe_layout(dtype):
    """torch._grouped_mm as MoE layers call it: tokens sorted by expert, expert weights
    stored (G, N, K) and transposed, offsets by position."""
    rng = np.random.default_rng(5)
    tokens, weights = rng.standard_normal((12, 16)), rng.standard_normal((3, 8, 16))
    outs = []
    for lib in LIBS:
        x = lib.tensor(tokens).to(getattr(lib, dtype))
        w = lib.tensor(weights).to(getattr(lib, dtype))
        y = lib._grouped_mm(x, w.transpose(-2, -1), lib.tensor([5, 9, 12], dtype=lib.int32))
        outs.append((_words(y.dtype), y.float().numpy()))
    assert outs[1][0] == outs[0][0]
    tol = 5e-2 if dtype == "bfloat16" else 1e-5
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=tol, atol=tol)
