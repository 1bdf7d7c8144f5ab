"""Registry entries for complex linear algebra: matrix products (matmul, linear, einsum, dot,
vdot, vecdot, addmm, kron, trace), inverses, solves, determinants, norms, the general
eigendecomposition (``linalg.eig`` / ``eigvals``) and the decompositions (cholesky, qr, eigh,
svd, lu, pinv, lstsq, matrix_exp / matrix_power, householder_product / ormqr, tensorinv).

As in ``registry_complex``: the inputs are real float64 arrays, each complex operand is built
from a pair of them (``complex(a, b)``) and each entry returns a real tensor, so forward,
gradients (both halves of the complex gradient, through a and b) and second derivatives are
checked against torch and finite differences unchanged.  The eigenvectors' phase is
arbitrary, so eig's entries use only phase-free functions of them (|V|^2).
"""
from __future__ import annotations

from .opinfo import Sample, register

S = Sample


def _z(lib, a, b):
    return lib.complex(a, b)


def _pairs(g, *shapes):
    """Real and imaginary parts for each shape, flattened into one Sample."""
    return S(*[g.randn(*shape) for shape in shapes for _ in range(2)])


def _r(lib, t):
    return lib.view_as_real(t)


# products
register("matmul_complex", lambda lib, a, b, c, d: _r(lib, _z(lib, a, b) @ _z(lib, c, d)),
         lambda g: [_pairs(g, (3, 4), (4, 2)), _pairs(g, (2, 3, 4), (4, 2)),
                    _pairs(g, (4,), (2, 4, 3)), _pairs(g, (2, 1, 3, 4), (3, 4, 2)),
                    _pairs(g, (4,), (4,)), _pairs(g, (3, 4), (4,))])
register("linear_complex",
         lambda lib, a, b, c, d, e, f: _r(lib, lib.nn.functional.linear(
             _z(lib, a, b), _z(lib, c, d), _z(lib, e, f))),
         lambda g: [_pairs(g, (2, 3), (4, 3), (4,)), _pairs(g, (2, 2, 3), (4, 3), (4,))])
register("einsum_complex",
         lambda lib, a, b, c, d: _r(lib, lib.einsum("bij,jk->bik", _z(lib, a, b),
                                                    _z(lib, c, d))),
         lambda g: [_pairs(g, (2, 3, 4), (4, 2))])
register("dot_vdot_complex",
         lambda lib, a, b, c, d: _r(lib, lib.stack([
             lib.dot(_z(lib, a, b), _z(lib, c, d)), lib.vdot(_z(lib, a, b), _z(lib, c, d)),
             lib.inner(_z(lib, a, b), _z(lib, c, d))])),
         lambda g: [_pairs(g, (5,), (5,))])
register("vecdot_complex",
         lambda lib, a, b, c, d: _r(lib, lib.linalg.vecdot(_z(lib, a, b), _z(lib, c, d))),
         lambda g: [_pairs(g, (3, 4), (4,)), _pairs(g, (2, 1, 4), (3, 4))])
register("addmm_complex",
         lambda lib, a, b, c, d, e, f: _r(lib, lib.addmm(
             _z(lib, a, b), _z(lib, c, d), _z(lib, e, f), beta=1 + 2j, alpha=2 - 1j)),
         lambda g: [_pairs(g, (2, 3), (2, 4), (4, 3))])
register("baddbmm_complex",
         lambda lib, a, b, c, d, e, f: _r(lib, lib.baddbmm(
             _z(lib, a, b), _z(lib, c, d), _z(lib, e, f), beta=0.5j, alpha=1 + 1j)),
         lambda g: [_pairs(g, (2, 2, 3), (2, 2, 4), (2, 4, 3))])
register("kron_trace_complex",
         lambda lib, a, b, c, d: lib.cat([
             _r(lib, lib.kron(_z(lib, a, b), _z(lib, c, d))).reshape(-1),
             _r(lib, lib.trace(_z(lib, a, b) @ _z(lib, c, d)))]),
         lambda g: [_pairs(g, (2, 2), (2, 2))])

# inverses, solves, determinants
register("inv_complex", lambda lib, a, b: _r(lib, lib.linalg.inv(_z(lib, a, b))),
         lambda g: [_pairs(g, (3, 3)), _pairs(g, (2, 3, 3))])
register("solve_complex",
         lambda lib, a, b, c, d: _r(lib, lib.linalg.solve(_z(lib, a, b), _z(lib, c, d))),
         lambda g: [_pairs(g, (3, 3), (3, 2)), _pairs(g, (2, 3, 3), (3,))])
