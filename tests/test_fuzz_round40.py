"""Round-40 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at the ``nn.Module`` API (state dicts, buffers, named modules, ``to``,
``zero_grad``), every layer called with a wrong rank, dtype or channel count, the samplers and
``unfold`` / ``fold`` / ``pad`` with odd sizes, ``einsum`` and ``tensordot`` with bad
subscripts and dims, broadcasting errors, advanced indexing, masked ops, dtype arguments of
other kinds than ``torch.dtype`` and printing.  Seeded generators built about 13,000 calls and
compared the result's dtype, shape, strides and values, or the exception's type and first
words.  The defects fixed:

* ``rms_norm`` parses its arguments as PyTorch's parser does (a tensor input and weight, a
  tuple of ints, a float eps, in its words), and checks the weight's shape before the input's
  (a too-short input: its ValueError after the weight's check);
* ``embedding`` / ``embedding_bag`` / ``embedding_renorm_`` name refused index dtypes as
  PyTorch prints them ('CPUComplexFloatType', 'CPUBFloat16Type', 'CPUUInt16Type');
* ``F.unfold`` returns a fresh row-major tensor: with a window as wide as the input it was a
  view of the input (its strides odd, a write into it written into the input);
* ``grid_sample`` of an empty input or grid returns the empty result (of the input's dtype,
  on the graph of both) before its kernels' dtype checks, which refused it or failed in numpy;
  a 5-D bicubic call is refused before the dtype checks;
* ``affine_grid`` of a float16 / bfloat16 theta with a spatial size of 1 is refused as
  PyTorch refuses it ("tensor_cpu" not implemented);
* ``einsum`` checks an equation in PyTorch's order: the operands' side left to right (a comma
  past the last operand before a bad character after it), the count of operands, each
  operand's number of letters (with an ellipsis: "is more than"), then the output side;
  the sublist form maps 0-25 to 'A'-'Z' and 26-51 to 'a'-'z' (an implicit output lists the
  former first, as PyTorch's) and fails on other elements as PyTorch's Python code does;
  ``einsum`` with fewer than two arguments is PyTorch's ValueError;
* ``masked_fill`` / ``masked_fill_`` check a tensor value's rank before the mask's dtype;
* a device string naming no device type lists PyTorch's device types in its words;
* ``Tensor.new_zeros`` and ``Tensor.new_tensor`` refuse a ``dtype`` that is no dtype in
  their own names;
* ``RNNCell`` / ``GRUCell`` read the state's rank with ``dim()`` (a tuple state: Python's
  AttributeError, as PyTorch's); ``LSTMCell`` checks the input's rank, then each state it is
  given (a tensor state iterated by rows), then the two states of a batched input.
"""
import pytest

torch = pytest.importorskip("torch")

from fuzz_snippets import Snippets  # noqa: E402

_CODE = Snippets(atol32=1e-4, atol64=1e-8, seed=0)
_same, _refused, _taken = _CODE.same, _CODE.refused, _CODE.taken


# ---- rms_norm: the parser's words and the order of the checks ---------------------------------

@pytest.mark.parametrize("code", [
    "r = F.rms_norm(torch.randn(2, 3, 4), [3], torch.ones(4))",
    "r = F.rms_norm(torch.randint(0, 3, (2, 3, 4)), [3], torch.ones(4))",
    "r = F.rms_norm(torch.randn(4), [3, 4], torch.ones(4))",
    "r = F.rms_norm(torch.randn(2, 3, 4), (4,), eps='a')",
    "r = F.rms_norm(torch.randn(2, 3, 4), [4.0])",
    "r = F.rms_norm(torch.randn(2, 3, 4), (True,))",
    "r = F.rms_norm(torch.randn(2, 3, 4), torch.tensor([4]))",
    "r = F.rms_norm(torch.randn(2, 3, 4), [4], [1., 1, 1, 1])",
    "r = F.rms_norm([1., 2.], [2])",
    "r = torch.rms_norm(torch.randn(2, 3, 4), [], torch.ones(4))",
])
def test_rms_norm_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = F.rms_norm(torch.randn(4), [3, 4])",
    "r = F.rms_norm(torch.randn(2, 3, 4), [3], torch.ones(3))",
    "r = F.rms_norm(torch.randn(2, 3), [2, 3], torch.ones(3))",
])
def test_rms_norm_input_checks(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = F.rms_norm(torch.randn(2, 3, 4, dtype=torch.float64), [4], torch.rand(4).double())",
    "r = F.rms_norm(torch.randn(2, 3, 4), (3, 4), eps=1)",
    "r = F.rms_norm(torch.randn(2, 3, 4), [4], eps=None)",
    "r = torch.rms_norm(torch.randn(2, 3, 4), (4,), eps=torch.tensor(0.5))",
])
def test_rms_norm_taken(code):
    _taken(code)


