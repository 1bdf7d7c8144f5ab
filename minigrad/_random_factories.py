"""Random numbers: the seeded ``Generator`` (``default_generator``, ``manual_seed``,
``get_rng_state``...) and the factories that draw from it: ``rand`` (uniform in [0, 1)),
``randn`` (standard normal), ``randint`` (integers in [low, high)), ``randperm`` and the
``rand_like`` / ``randn_like`` forms.

Draws are made on the CPU from PyTorch's own stream and transformations (``_cpu_stream``), so
a seed gives the numbers PyTorch gives, on every run and every device.  A complex dtype draws
its real and imaginary parts as consecutive real numbers.
"""
from __future__ import annotations

import functools
import math
import numbers
import weakref

import numpy as np

from . import backend, dtypes
from . import _memory_format as mf
from ._cpu_stream import DEFAULT_SEED, STATE_SIZE, CPUStream, fused_multiply_add
from .creation import (_TORCH_TYPE_NAMES, _finish, _int_argument, on_meta, _like,
                       _out_keyword, _size, _size_keyword, check_layout, check_pin_memory)
from .creation import layout as _Layout
from ._parser_emulation import refusal
from ._random_bounds import float_bounds
from ._random_layout import _drawn_in_place
from ._parser_message import _combination
from ._type_names import python_type_name
from .tensor import Tensor

__all__ = ["rand", "randn", "randint", "randperm", "rand_like", "randn_like", "manual_seed",
           "seed", "initial_seed", "Generator", "default_generator", "get_rng_state",
           "set_rng_state"]


def _seed_value(seed):
    """``seed`` as the unsigned 64-bit number a generator keeps: PyTorch takes any integer in
    [-2**63, 2**64) and reads a negative one as its two's complement (-1 is 2**64 - 1)."""
    seed = int(seed)
    if not -(1 << 63) <= seed < (1 << 64):
        raise ValueError("Overflow when unpacking long long")
    return seed % (1 << 64)


# every Generator alive (vmap's randomness modes watch the explicit ones too)
_LIVE_GENERATORS = weakref.WeakSet()


def live_generators():
    """The Generators alive now, the default one among them."""
    return list(_LIVE_GENERATORS)


class Generator:
    """A seeded source of random numbers: PyTorch's CPU stream (``_cpu_stream``), so a seed
    gives PyTorch's numbers; ``rng`` is a numpy Generator over the same twister, for the
    samplers PyTorch's algorithm is not followed in (von Mises, and gamma, Poisson and
    binomial draws of more than SERIAL_SAMPLER_LIMIT numbers)."""
    _tp_name = "minigrad._C.Generator"  # PyTorch's C type's name, in its argument errors

    def __init__(self, device="cpu"):
        self.device = backend.device(device)    # (draws happen on the CPU whatever it says)
        if self.device.type == "meta":          # (PyTorch has no generator of that device)
            raise RuntimeError("META device type not an accelerator.")
        self._seed = DEFAULT_SEED
        self.stream = CPUStream(DEFAULT_SEED)
        self.rng = self.stream.numpy_generator()
        _LIVE_GENERATORS.add(self)

    def manual_seed(self, seed):
        self._seed = _seed_value(seed)
        self.stream.seed(self._seed)
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor of 5056 bytes, laid out as PyTorch's CPU
        generator's (so either library's state loads in the other)."""
        raw = self.stream.state_bytes(self._seed)
        return Tensor._wrap(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state that ``get_state`` (of either library) returned."""
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a minigrad.ByteTensor, but got "
                            f"{type(new_state).__name__}")
        if new_state.dtype != dtypes.uint8:
            raise TypeError("RNG state must be a minigrad.ByteTensor")
        raw = backend.as_numpy(new_state._array).reshape(-1)
        if raw.size != STATE_SIZE:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {STATE_SIZE} but "
                               f"found the input RNG state size to be {raw.size}")
        self._seed = self.stream.load_bytes(raw.tobytes())
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


def stream_of(generator):
    """The PyTorch-compatible stream of ``generator`` (the default one when None)."""
    return (generator or default_generator).stream


def _numpy_dtype(dtype):
    return (dtypes.default_float() if dtype is None else dtypes.to_dtype(dtype)).np


def _real_part_dtype(np_dtype):
    """The dtype the draws are made in: a complex tensor draws its parts as real numbers."""
    return np.dtype(np_dtype.char.lower()) if np_dtype.kind == "c" else np_dtype


