"""``minigrad.utils``: ``data`` (Dataset, DataLoader, random_split), ``checkpoint``, ``hooks``,
``model_zoo`` (``load_url``) and ``_pytree`` (tree_flatten, tree_map, ...)."""
from . import data  # noqa: F401
from . import checkpoint, hooks  # noqa: F401
from . import _pytree, model_zoo  # noqa: F401
