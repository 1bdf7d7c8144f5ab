"""Tensor-manipulation idioms of third-party PyTorch code, run on minigrad and on torch.

Each ``program(lib)`` is a short piece of the kind found in detection, segmentation and
data-augmentation code (box IoU and NMS, anchors from meshgrid, one-hot masks, dice and focal
losses, confusion matrices from bincount, patch extraction, flips and pads), in einsum-heavy
attention code, or in the dtype, printing, shape and memory idioms of everyday scripts.  It
runs with ``lib`` = minigrad and ``lib`` = torch on the same numpy inputs; the two must give
the same values, dtypes and shapes, or raise the same exception type with torch's words in
the message, and emit the same kinds of warnings.
"""

import operator

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, registry, with_printoptions as _opts  # noqa: E402


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def _boxes(n, seed):
    r = np.random.RandomState(seed)
    xy = r.rand(n, 2) * 50
    return np.concatenate([xy, xy + r.rand(n, 2) * 30 + 1], 1).astype(np.float32)


HARNESS = SideBySide(tol={"float16": 1e-3, "float32": 1e-5, "float64": 1e-5},
                     # float16: PyTorch's number / tensor is number * reciprocal(tensor), an
                     # ulp apart
                     nan_scalars=False, tag=lambda v: type(v) is list)
_check = HARNESS.check
PROGRAMS, program = registry()


def _rn(*shape):
    return _rand(*shape, seed=sum(shape) * 7 + len(shape))


A4, B4, M1, M2 = _rn(2, 3, 4, 5), _rn(2, 3, 6, 5), _rn(3, 4), _rn(4, 5)
V1, V2, SQ = _rand(4, 3, seed=1), _rand(4, 3, seed=2), _rn(4, 4)


# ----------------------------------------------------------------------------------------------
# the programs
# ----------------------------------------------------------------------------------------------
@program
def iou(lib):
    a = lib.tensor(_boxes(5, 0))
    b = lib.tensor(_boxes(7, 1))
    # the overlap of box i of a with box j of b runs from the larger of the two top-left
    # corners to the smaller of the two bottom-right ones (empty when they cross)
    start = lib.max(a[:, None, :2], b[:, :2])
    stop = lib.min(a[:, None, 2:], b[:, 2:])
    extent = (stop - start).clamp(min=0)
    inter = extent[:, :, 0] * extent[:, :, 1]
    size_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    size_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iou = inter / (size_a[:, None] + size_b - inter)
    inter2 = (stop - start).clamp(min=0).prod(2)
    return dict(iou=iou, inter2=inter2, best=iou.max(dim=1), am=iou.argmax(0))


@program
def nms(lib):
    bx = lib.tensor(_boxes(30, 2))
    sc = lib.tensor(np.random.RandomState(3).rand(30).astype(np.float32))
    order = sc.sort(descending=True)[1]
    area = (bx[:, 2] - bx[:, 0]) * (bx[:, 3] - bx[:, 1])
    keep = []
    while order.numel() > 0:
        top, rest = order[0], order[1:]
        keep.append(top.item())
        if rest.numel() == 0:
            break
        # overlap of the kept box with every remaining one, coordinate by coordinate
        left = lib.maximum(bx[rest, 0], bx[top, 0])
        low = lib.maximum(bx[rest, 1], bx[top, 1])
        right = lib.minimum(bx[rest, 2], bx[top, 2])
        high = lib.minimum(bx[rest, 3], bx[top, 3])
        shared = (right - left).clamp(min=0) * (high - low).clamp(min=0)
        ratio = shared / (area[top] + area[rest] - shared)
        order = order[lib.where(ratio <= 0.3)[0] + 1]
    k = lib.tensor(keep, dtype=lib.long)
    nz = (sc > 0.5).nonzero(as_tuple=False)
    nz2 = (sc > 0.5).nonzero()
    sel = bx.index_select(0, nz.squeeze(1))
    m = bx[sc > 0.5]
    return dict(
        keep=k,
        nz=nz,
        nz2=nz2,
        sel=sel,
        m=m,
        arg=sc.argsort(descending=True),
        nzt=lib.nonzero(sc > 0.9, as_tuple=True),
    )


@program
def anchors(lib):
    sx = lib.arange(0, 4, dtype=lib.float32) * 8
    sy = lib.arange(0, 3, dtype=lib.float32) * 8
    yy, xx = lib.meshgrid(sy, sx, indexing="ij")
    xx2, yy2 = lib.meshgrid(sx, sy, indexing="xy")
    shifts = lib.stack((xx, yy, xx, yy), dim=-1).reshape(-1, 4)      # one row per cell
    base = lib.tensor([[-4.0, -4, 4, 4], [-8, -4, 8, 4]])            # one row per shape
    anchors = (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4)   # cell-major
    g = lib.stack(lib.meshgrid(lib.arange(2), lib.arange(3), indexing="ij"), 0)
    return dict(s=shifts, a=anchors, xx2=xx2, yy2=yy2, g=g)


@program
def meshgrid_default(lib):
    a, b = lib.meshgrid(lib.arange(3), lib.arange(2))
    return a, b


@program
def onehot(lib):
    lab = lib.tensor(np.array([0, 2, 1, 3, 2]))
    oh = lib.zeros(5, 4).scatter_(1, lab.unsqueeze(1), 1)
    oh2 = lib.zeros(5, 4, dtype=lib.long).scatter_(1, lab.unsqueeze(1), 1)
    seg = lib.tensor(np.random.RandomState(0).randint(0, 3, (2, 4, 5)))
    F = lib.nn.functional
    ohs = F.one_hot(seg, num_classes=3).permute(0, 3, 1, 2).float()
    oh3 = F.one_hot(lab)
    return dict(
        oh=oh, oh2=oh2, ohs=ohs, oh3=oh3, sc=lib.zeros(2, 3).scatter(1, lib.tensor([[1], [2]]), 2.5)
    )


@program
def onehot_err(lib):
    return lib.nn.functional.one_hot(lib.tensor([0, 5]), 3)


@program
def onehot_float_err(lib):
    return lib.nn.functional.one_hot(lib.tensor([0.0, 1]), 3)


@program
def dice_focal(lib):
    r = np.random.RandomState(4)
    logits = lib.tensor(r.randn(2, 3, 4, 4).astype(np.float32), requires_grad=True)
    tgt = lib.tensor(r.randint(0, 3, (2, 4, 4)))
    F = lib.nn.functional
    p = logits.softmax(dim=1)
    oh = F.one_hot(tgt, 3).permute(0, 3, 1, 2).float()
    inter = (p * oh).sum(dim=(2, 3))
    card = p.sum(dim=(2, 3)) + oh.sum(dim=(2, 3))
    dice = 1 - (2 * inter + 1e-6) / (card + 1e-6)
    ce = F.cross_entropy(logits, tgt, reduction="none")
    pt = lib.exp(-ce)
    focal = ((1 - pt) ** 2 * ce).mean()
    bce_logits = lib.tensor(r.randn(6).astype(np.float32), requires_grad=True)
    bt = lib.tensor(r.randint(0, 2, 6).astype(np.float32))
    # binary focal loss: the probability given to the true label, its per-label weight
    # (0.25 for positives, 0.75 for negatives), and BCE scaled down where it is confident
    prob = lib.sigmoid(bce_logits)
    right = prob * bt + (1 - prob) * (1 - bt)
    weight = 0.25 * bt + 0.75 * (1 - bt)
    fl = (weight * F.binary_cross_entropy_with_logits(bce_logits, bt, reduction="none")
          * (1 - right) ** 2).sum()
    loss = dice.mean() + focal + fl
    loss.backward()
    return dict(loss=loss, g=logits.grad, g2=bce_logits.grad)


@program
def confmat(lib):
    r = np.random.RandomState(5)
    pred = lib.tensor(r.randint(0, 4, 100))
    tgt = lib.tensor(r.randint(0, 4, 100))
    n = 4
    cm = lib.bincount(n * tgt + pred, minlength=n * n).reshape(n, n)
    iou = lib.diag(cm) / (cm.sum(0) + cm.sum(1) - lib.diag(cm))
    acc = lib.diag(cm).sum().item() / cm.sum().item()
    w = lib.bincount(tgt, weights=lib.ones(100) * 0.5)
    w2 = lib.bincount(tgt, weights=lib.ones(100, dtype=lib.float64))
    return dict(
        cm=cm,
        iou=iou,
        acc=acc,
        miou=iou.nanmean(),
        w=w,
        w2=w2,
        e=lib.bincount(lib.tensor([], dtype=lib.long)),
    )


@program
def bincount_err(lib):
    return lib.bincount(lib.tensor([1, -1]))


@program
def patches(lib):
    x = lib.tensor(np.arange(2 * 3 * 8 * 8, dtype=np.float32).reshape(2, 3, 8, 8))
    p = x.unfold(2, 4, 4).unfold(3, 4, 4)
    p2 = p.contiguous().view(2, 3, -1, 4, 4).permute(0, 2, 1, 3, 4)
    F = lib.nn.functional
    u = F.unfold(x, kernel_size=3, stride=2, padding=1)
    f = F.fold(u, output_size=(8, 8), kernel_size=3, stride=2, padding=1)
    ones = F.fold(F.unfold(lib.ones_like(x), 3, padding=1), (8, 8), 3, padding=1)
    u2 = F.unfold(x, (2, 4), dilation=(1, 2), stride=(3, 1))
    return dict(p=p, p2=p2, u=u, f=f, ones=ones, u2=u2, st=p.stride(), sh=p.shape)


@program
def augment(lib):
    x = lib.tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5))
    F = lib.nn.functional
    return dict(
        f=lib.flip(x, dims=[3]),
        f2=x.flip(-1, -2),
        r=lib.roll(x, shifts=(1, -2), dims=(2, 3)),
        r0=lib.roll(x, 3),
        rot=lib.rot90(x, 1, [2, 3]),
        rot2=lib.rot90(x, -1, (2, 3)),
        rot3=x.rot90(2, [3, 2]),
        pr=F.pad(x, (2, 2, 1, 1), mode="reflect"),
        pp=F.pad(x, (1, 2, 3, 0), mode="replicate"),
        pc=F.pad(x, (1, 1, 1, 1), mode="circular"),
        pz=F.pad(x, (1, 1), value=-1.0),
        crop=x[..., 1:3, 2:5],
        fl=x.fliplr() if x.dim() == 2 else x[0, 0].fliplr(),
        fu=x[0, 0].flipud(),
        neg=F.pad(x, (-1, -1, 0, 0)),
    )


@program
def pad_err(lib):
    x = lib.zeros(1, 1, 2, 2)
    return lib.nn.functional.pad(x, (3, 3, 3, 3), mode="reflect")


