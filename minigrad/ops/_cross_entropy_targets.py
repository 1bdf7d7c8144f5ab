"""The class losses' checks of a class-index target against the scores (``cross_entropy``,
``nll_loss``): PyTorch's errors, in its order and words. Split out of ``loss.py``."""
from __future__ import annotations

__all__ = ["check_class_target_shape"]


def check_class_target_shape(input, target, name):
    """PyTorch's checks of a class-index target against scores (N, C, d1, ...) or (C,), in
    its order and words: the batch size, then the target's rank, then its size."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim == 1:
        if target.ndim > 1:
            raise RuntimeError(multi_target_message(input, target, name))
        if target.ndim == 1 and target.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target "
                             f"size: {target.shape[0]}")
        return
    n = input.shape[0]
    if (target.shape[0] if target.ndim else 0) != n:
        raise ValueError(f"Expected input batch_size ({n}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    if input.ndim == 2:
        if target.ndim != 1:
            raise RuntimeError(multi_target_message(input, target, name))
        return
    expected = [n] + list(input.shape[2:])
    if input.ndim == 4:
        if target.ndim != 3:
            raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got "
                               f"targets of dimension: {target.ndim}")
        if list(target.shape) != expected:
            raise RuntimeError(f"size mismatch (got input: {list(input.shape)} , target: "
                               f"{list(target.shape)}); expected a target of size {expected}")
    elif list(target.shape) != expected:
        raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")


def multi_target_message(input, target, name):
    """PyTorch's words for a target of too many dims, with the shapes expected and given
    (built only when raised: the formatting costs more than the whole check)."""
    multi = (f"0D or 1D target tensor expected, multi-target not supported ({name}: a "
             f"target of class indices for input of shape {list(input.shape)} has shape "
             f"{list(input.shape[:1]) if input.ndim == 2 else []}, got {list(target.shape)}")
    if target._array.dtype.kind in "fV" and name == "cross_entropy":
        multi += (f"; a probability target must have the input's shape "
                  f"{list(input.shape)}, got {list(target.shape)}")
    return multi + ")"
