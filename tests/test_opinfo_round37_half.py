"""PyTorch's own op samples (``op_db``) in float16 and bfloat16, to torch's tolerances.

tests/test_opinfo_db.py runs op_db's samples in float64 (with gradients) and compares float16
forwards only loosely (4e-3 of the output's largest value); bfloat16 it leaves out. Here every
op minigrad exports runs its op_db samples forward in float16 and in bfloat16 wherever op_db
says it takes that dtype on CPU, and the ops of mixed-precision training (products,
convolutions, softmax, the norms, the activations, attention, every loss) also backward in
bfloat16:

* the outputs (and the gradients) have torch's shape and dtype;
* their values agree within the dtype's rounding, as torch's own tests compare these dtypes:
  1e-3 relative for float16, 1.6e-2 for bfloat16, plus two units in the last place at the
  output's largest magnitude (PyTorch computes most 16-bit ops in float32 and rounds the
  result once; a value rounded twice, or a float16 intermediate that overflows, is off by more);
* or, where that fails, each of minigrad's values is as near the exact one (torch's float64
  result, or gradient, for the same numbers) as torch's furthest, give or take one unit:
  PyTorch's scalar 16-bit loops (op_db's samples are mostly smaller than a vector register)
  round some steps separately, and its sums run in another order (its bfloat16 attention
  backward is further from the exact gradient than minigrad's).

Either way, both may instead refuse a sample with the same exception type. Where torch's
16-bit value is not a reference the case is set apart below, with the reason. The tests at
the end compare, bit for bit on larger tensors, the ops whose rounding was fixed in this round.
Slow, as test_opinfo_db.py (importing op_db takes half a minute): ``pytest --runslow``.
"""
import types

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

import test_opinfo_db as db  # noqa: E402
from opinfo_wrong_torch import set_apart, wrong_torch_mask  # noqa: E402

pytestmark = pytest.mark.slow

HALVES = (torch.float16, torch.bfloat16)
# torch.testing's default relative tolerances for the two 16-bit dtypes
RTOL = {torch.float16: 1e-3, torch.bfloat16: 1.6e-2}

CASES = [(op, fn, dtype) for op, fn in db.OPS for dtype in HALVES
         if op.supports_dtype(dtype, "cpu")]

# the op_db names whose gradients mixed-precision training takes in bfloat16 (and every loss)
_TRAINED = ("matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "addmv", "mv", "einsum",
            "nn.functional.linear", "nn.functional.bilinear",
            "nn.functional.conv1d", "nn.functional.conv2d", "nn.functional.conv3d",
            "nn.functional.conv_transpose1d", "nn.functional.conv_transpose2d",
            "nn.functional.conv_transpose3d", "softmax", "log_softmax",
            "nn.functional.softmin", "nn.functional.layer_norm", "nn.functional.rms_norm",
            "nn.functional.group_norm", "nn.functional.batch_norm",
            "nn.functional.instance_norm", "nn.functional.gelu", "nn.functional.silu",
            "nn.functional.relu", "nn.functional.mish", "nn.functional.embedding",
            "nn.functional.scaled_dot_product_attention", "nn.functional.mse_loss",
            "nn.functional.l1_loss", "nn.functional.smooth_l1_loss",
            "nn.functional.huber_loss", "nn.functional.cross_entropy",
            "nn.functional.nll_loss", "nn.functional.binary_cross_entropy",
            "nn.functional.binary_cross_entropy_with_logits", "nn.functional.kl_div",
            "nn.functional.linear_cross_entropy", "nn.functional.normalize",
            "nn.functional.multi_head_attention_forward", "sigmoid", "tanh",
            "nn.functional.softplus", "nn.functional.leaky_relu", "nn.functional.hardswish",
            "nn.functional.embedding_bag", "nn.functional.dropout", "mean", "sum", "rsqrt")

BACKWARD_CASES = [(op, fn) for op, fn in db.OPS
                  if (op.name in _TRAINED or op.name.endswith("_loss")) and op.supports_autograd
                  and torch.bfloat16 in op.supported_backward_dtypes("cpu")]

# (op, dtype) whose torch values are not a reference, and why; their values are compared with
# torch's float64 result for the same numbers, rounded to the dtype, instead:
# - matrix_exp in bfloat16 returns NaN for op_db's 5x5 matrices (entries up to 9), whose
#   exponential is finite (largest entry 9.05e4 in float32 and float64, far inside bfloat16's
#   range); minigrad computes in float32 and rounds
_WRONG_TORCH = {("matrix_exp", torch.bfloat16)}