# ---- index dtypes of the embeddings, printed as PyTorch's C++ prints them ---------------------

@pytest.mark.parametrize("dtype", ["complex64", "complex128", "bfloat16", "uint16", "uint32",
                                   "float16", "bool", "uint8"])
@pytest.mark.parametrize("call", [
    "F.embedding(i, torch.randn(5, 3))",
    "F.embedding_bag(i, torch.randn(5, 3), torch.tensor([0]))",
    "torch.embedding_renorm_(torch.randn(5, 3), i, 1., 2.)",
])
def test_embedding_index_dtype_words(dtype, call):
    # (embedding_bag takes the unsigned and bool indices PyTorch's other two refuse)
    _same(f"i = torch.ones(2).to(torch.{dtype}); r = {call}")


# ---- F.unfold: a fresh row-major result, never a view of the input -----------------------------

@pytest.mark.parametrize("code", [
    "x = torch.randn(2, 1, 4, 3); r = F.unfold(x, (2, 3))",
    "x = torch.randn(2, 1, 4, 3); r = F.unfold(x, (2, 3), stride=(2, 1))",
    "x = torch.randn(1, 2, 3); r = F.unfold(x, 1, stride=2)",
    "x = torch.randn(2, 3, 1, 5); r = F.unfold(x, (1, 5))",
    "x = torch.zeros(1, 1, 2, 2); r = F.unfold(x, 2); r.add_(1); r = x",
    "x = torch.zeros(2, 1, 4, 3); r = F.unfold(x, (2, 3)); r.add_(1); r = x",
    "x = torch.randn(2, 1, 4, 3, dtype=torch.float64, requires_grad=True); "
    "F.unfold(x, (2, 3)).pow(2).sum().backward(); r = x.grad",
])
def test_unfold_layout(code):
    _taken(code)


# ---- grid_sample of nothing: the empty result before the dtype checks -------------------------

@pytest.mark.parametrize("code", [
    "r = F.grid_sample(torch.randn(1, 2, 3, 4).double(), torch.rand(1, 0, 3, 2), "
    "mode='nearest', padding_mode='reflection', align_corners=False)",
    "r = F.grid_sample(torch.randn(1, 0, 3, 3).half(), torch.rand(1, 1, 1, 2), "
    "align_corners=False)",
    "r = F.grid_sample(torch.randn(1, 0, 3, 3), torch.rand(1, 2, 3, 2), "
    "padding_mode='reflection', align_corners=False)",
    "r = F.grid_sample(torch.randn(1, 0, 3, 3).double(), torch.rand(1, 0, 3, 2).double(), "
    "align_corners=False)",
    "r = F.grid_sample(torch.ones(1, 0, 3, 3, dtype=torch.int64), torch.rand(1, 2, 3, 2), "
    "align_corners=False)",
    "r = F.grid_sample(torch.ones(0, 2, 3, 3, dtype=torch.int64), torch.rand(0, 2, 3, 2), "
    "align_corners=False)",
    "r = F.grid_sample(torch.ones(1, 0, 3, 3, 3), torch.rand(1, 2, 3, 3, 3).double(), "
    "align_corners=False)",
    "r = F.grid_sample(torch.ones(1, 0, 3, 3), torch.rand(1, 2, 3, 2).half(), mode='bicubic', "
    "align_corners=False)",
    "r = F.grid_sample(torch.ones(1, 2, 3, 3).requires_grad_(), torch.rand(1, 0, 3, 2), "
    "align_corners=False)",
    "r = F.grid_sample(torch.ones(1, 2, 3, 3), torch.rand(1, 0, 3, 2).requires_grad_(), "
    "align_corners=False)",
    "x = torch.ones(1, 0, 3, 3, dtype=torch.float64, requires_grad=True); "
    "g = torch.rand(1, 2, 3, 2, dtype=torch.float64, requires_grad=True); "
    "F.grid_sample(x, g, align_corners=False).sum().backward(); r = g.grad",
    "x = torch.ones(1, 0, 3, 3, 3, dtype=torch.float64, requires_grad=True); "
    "g = torch.rand(1, 2, 3, 2, 3, dtype=torch.float64, requires_grad=True); "
    "F.grid_sample(x, g, align_corners=False).sum().backward(); r = x.grad",
])
def test_grid_sample_of_nothing(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    "r = F.grid_sample(torch.ones(1, 2, 3, 3, 3, dtype=torch.int64), torch.rand(1, 2, 3, 3, 3), "
    "mode='bicubic', align_corners=False)",
    "r = F.grid_sample(torch.ones(1, 2, 3, 3, 3), torch.rand(1, 2, 3, 3, 3).double(), "
    "mode='bicubic', align_corners=False)",
    "r = F.grid_sample(torch.ones(1, 0, 3, 3, 3), torch.rand(1, 2, 3, 3, 3), mode='bicubic', "
    "align_corners=False)",
    "r = F.grid_sample(torch.ones(1, 2, 0, 3), torch.rand(1, 0, 3, 2).double(), "
    "align_corners=False)",
    "r = F.grid_sample(torch.ones(1, 2, 3, 3), torch.rand(1, 2, 3, 2).double(), "
    "align_corners=False)",
])
def test_grid_sample_refusals(code):
    _refused(code)


