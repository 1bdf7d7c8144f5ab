"""Small training programs of the kind tutorials and repositories contain (sequence models,
data pipelines, checkpointing, schedulers, weight averaging, metrics), each written once as
``program(lib)`` and run with ``lib`` = PyTorch and ``lib`` = minigrad from the same numpy
weights and inputs; every output, loss, gradient and updated parameter must agree."""
import collections
import copy
import functools
import importlib
import io
import math
import os
import pathlib
import tempfile
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------------------------------
# Harness
# ----------------------------------------------------------------------------------------------


def _np(value):
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy() if hasattr(value, "cpu") else value.detach().numpy()
    return np.asarray(value)


def _compare(program, rtol=1e-7, atol=1e-9):
    """Run ``program`` with both libraries; compare every entry of the returned dicts."""
    theirs = program(torch)
    ours = program(minigrad)
    assert list(ours) == list(theirs), (list(ours), list(theirs))
    for key in theirs:
        a, b = ours[key], theirs[key]
        if isinstance(b, (str, bool, type(None))) or (isinstance(b, (list, tuple)) and b and
                                                     isinstance(b[0], str)):
            assert a == b, (key, a, b)
            continue
        a_np, b_np = _np(a), _np(b)
        assert a_np.shape == b_np.shape, (key, a_np.shape, b_np.shape)
        if b_np.dtype.kind in "biu":
            assert a_np.dtype == b_np.dtype, (key, a_np.dtype, b_np.dtype)
            np.testing.assert_array_equal(a_np, b_np, err_msg=key)
        else:
            assert a_np.dtype == b_np.dtype, (key, a_np.dtype, b_np.dtype)
            loose = b_np.dtype == np.float32        # float32: rounding differs in the last bits
            np.testing.assert_allclose(a_np, b_np, rtol=1e-5 if loose else rtol,
                                       atol=1e-6 if loose else atol, err_msg=key)


def _weights(module, seed=0, scale=0.3):
    """A state dict of seeded numpy values for every floating entry of ``module``."""
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(tuple(v.shape)) * scale if v.is_floating_point() else
            v.numpy() for k, v in module.state_dict().items()}


def _load_np(lib, module, arrays):
    module.load_state_dict({k: lib.tensor(v) for k, v in arrays.items()})
    return module


def lstm_packed_classifier(torch):
    nn = torch.nn
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(12, 5, padding_idx=0)
            self.rnn = nn.LSTM(5, 4, num_layers=1, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(8, 3)
        def forward(self, x, lengths):
            e = self.emb(x)
            packed = nn.utils.rnn.pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
            out, (h, c) = self.rnn(packed)
            out, out_len = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
            hidden = torch.cat((h[-2], h[-1]), dim=1)
            return self.fc(hidden), out, out_len
    m = Net().double()
    _load_np(torch, m, _weights(m))
    x = torch.tensor([[3, 4, 5, 0], [1, 2, 0, 0], [7, 8, 9, 10]])
    lengths = torch.tensor([3, 2, 4])
    y = torch.tensor([0, 2, 1])
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    res = {}
    for step in range(2):
        opt.zero_grad()
        logits, out, out_len = m(x, lengths)
        loss = nn.functional.cross_entropy(logits, y)
        loss.backward()
        res[f"loss{step}"] = loss
        res[f"out{step}"] = out
        res[f"grad_emb{step}"] = m.emb.weight.grad
        opt.step()
    res["out_len"] = out_len
    for k, v in m.state_dict().items():
        res[k] = v
    return res


def seq2seq_attention(torch):
    nn, F = torch.nn, torch.nn.functional
    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4, padding_idx=0)
            self.gru = nn.GRU(4, 6, batch_first=True)
        def forward(self, src):
            out, h = self.gru(self.emb(src))
            return out, h
    class Dec(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.cell = nn.GRUCell(4 + 6, 6)
            self.attn = nn.Linear(6, 6, bias=False)
            self.out = nn.Linear(12, 10)
        def forward(self, tok, h, enc_out, mask):
            scores = torch.bmm(enc_out, self.attn(h).unsqueeze(2)).squeeze(2)
            scores = scores.masked_fill(~mask, float("-inf"))
            alpha = F.softmax(scores, dim=1)
            ctx = torch.bmm(alpha.unsqueeze(1), enc_out).squeeze(1)
            h = self.cell(torch.cat([self.emb(tok), ctx], dim=-1), h)
            return self.out(torch.cat([h, ctx], 1)), h, alpha
    enc, dec = Enc().double(), Dec().double()
    _load_np(torch, enc, _weights(enc, 1)); _load_np(torch, dec, _weights(dec, 2))
    src = torch.tensor([[4, 5, 6, 0], [7, 3, 0, 0]])
    tgt = torch.tensor([[1, 5, 6, 2], [1, 8, 2, 0]])
    mask = src != 0
    opt = torch.optim.SGD(list(enc.parameters()) + list(dec.parameters()), lr=0.5, momentum=0.9)
    crit = nn.CrossEntropyLoss(ignore_index=0)
    teacher = [True, False, True]
    res = {}
    for step in range(2):
        opt.zero_grad()
        enc_out, h = enc(src)
        h = h[0]
        tok = tgt[:, 0]
        loss = 0
        alphas = []
        for t in range(1, tgt.size(1)):
            logits, h, a = dec(tok, h, enc_out, mask)
            alphas.append(a)
            loss = loss + crit(logits, tgt[:, t])
            tok = tgt[:, t] if teacher[t - 1] else logits.argmax(-1)
        loss = loss / (tgt.size(1) - 1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(enc.parameters()) + list(dec.parameters()), 1.0)
        opt.step()
        res[f"loss{step}"] = loss
        res[f"alpha{step}"] = torch.stack(alphas, 1)
    res["w"] = dec.out.weight
    return res


def embedding_max_norm(torch):
    emb = torch.nn.Embedding(6, 3, padding_idx=0, max_norm=1.0).double()
    _load_np(torch, emb, {"weight": np.random.default_rng(3).standard_normal((6, 3)) * 2})
    idx = torch.tensor([[1, 2, 0], [2, 5, 5]])
    out = emb(idx)
    (out * torch.arange(3.0, dtype=torch.float64)).sum().backward()
    return {"out": out, "weight": emb.weight, "grad": emb.weight.grad}


def embedding_bag_ctc(torch):
    bag = torch.nn.EmbeddingBag(8, 3, mode="mean").double()
    _load_np(torch, bag, {"weight": np.random.default_rng(4).standard_normal((8, 3))})
    inp = torch.tensor([1, 2, 4, 5, 4, 3, 2, 7])
    offsets = torch.tensor([0, 3, 5])
    o = bag(inp, offsets)
    bag2 = torch.nn.EmbeddingBag.from_pretrained(bag.weight.detach(), mode="sum", freeze=False, padding_idx=2)
    o2 = bag2(torch.tensor([[1, 2, 3], [2, 2, 5]]), per_sample_weights=None)
    rng = np.random.default_rng(5)
    logits = torch.tensor(rng.standard_normal((6, 2, 5)), requires_grad=True)
    lp = logits.log_softmax(2)
    targets = torch.tensor([[1, 2, 2], [3, 4, 0]])
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    loss = ctc(lp, targets, torch.tensor([6, 5]), torch.tensor([3, 2]))
    loss.backward()
    (o.sum() + o2.pow(2).sum()).backward()
    return {"o": o, "o2": o2, "ctc": loss, "g": logits.grad, "bg": bag.weight.grad, "bg2": bag2.weight.grad}


def collate_dicts(torch):
    from collections import namedtuple
    Pair = namedtuple("Pair", "a b")
    class DS(torch.utils.data.Dataset):
        def __init__(self):
            self.seqs = [[1, 2, 3], [4, 5], [6], [7, 8, 9, 10], [11, 12]]
        def __len__(self):
            return len(self.seqs)
        def __getitem__(self, i):
            return {"ids": torch.tensor(self.seqs[i]), "label": i % 2, "name": f"s{i}",
                    "feat": np.full(2, float(i)), "pair": Pair(float(i), (i, [i, i + 1]))}
    def collate(batch):
        ids = [b["ids"] for b in batch]
        lengths = torch.tensor([len(s) for s in ids])
        padded = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=0)
        rest = torch.utils.data.default_collate([{k: v for k, v in b.items() if k != "ids"} for b in batch])
        return padded, lengths, rest
    dl = torch.utils.data.DataLoader(DS(), batch_size=2, collate_fn=collate, pin_memory=True)
    res = {"len": np.array(len(dl))}
    for i, (p, l, rest) in enumerate(dl):
        res[f"p{i}"] = p; res[f"l{i}"] = l; res[f"label{i}"] = rest["label"]
        res[f"name{i}"] = rest["name"]; res[f"feat{i}"] = rest["feat"]
        res[f"pa{i}"] = rest["pair"].a; res[f"pb0{i}"] = rest["pair"].b[0]; res[f"pb1{i}"] = rest["pair"].b[1][1]
        res[f"type{i}"] = type(rest["pair"]).__name__
    dl2 = torch.utils.data.DataLoader(DS(), batch_size=2, drop_last=True, collate_fn=lambda b: b)
    res["len2"] = np.array(len(dl2))
    res["n2"] = np.array(sum(len(b) for b in dl2))
    return res


def _warns(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    # the category and the first words (the rest of the sentence is each library's own)
    return [x.category.__name__ + ": " + " ".join(str(x.message).split()[:6]) for x in w]


def pin_warn(torch):
    ds = torch.utils.data.TensorDataset(torch.arange(4.0))
    return {"w": _warns(lambda: list(torch.utils.data.DataLoader(ds, batch_size=2, pin_memory=True)))}


def sched_warn(torch):
    S = torch.optim.lr_scheduler
    res = {}
    for name, make in (("step", lambda o: S.StepLR(o, 1)),
                       ("onecycle", lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=5)),
                       ("lambda", lambda o: S.LambdaLR(o, lambda e: 1.0 / (e + 1))),
                       ("plateau", None)):
        for order in ("sched_first", "opt_first"):
            p = torch.nn.Parameter(torch.zeros(2))
            opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
            s = make(opt) if make else S.ReduceLROnPlateau(opt)
            def steps():
                p.grad = torch.ones(2)
                if order == "opt_first":
                    opt.step()
                s.step(*([1.0] if make is None else []))
                opt.step()
                s.step(*([1.0] if make is None else []))
            res[f"{name}_{order}"] = _warns(steps)
            res[f"{name}_{order}_p"] = p
    # two schedules on one optimizer, and an optimizer that stepped before both were built
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.ones(2)
    opt.step()
    a, b = S.StepLR(opt, 1), S.ExponentialLR(opt, 0.5)
    res["two"] = _warns(lambda: (a.step(), b.step()))
    # get_lr() by hand (instead of get_last_lr()) warns in the built-in schedules
    for name, make in (("step", lambda o: S.StepLR(o, 1)),
                       ("multistep", lambda o: S.MultiStepLR(o, [1])),
                       ("cos", lambda o: S.CosineAnnealingLR(o, 3)),
                       ("cawr", lambda o: S.CosineAnnealingWarmRestarts(o, 2)),
                       ("onecycle", lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=5)),
                       ("linear", lambda o: S.LinearLR(o)),
                       ("cyclic", lambda o: S.CyclicLR(o, 0.01, 0.1)),
                       ("swalr", lambda o: torch.optim.swa_utils.SWALR(o, swa_lr=0.05))):
        p = torch.nn.Parameter(torch.zeros(2))
        opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
        s = make(opt)
        res[f"get_lr_{name}"] = _warns(s.get_lr)
        res[f"get_lr_{name}_step"] = _warns(lambda: (opt.step(), s.step()))
    return res


def checkpoint_resume(torch):
    def make():
        m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
        _load_np(torch, m, _weights(m, 7))
        opt = torch.optim.Adam(m.parameters(), lr=0.05, weight_decay=0.01)
        sch = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        return m, opt, sch
    rng = np.random.default_rng(8)
    X = torch.tensor(rng.standard_normal((5, 8, 3))); Y = torch.tensor(rng.standard_normal((5, 8, 1)))
    def step(m, opt, sch, i):
        opt.zero_grad(); l = torch.nn.functional.mse_loss(m(X[i]), Y[i]); l.backward(); opt.step(); sch.step()
        return l
    m, opt, sch = make()
    full = [step(m, opt, sch, i).item() for i in range(5)]
    m2, opt2, sch2 = make()
    for i in range(3):
        step(m2, opt2, sch2, i)
    buf = io.BytesIO()
    torch.save({"model": m2.state_dict(), "optimizer": opt2.state_dict(), "scheduler": sch2.state_dict(), "epoch": 3}, buf)
    buf.seek(0)
    ck = torch.load(buf, map_location="cpu", weights_only=True)
    m3, opt3, sch3 = make()
    m3.load_state_dict(ck["model"]); opt3.load_state_dict(ck["optimizer"]); sch3.load_state_dict(ck["scheduler"])
    resumed = [step(m3, opt3, sch3, i).item() for i in range(ck["epoch"], 5)]
    res = {"full": np.array(full), "resumed": np.array(resumed), "epoch": np.array(ck["epoch"]),
           "lr": np.array(sch3.get_last_lr()), "w": m3[0].weight}
    # temp file
    import tempfile, os
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ck.pt")
        torch.save({"model": m3.state_dict(), "opt": opt3.state_dict()}, path)
        ck2 = torch.load(path, map_location="cpu", weights_only=True)
    res["state_keys"] = sorted(ck2["opt"]["state"][0].keys())
    res["pg"] = sorted(k for k in ck2["opt"]["param_groups"][0].keys())
    res["step"] = np.array(float(ck2["opt"]["state"][0]["step"]))
    return res


