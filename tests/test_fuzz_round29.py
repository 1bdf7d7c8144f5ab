"""Round-29 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round sent about 45,000 generated calls to both libraries, aimed at what earlier rounds
fuzzed least: integer and bool dtypes through the reductions, scans, sorts, unique, bincount
and histc; type promotion of 0-d tensors and Python numbers (int, float, complex, bool)
through the binary ops and their in-place and ``out=`` forms; integer division and
remainder by zero; float16 and bfloat16 inputs at the ends of their range; expanded
(stride-0) and stepped tensors written in place or given as ``out``; ``out=`` tensors of
the wrong shape or dtype; dims out of range on empty tensors; None in place of arguments.
Compared: values (NaN, inf and the sign of zero), dtype, shape, strides, requires_grad and
grad_fn, whether the result is the input itself or shares its memory, and the exception's
type and words.  The defects fixed:

* silent values: a float16 ``prod`` rounds each partial product as PyTorch's kernel (one
  beyond 65504 is inf, and inf * 0 NaN, where the float32 product was finite); float32
  ``var``/``std`` accumulate in double (finite near float32's limit, where they gave inf);
  ``histc`` of float16/bfloat16 computes its bins in the input's dtype (a range whose width
  overflows holds nothing, a position that overflows lands in bin 0; float16 raised numpy's
  ValueError); bfloat16 ``logit(eps)`` clamps to bounds rounded to bfloat16 (1 - 1e-3 is 1);
  float16 ``nextafter(-0.0, 0.0)`` is +0.0; bfloat16 ``searchsorted``/``bucketize`` (numpy's
  search does not order ml_dtypes' bfloat16: ``right=True`` gave wrong indices);
  ``cat`` of only legacy empty 1-d tensors takes any dim;
* ``out=``: complex ``abs`` takes any floating out and its own complex dtype; ``inner`` with
  a 0-d operand has mul's out rules (any dtype the result casts to); ``sum``/``prod``/
  ``cumsum``/``cumprod`` with ``dtype=`` need an out of that dtype; ``gcd``, ``lcm``,
  ``hypot``, ``nextafter``, ``logaddexp``, ``igamma``, ``xlogy`` refuse an out the result
  cannot be cast to before their kernel's own refusal; ``ldexp`` has its own words;
  ``logsumexp`` takes a complex out; the structured ops (reductions, matrix products,
  stack, kron, tensordot, cumsum, sort, gather, cross...) resize an expanded out of another
  shape before they check it for self-overlap, and the ops that write such an out (sum,
  amax, std, var, prod, cummax, mv, vector_norm...) write it instead of failing on numpy's
  read-only array;
* order of checks: an expanded tensor written in place by a pointwise op (``exp_``,
  ``true_divide_``, ``add_``, ``addcmul_``...) is refused for the overlap before the cast of
  a float result into it; ``quantile`` checks emptiness and q's dims before the dtype;
  ``renorm`` its arguments and dim before the dtype; ``histc`` of an integer tensor refuses
  bounds its dtype cannot hold (uint8's -1) before the missing kernel.
"""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import run, same_refusal, same_result  # noqa: E402

LIBS = (torch, minigrad)


def _each(code):
    """code's ``r`` in each library (warnings ignored)."""
    out = []
    for lib in LIBS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(run(code)(lib))
    return out


def _outcome(code):
    """("ok", dtype name, values as float64/complex128, out is r) or ("err", type, words)."""
    res = []
    for lib in LIBS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                env = {"torch": lib, "np": np}
                exec(code, env)
                r = env["r"]
                v = r.detach().resolve_conj() if lib is torch else r.detach()
                v = np.asarray((v.to(lib.complex128) if v.is_complex() else
                                v.to(lib.float64)).numpy())
                res.append(("ok", str(r.dtype).split(".")[-1], v, r is env.get("o")))
            except Exception as exc:  # noqa: BLE001 (compared with torch's)
                res.append(("err", type(exc).__name__,
                             str(exc).split("\n")[0].replace("minigrad", "torch")))
    return res


