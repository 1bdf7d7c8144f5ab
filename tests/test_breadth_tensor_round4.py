"""Round-4 breadth: torch.* functions and Tensor methods added for parity with PyTorch, their
non-differentiable results (dtypes, shapes, integer/bool outputs) and errors, against torch."""
import math

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")
from torch_agreement import pair, same_tensor  # noqa: E402
NAN = float("nan")


def _raises_like(fn, *arrays):
    with pytest.raises(Exception) as theirs:
        fn(torch, *[torch.tensor(a) for a in arrays])
    with pytest.raises(theirs.type):
        fn(mg, *[mg.tensor(a) for a in arrays])


A = np.random.default_rng(0).standard_normal((3, 4))
CASES = {
    "searchsorted": (lambda L, s, v: L.searchsorted(s, v), [1., 2, 2, 3], [[2., 0], [3.5, 2]]),
    "searchsorted_right": (lambda L, s, v: L.searchsorted(s, v, right=True, out_int32=True),
                           [1., 2, 2, 3], [2., NAN]),
    "searchsorted_nd": (lambda L, s, v: L.searchsorted(s, v, side="right"),
                        [[1., 2, 3], [0, 5, 6]], [[2., 3], [5, 7]]),
    "searchsorted_sorter": (lambda L, s, v: L.searchsorted(s, v, sorter=L.tensor([1, 2, 0])),
                            [3., 1, 2], [2.5]),
    "bucketize": (lambda L, v, b: L.bucketize(v, b), [[2, 0], [7, 3]], [1, 3, 5]),
    "bucketize_right": (lambda L, v, b: L.bucketize(v, b, right=True), [1, 3, 4], [1, 3, 5]),
    "isin": (lambda L, a, b: L.isin(a, b), [[1, 2], [3, 4]], [2, 3]),
    "isin_invert": (lambda L, a: L.isin(a, 2, invert=True), [1, 2]),
    "histc": (lambda L, a: L.histc(a, 5), A),
    "histc_range": (lambda L, a: L.histc(a, 4, -1, 1), A),
    "histogram": (lambda L, a: tuple(L.histogram(a, 3)), A),
    "histogram_edges": (lambda L, a, e: tuple(L.histogram(a, e, density=True)), A,
                        np.array([-1.0, 0.0, 2.0])),
    "heaviside": (lambda L, a, v: L.heaviside(a, v), [-1., 0, 2, NAN], [.5]),
    "heaviside_int": (lambda L, a, v: L.heaviside(a, v), [-1, 0, 2], [7]),
    "nextafter": (lambda L, a, b: L.nextafter(a, b), [1., 2], [2., 0]),
    "signbit": (lambda L, a: L.signbit(a), [-0., 0, -2, NAN]),
    "signbit_int": (lambda L, a: L.signbit(a), [-1, 0, 3]),
    "sgn_bool": (lambda L, a: L.sgn(a), [True, False]),
    "floor_divide": (lambda L, a: L.floor_divide(a, 2), [-7, 7]),
    "true_divide": (lambda L, a: L.true_divide(a, 2), [1, 2]),
    "deg2rad_int": (lambda L, a: L.deg2rad(a), [180, 90]),
    "copysign_int": (lambda L, a: L.copysign(a, -0.0), [1, -2]),
    "float_power_int": (lambda L, a: L.float_power(a, 2), [1, 2]),
    "xlogy_edges": (lambda L, a, b: L.xlogy(a, b), [0., 0, 1, 2], [NAN, 0, 0, 3]),
    "xlogy_number": (lambda L, b: L.xlogy(2, b), [1., 3]),
    "logaddexp_inf": (lambda L, a, b: L.logaddexp(a, b), [-math.inf, 1000.], [-math.inf, 1000.]),
    "hypot_large": (lambda L, a: L.hypot(a, a), [1e200]),
    "entr": (lambda L, a: L.special.entr(a), [-1., 0, .5, NAN]),
    "logit_int": (lambda L, a: L.logit(a), [0, 1]),
    "sinc_zero": (lambda L, a: L.sinc(a), [0., .5, -2.5]),
    "diff_bool": (lambda L, a: L.diff(a), [True, False, False]),
    "diff_prepend": (lambda L, a: L.diff(a, dim=0, prepend=a[:1], append=a), A),
    "rot90_neg": (lambda L, a: L.rot90(a, -3, [2, 0]), np.arange(24.).reshape(2, 3, 4)),
    "fliplr": (lambda L, a: (L.fliplr(a), L.flipud(a)), A),
    "diag_embed": (lambda L, a: L.diag_embed(a, 1, 0, 2), A),
    "diagflat": (lambda L, a: L.diagflat(a, -1), [[1, 2], [3, 4]]),
    "trapezoid_int": (lambda L, y: L.trapezoid(y), [1, 2, 4]),
    "trapezoid_empty": (lambda L, y: L.trapezoid(y), np.ones((2, 0))),
    "trapezoid_x1d": (lambda L, y, x: L.trapezoid(y, x), A, [0., 1, 3, 7]),
    "cumulative_trapezoid": (lambda L, y: L.cumulative_trapezoid(y, dx=2.0, dim=0), A),
    "vander_int": (lambda L, x: L.vander(x, increasing=True), [1, 2, 3]),
    "linalg_vander": (lambda L, x: L.linalg.vander(x, N=3), [[1., 2], [3, 4]]),
    "cartesian_prod": (lambda L, a, b: L.cartesian_prod(a, b), [1, 2], [3, 4, 5]),
    "combinations": (lambda L, a: L.combinations(a, 3), [1, 2, 3, 4]),
    "combinations_r0": (lambda L, a: L.combinations(a, 0), [1, 2, 3]),
    "combinations_wr": (lambda L, a: L.combinations(a, with_replacement=True), [1., 2, 3]),
    "argwhere": (lambda L, a: L.argwhere(a), [[0, 1], [2, 0]]),
    "ravel": (lambda L, a: L.ravel(a.t()), A),
    "cov_weights": (lambda L, a: L.cov(a, fweights=L.tensor([1, 2, 0, 3]),
                                       aweights=L.tensor([.5, 1, 2, 1.], dtype=L.float64)), A),
    "corrcoef_int": (lambda L, a: L.corrcoef(a), [[1, 2, 4], [3, 1, 0]]),
    "quantile_q_tensor": (lambda L, a: L.quantile(a, L.tensor([.1, .5, 1.], dtype=L.float64),
                                                  dim=1, keepdim=True), A),
    "quantile_nan": (lambda L, a: L.quantile(a, .5, dim=1), [[1., NAN, 3], [1, 2, 3]]),
    "nanquantile": (lambda L, a: L.nanquantile(a, L.tensor([.5, .9]), dim=1),
                    [[1., NAN, 3], [NAN, NAN, NAN]]),
    "quantile_nearest": (lambda L, a: L.quantile(a, .37, dim=0, interpolation="nearest"), A),
    "cummax_nan": (lambda L, a: tuple(L.cummax(a, 0)), [1., NAN, 2, NAN, 5]),
    "cummin_nan": (lambda L, a: tuple(L.cummin(a, 0)), [1., NAN, 0, NAN, 5]),
    "addr_bool": (lambda L, c, a, b: L.addr(c, a, b), [[True, False]], [True, False],
                  [False, True]),
    "addmm_beta0_nan": (lambda L, c, a, b: L.addmm(c, a, b, beta=0),
                        np.array([NAN, 1., 2.]), A.T, A[:, :3]),
    "addcmul_int": (lambda L, a: L.addcmul(a, a, a, value=2), [1, 2]),
    "addcdiv_inplace": (lambda L, a: a.clone().addcdiv_(a, a + 5, value=2), A),
    "kron_int": (lambda L, a, b: L.kron(a, b), [1, 2], np.ones((2, 2, 2))),
    "block_diag_mixed": (lambda L, a, b, c: L.block_diag(a, b, c), [[1., 2]], 3, [1, 2]),
    "block_diag_empty": (lambda L: L.block_diag(),),
    "cross_default_dim": (lambda L, a, b: L.cross(a, b), A[:, :2], A[:, 2:]),
    "method_forms": (lambda L, a: (a.diff(dim=0), a.quantile(.5, dim=0), a.histc(3),
                                   a.logaddexp(a), a.hypot(a), a.xlogy(a.abs())), A),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    fn, *arrays = CASES[name]
    ours, theirs = pair(fn, *arrays)
    same_tensor(ours, theirs, rtol=1e-6, atol=1e-12)


ERRORS = {
    "hypot_int": (lambda L, a: L.hypot(a, a), [1]),
    "logaddexp_int": (lambda L, a: L.logaddexp(a, a), [1]),
    "hypot_number": (lambda L, a: L.hypot(a, 2.0), [1.]),
    "heaviside_dtypes": (lambda L, a, v: L.heaviside(a, v), [1.], [1]),
    "nextafter_int": (lambda L, a: L.nextafter(a, a), [1]),
    "positive_bool": (lambda L, a: L.positive(a), [True]),
    "addcdiv_int": (lambda L, a: L.addcdiv(a.float(), a, a), [1]),
    "addmm_dtype": (lambda L, c, a: L.addmm(c, a, a.t()), [1.], A),
    "baddbmm_dtype": (lambda L, c, a: L.baddbmm(c, a[None], a.t()[None]), [1.], A),
    "cross_len": (lambda L, a: L.linalg.cross(a, a), np.ones((3, 2))),
    "cross_ndim": (lambda L, a, b: L.cross(a, b), np.ones((2, 3)), np.ones(3)),
    "cdist_1d": (lambda L, a: L.cdist(a, a), [1., 2]),
    "cdist_int": (lambda L, a: L.cdist(a, a), [[1, 2]]),
    "cdist_cols": (lambda L, a, b: L.cdist(a, b), np.ones((3, 2)), np.ones((4, 3))),
    "cdist_p": (lambda L, a: L.cdist(a, a, p=-1), np.ones((3, 2))),
    "dist_int": (lambda L, a: L.dist(a, a), [1, 2]),
    "vdot_dtype": (lambda L, a, b: L.vdot(a, b), [1.], np.ones(1)),
    "block_diag_3d": (lambda L, a: L.block_diag(a), np.ones((1, 1, 1))),
    "rot90_dims": (lambda L, a: L.rot90(a, 1, [0, 0]), A),
    "rot90_1d": (lambda L, a: L.rot90(a), [1., 2]),
    "fliplr_1d": (lambda L, a: L.fliplr(a), [1., 2]),
    "diff_0d": (lambda L, a: L.diff(a), 1.),
    "quantile_q_range": (lambda L, a: L.quantile(a, 1.5), A),
    "quantile_int": (lambda L, a: L.quantile(a, .5), [1, 2]),
    "quantile_interp": (lambda L, a: L.quantile(a, .5, interpolation="cubic"), A),
    "histc_int": (lambda L, a: L.histc(a), [1, 2]),
    "histc_nan": (lambda L, a: L.histc(a), [1., NAN]),
    "histogram_edge_dtype": (lambda L, a: L.histogram(a, L.tensor([0., 1])), A),
    "searchsorted_sides": (lambda L, s: L.searchsorted(s, s, right=True, side="left"), [1.]),
    "searchsorted_shape": (lambda L, s, v: L.searchsorted(s, v), np.ones((2, 3)),
                           np.ones((3, 1))),
    "bucketize_2d": (lambda L, v, b: L.bucketize(v, b), [1.], np.ones((2, 2))),
    "cartesian_dtypes": (lambda L, a, b: L.cartesian_prod(a, b), [1], [1.]),
    "renorm_int": (lambda L, a: L.renorm(a, 2, 0, 1), [[1, 2]]),
    "renorm_1d": (lambda L, a: L.renorm(a, 2, 0, 1.), [1., 2]),
    "cov_3d": (lambda L, a: L.cov(a), np.ones((2, 2, 2))),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_like_torch(name):
    fn, *arrays = ERRORS[name]
    _raises_like(fn, *arrays)


def test_type_info():
    assert mg.finfo(mg.float16).eps == torch.finfo(torch.float16).eps
    for name in ("float32", "float64", "float16"):
        ours, theirs = mg.finfo(getattr(mg, name)), torch.finfo(getattr(torch, name))
        for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(ours, field) == getattr(theirs, field), (name, field)
        assert ours.dtype == theirs.dtype
    assert mg.finfo().max == torch.finfo().max
    for name in ("int8", "uint8", "int16", "int32", "int64"):
        ours, theirs = mg.iinfo(getattr(mg, name)), torch.iinfo(getattr(torch, name))
        assert (ours.bits, ours.min, ours.max, ours.dtype) == \
            (theirs.bits, theirs.min, theirs.max, theirs.dtype)
    with pytest.raises(TypeError):
        mg.finfo(mg.int32)
    with pytest.raises(TypeError):
        mg.iinfo(mg.float32)


def test_addcmul_inplace_keeps_identity_and_grad():
    p = mg.zeros(3, dtype=mg.float64)
    a = mg.tensor([1., 2, 3], dtype=mg.float64, requires_grad=True)
    out = p.addcmul_(a, a, value=0.5)
    assert out is p
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1., 2, 3])
