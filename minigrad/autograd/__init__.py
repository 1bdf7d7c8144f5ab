"""Automatic differentiation: ``Function``, the backward engine, grad modes, and (imported by
``minigrad/__init__`` once the ops exist) ``autograd.functional``.

    grad_mode.py   no_grad, enable_grad, set_grad_enabled, inference_mode, detect_anomaly
    function.py    Function: forward beside a differentiable backward; the graph node
    engine.py      Tensor.backward, autograd.backward, autograd.grad (create_graph: any order)
    functional.py  vjp, jvp, jacobian, hessian, hvp, vhp
    graph.py       saved_tensors_hooks, save_on_cpu, Node, increment_version
    gradcheck.py   gradcheck, gradgradcheck (Jacobians against finite differences)
    forward_ad.py  dual_level, make_dual, unpack_dual (forward mode, from reverse mode)
    profiler.py    profile, record_function, emit_nvtx (what each op costs; torch.profiler's base)
"""
from .grad_mode import (  # noqa: F401
    no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode,
    is_inference_mode_enabled, detect_anomaly, set_detect_anomaly, is_anomaly_enabled,
    is_anomaly_check_nan_enabled, enforce_grad_layout_policy)
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .engine import _is_checkpoint_valid, backward, grad  # noqa: F401
from . import graph  # noqa: F401  (saved_tensors_hooks, Node, ...)
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401  (the functions shadow the module)
from .variable import Variable  # noqa: F401  (old tutorials' wrapper of a Tensor)
from . import forward_ad  # noqa: F401  (make_dual, unpack_dual, dual_level)
from . import profiler  # noqa: F401  (profile, record_function: torch.autograd.profiler)

__all__ = ["Function", "FunctionCtx", "once_differentiable", "backward", "grad", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
           "is_inference_mode_enabled", "detect_anomaly", "set_detect_anomaly",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "Variable", "gradcheck",
           "gradgradcheck", "forward_ad", "profiler", "enforce_grad_layout_policy"]
