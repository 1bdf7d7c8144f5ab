"""CatTransform, StackTransform, ReshapeTransform, CorrCholeskyTransform,
LowerCholeskyTransform, PositiveDefiniteTransform and CumulativeDistributionTransform, and
their biject_to/transform_to registrations, against torch.distributions in float64: forward
values, inverses, log|det J| (also against finite-difference Jacobians), gradients (first and
second order), shapes, constraints, equality, caching and errors."""
import functools

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributions as D
from minigrad.distributions import constraints as MC
from minigrad.distributions import transforms as MT
from minigrad.distributions.constraint_registry import biject_to, transform_to

torch = pytest.importorskip("torch")
from torch_agreement import leaves  # noqa: E402

# the same float64 values as a (minigrad, torch) pair of leaves: _both(array, grad=True)
_both = functools.partial(leaves, dtype="float64")

TD = torch.distributions
TT = TD.transforms

RNG = np.random.RandomState(11)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(ours, theirs, tol=1e-9):
    a, b = _np(ours), _np(theirs)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def _value_or_error_type(fn):
    """fn()'s value, or the type of what it raised."""
    try:
        return fn()
    except Exception as error:  # noqa: BLE001
        return type(error)


def _raises_like(make_ours, make_theirs):
    with pytest.raises(Exception) as theirs:
        make_theirs()
    with pytest.raises(type(theirs.value)) as ours:
        make_ours()
    assert str(ours.value).split("(")[0] == str(theirs.value).split("(")[0]


def _normal(T, L):
    loc = L.tensor([0.3, -1.0, 2.0], dtype=L.float64)
    return T.CumulativeDistributionTransform(
        (D if T is MT else TD).Normal(loc, L.tensor([1.5, 0.5, 2.0], dtype=L.float64)))


def _laplace(T, L):
    return T.CumulativeDistributionTransform((D if T is MT else TD).Laplace(
        L.tensor(0.5, dtype=L.float64), L.tensor(2.0, dtype=L.float64)))


# name, builder(transforms module, tensor lib), input of the forward map
CASES = [
    ("cat_last", lambda T, L: T.CatTransform(
        [T.ExpTransform(), T.AffineTransform(1.0, -2.0), T.SigmoidTransform()], -1, [2, 1, 3]),
     RNG.randn(4, 6)),
    ("cat_dim0", lambda T, L: T.CatTransform([T.ExpTransform(), T.TanhTransform()], 0, [1, 2]),
     RNG.randn(3, 4)),
    ("cat_positive_dim", lambda T, L: T.CatTransform(
        [T.SoftplusTransform(), T.ExpTransform()], dim=1, lengths=[3, 2]), RNG.randn(2, 5)),
    ("cat_events_batch_dim", lambda T, L: T.CatTransform(
        [T.IndependentTransform(T.ExpTransform(), 1),
         T.IndependentTransform(T.SigmoidTransform(), 1)], dim=-2, lengths=[1, 2]),
     RNG.randn(5, 3, 4)),
    ("cat_events_summed", lambda T, L: T.CatTransform(
        [T.ExpTransform(), T.IndependentTransform(T.SigmoidTransform(), 1)], -1, [2, 3]),
     RNG.randn(4, 5)),
    ("cat_default_lengths", lambda T, L: T.CatTransform([T.ExpTransform(), T.TanhTransform()]),
     RNG.randn(2, 3)),
    ("stack_dim1", lambda T, L: T.StackTransform(
        [T.ExpTransform(), T.SigmoidTransform(), T.AffineTransform(0.5, 3.0)], dim=1),
     RNG.randn(4, 3)),
    ("stack_last", lambda T, L: T.StackTransform([T.TanhTransform(), T.ExpTransform()], -1),
     RNG.randn(2, 3, 2)),
    ("stack_of_sticks", lambda T, L: T.StackTransform(
        [T.StickBreakingTransform(), T.StickBreakingTransform()]), RNG.randn(2, 4, 3)),
    ("reshape", lambda T, L: T.ReshapeTransform((2, 3), (3, 2)), RNG.randn(4, 2, 3)),
    ("reshape_more_dims", lambda T, L: T.ReshapeTransform([6], [1, 2, 3]), RNG.randn(5, 6)),
    ("reshape_event_only", lambda T, L: T.ReshapeTransform((2, 2), (4,)), RNG.randn(2, 2)),
    ("corr_cholesky_4", lambda T, L: T.CorrCholeskyTransform(), RNG.randn(4, 6)),
    ("corr_cholesky_3", lambda T, L: T.CorrCholeskyTransform(), RNG.randn(3)),
    ("corr_cholesky_2", lambda T, L: T.CorrCholeskyTransform(), RNG.randn(2, 5, 1)),
    ("corr_cholesky_1", lambda T, L: T.CorrCholeskyTransform(), np.zeros((3, 0))),
    ("lower_cholesky", lambda T, L: T.LowerCholeskyTransform(), RNG.randn(2, 3, 3)),
    ("positive_definite", lambda T, L: T.PositiveDefiniteTransform(), RNG.randn(3, 4, 4)),
    ("cdf_normal", _normal, RNG.randn(2, 3)),
    ("cdf_laplace", _laplace, RNG.randn(4)),
]


