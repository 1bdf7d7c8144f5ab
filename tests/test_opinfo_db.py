"""PyTorch's own sample inputs (the OpInfo database, ``op_db``) run on every op minigrad has.

For each ``op_db`` entry whose name minigrad exports (``minigrad.<dotted name>`` such as
``minigrad.nn.functional.pad`` or ``minigrad.linalg.vector_norm``, or a Tensor method), variants
included (``max`` ``reduction_with_dim`` is the test id ``max.reduction_with_dim``), the samples
are run on both libraries:

* float64: the outputs and the gradients of a fixed weighted sum must agree;
* float32, int64, int32, uint8 and bool, where op_db says the op takes that dtype on CPU: the
  forward outputs must have the same shape, dtype and values (float32 within rounding).

Either way, both libraries may instead refuse the sample with the same exception type.
``test_opinfo_reference_inputs`` does the same over op_db's reference inputs (extremal values,
large and non-contiguous tensors) in float64 and float32; tests/opinfo_wrong_torch.py lists
the elements where torch's own value is not a reference. Importing
``op_db`` takes PyTorch half a minute (it needs the ``expecttest`` package), so this is a slow
test: ``pytest --runslow tests/test_opinfo_db.py`` (or ``MINIGRAD_SLOW=1``).
"""
import inspect
import os
import types
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

from opinfo_wrong_torch import set_apart, wrong_torch_mask  # noqa: E402

pytestmark = pytest.mark.slow


def _translated(wrapper):
    """op_db wraps many ops in a small lambda written against ``torch`` (``lambda x: x.T``,
    ``lambda self, cond, other: torch.where(cond, self, other)``); the same code with ``torch``
    bound to minigrad is minigrad's side of the sample."""
    scope = dict(wrapper.__globals__, torch=minigrad)
    return types.FunctionType(wrapper.__code__, scope, wrapper.__name__, wrapper.__defaults__,
                              wrapper.__closure__)


def _by_name(name):
    if "." in name:                      # a namespace: nn.functional.pad, linalg.vector_norm
        obj = minigrad
        for part in name.split("."):
            obj = getattr(obj, part, None)
        return obj if callable(obj) else None
    fn = getattr(minigrad, name, None)
    if callable(fn) and not isinstance(fn, minigrad.dtype):
        return fn
    if hasattr(minigrad.Tensor, name):
        if name.startswith("__"):           # op_db's torch.Tensor.__radd__: called unbound
            return getattr(minigrad.Tensor, name)
        return lambda x, *a, **k: getattr(x, name)(*a, **k)
    return None


def _fills_in_place(op):
    """op_db's random fills (cauchy, exponential, geometric, log_normal, uniform) are named
    without the trailing underscore of the in-place Tensor method their lambda calls."""
    return inspect.isfunction(op.op) and hasattr(minigrad.Tensor, op.name + "_") and \
        op.name + "_" in op.op.__code__.co_names


def _ops():
    from torch.testing._internal import common_methods_invocations as cmi
    found = []
    databases = [cmi.op_db] + [getattr(cmi, name) for name in dir(cmi)
                               if name.startswith("foreach_") and name.endswith("_op_db")]
    for op in (op for db in databases for op in db):
        exported = _by_name(op.name) is not None or _by_name(
            getattr(op.op, "__name__", op.name)) is not None or (
            op.name in ("T", "mT", "mH", "H") and hasattr(minigrad.Tensor, op.name)) or \
            _fills_in_place(op)
        if not exported:
            continue
        wrapper = op.op
        if inspect.isfunction(wrapper) and wrapper.__module__.startswith("torch.testing"):
            found.append((op, _translated(wrapper)))
        elif inspect.isbuiltin(wrapper) and _by_name(wrapper.__name__) is not None:
            # the entry may name a function other than its own (_foreach_zero runs the
            # in-place torch._foreach_zero_, there being no out-of-place one)
            found.append((op, _by_name(wrapper.__name__)))
        else:
            found.append((op, _by_name(op.name)))
    return found


def _op_id(op):
    return f"{op.name}.{op.variant_test_name}" if op.variant_test_name else op.name


