"""Activation layers: ``ReLU``, ``LeakyReLU``, ``Sigmoid``, ``Tanh``, ``Softmax``,
``LogSoftmax``, ``ReLU6``, ``Hardtanh``, ``SiLU``, ``Softplus``, and (below) ``GELU``, ``ELU``,
``CELU``, ``SELU``, ``Hardswish``, ``Hardsigmoid``, ``Mish``, ``Softsign``, ``LogSigmoid``,
``PReLU``, ``Softmin``, ``Softmax2d`` and the shrink functions.

Each is a one-line ``forward`` calling ``minigrad.nn.functional``; its repr shows the same
arguments as PyTorch's (``LeakyReLU(negative_slope=0.2)``).
"""
from __future__ import annotations

import numbers

from ..._warn_once import warn_user
from ... import creation
from .. import functional as F
from ..parameter import Parameter
from ._method_names import own_forward
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "ReLU6",
           "Hardtanh", "SiLU", "Softplus", "GELU", "ELU", "CELU", "SELU", "Hardswish",
           "Hardsigmoid", "Mish", "Softsign", "LogSigmoid", "Tanhshrink", "Hardshrink",
           "Softshrink", "PReLU", "Softmin", "Softmax2d", "GLU", "Threshold", "RReLU"]


def _activate(fn, input, inplace, *args, **kwargs):
    """``fn(input, *args, **kwargs)``, or its in-place form: the functional's own, which
    records what PyTorch's records (``elu_`` keeps its output, so a later write into it makes
    the backward refuse; node ``EluBackward1``)."""
    if inplace:
        return fn(input, *args, inplace=True, **kwargs)
    return fn(input, *args, **kwargs)


class ReLU(Module):
    """max(0, x), elementwise."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return input.relu_() if self.inplace else F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


def _check_arg_type(fn, name, position, value, default):
    """torch's argument parser's TypeError for a scalar argument of the wrong kind (a str or
    None where a number belongs, a non-str where a str belongs), raised before any math."""
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError(f"{fn}(): argument '{name}' must be str, not {type(value).__name__}")
    elif isinstance(default, numbers.Number) and not isinstance(value, numbers.Number):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Number, not "
                        f"{type(value).__name__}")


class LeakyReLU(Module):
    """x if x >= 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        _check_arg_type("leaky_relu", "negative_slope", 2, self.negative_slope, 0.01)
        return _activate(F.leaky_relu, input, self.inplace, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, input):
        return F.tanh(input)


