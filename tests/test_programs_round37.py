"""Whole programs of round 37: training machinery and model pieces in the corners earlier
rounds touched least.

timm-style pieces (weight EMA by foreach lerp, layer scale with drop path, drop path by seeded
bernoulli_, squeeze-excite gates), meta-learning and second-order code (MAML by
functional_call with create_graph, WGAN-GP penalties, Hessian-vector products three ways,
torch.func transforms with argnums, has_aux and chunked vmap, batched Jacobian rows, per-sample
gradients over buffers), custom autograd Functions (setup_context, non-differentiable outputs,
once_differentiable, mark_dirty, a differentiable backward under gradgradcheck), optimizers'
param groups, hooks and state dicts (L-BFGS's line-search state among them), chained and
one-cycle schedulers, DataLoaders with batch samplers, dict collation, iterable chains and
per-rank distributed samplers, nn.utils (clipping, weight/spectral norm, pruning, a
tuple-valued parametrization), module hooks with keyword arguments, state dicts that do not
fit, checkpoints of mixed objects and a full resume in BytesIO, einsum-heavy contractions,
embedding bags and max_norm embeddings, graph scatter code and sparse propagation,
distributions in VAEs, policies and mixture models, attention masks and grouped-query SDPA,
packed sequences, 1-d/2-d/3-d (transposed) convolutions, Unfold/Fold, interpolate and
grid_sample; and whole recipes: distillation, a multi-resolution STFT loss, SimCLR with a
LARS-style trust ratio, K-FAC factors from hooks.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights; both must give the same values, dtypes, shapes and requires_grad, or raise
the same exception type with torch's words, and warn alike (tests/side_by_side.py).
"""
import collections
import importlib
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, import_forward_ad_decompositions, labels, load_seeded, normal32, normal64,
    program_harness, registry)

import_forward_ad_decompositions()

HARNESS = program_harness(bfloat16=(1e-2, 1e-2))
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# timm-style pieces
# ----------------------------------------------------------------------------------------------
@program
def weight_ema_by_foreach_lerp_with_buffers_copied(L):
    """A model EMA kept by ``torch._foreach_lerp_`` over the parameters and a plain copy of
    the buffers, with a warmup decay, during three SGD steps of a conv-bn net."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).double()
    ema = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).double()
    ema.load_state_dict(net.state_dict())
    ema.requires_grad_(False).eval()
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = L.tensor(normal64(4, 2, 5, 5, seed=1))
    y = L.tensor(labels(4, 3, seed=2))
    for step in range(3):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with L.no_grad():
            ema_p = list(ema.parameters())
            L._foreach_lerp_(ema_p, list(net.parameters()), 1.0 - decay)
            for b_ema, b in zip(ema.buffers(), net.buffers()):
                b_ema.copy_(b)
    return ema[0].weight, ema[5].bias, ema[1].running_var, ema[1].num_batches_tracked, \
        ema(x), ema[0].weight.requires_grad


@program
def layer_scale_and_drop_path_residual_in_eval_and_with_a_given_mask(L):
    """A transformer MLP branch scaled by a learned per-channel gamma and dropped per sample
    by a given keep mask (scaled by 1/keep), against the same block in eval where drop path
    is the identity; gradients of gamma and the input."""
    nn, F = L.nn, L.nn.functional

    class Block(nn.Module):
        def __init__(self, d, keep):
            super().__init__()
            self.norm, self.fc1, self.fc2 = nn.LayerNorm(d), nn.Linear(d, 2 * d), \
                nn.Linear(2 * d, d)
            self.gamma = nn.Parameter(1e-1 * L.ones(d, dtype=L.float64))
            self.keep = keep

        def forward(self, x, mask=None):
            h = self.fc2(F.gelu(self.fc1(self.norm(x)), approximate="tanh")) * self.gamma
            if self.training and mask is not None:
                h = h * mask.view(-1, *([1] * (h.ndim - 1))).div(self.keep)
            return x + h

    L.manual_seed(0)
    blk = load_seeded(L, Block(6, 0.75).double(), seed=3)
    x = L.tensor(normal64(4, 3, 6, seed=4), requires_grad=True)
    mask = L.tensor([1.0, 0.0, 1.0, 1.0], dtype=L.float64)
    out = blk(x, mask)
    out.pow(2).sum().backward()
    blk.eval()
    ev = blk(x.detach())
    return out, ev, blk.gamma.grad, x.grad, blk.training, blk.norm.training


@program
def squeeze_excite_with_rd_divisor_rounding_and_gate_choices(L):
    """timm's squeeze-excite with the reduced width rounded to a divisor, a sigmoid or
    hard-sigmoid gate, and the gradients of a two-block stack."""
    nn, F = L.nn, L.nn.functional

    def make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
        min_value = min_value or divisor
        new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
        if new_v < round_limit * v:
            new_v += divisor
        return new_v

    class SE(nn.Module):
        def __init__(self, c, ratio, gate):
            super().__init__()
            rd = make_divisible(c * ratio, 4)
            self.fc1, self.fc2 = nn.Conv2d(c, rd, 1, bias=True), nn.Conv2d(rd, c, 1)
            self.gate = gate

        def forward(self, x):
            s = x.mean((2, 3), keepdim=True)
            return x * self.gate(self.fc2(F.relu(self.fc1(s), inplace=True)))

    L.manual_seed(0)
    stack = nn.Sequential(SE(12, 1 / 16, nn.Sigmoid()), SE(12, 0.25, nn.Hardsigmoid()))
    load_seeded(L, stack.double(), seed=5)
    x = L.tensor(normal64(2, 12, 4, 4, seed=6), requires_grad=True)
    y = stack(x)
    y.sum().backward()
    return y.shape, stack[0].fc1.weight.shape, stack[1].fc1.weight.shape, x.grad, \
        stack[1].fc2.weight.grad


# ----------------------------------------------------------------------------------------------
# meta-learning and second order
# ----------------------------------------------------------------------------------------------
@program
def maml_inner_loop_by_functional_call_and_create_graph(L):
    """MAML on sine-like regression tasks: two inner SGD steps on fast weights held in a dict
    and applied by torch.func.functional_call, gradients taken with create_graph=True, the
    query loss summed over tasks and an Adam meta-step on the slow weights."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    load_seeded(L, net, seed=7, scale=0.5)
    meta = L.optim.Adam(net.parameters(), lr=1e-2)
    rng = np.random.RandomState(8)
    history = []
    for it in range(2):
        meta.zero_grad()
        total = 0.0
        for task in range(2):
            amp, phase = rng.uniform(0.5, 2), rng.uniform(0, 3)
            xs, xq = rng.uniform(-3, 3, (5, 1)), rng.uniform(-3, 3, (5, 1))
            xs_t, xq_t = L.tensor(xs), L.tensor(xq)
            ys_t, yq_t = L.tensor(amp * np.sin(xs + phase)), L.tensor(amp * np.sin(xq + phase))
            fast = dict(net.named_parameters())
            for _ in range(2):
                loss = F.mse_loss(L.func.functional_call(net, fast, (xs_t,)), ys_t)
                grads = L.autograd.grad(loss, list(fast.values()), create_graph=True)
                fast = {n: p - 0.1 * g for (n, p), g in zip(fast.items(), grads)}
            q = F.mse_loss(L.func.functional_call(net, fast, (xq_t,)), yq_t)
            total = total + q
        (total / 2).backward()
        history.append((total.detach(), net[0].weight.grad.clone()))
        meta.step()
    return history, net[2].bias


@program
def wgan_gp_gradient_penalty_on_interpolates(L):
    """WGAN-GP's critic step: interpolates between real and fake with numpy-drawn alphas,
    the critic's input gradient by autograd.grad(create_graph=True, grad_outputs=ones),
    the penalty (||g|| - 1)^2 and the critic's parameter gradients through it."""
    nn = L.nn
    L.manual_seed(0)
    critic = nn.Sequential(nn.Linear(6, 12), nn.LeakyReLU(0.2), nn.Linear(12, 1)).double()
    load_seeded(L, critic, seed=9)
    real = L.tensor(normal64(5, 6, seed=10))
    fake = L.tensor(normal64(5, 6, seed=11) + 1.0)
    alpha = L.tensor(np.random.RandomState(12).rand(5, 1))
    inter = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = critic(inter)
    g, = L.autograd.grad(out, inter, grad_outputs=L.ones_like(out), create_graph=True,
                         retain_graph=True)
    gp = ((g.norm(2, dim=1) - 1) ** 2).mean()
    loss = critic(fake).mean() - critic(real).mean() + 10 * gp
    loss.backward()
    return gp, loss, critic[0].weight.grad, critic[2].bias.grad, g.requires_grad


@program
def hessian_vector_products_three_ways(L):
    """The Hessian-vector product of a logistic-regression loss in its weights, by double
    backward, by torch.autograd.functional.hvp and by torch.func.jvp of torch.func.grad; and
    the full Hessian by torch.autograd.functional.hessian."""
    F = L.nn.functional
    X = L.tensor(normal64(8, 3, seed=13))
    y = L.tensor((np.random.RandomState(14).rand(8) > 0.5).astype(np.float64))
    w0 = L.tensor(normal64(3, seed=15))
    v = L.tensor(normal64(3, seed=16))

    def loss_fn(w):
        return F.binary_cross_entropy_with_logits(X @ w, y) + 0.01 * w.pow(2).sum()

    w = w0.clone().requires_grad_(True)
    g, = L.autograd.grad(loss_fn(w), w, create_graph=True)
    hv1, = L.autograd.grad(g @ v, w)
    _, hv2 = L.autograd.functional.hvp(loss_fn, w0, v)
    _, hv3 = L.func.jvp(L.func.grad(loss_fn), (w0,), (v,))
    H = L.autograd.functional.hessian(loss_fn, w0)
    return hv1, hv2, hv3, H, H @ v


@program
def func_jacrev_jacfwd_argnums_and_has_aux(L):
    """torch.func.jacrev and jacfwd of a two-argument function over both arguments with
    has_aux, hessian of a scalar, and a vmapped jacobian over a batch of points."""
    fn = L.func

    def f(x, w):
        y = L.tanh(w @ x)
        return y, y.sum()

    x = L.tensor(normal64(3, seed=17))
    w = L.tensor(normal64(2, 3, seed=18))
    (jx, jw), aux = fn.jacrev(f, argnums=(0, 1), has_aux=True)(x, w)
    (fx, fw), aux2 = fn.jacfwd(f, argnums=(0, 1), has_aux=True)(x, w)
    h = fn.hessian(lambda z: (z.sin() * z.cos()).sum() + z.prod())(x)
    xs = L.tensor(normal64(4, 3, seed=19))
    batched = fn.vmap(fn.jacrev(lambda z: L.tanh(w @ z)))(xs)
    return jx, jw.shape, jw, aux, fx, fw, aux2, h, batched.shape, batched


@program
def chunked_vmap_with_in_dims_out_dims_and_nested_structures(L):
    """torch.func.vmap with in_dims over a tuple and a None, out_dims=1, chunk_size, dict
    inputs and outputs, and a nested vmap computing pairwise distances."""
    vmap = L.func.vmap
    A = L.tensor(normal64(5, 3, seed=20))
    B = L.tensor(normal64(3, 4, seed=21))
    s = L.tensor(2.0, dtype=L.float64)
    f = vmap(lambda a, pair, c: (a @ pair[0]) * c + pair[1], in_dims=(0, (None, 0), None),
             out_dims=1, chunk_size=2)
    out = f(A, (B, L.tensor(normal64(5, 4, seed=22))), s)
    g = vmap(lambda d: {"sum": d["x"].sum(), "max": d["x"].max()})({"x": A})
    P = L.tensor(normal64(4, 2, seed=23))
    Q = L.tensor(normal64(3, 2, seed=24))
    dist = vmap(vmap(lambda p, q: (p - q).norm(), in_dims=(None, 0)), in_dims=(0, None))(P, Q)
    return out.shape, out, g, dist, L.cdist(P, Q)


