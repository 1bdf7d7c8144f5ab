"""Whole programs of the thirteenth round, part b: the training machinery public code wraps
around its models.  Learning-rate schedules (OneCycleLR with three phases and momentum
cycling, CosineAnnealingWarmRestarts stepped by fractional epochs, LambdaLR warmup,
SequentialLR, ReduceLROnPlateau with cooldown driving early stopping, CyclicLR), their
state_dicts resumed through torch.save/torch.load on BytesIO, gradient accumulation with
torch.utils.checkpoint, bfloat16 autocast on the CPU and GradScaler's calls, custom
autograd.Functions (needs_input_grad, mark_non_differentiable, once_differentiable,
set_materialize_grads), module hooks (forward pre-hooks with kwargs, full backward hooks,
state-dict hooks), parametrizations (weight_norm, spectral_norm, orthogonal and a
registered symmetric one), pruning, DataLoader samplers and collate functions, quantile and
bucketize preprocessing, einsum-heavy layers, and distributions (mixtures fitted by NLL, KL
tables).

The harness is part a's: both libraries run each program on the same numpy inputs and
seeded weights and must agree in values, dtypes, shapes and requires_grad.
"""
import copy
import importlib
import io
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, registry, program_harness, leaf as _t,
    tanh_mlp as _mlp)


HARNESS = program_harness(bfloat16=(1e-2, 1e-2))
PROGRAMS, program = registry()
F32 = dict(rtol=2e-5, atol=2e-6)   # float32 programs: their Python-float losses as float32's


# ----------------------------------------------------------------------------------------------
# learning-rate schedules
# ----------------------------------------------------------------------------------------------
@program
def one_cycle_lr_three_phase_with_momentum_cycling_over_param_groups(L):
    """OneCycleLR as fastai-style loops use it: max_lr a list per parameter group,
    total_steps, pct_start 0.3, anneal_strategy 'linear' and 'cos', three_phase=True,
    SGD momentum cycled between base and max momentum (read back from param_groups), and
    Adam's betas[0] cycled instead; get_last_lr every step."""
    model = _mlp(L, [3, 6, 1], 1)
    x, y = _t(L, 8, 3, seed=1), _t(L, 8, 1, seed=2)
    out = {}
    for name, three, strategy in (("sgd", True, "cos"), ("adam", False, "linear")):
        if name == "sgd":
            opt = L.optim.SGD([{"params": model[0].parameters()},
                               {"params": model[2].parameters()}], lr=0.01, momentum=0.9,
                              nesterov=True)
        else:
            opt = L.optim.Adam(model.parameters(), lr=0.01)
        sched = L.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[0.1, 0.05] if name == "sgd" else 0.1, total_steps=12, pct_start=0.3,
            anneal_strategy=strategy, three_phase=three, div_factor=10, final_div_factor=100)
        trace = []
        for _ in range(12):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            sched.step()
            g = opt.param_groups[0]
            trace.append((sched.get_last_lr(), g.get("momentum", g.get("betas", (None,))[0]),
                          loss.item()))
        out[name] = trace
    out["w"] = model.state_dict()
    return out


@program
def cosine_warm_restarts_stepped_by_fractional_epochs_and_lambda_warmup(L):
    """CosineAnnealingWarmRestarts(T_0=3, T_mult=2, eta_min) stepped inside the batch loop
    with scheduler.step(epoch + i / iters) as its docstring shows; a LambdaLR with linear
    warmup then inverse square root decay as in transformer repos (a lambda per group);
    MultiplicativeLR and a ChainedScheduler of StepLR and ExponentialLR."""
    sch = L.optim.lr_scheduler
    model = _mlp(L, [2, 4, 1], 2)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    s1 = sch.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.001)
    lrs = []
    iters = 4
    for epoch in range(5):
        for i in range(iters):
            opt.step()
            s1.step(epoch + i / iters)
            lrs.append(opt.param_groups[0]["lr"])
    opt2 = L.optim.Adam([{"params": model[0].parameters()},
                         {"params": model[2].parameters(), "lr": 0.5}], lr=1.0)
    warm = 4
    s2 = sch.LambdaLR(opt2, [lambda s: min((s + 1) / warm, (warm / (s + 1)) ** 0.5),
                             lambda s: 0.9 ** s])
    lam = []
    for _ in range(8):
        opt2.step()
        s2.step()
        lam.append(s2.get_last_lr())
    opt3 = L.optim.SGD(model.parameters(), lr=1.0)
    s3 = sch.ChainedScheduler([sch.StepLR(opt3, step_size=2, gamma=0.5),
                               sch.ExponentialLR(opt3, gamma=0.9)])
    opt4 = L.optim.SGD(model.parameters(), lr=1.0)
    s4 = sch.MultiplicativeLR(opt4, lambda e: 0.95 if e < 3 else 0.5)
    ch = []
    for _ in range(6):
        opt3.step()
        s3.step()
        opt4.step()
        s4.step()
        ch.append((s3.get_last_lr()[0], s4.get_last_lr()[0]))
    return dict(lrs=lrs, lam=lam, ch=ch, sd=s2.state_dict()["base_lrs"],
                last=s1.state_dict()["T_cur"])


@program
def reduce_on_plateau_with_cooldown_drives_early_stopping_and_best_checkpoint(L):
    """The validation loop of countless Kaggle kernels: ReduceLROnPlateau(mode='min',
    factor=0.5, patience=1, cooldown=1, threshold=0.1, min_lr) fed a noisy validation
    loss, an early-stopping counter with patience, the best weights kept by
    copy.deepcopy(model.state_dict()) and restored at the end; the scheduler's
    num_bad_epochs and _last_lr recorded."""
    model = _mlp(L, [3, 8, 1], 3)
    x, y = _t(L, 16, 3, seed=3), _t(L, 16, 1, seed=4)
    opt = L.optim.Adam(model.parameters(), lr=0.05)
    sched = L.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1,
                                                   cooldown=1, threshold=0.1, min_lr=0.004)
    noise = [0.0, 0.3, 0.5, 0.2, 0.6, 0.4, 0.9, 1.0, 0.8, 1.2, 1.5, 1.1]
    best, best_state, bad, log = float("inf"), None, 0, []
    for epoch in range(12):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        with L.no_grad():
            val = ((model(x) - y) ** 2).mean().item() + noise[epoch]
        sched.step(val)
        log.append((val, sched.get_last_lr()[0], sched.num_bad_epochs))
        if val < best:
            best, bad = val, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= 4:
                break
    model.load_state_dict(best_state)
    return dict(log=log, epoch=epoch, best=best, w=model.state_dict(),
                sd={k: v for k, v in sched.state_dict().items() if k != "mode_worse"})


@program
def cyclic_lr_triangular2_and_exp_range_with_momentum_and_sequential_lr(L):
    """CyclicLR in its three modes (triangular2 and exp_range with gamma, step_size_up and
    step_size_down), cycle_momentum over SGD's momentum; SequentialLR chaining ConstantLR
    and PolynomialLR at a milestone; every lr read from param_groups after each step."""
    sch = L.optim.lr_scheduler
    model = _mlp(L, [2, 3, 1], 4)
    out = {}
    for mode in ("triangular", "triangular2", "exp_range"):
        opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        s = sch.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2, step_size_down=3,
                         mode=mode, gamma=0.9, base_momentum=0.8, max_momentum=0.95)
        tr = []
        for _ in range(11):
            opt.step()
            s.step()
            tr.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        out[mode] = tr
    opt = L.optim.SGD(model.parameters(), lr=0.2)
    s = sch.SequentialLR(opt, [sch.ConstantLR(opt, factor=0.25, total_iters=2),
                               sch.PolynomialLR(opt, total_iters=5, power=2.0)],
                         milestones=[3])
    seq = []
    for _ in range(9):
        opt.step()
        s.step()
        seq.append(opt.param_groups[0]["lr"])
    out["seq"] = seq
    return out


@program
def resume_training_from_a_bytesio_checkpoint_equals_uninterrupted_training(L):
    """The checkpoint idiom: {'epoch', 'model_state_dict', 'optimizer_state_dict',
    'scheduler', 'rng': torch.get_rng_state()} written by torch.save to an io.BytesIO,
    read back with torch.load(weights_only=True... map_location='cpu'), a fresh model,
    AdamW and StepLR restored from it, and training continued with dropout under the
    restored RNG; the result equals the run that never stopped."""
    nn = L.nn

    def make():
        L.manual_seed(5)
        m = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 1)).double()
        o = L.optim.AdamW(m.parameters(), lr=0.05, weight_decay=0.1)
        return m, o, L.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)

    x, y = _t(L, 10, 3, seed=5), _t(L, 10, 1, seed=6)

    def epoch(m, o, s):
        o.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        o.step()
        s.step()
        return loss.item()

    m, o, s = make()
    straight = [epoch(m, o, s) for _ in range(6)]
    m, o, s = make()
    first = [epoch(m, o, s) for _ in range(3)]
    buf = io.BytesIO()
    L.save({"epoch": 3, "model_state_dict": m.state_dict(), "optimizer_state_dict":
            o.state_dict(), "scheduler": s.state_dict(), "rng": L.get_rng_state()}, buf)
    buf.seek(0)
    ck = L.load(buf, map_location="cpu", weights_only=True)
    m2, o2, s2 = make()
    m2.load_state_dict(ck["model_state_dict"])
    o2.load_state_dict(ck["optimizer_state_dict"])
    s2.load_state_dict(ck["scheduler"])
    L.set_rng_state(ck["rng"])
    rest = [epoch(m2, o2, s2) for _ in range(3)]
    return dict(straight=straight, resumed=first + rest, w=m2.state_dict(), w0=m.state_dict(),
                step=o2.state_dict()["state"][0]["step"], lr=s2.get_last_lr(),
                keys=sorted(ck), ep=ck["epoch"])


