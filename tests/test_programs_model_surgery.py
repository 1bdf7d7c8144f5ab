"""Model surgery, checkpoints and data pipelines, run on minigrad and on torch.

Each ``program(lib)`` is a short piece of the kind found in fine-tuning scripts, model-zoo
loaders and tutorials: renaming and partially loading state dicts, hooks of every kind,
walking and replacing submodules, freezing layers with per-group optimizers, dtype
conversion, deep copies, ``save``/``load`` round trips, parametrizations and pruning,
fusing BatchNorm, and the ``torch.utils.data`` pipeline (datasets, samplers, collation).
Both libraries run it from the same numpy weights and inputs; they must give the same
values, dtypes, shapes and types, or raise the same exception type with torch's words in
the message (the library's name taken out), and emit the same warnings.
"""

import collections
import copy
import importlib
import io
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, err as _err, registry  # noqa: E402


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def _words(text):
    text = re.sub(r" at 0x[0-9a-f]+", " at 0x?", str(text))       # memory addresses
    return (text.replace("minigrad.tensor.Tensor", "torch.Tensor")
            .replace("minigrad.", "torch.").replace("minigrad", "torch"))


HARNESS = SideBySide(
    rename=_words, rename_error=_words,
    tol={"float16": 1e-3, "float32": 1e-5, "float64": 1e-5}, nan_scalars=False,
    tag=lambda v: type(v).__name__, tensor_type=True, requires_grad=True,
    # a warning's text without the C++ source location torch appends
    warning=lambda w: (w.category.__name__,
                       _words(w.message).split(" (Triggered internally at")[0]),
    error_kind=lambda e: type(e).__name__)
_check = HARNESS.check
# @program(words=...): the part of torch's error message minigrad must give (by default all
# of it)
PROGRAMS, program = registry()


def _set(lib, module, seed=0, scale=0.3):
    """Give every floating parameter and buffer of ``module`` seeded numpy values."""
    rng = np.random.RandomState(seed)
    with lib.no_grad():
        for _, t in list(module.named_parameters()) + list(module.named_buffers()):
            if t.is_floating_point():
                t.copy_(lib.tensor(rng.randn(*t.shape) * scale))
    return module


def _mlp(lib, seed=0):
    nn = lib.nn
    return _set(lib, nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)), seed)


X4 = _rand(6, 4, seed=1)


# ----------------------------------------------------------------------------------------------
# state dicts
# ----------------------------------------------------------------------------------------------
@program
def rename_dataparallel_keys(lib):
    src = _mlp(lib, 1)
    sd = {"module." + k: v for k, v in src.state_dict().items()}
    clean = collections.OrderedDict((k[len("module."):] if k.startswith("module.") else k, v)
                                    for k, v in sd.items())
    dst = _mlp(lib, 2)
    r = dst.load_state_dict(clean)
    return {"keys": list(clean), "r": repr(r), "fields": list(r._fields),
            "eq": r == ([], []), "out": dst(lib.tensor(X4)), "type": type(r).__name__}


@program
def strict_false_partial(lib):
    nn = lib.nn
    pre = _set(lib, nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 10)), 3)
    model = _mlp(lib, 4)
    model_dict = model.state_dict()
    keep = {k: v for k, v in pre.state_dict().items()
            if k in model_dict and v.shape == model_dict[k].shape}
    model_dict.update(keep)
    model.load_state_dict(model_dict)
    r = model.load_state_dict(keep, strict=False)
    return {"kept": sorted(keep), "missing": r.missing_keys, "unexpected": r.unexpected_keys,
            "r": repr(r), "w0": model[0].weight, "w2": model[2].weight,
            "out": model(lib.tensor(X4))}


@program
def strict_false_size_mismatch_still_raises(lib):
    model = _mlp(lib)
    sd = model.state_dict()
    sd["2.weight"] = lib.zeros(7, 5)
    model.load_state_dict(sd, strict=False)


