"""Round-24 fuzzing of adversarial arguments (ints given where PyTorch wants a sequence, Python
ints past int64, numbers given to ``to``, bare pickles given to ``load``, views resized in
place), run side by side with PyTorch; each case here is run against torch.

* silent wrong answers: ``x.to(True)`` / ``x.to(2.5)`` / ``x.to(1j)`` kept the dtype (PyTorch
  reads the number as a tensor and converts to bool / float64 / complex128); a Python int
  past int64 was taken by rot90's k, split, chunk, triu / tril, diff, diagonal (PyTorch's
  parser refuses it); a view grown by ``resize_`` (or an ``out=`` view resized by an op) got
  new zeroed memory where PyTorch grows it into its base's storage;
* the function forms ``torch.reshape(x, 4)``, ``torch.permute(x, 0)``, ``torch.permute(x, 1,
  0)`` were taken (PyTorch's function takes one sequence), and keyword forms
  ``x.tile(dims=2)``, ``x.repeat(repeats=2)`` too;
* words: the int-list arguments of reshape / view / expand / permute / repeat / tile / flip
  in PyTorch's parser's words (position, element type, "failed to unpack", keyword forms);
  ``torch.load`` of a bare pickle is PyTorch's UnpicklingError; cross_entropy / nll_loss
  took a float or bool ``ignore_index`` and embedding a float or bool ``padding_idx``, and
  their other argument types fail in PyTorch's words.
"""

import contextlib
import pickle

import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import (  # noqa: E402
    outcomes as _words, run, same_refusal, same_result)

LIBS = (torch, minigrad)


# ---- silent wrong answers -----------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.ones(4).to(True)",
    "torch.ones(4).to(False)",
    "torch.ones(4).to(2.5)",
    "torch.ones(4).to(1j)",
    "torch.ones(4).to(True, True, True)",
    "torch.ones(4).to(2.5, False)",
    "torch.ones(4, dtype=torch.int32).to(0.5)",
    # a view grown in place reads (and writes) its base's storage
    "(lambda x: x[1:3].resize_(4))(torch.arange(6.0))",
    "(lambda x: (x[1:3].resize_(2, 2).fill_(7), x)[1])(torch.arange(6.0))",
    "(lambda x: x[0].resize_(6))(torch.arange(6.0).reshape(2, 3))",
    "(lambda x: x[1:3].resize_(4))(torch.arange(6.0).bfloat16()).float()",
    "(lambda x: (torch.add(x[:2], 1, out=x[2:3]), x)[1])(torch.arange(6.0))",
    "(lambda x: (x[4:].resize_(4), x)[1])(torch.arange(6.0))",
    "(lambda x: x[::2].resize_(6))(torch.arange(6.0))",
])
def test_values(code):
    same_result(run(code))


def test_to_number_keeps_the_tensor_when_the_dtype_is_the_same():
    for lib in LIBS:
        x = lib.ones(2, dtype=lib.bool)
        assert x.to(True) is x
        assert x.to(True, copy=True) is not x


