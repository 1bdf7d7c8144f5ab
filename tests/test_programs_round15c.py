"""Whole programs of the fifteenth round, part c: vision, anomaly detection, graphs and
recommendation.  RAFT's all-pairs correlation pyramid looked up by grid_sample, a stereo cost
volume with soft-argmin disparity, VoxelMorph-style registration with a local NCC loss, Deep
SVDD with a soft boundary, TransE and RotatE knowledge-graph embeddings, an R-GCN with basis
decomposition, SASRec, octave convolution with CoordConv channels and a character CNN with
highway layers.

The harness is part a's: both libraries run each program on the same numpy inputs and
seeded weights and must agree in values, dtypes, shapes and requires_grad (and printed
tensors, grad_fn names included, where a program prints them).
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, labels as _labels, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# dense correspondence
# ----------------------------------------------------------------------------------------------
@program
def raft_all_pairs_correlation_pyramid_and_grid_sample_lookup(L):
    """RAFT's correlation block: the all-pairs volume by matmul of flattened feature maps
    over sqrt(D), reshaped to (B*H*W, 1, H, W), a pyramid by avg_pool2d, and the lookup of a
    (2r+1)^2 window around coords + flow in every level: a delta grid from meshgrid, pixel
    coordinates normalised to [-1, 1] for grid_sample(align_corners=True), the levels
    concatenated along channels; gradients to both feature maps and the flow."""
    F = L.nn.functional
    B, D, H, W, r = 1, 4, 4, 6, 1
    f1, f2 = _t(L, B, D, H, W, seed=1, grad=True), _t(L, B, D, H, W, seed=2, grad=True)
    flow = _t(L, B, 2, H, W, scale=0.5, seed=3, grad=True)
    corr = (f1.view(B, D, H * W).transpose(1, 2) @ f2.view(B, D, H * W)) / math.sqrt(D)
    pyramid = [corr.reshape(B * H * W, 1, H, W)]
    pyramid.append(F.avg_pool2d(pyramid[-1], 2, stride=2))
    ys, xs = L.meshgrid(L.arange(H, dtype=L.float64), L.arange(W, dtype=L.float64),
                        indexing="ij")
    coords = L.stack([xs, ys], 0)[None] + flow
    # offsets of the (2r+1) x (2r+1) window, (x, y) last as grid_sample wants them
    steps = L.linspace(-r, r, 2 * r + 1, dtype=L.float64)
    oy, ox = L.meshgrid(steps, steps, indexing="ij")
    window = L.stack([ox, oy], -1).view(1, 2 * r + 1, 2 * r + 1, 2)
    # one row per source pixel: where it lands in the second image, in full-size pixels
    targets = coords.permute(0, 2, 3, 1).reshape(B * H * W, 1, 1, 2)

    def read_level(vol, level):
        """The window around each pixel's target, read from one level of the pyramid."""
        at = targets / 2 ** level + window
        rows, cols = vol.shape[-2:]
        unit = L.stack([2 * at[..., 0] / (cols - 1) - 1, 2 * at[..., 1] / (rows - 1) - 1], -1)
        return F.grid_sample(vol, unit, align_corners=True).view(B, H, W, -1)

    feats = L.cat([read_level(v, i) for i, v in enumerate(pyramid)], -1).permute(0, 3, 1, 2)
    feats.pow(2).mean().backward()
    return dict(feats=feats, g1=f1.grad, g2=f2.grad, gf=flow.grad,
                shapes=[p.shape for p in pyramid])


