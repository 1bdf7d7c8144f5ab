"""Round-33 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at the tensor layer: Tensor methods and torch.* functions for creation,
indexing (basic, advanced and boolean, index tensors of every integer dtype, 0-d bool and
uint8 tensors, masks of the wrong shape, lists holding what no tensor holds), views of
non-contiguous, 0-d and empty tensors, in-place writes into views, type promotion of 0-d
tensors and Python numbers, ``out=`` arguments, reductions with dim tuples, sort / topk /
unique, cat / stack / chunk, arange / linspace / logspace with odd arguments, ``.to`` /
``.type`` / ``.new_*``, and requires_grad through all of them.  Seeded generators ran
about 25,000 calls on both libraries and compared values, dtype, shape, strides,
requires_grad and the exception's type and first line of words.  The defects fixed:

* ``x ** -2`` and ``x ** 3`` of a 0-d floating tensor (so ``float_power(int, -2)``) crashed:
  the scalar-exponent kernel wrote into numpy's 0-d product, which is a scalar;
* indexing (reads and writes) goes through the index as PyTorch does, item by item over a
  view it narrows: an int (or a 0-d integer tensor of any integer dtype, uint16 to uint64
  included) is bound-checked where it stands, naming its place in the index (a dim of size
  0 too); a slice's step is refused there; a list holding a slice or a string is refused
  as ``tensor()`` refuses it there; a 0-d bool or uint8 tensor adds a size-1 dim as a
  Python bool does; only then are the index tensors' dtypes checked (a one-value write
  first checks its leading mask, as PyTorch's masked-fill probe), then each mask against the
  narrowed view, whose shape the refusal prints; a lone mask with more dims than the tensor
  is "too many indices";
* writes: index_put checks that the value (its leading 1s dropped, as its words show it)
  broadcasts before an index out of range is found, and writes nothing, refusing nothing,
  where the region picked is empty;
* ``out=``: PyTorch's parser and autograd layer refuse first: ``where`` takes tensors only
  beside an out, ``cat`` / ``stack`` an int dim, and a differentiable op with an input
  requiring grad is refused under grad mode before its dims, dtypes or overlap are
  checked (a dim the parser refuses, and the ops made of others, such as matmul, keep
  their own errors first); cat checks its inputs and dim before the out's overlap;
* ``atleast_3d`` of a strided matrix or vector gives the new last dim step 1, as
  ``unsqueeze(-1)`` does;
* ``unique_consecutive`` and ``chunk`` refuse a dim that is no int before anything else;
* ``arange`` finds the dtype's kernel first (bool refused), then checks the step (NaN is a
  zero step), the bounds' finiteness (printed as C++ prints doubles: ``9.22337e+18``,
  ``1`` for True) and the step's sign, before the numbers are converted to an integer dtype;
  a tensor with dims is no Number to its parser, which lists what it got as given (0-d
  tensors and keywords); ``linspace`` / ``logspace`` name both bounds when both are tensors;
  ``logspace`` into an integer dtype converts the bounds into it (refusing one out of
  range, wrapping a negative int into uint8) and spaces the exponents between them;
* ``repeat_interleave`` wraps the dim before it checks an int count's sign, and with a
  tensor count names the dim as given (a 0-d input has "no dimensions" for any dim);
  ``as_strided`` and ``resize_`` word a size or stride that is no tuple of ints as PyTorch's
  parser (the function form's positions); ``as_strided`` with a negative size among nonzero
  ones is PyTorch's storage-size overflow; ``resize_`` refuses a tensor requiring grad before
  its sizes and a negative size among nonzero ones as an element-count overflow;
  ``unflatten`` reads its sizes' types before the dim; ``quantile`` / ``nanquantile`` refuse
  a dim that is no int as the parser does, and their shared checks say ``quantile()``;
* ``tensor()``: a complex number into an integer dtype is "'complex' object cannot be
  interpreted as an integer"; an int past int64 into a complex dtype is taken, as a double.
"""
import random

import pytest

torch = pytest.importorskip("torch")

from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-6, atol64=1e-10, seed=0)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken


# ---- the scalar-exponent kernel of a 0-d tensor ------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.tensor(3.) ** -2",
    "r = torch.tensor(7.).to(torch.bfloat16) ** -2",
    "r = torch.tensor(3.).half() ** 3",
    "r = torch.tensor(-1.5).double() ** 3",
    "r = torch.float_power(torch.tensor(1, dtype=torch.int32), -2)",
    "x = torch.tensor(3.).double().requires_grad_(); r = x ** -2\n"
    "r = (r.detach(), torch.autograd.grad(r, x)[0])",
])
def test_zero_dim_scalar_pow(code):
    _taken(code)


# ---- indexing, item by item ----------------------------------------------------------------

_X3 = "x = torch.arange(24.).reshape(2, 3, 4); "
_XT = "x = torch.arange(24.).reshape(2, 3, 4).transpose(0, 2); "
_X2 = "x = torch.arange(6.).reshape(2, 3); "
_XE = "x = torch.ones(2, 0, 3); "


@pytest.mark.parametrize("code", [
    _X2 + "r = x[(torch.tensor([5]), [0, slice(None)])]",
    _X3 + "r = x[(-1, [0, slice(None)])]",
    "x = torch.arange(5); r = x[([0, slice(None)],)]",
    "x = torch.arange(5.); r = x[([0, 'a'],)]",
    "x = torch.arange(5.); r = x[('ab',)]",
    "x = torch.arange(8, dtype=torch.uint8).reshape(2, 4); "
    "r = x[(5, torch.tensor([0, 1]).to(torch.int8))]",
    "x = torch.empty(0, 3); r = x[(-4, 1.0)]",
    "x = torch.empty(0, 3); r = x[(torch.tensor(0), torch.tensor([1.0]))]",
    "x = torch.ones(2, 0, 3); r = x[(torch.tensor([1.0]), slice(None, None, -1), slice(3, 1))]",
    _X3 + "r = x[(5, slice(None, None, -1))]",
    _XE + "r = x[(torch.tensor(False), slice(-10, 10), 0)]",
    _XE + "r = x[([-1, -2], torch.tensor(1).to(torch.uint8), 5)]",
    _XT + "r = x[(torch.tensor(0), torch.tensor(False), 5)]",
    _XT + "r = x[(torch.tensor([True, False]), 5, [[0, 1], [1, 0]])]",
    _X2 + "r = x[(torch.tensor(False), torch.tensor([[True, False, True]]))]",
    "x = torch.arange(5); r = x[(torch.tensor(True), [True, False])]",
    _X3 + "r = x[([[0, 1], [1, 0]], torch.tensor(True), torch.tensor([0, 1], dtype=torch.uint8))]",
    "x = torch.arange(3.).expand(2, 3); "
    "r = x[(slice(None, None, 2), torch.tensor([0, 1], dtype=torch.uint8))]",
    "x = torch.arange(12).reshape(3, 4)[:, ::2]; r = x[(torch.tensor(True), torch.tensor([3]), 0)]",
    "x = torch.arange(5); r = x[torch.tensor([[True, False, True]])]",
    "x = torch.tensor(5.); r = x[torch.tensor([True])]",
    "x = torch.arange(5.); r = x[torch.ones(5, 1, dtype=torch.bool)]",
    "x = torch.ones(2, 0, 3).requires_grad_(); r = x[(5, True, torch.tensor([True, False]))]",
    "x = torch.empty(0, 3); r = x[(torch.tensor(1), [True, False])]",
    _X2 + "r = x[(torch.tensor([0, 1], dtype=torch.uint16),)]",
    # an int into a dim of size 0, named by its place
    "x = torch.empty(0, 3); r = x[(None, 0)]",
    "x = torch.empty(2, 0); r = x[1, None, 0]",
    "x = torch.empty(2, 0); r = x[..., 1]",
])
def test_index_refusals_in_order(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "x = torch.arange(12).reshape(3, 4)[:, ::2]; r = x[(torch.tensor(1).to(torch.uint16),)]",
    _X2 + "r = x[(torch.tensor(1).to(torch.uint32), 0)]",
    _X2 + "r = x[torch.tensor(1, dtype=torch.uint64)]",
    _X2 + "r = x[torch.tensor(1, dtype=torch.int8)]",
    "x = torch.arange(8, dtype=torch.uint8).reshape(2, 4); "
    "r = x[(False, torch.tensor(1).to(torch.uint8), 0)]",
    _X3 + "r = x[(torch.tensor(1).to(torch.uint8), slice(1, None))]",
    _X3 + "r = x[(torch.tensor(0).to(torch.uint8), 1)]",
    "x = torch.arange(6.).reshape(2, 3).requires_grad_(); r = x[(torch.tensor(1, "
    "dtype=torch.int16), torch.tensor(True))]\nr = (r, torch.autograd.grad(r.sum(), x)[0])",
])
def test_index_taken(code):
    _taken(code)


