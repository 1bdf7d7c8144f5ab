"""Registry entries for the torch-level nn forms of round 7 (``minigrad/_torch_nn_exports.py``):
the ops whose top-level form computes something of its own (conv_tbc's layout, convolution's
dispatch, the native_* normalizations, int reductions, grid_sampler's mode codes).  Each is
called the same way on both frameworks (``lib.<name>``), checked like every entry: forward,
gradients and second derivatives against torch and finite differences."""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


register("conv_tbc", lambda lib, x, w, b, pad=0: lib.conv_tbc(x, w, b, pad),
         lambda g: [S(g.randn(6, 2, 3), g.randn(3, 3, 4), g.randn(4), 1),
                    S(g.randn(4, 1, 2), g.randn(2, 2, 3), g.randn(3), desc="no padding")],
         family="nn")
register("functional_conv_tbc",     # the same function under torch.nn.functional
         lambda lib, x, w, b, pad=0: lib.nn.functional.conv_tbc(x, w, b, pad),
         lambda g: [S(g.randn(5, 3, 2), g.randn(2, 2, 3), g.randn(3), 2, desc="wide padding")],
         family="nn")


def _convolution_samples(g):
    yield S(g.randn(2, 4, 7), g.randn(6, 2, 3), g.randn(6), [2], [1], [1], False, [0], 2,
            desc="1-d, groups, stride")
    yield S(g.randn(1, 2, 5, 5), g.randn(3, 2, 3, 3), None, [1, 1], [1, 1], [2, 2], False,
            [0, 0], 1, desc="2-d dilated, no bias")
    yield S(g.randn(1, 2, 3, 4), g.randn(2, 3, 3, 3), g.randn(3), [2, 2], [1, 1], [1, 1], True,
            [1, 1], 1, desc="2-d transposed, output_padding")


register("convolution", lambda lib, *args: lib.convolution(*args), _convolution_samples,
         family="nn")
register("native_layer_norm",
         lambda lib, x, w, b, shape: lib.native_layer_norm(x, shape, w, b, 1e-5)[0],
         lambda g: [S(g.randn(3, 4, 5), g.randn(5), g.randn(5), [5]),
                    S(g.randn(2, 3, 4), g.randn(3, 4), g.randn(3, 4), [3, 4], desc="2 dims")],
         family="nn")
register("native_group_norm",
         lambda lib, x, w, b, groups: lib.native_group_norm(
             x, w, b, x.shape[0], x.shape[1], int(np.prod(x.shape[2:])), groups, 1e-5)[0],
         lambda g: [S(g.randn(2, 6, 3), g.randn(6), g.randn(6), 3),
                    S(g.randn(2, 4, 2, 2), g.randn(4), g.randn(4), 2, desc="4-d")],
         family="nn")
# its statistics are differentiable outputs too (unlike native_layer_norm's and batch_norm's);
# torch's first derivatives of them are right, its second are not (they differ from torch's own
# composite mean / rsqrt(var + eps)), so minigrad's second are checked by finite differences
register("native_group_norm.stats",
         lambda lib, x, groups: lib.cat([s.reshape(-1) for s in lib.native_group_norm(
             x, None, None, x.shape[0], x.shape[1], int(np.prod(x.shape[2:])), groups,
             0.5)[1:]]),
         lambda g: [S(g.randn(2, 6, 3), 3), S(g.randn(1, 4, 2, 2), 1, desc="one group")],
         family="nn", second_order="finite differences")
register("native_batch_norm",
         lambda lib, x, w, b: lib.native_batch_norm(x, w, b, None, None, True, 0.1, 1e-5)[0],
         lambda g: [S(g.randn(4, 3, 2), g.randn(3), g.randn(3)),
                    S(g.randn(5, 2), g.randn(2), g.randn(2), desc="2-d")],
         family="nn")


def _int_reduction_samples(g):
    for reduction in (0, 1, 2):
        yield S(g.randn(3, 4), g.probs(3, 4), reduction, desc=f"reduction={reduction}")


register("aten_kl_div", lambda lib, x, y, red: lib.kl_div(x, y, red), _int_reduction_samples,
         family="nn")
register("aten_binary_cross_entropy_with_logits",
         lambda lib, x, y, red: lib.binary_cross_entropy_with_logits(x, y, None, None, red),
         _int_reduction_samples, family="nn")


def _grid_sampler_samples(g):
    for interpolation in (0, 2):
        for padding in (0, 1, 2):
            yield S(g.randn(1, 2, 4, 5), g.uniform(1, 3, 3, 2, low=-0.9, high=0.9),
                    interpolation, padding, padding == 1,
                    desc=f"interpolation={interpolation},padding={padding}")


register("grid_sampler", lambda lib, x, grid, i, p, align: lib.grid_sampler(x, grid, i, p, align),
         _grid_sampler_samples, family="nn")
