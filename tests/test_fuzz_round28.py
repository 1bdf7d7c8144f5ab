"""Round-28 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round sent about 40,000 generated calls with hostile arguments to both libraries (0-d,
empty and size-1 tensors, transposed, stepped and expanded inputs, every dtype, NaN, +-inf,
-0.0 and integer extremes, dims out of range and repeated, ``out=`` of the wrong dtype and
shape, in-place forms on views and on leaves that require grad) and compared the results
(values, dtype, shape, strides, whether the result shares the input's memory, requires_grad
and grad_fn, float64 gradients) or the exception's type and words.  The families earlier
rounds touched least: the ``*_copy`` view ops, the splitting ops, the axis movers (``adjoint``,
``rot90``, ``roll``, ``swapdims``...), ``isclose`` and the predicates, the less common binary
and unary ops with their in-place and ``out=`` forms, ``histogram`` / ``histc`` /
``bincount`` / ``unravel_index`` / ``trapezoid`` / ``aminmax``, and the broadcasting and
stacking helpers.  The defects fixed:

* aliasing: ``sort`` / ``msort`` / ``topk`` of a 0-d tensor returned the tensor itself (a
  write to the result changed the input; no grad_fn) and ``roll`` of a 0-d tensor a view;
  PyTorch returns new tensors;
* ``adjoint`` of a 0-d tensor is PyTorch's conjugate (with its deprecation warning), not a
  refusal; ``conj_physical_`` of a real leaf that requires grad (or a view of one) is refused;
* ``histogram``: PyTorch's checks in its order (a count of bins <= 0, an empty or 2-d tensor
  of edges, a single edge, a NaN or infinite range, min above max in its words, ``range``
  given with a tensor of edges, a weight of another dtype or size, float16 and bfloat16 data
  whose range would be read from the data) where minigrad took the call or let numpy's
  ValueError out; edges that do not increase are searched as PyTorch's binary search does;
  ``histc`` checks the count and the bounds before the dtype;
* layouts: ``isposinf`` / ``isneginf`` of integer tensors and ``isreal`` of real ones are laid
  out as their input (PyTorch's ``zeros_like`` / ``ones_like``); ``unravel_index`` returns
  views of one block of coordinates (their strides step over the others);
* words: ``rot90`` names the dims as given; ``chunk`` / ``unsafe_chunk`` / ``split`` /
  ``unsafe_split`` / ``split_copy`` of a 0-d tensor refuse the tensor before the count; ``broadcast_shapes`` is PyTorch's Python algorithm
  (its words, the argument's index, a ValueError for a negative length, which it took);
  ``broadcast_tensors`` given a list; ``unravel_index`` given a number;
* order of checks: ``trapezoid`` wraps the dim, gives zeros for no samples (taking no
  gradient, as PyTorch's; a bool tensor with no samples is taken), then refuses bool inputs
  in PyTorch's words; ``cumulative_trapezoid`` refuses a bool before a 0-d input, in slice's
  words; ``diff`` wraps the dim before it compares prepend's and append's dims, names the
  size that differs, and checks no dim when n = 0 and there is nothing to join;
  ``nansum`` / ``nanmean`` check their dims and ``kthvalue`` its k before refusing a complex
  tensor;
* values: the sign of -0.0 in bfloat16 (``sign``, ``sgn``) was -0.0; PyTorch's is 0.0.
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


# ---- aliasing -----------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    "torch.sort(x)[0]", "torch.sort(x, 0)[0]", "torch.sort(x, stable=True)[0]", "x.sort()[0]",
    "torch.msort(x)", "x.msort()", "torch.topk(x, 1)[0]", "x.topk(1)[0]", "torch.roll(x, 1)",
    "torch.roll(x, 0)", "x.roll(-2)"])
@pytest.mark.parametrize("dtype", ["float64", "int64", "bool"])
def test_zero_d_results_are_new_tensors(call, dtype):
    if dtype == "bool" and "topk" in call:
        pytest.skip("topk has no bool kernel (both refuse)")
    code = (f"x = torch.tensor(1, dtype=torch.{dtype}); y = {call}; "
            f"shared = y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr(); "
            f"r = (shared, y is x, y.shape, str(y.dtype))")
    theirs, mine = _each(code)
    assert mine[:3] == theirs[:3]
    assert mine[3].replace("minigrad", "torch") == theirs[3]


@pytest.mark.parametrize("call", ["torch.sort(x)[0]", "torch.msort(x)", "torch.topk(x, 1)[0]",
                                  "torch.roll(x, 3)"])
def test_zero_d_results_carry_a_node(call):
    code = f"x = torch.tensor(1.5, dtype=torch.float64, requires_grad=True); y = {call}; " \
           f"y.backward(); r = (y.grad_fn is not None, x.grad.item())"
    theirs, mine = _each(code)
    assert mine == theirs


# ---- adjoint, conj_physical_ ----------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.tensor(2.0).adjoint()", "torch.adjoint(torch.tensor(2.0))",
    "torch.tensor(1 + 2j).adjoint()", "torch.adjoint(torch.tensor(3 - 1j, dtype=torch.complex128))",
    "torch.tensor(5).adjoint()"])
def test_adjoint_of_zero_d(code):
    same_result(run(code + ".resolve_conj()"))       # (torch's conjugate is a lazy view)
    with pytest.warns(UserWarning, match=r"adjoint\(\) is deprecated on 0-D tensors"):
        run(code)(minigrad)        # (PyTorch's words, which it gives once a process)


def test_adjoint_of_real_zero_d_is_itself():
    theirs, mine = _each("x = torch.tensor(2.0); r = x.adjoint() is x")
    assert mine == theirs


@pytest.mark.parametrize("code", [
    "torch.ones(2, requires_grad=True).conj_physical_()",
    "torch.conj_physical_(torch.ones(2, 3, dtype=torch.float64, requires_grad=True))",
    "torch.ones(3, requires_grad=True)[:2].conj_physical_()",
    "torch.ones(1, 3, requires_grad=True).expand(2, 3).conj_physical_()",
])
def test_conj_physical_inplace_refuses_leaves(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "x = torch.ones(3, requires_grad=True); y = (x * 2)[:2]; y.conj_physical_(); "
    "y.sum().backward(); r = x.grad",
    "x = torch.ones(3, requires_grad=True); y = x * 2; r = y.conj_physical_()",
    "x = torch.ones(3); r = x.conj_physical_()",
])
def test_conj_physical_inplace_of_real_taken(code):
    same_result(run(code))


# ---- rot90, chunk -----------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.ones(3, 4).rot90(1, [-1, -1])", "torch.ones(3, 4).rot90(1, [1, -1])",
    "torch.ones(3, 4).rot90(1, [0, -2])", "torch.ones(2, 3, 4).rot90(1, [-1, 2])",
    "torch.rot90(torch.ones(2, 3, 4), 3, [-3, 0])", "torch.ones(3, 4).rot90(1, [2, 0])",
    "torch.ones(3, 4).rot90(1, [2, -2])",
    "torch.tensor(1.0).chunk(0)", "torch.tensor(1.0).chunk(-1)", "torch.chunk(torch.tensor(2), 0)",
    "torch.unsafe_chunk(torch.tensor(1.0), -1)", "torch.tensor(1.0).unsafe_chunk(0)",
    "torch.ones(2).chunk(0)", "torch.tensor(1.0).split(-1, 0)", "torch.tensor(1).split(-1)",
    "torch.split_copy(torch.tensor(1), -1, -1)", "torch.tensor(1.0).unsafe_split(-2, 0)",
    "torch.tensor([1.0]).split(-1, 0)",
])
def test_refusal_words(code):
    same_refusal(run(code))


# ---- layouts ------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    "torch.arange(6).reshape(3, 2).t()", "torch.arange(12, dtype=torch.int8).reshape(2, 3, 2)"
    ".permute(2, 0, 1)", "torch.arange(8, dtype=torch.int16).reshape(2, 4)[:, ::2]",
    "torch.ones(1, 3, dtype=torch.int32).expand(2, 3)",
    "torch.ones(3, 2).t()", "torch.ones(1, 3).expand(2, 3)", "torch.ones(2, 2, 3)[:, :, ::2]"])
@pytest.mark.parametrize("op", ["isposinf", "isneginf", "isreal"])
def test_predicates_keep_the_layout(make, op):
    theirs, mine = _each(f"x = {make}; y = torch.{op}(x); r = (y.stride(), y.tolist())")
    assert mine == theirs


@pytest.mark.parametrize("code", [
    "torch.unravel_index(torch.tensor([[1, 2], [3, 4]]), (3, 2))",
    "torch.unravel_index(torch.tensor([0, 2, -5], dtype=torch.int32), (2, 1))",
    "torch.unravel_index(torch.tensor([[2, -4, 5], [5, 0, -4]]), (1, 2, 3))",
    "torch.unravel_index(torch.tensor(3), (3, 2))",
    "torch.unravel_index(torch.tensor([7]), 9)",
])
def test_unravel_index_views_of_one_block(code):
    theirs, mine = _each(f"r = [(t.tolist(), t.stride(), str(t.dtype)) for t in {code}]")
    assert [(v, s, d.replace("minigrad", "torch")) for v, s, d in mine] == theirs


@pytest.mark.parametrize("code", ["torch.unravel_index(2, (3, 2))",
                                  "torch.unravel_index(2.5, (3,))"])
def test_unravel_index_of_a_number(code):
    same_refusal(run(code))


# ---- histogram, histc ---------------------------------------------------------------------

_X = "torch.tensor([1.0, 2.0, 0.6, 3.4, 2.5])"


@pytest.mark.parametrize("code", [
    f"torch.histogram({_X}, 0)", f"torch.histogram({_X}, -1)", f"{_X}.histogram(0)",
    f"torch.histogram({_X}, torch.ones(0))", f"torch.histogram({_X}, torch.ones(1))",
    f"torch.histogram({_X}, torch.ones(2, 2))", f"torch.histogram({_X}, torch.tensor(1.0))",
    "torch.histogram(torch.tensor([1.0, float('nan')]), 2)",
    "torch.histogram(torch.tensor([1.0, float('inf')]), 2)",
    f"torch.histogram({_X}, 2, range=(0.0, float('inf')))",
    f"torch.histogram({_X}, 2, range=(float('nan'), 1.0))",
    f"torch.histogram({_X}, 2, range=(3.0, 1.0))",
    f"torch.histogram({_X}, torch.tensor([1.0, 2.0]), range=(0.0, 1.0))",
    f"torch.histogram({_X}, 2, weight=torch.ones(5, dtype=torch.int64))",
    f"torch.histogram({_X}, 2, weight=torch.ones(5, dtype=torch.float64))",
    f"torch.histogram({_X}, 2, weight=torch.ones(5, dtype=torch.float16))",
    f"torch.histogram({_X}, 2, weight=torch.ones(4))",
    f"torch.histogram({_X}, torch.tensor([1.0]), weight=torch.ones(4))",
    f"torch.histogram({_X}, torch.tensor([1.0, 2.0], dtype=torch.float64), weight=torch.ones(4))",
    "torch.histogram(torch.ones(3, dtype=torch.bfloat16), 2)",
    "torch.histogram(torch.ones(3, dtype=torch.float16), 2)",
    "torch.histogram(torch.ones(3, dtype=torch.int64), 0)",
    "torch.histogram(torch.ones(3, dtype=torch.int64), torch.ones(0, dtype=torch.int64))",
    "torch.histogram(torch.ones(3, dtype=torch.int64), torch.ones(2))",
    "torch.histogram(torch.ones(3, dtype=torch.int64), 2, range=(0.0, 1.0))",
    "torch.histogram(torch.ones(3, dtype=torch.int32), 2, range=(0.0, float('inf')))",
    "torch.histogram(torch.ones(3, dtype=torch.int64), 2)",
    "torch.histogram(torch.ones(3, dtype=torch.uint8), torch.ones(2, dtype=torch.uint8))",
    "torch.histogram(torch.ones(2, dtype=torch.complex64), 2, range=(0.0, 1.0))",
])
def test_histogram_refusals(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    f"torch.histogram({_X}, torch.tensor([3.5, 0.53, 1.8]))",
    f"torch.histogram({_X}, torch.tensor([0.5, 3.0, 1.8, 2.2, 3.6]))",
    f"torch.histogram({_X}, torch.tensor([0.5, 3.0, 1.8, 2.2, 3.6]), density=True)",
    f"torch.histogram({_X}, torch.tensor([3.6, 2.0, 1.0, 0.5]))",
    f"torch.histogram({_X}, torch.tensor([0.5, 1.0, 1.0, 3.4]), weight={_X} * 2)",
    f"torch.histogram({_X}.reshape(1, 5), 3, weight={_X})",
    f"torch.histogram({_X}, 4, range=(1.0, 1.0))",
    f"torch.histogram({_X}, 3, density=True, weight=-{_X})",
    "torch.histogram(torch.ones(3, dtype=torch.bfloat16), 2, range=(0.0, 1.0))",
    "torch.histogram(torch.ones(3, dtype=torch.float16), torch.tensor([0.0, 1.0], "
    "dtype=torch.float16))",
    "torch.histogram(torch.tensor([], dtype=torch.bfloat16), 2)",
    "torch.histogram(torch.tensor([-1.0, 0.0, 1.0, 2.0], dtype=torch.float64), 3)",
])
def test_histogram_values(code):
    for i in range(2):
        same_result(run(f"r = {code}[{i}]"))


@pytest.mark.parametrize("code", [
    "torch.histc(torch.tensor([1, 2]), 0, 0, 0)", "torch.histc(torch.tensor([1, 2]), 2, 3, 1)",
    "torch.histc(torch.tensor([True]), 0, 0, 0)", "torch.histc(torch.tensor([True]), 2, 3, 1)",
    "torch.histc(torch.tensor([1j]), 0, 0, 0)", "torch.histc(torch.tensor([1j]), 2, 3, 1)",
    "torch.histc(torch.tensor([1]), 0, 3, float('inf'))",
    "torch.tensor([[1, 2], [3, 4]], dtype=torch.int32).t().histc(3, 1.0, -1.0)",
    "torch.histc(torch.tensor([1.0]), 0, 3, 1)",
])
def test_histc_checks_count_and_bounds_first(code):
    same_refusal(run(code))


# ---- broadcast_shapes, broadcast_tensors ----------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.broadcast_shapes((3, -1))", "torch.broadcast_shapes((2,), (3,))",
    "torch.broadcast_shapes((0, 1), (2, -1), ())", "torch.broadcast_shapes((1, 3), (2, 0), (1, 1))",
    "torch.broadcast_shapes((3, 3), (2, 1))", "torch.broadcast_shapes((3,), (1, -1))",
    "torch.broadcast_shapes(-1)", "torch.broadcast_shapes(2, (3,))",
    "torch.broadcast_shapes((2, 3), (4, 2, 3), (5,))", "torch.broadcast_shapes((-1,), (1,))",
    "torch.broadcast_shapes((1,), (-1,))", "torch.broadcast_shapes((2,), [3])",
    "torch.broadcast_tensors([torch.ones(1)])", "torch.broadcast_tensors(torch.ones(2), [1.0])",
])
def test_broadcast_refusals(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.broadcast_shapes((0, 1), (2, 1, 1))", "torch.broadcast_shapes([2, 1], (4, 1, 1))",
    "torch.broadcast_shapes()", "torch.broadcast_shapes(3, (2, 1))",
    "torch.broadcast_shapes((1, 0), (3, 1))",
])
def test_broadcast_shapes_taken(code):
    theirs, mine = _each(f"r = tuple({code})")
    assert mine == theirs


def test_broadcast_tensors_views():
    theirs, mine = _each("a, b = torch.broadcast_tensors(torch.ones(2, 1), torch.arange(3.0)); "
                         "r = (a.shape, a.stride(), b.stride(), b.tolist())")
    assert tuple(mine[0]) == tuple(theirs[0]) and mine[1:] == theirs[1:]
    assert np.array_equal(mine[3], theirs[3])


# ---- trapezoid, cumulative_trapezoid, diff ----------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.trapezoid(torch.tensor(1.0), torch.tensor(1.5))",
    "torch.trapz(torch.tensor(1.0, dtype=torch.float64), torch.tensor(-1))",
    "torch.trapezoid(torch.tensor([True, False]), torch.tensor([1.0, 2.0]))",
    "torch.trapezoid(torch.tensor([1.0, 2.0]), torch.tensor([True, False]))",
    "torch.trapz(torch.tensor([True, True, False]), torch.tensor([0, -4, 4]))",
    "torch.trapezoid(torch.ones(2, 2, dtype=torch.bool), dim=3)",
    "torch.cumulative_trapezoid(torch.tensor(1, dtype=torch.int8), dx=0.5, dim=0)",
    "torch.cumulative_trapezoid(torch.tensor(1.0), dim=3)",
    "torch.cumulative_trapezoid(torch.tensor(False), dx=-1.0, dim=0)",
    "torch.cumulative_trapezoid(torch.tensor([True]), torch.tensor([-4]), dim=-1)",
    "torch.cumulative_trapezoid(torch.tensor([True, False]), torch.ones(2), dim=100)",
    "torch.diff(torch.ones(4, 1, 1), 1, -3, prepend=torch.ones(3, 1), append=torch.ones(3))",
    "torch.ones(2, 1).diff(3, 100, prepend=torch.tensor(1.0))",
    "torch.ones(3).diff(2, 100, prepend=torch.ones(2, 2))",
    "torch.ones(2, 3).diff(1, 0, append=torch.ones(2, 2))",
])
def test_trapezoid_and_diff_refusals(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.trapezoid(torch.ones(3, 0, dtype=torch.bool))",
    "torch.trapezoid(torch.ones(2, 0, dtype=torch.bool), torch.ones(1, dtype=torch.bool))",
    "torch.trapz(torch.ones(0, dtype=torch.int64), torch.tensor([-0.33, 0.2]))",
    "torch.trapezoid(torch.ones(2, 0, requires_grad=True), dx=-1.0)",
    "torch.trapezoid(torch.ones(0, 3, dtype=torch.float64, requires_grad=True), dim=0)",
    "torch.ones(1, 1, 2, dtype=torch.uint8).diff(0, 3)",
    "torch.diff(torch.arange(4.0), 0, -5)",
])
def test_trapezoid_and_diff_taken(code):
    same_result(run(code))
    theirs, mine = _each(f"r = {code}.requires_grad")
    assert mine == theirs


# ---- the dims and k checked before a complex tensor is refused -------------------------------

@pytest.mark.parametrize("code", [
    "torch.nansum(torch.ones(2, dtype=torch.complex64), dim=3)",
    "torch.ones(2, 3, dtype=torch.complex128).nansum(dim=[1, -4], keepdim=True)",
    "torch.nanmean(torch.ones(2, 2, dtype=torch.complex64), dim=[1, 1])",
    "torch.ones(2, dtype=torch.complex64).nanmean(dim=-2, keepdim=True)",
    "torch.nanmean(torch.ones(2, 2, dtype=torch.complex64), dim=[1, -2])",
    "torch.kthvalue(torch.ones(2, 2, dtype=torch.complex64), 3, 1)",
    "torch.ones(3, 2, dtype=torch.complex128).kthvalue(0, 1)",
    "torch.kthvalue(torch.ones(2, 2, dtype=torch.complex64), 1, 1)",
])
def test_complex_refused_after_the_dims(code):
    same_refusal(run(code))


# ---- the sign of -0.0 ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
@pytest.mark.parametrize("op", ["torch.sign(x)", "torch.sgn(x)", "x.sign()", "x.clone().sign_()"])
def test_sign_of_negative_zero_is_positive_zero(op, dtype):
    theirs, mine = _each(f"x = torch.tensor([-0.0, 0.0, -2.0], dtype=torch.{dtype}); "
                         f"r = np.signbit({op}.float().numpy()).tolist()")
    assert mine == theirs
