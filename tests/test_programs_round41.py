"""Whole programs of round 41: kinds of third-party code the earlier rounds left out.

Dense correspondence (a RAFT-style correlation pyramid and flow warping), conformal
prediction, clustering, 3-d geometry (6-d rotations, Rodrigues, skinning, reprojection),
forecasting (N-BEATS, DeepAR), multi-label losses, learned optimizers, cellular automata,
reservoir computing, sparse autoencoders, alignment search, mixture models and probabilistic
PCA, soft rasterisation, classic image processing written in tensors (guided filtering,
Laplacian pyramids, colour spaces, block DCT, corners, photometric depth losses), point-set
sampling, relative position biases, recommenders (hashing, cross networks, in-batch
negatives), continual learning, temporal point processes, knowledge tracing, skip-gram,
blockwise attention, retention and exponential-gated recurrences, implicit surfaces with an
eikonal term, SwAV's Sinkhorn-Knopp and ATSS label assignment; training idioms (stepping in
post-accumulate-grad hooks, LR range tests), consistency models, DoRA and GPTQ, preference
losses, evidential and temperature-scaled calibration, partial convolutions, particle
filters, Fourier neural operators, DMD, CP-ALS, singular value thresholding, Laplacian
positional encodings, MC-dropout acquisition, Levenberg-Marquardt and natural gradients,
overlap-add resynthesis, Perceiver cross-attention, adaptive softmax, CTC, scatter-based graph
readouts, binarised nets under vmap, robust and classical statistics (IRLS, survival, KDE,
seasonal decomposition, Mahalanobis OOD), mixture-of-depths, token merging, differential
attention, Poincare embeddings, 2-d Gaussian splatting and test-time augmentation.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights; both must give the same values, dtypes, shapes and requires_grad, or raise
the same exception type with torch's words, and warn alike (tests/side_by_side.py).
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import labels, normal64, program_harness, registry  # noqa: E402

HARNESS = program_harness()
PROGRAMS, program = registry()


def _t(L, a, grad=False):
    """A float64 tensor of ``L`` holding the numpy array ``a``."""
    return L.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ----------------------------------------------------------------------------------------------
# dense correspondence
# ----------------------------------------------------------------------------------------------
@program
def raft_style_correlation_pyramid_lookup_and_flow_warp(L):
    """A shared conv encoder gives two feature maps; their all-pairs correlation (a batched
    matmul over channels, scaled by sqrt(C)) is pooled into a two-level pyramid, sampled in a
    3x3 window around each pixel's current flow target with grid_sample, and a small head
    turns the samples into a flow update; the second image is warped back by the flow
    (border padding) and an endpoint error plus photometric L1 is minimised for two steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(41)
    enc = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    head = nn.Conv2d(2 * 9 + 2, 2, 3, padding=1)
    enc, head = enc.double(), head.double()
    opt = L.optim.Adam(list(enc.parameters()) + list(head.parameters()), lr=1e-2)
    img1, img2 = _t(L, normal64(2, 3, 8, 8, seed=1)), _t(L, normal64(2, 3, 8, 8, seed=2))
    gt = _t(L, normal64(2, 2, 8, 8, scale=0.7, seed=3))
    B, H, W = 2, 8, 8
    ys, xs = L.meshgrid(L.arange(H, dtype=L.float64), L.arange(W, dtype=L.float64),
                        indexing="ij")
    base = L.stack([xs, ys], dim=0)[None].expand(B, -1, -1, -1)
    d = L.linspace(-1, 1, 3, dtype=L.float64)
    delta = L.stack(L.meshgrid(d, d, indexing="ij"), dim=-1).view(1, 3, 3, 2)

    def lookup(pyramid, coords):
        out = []
        centre = coords.permute(0, 2, 3, 1).reshape(B * H * W, 1, 1, 2)
        for lvl, corr in enumerate(pyramid):
            h, w = corr.shape[-2:]
            pts = centre / 2 ** lvl + delta
            grid = L.stack([2 * pts[..., 0] / (w - 1) - 1, 2 * pts[..., 1] / (h - 1) - 1], -1)
            s = F.grid_sample(corr, grid, align_corners=True)
            out.append(s.view(B, H, W, -1))
        return L.cat(out, dim=-1).permute(0, 3, 1, 2)

    losses = []
    for _ in range(2):
        f1, f2 = enc(img1), enc(img2)
        C = f1.shape[1]
        corr = f1.flatten(2).transpose(1, 2) @ f2.flatten(2) / math.sqrt(C)
        corr = corr.reshape(B * H * W, 1, H, W)
        pyramid = [corr, F.avg_pool2d(corr, 2, stride=2)]
        flow = L.zeros(B, 2, H, W, dtype=L.float64)
        for _ in range(2):
            feats = lookup(pyramid, base + flow)
            flow = flow + head(L.cat([feats, flow], dim=1))
        tgt = base + flow
        grid = L.stack([2 * tgt[:, 0] / (W - 1) - 1, 2 * tgt[:, 1] / (H - 1) - 1], dim=-1)
        warped = F.grid_sample(img2, grid, padding_mode="border", align_corners=True)
        epe = (flow - gt).pow(2).sum(1).sqrt().mean()
        loss = epe + 0.1 * (warped - img1).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses, flow, head.weight.grad, enc[0].weight.grad


# ----------------------------------------------------------------------------------------------
# uncertainty: conformal prediction
# ----------------------------------------------------------------------------------------------
@program
def split_conformal_classification_sets_and_quantile_regression(L):
    """Split conformal prediction: softmax scores of a calibration set, the nonconformity
    1 - p(true class) gathered, the finite-sample quantile level ceil((n+1)(1-a))/n taken
    with interpolation 'higher', prediction sets p >= 1 - q on a test set with their sizes
    and coverage; adaptive prediction sets from sorted cumulative probabilities; and a
    conformalised quantile regression: two pinball-loss heads trained, calibrated by the
    max of the two residuals."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(3)
    logits_cal = _t(L, normal64(40, 5, scale=2, seed=4))
    y_cal = L.tensor(labels(40, 5, seed=5))
    logits_test = _t(L, normal64(12, 5, scale=2, seed=6))
    y_test = L.tensor(labels(12, 5, seed=7))
    alpha = 0.1
    p_cal = logits_cal.softmax(-1)
    scores = 1 - p_cal.gather(1, y_cal[:, None]).squeeze(1)
    n = scores.numel()
    level = math.ceil((n + 1) * (1 - alpha)) / n
    qhat = L.quantile(scores, level, interpolation="higher")
    p_test = logits_test.softmax(-1)
    sets = p_test >= 1 - qhat
    coverage = sets[L.arange(12), y_test].float().mean()
    # adaptive prediction sets
    srt, order = p_cal.sort(dim=1, descending=True)
    cum = srt.cumsum(1)
    rank_of_true = (order == y_cal[:, None]).int().argmax(1)
    aps = cum.gather(1, rank_of_true[:, None]).squeeze(1)
    qa = L.quantile(aps, level, interpolation="higher")
    st, ot = p_test.sort(dim=1, descending=True)
    keep = (st.cumsum(1) - st) < qa
    aps_sets = L.zeros_like(keep).scatter(1, ot, keep)
    # conformalised quantile regression
    x = _t(L, normal64(60, 1, seed=8))
    y = L.sin(2 * x[:, 0]) + 0.3 * _t(L, normal64(60, seed=9))
    net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 2)).double()
    opt = L.optim.Adam(net.parameters(), lr=0.02)
    taus = L.tensor([alpha / 2, 1 - alpha / 2], dtype=L.float64)
    losses = []
    for _ in range(6):
        err = y[:40, None] - net(x[:40])
        loss = L.maximum(taus * err, (taus - 1) * err).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with L.no_grad():
        q = net(x[40:])
        e = L.maximum(q[:, 0] - y[40:], y[40:] - q[:, 1])
        corr = L.quantile(e, 0.9, interpolation="linear")
    return qhat, sets, coverage, sets.sum(1), aps_sets, losses, corr, net[0].weight.grad, \
        F.relu(q[:, 1] - q[:, 0] + 2 * corr)


# ----------------------------------------------------------------------------------------------
# clustering
# ----------------------------------------------------------------------------------------------
@program
def kmeans_farthest_first_init_lloyd_steps_and_soft_kmeans_gradients(L):
    """k-means: farthest-first seeding (argmax of the distance to the nearest chosen
    centre), Lloyd iterations with cdist, argmin assignments, centroid sums by index_add_
    and counts by bincount (an empty cluster keeps its centre), the inertia per step; then
    a soft k-means layer (softmax of -d^2 / T) whose loss is differentiated to the points
    and the temperature."""
    x = _t(L, np.concatenate([normal64(10, 2, scale=0.4, seed=s) + c for s, c in
                              ((1, [2, 0]), (2, [-2, 1]), (3, [0, -2]))]))
    k = 3
    chosen = [0]
    for _ in range(k - 1):
        dist = L.cdist(x, x[chosen]).min(dim=1).values
        chosen.append(int(dist.argmax()))
    cent = x[chosen].clone()
    inertia = []
    for _ in range(4):
        d = L.cdist(x, cent)
        assign = d.argmin(1)
        sums = L.zeros_like(cent).index_add_(0, assign, x)
        counts = L.bincount(assign, minlength=k)
        cent = L.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], cent)
        inertia.append(d.gather(1, assign[:, None]).pow(2).sum())
    pts = x.detach().clone().requires_grad_(True)
    temp = L.tensor(0.5, dtype=L.float64, requires_grad=True)
    d2 = ((pts[:, None, :] - cent[None]) ** 2).sum(-1)
    r = L.softmax(-d2 / temp, dim=1)
    soft = (r * d2).sum() + (r * r.clamp_min(1e-12).log()).sum()
    soft.backward()
    return chosen, cent, inertia, counts, assign, soft, pts.grad, temp.grad


# ----------------------------------------------------------------------------------------------
# 3-d geometry
# ----------------------------------------------------------------------------------------------
def _gram_schmidt(L, six):
    F = L.nn.functional
    a, b = six[..., :3], six[..., 3:]
    e1 = F.normalize(a, dim=-1)
    e2 = F.normalize(b - (e1 * b).sum(-1, keepdim=True) * e1, dim=-1)
    e3 = L.linalg.cross(e1, e2, dim=-1)
    return L.stack([e1, e2, e3], dim=-1)


def _rodrigues(L, aa):
    theta = aa.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    k = aa / theta
    zero = L.zeros_like(k[..., 0])
    K = L.stack([zero, -k[..., 2], k[..., 1], k[..., 2], zero, -k[..., 0],
                 -k[..., 1], k[..., 0], zero], dim=-1).view(*aa.shape[:-1], 3, 3)
    eye = L.eye(3, dtype=aa.dtype).expand_as(K)
    s, c = L.sin(theta)[..., None], L.cos(theta)[..., None]
    return eye + s * K + (1 - c) * (K @ K)


@program
def rotation_6d_regression_with_geodesic_loss_and_rodrigues_targets(L):
    """A net regressing continuous 6-d rotations made orthonormal by Gram-Schmidt (normalize,
    projection, linalg.cross), trained against Rodrigues-formula targets with the geodesic
    loss acos((tr(R1^T R2) - 1) / 2) clamped inside (-1, 1); the Rodrigues matrices are
    checked against matrix_exp of the skew matrix, and the angle error reported in degrees."""
    nn = L.nn
    L.manual_seed(6)
    net = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 6)).double()
    feats = _t(L, normal64(8, 4, seed=10))
    aa = _t(L, normal64(8, 3, scale=0.8, seed=11))
    target = _rodrigues(L, aa)
    a = aa
    zero = L.zeros_like(a[:, 0])
    skew = L.stack([zero, -a[:, 2], a[:, 1], a[:, 2], zero, -a[:, 0], -a[:, 1], a[:, 0], zero],
                   dim=1).view(-1, 3, 3)
    via_exp = L.linalg.matrix_exp(skew)
    opt = L.optim.Adam(net.parameters(), lr=5e-3)
    losses = []
    for _ in range(4):
        R = _gram_schmidt(L, net(feats))
        tr = (R.transpose(-1, -2) @ target).diagonal(dim1=-2, dim2=-1).sum(-1)
        ang = L.acos(((tr - 1) / 2).clamp(-1 + 1e-7, 1 - 1e-7))
        loss = ang.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return target, L.allclose(target, via_exp), losses, L.rad2deg(ang), \
        L.linalg.det(R), net[2].weight.grad


@program
def linear_blend_skinning_along_a_kinematic_chain_and_pinhole_reprojection(L):
    """A four-joint chain: local axis-angle rotations (Rodrigues) and bone offsets into 4x4
    transforms composed down the parent list, rest-pose inverses taken out, vertices in
    homogeneous coordinates (F.pad with 1) blended by softmax skinning weights with einsum,
    then projected by a pinhole camera (intrinsics, divide by z); the 2-d reprojection
    error is minimised over the pose and translation with Adam."""
    F = L.nn.functional
    parents = [-1, 0, 1, 1]
    offsets = _t(L, [[0, 0, 0], [0, 1, 0], [0, 1, 0], [0.5, 0.5, 0]])
    verts = _t(L, normal64(20, 3, scale=0.8, seed=12) + [0, 1, 4])
    wlog = _t(L, normal64(20, 4, seed=13))
    Kmat = _t(L, [[50, 0, 16], [0, 50, 16], [0, 0, 1]])
    pose = _t(L, normal64(4, 3, scale=0.05, seed=14), grad=True)
    trans = _t(L, [0.0, 0.0, 0.5], grad=True)
    true_pose = _t(L, normal64(4, 3, scale=0.3, seed=15))

    def world(p, t):
        R = _rodrigues(L, p)
        locs = L.cat([R, offsets[:, :, None]], dim=2)
        locs = L.cat([locs, L.tensor([[[0, 0, 0, 1.0]]], dtype=L.float64).expand(4, 1, 4)], 1)
        g = [locs[0]]
        for j in range(1, 4):
            g.append(g[parents[j]] @ locs[j])
        G = L.stack(g)
        rest = [offsets[0]]
        for j in range(1, 4):
            rest.append(rest[parents[j]] + offsets[j])
        rest = L.stack(rest)
        rest_inv = L.eye(4, dtype=L.float64).repeat(4, 1, 1)
        rest_inv[:, :3, 3] = -rest
        A = G @ rest_inv
        vh = F.pad(verts, (0, 1), value=1.0)
        Tv = L.einsum("vj,jab,vb->va", F.softmax(wlog, dim=1), A, vh)[:, :3] + t
        uvw = Tv @ Kmat.T
        return uvw[:, :2] / uvw[:, 2:]

    with L.no_grad():
        target = world(true_pose, L.zeros(3, dtype=L.float64))
    opt = L.optim.Adam([pose, trans], lr=0.02)
    losses = []
    for _ in range(5):
        loss = (world(pose, trans) - target).pow(2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return target, losses, pose, trans, pose.grad


# ----------------------------------------------------------------------------------------------
# forecasting
# ----------------------------------------------------------------------------------------------
@program
def nbeats_trend_and_seasonality_stacks_with_doubly_residual_links(L):
    """N-BEATS: fully connected blocks emitting basis coefficients; the trend basis is a
    polynomial in normalised time (powers of arange), the seasonality basis cosines and
    sines of harmonics; each block's backcast is subtracted from the input and its
    forecasts summed; a sMAPE loss trained two Adam steps."""
    nn = L.nn
    back, fore = 12, 4

    def basis_trend(n, deg):
        t = L.arange(n, dtype=L.float64) / n
        return L.stack([t ** i for i in range(deg + 1)])

    def basis_season(n, harm):
        t = L.arange(n, dtype=L.float64) / n
        k = L.arange(1, harm + 1, dtype=L.float64)[:, None]
        return L.cat([L.cos(2 * math.pi * k * t), L.sin(2 * math.pi * k * t)])

    class Block(nn.Module):
        def __init__(self, kind, size):
            super().__init__()
            self.fc = nn.Sequential(nn.Linear(back, 16), nn.ReLU(), nn.Linear(16, 16),
                                    nn.ReLU())
            self.theta = nn.Linear(16, 2 * size, bias=False)
            mk = basis_trend if kind == "trend" else basis_season
            self.register_buffer("bb", mk(back, 2))      # degree 2 (3 rows) or 2 harmonics
            self.register_buffer("bf", mk(fore, 2))

        def forward(self, x):
            tb, tf = self.theta(self.fc(x)).chunk(2, dim=-1)
            return tb @ self.bb, tf @ self.bf

    L.manual_seed(8)
    blocks = nn.ModuleList([Block("trend", 3), Block("season", 4), Block("season", 4)])
    blocks = blocks.double()
    t = np.arange(back + fore)
    series = np.stack([np.sin(2 * np.pi * t / 6 + p) + 0.1 * t + 2 for p in range(5)])
    series = _t(L, series + 0.05 * normal64(5, back + fore, seed=16))
    x, y = series[:, :back], series[:, back:]
    opt = L.optim.Adam(blocks.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        res, pred = x, 0
        for blk in blocks:
            b, f = blk(res)
            res, pred = res - b, pred + f
        smape = (2 * (pred - y).abs() / (pred.abs() + y.abs() + 1e-8)).mean()
        opt.zero_grad()
        smape.backward()
        opt.step()
        losses.append(smape.detach())
    return losses, pred, res, blocks[1].theta.weight.grad, blocks[0].bf


@program
def deepar_gaussian_likelihood_lstm_with_mean_scaling_and_greedy_rollout(L):
    """DeepAR: each series divided by its mean absolute value (plus one), an LSTM fed the
    lagged target and a covariate, a Gaussian head (mean, softplus scale) scored by
    Normal.log_prob; two Adam steps; then a rollout feeding the predicted mean back in,
    rescaled."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(9)
    lstm = nn.LSTM(2, 12, batch_first=True).double()
    head = nn.Linear(12, 2).double()
    T = 10
    t = np.arange(T + 3)
    z = _t(L, 5 + np.sin(t / 2)[None] * np.arange(1, 4)[:, None] + normal64(3, T + 3, seed=17))
    cov = _t(L, np.tile(np.cos(t / 3), (3, 1)))
    scale = z[:, :T].abs().mean(1, keepdim=True) + 1
    zs = z / scale
    opt = L.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=5e-3)
    losses = []
    for _ in range(2):
        inp = L.stack([zs[:, :T - 1], cov[:, 1:T]], dim=-1)
        h, _ = lstm(inp)
        mu, s = head(h).unbind(-1)
        sigma = F.softplus(s) + 1e-3
        nll = -L.distributions.Normal(mu, sigma).log_prob(zs[:, 1:T]).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
        losses.append(nll.detach())
    with L.no_grad():
        inp = L.stack([zs[:, :T - 1], cov[:, 1:T]], dim=-1)
        _, state = lstm(inp)
        last, preds = zs[:, T - 1], []
        for k in range(3):
            x = L.stack([last, cov[:, T + k]], dim=-1)[:, None]
            o, state = lstm(x, state)
            last = head(o[:, 0])[:, 0]
            preds.append(last)
        fc = L.stack(preds, 1) * scale
    return losses, fc, head.weight.grad, lstm.weight_hh_l0.grad


