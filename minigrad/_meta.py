"""The ``meta`` device: tensors with a shape and a dtype but no data.

A meta tensor's array is a ``MetaArray``: a numpy array subclass whose every stride is 0, a
view of one element, so a meta tensor of any size takes a few bytes. minigrad's ops run on it
unchanged (numpy does the shape and dtype work) and their results are meta arrays again:

* numpy ufuncs (every elementwise op, ``matmul``, the ``reduce`` behind sums and means) are
  caught by ``__array_ufunc__``, which works out the result's shape from the operands' shapes
  and its dtype from a one-element run of the ufunc, and returns a zero-stride result: O(1)
  work and memory, whatever the size;
* other numpy functions (``np.concatenate``, ``np.einsum``...) are caught by
  ``__array_function__``: the *_like factories and copies are answered directly; the rest run
  on the zero-stride operands and their result is shrunk to one element at once (the full
  result exists only for the length of that call);
* writes (``a[i] = v``, ``np.copyto``, ``out=``) do nothing: there is nothing to write into;
* ``backend.xp_of(meta_array)`` is ``xp`` below, numpy with its constructors (``asarray``,
  ``zeros``, ``empty``...) and ``lib.stride_tricks`` making meta arrays, so an op that builds
  its scratch or its numbers with ``xp`` builds them on the meta device too (and no strided
  view can read past the one element).

Reading values is refused with PyTorch's errors (``item``, ``tolist``, copying to the CPU).
The normal CPU paths never see any of this: a meta array is only met where ``type(a) is
np.ndarray`` has already failed (``backend.device_of``), so they pay no extra check.
"""
from __future__ import annotations

import numpy as np

__all__ = ["MetaArray", "MetaNumber", "empty", "from_array", "xp", "NO_DATA", "NO_ITEM"]

NO_DATA = "Cannot copy out of meta tensor; no data!"          # PyTorch's words
NO_ITEM = "Tensor.item() cannot be called on meta tensors"


def _zero(dtype):
    return np.zeros((), dtype)


def empty(shape, dtype) -> "MetaArray":
    """A meta array of ``shape`` and ``dtype``: a zero-stride view of one element, a zero of
    its own. It is writeable, as a meta tensor takes in-place ops (which write nothing): the
    writes numpy makes itself land in that one element, which no value is read from."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    dtype = np.dtype(dtype)
    return np.ndarray.__new__(MetaArray, shape, dtype, np.zeros((), dtype), 0,
                              (0,) * len(shape))


def from_array(array) -> "MetaArray":
    """``array``'s shape and dtype as a meta array (its values are dropped)."""
    if type(array) is MetaArray and (array.size <= 1 or not any(array.strides)):
        return array
    array = np.asarray(array)
    return empty(array.shape, array.dtype)


def _plain(x):
    """A meta array as an ordinary ndarray (the same zero-stride view); others as they are."""
    if isinstance(x, MetaArray):
        return x.view(np.ndarray)
    if type(x) in (tuple, list):
        return type(x)(_plain(v) for v in x)
    return x


def _tiny(x):
    """One element of every dim (none of an empty one): same dtype, same number of dims."""
    if isinstance(x, np.ndarray) and x.ndim:
        return x[(slice(0, 1),) * x.ndim]
    return x


def _metafy(result):
    """A function's result with every ndarray in it turned into a meta array."""
    if isinstance(result, np.ndarray):
        return from_array(result)
    if type(result) in (tuple, list):
        return type(result)(_metafy(r) for r in result)
    return result


def _reduced_shape(shape, axis, keepdims):
    ndim = len(shape)
    if axis is None:
        axes = set(range(ndim))
    else:
        axes = {int(a) % max(ndim, 1) for a in (axis if isinstance(axis, tuple) else (axis,))}
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _matmul_shape(sa, sb):
    """numpy's matmul result shape, or None when numpy's own call should raise."""
    if not sa or not sb:
        return None
    a2 = sa if len(sa) > 1 else (1,) + sa
    b2 = sb if len(sb) > 1 else sb + (1,)
    if a2[-1] != b2[-2]:
        return None
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        return None
    return batch + a2[-2:-1] * (len(sa) > 1) + b2[-1:] * (len(sb) > 1)


