"""Whole programs of round 36, part a: everyday vision and multimodal model code and its training
machinery, in the corners earlier rounds left out.

Blocks and models: MobileNetV3's inverted residual with a hard-sigmoid squeeze-excite on a
channels_last input, ConvNeXt's block with row- and batch-mode stochastic depth, EfficientNet's
MBConv with in-place activations, DeepLab's ASPP, a U-Net decoder step, CBAM, coordinate
channels and FPN/BiFPN fusion, DropBlock, ViT patchify, and a tiny CLIP with ViT and causal text
towers. Segmentation: soft Dice over one-hot targets with an ignored label, focal and Tversky
losses, cross entropy on 4-d maps with weights, ignore_index and smoothing together, OHEM.
Detection: IoU/GIoU/DIoU/CIoU with empty box sets, greedy and batched NMS in tensor ops,
anchors by meshgrid and a box coder, ROI pooling by grid_sample, YOLO and heatmap decoding.
Training: CLIP's and SigLIP's contrastive losses, mixup and cutmix, GradScaler on the CPU
(disabled, enabled, its refusals, one scaler for two optimizers), autocast to bfloat16 (op
dtypes, a whole training step, regions named by device strings), the schedulers and their
state dicts, optimizers' state through torch.save into BytesIO (and weights_only's refusal of a
numpy scalar), optimizer hooks and flags, the init functions, clipping and flat vectors, weight
and spectral norm (parametrizations and the legacy hooks), SWA/EMA, lazy and meta-device
modules, DataLoaders with collate functions, samplers and flags; and the mistakes users make
(wrong shapes into Linear, Conv and norms, losses' targets, state dicts that do not fit).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed`` or loaded from numpy); both must give the same
values, dtypes, shapes and requires_grad, or raise the same exception type with torch's words,
and warn alike (tests/side_by_side.py).
"""
import collections
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, labels, load_seeded, normal32, normal64, program_harness, registry)

HARNESS = program_harness(bfloat16=(1e-2, 1e-2))
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# blocks
# ----------------------------------------------------------------------------------------------
@program
def mobilenetv3_block_on_channels_last_input(L):
    """An inverted residual (1x1 expand, depthwise 3x3, hard-sigmoid squeeze-excite, 1x1
    project, hardswish) run on a channels_last input: the output's values and memory format,
    the strides of the intermediate maps, and the gradients of the input and the SE weights."""
    nn, F = L.nn, L.nn.functional

    class SE(nn.Module):
        def __init__(self, c, r=4):
            super().__init__()
            self.fc1, self.fc2 = nn.Conv2d(c, c // r, 1), nn.Conv2d(c // r, c, 1)

        def forward(self, x):
            s = F.adaptive_avg_pool2d(x, 1)
            return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))

    class Block(nn.Module):
        def __init__(self, c, e):
            super().__init__()
            self.expand = nn.Sequential(nn.Conv2d(c, e, 1, bias=False), nn.BatchNorm2d(e),
                                        nn.Hardswish())
            self.dw = nn.Sequential(nn.Conv2d(e, e, 3, padding=1, groups=e, bias=False),
                                    nn.BatchNorm2d(e), nn.Hardswish())
            self.se = SE(e)
            self.project = nn.Sequential(nn.Conv2d(e, c, 1, bias=False), nn.BatchNorm2d(c))

        def forward(self, x):
            h = self.dw(self.expand(x))
            self.mid = h
            return x + self.project(self.se(h))

    L.manual_seed(0)
    block = load_seeded(L, Block(4, 8), seed=1).double()
    x = L.tensor(normal64(2, 4, 5, 5, seed=2)).to(memory_format=L.channels_last)
    x.requires_grad_(True)
    y = block(x)
    y.square().mean().backward()
    cl = L.channels_last
    return y, x.grad, block.se.fc1.weight.grad, block.se.fc2.bias.grad, \
        y.is_contiguous(memory_format=cl), block.mid.is_contiguous(memory_format=cl), \
        x.grad.is_contiguous(memory_format=cl), x.stride(), block.expand[1].running_mean


@program
def convnext_block_with_row_and_batch_stochastic_depth(L):
    """ConvNeXt's block (depthwise 7x7, a permute to NHWC, LayerNorm, a 4x MLP with GELU,
    layer scale, a permute back) with stochastic depth written by hand in both modes: 'row'
    zeroes whole samples, 'batch' the whole residual; masks drawn by bernoulli_ after
    manual_seed, survivors scaled by 1/keep; eval passes through."""
    nn, F = L.nn, L.nn.functional

    def stochastic_depth(x, p, mode, training):
        if not training or p == 0.0:
            return x
        keep = 1.0 - p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1) if mode == "row" else (1,) * x.ndim
        noise = L.empty(shape, dtype=x.dtype).bernoulli_(keep)
        if keep > 0.0:
            noise.div_(keep)
        return x * noise

    class Block(nn.Module):
        def __init__(self, dim, p, mode):
            super().__init__()
            self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.pw1, self.pw2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(1e-2 * L.ones(dim))
            self.p, self.mode = p, mode

        def forward(self, x):
            h = self.dw(x).permute(0, 2, 3, 1)
            h = self.gamma * self.pw2(F.gelu(self.pw1(self.norm(h))))
            return x + stochastic_depth(h.permute(0, 3, 1, 2), self.p, self.mode, self.training)

    L.manual_seed(0)
    net = nn.Sequential(Block(4, 0.5, "row"), Block(4, 0.5, "batch"), Block(4, 1.0, "row"))
    net = load_seeded(L, net.double(), seed=3)
    x = L.tensor(normal64(4, 4, 6, 6, seed=4), requires_grad=True)
    L.manual_seed(11)
    y = net(x)
    y.sum().backward()
    net.eval()
    return y, x.grad, net[0].gamma.grad, net[1].dw.weight.grad, net(x.detach())


@program
def efficientnet_mbconv_with_inplace_activations(L):
    """An MBConv block as EfficientNet writes it: SiLU(inplace=True) after batch norm,
    squeeze-excite by mean over (2, 3) with keepdim and a sigmoid gate, a stride-2 depthwise
    conv without the residual and a stride-1 one with it; train-mode forward/backward in
    float32, then the running statistics."""
    nn = L.nn

    class MBConv(nn.Module):
        def __init__(self, cin, cout, stride, expand=4):
            super().__init__()
            mid = cin * expand
            self.use_res = stride == 1 and cin == cout
            self.body = nn.Sequential(
                nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid, momentum=0.01),
                nn.SiLU(inplace=True),
                nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
                nn.BatchNorm2d(mid, momentum=0.01), nn.SiLU(inplace=True))
            self.se_reduce, self.se_expand = nn.Conv2d(mid, 2, 1), nn.Conv2d(2, mid, 1)
            self.proj = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            h = self.body(x)
            s = h.mean((2, 3), keepdim=True)
            s = self.se_expand(nn.functional.silu(self.se_reduce(s)))
            h = self.proj(h * s.sigmoid())
            return h + x if self.use_res else h

    L.manual_seed(0)
    net = nn.Sequential(MBConv(3, 4, 2), MBConv(4, 4, 1))
    load_seeded(L, net, seed=5)
    x = L.tensor(normal32(2, 3, 9, 9, seed=6), requires_grad=True)
    out = net(x)
    out.pow(2).mean().backward()
    return out, x.grad, net[1].se_reduce.weight.grad, net[0].body[1].running_var, \
        net[1].proj[1].num_batches_tracked


# ----------------------------------------------------------------------------------------------
# segmentation
# ----------------------------------------------------------------------------------------------
def _seg_batch(L, n=2, c=3, h=5, w=4, seed=0, ignore=None):
    logits = L.tensor(normal64(n, c, h, w, seed=seed), requires_grad=True)
    target = labels(n * h * w, c, seed + 1).reshape(n, h, w)
    if ignore is not None:
        target[:, 0, :2] = ignore
    return logits, L.tensor(target)


@program
def soft_dice_over_one_hot_targets_with_an_ignored_label(L):
    """Multi-class soft Dice: softmax probabilities against one_hot targets permuted to NCHW,
    pixels of the ignored label (255) masked out of both by clamping the label first, a
    per-class Dice averaged over the classes present, plus the gradient."""
    F = L.nn.functional
    logits, target = _seg_batch(L, ignore=255)
    valid = (target != 255)
    probs = logits.softmax(1) * valid.unsqueeze(1)
    oh = F.one_hot(target.clamp(max=2), 3).permute(0, 3, 1, 2).to(probs.dtype)
    oh = oh * valid.unsqueeze(1)
    dims = (0, 2, 3)
    inter = (probs * oh).sum(dims)
    card = probs.sum(dims) + oh.sum(dims)
    dice = (2 * inter + 1e-6) / (card + 1e-6)
    present = oh.sum(dims) > 0
    loss = 1 - dice[present].mean()
    loss.backward()
    return loss, dice, present, logits.grad, oh.dtype, oh.is_contiguous()


@program
def multiclass_focal_and_tversky_losses(L):
    """The multi-class focal loss written with log_softmax and gather (alpha per class picked
    by indexing, gamma = 2, mean over pixels), and a Tversky loss (alpha 0.3, beta 0.7) on
    sigmoid probabilities of a binary map; their sum's gradient."""
    F = L.nn.functional
    logits, target = _seg_batch(L, seed=3)
    alpha = L.tensor([0.25, 0.5, 0.25], dtype=L.float64)
    logp = F.log_softmax(logits, 1).gather(1, target.unsqueeze(1)).squeeze(1)
    pt = logp.exp()
    focal = (-alpha[target] * (1 - pt) ** 2 * logp).mean()
    b_logit = L.tensor(normal64(2, 1, 4, 4, seed=5), requires_grad=True)
    b_target = L.tensor((normal64(2, 1, 4, 4, seed=6) > 0).astype(np.float64))
    p = b_logit.sigmoid().flatten(1)
    t = b_target.flatten(1)
    tp, fp, fn = (p * t).sum(1), (p * (1 - t)).sum(1), ((1 - p) * t).sum(1)
    tversky = 1 - ((tp + 1) / (tp + 0.3 * fp + 0.7 * fn + 1)).mean()
    (focal + tversky).backward()
    return focal, tversky, logits.grad, b_logit.grad


@program
def cross_entropy_on_maps_with_weights_ignore_and_smoothing(L):
    """F.cross_entropy on (N, C, H, W) logits with class weights, ignore_index and
    label_smoothing together, in 'mean', 'sum' and 'none' reductions; also float32 logits
    made non-contiguous by a transpose of H and W; gradients of the mean."""
    F = L.nn.functional
    logits, target = _seg_batch(L, seed=7, ignore=-100)
    w = L.tensor([1.0, 2.0, 0.5], dtype=L.float64)
    outs = [F.cross_entropy(logits, target, weight=w, label_smoothing=0.1, reduction=r)
            for r in ("mean", "sum", "none")]
    outs[0].backward()
    lt = L.tensor(normal32(2, 3, 4, 5, seed=8)).transpose(2, 3)
    t32 = L.tensor(labels(40, 3, 9).reshape(2, 5, 4))
    return outs, logits.grad, F.cross_entropy(lt, t32, label_smoothing=0.2), lt.is_contiguous()


# ----------------------------------------------------------------------------------------------
# detection
# ----------------------------------------------------------------------------------------------
def _boxes(L, n, seed, dtype=np.float64):
    rng = np.random.RandomState(seed)
    xy = rng.rand(n, 2) * 10
    wh = rng.rand(n, 2) * 5 + 0.5
    return L.tensor(np.concatenate([xy, xy + wh], 1).astype(dtype))