# ---- out=: the parser's and autograd's refusals first ----------------------------------------

_XG = "x = torch.tensor([[3., -1., 2.], [0., 5., -4.]]).double().requires_grad_(); "


@pytest.mark.parametrize("code", [
    _XG + "r = torch.sum(x, 5, out=torch.empty(2, dtype=torch.int64))",
    _XG + "r = torch.sum(x, (0, 0), out=torch.empty(2))",
    _XG + "r = torch.mul(x, 2, out=torch.empty(0, dtype=torch.int64))",
    _XG + "r = torch.add(x, x, out=x[:1])",
    _XG + "r = torch.cat([x, x], 0, out=x)",
    _XG + "r = torch.cat([x, x], 3, out=torch.empty(1))",
    _XG + "r = torch.max(x, 3, out=(torch.empty(0), torch.empty(0, dtype=torch.int64)))",
    _XG + "r = torch.sort(x, -3, out=(torch.empty(0), torch.empty(0, dtype=torch.int32)))",
    _XG + "r = torch.amax(x, (), out=torch.empty(1))",
    _XG + "r = torch.cumsum(x, 3, out=torch.empty(1, dtype=torch.int64))",
    _XG + "r = torch.mean(x, (0, 0), out=torch.empty(3, dtype=torch.float64))",
    # the parser first
    _XG + "r = torch.prod(x, (0, 0), out=torch.empty(1))",
    _XG + "r = torch.cumsum(x, None, out=torch.empty(1, dtype=torch.int64))",
    _XG + "r = torch.max(x, (), out=(torch.empty(0), torch.empty(0, dtype=torch.int64)))",
    _XG + "r = torch.where(x > 0, x, 0., out=torch.empty(0))",
    "x = torch.ones(2, 3); r = torch.where(x > 0, 1.0, x, out=torch.empty(0))",
    "x = torch.ones(2, 3); r = torch.where(1.0, x, x, out=torch.empty(0))",
    "x = torch.ones(2, 3); r = torch.cat([x, x], (0, 1), out=x)",
    "x = torch.ones(2, 3); r = torch.stack([x, x], [], out=torch.empty(0))",
    # cat's input checks before the out's overlap with them
    "x = torch.tensor(5.); r = torch.cat([x, x], -3, out=x)",
    "x = torch.ones(2, 3); r = torch.cat([x, x], 3, out=x)",
    # a composite op's own check first
    "x = torch.tensor(5.).double().requires_grad_(); r = torch.matmul(x, x, out=torch.empty(0))",
])
def test_out_refused_before_the_kernel(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "x = torch.tensor([1., 2.]).requires_grad_(); r = torch.argmax(x, 0, out=torch.empty(0, "
    "dtype=torch.int64))",
    "x = torch.tensor([1., 2.]).requires_grad_(); r = torch.eq(x, 2, out=torch.empty(0, "
    "dtype=torch.bool))",
    "x = torch.tensor([1., 2.]).requires_grad_()\nwith torch.no_grad():\n"
    "    r = torch.sum(x, 0, out=torch.empty(0))",
])
def test_out_taken(code):
    _taken(code)