def arranged_draws(values, shape, strides, np_dtype):
    """``values`` (drawn in PyTorch's order for a tensor of ``shape``/``strides``: memory
    order, largest stride outermost) as an array of ``shape`` in ``np_dtype``; a complex dtype
    pairs consecutive values as (real, imaginary)."""
    if np_dtype.kind == "c":
        values = values.astype(_real_part_dtype(np_dtype)).view(np_dtype)
    else:
        values = values.astype(np_dtype, copy=False)
    if strides is None or len(shape) < 2:
        return values.reshape(shape)
    outer_first = sorted(range(len(shape)), key=lambda k: -abs(strides[k]))
    arranged = values.reshape([shape[k] for k in outer_first])
    return arranged.transpose(np.argsort(outer_first))


def uniform_draws(generator, shape, np_dtype, low=0.0, high=1.0, strides=None):
    """An array of ``shape`` with PyTorch's uniform draws in [low, high) for a tensor of
    ``np_dtype`` (``strides``: the tensor's, when it is not a new contiguous one)."""
    n = math.prod(shape) * (2 if np_dtype.kind == "c" else 1)
    values = stream_of(generator).uniform(n, _real_part_dtype(np_dtype), low, high)
    return arranged_draws(values, shape, strides, np_dtype)


def normal_draws(generator, shape, np_dtype, mean=0.0, std=1.0, strides=None):
    """An array of ``shape`` with PyTorch's N(mean, std^2) draws for a tensor of ``np_dtype``
    (each part of a complex number has std / sqrt(2)); a contiguous tensor of 16 numbers or
    more takes the block kernel, any other the one-at-a-time one."""
    complex_ = np_dtype.kind == "c"
    if complex_:
        std = std / 2 ** 0.5
    n = math.prod(shape) * (2 if complex_ else 1)
    contiguous = strides is None or _c_contiguous(shape, strides)
    stream = stream_of(generator)
    if n >= 16 and contiguous:
        values = stream.normal_block(n, _real_part_dtype(np_dtype), mean, std)
    else:
        # (z * std + mean, one rounding: the kernel's fused multiply-add, which for std 1 is
        # the plain sum, the product being exact)
        z, std, mean = stream.normal_pairs(n), float(std), float(mean)
        values = z + mean if std == 1.0 else fused_multiply_add(z, std, mean)
    return arranged_draws(values, shape, strides, np_dtype)


def bernoulli_draws(generator, shape, p, strides=None):
    """A bool array of ``shape``, True with probability ``p``: PyTorch's ``u < p``, with u
    float64 uniforms for a number p, and for an array p (broadcast to shape) uniforms in
    p's precision (float64, else float32)."""
    n = math.prod(shape)
    precision = np.dtype(np.float64 if np.asarray(p).dtype == np.float64 or
                         not isinstance(p, np.ndarray) else np.float32)
    u = arranged_draws(stream_of(generator).uniform01(n, precision), shape, strides, precision)
    return u < (np.broadcast_to(p.astype(precision, copy=False), shape)
                if isinstance(p, np.ndarray) else p)


def _c_contiguous(shape, strides):
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


def _draw_call(factory):
    """rand/randn as PyTorch's parser words a call of them that it refuses: its two signatures
    listed ("received an invalid combination of arguments") for a call of no size, of a size
    and more positional arguments, a size both given and named, or a keyword it does not know
    or of another type; a size of the wrong type keeps its own words ("argument 'size'
    (position 1) must be tuple of ints").  Asked only once the call has failed."""
    name = factory.__name__

    @functools.wraps(factory)
    def call(*size, **kwargs):
        try:
            return factory(*size, **kwargs)
        except (TypeError, AttributeError):
            first = size[0] if size else kwargs.get("size", ())
            error = None
            if len(size) > 1 and (isinstance(first, bool) or not isinstance(
                    first, (numbers.Integral, Tensor))):     # (sizes one by one start
                error = _combination(name, size, kwargs, _DRAW_SIGNATURES)   # with an int)
            elif isinstance(first, (numbers.Integral, tuple, list, Tensor)) and \
                    not isinstance(first, bool):
                out = kwargs.get("out")
                error = (_combination(name, size, kwargs, _DRAW_SIGNATURES)
                         if out is not None and not isinstance(out, Tensor)
                         else refusal(name, False, size, kwargs))
            if error is not None:
                raise error from None
            raise
    return call