def _iou_family(L, a, b):
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = L.max(a[:, None, :2], b[None, :, :2])
    rb = L.min(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    iou = inter / union
    elt = L.min(a[:, None, :2], b[None, :, :2])
    erb = L.max(a[:, None, 2:], b[None, :, 2:])
    ewh = (erb - elt).clamp(min=0)
    hull = ewh[..., 0] * ewh[..., 1]
    giou = iou - (hull - union) / hull
    ca = (a[:, None, :2] + a[:, None, 2:]) / 2
    cb = (b[None, :, :2] + b[None, :, 2:]) / 2
    rho2 = ((ca - cb) ** 2).sum(-1)
    c2 = (ewh ** 2).sum(-1) + 1e-7
    diou = iou - rho2 / c2
    wa, ha = (a[:, 2] - a[:, 0])[:, None], (a[:, 3] - a[:, 1])[:, None]
    wb, hb = (b[:, 2] - b[:, 0])[None], (b[:, 3] - b[:, 1])[None]
    v = (4 / math.pi ** 2) * (L.atan(wb / hb) - L.atan(wa / ha)) ** 2
    with L.no_grad():
        alpha = v / (1 - iou + v + 1e-7)
    ciou = diou - alpha * v
    return iou, giou, diou, ciou


@program
def iou_giou_diou_ciou_matrices_and_their_gradients(L):
    """Pairwise IoU, GIoU, DIoU and CIoU of two box sets written in broadcast tensor ops (the
    CIoU alpha under no_grad), the gradient of a GIoU loss on the diagonal pairs, and the
    shapes with an empty set on either side."""
    a = _boxes(L, 4, 0).requires_grad_(True)
    b = _boxes(L, 5, 1)
    iou, giou, diou, ciou = _iou_family(L, a, b)
    (1 - giou.diagonal()).sum().backward()
    empty = L.zeros(0, 4, dtype=L.float64)
    e1 = _iou_family(L, empty, b)
    e2 = _iou_family(L, a.detach(), empty)
    return iou, giou, diou, ciou, a.grad, [t.shape for t in e1], [t.shape for t in e2], \
        e1[0].dtype


@program
def greedy_and_batched_nms_in_tensor_ops(L):
    """NMS as a Python loop over argsort(descending) order: keep the top box, drop those above
    the IoU threshold; then class-aware NMS by offsetting each class's boxes by
    class * (max coordinate + 1); kept indices (int64), and an empty input's result."""
    def nms(boxes, scores, thr):
        order = scores.argsort(descending=True)
        keep = []
        while order.numel() > 0:
            i = order[0]
            keep.append(i)
            if order.numel() == 1:
                break
            iou = _iou_family(L, boxes[i].unsqueeze(0), boxes[order[1:]])[0].squeeze(0)
            order = order[1:][iou <= thr]
        return L.stack(keep) if keep else L.empty(0, dtype=L.int64)

    boxes = _boxes(L, 12, 3, np.float32)
    scores = L.tensor(normal32(12, seed=4)).sigmoid()
    cls = L.tensor(labels(12, 3, 5))
    keep = nms(boxes, scores, 0.3)
    offsets = cls.to(boxes) * (boxes.max() + 1)
    keep_b = nms(boxes + offsets[:, None], scores, 0.3)
    empty = nms(L.zeros(0, 4), L.zeros(0), 0.5)
    return keep, keep_b, keep_b.dtype, scores[keep_b], empty, empty.shape



@program
def anchors_by_meshgrid_and_box_coder_round_trip(L):
    """Anchors for two feature-map levels from base sizes and aspect ratios (round() of the
    half sizes), shifted over the map by meshgrid(indexing='ij') of arange * stride; a box
    coder encodes ground-truth boxes against them with weights (10, 10, 5, 5) and decodes
    with dw/dh clamped at log(1000/16); the round trip and the clamped case."""
    def base_anchors(size, ratios):
        r = L.tensor(ratios, dtype=L.float32)
        h_r = r.sqrt()
        w_r = 1 / h_r
        ws, hs = (w_r * size).view(-1), (h_r * size).view(-1)
        return (L.stack([-ws, -hs, ws, hs], dim=1) / 2).round()

    def grid_anchors(base, fh, fw, stride):
        sy, sx = L.meshgrid(L.arange(0, fh, dtype=L.int32) * stride,
                            L.arange(0, fw, dtype=L.int32) * stride, indexing="ij")
        sx, sy = sx.reshape(-1), sy.reshape(-1)
        shifts = L.stack((sx, sy, sx, sy), dim=1)
        return (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4)

    wx, wy, ww, wh = 10.0, 10.0, 5.0, 5.0
    clip = math.log(1000.0 / 16)

    def encode(gt, an):
        aw, ah = an[:, 2] - an[:, 0], an[:, 3] - an[:, 1]
        ax, ay = an[:, 0] + 0.5 * aw, an[:, 1] + 0.5 * ah
        gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
        gx, gy = gt[:, 0] + 0.5 * gw, gt[:, 1] + 0.5 * gh
        return L.stack([wx * (gx - ax) / aw, wy * (gy - ay) / ah,
                        ww * L.log(gw / aw), wh * L.log(gh / ah)], dim=1)

    def decode(d, an):
        aw, ah = an[:, 2] - an[:, 0], an[:, 3] - an[:, 1]
        ax, ay = an[:, 0] + 0.5 * aw, an[:, 1] + 0.5 * ah
        dx, dy = d[:, 0::4] / wx, d[:, 1::4] / wy
        dw = L.clamp(d[:, 2::4] / ww, max=clip)
        dh = L.clamp(d[:, 3::4] / wh, max=clip)
        cx, cy = dx * aw[:, None] + ax[:, None], dy * ah[:, None] + ay[:, None]
        w, h = L.exp(dw) * aw[:, None], L.exp(dh) * ah[:, None]
        return L.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=2).flatten(1)

    levels = [grid_anchors(base_anchors(s, [0.5, 1.0, 2.0]), fh, fw, st)
              for s, fh, fw, st in ((8, 3, 4, 4), (16, 2, 2, 8))]
    anchors = L.cat(levels)
    gt = _boxes(L, anchors.shape[0], 7, np.float32) * 3
    deltas = encode(gt, anchors)
    back = decode(deltas, anchors)
    big = decode(L.full((2, 4), 40.0), anchors[:2])
    return anchors, anchors.dtype, deltas, back, big, levels[0].dtype


@program
def roi_align_by_grid_sample_over_batched_boxes(L):
    """ROI-align-like pooling: for each box (batch index, x1, y1, x2, y2) an affine sampling
    grid of 3x3 bins with 2x2 samples each, normalised to [-1, 1] for align_corners=False,
    gathered by grid_sample (bilinear, zeros padding) from the right image, averaged by
    avg_pool2d; the pooled features and the gradient of the feature map."""
    F = L.nn.functional
    feat = L.tensor(normal64(2, 3, 8, 10, seed=12), requires_grad=True)
    rois = L.tensor([[0, 1.0, 1.0, 6.0, 5.0], [1, 0.0, 2.5, 9.5, 7.0],
                     [0, 3.2, 0.4, 4.1, 7.9]], dtype=L.float64)
    out_size, samples = 3, 2
    n = out_size * samples
    H, W = feat.shape[-2:]
    steps = (L.arange(n, dtype=L.float64) + 0.5) / n
    x = rois[:, 1:2] + (rois[:, 3:4] - rois[:, 1:2]) * steps
    y = rois[:, 2:3] + (rois[:, 4:5] - rois[:, 2:3]) * steps
    gx = x / W * 2 - 1
    gy = y / H * 2 - 1
    grid = L.stack(L.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
    imgs = feat[rois[:, 0].long()]
    sampled = F.grid_sample(imgs, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
    pooled = F.avg_pool2d(sampled, samples)
    pooled.pow(2).sum().backward()
    return pooled, feat.grad, grid.shape, imgs.shape


# ----------------------------------------------------------------------------------------------
# multimodal and augmentation
# ----------------------------------------------------------------------------------------------
@program
def clip_symmetric_loss_with_a_clamped_logit_scale(L):
    """CLIP's training step: image and text towers (Linear), features normalised with
    F.normalize, a learnable logit scale initialised to log(1/0.07), logits = scale.exp() *
    img @ txt.T, the mean of image->text and text->image cross entropies; AdamW steps with the
    scale clamped to [0, log 100] in place after each; the scale's history and accuracy."""
    nn, F = L.nn, L.nn.functional

    class Clip(nn.Module):
        def __init__(self):
            super().__init__()
            self.img, self.txt = nn.Linear(6, 4), nn.Linear(5, 4)
            self.logit_scale = nn.Parameter(L.ones([]) * np.log(1 / 0.07))

        def forward(self, xi, xt):
            fi = F.normalize(self.img(xi), dim=-1)
            ft = F.normalize(self.txt(xt), dim=-1)
            logits = self.logit_scale.exp() * fi @ ft.t()
            return logits, logits.t()

    L.manual_seed(0)
    model = load_seeded(L, Clip(), seed=13)
    model.logit_scale.data.fill_(np.log(1 / 0.07))
    opt = L.optim.AdamW(model.parameters(), lr=0.5, weight_decay=0.1)
    xi, xt = L.tensor(normal32(5, 6, seed=14)), L.tensor(normal32(5, 5, seed=15))
    gt = L.arange(5)
    scales, losses = [], []
    for _ in range(3):
        li, lt = model(xi, xt)
        loss = (F.cross_entropy(li, gt) + F.cross_entropy(lt, gt)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        scales.append(model.logit_scale.detach().clone())
        losses.append(loss.detach())
    acc = (li.argmax(-1) == gt).float().mean()
    return losses, scales, acc, model.logit_scale.shape, model.logit_scale.requires_grad


@program
def mixup_and_cutmix_with_soft_target_cross_entropy(L):
    """Mixup (lam from a seeded numpy Beta, inputs and one-hot targets mixed with a flipped
    batch) and CutMix (a box from sqrt(1 - lam), clipped with numpy, pasted from
    roll(1, 0) by slice assignment, lam recomputed from the box area), each trained by the
    soft-target cross entropy F.cross_entropy(logits, probs) and by -(t * log_softmax).sum;
    the losses agree and the gradients."""
    F = L.nn.functional
    rng = np.random.RandomState(16)
    x = L.tensor(normal64(4, 2, 8, 8, seed=17))
    y = L.tensor(labels(4, 5, 18))
    w = L.tensor(normal64(5, 2 * 64, seed=19) * 0.1, requires_grad=True)
    t = F.one_hot(y, 5).to(x.dtype)
    lam = float(rng.beta(0.4, 0.4))
    xm = lam * x + (1 - lam) * x.flip(0)
    tm = lam * t + (1 - lam) * t.flip(0)
    cut = float(np.sqrt(1 - 0.3))
    ch, cw = int(8 * cut), int(8 * cut)
    cy, cx = rng.randint(8), rng.randint(8)
    y1, y2 = np.clip(cy - ch // 2, 0, 8), np.clip(cy + ch // 2, 0, 8)
    x1, x2 = np.clip(cx - cw // 2, 0, 8), np.clip(cx + cw // 2, 0, 8)
    xc = x.clone()
    xc[:, :, y1:y2, x1:x2] = x.roll(1, 0)[:, :, y1:y2, x1:x2]
    lam_c = 1 - float((y2 - y1) * (x2 - x1)) / 64
    tc = lam_c * t + (1 - lam_c) * t.roll(1, 0)
    outs = []
    for inp, tgt in ((xm, tm), (xc, tc)):
        logits = inp.flatten(1) @ w.t()
        a = F.cross_entropy(logits, tgt)
        b = (-tgt * F.log_softmax(logits, -1)).sum(-1).mean()
        outs += [a, b]
    sum(outs).backward()
    return outs, w.grad, lam_c, xc.sum()



# ----------------------------------------------------------------------------------------------
# mixed precision on the CPU
# ----------------------------------------------------------------------------------------------
def _tiny_mlp(L, seed=20, dtype=None):
    nn = L.nn
    L.manual_seed(0)
    m = load_seeded(L, nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)), seed=seed)
    return m.to(dtype) if dtype is not None else m


@program
def accumulation_through_a_disabled_grad_scaler(L):
    """Gradient accumulation over 3 micro-batches with torch.amp.GradScaler('cpu',
    enabled=False): scale() hands the loss back, unscale_ before clip_grad_norm_ is a no-op,
    step and update run the optimizer; get_scale, is_enabled and the (empty) state dict; the
    parameters match a plain loop's."""
    F = L.nn.functional
    model = _tiny_mlp(L)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = L.amp.GradScaler("cpu", enabled=False)
    xs = L.tensor(normal32(6, 4, seed=21)).chunk(3)
    ys = L.tensor(labels(6, 3, 22)).chunk(3)
    norms = []
    for epoch in range(2):
        opt.zero_grad(set_to_none=True)
        for x, y in zip(xs, ys):
            loss = F.cross_entropy(model(x), y) / len(xs)
            scaled = scaler.scale(loss)
            scaled.backward()
        scaler.unscale_(opt)
        norms.append(L.nn.utils.clip_grad_norm_(model.parameters(), 0.5))
        scaler.step(opt)
        scaler.update()
    return norms, dict(model.state_dict()), scaler.get_scale(), scaler.is_enabled(), \
        scaler.state_dict(), scaled is loss


@program
def an_enabled_cpu_grad_scaler_skips_steps_on_inf_and_backs_off(L):
    """GradScaler('cpu', init_scale=2**8, growth_interval=2): scaled losses, the unscaled
    gradients after unscale_, a step skipped when a gradient is inf (the scale halves), growth
    after two good steps; the scale after each update and the state dict's entries."""
    F = L.nn.functional
    model = _tiny_mlp(L, seed=23)
    opt = L.optim.SGD(model.parameters(), lr=0.05)
    scaler = L.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=2)
    x, y = L.tensor(normal32(4, 4, seed=24)), L.tensor(labels(4, 3, 25))
    scales, scaled_losses, grads = [], [], []
    for step in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        s = scaler.scale(loss)
        scaled_losses.append(s.detach())
        s.backward()
        if step == 1:
            model[0].weight.grad[0, 0] = float("inf")
        scaler.unscale_(opt)
        grads.append(model[2].bias.grad.clone())
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    sd = scaler.state_dict()
    return scales, scaled_losses, grads, dict(model.state_dict()), sorted(sd), sd["scale"], \
        sd["_growth_tracker"]


@program
def autocast_cpu_bfloat16_output_dtypes(L):
    """Under torch.autocast('cpu', dtype=bfloat16): Linear, matmul, conv2d and bmm give
    bfloat16; elementwise ops follow their inputs; a float64 Linear on float64 input stays
    float64 (autocast casts only float32); outside the region float32 again; the loss in
    float32 after .float() and the gradient dtype of the float32 weight."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    lin = load_seeded(L, nn.Linear(4, 3), seed=26)
    conv = load_seeded(L, nn.Conv2d(2, 2, 3), seed=27)
    x = L.tensor(normal32(2, 4, seed=28))
    img = L.tensor(normal32(1, 2, 5, 5, seed=29))
    with L.autocast("cpu", dtype=L.bfloat16):
        h = lin(x)
        mm = x @ x.t()
        c = conv(img)
        b = L.bmm(x[None], x.t()[None])
        act = F.relu(h) + 1
        s = h.softmax(-1)
        enabled, dt = L.is_autocast_enabled("cpu"), L.get_autocast_dtype("cpu")
        x64 = lin.double()(x.double())
        lin.float()
        loss = h.float().pow(2).mean()
    loss.backward()
    outside = lin(x)
    return [t.dtype for t in (h, mm, c, b, act, s, x64, outside, lin.weight.grad)], \
        h.float(), c.float(), enabled, dt, L.is_autocast_enabled("cpu"), loss



# ----------------------------------------------------------------------------------------------
# mixed precision on the CPU (continued)
# ----------------------------------------------------------------------------------------------


@program
def grad_scaler_refusals_and_state_dict_round_trip(L):
    """GradScaler('cpu')'s refusals in a loop written out of order (unscale_ twice, step twice
    before update, step with no inf checks recorded, an int new_scale), update with a tensor
    new_scale, its state dict loaded into a second scaler (scale, growth and backoff factors,
    interval), and scale() of a 0-d tensor and of nested lists and tuples."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.SGD(m.parameters(), lr=0.1)
    sc = L.amp.GradScaler("cpu")
    x = L.tensor(normal32(2, 4, seed=1))
    sc.scale(m(x).sum()).backward()
    sc.unscale_(opt)
    e1 = err(lambda: sc.unscale_(opt))
    sc.step(opt)
    e2 = err(lambda: sc.step(opt))
    sc.update()
    e3 = err(lambda: sc.update(new_scale=2))
    sc.update(new_scale=L.tensor(4.0))
    sd = sc.state_dict()
    sc2 = L.amp.GradScaler("cpu", init_scale=1.0)
    sc2.load_state_dict(sd)
    e4 = err(lambda: L.amp.GradScaler("cpu").step(opt))
    return e1, e2, e3, sc.get_scale(), sc2.get_scale(), sc2.get_growth_factor(), \
        sc2.get_backoff_factor(), sc2.get_growth_interval(), e4, sc.scale(L.tensor(2.0)), \
        sc.scale([L.tensor(1.0), (L.tensor(2.0),)])


@program
def grad_scaler_update_with_each_kind_of_new_scale(L):
    """scaler.update(new_scale=...) before any scale() call, then with an int, a two-element
    tensor, one requiring grad, a one-element 1-d tensor (copied into the 0-d scale), a float
    and a numpy float64: each refusal's type and words and the scale after each."""
    sc = L.amp.GradScaler("cpu")
    out = [err(lambda: sc.update(new_scale=2.0)), sc.scale(L.tensor(1.0))]
    for v in (2, L.tensor([1.0, 2.0]), L.tensor(3.0, requires_grad=True), L.tensor([8.0]), 16.0,
              np.float64(0.5)):
        out.append(err(lambda: sc.update(new_scale=v)))
        out.append(sc.get_scale())
    return out


@program
def a_skipped_first_step_makes_the_scheduler_warn(L):
    """A scaler whose huge initial scale overflows the first backward: the optimizer step is
    skipped, so the scheduler stepping after it warns that lr_scheduler.step() came before
    optimizer.step(); the learning rates and the backed-off scale."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.SGD(m.parameters(), lr=0.1)
    sched = L.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    sc = L.amp.GradScaler("cpu", init_scale=2.0 ** 127)
    x = L.tensor(normal32(2, 4, seed=1))
    lrs = []
    for i in range(2):
        opt.zero_grad()
        sc.scale(m(x).pow(2).sum() * 1e10).backward()
        sc.step(opt)
        sc.update()
        sched.step()
        lrs.append(sched.get_last_lr())
    return lrs, sc.get_scale()



# ----------------------------------------------------------------------------------------------
# learning-rate schedulers
# ----------------------------------------------------------------------------------------------
class _WarmupFactor:
    """A picklable lr_lambda: a linear warmup over ``n`` epochs, then 1."""

    def __init__(self, n):
        self.n = n

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.n)




@program
def one_cycle_in_three_phases_moves_adams_betas(L):
    """OneCycleLR(three_phase=True, anneal_strategy='linear') over Adam: the learning rate and
    beta1 (cycled between base and max momentum) after each step, the state dict's keys loaded
    into a second scheduler, and the refusal to step past total_steps."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.Adam(m.parameters(), lr=0.1, betas=(0.9, 0.99))
    s = L.optim.lr_scheduler.OneCycleLR(opt, max_lr=[0.5], total_steps=10, three_phase=True,
                                        anneal_strategy="linear", base_momentum=0.8,
                                        max_momentum=0.95)
    out = []
    for i in range(6):
        opt.step()
        s.step()
        out.append((s.get_last_lr(), opt.param_groups[0]["betas"], opt.param_groups[0]["lr"]))
    sd = s.state_dict()
    opt2 = L.optim.Adam(m.parameters(), lr=0.1)
    s2 = L.optim.lr_scheduler.OneCycleLR(opt2, max_lr=0.5, total_steps=10, three_phase=True,
                                         anneal_strategy="linear")
    s2.load_state_dict(sd)
    return out, sorted(k for k in sd if k != "anneal_func"), s2.last_epoch, s2.get_last_lr(), \
        err(lambda: [s.step() for _ in range(10)])


@program
def one_cycle_refusals(L):
    """OneCycleLR's refusals: no total_steps or epochs, a zero total, a negative steps_per_epoch,
    an unknown anneal strategy, pct_start out of [0, 1], a max_lr list of the wrong length, and
    momentum cycling on an optimizer without momentum or betas."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.SGD(m.parameters(), lr=0.1)
    S = L.optim.lr_scheduler.OneCycleLR
    return err(lambda: S(opt, 0.1)), err(lambda: S(opt, 0.1, total_steps=0)), \
        err(lambda: S(opt, 0.1, epochs=2, steps_per_epoch=-1)), \
        err(lambda: S(opt, 0.1, 10, anneal_strategy="x")), \
        err(lambda: S(opt, 0.1, 10, pct_start=1.5)), err(lambda: S(opt, [0.1, 0.2], 10)), \
        err(lambda: S(L.optim.Adagrad(m.parameters()), 0.1, 10))


@program
def cosine_warm_restarts_at_fractional_epochs(L):
    """CosineAnnealingWarmRestarts(T_0=2, T_mult=2) stepped at epoch + i / iters inside each
    epoch, as its documentation shows, then jumped to epoch 20: the rates, T_cur and T_i, the
    state dict's keys, and its refusals (a negative epoch, T_0 = 0, a float T_mult)."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.SGD(m.parameters(), lr=1.0)
    s = L.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.01)
    lrs = []
    iters = 4
    for epoch in range(5):
        for i in range(iters):
            opt.step()
            s.step(epoch + i / iters)
            lrs.append(opt.param_groups[0]["lr"])
    s.step(20)
    lrs.append(s.get_last_lr())
    sd = s.state_dict()
    return lrs, s.T_cur, s.T_i, sorted(sd), err(lambda: s.step(-1)), \
        err(lambda: L.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)), \
        err(lambda: L.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5))


