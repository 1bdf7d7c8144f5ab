"""The minigrad functions the distributions are written with, gathered in one namespace.

The distributions sit above ``nn`` in the layering, so they may use ``nn.functional``; they
must not import the top-level ``minigrad`` package (that would be an import cycle), hence
this small table of exactly what they use.
"""
from ..autograd import enable_grad, no_grad  # noqa: F401
from ..creation import (  # noqa: F401
    eye, full, full_like, ones, ones_like, zeros, zeros_like)
from .._random_factories import rand  # noqa: F401
from .._range_factories import arange  # noqa: F401
from ..dtypes import bool_ as bool_dtype, get_default_dtype, int64  # noqa: F401
from ..functional import broadcast_shapes, broadcast_tensors  # noqa: F401
from ..linalg import cholesky, eigvalsh, solve_triangular  # noqa: F401
from ..nn.functional import (  # noqa: F401
    binary_cross_entropy_with_logits, one_hot, softplus)
from ..ops.activation import erf  # noqa: F401
from ..ops.pointwise_select import where  # noqa: F401
from ..ops.sampling_more import multinomial  # noqa: F401
from ..ops.stacking import cat, stack  # noqa: F401
from ..ops.pointwise_more import xlogy  # noqa: F401
from ..ops.pointwise_smooth import expm1  # noqa: F401
from ..ops.special_functions import digamma, erfinv, igamma, lgamma  # noqa: F401
from ..ops.type_info import finfo  # noqa: F401
from ..tensor import Size, Tensor
from .._tensor_factories import is_tensor, tensor  # noqa: F401
