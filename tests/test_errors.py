"""The catalogue of bad inputs: every one raises a clear error, none is silently accepted.

Each row is (id, call, exception type, regex). ``call(T)`` takes the library as its argument,
so the same bad input runs on minigrad and on PyTorch:

  * on minigrad it must raise exactly the given type (one PyTorch raises: RuntimeError,
    ValueError, IndexError, TypeError -- a builtin, never numpy's AxisError & co.), and the
    message must match the regex, which names the argument with the value expected and the
    value given;
  * neither the message nor any exception chained to it may come from numpy's internals
    ("operands could not be broadcast", "axis 3 is out of bounds for array", ...);
  * PyTorch must raise too (rows marked ``torch_ok`` are the few where minigrad is stricter
    than PyTorch on purpose), so every row really is a bad input.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import minigrad
import torch

HAS_CUDA = minigrad.cuda.is_available()
CLEAR_TYPES = (RuntimeError, ValueError, IndexError, TypeError, NotImplementedError)

# Phrases that only numpy (or a Python attribute slip) produces: a message containing one of
# them is a bare numpy traceback in disguise.
NUMPY_PHRASES = [
    "operands could not be broadcast", r"is out of bounds for array", "for array: array is",
    "inhomogeneous", "could not broadcast input array", "negative dimensions are not allowed",
    "setting an array element with a sequence", "attempt to get arg", "object has no attribute",
    r"numpy\.", r"axis -?\d+ is out of bounds", "zero-size array to reduction",
    "cannot reshape array", "non-broadcastable output operand", "unsupported operand type(s)",
    "matmul: Input operand", "shape mismatch: objects cannot be broadcast",
]


class Case:
    def __init__(self, id, call, exc, pattern, torch_ok=False, cuda=False):
        self.id, self.call, self.exc, self.pattern = id, call, exc, pattern
        self.torch_ok, self.cuda = torch_ok, cuda


def F(T):
    return T.nn.functional


# -- multi-step bad inputs -------------------------------------------------------------------
def _backward_twice(T):
    x = T.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _saved_input_modified(T):
    x = T.ones(3, requires_grad=True)
    y = x.exp()
    z = y * y                 # saves y for backward
    y.mul_(2)                 # ... then y changes in place
    z.sum().backward()


def _saved_output_overwritten(T):
    x = T.ones(3, requires_grad=True)
    y = x.tanh()              # tanh saves its output
    y[0] = 5.0
    y.sum().backward()


def _leaf_in_place(T):
    w = T.ones(3, requires_grad=True)
    w.add_(1)


def _linear_state(T, **entries):
    model = T.nn.Linear(3, 2)
    state = {"weight": model.weight.detach().clone(), "bias": model.bias.detach().clone()}
    for key, value in entries.items():
        if value is None:
            del state[key]
        else:
            state[key] = value(T)
    return model, state


def _load_missing(T):
    model, state = _linear_state(T, bias=None)
    model.load_state_dict(state)


def _load_extra(T):
    model, state = _linear_state(T, running_mean=lambda T: T.zeros(2))
    model.load_state_dict(state)


def _load_wrong_shape(T):
    model, state = _linear_state(T, weight=lambda T: T.zeros(3, 3))
    model.load_state_dict(state)


def _load_wrong_shape_not_strict(T):
    model, state = _linear_state(T, weight=lambda T: T.zeros(3, 3))
    model.load_state_dict(state, strict=False)


def _grad_of_wrong_shape(T):
    x = T.ones(3, requires_grad=True)
    x.grad = T.ones(4)


def _cuda(T, x):
    return x.to("cuda")


C = Case
CASES = [
    # ---- broadcasting in elementwise ops: both shapes and the offending sizes ----------------
    C("add-shapes", lambda T: T.ones(2, 3) + T.ones(4, 3), RuntimeError,
      r"size of tensor a \(2\) must match the size of tensor b \(4\) at non-singleton dimension 0"
      r".*\[2, 3\] and \[4, 3\]"),
    C("mul-shapes", lambda T: T.mul(T.ones(2, 3), T.ones(3, 2)), RuntimeError,
      r"tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 1.*"
      r"\[2, 3\] and \[3, 2\]"),
    C("sub-ranks", lambda T: T.ones(5) - T.ones(2, 4), RuntimeError,
      r"tensor a \(5\) must match .* tensor b \(4\).*\[5\] and \[2, 4\]"),
    C("div-shapes", lambda T: T.div(T.ones(3), T.ones(2)), RuntimeError,
      r"\(3\) must match .*\(2\).*\[3\] and \[2\]"),
    C("maximum-shapes", lambda T: T.maximum(T.ones(2, 2), T.ones(3)), RuntimeError,
      r"\(2\) must match .*\(3\).*\[2, 2\] and \[3\]"),
    C("where-shapes", lambda T: T.where(T.ones(3) > 0, T.ones(3), T.ones(4)), RuntimeError,
      r"\(3\) must match .*\(4\).*\[3\] and \[4\]"),
    C("eq-shapes", lambda T: T.ones(3) == T.ones(4), RuntimeError,
      r"\(3\) must match .*\(4\).*\[3\] and \[4\]"),
    C("mse_loss-shapes", lambda T: F(T).mse_loss(T.ones(2, 3), T.ones(4, 3)), RuntimeError,
      r"\(2\) must match .*\(4\).*\[2, 3\] and \[4, 3\]"),
    C("add_-into-smaller", lambda T: T.ones(3).add_(T.ones(2, 3)), RuntimeError,
      r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"),
    C("add_-float-into-int", lambda T: T.ones(3, dtype=T.int64).add_(1.5), RuntimeError,
      r"result type Float can't be cast to the desired output type Long"),
    C("where-float-condition", lambda T: T.where(T.ones(3), T.ones(3), T.zeros(3)), RuntimeError,
      r"condition to be a boolean tensor, but got a tensor with dtype Float"),
    C("pow-int-negative", lambda T: T.tensor([2, 3]) ** -1, RuntimeError,
      r"Integers to negative integer powers are not allowed"),
    C("div-rounding_mode", lambda T: T.div(T.ones(3), 2, rounding_mode="round"), RuntimeError,
      r"rounding_mode to be one of None, 'trunc', or 'floor' but found 'round'"),
    C("add-str", lambda T: T.ones(3) + "a", TypeError,
      r"unsupported operand type\(s\) for \+: 'Tensor' and 'str'"),

    # ---- matmul / linear: both shapes ----------------------------------------------------------
    C("matmul-2d", lambda T: T.ones(2, 3) @ T.ones(4, 5), RuntimeError,
      r"shapes cannot be multiplied \(2x3 and 4x5\)"),
    C("matmul-batched", lambda T: T.matmul(T.ones(2, 3, 4), T.ones(2, 5, 6)), RuntimeError,
      r"\[2, 3, 4\].*\[2, 5, 6\].*got 4 and 5"),
    C("matmul-batch-broadcast", lambda T: T.matmul(T.ones(2, 3, 4), T.ones(3, 4, 6)),
      RuntimeError, r"tensor a \(2\) must match the size of tensor b \(3\)"),
    C("matmul-0d", lambda T: T.matmul(T.tensor(1.0), T.ones(3)), RuntimeError,
      r"at least 1D, but they are 0D and 1D"),
    C("matmul-float64-float32", lambda T: T.ones(2, 3, dtype=T.float64) @ T.ones(3, 2),
      RuntimeError, r"same dtype, but got: double != float"),
    C("Linear-in_features", lambda T: T.nn.Linear(3, 4)(T.ones(2, 5)), RuntimeError,
      r"\(2x5 and 3x4\).*input has 5 features but the weight expects in_features=3"),
    C("Linear-float64-input", lambda T: T.nn.Linear(3, 4)(T.ones(2, 3, dtype=T.float64)),
      RuntimeError, r"same dtype, but got Double and Float"),
    C("linear-bias-shape", lambda T: F(T).linear(T.ones(2, 3), T.ones(4, 3), T.ones(5)),
      RuntimeError, r"bias must have shape \[4\] \(out_features\), got \[5\]"),
    C("linear-0d-input", lambda T: F(T).linear(T.tensor(1.0), T.ones(2, 1)), RuntimeError,
      r"both arguments to linear need to be at least 1D, but they are 0D and 2D"),
    C("Sequential-mismatch", lambda T: T.nn.Sequential(T.nn.Linear(2, 3), T.nn.Linear(4, 5))(
        T.ones(1, 2)), RuntimeError, r"\(1x3 and 4x5\)"),

    # ---- convolution: channels, rank, kernel vs padded input, stride/padding/dilation/groups --
    C("conv2d-channels", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 2, 3, 3)),
      RuntimeError, r"weight of size \[4, 2, 3, 3\], expected input\[1, 3, 8, 8\] to have 2 "
      r"channels, but got 3 channels"),
    C("Conv2d-channels", lambda T: T.nn.Conv2d(3, 4, 3)(T.ones(1, 2, 8, 8)), RuntimeError,
      r"expected input\[1, 2, 8, 8\] to have 3 channels, but got 2 channels"),
    C("conv1d-channels", lambda T: F(T).conv1d(T.ones(1, 3, 8), T.ones(4, 2, 3)), RuntimeError,
      r"expected input\[1, 3, 8\] to have 2 channels, but got 3 channels"),
    C("conv2d-rank", lambda T: F(T).conv2d(T.ones(3, 8), T.ones(4, 3, 3, 3)), RuntimeError,
      r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: "
      r"\[3, 8\]"),
    C("conv1d-rank", lambda T: F(T).conv1d(T.ones(1, 1, 3, 8), T.ones(4, 1, 3)), RuntimeError,
      r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d, but got input of size: "
      r"\[1, 1, 3, 8\]"),
    C("conv2d-weight-rank", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 3, 3)),
      RuntimeError, r"Expected 4-dimensional weight .* got 3-dimensional weight of size "
      r"\[4, 3, 3\]"),
    C("conv2d-kernel-too-big", lambda T: F(T).conv2d(T.ones(1, 3, 4, 4), T.ones(4, 3, 5, 5)),
      RuntimeError, r"padded input size per channel: \(4 x 4\)\. Kernel size: \(5 x 5\)"),
    C("conv2d-kernel-too-big-padded", lambda T: F(T).conv2d(T.ones(1, 3, 4, 4),
                                                             T.ones(4, 3, 7, 7), padding=1),
      RuntimeError, r"padded input size per channel: \(6 x 6\)\. Kernel size: \(7 x 7\)"),
    C("conv2d-dilated-kernel-too-big", lambda T: F(T).conv2d(T.ones(1, 1, 5, 5),
                                                              T.ones(1, 1, 3, 3), dilation=3),
      RuntimeError, r"padded input size per channel: \(5 x 5\)\. Kernel size: \(7 x 7\)"),
    C("conv1d-kernel-too-big", lambda T: F(T).conv1d(T.ones(1, 3, 4), T.ones(4, 3, 5)),
      RuntimeError, r"padded input size per channel: \(4\)\. Kernel size: \(5\)"),
    C("conv2d-stride-0", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 3, 3, 3), stride=0),
      RuntimeError, r"non-positive stride .*stride must be >= 1, got stride=\[0, 0\]"),
    C("conv2d-stride-negative", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 3, 3, 3),
                                                       stride=(1, -2)),
      RuntimeError, r"non-positive stride .*got stride=\[1, -2\]"),
    C("conv2d-padding-negative", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 3, 3, 3),
                                                        padding=-1),
      RuntimeError, r"negative padding .*padding must be >= 0, got padding=\[-1, -1\]"),
    C("conv2d-dilation-0", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 3, 3, 3),
                                                  dilation=0),
      RuntimeError, r"dilation should be greater than zero, but got \[0, 0\]"),
    C("conv2d-groups-0", lambda T: F(T).conv2d(T.ones(1, 4, 8, 8), T.ones(4, 2, 3, 3), groups=0),
      RuntimeError, r"non-positive groups .*groups must be >= 1, got groups=0"),
    C("conv2d-out-channels-vs-groups", lambda T: F(T).conv2d(T.ones(1, 4, 8, 8),
                                                              T.ones(3, 2, 3, 3), groups=2),
      RuntimeError, r"groups=2, expected weight to be divisible by 2 at dimension 0, but got "
      r"weight of size \[\[3, 2, 3, 3\]\]"),
    C("conv2d-in-channels-vs-groups", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8),
                                                             T.ones(4, 1, 3, 3), groups=2),
      RuntimeError, r"groups=2, weight of size \[4, 1, 3, 3\], expected input\[1, 3, 8, 8\] to "
      r"have 2 channels, but got 3"),
    C("conv2d-same-strided", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 3, 3, 3),
                                                    padding="same", stride=2),
      RuntimeError, r"padding='same' is not supported for strided .*got stride=\[2, 2\]"),
    C("conv2d-padding-string", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 3, 3, 3),
                                                      padding="full"),
      RuntimeError, r"Invalid padding string: 'full'"),
    C("conv2d-stride-length", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 3, 3, 3),
                                                     stride=(1, 1, 1)),
      RuntimeError, r"single integer value or a list of 2 values .*got stride=\[1, 1, 1\]"),
    C("conv2d-float64-input-float32-weight",
      lambda T: F(T).conv2d(T.ones(1, 3, 8, 8, dtype=T.float64), T.ones(4, 3, 3, 3)),
      RuntimeError, r"expected scalar type Double but found Float"),
    C("conv2d-bias-shape", lambda T: F(T).conv2d(T.ones(1, 3, 8, 8), T.ones(4, 3, 3, 3),
                                                  T.ones(5)),
      RuntimeError, r"expected bias to be 1-dimensional with 4 elements, but got bias of size "
      r"\[5\]"),
    C("conv2d-kernel-0", lambda T: F(T).conv2d(T.ones(1, 1, 5, 5), T.ones(1, 1, 0, 3)),
      RuntimeError, r"kernel size should be greater than zero, but got kernel_height: 0 "
      r"kernel_width: 3"),
    C("conv1d-kernel-0", lambda T: F(T).conv1d(T.ones(1, 1, 5), T.ones(1, 1, 0)),
      RuntimeError, r"kernel size should be greater than zero, but got kernel_height: 1 "
      r"kernel_width: 0"),
    C("conv2d-no-out-channels", lambda T: F(T).conv2d(T.ones(1, 1, 4, 4), T.ones(0, 1, 1, 1)),
      RuntimeError, r"expected weight to be at least 1 at dimension 0, but got weight of size "
      r"\[0, 1, 1, 1\]"),
    C("conv_transpose2d-empty-weight", lambda T: F(T).conv_transpose2d(T.ones(1, 1, 4, 4),
                                                                       T.ones(1, 0, 3, 3)),
      RuntimeError, r"non-empty 2D or 4D weight tensor expected, but got: \[1, 0, 3, 3\]"),
    C("conv2d-list-input", lambda T: F(T).conv2d([[[[1.0]]]], T.ones(1, 1, 3, 3)),
      TypeError, r"conv2d\(\) received an invalid combination of arguments - got "
                 r"\(list, Tensor\)"),
    C("Conv2d-in_channels-vs-groups", lambda T: T.nn.Conv2d(3, 4, 3, groups=2), ValueError,
      r"^in_channels must be divisible by groups$"),
    C("Conv2d-out_channels-vs-groups", lambda T: T.nn.Conv2d(4, 3, 3, groups=2), ValueError,
      r"^out_channels must be divisible by groups$"),
    C("Conv2d-same-strided", lambda T: T.nn.Conv2d(2, 2, 3, stride=2, padding="same"),
      ValueError, r"^padding='same' is not supported for strided convolutions$"),
    C("Conv2d-padding-string", lambda T: T.nn.Conv2d(4, 4, 3, padding="foo"), ValueError,
      r"Invalid padding string 'foo', should be one of"),

    # ---- pooling -----------------------------------------------------------------------------
    C("max_pool2d-kernel-too-big", lambda T: F(T).max_pool2d(T.ones(1, 1, 4, 4), 5),
      RuntimeError, r"Given input size: \(1x4x4\)\. Calculated output size: \(1x0x0\)"),
    C("MaxPool2d-kernel-too-big", lambda T: T.nn.MaxPool2d(5)(T.ones(1, 1, 4, 4)),
      RuntimeError, r"Given input size: \(1x4x4\)\. Calculated output size: \(1x0x0\)"),
    C("max_pool2d-padding-over-half", lambda T: F(T).max_pool2d(T.ones(1, 1, 8, 8), 3, padding=2),
      RuntimeError, r"pad should be at most half of effective kernel size, but got pad=2, "
      r"kernel_size=3"),
    C("max_pool2d-stride-0", lambda T: F(T).max_pool2d(T.ones(1, 1, 8, 8), 2, stride=0),
      RuntimeError, r"stride should not be zero \(got dH: 0 dW: 0\)"),
    C("max_pool2d-kernel-0", lambda T: F(T).max_pool2d(T.ones(1, 1, 8, 8), 0, stride=1),
      RuntimeError, r"kernel size should be greater than zero, but got kH: 0 kW: 0"),
    C("max_pool2d-rank", lambda T: F(T).max_pool2d(T.ones(8), 2), RuntimeError,
      r"^non-empty 3D or 4D \(batch mode\) tensor expected for input$"),
    C("max_pool2d-dilation-0", lambda T: F(T).max_pool2d(T.ones(1, 1, 8, 8), 2, dilation=0),
      RuntimeError, r"dilation should be greater than zero, but got dilationH: 0 dilationW: 0"),
    C("max_pool2d-padding-negative", lambda T: F(T).max_pool2d(T.ones(1, 1, 8, 8), 2,
                                                                padding=-1),
      RuntimeError, r"pad must be non-negative, but got pad: -1"),
    C("avg_pool2d-kernel-too-big", lambda T: F(T).avg_pool2d(T.ones(1, 1, 4, 4), (2, 5)),
      RuntimeError, r"Given input size: \(1x4x4\)\. Calculated output size: \(1x2x0\)"),
    C("avg_pool2d-stride-negative", lambda T: F(T).avg_pool2d(T.ones(1, 1, 8, 8), 2, stride=-1),
      RuntimeError, r"stride should be greater than zero, but got dH: -1 dW: -1"),

    # ---- dtypes ------------------------------------------------------------------------------
    C("int-requires_grad_", lambda T: T.ones(3, dtype=T.int64).requires_grad_(), RuntimeError,
      r"only Tensors of floating point dtype can require gradients \(this tensor is "
      r"minigrad\.int64"),
    C("int-tensor-requires_grad", lambda T: T.tensor([1, 2], requires_grad=True), RuntimeError,
      r"floating point and complex dtype can require gradients \(this tensor is minigrad\.int64"),
    C("int-zeros-requires_grad", lambda T: T.zeros(3, dtype=T.int64, requires_grad=True),
      RuntimeError, r"floating point and complex dtype can require gradients \(this tensor is "
      r"minigrad\.int64"),
    C("cross_entropy-target-too-big", lambda T: F(T).cross_entropy(T.ones(2, 3),
                                                                   T.tensor([0, 3])),
      IndexError, r"Target 3 is out of bounds.*class indices in \[0, 2\].*3 classes"),
    C("cross_entropy-target-negative", lambda T: F(T).cross_entropy(T.ones(2, 3),
                                                                    T.tensor([0, -2])),
      IndexError, r"Target -2 is out of bounds.*\[0, 2\]"),
    C("CrossEntropyLoss-target-too-big", lambda T: T.nn.CrossEntropyLoss()(
        T.ones(4, 10), T.tensor([1, 2, 10, 3])),
      IndexError, r"Target 10 is out of bounds.*\[0, 9\].*10 classes"),
    C("nll_loss-target-too-big", lambda T: F(T).nll_loss(T.ones(2, 3), T.tensor([0, 5])),
      IndexError, r"Target 5 is out of bounds.*\[0, 2\]"),
    C("cross_entropy-batch", lambda T: F(T).cross_entropy(T.ones(2, 3), T.tensor([0, 1, 2])),
      ValueError, r"input batch_size \(2\) to match target batch_size \(3\)"),
    C("cross_entropy-weight-shape", lambda T: F(T).cross_entropy(
        T.ones(2, 3), T.tensor([0, 1]), weight=T.ones(4)),
      RuntimeError, r"defined either for all 3 classes .*weight tensor of shape: \[4\]"),
    C("cross_entropy-probabilities-shape", lambda T: F(T).cross_entropy(T.ones(2, 3),
                                                                        T.ones(2, 4)),
      RuntimeError, r"probability target must have the input's shape \[2, 3\], got \[2, 4\]"),
    C("mean-of-int", lambda T: T.ones(2, dtype=T.int64).mean(), RuntimeError,
      r"Input dtype must be either a floating point .* Got: Long"),
    C("binary_cross_entropy-not-probability", lambda T: F(T).binary_cross_entropy(
        T.tensor([0.5, 1.5]), T.tensor([1.0, 0.0])),
      RuntimeError, r"between 0 and 1 .*got values in \[0\.5, 1\.5\]"),
    C("loss-reduction", lambda T: F(T).mse_loss(T.ones(2), T.ones(2), reduction="avg"),
      ValueError, r"avg is not a valid value for reduction \(expected one of mean, sum, none\)"),

    # ---- devices (need a GPU) ----------------------------------------------------------------
    C("add-cpu-cuda", lambda T: T.ones(3) + _cuda(T, T.ones(3)), RuntimeError,
      r"same device, but found at least two devices, (cpu and cuda:0|cuda:0 and cpu)",
      cuda=True),
    C("matmul-cpu-cuda", lambda T: T.ones(2, 3) @ _cuda(T, T.ones(3, 2)), RuntimeError,
      r"same device.*(cpu and cuda:0|cuda:0 and cpu)", cuda=True),
    C("conv2d-cpu-input-cuda-weight", lambda T: F(T).conv2d(T.ones(1, 1, 4, 4),
                                                             _cuda(T, T.ones(1, 1, 3, 3))),
      RuntimeError, r"same device.*(cpu and cuda:0|cuda:0 and cpu)", cuda=True),

    # ---- autograd ----------------------------------------------------------------------------
    C("backward-non-scalar", lambda T: (T.ones(3, requires_grad=True) * 2).backward(),
      RuntimeError, r"only for scalar outputs \(this tensor has shape \(3,\)"),
    C("backward-gradient-shape", lambda T: (T.ones(3, requires_grad=True) * 2).backward(
        T.ones(4)), RuntimeError, r"grad_output\[0\] has a shape of minigrad\.Size\(\[4\]\) and "
      r"output\[0\] has a shape of minigrad\.Size\(\[3\]\)"),
    C("backward-twice", _backward_twice, RuntimeError,
      r"backward through the graph a second time .*retain_graph=True"),
    C("inplace-on-saved-input", _saved_input_modified, RuntimeError,
      r"modified by an inplace operation: \[torch\.FloatTensor \[3\]\], which is output 0 "
      r"of Mul, is at version 1; expected version 0"),
    C("inplace-on-saved-output", _saved_output_overwritten, RuntimeError,
      r"modified by an inplace operation.*output 0 of Tanh, is at version 1; expected "
      r"version 0"),
    C("inplace-on-leaf", _leaf_in_place, RuntimeError,
      r"a leaf Variable that requires grad is being used in an in-place operation"),
    C("backward-without-grad", lambda T: T.ones(3).sum().backward(), RuntimeError,
      r"does not require grad and does not have a grad_fn"),
    C("grad-of-wrong-shape", _grad_of_wrong_shape, RuntimeError,
      r"gradient of size '\[4\]' to a tensor of size '\[3\]'"),
    C("numpy-of-requires-grad", lambda T: T.ones(3, requires_grad=True).numpy(), RuntimeError,
      r"Can't call numpy\(\) on Tensor that requires grad"),

    # ---- modules and optimizers --------------------------------------------------------------
    C("load_state_dict-missing", _load_missing, RuntimeError,
      r'Missing key\(s\) in state_dict: "bias"'),
    C("load_state_dict-extra", _load_extra, RuntimeError,
      r'Unexpected key\(s\) in state_dict: "running_mean"'),
    C("load_state_dict-shape", _load_wrong_shape, RuntimeError,
      r"size mismatch for weight: copying a param with shape minigrad\.Size\(\[3, 3\]\) from "
      r"checkpoint, the shape in current model is minigrad\.Size\(\[2, 3\]\)"),
    C("load_state_dict-shape-not-strict", _load_wrong_shape_not_strict, RuntimeError,
      r"size mismatch for weight.*\[3, 3\].*\[2, 3\]"),
    C("load_state_dict-list", lambda T: T.nn.Linear(3, 2).load_state_dict([1, 2]), TypeError,
      r"Expected state_dict to be dict-like, got <class 'list'>"),
    C("SGD-no-parameters", lambda T: T.optim.SGD([], lr=0.1), ValueError,
      r"optimizer got an empty parameter list"),
    C("SGD-module-without-parameters", lambda T: T.optim.SGD(T.nn.ReLU().parameters(), lr=0.1),
      ValueError, r"optimizer got an empty parameter list"),
    C("SGD-negative-lr", lambda T: T.optim.SGD(T.nn.Linear(2, 2).parameters(), lr=-0.1),
      ValueError, r"Invalid learning rate: -0\.1"),
    C("Adam-negative-lr", lambda T: T.optim.Adam(T.nn.Linear(2, 2).parameters(), lr=-1e-3),
      ValueError, r"Invalid learning rate: -0\.001"),
    C("Adam-beta", lambda T: T.optim.Adam(T.nn.Linear(2, 2).parameters(), betas=(1.5, 0.9)),
      ValueError, r"Invalid beta parameter at index 0: 1\.5"),
    C("SGD-non-leaf", lambda T: T.optim.SGD([T.ones(3, requires_grad=True) * 2], lr=0.1),
      ValueError, r"can't optimize a non-leaf Tensor"),

    # ---- indexing ----------------------------------------------------------------------------
    C("index-out-of-range", lambda T: T.ones(3)[5], IndexError,
      r"index 5 is out of bounds for dimension 0 with size 3"),
    C("index-out-of-range-2d", lambda T: T.ones(3, 4)[1, 7], IndexError,
      r"index 7 is out of bounds for dimension 1 with size 4"),
    C("index-negative-out-of-range", lambda T: T.ones(3)[-4], IndexError,
      r"index -4 is out of bounds for dimension 0 with size 3"),
    C("index-tensor-out-of-range", lambda T: T.ones(3)[T.tensor([0, 3])], IndexError,
      r"index 3 is out of bounds for dimension 0 with size 3"),
    C("index-too-many", lambda T: T.ones(3)[0, 0], IndexError,
      r"too many indices for tensor of dimension 1"),
    C("index-0d", lambda T: T.tensor(1.0)[0], IndexError, r"invalid index of a 0-dim tensor"),
    C("index-float-tensor", lambda T: T.ones(3)[T.tensor([0.0])], IndexError,
      r"tensors used as indices must be long, int, byte or bool tensors"),
    C("index-mask-shape", lambda T: T.ones(3)[T.tensor([True, False])], IndexError,
      r"shape of the mask \[2\] at index 0 does not match the shape of the indexed tensor "
      r"\[3\] at index 0"),
    C("setitem-out-of-range", lambda T: T.ones(3).__setitem__(5, 1.0), IndexError,
      r"index 5 is out of bounds for dimension 0 with size 3"),
    C("setitem-shape", lambda T: T.ones(3, 4).__setitem__(0, T.ones(5)), RuntimeError,
      r"tensor of shape \[5\] .*shape \[3, 4\].*does not broadcast to the indexed shape \[4\]"),
    C("copy_-shape", lambda T: T.ones(3).copy_(T.ones(4)), RuntimeError,
      r"shape \[4\] .*tensor of shape \[3\]"),

    # ---- shapes: reshape / view / cat / stack / dims -----------------------------------------
    C("reshape-size", lambda T: T.ones(2, 3).reshape(4, 2), RuntimeError,
      r"shape '\[4, 2\]' is invalid for input of size 6"),
    C("reshape-inferred", lambda T: T.ones(2, 3).reshape(-1, 4), RuntimeError,
      r"shape '\[-1, 4\]' is invalid for input of size 6"),
    C("reshape-two-inferred", lambda T: T.ones(2, 3).reshape(-1, -1), RuntimeError,
      r"only one dimension can be inferred"),
    C("view-size", lambda T: T.ones(6).view(4, 2), RuntimeError,
      r"shape '\[4, 2\]' is invalid for input of size 6"),
    C("view-non-contiguous", lambda T: T.ones(2, 3).t().view(6), RuntimeError,
      r"view size is not compatible with input tensor's size and stride .*Use \.reshape.*"
      r"\(input shape \[3, 2\], asked for \[6\]\)"),
    C("cat-sizes", lambda T: T.cat([T.ones(2, 3), T.ones(2, 4)]), RuntimeError,
      r"Sizes of tensors must match except in dimension 0\. Expected size 3 but got size 4 for "
      r"tensor number 1"),
    C("cat-ranks", lambda T: T.cat([T.ones(2, 3), T.ones(2)]), RuntimeError,
      r"same number of dimensions: got 2 and 1"),
    C("cat-dim", lambda T: T.cat([T.ones(2, 3), T.ones(2, 3)], dim=2), IndexError,
      r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    C("cat-a-tensor", lambda T: T.cat(T.ones(2, 2)), TypeError,
      r"argument 'tensors' \(position 1\) must be tuple of Tensors, not Tensor"),
    C("cat-nothing", lambda T: T.cat([]), ValueError, r"expected a non-empty list of Tensors"),
    C("stack-nothing", lambda T: T.stack([]), RuntimeError, r"expects a non-empty TensorList"),
    C("stack-shapes", lambda T: T.stack([T.ones(2, 3), T.ones(3, 2)]), RuntimeError,
      r"equal size, but got \[2, 3\] at entry 0 and \[3, 2\] at entry 1"),
    C("stack-non-tensor", lambda T: T.stack([T.ones(2), [1, 2]]), TypeError,
      r"expected Tensor as element 1 in argument 0, but got list"),
    C("softmax-dim", lambda T: T.softmax(T.ones(2, 3), dim=2), IndexError,
      r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    C("log_softmax-dim", lambda T: F(T).log_softmax(T.ones(2, 3), dim=-3), IndexError,
      r"range of \[-2, 1\], but got -3"),
    C("softmax-0d-dim", lambda T: T.softmax(T.tensor(1.0), dim=1), IndexError,
      r"range of \[-1, 0\], but got 1"),
    C("sum-dim", lambda T: T.ones(2, 3).sum(dim=3), IndexError, r"range of \[-2, 1\], but got 3"),
    C("transpose-dim", lambda T: T.ones(2, 3).transpose(0, 2), IndexError,
      r"range of \[-2, 1\], but got 2"),
    C("transpose-0d-dim", lambda T: T.tensor(1.0).transpose(0, 3), IndexError,
      r"range of \[-1, 0\], but got 3"),
    C("permute-length", lambda T: T.ones(2, 3).permute(1, 0, 2), RuntimeError,
      r"input\.dim\(\) = 2 is not equal to len\(dims\) = 3"),
    C("permute-duplicate", lambda T: T.ones(2, 3).permute(1, 1), RuntimeError,
      r"duplicate dims are not allowed"),
    C("expand-size", lambda T: T.ones(2, 3).expand(4, 4), RuntimeError,
      r"expanded size of the tensor \(4\) must match the existing size \(3\) at "
      r"non-singleton dimension 1.*Target sizes: "
      r"\[4, 4\]\.  Tensor sizes: \[2, 3\]"),
    C("expand-negative", lambda T: T.ones(3).expand(-2, 3), RuntimeError,
      r"expanded size of the tensor \(-2\) isn't allowed"),
    C("unsqueeze-dim", lambda T: T.ones(2, 3).unsqueeze(4), IndexError,
      r"range of \[-3, 2\], but got 4"),
    C("flatten-order", lambda T: T.ones(2, 3, 4).flatten(2, 1), RuntimeError,
      r"start_dim cannot come after end_dim \(start_dim=2, end_dim=1\)"),
    C("split-sizes", lambda T: T.ones(5).split([2, 2]), RuntimeError,
      r"split_sizes to sum exactly to 5 .*split_sizes=\[2, 2\]"),
    C("chunk-0", lambda T: T.ones(5).chunk(0), RuntimeError,
      r"`chunks` to be greater than 0, got: 0"),
    C("repeat-too-few", lambda T: T.ones(2, 3).repeat(2), RuntimeError,
      r"repeat dims can not be smaller than number of dimensions.*repeats \[2\], tensor shape "
      r"\[2, 3\]"),
    C("repeat-negative", lambda T: T.ones(3).repeat(-1), RuntimeError,
      r"repeats can not be negative \(got repeats \[-1\]"),
    C("pad-odd-length", lambda T: F(T).pad(T.ones(3), (1,)), RuntimeError,
      r"Padding length must be divisible by 2.* got 1"),

    # ---- conversions and creation ------------------------------------------------------------
    C("item-of-many", lambda T: T.ones(3).item(), RuntimeError,
      r"a Tensor with 3 elements cannot be converted to Scalar"),
    C("bool-of-many", lambda T: bool(T.ones(3)), RuntimeError,
      r"Boolean value of Tensor with more than one value is ambiguous \(it has 3 elements"),
    C("tensor-ragged", lambda T: T.tensor([[1, 2], [3]]), ValueError,
      r"expected sequence of length 2 at dim 1 \(got 1\)"),
    C("arange-direction", lambda T: T.arange(5, 0, 1), RuntimeError,
      r"inconsistent with step sign \(arange\(start=5, end=0, step=1\)\)"),
    C("zeros-negative", lambda T: T.zeros(2, -3), RuntimeError,
      r"negative dimension -3: \[2, -3\]"),
    C("randint-range", lambda T: T.randint(5, 2, (3,)), RuntimeError,
      r"'from' to be less than 'to', but got from=5 >= to=2"),
    C("eye-negative", lambda T: T.eye(-1), RuntimeError,
      r"n must be greater or equal to 0, got -1"),
    C("full-str", lambda T: T.full((2,), "a"), TypeError,
      r"argument 'fill_value' \(position 2\) must be Number, not str"),
    C("tensor-int64-overflow", lambda T: T.tensor([1, 2 ** 63]), ValueError,
      r"Overflow when unpacking long long: 9223372036854775808 does not fit in int64"),
    C("full-int32-overflow", lambda T: T.full((2,), 2 ** 40, dtype=T.int32), RuntimeError,
      r"cannot be converted to type int without overflow"),
    C("floordiv-int-by-zero", lambda T: T.tensor([3, 4]) // T.tensor([1, 0]), RuntimeError,
      r"ZeroDivisionError"),
    C("div-trunc-int-by-zero", lambda T: T.div(T.tensor([3]), 0, rounding_mode="trunc"),
      RuntimeError, r"ZeroDivisionError: integer division by zero"),
    C("view-dtype-size", lambda T: T.ones(3).view(T.float64), RuntimeError,
      r"self\.size\(-1\) must be divisible by 2 to view Float as Double .*but got 3"),
    C("view-dtype-stride", lambda T: T.ones(2, 4).t().view(T.float64), RuntimeError,
      r"self\.stride\(-1\) must be 1 to view Float as Double .*but got 4"),
    C("max-of-empty", lambda T: T.ones(0).max(), RuntimeError,
      r"max\(\): Expected reduction dim to be specified for input\.numel\(\) == 0\. .*\(input "
      r"shape \[0\]\)"),
    C("argmin-of-empty", lambda T: T.ones(0).argmin(), IndexError,
      r"argmin\(\): Expected reduction dim to be specified .*input shape \[0\]"),
    C("dropout-p", lambda T: F(T).dropout(T.ones(3), p=1.5), ValueError,
      r"dropout probability has to be between 0 and 1, but got 1\.5"),
    C("one_hot-range", lambda T: F(T).one_hot(T.tensor([0, 5]), 3), RuntimeError,
      r"Class values must be smaller than num_classes"),
]


def _params():
    out = []
    for case in CASES:
        marks = [pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU and cupy")] \
            if case.cuda else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def test_catalogue_is_large_and_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert len(CASES) >= 60


def _chain(exc):
    """The exception and every exception Python would print with it."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ if exc.__cause__ is not None else \
            (None if exc.__suppress_context__ else exc.__context__)
    return seen


