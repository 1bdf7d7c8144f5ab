"""Checking gradients: ``gradcheck`` (finite differences), ``assert_close``, ``compare_with_torch``.

Two oracles, never minigrad itself:

* **finite differences** (``gradcheck``): for a scalar ``L = sum(v * f(x))`` with a random,
  seeded upstream gradient ``v``, the reverse-mode gradient ``dL/dx = v^T J`` must match the
  central difference ``(L(x + eps e_j) - L(x - eps e_j)) / (2 eps)`` for every element ``j`` of
  every input that requires grad.  Two forward passes per element, no graph recorded.
* **PyTorch** (``compare_with_torch``): the same function written with torch, run on the same
  numbers; outputs and every input gradient (under one shared random upstream gradient) must
  agree.

Both raise an error whose message says which input (index and shape) or output, which element
(its multi-index), the two values there, and the worst absolute and relative errors.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import backward, no_grad
from ..autograd.gradcheck import GradcheckError as _AutogradGradcheckError
from ..tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "assert_close", "compare_with_torch", "Comparison",
           "default_tolerances", "to_numpy"]


class GradcheckError(AssertionError, _AutogradGradcheckError):
    """A gradient (or a value) does not match its oracle.

    A RuntimeError, as ``minigrad.autograd.gradcheck.GradcheckError`` (its base class), and an
    AssertionError so that pytest shows it as a failed check rather than a crash.
    """


# ----------------------------------------------------------------------------------------------
# Conversions
# ----------------------------------------------------------------------------------------------
def _is_minigrad_tensor(x) -> bool:
    return isinstance(x, Tensor)


def _is_torch_tensor(x) -> bool:
    mod = type(x).__module__
    return mod.startswith("torch") and hasattr(x, "detach") and hasattr(x, "numpy")


def to_numpy(x) -> np.ndarray:
    """A host numpy array from a minigrad tensor, a torch tensor, a cupy/numpy array or numbers."""
    if _is_minigrad_tensor(x):
        return backend.as_numpy(x._array)
    if _is_torch_tensor(x):
        if x._is_zerotensor():       # torch's symbolic zeros (e.g. abs's second derivative)
            return np.zeros(tuple(x.shape), dtype=str(x.dtype).replace("torch.", ""))
        # torch's lazy conjugate/negative views (a complex backward makes them) written out
        return x.detach().cpu().resolve_conj().resolve_neg().numpy()
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    return np.asarray(x)


# ----------------------------------------------------------------------------------------------
# assert_close
# ----------------------------------------------------------------------------------------------
# (rtol, atol) by dtype, as torch.testing.assert_close.
_TOLERANCES = {
    np.dtype(np.float16): (1e-3, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
}


def default_tolerances(*dtypes_):
    """torch.testing's default (rtol, atol) for the loosest of ``dtypes_`` (0, 0 for exact types)."""
    rtol = atol = 0.0
    for d in dtypes_:
        r, a = _TOLERANCES.get(np.dtype(d), (0.0, 0.0))
        rtol, atol = max(rtol, r), max(atol, a)
    return rtol, atol


def _num(x):
    """A readable number: 0.123456789 rather than np.float64(0.123456789)."""
    x = x.item() if hasattr(x, "item") else x
    if not isinstance(x, float):
        return repr(x)
    text = f"{x:.10g}"
    return text if any(c in text for c in ".ena") else text + ".0"     # 2.0, not 2


def _fmt_index(flat_index, shape):
    if not shape:
        return "()"
    return str(tuple(int(i) for i in np.unravel_index(flat_index, shape)))


