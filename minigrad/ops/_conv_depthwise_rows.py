"""Depthwise 2-d convolutions with a row stride, as matrix products over *row chunks*: no
copy per tap or per shift, x read once into a channels-first scratch.

With a row stride sh, cut each image's padded rows into chunks of sh rows. Output row i
reads padded rows sh i + di dh, that is row r = (di dh) % sh of chunk i + e, e = (di dh) //
sh: so for each e, output row i is chunk i + e (its rows that the taps read, side by side)
times a fixed matrix of the channel's taps, the same for every row and image::

    Y (rows, m Wo)  =  sum over e of  B_e (rows, K_e) @ H_e (K_e, m Wo)

    B_e[q]        = chunk q + e of the channel's images laid end to end, its rows
                    r0_e .. r1_e (K_e = (r1_e - r0_e + 1) W numbers): a view of the scratch,
                    one row every sh W numbers
    H_e[(r, col), (j, jo)] = w[c m + j, di, dj]   where r = (di dh) % sh, col = sw jo + dj dw
                             - left (x's column; the padding's columns hold zeros, so they
                             are left out), else 0

    3x3, stride 2, padding 1:  e = 0 reads rows 2i, 2i + 1 (taps di = 0, 1), K = 2 W;
                               e = 1 reads row 2i + 2 of the next chunk (di = 2), K = W

q runs over (image, chunk): the rows of a channel's GEMM are all its images' output rows
(and the few chunks past an image's last output row, computed and dropped). The taps' column
stride, dilation and padding are all in H_e, whose zeros make it about W / kw times the
arithmetic the taps need (84 multiply-adds an output for a 3x3 on 28 columns, not 9): this
trades arithmetic, which a GEMM does fast, for passes over memory. Float32, one core,
32x128x28x28 3x3 stride 2 (CPU time on a loaded machine): forward 7.8 -> 4.1 ms against the
bands (``_conv_bands``: x padded, then three shifted copies of it at the stride), input
gradient 6.8 -> 4.9 against the lanes, weight gradient 6.2 -> 4.0 against the phase planes'
dot products; 32x512x7x7 stride 2, 11.4 -> 4.6 for all three. ``fits`` says which shapes
it takes: planes of at most MAX_WIDTH columns (the gradients MAX_GRAD_WIDTH), batches of
enough rows.

The same chunks give the other two maps: the input gradient is G @ H_e^T added onto chunk
q + e (G: g on the same rows, zeros on the rows dropped; all e in one product, see
``input_grad``), the weight gradient B_e^T @ G, whose entries at ((r, col), (j, jo)) are
tap (di, dj)'s products summed over the rows.

H_e's zeros times an inf or NaN of x or g would be NaNs that no tap makes: ``forward``
reports whether its products came out finite (then they are exact: an output whose products
include an inf or NaN factor, 0 * inf too, is itself inf or NaN), ``input_grad`` whether g
was finite (w must be), and ``weight_grad``'s caller keeps a finite result only; the caller
makes the others again on another formulation.

    fits(x, geom, m)              whether this formulation is taken
    forward(x, w, b, geom, y)     x (N, C, H, W) -> y (N, C*m, Ho, Wo), written; exact?
    input_grad(g, w, geom, gx)    g (N, C*m, Ho, Wo) -> gx (N, C, H, W), written; exact?
    weight_grad(x, g, geom)       -> gw (C*m, 1, kh, kw)
"""
from __future__ import annotations

import functools

import numpy as np

from ._conv_depthwise_blocks import each_block, finite
from ._workspace import workspace as _workspace

# A block's scratch (its chunks, and the products) holds about this many bytes
ROWS_BYTES = 2 << 20
# Each channel's GEMM has at least this many rows (images x chunks): with fewer the chunks
# ran no faster than the other formulations (float32 on one core, forward and both
# gradients: 4x64x28x28 stride 2, 60 rows, 1.22 against 1.13 ms; 8x16x24x24, 104 rows,
# float64, 0.72 / 0.69; 6x64x28x28, 90 rows, 1.43 / 1.86)
MIN_ROWS = 128
# At most this many input columns: the GEMMs' arithmetic grows with W (K_e is whole rows).
# Float32, one core, 3x3 stride 2, against the bands (forward) and the phase planes and lanes
# (gradients): 32x64x32x32 forward 4.5 -> 2.4 ms, input gradient 3.4 / 3.4, weight gradient
# 3.7 -> 2.6; 16x96x56x56 9.1 / 12.0, 10.1 / 7.9, 8.9 / 8.2; 16x32x64x64 3.4 / 4.2, 4.0 /
# 3.0, 3.6 / 2.9
MAX_WIDTH = 64                 # the forward
MAX_GRAD_WIDTH = 40            # the gradients


