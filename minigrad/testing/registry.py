"""The op registry: every differentiable op, its PyTorch counterpart and inputs to test it on.

One ``OpInfo`` per op: a name, the minigrad callable, the torch callable and a generator of
``Sample``s (numpy float64 arrays plus keyword arguments) that cover shapes, hyper-parameters
and edge cases (0-d, empty dims, broadcasting, negative dims, ties...).  Three clients read it:

* ``tests/test_registry_ops.py`` checks every sample: forward against torch, gradients against
  torch, gradients against finite differences;
* ``python -m minigrad.gradcheck`` does the same from the command line (on the GPU too);
* benchmarks use ``samples(name)`` for a correctness pre-check before timing.

    from minigrad.testing import registry
    info = registry.get("conv2d")
    for s in registry.samples("conv2d", dtype=np.float32):
        out = info.fn(*s.tensors(), **s.kwargs)

Ops are written once as ``f(lib, *inputs, **kwargs)`` where ``lib`` is ``minigrad`` or
``torch``: minigrad follows PyTorch's API, so the same line calls each framework's own code.
Where the two APIs differ an entry gives a separate torch function.  ``Sample``, ``OpInfo``,
``Gen`` and ``register`` are defined in ``opinfo.py``; the entries themselves live in
``registry_core.py`` (arithmetic, unary math, activations), ``registry_reduce_move.py``
(reductions, movement, indexing), ``registry_nn.py`` (linear,
losses, dropout, convolution, pooling, batch norm), ``registry_extra.py`` and the others
(``registry_more.py``: stacks, tensor_split, fmod, masked_scatter), which register
their ops when this module imports them; the ``nn``
entries resolve their functions at call time, so this module imports even while some of
those functions are not written yet (the entry is then skipped, with the reason).
"""
from __future__ import annotations

import difflib

import numpy as np

# importing the entry modules registers their ops, in this order
from . import registry_core, registry_reduce_move, registry_nn  # noqa: F401
from . import registry_nn_pool_norm, registry_extra  # noqa: F401
from . import registry_extra_shapes  # noqa: F401
from . import registry_extra_nn  # noqa: F401
from . import registry_selection, registry_losses, registry_more  # noqa: F401
from . import registry_round4, registry_nn_round4  # noqa: F401
from . import registry_special, registry_linalg, registry_round5, registry_nn_round5  # noqa: F401
from . import registry_round7_tensor  # noqa: F401
from . import registry_special_round7  # noqa: F401
from . import registry_nn_round7  # noqa: F401
from . import registry_linalg_round7  # noqa: F401
from . import registry_round7_inplace  # noqa: F401
from . import registry_round7_namespace  # noqa: F401
from . import registry_foreach  # noqa: F401
from . import registry_fft  # noqa: F401
from . import registry_complex  # noqa: F401
from . import registry_complex_linalg  # noqa: F401
from . import registry_complex_reduce  # noqa: F401
from . import registry_torch_namespace  # noqa: F401
from . import registry_attention_flex  # noqa: F401
from . import registry_round41  # noqa: F401
from .opinfo import _REGISTRY, Gen, OpInfo, Sample, register

__all__ = ["Sample", "OpInfo", "register", "get", "names", "entries", "samples", "Gen"]


def get(name) -> OpInfo:
    """The entry named ``name``; KeyError listing close names when there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no op named {name!r} in the registry.{hint} "
                       f"(python -m minigrad.gradcheck --list shows them all)") from None


def names():
    """Every registered op name, in registration order."""
    return list(_REGISTRY)


def entries():
    return list(_REGISTRY.values())


def samples(name, dtype=np.float64, seed=0):
    """The samples of op ``name`` (a list), floating arrays cast to ``dtype``."""
    return list(get(name).samples(dtype=dtype, seed=seed))