# float64 and complex128 carry the gradient check; the others are compared forward only.
# bfloat16 is left out on purpose: op_db's samples are mostly smaller than a vector register,
# and PyTorch's scalar bfloat16 loops round differently from its vectorised ones (rsqrt of 7
# elements rounds the square root first, of 4000 rounds once); tests/test_bfloat16.py
# compares bfloat16 against torch on samples that take the vectorised path
DTYPES = (torch.float64, torch.float32, torch.float16, torch.int64, torch.int32, torch.int16,
          torch.int8, torch.uint8, torch.bool, torch.complex128, torch.complex64)

_SLOW = os.environ.get("MINIGRAD_SLOW", "") not in ("", "0")    # conftest: --runslow sets it
OPS = _ops() if _SLOW else []
CASES = [(op, fn, dtype) for op, fn in OPS for dtype in DTYPES
         if op.supports_dtype(dtype, "cpu")]


def _to_minigrad(x, seen=None):
    """The same arguments for minigrad; one torch tensor passed twice (``stack([a, a])``)
    becomes one minigrad tensor passed twice, so that its gradient adds up the same way."""
    seen = {} if seen is None else seen
    if isinstance(x, torch.Tensor):
        if id(x) not in seen:
            if x.layout in (torch.sparse_coo, torch.sparse_csr):
                # a sparse tensor: minigrad's of the same indices and values, requiring grad
                # (through its values) where torch's does
                seen[id(x)] = _sparse_to_minigrad(x)
                return seen[id(x)]
            if x.is_conj() or x.is_neg():
                # a lazy conjugate/negative view (op_db's x.conj() samples): its values
                t = minigrad.tensor(x.detach().resolve_conj().resolve_neg().numpy())
            elif x._base is not None and x.is_leaf:
                # a view of a larger tensor (op_db's partial_views samples): the same view of
                # the same numbers, since as_strided reads the storage around it
                storage = torch.empty(0, dtype=x.dtype).set_(x.untyped_storage())
                t = minigrad.tensor(storage.numpy()).as_strided(tuple(x.shape), x.stride(),
                                                                x.storage_offset())
            elif x.dtype == torch.bfloat16:
                # numpy has no bfloat16 of torch's: through float32, which holds it exactly
                t = minigrad.tensor(x.detach().float().numpy()).to(minigrad.bfloat16)
            else:
                t = minigrad.tensor(x.detach().numpy())
            seen[id(x)] = t.requires_grad_(True) if x.requires_grad else t
        return seen[id(x)]
    if isinstance(x, (list, tuple)):
        return type(x)(_to_minigrad(v, seen) for v in x)
    if isinstance(x, dict):
        return {k: _to_minigrad(v, seen) for k, v in x.items()}
    if isinstance(x, (torch.dtype, torch.memory_format, torch.layout)):
        return getattr(minigrad, str(x).replace("torch.", ""))
    if isinstance(x, torch.device):
        return minigrad.device(str(x))
    if isinstance(x, torch.nn.Module) and not list(x.parameters()) and \
            hasattr(minigrad.nn, type(x).__name__):
        # a parameterless layer passed as an argument (triplet_margin_with_distance_loss's
        # distance_function=PairwiseDistance()): minigrad's layer of that name, configured alike
        mine = getattr(minigrad.nn, type(x).__name__)()
        for key, value in vars(x).items():
            if not key.startswith("_") and key in vars(mine):
                setattr(mine, key, value)
        return mine
    return x


def _sparse_to_minigrad(x):
    values = minigrad.tensor(x.detach().values().numpy())
    if x.layout == torch.sparse_csr:
        t = minigrad.sparse_csr_tensor(x.crow_indices().numpy(), x.col_indices().numpy(),
                                       values, tuple(x.shape))
    else:
        t = minigrad.sparse_coo_tensor(x.detach()._indices().numpy(), values, tuple(x.shape),
                                       is_coalesced=x.is_coalesced())
    return t.requires_grad_(True) if x.requires_grad else t


def _leaves(x):
    if isinstance(x, (torch.Tensor, minigrad.Tensor)):
        return [x] if x.requires_grad else []
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _leaves(v)]
    return []


def _outputs(out):
    """The tensors and Python numbers an op returned, nested tuples and lists flattened (a
    ``torch.Size`` or a ``tolist()`` is compared number by number)."""
    if isinstance(out, (list, tuple)):
        return [o for v in out for o in _outputs(v)]
    if isinstance(out, (torch.Tensor, minigrad.Tensor, bool, int, float)) or \
            type(out).__module__ == "numpy":  # a numpy scalar where torch gives a Python one
        return [out]
    return []