@program
def missing_and_unexpected_message(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    sd = model.state_dict()
    del sd["0.bias"]
    sd["1.extra"] = lib.zeros(1)
    sd["2.weight"] = lib.zeros(1)
    model.load_state_dict(sd)


@program
def load_non_tensor_value(lib):
    model = lib.nn.Linear(2, 3)
    sd = model.state_dict()
    sd["bias"] = [0.0, 0.0, 0.0]
    model.load_state_dict(sd)


@program
def load_non_mapping(lib):
    lib.nn.Linear(2, 3).load_state_dict([("weight", lib.zeros(3, 2))])


@program
def load_casts_dtype_and_keeps_identity(lib):
    model = lib.nn.Linear(3, 2)
    w_before = model.weight
    sd = {k: lib.tensor(_rand(*v.shape, seed=5).astype(np.float64))
          for k, v in model.state_dict().items()}
    model.load_state_dict(sd)
    return {"same": model.weight is w_before, "w": model.weight, "b": model.bias,
            "src": sd["weight"].dtype}


@program
def assign_true_takes_dtype_and_requires_grad(lib):
    model = lib.nn.Linear(3, 2)
    model.bias.requires_grad_(False)
    sd = {k: lib.tensor(_rand(*v.shape, seed=6).astype(np.float64))
          for k, v in model.state_dict().items()}
    model.load_state_dict(sd, assign=True)
    out = model(lib.tensor(_rand(2, 3).astype(np.float64)))
    return {"w": model.weight, "b": model.bias, "out": out,
            "wtype": type(model.weight).__name__, "shares": model.weight.data_ptr() ==
            sd["weight"].data_ptr()}


@program
def state_dict_shares_storage(lib):
    model = _mlp(lib)
    sd = model.state_dict()
    sd["0.bias"].fill_(1.5)
    kv = model.state_dict(keep_vars=True)
    return {"bias": model[0].bias, "detached": sd["0.weight"].requires_grad,
            "kv_is": kv["0.weight"] is model[0].weight, "type": type(sd).__name__,
            "kv_type": type(kv["0.weight"]).__name__}


@program
def state_dict_metadata_versions(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.LayerNorm(4))
    sd = model.state_dict()
    return {"meta": {k: v.get("version") for k, v in sd._metadata.items()},
            "meta_keys": list(sd._metadata)}


@program
def batchnorm_plain_dict_without_counter(lib):
    bn = lib.nn.BatchNorm1d(3)
    sd = {k: v.clone() for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    r = bn.load_state_dict(sd)
    return {"r": repr(r), "nbt": bn.num_batches_tracked}


@program
def batchnorm_current_metadata_requires_counter(lib):
    bn = lib.nn.BatchNorm1d(3)
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    r = bn.load_state_dict(sd, strict=False)
    return {"missing": r.missing_keys}


@program
def non_persistent_buffer(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(2, 2)
            self.register_buffer("mask", lib.ones(2), persistent=False)
            self.register_buffer("scale", lib.full((2,), 2.0))
            self.register_buffer("nothing", None)
    n = Net()
    sd = n.state_dict()
    sd2 = dict(sd, mask=lib.zeros(2))
    r = n.load_state_dict(sd2, strict=False)
    return {"keys": list(sd), "buffers": [k for k, _ in n.named_buffers()],
            "unexpected": r.unexpected_keys, "mask": n.mask,
            "double": n.double().mask.dtype}


@program
def register_buffer_errors(lib):
    m = lib.nn.Linear(2, 2)
    return {"dot": _err(lambda: m.register_buffer("a.b", lib.ones(1))),
            "empty": _err(lambda: m.register_buffer("", lib.ones(1))),
            "exists": _err(lambda: m.register_buffer("weight", lib.ones(1))),
            "type": _err(lambda: m.register_buffer("c", 3)),
            "name_type": _err(lambda: m.register_buffer(1, lib.ones(1)))}


@program
def register_parameter_errors(lib):
    m = lib.nn.Linear(2, 2)
    def plain():
        m.weight = lib.ones(2, 2)
    def nonleaf():
        p = lib.nn.Parameter(lib.ones(2))
        m.register_parameter("q", p * 2)
    return {"plain": _err(plain), "nonleaf": _err(nonleaf),
            "exists": _err(lambda: m.register_parameter("training", None)),
            "none_ok": _err(lambda: m.register_parameter("extra", None)),
            "params": [k for k, _ in m.named_parameters()], "sd": list(m.state_dict())}


@program
def assign_before_init(lib):
    class Bad(lib.nn.Module):
        def __init__(self):
            self.w = lib.nn.Parameter(lib.ones(1))
            super().__init__()
    Bad()


@program
def module_before_init(lib):
    class Bad(lib.nn.Module):
        def __init__(self):
            self.fc = lib.nn.Linear(1, 1)
            super().__init__()
    Bad()


@program
def post_hook_must_not_return(lib):
    m = lib.nn.Linear(2, 2)
    m.register_load_state_dict_post_hook(lambda module, keys: keys)
    m.load_state_dict(m.state_dict())


@program
def load_pre_hook_sees_own_keys(lib):
    nn = lib.nn
    seen = []
    model = _set(lib, nn.Sequential(nn.Linear(2, 3),
                                    nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))))

    def rename(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        seen.append((prefix, sorted(state_dict), sorted(local_metadata.items())))
        old = prefix + "w"
        if old in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(old)
    for m in model.modules():
        m.register_load_state_dict_pre_hook(rename)
    sd = model.state_dict()
    sd["1.0.w"] = sd.pop("1.0.weight") * 2
    model.load_state_dict(sd)
    return {"seen": seen, "w": model[1][0].weight}


@program
def load_pre_hook_on_plain_dict(lib):
    seen = []
    m = lib.nn.Linear(2, 2)
    m._register_load_state_dict_pre_hook(
        lambda sd, prefix, meta, *rest: seen.append(sorted(meta.items())))
    m.load_state_dict(dict(m.state_dict()))
    m.load_state_dict(m.state_dict(), assign=True)
    return seen


@program
def state_dict_post_hook_drops_keys(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    calls = []

    def drop_stats(module, state_dict, prefix, local_metadata):
        calls.append((prefix, dict(local_metadata)))
        for k in [k for k in state_dict if k.endswith("num_batches_tracked")]:
            del state_dict[k]
    h = model.register_state_dict_post_hook(drop_stats)
    model.register_state_dict_pre_hook(lambda m, prefix, keep_vars: calls.append(keep_vars))
    keys = list(model.state_dict())
    h.remove()
    return {"keys": keys, "calls": calls, "after": list(model.state_dict())}


@program
def state_dict_post_hook_returning_value(lib):
    m = lib.nn.Linear(1, 1)
    m.register_state_dict_post_hook(lambda module, sd, prefix, meta: {"x": 1})
    m.state_dict()


@program
def private_state_dict_hook_replaces(lib):
    m = lib.nn.Linear(1, 1)
    m._register_state_dict_hook(
        lambda module, sd, prefix, meta: collections.OrderedDict(
            (k.upper(), v) for k, v in sd.items()))
    return list(m.state_dict())


@program
def metadata_survives_copy_and_save(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    sd = copy.deepcopy(model.state_dict())
    buf = io.BytesIO()
    lib.save(model.state_dict(), buf)
    buf.seek(0)
    loaded = lib.load(buf, weights_only=True)
    del loaded["1.num_batches_tracked"]
    r = model.load_state_dict(loaded, strict=False)
    return {"copy": dict(sd._metadata), "loaded": dict(loaded._metadata),
            "type": type(loaded).__name__, "missing": r.missing_keys}


@program
def save_parameters_and_grad_flags(lib):
    model = _mlp(lib)
    model[2].bias.requires_grad_(False)
    buf = io.BytesIO()
    lib.save({"params": list(model.parameters()), "kv": model.state_dict(keep_vars=True),
              "leaf": lib.ones(2, requires_grad=True), "ints": lib.arange(3),
              "half": lib.ones(2, dtype=lib.float16), "flag": lib.tensor([True, False]),
              "scalar": lib.tensor(7), "step": 3, "lr": 0.5, "name": "run"}, buf)
    buf.seek(0)
    ck = lib.load(buf, map_location="cpu", weights_only=True)
    return ck


@program
def load_map_location_variants(lib):
    sd = _mlp(lib).state_dict()
    out = {}
    for name, loc in [("str", "cpu"), ("device", lib.device("cpu")),
                      ("fn", lambda storage, loc: storage)]:
        buf = io.BytesIO()
        lib.save(sd, buf)
        buf.seek(0)
        out[name] = lib.load(buf, map_location=loc)["0.weight"]
    return out


# ----------------------------------------------------------------------------------------------
# hooks
# ----------------------------------------------------------------------------------------------
class _Scaled:
    """A module whose forward takes a keyword argument."""

    @staticmethod
    def make(lib):
        class Scaled(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(4, 3)

            def forward(self, x, scale=1.0):
                return self.fc(x) * scale
        return _set(lib, Scaled(), 11)


@program
def forward_pre_hooks_with_kwargs(lib):
    m = _Scaled.make(lib)
    log = []

    def plain(module, args):
        log.append(("plain", len(args)))
        return (args[0] + 1,)

    def kw(module, args, kwargs):
        log.append(("kw", sorted(kwargs)))
        return args, dict(kwargs, scale=kwargs.get("scale", 1.0) * 2)

    def single(module, args):
        return args[0] * 0.5        # a bare value is wrapped into a tuple
    h1 = m.register_forward_pre_hook(plain)
    h2 = m.register_forward_pre_hook(kw, with_kwargs=True)
    h3 = m.register_forward_pre_hook(single, prepend=True)
    x = lib.tensor(X4)
    a = m(x, scale=3.0)
    b = m(x)
    for h in (h1, h2, h3):
        h.remove()
    return {"a": a, "b": b, "c": m(x, scale=3.0), "log": log}


@program
def forward_hooks_with_kwargs_and_always_call(lib):
    m = _Scaled.make(lib)
    log = []

    def post(module, args, kwargs, output):
        log.append(("post", sorted(kwargs), tuple(output.shape)))
        return output + kwargs.get("scale", 0)
    m.register_forward_hook(post, with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("always", type(out).__name__)),
                            always_call=True)
    y = m(lib.tensor(X4), scale=2.0)
    err = _err(lambda: m(lib.ones(2, 7)))
    return {"y": y, "log": log, "err": err}


@program
def forward_hook_handle_context_and_order(lib):
    nn = lib.nn
    model = _mlp(lib)
    order = []
    with model[0].register_forward_hook(lambda m, i, o: order.append("a")):
        model[0].register_forward_hook(lambda m, i, o: order.append("b"))
        model[0].register_forward_hook(lambda m, i, o: order.append("c"), prepend=True)
        model(lib.tensor(X4))
    order.append("|")
    model(lib.tensor(X4))
    feats = {}

    def save(name):
        def hook(module, inp, out):
            feats[name] = out.detach()
        return hook
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear):
            mod.register_forward_hook(save(name))
    model(lib.tensor(X4))
    return {"order": order, "feats": feats}


@program
def full_backward_hooks(lib):
    model = _mlp(lib)
    log = []

    def bhook(module, grad_input, grad_output):
        log.append(("b", [None if g is None else tuple(g.shape) for g in grad_input],
                     [tuple(g.shape) for g in grad_output]))
        return (grad_input[0] * 0.5,)

    def prehook(module, grad_output):
        log.append(("pre", len(grad_output)))
        return (grad_output[0] * 3,)
    model[2].register_full_backward_hook(bhook)
    model[2].register_full_backward_pre_hook(prehook)
    model[0].register_full_backward_hook(
        lambda m, gi, go: log.append(("first", [g is None for g in gi])))
    x = lib.tensor(X4)
    model(x).sum().backward()
    return {"log": log, "g0": model[0].weight.grad, "g2": model[2].weight.grad}


@program
def backward_hook_on_leaf_input(lib):
    model = _mlp(lib)
    grads = []
    model[0].register_full_backward_hook(lambda m, gi, go: grads.append(gi[0]))
    x = lib.tensor(X4, requires_grad=True)
    model(x).pow(2).mean().backward()
    return {"gi": grads[0], "xg": x.grad}


@program
def backward_hook_bad_return(lib):
    model = _mlp(lib)
    model[2].register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    model(lib.tensor(X4, requires_grad=True)).sum().backward()


@program
def forward_hook_on_module_used_twice(lib):
    nn = lib.nn
    shared = _set(lib, nn.Linear(4, 4), 2)
    calls = []
    shared.register_forward_hook(lambda m, i, o: calls.append(float(o.sum())))
    model = nn.Sequential(shared, nn.Tanh(), shared)
    y = model(lib.tensor(X4))
    return {"calls": np.array(calls), "y": y, "n": len(list(model.modules())),
            "params": len(list(model.parameters()))}


# ----------------------------------------------------------------------------------------------
# walking, replacing and naming submodules
# ----------------------------------------------------------------------------------------------
def _net(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                                          nn.ReLU(inplace=True), nn.MaxPool2d(2))
            self.head = nn.ModuleDict({"fc": nn.Linear(16, 5), "drop": nn.Dropout(0.0)})
            self.out = nn.Linear(5, 2)

        def forward(self, x):
            x = self.features(x).flatten(1)
            return self.out(self.head["drop"](self.head["fc"](x)))
    return _set(lib, Net(), 21)


IMG = _rand(3, 1, 4, 4, seed=7)


@program
def named_walks(lib):
    net = _net(lib)
    return {"modules": [n for n, _ in net.named_modules()],
            "prefixed": [n for n, _ in net.named_modules(prefix="net")],
            "children": [n for n, _ in net.named_children()],
            "params": [n for n, _ in net.named_parameters()],
            "local": [n for n, _ in net.features[1].named_parameters(recurse=False)],
            "buffers": [n for n, _ in net.named_buffers(prefix="m")],
            "types": [type(m).__name__ for m in net.modules()]}


@program
def tied_weights_dedup(lib):
    nn = lib.nn

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(6, 4)
            self.dec = nn.Linear(4, 6, bias=False)
            self.dec.weight = self.emb.weight
            self.alias = self.emb
    m = Tied()
    return {"params": [n for n, _ in m.named_parameters()],
            "all": [n for n, _ in m.named_parameters(remove_duplicate=False)],
            "mods": [n for n, _ in m.named_modules()],
            "mods_all": [n for n, _ in m.named_modules(remove_duplicate=False)],
            "sd": list(m.state_dict()), "count": sum(p.numel() for p in m.parameters())}


@program
def apply_init_order(lib):
    nn = lib.nn
    net = _net(lib)
    order = []

    def init(m):                    # called children first, the root last
        order.append(type(m).__name__)
        if isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            return
        if not isinstance(m, (nn.Conv2d, nn.Linear)):
            return
        nn.init.constant_(m.weight, 0.1)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    r = net.apply(init)
    return {"order": order, "same": r is net, "y": net.eval()(lib.tensor(IMG))}


@program
def get_and_set_submodule(lib):
    nn = lib.nn
    net = _net(lib)
    conv = net.get_submodule("features.0")
    net.set_submodule("head.fc", _set(lib, nn.Linear(16, 5), 4))
    net.set_submodule("features.2", nn.Identity())
    return {"conv": type(conv).__name__, "w": net.get_parameter("head.fc.weight"),
            "rm": net.get_buffer("features.1.running_mean"),
            "missing": _err(lambda: net.get_submodule("features.9")),
            "not_mod": _err(lambda: net.get_submodule("out.weight")),
            "not_param": _err(lambda: net.get_parameter("features.1.running_mean")),
            "no_attr": _err(lambda: net.get_parameter("out.nope")),
            "not_buf": _err(lambda: net.get_buffer("out.weight")),
            "strict": _err(lambda: net.set_submodule("head.new", nn.ReLU(), strict=True)),
            "repr": repr(net.features), "y": net.eval()(lib.tensor(IMG))}


@program
def replace_layers_by_type(lib):
    nn = lib.nn
    net = _net(lib)

    def swap(module):
        for name, child in module.named_children():
            if isinstance(child, nn.ReLU):
                setattr(module, name, nn.LeakyReLU(0.2))
            elif isinstance(child, nn.BatchNorm2d):
                setattr(module, name, nn.Identity())
            else:
                swap(child)
    swap(net)
    net.out = _set(lib, nn.Linear(5, 3), 9)
    del net.head["drop"]
    net.head["drop"] = nn.Identity()
    return {"repr": repr(net), "keys": list(net.state_dict()), "y": net(lib.tensor(IMG))}


@program
def sequential_surgery(lib):
    nn = lib.nn
    seq = _mlp(lib)
    seq.append(nn.Softmax(dim=1))
    seq.insert(1, nn.Dropout(0.0))
    popped = seq.pop(2)
    del seq[-1]
    seq.extend([nn.Tanh()])
    head = seq[:2]
    return {"repr": repr(seq), "popped": type(popped).__name__, "head": repr(head),
            "keys": list(seq.state_dict()), "len": len(seq), "y": seq(lib.tensor(X4)),
            "neg": type(seq[-1]).__name__, "bad": _err(lambda: seq[10])}


@program
def delattr_and_none_params(lib):
    m = lib.nn.Linear(3, 2)
    del m.bias
    m.register_parameter("bias", None)
    m2 = lib.nn.Linear(3, 2, bias=False)
    return {"keys": list(m.state_dict()), "bias": m.bias is None, "repr": repr(m2),
            "keys2": list(m2.state_dict()), "params": [n for n, _ in m.named_parameters()]}



# ----------------------------------------------------------------------------------------------
# freezing and per-group optimizers
# ----------------------------------------------------------------------------------------------
Y2 = np.array([0, 1, 1], dtype=np.int64)


@program
def freeze_backbone_train_head(lib):
    net = _net(lib)
    net.features.requires_grad_(False)
    net.features.eval()
    opt = lib.optim.SGD(filter(lambda p: p.requires_grad, net.parameters()), lr=0.1,
                        momentum=0.9)
    before = net.features[0].weight.clone()
    for _ in range(2):
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(net(lib.tensor(IMG)), lib.tensor(Y2))
        loss.backward()
        opt.step()
    return {"frozen_grad": net.features[0].weight.grad is None,
            "unchanged": bool((net.features[0].weight == before).all()),
            "rm": net.features[1].running_mean, "fc": net.head["fc"].weight,
            "n_groups": len(opt.param_groups), "n_params": len(opt.param_groups[0]["params"]),
            "trainable": [n for n, p in net.named_parameters() if p.requires_grad],
            "train_flags": [m.training for m in net.modules()]}


@program
def discriminative_lrs_and_no_decay(lib):
    net = _net(lib)
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if name.endswith("bias") or p.ndim == 1 else decay).append(p)
    opt = lib.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                           {"params": no_decay, "weight_decay": 0.0, "lr": 0.01}], lr=0.05)
    for _ in range(2):
        opt.zero_grad()
        lib.nn.functional.cross_entropy(net(lib.tensor(IMG)), lib.tensor(Y2)).backward()
        opt.step()
    sd = opt.state_dict()
    return {"groups": [{k: v for k, v in g.items() if k != "params"} for g in sd["param_groups"]],
            "ids": [g["params"] for g in sd["param_groups"]],
            "state_keys": sorted(sd["state"][0]), "conv": net.features[0].weight,
            "bn": net.features[1].bias, "n": [len(decay), len(no_decay)]}


