"""``minigrad.random``: the default generator's seeding and state, as ``torch.random``.

    with minigrad.random.fork_rng():
        noise = minigrad.randn(3)        # draws here ...
    x = minigrad.randn(3)                # ... do not change what is drawn here
"""
from __future__ import annotations

import contextlib

from ._random_factories import (  # noqa: F401
    manual_seed, seed, initial_seed, get_rng_state, set_rng_state, default_generator)

__all__ = ["set_rng_state", "get_rng_state", "manual_seed", "seed", "initial_seed", "fork_rng"]


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type=None):
    """Run the block with the default generator's state saved and restored afterwards (also
    when the block raises), so random draws inside it leave the outer sequence unchanged.
    ``enabled=False`` makes it a no-op.  minigrad has one generator (the CPU's; CUDA tensors
    draw from it too), so ``devices`` and ``device_type`` are accepted and have nothing more
    to fork."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
