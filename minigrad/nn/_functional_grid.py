"""``affine_grid`` and ``grid_sample``: spatial transformers' sampling, composed from
differentiable ops (gradients flow to the input and, for bilinear sampling, to the grid).

Coordinates are normalised to [-1, 1] over the input's extent: with ``align_corners=True``
-1 and 1 are the centres of the corner pixels, with ``False`` their outer edges.  The grid's
last dim lists (x, y[, z]), i.e. the spatial dims in reverse (W, H[, D]).
"""
from __future__ import annotations

import itertools

import numpy as np

from .._warn_once import warn_user
from .. import _autocast_state, backend, dtypes
from .._range_factories import linspace
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ..ops import activation as A
from ..ops._autocast_cast import widen as _autocast_widen
from ..ops._util import ieee, ieee_errors, not_implemented_for, scalar_type_name
from . import _grid_cells

__all__ = ["affine_grid", "grid_sample"]


def _align_warning(name, align_corners):
    if align_corners is None:
        # PyTorch's words (the same for both functions)
        warn_user("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if "
                  "the old behavior is desired. See the documentation of grid_sample for "
                  "details.", UserWarning)
        return False
    return bool(align_corners)


def _prod_of(sizes):
    """The product of a list of sizes (1 for none)."""
    total = 1
    for s in sizes:
        total *= s
    return total


def _base_coords(xp, n, align_corners, dtype):
    """The n normalised pixel-centre coordinates along one dim (0 for a single pixel):
    torch.linspace(-1, 1, n) in theta's dtype, times (n - 1) / n for align_corners=False,
    each operation rounded in that dtype as PyTorch's are (numpy's linspace rounds its
    second half differently, which moves a point that should sit on a pixel centre by an
    ulp and flips the floor grid_sample takes of it)."""
    if n <= 1:
        return xp.zeros(n, dtype=dtype.np)
    coords = linspace(-1.0, 1.0, n, dtype=dtype)._array
    if not align_corners:
        kind = coords.dtype.type
        coords = coords * kind(n - 1) / kind(n)
    return xp.asarray(coords)


def affine_grid(theta, size, align_corners=None):
    """Sampling grid of an affine map: theta (N, 2, 3) with size (N, C, H, W) -> (N, H, W, 2),
    or theta (N, 3, 4) with size (N, C, D, H, W) -> (N, D, H, W, 3); each output point is
    theta @ (x, y[, z], 1) for its own normalised coordinates."""
    align_corners = _align_warning("affine_grid", align_corners)
    if theta._array.dtype.kind not in "fV":
        raise ValueError(f"Expected theta to have floating point type, but got "
                         f"{theta.dtype}")
    given, size = size, list(size)          # the messages print ``size`` as it was given
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {given}.")
    k = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (k, k + 1):
        raise ValueError(f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} for "
                         f"size {given}. Got {theta.shape}.")
    if align_corners and min(size[2:]) == 1:
        # a unit-size axis has no span to align corners over (PyTorch warns, then goes on)
        warn_user("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                  "grids when align_corners=True. This is not an intended use case of "
                  "affine_grid. See the documentation of affine_grid for details.",
                  UserWarning)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {given}")
    if theta._array.dtype.itemsize == 2 and min(size[2:]) <= 1:
        # PyTorch makes a unit axis's coordinate as a 0-d tensor, which it has no 16-bit way to
        raise not_implemented_for("tensor_cpu", theta._array.dtype)
    if theta.shape[0] != size[0]:           # PyTorch's batched matmul refuses it
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{size[0]}, {k + 1}] but got: [{theta.shape[0]}, {k + 1}].")
    base = _base_grid(theta, size[2:], align_corners)
    # under autocast a bmm in PyTorch's kernel: theta and the base grid in the reduced dtype
    lowered = _autocast_state.target_for(theta) if _autocast_state.active else None
    return _AffineGridGenerator.apply(theta, base=base, size=tuple(size),
                                      align_corners=align_corners,
                                      lowered=None if lowered is None else lowered.np)