def _like(func, args, kwargs):
    """np.empty_like / zeros_like / ones_like / full_like: a meta result, nothing filled."""
    proto = args[0]
    dtype = kwargs.get("dtype", args[2] if func is np.full_like and len(args) > 2 else
                       args[1] if func is not np.full_like and len(args) > 1 else None)
    shape = kwargs.get("shape")
    return empty(np.shape(proto) if shape is None else shape,
                 np.result_type(proto) if dtype is None else dtype)


def _concatenate(arrays, axis=0, out=None, **kwargs):
    """np.concatenate's result shape and dtype, from a run on one-element pieces."""
    arrays = [_plain(a) for a in arrays]
    tiny = np.concatenate([_tiny(a) for a in arrays], axis=axis, **kwargs)  # numpy's checks
    if axis is None:
        return empty((sum(a.size for a in arrays),), tiny.dtype)
    ax = axis % tiny.ndim
    shape = list(arrays[0].shape)
    for a in arrays[1:]:
        if a.shape[:ax] + a.shape[ax + 1:] != tuple(shape[:ax] + shape[ax + 1:]):
            return from_array(np.concatenate(arrays, axis=axis, **kwargs))  # (its error)
        shape[ax] += a.shape[ax]
    return empty(shape, tiny.dtype)


def _where(condition, *values):
    """np.where(c, x, y): the broadcast shape, the dtype of a one-element run."""
    if len(values) != 2:
        return _metafy(np.where(_plain(condition), *_plain(list(values))))
    parts = [_plain(condition)] + _plain(list(values))
    shape = np.broadcast_shapes(*(np.shape(p) for p in parts))
    return empty(shape, np.where(*(_tiny(p) for p in parts)).dtype)


_LIKE = (np.empty_like, np.zeros_like, np.ones_like, np.full_like)
# numpy functions that call their first argument's method: routed to MetaArray's own
_METHODS = {np.sum: "sum", np.prod: "prod", np.mean: "mean", np.max: "max", np.amax: "max",
            np.min: "min", np.amin: "min", np.argmax: "argmax", np.argmin: "argmin",
            np.any: "any", np.all: "all", np.std: "std", np.var: "var", np.cumsum: "cumsum",
            np.cumprod: "cumprod"}
# functions whose result has their first argument's shape and dtype
_SAME = (np.tril, np.triu, np.flip, np.roll, np.sort, np.nan_to_num, np.fliplr, np.flipud)
_COPIES = (np.copy, np.ascontiguousarray, np.asfortranarray, np.require)


