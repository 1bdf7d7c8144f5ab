"""Whole programs in the idioms of code people run, an eighth round: the plumbing around
models rather than their architectures.  A Trainer-like loop (gradient accumulation, warmup
and decay by LambdaLR, clipping, AdamW parameter groups without decay on biases and norms, an
EMA of the weights, a checkpoint of model, optimizer, scheduler and RNG state through a buffer
and a resume that continues with the same losses), autocast and GradScaler on the CPU, data
loading (collate functions, samplers with seeded generators, IterableDatasets), activation
checkpointing, seeding idioms, metrics by hand (top-k accuracy, confusion matrices, F1, ROC
AUC, mAP, BLEU, perplexity), model surgery and hooks, eval-mode semantics, losses with their
options, and the tensor idioms of library internals.

Each ``program(lib)`` runs with ``lib`` = torch and ``lib`` = minigrad on the same numpy inputs
and copied weights; both must give the same values (float64 to ~1e-9, float32 to ~1e-5),
dtypes, shapes and requires_grad, or raise the same exception type with torch's words.
"""
import copy
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    SideBySide, bare, err, grads_of, labels as _labels, load_seeded, normal64 as _arr,
    params_of, registry, train_steps)


HARNESS = SideBySide(rename=bare, rename_error=bare,
                     tol={"float32": (1e-5, 1e-6), "bfloat16": (1e-2, 1e-2),
                          "float64": (1e-9, 1e-11)},
                     scalar_tol=(1e-9, 1e-11), requires_grad=True)
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# a Trainer-like loop
# ----------------------------------------------------------------------------------------------
def _tiny_lm(L):
    nn = L.nn

    class TinyLM(nn.Module):
        def __init__(self, vocab=11, d=8):
            super().__init__()
            self.embed = nn.Embedding(vocab, d)
            self.norm = nn.LayerNorm(d)
            self.ff = nn.Sequential(nn.Linear(d, 16), nn.GELU(), nn.Linear(16, d))
            self.head = nn.Linear(d, vocab, bias=False)
            self.head.weight = self.embed.weight          # tied weights

        def forward(self, ids):
            h = self.embed(ids)
            h = h + self.ff(self.norm(h))
            return self.head(h)

    return load_seeded(L, TinyLM().double(), 5, 0.3)


def _param_groups(model, wd=0.01):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if n.endswith("bias") or "norm" in n else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def _warmup_linear(warmup, total):
    """LR factor: from 0 up to 1 over ``warmup`` steps, then down in a straight line to 0 at
    ``total``, never negative."""
    def factor(step):
        rising = step < warmup
        num, den = (step, warmup) if rising else (total - step, total - warmup)
        value = float(num) / float(max(1, den))
        return value if rising else max(0.0, value)
    return factor


@program
def trainer_loop_accumulation_warmup_clip_ema(L):
    """An HF-Trainer-like loop: AdamW with groups that spare biases and LayerNorm from decay,
    linear warmup then decay by LambdaLR, gradient accumulation over micro-batches, clipping
    by total norm (the norm logged), an EMA copy of the weights updated by lerp_."""
    F = L.nn.functional
    model = _tiny_lm(L)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = L.optim.AdamW(_param_groups(model), lr=1e-2, betas=(0.9, 0.98), eps=1e-8)
    sched = L.optim.lr_scheduler.LambdaLR(opt, _warmup_linear(2, 8))
    data = L.tensor(_labels(6 * 4 * 5, 11, 1).reshape(6, 4, 5))
    accum, losses, norms, lrs = 2, [], [], []
    for i, batch in enumerate(data):
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 11), batch[:, 1:].reshape(-1)) / accum
        loss.backward()
        losses.append(loss.item())
        if (i + 1) % accum == 0:
            norms.append(float(L.nn.utils.clip_grad_norm_(model.parameters(), 0.5)))
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            lrs.append(sched.get_last_lr())
            with L.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 0.1)
    groups = [len(g["params"]) for g in opt.param_groups]
    return dict(losses=losses, norms=norms, lrs=lrs, groups=groups, ema=params_of(ema),
                w=params_of(model), tied=model.head.weight is model.embed.weight,
                state=[int(s["step"]) for s in opt.state.values()])


@program
def checkpoint_resume_gives_identical_losses(L):
    """Train, save model/optimizer/scheduler/RNG state to a BytesIO with torch.save, train on
    (with dropout, so the RNG matters); then load everything into fresh objects and train the
    same steps: the losses after resuming are the same as those of the run that went on."""
    nn, F = L.nn, L.nn.functional

    def build():
        m = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Dropout(0.3), nn.Linear(12, 3))
        m = load_seeded(L, m.double(), 3, 0.4)
        o = L.optim.AdamW(m.parameters(), lr=3e-2, weight_decay=0.05)
        s = L.optim.lr_scheduler.LambdaLR(
            o, lambda k: min(1.0, (k + 1) / 3) * 0.5 * (1 + math.cos(math.pi * k / 10)))
        return m, o, s

    x = L.tensor(_arr(10, 6, seed=4))
    y = L.tensor(_labels(10, 3, 5))

    def steps(m, o, s, n):
        out = []
        for _ in range(n):
            o.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            o.step()
            s.step()
            out.append(loss.item())
        return out

    L.manual_seed(0)
    model, opt, sched = build()
    first = steps(model, opt, sched, 3)
    buf = io.BytesIO()
    L.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "rng": L.get_rng_state(), "epoch": 3}, buf)
    went_on = steps(model, opt, sched, 3)
    buf.seek(0)
    ck = L.load(buf, weights_only=False)
    model2, opt2, sched2 = build()
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optimizer"])
    sched2.load_state_dict(ck["scheduler"])
    L.set_rng_state(ck["rng"])
    resumed = steps(model2, opt2, sched2, 3)
    return dict(first=first, went_on=went_on, resumed=resumed, same=went_on == resumed,
                lr=sched2.get_last_lr(), epoch=ck["epoch"], keys=sorted(ck["optimizer"]),
                w=params_of(model2), rng=ck["rng"].dtype)


@program
def cosine_schedule_with_warmup_and_sequential_lr(L):
    """Schedulers as libraries combine them: a cosine LambdaLR with warmup across two groups
    with different base lrs, SequentialLR of LinearLR then CosineAnnealingLR, OneCycleLR's
    momentum cycling, and the lrs read back from param_groups."""
    p = [L.nn.Parameter(L.ones(2, dtype=L.float64)) for _ in range(3)]

    def cosine(step, warmup=3, total=12, cycles=0.5):
        if step < warmup:
            return step / max(1, warmup)
        prog = (step - warmup) / max(1, total - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * cycles * 2.0 * prog)))

    o1 = L.optim.SGD([{"params": [p[0]], "lr": 0.1}, {"params": [p[1]], "lr": 0.01}], lr=1.0)
    s1 = L.optim.lr_scheduler.LambdaLR(o1, cosine)
    o2 = L.optim.SGD([p[2]], lr=0.2, momentum=0.9)
    s2 = L.optim.lr_scheduler.SequentialLR(o2, [
        L.optim.lr_scheduler.LinearLR(o2, start_factor=0.1, total_iters=3),
        L.optim.lr_scheduler.CosineAnnealingLR(o2, T_max=6, eta_min=1e-3)], milestones=[3])
    o3 = L.optim.SGD([L.nn.Parameter(L.ones(1))], lr=0.1, momentum=0.9)
    s3 = L.optim.lr_scheduler.OneCycleLR(o3, max_lr=0.5, total_steps=12)
    a, b, c, m = [], [], [], []
    for _ in range(11):
        for o in (o1, o2, o3):
            o.step()
        s1.step(), s2.step(), s3.step()
        a.append([g["lr"] for g in o1.param_groups])
        b.append(s2.get_last_lr()[0])
        c.append(o3.param_groups[0]["lr"])
        m.append(o3.param_groups[0]["momentum"])
    return dict(a=a, b=b, c=c, m=m, sd=sorted(s1.state_dict()))