@program
def stereo_cost_volume_by_shifted_products_and_soft_argmin_disparity(L):
    """A stereo network's middle: a correlation cost volume filled disparity by disparity
    into a new_zeros volume through slice assignment (left[..., d:] * right[..., :-d]), a
    Conv3d regulariser, softmax over -cost along disparities, the soft-argmin expected
    disparity, smooth_l1_loss on valid pixels of a target map; one Adam step."""
    nn, F = L.nn, L.nn.functional
    B, C, H, W, Dmax = 1, 3, 4, 7, 4
    L.manual_seed(5)
    feat = nn.Conv2d(1, C, 3, padding=1).double()
    reg = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.ReLU(),
                        nn.Conv3d(2, 1, 3, padding=1)).double()
    opt = L.optim.Adam([*feat.parameters(), *reg.parameters()], lr=0.01)
    left, right = _t(L, B, 1, H, W, seed=6), _t(L, B, 1, H, W, seed=7)
    target = L.tensor(np.random.RandomState(8).uniform(0, 3, (B, H, W)))
    fl, fr = feat(left), feat(right)
    vol = fl.new_zeros(B, Dmax, H, W)
    for d in range(Dmax):
        if d == 0:
            vol[:, d] = (fl * fr).mean(1)
        else:
            vol[:, d, :, d:] = (fl[..., d:] * fr[..., :-d]).mean(1)
    cost = reg(vol.unsqueeze(1)).squeeze(1)
    prob = F.softmax(-cost, dim=1)
    disp = (prob * L.arange(Dmax, dtype=L.float64).view(1, -1, 1, 1)).sum(1)
    valid = target < Dmax - 1
    loss = F.smooth_l1_loss(disp[valid], target[valid])
    opt.zero_grad()
    loss.backward()
    opt.step()
    return dict(vol=vol.detach(), disp=disp.detach(), loss=loss, g=grads_of(feat),
                gr=grads_of(reg), n=valid.sum())


@program
def voxelmorph_style_registration_with_flow_warp_local_ncc_and_smoothness(L):
    """Unsupervised 2-d registration: a small conv net predicts a displacement field from the
    concatenated moving and fixed images, the identity grid from meshgrid plus the flow,
    normalised and its channels flipped to (x, y) for grid_sample(align_corners=True); the
    loss is a local normalised cross-correlation by conv2d with a ones window plus the
    squared spatial differences of the flow; two Adam steps."""
    nn, F = L.nn, L.nn.functional
    B, H, W, win = 2, 6, 6, 3
    L.manual_seed(9)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.LeakyReLU(0.2),
                        nn.Conv2d(4, 2, 3, padding=1)).double()
    with L.no_grad():
        net[2].weight.mul_(0.1)
        net[2].bias.zero_()
    moving = L.sigmoid(_t(L, B, 1, H, W, seed=10))
    fixed = L.sigmoid(_t(L, B, 1, H, W, seed=11))
    ys, xs = L.meshgrid(L.arange(H, dtype=L.float64), L.arange(W, dtype=L.float64),
                        indexing="ij")
    ident = L.stack([ys, xs])[None]
    size = L.tensor([H - 1, W - 1], dtype=L.float64).view(1, 2, 1, 1)

    def ncc(a, b):
        k = L.ones(1, 1, win, win, dtype=a.dtype)
        n = win * win
        sa, sb = F.conv2d(a, k, padding=1), F.conv2d(b, k, padding=1)
        saa, sbb = F.conv2d(a * a, k, padding=1), F.conv2d(b * b, k, padding=1)
        sab = F.conv2d(a * b, k, padding=1)
        cross = sab - sa * sb / n
        va, vb = saa - sa * sa / n, sbb - sb * sb / n
        return -(cross * cross / (va * vb + 1e-5)).mean()

    opt = L.optim.Adam(net.parameters(), lr=0.01)
    logs = []
    for _ in range(2):
        flow = net(L.cat([moving, fixed], 1))
        loc = 2 * (ident + flow) / size - 1
        warped = F.grid_sample(moving, loc.permute(0, 2, 3, 1)[..., [1, 0]],
                               align_corners=True)
        dy = flow[:, :, 1:] - flow[:, :, :-1]
        dx = flow[..., 1:] - flow[..., :-1]
        smooth = dy.pow(2).mean() + dx.pow(2).mean()
        sim = ncc(warped, fixed)
        loss = sim + 0.1 * smooth
        opt.zero_grad()
        loss.backward()
        opt.step()
        logs.append((sim.item(), smooth.item()))
    return dict(logs=logs, warped=warped.detach(), flow=flow.detach(), g=grads_of(net))