def _weighted(o, lib):
    """A fixed real weighted sum of an output's elements (of its real and imaginary parts,
    with different weights, for a complex output); a sparse output through its dense form."""
    if o.is_sparse:
        o = o.to_dense()
    w = lib.tensor(np.cos(np.arange(o.numel())).reshape(tuple(o.shape)))
    if o.is_complex():
        v = lib.tensor(np.sin(np.arange(o.numel()) + 0.5).reshape(tuple(o.shape)))
        return (o.real.to(lib.float64) * w).sum() + (o.imag.to(lib.float64) * v).sum()
    return (o.to(lib.float64) * w).sum()


def _run(fn, args, kwargs, lib, backward=True):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = _outputs(fn(*args, **kwargs))
            floating = [o for o in out if getattr(o, "requires_grad", False) and backward]
            if floating:
                loss = sum(_weighted(o, lib) for o in floating)
                loss.backward()
            return out, None
    except Exception as exc:  # noqa: BLE001
        return None, exc


# ops whose outputs are random draws (or uninitialised memory, for empty): minigrad's generator
# is not torch's, so only their shapes and dtypes can be compared
_RANDOM = ("rand", "bernoulli", "normal", "dropout", "empty", "multinomial", "uniform",
           "exponential", "cauchy", "geometric", "poisson", "rrelu",
           "fractional_max_pool")      # windows drawn at random (from torch's own generator)
# names holding one of those words that draw nothing: compared as every other op
_NOT_RANDOM = frozenset({"__rand__", "nn.functional.normalize", "masked.normalize",
                         "nn.functional.poisson_nll_loss", "native_dropout_backward"})


# svd_lowrank and pca_lowrank start from a random matrix, but where A has rank at most q (op_db's
# samples, A = a @ b.mT with q = rank) their result is exact whatever it was; their samples carry
# the gauge-free outputs to compare (U @ V^H and S). A sample with M (a full-rank A - M) is an
# approximation that depends on the draw
_LOW_RANK = ("svd_lowrank", "pca_lowrank")


# eig's eigenvectors are fixed only up to a complex phase each (LAPACK builds choose
# differently): op_db's samples carry the phase-free outputs to compare, (eigenvalues,
# |eigenvectors|), as for the low-rank factorizations above
_GAUGE_FREE_OUTPUTS = ("linalg.eig",)


def _is_random(op, sample):
    kwargs = sample.kwargs
    if op.name in _LOW_RANK:
        return kwargs.get("M") is not None
    if "multi_head_attention_forward" in op.name:     # op_db passes dropout_p by position
        p = kwargs.get("dropout_p", sample.args[9] if len(sample.args) > 9 else 0)
        return bool(p) and kwargs.get("training", True)
    return is_random_name(op.name) or kwargs.get("dropout_p", 0) > 0


def is_random_name(name):
    """Whether op_db's op ``name`` draws at random (its results are then compared by shape
    and dtype only)."""
    return name not in _NOT_RANDOM and any(word in name for word in _RANDOM)


# svd and eigh fix each singular or eigen vector only up to its sign, and LAPACK builds choose
# differently (torch's MKL and numpy's OpenBLAS flip different columns of the same matrix);
# a full SVD's extra columns are any orthonormal basis of a null space. So their vectors are
# compared with the largest entry of each made positive (U's column and V's column, or Vh's
# row, flipped together), the extra columns by the projector they make, and their gradients,
# which depend on the signs, only where both libraries chose the same ones
_SIGN_GAUGE = {"svd", "linalg.svd", "linalg.eigh"}

# leaves (by position among the sample's tensors that require grad) whose torch gradient is
# wrong, so it is not a reference: as_strided_scatter's gradient for ``input`` keeps the upstream
# gradient on the overwritten elements and zeroes the rest, the reverse of d out / d input
# (torch.autograd.gradcheck fails on it; tests/test_opdb_round8.py checks minigrad's against
# central differences of torch's forward instead)
#
# ctc_loss's gradient for log_probs is d loss / d logits as if log_softmax came first
# (pytorch issues 52241 and 82545, open): it adds exp(log_probs) times the upstream gradient.
# After a log_softmax, as in every network, that term cancels and both libraries agree; on the
# leaf log_probs op_db hands over, minigrad's (the derivative of the forward it computes)
# differs. The registry checks minigrad's against central differences, and after a
# log_softmax against torch's
_WRONG_TORCH_GRAD = {"as_strided_scatter": (0,), "nn.functional.ctc_loss": (0,)}