@program(rtol=1e-6, atol=1e-7)        # float32 losses: a unit in the last place
def autocast_cpu_bfloat16_with_grad_scaler(L):
    """Mixed precision as scripts write it on the CPU: autocast(device_type='cpu',
    dtype=bfloat16) around the forward (the dtypes of matmul and of the loss inside), a
    GradScaler (disabled where no CUDA) with scale/unscale_/clip/step/update; float32 master
    weights."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)), 7)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    scaler = L.amp.GradScaler("cpu", enabled=True)
    x = L.tensor(_arr(5, 6, seed=8), dtype=L.float32)
    y = L.tensor(_labels(5, 3, 9))
    losses, dtypes = [], []
    for _ in range(3):
        opt.zero_grad()
        with L.autocast(device_type="cpu", dtype=L.bfloat16):
            out = model(x)
            loss = F.cross_entropy(out, y)
            dtypes.append((out.dtype, loss.dtype, L.is_autocast_enabled("cpu")))
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        L.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    return dict(losses=losses, dtypes=dtypes, scale=scaler.get_scale(),
                wdt=model[0].weight.dtype, after=L.is_autocast_enabled("cpu"),
                w=model[0].weight.detach().to(L.float32))


# ----------------------------------------------------------------------------------------------
# data loading
# ----------------------------------------------------------------------------------------------
@program
def dataloader_collate_pad_and_length_masks(L):
    """Variable-length token lists through a DataLoader with a custom collate_fn that pads
    with pad_sequence, builds the attention mask from lengths by arange comparison and stacks
    labels; shuffled by a seeded Generator, drop_last."""
    from_utils = L.utils.data
    rng = np.random.RandomState(11)
    seqs = [rng.randint(1, 9, rng.randint(2, 7)).tolist() for _ in range(9)]

    class DS(from_utils.Dataset):
        def __len__(self):
            return len(seqs)

        def __getitem__(self, i):
            return {"ids": L.tensor(seqs[i]), "label": i % 3}

    def collate(items):
        ids = [it["ids"] for it in items]
        lengths = L.tensor([len(t) for t in ids])
        padded = L.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=0)
        mask = L.arange(padded.shape[1])[None, :] < lengths[:, None]
        return padded, mask, lengths, L.tensor([it["label"] for it in items])

    g = L.Generator().manual_seed(42)
    dl = from_utils.DataLoader(DS(), batch_size=4, shuffle=True, collate_fn=collate,
                               drop_last=True, generator=g)
    out = [b for epoch in range(2) for b in dl]
    return dict(batches=out, n=len(dl))


@program
def samplers_weighted_subset_batch_with_generators(L):
    """Samplers with seeded generators: WeightedRandomSampler (class-balancing weights from
    bincount), SubsetRandomSampler over a split by randperm, BatchSampler with and without
    drop_last, RandomSampler with replacement and num_samples, and default_collate of tuples."""
    D = L.utils.data
    y = L.tensor(_labels(20, 3, 12))
    counts = L.bincount(y)
    weights = (1.0 / counts.double())[y]
    g = L.Generator().manual_seed(3)
    wrs = list(D.WeightedRandomSampler(weights, 12, replacement=True, generator=g))
    perm = L.randperm(20, generator=L.Generator().manual_seed(5))
    train_idx, val_idx = perm[:14].tolist(), perm[14:].tolist()
    srs = list(D.SubsetRandomSampler(train_idx, generator=L.Generator().manual_seed(6)))
    bs1 = list(D.BatchSampler(D.SequentialSampler(range(10)), 4, drop_last=False))
    bs2 = list(D.BatchSampler(D.RandomSampler(range(10), generator=L.Generator().manual_seed(7)),
                              3, drop_last=True))
    rs = list(D.RandomSampler(range(5), replacement=True, num_samples=8,
                              generator=L.Generator().manual_seed(8)))
    ds = D.TensorDataset(L.tensor(_arr(20, 2, seed=13)), y)
    dl = D.DataLoader(ds, batch_sampler=D.BatchSampler(
        D.WeightedRandomSampler(weights, 9, generator=L.Generator().manual_seed(9)), 4, False))
    col = D.default_collate([(L.tensor([1.0, 2.0]), 3, 0.5), (L.tensor([3.0, 4.0]), 4, 1.5)])
    return dict(counts=counts, wrs=wrs, split=(train_idx, val_idx), srs=srs, bs1=bs1, bs2=bs2,
                rs=rs, batches=[b for b in dl], col=col,
                hist=L.bincount(y[L.tensor(wrs)], minlength=3))


@program
def iterable_dataset_streaming_with_worker_info(L):
    """An IterableDataset that streams chunks, splits work by get_worker_info (None in the
    main process), is batched by the DataLoader with drop_last, a ChainDataset and a
    ConcatDataset with a random_split by a seeded generator."""
    D = L.utils.data

    class Stream(D.IterableDataset):
        def __init__(self, start, end):
            self.start, self.end = start, end

        def __iter__(self):
            info = D.get_worker_info()
            lo, hi = self.start, self.end
            if info is not None:
                per = int(math.ceil((hi - lo) / info.num_workers))
                lo = lo + info.id * per
                hi = min(lo + per, hi)
            for i in range(lo, hi):
                yield L.tensor([i, i * i], dtype=L.float64), i % 2

    dl = D.DataLoader(Stream(0, 11), batch_size=3, drop_last=True)
    chained = list(D.ChainDataset([Stream(0, 2), Stream(5, 7)]))
    cat = D.ConcatDataset([D.TensorDataset(L.arange(4.0)), D.TensorDataset(L.arange(10.0, 13))])
    a, b = D.random_split(cat, [5, 2], generator=L.Generator().manual_seed(1))
    c = D.random_split(range(10), [0.5, 0.3, 0.2], generator=L.Generator().manual_seed(2))
    return dict(batches=list(dl), n=len(list(dl)), chained=chained, info=D.get_worker_info(),
                cat=[cat[i] for i in range(len(cat))], a=list(a.indices),
                b=[b[i] for i in range(2)], c=[list(s) for s in c], sizes=cat.cumulative_sizes)


@program
def worker_init_fn_seeding_in_main_process(L):
    """The seeding idiom of worker_init_fn (torch.initial_seed() based numpy seeding) with
    num_workers=0, a seeded shuffle, sampler state read through iter twice, and a collate
    that draws random augmentations from the global generator (seeded by manual_seed)."""
    D = L.utils.data
    L.manual_seed(123)
    ds = D.TensorDataset(L.tensor(_arr(8, 3, seed=14)), L.arange(8))

    def collate(items):
        x = L.stack([a for a, _ in items])
        noise = L.randn(x.shape, dtype=x.dtype) * 0.01
        return x + noise, L.stack([b for _, b in items])

    seen = []
    dl = D.DataLoader(ds, batch_size=3, shuffle=True, collate_fn=collate,
                      worker_init_fn=lambda wid: seen.append(wid),
                      generator=L.Generator().manual_seed(77))
    e1 = [b for b in dl]
    e2 = [b for b in dl]
    return dict(e1=e1, e2=e2, seen=seen, seed=L.initial_seed(), nb=len(dl))


# ----------------------------------------------------------------------------------------------
# activation checkpointing and seeding
# ----------------------------------------------------------------------------------------------
@program
def activation_checkpointing_in_a_block_stack(L):
    """A stack of residual MLP blocks run through torch.utils.checkpoint.checkpoint
    (use_reentrant=False) and checkpoint_sequential; gradients equal those without
    checkpointing, with dropout whose RNG state is preserved across the recomputation."""
    nn, F = L.nn, L.nn.functional
    from_ck = L.utils.checkpoint

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(6, 12), nn.Linear(12, 6)
            self.drop = nn.Dropout(0.2)

        def forward(self, x):
            return x + self.fc2(self.drop(F.gelu(self.fc1(x))))

    class Net(nn.Module):
        def __init__(self, ck):
            super().__init__()
            self.blocks = nn.ModuleList(Block() for _ in range(3))
            self.ck = ck

        def forward(self, x):
            for b in self.blocks:
                x = from_ck.checkpoint(b, x, use_reentrant=False) if self.ck else b(x)
            return x

    x = L.tensor(_arr(4, 6, seed=15), requires_grad=True)
    out = {}
    for ck in (False, True):
        net = load_seeded(L, Net(ck).double(), 16)
        L.manual_seed(5)
        y = net(x)
        (y ** 2).mean().backward()
        out[ck] = (y, grads_of(net), x.grad.clone())
        x.grad = None
    seq = load_seeded(L, nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 6),
                                       nn.Tanh()).double(), 17)
    z = from_ck.checkpoint_sequential(seq, 2, x, use_reentrant=False)
    z.sum().backward()
    return dict(plain=out[False], ck=out[True], z=z, gs=grads_of(seq), gx=x.grad)


@program
def seeding_idioms_generators_and_rng_state(L):
    """Deterministic seeding: manual_seed, Generator objects passed to randn/rand/randint/
    randperm/multinomial/normal_, get_rng_state/set_rng_state replaying draws, fork_rng-free
    save and restore, Generator.get_state/set_state, initial_seed, and seed-derived splits."""
    L.manual_seed(2024)
    a = L.randn(3, 2, dtype=L.float64)
    state = L.get_rng_state()
    b = L.rand(4)
    L.set_rng_state(state)
    b2 = L.rand(4)
    g = L.Generator().manual_seed(99)
    c = L.randn(2, 3, generator=g, dtype=L.float64)
    gs = g.get_state()
    d = L.randint(0, 10, (5,), generator=g)
    g.set_state(gs)
    d2 = L.randint(0, 10, (5,), generator=g)
    e = L.randperm(7, generator=g)
    f = L.multinomial(L.tensor([0.1, 0.5, 0.4]), 6, replacement=True, generator=g)
    h = L.empty(4, dtype=L.float64).normal_(2.0, 0.5, generator=g)
    u = L.empty(3).uniform_(-1, 1, generator=g)
    bern = L.bernoulli(L.full((6,), 0.3), generator=g)
    return dict(a=a, b=b, same=L.equal(b, b2), c=c, d=d, d2=d2, e=e, f=f, h=h, u=u,
                bern=bern, seed=g.initial_seed(), gseed=L.initial_seed())


# ----------------------------------------------------------------------------------------------
# metrics by hand
# ----------------------------------------------------------------------------------------------
@program
def classification_metrics_topk_confusion_f1(L):
    """Top-1/top-5 accuracy from the ranked class indices (topk, t(), eq, expand_as,
    reshape, float sum with keepdim, mul_), a confusion matrix by bincount of
    target*C+pred, per-class precision, recall, F1 with nan_to_num, macro/micro/weighted
    averages, and balanced accuracy."""
    C = 6
    logits = L.tensor(_arr(40, C, seed=20))
    target = L.tensor(_labels(40, C, 21))
    # rank r of column j holds the r-th best class of sample j; a sample is a top-k hit when
    # its label shows up in the first k rows (at most once per column)
    ranked = logits.topk(5, 1, True, True)[1].t()
    hits = ranked.eq(target.view(1, -1).expand_as(ranked)).float()
    percent = 100.0 / target.size(0)
    res = [hits[:depth].reshape(-1).sum(0, keepdim=True).mul_(percent) for depth in (1, 5)]
    p1 = logits.argmax(1)
    cm = L.bincount(target * C + p1, minlength=C * C).reshape(C, C)
    tp = cm.diag().double()
    prec = tp / cm.sum(0).double()
    rec = tp / cm.sum(1).double()
    f1 = L.nan_to_num(2 * prec * rec / (prec + rec))
    support = cm.sum(1).double()
    return dict(res=res, cm=cm, prec=prec, rec=rec, f1=f1, macro=f1.mean(),
                weighted=(f1 * support).sum() / support.sum(),
                micro=tp.sum() / cm.sum(), balanced=L.nanmean(rec))


@program
def roc_auc_and_average_precision_by_sort_cumsum(L):
    """Ranking metrics for a binary score with ties: rank by a stable descending argsort,
    keep one operating point per distinct score (the last of each run of equal scores, found
    with where on a neighbour comparison), count hits and false alarms up to each point with
    cumsum, area under the ROC by torch.trapz, average precision as precision weighted by the
    recall gained (torch.diff with prepend), and the mean over the four label columns."""
    def ranking_metrics(scores, y):
        rank = L.argsort(scores, descending=True, stable=True)
        ranked, hit = scores[rank], y[rank].double()
        n = hit.numel()
        run_ends = L.where(ranked[:-1] != ranked[1:])[0]
        cut = L.cat([run_ends, L.tensor([n - 1])])
        hits = L.cumsum(hit, 0)[cut]
        seen = cut + 1                      # items above each threshold
        misses = seen - hits
        origin = L.zeros(1, dtype=L.float64)
        tpr = L.cat([origin, hits / hits[-1]])
        fpr = L.cat([origin, misses / misses[-1]])
        roc_area = L.trapz(tpr, fpr)
        gained = L.diff(hits / hits[-1], prepend=origin)
        ap = (gained * (hits / (hits + misses))).sum()
        return roc_area, ap, ranked[cut]

    rng = np.random.RandomState(22)
    y = L.tensor((rng.rand(30, 4) < 0.4).astype(np.int64))
    scores = L.tensor(np.round(rng.rand(30, 4) + 0.3 * y.numpy(), 1))
    per = [ranking_metrics(scores[:, k], y[:, k]) for k in range(4)]
    aps = L.stack([p[1] for p in per])
    return dict(per=per, map=aps.mean(), aucs=L.stack([p[0] for p in per]))


@program
def bleu_ngram_counts_with_unique_and_perplexity(L):
    """Sentence BLEU by hand: n-grams of token ids by unfold, counted with unique(dim=0,
    return_counts=True), clipped by the reference counts (matches by eq/all), brevity penalty,
    geometric mean in log space; and perplexity as exp of the mean token NLL with padding
    ignored."""
    F = L.nn.functional
    cand = L.tensor([3, 5, 5, 7, 2, 3, 5, 9])
    ref = L.tensor([3, 5, 7, 2, 3, 5, 9, 9, 4])

    def counts(seq, n):
        grams = seq.unfold(0, n, 1)
        return L.unique(grams, dim=0, return_counts=True)

    precisions = []
    for n in range(1, 5):
        cg, cc = counts(cand, n)
        rg, rc = counts(ref, n)
        match = (cg[:, None, :] == rg[None, :, :]).all(-1)
        ref_count = (match.long() * rc[None, :]).sum(1)
        clipped = L.minimum(cc, ref_count)
        precisions.append(clipped.sum().double() / cc.sum())
    p = L.stack(precisions)
    bp = min(1.0, math.exp(1 - ref.numel() / cand.numel()))
    bleu = bp * L.exp(L.log(p).mean())
    logits = L.tensor(_arr(2, 6, 10, seed=23))
    tgt = L.tensor(_labels(12, 10, 24).reshape(2, 6))
    tgt[1, 4:] = -100
    nll = F.cross_entropy(logits.reshape(-1, 10), tgt.reshape(-1), ignore_index=-100)
    tok = F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=-100, reduction="none")
    return dict(p=p, bleu=bleu, ppl=L.exp(nll), tok=tok,
                ppl2=L.exp(tok.sum() / (tgt != -100).sum()))


@program
def detection_map_by_iou_matching_per_class(L):
    """VOC-style mAP: per class, detections sorted by score, greedily matched to unmatched
    ground truth by IoU >= 0.5 (box_iou by broadcasting), TP/FP cumsums, precision made
    monotone by a reversed cummax, and the area by recall steps."""
    rng = np.random.RandomState(25)
    gxy = rng.rand(6, 2) * 20
    gt = L.tensor(np.concatenate([gxy, gxy + 5 + rng.rand(6, 2) * 5], 1))
    gcls = L.tensor([0, 1, 0, 2, 1, 0])
    jitter = rng.randn(12, 4) * 1.5
    src = rng.randint(0, 6, 12)
    det = gt[L.tensor(src)] + L.tensor(jitter)
    dcls = gcls[L.tensor(src)].clone()
    dcls[L.tensor([2, 7])] = L.tensor([2, 1])
    scores = L.tensor(rng.rand(12))

    def iou(a, b):
        lt = L.maximum(a[:, None, :2], b[None, :, :2])
        rb = L.minimum(a[:, None, 2:], b[None, :, 2:])
        inter = (rb - lt).clamp(min=0).prod(-1)
        area = lambda z: (z[:, 2:] - z[:, :2]).prod(-1)  # noqa: E731
        return inter / (area(a)[:, None] + area(b)[None, :] - inter)

    aps = []
    for c in range(3):
        d, s = det[dcls == c], scores[dcls == c]
        g = gt[gcls == c]
        order = s.argsort(descending=True)
        d = d[order]
        ious = iou(d, g)
        taken = L.zeros(len(g), dtype=L.bool)
        tp = L.zeros(len(d), dtype=L.float64)
        for i in range(len(d)):
            best, j = ious[i].max(0)
            if best >= 0.5 and not taken[j]:
                taken[j] = True
                tp[i] = 1
        ctp, cfp = tp.cumsum(0), (1 - tp).cumsum(0)
        rec = ctp / len(g)
        prec = ctp / (ctp + cfp)
        prec = prec.flip(0).cummax(0).values.flip(0)
        steps = L.diff(rec, prepend=L.zeros(1, dtype=L.float64))
        aps.append((steps * prec).sum())
    return dict(aps=L.stack(aps), map=L.stack(aps).mean())


# ----------------------------------------------------------------------------------------------
# model surgery and hooks
# ----------------------------------------------------------------------------------------------
def _backbone(L, classes=5):
    nn = L.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                                          nn.ReLU(), nn.AdaptiveAvgPool2d(2))
            self.pre_logits = nn.Linear(16, 8)
            self.classifier = nn.Linear(8, classes)

        def forward(self, x):
            return self.classifier(L.relu(self.pre_logits(self.features(x).flatten(1))))

    return load_seeded(L, Net().double(), 30, 0.3)


@program
def fine_tune_surgery_freeze_replace_head_rename_keys(L):
    """Transfer learning plumbing: freeze the backbone with requires_grad_(False), replace the
    head, count trainable/total parameters, rename state-dict keys ('module.' prefix from
    DataParallel, old head names), load with strict=False and read missing/unexpected keys,
    optimizer over filter(lambda p: p.requires_grad), and BatchNorm kept in eval."""
    nn, F = L.nn, L.nn.functional
    src = _backbone(L, 5)
    saved = {"module." + k: v for k, v in src.state_dict().items()}
    model = _backbone(L, 3)
    cleaned = {k.replace("module.", "", 1): v for k, v in saved.items()}
    cleaned = {("fc." + k[len("classifier."):] if k.startswith("classifier.") else k): v
               for k, v in cleaned.items()}
    res = model.load_state_dict(cleaned, strict=False)
    model.features.requires_grad_(False)
    model.classifier = nn.Linear(8, 3).double()
    load_seeded(L, model.classifier, 31)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    opt = L.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1,
                      momentum=0.9)
    model.train()
    model.features[1].eval()
    x = L.tensor(_arr(4, 3, 5, 5, seed=32))
    y = L.tensor(_labels(4, 3, 33))
    losses = train_steps(opt, lambda: F.cross_entropy(model(x), y))
    return dict(missing=sorted(res.missing_keys), unexpected=sorted(res.unexpected_keys),
                trainable=trainable, total=total, frozen=frozen, losses=losses,
                bn=model.features[1].running_mean, g=grads_of(model),
                same=L.equal(model.features[0].weight, src.features[0].weight),
                nbt=model.features[1].num_batches_tracked)


@program
def forward_hooks_feature_extraction_and_grad_norm_logging(L):
    """Hooks as libraries use them: forward hooks storing intermediate features in a dict,
    a forward pre-hook rescaling the input, tensor hooks on parameters recording gradient
    norms, a full backward hook, module hooks removed by their handles, and per-layer gradient
    norms logged from named_parameters after backward."""
    F = L.nn.functional
    model = _backbone(L)
    feats, gnorms, bw = {}, {}, []

    def save(name):
        def hook(mod, inp, out):
            feats[name] = out.detach()
        return hook

    handles = [model.features.register_forward_hook(save("features")),
               model.pre_logits.register_forward_hook(save("pre")),
               model.pre_logits.register_forward_pre_hook(lambda m, a: (a[0] * 2,)),
               model.classifier.register_full_backward_hook(
                   lambda m, gi, go: bw.append((gi[0].shape, go[0].clone())))]
    for n, p in model.named_parameters():
        p.register_hook(lambda g, n=n: gnorms.__setitem__(n, g.norm().item()))
    x = L.tensor(_arr(2, 3, 5, 5, seed=34))
    loss = F.cross_entropy(model(x), L.tensor([1, 4]))
    loss.backward()
    for h in handles:
        h.remove()
    out2 = model(x)
    logged = {n: p.grad.detach().norm(2).item() for n, p in model.named_parameters()}
    total = L.norm(L.stack([p.grad.norm(2) for p in model.parameters()]), 2)
    return dict(feats=feats, gnorms=gnorms, bw=bw, logged=logged, total=total, out2=out2,
                keys=sorted(feats), n=len(bw))


@program
def eval_vs_train_dropout_batchnorm_and_inference_mode(L):
    """model.eval() vs train(): Dropout identity in eval, BatchNorm using running stats (and
    not updating them) in eval, momentum=None cumulative averages, an eval loop under
    inference_mode/no_grad accumulating loss and accuracy, is_inference, and training flags
    of submodules."""
    nn, F = L.nn, L.nn.functional
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6, momentum=None), nn.ReLU(),
                          nn.Dropout(0.5), nn.Linear(6, 3))
    model = load_seeded(L, model.double(), 35)
    model[1].running_var.fill_(1.0)
    x = L.tensor(_arr(8, 4, seed=36))
    y = L.tensor(_labels(8, 3, 37))
    L.manual_seed(1)
    model.train()
    t1 = model(x)
    t2 = model(x)
    rm = model[1].running_mean.clone()
    model.eval()
    e1 = model(x)
    flags = [m.training for m in model]
    total, correct, n = 0.0, 0, 0
    with L.inference_mode():
        for xb, yb in zip(x.split(3), y.split(3)):
            out = model(xb)
            total += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(1) == yb).sum().item()
            n += len(yb)
        inf = out.is_inference()
    with L.no_grad():
        e2 = model(x)
    return dict(t1=t1, t2=t2, rm=rm, rv=model[1].running_var, e1=e1, e2=e2, flags=flags,
                loss=total / n, acc=correct / n, inf=inf, nbt=model[1].num_batches_tracked,
                rm_after=model[1].running_mean, eq=L.equal(e1, e2))


@program
def torch_compile_as_noop_and_weight_tying_checks(L):
    """torch.compile used as scripts do (a compiled module and function giving the same
    values and gradients as eager), weight tying (shared Parameter, counted once by
    parameters(), its gradient summed), and named_parameters(remove_duplicate=False)."""
    F = L.nn.functional
    model = _tiny_lm(L)
    # torch's side is its eager run, the reference: its dynamo keeps process-wide state
    # (caches, recompile limits other tests set) and failed this program once in a full run
    # beside other workers; minigrad's compile must give eager's values
    compile_ = L.compile if L.__name__ == "minigrad" else (lambda f=None, **kw: (
        f if f is not None else (lambda g: g)))
    compiled = compile_(model)
    ids = L.tensor(_labels(10, 11, 38).reshape(2, 5))

    @compile_(fullgraph=True)
    def loss_fn(logits, t):
        return F.cross_entropy(logits.reshape(-1, 11), t.reshape(-1))

    loss = loss_fn(compiled(ids[:, :-1]), ids[:, 1:])
    loss.backward()
    n_unique = sum(p.numel() for p in model.parameters())
    names = [n for n, _ in model.named_parameters()]
    dup = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    return dict(loss=loss, g=model.embed.weight.grad, n=n_unique, names=names, dup=dup,
                sd=sorted(model.state_dict()), ptr=model.head.weight.data_ptr() ==
                model.embed.weight.data_ptr())


# ----------------------------------------------------------------------------------------------
# losses with their options
# ----------------------------------------------------------------------------------------------
@program
def cross_entropy_options_label_smoothing_ignore_weights(L):
    """cross_entropy as training scripts combine the options: label smoothing with
    ignore_index, class weights with each reduction (the weighted mean's denominator), soft
    (probability) targets with smoothing, 3-d (N, C, T) inputs, nll_loss on log_softmax, and
    gradients for each."""
    F = L.nn.functional
    x = L.tensor(_arr(6, 4, seed=40), requires_grad=True)
    y = L.tensor([0, 3, -100, 2, 1, -100])
    w = L.tensor([1.0, 2.0, 0.5, 1.5], dtype=L.float64)
    out = {}
    for red in ("mean", "sum", "none"):
        out["ls" + red] = F.cross_entropy(x, y, ignore_index=-100, label_smoothing=0.1,
                                          reduction=red)
        out["w" + red] = F.cross_entropy(x, y, weight=w, ignore_index=-100, reduction=red)
        out["wls" + red] = F.cross_entropy(x, y, weight=w, ignore_index=-100,
                                           label_smoothing=0.2, reduction=red)
    soft = F.softmax(L.tensor(_arr(6, 4, seed=41)), -1)
    out["soft"] = F.cross_entropy(x, soft, label_smoothing=0.1)
    out["softw"] = F.cross_entropy(x, soft, weight=w)
    x3 = L.tensor(_arr(2, 4, 5, seed=42), requires_grad=True)
    y3 = L.tensor(_labels(10, 4, 43).reshape(2, 5))
    y3[0, 1] = 3
    out["seq"] = F.cross_entropy(x3, y3, label_smoothing=0.05, ignore_index=3)
    out["nll"] = F.nll_loss(F.log_softmax(x, 1), y, weight=w, ignore_index=-100)
    total = sum(v.sum() for v in out.values())
    total.backward()
    return dict(out=out, gx=x.grad, gx3=x3.grad)


@program
def bce_pos_weight_multilabel_and_focal(L):
    """Multilabel losses: BCEWithLogitsLoss with pos_weight (per class, broadcast) and weight,
    binary_cross_entropy on sigmoid outputs, an asymmetric-focal variant built from
    logsigmoid, MultiLabelSoftMarginLoss, and the reductions; gradients to the logits."""
    nn, F = L.nn, L.nn.functional
    x = L.tensor(_arr(5, 4, seed=44), requires_grad=True)
    t = L.tensor((np.random.RandomState(45).rand(5, 4) < 0.3).astype(np.float64))
    pos_weight = (t.numel() - t.sum(0)) / t.sum(0).clamp(min=1)
    out = dict(pw=nn.BCEWithLogitsLoss(pos_weight=pos_weight)(x, t),
               pww=F.binary_cross_entropy_with_logits(x, t, weight=L.tensor([1.0, 0.5, 2.0, 1.0],
                                                      dtype=L.float64), pos_weight=pos_weight,
                                                      reduction="sum"),
               none=F.binary_cross_entropy_with_logits(x, t, reduction="none"),
               bce=F.binary_cross_entropy(L.sigmoid(x), t),
               mlsm=nn.MultiLabelSoftMarginLoss()(x, t))
    gp, gn = 0.0, 4.0
    lp, ln = F.logsigmoid(x), F.logsigmoid(-x)
    p = L.sigmoid(x)
    asl = -(t * (1 - p) ** gp * lp + (1 - t) * p ** gn * ln).sum() / x.shape[0]
    out["asl"] = asl
    sum(v.sum() for v in out.values()).backward()
    return dict(out=out, g=x.grad, pos_weight=pos_weight)


@program
def distributions_in_losses_gaussian_nll_and_kl(L):
    """torch.distributions in training losses: a Normal head's log_prob as NLL (scale by
    softplus), Independent over event dims, kl_divergence to a standard prior (a VAE's KL
    term) against the closed form, Categorical entropy as a regulariser, a Bernoulli with
    logits, rsample with a seeded generator for the reparameterisation gradient."""
    D, F = L.distributions, L.nn.functional
    raw = L.tensor(_arr(4, 6, seed=46), requires_grad=True)
    mu, s = raw[:, :3], F.softplus(raw[:, 3:]) + 1e-3
    y = L.tensor(_arr(4, 3, seed=47))
    normal = D.Independent(D.Normal(mu, s), 1)
    nll = -normal.log_prob(y).mean()
    prior = D.Independent(D.Normal(L.zeros_like(mu), L.ones_like(s)), 1)
    kl = D.kl_divergence(normal, prior)
    closed = 0.5 * (s ** 2 + mu ** 2 - 1 - 2 * L.log(s)).sum(-1)
    cat = D.Categorical(logits=raw)
    ent = cat.entropy().mean()
    bern = D.Bernoulli(logits=raw[:, 0])
    bll = bern.log_prob(L.tensor([1.0, 0.0, 1.0, 1.0], dtype=L.float64)).sum()
    L.manual_seed(8)
    z = normal.rsample()
    gnll = F.gaussian_nll_loss(mu, y, s ** 2, full=True)
    loss = nll + kl.mean() - 0.01 * ent - bll + (z ** 2).mean() + gnll
    loss.backward()
    return dict(nll=nll, kl=kl, closed=closed, ent=ent, bll=bll, z=z, gnll=gnll, g=raw.grad,
                shapes=(normal.batch_shape, normal.event_shape))


# ----------------------------------------------------------------------------------------------
# tensor idioms of library internals
# ----------------------------------------------------------------------------------------------
@program
def padding_masks_position_ids_and_masked_attention(L):
    """Transformer-library plumbing: attention masks from lengths by arange comparison,
    position ids by cumsum of the mask (left padding), the extended additive mask with
    finfo.min, causal masks by triu, einsum attention with masked_fill, a fully-masked row
    made zero by where, and gradients through it."""
    F = L.nn.functional
    lengths = L.tensor([5, 3, 1])
    B, T, H, Dh = 3, 5, 2, 4
    mask = L.arange(T)[None, :] < lengths[:, None]
    left = mask.flip(1)
    pos = (left.long().cumsum(-1) - 1).masked_fill(~left, 1)
    ext = (1.0 - mask[:, None, None, :].to(L.float64)) * L.finfo(L.float64).min
    causal = L.triu(L.ones(T, T, dtype=L.bool), diagonal=1)
    q = L.tensor(_arr(B, H, T, Dh, seed=50), requires_grad=True)
    k = L.tensor(_arr(B, H, T, Dh, seed=51), requires_grad=True)
    v = L.tensor(_arr(B, H, T, Dh, seed=52), requires_grad=True)
    scores = L.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(Dh) + ext
    scores = scores.masked_fill(causal, float("-inf"))
    probs = F.softmax(scores, dim=-1)
    ctx = L.einsum("bhqk,bhkd->bhqd", probs, v)
    ctx = L.where(mask[:, None, :, None], ctx, L.zeros((), dtype=ctx.dtype))
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=~causal & mask[:, None, None, :])
    out = ctx.transpose(1, 2).reshape(B, T, H * Dh)
    (out.pow(2).sum() + L.nan_to_num(sdpa).sum()).backward()
    return dict(mask=mask, pos=pos, ext=ext, probs=probs, out=out, gq=q.grad, gk=k.grad,
                gv=v.grad, sdpa=sdpa)


@program
def pack_padded_sequence_through_lstm_unsorted(L):
    """Variable-length batches through an LSTM: pad_sequence, pack_padded_sequence with
    enforce_sorted=False, the packed data/batch_sizes/sorted indices, pad_packed_sequence back
    with total_length, the last hidden state per sequence in the original order, and a masked
    mean-pool; gradients to the weights."""
    nn, R = L.nn, L.nn.utils.rnn
    lstm = load_seeded(L, nn.LSTM(3, 4, batch_first=True, bidirectional=True).double(), 53)
    seqs = [L.tensor(_arr(n, 3, seed=54 + n)) for n in (2, 5, 3)]
    lengths = L.tensor([2, 5, 3])
    padded = R.pad_sequence(seqs, batch_first=True)
    packed = R.pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    out, (h, c) = lstm(packed)
    unpacked, lens = R.pad_packed_sequence(out, batch_first=True, total_length=6)
    mask = (L.arange(6)[None, :] < lens[:, None]).unsqueeze(-1)
    pooled = (unpacked * mask).sum(1) / lens[:, None]
    last = L.cat([h[-2], h[-1]], dim=-1)
    (pooled.sum() + last.pow(2).sum()).backward()
    packed2 = R.pack_sequence(seqs, enforce_sorted=False)
    return dict(data=packed.data, bs=packed.batch_sizes, si=packed.sorted_indices,
                ui=packed.unsorted_indices, unpacked=unpacked, lens=lens, pooled=pooled,
                last=last, c=c, g=grads_of(lstm), p2=packed2.batch_sizes,
                back=R.unpad_sequence(padded, lengths, batch_first=True))


@program
def moe_topk_routing_by_gather_scatter(L):
    """Mixture-of-experts routing as libraries write it: softmax router, topk experts per
    token, renormalised weights, one_hot expert masks, per-expert token lists by where,
    index_add_ of expert outputs weighted by gather, the load-balancing auxiliary loss, and
    gradients to router and experts."""
    nn, F = L.nn, L.nn.functional
    E, K, D = 4, 2, 5
    router = load_seeded(L, nn.Linear(D, E, bias=False).double(), 60)
    experts = nn.ModuleList(nn.Linear(D, D).double() for _ in range(E))
    load_seeded(L, experts, 61)
    x = L.tensor(_arr(7, D, seed=62))
    logits = router(x)
    probs = F.softmax(logits, dim=-1)
    w, idx = probs.topk(K, dim=-1)
    w = w / w.sum(-1, keepdim=True)
    expert_mask = F.one_hot(idx, E).permute(2, 1, 0)         # (E, K, tokens)
    out = L.zeros_like(x)
    for e in range(E):
        slot, tok = L.where(expert_mask[e])
        if tok.numel() == 0:
            continue
        y = experts[e](x[tok]) * w[tok, slot, None]
        out.index_add_(0, tok, y)
    frac = F.one_hot(idx[:, 0], E).double().mean(0)
    aux = E * (frac * probs.mean(0)).sum()
    gathered = probs.gather(1, idx)
    dense = L.zeros_like(probs).scatter(1, idx, w)
    (out.pow(2).sum() + aux).backward()
    return dict(idx=idx, w=w, out=out, aux=aux, gathered=gathered, dense=dense,
                gr=router.weight.grad, ge=grads_of(experts),
                counts=L.bincount(idx.flatten(), minlength=E))


@program
def unfold_patches_interpolate_masks_and_fold(L):
    """Vision-library internals: patch extraction by Tensor.unfold twice and by F.unfold,
    patches back by F.fold (overlap counts by folding ones), nearest and bilinear
    interpolation of integer masks (as float, then back to long), one_hot of a label map to
    channels, and adaptive pooling of the masks."""
    F = L.nn.functional
    img = L.tensor(_arr(2, 3, 8, 8, seed=63), requires_grad=True)
    p = 4
    patches = img.unfold(2, p, p).unfold(3, p, p)                # (B, C, 2, 2, p, p)
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(2, 4, 3 * p * p)
    cols = F.unfold(img, kernel_size=3, padding=1, stride=2)
    back = F.fold(cols, (8, 8), kernel_size=3, padding=1, stride=2)
    ones = F.fold(F.unfold(L.ones_like(img), 3, padding=1, stride=2), (8, 8), 3, padding=1,
                  stride=2)
    mask = L.tensor(_labels(2 * 5 * 5, 4, 64).reshape(2, 1, 5, 5))
    near = F.interpolate(mask.float(), size=(8, 8), mode="nearest").long()
    near_exact = F.interpolate(mask.float(), scale_factor=1.6, mode="nearest-exact")
    onehot = F.one_hot(mask[:, 0], 4).permute(0, 3, 1, 2).double()
    soft = F.interpolate(onehot, size=(8, 8), mode="bilinear", align_corners=False)
    pooled = F.adaptive_avg_pool2d(onehot, 3)
    (patches.pow(2).sum() + (back / ones).sum() + (soft * img[:, :1]).sum()).backward()
    return dict(patches=patches, cols=cols, back=back, ones=ones, near=near,
                near_exact=near_exact, soft=soft, argmax=soft.argmax(1), pooled=pooled,
                g=img.grad)


@program
def bucketing_histograms_quantiles_and_nan_statistics(L):
    """Statistics idioms: searchsorted bucketing (left/right, out_int32, sorter), bucketize,
    histc and histogram with edges, quantile with each interpolation and keepdim, nanquantile,
    nanmean/nansum/nanmedian over dims, repeat_interleave by a tensor of repeats, and
    length-bucketed batch ids."""
    rng = np.random.RandomState(65)
    x = L.tensor(np.round(rng.randn(4, 7), 2))
    xn = x.clone()
    xn[xn > 1.0] = float("nan")
    edges = L.tensor([-1.0, -0.25, 0.0, 0.5, 1.5], dtype=L.float64)
    lens = L.tensor([3, 17, 9, 33, 12, 5, 64, 20])
    bounds = L.tensor([8, 16, 32])
    out = dict(
        ss=L.searchsorted(edges, x), ssr=L.searchsorted(edges, x, right=True),
        ss32=L.searchsorted(edges, x, side="right", out_int32=True),
        sorter=L.searchsorted(L.tensor([3.0, 1.0, 2.0]), L.tensor([1.5, 2.5]),
                              sorter=L.tensor([1, 2, 0])),
        bk=L.bucketize(lens, bounds), bkr=L.bucketize(lens, bounds, right=True),
        histc=L.histc(x, bins=6, min=-2, max=2), hist=L.histogram(x, bins=edges),
        nanmean=xn.nanmean(1), nansum=xn.nansum(0), nanmedian=xn.nanmedian(1),
        nq=L.nanquantile(xn, 0.3, dim=1), med=x.median(), rep=L.repeat_interleave(
            L.tensor([1, 2, 3]), L.tensor([2, 0, 3])), rep2=x[:2, :2].repeat_interleave(2, 0),
        ids=L.repeat_interleave(L.arange(3), L.tensor([2, 3, 1])))
    for mode in ("linear", "lower", "higher", "midpoint", "nearest"):
        out["q" + mode] = L.quantile(x, L.tensor([0.1, 0.5, 0.9], dtype=L.float64), dim=1,
                                     keepdim=True, interpolation=mode)
    return out


@program
def gradient_clipping_variants_and_nonfinite_checks(L):
    """Clipping as training loops use it: clip_grad_norm_ with each norm_type (2, 1, inf),
    foreach on and off, the returned total norm, clip_grad_value_, get_total_norm and
    clip_grads_with_norm_, error_if_nonfinite on an inf gradient, and a skip-step guard by
    isfinite of the norm."""
    nn, U = L.nn, L.nn.utils
    res = {}
    for nt in (2.0, 1.0, float("inf")):
        for fe in (None, False):
            m = load_seeded(L, nn.Linear(4, 3).double(), 66, 2.0)
            m(L.tensor(_arr(5, 4, seed=67))).pow(2).sum().backward()
            tn = U.clip_grad_norm_(m.parameters(), 0.7, norm_type=nt, foreach=fe)
            res[f"{nt}-{fe}"] = (tn, m.weight.grad, m.bias.grad)
    m = load_seeded(L, nn.Linear(4, 3).double(), 66, 2.0)
    m(L.tensor(_arr(5, 4, seed=67))).pow(2).sum().backward()
    U.clip_grad_value_(m.parameters(), 1.5)
    res["value"] = (m.weight.grad, m.bias.grad)
    grads = [p.grad for p in m.parameters()]
    tot = U.get_total_norm(grads, 2.0)
    U.clip_grads_with_norm_(m.parameters(), 1.0, tot)
    res["split"] = (tot, m.weight.grad)
    m.weight.grad[0, 0] = float("inf")
    tn = U.clip_grad_norm_(m.parameters(), 1.0)
    res["inf"] = (tn, L.isfinite(tn), m.bias.grad)
    m.weight.grad[0, 0] = float("nan")
    try:
        U.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True)
        res["raised"] = "no"
    except RuntimeError as e:
        res["raised"] = type(e).__name__
    return res


# ----------------------------------------------------------------------------------------------
# more training-loop plumbing
# ----------------------------------------------------------------------------------------------
@program
def plateau_scheduler_early_stopping_and_gradual_unfreezing(L):
    """ReduceLROnPlateau on a validation loss with patience/cooldown/threshold, early stopping
    keeping the best state_dict by deepcopy, gradual unfreezing by add_param_group mid-run,
    and the scheduler/optimizer state dicts."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double(),
                        70)
    model[0].requires_grad_(False)
    opt = L.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    sched = L.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1,
                                                   cooldown=1, threshold=1e-2)
    x, y = L.tensor(_arr(12, 4, seed=71)), L.tensor(_labels(12, 2, 72))
    xv, yv = L.tensor(_arr(6, 4, seed=73)), L.tensor(_labels(6, 2, 74))
    best, best_state, bad, log = float("inf"), None, 0, []
    for epoch in range(8):
        if epoch == 3:
            model[0].requires_grad_(True)
            opt.add_param_group({"params": model[0].parameters(), "lr": 0.01})
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        with L.no_grad():
            val = F.cross_entropy(model(xv), yv).item()
        sched.step(val)
        log.append((val, [g["lr"] for g in opt.param_groups]))
        if val < best - 1e-4:
            best, best_state, bad = val, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
    model.load_state_dict(best_state)
    return dict(log=log, best=best, w=params_of(model), bad=bad,
                sd={k: v for k, v in sched.state_dict().items() if k != "_last_lr"},
                groups=[len(g["params"]) for g in opt.param_groups],
                nlast=sched.get_last_lr())