# ----------------------------------------------------------------------------------------------
# accumulation, checkpointing, mixed precision
# ----------------------------------------------------------------------------------------------
@program
def gradient_accumulation_with_activation_checkpointing_equals_the_full_batch(L):
    """Four micro-batches each scaled by 1/4 and backpropagated through blocks wrapped in
    torch.utils.checkpoint.checkpoint(use_reentrant=False) (and checkpoint_sequential over a
    Sequential), stepping every fourth; the accumulated gradients equal the full batch's;
    dropout inside the checkpointed block sees the same mask on recomputation
    (preserve_rng_state)."""
    nn = L.nn
    from_ckpt = L.utils.checkpoint

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.b1 = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Dropout(0.25))
            self.b2 = nn.Sequential(nn.Linear(8, 8), nn.SiLU(), nn.Linear(8, 8), nn.Tanh())
            self.head = nn.Linear(8, 1)

        def forward(self, x, ckpt):
            if ckpt:
                h = from_ckpt.checkpoint(self.b1, x, use_reentrant=False)
                h = from_ckpt.checkpoint_sequential(self.b2, 2, h, use_reentrant=False)
            else:
                h = self.b2(self.b1(x))
            return self.head(h)

    L.manual_seed(7)
    net = Net().double()
    x, y = _t(L, 8, 4, seed=7), _t(L, 8, 1, seed=8)
    net.eval()
    full = ((net(x, False) - y) ** 2).mean()
    full.backward()
    gfull = {k: v.clone() for k, v in grads_of(net).items()}
    net.zero_grad()
    for xb, yb in zip(x.chunk(4), y.chunk(4)):
        (((net(xb, True) - yb) ** 2).mean() / 4).backward()
    gacc = grads_of(net)
    net.train()
    net.zero_grad()
    L.manual_seed(9)
    out = net(x, True)
    out.sum().backward()
    return dict(full=full, gfull=gfull, gacc=gacc, train_out=out, gtrain=grads_of(net))


@program(**F32)
def bfloat16_cpu_autocast_training_with_a_disabled_grad_scaler(L):
    """Mixed precision on the CPU as recent tutorials write it: torch.autocast('cpu',
    dtype=torch.bfloat16) around the forward (Linear and matmul in bfloat16, the loss in
    float32 after .float()), torch.amp.GradScaler('cpu', enabled=False) whose scale/
    unscale_/step/update calls pass through, clip_grad_norm_ after unscale_; the dtypes of
    the activations inside and of the grads outside; is_autocast_enabled."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(11)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    scaler = L.amp.GradScaler("cpu", enabled=False)
    x = L.tensor(np.random.RandomState(9).randn(8, 6).astype(np.float32))
    y = L.tensor(_labels(8, 3, 10))
    hist, dts = [], []
    for _ in range(2):
        opt.zero_grad()
        with L.autocast(device_type="cpu", dtype=L.bfloat16):
            logits = model(x)
            inside = L.is_autocast_enabled("cpu")
            sm = L.softmax(logits, -1)
            loss = F.cross_entropy(logits.float(), y)
        dts.append((logits.dtype, sm.dtype, loss.dtype, inside))
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        norm = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        hist.append((loss.item(), norm.item()))
    return dict(hist=hist, dts=dts, gd=[p.grad.dtype for p in model.parameters()],
                scale=scaler.get_scale(), en=scaler.is_enabled(), logits=logits.float())


@program(**F32)
def grad_scaler_skips_steps_with_inf_grads_and_backs_off(L):
    """GradScaler's dynamic loss scaling on float32 CPU tensors: init_scale 2**4,
    growth_interval 2, an injected inf gradient makes step() skip (the weights unchanged)
    and update() halve the scale; two clean steps double it; the state_dict of the scaler
    and _found_inf per device checked the public way (scale values)."""
    nn = L.nn
    L.manual_seed(13)
    model = nn.Linear(3, 1)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    scaler = L.amp.GradScaler("cpu", init_scale=2.0 ** 4, growth_factor=2.0,
                              backoff_factor=0.5, growth_interval=2)
    x = L.tensor(np.random.RandomState(11).randn(4, 3).astype(np.float32))
    log = []
    for step in range(5):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        scaler.scale(loss).backward()
        if step == 1:
            model.weight.grad[0, 0] = float("inf")
        before = model.weight.detach().clone()
        scaler.step(opt)
        scaler.update()
        log.append((scaler.get_scale(), bool(L.equal(before, model.weight)), loss.item()))
    sd = scaler.state_dict()
    return dict(log=log, sd=sd, w=model.weight)


# ----------------------------------------------------------------------------------------------
# custom autograd functions and hooks
# ----------------------------------------------------------------------------------------------
@program
def custom_functions_with_needs_input_grad_non_differentiable_outputs_and_once_differentiable(L):
    """Custom autograd.Functions: a linear Function that
    checks ctx.needs_input_grad before each matmul (bias optional, None grads returned),
    a sort-like Function returning values and indices with mark_non_differentiable on the
    indices, a Function with @once_differentiable backward, and one with
    set_materialize_grads(False) receiving None for an unused output's grad."""
    Function = L.autograd.Function
    once = L.autograd.function.once_differentiable

    class AffineFn(Function):
        """x W^T + b whose backward computes only the gradients autograd asks for."""

        @staticmethod
        def forward(ctx, x, w, b=None):
            ctx.save_for_backward(x, w, b)
            y = x.mm(w.t())
            if b is not None:
                y += b.unsqueeze(0).expand_as(y)          # in place on the fresh product
            return y

        @staticmethod
        def backward(ctx, gy):
            x, w, b = ctx.saved_tensors
            need_x, need_w, need_b = ctx.needs_input_grad
            return (gy.mm(w) if need_x else None,
                    gy.t().mm(x) if need_w else None,
                    gy.sum(0) if b is not None and need_b else None)

    class TopValues(Function):
        @staticmethod
        def forward(ctx, x, k):
            v, i = x.topk(k, dim=-1)
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(i)
            ctx.shape = x.shape
            return v, i

        @staticmethod
        def backward(ctx, gv, gi):
            i, = ctx.saved_tensors
            return L.zeros(ctx.shape, dtype=gv.dtype).scatter(-1, i, gv), None

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * g

    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            ctx.seen = (g1 is None, g2 is None)
            out = L.zeros_like(g1 if g1 is not None else g2)
            if g1 is not None:
                out = out + 2 * g1
            if g2 is not None:
                out = out + 3 * g2
            return out

    x = _t(L, 4, 3, seed=12, grad=True)
    w = _t(L, 2, 3, seed=13, grad=True)
    b = _t(L, 2, seed=14)
    y = AffineFn.apply(x, w, b)
    v, i = TopValues.apply(y, 1)
    c = Cube.apply(v)
    s1, s2 = Split.apply(c)
    s1.sum().backward(retain_graph=True)
    seen = s1.grad_fn is not None and None
    gx, gw = x.grad.clone(), w.grad.clone()
    gg = L.autograd.grad(y.sum(), [x, w])
    return dict(y=y, v=v, i=i, i_rg=i.requires_grad, gx=gx, gw=gw, gg=gg, seen=seen,
                c_fn=type(c.grad_fn).__name__.replace("Backward", ""))


@program
def module_hooks_forward_pre_with_kwargs_full_backward_and_state_dict_hooks(L):
    """Hooks as feature-extraction and debugging code uses them: a forward pre-hook with
    with_kwargs=True rewriting a keyword, forward hooks storing activations by name (removed
    through their handles), register_full_backward_hook and register_full_backward_pre_hook
    recording grad norms and scaling grad_output, a Tensor.register_hook on an activation,
    register_module_forward_hook-free global counting by a forward hook on every leaf, and
    a _register_state_dict_hook-free load_state_dict pre-hook renaming old keys."""
    nn = L.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)

        def forward(self, x, scale=1.0):
            return self.fc2(self.act(self.fc1(x))) * scale

    L.manual_seed(17)
    m = Block().double()
    acts, calls, gnorms, pre = {}, [], [], []

    def pre_kw(mod, args, kwargs):
        kwargs = dict(kwargs)
        kwargs["scale"] = 2.0
        return args, kwargs

    def save(name):
        def hook(mod, inp, out):
            acts[name] = out.detach()
        return hook

    handles = [m.register_forward_pre_hook(pre_kw, with_kwargs=True)]
    for name, sub in m.named_children():
        handles.append(sub.register_forward_hook(save(name)))
        handles.append(sub.register_forward_hook(
            lambda mod, i, o: calls.append(type(mod).__name__)))
    m.fc2.register_full_backward_hook(
        lambda mod, gin, gout: gnorms.append((gin[0].norm().item(), gout[0].norm().item())))
    m.fc1.register_full_backward_pre_hook(lambda mod, gout: (gout[0] * 0.5,))
    m.act.register_full_backward_hook(lambda mod, gin, gout: pre.append(len(gin)))
    x = _t(L, 3, 4, seed=15, grad=True)
    h = []
    out = m(x, scale=1.0)
    acts["fc1"].requires_grad_(False)
    out.register_hook(lambda g: h.append(g.sum().item()))
    out.pow(2).sum().backward()
    for hd in handles:
        hd.remove()
    out2 = m(x, scale=1.0)

    def rename(state_dict, prefix, *args):
        if prefix + "old_fc1.weight" in state_dict:
            state_dict[prefix + "fc1.weight"] = state_dict.pop(prefix + "old_fc1.weight")

    m._register_load_state_dict_pre_hook(rename)
    sd = m.state_dict()
    sd["old_fc1.weight"] = sd.pop("fc1.weight") * 0
    res = m.load_state_dict(sd)
    return dict(out=out, out2=out2, acts=acts, calls=calls, gnorms=gnorms, pre=pre, h=h,
                gx=x.grad, g=grads_of(m), missing=res.missing_keys, w=m.fc1.weight)


