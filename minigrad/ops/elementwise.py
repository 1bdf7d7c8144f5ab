"""Pointwise arithmetic: ``+ - *`` and negation, with the promotion every binary pointwise
op shares.  Division (``/``, ``//``, div's rounding modes) and ``%`` (remainder) live in
``division.py``.

Each ``Function`` has its forward (on arrays) and, right below it, its backward: the local
derivative times the incoming gradient ``g``, written with these same Tensor ops, so that the
gradient can itself be differentiated (``create_graph=True``).  Binary ops broadcast like
NumPy; their backward sums the gradient back to each input's shape (``sum_to``).

``_binary`` applies a binary Function after PyTorch's type promotion and a broadcast check,
``_scalar_or_tensor`` (in ``_binary_operands``, with the other checks of the operands) makes
a Python number a tensor like the other operand, ``cast`` converts a tensor's dtype: the
sibling modules build on them (``pointwise_select``: where, maximum, minimum;
``elementary_functions``: exp, log, pow, sqrt, sin, tanh...; ``relu_clamp``: relu,
leaky_relu, clamp).
"""
from __future__ import annotations


import numpy as np

from .. import _memory_format as mf, backend, dtypes, parallel
from ..autograd import Function
from ..autograd._shown_edges import shown_inputs
from ..tensor import Tensor
from ._util import broadcast_shape, check_python_int, result_dtype
from ._binary_operands import (  # noqa: F401  (_BAREBONES and the refusals: inplace's too)
    _BAREBONES, _check_alpha, _first_number, _refuse_complex_by_kernel,
    _refuse_unsigned_by_kernel, _scalar_or_tensor, legacy_overload)
from .plumbing import Cast, conj_of, sum_to
from ._half_add import half_scaled_add
from .._tiled_copy import MIN_BYTES as TILED_BYTES
from ._broadcast_rows import MIN_ELEMENTS as ROWS_MIN, as_parallel_binary, rows_or_relaid


# ----------------------------------------------------------------------------------------------
# Binary arithmetic, and negation
# ----------------------------------------------------------------------------------------------
def _arithmetic(ufunc, a, b):
    """ufunc(a, b) for Add, Sub and Mul: small operands as numpy computes them (over the
    threads when large and alike); beside a broadcast or expanded operand (a bias, a
    per-channel scale, ``v.expand(n, m)``) in long rows (``ufunc_by_rows``), or where none
    can be had (a column ``v[:, None]``, a transposed or strided operand, an outer product)
    with numpy's buffer cut to the run (``by_runs``); a transposed b walked in a's order
    (one walk, see ``laid_out_like``)."""
    if a.size < ROWS_MIN and b.size < ROWS_MIN and a.nbytes < TILED_BYTES and (
            a.shape == b.shape or a.size * b.size < ROWS_MIN):     # (an outer product: large)
        out = parallel.binary(ufunc, a, b)
    else:
        out, b_walk = rows_or_relaid(ufunc, a, b)
        out = parallel.binary(ufunc, a, b_walk) if out is None else as_parallel_binary(out, a, b)
    if a.ndim and a.shape != b.shape and not b.flags.c_contiguous and a.flags.c_contiguous:
        # (a row-major a broadcast beside a b laid out otherwise: PyTorch orders the dims a
        # steps through by 0 after b, where numpy's result, taken as it is, may not)
        return mf.pointwise_layout(out, (a, b))
    if not out.size:            # (no elements: PyTorch may still lay it out as an operand)
        return mf.empty_result(out, (a, b))
    return out


class Add(Function):
    complex_ok = True
    saved_fields = {"alpha": lambda node: 1}    # add(a, b, alpha=k) records k * b first

    def forward(self, a, b):
        return _arithmetic(np.add, a, b)

    def backward(self, g):
        # d(a+b)/da = d(a+b)/db = 1
        (sa, _), (sb, _) = self._in_meta
        return (sum_to(g, sa) if self.needs_input_grad[0] else None,
                sum_to(g, sb) if self.needs_input_grad[1] else None)


class Sub(Function):
    complex_ok = True
    saved_fields = {"alpha": lambda node: 1}

    def forward(self, a, b):
        return _arithmetic(np.subtract, a, b)

    def backward(self, g):
        (sa, _), (sb, _) = self._in_meta
        return (sum_to(g, sa) if self.needs_input_grad[0] else None,
                sum_to(neg(g), sb) if self.needs_input_grad[1] else None)


_RSUB = Sub.renamed("RsubBackward1")
_RSUB.next_functions = shown_inputs(1)      # PyTorch's node has no edge for the number


