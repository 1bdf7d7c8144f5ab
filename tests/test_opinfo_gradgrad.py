"""PyTorch's own sample inputs (``op_db``) checked to second order and in forward mode.

tests/test_opinfo_db.py compares every exported op's outputs and first gradients with torch's;
this file takes the same ops (its discovery and translation helpers, imported) further, in
float64 and complex128 on op_db's samples (at most ``MAX_SAMPLES`` per op, spread over the
list, and none of more than ``MAX_ELEMENTS`` elements), each through op_db's gradcheck
wrapper (a Hermitian or triangular input made so inside the function):

* ``test_opinfo_gradgrad``, for the ops whose OpInfo says ``supports_gradgrad``: with
  ``s = sum(w * y)`` over the op's floating outputs ``y`` (fixed weights ``w``), the gradient
  ``g = d s / d inputs`` taken with ``create_graph=True``, then the gradient of
  ``sum(v * g)`` (fixed ``v``) for every input that requires grad (keyword arguments
  included; zero where unused), a Hessian-vector product, and for the weights ``w`` (that is
  ``J v``: the backward differentiated in its incoming gradient, as gradgradcheck does). All
  three must agree.
* ``test_opinfo_jvp``, for the ops whose OpInfo says ``supports_forward_ad``: every input
  that requires grad made a dual tensor with a fixed tangent, the tangents of the floating
  outputs (``J v``, zero where torch has none) must agree.

A sample torch itself refuses (an op with no double backward or forward derivative for those
arguments) is passed over; so are the ops whose OpInfo skips or marks as expected failures
torch's own gradgrad or forward-AD test on CPU in that dtype, except those listed in
``_RUN_DESPITE_SKIP``. Slow tests, as test_opinfo_db:
``pytest --runslow tests/test_opinfo_gradgrad.py``; the regression tests at the end, for the
differences these found, run without ``--runslow``.
"""
import functools
import unittest
import warnings

import numpy as np
import pytest

import minigrad
from minigrad.autograd import forward_ad as my_forward_ad

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

import test_opinfo_db as db  # noqa: E402
from torch.autograd import forward_ad as their_forward_ad  # noqa: E402

# samples per op and dtype: op_db has up to a few hundred for some ops, and each costs two
# backward passes (three for a forward-mode tangent) in each library
MAX_SAMPLES = {torch.float64: 8, torch.complex128: 4}
# and samples with more elements than this in their tensors are passed over (grid_sampler_3d's
# largest take torch itself seconds to differentiate twice)
MAX_ELEMENTS = 200_000

# ops whose torch first gradient is not a reference (see test_opinfo_db._WRONG_TORCH_GRAD):
# their second derivative is not one either (ctc_loss's is, through op_db's gradcheck wrapper,
# which puts a log_softmax first)
_NO_REFERENCE = set(db._WRONG_TORCH_GRAD) - {"nn.functional.ctc_loss"}

# torch's forward-mode tangents that are not a reference:
# - logcumsumexp: torch's tangent formula loses precision at op_db's large inputs (1e4 next to
#   values near 1): off by 3e-6 from the exact softmax-weighted cumulative sum of the tangent,
#   computed apart in numpy (minigrad's within 3e-16), so compared to 1e-5
# - cholesky_inverse: torch's tangent is off by up to 1e-5 on op_db's well-conditioned
#   samples (condition number 1.007) from -X (dL L^T + L dL^T) X computed apart in numpy
#   (minigrad's within 5e-16), so compared to 5e-5
_LOOSE_JVP = {"logcumsumexp": 1e-5, "cholesky_inverse": 5e-5}


# ops whose torch backward, differentiated in the incoming gradient, is not a reference:
# logcumsumexp's takes logs of that gradient's positive and negative parts, NaN at op_db's
# samples (the quantity is J v, which test_opinfo_jvp compares with torch's forward mode)
_WRONG_TORCH_IN_WEIGHTS = {"logcumsumexp"}


# keyword arguments torch does not differentiate (its gradient is None where the function
# depends on them): istft's window (minigrad's gradient matches central differences of
# torch's istft); both libraries get them detached
_NOT_DIFFERENTIATED = {"istft": ("window",)}


def _wrong_torch_jvp(op, targs):
    """Samples whose torch tangent is wrong: _foreach_add of a tensor list and a 0-d tensor
    drops the tangent of that tensor (torch.add of the same two gives it)."""
    return op.name == "_foreach_add" and any(isinstance(a, torch.Tensor) for a in targs)