def strict_false(torch):
    m = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    del sd["1.running_mean"]
    sd["extra.weight"] = torch.zeros(1)
    r = m.load_state_dict(sd, strict=False)
    out = {"missing": list(r.missing_keys), "unexpected": list(r.unexpected_keys), "rtype": type(r).__name__,
           "repr": repr(r)}
    try:
        m.load_state_dict(sd)
    except Exception as e:
        out["err"] = type(e).__name__
        out["msg"] = str(e)
    return out


def ema(torch):
    m = torch.nn.Linear(3, 2).double()
    _load_np(torch, m, _weights(m, 9))
    ema_m = torch.nn.Linear(3, 2).double(); ema_m.load_state_dict(m.state_dict())
    for p in ema_m.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    x = torch.tensor(np.random.default_rng(10).standard_normal((4, 3)))
    swa = torch.optim.swa_utils.AveragedModel(m)
    ema2 = torch.optim.swa_utils.AveragedModel(m, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.9))
    ep = [p.detach().clone() for p in m.parameters()]
    d = 0.9
    for i in range(3):
        opt.zero_grad(); m(x).pow(2).mean().backward(); opt.step()
        with torch.no_grad():
            for e, p in zip(ema_m.parameters(), m.parameters()):
                e.mul_(d).add_(p, alpha=1 - d)
            torch._foreach_mul_(ep, d)
            torch._foreach_add_(ep, list(m.parameters()), alpha=1 - d)
        swa.update_parameters(m)
        ema2.update_parameters(m)
    return {"ema_w": ema_m.weight, "ep0": ep[0], "ep1": ep[1], "swa": swa.module.weight, "n": swa.n_averaged,
            "swa_out": swa(x), "ema2": ema2.module.weight, "keys": list(swa.state_dict().keys())}


def metrics(torch):
    rng = np.random.default_rng(11)
    logits = torch.tensor(rng.standard_normal((10, 4)))
    y = torch.tensor(rng.integers(0, 4, 10))
    pred = logits.argmax(1)
    acc = (pred == y).float().mean().item()
    _, top = logits.topk(2, dim=1, largest=True, sorted=True)
    correct = top.eq(y.view(-1, 1).expand_as(top))
    top2 = correct[:, :2].reshape(-1).float().sum(0, keepdim=True).mul_(100.0 / 10)
    n = 4
    cm = torch.bincount(y * n + pred, minlength=n * n).reshape(n, n)
    per_class = cm.diag().float() / cm.sum(1).clamp(min=1).float()
    return {"acc": np.array(acc), "top2": top2, "cm": cm, "pc": per_class, "correct": correct,
            "sum_item": np.array(correct.sum().item())}


def _opt(torch, lr=0.1, **kw):
    m = torch.nn.Linear(2, 2).double()
    _load_np(torch, m, _weights(m, 12))
    return m, torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9, **kw)


def schedulers(torch):
    S = torch.optim.lr_scheduler
    res = {}
    x = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    def run(name, make, n=12, metric=None):
        m, opt = _opt(torch)
        sch = make(opt)
        lrs = []
        for i in range(n):
            opt.zero_grad(); m(x).sum().backward(); opt.step()
            if metric is not None:
                sch.step(metric[i])
            else:
                sch.step()
            lrs.append(sch.get_last_lr()[0] if hasattr(sch, "get_last_lr") else opt.param_groups[0]["lr"])
        res[name] = np.array(lrs)
        res[name + "_mom"] = np.array(opt.param_groups[0]["momentum"])
        res[name + "_w"] = m.weight
        sd = sch.state_dict()
        m2, opt2 = _opt(torch)
        sch2 = make(opt2)
        buf = io.BytesIO()
        torch.save({"sched": sd}, buf)
        buf.seek(0)
        sch2.load_state_dict(torch.load(buf, weights_only=True)["sched"])
        res[name + "_keys"] = sorted(k for k in sd.keys() if not k.startswith("_"))
        res[name + "_last_epoch"] = np.array(getattr(sch2, "last_epoch", -7))
        if metric is None:
            opt2.step(); sch2.step(); sch.step()
            res[name + "_next"] = np.array([sch2.get_last_lr()[0], sch.get_last_lr()[0]])
    run("onecycle", lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=20, pct_start=0.3))
    run("onecycle_lin", lambda o: S.OneCycleLR(o, max_lr=[0.5], epochs=2, steps_per_epoch=10, anneal_strategy="linear", three_phase=True))
    run("cawr", lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01))
    run("plateau", lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=1, cooldown=1),
        metric=[1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.9, 0.91, 0.92, 0.93, 0.94])
    run("lambda", lambda o: S.LambdaLR(o, lr_lambda=lambda e: 0.95 ** e))
    run("multistep", lambda o: S.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.3))
    run("seq", lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=3),
                                           S.CosineAnnealingLR(o, T_max=6)], milestones=[3]))
    run("chain", lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=2),
                                               S.ExponentialLR(o, gamma=0.9)]))
    run("poly", lambda o: S.PolynomialLR(o, total_iters=8, power=2.0))
    run("cyclic", lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2"))
    return res


def param_groups(torch):
    m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()
    _load_np(torch, m, _weights(m, 13))
    decay, no_decay = [], []
    for n, p in m.named_parameters():
        (no_decay if n.endswith("bias") else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0, "lr": 0.02}], lr=0.01)
    x = torch.tensor(np.random.default_rng(14).standard_normal((5, 3)))
    res = {}
    for i in range(2):
        opt.zero_grad(set_to_none=False); m(x).pow(2).mean().backward(); opt.step()
    extra = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt.add_param_group({"params": [extra], "lr": 0.5})
    opt.zero_grad(); (m(x).pow(2).mean() + (extra ** 2).sum()).backward(); opt.step()
    res["extra"] = extra
    res["w"] = m[0].weight
    res["b"] = m[2].bias
    res["ngroups"] = np.array(len(opt.param_groups))
    res["g2keys"] = sorted(opt.param_groups[2].keys())
    sd = opt.state_dict()
    res["sd_params"] = np.array([i for g in sd["param_groups"] for i in g["params"]])
    res["sd_state"] = np.array(sorted(sd["state"].keys()))
    m.zero_grad(set_to_none=False)
    res["grad_zero"] = m[0].weight.grad
    m.zero_grad()
    res["grad_none"] = m[0].weight.grad is None
    vec = torch.nn.utils.parameters_to_vector(m.parameters())
    res["vec"] = vec
    torch.nn.utils.vector_to_parameters(vec * 2, m.parameters())
    res["w2"] = m[0].weight
    res["w2_leaf"] = m[0].weight.is_leaf
    res["w2_rg"] = m[0].weight.requires_grad
    return res


def grad_modes(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    res = {}
    with torch.set_grad_enabled(False):
        y = x * 2
    res["ctx"] = y.requires_grad
    torch.set_grad_enabled(False)
    z = x * 2
    res["fn"] = z.requires_grad
    res["is_enabled"] = torch.is_grad_enabled()
    torch.set_grad_enabled(True)
    res["back"] = torch.is_grad_enabled()
    with torch.inference_mode():
        w = x * 3
        res["inf_mode"] = torch.is_inference_mode_enabled()
    res["w_rg"] = w.requires_grad
    with torch.inference_mode(mode=False):
        v = x * 3
    res["v_rg"] = v.requires_grad
    @torch.no_grad()
    def f(t):
        return t * 2
    res["deco"] = f(x).requires_grad
    @torch.inference_mode()
    def g(t):
        return t * 2
    res["deco_inf"] = g(x).requires_grad
    @torch.enable_grad()
    def h(t):
        return t * 2
    with torch.no_grad():
        res["enable_in_nograd"] = h(x).requires_grad
    return res


def more_sched_save(torch):
    S = torch.optim.lr_scheduler
    res = {}
    for name, make in [("swalr", lambda o: torch.optim.swa_utils.SWALR(o, swa_lr=0.05, anneal_epochs=3, anneal_strategy="linear")),
                       ("swalr_cos", lambda o: torch.optim.swa_utils.SWALR(o, swa_lr=0.05, anneal_epochs=3)),
                       ("cyc_exp", lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="exp_range", gamma=0.9)),
                       ("mult", lambda o: S.MultiplicativeLR(o, lambda e: 0.9)),
                       ("step", lambda o: S.StepLR(o, 2, 0.5)),
                       ("cos", lambda o: S.CosineAnnealingLR(o, 5, 0.001)),
                       ("plateau_max", lambda o: S.ReduceLROnPlateau(o, mode="max", patience=0, threshold_mode="abs", min_lr=0.02))]:
        m, opt = _opt(torch)
        sch = make(opt)
        for i in range(3):
            opt.step()
            sch.step(*( [float(-i)] if "plateau" in name else []))
        buf = io.BytesIO(); torch.save(sch.state_dict(), buf); buf.seek(0)
        m2, opt2 = _opt(torch); sch2 = make(opt2); opt2.load_state_dict(opt.state_dict())
        sch2.load_state_dict(torch.load(buf, weights_only=True))
        for s_, o_ in ((sch, opt), (sch2, opt2)):
            o_.step(); s_.step(*([-5.0] if "plateau" in name else []))
        res[name] = np.array([sch.get_last_lr()[0], sch2.get_last_lr()[0]])
    return res


def plateau_groups_early_stop(torch):
    m, opt = _opt(torch, lr=0.5)
    S = torch.optim.lr_scheduler
    sch = S.ReduceLROnPlateau(opt, patience=0, factor=0.5, min_lr=0.01)
    res = {"is_sched": isinstance(sch, S.LRScheduler)}
    x = torch.tensor([[0.5, -1.0], [2.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    best, bad, stopped = float("inf"), 0, -1
    lrs = []
    for epoch in range(8):
        m.train()
        opt.zero_grad(); loss = torch.nn.functional.mse_loss(m(x), y); loss.backward(); opt.step()
        m.eval()
        with torch.no_grad():
            val = torch.nn.functional.mse_loss(m(x * 1.1), y).item()
        if epoch == 2:
            extra = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
            opt.add_param_group({"params": [extra], "lr": 0.3})
        sch.step(val if epoch < 4 else val + epoch)
        lrs.append([g["lr"] for g in opt.param_groups] + ([None] if len(opt.param_groups) == 1 else []))
        if val < best - 1e-3:
            best, bad = val, 0
        else:
            bad += 1
            if bad >= 2:
                stopped = epoch
                break
    res["lrs"] = np.array([[v if v is not None else np.nan for v in r] for r in lrs])
    res["stopped"] = np.array(stopped)
    res["best"] = np.array(best)
    res["min_lrs"] = np.array(sch.min_lrs)
    sch2 = S.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2], patience=0)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))]})
    try:
        sch2.step(1.0); sch2.step(2.0)
        res["err"] = "none"
    except RuntimeError as e:
        res["err"] = str(e)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sch.step(1.0, epoch=5)
    res["warn"] = [str(x.category) for x in w]
    return res


def data_pipeline(torch):
    D = torch.utils.data
    X = torch.arange(20.0).reshape(10, 2)
    Y = torch.arange(10)
    ds = D.TensorDataset(X, Y)
    res = {}
    g = torch.Generator().manual_seed(42)
    tr, va = D.random_split(ds, [0.8, 0.2], generator=g)
    res["split_lens"] = np.array([len(tr), len(va)])
    res["split_type"] = type(tr).__name__
    parts = D.random_split(range(7), [0.5, 0.3, 0.2])
    res["parts"] = np.array([len(p) for p in parts])
    res["parts_union"] = np.array(sorted(i for p in parts for i in p))
    parts = D.random_split(range(10), [3, 7])
    res["parts_int"] = np.array([len(p) for p in parts])
    sub = D.Subset(ds, [1, 3, 5])
    res["sub0"] = sub[0][0]; res["sub_len"] = np.array(len(sub))
    res["sub_slice_idx"] = np.array(sub.indices)
    cat = D.ConcatDataset([sub, D.Subset(ds, [9, 8])])
    res["cat_len"] = np.array(len(cat)); res["cat4"] = cat[4][0]; res["cat_neg"] = cat[-1][1]
    res["cum"] = np.array(cat.cumulative_sizes)
    bs = list(D.BatchSampler(D.SequentialSampler(range(7)), batch_size=3, drop_last=False))
    res["bs"] = np.array([len(b) for b in bs]); res["bs0"] = np.array(bs[0])
    res["bs_len"] = np.array([len(D.BatchSampler(range(7), 3, True)), len(D.BatchSampler(range(7), 3, False))])
    w = D.WeightedRandomSampler([0.0, 0.0, 1.0, 0.0], num_samples=5, replacement=True)
    res["wrs"] = np.array(list(w)); res["wrs_len"] = np.array(len(w))
    w2 = D.WeightedRandomSampler(torch.tensor([0.1, 0.0, 0.5, 0.4]), num_samples=3, replacement=False,
                                 generator=torch.Generator().manual_seed(0))
    res["wrs2"] = np.array(sorted(list(w2)))
    # shuffle with generator: each epoch a permutation
    dl = D.DataLoader(ds, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(1),
                      worker_init_fn=lambda wid: (_ for _ in ()).throw(RuntimeError("called")), num_workers=0)
    seen = []
    for i, (xb, yb) in enumerate(dl):
        seen.append(yb)
        res[f"shape{i}"] = np.array(xb.shape); res[f"dt{i}"] = str(yb.dtype).split(".")[-1]
    res["epoch_perm"] = np.array(sorted(torch.cat(seen).tolist()))
    res["len_dl"] = np.array(len(dl))
    dl2 = D.DataLoader(ds, batch_sampler=D.BatchSampler(D.RandomSampler(ds, generator=torch.Generator().manual_seed(3)), 3, drop_last=True))
    res["len_dl2"] = np.array(len(dl2)); res["n_dl2"] = np.array(sum(b[0].shape[0] for b in dl2))
    dl3 = D.DataLoader(ds, sampler=D.SubsetRandomSampler([0, 2, 4]), batch_size=2)
    res["dl3"] = np.array(sorted(torch.cat([b[1] for b in dl3]).tolist()))
    dl4 = D.DataLoader(ds, batch_size=None)
    first = next(iter(dl4))
    res["unbatched"] = first[0]; res["unbatched_y"] = first[1]
    it = iter(D.DataLoader(ds, batch_size=3))
    res["next1"] = next(it)[1]; res["next2"] = next(it)[1]
    return res


