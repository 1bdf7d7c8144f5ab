"""One LSTM or GRU layer (one direction, all time steps) as a single graph node.

``rnn.py`` composes a layer of per-step nodes (a product, a sum and a fused cell a step,
and their backward one node at a time). That is exact and differentiable to any order, but
for a short hidden state the time goes to the per-node bookkeeping: a 2-layer LSTM of 128
units over 50 steps made ~700 nodes per forward. Here the whole recurrence is one node:

    forward   for t in order: pre_t = h W_hh^T + b_hh + xw_t, then the cell's formulas
              (``rnn.py``'s); the gates, the cell states and their tanh are kept
    backward  the factors of the cell's derivative that do not depend on the incoming
              gradient for every step at once, then the reverse sweep: per step d pre_t
              (a few products of (N, H) rows) and dh_prev = d pre_t W_hh; after it the
              weight gradient of all steps as ONE product d W_hh = sum_t d pre_t^T h_prev_t
              (a (G H, T N) @ (T N, H) GEMM), d b_hh the sum of d pre, d xw the stacked d pre.

Shapes: xw (T, N, G H) (the input projections of every step, G = 4 gates i, f, g, o for an
LSTM, 3 gates r, z, n for a GRU), h0 and c0 (N, H), w_hh (G H, H), b_hh (G H,).  ``reverse``
runs the steps T-1 .. 0 (a bidirectional layer's second direction).  Outputs: LSTM (2, T, N,
H), the h_t of every step then the c_t; GRU (T, N, H).  The values agree with the per-step
composition to rounding (the products are the same, their BLAS call is not).

The backward runs on arrays when it records no graph; with ``create_graph`` it runs the
layer again as ops from the saved inputs and takes the same formulas as ops, so gradients of
any order stay those of the composition.
"""
from __future__ import annotations

import numpy as np

from ...autograd import Function
from ...autograd.function import rename_node
from ...autograd.grad_mode import is_grad_enabled
from ...ops.elementary_functions import sigmoid, sigmoid_array, tanh
from ...ops.elementwise import add, mul, sub
from ...ops.matmul import linear
from ...ops.relu_clamp import relu
from ...ops.stacking import cat, chunk, stack, unbind
from ...tensor import Tensor

__all__ = ["fits", "lstm_layer", "gru_layer", "rnn_layer", "lstm_cell_grads", "gru_cell_grads",
           "gru_gates"]


def fits(xw, h0, c0, w_hh, b_hh):
    """Numpy float32/float64 operands of one dtype (the layer's kernels run on arrays)."""
    arrays = [t._array for t in (xw, h0, w_hh) + ((c0,) if c0 is not None else ()) +
              ((b_hh,) if b_hh is not None else ())]
    dtype = arrays[0].dtype
    return dtype in (np.float32, np.float64) and all(
        type(a) is np.ndarray and a.dtype == dtype for a in arrays)


def lstm_cell_grads(gates, c, dh, dc, tanh_of, cat_of):
    """The gradients of an LSTM step's pre-activations and of c from those of h' and c':
    gates = (i, f, g, o) activated; c' = f c + i g, h' = o tanh(c'):
        dc' = dc + dh o (1 - tanh(c')^2),  do = dh tanh(c'),  dc_prev = dc' f,
        d pre = (dc' g i (1 - i), dc' c f (1 - f), dc' i (1 - g^2), do o (1 - o)).
    Arithmetic by operators, so it runs on numpy arrays (tanh_of = numpy.tanh) and as ops
    on tensors alike (the latter differentiable again)."""
    i, f, g, o = gates
    tc = tanh_of(f * c + i * g)
    total = dc + dh * o * (1 - tc * tc)
    pre = cat_of([total * g * (i * (1 - i)), total * c * (f * (1 - f)),
                  total * i * (1 - g * g), dh * tc * (o * (1 - o))])
    return pre, total * f