@program
def gradual_unfreeze_add_param_group(lib):
    net = _net(lib)
    net.requires_grad_(False)
    net.out.requires_grad_(True)
    opt = lib.optim.Adam(net.out.parameters(), lr=0.01)
    x, y = lib.tensor(IMG), lib.tensor(Y2)
    F = lib.nn.functional
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    opt.step()
    net.head.requires_grad_(True)
    opt.add_param_group({"params": net.head.parameters(), "lr": 0.001})
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    opt.step()
    return {"groups": [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups],
            "fc": net.head["fc"].weight, "out": net.out.weight,
            "dup": _err(lambda: opt.add_param_group({"params": net.out.weight})),
            "bad": _err(lambda: opt.add_param_group({"params": [net.features[0].bias],
                                                      "lr": 0.1, "amsgrad": True, "foo": 1})),
            "n": [len(g["params"]) for g in opt.param_groups]}


@program
def optimizer_param_errors(lib):
    m = _mlp(lib)
    nonleaf = m[0].weight * 2
    return {"empty": _err(lambda: lib.optim.SGD([], lr=0.1)),
            "nonleaf": _err(lambda: lib.optim.SGD([nonleaf], lr=0.1)),
            "tensor": _err(lambda: lib.optim.SGD(m[0].weight, lr=0.1)),
            "twice": _err(lambda: lib.optim.SGD([{"params": m[0].parameters()},
                                                 {"params": [m[0].weight]}], lr=0.1)),
            "lr": _err(lambda: lib.optim.SGD(m.parameters(), lr=-1.0)),
            "nolr": _err(lambda: lib.optim.SGD([{"params": m[0].parameters()}])),
            "int": _err(lambda: lib.optim.SGD([lib.ones(2, dtype=lib.int64)], lr=0.1))}


