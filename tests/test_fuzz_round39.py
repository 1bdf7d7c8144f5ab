"""Round-39 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at the torch namespace with Python scalars and 0-d tensors of other dtypes,
integer division, remainder, powers and shifts, nan/inf/-0.0 and empty tensors in the
reductions and sorts, wrong argument types and counts, and ``torch.linalg`` on singular,
empty, batched and non-square inputs.  Seeded generators built the calls and compared the
result's dtype, shape, strides and values, or the exception's type and first words, over
about 20,000 calls.  The defects fixed:

* the results of the LAPACK-backed linear algebra are laid out as PyTorch's: each matrix
  column-major, the batch outside (``inv``, ``solve``, ``lu_solve``, ``solve_triangular``
  on either side, ``cholesky`` lower and upper, ``cholesky_inverse`` / ``cholesky_solve``,
  ``lu_factor``, ``qr``'s Q and R, ``svd``'s U and Vh, ``eigh``'s and ``eig``'s vectors,
  ``lstsq``, ``householder_product`` / ``orgqr``, ``geqrf``, ``ormqr``, ``ldl_factor`` /
  ``ldl_solve``, ``triangular_solve``); ``lu``'s P stays row-major; a batch of vector
  solutions of ``solve`` is laid out column-major as a (*, n) matrix; ``solve(left=False)``
  comes out row-major (the transposed solve), as PyTorch's;
* a refused call of a ``torch.linalg`` function is worded by PyTorch's parser under its name
  ``linalg_<name>`` (unexpected keywords, too many or missing arguments, an argument of the
  wrong type, by PyTorch's parameter names; several signatures listed where it has them);
* ``multi_dot`` names the dtypes by their C++ element types and the shapes as lists;
  ``vecdot`` refuses a non-floating x before comparing the dtypes; ``tensorinv`` refuses an
  ``ind`` past the dims as PyTorch's slice does; ``householder_product`` words a 1-d input,
  a 0-d tau and a tau of the wrong rank as PyTorch; ``solve`` / ``solve_ex`` refuse a 0-d B
  and ``lstsq`` a 0-d other in their own words; ``eigh`` / ``eigvalsh`` check ``UPLO``
  before the dtype;
* ``linalg.vander`` is a column of ones beside the running products (x^0 = 1 for a complex
  0, the powers rounded as products) and refuses float16 / bfloat16;
* ``linalg.lu`` / ``lu_factor`` with ``pivot=False`` take an empty input (P empty);
* ``out=``: the same-dtype elementwise ops (``frac``, ``round``, ``bitwise_not``, ``abs``...)
  and ``dot`` / ``vdot`` / ``matmul`` of two vectors refuse an ``out`` of another dtype than
  the input's before their kernels refuse the input's dtype; ``sum`` / ``prod`` /
  ``logsumexp`` without a dim take no ``out`` (the parser's refusal);
* in place on a tensor whose elements share memory (expanded), PyTorch's order: the overlap
  before the cast and the kernel (``bitwise_and_``, ``gcd_``, ``bitwise_not_``, clamps with
  tensor bounds), the op's own refusal first (complex ``abs_`` / ``floor_`` / ``sign_``, bool
  ``neg_``); ``nan_to_num_`` of an integral tensor writes nothing; ``masked_fill_`` checks
  the mask's shape before converting the value;
* ``x.half(...)``, ``x.cdouble(...)`` and the other conversions name themselves in Python's
  refusals; ``randint`` checks the result's size before its bounds.
"""
import pytest

torch = pytest.importorskip("torch")

from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-4, atol64=1e-8)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken

_A = "A = torch.tensor([[4., 1., 2.], [1., 5., 3.], [2., 3., 6.]], dtype=torch.float64); "
_AB = _A + "A = torch.stack([A, 2 * A]); B = torch.arange(12.).double().reshape(2, 3, 2); "
# every result's strides, one after another (-1 closing each)
_STRIDES = ("\nr = torch.tensor([s for t in (r if isinstance(r, tuple) else (r,)) "
            "for s in list(t.stride()) + [-1]])")


