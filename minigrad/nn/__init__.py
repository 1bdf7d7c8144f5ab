"""``minigrad.nn``: layers (Module, Conv2d, Linear, ...), ``functional`` and ``init``."""
from . import functional  # noqa: F401
from . import init  # noqa: F401
from . import utils  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .parameter import Buffer, UninitializedBuffer, UninitializedParameter  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .modules.module import RemovableHandle  # noqa: F401

__all__ = ["functional", "init", "utils", "Parameter"] + list(_modules_all)
from . import common_types, grad, parallel  # noqa: F401,E402
from . import attention  # noqa: F401,E402  (sdpa_kernel, SDPBackend)
from ._functional_linear_ce import LinearCrossEntropyOptions  # noqa: F401,E402
__all__ += ["Buffer", "UninitializedParameter", "UninitializedBuffer", "common_types", "grad",
            "parallel", "attention"]
from ._factory_kwargs import factory_kwargs  # noqa: F401,E402
