"""Whole programs of round 38: model families and training recipes the earlier rounds left
out, each written afresh in the way such code is published.

Capsule networks with dynamic routing, Performer (FAVOR+) and Linformer attention,
Transformer-XL's relative shift, T5's relative position buckets, ALiBi slopes, Swin's shifted
windows, Set Transformer blocks, Deep Sets, skip-gram with sparse embeddings and SparseAdam,
factorization machines over embedding bags, Hyena's FFT long convolution, an sLSTM cell with
exponential gating, NeRF volume rendering with hierarchical sampling, deep dream by hooks,
deep-equilibrium backward through a gradient hook, quantization-aware training by fake
quantization, lottery-ticket pruning and rewinding, Conformer and WaveNet blocks, SAC and
mixture density networks, temperature scaling with LBFGS, pointer networks, set matching for
DETR, gMLP, ConvNeXt and MLP-Mixer blocks, model soups, SincNet filters, hypernetworks via
functional_call, beam search, ArcFace margins, and more.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights; both must give the same values, dtypes, shapes and requires_grad, or raise
the same exception type with torch's words, and warn alike (tests/side_by_side.py).
"""
import importlib
import io
import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, import_forward_ad_decompositions, labels, leaf, normal32, normal64, program_harness,
    registry)

import_forward_ad_decompositions()

HARNESS = program_harness(bfloat16=(1e-2, 1e-2))
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# capsules, sets and routing
# ----------------------------------------------------------------------------------------------
def _squash(L, s, dim=-1, eps=1e-8):
    n2 = (s * s).sum(dim=dim, keepdim=True)
    return n2 / (1.0 + n2) * s / L.sqrt(n2 + eps)


@program
def capsule_net_dynamic_routing_margin_loss_and_masked_reconstruction(L):
    """Primary capsules from a conv, prediction vectors by einsum with a 4-d transform,
    three routing iterations (logits updated by agreement with detached predictions before
    the last), the margin loss and a decoder fed the capsule of the true class."""
    nn, F = L.nn, L.nn.functional

    class CapsNet(nn.Module):
        def __init__(self, n_cls=3, in_caps=8, in_dim=4, out_dim=6):
            super().__init__()
            self.conv = nn.Conv2d(1, 8, 3)
            self.prim = nn.Conv2d(8, 2 * in_dim, 3, stride=2)
            self.W = nn.Parameter(0.1 * L.randn(1, in_caps, n_cls, out_dim, in_dim))
            self.dec = nn.Sequential(nn.Linear(n_cls * out_dim, 16), nn.ReLU(),
                                     nn.Linear(16, 49), nn.Sigmoid())
            self.in_dim, self.n_cls = in_dim, n_cls

        def forward(self, x, y, iters=3):
            h = F.relu(self.conv(x))
            u = self.prim(h)                                   # B, 2*in_dim, 2, 2
            B = u.shape[0]
            u = u.view(B, 2, self.in_dim, -1).permute(0, 1, 3, 2).reshape(B, -1, self.in_dim)
            u = _squash(L, u)
            u_hat = L.einsum("bijdk,bik->bijd", self.W.expand(B, -1, -1, -1, -1), u)
            b = L.zeros(B, u_hat.shape[1], self.n_cls, dtype=u.dtype)
            for it in range(iters):
                c = F.softmax(b, dim=2)
                pred = u_hat if it == iters - 1 else u_hat.detach()
                v = _squash(L, (c.unsqueeze(-1) * pred).sum(dim=1))
                if it < iters - 1:
                    b = b + (pred * v.unsqueeze(1)).sum(-1)
            lengths = v.norm(dim=-1)
            onehot = F.one_hot(y, self.n_cls).to(v.dtype)
            recon = self.dec((v * onehot.unsqueeze(-1)).flatten(1))
            return lengths, recon

    L.manual_seed(0)
    net = CapsNet().double()
    x = L.tensor(np.abs(normal64(4, 1, 7, 7, seed=1)).clip(0, 1))
    y = L.tensor(labels(4, 3, seed=2))
    lengths, recon = net(x, y)
    t = F.one_hot(y, 3).double()
    margin = (t * F.relu(0.9 - lengths) ** 2
              + 0.5 * (1 - t) * F.relu(lengths - 0.1) ** 2).sum(1).mean()
    rec = F.mse_loss(recon, x.flatten(1), reduction="sum") / x.shape[0]
    (margin + 5e-4 * rec).backward()
    return lengths, margin, rec, net.W.grad, net.conv.weight.grad, net.dec[0].bias.grad


@program
def set_transformer_isab_and_pma_with_key_padding_masks(L):
    """Set Transformer: induced set attention blocks (inducing points attend to the set,
    the set attends back) built on batch_first MultiheadAttention with a key padding mask
    for padded sets, and pooling by multihead attention with two seed vectors."""
    nn, F = L.nn, L.nn.functional

    class MAB(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.att = nn.MultiheadAttention(d, heads, batch_first=True)
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))

        def forward(self, q, kv, pad=None):
            h = self.ln1(q + self.att(q, kv, kv, key_padding_mask=pad,
                                      need_weights=False)[0])
            return self.ln2(h + self.ff(h))

    class ISAB(nn.Module):
        def __init__(self, d, heads, m):
            super().__init__()
            self.I = nn.Parameter(L.randn(1, m, d) * 0.5)
            self.m1, self.m2 = MAB(d, heads), MAB(d, heads)

        def forward(self, x, pad):
            h = self.m1(self.I.expand(x.shape[0], -1, -1), x, pad)
            return self.m2(x, h)

    class SetTransformer(nn.Module):
        def __init__(self, din=3, d=8, heads=2):
            super().__init__()
            self.emb = nn.Linear(din, d)
            self.enc = nn.ModuleList([ISAB(d, heads, 4), ISAB(d, heads, 4)])
            self.S = nn.Parameter(L.randn(1, 2, d) * 0.5)
            self.pma = MAB(d, heads)
            self.out = nn.Linear(2 * d, 1)

        def forward(self, x, pad):
            h = self.emb(x)
            for blk in self.enc:
                h = blk(h, pad)
            z = self.pma(self.S.expand(x.shape[0], -1, -1), h, pad)
            return self.out(z.flatten(1)).squeeze(-1)

    L.manual_seed(1)
    net = SetTransformer().double()
    x = L.tensor(normal64(3, 5, 3, seed=3))
    lens = L.tensor([5, 3, 4])
    pad = L.arange(5)[None, :] >= lens[:, None]
    target = L.tensor(normal64(3, seed=4))
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.mse_loss(net(x, pad), target)
        loss.backward()
        opt.step()
        losses.append(loss)
    # padded entries must not matter: scramble them
    x2 = x.masked_fill(pad.unsqueeze(-1), 7.0)
    return losses, net(x, pad), net(x2, pad), net.S.grad, net.enc[0].I.grad


@program
def deep_sets_sum_pooling_with_masks_and_permutation_invariance(L):
    """Deep Sets: phi on each element, a masked sum (and max by masked_fill -inf) pooled
    over the set, rho on the pooled vector; shuffling the set by a permutation leaves the
    output alone; gradients through amax's ties avoided by distinct values."""
    nn = L.nn
    L.manual_seed(2)
    phi = nn.Sequential(nn.Linear(2, 6), nn.ELU(), nn.Linear(6, 6)).double()
    rho = nn.Sequential(nn.Linear(12, 6), nn.ELU(), nn.Linear(6, 1)).double()
    x = L.tensor(normal64(4, 6, 2, seed=5))
    mask = L.tensor(np.array([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4, [1] * 5 + [0]],
                             dtype=bool))

    def f(x, mask):
        h = phi(x)
        s = (h * mask.unsqueeze(-1)).sum(1)
        m = h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
        return rho(L.cat([s, m], dim=-1)).squeeze(-1)

    out = f(x, mask)
    perm = L.tensor([3, 0, 5, 1, 4, 2])
    # permute the valid entries only within each set: use a per-set permutation via argsort
    key = L.where(mask, perm.double().expand(4, 6), L.full((4, 6), 100.0, dtype=L.float64))
    order = key.argsort(dim=1)
    xs = x.gather(1, order.unsqueeze(-1).expand(-1, -1, 2))
    ms = mask.gather(1, order)
    out2 = f(xs, ms)
    out.sum().backward()
    return out, out2, ms, phi[0].weight.grad, rho[2].bias.grad

