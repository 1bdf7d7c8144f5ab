"""``parameters_to_vector`` / ``vector_to_parameters``: all parameters as one flat vector
(for second-order methods, line searches, evolution strategies) and back."""
from __future__ import annotations

from ...ops.stacking import cat
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_device(param, device):
    if device is None:
        return param.device
    if param.device != device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return device


def parameters_to_vector(parameters):
    """Every parameter flattened and concatenated in order (differentiable). A single tensor
    is iterated like any iterable, row by row, as PyTorch does; each entry is flattened by
    ``view(-1)``, so a non-contiguous one is refused with view's error."""
    device, flat = None, []
    for p in parameters:
        device = _check_device(p, device)
        flat.append(p.view(-1))
    return cat(flat)


def vector_to_parameters(vec, parameters):
    """Point each parameter's ``.data`` at the next slice of ``vec`` (shaped like it), as
    PyTorch does: the parameters then share ``vec``'s memory, and memory the parameters had
    before (a numpy view of it, a saved copy) keeps the old values."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    offset, device = 0, None
    for p in parameters:
        device = _check_device(p, device)
        n = p.numel()
        p.data = vec[offset:offset + n].view_as(p).data
        offset += n