# ---- refusals -----------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    # Python ints past int64
    "torch.rot90(torch.ones(2, 3), 10**20)",
    "torch.ones(4).split(10**20)",
    "torch.ones(4).split([10**20])",
    "torch.ones(4).chunk(10**20)",
    "torch.ones(2, 2).triu(10**20)",
    "torch.ones(2, 2).tril(-10**20)",
    "torch.ones(2, 2).diag(10**20)",
    "torch.ones(4).diff(10**20)",
    "torch.ones(4).topk(10**20)",
    "torch.ones(4).kthvalue(10**20)",
    "torch.ones(2, 2).diagonal(10**20)",
    "torch.ones(4).narrow(0, 10**20, 1)",
    "torch.ones(4).select(0, 10**20)",
    "torch.ones(4).repeat_interleave(10**20)",
    "torch.ones(4).reshape(10**20)",
    "torch.ones(4).reshape(2, 10**20)",
    "torch.ones(4).view(10**20)",
    "torch.ones(4).expand(10**20)",
    "torch.ones(4).repeat(10**20)",
    "torch.ones(4).tile(10**20)",
    "torch.reshape(torch.ones(2), (10**20,))",
    # a bare int to a function that takes one sequence
    "torch.reshape(torch.ones(4), -1)",
    "torch.reshape(torch.ones(4), 4)",
    "torch.reshape(torch.ones(2), np.int64(2))",
    "torch.reshape(torch.ones(2), torch.tensor(2))",
    "torch.reshape(torch.ones(4), shape=4)",
    "torch.reshape(torch.ones(2), (2,), 1)",
    "torch.reshape(torch.ones(2))",
    "torch.permute(torch.ones(2, 3), 1)",
    "torch.permute(torch.ones(3), 0)",
    "torch.permute(torch.ones(2, 3), 1, 0)",
    "torch.permute(torch.ones(2, 3), None)",
    "torch.tile(torch.ones(2), dims=2)",
    "torch.flip(torch.ones(2), dims=0)",
    "torch.flip(torch.ones(2), 0)",
    # keyword forms of a method take no bare int either
    "torch.ones(2).tile(dims=2)",
    "torch.ones(2).repeat(repeats=2)",
    "torch.ones(4).reshape(shape=4)",
    "torch.ones(2, 3).permute(dims=1)",
    "torch.ones(1).expand(size=3)",
    "torch.ones(2).repeat(2, repeats=2)",
    # element types, in the parser's words
    "torch.ones(2).reshape(2.0)",
    "torch.ones(2).reshape(None)",
    "torch.ones(2).reshape('a')",
    "torch.ones(2).reshape(np.array([2]))",
    "torch.ones(2).reshape(np.float64(2.0))",
    "torch.ones(2).reshape([True])",
    "torch.ones(2).reshape((np.float64(2.0),))",
    "torch.ones(4).reshape((np.array([4]),))",
    "torch.ones(4).reshape(np.array(4.0))",
    "torch.ones(2).reshape(2, 1.0)",
    "torch.ones(2).reshape((2, 1.0))",
    "torch.ones(2).reshape(True, 2)",
    "torch.ones(2).reshape(shape=(2.0,))",
    "torch.reshape(torch.ones(2), 2.0)",
    "torch.reshape(torch.ones(2), (2.0,))",
    "torch.reshape(torch.ones(2), (True, 2))",
    "torch.reshape(torch.ones(2), [2, None])",
    "torch.ones(2).view(2, 1.0)",
    "torch.ones(2).view((2, 1.0))",
    "torch.ones(2).expand(2.0)",
    "torch.ones(2).expand((2.0,))",
    "torch.ones(2).expand(None)",
    "torch.ones(2).expand(True, 2)",
    "torch.ones(2, 3).permute(1.0, 0)",
    "torch.ones(2, 3).permute((1.0, 0))",
    "torch.ones(2, 3).permute(True, 0)",
    "torch.ones(2, 3).permute(None)",
    "torch.ones(2, 3).permute(dims=(1.0, 0))",
    "torch.ones(2, 3).permute(dims=[1, None])",
    "torch.ones(2, 3).permute(1, True)",
    "torch.permute(torch.ones(2, 3), (1.0, 0))",
    "torch.permute(torch.ones(2, 3), [1, 0.0])",
    "torch.ones(2).repeat(2.0)",
    "torch.ones(2).repeat(True)",
    "torch.ones(2).repeat(None)",
    "torch.ones(2).repeat((2.0,))",
    "torch.ones(2).repeat(repeats=(2.0,))",
    "torch.ones(2).tile(2.0)",
    "torch.ones(2).tile(True)",
    "torch.ones(2).flip(2.0)",
    "torch.ones(2).flip(None)",
    "torch.ones(2).flip(True)",
    "torch.ones(2, 3).flip(dims=(True,))",
    # the class losses' argument types (ignore_index 1.5 or True was taken)
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), ignore_index=1.5)",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), ignore_index=True)",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), ignore_index=None)",
    "F.cross_entropy(torch.ones(2, 3), torch.ones(2, 3), ignore_index=1.5)",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), label_smoothing=None)",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), label_smoothing='a')",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), weight=[1.0, 1, 1])",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), 'a')",
    "F.cross_entropy('a', torch.tensor([0, 1]))",
    "F.cross_entropy(torch.ones(2, 3), [0, 1])",
    "F.nll_loss(torch.ones(2, 3), torch.tensor([0, 1]), ignore_index=1.5)",
    "F.nll_loss(torch.ones(2, 3), torch.tensor([0, 1]), ignore_index=True)",
    "F.nll_loss(torch.ones(2, 3), [0, 1])",
    "F.nll_loss(torch.ones(2, 3), torch.tensor([0, 1]), weight='a')",
    # embedding and one_hot (padding_idx 0.5 or True was taken)
    "F.embedding(torch.tensor([0]), torch.ones(2, 2), padding_idx=0.5)",
    "F.embedding(torch.tensor([0]), torch.ones(2, 2), padding_idx=True)",
    "F.embedding(torch.tensor([0]), 'a')",
    "F.embedding([0], torch.ones(2, 2))",
    "F.one_hot(torch.tensor([0, 1]), 1.5)",
    "F.one_hot(torch.tensor([0, 1]), 'a')",
    # layer_norm's argument types
    "F.layer_norm(torch.ones(2, 3), 'a')",
    "F.layer_norm(torch.ones(2, 3), (3.0,))",
    "F.layer_norm(torch.ones(2, 3), (3,), 'a')",
    "F.layer_norm(torch.ones(2, 3), (3,), None, [1.0])",
    "F.layer_norm(torch.ones(2, 3), (3,), eps='a')",
    "F.layer_norm(torch.ones(2, 3), (3,), eps=None)",
    # to(): a number is the tensor of the (Tensor other, ...) signature
    "torch.ones(4).to(True, torch.float64)",
    "torch.ones(4).to(True, dtype=torch.float64)",
])
def test_refusals(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.ones(4).reshape(-1)",
    "torch.ones(2, 3).reshape((3, 2))",
    "torch.ones(2, 3).reshape([torch.tensor(3), 2])",
    "torch.ones(2).reshape((2, True))",
    "torch.reshape(torch.ones(2), torch.Size([2]))",
    "torch.reshape(torch.ones(6), shape=[np.int64(3), 2])",
    "torch.ones(2, 3).view(np.int64(6))",
    "torch.ones(1).expand(3)",
    "torch.ones(1).expand(size=(2, 3))",
    "torch.ones(2).expand(size=(2,), implicit=True)",
    "torch.ones(3).permute(0)",
    "torch.ones(2, 3).permute(dims=(1, 0))",
    "torch.permute(torch.ones(2, 3), dims=[1, 0])",
    "torch.ones(2).tile(2)",
    "torch.tile(torch.ones(2), (2, 1))",
    "torch.ones(2).repeat(np.int64(2))",
    "torch.ones(2, 3).flip(0)",
    "torch.flip(torch.ones(2, 3), dims=[0, 1])",
    "torch.ones(4).reshape(np.array(4))",
    "torch.ones(4).reshape((2, np.array(2)))",
    "torch.reshape(torch.ones(4), (np.array(4),))",
    "torch.ones(1).expand(np.array(4))",
    "torch.tensor(2.0).kron(torch.tensor(3.0))",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), ignore_index=np.int64(1))",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), ignore_index=torch.tensor(1))",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), label_smoothing=torch.tensor(0.1))",
    "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), label_smoothing=1)",
    "F.nll_loss(torch.ones(2, 3), torch.tensor([0, 1]), ignore_index=np.int64(1))",
    "F.embedding(torch.tensor([1]), torch.ones(2, 2), padding_idx=torch.tensor(1))",
    "F.embedding(torch.tensor([0]), torch.ones(2, 2), padding_idx=np.int64(-1))",
    "F.layer_norm(torch.ones(2, 3), torch.Size([3]))",
    "F.layer_norm(torch.ones(2, 3), (np.int64(3),), eps=torch.tensor(1e-3))",
])
def test_accepted(code):
    same_result(run(code))


