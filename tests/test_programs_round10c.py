"""Whole programs in the idioms of code people run, a tenth round, part c: data pipelines
with worker processes (DataLoader(num_workers=2) over datasets that augment with torch's,
Python's and numpy's random draws, worker_init_fn, persistent workers, IterableDataset
sharded by get_worker_info, samplers and collate functions), and vision-transformer and
generative-model files (ViT position-embedding resizing, Swin's shifted windows, a VAE,
WGAN-GP, PixelCNN's masked convolution, a TCN with weight-normalised causal convolutions).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, labels as _labels, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# data pipelines with workers
# ----------------------------------------------------------------------------------------------
def _augmenting_dataset(L):
    D = L.utils.data

    class Noisy(D.Dataset):
        """Each item drawn afresh: a torch.rand flip, Python's random.random jitter, numpy's
        normal noise, torch.randint crop offsets."""

        def __init__(self, n=10):
            self.data = np.arange(n * 6, dtype=np.float64).reshape(n, 6) / 10

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            x = L.from_numpy(self.data[i].copy())
            if L.rand(1).item() < 0.5:
                x = x.flip(0)
            x = x + random.random()
            x = x + L.from_numpy(np.random.normal(size=6) * 0.01)
            off = int(L.randint(0, 3, (1,)))
            return x[off:off + 3], i

    return Noisy()


@program
def dataloader_two_workers_augmenting_dataset_same_batches(L):
    """DataLoader(num_workers=2, shuffle=True) over a dataset that draws from torch, random
    and numpy in __getitem__: each worker seeded from the base seed the loader draws from
    the main generator (torch and random by base_seed + worker id, numpy by the seed
    sequence), batches come round-robin from the workers; two epochs differ; a generator
    argument gives the same batches again."""
    D = L.utils.data
    ds = _augmenting_dataset(L)
    L.manual_seed(0)
    dl = D.DataLoader(ds, batch_size=3, shuffle=True, num_workers=2)
    epochs = [[(x, i) for x, i in dl] for _ in range(2)]
    g = L.Generator().manual_seed(5)
    dl2 = D.DataLoader(ds, batch_size=4, shuffle=False, num_workers=2, generator=g,
                       drop_last=True)
    again = [(x, i) for x, i in dl2]
    after = L.rand(2)
    return dict(epochs=epochs, again=again, after=after, n=len(dl), n2=len(dl2))


@program
def dataloader_worker_init_fn_and_worker_info_seed(L):
    """The worker_init_fn people copy to reseed numpy (np.random.seed(torch.initial_seed()
    % 2**32 + ...)) and get_worker_info's id, num_workers and seed read inside __getitem__;
    persistent_workers keeping the workers' random state across epochs; get_worker_info is
    None in the main process."""
    D = L.utils.data

    class WhoAmI(D.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            info = D.get_worker_info()
            return dict(i=i, wid=info.id, nw=info.num_workers, seed=info.seed % 100000,
                        ts=L.initial_seed() % 100000, r=L.rand(()), np=np.random.rand())

    def init(worker_id):
        np.random.seed((L.initial_seed() + worker_id) % 2 ** 32)

    L.manual_seed(1)
    dl = D.DataLoader(WhoAmI(), batch_size=2, num_workers=2, worker_init_fn=init,
                      persistent_workers=True)
    e1 = list(dl)
    e2 = list(dl)
    return dict(e1=e1, e2=e2, main=D.get_worker_info() is None)


@program
def iterable_dataset_sharded_by_worker_info(L):
    """An IterableDataset splitting its range by get_worker_info (per_worker = ceil(n /
    workers), each worker its slice), batches interleaved from the two workers in turn,
    the shorter worker's last partial batch; the same dataset in the main process without
    workers; a stream with a per-worker torch.randn draw."""
    D = L.utils.data

    class Range(D.IterableDataset):
        def __init__(self, start, end):
            super().__init__()
            self.start, self.end = start, end

        def __iter__(self):
            info = D.get_worker_info()
            if info is None:
                lo, hi = self.start, self.end
            else:
                per = int(math.ceil((self.end - self.start) / float(info.num_workers)))
                lo = self.start + info.id * per
                hi = min(lo + per, self.end)
            for k in range(lo, hi):
                yield L.tensor([k, 0]) + L.randint(0, 100, (2,)) * L.tensor([0, 1])

    ds = Range(3, 14)
    L.manual_seed(2)
    two = list(D.DataLoader(ds, batch_size=2, num_workers=2))
    L.manual_seed(2)
    main = list(D.DataLoader(ds, batch_size=3))
    one = list(D.DataLoader(ds, batch_size=None, num_workers=1))
    return dict(two=two, main=main, one=one)


@program
def samplers_collate_and_random_split(L):
    """random_split with a seeded generator (lengths and fractions), a
    WeightedRandomSampler over class-balancing weights, a BatchSampler over a
    SubsetRandomSampler, a collate_fn padding variable-length sequences with
    pad_sequence and returning lengths, default_collate of nested dicts/tuples/numpy."""
    D = L.utils.data
    U = L.nn.utils.rnn
    data = D.TensorDataset(L.arange(10.0).view(10, 1), L.tensor(_labels(10, 3, 3)))
    a, b = D.random_split(data, [7, 3], generator=L.Generator().manual_seed(4))
    c, d, e = D.random_split(range(10), [0.5, 0.3, 0.2], generator=L.Generator().manual_seed(5))
    y = data.tensors[1]
    w = 1.0 / L.bincount(y).double()[y]
    L.manual_seed(6)
    ws = list(D.WeightedRandomSampler(w, 12, replacement=True))
    bs = list(D.BatchSampler(D.SubsetRandomSampler([1, 3, 5, 7, 9],
                                                   generator=L.Generator().manual_seed(7)),
                             batch_size=2, drop_last=False))
    seqs = [L.arange(n) for n in (3, 1, 4)]

    def collate(batch):
        lens = L.tensor([len(s) for s in batch])
        return U.pad_sequence(batch, batch_first=True, padding_value=-1), lens

    padded = list(D.DataLoader(seqs, batch_size=3, collate_fn=collate))
    nested = D.default_collate([{"a": (np.ones(2), 1), "b": [2.0, "x"]},
                                {"a": (np.zeros(2), 2), "b": [3.0, "y"]}])
    return dict(a=list(a.indices), b=list(b.indices), c=list(c), d=list(d), e=list(e), ws=ws,
                bs=bs, padded=padded, nested=nested)


@program
def distributed_sampler_shards_without_a_process_group(L):
    """DistributedSampler given num_replicas and rank explicitly (no process group), its
    padding to an even split, shuffle with set_epoch changing the order, drop_last; two
    ranks' shards cover the data."""
    D = L.utils.data
    ds = list(range(11))
    out = {}
    for shuffle in (False, True):
        for drop in (False, True):
            shards = []
            for rank in range(3):
                s = D.DistributedSampler(ds, num_replicas=3, rank=rank, shuffle=shuffle,
                                         seed=8, drop_last=drop)
                s.set_epoch(2)
                shards.append(list(s))
            out[f"{shuffle}-{drop}"] = (shards, len(s))
    return out


