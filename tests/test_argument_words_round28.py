"""Round 28 of the argument words: a call of a function or Tensor method with too few or too
many arguments is refused in the words of PyTorch's parser, not Python's.

PyTorch says ``softmax() missing 1 required positional arguments: "dim"`` (its "arguments"
for one and "argument" for several, double quotes, its own names of the parameters, every
required one from the first missing on), ``argmax() takes from 0 to 2 positional arguments
but 3 were given`` (a method's tensor not counted), and lists the signatures ("received an
invalid combination of arguments") where the op has several, hidden ones included
(``torch.add(x)``).  Each case runs on torch and on minigrad: the same exception type and
message.
"""
import warnings

import pytest
import torch

import minigrad
from minigrad._tensor_methods import _torch_args


def _x(lib):
    return lib.arange(12.0).reshape(3, 4)


def _i(lib):
    return lib.zeros(3, 4, dtype=lib.long)


# (an id, the call on a library: lib, its functional module F, a tensor x, an index tensor i)
CASES = [
    # one argument missing: "arguments", the parser's name for it
    ("matmul(x)", lambda lib, F, x, i: lib.matmul(x)),
    ("cumsum(x)", lambda lib, F, x, i: lib.cumsum(x)),
    ("softmax(x)", lambda lib, F, x, i: lib.softmax(x)),
    ("x.softmax()", lambda lib, F, x, i: x.softmax()),
    ("x.topk()", lambda lib, F, x, i: x.topk()),
    ("x.mm()", lambda lib, F, x, i: x.mm()),
    ("x.bmm()", lambda lib, F, x, i: x.bmm()),
    ("x.matmul()", lambda lib, F, x, i: x.matmul()),
    ("x.mul()", lambda lib, F, x, i: x.mul()),
    ("x.maximum()", lambda lib, F, x, i: x.maximum()),
    ("gather(x, 0)", lambda lib, F, x, i: lib.gather(x, 0)),
    ("x.transpose(0)", lambda lib, F, x, i: x.transpose(0)),
    ("x.index_select(0)", lambda lib, F, x, i: x.index_select(0)),
    ("x.unsqueeze()", lambda lib, F, x, i: x.unsqueeze()),
    ("topk(x, dim=1)", lambda lib, F, x, i: lib.topk(x, dim=1)),
    ("dot(x)", lambda lib, F, x, i: lib.dot(x)),
    ("F.linear(x)", lambda lib, F, x, i: F.linear(x)),
    # several missing: "argument", each from the first missing on (given by keyword or not)
    ("matmul()", lambda lib, F, x, i: lib.matmul()),
    ("softmax()", lambda lib, F, x, i: lib.softmax()),
    ("softmax(dim=1)", lambda lib, F, x, i: lib.softmax(dim=1)),
    ("cumsum()", lambda lib, F, x, i: lib.cumsum()),
    ("gather(x)", lambda lib, F, x, i: lib.gather(x)),
    ("gather(x, index=i)", lambda lib, F, x, i: lib.gather(x, index=i)),
    ("x.gather()", lambda lib, F, x, i: x.gather()),
    ("x.transpose()", lambda lib, F, x, i: x.transpose()),
    ("transpose(x, dim1=0)", lambda lib, F, x, i: lib.transpose(x, dim1=0)),
    ("dot()", lambda lib, F, x, i: lib.dot()),
    # too many: the parser's count, a method's tensor left out
    ("x.argmax(1, True, 3)", lambda lib, F, x, i: x.argmax(1, True, 3)),
    ("argmax(x, 1, True, 3)", lambda lib, F, x, i: lib.argmax(x, 1, True, 3)),
    ("x.softmax(1, None, 3)", lambda lib, F, x, i: x.softmax(1, None, 3)),
    ("x.topk(1, 0, True, True, 4)", lambda lib, F, x, i: x.topk(1, 0, True, True, 4)),
    ("matmul(x, x, x)", lambda lib, F, x, i: lib.matmul(x, x, x)),
    ("x.mm(x, x)", lambda lib, F, x, i: x.mm(x, x)),
    ("add(x, x, x, x)", lambda lib, F, x, i: lib.add(x, x, x, x)),
    # ops of several signatures (or hidden ones): each listed
    ("add(x)", lambda lib, F, x, i: lib.add(x)),
    ("add()", lambda lib, F, x, i: lib.add()),
    ("x.add()", lambda lib, F, x, i: x.add()),
    ("x.sub()", lambda lib, F, x, i: x.sub()),
    ("addcmul(x)", lambda lib, F, x, i: lib.addcmul(x)),
    ("addmv(x)", lambda lib, F, x, i: lib.addmv(x)),
    ("isin(x)", lambda lib, F, x, i: lib.isin(x)),
    ("bucketize(x)", lambda lib, F, x, i: lib.bucketize(x)),
    ("floor_divide(x)", lambda lib, F, x, i: lib.floor_divide(x)),
    ("mm(x)", lambda lib, F, x, i: lib.mm(x)),
    ("mm(x, x, x)", lambda lib, F, x, i: lib.mm(x, x, x)),
    ("x.sum(1, True, None, 3)", lambda lib, F, x, i: x.sum(1, True, None, 3)),
    ("narrow(x, 0)", lambda lib, F, x, i: lib.narrow(x, 0)),
    ("where()", lambda lib, F, x, i: lib.where()),
    # PyTorch's functions written in Python keep Python's words
    ("F.softmax()", lambda lib, F, x, i: F.softmax()),
]


