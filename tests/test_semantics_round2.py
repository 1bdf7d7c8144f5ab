"""Issue #16: each defect found side by side with PyTorch 2.13 is a case here, run on both.

A case is ``f(lib)`` written with PyTorch's API (``lib`` is ``minigrad`` or ``torch``). Both
libraries must return the same thing (value, dtype, shape; gradients when the case returns
them) or both raise the same exception type. The defects owned by engineers who were fixing
them when this file was written are ``xfail(strict=True)``: the day they pass, the mark goes.
"""
import io
import json
import struct
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _run(f, lib):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return f(lib), None
    except Exception as exc:            # noqa: BLE001 (the exception is what is compared)
        return None, exc


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _same(mine, theirs, where):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(mine, minigrad.Tensor), f"{where}: got {type(mine).__name__}"
        assert mine.dtype.name == str(theirs.dtype).replace("torch.", ""), \
            f"{where}: dtype {mine.dtype} vs {theirs.dtype}"
        assert tuple(mine.shape) == tuple(theirs.shape), f"{where}: shape {mine.shape} vs " \
            f"{theirs.shape}"
        expected = theirs.detach().numpy()
        np.testing.assert_allclose(mine.detach().numpy().astype(expected.dtype), expected,
                                   rtol=1e-6, atol=1e-12, equal_nan=True, err_msg=where)
    elif isinstance(theirs, (torch.Size, torch.dtype)):
        assert str(mine).replace("minigrad", "torch") == str(theirs), f"{where}: {mine} vs {theirs}"
    elif theirs is None or isinstance(theirs, (bool, int, float, str)):
        assert mine == theirs or (mine != mine and theirs != theirs), f"{where}: {mine!r} vs " \
            f"{theirs!r}"
    else:
        raise TypeError(f"cannot compare {type(theirs)}")


def check(f):
    """Run ``f`` on both libraries and require the same results or the same exception."""
    mine, my_error = _run(f, minigrad)
    theirs, their_error = _run(f, torch)
    if their_error is not None:
        assert my_error is not None, f"torch raised {their_error!r}, minigrad returned {mine!r}"
        assert isinstance(my_error, type(their_error)), \
            f"torch raised {type(their_error).__name__}: {their_error}; minigrad " \
            f"{type(my_error).__name__}: {my_error}"
        return
    if my_error is not None:
        raise AssertionError(f"torch returned {theirs!r}, minigrad raised "
                             f"{type(my_error).__name__}: {my_error}") from my_error
    mine, theirs = _as_list(mine), _as_list(theirs)
    assert len(mine) == len(theirs)
    for i, (m, t) in enumerate(zip(mine, theirs)):
        _same(m, t, f"output {i}")


def _grad(f, *shape, dtype="float64"):
    """A case returning f(x) and the gradient of its sum with respect to x."""
    def case(lib):
        x = lib.ones(*shape, dtype=getattr(lib, dtype)).requires_grad_(True)
        y = f(lib, x)
        y.sum().backward()
        return y, x.grad
    return case


def _write_flip(lib):
    x = lib.tensor([1., 2.])
    y = x.flip(0)
    y[0] = 9.
    return x, y


def _state_dict_extra(key):
    def case(lib):
        m = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2))
        sd = dict(m.state_dict())
        sd[key] = lib.zeros(1)
        return m.load_state_dict(sd, strict=True) and True
    return case


def _sgd_int(lib):
    p = lib.nn.Parameter(lib.tensor([1, 2]), requires_grad=False)
    opt = lib.optim.SGD([p], lr=0.1)
    p.grad = lib.tensor([1, 1])
    opt.step()
    return p


def _set_nothing(lib):
    x = lib.zeros(3)
    x[[]] = 1.
    return x


def _detach_view(lib):
    v = (lib.ones(3, requires_grad=True) * 2)[:2]
    v.detach_()
    return v