# ---- LAPACK's column-major layout -------------------------------------------------------------

@pytest.mark.parametrize("code", [
    _A + "r = torch.linalg.inv(A)",
    _AB + "r = torch.linalg.inv(A)",
    _AB + "r = torch.linalg.inv_ex(A)[0]",
    _AB + "r = torch.inverse(A)",
    _AB + "r = torch.linalg.matrix_power(A, -1)",
    _AB + "r = torch.linalg.matrix_power(A, -2)",
    _AB + "r = torch.linalg.solve(A, B)",
    _AB + "r = torch.linalg.solve(A, B.mT, left=False)",
    _AB + "r = torch.linalg.solve(A, B[..., 0])",
    _AB + "r = torch.linalg.solve(A, B[0, :, 0])",
    _AB + "r = torch.linalg.solve(A[0], B)",
    _AB + "r = torch.linalg.solve_ex(A, B)[0]",
    _AB + "r = torch.linalg.solve_ex(A * 0, B)[0]",
    _AB + "r = torch.linalg.lu_solve(*torch.linalg.lu_factor(A), B)",
    _AB + "r = torch.linalg.lu_solve(*torch.linalg.lu_factor(A), B, adjoint=True)",
    _AB + "r = torch.linalg.lu_solve(*torch.linalg.lu_factor(A), B.mT, left=False)",
    _AB + "r = torch.linalg.solve_triangular(A.triu(), B, upper=True)",
    _AB + "r = torch.linalg.solve_triangular(A.triu(), B.mT, upper=True, left=False)",
    _AB + "r = torch.linalg.solve_triangular(A.tril(), B, upper=False, unitriangular=True)",
    _AB + "r = torch.triangular_solve(B, A.triu())",
    _AB + "r = torch.triangular_solve(B, A[0].triu(), transpose=True)",
    _AB + "r = torch.cholesky_solve(B, torch.linalg.cholesky(A))",
    _AB + "r = torch.cholesky_inverse(torch.linalg.cholesky(A))",
    _A + "r = torch.cholesky_inverse(torch.linalg.cholesky(A))",
    _AB + "r = torch.linalg.ldl_solve(*torch.linalg.ldl_factor(A), B)",
    _A + "r = torch.linalg.tensorinv(A, ind=1)",
])
def test_solves_and_inverses_laid_out_column_major(code):
    _taken(code)
    _taken(code + _STRIDES)


@pytest.mark.parametrize("code", [
    _A + "r = torch.linalg.cholesky(A)",
    _AB + "r = torch.linalg.cholesky(A)",
    _AB + "r = torch.linalg.cholesky(A, upper=True)",
    _AB + "r = torch.linalg.cholesky_ex(A)",
    _AB + "r = torch.linalg.cholesky_ex(A, upper=True)[0]",
    _AB + "r = torch.cholesky(A)",
    _AB + "r = torch.linalg.lu_factor(A)",
    _AB + "r = torch.linalg.lu_factor_ex(A)",
    _AB + "r = torch.linalg.lu(A)",
    _A + "r = torch.linalg.lu(A)",
    _AB + "r = torch.lu_unpack(*torch.linalg.lu_factor(A))",
    _AB + "r = torch.linalg.ldl_factor(A)",
    _AB + "r = torch.geqrf(A)",
    _AB + "r = torch.linalg.householder_product(*torch.geqrf(A))",
    _AB + "r = torch.orgqr(*torch.geqrf(A))",
    _AB + "r = torch.ormqr(*torch.geqrf(A), B)",
    _AB + "r = torch.ormqr(*torch.geqrf(A), B.mT, left=False)",
    _AB + "r = torch.linalg.householder_product(A, torch.zeros(2, 0, dtype=torch.float64))",
    _AB + "r = torch.linalg.lstsq(A, B)[0]",
    _AB + "r = torch.linalg.lstsq(A[:, :2], B[:, :2])[0]",
])
def test_factorizations_laid_out_column_major(code):
    _taken(code)
    _taken(code + _STRIDES)