def iterable_ds(torch):
    D = torch.utils.data
    class Stream(D.IterableDataset):
        def __init__(self, n):
            super().__init__()
            self.n = n
        def __iter__(self):
            info = D.get_worker_info()
            assert info is None
            for i in range(self.n):
                yield {"x": torch.full((2,), float(i)), "y": i}
    dl = D.DataLoader(Stream(5), batch_size=2)
    res = {}
    for i, b in enumerate(dl):
        res[f"x{i}"] = b["x"]; res[f"y{i}"] = b["y"]
    dl = D.DataLoader(Stream(5), batch_size=2, drop_last=True)
    res["n_drop"] = np.array(len(list(dl)))
    chain = D.ChainDataset([Stream(2), Stream(3)])
    res["chain"] = np.array([d["y"] for d in chain])
    try:
        D.DataLoader(Stream(3), shuffle=True)
        res["err"] = "none"
    except ValueError as e:
        res["err"] = "ValueError"
    try:
        len(D.DataLoader(Stream(3)))
        res["lenerr"] = "none"
    except TypeError:
        res["lenerr"] = "TypeError"
    return res


def default_collate_kinds(torch):
    from collections import namedtuple
    C = torch.utils.data.default_collate
    P = namedtuple("P", ["x", "y"])
    res = {}
    out = C([np.array([1.0, 2.0]), np.array([3.0, 4.0])]); res["np"] = out; res["np_t"] = type(out).__name__
    out = C([1, 2, 3]); res["ints"] = out
    out = C([1.5, 2.5]); res["floats"] = out
    out = C([True, False]); res["bools"] = out
    out = C(["a", "b"]); res["strs"] = out
    out = C([P(1, torch.zeros(2)), P(2, torch.ones(2))]); res["nt_x"] = out.x; res["nt_y"] = out.y; res["nt_type"] = type(out).__name__
    out = C([(1, {"a": [1.0, 2]}), (3, {"a": [3.0, 4]})]); res["nested0"] = out[0]; res["nested_a0"] = out[1]["a"][0]; res["nested_a1"] = out[1]["a"][1]
    res["tuple_type"] = type(C([(1, 2), (3, 4)])).__name__
    out = C([np.float32(1.0), np.float32(2.0)]); res["npscalar"] = out
    out = C([np.int64(1), np.int64(2)]); res["npint"] = out
    out = torch.utils.data.default_convert([np.array([1, 2]), 3, "s"]); res["conv0"] = out[0]; res["conv1"] = np.array(out[1]); res["conv2"] = out[2]
    try:
        C([np.array(["a"], dtype=object)])
        res["objerr"] = "none"
    except TypeError:
        res["objerr"] = "TypeError"
    try:
        C([torch.zeros(2), torch.zeros(3)])
        res["sizeerr"] = "none"
    except RuntimeError:
        res["sizeerr"] = "RuntimeError"
    return res


def char_rnn_sampling(torch):
    vocab = 6
    emb = torch.nn.Embedding(vocab, 4).double(); rnn = torch.nn.GRU(4, 5).double(); head = torch.nn.Linear(5, vocab).double()
    for i, mod in enumerate((emb, rnn, head)):
        _load_np(torch, mod, _weights(mod, 20 + i))
    g = torch.Generator().manual_seed(0)
    tok = torch.tensor([[1]])
    h = None
    out_tokens = []
    probs_all = []
    with torch.no_grad():
        for t in range(5):
            o, h = rnn(emb(tok), h)
            logits = head(o[-1]) / 0.8
            probs = torch.softmax(logits, dim=-1)
            probs_all.append(probs)
            nxt = torch.multinomial(probs, num_samples=1, generator=g)
            out_tokens.append(nxt.item())
            tok = torch.tensor([[2]])   # fixed decision sequence, only shapes/dtypes of draws compared
    det = torch.multinomial(torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]), 2, replacement=True)
    return {"probs": torch.cat(probs_all), "n": np.array(len(out_tokens)),
            "valid": np.array(all(0 <= t < vocab for t in out_tokens)), "nxt_dtype": str(nxt.dtype).split(".")[-1],
            "nxt_shape": np.array(nxt.shape), "det": det,
            "gen_type": type(g).__name__, "seed": np.array(g.initial_seed())}


def collate_edges(torch):
    D = torch.utils.data
    res = {}
    res["npstr"] = [str(s) for s in D.default_collate([np.str_("a"), np.str_("b")])]
    for name, batch in (("none", [None]), ("ustr", [np.array(["a"])]), ("obj", [np.array([{}], dtype=object)])):
        try:
            D.default_collate(batch)
            res[name] = "none"
        except TypeError as e:
            res[name] = str(e)
    x = torch.ones(2, requires_grad=True)
    c = D.default_collate([x, x * 2])
    res["rg"] = c.requires_grad
    c.sum().backward()
    res["g"] = x.grad
    class Aug(D.TensorDataset):
        def __getitem__(self, i):
            a, b = super().__getitem__(i)
            return a * 10, b
    ds = Aug(torch.arange(6.0).reshape(3, 2), torch.arange(3))
    b = next(iter(D.DataLoader(ds, batch_size=2)))
    res["aug"] = b[0]; res["aug_type"] = type(b).__name__
    b = next(iter(D.DataLoader(D.Subset(ds, [2, 0]), batch_size=2)))
    res["aug_sub"] = b[0]
    b = next(iter(D.DataLoader(D.TensorDataset(torch.arange(4.0), torch.arange(4)), batch_size=2)))
    res["td_type"] = type(b).__name__
    return res


def lm_tbptt(torch):
    # truncated back-propagation through time: the recurrent state carried across windows but
    # cut from the graph, plain SGD written by hand on .data, the output matrix tied to the input
    nn = torch.nn
    V, W, layers = 7, 4, 2

    class WordModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.lookup = nn.Embedding(V, W)
            self.lstm = nn.LSTM(W, W, num_layers=layers, dropout=0.5)
            self.scores = nn.Linear(W, V)
            self.scores.weight = self.lookup.weight
        def forward(self, ids, state):
            seq, state = self.lstm(self.lookup(ids), state)
            return self.scores(seq), state
        def blank_state(self, batch):
            like = next(self.parameters())          # zeros of the model's dtype and device
            return tuple(like.new_zeros(layers, batch, W) for _ in range(2))
    m = WordModel().double()
    sd = _weights(m, 30)
    res = {"keys": list(m.state_dict().keys()), "nparams": np.array(len(list(m.parameters())))}
    _load_np(torch, m, sd)
    m.eval()     # dropout off, deterministic
    stream = torch.tensor(np.random.default_rng(31).integers(0, 7, (9, 2)))     # (time, batch)
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    state = m.blank_state(2)
    crit = nn.CrossEntropyLoss()
    window, step_size = 3, 0.5
    for i in range(0, 8, window):
        n = min(window, len(stream) - 1 - i)      # the last window is shorter
        inputs, targets = stream[i:i + n], stream[i + 1:i + 1 + n]
        state = tuple(part.detach() for part in state)
        m.zero_grad()
        scores, state = m(inputs, state)
        loss = crit(scores.view(-1, V), targets.reshape(-1))
        loss.backward()
        res[f"norm{i}"] = nn.utils.clip_grad_norm_(m.parameters(), 0.25)
        for w in m.parameters():
            w.data.add_(w.grad, alpha=-step_size)
        res[f"loss{i}"] = loss
    res["tied"] = m.scores.weight is m.lookup.weight
    res["w"] = m.lookup.weight
    res["h"] = state[0]
    return res


def packing_utils(torch):
    R = torch.nn.utils.rnn
    rng = np.random.default_rng(32)
    seqs = [torch.tensor(rng.standard_normal((n, 3)), requires_grad=True) for n in (2, 4, 1)]
    packed = R.pack_sequence(seqs, enforce_sorted=False)
    res = {"data": packed.data, "bs": packed.batch_sizes, "si": packed.sorted_indices, "ui": packed.unsorted_indices}
    gru = torch.nn.GRU(3, 2, batch_first=True).double()
    _load_np(torch, gru, _weights(gru, 33))
    h0 = torch.tensor(rng.standard_normal((1, 3, 2)))
    out, hn = gru(packed, h0)
    padded, lens = R.pad_packed_sequence(out, batch_first=True, total_length=5, padding_value=-1.0)
    res["padded"] = padded; res["lens"] = lens; res["hn"] = hn
    (padded.clamp(min=0).sum() + hn.sum()).backward()
    res["g0"] = seqs[0].grad; res["g2"] = seqs[2].grad
    un = R.unpack_sequence(out)
    res["un_shapes"] = np.array([u.shape[0] for u in un])
    left = R.pad_sequence([s.detach() for s in seqs], batch_first=True, padding_side="left")
    res["left"] = left
    unp = R.unpad_sequence(left.flip(1), torch.tensor([2, 4, 1]), batch_first=True)
    res["unp"] = torch.cat(unp)
    tm = R.pad_sequence([s.detach() for s in seqs])
    res["tm"] = tm
    res["packed_type"] = type(packed).__name__
    p2 = R.pack_padded_sequence(tm, torch.tensor([2, 4, 1]), enforce_sorted=False)
    res["p2"] = p2.data
    res["is_cuda"] = p2.is_cuda
    p3 = p2.to(torch.float32)
    res["p3"] = p3.data
    cell = torch.nn.LSTMCell(3, 2).double()
    _load_np(torch, cell, _weights(cell, 34))
    hx, cx = torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64)
    outs = []
    for t in range(tm.size(0)):
        hx, cx = cell(tm[t], (hx, cx))
        outs.append(hx)
    res["cell"] = torch.stack(outs)
    try:
        R.pack_padded_sequence(tm, torch.tensor([2, 4, 1]))
        res["err"] = "none"
    except RuntimeError as e:
        res["err"] = str(e).split(",")[0]
    return res


def checkpoint_files(torch):
    m = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3)).double()
    _load_np(torch, m, _weights(m, 35))
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    x = torch.tensor(np.random.default_rng(36).standard_normal((4, 2)))
    for _ in range(2):
        opt.zero_grad(); m(x).pow(2).sum().backward(); opt.step()
    res = {}
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "model.pt"
        torch.save(m.state_dict(), p)
        torch.save(opt.state_dict(), os.path.join(d, "opt.pt"))
        sd = torch.load(p, map_location=torch.device("cpu"), weights_only=True)
        osd = torch.load(str(os.path.join(d, "opt.pt")), weights_only=True)
        with open(p, "rb") as f:
            sd2 = torch.load(f, map_location="cpu")
    res["keys"] = list(sd.keys()); res["nbt"] = sd["1.num_batches_tracked"]
    res["same"] = all(torch.equal(sd[k], sd2[k]) for k in sd)
    m2 = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3)).double()
    m2.load_state_dict(sd)
    opt2 = torch.optim.SGD(m2.parameters(), lr=999.0)
    opt2.load_state_dict(osd)
    res["lr"] = np.array(opt2.param_groups[0]["lr"]); res["nesterov"] = opt2.param_groups[0]["nesterov"]
    for o, mm in ((opt, m), (opt2, m2)):
        o.zero_grad(); mm(x).pow(2).sum().backward(); o.step()
    res["w1"] = m[0].weight; res["w2"] = m2[0].weight
    res["mb"] = opt2.state_dict()["state"][0]["momentum_buffer"]
    best = copy.deepcopy(m.state_dict())
    best2 = {k: v.detach().clone() for k, v in m.state_dict().items()}
    with torch.no_grad():
        m[0].weight.add_(1.0)
    res["best_unchanged"] = best["0.weight"]; res["best2"] = best2["0.weight"]
    m.load_state_dict(best)
    res["restored"] = m[0].weight
    clone = copy.deepcopy(m)
    res["clone_eq"] = clone[0].weight
    res["clone_distinct"] = clone[0].weight is not m[0].weight
    return res