# ----------------------------------------------------------------------------------------------
# multi-label losses
# ----------------------------------------------------------------------------------------------
@program
def asymmetric_multilabel_loss_with_probability_shifting_and_detached_focusing(L):
    """The asymmetric loss (ASL) for multi-label: negatives' probabilities shifted down by a
    margin and clamped at zero, separate focusing exponents for positives and negatives
    computed on detached probabilities, log of clamped probabilities; mean average precision
    per class from a descending sort and cumulative true positives."""
    nn = L.nn
    L.manual_seed(10)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 5)).double()
    x = _t(L, normal64(16, 6, seed=18))
    y = _t(L, (normal64(16, 5, seed=19) > 0.5).astype(np.float64))
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    def asl(logits, y, gp=1.0, gn=4.0, clip=0.05, eps=1e-8):
        p = L.sigmoid(logits)
        pn = (1 - p + clip).clamp(max=1)
        lp = y * L.log(p.clamp(min=eps))
        ln = (1 - y) * L.log(pn.clamp(min=eps))
        with L.no_grad():
            pt = p * y + (1 - pn) * (1 - y)
            w = L.pow(1 - pt, gp * y + gn * (1 - y))
        return -((lp + ln) * w).sum()

    losses = []
    for _ in range(3):
        loss = asl(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    with L.no_grad():
        s = net(x)
        order = s.argsort(dim=0, descending=True)
        hits = y.gather(0, order)
        tp = hits.cumsum(0)
        prec = tp / L.arange(1, 17, dtype=L.float64)[:, None]
        ap = (prec * hits).sum(0) / hits.sum(0).clamp(min=1)
    return losses, ap, ap.mean(), net[0].weight.grad


# ----------------------------------------------------------------------------------------------
# learned optimizers
# ----------------------------------------------------------------------------------------------
@program
def coordinatewise_lstm_optimizer_meta_trained_through_unrolled_steps(L):
    """Learning to learn by gradient descent: an LSTMCell applied to each coordinate of the
    optimisee's gradient (preprocessed by log-magnitude and sign) outputs the update; the
    optimisee (a quadratic) is unrolled four steps with create_graph so that the summed
    losses train the LSTM with Adam; two meta-iterations."""
    nn = L.nn
    L.manual_seed(11)
    cell = nn.LSTMCell(2, 8).double()
    out = nn.Linear(8, 1).double()
    meta = L.optim.Adam(list(cell.parameters()) + list(out.parameters()), lr=0.01)
    W = _t(L, normal64(6, 4, seed=20))
    b = _t(L, normal64(6, seed=21))
    record = []
    for it in range(2):
        theta = L.zeros(4, dtype=L.float64, requires_grad=True)
        h = L.zeros(4, 8, dtype=L.float64)
        c = L.zeros(4, 8, dtype=L.float64)
        total = 0
        for _ in range(4):
            f = ((W @ theta - b) ** 2).sum()
            total = total + f
            (g,) = L.autograd.grad(f, theta, create_graph=True)
            pre = L.stack([L.log(g.abs() + 1e-8) / 10, L.sign(g)], dim=1)
            h, c = cell(pre, (h, c))
            theta = theta + 0.1 * out(h).squeeze(1)
        meta.zero_grad()
        total.backward()
        meta.step()
        record.append((total.detach(), theta.detach()))
    return record, out.weight.grad, cell.weight_ih.grad


# ----------------------------------------------------------------------------------------------
# cellular automata
# ----------------------------------------------------------------------------------------------
@program
def game_of_life_by_convolution_and_a_differentiable_neural_ca(L):
    """Conway's life on a torus: neighbour counts by conv2d of circularly padded boards with
    a ones kernel (centre zero), the birth and survival rules as boolean logic, a glider's
    shift checked after four generations; then a neural cellular automaton: fixed identity
    and Sobel perception filters applied depthwise, a 1x1 conv update gated by a fixed
    random mask and by the alive mask (max-pooled alpha above 0.1), trained three steps."""
    nn, F = L.nn, L.nn.functional
    board = np.zeros((1, 1, 8, 8))
    board[0, 0, 1, 2] = board[0, 0, 2, 3] = board[0, 0, 3, 1:4] = 1
    b = _t(L, board)
    k = L.ones(1, 1, 3, 3, dtype=L.float64)
    k[0, 0, 1, 1] = 0
    boards = []
    for _ in range(4):
        n = F.conv2d(F.pad(b, (1, 1, 1, 1), mode="circular"), k)
        alive = b > 0.5
        b = ((n == 3) | (alive & (n == 2))).double()
        boards.append(b[0, 0].sum())
    shifted = L.equal(b, L.roll(_t(L, board), shifts=(1, 1), dims=(2, 3)))
    # neural CA
    ch = 4
    ident = L.tensor([[0, 0, 0], [0, 1.0, 0], [0, 0, 0]], dtype=L.float64)
    sx = L.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1.0]], dtype=L.float64) / 8
    filt = L.stack([ident, sx, sx.T]).repeat(ch, 1, 1)[:, None]
    L.manual_seed(12)
    upd = nn.Sequential(nn.Conv2d(3 * ch, 16, 1), nn.ReLU(), nn.Conv2d(16, ch, 1)).double()
    with L.no_grad():
        upd[2].weight.mul_(0.1)
    seed_state = L.zeros(1, ch, 8, 8, dtype=L.float64)
    seed_state[:, 3:, 4, 4] = 1
    target = _t(L, (normal64(1, ch, 8, 8, seed=22) > 0).astype(np.float64))
    masks = [_t(L, (normal64(1, 1, 8, 8, seed=30 + i) > 0).astype(np.float64))
             for i in range(3)]
    opt = L.optim.Adam(upd.parameters(), lr=2e-3)
    losses = []
    for _ in range(3):
        s = seed_state
        for m in masks:
            pre = F.max_pool2d(s[:, 3:4], 3, 1, 1) > 0.1
            p = F.conv2d(F.pad(s, (1, 1, 1, 1), mode="circular"), filt, groups=ch)
            s = s + upd(p) * m
            post = F.max_pool2d(s[:, 3:4], 3, 1, 1) > 0.1
            s = s * (pre & post).double()
        loss = F.mse_loss(s, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return boards, shifted, b, losses, s, upd[0].weight.grad


# ----------------------------------------------------------------------------------------------
# reservoir computing
# ----------------------------------------------------------------------------------------------
@program
def echo_state_network_with_spectral_radius_scaling_and_ridge_readout(L):
    """An echo state network: a random reservoir rescaled to spectral radius 0.9 (the
    largest |eigvals|), leaky tanh updates driven by a sine input, washout dropped, a ridge
    readout solved by linalg.solve on the normal equations and by lstsq on an augmented
    system; one-step-ahead predictions and their error."""
    Wr = _t(L, normal64(20, 20, seed=23))
    Wr = Wr * (0.9 / L.linalg.eigvals(Wr).abs().max())
    Win = _t(L, normal64(20, 1, scale=0.5, seed=24))
    u = L.sin(L.arange(80, dtype=L.float64) / 4)[:, None]
    h = L.zeros(20, dtype=L.float64)
    states = []
    for t in range(79):
        h = 0.7 * h + 0.3 * L.tanh(Wr @ h + Win @ u[t])
        states.append(h)
    X = L.stack(states)[10:]
    Y = u[11:]
    lam = 1e-4
    A = X.T @ X + lam * L.eye(20, dtype=L.float64)
    w1 = L.linalg.solve(A, X.T @ Y)
    Xa = L.cat([X, math.sqrt(lam) * L.eye(20, dtype=L.float64)])
    Ya = L.cat([Y, L.zeros(20, 1, dtype=L.float64)])
    w2 = L.linalg.lstsq(Xa, Ya).solution
    pred = X @ w1
    return L.linalg.eigvals(Wr).abs().max(), w1, L.allclose(w1, w2, atol=1e-6), \
        ((pred - Y) ** 2).mean(), X[-1]


# ----------------------------------------------------------------------------------------------
# interpretability: sparse autoencoders
# ----------------------------------------------------------------------------------------------
@program
def topk_sparse_autoencoder_with_unit_norm_decoder_and_dead_latent_counts(L):
    """A top-k sparse autoencoder on activations: pre-encoder bias subtracted, ReLU of the
    encoder, only the k largest latents kept (topk, then scatter into zeros), a decoder whose
    columns are renormalised after each step and whose gradient has its component parallel to
    each column removed before the step; steps since each latent last fired are counted."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(13)
    d, m, k = 6, 16, 3
    enc = nn.Linear(d, m).double()
    dec = nn.Linear(m, d, bias=False).double()
    with L.no_grad():
        dec.weight.copy_(F.normalize(dec.weight, dim=0))
    b_pre = nn.Parameter(L.zeros(d, dtype=L.float64))
    acts = _t(L, normal64(32, d, seed=25))
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()) + [b_pre], lr=1e-2)
    since = L.zeros(m, dtype=L.long)
    losses = []
    for _ in range(3):
        pre = F.relu(enc(acts - b_pre))
        vals, idx = pre.topk(k, dim=-1)
        z = L.zeros_like(pre).scatter(-1, idx, vals)
        recon = dec(z) + b_pre
        loss = (recon - acts).pow(2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        with L.no_grad():
            Wd = dec.weight
            dec.weight.grad -= (dec.weight.grad * Wd).sum(0, keepdim=True) * Wd
        opt.step()
        with L.no_grad():
            dec.weight.div_(dec.weight.norm(dim=0, keepdim=True))
        fired = (z > 0).any(0)
        since = L.where(fired, L.zeros_like(since), since + 1)
        losses.append(loss.detach())
    return losses, since, z.count_nonzero(dim=-1), dec.weight.norm(dim=0), enc.weight.grad



# ----------------------------------------------------------------------------------------------
# alignment and sequence likelihoods
# ----------------------------------------------------------------------------------------------
@program
def monotonic_alignment_search_and_duration_targets_for_a_tts_aligner(L):
    """Glow-TTS's monotonic alignment search: Gaussian log-likelihoods of mel frames under
    each text token's mean (cdist squared), a dynamic programme over frames taking the max of
    staying on a token or advancing from the previous one (a shifted column with -inf
    padding), a backtrack to a hard path, durations as its column sums, and a loss of the
    log-likelihood under the path plus a duration regression on log durations."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(14)
    proj = nn.Linear(5, 3).double()
    dur_head = nn.Linear(5, 1).double()
    text = _t(L, normal64(4, 5, seed=26))
    mel = _t(L, normal64(9, 3, seed=27))
    mu = proj(text)
    logp = -0.5 * L.cdist(mu, mel).pow(2) - 0.5 * 3 * math.log(2 * math.pi)
    with L.no_grad():
        T, S = logp.shape
        value = L.full((T, S), -math.inf, dtype=L.float64)
        value[0, 0] = logp[0, 0]
        for j in range(1, S):
            prev = value[:, j - 1]
            shifted = F.pad(prev[:-1], (1, 0), value=-math.inf)
            value[:, j] = L.maximum(prev, shifted) + logp[:, j]
        path = L.zeros(T, S, dtype=L.float64)
        i = T - 1
        for j in range(S - 1, -1, -1):
            path[i, j] = 1
            if i > 0 and (i == j or value[i, j - 1] < value[i - 1, j - 1]):
                i -= 1
    durations = path.sum(1)
    mle = -(logp * path).sum() / S
    dur_loss = F.mse_loss(dur_head(text).squeeze(-1), L.log(durations + 1))
    (mle + dur_loss).backward()
    return value[-1, -1], path, durations, mle, dur_loss, proj.weight.grad, dur_head.bias.grad


@program
def hmm_forward_backward_posteriors_and_one_baum_welch_update(L):
    """A discrete hidden Markov model in log space: forward and backward recursions by
    logsumexp over the previous state, state posteriors and pairwise transition posteriors,
    a Baum-Welch re-estimate of the start, transition and emission tables (emission counts
    by one_hot), the sequence log-likelihood before and after, and its gradient to the raw
    (log_softmax-normalised) parameters."""
    F = L.nn.functional
    S, V = 3, 4
    obs = L.tensor([0, 1, 3, 2, 2, 1, 0, 3, 3, 1])
    raw_pi = _t(L, normal64(S, seed=28), grad=True)
    raw_A = _t(L, normal64(S, S, seed=29), grad=True)
    raw_B = _t(L, normal64(S, V, seed=30), grad=True)

    def passes(lpi, lA, lB):
        Tn = obs.shape[0]
        alphas = [lpi + lB[:, obs[0]]]
        for t in range(1, Tn):
            alphas.append(L.logsumexp(alphas[-1][:, None] + lA, dim=0) + lB[:, obs[t]])
        betas = [L.zeros(S, dtype=L.float64)]
        for t in range(Tn - 1, 0, -1):
            betas.insert(0, L.logsumexp(lA + (lB[:, obs[t]] + betas[0])[None, :], dim=1))
        return L.stack(alphas), L.stack(betas)

    lpi, lA, lB = F.log_softmax(raw_pi, 0), F.log_softmax(raw_A, 1), F.log_softmax(raw_B, 1)
    la, lb = passes(lpi, lA, lB)
    loglik = L.logsumexp(la[-1], 0)
    loglik.backward()
    with L.no_grad():
        gamma = (la + lb - loglik).exp()
        xi = (la[:-1, :, None] + lA[None] + (lB[:, obs[1:]].T + lb[1:])[:, None, :] -
              loglik).exp()
        new_pi = gamma[0]
        new_A = xi.sum(0) / gamma[:-1].sum(0)[:, None]
        new_B = gamma.T @ F.one_hot(obs, V).double() / gamma.sum(0)[:, None]
        la2, _ = passes(new_pi.log(), new_A.log(), new_B.log())
        loglik2 = L.logsumexp(la2[-1], 0)
    return loglik, loglik2, gamma, new_A, new_B, raw_A.grad, raw_B.grad, raw_pi.grad


# ----------------------------------------------------------------------------------------------
# latent-variable models fitted in tensors
# ----------------------------------------------------------------------------------------------
@program
def gaussian_mixture_em_with_full_covariances_and_a_gradient_check(L):
    """EM for a two-dimensional Gaussian mixture: E-step log-responsibilities from
    MultivariateNormal(scale_tril=cholesky(cov)).log_prob plus log weights, normalised by
    logsumexp; M-step weights, means and covariances (weighted outer products by einsum, a
    small jitter); the log-likelihood each step; then the negative log-likelihood
    differentiated to the means and a covariance factor."""
    D = L.distributions
    x = _t(L, np.concatenate([normal64(15, 2, scale=0.5, seed=31) + [1, 1],
                              normal64(15, 2, scale=0.3, seed=32) - [1, 0.5]]))
    K = 2
    w = L.full((K,), 1.0 / K, dtype=L.float64)
    mu = x[[0, 20]].clone()
    cov = L.eye(2, dtype=L.float64).repeat(K, 1, 1)
    ll = []
    for _ in range(4):
        comp = D.MultivariateNormal(mu, scale_tril=L.linalg.cholesky(cov))
        lp = comp.log_prob(x[:, None, :]) + w.log()
        norm = L.logsumexp(lp, dim=1, keepdim=True)
        ll.append(norm.sum())
        r = (lp - norm).exp()
        nk = r.sum(0)
        w = nk / nk.sum()
        mu = (r.T @ x) / nk[:, None]
        diff = x[:, None, :] - mu[None]
        cov = L.einsum("nk,nki,nkj->kij", r, diff, diff) / nk[:, None, None] + \
            1e-6 * L.eye(2, dtype=L.float64)
    m = mu.clone().requires_grad_(True)
    tril = L.linalg.cholesky(cov).clone().requires_grad_(True)
    mix = D.MixtureSameFamily(D.Categorical(probs=w), D.MultivariateNormal(m, scale_tril=tril))
    nll = -mix.log_prob(x).mean()
    nll.backward()
    return ll, w, mu, cov, nll, m.grad, tril.grad


@program
def probabilistic_pca_by_marginal_likelihood_against_the_eigh_solution(L):
    """Probabilistic PCA: the marginal covariance W W^T + s^2 I, its log-likelihood by
    Cholesky (log-determinant from the diagonal, the quadratic form by cholesky_solve) and by
    slogdet and solve; W and log s fitted by Adam; the closed-form maximum-likelihood
    solution from eigh of the sample covariance for comparison."""
    rng = np.random.RandomState(33)
    Z = rng.randn(50, 2)
    Wt = rng.randn(5, 2)
    X = _t(L, Z @ Wt.T + 0.3 * rng.randn(50, 5))
    Xc = X - X.mean(0)
    S = Xc.T @ Xc / 50
    Wp = _t(L, normal64(5, 2, scale=0.5, seed=34), grad=True)
    logs = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    opt = L.optim.Adam([Wp, logs], lr=0.05)
    eye = L.eye(5, dtype=L.float64)
    record = []
    for step in range(5):
        C = Wp @ Wp.T + L.exp(2 * logs) * eye
        if step % 2 == 0:
            Lc = L.linalg.cholesky(C)
            logdet = 2 * Lc.diagonal().log().sum()
            quad = (Xc * L.cholesky_solve(Xc.T, Lc).T).sum() / 50
        else:
            sign, logdet = L.linalg.slogdet(C)
            quad = L.trace(L.linalg.solve(C, S))
        nll = 0.5 * (logdet + quad + 5 * math.log(2 * math.pi))
        opt.zero_grad()
        nll.backward()
        opt.step()
        record.append(nll.detach())
    evals, evecs = L.linalg.eigh(S)
    evals, evecs = evals.flip(0), evecs.flip(1)
    s2 = evals[2:].mean()
    W_ml = evecs[:, :2] * (evals[:2] - s2).sqrt()
    return record, Wp, logs, s2, W_ml @ W_ml.T, Wp.grad


# ----------------------------------------------------------------------------------------------
# differentiable rendering
# ----------------------------------------------------------------------------------------------
@program
def soft_rasterised_circles_fitted_to_a_target_image(L):
    """A soft rasteriser of coloured discs: per-pixel coverage sigmoid((r - |p - c|) / tau)
    over a meshgrid of pixel centres, composited front to back by the cumulative product of
    transmittance (cumprod with a leading one), colours mixed by the resulting weights plus
    the background; centres, radii (softplus) and colours fitted to a target by Adam."""
    F = L.nn.functional
    H = W = 12
    ys, xs = L.meshgrid(L.arange(H, dtype=L.float64) + 0.5, L.arange(W, dtype=L.float64) + 0.5,
                        indexing="ij")
    pix = L.stack([xs, ys], -1)

    def render(centres, rad, col, tau=0.7):
        d = (pix[None] - centres[:, None, None, :]).norm(dim=-1)
        a = L.sigmoid((F.softplus(rad)[:, None, None] - d) / tau)
        trans = L.cumprod(F.pad(1 - a, (0, 0, 0, 0, 1, 0), value=1.0), dim=0)
        wts = a * trans[:-1]
        bg = trans[-1]
        return L.einsum("khw,kc->hwc", wts, L.sigmoid(col)) + bg[..., None] * 0.2

    with L.no_grad():
        target = render(_t(L, [[4, 4], [8, 7], [6, 9]]), _t(L, [2.5, 3.0, 2.0]),
                        _t(L, [[3, -3, -3], [-3, 3, -3], [-3, -3, 3]]))
    centres = _t(L, [[5, 5], [7, 6], [6, 8]], grad=True)
    rad = _t(L, [1.5, 1.5, 1.5], grad=True)
    col = _t(L, normal64(3, 3, seed=35), grad=True)
    opt = L.optim.Adam([centres, rad, col], lr=0.1)
    losses = []
    for _ in range(4):
        loss = (render(centres, rad, col) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return target[::3, ::3], losses, centres, rad.grad, col.grad


# ----------------------------------------------------------------------------------------------
# classic image processing written in tensors
# ----------------------------------------------------------------------------------------------
def _box(L, x, r):
    """Mean over (2r+1)^2 windows clipped at the border, by cumulative sums and differences."""
    F = L.nn.functional
    H, W = x.shape[-2:]

    def along(t, dim, n):
        c = F.pad(t.cumsum(dim), (0, 0, 1, 0) if dim == -2 else (1, 0))
        idx = L.arange(n)
        hi, lo = (idx + r + 1).clamp(max=n), (idx - r).clamp(min=0)
        return c.index_select(dim, hi) - c.index_select(dim, lo)

    ones = L.ones(1, 1, H, W, dtype=x.dtype)
    count = along(along(ones, -2, H), -1, W)
    return along(along(x, -2, H), -1, W) / count


@program
def guided_filter_from_box_means_by_cumulative_sums(L):
    """He's guided filter: box means by cumulative sums along each axis with index_select
    differences and a count map for the border, the local linear coefficients
    a = cov(I, p) / (var(I) + eps) and b, averaged and applied; the result compared with a
    box filter by avg_pool2d on the interior, and differentiated to the input and guide."""
    F = L.nn.functional
    I = _t(L, normal64(2, 1, 9, 10, seed=36), grad=True)
    p = _t(L, normal64(2, 1, 9, 10, seed=37), grad=True)
    r, eps = 2, 1e-2
    mI, mp = _box(L, I, r), _box(L, p, r)
    cov = _box(L, I * p, r) - mI * mp
    var = _box(L, I * I, r) - mI * mI
    a = cov / (var + eps)
    b = mp - a * mI
    q = _box(L, a, r) * I + _box(L, b, r)
    interior = F.avg_pool2d(p, 2 * r + 1, stride=1)
    same = L.allclose(_box(L, p, r)[..., r:-r, r:-r], interior)
    (q.pow(2).mean() + q[:, :, ::2].sum()).backward()
    return q, same, I.grad, p.grad


def _gauss_kernel(L, ch):
    k1 = L.tensor([1.0, 4, 6, 4, 1], dtype=L.float64) / 16
    return (k1[:, None] * k1[None, :]).expand(ch, 1, 5, 5)


@program
def laplacian_pyramid_l1_loss_with_reflect_padded_gaussian_blur(L):
    """A Laplacian pyramid loss: a 5x5 binomial blur applied depthwise on reflect-padded
    images, downsampling by strided slicing, upsampling by zero-insertion (a transposed conv
    with stride 2) and the same blur times four, band-pass levels as differences; L1 between
    the pyramids weighted 2^(level) and differentiated to the image."""
    F = L.nn.functional
    k = _gauss_kernel(L, 3)

    def blur(x):
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=3)

    def up(x):
        z = F.conv_transpose2d(x, L.ones(3, 1, 1, 1, dtype=L.float64), stride=2, groups=3)
        z = F.pad(z, (0, 1, 0, 1))
        return blur(z) * 4

    def pyramid(x, levels=3):
        out = []
        for _ in range(levels):
            low = blur(x)[..., ::2, ::2]
            out.append(x - up(low)[..., :x.shape[-2], :x.shape[-1]])
            x = low
        return out + [x]

    img = _t(L, normal64(2, 3, 16, 16, seed=38), grad=True)
    ref = _t(L, normal64(2, 3, 16, 16, seed=39))
    pa, pb = pyramid(img), pyramid(ref)
    loss = sum(2 ** i * (a - b).abs().mean() for i, (a, b) in enumerate(zip(pa, pb)))
    loss.backward()
    return [t.shape for t in pa], pa[1][0, 0], loss, img.grad


@program
def rgb_to_hsv_and_cielab_colour_losses(L):
    """Colour spaces in tensors: RGB to HSV with max/min over channels, a hue piecewise by
    which channel is the maximum (where) and wrapped by remainder; sRGB to linear by the
    piecewise power curve, to XYZ by a matrix, to CIELAB by a cube root with the linear
    toe; a delta-E loss and a hue-saturation loss differentiated to the image."""
    img = L.sigmoid(_t(L, normal64(2, 3, 4, 5, seed=40))).detach().requires_grad_(True)
    ref = L.sigmoid(_t(L, normal64(2, 3, 4, 5, seed=41)))

    def hsv(x):
        r, g, b = x.unbind(1)
        mx, argmx = x.max(1)
        mn = x.min(1).values
        delta = mx - mn
        safe = L.where(delta > 0, delta, L.ones_like(delta))
        h = L.where(argmx == 0, ((g - b) / safe).remainder(6),
                    L.where(argmx == 1, (b - r) / safe + 2, (r - g) / safe + 4))
        h = L.where(delta > 0, h / 6, L.zeros_like(h))
        s = L.where(mx > 0, delta / mx.clamp(min=1e-12), L.zeros_like(mx))
        return L.stack([h, s, mx], 1)

    def lab(x):
        lin = L.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
        M = L.tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                      [0.0193, 0.1192, 0.9505]], dtype=L.float64)
        xyz = L.einsum("ij,bjhw->bihw", M, lin)
        xyz = xyz / L.tensor([0.9505, 1.0, 1.089], dtype=L.float64)[:, None, None]
        eps = 216 / 24389
        f = L.where(xyz > eps, xyz.clamp(min=eps) ** (1 / 3), (24389 / 27 * xyz + 16) / 116)
        fx, fy, fz = f.unbind(1)
        return L.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], 1)

    h1, h2 = hsv(img), hsv(ref)
    de = (lab(img) - lab(ref)).pow(2).sum(1).add(1e-12).sqrt().mean()
    hs = (h1[:, 1:] - h2[:, 1:]).abs().mean()
    (de + hs).backward()
    return h1, lab(ref), de, hs, img.grad