def _widened(x, seen):
    """The same arguments in float64 (complex128), requiring grad where they do (one tensor
    passed twice stays one), for torch's exact reference."""
    if isinstance(x, torch.Tensor):
        if id(x) not in seen:
            wide = x.detach()
            if x.dtype in (torch.float16, torch.bfloat16, torch.float32):
                wide = wide.double()
            elif x.dtype in (torch.complex32, torch.complex64):
                wide = wide.to(torch.complex128)
            seen[id(x)] = wide.requires_grad_(True) if x.requires_grad else wide
        return seen[id(x)]
    if isinstance(x, (list, tuple)):
        return type(x)(_widened(v, seen) for v in x)
    if isinstance(x, dict):
        return {k: _widened(v, seen) for k, v in x.items()}
    return x


class _Exact:
    """torch's float64 run of a sample (outputs, and the leaves' gradients of the same
    weighted sum), made on first use; None where torch refuses it."""

    def __init__(self, fn, sample, backward):
        self.fn, self.sample, self.backward, self._done = fn, sample, backward, None

    def _run(self):
        if self._done is None:
            seen = {}
            args = _widened([self.sample.input, *self.sample.args], seen)
            kwargs = _widened(self.sample.kwargs, seen)
            out, error = db._run(self.fn, args, kwargs, torch, backward=self.backward)
            self._done = (None, None) if error is not None else (
                out, [t.grad for t in db._leaves(args)])
        return self._done

    def output(self, index):
        out = self._run()[0]
        if out is None or len(out) <= index or not isinstance(out[index], torch.Tensor):
            return None
        return np.asarray(db._values(out[index]))

    def grad(self, k):
        grads = self._run()[1]
        if grads is None or len(grads) <= k or grads[k] is None:
            return None
        return np.asarray(db._values(grads[k]))


def _bfloat16_special(x, seen):
    """numpy holds no bfloat16 of torch's: a bfloat16 view of a larger storage (op_db's
    partial_views samples) or a sparse bfloat16 tensor is made here, through float32 (which
    holds bfloat16 exactly), into ``seen``, where db._to_minigrad finds it."""
    if isinstance(x, (list, tuple)):
        for v in x:
            _bfloat16_special(v, seen)
    elif isinstance(x, dict):
        for v in x.values():
            _bfloat16_special(v, seen)
    elif isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16 and id(x) not in seen:
        if x.layout in (torch.sparse_coo, torch.sparse_csr):
            values = minigrad.tensor(x.detach().values().float().numpy()).to(minigrad.bfloat16)
            if x.layout == torch.sparse_csr:
                t = minigrad.sparse_csr_tensor(x.crow_indices().numpy(), x.col_indices().numpy(),
                                               values, tuple(x.shape))
            else:
                t = minigrad.sparse_coo_tensor(x.detach()._indices().numpy(), values,
                                               tuple(x.shape), is_coalesced=x.is_coalesced())
        elif x._base is not None and x.is_leaf and not (x.is_conj() or x.is_neg()):
            storage = torch.empty(0, dtype=x.dtype).set_(x.untyped_storage())
            whole = minigrad.tensor(storage.float().numpy()).to(minigrad.bfloat16)
            t = whole.as_strided(tuple(x.shape), x.stride(), x.storage_offset())
        else:
            return
        seen[id(x)] = t.requires_grad_(True) if x.requires_grad else t


def _to_minigrad(x, seen):
    _bfloat16_special(x, seen)
    return db._to_minigrad(x, seen)


def _unit(dtype):
    return torch.finfo(dtype).eps


def _close(mine, theirs, dtype):
    """Within torch's tolerance for ``dtype``: RTOL relative plus two units at the largest
    finite magnitude (exact for integer and bool values)."""
    if theirs.dtype.kind not in "fc":
        np.testing.assert_array_equal(mine, theirs)
        return
    finite = np.abs(theirs[np.isfinite(theirs)])
    scale = float(finite.max()) if finite.size else 1.0
    rtol = RTOL.get(dtype, 1e-5)
    atol = max(2 * _unit(dtype) * scale, 1e-5)
    if theirs.dtype.kind == "c":
        mine = mine.astype(theirs.dtype)
    np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=atol, equal_nan=True)