# ----------------------------------------------------------------------------------------------
# parametrizations and pruning
# ----------------------------------------------------------------------------------------------
@program
def parametrizations_weight_norm_spectral_norm_orthogonal_and_a_symmetric_one(L):
    """torch.nn.utils.parametrizations: weight_norm (original0/original1 as g and v),
    spectral_norm's power iteration in train mode (u, v buffers updated each forward,
    seeded) and frozen in eval, orthogonal on a square Linear (the weight's W^T W = I and
    its gradient through the matrix exponential default), and a user parametrization
    registered by parametrize.register_parametrization (symmetric from triu), with
    right_inverse on assignment; cached() around two forwards; remove_parametrizations
    leaving the current weight."""
    nn = L.nn
    P = nn.utils.parametrizations
    par = nn.utils.parametrize

    class MirrorUpper(nn.Module):
        """A symmetric matrix from the upper triangle (diagonal included) of the free one;
        assigning a symmetric matrix stores its upper triangle."""

        def forward(self, free):
            above = free.triu(diagonal=1)
            return free.triu() + above.transpose(-2, -1)

        def right_inverse(self, sym):
            return sym.triu(diagonal=0)

    L.manual_seed(19)
    wn = P.weight_norm(nn.Linear(4, 3).double())
    sn = P.spectral_norm(nn.Linear(4, 4).double(), n_power_iterations=2)
    orth = P.orthogonal(nn.Linear(3, 3).double())
    sym = nn.Linear(3, 3).double()
    par.register_parametrization(sym, "weight", MirrorUpper())
    x = _t(L, 5, 4, seed=16)
    x3 = _t(L, 5, 3, seed=17)
    with par.cached():
        out = wn(x).sum() + sn(x).sum() + sn(x).pow(2).sum() + orth(x3).pow(2).sum() + \
            sym(x3).sum()
    out.backward()
    sn.eval()
    sn_eval = sn(x)
    sym.weight = _t(L, 3, 3, seed=18)
    wtw = orth.weight.T @ orth.weight
    keys = sorted(wn.state_dict()) + sorted(sn.state_dict())
    par.remove_parametrizations(wn, "weight")
    return dict(out=out, sn_eval=sn_eval, sym_w=sym.weight, wtw=wtw, keys=keys,
                wn_after=wn.weight, wn_type=type(wn.weight).__name__,
                g_wn=grads_of(wn), g_orth=grads_of(orth), g_sym=grads_of(sym),
                is_p=par.is_parametrized(sym, "weight"), u=sn.parametrizations.weight[0]._u)


@program
def pruning_l1_random_structured_global_and_iterative_with_remove(L):
    """torch.nn.utils.prune: l1_unstructured by amount fraction and by count, random
    structured pruning of conv output channels under the seed, ln_structured on dim 1 with
    n=2, global_unstructured over several layers by L1Unstructured, iterative pruning
    compounding masks (the PruningContainer), the weight_orig/weight_mask names, a step of
    training with the mask applied by the forward pre-hook, then prune.remove making it
    permanent; sparsity counted."""
    nn = L.nn
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    L.manual_seed(23)
    net = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 6),
                        nn.ReLU(), nn.Linear(6, 2)).double()
    prune.random_structured(net[0], name="weight", amount=0.5, dim=0)
    prune.l1_unstructured(net[3], name="weight", amount=0.3)
    prune.l1_unstructured(net[3], name="weight", amount=10)
    prune.ln_structured(net[5], name="weight", amount=0.5, n=2, dim=1)
    prune.l1_unstructured(net[5], name="bias", amount=1)
    names = sorted(n for n, _ in net.named_parameters())
    bufs = sorted(n for n, _ in net.named_buffers())
    x = _t(L, 3, 2, 4, 4, seed=19)
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    loss = net(x).pow(2).mean()
    loss.backward()
    opt.step()
    g = {n: p.grad for n, p in net.named_parameters()}
    sparsity = float(L.sum(net[3].weight == 0)) / net[3].weight.nelement()
    for m, nm in ((net[0], "weight"), (net[3], "weight"), (net[5], "weight"), (net[5], "bias")):
        prune.remove(m, nm)
    net2 = nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 3)).double()
    prune.global_unstructured([(net2[0], "weight"), (net2[1], "weight")],
                              pruning_method=prune.L1Unstructured, amount=8)
    masks = [net2[0].weight_mask, net2[1].weight_mask]
    return dict(names=names, bufs=bufs, loss=loss, g=g, sparsity=sparsity,
                sd=net.state_dict(), masks=masks, is_pruned=prune.is_pruned(net2))


# ----------------------------------------------------------------------------------------------
# data pipelines
# ----------------------------------------------------------------------------------------------
@program
def imbalanced_loader_weighted_sampler_padding_collate_and_random_split(L):
    """An imbalanced text-classification pipeline: per-sample weights 1 / class_count[y]
    for WeightedRandomSampler(replacement=True, generator=...), a collate_fn sorting the
    batch by length and padding with nn.utils.rnn.pad_sequence(batch_first=True,
    padding_value=0) returning lengths, random_split by fractions under a generator,
    a SubsetRandomSampler and a BatchSampler(drop_last=True) over a SequentialSampler;
    the batches' contents."""
    data = L.utils.data
    rnn = L.nn.utils.rnn
    rng = np.random.RandomState(31)
    seqs = [L.tensor(rng.randint(1, 9, rng.randint(2, 7))) for _ in range(14)]
    ys = L.tensor([0] * 10 + [1] * 3 + [2])

    class TextDS(data.Dataset):
        def __len__(self):
            return len(seqs)

        def __getitem__(self, i):
            return seqs[i], ys[i]

    def collate(batch):
        batch = sorted(batch, key=lambda b: len(b[0]), reverse=True)
        xs, labels = zip(*batch)
        lengths = L.tensor([len(x) for x in xs])
        return rnn.pad_sequence(xs, batch_first=True, padding_value=0), lengths, \
            L.stack(labels)

    counts = L.bincount(ys)
    weights = 1.0 / counts[ys].double()
    g = L.Generator().manual_seed(3)
    sampler = data.WeightedRandomSampler(weights, num_samples=12, replacement=True,
                                         generator=g)
    loader = data.DataLoader(TextDS(), batch_size=4, sampler=sampler, collate_fn=collate)
    batches = [(x, n, y) for x, n, y in loader]
    tr, va = data.random_split(TextDS(), [0.7, 0.3], generator=L.Generator().manual_seed(4))
    sub = list(data.SubsetRandomSampler(tr.indices, generator=L.Generator().manual_seed(5)))
    bs = list(data.BatchSampler(data.SequentialSampler(range(10)), 3, drop_last=True))
    packed = rnn.pack_padded_sequence(batches[0][0], batches[0][1], batch_first=True)
    no_repl = list(data.WeightedRandomSampler([0.1, 0.9, 0.4, 0.6], 3, replacement=False,
                                              generator=L.Generator().manual_seed(6)))
    return dict(batches=batches, tr=list(tr.indices), va=list(va.indices), sub=sub, bs=bs,
                bsz=packed.batch_sizes, no_repl=no_repl, w=weights)


@program
def dataloader_default_collate_of_dicts_namedtuples_and_numpy_with_shuffle(L):
    """default_collate through a DataLoader(shuffle=True, generator=...) over a dataset
    returning dicts of numpy arrays, Python floats, ints, strings and a namedtuple; a
    ConcatDataset of two TensorDatasets with drop_last; an IterableDataset split over
    workers by get_worker_info (None in the main process); a DistributedSampler for rank 1
    of 3 with set_epoch."""
    from collections import namedtuple
    data = L.utils.data
    Pair = namedtuple("Pair", ["a", "b"])

    class DictDS(data.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": np.full((2,), i, dtype=np.float32), "y": float(i) / 2, "id": i,
                    "name": f"s{i}", "p": Pair(L.tensor([i]), i * 10)}

    loader = data.DataLoader(DictDS(), batch_size=3, shuffle=True,
                             generator=L.Generator().manual_seed(7))
    out = []
    for b in loader:
        out.append((b["x"], b["y"], b["id"], b["name"], b["p"].a, b["p"].b,
                    type(b["p"]).__name__))
    cat = data.ConcatDataset([data.TensorDataset(L.arange(5.0)),
                              data.TensorDataset(L.arange(10.0, 13.0))])
    cl = [b[0] for b in data.DataLoader(cat, batch_size=3, drop_last=True)]

    class Stream(data.IterableDataset):
        def __iter__(self):
            info = data.get_worker_info()
            return iter(range(5) if info is None else range(info.id, 5, info.num_workers))

    st = [b for b in data.DataLoader(Stream(), batch_size=2)]
    ds = data.distributed.DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=True,
                                             seed=2)
    ds.set_epoch(3)
    return dict(out=out, cl=cl, st=st, ds=list(ds), n=len(ds), ncat=len(cat),
                cum=cat.cumulative_sizes)