@program
def jpeg_like_block_dct_quantisation_with_straight_through_rounding(L):
    """A differentiable JPEG: 8x8 blocks cut by unfold (F.unfold), an orthonormal DCT-II
    matrix built from cosines applied on both sides, division by a quality-scaled table,
    rounding with a straight-through estimator (x + (round(x) - x).detach()), the inverse
    transform and F.fold back; the reconstruction error and the blocks' zero counts, and
    gradients to the image and the table."""
    F = L.nn.functional
    n = 8
    i = L.arange(n, dtype=L.float64)
    D = L.cos((2 * i[None, :] + 1) * i[:, None] * math.pi / (2 * n)) * math.sqrt(2 / n)
    D[0] = D[0] / math.sqrt(2)
    table = (1 + i[:, None] + i[None, :]).mul(2.0).requires_grad_(True)
    img = _t(L, 40 * normal64(1, 1, 16, 24, seed=42), grad=True)
    blocks = F.unfold(img, kernel_size=8, stride=8)
    nb = blocks.shape[-1]
    B = blocks.transpose(1, 2).reshape(-1, n, n)
    coef = D @ B @ D.T
    q = coef / table
    qr = q + (L.round(q) - q).detach()
    rec = D.T @ (qr * table) @ D
    out = F.fold(rec.reshape(1, nb, n * n).transpose(1, 2), (16, 24), kernel_size=8, stride=8)
    err = (out - img).pow(2).mean()
    err.backward()
    return L.allclose(D @ D.T, L.eye(n, dtype=L.float64)), (L.round(q) == 0).sum((1, 2)), \
        err, img.grad[0, 0, :3], table.grad


@program
def harris_corners_with_sobel_structure_tensor_and_max_pool_suppression(L):
    """Harris corners: Sobel derivatives by conv2d with replicate padding, the structure
    tensor's entries blurred by a Gaussian window, the response det - k tr^2, non-maximum
    suppression by comparing with max_pool2d (3x3, stride 1), the strongest four corners'
    rows and columns from topk on the flattened map (floor division and remainder); the
    response's sum differentiated to the image."""
    F = L.nn.functional
    img = L.zeros(1, 1, 12, 12, dtype=L.float64)
    img[..., 3:8, 2:9] = 1
    img = img + _t(L, 0.05 * normal64(1, 1, 12, 12, seed=43))
    img.requires_grad_(True)
    sx = L.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1.0]], dtype=L.float64)
    k = L.stack([sx, sx.T])[:, None]
    g = F.conv2d(F.pad(img, (1, 1, 1, 1), mode="replicate"), k)
    Ix, Iy = g[:, :1], g[:, 1:]
    gw = L.exp(-(L.arange(-2, 3, dtype=L.float64) ** 2) / 2)
    gw = (gw[:, None] * gw[None]) / (gw.sum() ** 2)
    st = F.conv2d(L.cat([Ix * Ix, Iy * Iy, Ix * Iy], 1), gw.expand(3, 1, 5, 5), padding=2,
                  groups=3)
    a, b, c = st.unbind(1)
    resp = a * b - c * c - 0.05 * (a + b) ** 2
    peak = resp == F.max_pool2d(resp[:, None], 3, stride=1, padding=1)[:, 0]
    sup = L.where(peak, resp, L.zeros_like(resp))
    vals, idx = sup.flatten().topk(4)
    rows, cols = idx // 12, idx % 12
    resp.sum().backward()
    return vals, rows, cols, peak.sum(), img.grad[0, 0, 2:6, 1:5]


@program
def monodepth_photometric_ssim_l1_loss_with_edge_aware_smoothness_and_automask(L):
    """Self-supervised depth: a tiny net predicts disparity (sigmoid scaled to a depth
    range), pixels are back-projected with the inverse intrinsics, moved by a relative pose,
    projected into two source frames and sampled with grid_sample; the photometric error
    mixes SSIM (3x3 avg_pool2d on reflection-padded maps) and L1 with weights 0.85/0.15, the
    per-pixel minimum over sources, automasking against the unwarped error, and an
    edge-aware smoothness of mean-normalised disparity weighted by exp(-|image gradient|)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(15)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ELU(), nn.Conv2d(8, 1, 3, padding=1),
                        nn.Sigmoid()).double()
    B, H, W = 1, 8, 10
    tgt = _t(L, normal64(B, 3, H, W, seed=44))
    srcs = [_t(L, normal64(B, 3, H, W, seed=45 + s)) for s in range(2)]
    K = _t(L, [[8, 0, 5], [0, 8, 4], [0, 0, 1]])
    Kinv = L.linalg.inv(K)
    poses = [_t(L, [[1, 0, 0, 0.1], [0, 1, 0, 0.0], [0, 0, 1, 0.05]]),
             _t(L, [[1, 0, 0, -0.1], [0, 1, 0, 0.02], [0, 0, 1, -0.05]])]
    ys, xs = L.meshgrid(L.arange(H, dtype=L.float64), L.arange(W, dtype=L.float64),
                        indexing="ij")
    pix = L.stack([xs, ys, L.ones_like(xs)]).view(3, -1)

    def ssim(x, y):
        x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
        mx, my = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
        sx = F.avg_pool2d(x * x, 3, 1) - mx ** 2
        sy = F.avg_pool2d(y * y, 3, 1) - my ** 2
        sxy = F.avg_pool2d(x * y, 3, 1) - mx * my
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        n = (2 * mx * my + c1) * (2 * sxy + c2)
        d = (mx ** 2 + my ** 2 + c1) * (sx + sy + c2)
        return ((1 - n / d) / 2).clamp(0, 1)

    def photo(a, b):
        return 0.85 * ssim(a, b).mean(1, keepdim=True) + 0.15 * (a - b).abs().mean(1, True)

    disp = net(tgt)
    depth = 1 / (0.01 + (10 - 0.01) * disp)
    cam = (Kinv @ pix) * depth.view(B, 1, -1)
    camh = L.cat([cam, L.ones(B, 1, H * W, dtype=L.float64)], 1)
    errs, ident = [], []
    for src, T in zip(srcs, poses):
        p = K @ (T @ camh)
        uv = p[:, :2] / (p[:, 2:] + 1e-7)
        grid = L.stack([uv[:, 0] / (W - 1) * 2 - 1, uv[:, 1] / (H - 1) * 2 - 1], -1)
        warped = F.grid_sample(src, grid.view(B, H, W, 2), padding_mode="border",
                               align_corners=False)
        errs.append(photo(warped, tgt))
        ident.append(photo(src, tgt))
    reproj = L.cat(errs, 1).min(1, keepdim=True).values
    idm = L.cat(ident, 1).min(1, keepdim=True).values
    mask = (reproj < idm).double()
    nd = disp / (disp.mean((2, 3), keepdim=True) + 1e-7)
    gdx = (nd[..., :, 1:] - nd[..., :, :-1]).abs()
    gdy = (nd[..., 1:, :] - nd[..., :-1, :]).abs()
    gix = (tgt[..., :, 1:] - tgt[..., :, :-1]).abs().mean(1, keepdim=True)
    giy = (tgt[..., 1:, :] - tgt[..., :-1, :]).abs().mean(1, keepdim=True)
    smooth = (gdx * L.exp(-gix)).mean() + (gdy * L.exp(-giy)).mean()
    loss = (reproj * mask).sum() / mask.sum().clamp(min=1) + 1e-3 * smooth
    loss.backward()
    return reproj, mask.sum(), smooth, loss, net[0].weight.grad, net[2].bias.grad


# ----------------------------------------------------------------------------------------------
# point sets
# ----------------------------------------------------------------------------------------------
@program
def pointnet2_farthest_point_sampling_ball_query_grouping_and_set_abstraction(L):
    """PointNet++ set abstraction: farthest point sampling per cloud (a loop of distance
    minima and argmax, batched), ball query by squared distances within a radius (indices
    past the radius replaced by N, sorted, the first k kept, holes filled with the first
    hit), grouped local coordinates gathered by advanced indexing, a shared MLP of 1x1
    Conv2d layers with BatchNorm and max pooling over neighbours; a classifier trained."""
    nn, F = L.nn, L.nn.functional
    B, N, S, K = 2, 24, 6, 4
    xyz = _t(L, normal64(B, N, 3, seed=47))
    y = L.tensor([1, 0])

    def fps(p, m):
        dist = L.full((B, N), 1e10, dtype=L.float64)
        far = L.zeros(B, dtype=L.long)
        out = []
        ar = L.arange(B)
        for _ in range(m):
            out.append(far)
            c = p[ar, far][:, None]
            dist = L.minimum(dist, ((p - c) ** 2).sum(-1))
            far = dist.argmax(-1)
        return L.stack(out, 1)

    idx = fps(xyz, S)
    centres = xyz[L.arange(B)[:, None], idx]
    d2 = ((centres[:, :, None] - xyz[:, None]) ** 2).sum(-1)
    gi = L.arange(N).view(1, 1, N).repeat(B, S, 1)
    gi[d2 > 0.8 ** 2] = N
    gi = gi.sort(dim=-1).values[:, :, :K]
    first = gi[:, :, :1].expand(-1, -1, K)
    gi = L.where(gi == N, first, gi)
    grouped = xyz[L.arange(B)[:, None, None], gi] - centres[:, :, None]
    L.manual_seed(16)
    mlp = nn.Sequential(nn.Conv2d(3, 8, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16),
                        nn.ReLU()).double()
    head = nn.Linear(16, 2).double()
    opt = L.optim.Adam(list(mlp.parameters()) + list(head.parameters()), lr=1e-2)
    losses = []
    for _ in range(2):
        feat = mlp(grouped.permute(0, 3, 2, 1)).max(dim=2).values
        loss = F.cross_entropy(head(feat.max(-1).values), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return idx, gi, centres, losses, mlp[3].weight.grad, mlp[1].running_mean



# ----------------------------------------------------------------------------------------------
# attention position biases
# ----------------------------------------------------------------------------------------------
def _t5_bucket(L, rel, bidirectional, nb=8, max_distance=16):
    """T5's bucket of each relative position: exact buckets for small distances, then
    logarithmically wider ones up to max_distance; half the buckets per sign when
    bidirectional, only the past when not."""
    out = L.zeros_like(rel)
    if bidirectional:
        nb //= 2
        out = out + (rel > 0).long() * nb
        n = rel.abs()
    else:
        n = -L.clamp(rel, max=0)
    exact = nb // 2
    small = n < exact
    big = exact + (L.log(n.double() / exact) / math.log(max_distance / exact) *
                   (nb - exact)).long()
    big = L.clamp(big, max=nb - 1)
    return out + L.where(small, n, big)


@program
def t5_relative_position_buckets_as_a_learned_attention_bias(L):
    """T5 attention: relative positions (memory minus query) put in logarithmic buckets,
    both the bidirectional encoder kind and the causal decoder kind, an Embedding of one
    bias per bucket and head added to unscaled scores, a causal mask by masked_fill in the
    decoder; a two-step fit of the bias table and projections."""
    nn, F = L.nn, L.nn.functional
    Tq = 12
    ctx = L.arange(Tq)[:, None]
    mem = L.arange(Tq)[None, :]
    enc_b = _t5_bucket(L, mem - ctx, True)
    dec_b = _t5_bucket(L, mem - ctx, False)
    L.manual_seed(17)
    heads, dh = 2, 4
    bias = nn.Embedding(8, heads).double()
    qkv = nn.Linear(8, 3 * heads * dh, bias=False).double()
    x = _t(L, normal64(2, Tq, 8, seed=48))
    target = _t(L, normal64(2, Tq, heads * dh, seed=49))
    opt = L.optim.Adafactor(list(bias.parameters()) + list(qkv.parameters()), lr=0.01)
    losses = []
    causal = L.ones(Tq, Tq, dtype=L.bool).triu(1)
    for step in range(2):
        q, k, v = qkv(x).view(2, Tq, 3, heads, dh).permute(2, 0, 3, 1, 4)
        out = []
        for buckets, masked in ((enc_b, False), (dec_b, True)):
            sc = q @ k.transpose(-1, -2) + bias(buckets).permute(2, 0, 1)[None]
            if masked:
                sc = sc.masked_fill(causal, float("-inf"))
            out.append((F.softmax(sc, -1) @ v).transpose(1, 2).reshape(2, Tq, -1))
        loss = F.mse_loss(out[0] + out[1], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return enc_b, dec_b, losses, bias.weight.grad, bias.weight


# ----------------------------------------------------------------------------------------------
# recommenders
# ----------------------------------------------------------------------------------------------
@program
def hashed_categorical_features_in_embedding_bags_and_a_dcn_v2_cross_network(L):
    """A CTR model: raw ids hashed into buckets by multiply-and-modulo, multi-hot fields pooled
    by EmbeddingBag (mode 'sum' with per-sample weights, offsets marking each row's bag),
    single-valued fields looked up by Embedding, dense features appended; a DCN-v2 cross
    network x_{l+1} = x0 * (W x_l + b) + x_l beside a deep tower; BCE-with-logits with a
    positive weight, Adagrad for three steps, and the AUC by pairwise comparison."""
    nn, F = L.nn, L.nn.functional
    buckets = 13
    raw_multi = L.tensor([1001, 2002, 3003, 4004, 5005, 6006, 7007, 8008, 9009, 1111])
    offsets = L.tensor([0, 2, 3, 6, 6, 8])
    psw = _t(L, np.abs(normal64(10, seed=50)))
    raw_single = L.tensor([[12345, 77], [555, 78], [12345, 79], [8, 77], [9, 78], [10, 79]])
    dense = _t(L, normal64(6, 3, seed=51))
    y = _t(L, [1, 0, 0, 1, 0, 1])
    hashed = (raw_multi * 2654435761) % buckets
    hs = (raw_single * 40503) % buckets
    L.manual_seed(18)
    bag = nn.EmbeddingBag(buckets, 4, mode="sum").double()
    emb = nn.Embedding(buckets, 4).double()
    dim = 4 + 8 + 3
    cross_w = nn.ModuleList([nn.Linear(dim, dim) for _ in range(2)]).double()
    deep = nn.Sequential(nn.Linear(dim, 8), nn.ReLU()).double()
    out = nn.Linear(dim + 8, 1).double()
    mods = nn.ModuleList([bag, emb, cross_w, deep, out])
    opt = L.optim.Adagrad(mods.parameters(), lr=0.1, initial_accumulator_value=0.1)
    losses = []
    for _ in range(3):
        x0 = L.cat([bag(hashed, offsets, per_sample_weights=psw), emb(hs).flatten(1), dense], 1)
        xl = x0
        for lin in cross_w:
            xl = x0 * lin(xl) + xl
        logit = out(L.cat([xl, deep(x0)], 1)).squeeze(1)
        pw = L.tensor(2.0, dtype=L.float64)
        loss = F.binary_cross_entropy_with_logits(logit, y, pos_weight=pw)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    with L.no_grad():
        pos, neg = logit[y == 1], logit[y == 0]
        auc = (pos[:, None] > neg[None]).double().mean()
    return hashed, hs, losses, auc, bag.weight.grad, cross_w[1].weight.grad


@program
def two_tower_retrieval_with_in_batch_negatives_and_logq_correction(L):
    """A two-tower retriever: user and item towers with L2-normalised outputs, in-batch
    softmax over the item batch with a temperature, the log of each item's sampling
    probability subtracted from its column (logQ correction), duplicates of the positive
    item masked out of the negatives; recall@2 of the scores under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(19)
    user = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 8)).double()
    items = nn.Embedding(10, 8).double()
    u = _t(L, normal64(6, 5, seed=52))
    it = L.tensor([3, 1, 3, 7, 2, 9])
    freq = _t(L, [5, 3, 2, 6, 1, 1, 1, 2, 1, 3])
    logq = L.log(freq / freq.sum())
    opt = L.optim.RAdam(list(user.parameters()) + list(items.parameters()), lr=0.05,
                        decoupled_weight_decay=True, weight_decay=0.01)
    losses = []
    for _ in range(3):
        ue = F.normalize(user(u), dim=-1)
        ie = F.normalize(items(it), dim=-1)
        logits = ue @ ie.T / 0.1 - logq[it][None]
        dup = (it[:, None] == it[None]) & ~L.eye(6, dtype=L.bool)
        logits = logits.masked_fill(dup, -1e9)
        loss = F.cross_entropy(logits, L.arange(6))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    with L.no_grad():
        scores = F.normalize(user(u), dim=-1) @ F.normalize(items.weight, dim=-1).T
        top = scores.topk(2, dim=1).indices
        recall = (top == it[:, None]).any(1).double().mean()
    return losses, recall, top, items.weight.grad[[1, 3]], user[0].weight.grad