@program
def lambda_lr_state_dict_keeps_callable_objects(L):
    """LambdaLR with one lambda per parameter group, one of them a callable object: state_dict
    keeps the object's __dict__ and None for the plain function, load_state_dict restores it
    into another scheduler; a lambda list of the wrong length is refused."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.SGD([{"params": m[0].parameters()},
                       {"params": m[2].parameters(), "lr": 0.5}], lr=1.0)
    s = L.optim.lr_scheduler.LambdaLR(opt, [_WarmupFactor(3), lambda e: 0.9 ** e])
    for _ in range(4):
        opt.step()
        s.step()
    sd = s.state_dict()
    opt2 = L.optim.SGD([{"params": m[0].parameters()},
                        {"params": m[2].parameters(), "lr": 0.5}], lr=1.0)
    s2 = L.optim.lr_scheduler.LambdaLR(opt2, [_WarmupFactor(7), lambda e: 0.5])
    s2.load_state_dict(sd)
    return sd["lr_lambdas"], s2.lr_lambdas[0].n, s.get_last_lr(), s2.last_epoch, \
        err(lambda: L.optim.lr_scheduler.LambdaLR(opt, [_WarmupFactor(2)]))


@program
def sequential_warmup_then_cosine_and_its_state(L):
    """SequentialLR of a LinearLR warmup and CosineAnnealingLR with milestone 3: the rates over
    8 steps, the state dict (milestones, last_epoch, the nested schedulers' states), and the
    refusals of mismatched milestones and of a single scheduler with a milestone."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.SGD(m.parameters(), lr=1.0)
    a = L.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    b = L.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    s = L.optim.lr_scheduler.SequentialLR(opt, [a, b], milestones=[3])
    lrs = []
    for _ in range(8):
        opt.step()
        s.step()
        lrs.append(s.get_last_lr()[0])
    sd = s.state_dict()
    return lrs, sorted(sd), sd["_milestones"], sd["last_epoch"], len(sd["_schedulers"]), \
        err(lambda: L.optim.lr_scheduler.SequentialLR(opt, [a, b], milestones=[3, 4])), \
        err(lambda: L.optim.lr_scheduler.SequentialLR(opt, [a], milestones=[3]))


@program
def a_warmup_cosine_scheduler_subclassing_lr_scheduler(L):
    """A user's LRScheduler subclass computing warmup then cosine in get_lr from last_epoch and
    base_lrs: the rates, the state dict's keys, the initial_lr written into the groups, and
    the KeyError of resuming (last_epoch=3) on an optimizer without initial_lr."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.AdamW(m.parameters(), lr=1e-3)

    class Warm(L.optim.lr_scheduler.LRScheduler):
        def __init__(self, optimizer, warm, total, last_epoch=-1):
            self.warm, self.total = warm, total
            super().__init__(optimizer, last_epoch)

        def get_lr(self):
            e = self.last_epoch
            if e < self.warm:
                f = (e + 1) / self.warm
            else:
                f = 0.5 * (1 + math.cos(math.pi * (e - self.warm) / (self.total - self.warm)))
            return [b * f for b in self.base_lrs]

    s = Warm(opt, 2, 6)
    lrs = [s.get_last_lr()[0]]
    for _ in range(6):
        opt.step()
        s.step()
        lrs.append(s.get_last_lr()[0])
    sd = s.state_dict()
    e = err(lambda: Warm(L.optim.SGD(m.parameters(), lr=0.1), 2, 6, last_epoch=3))
    return lrs, sorted(sd), sd["base_lrs"], opt.param_groups[0]["initial_lr"], e, \
        isinstance(s, L.optim.lr_scheduler.LRScheduler)


@program
def reduce_on_plateau_max_mode_with_cooldown_and_min_lrs(L):
    """ReduceLROnPlateau in 'max' mode with an absolute threshold, patience, cooldown and one
    min_lr per group, fed floats and a 0-d tensor: the rates after each metric, the state dict
    loaded into another, get_last_lr, and the refusals (a min_lr list of the wrong length,
    factor 1.0, an unknown mode)."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.SGD([{"params": m[0].parameters()},
                       {"params": m[2].parameters(), "lr": 0.5}], lr=1.0)
    s = L.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1,
                                               threshold=0.1,
                                               threshold_mode="abs", cooldown=1, min_lr=[0.3, 0.01])
    lrs = []
    for metric in [1.0, 1.05, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, L.tensor(2.0)]:
        s.step(metric)
        lrs.append([g["lr"] for g in opt.param_groups])
    sd = s.state_dict()
    s2 = L.optim.lr_scheduler.ReduceLROnPlateau(opt)
    s2.load_state_dict(sd)
    return lrs, sorted(sd), sd["best"], sd["num_bad_epochs"], s2.cooldown_counter, \
        s.get_last_lr(), \
        err(lambda: L.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1])), \
        err(lambda: L.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)), \
        err(lambda: L.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="avg"))


@program
def constant_polynomial_multiplicative_cyclic_multistep_chained(L):
    """ConstantLR, PolynomialLR, MultiplicativeLR, CyclicLR in exp_range mode (cycling SGD's
    momentum), MultiStepLR with a repeated milestone and ChainedScheduler, five steps each:
    the rates and the momentum; ConstantLR's refusal of a factor above 1."""
    m = _tiny_mlp(L, seed=1)
    out = []
    for make in (lambda o: L.optim.lr_scheduler.ConstantLR(o, factor=0.25, total_iters=2),
                 lambda o: L.optim.lr_scheduler.PolynomialLR(o, total_iters=4, power=2.0),
                 lambda o: L.optim.lr_scheduler.MultiplicativeLR(o, lambda e: 0.9),
                 lambda o: L.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=2,
                                                         mode="exp_range", gamma=0.9),
                 lambda o: L.optim.lr_scheduler.MultiStepLR(o, [1, 3, 3], gamma=0.1),
                 lambda o: L.optim.lr_scheduler.ChainedScheduler(
                     [L.optim.lr_scheduler.ExponentialLR(o, 0.9),
                      L.optim.lr_scheduler.StepLR(o, 2, 0.5)])):
        opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        s = make(opt)
        lrs = []
        for _ in range(5):
            opt.step()
            s.step()
            lrs.append(opt.param_groups[0]["lr"])
        out.append((lrs, opt.param_groups[0]["momentum"]))
    return out, err(lambda: L.optim.lr_scheduler.ConstantLR(L.optim.SGD(m.parameters(), lr=0.1),
                                                            factor=2.0))



# ----------------------------------------------------------------------------------------------
# optimizers' state
# ----------------------------------------------------------------------------------------------