@program
def optimizer_state_load_mismatch(lib):
    m = _mlp(lib)
    opt = lib.optim.SGD([{"params": m[0].parameters()}, {"params": m[2].parameters()}], lr=0.1)
    one = lib.optim.SGD(m.parameters(), lr=0.1)
    other = lib.optim.SGD([{"params": [m[0].weight]}, {"params": m[2].parameters()}], lr=0.1)
    return {"groups": _err(lambda: one.load_state_dict(opt.state_dict())),
            "sizes": _err(lambda: other.load_state_dict(opt.state_dict()))}


@program
def frozen_params_skipped_by_optimizer(lib):
    m = _mlp(lib)
    opt = lib.optim.SGD(m.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    m[0].requires_grad_(False)
    x = lib.tensor(X4)
    for _ in range(2):
        opt.zero_grad()
        m(x).pow(2).mean().backward()
        opt.step()
    return {"w0": m[0].weight, "w2": m[2].weight, "state": len(opt.state),
            "g0": m[0].weight.grad is None}


@program
def bn_eval_while_training(lib):
    net = _net(lib)
    net.train()
    for mod in net.modules():
        if isinstance(mod, lib.nn.BatchNorm2d):
            mod.eval()
            mod.weight.requires_grad_(False)
            mod.bias.requires_grad_(False)
    y = net.features(lib.tensor(IMG))
    return {"y": y, "rm": net.features[1].running_mean,
            "nbt": net.features[1].num_batches_tracked,
            "training": [m.training for m in net.modules()]}


# ----------------------------------------------------------------------------------------------
# dtype conversion, copies
# ----------------------------------------------------------------------------------------------
@program
def to_dtype_buffers_and_identity(lib):
    net = _net(lib)
    p = net.features[0].weight
    rm = net.features[1].running_mean
    opt = lib.optim.SGD(net.parameters(), lr=0.1)
    net.double()
    out = {"p_same": net.features[0].weight is p, "p": p.dtype, "rm_old": rm.dtype,
           "rm_new": net.features[1].running_mean.dtype,
           "nbt": net.features[1].num_batches_tracked.dtype,
           "opt_same": opt.param_groups[0]["params"][0] is net.features[0].weight}
    net.half()
    out["half"] = [t.dtype for t in net.state_dict().values()]
    net.float()
    out["float"] = net.features[1].running_var
    out["to_kw"] = net.to(dtype=lib.float64).out.bias.dtype
    out["int"] = _err(lambda: net.to(lib.int32))
    return out


@program
def to_dtype_keeps_grads(lib):
    m = _mlp(lib)
    m(lib.tensor(X4)).sum().backward()
    m.double()
    return {"g": m[0].weight.grad, "w": m[0].weight,
            "y": m(lib.tensor(X4.astype(np.float64)))}


@program
def half_model_float_input(lib):
    m = _mlp(lib).half()
    m(lib.tensor(X4))


@program
def deepcopy_module(lib):
    model = _mlp(lib)
    model.register_buffer("step", lib.tensor(3))
    model[0].weight.requires_grad_(False)
    model(lib.tensor(X4)).sum().backward()
    calls = []
    model[2].register_forward_hook(lambda m, i, o: calls.append(1))
    twin = copy.deepcopy(model)
    twin[0].bias.data.add_(1.0)
    twin(lib.tensor(X4))
    return {"distinct": twin[0].bias is not model[0].bias, "orig_b": model[0].bias,
            "twin_b": twin[0].bias, "grad": twin[2].weight.grad,
            "grad_distinct": twin[2].weight.grad is not model[2].weight.grad,
            "rg": [p.requires_grad for p in twin.parameters()], "step": twin.step,
            "hooks": len(calls), "type": type(twin[0].weight).__name__, "train": twin.training}


@program
def deepcopy_keeps_ties(lib):
    nn = lib.nn
    enc = nn.Linear(3, 3)
    model = nn.ModuleDict({"a": enc, "b": enc, "c": nn.Linear(3, 3)})
    model["c"].weight = model["a"].weight
    twin = copy.deepcopy(model)
    return {"mod_tied": twin["a"] is twin["b"], "w_tied": twin["c"].weight is twin["a"].weight,
            "n": len(list(twin.parameters()))}


@program
def shallow_copy_shares(lib):
    model = _mlp(lib)
    twin = copy.copy(model)
    twin.register_buffer("extra", lib.ones(1))
    return {"same_param": twin[0].weight is model[0].weight,
            "shared_registry": list(model.state_dict()),
            "same_child": twin[0] is model[0]}


@program
def deepcopy_nonleaf_error(lib):
    x = lib.ones(2, requires_grad=True) * 2
    copy.deepcopy(x)


@program
def deepcopy_state_dict_and_optimizer(lib):
    m = _mlp(lib)
    opt = lib.optim.Adam(m.parameters(), lr=0.1)
    m(lib.tensor(X4)).sum().backward()
    opt.step()
    best = copy.deepcopy(m.state_dict())
    best_opt = copy.deepcopy(opt.state_dict())
    opt.step()
    m.load_state_dict(best)
    opt.load_state_dict(best_opt)
    return {"w": m[0].weight, "step": opt.state_dict()["state"][0]["step"],
            "avg": opt.state[m[0].weight]["exp_avg"], "meta": dict(best._metadata)}



@program
def deepcopy_tensor_attributes(lib):
    x = lib.ones(2)
    x.tag = {"name": "x"}
    p = lib.nn.Parameter(lib.ones(2))
    p.no_decay = True
    y, q = copy.deepcopy(x), copy.deepcopy(p)
    x.tag["name"] = "changed"
    return {"tag": y.tag, "q": hasattr(q, "no_decay"), "qtype": type(q).__name__,
            "pair": copy.deepcopy([x, x])[0] is copy.deepcopy([x, x])[1]}


# ----------------------------------------------------------------------------------------------
# parametrizations, pruning, fusion, flat vectors
# ----------------------------------------------------------------------------------------------
def _symmetric(lib):
    class UpperMirrored(lib.nn.Module):
        """The free matrix's upper triangle (diagonal included) reflected below the
        diagonal; assignment keeps the upper triangle of the given matrix."""

        def forward(self, free):
            return free.triu() + free.triu(diagonal=1).transpose(-2, -1)

        def right_inverse(self, target):
            return target.triu(diagonal=0)
    return UpperMirrored()


@program
def custom_parametrization_surgery(lib):
    P = lib.nn.utils.parametrize
    m = _set(lib, lib.nn.Linear(3, 3), 5)
    P.register_parametrization(m, "weight", _symmetric(lib))
    keys = list(m.state_dict())
    w = m.weight
    m.weight = lib.tensor(_rand(3, 3, seed=9))
    after_assign = m.parametrizations.weight.original.clone()
    y = m(lib.tensor(_rand(2, 3, seed=3)))
    y.sum().backward()
    with P.cached():
        same = m.weight is m.weight
    info = {"keys": keys, "w": w, "assigned": after_assign, "y": y,
            "g": m.parametrizations.weight.original.grad,
            "is": [P.is_parametrized(m), P.is_parametrized(m, "weight"),
                   P.is_parametrized(m, "bias")],
            "cls": type(m).__name__, "cached_same": same,
            "params": [n for n, _ in m.named_parameters()]}
    P.remove_parametrizations(m, "weight", leave_parametrized=True)
    info["removed"] = [list(m.state_dict()), type(m).__name__, m.weight]
    info["again"] = _err(lambda: P.remove_parametrizations(m, "weight"))
    return info


@program
def parametrized_state_dict_round_trip(lib):
    P = lib.nn.utils.parametrize
    def make(seed):
        m = _set(lib, lib.nn.Linear(3, 3), seed)
        P.register_parametrization(m, "weight", _symmetric(lib))
        return m
    a, b = make(1), make(2)
    r = b.load_state_dict(a.state_dict())
    plain = _set(lib, lib.nn.Linear(3, 3), 3)
    err = _err(lambda: plain.load_state_dict(a.state_dict()))
    return {"r": repr(r), "w": b.weight, "err": err}


@program
def remove_parametrization_keep_original(lib):
    P = lib.nn.utils.parametrize
    m = _set(lib, lib.nn.Linear(3, 3), 5)
    P.register_parametrization(m, "weight", _symmetric(lib))
    P.register_parametrization(m, "weight", _symmetric(lib))   # a chain of two
    n = len(m.parametrizations.weight)
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    return {"n": n, "w": m.weight, "type": type(m.weight).__name__, "cls": type(m).__name__}


@program
def weight_norm_parametrization(lib):
    wn = lib.nn.utils.parametrizations.weight_norm
    m = wn(_set(lib, lib.nn.Linear(4, 3), 8), dim=0)
    keys = list(m.state_dict())
    g = m.parametrizations.weight.original0
    v = m.parametrizations.weight.original1
    y = m(lib.tensor(X4))
    y.pow(2).sum().backward()
    return {"keys": keys, "g": g, "v": v, "y": y, "gg": g.grad, "vg": v.grad,
            "w": m.weight}


@program
def old_weight_norm_remove(lib):
    nn = lib.nn
    m = nn.utils.weight_norm(_set(lib, nn.Conv1d(2, 3, 3), 4), name="weight", dim=None)
    keys = list(m.state_dict())
    y = m(lib.tensor(_rand(1, 2, 5, seed=2)))
    twice = _err(lambda: nn.utils.weight_norm(m))
    nn.utils.remove_weight_norm(m)
    return {"keys": keys, "g": m.weight.shape, "y": y, "after": list(m.state_dict()),
            "twice": twice, "w": m.weight,
            "missing": _err(lambda: nn.utils.remove_weight_norm(m))}


@program
def spectral_norm_fixed_vectors(lib):
    sn = lib.nn.utils.parametrizations.spectral_norm
    m = sn(_set(lib, lib.nn.Linear(4, 3), 8))
    keys = list(m.state_dict())
    p = m.parametrizations.weight[0]
    with lib.no_grad():
        p._u.copy_(lib.tensor(_rand(3, seed=1)))
        p._v.copy_(lib.tensor(_rand(4, seed=2)))
        p._u.div_(p._u.norm())
        p._v.div_(p._v.norm())
    m.eval()
    return {"keys": keys, "w": m.weight, "y": m(lib.tensor(X4))}


@program
def prune_l1_and_remove(lib):
    prune = importlib.import_module(lib.__name__ + ".nn.utils.prune")
    m = _set(lib, lib.nn.Linear(4, 3), 12)
    prune.l1_unstructured(m, name="weight", amount=0.5)
    info = {"params": [n for n, _ in m.named_parameters()],
            "buffers": [n for n, _ in m.named_buffers()], "mask": m.weight_mask,
            "w": m.weight, "pruned": prune.is_pruned(m), "hooks": len(m._forward_pre_hooks)}
    y = m(lib.tensor(X4))
    y.sum().backward()
    info["grad"] = m.weight_orig.grad
    prune.l1_unstructured(m, name="weight", amount=2)     # on top: a PruningContainer
    info["mask2"] = m.weight_mask
    prune.remove(m, "weight")
    info["after"] = [list(m.state_dict()), type(m.weight).__name__, m.weight,
                     prune.is_pruned(m)]
    return info


@program
def prune_structured_and_global(lib):
    prune = importlib.import_module(lib.__name__ + ".nn.utils.prune")
    nn = lib.nn
    model = _set(lib, nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(16, 3)), 13)
    prune.ln_structured(model[0], name="weight", amount=0.5, n=2, dim=0)
    prune.global_unstructured([(model[0], "bias"), (model[2], "weight")],
                              pruning_method=prune.L1Unstructured, amount=10)
    prune.custom_from_mask(model[2], name="bias", mask=lib.tensor([1.0, 0.0, 1.0]))
    y = model(lib.tensor(_rand(2, 1, 4, 4, seed=4)))
    return {"m0": model[0].weight_mask, "b0": model[0].bias_mask, "m2": model[2].weight_mask,
            "mb2": model[2].bias_mask, "y": y, "sd": list(model.state_dict()),
            "zeros": float((model[2].weight == 0).sum())}