# ---- affine_grid: a unit axis of a 16-bit theta -----------------------------------------------

@pytest.mark.parametrize("dtype", ["half", "bfloat16"])
@pytest.mark.parametrize("theta, size", [
    ("(1, 2, 3)", "[1, 1, 1, 1]"), ("(2, 2, 3)", "[1, 1, 1, 1]"), ("(1, 2, 3)", "[1, 1, 1, 3]"),
    ("(1, 2, 3)", "[1, 1, 3, 1]"), ("(1, 3, 4)", "[1, 1, 1, 2, 2]"),
    ("(0, 2, 3)", "[1, 1, 1, 1]"), ("(1, 3, 4)", "[1, 1, 2, 2, 1]"),
])
def test_affine_grid_16bit_unit_axis(dtype, theta, size):
    _refused(f"th = torch.randn{theta}.{dtype}(); r = F.affine_grid(th, {size}, "
             "align_corners=False)")


@pytest.mark.parametrize("code", [
    "r = F.affine_grid(torch.randn(1, 2, 3).half(), [1, 1, 2, 3], align_corners=False)",
    "r = F.affine_grid(torch.randn(1, 3, 4).bfloat16(), [1, 1, 2, 2, 2], align_corners=True)",
])
def test_affine_grid_16bit_taken(code):
    _taken(code)


# ---- einsum: PyTorch's order of checks ----------------------------------------------------------

_A, _B, _S = "torch.randn(3)", "torch.randn(3, 3)", "torch.tensor(2.)"


@pytest.mark.parametrize("equation, operands", [
    ("...ii->", (_A,)), ("...iij->", (_B,)), ("i...j,k", (_A, _A)), ("i,$", (_A,)),
    ("i,j->ii", (_A, _B)), ("ij->ii", (_A,)), ("ij->$", (_A,)), ("ij->k", (_A,)),
    ("ij,jk->ikk", (_B,)), ("ij->jj", (_A, _B, _B)), ("ij->i->j", (_B, _B, _B)),
    ("ij->k", (_B, _B)), ("ij,jk->IK", (_A, _B)), ("ij,k,l", (_A, _A)), ("$,j", (_A,)),
    ("i..,j", (_A,)), ("i,j->..", (_A, _A)), ("i->i", (_A, _B)), ("|", (_A,)),
    ("i->k$", (_A,)), ("i->ii$", (_A,)), ("i->..k", (_A,)), ("...i->i...i", (_A,)),
    ("ij,jk", (_B, _A)), ("i.j,jk", (_B, _A)),
])
def test_einsum_check_order(equation, operands):
    _refused(f"r = torch.einsum({equation!r}, {', '.join(operands)})")