def _mismatch_report(actual, expected, rtol, atol, equal_nan=False):
    """None when close; else (message lines, max abs diff, max rel diff)."""
    a = actual.astype(np.float64) if actual.dtype.kind in "biufV" else actual
    e = expected.astype(np.float64) if expected.dtype.kind in "biufV" else expected
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(a - e)
        both_nan = np.isnan(a) & np.isnan(e) if equal_nan else np.zeros(a.shape, bool)
        same_inf = np.isinf(a) & np.isinf(e) & (a == e)
        close = (diff <= atol + rtol * np.abs(e)) | both_nan | same_inf
        diff = np.where(both_nan | same_inf, 0.0, diff)
        diff = np.where(np.isnan(diff), np.inf, diff)
        rel = np.where(diff == 0, 0.0, diff / np.abs(e))
        rel = np.where(np.isnan(rel), np.inf, rel)
    if bool(close.all()):
        return None
    n_bad, n = int((~close).sum()), close.size
    i_abs, i_rel = int(np.argmax(diff)), int(np.argmax(rel))
    shape = a.shape
    lines = [
        f"Mismatched elements: {n_bad} / {n} ({100.0 * n_bad / n:.1f}%)",
        f"Greatest absolute difference: {diff.flat[i_abs]:.6g} at index {_fmt_index(i_abs, shape)}"
        f" (actual {_num(a.flat[i_abs])}, expected {_num(e.flat[i_abs])}; up to {atol:g} allowed)",
        f"Greatest relative difference: {rel.flat[i_rel]:.6g} at index {_fmt_index(i_rel, shape)}"
        f" (actual {_num(a.flat[i_rel])}, expected {_num(e.flat[i_rel])}; up to {rtol:g} allowed)",
    ]
    return lines, float(diff.max()), float(rel.max())


def _errors(actual, expected, atol=0.0):
    """(max abs error, max rel error) between two same-shaped float arrays (0, 0 when empty).

    The relative error divides by max(|expected|, atol): where the expected value is below the
    absolute tolerance, a relative error means nothing (0.5e-20 against 1e-20 is "50%").
    """
    if actual.size == 0:
        return 0.0, 0.0
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        same = (a == e) | (np.isnan(a) & np.isnan(e))
        diff = np.where(same, 0.0, np.abs(a - e))
        scale = np.maximum(np.abs(e), max(atol, np.finfo(np.float64).tiny))
        rel = np.where(diff == 0, 0.0, diff / scale)
    diff = np.nan_to_num(diff, nan=np.inf)
    rel = np.nan_to_num(rel, nan=np.inf)
    return float(diff.max()), float(rel.max())


def assert_close(actual, expected, rtol=None, atol=None, msg=None, *, equal_nan=False,
                 check_dtype=False):
    """Raise ``AssertionError`` unless ``|actual - expected| <= atol + rtol * |expected|``.

    ``actual`` and ``expected`` may be minigrad tensors, torch tensors, numpy/cupy arrays or
    Python numbers; their shapes must be equal (no broadcasting).  Default tolerances depend on
    the dtypes, as ``torch.testing.assert_close``: float32 rtol 1.3e-6 / atol 1e-5, float64
    1e-7 / 1e-7, integers and bools exact (the looser of the two dtypes wins).  NaNs compare
    equal only with ``equal_nan=True``; infinities must match exactly.  ``check_dtype=True``
    also requires the same dtype.  ``msg`` is put at the top of the report.
    """
    a, e = to_numpy(actual), to_numpy(expected)
    head = (msg + "\n") if msg else ""
    if a.shape != e.shape:
        raise AssertionError(f"{head}The values are not close: shapes differ: actual "
                             f"{list(a.shape)}, expected {list(e.shape)}.")
    if check_dtype and a.dtype != e.dtype:
        raise AssertionError(f"{head}The values are not close: dtypes differ: actual {a.dtype}, "
                             f"expected {e.dtype}.")
    d_rtol, d_atol = default_tolerances(a.dtype, e.dtype)
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: give both rtol and atol, or neither (defaults by dtype)")
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    if a.dtype.kind not in "biufV" or e.dtype.kind not in "biufV":
        raise TypeError(f"assert_close: unsupported dtypes {a.dtype} and {e.dtype}")
    report = _mismatch_report(a, e, rtol, atol, equal_nan)
    if report is not None:
        lines, _, _ = report
        raise AssertionError(f"{head}Tensor-likes are not close! (shape {list(a.shape)}, dtype "
                             f"{a.dtype})\n\n" + "\n".join(lines))


# ----------------------------------------------------------------------------------------------
# gradcheck: reverse mode against central finite differences
# ----------------------------------------------------------------------------------------------
def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float_outputs(out):
    """The outputs that carry gradients: floating tensors, in order (others are ignored)."""
    return [o for o in _as_tuple(out) if _is_minigrad_tensor(o) and o._array.dtype.kind in "fV"]


def _upstream(outputs, seed):
    """A random, non-uniform upstream gradient per output (float64 numpy, seeded)."""
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.standard_normal(tuple(o.shape)) + 0.5) for o in outputs]


