"""Whole programs of round 36, part b: tensor manipulation and numerics as libraries and
question-and-answer threads write them, in the corners earlier rounds left out.

Rearrangements in the manner of einops spelled with view, permute, reshape, unflatten and
movedim; scatter and gather idioms (scatter_reduce with every reduction and include_self and
its gradients, index_add/index_copy/index_fill/index_put_ with accumulate and repeated
indices, masked_scatter, take_along_dim, bucketize and searchsorted with sorter and side,
unique and unique_consecutive with inverse, counts and dim); sorting and ranking (stable
sort, argsort, topk, kthvalue, median and nanmedian, mode, quantile's interpolations);
torch.linalg over batches with gradients (solve, lstsq, eigh, svd, qr, pinv, matrix_exp,
cholesky_ex, det and slogdet); complex tensors (fft/rfft/irfft, framing, polar, angle,
view_as_real); type promotion with Python scalars, integer division and remainder with
negatives, bitwise ops and shifts; NaN and infinity handling; sampling from a
torch.Generator and from distributions; in-place ops on views and the errors on leaves; grad
modes as decorators, tensor hooks, retain_grad and forward pre-hooks with keyword arguments.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs;
both must give the same values, dtypes, shapes and requires_grad, or raise the same exception
type with torch's words, and warn alike (tests/side_by_side.py).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, normal32, normal64, program_harness, registry)

HARNESS = program_harness()
PROGRAMS, program = registry()


def _t(L, *shape, seed=0, grad=False, scale=1.0):
    """A float64 tensor of seeded normal draws, requiring grad when ``grad``."""
    return L.tensor(normal64(*shape, seed=seed, scale=scale), requires_grad=grad)


# ----------------------------------------------------------------------------------------------
# rearrangements
# ----------------------------------------------------------------------------------------------
@program
def einops_like_rearrange_by_view_and_permute(L):
    """'b (h w) c -> b c h w', 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)' and back, written
    with view/permute/reshape/unflatten/movedim/flatten on a non-contiguous input; the
    round trip is exact and the gradient flows through every step."""
    x = _t(L, 2, 3, 4, 6, seed=1, grad=True)
    xt = x.transpose(2, 3)                               # b c w h, non-contiguous
    b, c, w, h = xt.shape
    p1 = p2 = 2
    patches = (xt.unflatten(2, (w // p1, p1)).unflatten(-1, (h // p2, p2))
               .permute(0, 2, 4, 3, 5, 1).reshape(b, (w // p1) * (h // p2), p1 * p2 * c))
    back = (patches.view(b, w // p1, h // p2, p1, p2, c).movedim(-1, 1)
            .permute(0, 1, 2, 4, 3, 5).reshape(b, c, w, h))
    tokens = xt.flatten(2).movedim(1, -1)                # b (w h) c
    grid = tokens.movedim(-1, 1).unflatten(-1, (w, h))
    loss = (patches * L.arange(patches.shape[-1], dtype=L.float64)).sum() + grid.pow(2).sum()
    loss.backward()
    return patches, L.equal(back, xt), L.equal(grid, xt), tokens.is_contiguous(), \
        patches.stride(), x.grad, err(lambda: xt.view(b, -1))


@program
def pixel_shuffle_space_to_depth_and_window_partition(L):
    """Space-to-depth and depth-to-space written by reshape/permute and compared with
    pixel_unshuffle/pixel_shuffle; a Swin-style window partition and its reverse on a
    channels-last map rolled by a negative shift; 0-sized batch passes through."""
    F = L.nn.functional
    x = _t(L, 2, 3, 4, 6, seed=2)
    b, c, h, w = x.shape
    r = 2
    s2d = x.reshape(b, c, h // r, r, w // r, r).permute(0, 1, 3, 5, 2, 4) \
        .reshape(b, c * r * r, h // r, w // r)
    d2s = s2d.reshape(b, c, r, r, h // r, w // r).permute(0, 1, 4, 2, 5, 3).reshape(b, c, h, w)
    nhwc = L.roll(x.permute(0, 2, 3, 1), shifts=(-1, -1), dims=(1, 2))
    ws = 2
    win = nhwc.view(b, h // ws, ws, w // ws, ws, c).transpose(2, 3).reshape(-1, ws * ws, c)
    rev = win.view(b, h // ws, w // ws, ws, ws, c).transpose(2, 3).reshape(b, h, w, c)
    empty = L.zeros(0, 3, 4, 6, dtype=L.float64)
    return L.equal(s2d, F.pixel_unshuffle(x, r)), L.equal(d2s, x), \
        L.equal(F.pixel_shuffle(s2d, r), x), win[3], L.equal(rev, nhwc), \
        F.pixel_unshuffle(empty, 2).shape, \
        empty.reshape(0, 3, 2, 2, 3, 2).permute(0, 1, 3, 5, 2, 4).reshape(0, 12, 2, 3).shape, \
        err(lambda: empty.reshape(-1, 0)), err(lambda: x.unflatten(1, (2, 2))), \
        err(lambda: x.movedim((0, 1), (2,)))


# ----------------------------------------------------------------------------------------------
# scatter and gather
# ----------------------------------------------------------------------------------------------
@program
def scatter_reduce_every_reduction_and_include_self(L):
    """scatter_reduce with sum, prod, mean, amax and amin, include_self True and False,
    on float and integer tensors; rows no index reaches keep their values; integer mean
    rounds toward zero as torch's floor-divide of the count does not."""
    src = L.tensor([[1.5, -2.0, 3.0, 4.0, -0.5], [2.0, 2.0, -1.0, 0.0, 7.0]],
                   dtype=L.float64)
    index = L.tensor([[0, 2, 0, 3, 2], [1, 1, 1, 0, 3]])
    base = L.tensor([[10.0, -1.0, 2.0, 5.0], [0.5, 3.0, -4.0, 1.0]], dtype=L.float64)
    out = {}
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include in (True, False):
            out[reduce, include] = base.scatter_reduce(1, index, src, reduce,
                                                       include_self=include)
    ibase = L.tensor([[7, -3, 2, 9], [0, 5, -8, 1]])
    isrc = L.tensor([[4, -5, 3, 2, -6], [2, 3, -7, 1, 5]])
    ints = {r: ibase.scatter_reduce(1, index, isrc, r, include_self=False)
            for r in ("sum", "prod", "mean", "amax", "amin")}
    ints["mean_self"] = ibase.scatter_reduce(1, index, isrc, "mean")
    return out, ints, err(lambda: base.scatter_reduce(1, index, src, "max")), \
        err(lambda: base.scatter_reduce(1, index, isrc, "sum"))


@program
def scatter_reduce_gradients_through_every_reduction(L):
    """Gradients of scatter_reduce with respect to the self tensor and the source, for
    sum, prod, mean, amax and amin (ties share the gradient evenly), include_self both ways;
    a 1-d segment max written by scatter_reduce on a zero-initialised tensor."""
    idx = L.tensor([0, 1, 0, 2, 1, 0])
    res = {}
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include in (True, False):
            base = L.tensor([1.0, -2.0, 0.5, 3.0], dtype=L.float64, requires_grad=True)
            src = L.tensor([2.0, -2.0, 1.0, 4.0, -0.5, 2.0], dtype=L.float64,
                           requires_grad=True)
            y = base.scatter_reduce(0, idx, src, reduce, include_self=include)
            (y * L.tensor([1.0, 2.0, 3.0, 4.0], dtype=L.float64)).sum().backward()
            res[reduce, include] = (y, base.grad, src.grad)
    seg = L.tensor([3.0, 1.0, 4.0, 1.0, 5.0, 9.0], dtype=L.float64, requires_grad=True)
    ids = L.tensor([0, 0, 1, 1, 2, 2])
    seg_max = L.zeros(3, dtype=L.float64).scatter_reduce(0, ids, seg, "amax",
                                                         include_self=False)
    seg_max.sum().backward()
    return res, seg_max, seg.grad


@program
def index_add_copy_fill_with_repeated_and_negative_indices(L):
    """index_add_ with alpha and repeated indices on float and int tensors (the repeats add
    up), along a negative dim; index_copy_ with distinct indices on a transposed view;
    index_fill_ with a 0-d tensor value and a negative index; the out-of-place forms keep
    autograd: gradients of the source and of the destination."""
    dst = L.zeros(4, 3, dtype=L.float64)
    src = L.tensor(normal64(5, 3, seed=3))
    idx = L.tensor([0, 2, 0, 3, 2])
    a = dst.index_add(0, idx, src, alpha=-0.5)
    ci = L.arange(12).view(3, 4)
    b = ci.index_add(-1, L.tensor([1, 1, 3]), L.ones(3, 3, dtype=L.int64) * 7, alpha=2)
    t = L.zeros(3, 5, dtype=L.float64).t()              # (5, 3) view
    t.index_copy_(0, L.tensor([4, 0]), L.tensor(normal64(2, 3, seed=4)))
    f = L.arange(6.0).view(2, 3).index_fill(1, L.tensor([-1, 0]), L.tensor(-9.0))
    w = L.tensor(normal64(4, 3, seed=5), requires_grad=True)
    s = L.tensor(normal64(5, 3, seed=6), requires_grad=True)
    y = w.index_add(0, idx, s * 2.0)
    z = w.index_copy(0, L.tensor([3, 1]), s[:2]).index_fill(1, L.tensor([2]), 1.5)
    (y.pow(2).sum() + (z * y).sum()).backward()
    return a, b, t, t.is_contiguous(), f, y, z, w.grad, s.grad, \
        err(lambda: dst.index_add(0, L.tensor([4]), src[:1])), \
        err(lambda: dst.index_add(0, idx.float(), src)), \
        err(lambda: ci.index_fill(0, L.tensor([0]), 1.5))



@program
def index_put_accumulate_with_duplicates_and_masks(L):
    """index_put_ with accumulate=True and repeated (row, col) pairs (they add up), with
    accumulate=False and distinct pairs, with a boolean mask as the index, with broadcast
    index tensors; a histogram by index_put_ on an int tensor; the gradient of the values
    and of the destination through the out-of-place index_put."""
    a = L.zeros(3, 4, dtype=L.float64)
    rows, cols = L.tensor([0, 2, 0, 1, 0]), L.tensor([1, 3, 1, 0, 1])
    a.index_put_((rows, cols), L.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=L.float64),
                 accumulate=True)
    b = L.arange(12.0).view(3, 4)
    b.index_put_((b > 6,), L.tensor(-1.0))
    c = L.zeros(2, 3, 2)
    c.index_put_((L.tensor([[0], [1]]), L.tensor([0, 2])), L.tensor([7.0, 8.0]))
    hist = L.zeros(5, dtype=L.int64)
    hist.index_put_((L.tensor([4, 1, 4, 4, 0]),), L.tensor(1), accumulate=True)
    w = L.tensor(normal64(3, 4, seed=7), requires_grad=True)
    v = L.tensor([0.5, -1.0, 2.0], dtype=L.float64, requires_grad=True)
    y = w.index_put((L.tensor([0, 2, 0]), L.tensor([1, 1, 1])), v * 3, accumulate=True)
    z = w.index_put((L.tensor([1, 2]), L.tensor([0, 3])), v[:2])
    (y.pow(2).sum() + z.sum() * 2).backward()
    return a, b, c, hist, y, z, w.grad, v.grad, \
        err(lambda: a.index_put_((L.tensor([3]), L.tensor([0])), L.tensor(1.0, dtype=L.float64))), \
        err(lambda: a.index_put_((L.tensor([0, 1]),), L.ones(3, dtype=L.float64))), \
        err(lambda: hist.index_put_((L.tensor([0]),), L.tensor(1.5)))


@program
def masked_scatter_and_take_along_dim(L):
    """masked_scatter fills the True places in row-major order from the source's first
    elements, with a mask broadcast over rows; its gradients (the unused source entries get
    zero); take_along_dim with an argsort index, with dim=None over the flattened tensor and
    with a broadcast index; the errors of a short source and a float mask."""
    x = _t(L, 3, 4, seed=8, grad=True)
    mask = L.tensor([True, False, True, True])
    src = _t(L, 4, 4, seed=9, grad=True)
    y = x.masked_scatter(mask, src)
    (y * L.arange(12.0, dtype=L.float64).view(3, 4)).sum().backward()
    order = x.detach().argsort(dim=1, descending=True)
    sorted_rows = L.take_along_dim(x.detach(), order, dim=1)
    flat = L.take_along_dim(x.detach(), L.tensor([11, 0, 5]))
    best = L.take_along_dim(x.detach(), x.detach().argmax(1, keepdim=True), dim=1)
    bc = L.take_along_dim(x.detach(), L.tensor([[0, 3]]), dim=1)
    ints = L.arange(6).view(2, 3).masked_scatter(L.tensor([[True], [False]]),
                                                 L.tensor([9, 8, 7, 6]))
    return y, x.grad, src.grad, sorted_rows, flat, best, bc, ints, \
        err(lambda: x.detach().masked_scatter(mask, L.zeros(2, dtype=L.float64))), \
        err(lambda: x.detach().masked_scatter(mask.double(), src)), \
        err(lambda: L.take_along_dim(x, order.float(), dim=1))