def grad_accum_freeze(torch):
    m = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)).double()
    _load_np(torch, m, _weights(m, 37))
    for p in m[0].parameters():
        p.requires_grad = False
    opt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()), lr=0.1, betas=(0.8, 0.9), amsgrad=True)
    rng = np.random.default_rng(38)
    X = torch.tensor(rng.standard_normal((4, 2, 3))); Y = torch.tensor(rng.integers(0, 2, (4, 2)))
    crit = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    res = {"n_trainable": np.array(sum(p.numel() for p in m.parameters() if p.requires_grad))}
    accum = 2
    opt.zero_grad()
    for i in range(4):
        loss = crit(m(X[i]), Y[i]) / accum
        loss.backward()
        if (i + 1) % accum == 0:
            torch.nn.utils.clip_grad_value_(m.parameters(), 0.05)
            opt.step(); opt.zero_grad()
        res[f"loss{i}"] = loss
    res["w0"] = m[0].weight; res["g0"] = m[0].weight.grad is None
    res["w2"] = m[2].weight
    res["state_keys"] = sorted(opt.state_dict()["state"][0].keys())
    res["betas"] = np.array(opt.state_dict()["param_groups"][0]["betas"])
    # seq CE with (N, C, T) and ignore_index
    logits = torch.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    tgt = torch.tensor([[1, -100, 3], [0, 2, -100]])
    l = torch.nn.functional.cross_entropy(logits, tgt, ignore_index=-100, label_smoothing=0.2)
    l.backward()
    res["seqce"] = l; res["seqce_g"] = logits.grad
    try:
        torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(torch.ones(1))], 1.0, error_if_nonfinite=True)
        p = torch.nn.Parameter(torch.ones(2)); p.grad = torch.tensor([float("inf"), 1.0])
        torch.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
        res["nonfinite"] = "none"
    except RuntimeError as e:
        res["nonfinite"] = "RuntimeError"
    return res


def swa_update_bn(torch):
    m = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(), torch.nn.Linear(3, 1)).double()
    _load_np(torch, m, _weights(m, 39))
    swa = torch.optim.swa_utils.AveragedModel(m)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    sched = torch.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=2)
    X = torch.tensor(np.random.default_rng(40).standard_normal((6, 2)))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=3)
    lrs = []
    for ep in range(3):
        for (xb,) in loader:
            opt.zero_grad(); m(xb).pow(2).mean().backward(); opt.step()
        swa.update_parameters(m)
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    torch.optim.swa_utils.update_bn(loader, swa)
    swa.eval()
    return {"lrs": np.array(lrs), "rm": swa.module[1].running_mean, "rv": swa.module[1].running_var,
            "out": swa(X), "n": swa.n_averaged, "w": swa.module[0].weight,
            "nbt": swa.module[1].num_batches_tracked}


def custom_scheduler_amp(torch):
    class WarmupCosine(torch.optim.lr_scheduler._LRScheduler):
        def __init__(self, optimizer, warmup, total, last_epoch=-1):
            self.warmup, self.total = warmup, total
            super().__init__(optimizer, last_epoch)
        def get_lr(self):
            e = self.last_epoch
            if e < self.warmup:
                return [b * (e + 1) / self.warmup for b in self.base_lrs]
            t = (e - self.warmup) / max(1, self.total - self.warmup)
            return [b * 0.5 * (1 + math.cos(math.pi * t)) for b in self.base_lrs]
    class WarmupFn:
        def __init__(self, warmup):
            self.warmup = warmup
            self.calls = 0
        def __call__(self, step):
            self.calls += 1
            return min(1.0, (step + 1) / self.warmup)
    m = torch.nn.Linear(3, 1).double()
    _load_np(torch, m, _weights(m, 50))
    opt = torch.optim.AdamW(m.parameters(), lr=0.1, foreach=None, fused=None, capturable=False, differentiable=False)
    sched = WarmupCosine(opt, 2, 6)
    res = {"isinst": isinstance(sched, torch.optim.lr_scheduler.LRScheduler)}
    scaler = torch.cuda.amp.GradScaler(enabled=False) if hasattr(torch.cuda.amp, "GradScaler") else None
    scaler2 = torch.amp.GradScaler("cuda", enabled=False)
    x = torch.tensor(np.random.default_rng(51).standard_normal((4, 3)))
    lrs = []
    for i in range(5):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type="cpu", enabled=False):
            loss = m(x).pow(2).mean()
        scaler2.scale(loss).backward()
        scaler2.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0, foreach=True)
        scaler2.step(opt)
        scaler2.update()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    res["lrs"] = np.array(lrs); res["w"] = m.weight
    res["scale"] = np.array(scaler2.get_scale()); res["enabled"] = scaler2.is_enabled()
    res["scaler_sd"] = sorted(scaler2.state_dict().keys())
    fn = WarmupFn(3)
    opt2 = torch.optim.SGD(m.parameters(), lr=1.0)
    lam = torch.optim.lr_scheduler.LambdaLR(opt2, fn)
    opt2.step(); lam.step(); opt2.step(); lam.step()
    sd = lam.state_dict()
    res["lam_sd"] = sd["lr_lambdas"][0]["calls"]
    fn2 = WarmupFn(3)
    lam2 = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD(m.parameters(), lr=1.0), fn2)
    lam2.load_state_dict(sd)
    res["fn2_calls"] = np.array(fn2.calls)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res["get_lr"] = np.array(lam.get_lr())
    res["get_lr_warn"] = [str(x.category.__name__) for x in w]
    return res


def data_sources(torch):
    D = torch.utils.data
    res = {}
    pairs = [(np.array([i, i + 1.0]), i % 3) for i in range(5)]
    for i, (x, y) in enumerate(D.DataLoader(pairs, batch_size=2)):
        res[f"px{i}"] = x; res[f"py{i}"] = y
    for i, b in enumerate(D.DataLoader(np.arange(5), batch_size=3)):
        res[f"np{i}"] = b
    for i, b in enumerate(D.DataLoader(range(5), batch_size=4, drop_last=True)):
        res[f"r{i}"] = b
    dl = D.DataLoader(np.arange(6.0).reshape(3, 2), batch_size=None)
    res["nobatch"] = torch.stack(list(dl))
    a = D.TensorDataset(torch.arange(3.0)); b = D.TensorDataset(torch.arange(10.0, 12.0))
    both = a + b
    res["add_type"] = type(both).__name__; res["add_len"] = np.array(len(both)); res["add3"] = both[3][0]
    st = D.StackDataset(a, D.TensorDataset(torch.arange(3)))
    res["stack0"] = st[1][0][0]; res["stack_len"] = np.array(len(st))
    st2 = D.StackDataset(x=a, y=a)
    bt = next(iter(D.DataLoader(st2, batch_size=3)))
    res["stack_dict"] = bt["x"][0]
    try:
        D.TensorDataset(torch.zeros(3), torch.zeros(4))
        res["mismatch"] = "none"
    except AssertionError as e:
        res["mismatch"] = str(e)[:len("Size mismatch between tensors")]
    ds = D.TensorDataset(torch.arange(10.0))
    s0 = D.DistributedSampler(ds, num_replicas=3, rank=0, shuffle=False)
    s1 = D.DistributedSampler(ds, num_replicas=3, rank=2, shuffle=False, drop_last=True)
    res["ds0"] = np.array(list(s0)); res["ds1"] = np.array(list(s1)); res["dslen"] = np.array([len(s0), len(s1)])
    s2 = D.DistributedSampler(ds, num_replicas=2, rank=1, shuffle=True, seed=3)
    s2.set_epoch(1)
    res["ds2len"] = np.array(len(list(s2)))
    dl = D.DataLoader(ds, batch_size=4, collate_fn=functools.partial(lambda batch, scale: torch.stack([b[0] for b in batch]) * scale, scale=2))
    res["partial"] = next(iter(dl))
    res["attrs"] = np.array([dl.batch_size, len(dl.dataset), dl.num_workers, int(dl.drop_last)])
    res["sampler_type"] = type(dl.sampler).__name__
    res["bsampler_type"] = type(dl.batch_sampler).__name__
    res["shuffled_sampler"] = type(D.DataLoader(ds, shuffle=True).sampler).__name__
    return res


def rng_resume(torch):
    """Save the global RNG state in the checkpoint; resuming must redraw the same dropout masks."""
    def model():
        m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1)).double()
        _load_np(torch, m, _weights(m, 52))
        return m, torch.optim.SGD(m.parameters(), lr=0.1)
    x = torch.tensor(np.random.default_rng(53).standard_normal((6, 4)))
    def step(m, opt):
        opt.zero_grad(); l = m(x).pow(2).mean(); l.backward(); opt.step(); return l.item()
    torch.manual_seed(123)
    m, opt = model()
    full = [step(m, opt) for _ in range(4)]
    torch.manual_seed(123)
    m, opt = model()
    first = [step(m, opt) for _ in range(2)]
    buf = io.BytesIO()
    torch.save({"model": m.state_dict(), "opt": opt.state_dict(), "rng": torch.get_rng_state()}, buf)
    torch.manual_seed(999)
    buf.seek(0)
    ck = torch.load(buf, weights_only=True)
    m2, opt2 = model()
    m2.load_state_dict(ck["model"]); opt2.load_state_dict(ck["opt"]); torch.set_rng_state(ck["rng"])
    rest = [step(m2, opt2) for _ in range(2)]
    g = torch.Generator().manual_seed(5)
    st = g.get_state()
    a = torch.rand(3, generator=g)
    g.set_state(st)
    b = torch.rand(3, generator=g)
    return {"same": np.allclose(full, first + rest), 
            "gen_same": bool(torch.equal(a, b))}


def bilstm_encoder_decoder(torch):
    nn, F = torch.nn, torch.nn.functional
    L, H, V, B = 2, 3, 8, 2
    enc = nn.LSTM(4, H, num_layers=L, bidirectional=True, batch_first=True).double()
    emb = nn.Embedding(V, 4, padding_idx=0).double()
    bridge = nn.Linear(2 * H, H).double()
    dec = nn.LSTM(4, H, num_layers=L, batch_first=True).double()
    out = nn.Linear(H + 2 * H, V).double()
    mods = [enc, emb, bridge, dec, out]
    for i, mod in enumerate(mods):
        _load_np(torch, mod, _weights(mod, 60 + i))
    src = torch.tensor([[3, 4, 5, 6], [7, 2, 0, 0]])
    lens = (src != 0).sum(1)
    packed = nn.utils.rnn.pack_padded_sequence(emb(src), lens.cpu(), batch_first=True, enforce_sorted=True)
    enc_out, (h, c) = enc(packed)
    enc_out, _ = nn.utils.rnn.pad_packed_sequence(enc_out, batch_first=True)
    h = h.view(L, 2, B, H); c = c.view(L, 2, B, H)
    h0 = torch.tanh(bridge(torch.cat([h[:, 0], h[:, 1]], -1)))
    c0 = torch.cat([c[:, 0], c[:, 1]], -1)[..., :H].contiguous()
    mask = (src != 0)
    ys = torch.full((B, 1), 1, dtype=torch.long)
    state = (h0, c0)
    step_logp = []
    for t in range(3):
        o, state = dec(emb(ys[:, -1:]), state)
        scores = torch.einsum("bqh,bkh->bqk", o, bridge(enc_out))
        scores = scores.masked_fill(mask.unsqueeze(1) == 0, -1e9)
        attn = F.softmax(scores, dim=-1)
        ctx = attn @ enc_out
        logits = out(torch.cat([o, ctx], -1)).squeeze(1)
        logp = F.log_softmax(logits, -1)
        step_logp.append(logp)
        nxt = logp.argmax(-1, keepdim=True)
        ys = torch.cat([ys, nxt], dim=1)
        if (ys == 2).any(1).all():
            break
    logp = torch.stack(step_logp, 1)
    tgt = torch.tensor([[4, 5, 2], [6, 2, 0]])
    tmask = (tgt != 0).double()
    nll = F.nll_loss(logp.reshape(-1, V), tgt.reshape(-1), reduction="none").view(B, -1)
    loss = (nll * tmask).sum() / tmask.sum()
    loss.backward()
    # beam expansion
    k = 3
    flat = logp[:, -1].reshape(-1)
    top_v, top_i = flat.topk(k)
    beam = torch.div(top_i, V, rounding_mode="floor"); tok = top_i % V
    return {"ys": ys, "loss": loss, "g_bridge": bridge.weight.grad, "g_emb": emb.weight.grad,
            "g_enc": enc.weight_hh_l1_reverse.grad, "top_v": top_v, "beam": beam, "tok": tok,
            "attn": attn}


def bag_ctc_more(torch):
    bag = torch.nn.EmbeddingBag(10, 3, mode="sum", include_last_offset=True).double()
    _load_np(torch, bag, _weights(bag, 70))
    idx = torch.tensor([1, 2, 3, 4, 5, 6])
    off = torch.tensor([0, 2, 2, 6])
    w = torch.tensor([0.5, 1.0, 2.0, -1.0, 0.1, 0.3], dtype=torch.float64, requires_grad=True)
    o = bag(idx, off, per_sample_weights=w)
    mx = torch.nn.EmbeddingBag(10, 3, mode="max").double()
    _load_np(torch, mx, _weights(mx, 71))
    o2 = mx(torch.tensor([[1, 2, 3], [4, 4, 9]]))
    (o.pow(2).sum() + o2.sum()).backward()
    rng = np.random.default_rng(72)
    T_, N, C = 7, 3, 5
    lp = torch.tensor(rng.standard_normal((T_, N, C)), requires_grad=True)
    targets = torch.tensor([1, 2, 3, 3, 4, 1, 2])
    il, tl = (7, 6, 5), (3, 2, 2)
    l_sum = torch.nn.CTCLoss(reduction="sum")(lp.log_softmax(-1), targets, il, tl)
    l_none = torch.nn.functional.ctc_loss(lp.log_softmax(-1), targets, torch.tensor(il), torch.tensor(tl), reduction="none")
    (l_sum + l_none[0]).backward()
    greedy = lp.argmax(-1).t()
    decoded = [[int(t) for t in torch.unique_consecutive(seq) if t != 0] for seq in greedy]
    return {"o": o, "o2": o2, "gw": w.grad, "gbag": bag.weight.grad, "gmx": mx.weight.grad,
            "l_sum": l_sum, "l_none": l_none, "g_lp": lp.grad,
            "decoded": np.array([len(d) for d in decoded]), "dec0": np.array(decoded[0] + [-1])}


