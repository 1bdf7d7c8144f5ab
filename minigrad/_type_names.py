"""The names PyTorch's argument errors give Python types (CPython's ``tp_name``).

A builtin or a class written in Python goes by its bare name ('float', 'list', 'Linear'); an
extension type by its qualified name ('numpy.ndarray', 'numpy.float64'), as does a minigrad
class that stands for one of PyTorch's extension types and says so in ``_tp_name``
(``minigrad.dtype``).  Kept free of
imports so that every layer of minigrad can use it.
"""

__all__ = ["python_type_name"]

_HEAP_TYPE = 1 << 9           # CPython's Py_TPFLAGS_HEAPTYPE: a class made by a class statement


def python_type_name(value):
    """The ``tp_name`` of ``type(value)``, as PyTorch's messages print it."""
    cls = type(value)
    if getattr(cls, "_tp_name", None):       # a class standing for one of PyTorch's C types
        return cls._tp_name
    if cls.__module__ in (None, "builtins") or cls.__flags__ & _HEAP_TYPE:
        return cls.__name__
    return f"{cls.__module__}.{cls.__name__}"