# (op, dtype) whose torch values are not a reference:
# - matrix_exp in float16 returns NaN and inf for well-conditioned 4x4 matrices (its float32
#   result is finite and near 1); minigrad computes float32 and rounds;
# - soft_margin_loss in float16 overflows: log(1 + exp(12)) is inf there, since exp(12)
#   passes float16's 65504; minigrad's log1p(exp(-|z|)) + max(z, 0) gives 12
# - polygamma of int8 and int16 inputs: at the poles (0, -1, -2, ...) torch's float32 result is
#   a large finite number (1.7e16 for trigamma at -3) where the function is infinite
_WRONG_TORCH_VALUES = {("matrix_exp", torch.float16),
                       ("nn.functional.soft_margin_loss", torch.float16),
                       ("polygamma", torch.int8), ("polygamma", torch.int16),
                       ("special.polygamma", torch.int8), ("special.polygamma", torch.int16)}

# torch's float64 Bessel functions are off by up to 9e-7 near |x| = 5 (measured against
# scipy.special on 200,001 points in [-12, 12]; minigrad's within 5e-13), so their values and
# gradients are compared to 1e-6
_LOOSE_TORCH = {"special.bessel_j0": 1e-6, "special.bessel_j1": 1e-6,
                "special.bessel_y0": 1e-6, "special.bessel_y1": 1e-6}


def _column_signs(a, k):
    """The sign of the largest-magnitude entry of each of the first k columns of a (..., m, n)."""
    cols = a[..., :k]
    if cols.size == 0:
        return np.ones(cols.shape[:-2] + (k,))
    pick = np.take_along_axis(cols, np.abs(cols).argmax(axis=-2)[..., None, :], axis=-2)
    return np.where(pick[..., 0, :] < 0, -1.0, 1.0)


def _gauge_fixed(op, outs):
    """The outputs of svd / eigh as arrays, each vector's sign fixed; and those signs."""
    arrays = [_values(o).copy() for o in outs]
    if op.name == "linalg.eigh":
        signs = _column_signs(arrays[1], arrays[1].shape[-1])
        arrays[1] = arrays[1] * signs[..., None, :]
    elif len(arrays) == 3 and arrays[0].size:              # U, S, V (or Vh)
        k = arrays[1].shape[-1]
        signs = _column_signs(arrays[0], k)
        arrays[0][..., :k] *= signs[..., None, :]
        if op.name == "svd":                               # torch.svd returns V
            arrays[2][..., :k] *= signs[..., None, :]
            v = arrays[2]
        else:
            arrays[2][..., :k, :] *= signs[..., :, None]
            v = np.swapaxes(arrays[2], -1, -2)
        # full matrices: the columns past k span the null spaces, in any orthonormal basis;
        # the projectors onto those spaces are what is determined
        u_rest, v_rest = arrays[0][..., k:], v[..., k:]
        arrays[0] = arrays[0][..., :k]
        arrays[2] = v[..., :k]
        arrays += [u_rest @ np.swapaxes(u_rest, -1, -2), v_rest @ np.swapaxes(v_rest, -1, -2)]
    else:
        signs = np.ones(1)
    return arrays, signs


# sort, argsort and topk order equal values arbitrarily unless stable=True (torch's own order
# changes with its kernel), so their last output, the indices, is compared by the input values
# it picks along the dim; the value is where op_db's samples put that dim in ``args``. mode
# returns the index of *an* occurrence of the modal value: which one, on long slices, follows
# the internal order of torch's sort
_TIED_INDICES = {"sort": 0, "argsort": 0, "topk": 1, "mode": 0}


