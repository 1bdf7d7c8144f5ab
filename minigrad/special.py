"""``minigrad.special``: PyTorch's ``torch.special`` (``import minigrad.special`` and
``from minigrad.special import erf`` work as they do for torch). The functions are written in
``ops/special.py`` and the modules it draws on, each forward beside its backward."""
import functools

from .ops.special import *  # noqa: F401,F403
from .ops.special import __all__  # noqa: F401
from ._tensor_methods import _torch_args
from .tensor import Tensor

# the functions whose first argument must be a tensor (PyTorch's parser refuses a number)
_TENSOR_INPUT = ("expit", "logit", "entr", "erf", "ndtr", "expm1", "exp2", "log1p", "sinc",
                 "round", "logsumexp", "softmax", "log_softmax", "gammaln", "digamma", "psi",
                 "multigammaln", "gammainc", "gammaincc", "erfc", "erfcx", "erfinv", "log_ndtr",
                 "ndtri", "i0", "i0e", "i1", "i1e")
# ... and whose second argument must be one too
_TENSOR_OTHER = ("gammainc", "gammaincc")


def _tensor_input(fn, name):
    """fn, refusing a first argument (``input``) that is not a tensor with PyTorch's words."""
    @functools.wraps(fn)
    def checked(*args, **kwargs):
        given = args[0] if args else kwargs.get("input", None)
        if (args or "input" in kwargs) and not isinstance(given, Tensor):
            raise TypeError(f"special_{name}(): argument 'input' (position 1) must be Tensor, "
                            f"not {type(given).__name__}")
        if name in _TENSOR_OTHER:            # (a number for ``other`` is refused too)
            other, where = (args[1], " (position 2)") if len(args) > 1 else \
                (kwargs.get("other"), "")
            if (len(args) > 1 or "other" in kwargs) and not isinstance(other, Tensor):
                raise TypeError(f"special_{name}(): argument 'other'{where} must be Tensor, "
                                f"not {type(other).__name__}")
        return fn(*args, **kwargs)
    return checked


# out= as torch.special takes it (softmax and log_softmax take none)
for _name in __all__:
    if _name not in ("softmax", "log_softmax"):
        globals()[_name] = _torch_args(globals()[_name])
    if _name in _TENSOR_INPUT:
        globals()[_name] = _tensor_input(globals()[_name], _name)
del _name