# differences from torch that are known and not fixed yet, (op id, test) -> reason: the case
# runs and is expected to fail (a strict xfail, so a fix shows up)
_KNOWN = {}


def _torch_gives_up(op, test_names, dtype):
    """Whether op_db skips, or expects to fail, one of torch's own ``test_names`` for this op
    on CPU in ``dtype``."""
    for info in op.decorators:
        if getattr(info, "test_name", None) not in test_names:
            continue            # a plain decorator (precisionOverride), or another test's
        if not info.is_active(info.cls_name, info.test_name, "cpu", dtype, {}):
            continue
        for decorator in info.decorators:
            name = getattr(decorator, "__qualname__", "")
            if decorator is unittest.expectedFailure or "skip" in name.lower():
                return True
    return False


# ops whose torch gradgrad or forward-AD test op_db skips for reasons other than a wrong
# torch result here (too slow, other devices, tolerances of float32 runs): compared anyway,
# since torch's results on their CPU float64 and complex128 samples are right. (The others
# it skips give NaN at subgradient points, drop tangents at repeated max_unpool indices, ...)
_RUN_DESPITE_SKIP = {
    "test_fn_gradgrad": {"cat", "linalg.norm", "native_layer_norm", "cholesky_solve",
                         "nn.functional.scaled_dot_product_attention",
                         "nn.functional.max_unpool1d", "nn.functional.max_unpool2d",
                         "nn.functional.max_unpool3d",
                         "nn.functional.linear_cross_entropy.chunked",
                         "nn.functional.linear_cross_entropy.chunked_none"},
    "test_forward_mode_AD": {"cholesky_solve", "cov", "native_batch_norm"},
}


def _cases(flag, test_name):
    return [(op, fn, dtype) for op, fn in db.OPS for dtype in DTYPES
            if op.supports_autograd and getattr(op, flag) and
            op.supports_dtype(dtype, "cpu") and op.name not in _NO_REFERENCE and
            not db.is_random_name(op.name) and
            (db._op_id(op) in _RUN_DESPITE_SKIP[test_name] or
             not _torch_gives_up(op, (test_name,), dtype))]


# complex128 too, in the ops minigrad takes complex tensors in (docs/complex.md; a sample
# minigrad refuses with that pointer is passed over, as in test_opinfo_db)
DTYPES = (torch.float64, torch.complex128)
GRADGRAD_CASES = _cases("supports_gradgrad", "test_fn_gradgrad")
JVP_CASES = _cases("supports_forward_ad", "test_forward_mode_AD")


def _spread(samples, dtype):
    """At most MAX_SAMPLES of the samples, evenly spread (op_db lists its simple samples
    first and the broadcasting, empty or keyword variants later)."""
    most = MAX_SAMPLES[dtype]
    if len(samples) <= most:
        return samples
    picks = np.linspace(0, len(samples) - 1, most).round().astype(int)
    return [samples[i] for i in sorted(set(picks))]


def _grad_leaves(x, found=None):
    """The tensors requiring grad in a nest of lists, tuples and dicts, each once."""
    found = {} if found is None else found
    if isinstance(x, (torch.Tensor, minigrad.Tensor)):
        if x.requires_grad:
            found.setdefault(id(x), x)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _grad_leaves(v, found)
    elif isinstance(x, dict):
        for v in x.values():
            _grad_leaves(v, found)
    return list(found.values())


def _size(x):
    """The number of elements of the tensors in a nest of lists and tuples."""
    if isinstance(x, torch.Tensor):
        return x.numel()
    if isinstance(x, (list, tuple)):
        return sum(_size(v) for v in x)
    return 0


def _replaced(x, by_id):
    """The nest ``x`` with each tensor whose id is in ``by_id`` swapped for its value there."""
    if isinstance(x, (torch.Tensor, minigrad.Tensor)):
        return by_id.get(id(x), x)
    if isinstance(x, (list, tuple)):
        return type(x)(_replaced(v, by_id) for v in x)
    if isinstance(x, dict):
        return {k: _replaced(v, by_id) for k, v in x.items()}
    return x