def float32_masked_attention(torch):
    rng = np.random.default_rng(73)
    q = torch.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32), requires_grad=True)
    k = torch.tensor(rng.standard_normal((2, 5, 4)).astype(np.float32), requires_grad=True)
    v = torch.tensor(rng.standard_normal((2, 5, 4)).astype(np.float32))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).unsqueeze(1)
    s = q @ k.transpose(-2, -1) / math.sqrt(4)
    s = s.masked_fill(mask == 0, float("-inf"))
    a = torch.softmax(s, dim=-1)
    o = torch.matmul(a, v)
    o.sum().backward()
    return {"o": o, "a": a, "gq": q.grad, "gk": k.grad, "dtype": str(o.dtype).split(".")[-1]}


def _err(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = fn()
        return "ok:" + type(r).__name__
    except Exception as e:
        return type(e).__name__ + ": " + " ".join(str(e).split()[:5])


def bad_inputs(torch):
    D, R, S = torch.utils.data, torch.nn.utils.rnn, torch.optim.lr_scheduler

    class _Stream(D.IterableDataset):
        def __iter__(self):
            return iter(range(3))
    ds = D.TensorDataset(torch.arange(5.0))
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=0.1)
    cases = {
        "bs0": lambda: D.DataLoader(ds, batch_size=0),
        "bs_neg_sampler": lambda: D.BatchSampler(range(3), -1, False),
        "bs_float": lambda: D.BatchSampler(range(3), 2.0, False),
        "bs_droplast": lambda: D.BatchSampler(range(3), 2, 1),
        "split_sum": lambda: D.random_split(range(5), [2, 2]),
        "split_frac": lambda: D.random_split(range(5), [0.5, 0.6]),
        "split_negfrac": lambda: D.random_split(range(5), [1.5, -0.5]),
        "wrs_neg": lambda: list(D.WeightedRandomSampler([1.0, -1.0], 2)),
        "wrs_zero": lambda: D.WeightedRandomSampler([1.0, 1.0], 0),
        "wrs_norepl": lambda: list(D.WeightedRandomSampler([1.0, 1.0], 3, replacement=False)),
        "wrs_2d": lambda: D.WeightedRandomSampler([[1.0, 1.0]], 3),
        "wrs_bool": lambda: D.WeightedRandomSampler([1.0, 1.0], 1, replacement=1),
        "rs_num": lambda: D.RandomSampler(ds, num_samples=0),
        "rs_repl": lambda: D.RandomSampler(ds, replacement=1),
        "subset_oob": lambda: D.Subset(ds, [7])[0],
        "ds_oob": lambda: ds[9],
        "concat_empty": lambda: D.ConcatDataset([]),
        "concat_iter": lambda: D.ConcatDataset([_Stream()]),
        "dl_sampler_shuffle": lambda: D.DataLoader(ds, shuffle=True, sampler=D.SequentialSampler(ds)),
        "dl_bsampler": lambda: D.DataLoader(ds, batch_size=2, batch_sampler=D.BatchSampler(range(5), 2, False)),
        "dl_workers": lambda: D.DataLoader(ds, num_workers=-1),
        "collate_keys": lambda: D.default_collate([{"a": 1}, {"b": 2}]),
        "collate_len": lambda: D.default_collate([[1, 2], [1]]),
        "pad_empty": lambda: R.pad_sequence([]),
        "pack_unsorted": lambda: R.pack_padded_sequence(torch.zeros(3, 2, 1), torch.tensor([1, 3])),
        "pack_zero": lambda: R.pack_padded_sequence(torch.zeros(3, 2, 1), torch.tensor([3, 0])),
        "pack_2dlen": lambda: R.pack_padded_sequence(torch.zeros(3, 2, 1), torch.tensor([[3, 1]])),
        "pack_nlen": lambda: R.pack_padded_sequence(torch.zeros(3, 2, 1), torch.tensor([3, 2, 1])),
        "sched_notopt": lambda: S.StepLR(object(), 1),
        "lambda_count": lambda: S.LambdaLR(opt, [lambda e: 1.0, lambda e: 1.0]),
        "onecycle_over": lambda: [(opt.step(), s.step()) for s in [S.OneCycleLR(torch.optim.SGD([p], lr=0.1), 1.0, total_steps=2)] for _ in range(3)],
        "onecycle_nomom": lambda: S.OneCycleLR(torch.optim.Adagrad([p]), 1.0, total_steps=2),
        "multistep_bad": lambda: S.MultiStepLR(opt, [3, 1]),
        "seq_opt": lambda: S.SequentialLR(opt, [S.StepLR(torch.optim.SGD([p], lr=1.0), 1)], []),
        "cawr_T0": lambda: S.CosineAnnealingWarmRestarts(opt, 0),
        "plateau_factor": lambda: S.ReduceLROnPlateau(opt, factor=1.5),
        "plateau_mode": lambda: S.ReduceLROnPlateau(opt, mode="up"),
        "linear_factor": lambda: S.LinearLR(opt, start_factor=0),
        "constant_factor": lambda: S.ConstantLR(opt, factor=2),
        "opt_load_groups": lambda: opt.load_state_dict({"state": {}, "param_groups": []}),
        "opt_load_sizes": lambda: opt.load_state_dict({"state": {}, "param_groups": [{"params": [0, 1], "lr": 0.1}]}),
        "opt_lr_neg": lambda: torch.optim.SGD([p], lr=-1),
        "opt_mom_neg": lambda: torch.optim.SGD([p], lr=0.1, momentum=-1),
        "adam_beta": lambda: torch.optim.Adam([p], betas=(1.0, 0.9)),
        "add_group_dup": lambda: opt.add_param_group({"params": [p]}),
        "emb_oob": lambda: torch.nn.Embedding(3, 2)(torch.tensor([3])),
        "emb_float": lambda: torch.nn.Embedding(3, 2)(torch.tensor([1.0])),
        "emb_pad": lambda: torch.nn.Embedding(3, 2, padding_idx=3),
        "bag_offsets": lambda: torch.nn.EmbeddingBag(3, 2)(torch.tensor([1, 2]), torch.tensor([1])),
        "bag_2d_off": lambda: torch.nn.EmbeddingBag(3, 2)(torch.tensor([[1, 2]]), torch.tensor([0])),
        "lstm_dims": lambda: torch.nn.LSTM(2, 3)(torch.zeros(2, 2, 2, 2)),
        "lstm_feat": lambda: torch.nn.LSTM(2, 3)(torch.zeros(2, 2, 4)),
        "lstm_h0": lambda: torch.nn.LSTM(2, 3)(torch.zeros(2, 2, 2), (torch.zeros(1, 3, 3), torch.zeros(1, 3, 3))),
        "gru_h0_tuple": lambda: torch.nn.GRU(2, 3)(torch.zeros(2, 2, 2), (torch.zeros(1, 2, 3),)),
        "clip_empty": lambda: float(torch.nn.utils.clip_grad_norm_([], 1.0)),
        "p2v_bad": lambda: torch.nn.utils.parameters_to_vector([torch.zeros(2), 3]),
        "v2p_bad": lambda: torch.nn.utils.vector_to_parameters([1.0], [torch.zeros(1)]),
        "v2p_short": lambda: torch.nn.utils.vector_to_parameters(torch.zeros(1), [torch.zeros(2)]),
        "ctc_bad_blank": lambda: torch.nn.CTCLoss(blank=7)(torch.zeros(3, 1, 4).log_softmax(-1), torch.tensor([[1]]), [3], [1]),
        "ctc_long_target": lambda: float(torch.nn.CTCLoss()(torch.zeros(2, 1, 4).log_softmax(-1), torch.tensor([[1, 2, 3]]), [2], [3])),
        "ctc_long_target_zi": lambda: float(torch.nn.CTCLoss(zero_infinity=True)(torch.zeros(2, 1, 4).log_softmax(-1), torch.tensor([[1, 2, 3]]), [2], [3])),
        "multinomial_neg": lambda: torch.multinomial(torch.tensor([1.0, -1.0]), 1),
        "multinomial_zero": lambda: torch.multinomial(torch.tensor([0.0, 0.0]), 1),
        "topk_big": lambda: torch.topk(torch.zeros(3), 4),
        "bincount_neg": lambda: torch.bincount(torch.tensor([-1, 2])),
        "bincount_float": lambda: torch.bincount(torch.tensor([1.0])),
        "bincount_minlen": lambda: torch.bincount(torch.tensor([1]), minlength=-1),
        "load_strict": lambda: torch.nn.Linear(2, 2).load_state_dict({"weight": torch.zeros(3, 2), "bias": torch.zeros(2)}),
        "foreach_len": lambda: torch._foreach_add_([torch.zeros(1)], [torch.zeros(1), torch.zeros(1)]),
        "avg_model_bad": lambda: torch.optim.swa_utils.SWALR(opt, swa_lr=0.1, anneal_strategy="exp"),
        "swalr_epochs": lambda: torch.optim.swa_utils.SWALR(opt, swa_lr=0.1, anneal_epochs=-1),
    }
    return {k: _err(f) for k, f in cases.items()}


def manual_sort_rnn(torch):
    R = torch.nn.utils.rnn
    rnn = torch.nn.RNN(2, 3, batch_first=True, nonlinearity="relu").double()
    _load_np(torch, rnn, _weights(rnn, 80))
    emb = torch.nn.Embedding(9, 2).double(); _load_np(torch, emb, _weights(emb, 81))
    x = torch.tensor([[1, 2, 0, 0], [3, 4, 5, 6], [7, 0, 0, 0]])
    lengths = torch.tensor([2, 4, 1])
    sorted_len, perm = lengths.sort(0, descending=True)
    xs = x[perm]
    packed = R.pack_padded_sequence(xs, sorted_len.tolist(), batch_first=True)
    packed_emb = R.PackedSequence(emb(packed.data), packed.batch_sizes)
    out, h = rnn(packed_emb)
    _, unperm = perm.sort(0)
    h = h[-1][unperm]
    padded, _ = R.pad_packed_sequence(out, batch_first=True)
    padded = padded[unperm]
    # last valid step per sequence via gather
    idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, padded.size(2))
    last = padded.gather(1, idx).squeeze(1)
    (last.sum() + h.pow(2).sum()).backward()
    p2 = packed._replace(data=packed.data * 2)
    return {"h": h, "last": last, "eq": torch.allclose(h, last), "g": emb.weight.grad, "ghh": rnn.weight_hh_l0.grad,
            "p2": p2.data, "p2_type": type(p2).__name__, "bs": packed.batch_sizes,
            "si_none": packed.sorted_indices is None}


def eval_metrics(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(82)
    y = torch.tensor(rng.integers(0, 3, 12)); logits = torch.tensor(rng.standard_normal((12, 3)))
    pred = logits.argmax(dim=1)
    res = {}
    tp = ((pred == 1) & (y == 1)).sum().item(); fp = ((pred == 1) & (y != 1)).sum().item()
    fn = ((pred != 1) & (y == 1)).sum().item()
    res["prf"] = np.array([tp, fp, fn])
    cm = torch.zeros(3, 3, dtype=torch.long)
    for t, p in zip(y.view(-1), pred.view(-1)):
        cm[t.long(), p.long()] += 1
    res["cm_loop"] = cm
    cm2 = torch.zeros(3, 3, dtype=torch.long).index_put_((y, pred), torch.ones_like(y), accumulate=True)
    res["cm_put"] = cm2
    counts = torch.zeros(3).index_add_(0, y, torch.ones(12))
    res["counts"] = counts
    res["counts2"] = torch.zeros(3, dtype=torch.long).scatter_add_(0, y, torch.ones_like(y))
    oh = F.one_hot(y, num_classes=3)
    res["oh"] = oh
    probs = logits.softmax(1)
    res["brier"] = ((probs - oh.float().double()) ** 2).sum(1).mean()
    res["hist"] = torch.histc(probs[:, 0], bins=4, min=0, max=1)
    score = probs[:, 1]; pos = (y == 1)
    order = torch.argsort(score, descending=True)
    tpr = torch.cumsum(pos[order].float(), 0) / pos.sum()
    fpr = torch.cumsum((~pos[order]).float(), 0) / (~pos).sum()
    res["auc"] = torch.trapz(tpr, fpr)
    res["per_class_acc"] = cm.diag().float() / cm.sum(1).float()
    res["nanmean"] = torch.nanmean(torch.tensor([1.0, float("nan"), 3.0]))
    res["where"] = torch.where(pred == y, 1.0, 0.0)
    top3 = logits.topk(3, 1).indices
    res["top3acc"] = np.array([(top3[:, :k] == y.unsqueeze(1)).any(1).float().mean().item() for k in (1, 2, 3)])
    res["mean_item_type"] = type((pred == y).float().mean().item()).__name__
    res["sum_item_type"] = type((pred == y).sum().item()).__name__
    return res


def balanced_sampling(torch):
    D = torch.utils.data
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2, 0])
    class_counts = torch.bincount(labels)
    class_w = 1.0 / class_counts.float()
    sample_w = class_w[labels]
    sampler = D.WeightedRandomSampler(sample_w, num_samples=len(sample_w), replacement=True,
                                      generator=torch.Generator().manual_seed(0))
    class DS(D.Dataset):
        def __len__(self):
            return len(labels)
        def __getitem__(self, i):
            return np.full(2, i, dtype=np.float32), int(labels[i]), float(i) / 2
    dl = D.DataLoader(DS(), batch_size=3, sampler=sampler, persistent_workers=False, prefetch_factor=None)
    res = {"len": np.array(len(dl)), "sw": sample_w, "w_dtype": str(sampler.weights.dtype).split(".")[-1]}
    n = 0
    for xb, yb, fb in dl:
        n += len(yb)
        res["x_dtype"] = str(xb.dtype).split(".")[-1]; res["y_dtype"] = str(yb.dtype).split(".")[-1]
        res["f_dtype"] = str(fb.dtype).split(".")[-1]
    res["n"] = np.array(n)
    det = D.DataLoader(DS(), batch_size=4, collate_fn=lambda b: tuple(zip(*b)))
    b = next(iter(det))
    res["zip_type"] = type(b).__name__; res["zip_inner"] = type(b[1]).__name__; res["zip1"] = np.array(b[1])
    return res


