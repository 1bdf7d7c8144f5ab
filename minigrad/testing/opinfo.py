"""What a registry entry is: ``Sample``, ``OpInfo``, ``Gen`` and ``register``.

The entry modules (``registry_core.py``, ``registry_reduce_move.py``, ``registry_nn.py``...)
import ``register`` and ``Sample`` from here and register their ops when imported;
``registry.py`` imports them and answers the lookups (``get``, ``names``, ``entries``,
``samples``).

An entry's function is written once as ``f(lib, *inputs, **kwargs)`` with ``lib`` the
``minigrad`` package or ``torch``: the registry is a client of minigrad's public API, as the
tests are, so it imports the package itself (which never imports ``minigrad.testing``).
torch, an optional dependency, is imported on first use.
"""
from __future__ import annotations

import functools
import importlib
import warnings
import zlib

import numpy as np

import minigrad

from .gradcheck import GradcheckError, _gradcheck_details, compare_with_torch
from .second_order import compare_second_order_with_torch, gradgradcheck

__all__ = ["Sample", "OpInfo", "Gen", "register"]


class Sample:
    """One test case: positional ``inputs`` and ``kwargs`` for the op.

    ``inputs`` holds numpy arrays (floating ones are the differentiable inputs by default;
    integer/bool arrays become index/mask/target tensors) or plain Python values passed
    unchanged.  ``requires_grad`` (one bool per input) overrides which inputs get gradients.
    ``fd=False`` says finite differences are meaningless here (the inputs sit on a kink or a
    tie), so only the comparison with torch applies.  ``rtol``/``atol`` loosen the comparison
    with torch for this sample; ``desc`` names the case in test ids and reports.
    """
    __slots__ = ("inputs", "kwargs", "requires_grad", "fd", "desc", "rtol", "atol")

    def __init__(self, *inputs, kwargs=None, requires_grad=None, fd=True, desc="", rtol=None,
                 atol=None):
        self.inputs = tuple(inputs)
        self.kwargs = dict(kwargs or {})
        if requires_grad is None:
            requires_grad = [isinstance(x, np.ndarray) and x.dtype.kind in "fV" for x in inputs]
        self.requires_grad = tuple(bool(r) for r in requires_grad)
        if len(self.requires_grad) != len(self.inputs):
            raise ValueError("Sample: requires_grad needs one entry per input")
        self.fd = fd
        self.desc = desc or self._describe()
        self.rtol, self.atol = rtol, atol

    def _describe(self):
        parts = []
        for x in self.inputs:
            if isinstance(x, np.ndarray):
                parts.append("x".join(map(str, x.shape)) or "0d")
            else:
                parts.append(repr(x))
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return ",".join(parts)

    def astype(self, dtype):
        """The same sample with its floating arrays in ``dtype``."""
        inputs = [x.astype(dtype) if isinstance(x, np.ndarray) and x.dtype.kind in "fV" else x
                  for x in self.inputs]
        return Sample(*inputs, kwargs=self.kwargs, requires_grad=self.requires_grad, fd=self.fd,
                      desc=self.desc, rtol=self.rtol, atol=self.atol)

    def tensors(self, lib=None, device=None, requires_grad=True):
        """The inputs as tensors of ``lib`` (minigrad by default); non-arrays unchanged."""
        if lib is None:
            lib = minigrad
        out = []
        for x, rg in zip(self.inputs, self.requires_grad):
            if isinstance(x, np.ndarray):
                t = lib.tensor(x.copy(), device=device) if device is not None else \
                    lib.tensor(x.copy())
                if rg and requires_grad:
                    t.requires_grad_(True)
                out.append(t)
            else:
                out.append(x)
        return out

    def __repr__(self):
        return f"Sample({self.desc})"


