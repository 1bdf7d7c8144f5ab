"""Regression tests for the differential fuzzer's fifth round of finds, part A
(tests/test_fuzz_against_torch.py): each case runs the same call on minigrad and on PyTorch
and wants the same result (value, dtype, shape, gradient) or the same exception type, with
PyTorch's words where the message is checked."""

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree, grads  # noqa: E402



def _bools(lib, *shape):
    return lib.ones(*shape, dtype=lib.bool)


# ---- matmul and its aliases of bool tensors: PyTorch has no bool dot / mv / mm / bmm --------
@pytest.mark.parametrize("a_shape, b_shape", [
    ((3,), (3,)), ((0,), (0,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 2)),
    ((4, 2, 3), (3, 2)), ((4, 2, 3), (3,)), ((2, 3), (4, 3, 2)), ((3,), (4, 3, 2)),
    ((4, 2, 3), (4, 3, 2)), ((5, 1, 2, 3), (4, 3, 2))])
def test_bool_matmul(a_shape, b_shape):
    agree(lambda L: L.matmul(_bools(L, *a_shape), _bools(L, *b_shape)), match="Bool")
    agree(lambda L: _bools(L, *a_shape) @ _bools(L, *b_shape), match="Bool")


@pytest.mark.parametrize("a_shape, b_shape", [
    ((0, 3), (3, 2)), ((2, 0), (0, 2)), ((2, 0), (0,)), ((3,), (3, 0)), ((4, 0, 3), (3,)),
    ((2, 3), (0, 3, 2)), ((4, 2, 0), (4, 0, 3))])
def test_bool_matmul_empty_products(a_shape, b_shape):
    """Empty products and sums over nothing are computed (all False)."""
    agree(lambda L: L.matmul(_bools(L, *a_shape), _bools(L, *b_shape)))


def test_bool_matmul_names_the_kernel_of_the_layout():
    """A 3-d operand whose leading dims cannot be folded into one matrix goes to bmm."""
    agree(lambda L: _bools(L, 2, 4, 3).transpose(0, 1) @ _bools(L, 3, 2), match='"bmm"')
    agree(lambda L: _bools(L, 4, 3, 2).transpose(1, 2) @ _bools(L, 3), match='"bmm"')
    agree(lambda L: _bools(L, 3) @ _bools(L, 4, 2, 3).transpose(1, 2), match="addmv_impl_cpu")
    agree(lambda L: L.mm(_bools(L, 2, 3), _bools(L, 3, 2)), match="addmm_impl_cpu_")
    agree(lambda L: L.bmm(_bools(L, 4, 2, 3), _bools(L, 4, 3, 2)), match='"bmm"')
    agree(lambda L: L.dot(_bools(L, 3), _bools(L, 3)), match='"dot"')


# ---- matmul's refusals name the kernel PyTorch runs -------------------------------------
@pytest.mark.parametrize("a_shape, b_shape, match", [
    ((3,), (3,), "dot : expected both vectors to have same dtype, but found Float and Double"),
    ((0,), (3,), "dot : expected both vectors"),
    ((2, 3), (3,), "addmv input tensors must have the same dtype, but got Double, Float, and "
                   "Double"),
    ((4, 2, 3), (3,), "addmv input tensors"),
    ((3,), (3, 2), "expected m1 and m2 to have the same dtype, but got: "),
    ((4, 2, 3), (4, 3, 2), "expected scalar type Float but found Double"),
    ((2, 3), (4, 3, 2), "expected scalar type Float but found Double")])
def test_matmul_dtype_refusals(a_shape, b_shape, match):
    agree(lambda L: L.matmul(L.ones(a_shape), L.ones(b_shape, dtype=L.float64)), match=match)


@pytest.mark.parametrize("a_shape, b_shape, match", [
    ((3,), (4,), "inconsistent tensor size, expected tensor [3] and src [4]"),
    ((2, 3), (4,), "size mismatch, got input (2), mat (2x3), vec (4)"),
    ((3,), (4, 0, 3), "size mismatch, got input (12), mat (12x0), vec (3)"),
    ((3,), (4, 2), "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x2)"),
    ((4, 2, 3), (4, 4, 2), "Expected size for first two dimensions of batch2 tensor to be: "
                           "[4, 3] but got: [4, 4]."),
    ((4, 2, 3), (5, 3, 2), "The size of tensor a (4) must match the size of tensor b (5)")])