@program
def einsum(lib):
    q = lib.tensor(A4, requires_grad=True)
    k = lib.tensor(B4)
    s = lib.einsum("bhqd,bhkd->bhqk", q, k)
    s.sum().backward()
    a, b = lib.tensor(M1), lib.tensor(M2)
    sq = lib.tensor(SQ)
    return dict(
        s=s,
        g=q.grad,
        mm=lib.einsum("ij,jk->ik", a, b),
        dot=lib.einsum("bi,bi->b", lib.tensor(V1), lib.tensor(V2)),
        tr=lib.einsum("ii->", sq),
        diag=lib.einsum("ii->i", sq),
        tt=lib.einsum("...ij->...ji", lib.tensor(A4)),
        ell=lib.einsum("...ij,...jk->...ik", lib.tensor(_rn(2, 1, 3, 4)), lib.tensor(_rn(5, 4, 2))),
        rep=lib.einsum("i,i,i->", lib.tensor(V1[:, 0]), lib.tensor(V1[:, 0]), lib.tensor(V1[:, 1])),
        outer=lib.einsum("i,j->ij", lib.tensor(V1[:, 0]), lib.tensor(V2[:, 1])),
        lst=lib.einsum("ij,jk", [a, b]),
        implicit=lib.einsum("ij,jk", a, b),
        sp=lib.einsum("i j , j k -> i k", a, b),
        bil=lib.einsum(
            "bn,anm,bm->ba", lib.tensor(_rn(2, 3)), lib.tensor(_rn(4, 3, 5)), lib.tensor(_rn(2, 5))
        ),
        sum_all=lib.einsum("ijk->", lib.tensor(A4[0])),
        perm=lib.einsum("abc->cab", lib.tensor(A4[0])),
        dbl=lib.einsum("ij,ij->", a, a),
        int=lib.einsum("ij,jk->ik", lib.arange(6).view(2, 3), lib.arange(6).view(3, 2)),
        sub=lib.einsum(lib.tensor(M1), [0, 1], lib.tensor(M2), [1, 2], [0, 2]),
    )


@program
def einsum_err1(lib):
    return lib.einsum("ij,jk->ik", lib.zeros(2, 3), lib.zeros(4, 5))


@program
def einsum_err2(lib):
    return lib.einsum("ij->ik", lib.zeros(2, 3))


@program
def einsum_err3(lib):
    return lib.einsum("ijk->", lib.zeros(2, 3))


@program
def einsum_err4(lib):
    return lib.einsum("ij,jk->ik", lib.zeros(2, 3))


@program
def gather_scatter(lib):
    x = lib.tensor(_rn(3, 5), requires_grad=True)
    idx = lib.tensor(np.array([[0, 4], [2, 2], [1, 3]]))
    g = x.gather(1, idx)
    logp = x.log_softmax(-1)
    nll = -logp.gather(1, lib.tensor([[1], [0], [4]])).squeeze(1)
    (g.sum() + nll.sum()).backward()
    out = lib.zeros(3, 5).scatter_add_(1, idx, lib.ones(3, 2))
    src = lib.arange(1.0, 7).view(2, 3)
    ia = lib.zeros(5).index_add_(0, lib.tensor([0, 4, 0]), lib.tensor([1.0, 2, 3]))
    ia2 = lib.zeros(3, 2).index_add_(0, lib.tensor([2, 0]), lib.ones(2, 2), alpha=2)
    ip = lib.zeros(4).index_put_((lib.tensor([0, 0, 3]),), lib.tensor([1.0, 2, 3]), accumulate=True)
    ip2 = lib.zeros(2, 2).index_put_((lib.tensor([0, 1]), lib.tensor([1, 1])), lib.tensor(5.0))
    ip3 = lib.zeros(4, dtype=lib.long)
    ip3.index_put_([lib.tensor([1, 1])], lib.tensor(1), accumulate=True)
    ms = lib.zeros(2, 3).masked_scatter(
        lib.tensor([[True, False, True], [False, True, False]]), src
    )
    ms2 = lib.zeros(2, 3).masked_scatter_(lib.tensor([True, False, True]), src)
    sr = lib.zeros(3).scatter_reduce(
        0, lib.tensor([0, 0, 2, 1]), lib.tensor([1.0, 5, 2, 3]), reduce="amax", include_self=False
    )
    sr2 = lib.ones(3).scatter_reduce(
        0, lib.tensor([0, 0, 2]), lib.tensor([2.0, 5, 2]), reduce="mean"
    )
    sc = lib.zeros(2, 4).scatter_(1, lib.tensor([[1, 2], [0, 3]]), 7.0, reduce="add")
    return dict(
        g=g,
        grad=x.grad,
        out=out,
        ia=ia,
        ia2=ia2,
        ip=ip,
        ip2=ip2,
        ip3=ip3,
        ms=ms,
        ms2=ms2,
        sr=sr,
        sr2=sr2,
        sc=sc,
    )


@program
def gather_err(lib):
    return lib.zeros(3, 4).gather(1, lib.tensor([[5]]))


@program
def gather_dtype(lib):
    return lib.zeros(3, 4).gather(1, lib.tensor([[1]], dtype=lib.int32))


@program
def scatter_err(lib):
    return lib.zeros(3).scatter_(0, lib.tensor([3]), 1.0)


@program
def index_add_dtype_err(lib):
    return lib.zeros(3).index_add_(0, lib.tensor([0]), lib.ones(1, dtype=lib.float64))


@program
def repeat_interleave(lib):
    x = lib.tensor([[1, 2], [3, 4]])
    return dict(
        a=x.repeat_interleave(2),
        b=x.repeat_interleave(lib.tensor([1, 2]), dim=0),
        c=lib.repeat_interleave(lib.tensor([2, 0, 3])),
        d=x.repeat_interleave(3, dim=1),
        e=lib.repeat_interleave(x, lib.tensor([2]), dim=0),
        f=lib.tensor([1.0, 2]).repeat_interleave(lib.tensor([0, 0])),
        g=x.repeat_interleave(lib.tensor(2), dim=1),
        h=x.repeat(2, 1, 3),
    )


@program
def unique(lib):
    x = lib.tensor([3, 1, 2, 3, 1, 1, 5])
    u, inv, cnt = lib.unique(x, return_inverse=True, return_counts=True)
    u2 = lib.unique(x, sorted=True)
    m = lib.tensor([[1, 2], [3, 4], [1, 2], [0, 9]])
    ud, invd, cd = lib.unique(m, dim=0, return_inverse=True, return_counts=True)
    uc, ic, cc = lib.unique_consecutive(
        lib.tensor([1, 1, 2, 2, 3, 1, 1]), return_inverse=True, return_counts=True
    )
    ucd = lib.unique_consecutive(m, dim=0)
    u1 = lib.unique(m, dim=1)
    uf = lib.unique(lib.tensor([1.0, float("nan"), 1.0, 2.0]))
    return dict(
        u=u,
        inv=inv,
        cnt=cnt,
        u2=u2,
        ud=ud,
        invd=invd,
        cd=cd,
        uc=uc,
        ic=ic,
        cc=cc,
        ucd=ucd,
        u1=u1,
        m2=m.unique(return_counts=True),
        b=lib.tensor([True, False, True]).unique(),
        uf=uf.shape,
    )


@program
def cumsum_bool(lib):
    b = lib.tensor([True, False, True, True])
    x = lib.tensor([1, 2, 3], dtype=lib.int32)
    u = lib.tensor([200, 100], dtype=lib.uint8)
    return dict(
        a=b.cumsum(0),
        b=lib.cumsum(b, dim=0, dtype=lib.float32),
        c=x.cumsum(0),
        d=x.cumprod(0),
        e=u.cumsum(0),
        f=b.sum(),
        g=x.sum(),
        h=u.sum(),
        i=x.prod(),
        j=b.prod(),
        k=lib.tensor([1.0, 2]).cumsum(0, dtype=lib.float64),
        l=lib.cummax(lib.tensor([1, 3, 2, 5]), 0),
        m=lib.logcumsumexp(lib.tensor([0.0, 1, 2]), 0),
        n=x.mean(dtype=lib.float32),
        o=b.float().mean(),
    )


@program
def mean_int_err(lib):
    return lib.tensor([1, 2]).mean()


@program
def search(lib):
    bd = lib.tensor([1.0, 3, 5, 7])
    v = lib.tensor([[0.0, 3, 6], [7, 8, 1]])
    return dict(
        a=lib.searchsorted(bd, v),
        b=lib.searchsorted(bd, v, right=True),
        c=lib.bucketize(v, bd),
        d=lib.bucketize(v, bd, right=True),
        e=lib.searchsorted(bd, lib.tensor(4.0)),
        f=lib.searchsorted(bd, 4.0),
        g=lib.searchsorted(bd, v, out_int32=True),
        h=lib.bucketize(3, bd),
        i=lib.searchsorted(bd, v, side="right"),
        j=lib.searchsorted(lib.tensor([[1, 2, 3], [2, 4, 6]]), lib.tensor([[2], [5]])),
        k=lib.searchsorted(
            lib.tensor([5.0, 1, 3]), lib.tensor([2.0, 4]), sorter=lib.tensor([1, 2, 0])
        ),
    )


@program
def histc(lib):
    x = lib.tensor([1.0, 2, 1, 4, 2.5, 0, 5])
    return dict(
        a=lib.histc(x, bins=4, min=0, max=4),
        b=lib.histc(x, bins=5),
        c=x.histc(3, 1, 1),
        d=lib.histogram(x, bins=3),
        e=lib.histc(lib.tensor([2.0, 2]), 4),
    )


@program
def histc_int_err(lib):
    return lib.histc(lib.tensor([1, 2]), bins=2)


@program
def sortlike(lib):
    x = lib.tensor([3.0, 1, 3, 2, 1, 3])
    m = lib.tensor([[2.0, 5, 5, 1], [4, 4, 0, 4]])
    return dict(
        tk2=x.topk(3, largest=False),
        st=x.sort(stable=True),
        st2=lib.sort(x, descending=True, stable=True),
        kv=lib.kthvalue(x, 3),
        kv2=m.kthvalue(2, dim=1, keepdim=True),
        med=x.median(),
        med2=lib.median(m, dim=1),
        med3=lib.tensor([1.0, 4, 2, 3]).median(),
        nmed=lib.tensor([1.0, float("nan"), 2]).nanmedian(),
        med4=lib.tensor([1.0, float("nan"), 2]).median(),
        mode=lib.mode(lib.tensor([1, 2, 2, 3, 3])),
        mode2=lib.tensor([[1, 1, 2], [3, 2, 2]]).mode(1),
        amx=lib.tensor([1, 3, 3, 2]).argmax(),
        amn=lib.tensor([[1, 0, 0]]).argmin(1),
        mx=m.max(1, keepdim=True),
        srt_int=lib.tensor([3, 1, 2]).sort(),
        msort=lib.msort(m),
        ast=lib.argsort(x, stable=True, descending=True),
        mnmx=lib.aminmax(m),
        mxall=m.max(),
        minb=lib.tensor([True, False]).min(),
    )


@program
def topk_err(lib):
    return lib.tensor([1.0, 2]).topk(3)


@program
def kth_err(lib):
    return lib.tensor([1.0, 2]).kthvalue(0)


@program
def casts(lib):
    x = lib.tensor([1.7, -2.3, 0.0, 3.5])
    return dict(
        f=x.long(),
        i=x.int(),
        b=x.bool(),
        h=x.half(),
        d=x.double(),
        t=x.type(lib.float64),
        ts=x.type(),
        tsl=x.long().type(),
        tb=x.bool().type(),
        th=x.half().type(),
        tstr=x.type("torch.IntTensor"),
        to=x.to(lib.tensor([1], dtype=lib.int16)),
        to2=x.to(lib.int8),
        to3=x.to("cpu", lib.float64),
        u8=x.abs().to(lib.uint8),
        c=x.char(),
        s=x.short(),
        byte=x.abs().byte(),
        ist=x.is_floating_point(),
        isc=x.is_complex(),
        dt=x.dtype,
        dt2=x.long().dtype,
        same=x.type_as(lib.tensor([1], dtype=lib.int32)),
    )