@pytest.mark.parametrize("code", [
    # the factors' signs are LAPACK's choice: their layouts and products are compared
    _AB + "r = torch.linalg.qr(A)",
    _AB + "r = torch.linalg.qr(A, mode='complete')",
    _AB + "r = torch.linalg.qr(A[:, :, :2], mode='complete')",
    _AB + "r = torch.linalg.qr(A, mode='r')",
    "r = torch.linalg.qr(torch.ones(3, 0), mode='complete')[0]",
    _AB + "r = torch.qr(A)",
    _AB + "r = torch.linalg.svd(A)",
    _AB + "r = torch.linalg.svd(A[:, :2])",
    _AB + "r = torch.linalg.svd(A[:, :2], full_matrices=False)",
    _AB + "r = torch.linalg.svd(A.to(torch.complex128))",
    _AB + "r = torch.svd(A)",
    _AB + "r = torch.linalg.eigh(A)",
    _AB + "r = torch.linalg.eigh(A.to(torch.complex128))",
    _AB + "r = torch.linalg.eig(A)",
    "r = torch.linalg.eig(torch.tensor([[2., 1.], [0., 3.]]))",
])
def test_decompositions_laid_out_column_major(code):
    _taken(code + _STRIDES)


@pytest.mark.parametrize("code", [
    _AB + "q, r = torch.linalg.qr(A); r = q @ r",
    _AB + "u, s, vh = torch.linalg.svd(A); r = (u * s.unsqueeze(-2)) @ vh",
    _AB + "w, v = torch.linalg.eigh(A); r = (v * w.unsqueeze(-2)) @ v.mT",
])
def test_decompositions_still_reconstruct(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    # the gradients through the copies that lay the results out (their values; the layout of
    # PyTorch's gradients is its backward formulas')
    _AB + "A.requires_grad_(); x = torch.linalg.inv(A); "
    "r = torch.autograd.grad((x * torch.arange(9.).double().reshape(3, 3)).sum(), A)[0]",
    _AB + "A.requires_grad_(); x = torch.linalg.solve_triangular(A.triu(), B.mT, upper=True, "
    "left=False); r = torch.autograd.grad((x * x).sum(), A)[0]",
    _AB + "A.requires_grad_(); x = torch.linalg.cholesky(A, upper=True); "
    "r = torch.autograd.grad((x * x.detach()).sum(), A)[0]",
    _AB + "A.requires_grad_(); q, r = torch.linalg.qr(A); "
    "r = torch.autograd.grad((q @ r).sum(), A)[0]",
    _AB + "B.requires_grad_(); x = torch.linalg.lu_solve(*torch.linalg.lu_factor(A), B, "
    "adjoint=True); r = torch.autograd.grad((x * x).sum(), B)[0]",
    _AB + "A.requires_grad_(); x = torch.linalg.householder_product(A, A[:, 0, :2]); "
    "r = torch.autograd.grad(x.sum(), A)[0]",
    _AB + "A.requires_grad_(); x = torch.linalg.cholesky(A); r = type(x.grad_fn).__name__",
    _AB + "A.requires_grad_(); x = torch.linalg.cholesky(A, upper=True); "
    "r = type(x.grad_fn).__name__",
])
def test_gradients_through_the_layouts(code):
    _taken(code + "\nr = r.contiguous() if isinstance(r, torch.Tensor) else r")


