"""``minigrad.special``: PyTorch's ``torch.special`` (``import minigrad.special`` and
``from minigrad.special import erf`` work as they do for torch). The functions are written in
``ops/special.py`` and the modules it draws on, each forward beside its backward."""
from .ops.special import *  # noqa: F401,F403
from .ops.special import __all__  # noqa: F401
from ._tensor_methods import _torch_args

# out= as torch.special takes it (softmax and log_softmax take none)
for _name in __all__:
    if _name not in ("softmax", "log_softmax"):
        globals()[_name] = _torch_args(globals()[_name])
del _name