def gru_cell_grads(r, z, n, hn, h, g, cat_of):
    """The gradients of a GRU step's input and hidden projections xw, hw (each (..., 3 H))
    and of h from that of h' (g); r, z, n the gates, hn the hidden projection's n part:
        h' = (1 - z) n + z h,  n = tanh(xn + r hn),  r, z = sigmoid(xr + hr), sigmoid(...)
        dn = g (1 - z) (1 - n^2),  dr = dn hn r (1 - r),  dz = g (h - n) z (1 - z)
        d xw = (dr, dz, dn),  d hw = (dr, dz, dn r),  dh = g z
    By operators: on numpy arrays and as ops alike (``lstm_cell_grads``)."""
    dn = g * (1 - z) * (1 - n * n)
    dr = dn * hn * (r * (1 - r))
    dz = g * (h - n) * (z * (1 - z))
    return cat_of([dr, dz, dn]), cat_of([dr, dz, dn * r]), g * z


def gru_gates(xw, hw, size):
    """r, z, n and hn of GRU steps on arrays (xw, hw (..., 3 H)), computed as the composition
    computes them."""
    rz = sigmoid_array(xw[..., :2 * size] + hw[..., :2 * size])
    hn = hw[..., 2 * size:]
    n = np.tanh(xw[..., 2 * size:] + rz[..., :size] * hn)
    return rz[..., :size], rz[..., size:], n, hn


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _previous(states, first, reverse):
    """The state each step starts from, stacked (T, N, H): ``first`` then the states of the
    steps before it in processing order."""
    if reverse:
        return np.concatenate([states[1:], first[None]], 0)
    return np.concatenate([first[None], states[:-1]], 0)


def _weight_grads(d_pre, h_prev, with_bias):
    """d W_hh = sum over steps and rows of d_pre^T h_prev (one GEMM), d b_hh = sum d_pre."""
    G, H = d_pre.shape[-1], h_prev.shape[-1]
    dw = d_pre.reshape(-1, G).T @ h_prev.reshape(-1, H)
    return dw, (d_pre.reshape(-1, G).sum(0) if with_bias else None)


