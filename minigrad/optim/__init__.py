"""``minigrad.optim``: SGD, Adam, AdamW, RMSprop and learning-rate schedulers.

    optimizer = minigrad.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss.backward(); optimizer.step(); optimizer.zero_grad()
"""
from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .adagrad import Adagrad  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