# ----------------------------------------------------------------------------------------------
# custom autograd functions
# ----------------------------------------------------------------------------------------------
@program
def custom_function_topk_mask_with_setup_context_and_non_differentiable_indices(L):
    """A k-winners-take-all activation as an autograd.Function with separate setup_context,
    save_for_backward of the mask, the indices returned marked non-differentiable; gradient
    flows through the kept entries only; needs_input_grad checked for the int argument."""

    class KWinners(L.autograd.Function):
        @staticmethod
        def forward(x, k):
            vals, idx = x.topk(k, dim=-1)
            mask = L.zeros_like(x).scatter_(-1, idx, 1.0)
            return x * mask, idx

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k = inputs
            out, idx = output
            ctx.save_for_backward(out.ne(0).to(x.dtype))
            ctx.mark_non_differentiable(idx)
            ctx.k = k

        @staticmethod
        def backward(ctx, g_out, g_idx):
            mask, = ctx.saved_tensors
            assert not ctx.needs_input_grad[1]
            return g_out * mask, None

    x = L.tensor(normal64(3, 5, seed=25), requires_grad=True)
    y, idx = KWinners.apply(x, 2)
    (y * L.arange(5, dtype=L.float64)).sum().backward()
    return y, idx, idx.requires_grad, x.grad, type(y.grad_fn).__name__ == "BackwardCFunction"


@program
def custom_function_once_differentiable_refuses_double_backward(L):
    """A softplus written as an autograd.Function with @once_differentiable: a first backward
    works; asking for the gradient of that gradient raises torch's error."""
    from_ad = L.autograd.function

    class SoftPlus(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return L.nn.functional.softplus(x)

        @staticmethod
        @from_ad.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * L.sigmoid(x)

    x = L.tensor(normal64(4, seed=26), requires_grad=True)
    y = SoftPlus.apply(x).sum()
    g, = L.autograd.grad(y, x, create_graph=True)
    first = g.detach().clone()
    return first, g.requires_grad, err(lambda: g.sum().backward())


@program
def custom_function_with_mark_dirty_in_place_clamp(L):
    """An in-place straight-through clamp as a Function that marks its input dirty; the
    leaf's clone is modified, its version bumps, and gradients pass straight through."""

    class ClampST(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, lo, hi):
            ctx.mark_dirty(x)
            return x.clamp_(lo, hi)

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    w = L.tensor(normal64(6, seed=27) * 2, requires_grad=True)
    h = w.clone()
    v0 = h._version
    out = ClampST.apply(h, -1.0, 1.0)
    (out * L.arange(6.0, dtype=L.float64)).sum().backward()
    return out, out is h, h._version > v0, w.grad


# ----------------------------------------------------------------------------------------------
# optimizers and schedulers
# ----------------------------------------------------------------------------------------------
@program
def optimizer_param_groups_state_dict_round_trip_and_mismatch(L):
    """An AdamW with a backbone and a head group at different lrs trains two steps; its
    state dict goes through a fresh optimizer, training continues identically; a state dict
    with a different number of groups and one with a different group size are refused."""
    nn, F = L.nn, L.nn.functional

    def build():
        L.manual_seed(0)
        m = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)).double()
        opt = L.optim.AdamW([{"params": m[0].parameters(), "lr": 1e-3},
                             {"params": m[2].parameters()}], lr=1e-2, weight_decay=0.05)
        return m, opt

    x, y = L.tensor(normal64(8, 4, seed=28)), L.tensor(labels(8, 2, seed=29))
    m, opt = build()

    def step(model, o):
        o.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        o.step()
        return loss.detach()

    l1 = [step(m, opt) for _ in range(2)]
    sd = opt.state_dict()
    m2, opt2 = build()
    m2.load_state_dict(m.state_dict())
    opt2.load_state_dict(sd)
    after = [step(m, opt), step(m2, opt2)]
    one_group = L.optim.AdamW(m2.parameters())
    other = L.optim.AdamW([{"params": [m2[0].weight]}, {"params": m2[2].parameters()}])
    return l1, after, sd["param_groups"][0]["lr"], sd["param_groups"][1]["params"], \
        sorted(sd["state"][0].keys()), sd["state"][0]["step"], \
        err(lambda: one_group.load_state_dict(sd)), err(lambda: other.load_state_dict(sd))


@program
def chained_scheduler_linear_and_exponential_then_plateau_abs_threshold(L):
    """ChainedScheduler of LinearLR and ExponentialLR over two groups for five epochs, then
    a ReduceLROnPlateau in 'abs' threshold mode with patience 1 driven by a loss series."""
    p = [L.nn.Parameter(L.zeros(2)), L.nn.Parameter(L.zeros(1))]
    opt = L.optim.SGD([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.5}], lr=0.1)
    sched = L.optim.lr_scheduler.ChainedScheduler([
        L.optim.lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=3),
        L.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)])
    lrs = []
    for _ in range(5):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    opt2 = L.optim.SGD(p, lr=1.0)
    plat = L.optim.lr_scheduler.ReduceLROnPlateau(opt2, mode="min", factor=0.5, patience=1,
                                                  threshold=0.1, threshold_mode="abs",
                                                  min_lr=0.1)
    seen = []
    for v in [1.0, 0.95, 0.92, 0.5, 0.45, 0.44, 0.43, 0.42, 0.41, 0.40]:
        plat.step(v)
        seen.append((opt2.param_groups[0]["lr"], plat.num_bad_epochs))
    return lrs, seen, plat.best, plat.get_last_lr()


@program
def one_cycle_linear_anneal_and_sequential_warmup_over_milestones(L):
    """OneCycleLR with anneal_strategy='linear', div factors and pct_start over 8 steps
    (lr and momentum of SGD), and a SequentialLR of ConstantLR then MultiStepLR whose
    milestones are counted from the switch."""
    p = L.nn.Parameter(L.zeros(3))
    opt = L.optim.SGD([p], lr=0.1, momentum=0.9)
    oc = L.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=8, pct_start=0.25,
                                         anneal_strategy="linear", div_factor=10.0,
                                         final_div_factor=100.0, base_momentum=0.8,
                                         max_momentum=0.95)
    trace = []
    for _ in range(7):
        opt.step()
        oc.step()
        trace.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
    opt2 = L.optim.Adam([p], lr=1.0)
    seq = L.optim.lr_scheduler.SequentialLR(opt2, [
        L.optim.lr_scheduler.ConstantLR(opt2, factor=0.5, total_iters=2),
        L.optim.lr_scheduler.MultiStepLR(opt2, milestones=[1, 3], gamma=0.1)], milestones=[2])
    lrs = []
    for _ in range(6):
        opt2.step()
        seq.step()
        lrs.append(seq.get_last_lr()[0])
    return trace, lrs, oc.state_dict()["total_steps"], seq.last_epoch


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------
@program
def dataloader_batch_sampler_dict_collate_and_drop_last(L):
    """A map-style dataset of dict samples (tensor, int label, string id) read through a
    DataLoader driven by a BatchSampler over a SequentialSampler with drop_last, the default
    collate stacking tensors, tensoring ints and listing strings; then a custom collate_fn
    padding variable-length sequences."""
    data = L.utils.data

    class Items(data.Dataset):
        def __init__(self):
            self.x = normal32(7, 3, seed=30)

        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": L.tensor(self.x[i]), "y": i % 3, "id": f"s{i}"}

    ds = Items()
    bs = data.BatchSampler(data.SequentialSampler(ds), batch_size=3, drop_last=True)
    dl = data.DataLoader(ds, batch_sampler=bs)
    batches = [(b["x"], b["y"], b["id"]) for b in dl]

    seqs = [L.arange(n, dtype=L.float32) for n in (3, 1, 4, 2)]

    def pad_collate(batch):
        lengths = L.tensor([len(s) for s in batch])
        return L.nn.utils.rnn.pad_sequence(batch, batch_first=True, padding_value=-1.0), lengths

    dl2 = data.DataLoader(seqs, batch_size=2, collate_fn=pad_collate)
    return batches, len(dl), list(dl2), len(dl2), \
        err(lambda: data.DataLoader(ds, batch_sampler=bs, batch_size=2))


@program
def iterable_dataset_chain_and_default_convert_without_batching(L):
    """An IterableDataset yielding numpy rows, chained with another by ChainDataset, read by
    a DataLoader with batch_size=None (default_convert turns arrays into tensors) and with
    batch_size=2 (default_collate stacks them)."""
    data = L.utils.data

    class Rows(data.IterableDataset):
        def __init__(self, a):
            self.a = a

        def __iter__(self):
            for row in self.a:
                yield row, float(row.sum())

    a = normal64(3, 2, seed=31)
    b = normal64(2, 2, seed=32)
    chain = data.ChainDataset([Rows(a), Rows(b)])
    plain = list(data.DataLoader(chain, batch_size=None))
    batched = list(data.DataLoader(chain, batch_size=2))
    return plain, batched, err(lambda: len(data.DataLoader(chain, batch_size=2)))


# ----------------------------------------------------------------------------------------------
# nn.utils, hooks, state dicts and checkpoints
# ----------------------------------------------------------------------------------------------
@program
def forward_pre_hooks_with_kwargs_and_full_backward_pre_hooks(L):
    """A forward pre-hook with with_kwargs=True that rewrites a keyword argument, a forward
    hook with with_kwargs seeing it, a full backward pre-hook scaling the output gradient,
    and a full backward hook recording the input gradient; then the handles removed."""
    nn = L.nn
    log = []

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x, scale=1.0):
            return self.lin(x) * scale

    L.manual_seed(0)
    m = load_seeded(L, Scaled().double(), seed=33)

    def pre(mod, args, kwargs):
        kwargs = dict(kwargs, scale=kwargs.get("scale", 1.0) * 2)
        return args, kwargs

    def post(mod, args, kwargs, out):
        log.append(("post", kwargs["scale"], tuple(out.shape)))

    def bpre(mod, grad_out):
        return (grad_out[0] * 10,)

    def bhook(mod, grad_in, grad_out):
        log.append(("bwd", grad_in[0].clone(), grad_out[0].clone()))

    hs = [m.register_forward_pre_hook(pre, with_kwargs=True),
          m.register_forward_hook(post, with_kwargs=True),
          m.register_full_backward_pre_hook(bpre), m.register_full_backward_hook(bhook)]
    x = L.tensor(normal64(4, 3, seed=34), requires_grad=True)
    y = m(x, scale=0.5)
    y.sum().backward()
    for h in hs:
        h.remove()
    y2 = m(x, scale=0.5)
    return y, y2, x.grad, m.lin.weight.grad, log


@program
def forward_hook_always_call_runs_when_forward_raises(L):
    """A forward hook registered with always_call=True still runs when forward raises (a
    shape error from Linear), and one without it does not; the error reaches the caller."""
    nn = L.nn
    calls = []
    lin = nn.Linear(4, 2)
    lin.register_forward_hook(lambda m, a, o: calls.append("always"), always_call=True)
    lin.register_forward_hook(lambda m, a, o: calls.append("normal"))
    e = err(lambda: lin(L.zeros(3, 5)))
    lin(L.zeros(1, 4))
    return e, calls


