"""Whole programs in the idioms of code people run, a sixth round: object-detection pieces in
plain torch (anchors, box IoU, box encoding, an NMS loop, focal loss, RoI pooling), segmentation
losses (dice, a Lovasz-style sorted loss, OHEM by topk), time-series forecasting (teacher
forcing, unfold windows, quantile loss), EmbeddingBag text classifiers, Siamese networks,
capsule routing, hypernetworks, Glow-style flows, linear attention, SE/CBAM blocks, test-time
augmentation, mixup/cutmix, distillation, checkpointing, SWA, schedulers, early stopping with
deep copies, saving to a buffer and printing.

Each ``program(lib)`` runs with ``lib`` = torch and ``lib`` = minigrad on the same numpy inputs
and copied weights; both must give the same values (float64 to ~1e-9, float32 to ~1e-5),
dtypes, shapes and requires_grad, or raise the same exception type with torch's words.
"""
import copy
import io
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    SideBySide, bare, err, grads_of, labels as _labels, load_seeded, normal64 as _arr,
    registry, train_steps)


HARNESS = SideBySide(rename=bare, rename_error=bare,
                     tol={"float32": (1e-5, 1e-6), "float64": (1e-9, 1e-11)},
                     scalar_tol=(1e-9, 1e-11), requires_grad=True)
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# object detection in plain torch
# ----------------------------------------------------------------------------------------------
def _anchors(L, sizes, ratios, fh, fw, stride):
    """(fh*fw*A, 4) xyxy anchors centred on a stride grid: per cell one box per (ratio,
    size) pair, ratio = height / width and area = size^2."""
    side = L.tensor(sizes, dtype=L.float64)
    tall = L.sqrt(L.tensor(ratios, dtype=L.float64))
    width = (side[None, :] / tall[:, None]).view(-1)
    height = (side[None, :] * tall[:, None]).view(-1)
    template = L.stack([-width, -height, width, height], dim=1) / 2
    gy, gx = L.meshgrid(L.arange(0, fh, dtype=L.float64) * stride,
                        L.arange(0, fw, dtype=L.float64) * stride, indexing="ij")
    gx, gy = gx.reshape(-1), gy.reshape(-1)
    centres = L.stack((gx, gy, gx, gy), dim=1)
    return (centres.view(-1, 1, 4) + template.view(1, -1, 4)).reshape(-1, 4)


def _box_iou(L, a, b):
    """pairwise IoU (len(a), len(b)) of xyxy boxes by broadcasting"""
    def size(r):
        return (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])
    sides = (L.min(a[:, None, 2:], b[:, 2:]) - L.max(a[:, None, :2], b[:, :2])).clamp(min=0)
    shared = sides[:, :, 0] * sides[:, :, 1]
    return shared / (size(a)[:, None] + size(b) - shared)


def _nms(L, boxes, scores, thr):
    order = scores.argsort(descending=True)
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i.item())
        if order.numel() == 1:
            break
        ious = _box_iou(L, boxes[i].unsqueeze(0), boxes[order[1:]]).squeeze(0)
        order = order[1:][ious <= thr]
    return L.tensor(keep, dtype=L.long)


@program
def anchors_iou_matching_and_box_coding(L):
    """Anchor generation on a grid, IoU matrix with ground truth, matching by max over dims
    with thresholds, encoding (dx, dy, log dw, log dh) and decoding back, clamped by log."""
    anchors = _anchors(L, (8.0, 16.0), (0.5, 1.0, 2.0), 3, 4, 8)
    gt = L.tensor([[2.0, 3.0, 14.0, 12.0], [10.0, 8.0, 30.0, 22.0]], dtype=L.float64)
    iou = _box_iou(L, anchors, gt)
    best_iou, best_gt = iou.max(dim=1)
    labels = L.full_like(best_gt, -1)
    labels[best_iou < 0.3] = 0
    labels[best_iou >= 0.5] = 1
    best_anchor = iou.argmax(dim=0)
    labels[best_anchor] = 1
    matched = gt[best_gt]

    def encode(ref, proposals):
        pw, ph = proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1]
        px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
        gw, gh = ref[:, 2] - ref[:, 0], ref[:, 3] - ref[:, 1]
        gx, gy = ref[:, 0] + 0.5 * gw, ref[:, 1] + 0.5 * gh
        return L.stack(((gx - px) / pw, (gy - py) / ph, L.log(gw / pw), L.log(gh / ph)), dim=1)

    def decode(d, proposals):
        pw, ph = proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1]
        px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
        dw = L.clamp(d[:, 2], max=math.log(1000.0 / 16))
        dh = L.clamp(d[:, 3], max=math.log(1000.0 / 16))
        cx, cy = d[:, 0] * pw + px, d[:, 1] * ph + py
        w, h = L.exp(dw) * pw, L.exp(dh) * ph
        return L.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)

    deltas = encode(matched, anchors)
    back = decode(deltas, anchors)
    pos = L.where(labels == 1)[0]
    return dict(anchors=anchors, iou=iou, labels=labels, best=best_anchor, deltas=deltas,
                back=back, pos=pos, n=int((labels == 0).sum()),
                err=float((back - matched).abs().max()))


@program
def nms_loop_and_batched_offsets(L):
    """A plain-torch NMS loop (argsort descending, IoU against the rest, keep by mask), the
    batched trick of offsetting boxes per class, score thresholds and topk."""
    rng = np.random.RandomState(3)
    xy = rng.rand(20, 2) * 40
    wh = rng.rand(20, 2) * 15 + 5
    boxes = L.tensor(np.concatenate([xy, xy + wh], 1))
    scores = L.tensor(rng.rand(20))
    classes = L.tensor(rng.randint(0, 3, 20))
    keep = _nms(L, boxes, scores, 0.4)
    offsets = classes.to(boxes) * (boxes.max() + 1)
    keep_b = _nms(L, boxes + offsets[:, None], scores, 0.4)
    mask = scores > 0.3
    top = scores[mask].topk(min(5, int(mask.sum())))
    return dict(keep=keep, keep_b=keep_b, top=top.values, ti=top.indices,
                kept=boxes[keep], sorted=L.sort(scores, descending=True, stable=True))