@pytest.mark.parametrize("code", [
    f"r = torch.einsum('', {_S})",
    f"r = torch.einsum('->', {_S})",
    f"r = torch.einsum('i...,...->i', {_A}, {_S})",
    f"r = torch.einsum('ij->ji', {_B})",
])
def test_einsum_taken(code):
    _taken(code)


_M = "a = torch.arange(6.).reshape(2, 3); "
_C = "a = torch.arange(24.).reshape(2, 3, 4); "


@pytest.mark.parametrize("code", [
    _M + "r = torch.einsum(a, [27, 0])",
    _M + "r = torch.einsum(a, [0, 27])",
    _M + "r = torch.einsum(a, [30, 1])",
    _M + "r = torch.einsum(a, [True, 0])",
    _M + "r = torch.einsum(a, [torch.tensor(1), 0])",
    _M + "r = torch.einsum(a, [torch.tensor([1]), 0])",
    _M + "r = torch.einsum(a, torch.tensor([1, 0]))",
    _M + "r = torch.einsum(a, [27, 0], a, [27, 30])",
    _C + "r = torch.einsum(a, [..., 30], a, [..., 30])",
    _C + "r = torch.einsum(a, [0, ...], a, [0, ...])",
    _C + "r = torch.einsum('Z...,z...', a, a)",
    _C + "r = torch.einsum('bZ...,bz...->...Zz', a, a)",
])
def test_einsum_sublists(code):
    _taken(code)


@pytest.mark.parametrize("code", [
    _M + "r = torch.einsum(a, [1.5, 0])",
    _M + "r = torch.einsum(a, ['a', 0])",
    _M + "r = torch.einsum(a, [None, 0])",
    _M + "r = torch.einsum(a, [-1, 0])",
    _M + "r = torch.einsum(a, [52, 0])",
    _M + "r = torch.einsum(a, [torch.tensor(1.), 0])",
    _M + "r = torch.einsum(a, [torch.tensor([1, 2]), 0])",
    _M + "r = torch.einsum(a, torch.tensor([[1, 0]]))",
    _M + "r = torch.einsum(a, a, [0, 1], [1])",
    _M + "r = torch.einsum(a)",
    "r = torch.einsum()",
    "r = torch.einsum('ij')",
])
def test_einsum_sublist_refusals(code):
    _refused(code)


# ---- masked_fill: a value tensor's rank before the mask's dtype ---------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.randn(1, 3).masked_fill(torch.randint(0, 2, (2, 3)), torch.tensor([3.]))",
    "r = torch.randn(2, 3).masked_fill(torch.rand(3), torch.ones(3))",
    "r = torch.randn(2, 3).masked_fill(torch.ones(2, 3, dtype=torch.uint8), torch.ones(3))",
    "r = torch.randn(2, 3).masked_fill_(torch.ones(2, 3), torch.ones(3))",
    "r = torch.randn(2, 3).masked_fill_(torch.ones(5, 3), torch.ones(3))",
    "r = torch.randn(2, 3).masked_fill_(torch.ones(5, 3), torch.tensor(1.))",
    "r = torch.randn(2, 3).masked_fill(torch.ones(5, 3, dtype=torch.bool), torch.ones(3))",
    "r = torch.randn(2, 3).masked_fill_(torch.ones(5, 3, dtype=torch.bool), torch.ones(3))",
])
def test_masked_fill_check_order(code):
    _refused(code)


# ---- device strings, new_* dtype words ----------------------------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.device('foo')",
    "r = torch.device('cu')",
    "r = torch.tensor(1.).to('int', copy=True)",
    "r = torch.tensor(1.).to('float')",
    "r = torch.zeros(2, device='gpu')",
])
def test_device_string_words(code):
    _refused(code)


@pytest.mark.parametrize("dtype", ["'float32'", "'torch.float32'", "np.float32", "3",
                                   "np.dtype('float64')", "'int'"])
@pytest.mark.parametrize("call", ["new_zeros(2, dtype={})", "new_zeros((2, 3), dtype={})",
                                  "new_tensor([1], dtype={})", "new_ones(2, dtype={})"])
def test_new_factories_dtype_words(dtype, call):
    _refused("import numpy as np; r = torch.randn(2)." + call.format(dtype))