@program
def load_state_dict_strict_errors_listing_keys_and_sizes(L):
    """A checkpoint with a renamed key, an extra key and a wrong-sized weight: strict loading
    raises torch's RuntimeError naming them; strict=False returns the missing and unexpected
    keys (the size mismatch still raises); assign=True keeps the loaded tensors."""
    nn = L.nn
    L.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    sd = net.state_dict()
    bad = collections.OrderedDict(sd)
    bad["0.bias_old"] = bad.pop("0.bias")
    bad["extra.weight"] = L.zeros(1)
    e1 = err(lambda: net.load_state_dict(bad))
    res = net.load_state_dict(bad, strict=False)
    wrong = collections.OrderedDict(sd)
    wrong["1.weight"] = L.zeros(2, 5)
    e2 = err(lambda: net.load_state_dict(wrong))
    fresh = {k: v.clone() + 1 for k, v in sd.items()}
    net.load_state_dict(fresh, assign=True)
    return e1, sorted(res.missing_keys), sorted(res.unexpected_keys), e2, \
        net[0].bias is fresh["0.bias"], type(net[0].bias).__name__, net[0].bias.requires_grad


@program
def torch_save_mixed_objects_shared_views_and_weights_only(L):
    """torch.save of a dict with a model's state, an optimizer's state, ints, floats, tuples,
    an OrderedDict and two views sharing storage into BytesIO; loaded back (weights_only)
    the views still share storage and the values match."""
    nn = L.nn
    L.manual_seed(0)
    m = nn.Linear(3, 2)
    opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(L.ones(1, 3)).sum().backward()
    opt.step()
    base = L.arange(12.0).reshape(3, 4)
    blob = {"model": m.state_dict(), "opt": opt.state_dict(), "epoch": 3, "best": 0.25,
            "shape": (3, 4), "names": ["a", "b"], "od": collections.OrderedDict(z=1, a=2),
            "row": base[1], "col": base[:, 2], "flag": True, "none": None}
    buf = io.BytesIO()
    L.save(blob, buf)
    buf.seek(0)
    back = L.load(buf, weights_only=True)
    back["row"][0] = -100.0
    return back["model"], back["opt"]["state"][0]["momentum_buffer"], back["epoch"], \
        back["best"], back["shape"], back["names"], list(back["od"].items()), back["col"], \
        back["flag"], back["none"], type(back["od"]).__name__


@program
def clip_grad_norm_inf_norm_foreach_and_error_if_nonfinite(L):
    """clip_grad_norm_ with norm_type=inf and 1, clip_grad_value_, get_total_norm and
    clip_grads_with_norm_ on two models' gradients; a NaN gradient with error_if_nonfinite."""
    nn, U = L.nn, L.nn.utils
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    x = L.tensor(normal64(6, 3, seed=35))

    def fill():
        m.zero_grad()
        (m(x) ** 2).sum().backward()

    fill()
    n_inf = U.clip_grad_norm_(m.parameters(), 0.5, norm_type=float("inf"))
    g_inf = m[0].weight.grad.clone()
    fill()
    n_1 = U.clip_grad_norm_(m.parameters(), 2.0, norm_type=1, foreach=True)
    g_1 = m[2].weight.grad.clone()
    fill()
    U.clip_grad_value_(m.parameters(), 0.3)
    g_v = m[0].bias.grad.clone()
    fill()
    grads = [p.grad for p in m.parameters()]
    total = U.get_total_norm(grads, norm_type=2.0)
    U.clip_grads_with_norm_(m.parameters(), 1.0, total)
    m[0].bias.grad[0] = float("nan")
    e = err(lambda: U.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True))
    return n_inf, g_inf, n_1, g_1, g_v, total, m[2].bias.grad, e


@program
def weight_norm_parametrization_training_and_removal(L):
    """parametrizations.weight_norm on a Conv1d over dim 0 and on a Linear with dim=None:
    original0/original1 trained by Adam, the effective weight recomputed, then removed with
    leave_parametrized=True leaving a plain Parameter of the same value."""
    nn, P = L.nn, L.nn.utils.parametrizations
    L.manual_seed(0)
    conv = load_seeded(L, nn.Conv1d(2, 3, 3).double(), seed=36)
    lin = load_seeded(L, nn.Linear(3, 2).double(), seed=37)
    P.weight_norm(conv, dim=0)
    P.weight_norm(lin, dim=None)
    opt = L.optim.Adam(list(conv.parameters()) + list(lin.parameters()), lr=0.05)
    x = L.tensor(normal64(2, 2, 7, seed=38))
    for _ in range(2):
        opt.zero_grad()
        loss = lin(conv(x).mean(-1)).pow(2).sum()
        loss.backward()
        opt.step()
    g = conv.parametrizations.weight.original0
    w_before = conv.weight.detach().clone()
    L.nn.utils.parametrize.remove_parametrizations(conv, "weight", leave_parametrized=True)
    return loss.detach(), g.shape, g, lin.parametrizations.weight.original0.shape, \
        lin.weight, conv.weight, w_before, type(conv.weight).__name__, \
        sorted(n for n, _ in conv.named_parameters())


@program
def spectral_norm_power_iteration_in_train_and_eval(L):
    """parametrizations.spectral_norm on a Linear with the u/v vectors set from numpy, two
    forward passes in train (power iterations update u, v) and one in eval (they do not);
    the normalised weight's largest singular value approaches one."""
    nn, P = L.nn, L.nn.utils.parametrizations
    L.manual_seed(0)
    lin = load_seeded(L, nn.Linear(4, 3).double(), seed=39)
    P.spectral_norm(lin, n_power_iterations=2)
    sn = lin.parametrizations.weight[0]
    with L.no_grad():
        u = L.tensor(normal64(3, seed=40))
        v = L.tensor(normal64(4, seed=41))
        sn._u.copy_(u / u.norm())
        sn._v.copy_(v / v.norm())
    x = L.tensor(normal64(2, 4, seed=42))
    y1 = lin(x)
    y2 = lin(x)
    u_train = sn._u.clone()
    lin.eval()
    y3 = lin(x)
    sv = L.linalg.matrix_norm(lin.weight.detach(), ord=2)
    return y1, y2, y3, u_train, sn._u, sn._v, sv


@program
def l1_unstructured_and_ln_structured_pruning_then_training(L):
    """prune.l1_unstructured on a Linear by amount=0.4 and ln_structured over conv output
    channels (n=2), the masks as buffers, a masked SGD step keeping pruned weights at zero,
    then prune.remove making them plain."""
    nn, prune = L.nn, importlib.import_module(L.__name__ + ".nn.utils.prune")
    L.manual_seed(0)
    lin = load_seeded(L, nn.Linear(5, 4).double(), seed=43)
    conv = load_seeded(L, nn.Conv2d(2, 4, 3).double(), seed=44)
    prune.l1_unstructured(lin, "weight", amount=0.4)
    prune.ln_structured(conv, "weight", amount=2, n=2, dim=0)
    opt = L.optim.SGD(list(lin.parameters()) + list(conv.parameters()), lr=0.1)
    x = L.tensor(normal64(2, 2, 5, 5, seed=45))
    loss = lin(conv(x).mean((2, 3)).repeat(1, 2)[:, :5]).sum()
    loss.backward()
    opt.step()
    masks = (lin.weight_mask.clone(), conv.weight_mask.sum((1, 2, 3)))
    w = lin.weight.clone()
    prune.remove(lin, "weight")
    return masks, w, lin.weight, sorted(n for n, _ in lin.named_buffers()), \
        sorted(n for n, _ in conv.named_parameters()), lin.weight_orig if hasattr(
            lin, "weight_orig") else "gone"


# ----------------------------------------------------------------------------------------------
# einsum, embedding bags and graphs
# ----------------------------------------------------------------------------------------------
@program
def einsum_contractions_of_everyday_models(L):
    """Einsum strings of attention (bhqd,bhkd->bhqk), a bilinear form, batched traces and
    diagonals (bii->bi, ii), an outer product, ellipses on both sides, a three-operand chain
    and a sublist-format call, all with gradients of the operands."""
    a = L.tensor(normal64(2, 2, 3, 4, seed=46), requires_grad=True)
    b = L.tensor(normal64(2, 2, 5, 4, seed=47), requires_grad=True)
    W = L.tensor(normal64(4, 6, 4, seed=48), requires_grad=True)
    S = L.tensor(normal64(3, 4, 4, seed=49), requires_grad=True)
    x = L.tensor(normal64(3, 4, seed=50), requires_grad=True)
    att = L.einsum("bhqd,bhkd->bhqk", a, b)
    bil = L.einsum("ni,ioj,nj->no", x, W, x)
    diag = L.einsum("bii->bi", S)
    tr = L.einsum("bii", S)
    outer = L.einsum("i,j->ij", x[0], x[1])
    ell = L.einsum("...ij,...jk->...ik", S, S)
    chain = L.einsum("ij,jk,kl->il", x, S[0], S[1].t())
    sub = L.einsum(x, [0, 1], S[0], [1, 2], [0, 2])
    total = att.sum() + bil.pow(2).sum() + diag.sum() * tr.sum() + outer.sum() + \
        ell.mean() + chain.sum() + sub.sum()
    total.backward()
    return att, bil, diag, tr, outer, ell, chain, sub, a.grad, W.grad, S.grad, x.grad


@program
def embedding_bag_modes_offsets_weights_and_padding(L):
    """EmbeddingBag in sum mode with per_sample_weights and include_last_offset, mean mode
    with a padding_idx and an empty bag, max mode over 2-d input; gradients of the table and
    of the per-sample weights; from_pretrained frozen."""
    nn, F = L.nn, L.nn.functional
    table = normal64(10, 3, seed=51)
    bag_sum = nn.EmbeddingBag.from_pretrained(L.tensor(table), mode="sum", freeze=False,
                                              include_last_offset=True)
    idx = L.tensor([1, 2, 4, 5, 4, 3, 2, 9])
    offs = L.tensor([0, 3, 3, 8])
    psw = L.tensor(normal64(8, seed=52), requires_grad=True)
    s = bag_sum(idx, offs, per_sample_weights=psw)
    bag_mean = nn.EmbeddingBag(10, 3, mode="mean", padding_idx=0).double()
    with L.no_grad():
        bag_mean.weight.copy_(L.tensor(table))
    m = bag_mean(L.tensor([0, 2, 0, 3, 0]), L.tensor([0, 1, 3, 3]))
    bag_max = nn.EmbeddingBag.from_pretrained(L.tensor(table), mode="max")
    mx = bag_max(L.tensor([[1, 7, 3], [2, 2, 8]]))
    (s.sum() + m.pow(2).sum()).backward()
    fm = F.embedding_bag(L.tensor([3, 3, 1]), L.tensor(table), L.tensor([0, 1]), mode="sum")
    return s, m, mx, bag_sum.weight.grad, psw.grad, bag_mean.weight.grad, fm, \
        bag_max.weight.requires_grad