@pytest.mark.parametrize("name,build,x", CASES, ids=[c[0] for c in CASES])
def test_transforms_match_torch(name, build, x):
    ours, theirs = build(MT, mg), build(TT, torch)
    x_ours, x_theirs = _both(x)
    y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
    _close(y_ours, y_theirs)
    # (constraints.cat cannot check parts of unequal event dims, in torch as here)
    in_codomain = _value_or_error_type(lambda: bool(theirs.codomain.check(y_theirs).all()))
    assert _value_or_error_type(lambda: bool(ours.codomain.check(y_ours).all())) == in_codomain
    assert in_codomain in (True, RuntimeError)
    back_ours, back_theirs = ours.inv(y_ours), theirs.inv(y_theirs)
    _close(back_ours, back_theirs, tol=1e-8)
    assert ours.bijective == theirs.bijective
    for which in ("domain", "codomain"):
        mine, ref = getattr(ours, which), getattr(theirs, which)
        assert type(mine).__name__ == type(ref).__name__
        assert mine.event_dim == ref.event_dim
    assert _value_or_error_type(lambda: ours.event_dim) == \
        _value_or_error_type(lambda: theirs.event_dim)
    assert _value_or_error_type(lambda: ours.sign) == _value_or_error_type(lambda: theirs.sign)
    for shape in (x.shape, tuple(y_theirs.shape)):
        mine = _value_or_error_type(lambda: tuple(ours.forward_shape(shape)))
        assert mine == _value_or_error_type(lambda: tuple(theirs.forward_shape(shape)))
        mine = _value_or_error_type(lambda: tuple(ours.inverse_shape(shape)))
        assert mine == _value_or_error_type(lambda: tuple(theirs.inverse_shape(shape)))
    assert tuple(ours.inv.forward_shape(y_theirs.shape)) == tuple(
        theirs.inv.forward_shape(y_theirs.shape))
    assert ours == ours and (ours == build(MT, mg)) == (theirs == build(TT, torch))
    assert ours.inv.inv is ours
    cached = ours.with_cache(1)
    assert cached._cache_size == 1 and type(cached) is type(ours)
    if not theirs.bijective:
        with pytest.raises(NotImplementedError):
            ours.log_abs_det_jacobian(x_ours, y_ours)
        return
    _close(back_ours, x, tol=1e-8)
    j_theirs = _value_or_error_type(lambda: theirs.log_abs_det_jacobian(x_theirs, y_theirs))
    if isinstance(j_theirs, type):          # D = 1 correlation factors: torch refuses too
        with pytest.raises(j_theirs):
            ours.log_abs_det_jacobian(x_ours, y_ours)
        return
    j_ours = ours.log_abs_det_jacobian(x_ours, y_ours)
    _close(j_ours, j_theirs)
    _close(ours.inv.log_abs_det_jacobian(y_ours, x_ours),
           theirs.inv.log_abs_det_jacobian(y_theirs, x_theirs))
    weights = RNG.randn(*y_theirs.shape)
    loss_ours = j_ours.sum() + (y_ours * mg.tensor(weights, dtype=mg.float64)).sum()
    loss_theirs = j_theirs.sum() + (y_theirs * torch.tensor(weights)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    _close(x_ours.grad, x_theirs.grad, tol=1e-7)


def test_lower_cholesky_and_positive_definite_forward_gradients_and_inverse():
    x = RNG.randn(2, 3, 3)
    for make in (lambda T: T.LowerCholeskyTransform(), lambda T: T.PositiveDefiniteTransform()):
        x_ours, x_theirs = _both(x)
        y_ours, y_theirs = make(MT)(x_ours), make(TT)(x_theirs)
        weights = RNG.randn(*x.shape)
        (y_ours * mg.tensor(weights)).sum().backward()
        (y_theirs * torch.tensor(weights)).sum().backward()
        _close(x_ours.grad, x_theirs.grad, tol=1e-8)
    lower = np.tril(x, -1) + np.eye(3) * x      # the inverses recover the lower triangle
    for make in (MT.LowerCholeskyTransform, MT.PositiveDefiniteTransform):
        t = make()
        _close(t.inv(t(mg.tensor(x))), lower, tol=1e-8)


def _numerical_log_det(fn, x, h=1e-6):
    """log|det| of the Jacobian of the flat map fn (numpy vector -> numpy vector) at x."""
    columns = []
    for k in range(x.size):
        step = np.zeros_like(x)
        step[k] = h
        columns.append((fn(x + step) - fn(x - step)) / (2 * h))
    return np.linalg.slogdet(np.stack(columns, -1))[1]


def _flat_map(transform, shape, pick=lambda y: y):
    def fn(v):
        y = transform(mg.tensor(v.reshape(shape), dtype=mg.float64))
        return np.asarray(pick(y.numpy())).reshape(-1)
    return fn


def _strictly_lower(y):
    n = y.shape[-1]
    return y[..., np.tril_indices(n, -1)[0], np.tril_indices(n, -1)[1]]


# transform, x (one event, or a batch whose Jacobian is block diagonal), y -> flat vector
JACOBIANS = [
    ("cat", lambda: MT.CatTransform([MT.ExpTransform(), MT.SigmoidTransform(),
                                     MT.AffineTransform(0.0, -3.0)], -1, [2, 2, 1]),
     RNG.randn(2, 5), lambda y: y),
    ("stack", lambda: MT.StackTransform([MT.TanhTransform(), MT.SoftplusTransform()], 0),
     RNG.randn(2, 3), lambda y: y),
    ("reshape", lambda: MT.ReshapeTransform((2, 3), (6,)), RNG.randn(2, 3), lambda y: y),
    ("corr_cholesky_4", lambda: MT.CorrCholeskyTransform(), RNG.randn(6), _strictly_lower),
    ("corr_cholesky_5", lambda: MT.CorrCholeskyTransform(), 0.7 * RNG.randn(10),
     _strictly_lower),
    ("cdf", lambda: MT.CumulativeDistributionTransform(D.Normal(
        mg.tensor(0.4, dtype=mg.float64), mg.tensor(1.7, dtype=mg.float64))),
     RNG.randn(4), lambda y: y),
]


@pytest.mark.parametrize("name,make,x,pick", JACOBIANS, ids=[j[0] for j in JACOBIANS])
def test_log_abs_det_jacobian_matches_finite_differences(name, make, x, pick):
    t = make()
    x_t = mg.tensor(x, dtype=mg.float64)
    analytic = float(t.log_abs_det_jacobian(x_t, t(x_t)).sum())
    numeric = _numerical_log_det(_flat_map(t, x.shape, pick), x.reshape(-1))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6)


