"""``minigrad.utils``: ``data`` (Dataset, DataLoader, random_split)."""
from . import data  # noqa: F401
from . import checkpoint, hooks  # noqa: F401