def _fixed(shape, phase):
    """Fixed float64 numbers of ``shape``, a different sequence for each phase."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.sin(1.3 * np.arange(n) + phase).reshape(shape)


def _weighted(t, lib, phase, weights=None):
    """sum(w * t) for fixed real weights w (real and imaginary parts weighted apart); the
    weights require grad and are appended to ``weights`` when a list is given."""
    if t.layout != lib.strided:
        t = t.to_dense()
    shape = tuple(t.shape)
    w = lib.tensor(_fixed(shape, phase), requires_grad=weights is not None)
    if t.is_complex():
        v = lib.tensor(_fixed(shape, phase + 0.5), requires_grad=weights is not None)
        if weights is not None:
            weights += [w, v]
        return (t.real.to(lib.float64) * w).sum() + (t.imag.to(lib.float64) * v).sum()
    if weights is not None:
        weights.append(w)
    return (t.to(lib.float64) * w).sum()


def _numbers(t, shape):
    """A gradient or tangent as a numpy array; zeros of ``shape`` for None."""
    if t is None:
        return np.zeros(shape)
    lib = torch if isinstance(t, torch.Tensor) else minigrad
    if t.layout != lib.strided:
        t = t.to_dense()
    if isinstance(t, torch.Tensor):
        return t.detach().resolve_conj().resolve_neg().numpy(force=True)
    return t.detach().numpy()


def _floating(out, lib):
    return [o for o in db._outputs(out) if isinstance(o, lib.Tensor) and
            (o.is_floating_point() or o.is_complex())]


def _second_order(fn, args, kwargs, lib):
    """(the outputs, g = d s / d leaves, the gradient of sum(v * g) in the leaves, and in the
    weights w of s), or the exception. The last is J v: it checks that the backward is right
    as a function of the incoming gradient too."""
    leaves = _grad_leaves([args, kwargs])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = db._outputs(fn(*args, **kwargs))
            floating = [o for o in out if getattr(o, "requires_grad", False)]
            if not floating or not leaves:
                return out, None, None, None, None
            weights = []
            s = sum(_weighted(o, lib, 0.0, weights) for o in floating)
            first = lib.autograd.grad(s, leaves, create_graph=True, allow_unused=True)
            terms = [_weighted(g, lib, 0.7 + k) for k, g in enumerate(first)
                     if g is not None and g.requires_grad]
            second = [None] * (len(leaves) + len(weights))
            if terms:
                second = lib.autograd.grad(sum(terms), leaves + weights, allow_unused=True)
            shapes = [tuple(t.shape) for t in leaves + weights]
            second = [_numbers(h, shape) for h, shape in zip(second, shapes)]
            return (out, [_numbers(g, shape) for g, shape in zip(first, shapes)],
                    second[:len(leaves)], second[len(leaves):], None)
    except Exception as exc:  # noqa: BLE001
        return None, None, None, None, exc


def _tangents(fn, args, kwargs, lib, forward_ad):
    """(the outputs, the tangents of the floating outputs), with each input that requires
    grad made a dual tensor of a fixed tangent; or the exception."""
    leaves = _grad_leaves([args, kwargs])
    try:
        with warnings.catch_warnings(), forward_ad.dual_level():
            warnings.simplefilter("ignore")
            duals = {}
            for k, t in enumerate(leaves):
                tangent = _fixed(tuple(t.shape), 0.3 + k)
                if t.is_complex():
                    tangent = tangent + 1j * _fixed(tuple(t.shape), 0.8 + k)
                tangent = lib.tensor(tangent).to(t.dtype)
                duals[id(t)] = forward_ad.make_dual(t.detach(), tangent)
            out = _floating(fn(*_replaced(args, duals), **_replaced(kwargs, duals)), lib)
            return out, [_numbers(forward_ad.unpack_dual(o).tangent, tuple(o.shape))
                         for o in out], None
    except Exception as exc:  # noqa: BLE001
        return None, None, exc


def _close(mine, theirs, what, atol):
    assert len(mine) == len(theirs), f"{what}: {len(mine)} vs {len(theirs)} tensors"
    for k, (m, t) in enumerate(zip(mine, theirs)):
        assert m.shape == t.shape, f"{what} {k}: shape {m.shape} vs {t.shape}"
        np.testing.assert_allclose(m, t, rtol=1e-6, atol=atol, equal_nan=True,
                                   err_msg=f"{what} {k}")


def _pairs(op, fn, dtype):
    """(torch's function, minigrad's, torch's args, minigrad's args, kwargs each) per sample:
    op_db's gradcheck wrapper applied (a Hermitian or triangular input, made so inside the
    function; ctc_loss's log-probabilities through log_softmax), and the gauge-free outputs
    taken where op_db's samples carry them (as test_opinfo_db does)."""
    samples = _spread(list(op.sample_inputs("cpu", dtype, requires_grad=True)), dtype)
    for sample in samples:
        targs = [sample.input, *sample.args]
        if db._is_random(op, sample) or _size(targs) > MAX_ELEMENTS:
            continue
        seen = {}
        tkwargs = {k: v.detach() if k in _NOT_DIFFERENTIATED.get(op.name, ()) else v
                   for k, v in sample.kwargs.items()}
        margs, mkwargs = db._to_minigrad(targs, seen), db._to_minigrad(tkwargs, seen)
        their_fn, my_fn = op.op, fn
        # a complex svd's or eigh's vectors are fixed only up to a phase each, which the
        # sign check below does not cover: their gauge-free outputs are compared
        if op.name in db._LOW_RANK or op.name in db._GAUGE_FREE_OUTPUTS or (
                op.name in db._SIGN_GAUGE and dtype.is_complex):
            their_fn = db._then(op.op, sample.output_process_fn_grad)
            my_fn = db._then(fn, sample.output_process_fn_grad)
        their_fn, my_fn = _wrapped(op, their_fn, my_fn, targs, tkwargs)
        yield sample, their_fn, my_fn, targs, margs, tkwargs, mkwargs