def test_corr_cholesky_second_order_gradients_match_torch():
    x_ours, x_theirs = _both(RNG.randn(2, 6))
    grads = []
    for t, x, lib in ((MT.CorrCholeskyTransform(), x_ours, mg),
                      (TT.CorrCholeskyTransform(), x_theirs, torch)):
        y = t(x)
        value = t.log_abs_det_jacobian(x, y).sum() + (y ** 3).sum()
        first, = lib.autograd.grad(value, x, create_graph=True)
        second, = lib.autograd.grad((first ** 2).sum(), x)
        grads.append((first, second))
    _close(grads[0][0], grads[1][0], tol=1e-8)
    _close(grads[0][1], grads[1][1], tol=1e-7)


def test_corr_cholesky_output_is_a_correlation_factor():
    y = MT.CorrCholeskyTransform()(mg.tensor(3.0 * RNG.randn(7, 10), dtype=mg.float64))
    assert tuple(y.shape) == (7, 5, 5)
    assert bool(MC.corr_cholesky.check(y).all())
    corr = y.numpy() @ np.swapaxes(y.numpy(), -1, -2)
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, atol=1e-12)


@pytest.mark.parametrize("constraint", [
    "corr_cholesky", "lower_cholesky", "positive_definite", "positive_semidefinite",
    "cat", "stack", "stack_simplex", "cat_nested",
])
def test_biject_to_and_transform_to_match_torch(constraint):
    def make(C):
        if constraint == "cat":
            return C.cat([C.positive, C.interval(-1.0, 2.0), C.real], -1, [2, 1, 3])
        if constraint == "stack":
            return C.stack([C.positive, C.unit_interval, C.less_than(1.0)], dim=-1)
        if constraint == "stack_simplex":
            return C.stack([C.simplex, C.simplex], dim=0)
        if constraint == "cat_nested":
            inner = C.stack([C.greater_than(-2.0), C.real], dim=0)
            return C.cat([inner, C.positive], dim=0, lengths=[2, 1])
        return getattr(C, constraint)
    x = {"corr_cholesky": RNG.randn(2, 3), "cat": RNG.randn(4, 6), "stack": RNG.randn(5, 3),
         "stack_simplex": RNG.randn(2, 4, 3), "cat_nested": RNG.randn(3, 2)}.get(
        constraint, RNG.randn(2, 3, 3))
    for kind in ("biject_to", "transform_to"):
        find_ours = biject_to if kind == "biject_to" else transform_to
        find_theirs = getattr(TD, kind)
        if _value_or_error_type(lambda: find_theirs(make(TD.constraints))) is NotImplementedError:
            _raises_like(lambda: find_ours(make(MC)), lambda: find_theirs(make(TD.constraints)))
            continue
        ours, theirs = find_ours(make(MC)), find_theirs(make(TD.constraints))
        assert type(ours).__name__ == type(theirs).__name__
        if hasattr(theirs, "transforms"):
            assert [type(p).__name__ for p in ours.transforms] == [
                type(p).__name__ for p in theirs.transforms]
            assert ours.dim == theirs.dim
        x_ours, x_theirs = _both(x, grad=False)
        y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
        _close(y_ours, y_theirs)
        assert bool(make(MC).check(y_ours).all())
        if kind == "biject_to":
            _close(ours.inv(y_ours), x, tol=1e-8)
            _close(ours.log_abs_det_jacobian(x_ours, y_ours),
                   theirs.log_abs_det_jacobian(x_theirs, y_theirs))