# ----------------------------------------------------------------------------------------------
# continual learning
# ----------------------------------------------------------------------------------------------
@program
def elastic_weight_consolidation_with_per_sample_fisher_by_vmap_of_grad(L):
    """EWC: a model trained on task A, the diagonal Fisher information as the mean of squared
    per-sample log-likelihood gradients (torch.func.vmap over grad of a functional_call,
    labels sampled from the model replaced by its argmax), the anchor parameters stored; then
    task B trained with the quadratic penalty lambda/2 * F * (theta - theta_A)^2; task A's
    loss before and after, with and without the penalty's pull."""
    nn, F = L.nn, L.nn.functional
    fn = L.func
    L.manual_seed(20)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    xa, ya = _t(L, normal64(16, 4, seed=53)), L.tensor(labels(16, 3, seed=54))
    xb, yb = _t(L, normal64(16, 4, seed=55)), L.tensor(labels(16, 3, seed=56))
    opt = L.optim.SGD(net.parameters(), lr=0.2)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(net(xa), ya).backward()
        opt.step()
    params = {k: v.detach() for k, v in net.named_parameters()}

    def ll(p, x, y):
        out = fn.functional_call(net, p, (x[None],))
        return -F.cross_entropy(out, y[None])

    with L.no_grad():
        ysamp = net(xa).argmax(1)
    g = fn.vmap(fn.grad(ll), in_dims=(None, 0, 0))(params, xa, ysamp)
    fisher = {k: v.pow(2).mean(0) for k, v in g.items()}
    anchor = {k: v.clone() for k, v in params.items()}
    before = F.cross_entropy(net(xa), ya).item()
    record = []
    for _ in range(3):
        pen = sum((fisher[k] * (p - anchor[k]) ** 2).sum() for k, p in net.named_parameters())
        loss = F.cross_entropy(net(xb), yb) + 50 / 2 * pen
        opt.zero_grad()
        loss.backward()
        opt.step()
        record.append((loss.item(), pen.item()))
    after = F.cross_entropy(net(xa), ya).item()
    return fisher, before, after, record, net[0].weight.grad


# ----------------------------------------------------------------------------------------------
# event sequences
# ----------------------------------------------------------------------------------------------
@program
def hawkes_process_exponential_kernel_log_likelihood_fitted_by_lbfgs(L):
    """A univariate Hawkes process: intensity mu + sum over earlier events of
    alpha * beta * exp(-beta * dt) built from pairwise time differences with a strict lower
    triangular mask, the compensator in closed form, parameters kept positive by softplus;
    the negative log-likelihood minimised by LBFGS with a strong-Wolfe line search."""
    F = L.nn.functional
    times = _t(L, np.cumsum(np.abs(normal64(20, seed=57)) + 0.05))
    Tend = times[-1] + 0.5
    raw = _t(L, [0.0, -1.0, 0.5], grad=True)

    def nll():
        mu, alpha, beta = F.softplus(raw).unbind()
        dt = times[:, None] - times[None, :]
        mask = L.ones(20, 20, dtype=L.bool).tril(-1)
        kern = L.where(mask, alpha * beta * L.exp(-beta * dt.clamp(min=0)),
                       L.zeros_like(dt))
        lam = mu + kern.sum(1)
        comp = mu * Tend + alpha * (1 - L.exp(-beta * (Tend - times))).sum()
        return comp - L.log(lam).sum()

    opt = L.optim.LBFGS([raw], lr=1, max_iter=10, line_search_fn="strong_wolfe")
    vals = []

    def closure():
        opt.zero_grad()
        v = nll()
        v.backward()
        return v

    for _ in range(2):
        vals.append(opt.step(closure).detach())
    return vals, F.softplus(raw), raw.grad, opt.state_dict()["state"][0]["n_iter"]