def lr_finder_and_manual_decay(torch):
    m = torch.nn.Linear(2, 1).double()
    _load_np(torch, m, _weights(m, 83))
    init = copy.deepcopy(m.state_dict())
    opt = torch.optim.SGD(m.parameters(), lr=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 10 ** (i / 2))
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64); y = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    lrs, losses = [], []
    for i in range(6):
        opt.zero_grad(); loss = torch.nn.functional.mse_loss(m(x), y); loss.backward(); opt.step(); sched.step()
        lrs.append(opt.param_groups[0]["lr"]); losses.append(loss.item())
    m.load_state_dict(init)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    for ep in range(3):
        opt.zero_grad(); torch.nn.functional.mse_loss(m(x), y).backward(); opt.step()
        for g in opt.param_groups:
            g["lr"] *= 0.5
    return {"lrs": np.array(lrs), "losses": np.array(losses), "w": m.weight, "lr": np.array(opt.param_groups[0]["lr"]),
            "initial_lr": np.array(sched.optimizer.param_groups[0]["initial_lr"])}


def checkpoint_variants(torch):
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).double()
    _load_np(torch, m, _weights(m, 90))
    res = {}
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf, pickle_protocol=2)
    buf.seek(0)
    sd = torch.load(buf, map_location=lambda storage, loc: storage)
    res["sd_type"] = type(sd).__name__
    res["w"] = sd["0.weight"]
    buf.seek(0)
    sd2 = torch.load(buf, map_location={"cuda:0": "cpu"}, weights_only=True)
    res["w2"] = sd2["0.weight"]
    wrapped = {"module." + k: v for k, v in m.state_dict().items()}
    torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(wrapped, "module.")
    res["consumed"] = list(wrapped.keys())
    m2 = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).double()
    r = m2.load_state_dict(wrapped, assign=True)
    res["assign_is"] = m2[0].weight is not wrapped["0.weight"]
    res["assign_param"] = type(m2[0].weight).__name__
    res["w3"] = m2[0].weight
    kv = m.state_dict(keep_vars=True)
    res["keep_vars"] = kv["0.weight"].requires_grad
    res["prefix"] = list(m.state_dict(prefix="net.").keys())
    buf = io.BytesIO()
    torch.save({"best": float("inf"), "hist": [0.5, 0.25], "cfg": {"lr": 0.1, "name": "run1", "layers": (2, 2)},
                "t": torch.tensor(3.5), "none": None, "flag": True}, buf)
    buf.seek(0)
    ck = torch.load(buf, weights_only=True)
    res["ck_best"] = np.array(ck["best"]); res["ck_hist"] = np.array(ck["hist"]); res["ck_layers"] = type(ck["cfg"]["layers"]).__name__
    res["ck_name"] = ck["cfg"]["name"]; res["ck_t"] = ck["t"]; res["ck_none"] = ck["none"] is None; res["ck_flag"] = ck["flag"]
    res["ck_type"] = type(ck).__name__
    return res


def getitems_dataset(torch):
    D = torch.utils.data
    calls = []
    class Batched(D.Dataset):
        def __len__(self):
            return 5
        def __getitem__(self, i):
            calls.append(("one", i))
            return torch.tensor([float(i)])
        def __getitems__(self, idx):
            calls.append(("many", list(idx)))
            return [torch.tensor([float(i) * 10]) for i in idx]
    dl = D.DataLoader(Batched(), batch_size=2)
    out = [b for b in dl]
    res = {"b0": out[0], "b2": out[2], "calls": [c[0] for c in calls]}
    class MySampler(D.Sampler):
        def __init__(self, n):
            self.n = n
        def __iter__(self):
            yield [0, 1]
            yield [4]
        def __len__(self):
            return 2
    dl = D.DataLoader(D.TensorDataset(torch.arange(5.0)), batch_sampler=MySampler(5))
    res["bs"] = [str(b[0].tolist()) for b in dl]
    torch.manual_seed(7)
    a = [b[0].tolist() for b in D.DataLoader(D.TensorDataset(torch.arange(6.0)), batch_size=6, shuffle=True)]
    torch.manual_seed(7)
    b = [b[0].tolist() for b in D.DataLoader(D.TensorDataset(torch.arange(6.0)), batch_size=6, shuffle=True)]
    res["repro"] = a == b
    g = torch.Generator().manual_seed(1)
    dl = D.DataLoader(D.TensorDataset(torch.arange(6.0)), batch_size=6, shuffle=True, generator=g)
    e1 = next(iter(dl))[0].tolist(); e2 = next(iter(dl))[0].tolist()
    res["epochs_sorted"] = sorted(e1) == sorted(e2) == list(range(6))
    sub = D.Subset(D.TensorDataset(torch.arange(6.0)), [5, 3, 1])
    res["sub_getitems"] = sub.__getitems__([0, 2])[1][0] if hasattr(sub, "__getitems__") else torch.tensor(-1.0)
    return res


def optimizer_hooks(torch):
    m = torch.nn.Linear(2, 2).double()
    _load_np(torch, m, _weights(m, 95))
    ema = [p.detach().clone() for p in m.parameters()]
    log = []
    for name, opt in (("sgd", torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.5)),
                      ("adafactor", torch.optim.Adafactor(m.parameters(), lr=0.01)),
                      ("adamw", torch.optim.AdamW(m.parameters(), lr=0.01))):
        def pre(o, args, kwargs, name=name):
            log.append(f"pre-{name}-{len(args)}-{sorted(kwargs)}")
        def post(o, args, kwargs, name=name):
            log.append(f"post-{name}")
            with torch.no_grad():
                torch._foreach_lerp_(ema, list(m.parameters()), 0.1)
        h1 = opt.register_step_pre_hook(pre)
        h2 = opt.register_step_post_hook(post)
        sched = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)
        x = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
        for i in range(2):
            opt.zero_grad(); m(x).pow(2).sum().backward(); opt.step(); sched.step()
        h1.remove()
        opt.zero_grad(); m(x).pow(2).sum().backward(); opt.step(closure=None)
        h2.remove()
        opt.step()
    def sd_pre(o):
        log.append("sd_pre")
    def sd_post(o, sd):
        log.append("sd_post")
        sd["extra"] = 1
        return sd
    def load_pre(o, sd):
        log.append("load_pre")
        sd = dict(sd); sd.pop("extra", None)
        return sd
    def load_post(o):
        log.append("load_post")
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    opt.register_state_dict_pre_hook(sd_pre); opt.register_state_dict_post_hook(sd_post)
    opt.register_load_state_dict_pre_hook(load_pre); opt.register_load_state_dict_post_hook(load_post, prepend=True)
    opt.register_load_state_dict_post_hook(lambda o: log.append("load_post_first"), prepend=True)
    sd = opt.state_dict()
    opt.load_state_dict(sd)
    g = []
    optim_mod = importlib.import_module(torch.__name__ + ".optim.optimizer")
    h = optim_mod.register_optimizer_step_pre_hook(lambda o, a, k: g.append(type(o).__name__))
    torch.optim.SGD(m.parameters(), lr=0.1).step()
    h.remove()
    torch.optim.SGD(m.parameters(), lr=0.1).step()
    return {"log": log, "ema0": ema[0], "ema1": ema[1], "w": m.weight, "extra": np.array(sd["extra"]), "global": g}


def grad_clipping_variants(torch):
    U = torch.nn.utils
    res = {}
    def fresh():
        rng = np.random.default_rng(100)
        ps = [torch.nn.Parameter(torch.tensor(rng.standard_normal(s))) for s in ((2, 3), (3,), (1,))]
        for p, s in zip(ps, (2.0, -3.0, 0.5)):
            p.grad = torch.tensor(rng.standard_normal(tuple(p.shape))) * s
        ps[2].grad = None
        return ps
    for nt in (2, 1, float("inf"), "inf", 3.5, 0, -1, -float("inf"), 0.5):
        ps = fresh()
        tn = U.clip_grad_norm_(ps, max_norm=0.7, norm_type=nt)
        res[f"tn_{nt}"] = tn; res[f"g_{nt}"] = ps[0].grad
    ps = fresh()
    tn = U.clip_grad_norm_(ps[0], 0.5)
    res["single"] = ps[0].grad
    ps = fresh()
    if hasattr(U, "get_total_norm"):
        tot = U.get_total_norm([p.grad for p in ps if p.grad is not None], norm_type=2.0)
        U.clip_grads_with_norm_(ps, 0.5, tot)
        res["tot"] = tot; res["cwn"] = ps[1].grad
    ps = fresh()
    U.clip_grad_value_(ps, clip_value=0.3)
    res["val"] = ps[0].grad
    m = torch.nn.Linear(2, 2).double()
    m.requires_grad_(False)
    res["rg"] = [p.requires_grad for p in m.parameters()]
    m.requires_grad_()
    m(torch.ones(1, 2, dtype=torch.float64)).sum().backward()
    m.weight.grad.data.zero_()
    res["zeroed"] = m.weight.grad
    m.zero_grad()
    res["none"] = m.weight.grad is None
    tn = U.clip_grad_norm_(m.parameters(), 1.0)
    res["tn_nograd"] = tn
    return res


def _warn_list(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, [x.category.__name__ + ": " + " ".join(str(x.message).split()[:6]) for x in w]


def rnn_init_idioms(torch):
    nn = torch.nn
    res = {}
    lstm, res["warn"] = _warn_list(lambda: nn.LSTM(3, 4, num_layers=1, dropout=0.2))
    lstm = lstm.double()
    H = 4
    torch.manual_seed(0)
    for name, param in lstm.named_parameters():
        if "weight_ih" in name:
            nn.init.xavier_uniform_(param)
        elif "weight_hh" in name:
            nn.init.orthogonal_(param)
        elif "bias" in name:
            param.data.fill_(0)
            param.data[H:2 * H].fill_(1)
    res["names"] = [n for n, _ in lstm.named_parameters()]
    res["bias"] = lstm.bias_ih_l0
    w = lstm.weight_hh_l0
    res["orth"] = w.t() @ w
    res["xavier_bound"] = bool(lstm.weight_ih_l0.abs().max() <= math.sqrt(6 / (3 + 16)))
    lstm.flatten_parameters()
    res["all_weights"] = [str([tuple(t.shape) for t in layer]) for layer in lstm.all_weights]
    res["flat_names"] = list(lstm._flat_weights_names)
    x = torch.tensor(np.random.default_rng(110).standard_normal((5, 2, 3)))
    _load_np(torch, lstm, _weights(lstm, 111))
    lstm.train()
    out, (h, c) = lstm(x)
    res["out"] = out; res["c"] = c
    gru, res["warn_gru"] = _warn_list(lambda: nn.GRU(3, 2, bias=False, num_layers=2, dropout=0.0))
    gru = gru.double(); _load_np(torch, gru, _weights(gru, 112))
    o, h = gru(x)
    res["gru"] = o; res["gru_names"] = [n for n, _ in gru.named_parameters()]
    pads = nn.utils.rnn.pad_sequence([torch.tensor([1, 2]), torch.tensor([3])], batch_first=True, padding_value=-1)
    res["pads"] = pads
    res["repr"] = repr(lstm)
    res["repr_gru"] = repr(gru)
    cell = nn.GRUCell(3, 2).double(); _load_np(torch, cell, _weights(cell, 113))
    res["cell_unbatched"] = cell(x[0, 0])
    res["cell_repr"] = repr(cell)
    return res


def averaged_model_variants(torch):
    S = torch.optim.swa_utils
    def net():
        m = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 1)).double()
        return _load_np(torch, m, _weights(m, 120))
    m = net()
    avgs = {"ema_buf": S.AveragedModel(m, multi_avg_fn=S.get_ema_multi_avg_fn(0.8), use_buffers=True),
            "ema_avgfn": S.AveragedModel(m, avg_fn=S.get_ema_avg_fn(0.7)),
            "swa_multi": S.AveragedModel(m, multi_avg_fn=S.get_swa_multi_avg_fn()),
            "custom": S.AveragedModel(m, avg_fn=lambda avg, new, n: 0.5 * avg + 0.5 * new)}
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    x = torch.tensor(np.random.default_rng(121).standard_normal((4, 2)))
    for i in range(3):
        m.train()
        opt.zero_grad(); m(x).pow(2).mean().backward(); opt.step()
        for a in avgs.values():
            a.update_parameters(m)
    res = {}
    for k, a in avgs.items():
        res[k + "_w"] = a.module[0].weight
        res[k + "_rm"] = a.module[1].running_mean
        res[k + "_n"] = a.n_averaged
        res[k + "_keys"] = list(a.state_dict().keys())
        a.eval()
        res[k + "_out"] = a(x)
    sd = avgs["ema_buf"].state_dict()
    buf = io.BytesIO(); torch.save(sd, buf); buf.seek(0)
    fresh = S.AveragedModel(net(), multi_avg_fn=S.get_ema_multi_avg_fn(0.8), use_buffers=True)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    res["fresh_n"] = fresh.n_averaged
    res["fresh_w"] = fresh.module[0].weight
    res["param_rg"] = [p.requires_grad for p in avgs["custom"].parameters()]
    return res


