"""Registry entries for the complex paths of reductions, statistics, indexing and shape ops
(``ops/reduce.py``, ``ops/softmax.py``, ``ops/sorting.py``, ``ops/statistics.py``, ``ops/scatter_gather.py``,
``ops/padding.py``, ``masked.py``...).

As in ``registry_complex.py``, the registry's inputs are real float64 arrays: each entry
builds its complex operand as ``complex(a, b)`` and returns a real tensor (``view_as_real``
of a complex result, or the real result itself for var and std), so that forward values,
the gradients of a and b (the real and imaginary parts of PyTorch's complex gradient) and
the second derivatives are all compared with torch and with finite differences.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


def _z(lib, a, b):
    return lib.complex(a, b)


def _vr(lib, z):
    return lib.view_as_real(z)


def _two(g, *shape):
    return S(g.randn(*shape), g.randn(*shape))


# reductions: products need conj(prod / z) in their backward, var/std are real
register("mean_complex", lambda lib, a, b: _vr(lib, _z(lib, a, b).mean(1) * (1 - 2j)),
         lambda g: [_two(g, 3, 4)])
register("prod_complex", lambda lib, a, b, dim=None: _vr(lib, _z(lib, a, b).prod()
                                                          if dim is None else
                                                          _z(lib, a, b).prod(dim)),
         lambda g: [S(g.away(2, 3), g.away(2, 3)),
                    S(g.away(2, 3), g.away(2, 3), kwargs={"dim": 1})])
register("cumprod_cumsum_complex",
         lambda lib, a, b: _vr(lib, _z(lib, a, b).cumprod(1) + (2 + 1j) * _z(lib, a, b).cumsum(0)),
         lambda g: [S(g.away(2, 4), g.away(2, 4))])
register("var_std_complex",
         lambda lib, a, b: lib.stack([_z(lib, a, b).var(1), _z(lib, a, b).std(1),
                                      _z(lib, a, b).var(1, correction=0)]),
         lambda g: [_two(g, 2, 5)])
register("logsumexp_complex", lambda lib, a, b: _vr(lib, lib.logsumexp(_z(lib, a, b), 1)),
         lambda g: [S(g.randn(2, 3), g.uniform(2, 3, low=-0.5, high=0.5))])
register("cov_corrcoef_complex",
         lambda lib, a, b: lib.cat([_vr(lib, lib.cov(_z(lib, a, b))).reshape(-1),
                                    _vr(lib, lib.corrcoef(_z(lib, a, b))).reshape(-1)]),
         lambda g: [_two(g, 2, 5)])

# indexing and movement: linear with real coefficients
register("gather_scatter_complex",
         lambda lib, a, b, idx: _vr(lib, lib.gather(_z(lib, a, b), 1, idx) * (1 + 1j)
                                    + lib.scatter_add(_z(lib, a, b)[:, :2], 1, idx,
                                                      _z(lib, b, a)[:, :2])),
         lambda g: [S(g.randn(3, 4), g.randn(3, 4), g.index(2, 3, 2))])
register("index_select_add_complex",
         lambda lib, a, b, idx: _vr(lib, lib.index_select(_z(lib, a, b), 0, idx)
                                    + lib.index_add(_z(lib, a, b), 0, idx, _z(lib, b, a),
                                                    alpha=2)),
         lambda g: [S(g.randn(3, 2), g.randn(3, 2), g.index(3, 3))])
register("take_masked_select_complex",
         lambda lib, a, b, idx, m: lib.cat([_vr(lib, lib.take(_z(lib, a, b), idx)),
                                            _vr(lib, lib.masked_select(_z(lib, a, b), m))]),
         lambda g: [S(g.randn(3, 4), g.randn(3, 4), g.index(12, 5), g.mask(3, 4))])
register("roll_repeat_interleave_complex",
         lambda lib, a, b: lib.cat([_vr(lib, lib.roll(_z(lib, a, b), 2, 1)),
                                    _vr(lib, lib.repeat_interleave(_z(lib, a, b), 2, 0))]),
         lambda g: [_two(g, 3, 4)])
register("pad_complex",
         lambda lib, a, b, mode="constant": _vr(lib, lib.nn.functional.pad(
             _z(lib, a, b), (1, 2), mode=mode)),
         lambda g: [_two(g, 1, 2, 4), S(g.randn(1, 2, 4), g.randn(1, 2, 4),
                                        kwargs={"mode": "reflect"}),
                    S(g.randn(1, 2, 4), g.randn(1, 2, 4), kwargs={"mode": "replicate"}),
                    S(g.randn(1, 2, 4), g.randn(1, 2, 4), kwargs={"mode": "circular"})])
register("unfold_complex",
         lambda lib, a, b: lib.cat([_vr(lib, lib.nn.functional.unfold(_z(lib, a, b), 2)
                                        ).reshape(-1),
                                    _vr(lib, _z(lib, a, b).unfold(3, 2, 1)).reshape(-1)]),
         lambda g: [_two(g, 1, 2, 3, 3)])
register("masked_reductions_complex",
         lambda lib, a, b, m: lib.cat([_vr(lib, lib.masked.mean(_z(lib, a, b), 1, mask=m)),
                                       _vr(lib, lib.masked.prod(_z(lib, a, b), 1, mask=m)),
                                       _vr(lib, lib.masked.var(_z(lib, a, b), 1, mask=m))]),
         lambda g: [S(g.away(2, 4), g.away(2, 4), g.mask(2, 4, p=1.0)),
                    S(g.away(2, 4), g.away(2, 4), np.array([[True, False, True, True],
                                                            [False, True, True, True]]),
                      desc="masked")])
register("rms_norm_complex",
         lambda lib, a, b, c, d: _vr(lib, lib.nn.functional.rms_norm(
             _z(lib, a, b), (3,), _z(lib, c, d), eps=0.5)),
         lambda g: [S(g.randn(2, 3), g.randn(2, 3), g.randn(3), g.randn(3))])
