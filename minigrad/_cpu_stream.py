"""PyTorch's CPU random stream, so that a seed gives the numbers PyTorch gives.

PyTorch's CPU generator is a 32-bit Mersenne Twister (mt19937) seeded with the low 32 bits
of the seed by the reference initialisation; each kernel turns its 32-bit words into numbers
in a fixed way.  numpy ships the same twister (``np.random.MT19937``), so this module only
seeds it as PyTorch does and applies PyTorch's transformations to its words, vectorised:

    word        one 32-bit output;  word64 = (word_a << 32) | word_b  (two in a row)
    uniform     float32/16/bfloat16: (word & (2^24 - 1)) * 2^-24       -> [0, 1)
                float64:             (word64 & (2^53 - 1)) * 2^-53
                to [a, b): u * (b - a) + a, rounded once (a and b in the dtype first;
                for float64 a fused multiply-add)
    normal      contiguous and at least 16 numbers: uniforms drawn for the whole tensor,
                then Box-Muller on blocks of 16 (u1 = 1 - d[j], u2 = d[j + 8] for j < 8:
                r = sqrt(-2 log u1), d[j] = r cos(2 pi u2), d[j + 8] = r sin(2 pi u2));
                a ragged end redraws the last 16 and transforms them again.
                Otherwise one number at a time in float64 from two uniforms
                (r = sqrt(-2 log(1 - u2)), r cos(2 pi u1)), the r sin(2 pi u1) of the pair
                kept for the next number (the generator's cached normal)
    integers    in [low, high): word % (high - low) + low, or word64 when the range
                is 2^32 or more (2^28 for the from/to kernel: randint, random_(a, b))
    permutation Fisher-Yates from the front: swap(r[i], r[i + word % (n - i)])
    bernoulli   float64 uniform < p for a number p; uniform in p's dtype for a tensor p

The state bytes are PyTorch's layout (5056 bytes: seed, the twister's position and its 624
words, the cached normal), so ``get_rng_state`` gives PyTorch's bytes and takes PyTorch's.
PyTorch's float32 Box-Muller on x86-64 runs in AVX2 with Cephes-style polynomial log and
sincos, compiled with multiply-adds fused; those steps are followed here in float32 (a fused
multiply-add as an exact float64 product plus one sum, rounded), so float32 normals come out
bit for bit too.  Elsewhere (ARM) PyTorch calls the C library's float functions, taken here
as numpy's, which round a few numbers a unit in the last place differently.
"""
from __future__ import annotations

import ctypes
import functools
import math
import platform
import struct

import numpy as np

__all__ = ["CPUStream", "DEFAULT_SEED", "STATE_SIZE", "fused_multiply_add", "libm"]

DEFAULT_SEED = 67280421310721    # PyTorch's default CPU seed (what initial_seed() says unseeded)
STATE_SIZE = 5056                # bytes of a state: PyTorch's CPUGeneratorImplState
_N = 624                         # words in the twister's state
_U64 = np.uint64
_TWO_PI = 2.0 * math.pi
# the state's fields: seed, left, seeded, next, 624 words (each in 8 bytes), then the cached
# float64 normal (as normal_y, flagged by normal_is_valid) and the unused float cache
_HEAD, _WORDS_AT, _NORMAL_AT = "<QiiQ", 24, 24 + 8 * _N
# up to this many numbers a call the float64 kernels' log, sin, cos... are the C library's, in
# a Python loop (PyTorch's roundings exactly); beyond, numpy's vectorised ones (a unit in the
# last place apart now and then, at a hundredth of the time)
_LIBM_LIMIT = 1 << 16
# gamma, Poisson and binomial draws follow PyTorch's serial kernels in a Python loop (each
# draw takes as many uniforms as its rejections need) for up to this many numbers a call
# (~15 us a draw); larger calls take numpy's vectorised samplers over the same twister (the
# same distributions, other numbers, a hundred times faster)
SERIAL_SAMPLER_LIMIT = 1 << 14
# normal_pairs takes up to this many pairs in Python floats (the same operations, a few us)
_PAIRS_IN_PYTHON = 64
_MASK53, _TWO_M53 = (1 << 53) - 1, 2.0 ** -53