@program
def deep_knowledge_tracing_lstm_with_interaction_one_hots_and_masked_bce(L):
    """Deep knowledge tracing: each interaction one-hot at skill + correct * n_skills,
    padded sequences packed (enforce_sorted=False) through an LSTM and unpacked, the
    sigmoid of each step's per-skill output gathered at the next step's skill, a BCE masked
    to real steps; two Adam steps and the final mastery estimates."""
    nn, F = L.nn, L.nn.functional
    rnn_utils = nn.utils.rnn
    n = 5
    skills = [[0, 1, 1, 3, 2], [4, 4, 2], [1, 0, 3, 3]]
    correct = [[1, 0, 1, 1, 0], [0, 1, 1], [1, 1, 0, 1]]
    seqs = [F.one_hot(L.tensor(s) + n * L.tensor(c), 2 * n).double()
            for s, c in zip(skills, correct)]
    lengths = L.tensor([len(s) for s in skills])
    padded = rnn_utils.pad_sequence(seqs, batch_first=True)
    sk = rnn_utils.pad_sequence([L.tensor(s) for s in skills], batch_first=True)
    co = rnn_utils.pad_sequence([L.tensor(c) for c in correct], batch_first=True).double()
    L.manual_seed(21)
    lstm = nn.LSTM(2 * n, 10, batch_first=True).double()
    out = nn.Linear(10, n).double()
    opt = L.optim.Adam(list(lstm.parameters()) + list(out.parameters()), lr=0.01)
    mask = L.arange(padded.shape[1])[None, 1:] < lengths[:, None]
    losses = []
    for _ in range(2):
        packed = rnn_utils.pack_padded_sequence(padded, lengths, batch_first=True,
                                                enforce_sorted=False)
        h, lens = rnn_utils.pad_packed_sequence(lstm(packed)[0], batch_first=True)
        p = L.sigmoid(out(h))[:, :-1].gather(2, sk[:, 1:, None]).squeeze(2)
        bce = F.binary_cross_entropy(p, co[:, 1:], reduction="none")
        loss = (bce * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    mastery = L.sigmoid(out(h))[L.arange(3), lens - 1]
    return lens, mask, losses, mastery, lstm.weight_ih_l0.grad


# ----------------------------------------------------------------------------------------------
# word embeddings
# ----------------------------------------------------------------------------------------------
@program
def skip_gram_with_negative_sampling_on_sparse_embeddings_and_sparse_adam(L):
    """word2vec: (centre, context) pairs cut from walks by a sliding window (Tensor.unfold),
    negatives from a fixed unigram^0.75 table, input and output Embedding(sparse=True)
    tables, the loss -log sigmoid(u.v) - sum log sigmoid(-u.v_neg), SparseAdam for three
    steps; the gradient is a sparse tensor whose coalesced indices and values are checked."""
    nn, F = L.nn, L.nn.functional
    walks = L.tensor([[0, 3, 5, 2, 3, 7, 1], [4, 4, 6, 0, 2, 5, 7]])
    win = walks.unfold(1, 3, 1)
    centre = win[..., 1].reshape(-1)
    ctx = win[..., [0, 2]].reshape(-1, 2)
    centre = centre.repeat_interleave(2)
    ctx = ctx.reshape(-1)
    counts = L.bincount(walks.flatten(), minlength=8).double()
    unigram = counts ** 0.75 / (counts ** 0.75).sum()
    negs = L.tensor(np.random.RandomState(58).randint(0, 8, (centre.numel(), 3)))
    L.manual_seed(22)
    vin = nn.Embedding(8, 4, sparse=True).double()
    vout = nn.Embedding(8, 4, sparse=True).double()
    opt = L.optim.SparseAdam(list(vin.parameters()) + list(vout.parameters()), lr=0.05)
    losses = []
    for _ in range(3):
        u = vin(centre)
        pos = (u * vout(ctx)).sum(-1)
        neg = L.bmm(vout(negs), u[:, :, None]).squeeze(-1)
        loss = -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()
        opt.zero_grad()
        loss.backward()
        g = vin.weight.grad
        opt.step()
        losses.append(loss.detach())
    gc = g.coalesce()
    return unigram, losses, g.is_sparse, gc.indices(), gc.values(), vin.weight, \
        vout.weight.grad.to_dense()


# ----------------------------------------------------------------------------------------------
# attention kernels written out
# ----------------------------------------------------------------------------------------------
@program
def blockwise_online_softmax_attention_matches_sdpa_forward_and_backward(L):
    """Flash-attention's algorithm in plain tensors: keys and values taken in blocks, a
    running row maximum, rescaled running sums of exponentials and outputs, a causal mask
    per block pair from absolute positions; equal to scaled_dot_product_attention with
    is_causal, in values and in gradients to q, k and v."""
    F = L.nn.functional
    B, H, T, D = 2, 2, 10, 4
    q = _t(L, normal64(B, H, T, D, seed=59), grad=True)
    k = _t(L, normal64(B, H, T, D, seed=60), grad=True)
    v = _t(L, normal64(B, H, T, D, seed=61), grad=True)
    scale = D ** -0.5
    blk = 4
    m = L.full((B, H, T, 1), -math.inf, dtype=L.float64)
    lsum = L.zeros(B, H, T, 1, dtype=L.float64)
    acc = L.zeros(B, H, T, D, dtype=L.float64)
    qi = L.arange(T)[:, None]
    for s in range(0, T, blk):
        kb, vb = k[:, :, s:s + blk], v[:, :, s:s + blk]
        sc = (q @ kb.transpose(-1, -2)) * scale
        sc = sc.masked_fill(L.arange(s, min(s + blk, T))[None, :] > qi, -math.inf)
        m_new = L.maximum(m, sc.amax(-1, keepdim=True))
        p = L.exp(sc - m_new)
        corr = L.exp(m - m_new)
        lsum = lsum * corr + p.sum(-1, keepdim=True)
        acc = acc * corr + p @ vb
        m = m_new
    mine = acc / lsum
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    w = _t(L, normal64(B, H, T, D, seed=62))
    ga = L.autograd.grad((mine * w).sum(), (q, k, v))
    gb = L.autograd.grad((ref * w).sum(), (q, k, v))
    return mine, L.allclose(mine, ref), [L.allclose(a, b) for a, b in zip(ga, gb)], ga[1]


@program
def retention_parallel_recurrent_and_chunkwise_forms_agree(L):
    """RetNet's retention: the parallel form (Q K^T scaled by a decay mask gamma^(n-m) on
    the causal triangle, with xPos-like rotations by complex multiplication through
    view_as_complex) against the recurrent form (S_n = gamma S_{n-1} + k_n^T v_n) and the
    chunkwise form; all three equal, and the parallel form's gradient to the decay."""
    B, T, D = 2, 8, 4
    x = _t(L, normal64(B, T, D, seed=63))
    L.manual_seed(23)
    Wq, Wk, Wv = (L.nn.Linear(D, D, bias=False).double() for _ in range(3))
    logg = L.tensor(math.log(0.8), dtype=L.float64, requires_grad=True)
    gamma = logg.exp()
    theta = L.arange(D // 2, dtype=L.float64) * 0.3 + 0.1
    rot = L.polar(L.ones(T, D // 2, dtype=L.float64), L.arange(T, dtype=L.float64)[:, None]
                  * theta)

    def rotate(t):
        c = L.view_as_complex(t.reshape(B, T, D // 2, 2).contiguous())
        return L.view_as_real(c * rot).reshape(B, T, D)

    q, k, v = rotate(Wq(x)), rotate(Wk(x)), Wv(x)
    n = L.arange(T, dtype=L.float64)
    diff = n[:, None] - n[None, :]
    decay = L.where(diff >= 0, gamma ** diff.clamp(min=0), L.zeros_like(diff))
    par = (q @ k.transpose(1, 2) * decay) @ v
    with L.no_grad():
        S = L.zeros(B, D, D, dtype=L.float64)
        rec = []
        for t in range(T):
            S = gamma * S + k[:, t, :, None] * v[:, t, None, :]
            rec.append((q[:, t, None, :] @ S).squeeze(1))
        rec = L.stack(rec, 1)
        C = 4
        S = L.zeros(B, D, D, dtype=L.float64)
        chunks = []
        inner_decay = decay[:C, :C]
        pos = L.arange(C, dtype=L.float64)
        for c0 in range(0, T, C):
            qc, kc, vc = q[:, c0:c0 + C], k[:, c0:c0 + C], v[:, c0:c0 + C]
            inner = (qc @ kc.transpose(1, 2) * inner_decay) @ vc
            cross = (qc * (gamma ** (pos + 1))[:, None]) @ S
            chunks.append(inner + cross)
            S = gamma ** C * S + (kc * (gamma ** (C - 1 - pos))[:, None]).transpose(1, 2) @ vc
        chunk = L.cat(chunks, 1)
    par.pow(2).sum().backward()
    return par, L.allclose(par, rec), L.allclose(par, chunk), logg.grad, Wq.weight.grad


@program
def mlstm_cell_with_exponential_gating_and_a_max_state_stabiliser(L):
    """xLSTM's matrix memory cell: exponential input gates and sigmoid forget gates in log
    space, a stabiliser m_t = max(log f + m_{t-1}, log i) keeping the exponentials bounded,
    the covariance update C_t = f C_{t-1} + i v k^T, the normaliser n_t and the readout
    divided by max(|n^T q|, exp(-m)); a sequence loss differentiated to the projections."""
    nn, F = L.nn, L.nn.functional
    B, T, D = 2, 6, 4
    L.manual_seed(24)
    proj = nn.Linear(D, 3 * D + 2).double()
    x = _t(L, normal64(B, T, D, seed=64))
    C = L.zeros(B, D, D, dtype=L.float64)
    nvec = L.zeros(B, D, dtype=L.float64)
    m = L.zeros(B, 1, dtype=L.float64)
    hs = []
    for t in range(T):
        q, k, v, ig, fg = proj(x[:, t]).split([D, D, D, 1, 1], dim=-1)
        k = k / math.sqrt(D)
        logf = F.logsigmoid(fg)
        m_new = L.maximum(logf + m, ig)
        i = L.exp(ig - m_new)
        f = L.exp(logf + m - m_new)
        C = f[..., None] * C + i[..., None] * v[:, :, None] * k[:, None, :]
        nvec = f * nvec + i * k
        den = L.maximum((nvec * q).sum(-1, keepdim=True).abs(), L.exp(-m_new))
        hs.append((C @ q[..., None]).squeeze(-1) / den)
        m = m_new
    h = L.stack(hs, 1)
    loss = h.pow(2).mean() + h[:, -1].sum()
    loss.backward()
    return h, m, loss, proj.weight.grad, proj.bias.grad


# ----------------------------------------------------------------------------------------------
# implicit surfaces
# ----------------------------------------------------------------------------------------------
@program
def implicit_sdf_with_geometric_init_surface_loss_and_eikonal_term(L):
    """IGR-style implicit geometry: a softplus(beta=100) MLP with geometric initialisation (the
    last layer's weights near sqrt(pi)/sqrt(width), bias -radius) fitted to points on a
    circle (|f| there) and to normals (1 - cosine of grad f and n), plus the eikonal
    penalty (|grad f| - 1)^2 on random off-surface points, all gradients with
    create_graph; two Adam steps, then the zero level's distance to the circle."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(25)
    net = nn.Sequential(nn.Linear(2, 16), nn.Softplus(beta=100), nn.Linear(16, 16),
                        nn.Softplus(beta=100), nn.Linear(16, 1)).double()
    with L.no_grad():
        nn.init.normal_(net[4].weight, mean=math.sqrt(math.pi) / 4, std=1e-4)
        net[4].bias.fill_(-0.5)
    ang = L.linspace(0, 2 * math.pi, 13, dtype=L.float64)[:-1]
    surf = L.stack([L.cos(ang), L.sin(ang)], 1) * 0.8
    normals = F.normalize(surf, dim=1)
    off = _t(L, normal64(16, 2, seed=65))
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        ps = surf.clone().requires_grad_(True)
        po = off.clone().requires_grad_(True)
        fs, fo = net(ps), net(po)
        gs = L.autograd.grad(fs.sum(), ps, create_graph=True)[0]
        go = L.autograd.grad(fo.sum(), po, create_graph=True)[0]
        loss = fs.abs().mean() + (1 - F.cosine_similarity(gs, normals, dim=-1)).mean() + \
            0.1 * ((go.norm(dim=-1) - 1) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses, fs.squeeze(1), go, net[0].weight.grad, net[4].weight.grad


# ----------------------------------------------------------------------------------------------
# self-supervised clustering and detection assignment
# ----------------------------------------------------------------------------------------------
@program
def swav_sinkhorn_knopp_codes_and_swapped_prediction_loss(L):
    """SwAV: two views' normalised embeddings scored against normalised prototypes, soft
    codes from three Sinkhorn-Knopp iterations on exp(scores / eps) under no_grad
    (alternating row and column normalisation, rescaled), each view predicting the other's
    codes by a temperature softmax; the prototypes renormalised in no_grad before each step;
    SGD with momentum."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(26)
    enc = nn.Sequential(nn.Linear(6, 12), nn.BatchNorm1d(12), nn.ReLU(),
                        nn.Linear(12, 8)).double()
    protos = nn.Linear(8, 5, bias=False).double()
    x = _t(L, normal64(10, 6, seed=66))
    v1 = x + 0.1 * _t(L, normal64(10, 6, seed=67))
    v2 = x * 0.9 + 0.1 * _t(L, normal64(10, 6, seed=68))
    opt = L.optim.SGD(list(enc.parameters()) + list(protos.parameters()), lr=0.1,
                      momentum=0.9)

    @L.no_grad()
    def sinkhorn(scores, eps=0.05, iters=3):
        Q = L.exp(scores / eps).T
        Q /= Q.sum()
        K, Bn = Q.shape
        for _ in range(iters):
            Q /= Q.sum(dim=1, keepdim=True)
            Q /= K
            Q /= Q.sum(dim=0, keepdim=True)
            Q /= Bn
        return (Q * Bn).T

    losses = []
    for _ in range(2):
        with L.no_grad():
            protos.weight.copy_(F.normalize(protos.weight, dim=1, p=2))
        z = F.normalize(enc(L.cat([v1, v2])), dim=1)
        s = protos(z)
        s1, s2 = s[:10], s[10:]
        q1, q2 = sinkhorn(s1), sinkhorn(s2)
        loss = -0.5 * ((q1 * F.log_softmax(s2 / 0.1, 1)).sum(1).mean() +
                       (q2 * F.log_softmax(s1 / 0.1, 1)).sum(1).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return q1, q1.sum(0), losses, protos.weight.grad, enc[1].running_var


@program
def atss_adaptive_iou_threshold_assignment_of_anchors(L):
    """ATSS label assignment: per ground-truth box, the k anchors closest by centre distance
    (topk with largest=False) as candidates, their IoUs (box_iou by broadcasting), a
    threshold of mean plus std of the candidates' IoUs, positives where the IoU passes and
    the anchor centre lies inside the box; an anchor claimed by several boxes goes to the
    highest IoU (an IoU matrix filled with -inf elsewhere, max over boxes)."""
    ys, xs = L.meshgrid(L.arange(6, dtype=L.float64), L.arange(6, dtype=L.float64),
                        indexing="ij")
    cx, cy = (xs.flatten() + 0.5) * 4, (ys.flatten() + 0.5) * 4
    anchors = L.stack([cx - 4, cy - 4, cx + 4, cy + 4], 1)
    gts = _t(L, [[2, 3, 12, 14], [10, 8, 22, 20], [5, 5, 9, 9]])

    def box_iou(a, b):
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        lt = L.max(a[:, None, :2], b[None, :, :2])
        rb = L.min(a[:, None, 2:], b[None, :, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[..., 0] * wh[..., 1]
        return inter / (area_a[:, None] + area_b[None] - inter)

    ious = box_iou(anchors, gts)
    gc = (gts[:, :2] + gts[:, 2:]) / 2
    ac = (anchors[:, :2] + anchors[:, 2:]) / 2
    dist = L.cdist(ac, gc)
    cand = dist.topk(5, dim=0, largest=False).indices
    cand_iou = ious.gather(0, cand)
    thr = cand_iou.mean(0) + cand_iou.std(0)
    is_cand = L.zeros_like(ious, dtype=L.bool).scatter_(0, cand, True)
    inside = ((ac[:, None] > gts[None, :, :2]) & (ac[:, None] < gts[None, :, 2:])).all(-1)
    pos = is_cand & (ious >= thr[None]) & inside
    filled = L.where(pos, ious, L.full_like(ious, -math.inf))
    best, which = filled.max(1)
    assigned = L.where(best > -math.inf, which, L.full_like(which, -1))
    return thr, cand, pos.sum(0), assigned, L.nonzero(assigned >= 0).flatten()



# ----------------------------------------------------------------------------------------------
# training-loop idioms
# ----------------------------------------------------------------------------------------------
@program
def optimizer_step_inside_backward_by_post_accumulate_grad_hooks(L):
    """The memory-saving idiom of stepping each parameter as soon as its gradient is
    accumulated: one optimizer per parameter, a register_post_accumulate_grad_hook that
    steps and zeroes it, so that no .grad survives the backward; the result matches the
    usual loop with a single AdamW over all parameters."""
    nn, F = L.nn, L.nn.functional
    x, y = _t(L, normal64(8, 5, seed=69)), L.tensor(labels(8, 3, seed=70))

    def make():
        L.manual_seed(27)
        return nn.Sequential(nn.Linear(5, 7), nn.GELU(), nn.Linear(7, 3)).double()

    net = make()
    opts = {p: L.optim.AdamW([p], lr=0.01, weight_decay=0.1) for p in net.parameters()}
    calls = []

    def hook(p):
        calls.append(tuple(p.shape))
        opts[p].step()
        opts[p].zero_grad()

    handles = [p.register_post_accumulate_grad_hook(hook) for p in net.parameters()]
    for _ in range(3):
        F.cross_entropy(net(x), y).backward()
    grads_left = [p.grad for p in net.parameters()]
    for h in handles:
        h.remove()
    ref = make()
    opt = L.optim.AdamW(ref.parameters(), lr=0.01, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(ref(x), y).backward()
        opt.step()
    same = all(bool(L.allclose(a, b)) for a, b in zip(net.parameters(), ref.parameters()))
    return calls, grads_left, same, net[2].weight


@program
def consistency_distillation_with_an_ema_target_and_boundary_scalings(L):
    """Consistency training: f(x, t) = c_skip(t) x + c_out(t) F(x, t) with the EDM-style
    boundary scalings (c_skip = s^2 / ((t - eps)^2 + s^2), c_out = s (t - eps) / sqrt(s^2 +
    t^2)) so f(x, eps) = x; adjacent noise levels from the Karras schedule, the same noise
    added at both, the student at t_{n+1} pulled to an EMA target (AveragedModel with
    get_ema_multi_avg_fn) at t_n under a pseudo-Huber distance; three steps."""
    nn = L.nn
    swa = L.optim.swa_utils
    sd, eps = 0.5, 0.002

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 16), nn.SiLU(), nn.Linear(16, 2))

        def forward(self, x, t):
            cs = sd ** 2 / ((t - eps) ** 2 + sd ** 2)
            co = sd * (t - eps) / (sd ** 2 + t ** 2).sqrt()
            inp = L.cat([x / (t ** 2 + sd ** 2).sqrt(), t.log() / 4], 1)
            return cs * x + co * self.body(inp)

    L.manual_seed(28)
    student = Net().double()
    target = swa.AveragedModel(student, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9))
    N, rho, tmax = 6, 7.0, 10.0
    i = L.arange(N, dtype=L.float64)
    sig = (eps ** (1 / rho) + i / (N - 1) * (tmax ** (1 / rho) - eps ** (1 / rho))) ** rho
    data = _t(L, normal64(12, 2, scale=0.5, seed=71))
    noise = _t(L, normal64(3, 12, 2, seed=72))
    idx = L.tensor(labels(36, N - 1, seed=73)).view(3, 12)
    opt = L.optim.Adam(student.parameters(), lr=1e-3)
    c = 0.00054 * math.sqrt(2)
    losses = []
    for step in range(3):
        tn, tn1 = sig[idx[step]][:, None], sig[idx[step] + 1][:, None]
        xn1 = data + tn1 * noise[step]
        xn = data + tn * noise[step]
        with L.no_grad():
            tgt = target.module(xn, tn)
        d = student(xn1, tn1) - tgt
        loss = ((d.pow(2).sum(1) + c ** 2).sqrt() - c).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        target.update_parameters(student)
        losses.append(loss.detach())
    at_eps = student(data, L.full((12, 1), eps, dtype=L.float64))
    return sig, losses, L.allclose(at_eps, data), target.n_averaged, \
        target.module.body[2].weight, student.body[0].weight.grad


# ----------------------------------------------------------------------------------------------
# parameter-efficient fine-tuning and quantisation
# ----------------------------------------------------------------------------------------------
@program
def dora_weight_decomposed_low_rank_adaptation_of_a_frozen_linear(L):
    """DoRA: a frozen pretrained Linear, its weight split into a trainable per-output
    magnitude (the row norms) and a direction W0 + B A renormalised row-wise, the norm
    detached as the paper suggests; LoRA's B starts at zero so the first output equals the
    frozen layer's; only magnitude, A and B train; the merged weight at the end."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(29)
    base = nn.Linear(6, 4).double().requires_grad_(False)
    r = 2
    A = nn.Parameter(L.empty(r, 6, dtype=L.float64))
    nn.init.kaiming_uniform_(A, a=math.sqrt(5))
    Bm = nn.Parameter(L.zeros(4, r, dtype=L.float64))
    mag = nn.Parameter(base.weight.norm(p=2, dim=1, keepdim=True).clone())
    x = _t(L, normal64(10, 6, seed=74))
    y = _t(L, normal64(10, 4, seed=75))

    def weight():
        W = base.weight + Bm @ A
        return mag * W / W.norm(p=2, dim=1, keepdim=True).detach()

    first = L.allclose(F.linear(x, weight(), base.bias), base(x))
    opt = L.optim.AdamW([A, Bm, mag], lr=0.02)
    losses = []
    for _ in range(3):
        loss = F.mse_loss(F.linear(x, weight(), base.bias), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return first, losses, mag.grad, Bm.grad, base.weight.grad, weight().detach()


@program
def gptq_column_by_column_quantisation_with_a_cholesky_of_the_inverse_hessian(L):
    """GPTQ on one Linear: the layer Hessian 2 X^T X / n with dampening on the diagonal, its
    inverse by cholesky_inverse, the upper Cholesky factor of that inverse; columns quantised
    in order to a symmetric 3-bit grid per output row, each column's error divided by the
    factor's diagonal and propagated to the remaining columns by an outer product; the
    output error against round-to-nearest."""
    X = _t(L, normal64(32, 6, seed=76) @ np.triu(np.ones((6, 6))) / 3)
    Wt = _t(L, normal64(4, 6, seed=77))
    Hm = 2 * X.T @ X / X.shape[0]
    Hm = Hm + 0.01 * Hm.diagonal().mean() * L.eye(6, dtype=L.float64)
    Hinv = L.cholesky_inverse(L.linalg.cholesky(Hm))
    U = L.linalg.cholesky(Hinv, upper=True)
    scale = Wt.abs().amax(dim=1, keepdim=True) / 3

    def quant(w):
        return L.clamp(L.round(w / scale[:, 0]), -4, 3) * scale[:, 0]

    W = Wt.clone()
    Q = L.zeros_like(W)
    for j in range(6):
        w = W[:, j]
        q = quant(w)
        Q[:, j] = q
        e = (w - q) / U[j, j]
        W[:, j:] -= e[:, None] * U[j, j:][None, :]
    rtn = L.stack([quant(Wt[:, j]) for j in range(6)], 1)
    err_gptq = ((X @ (Q - Wt).T) ** 2).mean()
    err_rtn = ((X @ (rtn - Wt).T) ** 2).mean()
    return U, Q, rtn, err_gptq, err_rtn, bool(err_gptq <= err_rtn)


# ----------------------------------------------------------------------------------------------
# preference optimisation losses
# ----------------------------------------------------------------------------------------------
def _seq_logps(L, logits, tokens, mask):
    """Summed and mean per-token log-probabilities of ``tokens`` under ``logits``."""
    lp = logits.log_softmax(-1).gather(-1, tokens[..., None]).squeeze(-1)
    total = (lp * mask).sum(-1)
    return total, total / mask.sum(-1)


@program
def simpo_orpo_and_kto_preference_losses_on_a_tiny_policy(L):
    """Reference-free and reference-based preference losses on a tiny language-model head:
    per-token log-probabilities gathered and masked, SimPO's length-normalised margin
    -logsigmoid(beta (r_w - r_l) - gamma), ORPO's odds ratio log(p/(1-p)) via log1p(-exp)
    added to the chosen sequence's NLL, and KTO's sigmoid of the reward against a detached
    KL estimate clamped at zero; each loss's gradient to the head."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(30)
    V, Dm = 7, 6
    emb = nn.Embedding(V, Dm).double()
    head = nn.Linear(Dm, V).double()
    L.manual_seed(31)
    ref_head = nn.Linear(Dm, V).double().requires_grad_(False)
    win = L.tensor([[1, 2, 3, 4, 0], [2, 2, 5, 0, 0]])
    lose = L.tensor([[1, 6, 6, 0, 0], [2, 3, 1, 4, 6]])
    mw = (win > 0).double()
    ml = (lose > 0).double()
    out = {}
    for name in ("simpo", "orpo", "kto"):
        head.zero_grad()
        hw, hl = emb(win), emb(lose)
        sw, aw = _seq_logps(L, head(hw), win, mw)
        sl, al = _seq_logps(L, head(hl), lose, ml)
        if name == "simpo":
            loss = -F.logsigmoid(2.0 * (aw - al) - 0.5).mean()
        elif name == "orpo":
            odds = lambda a: a - L.log1p(-L.exp(a))  # noqa: E731
            ratio = F.logsigmoid(odds(aw) - odds(al))
            loss = (-aw - 0.1 * ratio).mean()
        else:
            rw = sw - _seq_logps(L, ref_head(hw), win, mw)[0]
            rl = sl - _seq_logps(L, ref_head(hl), lose, ml)[0]
            kl = ((rw + rl) / 2).mean().clamp(min=0).detach()
            loss = (1 - L.sigmoid(0.1 * (rw - kl))).mean() + (1 - L.sigmoid(0.1 * (kl - rl))).mean()
        loss.backward()
        out[name] = (loss.detach(), head.weight.grad.clone())
    return out, emb.weight.grad


# ----------------------------------------------------------------------------------------------
# uncertainty and calibration
# ----------------------------------------------------------------------------------------------
@program(rtol=1e-7, atol=1e-10)   # digamma's gradient: torch's trigamma is good to ~5e-10
def evidential_classification_with_a_dirichlet_loss_and_annealed_kl(L):
    """Evidential deep learning: non-negative evidence (softplus) gives Dirichlet
    concentrations alpha = e + 1; the expected cross entropy sum y (digamma(S) -
    digamma(alpha)), and the KL from the misleading-evidence-removed Dirichlet to the uniform
    one written with lgamma and digamma, annealed by min(1, epoch/10); uncertainty K / S;
    the closed-form KL checked against distributions.kl_divergence."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(32)
    net = nn.Sequential(nn.Linear(4, 12), nn.ReLU(), nn.Linear(12, 3)).double()
    x, y = _t(L, normal64(10, 4, seed=78)), L.tensor(labels(10, 3, seed=79))
    oh = F.one_hot(y, 3).double()
    opt = L.optim.Adam(net.parameters(), lr=0.01)

    def kl_uniform(a):
        K = a.shape[-1]
        S = a.sum(-1, keepdim=True)
        return (L.lgamma(S) - math.lgamma(K) - L.lgamma(a).sum(-1, keepdim=True) +
                ((a - 1) * (L.digamma(a) - L.digamma(S))).sum(-1, keepdim=True)).squeeze(-1)

    losses = []
    for epoch in range(3):
        alpha = F.softplus(net(x)) + 1
        S = alpha.sum(-1, keepdim=True)
        ece = (oh * (L.digamma(S) - L.digamma(alpha))).sum(-1)
        at = oh + (1 - oh) * alpha
        loss = (ece + min(1.0, epoch / 10) * kl_uniform(at)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    ref = D.kl_divergence(D.Dirichlet(at), D.Dirichlet(L.ones(3, dtype=L.float64)))
    return losses, 3 / S.squeeze(-1), L.allclose(kl_uniform(at), ref), net[2].weight.grad


@program
def temperature_scaling_by_lbfgs_and_expected_calibration_error_by_bucketize(L):
    """Post-hoc calibration: a single temperature fitted on validation logits by LBFGS on the
    NLL (log-temperature parameterised), and the expected calibration error before and
    after: confidences put in 5 equal-width bins with bucketize (right=True edges), per-bin
    accuracy and confidence by scatter_add, weighted by bin counts."""
    F = L.nn.functional
    logits = _t(L, normal64(40, 4, scale=3, seed=80))
    y = L.tensor(labels(40, 4, seed=81))
    logT = L.zeros(1, dtype=L.float64, requires_grad=True)
    opt = L.optim.LBFGS([logT], lr=0.1, max_iter=20)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / logT.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)

    def ece(lg, nbins=5):
        conf, pred = F.softmax(lg, 1).max(1)
        acc = (pred == y).double()
        edges = L.linspace(0, 1, nbins + 1, dtype=L.float64)
        b = L.bucketize(conf, edges[1:-1], right=True)
        cnt = L.zeros(nbins, dtype=L.float64).scatter_add(0, b, L.ones_like(conf))
        sa = L.zeros(nbins, dtype=L.float64).scatter_add(0, b, acc)
        sc = L.zeros(nbins, dtype=L.float64).scatter_add(0, b, conf)
        gap = (sa - sc).abs() / cnt.clamp(min=1)
        return (gap * cnt).sum() / cnt.sum(), cnt

    with L.no_grad():
        before, cnt0 = ece(logits)
        after, cnt1 = ece(logits / logT.exp())
    return logT.exp(), before, after, cnt0, cnt1, \
        F.cross_entropy(logits / logT.exp(), y).detach()


# ----------------------------------------------------------------------------------------------
# inpainting
# ----------------------------------------------------------------------------------------------
@program
def partial_convolutions_with_mask_updates_for_inpainting(L):
    """Partial convolutions: each layer convolves the masked input, rescales by the window
    size over the number of valid pixels (the mask convolved with a ones kernel, clamped),
    zeroes positions without valid pixels, re-adds the bias, and passes on the updated mask
    (any valid pixel in the window); a hole-weighted L1 loss, two Adam steps."""
    nn, F = L.nn, L.nn.functional

    class PConv(nn.Module):
        def __init__(self, cin, cout, k, stride=1):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, stride, k // 2)
            self.register_buffer("ones", L.ones(1, 1, k, k))
            self.stride, self.pad = stride, k // 2

        def forward(self, x, m):
            with L.no_grad():
                cnt = F.conv2d(m, self.ones.to(x.dtype), stride=self.stride, padding=self.pad)
                ratio = self.ones.numel() / cnt.clamp(min=1)
                newm = (cnt > 0).to(x.dtype)
            b = self.conv.bias.view(1, -1, 1, 1)
            raw = self.conv(x * m) - b
            return (raw * ratio + b) * newm, newm

    L.manual_seed(33)
    l1, l2 = PConv(3, 6, 3, 2).double(), PConv(6, 3, 3).double()
    img = _t(L, normal64(2, 3, 8, 8, seed=82))
    mask = L.ones(2, 1, 8, 8, dtype=L.float64)
    mask[0, :, 2:6, 3:7] = 0
    mask[1, :, :4, :4] = 0
    opt = L.optim.Adam(list(l1.parameters()) + list(l2.parameters()), lr=1e-2)
    losses = []
    for _ in range(2):
        h, m1 = l1(img, mask)
        h = F.relu(h)
        up = F.interpolate(h, scale_factor=2, mode="nearest")
        mu = F.interpolate(m1, scale_factor=2, mode="nearest")
        out, m2 = l2(up, mu)
        comp = mask * img + (1 - mask) * out
        loss = 6 * ((1 - mask) * (out - img)).abs().mean() + (mask * (out - img)).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return m1, m2.sum(), losses, comp[1, 0, :2], l1.conv.weight.grad, l2.conv.bias.grad


# ----------------------------------------------------------------------------------------------
# sequential Monte Carlo
# ----------------------------------------------------------------------------------------------
@program
def bootstrap_particle_filter_with_systematic_resampling_by_searchsorted(L):
    """A bootstrap particle filter for a 1-d random walk observed in Gaussian noise: the
    process noise and resampling offsets from numpy, log-weights normalised by logsumexp,
    the effective sample size, systematic resampling (cumulative weights, evenly spaced
    positions with one offset, searchsorted) when the ESS drops below half, the filtered
    means, and the log marginal likelihood estimate."""
    Np, T = 16, 6
    rng = np.random.RandomState(83)
    obs = _t(L, np.cumsum(rng.randn(T)) + 0.3 * rng.randn(T))
    steps = _t(L, rng.randn(T, Np))
    offs = rng.rand(T)
    x = _t(L, rng.randn(Np))
    logw = L.full((Np,), -math.log(Np), dtype=L.float64)
    means, esss, resampled, logZ = [], [], [], 0.0
    for t in range(T):
        x = x + steps[t]
        ll = -0.5 * ((obs[t] - x) / 0.5) ** 2 - math.log(0.5 * math.sqrt(2 * math.pi))
        logw = logw + ll
        lse = L.logsumexp(logw, 0)
        logZ = logZ + lse
        logw = logw - lse
        w = logw.exp()
        means.append((w * x).sum())
        ess = 1 / (w ** 2).sum()
        esss.append(ess)
        if ess < Np / 2:
            cdf = w.cumsum(0)
            cdf[-1] = 1.0
            pos = (L.arange(Np, dtype=L.float64) + float(offs[t])) / Np
            idx = L.searchsorted(cdf, pos)
            x = x[idx]
            logw = L.full((Np,), -math.log(Np), dtype=L.float64)
            resampled.append((t, idx))
    return L.stack(means), L.stack(esss), resampled, logZ


# ----------------------------------------------------------------------------------------------
# operator learning and system identification
# ----------------------------------------------------------------------------------------------
@program
def fourier_neural_operator_spectral_conv_with_complex_weights(L):
    """A 2-d Fourier neural operator layer: rfft2 of the lifted field, the lowest modes (both
    signs of the first axis) multiplied by complex weight tensors (complex Parameters, einsum
    over channels), irfft2 back to the grid with s given, plus a pointwise 1x1 conv, GELU;
    two Adam steps updating the complex weights (their grads complex too)."""
    nn, F = L.nn, L.nn.functional
    C, m1, m2, H, W = 4, 2, 3, 8, 8

    class Spectral(nn.Module):
        def __init__(self):
            super().__init__()
            rng = np.random.RandomState(84)
            s = 1 / (C * C)
            self.w1 = nn.Parameter(L.tensor(s * (rng.rand(C, C, m1, m2) +
                                                 1j * rng.rand(C, C, m1, m2))))
            self.w2 = nn.Parameter(L.tensor(s * (rng.rand(C, C, m1, m2) +
                                                 1j * rng.rand(C, C, m1, m2))))

        def forward(self, x):
            xf = L.fft.rfft2(x)
            out = L.zeros(x.shape[0], C, H, W // 2 + 1, dtype=L.complex128)
            out[:, :, :m1, :m2] = L.einsum("bixy,ioxy->boxy", xf[:, :, :m1, :m2], self.w1)
            out[:, :, -m1:, :m2] = L.einsum("bixy,ioxy->boxy", xf[:, :, -m1:, :m2], self.w2)
            return L.fft.irfft2(out, s=(H, W))

    L.manual_seed(34)
    lift = nn.Conv2d(1, C, 1).double()
    spec = Spectral()
    wconv = nn.Conv2d(C, C, 1).double()
    proj = nn.Conv2d(C, 1, 1).double()
    mods = nn.ModuleList([lift, spec, wconv, proj])
    a = _t(L, normal64(2, 1, H, W, seed=85))
    u = _t(L, normal64(2, 1, H, W, seed=86))
    opt = L.optim.Adam(mods.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        h = lift(a)
        h = F.gelu(spec(h) + wconv(h))
        loss = F.mse_loss(proj(h), u)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses, spec.w1.grad, spec.w2, lift.weight.grad


@program
def dynamic_mode_decomposition_by_truncated_svd_and_complex_eigenvalues(L):
    """Exact DMD: snapshots of a damped two-frequency linear system stacked with a one-step
    delay (a Hankel matrix, so the four exponentials show), the shifted pair X, Y, a rank-4
    truncated SVD of X, the reduced operator U* Y V S^-1, its complex eigenvalues
    and modes (linalg.eig), continuous-time frequencies from the log of the eigenvalues, and
    a reconstruction of the snapshots from mode amplitudes solved by lstsq."""
    t = np.arange(16) * 0.2
    space = np.linspace(0, 1, 10)[:, None]
    data = (np.exp(-0.1 * t) * np.cos(3 * t))[None] * np.sin(np.pi * space) + \
        (np.exp(-0.05 * t) * np.sin(5 * t))[None] * np.cos(2 * np.pi * space)
    Z = L.cat([_t(L, data[:, :-1]), _t(L, data[:, 1:])])      # one delay: rank 4
    X, Y = Z[:, :-1], Z[:, 1:]
    U, S, Vh = L.linalg.svd(X, full_matrices=False)
    r = 4
    U, S, V = U[:, :r], S[:r], Vh[:r].T
    Atil = U.T @ Y @ V / S
    lam, Wv = L.linalg.eig(Atil)
    modes = (Y @ V / S).to(L.complex128) @ Wv
    omega = L.log(lam) / 0.2
    b = L.linalg.lstsq(modes, Z[:, :1].to(L.complex128)).solution
    k = L.arange(15, dtype=L.float64)
    dyn = lam[:, None] ** k[None]
    recon = (modes @ (b * dyn)).real
    order = omega.imag.abs().argsort(stable=True)
    return S, omega.real[order].sort().values, omega.imag.abs().sort().values, \
        (recon - Z).abs().max() < 1e-6


@program
def cp_decomposition_by_alternating_least_squares_with_khatri_rao_products(L):
    """A rank-2 CP decomposition of a 3-way tensor by alternating least squares: each factor
    solved from the matching unfolding (movedim and reshape) against the Khatri-Rao product
    of the other two (einsum and reshape), with pinv of the Hadamard product of Gram
    matrices; the fit after each sweep and the rebuilt tensor."""
    rng = np.random.RandomState(87)
    A0, B0, C0 = rng.randn(4, 2), rng.randn(5, 2), rng.randn(3, 2)
    Tn = _t(L, np.einsum("ir,jr,kr->ijk", A0, B0, C0) + 0.01 * rng.randn(4, 5, 3))
    factors = [_t(L, normal64(n, 2, seed=88 + i)) for i, n in enumerate(Tn.shape)]

    def kr(P, Q):
        return L.einsum("ir,jr->ijr", P, Q).reshape(-1, P.shape[1])

    fits = []
    for _ in range(10):
        for mode in range(3):
            others = [factors[m] for m in range(3) if m != mode]
            unf = Tn.movedim(mode, 0).reshape(Tn.shape[mode], -1)
            G = (others[0].T @ others[0]) * (others[1].T @ others[1])
            factors[mode] = unf @ kr(*others) @ L.linalg.pinv(G)
        rebuilt = L.einsum("ir,jr,kr->ijk", *factors)
        fits.append(1 - (rebuilt - Tn).norm() / Tn.norm())
    return fits, rebuilt.shape, fits[-1] > 0.99


@program
def matrix_completion_by_singular_value_thresholding(L):
    """Matrix completion by singular value thresholding (Cai, Candes, Shen): a low-rank matrix
    observed on a numpy mask, iterations of Y += delta P_omega(M - X) and X = U
    diag(relu(s - tau)) V^T from svd, the rank (count of surviving singular values) and the
    relative errors on observed and held-out entries each iteration."""
    F = L.nn.functional
    rng = np.random.RandomState(91)
    M = _t(L, rng.randn(8, 2) @ rng.randn(2, 7))
    omega = _t(L, (rng.rand(8, 7) < 0.6).astype(np.float64))
    tau, delta = 2.5 * math.sqrt(56), 1.2 / 0.6
    Yk = L.zeros_like(M)
    hist = []
    for _ in range(8):
        U, s, Vh = L.linalg.svd(Yk, full_matrices=False)
        shrunk = F.relu(s - tau)
        X = U @ L.diag(shrunk) @ Vh
        Yk = Yk + delta * omega * (M - X)
        rank = (shrunk > 0).sum()
        obs = (omega * (X - M)).norm() / (omega * M).norm()
        held = ((1 - omega) * (X - M)).norm() / ((1 - omega) * M).norm()
        hist.append((rank, obs, held))
    return hist, X


# ----------------------------------------------------------------------------------------------
# graph transformers
# ----------------------------------------------------------------------------------------------
@program
def laplacian_eigenvector_positional_encodings_with_sign_flips_in_a_graph_transformer(L):
    """Graph transformer inputs: the symmetric normalised Laplacian I - D^-1/2 A D^-1/2 of
    an edge list (index_put_ with accumulate for repeated edges), its eigenvectors by eigh
    with the trivial one dropped and each sign fixed by its largest entry, random sign flips
    each step (from numpy) as augmentation, a linear embedding of the encodings added to node
    features, attention masked to the adjacency plus self loops, a graph-level mean."""
    nn = L.nn
    src = L.tensor([0, 1, 2, 3, 4, 0, 2, 1])
    dst = L.tensor([1, 2, 3, 4, 5, 3, 5, 2])
    n = 6
    A = L.zeros(n, n, dtype=L.float64)
    A.index_put_((src, dst), L.ones(8, dtype=L.float64), accumulate=True)
    A = ((A + A.T) > 0).double()
    dinv = A.sum(1).pow(-0.5)
    Lap = L.eye(n, dtype=L.float64) - dinv[:, None] * A * dinv[None]
    evals, evecs = L.linalg.eigh(Lap)
    pe = evecs[:, 1:4]
    top = pe.abs().argmax(0)            # eigh's signs are arbitrary: largest entry positive
    pe = pe * L.sign(pe[top, L.arange(3)])
    L.manual_seed(35)
    pe_lin = nn.Linear(3, 8).double()
    attn = nn.MultiheadAttention(8, 2, batch_first=True).double()
    out = nn.Linear(8, 1).double()
    feats = _t(L, normal64(n, 8, seed=92))
    allowed = (A + L.eye(n, dtype=L.float64)) > 0
    opt = L.optim.Adam(list(pe_lin.parameters()) + list(attn.parameters()) +
                       list(out.parameters()), lr=1e-2)
    signs = np.where(np.random.RandomState(93).rand(3, 3) > 0.5, 1.0, -1.0)
    losses = []
    for step in range(3):
        h = (feats + pe_lin(pe * _t(L, signs[step])))[None]
        a, w = attn(h, h, h, attn_mask=~allowed)
        loss = (out(a.mean(1)) - 1.0).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return evals, pe, losses, w, pe_lin.weight.grad, attn.in_proj_weight.grad


@program
def bald_acquisition_from_mc_dropout_samples(L):
    """Active learning with BALD: a dropout net kept in train mode for 8 stochastic passes
    over a pool (seeded, so both libraries draw the same masks), the predictive entropy of
    the mean probabilities minus the mean entropy of each pass, the top-3 pool indices
    acquired, and the variation ratio for comparison."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(36)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)).double()
    pool = _t(L, normal64(12, 4, seed=94))
    net.train()
    L.manual_seed(37)
    with L.no_grad():
        probs = L.stack([F.softmax(net(pool), -1) for _ in range(8)])
    mean = probs.mean(0)
    ent = -(mean * mean.clamp_min(1e-12).log()).sum(-1)
    exp_ent = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean(0)
    bald = ent - exp_ent
    pick = bald.topk(3).indices
    votes = F.one_hot(probs.argmax(-1), 3).sum(0)
    vr = 1 - votes.max(-1).values / 8
    return probs[:, 0], bald, pick, vr



# ----------------------------------------------------------------------------------------------
# second-order fitting
# ----------------------------------------------------------------------------------------------
@program
def levenberg_marquardt_curve_fit_with_jacrev_and_adaptive_damping(L):
    """Levenberg-Marquardt for a damped-sine model y = a exp(-b t) sin(c t + d): residuals as a
    function of the parameter vector, the Jacobian by torch.func.jacrev, the damped normal
    equations (J^T J + lambda diag(J^T J)) delta = -J^T r solved by linalg.solve, a step
    accepted (lambda / 3) or rejected (lambda * 2) by the change in the squared error."""
    t = L.linspace(0, 4, 30, dtype=L.float64)
    y = 2.0 * L.exp(-0.5 * t) * L.sin(3.0 * t + 0.3) + _t(L, 0.02 * normal64(30, seed=95))

    def resid(p):
        a, b, c, d = p.unbind()
        return a * L.exp(-b * t) * L.sin(c * t + d) - y

    p = _t(L, [1.5, 0.3, 2.8, 0.0])
    lam = 1e-2
    trace = []
    for _ in range(6):
        r = resid(p)
        J = L.func.jacrev(resid)(p)
        A = J.T @ J
        step = L.linalg.solve(A + lam * L.diag(A.diagonal()), -J.T @ r)
        new = p + step
        if resid(new).pow(2).sum() < r.pow(2).sum():
            p, lam = new, lam / 3
        else:
            lam = lam * 2
        trace.append((r.pow(2).sum(), lam))
    return p, trace, J.shape


@program
def natural_gradient_steps_with_an_empirical_fisher_from_per_sample_jacobians(L):
    """Natural gradient for logistic regression: per-sample gradients of the log-likelihood
    by vmap(grad), the empirical Fisher as their second moment plus damping, the step
    F^-1 g solved through a Cholesky factor (cholesky_solve), compared with plain gradient
    descent over four steps."""
    F = L.nn.functional
    fn = L.func
    X = _t(L, normal64(24, 3, seed=96))
    yv = ((X @ _t(L, [1.0, -2.0, 0.5]) + _t(L, 0.5 * normal64(24, seed=97))) > 0).double()

    def nll(w, x, y):
        return F.binary_cross_entropy_with_logits(x @ w, y)

    out = {}
    for kind in ("natural", "plain"):
        w = L.zeros(3, dtype=L.float64)
        hist = []
        for _ in range(4):
            g = fn.grad(lambda w_: nll(w_, X, yv))(w)
            if kind == "natural":
                per = fn.vmap(fn.grad(nll), in_dims=(None, 0, 0))(w, X, yv)
                Fm = per.T @ per / 24 + 1e-3 * L.eye(3, dtype=L.float64)
                step = L.cholesky_solve(g[:, None], L.linalg.cholesky(Fm)).squeeze(1)
            else:
                step = g
            w = w - 0.5 * step
            hist.append(nll(w, X, yv))
        out[kind] = (w, L.stack(hist))
    return out


# ----------------------------------------------------------------------------------------------
# signal processing
# ----------------------------------------------------------------------------------------------
@program
def weighted_overlap_add_resynthesis_by_fold_against_istft(L):
    """Short-time processing by hand: frames cut with Tensor.unfold (hop < frame length),
    a Hann analysis window, rfft, a spectral gain (a learned per-bin mask through a sigmoid),
    irfft, the synthesis window, overlap-add by F.fold with stride = hop, and division by
    the folded squared-window envelope; without the gain it equals istft(stft(x)); the gain
    trained two steps toward a low-passed target."""
    F = L.nn.functional
    n, hop, T = 16, 4, 64
    x = _t(L, normal64(2, T, seed=98))
    win = L.hann_window(n, dtype=L.float64)

    def synth(sig, gain):
        padded = F.pad(sig[:, None], (n // 2, n // 2), mode="reflect")[:, 0]
        frames = padded.unfold(-1, n, hop) * win
        spec = L.fft.rfft(frames) * gain
        back = L.fft.irfft(spec, n=n) * win
        Lp = padded.shape[-1]
        ola = F.fold(back.transpose(1, 2), (1, Lp), kernel_size=(1, n), stride=(1, hop))
        env = F.fold((win ** 2).expand(1, back.shape[1], n).transpose(1, 2), (1, Lp),
                     kernel_size=(1, n), stride=(1, hop))
        return (ola / env)[:, 0, 0, n // 2:n // 2 + sig.shape[-1]]

    ones = L.ones(n // 2 + 1, dtype=L.float64)
    plain = synth(x, ones)
    ref = L.istft(L.stft(x, n, hop, window=win, return_complex=True), n, hop, window=win,
                  length=T)
    logit = L.zeros(n // 2 + 1, dtype=L.float64, requires_grad=True)
    target = synth(x, (L.arange(n // 2 + 1) < 4).double())
    opt = L.optim.Adam([logit], lr=0.3)
    losses = []
    for _ in range(2):
        loss = F.mse_loss(synth(x, L.sigmoid(logit)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return L.allclose(plain, x), L.allclose(plain, ref), losses, logit.grad


# ----------------------------------------------------------------------------------------------
# attention with every option
# ----------------------------------------------------------------------------------------------
@program
def perceiver_latent_cross_attention_with_bias_kv_zero_attn_and_padding_masks(L):
    """A Perceiver encoder: a learned latent array cross-attends to a padded byte array of
    another width (MultiheadAttention with kdim and vdim, add_bias_kv and add_zero_attn, a
    boolean key_padding_mask), per-head weights kept (average_attn_weights=False), then a
    latent self-attention block with pre-norm and a GELU MLP; a pooled classifier trained
    two steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(38)
    Dl, Din, Nl = 8, 5, 4
    latents = nn.Parameter(L.tensor(normal64(Nl, Dl, scale=0.2, seed=99)))
    cross = nn.MultiheadAttention(Dl, 2, kdim=Din, vdim=Din, add_bias_kv=True,
                                  add_zero_attn=True, batch_first=True).double()
    selfa = nn.MultiheadAttention(Dl, 2, batch_first=True).double()
    n1, n2 = nn.LayerNorm(Dl).double(), nn.LayerNorm(Dl).double()
    mlp = nn.Sequential(nn.Linear(Dl, 16), nn.GELU(), nn.Linear(16, Dl)).double()
    head = nn.Linear(Dl, 3).double()
    params = [latents] + [p for m in (cross, selfa, n1, n2, mlp, head) for p in m.parameters()]
    x = _t(L, normal64(3, 7, Din, seed=100))
    pad = L.tensor([[False] * 7, [False] * 5 + [True] * 2, [False] * 3 + [True] * 4])
    y = L.tensor([0, 2, 1])
    opt = L.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(2):
        q = latents.expand(3, -1, -1)
        h, w = cross(q, x, x, key_padding_mask=pad, average_attn_weights=False)
        h = h + q
        z = n1(h)
        h = h + selfa(z, z, z, need_weights=False)[0]
        h = h + mlp(n2(h))
        loss = F.cross_entropy(head(h.mean(1)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return w.shape, w[1, 0], losses, cross.bias_k.grad, cross.k_proj_weight.grad, latents.grad


# ----------------------------------------------------------------------------------------------
# language-model heads and decoding
# ----------------------------------------------------------------------------------------------
@program
def bidirectional_projected_lstm_over_packed_batches_with_an_adaptive_softmax_head(L):
    """A word-level language model: a two-layer bidirectional LSTM with proj_size over a packed
    batch of unsorted lengths, the padded outputs' valid positions selected by a mask,
    AdaptiveLogSoftmaxWithLoss with two cutoffs (head plus two tail clusters, div_value 2)
    scoring the next tokens; its output, loss, log_prob and predict; two SGD steps."""
    nn = L.nn
    rnn_utils = nn.utils.rnn
    L.manual_seed(39)
    V = 20
    emb = nn.Embedding(V, 6).double()
    lstm = nn.LSTM(6, 8, num_layers=2, bidirectional=True, proj_size=4,
                   batch_first=True).double()
    asm = nn.AdaptiveLogSoftmaxWithLoss(8, V, cutoffs=[5, 12], div_value=2.0).double()
    seqs = [L.tensor([1, 5, 7, 13, 2]), L.tensor([3, 19, 4]), L.tensor([8, 8, 11, 6])]
    lengths = L.tensor([5, 3, 4])
    padded = rnn_utils.pad_sequence(seqs, batch_first=True)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(asm.parameters())
    opt = L.optim.SGD(params, lr=0.5)
    mask = L.arange(4)[None] < (lengths - 1)[:, None]
    losses = []
    for _ in range(2):
        packed = rnn_utils.pack_padded_sequence(emb(padded[:, :-1]), lengths - 1,
                                                batch_first=True, enforce_sorted=False)
        out, (h, c) = lstm(packed)
        out, _ = rnn_utils.pad_packed_sequence(out, batch_first=True, total_length=4)
        res = asm(out[mask], padded[:, 1:][mask])
        opt.zero_grad()
        res.loss.backward()
        opt.step()
        losses.append(res.loss.detach())
    with L.no_grad():
        lp = asm.log_prob(out[mask])
        pred = asm.predict(out[mask])
    return res.output, losses, h.shape, lp.logsumexp(1), pred, asm.tail[1][1].weight.grad, \
        lstm.weight_hr_l1_reverse.grad


@program
def ctc_training_with_zero_infinity_and_greedy_decoding_by_unique_consecutive(L):
    """A CTC acoustic model: a Conv1d front and a GRU over padded frames, log_softmax over
    blank plus labels, ctc_loss with per-sample input and target lengths (one target too
    long for its input, made finite by zero_infinity), reduction 'mean' and 'sum'; greedy
    decoding collapsing repeats by unique_consecutive and dropping blanks."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(40)
    conv = nn.Conv1d(4, 6, 3, padding=1).double()
    gru = nn.GRU(6, 8, batch_first=True).double()
    out = nn.Linear(8, 5).double()
    x = _t(L, normal64(3, 4, 9, seed=101))
    targets = L.tensor([1, 2, 2, 3, 4, 1, 1, 1, 1, 1, 2, 3, 4, 1, 2])
    tlen = L.tensor([4, 10, 1])
    ilen = L.tensor([9, 6, 7])
    params = [p for m in (conv, gru, out) for p in m.parameters()]
    opt = L.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(2):
        h, _ = gru(F.relu(conv(x)).transpose(1, 2))
        lp = out(h).log_softmax(-1).transpose(0, 1)
        loss = F.ctc_loss(lp, targets, ilen, tlen, zero_infinity=True)
        total = F.ctc_loss(lp, targets, ilen, tlen, reduction="none", zero_infinity=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append((loss.detach(), total.detach()))
    decoded = []
    for b in range(3):
        best = lp[:ilen[b], b].argmax(-1)
        col = L.unique_consecutive(best)
        decoded.append(col[col != 0])
    return losses, decoded, out.weight.grad, gru.weight_hh_l0.grad


# ----------------------------------------------------------------------------------------------
# graph pooling with scatter reductions
# ----------------------------------------------------------------------------------------------
@program
def graph_readouts_by_index_reduce_and_scatter_reduce_with_gradients(L):
    """Batched graphs (a batch vector of node-to-graph ids): GraphSAGE-style mean and max
    neighbour aggregation by index_reduce_ ('mean' and 'amax', include_self=False), graph
    readouts by scatter_reduce ('sum', 'amax', 'amin', 'prod'), a two-graph classifier
    differentiated through every reduction (ties broken by the tensors' values)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(41)
    x = _t(L, normal64(7, 4, seed=102))
    src = L.tensor([0, 1, 1, 2, 3, 4, 5, 6, 6, 4])
    dst = L.tensor([1, 0, 2, 1, 4, 3, 6, 5, 4, 6])
    batch = L.tensor([0, 0, 0, 1, 1, 1, 1])
    lin_self, lin_mean, lin_max = (nn.Linear(4, 4).double() for _ in range(3))
    head = nn.Linear(16, 2).double()
    h = lin_self(x)
    msg = x[src]
    mean = L.zeros(7, 4, dtype=L.float64).index_reduce_(0, dst, msg, "mean",
                                                         include_self=False)
    mx = L.full((7, 4), -5.0, dtype=L.float64).index_reduce_(0, dst, msg, "amax",
                                                             include_self=False)
    h = F.relu(h + lin_mean(mean) + lin_max(mx))
    idx = batch[:, None].expand(-1, 4)
    pooled = [L.zeros(2, 4, dtype=L.float64).scatter_reduce(0, idx, h, red, include_self=False)
              for red in ("sum", "amax", "amin")]
    pooled.append(L.ones(2, 4, dtype=L.float64).scatter_reduce(0, idx, L.sigmoid(h), "prod"))
    logits = head(L.cat(pooled, 1))
    loss = F.cross_entropy(logits, L.tensor([1, 0]))
    loss.backward()
    return mean, mx, pooled, loss, lin_max.weight.grad, lin_mean.bias.grad, head.weight.grad


# ----------------------------------------------------------------------------------------------
# representation quality
# ----------------------------------------------------------------------------------------------
@program
def alignment_and_uniformity_losses_with_pdist_on_the_hypersphere(L):
    """Wang and Isola's losses for contrastive features: alignment E ||f(x) - f(y)||^alpha
    over positive pairs and uniformity log E exp(-t ||f(x) - f(y)||^2) over all pairs by
    pdist, on L2-normalised outputs of an encoder, both views, three Adam steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(42)
    enc = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    x = _t(L, normal64(10, 5, seed=103))
    xp = x + 0.2 * _t(L, normal64(10, 5, seed=104))
    opt = L.optim.Adam(enc.parameters(), lr=1e-2)
    rec = []
    for _ in range(3):
        a, b = F.normalize(enc(x), dim=1), F.normalize(enc(xp), dim=1)
        align = (a - b).norm(p=2, dim=1).pow(2).mean()
        unif = (L.pdist(a, p=2).pow(2).mul(-2).exp().mean().log() +
                L.pdist(b, p=2).pow(2).mul(-2).exp().mean().log()) / 2
        loss = align + unif
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append((align.detach(), unif.detach()))
    return rec, L.pdist(a, p=1), enc[0].weight.grad


# ----------------------------------------------------------------------------------------------
# binarised networks with a custom autograd function under vmap
# ----------------------------------------------------------------------------------------------
@program
def binarised_weights_by_a_vmappable_straight_through_sign_function(L):
    """A BinaryConnect-style layer: a custom autograd Function (forward without ctx plus
    setup_context, generate_vmap_rule) giving sign(w) forward and the clipped identity
    grad * (|w| <= 1) backward; trained two steps with latent weights clamped to [-1, 1];
    per-sample gradients of the binarised net by vmap(grad) through the same Function."""
    nn, F = L.nn, L.nn.functional
    fn = L.func

    class SignSTE(L.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(w):
            return L.where(w >= 0, L.ones_like(w), -L.ones_like(w))

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (w,) = ctx.saved_tensors
            return g * (w.abs() <= 1).to(g.dtype)

    L.manual_seed(43)
    W1 = nn.Parameter(L.tensor(normal64(8, 4, scale=0.7, seed=105)))
    W2 = nn.Parameter(L.tensor(normal64(3, 8, scale=1.2, seed=106)))
    bn = nn.BatchNorm1d(4, affine=False).double()
    x, y = _t(L, normal64(12, 4, seed=107)), L.tensor(labels(12, 3, seed=108))

    def net(w1, w2, inp):
        return F.linear(F.hardtanh(F.linear(inp, SignSTE.apply(w1))), SignSTE.apply(w2)) / 8

    opt = L.optim.Adam([W1, W2], lr=0.05)
    losses = []
    for _ in range(2):
        loss = F.cross_entropy(net(W1, W2, bn(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            W1.clamp_(-1, 1)
            W2.clamp_(-1, 1)
        losses.append(loss.detach())

    def one(w1, w2, xi, yi):
        return F.cross_entropy(net(w1, w2, xi[None]), yi[None])

    per = fn.vmap(fn.grad(one, argnums=(0, 1)), in_dims=(None, None, 0, 0))(
        W1.detach(), W2.detach(), x, y)
    return losses, W1, per[0].shape, per[1].sum(0), W2.grad



# ----------------------------------------------------------------------------------------------
# robust and classical statistics in tensors
# ----------------------------------------------------------------------------------------------
@program
def robust_regression_by_irls_with_tukey_biweight_and_a_mad_scale(L):
    """Robust linear regression: ordinary least squares by lstsq as the start, then
    iteratively reweighted least squares with Tukey's biweight on residuals scaled by the
    median absolute deviation (median of |r - median r| / 0.6745), the weighted normal
    equations solved each round; a trimmed mean of the residuals by kthvalue bounds."""
    rng = np.random.RandomState(109)
    X = _t(L, np.c_[np.ones(30), rng.randn(30, 2)])
    y = X @ _t(L, [1.0, 2.0, -1.0]) + _t(L, 0.1 * rng.randn(30))
    y[[3, 11, 19]] += _t(L, [8.0, -6.0, 10.0])
    beta = L.linalg.lstsq(X, y[:, None]).solution[:, 0]
    ols = beta.clone()
    hist = []
    for _ in range(5):
        r = y - X @ beta
        mad = (r - r.median()).abs().median() / 0.6745
        u = r / (4.685 * mad)
        w = L.where(u.abs() < 1, (1 - u ** 2) ** 2, L.zeros_like(u))
        Xw = X * w[:, None]
        beta = L.linalg.solve(X.T @ Xw, Xw.T @ y)
        hist.append((mad, (w == 0).sum()))
    r = y - X @ beta
    lo, hi = r.kthvalue(4).values, r.kthvalue(27).values
    trimmed = r[(r >= lo) & (r <= hi)].mean()
    return ols, beta, hist, trimmed, w.argsort()[:3].sort().values


@program
def discrete_time_survival_with_censoring_by_hazard_cumprod(L):
    """A discrete-time survival model: a net gives per-interval hazards through a sigmoid,
    survival as the cumulative product of (1 - h) shifted by one (a leading one by F.pad), an
    event's likelihood h_t S_{t-1} and a censored subject's S_t gathered at their times, the
    negative log-likelihood with clamped logs; two Adam steps and the predicted median
    survival interval (first time S drops to one half, by argmax of a boolean)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(44)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 6)).double()
    x = _t(L, normal64(10, 3, seed=110))
    times = L.tensor(labels(10, 6, seed=111))
    event = L.tensor([1, 0, 1, 1, 0, 1, 0, 1, 1, 0]).bool()
    opt = L.optim.Adam(net.parameters(), lr=0.02)
    losses = []
    for _ in range(2):
        h = L.sigmoid(net(x))
        surv = L.cumprod(1 - h, dim=1)
        prev = F.pad(surv, (1, 0), value=1.0)[:, :-1]
        h_t = h.gather(1, times[:, None]).squeeze(1)
        sp_t = prev.gather(1, times[:, None]).squeeze(1)
        s_t = surv.gather(1, times[:, None]).squeeze(1)
        lik = L.where(event, h_t * sp_t, s_t)
        loss = -L.log(lik.clamp(min=1e-12)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    below = surv <= 0.5
    median = L.where(below.any(1), below.int().argmax(1), L.full_like(times, 6))
    return losses, surv[:3], median, net[2].weight.grad


@program
def tabular_preprocessing_in_tensors_quantile_transform_codes_and_imputation(L):
    """A preprocessing pipeline without sklearn: missing values imputed with nanmean per
    column (isnan masks), standardisation with unbiased std, a quantile transform of one
    column by searchsorted into its training quantiles (linear interpolation between
    ranks), categorical codes by unique(return_inverse) and one-hot by scatter_, the result
    fed to a logistic model trained by LBFGS."""
    F = L.nn.functional
    raw = normal64(16, 3, seed=112)
    raw[[1, 5, 9], [0, 2, 1]] = np.nan
    X = _t(L, raw)
    cats = L.tensor([7, 3, 7, 9, 3, 3, 9, 7, 1, 1, 9, 3, 7, 7, 1, 9])
    y = _t(L, (normal64(16, seed=113) > 0).astype(np.float64))
    fill = L.nanmean(X, dim=0)
    X = L.where(L.isnan(X), fill.expand_as(X), X)
    Z = (X - X.mean(0)) / X.std(0)
    qs = L.quantile(X[:, 2], L.linspace(0, 1, 5, dtype=L.float64))
    pos = L.searchsorted(qs, X[:, 2].contiguous()).clamp(1, 4)
    lo, hi = qs[pos - 1], qs[pos]
    qt = ((pos - 1).double() + (X[:, 2] - lo) / (hi - lo)) / 4
    codes, inv, counts = L.unique(cats, return_inverse=True, return_counts=True)
    onehot = L.zeros(16, len(codes), dtype=L.float64).scatter_(1, inv[:, None], 1.0)
    feats = L.cat([Z, qt[:, None], onehot], 1)
    w = L.zeros(feats.shape[1], dtype=L.float64, requires_grad=True)
    opt = L.optim.LBFGS([w], lr=1, max_iter=15, history_size=5)

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(feats @ w, y) + 0.01 * w.pow(2).sum()
        loss.backward()
        return loss

    final = opt.step(closure)
    return fill, qs, qt, codes, counts, w, final


@program
def mahalanobis_out_of_distribution_scores_from_class_conditional_gaussians(L):
    """OOD detection by Mahalanobis distance: penultimate features of a small net, class means,
    a shared covariance pooled from the centred features (torch.cov with correction 0), its
    pseudo-inverse; each test point scored by the minimum over classes of the squared
    distance; input preprocessing as in the paper (a small signed-gradient step on the input
    that lowers the distance) and the scores again."""
    nn = L.nn
    L.manual_seed(45)
    body = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 5)).double()
    xtr = _t(L, normal64(24, 4, seed=114))
    ytr = L.tensor(labels(24, 3, seed=115))
    xte = _t(L, np.r_[normal64(4, 4, seed=116), 4 + normal64(2, 4, seed=117)])
    with L.no_grad():
        f = body(xtr)
        means = L.stack([f[ytr == c].mean(0) for c in range(3)])
        centred = f - means[ytr]
        cov = L.cov(centred.T, correction=0)
        prec = L.linalg.pinv(cov, hermitian=True)

    def score(x):
        d = body(x)[:, None, :] - means[None]
        return L.einsum("nci,ij,ncj->nc", d, prec, d).min(1).values

    base = score(xte).detach()
    x = xte.clone().requires_grad_(True)
    score(x).sum().backward()
    x2 = x.detach() - 0.01 * x.grad.sign()
    return cov, base, score(x2).detach(), x.grad.sign()


@program
def kernel_density_estimate_with_silverman_bandwidth_and_log_likelihood_gradients(L):
    """A Gaussian kernel density estimate: Silverman's bandwidth from the standard deviation
    and the interquartile range (quantile), log densities at query points by logsumexp of
    the kernel log-terms, the leave-one-out log-likelihood (the diagonal masked with -inf)
    to choose among three bandwidth factors, and its gradient to the bandwidth."""
    x = _t(L, np.r_[normal64(20, seed=118), 3 + 0.5 * normal64(10, seed=119)])
    n = x.numel()
    q = L.quantile(x, _t(L, [0.25, 0.75]))
    iqr = q[1] - q[0]
    h0 = 0.9 * L.minimum(x.std(), iqr / 1.34) * n ** -0.2
    query = L.linspace(-3, 5, 9, dtype=L.float64)

    def logdens(pts, data, h, loo=False):
        z = (pts[:, None] - data[None]) / h
        lk = -0.5 * z ** 2 - L.log(h) - 0.5 * math.log(2 * math.pi)
        if loo:
            lk = lk.masked_fill(L.eye(len(data), dtype=L.bool), -math.inf)
            return L.logsumexp(lk, 1) - math.log(len(data) - 1)
        return L.logsumexp(lk, 1) - math.log(len(data))

    scores = []
    for factor in (0.5, 1.0, 2.0):
        h = (h0 * factor).detach().requires_grad_(True)
        ll = logdens(x, x, h, loo=True).sum()
        ll.backward()
        scores.append((ll.detach(), h.grad))
    return h0, logdens(query, x, h0), scores


@program
def seasonal_decomposition_by_moving_averages_and_autocorrelation_by_fft(L):
    """Classical decomposition of a monthly-like series: the trend by a centred 2x12 moving
    average (conv1d with a [1/24, 1/12 x 11, 1/24] kernel, replicate padding), the
    seasonal component by averaging detrended values of each phase (view and mean), the
    remainder; the autocorrelation of the remainder by zero-padded rfft/irfft, and the
    Ljung-Box statistic over the first six lags."""
    F = L.nn.functional
    n, period = 48, 12
    t = np.arange(n)
    y = _t(L, 10 + 0.2 * t + 2 * np.sin(2 * np.pi * t / period) + 0.3 * normal64(n, seed=120))
    k = L.full((period + 1,), 1.0 / period, dtype=L.float64)
    k[0] = k[-1] = 1.0 / (2 * period)
    trend = F.conv1d(F.pad(y[None, None], (6, 6), mode="replicate"), k[None, None])[0, 0]
    detr = y - trend
    season = detr.view(-1, period).mean(0)
    season = season - season.mean()
    rem = detr - season.repeat(n // period)
    c = rem - rem.mean()
    spec = L.fft.rfft(c, n=2 * n)
    ac = L.fft.irfft(spec * spec.conj(), n=2 * n)[:n]
    acf = ac / ac[0]
    lags = L.arange(1, 7, dtype=L.float64)
    lb = n * (n + 2) * (acf[1:7] ** 2 / (n - lags)).sum()
    return trend[::6], season, acf[:7], lb


@program
def learning_rate_range_test_with_smoothed_loss_and_divergence_stop(L):
    """An LR range test: the learning rate grown exponentially from 1e-4 to 10 over the steps
    (LambdaLR), the loss smoothed by an exponential moving average with bias correction,
    stopped when it exceeds four times the best; the model and optimizer restored from
    deep-copied state dicts afterwards, and the steepest-descent learning rate picked from
    the smoothed curve's gradient (torch.gradient)."""
    import copy
    nn, F = L.nn, L.nn.functional
    L.manual_seed(46)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    x, y = _t(L, normal64(32, 4, seed=121)), L.tensor(labels(32, 3, seed=122))
    opt = L.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9)
    saved = copy.deepcopy(net.state_dict()), copy.deepcopy(opt.state_dict())
    steps = 25
    sched = L.optim.lr_scheduler.LambdaLR(opt, lambda i: (10 / 1e-4) ** (i / (steps - 1)))
    avg, best, lrs, smooth = 0.0, math.inf, [], []
    for i in range(steps):
        loss = F.cross_entropy(net(x[(i % 4) * 8:(i % 4 + 1) * 8]), y[(i % 4) * 8:(i % 4 + 1) * 8])
        opt.zero_grad()
        loss.backward()
        opt.step()
        avg = 0.8 * avg + 0.2 * loss.item()
        sm = avg / (1 - 0.8 ** (i + 1))
        lrs.append(opt.param_groups[0]["lr"])
        smooth.append(sm)
        best = min(best, sm)
        if sm > 4 * best:
            break
        sched.step()
    net.load_state_dict(saved[0])
    opt.load_state_dict(saved[1])
    curve = L.tensor(smooth, dtype=L.float64)
    g = L.gradient(curve, spacing=(L.log10(L.tensor(lrs, dtype=L.float64)),))[0]
    return lrs, smooth, int(g.argmin()), net[0].weight, opt.param_groups[0]["lr"]



# ----------------------------------------------------------------------------------------------
# newer transformer tricks
# ----------------------------------------------------------------------------------------------
@program
def mixture_of_depths_routing_top_k_tokens_through_a_block(L):
    """Mixture-of-depths: a router scores each token, only the top-k per sequence (topk, then
    sorted to keep order) are gathered and sent through an MLP block whose output is scaled
    by the router weight, scattered back (scatter_add on a zero tensor plus the residual),
    the other tokens skip the block; an auxiliary BCE teaches a predictor the top-k
    membership (the targets detached); two AdamW steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(47)
    B, T, D, k = 2, 8, 6, 3
    router = nn.Linear(D, 1).double()
    block = nn.Sequential(nn.LayerNorm(D), nn.Linear(D, 12), nn.GELU(), nn.Linear(12, D)).double()
    pred = nn.Linear(D, 1).double()
    x = _t(L, normal64(B, T, D, seed=123))
    target = _t(L, normal64(B, T, D, seed=124))
    mods = nn.ModuleList([router, block, pred])
    opt = L.optim.AdamW(mods.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        w = router(x).squeeze(-1)
        top = w.topk(k, dim=1).indices.sort(dim=1).values
        idx = top[..., None].expand(-1, -1, D)
        chosen = x.gather(1, idx)
        upd = block(chosen) * w.gather(1, top)[..., None]
        out = x + L.zeros_like(x).scatter_add(1, idx, upd)
        member = L.zeros(B, T, dtype=L.float64).scatter(1, top, 1.0)
        aux = F.binary_cross_entropy_with_logits(pred(x.detach()).squeeze(-1), member)
        loss = F.mse_loss(out, target) + 0.1 * aux
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return top, member, losses, router.weight.grad, block[1].weight.grad


@program
def token_merging_by_bipartite_soft_matching_with_size_weighted_averages(L):
    """ToMe: tokens split alternately into sets A and B, cosine similarity of their keys, each
    A token's best B match (max), the r most similar A tokens merged into their matches by
    scatter_reduce('mean' with include_self) on size-weighted features, the token sizes
    tracked and used in proportional attention (log size added to the logits)."""
    F = L.nn.functional
    B, T, D, r = 2, 8, 4, 2
    x = _t(L, normal64(B, T, D, seed=125), grad=True)
    size = L.ones(B, T, 1, dtype=L.float64)
    keys = F.normalize(x, dim=-1)
    a, b = keys[:, ::2], keys[:, 1::2]
    scores = a @ b.transpose(-1, -2)
    node_max, node_idx = scores.max(dim=-1)
    edge = node_max.argsort(dim=-1, descending=True)[..., None]
    unm_idx, src_idx = edge[:, r:], edge[:, :r]
    dst_idx = node_idx[..., None].gather(1, src_idx)
    xa, xb = (x * size)[:, ::2], (x * size)[:, 1::2]
    sa, sb = size[:, ::2], size[:, 1::2]
    unm = xa.gather(1, unm_idx.expand(-1, -1, D))
    src = xa.gather(1, src_idx.expand(-1, -1, D))
    merged = xb.scatter_reduce(1, dst_idx.expand(-1, -1, D), src, reduce="sum")
    msize = sb.scatter_reduce(1, dst_idx, sa.gather(1, src_idx), reduce="sum")
    out = L.cat([unm, merged], 1)
    new_size = L.cat([sa.gather(1, unm_idx), msize], 1)
    out = out / new_size
    mean_merge = xb.scatter_reduce(1, dst_idx.expand(-1, -1, D), src, reduce="mean")
    logits = out @ out.transpose(-1, -2) / math.sqrt(D) + new_size.log().transpose(-1, -2)
    att = logits.softmax(-1) @ out
    att.pow(2).sum().backward()
    return out, new_size.squeeze(-1), mean_merge, att, x.grad


@program
def differential_attention_with_a_reparameterised_lambda(L):
    """Differential attention: queries and keys split in two, two softmax maps subtracted with
    a weight lambda = exp(q1.k1) - exp(q2.k2) + lambda_init (learned vectors), applied to the
    values, per-head RMSNorm and the (1 - lambda_init) scale; a causal mask; gradients to
    the lambda vectors and projections."""
    nn = L.nn
    L.manual_seed(48)
    B, T, D, H = 2, 6, 8, 2
    dh = D // H // 2
    Wq, Wk, Wv = (nn.Linear(D, D, bias=False).double() for _ in range(3))
    lam = nn.ParameterList([nn.Parameter(L.tensor(normal64(dh, scale=0.1, seed=126 + i)))
                            for i in range(4)])
    norm = nn.RMSNorm(2 * dh, eps=1e-5).double()
    x = _t(L, normal64(B, T, D, seed=130))
    lam_init = 0.8 - 0.6 * math.exp(-0.3 * 1)
    q = Wq(x).view(B, T, 2 * H, dh).transpose(1, 2)
    k = Wk(x).view(B, T, 2 * H, dh).transpose(1, 2)
    v = Wv(x).view(B, T, H, 2 * dh).transpose(1, 2)
    mask = L.ones(T, T, dtype=L.bool).tril()
    att = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
    att = att.masked_fill(~mask, float("-inf")).softmax(-1).view(B, H, 2, T, T)
    lmb = L.exp((lam[0] * lam[1]).sum()) - L.exp((lam[2] * lam[3]).sum()) + lam_init
    diff = att[:, :, 0] - lmb * att[:, :, 1]
    out = norm(diff @ v) * (1 - lam_init)
    out = out.transpose(1, 2).reshape(B, T, D)
    out.pow(2).mean().backward()
    return out, lmb, lam[0].grad, lam[3].grad, Wq.weight.grad


# ----------------------------------------------------------------------------------------------
# hyperbolic embeddings and splatting
# ----------------------------------------------------------------------------------------------
@program
def poincare_ball_embeddings_with_riemannian_sgd_and_retraction(L):
    """Poincare embeddings of a small tree: the distance acosh(1 + 2|u-v|^2 / ((1-|u|^2)(1-|v|^2)))
    (eps-clamped), a softmax loss over a positive and sampled negatives, the Euclidean
    gradient rescaled by ((1 - |x|^2)^2 / 4) for Riemannian SGD, updates applied in no_grad
    and projected back inside the ball (renorm of rows to 1 - eps)."""
    F = L.nn.functional
    emb = _t(L, normal64(7, 2, scale=0.01, seed=131), grad=True)
    edges = L.tensor([[1, 0], [2, 0], [3, 1], [4, 1], [5, 2], [6, 2]])
    negs = L.tensor(np.random.RandomState(132).randint(0, 7, (6, 4)))

    def dist(u, v):
        sq = ((u - v) ** 2).sum(-1)
        nu = (1 - (u ** 2).sum(-1)).clamp(min=1e-5)
        nv = (1 - (v ** 2).sum(-1)).clamp(min=1e-5)
        return L.acosh((1 + 2 * sq / (nu * nv)).clamp(min=1 + 1e-7))

    losses = []
    for _ in range(4):
        u = emb[edges[:, 0]]
        cands = L.cat([edges[:, 1:], negs], 1)
        d = dist(u[:, None], emb[cands])
        loss = F.cross_entropy(-d, L.zeros(6, dtype=L.long))
        if emb.grad is not None:
            emb.grad.zero_()
        loss.backward()
        with L.no_grad():
            scale = ((1 - emb.pow(2).sum(-1, keepdim=True)) ** 2) / 4
            emb -= 0.5 * scale * emb.grad
            emb.copy_(L.renorm(emb, 2, 0, 1 - 1e-5))
        losses.append(loss.detach())
    return losses, emb, emb.norm(dim=1)


@program
def two_d_gaussian_splatting_with_depth_sorted_alpha_compositing(L):
    """2-d Gaussian splats: covariances built from a rotation angle and log-scales
    (R S S^T R^T), their inverses by the closed 2x2 formula, per-pixel Gaussian weights by a
    quadratic form via einsum, opacities through a sigmoid, splats sorted by depth (argsort)
    and composited front to back with exclusive cumulative products of transmittance; colours,
    means and shapes fitted to a target by Adam."""
    H = W = 10
    ys, xs = L.meshgrid(L.arange(H, dtype=L.float64), L.arange(W, dtype=L.float64),
                        indexing="ij")
    pix = L.stack([xs, ys], -1).view(-1, 2)
    depth = _t(L, [0.3, 0.1, 0.7, 0.5])
    order = depth.argsort()

    def render(mean, ang, logs, col, opa):
        c, s = L.cos(ang), L.sin(ang)
        R = L.stack([L.stack([c, -s], -1), L.stack([s, c], -1)], -2)
        S = L.diag_embed(L.exp(logs))
        cov = R @ S @ S.transpose(-1, -2) @ R.transpose(-1, -2)
        det = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] * cov[:, 1, 0]
        inv = L.stack([L.stack([cov[:, 1, 1], -cov[:, 0, 1]], -1),
                       L.stack([-cov[:, 1, 0], cov[:, 0, 0]], -1)], -2) / det[:, None, None]
        d = pix[None] - mean[:, None]
        g = L.exp(-0.5 * L.einsum("kpi,kij,kpj->kp", d, inv, d))
        a = (L.sigmoid(opa)[:, None] * g)[order]
        T = L.cumprod(1 - a + 1e-10, 0)
        T = L.cat([L.ones_like(T[:1]), T[:-1]], 0)
        return (L.einsum("kp,kc->pc", a * T, L.sigmoid(col)[order])).view(H, W, 3)

    with L.no_grad():
        target = render(_t(L, [[3, 3], [6, 6], [5, 2], [2, 7]]), _t(L, [0.3, -0.5, 1.0, 0]),
                        _t(L, np.log([[2, 1], [1.5, 1.5], [1, 2.5], [1, 1]])),
                        _t(L, [[3, -3, -3], [-3, 3, -3], [-3, -3, 3], [2, 2, -2]]),
                        _t(L, [2, 2, 2, 2]))
    params = [_t(L, [[4, 4], [5, 5], [5, 3], [3, 6]], grad=True), _t(L, [0, 0, 0, 0.0], grad=True),
              _t(L, np.zeros((4, 2)), grad=True), _t(L, normal64(4, 3, seed=133), grad=True),
              _t(L, [0, 0, 0, 0.0], grad=True)]
    opt = L.optim.Adam(params, lr=0.05)
    losses = []
    for _ in range(3):
        loss = (render(*params) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return target[::4, ::4], losses, params[0], params[2].grad, params[1].grad


# ----------------------------------------------------------------------------------------------
# test-time augmentation
# ----------------------------------------------------------------------------------------------
@program
def tta_with_affine_warps_flips_and_antialiased_rescaling(L):
    """Test-time augmentation: each image rotated by small angles through affine_grid and
    bicubic grid_sample with reflection padding, flipped horizontally, and rescaled by an
    antialiased bilinear downsampling and back up; a small CNN's softmax averaged over the
    views in eval mode; the averaged prediction's gradient to the input for a saliency map."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(49)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4)).double().eval()
    x = _t(L, normal64(2, 3, 12, 12, seed=134), grad=True)
    views = [x, x.flip(-1)]
    for deg in (-10.0, 10.0):
        a = math.radians(deg)
        theta = L.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]],
                         dtype=L.float64).expand(2, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        views.append(F.grid_sample(x, grid, mode="bicubic", padding_mode="reflection",
                                   align_corners=False))
    small = F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True,
                          align_corners=False)
    views.append(F.interpolate(small, size=(12, 12), mode="bilinear", align_corners=False))
    probs = L.stack([F.softmax(net(v), -1) for v in views]).mean(0)
    top = probs.argmax(1)
    probs.gather(1, top[:, None]).sum().backward()
    sal = x.grad.abs().amax(1)
    return probs, top, sal[0, ::3, ::3], net[0].weight.grad




# which float64 tensors a fused node saves (LayerNorm's input or its normalised output) can
# differ from torch's: rounding them to float32 then moves the gradients at ~1e-8
@program(rtol=1e-6, atol=1e-8)
def activation_compression_by_saved_tensor_hooks_and_offloading(L):
    """Memory-saving training: the large floating tensors autograd saves (activations and
    weights, not integer targets or per-row statistics) are packed to float32 by
    saved_tensors_hooks and unpacked to their dtype for the backward (the gradients then
    differ from the uncompressed ones by float32 rounding), their sizes recorded; the same step
    under save_on_cpu matches the plain one exactly; two SGD steps with compression."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(53)
    net = nn.Sequential(nn.Linear(5, 12), nn.SiLU(), nn.LayerNorm(12), nn.Linear(12, 3)).double()
    x, y = _t(L, normal64(6, 5, seed=141)), L.tensor(labels(6, 3, seed=142))
    sizes = []

    def pack(tn):
        if not tn.is_floating_point() or tn.numel() < 24:      # small or integer: as is
            return (tn.dtype, tn)
        sizes.append(tn.numel())
        return (tn.dtype, tn.to(L.float32))

    def unpack(packed):
        dtype, tn = packed
        return tn.to(dtype)

    plain = L.autograd.grad(F.cross_entropy(net(x), y), list(net.parameters()))
    with L.autograd.graph.save_on_cpu():
        offl = L.autograd.grad(F.cross_entropy(net(x), y), list(net.parameters()))
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    losses = []
    for _ in range(2):
        with L.autograd.graph.saved_tensors_hooks(pack, unpack):
            loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    drift = max(float((a - b).abs().max()) for a, b in zip(plain, offl))
    return sorted(sizes), drift, losses, net[3].weight.grad, net[2].weight


# ----------------------------------------------------------------------------------------------
# the same kinds of model in float32, as most scripts run them
# ----------------------------------------------------------------------------------------------
def _f32(L, a):
    return L.tensor(np.asarray(a, dtype=np.float32))


@program
def float32_fourier_neural_operator_1d_with_complex64_weights(L):
    """A float32 1-d FNO layer: rfft of the lifted field (complex64), the lowest modes mixed by
    a complex64 weight Parameter via einsum, irfft with n given, a pointwise Conv1d path,
    GELU; three Adam steps."""
    nn, F = L.nn, L.nn.functional
    C, modes, N = 4, 3, 16
    L.manual_seed(50)
    lift, skip, proj = nn.Conv1d(1, C, 1), nn.Conv1d(C, C, 1), nn.Conv1d(C, 1, 1)
    rng = np.random.RandomState(135)
    w = nn.Parameter(L.tensor((rng.rand(C, C, modes) + 1j * rng.rand(C, C, modes)) / C ** 2,
                              dtype=L.complex64))
    a, u = _f32(L, normal64(3, 1, N, seed=136)), _f32(L, normal64(3, 1, N, seed=137))
    params = [w] + [p for m in (lift, skip, proj) for p in m.parameters()]
    opt = L.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(3):
        h = lift(a)
        hf = L.fft.rfft(h)
        mixed = L.einsum("bix,iox->box", hf[..., :modes], w)
        out = L.cat([mixed, L.zeros(3, C, N // 2 + 1 - modes, dtype=L.complex64)], -1)
        h = F.gelu(L.fft.irfft(out, n=N) + skip(h))
        loss = F.mse_loss(proj(h), u)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses, w.grad, w, lift.weight.grad


@program
def float32_perceiver_style_cross_attention_classifier_under_adamw(L):
    """A float32 latent cross-attention classifier: learned latents attend to padded inputs
    (MultiheadAttention with kdim/vdim and a key padding mask), a TransformerEncoderLayer on
    the latents (norm_first, GELU), mean-pooled logits; label-smoothed cross entropy, AdamW
    with gradient clipping by norm, three steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(51)
    lat = nn.Parameter(L.randn(4, 8) * 0.2)
    cross = nn.MultiheadAttention(8, 2, kdim=5, vdim=5, batch_first=True)
    enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu",
                                     batch_first=True, norm_first=True)
    head = nn.Linear(8, 3)
    params = [lat] + [p for m in (cross, enc, head) for p in m.parameters()]
    x = _f32(L, normal64(4, 6, 5, seed=138))
    pad = L.arange(6)[None] >= L.tensor([6, 4, 5, 2])[:, None]
    y = L.tensor(labels(4, 3, seed=139))
    opt = L.optim.AdamW(params, lr=3e-3)
    rec = []
    for _ in range(3):
        h, _ = cross(lat.expand(4, -1, -1), x, x, key_padding_mask=pad)
        loss = F.cross_entropy(head(enc(h).mean(1)), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(params, 0.5)
        opt.step()
        rec.append((loss.detach(), norm))
    return rec, head.weight, cross.v_proj_weight.grad, lat.grad


@program
def float32_topk_sparse_autoencoder_and_ghost_gradient_aux_loss(L):
    """A float32 top-k SAE with an auxiliary loss on dead latents: latents that have not
    fired for two steps are candidates, the top-2 of their pre-activations reconstruct the
    main reconstruction's residual (the residual detached), scaled by 1/32; Adam, three
    steps; the fraction of variance unexplained."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(52)
    d, m, k = 8, 24, 4
    enc, dec = nn.Linear(d, m), nn.Linear(m, d)
    acts = _f32(L, normal64(40, d, seed=140))
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=3e-3)
    since = L.zeros(m, dtype=L.long)
    rec = []
    for _ in range(3):
        pre = F.relu(enc(acts - dec.bias))
        v, i = pre.topk(k, -1)
        z = L.zeros_like(pre).scatter(-1, i, v)
        recon = dec(z)
        main = (recon - acts).pow(2).sum(-1).mean()
        dead = since >= 2
        masked = pre.masked_fill(~dead, 0.0)
        av, ai = masked.topk(2, -1)
        za = L.zeros_like(pre).scatter(-1, ai, av)
        aux = (F.linear(za, dec.weight) - (acts - recon).detach()).pow(2).sum(-1).mean()
        loss = main + aux / 32
        opt.zero_grad()
        loss.backward()
        opt.step()
        since = L.where((z > 0).any(0), L.zeros_like(since), since + 1)
        fvu = main / (acts - acts.mean(0)).pow(2).sum(-1).mean()
        rec.append((main.detach(), aux.detach(), fvu.detach(), dead.sum()))
    return rec, since, enc.weight.grad


# ----------------------------------------------------------------------------------------------
# the test
# ----------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("torch_on_one_thread")     # (torch's pool waits ~20x longer here)
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