@program
def adamw_amsgrad_state_through_torch_save_and_bytesio(L):
    """AdamW with amsgrad trained two steps; the optimizer's and the model's state dicts saved
    together into io.BytesIO and loaded back with weights_only=True into a new model and an
    optimizer made with another lr; one more step on each gives the same weights; the loaded
    step's type and value."""
    F = L.nn.functional
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.AdamW(m.parameters(), lr=0.01, amsgrad=True)
    x = L.tensor(normal32(5, 4, seed=2))
    y = L.tensor(labels(5, 3, 3))
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
    buf = io.BytesIO()
    L.save({"opt": opt.state_dict(), "model": m.state_dict()}, buf)
    buf.seek(0)
    ck = L.load(buf, weights_only=True)
    m2 = _tiny_mlp(L, seed=1)
    m2.load_state_dict(ck["model"])
    opt2 = L.optim.AdamW(m2.parameters(), lr=0.5)
    opt2.load_state_dict(ck["opt"])
    for o, mm in ((opt, m), (opt2, m2)):
        o.zero_grad()
        F.cross_entropy(mm(x), y).backward()
        o.step()
    st = opt2.state_dict()
    return dict(m.state_dict()), dict(m2.state_dict()), st["param_groups"], st["state"][0], \
        type(ck["opt"]["state"][0]["step"]).__name__, ck["opt"]["state"][0]["step"]


@program
def optimizer_state_dicts_that_do_not_fit(L):
    """Loading an SGD state dict into an optimizer with a different number of parameter groups,
    and into one whose group holds fewer parameters: the ValueErrors and their words."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    opt2 = L.optim.SGD([{"params": m[0].parameters()}, {"params": m[2].parameters()}], lr=0.1)
    opt3 = L.optim.SGD(list(m.parameters())[:2], lr=0.1)
    return err(lambda: opt2.load_state_dict(sd)), err(lambda: opt3.load_state_dict(sd))


@program
def optimizer_hooks_param_groups_and_argument_refusals(L):
    """Step pre/post hooks (one removed after the first step), state-dict pre/post hooks (the post
    hook adds a key), load pre/post hooks; add_param_group refusing a parameter already in a
    group and accepting one with its own betas; a tensor lr; the refusals of duplicate
    parameters, an empty list, a negative lr, beta1 = 1, nesterov without momentum and a bare
    tensor as params."""
    m = _tiny_mlp(L, seed=1)
    opt = L.optim.Adam(m[0].parameters(), lr=L.tensor(0.01))
    seen = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: seen.append(("pre", len(o.state))))
    opt.register_step_post_hook(lambda o, a, k: seen.append(("post", len(o.state))))
    opt.register_state_dict_pre_hook(lambda o: seen.append("sd_pre"))
    opt.register_state_dict_post_hook(lambda o, sd: sd.update(extra=1) or sd)
    opt.register_load_state_dict_pre_hook(lambda o, sd: seen.append(("load_pre", sorted(sd))))
    opt.register_load_state_dict_post_hook(lambda o: seen.append("load_post"))
    e1 = err(lambda: opt.add_param_group({"params": m[0].weight}))
    opt.add_param_group({"params": m[2].parameters(), "lr": 0.1, "betas": (0.5, 0.6)})
    m(L.tensor(normal32(3, 4, seed=2))).sum().backward()
    opt.step()
    h1.remove()
    opt.step()
    sd = opt.state_dict()
    opt.load_state_dict(sd)
    e2 = err(lambda: L.optim.Adam([m[0].weight, m[0].weight]))
    e3 = err(lambda: L.optim.SGD([], lr=0.1))
    e4 = err(lambda: L.optim.Adam(m.parameters(), lr=-1))
    e5 = err(lambda: L.optim.Adam(m.parameters(), betas=(1.0, 0.9)))
    e6 = err(lambda: L.optim.SGD(m.parameters(), lr=0.1, nesterov=True))
    e7 = err(lambda: L.optim.Adam(L.zeros(3)))
    return seen, sorted(sd), sd["param_groups"], e1, e2, e3, e4, e5, e6, e7, dict(m.state_dict())


@program
def adam_fused_foreach_and_maximize_flags(L):
    """Adam with fused=True, foreach=True, maximize with foreach=False, and capturable and
    differentiable off, two steps each from the same weights: the weights and the groups'
    fused and foreach entries; fused and foreach together are refused."""
    out = []
    for kw in ({"fused": True}, {"foreach": True}, {"foreach": False, "maximize": True},
               {"capturable": False, "differentiable": False}):
        m = _tiny_mlp(L, seed=1)
        opt = L.optim.Adam(m.parameters(), lr=0.05, **kw)
        for _ in range(2):
            opt.zero_grad()
            m(L.tensor(normal32(3, 4, seed=3))).pow(2).sum().backward()
            opt.step()
        group = opt.param_groups[0]
        out.append((dict(m.state_dict()), group["fused"], group["foreach"]))
    m = _tiny_mlp(L, seed=1)
    e = err(lambda: L.optim.Adam(m.parameters(), fused=True, foreach=True))
    return out, e



# ----------------------------------------------------------------------------------------------
# initialisation
# ----------------------------------------------------------------------------------------------


@program
def init_functions_after_a_seed(L):
    """The nn.init functions in turn on the same tensors after manual_seed: xavier_uniform_ with
    the leaky_relu gain, kaiming_uniform_(a=sqrt(5)), kaiming_normal_ in fan_out mode,
    orthogonal_ with a gain on a wide matrix, sparse_, dirac_ with groups, eye_, trunc_normal_
    with bounds around a shifted mean, uniform_ on float64, calculate_gain of each name,
    the fans of a conv weight, and xavier_normal_ of an empty matrix; then the next draw."""
    nn = L.nn
    L.manual_seed(3)
    w = L.empty(4, 3, 2, 2)
    out = []
    out.append(nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain("leaky_relu", 0.2)).clone())
    out.append(nn.init.kaiming_uniform_(w, a=math.sqrt(5)).clone())
    out.append(nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="leaky_relu").clone())
    out.append(nn.init.orthogonal_(L.empty(3, 5), gain=2.0))
    out.append(nn.init.sparse_(L.empty(6, 3), sparsity=0.5, std=0.1))
    out.append(nn.init.dirac_(L.empty(4, 2, 3, 3), groups=2))
    out.append(nn.init.eye_(L.empty(2, 4)))
    out.append(nn.init.trunc_normal_(L.empty(10), mean=1.0, std=2.0, a=-1.0, b=2.0))
    out.append(nn.init.uniform_(L.empty(3, dtype=L.float64), -2, 5))
    out.append([nn.init.calculate_gain(n)
                for n in ("linear", "conv2d", "sigmoid", "tanh", "relu", "selu")])
    out.append(nn.init._calculate_fan_in_and_fan_out(w))
    out.append(nn.init.xavier_normal_(L.empty(0, 3)))
    return out, L.rand(2)


@program
def init_function_refusals(L):
    """What the init functions refuse: fans of a 1-d tensor, an unknown fan mode, an unknown
    nonlinearity, a non-number slope, orthogonal_ and sparse_ of the wrong rank, dirac_ of a
    matrix, eye_ of a 3-d tensor."""
    nn = L.nn
    return [err(f) for f in (
        lambda: nn.init.xavier_uniform_(L.empty(5)),
        lambda: nn.init.kaiming_normal_(L.empty(3, 2), mode="fan_middle"),
        lambda: nn.init.calculate_gain("swish"),
        lambda: nn.init.calculate_gain("leaky_relu", "x"),
        lambda: nn.init.orthogonal_(L.empty(3)),
        lambda: nn.init.sparse_(L.empty(2, 2, 2), 0.1),
        lambda: nn.init.dirac_(L.empty(3, 3)),
        lambda: nn.init.eye_(L.empty(3, 3, 3)),
        lambda: nn.init.kaiming_uniform_(L.empty(0, 3)),
    )]


@program
def truncated_normal_by_inverse_cdf_in_place(L):
    """The truncated normal as vision libraries write it: a uniform draw between the bounds' CDF
    values, erfinv_, mul_, add_ and clamp_ in place on a Parameter under no_grad (the same
    object back, still a leaf), on a float64 tensor, and nn.init.trunc_normal_ on bfloat16."""
    def tn(t, mean=0., std=1., a=-2., b=2.):

        def cdf(x):
            return (1. + math.erf(x / math.sqrt(2.))) / 2.

        with L.no_grad():
            l, u = cdf((a - mean) / std), cdf((b - mean) / std)
            t.uniform_(2 * l - 1, 2 * u - 1)
            t.erfinv_()
            t.mul_(std * math.sqrt(2.))
            t.add_(mean)
            t.clamp_(min=a, max=b)
            return t

    L.manual_seed(1)
    p = L.nn.Parameter(L.empty(3, 4))
    out = tn(p, std=0.02, a=-0.04, b=0.04)
    h = tn(L.empty(5, dtype=L.float64), 1.0, 2.0, 0.0, 3.0)
    b = L.nn.init.trunc_normal_(L.empty(4, dtype=L.bfloat16)).float()
    return out is p, p, h, b, p.requires_grad, p.grad_fn is None



# ----------------------------------------------------------------------------------------------
# nn.utils
# ----------------------------------------------------------------------------------------------


@program
def clipping_norm_kinds_and_flat_parameter_vectors(L):
    """clip_grad_norm_ with the inf norm and the 1-norm (foreach=False), clip_grad_value_,
    parameters_to_vector and vector_to_parameters (doubling the weights), a NaN gradient
    with error_if_nonfinite (refused) and without (a NaN norm), the refusals of a list and of
    a short vector, and the norm of no parameters."""
    nn = L.nn
    L.manual_seed(0)
    m = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double(), seed=2)
    m(L.tensor(normal64(5, 3, seed=1))).sum().backward()
    g0 = [p.grad.clone() for p in m.parameters()]
    n_inf = nn.utils.clip_grad_norm_(m.parameters(), 0.1, norm_type="inf")
    n1 = nn.utils.clip_grad_norm_(m.parameters(), 0.1, norm_type=1.0, foreach=False)
    nn.utils.clip_grad_value_(m.parameters(), 0.01)
    v = nn.utils.parameters_to_vector(m.parameters())
    nn.utils.vector_to_parameters(v * 2, m.parameters())
    m[0].weight.grad[0, 0] = float("nan")
    e1 = err(lambda: nn.utils.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True))
    n_nan = nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    e2 = err(lambda: nn.utils.vector_to_parameters([1.0], m.parameters()))
    e3 = err(lambda: nn.utils.vector_to_parameters(v[:-1], m.parameters()))
    return g0, n_inf, n1, [p.grad for p in m.parameters()], v, dict(m.state_dict()), e1, \
        n_nan, e2, e3, \
        nn.utils.clip_grad_norm_([], 1.0), v.requires_grad


@program
def weight_norm_parametrization_state_and_removal(L):
    """parametrizations.weight_norm on a Linear (dim 0) and on a Conv1d (dim=None): the state
    dict's original0/original1 keys, the magnitude's shape and gradient, then
    remove_parametrizations keeping the parametrized weight; is_parametrized before and after."""
    nn = L.nn
    P = nn.utils.parametrizations
    L.manual_seed(0)
    lin = load_seeded(L, nn.Linear(4, 3).double(), seed=3)
    P.weight_norm(lin, name="weight", dim=0)
    keys = sorted(lin.state_dict())
    g, v = lin.parametrizations.weight.original0, lin.parametrizations.weight.original1
    x = L.tensor(normal64(2, 4, seed=4))
    lin(x).sum().backward()
    conv = load_seeded(L, nn.Conv1d(2, 3, 3).double(), seed=5)
    P.weight_norm(conv, dim=None)
    g2 = conv.parametrizations.weight.original0
    nn.utils.parametrize.remove_parametrizations(lin, "weight", leave_parametrized=True)
    return keys, g.shape, g.grad, v.grad, \
        g2.shape, g2, sorted(lin.state_dict()), type(lin.weight).__name__, \
        nn.utils.parametrize.is_parametrized(lin), \
        nn.utils.parametrize.is_parametrized(conv, "weight")


@program
def spectral_norm_parametrization_power_iterations(L):
    """parametrizations.spectral_norm with three power iterations after a seed: the state dict's
    keys (the u and v buffers), the output and the original weight's gradient in training, the
    largest singular value of the normalised weight, the eval-mode output, u and v, and the
    refusal of n_power_iterations = 0."""
    nn = L.nn
    P = nn.utils.parametrizations
    L.manual_seed(0)
    lin = nn.Linear(5, 4).double()
    load_seeded(L, lin, seed=6)
    L.manual_seed(1)
    P.spectral_norm(lin, n_power_iterations=3)
    keys = sorted(lin.state_dict())
    sn = lin.parametrizations.weight[0]
    x = L.tensor(normal64(2, 5, seed=7))
    y = lin(x)
    y.sum().backward()
    sv = L.linalg.matrix_norm(lin.weight.detach(), 2)
    lin.eval()
    y2 = lin(x)
    w_eval = lin.weight
    return keys, y, lin.parametrizations.weight.original.grad, sv, y2, sn._u, sn._v, w_eval, \
        err(lambda: P.spectral_norm(nn.Linear(2, 2), n_power_iterations=0))


@program
def parametrizations_with_tuple_inverse_and_caching(L):
    """A low-rank parametrization whose right_inverse returns two tensors (original0 and
    original1, and assigning to the weight goes through it), a symmetric one under
    parametrize.cached() (the same tensor twice), and the refusals of assigning where
    right_inverse is missing and of parametrizing an attribute that is not there."""
    nn = L.nn
    P = nn.utils.parametrize

    class LowRank(nn.Module):
        def forward(self, a, b):
            return a @ b

        def right_inverse(self, w):
            return w[:, :2].clone(), L.eye(2, w.shape[1], dtype=w.dtype)

    class Sym(nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(-1, -2)

    L.manual_seed(0)
    lin = load_seeded(L, nn.Linear(3, 3).double(), seed=1)
    P.register_parametrization(lin, "weight", LowRank())
    keys = sorted(lin.state_dict())
    w1 = lin.weight
    lin.weight = L.tensor(normal64(3, 3, seed=5))
    lin2 = load_seeded(L, nn.Linear(3, 3).double(), seed=2)
    P.register_parametrization(lin2, "weight", Sym())
    with P.cached():
        a = lin2.weight
        b = lin2.weight
        same = a is b
    e = err(lambda: setattr(lin2, "weight", L.zeros(3, 3, dtype=L.float64)))
    return keys, w1, lin.weight, lin.parametrizations.weight.original1, same, lin2.weight, e, \
        err(lambda: P.register_parametrization(lin2, "nope", Sym()))


@program
def fusing_conv_and_linear_with_their_batch_norms(L):
    """fuse_conv_bn_eval and fuse_linear_bn_eval on float64 layers in eval mode give the outputs
    of the unfused pairs; the fused bias requires grad; fusing in training mode is refused."""
    nn = L.nn
    L.manual_seed(0)
    conv = load_seeded(L, nn.Conv2d(2, 3, 3, bias=False).double(), seed=1)
    bn = load_seeded(L, nn.BatchNorm2d(3).double(), seed=2)
    bn.running_var.abs_()
    conv.eval()
    bn.eval()
    fused = nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
    x = L.tensor(normal64(1, 2, 5, 5, seed=3))
    lin = load_seeded(L, nn.Linear(3, 4).double(), seed=4)
    bn1 = load_seeded(L, nn.BatchNorm1d(4).double(), seed=5).eval()
    bn1.running_var.abs_()
    fl = nn.utils.fusion.fuse_linear_bn_eval(lin.eval(), bn1)
    xl = L.tensor(normal64(2, 3, seed=6))
    return fused(x), bn(conv(x)), fused.bias.requires_grad, fl(xl), bn1(lin(xl)), \
        err(lambda: nn.utils.fusion.fuse_conv_bn_eval(conv.train(), bn))


@program
def swa_and_ema_averaged_models_with_update_bn(L):
    """AveragedModel for SWA and an EMA one (get_ema_multi_avg_fn, use_buffers=True) updated
    after each SGD step under SWALR's cosine anneal, then update_bn over a DataLoader: both
    state dicts, the rates, n_averaged and the averaged model's output."""
    nn = L.nn
    L.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    net = load_seeded(L, net, seed=2)
    U = L.optim.swa_utils
    swa = U.AveragedModel(net)
    ema = U.AveragedModel(net, multi_avg_fn=U.get_ema_multi_avg_fn(0.9), use_buffers=True)
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    sched = U.SWALR(opt, swa_lr=0.05, anneal_epochs=2, anneal_strategy="cos")
    x = L.tensor(normal32(6, 3, seed=3))
    lrs = []
    for _ in range(3):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
        swa.update_parameters(net)
        ema.update_parameters(net)
        sched.step()
        lrs.append(sched.get_last_lr())
    ds = L.utils.data.TensorDataset(x, x[:, 0])
    U.update_bn(L.utils.data.DataLoader(ds, batch_size=3), swa)
    return dict(swa.state_dict()), dict(ema.state_dict()), lrs, swa.n_averaged, swa(x)