def _same(code, values=True):
    theirs, mine = _outcome(code)
    assert mine[0] == theirs[0], (theirs, mine)
    if theirs[0] == "err":
        assert mine[1] == theirs[1], (theirs, mine)
        assert mine[2].startswith(theirs[2]), (theirs[2], mine[2])
    else:
        assert mine[1] == theirs[1] and mine[3] == theirs[3], (theirs, mine)
        assert mine[2].shape == theirs[2].shape
        if values:
            np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-6, atol=1e-30,
                                       equal_nan=True)


# ---- out= dtype rules ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("out", ["float32", "float64", "float16", "bfloat16", "complex64",
                                 "complex128", "int64", "bool", "int8"])
@pytest.mark.parametrize("fn", ["torch.abs", "torch.absolute"])
def test_complex_abs_out_dtypes(fn, dtype, out):
    _same(f"a = torch.tensor([3 + 4j, -1j, 0], dtype=torch.{dtype}); "
          f"o = torch.empty(3, dtype=torch.{out}); r = {fn}(a, out=o)")


@pytest.mark.parametrize("shapes", [("()", "(3,)"), ("(3,)", "()"), ("()", "()"),
                                    ("(2, 3)", "()"), ("(3,)", "(3,)"), ("(2, 3)", "(3,)")])
@pytest.mark.parametrize("dtypes", [("float32", "float32", "float64"),
                                    ("float64", "float64", "float32"),
                                    ("int64", "int64", "float32"),
                                    ("float32", "float32", "int64"),
                                    ("float32", "int64", "float64"),
                                    ("int64", "int64", "int8")])
def test_inner_out_dtypes(shapes, dtypes):
    (sa, sb), (da, db, do) = shapes, dtypes
    _same(f"a = torch.arange(1, 7).reshape(2, 3)[0] if {sa} == (3,) else "
          f"torch.full({sa}, 2) if {sa} == () else torch.arange(6).reshape(2, 3); "
          f"a = a.to(torch.{da}); b = torch.tensor([1, -2, 3])[:3] if {sb} == (3,) else "
          f"torch.tensor(3); b = b.to(torch.{db}); o = torch.empty(0, dtype=torch.{do}); "
          f"r = torch.inner(a, b, out=o)")


@pytest.mark.parametrize("fn", ["sum", "prod", "cumsum", "cumprod"])
@pytest.mark.parametrize("dtype,out", [("float32", "float64"), ("int64", "int32"),
                                       ("float32", "float32"), ("int32", "float32")])
def test_reduction_dtype_with_out_of_another_dtype(fn, dtype, out):
    _same(f"x = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.int8); "
          f"o = torch.empty(0, dtype=torch.{out}); "
          f"r = torch.{fn}(x, 1, dtype=torch.{dtype}, out=o)")


@pytest.mark.parametrize("fn", ["gcd", "lcm", "hypot", "nextafter", "logaddexp", "igamma",
                                "xlogy"])
@pytest.mark.parametrize("a,b,out", [("f", "f", "int64"), ("i", "i", "int64"),
                                     ("b", "b", "bool"), ("c", "f", "float32"),
                                     ("c", "f", "int8"), ("i", "i", "bool")])
def test_binary_out_cast_checked_before_the_kernel(fn, a, b, out):
    make = {"f": "torch.tensor([1.5, 2., 3.])", "i": "torch.tensor([3, -2, 0])",
            "b": "torch.tensor([True, False, True])",
            "c": "torch.tensor([1 + 1j, 2, 3], dtype=torch.complex64)"}
    _same(f"o = torch.empty(3, dtype=torch.{out}); "
          f"r = torch.{fn}({make[a]}, {make[b]}, out=o)")


@pytest.mark.parametrize("x", ["torch.tensor([3, -2, 0], dtype=torch.int8)",
                               "torch.tensor([1.5, 2., 3.])",
                               "torch.tensor([True, False, True])"])