@program
def prune_bad_amount(lib):
    prune = importlib.import_module(lib.__name__ + ".nn.utils.prune")
    m = lib.nn.Linear(2, 2)
    return {"big": _err(lambda: prune.l1_unstructured(m, "weight", amount=5)),
            "neg": _err(lambda: prune.l1_unstructured(m, "weight", amount=-0.1)),
            "type": _err(lambda: prune.l1_unstructured(m, "weight", amount="half")),
            "name": _err(lambda: prune.l1_unstructured(m, "nope", amount=0.5))}


@program
def flat_vector_round_trip(lib):
    utils = lib.nn.utils
    m = _mlp(lib)
    vec = utils.parameters_to_vector(m.parameters())
    utils.vector_to_parameters(vec * 2, m.parameters())
    return {"vec": vec, "w": m[2].weight, "n": vec.numel(),
            "bad": _err(lambda: utils.vector_to_parameters([1.0], m.parameters())),
            "short": _err(lambda: utils.vector_to_parameters(vec[:5], m.parameters()))}


@program
def fuse_conv_bn_and_linear_bn(lib):
    nn = lib.nn
    fuse = lib.nn.utils.fusion
    conv = _set(lib, nn.Conv2d(2, 3, 3, bias=False), 14)
    bn = _set(lib, nn.BatchNorm2d(3), 15)
    with lib.no_grad():
        bn.running_var.abs_().add_(0.5)
    conv.eval(), bn.eval()
    x = lib.tensor(_rand(2, 2, 5, 5, seed=6))
    fused = fuse.fuse_conv_bn_eval(conv, bn)
    lin = _set(lib, nn.Linear(4, 3), 16).eval()
    bn1 = _set(lib, nn.BatchNorm1d(3), 17).eval()
    with lib.no_grad():
        bn1.running_var.abs_().add_(0.5)
    flin = fuse.fuse_linear_bn_eval(lin, bn1)
    conv.train()
    return {"ref": bn(conv(x)), "fused": fused(x), "bias": fused.bias,
            "rg": fused.weight.requires_grad, "lin": flin(lib.tensor(X4)),
            "lin_ref": bn1(lin(lib.tensor(X4))),
            "train": _err(lambda: fuse.fuse_conv_bn_eval(conv, bn))}



# ----------------------------------------------------------------------------------------------
# data pipelines: datasets, samplers, loaders, collation
# ----------------------------------------------------------------------------------------------
def _ds(lib, n=10):
    D = lib.utils.data
    return D.TensorDataset(lib.arange(2.0 * n).reshape(n, 2), lib.arange(n))


@program
def tensor_dataset_size_mismatch(lib):
    lib.utils.data.TensorDataset(lib.ones(3, 2), lib.ones(4))


