"""Round-33 fuzzing, leftovers (part 2), each case run against torch.

* in-place writes into views whose elements share memory: PyTorch refuses a tensor with a
  dim of stride 0 and more than one element (an expanded one) for add_ / mul_ / copy_ and
  ``out=``, but fills one (``fill_``, ``zero_``); views that overlap with nonzero strides
  (``unfold``, ``as_strided``) are written, by values that do not depend on the order;
* ``clamp_`` / ``clip_`` with tensor bounds refuse a broadcast shape wider than the tensor
  before they look at dtypes;
* ``concat`` / ``concatenate`` name themselves in the parser's words (``axis=`` is ``dim``
  given by keyword);
* ``Tensor.as_strided`` / ``as_strided_`` count positions from the method's first argument,
  refuse a size or stride that is no tuple or list, a float or bool storage offset, a bool
  first element (a later one is an int);
* ``norm`` with 'fro' over more than two dims is matrix_norm's refusal;
* ``ldexp`` of a 0-d floating exponent raises 2 to it in the wider of its dtype and the
  result's;
* reading an empty tensor through index tensors that pick elements: PyTorch's words for a
  dim of size 0, whichever index is out of range.
"""
import pytest

torch = pytest.importorskip("torch")

from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-6, atol64=1e-10, seed=0)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken

_EXP = "x = torch.zeros(1, 5); v = x.expand(3, 5); "
_STR = "x = torch.zeros(6); v = x.as_strided((3, 3), (1, 1)); "
_UNF = "x = torch.zeros(2, 5); v = x.unfold(1, 2, 1); "


# ---- writes into views that overlap themselves ----------------------------------------------

@pytest.mark.parametrize("code", [
    _EXP + "v.add_(1); r = x",
    _EXP + "v.mul_(2); r = x",
    _EXP + "v.copy_(torch.ones(3, 5)); r = x",
    _EXP + "torch.add(torch.ones(3, 5), 1, out=v); r = x",
    "x = torch.zeros(6); v = x.as_strided((3, 3), (0, 1)); v.add_(1); r = x",
    "x = torch.zeros(6); v = x.as_strided((3, 3), (1, 0)); v += 1; r = x",
    "x = torch.zeros(6); v = x.as_strided((3,), (0,)); v.add_(1); r = x",
    "x = torch.zeros(()); v = x.expand(3); v.mul_(3); r = x",
])
def test_expanded_write_refused(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _EXP + "v.fill_(1); r = x",
    _EXP + "v.zero_(); r = x",
    "x = torch.zeros(1); v = x.expand(0); v.add_(1); r = x",
    "x = torch.zeros(1, 1); v = x.expand(1, 1); v.add_(1); r = x",
    _UNF + "v.fill_(3); r = x",
    _UNF + "v.zero_(); r = x",
    _UNF + "v.mul_(2); r = x",
    _UNF + "v.copy_(torch.ones(2, 4, 2)); r = x",
    _STR + "v.fill_(1); r = x",
    _STR + "v.div_(1); r = x",
    _STR + "v.clamp_(1); r = x",
    _STR + "v[0] = 1; r = x",
    _STR + "v[:] = 1; r = x",
    _STR + "torch.add(torch.ones(3, 3), 1, out=v); r = x",
    _STR + "v.relu_(); r = x",
    _STR + "v.masked_fill_(torch.ones(3, 3, dtype=torch.bool), 1); r = x",
    _STR + "v.copy_(v); r = x",
])
def test_overlapping_view_written(code):
    _taken(code)


# ---- clamp_ with tensor bounds: the output's shape first ------------------------------------

_I8 = "x = torch.tensor(1, dtype=torch.int8); "


