"""``minigrad.testing``: check gradients and compare with PyTorch.

    from minigrad.testing import gradcheck, assert_close, compare_with_torch, registry

* ``gradcheck(fn, inputs)``: reverse-mode gradients against central finite differences
  (float64), with a report naming the input and element that disagree.
* ``assert_close(actual, expected)``: tensors, arrays or numbers; per-dtype default tolerances.
* ``compare_with_torch(fn_minigrad, fn_torch, inputs)``: the same numbers through both
  frameworks; outputs and input gradients must match (torch is imported only here).
* ``gradgradcheck(fn, inputs)``: second derivatives against finite differences of the first;
  ``compare_second_order_with_torch``: first and second derivatives against PyTorch's.
* ``registry``: every differentiable op with its torch counterpart and test samples, used by
  the test suite, by ``python -m minigrad.gradcheck`` and by benchmarks.
"""
from .gradcheck import (  # noqa: F401
    GradcheckError, gradcheck, assert_close, compare_with_torch, Comparison, default_tolerances,
    to_numpy)
from .second_order import gradgradcheck, compare_second_order_with_torch  # noqa: F401
from . import registry  # noqa: F401

__all__ = ["GradcheckError", "gradcheck", "assert_close", "compare_with_torch", "Comparison",
           "default_tolerances", "to_numpy", "registry", "gradgradcheck",
           "compare_second_order_with_torch"]