def _project(outputs, vs):
    """sum_k <v_k, out_k> in float64, on the host."""
    total = 0.0
    for o, v in zip(outputs, vs):
        total += float(np.sum(backend.as_numpy(o._array).astype(np.float64) * v))
    return total


def _gradcheck_details(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, allow_float32=False,
                       seed=0):
    """Run the check; return (report or None, max abs error, max rel error).

    The report is the error message when some gradient is off.
    """

    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if _is_minigrad_tensor(x) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck: no input requires grad; nothing to check (create inputs "
                         "with requires_grad=True)")
    for i in diff_idx:
        if inputs[i]._array.dtype != np.float64 and not allow_float32:
            raise ValueError(
                f"gradcheck: input {i} (shape {list(inputs[i].shape)}) is "
                f"{inputs[i].dtype.name}, not float64. Finite differences in single precision are "
                "too coarse to check a gradient (eps=1e-6 is below float32's resolution): build "
                "the inputs with dtype=minigrad.float64, or pass allow_float32=True (and a "
                "larger eps and tolerances) if you really mean it.")

    # Private leaves holding copies: the caller's tensors are never modified.
    leaves = []
    for x in inputs:
        if _is_minigrad_tensor(x):
            t = Tensor._wrap(x._array.copy())
            if x.requires_grad:
                t.requires_grad_(True)
            leaves.append(t)
        else:
            leaves.append(x)

    # Analytic: v^T J by one backward pass.
    outputs = _float_outputs(fn(*leaves))
    if not outputs:
        raise ValueError("gradcheck: the function returned no floating-point tensor")
    vs = _upstream(outputs, seed)
    live = [(o, v) for o, v in zip(outputs, vs) if o.requires_grad]
    if live:
        backward([o for o, _ in live],
                 [Tensor._wrap(backend.to_device(v.astype(o._array.dtype), o.device))
                  for o, v in live])
    analytic = {}
    for i in diff_idx:
        g = leaves[i].grad
        if g is not None and tuple(g.shape) != tuple(leaves[i].shape):
            return (f"gradcheck: the gradient of input {i} has shape {list(g.shape)} but the "
                    f"input has shape {list(leaves[i].shape)}", float("inf"), float("inf"))
        if g is not None and g._array.dtype != leaves[i]._array.dtype:
            return (f"gradcheck: the gradient of input {i} (shape {list(g.shape)}) has dtype "
                    f"{g.dtype.name} but the input is {leaves[i].dtype.name}", float("inf"),
                    float("inf"))
        analytic[i] = (np.zeros(tuple(leaves[i].shape)) if g is None
                       else backend.as_numpy(g._array).astype(np.float64))
        leaves[i].grad = None

    # Numeric: central differences, perturbing the raw arrays (no graph recorded).
    numeric = {}
    with no_grad():
        for i in diff_idx:
            flat = leaves[i]._array.reshape(-1)          # a view: the leaf's array is contiguous
            est = np.zeros(flat.size)
            for j in range(flat.size):
                orig = flat[j].item()
                flat[j] = orig + eps
                plus = _project(_float_outputs(fn(*leaves)), vs)
                flat[j] = orig - eps
                minus = _project(_float_outputs(fn(*leaves)), vs)
                flat[j] = orig
                est[j] = (plus - minus) / (2 * eps)
            numeric[i] = est.reshape(tuple(leaves[i].shape))

    worst_abs = worst_rel = 0.0
    failures = []
    for i in diff_idx:
        a, n = analytic[i], numeric[i]
        e_abs, e_rel = _errors(a, n, atol)
        worst_abs, worst_rel = max(worst_abs, e_abs), max(worst_rel, e_rel)
        report = _mismatch_report(a, n, rtol, atol)
        if report is None:
            continue
        with np.errstate(invalid="ignore"):
            excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        excess = np.nan_to_num(excess, nan=np.inf)
        j = int(np.argmax(excess))
        where = _fmt_index(j, a.shape)
        failures.append(
            f"Jacobian mismatch for input {i} (shape {list(a.shape)}) at element {where}:\n"
            f"  analytic (reverse mode) = {_num(a.flat[j])}\n"
            f"  numeric  (finite diff.) = {_num(n.flat[j])}\n"
            + "\n".join("  " + line for line in report[0]))
    if failures:
        msg = ("gradcheck failed: the backward disagrees with central finite differences "
               f"(eps={eps:g}, atol={atol:g}, rtol={rtol:g}; gradients are v^T J for a random "
               "upstream v).\n" + "\n".join(failures))
        return msg, worst_abs, worst_rel
    return None, worst_abs, worst_rel


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              allow_float32=False, *, seed=0):
    """Check ``fn``'s reverse-mode gradients against central finite differences.

    ``fn(*inputs)`` returns a tensor or a tuple of tensors.  Every element of every input with
    ``requires_grad=True`` is perturbed by +-``eps`` in its raw array (two forward passes per
    element, no graph), and the resulting directional derivatives of ``sum(v * fn(x))``, with
    ``v`` a fixed random upstream gradient, are compared with one backward pass's gradients:
    ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Inputs that require grad must be float64 (float32 is refused unless ``allow_float32``).
    Returns True; on a mismatch raises ``GradcheckError`` naming the input (index, shape), the
    worst element (multi-index), both values and the worst errors -- or returns False when
    ``raise_exception=False``.  The caller's tensors are not modified.
    """
    report, _, _ = _gradcheck_details(fn, inputs, eps, atol, rtol, allow_float32, seed)
    if report is None:
        return True
    if raise_exception:
        raise GradcheckError(report)
    return False


