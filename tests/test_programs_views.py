"""Views and their autograd semantics, run on minigrad and on torch.

Each ``program(lib)`` is a short piece of everyday tensor manipulation: which movement ops
return views (writes showing in the base, ``_base``, strides, storage offsets), in-place
writes into views of leaves and of non-leaves (the gradient flowing through the base), the
refusal of in-place writes into the outputs of split/chunk/unbind and into views made under
no_grad, and the edge cases of cat/stack, splitting, sorting, unique, searchsorted, einsum
and friends.  It runs with ``lib`` = minigrad and ``lib`` = torch on the same numpy inputs;
the two must agree in values, gradients, dtypes and shapes, or raise the same exception type
with torch's words in the message.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, registry  # noqa: E402

HARNESS = SideBySide(tol={"float32": 1e-5, "float64": 1e-9}, nan_scalars=False,
                     tag=lambda v: type(v) is list)
PROGRAMS, program = registry()


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape)


def _leaf(lib, *shape, seed=0):
    return lib.tensor(_rand(*shape, seed=seed), requires_grad=True)


# ----------------------------------------------------------------------------------------------
# which ops return views
# ----------------------------------------------------------------------------------------------
@program
def views_write_through(lib):
    x = lib.arange(24.0).reshape(2, 3, 4)
    x.view(6, 4)[0, 0] = -1
    x.permute(2, 0, 1)[1, 0, 0] = -2
    x.transpose(0, 2)[2, 0, 0] = -3
    x.narrow(2, 1, 2)[1, 1, 0] = -4
    x.select(1, 2)[0, 3] = -5
    x.flatten(1)[1, 5] = -6
    x.unflatten(2, (2, 2))[1, 2, 1, 1] = -7
    x.movedim(0, -1)[0, 3, 1] = -8
    x.diagonal(0, 1, 2)[0, 1] = -9
    x[0].unfold(1, 2, 2)[2, 1, 0] = -10
    x.squeeze().unsqueeze(0)[0, 1, 1, 1] = -11
    return x


@program
def view_bases(lib):
    x = lib.arange(12.0).reshape(3, 4)
    base = x._base
    outs = dict(
        view=x.view(12), t=x.t(), perm=x.permute(1, 0), exp=x[:, :1].expand(3, 5),
        sq=x.unsqueeze(0).squeeze(0), nar=x.narrow(1, 1, 2), sel=x.select(0, 1),
        unf=x.unfold(1, 2, 1), diag=x.diagonal(), strided=x.as_strided((2, 2), (1, 4), 1),
        mov=x.movedim(1, 0), flat=x.flatten(), real=x.view_as(x), det=x.detach(),
    )
    return dict(
        base_of_x=base is None,
        is_x={k: v._base is base for k, v in outs.items()},
        shares={k: v.data_ptr() >= x.data_ptr() for k, v in outs.items()},
        strides={k: v.stride() for k, v in outs.items()},
        offsets={k: v.storage_offset() for k, v in outs.items()},
        contig={k: v.is_contiguous() for k, v in outs.items()},
    )


@program
def base_is_root(lib):
    x = lib.zeros(4, 6)
    a = x[1:]
    b = a.t()[2:]
    c = b.reshape(-1)          # b is not contiguous: a copy
    d = x.flatten()            # contiguous: a view
    return dict(b=b._base is x, c=c._base is None, d=d._base is x, dc=d.is_contiguous(),
                cs=c.stride(), bo=b.storage_offset(), bs=b.stride())


@program
def reshape_copies_or_views(lib):
    x = lib.arange(12.0).reshape(3, 4)
    r1 = x.t().reshape(12)
    r1[0] = 100
    r2 = x.reshape(4, 3)
    r2[0, 0] = -1
    r3 = x[:, ::2].reshape(6)
    r3[0] = 50
    return dict(x=x, r1=r1._base is None, r2=r2._base is x, r3=r3._base is None)


@program
def view_noncontig_err(lib):
    return lib.zeros(3, 4).t().view(12)


@program
def view_noncontig_err2(lib):
    return lib.zeros(2, 3, 4).permute(0, 2, 1).view(2, 12)


@program
def view_noncontig_ok(lib):
    x = lib.zeros(2, 3, 4).permute(0, 2, 1)
    return dict(a=x.view(2, 4, 3).shape, b=x.view(2, 4, 1, 3).stride(),
                c=x[:, :, :1].view(2, 4).stride(), d=x.reshape(2, 12).stride())


@program
def flatten_unflatten_edge(lib):
    x = lib.arange(24).reshape(2, 3, 4)
    return dict(a=x.flatten(0, 1).shape, b=x.flatten(-2).shape, c=x.unflatten(-1, (-1, 2)).shape,
                d=lib.tensor(5).flatten().shape, e=x.unflatten(1, (1, 3, 1)).stride(),
                f=x.flatten(1, 1) is x, g=x.flatten().is_contiguous())


@program
def unflatten_bad_err(lib):
    return lib.zeros(2, 6).unflatten(1, (4, -1))


@program
def squeeze_tuple(lib):
    x = lib.zeros(1, 3, 1, 2, 1)
    return dict(a=x.squeeze((0, 2)).shape, b=x.squeeze(-1).shape, c=x.squeeze(1).shape,
                d=x.squeeze().stride(), e=x.unsqueeze(-1).stride(), f=x.squeeze(()).shape)


@program
def movedim_multi(lib):
    x = lib.arange(24).reshape(2, 3, 4)
    return dict(a=x.movedim((0, 1), (2, 0)), b=x.moveaxis(-1, 0).stride(),
                c=lib.movedim(x, 1, 1).shape)


@program
def movedim_repeat_err(lib):
    return lib.zeros(2, 3).movedim((0, 0), (1, 0))


@program
def expand_strides(lib):
    x = lib.arange(3.0).view(3, 1)
    e = x.expand(2, 3, 4)
    return dict(s=e.stride(), c=e.is_contiguous(), m=e.contiguous().stride(),
                neg=x.expand(-1, 2).shape)


@program
def narrow_tensor_start(lib):
    x = lib.arange(10)
    return dict(a=x.narrow(0, lib.tensor(2), 3), b=x.narrow(0, -3, 2), c=x.narrow(0, 10, 0))


@program
def as_strided_overlap(lib):
    x = lib.arange(10.0)
    w = x.as_strided((4, 3), (2, 1))
    y = _leaf(lib, 10)
    z = y.as_strided((4, 3), (2, 1), 1)
    (z * z).sum().backward()
    return dict(w=w, off=z.storage_offset(), g=y.grad)


@program
def unfold_grad(lib):
    y = _leaf(lib, 2, 9, seed=1)
    u = y.unfold(1, 3, 2)
    (u ** 2 * lib.arange(3.0)).sum().backward()
    return dict(u=u.shape, s=u.stride(), g=y.grad)


@program
def unfold_err(lib):
    return lib.zeros(4).unfold(0, 5, 1)


@program
def diagonal_grad(lib):
    y = _leaf(lib, 3, 4, 5, seed=2)
    d = y.diagonal(offset=-1, dim1=2, dim2=0)
    (d * d).sum().backward()
    return dict(d=d, s=d.stride(), o=d.storage_offset(), g=y.grad)


@program
def diagonal_same_dim_err(lib):
    return lib.zeros(3, 3).diagonal(0, 1, 1)


# ----------------------------------------------------------------------------------------------
# in-place writes through views, with autograd
# ----------------------------------------------------------------------------------------------
@program
def inplace_view_of_nonleaf_grad(lib):
    w = _leaf(lib, 4, 5, seed=3)
    y = w * 3
    y.t()[1:3].mul_(2)
    y.narrow(1, 0, 2).unsqueeze(0).add_(1.5)
    y.diagonal().zero_()
    y.unfold(0, 2, 2)[0, :, 1] = 7.0
    y.select(1, 4).add_(y.select(1, 3))
    (y ** 2).sum().backward()
    return dict(y=y, g=w.grad)


@program
def inplace_view_other_requires_grad(lib):
    base = lib.zeros(3, 4, dtype=lib.float64)
    src = _leaf(lib, 4, seed=4)
    base[1] = src * 2
    base.t()[2].add_(src[:3])
    view = base[:, 1:]
    out = (base.sum() + (view ** 2).sum())
    out.backward()
    return dict(base=base, rg=base.requires_grad, g=src.grad, leaf=base.is_leaf)


@program
def inplace_base_then_view_grad(lib):
    w = _leaf(lib, 6, seed=5)
    y = w.clone()
    v = y[2:5]
    y.mul_(3)                  # v's history is refreshed from y's
    (v * v).sum().backward()
    return dict(v=v, g=w.grad)


@program
def inplace_leaf_view_err(lib):
    w = _leaf(lib, 4, 3)
    return w.t().mul_(2)


@program
def inplace_leaf_view_setitem_err(lib):
    w = _leaf(lib, 4, 3)
    w.view(12)[0] = 1.0
    return w


@program
def inplace_leaf_view_nograd_ok(lib):
    w = _leaf(lib, 4, 3)
    with lib.no_grad():
        w.t()[0].fill_(2)
        w.view(-1)[5:].mul_(0)
    (w * w).sum().backward()
    return dict(w=w, g=w.grad, v=w._version)


@program(words="one of the variables needed for gradient computation has been modified by "
         "an inplace operation")
def saved_view_modified_err(lib):
    w = _leaf(lib, 5)
    y = w * 1
    v = y[1:]
    z = v.exp()                # saves its output
    y.add_(1)
    # exp's own output is untouched, but sigmoid saves v which was modified
    s = v.sigmoid()
    v2 = y[:3]
    t = v2.sin()               # saves v2
    y.mul_(2)
    (z.sum() + s.sum() + t.sum()).backward()


@program
def versions_shared(lib):
    x = lib.zeros(4)
    v = x[1:]
    t = v.t()
    v.add_(1)
    t.mul_(2)
    x.view(2, 2).sub_(1)
    return dict(x=x._version, v=v._version, t=t._version, d=x.detach()._version)


# ----------------------------------------------------------------------------------------------
# outputs of ops returning several views
# ----------------------------------------------------------------------------------------------
def _multi_err(op):
    def prog(lib):
        y = _leaf(lib, 6, seed=6) * 2
        return op(y)
    prog.__name__ = op.__name__
    return prog


for _name, _op in dict(
        unbind_add_err=lambda y: y.unbind()[2].add_(1),
        split_mul_err=lambda y: y.split(4)[1].mul_(2),
        split_sizes_err=lambda y: y.split([1, 5])[1].zero_(),
        chunk_setitem_err=lambda y: y.chunk(3)[2].__setitem__(0, 1.0),
        chunk_copy_err=lambda y: y.chunk(2)[0].copy_(lib_ones(y)),
        unbind_view_of_view_err=lambda y: y.view(2, 3).unbind(1)[1].view(2, 1).add_(1),
        unbind_select_err=lambda y: y.view(3, 2).unbind()[0][1].neg_(),
        split_unsqueeze_err=lambda y: y.split(3)[0].unsqueeze_(0),
        split_relu_err=lambda y: y.split(2)[1].relu_(),
        split_single_err=lambda y: y.split(6)[0].add_(1),
        split_with_sizes_err=lambda y: y.split_with_sizes([2, 4])[1].add_(1),
).items():
    _op.__name__ = _name
    program(_multi_err(_op), words="is a view and is being modified inplace. This view is the "
            "output of a function that returns multiple views. Such functions do not allow "
            "the output views to be modified inplace")


def lib_ones(y):
    return (y[:3] * 0 + 1).detach()


@program
def multi_views_allowed(lib):
    """What torch lets through: no grad to record, .data/.detach(), tensor_split and the
    h/v/dsplit spellings (slices), unsafe_split/unsafe_chunk, out-of-place use."""
    y = _leaf(lib, 6, seed=6) * 2
    x = lib.arange(6.0)
    x.split(2)[1].add_(10)
    x.unbind()[0].mul_(-1)
    with lib.no_grad():
        y.split(3)[0].add_(1)
    y.split(3)[1].detach().add_(0)
    y.split(3)[1].data.mul_(1)
    a = y.tensor_split(2)[1].add_(1)
    b = y.view(2, 3).hsplit(3)[2].mul_(2)
    c = y.unsafe_split(2)[1].add_(1)
    d = y.unsafe_chunk(3)[0].mul_(3)
    e = y.split(2)[1] + 1
    y.sum().backward()
    return dict(x=x, y=y, a=a, b=b, c=c, d=d, e=e)


@program
def multi_views_nograd_base_err(lib):
    x = lib.arange(6.0)
    w = lib.ones(3, requires_grad=True)
    x.split(3)[0].add_(w)


@program
def nograd_view_err(lib):
    y = _leaf(lib, 6) * 2
    with lib.no_grad():
        v = y[:3]
    v.mul_(2)


@program
def nograd_view_other_err(lib):
    x = lib.zeros(6)
    with lib.no_grad():
        v = x[:3]
    v.add_(lib.ones(3, requires_grad=True))


@program
def nograd_view_plain_ok(lib):
    x = lib.zeros(6)
    with lib.no_grad():
        v = x[:3]
    v.add_(1)
    y = _leaf(lib, 6) * 2
    with lib.no_grad():
        u = y[:3]
        u.add_(1)              # inside the block: fine
    return dict(x=x, y=y)


@program
def rnn_still_trains(lib):
    lib.manual_seed(0)
    for cls in (lib.nn.LSTM, lib.nn.GRU):
        m = cls(3, 4, batch_first=True).double()
        with lib.no_grad():
            for i, p in enumerate(m.parameters()):
                p.copy_(lib.tensor(_rand(*p.shape, seed=i) * 0.3))
        x = lib.tensor(_rand(2, 5, 3, seed=9), requires_grad=True)
        out, _ = m(x)
        out.sum().backward()
    cell = lib.nn.LSTMCell(3, 4).double()
    with lib.no_grad():
        for i, p in enumerate(cell.parameters()):
            p.copy_(lib.tensor(_rand(*p.shape, seed=i + 20) * 0.3))
    h, c = cell(x[:, 0])
    return dict(out=out, g=x.grad, h=h, c=c)


# ----------------------------------------------------------------------------------------------
# cat/stack, split edge cases
# ----------------------------------------------------------------------------------------------
@program
def cat_mixed(lib):
    a = lib.tensor([1, 2], dtype=lib.int32)
    b = lib.tensor([0.5], dtype=lib.float16)
    c = lib.tensor([True])
    e = lib.zeros(0)
    e2 = lib.zeros(0, dtype=lib.int64)
    return dict(ab=lib.cat([a, b]), ac=lib.cat([a, c]), ae=lib.cat([a, e]), ae2=lib.cat([a, e2]),
                legacy=lib.cat([lib.zeros(2, 3), lib.zeros(0)]).shape,
                hs=lib.hstack([a, c]), vs=lib.vstack([a, a]), ds=lib.dstack([a, a]).shape,
                st=lib.stack([a, a.double()], 1), cs=lib.column_stack([a, a.float(), a.bool()]))


@program
def cat_dim_err(lib):
    return lib.cat([lib.zeros(2, 3), lib.zeros(2, 4)])


@program
def stack_dim_err(lib):
    return lib.stack([lib.zeros(2), lib.zeros(2)], dim=3)


@program
def cat_grad_mixed(lib):
    a = _leaf(lib, 2, 3)
    b = lib.tensor(_rand(1, 3, seed=1), dtype=lib.float32, requires_grad=True)
    out = lib.cat([a, b, lib.zeros(0, 3, dtype=lib.float64)])
    (out * lib.arange(9.0).view(3, 3)).sum().backward()
    return dict(out=out, ga=a.grad, gb=b.grad)


@program
def splits_edge(lib):
    x = lib.arange(10).view(2, 5)
    return dict(
        a=[t.shape for t in x.split(2, 1)], b=[t.shape for t in x.chunk(4, 1)],
        c=[t.shape for t in x.chunk(6, 1)], d=[t.shape for t in x.tensor_split(3, 1)],
        e=[t.shape for t in x.tensor_split([1, 4, 2, 9], 1)],
        f=[t.shape for t in x.tensor_split(lib.tensor([2]), 1)],
        g=[t.shape for t in lib.zeros(0, 2).chunk(3)], h=[t.shape for t in x.split([0, 5, 0], 1)],
        i=[t.stride() for t in x.unbind(1)], j=[t.storage_offset() for t in x.split(2, 1)],
    )


@program
def split_sizes_err(lib):
    return lib.zeros(5).split([2, 2])


@program
def tensor_split_zero_err(lib):
    return lib.zeros(5).tensor_split(0)


@program
def tensor_split_float_err(lib):
    return lib.zeros(5).tensor_split(lib.tensor([1.0]))


@program
def split_grad(lib):
    w = _leaf(lib, 3, 4, seed=7)
    a, b = w.split([1, 3], 1)
    c, d, e = w.unbind(0)
    (a.sum() * 2 + (b ** 2).sum() + (c * d * e).sum()).backward()
    return w.grad


# ----------------------------------------------------------------------------------------------
# gather/scatter/index shape errors
# ----------------------------------------------------------------------------------------------
@program
def gather_ndim_err(lib):
    return lib.zeros(2, 3).gather(1, lib.zeros(2, dtype=lib.int64))


@program
def gather_size_err(lib):
    return lib.zeros(2, 3).gather(1, lib.zeros(3, 2, dtype=lib.int64))


@program
def scatter_src_err(lib):
    return lib.zeros(2, 3).scatter(1, lib.zeros(2, 2, dtype=lib.int64), lib.zeros(2, 1))


@program
def index_select_err(lib):
    return lib.zeros(2, 3).index_select(1, lib.zeros(2, 2, dtype=lib.int64))


@program
def index_select_float_err(lib):
    return lib.zeros(2, 3).index_select(1, lib.zeros(2))


@program
def take_along_dim_ok(lib):
    x = lib.tensor(_rand(3, 4, seed=8))
    i = x.argsort(1)
    return dict(a=lib.take_along_dim(x, i, 1), b=lib.take_along_dim(x, x.argmax().view(1)),
                c=lib.take_along_dim(x, lib.tensor([[0], [1], [2]]), 1),
                d=lib.take_along_dim(x, lib.tensor([[0, 1, 2, 0]]), 0))


@program
def take_along_dim_err(lib):
    return lib.take_along_dim(lib.zeros(3, 4), lib.zeros(3, dtype=lib.int64), 1)


# ----------------------------------------------------------------------------------------------
# sort/topk/kthvalue/unique
# ----------------------------------------------------------------------------------------------
@program
def sort_topk_kth(lib):
    x = lib.tensor([[3.0, 1.0, 3.0, 2.0, 1.0], [0.0, -1.0, 5.0, 5.0, 2.0]])
    s = x.sort(stable=True, descending=True)
    k = x.topk(2, largest=False)
    kv = x.kthvalue(3, 1, keepdim=True)
    return dict(sv=s.values, si=s.indices, a=x.argsort(dim=1, stable=True),
                ad=x.argsort(dim=0, descending=True, stable=True),
                kv=k.values, kvals=kv.values, kind=kv.indices, msort=x.msort(),
                t3=x.topk(3, dim=0 if False else 1).values,
                z=x.topk(0).values.shape)


@program
def sort_grad(lib):
    w = _leaf(lib, 3, 5, seed=10)
    v, i = w.sort(1, descending=True)
    t = w.topk(2, 0).values
    k = w.kthvalue(2, 1).values
    (v * lib.arange(5.0)).sum().add(t.sum() * 3 + k.sum()).backward()
    return dict(i=i, g=w.grad)


@program
def kthvalue_err(lib):
    return lib.zeros(2, 3).kthvalue(4)


@program
def unique_variants(lib):
    x = lib.tensor([[2, 1, 2], [0, 1, 2], [2, 1, 2]])
    u, inv, cnt = lib.unique(x, return_inverse=True, return_counts=True)
    r, rinv = lib.unique(x, dim=0, return_inverse=True)
    c, cinv, ccnt = lib.unique(x, dim=1, return_inverse=True, return_counts=True)
    uc, ucinv, uccnt = lib.unique_consecutive(lib.tensor([1, 1, 2, 2, 3, 1, 1]),
                                              return_inverse=True, return_counts=True)
    ucd = lib.unique_consecutive(x, dim=0)
    return dict(u=u, inv=inv, cnt=cnt, r=r, rinv=rinv, c=c, cinv=cinv, ccnt=ccnt, uc=uc,
                ucinv=ucinv, uccnt=uccnt, ucd=ucd, e=lib.unique(lib.zeros(0)).shape,
                f=lib.unique(lib.tensor([1.0, float("nan"), 1.0])).shape)


# ----------------------------------------------------------------------------------------------
# flip/roll/rot90, repeat, tril/triu
# ----------------------------------------------------------------------------------------------
@program
def flip_roll_rot(lib):
    x = lib.arange(12).view(3, 4)
    return dict(f=x.flip(0, 1), fl=x.fliplr(), fu=x.flipud(), r=x.roll(1), r2=x.roll((1, -1), (0, 1)),
                r3=x.roll(-5, 1), rot=x.rot90(), rot2=x.rot90(-3, (1, 0)), rot4=x.rot90(4),
                fb=x.flip(0)._base is None)


@program
def rot90_err(lib):
    return lib.zeros(2, 2).rot90(1, (0, 0))


@program
def roll_err(lib):
    return lib.zeros(2, 2).roll((1, 2), (0,))


@program
def repeat_variants(lib):
    x = lib.tensor([[1, 2], [3, 4]])
    return dict(r=x.repeat(2, 1, 3), ri=x.repeat_interleave(2), rd=x.repeat_interleave(
        lib.tensor([1, 2]), dim=0), ro=x.repeat_interleave(lib.tensor([0, 3]), dim=1,
                                                           output_size=3),
        rt=lib.repeat_interleave(lib.tensor([2, 0, 1])), t=x.tile((2,)), e=x.repeat(0, 1).shape)


@program
def repeat_fewer_err(lib):
    return lib.zeros(2, 3).repeat(2)


@program
def repeat_interleave_neg_err(lib):
    return lib.zeros(3).repeat_interleave(lib.tensor([1, -1, 2]))


@program
def tril_triu(lib):
    x = lib.arange(1.0, 13.0).view(3, 4)
    w = _leaf(lib, 2, 3, 3)
    (w.tril(-1) * 2 + w.triu(1)).sum().backward()
    return dict(a=x.tril(), b=x.tril(1), c=x.triu(-1), d=x.triu(5), e=x.tril(-5), g=w.grad,
                i=lib.tril_indices(3, 4, 1), j=lib.triu_indices(4, 3, -1))


@program
def tril_1d_err(lib):
    return lib.zeros(3).tril()


# ----------------------------------------------------------------------------------------------
# einsum, meshgrid, cartesian_prod, searchsorted
# ----------------------------------------------------------------------------------------------
@program
def einsum_corners(lib):
    a = lib.tensor(_rand(2, 3, 3, seed=11))
    b = lib.tensor(_rand(3, 4, seed=12))
    return dict(tr=lib.einsum("bii->b", a), dg=lib.einsum("bii->bi", a),
                el=lib.einsum("...ij,jk->...ik", a, b), el2=lib.einsum("i...->...", a),
                order=lib.einsum("bij->jib", a), implicit=lib.einsum("ij,jk", a[0], b),
                implicit2=lib.einsum("ba", b), outer=lib.einsum("i,j->ij", b[0], b[1]),
                lst=lib.einsum("ij,jk->ik", [a[0], b]), sc=lib.einsum("ii", a[1]),
                sub=lib.einsum(a, [0, 1, 1], [0]))


@program
def einsum_repeat_out_err(lib):
    return lib.einsum("ij->ii", lib.zeros(2, 2))


@program
def einsum_unknown_out_err(lib):
    return lib.einsum("ij->k", lib.zeros(2, 2))


@program
def meshgrid_cartesian(lib):
    a, b = lib.tensor([1, 2, 3]), lib.tensor([4, 5])
    ij = lib.meshgrid(a, b, indexing="ij")
    xy = lib.meshgrid(a, b, indexing="xy")
    return dict(ij=list(ij), xy=list(xy), s=ij[0].stride(), cp=lib.cartesian_prod(a, b),
                cp1=lib.cartesian_prod(a), cb=lib.combinations(a), cb3=lib.combinations(a, 3),
                cbr=lib.combinations(a, 2, with_replacement=True),
                cb0=lib.combinations(a, 4).shape)


@program
def meshgrid_bad_indexing_err(lib):
    return lib.meshgrid(lib.zeros(2), indexing="xz")


@program
def searchsorted_bucketize(lib):
    s = lib.tensor([1.0, 3.0, 3.0, 5.0])
    v = lib.tensor([[0.0, 3.0], [5.0, 6.0]])
    unsorted = lib.tensor([5.0, 1.0, 3.0, 3.0])
    order = unsorted.argsort(stable=True)
    return dict(l=lib.searchsorted(s, v), r=lib.searchsorted(s, v, right=True),
                side=lib.searchsorted(s, v, side="right"),
                sorter=lib.searchsorted(unsorted, v, sorter=order),
                i32=lib.searchsorted(s, v, out_int32=True),
                sc=lib.searchsorted(s, 3.0), b=lib.bucketize(v, s), br=lib.bucketize(v, s, right=True),
                nd=lib.searchsorted(lib.tensor([[1, 2], [3, 4]]), lib.tensor([[2], [3]])))


@program
def searchsorted_side_right_conflict_err(lib):
    return lib.searchsorted(lib.zeros(3), lib.zeros(2), right=True, side="left")


@pytest.mark.parametrize("fn", PROGRAMS, ids=[f.__name__ for f in PROGRAMS])
def test_program_matches_torch(fn):
    error = HARNESS.check(fn)
    assert (error is not None) == ("_err" in fn.__name__), repr(error)
