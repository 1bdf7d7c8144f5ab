"""The array kernels of a whole-sequence GRU or Elman layer (``_rnn_layers._GruLayer``,
``_RnnLayer``): the forward recurrence and the reverse sweep of the backward, on numpy arrays,
as ``_lstm_kernels.py`` runs an LSTM's.

A step is a few numpy calls into buffers made once per layer (``_lstm_kernels.scratch``): no
array is allocated inside the recurrence, and whatever does not depend on the previous step
is done for every step at once before it (the input projections plus the hidden bias, the
gates' derivative factors). A GRU's sigmoid gates r, z come out of tanh (sigmoid(p) =
(1 + tanh(p / 2)) / 2, their columns of the inputs and of the recurrent weight halved once,
exactly): one tanh and a multiply-add by constants instead of an exp and a division.
"""
from __future__ import annotations

import numpy as np

from ._lstm_kernels import per_step, scratch, step_has_grad

__all__ = ["gru_forward", "gru_backward", "elman_forward", "elman_backward"]


def gru_forward(xw, h0, w_hh, b_hh, steps, folded=False):
    """xw (S, 3 H) packed (``_rnn_layers._Steps``), h0 (N, H), w_hh (3 H, H), b_hh (3 H,)
    or None -> (out (S, H) the h_t, acts (S, 3 H) the gates r, z, n, hn (S, H) the hidden
    projection's n part (its bias included)):
        r, z = sigmoid(x_rz + h W_rz^T + b_rz),  hn = h W_n^T + b_n,  n = tanh(x_n + r hn),
        h' = (1 - z) n + z h = n + z (h - n).
    ``folded``: xw's r and z columns hold (x_rz + b_rz) / 2 already (``_rnn_layers``'
    projections), read as they are."""
    S, G = xw.shape
    H, dtype = G // 3, xw.dtype
    half = np.array(0.5, dtype)
    if folded:
        pre = xw[:, :2 * H]
    else:
        pre = scratch("gru_pre", (S, 2 * H), dtype)        # (x_rz + b_rz) / 2
        if b_hh is None:
            np.multiply(xw[:, :2 * H], half, out=pre)
        else:
            np.add(xw[:, :2 * H], b_hh[:2 * H], out=pre)
            pre *= half
    b_n = None if b_hh is None else b_hh[2 * H:]
    w_t = np.array(w_hh.T, dtype, order="C")          # (H, 3 H), r and z columns halved
    w_t[:, :2 * H] *= half
    out = scratch("gru_out", (S, H), dtype)
    acts = scratch("gru_acts", (S, G), dtype)
    hn_all = scratch("gru_hn", (S, H), dtype)
    N = h0.shape[0]
    hw, diff = np.empty((N, G), dtype), np.empty((N, H), dtype)
    h = h0 if steps.uniform else h0.copy()
    cuts = {}                   # a step's rows of hw and diff, its columns of hw, by b
    for _, b, rz, r, z, n, hn, p, x_n, h_new in per_step(
            steps, False, acts[:, :2 * H], acts[:, :H], acts[:, H:2 * H], acts[:, 2 * H:],
            hn_all, pre, xw[:, 2 * H:], out):
        hb = h if b == N else h[:b]
        if b not in cuts:
            cuts[b] = (hw[:b], hw[:b, :2 * H], hw[:b, 2 * H:], diff[:b])
        m, m_rz, m_n, d = cuts[b]
        np.matmul(hb, w_t, out=m)
        if b_n is None:
            hn[...] = m_n
        else:
            np.add(m_n, b_n, out=hn)
        np.add(m_rz, p, out=rz)
        np.tanh(rz, out=rz)
        rz *= half
        rz += half
        np.multiply(r, hn, out=n)
        n += x_n
        np.tanh(n, out=n)
        np.subtract(hb, n, out=d)
        d *= z
        np.add(n, d, out=h_new)
        if steps.uniform:
            h = h_new
        else:
            h[:b] = h_new
    return out, acts, hn_all


