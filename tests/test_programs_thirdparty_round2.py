"""Whole programs in the styles of popular third-party PyTorch code not covered by the other
program tests, each written once as ``program(lib)`` and run with ``lib`` = minigrad and
``lib`` = torch on the same numpy inputs and copied weights: graph neural networks (message
passing by scatter_add_/index_add_ over edge_index, softmax over neighbours, pooling by a
batch vector), detection utilities (IoU/GIoU, NMS in tensor ops, anchors by meshgrid, RoI
crops by affine_grid/grid_sample, focal loss, box coders), audio front-ends (stft/istft,
mel filterbanks, MFCC by a DCT matrix, gated dilated causal convolutions), NeRF rendering
(positional encoding, cumprod transmittance, inverse-CDF sampling with searchsorted), metric
learning (cdist, hard-negative mining, InfoNCE), state-space and mixture-of-experts layers
(causal depthwise conv, a selective scan over time, top-k routing), cached decoding loops
with rotary embeddings, CRF/Viterbi and beam search, einops-like reshapes and per-sample
gradients; and what such code meets on the way: sparse adjacencies (sparse @ sparse, sparse @
vector), in-place writes into slices of tensors whose ops kept them for backward, the
deprecated scalar-first overloads of old optimizers (``p.add_(-lr, g)``), index errors of
out-of-range node ids, and the warnings PyTorch gives once per process.

Both libraries must give the same values (float64 to ~1e-10, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, bare, err, grads_of, load_seeded, registry  # noqa: E402


HARNESS = SideBySide(rename=bare, rename_error=bare,
                     tol={"float16": (1e-3, 1e-4), "float32": (1e-5, 1e-6),
                          "float64": (1e-9, 1e-11)},
                     scalar_tol=(1e-9, 1e-11), requires_grad=True)
check = HARNESS.check
PROGRAMS, program = registry()

RNG = np.random.RandomState(1234)


def _arr(*shape, scale=1.0, seed=0):
    """Float64 normal draws of ``shape`` from a fresh generator seeded by ``seed`` and the
    shape, so that a program calling it draws the same numbers in both libraries."""
    return np.random.RandomState(seed * 1000 + sum(shape) * 31 + len(shape)).randn(*shape) * scale


# ----------------------------------------------------------------------------------------------
# graph neural networks
# ----------------------------------------------------------------------------------------------
# two small graphs batched PyG-style: 5 + 4 nodes, directed edges both ways
EDGES = np.array([[0, 1, 1, 2, 2, 3, 3, 4, 0, 4, 5, 6, 6, 7, 7, 8, 5, 8],
                  [1, 0, 2, 1, 3, 2, 4, 3, 4, 0, 6, 5, 7, 6, 8, 7, 8, 5]])
BATCH = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
NODE_X = _arr(9, 6)


def _gcn_layer(L, x, edge_index, weight, bias):
    """Kipf-Welling GCN: self loops, symmetric degree normalisation, scatter-add aggregation."""
    n = x.size(0)
    loops = L.arange(n).unsqueeze(0).repeat(2, 1)
    edge_index = L.cat([edge_index, loops], dim=1)
    row, col = edge_index[0], edge_index[1]
    deg = L.zeros(n, dtype=x.dtype).scatter_add_(0, col, L.ones(col.numel(), dtype=x.dtype))
    dinv = deg.pow(-0.5)
    dinv.masked_fill_(dinv == float("inf"), 0)
    norm = dinv[row] * dinv[col]
    h = x @ weight
    msg = norm.view(-1, 1) * h.index_select(0, row)
    out = L.zeros_like(h).index_add_(0, col, msg)
    return out + bias


def _scatter_softmax(L, src, index, n):
    """Softmax of ``src`` (E, H) over the entries sharing an ``index`` (E,) value, by
    scatter_reduce amax then a scatter_add of the exponentials."""
    idx = index.unsqueeze(-1).expand_as(src)
    mx = L.full((n, src.size(1)), float("-inf"), dtype=src.dtype)
    mx = mx.scatter_reduce(0, idx, src, reduce="amax", include_self=True)
    e = (src - mx.gather(0, idx)).exp()
    den = L.zeros((n, src.size(1)), dtype=src.dtype).scatter_add(0, idx, e)
    return e / (den.gather(0, idx) + 1e-16)


@program
def gcn_node_classification_training(L):
    """Two GCN layers with relu/dropout-free training by Adam, cross-entropy over nodes."""
    x = L.tensor(NODE_X)
    ei = L.tensor(EDGES)
    y = L.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    w1 = L.nn.Parameter(L.tensor(_W1))
    b1 = L.nn.Parameter(L.zeros(8, dtype=L.float64))
    w2 = L.nn.Parameter(L.tensor(_W2))
    b2 = L.nn.Parameter(L.zeros(3, dtype=L.float64))
    opt = L.optim.Adam([w1, b1, w2, b2], lr=0.01)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        h = L.relu(_gcn_layer(L, x, ei, w1, b1))
        out = _gcn_layer(L, h, ei, w2, b2)
        loss = L.nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, out=out, gw1=w1.grad, gb2=b2.grad, pred=out.argmax(-1))


_W1 = _arr(6, 8, scale=0.4, seed=1)
_W2 = _arr(8, 3, scale=0.4, seed=2)
_ATT = _arr(2, 2, 4, scale=0.5)


@program
def gat_attention_over_neighbours_and_global_pooling(L):
    """GAT layer (2 heads): per-edge scores, leaky relu, softmax over each node's incoming
    edges by scatter, aggregation by index_add_, then mean/max/add pooling by batch vector."""
    x = L.tensor(NODE_X, requires_grad=True)
    ei = L.tensor(EDGES)
    batch = L.tensor(BATCH)
    w = L.tensor(_arr(6, 8, scale=0.3), requires_grad=True)
    att = L.tensor(_ATT, requires_grad=True)     # (src/dst, heads, channels)
    h = (x @ w).view(-1, 2, 4)
    src, dst = ei
    a_src = (h * att[0]).sum(-1)
    a_dst = (h * att[1]).sum(-1)
    alpha = L.nn.functional.leaky_relu(a_src[src] + a_dst[dst], 0.2)
    alpha = _scatter_softmax(L, alpha, dst, x.size(0))
    msg = h[src] * alpha.unsqueeze(-1)
    out = L.zeros_like(h).index_add_(0, dst, msg).flatten(1)
    out = L.nn.functional.elu(out)
    g = int(batch.max()) + 1
    counts = L.bincount(batch, minlength=g).to(out.dtype).clamp(min=1)
    add_pool = L.zeros(g, out.size(1), dtype=out.dtype).index_add(0, batch, out)
    mean_pool = add_pool / counts.unsqueeze(-1)
    max_pool = L.full((g, out.size(1)), float("-inf"), dtype=out.dtype).scatter_reduce(
        0, batch.unsqueeze(-1).expand_as(out), out, reduce="amax")
    emb = L.cat([mean_pool, max_pool, add_pool], dim=-1)
    loss = emb.pow(2).sum()
    loss.backward()
    return dict(alpha=alpha, emb=emb, gx=x.grad, gw=w.grad, gatt=att.grad,
                alpha_sums=L.zeros(9, 2, dtype=alpha.dtype).index_add(0, dst, alpha))


@program
def graphsage_mean_aggregation_and_edge_softmax_utils(L):
    """SAGE-style mean aggregation by scatter_reduce('mean'), degree by bincount, segment sums
    by a sorted pointer (cumsum of counts) and torch_scatter-like idioms."""
    x = L.tensor(NODE_X.astype(np.float32), requires_grad=True)
    ei = L.tensor(EDGES)
    src, dst = ei[0], ei[1]
    agg = L.zeros(9, 6).scatter_reduce(0, dst.view(-1, 1).expand(-1, 6), x[src], "mean",
                                       include_self=False)
    lin_l = L.nn.Linear(6, 5)
    lin_r = L.nn.Linear(6, 5, bias=False)
    load_seeded(L, lin_l, 1)
    load_seeded(L, lin_r, 2)
    out = L.nn.functional.normalize(lin_l(agg) + lin_r(x), p=2.0, dim=-1)
    deg = L.bincount(dst, minlength=9)
    ptr = L.cat([L.zeros(1, dtype=L.long), deg.cumsum(0)])
    order = L.argsort(dst * 100 + src)
    sorted_dst = dst[order]
    seg = L.zeros(9, 6).index_add_(0, sorted_dst, x[src][order])
    out.sum().backward()
    return dict(agg=agg, out=out, deg=deg, ptr=ptr, sorted_dst=sorted_dst,
                seg=seg, gx=x.grad, gw=lin_l.weight.grad)


@program
def pygcn_with_a_sparse_normalised_adjacency(L):
    """Kipf's GCN with a torch.sparse adjacency: A + I, D^-1/2 (A + I) D^-1/2 by sparse @
    sparse products, then torch.spmm / torch.sparse.mm / @ by the dense features (a
    UserWarning each: sparse_coo_tensor's unchecked invariants, the CSR beta)."""
    idx = L.tensor(EDGES[:, :10])
    adj = L.sparse_coo_tensor(idx, L.ones(10, dtype=L.float64), (5, 5)) + \
        L.eye(5, dtype=L.float64).to_sparse()
    deg = L.sparse.sum(adj, dim=1).to_dense()
    d_inv_sqrt = L.diag(deg.pow(-0.5)).to_sparse()
    adj_n = L.sparse.mm(L.sparse.mm(d_inv_sqrt, adj), d_inv_sqrt)
    w = L.tensor(_W1[:, :3], requires_grad=True)
    support = L.mm(L.tensor(NODE_X[:5]), w)
    out = L.spmm(adj_n, support)
    same = [L.equal(L.sparse.mm(adj_n, support), out), L.equal(adj_n @ support, out)]
    out.pow(2).sum().backward()
    return dict(adj=adj_n.to_dense(), idx=adj_n._indices(), coalesced=adj_n.is_coalesced(),
                out=out, same=same, g=w.grad)


@program
def sparse_times_sparse_keeps_cancelled_entries_and_gradients(L):
    v = L.tensor([1., 2., -1.], dtype=L.float64, requires_grad=True)
    u = L.tensor([1., 2.], dtype=L.float64, requires_grad=True)
    a = L.sparse_coo_tensor(L.tensor([[0, 1, 1], [1, 0, 2]]), v, (2, 3), check_invariants=False)
    b = L.sparse_coo_tensor(L.tensor([[0, 1], [0, 0]]), u, (2, 2), check_invariants=False)
    c = L.sparse.mm(b, a)
    (c.to_dense() * L.arange(6.).view(2, 3).double()).sum().backward()
    return dict(c=c.to_dense(), nnz=c._nnz(), idx=c._indices(), gv=v.grad, gu=u.grad,
                bad=[err(lambda: L.sparse.mm(a, b)), err(lambda: L.sparse.mm(b.float(), a))])


@program
def scatter_and_index_reductions_take_a_bool_include_self(L):
    """torch_scatter-like wrappers passing include_self as 0/1 or None: refused by PyTorch's
    argument parser (as is a reduce that is not a string); a bool works."""
    x, i, ones = L.zeros(3), L.tensor([0]), L.ones(1)
    return [err(lambda: x.scatter_reduce(0, i, ones, "sum", include_self=1)),
            err(lambda: L.scatter_reduce(x, 0, i, ones, "sum", include_self=None)),
            err(lambda: x.scatter_reduce(0, i, ones, "sum", include_self=L.tensor(True))),
            err(lambda: x.clone().scatter_reduce_(0, i, ones, "amax", include_self=0)),
            err(lambda: x.scatter_reduce(0, i, ones, reduce=1)),
            err(lambda: x.index_reduce(0, i, ones, "prod", include_self=1)),
            err(lambda: x.clone().index_reduce_(0, i, ones, "prod", include_self=None)),
            x.clone().scatter_reduce_(0, i, ones, "sum", include_self=False)]


@program
def pagerank_power_iteration_with_a_sparse_transition_matrix(L):
    """PageRank on a sparse column-stochastic matrix: ``M @ r`` and ``torch.mv(M, r)`` are
    sparse matrix-vector products (mm refuses a vector), differentiable in the values."""
    n = 9
    src, dst = L.tensor(EDGES[0]), L.tensor(EDGES[1])
    out_deg = L.bincount(src, minlength=n).to(L.float64)
    weights = (1.0 / out_deg[src]).requires_grad_()
    m = L.sparse_coo_tensor(L.stack([dst, src]), weights, (n, n))
    r = L.full((n,), 1.0 / n, dtype=L.float64)
    for _ in range(20):
        r = 0.85 * (m @ r) + 0.15 / n
    r2 = 0.85 * L.mv(m, r) + 0.15 / n
    (r2 * L.arange(n, dtype=L.float64)).sum().backward()
    return dict(r=r, r2=r2, g=weights.grad, bad=[err(lambda: L.sparse.mm(m, r)),
                                                 err(lambda: L.mv(m, L.ones(3)))])


# ----------------------------------------------------------------------------------------------
# detection utilities
# ----------------------------------------------------------------------------------------------
BOXES = np.array([[10., 10., 50., 50.], [12., 12., 48., 52.], [100., 100., 150., 140.],
                  [105., 98., 148., 145.], [30., 30., 80., 80.], [0., 0., 20., 25.],
                  [101., 99., 149., 139.]])
SCORES = np.array([0.9, 0.85, 0.7, 0.95, 0.6, 0.3, 0.69])


def _box_area(b):
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _corner_box(L, a, b, inner):
    """(N, M, 2) sides of the box spanned by a's and b's corners taken pairwise: the
    intersection (inner=True, empty -> 0) or the smallest enclosing box."""
    near, far = (L.max, L.min) if inner else (L.min, L.max)
    return (far(a[:, None, 2:], b[:, 2:]) - near(a[:, None, :2], b[:, :2])).clamp(min=0)


def _box_iou(L, a, b):
    """(N, M) IoU of xyxy boxes by broadcasting, and the union areas."""
    sides = _corner_box(L, a, b, True)
    shared = sides[..., 0] * sides[..., 1]
    union = _box_area(a)[:, None] + _box_area(b) - shared
    return shared / union, union


def _giou(L, a, b):
    # IoU minus the share of the enclosing box that the union leaves empty
    iou, union = _box_iou(L, a, b)
    hull = _corner_box(L, a, b, False).prod(-1)
    return iou - (hull - union) / hull


def _nms(L, boxes, scores, thresh):
    """Greedy NMS: sort by score, keep the best, drop the rest overlapping it above thresh."""
    order = scores.argsort(descending=True)
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i)
        if order.numel() == 1:
            break
        iou, _ = _box_iou(L, boxes[i].unsqueeze(0), boxes[order[1:]])
        mask = iou[0] <= thresh
        order = order[1:][mask]
    return L.stack(keep)