@program
def quantile_binning_bucketize_histc_and_target_encoding_preprocessing(L):
    """Tabular preprocessing in torch: quantile bin edges by torch.quantile (linear and
    'midpoint', 'nearest', 'lower', 'higher'), values binned by bucketize(right=True) and
    searchsorted(side='left', sorter=argsort), histc and torch.histogram(density=True) of a
    feature, nanquantile over rows with NaNs, target encoding by scatter_add of labels over
    categories smoothed by counts from bincount(minlength=...), and per-feature standard
    scaling fitted on the training split with unbiased=False; torch.unique(return_inverse,
    return_counts) on a categorical column."""
    rng = np.random.RandomState(32)
    x = L.tensor(rng.gamma(2.0, 1.5, size=40))
    qs = L.tensor([0.1, 0.25, 0.5, 0.75, 0.9], dtype=L.float64)
    edges = {m: L.quantile(x, qs, interpolation=m)
             for m in ("linear", "lower", "higher", "midpoint", "nearest")}
    e = edges["linear"]
    bins_r = L.bucketize(x, e, right=True)
    bins_l = L.bucketize(x, e)
    perm = L.tensor([3, 0, 4, 1, 2])
    shuffled = e[perm]
    ss = L.searchsorted(shuffled, x[:6], side="left", sorter=L.argsort(shuffled))
    hc = L.histc(x.float(), bins=6, min=0, max=12)
    hist, bedges = L.histogram(x, bins=5, density=True)
    m = L.tensor(rng.randn(4, 6))
    m[m > 1.0] = float("nan")
    nq = L.nanquantile(m, 0.5, dim=1, keepdim=True)
    cats = L.tensor(rng.randint(0, 5, 40))
    y = L.tensor((rng.rand(40) > 0.6).astype(np.float64))
    sums = L.zeros(6, dtype=L.float64).scatter_add_(0, cats, y)
    cnt = L.bincount(cats, minlength=6)
    prior = y.mean()
    enc = (sums + 3 * prior) / (cnt + 3)
    feats = L.tensor(rng.randn(40, 3) * [1, 10, 0.1] + [0, 5, -1])
    tr = feats[:30]
    mu, sd = tr.mean(0), tr.std(0, unbiased=False)
    scaled = (feats[30:] - mu) / sd
    uniq, inv, counts = L.unique(cats, return_inverse=True, return_counts=True)
    return dict(edges=edges, bins_r=bins_r, bins_l=bins_l, ss=ss, hc=hc, hist=hist,
                bedges=bedges, nq=nq, enc=enc[cats[:8]], scaled=scaled, uniq=uniq, inv=inv,
                counts=counts, med=L.nanmedian(m, dim=0).values, kth=L.kthvalue(x, 5).values)


# ----------------------------------------------------------------------------------------------
# einsum-heavy layers
# ----------------------------------------------------------------------------------------------
@program
def einsum_attention_bilinear_tensor_fusion_and_ellipsis_contractions(L):
    """Layers written in einsum: multi-head attention by 'bhid,bhjd->bhij' with a causal
    mask from tril, the value mix 'bhij,bhjd->bhid' and the merge by rearranging heads
    with einsum 'bhid,hde->bie' against a per-head output weight; a bilinear form
    'bi,oij,bj->bo' checked against nn.Bilinear; a low-rank tensor fusion
    '...i,...j->...ij'; batch traces 'bii->b' and diagonals 'ii->i'; the sublist form
    einsum(a, [0, 1], b, [1, 2], [0, 2])."""
    nn = L.nn
    L.manual_seed(37)
    B, T, H, D = 2, 4, 2, 3
    x = _t(L, B, T, H * D, seed=20, grad=True)
    Wq, Wk, Wv = (nn.Parameter(_t(L, H * D, H, D, seed=s, scale=0.3)) for s in (21, 22, 23))
    Wo = nn.Parameter(_t(L, H, D, H * D, seed=24, scale=0.3))
    q = L.einsum("bte,ehd->bhtd", x, Wq)
    k = L.einsum("bte,ehd->bhtd", x, Wk)
    v = L.einsum("bte,ehd->bhtd", x, Wv)
    att = L.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(D)
    mask = L.tril(L.ones(T, T, dtype=L.bool))
    att = att.masked_fill(~mask, float("-inf")).softmax(-1)
    o = L.einsum("bhij,bhjd->bhid", att, v)
    y = L.einsum("bhid,hde->bie", o, Wo)
    bil = nn.Bilinear(3, 4, 2).double()
    a1, a2 = _t(L, 5, 3, seed=25), _t(L, 5, 4, seed=26)
    mine = L.einsum("bi,oij,bj->bo", a1, bil.weight, a2) + bil.bias
    fused = L.einsum("...i,...j->...ij", L.cat([a1, L.ones(5, 1, dtype=L.float64)], 1),
                     L.cat([a2, L.ones(5, 1, dtype=L.float64)], 1)).flatten(1)
    sq = _t(L, 3, 4, 4, seed=27)
    tr = L.einsum("bii->b", sq)
    dg = L.einsum("ii->i", sq[0])
    sub = L.einsum(a1, [0, 1], bil.weight[0], [1, 2], [0, 2])
    (y.pow(2).sum() + mine.sum()).backward()
    return dict(y=y, bil=(mine - bil(a1, a2)).abs().max(), fused=fused, tr=tr, dg=dg, sub=sub,
                gx=x.grad, gq=Wq.grad, go=Wo.grad, gb=bil.weight.grad)