@program
def lazy_conv_batch_norm_and_linear_materialise(L):
    """LazyConv2d, LazyBatchNorm2d and LazyLinear in a Sequential: the uninitialised
    parameter's shape access refused, then one forward fixes the shapes (drawn after a seed);
    the state dict's shapes and the classes they become."""
    nn = L.nn
    L.manual_seed(0)
    net = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(),
                        nn.LazyLinear(2))
    e0 = err(lambda: net.state_dict()["0.weight"].shape)
    x = L.tensor(normal32(2, 3, 5, 5, seed=1))
    y = net(x)
    return e0, y, [(k, tuple(v.shape)) for k, v in net.state_dict().items()], \
        type(net[0]).__name__, type(net[4]).__name__, net[4].in_features


@program
def build_on_meta_then_to_empty_and_reset(L):
    """Modules built under torch.device('meta') (their device, a forward refused), moved with
    to_empty and re-initialised by reset_parameters after a seed; skip_init's shape."""
    nn = L.nn
    with L.device("meta"):
        m = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    dev = m[0].weight.device.type
    e = err(lambda: m(L.zeros(1, 3)))
    m.to_empty(device="cpu")
    L.manual_seed(2)
    for mod in m:
        mod.reset_parameters()
    sk = nn.utils.skip_init(nn.Linear, 2, 3)
    return dev, e, dict(m.state_dict()), m[0].weight.device.type, sk.weight.shape



# ----------------------------------------------------------------------------------------------
# data pipelines
# ----------------------------------------------------------------------------------------------
_Meta = collections.namedtuple("_Meta", "scale label")


def _sample_dataset(L):
    """A map-style Dataset class of dict samples: an image (2, 2 + i % 3, 3) filled with i, a
    long mask, the index, a name and a namedtuple holding a numpy float."""
    class Samples(L.utils.data.Dataset):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            if i >= self.n:
                raise IndexError(i)
            h = 2 + i % 3
            return {"img": L.full((2, h, 3), float(i)),
                    "mask": L.full((h, 3), i % 2, dtype=L.long),
                    "id": i, "name": f"s{i}", "meta": _Meta(np.float64(i) / 2, i % 4)}

    return Samples



@program
def loader_with_a_padding_collate_over_dict_samples(L):
    """A map-style dataset of dict samples with ragged image heights, a collate that pads images
    by F.pad, masks by pad_sequence (255) and hands the rest (ints, strings, namedtuples of
    numpy floats) to default_collate, under a seeded generator's shuffle."""
    D = L.utils.data
    Seg = _sample_dataset(L)

    def collate(batch):
        h = max(b["img"].shape[1] for b in batch)
        imgs = L.stack([L.nn.functional.pad(b["img"], (0, 0, 0, h - b["img"].shape[1]))
                        for b in batch])
        masks = L.nn.utils.rnn.pad_sequence([b["mask"] for b in batch], batch_first=True,
                                             padding_value=255)
        rest = D.default_collate([{"id": b["id"], "name": b["name"], "meta": b["meta"]}
                                  for b in batch])
        return imgs, masks, rest

    g = L.Generator().manual_seed(5)
    dl = D.DataLoader(Seg(7), batch_size=3, shuffle=True, generator=g, collate_fn=collate,
                      drop_last=False)
    out = list(dl)
    return out, len(dl), type(out[0][2]["meta"]).__name__


@program
def default_collate_and_default_convert_corners(L):
    """default_collate of dicts holding tensors, ints, namedtuples, numpy arrays, floats and bools
    (the result types and dtypes), its refusals (tensors of unequal size, dicts with other
    keys, plain objects), and default_convert of a numpy array."""
    D = L.utils.data
    Seg = _sample_dataset(L)
    ds = Seg(4)
    batch = D.default_collate([{"mask": ds[i]["mask"][:2], "id": ds[i]["id"], "meta": ds[i]["meta"],
                                "arr": np.arange(3) * i, "f": 0.5 * i, "b": i % 2 == 0}
                               for i in range(4)])
    return batch, type(batch["meta"]).__name__, batch["arr"].dtype, batch["f"].dtype, \
        batch["b"].dtype, \
        err(lambda: D.default_collate([L.zeros(2), L.zeros(3)])), \
        err(lambda: D.default_collate([{"a": 1}, {"b": 2}])), D.default_convert(np.ones(2)), \
        err(lambda: D.default_collate([object(), object()]))


@program
def seeded_samplers_and_their_refusals(L):
    """WeightedRandomSampler, SubsetRandomSampler and RandomSampler (with replacement and with a
    num_samples above the length) under seeded generators, BatchSampler with and without
    drop_last and their lengths, and the refusals of bad arguments."""
    D = L.utils.data
    g = L.Generator().manual_seed(3)
    w = D.WeightedRandomSampler([0.1, 0.9, 0.4, 0.0], num_samples=6, replacement=True, generator=g)
    g2 = L.Generator().manual_seed(4)
    sub = D.SubsetRandomSampler([5, 7, 9, 11], generator=g2)
    bs = D.BatchSampler(D.SequentialSampler(range(7)), batch_size=3, drop_last=True)
    bs2 = D.BatchSampler(range(7), batch_size=3, drop_last=False)
    g3 = L.Generator().manual_seed(6)
    rs = D.RandomSampler(range(5), replacement=True, num_samples=8, generator=g3)
    g4 = L.Generator().manual_seed(6)
    rs2 = D.RandomSampler(range(5), num_samples=12, generator=g4)
    return list(w), list(sub), list(bs), len(bs), list(bs2), len(bs2), list(rs), list(rs2), \
        len(rs2), \
        err(lambda: D.WeightedRandomSampler([0.5, 0.5], 3, replacement=False)), \
        err(lambda: D.BatchSampler(range(3), 0, False)), \
        err(lambda: D.RandomSampler(range(3), num_samples=0)), \
        err(lambda: D.WeightedRandomSampler([[0.5], [0.5]], 1)), \
        err(lambda: D.BatchSampler(range(3), 2, "no"))


@program
def loader_batch_sampler_and_conflicting_arguments(L):
    """A custom Sampler subclass inside a BatchSampler given to DataLoader, and with
    batch_size=None; the refusals of batch_sampler with batch_size, sampler with shuffle,
    batch_size=None with drop_last, and batch_sampler with shuffle."""
    D = L.utils.data
    ds = D.TensorDataset(L.arange(10.0).view(5, 2), L.arange(5))

    class EvenFirst(D.Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(list(range(0, self.n, 2)) + list(range(1, self.n, 2)))

        def __len__(self):
            return self.n

    dl = D.DataLoader(ds, batch_sampler=D.BatchSampler(EvenFirst(5), 2, False))
    dl2 = D.DataLoader(ds, sampler=EvenFirst(5), batch_size=None)
    return list(dl), len(dl), list(dl2)[:2], \
        err(lambda: D.DataLoader(ds, batch_sampler=D.BatchSampler(EvenFirst(5), 2, False),
                                 batch_size=3)), \
        err(lambda: D.DataLoader(ds, sampler=EvenFirst(5), shuffle=True)), \
        err(lambda: D.DataLoader(ds, batch_size=None, drop_last=True)), \
        err(lambda: D.DataLoader(ds, batch_sampler=[[0]], shuffle=True))


@program
def random_split_by_fractions_and_concatenation(L):
    """random_split by fractions and by lengths under seeded generators (the indices), a
    ConcatDataset of two subsets (length, an item, cumulative sizes) and the refusals of
    lengths that do not sum and of an index past the end."""
    D = L.utils.data
    ds = D.TensorDataset(L.arange(20.0).view(10, 2))
    a, b, c = D.random_split(ds, [0.5, 0.3, 0.2], generator=L.Generator().manual_seed(42))
    x, y = D.random_split(range(7), [5, 2], generator=L.Generator().manual_seed(1))
    cat = D.ConcatDataset([a, c])
    return a.indices, b.indices, c.indices, list(x), list(y), len(cat), cat[5], \
        cat.cumulative_sizes, \
        err(lambda: D.random_split(ds, [3, 3])), err(lambda: D.random_split(ds, [0.5, 0.6])), \
        err(lambda: cat[20])


# ----------------------------------------------------------------------------------------------
# channels_last and the mistakes users make
# ----------------------------------------------------------------------------------------------


@program
def channels_last_strides_through_everyday_ops(L):
    """A channels_last (N, C, H, W) tensor through elementwise ops, clone, the *_like factories,
    activations, interpolation, pools, reductions, dtype casts, pad, slicing, permute, cat,
    new_zeros, contiguous and layer norm: each result's strides and whether it is channels_last;
    the refusals of channels_last on a 3-d tensor and channels_last_3d on a 4-d one."""
    F = L.nn.functional
    cl = L.channels_last
    x = L.tensor(normal32(2, 3, 4, 5, seed=1)).contiguous(memory_format=cl)
    outs = [x + 1, x * x, x.clone(), L.empty_like(x), L.zeros_like(x), x.relu(), F.gelu(x),
            F.interpolate(x, scale_factor=2, mode="nearest"),
            F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=False),
            F.avg_pool2d(x, 2), F.max_pool2d(x, 2), F.adaptive_avg_pool2d(x, 1),
            x.sum(1, keepdim=True), x.float(), x.double(), x.to(L.float64), F.pad(x, (1, 1)),
            x.sigmoid(), x[:, :2], x.permute(0, 2, 3, 1),
            L.cat([x, x], 1), x.new_zeros(x.shape), x.clone(memory_format=L.contiguous_format),
            x.contiguous(), x.flatten(2), x.transpose(1, 2), F.layer_norm(x, (5,)),
            F.softmax(x, 1), x.mean((2, 3), keepdim=True), x.expand(2, 3, 4, 5),
            x * L.ones(3, 1, 1)]
    return [o.stride() for o in outs], [o.is_contiguous(memory_format=cl) for o in outs], \
        err(lambda: L.randn(2, 3, 4).to(memory_format=cl)), \
        err(lambda: L.randn(2, 3, 4, 5).contiguous(memory_format=L.channels_last_3d))


