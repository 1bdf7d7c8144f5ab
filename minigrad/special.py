"""``minigrad.special``: PyTorch's ``torch.special`` (``import minigrad.special`` and
``from minigrad.special import erf`` work as they do for torch). The functions are written in
``ops/special.py`` and the modules it draws on, each forward beside its backward."""
from .ops.special import *  # noqa: F401,F403
from .ops.special import __all__  # noqa: F401
