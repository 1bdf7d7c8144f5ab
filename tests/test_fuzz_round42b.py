"""Round-42b fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at tensor construction and conversion (``torch.tensor`` / ``as_tensor`` /
``asarray`` / ``from_numpy`` of numpy scalars, 0-d arrays, nested sequences of tensors, the
dtype / requires_grad / copy keywords), type promotion of the binary ops with Python numbers
and 0-d tensors, in-place ops that cannot cast back, comparisons and logical ops of mixed
dtypes, integer overflow, bitwise ops, rounding (``decimals=``), clamp with mixed bounds,
``where`` with number branches and the reductions' ``dtype=``.  Seeded generators built about
10,000 calls and compared the result's dtype, shape, strides and values, or the exception's
type and first words.  The defects fixed:

* a tensor of several elements inside a nested sequence is refused in the words of the
  result's dtype (an integer or bool one reads it as an index, the others as a number), the
  dtype asked for or else the one inferred from every element;
* ``asarray`` reads a numpy scalar as a 0-d array (as PyTorch's buffer path does): cast to the
  dtype asked for without a range check, and with ``copy=True`` another dtype is refused in
  the words of an alias;
* ``tensor`` / ``as_tensor`` / ``asarray`` refuse a ``dtype=`` that is no torch dtype (a str,
  a numpy type or dtype, a Tensor: the other factories' refusal names a Tensor too) and a
  ``requires_grad`` (or asarray's ``copy``) that is no bool, in the parser's words naming the
  function (``new_tensor``'s ``requires_grad`` too);
* ``from_numpy`` names a numpy scalar's type with its module;
* ``round_(decimals=...)`` is refused by the rounding kernel first (a bool tensor), checks
  ``decimals`` under its own name and takes it by keyword only, as ``torch.round`` and the
  ``round`` method now do (``special.round`` passes it so).
"""
import pytest

torch = pytest.importorskip("torch")

from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-4, atol64=1e-8, seed=0)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken

_NP = "import numpy as np; "


# ---- a tensor of several elements inside a sequence: the result's dtype picks the words ----

@pytest.mark.parametrize("code", [
    "r = torch.tensor([torch.tensor([1, 2])], dtype=torch.float32)",
    "r = torch.tensor([torch.tensor([True, False])], dtype=torch.complex64)",
    "r = torch.tensor([torch.tensor([1., 2.])], dtype=torch.uint8)",
    "r = torch.tensor([torch.tensor([1., 2.])], dtype=torch.bool)",
    "r = torch.tensor([1.5, torch.tensor([1, 2])])",
    "r = torch.tensor([torch.tensor([1, 2]), 1.5])",
    "r = torch.tensor([torch.tensor([1, 2]), 1j])",
    "r = torch.tensor([torch.tensor([1., 2.]), 1])",
    "r = torch.tensor([torch.tensor([1, 2]), torch.tensor([3, 4])])",
    "r = torch.tensor([torch.tensor([True, False]), True])",
    "r = torch.tensor([torch.tensor([1, 2], dtype=torch.int8), torch.tensor(2.)])",
])
def test_many_element_tensor_in_a_sequence(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.tensor([torch.tensor([1.5])], dtype=torch.float64)",
    "r = torch.tensor([torch.tensor(1, dtype=torch.int8), torch.tensor(2, dtype=torch.uint8)])",
    "r = torch.tensor((torch.tensor(1.), torch.tensor(2)))",
    "r = torch.tensor([[torch.tensor(1.5)], [torch.tensor(2)]])",
])
def test_one_element_tensors_in_a_sequence(code):
    _taken(code)


# ---- asarray of a numpy scalar: read as a 0-d array ----------------------------------------

@pytest.mark.parametrize("code", [
    _NP + "r = torch.asarray(np.float32(2.5), dtype=torch.int64)",
    _NP + "r = torch.asarray(np.float16(300), dtype=torch.int8)",
    _NP + "r = torch.asarray(np.complex64(1+2j), dtype=torch.int32)",
    _NP + "r = torch.asarray(np.float32(2.5), dtype=torch.bool)",
    _NP + "r = torch.asarray(np.float64(-2.5), dtype=torch.int32)",
    _NP + "r = torch.asarray(np.int8(-3), dtype=torch.uint8)",
    _NP + "r = torch.asarray(np.uint16(7))",
    _NP + "r = torch.asarray(np.float32(2.5), requires_grad=True)",
    _NP + "r = torch.asarray(np.int8(2), copy=True)",
    _NP + "r = torch.asarray(np.int8(2), copy=True, dtype=torch.int8)",
    _NP + "r = torch.asarray(np.bool_(True), dtype=torch.float16)",
])
def test_asarray_of_a_numpy_scalar(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    _NP + "r = torch.asarray(np.float32(2.5), dtype=torch.int64, requires_grad=True)",
    _NP + "r = torch.asarray(np.float32(2.5), copy=True, dtype=torch.int16)",
    _NP + "r = torch.asarray(np.bool_(True), copy=True, dtype=torch.float32)",
    _NP + "r = torch.asarray(np.int8(2), copy=False)",
    _NP + "r = torch.asarray(np.str_('a'))",
    _NP + "r = torch.tensor(np.float32(2.5), dtype=torch.int64)",
    _NP + "r = torch.as_tensor(np.float32(2.5), dtype=torch.int64)",
])
def test_numpy_scalar_refusals(code):
    _refused(code)