# ----------------------------------------------------------------------------------------------
# distributions
# ----------------------------------------------------------------------------------------------
@program
def gaussian_mixture_fitted_by_nll_with_mixture_same_family(L):
    """A GMM as a Module: mixture logits, means and softplus scales as Parameters,
    MixtureSameFamily(Categorical(logits), Independent(Normal(loc, scale), 1)) built in
    forward, -log_prob(x).mean() minimised by Adam; responsibilities from the component
    log-probs via log_softmax; samples drawn under the seed; mean, variance and cdf of a
    1-d mixture."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions

    class GMM(nn.Module):
        def __init__(self, k=3, d=2):
            super().__init__()
            self.logits = nn.Parameter(L.zeros(k, dtype=L.float64))
            self.loc = nn.Parameter(_t(L, k, d, seed=28))
            self.raw = nn.Parameter(L.zeros(k, d, dtype=L.float64))

        def forward(self):
            comp = D.Independent(D.Normal(self.loc, F.softplus(self.raw) + 1e-3), 1)
            return D.MixtureSameFamily(D.Categorical(logits=self.logits), comp)

    rng = np.random.RandomState(33)
    pts = np.concatenate([rng.randn(10, 2) * 0.3 + [2, 0], rng.randn(10, 2) * 0.5 - [1, 1]])
    x = L.tensor(pts)
    gmm = GMM()
    opt = L.optim.Adam(gmm.parameters(), lr=0.1)
    hist = []
    for _ in range(5):
        nll = -gmm().log_prob(x).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
        hist.append(nll.item())
    mix = gmm()
    comp_lp = mix.component_distribution.log_prob(x.unsqueeze(1))
    resp = L.log_softmax(comp_lp + mix.mixture_distribution.logits, dim=-1).exp()
    L.manual_seed(3)
    s = mix.sample((4,))
    m1 = D.MixtureSameFamily(D.Categorical(probs=L.tensor([0.3, 0.7], dtype=L.float64)),
                             D.Normal(L.tensor([-1.0, 2.0], dtype=L.float64),
                                      L.tensor([0.5, 1.0], dtype=L.float64)))
    return dict(hist=hist, resp=resp[:5], s=s, mean=mix.mean, var=mix.variance,
                cdf=m1.cdf(L.tensor([0.0, 1.0], dtype=L.float64)), m1=(m1.mean, m1.variance),
                bs=(mix.batch_shape, mix.event_shape), g=grads_of(gmm))


@program
def kl_divergence_table_and_a_registered_kl_with_gradients(L):
    """kl_divergence between the pairs variational code uses: Normal/Normal,
    Categorical/Categorical, Dirichlet/Dirichlet, Beta/Beta, Gamma/Gamma, Bernoulli/
    Bernoulli, Poisson/Poisson, Exponential/Gamma, Laplace/Laplace, Uniform/Normal,
    MultivariateNormal (scale_tril) against one given by precision_matrix,
    Independent/Independent, and a pair given a rule by @register_kl; its
    gradients w.r.t. the parameters; NotImplementedError words for an unregistered pair."""
    D = L.distributions
    kl = D.kl_divergence
    p1 = _t(L, 3, seed=29).abs() + 0.5
    p1.requires_grad_(True)
    p2 = _t(L, 3, seed=30).abs() + 0.5
    pr = L.tensor([0.2, 0.5, 0.3], dtype=L.float64)
    A = _t(L, 3, 3, seed=31)
    cov = A @ A.T + L.eye(3, dtype=L.float64)
    out = {
        "nn": kl(D.Normal(p1, p2), D.Normal(p2, p1)),
        "cat": kl(D.Categorical(probs=pr), D.Categorical(logits=p1)),
        "dir": kl(D.Dirichlet(p1), D.Dirichlet(p2)),
        "beta": kl(D.Beta(p1, p2), D.Beta(p2, p2)),
        "gamma": kl(D.Gamma(p1, p2), D.Gamma(p2, p1)),
        "bern": kl(D.Bernoulli(probs=pr), D.Bernoulli(logits=p1)),
        "pois": kl(D.Poisson(p1), D.Poisson(p2)),
        "expgam": kl(D.Exponential(p1), D.Gamma(p2, p1)),
        "lap": kl(D.Laplace(p1, p2), D.Laplace(p2, p1)),
        "unorm": kl(D.Uniform(p1 - 1, p1 + 1), D.Normal(p2, p1)),
        "mvn": kl(D.MultivariateNormal(p1, scale_tril=L.linalg.cholesky(cov)),
                  D.MultivariateNormal(p2, precision_matrix=L.linalg.inv(cov) * 2)),
        "ind": kl(D.Independent(D.Normal(p1, p2), 1), D.Independent(D.Normal(p2, p2), 1)),
    }

    class Spike(D.Normal):
        pass

    @D.register_kl(Spike, D.Normal)
    def _kl_spike(p, q):
        return (q.loc - p.loc).abs()

    out["reg"] = kl(Spike(p1, p2), D.Normal(p2, p1))
    g = L.autograd.grad(sum(v.sum() for v in out.values()), p1)[0]
    miss = err(lambda: kl(D.Cauchy(p1, p2), D.Normal(p1, p2)))
    return dict(out=out, g=g, miss=miss)


# ----------------------------------------------------------------------------------------------
# what training scripts print, and the errors they meet
# ----------------------------------------------------------------------------------------------
@program
def printed_models_optimizers_schedulers_and_distributions_in_training_logs(L):
    """The text a training script logs: print(model) of a model carrying parametrizations,
    a pruned layer, an old-style weight_norm hook and nested containers (ModuleDict,
    ParameterList); print(optimizer) with two parameter groups; repr of distributions
    (Normal, Categorical, MixtureSameFamily, Independent); str of a state_dict's keys;
    a tensor with its grad_fn printed after a custom Function and after log_softmax."""
    nn = L.nn
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    D = L.distributions
    L.manual_seed(41)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3, padding="same", bias=False),
                                      "bn": nn.BatchNorm2d(2, momentum=None)})
            self.scales = nn.ParameterList([nn.Parameter(L.ones(2)), nn.Parameter(L.zeros(3))])
            self.fc = nn.utils.parametrizations.spectral_norm(nn.Linear(8, 4))
            self.out = nn.Linear(4, 2)
            self.emb = nn.EmbeddingBag(5, 3, mode="max")
            self.drop = nn.Dropout1d(0.1)

    net = Net()
    prune.l1_unstructured(net.out, "weight", amount=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = nn.utils.weight_norm(nn.Linear(3, 3), name="weight")
    opt = L.optim.AdamW([{"params": net.fc.parameters(), "lr": 1e-3},
                         {"params": net.out.parameters(), "weight_decay": 0.0}], lr=1e-2)
    sgd = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    dists = [D.Normal(L.zeros(3), L.ones(3)), D.Categorical(probs=L.tensor([0.5, 0.5])),
             D.Independent(D.Normal(L.zeros(2, 3), 1.0), 1),
             D.MixtureSameFamily(D.Categorical(logits=L.zeros(2)),
                                 D.Normal(L.zeros(2), L.ones(2)))]

    class Double(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = L.tensor([[0.5, -1.0]], requires_grad=True)
    return dict(net=repr(net), old=repr(old), opt=repr(opt), sgd=str(sgd),
                dists=[repr(d) for d in dists], keys=list(net.state_dict().keys()),
                t1=repr(Double.apply(x)), t2=str(L.log_softmax(x, 1)))


@program
def the_errors_training_scripts_hit_and_their_messages(L):
    """Mistakes made in the code of this round, with torch's exception type and words:
    load_state_dict with missing and unexpected keys (strict) and a size mismatch; a float
    target of the wrong shape to cross_entropy; ctc_loss with a target longer than the
    input at reduction 'none' (inf, no error) and with mismatched lengths; a Categorical
    with probs not summing to one under validate_args; a scheduler created before its
    optimizer has 'initial_lr' when last_epoch is given; DataLoader with both sampler
    and shuffle; WeightedRandomSampler drawing more than the population without
    replacement; clip_grad_norm_ with error_if_nonfinite on an inf gradient."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    data = L.utils.data
    L.manual_seed(43)
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    sd = m.state_dict()
    sd["2.weight"] = L.zeros(1)
    del sd["0.bias"]
    bad = dict(m.state_dict())
    bad["0.weight"] = L.zeros(4, 2)
    logits = L.zeros(4, 3)
    p = m[0].weight
    p.grad = L.full_like(p, float("inf"))
    out = dict(
        keys=err(lambda: m.load_state_dict(sd)),
        size=err(lambda: m.load_state_dict(bad)),
        nonstrict=str(m.load_state_dict(sd, strict=False)),
        ce=err(lambda: F.cross_entropy(logits, L.zeros(4, 2))),
        ce_long=err(lambda: F.cross_entropy(logits, L.tensor([0, 1, 3, 1]))),
        cat=err(lambda: D.Categorical(probs=L.tensor([0.5, 0.6]), validate_args=True)),
        normal=err(lambda: D.Normal(L.zeros(2), L.tensor([1.0, -1.0]), validate_args=True)),
        sched=err(lambda: L.optim.lr_scheduler.StepLR(L.optim.SGD(m.parameters(), lr=0.1),
                                                      3, last_epoch=2)),
        loader=err(lambda: data.DataLoader(range(4), sampler=data.SequentialSampler(range(4)),
                                           shuffle=True)),
        wrs=err(lambda: list(data.WeightedRandomSampler([0.5, 0.5], 3, replacement=False))),
        clip=err(lambda: nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)),
        bag=err(lambda: nn.EmbeddingBag(4, 2)(L.tensor([[1, 2]]), L.tensor([0]))),
    )
    lp = L.zeros(3, 1, 4).log_softmax(2)
    out["ctc_inf"] = F.ctc_loss(lp, L.tensor([[1, 2, 1, 2]]), (3,), (4,), reduction="none")
    out["ctc_len"] = err(lambda: F.ctc_loss(lp, L.tensor([[1, 2]]), (3, 3), (2,)))
    return out


@program(rtol=1e-6, atol=1e-7)
def alibi_attention_by_baddbmm_and_the_bias_shape_mistakes_of_fused_adds(L):
    """Attention scores as BLOOM-style code fuses them: baddbmm(alibi, q, k^T, beta=1,
    alpha=1/sqrt(d)) with a per-head linear position bias from slopes 2^(-8 i / heads), a
    causal mask by masked_fill, softmax in float32; addmm for the fused bias of a Linear;
    then the shape mistakes such code makes, with PyTorch's words: an alibi of the wrong
    length to baddbmm (input expanded to the product's shape first), a bias of the wrong
    size to addmm and addbmm, addmv with a vector of the wrong length or a matrix input."""
    nn = L.nn
    B, H, T, D = 2, 2, 4, 3
    q = _t(L, B * H, T, D, seed=46, grad=True)
    k = _t(L, B * H, T, D, seed=47, grad=True)
    slopes = L.tensor([2 ** (-8 * (i + 1) / H) for i in range(H)], dtype=L.float64)
    pos = L.arange(T, dtype=L.float64)
    alibi = (slopes[:, None] * pos[None, :]).repeat(B, 1).unsqueeze(1)     # (B H, 1, T)
    scores = L.baddbmm(alibi, q, k.transpose(1, 2), beta=1.0, alpha=1 / math.sqrt(D))
    mask = L.triu(L.ones(T, T, dtype=L.bool), 1)
    probs = scores.masked_fill(mask, float("-inf")).float().softmax(-1)
    out = probs.double() @ _t(L, B * H, T, D, seed=49)
    out.pow(2).sum().backward()
    L.manual_seed(9)
    lin = nn.Linear(3, 2).double()
    x = _t(L, 4, 3, seed=48)
    fused = L.addmm(lin.bias, x, lin.weight.t())

    def zeros(*shape):
        return L.zeros(*shape, dtype=L.float64)

    return dict(scores=scores, probs=probs, gq=q.grad, gk=k.grad,
                fused=(fused - lin(x)).abs().max(),
                e_alibi=err(lambda: L.baddbmm(alibi[:, :, :3], q, k.transpose(1, 2))),
                e_addmm=err(lambda: L.addmm(L.zeros(3, dtype=L.float64), x, lin.weight.t())),
                e_addbmm=err(lambda: L.addbmm(zeros(5, 5), q, k.transpose(1, 2))),
                e_addmv=err(lambda: L.addmv(zeros(4), x, L.ones(4, dtype=L.float64))),
                e_addmv2=err(lambda: L.addmv(zeros(4, 1), x, L.ones(3, dtype=L.float64))))


# ----------------------------------------------------------------------------------------------
# riskier corners
# ----------------------------------------------------------------------------------------------
@program
def seeded_samples_of_the_distributions_generative_models_draw_from(L):
    """Sampling under torch.manual_seed as VAE, RL and Bayesian code does: Gamma, Beta and
    Dirichlet, Poisson and Binomial counts, Geometric,
    NegativeBinomial, LogNormal, StudentT, Laplace, Gumbel, RelaxedOneHotCategorical and
    RelaxedBernoulli rsamples, Multinomial counts, OneHotCategorical, MultivariateNormal
    with a scale_tril, LowRankMultivariateNormal."""
    D = L.distributions
    L.manual_seed(47)
    conc = L.tensor([0.5, 1.0, 3.0], dtype=L.float64)
    out = {}
    out["g"] = D.Gamma(conc, L.tensor(2.0, dtype=L.float64)).rsample((2,))
    out["b"] = D.Beta(conc, conc.flip(0)).rsample()
    out["d"] = D.Dirichlet(conc).rsample((2,))
    rate = L.tensor([0.5, 4.0, 30.0], dtype=L.float64)
    out["pois"] = D.Poisson(rate).sample((2,))
    out["binom"] = D.Binomial(10, probs=L.tensor([0.2, 0.5, 0.9], dtype=L.float64)).sample()
    out["geom"] = D.Geometric(probs=L.tensor([0.3, 0.7])).sample((2,))
    out["nb"] = D.NegativeBinomial(3.0, probs=L.tensor([0.4])).sample((3,))
    out["ln"] = D.LogNormal(0.0, 0.5).sample((3,))
    out["st"] = D.StudentT(L.tensor([3.0, 10.0])).rsample()
    out["lap"] = D.Laplace(0.0, 1.0).sample((2,))
    out["gum"] = D.Gumbel(0.0, 1.0).sample((2,))
    out["roc"] = D.RelaxedOneHotCategorical(L.tensor(0.5), logits=L.zeros(3)).rsample()
    out["rb"] = D.RelaxedBernoulli(L.tensor(0.3), probs=L.tensor([0.2, 0.8])).rsample()
    out["mult"] = D.Multinomial(8, probs=L.tensor([0.2, 0.3, 0.5])).sample()
    out["ohc"] = D.OneHotCategorical(probs=L.tensor([0.2, 0.3, 0.5])).sample((2,))
    tril = L.tensor([[1.0, 0.0], [0.5, 2.0]], dtype=L.float64)
    out["mvn"] = D.MultivariateNormal(L.zeros(2, dtype=L.float64), scale_tril=tril).sample((2,))
    out["lr"] = D.LowRankMultivariateNormal(L.zeros(3, dtype=L.float64),
                                            L.ones(3, 1, dtype=L.float64),
                                            L.ones(3, dtype=L.float64)).rsample()
    out["tail"] = L.rand(2)
    return out