@program
def bucketize_and_searchsorted_with_sorter_and_side(L):
    """bucketize with right False and True, out_int32, on int and float inputs with float
    and int boundaries and a scalar input; searchsorted on a batch of sorted rows, with
    side='right', with a sorter over an unsorted sequence, with a Python scalar, and the
    errors of conflicting right/side and of mismatched batch shapes."""
    bounds = L.tensor([1.0, 2.5, 2.5, 4.0])
    v = L.tensor([[0.5, 1.0, 2.5], [3.0, 4.0, 9.0]])
    rows = L.tensor([[1, 3, 5, 7], [2, 2, 4, 8]])
    q = L.tensor([[3, 2, 8], [2, 0, 9]])
    unsorted = L.tensor([4.0, 1.0, 3.0, 2.0])
    sorter = unsorted.argsort()
    return (L.bucketize(v, bounds), L.bucketize(v, bounds, right=True),
            L.bucketize(L.tensor([2, 5]), L.tensor([1, 2, 5]), out_int32=True),
            L.bucketize(2.5, bounds), L.bucketize(L.tensor(3), bounds, right=True),
            L.searchsorted(rows, q), L.searchsorted(rows, q, side="right"),
            L.searchsorted(rows, q, right=True, out_int32=True),
            L.searchsorted(unsorted, L.tensor([0.0, 2.0, 3.5, 5.0]), sorter=sorter),
            L.searchsorted(unsorted, L.tensor([2.0, 3.0]), sorter=sorter, side="right"),
            L.searchsorted(bounds, 2.5), L.searchsorted(bounds, L.tensor([], dtype=L.float32)),
            err(lambda: L.searchsorted(bounds, v, right=False, side="right")),
            err(lambda: L.searchsorted(rows, q[:1])),
            err(lambda: L.searchsorted(bounds, v, side="middle")),
            err(lambda: L.bucketize(v, bounds.view(2, 2))))


@program
def unique_and_unique_consecutive_with_inverse_counts_and_dim(L):
    """torch.unique sorted with return_inverse and return_counts, along dim=0 and dim=1 of a
    matrix with repeated rows/columns, on a bool and an empty tensor; Tensor.unique;
    unique_consecutive with both returns, with dim, on a 0-d tensor; reconstructing the input
    from the inverse."""
    x = L.tensor([3, 1, 3, 2, 1, 3, -4])
    vals, inv, cnt = L.unique(x, return_inverse=True, return_counts=True)
    m = L.tensor([[1, 2, 1, 2], [0, 5, 0, 5], [1, 2, 1, 2]])
    r_vals, r_inv, r_cnt = L.unique(m, dim=0, return_inverse=True, return_counts=True)
    c_vals, c_inv = m.unique(dim=1, return_inverse=True)
    b = L.tensor([True, False, True]).unique(return_counts=True)
    e = L.unique(L.tensor([], dtype=L.float32), return_inverse=True, return_counts=True)
    uc = L.unique_consecutive(L.tensor([1, 1, 2, 2, 2, 1, 3, 3]), return_inverse=True,
                              return_counts=True)
    ucd = L.unique_consecutive(L.tensor([[1, 1], [1, 1], [2, 0], [1, 1]]), dim=0,
                               return_counts=True)
    zero_d = L.unique_consecutive(L.tensor(5.0), return_inverse=True, return_counts=True)
    fl = L.tensor([2.0, float("nan"), 2.0, -0.0, 0.0]).unique(return_counts=True)
    return vals, inv, cnt, L.equal(vals[inv], x), r_vals, r_inv, r_cnt, c_vals, c_inv, b, e, \
        uc, ucd, zero_d, fl, err(lambda: L.unique(m, dim=2))



@program
def einsum_dtypes_with_broadcast_size_one_letters(L):
    """einsum's result dtype and dtype errors follow how torch contracts: a letter summed
    away that only one operand holds with a size other than 1 is summed in it first (ints
    and bools widen to int64), a pair sharing such a letter in both is a bmm (one dtype, no
    bool), else a broadcast mul (promotion); size-1 letters broadcast, so a long row times a
    float column of length one multiplies, a bool dot of length one stays bool, and a lone
    operand is summed whatever its sizes."""
    i8, f32 = L.int8, L.float32
    long_row = L.tensor([[1, 2, 3]])
    return (L.einsum("ij,j->i", long_row, L.tensor([1.5])),
            L.einsum("i,i", L.tensor([3]), L.tensor([2.5])),
            L.einsum("i,i->", L.tensor([True]), L.tensor([True])),
            L.einsum("i,i->", L.tensor([True, True, False]), L.tensor([True])),
            L.einsum("ij,j->j", L.ones(1, 2, dtype=i8), L.ones(2, dtype=i8)),
            L.einsum("ij,j->j", L.ones(3, 2, dtype=i8), L.ones(2, dtype=i8)),
            L.einsum("ab,b,a->", L.ones(3, 2, dtype=i8), L.ones(2, dtype=i8),
                     L.ones(3, dtype=i8)),
            L.einsum("ab,b,a->", L.ones(1, 2, dtype=i8), L.ones(2, dtype=i8),
                     L.ones(3, dtype=f32)),
            L.einsum("a,b,a->b", L.ones(3, dtype=i8), L.ones(2, dtype=f32),
                     L.ones(1, dtype=i8)),
            L.einsum("i->", L.tensor([True])), L.einsum("ij->", L.ones(1, 1, dtype=i8)),
            L.einsum("bij,bjk->bik", L.ones(2, 1, 1, dtype=L.int32), L.full((2, 1, 3), 0.5)),
            err(lambda: L.einsum("ij,j->i", long_row, L.tensor([1.5, 2.0, 0.5]))),
            err(lambda: L.einsum("ab,b,a->", L.ones(3, 2, dtype=i8), L.ones(2, dtype=i8),
                                 L.ones(1, dtype=i8))),
            err(lambda: L.einsum("ab,b,a->", L.ones(3, 2, dtype=i8), L.ones(2, dtype=i8),
                                 L.ones(3, dtype=f32))),
            err(lambda: L.einsum("ij,jk", L.tensor([[True, False]]),
                                 L.tensor([[True], [True]]))))


@program
def pixel_unshuffle_of_an_empty_batch_keeps_its_shape(L):
    """pixel_unshuffle hands back a copy of an empty input unchanged, its divisibility
    checked first (pixel_shuffle reshapes an empty input as any other); a channels-last
    empty input keeps its strides, and the gradient node is PixelUnshuffle's."""
    F = L.nn.functional
    e = L.zeros(0, 3, 4, 6, dtype=L.float64, requires_grad=True)
    u = F.pixel_unshuffle(e, 2)
    cl = F.pixel_unshuffle(L.zeros(0, 3, 4, 6).to(memory_format=L.channels_last), 2)
    return (u.shape, u.grad_fn.name(), F.pixel_unshuffle(L.zeros(3, 0, 4, 6), 2).shape,
            F.pixel_unshuffle(L.zeros(2, 3, 0, 6), 2).shape, cl.shape, cl.stride(),
            F.pixel_shuffle(L.zeros(0, 4, 2, 3), 2).shape,
            F.pixel_shuffle(L.zeros(2, 0, 2, 3), 2).shape,
            L.nn.PixelUnshuffle(3)(L.zeros(0, 1, 3, 3)).shape,
            err(lambda: F.pixel_unshuffle(L.zeros(0, 3, 5, 6), 2)),
            err(lambda: F.pixel_shuffle(L.zeros(0, 5, 2, 3), 2)))



# ----------------------------------------------------------------------------------------------
# sorting and ranking
# ----------------------------------------------------------------------------------------------
@program
def stable_sort_argsort_and_ranks_with_ties_and_nan(L):
    """Ranks by a double argsort with stable=True (ties keep their order), descending stable
    sort of ints, NaN sorted last ascending and first descending, sort of a bool and of a
    non-contiguous column block, msort, out= tensors resized by sort; the gradient of a
    sorted-and-weighted sum and its second derivative."""
    nan = float("nan")
    s = L.tensor([3, 1, 2, 1, 3, 0])
    ranks = s.argsort(stable=True).argsort(stable=True)
    f = L.tensor([3.0, nan, 1.0, -float("inf"), nan, 2.0])
    block = L.arange(12).view(3, 4)[:, ::2]
    v, i = L.empty(0, dtype=L.int64), L.empty(0, dtype=L.int64)
    L.sort(L.tensor([3, 1, 2]), descending=True, out=(v, i))
    a = _t(L, 4, seed=10, grad=True)
    g, = L.autograd.grad((a.sort(descending=True)[0] * L.arange(4.0, dtype=L.float64))
                         .pow(2).sum(), a, create_graph=True)
    gg, = L.autograd.grad(g.pow(2).sum(), a)
    return (s.sort(stable=True, descending=True), ranks, f.sort(), f.sort(descending=True),
            L.tensor([True, False, True]).sort(), block.argsort(0, descending=True),
            block.t().sort(dim=1), L.msort(L.tensor([[3, 1], [1, 2], [2, 0]])), v, i, g, gg,
            L.tensor(3.0).sort(), L.zeros(0).sort())


@program
def topk_kthvalue_median_and_mode_along_dims(L):
    """topk largest and smallest (sorted), k=0, on an empty batch and along dim 0 of a
    transposed view; kthvalue with keepdim; median of an even count (the lower middle),
    with NaN (propagated) and nanmedian (skipped), of ints along a dim and of an empty row;
    mode of ints and floats; their gradients reach the chosen entries; the errors of k out
    of range and of an empty median along a dim."""
    nan = float("nan")
    x = L.tensor([[5.0, 1.0, 4.0, 2.0], [2.0, 9.0, 7.0, 0.5]], dtype=L.float64,
                 requires_grad=True)
    top = x.topk(2, dim=1)
    low = x.t().topk(1, dim=0, largest=False)
    kth = x.kthvalue(2, dim=1, keepdim=True)
    med = x.median(dim=1)
    (top.values.sum() + kth.values.sum() * 2 + med.values.sum() * 3 + x.median()).backward()
    n = L.tensor([[1.0, nan, 3.0, 2.0], [4.0, 0.0, nan, nan]])
    return (top, low, kth, med, x.grad, x.detach().median(), n.median(dim=1), n.nanmedian(1),
            L.tensor([nan, nan]).nanmedian(), L.tensor([[3, 1, 2], [5, 5, 1]]).median(dim=0),
            L.tensor([[1, 2, 2, 3, 3], [4, 4, 1, 1, 0]]).mode(1),
            L.tensor([[1.5, 1.5, 0.0], [2.0, 3.0, 3.0]]).mode(1), L.tensor(3.0).mode(),
            L.tensor([1.0, 2.0]).topk(0), L.zeros(0, 3).topk(2, dim=1).values.shape,
            L.zeros(0, 3).median(1), L.tensor([]).median(),
            L.tensor([3.0, 1.0, 2.0], dtype=L.bfloat16).median().float(),
            err(lambda: L.tensor([1.0, 2.0]).topk(3)),
            err(lambda: L.tensor([1.0, 2.0]).kthvalue(3)),
            err(lambda: L.tensor([]).median(0)))


@program
def quantile_every_interpolation_with_dims_and_nan(L):
    """quantile at a vector of q for linear, lower, higher, midpoint and nearest along a dim
    with keepdim, q as a 0-d tensor, dim=None with keepdim, nanquantile skipping NaN (all-NaN
    rows give NaN), the gradient through the interpolation, and the refusals (ints, q out
    of [0, 1], an unknown interpolation, a q of another dtype, a 2-d q, float16)."""
    nan = float("nan")
    x = L.tensor([[1.0, 7.0, 3.0, 4.0], [2.0, 2.0, 9.0, 0.0]], dtype=L.float64)
    q = L.tensor([0.1, 0.5, 0.9], dtype=L.float64)
    modes = {m: L.quantile(x, q, dim=1, keepdim=True, interpolation=m)
             for m in ("linear", "lower", "higher", "midpoint", "nearest")}
    w = L.tensor(np.arange(10.0).reshape(5, 2)[::-1].copy(), requires_grad=True)
    L.quantile(w, L.tensor([0.25, 0.8], dtype=L.float64), dim=0).sum().backward()
    n = L.tensor([[1.0, nan, 3.0], [nan, nan, nan]])
    return (modes, L.quantile(x, L.tensor(0.3, dtype=L.float64), dim=-1),
            L.quantile(x, 0.3, dim=None, keepdim=True), w.grad, L.quantile(n, 0.5, dim=1),
            L.nanquantile(n, 0.5, dim=1), L.nanquantile(n, L.tensor([0.0, 1.0]), dim=1),
            err(lambda: L.quantile(L.zeros(0, 3), 0.5, dim=1)),
            err(lambda: L.quantile(L.tensor([1, 2]), 0.5)),
            err(lambda: L.quantile(x, 1.5)),
            err(lambda: L.quantile(x, 0.5, interpolation="cubic")),
            err(lambda: L.quantile(L.tensor([1.0, 2.0]), L.tensor([0.5], dtype=L.float64))),
            err(lambda: L.quantile(x, L.tensor([[0.5]], dtype=L.float64))),
            err(lambda: L.quantile(L.tensor([1.0], dtype=L.float16), 0.5)),
            err(lambda: L.quantile(L.zeros(0), 0.5)))