@program
def ema_by_averaged_model_and_update_bn(L):
    """EMA as timm/torchvision keep it: swa_utils.AveragedModel with get_ema_multi_avg_fn
    (use_buffers=True) and with a hand-written avg_fn, n_averaged, update_bn over a loader
    recomputing BatchNorm statistics, and the averaged model's state_dict keys."""
    nn, F, S = L.nn, L.nn.functional, L.optim.swa_utils
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(),
                                         nn.Linear(5, 2)).double(), 75)
    model[1].running_var.fill_(1.0)
    ema = S.AveragedModel(model, multi_avg_fn=S.get_ema_multi_avg_fn(0.9), use_buffers=True)
    ema2 = S.AveragedModel(model, avg_fn=lambda a, p, n: 0.8 * a + 0.2 * p)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    x, y = L.tensor(_arr(8, 3, seed=76)), L.tensor(_labels(8, 2, 77))
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        ema.update_parameters(model)
        ema2.update_parameters(model)
    loader = [L.tensor(_arr(4, 3, seed=78 + i)) for i in range(3)]
    S.update_bn(loader, ema2)
    return dict(ema=params_of(ema), ema2=params_of(ema2), n=ema.n_averaged,
                bn=(ema.module[1].running_mean, ema2.module[1].running_mean,
                    ema2.module[1].running_var, ema2.module[1].momentum),
                keys=list(ema.state_dict()), out=ema(x))


