"""Random numbers: the seeded ``Generator`` (``default_generator``, ``manual_seed``,
``get_rng_state``...) and the factories that draw from it: ``rand`` (uniform in [0, 1)),
``randn`` (standard normal), ``randint`` (integers in [low, high)), ``randperm`` and the
``rand_like`` / ``randn_like`` forms.

Draws are made on the CPU (numpy's PCG64) and moved to the device, so a seed gives the same
numbers on every run and on every device.  A complex dtype draws its real and imaginary parts
independently.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import backend, dtypes
from . import _memory_format as mf
from .creation import (_TORCH_TYPE_NAMES, _finish, _laid_out, _like, _out_keyword, _size,
                       _size_keyword, check_layout, check_pin_memory)
from .tensor import Tensor

__all__ = ["rand", "randn", "randint", "randperm", "rand_like", "randn_like", "manual_seed",
           "seed", "initial_seed", "Generator", "default_generator", "get_rng_state",
           "set_rng_state"]


_STATE_SIZE = 5056              # bytes in a state tensor: PyTorch's CPU generator's size
_STATE_MAGIC = b"mgPCG64\x01"  # what opens a minigrad state (its layout's version)
_U128 = (1 << 128) - 1


def _seed_value(seed):
    """``seed`` as the unsigned 64-bit number a generator keeps: PyTorch takes any integer in
    [-2**63, 2**64) and reads a negative one as its two's complement (-1 is 2**64 - 1)."""
    seed = int(seed)
    if not -(1 << 63) <= seed < (1 << 64):
        raise ValueError("Overflow when unpacking long long")
    return seed % (1 << 64)


class Generator:
    """A seeded source of random numbers (numpy's PCG64 behind it)."""

    def __init__(self, device="cpu"):
        self.device = backend.device(device)    # (draws happen on the CPU whatever it says)
        self._seed = 0
        self.rng = np.random.Generator(np.random.PCG64(0))

    def manual_seed(self, seed):
        self._seed = _seed_value(seed)
        self.rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor of 5056 bytes (PyTorch's shape and dtype
        for a CPU generator; the bytes are minigrad's own: its seed and PCG64 state), which
        ``set_state`` takes back (also after a save and load of a checkpoint)."""
        st = self.rng.bit_generator.state
        raw = (_STATE_MAGIC + self._seed.to_bytes(8, "little") +
               (st["state"]["state"] & _U128).to_bytes(16, "little") +
               (st["state"]["inc"] & _U128).to_bytes(16, "little") +
               int(st["has_uint32"]).to_bytes(4, "little") +
               int(st["uinteger"]).to_bytes(4, "little"))
        array = np.zeros(_STATE_SIZE, dtype=np.uint8)
        array[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        return Tensor._wrap(array)

    def set_state(self, new_state):
        """Restore a state that ``get_state`` (of any minigrad generator) returned."""
        if isinstance(new_state, dict):          # numpy's own form of the state
            self.rng.bit_generator.state = new_state
            return self
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a minigrad.ByteTensor, but got "
                            f"{type(new_state).__name__}")
        if new_state.dtype != dtypes.uint8:
            raise TypeError("RNG state must be a minigrad.ByteTensor")
        raw = backend.as_numpy(new_state._array).reshape(-1)
        if raw.size != _STATE_SIZE:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_SIZE} but "
                               f"found the input RNG state size to be {raw.size}")
        raw = raw.tobytes()
        if not raw.startswith(_STATE_MAGIC):
            raise RuntimeError("Invalid PCG64 state: this RNG state was not made by a minigrad "
                               "generator's get_state()")
        n = len(_STATE_MAGIC)

        def number(start, size):
            return int.from_bytes(raw[n + start:n + start + size], "little")
        self._seed = number(0, 8)
        self.rng.bit_generator.state = {
            "bit_generator": "PCG64", "state": {"state": number(8, 16), "inc": number(24, 16)},
            "has_uint32": number(40, 4), "uinteger": number(44, 4)}
        return self


default_generator = Generator()


def manual_seed(seed):
    """Seed minigrad's random numbers: the same seed gives the same numbers on every run."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def _require_float(dtype, kernel, op):
    """rand/randn draw real (or complex) numbers: PyTorch refuses an integer or bool dtype
    (casting the draws would give zeros, without a word)."""
    if dtype is not None and not (dtypes.to_dtype(dtype).is_floating_point or
                                  dtypes.to_dtype(dtype).is_complex):
        name = dtypes.to_dtype(dtype).name
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{_TORCH_TYPE_NAMES.get(name, name)}' ({op}() draws "
                                  f"floating-point numbers; dtype={name} was given)")