# Silent wrong answers, crashes and wrong messages that minigrad fixed itself.
CASES = {
    # construction: dtype inference
    "tensor(np.float64)": lambda L: L.tensor(np.float64(1.5)),
    "tensor(np.int32)": lambda L: L.tensor(np.int32(3)),
    "tensor(np.float16)": lambda L: L.tensor(np.float16(0.5)),
    "as_tensor(np.float64)": lambda L: L.as_tensor(np.float64(1.5)),
    "list of 0-d float64": lambda L: L.tensor([L.tensor(1., dtype=L.float64),
                                              L.tensor(2., dtype=L.float64)]),
    "list of 0-d int32": lambda L: L.tensor([L.tensor(1, dtype=L.int32), L.tensor(2, dtype=L.int32)]),
    "list of 1-element tensors": lambda L: L.tensor([L.tensor([1.]), L.tensor([2.])]),
    "int32 and float16 tensors": lambda L: L.tensor([L.tensor(1, dtype=L.int32),
                                                     L.tensor(1.5, dtype=L.float16)]),
    "int32 tensor and Python int": lambda L: L.tensor([L.tensor(1, dtype=L.int32), 2]),
    "numpy scalars in a list": lambda L: L.tensor([np.float64(1), np.float32(2)]),
    "numpy int32 and Python int": lambda L: L.tensor([np.int32(1), 2]),
    "nested numpy arrays": lambda L: L.tensor([np.array([1, 2], np.int32),
                                               np.array([3, 4], np.int32)]),
    "list with a 2-element tensor": lambda L: L.tensor([L.tensor([1., 2.]), [3., 4.]]),
    "bools and floats": lambda L: L.tensor([True, 2.5]),
    # construction: the legacy constructor
    "Tensor(3)": lambda L: L.Tensor(3).shape,
    "Tensor(2, 3)": lambda L: L.Tensor(2, 3).shape,
    "Tensor(0)": lambda L: L.Tensor(0).shape,
    "Tensor(np.int64(2))": lambda L: L.Tensor(np.int64(2)).shape,
    "Tensor(Size)": lambda L: L.Tensor(L.Size([2, 3])).shape,
    "Tensor((2, 3)) is data": lambda L: L.Tensor((2, 3)),
    "Tensor([3])": lambda L: L.Tensor([3]),
    "Tensor()": lambda L: L.Tensor(),
    "Tensor(-1)": lambda L: L.Tensor(-1),
    "Tensor(2.5)": lambda L: L.Tensor(2.5),
    "Tensor(2, 3.0)": lambda L: L.Tensor(2, 3.0),
    "Tensor(int tensor)": lambda L: L.Tensor(L.tensor([1, 2])),
    "Tensor(numpy int array)": lambda L: L.Tensor(np.array([1, 2])),
    # construction: overflow of Python numbers, wrap-around of arrays
    "uint8 300": lambda L: L.tensor([300], dtype=L.uint8),
    "uint8 -1 wraps": lambda L: L.tensor([-1, -255], dtype=L.uint8),
    "uint8 -256": lambda L: L.tensor([-256], dtype=L.uint8),
    "int8 128": lambda L: L.tensor([128], dtype=L.int8),
    "int8 -200": lambda L: L.tensor(-200, dtype=L.int8),
    "int32 2**40": lambda L: L.tensor([2 ** 40], dtype=L.int32),
    "int64 nan": lambda L: L.tensor([float("nan")], dtype=L.int64),
    "int32 inf": lambda L: L.tensor([float("inf")], dtype=L.int32),
    "int64 1e20": lambda L: L.tensor([1e20], dtype=L.int64),
    "uint8 -1.5": lambda L: L.tensor([-1.5], dtype=L.uint8),
    "int 1.7 truncates": lambda L: L.tensor([1.7, -1.7], dtype=L.int64),
    "float16 1e6 is inf": lambda L: L.tensor([1e6], dtype=L.float16),
    "bool nan": lambda L: L.tensor([float("nan"), 0.], dtype=L.bool),
    "numpy array wraps": lambda L: L.tensor(np.array([300]), dtype=L.uint8),
    "tensor wraps": lambda L: L.tensor(L.tensor([300]), dtype=L.uint8),
    "as_tensor list overflow": lambda L: L.as_tensor([300], dtype=L.uint8),
    "2**63": lambda L: L.tensor([2 ** 63]),
    # factories
    "randn int64": lambda L: L.randn(3, dtype=L.int64),
    "rand int32": lambda L: L.rand(3, dtype=L.int32),
    "randn bool": lambda L: L.randn(3, dtype=L.bool),
    "reshape(2.5, 3)": lambda L: L.ones(6).reshape(2.5, 3),
    "view(2.0, 3)": lambda L: L.ones(6).view(2.0, 3),
    "reshape(np.int64)": lambda L: L.ones(6).reshape(np.int64(2), 3),
    # integer arithmetic wraps as in PyTorch
    "uint8 + 300": lambda L: L.tensor([1], dtype=L.uint8) + 300,
    "int8 * 200": lambda L: L.tensor([1, 2], dtype=L.int8) * 200,
    "int32 + 2**40": lambda L: L.tensor([1], dtype=L.int32) + 2 ** 40,
    "uint8 overflow": lambda L: L.tensor([250], dtype=L.uint8) + L.tensor([10], dtype=L.uint8),
    "int64 overflow": lambda L: L.tensor([2 ** 62]) * 4,
    "% inf": lambda L: L.tensor([3., -3., 0.]) % float("inf"),
    "% -inf": lambda L: L.tensor([3., -3.]) % float("-inf"),
    "% 0.": lambda L: L.tensor([3., -3.]) % 0.,
    "int % 0": lambda L: L.tensor([3, -3]) % 0,
    "int % tensor": lambda L: L.tensor([5, -5]) % L.tensor([3, -3]),
    "remainder grads": _grad(lambda L, x: L.remainder(x * 2.5, L.tensor([2., -1., float("inf")],
                                                                          dtype=L.float64)), 3),
    # indexing
    "x[np.int64(1)]": lambda L: L.tensor([1., 2.])[np.int64(1)],
    "x[np.int32(-1), [0, 1]]": lambda L: L.ones(2, 3)[np.int32(-1), [0, 1]],
    "x[[]]": lambda L: L.tensor([1., 2.])[[]],
    "x[[]] on 2-d": lambda L: L.ones(2, 3)[[]],
    "x[[]] = 1": _set_nothing,
    # messages: refused as PyTorch refuses
    "-bool": lambda L: -L.tensor([True]),
    "abs(bool)": lambda L: L.tensor([True]).abs(),
    "fill_ with 2 elements": lambda L: L.zeros(3).fill_(L.tensor([1., 2.])),
    "fill_ with [1]": lambda L: L.zeros(3).fill_(L.tensor([1.])),
    "fill_ with 0-d": lambda L: L.zeros(3).fill_(L.tensor(2.)),
    "detach_ on a view": _detach_view,
    "var of int": lambda L: L.tensor([1, 2, 3]).var(),
    "std of int": lambda L: L.tensor([1, 2, 3]).std(),
    "SGD int64 parameter": _sgd_int,
    "load_state_dict 'weight.x'": _state_dict_extra("0.weight.x"),
    "load_state_dict '0'": _state_dict_extra("0"),
    "load_state_dict 'running_mean.y'": _state_dict_extra("1.running_mean.y"),
    "load_state_dict '2.weight'": _state_dict_extra("2.weight"),
}

# The fuzzer's finds (tests/test_fuzz_against_torch.py, FOUND), fixed: each a case here.
def _put(lib, index, value):
    x = lib.zeros(3)
    x[index] = value
    return x


def _linear_mixed(L, dtype, bias_dtype):
    """linear of a transposed 3-d input with a bias of another dtype; the gradients too when
    both are floating."""
    floating = dtype.is_floating_point and bias_dtype.is_floating_point
    x = (L.arange(12, dtype=dtype).reshape(2, 3, 2) % 5).requires_grad_(floating)
    w = (L.arange(12, dtype=dtype).reshape(4, 3) % 3).requires_grad_(floating)
    b = L.arange(4, dtype=bias_dtype).requires_grad_(floating)
    y = L.nn.functional.linear(x.mT, w, b)
    if not floating:
        return y
    (y * y).sum().backward()
    return y, x.grad, w.grad, b.grad