@pytest.mark.parametrize("out", ["int64", "bool", "float32", "float64", "complex64"])
def test_ldexp_out(x, out):
    _same(f"o = torch.empty(3, dtype=torch.{out}); "
          f"r = torch.ldexp({x}, torch.tensor(2, dtype=torch.float64), out=o)")


@pytest.mark.parametrize("out", ["complex64", "float64", "int64"])
def test_logsumexp_out_dtypes(out):
    _same(f"a = torch.arange(6.).reshape(2, 3); o = torch.empty(2, dtype=torch.{out}); "
          f"r = torch.logsumexp(a, 1, out=o)")


# ---- expanded out= tensors -------------------------------------------------------------------

_RESIZED_FIRST = {
    "mean": "torch.mean(a, 1, keepdim=True, out=o)", "mm": "torch.mm(a, b.t(), out=o)",
    "stack": "torch.stack([a[0], b[0]], out=o)",
    "max.dim": "torch.max(a, 1, keepdim=True, out=(o, torch.empty(0, dtype=torch.long)))[0]",
    "min.dim": "torch.min(a, 1, keepdim=True, out=(o, torch.empty(0, dtype=torch.long)))[0]",
    "median.dim": "torch.median(a, 1, True, out=(o, torch.empty(0, dtype=torch.long)))[0]",
    "sort": "torch.sort(a, 1, out=(o, torch.empty(0, dtype=torch.long)))[0]",
    "logsumexp": "torch.logsumexp(a, 1, keepdim=True, out=o)",
    "linalg.norm": "torch.linalg.norm(a, dim=1, keepdim=True, out=o)",
    "kron": "torch.kron(a[:1, :2], b[:2, :1], out=o)",
    "tensordot": "torch.tensordot(a, b, dims=([1], [1]), out=o)",
    "inner": "torch.inner(a, b, out=o)", "cumsum": "torch.cumsum(a, 1, out=o)",
    "cumprod": "torch.cumprod(a, 1, out=o)", "logcumsumexp": "torch.logcumsumexp(a, 1, out=o)",
    "addmm": "torch.addmm(torch.zeros(2, 2), a, b.t(), out=o)",
    "addmv": "torch.addmv(torch.zeros(2), a, b[0], out=o)", "diag": "torch.diag(a[0], out=o)",
    "gather": "torch.gather(a, 1, torch.zeros(2, 3, dtype=torch.long), out=o)",
    "cross": "torch.cross(a, b, dim=1, out=o)", "exp": "torch.exp(a, out=o)",
    "where": "torch.where(a > 0, a, b, out=o)", "outer": "torch.outer(a[0], b[0], out=o)"}


def _expanded_out(call, other_shape):
    """An out expanded from one row to the result's shape (or, with other_shape, to a shape
    with one more leading row, which the op resizes)."""
    return (f"a = torch.arange(6.).reshape(2, 3) - 2; b = torch.ones(2, 3) * 0.5; "
            f"s = list({call.replace('out=o', 'out=torch.empty(0)') if 'out=(' not in call else call.replace('out=(o', 'out=(torch.empty(0)')}.shape); "
            f"s = [s[0] + 2] + s[1:] if {other_shape} else s; "
            f"o = torch.empty([1] + s[1:]).expand(*s) if s and s[0] > 1 else "
            f"torch.empty(()).expand(*s); r = {call}")


@pytest.mark.parametrize("op", sorted(_RESIZED_FIRST))
@pytest.mark.parametrize("other_shape", [True, False])
def test_expanded_out_resized_before_the_overlap_check(op, other_shape):
    _same(_expanded_out(_RESIZED_FIRST[op], other_shape))


