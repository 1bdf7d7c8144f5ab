"""Round-25 fuzzing of wrong-typed arguments (a str, a float or None where an int goes, a list
where a tensor goes, a numpy bool where a bool goes), run side by side with PyTorch; each case
here is run against torch.

* silent wrong answers: ``x.to(None, True)``, ``x.to(dtype, copy=None)`` were taken (PyTorch's
  parser refuses a flag in the dtype's place, and a flag that is no bool); ``x.std(1, None)``
  read None as the default ``unbiased``; F.embedding took any ``max_norm``,
  ``scale_grad_by_freq`` and ``sparse``, F.batch_norm any ``training``;
* wrong exception types: numpy's errors (a str ``max_norm`` or ``momentum``, a str ``p`` of
  ``norm``), AttributeErrors (``view_as(None)``, a float ``running_mean``), ValueErrors (a
  negative ``unfold`` size, a str ``histc`` bound); refusals PyTorch does not make
  (``normalize(p=None)``, ``split(tensor(1.5))``);
* words: a dim that is no int was "dim must be an int, got float 1.5" everywhere; now, as
  PyTorch's parser, the op, the argument and its position as given (a method's, a
  function's, none for a keyword), or the op's signatures listed where the call fits several
  (``x.sum(1.5)``); the same for the int, bool, Number and Tensor arguments the shared checks
  read (topk's k, chunk's chunks, keepdim, histc's bounds, gather's index, ...).
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import run, same_refusal, same_result  # noqa: E402

X = "torch.ones(2, 3)"
IDX = "torch.tensor([[0, 1, 0], [1, 0, 1]])"
_I, _W = "torch.tensor([0, 1])", "torch.ones(3, 2)"
BAD = ["'a'", "1.5", "None", "True", "[1]", "torch.tensor(1.5)", "np.bool_(True)",
       "np.float64(1.0)"]


# (where PyTorch takes None for all the dims, a list of dims, or ``unbiased`` first)
_NONE_DIM = ("sum", "mean", "std", "var", "all", "any", "count_nonzero", "argmax", "argmin",
             "amax", "amin", "nansum")
_LIST_DIM = ("sum", "mean", "std", "var", "all", "any", "squeeze", "count_nonzero", "amax",
             "amin", "logsumexp", "nansum")


def _dim_cases():
    """A dim of the wrong type, given to the method by position and by keyword and to the
    function by position."""
    cases = []
    for op in ("sum", "mean", "prod", "max", "min", "std", "var", "all", "any", "squeeze",
               "sort", "argsort", "count_nonzero", "softmax", "log_softmax", "cumsum",
               "cumprod", "argmax", "argmin", "amax", "amin", "logsumexp", "nansum",
               "median", "mode", "unbind", "unsqueeze", "cummax", "logcumsumexp"):
        cases += [f"{X}.{op}({v})" for v in BAD if not (v == "None" and op in _NONE_DIM) and
                  not (v == "[1]" and op in _LIST_DIM) and not (v == "True" and op in
                                                                 ("std", "var")) and
                  not (v == "torch.tensor(1.5)" and op in ("max", "min"))]
        cases += [f"{X}.{op}(dim={v})" for v in ("'a'", "1.5")]
        cases += [f"torch.{op}({X}, {v})" for v in ("'a'", "1.5")]
    return cases


@pytest.mark.parametrize("code", _dim_cases())
def test_dim_of_the_wrong_type(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    # the other int arguments, by position (a method's, a function's) and by keyword
    *[f"{X}.{op}({v})" for op in ("topk", "kthvalue", "chunk") for v in BAD],
    *[f"{X}.{op}(1, {v})" for op in ("topk", "kthvalue", "chunk", "index_select")
      for v in ("'a'", "1.5", "None")],
    *[f"{X}.{op}({v}, 0)" for op in ("transpose", "select") for v in BAD],
    *[f"{X}.{op}(0, {v})" for op in ("transpose", "swapaxes", "select") for v in BAD],
    *[f"{X}.flatten({v})" for v in BAD], *[f"{X}.flatten(0, {v})" for v in BAD],
    *[f"torch.flatten({X}, start_dim={v})" for v in ("'a'", "1.5")],
    *[f"torch.transpose({X}, {v}, 0)" for v in ("'a'", "1.5", "None")],
    *[f"{X}.unflatten({v}, (3, 1))" for v in BAD],
    f"{X}.unflatten(1, (1, 1.5))", f"{X}.unflatten(1, (1.5, 2))",
    f"{X}.unfold(1, 1.5, 1)", f"{X}.unfold(1, 2, 1.5)", f"{X}.unfold(1.5, 2, 1)",
    f"{X}.unfold(1, None, 1)", f"{X}.unfold(1, -1, 1)",
    f"{X}.unfold(dimension=1, size=2, step=1.5)",
    *[f"{X}.narrow(0, {v}, 1)" for v in BAD], *[f"{X}.narrow({v}, 0, 1)" for v in BAD],
    f"{X}.narrow(0, 0, None)", f"{X}.narrow(dim=0, start=1.5, length=1)",
    f"torch.narrow({X}, 0, 1.5, 1)",
    *[f"{X}.split(1, {v})" for v in BAD], f"{X}.split([1, 1], 1.5)",
    f"{X}.split([1, 1.5])", f"{X}.split([1.5, 1])", f"{X}.split([1, None])",
    *[f"{X}.repeat_interleave({v})" for v in ("None", "'a'", "1.5")],
    f"{X}.repeat_interleave(None, 0)", f"{X}.repeat_interleave(repeats=None)",
    f"torch.repeat_interleave({X}, None)",
    *[f"{X}.diff({v})" for v in ("'a'", "1.5", "None")],
    *[f"{X}.tril({v})" for v in ("'a'", "1.5", "None")],
    # bool flags: a numpy bool, an int, None, with the position where it came by position
    *[f"{X}.{op}(1, {v})" for op in ("sum", "mean", "max", "min", "amax", "prod", "argmax",
                                      "logsumexp", "median", "all")
      for v in ("1", "None", "'a'", "np.bool_(True)", "torch.tensor(True)")],
    *[f"{X}.sort(1, {v})" for v in ("1", "None", "np.bool_(True)")],
    f"{X}.sort(descending=np.bool_(True))", f"{X}.std(1, None)", f"{X}.var(1, None)",
    f"{X}.std(unbiased=None)", f"torch.std({X}, 1, None)", f"torch.var_mean({X}, 1, None)",
    # Tensor and Number arguments
    *[f"{X}.{op}(0, {v})" for op in ("index_select", "gather") for v in ("1", "[0]", "None")],
    *[f"{X}.scatter({v}, {IDX}, 1.0)" for v in BAD],
    *[f"{X}.scatter(1, {IDX}, {v})" for v in ("'a'", "None", "[1.0]")],
    *[f"{X}.scatter_add(1, {IDX}, {v})" for v in ("1.0", "None")],
    *[f"{X}.{op}({v})" for op in ("expand_as", "view_as", "reshape_as")
      for v in ("None", "(2, 3)")],
    f"{X}.histc(1.5)", f"{X}.histc(10, None)", f"{X}.histc(10, 0, [1])",
    f"torch.histc({X}, min='a')", f"torch.histc({X}, 10, 'a')",
    f"{X}.quantile(0.5, interpolation=1)", f"torch.quantile({X}, 0.5, interpolation=1)",
    f"{X}.new_full((1.5,), 1.0)", f"{X}.new_full((2,), None)", f"{X}.new_ones('a')",
    f"{X}.new_ones([2, 'a'])", f"{X}.new_empty(None)", f"torch.full_like({X}, 'a')",
    f"torch.full_like({X}, None)",
    # dtypes
    f"{X}.cumsum(1, dtype='a')", f"{X}.cumsum(1, dtype=1)", f"{X}.cumsum(1, dtype=np.float32)",
    f"torch.cumsum({X}, 1, dtype=1)", f"{X}.sum(dtype=1)", "torch.zeros(2, dtype=1)",
    "torch.ones(2, dtype=1.5)",
    # list elements, in the parser's words
    f"F.pad({X}, (1, 1.5))", f"F.pad({X}, (1.5, 1))", f"F.pad({X}, (1, 'a'))",
    "F.max_pool2d(torch.ones(1, 2, 4, 4), (2, 'a'))",
    # norms: a name other than 'fro' and 'nuc' is matrix_norm's RuntimeError
    f"{X}.norm('a')", f"{X}.norm(p='bad')", f"torch.norm({X}, 'a')", f"F.normalize({X}, p='a')",
])
def test_argument_of_the_wrong_type(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    # the other operand of the binary ops, and the ops of several signatures
    *[f"{X}.{op}({v})" for op in ("add", "sub", "mul", "div", "pow") for v in ("'a'", "None")],
    f"torch.add({X}, 'a')", f"torch.mul({X}, [1.0])", f"{X}.add(other='a')",
    *[f"{X}.{op}({v})" for op in ("matmul", "mm", "masked_select", "take")
      for v in ("None", "1.0")],
    f"torch.matmul({X}, None)", f"{X}.diag(1.5)", f"torch.diag({X}, 1.5)",
    f"{X}.lerp({X}, 'a')", f"torch.lerp({X}, {X}, None)",
    f"{X}.index_fill(1, torch.tensor([0]), None)", f"{X}.index_add(1, torch.tensor([0]), 1.0)",
    f"{X}.masked_fill(None, 1.0)", f"{X}.masked_fill({X} > 0, 'a')",
    f"{X}.std(correction='a')", f"{X}.var(1, correction=[1])", f"{X}.nan_to_num('a')",
    f"{X}.addcmul({X}, {X}, value='a')", f"torch.addcdiv({X}, {X}, {X}, value=None)",
    f"{X}.quantile('a')", f"{X}.quantile(None)", f"torch.quantile({X}, [0.5])",
    *[f"{X}.{op}({v}, 0)" for op in ("movedim", "moveaxis") for v in ("'a'", "1.5", "None")],
    f"torch.movedim({X}, 1.5, 0)", f"{X}.roll(1.5)", f"{X}.roll(1, 'a')",
    f"{X}.uniform_('a')", f"{X}.uniform_(0, None)", f"{X}.normal_(0, 'a')",
    f"{X}.normal_(std='a')", f"{X}.uniform_(2, 1)", f"{X}.normal_(0, -0.5)",
    f"{X}.norm([1])", f"{X}.norm(dim='a')", "torch.linalg.vector_norm(torch.ones(3), None)",
    f"F.normalize({X}, dim='a')", f"F.normalize({X}, dim=True)",
    *[f"F.cosine_similarity({X}, {X}, dim={v})" for v in ("'a'", "1.5", "None", "True")],
    f"F.cosine_similarity({X}, {X}, 1.5)", f"F.cosine_similarity({X}, {X}, eps='a')",
    *[f"F.softmax({X}, dim={v})" for v in ("torch.tensor(1.5)", "np.float64(1.0)")],
    f"F.mse_loss({X}, None)", f"F.l1_loss({X}, 1.0)", f"F.huber_loss({X}, [1.0])",
    f"F.smooth_l1_loss({X}, {X}, beta='a')", f"F.smooth_l1_loss({X}, {X}, beta=None)",
    # factories
    "torch.arange('a')", "torch.arange(None)", "torch.arange(0, 'a')", "torch.arange(0, 5, 'a')",
    "torch.arange(end='a')", "torch.randint(0, 5)", "torch.randint(5)", "torch.randint(0, 5, 3)",
    "torch.randint(0, 5, None)", "torch.randint(0, 1.5, (2,))", "torch.randint('a', (2,))",
    "torch.randint(5, size=3)", "torch.randint(0, 5, (2, 1.5))", "torch.eye(2, 'a')",
    "torch.eye(2, 1.5)", f"{X}.split(True)", f"torch.where({X} > 0, {X}, 'a')",
    f"torch.where({X} > 0, 'a', 1.0)", f"torch.histc({X}, bins=0)",
    f"{X}.where({X} > 0, 'a')", f"{X}.where('a', 1.0)", f"{X}.where({X} > 0, None)",
    f"{X}.where({X} > 0, np.ones(3))", f"F.embedding({_I}, {_W}, padding_idx='a')",
])
def test_more_arguments_of_the_wrong_type(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    f"{X}.to(None, True)", f"{X}.to(None, False)", f"{X}.to(torch.float64, None)",
    f"{X}.to('cpu', True)", f"{X}.to('cpu', True, False)",
    f"{X}.to(torch.float64, True, False, True)", f"{X}.to(torch.float64, False, True, copy=True)",
    f"{X}.to(torch.float64, copy='a')", f"{X}.to(torch.float64, copy=None)",
    f"{X}.to(torch.float64, copy=1)", f"{X}.to(torch.float64, non_blocking=1)",
    f"{X}.to([1])", f"{X}.to(np.float32)", f"{X}.to(dtype='a')", f"{X}.to(dtype=1)",
    f"{X}.to(device=1.5)", f"{X}.to(np.dtype('float32'))",
])
def test_to_refusals(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    f"{X}.to(None, None, True)", f"{X}.to('cpu', None, True)", f"{X}.to(None, torch.float64)",
    f"{X}.to('cpu', torch.float64, True, False)", f"{X}.to(torch.float64, True, False)",
    f"{X}.to(float)", f"{X}.to(dtype=float)", f"{X}.to('cpu', float)",
    f"{X}.split(torch.tensor(1.5))[0]", f"torch.split({X}, torch.tensor(1.5))[1]",
    f"{X}.split(torch.tensor(True))[0]", f"{X}.split([1, True])[1]",
    f"F.normalize({X}, p=None)", f"F.normalize({X} * 2, p='fro')", f"{X}.norm('fro', dim=1)",
    f"{X}.histc(10, 0, torch.tensor(1.0))", f"{X}.histc(10, True, 2)",
    f"{X}.std(1, False)", f"{X}.std(None)", f"{X}.unfold(1, 2, 1)",
    f"{X}.repeat_interleave(2)", "torch.repeat_interleave(torch.tensor([1, 2]))",
    f"{X}.sum((0, True))", f"{X}.quantile(True)", f"{X}.norm(np.bool_(True))",
    "torch.randint(high=5, size=(2,)) * 0", "torch.randint(torch.tensor(3), (2,)) * 0",
    f"F.smooth_l1_loss({X}, 2 * {X}, beta=0)", f"F.smooth_l1_loss({X}, 2 * {X}, beta=0.5)",
    f"F.cosine_similarity({X}, 2 * {X}, torch.tensor(0))",
    f"torch.ones(2, 3, dtype=torch.complex64).addcmul({X}, {X}, value=1j)",
])
def test_accepted_as_torch_accepts(code):
    same_result(run(code))


_BN = f"F.batch_norm({X}, torch.zeros(3), torch.ones(3)"


@pytest.mark.parametrize("code", [
    *[f"F.embedding({_I}, {_W}, max_norm={v})" for v in ("'a'", "[1.0]", "torch.ones(2)", "1j")],
    *[f"F.embedding({_I}, {_W}, max_norm=1.0, norm_type={v})" for v in ("'a'", "None")],
    *[f"F.embedding({_I}, {_W}, {k}={v})" for k in ("scale_grad_by_freq", "sparse")
      for v in ("'a'", "None", "1", "np.bool_(True)")],
    f"F.embedding({_I}, {_W}, scale_grad_by_freq='a', padding_idx=1.5)",
    f"F.batch_norm({X}, 1.0, torch.ones(3))", f"F.batch_norm({X}, 'a', torch.ones(3))",
    f"F.batch_norm({X}, torch.zeros(3), [1.0])", f"{_BN}, weight=1.0)",
    *[f"{_BN}, training={v})" for v in ("'a'", "None", "1", "np.bool_(True)")],
    *[f"{_BN}, momentum={v})" for v in ("'a'", "None", "[0.1]")],
    f"{_BN}, eps=[1e-5])",
])
def test_functional_arguments(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    f"F.embedding({_I}, {_W}, max_norm=True)", f"F.embedding({_I}, {_W}, max_norm=np.float64(1))",
    f"F.embedding({_I}, {_W}, max_norm=torch.tensor(1.0))",
    f"F.embedding({_I}, {_W}, norm_type='a')",
    f"{_BN}, momentum=np.float64(0.1))", f"{_BN}, momentum=1)", f"{_BN}, eps=np.float32(1e-5))",
    f"{_BN}, training=True, momentum=torch.tensor(0.2))",
])
def test_functional_numbers_accepted(code):
    same_result(run(code))


def test_the_error_is_a_plain_type_error():
    """The shared checks' TypeError is Python's own class, whatever wrapper words it."""
    for code in (f"{X}.softmax(1.5)", f"{X}.sum(dim='a')", f"{X}.unsqueeze(None)",
                 f"{X}.sum(1, keepdim=1)"):
        with pytest.raises(TypeError) as info:
            run(code)(minigrad)
        assert type(info.value) is TypeError
    assert np.asarray(run(f"{X}.softmax(1)")(minigrad).numpy()).shape == (2, 3)


@pytest.mark.parametrize("code", [
    "torch.ones(3).clamp('a')", "torch.ones(3).clamp(min='a')", "torch.ones(3).clamp(max=[1])",
    "torch.clamp(torch.ones(3), 'a')", "torch.ones(3).clamp_min('a')",
    "torch.ones(3).clamp_max(None)", "torch.clamp_min(torch.ones(3), 'a')",
])
def test_clamp_bounds_words_for_the_call(code):
    """A bound no overload takes: PyTorch lists the call as made (a method's arguments
    without the tensor, keywords by name)."""
    same_refusal(run(code))