@program
def cumulative_extremes_and_log_cumsum(L):
    """cummax/cummin with repeated maxima (the last index of a tie) and NaN (it sticks),
    on ints along dim 1; their gradients go to the running arg-extremes; logcumsumexp over
    -inf and +inf; aminmax along a dim, of an empty row set, and its refusal on an empty
    tensor."""
    nan, inf = float("nan"), float("inf")
    x = L.tensor([1.0, 3.0, 2.0, 3.0, 0.0], dtype=L.float64, requires_grad=True)
    (x.cummax(0).values.sum() + 2 * x.cummin(0)[0].sum()).backward()
    return (L.tensor([1.0, 3.0, 2.0, 3.0, nan, 1.0]).cummax(0),
            L.tensor([[2, 1], [1, 2]]).cummin(1), x.grad,
            L.tensor([0.0, -inf, 1.0, inf]).logcumsumexp(0),
            L.tensor([-inf, -inf]).logcumsumexp(0),
            L.tensor([[1, 5], [3, -2]]).aminmax(dim=0), L.zeros(0, 2).aminmax(dim=1),
            err(lambda: L.tensor([]).aminmax()))



# ----------------------------------------------------------------------------------------------
# linear algebra over batches, with gradients
# ----------------------------------------------------------------------------------------------
def _spd(L, *shape, seed=0, grad=False):
    """A float64 symmetric positive-definite matrix (or batch) from seeded draws."""
    a = normal64(*shape, seed=seed)
    a = a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    return L.tensor(a, requires_grad=grad)


@program
def batched_solve_lstsq_and_pinv_with_gradients(L):
    """linalg.solve with a batch of matrices against one right-hand side (broadcast), with
    left=False, against a batch of vectors; lstsq's named fields (gelsy and gelsd), its
    gradient; pinv of a batch, of a Hermitian matrix and with rtol, and its gradient;
    solve_ex on singular matrices (info, no error); the refusals of solve on a singular
    matrix, on int tensors and lstsq on mismatched rows."""
    A = _t(L, 2, 3, 3, seed=1, grad=True)
    B = _t(L, 3, 2, seed=2, grad=True)
    X = L.linalg.solve(A, B)
    Y = L.linalg.solve(A[0], _t(L, 2, 3, seed=3), left=False)
    v = L.linalg.solve(A.detach(), _t(L, 2, 3, seed=4))
    M = _t(L, 5, 3, seed=5, grad=True)
    R = _t(L, 5, 2, seed=6)
    r = L.linalg.lstsq(M, R)
    r2 = L.linalg.lstsq(M.detach().expand(2, 5, 3), R.expand(2, 5, 2), driver="gelsd")
    P = L.linalg.pinv(M)
    (X.pow(2).sum() + Y.sum() + r.solution.sum() + P.pow(2).sum()).backward()
    sing = L.linalg.solve_ex(L.zeros(2, 2, 2, dtype=L.float64), L.ones(2, 2, dtype=L.float64))
    return (X, Y, v, r.solution, r.residuals, r.rank, r.singular_values, r2.solution,
            r2.rank, r2.singular_values, P, L.linalg.pinv(_spd(L, 3, 3), hermitian=True),
            L.linalg.pinv(_t(L, 3, 3, seed=7), rtol=0.5), A.grad, B.grad, M.grad, sing.info,
            err(lambda: L.linalg.solve(L.zeros(2, 2, dtype=L.float64),
                                       L.ones(2, dtype=L.float64))),
            err(lambda: L.linalg.solve(L.eye(2, dtype=L.int64), L.ones(2, dtype=L.int64))),
            err(lambda: L.linalg.lstsq(M.detach(), R[:4])))


@program
def eigh_svd_qr_and_matrix_exp_gradients_over_batches(L):
    """Sign-invariant losses of eigh (eigenvalues, squared eigenvector entries), svdvals,
    the diagonal of qr's R in absolute value, matrix_exp, over batches; the shapes of svd
    with full_matrices and qr's modes; eigvalsh reading the upper triangle; the refusal of
    eigh on a non-square matrix."""
    A = _t(L, 2, 3, 3, seed=8, grad=True)
    w, V = L.linalg.eigh(A + A.mT)
    S = L.linalg.svdvals(_t(L, 4, 3, seed=9) @ A[0])
    Q, R = L.linalg.qr(A.mT @ A[:, :, :2].expand(2, 3, 2).mT.mT)
    E = L.linalg.matrix_exp(A * 0.5)
    loss = w.sum() * 2 + V.pow(2)[..., 0, :].sum() + S.sum() + \
        R.diagonal(dim1=-2, dim2=-1).abs().sum() + E.sum()
    loss.backward()
    shapes = [t.shape for t in L.linalg.svd(_t(L, 4, 2, seed=10), full_matrices=True)]
    qr_shapes = [[t.shape for t in L.linalg.qr(_t(L, 4, 3, seed=11), mode=m)]
                 for m in ("reduced", "complete", "r")]
    return (w, S, R.abs(), E, A.grad, shapes, qr_shapes,
            L.linalg.eigvalsh(_t(L, 3, 3, seed=12), UPLO="U"),
            L.linalg.matrix_exp(L.zeros(0, 2, 2)), L.matrix_exp(L.tensor([[1.0]])),
            err(lambda: L.linalg.eigh(_t(L, 3, 4))))


@program
def cholesky_ex_det_slogdet_over_batches_with_gradients(L):
    """cholesky_ex reports which matrices of a batch are not positive-definite by info
    (no error), cholesky raises for them, check_errors=True raises; an upper Cholesky's
    gradient; det and slogdet of a batch with their gradients (sign times logabsdet);
    slogdet and logdet of singular and negative-determinant matrices; det of 0x0."""
    good, bad = _spd(L, 3, 3, seed=13), -_spd(L, 3, 3, seed=14)
    info = L.linalg.cholesky_ex(L.stack([good, bad])).info
    S = _spd(L, 3, 3, seed=15, grad=True)
    U = L.linalg.cholesky(S, upper=True)
    A = _t(L, 3, 3, 3, seed=16, grad=True)
    d = L.linalg.det(A)
    sign, logabs = L.linalg.slogdet(A)
    (U.sum() + d.sum() + (sign * logabs).sum()).backward()
    return (info, L.linalg.cholesky_ex(good).L, U, d, sign, logabs, S.grad, A.grad,
            L.linalg.slogdet(L.zeros(2, 2)), L.logdet(L.tensor([[0.0, 1.0], [1.0, 0.0]])),
            L.det(L.zeros(0, 0)), L.slogdet(L.eye(2) * 2),
            err(lambda: L.linalg.cholesky(L.stack([good, bad]))),
            err(lambda: L.linalg.cholesky_ex(bad, check_errors=True)),
            err(lambda: L.linalg.det(_t(L, 2, 3))))


@program
def matrix_norms_conditions_and_ranks(L):
    """matrix_norm for every ord, vector_norm over two dims for 0, 1, 2, 3.5 and +-inf,
    cond for each p, matrix_rank with atol/rtol over a batch and of a singular matrix,
    matrix_power with negative and integer exponents, multi_dot with vector ends and its
    gradients; the refusals of an unknown matrix ord and a negative power of an int
    matrix."""
    inf = float("inf")
    M = _t(L, 3, 4, seed=17)
    a, b, c = _t(L, 3, grad=True), _t(L, 3, 4, seed=1, grad=True), _t(L, 4, seed=2, grad=True)
    md = L.linalg.multi_dot([a, b, c])
    md.backward()
    return ([L.linalg.matrix_norm(M, ord=o) for o in ("fro", "nuc", 1, -1, 2, -2, inf, -inf)],
            [L.linalg.vector_norm(M, ord=o, dim=(0, 1)) for o in (0, 1, 2, 3.5, inf, -inf)],
            [L.linalg.cond(_spd(L, 3, 3, seed=18), p=p) for p in (None, "fro", "nuc", 1, 2)],
            L.linalg.matrix_rank(L.tensor([[1.0, 2.0], [2.0, 4.0]])),
            L.linalg.matrix_rank(_t(L, 2, 4, 3, seed=19), atol=1.0, rtol=0.0),
            L.linalg.matrix_power(_t(L, 3, 3, seed=20), -2),
            L.linalg.matrix_power(L.tensor([[1, 1], [1, 0]]), 10), md, a.grad, b.grad, c.grad,
            err(lambda: L.linalg.matrix_norm(M, ord=3)),
            err(lambda: L.linalg.matrix_power(L.tensor([[1, 1], [1, 0]]), -1)))


@program
def complex_linear_algebra_gradients(L):
    """Real losses of complex matrices: eigh of a Hermitian matrix (eigenvalues and the
    phase-free squared moduli of an eigenvector row), svdvals, |det|, the real part of the
    inverse; a batched complex solve against one complex vector with its gradients."""
    r = np.random.RandomState(21)
    A = L.tensor(r.randn(3, 3) + 1j * r.randn(3, 3), requires_grad=True)
    w, V = L.linalg.eigh(A + A.mH)
    loss = w.sum() + V.abs().pow(2)[0].sum() + L.linalg.svdvals(A).sum() + \
        L.linalg.det(A).abs() + L.linalg.inv(A).real.sum()
    loss.backward()
    B = L.tensor(r.randn(2, 3, 3) + 1j * r.randn(2, 3, 3), requires_grad=True)
    y = L.tensor(r.randn(3) + 1j * r.randn(3), requires_grad=True)
    x = L.linalg.solve(B, y)
    x.abs().pow(2).sum().backward()
    return w, A.grad, x, B.grad, y.grad




@program
def linear_algebra_refusals_in_torchs_order(L):
    """Which complaint comes first when a call is wrong in several ways: linalg.solve checks
    A's dtype kind, then that B's dtype is A's, then the shapes and batch dims, and only
    then refuses half precision; a singular A broadcast against a batch of B is named by A's
    own batch; lstsq checks A's rank, the dtypes alike, the ranks' relation, the sizes, the
    driver, then A's dtype; eigh and eigvalsh refuse a vector or a non-square matrix in
    eigh's words before looking at the dtype; inv, det, slogdet, logdet, cholesky,
    matrix_exp, ldl_factor, eig, solve_ex, lu_solve, ldl_solve and solve_triangular refuse
    a non-square matrix before its dtype (ints before the shape for lu_solve and
    matrix_rank, halves after it); pinv and matrix_rank of a Hermitian input word a
    non-square one as eigh does; cond of a vector names ord for the matrix norms."""
    i64, f16 = L.int64, L.float16
    solves = [(L.ones(3, 3, dtype=f16), L.ones(2, dtype=f16)),
              (L.ones(3, 3, dtype=f16), L.ones(3, dtype=f16)),
              (L.ones(2, 3, 3, dtype=f16), L.ones(4, 3, 1, dtype=f16)),
              (L.ones(3, 3, dtype=L.bfloat16), L.ones(3)), (L.ones(3, 2, dtype=f16), L.ones(3)),
              (L.ones(3, 2), L.ones(3, dtype=f16)), (L.ones(3, 3, dtype=i64), L.ones(3)),
              (L.ones(3), L.ones(3, dtype=f16)), (L.ones(3, dtype=i64), L.ones(3)),
              (L.ones(3, 3, dtype=L.complex64), L.ones(3)), (L.ones(2, 2), L.ones(3, 2, 2)),
              (L.ones(1, 2, 2), L.ones(3, 2, 2))]
    lstsqs = [((L.ones(3, 3, dtype=i64), L.ones(3, dtype=i64)), dict(driver="bad")),
              ((L.ones(3, 3), L.ones(3, dtype=i64)), dict(driver="bad")),
              ((L.ones(3), L.ones(3, dtype=i64)), {}),
              ((L.ones(3, 3, dtype=i64), L.ones(3, 2, 2, dtype=i64)), {}),
              ((L.ones(3, 3, dtype=i64), L.ones(4, dtype=i64)), dict(driver="bad")),
              ((L.ones(3, 3, dtype=i64), L.ones(3, 3, dtype=i64)), dict(driver="gelsd")),
              ((L.ones(2, 3, 3, dtype=i64), L.ones(4, 3, 3, dtype=i64)), {}),
              ((L.ones(2, 3, 3), L.ones(4, 3, 3)), dict(driver="bad"))]
    eighs = [L.ones(3), L.ones(2, 3, dtype=i64), L.ones(2, 3, dtype=f16), L.ones(3, dtype=i64),
             L.ones(3, 3, dtype=f16)]
    square_first = [L.linalg.inv, L.linalg.inv_ex, L.linalg.det, L.linalg.slogdet, L.logdet,
                    L.linalg.cholesky, L.linalg.cholesky_ex, L.linalg.matrix_exp,
                    L.linalg.ldl_factor, L.linalg.eig,
                    lambda x: L.linalg.solve_ex(x, L.ones(2, dtype=x.dtype)),
                    lambda x: L.linalg.solve_ex(x, L.ones(2)),
                    lambda x: L.linalg.lu_solve(x, L.ones(x.shape[-2], dtype=L.int32),
                                                L.ones(3, 1, dtype=x.dtype)),
                    lambda x: L.linalg.ldl_solve(x, L.ones(x.shape[-2], dtype=L.int32),
                                                 L.ones(3, 1, dtype=x.dtype)),
                    lambda x: L.linalg.solve_triangular(x, L.ones(3, 1, dtype=x.dtype),
                                                        upper=True),
                    lambda x: L.linalg.matrix_rank(x, hermitian=True)]
    odd = [L.ones(2, 3, dtype=i64), L.ones(2, 3, dtype=f16), L.ones(2, 3, dtype=L.bool),
           L.ones(3, dtype=i64), L.ones(3, 3, dtype=f16)]
    return ([err(lambda: L.linalg.solve(a, b)) for a, b in solves],
            [err(lambda: L.linalg.solve(a, b, left=False)) for a, b in solves],
            [err(lambda: L.linalg.lstsq(*args, **kw)) for args, kw in lstsqs],
            [[err(lambda: f(x)) for f in (L.linalg.eigh, L.linalg.eigvalsh)] for x in eighs],
            [[err(lambda: f(x), quiet=True) for x in odd] for f in square_first],
            [err(lambda: L.linalg.pinv(x, hermitian=True)) for x in (L.ones(2, 3), odd[0])],
            [err(lambda: L.linalg.cond(L.ones(3), p=p)) for p in (None, 1, "fro", "nuc")])