# ---- shapes and parsers -------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.atleast_3d(torch.arange(24.).reshape(4, 6).t()[1:])",
    "r = torch.atleast_3d(torch.arange(12.).reshape(3, 4)[:, ::2])",
    "r = torch.atleast_3d(torch.arange(6.)[::2])",
    "r = torch.atleast_3d(torch.arange(6.).reshape(2, 3), torch.tensor(1.))",
])
def test_atleast_3d_layout(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    "r = torch.unique_consecutive(torch.tensor([1, 3, 3]), dim=(0, 1), return_inverse=True)",
    "r = torch.unique_consecutive(torch.tensor(5.), dim=[])",
    "r = torch.unique_consecutive(torch.tensor([1j]), dim=(0,))",
    "r = torch.tensor(5.).chunk(3, (0, 1))",
    "r = torch.chunk(torch.tensor(5.), 3, (0,))",
    "r = torch.ones(3).chunk(2, 1.5)",
])
def test_dim_parsed_first(code):
    _refused(code)


# ---- arange, linspace, logspace ------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.arange(2**63, inf, dtype=torch.int64)",
    "r = torch.arange(nan, True, inf, dtype=torch.int8)",
    "r = torch.arange(-0.5, nan)",
    "r = torch.arange(0, 2**63, -0.5, dtype=torch.int64)",
    "r = torch.arange(3, nan, dtype=torch.bool)",
    "r = torch.arange(inf, inf, nan)",
    "r = torch.arange(inf, 0, nan, dtype=torch.int32)",
    "r = torch.arange(0, 10, inf, dtype=torch.int64)",
    "r = torch.arange(torch.tensor([3]))",
    "r = torch.arange(torch.tensor([3]), 2.5)",
    "r = torch.arange(nan, torch.tensor(3), torch.tensor([3]), dtype=torch.float32)",
    "r = torch.arange(-3, torch.tensor(2.5), torch.tensor([3]), requires_grad=True)",
    "r = torch.linspace(torch.tensor(3), torch.tensor([3]), 4, dtype=torch.uint8)",
    "r = torch.logspace(torch.tensor([2.5]), torch.tensor(3), 3)",
    "r = torch.linspace(torch.tensor([[1.]]), 3, 4)",
    "r = torch.logspace(3, 1e20, 3, dtype=torch.uint8)",
    "r = torch.logspace(3, 300, 4, dtype=torch.uint8)",
    "r = torch.logspace(torch.tensor(2.5), nan, 3, dtype=torch.int64)",
    "r = torch.logspace(1e20, 0, 1, dtype=torch.int32)",
])
def test_range_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.arange(torch.tensor(5))",
    "r = torch.arange(5, 1, -1, dtype=torch.int16)",
    "r = torch.logspace(3, -1, 3, dtype=torch.uint8)",
    "r = torch.logspace(-1, 3, 4, dtype=torch.uint8)",
    "r = torch.logspace(2.7, 5.5, 4, dtype=torch.int64)",
    "r = torch.logspace(2.7, 5.5, 4, base=2.5, dtype=torch.int32)",
    "r = torch.logspace(0, 1e20, 1, dtype=torch.int32)",
    "r = torch.logspace(nan, 0, 0, dtype=torch.int32)",
    "r = torch.logspace(1, 4, 4, base=2, dtype=torch.int16)",
])
def test_ranges_taken(code):
    _taken(code)


# ---- tensor() of numbers that need a word ---------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.tensor([1, 2j], dtype=torch.int64)",
    "r = torch.tensor(2j, dtype=torch.uint8)",
    "r = torch.ones(2, dtype=torch.int8).new_tensor(1j)",
    "r = torch.tensor([1, 2j], dtype=torch.float32)",
    "r = torch.tensor(2**63)",
])
def test_tensor_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.tensor(2**63, dtype=torch.complex64)",
    "r = torch.tensor([2**63, 1], dtype=torch.complex128)",
    "r = torch.tensor(2**70, dtype=torch.complex64)",
    "r = torch.tensor(2j, dtype=torch.bool)",
])
def test_tensor_taken(code):
    _taken(code)


# ---- a seeded sweep of index reads ----------------------------------------------------------

