"""The numeric setting a forward runs under, so that its values are PyTorch's CPU kernels'.

Two things, both about *how* ``Function.apply`` computes rather than *what* it computes:

* numpy's floating-point warnings are silenced for each forward (inf * 0, log(0), overflow):
  PyTorch gives the IEEE answer without a word. ``_quiet_enter`` / ``_quiet_exit`` enter and
  leave that setting at the cost of one context variable (``apply`` inlines their common case
  and reads ``_quiet_pair`` from this module);
* a bfloat16 input (a float16 one where the op says so) is computed in float32 and rounded
  once (``_reduced_forward``), as PyTorch's kernels compute a 16-bit float's value.

Separate from ``function.py`` because neither is part of the graph node: they are numpy
settings, and ``ops/`` uses the quiet setting on its own for the raw paths that bypass apply.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import dtypes

# numpy prints a RuntimeWarning for every inf * 0, log(0), overflow...; PyTorch computes the
# IEEE answer silently. A local setting for each forward (numpy's errstate is per thread and
# restored on exit), never a process-wide one.
_ieee = functools.partial(np.errstate, divide="ignore", invalid="ignore", over="ignore")
try:        # numpy's own context variable for that setting (numpy >= 2), for _quiet_enter
    from numpy._core._multiarray_umath import _make_extobj
    from numpy._core._ufunc_config import _extobj_contextvar
    # (private names: used only if they still do what numpy 2.0-2.4's errstate does with them)
    _make_extobj(divide="ignore", invalid="ignore", over="ignore")
    _extobj_contextvar.get()
except Exception:           # another numpy: np.errstate each time
    _extobj_contextvar = None
# (the setting apply was last entered from, the quiet setting made from it): entering a fresh
# np.errstate costs about 1 us, most of an op on small tensors, and nearly every op enters it
# from the same setting, so the quiet one is made once and reused. A new outer setting (the
# user's own np.errstate) makes a new pair: what errstate would make, from the same state.
_quiet_pair = (None, None)


def _quiet_enter():
    """Enter ``_ieee()``'s setting as cheaply as possible; the token for ``_quiet_exit``."""
    global _quiet_pair
    if _extobj_contextvar is None:
        scope = _ieee()
        scope.__enter__()
        return scope
    outer = _extobj_contextvar.get()
    pair = _quiet_pair              # one read: another thread may replace it
    if outer is pair[1]:            # a nested apply (an op inside a forward): already quiet
        return None
    if outer is not pair[0]:
        pair = _quiet_pair = (outer, _make_extobj(divide="ignore", invalid="ignore",
                                                  over="ignore"))
    return _extobj_contextvar.set(pair[1])


def _quiet_exit(token):
    """Leave the setting ``_quiet_enter`` entered (the one before it is back)."""
    if token is None:
        return
    if _extobj_contextvar is None:
        token.__exit__(None, None, None)
    else:
        _extobj_contextvar.reset(token)


_BF16 = dtypes.BFLOAT16       # bfloat16 inputs run in float32 (_reduced_forward)
_HALF = np.dtype(np.float16)


def _reduced_forward(fn, arrays, params, reduced):
    """``fn.forward`` on bfloat16 inputs (or float16 ones, where the op says so) as PyTorch's
    CPU kernels compute them: in float32, the float32 result rounded once to ``reduced``
    (numpy would round after every step of a composite kernel, and sum in bfloat16). Inputs
    mixed with wider floats, and ops that are given a dtype (a cast), run as they are.
    What forward saves stays in float32, so that backward (16-bit gradient times float32
    values) computes in float32 too and the engine rounds each input's gradient once, as
    PyTorch's backward kernels do; the cost is float32 copies of what the op keeps. The
    copies are version-checked as the tensors they were made from."""
    for a in arrays:
        if a.dtype.kind in "fc" and a.dtype.itemsize > 2:
            return fn.forward(*arrays, **params)
    for v in params.values():
        if isinstance(v, (np.dtype, type, dtypes.DType)):
            return fn.forward(*arrays, **params)
    wide = [dtypes.astype(a, np.float32) if a.dtype is reduced else a for a in arrays]
    out = fn.forward(*wide, **params)
    if fn.saved_:       # for _pack (which drops it): whose versions the copies stand for
        fn._wide = (wide, out)
    return out.astype(reduced) if getattr(out, "dtype", None) == np.float32 else out