def sampler_as_batches(torch):
    D = torch.utils.data
    ds = D.TensorDataset(torch.arange(10.0).reshape(5, 2), torch.arange(5))
    dl = D.DataLoader(ds, sampler=D.BatchSampler(D.SequentialSampler(ds), batch_size=2, drop_last=False), batch_size=None)
    res = {"len": np.array(len(dl))}
    for i, (x, y) in enumerate(dl):
        res[f"x{i}"] = x; res[f"y{i}"] = y
    res["item_list"] = ds[[0, 3]][1]
    res["item_tensor"] = ds[torch.tensor([1, 2])][0]
    res["item_slice"] = ds[1:3][1]
    sub = D.Subset(ds, [4, 2, 0])
    res["sub_list"] = sub[[0, 1]][1]
    class Dict(D.Dataset):
        def __init__(self):
            self.data = {"a": 1, "b": 2, "c": 3}
            self.keys = list(self.data)
        def __len__(self):
            return 3
        def __getitem__(self, key):
            return torch.tensor(self.data[key])
    class KeySampler(D.Sampler):
        def __iter__(self):
            return iter(["c", "a", "b"])
        def __len__(self):
            return 3
    dl = D.DataLoader(Dict(), sampler=KeySampler(), batch_size=2)
    res["keys"] = [b.tolist() for b in dl]
    res["keys"] = [str(k) for k in res["keys"]]
    class Reversed(D.SequentialSampler):
        def __iter__(self):
            return iter(range(len(self.data_source) - 1, -1, -1))
    dl = D.DataLoader(ds, sampler=Reversed(ds), batch_size=2)
    res["reversed"] = torch.cat([b[1] for b in dl])
    class NpSampler(D.Sampler):
        def __iter__(self):
            return iter(np.array([3, 1], dtype=np.int64))
        def __len__(self):
            return 2
    dl = D.DataLoader(ds, sampler=NpSampler(), batch_size=2)
    res["np_idx"] = next(iter(dl))[1]
    res["bs_iter"] = [str(b) for b in D.BatchSampler(Reversed(ds), 2, False)]
    res["bs_iter_type"] = type(next(iter(D.BatchSampler(range(3), 2, False)))[0]).__name__
    return res


def named_param_optimizer(torch):
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)).double()
    _load_np(torch, m, _weights(m, 130))
    opt = torch.optim.AdamW(m.named_parameters(), lr=0.01)
    x = torch.ones(3, 2, dtype=torch.float64)
    opt.zero_grad(); m(x).sum().backward(); opt.step()
    sd = opt.state_dict()
    res = {"pg_keys": sorted(sd["param_groups"][0].keys()), "names": sd["param_groups"][0].get("param_names", [])}
    buf = io.BytesIO(); torch.save(sd, buf); buf.seek(0)
    opt2 = torch.optim.AdamW(m.named_parameters(), lr=0.5)
    opt2.load_state_dict(torch.load(buf, weights_only=True))
    res["lr"] = np.array(opt2.param_groups[0]["lr"])
    res["same_obj"] = opt.param_groups[0]["params"][0] is m[0].weight
    g = torch.Generator(device="cpu")
    res["gdev"] = str(g.device)
    g.manual_seed(123)
    res["gseed"] = np.array(g.initial_seed())
    s = g.seed()
    res["seed_type"] = type(s).__name__
    res["ret"] = type(g.manual_seed(1)).__name__
    res["perm"] = np.array(sorted(torch.randperm(5, generator=g).tolist()))
    res["perm_dtype"] = str(torch.randperm(5, generator=g).dtype).split(".")[-1]
    res["rand_gen_shape"] = np.array(torch.rand(2, 3, generator=g).shape)
    res["randint"] = np.array(torch.randint(0, 10, (4,), generator=g).dtype == torch.int64)
    return res


def text_classification_bag(torch):
    # bag-of-words classification with EmbeddingBag: a collate function that flattens the
    # token ids of a batch and computes each document's start offset, a step-decayed SGD
    nn = torch.nn
    D = torch.utils.data
    docs = [(1, "good great fine"), (0, "bad awful"), (1, "great good"), (0, "awful bad bad poor"),
            (1, "fine"), (0, "poor")]
    words = sorted(collections.Counter(w for _, t in docs for w in t.split()))
    index = {w: k for k, w in enumerate(words, start=1)}
    def to_batch(items):
        ids = [torch.tensor([index[w] for w in text.split()], dtype=torch.int64)
               for _, text in items]
        lengths = [0] + [len(t) for t in ids[:-1]]
        starts = torch.tensor(lengths).cumsum(dim=0)
        return torch.tensor([y for y, _ in items], dtype=torch.int64), torch.cat(ids), starts
    class BagClassifier(nn.Module):
        def __init__(self, n_words, width, n_labels):
            super().__init__()
            self.bag = nn.EmbeddingBag(n_words, width, sparse=False)
            self.out = nn.Linear(width, n_labels)
        def forward(self, flat_ids, starts):
            return self.out(self.bag(flat_ids, starts))
    model = BagClassifier(len(index) + 1, 4, 2).double()
    _load_np(torch, model, _weights(model, 140))
    model.out.bias.data.zero_()
    loader = D.DataLoader(docs, batch_size=3, shuffle=False, collate_fn=to_batch)
    crit = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=5)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1.0, gamma=0.1)
    res = {}
    for epoch in range(2):
        model.train()
        right = seen = 0
        for k, (labels, flat_ids, starts) in enumerate(loader):
            opt.zero_grad()
            scores = model(flat_ids, starts)
            loss = crit(scores, labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            opt.step()
            right += (scores.argmax(1) == labels).sum().item()
            seen += labels.size(0)
            res[f"loss{epoch}{k}"] = loss
        sched.step()
        res[f"acc{epoch}"] = np.array(right / seen)
    model.eval()
    with torch.no_grad():
        labels, flat_ids, starts = to_batch(docs)
        res["eval"] = model(flat_ids, starts)
    res["offsets"] = starts
    return res


def per_batch_schedules(torch):
    S = torch.optim.lr_scheduler
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.001)
    iters = 3
    lrs = []
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for epoch in range(5):
            for i in range(iters):
                p.grad = torch.ones(2, dtype=torch.float64)
                opt.step()
                sched.step(epoch + i / iters)
                lrs.append(opt.param_groups[0]["lr"])
    res = {"cawr": np.array(lrs), "cawr_warn": [x.category.__name__ for x in w],
           "T_cur": np.array(sched.T_cur), "T_i": np.array(sched.T_i), "last_epoch": np.array(sched.last_epoch)}
    opt = torch.optim.Adam([p], lr=0.1, betas=(0.9, 0.99))
    sched = S.OneCycleLR(opt, max_lr=0.3, epochs=2, steps_per_epoch=4, pct_start=0.25)
    betas, lrs = [], []
    for i in range(8):
        p.grad = torch.full((2,), float(i), dtype=torch.float64)
        opt.step(); sched.step()
        betas.append(opt.param_groups[0]["betas"][0]); lrs.append(sched.get_last_lr()[0])
    res["oc_betas"] = np.array(betas); res["oc_lrs"] = np.array(lrs); res["p"] = p
    res["betas_type"] = type(opt.param_groups[0]["betas"]).__name__
    opt = torch.optim.SGD([p], lr=0.1)
    warm = S.LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=3)
    main = S.ExponentialLR(opt, gamma=0.5)
    chain = S.ChainedScheduler([warm, main], optimizer=opt)
    lrs = []
    for i in range(6):
        opt.step(); chain.step(); lrs.append(chain.get_last_lr()[0])
    res["chain"] = np.array(lrs)
    sd = chain.state_dict()
    res["chain_keys"] = sorted(k for k in sd if not k.startswith("_"))
    return res


def _w(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn()
            err = ""
        except Exception as e:
            err = type(e).__name__
    return [err] + [x.category.__name__ + ": " + " ".join(str(x.message).replace("minigrad", "torch").replace("PyTorch", "minigrad").split()[:5]) for x in w]


def warnings_prog(torch):
    nn, F = torch.nn, torch.nn.functional
    p = nn.Parameter(torch.ones(2)); p.grad = torch.ones(2)
    ro = np.arange(3.0); ro.setflags(write=False)
    t = torch.ones(2)
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(5))
        def __len__(self):
            return 3
    cases = {
        "clip_dep": lambda: nn.utils.clip_grad_norm([p], 1.0),
        "softmax_nodim": lambda: F.softmax(torch.ones(2, 3)),
        "log_softmax_nodim": lambda: F.log_softmax(torch.ones(2, 3)),
        "softmax_mod": lambda: nn.Softmax()(torch.ones(2, 3)),
        "tensor_copy": lambda: torch.tensor(t),
        "as_tensor": lambda: torch.as_tensor(t),
        "tensor_ro": lambda: torch.tensor(ro),
        # (from_numpy / as_tensor of `ro` warn once per process in both: not comparable here)
        "size_average": lambda: nn.CrossEntropyLoss(size_average=False),
        "reduce": lambda: nn.MSELoss(reduce=False),
        "mse_shapes": lambda: F.mse_loss(torch.ones(3, 1), torch.ones(3)),
        "l1_shapes": lambda: F.l1_loss(torch.ones(3, 1), torch.ones(3)),
        "iter_len": lambda: list(torch.utils.data.DataLoader(Stream(), batch_size=2)),
        "sched_epoch": lambda: torch.optim.lr_scheduler.StepLR(torch.optim.SGD([p], lr=0.1), 1).step(3),
        "lstm_dropout": lambda: nn.GRU(2, 2, dropout=0.5),
        "gru_dropout_bad": lambda: nn.GRU(2, 2, dropout=1.5),
        "zero_grad_none": lambda: torch.optim.SGD([p], lr=0.1).zero_grad(set_to_none=False),
        "swa_n": lambda: torch.optim.swa_utils.SWALR(torch.optim.SGD([p], lr=0.1), swa_lr=0.1).step(),
        "nonleaf_grad": lambda: (torch.ones(2, requires_grad=True) * 2).grad,
        "bce_sizes": lambda: F.binary_cross_entropy(torch.full((3, 1), 0.5), torch.ones(3)),
        "nll_dim": lambda: F.nll_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)),
        "dataloader_bs": lambda: torch.utils.data.DataLoader(range(4), batch_size=2.0),
    }
    return {k: _w(f) for k, f in cases.items()}


def collate_containers(torch):
    C = importlib.import_module(torch.__name__ + ".utils.data._utils.collate")
    D = torch.utils.data
    res = {}
    dd = collections.defaultdict(list)
    dd["a"] = 1
    dd2 = collections.defaultdict(list); dd2["a"] = 2
    out = D.default_collate([dd, dd2])
    res["dd_type"] = type(out).__name__; res["dd_a"] = out["a"]
    res["dd_missing"] = out["zzz"] if isinstance(out, collections.defaultdict) else "none"
    ud = collections.UserDict({"x": torch.zeros(2)})
    out = D.default_collate([ud, collections.UserDict({"x": torch.ones(2)})])
    res["ud_type"] = type(out).__name__; res["ud_x"] = out["x"]
    class Row(list):
        tag = "row"
    out = D.default_collate([Row([1, 2.0]), Row([3, 4.0])])
    res["row_type"] = type(out).__name__; res["row0"] = out[0]; res["row1"] = out[1]
    out = D.default_collate([range(2), range(2)])
    res["range_type"] = type(out).__name__; res["range0"] = out[0]
    class Box:
        def __init__(self, v):
            self.v = v
    def collate_box(batch, *, collate_fn_map=None):
        return torch.tensor([b.v for b in batch])
    out = C.collate([{"box": Box(1.5), "y": 1}, {"box": Box(2.5), "y": 0}],
                    collate_fn_map={**C.default_collate_fn_map, Box: collate_box})
    res["box"] = out["box"]; res["y"] = out["y"]
    res["mixed_bool_int"] = D.default_collate([True, 2])
    res["bools"] = D.default_collate([True, False])
    res["np_bool"] = D.default_collate([np.bool_(True), np.bool_(False)])
    res["np0d"] = D.default_collate([np.array(1.5), np.array(2.5)])
    res["tensor_int_float"] = D.default_collate([torch.tensor([1]), torch.tensor([2])])
    try:
        C.collate([Box(1)], collate_fn_map=C.default_collate_fn_map)
        res["err"] = "none"
    except TypeError as e:
        res["err"] = str(e).replace("minigrad", "torch").split("found")[0]
    return res