@program(words="Caught KeyError in DataLoader worker process 1.\nOriginal Traceback")
def dataloader_worker_error_reraised_as_caught_in_worker_process(L):
    """An error in a worker's __getitem__ comes to the main program as PyTorch's
    ExceptionWrapper raises it: the same type, "Caught KeyError in DataLoader worker process
    1." and the worker's traceback in the message (a KeyError's printed as it is)."""
    D = L.utils.data

    class Lookup(D.Dataset):
        table = {0: 1.0, 1: 2.0, 2: 3.0, 4: 5.0}

        def __len__(self):
            return 6

        def __getitem__(self, i):
            return self.table[i]

    list(D.DataLoader(Lookup(), batch_size=1, num_workers=2))


@program
def dataloader_worker_error_types_and_the_batches_before_it(L):
    """The batches before a worker's error arrive; the first line of the message names the
    type and the worker."""
    D = L.utils.data

    class Bad(D.Dataset):
        def __init__(self, kind):
            self.kind = kind

        def __len__(self):
            return 6

        def __getitem__(self, i):
            if i == 4:
                raise self.kind(f"item {i}")
            return L.tensor([float(i)])

    out = {}
    for kind in (ValueError, IndexError):
        got = []
        try:
            for b in D.DataLoader(Bad(kind), batch_size=2, num_workers=2):
                got.append(b)
        except Exception as e:  # noqa: BLE001 (the type and first line are the result)
            out[kind.__name__] = (got, type(e).__name__, str(e).split("\n")[0])
    return out


