"""The device errors PyTorch names at its top level (``torch.OutOfMemoryError``, also
``torch.cuda.OutOfMemoryError``, and ``torch.AcceleratorError``).

Both are ``RuntimeError`` subclasses, so ``except RuntimeError`` still catches them; training
loops that retry a smaller batch name them in ``except`` clauses.
"""
__all__ = ["OutOfMemoryError", "AcceleratorError"]


class OutOfMemoryError(RuntimeError):
    """A device ran out of memory for an allocation."""


class AcceleratorError(RuntimeError):
    """An accelerator reported an error while running a kernel."""