@program
def graph_attention_by_scatter_reduce_segment_softmax(L):
    """A GAT layer over an edge list: scores by a leaky ReLU of projected endpoints, a
    per-destination softmax by scatter_reduce('amax', include_self=False) and index_add_,
    messages summed with index_add; node degrees by bincount; gradients of the weights."""
    F = L.nn.functional
    src = L.tensor([0, 1, 2, 3, 0, 2, 4, 1])
    dst = L.tensor([1, 0, 1, 2, 2, 4, 3, 3])
    n = 5
    h = L.tensor(normal64(n, 4, seed=53))
    W = L.tensor(normal64(4, 3, seed=54) * 0.5, requires_grad=True)
    a = L.tensor(normal64(6, seed=55), requires_grad=True)
    z = h @ W
    e = F.leaky_relu(L.cat([z[src], z[dst]], 1) @ a, 0.2)
    emax = L.full((n,), -float("inf"), dtype=e.dtype).scatter_reduce(
        0, dst, e, reduce="amax", include_self=False)
    ex = (e - emax[dst]).exp()
    denom = L.zeros(n, dtype=e.dtype).index_add(0, dst, ex)
    alpha = ex / denom[dst]
    out = L.zeros(n, 3, dtype=z.dtype).index_add(0, dst, alpha[:, None] * z[src])
    mean_in = L.zeros(n, 3, dtype=z.dtype).scatter_reduce(
        0, dst[:, None].expand(-1, 3), z[src], reduce="mean", include_self=False)
    out.pow(2).sum().backward()
    return emax, alpha, out, mean_in, L.bincount(dst, minlength=n), W.grad, a.grad


# ----------------------------------------------------------------------------------------------
# distributions
# ----------------------------------------------------------------------------------------------
@program
def vae_with_independent_normal_posterior_and_analytic_kl(L):
    """A VAE step with the posterior as Independent(Normal, 1), reparameterised by numpy
    noise, the decoder's Bernoulli(logits) log-likelihood summed by Independent, the KL to
    the standard normal by kl_divergence and the gradient of the ELBO."""
    nn, D = L.nn, L.distributions
    L.manual_seed(0)
    enc, dec = nn.Linear(6, 4).double(), nn.Linear(2, 6).double()
    load_seeded(L, enc, seed=56)
    load_seeded(L, dec, seed=57)
    x = L.tensor((np.random.RandomState(58).rand(3, 6) > 0.5).astype(np.float64))
    eps = L.tensor(normal64(3, 2, seed=59))
    mu, log_sd = enc(x).chunk(2, dim=-1)
    q = D.Independent(D.Normal(mu, log_sd.exp()), 1)
    z = mu + log_sd.exp() * eps
    prior = D.Independent(D.Normal(L.zeros(2, dtype=L.float64), L.ones(2, dtype=L.float64)), 1)
    px = D.Independent(D.Bernoulli(logits=dec(z)), 1)
    kl = D.kl_divergence(q, prior)
    elbo = px.log_prob(x) - kl
    (-elbo.mean()).backward()
    return q.batch_shape, q.event_shape, kl, elbo, q.log_prob(z), q.entropy(), \
        enc.weight.grad, dec.bias.grad


@program
def squashed_gaussian_policy_by_transformed_distribution(L):
    """A continuous-control policy: Normal through TanhTransform then an AffineTransform to
    the action bounds as a TransformedDistribution; log_prob of given actions, the log-det
    correction against the closed form, and the policy gradient of an advantage-weighted
    log-likelihood."""
    D, T = L.distributions, L.distributions.transforms
    mu = L.tensor(normal64(4, 2, seed=60) * 0.3, requires_grad=True)
    log_std = L.tensor(np.full((4, 2), -0.5), requires_grad=True)
    base = D.Normal(mu, log_std.exp())
    pi = D.TransformedDistribution(base, [T.TanhTransform(cache_size=1),
                                          T.AffineTransform(loc=1.0, scale=2.0)])
    u = L.tensor(normal64(4, 2, seed=61) * 0.5)
    a = 1.0 + 2.0 * L.tanh(u)
    lp = pi.log_prob(a).sum(-1)
    manual = (base.log_prob(u) - L.log(2.0 * (1 - L.tanh(u) ** 2))).sum(-1)
    adv = L.tensor([1.0, -0.5, 2.0, 0.3], dtype=L.float64)
    (-(lp * adv).mean()).backward()
    return lp, manual, mu.grad, log_std.grad, pi.event_shape, pi.batch_shape


@program
def mixture_same_family_and_low_rank_normal_log_likelihoods(L):
    """A mixture density network's loss by MixtureSameFamily(Categorical, Independent
    Normal), and a factor-analysis model's LowRankMultivariateNormal log_prob, entropy and
    covariance; gradients of the mixture logits and of the low-rank factor."""
    D = L.distributions
    logits = L.tensor(normal64(5, 3, seed=62), requires_grad=True)
    means = L.tensor(normal64(5, 3, 2, seed=63), requires_grad=True)
    scales = L.tensor(np.exp(normal64(5, 3, 2, seed=64) * 0.3))
    mix = D.MixtureSameFamily(D.Categorical(logits=logits),
                              D.Independent(D.Normal(means, scales), 1))
    y = L.tensor(normal64(5, 2, seed=65))
    nll = -mix.log_prob(y).mean()
    W = L.tensor(normal64(4, 2, seed=66), requires_grad=True)
    lr = D.LowRankMultivariateNormal(L.zeros(4, dtype=L.float64), W,
                                     L.tensor([0.5, 1.0, 1.5, 2.0], dtype=L.float64))
    obs = L.tensor(normal64(6, 4, seed=67))
    ll = lr.log_prob(obs).sum()
    (nll - ll * 0.1).backward()
    full = D.MultivariateNormal(L.zeros(4, dtype=L.float64),
                                covariance_matrix=lr.covariance_matrix.detach())
    return nll, mix.mean, mix.variance, ll, lr.entropy(), lr.covariance_matrix, \
        full.log_prob(obs), logits.grad, means.grad, W.grad


@program
def discrete_distributions_of_count_and_choice_models(L):
    """Poisson, Binomial, NegativeBinomial and Geometric log-likelihoods of count data with
    gradients of their rates, a OneHotCategorical's entropy and enumerate_support, a
    Categorical's expanded batch, and RelaxedOneHotCategorical's log_prob at a given point."""
    D = L.distributions
    k = L.tensor([0.0, 1.0, 3.0, 7.0], dtype=L.float64)
    rate = L.tensor([0.5, 1.0, 2.5, 6.0], dtype=L.float64, requires_grad=True)
    p = L.tensor([0.1, 0.4, 0.6, 0.9], dtype=L.float64, requires_grad=True)
    lls = [D.Poisson(rate).log_prob(k), D.Binomial(7, probs=p).log_prob(k),
           D.NegativeBinomial(L.tensor(3.0, dtype=L.float64), probs=p).log_prob(k),
           D.Geometric(probs=p).log_prob(k)]
    sum(x.sum() for x in lls).backward()
    oh = D.OneHotCategorical(logits=L.tensor(normal64(2, 3, seed=68)))
    cat = D.Categorical(probs=L.tensor([0.2, 0.3, 0.5], dtype=L.float64)).expand((2, 4))
    relaxed = D.RelaxedOneHotCategorical(L.tensor(0.7, dtype=L.float64),
                                         logits=L.tensor(normal64(3, seed=69)))
    pt = L.tensor([0.2, 0.5, 0.3], dtype=L.float64)
    return lls, rate.grad, p.grad, oh.entropy(), oh.enumerate_support(), \
        cat.batch_shape, cat.log_prob(L.tensor([[0, 1, 2, 2], [1, 1, 0, 2]])), \
        relaxed.log_prob(pt), D.Binomial(7, probs=p).mean, D.Poisson(rate).variance


@program
def continuous_distribution_cdfs_icdfs_and_kl_pairs(L):
    """cdf and icdf of Normal, Laplace, Cauchy, Exponential and Uniform; log_prob and
    entropy of Gamma, Beta, StudentT, Dirichlet and LogNormal; KL between pairs of the same
    family, with gradients of the parameters."""
    D = L.distributions
    x = L.tensor([0.1, 0.5, 1.5], dtype=L.float64)
    q = L.tensor([0.1, 0.5, 0.9], dtype=L.float64)
    loc = L.tensor(0.3, dtype=L.float64, requires_grad=True)
    conc = L.tensor([2.0, 0.7, 3.0], dtype=L.float64, requires_grad=True)
    fams = [D.Normal(loc, 1.2), D.Laplace(loc, 0.8), D.Cauchy(loc, 0.5)]
    cdfs = [f.cdf(x) for f in fams] + [D.Exponential(1.5).cdf(x), D.Uniform(0.0, 2.0).cdf(x)]
    icdfs = [f.icdf(q) for f in fams] + [D.Exponential(1.5).icdf(q)]
    g = D.Gamma(conc, 2.0)
    b = D.Beta(conc, conc.flip(0))
    st = D.StudentT(conc, loc, 1.0)
    dr = D.Dirichlet(conc)
    ln = D.LogNormal(loc, 0.5)
    lps = [g.log_prob(x), b.log_prob(x / 2), st.log_prob(x), dr.log_prob(x / x.sum()),
           ln.log_prob(x)]
    ents = [g.entropy(), b.entropy(), st.entropy(), dr.entropy(), ln.entropy()]
    kls = [D.kl_divergence(D.Gamma(conc, 1.0), D.Gamma(conc.flip(0), 2.0)),
           D.kl_divergence(D.Beta(conc, 1.0), D.Beta(1.0, conc)),
           D.kl_divergence(D.Dirichlet(conc), D.Dirichlet(conc.flip(0))),
           D.kl_divergence(D.Laplace(loc, 1.0), D.Laplace(0.0, 2.0))]
    total = sum(t.sum() for t in cdfs + icdfs + lps + ents + kls)
    total.backward()
    return cdfs, icdfs, lps, ents, kls, loc.grad, conc.grad


# ----------------------------------------------------------------------------------------------
# attention and sequences
# ----------------------------------------------------------------------------------------------
@program
def multihead_attention_with_kdim_vdim_bias_kv_and_per_head_weights(L):
    """nn.MultiheadAttention with kdim/vdim different from embed_dim, add_bias_kv and
    add_zero_attn, a key_padding_mask of bools together with a float attn_mask, and
    need_weights with average_attn_weights=False; gradients of the query."""
    nn = L.nn
    L.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, kdim=5, vdim=3, add_bias_kv=True, add_zero_attn=True,
                                batch_first=True).double()
    load_seeded(L, mha, seed=70)
    q = L.tensor(normal64(2, 3, 8, seed=71), requires_grad=True)
    k = L.tensor(normal64(2, 4, 5, seed=72))
    v = L.tensor(normal64(2, 4, 3, seed=73))
    kpm = L.tensor([[False, False, True, True], [False, False, False, False]])
    am = L.tensor(normal64(3, 4, seed=74) * 0.1)
    out, w = mha(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=True,
                 average_attn_weights=False)
    out.pow(2).sum().backward()
    return out, w.shape, w, q.grad, mha.bias_k.grad, mha.k_proj_weight.grad.shape


@program
def transformer_decoder_with_memory_masks_and_causal_flag(L):
    """An nn.TransformerDecoder (two post-norm layers, relu) over a memory with a memory
    key padding mask, a causal tgt mask from generate_square_subsequent_mask passed with
    tgt_is_causal=True, and a tgt key padding mask; the loss gradient of the memory."""
    nn = L.nn
    L.manual_seed(0)
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    dec = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(8)).double()
    load_seeded(L, dec, seed=75, scale=0.2)
    tgt = L.tensor(normal64(2, 4, 8, seed=76))
    mem = L.tensor(normal64(2, 5, 8, seed=77), requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=L.float64)
    mkpm = L.tensor([[False] * 5, [False, False, False, True, True]])
    tkpm = L.tensor([[False, False, False, True], [False] * 4])
    y = dec(tgt, mem, tgt_mask=mask, tgt_is_causal=True, memory_key_padding_mask=mkpm,
            tgt_key_padding_mask=tkpm)
    y[:, :3].sum().backward()
    return mask, y, mem.grad