@program
def dataloader_sampler_draws_at_iter_and_persistent_partial_epochs(L):
    """What a program sees of PyTorch's prefetching: with workers the shuffling sampler
    draws its permutation when iter(loader) is called (a torch.rand drawn between iter() and
    the first batch follows it), without workers at the first batch; with persistent workers
    an epoch left after one batch still has its handed-out batches loaded by the workers
    (their random draws move on) before the next epoch starts; prefetch_factor=1."""
    D = L.utils.data

    class Draw(D.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return L.rand(1) + i

    out = {}
    for workers in (0, 2):
        L.manual_seed(3)
        it = iter(D.DataLoader(Draw(), batch_size=2, shuffle=True, num_workers=workers))
        between = L.rand(1)
        out[workers] = (between, list(it))
    for pf in (1, 2):
        L.manual_seed(4)
        dl = D.DataLoader(Draw(), batch_size=2, shuffle=True, num_workers=2,
                          persistent_workers=True, prefetch_factor=pf)
        first = next(iter(dl))
        out[f"pf{pf}"] = (first, list(dl), list(dl))
    return out


# ----------------------------------------------------------------------------------------------
# vision transformers
# ----------------------------------------------------------------------------------------------
@program
def vit_patch_embedding_cls_token_and_pos_embed_resize(L):
    """timm's ViT pieces: a strided Conv2d patch embedding flattened to tokens, a cls token
    expanded over the batch, learned position embeddings resized for a larger image by
    F.interpolate(bicubic, align_corners=False) on the grid part, nn.MultiheadAttention
    (batch_first) with need_weights and average_attn_weights=False, the cls token's
    logits; trunc_normal_ init under a seed."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(10)
    d, p = 8, 2
    patch = nn.Conv2d(3, d, p, stride=p).double()
    cls = nn.Parameter(L.zeros(1, 1, d, dtype=L.float64))
    pos = nn.Parameter(L.zeros(1, 1 + 9, d, dtype=L.float64))
    nn.init.trunc_normal_(pos, std=0.02)
    nn.init.trunc_normal_(cls, std=0.02)
    attn = nn.MultiheadAttention(d, 2, batch_first=True).double()
    head = nn.Linear(d, 3).double()

    def resize(pe, new):
        tok, grid = pe[:, :1], pe[:, 1:]
        g = int(math.sqrt(grid.shape[1]))
        grid = grid.reshape(1, g, g, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
        return L.cat([tok, grid.permute(0, 2, 3, 1).reshape(1, new * new, -1)], 1)

    x = _t(L, 2, 3, 8, 8, seed=11, grad=True)
    t = patch(x).flatten(2).transpose(1, 2)
    t = L.cat([cls.expand(t.shape[0], -1, -1), t], 1) + resize(pos, 4)
    y, w = attn(t, t, t, need_weights=True, average_attn_weights=False)
    logits = head(y[:, 0])
    logits.sum().backward()
    return dict(pos=pos, w=w, logits=logits, gx=x.grad, gpos=pos.grad, gcls=cls.grad,
                gin=attn.in_proj_weight.grad)


@program
def swin_shifted_window_partition_mask_and_relative_bias(L):
    """Swin Transformer: cyclic shift by torch.roll, window_partition/window_reverse by
    view-permute-contiguous-view, the shifted-window attention mask built from slice
    region ids (masked_fill of nonzero differences with -100), the relative position bias
    table indexed by a relative_position_index buffer from meshgrid(indexing="ij")."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(12)
    B, H, W, C, ws, shift, heads = 2, 4, 4, 4, 2, 1, 2

    def window_partition(x, ws):
        B, H, W, C = x.shape
        x = x.view(B, H // ws, ws, W // ws, ws, C)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)

    def window_reverse(w, ws, H, W):
        B = int(w.shape[0] / (H * W / ws / ws))
        x = w.view(B, H // ws, W // ws, ws, ws, -1)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)

    img_mask = L.zeros((1, H, W, 1))
    cnt = 0
    for h in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for w in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img_mask[:, h, w, :] = cnt
            cnt += 1
    mw = window_partition(img_mask, ws).view(-1, ws * ws)
    attn_mask = mw.unsqueeze(1) - mw.unsqueeze(2)
    attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0))
    attn_mask = attn_mask.masked_fill(attn_mask == 0, 0.0)
    coords = L.stack(L.meshgrid([L.arange(ws), L.arange(ws)], indexing="ij"))
    flat = L.flatten(coords, 1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += ws - 1
    rel[:, :, 1] += ws - 1
    rel[:, :, 0] *= 2 * ws - 1
    index = rel.sum(-1)
    table = nn.Parameter(_t(L, (2 * ws - 1) ** 2, heads, seed=13, scale=0.02))
    qkv = nn.Linear(C, 3 * C).double()
    x = _t(L, B, H, W, C, seed=14, grad=True)
    xs = L.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    win = window_partition(xs, ws).view(-1, ws * ws, C)
    Bw, N, _ = win.shape
    q, k, v = qkv(win).reshape(Bw, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    attn = (q * (C // heads) ** -0.5) @ k.transpose(-2, -1)
    bias = table[index.view(-1)].view(N, N, -1).permute(2, 0, 1).contiguous()
    attn = attn + bias.unsqueeze(0)
    nW = attn_mask.shape[0]
    attn = attn.view(Bw // nW, nW, heads, N, N) + attn_mask.unsqueeze(1).unsqueeze(0).to(attn.dtype)
    attn = F.softmax(attn.view(-1, heads, N, N), dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(Bw, N, C)
    out = window_reverse(out.view(-1, ws, ws, C), ws, H, W)
    out = L.roll(out, shifts=(shift, shift), dims=(1, 2))
    out.pow(2).sum().backward()
    return dict(mask=attn_mask, index=index, out=out, gx=x.grad, gt=table.grad,
                g=grads_of(qkv))


# ----------------------------------------------------------------------------------------------
# generative models
# ----------------------------------------------------------------------------------------------
@program
def vae_reparameterisation_bce_and_kl_with_sampling(L):
    """The PyTorch examples' VAE: fc -> (mu, logvar), z = mu + eps * exp(0.5 logvar) with
    eps = randn_like under a seed, the BCE reconstruction with reduction='sum' and the
    analytic KL; the same KL from torch.distributions.kl_divergence(Normal, Normal); a
    beta warm-up; Adam steps; decoding fresh samples under no_grad."""
    nn, F, D = L.nn, L.nn.functional, L.distributions
    L.manual_seed(20)
    enc = nn.Linear(6, 8).double()
    mu_l, lv_l = nn.Linear(8, 2).double(), nn.Linear(8, 2).double()
    dec = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 6), nn.Sigmoid()).double()
    params = [p for m in (enc, mu_l, lv_l, dec) for p in m.parameters()]
    opt = L.optim.Adam(params, lr=1e-2)
    x = L.sigmoid(_t(L, 5, 6, seed=21))
    L.manual_seed(22)
    losses, kls = [], []
    for step in range(3):
        h = F.relu(enc(x))
        mu, logvar = mu_l(h), lv_l(h)
        z = mu + L.randn_like(mu) * L.exp(0.5 * logvar)
        recon = dec(z)
        bce = F.binary_cross_entropy(recon, x, reduction="sum")
        kld = -0.5 * L.sum(1 + logvar - mu.pow(2) - logvar.exp())
        kl2 = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()),
                              D.Normal(L.zeros_like(mu), L.ones_like(mu))).sum()
        loss = bce + min(1.0, (step + 1) / 2) * kld
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        kls.append((kld.item(), kl2.item()))
    with L.no_grad():
        sample = dec(L.randn(3, 2, dtype=L.float64))
    return dict(losses=losses, kls=kls, sample=sample, w=enc.weight)


@program
def wgan_gp_gradient_penalty_on_interpolates(L):
    """WGAN-GP's critic step: interpolates between real and fake by a per-sample uniform
    alpha (torch.rand under a seed), the critic's gradient at them by autograd.grad with
    grad_outputs=ones and create_graph=True, penalty ((||g||_2 - 1)^2).mean() * 10 added to
    the Wasserstein loss; Adam with betas (0.5, 0.9); the generator step after, with the
    critic's parameters frozen by requires_grad_(False)."""
    nn = L.nn
    L.manual_seed(23)
    G = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 3)).double()
    Dn = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)).double()
    og = L.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
    od = L.optim.Adam(Dn.parameters(), lr=1e-3, betas=(0.5, 0.9))
    real = _t(L, 6, 3, seed=24)
    L.manual_seed(25)
    out = []
    for _ in range(2):
        z = L.randn(6, 2, dtype=L.float64)
        fake = G(z).detach()
        alpha = L.rand(6, 1, dtype=L.float64)
        inter = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        d_inter = Dn(inter)
        grads = L.autograd.grad(outputs=d_inter, inputs=inter, grad_outputs=L.ones_like(d_inter),
                                create_graph=True, retain_graph=True, only_inputs=True)[0]
        gp = ((grads.norm(2, dim=1) - 1) ** 2).mean() * 10
        d_loss = Dn(fake).mean() - Dn(real).mean() + gp
        od.zero_grad()
        d_loss.backward()
        od.step()
        for p in Dn.parameters():
            p.requires_grad_(False)
        g_loss = -Dn(G(L.randn(6, 2, dtype=L.float64))).mean()
        og.zero_grad()
        g_loss.backward()
        og.step()
        for p in Dn.parameters():
            p.requires_grad_(True)
        out.append((d_loss.item(), gp.item(), g_loss.item()))
    return dict(out=out, gw=G[0].weight, dw=Dn[2].weight, dgrad=Dn[0].weight.grad)