# ----------------------------------------------------------------------------------------------
# compare_with_torch: minigrad against PyTorch on the same numbers
# ----------------------------------------------------------------------------------------------
class Comparison:
    """What ``compare_with_torch`` found: the worst errors over outputs and gradients."""

    def __init__(self):
        self.max_abs_err = 0.0
        self.max_rel_err = 0.0
        self.checked = []          # names of what was compared ("output 0", "grad of input 1")

    def add(self, name, actual, expected, atol=0.0):
        e_abs, e_rel = _errors(actual, expected, atol)
        self.max_abs_err = max(self.max_abs_err, e_abs)
        self.max_rel_err = max(self.max_rel_err, e_rel)
        self.checked.append(name)

    def __repr__(self):
        return (f"Comparison(checked={len(self.checked)}, max_abs_err={self.max_abs_err:.3g}, "
                f"max_rel_err={self.max_rel_err:.3g})")


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("compare_with_torch needs PyTorch as the reference: pip install torch "
                          "(or pip install 'minigrad[test]')") from None
    return torch


def _flatten_outputs(out):
    if isinstance(out, (tuple, list)):
        flat = []
        for o in out:
            flat.extend(_flatten_outputs(o))
        return flat
    return [out]


def paired_inputs(torch, inputs, requires_grad, device="cpu", torch_device="cpu"):
    """The same numbers as minigrad and torch arguments: arrays (and minigrad tensors) become
    a private tensor on each side, requiring grad when floating unless ``requires_grad`` (one
    entry per input, None = by dtype) says otherwise; other values pass through unchanged.
    Returns (minigrad args, torch args, indices of the differentiated inputs)."""
    mg_args, th_args, diff = [], [], []
    for i, (x, rg) in enumerate(zip(inputs, requires_grad)):
        if _is_minigrad_tensor(x):
            x = backend.as_numpy(x._array)
        if isinstance(x, (np.ndarray, np.generic)):
            arr = np.array(x)                                 # a private copy for each side
            wants = (arr.dtype.kind in "fV") if rg is None else bool(rg)
            mt = Tensor._wrap(backend.to_device(arr.copy(), backend.device(device)))
            tt = torch.from_numpy(arr.copy()).to(torch_device)
            if wants:
                mt.requires_grad_(True)
                tt.requires_grad_(True)
                diff.append(i)
            mg_args.append(mt)
            th_args.append(tt)
        else:
            mg_args.append(x)
            th_args.append(x)
    return mg_args, th_args, diff