@program
def distributed_sampler_without_process_group(L):
    """DistributedSampler with explicit num_replicas/rank (no process group): padding to an
    even split, drop_last, shuffle with set_epoch changing the order, and each rank's share
    through a DataLoader; shards that together cover the dataset."""
    D = L.utils.data
    ds = D.TensorDataset(L.arange(10))
    out = {}
    for shuffle in (False, True):
        for drop in (False, True):
            shards = []
            for rank in range(3):
                s = D.DistributedSampler(ds, num_replicas=3, rank=rank, shuffle=shuffle,
                                         seed=4, drop_last=drop)
                epochs = []
                for ep in range(2):
                    s.set_epoch(ep)
                    epochs.append(list(s))
                shards.append((epochs, len(s)))
            out[f"{shuffle}-{drop}"] = shards
    s = D.DistributedSampler(ds, num_replicas=2, rank=1, shuffle=True, seed=0)
    dl = D.DataLoader(ds, batch_size=2, sampler=s)
    out["dl"] = [b for b in dl]
    return out


@program
def default_collate_nested_structures_and_numpy(L):
    """default_collate as the DataLoader applies it: dicts of tensors, numpy arrays and
    scalars, namedtuples, nested lists (transposed), strings kept as lists, Python floats to
    float64 tensors; default_convert; Subset and StackDataset indexing."""
    from collections import namedtuple
    D = L.utils.data
    Pair = namedtuple("Pair", "a b")
    batch = [{"x": np.arange(3.0) + i, "y": i, "z": float(i) / 2, "name": f"s{i}",
              "p": Pair(L.tensor([i, i + 1]), np.int64(i)), "l": [i, i * 2]} for i in range(3)]
    col = D.default_collate(batch)
    conv = D.default_convert({"a": np.ones((2, 2), dtype=np.float32), "b": [np.int32(3)]})
    base = D.TensorDataset(L.arange(6.0), L.arange(6) * 10)
    sub = D.Subset(base, [4, 1, 3])
    stack = D.StackDataset(base, L.arange(6) * -1)
    dl = D.DataLoader(sub, batch_size=2)
    return dict(x=col["x"], y=col["y"], z=col["z"], name=col["name"], pa=col["p"].a,
                pb=col["p"].b, ptype=type(col["p"]).__name__, l=col["l"], conv=conv,
                sub=[sub[i] for i in range(len(sub))], stack=stack[2], dl=list(dl))


@program
def module_tree_surgery_replace_activations_and_buffers(L):
    """Surgery over the module tree: replace every ReLU with GELU by setattr on parents found
    through named_modules and get_submodule, non-persistent buffers left out of state_dict,
    state_dict(keep_vars=True), load_state_dict(assign=True), parameters_to_vector and
    vector_to_parameters, and a module's extra_repr."""
    nn, U = L.nn, L.nn.utils
    model = _backbone(L)
    model.block = nn.Sequential(nn.Linear(5, 5), nn.ReLU(), nn.Sequential(nn.ReLU()))
    load_seeded(L, model.block, 80)
    model.register_buffer("scale", L.tensor(2.0, dtype=L.float64), persistent=False)
    model.register_buffer("offset", L.tensor([0.5], dtype=L.float64))
    replaced = []
    for name, mod in list(model.named_modules()):
        if isinstance(mod, nn.ReLU):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, nn.GELU(approximate="tanh"))
            replaced.append(name)
    kinds = [type(m).__name__ for m in model.modules()]
    keys = list(model.state_dict())
    kv = model.state_dict(keep_vars=True)
    vec = U.parameters_to_vector(model.parameters())
    U.vector_to_parameters(vec * 0.5, model.parameters())
    fresh = _backbone(L)
    fresh.block = nn.Sequential(nn.Linear(5, 5), nn.GELU(), nn.Sequential(nn.GELU()))
    fresh.register_buffer("offset", L.zeros(1, dtype=L.float64))
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    fresh.load_state_dict(sd, assign=True)
    x = L.tensor(_arr(2, 3, 5, 5, seed=81))
    return dict(replaced=replaced, kinds=kinds, keys=keys, scale="scale" in keys,
                kv=type(kv["block.0.weight"]).__name__, vec=vec, out=fresh(x),
                p=params_of(fresh), ident=fresh.block[0].weight is sd["block.0.weight"],
                repr=repr(model.block), sub=model.get_parameter("block.0.bias"))


@program
def sac_tanh_squashed_gaussian_and_mixture_log_probs(L):
    """Distributions in RL and density heads: a tanh-squashed Gaussian policy's log-prob with
    the log(1 - tanh^2) correction written both by hand and by TransformedDistribution with
    TanhTransform, MixtureSameFamily of Normals as a mixture density network's NLL, and
    Categorical sampling with a seeded global generator."""
    D, F = L.distributions, L.nn.functional
    raw = L.tensor(_arr(5, 4, seed=82), requires_grad=True)
    mu, log_std = raw[:, :2], raw[:, 2:].clamp(-5, 2)
    std = log_std.exp()
    base = D.Normal(mu, std)
    L.manual_seed(3)
    u = base.rsample()
    a = L.tanh(u)
    lp = base.log_prob(u).sum(-1) - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
    td = D.TransformedDistribution(base, [D.transforms.TanhTransform(cache_size=1)])
    lp2 = td.log_prob(a).sum(-1)
    mix = D.MixtureSameFamily(D.Categorical(logits=raw[:, :3]),
                              D.Normal(raw[:, 1:4], F.softplus(raw[:, :3]) + 0.1))
    y = L.tensor(_arr(5, seed=83))
    mdn = -mix.log_prob(y).mean()
    L.manual_seed(4)
    s = D.Categorical(logits=raw).sample((3,))
    (lp.sum() + mdn).backward()
    return dict(a=a, lp=lp, lp2=lp2, mdn=mdn, s=s, g=raw.grad, mean=mix.mean,
                var=mix.variance)