def _base_grid(like, spatial, align_corners):
    """The (1, points, k + 1) array of homogeneous normalised coordinates (x first, then y[,
    z], then 1) of every output point, in ``like``'s dtype and on its device."""
    xp = backend.xp_of(like._array)
    # one axis per spatial dim; the homogeneous point lists x (last dim) first
    axes = [_base_coords(xp, n, align_corners, like.dtype) for n in spatial]
    mesh = xp.meshgrid(*axes, indexing="ij")
    base = xp.stack(list(mesh[::-1]) + [xp.ones(tuple(spatial), dtype=like._array.dtype)],
                    axis=-1)
    return backend.to_device(base.reshape(1, -1, len(spatial) + 1), like.device)


class _AffineGridGenerator(Function):
    """affine_grid's product as one node, AffineGridGeneratorBackward0: theta (N, k, k + 1)
    -> grid = base @ theta^T reshaped to (N, *spatial, k); d theta = g^T @ base. As
    PyTorch's, it keeps no tensor for backward (the base grid is made again from the sizes),
    so its graph can be backpropagated through more than once."""
    _node_name = "AffineGridGeneratorBackward0"

    def forward(self, theta, *, base, size, align_corners, lowered=None):
        self.size, self.align_corners = size, align_corners
        if lowered is not None:     # (autocast) both rounded to it, the product in float32
            theta, base = (dtypes.astype(dtypes.astype(a, lowered), np.float32)
                           for a in (theta, base))
        grid = dtypes.astype(base, theta.dtype) @ theta.transpose(0, 2, 1)
        grid = grid.reshape(size[:1] + size[2:] + (len(size) - 2,))
        return grid if lowered is None else dtypes.astype(grid, lowered)

    def backward(self, g):
        n, spatial = self.size[0], list(self.size[2:])
        base = Tensor._wrap(_base_grid(g, spatial, self.align_corners))
        return g.reshape(n, -1, len(spatial)).transpose(1, 2) @ base


def _unnormalize(coord, n, align_corners, fused=False):
    """A normalised coordinate in [-1, 1] as a source index in pixels: (coord + 1) (n - 1) / 2
    with ``align_corners``, else (coord + 1) n / 2 - 1/2.  PyTorch's 2-d CPU kernel (``fused``)
    computes the latter as one fused multiply-add, rounded once, and its 3-d kernel as
    ((coord + 1) n - 1) / 2, rounded three times.  The difference is an ulp, but at a pixel
    centre (where the identity ``affine_grid`` puts every sample) it decides which side of
    bilinear interpolation's kink the grid's gradient takes, so both are followed."""
    if align_corners:
        return (coord + 1) * ((n - 1) / 2.0)
    if not fused or coord._array.dtype not in (np.float32, np.float64) or \
            type(coord._array) is not np.ndarray:
        return ((coord + 1) * n - 1) / 2.0
    x = (coord + 1) * (n / 2.0) - 0.5
    # its value moved to the singly rounded one: the difference (an ulp or two) is exact,
    # and so is the sum; the gradient stays n / 2 (an infinite or NaN x stays as it is)
    with np.errstate(invalid="ignore"):
        shift = _fused_index(coord._array, n) - x._array
    return x + Tensor._wrap(np.where(np.isfinite(shift), shift, 0).astype(shift.dtype))


