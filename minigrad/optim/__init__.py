"""``minigrad.optim``: SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, NAdam, RAdam, Adadelta,
ASGD, LBFGS, Rprop, Adafactor, SparseAdam, Muon, learning-rate schedulers and ``swa_utils``
(weight averaging).

    optimizer = minigrad.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss.backward(); optimizer.step(); optimizer.zero_grad()
"""
from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
from .adam import Adam  # noqa: F401
from .adamw import AdamW  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .adagrad import Adagrad  # noqa: F401
from .adamax import Adamax  # noqa: F401
from .nadam import NAdam  # noqa: F401
from .radam import RAdam  # noqa: F401
from .adadelta import Adadelta  # noqa: F401
from .asgd import ASGD  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401
from .rprop import Rprop  # noqa: F401
from .adafactor import Adafactor  # noqa: F401
from .sparse_adam import SparseAdam  # noqa: F401
from .muon import Muon  # noqa: F401
from . import swa_utils  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam",
           "RAdam", "Adadelta", "ASGD", "LBFGS", "Rprop", "Adafactor", "SparseAdam", "Muon",
           "lr_scheduler", "swa_utils"]