def _wrapped(op, their_fn, my_fn, targs, tkwargs):
    """The two functions inside op_db's gradcheck wrapper. The masked ops' wrappers zero the
    masked-out outputs (infinite for amax) with a mask from torch.masked internals, which
    minigrad does not have: torch's mask, computed once, zeroes minigrad's outputs too."""
    wrapper = op.gradcheck_wrapper
    name = getattr(wrapper, "__name__", "")
    if name.startswith("gradcheck_wrapper_masked"):
        mask = _masked_output_mask(op, name, targs, tkwargs)
        if mask is None:
            return their_fn, my_fn
        theirs, mine = mask, minigrad.tensor(mask.numpy())
        return (lambda *a, **k: _zeroed(their_fn(*a, **k), theirs, torch),
                lambda *a, **k: _zeroed(my_fn(*a, **k), mine, minigrad))
    if isinstance(wrapper, functools.partial):       # a wrapper with arguments bound
        mine = functools.partial(db._translated(wrapper.func), *wrapper.args, **wrapper.keywords)
    else:
        mine = db._translated(wrapper)
        # not carried by the translation (cholesky_inverse's wrapper has upper=, idx=)
        mine.__kwdefaults__ = wrapper.__kwdefaults__
    return (lambda *a, **k: wrapper(their_fn, *a, **k),
            lambda *a, **k: mine(my_fn, *a, **k))


def _masked_output_mask(op, name, targs, tkwargs):
    """The output mask op_db's masked wrappers use for this sample (None: no mask)."""
    detached = [t.detach() if isinstance(t, torch.Tensor) else t for t in targs]
    if name == "gradcheck_wrapper_masked_pointwise_operation":
        input_mask, other_mask = tkwargs.get("input_mask"), tkwargs.get("other_mask")
        if input_mask is None or other_mask is None:
            return None
        both = dict(tkwargs, mask=torch.logical_and(input_mask, other_mask))
        return torch.masked._input_mask(*detached, **both)
    if tkwargs.get("mask") is None:
        return None
    return torch.masked._output_mask(op.op, *detached, **tkwargs)


def _zeroed(out, mask, lib):
    return lib.where(mask, out, out.new_zeros([]))


def _same_gauge(op, mine, theirs):
    """svd / eigh: whether both libraries chose the same sign for each vector (the weighted
    sum, so every derivative, depends on it)."""
    if op.name not in db._SIGN_GAUGE:
        return True
    return np.array_equal(db._gauge_fixed(op, mine)[1], db._gauge_fixed(op, theirs)[1])


def _describe(sample, exc):
    return f"{sample.summary() if hasattr(sample, 'summary') else sample}: {str(exc)[:300]}"


