"""``ParameterList`` and ``ParameterDict``: registered collections of Parameters, for models
whose number of weights is only known at run time (one scale per layer, per task...)."""
from __future__ import annotations

from collections import OrderedDict

from ...tensor import Tensor
from ..parameter import Parameter
from .container import _index, _update_pairs
from .module import Module, _typename

__all__ = ["ParameterList", "ParameterDict"]


def _as_parameter(value):
    """A plain tensor becomes a Parameter (sharing its memory and requires_grad flag)."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value, requires_grad=value.requires_grad or value.grad_fn is None)
    return value


def _describe(p, name_style):
    """'Parameter containing: [minigrad.float32 of size 2x3]' (PyTorch's summary line);
    ``name_style`` 'dtype' or 'type' picks how the element type is named."""
    if not isinstance(p, Tensor):
        return f"Object of type: {type(p).__name__}"
    size = "x".join(str(s) for s in p.shape)
    kind = f"minigrad.{p.dtype.name}" if name_style == "dtype" else _typename(p)
    where = "" if p.device.type == "cpu" else f" ({p.device.type.upper()} {p.device.index})"
    head = "Parameter containing" if isinstance(p, Parameter) else "Tensor"
    return f"{head}: [{kind} of size {size}{where}]"


class ParameterList(Module):
    """A list of Parameters, registered under '0', '1', ... (plain tensors are made
    Parameters): ``self.scales = ParameterList([Parameter(ones(d)) for d in dims])``."""

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(_index(idx, len(self))))

    def __setitem__(self, idx, param):
        setattr(self, str(_index(idx, len(self))), _as_parameter(param))

    def __len__(self):
        return self._size

    def __iter__(self):
        return iter(self[i] for i in range(len(self)))

    def __iadd__(self, parameters):
        return self.extend(parameters)

    def append(self, value):
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        if isinstance(values, Tensor) or not hasattr(values, "__iter__"):
            raise TypeError("ParameterList.extend should be called with an iterable, but got "
                            + type(values).__name__)
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        # each line starts with two spaces: PyTorch's layout (4 in all, or one line inline)
        return "\n".join(f"  ({i}): {_describe(p, 'dtype')}" for i, p in enumerate(self))

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """An ordered dict of Parameters, registered under their keys (plain tensors are made
    Parameters)."""

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = OrderedDict()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return getattr(self, key)

    def __setitem__(self, key, value):
        self._keys[key] = None
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def items(self):
        return ((k, self[k]) for k in self._keys)

    def values(self):
        return (self[k] for k in self._keys)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def clear(self):
        for key in list(self._keys):
            del self[key]

    def update(self, parameters):
        if isinstance(parameters, Tensor) or not hasattr(parameters, "__iter__"):
            raise TypeError("ParametersDict.update should be called with an iterable of "
                            "key/value pairs, but got " + type(parameters).__name__)
        # a plain dict's keys are taken sorted (PyTorch's rule), an OrderedDict's in order
        for key, value in _update_pairs("ParameterDict", parameters,
                                        (OrderedDict, ParameterDict), sort_other_mappings=True):
            self[key] = value

    def extra_repr(self):
        return "\n".join(f"  ({k}): {_describe(p, 'type')}" for k, p in self.items())

    def __call__(self, input):
        raise RuntimeError("ParameterDict should not be called.")