@program(rtol=2e-3, atol=1e-6)
def dirichlet_vae_latents_trained_through_pathwise_beta_and_gamma_gradients(L):
    """A Dirichlet VAE's latent path (ProdLDA-style topic models, Beta-weighted mixtures):
    softplus concentrations from an encoder, Dirichlet(alpha).rsample() and
    Beta(a, b).rsample() and Gamma(k, rate).rsample() under the seed, a decoder loss and the
    analytic KL to a Dirichlet prior; the encoder's gradients flow through the draws'
    pathwise (implicit) gradients.  PyTorch evaluates those with closed-form approximations
    good to ~1e-4 relative; minigrad evaluates the same derivatives exactly, hence the
    tolerance of this program."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(71)
    enc = nn.Sequential(nn.Linear(6, 12), nn.Softplus(), nn.Linear(12, 4 + 2 + 1)).double()
    dec = nn.Linear(4, 6).double()
    x = _t(L, 5, 6, seed=34).abs()
    prior = D.Dirichlet(L.full((4,), 0.7, dtype=L.float64))
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
    hist = []
    for _ in range(3):
        h = F.softplus(enc(x)) + 0.05
        alpha, ab, k = h[:, :4], h[:, 4:6], h[:, 6]
        q = D.Dirichlet(alpha)
        theta = q.rsample()
        w = D.Beta(ab[:, 0], ab[:, 1]).rsample()
        s = D.Gamma(k, 2.0).rsample()
        recon = -(F.log_softmax(dec(theta), -1) * x).sum(-1)
        loss = (recon + D.kl_divergence(q, prior)).mean() + (w * s).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(loss.item())
    return dict(hist=hist, theta=theta, w=w, s=s, g=grads_of(enc),
                fn=type(theta.grad_fn).__name__)


@program(**F32)
def cpu_autocast_op_dtypes_across_layers_losses_and_custom_fwd(L):
    """Which dtype each op gives under torch.autocast('cpu', bfloat16), as mixed-precision
    code relies on: conv1d/conv2d, linear, bmm, baddbmm, addmm, matmul in bfloat16;
    layer_norm, group_norm, softmax, log_softmax, mse_loss, cross_entropy, binary cross
    entropy with logits, cumsum, norm; elementwise ops of mixed inputs promoting; index_copy
    of a bfloat16 source into float32 (promoted); cdist on its matmul path (float32);
    a nested autocast(enabled=False) region; torch.amp.custom_fwd(cast_inputs=float32) on
    a Function; the gradients' dtypes (the parameters' float32)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(53)
    conv1, conv2 = nn.Conv1d(2, 3, 3), nn.Conv2d(2, 3, 3)
    lin, ln, gn = nn.Linear(4, 4), nn.LayerNorm(4), nn.GroupNorm(1, 3)
    x1 = L.tensor(np.random.RandomState(12).randn(2, 2, 6).astype(np.float32))
    x2 = L.tensor(np.random.RandomState(13).randn(2, 2, 5, 5).astype(np.float32))
    a = L.tensor(np.random.RandomState(14).randn(2, 3, 4).astype(np.float32))
    bm = L.tensor(np.random.RandomState(15).randn(2, 4, 4).astype(np.float32))
    y = L.tensor([1, 0])

    class Fp32(L.autograd.Function):
        @staticmethod
        @L.amp.custom_fwd(device_type="cpu", cast_inputs=L.float32)
        def forward(ctx, x):
            ctx.dt = x.dtype
            return x * 2

        @staticmethod
        @L.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            return g * 2

    dt = {}
    with L.autocast("cpu", dtype=L.bfloat16):
        c1, c2 = conv1(x1), conv2(x2)
        h = lin(a)
        dt.update(c1=c1.dtype, c2=c2.dtype, lin=h.dtype, bmm=L.bmm(a, bm).dtype,
                  baddbmm=L.baddbmm(a, a, bm).dtype, addmm=L.addmm(a[0], a[0], bm[0]).dtype,
                  matmul=(a @ bm).dtype, ln=ln(h).dtype, gn=gn(c2).dtype,
                  sm=F.softmax(h, -1).dtype, lsm=F.log_softmax(h, -1).dtype,
                  mse=F.mse_loss(h, a).dtype, ce=F.cross_entropy(h[:, 0], y).dtype,
                  bce=F.binary_cross_entropy_with_logits(h, a.sigmoid()).dtype,
                  cumsum=h.cumsum(0).dtype, norm=h.norm().dtype, prod=h.prod(1).dtype,
                  add=(h + a).dtype, mul=(h * 2).dtype, exp=h.exp().dtype,
                  fp32=Fp32.apply(h).dtype,
                  index_copy=a.index_copy(0, L.tensor([1]), h[:1]).dtype,
                  cdist_mm=L.cdist(h, h, compute_mode="use_mm_for_euclid_dist").dtype)
        with L.autocast("cpu", enabled=False):
            dt["off"] = lin(a).dtype
        loss = F.cross_entropy(lin(a).sum(1), y) + c1.float().mean() + c2.float().mean()
    loss.backward()
    dt["grads"] = [p.grad.dtype for p in lin.parameters()]
    return dict(dt=dt, loss=loss, c1=c1.float(), glin=lin.weight.grad)