def test_matmul_shape_refusals(a_shape, b_shape, match):
    agree(lambda L: L.matmul(L.ones(a_shape), L.ones(b_shape)), match=match)


@pytest.mark.parametrize("a_shape, b_shape", [
    ((2, 3), (4, 3, 0)), ((0, 3), (4, 3, 2)), ((2, 0), (4, 0, 3)), ((4, 2, 0), (4, 0, 3)),
    ((4, 0, 3), (4, 3, 2))])
def test_matmul_batched_empty_product_of_two_dtypes(a_shape, b_shape):
    """PyTorch's bmm checks no dtypes when there is nothing to sum: other's dtype, zeros."""
    def run(L):
        a = L.ones(a_shape, dtype=L.float64, requires_grad=True)
        b = L.ones(b_shape, requires_grad=True)
        out = L.matmul(a, b)
        out.sum().backward()
        return out, a.grad, b.grad
    agree(run)


def test_matmul_folds_when_the_smaller_operand_requires_grad():
    def run(L, grad):
        a = L.ones(2, 4, 3, dtype=L.float64).transpose(0, 1)
        return L.matmul(a, L.ones(3, 0, requires_grad=grad))
    agree(lambda L: run(L, False))
    agree(lambda L: run(L, True), match="expected m1 and m2 to have the same dtype")
    agree(lambda L: L.matmul(L.ones(2, 3, dtype=L.float64, requires_grad=True),
                             L.ones(4, 3, 2)), match="expected m1 and m2 to have the same dtype")


# ---- F.linear: an empty inner dim, broadcast biases, mixed dtypes -------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8",
                                   "bool"])
@pytest.mark.parametrize("x_shape", [(2, 0), (3, 2, 0), (0,)])
def test_linear_with_no_input_features(dtype, x_shape):
    def run(L, bias):
        dt = getattr(L, dtype)
        b = L.ones(4, dtype=dt) if bias else None
        return L.nn.functional.linear(L.ones(*x_shape, dtype=dt), L.ones(4, 0, dtype=dt), b)
    agree(lambda L: run(L, False))
    agree(lambda L: run(L, True))


def test_linear_with_no_input_features_gradients():
    def run(L):
        x = L.ones(2, 0, requires_grad=True, dtype=L.float64)
        w = L.ones(4, 0, requires_grad=True, dtype=L.float64)
        b = L.arange(4.0, dtype=L.float64, requires_grad=True)
        out = L.nn.functional.linear(x, w, b)
        (out * L.arange(8.0, dtype=L.float64).reshape(2, 4)).sum().backward()
        return out, x.grad, w.grad, b.grad
    agree(run)


@pytest.mark.parametrize("bias_shape", [(), (1,), (4,), (3,), (5,), (1, 4), (2, 4), (1, 1),
                                        (2, 1), (4, 1), (3, 4), (1, 1, 4)])
@pytest.mark.parametrize("x_shape", [(3,), (2, 3), (5, 2, 3), "strided"])
def test_linear_bias_shapes(bias_shape, x_shape):
    def run(L):
        x = L.ones(2, 5, 3).transpose(0, 1) if x_shape == "strided" else L.ones(*x_shape)
        x = (x * 0.5).requires_grad_()
        b = L.arange(float(np.prod(bias_shape)) + 1.0)[1:].reshape(bias_shape).requires_grad_()
        w = L.cos(L.arange(12.0)).reshape(4, 3).requires_grad_()
        out = L.nn.functional.linear(x, w, b)
        out.sum().backward()
        return out, x.grad, w.grad, b.grad
    agree(run)


@pytest.mark.parametrize("dtypes", [(a, b, c) for a in ("float32", "float64")
                                    for b in ("float32", "float64")
                                    for c in ("float32", "float64", None)])
