"""Whole programs of round 35: library idioms (a model registry with builders, drop path and
layer scale, init by module type, freezing by name, no-decay parameter groups, EMA copies,
feature extraction by hooks, module surgery and batch-norm folding), language-model idioms
(a KV-cached generation loop, top-k and nucleus sampling, repetition penalty, padding masks,
rotary embeddings, RMSNorm and SwiGLU, tied embeddings, smoothed and ignored labels,
checkpointed blocks), custom autograd Functions (non-differentiable outputs, unmaterialised
gradients, needs_input_grad, once_differentiable, straight-through and reversal, double
backward under gradcheck), evaluation metrics (confusion matrices, top-k accuracy, AUROC,
mean IoU, eval/no_grad/inference_mode) and the runtime surface libraries touch (compile as a
pass-through, backend flags, RNG state, deterministic mode, autocast, whole checkpoints).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed`` or loaded from numpy); both must give the
same values, dtypes, shapes and requires_grad, or raise the same exception type with torch's
words, and warn alike (tests/side_by_side.py).
"""
import copy
import fnmatch
import io
import math
import warnings

import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, labels, load_seeded, normal32, normal64, program_harness, registry)

HARNESS = program_harness(bfloat16=(1e-2, 1e-2))


def _warm_torch_compile():
    """Run torch.compile once, its warnings silenced: its first use imports machinery that
    warns (torch.jit's deprecation of script_method), once per process, which would otherwise
    land in whichever program compiles first."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.compile(lambda v: v + 1, backend="eager")(torch.ones(1))
        try:
            torch.compile(3)                # (its refusal imports more of the same)
        except AssertionError:
            pass


_warm_torch_compile()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# library idioms
# ----------------------------------------------------------------------------------------------
def _small_convnet(L, width=4, depth=2, num_classes=3, act="relu"):
    nn = L.nn
    acts = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}
    layers, cin = [], 2
    for _ in range(depth):
        layers += [nn.Conv2d(cin, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                   acts[act]()]
        cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)]
    return nn.Sequential(*layers)


@program
def model_registry_with_builders_and_overrides(L):
    """A name -> builder registry filled by a decorator; create_model merges default kwargs
    with the caller's overrides, refuses unknown names with a KeyError naming the choices,
    and the built models' parameter counts and outputs follow the kwargs."""
    registry_ = {}

    def register(name, **defaults):
        def deco(fn):
            registry_[name] = (fn, defaults)
            return fn
        return deco

    @register("tiny", width=2, depth=1)
    def tiny(**kw):
        return _small_convnet(L, **kw)

    @register("small", width=4, depth=2, act="gelu")
    def small(**kw):
        return _small_convnet(L, **kw)

    def create_model(name, **overrides):
        if name not in registry_:
            raise KeyError(f"unknown model {name!r}; choose from {sorted(registry_)}")
        fn, defaults = registry_[name]
        return fn(**{**defaults, **overrides})

    L.manual_seed(0)
    x = L.tensor(normal32(2, 2, 5, 5, seed=1))
    counts, outs = [], []
    for name, kw in [("tiny", {}), ("small", {}), ("small", {"num_classes": 5, "act": "silu"})]:
        m = load_seeded(L, create_model(name, **kw), seed=len(counts)).eval()
        counts.append(sum(p.numel() for p in m.parameters()))
        outs.append(m(x))
    return counts, outs, err(lambda: create_model("huge"))


@program
def drop_path_and_layer_scale_residual_blocks(L):
    """A residual block with layer scale (a learnable per-channel gamma) and stochastic depth
    (drop path: whole samples zeroed and survivors rescaled by 1/keep), drawing its mask with
    bernoulli_ after manual_seed in training and passing through in eval; gradients of the
    gammas and of the input."""
    nn = L.nn

    def drop_path(x, p, training):
        if p == 0.0 or not training:
            return x
        keep = 1.0 - p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    class Block(nn.Module):
        def __init__(self, dim, p):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim)
            self.gamma = nn.Parameter(1e-1 * L.ones(dim))
            self.p = p

        def forward(self, x):
            h = self.fc2(L.nn.functional.gelu(self.fc1(x)))
            return x + drop_path(self.gamma * h, self.p, self.training)

    L.manual_seed(0)
    blocks = nn.Sequential(Block(3, 0.0), Block(3, 0.5), Block(3, 0.5)).double()
    load_seeded(L, blocks, seed=2)
    x = L.tensor(normal64(8, 3, seed=3), requires_grad=True)
    L.manual_seed(7)
    y = blocks(x)
    y.pow(2).sum().backward()
    blocks.eval()
    return y, x.grad, [b.gamma.grad for b in blocks], blocks(x.detach()), \
        L.rand(2, dtype=L.float64)


@program
def init_weights_by_module_type_via_apply(L):
    """An _init_weights(m) hook run through model.apply: trunc_normal_ for Linear weights,
    kaiming_normal_ (fan_out, relu) for convs, zeros for biases, ones/zeros for norms,
    normal_ for embeddings with the padding row zeroed; the draws follow manual_seed."""
    nn = L.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(6, 4, padding_idx=0)
            self.conv = nn.Conv1d(4, 4, 3, padding=1)
            self.norm = nn.LayerNorm(4)
            self.bn = nn.BatchNorm1d(4)
            self.head = nn.Linear(4, 2)

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv1d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0.0)
        elif isinstance(m, (nn.LayerNorm, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.5)
            with L.no_grad():
                m.weight[m.padding_idx].zero_()

    L.manual_seed(3)
    net = Net()
    L.manual_seed(4)
    got = net.apply(init)
    return got is net, dict(net.state_dict())


@program
def freezing_and_unfreezing_by_name_patterns(L):
    """Freeze every parameter, then unfreeze those whose names match glob patterns with
    requires_grad_; the optimizer gets only the trainable ones (filter), a step changes only
    them, and the counts of trainable and frozen parameters."""
    L.manual_seed(0)
    model = load_seeded(L, _small_convnet(L, width=3), seed=5).double()
    for p in model.parameters():
        p.requires_grad_(False)
    for name, p in model.named_parameters():
        if any(fnmatch.fnmatch(name, pat) for pat in ("4.*", "7.weight")):
            p.requires_grad_(True)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = L.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.5,
                      momentum=0.9)
    x = L.tensor(normal64(2, 2, 4, 4, seed=6))
    for _ in range(2):
        opt.zero_grad()
        model(x).logsumexp(1).sum().backward()
        opt.step()
    changed = sorted(k for k, v in model.state_dict().items()
                     if v.is_floating_point() and not L.equal(v, before[k]))
    return trainable, changed, sum(p.numel() for p in model.parameters() if p.requires_grad), \
        [p.grad is None for p in model.parameters()]


@program
def no_weight_decay_groups_for_norms_and_biases(L):
    """Split parameters into decay / no-decay groups (1-d tensors and anything named bias or
    in a norm go without decay), hand both to AdamW, take steps; the group sizes, the
    params after, and the optimizer's state_dict layout."""
    nn = L.nn
    L.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Tanh(), nn.Linear(4, 2)).double()
    load_seeded(L, model, seed=9)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    opt = L.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": no_decay, "weight_decay": 0.0}], lr=0.05)
    x, y = L.tensor(normal64(5, 3, seed=1)), L.tensor(normal64(5, 2, seed=2))
    for _ in range(3):
        opt.zero_grad()
        L.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    sd = opt.state_dict()
    return len(decay), len(no_decay), dict(model.state_dict()), \
        [g["params"] for g in sd["param_groups"]], \
        [g["weight_decay"] for g in sd["param_groups"]], sd["state"][0]["step"], \
        sd["state"][5]["exp_avg_sq"]