@program
def new_like(lib):
    x = lib.tensor([[1, 2], [3, 4]], dtype=lib.int32)
    f = lib.tensor([1.5])
    return dict(
        nz=x.new_zeros(3),
        nz2=x.new_zeros((2, 3), dtype=lib.float32),
        nf=x.new_full((2,), 7),
        nf2=f.new_full((2,), 7),
        nt=x.new_tensor([1.5, 2.5]),
        nt2=f.new_tensor([1, 2]),
        nt3=f.new_tensor([[True]]),
        no=f.new_ones(2, 1),
        ne=x.new_empty(0).shape,
        zl=lib.zeros_like(x, dtype=lib.float64),
        ol=lib.ones_like(f, dtype=lib.long),
        fl=lib.full_like(x, 2.7),
        fl2=lib.full_like(f, 3),
        el=lib.empty_like(x).shape,
        rl=lib.rand_like(f).shape,
        full=lib.full((2,), 3),
        full2=lib.full((2,), 3.0),
        full3=lib.full((2,), True),
        ar=lib.arange(5),
        ar2=lib.arange(0, 1, 0.25),
        ar3=lib.arange(1, 4, dtype=lib.float32),
        ls=lib.linspace(0, 1, 5),
        lg=lib.logspace(0, 2, 3),
        ey=lib.eye(2, 3),
        ar4=lib.arange(0.0, 5),
        ar5=lib.arange(5.5),
    )


@program
def promotion(lib):
    i = lib.tensor([-7, 5, 3])
    u = lib.tensor([250, 3], dtype=lib.uint8)
    b = lib.tensor([True, False])
    f16 = lib.tensor([1.5], dtype=lib.float16)
    i32 = lib.tensor([3], dtype=lib.int32)
    return dict(
        a=i * 2.5,
        b=i / 2,
        c=i // 2,
        d=i % 3,
        e=i // -2,
        f=i % -3,
        g=b + b,
        h=u + 10,
        hh=u * 2,
        k=u - 251,
        l=b * 2,
        m=b * 2.5,
        n=f16 * 2.5,
        o=f16 + i32,
        p=i32 * 1000,
        q=i32 / i32,
        r=i.float() // 2,
        s=lib.tensor([-7.5]) % 2,
        t=lib.fmod(i, 3),
        t2=lib.remainder(i, 3),
        v=i**2,
        w=2 ** i.abs(),
        x=i32 + lib.tensor(2),
        y=i32 + lib.tensor(2.0),
        z=f16 + lib.tensor(2.0),
        aa=lib.tensor(3) * lib.tensor([1.5], dtype=lib.float16),
        bb=b & True,
        cc=~b,
        dd=-i,
        ee=i.abs(),
        ff=lib.true_divide(i, 2),
        gg=lib.div(i, 2, rounding_mode="floor"),
        hh2=lib.div(i, 2, rounding_mode="trunc"),
        ii=i.sum() / 2,
        jj=u.sum(),
        kk=(u > 100).sum(),
        ll=lib.result_type(i, 2.5),
        mm=lib.promote_types(lib.int32, lib.float16),
        nn=lib.can_cast(lib.float32, lib.int32),
        oo=i * True,
        pp=b.sum(dtype=lib.int32),
        qq=i.float().pow(2),
        rr=1 - b.float(),
        ss=i32 << 2,
        tt=i.to(lib.int8) * 30,
    )


@program
def neg_bool_err(lib):
    return -lib.tensor([True])


@program
def sub_bool_err(lib):
    return lib.tensor([True]) - lib.tensor([False])


@program
def floordiv_zero_err(lib):
    return lib.tensor([1]) // 0


@program
def int_pow_neg_err(lib):
    return lib.tensor([2]) ** -1


@program
def tensor_ctor(lib):
    r = np.random.RandomState(0)
    ro = np.arange(6.0).reshape(2, 3)
    ro.setflags(write=False)
    neg = np.arange(10)[::-2].copy()
    return dict(
        a=lib.tensor([[1, 2.5], [True, 0]]),
        b=lib.tensor([1, True]),
        c=lib.tensor([True, False]),
        d=lib.tensor([lib.tensor(1.5), lib.tensor(2.0)]),
        e=lib.tensor([lib.tensor(1), 2]),
        f=lib.tensor(np.array([1, 2], dtype=np.int32)),
        g=lib.tensor(np.float64(2.5)),
        h=lib.tensor(np.array([1.0, 2], dtype=np.float16)),
        i=lib.tensor(np.array([1, 2], dtype=np.uint8)),
        j=lib.tensor(np.array([True])),
        k=lib.tensor(ro),
        l=lib.tensor(neg),
        m=lib.as_tensor(neg.copy()),
        n=lib.tensor(3),
        o=lib.tensor(3.0),
        p=lib.tensor([]),
        q=lib.tensor([[]]),
        s=lib.tensor(2**40),
        t=lib.tensor([1.5], dtype=lib.int64),
        u=lib.tensor([[1, 2], [3, 4]], dtype=lib.float16),
        v=lib.tensor(r.rand(2).astype(np.float32)).dtype,
        w=lib.tensor([np.float32(1.5), 2]),
        x=lib.tensor(np.int64(7)),
        y=lib.tensor((1, 2, 3)),
        z=lib.as_tensor([1, 2], dtype=lib.float32),
        aa=lib.tensor(range(4)),
        bb=lib.tensor([[np.int32(1)]]),
        cc=lib.tensor(np.array(5.0)),
        dd=lib.Tensor([1, 2]),
        ee=lib.Tensor(2, 3).shape,
    )


@program
def ragged_err(lib):
    return lib.tensor([[1, 2], [3]])


@program
def str_err(lib):
    return lib.tensor(["a"])


@program
def tensor_of_tensors_err(lib):
    return lib.tensor([lib.tensor([1, 2]), lib.tensor([3])])


@program
def numpy_sharing(lib):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = lib.from_numpy(a)
    a[0, 0] = 100
    t[1, 1] = -5
    n = t.numpy()
    n[0, 2] = 42
    t2 = lib.as_tensor(a)
    a[1, 2] = 7
    t3 = lib.tensor(a)
    a[1, 0] = 9
    c = lib.ones(3)
    cn = c.numpy()
    c.add_(1)
    ii = lib.from_numpy(np.array([1, 2], dtype=np.int16))
    return dict(
        a=a.copy(),
        t=t,
        t2=t2,
        t3=t3,
        cn=cn.copy(),
        ii=ii,
        tl=t.tolist(),
        it=t[0, 0].item(),
        iti=ii[0].item(),
        bl=lib.tensor([True]).item(),
        tl0=lib.tensor(3).tolist(),
        tle=lib.zeros(0, 2).tolist(),
        types=[
            type(v).__name__
            for v in lib.tensor([1, 2]).tolist()
            + lib.tensor([1.0]).tolist()
            + lib.tensor([True]).tolist()
        ],
        f=float(lib.tensor([2.5])),
        i=int(lib.tensor(3.9)),
        idx=[10, 20, 30][lib.tensor(1)],
        bo=bool(lib.tensor([0.0])),
    )


@program
def item_err(lib):
    return lib.tensor([1, 2]).item()


@program
def bool_err(lib):
    return bool(lib.tensor([1, 2]))


@program
def numpy_grad_err(lib):
    return lib.ones(2, requires_grad=True).numpy()


@program
def from_numpy_list_err(lib):
    return lib.from_numpy([1, 2])


@program
def index_float_err(lib):
    return [1, 2][lib.tensor(1.0)]


@program
def nan_cmp(lib):
    nan = float("nan")
    x = lib.tensor([1.0, nan, 3.0, float("inf")])
    y = lib.tensor([1.0, nan, 2.9999, float("inf")])
    return dict(
        eq=x == y,
        ne=x != y,
        lt=x < 2,
        ge=x >= nan,
        mx=lib.maximum(x, y),
        fm=lib.fmax(x, y),
        mx2=x.max(),
        amx=x.argmax(),
        ic=lib.isclose(x, y),
        ic2=lib.isclose(x, y, equal_nan=True),
        ic3=lib.isclose(x, y, rtol=0, atol=1e-3),
        ac=lib.allclose(x, y),
        ac2=lib.allclose(x, x, equal_nan=True),
        ac3=lib.allclose(x[[0, 3]], y[[0, 3]]),
        isn=x.isnan(),
        isf=x.isfinite(),
        isi=x.isinf(),
        nn=lib.nan_to_num(x),
        nn2=lib.nan_to_num(x, nan=0.0, posinf=9.0),
        eqq=lib.equal(x, x),
        eqq2=lib.equal(x[[0]], y[[0]]),
        srt=x.sort(),
        cl=x.clamp(0, 2),
        sgn=x.sign(),
        ns=x.nansum(),
        icint=lib.isclose(lib.tensor([1, 2]), lib.tensor([1, 3])),
        mn=lib.min(x),
        any=(x > 2).any(),
        all=(x > 0).all(),
    )


@program
def isclose_dtype_err(lib):
    return lib.isclose(lib.tensor([1.0]), lib.tensor([1.0], dtype=lib.float64))


@program
def finfo(lib):
    f = lib.finfo(lib.float32)
    h = lib.finfo(lib.float16)
    d = lib.finfo()
    i = lib.iinfo(lib.int32)
    u = lib.iinfo(lib.uint8)
    return dict(
        feps=f.eps,
        fmax=f.max,
        fmin=f.min,
        ftiny=f.tiny,
        fsn=f.smallest_normal,
        fres=f.resolution,
        fbits=f.bits,
        fdt=f.dtype,
        heps=h.eps,
        hmax=h.max,
        deps=d.eps,
        ddt=d.dtype,
        imax=i.max,
        imin=i.min,
        ibits=i.bits,
        idt=i.dtype,
        umax=u.max,
        umin=u.min,
        types=[type(f.eps).__name__, type(i.max).__name__],
        neg=lib.tensor([1.0], dtype=lib.float16).clamp(min=lib.finfo(lib.float16).min),
        ii64=lib.iinfo(lib.int64).max,
    )


@program
def neg_stride_err(lib):
    return lib.tensor(np.arange(10)[::-2])


@program
def neg_stride2_err(lib):
    return lib.from_numpy(np.arange(6).reshape(2, 3)[:, ::-1])