_F = lambda L: L.nn.functional  # noqa: E731
FUZZER_FINDS = {
    # bool subtraction is refused; mse_loss casts to the promoted dtype first
    "bool - bool": lambda L: L.tensor([True]) - L.tensor([False]),
    "bool - 1": lambda L: L.tensor([True]) - 1,
    "1 - bool": lambda L: 1 - L.tensor([True]),
    "float - bool": lambda L: L.tensor([1.]) - L.tensor([True]),
    "sub(bool, float, alpha=2)": lambda L: L.sub(L.tensor([True]), L.tensor([1.]), alpha=2),
    "mse_loss, bool target": lambda L: _F(L).mse_loss(L.tensor([1., 2.]), L.tensor([True, False])),
    "mse_loss, int and bool": lambda L: _F(L).mse_loss(L.tensor([1, 2]), L.tensor([True, False])),
    "mse_loss, two bools": lambda L: _F(L).mse_loss(L.tensor([True]), L.tensor([False])),
    "mse_loss, int and float32": lambda L: _F(L).mse_loss(L.tensor([1, 2]), L.tensor([1., 0.])),
    "l1_loss, bool target": lambda L: _F(L).l1_loss(L.tensor([1., 2.]), L.tensor([True, False])),
    # dims out of range on 0-d and 1-d tensors; rank checks of movement ops
    "squeeze(1) of 0-d": lambda L: L.tensor(1.).squeeze(1),
    "squeeze(-1) of 0-d": lambda L: L.tensor(1.).squeeze(-1),
    "squeeze((0, 2)) of 1-d": lambda L: L.ones(1).squeeze((0, 2)),
    "amin(1) of 0-d": lambda L: L.tensor(1.).amin(1),
    "amax((0, 1)) of 0-d": lambda L: L.tensor(1.).amax((0, 1)),
    "sum(1) of 0-d": lambda L: L.tensor(1.).sum(1),
    "mean(-2) of 0-d": lambda L: L.tensor(1.).mean(-2),
    "var(1) of 0-d": lambda L: L.tensor(1.).var(1),
    "std(1) of 0-d": lambda L: L.tensor(1.).std(1),
    "logsumexp(1) of 0-d": lambda L: L.tensor(1.).logsumexp(1),
    "var(1) of 1-d": lambda L: L.ones(2).var(1),
    "sum(0) of 0-d": lambda L: L.tensor(2.).sum(0),
    "mT of 0-d": lambda L: L.tensor(1.).mT,
    "mT of 1-d": lambda L: L.ones(3).mT,
    "mT of 3-d": lambda L: L.arange(6.).reshape(1, 2, 3).mT,
    "chunk of 0-d": lambda L: L.tensor(1.).chunk(2),
    "split of 0-d": lambda L: L.tensor(1.).split(1),
    # dtypes of reductions and integer powers
    "prod of uint8": lambda L: L.tensor([2, 3], dtype=L.uint8).prod(),
    "prod(1) of uint8": lambda L: L.tensor([[2, 3]], dtype=L.uint8).prod(1),
    "prod of int32": lambda L: L.tensor([2, 3], dtype=L.int32).prod(0, keepdim=True),
    "mean of int message": lambda L: L.tensor([1, 2]).mean(),
    "int ** negative int tensor": lambda L: L.tensor([-2, -1, 0, 1, 2]) ** L.tensor([-1, -3, -1,
                                                                                    -2, -1]),
    "(-1) ** even negative": lambda L: L.tensor([-1, -1]) ** L.tensor([-2, -4]),
    "uint8 ** 0-d -1 wraps": lambda L: L.tensor([0, 1, 2, 255], dtype=L.uint8) ** L.tensor(-1),
    "uint8 ** int8 -1": lambda L: L.tensor([0, 1, 2], dtype=L.uint8) ** L.tensor([-1, -1, -1],
                                                                                dtype=L.int8),
    "int ** broadcast negatives": lambda L: L.tensor([[-1], [2]], dtype=L.int32) ** L.tensor(
        [-1, -2, 3], dtype=L.int32),
    "2 ** int tensor -1": lambda L: 2 ** L.tensor([-1, 2]),
    "int tensor ** -1": lambda L: L.tensor([2]) ** -1,
    "uint8 tensor ** -1": lambda L: L.tensor([2], dtype=L.uint8) ** -1,
    "bool tensor ** -1": lambda L: L.tensor([True]) ** -1,
    "int tensor ** -1.": lambda L: L.tensor([2]) ** -1.,
    # index_put wants equal dtypes (a single mask with one value is a masked_fill)
    "x[[0]] = bool tensor": lambda L: _put(L, [0], L.tensor([True])),
    "x[tensor([0, 1])] = int tensor": lambda L: _put(L, L.tensor([0, 1]), L.tensor([3])),
    "x[[0]] = float64 tensor": lambda L: _put(L, [0], L.tensor([2.], dtype=L.float64)),
    "x[mask] = one bool": lambda L: _put(L, L.tensor([True, False, True]), L.tensor([True])),
    "x[mask] = two bools": lambda L: _put(L, L.tensor([True, True, False]),
                                          L.tensor([True, False])),
    "x[[0]] = 3": lambda L: _put(L, [0], 3),
    "x[0] = tensor([5])": lambda L: _put(L, 0, L.tensor([5.])),
    "x[1:] = [[[5, 6]]]": lambda L: _put(L, slice(1, None), L.tensor([[[5., 6.]]])),
    # a numpy scalar or array where a tensor goes
    "exp(np.float64)": lambda L: L.exp(np.float64(1.)),
    "exp(np.ndarray)": lambda L: L.exp(np.ones(2)),
    "sum(np.float64)": lambda L: L.sum(np.float64(1.)),
    "relu(np.float64)": lambda L: _F(L).relu(np.float64(1.)),
    # activations: PyTorch's dtype refusals; hardtanh/relu6 of integers stay integers
    "silu of int": lambda L: _F(L).silu(L.tensor([1, 2])),
    "silu of bool": lambda L: _F(L).silu(L.tensor([True])),
    "leaky_relu of int": lambda L: _F(L).leaky_relu(L.tensor([1, -2])),
    "leaky_relu of bool": lambda L: _F(L).leaky_relu(L.tensor([True])),
    "relu of bool": lambda L: _F(L).relu(L.tensor([True])),
    "relu of int": lambda L: _F(L).relu(L.tensor([1, -2])),
    "hardtanh of int": lambda L: _F(L).hardtanh(L.tensor([-3, 0, 3]), -1.5, 1.5),
    "hardtanh of bool": lambda L: _F(L).hardtanh(L.tensor([True])),
    "hardtanh of uint8, negative limit": lambda L: _F(L).hardtanh(L.tensor([1], dtype=L.uint8)),
    "relu6 of int8": lambda L: _F(L).relu6(L.tensor([-3, 2, 7], dtype=L.int8)),
    "relu6 of uint8": lambda L: _F(L).relu6(L.tensor([1, 2, 9], dtype=L.uint8)),
    "relu6 of bool": lambda L: _F(L).relu6(L.tensor([True])),
    "softmax of int": lambda L: _F(L).softmax(L.tensor([1, 2]), 0),
    "softmax of int, dim 0 of 2": lambda L: _F(L).softmax(L.tensor([[1, 2]]), 0),
    "log_softmax of bool": lambda L: _F(L).log_softmax(L.tensor([True]), 0),
    "softmax of an empty int tensor": lambda L: _F(L).softmax(L.tensor([], dtype=L.int64), 0),
    "softmax of int, dtype given": lambda L: _F(L).softmax(L.tensor([1, 2]), 0, dtype=L.float64),
    # losses: PyTorch's dtype refusals, in its order
    "bce, int target": lambda L: _F(L).binary_cross_entropy(L.tensor([.5, .5]), L.tensor([1, 0])),
    "bce, int input": lambda L: _F(L).binary_cross_entropy(L.tensor([1, 0]), L.tensor([1., 0.])),
    "bce, two ints": lambda L: _F(L).binary_cross_entropy(L.tensor([1, 0]), L.tensor([1, 0])),
    "bce, bool target": lambda L: _F(L).binary_cross_entropy(L.tensor([.5]), L.tensor([True])),
    "bce, float64 target": lambda L: _F(L).binary_cross_entropy(
        L.tensor([.5]), L.tensor([1.], dtype=L.float64)),
    "bce, int target out of range": lambda L: _F(L).binary_cross_entropy(L.tensor([2.]),
                                                                         L.tensor([1])),
    "bce_with_logits, int target": lambda L: _F(L).binary_cross_entropy_with_logits(
        L.tensor([.5, .5]), L.tensor([1, 0])),
    "bce_with_logits, uint8 target": lambda L: _F(L).binary_cross_entropy_with_logits(
        L.tensor([.5]), L.tensor([1], dtype=L.uint8)),
    "bce_with_logits, bool target": lambda L: _F(L).binary_cross_entropy_with_logits(
        L.tensor([.5]), L.tensor([True])),
    "bce_with_logits, int input": lambda L: _F(L).binary_cross_entropy_with_logits(
        L.tensor([1, 0]), L.tensor([1., 0.])),
    "bce_with_logits, two ints": lambda L: _F(L).binary_cross_entropy_with_logits(
        L.tensor([1, 0]), L.tensor([1, 0])),
    "bce_with_logits, bool input": lambda L: _F(L).binary_cross_entropy_with_logits(
        L.tensor([True]), L.tensor([1.])),
    "cross_entropy of int": lambda L: _F(L).cross_entropy(L.tensor([[1, 2]]), L.tensor([0])),
    "cross_entropy of bool": lambda L: _F(L).cross_entropy(L.tensor([[True, False]]),
                                                           L.tensor([0])),
    "cross_entropy of int, wrong batch": lambda L: _F(L).cross_entropy(
        L.ones(2, 3, dtype=L.int64), L.zeros(3, dtype=L.int64)),
    "cross_entropy of an empty int batch": lambda L: _F(L).cross_entropy(
        L.ones(0, 3, dtype=L.int64), L.zeros(0, dtype=L.int64)),
    "nll_loss of int": lambda L: _F(L).nll_loss(L.tensor([[1, 2]]), L.tensor([0])),
    "nll_loss of bool": lambda L: _F(L).nll_loss(L.tensor([[True, False]]), L.tensor([0])),
    "nll_loss of int, 3-d": lambda L: _F(L).nll_loss(L.ones(1, 2, 1, dtype=L.int64),
                                                     L.zeros(1, 1, dtype=L.int64)),
    "nll_loss of int, wrong batch": lambda L: _F(L).nll_loss(L.ones(2, 3, dtype=L.int64),
                                                             L.zeros(3, dtype=L.int64)),
    "nll_loss, int32 target": lambda L: _F(L).nll_loss(L.tensor([[1., 2.]]),
                                                       L.tensor([0], dtype=L.int32)),
    "cross_entropy, bool target": lambda L: _F(L).cross_entropy(L.tensor([[1., 2.]]),
                                                                L.tensor([True])),
    "cross_entropy, uint8 target": lambda L: _F(L).cross_entropy(
        L.tensor([[1., 2.]]), L.tensor([1], dtype=L.uint8)),
    # cross_entropy of an unbatched (C,) input; out-of-bounds targets
    "cross_entropy, unbatched": lambda L: _F(L).cross_entropy(L.tensor([1., 2., 3.]), L.tensor(1)),
    "cross_entropy, unbatched, none": lambda L: _F(L).cross_entropy(
        L.tensor([1., 2.]), L.tensor(1), reduction="none"),
    "cross_entropy, unbatched, weight": lambda L: _F(L).cross_entropy(
        L.tensor([1., 2.]), L.tensor(1), weight=L.tensor([1., 3.])),
    "cross_entropy, unbatched, smoothing": lambda L: _F(L).cross_entropy(
        L.tensor([1., 2.]), L.tensor(1), label_smoothing=0.2),
    "cross_entropy, unbatched, ignored": lambda L: _F(L).cross_entropy(L.tensor([1., 2.]),
                                                                       L.tensor(-100)),
    "cross_entropy, unbatched, (1,) target": lambda L: _F(L).cross_entropy(
        L.tensor([1., 2.]), L.tensor([1]), reduction="none"),
    "nll_loss, unbatched, (1,) target": lambda L: _F(L).nll_loss(L.tensor([1., 2.]),
                                                                 L.tensor([1])),
    "cross_entropy, unbatched, (0,) target": lambda L: _F(L).cross_entropy(
        L.tensor([1., 2.]), L.tensor([], dtype=L.int64)),
    "cross_entropy, unbatched, out of bounds": lambda L: _F(L).cross_entropy(L.tensor([1., 2.]),
                                                                             L.tensor(2)),
    "cross_entropy, unbatched (1,), out of bounds": lambda L: _F(L).cross_entropy(
        L.tensor([1., 2.]), L.tensor([5])),
    "cross_entropy, 0-d target for a batch": lambda L: _F(L).cross_entropy(L.tensor([[1., 2.]]),
                                                                           L.tensor(1)),
    "cross_entropy, out of bounds": lambda L: _F(L).cross_entropy(L.tensor([[1., 2., 3.]]),
                                                                  L.tensor([3])),
    "cross_entropy, negative target": lambda L: _F(L).cross_entropy(L.tensor([[1., 2., 3.]]),
                                                                    L.tensor([-1])),
    "cross_entropy, 3-d, out of bounds": lambda L: _F(L).cross_entropy(L.ones(1, 2, 2),
                                                                       L.tensor([[0, 2]])),
    "cross_entropy, no classes": lambda L: _F(L).cross_entropy(L.tensor([]), L.tensor(0)),
    "nll_loss, out of bounds, none": lambda L: _F(L).nll_loss(
        L.tensor([[1., 2., 3.]]), L.tensor([5]), reduction="none"),
    # F.normalize of integers: linalg.vector_norm's RuntimeError (before the dim check)
    "normalize of int": lambda L: _F(L).normalize(L.tensor([1, 2])),
    "normalize of bool": lambda L: _F(L).normalize(L.tensor([True, False]), dim=0),
    "normalize of uint8, p=inf": lambda L: _F(L).normalize(L.tensor([1, 2], dtype=L.uint8),
                                                           p=float("inf"), dim=0),
    "normalize of a 0-d int": lambda L: _F(L).normalize(L.tensor(1)),
    # batch_norm: integer inputs; parameters of the input's dtype (float16 takes float32 ones)
    "batch_norm of int, training": lambda L: _F(L).batch_norm(L.tensor([[1, 2], [3, 4]]), None,
                                                              None, training=True),
    "batch_norm of int": lambda L: _F(L).batch_norm(L.tensor([[1, 2], [3, 4]]), L.zeros(2),
                                                    L.ones(2)),
    "batch_norm of bool": lambda L: _F(L).batch_norm(L.tensor([[True, False]]), L.zeros(2),
                                                     L.ones(2)),
    "batch_norm, float64 weight": lambda L: _F(L).batch_norm(
        L.ones(2, 2), L.zeros(2), L.ones(2), weight=L.ones(2, dtype=L.float64)),
    "batch_norm, float64 weight, training": lambda L: _F(L).batch_norm(
        L.ones(2, 2), None, None, weight=L.ones(2, dtype=L.float64), training=True),
    "batch_norm, float64 bias": lambda L: _F(L).batch_norm(
        L.ones(2, 2), L.zeros(2), L.ones(2), bias=L.ones(2, dtype=L.float64)),
    "batch_norm, float64 running stats": lambda L: _F(L).batch_norm(
        L.ones(2, 2), L.zeros(2, dtype=L.float64), L.ones(2, dtype=L.float64)),
    "batch_norm of float64, float32 stats": lambda L: _F(L).batch_norm(
        L.ones(2, 2, dtype=L.float64), L.zeros(2), L.ones(2)),
    "batch_norm of float64, float32 weight": lambda L: _F(L).batch_norm(
        L.ones(2, 2, dtype=L.float64), None, None, weight=L.ones(2), training=True),
    "batch_norm, int weight": lambda L: _F(L).batch_norm(
        L.ones(2, 2), L.zeros(2), L.ones(2), weight=L.ones(2, dtype=L.int64)),
    "batch_norm of float16, float32 parameters": lambda L: _F(L).batch_norm(  # (dtype only:
        L.ones(2, 2, dtype=L.float16), L.zeros(2), L.ones(2), weight=L.ones(2),  # float16
        bias=L.ones(2), training=True).dtype,                   # rounds apart within 1e-6)
    "batch_norm of float16, float16 weight, float32 stats": lambda L: _F(L).batch_norm(
        L.ones(2, 2, dtype=L.float16), L.zeros(2), L.ones(2), weight=L.ones(2, dtype=L.float16)),
    # convolutions: bool refused by the kernel (before the weight's dtype is compared); an
    # empty batch returns before the dtypes are compared (the weight's dtype where it is of
    # a higher kind)
    "conv1d of bool": lambda L: _F(L).conv1d(L.ones(1, 1, 2, dtype=L.bool),
                                             L.ones(1, 1, 1, dtype=L.bool)),
    "conv2d of bool, unbatched": lambda L: _F(L).conv2d(L.ones(1, 2, 2, dtype=L.bool),
                                                        L.ones(1, 1, 1, 1, dtype=L.bool)),
    "conv2d of bool, float weight": lambda L: _F(L).conv2d(L.ones(1, 1, 2, 2, dtype=L.bool),
                                                           L.ones(1, 1, 1, 1)),
    "conv2d of float, bool weight": lambda L: _F(L).conv2d(L.ones(1, 1, 2, 2),
                                                           L.ones(1, 1, 1, 1, dtype=L.bool)),
    "conv1d of bool, dilated": lambda L: _F(L).conv1d(L.ones(1, 1, 4, dtype=L.bool),
                                                      L.ones(1, 1, 2, dtype=L.bool), dilation=2),
    "conv3d of bool": lambda L: _F(L).conv3d(L.ones(1, 1, 2, 2, 2, dtype=L.bool),
                                             L.ones(1, 1, 1, 1, 1, dtype=L.bool)),
    "conv_transpose1d of bool": lambda L: _F(L).conv_transpose1d(
        L.ones(1, 1, 2, dtype=L.bool), L.ones(1, 1, 1, dtype=L.bool)),
    # rank checks: F.pad of a 0-d tensor; pooling of 0-d, 1-d and 2-d inputs. PyTorch's
    # avg_pool2d reads size(-3) first; adaptive_avg_pool2d to (1, 1) is a mean over the last
    # two axes (any rank from 2, an empty plane gives nan); adaptive_avg_pool1d to 1 likewise
    "pad of 0-d": lambda L: _F(L).pad(L.tensor(1.), (1, 1)),
    "pad of 0-d, no padding": lambda L: _F(L).pad(L.tensor(1.), ()),
    "pad of 0-d, reflect": lambda L: _F(L).pad(L.tensor(1.), (1, 1), mode="reflect"),
    "avg_pool2d of 0-d": lambda L: _F(L).avg_pool2d(L.tensor(1.), 1),
    "avg_pool2d of 1-d": lambda L: _F(L).avg_pool2d(L.ones(4), 1),
    "avg_pool2d of [2, 0]": lambda L: _F(L).avg_pool2d(L.ones(2, 0), 1),
    "avg_pool2d of 2-d int": lambda L: _F(L).avg_pool2d(L.ones(2, 3, dtype=L.int64), 1),
    "avg_pool1d of 1-d": lambda L: _F(L).avg_pool1d(L.ones(4), 1),
    "avg_pool1d of [2, 0]": lambda L: _F(L).avg_pool1d(L.ones(2, 0), 1),
    "max_pool2d of 1-d": lambda L: _F(L).max_pool2d(L.ones(4), 1),
    "max_pool1d of [2, 0]": lambda L: _F(L).max_pool1d(L.ones(2, 0), 1),
    "adaptive_avg_pool2d of 0-d": lambda L: _F(L).adaptive_avg_pool2d(L.tensor(1.), 1),
    "adaptive_avg_pool2d of 1-d": lambda L: _F(L).adaptive_avg_pool2d(L.ones(4), 1),
    "adaptive_avg_pool2d of [2, 0]": lambda L: _F(L).adaptive_avg_pool2d(L.ones(2, 0), 1),
    "adaptive_avg_pool2d of 2-d": _grad(lambda L, x: _F(L).adaptive_avg_pool2d(
        x * L.arange(6.).reshape(2, 3), 1), 2, 3),
    "adaptive_avg_pool2d of 2-d, to 2": lambda L: _F(L).adaptive_avg_pool2d(L.ones(2, 3), 2),
    "adaptive_avg_pool2d of 5-d": lambda L: _F(L).adaptive_avg_pool2d(L.ones(1, 1, 2, 2, 3), 1),
    "adaptive_avg_pool2d, empty plane": lambda L: _F(L).adaptive_avg_pool2d(L.ones(1, 2, 0, 3),
                                                                            (1, 1)),
    "adaptive_avg_pool2d, empty plane, (1, None)": lambda L: _F(L).adaptive_avg_pool2d(
        L.ones(1, 2, 0, 1), (1, None)),
    "adaptive_avg_pool2d of int, to 1": lambda L: _F(L).adaptive_avg_pool2d(
        L.ones(1, 2, 2, 3, dtype=L.int64), 1),
    "adaptive_avg_pool2d of int, to 2": lambda L: _F(L).adaptive_avg_pool2d(
        L.ones(1, 2, 2, 3, dtype=L.int64), 2),
    "adaptive_avg_pool2d of float16, to 1": lambda L: _F(L).adaptive_avg_pool2d(
        L.ones(1, 2, 2, 3, dtype=L.float16), 1),
    "adaptive_avg_pool2d of 1-d, (None, 1)": lambda L: _F(L).adaptive_avg_pool2d(L.ones(3),
                                                                                  (None, 1)),
    "adaptive_avg_pool2d of 2-d, (1, None)": lambda L: _F(L).adaptive_avg_pool2d(L.ones(2, 1),
                                                                                  (1, None)),
    "adaptive_max_pool2d of 2-d, (None, 1)": lambda L: _F(L).adaptive_max_pool2d(L.ones(2, 3),
                                                                                  (None, 1)),
    "adaptive_avg_pool2d of 2-d, (5, 4)": lambda L: _F(L).adaptive_avg_pool2d(L.ones(3, 4),
                                                                               (5, 4)),
    "adaptive_avg_pool2d of 2-d, [1, 1]": lambda L: _F(L).adaptive_avg_pool2d(L.ones(3, 4),
                                                                               [1, 1]),
    "adaptive_max_pool2d of 1-d, (1, 1)": lambda L: _F(L).adaptive_max_pool2d(L.ones(3), (1, 1)),
    "adaptive_max_pool1d of 1-d, (1,)": lambda L: _F(L).adaptive_max_pool1d(L.ones(3), (1,)),
    "adaptive_avg_pool1d of [2, 0]": lambda L: _F(L).adaptive_avg_pool1d(L.ones(2, 0), 1),
    "adaptive_avg_pool1d of [2, 0], to 2": lambda L: _F(L).adaptive_avg_pool1d(L.ones(2, 0), 2),
    "adaptive_avg_pool1d of [1, 2, 0]": lambda L: _F(L).adaptive_avg_pool1d(L.ones(1, 2, 0), 1),
    "adaptive_avg_pool1d of 4-d": lambda L: _F(L).adaptive_avg_pool1d(L.ones(1, 1, 2, 3), 1),
    "adaptive_avg_pool1d of int, to 1": lambda L: _F(L).adaptive_avg_pool1d(
        L.ones(2, 3, dtype=L.int64), 1),
    # linear: a bias of another dtype is refused by the one addmm of a 2-d or contiguous input
    # and added in place (cast to the result's dtype) after matmul otherwise; no bool kernel
    "linear, float64 bias": lambda L: _F(L).linear(L.ones(2, 3), L.ones(4, 3),
                                                   L.ones(4, dtype=L.float64)),
    "linear, 1-d input, float64 bias": lambda L: _F(L).linear(L.ones(3), L.ones(4, 3),
                                                              L.ones(4, dtype=L.float64)),
    "linear, contiguous 3-d input, int bias": lambda L: _F(L).linear(
        L.ones(2, 2, 3), L.ones(4, 3), L.ones(4, dtype=L.int64)),
    "linear, transposed 3-d input, float64 bias": lambda L: _linear_mixed(L, L.float32,
                                                                          L.float64),
    "linear, transposed 3-d input, int bias": lambda L: _linear_mixed(L, L.float32, L.int64),
    "linear, transposed int input, float bias": lambda L: _linear_mixed(L, L.int64, L.float32),
    "linear, transposed int32 input, int64 bias": lambda L: _linear_mixed(L, L.int32, L.int64),
    "linear, expanded 3-d input, float16 bias": lambda L: _F(L).linear(
        L.ones(1, 2, 3).expand(2, 2, 3), L.ones(4, 3), L.ones(4, dtype=L.float16)),
    "linear of bool": lambda L: _F(L).linear(L.ones(2, 3, dtype=L.bool),
                                             L.ones(4, 3, dtype=L.bool)),
    "linear of bool, bool bias": lambda L: _F(L).linear(
        L.ones(2, 3, dtype=L.bool), L.ones(4, 3, dtype=L.bool), L.ones(4, dtype=L.bool)),
    "linear of bool, float bias": lambda L: _F(L).linear(
        L.ones(2, 3, dtype=L.bool), L.ones(4, 3, dtype=L.bool), L.ones(4)),
    "linear of transposed bool, float bias": lambda L: _F(L).linear(
        L.ones(2, 3, 2, dtype=L.bool).mT, L.ones(4, 3, dtype=L.bool), L.ones(4)),
    "conv_transpose1d of int32, float64 weight": lambda L: _F(L).conv_transpose1d(
        L.ones(1, 1, 2, dtype=L.int32), L.ones(1, 1, 1, dtype=L.float64)),
    "conv_transpose2d of uint8": lambda L: _F(L).conv_transpose2d(
        L.ones(1, 1, 2, 2, dtype=L.uint8), L.ones(1, 1, 1, 1, dtype=L.uint8)),
    "conv_transpose2d of int64": lambda L: _F(L).conv_transpose2d(
        L.ones(1, 1, 2, 2, dtype=L.int64), L.ones(1, 1, 1, 1, dtype=L.int64)),
    "conv_transpose3d of bool": lambda L: _F(L).conv_transpose3d(
        L.ones(1, 1, 2, 2, 2, dtype=L.bool), L.ones(1, 1, 1, 1, 1, dtype=L.bool)),
    "conv2d of bool, empty batch": lambda L: _F(L).conv2d(L.ones(0, 1, 2, 2, dtype=L.bool),
                                                          L.ones(1, 1, 1, 1, dtype=L.bool)),
    "conv2d of int": lambda L: _F(L).conv2d(L.ones(1, 1, 2, 2, dtype=L.int64),
                                            L.ones(1, 1, 1, 1, dtype=L.int64)),
    "conv2d, empty batch, float64 weight": _grad(lambda L, x: _F(L).conv2d(
        x, L.ones(2, 1, 2, 2, dtype=L.float64)), 0, 1, 3, 3, dtype="float32"),
    "conv1d, empty batch, float64 weight": lambda L: _F(L).conv1d(
        L.ones(0, 1, 2), L.ones(1, 1, 1, dtype=L.float64)),
    "conv2d, empty int batch, float weight": lambda L: _F(L).conv2d(
        L.ones(0, 1, 2, 2, dtype=L.int64), L.ones(1, 1, 1, 1)),
    "conv2d, empty bool batch, uint8 weight": lambda L: _F(L).conv2d(
        L.ones(0, 1, 2, 2, dtype=L.bool), L.ones(1, 1, 1, 1, dtype=L.uint8)),
    "conv2d, empty float16 batch, float64 weight": lambda L: _F(L).conv2d(
        L.ones(0, 1, 2, 2, dtype=L.float16), L.ones(1, 1, 1, 1, dtype=L.float64)),
    "conv2d, empty batch, float64 bias": lambda L: _F(L).conv2d(
        L.ones(0, 1, 2, 2), L.ones(1, 1, 1, 1), L.ones(1, dtype=L.float64)),
    "conv_transpose2d, empty batch, float64 weight": lambda L: _F(L).conv_transpose2d(
        L.ones(0, 1, 2, 2), L.ones(1, 1, 1, 1, dtype=L.float64)),
    "conv_transpose2d, empty int batch, float64 weight": lambda L: _F(L).conv_transpose2d(
        L.ones(0, 1, 2, 2, dtype=L.int64), L.ones(1, 2, 2, 2, dtype=L.float64),
        L.ones(2, dtype=L.int64)),
}
CASES.update(FUZZER_FINDS)

