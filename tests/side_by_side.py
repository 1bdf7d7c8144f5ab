"""The side-by-side harness of the program tests (tests/test_programs_*.py).

A program is a function ``program(lib)`` written once and run with ``lib`` = minigrad and
``lib`` = torch on the same inputs.  ``SideBySide.check`` runs it in both and asserts that
they agree: the same values (floats within tolerances), dtypes, shapes and types of result,
or the same kind of exception with torch's words in minigrad's message, and the same warnings.

A test file makes one ``SideBySide`` with the few settings in which its comparisons differ
from the others' (tolerances, how strings and messages are made library-neutral, what of a
warning is compared, what of a tensor besides its values), and registers its programs with
the decorator ``registry()`` gives.
"""
import copy
import math
import warnings

import numpy as np

import minigrad
import torch


# ----------------------------------------------------------------------------------------------
# library-neutral text
# ----------------------------------------------------------------------------------------------
def dotted(text):
    """``text`` with minigrad's module paths ('minigrad.') written as torch's."""
    return str(text).replace("minigrad.", "torch.")


def bare(text):
    """``text`` with every 'minigrad' written as 'torch'."""
    return str(text).replace("minigrad", "torch")


def verbatim(text):
    """``text`` as it is (minigrad's message must hold torch's words as torch wrote them)."""
    return str(text)


def category(w):
    """What of a warning is compared by default: its category."""
    return w.category.__name__


def with_printoptions(lib, f, **options):
    """f() under ``lib.set_printoptions(**options)``, the defaults restored after."""
    lib.set_printoptions(**options)
    try:
        return f()
    finally:
        lib.set_printoptions(profile="default")


# ----------------------------------------------------------------------------------------------
# exceptions a program catches and returns as part of its result
# ----------------------------------------------------------------------------------------------
class Raised:
    """What ``err`` caught; compared by type name, and torch's words must be in minigrad's
    message (both made library-neutral by the harness's ``rename_error``)."""

    def __init__(self, exc):
        self.exc = exc


def err(fn, *, quiet=False):
    """``fn()``'s exception as a ``Raised``, or 'no error'.  ``quiet``: warnings given on
    the way are dropped (not compared)."""
    try:
        if quiet:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn()
        else:
            fn()
    except Exception as exc:  # noqa: BLE001 (the type and words are the result)
        return Raised(exc)
    return "no error"


# ----------------------------------------------------------------------------------------------
# the same weights on both sides
# ----------------------------------------------------------------------------------------------
def load_seeded(lib, module, seed=0, scale=0.3):
    """Give every floating entry of ``module``'s state dict seeded numpy values (scaled normal
    draws), so that a layer built in each library starts from the same numbers."""
    rng = np.random.RandomState(seed)
    sd = {}
    for k, v in module.state_dict().items():
        if v.is_floating_point():
            sd[k] = lib.tensor(rng.randn(*tuple(v.shape)) * scale, dtype=v.dtype)
        else:
            sd[k] = v
    module.load_state_dict(sd)
    return module


def grads_of(module):
    """{name: .grad} of the parameters that have one."""
    return {n: p.grad for n, p in module.named_parameters() if p.grad is not None}


def params_of(module):
    """{name: a detached copy} of the parameters."""
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def normal64(*shape, scale=1.0, seed=0):
    """Float64 normal draws of ``shape`` from a generator seeded by ``seed`` (the same numbers
    fed to both libraries)."""
    return np.random.RandomState(seed).randn(*shape) * scale


def normal32(*shape, scale=1.0, seed=0):
    """``normal64``'s draws in float32."""
    return normal64(*shape, scale=scale, seed=seed).astype(np.float32)


def labels(n, classes, seed):
    """``n`` class indices below ``classes``, seeded."""
    return np.random.RandomState(seed).randint(0, classes, n)


# ----------------------------------------------------------------------------------------------
# registering programs
# ----------------------------------------------------------------------------------------------
def train_steps(opt, loss_of, steps=3):
    """``steps`` optimizer steps of ``loss_of()`` (zero_grad, backward, step); the losses."""
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def registry():
    """A list of programs and the decorator that adds to it: ``@program``, or
    ``@program(**options)`` where options are keywords of ``SideBySide.check`` (``words``,
    ``rtol``/``atol``) kept on the function as ``fn.options`` for the test to pass on."""
    programs = []

    def program(fn=None, **options):
        def register(f):
            f.options = options
            programs.append(f)
            return f
        return register(fn) if fn is not None else register

    return programs, program