@program
def packed_sequence_of_unsorted_batch_through_bidirectional_gru(L):
    """pack_sequence(enforce_sorted=False) of three sequences through a two-layer
    bidirectional GRU, the packed output unpacked with batch_first and total_length, the
    last hidden states in the original order, and gradients of the inputs."""
    nn, R = L.nn, L.nn.utils.rnn
    L.manual_seed(0)
    gru = load_seeded(L, nn.GRU(3, 4, num_layers=2, bidirectional=True).double(), seed=78)
    seqs = [L.tensor(normal64(n, 3, seed=79 + n), requires_grad=True) for n in (2, 5, 3)]
    packed = R.pack_sequence(seqs, enforce_sorted=False)
    out, h = gru(packed)
    padded, lens = R.pad_packed_sequence(out, batch_first=True, total_length=6)
    (padded.pow(2).sum() + h[-1].sum()).backward()
    return packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices, padded, lens, \
        h, [s.grad for s in seqs], R.unpack_sequence(out)[0]


@program
def lstm_with_projection_and_initial_states_over_packed_input(L):
    """An LSTM with proj_size and given (h0, c0) over pack_padded_sequence of a padded,
    unsorted batch (enforce_sorted=False); outputs, final states and weight gradients."""
    nn, R = L.nn, L.nn.utils.rnn
    L.manual_seed(0)
    lstm = load_seeded(L, nn.LSTM(3, 5, proj_size=2, batch_first=True).double(), seed=82)
    x = L.tensor(normal64(3, 4, 3, seed=83))
    lengths = L.tensor([2, 4, 1])
    h0 = L.tensor(normal64(1, 3, 2, seed=84))
    c0 = L.tensor(normal64(1, 3, 5, seed=85))
    packed = R.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h, c) = lstm(packed, (h0, c0))
    y, _ = R.pad_packed_sequence(out, batch_first=True)
    (y.sum() + c.pow(2).sum()).backward()
    return y, h, c, lstm.weight_hr_l0.grad, lstm.weight_ih_l0.grad


# ----------------------------------------------------------------------------------------------
# convolutions, fold, resampling
# ----------------------------------------------------------------------------------------------
@program
def video_net_conv3d_transposed_upsampling_with_output_size(L):
    """A 3-d encoder-decoder: Conv3d with stride and groups, ConvTranspose3d with
    output_padding, and ConvTranspose2d/1d called with an explicit output_size; shapes,
    values and gradients."""
    nn = L.nn
    L.manual_seed(0)
    down = nn.Conv3d(2, 4, 3, stride=2, padding=1, groups=2).double()
    up = nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1, output_padding=1).double()
    up2 = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    up1 = nn.ConvTranspose1d(2, 2, 4, stride=3, dilation=2).double()
    for i, m in enumerate((down, up, up2, up1)):
        load_seeded(L, m, seed=86 + i)
    x = L.tensor(normal64(1, 2, 4, 6, 6, seed=90), requires_grad=True)
    y = up(down(x))
    z = up2(L.tensor(normal64(1, 3, 4, 4, seed=91)), output_size=[8, 8])
    w = up1(L.tensor(normal64(2, 2, 5, seed=92)), output_size=(20,))
    (y.sum() + z.pow(2).sum() + w.sum()).backward()
    return y.shape, y, z.shape, z, w.shape, x.grad, up2.weight.grad, up1.bias.grad, \
        err(lambda: up2(L.zeros(1, 3, 4, 4, dtype=L.float64), output_size=[12, 12]))


@program
def unfold_fold_overlap_average_and_conv_by_matmul(L):
    """A convolution as unfold + matmul + fold against conv2d; folding overlapping patches
    divided by fold(unfold(ones)) recovers the image (patch averaging as in inpainting);
    strides, dilation and padding; gradients through both."""
    F = L.nn.functional
    x = L.tensor(normal64(2, 3, 6, 7, seed=93), requires_grad=True)
    w = L.tensor(normal64(4, 3, 3, 3, seed=94))
    cols = F.unfold(x, 3, dilation=1, padding=1, stride=2)
    out = (w.view(4, -1) @ cols).view(2, 4, 3, 4)
    ref = F.conv2d(x, w, padding=1, stride=2)
    patches = F.unfold(x, (3, 2), dilation=(1, 2), padding=(1, 0), stride=1)
    ones = F.unfold(L.ones_like(x), (3, 2), dilation=(1, 2), padding=(1, 0))
    back = F.fold(patches, (6, 7), (3, 2), dilation=(1, 2), padding=(1, 0)) / \
        F.fold(ones, (6, 7), (3, 2), dilation=(1, 2), padding=(1, 0))
    (out.pow(2).sum() + back.sum()).backward()
    uf = L.nn.Unfold(2, stride=2)(x.detach())
    return cols.shape, out, ref, back, x.grad, uf.shape, \
        err(lambda: F.fold(patches, (5, 7), (3, 2), dilation=(1, 2), padding=(1, 0)))


@program
def interpolate_modes_and_align_corners_with_gradients(L):
    """F.interpolate with bilinear/bicubic (align_corners both ways), antialiased bilinear
    downsampling, nearest, nearest-exact and area by scale_factor, trilinear over a volume,
    linear over a sequence with recompute_scale_factor; gradients of the input."""
    F = L.nn.functional
    x = L.tensor(normal64(1, 2, 5, 6, seed=95), requires_grad=True)
    v = L.tensor(normal64(1, 1, 3, 4, 4, seed=96), requires_grad=True)
    s = L.tensor(normal64(2, 3, 7, seed=97), requires_grad=True)
    outs = [F.interpolate(x, size=(8, 9), mode="bilinear", align_corners=True),
            F.interpolate(x, size=(8, 9), mode="bilinear", align_corners=False),
            F.interpolate(x, scale_factor=1.7, mode="bicubic", align_corners=False),
            F.interpolate(x, size=(7, 4), mode="bicubic", align_corners=True),
            F.interpolate(x, size=(3, 2), mode="bilinear", antialias=True),
            F.interpolate(x, scale_factor=(1.5, 0.5), mode="nearest"),
            F.interpolate(x, scale_factor=(1.5, 0.5), mode="nearest-exact"),
            F.interpolate(x, size=(2, 4), mode="area"),
            F.interpolate(v, scale_factor=1.5, mode="trilinear", align_corners=False),
            F.interpolate(s, scale_factor=1.3, mode="linear", recompute_scale_factor=True)]
    sum((o * (i + 1)).sum() for i, o in enumerate(outs)).backward()
    return [o.shape for o in outs], outs, x.grad, v.grad, s.grad


@program
def grid_sample_modes_paddings_and_affine_grid_gradients(L):
    """A spatial transformer: affine_grid of a learned theta, grid_sample in bilinear,
    nearest and bicubic modes with zeros, border and reflection padding, both align_corners
    settings, and a 3-d volume sample; gradients of theta and the image."""
    F = L.nn.functional
    img = L.tensor(normal64(2, 2, 5, 6, seed=98), requires_grad=True)
    theta = L.tensor(np.array([[[0.9, 0.2, 0.1], [-0.1, 1.1, 0.05]],
                               [[1.2, 0.0, -0.3], [0.3, 0.8, 0.2]]]), requires_grad=True)
    outs = []
    for ac in (False, True):
        grid = F.affine_grid(theta, (2, 2, 4, 5), align_corners=ac)
        for mode in ("bilinear", "nearest", "bicubic"):
            for pad in ("zeros", "border", "reflection"):
                outs.append(F.grid_sample(img, grid, mode=mode, padding_mode=pad,
                                          align_corners=ac))
    vol = L.tensor(normal64(1, 1, 3, 4, 5, seed=99), requires_grad=True)
    th3 = L.tensor(np.array([[[1.0, 0.1, 0.0, 0.1], [0.0, 0.9, 0.2, 0.0],
                              [0.1, 0.0, 1.1, -0.1]]]), requires_grad=True)
    g3 = F.affine_grid(th3, (1, 1, 2, 3, 3), align_corners=False)
    o3 = F.grid_sample(vol, g3, padding_mode="border", align_corners=False)
    (sum(o.pow(2).sum() for o in outs) + o3.sum()).backward()
    return outs, o3, img.grad, theta.grad, vol.grad, th3.grad