@program
def print(lib):
    x = lib.tensor(np.linspace(-3, 3, 7, dtype=np.float32))
    big = lib.tensor(np.arange(2000, dtype=np.float32).reshape(40, 50) / 7)
    return dict(
        i=repr(lib.tensor([1, -20, 300])),
        b=repr(lib.tensor([True, False])),
        f=repr(x),
        z=repr(lib.tensor(2.5)),
        zi=repr(lib.tensor(7)),
        e=repr(lib.zeros(0)),
        e2=repr(lib.zeros(2, 0, dtype=lib.int64)),
        s=str(x),
        big=repr(big),
        bigi=repr(lib.arange(5000)),
        l=repr(lib.tensor([1e10, 1.0])),
        sm=repr(lib.tensor([1e-5, 1.0])),
        nan=repr(lib.tensor([float("nan"), float("inf"), -1.5])),
        half=repr(lib.tensor([1.5, 2], dtype=lib.float16)),
        dbl=repr(lib.tensor([1.5, 2], dtype=lib.float64)),
        i32=repr(lib.tensor([1, 2], dtype=lib.int32)),
        u8=repr(lib.tensor([1, 2], dtype=lib.uint8)),
        grad=repr(lib.ones(2, requires_grad=True)),
        gfn=repr(lib.ones(2, requires_grad=True) * 2),
        prec=_opts(lib, lambda: repr(x / 3), precision=2),
        sci=_opts(lib, lambda: repr(lib.tensor([1e-8, 1e5, 3.0])), sci_mode=False),
        thr=_opts(lib, lambda: repr(lib.arange(20.0)), threshold=5, edgeitems=2),
        lw=_opts(lib, lambda: repr(lib.arange(30.0)), linewidth=40),
        after=repr(x / 3),
        ints_as_float=repr(lib.tensor([1.0, 2.0, 3.0])),
        neg0=repr(lib.tensor([-0.0, 0.0])),
        mix=repr(lib.tensor([[1.123456, 100.5], [-0.001, 12345.678]])),
        b3=repr(lib.zeros(2, 2, 2)),
        ldbl=repr(lib.tensor([1 / 3], dtype=lib.float64)),
        size=repr(lib.zeros(2, 3).shape),
        dt=repr(lib.float32),
        dev=repr(lib.zeros(1).device),
        fmt=f"{lib.tensor(2.5):.2f}",
        fmt2=f"{lib.tensor(3)}",
        empty3=repr(lib.zeros(0, 3)),
    )


@program
def fmt_err(lib):
    return f"{lib.tensor([2.5, 1]):.2f}"


@program
def size(lib):
    s = lib.zeros(2, 3, 4).shape
    return dict(
        a=s == (2, 3, 4),
        b=s[1:],
        c=s + (5,),
        d=(1,) + s,
        e=s.numel(),
        f=list(s),
        g=s[-1],
        h=lib.Size([2, 3]) == [2, 3],
        i=lib.Size([2, 3]),
        j=s[::-1],
        k=len(s),
        l=tuple(s) * 2,
        m=lib.zeros(s[1:]).shape,
        n=s.index(3),
        o=s.count(2),
        p=str(s),
        q=lib.Size(),
        r=lib.zeros(*s).size(),
        t=lib.zeros(s).size(-1),
        u=type(s[1:]).__name__,
        v=type(s + (1,)).__name__,
        w=lib.zeros(2, 3).size(dim=1),
        x=hash(s) == hash((2, 3, 4)),
        y=s != (2, 3),
        z=lib.Size((1, 2)) < (1, 3),
    )


@program
def size_err(lib):
    return lib.zeros(2, 3).size(2)


@program
def kwargs(lib):
    x = lib.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    i = lib.tensor([[1, 2], [3, 4]], dtype=lib.int32)
    return dict(
        a=x.sum(dim=1, keepdim=True),
        b=x.mean(dim=(0, 2)),
        c=x.sum(-1, dtype=lib.float64),
        d=lib.cumsum(x, dim=2),
        e=x.prod(1),
        f=x.prod(dim=0, keepdim=True),
        g=i.prod(),
        h=i.sum(1),
        i=i.cumsum(1, dtype=lib.int64),
        j=i.sum(dtype=lib.float32),
        k=x.sum((0, 1)),
        l=x.mean(-1, True),
        m=lib.sum(x, [0, 2]),
        n=x.std(1),
        o=x.var(dim=1, unbiased=False),
        p=x.std(dim=1, correction=0),
        q=x.amax((0, 1)),
        r=x.norm(dim=1),
        s=x.logsumexp(dim=2),
        t=x.sum(dim=()),
        u=x.mean(),
        v=i.prod(1, dtype=lib.float64),
        w=lib.count_nonzero(x, dim=1),
        y=x.max(dim=2).values,
        z=lib.nansum(x, dim=0),
    )


@program
def out(lib):
    x = lib.tensor([1.0, 2, 3])
    y = lib.tensor([4.0, 5, 6])
    out = lib.empty(3)
    r = lib.add(x, y, out=out)
    o2 = lib.zeros(2, 2)
    lib.matmul(lib.eye(2), lib.ones(2, 2), out=o2)
    o3 = lib.empty(0)
    lib.cat([x, y], out=o3)
    o4 = lib.empty(3, dtype=lib.int64)
    lib.argmax(lib.ones(3, 3), dim=1, out=o4)
    o5 = lib.empty(2, 3)
    lib.stack([x, y], out=o5)
    o6 = lib.zeros(5)
    lib.mul(x, 2, out=o6[1:4])
    vals, idx = lib.empty(3), lib.empty(3, dtype=lib.long)
    lib.sort(lib.tensor([3.0, 1, 2]), out=(vals, idx))
    o7 = lib.empty(3)
    lib.sum(lib.ones(3, 4), 1, out=o7)
    return dict(
        r=r, same=r is out, out=out, o2=o2, o3=o3, o4=o4, o5=o5, o6=o6, vals=vals, idx=idx, o7=o7
    )


@program
def out_dtype_err(lib):
    return lib.add(lib.tensor([1.0, 2]), 1, out=lib.empty(2, dtype=lib.long))


@program
def out_resize_warn(lib):
    o = lib.zeros(2)
    lib.add(lib.ones(3), 1, out=o)
    return o


@program
def inplace_views(lib):
    x = lib.zeros(3, 4)
    x[:, 0].add_(1)
    x[1].mul_(0).add_(2)
    x.t_()
    y = lib.arange(6.0).view(2, 3)
    y.unsqueeze_(0)
    z = lib.arange(4.0)
    z.squeeze_()
    w = lib.ones(2, 1, 3)
    w.squeeze_(1)
    v = lib.arange(12.0).view(3, 4)
    v[1:, ::2].zero_()
    v.diagonal().fill_(-1)
    v.T[0].clamp_(max=2)
    u = lib.arange(6.0)
    u.view(2, 3)[:, 1] += 10
    u.resize_(2, 3)
    a = lib.ones(3)
    a.transpose_(0, 0)
    b = lib.ones(2, 3)
    b.swapaxes_(0, 1)
    return dict(
        x=x,
        xs=x.shape,
        y=y.shape,
        z=z.shape,
        w=w.shape,
        v=v,
        u=u,
        a=a,
        b=b.shape,
        bc=b.is_contiguous(),
        xst=x.stride(),
    )


@program
def ver(lib):
    t = lib.zeros(3)
    v0 = t._version
    t.add_(1)
    t[0] = 5
    v = t.view(3)
    v.mul_(2)
    return dict(
        v0=v0, v1=t._version, v2=v._version, ty=type(t._version).__name__, nv=(t + 1)._version
    )


@program
def splits(lib):
    x = lib.arange(10)
    m = lib.arange(12).view(3, 4)
    return dict(
        c=lib.chunk(x, 3),
        c2=x.chunk(4),
        c3=lib.chunk(lib.arange(5), 4),
        c4=m.chunk(2, dim=1),
        c5=lib.arange(6).chunk(4),
        s=x.split([3, 3, 4]),
        s2=lib.split(x, 4),
        s3=m.split(1, 0),
        s4=m.split([1, 3], dim=1),
        ts=lib.tensor_split(x, [2, 5]),
        ts2=lib.tensor_split(x, 3),
        ts3=x.tensor_split(lib.tensor([1, 8])),
        ts4=m.tensor_split(3, dim=1),
        ts5=lib.tensor_split(x, (7, 3)),
        ts6=lib.tensor_split(x, lib.tensor(4)),
        d=lib.diff(x.float()),
        d2=lib.diff(x, prepend=lib.tensor([-1, 0])),
        d3=lib.diff(m, dim=1, append=lib.zeros(3, 1, dtype=lib.long)),
        d4=lib.diff(m, n=2, dim=0),
        d5=lib.diff(lib.tensor([True, False, False])),
        fe=lib.flip(lib.zeros(0, 3), [0]),
        fe2=lib.zeros(2, 0).flip(1),
        n=lib.narrow(m, 1, 1, 2),
        n2=m.narrow(0, -2, 2),
        n3=m.narrow(1, lib.tensor(2), 2),
        ec=lib.ones(3, 1).expand(3, 4).contiguous(),
        ecs=lib.ones(3, 1).expand(3, 4).stride(),
        ecc=lib.ones(3, 1).expand(3, 4).contiguous().stride(),
        ex=lib.ones(3).expand(2, -1),
        ub=m.unbind(1),
        hs=lib.hsplit(m, 2),
        vs=lib.vsplit(m, [1]),
    )


@program
def split_err(lib):
    return lib.arange(10).split([3, 3])


@program
def chunk_err(lib):
    return lib.arange(10).chunk(0)


@program
def narrow_err(lib):
    return lib.arange(10).narrow(0, 8, 5)


@program
def diff_err(lib):
    return lib.diff(lib.tensor(1))


@program
def strides(lib):
    x = lib.zeros(2, 3, 4)
    t = x.transpose(0, 2)
    p = x.permute(1, 0, 2)
    e = lib.zeros(0, 3)
    e2 = lib.zeros(3, 0, 2)
    return dict(
        xs=x.stride(),
        ts=t.stride(),
        tc=t.is_contiguous(),
        ps=p.stride(),
        pc=p.is_contiguous(),
        es=e.stride(),
        ec=e.is_contiguous(),
        e2s=e2.stride(),
        e2t=e2.transpose(0, 2).is_contiguous(),
        s1=x.stride(1),
        sl=x[:, 1:, ::2].stride(),
        slc=x[:, 1:, ::2].is_contiguous(),
        one=lib.zeros(1, 3).t().is_contiguous(),
        sc=lib.tensor(1.0).stride(),
        ex=lib.zeros(3, 1).expand(3, 5).is_contiguous(),
        tcs=t.contiguous().stride(),
        un=x.unsqueeze(1).stride(),
        fl=x.flatten(1).stride(),
        sof=x[1].storage_offset(),
        sof2=x[:, 1, 2:].storage_offset(),
        dg=lib.zeros(3, 3).diagonal().stride(),
        cl=t.clone().stride(),
        cl2=p.clone().is_contiguous(),
        mt=lib.zeros(2, 3).mT.stride(),
        u=lib.arange(10).unfold(0, 3, 2).stride(),
        rs=lib.zeros(4, 3).t().reshape(12).stride(),
        dsz=x.element_size(),
        ns=x.nbytes,
    )


@program
def view_err(lib):
    return lib.zeros(2, 3).t().view(6)


@program
def view_err2(lib):
    return lib.zeros(2, 3).view(4, -1)


@program
def view_err3(lib):
    return lib.zeros(2, 3).view(-1, -1)


@program
def view_ok(lib):
    x = lib.zeros(4, 6).t()
    return dict(
        a=x.view(3, 2, 4).shape,
        b=lib.zeros(2, 3)[:, :2].reshape(4).shape,
        c=lib.zeros(2, 3, 4).transpose(1, 2).contiguous().view(2, 12).stride(),
    )