# ----------------------------------------------------------------------------------------------
# anomaly detection and knowledge graphs
# ----------------------------------------------------------------------------------------------
@program
def deep_svdd_centre_fixing_and_soft_boundary_radius_by_quantile(L):
    """Deep SVDD: a bias-free network, the centre as the mean of the initial embeddings
    under no_grad with near-zero coordinates pushed to +-eps by a boolean-mask write, the
    soft-boundary objective R^2 + mean(relu(dist - R^2)) / nu, the radius updated after each
    step from the (1 - nu) quantile of the distances' square roots; anomaly scores of
    outliers."""
    nn = L.nn
    L.manual_seed(12)
    net = nn.Sequential(nn.Linear(4, 6, bias=False), nn.LeakyReLU(),
                        nn.Linear(6, 3, bias=False)).double()
    x = _t(L, 16, 4, seed=13)
    outliers = 3 + _t(L, 3, 4, seed=14)
    eps, nu = 0.1, 0.2
    with L.no_grad():
        c = net(x).mean(0)
        # a coordinate near zero is easy for a bias-free net to hit: move it out to +-eps
        tiny = c.abs() < eps
        c[tiny] = eps * c[tiny].sign()
    R = L.tensor(0.0, dtype=L.float64)
    opt = L.optim.Adam(net.parameters(), lr=0.01, weight_decay=1e-6)
    logs = []
    for _ in range(3):
        dist = ((net(x) - c) ** 2).sum(1)
        outside = L.clamp(dist - R ** 2, min=0)      # how far each point is beyond the ball
        loss = R ** 2 + (1 / nu) * outside.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        R = L.quantile(dist.detach().sqrt(), 1 - nu)
        logs.append((loss.item(), R.item()))
    with L.no_grad():
        scores = ((net(outliers) - c) ** 2).sum(1) - R ** 2
    return dict(c=c, logs=logs, scores=scores, w=net.state_dict())