def _as_array(x):
    v = db._values(x)
    return np.asarray(v)


def _no_further(mine, theirs, ref, dtype):
    """Whether each element of ``mine`` is as near the exact ``ref`` as torch's furthest one
    (of ``theirs``), give or take one unit of the dtype at that value (NaN where torch's is):
    a different order of sums puts minigrad's errors on other elements than torch's."""
    if ref is None or ref.shape != mine.shape:
        return False
    wide = np.complex128 if ref.dtype.kind == "c" else np.float64
    mine, theirs = mine.astype(wide), theirs.astype(wide)
    finite = np.isfinite(ref) & np.isfinite(theirs)
    if not finite.any() or not np.array_equal(np.isnan(mine), np.isnan(theirs)):
        return False
    mine_err = np.abs(mine - ref)[finite]
    worst = np.abs(theirs - ref)[finite].max()
    allowed = worst + _unit(dtype) * np.abs(ref[finite]) + 1e-30
    return bool((mine_err <= allowed).all())


def _same_half_values(exact, index, m, t, dtype):
    """As _close; where that fails, minigrad's value no further from the exact one than
    torch's (_no_further)."""
    mine, theirs = _as_array(m), _as_array(t)
    try:
        _close(mine, theirs, dtype)
    except AssertionError:
        if theirs.dtype.kind not in "fc" or not _no_further(mine, theirs, exact.output(index),
                                                            dtype):
            raise


def _rounded_exact(exact, index, m, dtype):
    """Where torch's 16-bit value is no reference: minigrad's against torch's float64 value
    rounded to the dtype."""
    ref = exact.output(index)
    assert ref is not None, "torch refuses the sample in float64"
    rounded = torch.from_numpy(ref).to(dtype)
    _close(_as_array(m), db._values(rounded), dtype)


def _shim(sample):
    """The sample with its input widened to float32, for db._picked (numpy refuses
    bfloat16)."""
    x = sample.input
    if isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16:
        x = x.detach().float()
    return types.SimpleNamespace(input=x, args=sample.args, kwargs=sample.kwargs)


def check_half(op, fn, dtype, backward=False):
    """(agreements, disagreements) over the op's samples in ``dtype``; with ``backward`` the
    gradients of the fixed weighted sum of the outputs are compared too."""
    agree, disagree = 0, []
    samples, grads = db._samples(op, "sample_inputs", dtype, backward)
    for sample in samples:
        targs = [sample.input, *sample.args]
        seen = {}
        margs = _to_minigrad(targs, seen)
        mkwargs = _to_minigrad(sample.kwargs, seen)
        random = db._is_random(op, sample)
        back = grads and not random
        for t in db._leaves(targs):
            t.grad = None
        their_fn, my_fn = op.op, fn
        if (op.name in db._LOW_RANK and not random) or op.name in db._GAUGE_FREE_OUTPUTS:
            their_fn = db._then(op.op, sample.output_process_fn_grad)
            my_fn = db._then(fn, sample.output_process_fn_grad)
        theirs, their_error = db._run(their_fn, targs, sample.kwargs, torch, backward=back)
        mine, my_error = db._run(my_fn, margs, mkwargs, minigrad, backward=back)
        if their_error is None and db._refused_complex(my_error):
            continue

        exact = _Exact(their_fn, sample, back)
        try:
            if their_error is not None or my_error is not None:
                assert their_error is not None and my_error is not None and \
                    isinstance(my_error, type(their_error)), f"{my_error!r} vs {their_error!r}"
            else:
                _compare(op, sample, dtype, mine, theirs, random, exact)
                if back:
                    _compare_grads(op, sample, dtype, margs, targs, exact)
            agree += 1
        except Exception as exc:  # noqa: BLE001
            disagree.append(f"{sample.summary() if hasattr(sample, 'summary') else sample}: "
                            f"{str(exc)[:300]}")
    return agree, disagree