@program
def ctc_and_embedding_options_for_speech_and_text(L):
    """Losses and layers with their options: ctc_loss with blank, each reduction and
    zero_infinity (an impossible alignment), targets as a padded 2-d tensor and as a
    concatenated 1-d tensor; embedding with padding_idx (no gradient there) and max_norm
    renormalising rows in place; EmbeddingBag with offsets and per_sample_weights."""
    nn, F = L.nn, L.nn.functional
    T, N, C = 6, 3, 5
    logits = L.tensor(_arr(T, N, C, seed=84), requires_grad=True)
    lp = logits.log_softmax(2)
    tg = L.tensor([[1, 2, 2], [3, 1, 0], [4, 4, 4]])
    il = L.tensor([6, 5, 3])
    tl = L.tensor([3, 2, 3])
    out = {r: F.ctc_loss(lp, tg, il, tl, blank=0, reduction=r, zero_infinity=True)
           for r in ("mean", "sum", "none")}
    out["inf"] = F.ctc_loss(lp, tg, il, tl, reduction="none")
    flat = L.cat([tg[0, :3], tg[1, :2], tg[2, :3]])
    out["flat"] = F.ctc_loss(lp, flat, il, tl, zero_infinity=True)
    (out["mean"] + out["flat"]).backward()
    emb = load_seeded(L, nn.Embedding(6, 3, padding_idx=0).double(), 85, 1.0)
    with L.no_grad():
        emb.weight[0].zero_()
    emb_n = load_seeded(L, nn.Embedding(6, 3, max_norm=1.0).double(), 86, 1.0)
    ids = L.tensor([[0, 2, 5], [3, 0, 2]])
    e = emb(ids)
    en = emb_n(ids)
    (e.sum() + en.pow(2).sum()).backward()
    bag = load_seeded(L, nn.EmbeddingBag(6, 3, mode="sum").double(), 87)
    b = bag(L.tensor([1, 2, 4, 5, 4, 3]), L.tensor([0, 2, 2]),
            per_sample_weights=L.tensor(_arr(6, seed=88)))
    return dict(out=out, g=logits.grad, e=e, ge=emb.weight.grad, en=en,
                wn=emb_n.weight.detach(), gn=emb_n.weight.grad, b=b)


@program
def autocast_op_dtype_policy_on_cpu(L):
    """Which ops autocast runs in bfloat16 and which in float32 on the CPU: linear, matmul,
    bmm, addmm, baddbmm, conv1d/conv2d, softmax, log_softmax, layer_norm, cross_entropy,
    mse_loss, sum/exp/mean, cat/stack of mixed dtypes; autocast(enabled=False) nested inside,
    the decorator form, and get_autocast_dtype."""
    nn, F = L.nn, L.nn.functional
    a = L.tensor(_arr(4, 4, seed=90), dtype=L.float32)
    b3 = L.tensor(_arr(2, 4, 4, seed=91), dtype=L.float32)
    img = L.tensor(_arr(1, 2, 5, 5, seed=92), dtype=L.float32)
    w = L.tensor(_arr(3, 2, 3, 3, seed=93), dtype=L.float32)
    w1 = L.tensor(_arr(3, 4, 2, seed=94), dtype=L.float32)
    lin = load_seeded(L, nn.Linear(4, 3), 95)
    y = L.tensor([0, 1, 2, 1])
    dt = {}
    with L.autocast("cpu", dtype=L.bfloat16):
        h = lin(a)
        dt["linear"] = h
        dt["matmul"] = a @ a
        dt["bmm"] = L.bmm(b3, b3)
        dt["addmm"] = L.addmm(a, a, a)
        dt["baddbmm"] = L.baddbmm(b3, b3, b3)
        dt["conv2d"] = F.conv2d(img, w, padding=1)
        dt["conv1d"] = F.conv1d(a[None], w1)
        dt["softmax"] = F.softmax(h, -1)
        dt["log_softmax"] = F.log_softmax(h, -1)
        dt["layer_norm"] = F.layer_norm(h, (3,))
        dt["ce"] = F.cross_entropy(h, y)
        dt["mse"] = F.mse_loss(h, L.zeros(4, 3))
        dt["sum"], dt["exp"], dt["mean"] = h.sum(), h.exp(), h.mean()
        dt["cat"] = L.cat([h, a[:, :3]])
        dt["stack"] = L.stack([h, a[:, :3]])
        dt["add"] = h + a[:, :3]
        with L.autocast("cpu", enabled=False):
            dt["off"] = a @ a
            dt["off_mixed"] = h.float() @ a[:3]
        dtype_in = L.get_autocast_dtype("cpu")

    @L.autocast("cpu", dtype=L.bfloat16)
    def fwd(x):
        return lin(x)

    return dict(dtypes={k: v.dtype for k, v in dt.items()}, lin=dt["linear"].float(),
                mm=dt["matmul"].float(), conv=dt["conv2d"].float(), ce=dt["ce"],
                sm=dt["softmax"].float(), dec=fwd(a).dtype, inside=dtype_in)


@program
def generation_logits_processors_topk_topp_repetition(L):
    """Sampling-time logits processing as generation libraries write it: repetition penalty
    by gather/where/scatter, temperature, top-k filtering by the k-th value, top-p (nucleus)
    filtering by sort/cumsum and scatter of the removal mask back to vocabulary order (the
    first token kept), min-length EOS masking, and multinomial draws with a Generator."""
    F = L.nn.functional
    V, eos = 12, 11
    logits = L.tensor(_arr(3, V, seed=96) * 2)
    prev = L.tensor([[1, 4, 4], [0, 2, 7], [5, 5, 5]])
    # tokens already produced are made less likely (positive scores / 1.3, negative * 1.3)
    seen = logits.gather(1, prev)
    score = L.where(seen >= 0, seen / 1.3, seen * 1.3)
    logits = logits.scatter(1, prev, score) / 0.7               # then the temperature
    fifth = L.topk(logits, 5)[0][..., -1, None]
    topk = logits.masked_fill(logits < fifth, -float("inf"))
    # nucleus from the least likely end: drop while the running mass stays within 0.2,
    # never the most likely token; the flags go back to vocabulary order by scatter
    ranked, order = L.sort(topk, descending=False)
    drop_ranked = ranked.softmax(-1).cumsum(-1) <= (1 - 0.8)
    drop_ranked[..., -1:] = False
    remove = drop_ranked.scatter(1, order, drop_ranked)
    topp = topk.masked_fill(remove, -float("inf"))
    cur_len = L.tensor([1, 5, 2])
    topp[:, eos] = L.where(cur_len < 3, L.full((3,), -float("inf"), dtype=topp.dtype),
                           topp[:, eos])
    probs = F.softmax(topp, -1)
    g = L.Generator().manual_seed(12)
    draws = L.multinomial(probs, 4, replacement=True, generator=g)
    greedy = probs.argmax(-1)
    return dict(score=score, topk=topk, remove=remove, topp=topp, probs=probs, draws=draws,
                greedy=greedy, kept=L.isfinite(topp).sum(-1))


@program
def beam_search_bookkeeping_with_floor_division(L):
    """Beam search bookkeeping: log-probs added to beam scores, topk over the flattened
    beam*vocab axis, beam and token ids by div(rounding_mode='floor') and remainder,
    index_select reordering of a cached state, finished-hypothesis masking, and the length
    penalty."""
    F = L.nn.functional
    B, K, V = 2, 3, 7
    W = L.tensor(_arr(V, 5, seed=97))
    emb = L.tensor(_arr(V, 5, seed=98))
    scores = L.tensor([[0.0] + [-1e9] * (K - 1)] * B, dtype=L.float64)
    state = L.zeros(B * K, 5, dtype=L.float64)
    tokens = L.zeros(B * K, 0, dtype=L.long)
    last = L.zeros(B * K, dtype=L.long)
    done = L.zeros(B * K, dtype=L.bool)
    hist = []
    for step in range(4):
        state = L.tanh(state + emb[last])
        lp = F.log_softmax(state @ W.t(), -1)
        lp = L.where(done[:, None], L.full_like(lp, -float("inf")).index_fill(1, L.tensor([0]),
                                                                               0.0), lp)
        cand = (scores.view(-1, 1) + lp).view(B, K * V)
        top, idx = cand.topk(K, dim=1)
        beam = L.div(idx, V, rounding_mode="floor")
        tok = idx % V
        base = (L.arange(B) * K)[:, None]
        sel = (base + beam).view(-1)
        state = state.index_select(0, sel)
        tokens = L.cat([tokens[sel], tok.view(-1, 1)], 1)
        done = done[sel] | (tok.view(-1) == 0)
        last = tok.view(-1)
        scores = top
        hist.append((beam, tok))
    lengths = (tokens != 0).sum(1).clamp(min=1).double()
    final = scores.view(-1) / lengths ** 1.2
    best = final.view(B, K).argmax(1)
    return dict(hist=hist, tokens=tokens, scores=scores, final=final, best=best, done=done)


@program
def ranking_and_segmentation_metrics(L):
    """More hand-written metrics: recall@k and MRR of retrieval by cdist/topk, NDCG with
    log2 discounts, Spearman correlation from ranks by argsort of argsort, Pearson by
    corrcoef, weighted covariance by cov(fweights, aweights), and segmentation mIoU from a
    bincount confusion matrix with an ignore label (255)."""
    q = L.tensor(_arr(5, 4, seed=100))
    db = L.tensor(_arr(9, 4, seed=101))
    gt = L.tensor([2, 7, 0, 4, 4])
    d = L.cdist(q, db)
    rank_idx = d.argsort(1)
    hits = rank_idx == gt[:, None]
    first = hits.float().argmax(1)
    recall = {k: hits[:, :k].any(1).float().mean() for k in (1, 3, 5)}
    mrr = (1.0 / (first + 1).double()).mean()
    rel = L.tensor(np.random.RandomState(102).randint(0, 4, (5, 9)).astype(np.float64))
    ranked_rel = rel.gather(1, rank_idx)
    disc = 1.0 / L.log2(L.arange(2, 11, dtype=L.float64))
    dcg = ((2 ** ranked_rel - 1) * disc).sum(1)
    idcg = ((2 ** rel.sort(1, descending=True).values - 1) * disc).sum(1)
    ndcg = dcg / idcg
    a, b = L.tensor(_arr(12, seed=103)), L.tensor(_arr(12, seed=104))
    ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double()
    spearman = L.corrcoef(L.stack([ra, rb]))[0, 1]
    pearson = L.corrcoef(L.stack([a, b + a]))
    cov = L.cov(L.stack([a, b]), fweights=L.arange(1, 13), aweights=L.linspace(0.5, 1.5, 12,
                                                                               dtype=L.float64))
    C = 4
    pred = L.tensor(_labels(60, C, 105).reshape(6, 10))
    tgt = L.tensor(_labels(60, C, 106).reshape(6, 10))
    tgt[0, :4] = 255
    keep = tgt != 255
    cm = L.bincount(tgt[keep] * C + pred[keep], minlength=C * C).reshape(C, C)
    inter = cm.diag()
    union = cm.sum(0) + cm.sum(1) - inter
    iou = inter.double() / union.double()
    return dict(recall=recall, mrr=mrr, ndcg=ndcg, spearman=spearman, pearson=pearson,
                cov=cov, cm=cm, iou=iou, miou=iou.nanmean(), pix=(inter.sum() / cm.sum()))


