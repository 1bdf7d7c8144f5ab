"""The ``Summary`` messages SummaryWriter writes, as serialized bytes: scalars, histograms,
images and text, with PyTorch's conversions of the values (``torch.utils.tensorboard.summary``).

Field numbers (tensorboard's ``summary.proto`` / ``tensor.proto``): Summary.value 1;
Value: tag 1, simple_value 2 (float), image 4, histo 5, tensor 8, metadata 9;
Image: height 1, width 2, colorspace 3, encoded_image_string 4; HistogramProto: min 1,
max 2, num 3, sum 4, sum_squares 5, bucket_limit 6, bucket 7 (doubles);
SummaryMetadata.plugin_data 1 = PluginData(plugin_name 1, content 2);
TensorProto: dtype 1, tensor_shape 2 = TensorShapeProto(dim 2 = Dim(size 1)),
float_val 5, double_val 6, string_val 8.
"""
import numpy as np

from ...dtypes import bfloat16, float16
from ...tensor import Tensor
from . import _proto as pb
from ._png import encode_png

DT_FLOAT, DT_DOUBLE, DT_STRING = 1, 2, 7


def to_numpy(x):
    """A numpy array from a numpy array, a Python/numpy scalar or a tensor (as PyTorch's
    ``make_np``: a scalar becomes a 1-element array)."""
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.array([x])
    if isinstance(x, Tensor):
        if x.dtype == bfloat16:                  # numpy has no bfloat16: as PyTorch, via half
            x = x.to(float16)
        return x.detach().cpu().numpy()
    raise NotImplementedError(f"Got {type(x)}, but numpy array or torch tensor are expected.")


def summary(*values):
    return b"".join(pb.length_delimited(1, v) for v in values)


def value(tag, *, simple_value=None, image=None, histo=None, tensor=None, metadata=None):
    out = pb.opt_string(1, tag)
    if simple_value is not None:
        out += pb.float32(2, simple_value)
    if image is not None:
        out += pb.length_delimited(4, image)
    if histo is not None:
        out += pb.length_delimited(5, histo)
    if tensor is not None:
        out += pb.length_delimited(8, tensor)
    if metadata is not None:
        out += pb.length_delimited(9, metadata)
    return out


def plugin_metadata(plugin_name, content=b""):
    """SummaryMetadata naming the TensorBoard plugin that reads the value."""
    return pb.length_delimited(1, pb.opt_string(1, plugin_name) + pb.opt_bytes(2, content))


# ---- scalars

def scalar(tag, value_, new_style=False, double_precision=False):
    arr = to_numpy(value_).squeeze()
    if arr.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). Was given "
                             f"size: {arr.size} and {arr.ndim} dimensions.")
    x = float(arr)
    if not new_style:
        return summary(value(tag, simple_value=x))
    if double_precision:
        tensor = pb.varint(1, DT_DOUBLE) + pb.packed_doubles(6, [x])
    else:
        tensor = pb.varint(1, DT_FLOAT) + pb.packed_floats(5, [x])
    return summary(value(tag, tensor=tensor, metadata=plugin_metadata("scalars")))


# ---- histograms

def default_bins():
    """TensorFlow's default histogram edges: +-1e-12 growing by 10% up to 1e20, and 0."""
    edges, v = [], 1e-12
    while v < 1e20:
        edges.append(v)
        v *= 1.1
    return [-e for e in reversed(edges)] + [0] + edges


def histogram_proto(vmin, vmax, num, total, sum_squares, bucket_limits, bucket_counts):
    return (pb.opt_double(1, vmin) + pb.opt_double(2, vmax) + pb.opt_double(3, num)
            + pb.opt_double(4, total) + pb.opt_double(5, sum_squares)
            + pb.packed_doubles(6, bucket_limits) + pb.packed_doubles(7, bucket_counts))