# ----------------------------------------------------------------------------------------------
# attention variants
# ----------------------------------------------------------------------------------------------
@program
def performer_favor_plus_orthogonal_features_causal_and_bidirectional(L):
    """FAVOR+ attention: orthogonal random features from a QR of seeded Gaussian blocks
    (rows rescaled by chi norms), positive softmax-kernel features exp(w.x - |x|^2/2 - max)
    with a stabiliser, bidirectional linear attention by two einsums, causal attention by
    cumulative sums of outer products; gradients of q, k, v."""
    def orthogonal_matrix(m, d, seed):
        rng = np.random.RandomState(seed)
        blocks = []
        for _ in range(-(-m // d)):
            q, _ = L.linalg.qr(L.tensor(rng.randn(d, d)))
            blocks.append(q.T)
        w = L.cat(blocks)[:m]
        norms = L.tensor(rng.randn(m, d)).norm(dim=1)
        return norms.unsqueeze(1) * w

    def features(x, w, is_query):
        d = x.shape[-1]
        x = x * d ** -0.25
        proj = L.einsum("bhnd,md->bhnm", x, w)
        sq = (x ** 2).sum(-1, keepdim=True) / 2
        if is_query:
            stab = proj.amax(dim=-1, keepdim=True).detach()
        else:
            stab = proj.amax(dim=(-1, -2), keepdim=True).detach()
        return (L.exp(proj - sq - stab) + 1e-4) * w.shape[0] ** -0.5

    q, k, v = (leaf(L, 2, 2, 5, 4, seed=s, grad=True) for s in (10, 11, 12))
    w = orthogonal_matrix(6, 4, seed=13)
    qp, kp = features(q, w, True), features(k, w, False)
    kv = L.einsum("bhnm,bhne->bhme", kp, v)
    denom = L.einsum("bhnm,bhm->bhn", qp, kp.sum(2))
    bi = L.einsum("bhnm,bhme->bhne", qp, kv) / denom.unsqueeze(-1)
    ctx = L.einsum("bhnm,bhne->bhnme", kp, v).cumsum(2)
    num = L.einsum("bhnm,bhnme->bhne", qp, ctx)
    den = L.einsum("bhnm,bhnm->bhn", qp, kp.cumsum(2))
    causal = num / den.unsqueeze(-1)
    (bi.pow(2).sum() + causal.sin().sum()).backward()
    return bi, causal, q.grad, k.grad, v.grad


@program
def transformer_xl_relative_attention_with_rel_shift_and_memory(L):
    """Transformer-XL attention: the memory of the previous segment concatenated detached,
    sinusoidal relative embeddings of descending positions, content and position scores
    with the u and v biases, the pad-and-view relative shift, a causal mask shifted by the
    memory length filled by masked_fill, and the new memory kept."""
    nn, F = L.nn, L.nn.functional
    d, H, dh = 8, 2, 4

    class RelAttn(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(d, 3 * H * dh, bias=False)
            self.r = nn.Linear(d, H * dh, bias=False)
            self.o = nn.Linear(H * dh, d, bias=False)
            self.u = nn.Parameter(L.zeros(H, dh))
            self.v = nn.Parameter(L.zeros(H, dh))
            self.ln = nn.LayerNorm(d)

        @staticmethod
        def rel_shift(x):
            b, h, q, k = x.shape
            x = F.pad(x, (1, 0))
            x = x.view(b, h, k + 1, q)
            return x[:, :, 1:].view(b, h, q, k)

        def forward(self, x, mem):
            B, T, _ = x.shape
            cat = L.cat([mem.detach(), x], dim=1)
            M = cat.shape[1]
            pos = L.arange(M - 1, -1, -1.0, dtype=x.dtype)
            inv = 1 / (10000 ** (L.arange(0, d, 2.0, dtype=x.dtype) / d))
            s = pos[:, None] * inv[None]
            r = self.r(L.cat([s.sin(), s.cos()], -1)).view(M, H, dh)
            q, k, v = self.qkv(cat).view(B, M, 3, H, dh).unbind(2)
            q = q[:, -T:]
            ac = L.einsum("bihd,bjhd->bhij", q + self.u, k)
            bd = self.rel_shift(L.einsum("bihd,jhd->bhij", q + self.v, r))
            score = (ac + bd) / dh ** 0.5
            mask = L.triu(L.ones(T, M, dtype=L.bool), diagonal=1 + M - T)
            score = score.masked_fill(mask, float("-inf"))
            att = score.softmax(-1)
            out = L.einsum("bhij,bjhd->bihd", att, v).reshape(B, T, H * dh)
            return self.ln(x + self.o(out)), cat[:, -T:]

    L.manual_seed(3)
    layer = RelAttn().double()
    with L.no_grad():
        layer.u.normal_()
        layer.v.normal_()
    mem = L.zeros(2, 0, d, dtype=L.float64)
    outs = []
    for seg in range(2):
        x = L.tensor(normal64(2, 3, d, seed=20 + seg))
        y, mem = layer(x, mem)
        outs.append(y)
    outs[-1].pow(2).sum().backward()
    return outs, mem.requires_grad, layer.u.grad, layer.r.weight.grad, layer.qkv.weight.grad


@program
def t5_relative_position_buckets_bidirectional_and_causal(L):
    """T5's relative position bias: exact buckets for small distances, logarithmic ones
    beyond, clamped at the last bucket, the sign split for bidirectional attention; the
    bias looked up in an Embedding and added to scores; gradient of the table."""
    nn = L.nn

    def bucket(rel, bidirectional, num_buckets=8, max_distance=16):
        ret = L.zeros_like(rel)
        n = num_buckets
        if bidirectional:
            n //= 2
            ret = ret + (rel > 0).long() * n
            rel = rel.abs()
        else:
            rel = -L.min(rel, L.zeros_like(rel))
        max_exact = n // 2
        small = rel < max_exact
        large = max_exact + (L.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                             * (n - max_exact)).long()
        large = L.min(large, L.full_like(large, n - 1))
        return ret + L.where(small, rel, large)

    q_pos = L.arange(12)[:, None]
    k_pos = L.arange(12)[None, :]
    rel = k_pos - q_pos
    b_bi, b_ca = bucket(rel, True), bucket(rel, False)
    L.manual_seed(4)
    table = nn.Embedding(8, 2).double()
    bias = table(b_bi).permute(2, 0, 1).unsqueeze(0)
    scores = L.tensor(normal64(1, 2, 12, 12, seed=30)) + bias
    scores.softmax(-1)[..., 0].sum().backward()
    return b_bi, b_ca, bias, table.weight.grad


@program
def alibi_slopes_for_non_power_of_two_heads_in_sdpa_float_mask(L):
    """ALiBi: head slopes from the closest power of two with the interleaved extra heads,
    the linear distance bias plus a causal -inf part as one float mask for
    scaled_dot_product_attention; compared with the explicit softmax; gradients."""
    F = L.nn.functional

    def slopes(n):
        def pow2(n):
            start = 2 ** (-(2 ** -(math.log2(n) - 3)))
            return [start * start ** i for i in range(n)]
        if math.log2(n).is_integer():
            return pow2(n)
        c = 2 ** math.floor(math.log2(n))
        return pow2(c) + pow2(2 * c)[0::2][: n - c]

    H, T, D = 6, 5, 4
    m = L.tensor(slopes(H), dtype=L.float64)
    pos = L.arange(T)
    dist = (pos[None, :] - pos[:, None]).double()
    bias = m[:, None, None] * dist[None]
    causal = L.ones(T, T, dtype=L.bool).tril()
    mask = bias.masked_fill(~causal, float("-inf"))
    q, k, v = (leaf(L, 2, H, T, D, seed=s, grad=True) for s in (31, 32, 33))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    ref = ((q @ k.transpose(-1, -2)) / D ** 0.5 + mask).softmax(-1) @ v
    out.sum().backward()
    return m, out, ref, q.grad, k.grad, v.grad


@program
def swin_shifted_window_attention_with_relative_bias_table_and_mask(L):
    """Swin: the relative position index from meshgrid coordinates, a bias table gathered by
    it, cyclic shift by roll, window partition and reverse by view/permute, the shifted
    windows' region mask built by slice assignment, and the block's gradients."""
    nn, F = L.nn, L.nn.functional
    ws, C, H = 2, 4, 2

    def partition(x):
        B, Hh, Ww, Cc = x.shape
        x = x.view(B, Hh // ws, ws, Ww // ws, ws, Cc).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(-1, ws * ws, Cc)

    def reverse(w, Hh, Ww):
        B = w.shape[0] // (Hh * Ww // ws // ws)
        x = w.view(B, Hh // ws, Ww // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(B, Hh, Ww, -1)

    coords = L.stack(L.meshgrid(L.arange(ws), L.arange(ws), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += ws - 1
    rel[:, :, 1] += ws - 1
    rel[:, :, 0] *= 2 * ws - 1
    index = rel.sum(-1)

    L.manual_seed(5)
    table = nn.Parameter(L.randn((2 * ws - 1) ** 2, H, dtype=L.float64) * 0.02)
    qkv = nn.Linear(C, 3 * C).double()
    proj = nn.Linear(C, C).double()
    Hh = Ww = 4
    shift = ws // 2
    img = L.zeros(1, Hh, Ww, 1)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img[:, hs, wsl, :] = cnt
            cnt += 1
    mw = partition(img).squeeze(-1)
    attn_mask = (mw.unsqueeze(1) - mw.unsqueeze(2))
    attn_mask = attn_mask.masked_fill(attn_mask != 0, -100.0).masked_fill(attn_mask == 0, 0.0)

    x = leaf(L, 2, Hh, Ww, C, seed=34, grad=True)
    xs = L.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    win = partition(xs)
    Bw, N, _ = win.shape
    q, k, v = qkv(win).reshape(Bw, N, 3, H, C // H).permute(2, 0, 3, 1, 4)
    a = (q * (C // H) ** -0.5) @ k.transpose(-2, -1)
    a = a + table[index.view(-1)].view(N, N, -1).permute(2, 0, 1).unsqueeze(0)
    nW = attn_mask.shape[0]
    a = a.view(Bw // nW, nW, H, N, N) + attn_mask.double().unsqueeze(1).unsqueeze(0)
    a = F.softmax(a.view(-1, H, N, N), dim=-1)
    o = proj((a @ v).transpose(1, 2).reshape(Bw, N, C))
    y = L.roll(reverse(o, Hh, Ww), shifts=(shift, shift), dims=(1, 2))
    y.pow(2).mean().backward()
    return index, attn_mask, y, table.grad, x.grad


@program
def linformer_shared_key_value_projection_over_sequence_length(L):
    """Linformer: keys and values projected along the sequence by one shared (k x n) matrix
    before attention (the mask over padded positions zeroes them before the projection),
    heads split by unflatten; gradients of the projection and the input."""
    nn, F = L.nn, L.nn.functional

    class LinSelfAttn(nn.Module):
        def __init__(self, d=8, heads=2, n=6, k=3):
            super().__init__()
            self.qkv = nn.Linear(d, 3 * d)
            self.E = nn.Parameter(L.randn(k, n) / n ** 0.5)
            self.out = nn.Linear(d, d)
            self.h = heads

        def forward(self, x, mask):
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            keep = mask.unsqueeze(-1).to(x.dtype)
            k, v = k * keep, v * keep
            k = L.einsum("kn,bnd->bkd", self.E, k)
            v = L.einsum("kn,bnd->bkd", self.E, v)
            q, k, v = (t.unflatten(-1, (self.h, -1)).transpose(1, 2) for t in (q, k, v))
            o = F.scaled_dot_product_attention(q, k, v)
            return self.out(o.transpose(1, 2).flatten(2))

    L.manual_seed(6)
    m = LinSelfAttn().double()
    x = leaf(L, 2, 6, 8, seed=35, grad=True)
    mask = L.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]).bool()
    y = m(x, mask)
    y.square().sum().backward()
    return y, m.E.grad, x.grad, m.qkv.bias.grad


@program
def gmlp_spatial_gating_unit_with_causal_token_weights(L):
    """gMLP: channels split in two, one normalised and mixed across tokens by a (n x n)
    weight made causal by tril masking (weights near zero and bias one at init), gating
    the other; a residual block trained two steps with AdamW."""
    nn, F = L.nn, L.nn.functional

    class SGU(nn.Module):
        def __init__(self, d, n):
            super().__init__()
            self.norm = nn.LayerNorm(d // 2)
            self.spatial = nn.Conv1d(n, n, 1)
            nn.init.uniform_(self.spatial.weight, -1e-3, 1e-3)
            nn.init.constant_(self.spatial.bias, 1.0)
            self.register_buffer("mask", L.ones(n, n).tril())

        def forward(self, x):
            u, v = x.chunk(2, dim=-1)
            v = self.norm(v)
            w = self.spatial.weight.squeeze(-1) * self.mask
            v = F.conv1d(v, w.unsqueeze(-1), self.spatial.bias)
            return u * v

    class Block(nn.Module):
        def __init__(self, d=4, n=5, f=12):
            super().__init__()
            self.ln = nn.LayerNorm(d)
            self.fc1, self.fc2 = nn.Linear(d, f), nn.Linear(f // 2, d)
            self.sgu = SGU(f, n)

        def forward(self, x):
            return x + self.fc2(self.sgu(F.gelu(self.fc1(self.ln(x)))))

    L.manual_seed(7)
    blk = Block().double()
    x = L.tensor(normal64(3, 5, 4, seed=36))
    t = L.tensor(normal64(3, 5, 4, seed=37))
    opt = L.optim.AdamW(blk.parameters(), lr=1e-2, weight_decay=0.1)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.mse_loss(blk(x), t)
        loss.backward()
        opt.step()
        losses.append(loss)
    # causality: changing the last token does not change earlier outputs
    x2 = x.clone()
    x2[:, -1] += 3.0
    return losses, blk(x), blk(x2)[:, :-1] - blk(x)[:, :-1], blk.sgu.spatial.weight.grad


# ----------------------------------------------------------------------------------------------
# recommenders and embeddings
# ----------------------------------------------------------------------------------------------
@program
def skipgram_negative_sampling_sparse_embeddings_and_sparse_adam(L):
    """word2vec skip-gram: sparse=True center and context embeddings, negatives drawn from
    a unigram^0.75 table by multinomial, logsigmoid of positive and negative scores by bmm,
    SparseAdam over both tables; the sparse gradient's coalesced indices and values."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(8)
    V, D = 12, 4
    center = nn.Embedding(V, D, sparse=True).double()
    ctx = nn.Embedding(V, D, sparse=True).double()
    counts = L.tensor(np.arange(1, V + 1, dtype=np.float64)[::-1].copy())
    noise = counts ** 0.75 / (counts ** 0.75).sum()
    opt = L.optim.SparseAdam(list(center.parameters()) + list(ctx.parameters()), lr=0.05)
    c = L.tensor([0, 3, 3, 7])
    o = L.tensor([1, 2, 4, 7])
    losses = []
    for _ in range(3):
        neg = L.multinomial(noise, 4 * 3, replacement=True).view(4, 3)
        vc = center(c)
        pos = F.logsigmoid((vc * ctx(o)).sum(-1))
        negs = F.logsigmoid(-L.bmm(ctx(neg), vc.unsqueeze(-1)).squeeze(-1)).sum(-1)
        loss = -(pos + negs).mean()
        opt.zero_grad()
        loss.backward()
        g = center.weight.grad.coalesce()
        opt.step()
        losses.append(loss)
    return losses, g.indices(), g.values(), g.is_sparse, center.weight, ctx.weight


@program
def factorization_machine_on_embedding_bags_with_per_sample_weights(L):
    """A factorization machine over multi-hot fields: an EmbeddingBag in sum mode with
    offsets and per-sample weights (the feature values), the pairwise term as
    ((sum v)^2 - sum v^2) / 2, a linear bag for the first-order term; BCE with logits."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(9)
    n_feat, k = 10, 3
    emb = nn.EmbeddingBag(n_feat, k, mode="sum").double()
    emb_sq = nn.EmbeddingBag(n_feat, k, mode="sum").double()
    lin = nn.EmbeddingBag(n_feat, 1, mode="sum").double()
    bias = nn.Parameter(L.zeros(1, dtype=L.float64))
    idx = L.tensor([0, 3, 5, 1, 2, 2, 9, 4, 6, 8, 7])
    offsets = L.tensor([0, 3, 4, 7])
    vals = L.tensor(np.abs(normal64(11, seed=40)) + 0.1)
    y = L.tensor([1.0, 0.0, 1.0, 0.0], dtype=L.float64)
    emb_sq.weight = emb.weight
    s = emb(idx, offsets, per_sample_weights=vals)
    s2 = emb_sq(idx, offsets, per_sample_weights=vals ** 2)
    ssq = F.embedding_bag(idx, emb.weight ** 2, offsets, mode="sum",
                          per_sample_weights=vals ** 2)
    pair = 0.5 * (s.pow(2) - ssq).sum(1)
    logit = bias + lin(idx, offsets, per_sample_weights=vals).squeeze(1) + pair
    loss = F.binary_cross_entropy_with_logits(logit, y, pos_weight=L.tensor(2.0,
                                                                             dtype=L.float64))
    loss.backward()
    return s2, logit, loss, emb.weight.grad, lin.weight.grad, bias.grad


@program
def neural_collaborative_filtering_gmf_plus_mlp_with_bpr_loss(L):
    """NeuMF: separate user/item tables for the GMF and MLP paths, the two concatenated
    into one prediction; a BPR loss on (user, positive, negative) triples with L2 on the
    looked-up rows only; two Adagrad steps."""
    nn, F = L.nn, L.nn.functional

    class NeuMF(nn.Module):
        def __init__(self, users=6, items=9, k=3):
            super().__init__()
            self.ug, self.ig = nn.Embedding(users, k), nn.Embedding(items, k)
            self.um, self.im = nn.Embedding(users, k), nn.Embedding(items, k)
            self.mlp = nn.Sequential(nn.Linear(2 * k, 4), nn.ReLU(), nn.Linear(4, 2))
            self.head = nn.Linear(k + 2, 1, bias=False)
            for e in (self.ug, self.ig, self.um, self.im):
                nn.init.normal_(e.weight, std=0.1)

        def forward(self, u, i):
            g = self.ug(u) * self.ig(i)
            m = self.mlp(L.cat([self.um(u), self.im(i)], -1))
            return self.head(L.cat([g, m], -1)).squeeze(-1)

    L.manual_seed(10)
    net = NeuMF().double()
    u = L.tensor([0, 1, 2, 5, 5])
    p = L.tensor([1, 4, 8, 0, 2])
    n = L.tensor([3, 3, 7, 6, 1])
    opt = L.optim.Adagrad(net.parameters(), lr=0.1, lr_decay=0.01)
    losses = []
    for _ in range(2):
        diff = net(u, p) - net(u, n)
        reg = sum(e(i).pow(2).sum() for e, i in ((net.ug, u), (net.ig, p), (net.ig, n)))
        loss = -F.logsigmoid(diff).mean() + 1e-3 * reg
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    return losses, net.ug.weight, net.head.weight.grad, opt.state_dict()["state"][0]["sum"]


# ----------------------------------------------------------------------------------------------
# long sequences and recurrent cells
# ----------------------------------------------------------------------------------------------
@program
def hyena_operator_fft_long_convolution_with_implicit_filters(L):
    """Hyena: a filter generated by an MLP with sine activations from positional features
    (time and complex-exponential bands), windowed by an exponential decay per channel,
    applied as a causal convolution by rfft of length 2T and irfft, with a skip term and
    the gating by a short depthwise conv's outputs."""
    nn = L.nn

    class Sin(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.freq = nn.Parameter(L.ones(1, d))

        def forward(self, x):
            return L.sin(self.freq * x)

    class Hyena(nn.Module):
        def __init__(self, d=4, T=8, emb=5):
            super().__init__()
            self.inp = nn.Linear(d, 3 * d)
            self.short = nn.Conv1d(3 * d, 3 * d, 3, padding=2, groups=3 * d)
            self.filt = nn.Sequential(nn.Linear(emb, 8), Sin(8), nn.Linear(8, d))
            self.D = nn.Parameter(L.randn(d))
            t = L.linspace(0, 1, T)[:, None]
            bands = (emb - 1) // 2
            f = L.linspace(1e-4, bands - 1, bands)[None]
            z = L.exp(-1j * 2 * math.pi * f * L.arange(T)[:, None] / T)
            self.register_buffer("z", L.cat([t, z.real, z.imag], -1))
            self.register_buffer("decay", L.linspace(0.3, 1.5, d)[None, :])
            self.register_buffer("t", t)
            self.out = nn.Linear(d, d)

        def forward(self, x):
            B, T, d = x.shape
            u = self.inp(x).transpose(1, 2)
            u = self.short(u)[..., :T]
            x0, x1, v = u.split(d, dim=1)
            h = self.filt(self.z) * L.exp(-self.t * self.decay * 10)
            h = h.transpose(0, 1)
            n = 2 * T
            y = L.fft.irfft(L.fft.rfft(x1 * v, n=n) * L.fft.rfft(h, n=n), n=n)[..., :T]
            y = y + x1 * v * self.D[:, None]
            return self.out((x0 * y).transpose(1, 2))

    L.manual_seed(11)
    m = Hyena().double()
    x = leaf(L, 2, 8, 4, seed=41, grad=True)
    y = m(x)
    y.pow(2).sum().backward()
    return y, x.grad, m.D.grad, m.filt[1].freq.grad, m.short.weight.grad


@program
def slstm_exponential_gates_with_log_space_stabiliser_over_time(L):
    """An sLSTM cell: exponential input gate, sigmoid-or-exponential forget gate in log
    space, the stabiliser state m_t = max(log f + m_{t-1}, log i), normaliser state n,
    hidden h = o * c / n, run for six steps with recurrent weights block-diagonal per head."""
    nn = L.nn

    class SLSTM(nn.Module):
        def __init__(self, d=4, heads=2):
            super().__init__()
            self.W = nn.Linear(d, 4 * d)
            hd = d // heads
            self.R = nn.Parameter(L.randn(4, heads, hd, hd) * 0.3)
            self.d, self.h = d, heads

        def forward(self, xs):
            B, T, d = xs.shape
            c = L.zeros(B, d, dtype=xs.dtype)
            n = L.zeros(B, d, dtype=xs.dtype)
            m = L.zeros(B, d, dtype=xs.dtype)
            h = L.zeros(B, d, dtype=xs.dtype)
            outs = []
            for t in range(T):
                hh = h.view(B, self.h, -1)
                rec = L.einsum("ghij,bhj->gbhi", self.R, hh).reshape(4, B, d)
                zi, zf, zz, zo = (self.W(xs[:, t]).view(B, 4, d).transpose(0, 1) + rec)
                log_f = -L.nn.functional.softplus(-zf)           # log sigmoid
                m_new = L.maximum(log_f + m, zi)
                i = L.exp(zi - m_new)
                f = L.exp(log_f + m - m_new)
                c = f * c + i * L.tanh(zz)
                n = f * n + i
                h = L.sigmoid(zo) * c / n
                m = m_new
                outs.append(h)
            return L.stack(outs, 1), m

    L.manual_seed(12)
    cell = SLSTM().double()
    xs = leaf(L, 3, 6, 4, seed=42, grad=True)
    hs, m = cell(xs)
    hs[:, -1].sum().backward()
    return hs, m, xs.grad, cell.R.grad, cell.W.bias.grad


# ----------------------------------------------------------------------------------------------
# rendering, visualisation and implicit layers
# ----------------------------------------------------------------------------------------------
@program
def nerf_volume_rendering_with_hierarchical_pdf_sampling(L):
    """NeRF: stratified samples along rays (given jitter), positional encoding of points,
    a tiny MLP's density and colour, alpha compositing by an exclusive cumprod of
    transmittance, then fine samples from the coarse weights' piecewise-constant pdf by
    searchsorted(right=True) and gathers (detached), rendered again; gradients of the MLP."""
    nn, F = L.nn, L.nn.functional

    def encode(p, n_freq=3):
        freqs = 2.0 ** L.arange(n_freq, dtype=p.dtype)
        ang = p[..., None] * freqs
        return L.cat([p, ang.sin().flatten(-2), ang.cos().flatten(-2)], -1)

    def render(mlp, o, d, t):
        pts = o[:, None] + d[:, None] * t[..., None]
        raw = mlp(encode(pts))
        sigma, rgb = F.relu(raw[..., 0]), L.sigmoid(raw[..., 1:])
        delta = L.cat([t[:, 1:] - t[:, :-1], L.full_like(t[:, :1], 1e10)], -1)
        alpha = 1 - L.exp(-sigma * delta * d.norm(dim=-1, keepdim=True))
        trans = L.cumprod(L.cat([L.ones_like(alpha[:, :1]), 1 - alpha + 1e-10], -1), -1)
        w = alpha * trans[:, :-1]
        return (w[..., None] * rgb).sum(1), w, (w * t).sum(-1)

    def sample_pdf(bins, w, u):
        w = w + 1e-5
        pdf = w / w.sum(-1, keepdim=True)
        cdf = L.cat([L.zeros_like(pdf[:, :1]), L.cumsum(pdf, -1)], -1)
        inds = L.searchsorted(cdf, u.contiguous(), right=True)
        below = (inds - 1).clamp(min=0)
        above = inds.clamp(max=cdf.shape[-1] - 1)
        g = L.stack([below, above], -1)
        shape = (*g.shape[:-1], cdf.shape[-1])
        cdf_g = cdf.unsqueeze(1).expand(shape).gather(2, g)
        bins_g = bins.unsqueeze(1).expand(shape).gather(2, g)
        denom = cdf_g[..., 1] - cdf_g[..., 0]
        denom = L.where(denom < 1e-5, L.ones_like(denom), denom)
        tt = (u - cdf_g[..., 0]) / denom
        return bins_g[..., 0] + tt * (bins_g[..., 1] - bins_g[..., 0])

    L.manual_seed(13)
    mlp = nn.Sequential(nn.Linear(21, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    o = L.tensor(normal64(3, 3, seed=50) * 0.1)
    d = F.normalize(L.tensor(normal64(3, 3, seed=51)), dim=-1)
    near, far, n = 0.5, 3.0, 6
    t_lin = L.linspace(near, far, n, dtype=L.float64).expand(3, n)
    mids = 0.5 * (t_lin[:, 1:] + t_lin[:, :-1])
    upper = L.cat([mids, t_lin[:, -1:]], -1)
    lower = L.cat([t_lin[:, :1], mids], -1)
    t = lower + (upper - lower) * L.tensor(np.random.RandomState(52).rand(3, n))
    rgb_c, w, depth = render(mlp, o, d, t)
    t_mid = 0.5 * (t[:, 1:] + t[:, :-1])
    u = L.tensor(np.sort(np.random.RandomState(53).rand(3, 5), -1))
    fine = sample_pdf(t_mid, w[:, 1:-1], u).detach()
    t_all, _ = L.sort(L.cat([t, fine], -1), -1)
    rgb_f, _, _ = render(mlp, o, d, t_all)
    target = L.tensor(np.random.RandomState(54).rand(3, 3))
    loss = F.mse_loss(rgb_c, target) + F.mse_loss(rgb_f, target)
    loss.backward()
    return rgb_c, depth, fine, rgb_f, loss, mlp[0].weight.grad, fine.requires_grad


@program
def deep_dream_octaves_with_roll_jitter_and_a_forward_hook_objective(L):
    """Deep dream: a forward hook stores one layer's activation, the image is rolled by a
    jitter, its L2 activation norm ascended with the gradient normalised by its mean
    absolute value, rolled back, clamped in place; over two octaves resized by
    interpolate(bilinear) with the detail carried between octaves."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(14)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3,
                        padding=1), nn.ReLU(), nn.MaxPool2d(2)).double().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    store = {}
    net[2].register_forward_hook(lambda m, i, o: store.__setitem__("act", o))
    base = L.tensor(np.random.RandomState(55).rand(1, 3, 8, 8))
    octaves = [base]
    octaves.append(F.interpolate(base, scale_factor=0.5, mode="bilinear",
                                 align_corners=False))
    detail = L.zeros_like(octaves[-1])
    jit = [(1, -1), (-2, 0), (0, 2)]
    norms = []
    for k, oc in enumerate(reversed(octaves)):
        if k > 0:
            detail = F.interpolate(detail, size=oc.shape[-2:], mode="bilinear",
                                   align_corners=False)
        img = (oc + detail).clone().requires_grad_(True)
        for dy, dx in jit:
            shifted = L.roll(img, shifts=(dy, dx), dims=(-2, -1))
            net(shifted)
            obj = store["act"].norm()
            g, = L.autograd.grad(obj, img)
            with L.no_grad():
                img += 0.05 * g / (g.abs().mean() + 1e-8)
                img.clamp_(0, 1)
            norms.append(obj.item())
        detail = img.detach() - oc
    return norms, img, detail, img.requires_grad, img.is_leaf


@program
def deep_equilibrium_layer_with_implicit_backward_through_a_tensor_hook(L):
    """DEQ: the fixed point z = tanh(Wz + Ux) found without a graph, one differentiable
    step from it, and a hook on that step's output that replaces its gradient by the
    solution of g = J^T g + grad, iterated with autograd.grad of the re-evaluated step
    (retain_graph); the hook removed after; compared against unrolled gradients."""
    nn = L.nn

    class F_(nn.Module):
        def __init__(self, d=4):
            super().__init__()
            self.W = nn.Linear(d, d, bias=False)
            self.U = nn.Linear(3, d)
            nn.init.normal_(self.W.weight, std=0.15)

        def forward(self, z, x):
            return L.tanh(self.W(z) + self.U(x))

    L.manual_seed(15)
    f = F_().double()
    x = leaf(L, 5, 3, seed=56)
    with L.no_grad():
        z = L.zeros(5, 4, dtype=L.float64)
        for _ in range(60):
            z = f(z, x)
    z = f(z, x)
    z0 = z.clone().detach().requires_grad_()
    f0 = f(z0, x)
    handles = []

    def backward_hook(grad):
        if handles:
            handles.pop().remove()
        g = grad
        for _ in range(60):
            g = L.autograd.grad(f0, z0, g, retain_graph=True)[0] + grad
        return g

    handles.append(z.register_hook(backward_hook))
    loss = (z * L.tensor(normal64(5, 4, seed=57))).sum()
    loss.backward()
    implicit = f.W.weight.grad.clone()
    f.zero_grad()
    zz = L.zeros(5, 4, dtype=L.float64)
    for _ in range(60):
        zz = f(zz, x)
    (zz * L.tensor(normal64(5, 4, seed=57))).sum().backward()
    return z, implicit, f.W.weight.grad, f.U.bias.grad, len(handles)


@program
def lottery_ticket_global_magnitude_pruning_with_rewind_to_init(L):
    """Lottery tickets: the initial state saved, a short training run, global L1
    unstructured pruning over two layers' weights, rewinding weight_orig to the initial
    values while keeping the masks, retraining (the pruned entries stay zero) and
    prune.remove at the end; the sparsity and the mask buffers checked."""
    nn, F = L.nn, L.nn.functional
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    L.manual_seed(16)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    x = L.tensor(normal64(10, 4, seed=58))
    y = L.tensor(labels(10, 3, seed=59))

    def train(steps):
        opt = L.optim.SGD(net.parameters(), lr=0.2)
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()

    train(3)
    prune.global_unstructured([(net[0], "weight"), (net[2], "weight")],
                              pruning_method=prune.L1Unstructured, amount=0.5)
    masks = [net[0].weight_mask.clone(), net[2].weight_mask.clone()]
    with L.no_grad():
        net[0].weight_orig.copy_(init["0.weight"])
        net[2].weight_orig.copy_(init["2.weight"])
        net[0].bias.copy_(init["0.bias"])
        net[2].bias.copy_(init["2.bias"])
    train(3)
    zeros_kept = bool(((net[0].weight == 0) | masks[0].bool()).all())
    names = sorted(k for k, _ in net.named_buffers())
    prune.remove(net[0], "weight")
    prune.remove(net[2], "weight")
    sparsity = sum(int((m == 0).sum()) for m in masks) / sum(m.numel() for m in masks)
    return masks, zeros_kept, names, sorted(net.state_dict()), sparsity, net(x), \
        prune.is_pruned(net)


@program
def quantization_aware_training_with_fake_quantize_per_tensor_and_per_channel(L):
    """QAT: weights fake-quantized per output channel (symmetric int8 scales from each row's
    absolute maximum), activations per tensor (asymmetric uint8 from the batch range);
    the straight-through gradient is zero where the input fell outside the range."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(17)
    lin1, lin2 = nn.Linear(4, 6), nn.Linear(6, 2)
    x = L.tensor(normal32(8, 4, seed=60), requires_grad=True)

    def fq_weight(w):
        scale = (w.detach().abs().amax(1) / 127).clamp(min=1e-8)
        zp = L.zeros(w.shape[0], dtype=L.int32)
        return L.fake_quantize_per_channel_affine(w, scale, zp, 0, -128, 127)

    def fq_act(a):
        lo, hi = a.detach().min().clamp(max=0), a.detach().max().clamp(min=0)
        scale = float((hi - lo) / 255)
        zp = int(round(float(-lo / scale)))
        return L.fake_quantize_per_tensor_affine(a, scale, zp, 0, 255)

    h = F.relu(F.linear(fq_act(x), fq_weight(lin1.weight), lin1.bias))
    h = fq_act(h)
    out = F.linear(h, fq_weight(lin2.weight), lin2.bias)
    out.pow(2).sum().backward()
    # a fixed clipping range: inputs outside get no gradient
    z = L.tensor([-3.0, -0.5, 0.0, 0.26, 0.74, 2.0], requires_grad=True)
    q = L.fake_quantize_per_tensor_affine(z, 0.25, 2, 0, 7)
    q.sum().backward()
    return out, x.grad, lin1.weight.grad, lin2.weight.grad, q, z.grad


# ----------------------------------------------------------------------------------------------
# fake quantization: the op's corners, one program each
# ----------------------------------------------------------------------------------------------
@program
def fake_quantize_per_tensor_dtypes_rounding_nan_and_qparam_forms(L):
    """Per-tensor fake quantization in float16, bfloat16, float32 and float64 (ties rounded to
    even, products rounded through float32), NaN and infinities landing on the bounds, a tiny
    scale, a negative scale, qparams as Python numbers, as tensors (a float zero point read
    truncated) and mixed, and the straight-through gradient under create_graph."""
    x = L.tensor([-3.0, -0.5, 0.0, 0.125, 0.375, 0.26, 2.0, 0.6])
    outs = [L.fake_quantize_per_tensor_affine(x.to(dt), 0.25, 2, 0, 7)
            for dt in (L.float16, L.float32, L.float64)]
    bf = L.fake_quantize_per_tensor_affine(x.to(L.bfloat16), 0.25, 2, 0, 7)
    outs += [bf.dtype, bf.float()]
    outs.append(L.fake_quantize_per_tensor_affine(x.double(), 0.1, 0, -128, 127))
    odd = L.tensor([float("nan"), float("inf"), -float("inf"), 1e30])
    outs.append(L.fake_quantize_per_tensor_affine(odd, 0.25, 2, 0, 7))
    outs.append(L.fake_quantize_per_tensor_affine(x, 1e-30, 2, 0, 7))
    outs.append(L.fake_quantize_per_tensor_affine(x, -1.0, 2, 0, 7))
    outs.append(L.fake_quantize_per_tensor_affine(x, L.tensor(0.25), L.tensor(-2.7), 0, 7))
    outs.append(L.fake_quantize_per_tensor_affine(x, L.tensor(0.25), L.tensor(9), 0, 7))
    outs.append(L.fake_quantize_per_tensor_affine(x, 0.25, L.tensor(2), 0, 7))
    outs.append(L.fake_quantize_per_tensor_affine(L.tensor(1.3), 0.25, 2, 0, 7))
    outs.append(L.fake_quantize_per_tensor_affine(x[::2], 0.25, 2, 0, 2 ** 40))
    w = L.tensor(normal64(3, 4, seed=61), requires_grad=True)
    y = L.fake_quantize_per_tensor_affine(w, 0.1, 0, -5, 5)
    g, = L.autograd.grad((y * y).sum(), w, create_graph=True)
    return outs, y, g, g.requires_grad, y.grad_fn.name()


@program
def fake_quantize_per_channel_axes_zero_point_kinds_and_gradients(L):
    """Per-channel fake quantization along axis 0, 1 and the last of a 3-d float64 tensor
    with int32 zero points, along axis 0 with float32 and float16 zero points (added before
    rounding), and the masks as gradients of a weighted sum."""
    w = L.tensor(normal64(3, 4, 5, seed=62), requires_grad=True)
    i32 = L.int32
    a0 = L.fake_quantize_per_channel_affine(w, L.tensor([0.1, 0.2, 0.3]),
                                            L.tensor([0, 1, -1], dtype=i32), 0, -4, 4)
    a1 = L.fake_quantize_per_channel_affine(w, L.tensor([0.3, 0.2, 0.5, 0.05]),
                                            L.tensor([0, 1, 2, 0], dtype=i32), 1, -3, 3)
    a2 = L.fake_quantize_per_channel_affine(w, L.full((5,), 0.25),
                                            L.tensor([0, 1, 2, 3, 4], dtype=i32), 2, 0, 8)
    f32 = L.fake_quantize_per_channel_affine(w, L.tensor([0.1, 0.2, 0.3]),
                                             L.tensor([0.0, 1.5, 5.0]), 0, -2, 2)
    f16 = L.fake_quantize_per_channel_affine(w.float(), L.tensor([0.1, 0.2, 0.3]),
                                             L.tensor([0.0, 1.5, 1.0]).half(), 0, -2, 2)
    wt = L.tensor(normal64(3, 4, 5, seed=63))
    ((a0 + 2 * a1 + 3 * a2 + 4 * f32) * wt).sum().backward()
    return a0, a1, a2, f32, f16, w.grad, a1.grad_fn.name()


@program
def fake_quantize_refusals_in_torch_order(L):
    """The checks of both ops, each met alone or in PyTorch's order when several fail."""
    x = L.tensor([-3.0, 0.3, 2.0])
    w = L.ones(3, 4)
    i32 = L.int32
    ft, fc = L.fake_quantize_per_tensor_affine, L.fake_quantize_per_channel_affine
    s3 = L.tensor([0.1, 0.2, 0.3])
    z3 = L.tensor([0, 1, 0], dtype=i32)
    return [
        err(lambda: ft(x, 0.25, 2, 7, 0)),
        err(lambda: ft(x, 0.25, 9, 0, 7)),
        err(lambda: ft(x, 0.25, 9, 7, 0)),
        err(lambda: ft(x.int(), 0.25, 2, 0, 7)),
        err(lambda: ft(x.int(), 0.25, 2, 7, 0)),
        err(lambda: ft(x.long(), L.tensor(0.25), L.tensor(2), 0, 7)),
        err(lambda: ft(x, L.tensor([0.25, 0.5]), L.tensor([2, 2]), 0, 7)),
        err(lambda: ft(x, L.tensor(0.25, requires_grad=True), L.tensor(2), 0, 7)),
        err(lambda: fc(w, s3.double(), z3.long(), 5, 3, 2)),
        err(lambda: fc(w, s3, z3.long(), 0, -2, 2)),
        err(lambda: fc(w, s3[None], z3, 0, -2, 2)),
        err(lambda: fc(w, s3, z3[None], 0, -2, 2)),
        err(lambda: fc(w, s3, z3[:2], 0, -2, 2)),
        err(lambda: fc(w, s3, z3, 5, -2, 2)),
        err(lambda: fc(w, s3, z3, -1, -2, 2)),
        err(lambda: fc(w, s3[:2], z3[:2], 0, 3, 2)),
        err(lambda: fc(w, s3, z3, 0, 3, 2)),
        err(lambda: fc(w, s3, L.tensor([0, 5, 0], dtype=i32), 0, -2, 2)),
        err(lambda: fc(w.int(), s3, z3, 0, -2, 2)),
        err(lambda: fc(L.tensor(1.0), s3[:1], z3[:1], 0, -2, 2)),
        err(lambda: fc(w, s3.requires_grad_(), z3, 0, -2, 2)),
        err(lambda: fc(w, s3.detach(), z3, 0.5, -2, 2)),
    ]


# ----------------------------------------------------------------------------------------------
# speech and audio blocks
# ----------------------------------------------------------------------------------------------
@program
def conformer_block_macaron_ffn_glu_depthwise_conv_and_rel_free_mhsa(L):
    """A Conformer block: two half-step feed-forward modules around self-attention and a
    convolution module (pointwise conv to 2C, GLU over channels, depthwise conv with
    'same' padding, BatchNorm1d, SiLU, pointwise conv); padding mask in attention; trained
    one step, then evaluated (BatchNorm's running stats used)."""
    nn, F = L.nn, L.nn.functional

    class ConvModule(nn.Module):
        def __init__(self, c, k=3):
            super().__init__()
            self.ln = nn.LayerNorm(c)
            self.pw1 = nn.Conv1d(c, 2 * c, 1)
            self.dw = nn.Conv1d(c, c, k, padding="same", groups=c)
            self.bn = nn.BatchNorm1d(c)
            self.pw2 = nn.Conv1d(c, c, 1)

        def forward(self, x):
            h = self.ln(x).transpose(1, 2)
            h = F.glu(self.pw1(h), dim=1)
            h = self.pw2(F.silu(self.bn(self.dw(h))))
            return h.transpose(1, 2)

    class Conformer(nn.Module):
        def __init__(self, c=6, heads=2):
            super().__init__()
            ff = lambda: nn.Sequential(nn.LayerNorm(c), nn.Linear(c, 4 * c), nn.SiLU(),  # noqa
                                       nn.Dropout(0.0), nn.Linear(4 * c, c))
            self.ff1, self.ff2 = ff(), ff()
            self.ln_att = nn.LayerNorm(c)
            self.att = nn.MultiheadAttention(c, heads, batch_first=True)
            self.conv = ConvModule(c)
            self.ln_out = nn.LayerNorm(c)

        def forward(self, x, pad):
            x = x + 0.5 * self.ff1(x)
            h = self.ln_att(x)
            x = x + self.att(h, h, h, key_padding_mask=pad, need_weights=False)[0]
            x = x + self.conv(x)
            x = x + 0.5 * self.ff2(x)
            return self.ln_out(x)

    L.manual_seed(20)
    m = Conformer().double()
    x = L.tensor(normal64(2, 7, 6, seed=70))
    pad = L.tensor([[False] * 7, [False] * 5 + [True] * 2])
    opt = L.optim.Adam(m.parameters(), lr=1e-2)
    y = m(x, pad)
    loss = (y * (~pad).unsqueeze(-1)).pow(2).sum() / (~pad).sum()
    opt.zero_grad()
    loss.backward()
    grads = m.conv.dw.weight.grad.clone(), m.att.in_proj_weight.grad.clone()
    opt.step()
    m.eval()
    return loss, grads, m(x, pad), m.conv.bn.running_mean, m.conv.bn.num_batches_tracked


@program
def wavenet_gated_dilated_causal_stack_with_mu_law_targets(L):
    """WaveNet: mu-law companding of a waveform to 16 classes, a causal stack of dilated
    convs (left padding by F.pad) with tanh-sigmoid gates, residual and skip 1x1 convs,
    logits (B, C, T) under cross_entropy against the next sample; decoding by argmax back
    through the inverse mu-law."""
    nn, F = L.nn, L.nn.functional
    Q = 16

    def mu_law(x, mu=Q - 1):
        y = L.sign(x) * L.log1p(mu * x.abs()) / math.log1p(mu)
        return ((y + 1) / 2 * mu + 0.5).long()

    def inv_mu_law(q, mu=Q - 1):
        y = 2 * q.double() / mu - 1
        return L.sign(y) * ((1 + mu) ** y.abs() - 1) / mu

    class Layer(nn.Module):
        def __init__(self, c, d):
            super().__init__()
            self.d = d
            self.conv = nn.Conv1d(c, 2 * c, 2, dilation=d)
            self.res, self.skip = nn.Conv1d(c, c, 1), nn.Conv1d(c, c, 1)

        def forward(self, x):
            h = self.conv(F.pad(x, (self.d, 0)))
            a, b = h.chunk(2, 1)
            z = L.tanh(a) * L.sigmoid(b)
            return x + self.res(z), self.skip(z)

    class WaveNet(nn.Module):
        def __init__(self, c=4):
            super().__init__()
            self.emb = nn.Embedding(Q, c)
            self.layers = nn.ModuleList([Layer(c, d) for d in (1, 2, 4, 1, 2)])
            self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(c, c, 1), nn.ReLU(),
                                      nn.Conv1d(c, Q, 1))

        def forward(self, q):
            x = self.emb(q).transpose(1, 2)
            skips = 0
            for layer in self.layers:
                x, s = layer(x)
                skips = skips + s
            return self.head(skips)

    L.manual_seed(21)
    net = WaveNet().double()
    t = L.linspace(0, 1, 20, dtype=L.float64)
    wave = 0.8 * L.sin(2 * math.pi * 3 * t)[None].repeat(2, 1)
    wave[1] *= 0.3
    q = mu_law(wave)
    logits = net(q[:, :-1])
    loss = F.cross_entropy(logits, q[:, 1:])
    loss.backward()
    pred = logits.argmax(1)
    return q, loss, inv_mu_law(pred), net.layers[2].conv.weight.grad, net.emb.weight.grad


@program
def sincnet_learned_band_pass_filters_as_conv1d_weights(L):
    """SincNet: each filter a band-pass from two learned cutoffs (low and band in Hz, kept
    positive by abs), built as the difference of two sinc low-passes times a Hamming
    window, normalised by its peak, applied by conv1d with stride; gradients reach the
    cutoffs."""
    nn, F = L.nn, L.nn.functional

    class SincConv(nn.Module):
        def __init__(self, n=4, k=11, sr=800.0):
            super().__init__()
            self.sr = sr
            mel = L.linspace(50.0, 300.0, n + 1, dtype=L.float64)
            self.low = nn.Parameter(mel[:-1].unsqueeze(1))
            self.band = nn.Parameter(L.diff(mel).unsqueeze(1))
            half = (k - 1) // 2
            self.register_buffer("t", 2 * math.pi * L.arange(-half, 0,
                                                            dtype=L.float64)[None] / sr)
            win = L.hamming_window(k, periodic=False, dtype=L.float64)
            self.register_buffer("win", win[:half][None])

        def forward(self, x):
            low = 10.0 + self.low.abs()
            high = (low + 10.0 + self.band.abs()).clamp(max=self.sr / 2)
            band = (high - low)[:, 0]
            left = (L.sin(high * self.t) - L.sin(low * self.t)) / (self.t / 2) * self.win
            centre = 2 * band.unsqueeze(1)
            filt = L.cat([left, centre, left.flip(1)], 1) / centre
            return F.conv1d(x, filt.unsqueeze(1), stride=2)

    L.manual_seed(22)
    m = SincConv()
    x = L.tensor(normal64(2, 1, 40, seed=71))
    y = m(x)
    F.log_softmax(y.abs().mean(-1), -1)[:, 0].sum().backward()
    return y, m.low.grad, m.band.grad


# ----------------------------------------------------------------------------------------------
# reinforcement learning and probabilistic heads
# ----------------------------------------------------------------------------------------------
@program
def soft_actor_critic_tanh_squashed_policy_twin_q_and_alpha_tuning(L):
    """SAC: a Gaussian policy whose rsample is squashed by tanh with the log-det correction
    (the softplus form), twin Q critics with a min in the target, soft target updates by
    _foreach_lerp_, and the temperature's log_alpha tuned toward a target entropy; three
    updates with separate Adam optimizers."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    S, A = 3, 2

    def mlp(i, o):
        return nn.Sequential(nn.Linear(i, 8), nn.ReLU(), nn.Linear(8, o))

    L.manual_seed(23)
    actor = mlp(S, 2 * A).double()
    q1, q2 = mlp(S + A, 1).double(), mlp(S + A, 1).double()
    t1, t2 = mlp(S + A, 1).double(), mlp(S + A, 1).double()
    t1.load_state_dict(q1.state_dict())
    t2.load_state_dict(q2.state_dict())
    log_alpha = L.zeros(1, dtype=L.float64, requires_grad=True)
    opt_a = L.optim.Adam(actor.parameters(), lr=3e-3)
    opt_q = L.optim.Adam(list(q1.parameters()) + list(q2.parameters()), lr=3e-3)
    opt_t = L.optim.Adam([log_alpha], lr=3e-3)
    s = L.tensor(normal64(6, S, seed=72))
    a = L.tensor(np.tanh(normal64(6, A, seed=73)))
    r = L.tensor(normal64(6, seed=74))
    s2 = L.tensor(normal64(6, S, seed=75))
    done = L.tensor([0.0, 0, 1, 0, 0, 1], dtype=L.float64)

    def policy(st):
        mu, log_std = actor(st).chunk(2, -1)
        dist = D.Normal(mu, log_std.clamp(-5, 2).exp())
        u = dist.rsample()
        act = L.tanh(u)
        logp = dist.log_prob(u).sum(-1) - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        return act, logp

    record = []
    for _ in range(3):
        alpha = log_alpha.exp().detach()
        with L.no_grad():
            a2, logp2 = policy(s2)
            sa2 = L.cat([s2, a2], -1)
            tq = L.min(t1(sa2), t2(sa2)).squeeze(-1) - alpha * logp2
            y = r + 0.99 * (1 - done) * tq
        sa = L.cat([s, a], -1)
        lq = F.mse_loss(q1(sa).squeeze(-1), y) + F.mse_loss(q2(sa).squeeze(-1), y)
        opt_q.zero_grad()
        lq.backward()
        opt_q.step()
        pa, logp = policy(s)
        spa = L.cat([s, pa], -1)
        lp = (alpha * logp - L.min(q1(spa), q2(spa)).squeeze(-1)).mean()
        opt_a.zero_grad()
        lp.backward()
        opt_a.step()
        la = -(log_alpha * (logp.detach() - A)).mean()
        opt_t.zero_grad()
        la.backward()
        opt_t.step()
        with L.no_grad():
            for tgt, src in ((t1, q1), (t2, q2)):
                L._foreach_lerp_(list(tgt.parameters()), list(src.parameters()), 0.005)
        record.append((lq, lp, la))
    return record, log_alpha, t1[0].weight, actor[2].bias


@program
def mixture_density_network_by_mixture_same_family_and_sampling(L):
    """An MDN head: mixture logits, means and log-scales per component for a 2-d target,
    the likelihood by MixtureSameFamily(Categorical, Independent(Normal)), its gradients,
    then the mode-seeking prediction (the mean of the most likely component) and seeded
    samples from the mixture."""
    nn = L.nn
    D = L.distributions
    K, T = 3, 2

    L.manual_seed(24)
    body = nn.Sequential(nn.Linear(1, 16), nn.Tanh()).double()
    head = nn.Linear(16, K + 2 * K * T).double()
    x = L.linspace(-1, 1, 8, dtype=L.float64)[:, None]
    y = L.cat([L.sin(3 * x), x ** 2], -1) + L.tensor(normal64(8, 2, seed=76) * 0.05)
    out = head(body(x))
    logits, mu, log_s = out.split([K, K * T, K * T], -1)
    mu, scale = mu.view(-1, K, T), L.nn.functional.softplus(log_s.view(-1, K, T)) + 1e-3
    mix = D.MixtureSameFamily(D.Categorical(logits=logits),
                              D.Independent(D.Normal(mu, scale), 1))
    nll = -mix.log_prob(y).mean()
    nll.backward()
    best = logits.argmax(-1)
    mode = mu.gather(1, best[:, None, None].expand(-1, 1, T)).squeeze(1)
    L.manual_seed(25)
    samples = mix.sample((2,))
    return nll, mode, samples, mix.mean, mix.variance, head.weight.grad


@program
def temperature_scaling_by_lbfgs_with_ece_from_bucketize(L):
    """Post-hoc calibration: a single temperature fitted by LBFGS (strong Wolfe) on
    validation logits' NLL, with the expected calibration error before and after computed
    by bucketize over confidence bins and scatter_add of counts and sums."""
    F = L.nn.functional
    logits = L.tensor(normal64(40, 4, seed=77) * 3.0)
    y = L.tensor(labels(40, 4, seed=78))

    def ece(lg, n_bins=5):
        p = lg.softmax(-1)
        conf, pred = p.max(-1)
        acc = (pred == y).double()
        edges = L.linspace(0, 1, n_bins + 1, dtype=L.float64)
        b = (L.bucketize(conf, edges[1:-1], right=False))
        cnt = L.zeros(n_bins, dtype=L.float64).scatter_add(0, b, L.ones_like(conf))
        s_conf = L.zeros(n_bins, dtype=L.float64).scatter_add(0, b, conf)
        s_acc = L.zeros(n_bins, dtype=L.float64).scatter_add(0, b, acc)
        return ((s_conf - s_acc).abs().sum() / conf.numel()), cnt

    log_t = L.zeros(1, dtype=L.float64, requires_grad=True)
    opt = L.optim.LBFGS([log_t], lr=0.5, max_iter=30, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    before = ece(logits)
    opt.step(closure)
    T = log_t.exp().detach()
    after = ece(logits / T)
    return T, before, after, F.cross_entropy(logits / T, y), opt.state_dict()["state"][0][
        "n_iter"]


# ----------------------------------------------------------------------------------------------
# decoding, matching and margins
# ----------------------------------------------------------------------------------------------
@program
def pointer_network_masked_greedy_decoding_and_reinforce_with_baseline(L):
    """A pointer network for a 4-city tour: an LSTM encoder, an LSTMCell decoder whose
    attention logits (10 tanh-clipped) point at inputs, visited cities masked with -inf,
    greedy and seeded sampled decoding (Categorical), tour lengths by gather and roll, and
    REINFORCE with the greedy tour as baseline."""
    nn = L.nn
    D = L.distributions

    class Pointer(nn.Module):
        def __init__(self, h=8):
            super().__init__()
            self.emb = nn.Linear(2, h)
            self.enc = nn.LSTM(h, h, batch_first=True)
            self.dec = nn.LSTMCell(h, h)
            self.Wq, self.Wr = nn.Linear(h, h, bias=False), nn.Linear(h, h, bias=False)
            self.v = nn.Parameter(L.randn(h) * 0.3)
            self.start = nn.Parameter(L.randn(h) * 0.3)

        def forward(self, pts, greedy):
            B, N, _ = pts.shape
            e = self.emb(pts)
            ref, (h, c) = self.enc(e)
            h, c = h[0], c[0]
            inp = self.start.expand(B, -1)
            mask = L.zeros(B, N, dtype=L.bool)
            tour, logps = [], []
            for _ in range(N):
                h, c = self.dec(inp, (h, c))
                u = L.tanh(self.Wq(h)[:, None] + self.Wr(ref)) @ self.v
                u = (10 * L.tanh(u)).masked_fill(mask, float("-inf"))
                dist = D.Categorical(logits=u)
                idx = u.argmax(-1) if greedy else dist.sample()
                logps.append(dist.log_prob(idx))
                tour.append(idx)
                mask = mask.scatter(1, idx[:, None], True)
                inp = e.gather(1, idx[:, None, None].expand(-1, 1, e.shape[-1])).squeeze(1)
            return L.stack(tour, 1), L.stack(logps, 1).sum(1)

    def length(pts, tour):
        p = pts.gather(1, tour[..., None].expand(-1, -1, 2))
        return (p - p.roll(-1, dims=1)).norm(dim=-1).sum(-1)

    L.manual_seed(26)
    net = Pointer().double()
    pts = L.tensor(np.random.RandomState(80).rand(3, 4, 2))
    with L.no_grad():
        g_tour, _ = net(pts, True)
    L.manual_seed(27)
    s_tour, logp = net(pts, False)
    adv = (length(pts, s_tour) - length(pts, g_tour)).detach()
    loss = (adv * logp).mean()
    loss.backward()
    return g_tour, s_tour, logp, loss, net.v.grad, net.enc.weight_hh_l0.grad


@program
def detr_set_matching_by_brute_force_assignment_with_giou_cost(L):
    """DETR-style set prediction: costs of class probability, L1 box distance and generalized
    IoU (boxes from cxcywh to xyxy) between every prediction and target, the assignment of
    least total cost found over all permutations, then the matched losses with the unmatched
    predictions pushed to the no-object class (weighted CE with eos_coef)."""
    nn, F = L.nn, L.nn.functional

    def to_xyxy(b):
        cx, cy, w, h = b.unbind(-1)
        return L.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)

    def giou(a, b):
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        lt = L.max(a[:, None, :2], b[None, :, :2])
        rb = L.min(a[:, None, 2:], b[None, :, 2:])
        inter = (rb - lt).clamp(min=0).prod(-1)
        union = area_a[:, None] + area_b[None] - inter
        iou = inter / union
        lt2 = L.min(a[:, None, :2], b[None, :, :2])
        rb2 = L.max(a[:, None, 2:], b[None, :, 2:])
        hull = (rb2 - lt2).clamp(min=0).prod(-1)
        return iou - (hull - union) / hull

    L.manual_seed(28)
    n_cls, Qn = 3, 4
    head_cls = nn.Linear(6, n_cls + 1).double()
    head_box = nn.Linear(6, 4).double()
    feats = L.tensor(normal64(Qn, 6, seed=81))
    logits = head_cls(feats)
    boxes = head_box(feats).sigmoid() * 0.5 + 0.25
    tgt_cls = L.tensor([2, 0])
    tgt_box = L.tensor([[0.4, 0.5, 0.2, 0.3], [0.6, 0.4, 0.3, 0.2]], dtype=L.float64)
    with L.no_grad():
        prob = logits.softmax(-1)
        cost = (-prob[:, tgt_cls] + 5 * L.cdist(boxes, tgt_box, p=1)
                - 2 * giou(to_xyxy(boxes), to_xyxy(tgt_box)))
    best, best_cost = None, float("inf")
    for perm in itertools.permutations(range(Qn), len(tgt_cls)):
        c = float(cost[list(perm), L.arange(len(tgt_cls))].sum())
        if c < best_cost:
            best, best_cost = perm, c
    src = L.tensor(list(best))
    target_classes = L.full((Qn,), n_cls, dtype=L.long)
    target_classes[src] = tgt_cls
    weight = L.ones(n_cls + 1, dtype=L.float64)
    weight[-1] = 0.1
    l_cls = F.cross_entropy(logits, target_classes, weight=weight)
    l_box = F.l1_loss(boxes[src], tgt_box, reduction="sum") / 2
    l_giou = (1 - L.diag(giou(to_xyxy(boxes[src]), to_xyxy(tgt_box)))).sum() / 2
    (l_cls + 5 * l_box + 2 * l_giou).backward()
    return cost, best, l_cls, l_box, l_giou, head_box.weight.grad, head_cls.bias.grad


@program
def beam_search_over_a_gru_decoder_with_length_penalty(L):
    """Beam search of width 3 over a GRU language model: log-probabilities accumulated,
    the top-k of the flattened (beam x vocab) scores, beams reordered by index_select of the
    hidden state, finished hypotheses frozen by masking, and a length-normalised pick."""
    nn, F = L.nn, L.nn.functional
    V, H, K, EOS = 6, 8, 3, 0
    L.manual_seed(29)
    emb = nn.Embedding(V, H).double()
    gru = nn.GRU(H, H).double()
    out = nn.Linear(H, V).double()
    h = L.tanh(L.tensor(normal64(1, 1, H, seed=82))).expand(1, K, H).contiguous()
    tokens = L.full((K, 1), 1, dtype=L.long)
    scores = L.tensor([0.0, float("-inf"), float("-inf")], dtype=L.float64)
    finished = L.zeros(K, dtype=L.bool)
    with L.no_grad():
        for _ in range(5):
            o, h = gru(emb(tokens[:, -1])[None], h)
            logp = F.log_softmax(out(o[0]), -1)
            eos_only = L.full((V,), float("-inf"), dtype=L.float64)
            eos_only[EOS] = 0.0
            logp = L.where(finished[:, None], eos_only, logp)
            cand = (scores[:, None] + logp).view(-1)
            top, idx = cand.topk(K)
            beam, tok = idx // V, idx % V
            h = h.index_select(1, beam)
            tokens = L.cat([tokens.index_select(0, beam), tok[:, None]], 1)
            finished = finished.index_select(0, beam) | (tok == EOS)
            scores = top
        lengths = ((tokens != EOS).sum(1)).double()
        normed = scores / lengths ** 0.6
    return tokens, scores, finished, normed, normed.argmax()


@program
def arcface_and_cosface_additive_angular_margins_with_easy_margin(L):
    """Face-recognition heads on normalised features and class centres: ArcFace's
    cos(theta + m) computed from sin by sqrt((1 - cos^2).clamp(0, 1)), the easy-margin and
    threshold branches by where, CosFace's subtractive margin, both scaled by s into
    cross_entropy with the target's one-hot scatter; gradients of features and centres."""
    F = L.nn.functional
    s, m = 16.0, 0.3
    x = L.tensor(normal64(5, 4, seed=83), requires_grad=True)
    W = L.tensor(normal64(3, 4, seed=84), requires_grad=True)
    y = L.tensor([0, 2, 1, 1, 0])
    cos = F.linear(F.normalize(x), F.normalize(W)).clamp(-1 + 1e-7, 1 - 1e-7)
    sin = L.sqrt((1.0 - cos * cos).clamp(0, 1))
    phi = cos * math.cos(m) - sin * math.sin(m)
    th, mm = math.cos(math.pi - m), math.sin(math.pi - m) * m
    hard = L.where(cos > th, phi, cos - mm)
    easy = L.where(cos > 0, phi, cos)
    onehot = L.zeros_like(cos).scatter_(1, y.view(-1, 1), 1.0)
    arc = F.cross_entropy(s * (onehot * hard + (1 - onehot) * cos), y)
    arc_easy = F.cross_entropy(s * (onehot * easy + (1 - onehot) * cos), y)
    cosface = F.cross_entropy(s * (cos - m * onehot), y, label_smoothing=0.1)
    (arc + arc_easy + cosface).backward()
    return arc, arc_easy, cosface, x.grad, W.grad


# ----------------------------------------------------------------------------------------------
# vision blocks
# ----------------------------------------------------------------------------------------------
@program
def convnext_blocks_channels_first_layernorm_and_seeded_drop_path(L):
    """ConvNeXt: a stem by a 2x2 stride-2 conv, a LayerNorm over channels written for
    (N, C, H, W) by mean/var over dim 1, blocks of 7x7 depthwise conv, permute to channels
    last, Linear-GELU-Linear, layer scale gamma, permute back, and per-sample drop path from
    a seeded bernoulli_ draw; two SGD steps with nesterov momentum."""
    nn, F = L.nn, L.nn.functional

    class LayerNorm2d(nn.Module):
        def __init__(self, c, eps=1e-6):
            super().__init__()
            self.weight, self.bias = nn.Parameter(L.ones(c)), nn.Parameter(L.zeros(c))
            self.eps = eps

        def forward(self, x):
            u = x.mean(1, keepdim=True)
            s = (x - u).pow(2).mean(1, keepdim=True)
            x = (x - u) / L.sqrt(s + self.eps)
            return self.weight[:, None, None] * x + self.bias[:, None, None]

    class Block(nn.Module):
        def __init__(self, c, drop):
            super().__init__()
            self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
            self.norm = nn.LayerNorm(c, eps=1e-6)
            self.pw1, self.pw2 = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
            self.gamma = nn.Parameter(1e-1 * L.ones(c))
            self.drop = drop

        def forward(self, x):
            h = self.dw(x).permute(0, 2, 3, 1)
            h = self.pw2(F.gelu(self.pw1(self.norm(h)))) * self.gamma
            h = h.permute(0, 3, 1, 2)
            if self.training and self.drop > 0:
                keep = 1 - self.drop
                mask = x.new_empty(x.shape[0], 1, 1, 1).bernoulli_(keep)
                h = h * mask / keep
            return x + h

    L.manual_seed(30)
    net = nn.Sequential(nn.Conv2d(3, 8, 2, stride=2), LayerNorm2d(8), Block(8, 0.0),
                        Block(8, 0.5), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.LayerNorm(8), nn.Linear(8, 4)).double()
    x = L.tensor(normal64(4, 3, 8, 8, seed=90))
    y = L.tensor(labels(4, 4, seed=91))
    opt = L.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                      weight_decay=0.05)
    losses = []
    L.manual_seed(31)
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss)
    net.eval()
    return losses, net(x), net[3].gamma, net[1].weight.grad


@program
def mlp_mixer_token_and_channel_mixing_with_patch_embedding(L):
    """MLP-Mixer: patches by a strided conv flattened to (B, N, C), token mixing on the
    transposed tensor, channel mixing, global average over tokens; label-smoothed CE and
    the gradient of the token-mixing weights."""
    nn, F = L.nn, L.nn.functional

    class MixerBlock(nn.Module):
        def __init__(self, n, c):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
            self.tok = nn.Sequential(nn.Linear(n, 2 * n), nn.GELU(), nn.Linear(2 * n, n))
            self.ch = nn.Sequential(nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, c))

        def forward(self, x):
            x = x + self.tok(self.ln1(x).transpose(1, 2)).transpose(1, 2)
            return x + self.ch(self.ln2(x))

    L.manual_seed(32)
    patch = nn.Conv2d(2, 6, 4, stride=4).double()
    blocks = nn.Sequential(MixerBlock(4, 6), MixerBlock(4, 6)).double()
    head = nn.Sequential(nn.LayerNorm(6), nn.Linear(6, 3)).double()
    x = L.tensor(normal64(3, 2, 8, 8, seed=92))
    y = L.tensor(labels(3, 3, seed=93))
    tokens = patch(x).flatten(2).transpose(1, 2)
    logits = head(blocks(tokens).mean(1))
    loss = F.cross_entropy(logits, y, label_smoothing=0.2)
    loss.backward()
    return logits, loss, blocks[0].tok[0].weight.grad, patch.weight.grad


@program
def pixelcnn_masked_convolutions_type_a_and_b_with_pixelwise_sampling(L):
    """PixelCNN: Conv2d subclasses holding a mask buffer (type A hides the centre, type B
    keeps it) multiplied into weight.data before each forward, a 4-level softmax per pixel
    trained one step, then autoregressive sampling pixel by pixel by multinomial under
    no_grad; the receptive field checked by an input gradient."""
    nn, F = L.nn, L.nn.functional

    class MaskedConv2d(nn.Conv2d):
        def __init__(self, kind, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.register_buffer("mask", self.weight.data.clone())
            _, _, kh, kw = self.weight.size()
            self.mask.fill_(1)
            self.mask[:, :, kh // 2, kw // 2 + (kind == "B"):] = 0
            self.mask[:, :, kh // 2 + 1:] = 0

        def forward(self, x):
            self.weight.data *= self.mask
            return super().forward(x)

    L.manual_seed(33)
    net = nn.Sequential(MaskedConv2d("A", 1, 8, 5, padding=2), nn.ReLU(),
                        MaskedConv2d("B", 8, 8, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(8, 4, 1)).double()
    img = L.tensor(np.random.RandomState(94).randint(0, 4, (2, 1, 5, 5)))
    x = img.double() / 3
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    loss = F.cross_entropy(net(x), img[:, 0])
    opt.zero_grad()
    loss.backward()
    opt.step()
    probe = x[:1].clone().requires_grad_(True)
    net(probe)[0, :, 2, 2].sum().backward()
    field = probe.grad[0, 0] != 0
    L.manual_seed(34)
    sample = L.zeros(1, 1, 5, 5, dtype=L.float64)
    with L.no_grad():
        for i in range(5):
            for j in range(5):
                p = F.softmax(net(sample)[0, :, i, j], 0)
                sample[0, 0, i, j] = L.multinomial(p, 1).double() / 3
    return loss, field, sample, net[0].weight[0, 0], list(dict(net.named_buffers()))


# ----------------------------------------------------------------------------------------------
# weight-space recipes
# ----------------------------------------------------------------------------------------------
@program
def model_soups_uniform_and_greedy_from_checkpoints_in_bytesio(L):
    """Model soups: three fine-tuned copies of one start (different seeds of data order)
    saved into BytesIO and loaded back with weights_only, the uniform soup as the mean of
    their state dicts, the greedy soup adding a checkpoint only when held-out loss drops."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(35)
    base = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    start = {k: v.clone() for k, v in base.state_dict().items()}
    X = L.tensor(normal64(24, 3, seed=95))
    Y = L.tensor(labels(24, 2, seed=96))
    Xv, Yv = L.tensor(normal64(10, 3, seed=97)), L.tensor(labels(10, 2, seed=98))
    blobs = []
    for seed in range(3):
        base.load_state_dict(start)
        opt = L.optim.SGD(base.parameters(), lr=0.3)
        g = L.Generator().manual_seed(seed)
        order = L.randperm(24, generator=g)
        for chunk in order.split(8):
            opt.zero_grad()
            F.cross_entropy(base(X[chunk]), Y[chunk]).backward()
            opt.step()
        buf = io.BytesIO()
        L.save(base.state_dict(), buf)
        blobs.append(buf.getvalue())
    sds = [L.load(io.BytesIO(b), weights_only=True) for b in blobs]

    def val_loss(sd):
        base.load_state_dict(sd)
        with L.no_grad():
            return F.cross_entropy(base(Xv), Yv).item()

    uniform = {k: L.stack([sd[k] for sd in sds]).mean(0) for k in sds[0]}
    ranked = sorted(range(3), key=lambda i: val_loss(sds[i]))
    chosen = [ranked[0]]
    best = val_loss(sds[ranked[0]])
    for i in ranked[1:]:
        trial = {k: L.stack([sds[j][k] for j in chosen + [i]]).mean(0) for k in sds[0]}
        loss = val_loss(trial)
        if loss < best:
            chosen.append(i)
            best = loss
    return [val_loss(sd) for sd in sds], val_loss(uniform), chosen, best, uniform["2.bias"]


@program
def hypernetwork_generating_target_weights_used_through_functional_call(L):
    """A hypernetwork maps a task embedding to every parameter of a target MLP (split and
    reshaped by the target's named_parameters shapes), the target run statelessly by
    torch.func.functional_call with that dict; the loss's gradient reaches the hypernetwork
    and the task embeddings, not the target's own (unused) parameters."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(36)
    target = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    shapes = {k: v.shape for k, v in target.named_parameters()}
    total = sum(math.prod(s) for s in shapes.values())
    hyper = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, total)).double()
    tasks = nn.Embedding(2, 3).double()
    x = L.tensor(normal64(5, 2, seed=99))
    ys = [L.sin(x.sum(1, keepdim=True)), L.cos(x[:, :1])]
    loss = 0
    for t in range(2):
        flat = hyper(tasks(L.tensor(t))) * 0.5
        params = {k: p.view(s) for (k, s), p in
                  zip(shapes.items(), flat.split([math.prod(s) for s in shapes.values()]))}
        loss = loss + F.mse_loss(L.func.functional_call(target, params, (x,)), ys[t])
    loss.backward()
    return loss, hyper[2].weight.grad, tasks.weight.grad, target[0].weight.grad is None


@program
def swa_with_averaged_model_ema_multi_avg_fn_buffers_and_update_bn(L):
    """Stochastic weight averaging: an AveragedModel with the default running mean over a
    BatchNorm net, another by get_ema_multi_avg_fn with use_buffers=True, SWALR's cosine
    anneal, update_parameters each epoch after a start, and update_bn over a DataLoader
    recomputing the average model's running statistics."""
    nn, F = L.nn, L.nn.functional
    swa = importlib.import_module(L.__name__ + ".optim.swa_utils")
    data = L.utils.data
    L.manual_seed(37)
    net = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    net = net.double()
    avg = swa.AveragedModel(net)
    ema = swa.AveragedModel(net, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9), use_buffers=True)
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    sched = swa.SWALR(opt, swa_lr=0.02, anneal_epochs=2, anneal_strategy="cos")
    ds = data.TensorDataset(L.tensor(normal64(12, 3, seed=100)), L.tensor(labels(12, 2, 101)))
    loader = data.DataLoader(ds, batch_size=4, shuffle=False)
    lrs = []
    for epoch in range(4):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(net(xb), yb).backward()
            opt.step()
        if epoch >= 1:
            avg.update_parameters(net)
            ema.update_parameters(net)
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    before = avg.module[1].running_mean.clone()
    swa.update_bn(((xb,) for xb, _ in loader), avg)
    return lrs, avg.n_averaged, avg.module[0].weight, ema.module[0].weight, before, \
        avg.module[1].running_mean, avg.module[1].running_var, ema.module[1].running_mean


# ----------------------------------------------------------------------------------------------
# training machinery
# ----------------------------------------------------------------------------------------------
@program
def cpu_bfloat16_autocast_with_grad_scaler_accumulation_and_unscaled_clipping(L):
    """A mixed-precision loop as written for GPUs, run on the CPU: autocast(bfloat16) around
    the forward (linear layers in bfloat16, the loss in float32), a GradScaler('cpu') scaling
    the loss over two accumulation micro-batches, unscale_ before clip_grad_norm_, step and
    update; the scale and the outputs' dtypes recorded."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(38)
    net = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 3))
    opt = L.optim.AdamW(net.parameters(), lr=1e-2)
    scaler = L.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=1)
    x = L.tensor(normal32(8, 4, seed=102))
    y = L.tensor(labels(8, 3, seed=103))
    record = []
    for step in range(2):
        opt.zero_grad()
        for xb, yb in zip(x.split(4), y.split(4)):
            with L.autocast("cpu", dtype=L.bfloat16):
                logits = net(xb)
                loss = F.cross_entropy(logits, yb) / 2
            scaler.scale(loss).backward()
        scaler.unscale_(opt)
        norm = L.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        record.append((logits.dtype, loss.dtype, scaler.get_scale(), norm))
    return record, net[0].weight, net[2].bias.grad


@program
def activation_checkpointing_non_reentrant_with_dropout_and_kwargs(L):
    """torch.utils.checkpoint with use_reentrant=False around blocks with dropout (the RNG
    state preserved, so the recomputation draws the same mask), keyword arguments passed
    through, and checkpoint_sequential over a Sequential in 2 segments; gradients equal to
    the plain run's."""
    nn, F = L.nn, L.nn.functional
    cp = importlib.import_module(L.__name__ + ".utils.checkpoint")

    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.fc = nn.Linear(d, d)
            self.drop = nn.Dropout(0.3)

        def forward(self, x, scale=1.0):
            return x + scale * self.drop(F.gelu(self.fc(x)))

    L.manual_seed(39)
    blocks = nn.ModuleList([Block(6) for _ in range(3)]).double()
    seq = nn.Sequential(*[nn.Sequential(nn.Linear(6, 6), nn.Tanh()) for _ in range(4)]).double()
    x = L.tensor(normal64(4, 6, seed=104), requires_grad=True)

    def run(use_cp):
        L.manual_seed(40)
        h = x
        for b in blocks:
            h = cp.checkpoint(b, h, scale=0.5, use_reentrant=False) if use_cp else b(h, 0.5)
        h = cp.checkpoint_sequential(seq, 2, h, use_reentrant=False) if use_cp else seq(h)
        return h

    outs = []
    for use_cp in (True, False):
        blocks.zero_grad()
        seq.zero_grad()
        x.grad = None
        y = run(use_cp)
        y.pow(2).sum().backward()
        outs.append((y, x.grad, blocks[1].fc.weight.grad, seq[0][0].bias.grad))
    return outs


@program
def orthogonal_parametrizations_maps_on_wide_and_tall_weights(L):
    """nn.utils.parametrizations.orthogonal with the matrix_exp, cayley and householder maps
    on a tall and a wide Linear weight (columns or rows orthonormal), assigned a new
    orthogonal value through the right inverse, trained one step with the constraint kept;
    spectral_norm's power iteration in train and eval."""
    nn = L.nn
    P = L.nn.utils.parametrizations
    L.manual_seed(41)
    checks = []
    for kind in ("matrix_exp", "cayley", "householder"):
        for shape in ((5, 3), (3, 5)):
            lin = nn.Linear(shape[1], shape[0], bias=False).double()
            P.orthogonal(lin, orthogonal_map=kind)
            W = lin.weight
            gram = W.T @ W if shape[0] > shape[1] else W @ W.T
            opt = L.optim.SGD(lin.parameters(), lr=0.1)
            loss = lin(L.tensor(normal64(4, shape[1], seed=105))).pow(3).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            W2 = lin.weight
            gram2 = W2.T @ W2 if shape[0] > shape[1] else W2 @ W2.T
            checks.append((gram, gram2, W2))
    q = L.linalg.qr(L.tensor(normal64(5, 3, seed=106)))[0]
    lin = nn.Linear(3, 5, bias=False).double()
    P.orthogonal(lin)
    with L.no_grad():
        lin.weight = q
    sn = P.spectral_norm(nn.Linear(4, 3).double(), n_power_iterations=2)
    w_train = sn.weight
    sn.eval()
    w_eval = sn.weight
    return checks, lin.weight, q, w_train, w_eval, L.linalg.matrix_norm(w_eval, 2)


@program
def module_hooks_kwargs_pre_hooks_backward_pre_hooks_and_always_call(L):
    """Module hooks as libraries use them: a forward pre-hook with_kwargs that rewrites a
    keyword, a forward hook with_kwargs reading it, a full backward pre-hook scaling the
    output gradient, a full backward hook recording the input gradients, an always_call
    forward hook that runs even when forward raises; handles removed after."""
    nn = L.nn

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x, *, scale=1.0, fail=False):
            if fail:
                raise ValueError("asked to fail")
            return self.lin(x) * scale

    L.manual_seed(42)
    m = Scaled().double()
    log = []

    def pre(mod, args, kwargs):
        kwargs = dict(kwargs)
        kwargs["scale"] = kwargs.get("scale", 1.0) * 2
        return args, kwargs

    def post(mod, args, kwargs, out):
        log.append(("post", kwargs["scale"]))
        return out + 1

    def bpre(mod, grad_out):
        log.append(("bpre", grad_out[0].shape))
        return (grad_out[0] * 3,)

    def bhook(mod, grad_in, grad_out):
        log.append(("bwd", grad_in[0].sum().item(), grad_out[0].sum().item()))

    def always(mod, args, out):
        log.append(("always", out is None))

    handles = [m.register_forward_pre_hook(pre, with_kwargs=True),
               m.register_forward_hook(post, with_kwargs=True),
               m.register_full_backward_pre_hook(bpre),
               m.register_full_backward_hook(bhook),
               m.register_forward_hook(always, always_call=True)]
    x = L.tensor(normal64(2, 3, seed=107), requires_grad=True)
    y = m(x, scale=0.5)
    y.sum().backward()
    failed = err(lambda: m(x, fail=True))
    for h in handles:
        h.remove()
    plain = m(x, scale=0.5)
    return y, x.grad, m.lin.weight.grad, log, failed, plain


@program
def hand_written_adam_by_foreach_ops_against_optim_adam(L):
    """Adam written with torch._foreach_* as fused optimizers are (lerp_ for the first
    moment, mul_ and addcmul_ for the second, bias corrections folded into a step size,
    sqrt/div_/add_ for the denominator, addcdiv_ for the update, decoupled weight decay by
    mul_) over three steps, against torch.optim.AdamW with foreach=False."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(43)
    a = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    b = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    b.load_state_dict(a.state_dict())
    x = L.tensor(normal64(6, 3, seed=108))
    t = L.tensor(normal64(6, 2, seed=109))
    params = list(a.parameters())
    m1 = [L.zeros_like(p) for p in params]
    m2 = [L.zeros_like(p) for p in params]
    lr, b1, b2, eps, wd = 1e-2, 0.9, 0.99, 1e-8, 0.1
    opt = L.optim.AdamW(b.parameters(), lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd,
                        foreach=False)
    for step in range(1, 4):
        for net in (a, b):
            net.zero_grad()
            F.mse_loss(net(x), t).backward()
        grads = [p.grad for p in params]
        with L.no_grad():
            L._foreach_mul_(params, 1 - lr * wd)
            L._foreach_lerp_(m1, grads, 1 - b1)
            L._foreach_mul_(m2, b2)
            L._foreach_addcmul_(m2, grads, grads, 1 - b2)
            c1, c2 = 1 - b1 ** step, 1 - b2 ** step
            denom = L._foreach_sqrt(m2)
            L._foreach_div_(denom, math.sqrt(c2))
            L._foreach_add_(denom, eps)
            L._foreach_addcdiv_(params, m1, denom, -lr / c1)
        opt.step()
    return [p for p in params], [p for p in b.parameters()], \
        L._foreach_norm(m1), opt.state_dict()["state"][0]["exp_avg_sq"]


# ----------------------------------------------------------------------------------------------
# graphs, point clouds and segments
# ----------------------------------------------------------------------------------------------
@program
def graph_readout_by_segment_reduce_after_index_add_message_passing(L):
    """A batch of three graphs as one edge list: messages by index_add_ of transformed
    neighbour features (degree-normalised), node states updated by a GRUCell, and per-graph
    readouts by torch.segment_reduce with lengths (sum, mean, max) and with offsets and an
    initial value (an empty graph among them); gradients through every reduction."""
    nn = L.nn
    L.manual_seed(44)
    msg = nn.Linear(3, 3).double()
    upd = nn.GRUCell(3, 3).double()
    head = nn.Linear(9, 1).double()
    x = L.tensor(normal64(7, 3, seed=110), requires_grad=True)
    src = L.tensor([0, 1, 1, 2, 3, 4, 5, 6, 4])
    dst = L.tensor([1, 0, 2, 1, 4, 3, 6, 5, 5])
    deg = L.zeros(7, dtype=L.float64).index_add_(0, dst, L.ones(9, dtype=L.float64))
    h = x
    for _ in range(2):
        m = L.zeros_like(h).index_add_(0, dst, msg(h)[src]) / deg.clamp(min=1)[:, None]
        h = upd(m, h)
    lengths = L.tensor([3, 0, 4])
    s = L.segment_reduce(h, "sum", lengths=lengths)
    mu = L.segment_reduce(h, "mean", lengths=lengths)
    mx = L.segment_reduce(h, "max", lengths=lengths, initial=-5.0)
    offs = L.tensor([0, 3, 3, 7])
    mn = L.segment_reduce(h, "min", offsets=offs, initial=5.0)
    pooled = L.cat([s, L.nan_to_num(mu), mx], -1)
    out = head(pooled).squeeze(-1)
    (out.sum() + mn.sum()).backward()
    return s, mu, mx, mn, out, x.grad, msg.weight.grad


@program
def dgcnn_edge_convolution_over_dynamic_knn_graphs(L):
    """DGCNN: k nearest neighbours by the negative squared pairwise distance and topk (the
    point itself included), edge features [x_i, x_j - x_i] gathered by advanced indexing,
    a shared MLP by Conv2d 1x1 with BatchNorm2d and LeakyReLU, max over neighbours; the
    graph recomputed in feature space for the second layer; global max and mean pooling."""
    nn, F = L.nn, L.nn.functional

    def knn(x, k):
        inner = -2 * x.transpose(2, 1) @ x
        sq = (x ** 2).sum(1, keepdim=True)
        return (-sq - inner - sq.transpose(2, 1)).topk(k, dim=-1)[1]

    def edge_features(x, k):
        B, C, N = x.shape
        idx = knn(x, k) + L.arange(B)[:, None, None] * N
        xt = x.transpose(2, 1).reshape(B * N, C)
        nb = xt[idx.view(-1)].view(B, N, k, C)
        ctr = x.transpose(2, 1)[:, :, None].expand(-1, -1, k, -1)
        return L.cat([nb - ctr, ctr], 3).permute(0, 3, 1, 2)

    L.manual_seed(45)
    c1 = nn.Sequential(nn.Conv2d(6, 8, 1, bias=False), nn.BatchNorm2d(8),
                       nn.LeakyReLU(0.2)).double()
    c2 = nn.Sequential(nn.Conv2d(16, 8, 1, bias=False), nn.BatchNorm2d(8),
                       nn.LeakyReLU(0.2)).double()
    head = nn.Linear(16, 2).double()
    pts = L.tensor(normal64(2, 3, 10, seed=111), requires_grad=True)
    h1 = c1(edge_features(pts, 4)).max(-1)[0]
    h2 = c2(edge_features(h1, 4)).amax(-1)
    g = L.cat([F.adaptive_max_pool1d(h2, 1), F.adaptive_avg_pool1d(h2, 1)], 1).squeeze(-1)
    out = head(g)
    F.cross_entropy(out, L.tensor([0, 1])).backward()
    return knn(pts.detach(), 4), out, pts.grad, c2[0].weight.grad, c1[1].running_var


@program
def xvector_tdnn_frames_by_as_strided_and_statistics_pooling(L):
    """An x-vector style speaker net: frame contexts spliced by as_strided (and the same by
    unfold, compared), dilated TDNN layers as Conv1d, statistics pooling (mean and standard
    deviation over time, masked for padded frames), an embedding layer and AM-softmax."""
    nn, F = L.nn, L.nn.functional
    x = L.tensor(normal64(2, 16, 4, seed=112))                     # B, T, feat
    B, T, Fd = x.shape
    ctx = 3
    s = x.stride()
    spliced = x.as_strided((B, T - ctx + 1, ctx, Fd), (s[0], s[1], s[1], s[2]))
    unf = x.unfold(1, ctx, 1).transpose(-1, -2)
    L.manual_seed(46)
    tdnn = nn.Sequential(nn.Conv1d(ctx * Fd, 8, 1), nn.ReLU(), nn.BatchNorm1d(8),
                         nn.Conv1d(8, 8, 3, dilation=2), nn.ReLU(),
                         nn.Conv1d(8, 8, 3, dilation=3), nn.ReLU()).double()
    emb = nn.Linear(16, 5).double()
    W = nn.Parameter(L.tensor(normal64(5, 3, seed=113)))
    h = tdnn(spliced.flatten(2).transpose(1, 2))                   # B, C, T'
    valid = L.tensor([h.shape[-1], h.shape[-1] - 1])
    mask = (L.arange(h.shape[-1])[None] < valid[:, None]).double()[:, None]
    mean = (h * mask).sum(-1) / mask.sum(-1)
    var = ((h - mean[..., None]) ** 2 * mask).sum(-1) / mask.sum(-1)
    stats = L.cat([mean, var.clamp(min=1e-6).sqrt()], -1)
    e = F.normalize(emb(stats), dim=-1)
    cos = e @ F.normalize(W, dim=0)
    y = L.tensor([2, 0])
    logits = 10 * (cos - 0.2 * F.one_hot(y, 3))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return L.equal(spliced, unf), spliced.is_contiguous(), stats, loss, W.grad, \
        tdnn[3].weight.grad


# ----------------------------------------------------------------------------------------------
# language-model plumbing
# ----------------------------------------------------------------------------------------------
@program
def tied_embeddings_bilinear_scorer_set_submodule_and_adafactor(L):
    """An encoder whose output projection shares the input embedding's weight (one
    parameter, two module paths: parameters() lists it once, named_parameters with
    remove_duplicate=False twice, the state dict keeps both keys), a Bilinear relevance
    scorer, a block swapped by set_submodule, and two Adafactor steps."""
    nn, F = L.nn, L.nn.functional

    class LM(nn.Module):
        def __init__(self, V=10, d=4):
            super().__init__()
            self.emb = nn.Embedding(V, d)
            self.body = nn.Sequential(nn.Linear(d, d), nn.Tanh())
            self.out = nn.Linear(d, V, bias=False)
            self.out.weight = self.emb.weight
            self.score = nn.Bilinear(d, d, 1)

        def forward(self, tok):
            h = self.body(self.emb(tok))
            return self.out(h), self.score(h[:, 0], h[:, -1]).squeeze(-1)

    L.manual_seed(47)
    lm = LM().double()
    lm.set_submodule("body.1", nn.GELU())
    tok = L.tensor(np.random.RandomState(114).randint(0, 10, (3, 5)))
    rel = L.tensor([1.0, 0.0, 1.0], dtype=L.float64)
    opt = L.optim.Adafactor(lm.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        logits, score = lm(tok)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, 10), tok[:, 1:].reshape(-1)) + \
            F.binary_cross_entropy_with_logits(score, rel)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    names = [n for n, _ in lm.named_parameters()]
    all_names = [n for n, _ in lm.named_parameters(remove_duplicate=False)]
    return losses, names, all_names, sorted(lm.state_dict()), lm.out.weight is lm.emb.weight, \
        type(lm.body[1]).__name__, lm.emb.weight, lm.score.weight.grad


@program
def dvae_gumbel_softmax_hard_codes_with_temperature_annealing(L):
    """A discrete VAE: encoder logits over 4 codes for each of 3 latent slots, seeded hard
    gumbel_softmax (one-hot forward, soft gradient), a decoder from the one-hot codes, the
    KL to a uniform prior from the soft probabilities, the temperature annealed by
    exp(-rate * step) over three Adam steps."""
    nn, F = L.nn, L.nn.functional
    K, S = 4, 3
    L.manual_seed(48)
    enc = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, S * K)).double()
    dec = nn.Sequential(nn.Linear(S * K, 12), nn.ReLU(), nn.Linear(12, 6)).double()
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
    x = L.tensor(np.random.RandomState(115).rand(5, 6))
    L.manual_seed(49)
    record = []
    for step in range(3):
        tau = max(0.5, math.exp(-0.3 * step))
        logits = enc(x).view(-1, S, K)
        z = F.gumbel_softmax(logits, tau=tau, hard=True, dim=-1)
        recon = dec(z.flatten(1))
        q = logits.softmax(-1)
        kl = (q * (q.clamp(min=1e-10).log() - math.log(1 / K))).sum((1, 2)).mean()
        loss = F.binary_cross_entropy_with_logits(recon, x, reduction="sum") / 5 + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        record.append((z.argmax(-1), loss, z.sum(-1)))
    return record, enc[2].bias.grad


@program
def custom_function_with_forward_ad_jvp_and_vmapped_jacobians(L):
    """A custom Function (setup_context, save_for_forward, its own jvp and backward, and
    generate_vmap_rule) for a numerically careful log1p(exp(x)) * scale; torch.func.jvp,
    jacfwd and jacrev agree with each other and with the double backward of its gradient."""
    func = L.func

    class SoftplusScaled(L.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x, scale):
            return L.where(x > 20, x, L.log1p(L.exp(x.clamp(max=20)))) * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, scale = inputs
            ctx.save_for_backward(x)
            ctx.save_for_forward(x)
            ctx.scale = scale

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * L.sigmoid(x) * ctx.scale, None

        @staticmethod
        def jvp(ctx, tx, _):
            x, = ctx.saved_tensors
            return tx * L.sigmoid(x) * ctx.scale

    f = lambda x: SoftplusScaled.apply(x, 1.5)  # noqa: E731
    x = L.tensor(normal64(4, seed=116) * 3)
    v = L.tensor(normal64(4, seed=117))
    out, tangent = func.jvp(f, (x,), (v,))
    jf = func.jacfwd(f)(x)
    jr = func.jacrev(f)(x)
    batched = func.vmap(f)(L.tensor(normal64(3, 4, seed=118)))
    xx = x.clone().requires_grad_(True)
    g, = L.autograd.grad(f(xx).sum(), xx, create_graph=True)
    gg, = L.autograd.grad(g.sum(), xx)
    return out, tangent, jf, jr, batched, g, gg


# ----------------------------------------------------------------------------------------------
# generative training objectives
# ----------------------------------------------------------------------------------------------
def _tiny_denoiser(L, d=4, n_cls=3, width=16):
    """A small conditional MLP denoiser in library L: input (B, d), time (B,), class (B,),
    sinusoidal time features and a class embedding with a learned null token (index n_cls)
    for classifier-free guidance."""
    nn, F = L.nn, L.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls = nn.Embedding(n_cls + 1, 8)
            self.inp = nn.Linear(d + 8 + 8, width)
            self.mid = nn.Linear(width, width)
            self.out = nn.Linear(width, d)

        def forward(self, x, t, c):
            half = 4
            freqs = L.exp(-math.log(1000.0) * L.arange(half, dtype=x.dtype) / half)
            ang = t[:, None] * 1000 * freqs[None]
            temb = L.cat([ang.sin(), ang.cos()], -1)
            h = F.silu(self.inp(L.cat([x, temb, self.cls(c)], -1)))
            return self.out(F.silu(self.mid(h)) + h)

    return Net()


@program
def v_prediction_diffusion_with_min_snr_weights_cfg_dropout_and_ddim(L):
    """Diffusion training in v-parameterisation: a cosine alpha-bar schedule, v = a eps - s x0,
    min-SNR-5 loss weights (SNR / (SNR + 1) for v), classifier-free guidance training by
    replacing labels with the null class where a seeded mask says, then a deterministic DDIM
    sampler (eta 0) over 4 steps with guidance scale 2."""
    F = L.nn.functional
    T = 50
    steps = L.arange(T + 1, dtype=L.float64) / T
    abar = L.cos((steps + 0.008) / 1.008 * math.pi / 2) ** 2
    abar = (abar / abar[0])[1:].clamp(min=1e-5)
    L.manual_seed(50)
    net = _tiny_denoiser(L).double()
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    x0 = L.tensor(normal64(6, 4, seed=120))
    c = L.tensor(labels(6, 3, seed=121))
    losses = []
    L.manual_seed(51)
    for _ in range(2):
        t = L.randint(0, T, (6,))
        eps = L.randn(6, 4, dtype=L.float64)
        a, s = abar[t].sqrt()[:, None], (1 - abar[t]).sqrt()[:, None]
        xt = a * x0 + s * eps
        v = a * eps - s * x0
        drop = L.rand(6) < 0.3
        c_in = L.where(drop, L.full_like(c, 3), c)
        snr = abar[t] / (1 - abar[t])
        w = L.minimum(snr, L.full_like(snr, 5.0)) / (snr + 1)
        loss = (w * F.mse_loss(net(xt, t.double() / T, c_in), v, reduction="none").mean(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    ts = [49, 36, 24, 12, 0]
    x = L.randn(3, 4, dtype=L.float64)
    cls = L.tensor([0, 1, 2])
    with L.no_grad():
        for t_now, t_next in zip(ts[:-1], ts[1:]):
            tt = L.full((3,), t_now / T, dtype=L.float64)
            v_c = net(x, tt, cls)
            v_u = net(x, tt, L.full_like(cls, 3))
            v_hat = v_u + 2.0 * (v_c - v_u)
            a, s = abar[t_now].sqrt(), (1 - abar[t_now]).sqrt()
            x0_hat = a * x - s * v_hat
            eps_hat = s * x + a * v_hat
            a2, s2 = abar[t_next].sqrt(), (1 - abar[t_next]).sqrt()
            x = a2 * x0_hat + s2 * eps_hat
    return losses, x, net.cls.weight.grad[3]


@program
def rectified_flow_matching_with_logit_normal_times_and_euler_midpoint_sampling(L):
    """Flow matching along straight paths x_t = (1 - t) x0 + t x1 with target velocity
    x1 - x0, times drawn logit-normal (sigmoid of seeded normals), three AdamW steps, then
    sampling by Euler and by the midpoint rule over 4 steps from the same noise."""
    F = L.nn.functional
    L.manual_seed(52)
    net = _tiny_denoiser(L).double()
    opt = L.optim.AdamW(net.parameters(), lr=2e-3)
    data = L.tensor(normal64(8, 4, seed=122) * 0.5 + 1.0)
    c = L.tensor(labels(8, 3, seed=123))
    L.manual_seed(53)
    losses = []
    for _ in range(3):
        noise = L.randn_like(data)
        t = L.sigmoid(L.randn(8, dtype=L.float64))
        xt = (1 - t[:, None]) * noise + t[:, None] * data
        loss = F.mse_loss(net(xt, t, c), data - noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    z = L.randn(2, 4, dtype=L.float64)
    cls = L.tensor([1, 2])
    n = 4
    with L.no_grad():
        xe, xm = z.clone(), z.clone()
        for i in range(n):
            t0 = L.full((2,), i / n, dtype=L.float64)
            xe = xe + net(xe, t0, cls) / n
            half = xm + net(xm, t0, cls) / (2 * n)
            xm = xm + net(half, t0 + 0.5 / n, cls) / n
    return losses, xe, xm, (xe - xm).norm()


@program
def poly1_cross_entropy_with_koleo_uniformity_regulariser(L):
    """Poly-1 loss (CE + eps (1 - p_t)) with label smoothing folded into the target
    distribution, next to the KoLeo regulariser on L2-normalised embeddings: the log of each
    point's nearest-neighbour distance, found by cdist with the diagonal masked by
    fill_diagonal_; gradients of the shared encoder."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(54)
    enc = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 6)).double()
    cls = nn.Linear(6, 4).double()
    x = L.tensor(normal64(7, 5, seed=124))
    y = L.tensor(labels(7, 4, seed=125))
    z = enc(x)
    logits = cls(z)
    smooth = 0.1
    target = F.one_hot(y, 4).double() * (1 - smooth) + smooth / 4
    ce = -(target * F.log_softmax(logits, -1)).sum(-1)
    pt = (target * logits.softmax(-1)).sum(-1)
    poly = (ce + 2.0 * (1 - pt)).mean()
    e = F.normalize(z, dim=-1)
    with L.no_grad():
        d = L.cdist(e, e)
        d.fill_diagonal_(float("inf"))
        nn_idx = d.argmin(1)
    dist = F.pairwise_distance(e, e[nn_idx], eps=1e-8)
    koleo = -L.log(dist + 1e-8).mean()
    (poly + 0.1 * koleo).backward()
    return poly, koleo, nn_idx, enc[0].weight.grad, cls.bias.grad


@program
def vicreg_and_barlow_twins_losses_on_two_augmented_views(L):
    """Self-supervised losses on two views' projections: VICReg's invariance (MSE),
    variance (hinge on the per-dimension std) and covariance (squared off-diagonals, picked
    by a flattened-view trick) terms; Barlow Twins' cross-correlation of BatchNorm1d
    (affine=False) standardised embeddings, diagonal pushed to 1 and off-diagonal to 0."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(55)
    proj = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 6))
    proj = proj.double()
    bn = nn.BatchNorm1d(6, affine=False).double()
    x = L.tensor(normal64(10, 4, seed=126))
    v1 = x + 0.1 * L.tensor(normal64(10, 4, seed=127))
    v2 = x * 1.1 - 0.05
    z1, z2 = proj(v1), proj(v2)
    N, D = z1.shape

    def off_diagonal(m):
        n = m.shape[0]
        return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()

    inv = F.mse_loss(z1, z2)
    za, zb = z1 - z1.mean(0), z2 - z2.mean(0)
    std_a, std_b = L.sqrt(za.var(0) + 1e-4), L.sqrt(zb.var(0) + 1e-4)
    var = F.relu(1 - std_a).mean() / 2 + F.relu(1 - std_b).mean() / 2
    cov_a, cov_b = za.T @ za / (N - 1), zb.T @ zb / (N - 1)
    cov = off_diagonal(cov_a).pow(2).sum() / D + off_diagonal(cov_b).pow(2).sum() / D
    vicreg = 25 * inv + 25 * var + cov
    c = bn(z1).T @ bn(z2) / N
    barlow = (L.diagonal(c) - 1).pow(2).sum() + 5e-3 * off_diagonal(c).pow(2).sum()
    (vicreg + barlow).backward()
    return inv, var, cov, barlow, proj[0].weight.grad, proj[1].running_var, bn.running_mean


# ----------------------------------------------------------------------------------------------
# optimizers written as torch.optim.Optimizer subclasses
# ----------------------------------------------------------------------------------------------
def _sophia_class(L):
    class SophiaG(L.optim.Optimizer):
        """Sophia with a Hutchinson estimate of the Hessian diagonal (u * Hu for a
        Rademacher u), clipped update m / max(rho h, eps)."""

        def __init__(self, params, lr=1e-2, betas=(0.9, 0.95), rho=0.05, weight_decay=0.0):
            super().__init__(params, dict(lr=lr, betas=betas, rho=rho,
                                          weight_decay=weight_decay))

        @L.no_grad()
        def update_hessian(self, hvps):
            for group in self.param_groups:
                b2 = group["betas"][1]
                for p, hv in zip(group["params"], hvps):
                    st = self.state[p]
                    if "h" not in st:
                        st["h"] = L.zeros_like(p)
                    st["h"].mul_(b2).add_(hv, alpha=1 - b2)

        @L.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                b1 = group["betas"][0]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    st = self.state[p]
                    if "m" not in st:
                        st["m"] = L.zeros_like(p)
                        st["step"] = L.tensor(0.0)
                    st["step"] += 1
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                    h = st.get("h", L.zeros_like(p))
                    ratio = (st["m"].abs() / (group["rho"] * h).clamp(min=1e-12)).clamp(max=1)
                    p.addcmul_(st["m"].sign(), ratio, value=-group["lr"])
    return SophiaG


@program
def sophia_optimizer_subclass_with_hutchinson_hessian_and_state_round_trip(L):
    """A second-order optimizer written as a torch.optim.Optimizer subclass: Hessian-vector
    products with seeded Rademacher vectors (randint * 2 - 1) through create_graph, an EMA
    of u * Hu kept in state, sign-clipped updates; its state dict saved into BytesIO and
    loaded into a fresh optimizer that then continues identically."""
    nn, F = L.nn, L.nn.functional
    SophiaG = _sophia_class(L)
    L.manual_seed(56)
    net = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    x = L.tensor(normal64(9, 3, seed=128))
    y = L.tensor(normal64(9, 1, seed=129))
    opt = SophiaG(net.parameters(), lr=0.05, weight_decay=0.01)
    L.manual_seed(57)
    losses = []
    for step in range(3):
        loss = F.mse_loss(net(x), y)
        params = list(net.parameters())
        grads = L.autograd.grad(loss, params, create_graph=True)
        us = [L.randint(0, 2, p.shape, dtype=p.dtype) * 2 - 1 for p in params]
        hvs = L.autograd.grad(grads, params, grad_outputs=us)
        opt.update_hessian([u * hv for u, hv in zip(us, hvs)])
        for p, g in zip(params, grads):
            p.grad = g.detach()
        opt.step()
        losses.append(loss.detach())
    buf = io.BytesIO()
    L.save(opt.state_dict(), buf)
    buf.seek(0)
    opt2 = SophiaG(net.parameters(), lr=0.5)
    opt2.load_state_dict(L.load(buf))
    net.zero_grad()
    F.mse_loss(net(x), y).backward()
    opt2.step()
    return losses, opt2.param_groups[0]["lr"], opt2.state[net[0].weight]["step"], \
        opt2.state[net[0].weight]["h"], net[2].weight


@program
def shampoo_style_preconditioning_by_inverse_fourth_roots_from_eigh(L):
    """A Shampoo-like optimizer step for a matrix parameter: left and right statistics
    G G^T and G^T G accumulated, preconditioners as their inverse fourth roots by eigh
    (eigenvalues floored), the update L^-1/4 G R^-1/4 grafted to the gradient's norm."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(58)
    lin = nn.Linear(4, 3, bias=False).double()
    x = L.tensor(normal64(12, 4, seed=130))
    y = L.tensor(normal64(12, 3, seed=131))
    left = 1e-3 * L.eye(3, dtype=L.float64)
    right = 1e-3 * L.eye(4, dtype=L.float64)

    def inv_root(m, p=4, floor=1e-6):
        w, v = L.linalg.eigh(m)
        return (v * w.clamp(min=floor).pow(-1.0 / p)) @ v.mT

    losses = []
    for _ in range(3):
        lin.zero_grad()
        loss = F.mse_loss(lin(x), y)
        loss.backward()
        g = lin.weight.grad
        with L.no_grad():
            left += g @ g.T
            right += g.T @ g
            upd = inv_root(left) @ g @ inv_root(right)
            upd *= g.norm() / upd.norm().clamp(min=1e-12)
            lin.weight -= 0.1 * upd
        losses.append(loss.detach())
    return losses, lin.weight, left, right


# ----------------------------------------------------------------------------------------------
# memory, routing and neural fields
# ----------------------------------------------------------------------------------------------
@program
def expert_choice_routing_where_experts_pick_their_top_tokens(L):
    """Expert-choice mixture of experts: router probabilities over experts, each expert
    taking its top-capacity tokens by topk over the token axis, the gathered tokens run
    through per-expert weights by a batched einsum, results weighted by the gate and
    scattered back with index_add_; tokens nobody picked pass through the residual only."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(60)
    n_tok, d, E, cap = 8, 4, 3, 3
    router = nn.Linear(d, E, bias=False).double()
    w1 = nn.Parameter(L.randn(E, d, 8, dtype=L.float64) * 0.3)
    w2 = nn.Parameter(L.randn(E, 8, d, dtype=L.float64) * 0.3)
    x = L.tensor(normal64(n_tok, d, seed=140), requires_grad=True)
    probs = router(x).softmax(-1)                               # n_tok, E
    gate, idx = probs.T.topk(cap, dim=-1)                       # E, cap
    picked = x[idx]                                             # E, cap, d
    h = L.einsum("ecd,edf->ecf", picked, w1)
    h = L.einsum("ecf,efd->ecd", F.gelu(h), w2) * gate[..., None]
    out = x.index_add(0, idx.flatten(), h.reshape(-1, d))
    counts = L.bincount(idx.flatten(), minlength=n_tok)
    out.pow(2).sum().backward()
    return idx, counts, out, x.grad, router.weight.grad, w2.grad


@program
def neural_turing_machine_addressing_content_interpolation_shift_and_sharpen(L):
    """NTM-style addressing over a memory of 6 slots: content weights by softmax of beta
    times cosine similarity, interpolation with the previous weights by a gate, a circular
    convolution with a 3-tap shift distribution done by stacking rolled copies, sharpening
    by a power gamma; a read and an erase/add write; gradients of the controller outputs."""
    F = L.nn.functional
    N, M = 6, 4
    mem = L.tensor(normal64(2, N, M, seed=141))
    ctrl = L.tensor(normal64(2, M + 1 + 1 + 3 + 1 + 2 * M, seed=142), requires_grad=True)
    k, beta, g, s, gamma, e, a = ctrl.split([M, 1, 1, 3, 1, M, M], -1)
    beta, g = F.softplus(beta), L.sigmoid(g)
    s, gamma = s.softmax(-1), 1 + F.softplus(gamma)
    e = L.sigmoid(e)
    w_prev = L.tensor(np.eye(N)[[0, 3]])
    wc = (beta * F.cosine_similarity(mem, k[:, None], dim=-1, eps=1e-8)).softmax(-1)
    wg = g * wc + (1 - g) * w_prev
    rolled = L.stack([wg.roll(1, -1), wg, wg.roll(-1, -1)], -1)
    ws = (rolled * s[:, None]).sum(-1)
    w = ws ** gamma
    w = w / (w.sum(-1, keepdim=True) + 1e-16)
    read = (w[..., None] * mem).sum(1)
    new_mem = mem * (1 - w[..., None] * e[:, None]) + w[..., None] * a[:, None]
    (read.sum() + new_mem.pow(2).sum()).backward()
    return wc, ws, w, read, new_mem, ctrl.grad


@program
def spiking_network_lif_neurons_with_fast_sigmoid_surrogate_bptt(L):
    """A spiking MLP: leaky integrate-and-fire neurons over 6 time steps (membrane decay,
    reset by subtraction of the detached spike), the spike a custom Function with a
    Heaviside forward and a fast-sigmoid surrogate backward; rate-coded output trained by
    cross entropy on spike counts through time (BPTT)."""
    nn, F = L.nn, L.nn.functional

    class Spike(L.autograd.Function):
        @staticmethod
        def forward(ctx, v):
            ctx.save_for_backward(v)
            return (v > 0).to(v.dtype)

        @staticmethod
        def backward(ctx, g):
            v, = ctx.saved_tensors
            return g / (1 + 10 * v.abs()) ** 2

    L.manual_seed(61)
    fc1, fc2 = nn.Linear(5, 8).double(), nn.Linear(8, 3).double()
    x = L.tensor(np.random.RandomState(143).rand(4, 6, 5))
    y = L.tensor(labels(4, 3, seed=144))
    beta, thr = 0.8, 1.0
    v1 = L.zeros(4, 8, dtype=L.float64)
    v2 = L.zeros(4, 3, dtype=L.float64)
    counts = 0
    trace = []
    for t in range(6):
        v1 = beta * v1 + fc1(x[:, t])
        s1 = Spike.apply(v1 - thr)
        v1 = v1 - s1.detach() * thr
        v2 = beta * v2 + fc2(s1)
        s2 = Spike.apply(v2 - thr)
        v2 = v2 - s2.detach() * thr
        counts = counts + s2
        trace.append(s1.sum())
    loss = F.cross_entropy(counts + 0.1 * v2, y)
    loss.backward()
    return counts, L.stack(trace), loss, fc1.weight.grad, fc2.bias.grad


@program
def multiresolution_hash_grid_encoding_with_trilinear_corner_weights(L):
    """An Instant-NGP style encoding in 2-d: per level, grid corners of the scaled point,
    their integer coordinates hashed (xor of coordinates times large primes, modulo the
    table size, in int64), the table features gathered by embedding and blended by bilinear
    weights; a tiny MLP on the concatenated levels fitted one Adam step."""
    nn, F = L.nn, L.nn.functional
    levels, T, feat = 3, 16, 2
    res = [2, 4, 8]
    L.manual_seed(62)
    tables = nn.ModuleList([nn.Embedding(T, feat) for _ in range(levels)]).double()
    for tbl in tables:
        nn.init.uniform_(tbl.weight, -1e-1, 1e-1)
    mlp = nn.Sequential(nn.Linear(levels * feat, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    pts = L.tensor(np.random.RandomState(145).rand(10, 2))
    target = L.sin(4 * pts[:, :1]) * L.cos(3 * pts[:, 1:])
    corners = L.tensor([[0, 0], [1, 0], [0, 1], [1, 1]])
    primes = L.tensor([1, 2654435761])

    def encode(p):
        feats = []
        for lvl in range(levels):
            s = p * res[lvl]
            base = s.floor().long()
            frac = s - base
            c = base[:, None] + corners[None]                    # P, 4, 2
            h = (c * primes).unbind(-1)
            idx = L.bitwise_xor(h[0], h[1]) % T
            w = L.where(corners[None].bool(), frac[:, None], 1 - frac[:, None]).prod(-1)
            feats.append((tables[lvl](idx) * w[..., None]).sum(1))
        return L.cat(feats, -1)

    opt = L.optim.Adam(list(tables.parameters()) + list(mlp.parameters()), lr=1e-2)
    loss = F.mse_loss(mlp(encode(pts)), target)
    opt.zero_grad()
    loss.backward()
    g = tables[2].weight.grad.clone()
    opt.step()
    return loss, g, (g != 0).any(1), mlp(encode(pts))


@program
def relation_network_few_shot_episode_with_class_prototypes_and_mse(L):
    """A few-shot episode (3-way 2-shot, 2 queries each): an embedding CNN, support
    embeddings summed per class by index_add_, every query paired with every class by
    expand and cat, a relation module scoring pairs through a sigmoid, MSE against one-hot
    relations; accuracy by argmax."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(63)
    embed = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2)).double()
    relate = nn.Sequential(nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                           nn.Flatten(), nn.Linear(4, 1), nn.Sigmoid()).double()
    way, shot, q = 3, 2, 2
    support = L.tensor(normal64(way * shot, 1, 6, 6, seed=146))
    s_lab = L.arange(way).repeat_interleave(shot)
    query = L.tensor(normal64(way * q, 1, 6, 6, seed=147))
    q_lab = L.arange(way).repeat(q)
    fs = embed(support)
    protos = L.zeros(way, *fs.shape[1:], dtype=L.float64).index_add_(0, s_lab, fs)
    fq = embed(query)
    pairs = L.cat([protos[None].expand(len(fq), -1, -1, -1, -1),
                   fq[:, None].expand(-1, way, -1, -1, -1)], 2)
    scores = relate(pairs.flatten(0, 1)).view(-1, way)
    loss = F.mse_loss(scores, F.one_hot(q_lab, way).double())
    loss.backward()
    acc = (scores.argmax(1) == q_lab).double().mean()
    return scores, loss, acc, embed[0].weight.grad, relate[4].weight.grad


@program
def qat_conv_net_with_moving_average_observers_and_per_channel_weight_fake_quant(L):
    """QAT as an eager-mode recipe writes it: a FakeQuant module with a moving-average
    min/max observer in buffers (updated in training only, frozen in eval), affine uint8
    qparams from the observed range, conv weights fake-quantized per output channel
    (symmetric int8 over a 4-d weight, axis 0); three SGD steps, then an eval pass."""
    nn, F = L.nn, L.nn.functional

    class FakeQuant(nn.Module):
        def __init__(self, momentum=0.1):
            super().__init__()
            self.register_buffer("lo", L.tensor(float("inf")))
            self.register_buffer("hi", L.tensor(float("-inf")))
            self.m = momentum

        def forward(self, x):
            if self.training:
                with L.no_grad():
                    lo, hi = x.min(), x.max()
                    first = L.isinf(self.lo)
                    self.lo.copy_(L.where(first, lo, self.lo + self.m * (lo - self.lo)))
                    self.hi.copy_(L.where(first, hi, self.hi + self.m * (hi - self.hi)))
            lo, hi = self.lo.clamp(max=0), self.hi.clamp(min=0)
            scale = ((hi - lo) / 255).clamp(min=1e-8).float()
            zp = (-lo / scale).round().clamp(0, 255).int()
            return L.fake_quantize_per_tensor_affine(x, scale, zp, 0, 255)

    class QConv(nn.Conv2d):
        def forward(self, x):
            w = self.weight
            scale = (w.detach().abs().amax(dim=(1, 2, 3)) / 127).clamp(min=1e-8).float()
            zp = L.zeros(w.shape[0], dtype=L.int32)
            wq = L.fake_quantize_per_channel_affine(w, scale, zp, 0, -128, 127)
            return self._conv_forward(x, wq, self.bias)

    L.manual_seed(64)
    net = nn.Sequential(FakeQuant(), QConv(2, 4, 3, padding=1), nn.ReLU(), FakeQuant(),
                        QConv(4, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(16, 3))
    net = net.double()
    x = L.tensor(normal64(4, 2, 6, 6, seed=150))
    y = L.tensor(labels(4, 3, seed=151))
    opt = L.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss)
    net.eval()
    before = net[3].hi.clone()
    out = net(x * 1.5)
    return losses, net[0].lo, net[3].hi, L.equal(before, net[3].hi), out, net[1].weight.grad


@program
def matching_network_full_context_embeddings_and_cosine_attention(L):
    """Matching networks: support embeddings re-read in context by a bidirectional LSTM
    (added to the originals), query embeddings refined by an LSTMCell attending over the
    support for K steps, cosine similarities softmaxed into attention over support labels
    (one-hot), NLL of the resulting class distribution."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(65)
    d, way, shot = 6, 3, 2
    enc = nn.Sequential(nn.Linear(5, d), nn.ReLU(), nn.Linear(d, d)).double()
    g_lstm = nn.LSTM(d, d // 2, bidirectional=True, batch_first=True).double()
    f_cell = nn.LSTMCell(2 * d, d).double()
    xs = L.tensor(normal64(way * shot, 5, seed=160))
    ys = L.arange(way).repeat_interleave(shot)
    xq = L.tensor(normal64(4, 5, seed=161))
    yq = L.tensor([0, 2, 1, 1])
    s = enc(xs)
    s = s + g_lstm(s[None])[0][0]
    q = enc(xq)
    h, c = q, L.zeros_like(q)
    for _ in range(3):
        att = (h @ s.T).softmax(-1)
        r = att @ s
        h, c = f_cell(L.cat([q, r], -1), (h, c))
        h = h + q
    cos = F.cosine_similarity(h[:, None], s[None], dim=-1)
    probs = cos.softmax(-1) @ F.one_hot(ys, way).double()
    loss = F.nll_loss(probs.clamp(min=1e-10).log(), yq)
    loss.backward()
    return probs, loss, enc[0].weight.grad, g_lstm.weight_ih_l0_reverse.grad, f_cell.bias_hh.grad


@program
def modern_hopfield_retrieval_and_a_hopfield_pooling_layer(L):
    """A modern Hopfield network: stored patterns retrieved from corrupted queries by the
    update xi <- X softmax(beta X^T xi) iterated to convergence, the energy
    -lse(beta, X^T xi) + xi^T xi / 2 decreasing; then a Hopfield pooling layer (a learned
    query attending over a set through projections) trained one step."""
    nn, F = L.nn, L.nn.functional
    X = L.tensor(np.sign(normal64(8, 5, seed=162)))                  # d x N patterns
    beta = 2.0
    xi = X[:, [1, 3]].clone()
    xi[:3] *= -1
    energies = []
    for _ in range(4):
        lse = L.logsumexp(beta * X.T @ xi, 0) / beta
        energies.append(-lse + 0.5 * (xi * xi).sum(0))
        xi = X @ (beta * X.T @ xi).softmax(0)
    L.manual_seed(66)

    class HopfieldPool(nn.Module):
        def __init__(self, d, k=4):
            super().__init__()
            self.q = nn.Parameter(L.randn(1, k) * 0.3)
            self.Wk, self.Wv = nn.Linear(d, k, bias=False), nn.Linear(d, k, bias=False)
            self.beta = k ** -0.5

        def forward(self, x):
            att = (self.beta * self.q @ self.Wk(x).transpose(1, 2)).softmax(-1)
            return (att @ self.Wv(x)).squeeze(1)

    pool = HopfieldPool(5).double()
    head = nn.Linear(4, 2).double()
    sets = L.tensor(normal64(3, 6, 5, seed=163))
    y = L.tensor([0, 1, 1])
    loss = F.cross_entropy(head(pool(sets)), y)
    loss.backward()
    return L.stack(energies), xi.sign(), loss, pool.q.grad, pool.Wk.weight.grad


@program
def siren_fit_with_first_layer_init_and_gradient_and_laplacian_losses(L):
    """SIREN: sine layers with omega 30 and the paper's uniform initialisation by fan-in
    (first layer 1/fan_in, later sqrt(6/fan_in)/omega) applied in place under no_grad;
    the image's gradient and Laplacian with respect to the coordinates by autograd.grad
    with create_graph, each supervised, and the parameter gradients of the combined loss."""
    nn, F = L.nn, L.nn.functional

    class Sine(nn.Module):
        def __init__(self, i, o, first=False, omega=30.0):
            super().__init__()
            self.lin, self.omega = nn.Linear(i, o), omega
            bound = 1 / i if first else math.sqrt(6 / i) / omega
            with L.no_grad():
                self.lin.weight.uniform_(-bound, bound)

        def forward(self, x):
            return L.sin(self.omega * self.lin(x))

    L.manual_seed(67)
    net = nn.Sequential(Sine(2, 16, first=True), Sine(16, 16), nn.Linear(16, 1)).double()
    coords = L.tensor(np.random.RandomState(164).rand(12, 2) * 2 - 1, requires_grad=True)
    target = L.sin(3 * coords[:, :1].detach()) * coords[:, 1:].detach()
    out = net(coords)
    grad, = L.autograd.grad(out.sum(), coords, create_graph=True)
    lap = 0
    for i in range(2):
        lap = lap + L.autograd.grad(grad[:, i].sum(), coords, create_graph=True)[0][:, i]
    t_grad = L.cat([3 * L.cos(3 * coords[:, :1]) * coords[:, 1:], L.sin(3 * coords[:, :1])],
                   1).detach()
    loss = F.mse_loss(out, target) + 1e-2 * F.mse_loss(grad, t_grad) + 1e-5 * lap.pow(2).mean()
    loss.backward()
    return out, grad, lap, loss, net[0].lin.weight.grad, net[2].bias.grad


@program
def complex_valued_network_with_modrelu_and_adam_on_complex_parameters(L):
    """A complex-valued network for a signal-processing task: cdouble Linear and Conv1d
    layers, the modReLU activation (magnitude shifted by a learned real bias, phase kept),
    a loss on the magnitude of the error against a complex target, Adam and SGD with
    momentum stepping complex parameters (as real pairs), two steps each."""
    nn, F = L.nn, L.nn.functional

    class ModReLU(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.b = nn.Parameter(L.full((n,), -0.1, dtype=L.float64))

        def forward(self, z):
            mag = z.abs()
            return z * (F.relu(mag + self.b[:, None]) / (mag + 1e-9))

    L.manual_seed(68)
    lin = nn.Linear(3, 2, dtype=L.cdouble)
    act = ModReLU(2)
    conv = nn.Conv1d(2, 1, 3, padding=1, dtype=L.cdouble)
    rng = np.random.RandomState(170)
    x = L.tensor(rng.randn(5, 3) + 1j * rng.randn(5, 3))
    target = L.tensor(rng.randn(1, 1, 5) + 1j * rng.randn(1, 1, 5))
    params = list(lin.parameters()) + list(act.parameters()) + list(conv.parameters())
    record = []
    for opt in (L.optim.Adam(params, lr=0.05), L.optim.SGD(params, lr=0.05, momentum=0.9)):
        for _ in range(2):
            y = conv(act(lin(x).T)[None])
            loss = (y - target).abs().pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            record.append(loss)
    return record, lin.weight, act.b.grad, conv.weight.grad, y.dtype


# ----------------------------------------------------------------------------------------------
# the test
# ----------------------------------------------------------------------------------------------
# programs that end in torch's exception (minigrad must raise the same, with its words)
_RAISING = set()


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    raised = HARNESS.check(fn, **fn.options)
    assert (raised is not None) == (fn.__name__ in _RAISING), raised
