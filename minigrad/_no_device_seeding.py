"""The seeding functions of a device module whose device minigrad does not have (``xpu``,
``mtia``): no-ops, as a PyTorch build without the device answers them, so that code seeding
every backend it finds runs."""
from __future__ import annotations

__all__ = ["manual_seed", "manual_seed_all", "seed", "seed_all"]


def manual_seed(seed):
    """Nothing to seed without the device."""


def manual_seed_all(seed):
    """Nothing to seed without the device."""


def seed():
    """Nothing to seed without the device."""


def seed_all():
    """Nothing to seed without the device."""