@pytest.mark.parametrize("call", [
    "torch.sum(a, 1, keepdim=True, out=o)", "torch.amax(a, 1, keepdim=True, out=o)",
    "torch.std(a, 1, keepdim=True, out=o)", "torch.var(a, 1, keepdim=True, out=o)",
    "torch.prod(a, 1, keepdim=True, out=o)", "torch.nansum(a, 1, keepdim=True, out=o)",
    "torch.mv(a.t(), b[0, :2], out=o)",
    "torch.linalg.vector_norm(a, dim=1, keepdim=True, out=o)"])
def test_expanded_out_written_by_the_ops_that_allow_it(call):
    # (taken, not failing on numpy's read-only array; the values left in memory that several
    # elements share depend on the order of PyTorch's kernel, which reductions even
    # accumulate into: not compared)
    _same(_expanded_out(call, False), values=False)


# ---- in place on an expanded tensor: the overlap first -------------------------------------

@pytest.mark.parametrize("call", [
    "exp_()", "sqrt_()", "sigmoid_()", "true_divide_(2)", "div_(2)", "add_(torch.ones(3))",
    "sub_(torch.ones(3), alpha=2)", "fmod_(1.5)", "hypot_(torch.ones(3))", "xlogy_(2)",
    "copysign_(-1)", "logit_()", "addcmul_(torch.ones(3), torch.ones(3))",
    "addcdiv_(torch.ones(3), torch.ones(3))", "mul_(2.5)", "add_(torch.ones(4))",
    "renorm_(2, 0, 1)", "heaviside_(torch.tensor(0.))", "neg_()", "add_(1)"])
@pytest.mark.parametrize("dtype", ["int64", "float32"])
def test_inplace_on_expanded_refused_for_the_overlap_first(call, dtype):
    _same(f"x = torch.ones(1, 3, dtype=torch.{dtype}).expand(2, 3); o = x; r = x.{call}")


def test_inplace_on_expanded_leaf_view_meets_autograd_first():
    same_refusal(run("x = torch.ones(1, 3, requires_grad=True); y = x.expand(2, 3); "
                     "r = y.exp_()"))


# ---- silent values ---------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    [[65504., -3.5, 0.], [7., 1e-7, -65504.]], [[1e4, 10, 0.01], [0, 2, 3]],
    [[300., 300., 2.], [0.5, 0.5, 0.5]], [[]], 5.0, [[65504., 2., 0.25]]])
@pytest.mark.parametrize("kw", ["", "1", "0, keepdim=True", "-1, True"])
def test_float16_prod_rounds_each_step(values, kw):
    if kw and not isinstance(values, list):
        kw = "0" if kw == "1" else kw.replace("-1", "0")
    same_result(run(f"torch.tensor({values}, dtype=torch.float16).prod({kw})"))


def test_float16_prod_gradient_unchanged():
    theirs, mine = _each("x = torch.tensor([[2., 3.], [0., 4.]], dtype=torch.float16, "
                         "requires_grad=True); x.prod().backward(); r = x.grad.tolist()")
    assert mine == theirs


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
@pytest.mark.parametrize("fn", ["std()", "var()", "std(0, keepdim=True)", "var(correction=0)",
                                "std(unbiased=False)"])
@pytest.mark.parametrize("values", [[65504., -65504., 6e-8, 1e-40, 3.4e38, -0.0],
                                    [1e20, -1e20, 3.], [1., 2., 3., 4.5]])
def test_variance_accumulated_in_double(dtype, fn, values):
    theirs, mine = _outcome(f"r = torch.tensor({values}, dtype=torch.{dtype}).{fn}")
    assert mine[:2] == theirs[:2]
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-2 if dtype == "bfloat16" else 1e-6)


