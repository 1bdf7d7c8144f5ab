"""Registry entries for issue #15's nn.functional breadth: pad modes and crops, interpolate,
pixel_(un)shuffle, unfold/fold, max_unpool, layer/group/instance norm, embedding and
scaled_dot_product_attention (the tensor-level ops are in ``registry_extra.py``).

Checked like every entry: forward, gradients and second derivatives against torch and
finite differences; batch-less inputs wherever PyTorch accepts them.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


def _extra(name, f, samples, torch_f=None, **options):
    register(name, f, samples, family="extra", torch_f=torch_f, **options)


# ----------------------------------------------------------------------------------------------
# F.pad modes, resizing, unfold/fold, max_unpool
# ----------------------------------------------------------------------------------------------
def _pad_modes(mode):
    def samples(g):
        yield S(g.randn(2, 3, 5), kwargs={"pad": (2, 1), "mode": mode})
        yield S(g.randn(1, 2, 4, 5), kwargs={"pad": (1, 2, 3, 0), "mode": mode})
        yield S(g.randn(3, 4, 5), kwargs={"pad": (2, -1, 1, 1), "mode": mode},
                desc="batch-less, a negative side")
        yield S(g.randn(1, 1, 3, 3, 4), kwargs={"pad": (1, 1, 1, 0, 2, 1), "mode": mode},
                desc="3-d")
    return samples


for _mode in ("reflect", "replicate", "circular"):
    _extra(f"pad_{_mode}", lambda lib, x, **kw: lib.nn.functional.pad(x, **kw),
           _pad_modes(_mode))
_extra("pad_crop", lambda lib, x, **kw: lib.nn.functional.pad(x, **kw),
       lambda g: iter([S(g.randn(2, 5, 4), kwargs={"pad": (-1, 2, 1, -2)}),
                       S(g.randn(2, 5), kwargs={"pad": (-2, -1), "value": 3.0})]))


def _interp(g):
    yield S(g.randn(2, 3, 4, 5), kwargs={"scale_factor": 2})
    yield S(g.randn(1, 2, 5), kwargs={"size": 8})
    yield S(g.randn(1, 2, 4, 5), kwargs={"size": (7, 3), "mode": "bilinear"})
    yield S(g.randn(1, 2, 4, 5), kwargs={"size": (6, 9), "mode": "bilinear",
                                         "align_corners": True})
    yield S(g.randn(1, 2, 5), kwargs={"scale_factor": 1.5, "mode": "linear"})
    yield S(g.randn(1, 1, 2, 3, 2), kwargs={"size": (3, 4, 3), "mode": "trilinear"})
    yield S(g.randn(1, 2, 7, 5), kwargs={"size": (3, 4), "mode": "bilinear", "antialias": True},
            desc="anti-aliased shrink")
    yield S(g.randn(1, 1, 6, 3), kwargs={"size": (4, 5), "mode": "bicubic", "antialias": True},
            desc="anti-aliased bicubic, one dim grows")
    yield S(g.randn(1, 2, 9, 6), kwargs={"size": (4, 8), "mode": "lanczos", "antialias": True},
            desc="lanczos, one dim shrinks, one grows")


_extra("interpolate", lambda lib, x, **kw: lib.nn.functional.interpolate(x, **kw), _interp)
_extra("pixel_shuffle", lambda lib, x: lib.nn.functional.pixel_shuffle(x, 2),
       lambda g: iter([S(g.randn(2, 8, 3, 2)), S(g.randn(4, 2, 3), desc="batch-less")]))
_extra("pixel_unshuffle", lambda lib, x: lib.nn.functional.pixel_unshuffle(x, 2),
       lambda g: iter([S(g.randn(2, 2, 4, 6))]))


def _unfold(g):
    yield S(g.randn(2, 3, 5, 6), kwargs={"kernel_size": 3})
    yield S(g.randn(1, 2, 5, 6), kwargs={"kernel_size": (2, 3), "stride": 2, "padding": 1,
                                         "dilation": (1, 2)})
    yield S(g.randn(2, 4, 4), kwargs={"kernel_size": 2}, desc="batch-less")


_extra("unfold", lambda lib, x, **kw: lib.nn.functional.unfold(x, **kw), _unfold)


def _fold(g):
    yield S(g.randn(2, 3 * 9, 12), kwargs={"output_size": (5, 6), "kernel_size": 3})
    yield S(g.randn(1, 2 * 6, 6), kwargs={"output_size": (5, 6), "kernel_size": (2, 3),
                                           "stride": 2, "padding": 1, "dilation": (1, 2)})
    yield S(g.randn(4 * 4, 9), kwargs={"output_size": 4, "kernel_size": 2},
            desc="batch-less")


_extra("fold", lambda lib, x, **kw: lib.nn.functional.fold(x, **kw), _fold)


def _unpool_inputs(g, shape, nd):
    """A max-pool's (values, indices) computed here in numpy: kernel 2, stride 2."""
    x = g.distinct(*shape)
    lead, sp = shape[:-nd], shape[-nd:]
    out_sp = tuple(n // 2 for n in sp)
    if nd == 1:
        win = x[..., :out_sp[0] * 2].reshape(lead + (out_sp[0], 2))
        arg = win.argmax(-1)
        idx = np.arange(out_sp[0]) * 2 + arg
    else:
        h, w = out_sp
        win = x[..., :h * 2, :w * 2].reshape(lead + (h, 2, w, 2)).swapaxes(-3, -2)
        arg = win.reshape(lead + (h, w, 4)).argmax(-1)
        idx = (np.arange(h)[:, None] * 2 + arg // 2) * sp[1] + np.arange(w)[None, :] * 2 + arg % 2
    vals = np.take_along_axis(x.reshape(lead + (-1,)), idx.reshape(lead + (-1,)), -1)
    return vals.reshape(idx.shape), idx.astype(np.int64)


def _max_unpool2d(g):
    v, i = _unpool_inputs(g, (2, 3, 4, 6), 2)
    yield S(v, i, kwargs={"kernel_size": 2})
    v, i = _unpool_inputs(g, (2, 5, 4), 2)
    yield S(v, i, kwargs={"kernel_size": 2, "output_size": (5, 5)}, desc="batch-less, size")


def _max_unpool1d(g):
    v, i = _unpool_inputs(g, (2, 3, 8), 1)
    yield S(v, i, kwargs={"kernel_size": 2})


_extra("max_unpool2d", lambda lib, x, i, **kw: lib.nn.functional.max_unpool2d(x, i, **kw),
       _max_unpool2d)
_extra("max_unpool1d", lambda lib, x, i, **kw: lib.nn.functional.max_unpool1d(x, i, **kw),
       _max_unpool1d)

# ----------------------------------------------------------------------------------------------
# Layer / group / instance norm, embedding
# ----------------------------------------------------------------------------------------------
def _layer_norm(g):
    yield S(g.randn(2, 3, 4), kwargs={"normalized_shape": (4,)})
    yield S(g.randn(2, 3, 4), g.randn(3, 4), g.randn(3, 4),
            kwargs={"normalized_shape": (3, 4)}, desc="affine")
    yield S(g.randn(5), g.randn(5), kwargs={"normalized_shape": (5,)}, desc="weight only")


_extra("layer_norm", lambda lib, x, *wb, **kw: lib.nn.functional.layer_norm(x, kw.pop(
    "normalized_shape"), *wb, **kw), _layer_norm)


def _group_norm(g):
    yield S(g.randn(2, 6, 3), kwargs={"num_groups": 3})
    yield S(g.randn(2, 4, 2, 3), g.randn(4), g.randn(4), kwargs={"num_groups": 2},
            desc="affine")
    yield S(g.randn(3, 4), kwargs={"num_groups": 2}, desc="(N, C)")


_extra("group_norm", lambda lib, x, *wb, **kw: lib.nn.functional.group_norm(x, kw.pop(
    "num_groups"), *wb, **kw), _group_norm)


def _instance_norm(g):
    yield S(g.randn(2, 3, 5))
    yield S(g.randn(2, 3, 2, 3), g.randn(3), g.randn(3), desc="affine")


_extra("instance_norm", lambda lib, x, *wb: lib.nn.functional.instance_norm(
    x, None, None, *wb), _instance_norm)


def _embedding(g):
    yield S(g.index(5, 2, 3), g.randn(5, 4), desc="repeats")
    # the padding row gets no gradient by definition, though the output depends on it:
    # finite differences would disagree, torch is the oracle
    yield S(g.index(5, 4), g.randn(5, 2), kwargs={"padding_idx": 1}, fd=False,
            desc="padding_idx")
    yield S(np.array(2), g.randn(3, 2), desc="0-d index")


_extra("embedding", lambda lib, i, w, **kw: lib.nn.functional.embedding(i, w, **kw),
       _embedding)


# ----------------------------------------------------------------------------------------------
# Attention
# ----------------------------------------------------------------------------------------------
def _sdpa(g):
    yield S(g.randn(2, 3, 4), g.randn(2, 5, 4), g.randn(2, 5, 3))
    yield S(g.randn(1, 2, 4, 3), g.randn(1, 2, 4, 3), g.randn(1, 2, 4, 3),
            kwargs={"is_causal": True}, desc="causal")
    mask = g.mask(4, 6, p=0.7)
    mask[:, 0] = True
    yield S(g.randn(2, 4, 3), g.randn(2, 6, 3), g.randn(2, 6, 2), mask,
            kwargs={"_mask": True}, desc="bool mask")
    yield S(g.randn(2, 4, 3), g.randn(2, 6, 3), g.randn(2, 6, 2), g.randn(4, 6),
            kwargs={"_mask": True}, requires_grad=[True, True, True, False],
            desc="float mask, scale")
    yield S(g.randn(1, 4, 3, 2), g.randn(1, 2, 5, 2), g.randn(1, 1, 5, 3),
            kwargs={"enable_gqa": True, "is_causal": True},
            desc="grouped-query: key and value with fewer heads, and not as many")
    # 4-d with a mask (and v's last dim q's): the one-node path (ops/attention_node.py)
    mask = g.mask(4, 6, p=0.7)
    mask[:, 0] = True
    yield S(g.randn(1, 2, 4, 3), g.randn(1, 2, 6, 3), g.randn(1, 2, 6, 3), mask,
            kwargs={"_mask": True}, desc="4-d, bool mask")
    yield S(g.randn(1, 2, 4, 3), g.randn(1, 2, 6, 3), g.randn(1, 2, 6, 3), g.randn(4, 6),
            kwargs={"_mask": True, "scale": 0.7}, requires_grad=[True, True, True, False],
            desc="4-d, float mask, scale")


def _sdpa_f(lib, q, k, v, *mask, _mask=False, **kw):
    if _mask:
        kw["attn_mask"] = mask[0]
    return lib.nn.functional.scaled_dot_product_attention(q, k, v, **kw)


def _sdpa_torch(torch, *args, **kw):
    # torch's flash kernel (its default for is_causal on the CPU) has no second derivative;
    # its MATH kernel computes the same attention and can be differentiated twice
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(SDPBackend.MATH):
        return _sdpa_f(torch, *args, **kw)


_extra("scaled_dot_product_attention", _sdpa_f, _sdpa, torch_f=_sdpa_torch)