@pytest.mark.parametrize("code", [
    _I8 + "r = x.clamp_(torch.ones(1, 3))",
    _I8 + "r = x.clamp_(min=torch.ones(1, 3))",
    _I8 + "r = x.clamp_(max=torch.ones(1, 3))",
    _I8 + "r = x.clamp_(torch.ones(1, 3), torch.ones(1, 3))",
    _I8 + "r = x.clamp_min_(torch.ones(1, 3))",
    _I8 + "r = x.clamp_max_(torch.ones(1, 3))",
    _I8 + "r = x.clip_(torch.ones(1, 3))",
    "r = torch.tensor([1], dtype=torch.int8).clamp_(torch.ones(3))",
    "r = torch.tensor(1.).clamp_(torch.ones(1, 3))",
    _I8 + "r = x.clamp_(torch.ones(()))",           # (the shape fits: the dtype is refused)
    "r = torch.tensor([1, 2], dtype=torch.int8).clamp_(torch.ones(2, 2, dtype=torch.int8))",
])
def test_clamp_inplace_shape_first(code):
    _refused(code)


def test_clamp_inplace_tensor_bounds_taken():
    _taken("r = torch.tensor([[1., 5.], [-3., 0.5]]).clamp_(torch.zeros(2), torch.ones(1, 2))")


# ---- concat / concatenate name themselves ---------------------------------------------------

_X1 = "x = torch.ones(2); "


@pytest.mark.parametrize("code", [
    _X1 + "r = torch.concat(x, None)",
    _X1 + "r = torch.concatenate(x, None)",
    _X1 + "r = torch.concat([x], None)",
    _X1 + "r = torch.concatenate([x], None)",
    _X1 + "r = torch.concat([x], 'a')",
    _X1 + "r = torch.concatenate([x], axis=None)",
    _X1 + "r = torch.concat([x], dim=None)",
    _X1 + "r = torch.concat([x], dim=1.0)",
    _X1 + "r = torch.concatenate([x], 3)",
    _X1 + "r = torch.concatenate(x)",
    _X1 + "r = torch.concat()",
    _X1 + "r = torch.cat([x], None)",
])
def test_concat_words(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _X1 + "r = torch.concat([x, x * 2])",
    _X1 + "r = torch.concatenate([x, x], axis=0)",
    _X1 + "o = torch.empty(0); r = torch.concat([x, x], out=o); r = (r, o)",
    "x = torch.ones(2, 3, dtype=torch.float64).requires_grad_(); "
    "r = torch.concatenate((x, x * 3), 1)\nr = (r, torch.autograd.grad(r.sum(), x)[0])",
])
def test_concat_taken(code):
    _taken(code)


# ---- as_strided's argument words ------------------------------------------------------------

_X22 = "x = torch.ones(2, 2); "


@pytest.mark.parametrize("code", [
    _X22 + "r = x.as_strided((2.0, 1), (1, 1))",
    _X22 + "r = x.as_strided((2, 1), (1.0, 1))",
    _X22 + "r = x.as_strided((2, 1), (1, 1), 0.0)",
    _X22 + "r = x.as_strided((2, 1), (1, 1), True)",
    _X22 + "r = x.as_strided_((2.0, 1), (1, 1))",
    _X22 + "r = x.as_strided_((2, 1), (1., 1))",
    _X22 + "r = x.as_strided_((2, 1), (1, 1), 1.0)",
    _X22 + "r = torch.as_strided(x, (2.0, 1), (1, 1))",
    _X22 + "r = torch.as_strided(x, (2, 1), (1, 1), 1.0)",
    _X22 + "r = x.as_strided(2.0, (1, 1))",
    _X22 + "r = x.as_strided(True, (1,))",
    _X22 + "r = x.as_strided((2, 1), None)",
    _X22 + "r = x.as_strided(range(2), (1, 1))",
    _X22 + "r = x.as_strided(torch.tensor([2, 1]), (1, 1))",
    _X22 + "r = x.as_strided((True, 2), (1, 1))",
    _X22 + "r = x.as_strided((2, 1), (1, 'a'))",
    _X22 + "r = x.as_strided((2, 1), (1, 1), storage_offset=1.5)",
    _X22 + "r = torch.as_strided_(x, (2.0, 1), (1, 1))",
    _X22 + "r = torch.as_strided_(x, (2, 1), (1, 1), 1.0)",
    _X22 + "r = torch.as_strided_copy(x, (2, 1), (1, 1), 1.0)",
    _X22 + "r = torch.as_strided_copy(x, (2., 1), (1, 1))",
])
def test_as_strided_words(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _X22 + "r = x.as_strided((2, True), (1, 1))",
    _X22 + "r = x.as_strided((2, torch.tensor(1)), (1, 1))",
    _X22 + "r = x.as_strided(torch.Size([2, 1]), (1, 1), torch.tensor(1))",
    _X22 + "r = x.as_strided([2, 1], [1, 1], None)",
    "x = torch.arange(6.).double().requires_grad_(); r = x.as_strided((2, 2), (1, 2), 1)\n"
    "r = (r, torch.autograd.grad(r.sum(), x)[0])",
])
def test_as_strided_taken(code):
    _taken(code)


