"""``parameters_to_vector`` / ``vector_to_parameters``: all parameters as one flat vector
(for second-order methods, line searches, evolution strategies) and back."""
from __future__ import annotations

from ...ops.movement import cat
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
    """Every parameter flattened and concatenated in order (differentiable)."""
    if isinstance(parameters, Tensor):
        raise TypeError(f"expected an iterable of Tensors, but got {type(parameters).__name__}")
    device, flat = None, []
    for p in parameters:
        device = _check_device(p, device)
        flat.append(p.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters (in place, shapes kept)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    offset, device = 0, None
    for p in parameters:
        device = _check_device(p, device)
        n = p.numel()
        if offset + n > vec.numel():
            raise RuntimeError(f"vector_to_parameters: the vector has {vec.numel()} elements, "
                               f"fewer than the parameters need ({offset + n} and more)")
        p._array[...] = vec._array[offset:offset + n].reshape(p._array.shape)
        p._version.value += 1
        offset += n