# Fixed by other engineers (issue #16 names them); strict xfail until their fix lands.
OTHERS = {
    "flip copies": (_write_flip, "flip returns a view (core ops)"),
    "flip((0, 0))": (lambda L: L.ones(3).flip((0, 0)), "numpy's 'repeated axis' (core ops)"),
    "conv2d backward, empty batch": (_grad(lambda L, x: L.nn.functional.conv2d(
        x, L.ones(2, 1, 3, 3, dtype=L.float64)), 0, 1, 5, 5), "conv"),
    "conv_transpose2d, empty batch": (lambda L: L.nn.functional.conv_transpose2d(
        L.ones(0, 1, 3, 3), L.ones(1, 2, 3, 3)), "conv"),
    "adaptive_max_pool2d, empty batch": (lambda L: L.nn.functional.adaptive_max_pool2d(
        L.ones(0, 1, 4, 4), 2), "pool"),
    "max_pool2d of bool": (lambda L: L.nn.functional.max_pool2d(
        L.ones(1, 1, 2, 2, dtype=L.bool), 2), "pool"),
    "avg_pool2d(stride=())": (lambda L: L.nn.functional.avg_pool2d(
        L.ones(1, 1, 4, 4), 2, stride=()), "pool"),
    "conv2d of bool": (lambda L: L.nn.functional.conv2d(
        L.ones(1, 1, 2, 2, dtype=L.bool), L.ones(1, 1, 1, 1, dtype=L.bool)), "conv"),
    "normalize of a zero vector, gradient": (_grad(lambda L, x: L.nn.functional.normalize(
        x * 0, dim=0), 3), "loss/normalization"),
    "batch_norm, wrong running_mean shape": (lambda L: L.nn.functional.batch_norm(
        L.ones(2, 3), L.zeros(4), L.ones(4)), "loss/normalization"),
    "batch_norm, wrong weight shape": (lambda L: L.nn.functional.batch_norm(
        L.ones(2, 3), L.zeros(3), L.ones(3), weight=L.ones(2)), "loss/normalization"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_like_torch(name):
    check(CASES[name])


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_like_torch_fixed_elsewhere(name, request):
    f, owner = OTHERS[name]
    if name in STILL_FAILING:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"being fixed: {owner}"))
    check(f)


