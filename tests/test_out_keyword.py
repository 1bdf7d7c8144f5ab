"""``out=`` on every function PyTorch gives it, beside torch: the values land in ``out`` (its
dtype, resized when its shape differs), ``out`` is what comes back, and the refusals (autograd,
a narrowing cast) are torch's. Before, ~200 of these raised "unexpected keyword argument
'out'" and the ``torch.fft`` transforms and ``tensordot`` took ``out`` and ignored it."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _lib(mod, path):
    obj = mod
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _pair(values, dtype=np.float64):
    a = np.asarray(values, dtype=dtype)
    return minigrad.tensor(a), torch.tensor(a)


_RNG = np.random.default_rng(0)
_X = _RNG.standard_normal((3, 4))
_SQ = _RNG.standard_normal((4, 4)) + 4 * np.eye(4)
_POS = np.abs(_X) + 0.5
_UNIT = np.tanh(_X) * 0.9

# (function path, arguments as numpy arrays or plain values, keywords, out dtype)
CASES = [
    ("erf", (_X,), {}, "float64"),
    ("acos", (_UNIT,), {}, "float64"),
    ("arctan2", (_X, _POS), {}, "float64"),
    ("floor", (_X,), {}, "float64"),
    ("eq", (_X, _X.round()), {}, "bool"),
    ("logical_and", (_X > 0, _X < 1), {}, "bool"),
    ("addmm", (_SQ, _SQ, _SQ), {"beta": 0.5}, "float64"),
    ("addcmul", (_X, _X, _POS), {"value": 2.0}, "float64"),
    ("lerp", (_X, _POS, 0.25), {}, "float64"),
    ("diff", (_X,), {"dim": 1}, "float64"),
    ("cross", (_X[:, :3], _POS[:, :3]), {"dim": 1}, "float64"),
    ("kron", (_X[:2, :2], _SQ[:2, :2]), {}, "float64"),
    ("vstack", ([_X, _POS],), {}, "float64"),
    ("tensordot", (_X, _SQ), {"dims": 1}, "float64"),
    ("nonzero", (_X > 0,), {}, "int64"),
    ("masked_select", (_X, _X > 0), {}, "float64"),
    ("quantile", (_X, 0.3), {"dim": 1}, "float64"),
    ("searchsorted", (np.sort(_X, axis=1), _POS), {}, "int64"),
    ("scatter_add", (_X, 1, np.array([[0, 1, 0, 2]] * 3), _POS), {}, "float64"),
    ("index_add", (_X, 0, np.array([2, 0]), _POS[:2]), {}, "float64"),
    ("round", (_X * 10,), {"decimals": 1}, "float64"),
    ("fft.fft", (_X,), {}, "complex128"),
    ("fft.rfft2", (_X,), {}, "complex128"),
    ("fft.irfft", (_X,), {"n": 6}, "float64"),
    ("special.erfcx", (_X,), {}, "float64"),
    ("special.i0e", (_X,), {}, "float64"),
    ("special.xlog1py", (_POS, _X), {}, "float64"),
    ("linalg.inv", (_SQ,), {}, "float64"),
    ("linalg.det", (_SQ,), {}, "float64"),
    ("linalg.vector_norm", (_X,), {"ord": 3}, "float64"),
    ("linalg.matrix_power", (_SQ, 3), {}, "float64"),
    ("linalg.cross", (_X[:, :3], _POS[:, :3]), {}, "float64"),
    ("nn.functional.gelu", (_X,), {}, "float64"),
    ("nn.functional.linear", (_X, _SQ), {}, "float64"),
    ("nn.functional.normalize", (_X,), {"dim": 0}, "float64"),
    ("nn.functional.softplus", (_X,), {"beta": 2.0}, "float64"),
]


def _args(lib, args):
    def conv(a):
        if isinstance(a, np.ndarray):
            return lib.tensor(a)
        if isinstance(a, list):
            return [conv(v) for v in a]
        return a
    return tuple(conv(a) for a in args)


@pytest.mark.parametrize("path,args,kwargs,dtype", CASES, ids=[c[0] for c in CASES])
def test_out_receives_the_result(path, args, kwargs, dtype):
    expected = torch.empty(0, dtype=getattr(torch, dtype))
    got = minigrad.empty(0, dtype=getattr(minigrad, dtype))
    t_ret = _lib(torch, path)(*_args(torch, args), **kwargs, out=expected)
    m_ret = _lib(minigrad, path)(*_args(minigrad, args), **kwargs, out=got)
    assert m_ret is got and t_ret is expected
    assert tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_out_of_another_shape_is_resized_with_torchs_warning():
    (mx, tx) = _pair(_X)
    mo, to = minigrad.zeros(2, 2, dtype=minigrad.float64), torch.zeros(2, 2, dtype=torch.float64)
    with warnings.catch_warnings(record=True) as t_warn:
        warnings.simplefilter("always")
        torch.special.ndtr(tx, out=to)
    with warnings.catch_warnings(record=True) as m_warn:
        warnings.simplefilter("always")
        minigrad.special.ndtr(mx, out=mo)
    assert [str(w.message)[:40] for w in m_warn] == [str(w.message)[:40] for w in t_warn]
    np.testing.assert_allclose(mo.numpy(), to.numpy())


def test_tuple_outs():
    (ma, ta) = _pair(_SQ @ _SQ.T)
    m_out = (minigrad.empty(0, dtype=minigrad.float64), minigrad.empty(0, dtype=minigrad.float64))
    t_out = (torch.empty(0, dtype=torch.float64), torch.empty(0, dtype=torch.float64))
    minigrad.linalg.slogdet(ma, out=m_out)
    torch.linalg.slogdet(ta, out=t_out)
    for m, t in zip(m_out, t_out):
        np.testing.assert_allclose(m.numpy(), t.numpy())
    (mx, tx) = _pair(_X)
    m_out = (minigrad.empty(0, dtype=minigrad.float64), minigrad.empty(0, dtype=minigrad.float64))
    t_out = (torch.empty(0, dtype=torch.float64), torch.empty(0, dtype=torch.float64))
    minigrad.aminmax(mx, dim=1, out=m_out)
    torch.aminmax(tx, dim=1, out=t_out)
    for m, t in zip(m_out, t_out):
        np.testing.assert_allclose(m.numpy(), t.numpy())


def test_fftfreq_makes_its_values_in_outs_dtype():
    mo, to = minigrad.empty(3, dtype=minigrad.float64), torch.empty(3, dtype=torch.float64)
    assert minigrad.fft.fftfreq(5, 0.5, out=mo) is mo
    torch.fft.fftfreq(5, 0.5, out=to)
    assert mo.dtype == minigrad.float64 and tuple(mo.shape) == (5,)
    np.testing.assert_allclose(mo.numpy(), to.numpy())


@pytest.mark.parametrize("path", ["erf", "fft.fft", "linalg.inv", "special.i1",
                                  "nn.functional.gelu"])
def test_out_refuses_autograd_as_torch(path):
    t_in = torch.tensor(_SQ, requires_grad=True)
    m_in = minigrad.tensor(_SQ, requires_grad=True)
    with pytest.raises(RuntimeError) as t_err:
        _lib(torch, path)(t_in, out=torch.empty(0, dtype=t_in.dtype if "fft" not in path
                                                 else torch.complex128))
    with pytest.raises(RuntimeError) as m_err:
        _lib(minigrad, path)(m_in, out=minigrad.empty(0, dtype=minigrad.float64 if "fft" not in
                                                      path else minigrad.complex128))
    assert "don't support automatic differentiation" in str(t_err.value)
    assert "don't support automatic differentiation" in str(m_err.value)
    with torch.no_grad():                     # under no_grad both write the values
        t_out = _lib(torch, path)(t_in, out=torch.empty(0, dtype=torch.complex128 if "fft" in
                                                        path else torch.float64))
    with minigrad.no_grad():
        m_out = _lib(minigrad, path)(m_in, out=minigrad.empty(0, dtype=minigrad.complex128 if
                                                              "fft" in path else minigrad.float64))
    np.testing.assert_allclose(m_out.numpy(), t_out.numpy(), rtol=1e-10)


def test_a_narrowing_out_is_refused_as_torch():
    (mx, tx) = _pair(_X)
    with pytest.raises(RuntimeError) as t_err:
        torch.erf(tx, out=torch.empty(0, dtype=torch.int64))
    with pytest.raises(RuntimeError) as m_err:
        minigrad.erf(mx, out=minigrad.empty(0, dtype=minigrad.int64))
    assert str(m_err.value) == str(t_err.value)
