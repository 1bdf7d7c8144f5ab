"""Print what a convolution or a pooling computes, number by number.

    >>> import minigrad as torch
    >>> from minigrad import explain
    >>> X = torch.tensor([[[[0., 1, 2], [3, 4, 5], [6, 7, 8]]]])
    >>> K = torch.tensor([[[[0., 1], [2, 3]]]])
    >>> y = explain.conv2d(X, K)            # doctest: +ELLIPSIS
    conv2d: input (1, 1, 3, 3), weight (1, 1, 2, 2), no bias, stride (1, 1), padding (0, 0), ...
    ...
      out[0,0,0,0]  rows 0-1, cols 0-1:  0x0+1x1+3x2+4x3=19
    ...

For every output element the printout gives the window it reads (rows and columns of the
*padded* input) and the sum of products with the actual numbers, input value first and kernel
value second, as in "0x0+1x1+3x2+4x3=19" (d2l.ai's cross-correlation section). It also prints
the padded input, the kernels, the output-size formula with the numbers plugged in, and the
result. The result is what ``F.conv2d`` / ``F.max_pool2d`` return -- these functions call them
and return their tensor; the printed products are computed here, from the same numbers, and
checked to add up to that result. ``html(op, ...)`` draws the same as an interactive web
page (``python -m minigrad.explain conv2d --input-shape 1,1,5,5 --kernel 3 --html out.html``).

Numbers print compactly: whole numbers without ".0", others with up to 4 decimals; negative
numbers in parentheses, ``1x(-1)``. Printing is for small examples: inputs whose output has
more than ``MAX_OUTPUTS`` elements, or whose elements are sums of more than ``MAX_TERMS``
products, are refused with a ``ValueError`` (pass a crop, or fewer channels).
"""
from __future__ import annotations

from ._html import write
from ._terminal import (MAX_INPUT, MAX_OUTPUTS, MAX_TERMS, conv1d, conv2d, fmt, max_pool1d,
                        max_pool2d, output_size)

__all__ = ["conv1d", "conv2d", "max_pool1d", "max_pool2d", "html", "output_size", "fmt",
           "MAX_OUTPUTS", "MAX_TERMS", "MAX_INPUT"]


# ----------------------------------------------------------------------------------------------
# The web page
# ----------------------------------------------------------------------------------------------
def html(op, input, weight=None, bias=None, path="explain.html", **kwargs):
    """Write ``op`` explained as one self-contained web page to ``path``; returns the path.

    op: 'conv1d', 'conv2d', 'conv_transpose2d', 'max_pool1d', 'max_pool2d' or 'avg_pool2d';
    input, weight, bias and the keyword arguments (stride, padding, dilation, groups,
    kernel_size, ceil_mode, output_padding, ...) as ``F.<op>`` takes them. The page shows the
    (padded) input, the kernel and the output with your numbers; stepping (buttons, arrow
    keys) or playing moves the window and shows the sum of products of each output cell; a
    backward mode shows where an output cell's gradient lands in the input and kernel
    gradients, computed by minigrad's backward. Nothing is fetched from the network.
    """
    return write(op, input, weight, bias, path=path, **kwargs)[0]