# ----------------------------------------------------------------------------------------------
# more optimisation
# ----------------------------------------------------------------------------------------------
@program
def lbfgs_strong_wolfe_fit_keeps_its_step_as_a_tensor_in_the_state(L):
    """A small regression net fitted by L-BFGS with the strong-Wolfe line search for four
    closures-driven steps: the losses, the weights, and the optimizer's state dict, whose
    step length 't' becomes a 0-d tensor once the line search interpolated it."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    opt = L.optim.LBFGS(m.parameters(), lr=1, history_size=3, max_iter=5,
                        line_search_fn="strong_wolfe")
    x, y = L.tensor(normal64(10, 3, seed=100)), L.tensor(normal64(10, 1, seed=101))

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        return loss

    losses, kinds = [], []
    for _ in range(4):
        losses.append(opt.step(closure))
        kinds.append(type(opt.state_dict()["state"][0]["t"]).__name__)
    st = opt.state_dict()["state"][0]
    return losses, list(m.parameters()), kinds, st["t"], st["n_iter"], st["func_evals"], \
        st["H_diag"], len(st["old_dirs"])


@program
def optimizer_options_rarely_changed_from_their_defaults(L):
    """Three steps each of Adagrad with lr_decay and an initial accumulator, Adam with
    amsgrad and maximize, RMSprop centred with momentum, NAdam and RAdam with decoupled
    weight decay, SGD with dampening, and Rprop with custom etas and step sizes, each on its
    own copy of a net; final losses and a weight of each."""
    nn, F = L.nn, L.nn.functional
    x, y = L.tensor(normal64(10, 3, seed=102)), L.tensor(normal64(10, 1, seed=103))
    makers = [
        lambda p: L.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                  initial_accumulator_value=0.1),
        lambda p: L.optim.Adam(p, lr=0.1, amsgrad=True, maximize=True, weight_decay=0.1),
        lambda p: L.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5, alpha=0.9),
        lambda p: L.optim.NAdam(p, lr=0.01, decoupled_weight_decay=True, weight_decay=0.1,
                                momentum_decay=0.003),
        lambda p: L.optim.RAdam(p, lr=0.01, decoupled_weight_decay=True, weight_decay=0.1),
        lambda p: L.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5),
        lambda p: L.optim.Rprop(p, lr=0.1, etas=(0.4, 1.3), step_sizes=(1e-3, 1.0))]
    results = []
    for make in makers:
        L.manual_seed(0)
        m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
        opt = make(m.parameters())
        for _ in range(3):
            opt.zero_grad()
            loss = F.mse_loss(m(x), y)
            loss.backward()
            opt.step()
        results.append((loss.detach(), m[2].weight.detach().clone()))
    return results


@program
def polynomial_cosine_and_step_schedules_past_their_horizon(L):
    """PolynomialLR (power 2) and CosineAnnealingLR (eta_min) stepped beyond total_iters and
    T_max, StepLR, and the refusal of a scheduler built with last_epoch on an optimizer whose
    groups have no initial_lr."""
    p = L.nn.Parameter(L.zeros(2))
    lrs = []
    opt = L.optim.SGD([p], lr=1.0)
    poly = L.optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)
    for _ in range(6):
        opt.step()
        poly.step()
        lrs.append(poly.get_last_lr()[0])
    opt = L.optim.SGD([p], lr=1.0)
    cos = L.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3, eta_min=0.1)
    for _ in range(8):
        opt.step()
        cos.step()
        lrs.append(cos.get_last_lr()[0])
    opt = L.optim.SGD([p], lr=1.0)
    step = L.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
    for _ in range(5):
        opt.step()
        step.step()
        lrs.append(opt.param_groups[0]["lr"])
    fresh = L.optim.SGD([p], lr=1.0)
    return lrs, poly.state_dict(), cos.state_dict(), \
        err(lambda: L.optim.lr_scheduler.StepLR(fresh, 2, last_epoch=3))


# ----------------------------------------------------------------------------------------------
# layers used a little off the beaten path
# ----------------------------------------------------------------------------------------------
@program
def embedding_max_norm_renorms_rows_in_place_and_sparse_gradients(L):
    """nn.Embedding with max_norm renormalises the looked-up rows of its weight in place
    during forward; scale_grad_by_freq with a padding_idx divides gradients by the counts;
    sparse=True gives a sparse COO gradient."""
    nn = L.nn
    L.manual_seed(0)
    idx = L.tensor([[0, 2, 2], [4, 1, 0]])
    e = load_seeded(L, nn.Embedding(5, 3, max_norm=1.0).double(), seed=104, scale=1.0)
    y = e(idx)
    y.sum().backward()
    e2 = load_seeded(L, nn.Embedding(5, 3, scale_grad_by_freq=True, padding_idx=1).double(),
                     seed=105)
    e2(idx).pow(2).sum().backward()
    e3 = nn.Embedding(5, 3, sparse=True).double()
    e3(idx).sum().backward()
    g3 = e3.weight.grad
    return y, e.weight, e.weight.norm(dim=1), e.weight.grad, e2.weight.grad, g3.is_sparse, \
        g3.to_dense(), str(g3.layout)


@program
def regression_and_metric_learning_losses_with_their_options(L):
    """Poisson NLL (log input with Stirling term; rates with eps), Gaussian NLL with a
    broadcast variance, multilabel soft margin with class weights, multi margin with p=2,
    triplet loss with a cosine distance and swap, cosine embedding, hinge embedding, KL with
    log targets, NLL with weights and ignore_index (and all targets ignored), Huber and
    smooth L1 with beta=0; the input and variance gradients."""
    F = L.nn.functional
    x = L.tensor(normal64(4, 3, seed=106), requires_grad=True)
    t = L.tensor(np.abs(normal64(4, 3, seed=107)))
    v = L.tensor(np.abs(normal64(4, 1, seed=108)), requires_grad=True)
    w3 = L.tensor([1.0, 2.0, 3.0], dtype=L.float64)
    y = L.tensor([0, 2, 1, 1])
    pm = L.tensor([[1, -1, 1]] * 4)
    losses = [
        F.poisson_nll_loss(x, t, log_input=True, full=True),
        F.poisson_nll_loss(x.exp(), t, log_input=False, eps=1e-6, reduction="sum"),
        F.gaussian_nll_loss(x, t, v, full=True, eps=1e-3),
        F.multilabel_soft_margin_loss(x, (t > 0.5).double(), weight=w3),
        F.multi_margin_loss(x, y, p=2, margin=0.5, weight=w3 / 2),
        F.triplet_margin_with_distance_loss(
            x, t, x.flip(0), distance_function=lambda a, b: 1 - F.cosine_similarity(a, b),
            margin=0.3, swap=True),
        F.cosine_embedding_loss(x, t, L.tensor([1, -1, 1, -1]), margin=0.2),
        F.hinge_embedding_loss(x, pm, margin=0.5),
        F.kl_div(F.log_softmax(x, 1), F.log_softmax(t, 1), reduction="batchmean",
                 log_target=True),
        F.nll_loss(F.log_softmax(x, 1), y, ignore_index=1, weight=w3),
        F.huber_loss(x, t, delta=0.5), F.smooth_l1_loss(x, t, beta=0.0)]
    sum(loss for loss in losses).backward()
    return losses, x.grad, v.grad, F.nll_loss(F.log_softmax(x, 1), L.ones(4).long(),
                                              ignore_index=1)


@program
def initialisers_drawing_from_a_private_generator(L):
    """nn.init's trunc_normal_, orthogonal_, kaiming_uniform_ (fan_out, leaky_relu) and
    sparse_ drawing from one seeded torch.Generator, dirac_ with groups and eye_, and the
    gains of calculate_gain."""
    nn = L.nn
    g = L.Generator().manual_seed(3)
    w = L.empty(4, 6, dtype=L.float64)
    a = nn.init.trunc_normal_(w.clone(), mean=0.1, std=0.5, a=-0.3, b=0.6, generator=g)
    b = nn.init.orthogonal_(w.clone(), gain=2.0, generator=g)
    c = nn.init.kaiming_uniform_(L.empty(3, 2, 3, 3), a=0.1, mode="fan_out",
                                 nonlinearity="leaky_relu", generator=g)
    d = nn.init.sparse_(w.clone(), sparsity=0.5, std=0.1, generator=g)
    e = nn.init.dirac_(L.empty(4, 2, 3), groups=2)
    return a, b, b @ b.t(), c, d, (d == 0).sum(0), e, nn.init.eye_(w.clone()), \
        nn.init.calculate_gain("selu"), nn.init.calculate_gain("leaky_relu", 0.2)


@program
def cumulative_batch_norm_and_instance_norm_with_running_stats(L):
    """BatchNorm1d with momentum=None keeps a cumulative average over three batches;
    InstanceNorm1d with track_running_stats uses the batch in train and the running
    estimates in eval."""
    nn = L.nn
    L.manual_seed(0)
    bn = nn.BatchNorm1d(3, momentum=None).double()
    xs = [L.tensor(normal64(5, 3, seed=109 + i)) for i in range(3)]
    for x in xs:
        bn(x)
    inn = nn.InstanceNorm1d(3, affine=True, track_running_stats=True).double()
    y = inn(xs[0].t()[None])
    inn.eval()
    y2 = inn(xs[1].t()[None])
    return bn.running_mean, bn.running_var, bn.num_batches_tracked, y, y2, \
        inn.running_mean, inn.running_var


@program
def lazy_modules_materialised_by_a_first_batch(L):
    """LazyLinear and LazyConv2d take their input sizes from a first batch under a seed;
    afterwards they are plain Linear/Conv2d with the drawn weights."""
    nn = L.nn
    L.manual_seed(0)
    lz = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    lc = nn.LazyConv2d(3, 2)
    y = lz(L.tensor(normal32(2, 5, seed=112)))
    z = lc(L.tensor(normal32(1, 2, 4, 4, seed=113)))
    return y, z, type(lz[0]).__name__, lz[0].in_features, lc.weight.shape, str(lz), \
        lc.in_channels


@program
def grouped_query_attention_by_sdpa_with_causal_and_boolean_masks(L):
    """scaled_dot_product_attention with enable_gqa (4 query heads over 2 key heads), an
    explicit scale and is_causal for a query shorter than the keys, against the keys
    repeated by repeat_interleave with a boolean mask, and a fully masked row (NaN out);
    gradients of the queries."""
    F = L.nn.functional
    q = L.tensor(normal64(2, 4, 3, 8, seed=114), requires_grad=True)
    k = L.tensor(normal64(2, 2, 5, 8, seed=115))
    v = L.tensor(normal64(2, 2, 5, 6, seed=116))
    a = F.scaled_dot_product_attention(q, k, v, enable_gqa=True, is_causal=True, scale=0.3)
    mask = L.tensor(np.random.RandomState(117).rand(3, 5) > 0.3)
    kk, vv = k.repeat_interleave(2, 1), v.repeat_interleave(2, 1)
    b = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
    none = L.zeros(3, 5, dtype=L.bool)
    c = F.scaled_dot_product_attention(q, kk, vv, attn_mask=none)
    (a.sum() + b.pow(2).sum()).backward()
    return a, b, c.isnan().all(), q.grad


@program
def relu_rnn_stacked_bidirectional_in_eval_and_a_gru_cell_unrolled(L):
    """A two-layer bidirectional ReLU RNN with inter-layer dropout evaluated in eval mode
    (no dropout), and a GRUCell unrolled by hand over the same sequence, batched and
    unbatched."""
    nn = L.nn
    L.manual_seed(0)
    rnn = load_seeded(L, nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True,
                                dropout=0.5).double(), seed=118)
    rnn.eval()
    x = L.tensor(normal64(5, 2, 3, seed=119))
    o, h = rnn(x)
    cell = load_seeded(L, nn.GRUCell(3, 4).double(), seed=120)
    hx, outs = None, []
    for t in range(5):
        hx = cell(x[t], hx)
        outs.append(hx)
    return o, h, L.stack(outs), cell(x[0, 0]), cell(x[0, 0]).shape


@program
def sparse_adjacency_products_sums_and_softmax(L):
    """A graph's adjacency as an uncoalesced sparse COO tensor: coalesce merges duplicates,
    torch.sparse.mm with a dense feature matrix and its gradient for the values,
    torch.sparse.sum over rows, scaling, and torch.sparse.softmax over rows."""
    i = L.tensor([[0, 1, 1, 2, 1], [2, 0, 0, 1, 2]])
    v = L.tensor([3.0, 4.0, 5.0, 6.0, 1.0], dtype=L.float64, requires_grad=True)
    s = L.sparse_coo_tensor(i, v, (3, 3))
    c = s.coalesce()
    feats = L.tensor(normal64(3, 2, seed=121))
    d = L.sparse.mm(s, feats)
    d.pow(2).sum().backward()
    return c.indices(), c.values(), s.is_coalesced(), c.is_coalesced(), d, v.grad, \
        L.sparse.sum(s, dim=1).to_dense(), s.to_dense(), (s * 2).to_dense(), \
        L.sparse.softmax(c, 1).to_dense(), c._nnz()


@program
def left_padded_batches_for_decoder_only_generation(L):
    """pad_sequence with padding_side='left' (as decoder-only generation pads), the usual
    right padding with a value, unpad_sequence back to the pieces, and position ids from
    the left-padded attention mask by cumsum."""
    R = L.nn.utils.rnn
    seqs = [L.arange(n) + 1 for n in (2, 4, 1)]
    left = R.pad_sequence(seqs, batch_first=True, padding_side="left")
    mask = (left != 0).long()
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    right = R.pad_sequence(seqs, padding_value=-1)
    back = R.unpad_sequence(R.pad_sequence(seqs, batch_first=True), L.tensor([2, 4, 1]),
                            batch_first=True)
    return left, mask, pos, right, back


# ----------------------------------------------------------------------------------------------
# torch.func in training code
# ----------------------------------------------------------------------------------------------
@program
def per_sample_gradients_of_a_net_with_eval_batch_norm_buffers(L):
    """Per-sample gradients by vmap(grad(has_aux)) of functional_call over (params, buffers)
    of a net with an eval-mode BatchNorm, and the Jacobian of the batch output in every
    parameter by jacrev over the parameter dict."""
    nn = L.nn
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    m = load_seeded(L, m.double(), seed=122).eval()
    with L.no_grad():
        m[1].running_var.abs_()
    params = {k: v.detach() for k, v in m.named_parameters()}
    bufs = dict(m.named_buffers())
    x, y = L.tensor(normal64(5, 3, seed=123)), L.tensor([0, 1, 1, 0, 1])

    def loss(p, b, xi, yi):
        out = L.func.functional_call(m, (p, b), (xi[None],))
        return nn.functional.cross_entropy(out, yi[None]), out

    g, aux = L.func.vmap(L.func.grad(loss, has_aux=True), in_dims=(None, None, 0, 0))(
        params, bufs, x, y)
    jac = L.func.jacrev(lambda p: L.func.functional_call(m, (p, bufs), (x,)))(params)
    return g, aux, {k: v.shape for k, v in jac.items()}, jac["3.weight"], jac["1.weight"]


@program
def vjp_with_aux_and_jacobians_by_autograd_functional(L):
    """torch.func.vjp with has_aux, autograd.functional.jacobian of a two-input function in
    forward mode (vectorize), vjp, jvp and vhp, and grad_and_value with argnums."""
    fn, AF = L.func, L.autograd.functional
    x = L.tensor(normal64(4, 3, seed=124))
    ones = L.ones(4, 3, dtype=L.float64)
    o, vjp_fn, aux = fn.vjp(lambda z: (z.exp(), z.sum()), x, has_aux=True)
    J = AF.jacobian(lambda a, b: (a * b).sum(0), (x, x.flip(0)), vectorize=True,
                    strategy="forward-mode")
    _, vj = AF.vjp(lambda a: a ** 2, x, ones)
    _, jv = AF.jvp(lambda a: a ** 2, x, ones)
    _, vh = AF.vhp(lambda a: (a ** 3).sum(), x, ones)
    gv = fn.grad_and_value(lambda a, b: (a * b ** 2).sum(), argnums=(0, 1))(x, x + 1)
    return o, vjp_fn(ones), aux, J, vj, jv, vh, gv


@program
def vmap_and_grad_misuse_errors(L):
    """The errors of vmap and grad misuse: random ops under randomness='error', mismatched
    batch sizes, in_dims out of range or of the wrong length, out_dims too large, a
    non-tensor output, grad of a non-scalar, argnums out of range, jacrev of a non-tensor,
    and a non-tensor input."""
    fn = L.func
    return [err(lambda: fn.vmap(lambda z: L.rand(2))(L.ones(3))),
            err(lambda: fn.vmap(lambda a, b: a + b)(L.ones(3), L.ones(4))),
            err(lambda: fn.grad(lambda z: z)(L.ones(3))),
            err(lambda: fn.vmap(lambda a: a, in_dims=1)(L.ones(3))),
            err(lambda: fn.vmap(lambda a: a, in_dims=(0, 0))(L.ones(3))),
            err(lambda: fn.vmap(lambda a: a, out_dims=2)(L.ones(3))),
            err(lambda: fn.vmap(lambda a: (a, 1))(L.ones(3))),
            err(lambda: fn.grad(lambda z: z.sum(), argnums=2)(L.ones(3))),
            err(lambda: fn.jacrev(lambda z: 3)(L.ones(3))),
            err(lambda: fn.vmap(lambda a: a)(5)),
            err(lambda: fn.vmap(lambda a: a)(L.tensor(1.0)))]


# ----------------------------------------------------------------------------------------------
# whole training recipes
# ----------------------------------------------------------------------------------------------
@program
def knowledge_distillation_with_temperature_and_a_frozen_teacher(L):
    """Hinton distillation: a teacher in eval under no_grad, a student trained by SGD on
    alpha * T^2 * KL(student/T || teacher/T) + (1 - alpha) * CE; the teacher gets no
    gradients, the student's loss and weights move."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.3),
                            nn.Linear(16, 4)).double()
    student = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 4)).double()
    load_seeded(L, teacher, seed=130)
    load_seeded(L, student, seed=131)
    teacher.eval()
    opt = L.optim.SGD(student.parameters(), lr=0.2, momentum=0.9, nesterov=True)
    x, y = L.tensor(normal64(12, 5, seed=132)), L.tensor(labels(12, 4, seed=133))
    T, alpha, losses = 3.0, 0.7, []
    for _ in range(3):
        with L.no_grad():
            soft = F.softmax(teacher(x) / T, dim=-1)
        logits = student(x)
        kd = F.kl_div(F.log_softmax(logits / T, dim=-1), soft, reduction="batchmean")
        loss = alpha * T * T * kd + (1 - alpha) * F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append((kd.detach(), loss.detach()))
    return losses, student[2].weight, teacher[0].weight.grad, teacher.training