def _compare(op, sample, dtype, mine, theirs, random, exact):
    assert len(mine) == len(theirs), f"{len(mine)} outputs vs {len(theirs)}"
    for m, t in zip(mine, theirs):
        db._same_meta(m, t)
    if random or (op.name, dtype) in db._WRONG_TORCH_VALUES:
        return
    if (op.name, dtype) in _WRONG_TORCH:
        for i, m in enumerate(mine):
            _rounded_exact(exact, i, m, dtype)
        return
    tied = op.name in db._TIED_INDICES and not sample.kwargs.get("stable", False)
    if op.name in db._SIGN_GAUGE:
        (mine, _), (theirs, _) = db._gauge_fixed(op, mine), db._gauge_fixed(op, theirs)
    for i, (m, t) in enumerate(zip(mine, theirs)):
        if tied and i == len(theirs) - 1:
            m, t = db._picked(op, _shim(sample), m, t)
        if i == 0:
            mask = wrong_torch_mask(op, sample, "out", tuple(_as_array(t).shape))
            if mask is not None:
                m, t = set_apart(mask, _as_array(m), _as_array(t))
        _same_half_values(exact, i, m, t, dtype)


def _compare_grads(op, sample, dtype, margs, targs, exact):
    wrong = db._WRONG_TORCH_GRAD.get(op.name, ())
    for k, (m, t) in enumerate(zip(db._leaves(margs), db._leaves(targs))):
        if t.grad is None or k in wrong:
            continue
        assert m.grad is not None, f"leaf {k}: no gradient vs torch's"
        db._same_meta(m.grad, t.grad)
        got, want = _as_array(m.grad), _as_array(t.grad)
        got, want = set_apart(wrong_torch_mask(op, sample, k, want.shape), got, want)
        try:
            _close(got, want, dtype)
        except AssertionError as exc:
            ref = exact.grad(k)
            if ref is not None:
                ref = set_apart(wrong_torch_mask(op, sample, k, want.shape), ref)[0]
            if not _no_further(got, want, ref, dtype):
                raise AssertionError(f"gradient of leaf {k}: {exc}") from None


def _ids(cases):
    return [f"{db._op_id(op)}-{str(dtype)[6:]}" for op, _, dtype in cases]


@pytest.mark.parametrize("op, fn, dtype", CASES, ids=_ids(CASES))
def test_half_samples(op, fn, dtype):
    agree, disagree = check_half(op, fn, dtype)
    if not agree and not disagree:
        pytest.skip(f"minigrad refuses {dtype} in {db._op_id(op)}")
    assert not disagree, f"{db._op_id(op)} {dtype}: {agree} samples agree, {len(disagree)} " \
        "do not:\n" + "\n".join(disagree[:5])


@pytest.mark.parametrize("op, fn", BACKWARD_CASES,
                         ids=[db._op_id(op) for op, _ in BACKWARD_CASES])
def test_bfloat16_gradients(op, fn):
    agree, disagree = check_half(op, fn, torch.bfloat16, backward=True)
    if not agree and not disagree:
        pytest.skip(f"minigrad refuses bfloat16 in {db._op_id(op)}")
    assert not disagree, f"{db._op_id(op)} bfloat16 backward: {agree} samples agree, " \
        f"{len(disagree)} do not:\n" + "\n".join(disagree[:5])


# -- the roundings fixed in this round, bit for bit on tensors past a vector register ---------
# (op_db's samples above are compared within tolerance, which one rounding more or less passes)
_F, _G = torch.nn.functional, minigrad.nn.functional


def _mine(t):
    """torch's 16-bit tensor as minigrad's (through float32, which holds both exactly)."""
    return minigrad.tensor(t.detach().float().numpy()).to(getattr(minigrad, str(t.dtype)[6:]))


def _bits(mine, theirs):
    assert str(mine.dtype)[9:] == str(theirs.dtype)[6:], f"{mine.dtype} vs {theirs.dtype}"
    np.testing.assert_array_equal(mine.detach().float().numpy(), theirs.detach().float().numpy())


@pytest.mark.parametrize("dtype", HALVES)
def test_glu_rounds_as_torch(dtype):
    # value: a sigmoid(b) in float32, rounded once; gradient: sigmoid(b) rounded first, then
    # g s and g a s (1 - s) each rounded once
    gen = torch.Generator().manual_seed(3)
    x = (torch.randn(300, 10, generator=gen) * 3).to(dtype).requires_grad_()
    g = torch.randn(300, 5, generator=gen).to(dtype)
    mx = _mine(x).requires_grad_()
    out, mout = _F.glu(x, 1), _G.glu(mx, 1)
    _bits(mout, out)
    assert mout.grad_fn.name() == "GluBackward0"
    out.backward(g)
    mout.backward(_mine(g))
    _bits(mx.grad, x.grad)