register("solve_triangular_complex",
         lambda lib, a, b, c, d: _r(lib, lib.linalg.solve_triangular(
             _z(lib, a, b) + 4 * lib.eye(3), _z(lib, c, d), upper=True)),
         lambda g: [_pairs(g, (3, 3), (3, 2))])
register("det_complex", lambda lib, a, b: _r(lib, lib.linalg.det(_z(lib, a, b))),
         lambda g: [_pairs(g, (3, 3)), _pairs(g, (2, 2, 2))])
register("slogdet_complex",
         lambda lib, a, b: lib.cat([_r(lib, lib.linalg.slogdet(_z(lib, a, b))[0]).reshape(-1),
                                    lib.linalg.slogdet(_z(lib, a, b))[1].reshape(-1)]),
         lambda g: [_pairs(g, (3, 3)), _pairs(g, (2, 2, 2))])

# norms (real results)
register("vector_norm_complex",
         lambda lib, a, b: lib.stack([lib.linalg.vector_norm(_z(lib, a, b), ord)
                                      for ord in (2, 1, 3, float("inf"))]),
         lambda g: [S(g.away(2, 3), g.away(2, 3))])
register("matrix_norm_complex",
         lambda lib, a, b: lib.stack([lib.linalg.matrix_norm(_z(lib, a, b), ord)
                                      for ord in ("fro", 1, float("inf"))]),
         lambda g: [S(g.away(3, 3), g.away(3, 3))])
register("nuclear_norm_complex",
         lambda lib, a, b: lib.linalg.matrix_norm(_z(lib, a, b), "nuc"),
         lambda g: [_pairs(g, (3, 2))])


# the general eigendecomposition: eigenvalues and the phase-free |V|^2
def _eig_parts(lib, A):
    L, V = lib.linalg.eig(A)
    return lib.cat([_r(lib, L).reshape(-1), (V.abs() ** 2).reshape(-1)])


register("eig_complex", lambda lib, a, b: _eig_parts(lib, _z(lib, a, b)),
         lambda g: [_pairs(g, (3, 3)), _pairs(g, (2, 3, 3))])
register("eig_real", lambda lib, a: _eig_parts(lib, a),
         lambda g: [S(g.randn(3, 3)), S(g.randn(2, 4, 4))])
register("eigvals_complex", lambda lib, a, b: _r(lib, lib.linalg.eigvals(_z(lib, a, b))),
         lambda g: [_pairs(g, (4, 4))])


# the decompositions: Hermitian positive-definite and Hermitian inputs are built from the
# pairs (Z Z^H + 3 I, Z + Z^H); outputs whose phase is arbitrary enter only through
# phase-free quantities (|Q|^2, |V|^2, U diag(S) Vh, projectors)
def _hpd(lib, a, b):
    z = _z(lib, a, b)
    return z @ z.mH + 3 * lib.eye(z.shape[-1])


def _herm(lib, a, b):
    z = _z(lib, a, b)
    return z + z.mH


def _flat(lib, *outs):
    """The outputs' real numbers in one vector (a complex one's real and imaginary parts)."""
    parts = [p for o in outs for p in ((o.real, o.imag) if o.is_complex() else (o,))]
    return lib.cat([p.reshape(-1) for p in parts])


register("cholesky_complex",
         lambda lib, a, b: _flat(lib, lib.linalg.cholesky(_hpd(lib, a, b)),
                                 lib.linalg.cholesky(_hpd(lib, a, b), upper=True)),
         lambda g: [_pairs(g, (3, 3)), _pairs(g, (2, 3, 3))])
register("cholesky_solve_inverse_complex",
         lambda lib, a, b, c, d: _flat(
             lib, lib.cholesky_solve(_z(lib, c, d), lib.linalg.cholesky(_hpd(lib, a, b))),
             lib.cholesky_solve(_z(lib, c, d), lib.linalg.cholesky(_hpd(lib, a, b), upper=True),
                                upper=True),
             lib.cholesky_inverse(lib.linalg.cholesky(_hpd(lib, a, b)))),
         lambda g: [_pairs(g, (3, 3), (3, 2))])
register("qr_complex",
         lambda lib, a, b: _flat(lib, *(lambda q, r: (q.abs() ** 2, r.abs() ** 2,
                                                      q @ q.mH))(*lib.linalg.qr(_z(lib, a, b)))),
         lambda g: [_pairs(g, (4, 3)), _pairs(g, (2, 3, 3)), _pairs(g, (3, 4))])
