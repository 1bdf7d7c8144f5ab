"""Round 36 semantics, each case run side by side in minigrad and torch:

* second derivatives at singular points (NaN or 0 where torch's backward formulas give them):
  atan2 at the origin, pow/float_power at a zero base, copysign at 0, fmod by 0, prelu at 0,
  binary_cross_entropy at 0 and 1, complex abs/angle/sgn at 0, complex atan at +-i,
  renorm of a zero row;
* torch.load's errors on a truncated zip, a zip without a version record and one of a newer
  format version.
"""
import io
import zipfile

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

NAN_SIGN_FREE = dict(equal_nan=True)


def _second_order(lib, f, arrays, seed=0):
    """(output, first derivatives, second derivatives) of f at float64 ``arrays``: the first
    with create_graph under an upstream v, the second of sum(c_k * first_k) with respect to
    the inputs and v (None where nothing depends on them, as zeros)."""
    rng = np.random.default_rng(seed)
    xs = [lib.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = f(lib, *xs)
    v = lib.tensor(rng.standard_normal(tuple(out.shape)) + 0.5, dtype=lib.float64,
                   requires_grad=True)
    firsts = lib.autograd.grad(out, xs, v, create_graph=True, allow_unused=True)
    total = None
    for k, g in enumerate(firsts):
        if g is not None and g.requires_grad:
            term = (g * (k + 1.5)).sum()
            total = term if total is None else total + term
    seconds = [None] * (len(xs) + 1)
    if total is not None:
        seconds = lib.autograd.grad(total, xs + [v], allow_unused=True)

    def host(t, like):
        if t is None:
            return np.zeros(tuple(like.shape))
        t = t.detach()
        if lib is torch and t._is_zerotensor():
            return np.zeros(tuple(t.shape))
        return np.array(t.tolist(), dtype=np.float64)
    return (host(out, out), [host(g, x) for g, x in zip(firsts, xs)],
            [host(s, r) for s, r in zip(seconds, xs + [v])])


def _same_second_order(f, *arrays):
    mine, theirs = _second_order(minigrad, f, arrays), _second_order(torch, f, arrays)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-9, atol=0, **NAN_SIGN_FREE)
    for label, ms, ts in (("first", mine[1], theirs[1]), ("second", mine[2], theirs[2])):
        for k, (m, t) in enumerate(zip(ms, ts)):
            np.testing.assert_allclose(m, t, rtol=1e-9, atol=1e-12, err_msg=f"{label} {k}",
                                       **NAN_SIGN_FREE)


BASES = [0.0, -0.0, 1.0, -1.0, 2.0, 0.0, -2.0, 0.5]
POWERS = [0.0, 0.0, 0.0, 2.0, -1.0, 1.0, 0.5, -0.5]