@program
def dataset_views_and_indices(lib):
    D = lib.utils.data
    ds = _ds(lib)
    sub = D.Subset(ds, [7, 2, 5])
    subsub = D.Subset(sub, [2, 0])
    cat = sub + D.Subset(ds, [0, 1])
    stack = D.StackDataset(ds, ds)
    named = D.StackDataset(a=lib.arange(10), b=ds)
    return {"sub": sub[-1], "subsub": subsub[0], "subsub_len": len(subsub),
            "cat": cat[3], "cat_type": type(cat).__name__, "cat_len": len(cat),
            "cat_cum": cat.cumulative_sizes, "stack": stack[1], "named": named[2],
            "stack_len": len(stack), "ds_len": len(ds), "ds_item": ds[3],
            "cat_neg": cat[-5], "cat_bad": _err(lambda: cat[-6]),
            "cat_big": _err(lambda: cat[5]), "ds_bad": _err(lambda: ds[10]),
            "empty_cat": _err(lambda: D.ConcatDataset([])),
            "stack_bad": _err(lambda: D.StackDataset(ds, D.Subset(ds, [1]))),
            "stack_mix": _err(lambda: D.StackDataset(ds, a=ds))}


@program
def random_split_sizes_and_errors(lib):
    D = lib.utils.data
    ds = _ds(lib)
    g = lib.Generator().manual_seed(0)
    parts = D.random_split(ds, [0.7, 0.2, 0.1], generator=g)
    parts2 = D.random_split(range(11), [0.5, 0.5], generator=lib.Generator().manual_seed(1))
    covered = sorted(i for p in parts for i in p.indices)
    return {"lens": [len(p) for p in parts], "lens2": [len(p) for p in parts2],
            "covered": covered, "type": type(parts[0]).__name__,
            "sum": _err(lambda: D.random_split(ds, [3, 3])),
            "frac": _err(lambda: D.random_split(ds, [0.5, 0.6])),
            "neg": _err(lambda: D.random_split(ds, [1.2, -0.2]))}


@program
def random_split_empty_part_warns(lib):
    D = lib.utils.data
    parts = D.random_split(range(3), [0.9, 0.1], generator=lib.Generator().manual_seed(0))
    return [len(p) for p in parts]


@program
def loader_lengths_and_orders(lib):
    D = lib.utils.data
    ds = _ds(lib)
    out = {}
    for bs, drop in [(3, False), (3, True), (5, True), (20, False), (20, True)]:
        dl = D.DataLoader(ds, batch_size=bs, drop_last=drop)
        batches = list(dl)
        out[f"{bs}-{drop}"] = [len(dl), [b[1] for b in batches]]
    dl = D.DataLoader(ds, sampler=D.SequentialSampler(range(4)), batch_size=3)
    out["seq"] = [b[1] for b in dl]
    bs = D.BatchSampler(D.SequentialSampler(ds), batch_size=4, drop_last=False)
    out["bs"] = [len(bs), list(bs)]
    out["via_bs"] = [b[0] for b in D.DataLoader(ds, batch_sampler=bs)]
    out["dl_attrs"] = [D.DataLoader(ds).batch_size, D.DataLoader(ds).drop_last,
                       type(D.DataLoader(ds).sampler).__name__,
                       type(D.DataLoader(ds, shuffle=True).sampler).__name__,
                       D.DataLoader(ds, batch_sampler=bs).batch_size]
    return out


@program
def loader_option_errors(lib):
    D = lib.utils.data
    ds = _ds(lib)
    bs = D.BatchSampler(range(10), 2, False)
    return {"bs_shuffle": _err(lambda: D.DataLoader(ds, batch_sampler=bs, shuffle=True)),
            "bs_size": _err(lambda: D.DataLoader(ds, batch_sampler=bs, batch_size=2)),
            "bs_drop": _err(lambda: D.DataLoader(ds, batch_sampler=bs, drop_last=True)),
            "sampler_shuffle": _err(lambda: D.DataLoader(ds, sampler=range(10), shuffle=True)),
            "none_drop": _err(lambda: D.DataLoader(ds, batch_size=None, drop_last=True)),
            "workers": _err(lambda: D.DataLoader(ds, num_workers=-1)),
            "timeout": _err(lambda: D.DataLoader(ds, timeout=-1)),
            "prefetch": _err(lambda: D.DataLoader(ds, prefetch_factor=2)),
            "persist": _err(lambda: D.DataLoader(ds, persistent_workers=True)),
            "zero": _err(lambda: D.DataLoader(ds, batch_size=0))}


@program
def sampler_constructor_errors(lib):
    D = lib.utils.data
    return {"bs_size": _err(lambda: D.BatchSampler(range(3), 0, False)),
            "bs_bool": _err(lambda: D.BatchSampler(range(3), 2, 1)),
            "bs_float": _err(lambda: D.BatchSampler(range(3), 2.0, False)),
            "w_n": _err(lambda: D.WeightedRandomSampler([0.5, 0.5], num_samples=0)),
            "w_bool": _err(lambda: D.WeightedRandomSampler([0.5, 0.5], 2, replacement=1)),
            "w_shape": _err(lambda: D.WeightedRandomSampler([[0.5, 0.5]], 2)),
            "rs_n": _err(lambda: D.RandomSampler(range(3), num_samples=0)),
            "rs_bool": _err(lambda: D.RandomSampler(range(3), replacement=0)),
            "w_len": len(D.WeightedRandomSampler([1.0, 2.0, 3.0], 7)),
            "rs_len": len(D.RandomSampler(range(5), replacement=True, num_samples=8)),
            "srs_len": len(D.SubsetRandomSampler([4, 5, 6]))}


@program
def weighted_sampler_deterministic_weights(lib):
    D = lib.utils.data
    w = D.WeightedRandomSampler(lib.tensor([0.0, 3.0, 0.0, 0.0]), num_samples=6)
    picks = list(w)
    one_hot = D.WeightedRandomSampler([0.0, 0.0, 1.0], num_samples=1, replacement=False)
    return {"picks": picks, "type": type(picks[0]).__name__, "one": list(one_hot),
            "weights": w.weights}


@program
def weighted_sampler_too_many_without_replacement(lib):
    D = lib.utils.data
    list(D.WeightedRandomSampler([0.2, 0.8], num_samples=3, replacement=False))


@program
def collate_fn_padding(lib):
    D = lib.utils.data
    seqs = [lib.arange(float(n)) + n for n in (3, 1, 4, 2)]
    labels = [0, 1, 0, 1]

    class Seqs(D.Dataset):
        def __len__(self):
            return len(seqs)

        def __getitem__(self, i):
            return seqs[i], labels[i]

    def pad(batch):
        xs, ys = zip(*batch)
        lengths = lib.tensor([len(x) for x in xs])
        return lib.nn.utils.rnn.pad_sequence(xs, batch_first=True, padding_value=-1.0), \
            lengths, lib.tensor(ys)
    batches = list(D.DataLoader(Seqs(), batch_size=3, collate_fn=pad))
    default = _err(lambda: list(D.DataLoader(Seqs(), batch_size=2)))
    return {"batches": batches, "default": default}


@program
def default_collate_structures(lib):
    C = lib.utils.data.default_collate
    P = collections.namedtuple("P", ["img", "meta"])
    batch = [{"img": np.full((2, 2), i, dtype=np.uint8), "id": i, "name": f"s{i}",
              "box": [float(i), i + 0.5], "p": P(np.float32(i), {"k": np.int32(i)})}
             for i in range(3)]
    out = C(batch)
    return {"out": out, "ptype": type(out["p"]).__name__,
            "tuple": C([(1, 2.0, "a"), (3, 4.0, "b")]),
            "tensors": C([lib.ones(2, dtype=lib.float16), lib.zeros(2, dtype=lib.float16)]),
            "nested_list": C([[1, 2], [3, 4]])}


@program
def default_collate_errors(lib):
    C = lib.utils.data.default_collate
    return {"ragged": _err(lambda: C([[1, 2], [3]])),
            "shapes": _err(lambda: C([lib.zeros(2), lib.zeros(3)])),
            "np_str": _err(lambda: C([np.array(["a"]), np.array(["b"])])),
            "obj": _err(lambda: C([object(), object()])),
            "np_shapes": _err(lambda: C([np.zeros(2), np.zeros(3)])),
            "none": _err(lambda: C([None, None]))}