_BASES = ["torch.arange(24.).reshape(2, 3, 4)", "torch.arange(24.).reshape(2, 3, 4)[:, ::2]",
          "torch.arange(6.).reshape(2, 3)", "torch.ones(2, 0, 3)", "torch.arange(5)"]
_ITEMS = ["0", "-1", "5", "None", "...", "True", "False", "slice(1, None)", "[0, 1]",
          "torch.tensor(1)", "torch.tensor(True)", "torch.tensor([True, False])",
          "torch.tensor(1, dtype=torch.uint8)", "torch.tensor(0, dtype=torch.uint16)",
          "torch.tensor([0, 1], dtype=torch.int16)", "torch.ones(2, 3, dtype=torch.bool)",
          "slice(None, None, -1)", "1.0", "[0, slice(None)]"]


def _sweep(n, seed):
    rng = random.Random(seed)
    return [f"x = {rng.choice(_BASES)}; r = x[("
            + ", ".join(rng.choice(_ITEMS) for _ in range(rng.choice((1, 2, 3)))) + ",)]"
            for _ in range(n)]


@pytest.mark.parametrize("code", _sweep(150, 33))
def test_index_sweep(code):
    _same(code)


# ---- writes through an index, item by item ---------------------------------------------------

@pytest.mark.parametrize("code", [
    "x = torch.arange(24.).reshape(2, 3, 4).transpose(0, 2).clone(); "
    "x[([0, slice(None)], slice(None, None, -1))] = torch.tensor([1., 2.]); r = x",
    _X3 + "x[(5, slice(None, None, -1), slice(-10, 10))] = torch.tensor([1, 2], "
    "dtype=torch.int8); r = x",
    "x = torch.empty(0, 3); x[(5, 1.0)] = torch.ones(4); r = x",
    "x = torch.empty(0, 3); x[(torch.tensor(0), torch.tensor([1.0]))] = torch.ones(3); r = x",
    "x = torch.ones(2, 0, 3); x[(torch.tensor(False), slice(-10, 10), 0)] = 1.; r = x",
    _XT + "x[(torch.tensor(1), torch.tensor(False), torch.tensor([0, 1]).to(torch.bool))] = "
    "torch.ones(1, 1, 1, 1); r = x",
    _X2 + "x[(torch.zeros(3, 2, dtype=torch.bool), torch.tensor(True))] = torch.zeros(0); r = x",
    _X2 + "x[(torch.tensor(True), torch.tensor([3]))] = nan; r = x",
    "x = torch.ones(2, 0, 3); x[(torch.ones(2, 3, dtype=torch.bool), slice(3, 1))] = "
    "torch.ones(4); r = x",
    "x = torch.arange(12).reshape(3, 4)[:, ::2].clone(); x[(torch.tensor([0, 1], "
    "dtype=torch.uint8), torch.tensor([1.0]))] = True; r = x",
    # index_put's shape check before the bound, its value without leading 1s
    _X2 + "x[(torch.tensor([3]), torch.tensor(0))] = torch.zeros(0); r = x",
    "x = torch.arange(12).reshape(3, 4)[:, ::2].clone(); x[torch.tensor([[0, 1]])] = "
    "torch.ones(1, 4); r = x",
    "x = torch.arange(6).reshape(3, 2); x[[]] = torch.ones(1, 4, dtype=torch.int64); r = x",
    "x = torch.ones(2, 0, 3); x[(0, torch.tensor([[0, 1]]))] = torch.zeros(0); r = x",
    "x = torch.ones(2, 0, 3); x[(torch.tensor([5]), [[0], [1]])] = torch.ones(3); r = x",
])
def test_write_refusals_in_order(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _X2 + "x[(torch.tensor(1).to(torch.uint16), 0)] = torch.ones(1, 1, 1, 1); r = x",
    _X3 + "x[(torch.tensor(1).to(torch.uint8),)] = nan; r = x",
    "x = torch.tensor(5.); x[torch.tensor(1).to(torch.uint8)] = 7; r = x",
    _X3 + "x[(False, torch.tensor(1).to(torch.uint64), torch.tensor(True))] = torch.ones(4); r = x",
    _XT + "x[(None, torch.tensor(1).to(torch.uint64), (0, 1))] = True; r = x",
    "x = torch.arange(3.).expand(2, 3).clone(); x[(slice(0, 0), torch.tensor([5]))] = "
    "torch.tensor(9.); r = x",
])
def test_writes_taken(code):
    _taken(code)