@pytest.mark.parametrize("name, f, arrays", [
    ("atan2", lambda L, a, b: L.atan2(a, b), (BASES, POWERS)),
    ("atan2 origin", lambda L, a, b: L.atan2(a, b),
     ([0.0, 1e-160, 0.0, -0.0], [0.0, 0.0, 1e-200, 0.0])),
    ("atan2_", lambda L, a, b: (a * 1).atan2_(b), (BASES, POWERS)),
    ("pow", lambda L, a, b: L.pow(a, b), (BASES, POWERS)),
    ("number ** tensor, 0", lambda L, b: L.pow(0.0, b), (POWERS,)),
    ("number ** tensor, -2", lambda L, b: L.pow(-2.0, b), (POWERS,)),
    ("float_power", lambda L, a, b: L.float_power(a, b), (BASES, POWERS)),
    ("complex pow", lambda L, a, b: L.view_as_real(
        L.pow(L.view_as_complex(a), L.view_as_complex(b))),
     ([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]], [[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]])),
    ("copysign", lambda L, a, b: L.copysign(a, b), (BASES, POWERS)),
    ("vector_norm p=0.5", lambda L, a: L.linalg.vector_norm(a, 0.5), (BASES,)),
    ("vector_norm p=-1 dim", lambda L, a: L.linalg.vector_norm(a.reshape(2, 4), -1, dim=1),
     (BASES,)),
    ("copysign number", lambda L, a: L.copysign(a, -1.0), (BASES,)),
    ("copysign_", lambda L, a, b: (a * 1).copysign_(b) * 2, (BASES, POWERS)),
    ("fmod", lambda L, a, b: L.fmod(a, b), (BASES, POWERS)),
    ("fmod_", lambda L, a, b: (a * 1).fmod_(b), (BASES, POWERS)),
    ("remainder", lambda L, a, b: L.remainder(a, b), (BASES, POWERS)),
    ("prelu", lambda L, a, w: L.nn.functional.prelu(a, w), (BASES, [0.25])),
    ("prelu channels", lambda L, a, w: L.nn.functional.prelu(a, w),
     ([[0.0, 1.0], [-1.0, -0.0]], [0.25, -0.5])),
    ("prelu input only", lambda L, a: L.nn.functional.prelu(
        a, L.tensor([0.25], dtype=L.float64)), (BASES,)),
    ("complex abs", lambda L, a: L.abs(L.view_as_complex(a)),
     ([[0.0, 0.0], [1.0, 0.0], [-0.0, 0.0], [3.0, -4.0]],)),
    ("complex angle", lambda L, a: L.angle(L.view_as_complex(a)),
     ([[0.0, 0.0], [1.0, 0.0], [-0.0, 0.0], [3.0, -4.0]],)),
    ("complex sgn", lambda L, a: L.view_as_real(L.sgn(L.view_as_complex(a))),
     ([[0.0, 0.0], [1.0, 0.0], [-0.0, 0.0], [3.0, -4.0]],)),
    ("real abs", lambda L, a: L.abs(a), (BASES,)),
    ("atan", lambda L, a: L.atan(a), ([0.0, 1.0, -3.0, 1e200, float("inf")],)),
    ("complex atan at +-i", lambda L, a: L.view_as_real(L.atan(L.view_as_complex(a))),
     ([[0.0, 1.0], [0.0, -1.0], [1.0, 1.0], [0.0, 0.0]],)),
    ("renorm, a zero row left", lambda L, a: L.renorm(a, 2, 0, 1.0),
     ([[0.0, 0.0], [0.5, 0.0]],)),
    ("renorm, a zero row and a scaled one", lambda L, a: L.renorm(a, 2, 0, 1.0),
     ([[0.0, 0.0], [3.0, 0.0]],)),
    ("renorm p=1 and inf", lambda L, a: L.renorm(a, 1, 0, 1.0) + L.renorm(a, float("inf"),
                                                                          1, 1.0),
     ([[0.0, 5.0], [0.0, 0.0]],)),
    ("hypot", lambda L, a, b: L.hypot(a, b), (BASES, POWERS)),
    ("sqrt", lambda L, a: L.sqrt(a), (BASES,)),
    ("std of constant data", lambda L, a: L.std(a, 1), ([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]],)),
    ("var of constant data", lambda L, a: L.var(a), ([2.0, 2.0, 2.0],)),
])
def test_second_derivatives_at_singular_points_match_torch(name, f, arrays):
    _same_second_order(f, *arrays)


