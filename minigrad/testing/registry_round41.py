"""Registry entries of round 41: the ops it adds (``torch._chunk_cat``, the masked indexing
pair ``torch._unsafe_masked_index`` / ``_unsafe_masked_index_put_accumulate``,
``torch._native_batch_norm_legit``) and public differentiable functions that had no entry yet:
``mv``, ``bmm``, ``select``, ``narrow``, ``broadcast_to``, ``moveaxis``, ``swapdims``,
``fft.ifft2``, ``fft.ihfft2``, ``trapz``, the pools' ``*_with_indices`` forms (fractional
ones through their ``_random_samples``), the dropout family out of training or at p = 0,
``max_unpool3d``, ``native_channel_shuffle``, the ``upsample`` family, ``orgqr``,
``affine_grid_generator``, ``grid_sampler_2d/3d``, ``unsafe_split_with_sizes``,
``expand_as``/``reshape_as``/``type_as``/``view_as``, ``special.expit``, ``igammac`` in its
second argument and the alias spellings (``arccos``, ``divide``, ``ger``, ``clip``,
``concat``...). Samples cover 0-d, empty, broadcasting, non-contiguous (a transposed input) and
negative dims where the op has them. The in-place forms are in part B,
registry_round41_inplace.py, imported at the end.

PyTorch's ``_chunk_cat`` and ``native_channel_shuffle`` have no backward, so their torch side
is the same computation in torch ops that have one.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample as S, register


# ---------------------------------------------------------------------------------------------
# torch._chunk_cat
# ---------------------------------------------------------------------------------------------
def _chunk_cat(lib, *tensors, dim=0, chunks=2, flip=False):
    tensors = [t.mT if flip else t for t in tensors]
    return lib._chunk_cat(tensors, dim, chunks)


def _chunk_cat_torch(torch, *tensors, dim=0, chunks=2, flip=False):
    """The same layout from torch's pad, reshape and cat (its own _chunk_cat has no backward)."""
    pieces = []
    for t in tensors:
        t = t.mT if flip else t
        d = dim % t.ndim
        size = t.shape[d]
        step = -(-size // chunks)
        pad = [0, 0] * (t.ndim - 1 - d) + [0, step * chunks - size]
        t = torch.nn.functional.pad(t, pad)
        pieces.append(t.reshape(*t.shape[:d], chunks, -1))
    return torch.cat(pieces, dim % tensors[0].ndim + 1 if dim < 0 else dim + 1)


def _chunk_cat_samples(g):
    yield S(g.randn(1, 2, 3), g.randn(1, 2, 5), kwargs={"dim": -1, "chunks": 2},
            desc="last dim, padded pieces")
    yield S(g.randn(2, 3), g.randn(2, 4, 2), kwargs={"dim": 1, "chunks": 3},
            desc="ranks differ past dim")
    yield S(g.randn(3, 3, 2), g.randn(1, 4, 2), kwargs={"dim": 0, "chunks": 2},
            desc="dim 0, sizes differ after it")
    yield S(g.randn(4), kwargs={"dim": 0, "chunks": 4}, desc="one 1-d tensor, even pieces")
    yield S(g.randn(3, 2), g.randn(5, 2), kwargs={"dim": 1, "chunks": 2, "flip": True},
            desc="non-contiguous (transposed) inputs")


register("_chunk_cat", _chunk_cat, _chunk_cat_samples, torch_f=_chunk_cat_torch)


# ---------------------------------------------------------------------------------------------
# torch._unsafe_masked_index / torch._unsafe_masked_index_put_accumulate
# ---------------------------------------------------------------------------------------------
def _masked_read(lib, x, mask, *indices, fill=0.0, flip=False):
    x = x.mT if flip else x
    return lib._unsafe_masked_index(x, mask, list(indices), fill)


def _masked_add(lib, x, mask, values, *indices, flip=False):
    x = x.mT if flip else x
    return lib._unsafe_masked_index_put_accumulate(x, mask, list(indices), values)


def _masked_index_parts(shape, index_shape):
    """A mask over ``index_shape`` and one index array per dim of ``shape`` (each along its
    own axis of index_shape): the mask is False over every slice where an index is out of
    range (of either sign), so those indices are never read."""
    rng = np.random.default_rng(len(shape) * 10 + len(index_shape))
    mask = rng.random(index_shape) < 0.8
    indices = []
    for k, size in enumerate(shape):
        view = [1] * len(index_shape)
        view[k] = index_shape[k]
        live = rng.random(index_shape[k]) < 0.7
        idx = np.where(live, rng.integers(-size, size, index_shape[k]),
                       rng.choice([-1, 1], index_shape[k]) * rng.integers(size + 1, 3 * size + 2,
                                                                         index_shape[k]))
        mask &= live.reshape(view)
        indices.append(idx.reshape(view).astype(np.int64))
    return mask, indices


def _masked_read_samples(g):
    mask, idx = _masked_index_parts((4, 3), (5, 6))
    yield S(g.randn(4, 3), mask, *idx, kwargs={"fill": -2.5}, desc="2-d, wild masked indices")
    mask, idx = _masked_index_parts((3, 4, 2), (4, 3, 5))
    yield S(g.randn(3, 4, 2), mask, *idx, kwargs={"fill": 1.0}, desc="3-d")
    rows = np.array([[0], [2], [-1], [7]])
    yield S(g.randn(3, 4), np.array([True, False, True, False]).reshape(4, 1, 1), rows,
            kwargs={"fill": 0.5}, desc="one index, trailing dim kept, broadcast mask")
    yield S(g.randn(3, 4), np.array([True, True, False]), np.array([1, 1, 9]),
            np.array([2, 2, -9]), desc="repeated index (gradient adds up)")
    yield S(g.randn(3, 4), np.zeros((0,), bool), np.zeros((0,), np.int64),
            np.zeros((0,), np.int64), desc="empty index")
    yield S(g.randn(4, 3), np.array([True, False, True]), np.array([0, 5, 3]),
            np.array([1, 7, 2]), kwargs={"flip": True}, desc="non-contiguous input")


def _masked_add_samples(g):
    mask, idx = _masked_index_parts((4, 3), (5, 6))
    yield S(g.randn(4, 3), mask, g.randn(5, 6), *idx, desc="2-d, wild masked indices")
    mask, idx = _masked_index_parts((3, 4, 2), (4, 3, 5))
    yield S(g.randn(3, 4, 2), mask, g.randn(4, 3, 5), *idx, desc="3-d")
    yield S(g.randn(3, 4), np.array([[True], [False], [True]]), g.randn(1, 1),
            np.array([0, 5, 0]), desc="one index, broadcast values and mask")
    yield S(g.randn(3, 4), np.array([True, True, False]), g.randn(3),
            np.array([1, 1, 9]), np.array([2, 2, -9]), desc="repeated index accumulates")
    yield S(g.randn(4, 3), np.array([True, False, True]), g.randn(), np.array([0, 5, 3]),
            np.array([1, 7, 2]), kwargs={"flip": True},
            desc="non-contiguous input, 0-d values")


register("_unsafe_masked_index", _masked_read, _masked_read_samples)
register("_unsafe_masked_index_put_accumulate", _masked_add, _masked_add_samples)


# ---------------------------------------------------------------------------------------------
# public functions without an entry
# ---------------------------------------------------------------------------------------------
def _t(x, flip):
    return x.mT if flip else x


register("mv", lambda lib, a, v, flip=False: lib.mv(_t(a, flip), v),
         lambda g: [S(g.randn(3, 4), g.randn(4)),
                    S(g.randn(4, 3), g.randn(4), kwargs={"flip": True},
                      desc="non-contiguous matrix"),
                    S(g.randn(0, 2), g.randn(2), desc="empty rows"),
                    S(g.randn(2, 0), g.randn(0), desc="empty sum")])

register("Tensor.mv", lambda lib, a, v: a.mv(v), lambda g: [S(g.randn(2, 3), g.randn(3))])

register("select", lambda lib, x, dim, i, flip=False: lib.select(_t(x, flip), dim, i),
         lambda g: [S(g.randn(3, 4), 1, 2), S(g.randn(3, 4, 2), -1, -1, desc="negative dim"),
                    S(g.randn(3), 0, 1, desc="to 0-d"),
                    S(g.randn(4, 3), 1, 0, kwargs={"flip": True}, desc="non-contiguous"),
                    S(g.randn(2, 0), 0, 1, desc="empty")])

register("broadcast_to", lambda lib, x, shape: lib.broadcast_to(x, shape),
         lambda g: [S(g.randn(3, 1), (2, 3, 4)), S(g.randn(), (2, 2), desc="0-d"),
                    S(g.randn(1, 2), (0, 2), desc="empty"),
                    S(g.randn(2, 1), (-1, 3), desc="-1 keeps a size")])

register("Tensor.expand_as", lambda lib, x, y: x.expand_as(y),
         lambda g: [S(g.randn(3, 1), g.randn(2, 3, 4), requires_grad=[True, False])])
register("Tensor.reshape_as", lambda lib, x, y: x.reshape_as(y),
         lambda g: [S(g.randn(3, 4), g.randn(2, 6)),
                    S(g.randn(4, 3), g.randn(12), desc="from a transpose")])
register("Tensor.type_as", lambda lib, x, y: x.type_as(y) * y.sum(),
         lambda g: [S(g.randn(2, 3), g.randn(2))])

register("moveaxis", lambda lib, x, src, dst: lib.moveaxis(x, src, dst),
         lambda g: [S(g.randn(2, 3, 4), 0, -1), S(g.randn(2, 3, 4), (0, 1), (2, 0)),
                    S(g.randn(0, 3), -1, 0, desc="empty")])
register("swapdims", lambda lib, x, a, b: lib.swapdims(x, a, b),
         lambda g: [S(g.randn(2, 3, 4), 0, -1), S(g.randn(), 0, -1, desc="0-d")])

register("fft.ifft2", lambda lib, x, s=None, dim=(-2, -1), norm=None:
         lib.view_as_real(lib.fft.ifft2(x, s=s, dim=dim, norm=norm)),
         lambda g: [S(g.randn(3, 4)), S(g.randn(2, 3, 4), kwargs={"dim": (0, 2)}),
                    S(g.randn(3, 4), kwargs={"s": (4, 2), "norm": "ortho"},
                      desc="padded and cropped, ortho"),
                    S(g.randn(2, 3), kwargs={"norm": "forward"}, desc="forward norm")])
register("fft.ihfft2", lambda lib, x, s=None, dim=(-2, -1), norm=None:
         lib.view_as_real(lib.fft.ihfft2(x, s=s, dim=dim, norm=norm)),
         lambda g: [S(g.randn(3, 4)), S(g.randn(2, 3, 5), kwargs={"dim": (0, -1)}),
                    S(g.randn(3, 4), kwargs={"s": (2, 6), "norm": "ortho"},
                      desc="padded and cropped, ortho")])

register("trapz", lambda lib, y, *x, dim=-1: lib.trapz(y, *x, dim=dim),
         lambda g: [S(g.randn(3, 5)), S(g.randn(3, 5), g.distinct(5), desc="sample points"),
                    S(g.randn(4, 3), g.distinct(4, 3), kwargs={"dim": 0}, desc="dim 0"),
                    S(g.randn(0, 3), desc="empty")])


def _pool_with_indices(name):
    def f(lib, x, *args, **kwargs):
        out, _ = getattr(lib.nn.functional, name)(x, *args, **kwargs)
        return out
    return f


for _nd in (1, 2, 3):
    _shape = (2, 2) + (5,) * _nd
    register(f"max_pool{_nd}d_with_indices", _pool_with_indices(f"max_pool{_nd}d_with_indices"),
             lambda g, shape=_shape: [S(g.distinct(*shape), 2),
                                      S(g.distinct(*shape[1:]), 3, 2, 1,
                                        desc="unbatched, stride and padding")],
             family="nn")
    register(f"adaptive_max_pool{_nd}d_with_indices",
             _pool_with_indices(f"adaptive_max_pool{_nd}d_with_indices"),
             lambda g, shape=_shape: [S(g.distinct(*shape), 2),
                                      S(g.distinct(*shape[1:]), 3, desc="unbatched")],
             family="nn")
register("torch.max_pool1d_with_indices",
         lambda lib, x, k: lib.max_pool1d_with_indices(x, k)[0],
         lambda g: [S(g.distinct(2, 3, 6), 2)], family="nn")
del _nd, _shape

# (PyTorch's native_channel_shuffle has no derivative: torch's side is channel_shuffle, the same
# permutation of channels)
register("native_channel_shuffle", lambda lib, x, groups: lib.native_channel_shuffle(x, groups),
         lambda g: [S(g.randn(2, 6, 3), 3), S(g.randn(1, 4, 2, 2), 2, desc="4-d")],
         torch_f=lambda torch, x, groups: torch.channel_shuffle(x, groups), family="nn")

register("upsample", lambda lib, x, **kw: lib.nn.functional.upsample(x, **kw),
         lambda g: [S(g.randn(1, 2, 3), kwargs={"scale_factor": 2}),
                    S(g.randn(1, 1, 3, 4), kwargs={"size": (5, 3), "mode": "bilinear"},
                      desc="bilinear")],
         family="nn")
register("upsample_bilinear",
         lambda lib, x, **kw: lib.nn.functional.upsample_bilinear(x, **kw),
         lambda g: [S(g.randn(1, 2, 3, 3), kwargs={"scale_factor": 2}),
                    S(g.randn(2, 1, 2, 4), kwargs={"size": (3, 5)}, desc="size")],
         family="nn")
register("upsample_nearest",
         lambda lib, x, **kw: lib.nn.functional.upsample_nearest(x, **kw),
         lambda g: [S(g.randn(1, 2, 3, 3), kwargs={"scale_factor": 2}),
                    S(g.randn(1, 2, 4), kwargs={"size": 7}, desc="1-d, size")],
         family="nn")


def _orgqr(lib, a, tau):
    return lib.orgqr(a, tau)


register("orgqr", _orgqr,
         lambda g: [S(g.randn(4, 3), g.uniform(3, low=1.1, high=1.9)),
                    S(g.randn(2, 3, 3), g.uniform(2, 2, low=1.1, high=1.9), desc="batched")])

register("igammac_other", lambda lib, a, x: lib.igammac(a, x),
         lambda g: [S(g.pos(3, 4), g.pos(3, 4), requires_grad=[False, True]),
                    S(g.pos(3, 1), g.pos(4), requires_grad=[False, True],
                      desc="broadcasting"),
                    S(g.pos(), g.pos(), requires_grad=[False, True], desc="0-d")])


# the alias spellings (each its own public name), on inputs in their domains
def _alias_samples(make):
    def samples(g):
        return [S(*make(g, 3, 4)), S(*make(g), desc="0-d"), S(*make(g, 0, 2), desc="empty")]
    return samples


for _name, _make in {
        "arccos": lambda g, *s: (g.uniform(*s, low=-0.9, high=0.9),),
        "arcsin": lambda g, *s: (g.uniform(*s, low=-0.9, high=0.9),),
        "arctanh": lambda g, *s: (g.uniform(*s, low=-0.9, high=0.9),),
        "arccosh": lambda g, *s: (g.pos(*s, low=1.2, high=3.0),),
        "arcsinh": lambda g, *s: (g.randn(*s),),
        "arctan": lambda g, *s: (g.randn(*s),),
        "absolute": lambda g, *s: (g.away(*s),),
        "negative": lambda g, *s: (g.randn(*s),),
        "conj_physical": lambda g, *s: (g.randn(*s),),
        "arctan2": lambda g, *s: (g.randn(*s), g.away(*s)),
        "true_divide": lambda g, *s: (g.randn(*s), g.away(*s)),
        "divide": lambda g, *s: (g.randn(*s), g.away(*s)),
        "multiply": lambda g, *s: (g.randn(*s), g.randn(*s)),
        "subtract": lambda g, *s: (g.randn(*s), g.randn(*s)),
}.items():
    register(f"alias.{_name}", lambda lib, *xs, name=_name: getattr(lib, name)(*xs),
             _alias_samples(_make))
del _name, _make
register("alias.ger", lambda lib, a, b: lib.ger(a, b),
         lambda g: [S(g.randn(3), g.randn(4)), S(g.randn(0), g.randn(2), desc="empty")])

register("clip", lambda lib, x, lo, hi: lib.clip(x, lo, hi),
         lambda g: [S(g.distinct(3, 4), -0.33, 0.27), S(g.distinct(3, 4), g.randn(4) - 1,
                                                       g.randn(3, 1) + 1, desc="tensor bounds"),
                    S(g.randn(), None, 0.05, desc="0-d, max only")])
register("concat", lambda lib, *xs, dim=0: lib.concat(list(xs), dim=dim),
         lambda g: [S(g.randn(2, 3), g.randn(1, 3)),
                    S(g.randn(2, 3), g.randn(2, 0), kwargs={"dim": -1}, desc="empty, dim -1")])
register("concatenate", lambda lib, *xs, axis=0: lib.concatenate(list(xs), axis=axis),
         lambda g: [S(g.randn(2, 3), g.randn(2, 2), kwargs={"axis": 1})])

register("affine_grid_generator",
         lambda lib, theta, size, align: lib.affine_grid_generator(theta, size, align),
         lambda g: [S(g.randn(2, 2, 3), (2, 1, 3, 4), False),
                    S(g.randn(1, 3, 4), (1, 2, 2, 3, 2), True, desc="3-d, align_corners")],
         family="nn")
register("grid_sampler_2d",
         lambda lib, x, grid: lib.grid_sampler_2d(x, grid, 0, 0, False),
         lambda g: [S(g.randn(1, 2, 3, 4), g.uniform(1, 2, 3, 2, low=-0.9, high=0.9))],
         family="nn")
register("grid_sampler_3d",
         lambda lib, x, grid: lib.grid_sampler_3d(x, grid, 0, 1, True),
         lambda g: [S(g.randn(1, 2, 2, 3, 3), g.uniform(1, 2, 2, 2, 3, low=-0.9, high=0.9),
                      desc="border padding, align_corners")],
         family="nn")

# torch._native_batch_norm_legit: its output (the saved statistics are outputs torch does not
# differentiate, as native_batch_norm's entry); the running statistics are fresh copies,
# updated in place by training samples
def _bn_legit(lib, x, w, b, mean=None, var=None, training=True, momentum=0.1, eps=1e-5):
    if mean is None:
        outs = lib._native_batch_norm_legit(x, w, b, training, momentum, eps)
    else:
        outs = lib._native_batch_norm_legit(x, w, b, mean.detach().clone(),
                                            var.detach().clone(), training, momentum, eps)
    return outs[0]


register("_native_batch_norm_legit", _bn_legit,
         lambda g: [S(g.randn(4, 3, 5), g.randn(3), g.randn(3), g.randn(3), g.pos(3),
                      requires_grad=[True, True, True, False, False], desc="training"),
                    S(g.randn(3, 2, 2, 3), g.randn(2), g.randn(2), g.randn(2), g.pos(2),
                      kwargs={"training": False, "eps": 0.5},
                      requires_grad=[True, True, True, False, False], desc="eval"),
                    S(g.randn(5, 2), g.randn(2), g.randn(2), kwargs={"momentum": 0.3},
                      desc="no running statistics")],
         family="nn")


register("bmm", lambda lib, a, b, flip=False: lib.bmm(a.mT if flip else a, b),
         lambda g: [S(g.randn(2, 3, 4), g.randn(2, 4, 5)),
                    S(g.randn(2, 4, 3), g.randn(2, 4, 2), kwargs={"flip": True},
                      desc="non-contiguous"),
                    S(g.randn(0, 2, 3), g.randn(0, 3, 2), desc="empty batch")])
register("narrow", lambda lib, x, dim, start, length: lib.narrow(x, dim, start, length),
         lambda g: [S(g.randn(4, 5), 1, 1, 3), S(g.randn(4, 5), -2, -3, 2, desc="negative"),
                    S(g.randn(4, 5), 0, 2, 0, desc="empty")])
register("unsafe_split_with_sizes",
         lambda lib, x, sizes, dim=0: lib.unsafe_split_with_sizes(x, sizes, dim),
         lambda g: [S(g.randn(5, 3), [2, 3]), S(g.randn(3, 4), [1, 0, 3], kwargs={"dim": -1},
                                                 desc="an empty piece, dim -1")])
register("Tensor.view_as", lambda lib, x, y: x.view_as(y),
         lambda g: [S(g.randn(3, 4), g.randn(2, 6), requires_grad=[True, False])])
register("special.expit", lambda lib, x: lib.special.expit(x),
         lambda g: [S(g.randn(3, 4)), S(g.randn(), desc="0-d")])
register("max_unpool3d", lambda lib, x, k: lib.nn.functional.max_unpool3d(
    *lib.nn.functional.max_pool3d(x, k, return_indices=True), k),
         lambda g: [S(g.distinct(1, 2, 4, 4, 4), 2)], family="nn")



# fractional max pooling's *_with_indices forms, made deterministic by their _random_samples
def _fractional_with_indices(nd):
    def f(lib, x, u, **kw):
        pool = getattr(lib.nn.functional, f"fractional_max_pool{nd}d_with_indices")
        return pool(x, _random_samples=u, **kw)[0]
    return f


register("fractional_max_pool2d_with_indices", _fractional_with_indices(2),
         lambda g: [S(g.distinct(2, 3, 7, 8), g.uniform(2, 3, 2),
                      kwargs={"kernel_size": 2, "output_size": (3, 4)},
                      requires_grad=[True, False]),
                    S(g.distinct(3, 9, 6), g.uniform(1, 3, 2),
                      kwargs={"kernel_size": (3, 2), "output_ratio": (0.5, 0.5)},
                      requires_grad=[True, False], desc="unbatched, ratio")], family="nn")
register("fractional_max_pool3d_with_indices", _fractional_with_indices(3),
         lambda g: [S(g.distinct(1, 2, 5, 6, 5), g.uniform(1, 2, 3),
                      kwargs={"kernel_size": 2, "output_size": (3, 4, 3)},
                      requires_grad=[True, False])], family="nn")

# the dropout family out of training (the identity) and with p = 0 in training
for _name in ("dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"):
    _rank = {"dropout1d": 3, "dropout2d": 4, "dropout3d": 5}.get(_name, 4)
    register(f"F.{_name}", lambda lib, x, name=_name, **kw: getattr(lib.nn.functional, name)(
        x, **kw), lambda g, rank=_rank: [
            S(g.randn(*(2, 3, 4, 2, 2)[:rank]), kwargs={"p": 0.4, "training": False},
              desc="eval"),
            S(g.randn(*(2, 3, 4, 2, 2)[:rank]), kwargs={"p": 0.0, "training": True},
              desc="p = 0")], family="nn")
del _name, _rank


from . import registry_round41_inplace  # noqa: E402,F401  (part B: in-place forms)