# ---- torch.linalg's argument refusals, in PyTorch's parser's words ------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.linalg.solve(torch.eye(3), torch.ones(3), dim=0)",
    "r = torch.linalg.vecdot(torch.ones(3), torch.ones(3), left=False)",
    "r = torch.linalg.cholesky(torch.eye(3), foo=1)",
    "r = torch.linalg.cholesky()",
    "r = torch.linalg.cholesky('a')",
    "r = torch.linalg.cholesky(torch.eye(3), torch.eye(3))",
    "r = torch.linalg.svd()",
    "r = torch.linalg.svd(torch.eye(3), True, 1)",
    "r = torch.linalg.inv(torch.eye(3), torch.eye(3))",
    "r = torch.linalg.eigh(torch.eye(3), 'L', 1)",
    "r = torch.linalg.eigvals('a')",
    "r = torch.linalg.householder_product(torch.eye(3), 'a')",
    "r = torch.linalg.householder_product()",
    "r = torch.linalg.solve_triangular(torch.eye(3), torch.eye(3))",
    "r = torch.linalg.solve_triangular(torch.eye(3), torch.eye(3), True)",
    "r = torch.linalg.pinv(torch.eye(3), tol=0.1)",
    "r = torch.linalg.pinv(torch.eye(3), 'a')",
    "r = torch.linalg.matrix_rank()",
    "r = torch.linalg.matrix_rank(torch.eye(3), foo=1)",
    "r = torch.linalg.cond(torch.eye(3), 2, 3)",
    "r = torch.linalg.norm(torch.eye(3), foo=1)",
    "r = torch.linalg.matrix_norm(torch.eye(3), 'fro', (0, 1), False, 1)",
    "r = torch.linalg.lu_factor(torch.eye(3), True)",
    "r = torch.linalg.ldl_factor(torch.eye(3), torch.eye(3))",
    "r = torch.linalg.matrix_power(torch.eye(3))",
    "r = torch.linalg.matrix_power(torch.eye(3), 2.5)",
    "r = torch.linalg.tensorinv(torch.eye(3), 1, 2)",
    "r = torch.linalg.multi_dot(torch.eye(3), torch.eye(3))",
    "r = torch.linalg.cross(torch.ones(3), 'a')",
    "r = torch.linalg.lu_solve(torch.eye(3))",
])
def test_linalg_refusals_in_parser_words(code):
    _refused(code)