@program
def channels_last_through_a_conv_norm_upsample_stack(L):
    """A Sequential (conv, batch norm, ReLU, transposed conv, group norm, upsample, dropout2d)
    moved to channels_last by Module.to(memory_format=...): the strides and memory format
    after each layer, the output, and the strides of the input's and the weights' gradients."""
    nn = L.nn
    cl = L.channels_last
    L.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.ConvTranspose2d(4, 2, 2, stride=2), nn.GroupNorm(2, 2),
                        nn.Upsample(scale_factor=2), nn.Dropout2d(0.0)).to(memory_format=cl)
    net = load_seeded(L, net, seed=2)
    x = L.tensor(normal32(2, 3, 4, 4, seed=3)).to(memory_format=cl).requires_grad_()
    hs = []
    h = x
    for mod in net:
        h = mod(h)
        hs.append((h.stride(), h.is_contiguous(memory_format=cl)))
    h.sum().backward()
    return hs, h, x.grad.stride(), net[0].weight.stride(), net[0].weight.grad.stride(), \
        net[3].weight.stride()


@program
def wrong_shapes_into_linear_conv_and_norm_layers(L):
    """The shape mistakes people make: too few features into Linear (2-d and 3-d), a float64
    input into a float32 layer, a 0-d input; too few channels, a too-small image, channels
    last without permuting, a 2-d image into Conv2d; a too-short sequence into Conv1d;
    BatchNorm2d of the wrong channel count or rank; LayerNorm over the wrong size; GroupNorm
    groups that do not divide; an index past an Embedding; a float64 image into a float32
    conv; BatchNorm1d of one sample in training; a 1-d weight into F.linear."""
    nn = L.nn
    L.manual_seed(0)
    lin = nn.Linear(5, 3)
    conv = nn.Conv2d(3, 4, 3)
    conv1 = nn.Conv1d(2, 2, 3)
    bn = nn.BatchNorm2d(4)
    return [err(f) for f in (
        lambda: lin(L.randn(2, 4)), lambda: lin(L.randn(2, 3, 4)),
        lambda: lin(L.randn(5, dtype=L.float64)), lambda: lin(L.randn(())),
        lambda: conv(L.randn(2, 2, 8, 8)), lambda: conv(L.randn(2, 3, 2, 2)),
        lambda: conv(L.randn(3, 8, 8, 2)), lambda: conv(L.randn(8, 8)),
        lambda: conv1(L.randn(2, 2, 2)), lambda: bn(L.randn(2, 3, 4, 4)),
        lambda: bn(L.randn(2, 4)), lambda: nn.LayerNorm(4)(L.randn(2, 3)),
        lambda: nn.GroupNorm(3, 4), lambda: nn.Embedding(3, 2)(L.tensor([3])),
        lambda: conv(L.randn(1, 3, 5, 5, dtype=L.float64)),
        lambda: nn.BatchNorm1d(3)(L.randn(1, 3)),
        lambda: nn.functional.linear(L.randn(2, 3), L.randn(3)),
    )]


@program
def state_dicts_with_missing_unexpected_and_misshapen_keys(L):
    """load_state_dict with a missing buffer and an extra key (strict: the RuntimeError's words;
    strict=False: the missing and unexpected lists), a weight of the wrong shape (refused even
    when not strict), DataParallel's 'module.' prefix (everything missing, then stripped by
    consume_prefix_in_state_dict_if_present), and a list for a state dict."""
    nn = L.nn
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    sd = m.state_dict()
    bad = dict(sd)
    bad.pop("1.running_mean")
    bad["3.weight"] = L.zeros(2)
    wrong = dict(sd)
    wrong["0.weight"] = L.zeros(4, 4)
    r = m.load_state_dict(bad, strict=False)
    prefixed = {"module." + k: v for k, v in sd.items()}
    r2 = m.load_state_dict(prefixed, strict=False)
    nn.modules.utils.consume_prefix_in_state_dict_if_present(prefixed, "module.")
    return err(lambda: m.load_state_dict(bad)), err(lambda: m.load_state_dict(wrong)), \
        r.missing_keys, r.unexpected_keys, len(r2.missing_keys), sorted(prefixed)[:3], \
        err(lambda: m.load_state_dict(wrong, strict=False)), str(r)[:0], \
        err(lambda: m.load_state_dict([1]))



# ----------------------------------------------------------------------------------------------
# vision odds and ends
# ----------------------------------------------------------------------------------------------


@program
def volumetric_grid_sample_through_one_affine_grid_twice(L):
    """A 3-d affine grid (theta 3x4) sampled from a volume by grid_sample in bilinear and nearest
    modes and each padding mode; each sample's gradients by autograd.grad through the same
    grid (its AffineGridGenerator node backpropagated through again: it keeps no tensors); the
    refusals of bicubic in 3-d, a float32 grid with a float64 input and a grid of 2
    coordinates."""
    F = L.nn.functional
    inp = L.tensor(normal64(1, 2, 3, 4, 5, seed=1), requires_grad=True)
    theta = L.tensor(normal64(1, 3, 4, seed=2) * 0.5 + np.eye(3, 4), requires_grad=True)
    grid = F.affine_grid(theta, (1, 2, 2, 3, 3), align_corners=False)
    res = []
    for mode in ("bilinear", "nearest"):
        for pad in ("zeros", "border", "reflection"):
            o = F.grid_sample(inp, grid, mode=mode, padding_mode=pad, align_corners=False)
            res.append((o, L.autograd.grad(o.sum(), (inp, theta), allow_unused=True)))
    return res, err(lambda: F.grid_sample(inp, grid, mode="bicubic")), \
        err(lambda: F.grid_sample(inp, grid.float())), \
        err(lambda: F.grid_sample(inp, grid[..., :2]))


@program
def activation_gradients_on_their_kinks(L):
    """hardswish, hardsigmoid, relu6, hardtanh(-3, 3), silu, mish, elu, selu and celu at and
    around their kinks (-3, 3, 0, 6) in float64: the values and each one's gradient."""
    F = L.nn.functional
    x = L.tensor([-4.0, -3.0, -2.9, 0.0, 2.9, 3.0, 4.0, 6.0], dtype=L.float64, requires_grad=True)
    outs = [F.hardswish(x), F.hardsigmoid(x), F.relu6(x), F.hardtanh(x, -3, 3), F.silu(x),
            F.mish(x), F.elu(x), F.selu(x), F.celu(x, 2.0)]
    grads = [L.autograd.grad(o.sum(), x, retain_graph=True)[0] for o in outs]
    return outs, grads


@program
def which_ops_cpu_autocast_lowers_or_keeps(L):
    """Under CPU bfloat16 autocast, the result dtypes of matmul-like ops (mm, addmm, baddbmm,
    linear on a bfloat16 input, einsum, sdpa, a transposed conv), of the float32 list (mse,
    cross entropy, BCE with logits, cdist, prod, avg_pool3d), of ops that follow their inputs
    (layer and group norm, softmax, log_softmax, add, cat, stack, norm, topk, gelu, where,
    interpolate, exp, pow, sum), of integer matmul, and inside a nested disabled region."""
    F = L.nn.functional
    a = L.tensor(normal32(3, 4, seed=1))
    b = L.tensor(normal32(4, 4, seed=2))
    t = L.tensor(normal32(3, 4, seed=3)).sigmoid()
    out = {}
    with L.autocast("cpu", dtype=L.bfloat16):
        h = a @ b
        out["mm"] = h.dtype
        out["mse"] = F.mse_loss(h, a).dtype
        out["ln"] = F.layer_norm(h, (4,)).dtype
        out["softmax"] = h.softmax(-1).dtype
        out["logsm"] = F.log_softmax(h, -1).dtype
        out["ce"] = F.cross_entropy(h, L.tensor([0, 1, 2])).dtype
        out["bce"] = F.binary_cross_entropy(h.sigmoid().float(), t).dtype
        out["bcel"] = F.binary_cross_entropy_with_logits(h, t).dtype
        out["add"] = (h + a).dtype
        out["cat"] = L.cat([h, a]).dtype
        out["stack"] = L.stack([h, a.bfloat16()]).dtype
        out["addmm"] = L.addmm(a, a, b).dtype
        out["baddbmm"] = L.baddbmm(a[None], a[None], b[None]).dtype
        out["sum"] = h.sum().dtype
        out["norm"] = h.norm().dtype
        out["gn"] = F.group_norm(h[None, :, :, None], 3).dtype
        out["pow"] = h.pow(2).dtype
        out["exp"] = h.exp().dtype
        out["prod"] = h.prod().dtype
        out["cdist"] = L.cdist(a, b).dtype
        out["lin_bf"] = F.linear(a.bfloat16(), b).dtype
        out["einsum"] = L.einsum("ij,jk->ik", a, b).dtype
        out["topk"] = h.topk(2).values.dtype
        out["gelu"] = F.gelu(h).dtype
        out["sdpa"] = F.scaled_dot_product_attention(a[None], a[None], a[None]).dtype
        out["interp"] = F.interpolate(h[None], scale_factor=2.0, mode="linear").dtype
        out["avgpool3"] = F.avg_pool3d(h[None, None, None], 1).dtype
        out["conv_t"] = F.conv_transpose1d(a[None], b[:3, :, None]).dtype
        out["where"] = L.where(h > 0, h, a).dtype
        out["matmul_int"] = (L.ones(2, 2, dtype=L.long) @ L.ones(2, 2, dtype=L.long)).dtype
        with L.autocast("cpu", enabled=False):
            out["off"] = (a @ b).dtype
            out["off_bf"] = (h @ h.t()).dtype
    return out


