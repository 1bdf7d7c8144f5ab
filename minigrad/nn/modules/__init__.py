"""The layers of ``minigrad.nn``, one concept per file."""
from .module import Module  # noqa: F401
from .linear import Identity, Linear, Bilinear  # noqa: F401
from .conv import (  # noqa: F401
    Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)
from .pooling import (  # noqa: F401
    MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,
    AvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, MaxUnpool1d, MaxUnpool2d, MaxPool3d,
    AdaptiveAvgPool3d, AdaptiveMaxPool3d, MaxUnpool3d, LPPool1d, LPPool2d, LPPool3d)
from .activation import (  # noqa: F401
    ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, LogSoftmax, ReLU6, Hardtanh, SiLU, Softplus,
    GELU, ELU, CELU, SELU, Hardswish, Hardsigmoid, Mish, Softsign, LogSigmoid, Tanhshrink,
    Hardshrink, Softshrink, PReLU, Softmin, Softmax2d, GLU, Threshold, RReLU)
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, SyncBatchNorm  # noqa: F401
from .feature_norm import (  # noqa: F401
    LayerNorm, GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d)
from .dropout import (  # noqa: F401
    Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout, FeatureAlphaDropout)
from .sparse import Embedding, EmbeddingBag  # noqa: F401
from .upsampling import (  # noqa: F401
    Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, PixelShuffle, PixelUnshuffle, Unfold,
    Fold, ChannelShuffle, LocalResponseNorm)
from .linear import LazyLinear  # noqa: F401
from .conv import (  # noqa: F401
    LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d,
    LazyConvTranspose3d)
from .batchnorm import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d  # noqa: F401
from .instancenorm import (  # noqa: F401
    LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d)
from .rnn import (  # noqa: F401
    RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell)
from .flatten import Flatten, Unflatten  # noqa: F401
from .container import (  # noqa: F401
    Container, Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict)
from .loss import (  # noqa: F401
    CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss, SmoothL1Loss,
    HuberLoss, KLDivLoss, PoissonNLLLoss, GaussianNLLLoss, SoftMarginLoss,
    MultiLabelSoftMarginLoss, MarginRankingLoss, HingeEmbeddingLoss, CosineEmbeddingLoss,
    TripletMarginLoss, NLLLoss2d, MultiMarginLoss, MultiLabelMarginLoss, CTCLoss)
from .distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from .padding import (  # noqa: F401
    ZeroPad1d, ZeroPad2d, ZeroPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d,
    ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
    ReplicationPad3d, CircularPad1d, CircularPad2d, CircularPad3d)
from .attention import MultiheadAttention  # noqa: F401
from .transformer import (  # noqa: F401
    TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder,
    Transformer)

__all__ = ["Module", "Identity", "Linear", "Conv1d", "Conv2d", "ConvTranspose1d",
           "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "Softmax", "LogSoftmax", "ReLU6", "Hardtanh", "SiLU", "Softplus", "BatchNorm1d",
           "BatchNorm2d", "BatchNorm3d", "Dropout", "Flatten", "Unflatten", "Sequential",
           "ModuleList", "ModuleDict", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss",
           "BCELoss", "BCEWithLogitsLoss",
           # breadth (issue #15)
           "AvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "MaxUnpool1d", "MaxUnpool2d",
           "GELU", "ELU", "CELU", "SELU", "Hardswish", "Hardsigmoid", "Mish", "Softsign",
           "LogSigmoid", "Tanhshrink", "Hardshrink", "Softshrink", "PReLU", "Softmin",
           "Softmax2d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "Dropout1d", "Dropout2d", "Dropout3d", "Embedding", "Upsample",
           "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle",
           "Unfold", "Fold", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyBatchNorm1d",
           "LazyBatchNorm2d", "LazyBatchNorm3d", "RNNBase", "RNN", "LSTM",
           "GRU", "RNNCell", "LSTMCell", "GRUCell", "RNNCellBase", "EmbeddingBag",
           # what third-party training code uses next
           "SmoothL1Loss", "HuberLoss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss",
           "SoftMarginLoss", "MultiLabelSoftMarginLoss", "MarginRankingLoss",
           "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "CosineSimilarity",
           "PairwiseDistance", "ParameterList", "ParameterDict",
           # padding layers, attention and the transformer encoder
           "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d", "MultiheadAttention",
           "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder", "Transformer",
           # round 4 of the third-party probes
           "GLU", "Threshold", "RReLU", "SyncBatchNorm", "AlphaDropout", "FeatureAlphaDropout",
           "ChannelShuffle", "LocalResponseNorm", "Bilinear", "NLLLoss2d", "MultiMarginLoss",
           "MultiLabelMarginLoss", "CTCLoss",
           # the 3-d convolutions and pools, LP pooling
           "Conv3d", "ConvTranspose3d", "LazyConv3d", "MaxPool3d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool3d", "MaxUnpool3d", "LPPool1d", "LPPool2d", "LPPool3d"]
from .round6 import (  # noqa: F401,E402
    RMSNorm, TripletMarginWithDistanceLoss, FractionalMaxPool2d, FractionalMaxPool3d)
__all__ += ["RMSNorm", "TripletMarginWithDistanceLoss", "FractionalMaxPool2d",
            "FractionalMaxPool3d"]
# round 7 (part H): lazy transposed convolutions and instance norms
__all__ += ["LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
            "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]
from .adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401,E402
from .cross_map_lrn import CrossMapLRN2d  # noqa: F401,E402
from .data_parallel import DataParallel  # noqa: F401,E402
# PyTorch's import paths that third-party code uses (torch.nn.modules.batchnorm, ...)
from . import batchnorm, instancenorm, fold, pixelshuffle, channelshuffle  # noqa: F401,E402
__all__ += ["AdaptiveLogSoftmaxWithLoss", "CrossMapLRN2d", "DataParallel"]
from .loss import LinearCrossEntropyLoss  # noqa: F401,E402
from .linear_cross_entropy_options import LinearCrossEntropyOptions  # noqa: F401,E402
__all__ += ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions", "Container"]