# Those of OTHERS that still fail at the time of writing (the list shrinks as fixes land).
STILL_FAILING = set()


# ----------------------------------------------------------------------------------------------
# Messages: no numpy words, the argument and the value named
# ----------------------------------------------------------------------------------------------
def test_overflow_message_names_the_value_and_range():
    with pytest.raises(RuntimeError, match=r"uint8 without overflow \(got 300; uint8 holds "
                                           r"\[0, 255\]\)"):
        minigrad.tensor([1, 300], dtype=minigrad.uint8)


def test_legacy_constructor_messages():
    with pytest.raises(TypeError, match="data must be a sequence"):
        minigrad.Tensor(2.5)
    with pytest.raises(TypeError, match=r'failed to unpack the object at pos 2 with error "type '
                                        r'must be tuple of ints,but got float"'):
        minigrad.Tensor(2, 3.0)


def test_reshape_message_names_the_size():
    # PyTorch's parser: a first argument that is no int is the sequence, so 3 is one too many
    with pytest.raises(TypeError, match=r"reshape\(\) takes 1 positional argument but 2 were"):
        minigrad.ones(6).reshape(2.5, 3)
    with pytest.raises(TypeError, match=r"'shape' \(position 1\) must be tuple of ints, but "
                                        r"found element of type float at pos 0"):
        minigrad.ones(6).reshape((2.5, 3))