class OpInfo:
    """A differentiable op: its name, both frameworks' callables and its samples.

    ``fn(*inputs, **kwargs)`` is minigrad's; ``torch_fn`` torch's (torch imported on first use).
    ``fd`` False turns off finite differences for every sample (a piecewise op whose samples
    all sit on kinks, say).  ``float32`` says whether the op joins the float32 checks.
    ``requires`` names ``(module, attribute)`` pairs that must exist for the entry to run.
    """

    def __init__(self, name, f, sample_fn, *, torch_f=None, family="core", fd=True,
                 float32=True, requires=(), rtol=None, atol=None, notes="", second_order=True):
        self.name = name
        # True: second derivatives checked against torch and finite differences.
        # False: the op's backward is first-order only (differentiating it must raise).
        # "finite differences": minigrad's backward is differentiable but torch's is not
        # (ctc_loss), so the second derivatives are checked against finite differences only.
        if second_order not in (True, False, "finite differences"):
            raise ValueError(f"register({name!r}): second_order must be True, False or "
                             f"'finite differences', got {second_order!r}")
        self.second_order = second_order
        self.family = family
        self._f, self._torch_f = f, torch_f or f
        self.sample_fn = sample_fn
        self.fd = fd
        self.float32 = float32
        self.requires = tuple(requires)
        self.rtol, self.atol = rtol, atol
        self.notes = notes

    @property
    def fn(self):
        return functools.partial(self._f, minigrad)

    @property
    def torch_fn(self):
        return functools.partial(self._torch_f, importlib.import_module("torch"))

    def skip_reason(self):
        """Why the entry cannot run here (a function it needs is missing), or None."""
        for module, attr in self.requires:
            try:
                mod = importlib.import_module(module)
            except ImportError as exc:
                return f"{module} cannot be imported ({exc})"
            if not hasattr(mod, attr):
                return f"{module}.{attr} does not exist yet"
        return None

    def samples(self, dtype=np.float64, seed=0):
        """The samples, floating arrays in ``dtype``; the same seed gives the same numbers."""
        rng = np.random.default_rng([seed, zlib.crc32(self.name.encode())])
        for s in self.sample_fn(Gen(rng)):
            yield s if dtype == np.float64 else s.astype(dtype)

    # -- checks (used by the tests and by ``python -m minigrad.gradcheck``) -------------------
    def compare(self, sample, *, grad=True, rtol=None, atol=None, device="cpu",
                torch_device="cpu"):
        """``compare_with_torch`` on one sample: outputs (and, with ``grad``, input gradients).

        Tolerances: the arguments, else the sample's, else the entry's, else per-dtype defaults.
        """
        rtol = _first(rtol, sample.rtol, self.rtol)
        atol = _first(atol, sample.atol, self.atol)
        fn, torch_fn, kwargs = self.fn, self.torch_fn, sample.kwargs

        def quiet_torch(*args):
            with warnings.catch_warnings():   # e.g. torch's deprecation of x.T on 1-D tensors
                warnings.simplefilter("ignore")
                return torch_fn(*args, **kwargs)
        return compare_with_torch(lambda *args: fn(*args, **kwargs), quiet_torch, sample.inputs,
                                  rtol=rtol, atol=atol, grad=grad,
                                  requires_grad=sample.requires_grad, device=device,
                                  torch_device=torch_device)

    def finite_differences_apply(self, sample):
        """Whether finite differences mean something for this sample (no kink, some grad)."""
        return self.fd and sample.fd and any(sample.requires_grad)

    def gradcheck(self, sample, *, device=None, eps=1e-6, atol=1e-5, rtol=1e-3):
        """Finite differences on one sample: (report or None, max abs error, max rel error)."""
        fn, kwargs = self.fn, sample.kwargs
        return _gradcheck_details(lambda *args: fn(*args, **kwargs),
                                  sample.tensors(device=device), eps=eps, atol=atol, rtol=rtol,
                                  allow_float32=False)

    def compare_second_order(self, sample, *, rtol=None, atol=None):
        """First and second derivatives of one sample against torch's (float64)."""
        fn, torch_fn, kwargs = self.fn, self.torch_fn, sample.kwargs

        def quiet_torch(*args):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch_fn(*args, **kwargs)
        compare_second_order_with_torch(lambda *args: fn(*args, **kwargs), quiet_torch,
                                        sample.inputs, sample.requires_grad,
                                        rtol=_first(rtol, sample.rtol, self.rtol),
                                        atol=_first(atol, sample.atol, self.atol))

    def gradgradcheck(self, sample, *, eps=1e-6, atol=1e-5, rtol=1e-3):
        """Second derivatives of one sample against finite differences of the first:
        (report or None)."""
        fn, kwargs = self.fn, sample.kwargs
        try:
            gradgradcheck(lambda *args: fn(*args, **kwargs), sample.tensors(), eps=eps,
                          atol=atol, rtol=rtol)
        except GradcheckError as exc:
            return str(exc)
        return None

    def __repr__(self):
        return f"OpInfo({self.name!r}, family={self.family!r})"


def _first(*values):
    for v in values:
        if v is not None:
            return v
    return None


class Gen:
    """Random inputs for sample generators: float64 numpy arrays with useful properties."""

    def __init__(self, rng):
        self.rng = rng

    def randn(self, *shape):
        """Standard normal values."""
        return np.asarray(self.rng.standard_normal(shape))

    def pos(self, *shape, low=0.5, high=2.0):
        """Positive values away from zero (for log, sqrt, divisors, pow bases)."""
        return np.asarray(self.rng.uniform(low, high, shape))

    def away(self, *shape, low=0.3, high=2.0):
        """Values of either sign at least ``low`` away from zero (for kinks at 0)."""
        return np.asarray(self.rng.uniform(low, high, shape) * self.rng.choice([-1.0, 1.0], shape))

    def uniform(self, *shape, low=0.0, high=1.0):
        return np.asarray(self.rng.uniform(low, high, shape))

    def distinct(self, *shape, gap=0.1):
        """Values whose pairwise gaps are all at least ``gap``: no ties, FD-safe for max/min."""
        n = int(np.prod(shape)) if shape else 1
        vals = (self.rng.permutation(n) - n / 2) * gap + self.rng.uniform(-gap / 4, gap / 4)
        return vals.reshape(shape).astype(np.float64)

    def ties(self, *shape, low=-2, high=2):
        """Small integer values: many exact ties (and exact zeros)."""
        return np.asarray(self.rng.integers(low, high + 1, shape), dtype=np.float64)

    def index(self, high, *shape, low=0):
        """int64 indices in [low, high)."""
        return np.asarray(self.rng.integers(low, high, shape), dtype=np.int64)

    def mask(self, *shape, p=0.5):
        """A bool mask."""
        return np.asarray(self.rng.random(shape) < p)

    def probs(self, *shape, axis=-1):
        """Rows of probabilities summing to 1 along ``axis``."""
        e = self.rng.uniform(0.1, 1.0, shape)
        return e / e.sum(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------------------------
# The registry itself
# ----------------------------------------------------------------------------------------------
_REGISTRY: dict = {}


def register(name, f, sample_fn, **options):
    """Add an op: ``f(lib, *inputs, **kwargs)``, ``sample_fn(gen)`` yields ``Sample``s."""
    if name in _REGISTRY:
        raise ValueError(f"op {name!r} is registered twice")
    _REGISTRY[name] = OpInfo(name, f, sample_fn, **options)
    return _REGISTRY[name]
