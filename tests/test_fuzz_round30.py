"""Round-30 fuzzing, run side by side with PyTorch; each case here is run against torch.

The round aimed at what rounds 25-29 stressed least: PyTorch's argument parser on the
factories and constructors (the legacy ``torch.Tensor(...)`` / ``t.new(...)`` /
``torch.FloatTensor(...)`` forms, ``randint``'s overloads, the window functions' factory
keywords, ``torch.where`` given keywords it does not know), the type names its messages print
(``torch.device``, ``torch.layout``, ``torch.Size``...), the index nanmedian returns for a
slice of NaN, and a seeded sweep of hostile arguments (0-d tensors and Python numbers of
every dtype, NaN / inf / -0.0 through the order statistics, empty tensors through the
reductions with and without dims, dims out of range, transposed and expanded inputs,
``out=`` of the wrong dtype, indexing with masks, negative indices, None and Ellipsis).
Compared: values (NaN and the sign of zero), dtype, shape, and the exception's type and
first line of words.  The defects fixed:

* the legacy constructor takes no keyword but ``device``: ``torch.Tensor(data, dtype=...)``,
  ``t.new(data, requires_grad=True)`` and ``torch.FloatTensor(data, dtype=...)`` are refused
  with ``new()``'s signatures (minigrad's ``Tensor.__init__``: see the report);
  ``new(tensor)`` / ``FloatTensor(tensor)`` of another dtype name PyTorch's TensorOptions;
  ``Tensor(2, 3.0)`` / ``new(2, None)`` say "failed to unpack", ``Tensor([1], [2])`` and
  ``Tensor(2.5, 3)`` list the signatures; ``new(2, 3.0)`` gave half a message;
* ``nanmedian`` along a dim returns, for a slice of NaN only, the index PyTorch's
  std::nth_element leaves in front (2 for 4 or 5 NaN, 3 for 6...), not the first;
* ``randint``: a call no overload takes lists the four overloads (the list was empty), with
  the arguments as given (``(high=int, )``, ``(int, tuple, dtype=int)``); a missing size is
  PyTorch's "missing 1 required positional arguments"; a float tensor is not an int; bounds
  outside int64 overflow; a size whose first element is not an int names position 2;
* the window functions: a factory keyword of the wrong type (``dtype=3``, ``layout=``,
  ``device=`` a dtype) lists the signatures; a call with keywords only keeps PyTorch's
  trailing ", "; ``window_length`` / ``periodic`` of the wrong type print the type as
  PyTorch does (``torch.dtype``);
* type names: ``torch.device``, ``torch.layout``, ``torch.memory_format``, ``torch.Size``,
  ``torch._C.Generator``, ``torch.finfo`` / ``torch.iinfo`` in the parser's messages (they
  were ``Device``, ``layout``, ``Size``...);
* ``torch.where`` / ``Tensor.where`` with a keyword they do not know: the signatures listed
  (with the "keywords were incorrect" lines), or, with four arguments, the one signature's
  words (``argument 'input' (position 2) must be Tensor, not float``);
* silent values: complex ``add`` / ``sub`` (and ``+=``, ``-=``) compute a + (1 + 0j) * b as
  PyTorch's kernel does, so an infinite or NaN part of b makes the other part NaN
  (3 + (inf + 0j) is inf + nanj) and zeros take that product's sign; ``unique`` with a dim
  orders up to 16 slices holding NaN as PyTorch's std::sort leaves them (NaN first there);
* the sweep's refusals: ``eye(n, None)`` lists the signatures; ``linspace`` / ``logspace``
  refuse float16 / bfloat16 / float32 bounds past the dtype (with more than one step), and
  take a NaN or infinite bound they do not use for an integer dtype (0 or 1 steps);
  ``empty_strided`` of no element takes negative strides (laid out contiguously); a norm of
  an integer tensor is refused for its dtype before its dim; ``max`` / ``min`` with a dim,
  ``sort``, ``argsort``, ``topk`` (its k too), ``cummax`` / ``cummin`` and ``aminmax`` check
  the dim before refusing a complex tensor; ``amax`` / ``amin`` / ``cummax`` of an empty
  tensor run no kernel (an empty complex or uint16 result); ``unique`` / ``unique_consecutive``
  of a complex tensor with a dim name unique_dim's kernel; ``pow`` of two bool tensors checks
  their sizes before its missing kernel; an integer or slice index out of
  range names its place in the index (``x[..., 5]`` names dimension 1, as PyTorch); a value
  that does not broadcast in ``x[i] = v`` is named with its own dtype, and a bfloat16
  tensor's refusal is that one (not ml_dtypes' TypeError); ``argmax`` / ``max`` / ``min`` of
  an empty tensor keep PyTorch's sentence whole before minigrad's shape.
"""
import itertools
import random
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import run, same_refusal, same_result  # noqa: E402

LIBS = (torch, minigrad)