def test_legacy_constructor_shares_memory_with_a_tensor():
    t = minigrad.tensor([1., 2.])
    minigrad.Tensor(t)[0] = 5.
    assert t.tolist() == [5., 2.]


# ----------------------------------------------------------------------------------------------
# Checkpoints: every dtype safetensors holds that torch can
# ----------------------------------------------------------------------------------------------
safetensors_torch = pytest.importorskip("safetensors.torch")

_WIDE = {"float8_e4m3fn": "float32", "float8_e5m2": "float32", "float8_e4m3fnuz": "float32",
         "float8_e5m2fnuz": "float32"}
_NATIVE = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
           "float16", "bfloat16", "float32", "float64"]


def _sample(dtype):
    if dtype.itemsize == 1 and dtype.is_floating_point:
        return torch.arange(256, dtype=torch.uint8).view(dtype)     # every 8-bit code
    if dtype.is_floating_point:
        return torch.tensor([0., -0., 1.5, -3.25, 1e-3, 65504., float("inf"), float("nan")],
                            dtype=torch.float32).to(dtype).reshape(2, 4)
    if dtype == torch.bool:
        return torch.tensor([[True, False], [False, True]])
    info = torch.iinfo(dtype)
    hi = min(info.max, 2 ** 63 - 1)
    return torch.tensor([info.min, 0, 1, hi], dtype=torch.int64 if dtype != torch.uint64
                        else torch.uint64).to(dtype)