@program
def transe_margin_ranking_with_corrupted_triples_and_rotate_by_polar(L):
    """TransE: entity and relation embeddings initialised uniform
    in +-6/sqrt(d), relations normalised once, entities renormalised in place each batch;
    negatives by corrupting the head or the tail chosen by a seeded bernoulli and randint;
    L1 distances and nn.MarginRankingLoss(margin=1) with target -1; SGD steps.  RotatE's
    score of the same triples with relations as unit complex numbers from torch.polar and
    complex entity embeddings from view_as_complex."""
    nn = L.nn
    E, R, d = 7, 3, 4
    L.manual_seed(15)
    ent, rel = nn.Embedding(E, d).double(), nn.Embedding(R, d).double()
    bound = 6 / math.sqrt(d)
    nn.init.uniform_(ent.weight, -bound, bound)
    nn.init.uniform_(rel.weight, -bound, bound)
    with L.no_grad():
        rel.weight.div_(rel.weight.norm(p=2, dim=1, keepdim=True))
    triples = L.tensor([[0, 0, 1], [1, 1, 2], [2, 0, 3], [3, 2, 4], [4, 1, 5], [5, 2, 6]])
    crit = nn.MarginRankingLoss(margin=1.0)
    opt = L.optim.SGD([*ent.parameters(), *rel.parameters()], lr=0.05)

    def dist(h, r, t):
        return (ent(h) + rel(r) - ent(t)).norm(p=1, dim=1)

    losses = []
    for _ in range(3):
        with L.no_grad():
            ent.weight.data = ent.weight.data / ent.weight.data.norm(dim=1, keepdim=True)
        h, r, t = triples.unbind(1)
        head = L.bernoulli(L.full((len(h),), 0.5)).bool()
        rand = L.randint(0, E, (len(h),))
        hn, tn = L.where(head, rand, h), L.where(head, t, rand)
        pos, neg = dist(h, r, t), dist(hn, r, tn)
        loss = crit(pos, neg, L.full_like(pos, -1.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    L.manual_seed(16)
    cent = nn.Embedding(E, 2 * d).double()
    phase = nn.Embedding(R, d).double()
    h, r, t = triples.unbind(1)
    hc = L.view_as_complex(cent(h).view(-1, d, 2))
    tc = L.view_as_complex(cent(t).view(-1, d, 2))
    rot = L.polar(L.ones_like(phase(r)), phase(r))
    score = 9.0 - (hc * rot - tc).abs().sum(-1)
    score.sum().backward()
    return dict(losses=losses, ent=ent.weight.detach(), rel=rel.weight.detach(),
                neg=(hn, tn), score=score, gc=cent.weight.grad, gp=phase.weight.grad)


@program
def rgcn_basis_decomposition_with_per_relation_degree_normalisation(L):
    """A relational GCN layer: relation weights as einsum of coefficients and shared bases,
    per-edge messages by bmm of each source feature with its relation's weight (advanced
    indexing W[etype]), the 1/c_{i,r} normalisation counted by bincount of dst * R + etype,
    summed into nodes by index_add_ plus a self-loop; two layers, node classification over a
    labelled subset, two Adam steps."""
    nn, F = L.nn, L.nn.functional
    N, R, nb = 6, 3, 2
    src = L.tensor([0, 1, 2, 3, 4, 5, 0, 2, 4, 1])
    dst = L.tensor([1, 2, 3, 4, 5, 0, 3, 5, 1, 4])
    et = L.tensor([0, 1, 2, 0, 1, 2, 0, 0, 1, 2])

    class RGCN(nn.Module):
        def __init__(self, din, dout):
            super().__init__()
            self.bases = nn.Parameter(L.empty(nb, din, dout, dtype=L.float64))
            self.coef = nn.Parameter(L.empty(R, nb, dtype=L.float64))
            self.loop = nn.Linear(din, dout, bias=True).double()
            nn.init.xavier_uniform_(self.bases)
            nn.init.xavier_uniform_(self.coef)

        def forward(self, x):
            W = L.einsum("rb,bio->rio", self.coef, self.bases)
            msg = L.bmm(x[src].unsqueeze(1), W[et]).squeeze(1)
            cnt = L.bincount(dst * R + et, minlength=N * R).view(N, R)
            norm = 1.0 / cnt[dst, et].double()
            out = L.zeros(N, W.shape[-1], dtype=x.dtype).index_add_(0, dst, msg * norm[:, None])
            return out + self.loop(x)

    L.manual_seed(17)
    l1, l2 = RGCN(5, 6), RGCN(6, 3)
    x = _t(L, N, 5, seed=18)
    y, lab = L.tensor(_labels(N, 3, 19)), L.tensor([0, 2, 3, 5])
    opt = L.optim.Adam([*l1.parameters(), *l2.parameters()], lr=0.01)
    losses = []
    for _ in range(2):
        out = l2(F.relu(l1(x)))
        loss = F.cross_entropy(out[lab], y[lab])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, out=out.detach(), g1=grads_of(l1), g2=grads_of(l2),
                pred=out.argmax(1))


# ----------------------------------------------------------------------------------------------
# recommendation
# ----------------------------------------------------------------------------------------------
@program
def sasrec_causal_self_attention_over_item_histories_with_bce_negatives(L):
    """SASRec: item embeddings (padding index 0) scaled by sqrt(d) plus positions, the
    timeline mask multiplied in, a causal bool attn_mask (~tril) for nn.MultiheadAttention
    with a query LayerNorm and residual, a point-wise feed-forward; logits of positive and
    sampled negative items by dot products with their embeddings, BCE-with-logits where the
    target is not padding; the candidate scores of the last position."""
    nn, F = L.nn, L.nn.functional
    V, D, T = 10, 6, 5
    L.manual_seed(20)
    item, posn = nn.Embedding(V, D, padding_idx=0).double(), nn.Embedding(T, D).double()
    ln_q, ln_f, ln_o = (nn.LayerNorm(D, eps=1e-8).double() for _ in range(3))
    mha = nn.MultiheadAttention(D, 2, dropout=0.0, batch_first=True).double()
    ff = nn.Sequential(nn.Conv1d(D, D, 1), nn.ReLU(), nn.Conv1d(D, D, 1)).double()
    mods = nn.ModuleList([item, posn, ln_q, ln_f, ln_o, mha, ff])
    seq = L.tensor([[0, 0, 3, 4, 5], [0, 2, 7, 7, 1], [6, 1, 2, 8, 9]])
    pos = L.tensor([[0, 3, 4, 5, 6], [2, 7, 7, 1, 4], [1, 2, 8, 9, 3]])
    neg = L.tensor([[1, 1, 9, 2, 2], [5, 5, 3, 6, 8], [4, 7, 5, 5, 1]])
    causal = ~L.tril(L.ones(T, T, dtype=L.bool))

    def encode(hist):
        """Item histories -> a state per position: padded steps zeroed on the way in and on
        the way out, one causal attention block (layer-normed queries, raw keys and
        values), a residual feed-forward of 1x1 convolutions over time."""
        real = (hist != 0).unsqueeze(-1)
        x = (item(hist) * D ** 0.5 + posn(L.arange(T))) * real
        queries = ln_q(x)
        y = ln_f(queries + mha(queries, x, x, attn_mask=causal, need_weights=False)[0])
        y = y + ff(y.transpose(1, 2)).transpose(1, 2)
        return ln_o(y * real)

    opt = L.optim.Adam(mods.parameters(), lr=0.01, betas=(0.9, 0.98))
    losses = []
    for _ in range(2):
        h = encode(seq)
        pl, nl = (h * item(pos)).sum(-1), (h * item(neg)).sum(-1)
        m = pos != 0
        loss = F.binary_cross_entropy_with_logits(pl[m], L.ones_like(pl[m])) + \
            F.binary_cross_entropy_with_logits(nl[m], L.zeros_like(nl[m]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with L.no_grad():
        cands = L.tensor([[6, 1, 2], [4, 0, 9], [3, 3, 5]])
        scores = (encode(seq)[:, -1:, :] * item(cands)).sum(-1)
    return dict(losses=losses, scores=scores, rank=scores.argsort(1, descending=True),
                gi=item.weight.grad, g=grads_of(mha))


# ----------------------------------------------------------------------------------------------
# layers
# ----------------------------------------------------------------------------------------------
@program
def octave_convolution_and_coordconv_channels(L):
    """Octave convolution: channels split by alpha into a full-resolution and a half-resolution
    part, the four paths h->h, h->l (avg_pool2d first), l->h (nearest interpolate with
    scale_factor=2 after the conv), l->l, each output batch-normalised in training mode;
    the input given CoordConv's two extra channels from linspace grids expanded over the
    batch; one SGD-momentum step; the running stats and printed module."""
    nn, F = L.nn, L.nn.functional

    class OctConv(nn.Module):
        def __init__(self, cin, cout, alpha=0.5):
            super().__init__()
            li, lo = int(alpha * cin), int(alpha * cout)
            self.hh = nn.Conv2d(cin - li, cout - lo, 3, padding=1, bias=False)
            self.hl = nn.Conv2d(cin - li, lo, 3, padding=1, bias=False)
            self.lh = nn.Conv2d(li, cout - lo, 3, padding=1, bias=False)
            self.ll = nn.Conv2d(li, lo, 3, padding=1, bias=False)
            self.bn_h, self.bn_l = nn.BatchNorm2d(cout - lo), nn.BatchNorm2d(lo)

        def forward(self, xh, xl):
            yh = self.hh(xh) + F.interpolate(self.lh(xl), scale_factor=2, mode="nearest")
            yl = self.ll(xl) + self.hl(F.avg_pool2d(xh, 2))
            return F.relu(self.bn_h(yh)), F.relu(self.bn_l(yl))

    def add_coords(x):
        B, _, H, W = x.shape
        yy = L.linspace(-1, 1, H, dtype=x.dtype).view(1, 1, H, 1).expand(B, 1, H, W)
        xx = L.linspace(-1, 1, W, dtype=x.dtype).view(1, 1, 1, W).expand(B, 1, H, W)
        return L.cat([x, yy, xx], 1)

    L.manual_seed(21)
    first = nn.Conv2d(3, 4, 1).double()
    oct1 = OctConv(4, 6).double()
    head = nn.Linear(6, 2).double()
    params = [*first.parameters(), *oct1.parameters(), *head.parameters()]
    opt = L.optim.SGD(params, lr=0.1, momentum=0.9)
    x = _t(L, 2, 1, 8, 8, seed=22)
    y = L.tensor([0, 1])
    for _ in range(2):
        h = first(add_coords(x))
        xh, xl = h[:, :2], F.avg_pool2d(h[:, 2:], 2)
        yh, yl = oct1(xh, xl)
        pooled = L.cat([F.adaptive_avg_pool2d(yh, 1), F.adaptive_avg_pool2d(yl, 1)], 1)
        loss = F.cross_entropy(head(pooled.flatten(1)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return dict(loss=loss, yh=yh.detach(), yl=yl.detach(), rm=oct1.bn_l.running_mean,
                rv=oct1.bn_h.running_var, nb=oct1.bn_h.num_batches_tracked,
                g=grads_of(oct1), text=repr(oct1))


@program
def character_cnn_with_highway_layers_and_negative_gate_bias(L):
    """A character-aware word encoder: character embeddings, Conv1d filters of widths 1-3
    max-pooled over time (max(dim)[0]) and concatenated, two highway layers whose gate bias
    is filled with -2 (carry by default), a projection; Adagrad steps on a word-level
    classification; the gate activations."""
    nn, F = L.nn, L.nn.functional

    class Highway(nn.Module):
        """Each layer mixes a ReLU transform of its input with the input itself; one Linear
        gives both the transform (first half) and the gate logits (second half), and the
        gate's bias starts at -2 so that a fresh layer mostly passes its input on."""

        def __init__(self, d, layers=2):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(d, 2 * d) for _ in range(layers))
            for lin in self.layers:
                lin.bias[d:].data.fill_(-2.0)
            self.gates = []

        def forward(self, x):
            self.gates = []
            for lin in self.layers:
                cand, logit = lin(x).chunk(2, dim=-1)
                keep_new = L.sigmoid(logit)
                self.gates.append(keep_new.detach())
                x = keep_new * F.relu(cand) + (1 - keep_new) * x
            return x

    L.manual_seed(23)
    emb = nn.Embedding(12, 4, padding_idx=0).double()
    convs = nn.ModuleList([nn.Conv1d(4, n, w) for w, n in ((1, 2), (2, 3), (3, 3))]).double()
    hw = Highway(8).double()
    proj = nn.Linear(8, 3).double()
    words = L.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10], [11, 3, 0, 0, 0], [2, 2, 2, 1, 0]])
    y = L.tensor([0, 2, 1, 1])
    params = [*emb.parameters(), *convs.parameters(), *hw.parameters(), *proj.parameters()]
    opt = L.optim.Adagrad(params, lr=0.1)
    losses = []
    for _ in range(2):
        c = emb(words).transpose(1, 2)
        feats = L.cat([L.tanh(conv(c)).max(dim=2)[0] for conv in convs], 1)
        loss = F.cross_entropy(proj(hw(feats)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, gates=hw.gates, bias=hw.layers[0].bias.detach(),
                g=grads_of(convs), state=opt.state_dict()["state"][0])


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