@program
def view_err4(lib):
    return lib.zeros(2, 3, 4).transpose(1, 2).view(2, 12)


@program
def copy_warn(lib):
    t = lib.tensor([1.0, 2])
    return lib.tensor(t)


@program
def new_tensor_warn(lib):
    t = lib.tensor([1.0, 2])
    return t.new_tensor(t)


@program
def as_tensor_tensor(lib):
    t = lib.tensor([1.0, 2])
    a = lib.as_tensor(t)
    b = lib.as_tensor(t, dtype=lib.float64)
    return dict(same=a is t, b=b, c=lib.as_tensor([t[0], t[1]]))


@program
def index_idioms(lib):
    x = lib.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    m = x > 10
    y = x.clone()
    y[m] = 0
    z = x.clone()
    z[:, [0, 2]] = -1
    w = lib.zeros(5)
    w[lib.tensor([0, 0, 2])] += 1
    v = lib.zeros(5)
    v.index_put_((lib.tensor([0, 0, 2]),), lib.tensor(1.0), accumulate=True)
    u = x.clone()
    u[..., 1] = lib.tensor([7.0, 8, 9])
    s = x.clone()
    s[0, :, None] = 3
    return dict(
        a=x[..., None].shape,
        b=x[:, [0, 2]],
        c=x[[0, 1], [1, 2]],
        d=x[lib.tensor(1)],
        e=x[lib.tensor([[0, 1], [1, 0]])].shape,
        f=x[m],
        g=y,
        h=z,
        i=w,
        j=v,
        k=u,
        l=s,
        n=lib.where(m),
        o=lib.argwhere(m).shape,
        p=lib.take(x, lib.tensor([0, 5, 23])),
        q=lib.take_along_dim(x, lib.tensor([[[0]], [[3]]]), dim=2),
        r=x[1, ..., ::2],
        s2=x[:, -1],
        t=x[None, 1, None].shape,
        u2=x[m.any(-1)].shape,
        v2=x.masked_fill(m, -1.0),
        w2=x[:, 1:2, [1]].shape,
        x2=x[[True, False]].shape,
        y2=x[0][[1, 2]][:, [0, 3]],
        z2=x[:, lib.tensor([True, False, True])].shape,
        bb=x[np.array([1, 0])].shape,
        cc=x[0, np.int64(2)],
        dd=x[[0]].shape,
        ee=x[1:, [0, 2], 1:3].shape,
        ff=x[[0, 1], :, [1, 2]].shape,
        gg=x[:, [0, 1], [1, 2]].shape,
        hh=x[[[0], [1]], [[0, 1]]].shape,
    )


@program
def neg_step_err(lib):
    return lib.arange(5)[::-1]


@program
def oob_err(lib):
    return lib.arange(5)[5]


@program
def oob_err2(lib):
    return lib.arange(5)[lib.tensor([5])]


@program
def mask_shape_err(lib):
    return lib.arange(6).view(2, 3)[lib.tensor([True, False, True])]


@program
def float_index_err(lib):
    return lib.arange(5)[lib.tensor([1.0])]


@program
def too_many_idx_err(lib):
    return lib.arange(5)[0, 1]


@program
def print_fuzz(lib):
    r = np.random.RandomState(0)
    outs = []
    for k in range(40):
        shape = [(5,), (3, 4), (2, 2, 3), (), (1,), (12,)][k % 6]
        scale = 10.0 ** r.randint(-9, 10)
        a = np.asarray(r.randn(*shape) * scale)
        if k % 5 == 0:
            a = np.round(a)
        if k % 7 == 0 and a.size > 2:
            a.flat[1] = np.nan
        if k % 11 == 0 and a.size > 2:
            a.flat[0] = -np.inf
        dt = [lib.float32, lib.float64, lib.float16][k % 3]
        if dt == lib.float16:
            a = np.clip(a, -60000, 60000)
        outs.append(repr(lib.tensor(a, dtype=dt)))
    for k in range(10):
        outs.append(repr(lib.tensor(r.randint(-(10**k), 10**k + 1, size=(3, 2)))))
    outs.append(repr(lib.tensor(r.rand(3, 3) > 0.5)))
    return outs


@program
def print_fuzz_sum(lib):
    r = np.random.RandomState(1)
    outs = []
    for shape in [(1001,), (40, 30), (3, 400), (11, 11, 11), (2000, 1)]:
        outs.append(repr(lib.tensor(r.randn(*shape).astype(np.float32))))
        outs.append(repr(lib.tensor(r.randint(0, 100, size=shape))))
    return outs


@program
def print_opts(lib):
    r = np.random.RandomState(2)
    a = r.randn(4, 5).astype(np.float32) * 100
    outs = []
    for kw in [
        dict(precision=2),
        dict(precision=6),
        dict(sci_mode=True),
        dict(sci_mode=False),
        dict(threshold=10),
        dict(threshold=10, edgeitems=1),
        dict(linewidth=30),
        dict(profile="short"),
        dict(profile="full"),
        dict(precision=0),
        dict(edgeitems=1),
    ]:
        lib.set_printoptions(**kw)
        try:
            outs.append(repr(lib.tensor(a)))
            outs.append(repr(lib.tensor(a / 1e6)))
            outs.append(repr(lib.arange(30)))
            outs.append(repr(lib.tensor([1.0, 2, 3])))
            outs.append(str(lib.tensor(1e-3)))
        finally:
            lib.set_printoptions(profile="default")
    outs.append(repr(lib.tensor(a)))
    return outs


@program
def print_grad(lib):
    x = lib.ones(2, 3, requires_grad=True)
    return [
        repr(x * 2),
        repr((x * 2).sum()),
        repr(x.view(3, 2)),
        repr(lib.ones(3).requires_grad_()),
        repr(lib.nn.Parameter(lib.ones(2))),
        repr(x.detach()),
        repr(lib.tensor([1, 2], dtype=lib.int16)),
        repr(lib.tensor([0.1, 0.25], dtype=lib.float64) * x[0, :2]),
        repr(lib.tensor([[1e-5, 1.0]], dtype=lib.float16)),
        repr(lib.zeros(1, 0, 2, dtype=lib.bool)),
    ]


@program
def sort_stable(lib):
    r = np.random.RandomState(0)
    v = lib.tensor(r.randint(0, 4, 50).astype(np.float32))
    return dict(
        s=v.sort(stable=True),
        sd=v.sort(stable=True, descending=True),
        a=v.argsort(stable=True),
        u=lib.unique(v, return_inverse=True),
        m=v.view(5, 10).median(1),
        md=v.view(5, 10).mode(1),
        k=v.view(5, 10).kthvalue(4, 1),
        cnt=lib.unique(v, return_counts=True),
    )


@program
def scatter_idioms(lib):
    r = np.random.RandomState(0)
    src = lib.tensor(r.randn(6, 3).astype(np.float32), requires_grad=True)
    idx = lib.tensor([0, 1, 0, 2, 1, 0])
    summed = lib.zeros(3, 3).index_add(0, idx, src)
    cnt = lib.bincount(idx, minlength=3).clamp(min=1).unsqueeze(1)
    mean = summed / cnt
    sa = lib.zeros(3, 3).scatter_add(0, idx.unsqueeze(1).expand(-1, 3), src)
    sr = lib.zeros(3, 3).scatter_reduce(
        0, idx.unsqueeze(1).expand(-1, 3), src, reduce="amax", include_self=False
    )
    (mean.sum() + sa.pow(2).sum() + sr.sum()).backward()
    return dict(mean=mean, sa=sa, sr=sr, g=src.grad)


@program
def masks_attn(lib):
    n = 5
    causal = lib.tril(lib.ones(n, n)).bool()
    s = lib.tensor(np.random.RandomState(0).randn(2, n, n).astype(np.float32))
    s2 = s.masked_fill(causal == 0, float("-inf"))
    s3 = s.masked_fill(~causal, -1e9).softmax(-1)
    pad = lib.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()
    key_mask = pad[:, None, :] & causal[None]
    pos = lib.arange(n).unsqueeze(0).expand(2, -1)
    tri = lib.triu(lib.full((n, n), float("-inf")), diagonal=1)
    return dict(
        s2=s2.softmax(-1),
        s3=s3,
        km=key_mask,
        pos=pos,
        tri=tri,
        lens=pad.sum(1),
        last=pad.long().argmin(1),
        w=lib.where(causal, s, 0.5).dtype,
        w2=lib.where(pad, lib.tensor(3), 0.5),
        w3=lib.where(pad, 1, 0),
        w4=lib.where(pad, lib.tensor(2, dtype=lib.int32), lib.tensor(1, dtype=lib.int64)),
    )


@program
def cat_promote(lib):
    a = lib.tensor([1, 2])
    b = lib.tensor([0.5])
    c = lib.tensor([True])
    return dict(
        ab=lib.cat([a, b]),
        ac=lib.cat([a, c]),
        abc=lib.cat((c, a, b)),
        st=lib.stack([lib.tensor(1.0), lib.tensor(2.0)]),
        st2=lib.stack([a, a], dim=1),
        st3=lib.stack([a.float(), b.expand(2)], -1),
        h=lib.hstack([a, a]),
        v=lib.vstack([a, a]),
        d=lib.dstack([a, a]),
        cs=lib.column_stack([a, a]),
        e=lib.cat([lib.zeros(0), b]),
        e2=lib.cat([lib.zeros(0, dtype=lib.long), b]),
        i16=lib.cat([a.short(), a.to(lib.int8)]).dtype,
        h16=lib.cat([b.half(), a]).dtype,
        cat_=lib.concat([a, a]),
        ccat=lib.concatenate([a, a]),
    )


@program
def cat_err(lib):
    return lib.cat([lib.zeros(2, 3), lib.zeros(2, 4)])


@program
def stack_err(lib):
    return lib.stack([lib.zeros(2), lib.zeros(3)])


@program
def cat_empty_err(lib):
    return lib.cat([])


@program
def nan_sort(lib):
    x = lib.tensor([3.0, float("nan"), 1.0, float("nan"), 2.0])
    return dict(
        s=x.sort(),
        sd=x.sort(descending=True),
        a=x.argmax(),
        am=x.argmin(),
        mx=x.max(),
        mn=x.min(),
        tk=x.topk(2),
        tk2=x.topk(1, largest=False),
        u=lib.unique(lib.tensor([1.0, 1.0, 2.0])),
        cm=lib.cummax(x, 0),
        med=x.median(),
        nm=x.nanmedian(),
        q=lib.quantile(lib.tensor([1.0, 2, 3, 4]), 0.3),
        q2=lib.quantile(
            lib.tensor([1.0, 2, 3, 4]), lib.tensor([0.25, 0.5]), interpolation="nearest"
        ),
        nq=lib.nanquantile(x, 0.5),
        ms=lib.msort(x),
        mx2=lib.max(x, 0),
        clamp=x.clamp(min=2.5),
        mxm=lib.maximum(x, lib.tensor(2.0)),
        amax=x.amax(),
    )


