"""Fuzz rounds' snippets run side by side: a line of code that binds ``r``, executed with
``torch`` bound to each library in turn, its outcome described and compared.

    same(code)       both libraries end alike: the same result (dtype, shape, strides,
                     requires_grad, values to a tolerance) or the same exception type and
                     first words (read with torch's name)
    refused(code)    same(code), where torch refuses it
    taken(code)      same(code), where torch computes it

``Snippets(atol32, atol64, seed)``: the absolute tolerance for float32/complex64 results and
for the others; with ``seed`` both libraries draw from ``manual_seed(seed)`` first.
"""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = (torch, minigrad)


def describe(lib, r):
    """A result as (dtype name, shape, strides, requires_grad, values in double), a tuple of
    Tensors as a tuple of those, anything else as its text."""
    if isinstance(r, tuple) and r and all(isinstance(x, lib.Tensor) for x in r):
        return tuple(describe(lib, x) for x in r)
    if not isinstance(r, lib.Tensor):
        return ("py", str(r).replace("minigrad", "torch"))
    v = r.detach()
    if lib is torch:
        v = v.resolve_conj().resolve_neg()
    v = v.to(lib.complex128) if v.is_complex() else v.to(lib.float64)
    strides = tuple(r.stride()) if r.numel() > 1 else None
    return (str(r.dtype).split(".")[-1], tuple(r.shape), strides, bool(r.requires_grad),
            np.asarray(v.numpy()))


class Snippets:
    def __init__(self, atol32, atol64, seed=None):
        self.atol32, self.atol64, self.seed = atol32, atol64, seed

    def outcome(self, lib, code):
        """("ok", description) or ("err", type name, first line of words read as torch's)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if self.seed is not None:
                    lib.manual_seed(self.seed)
                env = {"torch": lib, "F": lib.nn.functional, "nn": lib.nn,
                       "nan": float("nan"), "inf": float("inf")}
                exec(code, env)
                return ("ok", describe(lib, env["r"]))
            except Exception as exc:  # noqa: BLE001 (compared with torch's)
                return ("err", type(exc).__name__,
                        str(exc).split("\n")[0].replace("minigrad", "torch"))

    def alike(self, a, b):
        if isinstance(a[0], tuple):
            return len(a) == len(b) and all(self.alike(x, y) for x, y in zip(a, b))
        if a[0] == "py" or b[0] == "py":
            return a == b
        if a[:4] != b[:4]:
            return False
        x, y = a[4], b[4]
        atol = self.atol32 if a[0] in ("float32", "complex64") else self.atol64
        return x.shape == y.shape and np.allclose(x, y, rtol=1e-5, atol=atol, equal_nan=True)

    def same(self, code):
        theirs, mine = (self.outcome(lib, code) for lib in LIBS)
        assert theirs[0] == mine[0], (theirs, mine)
        if theirs[0] == "err":
            assert mine[1] == theirs[1], (theirs, mine)
            assert mine[2].startswith(theirs[2]), (theirs, mine)
        else:
            assert self.alike(theirs[1], mine[1]), (theirs, mine)

    def refused(self, code):
        theirs = self.outcome(torch, code)
        assert theirs[0] == "err", theirs          # (the case is a refusal in PyTorch)
        self.same(code)

    def taken(self, code):
        theirs = self.outcome(torch, code)
        assert theirs[0] == "ok", theirs
        self.same(code)