register("eigh_complex",
         lambda lib, a, b: _flat(lib, *(lambda w, v: (w, v.abs() ** 2))(
             *lib.linalg.eigh(_herm(lib, a, b))), lib.linalg.eigvalsh(_herm(lib, a, b), "U")),
         lambda g: [_pairs(g, (3, 3)), _pairs(g, (2, 4, 4))])
register("svd_complex",
         lambda lib, a, b: _flat(lib, *(lambda u, s, vh: (
             s, u.abs() ** 2, vh.abs() ** 2, (u * s.unsqueeze(-2)) @ vh[..., :s.shape[-1], :],
             u[..., :s.shape[-1]] @ vh[..., :s.shape[-1], :]))(
             *lib.linalg.svd(_z(lib, a, b), full_matrices=False))),
         lambda g: [_pairs(g, (3, 3)), _pairs(g, (4, 2)), _pairs(g, (2, 2, 3))])
register("svdvals_complex", lambda lib, a, b: lib.linalg.svdvals(_z(lib, a, b)),
         lambda g: [_pairs(g, (3, 2)), _pairs(g, (2, 3, 3))])
register("pinv_complex",
         lambda lib, a, b, c, d: _flat(lib, lib.linalg.pinv(_z(lib, a, b)),
                                       lib.linalg.pinv(_herm(lib, c, d), hermitian=True)),
         lambda g: [_pairs(g, (3, 2), (3, 3)), _pairs(g, (2, 3), (3, 3))])
register("lstsq_complex",
         lambda lib, a, b, c, d: _flat(lib, lib.linalg.lstsq(_z(lib, a, b), _z(lib, c, d))[0]),
         lambda g: [_pairs(g, (4, 3), (4, 2)), _pairs(g, (3, 3), (3, 1))])
register("lu_complex",
         lambda lib, a, b, c, d: _flat(
             lib, *lib.linalg.lu(_z(lib, a, b))[1:],
             lib.linalg.lu_solve(*lib.linalg.lu_factor(_z(lib, a, b)), _z(lib, c, d)),
             lib.linalg.lu_solve(*lib.linalg.lu_factor(_z(lib, a, b)), _z(lib, c, d),
                                 adjoint=True)),
         lambda g: [_pairs(g, (3, 3), (3, 2)), _pairs(g, (2, 3, 3), (3, 1))])
register("lu_rectangular_complex",
         lambda lib, a, b: _flat(lib, *lib.linalg.lu(_z(lib, a, b))[1:]),
         lambda g: [_pairs(g, (4, 3)), _pairs(g, (2, 4))])
register("solve_ex_complex",
         lambda lib, a, b, c, d: _flat(lib, lib.linalg.solve_ex(_z(lib, a, b), _z(lib, c, d),
                                                                left=False)[0]),
         lambda g: [_pairs(g, (3, 3), (2, 3))])
register("matrix_exp_power_complex",
         lambda lib, a, b: _flat(lib, lib.linalg.matrix_exp(_z(lib, a, b)),
                                 lib.linalg.matrix_power(_z(lib, a, b), -2),
                                 lib.linalg.matrix_power(_z(lib, a, b), 0)),
         lambda g: [_pairs(g, (3, 3)), _pairs(g, (2, 2, 2))])
register("matrix_norms_svd_complex",
         lambda lib, a, b: lib.stack([lib.linalg.matrix_norm(_z(lib, a, b), ord)
                                      for ord in ("nuc", 2, -2)] +
                                     [lib.linalg.cond(_z(lib, a, b))]),
         lambda g: [_pairs(g, (3, 3))])
register("householder_product_complex",
         lambda lib, a, b, c, d: _flat(lib, lib.linalg.householder_product(
             _z(lib, a, b), _z(lib, c, d))),
         lambda g: [_pairs(g, (4, 3), (2,))])
register("ormqr_complex",
         lambda lib, a, b, c, d, e, f: _flat(
             lib, lib.ormqr(_z(lib, a, b), _z(lib, c, d), _z(lib, e, f)),
             lib.ormqr(_z(lib, a, b), _z(lib, c, d), _z(lib, e, f), transpose=True)),
         lambda g: [_pairs(g, (3, 3), (3,), (3, 2))])
register("tensorinv_tensorsolve_complex",
         lambda lib, a, b, c, d: _flat(
             lib, lib.linalg.tensorinv(_z(lib, a, b), ind=1),
             lib.linalg.tensorsolve(_z(lib, a, b), _z(lib, c, d))),
         lambda g: [_pairs(g, (4, 2, 2), (4,))])
