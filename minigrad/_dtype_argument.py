"""The parser's refusal of a ``dtype=`` argument that is no dtype, shared by the factories
(``creation``) and ``tensor`` / ``as_tensor`` (``_tensor_factories``, which creation imports)."""
from __future__ import annotations

import numpy as np

from . import dtypes
from ._parser_emulation import _table as _parser_table
from ._parser_message import _combination
from ._type_names import python_type_name
from .tensor import Tensor

__all__ = ["check_dtype_argument"]


def check_dtype_argument(dtype, fn_name, args=None, kwargs=None):
    """PyTorch's parser's refusal, in ``fn_name``'s words, of a ``dtype=`` that is no dtype:
    a name ('float32'), a numpy type or dtype (Python's float, int, bool, complex are taken).
    Given the call's ``args`` and ``kwargs``, a factory of several signatures (``eye``,
    ``linspace``) lists them, as its parser does (none takes such a dtype)."""
    if dtype is None or isinstance(dtype, dtypes.DType) or \
            any(dtype is kind for kind in (float, int, bool, complex)):   # (np.dtype == float)
        return
    if isinstance(dtype, (str, np.dtype, int, float, complex, list, tuple, Tensor)) or (
            isinstance(dtype, type) and issubclass(dtype, np.generic)):
        kind = type(dtype)
        what = ("type" if kind is type else python_type_name(dtype) if isinstance(dtype, Tensor)
                else kind.__name__ if kind.__module__ == "builtins"
                else f"{kind.__module__}.{kind.__qualname__}")
        entry = None if args is None else _parser_table(False).get(fn_name)
        if entry is not None and entry[0] != "-" and len(entry[1]) > 1:
            raise _combination(fn_name, args, kwargs, entry[1])
        raise TypeError(f"{fn_name}(): argument 'dtype' must be torch.dtype, not {what}")
