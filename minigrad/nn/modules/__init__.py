"""The layers of ``minigrad.nn``, one concept per file."""
from .module import Module  # noqa: F401
from .linear import Identity, Linear  # noqa: F401
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401
from .pooling import (  # noqa: F401
    MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d)
from .activation import (  # noqa: F401
    ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, LogSoftmax, ReLU6, Hardtanh, SiLU, Softplus)
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .flatten import Flatten, Unflatten  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict  # noqa: F401
from .loss import (  # noqa: F401
    CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss)

__all__ = ["Module", "Identity", "Linear", "Conv1d", "Conv2d", "ConvTranspose1d",
           "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "Softmax", "LogSoftmax", "ReLU6", "Hardtanh", "SiLU", "Softplus", "BatchNorm1d",
           "BatchNorm2d", "BatchNorm3d", "Dropout", "Flatten", "Unflatten", "Sequential",
           "ModuleList", "ModuleDict", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss",
           "BCELoss", "BCEWithLogitsLoss"]