class MetaArray(np.ndarray):
    """A numpy array with a shape and a dtype but no data of its own (see the module's doc)."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        plain = [_plain(x) for x in inputs]
        outs = out if out is not None else ()
        kwargs.pop("where", None)          # a mask changes no shape and no dtype
        with np.errstate(all="ignore"):    # the element computed is a stand-in, 0
            if method == "__call__" and (ufunc.signature is None or
                                         ufunc is np.matmul and "axes" not in kwargs):
                shapes = [np.shape(x) for x in plain]
                shape = np.broadcast_shapes(*shapes) if ufunc.signature is None else \
                    _matmul_shape(*shapes)
                if shape is None:                   # numpy's error, from numpy
                    return ufunc(*plain, **kwargs)
                tiny = ufunc(*[_tiny(x) for x in plain], **kwargs)
                tiny = tiny if isinstance(tiny, tuple) else (tiny,)
                results = tuple(empty(shape, np.result_type(t)) for t in tiny)
            elif method in ("reduce", "accumulate") and type(plain[0]) is np.ndarray:
                a = plain[0]
                tiny = getattr(ufunc, method)(_tiny(a), **kwargs)
                shape = a.shape if method == "accumulate" else _reduced_shape(
                    a.shape, kwargs.get("axis", 0), kwargs.get("keepdims", False))
                results = (empty(shape, np.result_type(tiny)),)
            else:                                   # outer, at, reduceat: run, then shrink
                if method == "at":
                    return None if isinstance(inputs[0], MetaArray) else \
                        ufunc.at(*plain, **kwargs)
                r = getattr(ufunc, method)(*plain, **kwargs)
                results = _metafy(r if isinstance(r, tuple) else (r,))
        if outs:        # writes into a meta array do nothing; into another array, a stand-in
            for o, r in zip(outs, results):
                if not isinstance(o, MetaArray):
                    np.copyto(o, np.broadcast_to(_zero(r.dtype), o.shape), casting="unsafe")
            results = tuple(outs)
        # a 0-d result stays an array (numpy would give a scalar): a scalar is a CPU value
        return results[0] if len(results) == 1 else results

    def __array_function__(self, func, types, args, kwargs):
        if func in _LIKE:
            return _like(func, args, kwargs)
        if func in _COPIES:
            a = args[0]
            return empty(np.shape(a), kwargs.get("dtype") or np.result_type(a))
        method = _METHODS.get(func)
        if method is not None and isinstance(args[0], MetaArray):
            return getattr(args[0], method)(*args[1:], **kwargs)
        if func is np.concatenate:
            return _concatenate(*args, **kwargs)
        if func is np.where:
            return _where(*args, **kwargs)
        if func in _SAME:
            a = args[0]
            return empty(np.shape(a), np.result_type(a))
        if func is np.copyto:
            dst = args[0]
            if isinstance(dst, MetaArray):
                return None
            return np.copyto(dst, np.broadcast_to(_zero(dst.dtype), dst.shape))
        with np.errstate(all="ignore"):
            result = func(*_plain(list(args)), **{k: _plain(v) for k, v in kwargs.items()})
        return _metafy(result)

    # -- no data: writes do nothing, reads are refused -------------------------------------
    def __setitem__(self, key, value):
        pass

    def fill(self, value):
        pass

    def item(self, *args):
        raise RuntimeError(NO_ITEM)

    def tolist(self):
        raise NotImplementedError(NO_DATA)

    def tobytes(self, order="C"):
        raise NotImplementedError(NO_DATA)

    # -- copies and casts: a meta array of the new shape or dtype ------------------------
    def __getitem__(self, key):
        r = np.ndarray.__getitem__(self, key)
        return from_array(r) if isinstance(r, np.ndarray) else empty((), self.dtype)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return empty(self.shape, dtype)

    def copy(self, order="C"):
        return empty(self.shape, self.dtype)

    __copy__ = copy

    def __deepcopy__(self, memo):
        return empty(self.shape, self.dtype)

    def __reduce__(self):
        return (empty, (self.shape, self.dtype))

    def sort(self, axis=-1, kind=None, order=None):
        pass

    def argmax(self, axis=None, out=None, *, keepdims=False):
        return self._arg_reduce(np.ndarray.argmax, axis, keepdims)

    def argmin(self, axis=None, out=None, *, keepdims=False):
        return self._arg_reduce(np.ndarray.argmin, axis, keepdims)

    def _arg_reduce(self, method, axis, keepdims):
        tiny = method(_tiny(self.view(np.ndarray)), axis=axis, keepdims=keepdims)  # its errors
        return empty(_reduced_shape(self.shape, axis, keepdims), np.result_type(tiny))

    def view(self, *args, **kwargs):
        try:
            return np.ndarray.view(self, *args, **kwargs)
        except ValueError:
            # another itemsize: numpy wants a contiguous last axis, which a meta array (all
            # strides 0) has not; the shape is what a contiguous one would get
            dtype = np.dtype(args[0] if args else kwargs.get("dtype"))
            last = self.shape[-1] * self.itemsize if self.ndim else self.itemsize
            if last % dtype.itemsize:
                raise
            return empty(self.shape[:-1] + (last // dtype.itemsize,), dtype)

    def ravel(self, order="C"):
        return empty((self.size,), self.dtype)

    def flatten(self, order="C"):
        return empty((self.size,), self.dtype)

    def reshape(self, *shape, order="C"):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) \
            else shape
        return from_array(np.ndarray.reshape(self.view(np.ndarray), shape))


def _shrinking(name):
    method = getattr(np.ndarray, name)

    def run(self, *args, **kwargs):
        with np.errstate(all="ignore"):
            return _metafy(method(self, *args, **kwargs))
    run.__name__ = name
    run.__doc__ = f"ndarray.{name}, its result a meta array."
    return run


# ndarray methods that compute in C without a ufunc or function numpy lets a subclass catch:
# run as numpy runs them (on the zero-stride data), their results shrunk to meta arrays
for _name in ("argsort", "argpartition", "take", "repeat", "nonzero",
              "cumsum", "cumprod", "clip", "round", "conj", "conjugate", "diagonal", "trace",
              "searchsorted", "dot", "choose", "compress", "max", "min", "ptp", "sum", "prod",
              "mean", "std", "var", "all", "any"):
    if hasattr(np.ndarray, _name):
        setattr(MetaArray, _name, _shrinking(_name))
del _name


class MetaNumber(MetaArray):
    """A 0-d meta array that holds a value: a number an op made into an array with
    ``xp.asarray`` (``x * 2`` on a meta ``x``), which the op itself may read back
    (``.item()``). It is on the meta device, as the operand it goes with; what is computed
    from it is a ``MetaArray`` again."""

    __setitem__ = np.ndarray.__setitem__
    fill = np.ndarray.fill
    item = np.ndarray.item
    tolist = np.ndarray.tolist
    tobytes = np.ndarray.tobytes
    __getitem__ = np.ndarray.__getitem__


# -- the array module of the meta device ---------------------------------------------------
def _meta_like_asarray(a, dtype=None, *args, **kwargs):
    array = np.asarray(_plain(a), dtype=dtype)
    return array.view(MetaNumber) if array.ndim == 0 else from_array(array)


def _meta_filled(shape, dtype=float, *args, **kwargs):
    return empty(shape, dtype)


def _meta_full(shape, fill_value, dtype=None, *args, **kwargs):
    return empty(shape, np.asarray(fill_value).dtype if dtype is None else dtype)


def _meta_made(func):
    def make(*args, **kwargs):
        return from_array(func(*args, **kwargs))
    make.__name__ = func.__name__
    return make


class _Namespace:
    """numpy (or a numpy submodule) with some names replaced: everything else is numpy's."""

    def __init__(self, base, **replaced):
        self._base = base
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(self._base, name)