# ---- the parsers and checks of the view ops ---------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.arange(12.).reshape(3, 4)[:, ::2].repeat_interleave(-1, 3)",
    "r = torch.tensor(5.).repeat_interleave(-3, 3)",
    "r = torch.tensor(5.).repeat_interleave(torch.tensor([1, 2]), 3)",
    "r = torch.tensor(5.).repeat_interleave(torch.tensor([1, 2]), -1)",
    "r = torch.ones(1, 1).repeat_interleave(torch.tensor([1, 2]), -1)",
    "r = torch.arange(24.).reshape(2, 3, 4).transpose(0, 2).repeat_interleave("
    "torch.tensor([1, 2]), -3)",
    "r = torch.as_strided(torch.arange(5.), (2.0, -1), (6, -1))",
    "r = torch.as_strided(torch.arange(5.), (2, 1), (1, 1.0))",
    "r = torch.arange(5.).as_strided((2, 1.5), (1, 1))",
    "r = torch.arange(5.).as_strided((6, -1), (4, 6))",
    "r = torch.arange(5.).double().requires_grad_().as_strided((2, -1), (4, 6))",
    "r = torch.arange(6.).resize_((2.0, 1))",
    "r = torch.arange(6.).resize_(2, 1.5)",
    "r = torch.arange(6.).double().requires_grad_().resize_((2, -1))",
    "r = torch.arange(6.).resize_((2, -1))",
    "r = torch.ones(2, 0, 3).resize_((-2,))",
    "r = torch.arange(5.).unflatten(3, (2.0, -1))",
    "r = torch.ones(1, 1).unflatten(3, (2.0, -1))",
])
def test_view_op_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.arange(6.).reshape(2, 3).repeat_interleave(2, -1)",
    "r = torch.arange(6.).reshape(2, 3).repeat_interleave(torch.tensor([1, 0, 2]), -1)",
    "r = torch.tensor(5.).repeat_interleave(torch.tensor([2]))",
    "r = torch.arange(6.).resize_(2, 3)",
    "r = torch.arange(6.).resize_([3, 2])",
    "r = torch.arange(6.).as_strided((2, 2), (1, 2), 1)",
])
def test_view_ops_taken(code):
    _taken(code)


# ---- quantile's parser and words ---------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.quantile(torch.randn(3), 0.5, (0,))",
    "r = torch.randn(3).quantile(0.5, (0,), keepdim=True)",
    "r = torch.randn(3).quantile(0.5, torch.tensor([0]))",
    "r = torch.nanquantile(torch.randn(3), torch.tensor(0.5), [0])",
    "r = torch.empty(0, 3).quantile(0.5, (0, 0))",
    "r = torch.randn(3).nanquantile(torch.tensor([0.5]).double())",
    "r = torch.randn(3).nanquantile(torch.ones(2, 2))",
    "r = torch.randn(3).nanquantile(torch.tensor([2.]))",
    "r = torch.randn(3).nanquantile(0.5, interpolation='bad')",
])
def test_quantile_refusals(code):
    _refused(code)


def test_quantile_takes_a_0d_dim():
    _taken("r = torch.arange(6.).reshape(2, 3).quantile(0.5, torch.tensor(1))")


_VALUES = ["7", "torch.tensor(9.)", "torch.ones(1, 4)", "torch.ones(3)", "torch.zeros(0)", "True"]


def _write_sweep(n, seed):
    rng = random.Random(seed)
    return [f"x = {rng.choice(_BASES)}.clone(); x[("
            + ", ".join(rng.choice(_ITEMS) for _ in range(rng.choice((1, 2, 3))))
            + f",)] = {rng.choice(_VALUES)}; r = x" for _ in range(n)]


@pytest.mark.parametrize("code", _write_sweep(120, 34))
def test_index_write_sweep(code):
    _same(code)
