"""Where torch's own values are not a reference for tests/test_opinfo_db.py: elements of an
op's output 0 ("out") or of the gradient of one of its leaves (by position), chosen by a
predicate on the sample's arguments (input first, then args, tensors detached; the keyword
arguments by name) that gives a mask of them (a bool tensor), or True for the whole sample.
Each case is checked against scipy, mpmath, the mathematics or torch's other code path in
tests/test_extremal_values.py."""
import numpy as np
import torch


def _poles(x):
    """The poles of digamma and the polygammas: 0 and the negative integers (every float64
    below -2^52 is one)."""
    return (x <= 0) & (x == torch.floor(x))


def _wide(x):
    """``x`` as a float64 tensor: torch compares uint16/32/64 tensors only with tensors
    ("gt_cpu" not implemented for 'UInt16' given a Python number), and op_db has zeta
    samples of those dtypes."""
    return torch.as_tensor(x).to(torch.float64)


# the cases, op by op:
# - polar: torch takes the gradient for abs from the output's direction out / |out|, which
#   is 0 at abs = 0 (gradcheck fails there: the derivative is e^(i angle)) and flipped for
#   abs < 0 (documented as undefined input); minigrad's is e^(i angle) at both
# - digamma / polygamma: at the poles torch's trigamma (the gradient) is a large finite
#   number, 6.6e32 at -1, 63.6 at -1e20, where the function is infinite
# - special.zeta: for s above about 1e14 (and q > 1) torch's Euler-Maclaurin tail multiplies
#   an overflowing rising factorial by a zero power: NaN, where q^-s underflows and the sum
#   is 0 (as scipy.special.zeta gives for s = 1e20, q = 1e20 and mpmath for all)
# - special.log_ndtr: torch's gradient exp(-x^2/2 - log_ndtr(x)) / sqrt(2 pi) subtracts two
#   numbers near x^2/2: below x = -1e5 it is off by more than 1e-6 (5.009e6 at x = -4988429.2
#   where pdf / cdf = 4988429.2000002 by mpmath; 0.399 at -1e20, NaN at -inf)
# - special.airy_ai: torch's is off by up to 3e-6 for x in (-2.6, -2.0) (measured against
#   scipy.special.airy and mpmath.airyai on 240,001 points in [-12, 12]; minigrad's within
#   1e-14 absolute)
# - signal.windows.kaiser: torch computes I0(beta ...) / I0(beta) in float32 (the windows'
#   default dtype), where I0 overflows for beta > 88: NaN in the middle, 0 at the ends;
#   minigrad's window, computed in float64 and rounded, matches scipy.signal.windows.kaiser
# - hardtanh, relu6, hardshrink, softshrink, elu, celu, selu: at a NaN input torch's
#   gradient depends on where the element falls: its vectorised loop (whole blocks of 8
#   float64 elements here) gives 0 (NaN for the elu family), its scalar loop for the rest
#   g (g * scale): of 9 NaNs, hardtanh's gradient is 0 for 8 and 1 for the last. minigrad
#   gives the vectorised loop's value to every element
# - addcdiv: torch's gradient for tensor2, -grad * (value * tensor1) / tensor2^2, rounds
#   value * tensor1 to tensor1's dtype: with a bfloat16 tensor1 (op_db's mixed-dtype samples)
#   it is off by up to 2^-8 relative; minigrad's is computed in the result's dtype
_WRONG_TORCH_AT = {
    "polar": [(0, lambda r, angle, **kw: r <= 0)],
    "digamma": [(0, lambda x, **kw: _poles(x))],
    "polygamma": [(0, lambda x, *rest, **kw: _poles(x))],
    "special.polygamma": [(0, lambda x, *rest, **kw: _poles(x))],
    "special.zeta": [("out", lambda s, q, **kw: (_wide(s) > 1e13) & (_wide(q) > 1))],
    "special.log_ndtr": [(0, lambda x, **kw: x < -1e5)],
    "special.airy_ai": [("out", lambda x, **kw: (x > -2.6) & (x < -2.0))],
    "signal.windows.kaiser": [("out", lambda m, beta=12.0, **kw: beta > 88)],
    **{f"nn.functional.{name}": [(0, lambda x, *rest, **kw: torch.isnan(x))]
       for name in ("hardtanh", "relu6", "hardshrink", "softshrink", "elu", "celu", "selu")},
    "addcdiv": [(2, lambda x, t1, t2, **kw: t1.dtype in (torch.bfloat16, torch.float16)
                 and x.dtype != t1.dtype)],
}


def wrong_torch_mask(op, sample, target, shape):
    """The mask (of ``shape``) of the elements of ``target`` that _WRONG_TORCH_AT sets apart
    for this sample, or None."""
    marks = [fn for where, fn in _WRONG_TORCH_AT.get(op.name, ()) if where == target]
    if not marks:
        return None
    args = [a.detach() if isinstance(a, torch.Tensor) else a for a in [sample.input, *sample.args]]
    kwargs = {k: v for k, v in sample.kwargs.items() if k != "dtype"}
    mask = np.zeros(shape, dtype=bool)
    for fn in marks:
        marked = fn(*args, **kwargs)
        marked = marked.numpy() if isinstance(marked, torch.Tensor) else np.asarray(marked, bool)
        mask |= np.broadcast_to(marked, shape)
    return mask


def set_apart(mask, *arrays):
    """The arrays with NaN at the masked elements (so that they compare equal there)."""
    if mask is None or not mask.any():
        return arrays
    out = []
    for a in arrays:
        a = np.asarray(a)
        a = np.array(a, dtype=a.dtype if a.dtype.kind in "fc" else np.float64, copy=True)
        a[mask] = np.nan
        out.append(a)
    return out