@program
def focal_loss_retina_head_training(L):
    """A RetinaNet-like head: conv tower, class logits with the prior bias init, sigmoid focal
    loss (alpha, gamma) normalised by positives, smooth L1 box regression, SGD steps."""
    nn, F = L.nn, L.nn.functional

    class Head(nn.Module):
        def __init__(self, c=6, a=3, k=4):
            super().__init__()
            self.tower = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU())
            self.cls = nn.Conv2d(c, a * k, 3, padding=1)
            self.box = nn.Conv2d(c, a * 4, 3, padding=1)
            self.k = k

        def forward(self, x):
            t = self.tower(x)
            n = x.shape[0]
            c = self.cls(t).permute(0, 2, 3, 1).reshape(n, -1, self.k)
            b = self.box(t).permute(0, 2, 3, 1).reshape(n, -1, 4)
            return c, b

    model = load_seeded(L, Head().double(), 2, 0.2)
    with L.no_grad():
        nn.init.constant_(model.cls.bias, -math.log((1 - 0.01) / 0.01))
    x = L.tensor(_arr(2, 6, 4, 4, seed=1))
    tgt_cls = L.tensor(_labels(2 * 48, 5, 2).reshape(2, 48)) - 1   # -1: background
    tgt_box = L.tensor(_arr(2, 48, 4, seed=3))

    def focal(logits, targets, alpha=0.25, gamma=2.0):
        p = L.sigmoid(logits)
        ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce * ((1 - p_t) ** gamma)
        a_t = alpha * targets + (1 - alpha) * (1 - targets)
        return (a_t * loss).sum()

    def loss_of():
        c, b = model(x)
        onehot = F.one_hot(tgt_cls.clamp(min=0), 4).to(c.dtype)
        onehot[tgt_cls < 0] = 0
        pos = tgt_cls >= 0
        npos = max(1, int(pos.sum()))
        return focal(c, onehot) / npos + F.smooth_l1_loss(b[pos], tgt_box[pos], beta=1 / 9)

    opt = L.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    return dict(losses=train_steps(opt, loss_of), g=grads_of(model))


@program
def roi_pooling_by_crops_and_adaptive_pools(L):
    """RoI pooling in plain torch: crop feature maps by integer box coordinates, adaptive max
    and average pools to 3x3, and an interpolate-based RoI align variant; gradients to the
    feature map."""
    F = L.nn.functional
    feats = L.tensor(_arr(2, 4, 10, 12, seed=4), requires_grad=True)
    rois = L.tensor([[0, 1.2, 0.5, 7.9, 6.3], [1, 3.0, 2.0, 11.0, 9.5], [0, 0.0, 0.0, 4.0, 3.0]],
                    dtype=L.float64)
    outs_max, outs_avg, outs_int = [], [], []
    for r in rois:
        b = int(r[0])
        x1, y1 = int(L.floor(r[1])), int(L.floor(r[2]))
        x2, y2 = int(L.ceil(r[3])), int(L.ceil(r[4]))
        crop = feats[b:b + 1, :, y1:y2 + 1, x1:x2 + 1]
        outs_max.append(F.adaptive_max_pool2d(crop, (3, 3)))
        outs_avg.append(F.adaptive_avg_pool2d(crop, 3))
        outs_int.append(F.interpolate(crop, size=(4, 4), mode="bilinear", align_corners=False))
    pm, pa, pi = L.cat(outs_max), L.cat(outs_avg), L.cat(outs_int)
    (pm.sum() + (pa ** 2).sum() + pi.pow(3).mean()).backward()
    amax = F.adaptive_max_pool2d(feats, (2, 3), return_indices=True)
    return dict(pm=pm, pa=pa, pi=pi, g=feats.grad, amax=amax[0], ai=amax[1])