def options(fn):
    """The keywords ``fn`` was registered with (none for an unregistered function)."""
    return getattr(fn, "options", {})


# ----------------------------------------------------------------------------------------------
# the harness
# ----------------------------------------------------------------------------------------------
class SideBySide:
    """How one test file compares minigrad's outcome of a program with torch's.

    rename:        result strings made library-neutral (``dotted``, ``bare``, or the file's own)
    rename_error:  error messages (and ``Raised`` results) made library-neutral (``verbatim``:
                   torch's words must stand in minigrad's message as they are)
    tol:           floating tensors and arrays: {dtype name: rtol, or (rtol, atol)}; atol is
                   rtol / 10 where only rtol is given; a dtype not named takes float64's.
                   atol counts in units of the array's largest finite magnitude when that is
                   above 1: a sum's rounding error scales with its terms, so a small entry
                   beside large ones (a float32 weight gradient's 0.0093 among entries of
                   ~30) differs by what the large ones do
    scalar_tol:    Python floats: (rtol, atol), within both numpy's (|a - b| <= atol + rtol|b|)
                   and math's (|a - b| <= max(rtol max(|a|, |b|), atol)) measures, or None:
                   equal
    nan_scalars:   whether NaN and NaN are the same Python float
    tag:           what a list, tuple or dict is known by besides its items (None: nothing,
                   a list and a tuple alike), e.g. ``lambda v: type(v) is list``
    tensor_type:   whether a tensor's class name is compared (Tensor or Parameter)
    requires_grad: whether a tensor's requires_grad is compared
    numpy_scalars: whether numpy floating scalars are compared as arrays (dtype and shape, the
                   array tolerances) instead of as exact scalars
    warning:       what of a warning is compared (a warning -> a hashable, or None: not
                   compared); the warnings are compared as sorted sets of these
    error_kind:    what of an exception must be the same in both (exception -> a value to
                   compare; default its class, e.g. its class's name instead)
    first_line:    whether only the first line of torch's message (a full stop dropped) must
                   stand in minigrad's, instead of the whole message (stripped, a full stop
                   dropped)
    """

    def __init__(self, *, rename=dotted, rename_error=verbatim, tol, scalar_tol=(1e-5, 1e-8),
                 nan_scalars=True, tag=None, tensor_type=False, requires_grad=False,
                 numpy_scalars=False, warning=category, error_kind=type, first_line=False):
        self.rename, self.rename_error = rename, rename_error
        self.tol, self.scalar_tol, self.nan_scalars = tol, scalar_tol, nan_scalars
        self.tag, self.tensor_type, self.requires_grad = tag, tensor_type, requires_grad
        self.numpy_scalars = numpy_scalars
        self.warning, self.error_kind, self.first_line = warning, error_kind, first_line

    # ------------------------------------------------------------------------------------------
    def plain(self, value):
        """A program's result as plain Python/numpy, the library's name taken out of strings."""
        if isinstance(value, (minigrad.Tensor, torch.Tensor)):
            details = ((type(value).__name__,) if self.tensor_type else ()) + \
                (str(value.dtype).split(".")[-1], tuple(value.shape)) + \
                ((bool(value.requires_grad),) if self.requires_grad else ())
            if isinstance(value, torch.Tensor):      # a lazy conjugate/negative view written out
                value = value.resolve_conj().resolve_neg()
            return ("tensor",) + details + (value.detach().numpy().copy(),)
        if isinstance(value, np.ndarray) or (self.numpy_scalars and
                                             isinstance(value, np.floating)):
            return ("array", str(value.dtype), np.shape(value), np.array(value))
        if isinstance(value, (minigrad.dtype, torch.dtype)):
            return ("dtype", str(value).split(".")[-1])
        if isinstance(value, tuple) and type(value).__name__ == "Size":
            return ("Size", tuple(value))
        if isinstance(value, (list, tuple)):
            return ("sequence", self.tag and self.tag(value), [self.plain(v) for v in value])
        if isinstance(value, dict):
            return ("mapping", self.tag and self.tag(value),
                    {k: self.plain(v) for k, v in value.items()})
        if isinstance(value, Raised):
            return ("raised", type(value.exc).__name__, self.rename_error(value.exc))
        if isinstance(value, str):
            return self.rename(value)
        return (type(value).__name__, value)

    def tolerance(self, dtype):
        """(rtol, atol) of a floating numpy dtype."""
        tol = self.tol.get(dtype.name, self.tol["float64"])
        return tol if isinstance(tol, tuple) else (tol, tol / 10)

    def same(self, mine, theirs, where="result"):
        """Asserts that two ``plain`` results agree."""
        if isinstance(theirs, tuple) and theirs and theirs[0] in ("tensor", "array"):
            assert isinstance(mine, tuple) and mine[:-1] == theirs[:-1], \
                f"{where}: {mine[:-1]} vs {theirs[:-1]}"
            a, b = mine[-1], theirs[-1]
            if b.dtype.kind in "fc":          # complex: the tolerances of its parts' dtype
                rtol, atol = self.tolerance(b.real.dtype)
                finite = np.abs(b[np.isfinite(b)])
                scale = max(1.0, float(finite.max())) if finite.size else 1.0
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale, equal_nan=True,
                                           err_msg=where)
            else:
                np.testing.assert_array_equal(a, b, err_msg=where)
            return
        if isinstance(theirs, tuple) and theirs and theirs[0] == "mapping":
            assert isinstance(mine, tuple) and mine[:2] == theirs[:2] and \
                list(mine[2]) == list(theirs[2]), f"{where}: {mine} vs {theirs}"
            for k in theirs[2]:
                self.same(mine[2][k], theirs[2][k], f"{where}[{k!r}]")
            return
        if isinstance(theirs, tuple) and theirs and theirs[0] == "sequence":
            assert isinstance(mine, tuple) and mine[:2] == theirs[:2] and \
                len(mine[2]) == len(theirs[2]), f"{where}: {mine} vs {theirs}"
            for i, (m, t) in enumerate(zip(mine[2], theirs[2])):
                self.same(m, t, f"{where}[{i}]")
            return
        if isinstance(theirs, tuple) and theirs and theirs[0] == "raised":
            # the same exception type, torch's words in minigrad's message (which may say more)
            assert isinstance(mine, tuple) and mine[:2] == theirs[:2], \
                f"{where}: {mine} vs {theirs}"
            words = theirs[2].strip().rstrip(".")
            assert words in mine[2], f"{where}: {mine[2]!r} lacks torch's {words!r}"
            return
        if isinstance(theirs, tuple) and len(theirs) == 2 and isinstance(theirs[1], float):
            assert isinstance(mine, tuple) and mine[0] == theirs[0] and \
                self._close(mine[1], theirs[1]), f"{where}: {mine} vs {theirs}"
            return
        assert mine == theirs, f"{where}: {mine!r} vs {theirs!r}"

    def _close(self, a, b):
        if a == b:
            return True
        if math.isnan(a) and math.isnan(b):
            return self.nan_scalars
        if self.scalar_tol is None:
            return False
        rtol, atol = self.scalar_tol
        return bool(np.isclose(a, b, rtol=rtol, atol=atol)) and \
            math.isclose(a, b, rel_tol=rtol, abs_tol=atol)

    # ------------------------------------------------------------------------------------------
    def outcome(self, lib, program):
        """(plain result, exception, warnings) of ``program(lib)``.

        torch gives some warnings once per process (x.T on a 3-d tensor): made to give them
        every time here, so that what an earlier test did cannot change the comparison; the
        default dtype, print options and distributions' argument validation a program may set
        are put back after it."""
        always = lib.is_warn_always_enabled()
        default = lib.get_default_dtype()
        validate = lib.distributions.Distribution._validate_args
        lib.set_warn_always(True)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    result, error = self.plain(program(lib)), None
                except Exception as exc:  # noqa: BLE001 (compared with torch's)
                    result, error = None, exc
        finally:
            lib.set_warn_always(always)
            lib.set_default_dtype(default)
            lib.set_printoptions(profile="default")
            lib.distributions.Distribution.set_default_validate_args(validate)
        said = {self.warning(w) for w in caught}
        return result, error, sorted(said - {None})

    def words(self, message):
        """The part of torch's (library-neutral) message minigrad's must hold by default."""
        if self.first_line:
            return message.split("\n")[0].rstrip(".")
        return message.strip().rstrip(".")

    def check(self, program, words=None, rtol=None, atol=None):
        """Runs ``program`` in both libraries and asserts they agree; returns torch's exception
        (None where it ran).  ``words``: the part (a string, or a list of parts) of torch's
        error message minigrad's must hold, instead of all of it; ``rtol``/``atol``: the
        tolerances of float64 tensors and Python floats, instead of the harness's.  Where
        they are not given, those the program was registered with (``@program(...)``)."""
        registered = options(program)
        words = registered.get("words") if words is None else words
        rtol = registered.get("rtol") if rtol is None else rtol
        atol = registered.get("atol") if atol is None else atol
        harness = self
        if rtol is not None or atol is not None:
            default = self.tolerance(np.dtype("float64"))
            rtol = default[0] if rtol is None else rtol
            atol = default[1] if atol is None else atol
            harness = copy.copy(self)
            harness.tol = dict(self.tol, float64=(rtol, atol))
            harness.scalar_tol = (rtol, atol)
        mine, my_error, my_warnings = harness.outcome(minigrad, program)
        theirs, their_error, their_warnings = harness.outcome(torch, program)
        if their_error is not None:
            assert my_error is not None, f"torch raised {their_error!r}, minigrad gave {mine}"
            assert self.error_kind(my_error) == self.error_kind(their_error), \
                f"{my_error!r} vs {their_error!r}"
            told, said = self.rename_error(their_error), self.rename_error(my_error)
            if words is None:
                words = [self.words(told)]
            else:
                words = [words] if isinstance(words, str) else words
                for part in words:
                    assert part in told, (part, told)
            for part in words:
                assert part in said, f"{said!r} lacks torch's {part!r}"
        else:
            assert my_error is None, f"minigrad raised {my_error!r}, torch gave {theirs}"
            harness.same(mine, theirs, getattr(program, "__name__", "result"))
        assert my_warnings == their_warnings, (my_warnings, their_warnings)
        return their_error