@program
def reductions_misc(lib):
    u = lib.tensor([[0, 3], [1, 1]], dtype=lib.uint8)
    b = lib.tensor([[True, False], [True, True]])
    f = lib.tensor([[0.5, 0.0], [2.0, -1.0]])
    return dict(
        a=lib.all(u, 1),
        b=lib.any(u),
        c=u.all(),
        d=b.all(0),
        e=f.any(1),
        f=lib.logical_and(f, u),
        g=lib.logical_not(f),
        h=b.max(0),
        i=u.max(),
        j=b.sum(0),
        k=u.argmax(),
        l=lib.count_nonzero(f),
        m=f.prod(),
        n=b.float().mean(0),
        o=u.float().std(),
        p=u.sum(dim=0, keepdim=True),
        q=f.abs().sqrt().sum(),
        r=lib.round(lib.tensor([0.5, 1.5, 2.5, -0.5, 1.2345]), decimals=0),
        s=lib.round(lib.tensor([1.2345, 2.5551]), decimals=2),
        t=lib.sign(f),
        v=lib.floor_divide(lib.tensor([-7, 7]), 2),
        w=lib.floor_divide(lib.tensor([-7.0, 7]), 2),
        x=lib.clamp(f, min=lib.tensor([0.0, 1.0])),
        y=f.clamp(max=lib.tensor(0.6)),
        z=lib.cartesian_prod(lib.tensor([1, 2]), lib.tensor([3, 4])),
        cb=lib.combinations(lib.tensor([1, 2, 3]), r=2),
        cb2=lib.combinations(lib.tensor([1, 2, 3]), with_replacement=True),
    )


@program
def T_warn(lib):
    return lib.zeros(2, 3, 4).T.shape


@program
def conversions(lib):
    import operator

    return dict(
        a=int(lib.tensor([3])),
        b=float(lib.tensor([[2.5]])),
        c=operator.index(lib.tensor(4)),
        d=lib.tensor([1.5], dtype=lib.float16).tolist(),
        e=lib.zeros(2, 3).t().numpy().flags["C_CONTIGUOUS"],
        f=lib.tensor([[1, 2], [3, 4]]).t().tolist(),
        g=complex(lib.tensor(2.0)),
        h=lib.tensor(2.5).item(),
        i=type(lib.tensor(2, dtype=lib.int32).item()).__name__,
        j=lib.tensor([True]).tolist(),
        k=list(lib.tensor([1, 2])),
        kk=[type(v).__name__ for v in lib.tensor([1, 2])],
        l=[x for x in lib.zeros(2, 3)][0].shape,
        m=len(lib.zeros(4, 2)),
        n=lib.zeros(4, 2).__len__(),
        q=round(float(lib.tensor(2.555)), 2),
        r=lib.tensor(7) // 2,
        s=abs(lib.tensor(-3)),
        t=divmod(7, 2),
    )


@program
def index_err(lib):
    import operator

    return operator.index(lib.tensor(2.0))


@program
def int_err(lib):
    return int(lib.tensor([1, 2]))


@program
def len_err(lib):
    return len(lib.tensor(3))


@program
def iter_err(lib):
    return list(lib.tensor(3))


@program
def gather_neg(lib):
    x = lib.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    idx = lib.tensor([[[0], [2], [1]], [[3], [3], [0]]])
    return dict(
        a=x.gather(-1, idx),
        b=lib.gather(x, 2, idx.expand(-1, -1, 2)),
        c=x.scatter(-1, idx, -1.0),
        d=x.scatter(2, idx, lib.full((2, 3, 1), 9.0)),
        e=x.scatter(1, lib.tensor([[[0, 1, 2, 0]]]), 5.0, reduce="multiply"),
        f=x.index_select(-1, lib.tensor([3, 0])),
        g=x.masked_select(x > 20),
        h=lib.index_select(x, 1, lib.tensor(1)).shape,
        i=x.index_fill(2, lib.tensor([0, 2]), -2.0),
        j=x.index_copy(1, lib.tensor([2, 0]), lib.zeros(2, 2, 4)),
        k=x.take_along_dim(idx, dim=-1),
        l=lib.take_along_dim(x, lib.tensor([5, 0])),
    )


@program
def interp_crop(lib):
    F = lib.nn.functional
    x = lib.tensor(np.random.RandomState(0).rand(1, 2, 6, 8).astype(np.float32))
    i, j, h, w = 1, 2, 4, 5
    crop = x[..., i : i + h, j : j + w]
    res = F.interpolate(crop, size=(6, 8), mode="bilinear", align_corners=False)
    res2 = F.interpolate(x, scale_factor=0.5, mode="nearest")
    res3 = F.interpolate(x, size=(3, 3), mode="area")
    res4 = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
    hflip = x.flip(-1)
    gray = (x * lib.tensor([0.6, 0.4]).view(1, 2, 1, 1)).sum(1, keepdim=True)
    norm = (x - x.mean(dim=(2, 3), keepdim=True)) / x.std(dim=(2, 3), keepdim=True)
    mean, std = lib.tensor([0.5, 0.4]), lib.tensor([0.2, 0.3])
    n2 = (x - mean[:, None, None]) / std[:, None, None]
    denorm = (n2 * std.view(-1, 1, 1) + mean.view(-1, 1, 1)).clamp(0, 1)
    u8 = (denorm * 255).round().to(lib.uint8)
    back = u8.float().div(255)
    return dict(
        crop=crop,
        res=res,
        res2=res2,
        res3=res3,
        res4=res4,
        hflip=hflip,
        gray=gray,
        norm=norm,
        n2=n2,
        denorm=denorm,
        u8=u8,
        back=back,
        perm=x.permute(0, 2, 3, 1).reshape(-1, 2).shape,
    )


@program
def sharing(lib):
    x = lib.arange(12.0).view(3, 4)
    v = x.view(4, 3)
    r = x.reshape(2, 6)
    t = x.t()
    rt = t.reshape(12)
    d = x.detach()
    c = x.clone()
    dd = x.data
    x[0, 0] = 100
    return dict(
        v=v[0, 0],
        r=r[0, 0],
        rt=rt[0],
        d=d[0, 0],
        c=c[0, 0],
        dd=dd[0, 0],
        p1=v.data_ptr() == x.data_ptr(),
        p2=rt.data_ptr() == x.data_ptr(),
        p3=x[1].data_ptr() - x.data_ptr(),
        p4=x[:, 1].storage_offset(),
        s=x.untyped_storage().nbytes(),
        s2=x[1:].untyped_storage().nbytes(),
        s3=t.untyped_storage().data_ptr() == x.untyped_storage().data_ptr(),
        s4=c.untyped_storage().data_ptr() == x.untyped_storage().data_ptr(),
        e=lib.equal(x, v.view(3, 4)),
        ns=x.numel(),
        b=v._base is x,
        b2=x._base is None,
        b3=t._base is x,
        b4=rt._base is None,
        dv=d._version,
    )


@program
def expand_write_err(lib):
    return lib.ones(3, 1).expand(3, 4).add_(1)


@program
def dtype_view(lib):
    x = lib.tensor([1.0, -2.0, 0.5])
    i = x.view(lib.int32)
    b = lib.tensor([1, 2], dtype=lib.int16).view(lib.uint8)
    return dict(
        i=i,
        b=b,
        h=lib.tensor([1.0, 2.0]).view(lib.float16).shape,
        back=i.view(lib.float32),
        va=x.view_as(lib.zeros(3, 1)).shape,
        ra=lib.arange(6).reshape_as(lib.zeros(2, 3)),
        uf=lib.arange(24).view(2, 12).unflatten(1, (3, -1)).shape,
        md=lib.zeros(2, 3, 4).movedim(0, -1).shape,
        md2=lib.zeros(2, 3, 4).movedim((0, 1), (2, 0)).shape,
        fl=lib.zeros(2, 3, 4).flatten(0, 1).shape,
        sq=lib.zeros(1, 3, 1).squeeze((0, 2)).shape,
        sq2=lib.zeros(1, 3, 1).squeeze(1).shape,
        us=lib.zeros(3).unsqueeze(-1).shape,
        vr=lib.zeros(2, 3).view(-1, 1, 3).shape,
    )


@program
def two_neg1_err(lib):
    return lib.zeros(2, 3).view(-1, -1)


@program
def reshape_err(lib):
    return lib.zeros(2, 3).reshape(4, 2)


@program
def unflatten_err(lib):
    return lib.zeros(2, 12).unflatten(1, (5, -1))


@program
def squeeze_dim_err(lib):
    return lib.zeros(2, 3).squeeze(2)


@program
def permute_err(lib):
    return lib.zeros(2, 3).permute(0, 0)


@program
def expand_err(lib):
    return lib.zeros(2, 3).expand(3, 3)


@program
def transpose_err(lib):
    return lib.zeros(2, 3).transpose(0, 2)


@program
def einsum_more(lib):
    r = np.random.RandomState(0)
    x = lib.tensor(r.randn(2, 3, 4).astype(np.float32), requires_grad=True)
    w = lib.tensor(r.randn(4, 5).astype(np.float32), requires_grad=True)
    y = lib.einsum("bti,io->bto", x, w)
    g = lib.einsum("bti,btj->bij", x, x)
    tr = lib.einsum("bii->b", g)
    ou = lib.einsum("bi,bj->bij", x[:, 0], x[:, 1])
    z = lib.einsum("...d,...d->...", x, x)
    (y.sum() + tr.sum() + ou.pow(2).sum() + z.sum()).backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    (h,) = lib.autograd.grad(lib.einsum("ij,ij->", w, w), w, create_graph=True)
    (h2,) = lib.autograd.grad(h.sum(), w)
    return dict(
        y=y,
        g=g,
        tr=tr,
        ou=ou,
        z=z,
        gx=gx,
        gw=gw,
        h=h,
        h2=h2,
        i=lib.einsum("i,i->i", lib.tensor([1, 2]), lib.tensor([3, 4])),
        dbl=lib.einsum("ij,kj->ik", w.double(), w.double()).dtype,
        bmm=lib.einsum("bij,bjk->bik", x, x.transpose(1, 2)),
        scalar=lib.einsum("i,->i", lib.tensor([1.0, 2]), lib.tensor(3.0)),
        bc=lib.einsum("ij,j->ij", lib.ones(2, 3), lib.ones(1)),
    )


@program
def einsum_dtype_err(lib):
    return lib.einsum("ij,jk->ik", lib.ones(2, 3), lib.ones(3, 2, dtype=lib.float64))


@program
def unique_more(lib):
    x = lib.tensor([[2, 1, 2], [0, 1, 2], [2, 1, 2]])
    f = lib.tensor([0.5, float("nan"), 0.5, float("nan"), -1.0])
    return dict(
        a=lib.unique(x, sorted=False),
        b=lib.unique(x, return_inverse=True),
        c=lib.unique(x, dim=1, return_inverse=True, return_counts=True),
        d=lib.unique(f).shape,
        e=lib.unique(f, return_counts=True)[1].shape,
        g=lib.unique_consecutive(f),
        h=lib.unique(lib.tensor([], dtype=lib.long), return_inverse=True, return_counts=True),
        i=lib.unique(lib.tensor(3)),
        j=lib.unique(lib.tensor(3), return_inverse=True),
        k=x.unique(dim=0, sorted=True),
        l=lib.unique_consecutive(x, return_counts=True, dim=1),
        m=lib.unique(lib.tensor([True, False, True]), return_counts=True),
    )