def test_std_gradient_unchanged():
    theirs, mine = _each("x = torch.tensor([1., 2., 4.], requires_grad=True); "
                         "x.std().backward(); r = x.grad.tolist()")
    np.testing.assert_allclose(mine, theirs, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("values,bins,lo,hi", [
    ([65504., -3.5, 0., 7., 1e-7, -65504.], 4, 0, 0),
    ([60000., -3.5, 0., 7., -60000.], 4, 0, 0),
    ([19000., -19990, 0, 100, -20000], 5, -20000, 20000),
    ([0.1, 0.2, 0.3, 0.7, 0.9, 1.0], 10, 0, 1),
    ([0.1, 0.2, 0.3, 0.7, 0.9, 1.0], 7, 0.1, 0.7),
    ([-1.2, 3.3, 2.9, 0.0, -0.0, 1.5], 13, -3.3, 2.7),
    ([5., 5., 5.], 3, 0, 0)])
def test_histc_in_the_input_dtype(dtype, values, bins, lo, hi):
    same_result(run(f"torch.tensor({values}, dtype=torch.{dtype}).histc({bins}, {lo}, {hi})"))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
@pytest.mark.parametrize("data", ["[]", "[1, 2]", "[0, 0]"])
@pytest.mark.parametrize("bounds", ["-1, 1", "0, 300", "0, 1e10", "0, 1e20", "0, 0", "2, 5"])
def test_histc_integer_bounds_overflow_first(dtype, data, bounds):
    same_refusal(run(f"torch.tensor({data}, dtype=torch.{dtype}).histc(3, {bounds})"))


@pytest.mark.parametrize("eps", [1e-3, 0.3, 0.7, 1e-6])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_reduced_float_logit_bounds_in_its_dtype(eps, dtype):
    same_result(run(f"torch.tensor([0.9995, 0.999, 0.5, 1.0, 0.0, 0.0001, 2.0], "
                    f"dtype=torch.{dtype}).logit({eps})"))


def test_bfloat16_logit_gradient_zero_outside_its_bounds():
    theirs, mine = _each("x = torch.tensor([0.9995, 0.5, 0.2, 0.0001], dtype=torch.float64, "
                         "requires_grad=True); x.to(torch.bfloat16).logit(0.3).sum()"
                         ".backward(); r = x.grad.tolist()")
    np.testing.assert_allclose(mine, theirs, rtol=1e-2)


def test_float16_nextafter_of_equal_zeros():
    theirs, mine = _each("x = torch.tensor([-0.0, 0.0, 1e-7, -0.0], dtype=torch.float16); "
                         "y = torch.tensor([0.0, -0.0, 0.0, -0.0], dtype=torch.float16); "
                         "r = torch.signbit(torch.nextafter(x, y)).tolist()")
    assert mine == theirs


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("seq,values", [
    ([0., 1., 2.], [3., float("nan"), -0.0, float("inf")]),
    ([1.5, 2., 2., float("inf")], [float("nan"), -float("inf"), 0.]),
    ([-0., 1., 1., 2.], [float("inf"), 2., 3., float("nan"), 2.]),
    ([2., float("nan"), float("nan")], [1.5, 1.5, 1., 1.]),
    ([0., 1.5, float("nan")], [-0., 3., float("inf"), float("nan"), 2.])])
def test_bfloat16_searchsorted(seq, values, right):
    def literal(v):
        return str(v).replace("nan", "float('nan')").replace("inf", "float('inf')")
    code = (f"s = torch.tensor({literal(seq)}, dtype=torch.bfloat16); "
            f"v = torch.tensor({literal(values)}, dtype=torch.bfloat16); ")
    same_result(run(code + f"r = torch.searchsorted(s, v, right={right})"))
    same_result(run(code + f"r = torch.bucketize(v, s, right={right})"))
    same_result(run(code + f"r = torch.searchsorted(torch.stack([s, s]), torch.stack([v, v]), "
                           f"right={right})"))
    same_result(run(code + f"r = torch.searchsorted(s, 1.5, right={right})"))


@pytest.mark.parametrize("code", [
    "torch.cat([torch.empty(0), torch.empty(0)], 5)",
    "torch.cat([torch.empty(0), torch.empty(0)], dim=-7)",
    "torch.cat([torch.empty(0), torch.empty(0, dtype=torch.int64)], 3)",
    "torch.cat([torch.empty(0)], 5)", "torch.concat([torch.empty(0), torch.empty(0)], dim=3)",
    "torch.cat([torch.empty(0), torch.ones(2, 3)], 1)"])
def test_cat_of_legacy_empty_tensors_takes_any_dim(code):
    same_result(run(code))


@pytest.mark.parametrize("code", [
    "torch.cat([torch.empty(0), torch.ones(2, 3)], 5)",
    "torch.cat([torch.ones(2, 3), torch.empty(0)], -3)",
    "torch.cat([torch.empty(0), torch.empty(0)], 2 ** 70)",
    "torch.stack([torch.empty(0), torch.empty(0)], 5)"])
def test_cat_dims_still_checked(code):
    same_refusal(run(code))


# ---- order of checks -----------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.empty(0, dtype=torch.long).quantile(2.)",
    "torch.empty(0, dtype=torch.long).quantile(0.5, interpolation='x')",
    "torch.empty(0, dtype=torch.long).quantile(torch.tensor([[0.5]]))",
    "torch.empty(0, dtype=torch.float16).quantile(0.5)",
    "torch.empty(0, 3, dtype=torch.int8).nanquantile(0.5)",
    "torch.ones(3, dtype=torch.long).quantile(torch.tensor([[0.5]]))",
    "torch.empty(0, dtype=torch.long).quantile(0.5, dim=3)",
    "torch.ones(3, dtype=torch.long).quantile(0.5, dim=3)",
    "torch.tensor(5).renorm(-1, 0, 1)", "torch.tensor(5).renorm(2, 0, -1)",
    "torch.tensor(-7, dtype=torch.int8).renorm(2, 0, 1.0)",
    "torch.ones(3, dtype=torch.long).renorm(2, 0, 1)",
    "torch.ones(2, 3, dtype=torch.long).renorm(2, 0, 1)",
    "torch.ones(2, 3, dtype=torch.long).renorm(2, 5, 1)"])
