"""``torch.return_types``: the named tuples that max/min/sort/topk/... and the linalg
factorizations return.

Each class behaves as PyTorch's (a CPython "structseq"): a plain ``tuple`` subclass whose items
are also read by name (``torch.max(x, 0).indices``), built from ONE sequence
(``return_types.max((values, indices))``), with ``n_fields``, ``n_sequence_fields``,
``n_unnamed_fields`` and ``__match_args__``; it is not a ``collections.namedtuple`` (no
``_fields``, ``_asdict``), so code that tells namedtuples apart treats it as a tuple, as it does
PyTorch's. Instances pickle and copy by class.

``make(name)`` gives minigrad's ops a constructor that takes the values positionally.
"""

import builtins

__all__ = ["pytree_register_structseq", "all_return_types"]

# name -> field names, in order, as PyTorch names them; every one also has a "<name>_out" twin
# (what the ``out=`` form returns), except histogramdd
_FIELDS = {
    "aminmax": ("min", "max"),
    "cummax": ("values", "indices"), "cummin": ("values", "indices"),
    "frexp": ("mantissa", "exponent"),
    "geqrf": ("a", "tau"),
    "histogram": ("hist", "bin_edges"),
    "kthvalue": ("values", "indices"),
    "linalg_cholesky_ex": ("L", "info"),
    "linalg_eig": ("eigenvalues", "eigenvectors"),
    "linalg_eigh": ("eigenvalues", "eigenvectors"),
    "linalg_inv_ex": ("inverse", "info"),
    "linalg_ldl_factor": ("LD", "pivots"),
    "linalg_ldl_factor_ex": ("LD", "pivots", "info"),
    "linalg_lstsq": ("solution", "residuals", "rank", "singular_values"),
    "linalg_lu": ("P", "L", "U"),
    "linalg_lu_factor": ("LU", "pivots"),
    "linalg_lu_factor_ex": ("LU", "pivots", "info"),
    "linalg_qr": ("Q", "R"),
    "linalg_slogdet": ("sign", "logabsdet"),
    "linalg_solve_ex": ("result", "info"),
    "linalg_svd": ("U", "S", "Vh"),
    "lu_unpack": ("P", "L", "U"),
    "max": ("values", "indices"), "min": ("values", "indices"),
    "median": ("values", "indices"), "nanmedian": ("values", "indices"),
    "mode": ("values", "indices"),
    "qr": ("Q", "R"),
    "slogdet": ("sign", "logabsdet"),
    "sort": ("values", "indices"), "topk": ("values", "indices"),
    "svd": ("U", "S", "V"),
    "triangular_solve": ("solution", "cloned_coefficient"),
}
# results that have no "<name>_out" twin; the private ones are not in ``all_return_types``
_NO_OUT = {"histogramdd": ("hist", "bin_edges")}
_PRIVATE = {"_lu_with_info": ("LU", "pivots", "info")}


class StructSeq(tuple):
    """A tuple with named items; subclasses set ``n_fields`` and one property per field."""

    __slots__ = ()
    n_fields = n_sequence_fields = n_unnamed_fields = 0

    def __new__(cls, sequence, dict=None):  # noqa: A002  (the keyword is named as PyTorch's)
        """``cls(sequence)``: the result holding ``sequence``'s items (exactly n_fields)."""
        try:
            items = tuple(sequence)
        except TypeError:
            raise TypeError("constructor requires a sequence") from None
        if dict is not None and not isinstance(dict, builtins.dict):
            raise TypeError(f"{cls.__module__}.{cls.__name__}() takes a dict as second arg, if any")
        if len(items) != cls.n_fields:
            raise TypeError(f"{cls.__module__}.{cls.__name__}() takes a {cls.n_fields}-sequence "
                            f"({len(items)}-sequence given)")
        return super().__new__(cls, items)

    def __reduce__(self):
        # rebuilt by class, from the items: pickle and copy need nothing more
        return type(self), (tuple(self), {})

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self.__match_args__, self))
        return f"{type(self).__module__}.{type(self).__name__}(\n{body})"

    __str__ = __repr__


def _field(i, name):
    """The read-only property for item ``i``."""
    return property(lambda self: self[i], doc=f"item {i}, {name!r}")


def _structseq(name, fields):
    """A ``StructSeq`` subclass called ``name`` with ``fields``."""
    namespace = {name_: _field(i, name_) for i, name_ in enumerate(fields)}
    namespace.update(__slots__=(), __module__=__name__, __qualname__=name,
                     __match_args__=tuple(fields), n_fields=len(fields),
                     n_sequence_fields=len(fields), n_unnamed_fields=0)
    return type(name, (StructSeq,), namespace)


all_return_types = []
for _name, _fields in sorted({**_FIELDS, **{f"{n}_out": f for n, f in _FIELDS.items()},
                              **_NO_OUT}.items()):
    globals()[_name] = _structseq(_name, _fields)
    all_return_types.append(globals()[_name])
    __all__.append(_name)
for _name, _fields in _PRIVATE.items():
    globals()[_name] = _structseq(_name, _fields)
del _name, _fields


def make(name, fields=None):
    """A constructor of ``return_types.<name>`` that takes the fields' values positionally;
    ``fields``, when given, must be that class's (a guard against a misspelt result)."""
    cls = globals()[name]
    if fields is not None and tuple(fields) != cls.__match_args__:
        raise ValueError(f"return_types.{name} has fields {cls.__match_args__}, not "
                         f"{tuple(fields)}")
    return lambda *values: cls(values)


def values_indices(values, indices, name="max"):
    """The ``(values, indices)`` result of the reduction ``name`` (max, min, sort, topk, ...)."""
    return globals()[name]((values, indices))


def pytree_register_structseq(cls):
    """Kept for PyTorch's API: every class here is already a pytree node (minigrad.utils._pytree
    registers them), so this only checks that ``cls`` is one of them."""
    if not (isinstance(cls, type) and issubclass(cls, StructSeq)):
        raise TypeError(f"{cls!r} is not a return_types class")