# ----------------------------------------------------------------------------------------------
# complex tensors and Fourier transforms
# ----------------------------------------------------------------------------------------------
def _c(L, *shape, seed=0, grad=False):
    """A complex128 tensor of seeded normal real and imaginary parts."""
    r = np.random.RandomState(seed)
    return L.tensor(r.randn(*shape) + 1j * r.randn(*shape), requires_grad=grad)


@program
def rfft_irfft_lengths_and_norms_with_gradients(L):
    """rfft with n shorter and longer than the signal under each norm, irfft of an odd
    length (the last bin's imaginary part dropped) and its gradient with respect to the
    half spectrum, the dtype of fft of ints and float32, fftn over chosen dims with s,
    fftshift of fftfreq, hfft/ihfft, and the refusals (rfft of complex, n=0, a bad
    norm)."""
    x = _t(L, 2, 7, seed=22, grad=True)
    spectra = [L.fft.rfft(x, n=n, norm=nm) for n in (None, 4, 10)
               for nm in (None, "ortho", "forward")]
    z = _c(L, 5, seed=23, grad=True)
    back = [L.fft.irfft(z, n=n, norm=nm) for n in (None, 9, 3) for nm in (None, "forward")]
    (sum(s.abs().sum() for s in spectra) + sum(b.pow(2).sum() for b in back)).backward()
    return (spectra, back, x.grad, z.grad, L.fft.fft(L.tensor([1, 2, 3])),
            L.fft.rfft(L.tensor([1.0, 2.0, 3.0])).dtype,
            L.fft.fftn(_t(L, 2, 3, 4, seed=24), s=(2, 5), dim=(0, 2)),
            L.fft.fftshift(L.fft.fftfreq(6, d=0.5)), L.fft.rfftfreq(7),
            L.fft.hfft(_c(L, 4, seed=25), n=6), L.fft.ihfft(_t(L, 6, seed=26)),
            err(lambda: L.fft.rfft(_c(L, 4))), err(lambda: L.fft.fft(_t(L, 4), n=0)),
            err(lambda: L.fft.fft(_t(L, 4), norm="bad")))


@program
def framed_spectra_by_unfold_and_stft_round_trip(L):
    """A hand-made STFT: frames by unfold(size, step), a periodic Hann window, rfft per
    frame; against torch.stft (centered, reflect padding) and back by istft with length;
    a two-sided normalised stft with win_length < n_fft; stft without return_complex
    refused; the gradient of a log-magnitude loss through stft."""
    sig = _t(L, 2, 16, seed=27, grad=True)
    win = L.hann_window(8, periodic=True, dtype=L.float64)
    frames = sig.unfold(-1, 8, 2)
    manual = L.fft.rfft(frames * win, dim=-1)
    spec = L.stft(sig, n_fft=8, hop_length=2, window=win, return_complex=True)
    back = L.istft(spec, 8, 2, window=win, length=16)
    (spec.abs().add(1e-3).log().sum() + manual.abs().sum()).backward()
    two = L.stft(_t(L, 16, seed=28), n_fft=6, hop_length=3, win_length=4,
                 return_complex=True, center=False, onesided=False, normalized=True)
    return (manual, spec, L.allclose(back, sig.detach()), two, sig.grad,
            err(lambda: L.stft(_t(L, 16), 8)))


@program
def polar_angle_and_real_views_of_complex_tensors(L):
    """polar from magnitudes and phases with its gradients through view_as_real, angle of
    negative zero, NaN, ints and complex numbers (and its gradient), view_as_real as a view
    (strides, writes through mul_), view_as_complex of a doubled real view, real/imag
    written in place; the refusals of mixed dtypes in polar, int polar, view_as_real of a
    real tensor and view_as_complex of a non-contiguous pair."""
    nan = float("nan")
    mag = L.tensor([1.0, 2.0, 0.5], dtype=L.float64, requires_grad=True)
    ph = L.tensor([0.0, 1.0, -2.0], dtype=L.float64, requires_grad=True)
    p = L.polar(mag, ph)
    (L.view_as_real(p) * L.tensor([1.0, -2.0], dtype=L.float64)).sum().backward()
    z = _c(L, 3, seed=29, grad=True)
    z.angle().sum().backward()
    w = _c(L, 2, 3, seed=30)
    r = L.view_as_real(w)
    r.mul_(2)
    u = _c(L, 3, seed=31)
    u.real.mul_(0)
    u.imag.add_(1)
    return (p, mag.grad, ph.grad, z.grad, L.tensor([-1.0, 0.0, 2.0, nan, -0.0]).angle(),
            L.tensor([-1, 0, 3]).angle(), L.angle(L.tensor([-1.0 + 0j, -1 - 0j])), r.stride(),
            w, L.view_as_complex(r * 2), u,
            err(lambda: L.polar(L.tensor([1.0]), L.tensor([1.0], dtype=L.float64))),
            err(lambda: L.polar(L.tensor([1]), L.tensor([1]))),
            err(lambda: L.view_as_real(_t(L, 3))),
            err(lambda: L.view_as_complex(_t(L, 3, 2).t().contiguous().t())))