@pytest.mark.parametrize("code", [
    "r = torch.randn(2).new_zeros(2, dtype=torch.int32)",
    "r = torch.randn(2).new_zeros(2, 3, dtype=float)",
    "r = torch.randn(2).new_tensor([1, 2], dtype=torch.float64)",
    "r = torch.randn(2).new_tensor([1, 2], dtype=None)",
])
def test_new_factories_taken(code):
    _taken(code)


# ---- RNN cells: the state's checks ---------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "m = nn.RNNCell(3, 4); r = m(torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)))",
    "m = nn.RNNCell(3, 4); r = m(torch.randn(0, 3), (torch.zeros(4), torch.zeros(4)))",
    "m = nn.GRUCell(3, 4); r = m(torch.randn(3), (torch.zeros(4), torch.zeros(4)))",
    "m = nn.GRUCell(3, 4); r = m(torch.randn(2, 3).double(), (torch.zeros(2, 4),))",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(2, 3), torch.zeros(4))",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(3), torch.zeros(4))",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(2, 2, 3), torch.zeros(4))",
    "m = nn.LSTMCell(3, 4); r = m(torch.tensor(1.), torch.zeros(3, 4))",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(2, 3), torch.zeros(2, 2, 4))",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(2, 3), (torch.zeros(2, 4),) * 3)",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(4, 2, 4)))",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(3), (torch.zeros(4),))",
])
def test_rnn_cell_state_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(3), torch.zeros(3, 4))[0]",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(3), torch.rand(2, 4))[1]",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(3), (torch.rand(4),) * 3)[0]",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(2, 3), [torch.rand(2, 4), torch.rand(2, 4)])[1]",
    "m = nn.LSTMCell(3, 4); r = m(torch.randn(2, 3))[0]",
    "m = nn.GRUCell(3, 4); r = m(torch.randn(3), torch.rand(4))",
])
def test_rnn_cell_taken(code):
    _taken(code)


# ---- embedding_bag: its indices promoted with the offsets, or ranged in their dtype -------------

@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64", "bool", "uint8", "int16"])
@pytest.mark.parametrize("call", [
    "F.embedding_bag(torch.ones(2).to(torch.{}), torch.randn(5, 3), torch.tensor([0]))",
    "F.embedding_bag(torch.ones(2).to(torch.{}), torch.randn(5, 3), torch.tensor([0]).int())",
    "F.embedding_bag(torch.ones(1, 2).to(torch.{}), torch.randn(5, 3))",
])
def test_embedding_bag_index_promotion(dtype, call):
    _same("r = " + call.format(dtype))


# ---- stack's dim before its sizes; chain_matmul's parser --------------------------------------

@pytest.mark.parametrize("code", [
    "r = torch.stack([torch.randn(3), torch.randn(2, 3)], dim=2)",
    "r = torch.stack([torch.tensor(1.), torch.randn(3)], dim=2)",
    "r = torch.stack([torch.randn(3), torch.randn(0)], dim=-3)",
    "r = torch.stack([torch.randn(3), torch.randn(4)], dim=1)",
    "r = torch.stack((torch.randn(2, 3), torch.randn(2, 3).double()), dim=3)",
])
def test_stack_dim_first(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = torch.chain_matmul([1., 2., 3.], torch.tensor(1.))",
    "r = torch.chain_matmul(torch.randn(3), 3)",
    "r = torch.chain_matmul(torch.randn(2, 2), None)",
    "r = torch.chain_matmul([torch.randn(2, 2), torch.randn(2, 2)])",
    "r = torch.chain_matmul((torch.randn(2, 2), torch.randn(2, 2)))",
    "r = torch.chain_matmul()",
    "r = torch.chain_matmul(torch.randn(3), torch.randn(3, 3))",
])
def test_chain_matmul_refusals(code):
    _refused(code)


def test_chain_matmul_taken():
    _taken("r = torch.chain_matmul(torch.randn(2, 3), torch.randn(3, 4), torch.randn(4, 2))")


# ---- nn.utils.rnn: the parser, and the layouts PyTorch's results have --------------------------

_R = "R = torch.nn.utils.rnn; "


