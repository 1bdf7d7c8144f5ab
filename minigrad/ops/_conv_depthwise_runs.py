"""1-d depthwise convolutions (``groups == C``) on *runs*: the outputs of an image and channel
cut into runs of ``RUN``, each run a window of x times a small Toeplitz matrix of the
channel's taps, so that all three maps are a few GEMMs per block with no copy per tap
(float32, one core, forward and both gradients of 16x128x1000: k9 stride 1 17.6 -> 9.8 ms
against the taps' passes, k3 stride 2 8.7 -> 8.1, k31 25 -> 8.6). ``Runs`` has the layout.

Only for numpy floats with finite x and w (``fits``): the Toeplitz matrix's zeros and the
padding's would turn an inf into NaNs that no tap makes; ``_conv_depthwise`` sends the rest
to its strided views.

    fits(a, b)                    whether the runs apply to these operands
    forward(x, w, b, geom, y)     x (N, C, L), w (C*m, 1, k) -> y (N, C*m, Lo), written
    input_grad(g, w, geom, gx)    g (N, C*m, Lo) -> gx (N, C, L), written
    weight_grad(x, g, geom)       -> gw (C*m, 1, k)
"""
from __future__ import annotations

import numpy as np

from ._conv_depthwise_blocks import each_block, finite
from ._workspace import workspace as _workspace

# Outputs per run. A run of B outputs reads a window of K = s (B - 1) + d (k - 1) + 1 inputs,
# and its GEMM spends about K multiply-adds per output where the taps need k: more outputs a
# run waste more arithmetic, fewer make the products too thin to run at speed (float32, one
# core, forward and both gradients of 16x128x1000: k9 stride 1, B = 8 10.5 ms, 16 9.9, 32
# 12.4; k3 stride 2, 8.1 / 8.8 / 11.2)
RUN = 16
# The runs' blocks hold about this many bytes of scratch (k3 stride 1 forward of
# 16x128x1000: 1 MB blocks 3.2 ms, 4 MB 2.6: fewer, longer calls)
RUN_BYTES = 4 << 20


def fits(a, b):
    """Whether the runs apply: numpy floats, and a and b finite (a zero of the Toeplitz
    matrix or of the padding times an inf would be a NaN that no tap makes)."""
    return (type(a) is np.ndarray and a.dtype.kind == "f" and finite(np, a) and
            finite(np, b))