def histogram(tag, values, bins, max_bins=None):
    """numpy.histogram of the flattened values, merged to at most ``max_bins`` buckets,
    trimmed to the occupied range plus one empty bucket before it (TensorFlow's layout:
    each bucket stored by its upper edge)."""
    values = to_numpy(values).astype(float)
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    n = len(counts)
    if max_bins is not None and n > max_bins:
        group = n // max_bins                          # merge runs of `group` buckets
        starts = np.arange(0, n, group)
        counts = np.add.reduceat(counts, starts)
        limits = np.append(limits[starts], limits[-1])
    occupied = np.flatnonzero(counts)
    if occupied.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    first, last = int(occupied[0]), int(occupied[-1])
    kept = counts[first:last + 1]
    lead = counts[first - 1:first] if first > 0 else np.zeros(1, counts.dtype)
    counts = np.concatenate([lead, kept])
    limits = limits[first:last + 2]
    histo = histogram_proto(values.min(), values.max(), len(values), values.sum(),
                            values.dot(values), limits.tolist(), counts.tolist())
    return summary(value(tag, histo=histo))


def histogram_raw(tag, vmin, vmax, num, total, sum_squares, bucket_limits, bucket_counts):
    histo = histogram_proto(vmin, vmax, num, total, sum_squares,
                            list(bucket_limits), list(bucket_counts))
    return summary(value(tag, histo=histo))


# ---- images

def _grid(images, ncols=8):
    """(N, C, H, W) with C 1 or 3 -> one (3, H*rows, W*cols) image, row by row."""
    if images.shape[1] == 1:
        images = np.concatenate([images] * 3, 1)
    if images.ndim != 4 or images.shape[1] != 3:
        raise AssertionError("Input should be a 4D numpy array with 3 channels")
    n, _, h, w = images.shape
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    canvas = np.zeros((3, h * nrows, w * ncols), dtype=images.dtype)
    for i in range(n):
        r, c = divmod(i, ncols)
        canvas[:, r * h:(r + 1) * h, c * w:(c + 1) * w] = images[i]
    return canvas


def to_hwc(arr, dataformats):
    """Reorder an image (or a batch, laid out as a grid) to height, width, channels."""
    if len(set(dataformats)) != len(dataformats):
        raise AssertionError("You can not use the same dimension shorthand twice. "
                             f"input_format: {dataformats}")
    if arr.ndim != len(dataformats):
        raise AssertionError("size of input tensor and input format are different. "
                             f"tensor shape: {arr.shape}, input_format: {dataformats}")
    fmt = dataformats.upper()
    if len(fmt) == 4:
        return _grid(arr.transpose([fmt.find(c) for c in "NCHW"])).transpose(1, 2, 0)
    if len(fmt) == 3:
        hwc = arr.transpose([fmt.find(c) for c in "HWC"])
        return np.concatenate([hwc] * 3, 2) if hwc.shape[2] == 1 else hwc
    hw = arr.transpose([fmt.find(c) for c in "HW"])
    return np.stack([hw, hw, hw], 2)


def image(tag, img, dataformats="NCHW"):
    """uint8 images are stored as they are, any other dtype is taken as [0, 1] and scaled
    by 255; then clipped to [0, 255] and PNG-encoded."""
    hwc = to_hwc(to_numpy(img), dataformats)
    scale = 1 if hwc.dtype == np.uint8 else 255
    pixels = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    height, width, channels = pixels.shape
    proto = (pb.opt_varint(1, height) + pb.opt_varint(2, width) + pb.opt_varint(3, channels)
             + pb.opt_bytes(4, encode_png(pixels)))
    return summary(value(tag, image=proto))


# ---- text

def text(tag, text_string):
    """The text plugin's form: a 1-element DT_STRING tensor under ``<tag>/text_summary``."""
    shape = pb.length_delimited(2, pb.varint(1, 1))                 # one dim of size 1
    tensor = (pb.varint(1, DT_STRING) + pb.length_delimited(2, shape)
              + pb.length_delimited(8, text_string.encode("utf-8")))
    return summary(value(tag + "/text_summary", tensor=tensor, metadata=plugin_metadata("text")))