@program
def complex_arithmetic_promotion_and_refusals(L):
    """Complex results of Python complex scalars with int, float32 and float64 tensors,
    complex64 with a 0-d and a 1-d float64 tensor; sgn, sqrt, log, reciprocal, pow; mean,
    prod, cumsum, var and std of complex tensors; a real loss's gradient through |z| and
    z conj(z); the refusals of ordering, max, clamp, floor division and the imaginary part
    of a real tensor."""
    z = _c(L, 3, seed=32, grad=True)
    ((z * z.conj()).real.sum() + z.abs().sum()).backward()
    zd = z.detach()
    promo = [(a * b).dtype for a, b in [(L.tensor([1j]), 2.0), (L.tensor([1.0]), 1j),
                                        (L.tensor([1]), 1j),
                                        (L.tensor([1j], dtype=L.complex64),
                                         L.tensor(2.0, dtype=L.float64)),
                                        (L.tensor([1j], dtype=L.complex64),
                                         L.tensor([2.0], dtype=L.float64))]]
    return (promo, zd.sgn(), zd.sqrt(), zd.log(), zd.reciprocal(), zd ** 2, zd.pow(0.5),
            1 / zd, _c(L, 3, 4, seed=33).mean(0), zd.prod(), zd.cumsum(0), zd.var(),
            _c(L, 4, seed=34).std(), z.grad,
            err(lambda: zd < 0), err(lambda: zd.max()), err(lambda: zd.clamp(0, 1)),
            err(lambda: zd // 2), err(lambda: L.tensor([1.0]).imag))




@program
def fourier_transforms_of_empty_signals(L):
    """What the FFTs say about no data: a transformed dim of size 0 (given or kept by s=-1)
    is an invalid number of points, irfft's default length 2 (m - 1) of an empty half
    spectrum is -2 (the n-D forms check the input's sizes first), an empty batch beside
    non-empty transformed dims is refused by the CPU FFT library, while zero-padding an
    empty signal to n points transforms zeros."""
    c64 = L.complex64
    calls = [lambda: L.fft.fft(L.zeros(0)), lambda: L.fft.rfft(L.zeros(2, 0), dim=1),
             lambda: L.fft.fft(L.zeros(0, 3)), lambda: L.fft.fft(L.zeros(0, 3), dim=0),
             lambda: L.fft.fft2(L.zeros(2, 0)), lambda: L.fft.irfft(L.zeros(0, dtype=c64)),
             lambda: L.fft.hfft(L.zeros(0, 4, dtype=c64)), lambda: L.fft.rfftn(L.zeros(2, 0, 3)),
             lambda: L.fft.fftn(L.zeros(2, 0, 3), dim=(0, 2)),
             lambda: L.fft.irfftn(L.zeros(2, 0, dtype=c64)),
             lambda: L.fft.irfftn(L.zeros(3, 1, dtype=c64)),
             lambda: L.fft.fftn(L.zeros(2, 0), s=(2, -1)),
             lambda: L.fft.fftn(L.zeros(2, 3), s=(0, 3)), lambda: L.fft.ihfft(L.zeros(0, 4))]
    return ([err(c) for c in calls], L.fft.fft(L.zeros(0), n=4),
            L.fft.fft(L.zeros(2, 0), n=3), L.fft.fftn(L.zeros(2, 0), s=(2, 3)),
            L.fft.irfft2(L.zeros(2, 0, dtype=c64), s=(2, 4)))


# ----------------------------------------------------------------------------------------------
# type promotion, integer arithmetic, bits
# ----------------------------------------------------------------------------------------------
@program
def integer_division_and_remainder_with_negative_operands(L):
    """// rounds toward -inf and % takes the divisor's sign, for int and float tensors and
    Python scalars on either side; fmod takes the dividend's sign; div with rounding_mode
    None, 'trunc' and 'floor' (int8 kept); float division by zero gives +-inf and NaN;
    integer division by zero raises; int8 overflow wraps, -(-128) and abs(-128) stay -128."""
    i8 = L.int8
    return (L.tensor([-7, 7, -7, 7]) // L.tensor([2, -2, -2, 2]),
            L.tensor([-7.0, 7.0, -7.5, 0.0]) // L.tensor([2.0, -2.0, 2.0, -3.0]),
            L.tensor([-7, 7]) // 2.5, -7 // L.tensor([2, -3]),
            L.tensor([-7, 7, -7, 7]) % L.tensor([2, -2, -2, 2]),
            L.remainder(L.tensor([-7.5, 7.5, -0.0]), 2), L.remainder(-3, L.tensor([2, -2])),
            L.tensor([5.0, -5.0]) % float("inf"),
            L.fmod(L.tensor([-7, 7]), L.tensor([2, -2])), L.fmod(L.tensor([-7.5, 7.5]), -2),
            [L.div(L.tensor([-7, 7, -1]), L.tensor([2, 2, 3]), rounding_mode=m)
             for m in (None, "trunc", "floor")],
            L.tensor([-7, 5], dtype=i8).div(2, rounding_mode="floor"),
            L.tensor([1.0, -1.0, 0.0]) // 0, L.tensor([1, 0]) / 0,
            L.tensor([-7, 7, -8, 5, 0], dtype=i8) * 20, -L.tensor([-128], dtype=i8),
            L.tensor([-128], dtype=i8).abs(), L.tensor([1, 2], dtype=L.uint8) - 3,
            err(lambda: L.tensor([1]) // 0), err(lambda: L.tensor([1]) % L.tensor([0])),
            err(lambda: L.div(L.tensor([1]), 0, rounding_mode="trunc")))


@program
def promotion_of_tensors_with_python_scalars_and_zero_dim_tensors(L):
    """Result dtypes: int8 + 1000 stays int8 (wraps), uint8 * 2.5 is float32, bool + bool
    and bool + int, int16 with a 0-d int64 (int16) and a 0-d float (float32), float16 with a
    0-d float64 (float16), int32 * 1j, bfloat16 with float16, uint8 with int8 (int16); in-
    place ops that would need a downcast refused; where/clamp/masked_fill promotion."""
    t = L.tensor
    results = [t([1], dtype=L.int8) + 1000, t([1], dtype=L.uint8) * 2.5, t([True]) + True,
               t([True]) + 1, t([1], dtype=L.int16) + t(5), t([1], dtype=L.int16) + t(5.0),
               t([1.0], dtype=L.float16) + t(5.0, dtype=L.float64),
               t([1], dtype=L.int32) * 1j,
               t([1.0], dtype=L.bfloat16) + t([1.0], dtype=L.float16),
               t(1, dtype=L.uint8) + t(1, dtype=L.int8), t([True]) * t(2.5, dtype=L.float64),
               t([1, 2]) / t([2, 4]), t([1, 2], dtype=L.int8) / 2,
               L.where(t([True, False]), t([1, 2]), 2.5), L.where(t([True, False]), 1, 0),
               L.where(t([True, False]), t([1], dtype=L.int8), t(300)),
               t([1, 5, 9]).clamp(2.5, 7.5), t([1, 5], dtype=L.uint8).clamp(-1, 3),
               t([1, 2]).masked_fill(t([True, False]), 2.7)]
    return ([r.dtype for r in results], [r.float() if r.dtype == L.bfloat16 else r
                                         for r in results],
            t([1.0, 2.0]).add_(t([1, 2])), t([1, 2]).floor_divide_(t(2)),
            err(lambda: t([1, 2]).add_(1.5)), err(lambda: t([1, 2]).div_(2)),
            err(lambda: t([True]).add_(1)), err(lambda: t([1.0]).mul_(1j)),
            err(lambda: t([True]) - t([False])), err(lambda: -t([True])),
            err(lambda: t([1, 2]).masked_fill(t([True, False]), float("inf"))))


@program
def bitwise_ops_and_shifts_on_every_integer_width(L):
    """and/or/xor/not of int8 with Python ints and 0-d tensors, of bools (xor with True),
    of uint8 (not of 0 is 255), an int with a bool tensor; left and right shifts of int8
    (arithmetic right shift of negatives), of int64 past the width (zero, or -1 for a
    negative), of uint8 by 9, by negative amounts, a Python int shifted by a tensor; in-
    place forms; gcd/lcm with negatives and zeros; the refusals of float operands."""
    x = L.tensor([-7, 7, -8, 5, 0], dtype=L.int8)
    y = L.tensor([7, 4, 1])
    y &= 6
    y |= 1
    y ^= L.tensor([2, 2, 2])
    y <<= 1
    y >>= 2
    return (x & 3, x | L.tensor(-16, dtype=L.int8), x ^ 0x0F, ~x,
            ~L.tensor([True, False]), L.tensor([True, False]) ^ True,
            L.bitwise_not(L.tensor([0, 255], dtype=L.uint8)), L.tensor([5]) & L.tensor([True]),
            x << 2, x >> 1, L.tensor([1, 2]) << L.tensor([62, 63]), L.tensor([-1]) >> 70,
            L.tensor([1]) << 64, L.tensor([1], dtype=L.uint8) << 9,
            L.tensor([200], dtype=L.uint8) >> 3, 1 << L.tensor([3, 4]),
            L.tensor([8, -8]) >> -1, L.tensor([8], dtype=L.int8) >> 9, y,
            L.gcd(L.tensor([12, -18, 0]), L.tensor([8, 12, 0])),
            L.lcm(L.tensor([4, -6, 0]), L.tensor([6, 4, 5])),
            err(lambda: L.tensor([1.0]) & 1), err(lambda: ~L.tensor([1.0])),
            err(lambda: L.tensor([1]) & 1.5), err(lambda: L.tensor([1.5]) << 2))


@program
def integer_powers_rounding_and_reduction_dtypes(L):
    """Integer pow (wrapping int8, a negative exponent refused), float_power's float64,
    round half to even with decimals (refused on ints), sums of int8 and bool to int64,
    prod of uint8, cumsum's dtype, mean of ints refused, float-to-int truncation toward
    zero; xlogy with zero and NaN, copysign with signed zeros, signbit, nextafter."""
    t = L.tensor
    return (t([2, 3]) ** 2, t([2, -3]) ** t([3, 3]), t([0, 1, -1]) ** 0,
            t([2], dtype=L.int8) ** 7, L.float_power(t([2, 3]), 2),
            L.float_power(t([-8.0]), 1 / 3), t([0.5, 1.5, 2.5, -0.5, -1.5]).round(),
            t([1.2345, -2.5551]).round(decimals=2), err(lambda: t([15, 25]).round(decimals=-1)),
            t([1234.5678], dtype=L.float64).round(decimals=-2),
            t([1, 2], dtype=L.int8).sum(), t([True, True]).sum(),
            t([3, 4], dtype=L.uint8).prod(), t([3, 4], dtype=L.int16).cumsum(0).dtype,
            t([1, 2]).sum(dtype=L.float32), t([-1.7, 2.9, 300.0]).to(L.int64),
            t([0.0, -0.0, 0.1]).bool(),
            L.xlogy(t([0.0, 1.0, 2.0]), t([0.0, 0.0, float("nan")])),
            L.copysign(t([1, 2]), t([-0.0, 0.0])), L.signbit(t([-0.0, 0.0, -1])),
            L.nextafter(t([1.0], dtype=L.float64), t([2.0], dtype=L.float64)) - 1,
            err(lambda: t([2]) ** -1), err(lambda: 2 ** t([3, -1])),
            err(lambda: t([1, 2]).mean()))



# ----------------------------------------------------------------------------------------------
# NaN and infinity
# ----------------------------------------------------------------------------------------------
@program
def nan_to_num_isclose_allclose_and_clamp_with_nan(L):
    """nan_to_num's defaults (the dtype's largest finite values, float16 included) and given
    replacements, on ints (unchanged) and complex parts, and its gradient (zero where
    replaced); isclose with NaN and infinities, equal_nan, ints; allclose
    with equal_nan and broadcasting; clamp propagating NaN from the input and from a NaN
    bound, min > max giving max, and its gradient at the bounds; the refusals of a
    negative rtol, bool or int against float, allclose across dtypes and clamp without bounds."""
    nan, inf = float("nan"), float("inf")
    x = L.tensor([nan, inf, 1.0, -inf], dtype=L.float64, requires_grad=True)
    x.nan_to_num(posinf=5.0).sum().backward()
    c = L.tensor([0.0, 0.5, 1.0, 2.0, nan], dtype=L.float64, requires_grad=True)
    c.clamp(0.0, 1.0).sum().backward()
    return (L.tensor([nan, inf, -inf, 1.0]).nan_to_num(),
            L.tensor([nan, inf, -inf], dtype=L.float16).nan_to_num().float(),
            L.nan_to_num(L.tensor([nan, inf, -inf]), nan=0.5, posinf=1e30, neginf=-2),
            L.tensor([1, 2]).nan_to_num(), L.tensor([complex(nan, inf)]).nan_to_num(), x.grad,
            L.isclose(L.tensor([1.0, nan, inf, -inf, 1e-9]),
                      L.tensor([1.0 + 1e-9, nan, inf, inf, 0.0])),
            L.isclose(L.tensor([nan, 1.0]), L.tensor([nan, 1.1]), equal_nan=True, rtol=0.2),
            L.isclose(L.tensor([1, 2]), L.tensor([1, 3])),
            L.allclose(L.tensor([nan, 1.0]), L.tensor([nan, 1.0])),
            L.allclose(L.tensor([nan, 1.0]), L.tensor([nan, 1.0]), equal_nan=True),
            L.allclose(L.tensor([1.0, 2.0]), L.tensor([1.0]), atol=0.0, rtol=1.0),
            L.tensor([nan, -1.0, 5.0]).clamp(0, 1), L.tensor([1.0, 2.0]).clamp(min=nan),
            L.tensor([1.0, 2.0]).clamp(max=L.tensor([nan, 3.0])),
            L.tensor([1.0, 2.0, 3.0]).clamp(2.5, 1.5), c.grad,
            err(lambda: L.isclose(L.tensor([1.0]), L.tensor([1.0]), rtol=-1)),
            err(lambda: L.isclose(L.tensor([True]), L.tensor([1.0]))),
            err(lambda: L.isclose(L.tensor([1]), L.tensor([1.0]))),
            err(lambda: L.allclose(L.tensor([1.0]), L.tensor([1.0], dtype=L.float64))),
            err(lambda: L.tensor([1.0]).clamp()))


@program
def reductions_and_softmax_over_nan_and_infinities(L):
    """max/argmax/amin propagate NaN where maximum does and fmax/fmin skip it; nansum and
    nanmean (all-NaN rows give NaN, ints refused by nanmean); sums and means of +-inf,
    std of one element, empty means, sums and products; logsumexp and softmax over -inf
    rows (NaN for an all--inf softmax) and +inf; the refusals of max/argmax of an empty
    tensor; a log guarded by where still passes NaN-free gradients."""
    nan, inf = float("nan"), float("inf")
    x = L.tensor([1.0, 0.0, -1.0], dtype=L.float64, requires_grad=True)
    L.where(x > 0, x.log(), L.zeros_like(x)).sum().backward()
    safe = L.tensor([1.0, 0.0, -1.0], dtype=L.float64, requires_grad=True)
    L.where(safe > 0, safe.clamp(min=1e-12).log(), L.zeros_like(safe)).sum().backward()
    return (L.tensor([1.0, nan, 3.0]).max(), L.tensor([[1.0, nan], [2.0, 3.0]]).max(1),
            L.maximum(L.tensor([nan, 1.0]), L.tensor([0.0, nan])),
            L.fmax(L.tensor([nan, 1.0]), L.tensor([0.0, nan])),
            L.tensor([nan, 1.0]).argmax(), L.tensor([1.0, nan]).amin(),
            L.tensor([nan, nan]).fmin(L.tensor([nan, 1.0])), L.tensor([1.0, nan, 2.0]).nansum(),
            L.tensor([[nan, nan], [1.0, nan]]).nanmean(1), L.tensor([1, 2]).nansum(),
            L.tensor([inf, -inf]).sum(), L.tensor([inf, -inf]).mean(), L.tensor([1.0]).std(),
            L.tensor([1.0]).var(correction=0), L.tensor([]).mean(), L.tensor([]).sum(),
            L.tensor([]).prod(), L.tensor([-inf, -inf]).logsumexp(0),
            L.tensor([inf, 1.0]).logsumexp(0), L.zeros(0).logsumexp(0),
            L.tensor([1, 2]).logsumexp(0), L.tensor([-inf, -inf, 0.0]).softmax(0),
            L.tensor([-inf, -inf]).softmax(0), L.tensor([-inf, 0.0]).log_softmax(0),
            L.zeros(0, 3).max(1), x.grad, safe.grad,
            err(lambda: L.tensor([1, 2]).nanmean()), err(lambda: L.tensor([]).max()),
            err(lambda: L.zeros(0, 3).max(0)), err(lambda: L.tensor([]).argmax()))


@program
def histograms_and_bincount_with_edges_and_weights(L):
    """histc skipping NaN and values outside [min, max], with min == max taken from the
    data; histogram with a bin count and with explicit edges and density; bincount with
    float64 weights and minlength, of an empty tensor; histogramdd's counts and edges; the
    refusals of negative and float inputs to bincount."""
    nan = float("nan")
    pts = L.tensor(normal32(10, 2, seed=35))
    hdd = L.histogramdd(pts, bins=[2, 3])
    return (L.histc(L.tensor([1.0, 2.0, 1.0, nan, 5.0]), bins=4, min=0, max=4),
            L.histc(L.tensor([1.0, 1.0]), bins=3),
            L.histogram(L.tensor([1.0, 2.0, 1.0, 3.0]), bins=3),
            L.histogram(L.tensor([1.0, 2.0, 1.0, 3.0]), bins=L.tensor([0.0, 1.5, 4.0]),
                        density=True),
            L.bincount(L.tensor([1, 1, 4])),
            L.bincount(L.tensor([1, 1, 4]), weights=L.tensor([0.5, 0.5, 2.0],
                                                             dtype=L.float64), minlength=7),
            L.bincount(L.tensor([], dtype=L.int64)), hdd.hist, list(hdd.bin_edges),
            err(lambda: L.bincount(L.tensor([-1, 2]))),
            err(lambda: L.bincount(L.tensor([1.0, 2.0]))))



# ----------------------------------------------------------------------------------------------
# random sampling
# ----------------------------------------------------------------------------------------------
@program
def sampling_from_a_private_generator(L):
    """A torch.Generator seeded on its own drives multinomial (with and without
    replacement, over rows), randperm (int32 and float64 dtypes, n=0), the in-place
    samplers (normal_, uniform_, exponential_, random_ with and without bounds, cauchy_,
    log_normal_, geometric_), normal with tensor and scalar arguments, bernoulli with
    tensor p and float p, rand/randn/randint; a generator's state saved and restored
    replays its draws; the global stream is untouched by all of it."""
    L.manual_seed(100)
    g = L.Generator().manual_seed(3)
    draws = [L.multinomial(L.tensor([0.1, 0.5, 0.4]), 5, replacement=True, generator=g),
             L.multinomial(L.tensor([[1.0, 2.0, 0.0, 3.0], [0.0, 0.0, 1.0, 1.0]]), 2,
                           generator=g),
             L.randperm(7, generator=g), L.randperm(0),
             L.randperm(5, dtype=L.int32, generator=g),
             L.randperm(3, generator=g, dtype=L.float64),
             L.empty(3, dtype=L.float64).normal_(2.0, 0.5, generator=g),
             L.empty(2).uniform_(-1, 1, generator=g), L.empty(4).exponential_(2.0, generator=g),
             L.empty(3).random_(0, 10, generator=g),
             L.empty(3, dtype=L.int64).random_(5, generator=g),
             L.empty(2).cauchy_(generator=g), L.empty(2).log_normal_(generator=g),
             L.empty(3).geometric_(0.3, generator=g),
             L.normal(L.tensor([0.0, 10.0]), L.tensor([1.0, 2.0]), generator=g),
             L.normal(0.0, L.tensor([1.0, 2.0], dtype=L.float64), generator=g),
             L.normal(2.0, 3.0, (2, 2), generator=g),
             L.bernoulli(L.tensor([0.1, 0.9, 0.5, 0.5]), generator=g),
             L.empty(4).bernoulli_(0.3, generator=g),
             L.rand(2, 3, generator=g, dtype=L.float64), L.randn(3, generator=g),
             L.randint(-5, 5, (4,), generator=g), L.randint(3, (2,), generator=g)]
    state = g.get_state()
    first = L.rand(3, generator=g)
    g.set_state(state)
    return draws, first, L.rand(3, generator=g), g.initial_seed(), L.rand(2)


@program
def sampler_refusals_users_hit(L):
    """multinomial without replacement asking for more than the nonzero categories,
    negative or all-zero weights, int weights; normal with a negative std (functional and
    in place); a generator seeded with a negative number (wraps, no error); bernoulli
    with p outside [0, 1]; randint with low >= high; randperm of a negative n."""
    return (err(lambda: L.multinomial(L.tensor([1.0, 0.0]), 2)),
            err(lambda: L.multinomial(L.tensor([-1.0, 2.0]), 1)),
            err(lambda: L.multinomial(L.tensor([0.0, 0.0]), 1)),
            err(lambda: L.multinomial(L.tensor([1, 2]), 1)),
            err(lambda: L.normal(0.0, -1.0, (2,))), err(lambda: L.empty(2).normal_(0, -1)),
            L.rand(2, generator=L.Generator().manual_seed(-1)),
            err(lambda: L.bernoulli(L.tensor([1.5]))),
            err(lambda: L.randint(3, 3, (2,))), err(lambda: L.randperm(-1)))


@program
def distributions_sampling_rsample_and_log_prob(L):
    """After manual_seed: Normal rsample with its pathwise gradients and sample; Categorical
    samples, log_prob, entropy and support; Bernoulli by logits; MultivariateNormal by
    scale_tril; a TransformedDistribution (affine then sigmoid) sampled and scored; a
    Gaussian mixture; a low-rank MVN; OneHot and relaxed categoricals; rsample refused for
    a discrete law; the argument checks users trip."""
    D = L.distributions
    f64 = dict(dtype=L.float64)
    L.manual_seed(4)
    mu = L.tensor([0.5, -1.0], requires_grad=True, **f64)
    sd = L.tensor([2.0, 0.5], requires_grad=True, **f64)
    normal = D.Normal(mu, sd)
    x = normal.rsample((3,))
    (x.pow(2).sum() + normal.log_prob(L.tensor([0.0, 1.0], **f64)).sum()).backward()
    cat = D.Categorical(logits=L.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, -1.0]]))
    mvn = D.MultivariateNormal(L.zeros(2, **f64),
                               scale_tril=L.tensor([[1.0, 0.0], [0.5, 2.0]], **f64))
    td = D.TransformedDistribution(D.Normal(L.zeros(2, **f64), L.ones(2, **f64)),
                                   [D.transforms.AffineTransform(1.0, 2.0),
                                    D.transforms.SigmoidTransform()])
    y = td.rsample((2,))
    mix = D.MixtureSameFamily(D.Categorical(L.tensor([0.3, 0.7], **f64)),
                              D.Normal(L.tensor([-1.0, 2.0], **f64),
                                       L.tensor([0.5, 1.0], **f64)))
    low = D.LowRankMultivariateNormal(L.zeros(3, **f64), L.tensor([[1.0], [0.5], [0.0]], **f64),
                                      L.ones(3, **f64))
    oh = D.OneHotCategorical(probs=L.tensor([[0.2, 0.8], [0.6, 0.4]]))
    relaxed = D.RelaxedOneHotCategorical(L.tensor(0.5), logits=L.tensor([0.0, 1.0, 2.0]))
    return (x, normal.sample(), mu.grad, sd.grad, cat.sample((4,)),
            cat.log_prob(L.tensor([0, 2])), cat.entropy(), cat.enumerate_support(),
            D.Bernoulli(logits=L.tensor([0.3, -2.0])).sample((3,)), mvn.rsample((2,)),
            mvn.log_prob(L.zeros(2, **f64)), mvn.entropy(), y, td.log_prob(y),
            mix.sample((4,)), mix.log_prob(L.tensor([0.0, 1.5], **f64)), mix.mean,
            mix.variance, low.rsample((2,)), low.log_prob(L.ones(3, **f64)), low.entropy(),
            oh.sample((3,)), relaxed.rsample((2,)),
            err(lambda: D.Categorical(probs=L.tensor([0.5, 0.5])).rsample()),
            err(lambda: D.Normal(L.tensor([0.0]), L.tensor([-1.0]))),
            err(lambda: D.Bernoulli(probs=L.tensor([0.5]), logits=L.tensor([0.0]))),
            err(lambda: D.MultivariateNormal(L.zeros(2), L.eye(3))),
            err(lambda: D.Categorical(L.tensor([0.5, 0.5])).log_prob(L.tensor([2]))))