def _seeded_words(seed32):
    """The twister's 624 words after the reference initialisation with a 32-bit seed."""
    words = [seed32]
    for i in range(1, _N):
        prev = words[-1]
        words.append((1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF)
    return np.array(words, dtype=np.uint32)


@functools.lru_cache(maxsize=None)
def _state_in_place():
    """Whether numpy's MT19937 keeps its C state as PyTorch's twister does (624 words, then
    the position), so that ``CPUStream.position`` can read it in place: checked once against
    ``bits.state`` after a few draws."""
    try:
        bits = np.random.MT19937(7)
        bits.random_raw(700)
        address = bits.ctypes.state_address
        st = bits.state["state"]
        return (ctypes.c_int.from_address(address + 4 * _N).value == int(st["pos"]) and
                ctypes.c_uint32.from_address(address).value == int(st["key"][0]) and
                ctypes.c_uint32.from_address(address + 4 * (_N - 1)).value ==
                int(st["key"][-1]))
    except (AttributeError, TypeError, ValueError):
        return False


class CPUStream:
    """One generator's stream: the twister (``bits``, numpy's MT19937, which numpy's own
    samplers may also draw from) and PyTorch's cached float64 normal."""

    def __init__(self, seed=DEFAULT_SEED):
        self.bits = np.random.MT19937(0)
        self.seed(seed)

    def position(self):
        """A cheap mark of where the stream stands, which every draw changes: the twister's
        position, its first and last words, and the cached normal (read in place from the
        twister's C state when its layout is the usual one, else from ``bits.state``)."""
        if _state_in_place():
            address = self.bits.ctypes.state_address
            return (ctypes.c_int.from_address(address + 4 * _N).value,
                    ctypes.c_uint32.from_address(address).value,
                    ctypes.c_uint32.from_address(address + 4 * (_N - 1)).value,
                    self.cached_normal)
        st = self.bits.state["state"]
        return int(st["pos"]), int(st["key"][0]), int(st["key"][-1]), self.cached_normal

    def seed(self, seed):
        """Start over from ``seed`` (only its low 32 bits reach the twister, as in PyTorch)."""
        self._fresh = _seeded_words(int(seed) & 0xFFFFFFFF)
        self.bits.state = {"bit_generator": "MT19937",
                           "state": {"key": self._fresh.copy(), "pos": _N}}
        self.cached_normal = None

    # ----------------------------------------------------------------------------- words
    def numpy_generator(self):
        """A numpy Generator drawing from this stream's twister (for numpy's samplers)."""
        return np.random.Generator(self.bits)

    def words(self, n):
        """n 32-bit words (uint64 array)."""
        return self.bits.random_raw(n)

    def words64(self, n):
        """n 64-bit words, each made of two 32-bit ones (the first is the high half)."""
        w = self.bits.random_raw(2 * n).reshape(n, 2)
        return (w[:, 0] << _U64(32)) | w[:, 1]

    # ----------------------------------------------------------------------------- numbers
    def uniform01(self, n, dtype):
        """n uniforms in [0, 1) as the dtype's kernel makes them (float64 for float64, else
        24-bit float32 values, which reduced-precision dtypes round from)."""
        if np.dtype(dtype) == np.float64:
            return (self.words64(n) & _U64((1 << 53) - 1)).astype(np.float64) * 2.0 ** -53
        return ((self.words(n) & _U64((1 << 24) - 1)).astype(np.float32)
                * np.float32(2.0 ** -24))

    def uniform(self, n, dtype, low=0.0, high=1.0):
        """n draws uniform in [low, high) for a tensor of ``dtype``: u * (high - low) + low,
        rounded once; float64 for float64, else float32 (for the caller to round on)."""
        u = self.uniform01(n, dtype)
        if low == 0.0 and high == 1.0:
            return u
        work = u.dtype.type
        a, b = work(low), work(high)
        # PyTorch's kernel fuses the multiply-add (one rounding): float32 products are exact
        # in float64; float64 ones need fused_multiply_add
        if work is np.float64:
            return fused_multiply_add(u, np.float64(b - a), a)
        return (u.astype(np.float64) * np.float64(work(b - a)) + np.float64(a)).astype(work)

    def normal_pairs(self, n):
        """n float64 normals one at a time (PyTorch's serial kernel), through the cache."""
        out = np.empty(n, dtype=np.float64)
        start = 0
        if n and self.cached_normal is not None:
            out[0], self.cached_normal, start = self.cached_normal, None, 1
        pairs = (n - start + 1) // 2
        if not pairs:
            return out
        if pairs <= _PAIRS_IN_PYTHON:
            both = self._normal_pairs_python(pairs)
            out[start:] = both[:n - start]
            if len(both) > n - start:
                self.cached_normal = both[-1]
            return out
        u = self.uniform01(2 * pairs, np.float64).reshape(pairs, 2)
        r = np.sqrt(-2.0 * libm(math.log1p, -u[:, 1]))
        theta = _TWO_PI * u[:, 0]
        both = np.stack([r * libm(math.cos, theta), r * libm(math.sin, theta)],
                        axis=1).reshape(-1)
        out[start:] = both[:n - start]
        if both.size > n - start:        # an odd count: the last sine waits for the next call
            self.cached_normal = float(both[-1])
        return out

    def _normal_pairs_python(self, pairs):
        """normal_pairs' numbers for a few pairs in Python floats: the same uniforms (a 53-bit
        integer times 2^-53, exact either way), the C library's log1p, cos and sin, and
        IEEE products and square roots, so the same bits without a dozen array calls."""
        w = self.bits.random_raw(4 * pairs).tolist()
        out = []
        for k in range(0, 4 * pairs, 4):
            u1 = (((w[k] << 32) | w[k + 1]) & _MASK53) * _TWO_M53
            u2 = (((w[k + 2] << 32) | w[k + 3]) & _MASK53) * _TWO_M53
            r = math.sqrt(-2.0 * math.log1p(-u2))
            theta = _TWO_PI * u1
            out += (r * math.cos(theta), r * math.sin(theta))
        return out

    def normal_block(self, n, dtype, mean=0.0, std=1.0):
        """n >= 16 normals for a contiguous tensor of ``dtype``: Box-Muller on blocks of 16
        uniforms; float64 for float64, else float32 (for the caller to round on)."""
        dtype = np.dtype(dtype)
        work = np.float64 if dtype == np.float64 else np.float32
        whole = n - n % 16
        # float32 and float64 draw uniforms for the whole tensor first; the reduced-precision
        # dtypes only for its whole blocks
        drawn = n if dtype.itemsize >= 4 else whole
        if n % 16 == 0:
            out = _box_muller16(self.uniform01(n, dtype).astype(work, copy=False), work)
        else:
            # the ragged end: the last 16 drawn afresh (the next words) and transformed again;
            # one draw and one transform for both (the transform works block by block)
            d = self.uniform01(drawn + 16, dtype).astype(work, copy=False)
            if drawn != whole:
                d = np.concatenate((d[:whole], d[drawn:]))
            d = _box_muller16(d, work)
            out = np.empty(n, dtype=work)
            out[:whole] = d[:whole]
            out[n - 16:] = d[whole:]
        if mean == 0.0 and std == 1.0:
            return out
        # PyTorch's kernel computes fma(z, std, mean): one rounding, which float64 work gets
        # for float32, and fused_multiply_add for float64
        if work is np.float64:
            return fused_multiply_add(out, np.float64(std), np.float64(mean))
        return (out.astype(np.float64) * np.float64(work(std))
                + np.float64(work(mean))).astype(work)

    def exponentials(self, n):
        """n float64 draws of Exp(1): -log1p(-u) of float64 uniforms (exponential_'s kernel),
        with the C library's log1p up to a size (numpy's rounds a few a unit differently)."""
        return -libm(math.log1p, -self.uniform01(n, np.float64))

    def integers(self, n, low, high, wide_from=1 << 32):
        """n integers in [low, high) as int64 (64-bit words when the range needs them; the
        sum wraps modulo 2^64, as PyTorch's unsigned arithmetic does).  The words are 64-bit
        from a range of ``wide_from`` on: 2^32 for random_() without bounds, 2^28 for
        PyTorch's from/to kernel (randint, random_(from, to)), which keeps the modulo's
        skew small."""
        span = int(high) - int(low)
        draws = (self.words64(n) if span >= wide_from else self.words(n)) % _U64(span)
        return (draws + _U64(int(low) % (1 << 64))).view(np.int64)

    def permutation(self, n):
        """A random permutation of range(n): Fisher-Yates from the front (sequential: each
        swap depends on the ones before it)."""
        order = list(range(n))
        if n > 1:
            picks = (self.words(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).tolist()
            for i, z in enumerate(picks):
                j = i + z
                order[i], order[j] = order[j], order[i]
        return np.array(order, dtype=np.int64)

    # ----------------------------------------------------------------------------- state
    def state_bytes(self, initial_seed):
        """The 5056 bytes of PyTorch's CPU generator state."""
        st = self.bits.state["state"]
        key, pos = st["key"], int(st["pos"])
        fresh = pos == _N and np.array_equal(key, self._fresh)
        nxt, left = (0, 1) if fresh else (pos, _N + 1 - pos) if pos < _N else (_N, 1)
        raw = bytearray(STATE_SIZE)
        struct.pack_into(_HEAD, raw, 0, initial_seed, left, 1, nxt)
        raw[_WORDS_AT:_NORMAL_AT] = key.astype("<u8").tobytes()
        cached = self.cached_normal
        struct.pack_into("<dddi", raw, _NORMAL_AT, 0.0, 0.0 if cached is None else cached, 0.0,
                         int(cached is not None))
        return bytes(raw)

    def load_bytes(self, raw):
        """Take a state that ``state_bytes`` (or PyTorch) wrote; returns its initial seed."""
        seed, left, _seeded, nxt = struct.unpack_from(_HEAD, raw, 0)
        key = np.frombuffer(raw[_WORDS_AT:_NORMAL_AT], dtype="<u8")
        if not (0 < left <= _N + 1) or not (0 <= nxt <= _N) or (key >> 32).any():
            raise RuntimeError("The provided RNG state is not a valid CPU generator state")
        pos = _N if left == 1 else nxt
        self.bits.state = {"bit_generator": "MT19937",
                           "state": {"key": key.astype(np.uint32), "pos": pos}}
        self._fresh = _seeded_words(int(seed) & 0xFFFFFFFF)
        _x, y, _rho, valid = struct.unpack_from("<dddi", raw, _NORMAL_AT)
        self.cached_normal = y if valid else None
        return seed


def libm(function, x):
    """``function`` (one of math's, the C library's) of each float64 in x, as PyTorch's serial
    kernels call it; beyond _LIBM_LIMIT numbers numpy's vectorised ``function`` of the
    same name (a unit in the last place apart now and then)."""
    if x.size <= _LIBM_LIMIT:
        return np.array([function(v) for v in x.ravel().tolist()],
                        dtype=np.float64).reshape(x.shape)
    return getattr(np, function.__name__)(x)


def fused_multiply_add(a, b, c):
    """a * b + c in float64 with one rounding (a C compiler's fused multiply-add), for float64
    arrays or numbers: the product split exactly into a high and a low part (Dekker's
    splitting), the sum's rounding error carried (Knuth's two-sum), both folded in at the
    end.  Non-finite results are the plain a * b + c's."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    with np.errstate(all="ignore"):          # non-finite values are sorted out at the end
        high = a * b
        split_a, split_b = a * 134217729.0, b * 134217729.0           # 2^27 + 1
        a_hi = split_a - (split_a - a)
        b_hi = split_b - (split_b - b)
        a_lo, b_lo = a - a_hi, b - b_hi
        low = ((a_hi * b_hi - high) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
        total = high + c
        back = total - high
        error = (high - (total - back)) + (c - back)
        fused = total + (error + low)
    # infinities and NaN (and a split that overflows) take the plain sum, as the fma does
    return np.where(np.isfinite(fused), fused, total)


# PyTorch's float32 normal kernel: the AVX2 one on x86-64 (its polynomial log and sincos)
_SIMD_FLOAT_NORMAL = platform.machine().lower() in ("x86_64", "amd64")
_SIMD_CHUNK = 1 << 12            # blocks of 16 a pass (its float64 temporaries fit a cache)
_F32 = np.float32
# the float32 log's polynomial (highest power first) and its split of log(2); the sincos's
# split of pi/4, its polynomials in z = x^2 and 4/pi
_LOG_POLY = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
             1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
             3.3333331174e-1)
_LN2_LOW, _LN2_HIGH = -2.12194440e-4, 0.693359375
_PIO4_PARTS = (-0.78515625, -2.4187564849853515625e-4, -3.77489497744594108e-8)
_SIN_POLY = (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1)
_COS_POLY = (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2)
_FOUR_OVER_PI = 1.27323954473516


def _fma32(a, b, c):
    """a * b + c for float32 arrays/numbers with one rounding: the product is exact in float64."""
    product = np.multiply(a, b, dtype=np.float64)
    return np.add(product, c, out=product).astype(_F32)


def _simd_log(x):
    """The float32 log of PyTorch's AVX2 normal kernel (x > 0): exponent and mantissa split,
    the mantissa moved into [sqrt(1/2), sqrt(2)), a degree-9 polynomial, log(2) in two parts."""
    x = np.maximum(x, np.array(0x00800000, np.int32).view(_F32))
    bits = x.view(np.int32)
    e = ((bits >> 23) - 0x7F).astype(_F32) + _F32(1)
    x = ((bits & ~0x7F800000) | np.array(0.5, _F32).view(np.int32)).view(_F32)
    small = x < _F32(0.707106781186547524)
    e = e - small.astype(_F32)
    x = (x - _F32(1)) + np.where(small, x, _F32(0))
    z = x * x
    y = np.full_like(x, _F32(_LOG_POLY[0]))
    for c in _LOG_POLY[1:]:
        y = _fma32(y, x, _F32(c))
    y = _fma32(y * x, z, e * _F32(_LN2_LOW))
    y = _fma32(z, _F32(-0.5), y)
    return _fma32(e, _F32(_LN2_HIGH), x + y)


def _simd_sincos(x):
    """sin and cos of float32 x >= 0 as PyTorch's AVX2 normal kernel computes them: x reduced
    by an even multiple j of pi/4 (pi/4 in three parts), the two polynomials chosen and
    signed by j."""
    j = (x * _F32(_FOUR_OVER_PI)).astype(np.int32)
    j = (j + 1) & ~1
    y = j.astype(_F32)
    for part in _PIO4_PARTS:
        x = _fma32(y, _F32(part), x)
    z = x * x
    cos = np.full_like(x, _F32(_COS_POLY[0]))
    for c in _COS_POLY[1:]:
        cos = _fma32(cos, z, _F32(c))
    cos = _fma32(cos * z, z, -(z * _F32(0.5))) + _F32(1)
    sin = np.full_like(x, _F32(_SIN_POLY[0]))
    for c in _SIN_POLY[1:]:
        sin = _fma32(sin, z, _F32(c))
    sin = _fma32(sin * z, x, x)
    first = (j & 2) == 0
    s, c = np.where(first, sin, cos), np.where(first, cos, sin)
    s = np.where((j & 4) != 0, -s, s)
    c = np.where(((~(j - 2)) & 4) != 0, -c, c)
    return s, c


def _box_muller16(d, work):
    """Box-Muller over consecutive blocks of 16 uniforms (len(d) a multiple of 16)."""
    blocks = d.reshape(-1, 2, 8)
    if work is not np.float64 and _SIMD_FLOAT_NORMAL and len(blocks) <= _FEW_BLOCKS:
        out = np.empty_like(blocks)
        out[:, 0], out[:, 1] = _simd_box_muller_few(blocks[:, 0], blocks[:, 1])
        return out.reshape(-1)
    if work is not np.float64 and _SIMD_FLOAT_NORMAL:
        out = np.empty_like(blocks)
        for i in range(0, len(blocks), _SIMD_CHUNK):     # chunks that stay in the cache
            part = blocks[i:i + _SIMD_CHUNK]
            radius = np.sqrt(_F32(-2.0) * _simd_log(_F32(1.0) - part[:, 0]))
            sin, cos = _simd_sincos(_F32(_TWO_PI) * part[:, 1])
            np.multiply(radius, cos, out=out[i:i + _SIMD_CHUNK, 0])
            np.multiply(radius, sin, out=out[i:i + _SIMD_CHUNK, 1])
        return out.reshape(-1)
    # PyTorch's float64 kernel calls the C library's log/cos/sin (libm: numpy's own round a
    # few numbers in a thousand a unit differently); a few blocks in Python floats
    if work is np.float64 and len(blocks) <= _FEW_BLOCKS:
        return np.array(_float64_box_muller_few(d.tolist()), dtype=np.float64)
    log, cos, sin = ((lambda x: libm(math.log, x), lambda x: libm(math.cos, x),
                      lambda x: libm(math.sin, x)) if work is np.float64
                     else (np.log, np.cos, np.sin))
    radius = np.sqrt(work(-2.0) * log(work(1.0) - blocks[:, 0]))
    theta = work(_TWO_PI) * blocks[:, 1]
    out = np.empty_like(blocks)
    np.multiply(radius, cos(theta), out=out[:, 0])
    np.multiply(radius, sin(theta), out=out[:, 1])
    return out.reshape(-1)


# ---------------------------------------------------------------------------------------------
# The same AVX2 float32 Box-Muller for a few blocks (small tensors): every step as above, with
# the same roundings, in fewer and cheaper numpy calls (operators on 0-d constants rather
# than keyword calls, a float32 fused multiply-add as float32 * float64 + float64 rounded
# once, sine and cosine polynomials side by side); at 16 numbers a call costs are per call,
# not per element.  It equals the kernel above bit for bit on every float32 uniform (both
# compute a function of one 24-bit uniform per lane: all 2^24 were compared).
_FEW_BLOCKS = 64


def _float64_box_muller_few(d):
    """_box_muller16's float64 kernel on a list of uniforms, in Python floats (the same
    operations: the C library's log, cos and sin, IEEE products and square roots)."""
    out = []
    for b in range(0, len(d), 16):
        radius = [math.sqrt(-2.0 * math.log(1.0 - u)) for u in d[b:b + 8]]
        theta = [_TWO_PI * u for u in d[b + 8:b + 16]]
        out += [r * math.cos(t) for r, t in zip(radius, theta)]
        out += [r * math.sin(t) for r, t in zip(radius, theta)]
    return out


def _c32(v):
    return np.array(v, dtype=_F32)


def _c64(v):
    """A float32 constant held in a float64 0-d array: times a float32 array it gives the
    exact product, in float64."""
    return np.array(_F32(v), dtype=np.float64)


_ONE32, _HALF32, _MINUS_TWO32 = _c32(1), _c32(0.5), _c32(-2)
_SQRT_HALF32, _FOUR_OVER_PI32, _TWO_PI32, _LN2_LOW32 = (
    _c32(0.707106781186547524), _c32(_FOUR_OVER_PI), _c32(_TWO_PI), _c32(_LN2_LOW))
_LOG_C64 = tuple(_c64(c) for c in _LOG_POLY)
_PIO4_C64 = tuple(_c64(p) for p in _PIO4_PARTS)
_LN2_HIGH64, _MINUS_HALF64 = _c64(_LN2_HIGH), _c64(-0.5)
# rows: the sine's and the cosine's polynomial, for an array of shape (blocks, 8)
_SINCOS_C64 = tuple(np.array([_F32(a), _F32(b)], dtype=np.float64).reshape(2, 1, 1)
                    for a, b in zip(_SIN_POLY, _COS_POLY))
_INT = {k: np.array(k, dtype=np.int32) for k in (1, 2, 3, 23, 126, -2)}
_MANTISSA_BITS, _HALF_BITS = np.array(~0x7F800000, np.int32), _HALF32.view(np.int32)
# the signs of the chosen sine and cosine by j's octant pair (j >> 1) & 3
_SIN_SIGN, _COS_SIGN = (np.array(v, dtype=_F32) for v in ([1, 1, -1, -1], [1, -1, -1, 1]))


def _simd_box_muller_few(u1, u2):
    """(r cos, r sin) of float32 uniforms u1 (radius) and u2 (angle), as _box_muller16's
    AVX2 path: 1 - u1 lies in [2^-24, 1], a normal float32, so the log needs no clamp."""
    i = _INT
    bits = (_ONE32 - u1).view(np.int32)
    x = ((bits & _MANTISSA_BITS) | _HALF_BITS).view(_F32)
    small = x < _SQRT_HALF32
    e = ((bits >> i[23]) - i[126] - small).astype(_F32)
    x = (x - _ONE32) + x * small
    z = x * x
    x64 = x.astype(np.float64)
    y = _LOG_C64[0] * x64 + _LOG_C64[1]
    for c in _LOG_C64[2:]:
        y = y.astype(_F32) * x64 + c
    z64 = z.astype(np.float64)
    y = (y.astype(_F32) * x) * z64 + e * _LN2_LOW32
    y = (z64 * _MINUS_HALF64 + y.astype(_F32)).astype(_F32)
    radius = np.sqrt(_MINUS_TWO32 * (e * _LN2_HIGH64 + (x + y)).astype(_F32))
    t = _TWO_PI32 * u2
    j = ((t * _FOUR_OVER_PI32).astype(np.int32) + i[1]) & i[-2]
    jf = j.astype(np.float64)
    for p in _PIO4_C64:
        t = (jf * p + t).astype(_F32)
    z = t * t
    z64 = z.astype(np.float64)
    sc = _SINCOS_C64[0] * z64 + _SINCOS_C64[1]
    sc = (sc.astype(_F32) * z64 + _SINCOS_C64[2]).astype(_F32) * z
    sin = (sc[0] * t.astype(np.float64) + t).astype(_F32)
    cos = (sc[1] * z64 - z * _HALF32).astype(_F32) + _ONE32
    q = (j >> i[1]) & i[3]
    swap = (j & i[2]).astype(bool)
    return ((radius * _COS_SIGN[q]) * np.where(swap, sin, cos),
            (radius * _SIN_SIGN[q]) * np.where(swap, cos, sin))