class _LstmLayer(Function):
    def forward(self, xw, h0, c0, *bias_weight, reverse=False):
        # (b_hh, w_hh) or (w_hh,): the bias first, so that the parameters' gradients complete
        # in PyTorch's order (its step's addmm gives the bias's before the weight's)
        self.save_for_backward(xw, h0, c0, *bias_weight)
        w_hh, b_hh = bias_weight[-1], (bias_weight[0] if len(bias_weight) == 2 else None)
        T, N, G = xw.shape
        H = G // 4
        out = np.empty((2, T, N, H), xw.dtype)          # h_t, then c_t, of every step
        acts = np.empty((T, N, G), xw.dtype)            # each step's gates i, f, g, o
        tanh_c = np.empty((T, N, H), xw.dtype)
        pre = np.empty((N, G), xw.dtype)
        w_t = np.ascontiguousarray(w_hh.T)     # (numpy's product of a transposed view is
        h, c = h0, c0                           # slower for these small row counts)
        for t in _steps(T, reverse):
            np.matmul(h, w_t, out=pre)
            if b_hh is not None:
                pre += b_hh
            pre += xw[t]
            a = acts[t]
            a[...] = sigmoid_array(pre)
            np.tanh(pre[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            np.multiply(a[:, H:2 * H], c, out=out[1, t])
            out[1, t] += a[:, :H] * a[:, 2 * H:3 * H]
            np.tanh(out[1, t], out=tanh_c[t])
            np.multiply(a[:, 3 * H:], tanh_c[t], out=out[0, t])
            h, c = out[0, t], out[1, t]
        # the backward reads the gates and cell states as made here (the c_t are not handed
        # out: only a copy of the last is, so nothing can change them in place)
        self.acts, self.tanh_c, self.cells, self.reverse = acts, tanh_c, out[1], reverse
        return out

    def backward(self, grad):
        saved = self.saved_tensors
        xw, h0, c0, w_hh = saved[0], saved[1], saved[2], saved[-1]
        b_hh = saved[3] if len(saved) == 5 else None
        if is_grad_enabled() or type(grad._array) is not np.ndarray or \
                grad._array.dtype != xw._array.dtype:
            grads = _lstm_backward_ops(grad, xw, h0, c0, w_hh, b_hh, self.reverse)
        else:
            grads = [Tensor._wrap(v) if v is not None else None for v in _lstm_backward_arrays(
                grad._array, self.acts, self.tanh_c, self.cells, h0._array, c0._array,
                w_hh._array, b_hh is not None, self.reverse)]
        d_xw, d_h0, d_c0, d_w, d_b = grads
        return (d_xw, d_h0, d_c0) + ((d_b, d_w) if b_hh is not None else (d_w,))


def _lstm_backward_arrays(grad, acts, tanh_c, c, h0, c0, w_hh, with_bias, reverse):
    """The layer's gradients on arrays from the forward's gates ``acts`` (T, N, 4 H), cell
    states ``c`` and their tanh (T, N, H): grad (2, T, N, H) of (h_t, c_t) -> d xw, d h0,
    d c0, d w_hh, d b_hh.  ``lstm_cell_grads``' formulas with every factor that does not
    depend on the incoming gradients computed for all steps at once, so that a step of the
    sweep is a few products on (N, H) rows and one GEMM."""
    T, N, G = acts.shape
    H = G // 4
    i, f, g, o = acts[..., :H], acts[..., H:2 * H], acts[..., 2 * H:3 * H], acts[..., 3 * H:]
    c_prev = _previous(c, c0, reverse)
    h_prev = _previous(o * tanh_c, h0, reverse)
    through_c = o * (1 - tanh_c * tanh_c)           # dc' = dc + dh o (1 - tanh(c')^2)
    slopes = np.empty((T, N, 4, H), acts.dtype)     # d pre = (dc' ., dc' ., dc' ., dh .)
    np.multiply(g, i * (1 - i), out=slopes[:, :, 0])
    np.multiply(c_prev, f * (1 - f), out=slopes[:, :, 1])
    np.multiply(i, 1 - g * g, out=slopes[:, :, 2])
    np.multiply(tanh_c, o * (1 - o), out=slopes[:, :, 3])
    d_pre = np.empty((T, N, 4, H), acts.dtype)
    dh, dc = None, None
    for t in reversed(_steps(T, reverse)):
        dh = grad[0, t] if dh is None else grad[0, t] + dh
        total = grad[1, t] + dh * through_c[t] if dc is None else \
            grad[1, t] + dc + dh * through_c[t]
        np.multiply(total[:, None, :], slopes[t, :, :3], out=d_pre[t, :, :3])
        np.multiply(dh, slopes[t, :, 3], out=d_pre[t, :, 3])
        dc = total * f[t]
        dh = d_pre[t].reshape(N, G) @ w_hh
    d_pre = d_pre.reshape(T, N, G)
    dw, db = _weight_grads(d_pre, h_prev, with_bias)
    return d_pre, dh, dc, dw, db


def _lstm_backward_ops(grad, xw, h0, c0, w_hh, b_hh, reverse):
    """The same gradients as ops (differentiable again): the layer is run once more as the
    per-step composition from its inputs, and the sweep is taken on those tensors."""
    T = xw.shape[0]
    xs = unbind(xw, 0)
    gates, c_prev, h_prev = [None] * T, [None] * T, [None] * T
    h, c = h0, c0
    for t in _steps(T, reverse):
        i, f, g, o = chunk(add(xs[t], linear(h, w_hh, b_hh)), 4, -1)
        gates[t] = (sigmoid(i), sigmoid(f), tanh(g), sigmoid(o))
        c_prev[t], h_prev[t] = c, h
        c = add(mul(gates[t][1], c), mul(gates[t][0], gates[t][2]))
        h = mul(gates[t][3], tanh(c))
    gh, gc = unbind(grad, 0)
    gh, gc = unbind(gh, 0), unbind(gc, 0)
    d_pre = [None] * T
    dh_carry = dc_carry = None
    for t in reversed(_steps(T, reverse)):
        dh, dc = gh[t], gc[t]
        if dh_carry is not None:
            dh, dc = add(dh, dh_carry), add(dc, dc_carry)
        d_pre[t], dc_carry = lstm_cell_grads(gates[t], c_prev[t], dh, dc, tanh,
                                              lambda p: cat(p, -1))
        dh_carry = d_pre[t] @ w_hh
    d_pre = stack(d_pre, 0)
    G, H = d_pre.shape[-1], h0.shape[-1]
    dw = d_pre.reshape(-1, G).mT @ stack(h_prev, 0).reshape(-1, H)
    db = d_pre.reshape(-1, G).sum(0) if b_hh is not None else None
    return d_pre, dh_carry, dc_carry, dw, db


class _GruLayer(Function):
    def forward(self, xw, h0, *bias_weight, reverse=False):
        self.save_for_backward(xw, h0, *bias_weight)        # (b_hh, w_hh): see _LstmLayer
        w_hh, b_hh = bias_weight[-1], (bias_weight[0] if len(bias_weight) == 2 else None)
        T, N, G = xw.shape
        H = G // 3
        out = np.empty((T, N, H), xw.dtype)
        hw = np.empty((T, N, G), xw.dtype)
        w_t = np.ascontiguousarray(w_hh.T)
        h = h0
        for t in _steps(T, reverse):
            np.matmul(h, w_t, out=hw[t])
            if b_hh is not None:
                hw[t] += b_hh
            r, z, n, _ = gru_gates(xw[t], hw[t], H)
            np.multiply(1.0 - z, n, out=out[t])
            out[t] += z * h
            h = out[t]
        self.hw, self.reverse = hw, reverse
        return out

    def backward(self, grad):
        saved = self.saved_tensors
        xw, h0, w_hh = saved[0], saved[1], saved[-1]
        b_hh = saved[2] if len(saved) == 4 else None
        if is_grad_enabled() or type(grad._array) is not np.ndarray or \
                grad._array.dtype != xw._array.dtype:
            grads = _gru_backward_ops(grad, xw, h0, w_hh, b_hh, self.reverse)
        else:
            grads = [Tensor._wrap(v) if v is not None else None for v in _gru_backward_arrays(
                grad._array, xw._array, self.hw, h0._array, w_hh._array, b_hh is not None,
                self.reverse)]
        d_xw, d_h0, d_w, d_b = grads
        return (d_xw, d_h0) + ((d_b, d_w) if b_hh is not None else (d_w,))


def _gru_backward_arrays(grad, xw, hw, h0, w_hh, with_bias, reverse):
    """The layer's gradients on arrays: grad (T, N, H) of the h_t -> d xw, d h0, d w_hh,
    d b_hh.  ``gru_cell_grads``' formulas with the factors that do not depend on the incoming
    gradient computed for all steps at once."""
    T, N, G = xw.shape
    H = G // 3
    r, z, n, hn = gru_gates(xw, hw, H)
    h = np.empty((T, N, H), xw.dtype)       # the states again, as the forward made them
    state = h0
    for t in _steps(T, reverse):
        np.multiply(1.0 - z[t], n[t], out=h[t])
        h[t] += z[t] * state
        state = h[t]
    h_prev = _previous(h, h0, reverse)
    to_n = (1 - z) * (1 - n * n)                    # dn = g (1 - z) (1 - n^2)
    to_r = hn * (r * (1 - r))                       # dr = dn hn r (1 - r)
    to_z = (h_prev - n) * (z * (1 - z))             # dz = g (h - n) z (1 - z)
    d_xw, d_hw = np.empty_like(xw), np.empty_like(hw)
    carry = None
    for t in reversed(_steps(T, reverse)):
        g = grad[t] if carry is None else grad[t] + carry
        dn = g * to_n[t]
        np.multiply(dn, to_r[t], out=d_xw[t, :, :H])
        np.multiply(g, to_z[t], out=d_xw[t, :, H:2 * H])
        d_xw[t, :, 2 * H:] = dn
        d_hw[t, :, :2 * H] = d_xw[t, :, :2 * H]
        np.multiply(dn, r[t], out=d_hw[t, :, 2 * H:])
        carry = g * z[t]
        carry += d_hw[t] @ w_hh
    dw, db = _weight_grads(d_hw, h_prev, with_bias)
    return d_xw, carry, dw, db


def _gru_backward_ops(grad, xw, h0, w_hh, b_hh, reverse):
    """As ``_lstm_backward_ops``, for a GRU layer."""
    T = xw.shape[0]
    xs, gs = unbind(xw, 0), unbind(grad, 0)
    parts, h_prev = [None] * T, [None] * T
    h = h0
    for t in _steps(T, reverse):
        hw = linear(h, w_hh, b_hh)
        xr, xz, xn = chunk(xs[t], 3, -1)
        hr, hz, hn = chunk(hw, 3, -1)
        r, z = sigmoid(add(xr, hr)), sigmoid(add(xz, hz))
        n = tanh(add(xn, mul(r, hn)))
        parts[t], h_prev[t] = (r, z, n, hn), h
        h = add(mul(sub(1.0, z), n), mul(z, h))
    d_xw, d_hw = [None] * T, [None] * T
    carry = None
    for t in reversed(_steps(T, reverse)):
        g = gs[t] if carry is None else add(gs[t], carry)
        d_xw[t], d_hw[t], direct = gru_cell_grads(*parts[t], h_prev[t], g,
                                                   lambda p: cat(p, -1))
        carry = add(direct, d_hw[t] @ w_hh)
    d_hw = stack(d_hw, 0)
    G, H = d_hw.shape[-1], h0.shape[-1]
    dw = d_hw.reshape(-1, G).mT @ stack(h_prev, 0).reshape(-1, H)
    db = d_hw.reshape(-1, G).sum(0) if b_hh is not None else None
    return stack(d_xw, 0), carry, dw, db


class _RnnLayer(Function):
    """An Elman layer: h_t = act(xw_t + h_{t-1} W_hh^T + b_hh), act tanh or relu."""
    def forward(self, xw, h0, *bias_weight, reverse=False, nonlinearity="tanh"):
        # bias_weight: (b_hh, w_hh) or (w_hh,), see _LstmLayer
        w_hh, b_hh = bias_weight[-1], (bias_weight[0] if len(bias_weight) == 2 else None)
        T = xw.shape[0]
        out = np.empty((T,) + h0.shape, xw.dtype)
        w_t = np.ascontiguousarray(w_hh.T)
        h = h0
        for t in _steps(T, reverse):
            pre = out[t]
            np.matmul(h, w_t, out=pre)
            if b_hh is not None:
                pre += b_hh
            pre += xw[t]
            if nonlinearity == "tanh":
                np.tanh(pre, out=pre)
            else:
                np.maximum(pre, 0, out=pre)     # (NaN stays NaN, as relu's)
            h = pre
        self.reverse, self.nonlinearity = reverse, nonlinearity
        # the h_t are handed out: saved as the output (version-checked), not as an attribute
        self.save_for_backward(xw, h0, *bias_weight, out)
        return out

    def backward(self, grad):
        saved = self.saved_tensors
        xw, h0, w_hh, out = saved[0], saved[1], saved[-2], saved[-1]
        b_hh = saved[2] if len(saved) == 5 else None
        if is_grad_enabled() or type(grad._array) is not np.ndarray or \
                grad._array.dtype != xw._array.dtype:
            grads = _rnn_backward_ops(grad, xw, h0, w_hh, b_hh, self.reverse, self.nonlinearity)
        else:
            grads = [Tensor._wrap(v) if v is not None else None for v in _rnn_backward_arrays(
                grad._array, out._array, h0._array, w_hh._array, b_hh is not None,
                self.reverse, self.nonlinearity)]
        d_xw, d_h0, d_w, d_b = grads
        return (d_xw, d_h0) + ((d_b, d_w) if b_hh is not None else (d_w,))


def _rnn_backward_arrays(grad, out, h0, w_hh, with_bias, reverse, nonlinearity):
    """grad (T, N, H) of the h_t -> d xw, d h0, d w_hh, d b_hh: d pre_t = dh_t act'(pre_t),
    act' = 1 - h_t^2 for tanh, [h_t > 0] for relu."""
    slope = 1 - out * out if nonlinearity == "tanh" else (out > 0).astype(out.dtype)
    d_pre = np.empty_like(out)
    carry = None
    for t in reversed(_steps(out.shape[0], reverse)):
        dh = grad[t] if carry is None else grad[t] + carry
        np.multiply(dh, slope[t], out=d_pre[t])
        carry = d_pre[t] @ w_hh
    dw, db = _weight_grads(d_pre, _previous(out, h0, reverse), with_bias)
    return d_pre, carry, dw, db


def _rnn_backward_ops(grad, xw, h0, w_hh, b_hh, reverse, nonlinearity):
    """As ``_lstm_backward_ops``, for an Elman layer."""
    act = tanh if nonlinearity == "tanh" else relu
    T = xw.shape[0]
    xs, gs = unbind(xw, 0), unbind(grad, 0)
    slopes, h_prev = [None] * T, [None] * T
    h = h0
    for t in _steps(T, reverse):
        h_prev[t] = h
        h = act(add(xs[t], linear(h, w_hh, b_hh)))
        slopes[t] = sub(1.0, mul(h, h)) if nonlinearity == "tanh" else (h > 0).to(h.dtype)
    d_pre, carry = [None] * T, None
    for t in reversed(_steps(T, reverse)):
        dh = gs[t] if carry is None else add(gs[t], carry)
        d_pre[t] = mul(dh, slopes[t])
        carry = d_pre[t] @ w_hh
    d_pre = stack(d_pre, 0)
    G, H = d_pre.shape[-1], h0.shape[-1]
    dw = d_pre.reshape(-1, G).mT @ stack(h_prev, 0).reshape(-1, H)
    db = d_pre.reshape(-1, G).sum(0) if b_hh is not None else None
    return d_pre, carry, dw, db


def lstm_layer(xw, h0, c0, w_hh, b_hh, reverse):
    """One LSTM layer direction as one node: -> (output (T, N, H), h_T, c_T), each its own
    tensor (an in-place change of one leaves the others, as PyTorch's separate outputs)."""
    args = (xw, h0, c0) + ((w_hh,) if b_hh is None else (b_hh, w_hh))
    out = _LstmLayer.apply(*args, reverse=reverse)
    hs, cs = unbind(out, 0)
    rename_node(hs, "StackBackward0")       # PyTorch's layer stacks its steps' outputs
    last = 0 if reverse else xw.shape[0] - 1
    return hs, hs[last].clone(), cs[last].clone()


def gru_layer(xw, h0, w_hh, b_hh, reverse):
    """One GRU layer direction as one node: -> (output (T, N, H), h_T as its own tensor)."""
    args = (xw, h0) + ((w_hh,) if b_hh is None else (b_hh, w_hh))
    out = rename_node(_GruLayer.apply(*args, reverse=reverse), "StackBackward0")
    return out, out[0 if reverse else xw.shape[0] - 1].clone()


def rnn_layer(xw, h0, w_hh, b_hh, reverse, nonlinearity):
    """One Elman layer direction as one node: -> (output (T, N, H), h_T as its own tensor)."""
    args = (xw, h0) + ((w_hh,) if b_hh is None else (b_hh, w_hh))
    out = _RnnLayer.apply(*args, reverse=reverse, nonlinearity=nonlinearity)
    out = rename_node(out, "StackBackward0")
    return out, out[0 if reverse else xw.shape[0] - 1].clone()