class Hardtanh(Module):
    """x clamped to [min_val, max_val]."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None,
                 max_value=None):
        super().__init__()
        # the old spellings still work, with PyTorch's deprecation warning
        if min_value is not None:
            warn_user("keyword argument `min_value` is deprecated and renamed to `min_val`",
                      FutureWarning)
            min_val = min_value
        if max_value is not None:
            warn_user("keyword argument `max_value` is deprecated and renamed to `max_val`",
                      FutureWarning)
            max_val = max_value
        if max_val <= min_val:
            raise AssertionError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return _activate(F.hardtanh, input, self.inplace, self.min_val, self.max_val)

    def extra_repr(self):
        return (f"min_val={self.min_val}, max_val={self.max_val}" +
                (", inplace=True" if self.inplace else ""))


class ReLU6(Hardtanh):
    """min(max(0, x), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class SiLU(Module):
    """x * sigmoid(x) (also called swish)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return _activate(F.silu, input, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


def _legacy_softmax_dim(name, ndim):
    warn_user(f"Implicit dimension choice for {name} has been deprecated. Change the call "
              "to include dim=X as an argument.")
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (the values along dim sum to 1)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("softmax", input.dim())
        return F.softmax(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably: x - logsumexp(x)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("log_softmax",
                                                                        input.dim())
        return F.log_softmax(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


# ----------------------------------------------------------------------------------------------
# More activations: one-line forwards over minigrad/ops/activation.py
# ----------------------------------------------------------------------------------------------
class _Simple(Module):
    """An activation with keyword hyper-parameters ``_params`` stored as attributes."""
    _fn = None
    _params = ()
    _takes_inplace = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own_forward(cls)          # Python's words for a bad call name the layer

    def __init__(self, *args, **kwargs):
        super().__init__()
        names = self._params + (("inplace",) if self._takes_inplace else ())
        # Python's own refusals of a bad call, as PyTorch's explicit signatures get them
        owner = next(c for c in type(self).__mro__ if "_params" in vars(c) or c is _Simple)
        if len(args) > len(names):
            raise TypeError(f"{owner.__name__}.__init__() takes from 1 to {len(names) + 1} "
                            f"positional arguments but {len(args) + 1} were given")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{owner.__name__}.__init__() got an unexpected keyword "
                                f"argument '{key}'")
            if key in values:
                raise TypeError(f"{owner.__name__}.__init__() got multiple values for argument "
                                f"'{key}'")
            values[key] = value
        for name in self._params:
            setattr(self, name, values.get(name, self._defaults[name]))
        if self._takes_inplace:             # (GELU has none: its class attribute reads False)
            self.inplace = values.get("inplace", False)

    def forward(self, input):
        # F's function as it is now: under a TorchFunctionMode (or with a subclass about)
        # that is its dispatching twin, so the handler sees F.gelu, as PyTorch's does
        fn = getattr(F, type(self)._fn.__name__)
        values = {n: getattr(self, n) for n in self._params}
        for i, n in enumerate(self._params):
            _check_arg_type(getattr(fn, "__name__", type(self).__name__.lower()), n, i + 2,
                            values[n], self._defaults.get(n))
        return _activate(fn, input, self.inplace, **values)

    def extra_repr(self):
        parts = [f"{n}={getattr(self, n)}" for n in self._params]   # str(), as PyTorch's
        return ", ".join(parts + (["inplace=True"] if self.inplace else []))


class GELU(_Simple):
    """x * Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""
    _fn, _params, _defaults = F.gelu, ("approximate",), {"approximate": "none"}
    _takes_inplace = False                  # PyTorch's GELU has no in-place form
    inplace = False     # (a class attribute: a GELU pickled by PyTorch has none of its own)

    def __init__(self, approximate="none"):   # explicit signatures, as inspect reads them
        super().__init__(approximate=approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class ELU(_Simple):
    """x for x > 0, alpha (e^x - 1) otherwise."""
    _fn, _params, _defaults = F.elu, ("alpha",), {"alpha": 1.0}

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(alpha=alpha, inplace=inplace)


class CELU(_Simple):
    """x for x > 0, alpha (e^(x/alpha) - 1) otherwise."""
    _fn, _params, _defaults = F.celu, ("alpha",), {"alpha": 1.0}

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(alpha=alpha, inplace=inplace)


class SELU(_Simple):
    """1.0507 * elu(x, 1.6733): self-normalising."""
    _fn, _params, _defaults = F.selu, (), {}

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)


class Hardswish(_Simple):
    """x * relu6(x + 3) / 6."""
    _fn, _params, _defaults = F.hardswish, (), {}

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)

    def extra_repr(self):
        return ""                           # PyTorch prints no inplace=True for this one


class Hardsigmoid(_Simple):
    """relu6(x + 3) / 6."""
    _fn, _params, _defaults = F.hardsigmoid, (), {}

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)

    def extra_repr(self):
        return ""                           # PyTorch prints no inplace=True for this one


class Mish(_Simple):
    """x * tanh(softplus(x))."""
    _fn, _params, _defaults = F.mish, (), {}

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input):
        return F.softsign(input)


class LogSigmoid(Module):
    """log(sigmoid(x)), stable."""

    def forward(self, input):
        return F.logsigmoid(input)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, input):
        return F.tanhshrink(input)


class Hardshrink(Module):
    """x where |x| > lambd, else 0."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class PReLU(Module):
    """x for x > 0, a * x otherwise, with a learned slope ``a`` (one, or one per channel),
    initialised to ``init`` (0.25)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(creation.empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        self.weight.data.fill_(self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmin(Module):
    """softmax(-x) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("softmin", input.dim())
        return F.softmin(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax2d(Module):
    """softmax over the channels of (N, C, H, W) or (C, H, W) at every pixel."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D "
                             "instead")
        return F.softmax(input, -3)


class GLU(Module):
    """Gated linear unit: halves a, b of the input along ``dim``, output a * sigmoid(b)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Threshold(Module):
    """x where x > threshold, else ``value``."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + (
            ", inplace=True" if self.inplace else "")


class RReLU(Module):
    """Randomised leaky ReLU: negative slope ~ U(lower, upper) per element in training,
    (lower + upper) / 2 in eval mode."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (
            ", inplace=True" if self.inplace else "")

# PyTorch's ``torch.nn.modules.activation`` also holds the attention layer
from .attention import MultiheadAttention  # noqa: F401,E402
from .linear import NonDynamicallyQuantizableLinear  # noqa: F401,E402
