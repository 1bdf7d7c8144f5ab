"""``torch.distributions.one_hot_categorical``'s import path: OneHotCategorical (defined in
``categorical.py``) and OneHotCategoricalStraightThrough (``one_hot_straight_through.py``)."""
from .categorical import OneHotCategorical
from .one_hot_straight_through import OneHotCategoricalStraightThrough

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]