def _times_complex_one(b, one):
    """b * (one + 0j): PyTorch's complex add and sub compute a + alpha * b (a + -alpha * b)
    with alpha a complex 1, so an infinite or NaN part of b makes the other part NaN
    (inf + 0j -> inf + nanj), and a zero's sign follows that product."""
    with np.errstate(invalid="ignore"):
        return b * b.dtype.type(one)


def _complex_form(function, one):
    """``function`` (Add or Sub) for complex operands: a + (one + 0j) * b, recorded under the
    same node name.  Picked where the dtype is already looked at (``COMPLEX_FORMS``), so that
    real additions pay nothing for it."""
    def forward(self, a, b):
        return parallel.binary(np.add, a, _times_complex_one(b, one))
    return type(function.__name__, (function,), {"__module__": function.__module__,
                                                 "__slots__": (), "forward": forward})


COMPLEX_FORMS = {Add: _complex_form(Add, 1), Sub: _complex_form(Sub, -1)}


class Mul(Function):
    half = False
    complex_ok = True
    saved_for_input = (1, 0)          # a is read only for b's gradient, b only for a's
    saved_names = ("self", "other")

    def forward(self, a, b, *, half=False):
        self.save_for_backward(a, b)
        out = _arithmetic(np.multiply, a, b)
        if half:        # a float16 a times a float32 scalar b, computed in float32 (half_scalar)
            self.half = True
            with np.errstate(over="ignore"):       # past float16's range: inf, silently
                return out.astype(a.dtype)
        return out

    def backward(self, g):
        # d(ab)/da = b, d(ab)/db = a (conjugated for complex inputs, as every holomorphic
        # op's: a real loss's gradient at a is g * conj(d out / d a)); a is kept only when b
        # needs a gradient and b only when a does
        a, b = self.saved_tensors
        (shape_a, _), (shape_b, _) = self._in_meta
        ga = gb = None
        if self.needs_input_grad[0]:
            # (half: the scalar again, as a number, so that g * b is in float32 too)
            ga = mul(g, b.item() if self.half else conj_of(b))
            ga = sum_to(ga if ga.shape == shape_a else _rounded(ga, g), shape_a)
        if self.needs_input_grad[1]:
            gb = mul(g, conj_of(a))
            gb = sum_to(gb if gb.shape == shape_b else _rounded(gb, g), shape_b)
        return ga, gb


def _rounded(product, g):
    """A bfloat16 gradient's product (computed from float32 copies) rounded to bfloat16
    before it is summed over broadcast dims, as PyTorch's mul backward rounds it."""
    if g._array.dtype is dtypes.BFLOAT16 and product._array.dtype != dtypes.BFLOAT16:
        return Cast.apply(product, dtype=dtypes.BFLOAT16)
    return product


Mul.renamed("PowBackward0").next_functions = shown_inputs(0)  # square, a * a: one edge


class Neg(Function):
    complex_ok = True

    def forward(self, a):
        out = -a
        # (a dense non-row-major a: its strides exactly, as PyTorch, size-1 dims' included)
        return out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))

    def backward(self, g):
        return neg(g)


# ----------------------------------------------------------------------------------------------
# Tensor-level functions (what Tensor methods and minigrad.* call)
# ----------------------------------------------------------------------------------------------
# the dtypes _binary looks at twice: complex ones (COMPLEX_FORMS) and the unsigned ones PyTorch
# has few kernels for
_UNUSUAL = _BAREBONES | frozenset(np.dtype(d) for d in ("complex64", "complex128"))