@pytest.mark.parametrize("x_shape", [(3,), (2, 3), (5, 2, 3), "strided"])
def test_linear_mixed_float_dtypes(dtypes, x_shape):
    def run(L):
        dx, dw, db = (getattr(L, d) if d else None for d in dtypes)
        x = L.ones(2, 5, 3, dtype=dx).transpose(0, 1) if x_shape == "strided" else \
            L.ones(*x_shape, dtype=dx)
        b = L.ones(4, dtype=db) if db else None
        return L.nn.functional.linear(x, L.ones(4, 3, dtype=dw), b)
    agree(run)
    if dtypes[0] != dtypes[1] and dtypes[2] == dtypes[1] and x_shape != "strided":
        agree(run, match="mat1 and mat2 must have the same dtype, but got")
    if dtypes[2] and dtypes[2] != dtypes[1] and x_shape != "strided":
        agree(run, match="self and mat2 must have the same dtype")


@pytest.mark.parametrize("x_shape", [(2, 3), (5, 2, 3), "strided", (0, 3)])
def test_linear_bool(x_shape):
    def run(L, bias):
        x = _bools(L, 2, 5, 3).transpose(0, 1) if x_shape == "strided" else _bools(L, *x_shape)
        return L.nn.functional.linear(x, _bools(L, 4, 3), _bools(L, 4) if bias else None)
    agree(lambda L: run(L, False))
    agree(lambda L: run(L, True))


# ---- linalg: LinAlgError, svdvals' refusals, norms over dims a vector does not have -------
def test_linalg_error_is_a_runtime_error_raised_for_a_nan_svd():
    assert issubclass(minigrad.linalg.LinAlgError, RuntimeError)
    nan = [[float("nan"), 1.0], [1.0, 2.0]]
    for fn in (lambda L: L.linalg.svdvals(L.tensor(nan)),
               lambda L: L.linalg.matrix_norm(L.tensor(nan), 2),
               lambda L: L.linalg.norm(L.tensor(nan), "nuc")):
        with pytest.raises(torch.linalg.LinAlgError):
            fn(torch)
        with pytest.raises(minigrad.linalg.LinAlgError, match="failed to converge"):
            fn(minigrad)


@pytest.mark.parametrize("shape", [(), (3,), (0,), (2, 3), (0, 3), (3, 0), (0, 0), (2, 0, 3),
                                   (0, 2, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float16", "int64", "bool", "uint8"])
def test_svdvals_bad_input(shape, dtype):
    # ones are rank one: the zero singular values are LAPACK rounding noise (1e-7 in float32)
    agree(lambda L: L.linalg.svdvals(L.ones(shape, dtype=getattr(L, dtype))), atol=1e-6)


def test_svdvals_of_a_list_and_empty_gradients():
    agree(lambda L: L.linalg.svdvals([[1.0, 2.0]]), match="must be Tensor, not list")

    def run(L):
        x = L.ones(2, 0, 3, dtype=L.float16, requires_grad=True)
        L.linalg.svdvals(x).sum().backward()
        return x.grad
    agree(run)


@pytest.mark.parametrize("shape", [(3,), (), (0,)])
@pytest.mark.parametrize("ord", [None, 2, -2, "fro", "nuc", 1, -1, float("inf"), 0, 3])
@pytest.mark.parametrize("dim", [(1, 2), (2, 1), (0, 5)])
def test_norm_over_two_dims_of_a_vector(shape, ord, dim):
    agree(lambda L: L.linalg.norm(L.ones(shape), ord, dim=dim))


@pytest.mark.parametrize("ord", [2, "fro", "nuc", 1, float("inf"), 3, "abc"])
def test_matrix_norm_refusals_in_order(ord):
    """The order is checked before the rank; equal dims are named after wrapping."""
    agree(lambda L: L.linalg.matrix_norm(L.ones(3), ord))
    agree(lambda L: L.linalg.matrix_norm(L.ones(2, 3, 4), ord, dim=(-3, 0)),
          match="Order" if ord in (3, "abc") else "Got (0, 0)")


# ---- var_mean / std_mean: the gradients and values of var / std -------------------------
@pytest.mark.parametrize("op", ["var_mean", "std_mean"])
@pytest.mark.parametrize("kwargs", [
    {"dim": ()}, {"dim": (), "keepdim": True}, {"dim": [], "correction": 0},
    {"correction": 3}, {"dim": 1, "correction": 3}, {"dim": 1, "correction": 5, "keepdim": True},
    {}, {"unbiased": False}, {"dim": 0}])
@pytest.mark.parametrize("values", [[[1.0, 2.0, 4.0], [3.0, 3.0, 7.0]], 3.0,
                                    np.ones((0, 3)).tolist()])
def test_var_mean_std_mean(op, kwargs, values):
    def run(L):
        x = L.tensor(values, dtype=L.float64, requires_grad=True)
        spread, mean = getattr(L, op)(x, **kwargs)
        (spread * 1.5 + mean * 0.5).sum().backward()
        return spread, mean, x.grad
    agree(run)


def test_var_mean_positional_unbiased():
    agree(lambda L: L.var_mean(L.arange(6.0).reshape(2, 3), False))
    agree(lambda L: L.std_mean(L.arange(6.0).reshape(2, 3), True))
    agree(lambda L: L.std_mean(L.ones(2, 3, dtype=L.int64), dim=5),
          match="only support floating point")


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (3,)), ((2, 3), (4, 3)), ((2, 3), (3,)),
                                              ((0, 3), (4, 3)), ((2, 0), (4, 0)),
                                              ((2, 3), (0, 3))])
