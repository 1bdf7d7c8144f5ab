"""PyTorch's refusals of three kinds, beside torch: a number (or list, array) where a function
takes a Tensor first (``torch.eq(2, t)``, the unbound ``Tensor.__radd__(2, 3)``); an ``out=``
sharing memory with an input or with itself; an ``out=`` dtype an op requires exactly.

Each case runs once with ``torch`` and once with ``minigrad`` as the library: both must raise
the same exception type with the same message, or both return the same values (the calls
PyTorch accepts: ``torch.pow(2, t)``, ``torch.add(a, b, out=a)``, ``torch.where(c, 1, 2)``).
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _x(L, dtype=None):
    return L.arange(1.0, 7.0, dtype=dtype or L.float32)


def _m(L):
    return L.arange(16.0).reshape(4, 4) / 7 - 1


def _e(L, *shape, dtype=None):
    return L.empty(*shape, dtype=dtype or L.float32)


def _idx(L):
    return L.tensor([2, 1, 0])


def _partial_add(L):
    base = L.arange(7.0)
    return L.add(base[1:], 1.0, out=base[:-1])


def _full_add(L):
    a = L.arange(6.0)
    b = L.ones(6)
    return L.add(a, b, out=a)


def _written(call, *args):
    """Run ``call``; None where it returns (its values, read while written, are no test)."""
    call(*args)


# PyTorch's words for its tensor class, minigrad's for its own
def _words(message):
    return message.replace("'torch._C.TensorBase'", "'Tensor'")


CASES = {
    # a non-Tensor first argument: one signature names it, several are listed
    "eq(2, 3)": lambda L: L.eq(2, 3),
    "eq(2, t)": lambda L: L.eq(2, _x(L)),
    "ne(2.5, t)": lambda L: L.ne(2.5, _x(L)),
    "lt(True, t)": lambda L: L.lt(True, _x(L)),
    "ge(None, t)": lambda L: L.ge(None, _x(L)),
    "greater(2, t)": lambda L: L.greater(2, _x(L)),
    "eq(2, other=t)": lambda L: L.eq(2, other=_x(L)),
    "eq(2, t, out=t)": lambda L: L.eq(2, _x(L), out=_x(L)),
    "eq(input=2, other=t)": lambda L: L.eq(input=2, other=_x(L)),
    "eq(2, t, t, t)": lambda L: L.eq(2, _x(L), _x(L), _x(L)),
    "eq(2, t, x=1, out=t)": lambda L: L.eq(2, _x(L), x=1, out=_x(L)),
    "std(2, unbiased=True)": lambda L: L.std(2, unbiased=True),
    "var(2, [0, 1])": lambda L: L.var(2, [0, 1]),
    "var(2, (0, 1.5))": lambda L: L.var(2, (0, 1.5)),
    "moveaxis(2, [1], (2,))": lambda L: L.moveaxis(2, [1], (2,)),
    "hsplit(2, 3)": lambda L: L.hsplit(2, 3),
    "narrow(2, 0, t, 1)": lambda L: L.narrow(2, 0, _x(L), 1),
    "fill(2, dtype)": lambda L: L.fill(2, L.float32),
    "clamp_max(2, t)": lambda L: L.clamp_max(2, _x(L)),
    "clamp_min(2, 3)": lambda L: L.clamp_min(2, 3),
    "clamp(2)": lambda L: L.clamp(2),
    "copysign(2, t)": lambda L: L.copysign(2, _x(L)),
    "fmod(2, 3)": lambda L: L.fmod(2, 3),
    "std(2, 0)": lambda L: L.std(2, 0),
    "sum(2, dim=0)": lambda L: L.sum(2, dim=0),
    "squeeze(2)": lambda L: L.squeeze(2),
    "mm(2, t)": lambda L: L.mm(2, _m(L)),
    "where(2, t, t)": lambda L: L.where(2, _x(L), _x(L)),
    "atan2(2, 3)": lambda L: L.atan2(2, 3),
    "atan2(t, 2)": lambda L: L.atan2(_x(L), 2),
    "logical_and(2, t)": lambda L: L.logical_and(2, _x(L)),
    "logical_or(t, 2)": lambda L: L.logical_or(_x(L), 2),
    "dot(t, [1, 2])": lambda L: L.dot(_x(L), [1, 2]),
    "complex(2, 3)": lambda L: L.complex(2, 3),
    "abs(2)": lambda L: L.abs(2),
    "abs([1, 2])": lambda L: L.abs([1, 2]),
    "abs(ndarray)": lambda L: L.abs(np.ones(2)),
    "abs(input=2)": lambda L: L.abs(input=2),
    "exp(2.5)": lambda L: L.exp(2.5),
    "reshape((1, 2), (2,))": lambda L: L.reshape((1, 2), (2,)),
    # ... and what PyTorch takes
    "pow(2, t)": lambda L: L.pow(2, _x(L)),
    "add(2, t)": lambda L: L.add(2, _x(L)),
    "sub(2, t)": lambda L: L.sub(2, _x(L)),
    "mul(2, t)": lambda L: L.mul(2, _x(L)),
    "remainder(2, t)": lambda L: L.remainder(2, _x(L)),
    "add(2.0, 3.0)": lambda L: L.add(2.0, 3.0),
    "add(True, 2)": lambda L: L.add(True, 2),
    "sub(2, 3.5)": lambda L: L.sub(2, 3.5),
    "mul(True, False)": lambda L: L.mul(True, False),
    "div(2, 3)": lambda L: L.div(2, 3),
    "true_divide(2, 3j)": lambda L: L.true_divide(2, 3j),
    "remainder(2.0, 3.0)": lambda L: L.remainder(2.0, 3.0),
    "pow(2.0, 3.0)": lambda L: L.pow(2.0, 3.0),
    "pow(2, exponent=t)": lambda L: L.pow(2, exponent=_x(L)),
    "xlogy(2.0, 3)": lambda L: L.xlogy(2.0, 3),
    "bitwise_and(6, 3)": lambda L: L.bitwise_and(6, 3),
    "float_power(2, 3)": lambda L: L.float_power(2, 3),
    "xlogy(2, t)": lambda L: L.xlogy(2, _x(L)),
    "bitwise_and(6, t)": lambda L: L.bitwise_and(6, L.tensor([3, 5])),
    "where(c, 1, 2)": lambda L: L.where(_x(L) > 3, 1, 2),
    "eq(t, 2)": lambda L: L.eq(_x(L), 2),
    "clamp_max(t, 2)": lambda L: L.clamp_max(_x(L), 2),
    "abs(input=t)": lambda L: L.abs(input=_x(L)),
    # the operators: C-level ones refuse a non-Tensor self, Python-level ones decline
    "Tensor.__radd__(2, 3)": lambda L: L.Tensor.__radd__(2, 3),
    "Tensor.__rmul__(2, t)": lambda L: L.Tensor.__rmul__(2, _x(L)),
    "Tensor.__rand__(2, 3)": lambda L: L.Tensor.__rand__(2, 3),
    "Tensor.__ror__(2, t)": lambda L: L.Tensor.__ror__(2, L.tensor([1])),
    "Tensor.__rxor__(2.5, 3)": lambda L: L.Tensor.__rxor__(2.5, 3),
    "Tensor.__rsub__(2, 3)": lambda L: L.Tensor.__rsub__(2, 3),
    "Tensor.__rsub__(2, t)": lambda L: L.Tensor.__rsub__(2, _x(L)),
    "Tensor.__rpow__(2, 3)": lambda L: L.Tensor.__rpow__(2, 3),
    "Tensor.__rpow__(2, t)": lambda L: L.Tensor.__rpow__(2, _x(L)),
    "Tensor.__rmod__(2, 3)": lambda L: L.Tensor.__rmod__(2, 3),
    "Tensor.__rdiv__(2, 3)": lambda L: L.Tensor.__rdiv__(2, 3),
    "2 + t, 2 * t, 2 - t": lambda L: (2 + _x(L), 2 * _x(L), 2 - _x(L)),
    "2 ** t, 7 % t, 2 / t": lambda L: (2 ** _x(L), 7 % _x(L), 2 / _x(L)),
    "6 & t, 1 | t, 3 ^ t": lambda L: (6 & L.tensor([3]), 1 | L.tensor([2]), 3 ^ L.tensor([1])),
    # out= sharing memory with an input: gather and the like refuse even out=input
    "gather(x, 0, i, out=x)": lambda L: (lambda x: L.gather(x, 0, _idx(L), out=x))(_x(L)),
    "index_select(x, 0, i, out=x)":
        lambda L: (lambda x: L.index_select(x, 0, _idx(L), out=x))(_x(L)),
    "take(x, i, out=x)": lambda L: (lambda x: L.take(x, _idx(L), out=x))(_x(L)),
    "masked_select(x, m, out=x)":
        lambda L: (lambda x: L.masked_select(x, x > 2, out=x))(_x(L)),
    "masked_select(b, m, out=m)":
        lambda L: (lambda m: L.masked_select(m.clone(), m, out=m))(_x(L) > 2),
    "kthvalue(x, 2, out=(x, i))":
        lambda L: (lambda x: L.kthvalue(x, 2, out=(x, _e(L, 0, dtype=L.int64))))(_x(L)),
    "topk(m, 1, 0, out=(m[:1], i))":
        lambda L: (lambda m: L.topk(m, 1, 0, out=(m[:1], _e(L, 1, 4, dtype=L.int64))))(_m(L)),
    "cat([x, y], out=x)": lambda L: (lambda x: L.cat([x, _x(L)], out=x))(_x(L)),
    "cat([empty, y], out=empty)": lambda L: (lambda e: L.cat([e, _m(L)], out=e))(_e(L, 0)),
    "cross(a, b, out=a)":
        lambda L: (lambda a: L.cross(a, _m(L)[:3, :3], dim=1, out=a))(_m(L)[:3, :3].clone()),
    # elementwise ops take out=input, not a part of it
    "add(a, b, out=a)": _full_add,
    "add(a[1:], 1, out=a[:-1])": _partial_add,
    "cumsum(x, 0, out=x)": lambda L: (lambda x: L.cumsum(x, 0, out=x))(_x(L)),
    "sort(x, out=(x, i))": lambda L: (lambda x: L.sort(x, out=(x, _e(L, 6, dtype=L.int64))))(
        _x(L)),
    "sum(m, 0, out=m[0])": lambda L: _written(lambda m: L.sum(m, 0, out=m[0]), _m(L)),
    # out= whose elements share memory (an expanded tensor)
    "abs(x, out=expanded)": lambda L: L.abs(_x(L), out=_e(L, 1).expand(6)),
    "gather(x, 0, i, out=expanded)": lambda L: L.gather(_x(L), 0, _idx(L),
                                                        out=_e(L, 1).expand(3)),
    "bernoulli(p, out=expanded)": lambda L: L.bernoulli(_x(L) / 10, out=_e(L, 1).expand(6)),
    "cat([x, y], out=expanded)": lambda L: L.cat([_x(L), _x(L)], out=_e(L, 1).expand(12)),
    "sum(m, 0, out=zero strides)": lambda L: _written(
        lambda m: L.sum(m, 0, out=_e(L, 4).as_strided((4,), (0,))), _m(L)),
    # out= of the result's dtype only
    "aminmax(m, dim=0, out=(f32, f64))": lambda L: L.aminmax(
        _m(L), dim=0, out=(_e(L, 4), _e(L, 4, dtype=L.float64))),
    "gather(out=f64)": lambda L: L.gather(_x(L), 0, _idx(L), out=_e(L, 3, dtype=L.float64)),
    "amax(m, 0, out=int32)": lambda L: L.amax(_m(L), 0, out=_e(L, 4, dtype=L.int32)),
    "amin(m, 0, out=f64)": lambda L: L.amin(_m(L), 0, out=_e(L, 4, dtype=L.float64)),
    "complex(f64, f64, out=c64)": lambda L: L.complex(
        _x(L, L.float64), _x(L, L.float64), out=_e(L, 6, dtype=L.complex64)),
    "polar(f32, f32, out=c128)": lambda L: L.polar(
        _x(L), _x(L), out=_e(L, 6, dtype=L.complex128)),
    "abs(x, out=f64)": lambda L: L.abs(_x(L), out=_e(L, 6, dtype=L.float64)),
    "clamp(x, 0, 1, out=f64)": lambda L: L.clamp(_x(L), 0, 1, out=_e(L, 6, dtype=L.float64)),
    "clamp(x, t, t, out=f64)": lambda L: L.clamp(_x(L), L.zeros(6), L.ones(6),
                                                 out=_e(L, 6, dtype=L.float64)),
    "sort(x, out=(f32, int32))": lambda L: L.sort(_x(L), out=(_e(L, 6), _e(L, 6, dtype=L.int32))),
    "max(m, 0, out=(f64, long))": lambda L: L.max(
        _m(L), 0, out=(_e(L, 4, dtype=L.float64), _e(L, 4, dtype=L.int64))),
    "max(m, out=f64)": lambda L: L.max(_m(L), out=_e(L, (), dtype=L.float64)),
    "kthvalue(x, 2, out=(f32, int32))": lambda L: L.kthvalue(
        _x(L), 2, out=(_e(L, ()), _e(L, (), dtype=L.int32))),
    "mode(m, 0, out=(f64, long))": lambda L: L.mode(
        _m(L), 0, out=(_e(L, 4, dtype=L.float64), _e(L, 4, dtype=L.int64))),
    "median(m, 0, out=(f64, long))": lambda L: L.median(
        _m(L), 0, out=(_e(L, 4, dtype=L.float64), _e(L, 4, dtype=L.int64))),
    "cummax(x, 0, out=(f64, long))": lambda L: L.cummax(
        _x(L), 0, out=(_e(L, 6, dtype=L.float64), _e(L, 6, dtype=L.int64))),
    "dot(x, x, out=f64)": lambda L: L.dot(_x(L), _x(L), out=_e(L, (), dtype=L.float64)),
    "take(out=f64)": lambda L: L.take(_x(L), _idx(L), out=_e(L, 3, dtype=L.float64)),
    "index_select(out=f64)": lambda L: L.index_select(_x(L), 0, _idx(L),
                                                      out=_e(L, 3, dtype=L.float64)),
    "nan_to_num(out=f64)": lambda L: L.nan_to_num(_x(L), out=_e(L, 6, dtype=L.float64)),
    "histc(out=f64)": lambda L: L.histc(_x(L), 4, out=_e(L, 4, dtype=L.float64)),
    "tensordot(out=f64)": lambda L: L.tensordot(_m(L), _m(L), 1,
                                                out=_e(L, 4, 4, dtype=L.float64)),
    "signbit(out=uint8)": lambda L: L.signbit(_x(L), out=_e(L, 6, dtype=L.uint8)),
    "argmax(out=int32)": lambda L: L.argmax(_m(L), 0, out=_e(L, 4, dtype=L.int32)),
    "frexp(out=(f64, int32))": lambda L: L.frexp(
        _x(L), out=(_e(L, 6, dtype=L.float64), _e(L, 6, dtype=L.int32))),
    "linalg.vector_norm(out=f64)": lambda L: L.linalg.vector_norm(
        _m(L), dim=0, out=_e(L, 4, dtype=L.float64)),
    "exp(x, out=f64)": lambda L: L.exp(_x(L), out=_e(L, 6, dtype=L.float64)),
    "add(x, x, out=f64)": lambda L: L.add(_x(L), _x(L), out=_e(L, 6, dtype=L.float64)),
    "sum(m, 0, out=f64)": lambda L: L.sum(_m(L), 0, out=_e(L, 4, dtype=L.float64)),
    # complex()'s operand dtypes, in C++'s names
    "complex(f32, int32)": lambda L: L.complex(_x(L), _x(L).int()),
    "complex(f32, f64)": lambda L: L.complex(_x(L), _x(L, L.float64)),
    "complex(f16, f32)": lambda L: L.complex(_x(L).half(), _x(L)),
    "complex(bf16, bf16)": lambda L: L.complex(_x(L).bfloat16(), _x(L).bfloat16()),
    "polar(int64, f32)": lambda L: L.polar(_x(L).long(), _x(L)),
}


def _run(L, case):
    try:
        return "returned", case(L)
    except Exception as e:                      # noqa: BLE001 (the exception is the result)
        return type(e).__name__, _words(str(e))


def _values(result):
    if isinstance(result, (tuple, list)):
        return [_values(r) for r in result]
    if hasattr(result, "detach"):
        return result.detach().cpu().numpy() if isinstance(result, torch.Tensor) else \
            minigrad.Tensor.numpy(result.detach())
    return result


@pytest.mark.parametrize("name", list(CASES))
def test_beside_torch(name):
    expected_kind, expected = _run(torch, CASES[name])
    kind, got = _run(minigrad, CASES[name])
    assert kind == expected_kind, f"minigrad {kind}: {got!r}; torch {expected_kind}: {expected!r}"
    if kind != "returned":
        assert got == expected
        return
    want, have = _values(expected), _values(got)
    if isinstance(want, list):
        for w, h in zip(want, have):
            np.testing.assert_allclose(np.asarray(h), np.asarray(w), rtol=1e-6)
    elif isinstance(want, np.ndarray):
        np.testing.assert_allclose(np.asarray(have), want, rtol=1e-6)
    else:
        assert have == want