def check_gradgrad(op, fn, dtype=torch.float64):
    """(samples compared, disagreements) of g and of the Hessian-vector product."""
    agree, disagree = 0, []
    atol = db._LOOSE_TORCH.get(op.name, 1e-9)
    for sample, their_fn, my_fn, targs, margs, tkwargs, mkwargs in _pairs(op, fn, dtype):
        theirs, their_g, their_h, their_jv, their_error = _second_order(their_fn, targs,
                                                                        tkwargs, torch)
        if their_error is not None or their_g is None:
            continue                   # torch has no double backward here, or no gradient
        mine, my_g, my_h, my_jv, my_error = _second_order(my_fn, margs, mkwargs, minigrad)
        if db._refused_complex(my_error):
            continue           # an op minigrad does not take complex tensors in, and says so
        try:
            assert my_error is None, f"minigrad raised {my_error!r}"
            if not _same_gauge(op, mine, theirs):
                continue
            assert my_g is not None, "minigrad's outputs do not require grad"
            _close(my_g, their_g, "first gradient", atol)
            _close(my_h, their_h, "Hessian-vector product", atol)
            if op.name not in _WRONG_TORCH_IN_WEIGHTS:
                _close(my_jv, their_jv, "derivative in the output weights", atol)
            agree += 1
        except AssertionError as exc:
            disagree.append(_describe(sample, exc))
    return agree, disagree


def check_jvp(op, fn, dtype=torch.float64):
    """(samples compared, disagreements) of the forward-mode tangents."""
    agree, disagree = 0, []
    atol = _LOOSE_JVP.get(op.name, db._LOOSE_TORCH.get(op.name, 1e-9))
    for sample, their_fn, my_fn, targs, margs, tkwargs, mkwargs in _pairs(op, fn, dtype):
        if not _grad_leaves([targs, tkwargs]) or _wrong_torch_jvp(op, targs):
            continue
        theirs, their_t, their_error = _tangents(their_fn, targs, tkwargs, torch,
                                                 their_forward_ad)
        if their_error is not None:
            continue                   # torch has no forward derivative for this sample
        mine, my_t, my_error = _tangents(my_fn, margs, mkwargs, minigrad, my_forward_ad)
        if db._refused_complex(my_error):
            continue
        try:
            assert my_error is None, f"minigrad raised {my_error!r}"
            if not _same_gauge(op, mine, theirs):
                continue
            _close(my_t, their_t, "tangent", atol)
            agree += 1
        except AssertionError as exc:
            disagree.append(_describe(sample, exc))
    return agree, disagree


def _case_id(op, dtype):
    return f"{db._op_id(op)}-{str(dtype)[6:]}"


def _params(cases, test):
    return [pytest.param(op, fn, dtype, id=_case_id(op, dtype),
                         marks=[pytest.mark.xfail(reason=_KNOWN[_case_id(op, dtype), test],
                                                  strict=True)]
                         if (_case_id(op, dtype), test) in _KNOWN else [])
            for op, fn, dtype in cases]


@pytest.mark.slow
@pytest.mark.parametrize("op, fn, dtype", _params(GRADGRAD_CASES, "gradgrad"))
def test_opinfo_gradgrad(op, fn, dtype):
    agree, disagree = check_gradgrad(op, fn, dtype)
    if not agree and not disagree:
        pytest.skip(f"no sample of {db._op_id(op)} has a double backward in torch")
    assert not disagree, f"{db._op_id(op)}: {agree} samples agree, {len(disagree)} do " \
        "not:\n" + "\n".join(disagree[:5])


@pytest.mark.slow
@pytest.mark.parametrize("op, fn, dtype", _params(JVP_CASES, "jvp"))
def test_opinfo_jvp(op, fn, dtype):
    agree, disagree = check_jvp(op, fn, dtype)
    if not agree and not disagree:
        pytest.skip(f"no sample of {db._op_id(op)} has a forward derivative in torch")
    assert not disagree, f"{db._op_id(op)}: {agree} samples agree, {len(disagree)} do " \
        "not:\n" + "\n".join(disagree[:5])


# ----------------------------------------------------------------------------------------------
# Regression tests for what the op_db checks above found (fast: no op_db)
# ----------------------------------------------------------------------------------------------
def _both(run):
    """run(lib) on torch and on minigrad, each result a list of arrays (None kept)."""
    return [[None if r is None else _numbers(r, ()) for r in run(lib)]
            for lib in (torch, minigrad)]


def _assert_same(mine, theirs):
    assert len(mine) == len(theirs)
    for m, t in zip(mine, theirs):
        if t is None or m is None:
            assert m is None and t is None, f"{m} vs {t}"
        else:
            np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name", ["xlogy", "special.xlog1py"])
