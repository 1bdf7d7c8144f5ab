"""The checks shared by the regression tests of the fuzzer's and op_db's finds
(tests/test_fuzz_regressions_*.py): the same call on minigrad and on PyTorch must give the same
tensors (value, dtype, shape, requires_grad) or raise the same exception type (``agree``), or
both refuse it, minigrad in words that start with PyTorch's (``same_refusal``)."""
import warnings

import numpy as np

import minigrad
import torch

# per result dtype: the fuzzer's tolerances (float16 sums round differently in each library)
_TOL = {"float16": 2e-2, "float32": 1e-5}


def _outcome(lib, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # PyTorch warns about degrees of freedom
        try:
            return fn(lib), None
        except Exception as exc:  # noqa: BLE001 (compared with the other library's)
            return None, exc


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def agree(fn, match=None, atol=None, rtol=None):
    """fn(lib) gives the same tensors in both libraries, or raises the same exception type,
    whose message contains ``match`` in both when it is given. Returns (minigrad's result,
    torch's), or (None, None) when both raised. ``atol``/``rtol`` replace the per-dtype
    tolerances where torch's own value depends on the CPU's kernels (rounding noise)."""
    mine, my_error = _outcome(minigrad, fn)
    theirs, their_error = _outcome(torch, fn)
    if their_error is not None:
        assert my_error is not None, f"torch raised {their_error!r}, minigrad returned {mine}"
        assert type(my_error) is type(their_error), f"{my_error!r} vs {their_error!r}"
        if match is not None:
            assert match in str(their_error), str(their_error)
            assert match in str(my_error), str(my_error)
        return None, None
    assert my_error is None, f"minigrad raised {my_error!r}, torch returned {theirs}"
    assert match is None, "torch returned a result"
    assert len(_flat(mine)) == len(_flat(theirs))
    for m, t in zip(_flat(mine), _flat(theirs)):
        assert m.dtype.name == str(t.dtype).replace("torch.", "")
        assert tuple(m.shape) == tuple(t.shape)
        assert m.requires_grad == t.requires_grad
        tol = _TOL.get(m.dtype.name, 1e-7)
        np.testing.assert_allclose(m.detach().numpy().astype(np.float64),
                                   t.detach().numpy().astype(np.float64),
                                   rtol=tol if rtol is None else rtol,
                                   atol=tol * 1e-3 if atol is None else atol, equal_nan=True)
    return mine, theirs


def grads(fn, values, dtype="float64"):
    """fn(lib, x) on a leaf x made of ``values``; its output's weighted sum is differentiated,
    and the value and x.grad must agree."""
    def run(lib):
        x = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
        out = fn(lib, x)
        weights = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)),
                             dtype=out.dtype)
        (out * weights).sum().backward()
        return out, x.grad
    return agree(run)


def outcomes(fn):
    """For torch, then minigrad: ("ok", fn(lib)), or (the exception's type name, the first
    line of its message with the library's name read as torch's)."""
    out = []
    for lib in (torch, minigrad):
        result, exc = _outcome(lib, fn)
        out.append(("ok", result) if exc is None else
                   (type(exc).__name__, str(exc).split("\n")[0].replace("minigrad", "torch")))
    return out


def same_refusal(fn):
    """Both refuse ``fn(lib)`` with one exception type, minigrad's words starting with
    PyTorch's."""
    (t_kind, t_msg), (m_kind, m_msg) = outcomes(fn)
    assert t_kind != "ok", "torch accepted it"
    assert m_kind == t_kind, (t_kind, t_msg, m_kind, m_msg)
    assert m_msg.startswith(t_msg), (t_msg, m_msg)


def same_result(fn):
    """Both accept ``fn(lib)`` and give one dtype, shape and values (NaN where NaN; bool and
    16-bit float results compared as float32 numbers)."""
    (t_kind, t), (m_kind, m) = outcomes(fn)
    assert t_kind == "ok", t
    assert m_kind == "ok", m
    assert str(m.dtype).replace("minigrad", "torch") == str(t.dtype)
    assert tuple(m.shape) == tuple(t.shape)

    def numbers(x):
        x = x.detach()
        if str(x.dtype).split(".")[-1] in ("bool", "float16", "bfloat16"):
            x = x.float()
        return np.asarray(x.numpy())
    np.testing.assert_allclose(numbers(m), numbers(t), rtol=1e-6, atol=1e-6, equal_nan=True)


def run(code):
    """fn(lib): ``code`` evaluated with ``torch`` bound to lib (statements end in ``r = ...``)."""
    def fn(lib):
        env = {"torch": lib, "F": lib.nn.functional, "np": np}
        if "\n" in code or code.startswith("r = ") or "; r = " in code:
            exec(code, env)
            return env.get("r")
        return eval(code, env)
    return fn
