"""The checks shared by the tests that run one call on minigrad and on PyTorch.

The regression tests of the fuzzer's and op_db's finds (tests/test_fuzz_regressions_*.py):
the same call must give the same tensors (value, dtype, shape, requires_grad) or raise the same
exception type (``agree``), or both refuse it, minigrad in words that start with PyTorch's
(``same_refusal``).

The small pieces many other test files need, each once here with a keyword where the files
differ: ``outcome`` (a call's result or its exception's type name and words), ``same_outcome``
(both accept or both refuse alike), ``both`` / ``pair`` / ``leaves`` (a call, a call on tensors
made from the same arrays, a pair of leaves: one per library) and ``same_tensor`` (dtype, shape,
optionally strides, and values equal or within tolerances)."""
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


# ----------------------------------------------------------------------------------------------
# the small comparisons many test files need (each once here, a keyword where files differ)
# ----------------------------------------------------------------------------------------------
LIBS = (minigrad, torch)
TORCH_FIRST = (torch, minigrad)


def neutral(text):
    """``text`` (or an exception's message) with every 'minigrad' written as 'torch'."""
    return str(text).replace("minigrad", "torch")


def first_line(text):
    """The first line of ``text`` (or of an exception's message)."""
    return str(text).split("\n")[0]


def outcome(fn, *args, quiet=False, text=str):
    """("ok", fn(*args)), or (the exception's type name, ``text(exception)``) when it raises.
    ``quiet``: warnings given on the way are dropped; ``text``: how the message is read (``str``
    as it is, ``neutral`` with the library's name as torch's, or a file's own)."""
    try:
        if quiet:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return "ok", fn(*args)
        return "ok", fn(*args)
    except Exception as exc:  # noqa: BLE001 (compared with the other library's)
        return type(exc).__name__, text(exc)


# how ``same_outcome`` compares two refusals' messages (minigrad's, torch's)
_WORDS = {
    "equal": lambda mine, theirs: mine == theirs,
    # minigrad may add a parenthesis of its own after PyTorch's words
    "parenthesis": lambda mine, theirs: mine == theirs or mine.startswith(theirs + " ("),
    "prefix": lambda mine, theirs: mine.startswith(theirs),
    "type": lambda mine, theirs: True,
}


def same_outcome(make, *, words="equal", quiet=True, text=neutral, refused=False):
    """``outcome(make, lib)`` for minigrad and torch: both accept it or both raise one
    exception type, and then minigrad's message matches torch's as ``words`` says ('equal',
    'parenthesis': equal or followed by a parenthesis of minigrad's, 'prefix': starting with
    torch's, 'type': not compared); ``refused``: torch must raise. Returns (minigrad's
    outcome, torch's)."""
    mine, theirs = (outcome(make, lib, quiet=quiet, text=text) for lib in LIBS)
    assert not (refused and theirs[0] == "ok"), f"torch accepted it: {theirs[1]!r}"
    assert mine[0] == theirs[0], (mine, theirs)
    if mine[0] != "ok":
        assert _WORDS[words](mine[1], theirs[1]), (mine, theirs)
    return mine, theirs


def both(fn, *, order=LIBS, quiet=False, errors=False):
    """[fn(minigrad), fn(torch)] (``order=TORCH_FIRST``: torch's first); ``quiet``: warnings
    given on the way are dropped; ``errors``: an exception raised is that library's result."""
    out = []
    for lib in order:
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            try:
                out.append(fn(lib))
            except Exception as exc:  # noqa: BLE001 (compared with the other library's)
                if not errors:
                    raise
                out.append(exc)
    return out


def pair(fn, *arrays, order=LIBS, **kwargs):
    """(fn(minigrad, *tensors, **kwargs), fn(torch, *tensors, **kwargs)), the tensors made by
    each library's ``tensor`` from the same ``arrays``; ``order=TORCH_FIRST``: torch's first."""
    return tuple(fn(lib, *[lib.tensor(a) for a in arrays], **kwargs) for lib in order)


def leaves(array, grad=True, dtype=None, order=LIBS):
    """The same values as a (minigrad, torch) pair of leaves (requiring grad when ``grad``),
    of ``dtype`` (a name such as "float64") or the dtype each library infers;
    ``order=TORCH_FIRST``: torch's first."""
    return tuple(lib.tensor(array, requires_grad=grad,
                            **({} if dtype is None else {"dtype": getattr(lib, dtype)}))
                 for lib in order)


def _numbers(t):
    """A tensor's values as numpy (bfloat16, which numpy lacks, as float32; torch's lazy
    conjugate or negative view written out); a numpy array as it is."""
    if not hasattr(t, "detach"):
        return np.asarray(t)
    t = t.detach()
    if isinstance(t, torch.Tensor):
        t = t.resolve_conj().resolve_neg()
    return (t.float() if str(t.dtype).endswith("bfloat16") else t).numpy()


def same_tensor(mine, theirs, rtol=None, atol=None, *, tol=None, equal_nan=True,
                strides=False):
    """minigrad's tensor and torch's: one shape and dtype (and strides, with ``strides``), and
    the values equal (NaN where NaN) when no tolerance is given, else within ``rtol``/``atol``
    (``tol``: both; NaN equal to NaN unless ``equal_nan=False``). Tuples or lists of tensors
    compared item by item."""
    if tol:
        rtol = atol = tol
    if isinstance(theirs, (tuple, list)):
        assert isinstance(mine, (tuple, list)) and len(mine) == len(theirs), (mine, theirs)
        assert isinstance(mine, tuple) == isinstance(theirs, tuple), (mine, theirs)
        for m, t in zip(mine, theirs):
            same_tensor(m, t, rtol, atol, tol=tol, equal_nan=equal_nan, strides=strides)
        return
    assert tuple(mine.shape) == tuple(theirs.shape), (tuple(mine.shape), tuple(theirs.shape))
    assert str(mine.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], \
        (mine.dtype, theirs.dtype)
    if strides:
        assert tuple(mine.stride()) == tuple(theirs.stride()), (mine.stride(), theirs.stride())
    if rtol is None and atol is None:
        np.testing.assert_array_equal(_numbers(mine), _numbers(theirs))
    else:                               # (booleans, which cannot be subtracted, as 0 and 1)
        a, b = (x.astype(np.float64) if x.dtype == bool else x
                for x in (_numbers(mine), _numbers(theirs)))
        np.testing.assert_allclose(a, b, rtol=rtol or 0.0, atol=atol or 0.0, equal_nan=equal_nan)