def _complex_draws(draw, shape, dtype, scale=1.0):
    """Draws for a complex ``dtype``: real and imaginary parts drawn independently (each
    scaled by ``scale``), as PyTorch's complex rand/randn; ``draw(shape)`` otherwise."""
    if dtype is None or not dtypes.to_dtype(dtype).is_complex:
        return draw(shape)
    parts = draw(tuple(shape) + (2,)) * scale
    return parts[..., 0] + 1j * parts[..., 1]


@_out_keyword
@_size_keyword
def rand(*size, generator=None, dtype=None, layout=None,
          device=None, requires_grad=False):
    """Uniform random numbers in [0, 1) (both parts, for a complex dtype)."""
    shape = _size(size, "rand")
    check_layout(layout, "rand")
    _require_float(dtype, "check_uniform_bounds", "rand")
    rng = (generator or default_generator).rng
    return _finish(_complex_draws(rng.random, shape, dtype), dtype, device, requires_grad)


@_out_keyword
@_size_keyword
def randn(*size, generator=None, dtype=None, layout=None,
          device=None, requires_grad=False):
    """Standard normal random numbers; for a complex dtype, E|z|^2 = 1 (each part has
    variance 1/2, as PyTorch's)."""
    shape = _size(size, "randn")
    check_layout(layout, "randn")
    _require_float(dtype, "normal_kernel_cpu", "randn")
    rng = (generator or default_generator).rng
    return _finish(_complex_draws(rng.standard_normal, shape, dtype, 0.5 ** 0.5), dtype, device,
                   requires_grad)


_NO_HIGH = object()     # randint(high, size): the one bound given (an explicit None is refused)


@_out_keyword
def randint(low, high=_NO_HIGH, size=None, generator=None, dtype=None, device=None,
            requires_grad=False, *, layout=None):
    """Random integers in [low, high); ``randint(high, size)`` starts at 0."""
    check_layout(layout, "randint")
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint() missing the size argument, e.g. randint(0, 10, (3,))")
    if high is _NO_HIGH:
        low, high = 0, low
    if high is None:
        raise TypeError("randint(): argument 'high' must be int, not NoneType")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    for value in (low, high):
        if isinstance(value, bool) or not isinstance(value, (numbers.Integral, Tensor)):
            raise TypeError(f"randint(): argument 'high' must be int, not "
                            f"{type(value).__name__}")
    if dtype is not None:
        kind = dtypes.to_dtype(dtype).np.kind
        if kind == "c":
            raise RuntimeError("check_random_bounds handles only integral, floating-point and "
                               "boolean types")
        if kind == "b" and (low < 0 or high - 1 > 1):
            raise RuntimeError("from is out of bounds for bool" if low < 0 else
                               "to - 1 is out of bounds for bool")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    rng = (generator or default_generator).rng
    return _finish(rng.integers(low, high, _size((size,), "randint")), dtype or dtypes.int64,
                   device, requires_grad)


@_out_keyword
def randperm(n, generator=None, dtype=None, device=None, *, layout=None):
    check_layout(layout, "randperm")
    rng = (generator or default_generator).rng
    return _finish(rng.permutation(int(n)), dtype or dtypes.int64, device, False)


def rand_like(t, dtype=None, device=None, requires_grad=False, *, layout=None, generator=None,
              memory_format=mf.preserve_format, pin_memory=False):
    check_layout(layout, "rand_like")
    check_pin_memory(pin_memory, "rand_like")
    dtype, device = _like(t, dtype, device, "rand_like")
    return _laid_out(t, lambda: rand(tuple(t.shape), generator=generator, dtype=dtype,
                                     device=device, requires_grad=requires_grad),
                     memory_format, "rand_like")


def randn_like(t, dtype=None, device=None, requires_grad=False, *, layout=None, generator=None,
               memory_format=mf.preserve_format, pin_memory=False):
    check_layout(layout, "randn_like")
    check_pin_memory(pin_memory, "randn_like")
    dtype, device = _like(t, dtype, device, "randn_like")
    return _laid_out(t, lambda: randn(tuple(t.shape), generator=generator, dtype=dtype,
                                      device=device, requires_grad=requires_grad),
                     memory_format, "randn_like")
