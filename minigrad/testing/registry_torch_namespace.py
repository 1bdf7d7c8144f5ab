"""Registry entries for torch's top-level nn kernels: the recurrences on flat weight lists
(``torch.lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu`` and their ``_cell`` forms,
minigrad/nn/_functional_rnn.py), ``torch.embedding_bag`` (its output; the bookkeeping
outputs are integer) and ``torch.segment_reduce``: forward, gradients and second derivatives against torch and finite
differences."""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample
_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def _recurrence(mode):
    """``f(lib, x, h, [c,] *params, layers=, bidirectional=, batch_first=, bias=)``."""
    def f(lib, x, h, *rest, layers=1, bidirectional=False, batch_first=False, bias=True):
        hx, params = ((h, rest[0]), rest[1:]) if mode == "lstm" else (h, rest)
        return getattr(lib, mode)(x, hx, list(params), bias, layers, 0.0, False,
                                  bidirectional, batch_first)
    return f


def _recurrence_samples(mode):
    def samples(g):
        gates, n, t, i, h = _GATES[mode], 2, 3, 3, 2
        for layers, bidirectional, bias, batch_first in ((1, False, True, False),
                                                         (2, True, False, True)):
            d = 2 if bidirectional else 1
            params = []
            for layer in range(layers):
                width = i if layer == 0 else d * h
                for _ in range(d):
                    params += [g.randn(gates * h, width), g.randn(gates * h, h)]
                    params += [g.randn(gates * h), g.randn(gates * h)] if bias else []
            states = [g.randn(layers * d, n, h)] * (2 if mode == "lstm" else 1)
            yield S(g.randn(*((n, t, i) if batch_first else (t, n, i))), *states, *params,
                    kwargs=dict(layers=layers, bidirectional=bidirectional,
                                batch_first=batch_first, bias=bias),
                    desc=f"{layers} layers, bidirectional={bidirectional}, bias={bias}")
    return samples


def _cell(mode):
    def f(lib, x, h, *rest):
        hx, weights = ((h, rest[0]), rest[1:]) if mode == "lstm" else (h, rest)
        return getattr(lib, f"{mode}_cell")(x, hx, *weights)
    return f


def _cell_samples(mode):
    def samples(g):
        gates, n, i, h = _GATES[mode], 3, 4, 2
        states = [g.randn(n, h)] * (2 if mode == "lstm" else 1)
        weights = [g.randn(gates * h, i), g.randn(gates * h, h)]
        yield S(g.randn(n, i), *states, *weights, g.randn(gates * h), g.randn(gates * h))
        yield S(g.randn(n, i), *states, *weights, desc="no biases")
    return samples


for _mode in _GATES:
    register(_mode, _recurrence(_mode), _recurrence_samples(_mode), family="nn")
    register(f"{_mode}_cell", _cell(_mode), _cell_samples(_mode), family="nn")
del _mode


def _embedding_bag_samples(g):
    indices, offsets = np.array([0, 2, 4, 1, 3, 3]), np.array([0, 2, 2, 5])
    for mode in (0, 1, 2):
        yield S(g.randn(5, 3), indices, offsets, mode, desc=f"mode {mode}")
    yield S(g.randn(5, 3), indices, offsets, 0, g.randn(6), desc="per-sample weights")


register("torch.embedding_bag",
         lambda lib, w, idx, off, mode, psw=None: lib.embedding_bag(w, idx, off, False, mode,
                                                                     False, psw)[0],
         _embedding_bag_samples, family="nn",
         second_order="finite differences")   # torch's backward has no derivative of its own


def _segment_reduce_samples(g):
    for reduce in ("sum", "mean", "max", "min", "prod"):
        yield S(g.randn(5, 2), np.array([2, 1, 2]), reduce, desc=reduce)
        # an empty segment takes the initial value (without one: NaN or inf for some)
        yield S(g.randn(5), np.array([2, 0, 3]), reduce, 0.5, desc=f"{reduce}, initial")
    yield S(g.randn(2, 4, 3), np.array([[1, 3], [2, 2]]), "mean", None, 1, desc="axis 1")