def compare_with_torch(fn_minigrad, fn_torch, inputs, rtol=None, atol=None, grad=True, *,
                       requires_grad=None, device="cpu", torch_device="cpu", seed=0,
                       equal_nan=True):
    """Run ``fn_minigrad`` and ``fn_torch`` on the same numbers; compare outputs and gradients.

    ``inputs`` is a sequence of numpy arrays (or minigrad tensors, taken as arrays); anything
    else (ints, tuples, None) is passed through to both functions unchanged.  Floating arrays
    become tensors that require grad (``requires_grad``, one bool per input, overrides that);
    integer and bool arrays become tensors without grad.  Outputs may be a tensor or a
    (nested) tuple of them; each must match torch's in shape, dtype and value.  With ``grad``,
    one seeded random upstream gradient per floating output is sent back through both graphs
    and every input gradient is compared (a missing gradient counts as zeros).

    ``rtol``/``atol`` default to torch.testing's per-dtype tolerances; NaNs in the same places
    agree (``equal_nan``), infinities must match in sign.  ``device`` runs minigrad
    there (e.g. "cuda"); ``torch_device`` is where torch runs.  Returns a ``Comparison`` with the
    worst errors; raises ``GradcheckError`` naming the output or input on a mismatch.
    """
    torch = _import_torch()

    inputs = list(inputs)
    if requires_grad is None:
        requires_grad = [None] * len(inputs)
    if len(requires_grad) != len(inputs):
        raise ValueError(f"compare_with_torch: requires_grad has {len(requires_grad)} entries "
                         f"for {len(inputs)} inputs")

    dev = backend.device(device)
    mg_args, th_args, diff = paired_inputs(torch, inputs, requires_grad, dev, torch_device)

    cmp = Comparison()
    mg_out = _flatten_outputs(fn_minigrad(*mg_args))
    th_out = _flatten_outputs(fn_torch(*th_args))
    if len(mg_out) != len(th_out):
        raise GradcheckError(f"compare_with_torch: minigrad returned {len(mg_out)} outputs, "
                             f"torch {len(th_out)}")
    for k, (m, t) in enumerate(zip(mg_out, th_out)):
        if _is_torch_tensor(t) != _is_minigrad_tensor(m):
            raise GradcheckError(f"output {k}: minigrad gave {type(m).__name__}, torch "
                                 f"{type(t).__name__}")
        a, e = to_numpy(m), to_numpy(t)
        if a.dtype != e.dtype:
            raise GradcheckError(f"output {k}: dtype differs: minigrad {a.dtype}, torch "
                                 f"{e.dtype} (shape {list(e.shape)})")
        _check(a, e, rtol, atol, f"output {k} (shape {list(e.shape)}) differs from torch's",
               equal_nan)
        if a.dtype.kind in "fV":
            cmp.add(f"output {k}", a, e, _atol_for(a, e, atol))

    if not grad or not diff:
        return cmp
    rng = np.random.default_rng(seed)
    mg_live, th_live, mg_grads, th_grads = [], [], [], []
    for m, t in zip(mg_out, th_out):
        if _is_torch_tensor(t) and t.dtype.is_floating_point:
            v = np.asarray(rng.standard_normal(tuple(t.shape)) + 0.5)
            if t.requires_grad != m.requires_grad:
                raise GradcheckError(f"an output requires grad in "
                                     f"{'torch' if t.requires_grad else 'minigrad'} only")
            if t.requires_grad:
                th_live.append(t)
                th_grads.append(torch.from_numpy(v).to(t.dtype).to(t.device))
                mg_live.append(m)
                mg_grads.append(Tensor._wrap(backend.to_device(v.astype(m._array.dtype), dev)))
    if not th_live:
        return cmp
    torch.autograd.backward(th_live, th_grads)
    backward(mg_live, mg_grads)
    for i in diff:
        e = (np.zeros(tuple(th_args[i].shape), dtype=to_numpy(th_args[i]).dtype)
             if th_args[i].grad is None else to_numpy(th_args[i].grad))
        a = (np.zeros(e.shape, e.dtype) if mg_args[i].grad is None else to_numpy(mg_args[i].grad))
        if a.dtype != e.dtype:
            raise GradcheckError(f"gradient of input {i}: dtype differs: minigrad {a.dtype}, "
                                 f"torch {e.dtype}")
        _check(a, e, rtol, atol, f"gradient of input {i} (shape {list(e.shape)}) differs from "
                                 f"torch's", equal_nan)
        cmp.add(f"grad of input {i}", a, e, _atol_for(a, e, atol))
    return cmp


def _atol_for(actual, expected, atol):
    return default_tolerances(actual.dtype, expected.dtype)[1] if atol is None else atol


def _check(actual, expected, rtol, atol, what, equal_nan=False):
    try:
        assert_close(actual, expected, rtol, atol, equal_nan=equal_nan)
    except AssertionError as exc:
        raise GradcheckError(f"{what}:\n{exc}") from None