def resume_with_last_epoch(torch):
    S = torch.optim.lr_scheduler
    res = {}
    makers = {"step": lambda o, le: S.StepLR(o, 2, 0.5, last_epoch=le),
              "multistep": lambda o, le: S.MultiStepLR(o, [2, 4], 0.1, last_epoch=le),
              "exp": lambda o, le: S.ExponentialLR(o, 0.9, last_epoch=le),
              "cos": lambda o, le: S.CosineAnnealingLR(o, 6, last_epoch=le),
              "lambda": lambda o, le: S.LambdaLR(o, lambda e: 1 / (1 + e), last_epoch=le),
              "linear": lambda o, le: S.LinearLR(o, 0.2, total_iters=4, last_epoch=le),
              "poly": lambda o, le: S.PolynomialLR(o, total_iters=6, last_epoch=le),
              "cawr": lambda o, le: S.CosineAnnealingWarmRestarts(o, 3, last_epoch=le),
              "onecycle": lambda o, le: S.OneCycleLR(o, 1.0, total_steps=10, last_epoch=le),
              "mult": lambda o, le: S.MultiplicativeLR(o, lambda e: 0.9, last_epoch=le),
              "constant": lambda o, le: S.ConstantLR(o, 0.5, total_iters=4, last_epoch=le),
              "cyclic": lambda o, le: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, last_epoch=le)}
    for name, make in makers.items():
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
        s = make(opt, -1)
        for _ in range(3):
            opt.step(); s.step()
        saved = opt.state_dict()
        p2 = torch.nn.Parameter(torch.zeros(1))
        opt2 = torch.optim.SGD([p2], lr=0.1, momentum=0.9)
        opt2.load_state_dict(saved)
        s2 = make(opt2, 2)
        lrs = [opt2.param_groups[0]["lr"]]
        for _ in range(3):
            opt2.step(); s2.step(); lrs.append(s2.get_last_lr()[0])
        ref = []
        for _ in range(3):
            opt.step(); s.step(); ref.append(s.get_last_lr()[0])
        res[name] = np.array(lrs); res[name + "_ref"] = np.array(ref)
        res[name + "_le"] = np.array(s2.last_epoch)
    return res


def pointer_generator(torch):
    nn, F = torch.nn, torch.nn.functional
    B, S, H, V = 2, 4, 3, 7
    W1 = nn.Linear(H, H, bias=False).double(); W2 = nn.Linear(H, H).double(); v = nn.Linear(H, 1, bias=False).double()
    gen = nn.Linear(2 * H, 1).double(); out = nn.Linear(2 * H, V).double()
    for i, m in enumerate((W1, W2, v, gen, out)):
        _load_np(torch, m, _weights(m, 150 + i))
    rng = np.random.default_rng(160)
    enc = torch.tensor(rng.standard_normal((B, S, H)), requires_grad=True)
    dec = torch.tensor(rng.standard_normal((B, H)), requires_grad=True)
    src_ids = torch.tensor([[2, 3, 3, 0], [5, 6, 0, 0]])
    mask = src_ids != 0
    e = v(torch.tanh(W1(enc) + W2(dec).unsqueeze(1))).squeeze(-1)
    e.masked_fill_(~mask, float("-inf"))
    attn = F.softmax(e, dim=1)
    ctx = torch.bmm(attn.unsqueeze(1), enc).squeeze(1)
    feat = torch.cat([ctx, dec], -1)
    p_gen = torch.sigmoid(gen(feat))
    p_vocab = F.softmax(out(feat), -1) * p_gen
    final = p_vocab.scatter_add(1, src_ids, attn * (1 - p_gen))
    target = torch.tensor([3, 1])
    loss = -torch.log(final.gather(1, target.unsqueeze(1)).squeeze(1) + 1e-12).mean()
    smooth = torch.full((B, V), 0.1 / (V - 1), dtype=torch.float64).scatter_(1, target.unsqueeze(1), 0.9)
    kl = nn.KLDivLoss(reduction="batchmean")(torch.log(final + 1e-12), smooth)
    (loss + kl).backward()
    return {"final": final, "sum": final.sum(1), "loss": loss, "kl": kl, "g_enc": enc.grad, "g_dec": dec.grad,
            "g_W1": W1.weight.grad, "g_gen": gen.bias.grad}


def custom_optimizer(torch):
    class HeavyBall(torch.optim.Optimizer):
        """velocity = momentum * velocity + gradient (+ decay * weight); weight -= lr * velocity"""
        def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=0.0):
            if not lr >= 0.0:
                raise ValueError(f"negative step size {lr}")
            super().__init__(params, {"lr": lr, "momentum": momentum,
                                      "weight_decay": weight_decay})

        def __setstate__(self, state):           # checkpoints from before 'momentum' existed
            super().__setstate__(state)
            for g in self.param_groups:
                g.setdefault("momentum", 0.9)

        def _update(self, w, g):
            grad = w.grad if g["weight_decay"] == 0 else w.grad.add(w, alpha=g["weight_decay"])
            slot = self.state[w]
            if "momentum_buffer" in slot:
                slot["momentum_buffer"].mul_(g["momentum"]).add_(grad)
            else:                                # the first step: the velocity is the grad
                slot["momentum_buffer"] = torch.clone(grad).detach()
            slot["step"] = slot.get("step", 0) + 1
            w.add_(slot["momentum_buffer"], alpha=-g["lr"])

        @torch.no_grad()
        def step(self, closure=None):
            with torch.enable_grad():
                loss = closure() if closure is not None else None
            for g in self.param_groups:
                for w in (w for w in g["params"] if w.grad is not None):
                    self._update(w, g)
            return loss
    m = torch.nn.Linear(3, 2).double()
    _load_np(torch, m, _weights(m, 170))
    opt = HeavyBall([{"params": [m.weight]}, {"params": [m.bias], "weight_decay": 0.1}], lr=0.1)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    posts = []
    opt.register_step_post_hook(lambda o, a, k: posts.append(len(a)))
    x = torch.tensor(np.random.default_rng(171).standard_normal((4, 3)))
    def closure():
        opt.zero_grad()
        loss = m(x).pow(2).mean()
        loss.backward()
        return loss
    losses = []
    for i in range(3):
        losses.append(opt.step(closure).item())
        sched.step()
    sd = opt.state_dict()
    buf = io.BytesIO(); torch.save(sd, buf); buf.seek(0)
    m2 = torch.nn.Linear(3, 2).double(); m2.load_state_dict(m.state_dict())
    opt2 = HeavyBall([{"params": [m2.weight]}, {"params": [m2.bias], "weight_decay": 0.1}], lr=0.1)
    opt2.load_state_dict(torch.load(buf, weights_only=True))
    for o, mm in ((opt, m), (opt2, m2)):
        o.zero_grad(); mm(x).pow(2).mean().backward(); o.step()
    return {"losses": np.array(losses), "w": m.weight, "w2": m2.weight, "b2": m2.bias,
            "lr": np.array([g["lr"] for g in opt2.param_groups]), "posts": np.array(posts),
            "step": np.array(opt2.state[m2.weight]["step"]),
            "buf": opt2.state[m2.bias]["momentum_buffer"], "repr": repr(opt2).replace("torch", "minigrad")}


def grad_mode_decorators(torch):
    res = {}
    x = torch.ones(1, requires_grad=True)

    @torch.set_grad_enabled(False)
    def f(t):
        return (t * 2).requires_grad
    res["sge_deco"] = f(x); res["after"] = torch.is_grad_enabled()

    @torch.no_grad()
    def generate(t, n):
        # a streaming generator: every resumption runs without recording
        for i in range(n):
            yield (t * i).requires_grad, torch.is_grad_enabled()
    gen = generate(x, 3)
    first = next(gen)
    res["between_yields"] = torch.is_grad_enabled()
    res["gen"] = [str(first)] + [str(v) for v in gen]

    @torch.inference_mode()
    def stream(t):
        yield torch.is_inference_mode_enabled(), (t * 3).requires_grad
        yield torch.is_inference_mode_enabled(), (t * 3).requires_grad
    res["inf_gen"] = [str(v) for v in stream(x)]
    res["inf_after"] = torch.is_inference_mode_enabled()
    with torch.no_grad():
        with torch.enable_grad():
            res["nested_enable"] = (x * 2).requires_grad
        with torch.inference_mode(False):
            res["inf_false_in_nograd"] = (x * 2).requires_grad
        res["back_to_nograd"] = (x * 2).requires_grad
    with torch.inference_mode():
        with torch.enable_grad():
            res["enable_in_inference"] = (x * 2).requires_grad
        with torch.inference_mode(False):
            res["inf_false"] = (x * 2).requires_grad
            res["inf_false_flag"] = torch.is_inference_mode_enabled()
        res["inf_restored"] = torch.is_inference_mode_enabled()
    res["inf_outside"] = torch.is_inference_mode_enabled()
    return res


def checkpoint_errors(torch):
    res = {}
    with tempfile.TemporaryDirectory() as d:
        cases = {"no_parent": lambda: torch.save({"a": torch.ones(1)}, os.path.join(d, "nope", "x.pt")),
                 "is_dir": lambda: torch.save({"a": torch.ones(1)}, d),
                 "missing": lambda: torch.load(os.path.join(d, "missing.pt"), weights_only=True)}
        for name, fn in cases.items():
            try:
                fn()
                res[name] = "none"
            except Exception as e:
                res[name] = type(e).__name__
                if name == "no_parent":
                    res[name] += ": " + str(e).replace(d, "<dir>")
        torch.save({"a": torch.ones(1)}, os.path.join(d, "ok.pt"))
        res["saved"] = sorted(os.listdir(d))      # no temporary file left behind
    return res


def reinforce_sequence(torch):
    nn = torch.nn
    emb = nn.Embedding(5, 3).double(); cell = nn.GRUCell(3, 4).double(); head = nn.Linear(4, 5).double()
    for i, m in enumerate((emb, cell, head)):
        _load_np(torch, m, _weights(m, 180 + i))
    params = list(emb.parameters()) + list(cell.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.01)
    fixed = [[1, 3], [4, 0], [2, 2]]          # the "sampled" tokens, fixed for comparison
    g = torch.Generator().manual_seed(0)
    res = {}
    for it in range(2):
        h = torch.zeros(2, 4, dtype=torch.float64)
        tok = torch.tensor([0, 0])
        logps, ents, draws = [], [], []
        for t in range(3):
            h = cell(emb(tok), h)
            dist = torch.distributions.Categorical(logits=head(h))
            draws.append(dist.sample())
            tok = torch.tensor(fixed[t])
            logps.append(dist.log_prob(tok)); ents.append(dist.entropy())
        reward = torch.tensor([1.0, -0.5], dtype=torch.float64)
        logp = torch.stack(logps, 1).sum(1)
        loss = -(reward * logp).mean() - 0.01 * torch.stack(ents).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        res[f"loss{it}"] = loss; res[f"logp{it}"] = logp
        res[f"draw_dtype{it}"] = str(draws[0].dtype).split(".")[-1]
        res[f"draw_ok{it}"] = bool(all(((d >= 0) & (d < 5)).all() for d in draws))
    res["w"] = head.weight
    p = torch.softmax(head(h), -1)
    idx = torch.multinomial(p, 4, replacement=True, generator=g)
    res["mn_shape"] = np.array(idx.shape); res["mn_dtype"] = str(idx.dtype).split(".")[-1]
    g2 = torch.Generator().manual_seed(0)
    res["mn_repro"] = bool(torch.equal(idx, torch.multinomial(p, 4, replacement=True, generator=g2)))
    return res


def embedding_options(torch):
    F = torch.nn.functional
    res = {}
    W = np.random.default_rng(190).standard_normal((6, 3)) * 2
    for name, kw in (("l1", dict(max_norm=1.5, norm_type=1.0)), ("freq", dict(scale_grad_by_freq=True)),
                     ("pad_freq", dict(padding_idx=2, scale_grad_by_freq=True)), ("inf", dict(max_norm=0.5, norm_type=float("inf")))):
        emb = torch.nn.Embedding(6, 3, **kw).double()
        emb.weight.data.copy_(torch.tensor(W))
        idx = torch.tensor([[1, 2, 1], [5, 2, 1]])
        out = emb(idx)
        (out * torch.arange(1.0, 4.0, dtype=torch.float64)).sum().backward()
        res[name + "_out"] = out; res[name + "_w"] = emb.weight; res[name + "_g"] = emb.weight.grad
    w = torch.tensor(W, requires_grad=True)
    o = F.embedding(torch.tensor([0, 3, 3]), w, max_norm=None, padding_idx=3)
    o.sum().backward()
    res["func_g"] = w.grad
    pre = torch.nn.Embedding.from_pretrained(torch.tensor(W), freeze=True, padding_idx=0)
    res["pre_rg"] = pre.weight.requires_grad; res["pre_pad"] = pre.padding_idx
    res["pre_out"] = pre(torch.tensor([0, 1]))
    res["repr"] = repr(torch.nn.Embedding(6, 3, padding_idx=0, max_norm=1.0))
    return res


PROGRAMS = [lstm_packed_classifier, seq2seq_attention, embedding_max_norm, embedding_bag_ctc,
            collate_dicts, pin_warn, sched_warn, checkpoint_resume, strict_false, ema, metrics,
            schedulers, param_groups, grad_modes, more_sched_save, plateau_groups_early_stop,
            data_pipeline, iterable_ds, default_collate_kinds, char_rnn_sampling,
            collate_edges, lm_tbptt, packing_utils, checkpoint_files, grad_accum_freeze,
            swa_update_bn, custom_scheduler_amp, data_sources, rng_resume,
            bilstm_encoder_decoder, bag_ctc_more, float32_masked_attention, bad_inputs,
            manual_sort_rnn, eval_metrics, balanced_sampling, lr_finder_and_manual_decay,
            checkpoint_variants, getitems_dataset, optimizer_hooks, grad_clipping_variants,
            rnn_init_idioms, averaged_model_variants, sampler_as_batches,
            named_param_optimizer, text_classification_bag, per_batch_schedules,
            warnings_prog, collate_containers, resume_with_last_epoch, pointer_generator,
            custom_optimizer, grad_mode_decorators, checkpoint_errors, reinforce_sequence,
            embedding_options]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program(program):
    _compare(program)