@program
def multi_resolution_stft_loss_of_a_causal_dilated_conv_vocoder(L):
    """A WaveNet-ish stack of causal dilated Conv1d layers (left padding by F.pad, weight
    norm parametrization, gated tanh*sigmoid units, residual and skip sums) trained for two
    Adam steps against a target waveform by a multi-resolution STFT loss (spectral
    convergence plus log-magnitude L1 over three FFT sizes)."""
    nn, F = L.nn, L.nn.functional
    wn = nn.utils.parametrizations.weight_norm

    class Layer(nn.Module):
        def __init__(self, c, d):
            super().__init__()
            self.d = d
            self.conv = wn(nn.Conv1d(c, 2 * c, 2, dilation=d))
            self.res, self.skip = nn.Conv1d(c, c, 1), nn.Conv1d(c, c, 1)

        def forward(self, x):
            h = self.conv(F.pad(x, (self.d, 0)))
            a, b = h.chunk(2, dim=1)
            z = L.tanh(a) * L.sigmoid(b)
            return x + self.res(z), self.skip(z)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Conv1d(1, 4, 1)
            self.layers = nn.ModuleList(Layer(4, d) for d in (1, 2, 4))
            self.out = nn.Conv1d(4, 1, 1)

        def forward(self, x):
            h, skips = self.inp(x), 0
            for layer in self.layers:
                h, s = layer(h)
                skips = skips + s
            return self.out(F.relu(skips)).squeeze(1)

    def stft_mag(sig, n_fft):
        spec = L.stft(sig, n_fft, hop_length=n_fft // 4, win_length=n_fft,
                      window=L.hann_window(n_fft, dtype=sig.dtype), return_complex=True)
        return spec.abs().clamp(min=1e-7)

    def mr_stft(pred, target):
        total = 0
        for n_fft in (16, 32, 64):
            p, t = stft_mag(pred, n_fft), stft_mag(target, n_fft)
            sc = L.linalg.norm(t - p, dim=(-2, -1)) / L.linalg.norm(t, dim=(-2, -1))
            total = total + sc.mean() + F.l1_loss(p.log(), t.log())
        return total / 3

    L.set_default_dtype(L.float64)        # weight norm's g computed in float64 from the start
    L.manual_seed(0)
    net = Net()
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    t = np.arange(128) / 128
    x = L.tensor(np.sin(2 * np.pi * 5 * t)[None, None] + normal64(1, 1, 128, scale=0.1,
                                                                   seed=134))
    target = L.tensor(np.sin(2 * np.pi * 5 * t)[None])
    losses = []
    for _ in range(2):
        loss = mr_stft(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses, net.layers[1].conv.parametrizations.weight.original0.grad, net.out.bias


@program
def simclr_nt_xent_with_a_masked_diagonal_and_lars_like_trust_ratio(L):
    """SimCLR's NT-Xent over two views: cosine similarities of the 2N embeddings, the
    diagonal removed by masked_fill with -inf, the positives at (i + N) mod 2N, cross
    entropy at temperature 0.2; then an SGD step whose per-parameter lr is scaled by a
    LARS-style trust ratio ||w|| / ||g|| computed under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    enc = nn.Sequential(nn.Linear(6, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(),
                        nn.Linear(8, 4))
    load_seeded(L, enc.double(), seed=135)
    x = L.tensor(normal64(5, 6, seed=136))
    v1 = x + L.tensor(normal64(5, 6, scale=0.1, seed=137))
    v2 = x * L.tensor(1 + normal64(5, 6, scale=0.1, seed=138))
    z = F.normalize(enc(L.cat([v1, v2])), dim=1)
    n = x.shape[0]
    sim = (z @ z.t()) / 0.2
    sim = sim.masked_fill(L.eye(2 * n, dtype=L.bool), float("-inf"))
    target = (L.arange(2 * n) + n) % (2 * n)
    loss = F.cross_entropy(sim, target)
    loss.backward()
    ratios = []
    with L.no_grad():
        for p in enc.parameters():
            w_norm, g_norm = p.norm(), p.grad.norm()
            trust = L.where((w_norm > 0) & (g_norm > 0), 0.001 * w_norm / g_norm,
                            L.ones_like(w_norm))
            p.add_(p.grad, alpha=-0.1 * trust.item())
            ratios.append(trust)
    return loss, sim.isinf().sum(), ratios, enc[3].weight, enc[1].running_mean


@program
def kfac_factors_from_forward_and_full_backward_hooks(L):
    """K-FAC's Kronecker factors of every Linear layer: inputs captured by forward hooks,
    output gradients by full backward hooks; A = a^T a / n (with a ones column for the
    bias), G = g^T g * n; the preconditioned gradient G^-1 grad A^-1 by linalg.solve with
    damping, checked against the plain gradient's shape."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    load_seeded(L, net, seed=139)
    acts, gouts = {}, {}
    for name, mod in net.named_modules():
        if isinstance(mod, nn.Linear):
            mod.register_forward_hook(lambda m, i, o, n=name: acts.__setitem__(n, i[0].detach()))
            mod.register_full_backward_hook(
                lambda m, gi, go, n=name: gouts.__setitem__(n, go[0].detach()))
    x, y = L.tensor(normal64(7, 4, seed=140)), L.tensor(labels(7, 3, seed=141))
    F.cross_entropy(net(x), y).backward()
    nat = {}
    for name in acts:
        a = L.cat([acts[name], L.ones(acts[name].shape[0], 1, dtype=L.float64)], 1)
        g = gouts[name]
        n = a.shape[0]
        A = a.t() @ a / n + 0.1 * L.eye(a.shape[1], dtype=L.float64)
        G = g.t() @ g * n + 0.1 * L.eye(g.shape[1], dtype=L.float64)
        mod = net.get_submodule(name)
        grad = L.cat([mod.weight.grad, mod.bias.grad[:, None]], 1)
        nat[name] = L.linalg.solve(A, L.linalg.solve(G, grad).t()).t()
    return sorted(acts), {k: v.shape for k, v in gouts.items()}, nat


@program
def custom_matmul_function_with_a_differentiable_backward_passes_gradgradcheck(L):
    """A matmul written as an autograd.Function whose backward uses differentiable ops (so
    double backward works): gradcheck and gradgradcheck pass in both libraries, and a
    gradient penalty through it gives the same parameter gradients as plain @."""

    class MatMul(L.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a @ b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga = g @ b.t() if ctx.needs_input_grad[0] else None
            gb = a.t() @ g if ctx.needs_input_grad[1] else None
            return ga, gb

    a = L.tensor(normal64(3, 4, seed=142), requires_grad=True)
    b = L.tensor(normal64(4, 2, seed=143), requires_grad=True)
    ok1 = L.autograd.gradcheck(MatMul.apply, (a, b))
    ok2 = L.autograd.gradgradcheck(MatMul.apply, (a, b))
    outs = []
    for mm in (MatMul.apply, lambda p, q: p @ q):
        out = L.tanh(mm(a, b))
        g, = L.autograd.grad(out.sum(), a, create_graph=True)
        pen = g.pow(2).sum()
        ga, gb = L.autograd.grad(pen, (a, b))
        outs.append((pen, ga, gb))
    return ok1, ok2, outs


@program
def epoch_loop_with_a_distributed_sampler_per_rank_and_set_epoch(L):
    """Two simulated ranks read a TensorDataset through DistributedSampler(shuffle, seed)
    over two epochs with set_epoch; each rank's indices, the padding to equal lengths, and
    the sums of the batches; drop_last variant's lengths."""
    data = L.utils.data
    ds = data.TensorDataset(L.arange(11.0), L.arange(11) % 3)
    seen = []
    for epoch in range(2):
        for rank in range(2):
            s = data.DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=7)
            s.set_epoch(epoch)
            dl = data.DataLoader(ds, batch_size=2, sampler=s)
            seen.append((list(s), [b[0].sum() for b in dl], len(s)))
    s2 = data.DistributedSampler(ds, num_replicas=3, rank=2, shuffle=False, drop_last=True)
    return seen, list(s2), len(s2), \
        err(lambda: data.DistributedSampler(ds, num_replicas=2, rank=2))


@program
def full_checkpoint_with_scheduler_and_rng_state_resumes_identically(L):
    """A training run with dropout saved mid-way (model, optimizer, scheduler, epoch and
    the global RNG state) into BytesIO; a fresh run loaded from it draws the same dropout
    masks and reaches the same weights as the uninterrupted run."""
    nn, F = L.nn, L.nn.functional
    x, y = L.tensor(normal64(8, 4, seed=144)), L.tensor(normal64(8, 1, seed=145))

    def build():
        L.manual_seed(0)
        m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 1))
        m = m.double()
        opt = L.optim.Adam(m.parameters(), lr=0.01)
        sch = L.optim.lr_scheduler.StepLR(opt, 1, gamma=0.7)
        return m, opt, sch

    def epoch(m, opt, sch):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        opt.step()
        sch.step()
        return loss.detach()

    m, opt, sch = build()
    L.manual_seed(1)
    straight = [epoch(m, opt, sch) for _ in range(4)]
    m2, opt2, sch2 = build()
    L.manual_seed(1)
    first = [epoch(m2, opt2, sch2) for _ in range(2)]
    buf = io.BytesIO()
    L.save({"model": m2.state_dict(), "opt": opt2.state_dict(), "sch": sch2.state_dict(),
            "epoch": 2, "rng": L.get_rng_state()}, buf)
    buf.seek(0)
    ck = L.load(buf)
    m3, opt3, sch3 = build()
    m3.load_state_dict(ck["model"])
    opt3.load_state_dict(ck["opt"])
    sch3.load_state_dict(ck["sch"])
    L.set_rng_state(ck["rng"])
    rest = [epoch(m3, opt3, sch3) for _ in range(2)]
    return straight, first + rest, m[3].weight, m3[3].weight, sch3.get_last_lr(), \
        ck["rng"].dtype, ck["epoch"]