# torch's backward of segment_reduce has no derivative of its own
register("segment_reduce",
         lambda lib, x, lengths, reduce, initial=None, axis=0: lib.segment_reduce(
             x, reduce, lengths=lengths, axis=axis, initial=initial),
         _segment_reduce_samples, second_order="finite differences")


def _norm_except_dim_samples(g):
    yield S(g.randn(4, 3, 2, 2), 2, 0, desc="a conv weight, dim 0")
    yield S(g.randn(3, 5), 2, 1, desc="last dim")
    yield S(g.randn(2, 3, 4), 3, 1, desc="a middle dim, pow 3")
    yield S(g.randn(3, 4), 2, -1, desc="the whole tensor")
    yield S(g.randn(5), 1, 0, desc="1-d, pow 1")


register("norm_except_dim", lambda lib, v, p, dim: lib.norm_except_dim(v, p, dim),
         _norm_except_dim_samples)


def _weight_norm_samples(g):
    yield S(g.randn(4, 3, 2), g.randn(4, 1, 1), 0, desc="dim 0")
    yield S(g.randn(3, 5), g.randn(1, 5), 1, desc="last dim")
    yield S(g.randn(3, 4), g.randn(1, 1), -1, desc="the whole tensor")


# torch's fused kernel (dim >= 0) has a second derivative that finite differences of its own
# gradient do not bear out (dim -1, its composed path, agrees): checked against those instead
register("_weight_norm", lambda lib, v, gain, dim: lib._weight_norm(v, gain, dim),
         _weight_norm_samples, second_order="finite differences")


def _fake_quantize_samples(g):
    # the forward is a staircase: its gradient is PyTorch's straight-through one (1 inside
    # the clamp range, 0 outside), which finite differences do not see (fd=False)
    yield S(g.randn(3, 4) * 3, 0.1, 0, -128, 127, fd=False, desc="int8 range")
    yield S(g.randn(2, 5) * 30, 0.25, 3, 0, 255, fd=False, desc="uint8 range, clamped")
    yield S(g.randn(6) * 2, 0.5, -2, -8, 7, fd=False, desc="4-bit, 1-d")
    # every value past the clamp range, away from it: there both agree the slope is 0
    yield S(np.sign(g.randn(3, 4)) * (20 + np.abs(g.randn(3, 4))), 0.1, 0, -128, 127,
            desc="clamped everywhere")


register("fake_quantize_per_tensor_affine",
         lambda lib, x, scale, zero_point, low, high: lib.fake_quantize_per_tensor_affine(
             x, scale, zero_point, low, high), _fake_quantize_samples)


def _fake_quantize_channel_samples(g):
    # (scales and zero points as numbers: PyTorch takes float32 scales and int32 zero points
    # only, where the harness would hand float64 arrays)
    yield S(g.randn(3, 4, 2) * 4, (0.1, 0.2, 0.5), (0, 1, -1), 0, -128, 127, fd=False,
            desc="axis 0")
    yield S(g.randn(2, 5) * 20, (0.3, 0.1, 0.2, 0.25, 0.5), (0, 2, 4, 1, 3), 1, 0, 255,
            fd=False, desc="axis 1, clamped")
    yield S(np.sign(g.randn(2, 3)) * (200 + np.abs(g.randn(2, 3))), (0.1, 0.2, 0.5),
            (0, 1, -1), 1, -128, 127, desc="clamped everywhere")


register("fake_quantize_per_channel_affine",
         lambda lib, x, scale, zero_point, axis, low, high:
         lib.fake_quantize_per_channel_affine(
             x, lib.tensor(scale, dtype=lib.float32), lib.tensor(zero_point, dtype=lib.int32),
             axis, low, high),
         _fake_quantize_channel_samples)