def _one(lib, code):
    """("ok", dtype, values as float64/complex128 or a Python value) or ("err", type,
    first line of words, library names read as torch's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            env = {"torch": lib, "np": np, "nan": float("nan"), "inf": float("inf")}
            exec(code, env)
            r = env["r"]
        except Exception as exc:  # noqa: BLE001 (compared with torch's)
            return ("err", type(exc).__name__,
                    str(exc).split("\n")[0].replace("minigrad", "torch"))
    if isinstance(r, tuple) and r and all(isinstance(x, lib.Tensor) for x in r):
        parts = [_one_tensor(lib, x) for x in r]
        return ("ok", tuple(p[0] for p in parts), tuple(p[1] for p in parts))
    if isinstance(r, lib.Tensor):
        dtype, values = _one_tensor(lib, r)
        return ("ok", dtype, values)
    return ("ok", type(r).__name__, str(r).replace("minigrad", "torch"))


def _one_tensor(lib, r):
    v = r.detach()
    if lib is torch:
        v = v.resolve_conj().resolve_neg()
    v = v.to(lib.complex128) if v.is_complex() else v.to(lib.float64)
    return str(r.dtype).split(".")[-1], np.asarray(v.numpy())


def _outcome_pair(code):
    return tuple(_one(lib, code) for lib in LIBS)


def _same_values(a, b, sign=True, rtol=1e-6):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same_values(x, y, sign, rtol) for x, y in zip(a, b))
    if isinstance(a, str):
        return a == b
    if a.shape != b.shape:
        return False
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    ok = ~np.isnan(a)
    if not np.allclose(a[ok], b[ok], rtol=rtol, atol=1e-12):
        return False
    if not sign:
        return True
    # the sign of zero
    real = np.real(a[ok])
    return np.array_equal(np.signbit(real[real == 0]), np.signbit(np.real(b[ok])[real == 0]))


# ops whose sign of a zero among equal zeros follows PyTorch's vector width (its SIMD
# lanes keep one operand, its scalar tail the other): not compared
_ZERO_SIGN_FREE = ("maximum", "minimum", "fmax", "fmin", "clamp", "max(", "min(", "amax",
                   "amin", "cummax", "sort", "topk", "kthvalue", "median", "mode", "unique")


def _agree(theirs, mine, code=""):
    if theirs[0] != mine[0]:
        return False, "outcome"
    if theirs[0] == "err":
        if theirs[1] != mine[1]:
            return False, "type"
        return (mine[2].startswith(theirs[2]), "words")
    if theirs[1] != mine[1]:
        return False, "dtype"
    # (float16 / bfloat16 results: PyTorch rounds some steps in the dtype, minigrad once)
    reduced = any(d in ("float16", "bfloat16") for d in (
        theirs[1] if isinstance(theirs[1], tuple) else (theirs[1],)))
    return _same_values(theirs[2], mine[2], not any(n in code for n in _ZERO_SIGN_FREE),
                        1e-2 if reduced else 1e-6), "values"


def _same(code):
    theirs, mine = _outcome_pair(code)
    ok, why = _agree(theirs, mine)
    assert ok, (why, theirs, mine)


# ---- the legacy constructor ------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.FloatTensor([1, 2], dtype=torch.float64)",
    "torch.DoubleTensor([1, 2], requires_grad=True)",
    "torch.LongTensor(2, 3, dtype=torch.int64)",
    "torch.tensor([1., 2.]).new([1, 2], dtype=torch.float64)",
    "torch.tensor([1., 2.]).new([1, 2], requires_grad=True)",
    "torch.tensor([1., 2.]).new(2, foo=1)",
    "torch.tensor([1., 2.]).new(torch.tensor(3))",
    "torch.tensor([1, 2]).new(torch.tensor([1.5]))",
    "torch.tensor([1, 2], dtype=torch.int8).new(torch.tensor([True]))",
    "torch.DoubleTensor(torch.tensor([1, 2]))", "torch.HalfTensor(torch.tensor([1., 2.]))",
    "torch.BoolTensor(torch.tensor([1, 2], dtype=torch.uint8))",
    "torch.Tensor(2, 3.0)", "torch.Tensor(3, [4])", "torch.Tensor(2, None)",
    "torch.Tensor([1, 2], [3])", "torch.Tensor(2.5, 3)", "torch.Tensor(True, 2)",
    "torch.FloatTensor(2, 3.0)", "torch.FloatTensor([1], [2])",
    "torch.tensor([1.]).new(2, 3.0)", "torch.tensor([1.]).new(-1)",
    "torch.LongTensor(2, -1)", "torch.Tensor(3.5)", "torch.Tensor(None)"])
def test_legacy_constructor_refusals(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.Tensor(2, True).shape", "torch.Tensor([]).shape", "torch.Tensor().shape",
    "torch.Tensor(torch.tensor([1, 2])).dtype", "torch.Tensor(2, 0).shape",
    "torch.tensor([1., 2.]).new(2, device='cpu').shape",
    "torch.tensor([1, 2]).new([1.5, 2]).tolist()", "torch.tensor([1., 2.]).new().shape",
    "torch.FloatTensor(torch.Size([2, 3])).shape", "torch.LongTensor([1.5, -2.5]).tolist()",
    "torch.FloatTensor([1, 2], device='cpu').dtype"])
def test_legacy_constructor_still_takes(code):
    theirs, mine = (str(run(code)(lib)).replace("minigrad", "torch") for lib in LIBS)
    assert mine == theirs


@pytest.mark.parametrize("code", [
    "torch.Tensor([1, 2], dtype=torch.float64)", "torch.Tensor([1, 2], dtype=torch.float32)",
    "torch.Tensor(3, 4, dtype=torch.float32)", "torch.Tensor([1, 2], requires_grad=True)",
    "torch.Tensor([1], device='cpu', dtype=torch.float32)"])
def test_tensor_class_takes_no_dtype_keyword(code):
    theirs, mine = _outcome_pair("r = " + code)
    assert mine[:2] == theirs[:2] and mine[2].startswith(theirs[2])


# ---- nanmedian of NaN slices -----------------------------------------------------------------

@pytest.mark.parametrize("n", list(range(1, 12)) + [16, 33, 100, 257])
def test_nanmedian_index_of_an_all_nan_slice(n):
    _same(f"a = torch.full((2, {n}), nan); a[1, {n} // 2] = 1.; r = torch.nanmedian(a, 1)")
    _same(f"r = torch.nanmedian(torch.full(({n}, 3), nan), 0, keepdim=True)")


def test_nanmedian_mixed_rows_random():
    rng = np.random.default_rng(30)
    for _ in range(60):
        rows, n = int(rng.integers(1, 4)), int(rng.integers(1, 12))
        a = rng.choice([np.nan, 1., 2., 3., -0.0], size=(rows, n), p=[.5, .15, .15, .1, .1])
        if rng.random() < 0.4:
            a[0] = np.nan
        for d in (0, 1, -1):
            _same(f"r = torch.nanmedian(torch.tensor({a.tolist()}), {d})")


def test_nanmedian_all_nan_gradient_goes_to_that_index():
    theirs, mine = (run("x = torch.full((2, 5), float('nan'), requires_grad=True); "
                        "torch.nanmedian(x, 1)[0].sum().backward(); r = x.grad.tolist()")(lib)
                    for lib in LIBS)
    assert mine == theirs


# ---- randint ---------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.randint(3)", "torch.randint()", "torch.randint(1, 2, 3)", "torch.randint(high=3)",
    "torch.randint(size=(2,))", "torch.randint(3, (2,), dtype=3)", "torch.randint(3.5, (2,))",
    "torch.randint(3, 2)", "torch.randint(3, (2,), foo=1)", "torch.randint('a', (2,))",
    "torch.randint(1, 3.5, (2,))", "torch.randint(1, 3, (2,), foo=2)",
    "torch.randint(3, foo=1)", "torch.randint(3, dtype=torch.int64)",
    "torch.randint(dtype=torch.int64, device='cpu')",
    "torch.randint(3, (2,), generator=3)", "torch.randint(3, (2,), device=3.5)",
    "torch.randint(3, (2,), requires_grad=1)", "torch.randint(3, (2,), layout=1)",
    "torch.randint(1, 3, 2)", "torch.randint(1, (2,), 2)", "torch.randint(3, [2.5])",
    "torch.randint(3, (2,), (3,))", "torch.randint(1, 2, 3, 4)",
    "torch.randint(torch.tensor(3.), (2,))", "torch.randint(0, 2 ** 63, (2,))",
    "torch.randint(-2 ** 63 - 1, 2, (2,))", "torch.randint(3, (2 ** 63,))",
    "torch.randint(3, (2, 2.5))", "torch.randint(1, 3, [2.5])", "torch.randint(3, size=[2.5])",
    "torch.randint(True, (2,))", "torch.randint(5, 3, (2,))", "torch.randint(3, (-2,))",
    "torch.randint(3, (2,), dtype=torch.complex64)",
    "torch.randint(3, (2,), out=torch.empty(2, dtype=torch.long), foo=1)",
    "torch.randint(0, 5, (2, 1.5))", "torch.randint(3, (2,), layout='strided')",
    "torch.randint(3, (2,), dtype='x')"])
def test_randint_refusals(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.randint(3, size=(2,))", "torch.randint(high=3, size=(2,))",
    "torch.randint(low=1, high=3, size=(2,))", "torch.randint(torch.tensor([3]), (2,))",
    "torch.randint(3, (torch.tensor(2),))", "torch.randint(1, 3, (2,), dtype=torch.float32)",
    "torch.randint(3, (2,), generator=torch.Generator())",
    "torch.randint(1, 3, (2,), out=torch.empty(2, dtype=torch.long))",
    "torch.randint(0, 5, (2, 3), dtype=int)", "torch.randint(0, 5, (2,), dtype=float)"])
def test_randint_still_takes(code):
    theirs, mine = (run(f"r = {code}; r = (tuple(r.shape), str(r.dtype), bool((r >= 0).all()))")
                    (lib) for lib in LIBS)
    assert (mine[0], mine[1].replace("minigrad", "torch"), mine[2]) == theirs


def test_randint_draws_unchanged():
    theirs, mine = (run("torch.manual_seed(3); r = torch.randint(2, 9, (7,)).tolist() + "
                        "torch.randint(5, (3,)).tolist()")(lib) for lib in LIBS)
    assert mine == theirs


# ---- windows and the parser's type names ----------------------------------------------------

_WINDOW_CALLS = [
    "torch.hamming_window(3, dtype=3)", "torch.hamming_window(3, dtype='float32')",
    "torch.hamming_window(3, True, torch.float32)", "torch.hann_window(3, torch.float32)",
    "torch.bartlett_window(3, torch.float32)", "torch.blackman_window(3, torch.float32)",
    "torch.kaiser_window(3, True, 12., torch.float32)", "torch.hamming_window(torch.float32)",
    "torch.hamming_window(3, layout=torch.float32)",
    "torch.hamming_window(3, device=torch.float32)",
    "torch.hamming_window(3, True, dtype=torch.float32, foo=1)",
    "torch.hamming_window(window_length=3, periodic=None)", "torch.hamming_window(3, None)",
    "torch.hann_window(3, periodic=1)", "torch.hamming_window(3, dtype=torch.int64)",
    "torch.kaiser_window(3, dtype=torch.int64)", "torch.hann_window(3, requires_grad=1)",
    "torch.signal.windows.hann(3, dtype=torch.int64)",
    "torch.signal.windows.gaussian(3, dtype=torch.int64)",
    "torch.hann_window(torch.device('cpu'))", "torch.hann_window(torch.strided)",
    "torch.hann_window(torch.Size([2]))", "torch.hann_window(torch.Generator())",
    "torch.hann_window(torch.contiguous_format)", "torch.hann_window(torch.finfo())",
    "torch.hann_window(torch.iinfo(torch.int8))", "torch.hann_window(3, torch.strided)",
    "torch.kaiser_window(3, dtype=torch.complex128)", "torch.hann_window(3, dtype=complex)",
    "torch.hamming_window(3, dtype=torch.complex64)", "torch.hann_window(3, dtype=np.float32)",
    "torch.hann_window(3, dtype=bool)"]


@pytest.mark.parametrize("code", _WINDOW_CALLS)
def test_window_refusals(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", ["torch.hann_window(4, dtype=torch.float64)",
                                  "torch.hamming_window(5, False, 0.5, 0.5)",
                                  "torch.kaiser_window(4, True, 3.0, device='cpu')",
                                  "torch.hann_window(4, requires_grad=True)",
                                  "torch.bartlett_window(torch.tensor(4))",
                                  "torch.hann_window(3, dtype=float)",
                                  "torch.hann_window(1, dtype=torch.complex64)",
                                  "torch.hann_window(0, dtype=torch.complex64)",
                                  "torch.blackman_window(1, False, dtype=torch.complex128)"])
def test_windows_still_take(code):
    same_result(run(code))


# ---- where with keywords it does not know ----------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.where(t, 1., 2., foo=3)", "torch.where(t, foo=3)",
    "torch.where(t, torch.ones(1), y=torch.zeros(1))",
    "torch.where(t, x=torch.ones(1), y=torch.zeros(1))",
    "torch.where(t, torch.ones(1), torch.ones(1), foo=1)",
    "torch.ones(1).where(t, foo=2)", "torch.ones(1).where(t, 2., foo=2)",
    "torch.where(t, torch.ones(1))", "torch.where(cond=t)",
    "torch.where(t, torch.ones(1), torch.ones(1), torch.ones(1))"])
def test_where_unknown_keywords(code):
    code = f"t = torch.tensor([True]); r = {code}"
    theirs, mine = _outcome_pair(code)
    assert theirs[0] == "err" and mine[:2] == theirs[:2]
    assert mine[2].startswith(theirs[2]), (theirs, mine)
    # the whole message, signatures and "didn't match" lines too
    words = []
    for lib in LIBS:
        try:
            run(code)(lib)
        except TypeError as exc:
            words.append(str(exc).replace("minigrad", "torch"))
    assert words[1] == words[0]


# ---- what the sweep found --------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "torch.eye(2, None)", "torch.eye(0, None)", "torch.eye(2, 2.5)", "torch.eye(2, True)",
    "torch.linspace(0, 1e30, 5, dtype=torch.float16)",
    "torch.linspace(1e30, 1, 5, dtype=torch.float16)",
    "torch.linspace(0, 1e39, 3, dtype=torch.bfloat16)",
    "torch.linspace(0, 1e39, 3, dtype=torch.float32)",
    "torch.logspace(0, 7e4, 3, dtype=torch.float16)",
    "torch.linspace(-1, float('nan'), 2, dtype=torch.int64)",
    "torch.empty_strided((2,), (-1,))", "torch.empty_strided((2, 3), (-5, 1))",
    "torch.norm(torch.tensor(3), dim=2)", "torch.norm(torch.tensor([3]), p=1, dim=2)",
    "torch.linalg.vector_norm(torch.tensor([3.]), dim=2, dtype=torch.int64)",
    "torch.max(torch.ones(2, 3, dtype=torch.complex64), dim=-3)",
    "torch.max(torch.empty(0, 3, dtype=torch.complex64), dim=0)",
    "torch.min(torch.empty(0, 3, dtype=torch.complex64), dim=0, keepdim=True)",
    "torch.min(torch.empty(0, 3, dtype=torch.complex64), dim=(), keepdim=True)",
    "torch.max(torch.ones(2, dtype=torch.complex64), dim=0, keepdim=1)",
    "torch.cummax(torch.ones(2, 3, dtype=torch.complex64), dim=-3)",
    "torch.cummin(torch.ones(2, 3, dtype=torch.complex64), dim=2)",
    "torch.cummax(torch.ones(2, 3, dtype=torch.complex64), dim=1)",
    "torch.topk(torch.tensor(3, dtype=torch.complex64), 2)",
    "torch.topk(torch.ones(3, dtype=torch.complex64), 4)",
    "torch.topk(torch.ones(3, dtype=torch.complex64), 2, dim=3)",
    "torch.topk(torch.ones(3, dtype=torch.complex64), 2)",
    "torch.sort(torch.ones(3, dtype=torch.complex64), dim=3)",
    "torch.argsort(torch.ones(3, dtype=torch.complex64), dim=-2)",
    "torch.aminmax(torch.ones(3, dtype=torch.complex64), dim=4)",
    "torch.argmax(torch.empty(0, 3))", "torch.argmin(torch.empty(0, 3), dim=0)",
    "torch.max(torch.empty(0, 3))", "torch.min(torch.empty(0, 3, dtype=torch.bfloat16))",
    "torch.amax(torch.ones(2, 3, dtype=torch.complex64), dim=1)",
    "torch.amax(torch.empty(0, 3, dtype=torch.complex64), dim=0)",
    "torch.amax(torch.empty(0, 3, dtype=torch.complex64))",
    "torch.unique(torch.ones(2, 2, dtype=torch.complex64), dim=0)",
    "torch.unique(torch.ones(2, dtype=torch.complex64))",
    "torch.unique_consecutive(torch.ones(2, 2, dtype=torch.complex64), dim=1)",
    "torch.ones(2, 2, dtype=torch.complex64).unique(dim=0)",
    "torch.pow(torch.ones(2, 3, dtype=torch.bool), torch.ones(2, 2, dtype=torch.bool))",
    "torch.ones(2, 3, dtype=torch.bool) ** torch.ones(2, dtype=torch.bool)",
    "torch.pow(torch.ones(3, dtype=torch.bool), torch.ones(3, dtype=torch.bool))"])
def test_sweep_refusals(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.linspace(0, float('inf'), 0, dtype=torch.int64)",
    "torch.linspace(-1, float('nan'), 1, dtype=torch.int64)",
    "torch.linspace(-1, float('inf'), 1, dtype=torch.int64)",
    "torch.linspace(7e4, 0, 1, dtype=torch.float16)",
    "torch.linspace(0, float('inf'), 5, dtype=torch.float16)",
    "torch.empty_strided((0,), (-1,)).fill_(1)",
    "torch.empty_strided((0, 3), (-1, 1)).fill_(1)",
    "torch.amin(torch.empty(0, 3, dtype=torch.complex64), dim=1, keepdim=True)",
    "torch.amax(torch.empty(0, 3, dtype=torch.complex128), dim=(1,))",
    "torch.amax(torch.empty(0, 3, dtype=torch.uint16), dim=1).to(torch.int64)",
    "torch.cummax(torch.empty(0, 3, dtype=torch.complex64), dim=1)[1]"])
def test_sweep_results(code):
    same_result(run(code))


def test_empty_strided_of_no_element_laid_out_contiguously():
    theirs, mine = (run("r = [torch.empty_strided(s, t).stride() for s, t in "
                        "[((0,), (-1,)), ((0, 3), (-1, 1)), ((2, 0), (-5, 1))]]")(lib)
                    for lib in LIBS)
    assert mine == theirs


@pytest.mark.parametrize("index", [
    "[..., None, 5]", "[..., 5]", "[0, 0, ..., 5]", "[None, None, 5]", "[None, None, 0, 5]",
    "[0, None, 5]", "[..., 5, 0]", "[1:, ..., 5]", "[True, 5]", "[None, ..., None, 5]",
    "[0, 5]", "[[0], 5]", "[..., [0], 5]", "[5, [0]]", "[..., 5, [0]]", "[0, ..., 5]",
    "[..., 1, -5]", "[(None, 5)]", "[None, 0, 1, 2, 5]"])
@pytest.mark.parametrize("write", [False, True])
def test_index_out_of_bounds_names_the_place_in_the_index(index, write):
    x = "torch.zeros(2, 3, 2, 2)"
    same_refusal(run(f"x = {x}; x{index} = 1; r = x" if write else f"r = {x}{index}"))


@pytest.mark.parametrize("code", [
    "r = torch.tensor(3, dtype=torch.int8); r[..., None] = torch.ones(2, 1)",
    "r = torch.tensor([1.5]).to(torch.int16); r[-1] = torch.tensor([7., 8.])",
    "r = torch.zeros(2, 3); r[0] = torch.ones(2, 1, dtype=torch.float64)",
    "r = torch.tensor([1.]).to(torch.bfloat16); r[-1] = torch.tensor([7., 8.])",
    "r = torch.zeros(2, 3, dtype=torch.bfloat16); r[0, 1] = torch.ones(2)"])
def test_setitem_refusal_names_the_value_as_given(code):
    same_refusal(run(code))


_COMPLEX = ["complex(inf, 0)", "complex(0, inf)", "complex(nan, 0)", "complex(-0.0, -0.0)",
            "complex(0.0, -0.0)", "complex(-0.0, 0.0)", "0j", "(1.5-2j)", "complex(-inf, nan)"]


@pytest.mark.parametrize("op", ["+", "-"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_add_and_sub_scale_by_a_complex_one(op, dtype):
    # PyTorch computes a + alpha * b (alpha = 1 + 0j): an infinite or NaN part of b makes
    # the other part NaN, and the signs of zeros follow that product
    for x, y in itertools.product(_COMPLEX, _COMPLEX):
        _same(f"r = torch.tensor([{x}], dtype=torch.{dtype}) {op} "
              f"torch.tensor([{y}], dtype=torch.{dtype})")


@pytest.mark.parametrize("code", [
    "r = torch.tensor([3+0j]) + inf", "r = inf + torch.tensor([3+0j])",
    "r = torch.tensor([3+0j]) - nan", "r = nan - torch.tensor([3+0j])",
    "x = torch.tensor([3+0j]); x += inf; r = x", "x = torch.tensor([3+0j]); x -= inf; r = x",
    "r = torch.add(torch.tensor(3, dtype=torch.complex64), "
    "torch.tensor([nan, -0.0, 0.0, inf, -inf, 1.5]), out=torch.empty(0, dtype=torch.complex64))",
    "r = torch.tensor([inf, 1.]) + torch.tensor(3+0j)",
    "r = torch.tensor(3+0j) + torch.tensor([inf, nan, 1.0])"])
def test_complex_add_with_numbers_and_real_tensors(code):
    _same(code)


def test_unique_dim_orders_slices_holding_nan_as_pytorch():
    # PyTorch sorts the slices with std::sort and a "less" a NaN fails both ways: for up to
    # 16 slices, the order of libstdc++'s insertion sort
    rng = np.random.default_rng(30)
    for _ in range(40):
        n, w = int(rng.integers(2, 17)), int(rng.integers(1, 3))
        a = rng.choice([np.nan, -0.0, 0.0, 1.0, 2.0, -np.inf, np.inf], size=(n, w))
        for d in range(w if w > 1 else 1):
            _same(f"r = torch.unique(torch.tensor({a.tolist()}), dim={d}, "
                  f"return_inverse=True, return_counts=True)")
    _same("r = torch.unique(torch.tensor([nan, -0.0, 0.0, inf, -inf, 1.5, -2.0, 3.0]), dim=0)")
    _same("r = torch.unique(torch.tensor([nan, nan, 1.0]), dim=0, return_counts=True)")


def test_complex_add_gradient_unchanged():
    theirs, mine = (run("a = torch.tensor([1+2j, 3-1j], requires_grad=True); "
                        "b = torch.tensor([0.5j, 2+0j], requires_grad=True); "
                        "((a + b) * (a - b).conj()).real.sum().backward(); "
                        "r = (a.grad.tolist(), b.grad.tolist())")(lib) for lib in LIBS)
    assert mine == theirs


# ---- the seeded sweep ------------------------------------------------------------------------

_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
           "float32", "float64", "complex64"]
_SPECIAL = "[nan, -0.0, 0.0, inf, -inf, 1.5, -2.0, 3.0]"


def _tensor(rng, kind):
    """Source text of a hostile tensor."""
    dtype = rng.choice(_DTYPES)
    pick = rng.randrange(9)
    if pick == 0:
        return f"torch.tensor(3, dtype=torch.{dtype})"
    if pick == 1:
        return f"torch.empty(0, 3, dtype=torch.{dtype})"
    if pick == 2:
        return f"torch.arange(6.).reshape(2, 3).t().to(torch.{dtype})"
    if pick == 3:
        return f"torch.tensor([[1.], [-2.]]).expand(2, 3).to(torch.{dtype})"
    if pick == 4 and kind == "float":
        return f"torch.tensor({_SPECIAL}, dtype=torch.float32)"
    if pick == 5:
        return f"torch.tensor([[-3, 7, 0], [127, -128, 5]]).to(torch.{dtype})"
    if pick == 6:
        return f"torch.tensor([{rng.choice(['1.5', '-0.0', 'nan', 'inf'])}]).to(torch.{dtype})"
    return f"torch.tensor([[2., -1., 0.], [5., 5., -7.]]).to(torch.{dtype})[:, ::2]"


_SCALARS = ["2", "-3", "0", "True", "2.5", "-0.0", "float('nan')", "1j", "300", "-1.5"]


def _sweep_codes(seed, count):
    rng = random.Random(seed)
    codes = []
    binary = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "maximum",
              "minimum", "fmax", "fmin", "atan2", "pow", "eq", "lt", "bitwise_and"]
    reductions = ["sum", "prod", "mean", "amax", "amin", "argmax", "argmin", "max", "min",
                  "std", "var", "logsumexp", "median", "nanmedian", "mode", "all", "any",
                  "count_nonzero", "nansum", "cumsum", "cummax", "norm"]
    orders = ["sort", "argsort", "topk", "kthvalue", "unique", "msort", "clamp"]
    for _ in range(count):
        family = rng.randrange(9)
        a, b = _tensor(rng, "any"), _tensor(rng, "float")
        if family == 0:
            fn = rng.choice(binary)
            other = rng.choice([b, rng.choice(_SCALARS)])
            first = rng.choice([a, a, rng.choice(_SCALARS[:3])]) if fn != "bitwise_and" else a
            codes.append(f"r = torch.{fn}({first}, {other})")
        elif family == 1:
            fn = rng.choice(reductions)
            dim = rng.choice(["", "0", "-1", "1", "2", "-3", "(0, 1)", "()"])
            keep = rng.choice(["", ", keepdim=True"]) if dim else ""
            dims = f"dim={dim}" if dim else ""
            if fn in ("cumsum", "cummax", "mode", "kthvalue") and not dim:
                dims = "dim=0"
            codes.append(f"r = torch.{fn}({a}{', ' if dims else ''}{dims}{keep})")
        elif family == 2:
            fn = rng.choice(orders)
            x = rng.choice([a, f"torch.tensor({_SPECIAL})",
                            "torch.tensor([[nan, 1., -0.0], [0.0, nan, -inf]])"])
            extra = {"topk": ", 2", "kthvalue": ", 2", "clamp": ", min=-0.0, max=1.0",
                     "sort": rng.choice(["", ", descending=True", ", stable=True, dim=0"]),
                     "unique": rng.choice(["", ", return_counts=True", ", dim=0"])}.get(fn, "")
            codes.append(f"r = torch.{fn}({x}{extra})")
        elif family == 3:
            out = rng.choice(_DTYPES)
            fn = rng.choice(["add", "mul", "div", "maximum", "remainder", "atan2"])
            codes.append(f"o = torch.empty(0, dtype=torch.{out}); "
                         f"r = torch.{fn}({a}, {b}, out=o)")
        elif family == 4:
            idx = rng.choice(["[None, ..., -1]", "[..., None]", "[[0, -1]]", "[-1]",
                              "[torch.tensor([True, False])]", "[:, [0, -1, 1]]",
                              "[torch.tensor([[0], [1]]), torch.tensor([0, 1])]",
                              "[1:, None, -1]", "[..., ::2]", "[torch.tensor(0)]",
                              "[[True, False]]", "[2]", "[..., 5]"])
            x = "torch.arange(12.).reshape(2, 3, 2)" if rng.random() < 0.5 else a
            if rng.random() < 0.5:
                codes.append(f"r = ({x}){idx}")
            else:
                value = rng.choice(["-1", "torch.tensor([7., 8.])", "float('nan')",
                                    "torch.tensor(5)", "torch.ones(2, 1)"])
                codes.append(f"r = ({x}).clone(); r{idx} = {value}")
        elif family == 6:           # integer overflow and wraparound
            dtype = rng.choice(["uint8", "int8", "int16", "int32", "int64"])
            x = (f"torch.tensor([0, 1, -1, 100, 127, -128, 255, 2 ** 31 - 1, -2 ** 31])"
                 f".to(torch.{dtype})")
            codes.append(rng.choice([
                f"r = {x} + {x}", f"r = {x} * 3", f"r = -{x}", f"r = torch.abs({x})",
                f"r = {x}.sum()", f"r = {x}.prod()", f"r = {x}.cumsum(0)",
                f"r = {x} - 1", f"r = {x} << 3", f"r = {x} >> 2", f"r = {x} * -1.5",
                f"r = {x}.sum(dtype=torch.{dtype})", f"r = {x}.mean()",
                f"r = {x}.to(torch.float16)", f"r = torch.tensor(70000.).to(torch.{dtype})",
                f"r = {x}.clone().add_(200)", f"r = {x} ** 2", f"r = {x}.square()"]))
        elif family == 7:           # division by zero, with signs
            left = rng.choice(["torch.tensor([5, -5, 0, 7])", "torch.tensor([5., -5., 0., -0.])",
                               "torch.tensor([5, -5, 0, 7], dtype=torch.uint8)",
                               "torch.tensor(-3)", "torch.tensor([True, False, True, False])"])
            right = rng.choice(["0", "-0.0", "0.0", "torch.tensor(0)",
                                "torch.tensor([0, 2, -2, 0])",
                                "torch.tensor([-0.0, 0.0, 2., -2.])", "-2", "2.5", "True"])
            fn = rng.choice(["div", "floor_divide", "remainder", "fmod", "true_divide"])
            mode = rng.choice(["", ", rounding_mode='floor'", ", rounding_mode='trunc'"]) \
                if fn == "div" else ""
            codes.append(f"r = torch.{fn}({left}, {right}{mode})")
        elif family == 8:           # in place on views of views, broadcasting values
            base = rng.choice(["torch.arange(12.).reshape(3, 4)",
                               "torch.arange(12).reshape(3, 4)"])
            view = rng.choice(["x[:, 1:]", "x[1:].t()", "x.t()[::2]", "x[:, 1:].t()[1:]",
                               "x.unsqueeze(0).expand(2, 3, 4)[0]", "x[1]", "x.view(4, 3)[1:]"])
            op = rng.choice(["add_(torch.tensor([1., 2., 3.]))", "mul_(2)", "div_(2)",
                             "add_(torch.ones(1))", "copy_(torch.tensor(7))",
                             "clamp_(0, 5)", "floor_divide_(2)", "fill_(float('nan'))",
                             "masked_fill_(torch.tensor(True), -1)", "sub_(1.5)",
                             "index_fill_(0, torch.tensor([0]), 9)", "zero_()"])
            codes.append(f"x = {base}; v = {view}; v.{op}; r = x")
        else:
            codes.append(rng.choice([
                f"r = torch.arange({rng.choice(['0', '1', '-3', '2.5', '5'])}, "
                f"{rng.choice(['0', '5', '-1', '1e-20', '2.5'])}, "
                f"{rng.choice(['1', '-1', '0', '0.5', '-0.25'])})",
                f"r = torch.linspace({rng.choice(['0', '-1', '1e30'])}, "
                f"{rng.choice(['1', '0', 'inf', 'nan'])}, {rng.choice(['0', '1', '5', '-1'])}"
                f"{rng.choice(['', ', dtype=torch.int64', ', dtype=torch.float16'])})",
                f"r = torch.logspace(0, {rng.choice(['2', '-2', '400'])}, "
                f"{rng.choice(['3', '1', '0'])}, base={rng.choice(['10', '2', '-2', '0.5'])})",
                f"r = torch.full({rng.choice(['(2,)', '()', '(0, 2)', '(-1,)'])}, "
                f"{rng.choice(_SCALARS)}"
                f"{rng.choice(['', ', dtype=torch.uint8', ', dtype=torch.bool'])})",
                f"r = torch.eye({rng.choice(['0', '3', '-1', '2'])}, "
                f"{rng.choice(['0', '2', '-2', 'None'])})",
                f"r = torch.empty_strided({rng.choice(['(2, 3)', '(0,)', '(2,)', '(2, 2)'])}, "
                f"{rng.choice(['(3, 1)', '(0,)', '(1,)', '(-1,)', '(0, 0)'])}).fill_(1)"]))
    return codes


def _left(code):
    """Sweep cases that differ for reasons this round left: float16 with a complex number is
    complex32 in PyTorch, a dtype minigrad has not; NaN cast to an integer is what the CPU's
    conversion gives, not a value either library defines; PyTorch's bfloat16 logsumexp
    rounds each step to bfloat16 (logsumexp([0, -7]) is 0 there), minigrad's once."""
    return "float16" in code and ("complex" in code or "1j" in code) or \
        "nan]).to(torch.int" in code or \
        "logsumexp" in code and "bfloat16" in code


def test_seeded_sweep():
    failures = []
    for code in _sweep_codes(30, 1500):
        if _left(code):
            continue
        theirs, mine = _outcome_pair(code)
        ok, why = _agree(theirs, mine, code)
        if not ok:
            failures.append((code, why, theirs[:3], mine[:3]))
    assert not failures, failures[:5]


@pytest.mark.parametrize("code", [
    "torch.randint(0, 5, size=(2,))", "torch.randint(0, high=5, size=(2, 1))",
    "torch.randint(5, size=(3,))", "torch.randint(high=5, size=(2,))",
    "torch.randint(low=0, high=5, size=(2,), dtype=torch.int32)"])
def test_randint_takes_its_bounds_and_size_by_name(code):
    # (a regression of this round's parser words: a size by name after two bounds)
    theirs, mine = (run(f"r = {code}; r = (tuple(r.shape), str(r.dtype))")(lib) for lib in LIBS)
    assert str(mine).replace("minigrad", "torch") == str(theirs)
