"""``torch.quasirandom``: ``SobolEngine``, Sobol' low-discrepancy sequences in [0, 1)^d.

Point k of the unscrambled sequence is the XOR of the direction numbers v[:, j] over the set
bits j of k's Gray code k ^ (k >> 1), divided by 2^30; the engine hands the points out in order
(the first is all zeros).  The direction numbers are Joe and Kuo's (new-joe-kuo-6.21201, up to
21201 dimensions): for a dimension with primitive polynomial x^s + a_1 x^(s-1) + ... + 1 and
initial numbers m_1..m_s,

    m_j = 2 a_1 m_(j-1) ^ 4 a_2 m_(j-2) ^ ... ^ 2^s m_(j-s) ^ m_(j-s),   v_j = m_j 2^(30 - j)

so the unscrambled points equal PyTorch's exactly.  The table itself is read from SciPy's copy
of Joe and Kuo's file (scipy is needed for SobolEngine only).  ``scramble=True`` applies Owen's
linear matrix scrambling and a digital shift, drawn from a ``minigrad.Generator`` seeded with
``seed`` (PyTorch's stream, so the scrambled points are PyTorch's too).
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from ._random_factories import Generator, randint
from .dtypes import get_default_dtype, scalar_type_name, to_dtype
from .tensor import Tensor

__all__ = ["SobolEngine"]

_TABLE = {}     # the direction-number table, read once: {"poly": (21201,), "vinit": (21201, 18)}


def _direction_table():
    """Joe and Kuo's primitive polynomials and initial direction numbers, from SciPy."""
    if not _TABLE:
        try:
            import scipy.stats
        except ImportError:
            raise ImportError("SobolEngine reads Joe and Kuo's direction numbers from SciPy; "
                              "install scipy to use it") from None
        path = os.path.join(os.path.dirname(scipy.stats.__file__),
                            "_sobol_direction_numbers.npz")
        # the .npz is a zip of two .npy integer arrays: read them as arrays only (never
        # through pickle, whatever the file holds)
        with zipfile.ZipFile(path) as archive:
            for name in ("poly", "vinit"):
                with archive.open(name + ".npy") as member:
                    _TABLE[name] = np.lib.format.read_array(
                        member, allow_pickle=False).astype(np.int64)
    return _TABLE


def direction_numbers(dimension, maxbit=30):
    """(dimension, maxbit) int64: v[d, j] = m_j << (maxbit - 1 - j) for each dimension d (the
    first dimension has every m_j = 1), vectorised over the dimensions."""
    table = _direction_table()
    poly, vinit = table["poly"][:dimension], table["vinit"][:dimension]
    degree = np.array([int(p).bit_length() - 1 for p in poly])
    degree[0] = 0
    m = np.zeros((dimension, maxbit), np.int64)
    m[0] = 1
    rows = np.arange(dimension)
    for j in range(maxbit):
        initial = (j < degree) | (rows == 0)
        m[initial, j] = np.where(rows[initial] == 0, 1, vinit[initial, min(j, 17)])
        todo = ~initial
        if not todo.any():
            continue
        s, p = degree[todo], poly[todo]
        new = m[todo, j - s]                                   # the m_(j-s) term
        for k in range(int(s.max())):                          # the 2^(k+1) a m_(j-k-1) terms
            take = (k < s) & (((p >> np.maximum(s - 1 - k, 0)) & 1) == 1)
            new ^= np.where(take, m[todo, max(j - k - 1, 0)] << (k + 1), 0)
        m[todo, j] = new
    return m << (maxbit - 1 - np.arange(maxbit))


def scramble_directions(sobolstate, ltm, maxbit=30):
    """Owen's linear matrix scrambling: each v[d, j] (a ``maxbit``-bit number) multiplied over
    GF(2) by the lower triangular bit matrix ``ltm[d]`` with its diagonal set to 1; bit p of the
    result (from the top) is the parity of row p's bits AND v's bits, read most significant
    column first."""
    ltm = np.array(ltm, dtype=np.int64)
    idx = np.arange(maxbit)
    ltm[:, idx, idx] = 1
    rows = (ltm << (maxbit - 1 - idx)).sum(-1)                 # each row as a number (D, maxbit)
    bits = (sobolstate[:, :, None] & rows[:, None, :])         # (D, maxbit v's, maxbit rows)
    parity = np.zeros(bits.shape, np.int64)
    for k in range(maxbit):
        parity ^= (bits >> k) & 1
    # row p of the matrix gives bit (maxbit - 1 - p) of the scrambled number
    return (parity << (maxbit - 1 - idx)).sum(-1)