# ----------------------------------------------------------------------------------------------
# segmentation losses
# ----------------------------------------------------------------------------------------------
@program
def segmentation_dice_lovasz_ohem(L):
    """A tiny segmentation net trained with soft dice + OHEM cross entropy (per-pixel losses,
    topk hardest) + a surrogate of the IoU loss in the Lovasz-hinge manner: hinge margins
    sorted from worst, weighted by how much the IoU loss grows as each next pixel is taken
    (cumulative sums over the ground truth in that order)."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                                         nn.ReLU(), nn.Conv2d(8, 3, 1)).double(), 5, 0.3)
    x = L.tensor(_arr(2, 3, 6, 6, seed=6))
    y = L.tensor(_labels(72, 3, 7).reshape(2, 6, 6))

    def dice(logits, target, eps=1.0):
        probs = logits.softmax(dim=1)
        oh = F.one_hot(target, 3).permute(0, 3, 1, 2).float().to(probs.dtype)
        inter = (probs * oh).sum(dim=(0, 2, 3))
        card = probs.sum(dim=(0, 2, 3)) + oh.sum(dim=(0, 2, 3))
        return 1 - ((2 * inter + eps) / (card + eps)).mean()

    def ohem(logits, target, frac=0.25):
        pix = F.cross_entropy(logits, target, reduction="none").view(-1)
        k = int(frac * pix.numel())
        return pix.topk(k).values.mean()

    def jaccard_steps(ranked_truth):
        # IoU loss of "the first k ranked pixels are foreground", k = 1..n, and its
        # increments from one k to the next (the first one kept as is)
        hit = ranked_truth.double()         # a bool mask: 1 - mask would be refused
        n_pos = hit.sum()
        missed = n_pos - hit.cumsum(0)      # positives not yet covered
        covered = n_pos + (1 - hit).cumsum(0)
        iou_loss = 1.0 - missed / covered
        iou_loss[1:] = iou_loss[1:] - iou_loss[:-1]
        return iou_loss

    def sorted_hinge_surrogate(score, is_fg):
        margin = 1.0 - score * (2.0 * is_fg.double() - 1.0)
        ranked, order = L.sort(margin, dim=0, descending=True)
        weights = jaccard_steps(is_fg[order]).to(ranked.dtype)
        return L.dot(F.relu(ranked), weights)

    def loss_of():
        out = model(x)
        fg = (y == 1)
        return (dice(out, y) + ohem(out, y)
                + sorted_hinge_surrogate(out[:, 1].reshape(-1), fg.reshape(-1)))

    opt = L.optim.Adam(model.parameters(), lr=0.01)
    losses = train_steps(opt, loss_of)
    model.eval()
    return dict(losses=losses, pred=model(x).argmax(1), rm=model[1].running_mean,
                nb=model[1].num_batches_tracked)


# ----------------------------------------------------------------------------------------------
# time series
# ----------------------------------------------------------------------------------------------
@program
def lstm_seq2seq_forecast_teacher_forcing_quantiles(L):
    """Windows cut by unfold from a series, an LSTM encoder and an LSTMCell decoder with
    teacher forcing chosen by a fixed schedule, quantile (pinball) loss over three quantiles,
    gradient clipping by norm, Adam steps; autoregressive forecast under no_grad."""
    nn = L.nn
    series = L.tensor(np.sin(np.arange(40) / 3.0) + _arr(40, seed=8) * 0.1)
    win = series.unfold(0, 12, 4)                # (8, 12)
    past, fut = win[:, :8].unsqueeze(-1), win[:, 8:]
    qs = L.tensor([0.1, 0.5, 0.9], dtype=L.float64)

    class S2S(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.LSTM(1, 6, batch_first=True)
            self.dec = nn.LSTMCell(1, 6)
            self.out = nn.Linear(6, 3)

        def forward(self, past, fut=None, tf=()):
            _, (h, c) = self.enc(past)
            h, c = h[0], c[0]
            inp = past[:, -1]
            preds = []
            for t in range(4):
                h, c = self.dec(inp, (h, c))
                q = self.out(h)
                preds.append(q)
                inp = fut[:, t:t + 1] if (fut is not None and t in tf) else q[:, 1:2]
            return L.stack(preds, dim=1)

    model = load_seeded(L, S2S().double(), 9, 0.3)

    def pinball(pred, y):
        e = y.unsqueeze(-1) - pred
        return L.max(qs * e, (qs - 1) * e).mean()

    opt = L.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for step in range(3):
        opt.zero_grad()
        loss = pinball(model(past, fut, tf={0, 2} if step % 2 == 0 else {1}), fut)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        losses.append((loss.item(), float(norm)))
    with L.no_grad():
        fc = model(past)
    return dict(losses=losses, fc=fc, win=win, rg=fc.requires_grad)


@program
def gru_sliding_windows_unfold_2d_and_stride_tricks(L):
    """A GRU forecaster over windows of a multichannel series made with unfold on dim 1 and
    as_strided, bidirectional with a packed padded batch of variable lengths."""
    nn = L.nn
    data = L.tensor(_arr(3, 20, seed=10))
    w = data.unfold(1, 5, 2).permute(1, 2, 0)       # (8 windows, 5 steps, 3 ch)
    st = L.as_strided(data[0].contiguous(), (6, 5), (3, 1))
    gru = load_seeded(L, nn.GRU(3, 4, num_layers=2, batch_first=True,
                             bidirectional=True).double(), 11)
    head = load_seeded(L, nn.Linear(8, 1).double(), 12)
    lengths = L.tensor([5, 5, 4, 4, 3, 3, 2, 2])
    packed = nn.utils.rnn.pack_padded_sequence(w, lengths, batch_first=True, enforce_sorted=True)
    opt = L.optim.RMSprop(list(gru.parameters()) + list(head.parameters()), lr=0.01)
    target = L.tensor(_arr(8, 1, seed=13))

    def loss_of():
        out, h = gru(packed)
        pad, lens = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        last = L.cat([h[-2], h[-1]], dim=1)
        return nn.functional.mse_loss(head(last), target) + pad.abs().mean() * 0.1

    losses = train_steps(opt, loss_of)
    out, h = gru(packed)
    pad, lens = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=6)
    return dict(losses=losses, w=w, st=st, pad=pad, lens=lens, h=h)


# ----------------------------------------------------------------------------------------------
# text classification and Siamese
# ----------------------------------------------------------------------------------------------
@program
def embeddingbag_text_classifier_with_offsets(L):
    """The torchtext tutorial model: tokens concatenated with offsets from a cumsum of
    lengths, EmbeddingBag mean, uniform init, SGD with StepLR and clip_grad_norm_, accuracy."""
    nn = L.nn
    texts = [[1, 4, 5, 2], [3, 3], [7, 8, 9, 1, 2], [6]]
    lens = L.tensor([len(t) for t in texts])
    offsets = L.cat([L.tensor([0]), lens[:-1]]).cumsum(dim=0)
    tokens = L.tensor([t for s in texts for t in s], dtype=L.int64)
    y = L.tensor([0, 1, 2, 1])

    class Clf(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.EmbeddingBag(10, 6, mode="mean")
            self.fc = nn.Linear(6, 3)

        def forward(self, text, offsets):
            return self.fc(self.emb(text, offsets))

    model = load_seeded(L, Clf().double(), 14, 0.5)
    crit = nn.CrossEntropyLoss()
    opt = L.optim.SGD(model.parameters(), lr=0.5)
    sched = L.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    hist = []
    for _ in range(3):
        opt.zero_grad()
        out = model(tokens, offsets)
        loss = crit(out, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        opt.step()
        sched.step()
        hist.append((loss.item(), (out.argmax(1) == y).sum().item(), sched.get_last_lr()))
    sum_bag = nn.functional.embedding_bag(tokens, model.emb.weight, offsets, mode="sum",
                                          per_sample_weights=L.linspace(0.1, 1.2, 12,
                                                                        dtype=L.float64))
    max_bag = nn.functional.embedding_bag(tokens, model.emb.weight, offsets, mode="max")
    last = nn.functional.embedding_bag(tokens, model.emb.weight, offsets,
                                       include_last_offset=True)
    return dict(hist=hist, sum_bag=sum_bag, max_bag=max_bag, last=last)


@program
def siamese_contrastive_cosine_and_pairwise(L):
    """A Siamese encoder with contrastive loss on pairwise_distance, cosine_similarity
    matrices by broadcasting, CosineEmbeddingLoss and TripletMarginWithDistanceLoss with a
    cosine distance."""
    nn, F = L.nn, L.nn.functional
    enc = load_seeded(L, nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 4)).double(), 15)
    a = L.tensor(_arr(6, 5, seed=16))
    b = L.tensor(_arr(6, 5, seed=17))
    same = L.tensor([1, 0, 1, 1, 0, 0], dtype=L.float64)
    cel = nn.CosineEmbeddingLoss(margin=0.2)
    trip = nn.TripletMarginWithDistanceLoss(
        distance_function=lambda u, v: 1 - F.cosine_similarity(u, v), margin=0.5)

    def loss_of():
        ea, eb = enc(a), enc(b)
        d = F.pairwise_distance(ea, eb)
        contrast = (same * d.pow(2) + (1 - same) * F.relu(1.0 - d).pow(2)).mean() / 2
        return contrast + cel(ea, eb, same * 2 - 1) + trip(ea, eb, eb.roll(1, 0))

    opt = L.optim.Adam(enc.parameters(), lr=0.02)
    losses = train_steps(opt, loss_of)
    ea, eb = enc(a), enc(b)
    sim = F.cosine_similarity(ea.unsqueeze(1), eb.unsqueeze(0), dim=-1)
    nrm = F.normalize(ea, dim=1)
    return dict(losses=losses, sim=sim, cdist=L.cdist(ea, eb), gram=nrm @ nrm.T,
                pd=F.pairwise_distance(ea, eb, p=1.0, keepdim=True))


# ----------------------------------------------------------------------------------------------
# capsules, hypernetworks, flows, attention variants
# ----------------------------------------------------------------------------------------------
@program
def capsule_dynamic_routing_and_margin_loss(L):
    """Primary capsules from a conv, squash, prediction vectors by a batched matmul with a
    parameter of shape (1, in, out, D, d), three routing iterations (softmax of logits over
    output capsules, agreement added), margin loss, Adam steps."""
    nn, F = L.nn, L.nn.functional

    def squash(s, dim=-1):
        n2 = (s ** 2).sum(dim=dim, keepdim=True)
        return n2 / (1 + n2) * s / L.sqrt(n2 + 1e-8)

    class Caps(nn.Module):
        def __init__(self):
            super().__init__()
            self.prim = nn.Conv2d(1, 8, 3, stride=2)
            self.W = nn.Parameter(0.1 * L.ones(1, 8, 3, 5, 4, dtype=L.float64))

        def forward(self, x):
            u = self.prim(x).view(x.size(0), 4, 2, -1).permute(0, 3, 2, 1)
            u = squash(u.reshape(x.size(0), -1, 4))[:, :8]
            u_hat = (self.W @ u[:, :, None, :, None]).squeeze(-1)   # (B, 8, 3, 5)
            b = L.zeros(x.size(0), 8, 3, dtype=x.dtype)
            for it in range(3):
                c = F.softmax(b, dim=2)
                v = squash((c.unsqueeze(-1) * u_hat).sum(dim=1))
                if it < 2:
                    b = b + (u_hat * v.unsqueeze(1)).sum(-1)
            return v

    model = load_seeded(L, Caps().double(), 18, 0.4)
    x = L.tensor(_arr(3, 1, 7, 7, seed=19))
    y = F.one_hot(L.tensor([0, 2, 1]), 3).double()

    def loss_of():
        lengths = model(x).norm(dim=-1)
        loss = y * F.relu(0.9 - lengths) ** 2 + 0.5 * (1 - y) * F.relu(lengths - 0.1) ** 2
        return loss.sum(1).mean()

    opt = L.optim.Adam(model.parameters(), lr=0.05)
    return dict(losses=train_steps(opt, loss_of), v=model(x), g=grads_of(model))


@program
def hypernetwork_generates_linear_and_conv_weights(L):
    """A hypernetwork maps a task embedding to the weights of a target linear layer and a
    conv kernel, applied by F.linear and F.conv2d (with groups), trained end to end."""
    nn, F = L.nn, L.nn.functional

    class Hyper(nn.Module):
        def __init__(self):
            super().__init__()
            self.z = nn.Embedding(2, 4)
            self.to_w = nn.Linear(4, 6 * 3)
            self.to_b = nn.Linear(4, 6)
            self.to_k = nn.Linear(4, 4 * 1 * 3 * 3)

        def forward(self, task, x, img):
            z = self.z(task)
            w = self.to_w(z).view(6, 3)
            h = F.linear(x, w, self.to_b(z))
            k = self.to_k(z).view(4, 1, 3, 3)
            c = F.conv2d(img, k, padding=1, groups=2)
            return h, c

    model = load_seeded(L, Hyper().double(), 20, 0.3)
    x = L.tensor(_arr(5, 3, seed=21))
    img = L.tensor(_arr(2, 2, 5, 5, seed=22))
    opt = L.optim.AdamW(model.parameters(), lr=0.01)

    def loss_of():
        h0, c0 = model(L.tensor(0), x, img)
        h1, c1 = model(L.tensor(1), x, img)
        return h0.pow(2).mean() + (h1 - 1).pow(2).mean() + c0.abs().mean() + c1.tanh().sum()

    return dict(losses=train_steps(opt, loss_of), g=grads_of(model))


@program
def glow_actnorm_invconv_lu_and_coupling(L):
    """Glow steps: ActNorm with data-dependent init on the first batch (a flag buffer),
    an invertible 1x1 conv with logdet by slogdet and a LU-parametrised variant (lu_factor /
    lu_unpack, triangular masks, diag by sign*exp(log_s)), an affine coupling, NLL in bits."""
    nn, F = L.nn, L.nn.functional

    class ActNorm(nn.Module):
        """per-channel affine map whose shift and log-scale are set from the first batch it
        sees (zero mean, unit spread per channel); a uint8 buffer remembers that"""

        def __init__(self, c):
            super().__init__()
            self.loc = nn.Parameter(L.zeros(1, c, 1, 1, dtype=L.float64))
            self.logs = nn.Parameter(L.zeros(1, c, 1, 1, dtype=L.float64))
            self.register_buffer("inited", L.tensor(0, dtype=L.uint8))

        @L.no_grad()
        def calibrate(self, x):
            over = (0, 2, 3)
            self.loc.data.copy_(-x.mean(dim=over, keepdim=True))
            self.logs.data.copy_(L.log(1 / (x.std(dim=over, keepdim=True) + 1e-6)))
            self.inited.fill_(1)

        def forward(self, x):
            if not self.inited.item():
                self.calibrate(x)
            pixels = x.shape[2] * x.shape[3]          # the log-scale counts once per pixel
            return L.exp(self.logs) * (x + self.loc), self.logs.sum() * pixels

    def mix_channels(x, w):
        # a 1x1 convolution by the (c, c) matrix w
        return F.conv2d(x, w.view(*w.shape, 1, 1))

    class InvConv(nn.Module):
        """an invertible channel mixing started from a random rotation (QR); the log
        |det| of the matrix by slogdet, once per pixel"""

        def __init__(self, c):
            super().__init__()
            self.weight = nn.Parameter(L.linalg.qr(L.tensor(_arr(c, c, seed=23)))[0])

        def forward(self, x):
            pixels = x.shape[2] * x.shape[3]
            return mix_channels(x, self.weight), L.linalg.slogdet(self.weight)[1] * pixels

    class InvConvLU(nn.Module):
        """the same mixing kept as P L U: P fixed, L unit lower-triangular, U upper with its
        diagonal stored as fixed signs times exp(log_s), so log |det| is log_s.sum()"""

        def __init__(self, c):
            super().__init__()
            perm, low, up = L.linalg.lu(L.linalg.qr(L.tensor(_arr(c, c, seed=24)))[0])
            diag = L.diag(up)
            strict = L.tril(L.ones(c, c, dtype=L.float64), -1)
            for name, t in (("P", perm), ("sign_s", L.sign(diag)), ("lmask", strict)):
                self.register_buffer(name, t)
            self.Lo = nn.Parameter(low)
            self.log_s = nn.Parameter(L.log(L.abs(diag)))
            self.U = nn.Parameter(L.triu(up, 1))

        def matrix(self):
            eye = L.eye(self.P.shape[0], dtype=L.float64)
            unit_lower = eye + self.lmask * self.Lo
            upper = self.lmask.T * self.U + L.diag(L.exp(self.log_s) * self.sign_s)
            return self.P @ unit_lower @ upper

        def forward(self, x):
            return mix_channels(x, self.matrix()), x[0, 0].numel() * self.log_s.sum()

    class Coupling(nn.Module):
        """half the channels pass; a small conv net of them gives the other half a shift
        (even output channels) and a scale sigmoid(odd + 2) in (0, 1)"""

        def __init__(self, c):
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(c // 2, 8, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(8, c, 3, padding=1))

        def forward(self, x):
            kept, moved = x.chunk(2, 1)
            params = self.net(kept)
            gain = L.sigmoid(2.0 + params[:, 1::2])
            out = L.cat([kept, gain * (moved + params[:, 0::2])], 1)
            return out, L.log(gain).flatten(1).sum(-1)

    layers = nn.ModuleList([ActNorm(4), InvConv(4), ActNorm(4), InvConvLU(4), Coupling(4)])
    load_seeded(L, layers[4].double(), 25, 0.2)
    x = L.tensor(_arr(3, 4, 3, 3, seed=26))

    def nll():
        z, logdet = x, L.zeros(3, dtype=L.float64)
        for layer in layers:
            z, ld = layer(z)
            logdet = logdet + ld
        prior = -0.5 * (z ** 2 + math.log(2 * math.pi)).flatten(1).sum(-1)
        return (-(prior + logdet) / (math.log(2) * x[0].numel())).mean()

    opt = L.optim.Adam(layers.parameters(), lr=1e-3)
    losses = train_steps(opt, nll)
    lu, piv = L.linalg.lu_factor(layers[1].weight.detach())
    P, Lo, U = L.lu_unpack(lu, piv)
    return dict(losses=losses, sd=layers.state_dict(), P=P, Lo=Lo, U=U,
                ld=L.linalg.slogdet(layers[3].P))


@program
def performer_linear_attention_and_elu_features(L):
    """Linear attention (elu + 1 features, kv summed first, normaliser by einsum), causal
    linear attention by cumsum, and Performer positive random features from a fixed
    orthogonal projection (QR of a seeded matrix), compared with softmax attention."""
    F = L.nn.functional
    q = L.tensor(_arr(2, 3, 6, 4, seed=27), requires_grad=True)
    k = L.tensor(_arr(2, 3, 6, 4, seed=28), requires_grad=True)
    v = L.tensor(_arr(2, 3, 6, 4, seed=29), requires_grad=True)
    # with a positive feature map phi, softmax(q k^T) v is replaced by
    # phi(q) (phi(k)^T v) / (phi(q) . sum_n phi(k_n)): the (d x e) summary is built once
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    summary = L.einsum("bhnd,bhne->bhde", phi_k, v)                  # sum over keys
    key_total = phi_k.sum(dim=2)
    inv_norm = 1 / (L.einsum("bhnd,bhd->bhn", phi_q, key_total) + 1e-6)
    lin = L.einsum("bhnd,bhde,bhn->bhne", phi_q, summary, inv_norm)
    # causal: query n may only use keys 1..n, so the summaries become running sums
    running = L.einsum("bhnd,bhne->bhnde", phi_k, v).cumsum(2)
    causal = L.einsum("bhnd,bhnde->bhne", phi_q, running) / \
        (phi_q * phi_k.cumsum(2)).sum(-1, keepdim=True)
    proj, _ = L.linalg.qr(L.tensor(_arr(4, 4, seed=30)))

    def feat(x):
        x = x * 4 ** -0.25
        xp = x @ proj.T
        return L.exp(xp - (x ** 2).sum(-1, keepdim=True) / 2) / math.sqrt(4)

    pq, pk = feat(q), feat(k)
    perf = (pq @ (pk.transpose(-2, -1) @ v)) / (pq @ pk.sum(2, keepdim=True).transpose(-2, -1))
    soft = F.scaled_dot_product_attention(q, k, v)
    (lin.sum() + causal.pow(2).sum() + perf.mean() + soft.sum()).backward()
    return dict(lin=lin, causal=causal, perf=perf, soft=soft, gq=q.grad, gk=k.grad, gv=v.grad)


@program
def squeeze_excitation_and_cbam_blocks(L):
    """SE (global pool, bottleneck, sigmoid gate) and CBAM (channel attention from avg and
    max pools through a shared MLP, spatial attention from the channel mean and max), in a
    residual block trained with SGD nesterov; eval-mode outputs."""
    nn, F = L.nn, L.nn.functional

    class SE(nn.Module):
        """Gate each channel by a number in (0, 1) computed from all channels' means."""
        def __init__(self, width, shrink=2):
            super().__init__()
            narrow = width // shrink
            self.fc = nn.Sequential(nn.Linear(width, narrow, bias=False), nn.ReLU(inplace=True),
                                    nn.Linear(narrow, width, bias=False), nn.Sigmoid())

        def forward(self, x):
            n, ch = x.shape[:2]
            means = F.adaptive_avg_pool2d(x, 1).view(n, ch)
            return x * self.fc(means).view(n, ch, 1, 1)

    class CBAM(nn.Module):
        """Channel gate from two global summaries (mean, peak) through one shared MLP,
        then a spatial gate from a 7x7 conv over the per-pixel channel mean and peak."""
        def __init__(self, width):
            super().__init__()
            self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(width, width // 2), nn.ReLU(),
                                     nn.Linear(width // 2, width))
            self.spatial = nn.Conv2d(2, 1, 7, padding=3, bias=False)

        def forward(self, x):
            h, w = x.size(2), x.size(3)
            summed = self.mlp(F.avg_pool2d(x, x.shape[2:])) + self.mlp(F.max_pool2d(x, (h, w)))
            per_channel = L.sigmoid(summed).unsqueeze(2).unsqueeze(3)    # (N, C, 1, 1)
            x = x * per_channel.expand_as(x)
            maps = [x.mean(1, keepdim=True), x.max(1, keepdim=True)[0]]
            return x * L.sigmoid(self.spatial(L.cat(maps, dim=1)))

    class Block(nn.Module):
        def __init__(self, c=4):
            super().__init__()
            self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(c)
            self.se, self.cbam = SE(c), CBAM(c)

        def forward(self, x):
            return F.relu(x + self.cbam(self.se(self.bn(self.conv(x)))))

    model = load_seeded(L, Block().double(), 31, 0.3)
    x = L.tensor(_arr(2, 4, 5, 5, seed=32))
    opt = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    losses = train_steps(opt, lambda: model(x).pow(2).mean())
    model.eval()
    return dict(losses=losses, out=model(x), g=grads_of(model))


# ----------------------------------------------------------------------------------------------
# augmentation and distillation
# ----------------------------------------------------------------------------------------------
@program
def tta_with_flips_and_mixup_cutmix_under_seed(L):
    """Test-time augmentation by torch.flip over dims and averaging softmaxes; mixup with a
    Beta draw and randperm under manual_seed, cutmix with a random box, and the mixed
    cross-entropy loss."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                                         nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                         nn.Linear(4, 3)).double(), 33)
    x = L.tensor(_arr(4, 3, 6, 6, seed=34))
    y = L.tensor([0, 1, 2, 1])
    with L.no_grad():
        views = [x, L.flip(x, dims=[3]), x.flip(2), L.flip(x, [2, 3]), L.rot90(x, 1, [2, 3])]
        tta = L.stack([F.softmax(model(v), dim=1) for v in views]).mean(0)
    L.manual_seed(0)
    lam = float(L.distributions.Beta(L.tensor([0.4]), L.tensor([0.4])).sample())
    perm = L.randperm(4)
    mixed = lam * x + (1 - lam) * x[perm]
    out = model(mixed)
    loss = lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[perm])
    loss.backward()
    L.manual_seed(1)
    idx = L.randperm(x.size(0))
    cx, cy = L.randint(6, (1,)).item(), L.randint(6, (1,)).item()
    x1, x2 = max(cx - 2, 0), min(cx + 2, 6)
    y1, y2 = max(cy - 2, 0), min(cy + 2, 6)
    cut = x.clone()
    cut[:, :, y1:y2, x1:x2] = x[idx, :, y1:y2, x1:x2]
    lam2 = 1 - (x2 - x1) * (y2 - y1) / 36
    return dict(tta=tta, lam=lam, perm=perm, loss=loss, g=grads_of(model), cut=cut,
                lam2=lam2, idx=idx, u=L.rand(3), n=L.randn(2, dtype=L.float64))


@program
def distillation_kl_temperature_and_label_smoothing(L):
    """Knowledge distillation: a frozen teacher in eval mode, a student trained with
    KL(log_softmax(s/T) || softmax(t/T)) * T^2 (batchmean) plus label-smoothed cross
    entropy; also kl_div with log_target and the label smoothing with class weights."""
    nn, F = L.nn, L.nn.functional
    teacher = load_seeded(L, nn.Sequential(nn.Linear(5, 12), nn.Dropout(0.5), nn.ReLU(),
                                           nn.Linear(12, 4)).double(), 35).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = load_seeded(L, nn.Sequential(nn.Linear(5, 4)).double(), 36)
    x = L.tensor(_arr(6, 5, seed=37))
    y = L.tensor(_labels(6, 4, 38))
    T = 3.0
    ce = nn.CrossEntropyLoss(label_smoothing=0.1)
    kl = nn.KLDivLoss(reduction="batchmean")

    def loss_of():
        with L.no_grad():
            t = teacher(x)
        s = student(x)
        return 0.7 * kl(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1)) * T * T + \
            0.3 * ce(s, y)

    opt = L.optim.SGD(student.parameters(), lr=0.1)
    losses = train_steps(opt, loss_of)
    s, t = student(x), teacher(x)
    return dict(losses=losses,
                lt=F.kl_div(F.log_softmax(s, 1), F.log_softmax(t, 1), reduction="sum",
                            log_target=True),
                w=F.cross_entropy(s, y, weight=L.tensor([1.0, 2, 0.5, 1], dtype=L.float64),
                                  label_smoothing=0.2),
                soft=F.cross_entropy(s, F.softmax(t, 1), label_smoothing=0.05),
                tg=[p.requires_grad for p in teacher.parameters()])


# ----------------------------------------------------------------------------------------------
# training utilities: checkpointing, SWA, schedulers, early stopping, saving, printing
# ----------------------------------------------------------------------------------------------
@program
def gradient_checkpointing_sequential_and_function(L):
    """torch.utils.checkpoint.checkpoint around blocks (use_reentrant=False) and
    checkpoint_sequential over segments: the same losses and gradients as without it; a
    dropout-free model so recomputation is exact."""
    nn = L.nn
    from_lib = L.utils.checkpoint

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(6, 6), nn.GELU())
                                         for _ in range(3)])
            self.head = nn.Linear(6, 2)

        def forward(self, x, ckpt=True):
            for blk in self.blocks:
                x = from_lib.checkpoint(blk, x, use_reentrant=False) if ckpt else blk(x)
            return self.head(x)

    model = load_seeded(L, Net().double(), 40)
    x = L.tensor(_arr(4, 6, seed=41), requires_grad=True)
    model(x).sum().backward()
    g_ck = {k: v.clone() for k, v in grads_of(model).items()}
    gx = x.grad.clone()
    model.zero_grad()
    x.grad = None
    model(x, ckpt=False).sum().backward()
    seq = load_seeded(L, nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 5), nn.ReLU(),
                                       nn.Linear(5, 1)).double(), 42)
    opt = L.optim.Adam(seq.parameters(), lr=0.01)
    xi = L.tensor(_arr(4, 6, seed=43), requires_grad=True)
    losses = train_steps(opt, lambda: from_lib.checkpoint_sequential(
        seq, 2, xi, use_reentrant=False).pow(2).mean())
    return dict(g_ck=g_ck, g=grads_of(model), gx=gx, gx2=x.grad, losses=losses)


@program
def swa_averaged_model_swalr_and_update_bn(L):
    """Stochastic weight averaging: AveragedModel updated after each step past a start,
    SWALR annealing printed per step, update_bn over a loader of batches, then the averaged
    model's outputs and state_dict (n_averaged); an EMA AveragedModel by multi_avg_fn."""
    nn = L.nn
    swa = L.optim.swa_utils
    model = load_seeded(L, nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(),
                                         nn.Linear(6, 1)).double(), 44)
    avg = swa.AveragedModel(model)
    ema = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9))
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    sched = swa.SWALR(opt, swa_lr=0.05, anneal_epochs=2, anneal_strategy="cos")
    xs = [L.tensor(_arr(5, 4, seed=45 + i)) for i in range(3)]
    ys = [L.tensor(_arr(5, 1, seed=50 + i)) for i in range(3)]
    lrs, losses = [], []
    for epoch in range(4):
        for xb, yb in zip(xs, ys):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if epoch >= 1:
            avg.update_parameters(model)
            ema.update_parameters(model)
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    swa.update_bn(xs, avg)
    avg.eval()
    return dict(lrs=lrs, losses=losses, out=avg(xs[0]), sd=avg.state_dict(),
                ema=ema.state_dict(), n=avg.n_averaged)