@program
def label_propagation_by_sparse_power_iteration(L):
    """Label propagation on a small graph: a symmetric normalised adjacency D^-1/2 A D^-1/2
    built as a sparse COO tensor from an edge list, twenty iterations of
    F <- alpha S F + (1 - alpha) Y by torch.sparse.mm, predictions by argmax and the
    accuracy on the unlabelled nodes."""
    src = L.tensor([0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 2, 5])
    dst = L.tensor([1, 2, 3, 3, 4, 5, 6, 6, 7, 0, 6, 7])
    n = 8
    rows, cols = L.cat([src, dst]), L.cat([dst, src])
    vals = L.ones(rows.shape[0], dtype=L.float64)
    deg = L.zeros(n, dtype=L.float64).index_add_(0, rows, vals)
    norm = deg.rsqrt()
    S = L.sparse_coo_tensor(L.stack([rows, cols]), norm[rows] * vals * norm[cols], (n, n))
    Y = L.zeros(n, 2, dtype=L.float64)
    Y[0, 0] = 1.0
    Y[5, 1] = 1.0
    Fm = Y.clone()
    for _ in range(20):
        Fm = 0.8 * L.sparse.mm(S, Fm) + 0.2 * Y
    pred = Fm.argmax(1)
    truth = L.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    unl = L.ones(n, dtype=L.bool)
    unl[[0, 5]] = False
    return deg, Fm, pred, (pred[unl] == truth[unl]).double().mean(), S.to_dense().sum(1)


@program
def timm_drop_path_by_bernoulli_under_a_seed_in_a_residual_stack(L):
    """timm's drop_path: a per-sample keep mask drawn by x.new_empty(shape).bernoulli_(keep)
    under manual_seed and divided by keep (scale_by_keep), in a stack of residual MLP
    blocks with linearly increasing drop rates; the same masks in both libraries give the
    same outputs and gradients; eval is the identity."""
    nn, F = L.nn, L.nn.functional

    def drop_path(x, p, training):
        if p == 0.0 or not training:
            return x
        keep = 1 - p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    class Block(nn.Module):
        def __init__(self, d, p):
            super().__init__()
            self.fc, self.p = nn.Linear(d, d), p

        def forward(self, x):
            return x + drop_path(F.gelu(self.fc(x)), self.p, self.training)

    L.manual_seed(0)
    rates = [float(r) for r in L.linspace(0, 0.5, 4)]
    net = nn.Sequential(*[Block(5, r) for r in rates]).double()
    load_seeded(L, net, seed=150)
    x = L.tensor(normal64(6, 5, seed=151), requires_grad=True)
    L.manual_seed(7)
    y = net(x)
    y.pow(2).sum().backward()
    net.eval()
    return rates, y, x.grad, net[3].fc.weight.grad, net(x.detach())


@program
def jacobian_rows_by_is_grads_batched_and_backward_restricted_to_inputs(L):
    """A Jacobian in one call by autograd.grad(is_grads_batched=True) with the identity as
    the batch of output gradients; backward(inputs=[...]) accumulating into one leaf only;
    autograd.backward over two roots with a None gradient for a scalar."""
    a = L.tensor(normal64(3, seed=152), requires_grad=True)
    b = L.tensor(normal64(3, seed=153), requires_grad=True)
    y = L.stack([a.sin().sum(), (a ** 2 * b).sum(), a.prod()])
    J, = L.autograd.grad(y, a, L.eye(3, dtype=L.float64), is_grads_batched=True,
                         retain_graph=True)
    s = (a * b).sum()
    s.backward(inputs=[a], retain_graph=True)
    only_a = (a.grad.clone(), b.grad)
    L.autograd.backward([s, (a ** 2).sum()], [L.tensor(2.0, dtype=L.float64), None],
                        inputs=[b])
    return J, only_a, a.grad, b.grad


@program
def low_rank_factorised_weight_by_a_tuple_right_inverse_parametrization(L):
    """A Linear weight parametrized as the product of two factors (forward(a, b) = a @ b)
    whose right_inverse splits the initial weight by SVD into (U sqrt(S), sqrt(S) Vh): the
    factors are original0/original1, train by SGD, and assigning a new weight re-splits it;
    a symmetric parametrization beside it; parametrize.cached reuses one weight."""
    nn, P = L.nn, L.nn.utils.parametrize

    class Factor(nn.Module):
        def forward(self, a, b):
            return a @ b

        def right_inverse(self, w):
            U, S, Vh = L.linalg.svd(w, full_matrices=False)
            return U * S.sqrt(), S.sqrt()[:, None] * Vh

    class Sym(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).t()

    L.manual_seed(0)
    lin = load_seeded(L, nn.Linear(3, 3).double(), seed=154)
    sym = load_seeded(L, nn.Linear(3, 3).double(), seed=155)
    w0 = lin.weight.detach().clone()
    P.register_parametrization(lin, "weight", Factor())
    P.register_parametrization(sym, "weight", Sym())
    opt = L.optim.SGD(list(lin.parameters()) + list(sym.parameters()), lr=0.1)
    x = L.tensor(normal64(4, 3, seed=156))
    loss = (lin(x) - sym(x)).pow(2).mean()
    loss.backward()
    opt.step()
    with P.cached():
        same = lin.weight is lin.weight
    before = (lin.weight - w0).abs().max()
    lin.weight = L.eye(3, dtype=L.float64) * 2
    return loss, before, lin.parametrizations.weight.original0, lin.weight, sym.weight, \
        same, P.is_parametrized(lin), P.is_parametrized(lin, "bias"), \
        sorted(n for n, _ in lin.named_parameters())


@program
def optimizer_step_and_state_dict_hooks_during_training(L):
    """An SGD optimizer with step pre/post hooks (one removed after the first step), state
    dict pre/post hooks and load_state_dict pre/post hooks: the order in which they run
    over two steps and a save-load round trip."""
    nn = L.nn
    L.manual_seed(0)
    m = nn.Linear(2, 1)
    opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    log = []
    opt.register_load_state_dict_pre_hook(lambda o, sd: log.append("load_pre") or sd)
    opt.register_load_state_dict_post_hook(lambda o: log.append("load_post"))
    opt.register_state_dict_pre_hook(lambda o: log.append("sd_pre"))
    opt.register_state_dict_post_hook(lambda o, sd: log.append(("sd_post", sorted(sd))) or sd)
    h = opt.register_step_pre_hook(lambda o, a, k: log.append("step_pre"))
    opt.register_step_post_hook(lambda o, a, k: log.append("step_post"))
    m(L.ones(1, 2)).sum().backward()
    opt.step()
    h.remove()
    opt.step()
    sd = opt.state_dict()
    opt.load_state_dict(sd)
    return log, m.weight, sd["state"][0]["momentum_buffer"]


@program
def wgan_critic_with_spectral_norm_deep_copied_for_a_target(L):
    """A critic with weight norm and spectral norm parametrizations deep-copied as a target
    network: the copy computes the same outputs, keeps its own power-iteration vectors and
    parameters (changing the copy's g leaves the original alone), and the state dict keys
    name the parametrizations."""
    import copy
    nn = L.nn
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 1)).double()
    nn.utils.parametrizations.weight_norm(m[0])
    nn.utils.parametrizations.spectral_norm(m[2])
    x = L.tensor(normal64(2, 3, seed=157))
    y = m(x)
    target = copy.deepcopy(m)
    y2 = target(x)
    with L.no_grad():
        target[0].parametrizations.weight.original0.mul_(2)
    return y, y2, m(x), target(x), list(target.state_dict().keys()), \
        target[2].parametrizations.weight[0]._u is not m[2].parametrizations.weight[0]._u


_OP_COUNT = collections.Counter()     # a fresh op name per run and library (names are global)


@program
def custom_ops_by_torch_library_called_through_torch_ops(L):
    """An extension-style op made by torch.library.custom_op from a numpy kernel, its gradient
    by register_autograd (setup_context called with keyword arguments), and a mutating op
    (mutates_args) writing into an out tensor; both called by name through
    torch.ops.<namespace>.<name> and its .default overload; an unknown op name raises."""
    _OP_COUNT[L.__name__] += 1
    k = _OP_COUNT[L.__name__]
    ns = f"round37_{L.__name__}"

    @L.library.custom_op(f"{ns}::softsign{k}", mutates_args=())
    def softsign(x: L.Tensor) -> L.Tensor:
        a = x.detach().numpy()
        return L.from_numpy(a / (1 + np.abs(a)))

    @softsign.register_fake
    def _(x):
        return L.empty_like(x)

    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (1 + x.abs()) ** 2

    softsign.register_autograd(backward, setup_context=setup_context)

    @L.library.custom_op(f"{ns}::scale_into{k}", mutates_args={"out"})
    def scale_into(x: L.Tensor, out: L.Tensor, s: float) -> None:
        out.copy_(x * s)

    space = getattr(L.ops, ns)
    op = getattr(space, f"softsign{k}")
    x = L.tensor(normal64(5, seed=160), requires_grad=True)
    y = op(x)
    z = op.default(x * 2)
    (y.sum() + z.pow(2).sum()).backward()
    out = L.zeros(5, dtype=L.float64)
    getattr(space, f"scale_into{k}")(x.detach(), out, 2.5)
    return y, z, x.grad, out, op.overloads(), str(op).split(".")[1], \
        err(lambda: space.no_such_op), softsign(x).grad_fn is not None


_SLOW = set()
# programs that end in torch's exception (minigrad must raise the same, with its words)
_RAISING = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    raised = HARNESS.check(fn, **fn.options)
    assert (raised is not None) == (fn.__name__ in _RAISING), raised