def _gray(k):
    return k ^ (k >> 1)


class SobolEngine:
    """Draws Sobol' points of ``dimension`` (1..21201) coordinates; ``scramble`` randomises
    them (seeded by ``seed``).  ``draw(n)`` -> (n, dimension) in the default float dtype."""

    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension, scramble=False, seed=None):
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError(f"Supported range of dimensionality for SobolEngine is "
                             f"[1, {self.MAXDIM}]")
        self.seed, self.scramble, self.dimension = seed, scramble, dimension
        state = direction_numbers(dimension, self.MAXBIT)
        shift = np.zeros(dimension, np.int64)
        if scramble:
            state, shift = self._scrambled(state)
        self.sobolstate = Tensor._wrap(state)
        self.shift = Tensor._wrap(shift)
        self.quasi = self.shift.clone()
        self._first_point = (self.quasi / 2 ** self.MAXBIT).reshape(1, -1)
        self.num_generated = 0

    def _scrambled(self, state):
        """The scrambled direction numbers and the digital shift (random bits)."""
        g = Generator()
        if self.seed is not None:
            g.manual_seed(self.seed)
        shift_bits = randint(2, (self.dimension, self.MAXBIT), generator=g)._array
        shift = shift_bits @ (np.int64(1) << np.arange(self.MAXBIT))
        ltm = np.tril(randint(2, (self.dimension, self.MAXBIT, self.MAXBIT), generator=g)._array)
        return scramble_directions(state, ltm, self.MAXBIT), shift

    def _advance(self, base, indices):
        """The points of ``indices`` (an increasing int64 array) given that ``quasi`` holds the
        point of index ``base``: quasi XOR the directions of the Gray-code bits that differ."""
        flips = _gray(indices) ^ _gray(base)                 # (n,)
        state = self.sobolstate._array
        points = np.broadcast_to(self.quasi._array, (len(indices), self.dimension)).copy()
        for j in range(self.MAXBIT):
            points ^= np.where(((flips >> j) & 1)[:, None] == 1, state[:, j], 0)
        return points

    def draw(self, n=1, out=None, dtype=None):
        """The next ``n`` points, (n, dimension) in ``dtype`` (the default float dtype), also
        written into ``out`` when given."""
        dtype = get_default_dtype() if dtype is None else dtype
        first = self.num_generated
        count = n - 1 if first == 0 else n          # the first point needs no step
        if count < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {count}: "
                               f"[{count}, {self.dimension}]")
        dtype = to_dtype(dtype)
        if not dtype.is_floating_point or dtype.itemsize < 4:    # float32 and float64 only
            raise NotImplementedError(f'"_sobol_engine_draw" not implemented for '
                                      f"'{scalar_type_name(dtype.np)}'")
        indices = np.arange(first, first + n, dtype=np.int64)
        points = self._advance(max(first - 1, 0), indices)
        if len(points):
            self.quasi = Tensor._wrap(points[-1].copy())
        result = Tensor._wrap((points * 2.0 ** -self.MAXBIT).astype(dtype.np))
        self.num_generated += n
        if out is not None:
            out.resize_as_(result).copy_(result)
            return out
        return result

    def draw_base2(self, m, out=None, dtype=None):
        """The next 2^m points; the total drawn must stay a power of 2 (the sequence's balance
        properties hold for such counts)."""
        n = 2 ** m
        total = self.num_generated + n
        if total & (total - 1):
            raise ValueError(f"The balance properties of Sobol' points require n to be a power "
                             f"of 2. {self.num_generated} points have been previously "
                             f"generated, then: n={self.num_generated}+2**{m}={total}. If you "
                             f"still want to do this, please use 'SobolEngine.draw()' instead.")
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self):
        """Back to the start of the sequence."""
        self.quasi = self.shift.clone()
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        """Skip the next ``n`` points."""
        first = self.num_generated
        last = first + n - 1                          # the index of the last point skipped
        if n > 0 and last > 0:
            self.quasi = Tensor._wrap(self._advance(max(first - 1, 0),
                                                    np.array([last], np.int64))[0])
        self.num_generated += n
        return self

    def __repr__(self):
        parts = [f"dimension={self.dimension}"]
        if self.scramble:
            parts.append("scramble=True")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return f"{type(self).__name__}({', '.join(parts)})"
