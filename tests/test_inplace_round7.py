"""Round 7, part A: the in-place forms of the pointwise ops, scans and products, the in-place
view changes, the in-place functions torch exports, and the small aliases and predicates;
every one side by side with PyTorch (values, dtypes, identity of the result, version counter,
errors, gradients through the write, on a view of a non-leaf too)."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)


def _pair(array, requires_grad=False):
    return (minigrad.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def _close(m, t, tol=1e-6):
    t = t.detach()
    assert tuple(m.shape) == tuple(t.shape)
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(m.detach().numpy().astype(np.float64),
                               t.numpy().astype(np.float64), rtol=tol, atol=tol, equal_nan=True)


def _outcome(fn, *args):
    """fn's result, or (exception type, message) when it raises."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 -- compared with torch's
        return (type(exc), str(exc).split("\n")[0])


def _same_outcome(m_fn, t_fn, m_args, t_args, tol=1e-6):
    got, want = _outcome(m_fn, *m_args), _outcome(t_fn, *t_args)
    if isinstance(want, tuple):
        assert isinstance(got, tuple), f"torch raised {want}, minigrad gave {got}"
        assert issubclass(got[0], want[0]) or got[0] is want[0], (got, want)
        return got, want
    assert not isinstance(got, tuple), f"minigrad raised {got}"
    _close(got, want, tol)
    return got, want


# ----------------------------------------------------------------------------------------------
# The tables: method name -> (domain of input, extra positional args)
# ----------------------------------------------------------------------------------------------
UNIT = (0.15, 0.85)        # fits log, sqrt, asin/acos/atanh, logit, erfinv...
UNARY = {n: (UNIT, ()) for n in (
    "abs_ absolute_ acos_ asin_ asinh_ atan_ atanh_ arccos_ arcsin_ arcsinh_ arctan_ arctanh_ "
    "ceil_ floor_ round_ trunc_ fix_ frac_ cos_ cosh_ sin_ sinh_ sinc_ tan_ tanh_ exp_ exp2_ "
    "expm1_ log_ log10_ log1p_ log2_ sqrt_ rsqrt_ square_ sigmoid_ sign_ sgn_ neg_ negative_ "
    "erf_ erfc_ erfinv_ digamma_ lgamma_ i0_ logit_ deg2rad_ rad2deg_ reciprocal_ "
    "logical_not_").split()}
UNARY.update({"acosh_": ((1.2, 3.0), ()), "arccosh_": ((1.2, 3.0), ()),
              "polygamma_": (UNIT, (1,)), "mvlgamma_": ((1.5, 3.0), (2,)),
              "cumsum_": (UNIT, (1,)), "cumprod_": (UNIT, (0,)),
              "renorm_": (UNIT, (2, 0, 0.5))})
BINARY = ("atan2_ arctan2_ copysign_ hypot_ heaviside_ nextafter_ xlogy_ floor_divide_ "
          "remainder_ true_divide_ multiply_ divide_ subtract_ igamma_ igammac_ eq_ ne_ lt_ le_ "
          "gt_ ge_ greater_ greater_equal_ less_ less_equal_ not_equal_ logical_and_ "
          "logical_or_ logical_xor_").split()
SPECIAL = {"polygamma_", "digamma_", "lgamma_", "mvlgamma_", "erfinv_", "i0_"}
# torch has no derivative for these in place ("the derivative for 'inplace version of acosh' is
# not implemented"); minigrad has: compared with torch's out-of-place gradient
TORCH_NO_INPLACE_GRAD = {"acosh_", "arccosh_", "asinh_", "arcsinh_", "atanh_", "arctanh_"}
NON_SMOOTH = {"ceil_", "floor_", "round_", "trunc_", "fix_", "sign_", "sgn_", "logical_not_",
              "frac_", "abs_", "absolute_"}
COMPARISONS = {"eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "greater_equal_", "less_",
               "less_equal_", "not_equal_", "logical_and_", "logical_or_", "logical_xor_",
               "heaviside_", "nextafter_", "floor_divide_", "remainder_"}