_FACTORY_KEYWORDS = ("out = None, torch.dtype dtype = None, torch.layout layout = None, "
                     "torch.device device = None, bool pin_memory = False, bool requires_grad = "
                     "False")
_DRAW_SIGNATURES = tuple(f"tuple of ints size, *, {generator}Tensor {_FACTORY_KEYWORDS}"
                         for generator in ("torch.Generator generator, ", ""))


@_draw_call
@_out_keyword
@_size_keyword
def rand(*size, generator=None, dtype=None, layout=None,
          device=None, requires_grad=False):
    """Uniform random numbers in [0, 1) (both parts, for a complex dtype)."""
    shape = _size(size, "rand")
    check_layout(layout, "rand")
    _require_float(dtype, "check_uniform_bounds", "rand")
    if on_meta(device):         # no data: nothing drawn, the generator's state kept
        return _finish(backend.empty(shape, _numpy_dtype(dtype), backend.meta), dtype, device,
                       requires_grad)
    return _finish(uniform_draws(generator, shape, _numpy_dtype(dtype)), dtype, device,
                   requires_grad)


@_draw_call
@_out_keyword
@_size_keyword
def randn(*size, generator=None, dtype=None, layout=None,
          device=None, requires_grad=False):
    """Standard normal random numbers; for a complex dtype, E|z|^2 = 1 (each part has
    variance 1/2, as PyTorch's)."""
    shape = _size(size, "randn")
    check_layout(layout, "randn")
    _require_float(dtype, "normal_kernel_cpu", "randn")
    if on_meta(device):         # no data: nothing drawn, the generator's state kept
        return _finish(backend.empty(shape, _numpy_dtype(dtype), backend.meta), dtype, device,
                       requires_grad)
    return _finish(normal_draws(generator, shape, _numpy_dtype(dtype)), dtype, device,
                   requires_grad)


_NO_HIGH = object()     # randint(high, size): the one bound given (an explicit None is refused)


# the C++ element types PyTorch's bounds errors name
_C_NAMES = {"int8": "signed char", "int16": "short int", "int32": "int", "int64": "long int",
            "uint8": "unsigned char", "uint16": "short unsigned int", "uint32": "unsigned int",
            "uint64": "long unsigned int", "float16": "c10::Half"}


def _check_bounds(np_dtype, low, high):
    """PyTorch's refusal of a [low, high) range that leaves an integer dtype (numpy would wrap
    the draws: randint(0, 300, dtype=int8) gives negatives), or float16's finite range."""
    info = np.finfo(np_dtype) if np_dtype == np.float16 else np.iinfo(np_dtype)
    least, most = int(info.min), int(info.max)       # (Python ints: exact comparisons)
    if not least <= low <= most:
        raise RuntimeError(f"from is out of bounds for {_C_NAMES[np_dtype.name]}")
    if not least <= high - 1 <= most:
        raise RuntimeError(f"to - 1 is out of bounds for {_C_NAMES[np_dtype.name]}")


_NO_SIZE = object()     # randint(high, size): the size comes second


def _randint_int(value):
    """An int to PyTorch's parser: a Python or numpy integer (not a bool), or an integer
    tensor of one element."""
    if isinstance(value, Tensor):
        return value._array.dtype.kind in "iu" and value._array.size == 1
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


_RANDINT_SIGNATURES = tuple(f"{bounds}, tuple of ints size, *, {generator}Tensor "
                            f"{_FACTORY_KEYWORDS}"
                            for bounds in ("int high", "int low, int high")
                            for generator in ("torch.Generator generator, ", ""))
# what PyTorch's parser takes for each of randint's keywords (None: the default); a dtype may
# be given as Python's int, float, bool or complex
_PYTHON_DTYPES = (int, float, bool, complex)
_RANDINT_KEYWORDS = {
    "generator": lambda v: isinstance(v, Generator), "out": lambda v: isinstance(v, Tensor),
    "dtype": lambda v: isinstance(v, dtypes.DType) or any(v is k for k in _PYTHON_DTYPES),
    "layout": lambda v: isinstance(v, _Layout),
    "device": lambda v: isinstance(v, (str, backend.Device)) or _randint_int(v),
    "pin_memory": lambda v: isinstance(v, bool), "requires_grad": lambda v: isinstance(v, bool)}


def _randint_refusal(given):
    return _combination("randint", *given, _RANDINT_SIGNATURES)