def _outcome(lib, F, call):
    try:
        call(lib, F, _x(lib), _i(lib))
    except Exception as exc:            # noqa: BLE001 (compared with torch's)
        return type(exc).__name__, str(exc)
    return None


@pytest.mark.parametrize("call", [c for _, c in CASES], ids=[n for n, _ in CASES])
def test_arity_words_match_torch(call):
    expected = _outcome(torch, torch.nn.functional, call)
    assert expected is not None and expected[0] == "TypeError"
    assert _outcome(minigrad, minigrad.nn.functional, call) == expected


def _op(a, dim):
    return _op(a)                   # (a wrong call inside the op: Python's words stay)


def test_arity_from_deeper_is_not_reworded():
    """A TypeError that Python raises for a call inside the op, not for the op's own call,
    keeps Python's words (even for a call of the same function)."""
    wrapped = _torch_args(_op)
    with pytest.raises(TypeError, match=r"_op\(\) missing 1 required positional argument: "
                                        r"'dim'$"):
        wrapped(minigrad.ones(2), 0)
    with pytest.raises(TypeError, match=r'^_op\(\) missing 1 required positional arguments: '
                                        r'"dim"$'):
        wrapped(minigrad.ones(2))


def test_calls_that_work_are_unchanged():
    for lib in (torch, minigrad):
        x = _x(lib)
        assert x.softmax(1).shape == (3, 4)
        assert lib.cumsum(x, 0).shape == (3, 4)
        assert x.topk(2).values.shape == (3, 2)
        assert lib.add(x, x, alpha=2).shape == (3, 4)
        assert lib.matmul(x, x.T).shape == (3, 3)


# the smaller words of round 28: arguments of the wrong type named where PyTorch names them,
# and out= of a dtype an op does not write
def _seq(lib):
    return lib.arange(6.0)


