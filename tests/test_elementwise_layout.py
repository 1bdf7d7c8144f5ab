"""The memory layout (strides) of pointwise results, beside PyTorch's: the result of an op
whose operands are laid out differently follows the first operand (channels-last x + a
row-major y is channels-last, y + x row-major), a broadcast operand takes no part, where()
follows its condition first, a number base of pow gives a row-major result, fill keeps the
input's layout.  Each case runs the same program on both libraries, from the same numpy
values, and compares strides (and values)."""
import contextlib

import numpy as np
import pytest
import torch

import minigrad

RNG = np.random.default_rng(7)
A = (RNG.standard_normal((2, 3, 4, 5)) + 3).astype(np.float32)
B = (RNG.standard_normal((2, 3, 4, 5)) + 3).astype(np.float32)
I = RNG.integers(1, 7, (2, 3, 4, 5))
J = RNG.integers(1, 7, (2, 3, 4, 5))
M = (RNG.standard_normal((5, 4)) + 3).astype(np.float32)
N = (RNG.standard_normal((4, 5)) + 3).astype(np.float32)
BIAS = RNG.standard_normal((3, 1, 1)).astype(np.float32)


def cl(L, array):
    """``array`` as a channels-last tensor of library L."""
    return L.tensor(array).contiguous(memory_format=L.channels_last)


def t(L, array):
    """The transpose of a row-major tensor of ``array.T`` (values of ``array``)."""
    return L.tensor(np.ascontiguousarray(array.T)).t()


CASES = {
    "cl + c": lambda L: cl(L, A) + L.tensor(B),
    "c + cl": lambda L: L.tensor(B) + cl(L, A),
    "cl - c": lambda L: cl(L, A) - L.tensor(B),
    "cl * c": lambda L: cl(L, A) * L.tensor(B),
    "cl / c": lambda L: cl(L, A) / L.tensor(B),
    "cl // c": lambda L: cl(L, A) // L.tensor(B),
    "cl % c": lambda L: cl(L, A) % L.tensor(B),
    "cl + bias": lambda L: cl(L, A) + L.tensor(BIAS),
    "cl * 2": lambda L: cl(L, A) * 2,
    "2 - cl": lambda L: 2 - cl(L, A),
    "t + c": lambda L: t(L, N) + L.tensor(N),
    "c + t": lambda L: L.tensor(N) + t(L, N),
    "t + 1": lambda L: t(L, N) + 1,
    "t * t": lambda L: t(L, N) * t(L, N),
    "row + t": lambda L: L.tensor(N[0]) + t(L, N),
    "0-d + t": lambda L: L.tensor(2.0) + t(L, N),
    "double cl + c": lambda L: cl(L, A).double() + L.tensor(B),
    "c + double cl": lambda L: L.tensor(B) + cl(L, A).double(),
    "cl > c": lambda L: cl(L, A) > L.tensor(B),
    "c == cl": lambda L: L.tensor(B) == cl(L, A),
    "cl <= 3": lambda L: cl(L, A) <= 3,
    "logical_and cl c": lambda L: L.logical_and(cl(L, A) > 3, L.tensor(B) > 3),
    "bitwise_and cl c": lambda L: cl(L, I) & L.tensor(J),
    "bitwise_xor cl c": lambda L: L.bitwise_xor(cl(L, I), L.tensor(J)),
    "shift cl c": lambda L: L.bitwise_left_shift(cl(L, I), L.tensor(J)),
    "where cl cond": lambda L: L.where(cl(L, A) > 3, cl(L, A), L.tensor(B)),
    "where c cond": lambda L: L.where(L.tensor(B) > 3, cl(L, A), L.tensor(B)),
    "where broadcast cond": lambda L: L.where(L.tensor(B[:, :1]) > 3, cl(L, A), L.tensor(B)),
    "where cl, number": lambda L: L.where(cl(L, A) > 3, cl(L, A), 0.0),
    "maximum cl c": lambda L: L.maximum(cl(L, A), L.tensor(B)),
    "minimum t c": lambda L: L.minimum(t(L, N), L.tensor(N)),
    "fmax cl c": lambda L: L.fmax(cl(L, A), L.tensor(B)),
    "clamp cl by tensor": lambda L: L.clamp(cl(L, A), L.tensor(B)),
    "clamp t by tensors": lambda L: t(L, N).clamp(L.tensor(N) - 1, L.tensor(N) + 1),
    "lerp cl c": lambda L: L.lerp(cl(L, A), L.tensor(B), 0.3),
    "addcmul cl c c": lambda L: L.addcmul(cl(L, A), L.tensor(B), L.tensor(B)),
    "addcdiv cl c c": lambda L: L.addcdiv(cl(L, A), L.tensor(B), L.tensor(B)),
    "pow cl c": lambda L: cl(L, A) ** L.tensor(B),
    "number ** t": lambda L: 2 ** t(L, N),
    "number ** cl": lambda L: L.pow(1.5, cl(L, A)),
    "atan2 t c": lambda L: L.atan2(t(L, N), L.tensor(N)),
    "fmod cl c": lambda L: L.fmod(cl(L, A), L.tensor(B)),
    "hypot cl c": lambda L: L.hypot(cl(L, A), L.tensor(B)),
    "copysign cl c": lambda L: L.copysign(cl(L, A), L.tensor(B)),
    "logaddexp cl c": lambda L: L.logaddexp(cl(L, A), L.tensor(B)),
    "xlogy cl c": lambda L: L.xlogy(cl(L, A), L.tensor(B)),
    "nextafter cl c": lambda L: L.nextafter(cl(L, A), L.tensor(B)),
    "heaviside cl c": lambda L: L.heaviside(cl(L, A) - 3, L.tensor(B)),
    "lerp c cl by tensor weight": lambda L: L.lerp(L.tensor(B), cl(L, A), cl(L, A) / 8),
    "lerp cl c by tensor weight": lambda L: L.lerp(cl(L, A), L.tensor(B), L.tensor(B) / 8),
    "masked_fill c by cl mask": lambda L: L.tensor(B).masked_fill(cl(L, A) > 3, 0.0),
    "masked_fill cl by cl mask": lambda L: cl(L, A).masked_fill(cl(L, A) > 3, 0.0),
    "masked_fill t by its mask": lambda L: t(L, N).masked_fill(t(L, N) > 3, 1.0),
    "fill cl": lambda L: L.fill(cl(L, A), 2.0),
    "fill t": lambda L: L.fill(t(L, N), 2.0),
    "relu cl": lambda L: L.relu(cl(L, A)),
    "exp of a strided t": lambda L: t(L, N)[:, ::2].exp(),
    "double of cl": lambda L: cl(L, A).double(),
    "in place cl.add_(c)": lambda L: cl(L, A).add_(L.tensor(B)),
    "in place c.mul_(t)": lambda L: L.tensor(N).mul_(t(L, N)),
}