@pytest.mark.parametrize("make", [
    lambda T, L: T.CatTransform([T.ExpTransform(), 3]),
    lambda T, L: T.CatTransform([T.ExpTransform()], lengths=[1, 2]),
    lambda T, L: T.CatTransform([T.ExpTransform()], cache_size=2),
    lambda T, L: T.CatTransform([T.ExpTransform(), T.ExpTransform()], 1, [2, 3])(L.zeros(2, 4)),
    lambda T, L: T.CatTransform([T.ExpTransform(), T.ExpTransform()], 1, [2, 3]).inv(
        L.zeros(2, 4)),
    lambda T, L: T.CatTransform([T.ExpTransform(), T.ExpTransform()], 1, [2, 3])(L.zeros(5)),
    lambda T, L: T.CatTransform([T.ExpTransform(), T.ExpTransform()], 1, [2, 3]).inv(
        L.zeros(5)),
    lambda T, L: T.CatTransform([T.ExpTransform(), T.ExpTransform()], -1, [2, 3])
    .log_abs_det_jacobian(L.zeros(2, 5), L.zeros(2, 4)),
    lambda T, L: T.CatTransform([T.ExpTransform(), T.ExpTransform()], 1, [2, 3])
    .log_abs_det_jacobian(L.zeros(5), L.zeros(2, 5)),
    lambda T, L: T.CatTransform([T.ExpTransform(), T.ExpTransform()], 1, [2, 3])
    .log_abs_det_jacobian(L.zeros(2, 5), L.zeros(5)),
    lambda T, L: T.CatTransform([T.ExpTransform()]).sign,
    lambda T, L: T.StackTransform([T.ExpTransform(), 1.0]),
    lambda T, L: T.StackTransform([T.ExpTransform()] * 2, dim=1)(L.zeros(3, 3)),
    lambda T, L: T.StackTransform([T.ExpTransform()] * 2, dim=1).inv(L.zeros(2, 3)),
    lambda T, L: T.StackTransform([T.ExpTransform()] * 2, dim=2)(L.zeros(2, 2)),
    lambda T, L: T.StackTransform([T.ExpTransform()] * 2).log_abs_det_jacobian(
        L.zeros(2), L.zeros(3)),
    lambda T, L: T.StackTransform([T.ExpTransform()] * 2, cache_size=-1),
    lambda T, L: T.ReshapeTransform((2, 3), (5,)),
    lambda T, L: T.ReshapeTransform((2, 3), (6,)).event_dim,
    lambda T, L: T.ReshapeTransform((2, 3), (6,)).forward_shape((3,)),
    lambda T, L: T.ReshapeTransform((2, 3), (6,)).forward_shape((4, 3, 2)),
    lambda T, L: T.ReshapeTransform((2, 3), (6,)).inverse_shape((4, 5)),
    lambda T, L: T.ReshapeTransform((2, 3), (6,)).inverse_shape(()),
    lambda T, L: T.CorrCholeskyTransform()(L.zeros(2)),
    lambda T, L: T.CorrCholeskyTransform()(L.zeros(3, 5)),
    lambda T, L: T.CorrCholeskyTransform().forward_shape(()),
    lambda T, L: T.CorrCholeskyTransform().forward_shape((2, 4)),
    lambda T, L: T.CorrCholeskyTransform().inverse_shape((3,)),
    lambda T, L: T.CorrCholeskyTransform().inverse_shape((2, 3)),
    lambda T, L: T.CorrCholeskyTransform().event_dim,
    lambda T, L: T.CorrCholeskyTransform().sign,
    lambda T, L: T.CorrCholeskyTransform().log_abs_det_jacobian(L.zeros(0), L.ones(1, 1)),
    lambda T, L: T.CorrCholeskyTransform(cache_size=3),
    lambda T, L: T.LowerCholeskyTransform().sign,
    lambda T, L: T.PositiveDefiniteTransform().log_abs_det_jacobian(L.eye(2), L.eye(2)),
    lambda T, L: T.CumulativeDistributionTransform(None).domain,
])
def test_errors_match_torch(make):
    _raises_like(lambda: make(MT, mg), lambda: make(TT, torch))