# ---- words and orders of single checks -------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.linalg.multi_dot([torch.ones(3, 2), torch.ones(3, 3)])",
    "r = torch.linalg.multi_dot([torch.ones(3), torch.ones(2, 2)])",
    "r = torch.linalg.multi_dot([torch.ones(2, 2), torch.ones(3, 2), torch.ones(3)])",
    "r = torch.linalg.multi_dot([torch.ones(3), torch.ones(3, 3, dtype=torch.complex64)])",
    "r = torch.linalg.multi_dot([torch.ones(2, 2), torch.ones(2, 2, dtype=torch.int64)])",
    "r = torch.linalg.multi_dot([torch.ones(2, 2).half(), torch.ones(2, 2)])",
    "r = torch.linalg.multi_dot([torch.ones(2, 2), torch.ones(2, 2, dtype=torch.uint8)])",
    "r = torch.linalg.vecdot(torch.ones(2, dtype=torch.int64), torch.ones(2))",
    "r = torch.linalg.vecdot(torch.ones(2, dtype=torch.int64), torch.ones(3))",
    "r = torch.linalg.vecdot(torch.ones(2), torch.ones(2, dtype=torch.int64))",
    "r = torch.linalg.vecdot(torch.ones(2).bool(), torch.ones(2).bool())",
    "r = torch.linalg.tensorinv(torch.ones(3), ind=2)",
    "r = torch.linalg.tensorinv(torch.ones(3, 3), ind=3)",
    "r = torch.linalg.tensorinv(torch.ones(3, 3), ind=2)",
    "r = torch.linalg.householder_product(torch.ones(3), torch.ones(3))",
    "r = torch.linalg.householder_product(torch.ones(3, 2), torch.ones(()))",
    "r = torch.linalg.householder_product(torch.ones(3, 0), torch.ones(0, 0))",
    "r = torch.linalg.householder_product(torch.ones(3, 2), torch.ones(1, 1, 1))",
    "r = torch.linalg.householder_product(torch.ones(2, 3, 2), torch.ones(4, 2))",
    "r = torch.linalg.householder_product(torch.ones(3, 2), torch.ones(1, 1, 3))",
    "r = torch.linalg.solve(torch.eye(3), torch.tensor(2.))",
    "r = torch.linalg.solve_ex(torch.eye(3).expand(2, 3, 3), torch.tensor(2.))",
    "r = torch.linalg.solve(torch.eye(3), torch.tensor(2))",
    "r = torch.linalg.lstsq(torch.ones(2, 2), torch.tensor(2.))",
    "r = torch.linalg.lstsq(torch.ones(2, 2).long(), torch.tensor(2.))",
    "r = torch.linalg.lstsq(torch.ones(2), torch.tensor(2.))",
    "r = torch.linalg.eigh(torch.ones(2, 2).long(), UPLO='x')",
    "r = torch.linalg.eigvalsh(torch.ones(2, 2).half(), UPLO='x')",
    "r = torch.linalg.eigh(torch.ones(2, 3), UPLO='x')",
    "r = torch.linalg.vander(torch.ones(2).half())",
    "r = torch.linalg.vander(torch.ones(2).bfloat16(), N=-1)",
    "r = torch.linalg.vander(torch.ones(2).bool())",
])
def test_check_words_and_order(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.linalg.vander(torch.tensor([0j, 1 + 1j]), N=3)",
    "r = torch.linalg.vander(torch.tensor([[0j, 2j], [1., -1.]], dtype=torch.complex128))",
    "r = torch.linalg.vander(torch.tensor([1.1, 3.3, -0.7]), N=12)",
    "r = torch.linalg.vander(torch.tensor([0, -2], dtype=torch.int32), N=3)",
    "r = torch.linalg.vander(torch.tensor(2.), N=3)",
    "x = torch.tensor([[1., 2.], [3., 0.]], dtype=torch.float64, requires_grad=True); "
    "r = torch.autograd.grad(torch.linalg.vander(x, N=4).sum(), x)[0]",
    "r = type(torch.linalg.vander(torch.ones(2, requires_grad=True)).grad_fn).__name__",
    "r = torch.linalg.lu(torch.ones(3, 0), pivot=False)[1]",
    "r = torch.linalg.lu(torch.ones(2, 3, 0), pivot=False)[0]",
    "r = torch.linalg.lu_factor(torch.ones(0, 2, 2), pivot=False)[1]",
    "r = torch.linalg.lu_factor_ex(torch.ones(2, 0, 3), pivot=False)[2]",
])
def test_vander_and_empty_lu(code):
    _taken(code)


def test_lu_without_pivoting_refused_when_there_is_work():
    _refused("r = torch.linalg.lu(torch.eye(2), pivot=False)")


# ---- out= checked before the kernel, and the overloads that take none ------------------------

