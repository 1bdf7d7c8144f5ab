"""LU and LDL factorizations and the rest of torch.linalg (round 7), against torch: values,
pivots and info codes, named-tuple fields, singular and empty inputs, errors (type and
message).  Gradients of the differentiable ones are checked by the op registry
(minigrad/testing/registry_linalg_round7.py, tests/test_registry_ops.py)."""
import math
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])


def pair(a):
    return minigrad.tensor(np.array(a)), torch.tensor(np.array(a))


def close(m, t, tol=1e-12):
    m = m.numpy() if hasattr(m, "numpy") else np.asarray(m)
    t = t.detach().numpy()
    assert m.shape == t.shape and str(m.dtype) == str(t.dtype), (m.shape, t.shape, m.dtype)
    np.testing.assert_allclose(m, t, rtol=tol, atol=tol, equal_nan=True)


def same_error(f_m, f_t):
    """Both raise; the same exception type (LinAlgError counts as RuntimeError) and message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as em:
            f_m()
        with pytest.raises(Exception) as et:
            f_t()
    base = RuntimeError if isinstance(et.value, RuntimeError) else type(et.value)
    assert isinstance(em.value, base), (em.value, et.value)
    assert str(em.value) == str(et.value)


# ----------------------------------------------------------------------------------------------
# LU
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 5, 5), (6, 3), (3, 6), (2, 1, 4, 2), (0, 3, 3),
                                   (3, 0), (1, 1)])
def test_lu_factor_ex_matches_torch(shape):
    a = np.random.default_rng(sum(shape)).standard_normal(shape)
    m, t = pair(a)
    rm, rt = minigrad.linalg.lu_factor_ex(m), torch.linalg.lu_factor_ex(t)
    assert rm.__match_args__ == ("LU", "pivots", "info")
    close(rm.LU, rt.LU)
    assert rm.pivots.dtype == minigrad.int32
    assert np.array_equal(rm.pivots.numpy(), rt.pivots.numpy())
    assert np.array_equal(rm.info.numpy(), rt.info.numpy())
    P, L, U = minigrad.linalg.lu(m)
    for x, y in zip((P, L, U), torch.linalg.lu(t)):
        close(x, y)


def test_lu_singular_and_rank_deficient():
    batch = np.stack([SINGULAR, np.zeros((3, 3)), np.eye(3)])
    m, t = pair(batch)
    rm, rt = minigrad.linalg.lu_factor_ex(m), torch.linalg.lu_factor_ex(t)
    close(rm.LU, rt.LU)
    assert rm.info.tolist() == rt.info.tolist() == [3, 1, 0]
    assert np.array_equal(rm.pivots.numpy(), rt.pivots.numpy())
    for x, y in zip(minigrad.linalg.lu(m), torch.linalg.lu(t)):
        close(x, y)
    wide = pair(np.zeros((2, 3)))
    close(minigrad.linalg.lu_factor_ex(wide[0]).info, torch.linalg.lu_factor_ex(wide[1]).info)
    for A in (SINGULAR, batch):
        m, t = pair(A)
        same_error(lambda: minigrad.linalg.lu_factor(m), lambda: torch.linalg.lu_factor(t))
        same_error(lambda: minigrad.linalg.lu_factor_ex(m, check_errors=True),
                   lambda: torch.linalg.lu_factor_ex(t, check_errors=True))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")            # torch.lu's deprecation
            rm, rt = minigrad.lu(m), torch.lu(t)       # no error for singular matrices
        close(rm[0], rt[0]), close(rm[1], rt[1])


def test_lu_float32_and_ties():
    a = np.random.default_rng(1).standard_normal((2, 4, 4)).astype(np.float32)
    m, t = pair(a)
    rm, rt = minigrad.linalg.lu_factor(m), torch.linalg.lu_factor(t)
    close(rm.LU, rt.LU, tol=1e-5)
    ties = np.array([[1.0, 2.0], [-1.0, 3.0]])        # equal magnitudes: the first is taken
    m, t = pair(ties)
    assert minigrad.linalg.lu_factor(m).pivots.tolist() == \
        torch.linalg.lu_factor(t).pivots.tolist()


def test_lu_input_errors():
    for bad in (np.ones(3), np.ones((3, 3), np.int32), np.ones((3, 3), np.float16)):
        m, t = pair(bad)
        for name in ("lu_factor", "lu_factor_ex", "lu"):
            same_error(lambda: getattr(minigrad.linalg, name)(m),
                       lambda: getattr(torch.linalg, name)(t))
    m, t = pair(np.eye(3))
    for name in ("lu_factor", "lu_factor_ex", "lu"):
        same_error(lambda: getattr(minigrad.linalg, name)(m, pivot=False),
                   lambda: getattr(torch.linalg, name)(t, pivot=False))
    same_error(lambda: minigrad.linalg.lu_factor([1.0]), lambda: torch.linalg.lu_factor([1.0]))


def test_torch_lu_and_lu_unpack():
    a = np.random.default_rng(2).standard_normal((2, 4, 3))
    m, t = pair(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm, tt = minigrad.lu(m), torch.lu(t)
        im, it = minigrad.lu(m, get_infos=True), torch.lu(t, get_infos=True)
        sm, st = m.lu(), t.lu()
    assert type(tm) is tuple and len(tm) == 2
    close(tm[0], tt[0]), close(tm[1], tt[1]), close(sm[0], st[0])
    assert im.__match_args__ == ("LU", "pivots", "info") and "_lu_with_info" in repr(im)
    close(im.info, it.info)
    for kw in ({}, {"unpack_data": False}, {"unpack_pivots": False}):
        um, ut = minigrad.lu_unpack(*tm, **kw), torch.lu_unpack(*tt, **kw)
        assert um.__match_args__ == ("P", "L", "U")
        for x, y in zip(um, ut):
            close(x, y)
    lu_m, piv_m = tm
    lu_t, piv_t = tt
    same_error(lambda: minigrad.lu_unpack(lu_m, piv_m.long()),
               lambda: torch.lu_unpack(lu_t, piv_t.long()))
    zero_m, zero_t = pair(np.zeros((2, 3), np.int32))
    same_error(lambda: minigrad.lu_unpack(lu_m, zero_m), lambda: torch.lu_unpack(lu_t, zero_t))


@pytest.mark.parametrize("left,adjoint", [(True, False), (True, True), (False, False),
                                          (False, True)])
def test_lu_solve_matches_torch(left, adjoint):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 3)) + 2 * np.eye(3)
    b = rng.standard_normal((4, 1, 3, 2) if left else (4, 1, 2, 3))
    (am, at), (bm, bt) = pair(a), pair(b)
    lu_m, piv_m = minigrad.linalg.lu_factor(am)
    lu_t, piv_t = torch.linalg.lu_factor(at)
    close(minigrad.linalg.lu_solve(lu_m, piv_m, bm, left=left, adjoint=adjoint),
          torch.linalg.lu_solve(lu_t, piv_t, bt, left=left, adjoint=adjoint), tol=1e-10)
    if left and not adjoint:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            close(minigrad.lu_solve(input=bm, LU_data=lu_m, LU_pivots=piv_m),
                  torch.lu_solve(input=bt, LU_data=lu_t, LU_pivots=piv_t), 1e-10)
            close(bm.lu_solve(lu_m, piv_m), bt.lu_solve(lu_t, piv_t), 1e-10)


def test_lu_solve_errors():
    rng = np.random.default_rng(4)
    lu_t, piv_t = torch.linalg.lu_factor(torch.tensor(rng.standard_normal((2, 3, 3))))
    lu_m, piv_m = minigrad.tensor(lu_t.numpy()), minigrad.tensor(piv_t.numpy())
    cases = [
        (lambda L, p, b: (L, p, b(3)), {}),
        (lambda L, p, b: (L, p, b(2, 4, 2)), {}),
        (lambda L, p, b: (L, p, b(2, 2, 4)), {"left": False}),
        (lambda L, p, b: (L, p, b(2, 3, 2).float()), {}),
        (lambda L, p, b: (L, p.long(), b(2, 3, 2)), {}),
        (lambda L, p, b: (L, p[:, :2], b(2, 3, 2)), {}),
        (lambda L, p, b: (L[:, :, :2], p, b(2, 3, 2)), {}),
        (lambda L, p, b: (L, p * 0, b(2, 3, 2)), {}),
        (lambda L, p, b: (L, p * 0 + 5, b(2, 3, 2)), {}),
    ]
    for build, kw in cases:
        args_m = build(lu_m, piv_m, lambda *s: minigrad.ones(*s, dtype=minigrad.float64))
        args_t = build(lu_t, piv_t, lambda *s: torch.ones(*s, dtype=torch.float64))
        same_error(lambda: minigrad.linalg.lu_solve(*args_m, **kw),
                   lambda: torch.linalg.lu_solve(*args_t, **kw))


def test_solve_ex():
    rng = np.random.default_rng(5)
    a = np.stack([rng.standard_normal((3, 3)), SINGULAR])
    (am, at) = pair(a)
    for b in (np.ones((3, 1)), np.ones((2, 3)), rng.standard_normal((2, 3, 2))):
        bm, bt = pair(b)
        rm, rt = minigrad.linalg.solve_ex(am, bm), torch.linalg.solve_ex(at, bt)
        assert rm.__match_args__ == ("result", "info")
        close(rm.result, rt.result, tol=1e-10)            # inf / NaN where torch has them
        close(rm.info, rt.info)
    bm, bt = pair(rng.standard_normal((3, 2)))
    good_m, good_t = pair(a[0])
    close(minigrad.linalg.solve_ex(good_m, bm).result, torch.linalg.solve_ex(good_t, bt).result,
          tol=1e-10)
    cm, ct = pair(rng.standard_normal((2, 3)))
    close(minigrad.linalg.solve_ex(good_m, cm, left=False).result,
          torch.linalg.solve_ex(good_t, ct, left=False).result, tol=1e-10)
    same_error(lambda: minigrad.linalg.solve_ex(am, bm, check_errors=True),
               lambda: torch.linalg.solve_ex(at, bt, check_errors=True))
    for b, kw in ((np.ones((2, 4)), {}), (np.ones((3, 1)), {"left": False})):
        bm, bt = pair(b)
        same_error(lambda: minigrad.linalg.solve_ex(am, bm, **kw),
                   lambda: torch.linalg.solve_ex(at, bt, **kw))
    same_error(lambda: minigrad.linalg.solve_ex(am, bm.float()),
               lambda: torch.linalg.solve_ex(at, bt.float()))


# ----------------------------------------------------------------------------------------------
# cond, tensorinv, tensorsolve
# ----------------------------------------------------------------------------------------------
ORDS = [None, 2, -2, "fro", "nuc", math.inf, -math.inf, 1, -1]


@pytest.mark.parametrize("p", ORDS)
def test_cond_matches_torch(p):
    rng = np.random.default_rng(6)
    a = np.stack([rng.standard_normal((3, 3)), SINGULAR, np.zeros((3, 3))])
    m, t = pair(a)
    got, want = minigrad.linalg.cond(m, p).numpy(), torch.linalg.cond(t, p).numpy()
    if p in (None, 2, "nuc"):
        # from the singular values: the singular matrix's smallest is rounding noise
        # (~1e-16), so its condition number is only enormous on both sides, its digits are
        # the LAPACK build's (3.1e16 against 1.6e16 on an AVX-512 machine)
        assert got[1] > 1e14 and want[1] > 1e14
        got[1] = want[1] = 0
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert str(got.dtype) == str(want.dtype)
    m32, t32 = pair(a[:1].astype(np.float32))
    close(minigrad.linalg.cond(m32, p), torch.linalg.cond(t32, p), tol=1e-4)
    for empty in (np.zeros((0, 3, 3)), np.zeros((0, 0))):
        m, t = pair(empty)
        close(minigrad.linalg.cond(m, p), torch.linalg.cond(t, p))
    if p not in (None, 2, -2):
        m, t = pair(rng.standard_normal((3, 4)))
        same_error(lambda: minigrad.linalg.cond(m, p), lambda: torch.linalg.cond(t, p))


def test_cond_errors_and_rectangular():
    m, t = pair(np.random.default_rng(7).standard_normal((2, 3, 5)))
    close(minigrad.linalg.cond(m), torch.linalg.cond(t), tol=1e-10)
    for p in (3, "foo", 1.5):
        same_error(lambda: minigrad.linalg.cond(m, p), lambda: torch.linalg.cond(t, p))
    v_m, v_t = pair(np.ones(3))
    same_error(lambda: minigrad.linalg.cond(v_m), lambda: torch.linalg.cond(v_t))
    i_m, i_t = pair(np.eye(3, dtype=np.int32))
    for p in (None, 1):
        same_error(lambda: minigrad.linalg.cond(i_m, p), lambda: torch.linalg.cond(i_t, p))


def test_tensorinv_tensorsolve():
    rng = np.random.default_rng(8)
    a = (rng.standard_normal((6, 6)) + 3 * np.eye(6)).reshape(2, 3, 6)
    m, t = pair(a)
    close(minigrad.linalg.tensorinv(m), torch.linalg.tensorinv(t), tol=1e-10)
    m1, t1 = pair(a.reshape(6, 2, 3))
    close(minigrad.linalg.tensorinv(m1, ind=1), torch.linalg.tensorinv(t1, ind=1), tol=1e-10)
    bm, bt = pair(rng.standard_normal((2, 3)))
    close(minigrad.linalg.tensorsolve(m, bm), torch.linalg.tensorsolve(t, bt), tol=1e-10)
    md, td = pair(a.transpose(2, 0, 1))
    close(minigrad.linalg.tensorsolve(md, bm, dims=(0,)),
          torch.linalg.tensorsolve(td, bt, dims=(0,)), tol=1e-10)
    bad_m, bad_t = pair(rng.standard_normal((4, 6, 8, 3)))
    same_error(lambda: minigrad.linalg.tensorinv(bad_m, ind=1),
               lambda: torch.linalg.tensorinv(bad_t, ind=1))
    same_error(lambda: minigrad.linalg.tensorinv(m, ind=0), lambda: torch.linalg.tensorinv(t, 0))
    z_m, z_t = pair(np.zeros((2, 2, 2, 2)))
    same_error(lambda: minigrad.linalg.tensorinv(z_m), lambda: torch.linalg.tensorinv(z_t))
    b4_m, b4_t = pair(np.ones((2, 4)))
    same_error(lambda: minigrad.linalg.tensorsolve(m, b4_m),
               lambda: torch.linalg.tensorsolve(t, b4_t))
    zs_m, zs_t = pair(np.zeros((2, 3, 6)))
    same_error(lambda: minigrad.linalg.tensorsolve(zs_m, bm),
               lambda: torch.linalg.tensorsolve(zs_t, bt))


# ----------------------------------------------------------------------------------------------
# LDL
# ----------------------------------------------------------------------------------------------
def _ldl_inputs():
    rng = np.random.default_rng(9)
    for n in (1, 2, 3, 5, 8):
        a = rng.standard_normal((6, n, n))
        a[::2] = a[::2] + a[::2].swapaxes(-1, -2)
        a[1, 0, 0] = 0.0                                # forces 2x2 blocks / swaps
        yield a
    yield np.array([[0.0, 1.0], [1.0, 0.0]])            # a 2x2 block
    yield np.round(rng.standard_normal((4, 4, 4)))      # ties among the candidates


@pytest.mark.parametrize("a", list(_ldl_inputs()), ids=lambda a: "x".join(map(str, a.shape)))
def test_ldl_factor_and_solve_match_torch(a):
    m, t = pair(a)
    rm, rt = minigrad.linalg.ldl_factor_ex(m), torch.linalg.ldl_factor_ex(t)
    assert rm.__match_args__ == ("LD", "pivots", "info")
    assert rm.pivots.dtype == minigrad.int32
    assert np.array_equal(rm.pivots.numpy(), rt.pivots.numpy())
    assert np.array_equal(rm.info.numpy(), rt.info.numpy())
    close(rm.LD, rt.LD, tol=1e-12)
    if bool((rt.info == 0).all()):
        b = np.random.default_rng(10).standard_normal(a.shape[:-1] + (2,))
        bm, bt = pair(b)
        xm = minigrad.linalg.ldl_solve(rm.LD, rm.pivots, bm)
        close(xm, torch.linalg.ldl_solve(rt.LD, rt.pivots, bt), tol=1e-8)
        fm = minigrad.linalg.ldl_factor(m, hermitian=True)
        assert fm.__match_args__ == ("LD", "pivots")
        close(fm.LD, torch.linalg.ldl_factor(t, hermitian=True).LD, tol=1e-12)


def test_ldl_singular_float32_empty_and_broadcast():
    m, t = pair(np.zeros((3, 3)))
    rm, rt = minigrad.linalg.ldl_factor_ex(m), torch.linalg.ldl_factor_ex(t)
    close(rm.LD, rt.LD), close(rm.pivots, rt.pivots), close(rm.info, rt.info)
    with pytest.raises(RuntimeError, match="singular"):     # torch: an internal assert here
        minigrad.linalg.ldl_factor(m)
    a = np.random.default_rng(11).standard_normal((3, 5, 5)).astype(np.float32)
    m, t = pair(a)
    rm, rt = minigrad.linalg.ldl_factor(m), torch.linalg.ldl_factor(t)
    close(rm.LD, rt.LD, tol=1e-5), close(rm.pivots, rt.pivots)
    m, t = pair(np.zeros((0, 3, 3)))
    for x, y in zip(minigrad.linalg.ldl_factor(m), torch.linalg.ldl_factor(t)):
        close(x, y)
    a = np.random.default_rng(12).standard_normal((2, 3, 3))
    m, t = pair(a)
    rm, rt = minigrad.linalg.ldl_factor(m), torch.linalg.ldl_factor(t)
    bm, bt = pair(np.ones((3, 2)))                         # B broadcast over LD's batch
    close(minigrad.linalg.ldl_solve(*rm, bm), torch.linalg.ldl_solve(*rt, bt), tol=1e-8)


def test_ldl_errors_and_no_derivative():
    rng = np.random.default_rng(13)
    for bad in (rng.standard_normal((3, 4)), np.ones(3), np.ones((3, 3), np.int32)):
        m, t = pair(bad)
        same_error(lambda: minigrad.linalg.ldl_factor(m), lambda: torch.linalg.ldl_factor(t))
    m, t = pair(rng.standard_normal((2, 3, 3)))
    rm, rt = minigrad.linalg.ldl_factor(m), torch.linalg.ldl_factor(t)
    for b, piv in ((np.ones((2, 4, 2)), None), (np.ones((2, 3)), None),
                   (np.ones((2, 3, 2), np.float32), None), (np.ones((2, 3, 2)), 2)):
        bm, bt = pair(b)
        pm, pt = (rm.pivots, rt.pivots) if piv is None else (rm.pivots[:, :2], rt.pivots[:, :2])
        same_error(lambda: minigrad.linalg.ldl_solve(rm.LD, pm, bm),
                   lambda: torch.linalg.ldl_solve(rt.LD, pt, bt))
    x = minigrad.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    ld = minigrad.linalg.ldl_factor(x).LD
    assert ld.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex"):
        ld.sum().backward()


# ----------------------------------------------------------------------------------------------
# geqrf, ormqr, qr, eig
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (0, 3), (3, 1)])
def test_geqrf_matches_torch(shape):
    a = np.random.default_rng(14).standard_normal(shape)
    m, t = pair(a)
    rm, rt = minigrad.geqrf(m), torch.geqrf(t)
    assert rm.__match_args__ == ("a", "tau")
    close(rm.a, rt.a), close(rm.tau, rt.tau)
    close(m.geqrf().a, t.geqrf().a)
    for special in (np.zeros((3, 2)), np.array([[-1.0, 0.0], [0.0, -1.0], [0.0, 0.0]])):
        sm, st = pair(special)
        for x, y in zip(minigrad.geqrf(sm), torch.geqrf(st)):
            close(x, y)


def test_geqrf_errors_and_no_derivative():
    for bad in (np.ones(3), np.ones((3, 3), np.int32)):
        m, t = pair(bad)
        same_error(lambda: minigrad.geqrf(m), lambda: torch.geqrf(t))
    x = minigrad.tensor(np.random.default_rng(15).standard_normal((3, 3)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="the derivative for 'geqrf' is not"):
        minigrad.geqrf(x).a.sum().backward()


def test_ormqr_errors():
    rng = np.random.default_rng(16)
    a_t, tau_t = torch.geqrf(torch.tensor(rng.standard_normal((4, 3))))
    a_m, tau_m = minigrad.tensor(a_t.numpy()), minigrad.tensor(tau_t.numpy())
    cases = [((3, 2), {}), ((2, 3), {"left": False}), ((2, 4, 2), {})]
    for shape, kw in cases:
        cm, ct = pair(np.ones(shape))
        same_error(lambda: minigrad.ormqr(a_m, tau_m, cm, **kw),
                   lambda: torch.ormqr(a_t, tau_t, ct, **kw))
    cm, ct = pair(np.ones((4, 2)))
    same_error(lambda: minigrad.ormqr(a_m, tau_m[:2], cm), lambda: torch.ormqr(a_t, tau_t[:2], ct))
    same_error(lambda: minigrad.ormqr(a_m, tau_m, cm.float()),
               lambda: torch.ormqr(a_t, tau_t, ct.float()))
    same_error(lambda: minigrad.ormqr(a_m, tau_m.float(), cm),
               lambda: torch.ormqr(a_t, tau_t.float(), ct))
    close(minigrad.ormqr(a_m, tau_m, cm, True, True), torch.ormqr(a_t, tau_t, ct, True, True),
          tol=1e-12)
    close(minigrad.ormqr(a_m, input2=tau_m, input3=cm, transpose=True),      # torch's names
          torch.ormqr(a_t, input2=tau_t, input3=ct, transpose=True), tol=1e-12)


def test_torch_qr_and_eig_refused():
    m, t = pair(np.random.default_rng(17).standard_normal((4, 2)))
    for some in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")            # torch.qr's deprecation
            qm, qt = minigrad.qr(m, some), torch.qr(t, some)
        assert qm.__match_args__ == ("Q", "R") and "return_types.qr(" in repr(qm)
        assert qm.Q.shape == tuple(qt.Q.shape) and qm.R.shape == tuple(qt.R.shape)
        np.testing.assert_allclose((qm.Q @ qm.R).numpy(), m.numpy(), atol=1e-12)
    assert m.qr().Q.shape == (4, 2)
    for name in ("eig", "eigvals"):          # complex results, now that minigrad has them
        assert hasattr(minigrad.linalg, name)


def test_solve_ex_names_itself_when_B_is_not_a_tensor():
    for lib in (minigrad, torch):
        with pytest.raises(TypeError, match=r"linalg_solve_ex\(\): argument 'B'"):
            lib.linalg.solve_ex(lib.eye(3, dtype=lib.float64), "x")
