"""Helpers behind the DataLoader, at PyTorch's import paths (``_utils.collate``,
``_utils.worker``)."""
from . import collate, worker  # noqa: F401