def test_corr_cholesky_rejects_every_non_triangular_length():
    # torch lets a length of 4 through its size test and fails later with a RuntimeError;
    # here every length that is not D (D - 1) / 2 gets the ValueError
    for n in (2, 4, 5, 7, 8, 9):
        with pytest.raises(ValueError, match="cannot be expressed as the lower triangular"):
            MT.CorrCholeskyTransform()(mg.zeros(n))


def test_positive_definite_inverse_of_an_indefinite_matrix_raises_like_torch():
    bad = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(RuntimeError) as theirs:
        TT.PositiveDefiniteTransform().inv(torch.tensor(bad))
    with pytest.raises(RuntimeError) as ours:
        MT.PositiveDefiniteTransform().inv(mg.tensor(bad))
    assert type(ours.value).__name__.lstrip("_") == type(theirs.value).__name__.lstrip("_")
    assert str(ours.value) == str(theirs.value)


def test_caching_and_with_cache():
    x = mg.tensor(RNG.randn(3, 4), dtype=mg.float64)
    cat = MT.CatTransform([MT.TanhTransform(), MT.ExpTransform()], -1, [1, 3], cache_size=1)
    assert all(part._cache_size == 1 for part in cat.transforms)
    y = cat(x)
    assert cat.inv(y) is x and cat(x) is y
    plain = cat.with_cache(0)
    assert plain._cache_size == 0 and plain.lengths == [1, 3] and plain.dim == -1
    assert cat.with_cache(1) is cat
    stack = MT.StackTransform([MT.ExpTransform()] * 4, dim=1).with_cache(1)
    assert stack.inv(stack(x)) is x and stack.dim == 1
    reshape = MT.ReshapeTransform((4,), (2, 2), cache_size=1)
    assert reshape.inv(reshape(x)) is x
    assert tuple(reshape.with_cache(0).out_shape) == (2, 2)
    corr = MT.CorrCholeskyTransform(cache_size=1)
    v = mg.tensor(RNG.randn(6), dtype=mg.float64)
    assert corr.inv(corr(v)) is v
    normal = D.Normal(0.0, 1.0)
    cdf = MT.CumulativeDistributionTransform(normal).with_cache(1)
    assert cdf._cache_size == 1 and cdf.distribution is normal and cdf.domain is normal.support