def test_bool_inner(a_shape, b_shape):
    agree(lambda L: L.inner(_bools(L, *a_shape), _bools(L, *b_shape)))


# ---- mm / bmm / mv: one rank each, no broadcasting (minigrad.ops.matmul's; the top-level
# names are wired to them where minigrad's namespace is built) ------------------------------
def _product(L, name):
    return getattr(L, name) if L is torch else getattr(minigrad.ops.matmul, name)


@pytest.mark.parametrize("name, a_shape, b_shape, dtype", [
    ("mm", (3,), (3, 2), "float32"), ("mm", (2, 3), (2, 3, 2), "float32"),
    ("mm", (2, 3), (4, 2), "float32"), ("mm", (2, 3), (3, 4), "float32"),
    ("mm", (2, 3), (3, 2), "bool"), ("mm", (2, 0), (0, 2), "bool"),
    ("mm", (2, 3), (3, 2), "int64"),
    ("bmm", (2, 3), (2, 3, 2), "float32"), ("bmm", (2, 2, 3), (3, 2), "float32"),
    ("bmm", (1, 2, 2, 3), (1, 2, 3, 2), "float32"), ("bmm", (2, 2, 3), (1, 3, 2), "float32"),
    ("bmm", (2, 2, 3), (2, 4, 2), "float32"), ("bmm", (2, 2, 3), (2, 3, 4), "float32"),
    ("bmm", (2, 2, 3), (2, 3, 2), "bool"), ("bmm", (0, 2, 3), (0, 3, 2), "bool"),
    ("mv", (3,), (3,), "float32"), ("mv", (2, 2, 3), (3,), "float32"),
    ("mv", (2, 3), (3, 1), "float32"), ("mv", (2, 3), (4,), "float32"),
    ("mv", (2, 3), (3,), "float32"), ("mv", (2, 3), (3,), "bool"), ("mv", (2, 0), (0,), "bool")])
def test_mm_bmm_mv(name, a_shape, b_shape, dtype):
    def run(L):
        dt = getattr(L, dtype)
        return _product(L, name)(L.ones(a_shape, dtype=dt), L.ones(b_shape, dtype=dt))
    agree(run)


@pytest.mark.parametrize("name, a_shape, b_shape, match", [
    ("mm", (3,), (3, 2), "self must be a matrix"), ("mm", (2, 3), (3,), "mat2 must be a matrix"),
    ("bmm", (2, 3), (2, 3, 2), "batch1 must be a 3D tensor"),
    ("bmm", (2, 2, 3), (1, 3, 2), "Expected size for first two dimensions of batch2 tensor to "
                                  "be: [2, 3] but got: [1, 3]."),
    ("mv", (2, 2, 3), (3,), "vector + matrix @ vector expected, got 1, 3, 1"),
    ("mv", (2, 3), (3,), "addmv input tensors must have the same dtype")])