@program
def dropblock_masks_by_max_pooling(L):
    """DropBlock: a seeded Bernoulli seed mask grown into blocks by a stride-1 max pool (odd
    kernel), the kept fraction rescaling the input, and an even kernel's one-larger output
    cropped; the values and the input's gradient."""
    F = L.nn.functional
    x = L.tensor(normal64(2, 3, 8, 8, seed=1), requires_grad=True)
    bs, drop = 3, 0.2
    gamma = drop / bs ** 2 * 64 / (8 - bs + 1) ** 2
    L.manual_seed(3)
    mask = L.bernoulli(L.full((2, 3, 8, 8), gamma, dtype=L.float64))
    block = F.max_pool2d(mask, (bs, bs), stride=1, padding=bs // 2)
    keep = 1 - block
    y = x * keep * keep.numel() / keep.sum()
    mask4 = (L.rand(2, 1, 7, 7) < 0.1).float()
    b4 = F.max_pool2d(mask4, 4, stride=1, padding=2)
    y.sum().backward()
    return y, x.grad, b4.shape, b4[:, :, :-1, :-1].sum()


@program
def cbam_coordinate_channels_and_a_weighted_fpn_fusion(L):
    """CBAM (channel attention by a shared MLP over avg and max pools, spatial attention by a 7x7
    conv over channel max and mean), coordinate channels by expanded linspaces, an FPN lateral
    merge by nearest interpolation to a torch.Size, and BiFPN's fast normalised fusion with
    relu'd weights; outputs and gradients."""
    nn, F = L.nn, L.nn.functional

    class CBAM(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(c, 2), nn.ReLU(), nn.Linear(2, c))
            self.spatial = nn.Conv2d(2, 1, 7, padding=3)

        def forward(self, x):
            a = self.mlp(F.adaptive_avg_pool2d(x, 1).flatten(1)) + \
                self.mlp(F.adaptive_max_pool2d(x, 1).flatten(1))
            x = x * a.sigmoid()[:, :, None, None]
            s = L.cat([x.max(dim=1, keepdim=True)[0], x.mean(1, keepdim=True)], 1)
            return x * self.spatial(s).sigmoid()

    def coords(x):
        b, _, h, w = x.shape
        yy = L.linspace(-1, 1, h, dtype=x.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
        xx = L.linspace(-1, 1, w, dtype=x.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
        return L.cat([x, xx, yy], 1)

    L.manual_seed(0)
    cbam = load_seeded(L, CBAM(4).double(), seed=1)
    lat = load_seeded(L, nn.ModuleList([nn.Conv2d(6, 4, 1), nn.Conv2d(3, 4, 1)]).double(), seed=2)
    c4 = L.tensor(normal64(2, 4, 7, 5, seed=3), requires_grad=True)
    c3 = L.tensor(normal64(2, 3, 14, 9, seed=4))
    p4 = lat[0](coords(cbam(c4)))
    p3 = lat[1](c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
    w = F.relu(L.tensor([1.0, -0.5, 2.0], dtype=L.float64, requires_grad=True))
    up = F.interpolate(p4, scale_factor=2, mode="nearest")[..., :9]
    fused = (w[0] * p3 + w[2] * up) / (w.sum() + 1e-4)
    fused.pow(2).mean().backward()
    return p4, p3, fused, c4.grad, cbam.spatial.weight.grad


@program
def yolo_grid_decoding_and_confidence_filtering(L):
    """YOLO's head decoding: a meshgrid cell grid stacked (x, y) and made float, the predictions
    viewed and permuted to (B, anchors, H, W, outputs) and made contiguous, xy and wh decoded
    from sigmoids with anchor sizes, class confidences thresholded and their indices by
    nonzero; floor division and remainder of negative integers."""
    ny, nx, na, no = 3, 4, 2, 7
    yv, xv = L.meshgrid([L.arange(ny), L.arange(nx)], indexing="ij")
    grid = L.stack((xv, yv), 2).view((1, 1, ny, nx, 2)).float()
    anchors = L.tensor([[10.0, 13.0], [16.0, 30.0]])
    ag = (anchors / 8).view(1, na, 1, 1, 2)
    p = L.tensor(normal32(2, na * no, ny, nx, seed=5))
    p = p.view(2, na, no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
    y = p.sigmoid()
    xy = (y[..., :2] * 2 - 0.5 + grid) * 8
    wh = (y[..., 2:4] * 2) ** 2 * ag * 8
    out = L.cat((xy, wh, y[..., 4:]), -1).view(2, -1, no)
    conf = out[..., 4:5] * out[..., 5:]
    best, cls = conf.max(-1)
    keep = best > 0.3
    idx = keep.nonzero(as_tuple=False)
    return out, grid.dtype, idx, cls[keep], out[keep].shape, \
        L.div(L.arange(10), 4, rounding_mode="floor"), \
        L.arange(-5, 5) // 3, L.arange(-5, 5) % 3


@program
def heatmap_peaks_by_max_pool_and_top_k(L):
    """CenterNet-style decoding: local peaks kept where a 3x3 max pool equals the heatmap, top-k
    over the flattened classes and pixels, class, row and column by floor division and
    remainder, and the regression offsets gathered at the peaks."""
    F = L.nn.functional
    heat = L.tensor(normal32(2, 3, 6, 5, seed=6)).sigmoid()
    hmax = F.max_pool2d(heat, 3, stride=1, padding=1)
    peaks = heat * (hmax == heat).float()
    scores, inds = peaks.view(2, -1).topk(4)
    cls = L.div(inds, 30, rounding_mode="floor")
    pix = inds % 30
    ys, xs = (pix // 5).float(), (pix % 5).float()
    reg = L.tensor(normal32(2, 2, 6, 5, seed=7))
    off = reg.view(2, 2, -1).gather(2, pix.unsqueeze(1).expand(-1, 2, -1))
    return scores, inds, cls, ys + off[:, 1], xs + off[:, 0], inds.dtype, (pix // 5).dtype


@program
def online_hard_example_mining_and_box_regression_losses(L):
    """Per-pixel cross entropy with an ignored label sorted descending, the hard examples above a
    threshold kept (OHEM), and the box losses (smooth L1 with beta 1/9 summed and normalised,
    Huber with delta 0.5, smooth L1 with beta 0); the losses and gradients."""
    F = L.nn.functional
    logits = L.tensor(normal64(2, 4, 5, 5, seed=8), requires_grad=True)
    tgt = L.tensor(labels(50, 4, 9).reshape(2, 5, 5))
    tgt[0, 0] = 255
    pix = F.cross_entropy(logits, tgt, ignore_index=255, reduction="none").view(-1)
    sorted_loss, order = pix.sort(descending=True)
    thr = sorted_loss[10]
    hard = pix[pix > thr] if sorted_loss[10] > 0.7 else sorted_loss[:10]
    ohem = hard.mean()
    d = L.tensor(normal64(6, 4, seed=10), requires_grad=True)
    t = L.tensor(normal64(6, 4, seed=11))
    s1 = F.smooth_l1_loss(d, t, beta=1.0 / 9, reduction="sum") / max(1, 3)
    hub = F.huber_loss(d, t, delta=0.5)
    s0 = F.smooth_l1_loss(d, t, beta=0.0)
    (ohem + s1 + hub + s0).backward()
    return ohem, s1, hub, s0, logits.grad, d.grad, order[:5]


@program
def sigmoid_contrastive_loss_over_mean_pooled_text(L):
    """SigLIP's pairwise sigmoid loss (labels 2I - 1, a learnable temperature and bias) between
    normalised image features and text features mean-pooled under an attention mask (the
    count clamped); the loss and the gradients of temperature, bias and tokens."""
    F = L.nn.functional
    img = F.normalize(L.tensor(normal64(4, 5, seed=12), requires_grad=True), dim=-1)
    h = L.tensor(normal64(4, 6, 5, seed=13), requires_grad=True)
    mask = L.tensor([[1, 1, 1, 0, 0, 0], [1] * 6, [1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]])
    m = mask.unsqueeze(-1).to(h.dtype)
    txt = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    txt = F.normalize(txt, dim=-1)
    t_prime = L.tensor(math.log(10.0), dtype=L.float64, requires_grad=True)
    bias = L.tensor(-10.0, dtype=L.float64, requires_grad=True)
    logits = img @ txt.T * t_prime.exp() + bias
    lab = 2 * L.eye(4, dtype=L.float64) - 1
    loss = -F.logsigmoid(lab * logits).sum() / 4
    loss.backward()
    return loss, t_prime.grad, bias.grad, h.grad, m.dtype


@program
def uint8_images_to_normalised_tensors_and_back(L):
    """A uint8 HWC numpy image through from_numpy, permute, float().div(255) and per-channel
    normalisation, the refusal to subtract floats in place from uint8, the round trip back to
    uint8 (clamp, mul, round), flips and crops (strides, contiguity) and the dtypes of
    uint8 arithmetic and reductions."""
    rng = np.random.RandomState(14)
    img = rng.randint(0, 256, (5, 6, 3)).astype(np.uint8)
    t = L.from_numpy(img).permute(2, 0, 1)
    f = t.float().div(255)
    mean = L.tensor([0.485, 0.456, 0.406])
    std = L.tensor([0.229, 0.224, 0.225])
    n = (f - mean[:, None, None]) / std[:, None, None]
    e = err(lambda: t.clone().sub_(mean[:, None, None]))
    back = (n * std[:, None, None] + mean[:, None, None]).clamp(0, 1).mul(255).round().to(L.uint8)
    flipped = t.flip(-1).contiguous()
    crop = t[:, 1:4, 2:5]
    return n, e, back, (back.int() - t.int()).abs().max(), flipped, crop.is_contiguous(), \
        crop.stride(), t.is_contiguous(), t.stride(), (t.float() / 255).dtype, (t // 2).dtype, \
        (t / 2).dtype, t.sum().dtype, t.mean(dtype=L.float32)


@program
def patches_by_tensor_unfold_and_f_unfold_fold(L):
    """ViT patchify by Tensor.unfold twice and a permute/reshape, the inverse reshape giving the
    image back, F.unfold's patches, and an overlapping unfold/fold round trip divided by the
    folded ones; the gradient of the input."""
    x = L.tensor(normal64(2, 3, 8, 8, seed=15), requires_grad=True)
    p = 4
    patches = x.unfold(2, p, p).unfold(3, p, p)
    shp = patches.shape
    tokens = patches.permute(0, 2, 3, 1, 4, 5).reshape(2, -1, 3 * p * p)
    img = tokens.view(2, 2, 2, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(2, 3, 8, 8)
    unf = L.nn.functional.unfold(x, p, stride=p).transpose(1, 2)
    overl = L.nn.functional.unfold(x, 3, padding=1)
    div = L.nn.functional.fold(L.ones_like(overl), (8, 8), 3, padding=1)
    recon = L.nn.functional.fold(overl, (8, 8), 3, padding=1) / div
    (tokens.sum() + recon.pow(2).sum()).backward()
    return shp, tokens, L.equal(img, x), unf, recon, div, x.grad, patches.is_contiguous()



@program
def autocast_regions_named_by_device_strings(L):
    """torch.autocast as scripts write it for whatever device they were given: 'cpu:0' (the
    CPU's region: matmul in bfloat16), 'cuda' without CUDA (a warning, no region), 'mps',
    'xpu' and 'xla' (accepted, their own default dtypes, CPU tensors untouched), an unknown
    name and an empty string refused, 'meta' refused; is_autocast_available and
    get_autocast_dtype of each, and the state after every region."""
    a = L.tensor(normal32(2, 3, seed=40))
    out = []
    for name in ("cpu:0", "cuda", "mps", "xpu", "xla", "tpu", "", "meta"):

        def region():
            with L.autocast(name) as ctx:
                return ctx.device, ctx.fast_dtype, (a @ a.t()).dtype, \
                    L.is_autocast_enabled(name), L.is_autocast_enabled("cpu")

        got = err(region)
        out.append(region() if got == "no error" else got)
        out.append(err(lambda: (L.amp.is_autocast_available(name), L.get_autocast_dtype(name)))
                   if name in ("tpu", "", "meta") else
                   (L.amp.is_autocast_available(name), L.get_autocast_dtype(name)))
        out.append(L.is_autocast_enabled("cpu"))

    @L.autocast("cpu:0", dtype=L.bfloat16)
    def lowered(x):
        return x @ x.t()

    return out, lowered(a).dtype, lowered(a).float()


@program(words=["Weights only load failed",
                "WeightsUnpickler error: Unsupported global: GLOBAL "
                "numpy._core.multiarray.scalar was not an allowed global by default"])
def a_numpy_scalar_in_a_checkpoint_refused_by_weights_only(L):
    """A training checkpoint whose best metric is a numpy float64 (from a numpy metric):
    saved, then loaded with the default weights_only=True, which refuses the numpy global
    (the words of the refusal that name it); weights_only=False reads it back."""
    L.manual_seed(0)
    model = L.nn.Linear(2, 2)
    ckpt = {"model": model.state_dict(), "best": np.float64(0.25), "epoch": 3}
    buf = io.BytesIO()
    L.save(ckpt, buf)
    buf.seek(0)
    back = L.load(buf, weights_only=False)
    assert type(back["best"]) is np.float64 and back["epoch"] == 3
    buf.seek(0)
    return L.load(buf)



# ----------------------------------------------------------------------------------------------
# everyday mistakes and mixed precision training
# ----------------------------------------------------------------------------------------------


@program
def loss_refusals_users_meet_in_segmentation_and_detection(L):
    """The loss mistakes of vision code: int32 or float class targets, a class index past the
    classes or negative, a target batch of the wrong length or map shape, BCE targets of
    another shape (with and without logits), BCE of values outside [0, 1], an out-of-bounds
    NLL target, one_hot with too few classes, a negative class or float input, label smoothing
    above 1, probability targets of the wrong width, and an L1 target of another shape."""
    F = L.nn.functional
    x = L.tensor(normal32(4, 3, seed=1))
    return [err(f) for f in (
        lambda: F.cross_entropy(x, L.tensor([0, 1, 2, 1], dtype=L.int32)),
        lambda: F.cross_entropy(x, L.tensor([0.0, 1.0, 2.0, 1.0])),
        lambda: F.cross_entropy(x, L.tensor([0, 1, 5, 1])),
        lambda: F.cross_entropy(x, L.tensor([0, 1, -3, 1])),
        lambda: F.cross_entropy(x, L.tensor([0, 1, 2])),
        lambda: F.cross_entropy(x[None].permute(0, 2, 1), L.tensor([[0, 1, 2]])),
        lambda: F.binary_cross_entropy_with_logits(x[:, :1], L.ones(4)),
        lambda: F.binary_cross_entropy(x.sigmoid()[:, 0], L.ones(4, 1)),
        lambda: F.binary_cross_entropy(x, L.ones(4, 3)),
        lambda: F.nll_loss(x, L.tensor([0, 1, 2, 3])),
        lambda: F.one_hot(L.tensor([0, 3]), 3),
        lambda: F.one_hot(L.tensor([0, -1]), 3),
        lambda: F.one_hot(L.tensor([0.0, 1.0])),
        lambda: F.cross_entropy(x, L.tensor([0, 1, 2, 1]), label_smoothing=1.5),
        lambda: F.cross_entropy(x, x.softmax(1)[:, :2]),
        lambda: F.kl_div(x.log_softmax(1), x.softmax(1)),
        lambda: F.l1_loss(x, L.ones(3)),
    )]


@program
def a_cpu_autocast_training_step_through_norm_layers(L):
    """Two SGD steps of a small CNN (conv, batch norm, ReLU, max pool, grouped conv, group norm,
    SiLU, pooling, layer norm, dropout, linear) under CPU bfloat16 autocast: the dtype after
    every layer, the losses (to bfloat16 precision: the bfloat16 backward rounds by sums in
    another order), the float32 parameters' gradient dtypes and the running statistics."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1, groups=2),
                        nn.GroupNorm(2, 4), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.LayerNorm(4), nn.Dropout(0.0), nn.Linear(4, 3))
    load_seeded(L, net, seed=1)
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = L.tensor(normal32(4, 3, 6, 6, seed=2))
    y = L.tensor(labels(4, 3, 3))
    dts, losses = [], []
    for _ in range(2):
        opt.zero_grad()
        with L.autocast("cpu", dtype=L.bfloat16):
            h = x
            for mod in net:
                h = mod(h)
                dts.append(h.dtype)
            loss = F.cross_entropy(h, y)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return dts, [v.bfloat16().float() for v in losses], \
        [p.grad.dtype for p in net.parameters()], net[1].running_mean, net[1].running_var.dtype


@program
def bfloat16_activations_through_float32_norm_parameters(L):
    """batch_norm, layer_norm and group_norm of a bfloat16 input with float32 weight, bias and
    running statistics (as after an autocast conv): the output dtypes and values, and the
    running statistics updated in float32."""
    F = L.nn.functional
    x = L.tensor(normal32(2, 4, 3, 3, seed=1)).bfloat16()
    w = L.tensor(normal32(4, seed=2))
    b = L.tensor(normal32(4, seed=3))
    rm, rv = L.zeros(4), L.ones(4)
    bn = F.batch_norm(x, rm, rv, w, b, training=True)
    ln = err(lambda: F.layer_norm(x, (3,), w[:3], b[:3]))
    gn = err(lambda: F.group_norm(x, 2, w, b))
    lnv = F.layer_norm(x, (3,), w[:3], b[:3]) if ln == "no error" else None
    gnv = F.group_norm(x, 2, w, b) if gn == "no error" else None
    return bn.dtype, bn.float(), rm, rv, ln, gn, \
        None if lnv is None else (lnv.dtype, lnv.float()), \
        None if gnv is None else (gnv.dtype, gnv.float())


@program
def aspp_image_pooling_branch_and_a_batch_of_one(L):
    """DeepLab's ASPP: 1x1 and dilated 3x3 branches and an image-pooling branch (global pool,
    1x1 conv, batch norm, ReLU) upsampled bilinearly from 1x1 to the map's torch.Size; a batch
    of one refused in training (one value per channel in the batch norm), accepted in eval."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)

    class ASPP(nn.Module):
        def __init__(self, cin, c):
            super().__init__()
            self.branches = nn.ModuleList([nn.Conv2d(cin, c, 1, bias=False)] + [
                nn.Conv2d(cin, c, 3, padding=r, dilation=r, bias=False) for r in (2, 3)])
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, c, 1, bias=False),
                                      nn.BatchNorm2d(c), nn.ReLU())
            self.proj = nn.Conv2d(4 * c, c, 1)

        def forward(self, x):
            outs = [b(x) for b in self.branches]
            p = self.pool(x)
            outs.append(F.interpolate(p, size=x.shape[-2:], mode="bilinear", align_corners=False))
            return self.proj(L.cat(outs, 1))

    m = load_seeded(L, ASPP(3, 4).double(), seed=1)
    x = L.tensor(normal64(2, 3, 7, 6, seed=2), requires_grad=True)
    y = m(x)
    y.sum().backward()
    e = err(lambda: m(x[:1]))
    m.eval()
    return y, x.grad, e, m(x[:1]), m.pool[2].running_mean


@program
def unet_skip_alignment_by_pad_and_transposed_conv_output_size(L):
    """A U-Net decoder step: a stride-2 transposed conv padded (F.pad with the split difference)
    to the skip connection's odd size, negative padding as a crop, ConvTranspose2d with
    output_padding and an output_size (and one out of reach refused); PixelShuffle and
    pixel_unshuffle (a factor that does not divide refused)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    up = load_seeded(L, nn.ConvTranspose2d(4, 2, 2, stride=2).double(), seed=1)
    up2 = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1).double()
    up2 = load_seeded(L, up2, seed=2)
    x1 = L.tensor(normal64(1, 4, 3, 5, seed=3), requires_grad=True)
    skip = L.tensor(normal64(1, 2, 7, 9, seed=4))
    u = up(x1)
    dy, dx = skip.shape[2] - u.shape[2], skip.shape[3] - u.shape[3]
    u = F.pad(u, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
    crop = F.pad(skip, [-1, -1, -1, 0])
    cat = L.cat([u, skip], 1)
    u2 = up2(x1, output_size=[6, 10])
    e = err(lambda: up2(x1, output_size=[8, 12]))
    (cat.sum() + u2.sum()).backward()
    ps = nn.PixelShuffle(2)(L.tensor(normal64(1, 8, 2, 3, seed=5)))
    pu = F.pixel_unshuffle(ps, 2)
    return cat, crop, u2, x1.grad, e, ps, pu.shape, err(lambda: F.pixel_unshuffle(ps, 3))


@program
def legacy_spectral_norm_hooks_state_dict_and_removal(L):
    """The hook-based nn.utils.spectral_norm on a Conv2d after a seed: the weight_orig/u/v keys,
    output and weight_orig's gradient, u after the power iterations, its state dict loaded
    into a second one whose eval output agrees, remove_spectral_norm, the u shape of a
    ConvTranspose2d (dim 1), and the refusals of registering twice and removing twice."""
    nn = L.nn
    L.manual_seed(0)
    conv = load_seeded(L, nn.Conv2d(2, 3, 3).double(), seed=1)
    L.manual_seed(1)
    nn.utils.spectral_norm(conv, n_power_iterations=2)
    keys = sorted(conv.state_dict())
    x = L.tensor(normal64(1, 2, 5, 5, seed=2))
    y = conv(x)
    y.sum().backward()
    sd = conv.state_dict()
    L.manual_seed(0)
    conv2 = nn.utils.spectral_norm(nn.Conv2d(2, 3, 3).double())
    conv2.load_state_dict(sd)
    conv2.eval()
    y2 = conv2(x)
    nn.utils.remove_spectral_norm(conv2)
    ct = nn.utils.spectral_norm(nn.ConvTranspose2d(3, 2, 2).double())
    return keys, y, conv.weight_orig.grad, conv.weight_u, y2, sorted(conv2.state_dict()), \
        ct.weight_u.shape, \
        err(lambda: nn.utils.spectral_norm(conv)), err(lambda: nn.utils.remove_spectral_norm(conv2))


@program
def loader_flags_of_training_scripts_on_a_cpu(L):
    """DataLoader flags that training scripts pass on any machine: pin_memory=True without an
    accelerator (a warning, batches not pinned), prefetch_factor and persistent_workers
    without workers refused, negative num_workers and timeout refused, a worker_init_fn with
    no workers; the loader's batch size, drop_last and sampler classes."""
    D = L.utils.data
    ds = D.TensorDataset(L.arange(12.0).view(6, 2), L.arange(6))
    dl = D.DataLoader(ds, batch_size=4, pin_memory=True)
    b = next(iter(dl))
    e1 = err(lambda: D.DataLoader(ds, prefetch_factor=2))
    e2 = err(lambda: D.DataLoader(ds, persistent_workers=True))
    e3 = err(lambda: D.DataLoader(ds, num_workers=-1))
    e4 = err(lambda: D.DataLoader(ds, timeout=-1))
    dl2 = D.DataLoader(ds, batch_size=4, worker_init_fn=lambda i: None, drop_last=True)
    return b, b[0].is_pinned(), e1, e2, e3, e4, len(dl2), list(dl2), dl.batch_size, dl.drop_last, \
        type(dl.sampler).__name__, type(dl.batch_sampler).__name__


@program
def one_grad_scaler_for_a_generator_and_a_discriminator(L):
    """A GAN-style step with one GradScaler for two optimizers: the discriminator's scaled loss
    stepped by SGD (its step skipped when its gradient is NaN), the generator's unscaled with
    unscale_ before clipping and stepped by Adam, one update per iteration (the scale backs
    off, then grows with growth_interval 1); the weights of both, and a closure refused."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    g = load_seeded(L, nn.Linear(3, 4), seed=1)
    d = load_seeded(L, nn.Linear(4, 1), seed=2)
    og = L.optim.Adam(g.parameters(), lr=0.01)
    od = L.optim.SGD(d.parameters(), lr=0.1)
    sc = L.amp.GradScaler("cpu", init_scale=256.0, growth_interval=1)
    x = L.tensor(normal32(5, 3, seed=3))
    scales = []
    for i in range(3):
        og.zero_grad()
        od.zero_grad()
        fake = g(x)
        ld = F.binary_cross_entropy_with_logits(d(fake.detach()), L.zeros(5, 1))
        sc.scale(ld).backward()
        if i == 1:
            d.weight.grad.fill_(float("nan"))
        sc.step(od)
        lg = F.binary_cross_entropy_with_logits(d(fake), L.ones(5, 1))
        sc.scale(lg).backward()
        sc.unscale_(og)
        nn.utils.clip_grad_norm_(g.parameters(), 1.0)
        sc.step(og)
        sc.update()
        scales.append(sc.get_scale())
    e = err(lambda: sc.step(og, lambda: 0.0))
    return scales, dict(g.state_dict()), dict(d.state_dict()), e



@program
def random_init_of_an_integer_tensor_is_refused(L):
    """nn.init.normal_, uniform_, trunc_normal_, xavier_uniform_ and orthogonal_ of an integer
    tensor: PyTorch's random kernels refuse the dtype (NotImplementedError naming the kernel
    and the dtype); ones_ and zeros_ of integer and bool tensors fill them."""
    nn = L.nn
    return [err(lambda: nn.init.normal_(L.zeros(3, dtype=L.long))),
            err(lambda: nn.init.uniform_(L.zeros(3, dtype=L.int32))),
            err(lambda: nn.init.trunc_normal_(L.zeros(3, dtype=L.long))),
            err(lambda: nn.init.xavier_uniform_(L.zeros(3, 3, dtype=L.long))),
            err(lambda: nn.init.orthogonal_(L.zeros(3, 3, dtype=L.long))),
            nn.init.zeros_(L.ones(2, dtype=L.long)), nn.init.ones_(L.zeros(2, dtype=L.bool))]



@program
def the_legacy_lr_scheduler_base_is_a_subclass(L):
    """Code that checks for a scheduler with isinstance(s, lr_scheduler._LRScheduler) (older
    training frameworks): in PyTorch _LRScheduler is a subclass of LRScheduler, so the
    built-in schedulers and a user's LRScheduler subclass are not instances of it; one made
    from _LRScheduler is an instance of both."""
    S = L.optim.lr_scheduler
    opt = L.optim.SGD([L.zeros(1, requires_grad=True)], lr=0.1)

    class Mine(S._LRScheduler):
        def get_lr(self):
            return [0.5 * b for b in self.base_lrs]

    mine = Mine(opt)
    return S._LRScheduler is S.LRScheduler, issubclass(S._LRScheduler, S.LRScheduler), \
        isinstance(S.StepLR(opt, 2), S._LRScheduler), isinstance(mine, S.LRScheduler), \
        isinstance(mine, S._LRScheduler), mine.get_last_lr()


@program
def a_tiny_clip_with_vit_and_causal_text_towers(L):
    """A CLIP model end to end in float64: a ViT tower (patchify conv, class token broadcast by
    adding zeros, positional parameter, pre-norm TransformerEncoder without nested tensors,
    the class token projected) and a text tower (embeddings, a causal -inf mask buffer that is
    not persistent, the end token's feature picked by argmax of the ids); AdamW groups that
    exclude biases, norms and the logit scale from decay, clipping, the scale clamped; two
    steps' losses and norms and the final projections."""
    nn, F = L.nn, L.nn.functional

    class Vision(nn.Module):
        def __init__(self, d=8, p=4):
            super().__init__()
            self.patch = nn.Conv2d(3, d, p, stride=p, bias=False)
            self.cls = nn.Parameter(L.zeros(d))
            self.pos = nn.Parameter(L.zeros(1 + 4, d))
            self.ln_pre = nn.LayerNorm(d)
            layer = nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.proj = nn.Parameter(L.zeros(d, 6))

        def forward(self, x):
            x = self.patch(x).flatten(2).transpose(1, 2)
            cls = self.cls.to(x.dtype) + L.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
            x = L.cat([cls, x], dim=1) + self.pos
            x = self.enc(self.ln_pre(x))
            return x[:, 0] @ self.proj

    class Text(nn.Module):
        def __init__(self, v=10, d=8, n=5):
            super().__init__()
            self.tok = nn.Embedding(v, d)
            self.pos = nn.Parameter(L.zeros(n, d))
            layer = nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, batch_first=True,
                                               norm_first=True)
            self.enc = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
            self.ln = nn.LayerNorm(d)
            self.proj = nn.Linear(d, 6, bias=False)
            self.register_buffer("mask", L.empty(n, n).fill_(float("-inf")).triu_(1),
                                 persistent=False)

        def forward(self, t):
            x = self.tok(t) + self.pos
            x = self.ln(self.enc(x, mask=self.mask))
            return self.proj(x[L.arange(x.shape[0]), t.argmax(dim=-1)])

    L.manual_seed(0)
    vis, txt = Vision().double(), Text().double()
    load_seeded(L, vis, seed=1, scale=0.2)
    load_seeded(L, txt, seed=2, scale=0.2)
    scale = nn.Parameter(L.tensor(math.log(1 / 0.07), dtype=L.float64))
    decay, no_decay = [], []
    for mod in (vis, txt):
        for n, p in mod.named_parameters():
            (no_decay if p.ndim < 2 or "ln" in n or "norm" in n else decay).append(p)
    opt = L.optim.AdamW([{"params": decay, "weight_decay": 0.2},
                         {"params": no_decay + [scale], "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    img = L.tensor(normal64(3, 3, 8, 8, seed=3))
    tokens = L.tensor([[1, 4, 9, 0, 0], [2, 9, 0, 0, 0], [3, 5, 6, 9, 0]])
    losses = []
    for _ in range(2):
        fi = F.normalize(vis(img), dim=-1)
        ft = F.normalize(txt(tokens), dim=-1)
        logits = scale.exp() * fi @ ft.t()
        gt = L.arange(3)
        loss = (F.cross_entropy(logits, gt) + F.cross_entropy(logits.t(), gt)) / 2
        opt.zero_grad()
        loss.backward()
        n = nn.utils.clip_grad_norm_(list(vis.parameters()) + list(txt.parameters()), 1.0)
        opt.step()
        with L.no_grad():
            scale.clamp_(0, math.log(100))
        losses.append((loss.detach(), n))
    return losses, scale, vis.proj, txt.proj.weight, len(decay), len(no_decay)


_SLOW = set()
# programs that end in torch's exception (minigrad must raise the same, with its words)
_RAISING = {"a_numpy_scalar_in_a_checkpoint_refused_by_weights_only"}


# programs that wait on a fix in a file another change holds: {name: what is to be fixed}
def _marks(name):
    marks = [pytest.mark.slow] if name in _SLOW else []
    return marks


@pytest.mark.parametrize("fn", [pytest.param(f, marks=_marks(f.__name__)) for f in PROGRAMS],
                         ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    raised = HARNESS.check(fn, **fn.options)
    assert (raised is not None) == (fn.__name__ in _RAISING), raised
