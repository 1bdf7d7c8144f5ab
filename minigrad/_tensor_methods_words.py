"""The Tensor methods not wrapped by ``_torch_args`` whose argument checks are shared ones
(``normalize_dim``, ``int_arg``, ``bool_arg``): wrapped by ``_argument_words.worded`` so that
an argument of the wrong type is refused in the words PyTorch's parser gives the call (its
position, or the list of signatures where several fit).  Imported once, after the modules
that define the methods."""
from __future__ import annotations

from ._argument_words import worded
from .tensor import Tensor

__all__ = ["SWAPAXES"]

# swapaxes is transpose, its dims named as numpy's
SWAPAXES = {"dim0": "axis0", "dim1": "axis1"}


Tensor.flatten = worded(Tensor.flatten, True, "flatten")
Tensor.squeeze = worded(Tensor.squeeze, True, "squeeze")
Tensor.unsqueeze = worded(Tensor.unsqueeze, True, "unsqueeze")
Tensor.transpose = worded(Tensor.transpose, True, "transpose")
Tensor.swapdims = worded(Tensor.swapdims, True, "swapdims")
Tensor.unbind = worded(Tensor.unbind, True, "unbind")
Tensor.movedim = worded(Tensor.movedim, True, "movedim")
Tensor.moveaxis = worded(Tensor.moveaxis, True, "moveaxis")
Tensor.narrow = worded(Tensor.narrow, True, "narrow")
Tensor.select = worded(Tensor.select, True, "select")
Tensor.chunk = worded(Tensor.chunk, True, "chunk")
Tensor.roll = worded(Tensor.roll, True, "roll")
Tensor.unfold = worded(Tensor.unfold, True, "unfold")
Tensor.repeat_interleave = worded(Tensor.repeat_interleave, True, "repeat_interleave")
Tensor.diagonal = worded(Tensor.diagonal, True, "diagonal")
Tensor.tril = worded(Tensor.tril, True, "tril")
Tensor.triu = worded(Tensor.triu, True, "triu")
Tensor.diff = worded(Tensor.diff, True, "diff")
Tensor.histc = worded(Tensor.histc, True, "histc")
Tensor.quantile = worded(Tensor.quantile, True, "quantile")
Tensor.nanquantile = worded(Tensor.nanquantile, True, "nanquantile")
Tensor.scatter = worded(Tensor.scatter, True, "scatter")
Tensor.scatter_add = worded(Tensor.scatter_add, True, "scatter_add")
Tensor.diag = worded(Tensor.diag, True, "diag")
Tensor.masked_fill = worded(Tensor.masked_fill, True, "masked_fill")
Tensor.lerp = worded(Tensor.lerp, True, "lerp")
Tensor.index_fill = worded(Tensor.index_fill, True, "index_fill")
Tensor.index_add = worded(Tensor.index_add, True, "index_add")
Tensor.nan_to_num = worded(Tensor.nan_to_num, True, "nan_to_num")
Tensor.masked_select = worded(Tensor.masked_select, True, "masked_select")
Tensor.take = worded(Tensor.take, True, "take")
Tensor.addcmul = worded(Tensor.addcmul, True, "addcmul")
Tensor.addcdiv = worded(Tensor.addcdiv, True, "addcdiv")
Tensor.normal_ = worded(Tensor.normal_, True, "normal_")
Tensor.uniform_ = worded(Tensor.uniform_, True, "uniform_")
Tensor.swapaxes = worded(Tensor.swapaxes, True, "swapaxes", SWAPAXES)
Tensor.fill_ = worded(Tensor.fill_, True, "fill_")
Tensor.div_ = worded(Tensor.div_, True, "div_")
Tensor.clamp_ = worded(Tensor.clamp_, True, "clamp_")
Tensor.clip_ = worded(Tensor.clip_, True, "clip_")
Tensor.unsafe_split = worded(Tensor.unsafe_split, True, "unsafe_split")
Tensor.unsafe_split_with_sizes = worded(Tensor.unsafe_split_with_sizes, True,
                                        "unsafe_split_with_sizes")
Tensor.unsafe_chunk = worded(Tensor.unsafe_chunk, True, "unsafe_chunk")
Tensor.divide_ = worded(Tensor.divide_, True, "divide_")