@pytest.mark.parametrize("code", [
    "r = torch.frac(torch.ones(3).bool(), out=torch.zeros(3))",
    "r = torch.frac(torch.ones(3, dtype=torch.complex64), out=torch.zeros(3))",
    "r = torch.bitwise_not(torch.ones(3), out=torch.zeros(3).double())",
    "r = torch.bitwise_not(torch.ones(3).half(), out=torch.zeros(3).byte())",
    "r = torch.round(torch.ones(3).bool(), out=torch.zeros(3).long())",
    "r = torch.round(torch.ones(3, dtype=torch.complex64), out=torch.zeros(3))",
    "r = torch.abs(torch.ones(3).bool(), out=torch.zeros(3))",
    "r = torch.floor(torch.ones(3).bool(), out=torch.zeros(3).int())",
    "r = torch.trunc(torch.ones(3).bool(), out=torch.zeros(3).half())",
    "r = torch.sgn(torch.ones(3).bool(), out=torch.zeros(3))",
    "r = torch.hardshrink(torch.ones(3).long(), out=torch.zeros(3))",
    # the kinds refused before the out
    "r = torch.floor(torch.ones(3, dtype=torch.complex64), out=torch.zeros(3))",
    "r = torch.sign(torch.ones(3, dtype=torch.complex64), out=torch.zeros(3).long())",
    "r = torch.neg(torch.ones(3).bool(), out=torch.zeros(3))",
    "r = torch.abs(torch.ones(3, dtype=torch.complex64), out=torch.zeros(3).long())",
    # dot (and matmul of two vectors): the out's dtype against the input's first
    "r = torch.dot(torch.ones(3), torch.ones(4), out=torch.zeros(()).double())",
    "r = torch.dot(torch.ones(3).byte(), torch.ones(3), out=torch.zeros(()).double())",
    "r = torch.vdot(torch.ones(3).long(), torch.ones(3), out=torch.zeros(()).int())",
    "r = torch.matmul(torch.ones(3).long(), torch.ones(3), out=torch.zeros(()).int())",
    "r = torch.matmul(torch.ones(3), torch.ones(4), out=torch.zeros(()).int())",
    # sum / prod / logsumexp without a dim take no out
    "r = torch.sum(torch.ones(3), out=torch.zeros(()))",
    "r = torch.prod(torch.ones(3).int(), out=torch.zeros(()).long())",
    "r = torch.sum(torch.ones(3), dtype=torch.float64, out=torch.zeros(()).double())",
    "r = torch.prod(torch.ones(3), dtype=torch.float64, out=torch.zeros(()).double())",
    "r = torch.logsumexp(torch.ones(3), out=torch.zeros(()))",
])
def test_out_checked_first(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "o = torch.zeros(()); r = (torch.sum(torch.ones(3), 0, out=o), o)",
    "o = torch.zeros(()); r = (torch.sum(torch.ones(3), None, out=o), o)",
    "o = torch.zeros(()); r = (torch.sum(torch.ones(3), dim=None, out=o), o)",
    "o = torch.zeros(()); r = (torch.logsumexp(torch.ones(3), 0, out=o), o)",
    "o = torch.zeros(()); r = (torch.nansum(torch.ones(3), out=o), o)",
    "o = torch.zeros(3); r = (torch.frac(torch.tensor([1.5, -2.25, 3.]), out=o), o)",
    "o = torch.zeros(()); r = (torch.dot(torch.ones(3), torch.ones(3), out=o), o)",
    "o = torch.zeros(3); r = (torch.abs(torch.ones(3, dtype=torch.complex64), out=o), o)",
])
def test_out_still_taken(code):
    _taken(code)


# ---- the dtype conversions' refusals name them ------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.ones(2).half(correction=-1)",
    "r = torch.ones(2).cdouble(dim=2.5)",
    "r = torch.ones(2).bool(foo=1, memory_format=torch.contiguous_format)",
    "r = torch.ones(2).long(1)",
])
def test_dtype_conversions_named(code):
    _refused(code)


# ---- in place on a tensor whose elements share memory: PyTorch's order -------------------------

_EXPANDED = "y = torch.tensor([1, 2, 3]).to(torch.{}).expand(2, 3); "


