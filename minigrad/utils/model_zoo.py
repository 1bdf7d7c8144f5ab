"""``torch.utils.model_zoo``: the older home of ``load_url``, which is
``minigrad.hub.load_state_dict_from_url`` under another name (as in PyTorch)."""
from ..hub import load_state_dict_from_url as load_url

__all__ = ["load_url"]