@program
def box_iou_giou_and_greedy_nms(L):
    b = L.tensor(BOXES, requires_grad=True)
    s = L.tensor(SCORES)
    iou, _ = _box_iou(L, b, b)
    giou = _giou(L, b, b.flip(0))
    keep = _nms(L, b.detach(), s, 0.5)
    # batched NMS by the coordinate-offset trick
    labels = L.tensor([0, 0, 1, 1, 0, 1, 1])
    offs = labels.to(b.dtype) * (b.detach().max() + 1)
    keep_b = _nms(L, b.detach() + offs[:, None], s, 0.5)
    loss = (1 - giou.diagonal()).mean() + iou.triu(1).sum()
    loss.backward()
    return dict(iou=iou, giou=giou, keep=keep, keep_b=keep_b, g=b.grad)


@program
def anchors_by_meshgrid_and_box_coder(L):
    """RetinaNet/Faster R-CNN anchors over a feature grid and the (dx, dy, dw, dh) coder with
    weights, clamped log-space decoding and clip to the image."""
    scales = L.tensor([32., 64.], dtype=L.float64)
    ratios = L.tensor([0.5, 1., 2.], dtype=L.float64)
    hr = L.sqrt(ratios)
    wr = 1 / hr
    ws = (wr[:, None] * scales[None, :]).view(-1)
    hs = (hr[:, None] * scales[None, :]).view(-1)
    base = L.stack([-ws, -hs, ws, hs], dim=1) / 2
    base = base.round()
    sy = L.arange(0, 4, dtype=L.float64) * 16
    sx = L.arange(0, 5, dtype=L.float64) * 16
    yy, xx = L.meshgrid(sy, sx, indexing="ij")
    shifts = L.stack((xx.reshape(-1), yy.reshape(-1), xx.reshape(-1), yy.reshape(-1)), dim=1)
    anchors = (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4)

    wx, wy, ww, wh = 10., 10., 5., 5.
    gt = L.tensor(BOXES[[0, 2, 4]])
    iou, _ = _box_iou(L, gt, anchors)
    matched_vals, matches = iou.max(dim=0)
    matches[matched_vals < 0.3] = -1
    tgt = gt[matches.clamp(min=0)]

    def encode(ref, prop):
        pw, ph = prop[:, 2] - prop[:, 0], prop[:, 3] - prop[:, 1]
        px, py = prop[:, 0] + 0.5 * pw, prop[:, 1] + 0.5 * ph
        gw_, gh_ = ref[:, 2] - ref[:, 0], ref[:, 3] - ref[:, 1]
        gx_, gy_ = ref[:, 0] + 0.5 * gw_, ref[:, 1] + 0.5 * gh_
        return L.stack((wx * (gx_ - px) / pw, wy * (gy_ - py) / ph,
                        ww * L.log(gw_ / pw), wh * L.log(gh_ / ph)), dim=1)

    def decode(codes, prop):
        pw, ph = prop[:, 2] - prop[:, 0], prop[:, 3] - prop[:, 1]
        px, py = prop[:, 0] + 0.5 * pw, prop[:, 1] + 0.5 * ph
        dx, dy = codes[:, 0::4] / wx, codes[:, 1::4] / wy
        dw = L.clamp(codes[:, 2::4] / ww, max=math.log(1000. / 16))
        dh = L.clamp(codes[:, 3::4] / wh, max=math.log(1000. / 16))
        cx = dx * pw[:, None] + px[:, None]
        cy = dy * ph[:, None] + py[:, None]
        w_, h_ = L.exp(dw) * pw[:, None], L.exp(dh) * ph[:, None]
        out = L.stack((cx - 0.5 * w_, cy - 0.5 * h_, cx + 0.5 * w_, cy + 0.5 * h_), dim=2)
        return out.flatten(1)

    codes = encode(tgt, anchors)
    codes_p = (codes + L.tensor(_arr(*codes.shape, scale=0.1))).requires_grad_()
    dec = decode(codes_p, anchors)
    dec_c = L.stack([dec[:, 0].clamp(0, 70), dec[:, 1].clamp(0, 60),
                     dec[:, 2].clamp(0, 70), dec[:, 3].clamp(0, 60)], dim=1)
    pos = matches >= 0
    loss = L.nn.functional.smooth_l1_loss(codes_p[pos], codes[pos], beta=1 / 9, reduction="sum")
    loss = loss + L.nn.functional.l1_loss(dec_c[pos], tgt[pos])
    loss.backward()
    return dict(base=base, anchors=anchors, matches=matches, codes=codes, dec=dec_c,
                npos=int(pos.sum()), g=codes_p.grad, loss=loss)


@program
def sigmoid_focal_loss_and_roi_crops_by_grid_sample(L):
    """Sigmoid focal loss (gamma 2, alpha 0.25, normalised by the positives), and RoI
    crops of a feature map by affine_grid and grid_sample (the spatial-transformer way to
    RoIAlign)."""
    logits = L.tensor(_arr(6, 4), requires_grad=True)
    targets = L.tensor((np.random.RandomState(5).rand(6, 4) > 0.7).astype(np.float64))
    # the BCE of each entry, scaled down by (1 - probability of the right answer)^2 and
    # weighted 0.25 for positives, 0.75 for negatives
    prob = L.sigmoid(logits)
    right = L.where(targets > 0, prob, 1 - prob)
    weight = L.where(targets > 0, L.full_like(prob, 0.25), L.full_like(prob, 0.75))
    bce = L.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    focal = (weight * (1 - right) ** 2 * bce).sum() / max(1.0, targets.sum().item())

    feat = L.tensor(_FEAT, requires_grad=True)            # (1, 3, 16, 16)
    rois = L.tensor([[2., 3., 10., 12.], [0., 0., 15., 15.], [5.5, 4.25, 9.5, 7.75]])
    h, w = feat.shape[-2:]
    x1, y1, x2, y2 = rois.unbind(1)
    theta = L.zeros(rois.size(0), 2, 3, dtype=feat.dtype)
    theta[:, 0, 0] = (x2 - x1) / (w - 1)
    theta[:, 0, 2] = (x1 + x2 - w + 1) / (w - 1)
    theta[:, 1, 1] = (y2 - y1) / (h - 1)
    theta[:, 1, 2] = (y1 + y2 - h + 1) / (h - 1)
    grid = L.nn.functional.affine_grid(theta, [rois.size(0), 3, 7, 7], align_corners=True)
    crops = L.nn.functional.grid_sample(feat.expand(rois.size(0), -1, -1, -1), grid,
                                        mode="bilinear", align_corners=True)
    pooled = L.nn.functional.adaptive_max_pool2d(crops, 2)
    total = focal + pooled.sum() * 0.01
    total.backward()
    return dict(focal=focal, crops=crops, pooled=pooled, gl=logits.grad, gf=feat.grad,
                grid=grid)