def program_harness(**more_tol):
    """The harness of the programs rounds (tests/test_programs_round9*.py onwards): names and
    error words compared without the library's name, float64 to ~1e-9 and float32 to ~1e-5,
    Python numbers likewise, requires_grad compared; ``more_tol`` adds dtypes' (rtol, atol)."""
    return SideBySide(rename=bare, rename_error=bare,
                      tol={"float32": (1e-5, 1e-6), "float64": (1e-9, 1e-11), **more_tol},
                      scalar_tol=(1e-9, 1e-11), requires_grad=True)


def import_forward_ad_decompositions():
    """Import what torch's first forward-mode AD imports, its warning (once, of
    torch.jit.script's deprecation) silenced: a program file that uses forward mode calls
    this at import, so that the warning does not land in one program's record."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        __import__("torch._decomp.decompositions_for_jvp")


def leaf(L, *shape, scale=1.0, seed=0, grad=False):
    """A tensor of library ``L`` holding normal64(*shape, scale, seed), requiring grad when
    ``grad``: the same numbers on both sides."""
    return L.tensor(normal64(*shape, scale=scale, seed=seed), requires_grad=grad)


def tanh_mlp(L, sizes, seed):
    """A float64 MLP of Linear layers ``sizes[0] -> ... -> sizes[-1]`` with Tanh between
    them, its weights drawn by ``L`` after ``L.manual_seed(seed)``."""
    nn = L.nn
    L.manual_seed(seed)
    layers = []
    for i in range(len(sizes) - 1):
        layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.Tanh()]
    return nn.Sequential(*layers[:-1]).double()


def ddpm_blocks(L):
    """(ResBlock, Attn): the small DDPM U-Net's pieces in library ``L``, as the programs
    rounds build them. ResBlock(cin, cout, tdim)(x, temb): GroupNorm, SiLU and 3x3 conv
    twice, the time embedding added between, a 1x1 skip when the channels change.
    Attn(c)(x): self-attention over the flattened map (one head, 1x1 convs), residual."""
    nn, F = L.nn, L.nn.functional

    class ResBlock(nn.Module):
        def __init__(self, cin, cout, tdim):
            super().__init__()
            self.n1, self.c1 = nn.GroupNorm(2, cin), nn.Conv2d(cin, cout, 3, padding=1)
            self.t = nn.Linear(tdim, cout)
            self.n2, self.c2 = nn.GroupNorm(2, cout), nn.Conv2d(cout, cout, 3, padding=1)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

        def forward(self, x, temb):
            h = self.c1(F.silu(self.n1(x)))
            h = h + self.t(F.silu(temb))[:, :, None, None]
            h = self.c2(F.silu(self.n2(h)))
            return h + self.skip(x)

    class Attn(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm, self.qkv, self.proj = nn.GroupNorm(2, c), nn.Conv2d(c, 3 * c, 1), \
                nn.Conv2d(c, c, 1)

        def forward(self, x):
            B, C, H, W = x.shape
            q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)
            w = L.einsum("bci,bcj->bij", q, k) * C ** -0.5
            h = L.einsum("bij,bcj->bci", w.softmax(dim=-1), v).reshape(B, C, H, W)
            return x + self.proj(h)

    return ResBlock, Attn