def _run(lib, program):
    out = program(lib)
    return tuple(out.stride()), out.detach().double().numpy()


@pytest.mark.parametrize("name", list(CASES))
def test_result_layout_matches_torch(name):
    ts, tv = _run(torch, CASES[name])
    ms, mv = _run(minigrad, CASES[name])
    assert ms == ts
    np.testing.assert_allclose(mv, tv, rtol=1e-5, atol=1e-6)


def _random_operand(lib, array, perm):
    """``array`` as a tensor whose memory runs in the dim order ``perm`` (outermost first)."""
    x = lib.tensor(array)
    if perm is None:
        return x
    return x.permute(*perm).contiguous().permute(*[int(i) for i in np.argsort(perm)])


@pytest.mark.parametrize("seed", range(6))
def test_random_permutations_and_broadcasts(seed):
    """Operands of 2 to 4 dims in random dim orders, some broadcast (size-1 or missing
    dims): the result's layout as PyTorch's, for the dims longer than 1 (where the strides
    of size-1 dims may differ, see the module's report)."""
    rng = np.random.default_rng(seed)
    ops = {
        "add": lambda L, a, b, c: a + b, "mul": lambda L, a, b, c: a * b,
        "div": lambda L, a, b, c: a / b, "gt": lambda L, a, b, c: a > b,
        "where": lambda L, a, b, c: L.where(c > 0, a, b),
        "maximum": lambda L, a, b, c: L.maximum(a, b),
        "addcmul": lambda L, a, b, c: L.addcmul(a, b, c),
        "neg": lambda L, a, b, c: -a, "sigmoid": lambda L, a, b, c: L.sigmoid(a),
        "rsub": lambda L, a, b, c: 1.5 - a,
    }
    for _ in range(25):
        nd = int(rng.integers(2, 5))
        full = [int(rng.choice([1, 2, 3, 4])) for _ in range(nd)]
        shapes = []
        for _ in range(3):
            s, r = list(full), rng.random()
            if r < 0.2:
                s = [1 if rng.random() < 0.5 else n for n in s]
            elif r < 0.3:
                s = s[int(rng.integers(1, nd)):]
            shapes.append(tuple(s))
        arrays = [rng.standard_normal(s).astype(np.float32) + 3 for s in shapes]
        perms = [[int(i) for i in rng.permutation(len(s))]
                 if len(s) >= 2 and rng.random() < 0.6 else None for s in shapes]
        for name, op in ops.items():
            got = []
            for lib in (torch, minigrad):
                out = op(lib, *(_random_operand(lib, a, p) for a, p in zip(arrays, perms)))
                got.append((tuple(out.shape), tuple(st for st, n in zip(out.stride(), out.shape)
                                                    if n != 1)))
            assert got[1] == got[0], (name, shapes, perms)