# ---- sort with stable, norm over dim tuples -------------------------------------------------

@pytest.mark.parametrize("code", [
    _X22 + "r = x.sort(None, stable=True)",
    _X22 + "r = x.sort(None)",
    _X22 + "r = x.sort(dim=None, stable=True)",
    _X22 + "r = torch.sort(x, None, stable=True)",
    _X22 + "r = x.sort(1.0, stable=True)",
    _X22 + "r = x.sort(0, stable=1)",
    _X22 + "r = x.argsort(None, stable=True)",
    _X22 + "r = x.norm(dim=(0, 1, 2))",
    _X22 + "r = x.norm(dim=(0, 1, 1))",
    _X22 + "r = x.norm(p='fro', dim=[0, 1, 2])",
    _X22 + "r = torch.norm(x, dim=(0, 1, 2))",
    "x = torch.ones(2, 2, 2); r = x.norm(dim=(0, 1, 2))",
    "x = torch.ones(2, 2, 2); r = x.norm(p='nuc', dim=(0, 1, 2))",
    _X22 + "r = x.norm(p='nuc', dim=(0,))",
    _X22 + "r = x.norm(p='fro', dim=(0, 0))",
    _X22 + "r = x.norm(p=1, dim=(0, 1, 2))",
    _X22 + "r = torch.norm(x, dim=(5,))",
])
def test_sort_norm_words(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _X22 + "r = x.sort(stable=None)",
    "x = torch.arange(8.).reshape(2, 2, 2); r = x.norm(p=2, dim=(0, 1, 2))",
    "x = torch.arange(8.).reshape(2, 2, 2); r = x.norm(p='fro', dim=(0, 2))",
    "x = torch.arange(8.).reshape(2, 2, 2); r = x.norm(dim=[2, 1], keepdim=True)",
])
def test_sort_norm_taken(code):
    _taken(code)