@pytest.mark.parametrize("case", _params())
def test_bad_input_raises_a_clear_error(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            case.call(minigrad)
    err = info.value
    # exactly the type PyTorch would raise, a builtin (numpy's AxisError is an IndexError too)
    assert type(err) is case.exc, f"{type(err).__module__}.{type(err).__name__}: {err}"
    assert type(err).__module__ == "builtins"
    message = str(err)
    assert re.search(case.pattern, message, re.S), f"{case.pattern!r} not in {message!r}"
    for link in _chain(err):
        assert isinstance(link, CLEAR_TYPES), repr(link)
        assert not type(link).__module__.startswith("numpy"), repr(link)
        for phrase in NUMPY_PHRASES:
            assert not re.search(phrase, str(link)), f"numpy wording {phrase!r} in {link!r}"


@pytest.mark.parametrize("case", [c for c in _params() if not c.values[0].torch_ok])
def test_pytorch_refuses_the_same_input(case):
    """Every row is a real mistake: PyTorch raises on it too."""
    if case.cuda and not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(CLEAR_TYPES):
            case.call(torch)


def test_numpy_operands_get_the_same_clear_broadcast_error():
    # PyTorch's operators leave a numpy array to numpy: the broadcast error is numpy's
    for lib in (torch, minigrad):
        with pytest.raises(ValueError, match=r"could not be broadcast together with shapes "
                                             r"\(3,\) \(4,\)"):
            lib.ones(3) + np.ones(4, dtype=np.float32)


def test_failed_load_state_dict_leaves_the_model_untouched():
    model = minigrad.nn.Linear(3, 2)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    bad = {"weight": minigrad.zeros(2, 3), "bias": minigrad.zeros(5)}   # bias has the wrong shape
    with pytest.raises(RuntimeError, match=r"size mismatch for bias"):
        model.load_state_dict(bad)
    for key, value in model.state_dict().items():
        assert minigrad.equal(value, before[key]), key