PROBS = [0.0, 1.0, 0.5, 1e-30, 0.0, 1.0, 1e-12, 1 - 1e-12]
LABELS = [0.0, 1.0, 0.5, 0.0, 1.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_second_derivatives_at_0_and_1(reduction, weighted):
    """PyTorch's double backward formula (eps 1e-12), not its clamped first derivative
    differentiated; the target's gradient through logit (infinite at 0 and 1); the
    first derivative with float32's 1e-12 as the floor."""
    def f(L, x, y):
        w = L.tensor(np.linspace(0.5, 2.0, len(PROBS)), dtype=L.float64) if weighted else None
        return L.nn.functional.binary_cross_entropy(x, y, weight=w, reduction=reduction)
    mine, theirs = _second_order(minigrad, f, (PROBS, LABELS)), \
        _second_order(torch, f, (PROBS, LABELS))
    np.testing.assert_array_equal(np.signbit(mine[0]), np.signbit(theirs[0]))
    for m, t in zip(mine[1] + mine[2], theirs[1] + theirs[2]):
        np.testing.assert_allclose(m, t, rtol=1e-12, atol=0, **NAN_SIGN_FREE)


def test_binary_cross_entropy_input_only_second_derivative():
    def f(L, x):
        return L.nn.functional.binary_cross_entropy(x, L.tensor(LABELS, dtype=L.float64))
    _same_second_order(f, PROBS)


# ----------------------------------------------------------------------------------------------
# torch.load on bad zip files
# ----------------------------------------------------------------------------------------------
def _checkpoint_bytes():
    buf = io.BytesIO()
    torch.save({"a": torch.arange(4.0)}, buf)
    return buf.getvalue()


def _rezipped(data, replace=None, drop=()):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            if any(info.filename.endswith(d) for d in drop):
                continue
            body = old.read(info.filename)
            for end, value in (replace or {}).items():
                if info.filename.endswith(end):
                    body = value
            new.writestr(info.filename, body)
    return out.getvalue()


def _load_error(lib, data, weights_only):
    with pytest.raises(Exception) as info:
        lib.load(io.BytesIO(data), weights_only=weights_only)
    return type(info.value), str(info.value)


@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("case, words", [
    ("cut in half", 60), ("cut to 10 bytes", 60), ("last byte cut", 60),
    ("version 99", 120), ("version 0", 115), ("no version, no data.pkl", 50),
    ("version, no data.pkl", 50),
])
def test_load_errors_on_bad_zips_match_torch(case, words, weights_only):
    data = _checkpoint_bytes()
    bad = {"cut in half": lambda: data[:len(data) // 2],
           "cut to 10 bytes": lambda: data[:10],
           "last byte cut": lambda: data[:-1],
           "version 99": lambda: _rezipped(data, {"/version": b"99\n"}),
           "version 0": lambda: _rezipped(data, {"/version": b"0\n"}),
           "no version, no data.pkl": lambda: _rezipped(data, drop=("version", "data.pkl")),
           "version, no data.pkl": lambda: _rezipped(data, drop=("data.pkl",))}[case]()
    mine, theirs = _load_error(minigrad, bad, weights_only), _load_error(torch, bad,
                                                                          weights_only)
    assert mine[0] is theirs[0]
    assert mine[1][:words] == theirs[1][:words]


def test_a_newer_format_version_is_refused_but_a_current_one_loads():
    data = _checkpoint_bytes()
    assert minigrad.load(io.BytesIO(data))["a"].tolist() == [0.0, 1.0, 2.0, 3.0]
    ten = _rezipped(data, {"/version": b"10\n"})
    assert minigrad.load(io.BytesIO(ten))["a"].tolist() == \
        torch.load(io.BytesIO(ten))["a"].tolist()


def test_renorm_of_a_row_with_nan_passes_the_gradient_through():
    def program(lib):
        x = lib.tensor([[float("nan"), 1.0], [3.0, 4.0], [0.0, 0.0]], dtype=lib.float64,
                       requires_grad=True)
        y = lib.renorm(x, 2, 0, 1.0)
        g, = lib.autograd.grad(y, x, lib.ones_like(y))
        return y.tolist(), g.tolist()
    mine, theirs = program(minigrad), program(torch)
    np.testing.assert_allclose(np.array(mine[0]), np.array(theirs[0]), rtol=1e-12,
                               equal_nan=True)
    np.testing.assert_allclose(np.array(mine[1]), np.array(theirs[1]), rtol=1e-12,
                               equal_nan=True)


@pytest.mark.parametrize("value", [lambda L: 2.0, lambda L: L.tensor(2.0),
                                   lambda L: L.tensor([2.0])],
                         ids=["number", "0-d", "1-d"])
def test_searchsorted_refuses_a_scalar_beside_2d_boundaries_in_torchs_words(value):
    errors = []
    for L in (torch, minigrad):
        with pytest.raises(RuntimeError) as info:
            L.searchsorted(L.tensor([[1.0, 2.0], [3.0, 4.0]]), value(L))
        errors.append(str(info.value))
    assert errors[0] == errors[1]