def gru_backward(grad, acts, hn, h_prev, w_hh, steps, N):
    """grad (S, H) of the h_t -> d xw (S, 3 H), d hw (S, 3 H) (the hidden projection's,
    bias included), d h0 (N, H); ``_rnn_layers.gru_cell_grads``' formulas:
        dn = g (1 - z) (1 - n^2),  dr = dn hn r (1 - r),  dz = g (h - n) z (1 - z),
        d xw = (dr, dz, dn),  d hw = (dr, dz, dn r),  dh = g z + d hw W_hh
    with the factors that do not depend on g for every step at once."""
    S, G = acts.shape
    H, dtype = G // 3, acts.dtype
    r, z, n = acts[:, :H], acts[:, H:2 * H], acts[:, 2 * H:]
    to_n = scratch("gru_to_n", (S, H), dtype)          # (1 - z) (1 - n^2)
    to_r = scratch("gru_to_r", (S, H), dtype)          # hn r (1 - r)
    to_z = scratch("gru_to_z", (S, H), dtype)          # (h - n) z (1 - z)
    tmp = scratch("gru_tmp", (S, H), dtype)
    np.multiply(n, n, out=to_n)
    np.subtract(1, to_n, out=to_n)
    np.subtract(1, z, out=tmp)
    to_n *= tmp
    np.subtract(1, r, out=to_r)
    to_r *= r
    to_r *= hn
    np.subtract(1, z, out=to_z)
    to_z *= z
    np.subtract(h_prev, n, out=tmp)
    to_z *= tmp
    d_xw = np.empty((S, G), dtype)
    d_hw = np.empty((S, G), dtype)
    dh_state = np.zeros((N, H), dtype)
    g_b, carry = np.empty((N, H), dtype), np.empty((N, H), dtype)
    with_g = step_has_grad(grad, steps)
    for t, b, g_t, tn, tr, tz, r_t, z_t, dn, dhw, dhw_r, dhw_z, dhw_n in per_step(
            steps, True, grad, to_n, to_r, to_z, r, z, d_xw[:, 2 * H:], d_hw, d_hw[:, :H],
            d_hw[:, H:2 * H], d_hw[:, 2 * H:]):
        dh_s, c = (dh_state, carry) if b == N else (dh_state[:b], carry[:b])
        g = np.add(g_t, dh_s, out=g_b[:b]) if with_g[t] else dh_s
        np.multiply(g, tn, out=dn)
        np.multiply(dn, tr, out=dhw_r)
        np.multiply(g, tz, out=dhw_z)
        np.multiply(dn, r_t, out=dhw_n)
        np.multiply(g, z_t, out=c)
        # (g may be dh_s itself: it is read for the last time above)
        np.matmul(dhw, w_hh, out=dh_s)
        dh_s += c
    d_xw[:, :2 * H] = d_hw[:, :2 * H]
    return d_xw, d_hw, dh_state


def elman_forward(xw, h0, w_hh, b_hh, steps, nonlinearity):
    """h_t = act(xw_t + h_{t-1} W_hh^T + b_hh), act tanh or relu -> out (S, H)."""
    out = np.empty((xw.shape[0], h0.shape[1]), xw.dtype)
    pre = xw if b_hh is None else np.add(xw, b_hh, out=scratch("elman_pre", xw.shape,
                                                                  xw.dtype))
    w_t = np.ascontiguousarray(w_hh.T)
    h, N = (h0 if steps.uniform else h0.copy()), h0.shape[0]
    for _, b, p, x in per_step(steps, False, out, pre):
        np.matmul(h if b == N else h[:b], w_t, out=p)
        p += x
        if nonlinearity == "tanh":
            np.tanh(p, out=p)
        else:
            np.maximum(p, 0, out=p)     # (NaN stays NaN, as relu's)
        if steps.uniform:
            h = p
        else:
            h[:b] = p
    return out


def elman_backward(grad, out, h0, w_hh, steps, nonlinearity):
    """grad (S, H) of the h_t -> d pre (S, H), d h0 (N, H): d pre_t = dh_t act'(pre_t),
    act' = 1 - h_t^2 for tanh, [h_t > 0] for relu."""
    if nonlinearity == "tanh":
        slope = np.multiply(out, out, out=scratch("elman_slope", out.shape, out.dtype))
        np.subtract(1, slope, out=slope)
    else:
        slope = (out > 0).astype(out.dtype)
    d_pre = np.empty_like(out)
    dh_state = np.zeros_like(h0)
    g_b = np.empty_like(h0)
    with_g = step_has_grad(grad, steps)
    N = h0.shape[0]
    for t, b, g_t, s_t, d in per_step(steps, True, grad, slope, d_pre):
        dh_s = dh_state if b == N else dh_state[:b]
        g = np.add(g_t, dh_s, out=g_b[:b]) if with_g[t] else dh_s
        np.multiply(g, s_t, out=d)
        np.matmul(d, w_hh, out=dh_s)
    return d_pre, dh_state