@program
def pixelcnn_masked_convolution_by_weight_mask_buffer(L):
    """PixelCNN's MaskedConv2d: a Conv2d subclass with a mask buffer (type A excludes the
    centre, type B includes it) multiplied into weight.data before each forward, logits
    per pixel over 4 intensity levels by a 1x1 conv, cross entropy over (N, C, H, W)
    logits; the output at a pixel does not depend on later pixels (its input gradient is
    zero there)."""
    nn, F = L.nn, L.nn.functional

    class MaskedConv2d(nn.Conv2d):
        def __init__(self, mask_type, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.register_buffer("mask", self.weight.data.clone())
            _, _, kH, kW = self.weight.size()
            self.mask.fill_(1)
            self.mask[:, :, kH // 2, kW // 2 + (mask_type == "B"):] = 0
            self.mask[:, :, kH // 2 + 1:] = 0

        def forward(self, x):
            self.weight.data *= self.mask
            return super().forward(x)

    L.manual_seed(26)
    net = nn.Sequential(MaskedConv2d("A", 1, 4, 5, 1, 2, bias=False), nn.BatchNorm2d(4),
                        nn.ReLU(True), MaskedConv2d("B", 4, 4, 3, 1, 1, bias=False),
                        nn.BatchNorm2d(4), nn.ReLU(True),
                        nn.Conv2d(4, 4, 1)).double()
    img = L.tensor(_labels(2 * 36, 4, 27).reshape(2, 1, 6, 6))
    x = (img.double() / 3).requires_grad_(True)
    logits = net(x)
    loss = F.cross_entropy(logits, img[:, 0])
    loss.backward()
    net.eval()
    x2 = x.detach().clone().requires_grad_(True)
    net(x2)[0, :, 2, 3].sum().backward()
    later = x2.grad[0, 0].flatten()[2 * 6 + 3:]
    return dict(loss=loss, logits=logits, mask=net[0].mask[0, 0], g=net[3].weight.grad,
                later_zero=bool((later == 0).all()), gx2=x2.grad)


@program
def tcn_weight_normed_causal_dilated_convolutions(L):
    """locuslab's TCN: Conv1d with padding (k-1)*dilation and the extra right side cut by a
    module cutting the tail (x[:, :, :-chomp].contiguous()), weight_norm on each conv (the hook
    form), two per residual block with a 1x1 downsample, dilations 1, 2; the output at t
    depends only on inputs up to t."""
    nn = L.nn
    wn = nn.utils.weight_norm

    class DropTail(nn.Module):
        def __init__(self, s):
            super().__init__()
            self.s = s

        def forward(self, x):
            return x[:, :, :-self.s].contiguous()

    class CausalResidual(nn.Module):
        def __init__(self, cin, cout, k, dil):
            super().__init__()
            pad = (k - 1) * dil
            self.net = nn.Sequential(wn(nn.Conv1d(cin, cout, k, padding=pad, dilation=dil)),
                                     DropTail(pad), nn.ReLU(),
                                     wn(nn.Conv1d(cout, cout, k, padding=pad, dilation=dil)),
                                     DropTail(pad), nn.ReLU())
            self.downsample = nn.Conv1d(cin, cout, 1) if cin != cout else None

        def forward(self, x):
            res = x if self.downsample is None else self.downsample(x)
            return nn.functional.relu(self.net(x) + res)

    L.manual_seed(28)
    tcn = nn.Sequential(CausalResidual(2, 3, 3, 1), CausalResidual(3, 3, 3, 2)).double()
    for blk in tcn:                 # float64 draws: float32 normals past 16 may differ
        blk.net[0].weight_v.data.normal_(0, 0.1)
        blk.net[3].weight_v.data.normal_(0, 0.1)
    x = _t(L, 2, 2, 9, seed=29, grad=True)
    y = tcn(x)
    y[:, :, 4].sum().backward()
    future = x.grad[:, :, 5:]
    names = sorted(n for n, _ in tcn[0].net[0].named_parameters())
    return dict(y=y, gx=x.grad, causal=bool((future == 0).all()), names=names,
                gg=tcn[0].net[0].weight_g.grad, gv=tcn[1].net[3].weight_v.grad)


# ----------------------------------------------------------------------------------------------
# torch's side of these two leaves worker processes behind an abandoned iterator, and its
# shutdown waits out their polling interval (~5 s each): run with --runslow
_SLOW = {"dataloader_worker_error_types_and_the_batches_before_it",
         "dataloader_sampler_draws_at_iter_and_persistent_partial_epochs"}


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    raised = HARNESS.check(fn)
    # each program runs through in torch, but those registered with torch's words
    assert (raised is None) == ("words" not in fn.options)