class Runs:
    """The run layout of a 1-d depthwise geometry for a channel multiplier m.

    The outputs of an image and channel are cut into runs of ``B``; run j reads the window
    xpad[j*step : j*step + K] (step = s B), and its outputs are that window times the
    channel's Toeplitz matrix T (K, m*B), T[s r + t d, (i, r)] = w[c*m + i, t] (else 0).

    A window is ``pieces`` steps of xpad, and xpad is a channel's images end to end, ``per``
    runs of cells each (at least the padded length, so that a real output's window stays in
    its image): so piece q of every window of a block is one matrix, the block's xpad from
    q*step on, as (n*per, step) -- a view, no window copied::

        X (c, n*per*step + tail)     the block's padded images, channels first
        Y (c, n*per, m*B)  =  sum over pieces q of  X[:, q*step:][as (n*per, step)] @ T_q

    with T_q = T's rows q*step .. + step (the last piece: what is left of K, a narrower
    view of X's steps; ``reached`` names the columns it can touch). The input gradient runs the
    same products backwards: G @ T_q^T, added onto X from q*step on; the weight gradient
    X_q^T @ G gives T_q's entries, whose diagonals (s r + t d, r) are the taps' sums. The
    rows past an image's outputs (G's zeros there) read or write the next image's cells
    only through T's zeros."""

    def __init__(self, geom, m):
        (self.k,), (self.s,), (self.d,) = geom.kernel, geom.stride, geom.dilation
        ((self.left, _),) = geom.padding
        (self.L,), (self.Lo,), (Sp,) = geom.in_size, geom.out_size, geom.padded
        self.m = m
        self.B = min(RUN, self.Lo)
        self.runs = -(-self.Lo // self.B)
        self.step = self.s * self.B
        self.K = self.s * (self.B - 1) + self.d * (self.k - 1) + 1
        self.pieces = -(-self.K // self.step)
        self.per = max(self.runs, -(-Sp // self.step))

    def per_channel(self, itemsize):
        """Bytes of a block's scratch per image and channel."""
        return self.per * (self.step + 2 * self.m * self.B) * itemsize

    def toeplitz(self, w):
        """w (C*m, 1, k) -> T (C, K, m*B)."""
        C = w.shape[0] // self.m
        T = _workspace("runs-t", (C, self.K, self.m, self.B), w.dtype, np)
        T.fill(0)
        r = np.arange(self.B)
        taps = w.reshape(C, self.m, self.k)
        for t in range(self.k):                  # (B, C, m): tap t on every run position r
            T[:, self.s * r + t * self.d, :, r] = taps[:, :, t]
        return T.reshape(C, self.K, self.m * self.B)

    def padded(self, n, c, dtype):
        """A scratch X (c, n*per*step + tail), and its images (c, n, per*step): a view."""
        rows = n * self.per * self.step
        X = _workspace("runs-x", (c, rows + (self.pieces - 1) * self.step), dtype, np)
        return X, X[:, :rows].reshape(c, n, self.per * self.step)

    def spread(self, x):
        """x (n, c, L) -> X, zero-padded (see ``padded``)."""
        n, c = x.shape[:2]
        X, images = self.padded(n, c, x.dtype)
        images[:, :, :self.left] = 0
        images[:, :, self.left + self.L:] = 0
        images[:, :, self.left:self.left + self.L] = x.transpose(1, 0, 2)
        X[:, images.shape[1] * images.shape[2]:] = 0
        return X

    def grid(self, X, q):
        """X from q*step on, as (c, n*per, step): a view."""
        rows = X.shape[1] // self.step - self.pieces + 1
        return X[:, q * self.step:(q + rows) * self.step].reshape(X.shape[0], rows, self.step)

    def piece(self, X, q):
        """Piece q of every window: (c, n*per, width), a view (width: step, or what is left
        of K for the last piece)."""
        return self.grid(X, q)[:, :, :self.K - q * self.step]

    def rows(self, T, q):
        """T's rows that piece q multiplies."""
        return T[:, q * self.step:(q + 1) * self.step]

    def reached(self, q):
        """The columns (of m*B) that piece q's rows of T reach, where that is a run's last
        output alone (one output channel a channel, a piece one cell wide: k3 stride 2),
        else all. A product one cell deep over all the columns took twice piece 0's time;
        adding into 2-8 columns of each row, 3x the time of all 16."""
        if self.m == 1 and q > 0 and \
                self.s * (self.B - 2) + self.d * (self.k - 1) < q * self.step:
            return slice(self.B - 1, None)
        return slice(None)

    def _by_run(self, a):
        """a (n, c*m, Lo) as (n, c, m, Lo), and its full runs (n, c, m, runs', B): views."""
        n, c = a.shape[0], a.shape[1] // self.m
        flat = a.reshape(n, c, self.m, self.Lo)
        full = self.Lo // self.B
        return flat, flat[..., :full * self.B].reshape(n, c, self.m, full, self.B), full

    def gather(self, g):
        """g (n, c*m, Lo) -> G (c, n*per, m*B), zeros past the last output."""
        n, c = g.shape[0], g.shape[1] // self.m
        G = _workspace("runs-y", (c, n * self.per, self.m * self.B), g.dtype, np)
        into = G.reshape(c, n, self.per, self.m, self.B).transpose(1, 0, 3, 2, 4)
        flat, runs, full = self._by_run(g)
        into[:, :, :, :full] = runs
        into[:, :, :, full:] = 0
        if full < self.runs:                     # the last run, part outputs, part zeros
            into[:, :, :, full, :self.Lo - full * self.B] = flat[..., full * self.B:]
        return G

    def scatter(self, Y, out):
        """The inverse of ``gather``: out (n, c*m, Lo) = Y's outputs (the rest dropped)."""
        n, c = out.shape[0], out.shape[1] // self.m
        src = Y.reshape(c, n, self.per, self.m, self.B).transpose(1, 0, 3, 2, 4)
        flat, runs, full = self._by_run(out)
        runs[...] = src[:, :, :, :full]
        if full < self.runs:
            flat[..., full * self.B:] = src[:, :, :, full, :self.Lo - full * self.B]


def forward(x, w, b, geom, y):
    """The forward of a 1-d geometry on the runs: Y = sum of X_q @ T_q per block."""
    N, C = x.shape[:2]
    m = w.shape[0] // C
    lay = Runs(geom, m)
    T = lay.toeplitz(w)
    for n0, n1, c0, c1 in each_block(N, C, lay.per_channel(x.itemsize), RUN_BYTES):
        n, c = n1 - n0, c1 - c0
        X = lay.spread(x[n0:n1, c0:c1])
        Y = _workspace("runs-y", (c, n * lay.per, m * lay.B), x.dtype, np)
        np.matmul(lay.piece(X, 0), lay.rows(T[c0:c1], 0), out=Y)
        part = None
        for q in range(1, lay.pieces):
            cols = lay.reached(q)
            T_q = lay.rows(T[c0:c1], q)[:, :, cols]
            part = _workspace("runs-p", Y.shape[:2] + T_q.shape[2:], x.dtype, np)
            Y[:, :, cols] += np.matmul(lay.piece(X, q), T_q, out=part)
        out = y[n0:n1, c0 * m:c1 * m]
        lay.scatter(Y, out)
        if b is not None:
            out += b[c0 * m:c1 * m, None]
        del X, Y, part                 # the workspace is free again for the next block


def input_grad(g, w, geom, gx):
    """The input gradient of a 1-d geometry on the runs: per block and piece q, G @ T_q^T
    added onto X from q*step on (piece 0 writes every cell of the images, but those past
    a window shorter than the step: no fill)."""
    N, C = gx.shape[:2]
    m = w.shape[0] // C
    lay = Runs(geom, m)
    T = lay.toeplitz(w)
    for n0, n1, c0, c1 in each_block(N, C, lay.per_channel(g.itemsize), RUN_BYTES):
        n, c = n1 - n0, c1 - c0
        G = lay.gather(g[n0:n1, c0 * m:c1 * m])                    # (c, n*per, m*B)
        X, images = lay.padded(n, c, g.dtype)
        X[:, images.shape[1] * images.shape[2]:] = 0
        part = None
        np.matmul(G, lay.rows(T[c0:c1], 0).swapaxes(1, 2), out=lay.piece(X, 0))  # all rows
        lay.grid(X, 0)[:, :, lay.K:] = 0   # a window shorter than a step: cells none reads
        for q in range(1, lay.pieces):
            cols = lay.reached(q)
            T_q = lay.rows(T[c0:c1], q).swapaxes(1, 2)[:, cols]
            part = _workspace("runs-p", G.shape[:2] + T_q.shape[2:], g.dtype, np)
            lay.piece(X, q)[...] += np.matmul(G[:, :, cols], T_q, out=part)
        gx[n0:n1, c0:c1] = images[:, :, lay.left:lay.left + lay.L].transpose(1, 0, 2)
        del G, X, images, part         # the workspace is free again for the next block


def weight_grad(x, g, geom):
    """The weight gradient of a 1-d geometry on the runs: P = X_q^T @ G summed over the
    blocks, whose diagonals (s r + t d, r) hold tap t's products."""
    N, C = x.shape[:2]
    m = g.shape[1] // C
    lay = Runs(geom, m)
    P = _workspace("runs-wp", (C, lay.K, m * lay.B), x.dtype, np)
    P.fill(0)
    for n0, n1, c0, c1 in each_block(N, C, lay.per_channel(x.itemsize), RUN_BYTES):
        X = lay.spread(x[n0:n1, c0:c1])
        G = lay.gather(g[n0:n1, c0 * m:c1 * m])                    # (c, n*per, m*B)
        for q in range(lay.pieces):
            cols = lay.reached(q)
            rows = lay.rows(P[c0:c1], q)[:, :, cols]
            part = _workspace("runs-p", rows.shape, x.dtype, np)
            rows += np.matmul(lay.piece(X, q).swapaxes(1, 2), G[:, :, cols], out=part)
        del X, G, part                 # the workspace is free again for the next block
    r = np.arange(lay.B)
    P = P.reshape(C, -1, m, lay.B)
    gw = np.stack([P[:, lay.s * r + t * lay.d, :, r].sum(axis=0) for t in range(lay.k)],
                  axis=-1)                                         # (C, m, k)
    return gw.reshape(C * m, 1, lay.k)