def _binary(fn, a, b, name, true_divide=False):
    """Apply a binary Function after PyTorch's type promotion and a clear broadcast check."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(a).__name__} and "
                            f"{type(b).__name__}")
        if isinstance(a, np.ndarray):
            refuse_array(name, a, "input", 1)
        a = _scalar_or_tensor(a, b, name, true_divide)
    elif not isinstance(b, Tensor):
        if isinstance(b, np.ndarray):
            refuse_array(name, b)
        b = _scalar_or_tensor(b, a, name, true_divide)
    aa, ba = a._array, b._array
    da, db = aa.dtype, ba.dtype
    if (da is db or da == db) and not (true_divide and da.kind in "biu"):
        # the common case: nothing to promote (two equal dtypes promote to themselves); a 0-d
        # operand (a number made a tensor) broadcasts to any shape: nothing to check
        if aa.ndim and ba.ndim:
            sa, sb = aa.shape, ba.shape
            if sa != sb:            # (equal shapes broadcast: no call to check them)
                broadcast_shape(sa, sb, name)
        if da in _UNUSUAL:          # (one lookup for both: the common path pays no more)
            if da.kind == "c":
                fn = COMPLEX_FORMS.get(fn, fn)
            else:
                _refuse_unsigned_by_kernel(name, da)
        try:
            return fn.apply(a, b)
        except NotImplementedError:
            _refuse_complex_by_kernel(name, da)
            raise
    dtype = dtypes.result_type(a._array, b._array)
    if true_divide and dtype.kind in "biu":
        dtype = dtypes.default_float().np
    if dtype in _BAREBONES:
        _refuse_unsigned_by_kernel(name, dtype)
    broadcast_shape(a._array.shape, b._array.shape, name)
    if dtype.kind == "c":
        _refuse_complex_by_kernel(name, dtype)
        fn = COMPLEX_FORMS.get(fn, fn)
    return fn.apply(cast(a, dtype), cast(b, dtype))


# ops whose complex refusal PyTorch's kernel names (minigrad's Function would name itself)
def cast(t, dtype):
    """``t`` in ``dtype`` (a DType or numpy dtype); ``t`` itself when it already is."""
    np_dtype = dtype.np if isinstance(dtype, dtypes.DType) else dtype
    if t._array.dtype == np_dtype:
        return t
    if t.requires_grad and np_dtype.kind not in "fcV":
        return Cast.apply(t.detach(), dtype=np_dtype)
    return Cast.apply(t, dtype=np_dtype)


def _scaled(a, b, alpha, name):
    """alpha * b for a +- alpha * b: in the result dtype of a and b, as PyTorch (a float16 b
    with a float32 a is scaled in float32, without overflowing float16 on the way)."""
    if isinstance(alpha, Tensor):
        alpha = alpha.item()
    if type(alpha) is int and alpha == 1:
        return b
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    dtype = result_dtype(a, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        broadcast_shape(a._array.shape, b._array.shape, name)   # PyTorch checks shapes first
    _check_alpha(alpha, dtype)
    if not isinstance(b, Tensor):
        b = _scalar_or_tensor(b, a, name)
    if dtype.kind == "b":
        alpha = bool(alpha)      # a bool result: alpha b is b and alpha
    elif dtype.kind in "iu":
        alpha = int(alpha)
    else:
        alpha = complex(alpha) if dtype.kind == "c" else float(alpha)
    return _binary(Mul, cast(b, dtype), alpha, "mul")


def add(a, b, _other=None, *, alpha=1):
    """a + alpha * b, in PyTorch's promoted dtype of a and b; ``add(a, alpha, other)``:
    PyTorch's deprecated order, with its warning."""
    if _other is not None:
        alpha, b = legacy_overload(
            "add", b, (_other,), "add(Tensor input, Number alpha, Tensor other, *, Tensor out = "
            "None)", "add(Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None)",
            numbers_ok=True), _other
    elif type(alpha) is int and alpha == 1 and isinstance(a, Tensor):
        return _binary(Add, a, b, "add")      # the common call: nothing to read or scale
    a = _first_number(a, b)
    out = half_scaled_add(a, b, alpha, "add")     # float16/bfloat16: PyTorch's one rounding
    return _binary(Add, a, _scaled(a, b, alpha, "add"), "add") if out is None else out


# ``t + other``, ``t - other``, ``t * other``, ``t / other`` (Tensor.__add__...): the named
# op's work, but a numpy array gives NotImplemented, as PyTorch's operators, so that numpy
# computes (reading the tensor by __array__, in numpy's promotion; a Tensor back by
# __array_wrap__); an array on the left, numpy and Python refuse (numpy defers to the tensor's
# __array_priority__).  Written out, not wrapped: two tensors are a hot path, a call shorter
# than add(x, y) here (no alpha, no number pair to read).  An operand the op refuses with a
# TypeError (a list, None, a string) gives NotImplemented too, as PyTorch's operators turn
# every TypeError into it: Python then raises its own "unsupported operand type(s)" words.
def add_operator(self, other):
    """``self + other``; see above."""
    if isinstance(other, np.ndarray):
        return NotImplemented
    try:
        return _binary(Add, self, other, "add")      # (add's alpha is 1: nothing to scale)
    except TypeError:
        return NotImplemented


def sub_operator(self, other):
    """``self - other``; see above (bool operands: sub's refusal)."""
    if isinstance(other, Tensor) and self._array.dtype.kind != "b" and \
            other._array.dtype.kind != "b":
        return _binary(Sub, self, other, "sub")
    if isinstance(other, np.ndarray):
        return NotImplemented
    try:
        return sub(self, other)
    except TypeError:
        return NotImplemented