def fits(x, geom, m, widest=MAX_WIDTH):
    """Whether the row chunks take this convolution: 2-d, a row stride, numpy floats, at
    least MIN_ROWS rows a channel's GEMM, at most ``widest`` input columns."""
    if len(geom.kernel) != 2 or geom.stride[0] < 2 or type(x) is not np.ndarray or \
            x.dtype.kind != "f" or x.ndim != 4 or geom.in_size[1] > widest:
        return False
    return x.shape[0] * layout(geom, m).per >= MIN_ROWS


@functools.lru_cache(maxsize=32)
def layout(geom, m):
    """The ``Chunks`` of a geometry, worked out once (with their placement matrices)."""
    return Chunks(geom, m)


class Chunks:
    """The chunk layout of a geometry for a channel multiplier m: ``per`` chunks of ``sh``
    padded rows an image, x's rows ``0 .. rows`` at padded row ``top`` of them, and per
    chunk offset e (``groups``): (e, r0, r1, [(di, r)]) for the taps' rows."""

    def __init__(self, geom, m):
        (self.kh, self.kw), (self.sh, self.sw) = geom.kernel, geom.stride
        self.dh, self.dw = geom.dilation
        (self.top, _), (self.left, _) = geom.padding
        self.H, self.W = geom.in_size
        self.Ho, self.Wo = geom.out_size
        self.m = m
        last = self.sh * (self.Ho - 1) + self.dh * (self.kh - 1) + 1    # padded rows read
        self.per = -(-last // self.sh)
        # x's rows that some output reads sit in the chunks; the rest get no gradient
        self.rows = max(0, min(self.H, self.per * self.sh - self.top))
        by_e = {}
        for di in range(self.kh):
            e, r = divmod(di * self.dh, self.sh)
            by_e.setdefault(e, []).append((di, r))
        self.groups = [(e, min(r for _, r in taps), max(r for _, r in taps), taps)
                       for e, taps in sorted(by_e.items())]
        self._placed = {}              # dtype -> per group, see ``placed``

    def per_channel(self, n, itemsize):
        """Bytes of a block's scratch per channel, for n images: the chunks, and the
        products (m Wo numbers a chunk, twice)."""
        return n * self.per * (self.sh * self.W + 2 * self.m * self.Wo) * itemsize

    def matrices(self, w):
        """w (c*m, 1, kh, kw) -> [H_e (c, K_e, m Wo)] (see the module docstring): each the
        taps times a 0/1 matrix that places them (``placed``), one small GEMM, no Python
        loop over the taps."""
        c = w.shape[0] // self.m
        taps = w.reshape(c, self.m, self.kh * self.kw)
        out = []
        for i, E in enumerate(self.placed(w.dtype)):              # (taps, K_e Wo)
            H = np.matmul(taps, E, out=_workspace(f"rows-h{i}", (c, self.m, E.shape[1]),
                                                  w.dtype, np))    # (c, m, K_e Wo)
            H = H.reshape(c, self.m, -1, self.Wo).transpose(0, 2, 1, 3)
            out.append(H.reshape(c, -1, self.m * self.Wo))     # (a copy only for m > 1)
        return out

    def placed(self, dtype):
        """Per group: E (taps, K_e Wo), E[t, (k, jo)] = 1 where tap t = di kw + dj reads
        row k of B_e for output column jo (x's column real), else 0. (At most one 1 in a
        column: the products with E, and with E^T, are exact.)"""
        dtype = np.dtype(dtype)
        known = self._placed.get(dtype)
        if known is None:              # (published whole: the threads share the layout)
            known = []
            for (_, r0, r1, _), (k, jo, t) in zip(self.groups, self._entries()):
                E = np.zeros((self.kh * self.kw, (r1 - r0 + 1) * self.W, self.Wo), dtype)
                E[t, k, jo] = 1
                known.append(E.reshape(E.shape[0], -1))
            self._placed[dtype] = known
        return known

    def _entries(self):
        """Per group: the entries of H_e that hold a tap, as (row k of K_e, output column
        jo, tap di kw + dj), every (di, dj, jo) whose column of x is real."""
        out = []
        jo = np.arange(self.Wo)
        for _, r0, _, rows in self.groups:
            k, j, t = [], [], []
            for di, r in rows:
                for dj in range(self.kw):
                    col = self.sw * jo + dj * self.dw - self.left
                    ok = (col >= 0) & (col < self.W)
                    k.append((r - r0) * self.W + col[ok])
                    j.append(jo[ok])
                    t.append(np.full(int(ok.sum()), di * self.kw + dj))
            out.append((np.concatenate(k), np.concatenate(j), np.concatenate(t)))
        return out

    def chunks(self, x, kind):
        """x (n, c, H, W) -> the scratch (c, n per, sh W): each image's padded rows, zeros
        above and below x's."""
        n, c = x.shape[:2]
        B = _workspace(kind, (c, n, self.per * self.sh, self.W), x.dtype, np)
        top, rows = min(self.top, self.per * self.sh), self.rows
        B[:, :, :top] = 0
        B[:, :, top + rows:] = 0
        B[:, :, top:top + rows] = x[:, :, :rows].swapaxes(0, 1)
        return B.reshape(c, n * self.per, self.sh * self.W)

    def view(self, flat, group):
        """B_e: the rows of every chunk from the e-th on that group e's taps read, a view
        (c, n per - e, K_e)."""
        e, r0, r1, _ = group
        return flat[:, e:, r0 * self.W:(r1 + 1) * self.W]

    def stacked(self, g, kind):
        """g (n, c*m, Ho, Wo) -> (c, n per, groups m Wo): row q holds, for each chunk offset
        e (group i), g's output row q - e of the same image (zeros where there is none)."""
        n, c = g.shape[0], g.shape[1] // self.m
        groups = len(self.groups)
        G = _workspace(kind, (c, n, self.per, groups, self.m, self.Wo), g.dtype, np)
        rows = g.reshape(n, c, self.m, self.Ho, self.Wo).transpose(1, 0, 3, 2, 4)
        for i, (e, _, _, _) in enumerate(self.groups):
            G[:, :, :e, i] = 0
            G[:, :, e + self.Ho:, i] = 0
            G[:, :, e:e + self.Ho, i] = rows
        return G.reshape(c, n * self.per, groups * self.m * self.Wo)

    def gathered(self, g, kind):
        """g (n, c*m, Ho, Wo) -> G (c, n per, m Wo): g on the chunks' rows, zeros on the
        chunks past the last output row."""
        n, c = g.shape[0], g.shape[1] // self.m
        G = _workspace(kind, (c, n, self.per, self.m, self.Wo), g.dtype, np)
        G[:, :, self.Ho:] = 0
        G[:, :, :self.Ho] = g.reshape(n, c, self.m, self.Ho, self.Wo).transpose(1, 0, 3, 2, 4)
        return G.reshape(c, n * self.per, self.m * self.Wo)


def forward(x, w, b, geom, y):
    """y = x (*) w + b into y (N, C*m, Ho, Wo), per block of channels: the chunks, a GEMM
    per chunk offset, the products added. Returns whether y is exact: False (y partly
    written) as soon as a block's products are not all finite."""
    N, C = x.shape[:2]
    m = w.shape[0] // C
    lay = layout(geom, m)
    yv = y.reshape(N, C, m, lay.Ho, lay.Wo)
    rows = N * lay.per
    for _, _, c0, c1 in each_block(1, C, lay.per_channel(N, x.itemsize), ROWS_BYTES):
        c = c1 - c0
        flat = lay.chunks(x[:, c0:c1], "rows-b")
        mats = lay.matrices(w[c0 * m:c1 * m])    # (the block's channels: all, tens of MB)
        Y = _workspace("rows-y", (c, rows, m * lay.Wo), x.dtype, np)
        part = None
        for i, group in enumerate(lay.groups):
            e = group[0]
            if i == 0:                         # (e = 0: tap row 0 reads chunk i itself)
                np.matmul(lay.view(flat, group), mats[i], out=Y)
            else:
                part = _workspace("rows-p", (c, rows - e, m * lay.Wo), x.dtype, np)
                Y[:, :rows - e] += np.matmul(lay.view(flat, group), mats[i], out=part)
        if b is not None:              # (on Y, contiguous and in cache: not on y's view)
            Y.reshape(c, rows, m, lay.Wo)[...] += b.reshape(C, 1, m, 1)[c0:c1]
        if not finite(np, Y):          # (in cache; its dropped rows too: stricter than y)
            return False
        out = yv[:, c0:c1].transpose(1, 0, 3, 2, 4)                   # (c, N, Ho, m, Wo)
        out[...] = Y.reshape(c, N, lay.per, m, lay.Wo)[:, :, :lay.Ho]
        del flat, mats, Y, part        # the workspace is free again for the next block
    return True


def input_grad(g, w, geom, gx):
    """gx (N, C, H, W) = the transposed convolution of g, per block of channels in one GEMM:
    chunk q of gx's padded rows is the sum over e of G[q - e] @ H_e^T, so with g's rows laid
    side by side at every shift e (``stacked``) it is one product, written once (against a
    product per e added onto the chunks: float32, one core, 32x128x28x28 3x3 stride 2, 7.4
    -> 4.9 ms); then x's rows copied out. w must be finite (H_e's zeros); so must g: False
    (gx partly written) as soon as a block of g is not, else True."""
    N, C = gx.shape[:2]
    m = w.shape[0] // C
    lay = layout(geom, m)
    top, real = min(lay.top, lay.per * lay.sh), lay.rows
    if real < lay.H:                   # rows of x that no output reads
        gx[:, :, real:] = 0
    for _, _, c0, c1 in each_block(1, C, lay.per_channel(N, g.itemsize), ROWS_BYTES):
        c = c1 - c0
        G = lay.stacked(g[:, c0 * m:c1 * m], "rows-y")   # (c, N per, groups m Wo)
        if not finite(np, G):          # (in cache: a block of g, a few times over)
            return False
        B = _workspace("rows-b", (c, N * lay.per, lay.sh * lay.W), g.dtype, np)
        mats = _transposed(lay, lay.matrices(w[c0 * m:c1 * m]))    # (c, groups m Wo, sh W)
        np.matmul(G, mats, out=B)
        images = B.reshape(c, N, lay.per * lay.sh, lay.W)
        gx[:, c0:c1, :real] = images[:, :, top:top + real].swapaxes(0, 1)
        del G, B, mats, images         # the workspace is free again for the next block
    return True


def _transposed(lay, mats):
    """[H_e] -> one matrix (C, groups m Wo, sh W): group i's rows hold H_e^T in the columns
    of the chunk's rows r0_e .. r1_e, zeros elsewhere."""
    C, mw = mats[0].shape[0], lay.m * lay.Wo
    out = _workspace("rows-t", (C, len(lay.groups), mw, lay.sh * lay.W), mats[0].dtype, np)
    out.fill(0)
    for i, ((_, r0, r1, _), H) in enumerate(zip(lay.groups, mats)):
        out[:, i, :, r0 * lay.W:(r1 + 1) * lay.W] = H.swapaxes(1, 2)
    return out.reshape(C, -1, lay.sh * lay.W)


def weight_grad(x, g, geom):
    """gw (C*m, 1, kh, kw): per block of channels, P = B_e^T @ G per chunk offset, and each
    tap's entries of P summed by a product with E^T (``Chunks.placed``: the entries where
    the tap's column meets each output column). Exact where finite."""
    N, C = x.shape[:2]
    m = g.shape[1] // C
    lay = layout(geom, m)
    rows = N * lay.per
    gw = np.zeros((C, m, lay.kh * lay.kw), dtype=x.dtype)
    for _, _, c0, c1 in each_block(1, C, lay.per_channel(N, x.itemsize), ROWS_BYTES):
        c = c1 - c0
        flat = lay.chunks(x[:, c0:c1], "rows-b")
        G = lay.gathered(g[:, c0 * m:c1 * m], "rows-y")
        for group, E in zip(lay.groups, lay.placed(x.dtype)):
            e = group[0]
            B_e = lay.view(flat, group).swapaxes(1, 2)
            P = np.matmul(B_e, G[:, :rows - e], out=_workspace(
                "rows-p", B_e.shape[:2] + (G.shape[2],), x.dtype, np))
            P = P.reshape(c, -1, m, lay.Wo).transpose(0, 2, 1, 3)     # (c, m, K_e, Wo)
            gw[c0:c1] += np.matmul(P.reshape(c, m, -1), E.T)       # (a copy only for m > 1)
            del B_e, P                 # rows-p is free again for the next group
        del flat, G                    # the workspace is free again for the next block
    return gw.reshape(C * m, 1, lay.kh, lay.kw)