@pytest.mark.parametrize("code", [
    _R + "r = R.pad_sequence([torch.ones(2), [1., 2.]])",
    _R + "r = R.pad_sequence((torch.ones(2), 3), padding_side='middle')",
    _R + "r = R.pad_sequence([torch.tensor(1.), torch.tensor(2.)])",
    _R + "r = R.pad_sequence([torch.tensor(1.), torch.tensor(2.)], padding_side='middle')",
    _R + "r = R.pad_sequence([torch.ones(2), torch.tensor(1.)])",
    _R + "r = R.pad_sequence([], padding_side='middle')",
    _R + "r = R.pack_padded_sequence(torch.ones(3, 2, 4), torch.tensor([[3, 2]]), "
    "enforce_sorted=False)",
    _R + "r = R.pack_padded_sequence(torch.ones(3, 2, 4), torch.tensor([[3, 2]]))",
])
def test_rnn_utils_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    _R + "p = R.pack_sequence([torch.ones(3, 2), torch.ones(1, 2)]); "
    "r = R.pad_packed_sequence(p, batch_first=True)[0]",
    _R + "p = R.pack_sequence([torch.ones(3, 2), torch.ones(1, 2)]); "
    "r = R.pad_packed_sequence(p, total_length=5, batch_first=True)[0]",
    _R + "p = R.pack_sequence([torch.ones(3), torch.ones(2)]); "
    "r = R.pad_packed_sequence(p, total_length=5, batch_first=True, padding_value=-1)[0]",
    _R + "p = R.pack_sequence([torch.ones(1, 2), torch.ones(3, 2)], enforce_sorted=False); "
    "r = R.pad_packed_sequence(p, total_length=5, batch_first=True)[0]",
    _R + "p = R.pack_sequence([torch.ones(1, 2), torch.ones(3, 2)], enforce_sorted=False); "
    "r = R.pad_packed_sequence(p)[0]",
    _R + "r = R.unpad_sequence(R.pad_sequence([torch.ones(3, 2), torch.ones(1, 2)]), "
    "torch.tensor([3, 1]))[0]",
    _R + "r = R.unpad_sequence(R.pad_sequence([torch.arange(3.), torch.arange(2.)]), "
    "torch.tensor([3, 2]))[1]",
    _R + "r = R.unpad_sequence(R.pad_sequence([torch.ones(3, 2), torch.ones(1, 2)], "
    "batch_first=True), torch.tensor([3, 1]), batch_first=True)[1]",
    _R + "r = R.unpack_sequence(R.pack_sequence([torch.arange(3.), torch.arange(4.)], "
    "enforce_sorted=False))[0]",
])
def test_rnn_utils_layouts(code):
    _taken(code)


# ---- pad: circular checks from the outermost dim; a negative fill of an unsigned tensor ---------

@pytest.mark.parametrize("code", [
    "r = F.pad(torch.ones(1, 1, 3, 4), [5, -2, 0, 2, -3, -3], mode='circular')",
    "r = F.pad(torch.ones(1, 2, 0, dtype=torch.bool), [5, 0, -2, -3], mode='circular')",
    "r = F.pad(torch.ones(1, 2, 3, dtype=torch.complex64), [-3, 5, -3, -3], mode='circular')",
    "r = F.pad(torch.ones(1, 2, 3), [-3, -3, 5, 0], mode='circular')",
    "r = F.pad(torch.ones(1, 2, 3), [4, 0, -3, -3], mode='circular')",
    "r = F.pad(torch.ones(1, 0, 3, 3, dtype=torch.uint8), [-2, 4], value=-1)",
    "r = F.pad(torch.ones(1, 1, 3, 3, dtype=torch.uint8), [1, 1], value=-1)",
    "r = F.pad(torch.ones(2, 3, dtype=torch.uint16), [1, 1], value=-2)",
    "r = F.pad(torch.ones(2, 3, dtype=torch.uint8), [1, 1], value=-0.5)",
])
def test_pad_refusals(code):
    _refused(code)


@pytest.mark.parametrize("code", [
    "r = F.pad(torch.ones(1, 1, 3, 3, dtype=torch.uint8), [1, 1], value=True)",
    "r = F.pad(torch.ones(1, 1, 3, 3, dtype=torch.uint8), [1, 1], value=-0.0)",
    "r = F.pad(torch.ones(1, 0, 3, 3, dtype=torch.uint8), [1, 1], value=1.5)",
    "r = F.pad(torch.arange(6.).reshape(1, 2, 3), [2, -1, 1, 0], mode='circular')",
])
def test_pad_taken(code):
    _taken(code)