def test_load_of_a_bare_pickle(tmp_path):
    """With weights_only (the default) a bare pickle is PyTorch's UnpicklingError (its
    unpickler fails on it); minigrad never runs it and names the file."""
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"a": [1, 2]}))
    (t_kind, t_msg), (m_kind, m_msg) = _words(lambda lib: lib.load(path))
    assert t_kind == m_kind == "UnpicklingError", (t_kind, m_kind)
    assert t_msg.startswith("Weights only load failed.") and \
        m_msg.startswith("Weights only load failed."), m_msg
    assert "plain.pkl" in m_msg


@pytest.mark.parametrize("number, dtype", [(2.5, "float64"), (1j, "complex128")])
def test_module_to_a_number_takes_its_dtype(number, dtype):
    """Module.to parses as Tensor.to: a float or complex number is a tensor of that dtype
    (it was refused as no dtype)."""
    for lib in LIBS:
        with pytest.warns(UserWarning) if dtype == "complex128" else _no_warning():
            weight = lib.nn.Linear(2, 2).to(number).weight
        assert str(weight.dtype).split(".")[-1] == dtype


def _no_warning():
    return contextlib.nullcontext()


@pytest.mark.parametrize("code", [
    "torch.nn.Linear(2, 2).to(True)",
    "torch.nn.Linear(2, 2).to(True, True)",
    "torch.nn.Linear(2, 2).to(2.5, torch.float32)",
])
def test_module_to_refusals(code):
    """``to(True)`` is a bool dtype, which a module refuses (it was ignored as a flag)."""
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.ones(2, 3).sum(1, np.bool_(True))",
    "torch.ones(2, 3).sum(1, keepdim=np.bool_(True))",
    "torch.ones(2, 3).mean(1, np.bool_(True))",
    "torch.ones(2, 3).amax(1, np.bool_(True))",
    "torch.ones(2, 3).max(1, np.bool_(True))",
    "torch.ones(2, 3).argmax(1, np.bool_(True))",
    "torch.ones(2, 3).topk(1, 1, np.bool_(True))",
    "torch.ones(2, 3).sort(1, descending=np.bool_(True))",
    "torch.ones(2, 3).median(1, np.bool_(True))",
    "torch.ones(2, 3).logsumexp(1, np.bool_(True))",
    "torch.ones(2, 3).prod(1, np.bool_(True))",
    "torch.ones(2, 3).unique(sorted=np.bool_(True))",
])
def test_numpy_bool_flag_is_type_error(code):
    """PyTorch's parser takes no numpy bool for a bool flag (keepdim, largest, descending...):
    it was read as a bool.  (minigrad's words do not give the argument's position.)"""
    (t_kind, _), (m_kind, m_msg) = _words(run(code))
    assert t_kind == m_kind == "TypeError", (t_kind, m_kind, m_msg)
    assert "numpy.bool" in m_msg, m_msg