def test_xlogy_backward_is_linear_in_its_incoming_gradient(name):
    """x * log(y)'s gradient for x is g * log(y), 0 where g is 0 and log(y) is not finite; the
    mask once zeroed the product wherever g was 0, so its derivative in g (a double backward
    in the incoming gradient, or minigrad's forward mode, built on it) was 0 there, where
    torch's is log(y). (Where y <= 0, torch's forward mode gives log(y), -inf or NaN, and its
    double backward 0: minigrad's forward mode follows the double backward there, so the
    tangent is compared at y > 0 only.)"""
    x = np.array([0.0, 1.5, -2.0, 0.0, 3.0, 0.0])
    y = np.array([0.5, 2.0, 0.0, -1.0, -0.5, 3.0])
    v = np.array([0.3, -1.0, 0.7, 1.1, -0.4, 0.9])
    positive = y > 0

    def run(lib):
        fn = lib.xlogy if name == "xlogy" else lib.special.xlog1py
        a = lib.tensor(x, requires_grad=True)
        b = lib.tensor(y, requires_grad=True)
        g = lib.zeros(6, dtype=lib.float64, requires_grad=True)      # a zero incoming gradient
        ga, = lib.autograd.grad(fn(a, b), a, g, create_graph=True)
        jv, = lib.autograd.grad((ga * lib.tensor(v)).sum(), g)
        forward_ad = lib.autograd.forward_ad
        with forward_ad.dual_level():
            dual = forward_ad.make_dual(lib.tensor(x[positive]), lib.tensor(v[positive]))
            tangent = forward_ad.unpack_dual(fn(dual, lib.tensor(y[positive]))).tangent
        return [ga, jv, tangent]

    mine, theirs = _both(run)
    _assert_same(mine, theirs)


def test_to_sparse_to_dense_has_a_second_derivative():
    """to_dense's backward (a gather of the incoming gradient) was first-order only: a
    double backward through to_sparse().to_dense() raised."""
    x = np.arange(12.0).reshape(3, 4) - 5.0
    w = np.cos(np.arange(12.0)).reshape(3, 4)

    def run(lib):
        a = lib.tensor(x, requires_grad=True)
        weights = lib.tensor(w, requires_grad=True)
        dense = a.to_sparse().to_dense()
        g, = lib.autograd.grad((dense * dense * weights).sum(), a, create_graph=True)
        return list(lib.autograd.grad((g * lib.tensor(w.T.reshape(3, 4))).sum(),
                                      [a, weights]))

    mine, theirs = _both(run)
    _assert_same(mine, theirs)


def test_householder_product_without_reflectors_requires_grad():
    """With an empty tau the result is the identity; torch's still comes from A and tau
    (requires grad, its node named as for any tau, a None gradient for both), where
    minigrad's was a constant that did not require grad."""
    out = {}
    for lib in (torch, minigrad):
        a = lib.tensor(np.ones((2, 4, 3)), requires_grad=True)
        tau = lib.tensor(np.ones((2, 0)), requires_grad=True)
        q = lib.linalg.householder_product(a, tau)
        q.sum().backward()
        out[lib] = (q.requires_grad, type(q.grad_fn).__name__, a.grad, tau.grad,
                    _numbers(q, ()))
    mine, theirs = out[minigrad], out[torch]
    assert mine[:4] == theirs[:4]
    np.testing.assert_array_equal(mine[4], theirs[4])


@pytest.mark.parametrize("ord_", [0, 2])
def test_jvp_of_a_norm_whose_seeds_get_no_gradient(ord_):
    """unpack_dual raised TypeError (reduce() of an empty iterable) when the output came from
    the dual seeds but none of them got a gradient (a norm of order 0, a norm of an empty
    tensor): torch's tangent is zero there."""
    out = {}
    for lib, fwad in ((torch, torch.autograd.forward_ad), (minigrad, my_forward_ad)):
        x = lib.tensor([[0.5, -2.0, 0.0], [1.5, 0.25, 3.0]], dtype=lib.float64)
        t = lib.tensor([[1.0, 2.0, -1.0], [0.5, -0.5, 2.0]], dtype=lib.float64)
        empty = lib.zeros(0, 3, dtype=lib.float64)
        with fwad.dual_level():
            y = lib.linalg.vector_norm(fwad.make_dual(x, t), ord=ord_, dim=1)
            z = lib.linalg.vector_norm(fwad.make_dual(empty, lib.ones_like(empty)), ord=ord_)
            out[lib] = [np.asarray(v.tolist()) for v in
                        (fwad.unpack_dual(y).tangent, fwad.unpack_dual(z).tangent)]
    for mine, theirs in zip(out[minigrad], out[torch]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-15)