# ---- the parser's refusals of the factories' keywords --------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.tensor([1, 2], requires_grad=None)",
    "r = torch.tensor([1., 2.], requires_grad=1)",
    _NP + "r = torch.tensor([1., 2.], requires_grad=np.bool_(True))",
    "r = torch.tensor([1., 2.], requires_grad=torch.tensor(True))",
    "r = torch.tensor([1., 2.], dtype='float32')",
    _NP + "r = torch.tensor([1., 2.], dtype=np.float32)",
    _NP + "r = torch.tensor([1., 2.], dtype=np.dtype('float32'))",
    "r = torch.tensor([1., 2.], dtype=3)",
    "r = torch.tensor([1., 2.], dtype=torch.tensor(1))",
    "r = torch.zeros(2, dtype=torch.tensor(1))",
    "r = torch.asarray([1.], dtype=torch.tensor(1))",
    "r = torch.as_tensor([1., 2.], dtype='float32')",
    _NP + "r = torch.as_tensor([1., 2.], dtype=np.dtype('float64'))",
    "r = torch.asarray([1.], dtype='float32')",
    _NP + "r = torch.asarray([1.], dtype=np.float64)",
    "r = torch.asarray([1.], requires_grad=0)",
    _NP + "r = torch.asarray([1.], requires_grad=np.bool_(True))",
    "r = torch.asarray([1.], copy=1)",
    "r = torch.asarray([1.], copy='yes')",
    "r = torch.ones(2).new_tensor([1., 2.], requires_grad=1)",
    "r = torch.ones(2).new_tensor([1., 2.], requires_grad=None)",
    "r = torch.ones(2).new_tensor([torch.tensor([1, 2])], dtype=torch.float32)",
])
def test_factory_keywords_refused(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.tensor([1., 2.], dtype=float)",
    "r = torch.tensor([1, 2], dtype=bool, requires_grad=False)",
    "r = torch.as_tensor([1., 2.], dtype=int)",
    "r = torch.asarray([1.], requires_grad=None, copy=None)",
    "r = torch.asarray([1.], copy=True, requires_grad=True, dtype=complex)",
])
def test_factory_keywords_taken(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    _NP + "r = torch.from_numpy(np.float32(1))",
    _NP + "r = torch.from_numpy(np.int64(3))",
    _NP + "r = torch.from_numpy(np.bool_(True))",
    _NP + "r = torch.from_numpy(np.complex64(1j))",
    "r = torch.from_numpy([1])",
    "r = torch.from_numpy(torch.ones(2))",
    "r = torch.from_numpy(None)",
])
def test_from_numpy_of_no_array(code):
    _refused(code)


# ---- round_ with decimals -------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.tensor([True, False]).round_(decimals=1)",
    "r = torch.tensor([True, False]).round_(decimals=0)",
    "r = torch.tensor([1, 2]).round_(decimals=0)",
    "r = torch.tensor([1+1j, 2]).round_(decimals=1)",
    "r = torch.tensor([1.26, 2.]).round_(decimals=None)",
    "r = torch.tensor([1.26, 2.]).round_(decimals=1.5)",
    "r = torch.tensor([1.26, 2.]).round_(decimals=True)",
    "r = torch.tensor([1.26, 2.]).round_(1)",
    "r = torch.tensor([1.26, 2.]).round(1)",
    "r = torch.tensor([1.26, 2.]).round(decimals=None)",
    "r = torch.round(torch.tensor([1.26, 2.]), 1)",
    "r = torch.round(torch.tensor([1.26, 2.]), 1, out=torch.empty(2))",
    "r = torch.tensor([1.26, 2.]).expand(2, 2).round_(decimals=1)",
])
def test_round_in_place_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.tensor([1.26, -2.35], dtype=torch.float64).round_(decimals=1)",
    "r = torch.tensor([1.26, -2.35], dtype=torch.float16).round_(decimals=-1)",
    "r = torch.tensor([1.26, 2.]).round_(decimals=torch.tensor(1))",
    "r = torch.tensor([1.5, 2.5]).round_()",
    "r = torch.tensor([1, 2], dtype=torch.uint8).round_()",
    "r = torch.round(torch.tensor([1.26, 2.]), decimals=1, out=torch.empty(2))",
])
def test_round_in_place_taken(code):
    _taken(code)


def test_round_in_place_gradient():
    _taken("a = torch.tensor([1.26, -2.35], dtype=torch.float64, requires_grad=True); "
           "b = a * 3; b.round_(decimals=1); b.sum().backward(); r = a.grad")