@program
def discrete_and_heavy_tailed_laws_under_a_seed(L):
    """Draws after manual_seed from Gamma, Beta, Dirichlet, Poisson, Binomial, Multinomial,
    NegativeBinomial, Geometric, Exponential, StudentT, Laplace, Cauchy, Gumbel, HalfNormal,
    VonMises, Weibull and Chi2, and log_probs of the count laws."""
    D = L.distributions
    L.manual_seed(8)
    multi = D.Multinomial(5, probs=L.tensor([0.2, 0.3, 0.5]))
    return (D.Gamma(L.tensor([2.0, 0.5]), L.tensor([1.0, 3.0])).sample((2,)),
            D.Beta(L.tensor([2.0]), L.tensor([3.0])).sample((2,)),
            D.Dirichlet(L.tensor([1.0, 2.0, 3.0])).sample(), L.poisson(L.tensor([1.0, 5.0, 0.0])),
            D.Binomial(10, L.tensor([0.3, 0.7])).sample(), multi.sample((2,)),
            multi.log_prob(L.tensor([1.0, 1.0, 3.0])),
            D.Binomial(L.tensor([5, 10]), probs=L.tensor([0.5, 0.2])).log_prob(
                L.tensor([2.0, 3.0])),
            D.NegativeBinomial(3.0, L.tensor([0.4])).sample((3,)),
            D.Geometric(L.tensor([0.3])).sample((4,)), D.Exponential(L.tensor([2.0])).rsample((2,)),
            D.StudentT(L.tensor([3.0])).rsample((2,)), D.Laplace(0.0, 1.0).rsample((3,)),
            D.Cauchy(0.0, 1.0).sample((2,)), D.Gumbel(0.0, 1.0).rsample((2,)),
            D.HalfNormal(1.0).sample((2,)), D.VonMises(L.tensor(0.0), L.tensor(1.0)).sample((2,)),
            D.Weibull(1.0, 2.0).sample((2,)), D.Chi2(L.tensor([2.0])).sample(),
            D.Poisson(L.tensor([2.0])).log_prob(L.tensor([3.0])))



# ----------------------------------------------------------------------------------------------
# in-place ops on views, hooks and grad modes
# ----------------------------------------------------------------------------------------------
@program
def inplace_writes_through_views_of_a_non_leaf(L):
    """A clone written through a row slice (mul_), its diagonal (add_), a row of its
    transpose (zero_); a view of a view (view then column slice) sigmoid_-ed; in-place
    t_/unsqueeze_/squeeze_/transpose_ on a non-leaf; the gradient reaches the leaf through
    every write; the node names of the rebased tensors and the version counters."""
    a = _t(L, 4, 3, seed=36, grad=True)
    b = a.clone()
    v = b[1:3]
    v.mul_(2)
    b.diagonal().add_(1)
    b.t()[0].zero_()
    (b * L.arange(12.0, dtype=L.float64).view(4, 3)).sum().backward()
    c = _t(L, 2, 6, seed=37, grad=True)
    x = c * 1
    x.view(3, 4)[:, 1:3].sigmoid_()
    x.sum().backward()
    d = a * 1
    d.t_()
    d.unsqueeze_(0)
    d.squeeze_(0)
    d.transpose_(0, 1)
    return (b, a.grad, b.grad_fn.name(), v.grad_fn.name(), b._version, x, c.grad,
            L.equal(d, a), d.shape)


@program
def leaf_and_version_errors_users_hit(L):
    """In-place ops on a leaf that requires grad (directly, through a slice, through a
    view), requires_grad_ on an int tensor and on a non-leaf (set False), in-place t_ on a
    leaf; writes under no_grad are allowed and keep it a leaf; an output saved for backward
    (exp) modified in place fails at backward with torch's version message, while sigmoid's
    input is not saved so its in-place add is fine; a detached alias zeroed in place."""
    a = _t(L, 3, seed=38, grad=True)
    with L.no_grad():
        a.add_(1)
        a[0] = 5.0
    (a * a).sum().backward()
    s = _t(L, 3, seed=39, grad=True).sigmoid()
    s2 = s * 1
    s2.add_(1)
    s2.sum().backward()
    e = _t(L, 3, seed=40, grad=True).exp()
    e.mul_(2)
    b = _t(L, 3, seed=41, grad=True) * 2
    b.detach().zero_()
    return (a, a.grad, a.is_leaf, err(lambda: a.add_(1)), err(lambda: a[0].mul_(2)),
            err(lambda: a.view(3).zero_()), err(lambda: L.tensor([1, 2]).requires_grad_()),
            err(lambda: (a * 2).requires_grad_(False)), err(lambda: a.t_()),
            err(lambda: e.sum().backward()), b)


@program
def tensor_hooks_retain_grad_and_post_accumulate(L):
    """register_hook on a leaf (an observing hook and a scaling one, removed between two
    backward passes) and on a non-leaf (changing what flows on), retain_grad on a non-leaf
    and on a view of it, a hook that clamps, autograd.grad running non-leaf hooks but not
    filling .grad, post-accumulate-grad hooks on a leaf across two passes; the refusals of
    hooks on tensors that do not require grad and of post-accumulate hooks on non-leaves."""
    x = _t(L, 3, seed=42, grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()))
    scale = x.register_hook(lambda g: g * 10)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g + 1)
    z = (y ** 2).sum()
    z.backward(retain_graph=True)
    first = x.grad.clone()
    scale.remove()
    x.grad = None
    z.backward()
    h = _t(L, 2, 3, seed=43, grad=True).exp()
    h.retain_grad()
    hv = h.view(6)
    hv.retain_grad()
    hv.sum().backward()
    c = _t(L, 3, seed=44, grad=True)
    c.register_hook(lambda g: g.clamp(-0.1, 0.1))
    (c * 5).sum().backward()
    w = _t(L, 3, seed=45, grad=True)
    ew = w.exp()
    ew.register_hook(lambda g: g * 2)
    gw, = L.autograd.grad(ew.sum(), w)
    p = _t(L, 3, seed=46, grad=True)
    calls = []
    p.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.clone()))
    (p * 3).sum().backward()
    (p * 1).sum().backward()
    return (seen, first, x.grad, y.grad, y.retains_grad, x.retains_grad, h.grad, hv.grad,
            c.grad, gw, w.grad, calls,
            err(lambda: L.tensor([1.0]).register_hook(lambda g: g)),
            err(lambda: (p * 2).register_post_accumulate_grad_hook(lambda t: None)),
            err(lambda: p.detach().retain_grad()))


@program
def grad_modes_as_decorators_and_context_managers(L):
    """no_grad, enable_grad, set_grad_enabled(False) and inference_mode used as decorators
    (with and without parentheses), on a generator function (each step under the mode),
    enable_grad inside no_grad, set_grad_enabled as a plain call and as a context; the
    decorated function keeps its name and docstring."""
    @L.no_grad()
    def doubled(t):
        """Twice t."""
        return t * 2

    @L.enable_grad()
    def tripled(t):
        return t * 3

    @L.set_grad_enabled(False)
    def quadrupled(t):
        return t * 4

    @L.inference_mode()
    def quintupled(t):
        return t * 5

    @L.no_grad
    def bare(t):
        return t * 6

    x = _t(L, 2, seed=47, grad=True)

    def steps():
        for i in range(2):
            yield (x * i).requires_grad

    with L.no_grad():
        inner = tripled(x)
        nested = L.is_grad_enabled()
    out = [doubled(x).requires_grad, tripled(x).requires_grad, inner.requires_grad,
           nested, quadrupled(x).requires_grad, L.is_grad_enabled(),
           quintupled(x).requires_grad, quintupled(x).is_inference(), bare(x).requires_grad,
           list(L.no_grad()(steps)()), doubled.__name__, doubled.__doc__]
    with L.set_grad_enabled(False):
        out.append(L.is_grad_enabled())
    L.set_grad_enabled(False)
    out.append((x * 2).requires_grad)
    L.set_grad_enabled(True)
    out.append((x * 2).requires_grad)
    return out