@pytest.mark.parametrize("name", _NATIVE + sorted(_WIDE))
def test_load_every_safetensors_dtype_torch_has(name):
    dtype = getattr(torch, name)
    x = _sample(dtype)
    data = safetensors_torch.save({"x": x})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = minigrad.load(io.BytesIO(data))["x"]
    assert y.dtype.name == _WIDE.get(name, name)
    assert tuple(y.shape) == tuple(x.shape)
    wide = torch.float64 if dtype.is_floating_point else torch.int64
    expected = x.to(wide).numpy() if dtype != torch.uint64 else x.numpy().astype(np.int64)
    got = y.float().numpy() if name == "bfloat16" else y.numpy()   # (numpy() refuses bf16)
    np.testing.assert_array_equal(got.astype(expected.dtype), expected)
    notes = [str(w.message) for w in caught]
    assert bool(notes) == (name in _WIDE)
    if name in _WIDE:
        assert "converted exactly: 'x'" in notes[0] and _WIDE[name] in notes[0]


def test_uint64_beyond_int64_loads_as_uint64():
    data = safetensors_torch.save({"big": torch.tensor([2 ** 63, 2 ** 64 - 1],
                                                       dtype=torch.uint64)})
    y = minigrad.load(io.BytesIO(data))["big"]
    assert y.dtype == minigrad.uint64 and y.tolist() == [2 ** 63, 2 ** 64 - 1]