def _picked(op, sample, mine, theirs):
    """The input values that ``mine`` and ``theirs`` (index tensors) select."""
    x = sample.input.detach().numpy()
    if x.ndim == 0:
        return _values(mine), _values(theirs)
    pos = _TIED_INDICES[op.name]
    dim = sample.kwargs.get("dim", sample.args[pos] if len(sample.args) > pos else -1)
    picks = []
    for i in (mine, theirs):
        i = _values(i).astype(np.int64)
        if i.ndim < x.ndim:                 # one index per slice, its dim removed (mode)
            i = np.expand_dims(i, dim)
        picks.append(np.take_along_axis(x, i, axis=dim))
    return tuple(picks)


def _same_meta(m, t):
    if not isinstance(t, torch.Tensor):    # a Python number: the same type (bool, int, float)
        assert type(m) is type(t), f"{type(m).__name__} {m!r} vs {type(t).__name__} {t!r}"
        return
    assert isinstance(m, minigrad.Tensor), f"{type(m).__name__} vs Tensor"
    assert tuple(m.shape) == tuple(t.shape), f"shape {tuple(m.shape)} vs {tuple(t.shape)}"
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], \
        f"dtype {m.dtype} vs {t.dtype}"
    assert str(m.layout).split(".")[-1] == str(t.layout).split(".")[-1], \
        f"layout {m.layout} vs {t.layout}"


def _values(x):
    if isinstance(x, (torch.Tensor, minigrad.Tensor)):
        # compared through what numpy holds: a sparse result's dense form (its layout is
        # compared with the metadata), a bfloat16 one widened exactly to float32
        if x.is_sparse:
            x = x.to_dense()
        if str(x.dtype).endswith("bfloat16"):
            x = x.float()
    if isinstance(x, torch.Tensor):
        return x.detach().resolve_conj().numpy()      # a conjugate view, written out
    return x.detach().numpy() if isinstance(x, minigrad.Tensor) else np.asarray(x)


def _assert_close(mine, theirs, rtol, atol):
    """assert_allclose, NaNs equal (a complex number with a NaN part counting as NaN, as numpy
    counts it); complex numbers with an infinite part compared part by part (numpy compares
    those by equality of the whole number, so inf+1.1330900354567983j and
    inf+1.1330900354567985j would differ), the finite ones by the magnitude of the
    difference."""
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    if "c" in (mine.dtype.kind, theirs.dtype.kind) and mine.shape == theirs.shape:
        odd = ~(np.isfinite(mine) & np.isfinite(theirs))
        if odd.any():
            pairs = [np.where(np.isnan(a[odd]), complex(np.nan, np.nan), a[odd])
                     for a in (mine, theirs)]
            pairs = [np.stack([a.real, a.imag], -1) for a in pairs]
            np.testing.assert_allclose(*pairs, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg="(non-finite complex elements, part by part)")
            mine, theirs = np.where(odd, 0, mine), np.where(odd, 0, theirs)
    np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=atol, equal_nan=True)