WORDS = [
    ("cumsum(x) missing dim", lambda L, x: L.cumsum(x)),
    ("diff prepend float, by position", lambda L, x: L.diff(x, 1, -1, 1.0)),
    ("diff prepend float, method", lambda L, x: x.diff(1, -1, 1.0)),
    ("diff prepend float, keyword", lambda L, x: L.diff(x, prepend=1.0)),
    ("diff append list", lambda L, x: L.diff(x, append=[1.0])),
    ("unique dim float", lambda L, x: L.unique(x, dim=1.0)),
    ("unique dim str, method", lambda L, x: x.unique(dim="a")),
    ("scatter_reduce reduce int", lambda L, x: L.scatter_reduce(x, 0, L.tensor([0, 1]), x[:2], 1)),
    ("scatter_reduce reduce= int",
     lambda L, x: L.scatter_reduce(x, 0, L.tensor([0, 1]), x[:2], reduce=1)),
    ("index_reduce reduce int", lambda L, x: L.index_reduce(x, 0, L.tensor([0, 1]), x[:2], 1)),
    ("bucketize right list", lambda L, x: L.bucketize(x, x, right=[1])),
    ("bucketize right int", lambda L, x: L.bucketize(x, x, right=1)),
    ("searchsorted right list", lambda L, x: L.searchsorted(x, x, right=[1])),
    ("searchsorted side int", lambda L, x: L.searchsorted(x, x, side=1)),
    ("nansum float into long out", lambda L, x: L.nansum(x, out=L.empty(3, dtype=L.long))),
    ("nansum float into bool out", lambda L, x: L.nansum(x, out=L.empty(0, dtype=L.bool))),
    ("nanmean float into int out", lambda L, x: L.nanmean(x, out=L.empty(0, dtype=L.int32))),
    ("logsumexp into long out", lambda L, x: L.logsumexp(x, 0, out=L.empty(0, dtype=L.long))),
    ("logsumexp of ints into int out",
     lambda L, x: L.logsumexp(x.long(), 0, out=L.empty(0, dtype=L.int32))),
    ("mv into long out",
     lambda L, x: L.mv(L.ones(2, 3), L.ones(3), out=L.empty(2, dtype=L.long))),
    ("diff into long out", lambda L, x: L.diff(x, out=L.empty(5, dtype=L.long))),
    ("diff of ints into bool out", lambda L, x: L.diff(x.long(), out=L.empty(5, dtype=L.bool))),
    ("cat into a self-overlapping out of its shape",
     lambda L, x: L.cat([L.ones(1, 3), L.ones(1, 3)], out=L.empty(1).expand(2, 3))),
]


def _words(lib, call):
    try:
        call(lib, _seq(lib))
    except Exception as exc:            # noqa: BLE001 (compared with torch's)
        return type(exc).__name__, str(exc)
    return None


@pytest.mark.parametrize("call", [c for _, c in WORDS], ids=[n for n, _ in WORDS])
def test_words_match_torch(call):
    expected = _words(torch, call)
    assert expected is not None
    assert _words(minigrad, call) == expected


# out= that PyTorch takes: the values, compared with torch's
TAKEN = [
    ("nansum of ints into a bool out",
     lambda L, x: L.nansum(x.long(), out=L.empty(0, dtype=L.bool))),
    ("nansum float into float64 out", lambda L, x: L.nansum(x, out=L.empty(0, dtype=L.float64))),
    ("nanmean float into float16 out",
     lambda L, x: L.nanmean(x, out=L.empty(0, dtype=L.float16))),
    ("logsumexp of ints into float64 out",
     lambda L, x: L.logsumexp(x.long(), 0, out=L.empty(0, dtype=L.float64))),
    ("diff float into float64 out", lambda L, x: L.diff(x, out=L.empty(5, dtype=L.float64))),
    ("diff of ints into float32 out",
     lambda L, x: L.diff(x.long(), out=L.empty(5, dtype=L.float32))),
    ("cat into an expanded out of another shape (resized)",
     lambda L, x: L.cat([L.ones(2, 3), 2 * L.ones(2, 3)], out=L.empty(1).expand(2, 3))),
]


@pytest.mark.parametrize("call", [c for _, c in TAKEN], ids=[n for n, _ in TAKEN])
def test_out_taken_as_torch(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = call(torch, _seq(torch))
        got = call(minigrad, _seq(minigrad))
    assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    assert tuple(got.shape) == tuple(expected.shape)
    assert got.double().flatten().tolist() == pytest.approx(
        expected.double().flatten().tolist())