def _meta_as_strided(x, shape=None, strides=None, subok=False, writeable=True):
    # a meta array's one element must not be read past, whatever the strides asked
    return empty(np.shape(x) if shape is None else shape, x.dtype)


def _meta_windows(x, window_shape, axis=None, *, subok=False, writeable=False):
    return from_array(np.lib.stride_tricks.sliding_window_view(_plain(x), window_shape,
                                                               axis=axis))


# (its own __name__: caches keyed by the array module, the convolutions' scratch buffers,
# must never hand a meta array to a CPU call)
xp = _Namespace(
    np, __name__="minigrad._meta.xp", asarray=_meta_like_asarray, array=_meta_like_asarray,
    asanyarray=_meta_like_asarray,
    ascontiguousarray=_meta_like_asarray, asfortranarray=_meta_like_asarray,
    empty=_meta_filled, zeros=_meta_filled, ones=_meta_filled, full=_meta_full,
    arange=_meta_made(np.arange), linspace=_meta_made(np.linspace), eye=_meta_made(np.eye),
    identity=_meta_made(np.identity), tri=_meta_made(np.tri),
    lib=_Namespace(np.lib, stride_tricks=_Namespace(
        np.lib.stride_tricks, as_strided=_meta_as_strided,
        sliding_window_view=_meta_windows)))