def test_order_of_checks(code):
    same_refusal(run(code))


@pytest.mark.parametrize("fn", ["var", "std"])
@pytest.mark.parametrize("x,out", [("a", "complex64"), ("a", "complex128"), ("c", "complex64"),
                                   ("c", "float64"), ("a.double()", "complex64"),
                                   ("a", "int64"), ("a", "float64")])
def test_variance_out_dtypes(fn, x, out):
    _same(f"a = torch.arange(6.).reshape(2, 3); c = a.to(torch.complex64); "
          f"o = torch.empty(2, dtype=torch.{out}); r = torch.{fn}({x}, 1, out=o)")


@pytest.mark.parametrize("call", [
    "torch.floor_divide(a, 2, out=o)", "torch.true_divide(a, 2, out=o)",
    "torch.cross(a, b, dim=1, out=o)", "torch.inner(torch.tensor(2.), b, out=o)",
    "torch.kron(a, b, out=torch.empty(4, 9, requires_grad=True))",
    "torch.linalg.vector_norm(a, out=torch.empty((), requires_grad=True))",
    "torch.norm(a, out=torch.empty((), requires_grad=True))", "torch.remainder(a, 2, out=o)"])
def test_out_requiring_grad_names_the_kernel(call):
    same_refusal(run(f"a = torch.arange(6.).reshape(2, 3); b = torch.ones(2, 3); "
                     f"o = torch.empty(2, 3, requires_grad=True); r = {call}"))


@pytest.mark.parametrize("code", ["torch.tensor(5.).renorm(2, None, 1.)",
                                  "torch.renorm(torch.tensor(5.), 2, None, 1.)",
                                  "torch.ones(2, 3).renorm(2, (0,), 1.)",
                                  "torch.renorm(torch.ones(2, 3), 2, True, 1.)"])
def test_renorm_dim_of_the_wrong_type_refused_by_the_parser_first(code):
    theirs, mine = _outcome("r = " + code)
    assert mine[:2] == theirs[:2] == ("err", "TypeError")
    assert mine[2].startswith("renorm(): argument 'dim'"), mine[2]
