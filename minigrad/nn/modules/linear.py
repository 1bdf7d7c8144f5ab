"""``Linear`` (y = x W^T + b), ``LazyLinear``, ``Bilinear`` and ``Identity``."""
from __future__ import annotations

import math

from ... import creation
from .. import functional as F, init
from ..parameter import Parameter
from .lazy import LazyModuleMixin
from .module import Module

__all__ = ["Identity", "Linear", "NonDynamicallyQuantizableLinear", "Bilinear", "LazyLinear"]


class Identity(Module):
    """Returns its input unchanged; accepts (and ignores) any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b.

    Shapes: input (*, in_features) -> output (*, out_features);
    weight (out_features, in_features), bias (out_features,).
    Init as PyTorch: W ~ U(-1/sqrt(in_features), 1/sqrt(in_features)) (kaiming_uniform_ with
    a=sqrt(5)), b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(creation.empty((out_features, in_features), device=device,
                                               dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """A ``Linear`` under another name: the output projection of ``MultiheadAttention``
    (PyTorch names it so that dynamic quantization leaves it alone; here it only shows in the
    module's repr)."""


class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose ``in_features`` is the last dim of the first input (d2l.ai builds its
    networks with it); it becomes a ``Linear`` then."""
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device=device, dtype=dtype)
        self._placeholders("weight", "bias")

    def reset_parameters(self):
        if self.in_features:
            Linear.reset_parameters(self)

    def initialize_parameters(self, input):
        if not self.has_uninitialized_params():     # filled by load_state_dict
            if int(input.shape[-1]) != int(self.weight.shape[1]):
                raise AssertionError(f"The in_features inferred from input: {input.shape[-1]} "
                                     f"is not equal to in_features from self.weight: "
                                     f"{self.weight.shape[1]}")
            self.in_features = int(self.weight.shape[1])
            return
        self.in_features = int(input.shape[-1])
        self._fill("weight", (self.out_features, self.in_features))
        self._fill("bias", (self.out_features,))
        Linear.reset_parameters(self)


class Bilinear(Module):
    """y_k = x1^T W_k x2 + b_k: input1 (*, in1_features), input2 (*, in2_features) ->
    (*, out_features); weight (out_features, in1_features, in2_features), bias
    (out_features,), both ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features)) as PyTorch."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = Parameter(creation.empty((out_features, in1_features, in2_features),
                                               device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight.shape[1] <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features="
                             f"{self.weight.shape[1]})")
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