def _uniform(domain, *shape):
    return RNG.uniform(*domain, shape)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_inplace_values_identity_version(name):
    domain, args = UNARY[name]
    for dtype in ("float32", "float64"):
        m, t = _pair(_uniform(domain, 3, 4).astype(dtype))
        vm, vt = m._version, t._version
        out_m, out_t = getattr(m, name)(*args), getattr(t, name)(*args)
        assert out_m is m and out_t is t
        _close(m, t, 1e-5 if dtype == "float32" else 1e-10 if name not in SPECIAL else 1e-8)
        assert m._version - vm == t._version - vt == 1


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_inplace_on_integers_as_torch(name):
    """Either the same values in the same dtype, or the same error (float results refused)."""
    domain, args = UNARY[name]
    for dtype in ("int64", "int32", "bool"):
        array = np.array([[1, 0, 3], [2, 5, 1]]).astype(dtype)
        m, t = _pair(array)
        got, want = _same_outcome(lambda x: getattr(x, name)(*args),
                                  lambda x: getattr(x, name)(*args), (m,), (t,))
        if isinstance(want, tuple) and "can't be cast" in want[1]:
            assert got[1] == want[1]
            np.testing.assert_array_equal(m.numpy(), array)      # nothing written


@pytest.mark.parametrize("name", BINARY)
def test_binary_inplace_as_torch(name):
    for kind in ("tensor", "broadcast", "scalar", "float64 other"):
        _check_binary(name, kind)


def _check_binary(name, kind):
    a = np.round(_uniform((0.2, 3.0), 3, 4), 1)
    m, t = _pair(a.astype(np.float32))
    b = np.round(_uniform((0.2, 3.0), 3, 4), 1)
    b[0, 0] = a[0, 0]                                   # one tie for the comparisons
    if kind == "scalar":
        om = ot = 1.5
        if name in ("logical_and_", "logical_or_", "logical_xor_", "heaviside_",
                    "nextafter_", "igamma_", "igammac_", "copysign_", "hypot_"):
            om, ot = _pair(np.float32(1.5))             # torch takes a tensor only here
    else:
        b = b[:1] if kind == "broadcast" else b
        om, ot = _pair(b.astype(np.float64 if kind == "float64 other" else np.float32))
    vm, vt = m._version, t._version
    _same_outcome(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y),
                  (m, om), (t, ot), 1e-5)
    assert m.dtype == minigrad.float32 and m._version - vm == t._version - vt


@pytest.mark.parametrize("name", ["atan2_", "eq_", "logical_and_", "remainder_", "hypot_"])
def test_binary_inplace_errors_as_torch(name):
    """The broadcast shape must be input's; a float result cannot go into an int tensor."""
    m, t = _pair(np.ones((2, 3), np.float32))
    om, ot = _pair(np.ones((4, 2, 3), np.float32))
    got, want = _same_outcome(lambda x, y: getattr(x, name)(y),
                              lambda x, y: getattr(x, name)(y), (m, om), (t, ot))
    assert got[1] == want[1]
    mi, ti = _pair(np.array([1, 2, 3]))
    of_m, of_t = _pair(np.array([0.5, 1.5, 2.5]))
    got, want = _same_outcome(lambda x, y: getattr(x, name)(y),
                              lambda x, y: getattr(x, name)(y), (mi, of_m), (ti, of_t))
    if isinstance(want, tuple):
        assert got[1] == want[1]


def test_divide_rounding_mode_float_power_and_subtract_alpha():
    a = np.array([[-3.5, 2.0, 7.25]])
    for mode in ("floor", "trunc", None):
        m, t = _pair(a.copy())
        m.divide_(2.0, rounding_mode=mode), t.divide_(2.0, rounding_mode=mode)
        _close(m, t)
    m, t = _pair(a.copy())
    m.subtract_(m * 0 + 1, alpha=2), t.subtract_(t * 0 + 1, alpha=2)
    _close(m, t)
    m, t = _pair(np.abs(a))
    m.float_power_(1.5), t.float_power_(1.5)
    _close(m, t, 1e-12)
    m, t = _pair(np.abs(a).astype(np.float32))
    got, want = _same_outcome(lambda x: x.float_power_(2), lambda x: x.float_power_(2), (m,), (t,))
    assert got[1] == want[1]