# ---- ldexp of a 0-d floating exponent -------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.ldexp(torch.tensor(7.).double(), torch.tensor(200.).half())",
    "r = torch.ldexp(torch.tensor(7.).double(), torch.tensor(200.))",
    "r = torch.ldexp(torch.tensor([7.]).double(), torch.tensor(200.).half())",
    "r = torch.ldexp(torch.tensor(7.), torch.tensor(200.).half())",
    "r = torch.ldexp(torch.tensor(7.).half(), torch.tensor(200.).double())",
    "r = torch.ldexp(torch.tensor(7.).double(), torch.tensor([200.]).half())",
    "r = torch.ldexp(torch.tensor([7.]).double(), torch.tensor([200.]).half())",
    "r = torch.ldexp(torch.tensor(7.).double(), torch.tensor(1.1))",
    "r = torch.ldexp(torch.tensor([7.]).double(), torch.tensor(1.1).half())",
    "r = torch.ldexp(torch.tensor([7.]).half(), torch.tensor(1.1))",
    "r = torch.ldexp(torch.tensor([7.]).to(torch.bfloat16), torch.tensor(1.1).half())",
    "r = torch.ldexp(torch.tensor([7.]).half(), torch.tensor(1.1).to(torch.bfloat16))",
    "r = torch.ldexp(torch.tensor(7, dtype=torch.int32), torch.tensor(1.1).half())",
    "r = torch.ldexp(torch.tensor([7], dtype=torch.int32), torch.tensor(100.).half())",
    "r = torch.ldexp(torch.tensor([7], dtype=torch.int32), torch.tensor(100.))",
    "r = torch.ldexp(torch.tensor([7. + 1j]), torch.tensor(1.1))",
    "r = torch.ldexp(torch.tensor([7.]).double(), torch.tensor([1.5]).half())",
    "x = torch.tensor([7., 3.], dtype=torch.float64).requires_grad_(); "
    "e = torch.tensor(1.5).requires_grad_(); r = torch.ldexp(x, e)\n"
    "r = (r, *torch.autograd.grad(r.sum(), (x, e)))",
])
def test_ldexp_zero_dim_exponent(code):
    _taken(code)


# ---- an empty tensor read through index tensors ---------------------------------------------

_XE = "x = torch.ones(2, 0, 3); "


@pytest.mark.parametrize("code", [
    _XE + "r = x[(torch.tensor([3]), [[0, 1], [1, 0]], torch.tensor([3]))]",
    _XE + "r = x[(torch.tensor([1]), [[0, 1], [1, 0]], torch.tensor([1]))]",
    _XE + "r = x[(torch.tensor([3]), [0], torch.tensor([3]))]",
    _XE + "r = x[(torch.tensor([3]), [0])]",
    _XE + "r = x[(slice(None), [0], torch.tensor([3]))]",
    _XE + "r = x[[[0, 1], [1, 0]], [0]]",
    "x = torch.ones(2, 3, 0); r = x[(torch.tensor([3]), torch.tensor([0]), [0])]",
    "x = torch.ones(2, 0); r = x[[5], [0]]",
    _XE + "x[(torch.tensor([3]), [[0, 1], [1, 0]], torch.tensor([3]))] = 1; r = x",
])
def test_empty_tensor_index_refused(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _XE + "r = x[(torch.tensor([3]), torch.tensor([], dtype=torch.long), torch.tensor([3]))]",
    _XE + "r = x[torch.tensor([3])]",
    _XE + "r = x[[5], :, [1]]",
    "x = torch.ones(2, 0); r = x[[5]]",
    "x = torch.ones(2, 3); r = x[(slice(0, 0), [5])]",
    "x = torch.ones(2, 3); r = x[[5], 1:1]",
])
def test_empty_result_not_checked(code):
    _taken(code)


# ---- the lead's fixes of two items this round's report left ----------------------------------
@pytest.mark.parametrize("code", [
    "r = torch.any(torch.tensor([float('nan'), 0.5, 2., -1., 300.]), [], "
    "out=torch.zeros(5, dtype=torch.uint8))",
    "r = torch.all(torch.tensor([float('nan'), 0.5, 2., -1., 300.]), [], "
    "out=torch.zeros(5, dtype=torch.uint8))",
    "r = torch.all(torch.tensor([float('nan'), 0.5, 2.]), out=torch.zeros((), dtype=torch.uint8))",
    "r = torch.any(torch.tensor([[0.25, 0.], [3., 0.]]), 1, out=torch.zeros(2, dtype=torch.uint8))",
    "r = torch.tensor([[1, 2, 3]], dtype=torch.uint8).__rtruediv__(torch.tensor(2., "
    "dtype=torch.float64))",
    "r = torch.tensor([1.5, 3.], dtype=torch.float64).__rtruediv__(torch.tensor([2., 5.]))",
])
def test_uint8_any_all_out_and_reflected_division(code):
    _CODE.same(code)