@program
def ties(lib):
    x = lib.tensor([2.0, 1.0, 2.0, 1.0, 3.0, 1.0])
    m = lib.tensor([[1.0, 1.0, 2.0, 2.0], [5.0, 4.0, 4.0, 5.0], [0.0, 0.0, 0.0, 0.0]])
    return dict(
        k=x.kthvalue(2),
        k2=x.kthvalue(4),
        med=x.median(),
        md=m.median(1),
        mode=x.mode(),
        mm=m.mode(1),
        mm0=m.mode(0),
        amx=m.argmax(1),
        amn=m.argmin(1),
        mx=m.max(1),
        mn=m.min(0),
        srt=m.sort(dim=1, stable=True),
        srtd=m.sort(dim=1, descending=True, stable=True),
        med_even=lib.tensor([4.0, 1.0, 3.0, 2.0]).median(),
        medint=lib.tensor([3, 1, 2, 2]).median(),
        modeb=lib.tensor([True, False, False]).mode(),
    )


@program
def hist_edges(lib):
    x = lib.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0, 6.0])
    return dict(
        a=lib.histc(x, bins=5, min=0, max=5),
        b=lib.histc(lib.tensor([1.0, 1.0]), bins=3),
        c=lib.histc(lib.tensor([]), bins=2),
        d=lib.histc(x.double(), bins=4, min=1, max=3),
        e=lib.bincount(lib.tensor([0, 3, 3]), minlength=2),
        f=lib.bincount(lib.tensor([2, 2], dtype=lib.uint8)),
        g=lib.bincount(
            lib.tensor([1, 1, 0]), weights=lib.tensor([0.5, 0.25, 2.0], dtype=lib.float64)
        ),
        h=lib.histogram(x, bins=lib.tensor([0.0, 2.0, 5.0])),
        i=lib.histogram(x, bins=2, range=(0.0, 4.0), density=True),
        j=lib.histc(lib.tensor([float("inf"), 1.0]), bins=2, min=0, max=2),
    )


@program
def histc_minmax_err(lib):
    return lib.histc(lib.tensor([1.0, 2.0]), bins=2, min=3, max=1)


@program
def bincount_2d_err(lib):
    return lib.bincount(lib.tensor([[1]]))


@program
def bincount_float_err(lib):
    return lib.bincount(lib.tensor([1.0]))


@program
def search_more(lib):
    b = lib.tensor([1, 3, 5])
    return dict(
        a=lib.bucketize(lib.tensor([0.5, 3.0, 5.5]), b),
        b=lib.searchsorted(b, lib.tensor([3, 4])),
        c=lib.searchsorted(b.float(), 3),
        d=lib.bucketize(lib.tensor([[1, 6]]), b, out_int32=True),
        e=lib.searchsorted(lib.tensor([1.0, 2, 2, 2, 3]), lib.tensor([2.0]), right=False),
        f=lib.searchsorted(lib.tensor([1.0, 2, 2, 2, 3]), lib.tensor([2.0]), right=True),
        g=lib.searchsorted(lib.tensor([]), lib.tensor([1.0])),
    )


@program
def search_err(lib):
    return lib.searchsorted(lib.tensor([[1.0, 2]]), lib.tensor([1.0, 2]))


@program
def search_side_err(lib):
    return lib.searchsorted(lib.tensor([1.0, 2]), lib.tensor([1.0]), side="left", right=True)


@program
def topk_more(lib):
    x = lib.tensor([[0.1, 0.9, 0.5, 0.3], [0.7, 0.2, 0.8, 0.4]])
    v, i = x.topk(2, dim=1)
    mask = lib.zeros_like(x, dtype=lib.bool).scatter_(1, i, True)
    return dict(
        v=v,
        i=i,
        mask=mask,
        k0=x.topk(0).values.shape,
        sel=x[mask].view(2, 2),
        th=x.topk(2, dim=0, largest=False),
        kv=x.kthvalue(1, dim=0),
        mx=x.max(-1).indices,
        ii=lib.topk(x.flatten(), 3).indices,
        t1=lib.tensor([5.0]).topk(1),
    )


@program
def legacy_tensor_types(lib):
    x = lib.FloatTensor(2, 3).zero_()
    y = lib.LongTensor([1.7, -2.5])
    dtype = lib.FloatTensor
    return dict(
        x=x,
        y=y,
        e=lib.FloatTensor().shape,
        b=lib.BoolTensor([1, 0]),
        s=lib.DoubleTensor(lib.Size([2])).shape,
        i1=isinstance(x, lib.FloatTensor),
        i2=isinstance(y, lib.FloatTensor),
        i3=isinstance(y, lib.LongTensor),
        t=x.type(lib.LongTensor),
        t2=y.type(dtype),
        n=lib.ByteTensor([3]).dtype,
        h=lib.HalfTensor([1.5]),
        c=lib.CharTensor(2).shape,
        sh=lib.ShortTensor([[1]]).dtype,
        it=lib.IntTensor(np.array([1, 2])),
        name=lib.FloatTensor.__name__,
        dt=lib.FloatTensor.dtype,
        sub=issubclass(lib.FloatTensor, lib.Tensor),
        same=lib.FloatTensor(x) is x,
    )


@program
def legacy_tensor_data_err(lib):
    return lib.FloatTensor(2.5)


@program
def legacy_tensor_negative_err(lib):
    return lib.FloatTensor(-1)


@program
def python_ints_beside_small_int_tensors(lib):
    u = lib.tensor([250, 3, 0], dtype=lib.uint8)
    i8 = lib.tensor([1, 2], dtype=lib.int8)
    return dict(
        div=u / -3,
        rdiv=-3 / u,
        tdiv=lib.true_divide(u, -3),
        fdiv=u // -3,
        mod=u % -3,
        lt=u < -3,
        gt=u > 300,
        i8lt=i8 < 200,
        i8le=i8 <= -255,
        i8eq=lib.eq(i8, 257),
        rgt=300 > i8,
        add=u + (-3),
        mul=i8 * 300,
        div300=i8 / 300,
        beq=lib.tensor([True]) == 2,
        ge=lib.tensor([5, 7], dtype=lib.int16) >= 65541,
    )


@program
def bool_floor_division_err(lib):
    return lib.tensor([True, False]) // lib.tensor([True, True])


@program
def bool_trunc_division_err(lib):
    return lib.div(lib.tensor([True]), True, rounding_mode="trunc")


@program
def python_bool_to_bool_power_err(lib):
    return True ** lib.tensor([True])


@program
def integer_power_exponent_overflow_err(lib):
    return lib.tensor([250, 3], dtype=lib.uint8) ** 300


@program
def integer_powers(lib):
    u = lib.tensor([250, 3, 0], dtype=lib.uint8)
    return dict(
        a=300**u,
        b=(-3) ** u,
        c=lib.tensor([2], dtype=lib.int32) ** 7,
        d=2**u,
        e=u**True,
        f=lib.tensor([True, False]) ** 300,
        g=lib.tensor([2]) ** (2**40),
    )


@program
def misc_idioms(lib):
    r = np.random.RandomState(0)
    x = lib.tensor(r.randn(3, 4).astype(np.float32))
    labels = lib.tensor([2, 0, 1])
    oh = lib.arange(4)[None, :] == labels[:, None]
    mf = x.clone()
    mf.masked_fill_(lib.tensor([True, False, True, False]), 0.0)
    tl = [lib.ones(2) * i for i in range(3)]
    idx = x.nonzero(as_tuple=True)
    return dict(
        oh=oh,
        ohf=oh.float(),
        mf=mf,
        st=lib.stack(tl).mean(0),
        s=sum(tl),
        mx=max(tl, key=lambda t: t.sum().item()),
        gathered=x[idx],
        w=lib.where(x > 0)[0].tolist(),
        fl=lib.flatten(x.view(3, 2, 2), 1).shape,
        v=x.view(x.size(0), -1).shape,
        f32=lib.tensor([np.float32(1.5), np.float32(2.5)]).dtype,
        ea=lib.ones(1, 4).expand_as(x).shape,
        rp=x[None, None].repeat(1, 3, 1, 1).shape,
        tile=lib.tensor([1, 2]).tile((2,)),
        tile2=x.tile(2, 1).shape,
        bt=lib.broadcast_to(lib.tensor([1, 2]), (3, 2)),
        sp=lib.split(x, [1, 3], dim=-1),
        nz0=lib.nonzero(lib.tensor(5)),
        nz0t=lib.nonzero(lib.tensor(0), as_tuple=True),
        numel=lib.numel(x),
        ist=lib.is_tensor(x),
        sz=x.size()[1:],
        sh=x.shape[-1:],
        cd=x.clone().detach().requires_grad,
        np_=x.detach().cpu().numpy().dtype.name,
        new1=x.new(2, 3).shape,
        new2=x.new([1, 2]),
        new3=x.new().shape,
        new4=x.new(lib.Size([2])).shape,
        dc=x.data.copy_(lib.zeros(3, 4)).sum(),
        sw=x.sum().item(),
    )


@program
def scatter_reduce_warn(lib):
    x = lib.zeros(2, 3)
    return x.scatter_(1, lib.tensor([[0, 1]]), lib.ones(1, 2), reduce="add")


@program
def scatter_reduce_scalar(lib):
    x = lib.zeros(2, 3)
    return x.scatter_(1, lib.tensor([[0, 1]]), 2.0, reduce="multiply")


@program
def index_put_mask(lib):
    x = lib.arange(6.0).view(2, 3)
    x.index_put_((x > 2,), lib.tensor(-1.0))
    y = lib.zeros(2, 3)
    y.index_put_((lib.tensor([0, 1]), lib.tensor([2, 0])), lib.tensor([5.0, 6.0]), accumulate=True)
    z = lib.zeros(3)
    z.index_put_((lib.tensor([True, False, True]),), lib.tensor([1.0, 2.0]))
    return dict(x=x, y=y, z=z)


@program
def topk_on_ties(lib):
    """On ties PyTorch leaves open which of the equal values' indices topk returns: the
    values must agree, and each index must point at its value, once."""
    r = np.random.RandomState(5)
    x = lib.tensor([3.0, 1, 3, 2, 1, 3])
    m = lib.tensor([[2.0, 5, 5, 1], [4, 4, 0, 4]])
    logits = lib.tensor(r.randint(0, 3, (4, 300)).astype(np.float32))  # top-5 of 300
    votes = lib.tensor(r.randint(0, 4, (3, 40)))
    nan = lib.tensor([1.0, float("nan"), 1.0, float("nan"), 0.0])
    out = {}
    for name, t, k, kw in [("a", x, 2, {}), ("b", x, 3, {}), ("c", m, 2, {"dim": 1}),
                           ("d", m, 2, {"dim": 0, "largest": False}),
                           ("e", logits, 5, {"dim": 1}), ("f", votes, 7, {"dim": 1}),
                           ("h", votes.float(), 9, {"largest": False}), ("i", nan, 3, {}),
                           ("j", nan, 2, {"largest": False}), ("k", lib.zeros(2, 50), 4, {})]:
        values, indices = t.topk(k, **kw)
        dim = kw.get("dim", -1)
        picked = t.gather(dim, indices)
        out[name] = values
        out[name + " points at its values"] = bool(
            ((picked == values) | (picked.isnan() & values.isnan())).all())
        out[name + " distinct"] = bool(
            (indices.sort(dim).values.diff(dim=dim) != 0).all())
    values, _ = votes.topk(6, dim=1, sorted=False)
    out["g, unsorted, as a set"] = values.sort(dim=1).values
    return out


