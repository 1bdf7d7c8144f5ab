"""``torch.storage``: where third-party code imports the storage classes from
(``from torch.storage import UntypedStorage``). They are the classes of ``minigrad._storage``,
the same objects as ``minigrad.UntypedStorage`` and ``minigrad.TypedStorage``."""
from ._storage import TypedStorage, UntypedStorage

__all__ = ["TypedStorage", "UntypedStorage"]