def test_equality_and_reexports():
    assert MT.LowerCholeskyTransform() == MT.LowerCholeskyTransform()
    assert MT.PositiveDefiniteTransform() != MT.LowerCholeskyTransform()
    assert len({MT.LowerCholeskyTransform(), MT.LowerCholeskyTransform()}) == 1
    corr = MT.CorrCholeskyTransform()
    assert corr == corr and corr != MT.CorrCholeskyTransform()
    reshape = MT.ReshapeTransform((2,), (2,))
    assert reshape != MT.ReshapeTransform((2,), (2,))
    assert repr(MT.CatTransform([MT.ExpTransform()])) == "CatTransform()"
    for name in ("CatTransform", "StackTransform", "ReshapeTransform", "CorrCholeskyTransform",
                 "LowerCholeskyTransform", "PositiveDefiniteTransform",
                 "CumulativeDistributionTransform"):
        assert name in MT.__all__ and getattr(MT, name).__name__ == name
    cat = MT.CatTransform([MT.ExpTransform(), MT.IndependentTransform(MT.ExpTransform(), 1)],
                          0, [2, 3])
    assert cat.length == 5 and cat.event_dim == 1 and cat.bijective
    assert not MT.StackTransform([MT.ExpTransform(), MT.AbsTransform()]).bijective


def test_transformed_distributions_built_on_the_new_transforms_match_torch():
    value = RNG.uniform(0.1, 0.9, (4, 3))
    for T, lib, dists in ((MT, mg, D), (TT, torch, TD)):
        base = dists.Normal(lib.tensor([0.0, 1.0, -1.0], dtype=lib.float64),
                            lib.tensor([1.0, 2.0, 0.5], dtype=lib.float64))
        copula = dists.TransformedDistribution(base, [T.CumulativeDistributionTransform(base)])
        out = copula.log_prob(lib.tensor(value, dtype=lib.float64))
        if lib is mg:
            ours = out
    _close(ours, out)
    y = MT.CorrCholeskyTransform()(mg.tensor(RNG.randn(2, 3), dtype=mg.float64)).numpy()
    results = []
    for T, lib, dists in ((MT, mg, D), (TT, torch, TD)):
        base = dists.Independent(dists.Normal(lib.zeros(3, dtype=lib.float64),
                                              lib.ones(3, dtype=lib.float64)), 1)
        law = dists.TransformedDistribution(
            base, [T.AffineTransform(0.5, 1.0, event_dim=1), T.CorrCholeskyTransform()])
        assert tuple(law.event_shape) == (3, 3)
        results.append(law.log_prob(lib.tensor(y, dtype=lib.float64)))
    _close(*results)