@program
def print_fuzz2(lib):
    r = np.random.RandomState(7)
    outs = []
    shapes = [(7,), (3, 9), (2, 3, 4), (1, 1), (30,), (2, 40), (4, 4, 4, 4)]
    opts = [
        {},
        dict(precision=1),
        dict(precision=8),
        dict(sci_mode=True),
        dict(sci_mode=False),
        dict(linewidth=50),
        dict(edgeitems=1, threshold=20),
        dict(edgeitems=4, threshold=30),
        dict(precision=3, sci_mode=True),
        dict(threshold=0),
    ]
    for k in range(70):
        shape = shapes[k % len(shapes)]
        kind = k % 4
        if kind == 0:
            a = r.randn(*shape) * 10.0 ** r.randint(-6, 8)
        elif kind == 1:
            a = np.round(r.randn(*shape) * 10.0 ** r.randint(0, 6))
        elif kind == 2:
            a = r.randint(-(10**6), 10**6, size=shape)
        else:
            a = r.rand(*shape) > 0.5
        o = opts[k % len(opts)]
        lib.set_printoptions(**o)
        try:
            if kind in (0, 1):
                dt = [lib.float32, lib.float64][k % 2]
                t = lib.tensor(a, dtype=dt)
            else:
                t = lib.tensor(a)
            outs.append(repr(t))
            outs.append(str(t[0]))
        finally:
            lib.set_printoptions(profile="default")
    return outs


@program
def inplace_view_grad(lib):
    w = lib.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) / 10, requires_grad=True)
    x = w * 2
    x[:, 0].add_(1)
    x[1].mul_(lib.tensor([1.0, 2, 3, 4]))
    x.t()[2].clamp_(max=1.5)
    y = x.unsqueeze(0)
    y.squeeze_(0)
    z = x.view(-1)
    z[::3] = 0
    x.sigmoid_()
    (x**2).sum().backward()
    return dict(x=x, g=w.grad, v=x._version)


@program
def inplace_leaf_err(lib):
    w = lib.ones(3, requires_grad=True)
    w.add_(1)
    return w


@program
def inplace_leaf_view_err(lib):
    w = lib.ones(3, requires_grad=True)
    w[0] = 5
    return w


@program
def no_grad_inplace(lib):
    w = lib.ones(3, requires_grad=True)
    with lib.no_grad():
        w.mul_(2)
        w[0] = 7
    (w * w).sum().backward()
    return dict(w=w, g=w.grad, leaf=w.is_leaf, rg=w.requires_grad)


@program
def detach_inplace(lib):
    w = lib.ones(3, requires_grad=True)
    y = w * 3
    d = y.detach()
    d.zero_()
    return dict(y=y)


@program
def python_ints_at_the_64_bit_edges(lib):
    z, u = lib.tensor([0]), lib.tensor([0], dtype=lib.uint8)
    out = {}
    for v in [-(2**63), 2**63, 2**64 - 1]:
        out[str(v)] = [z == v, z + v, u < v, lib.tensor([0.0]) + v]
    return out


@program
def python_int_too_big_err(lib):
    return lib.tensor([0]) == 2**64


@program
def python_int_too_negative_err(lib):
    return lib.tensor([0.0]) + -(2**63) - 1 + (lib.tensor([1]) < -(2**63) - 1)


@program
def tensor_from_a_list_of_arrays(lib):
    rows = [np.arange(3, dtype=np.float32) * k for k in range(4)]
    return dict(a=lib.tensor(rows), b=lib.tensor([1, np.array(2)]), c=lib.tensor([[np.array([1])]]))


@program
def tensor_from_0d_arrays_err(lib):
    return lib.tensor([np.array(1.0), np.array(2.0)])


@pytest.mark.parametrize("fn", PROGRAMS, ids=[f.__name__ for f in PROGRAMS])
def test_program_matches_torch(fn):
    error = _check(fn)
    # a program meant to run must run (an error in both libraries would check nothing)
    assert (error is not None) == ("_err" in fn.__name__), repr(error)


_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
_VALUES = {
    "bool": [True, False, True],
    "uint8": [250, 3, 0],
    "int8": [-7, 5, 127],
    "int16": [-300, 7, 2],
    "int32": [-7, 5, 3],
    "int64": [-7, 5, 3],
    "float16": [1.5, -2.25, 0.0],
    "float32": [1.5, -2.5, 0.0],
    "float64": [1.5, -2.5, 0.0],
}
_OPERATORS = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    operator.and_,
    operator.or_,
    operator.xor,
    operator.lt,
    operator.eq,
    operator.lshift,
]


def _promoted(lib, op, a, b):
    """op on a tensor of dtype a and b (a dtype name, or a Python number), either way round."""
    x = lib.tensor(_VALUES[a], dtype=getattr(lib, a))
    if isinstance(b, str):
        return op(x, lib.tensor(_VALUES[b], dtype=getattr(lib, b)))
    return [op(x, b), op(b, x)]


@pytest.mark.slow
@pytest.mark.parametrize("op", _OPERATORS, ids=[op.__name__ for op in _OPERATORS])
def test_operator_promotion_sweep_matches_torch(op):
    """op on every pair of dtypes, and with Python numbers on either side (negative and
    out-of-range ints beside small integer types included)."""
    for a in _DTYPES:
        for b in _DTYPES + [2, 2.5, True, -3, 0, 300]:
            _check(lambda lib: _promoted(lib, op, a, b))


# bad inputs of the manipulation ops: the same exception type, with torch's words
_BAD_INPUTS = {
    "stack_dim": lambda T: T.stack([T.zeros(2), T.zeros(2)], dim=3),
    "cat_dim": lambda T: T.cat([T.zeros(2), T.zeros(2)], dim=1),
    "cat_0d": lambda T: T.cat([T.tensor(1.0), T.tensor(2.0)]),
    "gather_dims": lambda T: T.zeros(2, 3).gather(1, T.tensor([0, 1])),
    "gather_size": lambda T: T.zeros(2, 3).gather(1, T.tensor([[0], [1], [2]])),
    "scatter_src": lambda T: T.zeros(2, 3).scatter(1, T.tensor([[0, 1]]), T.ones(1, 1)),
    "scatter_dtype": lambda T: T.zeros(2, 3).scatter(
        1, T.tensor([[0, 1]]), T.ones(1, 2, dtype=T.float64)
    ),
    "index_select_2d": lambda T: T.zeros(3).index_select(0, T.tensor([[0]])),
    "index_select_oob": lambda T: T.zeros(3).index_select(0, T.tensor([3])),
    "index_add_shape": lambda T: T.zeros(3, 2).index_add_(0, T.tensor([0]), T.ones(2, 2)),
    "repeat_dims": lambda T: T.zeros(2, 3).repeat(2),
    "expand_neg": lambda T: T.zeros(3).expand(-1, 3),
    "split_zero": lambda T: T.zeros(4).split(0),
    "chunk_neg": lambda T: T.zeros(4).chunk(-1),
    "tsplit_0": lambda T: T.zeros(4).tensor_split(0),
    "topk_dim": lambda T: T.zeros(4).topk(1, dim=1),
    "sort_dim": lambda T: T.zeros(4).sort(dim=2),
    "unique_dim": lambda T: T.zeros(4).unique(dim=1),
    "flip_dup": lambda T: T.zeros(4, 2).flip(0, 0),
    "roll_mismatch": lambda T: T.zeros(4, 2).roll((1, 2), (0,)),
    "rot90_dims": lambda T: T.zeros(4, 2).rot90(1, [0, 0]),
    "narrow_neg_len": lambda T: T.zeros(4).narrow(0, 1, -1),
    "diag_3d": lambda T: T.diag(T.zeros(2, 2, 2)),
    "masked_fill_dtype": lambda T: T.zeros(3).masked_fill(T.tensor([1, 0, 1]), 2.0),
    "masked_fill_tensor": lambda T: T.zeros(3).masked_fill(
        T.tensor([True, False, True]), T.tensor([1.0, 2.0])
    ),
    "where_dtype": lambda T: T.where(T.tensor([1, 0]), T.zeros(2), T.ones(2)),
    "scatter_add_idx_dtype": lambda T: T.zeros(3).scatter_add(
        0, T.tensor([0], dtype=T.int32), T.ones(1)
    ),
    "bucketize_2d_bound": lambda T: T.bucketize(T.tensor([1.0]), T.tensor([[1.0, 2.0]])),
    "histc_int": lambda T: T.histc(T.tensor([1, 2]), bins=2),
    "kthvalue_oob": lambda T: T.tensor([1.0, 2.0]).kthvalue(3),
    "mode_empty": lambda T: T.tensor([]).mode(),
    "median_empty_dim": lambda T: T.zeros(0, 2).median(0),
    "repeat_interleave_neg": lambda T: T.tensor([1, 2]).repeat_interleave(T.tensor([1, -1])),
    "repeat_interleave_len": lambda T: T.tensor([1, 2]).repeat_interleave(T.tensor([1, 1, 1])),
    "one_hot_neg": lambda T: T.nn.functional.one_hot(T.tensor([-1, 1])),
    "fold_size": lambda T: T.nn.functional.fold(T.zeros(1, 4, 5), (3, 3), 2),
    "unfold_big": lambda T: T.zeros(4).unfold(0, 5, 1),
    "unfold_step0": lambda T: T.zeros(4).unfold(0, 2, 0),
    "pad_odd": lambda T: T.nn.functional.pad(T.zeros(2, 2), (1,)),
    "pad_mode": lambda T: T.nn.functional.pad(T.zeros(2, 2), (1, 1), mode="bogus"),
    "einsum_sub_dtype": lambda T: T.einsum("i,i->", T.tensor([1, 2]), T.tensor([1.0, 2.0])),
    "bincount_neg_minlength": lambda T: T.bincount(T.tensor([1]), minlength=-1),
    "searchsorted_dtype": lambda T: T.searchsorted(T.tensor([1, 2]), T.tensor([1.5])),
    "take_oob": lambda T: T.take(T.zeros(2, 2), T.tensor([4])),
    "view_dtype_size": lambda T: T.zeros(3).view(T.float64),
    "new_full_size": lambda T: T.zeros(2).new_full(3, 1.0),
    "arange_step0": lambda T: T.arange(0, 5, 0),
    "arange_wrong_dir": lambda T: T.arange(5, 0, 1),
    "linspace_neg": lambda T: T.linspace(0, 1, -1),
    "full_bool_fill": lambda T: T.full((2,), 1.5, dtype=T.long),
    "zeros_neg": lambda T: T.zeros(-1),
    "reshape_neg": lambda T: T.zeros(4).reshape(-2, 2),
    "cumsum_dim": lambda T: T.zeros(4).cumsum(1),
    "sum_dim_dup": lambda T: T.zeros(2, 2).sum((0, 0)),
}


@pytest.mark.parametrize("name", sorted(_BAD_INPUTS))
def test_bad_input_matches_torch(name):
    _check(_BAD_INPUTS[name])