@program
def dataloader_argument_errors_and_no_auto_batching(L):
    """DataLoader's argument checks as scripts trip over them (shuffle with a sampler,
    batch_sampler with batch_size, prefetch_factor without workers, len of an IterableDataset
    without __len__) with their exception types and words, and batch_size=None (no automatic
    batching: items come through default_convert)."""
    D = L.utils.data
    ds = D.TensorDataset(L.arange(6.0), L.arange(6))

    class Stream(D.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    def err(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, str(e).replace("minigrad", "torch")
        return "no error"

    sampler = D.SequentialSampler(ds)
    return dict(
        shuffle=err(lambda: D.DataLoader(ds, shuffle=True, sampler=sampler)),
        bs=err(lambda: D.DataLoader(ds, batch_size=2, batch_sampler=D.BatchSampler(
            sampler, 2, False))),
        pf=err(lambda: D.DataLoader(ds, prefetch_factor=2)),
        ln=err(lambda: len(D.DataLoader(Stream()))),
        it=err(lambda: D.DataLoader(Stream(), shuffle=True)),
        nobatch=list(D.DataLoader(ds, batch_size=None)),
        np_items=list(D.DataLoader([np.arange(2.0), np.arange(2.0, 4)], batch_size=None)),
        stream=list(D.DataLoader(Stream(), batch_size=2)))


@program
def global_rng_consumed_by_loaders_and_samplers(L):
    """What shuffling draws from the global generator when no Generator is given: a shuffled
    DataLoader's base seed and its RandomSampler's seed per epoch, WeightedRandomSampler and
    SubsetRandomSampler drawing from it, random_split's default generator, and the numbers
    torch.rand gives afterwards (the same stream position)."""
    D = L.utils.data
    L.manual_seed(31)
    ds = D.TensorDataset(L.arange(7))
    dl = D.DataLoader(ds, batch_size=3, shuffle=True)
    e1, e2 = list(dl), list(dl)
    after_dl = L.rand(2)
    w = list(D.WeightedRandomSampler([0.1, 0.5, 0.2, 0.2], 5))
    s = list(D.SubsetRandomSampler([3, 5, 7, 9]))
    r = list(D.RandomSampler(range(6)))
    split = [list(x) for x in D.random_split(range(8), [5, 3])]
    plain = list(D.DataLoader(ds, batch_size=4))
    return dict(e1=e1, e2=e2, after_dl=after_dl, w=w, s=s, r=r, split=split, plain=plain,
                end=L.rand(2))


@program
def legacy_checkpoints_batchnorm_version_and_state_dict_hooks(L):
    """Loading old checkpoints: a BatchNorm state dict without num_batches_tracked loaded with
    strict=True (the version-1 upgrade path), the _metadata of state_dict, a load_state_dict
    pre-hook renaming keys of an older layout, a state-dict post hook dropping a key (one that
    returns the popped value is refused), and shared storage of views surviving
    torch.save/torch.load."""
    nn = L.nn
    src = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).double(), 110)
    old = {k: v for k, v in src.state_dict().items() if not k.endswith("num_batches_tracked")}
    dst = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).double()
    res = dst.load_state_dict(old, strict=True)
    meta = src.state_dict()._metadata
    nbt = dst[1].num_batches_tracked

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(3, 3).double()
            self._register_load_state_dict_pre_hook(self._upgrade)

        @staticmethod
        def _upgrade(state_dict, prefix, *args):
            for k in list(state_dict):
                if k.startswith(prefix + "dense."):
                    state_dict[prefix + "proj." + k[len(prefix) + 6:]] = state_dict.pop(k)

    layer = Layer()
    wrapped = nn.Sequential(layer)
    legacy = {"0.dense.weight": L.eye(3, dtype=L.float64), "0.dense.bias":
              L.ones(3, dtype=L.float64)}
    r2 = wrapped.load_state_dict(legacy)
    wrong = wrapped.register_state_dict_post_hook(         # a hook returning the popped value
        lambda mod, sd, prefix, local: sd.pop("0.proj.bias"))
    refused = err(wrapped.state_dict)
    wrong.remove()

    def drop_bias(mod, sd, prefix, local):
        del sd["0.proj.bias"]               # edits sd in place; a post hook returns None

    handle = wrapped.register_state_dict_post_hook(drop_bias)
    keys = list(wrapped.state_dict())
    handle.remove()
    base = L.arange(6.0)
    buf = io.BytesIO()
    L.save({"a": base, "v": base[2:5], "t": base.view(2, 3).t()}, buf)
    buf.seek(0)
    got = L.load(buf)
    got["v"][0] = 100.0
    return dict(missing=res.missing_keys, nbt=nbt, meta=sorted(meta.keys()), refused=refused,
                ver=meta["1"], r2=(r2.missing_keys, r2.unexpected_keys), w=layer.proj.weight,
                keys=keys, after=list(wrapped.state_dict()), a=got["a"], t=got["t"],
                tc=got["t"].is_contiguous(), stride=got["t"].stride())


@program
def custom_lr_scheduler_subclass_and_optimizer_hooks(L):
    """A library's own scheduler as an LRScheduler subclass (get_lr over base_lrs and
    last_epoch, a closed form), chained with ChainedScheduler, PolynomialLR and
    CosineAnnealingWarmRestarts stepped by fractional epochs; optimizer step pre/post hooks
    counting steps and an optimizer over named parameters (param_names in its state_dict)."""
    S = L.optim.lr_scheduler

    class InverseSqrt(S.LRScheduler):
        def __init__(self, opt, warmup, last_epoch=-1):
            self.warmup = warmup
            super().__init__(opt, last_epoch)

        def get_lr(self):
            s = max(1, self.last_epoch)
            f = min(s / self.warmup, (self.warmup / s) ** 0.5)
            return [b * f for b in self.base_lrs]

    p = L.nn.Parameter(L.tensor([1.0, -2.0], dtype=L.float64))
    opt = L.optim.SGD([p], lr=0.5)
    pre, post = [], []
    h1 = opt.register_step_pre_hook(lambda o, a, k: pre.append(o.param_groups[0]["lr"]))
    h2 = opt.register_step_post_hook(lambda o, a, k: post.append(len(o.state)))
    sched = S.ChainedScheduler([InverseSqrt(opt, 3), S.PolynomialLR(opt, total_iters=6,
                                                                    power=2.0)])
    lrs = []
    for _ in range(7):
        p.grad = p.detach() * 0.1
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    h1.remove(), h2.remove()
    q = L.nn.Parameter(L.ones(1))
    o2 = L.optim.SGD([q], lr=1.0)
    warm = S.CosineAnnealingWarmRestarts(o2, T_0=2, T_mult=2, eta_min=0.01)
    fr = []
    for i in range(10):
        warm.step(i / 3)
        fr.append(o2.param_groups[0]["lr"])
    lin = L.nn.Linear(2, 2)
    named = L.optim.AdamW(lin.named_parameters(), lr=0.1)
    lin(L.ones(1, 2)).sum().backward()
    named.step()
    sd = named.state_dict()
    return dict(lrs=lrs, pre=pre, post=post, fr=fr, names=sd["param_groups"][0].get(
        "param_names"), keys=sorted(sd["param_groups"][0]), state=sorted(sd["state"]))


@program
def grad_scaler_skips_nonfinite_steps_and_backs_off(L):
    """GradScaler's dynamic scale on the CPU: an overflowing step (inf gradient) is skipped
    and the scale halves, growth after growth_interval clean steps, unscale_ then clipping,
    the scaler's state_dict/load_state_dict, and _found_inf per device read as a total."""
    nn = L.nn
    model = load_seeded(L, nn.Linear(3, 2), 111)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    scaler = L.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_factor=2.0,
                              backoff_factor=0.5, growth_interval=2)
    x = L.tensor(_arr(4, 3, seed=112), dtype=L.float32)
    log = []
    for step in range(6):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        if step == 1:
            loss = loss * float("inf")
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        norm = L.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        scaler.step(opt)
        scaler.update()
        log.append((scaler.get_scale(), bool(L.isfinite(norm)), model.weight.detach().clone()))
    sd = scaler.state_dict()
    other = L.amp.GradScaler("cpu")
    other.load_state_dict(sd)
    return dict(log=log, sd=sd, other=other.get_scale(), growth=other.get_growth_interval())


@program
def optimizer_in_backward_by_post_accumulate_grad_hooks(L):
    """The optimizer-in-backward idiom: one optimizer per parameter stepped from
    register_post_accumulate_grad_hook and the gradient freed there, giving the same weights
    as an ordinary step; and a full backward pre-hook and forward hooks with kwargs,
    prepend and always_call."""
    nn = L.nn
    ref = load_seeded(L, nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2)).double(),
                      113)
    model = copy.deepcopy(ref)
    x = L.tensor(_arr(6, 4, seed=114))
    opt = L.optim.Adam(ref.parameters(), lr=0.05)
    opts = {p: L.optim.Adam([p], lr=0.05) for p in model.parameters()}

    def hook(p):
        opts[p].step()
        opts[p].zero_grad()

    for p in model.parameters():
        p.register_post_accumulate_grad_hook(hook)
    for _ in range(3):
        opt.zero_grad()
        ref(x).pow(2).sum().backward()
        opt.step()
        model(x).pow(2).sum().backward()
    order, seen = [], []
    lin = model[0]
    lin.register_forward_hook(lambda m, a, kw, out: order.append(("b", sorted(kw))),
                              with_kwargs=True)
    lin.register_forward_hook(lambda m, a, out: order.append("a"), prepend=True)
    lin.register_forward_pre_hook(lambda m, a, kw: (a, kw), with_kwargs=True)
    model[2].register_full_backward_pre_hook(lambda m, go: seen.append(go[0].shape))
    model(x).sum().backward()
    return dict(ref=params_of(ref), mine=params_of(model),
                grads=[p.grad for p in model.parameters()], order=order, seen=seen)


@program
def to_empty_init_and_fused_conv_bn(L):
    """Inference plumbing: a model's storage replaced by to_empty (uninitialised) and filled
    by load_state_dict; skip_init; fuse_conv_bn_eval folding BatchNorm
    into the conv weights, giving the same outputs; and init functions with a Generator."""
    nn, U = L.nn, L.nn.utils
    src = load_seeded(L, nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)).double(), 115)
    src[1].running_var.uniform_(0.5, 1.5, generator=L.Generator().manual_seed(1))
    lazy = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)).double()
    lazy = lazy.to_empty(device="cpu")
    meta = (lazy[0].weight.is_meta, lazy[0].weight.device.type, lazy[0].weight.shape)
    lazy.load_state_dict(src.state_dict())
    skipped = U.skip_init(nn.Linear, 3, 2)
    src.eval()
    fused = U.fuse_conv_bn_eval(src[0], src[1])
    x = L.tensor(_arr(1, 2, 5, 5, seed=116))
    g = L.Generator().manual_seed(5)
    w = L.empty(4, 6, dtype=L.float64)
    inits = []
    for f in (lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5), generator=g),
              lambda t: nn.init.xavier_normal_(t, gain=2.0, generator=g),
              lambda t: nn.init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04, generator=g),
              lambda t: nn.init.normal_(t, 0.0, 0.5, generator=g),
              lambda t: nn.init.uniform_(t, -0.1, 0.1, generator=g)):
        inits.append(f(w).clone())
    return dict(meta=meta, dev=lazy[0].weight.device.type, out=lazy.eval()(x),
                ref=src(x), fused=fused(x), fw=fused.weight, fb=fused.bias,
                shape=skipped.weight.shape, inits=inits)


@program
def sync_batchnorm_conversion_and_eval_semantics(L):
    """SyncBatchNorm.convert_sync_batchnorm as DDP scripts call it (the module tree converted,
    the statistics and affine parameters carried over), its eval forward equal to BatchNorm's,
    and BatchNorm with track_running_stats=False using batch statistics in eval."""
    nn = L.nn
    model = load_seeded(L, nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3),
                                         nn.Sequential(nn.BatchNorm2d(3))).double(), 117)
    model[1].running_var.fill_(1.3)
    model[2][0].running_var.fill_(0.7)
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(model))
    x = L.tensor(_arr(2, 2, 4, 4, seed=118))
    model.eval(), conv.eval()
    bn = load_seeded(L, nn.BatchNorm1d(3, track_running_stats=False).double(), 119).eval()
    xb = L.tensor(_arr(5, 3, seed=120))
    return dict(kinds=[type(m).__name__ for m in conv.modules()], ref=model(x), sync=conv(x),
                rv=conv[2][0].running_var, w=conv[1].weight, bn=bn(xb),
                rm=bn.running_mean is None)


# ----------------------------------------------------------------------------------------------
# the script's preamble and its checks
# ----------------------------------------------------------------------------------------------
@program
def script_preamble_devices_flags_and_legacy_amp(L):
    """The lines at the top of training scripts: device selection by cuda.is_available,
    cudnn/tf32 flags, float32 matmul precision, deterministic algorithms, fork_rng, the
    deprecated torch.cpu.amp / torch.cuda.amp spellings (their FutureWarnings), DataParallel
    on the CPU and the distributed helpers guarded by is_initialized."""
    device = "cuda" if L.cuda.is_available() else "cpu"
    saved = (L.backends.cudnn.benchmark, L.backends.cudnn.deterministic,
             L.backends.cuda.matmul.allow_tf32)
    L.backends.cudnn.benchmark = False
    L.backends.cudnn.deterministic = True
    L.backends.cuda.matmul.allow_tf32 = True
    flags = (L.backends.cudnn.benchmark, L.backends.cudnn.deterministic,
             L.backends.cuda.matmul.allow_tf32)
    (L.backends.cudnn.benchmark, L.backends.cudnn.deterministic,
     L.backends.cuda.matmul.allow_tf32) = saved          # the process's flags put back
    L.set_float32_matmul_precision("high")
    prec = L.get_float32_matmul_precision()
    L.set_float32_matmul_precision("highest")
    L.use_deterministic_algorithms(True, warn_only=True)
    det = (L.are_deterministic_algorithms_enabled(),
           L.is_deterministic_algorithms_warn_only_enabled())
    L.use_deterministic_algorithms(False)
    L.manual_seed(0)
    with L.random.fork_rng(devices=[]):
        inside = L.rand(3)
    outside = L.rand(3)
    dts = []
    with L.cpu.amp.autocast(dtype=L.bfloat16):
        dts.append((L.ones(2, 2) @ L.ones(2, 2)).dtype)
    scaler = L.cuda.amp.GradScaler(enabled=False)
    model = load_seeded(L, L.nn.Linear(2, 3), 121)
    dp = L.nn.DataParallel(model)
    d = L.distributed
    rank = d.get_rank() if d.is_available() and d.is_initialized() else 0
    return dict(device=device, flags=flags, prec=prec, det=det, inside=inside, outside=outside,
                dts=dts, scaler=scaler.is_enabled(), dp=list(dp.state_dict()),
                out=dp(L.ones(1, 2)),
                rank=rank, mods=type(dp.module).__name__, cnt=L.cuda.device_count(),
                x=L.ones(2).to(device, non_blocking=True))


@program
def logging_lines_and_loss_sanity_checks(L):
    """What logging and guards do with tensors: f-string formats of 0-d tensors, format of a
    1-d tensor refused, math.isnan/isfinite of a loss, the mean of an empty selection (NaN,
    as an empty batch of a masked loss gives), numpy() of a tensor requiring grad refused,
    item() of several elements refused, and legacy tensor types in old code."""
    loss = L.tensor(0.123456789, dtype=L.float64)
    v = L.tensor([1.5, 2.5])
    empty = L.tensor(_arr(4, seed=122))[L.zeros(4, dtype=L.bool)]
    w = L.ones(2, requires_grad=True)
    a = L.LongTensor([1, 2])
    return dict(
        line=f"step {3:04d} loss {loss:.4f} lr {L.tensor(3e-4):.2e} acc {L.tensor(0.5):.1%}",
        vec=err(lambda: f"{v:.2f}"), plain=f"{v}", isnan=math.isnan(loss),
        fin=math.isfinite(loss.item()), empty=(empty.mean(), empty.sum(), empty.nanmean()),
        emax=err(lambda: empty.max()), np=err(lambda: w.numpy()), item=err(lambda: v.item()),
        legacy=(a, a.type(), a.type(L.DoubleTensor), L.FloatTensor(2, 3).zero_(),
                isinstance(a, L.LongTensor)),
        stack=err(lambda: L.stack([])), tt=err(lambda: L.tensor([L.ones(2), L.ones(2)])))