def test_gradients_of_a_channels_last_chain():
    """x.grad of a channels-last leaf after conv, relu, an add of a row-major tensor and a
    product: laid out as PyTorch's (channels-last), values equal."""
    w = (RNG.standard_normal((3, 3, 3, 3)) * 0.2).astype(np.float32)
    grads = []
    for lib in (torch, minigrad):
        x = cl(lib, A).requires_grad_()
        y = lib.nn.functional.conv2d(x, lib.tensor(w), padding=1)
        z = (lib.relu(y) + lib.tensor(B)) * lib.tensor(A)
        z.sum().backward()
        grads.append((z.stride(), x.grad.stride(), x.grad.numpy()))
    assert grads[1][:2] == grads[0][:2]
    np.testing.assert_allclose(grads[1][2], grads[0][2], rtol=1e-4, atol=1e-5)


def test_grad_of_add_and_sub_of_broadcast_operands():
    """Add's and Sub's backward (which read the operands' shapes from the node) sum the
    gradient back to each operand's shape."""
    got = []
    for lib in (torch, minigrad):
        a = cl(lib, A).requires_grad_()
        b = lib.tensor(BIAS).requires_grad_()
        ((a + b) * 2 - b).sum().backward()
        (a - b).sum().backward()
        got.append((a.grad.numpy(), b.grad.numpy(), a.grad.stride()))
    np.testing.assert_allclose(got[1][0], got[0][0])
    np.testing.assert_allclose(got[1][1], got[0][1])
    assert got[1][2] == got[0][2]


def test_division_by_zero_is_silent_and_ieee():
    """x / 0 gives inf and nan without a numpy RuntimeWarning, as PyTorch."""
    import warnings
    got = []
    for lib in (torch, minigrad):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x = lib.tensor([1.0, 0.0, -1.0])
            got.append(((x / 0).numpy(), (x / lib.zeros(3)).numpy(), x.clone().div_(0).numpy()))
    for m, r in zip(got[1], got[0]):
        np.testing.assert_array_equal(m, r)


@pytest.mark.parametrize("program", [
    lambda L: L.tensor([-3, 5, 100], dtype=L.int8) < 200,
    lambda L: L.tensor([1.0, 2.0]) > 1,
    lambda L: L.tensor([1.0, 2.0]) == L.tensor([1.0, 3.0], dtype=L.float64),
    lambda L: L.tensor([1, 2], dtype=L.uint8) >= L.tensor(-1, dtype=L.int16),
    lambda L: L.tensor([1.5, 2.0]) != 2,
])
def test_comparisons_beside_torch(program):
    """The comparisons' shortcut (two arrays of one dtype, a float array and a number)
    leaves the other cases to the promotions and wraps they had."""
    np.testing.assert_array_equal(program(minigrad).numpy(), program(torch).numpy())


@contextlib.contextmanager
def _warn_always(lib):
    before = lib.is_warn_always_enabled()
    lib.set_warn_always(True)
    try:
        yield
    finally:
        lib.set_warn_always(before)


def test_where_uint8_condition_warns_as_torch():
    import warnings
    got = []
    for lib in (torch, minigrad):
        # (torch warns once a process unless told to warn always: another test may have
        # used up its warning)
        with warnings.catch_warnings(record=True) as caught, _warn_always(lib):
            warnings.simplefilter("always")
            out = lib.where(lib.tensor([1, 0], dtype=lib.uint8), lib.tensor([1.0, 2.0]), 0.0)
        got.append((out.numpy(), [type(w.message) for w in caught]))
    np.testing.assert_array_equal(got[1][0], got[0][0])
    assert UserWarning in got[1][1] and UserWarning in got[0][1]