@pytest.mark.parametrize("code", [
    # the overlap first
    _EXPANDED.format("int32") + "r = y.bitwise_and_(2.5)",
    _EXPANDED.format("int32") + "r = y.bitwise_or_(torch.tensor(2.5))",
    _EXPANDED.format("complex64") + "r = y.bitwise_xor_(True)",
    _EXPANDED.format("float32") + "r = y.bitwise_not_()",
    _EXPANDED.format("int32") + "r = y.gcd_(torch.tensor(2.5))",
    _EXPANDED.format("float32") + "r = y.lcm_(torch.tensor(2.5))",
    _EXPANDED.format("int32") + "r = y.clamp_(torch.tensor(2.5))",
    _EXPANDED.format("float32") + "r = y.clamp_(1j)",
    _EXPANDED.format("bool") + "r = y.clamp_(True)",
    _EXPANDED.format("int32") + "r = y.clamp_min_(torch.tensor([1.5, 2., 3.]))",
    _EXPANDED.format("bool") + "r = y.clamp_max_(True)",
    # the op's own refusal first
    _EXPANDED.format("complex64") + "r = y.abs_()",
    _EXPANDED.format("bool") + "r = y.neg_()",
    _EXPANDED.format("complex64") + "r = y.floor_()",
    _EXPANDED.format("complex64") + "r = y.ceil_()",
    _EXPANDED.format("complex64") + "r = y.trunc_()",
    _EXPANDED.format("complex64") + "r = y.sign_()",
    _EXPANDED.format("complex64") + "r = y.deg2rad_()",
    _EXPANDED.format("int32") + "r = y.clamp_(2.5)",
    _EXPANDED.format("complex64") + "r = y.clamp_(torch.tensor(2.5))",
    _EXPANDED.format("complex64") + "r = y.clamp_min_(2.5)",
    _EXPANDED.format("float32") + "r = y.clamp_max_(1j)",
    _EXPANDED.format("int32") + "r = y.clamp_min_(2.5)",
    # masked_fill_: the mask's shape before the value's conversion
    "x = torch.tensor([1, 2], dtype=torch.uint8); r = x.masked_fill_(torch.tensor([True, "
    "False, True]), 1j)",
    "x = torch.tensor([1, 2], dtype=torch.uint8); r = x.masked_fill_(torch.tensor([True, "
    "False, True]), 300)",
    "x = torch.tensor([1, 2], dtype=torch.uint8); r = x.masked_fill_(torch.tensor([True, "
    "False, True]), torch.tensor(1j))",
    "x = torch.tensor([1, 2], dtype=torch.uint8); r = x.masked_fill_(torch.tensor([[True, "
    "False]]), 1j)",
    "x = torch.tensor([1, 2], dtype=torch.uint8); r = x.masked_fill_(torch.tensor([1, 0, 1]), "
    "1j)",
    "x = torch.tensor([1, 2], dtype=torch.uint8); r = x.masked_fill_(torch.tensor([True, "
    "False, True]), torch.ones(2))",
])
def test_inplace_on_expanded_order(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _EXPANDED.format("int32") + "r = y.nan_to_num_()",
    _EXPANDED.format("bool") + "r = y.nan_to_num_(1.0)",
    "y = torch.tensor([1, 2, 3]); r = (y.nan_to_num_(), y)",
    "y = torch.tensor([1., float('nan'), float('inf')]); r = (y.nan_to_num_(), y)",
    "y = torch.tensor([1., 2., 3.]); r = y.clamp_(1.5, 2.5)",
    "y = torch.tensor([1, 2, 3]); r = y.clamp_(2)",
    "y = torch.tensor([1, 2, 3]); r = y.bitwise_and_(6)",
    "x = torch.tensor([1, 2], dtype=torch.uint8); r = x.masked_fill_(torch.tensor([True, "
    "False]), 7)",
    "x = torch.tensor([1., 2.]); r = x.masked_fill_(torch.tensor(True), torch.tensor(5.))",
])
def test_inplace_still_taken(code):
    _taken(code)


# ---- randint: the result's size is checked before the bounds ----------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.randint(0, [2, -3])",
    "r = torch.randint(-1, (2, -3))",
    "r = torch.randint(5, (2, -1), dtype=torch.bool)",
    "r = torch.randint(0, 3, (-2,), dtype=torch.complex64)",
    "r = torch.randint(300, (-2,), dtype=torch.uint8)",
    "r = torch.randint(3, 1, (2,))",
    "r = torch.randint(300, (2,), dtype=torch.uint8)",
])
def test_randint_size_before_bounds(code):
    _refused(code)


def test_randint_still_draws():
    _taken("torch.manual_seed(0); r = torch.randint(3, 9, (2, 3)).shape")