def test_mm_bmm_mv_refusals(name, a_shape, b_shape, match):
    agree(lambda L: _product(L, name)(L.ones(a_shape), L.ones(b_shape, dtype=L.float64)),
          match=match)


def test_svd_failing_to_converge_is_a_linalg_error(monkeypatch):
    """LAPACK's failure (numpy's own LinAlgError) reaches the user as PyTorch's type."""
    def fail(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")
    monkeypatch.setattr(np.linalg, "svd", fail)
    with pytest.raises(minigrad.linalg.LinAlgError, match="failed to converge") as info:
        minigrad.linalg.svdvals(minigrad.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert not isinstance(info.value, np.linalg.LinAlgError)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0, 2), (2, 3)])
@pytest.mark.parametrize("ord", [-1, float("inf"), -float("inf"), 2, 0.5])
@pytest.mark.parametrize("dim", [None, (), (0, 1), 1, 0, (1, 0), [-1]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_vector_norm_empty_dims_and_dim_tuple(shape, ord, dim, keepdim):
    """dim=() is every element; a norm without identity names the empty dim it meets."""
    agree(lambda L: L.linalg.vector_norm(L.ones(shape), ord, dim=dim, keepdim=keepdim))
    agree(lambda L: L.norm(L.ones(shape), p=ord, dim=dim, keepdim=keepdim))


@pytest.mark.parametrize("case", [
    lambda L: L.mm(L.ones(2, 3), L.ones(3, 4)), lambda L: L.mm(L.ones(2, 3, 4), L.ones(4, 5)),
    lambda L: L.bmm(L.ones(2, 3, 4), L.ones(2, 4, 5)), lambda L: L.bmm(L.ones(2, 3), L.ones(3, 4)),
    lambda L: L.ones(2, 3, 4).bmm(L.ones(3, 4, 5)), lambda L: L.mv(L.ones(2, 3), L.ones(3)),
    lambda L: L.ones(2, 3).mv(L.ones(3)), lambda L: L.mv(L.ones(3), L.ones(3)),
    lambda L: L.ones(2, 3).mm(L.ones(3, 2, 1))])
def test_mm_bmm_mv_are_their_own_ops(case):
    """torch.mm/bmm/mv and the methods take one rank each (they were matmul, which
    broadcasts)."""
    outcome = []
    for lib in (torch, minigrad):
        try:
            outcome.append(tuple(case(lib).shape))
        except RuntimeError as exc:
            outcome.append(str(exc))
    assert outcome[1] == outcome[0]


@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 4, 5)), ((3, 4), (2, 4, 5))])
@pytest.mark.parametrize("other", ["uint8", "float32"])
def test_batched_bool_matmul_is_refused_before_the_dtype_check(shapes, other):
    """bmm picks its kernel by the first operand's dtype: bool is refused (NotImplementedError)
    before the operands' dtypes are compared."""
    errors = []
    for lib in (torch, minigrad):
        a = lib.tensor(np.ones(shapes[0], dtype=bool))
        b = lib.tensor(np.ones(shapes[1]).astype(other))
        with pytest.raises(NotImplementedError) as info:
            a @ b
        errors.append(str(info.value))
    assert errors[1] == errors[0]


@pytest.mark.parametrize("x_dtype, w_dtype", [("bool", "float32"), ("bool", "uint8"),
                                              ("float32", "bool"), ("float32", "float64")])
@pytest.mark.parametrize("bias", [None, "float32"])
def test_linear_of_a_non_contiguous_batch_errors_as_bmm(x_dtype, w_dtype, bias):
    """A 3-d+ input that is not contiguous goes through matmul's bmm before the bias is
    added: bool is refused first, then the dtypes compared in bmm's words."""
    x = np.ones((2, 2, 3, 4)).astype(x_dtype)
    outcome = []
    for lib in (torch, minigrad):
        X = lib.tensor(x[:1]).expand(2, 2, 3, 4)
        W = lib.tensor(np.ones((5, 4)).astype(w_dtype))
        b = None if bias is None else lib.tensor(np.ones(5).astype(bias))
        try:
            outcome.append(str(lib.nn.functional.linear(X, W, b).dtype).split(".")[-1])
        except (RuntimeError, NotImplementedError) as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")
    assert outcome[1] == outcome[0]