_FEAT = _arr(1, 3, 16, 16, seed=3)


# ----------------------------------------------------------------------------------------------
# audio
# ----------------------------------------------------------------------------------------------
WAVE = np.sin(2 * np.pi * 440 * np.arange(2048) / 8000) + 0.1 * RNG.randn(2048)


def _mel_fb(L, n_freqs, n_mels, sr, f_min=0.0, f_max=None):
    """(n_freqs, n_mels) triangular filters on the HTK mel scale, mel = 2595 log10(1 +
    f / 700): n_mels + 2 equally spaced mel points give each filter its left edge, peak and
    right edge; the weight rises linearly to 1 at the peak and falls back to 0."""
    to_mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)
    bins = L.linspace(0, sr // 2, n_freqs, dtype=L.float64)[:, None]          # (F, 1)
    edges_mel = L.linspace(to_mel(f_min), to_mel(f_max or sr / 2), n_mels + 2, dtype=L.float64)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    lo, peak, hi = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins - lo) / (peak - lo)
    falling = (hi - bins) / (hi - peak)
    return L.max(L.zeros(1, dtype=L.float64), L.min(rising, falling))


def _dct_matrix(L, n_mfcc, n_mels):
    """(n_mels, n_mfcc) orthonormal DCT-II: column k is sqrt(2 / n) cos(pi k (i + 1/2) / n)
    over i, column 0 further divided by sqrt(2)."""
    i = L.arange(float(n_mels), dtype=L.float64)[:, None]
    k = L.arange(float(n_mfcc), dtype=L.float64)
    basis = L.cos(math.pi / n_mels * (i + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[:, 0] /= math.sqrt(2.0)
    return basis


@program
def stft_mel_spectrogram_mfcc(L):
    wave = L.tensor(WAVE, requires_grad=True)
    n_fft, hop = 256, 64
    window = L.hann_window(n_fft, dtype=L.float64)
    spec = L.stft(wave, n_fft, hop_length=hop, win_length=n_fft, window=window, center=True,
                  pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    power = spec.abs().pow(2.0)
    fb = _mel_fb(L, n_fft // 2 + 1, 20, 8000)
    mel = L.matmul(power.transpose(-1, -2), fb).transpose(-1, -2)
    log_mel = 10.0 * L.log10(L.clamp(mel, min=1e-10))
    log_mel = L.max(log_mel, log_mel.max() - 80.0)
    mfcc = L.matmul(log_mel.transpose(-1, -2), _dct_matrix(L, 13, 20)).transpose(-1, -2)
    # per-utterance CMVN
    feats = (mfcc - mfcc.mean(-1, keepdim=True)) / (mfcc.std(-1, keepdim=True) + 1e-5)
    feats.pow(2).mean().backward()
    return dict(spec_shape=spec.shape, spec_dtype=spec.dtype, fb=fb, mel=mel, mfcc=mfcc,
                feats=feats, g=wave.grad)


@program
def stft_istft_roundtrip_and_griffin_lim_step(L):
    wave = L.tensor(WAVE[None, :1024].repeat(2, 0))
    n_fft, hop = 128, 32
    window = L.hann_window(n_fft, periodic=True, dtype=L.float64)
    spec = L.stft(wave, n_fft, hop, window=window, return_complex=True)
    back = L.istft(spec, n_fft, hop, window=window, length=wave.size(-1))
    mag = spec.abs()
    phase = L.angle(spec)
    rebuilt = L.polar(mag, phase)
    # one Griffin-Lim iteration from a fixed phase
    angles = L.exp(1j * L.tensor(_PHASE))
    inv = L.istft(mag * angles, n_fft, hop, window=window, length=wave.size(-1))
    rebuilt2 = L.stft(inv, n_fft, hop, window=window, return_complex=True)
    angles = rebuilt2 / rebuilt2.abs().clamp(min=1e-16)
    return dict(back=back, err=(back - wave).abs().max(), rebuilt=rebuilt, angles=angles,
                view=L.view_as_real(spec).shape, inv=inv)


_PHASE = RNG.uniform(-np.pi, np.pi, (2, 65, 33))


def _wavenet(L, channels=4, layers=3):
    nn = L.nn

    class Block(nn.Module):
        def __init__(self, dilation):
            super().__init__()
            self.dilation = dilation
            self.conv = nn.Conv1d(channels, 2 * channels, 2, dilation=dilation)
            self.res = nn.Conv1d(channels, channels, 1)
            self.skip = nn.Conv1d(channels, channels, 1)

        def forward(self, x):
            y = self.conv(nn.functional.pad(x, (self.dilation, 0)))
            f, g = y.chunk(2, dim=1)
            z = L.tanh(f) * L.sigmoid(g)
            return x + self.res(z), self.skip(z)

    class WaveNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.front = nn.Conv1d(1, channels, 3, padding=2)
            self.blocks = nn.ModuleList(Block(2 ** i) for i in range(layers))
            self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(channels, 8, 1))

        def forward(self, x):
            x = self.front(x)[..., :-2]          # causal: pad both sides, drop the future
            skips = 0
            for b in self.blocks:
                x, s = b(x)
                skips = skips + s
            return self.head(skips)

    net = WaveNet().double()
    return load_seeded(L, net, 7, 0.4)


@program
def wavenet_gated_dilated_causal_stack(L):
    net = _wavenet(L)
    x = L.tensor(WAVE[None, None, :64])
    target = L.tensor((np.abs(WAVE[1:65]) * 4).astype(np.int64).clip(0, 7)[None])
    opt = L.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        logits = net(x)
        loss = L.nn.functional.cross_entropy(logits, target)
        loss.backward()
        L.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    # causality: the first output frame only sees the first sample
    x2 = x.clone()
    x2[..., 10:] = 0
    same = L.allclose(net(x)[..., :10], net(x2)[..., :10])
    return dict(losses=losses, logits=logits, same=same, g=grads_of(net))


@program
def sincnet_learnable_band_pass_front_end(L):
    """A learnable band-pass front end: each filter is set by two trainable cut-offs, its
    left half computed (two sinusoids' difference over time, times half a Hamming window)
    and mirrored by flip; the filters then run over a waveform by conv1d."""
    n_filt, k, sr = 4, 11, 16000
    low = L.tensor(np.linspace(30, 3000, n_filt)[:, None] / sr, requires_grad=True)
    band = L.tensor(np.full((n_filt, 1), 500.0 / sr), requires_grad=True)
    half = k // 2                                      # taps left of the centre
    # left half of a Hamming window, sampled at 0 .. half - 1
    taps = L.linspace(0, (k / 2) - 1, steps=int(k / 2), dtype=L.float64)
    hamming_left = 0.54 - 0.46 * L.cos(2 * math.pi * taps / k)
    # angular time of the left taps, -half .. -1 samples, as a (1, half) row
    omega_t = 2 * math.pi * L.arange(-(k - 1) / 2.0, 0, dtype=L.float64).view(1, -1) / sr
    f1 = L.abs(low) + 50 / sr                          # lower cut-off, kept above 50 Hz
    f2 = L.clamp(f1 + L.abs(band), 50 / sr, 0.5)       # upper cut-off, below Nyquist
    # band-pass = difference of two low-pass sinc filters: (sin(2 pi f2 t) - sin(2 pi f1 t))
    # / (pi t), windowed; the centre tap is its limit 2 (f2 - f1); all divided by that
    sin_gap = L.sin(L.matmul(f2 * sr, omega_t)) - L.sin(L.matmul(f1 * sr, omega_t))
    left = (sin_gap / (omega_t / 2)) * hamming_left
    centre = 2 * (f2 - f1) * sr
    assert left.shape[1] == half
    filters = (L.cat([left, centre, L.flip(left, dims=[1])], dim=1) / centre).view(n_filt, 1, k)
    y = L.nn.functional.conv1d(L.tensor(WAVE[None, None, :200]).repeat(2, 1, 1), filters,
                               padding=5)
    y = L.nn.functional.max_pool1d(L.nn.functional.layer_norm(y.abs(), y.shape[-1:]), 3)
    y.pow(2).mean().backward()
    return dict(filters=filters, y=y, g_low=low.grad, g_band=band.grad)


@program
def tacotron_location_sensitive_attention(L):
    """Location-aware additive attention (as in Tacotron 2): the last and the running sum of
    the alignments go through conv1d and a projection, join projected keys and query under
    tanh, are scored, masked past each utterance's end, softmaxed, and read by bmm; a few
    steps with the context fed back into the query."""
    nn, F = L.nn, L.nn.functional
    b, t, d, a = 2, 7, 6, 5
    # features of where attention has been: a conv over (last, running total) alignments
    conv = load_seeded(L, nn.Conv1d(2, 4, 5, padding=2, bias=False).double(), 1)
    from_loc, from_query, from_memory = (load_seeded(L, nn.Linear(i, a, bias=False).double(), s)
                                         for i, s in ((4, 2), (d, 3), (d, 4)))
    score = load_seeded(L, nn.Linear(a, 1).double(), 5)
    memory = L.tensor(_arr(b, t, d, seed=34), requires_grad=True)
    padded = L.arange(t)[None] >= L.tensor([[7], [5]])    # frames past each length
    keys = from_memory(memory)                            # computed once for all steps
    weights, cumulative = L.zeros(b, t, dtype=L.float64), L.zeros(b, t, dtype=L.float64)
    query, contexts = L.tensor(_arr(b, d, seed=35)), []
    for _ in range(3):
        history = L.cat((weights.unsqueeze(1), cumulative.unsqueeze(1)), dim=1)  # (b, 2, t)
        where_been = from_loc(conv(history).transpose(1, 2))                    # (b, t, a)
        hidden = L.tanh(keys + where_been + from_query(query).unsqueeze(1))
        logits = score(hidden).squeeze(-1).masked_fill(padded, -float("inf"))
        weights = F.softmax(logits, dim=1)
        cumulative = cumulative + weights
        context = L.bmm(weights.unsqueeze(1), memory).squeeze(1)
        contexts.append(context)
        query = query + context
    L.stack(contexts).sum().backward()
    return dict(contexts=contexts, weights=weights, cumulative=cumulative, gm=memory.grad,
                gc=conv.weight.grad)


# ----------------------------------------------------------------------------------------------
# NeRF
# ----------------------------------------------------------------------------------------------
def _posenc(L, x, n_freqs):
    freqs = 2.0 ** L.linspace(0.0, n_freqs - 1, n_freqs, dtype=x.dtype)
    xb = (x[..., None, :] * freqs[:, None]).flatten(-2)
    return L.cat([x, L.sin(xb), L.cos(xb)], dim=-1)


def _sample_pdf(L, bins, weights, n_samples, u):
    """Inverse-CDF sampling along each ray with given uniforms ``u``: ``weights`` (a little
    added so none is zero) make a piecewise-constant density over the ``bins`` edges; each u
    finds its interval in the cumulative sum (searchsorted, right side) and is placed
    linearly inside it."""
    dens = weights + 1e-5
    cdf = L.cumsum(dens / L.sum(dens, -1, keepdim=True), -1)
    cdf = L.cat([L.zeros_like(cdf[..., :1]), cdf], -1)                 # (rays, edges)
    u = u.contiguous()
    right = L.searchsorted(cdf, u, right=True)
    last = cdf.shape[-1] - 1
    ends = L.stack([L.max(L.zeros_like(right), right - 1),
                    L.min(last * L.ones_like(right), right)], -1)     # (rays, samples, 2)
    wide = [ends.shape[0], ends.shape[1], cdf.shape[-1]]
    c_lo, c_hi = L.gather(cdf.unsqueeze(1).expand(wide), 2, ends).unbind(-1)
    b_lo, b_hi = L.gather(bins.unsqueeze(1).expand(wide), 2, ends).unbind(-1)
    span = c_hi - c_lo
    span = L.where(span < 1e-5, L.ones_like(span), span)            # flat pieces: no 0/0
    return b_lo + (u - c_lo) / span * (b_hi - b_lo)

@program
def nerf_positional_encoding_volume_rendering_and_resampling(L):
    n_rays, n_pts = 4, 16
    rays_o = L.tensor(_arr(n_rays, 3, scale=0.1))
    rays_d = L.nn.functional.normalize(L.tensor(_arr(n_rays, 3)), dim=-1)
    near, far = 2.0, 6.0
    t_vals = L.linspace(0.0, 1.0, steps=n_pts, dtype=L.float64)
    z = near * (1.0 - t_vals) + far * t_vals
    z = z.expand([n_rays, n_pts])
    mids = 0.5 * (z[..., 1:] + z[..., :-1])
    upper = L.cat([mids, z[..., -1:]], -1)
    lower = L.cat([z[..., :1], mids], -1)
    z = lower + (upper - lower) * L.tensor(np.random.RandomState(6).rand(n_rays, n_pts))
    pts = rays_o[..., None, :] + rays_d[..., None, :] * z[..., :, None]
    enc = _posenc(L, pts, 4)
    mlp = L.nn.Sequential(L.nn.Linear(enc.shape[-1], 16), L.nn.ReLU(), L.nn.Linear(16, 4))
    mlp = load_seeded(L, mlp.double(), 3, 0.3)
    raw = mlp(enc)
    dists = z[..., 1:] - z[..., :-1]
    dists = L.cat([dists, L.tensor([1e10], dtype=dists.dtype).expand(dists[..., :1].shape)], -1)
    dists = dists * L.norm(rays_d[..., None, :], dim=-1)
    rgb = L.sigmoid(raw[..., :3])
    alpha = 1.0 - L.exp(-L.nn.functional.relu(raw[..., 3]) * dists)
    trans = L.cumprod(L.cat([L.ones((alpha.shape[0], 1), dtype=alpha.dtype),
                             1.0 - alpha + 1e-10], -1), -1)[:, :-1]
    weights = alpha * trans
    rgb_map = L.sum(weights[..., None] * rgb, -2)
    depth = L.sum(weights * z, -1)
    disp = 1.0 / L.max(1e-10 * L.ones_like(depth), depth / L.sum(weights, -1))
    acc = weights.sum(-1)
    z_mid = 0.5 * (z[..., 1:] + z[..., :-1])
    fine = _sample_pdf(L, z_mid, weights[..., 1:-1].detach(), 8, L.tensor(_U))
    z_all, _ = L.sort(L.cat([z, fine], -1), -1)
    loss = ((rgb_map - 0.5) ** 2).mean()
    loss.backward()
    return dict(enc_shape=enc.shape, weights=weights, rgb=rgb_map, depth=depth, disp=disp,
                acc=acc, fine=fine, z_all=z_all, g=grads_of(mlp))


_U = RNG.rand(4, 8)


# ----------------------------------------------------------------------------------------------
# metric learning
# ----------------------------------------------------------------------------------------------
EMB = _arr(8, 5)
LABELS = np.array([0, 0, 1, 1, 2, 2, 3, 0])


@program
def batch_hard_triplet_and_contrastive_losses(L):
    e = L.tensor(EMB, requires_grad=True)
    y = L.tensor(LABELS)
    x = L.nn.functional.normalize(e, dim=1)
    d = L.cdist(x, x, p=2)
    same = y.unsqueeze(0) == y.unsqueeze(1)
    eye = L.eye(len(y), dtype=L.bool)
    # per anchor: the farthest same-label point (others zeroed out before max) and the
    # nearest other-label point (same-label entries pushed up by the row maximum before min)
    other_same = same & ~eye
    other_label = ~same
    hardest_pos = (d * other_same.float().to(d.dtype)).max(1)[0]
    row_top = d.max(1, keepdim=True)[0]
    lifted = d + row_top * (~other_label).to(d.dtype)
    hardest_neg = lifted.min(1)[0]
    triplet = L.relu(hardest_pos - hardest_neg + 0.3).mean()
    # online contrastive over all pairs
    pairs = L.triu_indices(len(y), len(y), 1)
    pd = d[pairs[0], pairs[1]]
    lbl = same[pairs[0], pairs[1]].to(d.dtype)
    contrastive = (lbl * pd.pow(2) + (1 - lbl) * L.relu(0.8 - pd).pow(2)).mean()
    mod = L.nn.TripletMarginLoss(margin=0.3)(x[0:4], x[1:5], x[4:8])
    cos = L.nn.CosineEmbeddingLoss(margin=0.1)(x[:4], x[4:], L.tensor([1, -1, 1, -1]))
    total = triplet + contrastive + mod + cos
    total.backward()
    return dict(d=d, hp=hardest_pos, hn=hardest_neg, triplet=triplet, contrastive=contrastive,
                mod=mod, cos=cos, g=e.grad)


@program
def info_nce_simclr_supcon(L):
    z1 = L.tensor(EMB[:4].astype(np.float32), requires_grad=True)
    z2 = L.tensor((EMB[4:] + 0.1).astype(np.float32), requires_grad=True)
    tau = 0.5
    z = L.nn.functional.normalize(L.cat([z1, z2]), dim=1)
    sim = z @ z.T / tau
    n = z1.size(0)
    sim = sim.masked_fill(L.eye(2 * n, dtype=L.bool), float("-inf"))
    targets = L.cat([L.arange(n, 2 * n), L.arange(0, n)])
    nt_xent = L.nn.functional.cross_entropy(sim, targets)
    # explicit logsumexp form
    lse = L.logsumexp(sim, dim=1)
    manual = (lse - sim[L.arange(2 * n), targets]).mean()
    # supervised contrastive: every other view with the same label counts as a positive;
    # per anchor, the mean log-probability of its positives among all other views (rows
    # shifted by their detached maximum first, which leaves the result unchanged)
    y = L.tensor([0, 1, 0, 2, 0, 1, 0, 2])
    scores = z @ z.T / tau
    scores = scores - scores.max(dim=1, keepdim=True)[0].detach()
    others = ~L.eye(2 * n, dtype=L.bool)
    partners = (y[:, None] == y[None, :]) & others
    log_norm = L.log((scores.exp() * others).sum(1, keepdim=True))
    per_anchor = (partners * (scores - log_norm)).sum(1) / partners.sum(1)
    supcon = -per_anchor.mean()
    # image-text style: both directions of cross entropy over paired halves, with a
    # trainable log inverse temperature starting at log(1 / 0.07)
    log_inv_temp = L.nn.Parameter(L.ones([]) * math.log(1 / 0.07))
    lg = log_inv_temp.exp() * z[:n] @ z[n:].t()
    lab = L.arange(n)
    ce = L.nn.functional.cross_entropy
    clip = (ce(lg, lab) + ce(lg.t(), lab)) / 2
    (nt_xent + supcon + clip).backward()
    return dict(nt_xent=nt_xent, manual=manual, supcon=supcon, clip=clip, g1=z1.grad,
                g2=z2.grad, gs=log_inv_temp.grad)


# ----------------------------------------------------------------------------------------------
# state-space models and mixture of experts
# ----------------------------------------------------------------------------------------------
@program
def mamba_block_causal_conv_and_selective_scan(L):
    """A selective state-space block: input projection split into a signal and a gate, a
    causal depthwise conv (padded, cut to length), per-step input-dependent step sizes,
    B and C, the diagonal recurrence h <- exp(delta A) h + delta B x run step by step,
    read out by C, a skip through D and the SiLU gate."""
    b, t, d, n, r = 2, 6, 4, 3, 2
    nn, F = L.nn, L.nn.functional

    class SelectiveSSM(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_proj = nn.Linear(d, 2 * d, bias=False)
            self.conv1d = nn.Conv1d(d, d, kernel_size=4, groups=d, padding=3)
            self.x_proj = nn.Linear(d, r + 2 * n, bias=False)
            self.dt_proj = nn.Linear(r, d)
            self.A_log = nn.Parameter(L.log(L.arange(1, n + 1, dtype=L.float64).repeat(d, 1)))
            self.D = nn.Parameter(L.ones(d, dtype=L.float64))
            self.out_proj = nn.Linear(d, d, bias=False)

        def forward(self, seq):
            length = seq.shape[1]
            sig, gate = self.in_proj(seq).split([d, d], dim=-1)
            # causal: the conv pads both sides by 3, only the first ``length`` outputs kept
            sig = F.silu(self.conv1d(sig.transpose(1, 2))[:, :, :length].transpose(1, 2))
            return self.out_proj(self.scan(sig) * F.silu(gate))

        def scan(self, sig):
            decay_rate = -L.exp(self.A_log.float().to(sig.dtype))            # (d, n) < 0
            step, B, C = self.x_proj(sig).split(split_size=[r, n, n], dim=-1)
            step = F.softplus(self.dt_proj(step))                             # (b, l, d)
            keep = L.exp(L.einsum("b l d, d n -> b l d n", step, decay_rate))
            push = L.einsum("b l d, b l n, b l d -> b l d n", step, B, sig)
            state = L.zeros(sig.size(0), d, n, dtype=sig.dtype)
            outs = []
            for k in range(sig.size(1)):
                state = keep[:, k] * state + push[:, k]
                outs.append(L.einsum("b d n, b n -> b d", state, C[:, k, :]))
            return L.stack(outs, dim=1) + sig * self.D

    m = load_seeded(L, SelectiveSSM().double(), 11, 0.4)
    x = L.tensor(_arr(b, t, d))
    opt = L.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        y = m(x)
        loss = F.mse_loss(y, x.roll(1, dims=1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, y=y, g=grads_of(m))


@program
def mixture_of_experts_top2_routing(L):
    nn, F = L.nn, L.nn.functional
    tokens, dim, n_exp, k = 10, 6, 4, 2
    x = L.tensor(_arr(tokens, dim), requires_grad=True)
    gate = load_seeded(L, nn.Linear(dim, n_exp, bias=False).double(), 21)
    experts = nn.ModuleList(nn.Sequential(nn.Linear(dim, 8), nn.GELU(), nn.Linear(8, dim))
                            for _ in range(n_exp)).double()
    load_seeded(L, experts, 22)
    logits = gate(x)
    probs = F.softmax(logits, dim=-1)
    topv, topi = L.topk(probs, k, dim=-1)
    topv = topv / topv.sum(-1, keepdim=True)
    out = L.zeros_like(x)
    for e in range(n_exp):
        tok, slot = L.where(topi == e)
        if tok.numel() == 0:
            continue
        y = experts[e](x[tok]) * topv[tok, slot, None]
        out.index_add_(0, tok, y)
    # Switch-style load balancing: fraction routed times mean probability
    mask = F.one_hot(topi[:, 0], n_exp).to(x.dtype)
    density = mask.mean(0)
    density_proxy = probs.mean(0)
    aux = (density * density_proxy).mean() * n_exp ** 2
    z_loss = L.logsumexp(logits, dim=-1).pow(2).mean()
    # dispatch by scatter: a token-by-expert combine weight matrix
    combine = L.zeros(tokens, n_exp, dtype=x.dtype).scatter(1, topi, topv)
    counts = L.zeros(n_exp, dtype=L.long).scatter_add_(0, topi.flatten(),
                                                       L.ones_like(topi.flatten()))
    total = out.pow(2).mean() + 0.01 * aux + 0.001 * z_loss
    total.backward()
    return dict(out=out, aux=aux, z=z_loss, combine=combine, counts=counts, topi=topi,
                gx=x.grad, gg=gate.weight.grad, ge=grads_of(experts))


# ----------------------------------------------------------------------------------------------
# cached decoding with rotary embeddings
# ----------------------------------------------------------------------------------------------
def _rope_complex(L, x, turns):
    """Rotary embedding with complex numbers: consecutive channel pairs (re, im) of
    x (batch, seq, heads, dim) are multiplied by the unit phasors ``turns`` (seq, dim/2)."""
    b, n, h, d = x.shape
    as_complex = L.view_as_complex(x.float().reshape(b, n, h, d // 2, 2))
    spun = as_complex * turns.view(1, n, 1, d // 2)
    return L.view_as_real(spun).flatten(3).type_as(x)


def _rope_half(L, x, cos, sin):
    """The same rotation with channel c paired to c + dim/2 instead of to its neighbour."""
    half = x.shape[-1] // 2
    lead, tail = x[..., :half], x[..., half:]
    return x * cos + L.cat((-tail, lead), dim=-1) * sin


@program
def rotary_embeddings_complex_and_rotate_half(L):
    dim, seq, heads = 8, 5, 2
    # angle of position p for pair j: p / 10000^(2j / dim)
    even = L.arange(0, dim, 2)[: dim // 2].float()
    inv_wavelength = 1.0 / (10000 ** (even / dim))
    angles = L.outer(L.arange(seq, dtype=L.float32), inv_wavelength)      # (seq, dim/2)
    turns = L.polar(L.ones_like(angles), angles)
    q = L.tensor(_arr(1, seq, heads, dim).astype(np.float32), requires_grad=True)
    rq = _rope_complex(L, q, turns)
    both = L.cat((angles, angles), dim=-1)
    cos, sin = both.cos()[None, :, None, :], both.sin()[None, :, None, :]
    rh = _rope_half(L, q, cos, sin)
    # the rotation keeps each pair's norm
    norms = (rq.pow(2).sum(-1) - q.pow(2).sum(-1)).abs().max()
    (rq.sum() + (rh * rh).sum()).backward()
    return dict(fc=turns, rq=rq, rh=rh, norms=norms < 1e-4, g=q.grad, dtype=turns.dtype)


def _tiny_lm(L):
    nn, F = L.nn, L.nn.functional
    vocab, dim, heads = 11, 8, 2

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(dim, 3 * dim, bias=False)
            self.o = nn.Linear(dim, dim, bias=False)

        def forward(self, x, cache, pos):
            b, t, _ = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, heads, dim // heads).unbind(2)
            inv_freq = L.tensor(_INV_FREQ)
            ang = (pos + L.arange(t, dtype=x.dtype))[:, None] * inv_freq[None, :]
            cos = L.cat([ang.cos(), ang.cos()], -1)[None, :, None]
            sin = L.cat([ang.sin(), ang.sin()], -1)[None, :, None]
            q, k = _rope_half(L, q, cos, sin), _rope_half(L, k, cos, sin)
            q, k, v = (z.transpose(1, 2) for z in (q, k, v))
            if cache is not None:
                k = L.cat([cache[0], k], dim=2)
                v = L.cat([cache[1], v], dim=2)
            s = q @ k.transpose(-2, -1) / math.sqrt(dim // heads)
            tk = k.size(2)
            causal = L.ones(t, tk, dtype=L.bool).tril(diagonal=tk - t)
            s = s.masked_fill(~causal, float("-inf"))
            y = F.softmax(s, dim=-1) @ v
            return self.o(y.transpose(1, 2).reshape(b, t, dim)), (k, v)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, dim)
            self.attn = Attn()
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, vocab, bias=False)

        def forward(self, idx, cache=None, pos=0):
            h = self.emb(idx)
            a, cache = self.attn(self.norm(h), cache, pos)
            return self.head(h + a), cache

    return load_seeded(L, LM().double(), 5, 0.5)


_INV_FREQ = 1.0 / (10000 ** (np.arange(0, 4, 2) / 4.0))      # rotary frequencies, head dim 4


@program
def kv_cache_greedy_topk_topp_generation(L):
    lm = _tiny_lm(L)
    lm.eval()
    prompt = L.tensor([[1, 4, 2]])
    with L.no_grad():
        # full recompute vs cached: the same logits
        full, _ = lm(L.tensor([[1, 4, 2, 7]]))
        lg, cache = lm(prompt)
        step, cache = lm(L.tensor([[7]]), cache, pos=3)
        # greedy
        idx, cache = prompt, None
        logits, cache = lm(idx)
        out = idx
        for i in range(5):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            out = L.cat([out, nxt], dim=1)
            logits, cache = lm(nxt, cache, pos=out.size(1) - 1)
        # sampling filters on the cooled last-position scores: keep the 4 best; or keep
        # the shortest best-first prefix whose probability reaches 0.7 (a token goes when
        # the tokens ranked above it already reach 0.7, hence the shift by one place)
        cooled = logits[:, -1] / 0.8
        kth = L.topk(cooled, 4)[0][:, [-1]]
        lgt_k = cooled.masked_fill(cooled < kth, float("-inf"))
        ranked, rank_to_vocab = L.sort(cooled, descending=True)
        reached = L.cumsum(L.softmax(ranked, dim=-1), dim=-1) > 0.7
        past_nucleus = reached                  # shifted in place: rank r gets rank r-1's flag
        past_nucleus[..., 1:] = reached[..., :-1].clone()
        past_nucleus[..., 0] = False            # the best token always stays
        in_vocab_order = past_nucleus.scatter(1, rank_to_vocab, past_nucleus)
        lgt_p = cooled.masked_fill(in_vocab_order, float("-inf"))
        probs = L.softmax(lgt_p, dim=-1)
        gen = L.Generator().manual_seed(0)
        rows = probs.expand(3, -1)
        draws = L.multinomial(rows, num_samples=2, replacement=True, generator=gen)
    return dict(diff=(full[:, -1] - step[:, -1]).abs().max() < 1e-10, lg=lg, step=step,
                greedy=out, cache_shape=cache[0].shape, lgt_k=lgt_k, lgt_p=lgt_p,
                probs=probs, draws=draws,
                draws_ok=bool(rows.gather(1, draws).gt(0).all()))


# ----------------------------------------------------------------------------------------------
# structured decoding
# ----------------------------------------------------------------------------------------------
TRANS = _arr(4, 4, scale=0.5)
EMIT = _arr(2, 6, 4, seed=4)
MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dtype=bool)


@program
def linear_chain_crf_forward_algorithm_and_viterbi(L):
    """A chain CRF over padded sequences, without a module: the labelled path's score
    (pair table indexed by consecutive tags, emissions gathered, padding multiplied out, the
    exit weight of each sequence's own last tag), the log-normaliser as a masked running
    logsumexp, their difference's gradient, then max-product decoding with the pointers of
    each sequence followed back over its own length only."""
    trans = L.tensor(TRANS, requires_grad=True)       # [from, to]
    start = L.tensor([0.1, -0.2, 0.3, 0.0], dtype=L.float64, requires_grad=True)
    end = L.tensor([0.0, 0.2, -0.1, 0.1], dtype=L.float64, requires_grad=True)
    em = L.tensor(EMIT, requires_grad=True)           # (batch, time, tags)
    mask = L.tensor(MASK)
    tags = L.tensor([[0, 1, 2, 3, 1, 0], [2, 2, 1, 0, 0, 0]])
    n_seq, n_steps, _ = em.shape

    def emitted(i):                                   # emission of the labelled tag at i
        return em[:, i].gather(1, tags[:, i:i + 1]).squeeze(1)

    def extend(prev, i):                              # (B, from) -> (B, from, to)
        return prev.unsqueeze(2) + trans + em[:, i].unsqueeze(1)

    score = start[tags[:, 0]] + emitted(0)
    for i in range(1, n_steps):
        score = score + (trans[tags[:, i - 1], tags[:, i]] + emitted(i)) * mask[:, i]
    lengths = mask.sum(1)
    final_tag = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
    score = score + end[final_tag]

    run = start + em[:, 0]
    for i in range(1, n_steps):
        run = L.where(mask[:, i].unsqueeze(1), L.logsumexp(extend(run, i), dim=1), run)
    logz = L.logsumexp(run + end, dim=1)
    nll = (logz - score).sum()
    nll.backward()

    with L.no_grad():
        run = start + em[:, 0]
        pointers = []
        for i in range(1, n_steps):
            top, arg = (run.unsqueeze(2) + trans).max(dim=1)
            run = L.where(mask[:, i].unsqueeze(1), top + em[:, i], run)
            pointers.append(arg)
        best_score, best_last = (run + end).max(dim=1)
        paths = []
        for j in range(n_seq):
            cur = best_last[j].item()
            backwards = [cur]
            for arg in pointers[: int(lengths[j]) - 1][::-1]:
                cur = arg[j][cur].item()
                backwards.append(cur)
            paths.append(backwards[::-1])
    return dict(score=score, logz=logz, nll=nll, gt=trans.grad, gs=start.grad, ge=end.grad,
                gem=em.grad, best=best_score, paths=paths)


@program
def beam_search_over_flattened_scores(L):
    lm = _tiny_lm(L)
    beams, vocab, eos = 3, 11, 10
    with L.no_grad():
        seqs = L.tensor([[1, 4]]).repeat(beams, 1)
        scores = L.tensor([0.0] + [float("-inf")] * (beams - 1), dtype=L.float64)
        finished = L.zeros(beams, dtype=L.bool)
        for _ in range(4):
            logits, _ = lm(seqs)
            logp = L.log_softmax(logits[:, -1], dim=-1)
            logp[finished] = float("-inf")
            logp[finished, eos] = 0.0
            cand = (scores.unsqueeze(1) + logp).view(-1)
            top, flat = cand.topk(beams)
            origin = L.div(flat, vocab, rounding_mode="floor")
            token = flat % vocab
            seqs = L.cat([seqs.index_select(0, origin), token.unsqueeze(1)], dim=1)
            finished = finished.gather(0, origin) | (token == eos)
            scores = top
        lengths = (seqs != eos).sum(1).to(scores.dtype)
        normed = scores / lengths ** 0.6
        best = normed.argmax()
    return dict(seqs=seqs, scores=scores, normed=normed, best=best, fin=finished)


# ----------------------------------------------------------------------------------------------
# einops-like reshapes and per-sample gradients
# ----------------------------------------------------------------------------------------------
@program
def einops_like_rearrange_idioms(L):
    x = L.tensor(_arr(2, 3, 8, 8), requires_grad=True)
    # 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'
    p = 4
    patches = x.unflatten(2, (2, p)).unflatten(4, (2, p))          # b c h p1 w p2
    patches = patches.permute(0, 2, 4, 3, 5, 1).reshape(2, 4, p * p * 3)
    # inverse 'b (h w) (p1 p2 c) -> b c (h p1) (w p2)'
    back = patches.view(2, 2, 2, p, p, 3).movedim(-1, 1).permute(0, 1, 2, 4, 3, 5)
    back = back.reshape(2, 3, 8, 8)
    # 'b c h w -> b (c h) w' and pixel-shuffle by reshape
    mixed = x.flatten(1, 2)
    ps = x[:, :2].reshape(2, 2, 1, 1, 8, 8)
    shuffled = L.nn.functional.pixel_shuffle(x[:, :, :4, :4].repeat(1, 4, 1, 1), 2)
    # multi-head split 'b n (h d) -> b h n d' and merge
    t = patches.unflatten(-1, (4, 12)).transpose(1, 2)
    merged = t.transpose(1, 2).flatten(-2)
    # reduce 'b c (h 2) (w 2) -> b c h w' (max)
    pooled = x.unflatten(-1, (4, 2)).unflatten(2, (4, 2)).amax(dim=(3, 5))
    # repeat 'b c h w -> b c h w r'
    rep = x.unsqueeze(-1).expand(*x.shape, 2)
    stacked = L.stack(x.unbind(1), dim=-1)
    loss = (patches.sum(-1) ** 2).sum() + pooled.sum() + rep.mean() + (merged * patches).sum()
    loss.backward()
    return dict(patches=patches, same=L.equal(back, x), mixed=mixed.shape, ps=ps.shape,
                shuffled=shuffled, t=t.shape, merged=L.equal(merged, patches),
                pooled=pooled, stacked=stacked.shape, contig=back.is_contiguous(),
                g=x.grad)


@program
def per_sample_gradients_with_vmap_and_by_hand(L):
    model = load_seeded(L, L.nn.Linear(4, 3).double(), 31)
    params = {k: v.detach() for k, v in model.named_parameters()}
    x = L.tensor(_arr(5, 4))
    y = L.tensor([0, 2, 1, 1, 0])

    def loss_fn(p, xi, yi):
        out = L.func.functional_call(model, p, (xi.unsqueeze(0),))
        return L.nn.functional.cross_entropy(out, yi.unsqueeze(0))

    g = L.func.vmap(L.func.grad(loss_fn), in_dims=(None, 0, 0))(params, x, y)
    # by hand: the gradient of the sum of per-sample losses, one backward per sample
    rows = []
    for i in range(5):
        model.zero_grad()
        L.nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        rows.append(model.weight.grad.clone())
    # clipped and noised DP-SGD aggregation with fixed noise
    flat = L.cat([g["weight"].flatten(1), g["bias"]], dim=1)
    norms = flat.norm(dim=1)
    factor = (1.0 / (norms + 1e-6)).clamp(max=1.0)
    clipped = (flat * factor[:, None]).sum(0) + L.tensor(_arr(15, scale=0.01))
    return dict(gw=g["weight"], gb=g["bias"], same=L.allclose(g["weight"], L.stack(rows)),
                norms=norms, clipped=clipped)


@program
def stft_without_a_window_and_with_real_output_warns(L):
    """torchaudio-era calls: no window (rectangular, a UserWarning), return_complex=False
    (deprecated, a UserWarning), istft without a window (a UserWarning)."""
    x = L.tensor(WAVE[:300])
    spec = L.stft(x, 64, return_complex=True)
    old = L.stft(x, 64, window=L.hann_window(64, dtype=L.float64), return_complex=False)
    back = L.istft(spec, 64, length=300)
    return dict(spec=spec, old=old, back=back)


@program
def istft_of_frames_that_do_not_overlap_refused(L):
    """A hop as long as a Hann window leaves zeros in the overlap-added envelope."""
    win = L.hann_window(64, dtype=L.float64)
    spec = L.stft(L.tensor(WAVE[:320]), 64, 64, window=win, return_complex=True)
    return L.istft(spec, 64, 64, window=win, center=False)


@program
def istft_error_prints_the_onesided_argument_as_given(L):
    spec = L.zeros(2, 33, 5, dtype=L.complex128)
    win = L.hann_window(64, dtype=L.float64)
    return [err(lambda: L.istft(spec, 64, onesided=False, window=win)),
            err(lambda: L.istft(spec, 64, 64, onesided=True, window=win, center=False)),
            err(lambda: L.stft(L.ones(2, 10, dtype=L.float64), 64, window=L.ones(64,
                dtype=L.float64), center=False, onesided=True, return_complex=True))]


@program
def rotary_view_as_complex_refusals(L):
    """view_as_complex wants a float tensor whose last dim is 2 and contiguous."""
    return [err(lambda: L.view_as_complex(L.ones(4, 3))),
            err(lambda: L.view_as_complex(L.ones(4, 2).t())),
            err(lambda: L.view_as_complex(L.ones(4, 2, dtype=L.long))),
            err(lambda: L.view_as_real(L.ones(2)))]


@program
def gathering_node_features_past_the_last_node_refused(L):
    """An edge_index naming a node that is not there: PyTorch names the dimension among the
    index tensors' (it indexes them first), reading and writing alike."""
    x = L.zeros(4, 3, 5)
    bad = L.tensor([0, 9])

    def write(index):
        x.clone()[index] = 1.0
    return [err(lambda: x[:, L.tensor([3])]), err(lambda: write((slice(None), L.tensor([3])))),
            err(lambda: x[L.tensor([0]), :, L.tensor([7])]),
            err(lambda: write((L.tensor([0]), slice(None), L.tensor([7])))),
            err(lambda: x[1, L.tensor([6])]), err(lambda: write((1, L.tensor([6])))),
            err(lambda: x[..., bad]), err(lambda: x[L.ones(4, 3, dtype=L.bool), bad]),
            err(lambda: x[bad]), err(lambda: x[:, 5]), err(lambda: write((slice(None), 5)))]


@program
def yolo_head_decoding_written_in_place_into_slices(L):
    """YOLOv5-style decoding that writes the box centres and sizes into slices of the sigmoid
    output.  Written into the sigmoid output itself, the backward refuses (sigmoid's backward
    reads the output it gave); written into a clone of it, the gradients flow through the
    slice writes to the conv weight."""
    conv = load_seeded(L, L.nn.Conv2d(4, 3 * 7, 1).double(), 1)
    anchors = L.tensor([[10., 13.], [16., 30.], [33., 23.]], dtype=L.float64)
    yv, xv = L.meshgrid([L.arange(4), L.arange(5)], indexing="ij")
    grid = L.stack((xv, yv), 2).expand((1, 3, 4, 5, 2)).to(L.float64)
    anchor_grid = (anchors.clone() * 8).view((1, 3, 1, 1, 2)).expand((1, 3, 4, 5, 2))

    def decode(copy):
        conv.zero_grad()
        p = conv(L.tensor(_arr(2, 4, 4, 5, seed=9)))
        p = p.view(2, 3, 7, 4, 5).permute(0, 1, 3, 4, 2).contiguous()
        y = p.sigmoid().clone() if copy else p.sigmoid()
        y[..., 0:2] = (y[..., 0:2] * 2 - 0.5 + grid) * 8
        y[..., 2:4] = (y[..., 2:4] * 2) ** 2 * anchor_grid
        z = y.view(2, -1, 7)
        xyxy = L.cat([z[..., :2] - z[..., 2:4] / 2, z[..., :2] + z[..., 2:4] / 2], -1)
        conf = z[..., 4:5] * z[..., 5:]
        best, cls = conf.max(-1)
        (xyxy.pow(2).mean() + conf.sum()).backward()
        return z, xyxy, best, cls

    in_place = err(lambda: decode(copy=False))
    z, xyxy, best, cls = decode(copy=True)
    return dict(in_place=in_place, z=z, xyxy=xyxy, keep=best > 0.3, cls=cls,
                g=conv.weight.grad, gb=conv.bias.grad)


def _activated_slice(L, op, then):
    """An in-place activation on a slice of an intermediate, then ``then`` writes into the
    same memory (the base or another slice), then backward through everything."""
    p = L.tensor(_arr(2, 6, seed=10), requires_grad=True)
    y = p * 1.0
    op(y[:, :3])
    if then == "other slice":
        y[:, 4:].mul_(2)
    elif then == "base":
        y.add_(1)
    y.sum().backward()
    return p.grad


@program
def inplace_activation_on_a_slice_then_another_write_refused(L):
    """exp_/sigmoid_/tanh_/relu_/sqrt_ keep their output for backward; on a slice, that is the
    base's memory, which a later write into the base or any slice of it changes (they share one
    version counter): backward refuses, as PyTorch's."""
    ops = [lambda v: v.exp_(), lambda v: v.sigmoid_(), lambda v: v.tanh_(),
           lambda v: L.nn.functional.relu(v, inplace=True), lambda v: v.exp_().exp_(),
           lambda v: v.abs_().sqrt_()]
    return [err(lambda: _activated_slice(L, op, then)) for op in ops
            for then in ("other slice", "base")]


@program
def inplace_ops_on_a_slice_that_keep_no_output_allowed(L):
    """pow_ by a number, mul_, sin_ and clamp_ keep their input (a copy) or nothing: later
    writes are fine; and without a later write the output-keeping ones are fine too."""
    ops = [lambda v: v.pow_(2), lambda v: v.mul_(3), lambda v: v.sin_(),
           lambda v: v.clamp_(-0.5, 0.5)]
    grads = [_activated_slice(L, op, then) for op in ops for then in ("other slice", "base")]
    keep = [lambda v: v.exp_(), lambda v: v.sigmoid_(), lambda v: v.tanh_()]
    return grads + [_activated_slice(L, op, "nothing") for op in keep]


@program
def hand_written_adam_with_the_deprecated_scalar_first_overloads(L):
    """A 2018-era optimizer loop: ``m.mul_(b1).add_(1 - b1, g)``,
    ``v.mul_(b2).addcmul_(1 - b2, g, g)``, ``p.data.addcdiv_(-step, m, denom)``: still
    accepted by PyTorch, with a deprecation UserWarning."""
    w = L.nn.Parameter(L.tensor(_arr(3, 4, seed=11)))
    x, y = L.tensor(_arr(5, 3, seed=12)), L.tensor(_arr(5, 4, seed=13))
    m, v = L.zeros_like(w), L.zeros_like(w)
    losses = []
    for step in range(1, 4):
        loss = ((x @ w - y) ** 2).mean()
        w.grad = None
        loss.backward()
        grad = w.grad.data
        m.mul_(0.9).add_(1 - 0.9, grad)
        v.mul_(0.999).addcmul_(1 - 0.999, grad, grad)
        denom = v.sqrt().add_(1e-8)
        step_size = 0.01 * math.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
        w.data.addcdiv_(-step_size, m, denom)
        w.data.sub_(0.01 * 0.1, w.data)
        losses.append(loss.item())
    return dict(w=w, losses=losses, m=m, v=v)


@program
def deprecated_scalar_first_overloads_out_of_place_and_their_gradients(L):
    p = L.tensor(_arr(3, seed=14), requires_grad=True)
    g = L.tensor(_arr(3, seed=15), requires_grad=True)
    y = p * 1
    y.add_(-0.1, g)
    y.addcmul_(0.5, g, g)
    z = L.addcdiv(y, 2, g, g.abs() + 1) + L.add(p, 2, g) + L.sub(p, 0.3, g) + p.add(2, g)
    z = z + L.addcmul(p, 0.5, g, g) + p.addcdiv(0.5, g, g.abs() + 1) + L.sub(p, 2, 3)
    z.sum().backward()
    return dict(z=z, gp=p.grad, gg=g.grad)


@program
def deprecated_overloads_need_a_number_first(L):
    p, g = L.ones(3), L.ones(3)
    return [err(lambda: L.add(p, g, 2)), err(lambda: p.add_(g, g)),
            err(lambda: L.addcmul(p, g, g, g)), err(lambda: p.addcmul_(g, g, g)),
            err(lambda: p.addcdiv_(1, 2, g)), err(lambda: p.sub_(g, g))]


@program
def pre_0_4_loss_indexing_refused(L):
    """``loss.data[0]`` of pre-0.4 code: a 0-dim tensor has no index to take."""
    loss = (L.tensor(_arr(2, 3, seed=16)) ** 2).mean()
    return [err(lambda: loss.data[0]), err(lambda: loss[0]), loss.item()]


def _segsum(L, x):
    """out[..., i, j] = x[..., j+1] + ... + x[..., i] for j <= i (0 on the diagonal),
    -inf above it: a cumulative sum down the columns of a strictly-lower-masked copy, which
    avoids subtracting two large cumulative sums."""
    t = x.size(-1)
    below = L.tril(L.ones(t, t, dtype=L.bool), diagonal=-1)
    cols = x[..., None].repeat(*([1] * x.ndim), t).masked_fill(~below, 0)
    upper = ~L.tril(L.ones(t, t, dtype=L.bool), diagonal=0)
    return L.cumsum(cols, dim=-2).masked_fill(upper, -math.inf)


@program
def mamba2_chunked_state_space_duality(L):
    """A scalar-decay state-space model computed by chunks, with einsums: inside each chunk
    the quadratic (attention-like) form with exp(segsum) decay masks; across chunks the
    states at chunk ends, passed along by exp(segsum) of the chunk totals and read out with
    the within-chunk decay."""
    b, length, h, p, cl = 1, 8, 2, 3, 4
    x = L.tensor(_arr(b, length, h, p, seed=17), requires_grad=True)
    a = L.tensor(-np.abs(_arr(b, length, h, seed=18)), requires_grad=True)
    bm, cm = L.tensor(_arr(b, length, h, 4, seed=19)), L.tensor(_arr(b, length, h, 4, seed=20))
    # (b, length, ...) -> (b, chunks, cl, ...)
    xc, ac, bc, cc = (t.reshape(t.shape[0], -1, cl, *t.shape[2:]) for t in (x, a, bm, cm))
    ac = ac.permute(0, 3, 1, 2)                                     # (b, h, chunks, cl)
    run = L.cumsum(ac, dim=-1)
    inside = L.einsum("bclhn,bcshn,bhcls,bcshp->bclhp", cc, bc, L.exp(_segsum(L, ac)), xc)
    to_end = L.exp(run[:, :, :, -1:] - run)                         # decay to the chunk end
    ends = L.einsum("bclhn,bhcl,bclhp->bchpn", bc, to_end, xc)
    ends = L.cat([L.zeros_like(ends[:, :1]), ends], dim=1)         # nothing before chunk 0
    carry = L.exp(_segsum(L, L.nn.functional.pad(run[:, :, :, -1], (1, 0))))
    passed = L.einsum("bhzc,bchpn->bzhpn", carry, ends)
    entering, final = passed[:, :-1], passed[:, -1]
    across = L.einsum("bclhn,bchpn,bhcl->bclhp", cc, entering, L.exp(run))
    y = (inside + across).reshape(b, length, h, p)
    y.pow(2).sum().backward()
    return dict(y=y, final=final, gx=x.grad, ga=a.grad)


@program
def s4d_convolution_kernel_by_vandermonde_and_fft(L):
    """A diagonal complex state-space layer: eigenvalues -exp(a_re) + i a_im discretised
    with step exp(log_dt) by zero-order hold, its length-L kernel as a sum over the state of
    powers of exp(dt a) (a Vandermonde product, twice the real part), applied by FFT
    convolution padded to 2L."""
    n, h, length = 4, 2, 16
    log_dt = L.tensor(np.log(np.array([0.01, 0.1])), requires_grad=True)
    a_re = L.tensor(-0.5 * np.ones((h, n // 2)), requires_grad=True)
    a_im = L.tensor(np.pi * np.tile(np.arange(n // 2), (h, 1)).astype(float))
    c_ri = L.tensor(_arr(h, n // 2, 2, seed=21), requires_grad=True)
    eig = -L.exp(a_re) + 1j * a_im
    step_eig = eig * L.exp(log_dt).unsqueeze(-1)                    # (h, n/2)
    c_zoh = L.view_as_complex(c_ri) * (L.exp(step_eig) - 1.) / eig
    powers = L.exp(step_eig.unsqueeze(-1) * L.arange(length, dtype=L.float64))
    k = 2 * L.einsum("hn, hnl -> hl", c_zoh, powers).real
    u = L.tensor(_arr(2, h, length, seed=22))
    spec = L.fft.rfft(u, n=2 * length) * L.fft.rfft(k, n=2 * length)
    y = L.fft.irfft(spec, n=2 * length)[..., :length]
    y.pow(2).sum().backward()
    return dict(k=k, y=y, g_dt=log_dt.grad, g_a=a_re.grad, g_c=c_ri.grad)


@program
def mixture_of_experts_sorted_dispatch(L):
    """Megablocks-style dispatch: sort the (token, slot) pairs by expert, split by bincount,
    run each expert on its chunk, put back by index_copy or scatter_add_."""
    t, e, d, k = 7, 3, 4, 2
    x = L.tensor(_arr(t, d, seed=23), requires_grad=True)
    logits = L.tensor(_arr(t, e, seed=24), requires_grad=True)
    w, idx = logits.softmax(-1).topk(k, -1)
    order = idx.flatten().argsort(stable=True)
    tok = order // k
    counts = L.bincount(idx.flatten(), minlength=e)
    ys = L.cat([chunk * (i + 1.0) for i, chunk in enumerate(x[tok].split(counts.tolist()))])
    back = L.zeros(t * k, d, dtype=ys.dtype).index_copy(0, order, ys)
    y = (back.view(t, k, d) * w.unsqueeze(-1)).sum(1)
    y2 = L.zeros_like(x).scatter_add_(0, tok.unsqueeze(-1).expand(-1, d),
                                      ys * w.flatten()[order].unsqueeze(-1))
    rep = L.repeat_interleave(L.arange(e), counts, output_size=t * k)
    (y.sum() + y2.pow(2).sum()).backward()
    return dict(y=y, y2=y2, rep=rep, gx=x.grad, gl=logits.grad,
                ends=L.cumsum(counts, 0, dtype=L.int32))


@program
def learnable_exponent_output_written_in_place_refused(L):
    """A learnable power (``x ** p``, p a parameter) keeps its result for p's gradient; a
    later in-place write makes backward refuse, naming the op's overload ('Pow1')."""
    x = L.tensor(np.array([1.5, 2.0, 2.5]), requires_grad=True)
    p = L.tensor(np.array([0.5, 1.0, 2.0]), requires_grad=True)

    def run(base):
        z = base ** p
        z.add_(1)
        z.sum().backward()
    return [err(lambda: run(x * 1)), err(lambda: run(2.0))]


@program
def vq_vae_codebook_straight_through_and_ema_update(L):
    """A vector-quantised bottleneck: every latent vector snaps to its closest codebook row
    (squared distance expanded as |z|^2 - 2 z.c + |c|^2, checked against cdist), gradients
    skip the snap (z + (q - z).detach()), a commitment term pulls z toward the codes; then,
    under no_grad, one step of moving-average codebook learning with additive smoothing of
    the usage counts, and the code-usage perplexity."""
    nn, F = L.nn, L.nn.functional
    n_codes, width = 6, 3
    rate, smooth = 0.01, 1e-5                  # moving-average step, count smoothing
    decay = 1 - rate
    book = nn.Embedding(n_codes, width).double()
    book.weight.data.copy_(L.tensor(_arr(n_codes, width, seed=25)))
    z = L.tensor(_arr(2, width, 4, 4, seed=26), requires_grad=True)
    vecs = z.permute(0, 2, 3, 1).reshape(-1, width)           # (B*H*W, width)
    codes = book.weight
    sq = (vecs.pow(2).sum(1, keepdim=True) - 2 * vecs @ codes.t()) + codes.pow(2).sum(1)
    idx = sq.argmin(1)
    by_cdist = L.cdist(vecs, codes).argmin(1)
    snapped = book(idx).view(2, 4, 4, width).permute(0, 3, 1, 2)
    passthrough = z + (snapped - z).detach()
    loss = (passthrough.pow(2).sum() + F.mse_loss(snapped, z.detach())
            + 0.25 * F.mse_loss(z, snapped.detach()))
    loss.backward()
    with L.no_grad():
        assign = F.one_hot(idx, n_codes).to(vecs.dtype)        # (N, n_codes)
        usage = L.zeros(n_codes, dtype=vecs.dtype).mul_(decay)
        usage.add_(assign.sum(0), alpha=rate)
        sums = book.weight.detach().clone().mul_(decay)
        sums.add_(assign.t() @ vecs, alpha=rate)
        total = usage.sum()
        smoothed = (usage + smooth) / (total + n_codes * smooth) * total
        book.weight.copy_(sums / smoothed[:, None])
        freq = assign.mean(0)
        perplexity = L.exp(-(freq * L.log(freq + 1e-10)).sum())
    return dict(idx=idx, by_cdist=by_cdist, gz=z.grad, ge=book.weight.grad, w=book.weight,
                perplexity=perplexity)


@program
def custom_functions_straight_through_round_and_sort_with_indices(L):
    """autograd.Function idioms: a straight-through round; a sort returning its indices
    marked non-differentiable, its backward scattering the gradient back."""
    class Round(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.round()

        @staticmethod
        def backward(ctx, g):
            return g

    class Sort(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            v, i = x.sort(-1)
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(i)
            return v, i

        @staticmethod
        def backward(ctx, gv, gi):
            i, = ctx.saved_tensors
            return L.zeros_like(gv).scatter(-1, i, gv)

    x = L.tensor(_arr(3, 4, scale=3, seed=27), requires_grad=True)
    r = Round.apply(x)
    v, i = Sort.apply(x * 2)
    (r * L.arange(4.).double()).sum().backward(retain_graph=True)
    g_round = x.grad.clone()
    x.grad = None
    (v * L.arange(4.).double()).sum().backward()
    return dict(r=r, v=v, i=i, i_rg=i.requires_grad, g_round=g_round, g_sort=x.grad)


@program
def ctc_speech_recognition_losses(L):
    """CTC over log-probs (T, N, C) with padded and concatenated targets, every reduction,
    zero_infinity for an impossible alignment, float32 and float64."""
    lp = L.tensor(_arr(12, 2, 5, seed=28), requires_grad=True)
    logp = lp.log_softmax(2)
    targets = L.tensor([[1, 2, 2, 3], [4, 1, 0, 0]])
    il, tl = L.tensor([12, 9]), L.tensor([4, 2])
    outs = [L.nn.functional.ctc_loss(logp, targets, il, tl, reduction=r, zero_infinity=True)
            for r in ("mean", "sum", "none")]
    flat = L.nn.functional.ctc_loss(logp, L.tensor([1, 2, 2, 3, 4, 1]), il, tl)
    module = L.nn.CTCLoss(blank=0)(logp, targets, (12, 9), (4, 2))
    (outs[0] + outs[1]).backward()
    short = L.tensor(_arr(3, 1, 4, seed=29)).log_softmax(2)
    impossible = [L.nn.functional.ctc_loss(short, L.tensor([[1, 1, 1]]), L.tensor([3]),
                                           L.tensor([3]), reduction="none", zero_infinity=z)
                  for z in (False, True)]
    lp32 = L.tensor(_arr(6, 2, 4, seed=30).astype(np.float32), requires_grad=True)
    l32 = L.nn.functional.ctc_loss(lp32.log_softmax(-1), L.tensor([[1, 2], [3, 3]]),
                                   L.tensor([6, 5]), L.tensor([2, 2]))
    l32.backward()
    return dict(outs=outs, flat=flat, module=module, g=lp.grad, impossible=impossible,
                l32=l32, g32=lp32.grad)


@program
def static_kv_cache_filled_by_index_copy_under_inference_mode(L):
    """HF-style static cache: preallocated (B, H, max_len, D) buffers written by index_copy_
    (and LLaMA's slice assignment) inside inference_mode, attention masked by position."""
    nn, F = L.nn, L.nn.functional
    b, h, d, maxlen = 1, 2, 4, 8
    wq, wk, wv = (load_seeded(L, nn.Linear(8, 8, bias=False).double(), s) for s in (1, 2, 3))
    cache_k = L.zeros(b, h, maxlen, d, dtype=L.float64)
    cache_v = L.zeros(b, h, maxlen, d, dtype=L.float64)
    cache_k2 = L.zeros(b, maxlen, h, d, dtype=L.float64)
    x = L.tensor(_arr(b, 5, 8, seed=31))
    outs, pos = [], 0
    with L.inference_mode():
        for chunk in (x[:, :3], x[:, 3:4], x[:, 4:5]):
            t = chunk.size(1)
            q, k, v = (w(chunk).view(b, t, h, d).transpose(1, 2) for w in (wq, wk, wv))
            positions = L.arange(pos, pos + t)
            cache_k.index_copy_(2, positions, k)
            cache_v.index_copy_(2, positions, v)
            cache_k2[:b, pos:pos + t] = k.transpose(1, 2)
            mask = L.arange(maxlen)[None, :] <= positions[:, None]
            outs.append(F.scaled_dot_product_attention(q, cache_k, cache_v, attn_mask=mask))
            pos += t
    return dict(outs=outs, k=cache_k, same=L.equal(cache_k2.transpose(1, 2), cache_k),
                inference=cache_k.is_inference(), refused=err(lambda: cache_k.requires_grad_()))


@program
def distance_and_complete_iou_losses(L):
    """DIoU/CIoU box regression losses (intersection written through a mask, aspect-ratio
    term by atan, its weight under no_grad)."""
    b1 = L.tensor([[0., 0., 10., 10.], [5., 5., 15., 20.]], dtype=L.float64, requires_grad=True)
    b2 = L.tensor([[1., 2., 9., 12.], [10., 0., 20., 10.]], dtype=L.float64, requires_grad=True)
    eps = 1e-7
    # pairs of boxes row by row; the overlap is written only where it is non-empty
    lo = L.max(b1[:, :2], b2[:, :2])
    hi = L.min(b1[:, 2:], b2[:, 2:])
    some = (hi > lo).all(dim=-1)
    inter = L.zeros_like(b1[:, 0])
    inter[some] = (hi[some] - lo[some]).prod(dim=-1)
    size1, size2 = b1[:, 2:] - b1[:, :2], b2[:, 2:] - b2[:, :2]          # (w, h) each
    iou = inter / (size1.prod(-1) + size2.prod(-1) - inter + eps)
    # distance term: squared centre distance over the squared diagonal of the hull
    hull = L.max(b1[:, 2:], b2[:, 2:]) - L.min(b1[:, :2], b2[:, :2])
    gap = (b1[:, :2] + b1[:, 2:]) / 2 - (b2[:, :2] + b2[:, 2:]) / 2
    diou = 1 - iou + gap.pow(2).sum(-1) / (hull.pow(2).sum(-1) + eps)
    # aspect-ratio term, its weight treated as a constant
    v = (4 / math.pi ** 2) * L.pow(L.atan(size2[:, 0] / size2[:, 1]) -
                                   L.atan(size1[:, 0] / size1[:, 1]), 2)
    with L.no_grad():
        alpha = v / (1 - iou + v + eps)
    ciou = diou + alpha * v
    ciou.sum().backward()
    return dict(iou=iou, diou=diou, ciou=ciou, g1=b1.grad, g2=b2.grad)


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    check(fn)


# the warnings' words too (the start of each message, without torch's C++ source location)
WORDED = SideBySide(rename=bare, rename_error=bare, tol=HARNESS.tol, scalar_tol=(1e-9, 1e-11),
                    warning=lambda w: bare(str(w.message).split(" (Triggered")[0])[:70])


def _sparse_graph_warnings(L):
    """sparse_coo_tensor / sparse_csr_tensor without check_invariants, CSR tensors made by
    conversions and ops, the legacy sparse constructor, sparse @ sparse."""
    e = L.tensor(EDGES[:, :6])
    coo = L.sparse_coo_tensor(e, L.ones(6), (5, 5))
    csr = L.sparse_csr_tensor(L.tensor([0, 1, 2]), L.tensor([1, 0]), L.tensor([1., 2.]), (2, 2))
    eye = L.eye(3).to_sparse_csr()
    legacy = L.sparse.FloatTensor(L.tensor([[0, 1]]), L.ones(2), L.Size([2]))
    return [coo.to_dense(), csr.to_dense(), (eye @ L.ones(3, 2)), (eye * 2).to_dense(),
            legacy.to_dense(), L.sparse.mm(coo, coo).to_dense()]


def _deprecated_call_warnings(L):
    """The scalar-first overloads and stft/istft's defaults."""
    p, g = L.ones(3), L.ones(3)
    p.add_(-0.1, g)
    L.addcmul(p, 0.5, g, g)
    x = L.tensor(WAVE[:300])
    L.stft(x, 64, return_complex=True)
    L.stft(x, 64, window=L.hann_window(64, dtype=L.float64), return_complex=False)
    L.istft(L.stft(x, 64, window=L.ones(64, dtype=L.float64), return_complex=True), 64)
    return p


def _searchsorted_copy_warnings(L):
    """NeRF's inverse-CDF sampler fed a transposed (non-contiguous) CDF and uniforms, and
    bucketize with strided boundaries: PyTorch warns that it copies them."""
    cdf = L.cumsum(L.tensor(np.abs(_arr(8, 4, seed=32))), 0).t()
    u = L.tensor(np.random.RandomState(33).rand(6, 4)).t()
    return [L.searchsorted(cdf, u, right=True), L.searchsorted(cdf.contiguous(), u),
            L.searchsorted(cdf, u.contiguous()), L.bucketize(L.tensor([2.5]), L.arange(6.)[::2]),
            L.searchsorted(L.arange(10.)[::2], 3.0)]


@pytest.mark.parametrize("fn", [_sparse_graph_warnings, _deprecated_call_warnings,
                                _searchsorted_copy_warnings],
                         ids=lambda f: f.__name__)
def test_warnings_say_what_torch_says(fn):
    WORDED.check(fn)