@program
def iterable_dataset_loader(lib):
    D = lib.utils.data

    class Counter(D.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

    dl = D.DataLoader(Counter(7), batch_size=3)
    dl_drop = D.DataLoader(Counter(7), batch_size=3, drop_last=True)
    return {"batches": list(dl), "dropped": list(dl_drop),
            "none": list(D.DataLoader(Counter(3), batch_size=None)),
            "sampler": _err(lambda: D.DataLoader(Counter(3), sampler=range(3))),
            "bs": _err(lambda: D.DataLoader(Counter(3),
                                            batch_sampler=D.BatchSampler(range(3), 2, False))),
            "len": _err(lambda: len(D.DataLoader(Counter(3)))),
            "chain": list(D.ChainDataset([Counter(2), Counter(3)])),
            "add": type(Counter(2) + Counter(1)).__name__,
            "concat": _err(lambda: D.ConcatDataset([Counter(2)]))}


@program
def iterable_with_len_warns_on_overrun(lib):
    D = lib.utils.data

    class Liar(D.IterableDataset):
        def __iter__(self):
            return iter(range(5))

        def __len__(self):
            return 3
    dl = D.DataLoader(Liar(), batch_size=2)
    return {"len": len(dl), "batches": list(dl)}


@program
def loader_batch_none_converts(lib):
    D = lib.utils.data

    class Arrays(D.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return {"x": np.arange(3, dtype=np.float32) + i, "y": i, "s": "t"}
    return list(D.DataLoader(Arrays(), batch_size=None))



# ----------------------------------------------------------------------------------------------
# more surgery: odd inputs users hit
# ----------------------------------------------------------------------------------------------
@program
def state_dict_positional_args_warn(lib):
    m = lib.nn.Linear(2, 2)
    dest = collections.OrderedDict()
    out = m.state_dict(dest, "enc.")
    return {"keys": list(out), "same": out is dest}


@program
def none_param_with_key_in_checkpoint(lib):
    m = lib.nn.Linear(2, 2, bias=False)
    sd = lib.nn.Linear(2, 2).state_dict()
    r = m.load_state_dict(sd, strict=False)
    return {"unexpected": r.unexpected_keys, "err": _err(lambda: m.load_state_dict(sd))}


@program
def assign_strict_false_keeps_missing(lib):
    m = _mlp(lib)
    old = m[2].weight
    src = _mlp(lib, 5).state_dict()
    del src["2.weight"]
    r = m.load_state_dict(src, strict=False, assign=True)
    return {"missing": r.missing_keys, "kept": m[2].weight is old, "w0": m[0].weight,
            "w0_is_src": m[0].weight is src["0.weight"], "w0_type": type(m[0].weight).__name__}


@program
def assign_buffer_and_shape_mismatch(lib):
    bn = lib.nn.BatchNorm1d(3)
    sd = {k: v.clone().double() if v.is_floating_point() else v.clone()
          for k, v in bn.state_dict().items()}
    bn.load_state_dict(sd, assign=True)
    info = {"rm": bn.running_mean.dtype, "w": bn.weight.dtype, "rg": bn.weight.requires_grad,
            "is": bn.running_var is sd["running_var"]}
    sd["running_var"] = lib.ones(4, dtype=lib.float64)
    info["mismatch"] = _err(lambda: bn.load_state_dict(sd, assign=True))
    return info


@program
def train_mode_checks(lib):
    m = _mlp(lib)
    return {"bad": _err(lambda: m.train("yes")), "ret": m.eval() is m,
            "req": m.requires_grad_(False) is m, "flags": [p.requires_grad for p in m.parameters()],
            "zero": _err(lambda: m.zero_grad()), "train0": m.train(False).training}


@program
def extra_state_round_trip(lib):
    class Tokenizer(lib.nn.Module):
        def __init__(self, vocab):
            super().__init__()
            self.vocab = vocab
            self.emb = lib.nn.Embedding(len(vocab), 2)

        def get_extra_state(self):
            return {"vocab": list(self.vocab)}

        def set_extra_state(self, state):
            self.vocab = state["vocab"]
    a, b = Tokenizer(["x", "y", "z"]), Tokenizer(["?", "?", "?"])
    sd = a.state_dict()
    r = b.load_state_dict(sd)
    del sd["_extra_state"]
    missing = _err(lambda: b.load_state_dict(sd))
    return {"keys": list(a.state_dict()), "vocab": b.vocab, "r": repr(r), "missing": missing}


@program
def lazy_module_load(lib):
    nn = lib.nn
    src = _set(lib, nn.Linear(3, 2), 2)
    lazy = nn.LazyLinear(2)
    lazy.load_state_dict(src.state_dict())
    return {"w": lazy.weight, "type": type(lazy).__name__, "y": lazy(lib.tensor(_rand(2, 3)))}


@program
def lazy_module_uninitialized_ops(lib):
    lazy = lib.nn.LazyLinear(2)
    return {"sd": list(lazy.state_dict()), "n": _err(lambda: lazy.weight.shape),
            "params": [type(p).__name__ for p in lazy.parameters()]}


@program
def module_dict_and_list_surgery(lib):
    nn = lib.nn
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "reg": nn.Linear(4, 1)})
    heads.update({"aux": nn.Linear(4, 2)})
    popped = heads.pop("reg")
    layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
    layers[1] = nn.Identity()
    del layers[0]
    layers += [nn.ReLU()]
    layers.insert(0, nn.Tanh())
    return {"keys": list(heads.keys()), "popped": type(popped).__name__,
            "layers": [type(m).__name__ for m in layers],
            "sd": list(nn.ModuleDict({"h": heads, "l": layers}).state_dict()),
            "bad_key": _err(lambda: heads["nope"]), "bad_idx": _err(lambda: layers[9]),
            "bad_type": _err(lambda: nn.ModuleList([lib.ones(1)])),
            "dict_type": _err(lambda: heads.update([("x", nn.ReLU(), 1)]))}