def _fused_index(coord, n):
    """fma(coord + 1, n / 2, -1/2) on arrays, coord + 1 rounded first, as PyTorch's kernel.
    float32: the product is exact in float64, and the float64 difference rounds to float32
    as the fused operation does (short of a double-rounding tie). float64: the product's
    rounding error by Dekker's exact product, the subtraction's by Knuth's two-sum, their
    sum added once at the end."""
    a = coord + coord.dtype.type(1)
    half_n = np.float64(n / 2.0)
    if a.dtype == np.float32:
        return (a.astype(np.float64) * half_n - 0.5).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):          # (inf and NaN pass through)
        p = a * half_n
        a_hi, a_lo = _split(a)
        b_hi, b_lo = _split(half_n)
        err = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo    # a b - p
        s = p - 0.5
        back = s - p
        t = (p - (s - back)) + (-0.5 - back)                    # (p - 1/2) - s
        out = s + (t + err)
    return np.where(np.isfinite(p), out, s)


def _split(v):
    """v as hi + lo, each of at most 26 significant bits (Veltkamp's split), exactly."""
    big = v * 134217729.0                                       # 2^27 + 1
    hi = big - (big - v)
    return hi, v - hi


def _reflect(coord, low2, high2):
    """Reflect ``coord`` into [low2/2, high2/2] (bounds given doubled, as half-pixels)."""
    if low2 == high2:
        return coord * 0.0
    low, span = low2 / 2.0, (high2 - low2) / 2.0
    dist = (coord - low).abs()
    flips = (dist / span).detach().floor()
    extra = dist - flips * span                   # fmod(dist, span), gradient 1
    with ieee_errors():                           # an infinite coordinate: NaN, silently
        odd = Tensor._wrap((flips._array % 2) == 1)
    return (extra + low).where(~odd, (extra * -1.0) + (span + low))


def _source_coord(coord, n, padding_mode, align_corners, fused=False):
    x = _unnormalize(coord, n, align_corners, fused)
    if padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (n - 1)) if align_corners else _reflect(x, -1, 2 * n - 1)
    if padding_mode in ("border", "reflection"):
        x = A.hardtanh(x, 0.0, float(n - 1))       # gradient 0 on and beyond the border
        # a NaN coordinate (or an infinite one, reflected) reads the first pixel, as PyTorch
        x = x.where(x == x, 0.0)
    return x


# the cubic convolution kernel's free parameter (Keys' a), the value bicubic sampling uses
_CUBIC_A = -0.75