@program
def module_pre_and_post_hooks_with_kwargs(L):
    """A forward pre-hook with with_kwargs=True rewriting a keyword argument, a forward
    hook with kwargs changing the output, a prepended positional pre-hook that zeroes the
    input, removal by handles; full backward pre-hooks scaling grad_output and full
    backward hooks observing; a with_kwargs pre-hook that returns the wrong thing."""
    nn = L.nn

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2).double()

        def forward(self, x, scale=1.0):
            return self.lin(x) * scale

    L.manual_seed(0)
    m = Scaled()
    log = []

    def pre(mod, args, kwargs):
        log.append(sorted(kwargs))
        return args, dict(kwargs, scale=kwargs.get("scale", 1.0) * 2)

    def post(mod, args, kwargs, out):
        log.append(("post", sorted(kwargs)))
        return out + 1

    h1 = m.register_forward_pre_hook(pre, with_kwargs=True)
    h2 = m.register_forward_hook(post, with_kwargs=True)
    x = _t(L, 1, 2, seed=48)
    a, b = m(x, scale=3.0), m(x)
    h3 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,), prepend=True)
    c = m(x, scale=1.0)
    for h in (h1, h2, h3):
        h.remove()
    d = m(x)
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    seq = nn.Sequential(nn.Linear(3, 2), nn.Tanh()).double()
    seq[0].register_full_backward_pre_hook(
        lambda mod, go: log.append(("pre", tuple(go[0].shape))) or (go[0] * 2,))
    seq[0].register_full_backward_hook(
        lambda mod, gi, go: log.append(("bw", gi[0] is None, tuple(go[0].shape))))
    inp = _t(L, 4, 3, seed=49, grad=True)
    seq(inp).sum().backward()
    return a, b, c, d, log, inp.grad, seq[0].weight.grad, err(lambda: m(x))



# ----------------------------------------------------------------------------------------------
# advanced indexing, splits and more scatter corners
# ----------------------------------------------------------------------------------------------
def _grid(L, *shape):
    """arange over ``shape`` (int64), a fresh tensor."""
    return L.arange(int(np.prod(shape))).view(*shape)


@program
def advanced_indexing_layouts_and_writes(L):
    """Index tensors separated by a slice (their dims go first) and adjacent (in place);
    a broadcast pair of index tensors; bool masks over one dim, 0-d True/False, a list of
    bools, uint8 masks, int32 indices (int16 refused), numpy arrays and numpy ints; writes by
    __setitem__ with a broadcast column, a mask, an ellipsis, repeated (row, col) pairs, a
    float into an int tensor (truncated), a numpy scalar (a numpy array is refused); the
    gradient of reads with repeated indices and of a masked read; the errors users meet."""
    g = _grid(L, 2, 3, 4)
    m = _grid(L, 2, 3)
    w = _grid(L, 2, 4).clone()
    w[:, [0, 2]] = L.tensor([[7], [8]])
    w[w > 8] = -1
    w[..., 1] = L.tensor([100, 200])
    w[[0, 1], [3, 3]] = 5
    f = _grid(L, 3).clone()
    f[0] = 2.7
    f[1] = L.tensor(3.9)
    n = _grid(L, 2, 4).double()
    n[1, :] = np.float64(2.5)
    a = _t(L, 3, 4, seed=50, grad=True)
    (a[[0, 0, 2], [1, 1, 0]].sum() + a[a > 0].sum()).backward()
    return (g[[0, 1], :, [1, 2]], g[:, [0, 2], [1, 3]], g[[1], ..., None].shape,
            g[L.tensor([[0], [1]]), :, L.tensor([0, 3])].shape, g[0, [1, 2], 1:3],
            m[L.tensor([True, False])], m[:, L.tensor([True, False, True])],
            m[L.tensor(True)].shape, m[L.tensor(False)].shape, m[[True, False]],
            _grid(L, 3)[L.tensor([1, 0, 1], dtype=L.uint8)],
            _grid(L, 4)[L.tensor([3, 0], dtype=L.int32)],
            m[np.array([1, 0])], m[np.int64(1)], m[:, np.array([True, False, True])],
            m[L.tensor([], dtype=L.int64)].shape, m[:, []].shape, w, f, n, a.grad,
            err(lambda: m[[0, 2]]), err(lambda: m[L.tensor([True, False, True])]),
            err(lambda: m[0, 0, 0]), err(lambda: _grid(L, 4)[::-1]),
            err(lambda: _grid(L, 4)[L.tensor([1.0])]),
            err(lambda: _grid(L, 4)[L.tensor([1], dtype=L.int16)]),
            err(lambda: m.__setitem__(0, L.tensor([1, 2]))),
            err(lambda: n.__setitem__(0, np.array([9.0, 8.0, 7.0, 6.0]))))


@program
def splits_chunks_and_rearranging_copies(L):
    """tensor_split by a count, by indices past the end, by a 0-d tensor; split by sizes
    and by a chunk size; chunk of 5 into 4 (three pieces); hsplit/vsplit/dsplit; diff with
    prepend and append, of bools, of too short a tensor; flips and rot90 both ways; roll
    without dims and with several; narrow with a tensor start and negative start; tile,
    repeat, kron, block_diag of mixed shapes and dtypes; cartesian products and
    combinations; tril/triu indices with offsets; the refusals users meet."""
    r7 = L.arange(7)
    m = _grid(L, 2, 3)
    return ([t.shape for t in _grid(L, 4, 6).tensor_split(4, dim=1)],
            [t.shape for t in _grid(L, 4, 6).tensor_split([1, 1, 10], dim=1)],
            r7.tensor_split(L.tensor(3)), r7.split([3, 4]), r7.split(3), L.arange(5).chunk(4),
            m.hsplit(3), _grid(L, 4, 3).vsplit([1, 3]),
            [t.shape for t in _grid(L, 2, 4, 6).dsplit([2])],
            L.tensor([1, 4, 9, 16]).diff(n=2, prepend=L.tensor([0]), append=L.tensor([25, 36])),
            L.tensor([True, False, False]).diff(), L.tensor([1.0]).diff(n=3),
            m.flip(0, 1), m.rot90(), m.rot90(-3, (1, 0)), m.fliplr(), m.roll(1),
            m.roll((1, -4), (0, 1)), m.t().roll(-1, 0), L.arange(10).narrow(0, L.tensor(2), 3),
            L.arange(10).narrow(0, -3, 2), L.tensor([1, 2]).tile((2, 2)),
            L.tensor([1, 2]).repeat(2, 1, 2),
            L.kron(L.tensor([[1, 2], [3, 4]]), L.eye(2, dtype=L.int64)),
            L.block_diag(L.tensor([[1, 2]]), L.tensor(3), L.tensor([[4.0], [5.0]])),
            L.cartesian_prod(L.tensor([1, 2]), L.tensor([3, 4, 5])),
            L.combinations(L.tensor([1, 2, 3]), 2, with_replacement=True),
            L.combinations(L.tensor([1, 2]), 3), L.tril_indices(3, 4, offset=-1),
            L.triu_indices(4, 3, 1),
            err(lambda: r7.split([3, 3])), err(lambda: _grid(L, 4, 6).dsplit(2)),
            err(lambda: L.arange(3).fliplr()), err(lambda: m.rot90(1, (0, 0))),
            err(lambda: L.arange(6).roll((1, 2), (0,))),
            err(lambda: L.arange(10).narrow(0, 8, 3)))


@program
def scatter_forms_gathers_and_their_gradients(L):
    """scatter_ with reduce='add'/'multiply' (the legacy forms), scatter of a scalar value,
    scatter_add with a source larger than the index, scatter_reduce on bools and with NaN
    sources (amax keeps NaN), int mean rounding toward zero; index_reduce over int rows;
    gather of bools and of a 0-d tensor, with an empty index; take and put (with
    accumulate) and their gradients; the gradient of a NaN-holding amax and of a prod over
    zeros (self and source)."""
    nan = float("nan")
    src = L.tensor([nan, 1.0, 2.0], dtype=L.float64, requires_grad=True)
    L.zeros(2, dtype=L.float64).scatter_reduce(0, L.tensor([0, 0, 1]), src, "amax",
                                                include_self=False).sum().backward()
    base = L.tensor([2.0, 0.0], dtype=L.float64, requires_grad=True)
    zs = L.tensor([0.0, 3.0, 0.0, 0.0], dtype=L.float64, requires_grad=True)
    base.scatter_reduce(0, L.tensor([0, 0, 1, 1]), zs, "prod").sum().backward()
    t = _t(L, 2, 3, seed=51, grad=True)
    v = _t(L, 2, seed=52, grad=True)
    (t.take(L.tensor([0, 0, 5])).sum() + t.put(L.tensor([0, 4]), v).pow(2).sum()).backward()
    rows = L.tensor([[2, 3], [4, 5]])
    return (L.zeros(3).scatter_(0, L.tensor([0, 0, 2]), L.tensor([1.0, 2.0, 3.0]), reduce="add"),
            L.ones(3).scatter_(0, L.tensor([0, 0, 2]), L.tensor([2.0, 2.0, 3.0]),
                               reduce="multiply"),
            L.zeros(2, 3).scatter(1, L.tensor([[0], [2]]), 1.5),
            L.zeros(2, 3).scatter_add(1, L.tensor([[0, 1], [2, 2]]), L.ones(3, 4)),
            L.tensor([False, True]).scatter_reduce(0, L.tensor([0, 0]),
                                                   L.tensor([True, False]), "sum"),
            L.zeros(2).scatter_reduce(0, L.tensor([0, 0, 1]), L.tensor([nan, 1.0, 2.0]), "amax"),
            L.tensor([0, 0, 0]).scatter_reduce(0, L.tensor([0, 0, 1, 1, 2]),
                                               L.tensor([-3, -4, 5, -6, 7]), "mean",
                                               include_self=False),
            [rows.index_reduce(0, L.tensor([0, 0, 1]), L.tensor([[-3, 1], [7, 2], [-9, 4]]),
                               r, include_self=s)
             for r in ("prod", "mean", "amax", "amin") for s in (True, False)],
            L.tensor([[True, False], [False, True]]).gather(1, L.tensor([[1, 1], [0, 1]])),
            L.tensor(5.0).gather(0, L.tensor(0)), t.detach().gather(-1, L.zeros(2, 0,
                                                                            dtype=L.int64)),
            L.zeros(2, 3).put_(L.tensor([1, 1]), L.tensor([9.0, 8.0]), accumulate=True),
            src.grad, base.grad, zs.grad, t.grad, v.grad,
            err(lambda: L.zeros(3).scatter_(0, L.tensor([3]), 1.0)),
            err(lambda: L.zeros(3).scatter_reduce_(0, L.tensor([0]), L.tensor([1.0]), "add")),
            err(lambda: L.tensor([False, True]).scatter_reduce(0, L.tensor([0, 1]),
                                                               L.tensor([True, False]),
                                                               "mean")),
            err(lambda: t.detach().take(L.tensor([6]))),
            err(lambda: L.zeros(2).index_reduce(0, L.tensor([0]), L.ones(1), "sum")))


@program
def view_rules_strides_and_dtype_views(L):
    """view succeeds on non-contiguous tensors where the merged dims are contiguous with
    each other (size-1 dims anywhere, a split of a transposed dim) and fails otherwise;
    reshape shares memory when it can (a write shows through) and copies when it cannot;
    views as another dtype (float to int32 bits, int16 to uint8, a shape change) and their
    refusals; views of empty tensors; unflatten with -1; movedim with lists; storage
    offsets of slices, selects and narrows; squeeze of several dims."""
    g = _grid(L, 2, 3, 4)
    x = _grid(L, 2, 3).clone()
    shared, copied = x.reshape(6), x.t().reshape(6)
    shared[0] = 99
    copied[1] = -1
    r = _grid(L, 4, 5)
    return (g.transpose(0, 1)[:, :, None].view(3, 2, 1, 4).stride(),
            _grid(L, 2, 1, 4).transpose(0, 1).view(2, 4).stride(),
            _grid(L, 4, 6).t().view(3, 2, 4).stride(), _grid(L, 6, 4)[::2].view(3, 2, 2).stride(),
            x, L.tensor([1.0, -2.0]).view(L.int32), L.tensor([1, 2], dtype=L.int16).view(L.uint8),
            L.tensor([[1.0, 2.0]]).view(L.float16).shape,
            L.tensor([1, 2, 3, 4], dtype=L.uint8).view(L.int16), L.zeros(0, 3).view(-1).shape,
            L.zeros(0, 3).view(3, 0).shape, err(lambda: L.zeros(0, 3).reshape(0, -1)),
            _grid(L, 2, 12).unflatten(1, (3, -1)).shape,
            _grid(L, 2, 12).unflatten(-1, (2, 2, -1)).shape,
            _grid(L, 2, 3, 4, 5).movedim([0, 1], [-1, -2]).shape,
            r[1:, 2:].storage_offset(), r[1:, 2:].t().storage_offset(),
            r.select(1, 3).storage_offset(), r.narrow(0, 1, 2).flatten().storage_offset(),
            r.diagonal(1).stride(), L.zeros(1, 2, 1, 3).squeeze((0, 2)).shape,
            L.tensor(3).squeeze(0).shape,
            err(lambda: g.permute(1, 0, 2).view(3, 8)), err(lambda: _grid(L, 4, 6).t().view(24)),
            err(lambda: L.tensor([1.0, 2.0, 3.0]).view(L.float64)),
            err(lambda: L.tensor([[1.0, 2.0]]).t().view(L.float16)),
            err(lambda: L.zeros(0, 3).view(-1, 0)),
            err(lambda: _grid(L, 2, 12).unflatten(1, (5, -1))),
            err(lambda: _grid(L, 2, 3).movedim([0, 0], [1, 0])),
            err(lambda: _grid(L, 2, 3).permute(0, 0)), err(lambda: L.tensor(3).squeeze(1)))



