"""``minigrad.testing``: check gradients and compare with PyTorch.

    from minigrad.testing import gradcheck, assert_close, compare_with_torch, registry

* ``gradcheck(fn, inputs)``: reverse-mode gradients against central finite differences
  (float64), with a report naming the input and element that disagree.
* ``assert_close(actual, expected)``, ``make_tensor``, ``assert_allclose``: as
  ``torch.testing``'s (``asserts.py``): same-kind inputs (minigrad tensors, numpy arrays,
  numbers, or sequences / mappings of them), per-dtype default tolerances, torch's messages.
  ``gradcheck.assert_close`` is the lenient form that also compares across frameworks.
* ``compare_with_torch(fn_minigrad, fn_torch, inputs)``: the same numbers through both
  frameworks; outputs and input gradients must match (torch is imported only here).
* ``gradgradcheck(fn, inputs)``: second derivatives against finite differences of the first;
  ``compare_second_order_with_torch``: first and second derivatives against PyTorch's.
* ``registry``: every differentiable op with its torch counterpart and test samples, used by
  the test suite, by ``python -m minigrad.gradcheck`` and by benchmarks.
"""
from .gradcheck import (  # noqa: F401
    GradcheckError, gradcheck, compare_with_torch, Comparison, default_tolerances, to_numpy)
from .asserts import assert_close, assert_allclose, make_tensor  # noqa: F401
from .second_order import gradgradcheck, compare_second_order_with_torch  # noqa: F401
# ``registry`` is not imported here: ``import minigrad`` imports this package (torch.testing is
# there after ``import torch``) and the registry's entries import minigrad itself; it loads on
# ``from minigrad.testing import registry``.

__all__ = ["GradcheckError", "gradcheck", "assert_close", "compare_with_torch", "Comparison",
           "default_tolerances", "to_numpy", "registry", "gradgradcheck",
           "compare_second_order_with_torch", "assert_allclose", "make_tensor"]