def _cubic_weights(t):
    """The 4 weights of taps at distances 1 + t, t, 1 - t, 2 - t from the point (t in [0, 1)):
    |d| <= 1: ((a + 2)|d| - (a + 3)) d^2 + 1;  1 < |d| < 2: a(|d|^3 - 5 d^2 + 8|d| - 4)."""
    a = _CUBIC_A

    def near(d):
        return ((d * (a + 2.0)) - (a + 3.0)) * d * d + 1.0

    def far(d):
        return (((d * a) - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a

    return [far(t + 1.0), near(t), near((t * -1.0) + 1.0), far((t * -1.0) + 2.0)]


def _padded_tap(pos, n, padding_mode, align_corners):
    """An integer tap position (array) moved inside [0, n - 1] by the padding mode; 'zeros'
    leaves it (the gather reads 0 outside)."""
    if padding_mode == "reflection":
        t = Tensor._wrap(pos)
        pos = (_reflect(t, 0, 2 * (n - 1)) if align_corners else
               _reflect(t, -1, 2 * n - 1))._array
    if padding_mode in ("border", "reflection"):
        xp = backend.xp_of(pos)
        pos = xp.clip(pos, 0, n - 1)
    return pos


def _bilinear_corners(ix, iy, h, w):
    """The 4 taps of bilinear sampling at source pixel coordinates ix, iy (N, P) of an
    (h, w) image, in the order (y0, x0), (y0, x1), (y1, x0), (y1, x1): per tap its flat
    pixel index (N, P) int64 (clamped inside; 0 for a NaN coordinate), its validity (inside
    the image) as 0/1 in the coordinates' dtype, whether it is the upper tap in y and in x.
    Plus the fractions fx, fy (N, P): the upper taps' weights."""
    x0, y0 = np.floor(ix), np.floor(iy)
    fx, fy = ix - x0, iy - y0
    corners = []
    for up_y, up_x in itertools.product((0, 1), repeat=2):
        py, px = y0 + up_y, x0 + up_x
        valid = (py >= 0) & (py < h) & (px >= 0) & (px < w)
        # fmax: a NaN position (invalid, weight 0) reads index 0, not a garbage index
        index = np.minimum(np.fmax(py, 0), h - 1).astype(np.int64) * w
        index += np.minimum(np.fmax(px, 0), w - 1).astype(np.int64)
        corners.append((index, valid.astype(ix.dtype), up_y, up_x))
    return corners, fx, fy


class _BilinearSample2d(Function):
    """grid_sample's bilinear 4-D case as one node: input (N, C, H, W) read at source pixel
    coordinates ix, iy (N, P) (unnormalised, padding mode applied: ops of the grid before
    this node) -> (N, C, P). The composition made ~100 nodes of gathers and products.

        out = sum over the 4 taps of input[tap] * valid * w_y * w_x,
              w = f for the upper tap, 1 - f for the lower (f = coordinate - floor)
        d input: each tap's g * weight added at its pixel
        d ix = sum over channels of g * sum over taps of +-input[tap] * valid * w_y
               (+ for the upper tap in x), and d iy alike with w_x

    The forward's products and sums are those of the composition, in its order (so the values
    are the same numbers), and so are the grid's gradients' sums over the taps. Without a
    recorded graph both directions run on arrays by cells (``_grid_cells``: the input copied
    once into a zero-padded image of pixel rows, the points sorted once by the cell they
    fall in, the input's gradient summed cell by cell); under create_graph the backward runs
    as ops (gather, scatter_add), so second derivatives come out of it."""
    @ieee                                   # NaN and infinite coordinates: silently
    def forward(self, inp, ix, iy):
        self.save_for_backward(inp, ix, iy)
        return _grid_cells.sample(inp, _grid_cells.cell_layout(ix, iy, *inp.shape[2:]))

    def backward(self, g):
        inp, ix, iy = self.saved_tensors
        arrays = (inp._array, ix._array, iy._array, g._array)
        if not is_grad_enabled() and all(type(a) is np.ndarray for a in arrays) and \
                g._array.dtype == inp._array.dtype:
            return self._grads_arrays(*arrays)
        return self._grads_ops(inp, ix, iy, g)

    @ieee
    def _grads_arrays(self, inp, ix, iy, g):
        n, c, h, w = inp.shape
        cells = _grid_cells.cell_layout(ix, iy, h, w)
        want_in, want_x, want_y = self.needs_input_grad
        g_rows = np.ascontiguousarray(g.transpose(0, 2, 1)).reshape(-1, c)     # (N P, C)
        gx = gy = gin = None
        if want_x or want_y:
            gx, gy = _grid_cells.coordinate_grads(_grid_cells.padded_rows(inp), g_rows, cells,
                                                  want_x, want_y)
        if want_in:
            gin = Tensor._wrap(_grid_cells.input_grad(g_rows, cells, inp.shape))
        return (gin, None if gx is None else Tensor._wrap(gx.reshape(ix.shape)),
                None if gy is None else Tensor._wrap(gy.reshape(iy.shape)))

    def _grads_ops(self, inp, ix, iy, g):
        n, c, h, w = inp.shape
        with ieee_errors():
            corners, _, _ = _bilinear_corners(ix._array, iy._array, h, w)
        fx = ix - Tensor._wrap(np.floor(ix._array))                 # floor held constant
        fy = iy - Tensor._wrap(np.floor(iy._array))
        flat = inp.reshape(n, c, h * w)
        gin = gx = gy = None
        for index, valid, up_y, up_x in corners:
            wy = fy if up_y else (fy * -1.0) + 1.0
            wx = fx if up_x else (fx * -1.0) + 1.0
            valid = Tensor._wrap(backend.to_device(valid, inp.device))
            taps = Tensor._wrap(backend.to_device(
                np.ascontiguousarray(np.broadcast_to(index[:, None, :], (n, c, index.shape[1]))),
                inp.device))
            if self.needs_input_grad[0]:
                spread = flat.new_zeros(flat.shape).scatter_add(
                    2, taps, g * (valid * wy * wx).unsqueeze(1))
                gin = spread if gin is None else gin + spread
            gv = (g * flat.gather(2, taps)).sum(1) * valid
            tx = gv * wy if up_x else gv * (wy * -1.0)
            ty = gv * wx if up_y else gv * (wx * -1.0)
            gx = tx if gx is None else gx + tx
            gy = ty if gy is None else gy + ty
        return (None if gin is None else gin.reshape(inp.shape),
                gx if self.needs_input_grad[1] else None,
                gy if self.needs_input_grad[2] else None)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, H_out, W_out, 2) -> (N, C, H_out, W_out)
    (or 5-D: (N, C, D, H, W) at (N, D_out, H_out, W_out, 3)).  ``mode`` 'bilinear' weights the
    2^k neighbouring pixels by (1 - distance) per dim; 'nearest' takes the closest (ties to
    even); 'bicubic' (4-D only) weights the 4 x 4 neighbours by the cubic convolution kernel
    (a = -0.75), the padding mode applied to each neighbour.  ``padding_mode``: 'zeros' reads
    0 outside, 'border' clamps the coordinate to the edge, 'reflection' mirrors it back
    inside."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    align_corners = _align_warning("grid_sample", align_corners)
    if _autocast_state.active:             # grid_sampler: one of the ops CPU autocast runs in
        input, grid = _autocast_widen(input, grid)                        # float32
    # PyTorch's order of checks: the batch, the grid's last dim, then the ranks (its words
    # name 4-D for a 4-D input, 5-D for any other)
    k = input.ndim - 2
    if grid.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if input.ndim and grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    if grid.shape[-1] != k:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {k} in last dimension, "
                           f"but got grid with sizes {list(grid.shape)}")
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError(f"grid_sampler(): expected {4 if input.ndim == 4 else 5}D input and "
                           f"grid with same number of dimensions, but got input with sizes "
                           f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
    n, c = input.shape[:2]
    for d in range(2, input.ndim):
        if input.shape[d] == 0:          # nothing to sample from (an empty batch is fine)
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {d} being empty")
    if mode == "bicubic" and k != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if input._array.size == 0 or grid._array.size == 0:
        # nothing to sample: PyTorch returns the empty result before its kernels' dtype checks
        return _sampler_node(_EmptySample.apply(input, grid), k)
    if input._array.dtype.kind not in "fV":      # PyTorch's kernels are floating only
        raise not_implemented_for("grid_sampler_2d_cpu_kernel_impl" if k == 2 else
                                  "grid_sampler3d_cpu", input._array.dtype)
    if input._array.dtype != grid._array.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input._array.dtype)} but "
                           f"found {scalar_type_name(grid._array.dtype)}")
    spatial = list(input.shape[2:])
    out_spatial = list(grid.shape[1:-1])
    points = _prod_of(out_spatial)
    flat_grid = grid.reshape(n, points, k)
    if mode == "bicubic":
        # the 4 x 4 taps around the unpadded source point; the padding mode acts on each tap
        coords = [_unnormalize(flat_grid[:, :, k - 1 - d], spatial[d], align_corners, True)
                  for d in range(k)]
    else:
        # per input dim (D, H, W order) its source coordinate, shape (N, points)
        coords = [_source_coord(flat_grid[:, :, k - 1 - d], spatial[d], padding_mode,
                                align_corners, k == 2) for d in range(k)]
    if mode == "bilinear" and k == 2 and type(input._array) is np.ndarray and \
            type(grid._array) is np.ndarray and input._array.dtype in (np.float32, np.float64):
        out = _BilinearSample2d.apply(input, coords[1], coords[0])      # (x, y): W, H
        return _sampler_node(out.reshape([n, c] + out_spatial), k)
    flat_input = input.reshape(n, c, _prod_of(spatial))      # explicit: the batch may be 0
    xp = backend.xp_of(input._array)
    strides = [1] * k
    for d in range(k - 2, -1, -1):
        strides[d] = strides[d + 1] * spatial[d + 1]

    def gather(taps):
        """Sum over the given (integer position array, weight or None) per dim of
        input[taps] * weights, 0 outside the input.  Positions (N, points)."""
        index = xp.zeros((n, points), dtype=xp.int64)
        valid = xp.ones((n, points), dtype=bool)
        for d, (pos, _) in enumerate(taps):
            valid &= (pos >= 0) & (pos < spatial[d])
            # fmax: a NaN position (invalid, weight 0) reads index 0, not a garbage index
            index += xp.minimum(xp.fmax(pos, 0), spatial[d] - 1).astype(xp.int64) * strides[d]
        index = xp.ascontiguousarray(xp.broadcast_to(index[:, None, :], (n, c, points)))
        values = flat_input.gather(2, Tensor._wrap(index))
        weight = Tensor._wrap(valid[:, None, :].astype(input._array.dtype))
        for _, w in taps:
            if w is not None:
                weight = weight * w.unsqueeze(1)
        return values * weight

    if mode == "nearest":
        # rint: half to even; the weight x * 0 + 1 keeps the grid on the graph with a zero
        # gradient (PyTorch returns zeros for it, not None); 1 at a NaN or infinite x too
        taps = [(xp.rint(x._array), x.where(x.isfinite(), 0.0) * 0.0 + 1.0) for x in coords]
        out = gather(taps)
    elif mode == "bicubic":
        lows = [x.detach().floor() for x in coords]
        # per dim the 4 tap positions (floor - 1 .. floor + 2), moved inside by the padding
        # mode, and their cubic-convolution weights of the fraction t
        per_dim = []
        for d, (x, lo) in enumerate(zip(coords, lows)):
            t = x - lo
            positions = [_padded_tap(lo._array + off, spatial[d], padding_mode, align_corners)
                         for off in (-1, 0, 1, 2)]
            per_dim.append(list(zip(positions, _cubic_weights(t))))
        out = None
        for taps in itertools.product(*per_dim):
            term = gather(list(taps))
            out = term if out is None else out + term
    else:
        lows = [x.detach().floor() for x in coords]
        fracs = [x - lo for x, lo in zip(coords, lows)]          # weight of the upper tap
        out = None
        for corner in itertools.product((0, 1), repeat=k):
            taps = []
            for d, up in enumerate(corner):
                pos = lows[d]._array + up
                taps.append((pos, fracs[d] if up else (fracs[d] * -1.0) + 1.0))
            term = gather(taps)
            out = term if out is None else out + term
    return _sampler_node(out.reshape([n, c] + out_spatial), k)


class _EmptySample(Function):
    """grid_sample where the input or the grid holds no element: the (N, C, *grid's spatial)
    zeros of the input's dtype; the gradients are zeros (of the floating operands)."""
    def forward(self, inp, grid):
        self.operands = [(a.shape, a.dtype) for a in (inp, grid)]
        shape = inp.shape[:2] + grid.shape[1:-1]
        return backend.xp_of(inp).zeros(shape, inp.dtype)

    def backward(self, g):
        xp = backend.xp_of(g._array)
        return tuple(Tensor._wrap(xp.zeros(shape, dtype)) if dtype.kind in "fcV" else None
                     for shape, dtype in self.operands)


def _sampler_node(out, k):
    """grid_sample's result, its last node named as PyTorch's one node for the whole sampling
    over ``k`` spatial dims (GridSampler2DBackward0, GridSampler3DBackward0)."""
    return rename_node(out, f"GridSampler{k}DBackward0")

