"""Variable-length batches for the recurrent layers: ``PackedSequence`` and the functions that
pad, pack and unpack.

A packed batch stores its sequences sorted by decreasing length and interleaved by time step:
``data`` (sum of lengths, *) holds step 0 of every sequence, then step 1 of every sequence still
running, and so on; ``batch_sizes[t]`` says how many sequences are still running at step t
(non-increasing, so at each step the running sequences are a prefix of the sorted batch).
``sorted_indices[k]`` is the original position of the k-th longest sequence and
``unsorted_indices`` its inverse (both None when the batch came in already sorted).

Every conversion here is one index gather of the input (padding read from one appended row), so
gradients flow back to the padded or listed tensors through ``index_select``'s backward.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import backend
from ..._type_names import python_type_name
from ...ops.inplace import check_broadcasts_into
from ...ops.movement import reshape
from ...ops.stacking import cat
from ...ops.scatter_gather import IndexSelect
from ..._memory_format import contiguous_format
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]

_Fields = namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices",
                                        "unsorted_indices"])


def _int64(values):
    return Tensor._wrap(np.asarray(values, dtype=np.int64).reshape(-1))


def _host(t):
    """A tensor or sequence of ints as an int64 numpy vector."""
    a = backend.as_numpy(t._array) if isinstance(t, Tensor) else np.asarray(t)
    return a.astype(np.int64).reshape(-1)


def _gather_rows(source, rows):
    """source (R, *) -> source[rows] along dim 0, differentiably."""
    index = backend.to_device(np.asarray(rows, dtype=np.int64), source.device)
    return IndexSelect.apply(source, index=index, dim=0)


def invert_permutation(permutation):
    """The permutation q with q[permutation[i]] = i (None stays None)."""
    if permutation is None:
        return None
    p = _host(permutation)
    inverse = np.empty_like(p)
    inverse[p] = np.arange(len(p))
    return _int64(inverse)


class PackedSequence(_Fields):
    """A packed batch: (data, batch_sizes, sorted_indices, unsorted_indices), see the module
    docstring.  Build it with :func:`pack_padded_sequence` or :func:`pack_sequence`; the
    recurrent layers take and return it.  Tensor conversions (``to``, ``double``...) apply to
    ``data`` (and move the index vectors along); ``batch_sizes`` always stays on the CPU."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            # (PyTorch's form PackedSequence((data, batch_sizes)), asserted as it asserts it)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif not isinstance(batch_sizes, Tensor):
            # (PyTorch reads its device first)
            raise AttributeError(f"'{type(batch_sizes).__name__}' object has no attribute "
                                 "'device'")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def cuda(self, *args, **kwargs):
        return self.to(self.data.cuda(*args, **kwargs).device)

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=self.data.double().dtype)

    def float(self):
        return self.to(dtype=self.data.float().dtype)

    def half(self):
        return self.to(dtype=self.data.half().dtype)

    def long(self):
        return self.to(dtype=self.data.long().dtype)

    def int(self):
        return self.to(dtype=self.data.int().dtype)

    def short(self):
        return self.to(dtype=self.data.short().dtype)

    def char(self):
        return self.to(dtype=self.data.char().dtype)

    def byte(self):
        return self.to(dtype=self.data.byte().dtype)

    def pin_memory(self):
        """Pins data and the index vectors (an error without an accelerator, as PyTorch)."""
        pin = (lambda t: None if t is None else t.pin_memory())
        return type(self)(self.data.pin_memory(), self.batch_sizes, pin(self.sorted_indices),
                          pin(self.unsorted_indices))

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def _sorted_order(lengths, enforce_sorted):
    """(the batch order by decreasing length, or None when it must already be sorted)."""
    if enforce_sorted:
        if np.any(lengths[:-1] < lengths[1:]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        return None
    # stable, so that equal lengths keep their batch order
    return np.argsort(-lengths, kind="stable")


def _batch_sizes(sorted_lengths):
    """batch_sizes[t] = how many of the (decreasing) lengths exceed t."""
    steps = np.arange(int(sorted_lengths[0]))
    return (sorted_lengths[None, :] > steps[:, None]).sum(1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch ``input`` (T, B, *) (``batch_first``: (B, T, *)) whose b-th sequence
    is its first ``lengths[b]`` steps.  With ``enforce_sorted`` the lengths must be
    non-increasing; otherwise the batch is sorted here and the order kept in the result."""
    if input.ndim < 2:                  # PyTorch reads the batch size, dim 1, first
        raise IndexError("Dimension specified as 1 but tensor has no dimensions" if
                         input.ndim == 0 else "Dimension out of range (expected to be in "
                         "range of [-1, 0], but got 1)")
    ndim = lengths.ndim if isinstance(lengths, Tensor) else np.ndim(lengths)
    if not enforce_sorted and ndim > 1:
        # PyTorch sorts the lengths and reorders the batch by them before its own checks
        raise IndexError("index_select(): Index is supposed to be a vector")
    if ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{ndim}D cpu Long tensor")
    lengths = _host(lengths)
    batch_dim = 0 if batch_first else 1
    if not enforce_sorted and len(lengths) != input.shape[batch_dim]:
        # PyTorch reorders the batch first (index_select by the sorted order of the lengths):
        # a longer list of lengths indexes past it, a shorter one keeps its first rows only
        if len(lengths) > input.shape[batch_dim]:
            if batch_dim == 0:          # (index_select's words differ by the dim)
                raise IndexError("index out of range in self")
            bad = next(int(i) for i in _sorted_order(lengths, False)
                       if i >= input.shape[batch_dim])
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} "
                               f"axis_dim={input.shape[batch_dim]}")
        input = input.narrow(batch_dim, 0, len(lengths))
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    if len(lengths) != input.shape[batch_dim]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={input.shape[batch_dim]})")
    # the last of the sorted lengths is checked before the order is
    if len(lengths) == 0 or (lengths[-1] if enforce_sorted else lengths.min()) <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    order = _sorted_order(lengths, enforce_sorted)
    sorted_lengths = lengths if order is None else lengths[order]
    steps = input.shape[1 - batch_dim]
    if sorted_lengths[0] > steps:
        raise RuntimeError(f"a length ({int(sorted_lengths[0])}) exceeds the padded input's "
                           f"{steps} time steps")
    batch = len(lengths)
    origin = np.arange(batch) if order is None else order
    # time-major, then by sorted position: the rows of data in the flattened input
    t, k = np.nonzero(np.arange(steps)[:, None] < sorted_lengths[None, :])
    rows = (origin[k] * steps + t) if batch_first else (t * batch + origin[k])
    flat = reshape(input, (batch * steps,) + tuple(input.shape[2:]))
    data = _gather_rows(flat, rows)
    sorted_indices = None if order is None else _int64(order).to(input.device)
    return PackedSequence(data, _int64(_batch_sizes(sorted_lengths)), sorted_indices, None)


def _lengths_of(batch_sizes):
    """Sorted sequence lengths from batch_sizes: lengths[k] = #steps with more than k rows."""
    bs = _host(batch_sizes)
    return (bs[None, :] > np.arange(int(bs[0]))[:, None]).sum(1)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo :func:`pack_padded_sequence`: (padded (T, B, *) or (B, T, *), lengths (B,) int64),
    in the original batch order, with T = ``total_length`` or the longest length and the
    steps past each sequence's end filled with ``padding_value``."""
    data, batch_sizes = sequence.data, sequence.batch_sizes
    sorted_lengths = _lengths_of(batch_sizes)
    longest, batch = len(_host(batch_sizes)), len(sorted_lengths)
    if total_length is not None:
        if total_length < longest:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {longest}")
        longest = total_length
    # row of data holding (step t, sorted position k); the appended padding row otherwise
    bs = _host(batch_sizes)
    start = np.concatenate([[0], np.cumsum(bs)[:-1]])
    t = np.arange(longest)[:, None]
    k = np.arange(batch)[None, :]
    valid = t < sorted_lengths[None, :]
    rows = np.where(valid, start[np.minimum(t, len(bs) - 1)] + k, len(data))
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        rows = rows[:, _host(unsorted)]               # columns back to the original order
        lengths = sorted_lengths[_host(unsorted)]
    else:
        lengths = sorted_lengths
    # PyTorch fills (T, B, *) and hands a batch-first caller its transposed view, unless the
    # batch is put back in order (an index_select: a fresh row-major copy)
    view_t = batch_first and unsorted is None
    if batch_first and not view_t:
        rows = rows.T
    pad_row = data.new_full((1,) + tuple(data.shape[1:]), padding_value)
    padded = _gather_rows(cat([data, pad_row], 0), rows.reshape(-1))
    padded = reshape(padded, rows.shape + tuple(data.shape[1:]))
    return (padded.transpose(0, 1) if view_t else padded), _int64(lengths)


def _into_slot(seq, trailing, dtype):
    """``seq`` as it is copied into its (L, *trailing) slot of the padded batch: converted to
    the first sequence's dtype and broadcast to the slot, with PyTorch's errors."""
    if seq.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    slot = (seq.shape[0],) + trailing
    if tuple(seq.shape) != slot:
        check_broadcasts_into(slot, tuple(seq.shape))
        seq = seq.expand(*slot)
    return seq if seq.dtype == dtype else seq.to(dtype)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors (L_i, *) of equal trailing shape into (max L, B, *) (``batch_first``:
    (B, max L, *)), each padded with ``padding_value`` after its end (``padding_side='left'``:
    before its start)."""
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    for k, seq in enumerate(sequences):          # PyTorch's parser: a list of tensors
        if not isinstance(seq, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 0, but got "
                            f"{python_type_name(seq)}")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if sequences[0].ndim == 0:
        raise RuntimeError("ArrayRef: invalid slice, N = 1; size = 0 (pad_sequence needs "
                           "sequences of at least one dim)")
    trailing = tuple(sequences[0].shape[1:])
    sequences = [sequences[0]] + [_into_slot(s, trailing, sequences[0].dtype)
                                  for s in sequences[1:]]
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    longest, total = int(lengths.max()), int(lengths.sum())
    start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    t = np.arange(longest)[:, None]
    offset = t if padding_side == "right" else t - (longest - lengths)[None, :]
    valid = (offset >= 0) & (offset < lengths[None, :])
    rows = np.where(valid, start[None, :] + offset, total)
    if batch_first:
        rows = rows.T
    first = sequences[0]
    pad_row = first.new_full((1,) + trailing, padding_value)
    padded = _gather_rows(cat(sequences + [pad_row], 0), rows.reshape(-1))
    return reshape(padded, rows.shape + trailing)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into its sequences: a list of (lengths[b], *) tensors.
    With ``batch_first=False`` the padded tensor is left transposed in place to (B, T, *),
    as PyTorch leaves it."""
    lengths = _host(lengths)
    if not batch_first:
        padded_sequences.transpose_(0, 1)
    # (PyTorch reads each by an index tensor of its steps: a fresh row-major copy)
    return [padded_sequences[b, :int(n)].clone(memory_format=contiguous_format)
            for b, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *): :func:`pad_sequence` then :func:`pack_padded_sequence`
    with lengths L_i."""
    lengths = [s.size(0) for s in sequences]       # (a 0-d one: size's IndexError)
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Undo :func:`pack_sequence`: the list of (L_i, *) tensors in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