def mul_operator(self, other):
    """``self * other``; see above (a 16-bit float self: mul's float32 scalar rule)."""
    dtype = self._array.dtype
    if dtype is _FLOAT16 or dtype is _BF16 or not isinstance(other, Tensor):
        if isinstance(other, np.ndarray):
            return NotImplemented
        if dtype is _FLOAT16 or dtype is _BF16:      # (what _by_half_scalar looks for)
            out = _by_half_scalar(Mul, self, other)
            if out is not None:
                return out
    try:
        return _binary(Mul, self, other, "mul")
    except TypeError:
        return NotImplemented


def _is_bool(x):
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._array.dtype.kind == "b")


def sub(a, b, _other=None, *, alpha=1):
    if _other is not None:                  # PyTorch's deprecated sub(a, alpha, other)
        alpha, b = legacy_overload(
            "sub", b, (_other,), "sub(Tensor input, Number alpha, Tensor other, *, Tensor out = "
            "None)", "sub(Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None)",
            numbers_ok=True), _other
    elif type(alpha) is int and alpha == 1 and isinstance(a, Tensor) and \
            isinstance(b, Tensor) and a._array.dtype.kind != "b" and b._array.dtype.kind != "b":
        return _binary(Sub, a, b, "sub")      # the common call: two tensors, no alpha
    # a number minus a tensor is PyTorch's rsub, whose node is RsubBackward1
    node = Sub if isinstance(a, Tensor) else _RSUB
    a = _first_number(a, b)
    if _is_bool(a) or _is_bool(b):
        # as PyTorch: a - b of booleans is ambiguous (xor? a mask's inverse?): refused
        if _is_bool(a) and _is_bool(b):
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    out = half_scaled_add(a, b, alpha, "sub") if node is Sub else None
    return _binary(node, a, _scaled(a, b, alpha, "sub"), "sub") if out is None else out


_FLOAT16 = np.dtype(np.float16)       # (numpy's dtype of every native float16 array)
_BF16 = dtypes.BFLOAT16


def half_scalar(a, b):
    """``b`` as a 0-d float32 Tensor when PyTorch multiplies or divides the float16 tensor
    ``a`` by it in float32: its CPU kernels read a second operand that is a number or a 0-d
    tensor at float precision, so ``h * 0.1`` is ``float16(h * 0.1f)``, not ``h *
    float16(0.1)`` (an ulp apart).  None in every other case (then the usual promotion)."""
    if isinstance(b, Tensor):
        if b._array.ndim or b._requires_grad or b._array.dtype == _FLOAT16 or \
                b._array.dtype.kind not in "fiubV":
            return None
        value = b._array
    elif isinstance(b, (bool, int, float, np.integer, np.floating, np.bool_)):
        if isinstance(b, int):
            check_python_int(b)
        value = b
    else:
        return None
    if a._array.ndim == 0 and isinstance(b, Tensor):
        return None                 # two 0-d tensors: promoted as usual
    with np.errstate(over="ignore"):
        return Tensor._wrap(backend.xp_of(a._array).asarray(value, dtype=np.float32))


def _by_half_scalar(node, a, b):
    """``node`` (Mul or Div) of a float16/bfloat16 tensor ``a`` by a float32 scalar ``b``,
    computed in float32 as PyTorch (see ``half_scalar``); None for any other operands."""
    if isinstance(a, Tensor):
        dtype = a._array.dtype
        if dtype is _FLOAT16 or dtype is _BF16:
            scalar = half_scalar(a, b)
            if scalar is not None:
                return node.apply(a, scalar, half=True)
    return None


def mul(a, b):
    if not isinstance(a, Tensor):
        a = _first_number(a, b)
    elif a._array.dtype is not _FLOAT16 and a._array.dtype is not _BF16:
        return _binary(Mul, a, b, "mul")      # (no 16-bit float a: no float32 scalar rule)
    out = _by_half_scalar(Mul, a, b)
    return _binary(Mul, a, b, "mul") if out is None else out


def refuse_array(name, value, what="other", position=2):
    """PyTorch's TypeError for a numpy array given to a named op (``torch.pow(t, array)``,
    ``torch.add(t, array)``); its operators (``t ** array``) give NotImplemented instead,
    so that numpy computes."""
    if isinstance(value, np.ndarray):
        raise TypeError(f"{name}(): argument '{what}' (position {position}) must be Tensor, "
                        f"not numpy.ndarray")


# (bool: Python's words below; uint16/32/64: no kernel)
_NO_NEG = frozenset((np.dtype(bool),)) | dtypes.BAREBONES_UNSIGNED


def neg(a):
    if a._array.dtype in _NO_NEG:
        dtypes.refuse_unsigned("neg_cpu", a._array.dtype)
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return Neg.apply(a)