@program
def loss_argument_dtype_and_shape_errors(L):
    """The loss errors training scripts hit first, with torch's exception types and words:
    int32/uint8/float class targets, a target class out of range, mismatched BCE shapes and
    dtypes, label_smoothing out of range, and a broadcasting MSE target (its UserWarning)."""
    F = L.nn.functional
    x = L.tensor(_arr(4, 3, seed=123), dtype=L.float32)
    return [err(lambda: F.cross_entropy(x, L.tensor([0, 1, 2, 1], dtype=L.int32))),
            err(lambda: F.cross_entropy(x, L.tensor([0, 1, 2, 1], dtype=L.uint8))),
            err(lambda: F.cross_entropy(x, L.tensor([0., 1., 2., 1.]))),
            err(lambda: F.nll_loss(x, L.tensor([0, 1, 5, 1]))),
            err(lambda: F.binary_cross_entropy(x.sigmoid(), L.ones(4, 3, dtype=L.float64))),
            err(lambda: F.binary_cross_entropy_with_logits(x, L.ones(4, 1))),
            err(lambda: F.binary_cross_entropy(x, L.ones(4, 3))),
            err(lambda: F.cross_entropy(x, L.tensor([0, 1, 2, 1]), label_smoothing=1.5)),
            F.mse_loss(x, L.ones(4, 1)), F.l1_loss(x, L.ones(4, 3, dtype=L.float64))]


# ----------------------------------------------------------------------------------------------
# more library internals
# ----------------------------------------------------------------------------------------------
@program
def scatter_reduce_index_reduce_and_unique_consecutive(L):
    """Graph-library and tokenizer internals: scatter_reduce with every reduction with and
    without include_self (segment sums/means/maxima of node features), index_reduce_,
    unique_consecutive with inverse and counts (run-length encoding), unique with inverse
    (vocabulary building), and gradients of a scatter-mean pooling."""
    src = L.tensor([1.0, 5.0, 2.0, 8.0, 3.0], dtype=L.float64)
    idx = L.tensor([0, 1, 0, 1, 2])
    base = L.tensor([10.0, -1.0, 0.0, 7.0], dtype=L.float64)
    out = {f"{r}-{i}": base.scatter_reduce(0, idx, src, r, include_self=i)
           for r in ("sum", "prod", "mean", "amax", "amin") for i in (True, False)}
    out["ir_mean"] = base.clone().index_reduce_(0, idx, src, "mean", include_self=False)
    out["ir_amax"] = base.clone().index_reduce_(0, idx, src, "amax")
    x = L.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    out["rle"] = L.unique_consecutive(x, return_inverse=True, return_counts=True)
    out["vocab"] = L.unique(x, return_inverse=True, return_counts=True)
    feats = L.tensor(_arr(6, 3, seed=124), requires_grad=True)
    batch = L.tensor([0, 0, 1, 2, 2, 2])
    pooled = L.zeros(3, 3, dtype=L.float64).scatter_reduce(
        0, batch[:, None].expand(-1, 3), feats, "mean", include_self=False)
    mx = L.zeros(3, 3, dtype=L.float64).scatter_reduce(
        0, batch[:, None].expand(-1, 3), feats, "amax", include_self=False)
    (pooled.pow(2).sum() + mx.sum()).backward()
    out.update(pooled=pooled, mx=mx, g=feats.grad)
    return out


@program
def recurrent_plumbing_packed_gru_h0_lstm_proj_left_padding(L):
    """RNN plumbing: a packed unsorted batch through a 2-layer GRU with a given h0 (permuted
    by the packing's sorted indices), an LSTM with proj_size (its state-dict keys and shapes),
    pad_sequence with padding_side='left', and pack_padded_sequence's refusals (a zero
    length, unsorted lengths with enforce_sorted)."""
    R, nn = L.nn.utils.rnn, L.nn
    g = load_seeded(L, nn.GRU(2, 3, num_layers=2, batch_first=True).double(), 125)
    x = L.tensor(_arr(3, 4, 2, seed=126))
    h0 = L.tensor(_arr(2, 3, 3, seed=127), requires_grad=True)
    pk = R.pack_padded_sequence(x, L.tensor([2, 4, 3]), batch_first=True, enforce_sorted=False)
    o, h = g(pk, h0)
    u, _ = R.pad_packed_sequence(o, batch_first=True)
    (u.sum() + h.pow(2).sum()).backward()
    lstm = load_seeded(L, nn.LSTM(3, 5, proj_size=2, num_layers=2).double(), 128)
    xs = L.tensor(_arr(4, 2, 3, seed=129), requires_grad=True)
    lo, (lh, lc) = lstm(xs)
    lo.sum().backward()
    s = [L.tensor([1, 2]), L.tensor([3, 4, 5])]
    z = L.ones(3, 4, 2)
    return dict(u=u, h=h, gh0=h0.grad, gg=grads_of(g), lo=lo, lh=lh, lc=lc, gx=xs.grad,
                keys={k: v.shape for k, v in lstm.state_dict().items()},
                left=R.pad_sequence(s, batch_first=True, padding_side="left"),
                right=R.pad_sequence(s, padding_value=-1),
                zero=err(lambda: R.pack_padded_sequence(z, L.tensor([4, 0, 2]), batch_first=True,
                                                        enforce_sorted=False)),
                unsorted=err(lambda: R.pack_padded_sequence(z, L.tensor([2, 4, 1]),
                                                            batch_first=True)))


@program
def attention_modules_eval_with_padding_masks(L):
    """Eval-time plumbing of attention modules: MultiheadAttention with key_padding_mask and a
    float causal mask, per-head weights (average_attn_weights=False) and need_weights=False;
    a TransformerEncoder with enable_nested_tensor under no_grad (padded positions) and with
    grad."""
    nn = L.nn
    m = load_seeded(L, nn.MultiheadAttention(8, 2, batch_first=True).double(), 130).eval()
    x = L.tensor(_arr(2, 4, 8, seed=131))
    kpm = L.tensor([[False, False, True, True], [False] * 4])
    am = L.triu(L.full((4, 4), float("-inf"), dtype=L.float64), 1)
    with L.no_grad():
        a = m(x, x, x, key_padding_mask=kpm, attn_mask=am, need_weights=True,
              average_attn_weights=False)
        b = m(x, x, x, key_padding_mask=kpm, need_weights=False)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    enc = load_seeded(L, nn.TransformerEncoder(layer, 2, enable_nested_tensor=True), 132).eval()
    xf = L.tensor(_arr(2, 5, 8, seed=133), dtype=L.float32)
    pad = L.tensor([[False] * 5, [False, False, False, True, True]])
    with L.no_grad():
        o = enc(xf, src_key_padding_mask=pad)
    o2 = enc(xf, src_key_padding_mask=pad)
    return dict(a=a, b=b, o=o, o2=o2)


@program
def custom_autograd_functions_gradient_reversal_and_ste(L):
    """Custom autograd.Functions of training tricks: a gradient reversal layer (domain
    adaptation) with a non-tensor argument, a straight-through rounding estimator with
    save_for_backward and once_differentiable, and saved-tensor hooks (pack/unpack counting,
    save_on_cpu) around the graph."""
    class GradReverse(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, alpha):
            ctx.alpha = alpha
            return x.view_as(x)

        @staticmethod
        def backward(ctx, g):
            return -ctx.alpha * g, None

    class RoundSTE(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.round()

        @staticmethod
        @L.autograd.function.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * (x.abs() < 1.5)

    x = L.tensor([0.3, -1.7, 1.2, 2.6], dtype=L.float64, requires_grad=True)
    packed = []
    with L.autograd.graph.saved_tensors_hooks(lambda t: (packed.append(t.shape), t)[1],
                                              lambda t: t):
        r = RoundSTE.apply(x)
        e = (x * x).exp()
    y = GradReverse.apply(x, 0.5) * 2 + r ** 2 + e
    y.sum().backward()
    with L.autograd.graph.save_on_cpu():
        z = (x.sin() * x).sum()
    z.backward()
    return dict(y=y, g=x.grad, node=type(y.grad_fn).__name__, packed=len(packed))


@program
def optimizer_variants_cyclic_momentum_swalr_and_state_casting(L):
    """Optimizer options as configs set them: Adam with amsgrad/maximize/foreach/weight decay
    (states compared), CyclicLR cycling Adam's beta1, a three-phase OneCycleLR, SWALR's
    annealing, and an Adam state dict loaded into a float32 model (moments cast to the
    parameter's dtype, step kept float32)."""
    out = {}
    for kw in (dict(amsgrad=True), dict(maximize=True), dict(foreach=True),
               dict(foreach=False, weight_decay=0.1), dict(amsgrad=True, foreach=True)):
        p = L.nn.Parameter(L.tensor([1.0, -2.0, 0.5], dtype=L.float64))
        o = L.optim.Adam([p], lr=0.1, **kw)
        for i in range(4):
            p.grad = L.sin(p.detach() * (i + 1))
            o.step()
        out[str(sorted(kw.items()))] = (p.detach().clone(), dict(o.state[p]))
    p = L.nn.Parameter(L.ones(2))
    o = L.optim.Adam([p], lr=0.1, betas=(0.9, 0.99))
    s = L.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="triangular2",
                                      cycle_momentum=True, base_momentum=0.8, max_momentum=0.95)
    sched = []
    for _ in range(6):
        o.step(), s.step()
        sched.append((o.param_groups[0]["lr"], o.param_groups[0]["betas"]))
    o2 = L.optim.AdamW([p], lr=0.1)
    s2 = L.optim.lr_scheduler.OneCycleLR(o2, 1.0, total_steps=8, three_phase=True,
                                         anneal_strategy="linear")
    for _ in range(7):
        o2.step(), s2.step()
        sched.append((o2.param_groups[0]["lr"], o2.param_groups[0]["betas"]))
    o3 = L.optim.SGD([p], lr=0.5)
    s3 = L.optim.swa_utils.SWALR(o3, swa_lr=0.05, anneal_epochs=3, anneal_strategy="cos")
    for _ in range(5):
        o3.step(), s3.step()
        sched.append(s3.get_last_lr())
    q64 = L.nn.Parameter(L.ones(2, dtype=L.float64))
    a = L.optim.Adam([q64], lr=0.1)
    q64.grad = L.ones(2, dtype=L.float64)
    a.step()
    q32 = L.nn.Parameter(L.ones(2))
    b = L.optim.Adam([q32], lr=0.1)
    b.load_state_dict(a.state_dict())
    st = b.state[q32]
    return dict(out=out, sched=sched, cast=(st["exp_avg"], st["step"]))


@program
def seeded_random_draws_of_augmentation_and_sampling_code(L):
    """The random draws of augmentation and sampling code with Generators and the global
    seed: exponential_/geometric_/log_normal_/cauchy_, normal with tensor moments, poisson,
    randint in int32, *_like factories, gumbel_softmax (hard and soft), and distributions'
    sample() (Gamma, Beta, Dirichlet, Poisson, Binomial, StudentT, OneHotCategorical,
    RelaxedOneHotCategorical)."""
    g = L.Generator().manual_seed(3)
    D, F = L.distributions, L.nn.functional
    out = [L.empty(5, dtype=L.float64).exponential_(2.0, generator=g),
           L.empty(5).geometric_(0.3, generator=g),
           L.empty(5, dtype=L.float64).log_normal_(0.0, 0.5, generator=g),
           L.empty(4).cauchy_(generator=g),
           L.normal(L.arange(4.0), L.ones(4) * 0.5, generator=g),
           L.poisson(L.tensor([1.0, 4.0, 10.0]), generator=g),
           L.randint(3, 9, (4,), generator=g, dtype=L.int32)]
    L.manual_seed(7)
    out += [L.randn_like(L.zeros(3, dtype=L.float64)), L.rand_like(L.zeros(2)),
            L.randint_like(L.zeros(3), 5),
            F.gumbel_softmax(L.zeros(2, 4, dtype=L.float64), tau=0.5, hard=True),
            F.gumbel_softmax(L.ones(2, 4), tau=2.0)]
    L.manual_seed(11)
    out += [D.Gamma(L.tensor([0.5, 2.0, 5.0]), L.tensor([1.0, 2.0, 0.5])).sample((3,)),
            D.Beta(L.tensor([0.5, 2.0]), L.tensor([2.0, 3.0])).sample((2,)),
            D.Dirichlet(L.tensor([0.3, 1.0, 2.0])).sample((2,)),
            D.Poisson(L.tensor([3.0])).sample((4,)),
            D.Binomial(10, L.tensor([0.2, 0.7])).sample((2,)),
            D.StudentT(L.tensor([3.0])).sample((3,)),
            D.OneHotCategorical(logits=L.zeros(4)).sample((2,)),
            D.RelaxedOneHotCategorical(L.tensor(0.5), logits=L.zeros(3)).rsample((2,))]
    return out


@program
def interpolation_modes_for_resizing_masks_and_images(L):
    """Resizing as data pipelines do it: bilinear and bicubic downsampling with antialias,
    area (adaptive average), nearest with recompute_scale_factor, linear on 1-d signals, and
    gradients through the antialiased resize."""
    F = L.nn.functional
    x = L.tensor(np.random.RandomState(134).rand(1, 2, 9, 7), requires_grad=True)
    outs = [F.interpolate(x, size=(4, 3), mode="bilinear", antialias=True),
            F.interpolate(x, size=(4, 3), mode="area"),
            F.interpolate(x, scale_factor=0.5, mode="bicubic", antialias=True,
                          align_corners=False),
            F.interpolate(x, scale_factor=1.7, mode="nearest", recompute_scale_factor=True),
            F.interpolate(x[:, :, 0], scale_factor=2.5, mode="linear")]
    sum(o.pow(2).sum() for o in outs).backward()
    return dict(outs=outs, g=x.grad)


