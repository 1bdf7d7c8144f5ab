"""``minigrad.utils``: ``data`` (Dataset, DataLoader, random_split), ``checkpoint``, ``hooks``,
``model_zoo`` (``load_url``), ``_pytree`` (tree_flatten, tree_map, ...), ``dlpack``
(from_dlpack, to_dlpack), ``benchmark`` (Timer, Measurement, Compare) and ``flop_counter``
(FlopCounterMode)."""
from . import data  # noqa: F401
from . import checkpoint, hooks  # noqa: F401
from . import _pytree, model_zoo  # noqa: F401
from . import dlpack, benchmark, flop_counter  # noqa: F401