@program
def ema_copy_with_deepcopy_and_state_dict(L):
    """An exponential moving average of a model kept in a deepcopy with requires_grad off:
    after each optimizer step, ema = d*ema + (1-d)*param via lerp_ under no_grad, buffers
    copied; the EMA's weights, its outputs in eval, and a round trip of its state_dict into
    a fresh copy."""
    nn = L.nn
    L.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    model = load_seeded(L, model, seed=3).double()
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    x, y = L.tensor(normal64(6, 3, seed=4)), L.tensor(normal64(6, 1, seed=5))
    decay = 0.9
    for _ in range(3):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        with L.no_grad():
            for e, p in zip(ema.parameters(), model.parameters()):
                e.lerp_(p, 1.0 - decay)
            for e, b in zip(ema.buffers(), model.buffers()):
                e.copy_(b)
    fresh = copy.deepcopy(model)
    missing = fresh.load_state_dict(ema.state_dict())
    ema.eval()
    fresh.eval()
    return dict(ema.state_dict()), ema(x), fresh(x), tuple(missing), \
        ema[0].weight.requires_grad, model[0].weight.requires_grad


@program
def feature_extraction_with_forward_hooks(L):
    """Forward hooks registered on chosen layers by name store their outputs in a dict (one
    detaches, one keeps the graph); the returned dict's keys and values, a loss over one
    stored feature back-propagating into the weights, and the hooks removed afterwards."""
    L.manual_seed(0)
    model = load_seeded(L, _small_convnet(L, width=3), seed=11).double().eval()
    feats = {}

    def keep(name, detach):
        def hook(mod, inp, out):
            feats[name] = out.detach() if detach else out
        return hook

    wanted = {"2": True, "5": False}
    handles = [m.register_forward_hook(keep(n, wanted[n]))
               for n, m in model.named_modules() if n in wanted]
    x = L.tensor(normal64(2, 2, 4, 4, seed=12))
    out = model(x)
    feats["5"].sum().backward()
    g = model[0].weight.grad
    for h in handles:
        h.remove()
    feats_before = dict(feats)
    feats.clear()
    model(x)
    return out, sorted(feats_before), feats_before["2"], feats_before["5"], g, len(feats)


@program
def module_surgery_replacing_activations_in_place(L):
    """Walk named_modules, find every ReLU and swap it for a SiLU with setattr on its parent
    (found by splitting the dotted name and get_submodule); the printed repr after, the
    outputs before and after, and get_submodule's error for a missing path."""
    nn = L.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
            self.body = nn.ModuleDict({"a": nn.Linear(4, 4), "act": nn.ReLU()})
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.body["act"](self.body["a"](self.stem(x))))

    L.manual_seed(0)
    net = load_seeded(L, Net(), seed=1).double()
    x = L.tensor(normal64(3, 3, seed=2))
    before = net(x)
    for name, mod in list(net.named_modules()):
        if isinstance(mod, nn.ReLU):
            parent_name, _, child = name.rpartition(".")
            parent = net.get_submodule(parent_name)
            setattr(parent, child, nn.SiLU())
    return before, net(x), repr(net), \
        [type(m).__name__ for m in net.modules()], err(lambda: net.get_submodule("body.b"))


@program
def folding_batch_norm_into_conv_weights(L):
    """Fuse an eval-mode BatchNorm2d into the preceding conv by hand: w' = w * g/sqrt(v+eps)
    per out-channel, b' = (b - mean) * g/sqrt(v+eps) + beta; the fused conv matches the
    conv+bn pair, and the fused model's state_dict keys."""
    nn = L.nn
    L.manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3)
    pair = nn.Sequential(conv, bn).double()
    load_seeded(L, pair, seed=4)
    with L.no_grad():
        bn.running_var.abs_().add_(0.5)
    pair.eval()
    x = L.tensor(normal64(2, 2, 5, 5, seed=5))
    fused = nn.Conv2d(2, 3, 3, padding=1).double()
    with L.no_grad():
        scale = bn.weight / L.sqrt(bn.running_var + bn.eps)
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
    reference = pair(x)
    pair[1] = nn.Identity()
    pair[0] = fused
    return pair(x), reference, list(pair.state_dict()), repr(pair)