@program
def parameter_list_and_dict(lib):
    nn = lib.nn

    class Mix(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([nn.Parameter(lib.ones(2) * i) for i in range(3)])
            self.pd = nn.ParameterDict({"b": lib.ones(2), "a": nn.Parameter(lib.zeros(1))})
            self.od = nn.ParameterDict(collections.OrderedDict(
                [("z", nn.Parameter(lib.ones(1))), ("y", nn.Parameter(lib.ones(1)))]))
    m = Mix()
    m.ws.append(nn.Parameter(lib.full((2,), 5.0)))
    m.pd.update({"d": nn.Parameter(lib.ones(1)), "c": nn.Parameter(lib.ones(1))})
    m.pd.update([("f", nn.Parameter(lib.ones(1))), ("e", nn.Parameter(lib.ones(1)))])
    return {"sd": list(m.state_dict()), "b_type": type(m.pd["b"]).__name__,
            "n": len(list(m.parameters())), "w3": m.ws[3],
            "params": [n for n, _ in m.named_parameters()],
            "bad": _err(lambda: m.pd.update([("x", lib.ones(1), 2)])),
            "bad2": _err(lambda: m.pd.update([3]))}


@program
def forward_pre_hook_bad_return(lib):
    m = _Scaled.make(lib)
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    m(lib.tensor(X4))


@program
def apply_requires_module_fn(lib):
    m = _mlp(lib)
    names = []
    m.apply(lambda mod: names.append(type(mod).__name__))
    with lib.no_grad():
        m.apply(lambda mod: mod.weight.mul_(0) if hasattr(mod, "weight") else None)
    return {"names": names, "w": m[0].weight, "y": m(lib.tensor(X4))}


@program
def save_module_state_with_tensors_and_views(lib):
    x = lib.arange(6.0)
    buf = io.BytesIO()
    lib.save({"x": x, "first": x[:3], "t": x.reshape(2, 3).t()}, buf)
    buf.seek(0)
    ck = lib.load(buf)
    # (torch keeps the views' storage and strides; a safetensors file holds neither)
    return {"x": ck["x"], "first": ck["first"], "t": ck["t"]}



@program
def to_other_forms(lib):
    m = _mlp(lib)
    m.to(lib.ones(1, dtype=lib.float64))
    a = m[0].weight.dtype
    m.to("cpu", lib.float16, non_blocking=True)
    b = m[0].weight.dtype
    m.to(device="cpu", dtype=lib.float32)
    frozen = lib.nn.Linear(2, 2)
    frozen.register_parameter("idx", lib.nn.Parameter(lib.arange(3), requires_grad=False))
    frozen.double()
    return {"a": a, "b": b, "c": m[0].weight.dtype, "idx": frozen.idx,
            "nonleaf": _err(lambda: setattr(m[0].weight * 2, "requires_grad", False))}


@program
def parametrization_errors(lib):
    P = lib.nn.utils.parametrize
    nn = lib.nn

    class ToDouble(nn.Module):
        def forward(self, X):
            return X.double()

    class Shrink(nn.Module):
        def forward(self, X):
            return X[:-1]

    class NoInverse(nn.Module):
        def forward(self, X):
            return X * 2
    m = nn.Linear(3, 3)
    out = {"dtype": _err(lambda: P.register_parametrization(m, "weight", ToDouble())),
           "shape": _err(lambda: P.register_parametrization(m, "weight", Shrink())),
           "missing": _err(lambda: P.register_parametrization(m, "nope", NoInverse())),
           "remove": _err(lambda: P.remove_parametrizations(m, "weight"))}
    P.register_parametrization(m, "bias", NoInverse())
    out["assign"] = _err(lambda: setattr(m, "bias", lib.ones(3)))
    P.register_parametrization(m, "weight", Shrink(), unsafe=True)
    out["unsafe"] = tuple(m.weight.shape)
    return out


@program
def parametrize_buffer(lib):
    P = lib.nn.utils.parametrize
    bn = _set(lib, lib.nn.BatchNorm1d(3), 3)

    class Positive(lib.nn.Module):
        def forward(self, X):
            return X.abs() + 1e-3
    P.register_parametrization(bn, "running_var", Positive())
    bn.eval()
    return {"sd": list(bn.state_dict()), "rv": bn.running_var,
            "y": bn(lib.tensor(_rand(4, 3, seed=1))),
            "buffers": [n for n, _ in bn.named_buffers()]}


@program
def orthogonal_parametrization(lib):
    orth = lib.nn.utils.parametrizations.orthogonal
    m = orth(_set(lib, lib.nn.Linear(4, 4), 6))
    w = m.weight
    return {"sd": list(m.state_dict()), "eye": w @ w.T,
            "y": m(lib.tensor(X4)).shape}


@program
def old_spectral_norm_fixed_vectors(lib):
    nn = lib.nn
    m = nn.utils.spectral_norm(_set(lib, nn.Linear(4, 3), 8))
    keys = list(m.state_dict())
    with lib.no_grad():
        m.weight_u.copy_(lib.tensor(_rand(3, seed=1)))
        m.weight_v.copy_(lib.tensor(_rand(4, seed=2)))
        m.weight_u.div_(m.weight_u.norm())
        m.weight_v.div_(m.weight_v.norm())
    m.eval()
    y = m(lib.tensor(X4))
    nn.utils.remove_spectral_norm(m)
    return {"keys": keys, "y": y, "after": list(m.state_dict()), "w": m.weight,
            "again": _err(lambda: nn.utils.remove_spectral_norm(m))}


@program
def prune_remove_unpruned(lib):
    prune = importlib.import_module(lib.__name__ + ".nn.utils.prune")
    prune.remove(lib.nn.Linear(2, 2), "weight")


@program
def fuse_weights_functions(lib):
    nn = lib.nn
    fusion = lib.nn.utils.fusion
    ct = _set(lib, nn.ConvTranspose2d(2, 3, 3), 1).eval()
    bn = _set(lib, nn.BatchNorm2d(3), 2).eval()
    with lib.no_grad():
        bn.running_var.abs_().add_(0.5)
    x = lib.tensor(_rand(1, 2, 4, 4, seed=3))
    fused = fusion.fuse_conv_bn_eval(ct, bn, transpose=True)
    w, b = fusion.fuse_conv_bn_weights(ct.weight, ct.bias, bn.running_mean, bn.running_var,
                                       bn.eps, bn.weight, bn.bias, transpose=True)
    return {"ref": bn(ct(x)), "fused": fused(x), "w": w, "b": b,
            "types": [type(w).__name__, type(b).__name__]}


@program
def backward_hook_then_inplace(lib):
    nn = lib.nn
    lin = _set(lib, nn.Linear(4, 4), 3)
    lin.register_full_backward_hook(lambda m, gi, go: None)
    model = nn.Sequential(lin, nn.ReLU(inplace=True))
    model(lib.tensor(X4, requires_grad=True)).sum().backward()


@program
def global_forward_hooks(lib):
    mm = importlib.import_module(lib.__name__ + ".nn.modules.module")
    model = _mlp(lib)
    calls = []
    h1 = mm.register_module_forward_pre_hook(
        lambda m, args: calls.append(("pre", type(m).__name__)))
    h2 = mm.register_module_forward_hook(
        lambda m, args, out: calls.append(("post", type(m).__name__)))
    h3 = mm.register_module_forward_hook(
        lambda m, args, kwargs, out: out * 2 if isinstance(m, lib.nn.ReLU) else None,
        with_kwargs=True)
    h4 = mm.register_module_full_backward_hook(
        lambda m, gi, go: calls.append(("bwd", type(m).__name__, len(gi))))
    h5 = mm.register_module_full_backward_pre_hook(
        lambda m, go: calls.append(("bwd_pre", type(m).__name__)))
    model[0].register_forward_hook(lambda m, a, o: calls.append(("local", "Linear")))
    x = lib.tensor(X4, requires_grad=True)
    try:
        y = model(x)
        y.sum().backward()
    finally:
        for h in (h1, h2, h3, h4, h5):
            h.remove()
    model(lib.tensor(X4))
    bad = lib.nn.Linear(3, 3)
    h = mm.register_module_forward_hook(lambda m, a, o: calls.append(("always", o)),
                                        always_call=True)
    try:
        err = _err(lambda: bad(lib.ones(2, 4)))
    finally:
        h.remove()
    return {"calls": calls, "y": y, "xg": x.grad, "err": err}



@program
def unexpected_nested_keys(lib):
    m = lib.nn.Sequential(lib.nn.Linear(2, 2))
    sd = m.state_dict()
    sd.update({"0.weight.x": lib.zeros(1), "0.extra.y": lib.zeros(1), "1.weight": lib.zeros(1),
               "0": lib.zeros(1)})
    r = m.load_state_dict(sd, strict=False)
    return {"r": repr(r), "err": _err(lambda: m.load_state_dict(sd))}


@program
def load_casts_kinds_and_scalar_shapes(lib):
    class Temp(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.t = lib.nn.Parameter(lib.tensor(1.0))
            self.lin = lib.nn.Linear(2, 1)
    m = Temp()
    bn = lib.nn.BatchNorm1d(2)
    r1 = m.load_state_dict({"t": lib.tensor([2.5]), "lin.weight": lib.tensor([[1, 2]]),
                            "lin.bias": lib.tensor([3])})
    bsd = bn.state_dict()
    bsd["num_batches_tracked"] = lib.tensor(7.9)
    bsd["running_mean"] = lib.tensor([1, 2])
    bn.load_state_dict(bsd)
    src = lib.nn.Parameter(lib.ones(1, 2))
    m.load_state_dict({"t": lib.tensor(0.5), "lin.weight": src, "lin.bias": lib.zeros(1)})
    return {"r": repr(r1), "t": m.t, "w": m.lin.weight, "nbt": bn.num_batches_tracked,
            "rm": bn.running_mean, "src_rg": m.lin.weight.requires_grad,
            "bad": _err(lambda: m.load_state_dict({"t": lib.ones(2), "lin.weight": src,
                                                   "lin.bias": lib.zeros(1)}))}


@program
def optimizer_state_follows_param_dtype(lib):
    m = _mlp(lib)
    opt = lib.optim.Adam(m.parameters(), lr=0.1)
    m(lib.tensor(X4)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    m2 = _mlp(lib).double()
    opt2 = lib.optim.Adam(m2.parameters(), lr=0.1)
    opt2.load_state_dict(sd)
    st = opt2.state[m2[0].weight]
    return {"avg": st["exp_avg"], "sq": st["exp_avg_sq"].dtype, "step": st["step"],
            "saved": sd["state"][0]["exp_avg"].dtype}


# ----------------------------------------------------------------------------------------------
# the test
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program(fn):
    _check(fn)