def _check_randint_call(args, kwargs):
    """PyTorch's parser on a randint call that only its two-argument overload could not
    take: given more or fewer than two arguments, a call that fits none of its overloads
    (bounds that are not ints, a size that is not a tuple of ints, a keyword it does not
    know or of the wrong type) is refused with the list of all four."""
    if len(args) + len(kwargs) == 2:        # one overload fits the count: its own words
        missing = [f'"{n}"' for n in ("high", "size")[len(args):] if n not in kwargs]
        if missing:             # (PyTorch's plural, as it is)
            raise TypeError(f"randint() missing {len(missing)} required positional argument"
                            f"{'s' if len(missing) == 1 else ''}: {', '.join(missing)}")
        return
    # three bounds given (by position or by name: randint(0, 5, size=(2,))) read as
    # (low, high, size), two as (high, size)
    given = len(args) + sum(k in ("low", "high", "size") for k in kwargs)
    names = ("low", "high", "size") if given >= 3 or "low" in kwargs else ("high", "size")
    bound = dict(zip(names, args))
    fits = len(args) <= len(names)
    for key, value in kwargs.items():
        if key in names:
            fits = fits and key not in bound
            bound[key] = value
        elif key in _RANDINT_KEYWORDS:
            fits = fits and (value is None or _RANDINT_KEYWORDS[key](value))
        else:
            fits = False
    size = bound.get("size")
    fits = fits and len(bound) == len(names) and \
        all(_randint_int(bound[n]) for n in names[:-1]) and isinstance(size, (tuple, list)) \
        and (not size or _randint_int(size[0]))      # (the first element decides the type)
    if not fits:
        raise _randint_refusal((args, kwargs))


def _check_randint_types(low, high, size, given):
    """PyTorch's parser on randint's (high, size) or (low, high, size), in its words."""
    if size is _NO_SIZE and not isinstance(high, (tuple, list)):
        if high is _NO_HIGH:             # one argument: no signature takes it
            raise _randint_refusal(given)
        raise TypeError(f"randint(): argument 'size' (position 2) must be tuple of ints, not "
                        f"{python_type_name(high)}")
    if size is _NO_SIZE or high is _NO_HIGH:         # (high, size)
        sizes = high if size is _NO_SIZE else size
        if not _randint_int(low):
            raise TypeError(f"randint(): argument 'high' (position 1) must be int, not "
                            f"{python_type_name(low)}")
        if not isinstance(sizes, (tuple, list)):
            raise TypeError(f"randint(): argument 'size' must be tuple of ints, not "
                            f"{python_type_name(sizes)}")
        if sizes and not _randint_int(sizes[0]):      # (the first element decides the type)
            if size is _NO_SIZE:
                raise TypeError(f"randint(): argument 'size' (position 2) must be tuple of "
                                f"ints, but found element of type "
                                f"{python_type_name(sizes[0])} at pos 0")
            raise TypeError(f"randint(): argument 'size' must be tuple of ints, not "
                            f"{python_type_name(sizes)}")
    elif not (_randint_int(low) and _randint_int(high) and isinstance(size, (tuple, list))
              and (not size or _randint_int(size[0]))):
        raise _randint_refusal(given)
    for bound in (low, high):
        if isinstance(bound, int) and not -2 ** 63 <= bound < 2 ** 63:
            raise ValueError("Overflow when unpacking long long")


def randint(*args, **kwargs):
    """Random integers in [low, high); ``randint(high, size)`` starts at 0.
    ``randint([low=0,] high, size, *, generator, dtype, layout, device, requires_grad,
    pin_memory, out)``."""
    _check_randint_call(args, kwargs)
    return _randint(*args, _given=(args, kwargs), **kwargs)


def _named(name):
    def rename(function):
        function.__name__ = function.__qualname__ = name
        return function
    return rename