# ----------------------------------------------------------------------------------------------
# language-model idioms
# ----------------------------------------------------------------------------------------------
def _tiny_lm(L, vocab=11, dim=8, heads=2, seed=0):
    nn, F = L.nn, L.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self, d, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(L.ones(d))

        def forward(self, x):
            return x * L.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(dim, 3 * dim, bias=False)
            self.out = nn.Linear(dim, dim, bias=False)

        def forward(self, x, cache=None):
            b, t, _ = x.shape
            q, k, v = self.qkv(x).split(dim, dim=-1)
            q, k, v = (z.view(b, t, heads, dim // heads).transpose(1, 2) for z in (q, k, v))
            if cache is not None:
                if "k" in cache:
                    k = L.cat([cache["k"], k], dim=2)
                    v = L.cat([cache["v"], v], dim=2)
                cache["k"], cache["v"] = k, v
            past = k.shape[2] - t
            mask = L.ones(t, k.shape[2], dtype=L.bool).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            return self.out(y.transpose(1, 2).reshape(b, t, dim))

    class SwiGLU(nn.Module):
        def __init__(self):
            super().__init__()
            self.w12 = nn.Linear(dim, 4 * dim, bias=False)
            self.w3 = nn.Linear(2 * dim, dim, bias=False)

        def forward(self, x):
            a, g = self.w12(x).chunk(2, dim=-1)
            return self.w3(F.silu(a) * g)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, dim)
            self.pos = nn.Embedding(16, dim)
            self.n1, self.attn, self.n2, self.mlp = RMSNorm(dim), Attn(), RMSNorm(dim), SwiGLU()
            self.nf = RMSNorm(dim)
            self.lm_head = nn.Linear(dim, vocab, bias=False)
            self.lm_head.weight = self.tok.weight

        def forward(self, idx, cache=None, start=0):
            pos = L.arange(start, start + idx.shape[1])
            x = self.tok(idx) + self.pos(pos)
            x = x + self.attn(self.n1(x), cache)
            x = x + self.mlp(self.n2(x))
            return self.lm_head(self.nf(x))

    L.manual_seed(seed)
    return load_seeded(L, LM(), seed=seed + 1)


@program
def kv_cached_generation_matches_full_recompute(L):
    """Greedy decoding with a KV cache (keys and values cat on the time axis inside
    no_grad) against recomputing the whole prefix every step: the same tokens and final
    logits; the tied head shares the embedding's storage (one parameter)."""
    lm = _tiny_lm(L).double().eval()
    prompt = L.tensor([[1, 4, 2], [3, 3, 7]])
    with L.no_grad():
        cache = {}
        logits = lm(prompt, cache)
        seq, step_logits = prompt, []
        for _ in range(4):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            seq = L.cat([seq, nxt], dim=1)
            logits = lm(nxt, cache, start=seq.shape[1] - 1)
            step_logits.append(logits[:, -1])
        full = lm(seq)[:, -1]
    return seq, L.stack(step_logits), full, cache["k"].shape, \
        lm.lm_head.weight is lm.tok.weight, len(list(lm.parameters())), \
        lm.lm_head.weight.data_ptr() == lm.tok.weight.data_ptr()


@program
def top_k_and_nucleus_sampling_with_a_generator(L):
    """Filter logits to the top k (others to -inf), then nucleus filtering: sort descending,
    cumulative softmax, remove tokens past p (keeping the first), scatter the removal mask
    back to vocabulary order; sample with multinomial under a seeded Generator; the masks,
    probabilities and draws."""
    logits = L.tensor(normal32(3, 10, seed=4) * 2)

    def top_k(lg, k):
        kth = L.topk(lg, k, dim=-1).values[..., -1, None]
        return lg.masked_fill(lg < kth, float("-inf"))

    def top_p(lg, p):
        sorted_lg, order = L.sort(lg, descending=True, dim=-1)
        cum = sorted_lg.softmax(-1).cumsum(-1)
        remove = cum > p
        remove[..., 1:] = remove[..., :-1].clone()
        remove[..., 0] = False
        mask = remove.scatter(-1, order, remove)
        return lg.masked_fill(mask, float("-inf"))

    filtered = top_p(top_k(logits, 6), 0.8)
    probs = filtered.softmax(-1)
    g = L.Generator().manual_seed(123)
    draws = L.multinomial(probs, 4, replacement=True, generator=g)
    one = L.multinomial(probs, 1, generator=g)
    return L.isinf(filtered), probs, draws, one, (probs > 0).sum(-1)


@program
def repetition_penalty_via_gather_and_scatter(L):
    """The CTRL-style repetition penalty: gather the logits of tokens already generated,
    divide positive ones by the penalty and multiply negative ones, scatter them back; a
    frequency penalty by scatter_add_ of counts; temperature scaling and argmax."""
    logits = L.tensor(normal32(2, 8, seed=5))
    prev = L.tensor([[1, 3, 3, 5], [0, 0, 7, 2]])
    penalty = 1.3
    got = L.gather(logits, 1, prev)
    got = L.where(got < 0, got * penalty, got / penalty)
    penalised = logits.scatter(1, prev, got)
    counts = L.zeros_like(logits).scatter_add_(1, prev, L.ones_like(prev, dtype=logits.dtype))
    freq = penalised - 0.2 * counts
    return penalised, counts, freq, (freq / 0.7).argmax(-1)


@program
def padding_masks_from_lengths_with_arange_broadcasting(L):
    """Key-padding masks built from sequence lengths (arange < lengths[:, None]), combined
    with a causal mask into an additive float mask (finfo.min where masked) for
    attention; masked mean pooling of hidden states; the attention probabilities and
    gradients through the pooled output."""
    lengths = L.tensor([4, 2, 3])
    T = 4
    keep = L.arange(T)[None, :] < lengths[:, None]
    causal = L.ones(T, T, dtype=L.bool).tril()
    allowed = keep[:, None, :] & causal[None]
    additive = L.zeros(allowed.shape, dtype=L.float64).masked_fill(
        ~allowed, L.finfo(L.float64).min)
    h = L.tensor(normal64(3, T, 5, seed=7), requires_grad=True)
    scores = h @ h.transpose(1, 2) / math.sqrt(5) + additive
    probs = scores.softmax(-1)
    ctx = probs @ h
    m = keep.unsqueeze(-1).to(ctx.dtype)
    pooled = (ctx * m).sum(1) / m.sum(1).clamp(min=1)
    pooled.square().sum().backward()
    return keep, additive[1], probs, pooled, h.grad


@program
def rotary_embeddings_complex_and_real_forms_agree(L):
    """Rotary position embeddings in the complex form (view_as_complex of pairs times a
    polar frequency table, view_as_real back) and in the real rotate-half form with cos/sin
    tables: both forms agree on interleaved/half layouts, and gradients flow through the
    complex form."""
    B, T, H, D = 2, 5, 2, 6
    inv = 1.0 / (10000 ** (L.arange(0, D, 2, dtype=L.float64) / D))
    ang = L.outer(L.arange(T, dtype=L.float64), inv)
    freqs = L.polar(L.ones_like(ang), ang)
    x = L.tensor(normal64(B, T, H, D, seed=8), requires_grad=True)
    xc = L.view_as_complex(x.reshape(B, T, H, D // 2, 2))
    rot_c = L.view_as_real(xc * freqs[None, :, None, :]).flatten(3)
    # real form on the interleaved layout
    cos, sin = ang.cos().repeat_interleave(2, -1), ang.sin().repeat_interleave(2, -1)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    rotated = L.stack([-x2, x1], dim=-1).flatten(3)
    rot_r = x * cos[None, :, None, :] + rotated * sin[None, :, None, :]
    (rot_c * L.tensor(normal64(B, T, H, D, seed=9))).sum().backward()
    return rot_c, rot_r, x.grad, freqs.dtype, freqs.abs()


@program
def rmsnorm_swiglu_block_gradients(L):
    """A pre-norm block of the tiny LM (RMSNorm, causal attention via
    scaled_dot_product_attention with a boolean mask, SwiGLU) trained a few AdamW steps on
    next-token loss in float64: losses, the tied weight's gradient and the norms' weights."""
    lm = _tiny_lm(L, seed=2).double()
    idx = L.tensor(labels(12, 11, seed=3).reshape(2, 6))
    opt = L.optim.AdamW(lm.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        logits = lm(idx[:, :-1])
        loss = L.nn.functional.cross_entropy(logits.reshape(-1, 11), idx[:, 1:].reshape(-1))
        loss.backward()
        losses.append(loss.item())
        opt.step()
    return losses, lm.tok.weight.grad, lm.n1.weight, lm.nf.weight, lm.mlp.w3.weight


@program
def label_smoothing_and_ignore_index_cross_entropy(L):
    """cross_entropy over (N, C, T) logits with label_smoothing and ignore_index=-100 padding
    in mean, sum and none reductions, class weights with smoothing, and probability targets;
    values and gradients in float64."""
    F = L.nn.functional
    x = L.tensor(normal64(2, 5, 4, seed=10), requires_grad=True)
    t = L.tensor([[1, 4, -100, 0], [2, -100, -100, 3]])
    w = L.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=L.float64)
    a = F.cross_entropy(x, t, ignore_index=-100, label_smoothing=0.1)
    b = F.cross_entropy(x, t, reduction="sum", label_smoothing=0.2, weight=w)
    c = F.cross_entropy(x, t, reduction="none", label_smoothing=0.05)
    probs = L.tensor(normal64(2, 5, 4, seed=11)).softmax(1)
    d = F.cross_entropy(x, probs, label_smoothing=0.1)
    (a + b + c.sum() + d).backward()
    return a, b, c, d, x.grad, err(lambda: F.cross_entropy(x, t, label_smoothing=1.5))


@program
def gradient_checkpointing_blocks_without_reentrance(L):
    """Blocks run under torch.utils.checkpoint.checkpoint(use_reentrant=False) with dropout
    inside (preserve_rng_state keeps the mask the same in the recompute): the outputs and
    gradients equal the un-checkpointed run with the same seed; checkpoint_sequential too;
    autograd.grad through the non-reentrant form, and its refusal through the reentrant one
    (also as backward(inputs=...), and nested inside a non-reentrant one)."""
    nn = L.nn
    cp = L.utils.checkpoint
    L.manual_seed(0)
    blocks = nn.ModuleList([nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Dropout(0.3))
                            for _ in range(3)]).double()
    load_seeded(L, blocks, seed=12)
    x = L.tensor(normal64(5, 4, seed=13), requires_grad=True)

    def run(use_cp):
        h = x
        for b in blocks:
            h = cp.checkpoint(b, h, use_reentrant=False) if use_cp else b(h)
        return h

    outs = []
    for use_cp in (False, True):
        L.manual_seed(21)
        x.grad = None
        blocks.zero_grad()
        y = run(use_cp)
        y.sum().backward()
        outs.append((y, x.grad, blocks[1][0].weight.grad))
    blocks.eval()
    seq = nn.Sequential(*blocks)
    y2 = cp.checkpoint_sequential(seq, 2, x, use_reentrant=False)
    by_grad = L.autograd.grad(cp.checkpoint(seq, x, use_reentrant=False).sum(), x)
    reentrant = cp.checkpoint(seq, x, use_reentrant=True)
    inner = cp.checkpoint(lambda v: cp.checkpoint(seq, v, use_reentrant=True), x,
                          use_reentrant=False)
    return outs, y2, seq(x), by_grad, \
        err(lambda: L.autograd.grad(reentrant.sum(), x, retain_graph=True)), \
        err(lambda: reentrant.sum().backward(inputs=[x], retain_graph=True)), \
        err(lambda: L.autograd.grad(inner.sum(), x))


# ----------------------------------------------------------------------------------------------
# custom autograd
# ----------------------------------------------------------------------------------------------
@program
def sort_function_with_non_differentiable_indices(L):
    """A Function returning (sorted values, indices) marks the indices non-differentiable;
    backward receives a gradient for the values only and scatters it back; the indices do
    not require grad, and using them in a loss is refused."""
    class SortFn(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            vals, idx = x.sort(dim=-1)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return vals, idx

        @staticmethod
        def backward(ctx, gv, gi):
            idx, = ctx.saved_tensors
            return L.zeros_like(gv).scatter(-1, idx, gv)

    x = L.tensor(normal64(3, 4, seed=14), requires_grad=True)
    v, i = SortFn.apply(x)
    (v * L.arange(4, dtype=L.float64)).sum().backward()
    return v, i, v.requires_grad, i.requires_grad, x.grad, \
        err(lambda: i.float().sum().backward())


@program
def unmaterialised_gradients_and_needs_input_grad(L):
    """set_materialize_grads(False): backward gets None for an output not used in the loss
    and must handle it; needs_input_grad tells which inputs want a gradient (None returned
    for the rest); the recorded flags and the gradients."""
    seen = []

    class TwoOut(L.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, scale):
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(a, b)
            ctx.scale = scale
            return a * b, a + b

        @staticmethod
        def backward(ctx, g1, g2):
            a, b = ctx.saved_tensors
            seen.append((g1 is None, g2 is None, tuple(ctx.needs_input_grad)))
            ga = gb = None
            if ctx.needs_input_grad[0]:
                ga = L.zeros_like(a)
                if g1 is not None:
                    ga = ga + g1 * b * ctx.scale
                if g2 is not None:
                    ga = ga + g2
            if ctx.needs_input_grad[1]:
                gb = L.zeros_like(b)
                if g1 is not None:
                    gb = gb + g1 * a * ctx.scale
                if g2 is not None:
                    gb = gb + g2
            return ga, gb, None

    a = L.tensor(normal64(3, seed=15), requires_grad=True)
    b = L.tensor(normal64(3, seed=16))
    p, s = TwoOut.apply(a, b, 2.0)
    p.sum().backward()
    b.requires_grad_(True)
    p, s = TwoOut.apply(a, b, 0.5)
    s.mul(3.0).sum().backward()
    return seen, a.grad, b.grad


@program
def once_differentiable_and_saved_outputs(L):
    """A sigmoid Function saving its output (not input) for backward, decorated with
    once_differentiable: first-order gradients are right; asking for a double backward
    through it raises torch's RuntimeError."""
    from_fn = L.autograd.function

    class Sig(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = 1.0 / (1.0 + L.exp(-x))
            ctx.save_for_backward(y)
            return y

        @staticmethod
        @from_fn.once_differentiable
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * y * (1 - y)

    x = L.tensor(normal64(4, seed=17), requires_grad=True)
    y = Sig.apply(x)
    gx, = L.autograd.grad(y.sum(), x, create_graph=True)

    def double():
        gx.sum().backward()
    return y, gx, gx.requires_grad, L.sigmoid(x).detach(), err(double)


@program
def straight_through_estimators(L):
    """Straight-through rounding two ways: a Function whose backward passes the gradient
    unchanged, and the detach trick x + (round(x) - x).detach(); plus a sign quantiser with
    the hard-tanh STE (gradient zeroed where |x| > 1); all gradients."""
    class RoundSTE(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.round()

        @staticmethod
        def backward(ctx, g):
            return g

    class SignSTE(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sign()

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * (x.abs() <= 1).to(g.dtype)

    x = L.tensor(normal64(6, seed=18) * 1.5, requires_grad=True)
    w = L.tensor(normal64(6, seed=19))
    outs = []
    for f in (RoundSTE.apply, lambda v: v + (v.round() - v).detach(), SignSTE.apply):
        x.grad = None
        y = f(x)
        (y * w).sum().backward()
        outs.append((y, x.grad.clone()))
    return outs


@program
def gradient_reversal_layer_in_domain_adaptation(L):
    """A gradient reversal Function (identity forward, -lambda * grad backward) between a
    feature extractor and a domain classifier: features get the label loss's gradient
    minus lambda times the domain loss's; one SGD step of both heads."""
    nn, F = L.nn, L.nn.functional

    class Reverse(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, lam):
            ctx.lam = lam
            return x.view_as(x)

        @staticmethod
        def backward(ctx, g):
            return g.neg() * ctx.lam, None

    L.manual_seed(0)
    feat, cls, dom = nn.Linear(4, 3), nn.Linear(3, 2), nn.Linear(3, 2)
    mods = nn.ModuleList([feat, cls, dom]).double()
    load_seeded(L, mods, seed=20)
    x = L.tensor(normal64(6, 4, seed=21))
    y, d = L.tensor(labels(6, 2, seed=22)), L.tensor(labels(6, 2, seed=23))
    opt = L.optim.SGD(mods.parameters(), lr=0.1)
    h = feat(x)
    loss = F.cross_entropy(cls(h), y) + F.cross_entropy(dom(Reverse.apply(h, 0.5)), d)
    loss.backward()
    g = feat.weight.grad.clone()
    opt.step()
    return loss, g, dom.weight.grad, dict(mods.state_dict())


@program
def custom_double_backward_passes_gradgradcheck(L):
    """A cube Function whose backward is itself made of differentiable ops (so it supports
    double backward); gradcheck and gradgradcheck pass in float64; a wrong backward fails
    gradcheck (False with raise_exception=False, else torch's words); gradgradcheck of a
    once_differentiable backward fails with the Jacobians of torch's seeded grad_outputs, and
    the global generator is left where torch's is."""
    class Cube(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * g

    class Wrong(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x ** 2

        @staticmethod
        def backward(ctx, g):
            return g

    class FirstOrderOnly(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @L.autograd.function.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = L.tensor(normal64(4, seed=24), requires_grad=True)
    ag = L.autograd
    gx, = ag.grad(Cube.apply(x).sum(), x, create_graph=True)
    ggx, = ag.grad(gx.sum(), x)
    L.manual_seed(6)        # gradgradcheck's random grad_outputs come from the global stream
    ok2 = ag.gradgradcheck(Cube.apply, (x,), gen_non_contig_grad_outputs=True)
    failed = err(lambda: ag.gradgradcheck(FirstOrderOnly.apply, (x.reshape(2, 2),)))
    return ag.gradcheck(Cube.apply, (x,)), ok2, \
        ag.gradcheck(Wrong.apply, (x,), raise_exception=False), gx, ggx, \
        err(lambda: ag.gradcheck(Wrong.apply, (x,))), failed, L.rand(2)


# ----------------------------------------------------------------------------------------------
# metrics and evaluation
# ----------------------------------------------------------------------------------------------
@program
def running_confusion_matrix_with_bincount(L):
    """A confusion matrix accumulated over batches with bincount(num_classes * target + pred,
    minlength=C*C).reshape(C, C), ignoring a void label; per-class precision, recall, F1
    (nan_to_num for empty classes) and overall accuracy from its diagonal."""
    C = 4
    cm = L.zeros(C, C, dtype=L.int64)
    for seed in range(3):
        t = L.tensor(labels(10, C + 1, seed=seed)) - 1
        p = L.tensor(labels(10, C, seed=seed + 10))
        valid = t >= 0
        cm += L.bincount(C * t[valid] + p[valid], minlength=C * C).reshape(C, C)
    cmf = cm.double()
    tp = cmf.diag()
    precision = tp / cmf.sum(0)
    recall = tp / cmf.sum(1)
    f1 = (2 * precision * recall / (precision + recall)).nan_to_num(0.0)
    return cm, precision, recall, f1, (tp.sum() / cmf.sum()).item()


@program
def top_k_accuracy_per_k(L):
    """Top-k accuracy for k in (1, 3): topk indices transposed, eq against expanded targets,
    the first k rows summed; reported as percentages of the batch, as classification
    scripts print them."""
    out = L.tensor(normal32(8, 6, seed=25))
    target = L.tensor(labels(8, 6, seed=26))
    maxk = 3
    _, pred = out.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    res = []
    for k in (1, 3):
        correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
        res.append(correct_k.mul_(100.0 / target.size(0)))
    return res, correct


@program
def auroc_by_sorting_scores(L):
    """Binary AUROC computed by sorting scores descending, cumulative true/false positive
    counts, and trapezoidal integration (torch.trapezoid) of TPR over FPR; and the
    rank-based (Mann-Whitney) form with argsort of argsort; both agree."""
    scores = L.tensor(normal64(20, seed=27))
    target = L.tensor(labels(20, 2, seed=28))
    order = scores.argsort(descending=True)
    t = target[order].double()
    tps = t.cumsum(0)
    fps = (1 - t).cumsum(0)
    tpr = L.cat([L.zeros(1, dtype=L.float64), tps / tps[-1]])
    fpr = L.cat([L.zeros(1, dtype=L.float64), fps / fps[-1]])
    auc = L.trapezoid(tpr, fpr)
    ranks = scores.argsort().argsort().double() + 1
    npos = target.sum()
    nneg = target.numel() - npos
    mw = (ranks[target == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg)
    return auc, mw, tpr, fpr


@program
def mean_iou_from_segmentation_masks(L):
    """Mean IoU of argmax predictions against masks with an ignore label (255): one-hot
    masks by comparing against arange over classes, intersection and union summed over
    pixels and batch, classes absent from both skipped by nanmean."""
    C = 4
    logits = L.tensor(normal32(2, C, 5, 5, seed=29))
    target = L.tensor(labels(50, C, seed=30).reshape(2, 5, 5))
    target[0, 0, :3] = 255
    target[target == 3] = 255
    pred = logits.argmax(1)
    valid = target != 255
    cls = L.arange(C).view(C, 1, 1, 1)
    p1 = (pred[None] == cls) & valid[None]
    t1 = target[None] == cls
    inter = (p1 & t1).sum((1, 2, 3)).float()
    union = (p1 | t1).sum((1, 2, 3)).float()
    iou = inter / union
    iou = L.where(union > 0, iou, L.tensor(float("nan")))
    return inter, union, iou, iou.nanmean(), valid.sum()


@program
def eval_switching_batchnorm_and_dropout(L):
    """model.train() vs model.eval() under no_grad and inference_mode: BatchNorm uses batch
    statistics (and updates running stats, num_batches_tracked) in train and the running
    ones in eval; Dropout is active only in train; inference_mode results are inference
    tensors, and using them in autograd is refused."""
    nn = L.nn
    L.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=0.3), nn.Dropout(0.5),
                          nn.Linear(4, 2)).double()
    load_seeded(L, model, seed=31)
    x = L.tensor(normal64(6, 3, seed=32))
    with L.no_grad():
        L.manual_seed(5)
        train_out = model(x)
    stats = (model[1].running_mean.clone(), model[1].num_batches_tracked.clone())
    model.eval()
    with L.no_grad():
        e1 = model(x)
    with L.inference_mode():
        e2 = model(x)
    w = L.ones(2, dtype=L.float64, requires_grad=True)
    return train_out, stats, e1, e2, e2.is_inference(), e1.is_inference(), \
        model.training, [m.training for m in model], \
        err(lambda: (e2 * w).sum().backward())


# ----------------------------------------------------------------------------------------------
# runtime surface
# ----------------------------------------------------------------------------------------------
@program
def compile_as_a_pass_through_training(L):
    """torch.compile(model, backend='eager') used as libraries do under a flag: the compiled
    module's outputs, gradients and optimizer steps equal the eager model's; its state_dict
    keys carry the _orig_mod prefix; the original stays reachable. (The warnings of torch's
    tracing machinery, given once per process or again after another test reset the filters,
    are not this program's subject: silenced on both sides.)"""
    nn = L.nn
    L.manual_seed(0)
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1)),
                        seed=33).double()
    cm = L.compile(model, backend="eager")
    x, y = L.tensor(normal64(5, 3, seed=34)), L.tensor(normal64(5, 1, seed=35))
    opt = L.optim.SGD(cm.parameters(), lr=0.1)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2):
            opt.zero_grad()
            loss = ((cm(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses, list(cm.state_dict()), cm._orig_mod is model, model(x), \
        type(cm).__name__


@program
def backend_flags_and_matmul_precision(L):
    """What training scripts set at start: cudnn.benchmark / deterministic, allow_tf32 flags,
    set_float32_matmul_precision and its getter (and the bad value's warning), the two
    faces of one setting (cuda.matmul.allow_tf32 follows the precision and moves it), mps/cuda
    availability queries on a CPU machine; the flags found are put back."""
    b = L.backends
    old = L.get_float32_matmul_precision()
    flags = (b.cudnn.benchmark, b.cudnn.deterministic)
    b.cudnn.benchmark = False
    b.cudnn.deterministic = True
    L.set_float32_matmul_precision("highest")
    first = L.get_float32_matmul_precision()
    L.set_float32_matmul_precision("high")
    got = L.get_float32_matmul_precision()
    bad = err(lambda: L.set_float32_matmul_precision("fastest"))
    seen = (b.cudnn.deterministic, b.cuda.matmul.allow_tf32)
    # cuda.matmul.allow_tf32 and the matmul precision are one setting seen two ways
    # (torch's switching back by allow_tf32 = False leaves its per-backend settings mixed,
    # and the getter refuses: not done here)
    L.set_float32_matmul_precision("highest")
    tf32 = [b.cuda.matmul.allow_tf32]
    b.cuda.matmul.allow_tf32 = True
    tf32.append((L.get_float32_matmul_precision(), b.cuda.matmul.allow_tf32))
    L.set_float32_matmul_precision("medium")
    tf32.append(b.cuda.matmul.allow_tf32)
    L.set_float32_matmul_precision("highest")
    tf32.append(b.cuda.matmul.allow_tf32)
    # what the program set, and what an earlier test left, put back
    b.cudnn.benchmark, b.cudnn.deterministic = flags[:2]
    L.set_float32_matmul_precision(old)
    return first, got, bad, seen, tf32, b.cudnn.allow_tf32, \
        L.cuda.is_available(), b.mps.is_available()


@program
def rng_state_round_trips(L):
    """get_rng_state / set_rng_state reproduce the same rand, randn, randint and dropout
    draws; a Generator's get_state/set_state; initial_seed after manual_seed; fork_rng
    restores the global state on exit; a Generator for the meta device is refused."""
    L.manual_seed(1234)
    state = L.get_rng_state()
    a = (L.rand(3), L.randn(2, dtype=L.float64), L.randint(0, 10, (4,)),
         L.nn.functional.dropout(L.ones(6), 0.5))
    L.set_rng_state(state)
    b = (L.rand(3), L.randn(2, dtype=L.float64), L.randint(0, 10, (4,)),
         L.nn.functional.dropout(L.ones(6), 0.5))
    g = L.Generator().manual_seed(9)
    gs = g.get_state()
    c1 = L.randn(3, generator=g)
    g.set_state(gs)
    c2 = L.randn(3, generator=g)
    with L.random.fork_rng():
        L.manual_seed(0)
        L.rand(5)
    after = L.rand(2)
    L.set_rng_state(state)
    L.rand(3), L.randn(2, dtype=L.float64), L.randint(0, 10, (4,)), \
        L.nn.functional.dropout(L.ones(6), 0.5)
    return a, b, c1, c2, state.dtype, L.initial_seed(), after, L.rand(2), \
        err(lambda: L.set_rng_state(L.zeros(3))), err(lambda: L.Generator(device="meta")), \
        str(L.Generator(device=L.device("cpu")).device)


@program
def deterministic_algorithms_switch(L):
    """use_deterministic_algorithms(True, warn_only=...) and its getters, as reproducibility
    helpers set them; index_add_ and scatter_add_ still give the right sums on the CPU; the
    setting restored; the refusals of non-bool settings (here and of set_anomaly_enabled and
    set_flush_denormal) with the words of torch's parser, positional and keyword."""
    before = (L.are_deterministic_algorithms_enabled(),
              L.is_deterministic_algorithms_warn_only_enabled())
    L.use_deterministic_algorithms(True, warn_only=True)
    during = (L.are_deterministic_algorithms_enabled(),
              L.is_deterministic_algorithms_warn_only_enabled())
    x = L.zeros(4, dtype=L.float64).index_add_(0, L.tensor([0, 2, 0]),
                                                L.tensor([1.0, 2.0, 3.0], dtype=L.float64))
    y = L.zeros(3).scatter_add_(0, L.tensor([1, 1, 2]), L.tensor([1.0, 1.0, 5.0]))
    L.use_deterministic_algorithms(False)
    off = L.are_deterministic_algorithms_enabled()
    L.use_deterministic_algorithms(before[0], warn_only=before[1])     # (as it was found)
    return during, x, y, off, \
        err(lambda: L.use_deterministic_algorithms("yes")), \
        err(lambda: L.use_deterministic_algorithms(True, warn_only=1)), \
        err(lambda: L.set_anomaly_enabled(True, "on")), \
        err(lambda: L.set_anomaly_enabled(True, check_nan=0)), \
        err(lambda: L.set_anomaly_enabled(enabled=1)), L.set_flush_denormal(False), \
        err(lambda: L.set_flush_denormal(1)), err(lambda: L.set_flush_denormal(mode=True)), \
        L.is_anomaly_enabled()


@program
def autocast_cpu_bfloat16_region(L):
    """A forward inside torch.autocast('cpu', dtype=bfloat16): linear and matmul run in
    bfloat16, sums and softmax follow autocast's lists, is_autocast_enabled inside and out,
    the backward into float32 parameters gives float32 gradients."""
    nn = L.nn
    L.manual_seed(0)
    lin = load_seeded(L, nn.Linear(4, 3), seed=36)
    x = L.tensor(normal32(5, 4, seed=37))
    with L.autocast("cpu", dtype=L.bfloat16):
        h = lin(x)
        inside = L.is_autocast_enabled("cpu")
        mm = x @ x.t()
        sm = h.float().softmax(-1)
        loss = h.float().pow(2).mean()
    loss.backward()
    return h.dtype, mm.dtype, sm.dtype, inside, L.is_autocast_enabled("cpu"), \
        lin.weight.grad.dtype, h.float(), lin.weight.grad


# ----------------------------------------------------------------------------------------------
# more of each domain
# ----------------------------------------------------------------------------------------------
@program
def beam_search_over_a_tiny_lm(L):
    """Beam search with width 3: log_softmax scores added to the beams' running scores,
    topk over the flattened (beam * vocab) table, beam and token recovered with
    floor division and remainder, the prefixes reordered with index_select; the final
    beams and scores."""
    lm = _tiny_lm(L, seed=4).double().eval()
    V, W = 11, 3
    with L.no_grad():
        seqs = L.tensor([[2, 5]]).repeat(W, 1)
        scores = L.tensor([0.0] + [float("-inf")] * (W - 1), dtype=L.float64)
        for _ in range(3):
            logp = lm(seqs)[:, -1].log_softmax(-1)
            total = (scores[:, None] + logp).view(-1)
            top, flat = total.topk(W)
            beam = L.div(flat, V, rounding_mode="floor")
            tok = flat % V
            seqs = L.cat([seqs.index_select(0, beam), tok[:, None]], dim=1)
            scores = top
    return seqs, scores, scores.softmax(0)


@program
def categorical_sampling_with_temperature(L):
    """Sampling the next token from Categorical(logits=logits / T) under manual_seed: the
    samples, log_prob of them, entropy, and the same draws from multinomial over softmax;
    the refusal of a distribution given both probs and logits."""
    D = L.distributions
    logits = L.tensor(normal64(4, 6, seed=41))
    out = []
    for T in (0.5, 1.0, 2.0):
        dist = D.Categorical(logits=logits / T)
        L.manual_seed(3)
        s = dist.sample((2,))
        out.append((s, dist.log_prob(s), dist.entropy(), dist.probs))
    L.manual_seed(3)
    m = L.multinomial((logits / 0.5).softmax(-1), 2, replacement=True)
    return out, m, err(lambda: D.Categorical(probs=logits.softmax(-1), logits=logits))


@program
def expected_calibration_error_with_bucketize(L):
    """Expected calibration error: confidences from softmax max, bins from bucketize over
    linspace boundaries, per-bin counts, accuracy and confidence sums by bincount with
    weights; histc of the confidences as a reliability histogram."""
    probs = L.tensor(normal64(30, 4, seed=42) * 2).softmax(-1)
    target = L.tensor(labels(30, 4, seed=43))
    conf, pred = probs.max(-1)
    correct = (pred == target).double()
    edges = L.linspace(0, 1, 6, dtype=L.float64)
    bins = L.bucketize(conf, edges[1:-1], right=True)
    n = L.bincount(bins, minlength=5).double()
    acc = L.bincount(bins, weights=correct, minlength=5)
    cs = L.bincount(bins, weights=conf, minlength=5)
    safe = n.clamp(min=1)
    ece = ((acc / safe - cs / safe).abs() * n / n.sum()).sum()
    return bins, n, ece, L.histc(conf, bins=5, min=0, max=1)


@program
def grad_mode_switches_nest(L):
    """no_grad as a decorator and a context, enable_grad inside it, set_grad_enabled as a
    call and a context, inference_mode(False) inside inference_mode, and the flags each
    reports; which results require grad."""
    x = L.tensor(normal64(3, seed=44), requires_grad=True)

    @L.no_grad()
    def frozen(v):
        with L.enable_grad():
            inner = v * 2
        return v * 3, inner, L.is_grad_enabled()

    a, b, flag = frozen(x)
    with L.set_grad_enabled(False):
        c = x + 1
        with L.inference_mode():
            d = x * 5
            with L.inference_mode(False):
                e = x * 6
                inner_flags = (L.is_inference_mode_enabled(), L.is_grad_enabled())
            flags = (L.is_inference_mode_enabled(), L.is_grad_enabled())
    L.set_grad_enabled(False)
    f = x * 7
    L.set_grad_enabled(True)
    return [t.requires_grad for t in (a, b, c, d, e, f)], flag, flags, inner_flags, \
        d.is_inference(), e.is_inference(), L.is_grad_enabled()


@program
def autocast_nesting_and_dtype_queries(L):
    """autocast regions nested with enabled=False inside, get_autocast_dtype, the
    amp.autocast spelling, an autocast-decorated forward; matmul results' dtypes in each
    region, and an unsupported cpu dtype's warning."""
    a = L.tensor(normal32(3, 3, seed=45))
    dts = []
    with L.autocast("cpu", dtype=L.bfloat16):
        dts.append((a @ a).dtype)
        dts.append(L.get_autocast_dtype("cpu"))
        with L.autocast("cpu", enabled=False):
            dts.append((a @ a).dtype)
        with L.amp.autocast("cpu"):
            dts.append((a @ a).dtype)

    @L.autocast("cpu", dtype=L.bfloat16)
    def f(v):
        return L.mm(v, v)

    dts.append(f(a).dtype)
    with L.autocast("cpu", dtype=L.float64):
        dts.append((a @ a).dtype)
    return dts, (a @ a).dtype


@program
def grad_scaler_disabled_on_cpu_as_a_no_op(L):
    """An amp.GradScaler('cpu', enabled=False) in a training loop written for mixed
    precision: scale() returns the loss itself, step/update run the optimizer plainly,
    get_scale is 1.0; the losses and weights equal a loop without it."""
    nn = L.nn

    def run(use_scaler):
        L.manual_seed(0)
        model = load_seeded(L, nn.Linear(3, 2), seed=46).double()
        opt = L.optim.SGD(model.parameters(), lr=0.2)
        scaler = L.amp.GradScaler("cpu", enabled=False)
        x, y = L.tensor(normal64(4, 3, seed=47)), L.tensor(normal64(4, 2, seed=48))
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            if use_scaler:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            losses.append(loss.item())
        return losses, model.weight, scaler.get_scale(), scaler.is_enabled(), \
            scaler.scale(loss) is loss

    return run(True), run(False)


@program
def clip_grad_norm_refuses_nonfinite_gradients(L):
    """clip_grad_norm_ returns the total norm (2, inf and 1 norms), scales gradients in place
    only when above the max; with an inf gradient and error_if_nonfinite=True it raises
    torch's RuntimeError; clip_grad_value_ clamps."""
    nn = L.nn
    L.manual_seed(0)
    m = load_seeded(L, nn.Linear(3, 2), seed=49).double()
    x = L.tensor(normal64(4, 3, seed=50))
    m(x).pow(2).sum().backward()
    g0 = [p.grad.clone() for p in m.parameters()]
    n2 = nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    after = [p.grad.clone() for p in m.parameters()]
    ninf = nn.utils.clip_grad_norm_(m.parameters(), 100.0, norm_type="inf")
    n1 = nn.utils.clip_grad_norm_(m.parameters(), 100.0, norm_type=1)
    nn.utils.clip_grad_value_(m.parameters(), 0.05)
    clamped = [p.grad.clone() for p in m.parameters()]
    m.bias.grad[0] = float("inf")
    return g0, n2, after, ninf, n1, clamped, \
        err(lambda: nn.utils.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True))


@program
def in_place_function_with_mark_dirty(L):
    """A custom in-place ReLU (clamp_ on the input inside forward, mark_dirty, output saved
    for backward) applied to a non-leaf: the input's version bumps, gradients flow to the
    leaf; on a leaf that requires grad it is refused with torch's words."""
    class ReluInplace(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.clamp_(min=0)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * (y > 0).to(g.dtype)

    w = L.tensor(normal64(5, seed=51), requires_grad=True)
    h = w * 2
    v0 = h._version
    out = ReluInplace.apply(h)
    (out * L.arange(5, dtype=L.float64)).sum().backward()
    return out, out is h, h._version > v0, w.grad, \
        err(lambda: ReluInplace.apply(L.ones(2, requires_grad=True)))


@program
def meta_device_build_then_to_empty_and_init(L):
    """Building a model on the meta device (no memory), checking shapes and that it cannot be
    run on real inputs, then to_empty(device='cpu') and reset_parameters under a seed: the
    weights equal a model built directly on the CPU with the same seed."""
    nn = L.nn
    with L.device("meta"):
        m = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    shapes = [(n, p.shape, p.device.type, p.is_meta) for n, p in m.named_parameters()]
    m = m.to_empty(device="cpu")
    L.manual_seed(7)
    for mod in m.modules():
        if hasattr(mod, "reset_parameters"):
            mod.reset_parameters()
    L.manual_seed(7)
    ref = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    return shapes, dict(m.state_dict()), dict(ref.state_dict()), \
        [p.device.type for p in m.parameters()]


@program
def renaming_old_checkpoint_keys_with_a_load_pre_hook(L):
    """A module whose layer was renamed registers a load_state_dict pre-hook that rewrites
    the old keys ('fc.' -> 'proj.') in the incoming dict; loading an old checkpoint works
    strictly; strict=False with an extra key returns it as unexpected; a shape mismatch
    raises with torch's words."""
    nn = L.nn

    class Old(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

    class New(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(3, 2)
            self.register_load_state_dict_pre_hook(self._rename)

        @staticmethod
        def _rename(module, state_dict, prefix, local_metadata, strict, missing, unexpected,
                    errors):
            for k in list(state_dict):
                if k.startswith(prefix + "fc."):
                    state_dict[prefix + "proj." + k[len(prefix) + 3:]] = state_dict.pop(k)

    L.manual_seed(0)
    old = load_seeded(L, Old(), seed=52)
    new = New()
    res = new.load_state_dict(old.state_dict())
    extra = dict(old.state_dict(), **{"extra.w": L.ones(1)})
    res2 = New().load_state_dict(extra, strict=False)
    bad = {"fc.weight": L.ones(2, 2), "fc.bias": L.ones(2)}
    return dict(new.state_dict()), tuple(res), res2.missing_keys, res2.unexpected_keys, \
        err(lambda: New().load_state_dict(bad))


@program
def non_persistent_rotary_cache_buffer(L):
    """A rotary-embedding module keeps cos/sin caches as non-persistent buffers (absent from
    state_dict, present in buffers(), moved by .double()), rebuilding them when a longer
    sequence comes; its output and the state dict keys."""
    nn = L.nn

    class Rotary(nn.Module):
        def __init__(self, dim, base=10000.0):
            super().__init__()
            inv = 1.0 / base ** (L.arange(0, dim, 2).float() / dim)
            self.register_buffer("inv_freq", inv, persistent=False)
            self._build(4)

        def _build(self, n):
            t = L.arange(n, dtype=self.inv_freq.dtype)
            f = L.einsum("i,j->ij", t, self.inv_freq)
            emb = L.cat((f, f), dim=-1)
            self.register_buffer("cos_cached", emb.cos(), persistent=False)
            self.register_buffer("sin_cached", emb.sin(), persistent=False)

        def forward(self, x):
            T = x.shape[-2]
            if T > self.cos_cached.shape[0]:
                self._build(T)
            x1, x2 = x.chunk(2, dim=-1)
            rot = L.cat((-x2, x1), dim=-1)
            return x * self.cos_cached[:T] + rot * self.sin_cached[:T]

    r = Rotary(4).double()
    x = L.tensor(normal64(2, 6, 4, seed=53))
    y = r(x)
    return y, list(r.state_dict()), sorted(n for n, _ in r.named_buffers()), \
        r.cos_cached.shape, r.inv_freq.dtype


@program
def contrastive_info_nce_loss(L):
    """A SimCLR-style InfoNCE loss: two views normalised with F.normalize, a 2N x 2N cosine
    similarity matrix with the diagonal masked by fill_diagonal_ to -inf, positives at
    (i + N) % 2N, cross_entropy over temperature-scaled logits; gradients of the
    embeddings in float64."""
    F = L.nn.functional
    N = 4
    z1 = L.tensor(normal64(N, 5, seed=54), requires_grad=True)
    z2 = L.tensor(normal64(N, 5, seed=55), requires_grad=True)
    z = F.normalize(L.cat([z1, z2]), dim=1)
    sim = z @ z.t() / 0.2
    sim = sim.clone().fill_diagonal_(float("-inf"))
    pos = (L.arange(2 * N) + N) % (2 * N)
    loss = F.cross_entropy(sim, pos)
    loss.backward()
    acc = (sim.argmax(1) == pos).float().mean()
    return loss, z1.grad, z2.grad, acc


@program
def sdpa_backend_context_and_is_causal(L):
    """scaled_dot_product_attention with is_causal=True equals the explicit tril mask,
    under the nn.attention.sdpa_kernel(SDPBackend.MATH) context; enable_gqa with fewer key
    heads; scale=; the misuse of both attn_mask and is_causal is refused with torch's
    words."""
    F = L.nn.functional
    from_attn = L.nn.attention
    q = L.tensor(normal64(2, 4, 5, 6, seed=56), requires_grad=True)
    k = L.tensor(normal64(2, 4, 5, 6, seed=57))
    v = L.tensor(normal64(2, 4, 5, 6, seed=58))
    with from_attn.sdpa_kernel(from_attn.SDPBackend.MATH):
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    mask = L.ones(5, 5, dtype=L.bool).tril()
    b = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3)
    kg, vg = k[:, :2], v[:, :2]
    c = F.scaled_dot_product_attention(q, kg, vg, is_causal=True, enable_gqa=True)
    (a.sum() + b.square().sum() + c.sum()).backward()
    return a, b, c, q.grad, \
        err(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=True))


@program
def compiler_helpers_as_libraries_probe_them(L):
    """What libraries call around compile: torch.compiler.is_compiling() (False eagerly),
    torch.compiler.disable as a decorator, torch.compile on a plain function with
    fullgraph/dynamic keywords, and torch._dynamo.reset; the function's values; the refusals
    of an unknown backend (torch._dynamo.exc.InvalidBackend, a RuntimeError), an unknown
    inductor mode, a mode beside options and a non-callable; list_backends."""
    @L.compiler.disable
    def helper(v):
        return v * 2, L.compiler.is_compiling()

    def fn(v):
        return L.sin(v) + v.cos() ** 2

    cfn = L.compile(fn, backend="eager", fullgraph=True, dynamic=False)
    x = L.tensor(normal64(5, seed=59))
    L._dynamo.reset()
    bad_backend = err(lambda: L.compile(fn, backend="no_such_backend"))
    deco = L.compile(backend="no_such_backend")       # refused only when it gets a function
    return helper(x), cfn(x), fn(x), L.compiler.is_compiling(), bad_backend, \
        isinstance(bad_backend.exc, RuntimeError), type(bad_backend.exc).__module__, \
        err(lambda: deco(fn)), err(lambda: L.compile(fn, mode="fastest")), \
        callable(L.compile(fn, backend="eager", mode="fastest")), \
        err(lambda: L.compile(fn, mode="max-autotune", options={"triton.cudagraphs": False})), \
        err(lambda: L.compile(3)), L.compiler.list_backends(), \
        L._dynamo.list_backends(exclude_tags=None)


@program
def saving_views_and_loading_with_map_location(L):
    """torch.save of a dict holding a tensor and two views of it: after load the views still
    share storage with the base (a write shows through); map_location='cpu' and a callable
    map_location; a slice saved alone loads with its values."""
    base = L.arange(12.0).reshape(3, 4)
    obj = {"base": base, "row": base[1], "col": base[:, 2], "n": 3}
    buf = io.BytesIO()
    L.save(obj, buf)
    buf.seek(0)
    got = L.load(buf, map_location="cpu")
    got["base"][1, 2] = -1.0
    buf.seek(0)
    got2 = L.load(buf, map_location=lambda storage, loc: storage)
    sl = io.BytesIO()
    L.save(base[0, :2], sl)
    sl.seek(0)
    piece = L.load(sl)
    # (torch keeps the slice's whole storage, 48 bytes; minigrad's safetensors file keeps the
    # slice's own bytes: a deliberate difference, the values and layout compared only)
    return got["row"], got["col"], got2["base"], got["n"], piece, piece.is_contiguous(), \
        got["col"].stride(), got["col"].storage_offset()



@program
def knowledge_distillation_loss_with_temperature(L):
    """Hinton-style distillation: KL divergence between temperature-softened student
    log-probabilities and teacher probabilities (batchmean, scaled by T^2), mixed with the
    hard-label cross entropy; the log_target=True form agrees; student gradients in float64
    with the teacher under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    student = load_seeded(L, nn.Linear(4, 5), seed=60).double()
    teacher = load_seeded(L, nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 5)),
                          seed=61).double().eval()
    x = L.tensor(normal64(6, 4, seed=62))
    y = L.tensor(labels(6, 5, seed=63))
    T, alpha = 3.0, 0.7
    with L.no_grad():
        t_logits = teacher(x)
    s_logits = student(x)
    soft = F.kl_div(F.log_softmax(s_logits / T, -1), F.softmax(t_logits / T, -1),
                    reduction="batchmean") * T * T
    soft_lt = F.kl_div(F.log_softmax(s_logits / T, -1), F.log_softmax(t_logits / T, -1),
                       reduction="batchmean", log_target=True) * T * T
    loss = alpha * soft + (1 - alpha) * F.cross_entropy(s_logits, y)
    loss.backward()
    return soft, soft_lt, loss, student.weight.grad, t_logits.requires_grad


@program
def mixup_with_beta_draws_and_a_permutation(L):
    """Mixup: a mixing weight from Beta(alpha, alpha) sampled under manual_seed, a randperm
    of the batch, inputs blended with lerp and the loss as the same blend of two cross
    entropies; CutMix's box from the same weight; values and gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    model = load_seeded(L, nn.Linear(6, 3), seed=64).double()
    x = L.tensor(normal64(5, 6, seed=65))
    y = L.tensor(labels(5, 3, seed=66))
    L.manual_seed(8)
    lam = L.distributions.Beta(L.tensor(0.4), L.tensor(0.4)).sample().item()
    perm = L.randperm(5)
    mixed = x.lerp(x[perm], 1 - lam)
    out = model(mixed)
    loss = lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[perm])
    loss.backward()
    H = W = 8
    cut = math.sqrt(1.0 - lam)
    ch, cw = int(H * cut), int(W * cut)
    cy, cx = L.randint(H, (1,)).item(), L.randint(W, (1,)).item()
    box = (max(cy - ch // 2, 0), min(cy + ch // 2, H), max(cx - cw // 2, 0), min(cx + cw // 2, W))
    return lam, perm, mixed, loss, model.weight.grad, box


@program
def sigmoid_focal_loss_for_dense_detection(L):
    """The focal loss of dense detectors: binary_cross_entropy_with_logits without reduction,
    p_t from the sigmoid, a (1 - p_t)^gamma modulating factor and alpha weighting, summed and
    normalised by the number of positives (clamped at 1); gradients in float64."""
    F = L.nn.functional
    logits = L.tensor(normal64(4, 6, seed=67) * 2, requires_grad=True)
    targets = (L.tensor(normal64(4, 6, seed=68)) > 0.8).double()
    alpha, gamma = 0.25, 2.0
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    a_t = alpha * targets + (1 - alpha) * (1 - targets)
    total = (a_t * loss).sum() / targets.sum().clamp(min=1.0)
    total.backward()
    return total, logits.grad, targets.sum()


@program
def gradient_statistics_from_full_backward_hooks(L):
    """register_full_backward_hook on every Linear records the norms of grad_output and
    grad_input, and a register_full_backward_pre_hook scales grad_output by 0.5 on one layer;
    the recorded norms, the order the hooks ran in, and the weight gradients."""
    nn = L.nn
    L.manual_seed(0)
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)),
                        seed=69).double()
    seen = []

    def record(name):
        def hook(mod, grad_input, grad_output):
            seen.append((name, grad_output[0].norm().item(),
                         None if grad_input[0] is None else grad_input[0].norm().item()))
        return hook

    handles = [m.register_full_backward_hook(record(n)) for n, m in model.named_modules()
               if isinstance(m, nn.Linear)]
    handles.append(model[2].register_full_backward_pre_hook(
        lambda mod, grad_output: (grad_output[0] * 0.5,)))
    x = L.tensor(normal64(5, 3, seed=70), requires_grad=True)
    model(x).pow(2).sum().backward()
    for h in handles:
        h.remove()
    return seen, model[0].weight.grad, model[2].weight.grad, x.grad



@program
def inputs_from_make_tensor_under_a_seed(L):
    """Test suites written against torch build inputs with torch.testing.make_tensor after
    manual_seed: floating, complex, integer and bool tensors, noncontiguous ones (every
    other entry of a wider tensor, from the second) and exclude_zero; the values, layout and
    the generator's next draw."""
    mk = L.testing.make_tensor
    L.manual_seed(17)
    a = mk((3, 4), dtype=L.float32, device="cpu", low=-2, high=2)
    b = mk((2, 3), dtype=L.float64, device="cpu", noncontiguous=True, requires_grad=True)
    c = mk((3,), dtype=L.complex128, device="cpu")
    d = mk((2, 5), dtype=L.int16, device="cpu", exclude_zero=True)
    e = mk((6,), dtype=L.bool, device="cpu")
    f = mk((4,), dtype=L.uint8, device="cpu", noncontiguous=True)
    return a, b, c, d, e, f, b.is_contiguous(), b.stride(), b.storage_offset(), b.is_leaf, \
        L.rand(2)


_SLOW = set()
# programs that end in torch's exception (minigrad must raise the same, with its words)
_RAISING = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    raised = HARNESS.check(fn, **fn.options)
    assert (raised is not None) == (fn.__name__ in _RAISING), raised