@program
def schedulers_plateau_onecycle_warm_restarts_printed(L):
    """ReduceLROnPlateau on a noisy validation loss (patience, cooldown, min_lr), OneCycleLR
    with momentum cycling on SGD and Adam (betas), CosineAnnealingWarmRestarts with T_mult,
    step with a fractional epoch; the learning rates as printed strings."""
    nn = L.nn
    lin = nn.Linear(2, 1)
    opt = L.optim.SGD(lin.parameters(), lr=1.0, momentum=0.9)
    plateau = L.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1,
                                                     cooldown=1, min_lr=0.1, threshold=0.01)
    vals = [1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    p_lrs = []
    for v in vals:
        plateau.step(v)
        p_lrs.append(f"{opt.param_groups[0]['lr']:.6f}")
    opt2 = L.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    oc = L.optim.lr_scheduler.OneCycleLR(opt2, max_lr=1.0, total_steps=10, pct_start=0.3)
    opt3 = L.optim.Adam(lin.parameters(), lr=0.1)
    oc3 = L.optim.lr_scheduler.OneCycleLR(opt3, max_lr=0.5, epochs=2, steps_per_epoch=4,
                                          anneal_strategy="linear", three_phase=True)
    rows = []
    for _ in range(8):
        opt2.step()
        opt3.step()
        oc.step()
        oc3.step()
        rows.append("lr={:.5f} m={:.4f} | lr={:.5f} b={}".format(
            oc.get_last_lr()[0], opt2.param_groups[0]["momentum"], oc3.get_last_lr()[0],
            tuple(round(b, 5) for b in opt3.param_groups[0]["betas"])))
    opt4 = L.optim.SGD(lin.parameters(), lr=0.5)
    wr = L.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt4, T_0=2, T_mult=2, eta_min=0.01)
    w_lrs = []
    for i in range(12):
        opt4.step()
        wr.step(i / 2)
        w_lrs.append(round(wr.get_last_lr()[0], 10))
    return dict(p=p_lrs, rows=rows, w=w_lrs, best=plateau.best,
                bad=plateau.num_bad_epochs, sd=sorted(oc.state_dict()))