@pytest.mark.parametrize("dtype", HALVES)
def test_huber_loss_rounds_as_torch(dtype):
    # float16: the loss in float32, rounded once; bfloat16: each step rounded
    gen = torch.Generator().manual_seed(4)
    x, y = ((torch.randn(4000, generator=gen) * 3).to(dtype) for _ in range(2))
    for delta in (0.5, 1.0, 2.0):
        _bits(_G.huber_loss(_mine(x), _mine(y), reduction="none", delta=delta),
              _F.huber_loss(x, y, reduction="none", delta=delta))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf"), 0.5])
def test_float16_normalize_and_cosine_similarity_round_as_torch(p):
    # the norm in float32 rounded to float16, then the float16 division by it
    gen = torch.Generator().manual_seed(5)
    x, y = ((torch.randn(300, 9, generator=gen) * 40).half() for _ in range(2))
    _bits(_G.normalize(_mine(x), p, 1), _F.normalize(x, p, 1))
    _bits(_G.cosine_similarity(_mine(x), _mine(y), 1, 0.5), _F.cosine_similarity(x, y, 1, 0.5))


@pytest.mark.parametrize("dtype", HALVES)
def test_bilinear_interpolate_rounds_once(dtype):
    gen = torch.Generator().manual_seed(6)
    img = torch.randn(2, 3, 16, 16, generator=gen).to(dtype).requires_grad_()
    mimg = _mine(img).requires_grad_()
    for kwargs in ({"scale_factor": 2}, {"size": (5, 4), "align_corners": True}):
        out = _F.interpolate(img, mode="bilinear", **kwargs)
        mout = _G.interpolate(mimg, mode="bilinear", **kwargs)
        _bits(mout, out)
        assert mout.grad_fn.name() == "UpsampleBilinear2DBackward0"
    out.sum().backward()
    mout.sum().backward()
    _bits(mimg.grad, img.grad)


@pytest.mark.parametrize("dtype", HALVES)
def test_chunked_linear_cross_entropy_accumulates_in_float32(dtype):
    # with options and a 16-bit input, PyTorch's chunked path (acc_dtype float32 under the
    # "auto" policy on CPU) keeps the logits in float32; without options they are rounded
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(8, 16, generator=gen).to(dtype)
    w = torch.randn(32, 16, generator=gen).to(dtype)
    target = torch.randint(0, 32, (8,), generator=gen)
    opts, mopts = torch.nn.LinearCrossEntropyOptions(), minigrad.nn.LinearCrossEntropyOptions()
    mtarget = minigrad.tensor(target.numpy())
    for reduction in ("none", "mean"):
        theirs = _F.linear_cross_entropy(x, w, target, reduction=reduction, options=opts)
        mine = _G.linear_cross_entropy(_mine(x), _mine(w), mtarget, reduction=reduction,
                                       options=mopts)
        assert str(mine.dtype)[9:] == str(theirs.dtype)[6:]
        np.testing.assert_allclose(mine.float().detach().numpy(), theirs.float().numpy(),
                                   rtol=2 * _unit(dtype), atol=1e-6)
    mopts = minigrad.nn.LinearCrossEntropyOptions(acc_dtype=minigrad.bfloat16)
    assert mopts.acc_dtype is minigrad.bfloat16          # accepted, as torch's


@pytest.mark.parametrize("dtype", HALVES)
def test_addmv_rounds_once(dtype):
    # beta input + alpha (mat @ vec) in float32, rounded once (the product is not rounded)
    gen = torch.Generator().manual_seed(8)
    i, m, v = (torch.randn(*shape, generator=gen).to(dtype) for shape in ((30,), (30, 40), (40,)))
    for beta, alpha in ((1, 1), (0.5, 2)):
        leaves = [t.clone().requires_grad_() for t in (i, m, v)]
        mleaves = [_mine(t).requires_grad_() for t in (i, m, v)]
        out = torch.addmv(*leaves, beta=beta, alpha=alpha)
        mout = minigrad.addmv(*mleaves, beta=beta, alpha=alpha)
        _bits(mout, out)
        out.sum().backward()
        mout.sum().backward()
        for mine, theirs in zip(mleaves, leaves):
            _bits(mine.grad, theirs.grad)