@program
def whole_model_saving_pruning_and_reparametrised_keys(L):
    """Saving and surgery beyond state dicts: a whole module through torch.save and
    torch.load (weights_only refusing it by default, map_location as a string and as a
    function), magnitude pruning (l1_unstructured's weight_orig/weight_mask, the masked
    gradient, prune.remove; ln_structured and global_unstructured), weight_norm's and
    spectral_norm's state-dict keys, and a model cast to bfloat16 (integer buffers kept)."""
    import importlib
    nn = L.nn
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    m = load_seeded(L, nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)).double(), 140)
    buf = io.BytesIO()
    L.save(m, buf)
    buf.seek(0)
    refused = err(lambda: L.load(buf), quiet=True)
    buf.seek(0)
    m2 = L.load(buf, weights_only=False, map_location="cpu")
    buf.seek(0)
    m3 = L.load(buf, weights_only=False, map_location=lambda storage, loc: storage)
    p = load_seeded(L, nn.Linear(4, 3).double(), 141)
    prune.l1_unstructured(p, "weight", amount=0.3)
    names = (sorted(n for n, _ in p.named_parameters()), sorted(n for n, _ in p.named_buffers()))
    out = p(L.ones(1, 4, dtype=L.float64))
    out.sum().backward()
    g = p.weight_orig.grad
    prune.remove(p, "weight")
    q = load_seeded(L, nn.Linear(4, 3).double(), 142)
    prune.ln_structured(q, "weight", amount=0.5, n=2, dim=0)
    prune.global_unstructured([(q, "bias")], pruning_method=prune.L1Unstructured, amount=1)
    wn = nn.utils.parametrizations.weight_norm(load_seeded(L, nn.Linear(3, 2).double(), 143))
    old_wn = nn.utils.weight_norm(load_seeded(L, nn.Linear(3, 2).double(), 144))
    sn = nn.utils.parametrizations.spectral_norm(load_seeded(L, nn.Linear(3, 2).double(), 145))
    h = load_seeded(L, nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Embedding(4, 2)),
                    146).to(L.bfloat16)
    return dict(refused=type(refused.exc).__name__, kind=type(m2).__name__, w=m2[0].weight,
                rv=m3[1].running_var, out2=m2(L.ones(2, 2, dtype=L.float64)), names=names,
                out=out, g=g, pw=p.weight, pkeys=sorted(p.state_dict()), qw=q.weight, qb=q.bias,
                pruned=prune.is_pruned(q), qkeys=sorted(q.state_dict()),
                wn=(sorted(wn.state_dict()), wn.weight), old=(sorted(old_wn.state_dict()),
                                                              old_wn.weight_g),
                sn=sorted(sn.state_dict()), half={k: v.dtype for k, v in h.state_dict().items()})


@program
def robust_statistics_of_evaluation_code(L):
    """Evaluation statistics with NaNs and ties: nanmedian/nanquantile with missing values,
    kthvalue and mode, quantile over all elements with keepdim, histc's automatic range,
    bincount with float32/float64/int weights (the result dtypes), cummax/cummin, stable sorts
    with NaN, isin, count_nonzero, logcumsumexp, diff with n=2 and append, trapezoid with x,
    cumulative_trapezoid, renorm, round(decimals), searchsorted with NaN, clamp with
    min > max, cosine similarity of a zero vector, pairwise and cdist distances."""
    F = L.nn.functional
    nan = float("nan")
    x = L.tensor([[3.0, nan, 1.0, 2.0, 2.0], [nan, 4.0, nan, 0.5, nan],
                  [1.0, 1.0, 5.0, -2.0, 0.0]], dtype=L.float64)
    y = L.tensor([[3.0, 1.0, 1.0, 2.0, 2.0], [0.5, 4.0, 4.0, 1.0, 1.0]], dtype=L.float64)
    i = L.tensor([0, 2, 2])
    return dict(
        nmed=x.nanmedian(1), nmed0=x.nanmedian(), kth=y.kthvalue(2, 1), mode=y.mode(1),
        q=L.quantile(y, 0.4), qk=L.quantile(y, L.tensor([0.25, 0.75], dtype=L.float64),
                                            dim=None, keepdim=True),
        nq=L.nanquantile(x, 0.5, dim=1), histc0=L.histc(y, bins=4),
        bw=(L.bincount(i, weights=L.tensor([0.5, 1.0, 2.0])),
            L.bincount(i, weights=L.tensor([0.5, 1.0, 2.0], dtype=L.float64)),
            L.bincount(i, weights=L.tensor([1, 2, 3]))),
        cm=y.cummax(1), cmin=y.cummin(1), srt=L.sort(x, dim=1, descending=True, stable=True),
        asort=L.argsort(x, dim=1, stable=True), uniq=L.unique(x),
        isin=L.isin(y, L.tensor([1.0, 4.0], dtype=L.float64)), cnz=L.count_nonzero(y, dim=1),
        lcse=L.logcumsumexp(y, 1),
        diff=L.diff(y, n=2, dim=1, append=L.zeros(2, 1, dtype=L.float64)),
        trap=L.trapezoid(y, x=L.tensor([0.0, 1.0, 3.0, 4.0, 7.0], dtype=L.float64)),
        ctrap=L.cumulative_trapezoid(y, dx=0.5), renorm=L.renorm(y, 2, 0, 3.0),
        rnd=L.round(y / 3, decimals=2),
        ss=L.searchsorted(L.tensor([1.0, 2.0, nan]), L.tensor([nan, 1.5])),
        cl=L.clamp(y, min=3.0, max=2.0), cos=F.cosine_similarity(L.zeros(2, 3), L.ones(2, 3)),
        pd=F.pairwise_distance(y, y.flip(0), p=1.5), cd=L.cdist(y, y.flip(1), p=1.0))


@program
def module_containers_as_libraries_build_them(L):
    """Containers as model builders use them: shared modules in named_modules with and
    without remove_duplicate, ModuleList's compressed repr of repeated layers, ModuleDict
    update/pop, ParameterList/ParameterDict reprs, Sequential insert/append/extend/pop and
    slicing, negative indexing, and the name checks of add_module/register_parameter/
    register_buffer with torch's words."""
    nn = L.nn
    lin = nn.Linear(2, 2)
    s = nn.Sequential(lin, nn.ReLU(), lin, nn.Sequential(nn.Tanh(), lin))
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()])
    md = nn.ModuleDict({"a": nn.ReLU(), "b": nn.Tanh()})
    md.update({"c": nn.GELU()})
    popped = md.pop("a")
    pl = nn.ParameterList([nn.Parameter(L.ones(2)), nn.Parameter(L.zeros(3))])
    pd = nn.ParameterDict({"w": nn.Parameter(L.ones(1))})
    s2 = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.GELU())
    s2.insert(1, nn.Sigmoid())
    s2.append(nn.Identity())
    s2.extend([nn.ELU()])
    s2.pop(0)
    return dict(
        nm=[n for n, _ in s.named_modules()],
        nm2=[n for n, _ in s.named_modules(remove_duplicate=False)],
        np_=[n for n, _ in s.named_parameters()], r=repr(ml), rs=repr(s), md=list(md.keys()),
        popped=type(popped).__name__, pl=repr(pl), pd=repr(pd), s2=repr(s2), sl=repr(s2[1:3]),
        neg=type(ml[-1]).__name__, e1=err(lambda: s.add_module("a.b", nn.ReLU())),
        e2=err(lambda: s.add_module("", nn.ReLU())), e3=err(lambda: ml[7]),
        e5=err(lambda: s.register_parameter("w", L.ones(2))),
        e6=err(lambda: s.register_buffer("b.b", L.ones(1))),
        children=[type(c).__name__ for c in s.children()])


@program
def scheduler_order_warnings_and_scaler_misuse(L):
    """What a loop gets wrong and is told: lr_scheduler.step() before optimizer.step() (its
    UserWarning), a GradScaler step skipped by an inf gradient followed by a scheduler step,
    unscale_ called twice, step without scale, update twice (their errors), and a LambdaLR
    given the wrong number of lambdas."""
    m = load_seeded(L, L.nn.Linear(2, 1), 150)
    o = L.optim.SGD(m.parameters(), lr=0.1)
    s = L.optim.lr_scheduler.StepLR(o, 1, gamma=0.5)
    s.step()
    early = s.get_last_lr()
    sc = L.amp.GradScaler("cpu", init_scale=4.0)
    (m(L.ones(1, 2)).sum() * float("inf")).backward()
    sc.scale(L.ones(1, requires_grad=True).sum())
    sc.unscale_(o)
    twice = err(lambda: sc.unscale_(o))
    ret = sc.step(o)
    sc.update()
    s.step()
    sc2 = L.amp.GradScaler("cpu")
    o.zero_grad()
    sc2.scale(m(L.ones(1, 2)).sum()).backward()
    unscaled = err(lambda: sc2.step(o))
    sc2.update()
    again = err(lambda: sc2.update())
    lam = err(lambda: L.optim.lr_scheduler.LambdaLR(o, [lambda e: 1, lambda e: 2]))
    return dict(early=early, twice=twice, ret=ret, lr=s.get_last_lr(), scale=sc.get_scale(),
                unscaled=unscaled, again=again, lam=lam, w=m.weight, sd=sc2.state_dict())


@program
def distribution_kl_terms_validation_and_log_probs(L):
    """KL terms and log-probs as probabilistic losses use them: registered KL pairs (Beta,
    Categorical, MultivariateNormal, LowRankMultivariateNormal against a full MVN), the
    missing pair (Independent vs Normal) refused, argument validation of scales, supports and
    values, an entropy that is not implemented, cdf/icdf, and log-probs of VonMises, Laplace,
    Geometric, NegativeBinomial, ContinuousBernoulli, Wishart and LKJCholesky."""
    D = L.distributions

    def t(*v):
        return L.tensor(list(v), dtype=L.float64)

    tril = L.tensor([[1., 0.], [0.5, 2.]], dtype=L.float64)
    eye = L.eye(2, dtype=L.float64)
    return dict(
        kl_beta=D.kl_divergence(D.Beta(t(1.5, 2.), t(2., 3.)), D.Beta(t(2., 2.), t(1., 1.))),
        kl_cat=D.kl_divergence(D.Categorical(logits=t(0.1, 0.5, -1.)),
                               D.Categorical(probs=t(0.2, 0.3, 0.5))),
        kl_ind=err(lambda: D.kl_divergence(D.Independent(D.Normal(t(0., 1.), t(1., 2.)), 1),
                                           D.Normal(t(0., 1.), t(1., 2.)))),
        kl_mvn=D.kl_divergence(D.MultivariateNormal(t(0., 1.), scale_tril=tril),
                               D.MultivariateNormal(t(1., 0.), eye)),
        kl_lr=D.kl_divergence(D.LowRankMultivariateNormal(
            t(0., 1.), L.tensor([[1.], [0.5]], dtype=L.float64), t(1., 2.)),
            D.MultivariateNormal(t(1., 0.), eye)),
        val=err(lambda: D.Normal(t(0.), t(-1.))),
        val2=err(lambda: D.Categorical(probs=t(0.5, 0.6)).log_prob(L.tensor(3))),
        val3=err(lambda: D.Bernoulli(probs=t(0.3)).log_prob(t(0.5))),
        ent=err(lambda: D.MixtureSameFamily(D.Categorical(logits=t(0., 0.)),
                                            D.Normal(t(0., 1.), t(1., 1.))).entropy()),
        cdf=D.Normal(t(0.), t(2.)).cdf(t(1.)), icdf=D.Normal(t(0.), t(2.)).icdf(t(0.3)),
        ent_mvn=D.MultivariateNormal(t(0., 1.), scale_tril=tril).entropy(),
        vm=D.VonMises(t(0.3), t(2.)).log_prob(t(1.)),
        lap=D.Laplace(t(0.), t(1.5)).log_prob(t(-1., 2.)),
        geo=D.Geometric(probs=t(0.3)).log_prob(t(2.)),
        nb=D.NegativeBinomial(3., probs=t(0.4)).log_prob(t(2.)),
        support=str(D.Beta(t(1.), t(1.)).support),
        simplex=D.constraints.simplex.check(t(0.5, 0.5)),
        cb=D.ContinuousBernoulli(probs=t(0.3)).log_prob(t(0.2)),
        wishart=D.Wishart(L.tensor(4., dtype=L.float64), covariance_matrix=eye).log_prob(eye * 2),
        lkj=D.LKJCholesky(3, t(1.5)).log_prob(L.eye(3, dtype=L.float64)))


@program(rtol=1e-5, atol=1e-6)           # float32 losses read as Python floats
def float32_trainer_ten_steps_label_smoothing(L):
    """The Trainer-like loop in float32, as scripts run it: the tied-embedding model cast by
    .float(), AdamW (foreach off) over decay/no-decay groups, warmup-linear LambdaLR,
    label-smoothed cross entropy, clipping every step; ten steps' losses and the weights."""
    F = L.nn.functional
    model = _tiny_lm(L).float()
    opt = L.optim.AdamW(_param_groups(model), lr=1e-2, foreach=False)
    sched = L.optim.lr_scheduler.LambdaLR(opt, _warmup_linear(2, 12))
    data = L.tensor(_labels(10 * 4 * 5, 11, 1).reshape(10, 4, 5))
    losses = []
    for batch in data:
        logits = model(batch[:, :-1]).reshape(-1, 11)
        loss = F.cross_entropy(logits, batch[:, 1:].reshape(-1), label_smoothing=0.1)
        loss.backward()
        L.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(loss.item())
    return dict(losses=losses, w=params_of(model), tied=model.head.weight is model.embed.weight)


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)


def _hooked_scalar_operands(L):
    """Saved-tensor hooks that compress what they pack (to bfloat16, as activation-offloading
    code does) around ops with Python-number operands: PyTorch passes no wrapped number to the
    hooks, so x * 0.1's gradient keeps 0.1 exact and only tensors are counted."""
    x = L.tensor([0.3, -1.7], dtype=L.float64, requires_grad=True)
    packed = []
    with L.autograd.graph.saved_tensors_hooks(
            lambda t: (packed.append(tuple(t.shape)), t.to(L.bfloat16))[1],
            lambda t: t.to(L.float64)):
        y = (x * 0.1 + x / 3 + 0.7 * x + x ** 2 - 0.5).sum()
    return dict(g=L.autograd.grad(y, x)[0], packed=packed)


def test_saved_tensor_hooks_skip_python_number_operands():
    HARNESS.check(_hooked_scalar_operands)