@program
def early_stopping_with_deepcopy_and_restore(L):
    """The early-stopping loop: after each epoch a validation loss; the best state_dict kept
    by copy.deepcopy (not aliased to the live parameters), patience counting, and the best
    weights restored by load_state_dict at the end; the optimizer's state deep-copied too."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1)).double(), 55)
    opt = L.optim.Adam(model.parameters(), lr=0.3)
    x, y = L.tensor(_arr(10, 3, seed=56)), L.tensor(_arr(10, 1, seed=57))
    xv, yv = L.tensor(_arr(6, 3, seed=58)), L.tensor(_arr(6, 1, seed=59))
    best, best_sd, best_opt, wait, hist = float("inf"), None, None, 0, []
    for epoch in range(12):
        model.train()
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
        model.eval()
        with L.no_grad():
            val = F.mse_loss(model(xv), yv).item()
        hist.append(val)
        if val < best - 1e-4:
            best, wait = val, 0
            best_sd = copy.deepcopy(model.state_dict())
            best_opt = copy.deepcopy(opt.state_dict())
        else:
            wait += 1
            if wait >= 2:
                break
    live = model[0].weight.detach().clone()
    model.load_state_dict(best_sd)
    clone = copy.deepcopy(model)
    clone[0].weight.data.add_(1.0)
    with L.no_grad():
        final = F.mse_loss(model(xv), yv).item()
    return dict(hist=hist, epoch=epoch, final=final, best=best, live=live,
                w=model[0].weight, cw=clone[0].weight, step=best_opt["state"][0]["step"],
                keys=sorted(best_opt["state"][0]), pg=best_opt["param_groups"])


@program
def save_load_roundtrip_through_bytesio(L):
    """torch.save of a checkpoint dict (model and optimizer state_dicts, epoch, a tensor) to
    io.BytesIO, seek(0), torch.load with weights_only, load into fresh objects and continue
    training with the same losses; saving a whole tensor list with a shared storage view."""
    nn, F = L.nn, L.nn.functional

    def make():
        return load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                                            nn.Linear(4, 2)).double(), 60)

    model = make()
    opt = L.optim.Adam(model.parameters(), lr=0.05)
    x, y = L.tensor(_arr(6, 3, seed=61)), L.tensor(_labels(6, 2, 62))
    first = train_steps(opt, lambda: F.cross_entropy(model(x), y), 2)
    buf = io.BytesIO()
    L.save({"epoch": 2, "model": model.state_dict(), "optim": opt.state_dict(),
            "extra": L.arange(5)}, buf)
    buf.seek(0)
    ck = L.load(buf, weights_only=True)
    model2 = make()
    model2.load_state_dict(ck["model"])
    opt2 = L.optim.Adam(model2.parameters(), lr=0.05)
    opt2.load_state_dict(ck["optim"])
    cont1 = train_steps(opt, lambda: F.cross_entropy(model(x), y), 2)
    cont2 = train_steps(opt2, lambda: F.cross_entropy(model2(x), y), 2)
    base = L.arange(6.0)
    buf2 = io.BytesIO()
    L.save([base, base[2:4]], buf2)
    buf2.seek(0)
    a, b = L.load(buf2)
    b[0] = 100.0
    return dict(first=first, cont1=cont1, cont2=cont2, epoch=ck["epoch"], extra=ck["extra"],
                keys=list(ck["model"]), a=a, b=b, nb=ck["model"]["1.num_batches_tracked"])


@program
def printing_models_and_tensors_with_grad_fn(L):
    """What people print: a model's repr (nested Sequential, custom module with extra_repr,
    ModuleDict), parameter counts, tensors with grad_fn and requires_grad in their repr,
    a Parameter, a scalar with grad_fn, and named_modules names."""
    nn = L.nn

    class Scale(nn.Module):
        def __init__(self, s):
            super().__init__()
            self.s = s

        def extra_repr(self):
            return f"s={self.s}"

    model = nn.Sequential(
        nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Sequential(nn.Flatten(), nn.Dropout(p=0.2), nn.Linear(32, 10)),
        Scale(0.5),
        nn.ModuleDict({"a": nn.LSTM(4, 8, num_layers=2, batch_first=True),
                       "b": nn.Embedding(10, 3, padding_idx=0)}))
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    w = L.tensor([[1.0, -2.5], [3.25, 0.0]], requires_grad=True)
    y = w * 2
    z = (y ** 2).sum()
    m = y.mean(dim=0)
    p = nn.Parameter(L.tensor([0.5, 1.5]))
    return dict(model=repr(model), n=n_params, w=repr(w), y=str(y), z=repr(z), m=repr(m),
                p=repr(p), d=repr(y.detach()), names=[n for n, _ in model.named_modules()],
                fn=type(z.grad_fn).__name__, v=repr(L.tensor([1, 2, 3]).view(3, 1).float()),
                i=repr(L.tensor([[1e-5, 1e5]], dtype=L.float64, requires_grad=True) * 1))


@program
def messages_and_shared_memory_through_save(L):
    """What such programs meet on the way: checkpoint's warning when use_reentrant is not
    given (its first sentence), EmbeddingBag's error for 2-d input with offsets (naming the
    offsets' type), and torch.save of a tensor with a view of it (they come back sharing
    memory) and of a state_dict with tied weights."""
    nn = L.nn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        L.utils.checkpoint.checkpoint(nn.Linear(2, 2), L.ones(1, 2, requires_grad=True))
    said = [bare(w.message).split(". ")[0] for w in caught]
    bag = nn.EmbeddingBag(6, 3)
    bad = err(lambda: bag(L.tensor([[1, 2, 3]]), L.tensor([0])))
    base = L.arange(6.0)
    buf = io.BytesIO()
    L.save({"base": base, "view": base[2:4], "other": L.ones(2)}, buf)
    buf.seek(0)
    ck = L.load(buf)
    ck["view"][0] = 100.0
    ck["base"][3] = -1.0
    emb = nn.Embedding(5, 4)
    tied = nn.ModuleDict({"emb": emb, "head": nn.Linear(4, 5, bias=False)})
    tied["head"].weight = emb.weight
    buf2 = io.BytesIO()
    L.save(tied.state_dict(), buf2)
    buf2.seek(0)
    sd = L.load(buf2)
    sd["emb.weight"][0, 0] = 55.0
    return dict(said=said, bad=bad, base=ck["base"], view=ck["view"], other=ck["other"],
                tied=sd["head.weight"][0, 0], keys=list(sd))


@program
def roi_align_by_affine_grid_and_grid_sample(L):
    """RoI align as spatial-transformer code writes it: per-box affine thetas built from
    normalised box coordinates, affine_grid to a 3x3 sampling grid, grid_sample (bilinear,
    border padding), gradients to the features and to the box parameters."""
    F = L.nn.functional
    feats = L.tensor(_arr(2, 3, 6, 7, seed=70), requires_grad=True)
    boxes = L.tensor([[0.5, 1.0, 4.5, 5.0], [2.0, 0.0, 6.0, 3.5]], dtype=L.float64,
                     requires_grad=True)
    h, w = feats.shape[2:]
    x1, y1, x2, y2 = boxes.unbind(1)
    zeros = L.zeros_like(x1)
    theta = L.stack([L.stack([(x2 - x1) / (w - 1), zeros, (x1 + x2 - w + 1) / (w - 1)], 1),
                     L.stack([zeros, (y2 - y1) / (h - 1), (y1 + y2 - h + 1) / (h - 1)], 1)], 1)
    grid = F.affine_grid(theta, [2, 3, 3, 3], align_corners=False)
    out = F.grid_sample(feats, grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    near = F.grid_sample(feats, grid, mode="nearest", align_corners=True)
    (out.pow(2).sum() + near.sum()).backward()
    return dict(theta=theta, out=out, near=near, gf=feats.grad, gb=boxes.grad)


@program
def packed_lstm_unsorted_batch_and_unpad(L):
    """Variable-length series through pack_sequence(enforce_sorted=False), an LSTM, and back
    by pad_packed_sequence and unpad_sequence (which leaves the time-major padded tensor
    transposed in place to batch-major), plus left padding by pad_sequence."""
    nn = L.nn
    seqs = [L.tensor(_arr(n, 2, seed=80 + i)) for i, n in enumerate([2, 5, 3])]
    lstm = load_seeded(L, nn.LSTM(2, 3).double(), 83)
    packed = nn.utils.rnn.pack_sequence(seqs, enforce_sorted=False)
    out, (h, c) = lstm(packed)
    pad, lens = nn.utils.rnn.pad_packed_sequence(out, padding_value=-1.0)
    shape_before = tuple(pad.shape)
    pieces = nn.utils.rnn.unpad_sequence(pad, lens)
    sum(p.pow(2).sum() for p in pieces).backward()
    left = nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_side="left")
    return dict(before=shape_before, pad=pad, lens=lens, pieces=pieces, h=h, left=left,
                order=packed.sorted_indices, back=packed.unsorted_indices,
                sizes=packed.batch_sizes, g=grads_of(lstm))


@program
def hypernetwork_by_functional_call_and_per_sample_grads(L):
    """A hypernetwork emits one flat vector cut into the target network's parameter shapes,
    run by torch.func.functional_call (gradients reach the hypernetwork only); per-sample
    gradients of a linear model by vmap over grad."""
    nn = L.nn
    target = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double(),
                         84)
    shapes = {k: v.shape for k, v in target.named_parameters()}
    total = sum(v.numel() for v in target.parameters())
    hyper = load_seeded(L, nn.Linear(2, total).double(), 85)
    z = L.tensor(_arr(2, seed=86))
    x = L.tensor(_arr(5, 3, seed=87))
    opt = L.optim.Adam(hyper.parameters(), lr=0.01)

    def loss_of():
        flat, params, i = hyper(z), {}, 0
        for k, s in shapes.items():
            n = math.prod(s)
            params[k] = flat[i:i + n].view(s)
            i += n
        return L.func.functional_call(target, params, (x,)).pow(2).mean()

    losses = train_steps(opt, loss_of)
    lin = load_seeded(L, nn.Linear(3, 1).double(), 88)
    params = {k: v.detach() for k, v in lin.named_parameters()}

    def sample_loss(p, xi, yi):
        return ((L.func.functional_call(lin, p, (xi.unsqueeze(0),)) - yi) ** 2).sum()

    per = L.func.vmap(L.func.grad(sample_loss), in_dims=(None, 0, 0))(
        params, x[:4], L.tensor(_arr(4, 1, seed=89)))
    return dict(losses=losses, untouched=target[0].weight.grad is None, per=per)


@program
def glow_inverse_pass_by_lu_solve(L):
    """The reverse of an invertible 1x1 convolution, as flow sampling code does it: the
    weight's LU factors, lu_solve for the inverse applied per pixel, inv_ex's info, and the
    round trip back to the input; slogdet over a batch of weights."""
    F = L.nn.functional
    w = L.tensor(_arr(3, 3, seed=90), requires_grad=True)
    x = L.tensor(_arr(2, 3, 2, 2, seed=91))
    y = F.conv2d(x, w.view(3, 3, 1, 1))
    LU, piv = L.linalg.lu_factor(w)
    flat = y.permute(1, 0, 2, 3).reshape(3, -1)
    back = L.linalg.lu_solve(LU, piv, flat).reshape(3, 2, 2, 2).permute(1, 0, 2, 3)
    inv, info = L.linalg.inv_ex(w)
    back.pow(2).sum().backward()
    batch = L.linalg.slogdet(L.tensor(_arr(2, 3, 3, seed=92)))
    return dict(back=back, err=float((back - x).abs().max()) < 1e-10, inv=inv, info=info,
                gw=w.grad, sign=batch.sign, lad=batch.logabsdet,
                ld=L.logdet(w @ w.T), me=L.linalg.matrix_exp(w * 0.1))


@program
def training_log_lines_with_grad_fn(L):
    """The lines a training script prints: each loss tensor's repr (value and grad_fn) for
    the usual criteria, the nodes of rolled, shifted and cut tensors (a roll with no dims is
    a RollBackward0 and a new tensor, not a view), and a formatted epoch summary."""
    nn, F = L.nn, L.nn.functional
    x = L.tensor(_arr(4, 3, seed=93), requires_grad=True)
    y = L.tensor([0, 2, 1, 1])
    t = L.tensor(np.random.RandomState(94).rand(4, 3))
    losses = {"ce": F.cross_entropy(x, y), "ls": F.cross_entropy(x, y, label_smoothing=0.1),
              "mse": F.mse_loss(x, t), "bce": F.binary_cross_entropy_with_logits(x, t),
              "l1": F.l1_loss(x, t), "huber": nn.HuberLoss(delta=0.5)(x, t),
              "kl": nn.KLDivLoss(reduction="batchmean")(x.log_softmax(1), t.softmax(1)),
              "trip": nn.TripletMarginLoss()(x, t, t.flip(0))}
    lines = [f"{k}: {v!r}" for k, v in losses.items()]
    rolled = x.roll(1)
    shifted = x.roll(shifts=(1, -1), dims=(0, 1))
    lines += [repr(rolled), repr(shifted), repr(x.roll(-2, 0)), repr(x[:, 1:])]
    total = sum(losses.values())
    lines.append("epoch {:03d} | loss {:.4f} | acc {:.2%}".format(
        1, total.item(), (x.argmax(1) == y).float().mean().item()))
    (total + (rolled * t).sum()).backward()
    return dict(lines=lines, view=rolled._base is None, nodes=[type(v.grad_fn).__name__
                                                               for v in (rolled, shifted)],
                g=x.grad)


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)