# ----------------------------------------------------------------------------------------------
# numerics at awkward points, autograd refusals
# ----------------------------------------------------------------------------------------------
@program
def special_functions_and_gradients_at_awkward_points(L):
    """torch.special functions over negatives, zero, infinities and NaN (entr, erfcx, i0e,
    i1, log_ndtr, ndtr, expit, sinc, erfinv, ndtri, lgamma, digamma, bessel_j0); their
    gradients at 0; polygamma of orders 0-3 at poles and halves; multigammaln and its
    domain refusal; logit with eps and its gradient; the gradients of sqrt, pow, atan2,
    hypot, norm and dist at zero (subgradients as torch picks them); logaddexp with -inf
    on both sides and its gradient; trapezoid and cumulative_trapezoid; cov with frequency
    and analytic weights and its gradient."""
    nan, inf = float("nan"), float("inf")
    sp = L.special
    v = L.tensor([-2.0, -0.5, 0.0, 0.5, 3.0, inf, -inf, nan], dtype=L.float64)
    values = [f(v) for f in (sp.entr, sp.erfcx, sp.i0e, sp.i1, sp.log_ndtr, sp.ndtr, sp.expit,
                             sp.sinc, sp.erfinv, sp.ndtri, L.lgamma, L.digamma, sp.bessel_j0)]
    x = L.tensor([0.0, 0.5, 2.0], dtype=L.float64, requires_grad=True)
    (sp.entr(x) + sp.erfcx(x) + sp.i0e(x) + sp.log_ndtr(x) + sp.sinc(x) + sp.xlog1py(x, x) +
     x.sqrt() + x ** 1.5 + L.logit(x.clamp(max=0.9), eps=0.1)).sum().backward()
    a = L.tensor([0.0, 1.0], dtype=L.float64, requires_grad=True)
    b = L.tensor([0.0, 0.0], dtype=L.float64, requires_grad=True)
    (L.atan2(a, b) + L.hypot(a, b)).sum().backward()
    norms = []
    for p in (1, 2, 3, inf, 0.5):
        z = L.zeros(2, dtype=L.float64, requires_grad=True)
        z.norm(p=p).backward()
        norms.append(z.grad)
    u = L.tensor([-inf, 0.0], dtype=L.float64, requires_grad=True)
    w = L.tensor([-inf, 1.0], dtype=L.float64, requires_grad=True)
    L.logaddexp(u, w).sum().backward()
    c = _t(L, 2, 4, seed=53, grad=True)
    L.cov(c, aweights=L.tensor([1.0, 2.0, 0.5, 1.0], dtype=L.float64)).sum().backward()
    return (values, x.grad, [sp.polygamma(n, L.tensor([0.5, 1.0, 3.0, -1.5, 0.0],
                                                      dtype=L.float64)) for n in range(4)],
            sp.multigammaln(L.tensor([2.5, 3.0], dtype=L.float64), 2), a.grad, b.grad, norms,
            L.logaddexp(L.tensor([-inf, inf, -inf, 1.0]), L.tensor([-inf, inf, 2.0, nan])),
            u.grad, w.grad, L.trapezoid(L.tensor([1.0, 2.0, 4.0]), x=L.tensor([0.0, 1.0, 3.0])),
            L.cumulative_trapezoid(L.tensor([[1.0, 2.0, 4.0], [0.0, 1.0, 0.0]]), dim=1),
            L.trapezoid(L.tensor([1, 2, 4])), L.trapezoid(L.tensor([])),
            L.cov(_t(L, 3, 5, seed=54), correction=0, fweights=L.tensor([1, 2, 1, 1, 3]),
                  aweights=L.tensor([0.5, 1.0, 1.0, 2.0, 1.0], dtype=L.float64)), c.grad,
            err(lambda: sp.multigammaln(L.tensor([0.5]), 2)),
            err(lambda: L.cov(_t(L, 2, 3), fweights=L.tensor([1.0, 2.0, 1.0]))))


@program
def autograd_refusals_and_what_hooks_may_return(L):
    """A hook returning a gradient of the wrong shape or dtype; backward of a non-scalar
    without a gradient, with a mismatched gradient, twice through freed buffers, of a
    tensor without grad_fn; autograd.grad of an unused input (refused, allowed, and
    materialised as zeros); in-place writes into a view made under no_grad and into the
    outputs of split/unbind/chunk; a hook on a view of a leaf; retain_grad and hooks
    around an in-place op; assigning .grad of the wrong shape or a list."""
    x = _t(L, 3, seed=55, grad=True)
    bad_shape = x * 2
    bad_shape.register_hook(lambda g: g[:2])
    bad_dtype = x * 2
    bad_dtype.register_hook(lambda g: g.float())
    once = x.exp().sum()
    once.backward()
    w = _t(L, 3, seed=56, grad=True)
    y = w * 1
    with L.no_grad():
        nv = y[:2]
    grid = _t(L, 2, 3, seed=57, grad=True)
    row = grid[0]
    row.register_hook(lambda g: g * 3)
    (row.sum() + grid.sum()).backward()
    r = w * 2
    r.retain_grad()
    log = []
    r.register_hook(lambda g: log.append(("before", g.clone())))
    r.mul_(3)
    r.register_hook(lambda g: log.append(("after", g.clone())))
    (r * r).sum().backward()
    return (err(lambda: bad_shape.sum().backward()), err(lambda: bad_dtype.sum().backward()),
            err(lambda: (x * 2).backward()), err(lambda: (x * 2).backward(L.ones(2))),
            err(lambda: once.backward()), err(lambda: _t(L, 3).sum().backward()),
            err(lambda: L.autograd.grad((x * 2).sum(), [x, w])),
            L.autograd.grad((x * 2).sum(), [x, w], allow_unused=True),
            L.autograd.grad((x * 2).sum(), [x, w], allow_unused=True, materialize_grads=True),
            err(lambda: nv.mul_(2)), err(lambda: y.split(2)[0].mul_(2)),
            err(lambda: y.unbind(0)[0].add_(1)), err(lambda: y.chunk(2)[0].zero_()),
            grid.grad, r.grad, log, w.grad, r.grad_fn.name(),
            err(lambda: setattr(x, "grad", L.zeros(2, dtype=L.float64))),
            err(lambda: setattr(x, "grad", [1, 2, 3])))



@program
def indexed_and_random_writes_into_a_transposed_slice(L):
    """Every in-place indexed write (scatter_, scatter_reduce_, index_add_ with alpha,
    index_copy_, index_fill_, index_put_ with accumulate, masked_scatter_, masked_fill_,
    put_, advanced __setitem__, index_reduce_), clamp_, sort and cumsum with out= the view,
    copy_ broadcasting a row, fill_diagonal_, tril_, and the random fills (uniform_,
    normal_, bernoulli_, random_, exponential_ after manual_seed, drawn in the view's
    logical order) applied to a non-contiguous slice of a transpose: the writes land in
    the base tensor."""
    def into_view(op):
        base = _grid(L, 4, 5).double()
        view = base.t()[1:4]
        op(view)
        return base

    t = L.tensor
    f64 = L.float64
    ops = [lambda v: v.scatter_(1, t([[0, 1], [2, 2], [3, 0]]), -1.0),
           lambda v: v.scatter_reduce_(1, t([[0, 0], [2, 2], [3, 0]]),
                                       L.ones(3, 2, dtype=f64) * 7, "amax",
                                       include_self=False),
           lambda v: v.index_add_(1, t([0, 0, 3]), L.ones(3, 3, dtype=f64), alpha=2),
           lambda v: v.index_copy_(0, t([2, 0]), L.zeros(2, 4, dtype=f64)),
           lambda v: v.index_fill_(1, t([1, 3]), 0.5),
           lambda v: v.index_put_((t([0, 0, 2]), t([1, 1, 3])), t([1.0, 2.0, 3.0], dtype=f64),
                                  accumulate=True),
           lambda v: v.masked_scatter_(v > 10, L.arange(20.0, dtype=f64)),
           lambda v: v.masked_fill_(v > 10, -2),
           lambda v: v.put_(t([0, 5, 11]), t([9.0, 8.0, 7.0], dtype=f64)),
           lambda v: v.__setitem__((t([0, 2]), slice(None)), 0.0),
           lambda v: v.index_reduce_(1, t([0, 0, 3]), L.full((3, 3), 2.0, dtype=f64), "prod"),
           lambda v: v.clamp_(5, 12),
           lambda v: L.sort(v.clone(), dim=1, descending=True,
                            out=(v, L.empty(0, dtype=L.int64))),
           lambda v: L.cumsum(v.clone(), 1, out=v), lambda v: v.copy_(t([1, 2, 3, 4])),
           lambda v: v.fill_diagonal_(-5), lambda v: v.tril_(1)]
    written = [into_view(op) for op in ops]
    drawn = []
    for fill in (lambda v: v.uniform_(), lambda v: v.normal_(), lambda v: v.bernoulli_(0.5),
                 lambda v: v.random_(0, 5), lambda v: v.exponential_()):
        L.manual_seed(0)
        drawn.append(into_view(fill))
    return written, drawn



@program
def half_precision_rounding_and_integer_accumulation(L):
    """float16 and bfloat16 arithmetic, reductions (accumulated in float32, rounded once),
    cumsum, softmax, dot, var, norm and activations, a float16 product; float16 overflow
    to inf, ties of bfloat16 rounding, float64 -> float32 -> float64 round trips; int32 sums
    widen to int64 while cumsum wraps, int8 and uint8 products wrap; mixed integer division; arange,
    linspace and logspace dtypes and steps, full's inferred dtypes, fill_ truncating into
    int8; comparisons of half tensors with Python floats and float64 tensors."""
    h = normal32(8, seed=58)
    out = []
    for dt in (L.float16, L.bfloat16):
        a, b = L.tensor(h, dtype=dt), L.tensor(h[::-1].copy(), dtype=dt)
        out.append([r.float() for r in (a + b, a * b, a / b, a.exp(), a.sum(), a.mean(),
                                        a.cumsum(0), a.softmax(0), a @ b, a.var(), a.norm(),
                                        L.nn.functional.silu(a),
                                        L.full((5000,), 1.1, dtype=dt).sum())])
    i32 = L.tensor([2 ** 31 - 1, 1], dtype=L.int32)
    return (out, L.tensor(h, dtype=L.float16).prod().float(),
            (L.tensor([1.0], dtype=L.float16) + 1e-4).float(),
            (L.tensor([60000.0], dtype=L.float16) * 2).float(),
            L.tensor([0.1], dtype=L.float16).item(), (L.tensor([0.1], dtype=L.bfloat16) * 3).item(),
            L.tensor([70000.0]).half().float(),
            L.tensor([1.00390625, 1.01171875]).bfloat16().float(),
            L.tensor([0.1, 1 / 3, 1e-8], dtype=L.float64).float().double(),
            i32.sum(), i32.cumsum(0), L.tensor([200, 100], dtype=L.uint8).sum(),
            L.tensor([255], dtype=L.uint8).prod(), L.tensor([100, 100], dtype=L.int8).prod(),
            L.tensor([7], dtype=L.uint8) // L.tensor([2], dtype=L.int8),
            L.tensor([-7], dtype=L.int16) % 3, L.tensor([300, -129]).to(L.int8),
            L.arange(0, 1, 0.25), L.arange(1, 2, 0.3, dtype=L.float64),
            L.linspace(0, 10, 4, dtype=L.int64), L.logspace(0, 2, 3, base=2),
            L.arange(10, 0, -3), [L.full((2,), v).dtype for v in (3, True, 1.5, 1j)],
            L.zeros(2, dtype=L.int8).fill_(3.9), L.full_like(L.tensor([1, 2]), 2.7),
            L.tensor([0.1], dtype=L.float16) == 0.1,
            L.tensor([0.1], dtype=L.float16) < L.tensor(0.1, dtype=L.float64),
            err(lambda: L.arange(0, 5, 0)), err(lambda: L.arange(0, 5, -1)))


_SLOW = set()
# programs that end in torch's exception (minigrad must raise the same, with its words)
_RAISING = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    raised = HARNESS.check(fn, **fn.options)
    assert (raised is not None) == (fn.__name__ in _RAISING), raised