@program(rtol=1e-4, atol=1e-5)
def deep_kernel_gp_and_whitening_under_bfloat16_autocast(L):
    """A model run whole under torch.autocast('cpu', bfloat16), linear algebra included, as
    mixed-precision scripts do without thinking about it: a feature net's Linear in
    bfloat16, an RBF kernel by cdist (its mm path), a Cholesky factor, cholesky_solve and
    the log-determinant from the factor's diagonal in float32 (CPU autocast's float32
    list); ZCA whitening by eigh and the inverse square root; an SVD-based orthogonal
    Procrustes step; torch.inverse and pinverse; the CTC loss of bfloat16 log-probs; the
    dtypes each op gives and the float32 gradients of the feature net."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(73)
    feat = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 4))
    X = L.tensor(np.random.RandomState(35).randn(10, 3).astype(np.float32))
    y = L.tensor(np.sin(np.arange(10) / 3.0).astype(np.float32))
    dts = {}
    with L.autocast("cpu", dtype=L.bfloat16):
        Z = feat(X)
        d2 = L.cdist(Z, Z, compute_mode="use_mm_for_euclid_dist").pow(2)
        K = L.exp(-0.5 * d2) + 0.1 * L.eye(10)
        Lc = L.linalg.cholesky(K)
        alpha = L.cholesky_solve(y.unsqueeze(-1), Lc)
        nll = 0.5 * (y.unsqueeze(-1) * alpha).sum() + L.log(L.diagonal(Lc)).sum()
        C = Z.T @ Z / 10
        evals, evecs = L.linalg.eigh(C.float() + 1e-3 * L.eye(4))
        W = evecs @ L.diag(evals.rsqrt()) @ evecs.T
        U, S, Vh = L.linalg.svd(Z.T @ X[:, :1].expand(10, 4))
        R = U @ Vh
        inv = L.inverse(C + L.eye(4))
        pinv = L.pinverse(Z)
        logp = (Z @ L.ones(4, 5)).log_softmax(-1).unsqueeze(1)
        ctc = F.ctc_loss(logp, L.tensor([[1, 2, 3]]), (10,), (3,))
        dts.update(Z=Z.dtype, d2=d2.dtype, K=K.dtype, Lc=Lc.dtype, alpha=alpha.dtype,
                   C=C.dtype, W=W.dtype, R=R.dtype, inv=inv.dtype, pinv=pinv.dtype,
                   logp=logp.dtype, ctc=ctc.dtype)
    (nll + ctc).backward()
    # the gradients pass back through bfloat16 matmuls: their roundings are the kernels'
    return dict(dts=dts, nll=nll, ctc=ctc, S=S, inv=inv,
                g=[(p.grad.dtype, bool(p.grad.isfinite().all())) for p in feat.parameters()])


# (five float64 Adam steps: the BLAS's order of summation moves the EMA's last digits from
# machine to machine, 2.5e-10 on an AMD EPYC)
@program(rtol=1e-7, atol=1e-9)
def optimizer_named_parameters_hooks_add_param_group_and_swa_ema(L):
    """Optimizer features newer training code uses: an optimizer built from
    model.named_parameters() (param_names kept in the state dict), register_step_pre_hook
    and register_step_post_hook counting and clipping, add_param_group for a head unfrozen
    mid-training, zero_grad(set_to_none=False); AveragedModel with get_ema_multi_avg_fn and
    use_buffers=True, SWALR annealing, and update_bn over a DataLoader recomputing
    BatchNorm statistics."""
    nn = L.nn
    swa = L.optim.swa_utils
    data = L.utils.data
    L.manual_seed(59)
    body = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU()).double()
    head = nn.Linear(6, 1).double()
    for p in head.parameters():
        p.requires_grad_(False)
    opt = L.optim.Adam(body.named_parameters(), lr=0.01)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    ema = swa.AveragedModel(nn.Sequential(body, head), multi_avg_fn=swa.get_ema_multi_avg_fn(0.9),
                            use_buffers=True)
    sched = swa.SWALR(opt, swa_lr=0.05, anneal_epochs=3, anneal_strategy="cos")
    x, y = _t(L, 12, 3, seed=32), _t(L, 12, 1, seed=33)
    hist = []
    for step in range(5):
        if step == 2:
            for p in head.parameters():
                p.requires_grad_(True)
            opt.add_param_group({"params": list(head.named_parameters()), "lr": 0.1,
                                "swa_lr": 0.02})
        opt.zero_grad(set_to_none=False)
        loss = ((head(body(x)) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
        ema.update_parameters(nn.Sequential(body, head))
        hist.append((loss.item(), [g["lr"] for g in opt.param_groups]))
    sd = opt.state_dict()
    loader = data.DataLoader(data.TensorDataset(x), batch_size=4)
    fresh = copy.deepcopy(body)
    swa.update_bn(loader, fresh)
    return dict(hist=hist, calls=calls, names=[g.get("param_names") for g in sd["param_groups"]],
                ema=ema.state_dict(), n=ema.n_averaged, bn=fresh[1].running_var,
                nbt=fresh[1].num_batches_tracked, mom=fresh[1].momentum)


# ----------------------------------------------------------------------------------------------
# more of the machinery: parametrization maps, old-style norms, pruning, hooks, fusion
# ----------------------------------------------------------------------------------------------
@program
def orthogonal_parametrization_maps_on_square_tall_and_wide_weights(L):
    """parametrizations.orthogonal as RNN and flow code uses it: orthogonal_map
    'matrix_exp', 'cayley' and 'householder' on square, tall and wide Linear weights (the
    wide ones orthonormal by rows), gradients of a loss through each map, and
    use_trivialization=False."""
    nn = L.nn
    P = nn.utils.parametrizations
    out = {}
    for mp in ("matrix_exp", "cayley", "householder"):
        for shape in ((3, 3), (4, 2), (2, 4)):
            L.manual_seed(3)
            lin = P.orthogonal(nn.Linear(shape[1], shape[0]).double(), orthogonal_map=mp)
            y = lin(_t(L, 2, shape[1], seed=36))
            y.pow(2).sum().backward()
            out[mp + str(shape)] = (lin.weight, grads_of(lin))
    L.manual_seed(4)
    out["no_trivialization"] = P.orthogonal(nn.Linear(3, 3).double(),
                                            use_trivialization=False).weight
    return out


@program
def old_style_weight_norm_and_spectral_norm_hooks_with_state_dict_round_trip(L):
    """The hook-based nn.utils.weight_norm (dim=None and dim=1 on a Conv1d, as WaveNet and
    HiFi-GAN checkpoints carry) and nn.utils.spectral_norm with weight_u/weight_v buffers,
    a state dict loaded into a freshly normed layer, then remove_weight_norm and
    remove_spectral_norm folding the weights back; the deprecation warnings silenced as
    scripts do."""
    nn = L.nn
    L.manual_seed(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = nn.utils.weight_norm(nn.Linear(3, 2).double(), dim=None)
        b = nn.utils.spectral_norm(nn.Linear(3, 4).double(), n_power_iterations=3)
        c = nn.utils.weight_norm(nn.Conv1d(2, 3, 3).double(), dim=1)
    x = _t(L, 2, 3, seed=37)
    y = a(x).sum() + b(x).pow(2).sum() + c(_t(L, 1, 2, 5, seed=38)).sum()
    y.backward()
    keys = sorted(a.state_dict()) + sorted(b.state_dict()) + sorted(c.state_dict())
    sd = b.state_dict()
    b2 = nn.utils.spectral_norm(nn.Linear(3, 4).double())
    b2.load_state_dict(sd)
    nn.utils.remove_weight_norm(a)
    nn.utils.remove_spectral_norm(b)
    return dict(y=y, keys=keys, gc=grads_of(c), u=sd["weight_u"], aw=a.weight, bw=b.weight,
                b2=b2(x), names=sorted(n for n, _ in b.named_parameters()))


@program
def custom_pruning_method_importance_scores_and_a_refused_amount(L):
    """A BasePruningMethod subclass (every other entry) applied by its classmethod apply,
    random_unstructured on the bias, l1_unstructured with importance_scores composing into a
    PruningContainer; the hooks' class names, prune.identity; then the two mistakes: an
    amount of 1.5 (refused after the old hook is taken off, as PyTorch does) and a count
    larger than the tensor on the now hook-less module."""
    nn = L.nn
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")

    class EveryOther(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            mask = default_mask.clone()
            mask.view(-1)[::2] = 0
            return mask

    L.manual_seed(6)
    lin = nn.Linear(4, 3).double()
    EveryOther.apply(lin, "weight")
    prune.random_unstructured(lin, "bias", amount=0.34)
    prune.l1_unstructured(lin, "weight", amount=0.25,
                          importance_scores=lin.weight_orig.abs().flip(0))

    def state():
        return (sorted(n for n, _ in lin.named_parameters()),
                sorted(n for n, _ in lin.named_buffers()),
                [type(h).__name__ for h in lin._forward_pre_hooks.values()])

    before = state()
    y = lin(_t(L, 2, 4, seed=39))
    y.sum().backward()
    m = prune.identity(nn.Linear(2, 2), "weight")
    e1 = err(lambda: prune.l1_unstructured(lin, "weight", amount=1.5))
    after1 = state()
    e2 = err(lambda: prune.l1_unstructured(lin, "weight", amount=100))
    return dict(w=lin.weight, mask=lin.weight_mask, bm=lin.bias_mask, before=before, y=y,
                g=grads_of(lin), idm=m.weight_mask, e1=e1, after1=after1, e2=e2,
                after2=state())


@program
def forward_hooks_with_kwargs_always_call_prepend_and_state_dict_post_hooks(L):
    """The newer hook options: register_forward_hook(with_kwargs=True) seeing the keyword
    arguments, always_call=True firing although forward raised, prepend=True ordering, a
    prepended forward pre-hook; register_state_dict_post_hook and
    register_load_state_dict_post_hook seeing the keys and the incompatible-keys result."""
    nn = L.nn
    log = []

    class M(nn.Module):
        def forward(self, x, boom=False):
            if boom:
                raise ValueError("boom")
            return x * 2

    m = M()
    m.register_forward_hook(lambda mod, args, kwargs, out: log.append(("kw", sorted(kwargs), out)),
                            with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("always", out)), always_call=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("first",)), prepend=True)
    m.register_forward_pre_hook(lambda mod, args: log.append(("pre", len(args))), prepend=True)
    y = m(L.ones(2), boom=False)
    e = err(lambda: m(L.ones(2), boom=True))
    seen = []
    m2 = nn.Linear(2, 2)
    m2.register_state_dict_post_hook(lambda mod, sd, prefix, local: seen.append(sorted(sd)))
    m2.register_load_state_dict_post_hook(
        lambda mod, keys: seen.append((keys.missing_keys, keys.unexpected_keys)))
    m2.load_state_dict(m2.state_dict())
    return dict(log=log, y=y, e=e, seen=seen)


@program
def conv_bn_fusion_for_inference_and_vmapped_model_ensembles(L):
    """Deployment and ensembling utilities: nn.utils.fusion.fuse_conv_bn_eval and
    fuse_linear_bn_eval against the unfused eval pair; a model ensemble by
    torch.func.stack_module_state over four Linears, a 'meta' copy as the base, and
    torch.vmap of functional_call over the stacked parameters."""
    nn = L.nn
    fusion = importlib.import_module(L.__name__ + ".nn.utils.fusion")
    L.manual_seed(1)
    conv, bn = nn.Conv2d(2, 3, 3).double().eval(), nn.BatchNorm2d(3).double().eval()
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    fused = fusion.fuse_conv_bn_eval(conv, bn)
    x = _t(L, 1, 2, 5, 5, seed=40)
    lin, bn1 = nn.Linear(3, 4).double().eval(), nn.BatchNorm1d(4).double().eval()
    bn1.running_var.fill_(2.0)
    fl = fusion.fuse_linear_bn_eval(lin, bn1)
    func = L.func
    models = [nn.Linear(3, 2).double() for _ in range(4)]
    params, buffers = func.stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")     # shapes only, no storage

    def run_member(weights, bufs, batch):
        return func.functional_call(skeleton, (weights, bufs), (batch,))

    xs = _t(L, 5, 3, seed=41)
    # members along dim 0 of the stacked state, the same batch for every member
    out = L.vmap(run_member, in_dims=(0, 0, None))(params, buffers, xs)
    x2 = _t(L, 2, 3, seed=42)
    return dict(d=(fused(x) - bn(conv(x))).abs().max() < 1e-12, fw=fused.weight, fl=fl(x2),
                ref=bn1(lin(x2)), out=out, ref2=L.stack([m(xs) for m in models]),
                keys=sorted(params))


@program
def torch_save_of_nested_checkpoints_and_state_dicts_through_bytesio(L):
    """torch.save of a dict holding an optimizer state dict (Adam moments), a model state
    dict, a Python list and an int64 tensor, read back by torch.load with the default
    (weights_only) loader; a bare state dict saved and loaded with weights_only=True."""
    nn = L.nn
    L.manual_seed(2)
    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU()).double()
    opt = L.optim.Adam(m.parameters(), lr=0.1)
    m(_t(L, 4, 2, seed=43)).sum().backward()
    opt.step()
    buf = io.BytesIO()
    L.save({"opt": opt.state_dict(), "sd": m.state_dict(), "list": [1, 2.5, "a"],
            "t": L.arange(3)}, buf)
    buf.seek(0)
    ck = L.load(buf)
    buf2 = io.BytesIO()
    L.save(m.state_dict(), buf2)
    buf2.seek(0)
    sd2 = L.load(buf2, weights_only=True)
    return dict(ck=ck["sd"], st=ck["opt"]["state"][0]["exp_avg"], pg=ck["opt"]["param_groups"],
                lst=ck["list"], t=ck["t"], sd2=sd2)


@program
def scheduler_misuse_get_lr_outside_step_and_one_cycle_past_its_end(L):
    """What schedulers say when used wrongly: get_lr() called outside step() (a warning),
    OneCycleLR stepped past total_steps (ValueError with the step count), LambdaLR's state
    dict keys (the lambdas left out), reentrant and non-reentrant checkpoint of a Linear
    and the error of checkpoint without use_reentrant."""
    nn = L.nn
    L.manual_seed(0)
    m = nn.Linear(3, 3).double()
    opt = L.optim.SGD(m.parameters(), lr=0.1)
    s = L.optim.lr_scheduler.StepLR(opt, 2)
    opt.step()
    s.step()
    a = s.get_lr()
    opt2 = L.optim.SGD(m.parameters(), lr=0.1)
    oc = L.optim.lr_scheduler.OneCycleLR(opt2, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt2.step()
        oc.step()
    e = err(lambda: oc.step())
    lam = L.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5 ** e)
    x = _t(L, 2, 3, seed=44)
    out = L.utils.checkpoint.checkpoint(m, x, use_reentrant=True)
    out2 = L.utils.checkpoint.checkpoint(m, x, use_reentrant=False)
    return dict(a=a, e=e, sd=sorted(lam.state_dict()), lr=lam.get_last_lr(), out=out,
                out2=out2, w=err(lambda: L.utils.checkpoint.checkpoint(m, x)))


@program
def packed_sequences_unsorted_with_total_length_unpack_and_unpad(L):
    """Variable-length batches for an LSTM: pack_sequence(enforce_sorted=False) with its
    sorted and unsorted indices, the LSTM on the PackedSequence, pad_packed_sequence to a
    total_length longer than the longest, unpack_sequence and unpad_sequence back to the
    list."""
    nn = L.nn
    rnn = nn.utils.rnn
    seqs = [_t(L, n, 2, seed=n) for n in (3, 5, 2)]
    ps = rnn.pack_sequence(seqs, enforce_sorted=False)
    L.manual_seed(7)
    lstm = nn.LSTM(2, 3, batch_first=True).double()
    out, (h, c) = lstm(ps)
    pad, lens = rnn.pad_packed_sequence(out, batch_first=True, total_length=6)
    return dict(pad=pad, lens=lens, h=h, up=rnn.unpack_sequence(out),
                upad=rnn.unpad_sequence(pad, lens, batch_first=True), si=ps.sorted_indices,
                ui=ps.unsorted_indices, bs=ps.batch_sizes, data=ps.data)


@program
def parameter_vectors_total_norms_and_optimizer_flags(L):
    """Utilities around optimizers: parameters_to_vector and vector_to_parameters,
    get_total_norm with norm_type 3 and clip_grads_with_norm_, clip_grad_norm_ with the
    'inf' norm and foreach; SGD with dampening, weight decay and maximize; RMSprop centered
    with momentum; their state dicts."""
    nn = L.nn
    L.manual_seed(8)
    m = nn.Linear(3, 2).double()
    vec = nn.utils.parameters_to_vector(m.parameters())
    nn.utils.vector_to_parameters(vec * 2, m.parameters())
    m(_t(L, 4, 3, seed=45)).pow(2).sum().backward()
    tn = nn.utils.get_total_norm([p.grad for p in m.parameters()], norm_type=3.0)
    nn.utils.clip_grads_with_norm_(m.parameters(), 1.0, tn)
    n_inf = nn.utils.clip_grad_norm_(m.parameters(), 0.5, norm_type="inf", foreach=True)
    opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01,
                      maximize=True)
    opt.step()
    opt.step()
    sd = opt.state_dict()
    opt2 = L.optim.RMSprop(m.parameters(), lr=0.01, centered=True, momentum=0.5)
    opt2.step()
    return dict(vec=vec, tn=tn, n_inf=n_inf, w=m.weight, sd=sd["state"], pg=sd["param_groups"],
                sd2=opt2.state_dict()["state"])


@program
def schedules_by_epoch_milestones_plateau_modes_and_a_resumed_last_epoch(L):
    """The rest of the scheduler zoo as configs select it: CosineAnnealingLR past T_max,
    MultiStepLR with a repeated milestone (gamma applied twice), LinearLR warmup,
    ReduceLROnPlateau in 'max' mode with an absolute threshold, eps and a per-group min_lr,
    CyclicLR with a custom scale_fn over iterations, OneCycleLR by epochs and
    steps_per_epoch with momentum cycling, StepLR resumed with last_epoch and initial_lr,
    ExponentialLR stepped with an explicit epoch (deprecated), a tensor lr under
    CosineAnnealingLR, PolynomialLR past total_iters."""
    sch = L.optim.lr_scheduler
    p = [L.nn.Parameter(L.zeros(2))]
    out = {}
    opt = L.optim.SGD(p, lr=1.0)
    s = sch.CosineAnnealingLR(opt, T_max=5, eta_min=0.1)
    tr = []
    for e in range(8):
        opt.step()
        s.step()
        tr.append(s.get_last_lr()[0])
    out["cos"] = tr
    opt = L.optim.SGD(p, lr=1.0)
    s = sch.MultiStepLR(opt, milestones=[2, 2, 4], gamma=0.5)
    tr = []
    for e in range(6):
        opt.step()
        s.step()
        tr.append(s.get_last_lr()[0])
    out["ms"] = tr
    opt = L.optim.SGD(p, lr=1.0)
    s = sch.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=4)
    tr = []
    for e in range(6):
        opt.step()
        s.step()
        tr.append(s.get_last_lr()[0])
    out["lin"] = tr
    opt = L.optim.SGD(p, lr=1.0)
    s = sch.ReduceLROnPlateau(opt, mode="max", threshold_mode="abs", threshold=0.05,
                              patience=0, factor=0.3, eps=0.05, min_lr=[0.01])
    tr = []
    for v in [0.5, 0.52, 0.6, 0.61, 0.4, 0.7, 0.7]:
        s.step(v)
        tr.append((s.get_last_lr()[0], s.best, s.num_bad_epochs))
    out["plateau"] = tr
    opt = L.optim.SGD(p, lr=1.0, momentum=0.9)
    s = sch.CyclicLR(opt, 0.1, 1.0, step_size_up=3, scale_fn=lambda x: 1 / (2.0 ** (x - 1)),
                     scale_mode="iterations", cycle_momentum=False)
    tr = []
    for e in range(8):
        opt.step()
        s.step()
        tr.append(s.get_last_lr()[0])
    out["cyc"] = tr
    opt = L.optim.SGD(p, lr=1.0, momentum=0.9)
    s = sch.OneCycleLR(opt, max_lr=0.5, epochs=2, steps_per_epoch=3, pct_start=0.5,
                       cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)
    tr = []
    for e in range(6):
        opt.step()
        s.step()
        tr.append((s.get_last_lr()[0], opt.param_groups[0]["momentum"]))
    out["oc"] = tr
    opt = L.optim.SGD(p, lr=1.0)
    for g in opt.param_groups:
        g["initial_lr"] = 1.0
    s = sch.StepLR(opt, step_size=2, gamma=0.1, last_epoch=3)
    out["resume"] = (s.get_last_lr(), s.last_epoch)
    opt = L.optim.SGD(p, lr=1.0)
    s = sch.ExponentialLR(opt, 0.5)
    opt.step()
    s.step(3)
    out["epoch_arg"] = s.get_last_lr()
    opt = L.optim.Adam(p, lr=L.tensor(0.01))
    s = sch.CosineAnnealingLR(opt, T_max=3)
    opt.step()
    s.step()
    out["tlr"] = opt.param_groups[0]["lr"]
    opt = L.optim.SGD(p, lr=1.0)
    s = sch.PolynomialLR(opt, total_iters=4, power=1.0)
    tr = []
    for e in range(6):
        opt.step()
        s.step()
        tr.append(s.get_last_lr()[0])
    out["poly"] = tr
    return out

@program
def stochastic_weight_averaging_ema_variants_swalr_and_update_bn_over_a_list(L):
    """torch.optim.swa_utils three ways: AveragedModel's running mean, EMA by
    get_ema_multi_avg_fn and by get_ema_avg_fn with use_buffers=True, SWALR's linear
    annealing, update_bn over a plain list of batches
    the averaged state dicts (n_averaged
    included) and the averaged model's output."""
    nn = L.nn
    swa = L.optim.swa_utils
    L.manual_seed(2)
    m = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).double()
    avg = swa.AveragedModel(m)
    ema = swa.AveragedModel(m, multi_avg_fn=swa.get_ema_multi_avg_fn(0.5))
    ema2 = swa.AveragedModel(m, avg_fn=swa.get_ema_avg_fn(0.5), use_buffers=True)
    opt = L.optim.SGD(m.parameters(), lr=0.5)
    sw = swa.SWALR(opt, swa_lr=0.05, anneal_epochs=2, anneal_strategy="linear")
    x = _t(L, 8, 2, seed=50)
    tr = []
    for e in range(4):
        opt.zero_grad()
        m(x).pow(2).mean().backward()
        opt.step()
        avg.update_parameters(m)
        ema.update_parameters(m)
        ema2.update_parameters(m)
        sw.step()
        tr.append(sw.get_last_lr()[0])
    swa.update_bn([x[:4], x[4:]], avg)
    return dict(tr=tr, avg=avg.state_dict(), ema=ema.state_dict(), ema2=ema2.state_dict(),
                out=avg(x))


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