@_out_keyword
@_named("randint")                  # (the name _out_keyword's messages give)
def _randint(low=_NO_SIZE, high=_NO_HIGH, size=_NO_SIZE, generator=None, dtype=None,
             device=None, requires_grad=False, *, layout=None, _given=((), {})):
    given = _given          # the call's arguments as given, for the parser's words
    check_layout(layout, "randint")
    if low is _NO_SIZE:                  # randint(high=5, size=(2,))
        if high is _NO_HIGH:
            raise _randint_refusal(given)
        low, high = high, _NO_HIGH
    _check_randint_types(low, high, size, given)
    if size is _NO_SIZE:                 # randint(high, size)
        low, high, size = 0, low, high
    elif high is _NO_HIGH:               # randint(high, size=size)
        low, high = 0, low
    shape = _size((size,), "randint")    # (the result is made, then the bounds are checked)
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
    if dtype is not None and (dtypes.to_dtype(dtype).np.kind in "iu" or
                              dtypes.to_dtype(dtype).np == np.float16):
        _check_bounds(dtypes.to_dtype(dtype).np, low, high)
    if dtype is not None:               # (a float dtype: bounds moved onto its grid)
        low, high = float_bounds(dtypes.to_dtype(dtype).np, low, high)
    if on_meta(device):         # no data: nothing drawn, the generator's state kept
        return _finish(backend.empty(shape, np.int64, backend.meta), dtype or dtypes.int64,
                       device, requires_grad)
    # (PyTorch's from/to kernel: 64-bit words from a range of 2^28 on)
    draws = stream_of(generator).integers(math.prod(shape), low, high,
                                          wide_from=1 << 28)
    return _finish(draws.reshape(shape), dtype or dtypes.int64, device, requires_grad)


def _check_permutation_size(n, np_dtype):
    """PyTorch's refusal of a permutation whose largest value n - 1 the dtype cannot hold (an
    integer type), or of more than 2049 values in float16 (whose integers stop being exact)."""
    if np_dtype.kind in "iu" and n - 1 > int(np.iinfo(np_dtype).max):
        raise RuntimeError(f"value cannot be converted to type {np_dtype.name}_t without "
                           f"overflow")
    if np_dtype == np.float16 and n > 2049:
        raise RuntimeError("n cannot be greater than 2049 for Half type.")


@_out_keyword
def randperm(n, generator=None, dtype=None, device=None, *, layout=None, requires_grad=False):
    """A random permutation of 0 .. n-1 (int64 unless ``dtype`` says otherwise)."""
    check_layout(layout, "randperm")
    n = _int_argument(n, "randperm", "n", 1)
    if dtype is not None:
        dtypes.refuse_unsigned("randperm", dtypes.to_dtype(dtype))
        if dtypes.to_dtype(dtype) is dtypes.bool_:     # (no permutation of two values)
            raise NotImplementedError("\"randperm\" not implemented for 'Bool'")
    if int(n) < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {int(n)}: "
                           f"[{int(n)}]")
    if dtype is not None:
        _check_permutation_size(int(n), dtypes.to_dtype(dtype).np)
    if on_meta(device):         # no data: nothing drawn, the generator's state kept
        return _finish(backend.empty((int(n),), np.int64, backend.meta),
                       dtype or dtypes.int64, device, requires_grad)
    return _finish(stream_of(generator).permutation(int(n)), dtype or dtypes.int64, device,
                   requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False, *, layout=None, generator=None,
              memory_format=mf.preserve_format, pin_memory=False):
    return _float_draws_like("rand_like", rand, uniform_draws, "check_uniform_bounds", t, dtype,
                             device, requires_grad, layout, generator, memory_format,
                             pin_memory)


def randn_like(t, dtype=None, device=None, requires_grad=False, *, layout=None, generator=None,
               memory_format=mf.preserve_format, pin_memory=False):
    return _float_draws_like("randn_like", randn, normal_draws, "normal_kernel_cpu", t, dtype,
                             device, requires_grad, layout, generator, memory_format,
                             pin_memory)


def _float_draws_like(name, factory, draws, kernel, t, dtype, device, requires_grad, layout,
                      generator, memory_format, pin_memory):
    """rand_like / randn_like: ``factory``'s draws shaped like ``t``, or, in a layout that is
    not row-major, ``draws`` (the stream's) made in memory order, as PyTorch fills it
    (``kernel``: the name in its dtype refusal)."""
    check_layout(layout, name)
    check_pin_memory(pin_memory, name)
    dtype, device = _like(t, dtype, device, name)
    draw = functools.partial(factory, tuple(t.shape), generator=generator, dtype=dtype,
                             device=device, requires_grad=requires_grad)

    def in_memory_order(strides):
        _require_float(dtype, kernel, name[:-len("_like")])
        return _finish(draws(generator, tuple(t.shape), _numpy_dtype(dtype), strides=strides),
                       dtype, device, requires_grad)
    return _drawn_in_place(t, draw, in_memory_order, memory_format, name)