EDGE_CASES = {
    "0-d": lambda L: L.tensor(0.5).exp_(),
    "empty": lambda L: L.empty(0, 3).sin_(),
    "int remainder": lambda L: L.tensor([5, -7, 9]).remainder_(L.tensor([2, 3, -4])),
    "int floor_divide": lambda L: L.tensor([5, -7, 9]).floor_divide_(2),
    "int divide": lambda L: L.tensor([5, -7, 9]).divide_(2),
    "int divide trunc": lambda L: L.tensor([5, -7, 9]).divide_(2, rounding_mode="trunc"),
    "int true_divide": lambda L: L.tensor([5, -7, 9]).true_divide_(2),
    "float16": lambda L: L.tensor([1.0, 2, 3], dtype=L.float16).exp_(),
    "int eq": lambda L: L.tensor([1, 0, 3]).eq_(1),
    "bool eq": lambda L: L.tensor([True, False]).eq_(L.tensor([True, True])),
    "cumsum dim=": lambda L: L.tensor([[1.0, 2], [3, 4]]).cumsum_(dim=1),
    "cumsum dtype": lambda L: L.tensor([[1, 2], [3, 4]]).cumsum_(1, dtype=L.float32),
    "cumprod dtype": lambda L: L.ones(2, dtype=L.float32).cumprod_(0, dtype=L.float64),
    "round decimals": lambda L: L.tensor([1.25, -2.55]).round_(decimals=1),
    "logit eps=": lambda L: L.tensor([0.15, 0.5]).logit_(eps=0.2),
    "exp_(2)": lambda L: L.tensor([1.0, 2.0]).exp_(2),
    "atan2 other=": lambda L: L.tensor([1.0, 2.0]).atan2_(other=L.tensor([1.0, 1.0])),
    "heaviside values=": lambda L: L.tensor([1.0, 0.0]).heaviside_(values=L.tensor([0.5, 0.5])),
    "atan2 number": lambda L: L.tensor([1.0, 2.0]).atan2_(1.0),
    "bool sgn": lambda L: L.tensor([True, False]).sgn_(),
    "int square": lambda L: L.tensor([3, 4]).square_(),
    "uint8 neg": lambda L: L.ones(3, dtype=L.uint8).neg_(),
    "squeeze_ dims": lambda L: L.ones(1, 3).squeeze_((0, 1)),
    "t_ of 0-d": lambda L: L.tensor(1.0).t_(),
    "t_ of 3-d": lambda L: L.ones(2, 3, 4).t_(),
    "transpose_ bad dim": lambda L: L.ones(2, 3).transpose_(0, 2),
    "as_strided_ too big": lambda L: L.ones(2, 3).as_strided_((4, 4), (1, 1)),
    "float_power_ int": lambda L: L.tensor([1, 2]).float_power_(2),
    "mvlgamma_ bool": lambda L: L.tensor([True]).mvlgamma_(1),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_as_torch(case):
    got, want = _same_outcome(EDGE_CASES[case], EDGE_CASES[case], (minigrad,), (torch,))
    if isinstance(want, tuple) and want[0] is not TypeError:
        assert got[1] == want[1]


@pytest.mark.parametrize("name,shapes", [
    ("addmm_", [(2, 3), (2, 4), (4, 3)]), ("addmv_", [(2,), (2, 4), (4,)]),
    ("addr_", [(2, 3), (2,), (3,)]), ("addbmm_", [(2, 3), (5, 2, 4), (5, 4, 3)]),
    ("baddbmm_", [(5, 2, 3), (5, 2, 4), (5, 4, 3)])])
def test_fused_products_inplace(name, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    ms = [minigrad.tensor(a) for a in arrays]
    ts = [torch.tensor(a) for a in arrays]
    assert getattr(ms[0], name)(*ms[1:], beta=0.5, alpha=2.0) is ms[0]
    getattr(ts[0], name)(*ts[1:], beta=0.5, alpha=2.0)
    _close(ms[0], ts[0], 1e-10)
    # gradients through the write, into the matrices and the old value
    mg = [minigrad.tensor(a, requires_grad=True) for a in arrays]
    tg = [torch.tensor(a, requires_grad=True) for a in arrays]
    for lib_in in (mg, tg):
        y = lib_in[0] * 1.0
        getattr(y, name)(*lib_in[1:], beta=0.5, alpha=2.0)
        (y * y).sum().backward()
    for a, b in zip(mg, tg):
        _close(a.grad, b.grad, 1e-9)


# ----------------------------------------------------------------------------------------------
# Autograd through the in-place ops
# ----------------------------------------------------------------------------------------------
SMOOTH = sorted(n for n in UNARY if n not in NON_SMOOTH)


def _grad_through(lib, name, array, weights, args, on_view):
    x = lib.tensor(array, requires_grad=True)
    y = x * 2.0                                         # a non-leaf
    target = y[1:] if on_view else y
    target.mul_(0.5)                                    # back to the domain, in place too
    if lib is torch and name in TORCH_NO_INPLACE_GRAD:       # its backward would raise
        target.copy_(getattr(target.clone(), name[:-1].replace("arc", "a"))(*args))
    else:
        getattr(target, name)(*args)
    w = lib.tensor(weights)
    (y * w).sum().backward()
    return x.grad


@pytest.mark.parametrize("name", SMOOTH)
def test_unary_inplace_gradients(name):
    """On a non-leaf and on a view of one (the base's history is rebased)."""
    domain, args = UNARY[name]
    for on_view in (False, True):
        array, weights = _uniform(domain, 3, 4), RNG.standard_normal((3, 4))
        _close(_grad_through(minigrad, name, array, weights, args, on_view),
               _grad_through(torch, name, array, weights, args, on_view), 1e-8)


@pytest.mark.parametrize("name", ["floor_", "sign_", "eq_", "logical_not_", "lt_"])
def test_step_and_comparison_inplace_keep_a_zero_gradient(name):
    grads, fns = [], []
    for lib in (minigrad, torch):
        x = lib.tensor([0.5, -1.5, 2.0], requires_grad=True)
        y = x * 1.0
        getattr(y, name)(*((0.5,) if name in ("eq_", "lt_") else ()))
        assert y.requires_grad and y.grad_fn is not None
        (y * 3.0 + x).sum().backward()
        grads.append(x.grad)
    _close(*grads)


@pytest.mark.parametrize("dtype", ["int64", "float32"])
def test_comparison_into_a_tensor_from_one_that_requires_grad(dtype):
    for lib in (minigrad, torch):
        a = lib.tensor(np.array([1, 2]).astype(dtype))
        b = lib.tensor([1.0, 3.0], requires_grad=True)
        a.eq_(b)
        assert a.requires_grad and a.grad_fn is not None and a.tolist() == [1, 0]


@pytest.mark.parametrize("name", ["atan2_", "hypot_", "xlogy_", "copysign_", "remainder_"])
def test_binary_inplace_gradients_both_operands(name):
    a, b = _uniform((0.3, 2.0), 2, 3), _uniform((0.3, 2.0), 1, 3)
    grads = []
    for lib in (minigrad, torch):
        x, o = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        y = x * 1.0
        getattr(y, name)(o)
        (y * y).sum().backward()
        grads.append((x.grad, o.grad))
    _close(grads[0][0], grads[1][0], 1e-8)
    _close(grads[0][1], grads[1][1], 1e-8)


@pytest.mark.parametrize("name", ["exp_", "sin_", "sqrt_", "reciprocal_", "atan2_"])
def test_second_order_through_inplace(name):
    a = _uniform((0.3, 0.9), 4)
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor(a, requires_grad=True)
        y = x * 1.0
        getattr(y, name)(*((lib.tensor(a[::-1].copy()),) if name == "atan2_" else ()))
        g, = lib.autograd.grad(y.pow(3).sum(), x, create_graph=True)
        gg, = lib.autograd.grad(g.sum(), x)
        out.append(gg)
    _close(*out, tol=1e-8)


@pytest.mark.parametrize("name", sorted(UNARY) + BINARY)
def test_leaf_that_requires_grad_is_refused(name):
    """As torch: refused in grad mode, fine under no_grad; the logical ops are not recorded
    at all in PyTorch (no refusal, the tensor keeps its grad_fn)."""
    outcomes = []
    for lib in (minigrad, torch):
        args = UNARY[name][1] if name in UNARY else (lib.tensor([[0.5, 0.5]]),)
        x = lib.tensor([[0.3, 0.6], [0.2, 0.4]], requires_grad=True)
        if name in TORCH_NO_INPLACE_GRAD and lib is torch:
            continue
        outcomes.append(_outcome(lambda: getattr(x, name)(*args)))
        with lib.no_grad():                          # fine without a graph
            getattr(x, name)(*args)
    if name.startswith("logical"):
        assert not isinstance(outcomes[0], tuple)
    else:
        assert "a leaf Variable that requires grad is being used" in outcomes[0][1]
        assert all(outcomes[0][1].startswith(o[1]) for o in outcomes[1:])  # minigrad adds a hint


def test_saved_tensor_overwritten_raises_like_torch():
    for lib in (minigrad, torch):
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        y = x.exp()                                    # saves its output
        y.sin_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_inplace_on_view_rebases_the_base():
    for_each = []
    for lib in (minigrad, torch):
        x = lib.tensor(np.arange(1.0, 7.0).reshape(2, 3) / 7, requires_grad=True)
        y = x * 1.0
        row = y[0]
        row.mul_(lib.tensor([1.0, 2.0, 3.0]))
        col = y[:, 1]
        col.tanh_()
        assert y._version == row._version if lib is torch else \
            y._version == row._version
        (y * lib.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
        for_each.append((y.detach().clone(), x.grad))
    _close(for_each[0][0], for_each[1][0], 1e-12)
    _close(for_each[0][1], for_each[1][1], 1e-12)


# ----------------------------------------------------------------------------------------------
# In-place view changes
# ----------------------------------------------------------------------------------------------
VIEW_CHANGES = [("t_", (), (2, 3)), ("transpose_", (0, 2), (2, 3, 4)),
                ("swapaxes_", (1, -1), (2, 3, 4)), ("swapdims_", (0, 1), (2, 3)),
                ("squeeze_", (), (2, 1, 3, 1)), ("squeeze_", (1,), (2, 1, 3)),
                ("unsqueeze_", (1,), (2, 3)), ("unsqueeze_", (-1,), (2, 3)),
                ("as_strided_", ((2, 2), (1, 3), 1), (3, 4))]


@pytest.mark.parametrize("name,args,shape", VIEW_CHANGES)
def test_view_changes_in_place(name, args, shape):
    a = np.arange(float(np.prod(shape))).reshape(shape)
    m, t = _pair(a)
    vm, vt = m._version, t._version
    assert getattr(m, name)(*args) is m and getattr(t, name)(*args) is t
    _close(m, t)
    assert m.stride() == t.stride() and m.is_contiguous() == t.is_contiguous()
    assert m._version - vm == t._version - vt
    # gradient: through the change of shape, back to the old history
    grads = []
    for lib in (minigrad, torch):
        x = lib.tensor(a, requires_grad=True)
        y = x * 1.0
        getattr(y, name)(*args)
        assert type(y.grad_fn).__name__ != "NoneType"
        (y * lib.tensor(np.arange(float(y.numel())).reshape(tuple(y.shape)))).sum().backward()
        grads.append(x.grad)
    _close(*grads)


@pytest.mark.parametrize("name,args,shape", VIEW_CHANGES[:4])
def test_view_changes_refuse_leaves_and_views_of_leaves(name, args, shape):
    for lib in (minigrad, torch):
        x = lib.zeros(*shape, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            getattr(x, name)(*args)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            getattr(x[:], name)(*args)
        with lib.no_grad():
            getattr(x, name)(*args)
        assert tuple(x.shape) != shape or name == "squeeze_"


def test_view_change_on_a_view_then_write_reaches_the_base():
    got = []
    for lib in (minigrad, torch):
        x = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        y = x * 1.0
        v = y[:, :2]
        v.t_()
        v.mul_(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
        (y * y).sum().backward()
        got.append((y.detach().clone(), x.grad))
    _close(got[0][0], got[1][0])
    _close(got[0][1], got[1][1])


def test_saved_output_then_view_change_raises_like_torch():
    for lib in (minigrad, torch):
        x = lib.ones(2, 3, requires_grad=True)
        y = x.exp()
        y.t_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


# ----------------------------------------------------------------------------------------------
# The in-place functions torch exports
# ----------------------------------------------------------------------------------------------
TORCH_LEVEL = sorted(n for n in dir(torch) if n.endswith("_") and not n.startswith("_"))
NOT_MINE = {"conj_physical_", "embedding_renorm_", "index_put_", "resize_as_sparse_"}
TORCH_ARGS = {"clamp_": (0.3, 0.6), "clip_": (0.3, 0.6), "clamp_min_": (0.4,),
              "clamp_max_": (0.4,), "xlogy_": (2.0,), "threshold_": (0.5, -1.0),
              "ldexp_": ("tensor",), "addmv_": ("matrix", "vector"), "fill_": (2.5,),
              "as_strided_": ((2, 2), (1, 2)), "gcd_": ("tensor",), "lcm_": ("tensor",),
              "resize_as_": ("tensor",), "celu_": (0.5,), "logit_": (1e-3,)}
RANDOM = {"dropout_", "alpha_dropout_", "feature_alpha_dropout_", "feature_dropout_",
          "rrelu_"}


def test_every_torch_level_inplace_function_is_there():
    missing = [n for n in TORCH_LEVEL if not hasattr(minigrad, n)]
    assert set(missing) <= NOT_MINE


def _torch_level_args(lib, name, integer):
    out = []
    for a in TORCH_ARGS.get(name, ()):
        if a == "tensor":
            out.append(lib.tensor([[3, 2], [1, 4]]) if integer else lib.tensor(1.5))
        elif a == "matrix":
            out.append(lib.tensor(np.arange(4.0).reshape(2, 2) / 5))
        elif a == "vector":
            out.append(lib.tensor(np.array([0.5, -0.25])))
        else:
            out.append(a)
    return out


@pytest.mark.parametrize("name", [n for n in TORCH_LEVEL if n not in NOT_MINE])
def test_torch_level_inplace_functions(name):
    integer = name in ("gcd_", "lcm_")
    a = np.array([[6, 4], [9, 8]]) if integer else np.array([[0.2, 0.7], [0.45, 0.9]])
    a = a[0] if name == "addmv_" else a
    m, t = _pair(a)
    if name in RANDOM:
        args = (0.0, True) if name != "rrelu_" else ()
        assert getattr(minigrad, name)(m, *args) is m
        getattr(torch, name)(t, *args)
        _close(m, t)
        return
    out_m = getattr(minigrad, name)(m, *_torch_level_args(minigrad, name, integer))
    out_t = getattr(torch, name)(t, *_torch_level_args(torch, name, integer))
    assert (out_m is m) == (out_t is t)
    _close(m, t, 1e-7 if name == "ldexp_" else 1e-12)


@pytest.mark.parametrize("name,args", [("celu_", (0.5,)), ("selu_", ()), ("relu_", ()),
                                       ("threshold_", (0.1, -1.0)), ("clamp_", (-0.2, 0.3)),
                                       ("exp_", ()), ("sigmoid_", ()), ("xlogy_", (2.0,))])
def test_torch_level_inplace_gradients(name, args):
    grads = []
    for lib in (minigrad, torch):
        x = lib.tensor([[-0.5, 0.2, 0.7], [0.05, -1.0, 2.0]], requires_grad=True)
        y = x * 2.0
        assert getattr(lib, name)(y, *args) is y
        (y * y).sum().backward()
        grads.append(x.grad)
    _close(*grads)


@pytest.mark.parametrize("name", ["dropout_", "alpha_dropout_", "feature_alpha_dropout_",
                                  "feature_dropout_"])
def test_torch_level_dropouts(name):
    x = minigrad.ones(4, 50, 3, dtype=minigrad.float64)
    out = getattr(minigrad, name)(x, 0.5, True)
    assert out is x and x._version == 1
    values = np.unique(np.round(x.numpy(), 6))
    assert len(values) == 2                            # dropped and kept
    if name.startswith("feature"):                      # whole channels
        assert (x.numpy() == x.numpy()[..., :1]).all()
    for lib in (minigrad, torch):
        with pytest.raises(RuntimeError, match="dropout probability has to be between 0 and 1"):
            getattr(lib, name)(lib.ones(2, 2), 1.5, True)
        if name.startswith("feature"):
            with pytest.raises(RuntimeError, match="Feature dropout requires at least 2"):
                getattr(lib, name)(lib.ones(3), 0.5, True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            getattr(lib, name)(lib.ones(2, 2, requires_grad=True), 0.5, True)
        leaf = lib.ones(2, 2, requires_grad=True)
        assert getattr(lib, name)(leaf, 0.5, False) is leaf


# ----------------------------------------------------------------------------------------------
# Aliases and small methods
# ----------------------------------------------------------------------------------------------
def test_reciprocal_function_method_and_dtypes():
    for array in (np.array([0.5, -2.0, 0.0]), np.array([1, 2, 4]), np.array([True, False])):
        m, t = _pair(array)
        _close(minigrad.reciprocal(m), torch.reciprocal(t))
        _close(m.reciprocal(), t.reciprocal())
    x, tx = _pair(np.array([0.5, 2.0]), requires_grad=True)
    minigrad.reciprocal(x).sum().backward(), torch.reciprocal(tx).sum().backward()
    _close(x.grad, tx.grad)
    assert minigrad.reciprocal(x).grad_fn.name() == torch.reciprocal(tx).grad_fn.name()
    with pytest.raises(TypeError, match="argument 'input'"):
        minigrad.reciprocal(2.0)


@pytest.mark.parametrize("name", ["greater", "greater_equal", "less", "less_equal",
                                  "not_equal", "logical_xor"])
def test_comparison_aliases(name):
    a, b = np.array([[1.0, 0.0, 2.0]]), np.array([[1.0], [0.0]])
    (m, t), (mo, to) = _pair(a), _pair(b)
    _close(getattr(minigrad, name)(m, mo), getattr(torch, name)(t, to))
    _close(getattr(m, name)(mo), getattr(t, name)(to))
    if name == "logical_xor":
        for bad in ((m, 1), (1, m)):
            with pytest.raises(TypeError, match="must be Tensor, not int"):
                minigrad.logical_xor(*bad)
        with pytest.raises(RuntimeError):
            minigrad.logical_xor(m, minigrad.ones(4))


def test_other_aliases():
    a = RNG.standard_normal((2, 3))
    m, t = _pair(a)
    _close(minigrad.negative(m), torch.negative(t))
    _close(minigrad.absolute(m), torch.absolute(t))
    _close(m.absolute(), t.absolute())
    _close(minigrad.swapdims(m, 0, 1), torch.swapdims(t, 0, 1))
    _close(m.swapdims(0, 1), t.swapdims(0, 1))
    _close(m.broadcast_to((4, 2, 3)), t.broadcast_to((4, 2, 3)))
    _close(m.broadcast_to(4, 2, 3), t.broadcast_to(4, 2, 3))
    _close(m.hardshrink(), t.hardshrink())
    _close(m.hardshrink(0.1), t.hardshrink(0.1))
    w = np.array([0.25])
    _close(m.prelu(minigrad.tensor(w)), t.prelu(torch.tensor(w)))
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        minigrad.negative(minigrad.tensor([True]))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int8", "uint8", "bool",
                                   "float16"])
def test_is_signed_and_sizes(dtype):
    m, t = _pair(np.ones((2, 3)).astype(dtype))
    assert m.is_signed() == t.is_signed() == minigrad.is_signed(m) == torch.is_signed(t)
    assert m.nbytes == t.nbytes and m[:, :2].nbytes == t[:, :2].nbytes
    assert m.expand(4, 2, 3).nbytes == t.expand(4, 2, 3).nbytes
    assert m.is_same_size(m[:]) and not m.is_same_size(m.t())
    assert minigrad.is_same_size(m, m) == torch.is_same_size(t, t)


def test_is_nonzero():
    for array in ([0.0], 3, [[2]], float("nan"), [False], 0.5):
        m, t = _pair(np.array(array))
        assert m.is_nonzero() == t.is_nonzero() == minigrad.is_nonzero(m)
    for array in (np.zeros(0), np.ones(2)):
        m, t = _pair(array)
        with pytest.raises(RuntimeError) as exc:
            t.is_nonzero()
        with pytest.raises(RuntimeError, match=str(exc.value)):
            m.is_nonzero()
    with pytest.raises(TypeError, match="argument 'other'"):
        minigrad.ones(2).is_same_size(3)


def test_flags_output_nr_name():
    m, t = _pair(np.ones(3), requires_grad=True)
    for attr in ("is_cpu", "is_meta", "is_sparse", "is_quantized", "is_nested", "output_nr",
                 "name"):
        assert getattr(m, attr) == getattr(t, attr), attr
        assert getattr(m * 2, attr) == getattr(t * 2, attr), attr


@pytest.mark.parametrize("shape", [(2, 3), (3, 4), (2, 3, 4)])
def test_H_mH_and_dim_order(shape):
    a = RNG.standard_normal(shape)
    m, t = _pair(a)
    for attr in ("H", "mH"):
        got, want = _same_outcome(lambda x: getattr(x, attr), lambda x: getattr(x, attr),
                                  (m,), (t,))
        if isinstance(want, tuple):
            assert got[1] == want[1]
    with pytest.raises(RuntimeError, match="Got 1-D tensor"):
        minigrad.ones(3).mH
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert minigrad.tensor(2.0).H.item() == 2.0
    assert m.dim_order() == t.dim_order()
    assert m.transpose(0, -1).dim_order() == t.transpose(0, -1).dim_order()
    x = minigrad.ones(2, 3, 4, 5).to(memory_format=minigrad.channels_last)
    tx = torch.ones(2, 3, 4, 5).to(memory_format=torch.channels_last)
    assert x.dim_order() == tx.dim_order()
    assert minigrad.ones(2, 1).dim_order() == torch.ones(2, 1).dim_order()


def test_new_legacy_constructor():
    m, t = _pair(np.ones((2, 3), np.float32))
    for args in ((), (2, 3), ([1, 2],), ((2, 3),)):
        if args and isinstance(args[0], (list, tuple)):      # data (else uninitialised)
            _close(m.new(*args), t.new(*args))
        assert tuple(m.new(*args).shape) == tuple(t.new(*args).shape)
        assert m.new(*args).dtype == minigrad.float32
    assert tuple(m.new(minigrad.Size([4, 1])).shape) == (4, 1)
    mi, ti = _pair(np.ones(2, np.int32))
    _close(mi.new([1.5, -2.7]), ti.new([1.5, -2.7]))
    other = minigrad.ones(2)
    assert m.new(other) is other
    with pytest.raises(TypeError, match="data must be a sequence"):
        m.new(5.0)
    with pytest.raises(TypeError):
        m.new(minigrad.ones(2, dtype=minigrad.int64))
    assert not m.new(2).requires_grad


def test_apply_and_map():
    m, t = _pair(np.array([1.0, -2.0, 3.5]))
    assert m.apply_(lambda v: v * 2 + 1) is m
    t.apply_(lambda v: v * 2 + 1)
    _close(m, t)
    assert m._version == 1
    mi, ti = _pair(np.array([3, 4, 5]))
    mi.apply_(lambda v: v / 2), ti.apply_(lambda v: v / 2)
    _close(mi, ti)
    m, t = _pair(np.ones((2, 3)))
    (om, ot) = _pair(np.array([1.0, 2.0, 3.0]))
    m.map_(om, lambda a, b: a + b * 10), t.map_(ot, lambda a, b: a + b * 10)
    _close(m, t)
    for lib in (minigrad, torch):
        with pytest.raises(RuntimeError, match=r"Can't call apply_\(\) on Variable that requires"):
            lib.ones(2, requires_grad=True).apply_(lambda v: v)
        with pytest.raises(TypeError, match="must be real number, not str"):
            lib.ones(2).apply_(str)
        with pytest.raises(TypeError, match="map_: expected"):
            lib.ones(2).map_(lib.ones(2, dtype=lib.float64), lambda a, b: a)