def test_float4_is_refused_by_name():
    header = {"q": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}
    with pytest.raises(ValueError, match=r"'q' as F4 \(float4\)"):
        minigrad.load(_file(header, b"\x00"))


def _file(header, payload=b""):
    raw = json.dumps(header).encode() if isinstance(header, dict) else header
    return io.BytesIO(struct.pack("<Q", len(raw)) + raw + payload)


@pytest.mark.parametrize("header, match", [
    (b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not valid JSON: JSON nested too deeply"),
    ({"__metadata__": {"minigrad": "[" * 100_000 + "]" * 100_000}}, "damaged minigrad metadata"),
    ({"__metadata__": {"minigrad": '{"version": 1, "tree": ' + '{"l": [' * 250 + '{"v": 1}'
                       + "]}" * 250 + "}"}}, "nested more than 200 levels"),
    ({"__metadata__": {"minigrad": json.dumps({"version": 1, "tree": [1, 2]})}},
     "damaged minigrad metadata"),
    ({"__metadata__": {"minigrad": json.dumps({"version": 1, "tree": {"v": {"a": 1}}})}},
     "damaged minigrad metadata"),
    ({"__metadata__": {"minigrad": 5}}, "malformed __metadata__"),
    ({"__metadata__": []}, "malformed __metadata__"),
    ({"x": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 4]}}, "malformed header entry"),
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [4, 0]}}, "malformed header entry"),
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, "needs 8 bytes"),
    ({"x": {"dtype": "F32", "shape": "2", "data_offsets": [0, 4]}}, "malformed header entry"),
    ({"x": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}}, "malformed header entry"),
    ({"x": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 4]}}, "Q9 \\(an unknown dtype\\)"),
])
def test_crafted_headers_give_a_clear_error(header, match):
    with pytest.raises(ValueError, match=match):
        minigrad.load(_file(header, b"\0" * 16))


def test_saving_a_self_referencing_list_is_a_clear_error():
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested more than 200 levels"):
        minigrad.save(loop, io.BytesIO())