def _same_values(m, t, dtype, atol=1e-9):
    """float64 to 1e-6; float32 to 1e-5 of the output's largest magnitude, since a different
    summation order moves each sum of a few hundred float32 terms by that much (float16 to
    4e-3, two units in its last place); exact otherwise."""
    mine, theirs = _values(m), _values(t)
    if theirs.dtype.kind not in "fc":
        np.testing.assert_array_equal(mine, theirs)
    elif dtype in (torch.float64, torch.complex128) and theirs.dtype in (np.float64,
                                                                          np.complex128):
        _assert_close(mine, theirs, rtol=1e-6, atol=atol)
    else:
        finite = np.abs(theirs[np.isfinite(theirs)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        tol = 4e-3 if dtype == torch.float16 else 1e-5
        if theirs.dtype.kind == "c":         # assert_allclose compares complex magnitudes
            mine, theirs = mine.astype(theirs.dtype), theirs
        _assert_close(mine, theirs, rtol=tol, atol=tol * scale)


def _doubled(x):
    if isinstance(x, torch.Tensor) and x.dtype in (torch.float32, torch.float16):
        return x.detach().double()
    if isinstance(x, torch.Tensor) and x.dtype == torch.complex64:
        return x.detach().to(torch.complex128)
    if isinstance(x, (list, tuple)):
        return type(x)(_doubled(v) for v in x)
    if isinstance(x, dict):
        return {k: _doubled(v) for k, v in x.items()}
    return x


def _same_low_precision_values(op, sample, m, t, index, dtype):
    """float32 and float16 outputs: as _same_values, or, where that fails, no further from
    torch's own float64 result than four times torch's. Some samples are ill-conditioned
    (op_db's attention samples give scores near 1e5, where one rounding of a score moves a
    softmax weight by 1%): there a different but equally exact order of sums differs from
    torch's by more than the fixed tolerance."""
    try:
        _same_values(m, t, dtype)
    except AssertionError:
        exact, error = _run(op.op, _doubled([sample.input, *sample.args]),
                            _doubled(sample.kwargs), torch, backward=False)
        if error is not None or len(exact) <= index or not isinstance(exact[index],
                                                                       torch.Tensor):
            raise
        ref = exact[index].detach().numpy()
        wide = np.complex128 if ref.dtype.kind == "c" else np.float64
        mine, theirs = _values(m).astype(wide), _values(t).astype(wide)
        mine_err, their_err = np.abs(mine - ref), np.abs(theirs - ref)
        finite = np.isfinite(ref)
        if not finite.any() or mine_err[finite].max() > 4 * their_err[finite].max():
            raise


def _then(fn, process):
    return lambda *args, **kwargs: process(fn(*args, **kwargs))


def _refused_complex(error):
    """minigrad's own refusal of a complex input, or of a complex32 result (what takes complex
    tensors is listed in docs/complex.md): a clear error where torch computes, not a wrong
    answer."""
    return isinstance(error, NotImplementedError) and "docs/complex.md" in str(error)


def _samples(op, inputs, dtype, grads):
    """The op's samples from its generator ``inputs`` ("sample_inputs" or
    "reference_inputs"), and whether they require grad. Some of op_db's reference generators
    ask make_tensor for an integer or bool tensor that requires grad (clamp's, where's,
    addcmul's), which it refuses: those samples are then made without gradients."""
    generate = getattr(op, inputs)
    if not grads:
        return list(generate("cpu", dtype, requires_grad=False)), False
    try:
        return list(generate("cpu", dtype, requires_grad=True)), True
    except ValueError as exc:
        if "requires_grad=True" not in str(exc):
            raise
        return list(generate("cpu", dtype, requires_grad=False)), False


def check_op(op, fn, dtype=torch.float64, inputs="sample_inputs"):
    """(agreements, disagreements) over the op's samples of ``dtype`` from its generator
    ``inputs`` ("sample_inputs" or "reference_inputs"); gradients are compared for float64
    only."""
    agree, disagree = 0, []
    samples, grads = _samples(op, inputs, dtype,
                              dtype in (torch.float64, torch.complex128) and op.supports_autograd)
    for sample in samples:
        targs = [sample.input, *sample.args]
        seen = {}
        margs = _to_minigrad(targs, seen)
        mkwargs = _to_minigrad(sample.kwargs, seen)
        random = _is_random(op, sample)
        backward = grads and not random
        for t in _leaves(targs):          # op_db may hand the same tensor to several samples
            t.grad = None
        their_fn, my_fn = op.op, fn
        if (op.name in _LOW_RANK and not random) or op.name in _GAUGE_FREE_OUTPUTS:
            their_fn, my_fn = _then(op.op, sample.output_process_fn_grad), _then(
                fn, sample.output_process_fn_grad)
        theirs, their_error = _run(their_fn, targs, sample.kwargs, torch, backward=backward)
        if their_error is not None and backward:
            # torch may refuse only the backward (_foreach_add of some samples: "inconsistent
            # range for TensorList output"); then the forwards alone are compared
            forward, forward_error = _run(their_fn, targs, sample.kwargs, torch, backward=False)
            if forward_error is None:
                theirs, their_error, backward = forward, None, False
                for t in _leaves(targs):
                    t.grad = None
        mine, my_error = _run(my_fn, margs, mkwargs, minigrad, backward=backward)
        if their_error is None and _refused_complex(my_error):
            continue          # an op minigrad does not take complex tensors in, and says so
        try:
            if their_error is not None or my_error is not None:
                assert their_error is not None and my_error is not None and \
                    isinstance(my_error, type(their_error)), f"{my_error!r} vs {their_error!r}"
            else:
                assert len(mine) == len(theirs), f"{len(mine)} outputs vs {len(theirs)}"
                tied = op.name in _TIED_INDICES and not sample.kwargs.get("stable", False)
                for m, t in zip(mine, theirs):
                    _same_meta(m, t)
                same_gauge = True
                if op.name in _SIGN_GAUGE:
                    (mine, my_signs), (theirs, their_signs) = (_gauge_fixed(op, mine),
                                                                 _gauge_fixed(op, theirs))
                    same_gauge = np.array_equal(my_signs, their_signs)
                for i, (m, t) in enumerate(zip(mine, theirs)):
                    if tied and i == len(theirs) - 1:
                        m, t = _picked(op, sample, m, t)
                    if random or (op.name, dtype) in _WRONG_TORCH_VALUES:
                        continue
                    if i == 0:
                        mask = wrong_torch_mask(op, sample, "out", tuple(_values(t).shape))
                        if mask is not None:
                            m, t = set_apart(mask, _values(m), _values(t))
                    if dtype in (torch.float32, torch.float16, torch.complex64):
                        _same_low_precision_values(op, sample, m, t, i, dtype)
                    else:
                        _same_values(m, t, dtype, _LOOSE_TORCH.get(op.name, 1e-9))
                wrong = _WRONG_TORCH_GRAD.get(op.name, ())
                for k, (m, t) in enumerate(zip(_leaves(margs), _leaves(targs))):
                    if t.grad is not None and not random and same_gauge and k not in wrong:
                        want = t.grad
                        if want.layout != torch.strided:
                            # a sparse gradient (of a sparse leaf): the same layout, and
                            # compared through its dense form
                            assert m.grad is not None, "no gradient vs a sparse one"
                            _same_meta(m.grad, want)
                            m_grad, want = m.grad.to_dense(), want.to_dense()
                        else:
                            m_grad = m.grad
                        got = np.zeros(tuple(t.shape)) if m_grad is None else _values(m_grad)
                        # force: torch's gradient may be a ZeroTensor (sgn of a real input);
                        # a bfloat16 one widened exactly to float32, as _values does
                        if want.dtype == torch.bfloat16:
                            want = want.float()
                        want = want.numpy(force=True)
                        got, want = set_apart(wrong_torch_mask(op, sample, k, want.shape),
                                               got, want)
                        _assert_close(got, want, rtol=1e-6,
                                      atol=_LOOSE_TORCH.get(op.name, 1e-9))
            agree += 1
        except Exception as exc:  # noqa: BLE001
            disagree.append(f"{sample.summary() if hasattr(sample, 'summary') else sample}: "
                            f"{str(exc)[:200]}")
    return agree, disagree


@pytest.mark.parametrize("op, fn, dtype", CASES,
                         ids=[f"{_op_id(op)}-{str(dtype)[6:]}" for op, _, dtype in CASES])
def test_opinfo_samples(op, fn, dtype):
    agree, disagree = check_op(op, fn, dtype)
    if not agree and not disagree:
        pytest.skip(f"minigrad refuses {dtype} in {_op_id(op)}")
    assert not disagree, f"{_op_id(op)} {dtype}: {agree} samples agree, {len(disagree)} do " \
        "not:\n" + "\n".join(disagree[:5])


# op_db's reference inputs: the samples again and more (extremal values, NaN and infinities,
# large and non-contiguous tensors), for the ops that have a generator of them; float64 (with
# gradients) and float32 only, to keep the run affordable
REFERENCE_CASES = [(op, fn, dtype) for op, fn in OPS for dtype in (torch.float64, torch.float32)
                   if op.reference_inputs_func is not None and op.supports_dtype(dtype, "cpu")]


@pytest.mark.parametrize("op, fn, dtype", REFERENCE_CASES,
                         ids=[f"{_op_id(op)}-{str(dtype)[6:]}" for op, _, dtype in REFERENCE_CASES])
def test_opinfo_reference_inputs(op, fn, dtype):
    agree, disagree = check_op(op, fn, dtype, inputs="reference_inputs")
    if not agree and not disagree:
        pytest.skip(f"minigrad refuses {dtype} in {_op_id(op)}")
    assert not disagree, f"{_op_id(op)} {dtype}: {agree} reference samples agree, " \
        f"{len(disagree)} do not:\n" + "\n".join(disagree[:5])
