"""Round 7 (part C): torch-level names third-party code uses, each checked against PyTorch.

The nn ops torch exports at the top level with aten signatures (``torch.dropout(x, p, train)``,
``torch.batch_norm(...9 args)``, int ``reduction``...), constants, window functions and
``torch.signal.windows``, process-wide settings, ``asarray``/``frombuffer``, ``compile``,
``torch.version``, ``torch.random`` and ``torch.testing``'s assert_close / make_tensor.
"""
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.signal.windows as mwin

torch = pytest.importorskip("torch")
twin = pytest.importorskip("torch.signal.windows")

RNG = np.random.default_rng(7)


def arr(*shape, low=-1.0, high=1.0):
    return RNG.uniform(low, high, size=shape)


class Const:
    """An input that must not require grad (running statistics, targets torch refuses)."""

    def __init__(self, array):
        self.array = array


def _to(lib, obj, grad):
    """numpy arrays -> lib tensors (floating ones requiring grad when ``grad``), recursively."""
    if isinstance(obj, Const):
        return lib.tensor(obj.array)
    if isinstance(obj, np.ndarray):
        t = lib.tensor(obj)
        if grad and obj.dtype.kind == "f":
            t.requires_grad_(True)
        return t
    if isinstance(obj, (list, tuple)) and any(isinstance(o, np.ndarray) for o in obj):
        return type(obj)(_to(lib, o, grad) for o in obj)
    return obj


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _leaves(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _leaves(a)
        elif hasattr(a, "requires_grad") and a.requires_grad:
            yield a


def check(name, *args, grad=True, atol=1e-9, **kwargs):
    """torch.<name> and minigrad.<name> on the same float64 data: every output, and (``grad``)
    the inputs' gradients of sum(first output * a fixed random weight)."""
    t_args, m_args = _to(torch, args, grad), _to(minigrad, args, grad)
    t_out = getattr(torch, name)(*t_args, **kwargs)
    m_out = getattr(minigrad, name)(*m_args, **kwargs)
    t_outs = t_out if isinstance(t_out, tuple) else (t_out,)
    m_outs = m_out if isinstance(m_out, tuple) else (m_out,)
    assert len(t_outs) == len(m_outs), name
    for t, m in zip(t_outs, m_outs):
        assert tuple(m.shape) == tuple(t.shape), (name, m.shape, t.shape)
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], name
        np.testing.assert_allclose(_np(m), _np(t), rtol=1e-7, atol=atol, err_msg=name)
    t_in, m_in = list(_leaves(t_args)), list(_leaves(m_args))
    if grad and t_in and t_outs[0].requires_grad:
        weight = RNG.standard_normal(tuple(t_outs[0].shape))
        t_g = torch.autograd.grad((t_outs[0] * torch.tensor(weight)).sum(), t_in,
                                  allow_unused=True)
        m_g = minigrad.autograd.grad((m_outs[0] * minigrad.tensor(weight)).sum(), m_in,
                                     allow_unused=True)
        for tg, mg in zip(t_g, m_g):
            if tg is None:
                assert mg is None or not np.any(_np(mg)), name
            else:
                np.testing.assert_allclose(_np(mg), _np(tg), rtol=1e-7, atol=1e-8,
                                           err_msg=f"{name} grad")
    return m_out


def same_error(fn_torch, fn_minigrad, exc=None, match=True):
    """Both raise the same exception type (and, with ``match``, the same message)."""
    with pytest.raises(Exception) as t_err:
        fn_torch()
    with pytest.raises(Exception) as m_err:
        fn_minigrad()
    assert type(m_err.value) is (exc or type(t_err.value)), (m_err.value, t_err.value)
    if exc is None:
        assert isinstance(m_err.value, type(t_err.value))
    if match:
        assert str(m_err.value) == str(t_err.value).replace("torch.", "minigrad.")
    return m_err.value


# ----------------------------------------------------------------------------------------------
# constants
# ----------------------------------------------------------------------------------------------
def test_constants():
    for name in ("pi", "e", "inf"):
        assert getattr(minigrad, name) == getattr(torch, name)
    assert np.isnan(minigrad.nan) and minigrad.newaxis is None is torch.newaxis
    x = minigrad.zeros(3)
    assert tuple(x[minigrad.newaxis].shape) == (1, 3)


# ----------------------------------------------------------------------------------------------
# the nn ops at the top level: aten signatures
# ----------------------------------------------------------------------------------------------
def test_normalization_forms():
    x, w, b = arr(2, 4, 3), arr(4) + 1.5, arr(4)
    check("layer_norm", x, [3], arr(3), arr(3), 1e-5, True)
    check("layer_norm", x, [4, 3])
    check("group_norm", x, 2, w, b, 1e-5, False)
    check("instance_norm", x, w, b, None, None, True, 0.1, 1e-5, False)
    check("batch_norm", x, w, b, None, None, True, 0.1, 1e-5, False)
    rm, rv = arr(4), arr(4) + 2.0
    check("batch_norm", x, w, b, Const(rm), Const(rv), False, 0.1, 1e-5, True)
    check("rms_norm", x, [3], arr(3), 1e-6)
    # training updates the running statistics in place, as torch's
    t_rm, t_rv, m_rm, m_rv = (torch.tensor(rm), torch.tensor(rv), minigrad.tensor(rm),
                              minigrad.tensor(rv))
    torch.batch_norm(torch.tensor(x), None, None, t_rm, t_rv, True, 0.3, 1e-5, False)
    minigrad.batch_norm(minigrad.tensor(x), None, None, m_rm, m_rv, True, 0.3, 1e-5, False)
    np.testing.assert_allclose(m_rm.numpy(), t_rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m_rv.numpy(), t_rv.numpy(), rtol=1e-12)
    same_error(lambda: torch.batch_norm(torch.zeros(2, 3), None, None, None, None, True, 0.1,
                                        1e-5),
               lambda: minigrad.batch_norm(minigrad.zeros(2, 3), None, None, None, None, True,
                                           0.1, 1e-5), TypeError, match=False)


def test_native_normalization_tuples():
    x = arr(3, 4, 5)
    check("native_layer_norm", x, [5], arr(5), arr(5), 1e-5)
    check("native_layer_norm", x, [4, 5], None, None, 1e-5)
    check("native_batch_norm", x, arr(4), arr(4), None, None, True, 0.1, 1e-5)
    check("native_batch_norm", x, None, None, Const(arr(4)), Const(arr(4) + 2), False, 0.1,
          1e-5)
    check("native_group_norm", x, arr(4), arr(4), 3, 4, 5, 2, 1e-5)
    check("native_group_norm", arr(2, 6, 2, 2), None, None, 2, 6, 4, 3, 1e-5)


def test_pooling_and_shuffles():
    x1, x2, x3 = arr(2, 3, 9), arr(2, 3, 6, 5), arr(1, 2, 4, 4, 5)
    check("max_pool1d", x1, 2)
    check("max_pool1d", x1, 3, 2, 1, 1, True)
    check("max_pool2d", x2, 2, 1)
    check("max_pool2d", x2, [3, 2], [], 1, 1, False)
    check("max_pool3d", x3, 2)
    check("max_pool1d_with_indices", x1, 3, [2], [1])
    check("avg_pool1d", x1, 3, 2, 1, True, False)
    check("avg_pool1d", x1, 2)
    check("adaptive_avg_pool1d", x1, 4)
    check("adaptive_max_pool1d", x1, 4)
    check("pixel_shuffle", arr(1, 8, 2, 3), 2)
    check("pixel_unshuffle", arr(1, 2, 4, 6), 2)
    check("channel_shuffle", arr(1, 6, 2), 3)
    check("native_channel_shuffle", arr(1, 6, 2), 2, grad=False)   # torch has no backward
    same_error(lambda: torch.max_pool2d(torch.zeros(1, 4, 4), 2, return_indices=True),
               lambda: minigrad.max_pool2d(minigrad.zeros(1, 4, 4), 2, return_indices=True),
               TypeError, match=False)


def test_activations_and_distances():
    x = arr(4, 5)
    check("prelu", x, np.array([0.25]))
    check("rrelu", x)
    check("rrelu", x, 0.1, 0.3, False)
    check("threshold", x, 0.1, 20.0)
    check("hardshrink", x, 0.3)
    check("cosine_similarity", x, arr(4, 5), 0)
    check("pairwise_distance", x, arr(4, 5), 3.0, 1e-6, True)
    check("pdist", x, 1.5)
    check("bilinear", arr(3, 2), arr(3, 4), arr(5, 2, 4), arr(5))


def test_losses_take_an_int_reduction():
    x, y = arr(3, 4), arr(3, 4, low=0.1, high=0.9)
    s = np.sign(arr(3)) + (arr(3) == 0)
    for red in ((), (0,), (1,), (2,)):
        check("kl_div", x, y, *red)
        check("kl_div", x, np.log(y), *red, log_target=True)
        check("cosine_embedding_loss", x, arr(3, 4), s, 0.1, *red)
        check("hinge_embedding_loss", x, np.sign(y - 0.5), 0.5, *red)
        check("margin_ranking_loss", arr(5), arr(5), np.sign(arr(5)), 0.2, *red)
        check("triplet_margin_loss", x, arr(3, 4), arr(3, 4), 1.0, 2.0, 1e-6, True, *red)
        check("binary_cross_entropy_with_logits", x, y, Const(arr(4)), Const(arr(4) + 2), *red)
    for red in (0, 1, 2):
        check("poisson_nll_loss", x, y * 3, True, False, 1e-8, red)
        check("poisson_nll_loss", y, y * 3, False, True, 1e-8, red)
    log_probs = np.log(np.random.default_rng(1).dirichlet(np.ones(5), size=(6, 2)))
    targets = np.array([[1, 2, 2], [3, 1, 0]])
    for red in ((), (1,), (2,)):
        # values only: torch's ctc backward is the gradient through an implied log_softmax
        # (F.ctc_loss's own difference, not this form's)
        check("ctc_loss", log_probs, targets, [6, 5], [3, 2], 0, *red, atol=1e-7, grad=False)
    same_error(lambda: torch.kl_div(torch.zeros(2), torch.zeros(2), reduction="mean"),
               lambda: minigrad.kl_div(minigrad.zeros(2), minigrad.zeros(2), reduction="mean"))


def test_convolutions():
    check("conv3d", arr(1, 2, 4, 4, 3), arr(3, 2, 2, 2, 2), arr(3), 1, 1)
    check("conv_transpose3d", arr(1, 2, 3, 3, 2), arr(2, 3, 2, 2, 2), arr(3), 2)
    check("convolution", arr(2, 4, 7), arr(6, 2, 3), arr(6), [2], [1], [1], False, [0], 2)
    check("convolution", arr(1, 2, 5, 5), arr(3, 2, 3, 3), None, [1, 1], [1, 1], [2, 2], False,
          [0, 0], 1)
    check("convolution", arr(1, 2, 4, 4), arr(2, 3, 3, 3), arr(3), [2, 2], [1, 1], [1, 1], True,
          [1, 1], 1)
    check("conv_tbc", arr(7, 2, 3), arr(3, 3, 4), arr(4), 1)
    check("conv_tbc", arr(5, 1, 2), arr(2, 2, 3), arr(3))


def test_sampling_grids():
    theta = arr(2, 2, 3)
    check("affine_grid_generator", theta, [2, 3, 4, 5], False)
    check("affine_grid_generator", arr(1, 3, 4), [1, 1, 2, 3, 4], True)
    x, grid = arr(1, 2, 4, 5), arr(1, 3, 3, 2, low=-1.2, high=1.2)
    for interp in (0, 1, 2):
        for pad in (0, 1, 2):
            check("grid_sampler", x, grid, interp, pad, interp == 1, grad=interp != 1)
            check("grid_sampler_2d", x, grid, interp, pad, True, grad=interp != 1)
    check("grid_sampler_3d", arr(1, 2, 3, 3, 3), arr(1, 2, 2, 2, 3), 0, 1, False)
    with pytest.raises(ValueError, match="interpolation_mode"):
        minigrad.grid_sampler(minigrad.tensor(x), minigrad.tensor(grid), 3, 0, False)
    with pytest.raises(RuntimeError, match="4D"):
        minigrad.grid_sampler_2d(minigrad.zeros(1, 1, 2, 2, 2), minigrad.zeros(1, 1, 1, 1, 3),
                                 0, 0, False)


def test_embedding_weight_first_padding_idx_minus_one_is_none():
    w, idx = arr(5, 3), np.array([[0, 1, 3], [3, 4, 1]])
    for pad in (-1, -2, 3):
        check("embedding", w, idx, pad)
    check("embedding", w, idx)


def test_dropout_forms():
    x = minigrad.ones(400, 50)
    with pytest.raises(TypeError):
        minigrad.dropout(x, 0.5)                          # train is required, as in torch
    same_error(lambda: torch.dropout(torch.ones(2), 0.5), lambda: minigrad.dropout(x, 0.5),
               TypeError, match=False)
    assert minigrad.dropout(x, 0.5, False) is x
    y = minigrad.dropout(input=x, p=0.25, train=True).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)} and abs((y == 0).mean() - 0.25) < 0.02
    f = minigrad.feature_dropout(minigrad.ones(20, 30, 4), 0.5, True).numpy()
    assert (f == f[..., :1]).all() and set(np.unique(f)) == {0.0, 2.0}
    assert minigrad.alpha_dropout(x, 0.5, False) is x
    assert minigrad.feature_alpha_dropout(x, 0.5, False) is x
    out, mask = minigrad.native_dropout(x, 0.4, True)
    t_out, t_mask = torch.native_dropout(torch.ones(4, 5), 0.4, True)
    assert mask.dtype == minigrad.bool and str(t_mask.dtype) == "torch.bool"
    np.testing.assert_allclose(out.numpy(), mask.numpy() / 0.6, rtol=1e-6)
    out, mask = minigrad.native_dropout(x, 0.4, False)
    assert mask.numpy().all() and out is not x and np.array_equal(out.numpy(), x.numpy())


# ----------------------------------------------------------------------------------------------
# windows
# ----------------------------------------------------------------------------------------------
def test_window_functions_match_torch():
    cases = 0
    for name, extra in (("hann_window", ()), ("hamming_window", ()),
                        ("hamming_window", (0.5, 0.4)), ("blackman_window", ()),
                        ("bartlett_window", ()), ("kaiser_window", ()),
                        ("kaiser_window", (3.5,))):
        for n in (0, 1, 2, 5, 8):
            for periodic in (True, False):
                for dt in ("float32", "float64"):
                    t = getattr(torch, name)(n, periodic, *extra, dtype=getattr(torch, dt))
                    m = getattr(minigrad, name)(n, periodic, *extra, dtype=getattr(minigrad, dt))
                    assert m.dtype == getattr(minigrad, dt) and tuple(m.shape) == (n,)
                    np.testing.assert_allclose(m.numpy(), t.numpy(), atol=1e-6 if
                                               dt == "float32" else 1e-12, err_msg=name)
                    cases += 1
    assert cases == 140
    np.testing.assert_allclose(minigrad.hann_window(6).numpy(), torch.hann_window(6).numpy(),
                               atol=1e-7)
    assert minigrad.hann_window(4, requires_grad=True).requires_grad
    same_error(lambda: torch.hann_window(-1), lambda: minigrad.hann_window(-1))
    same_error(lambda: torch.hann_window(4.0), lambda: minigrad.hann_window(4.0))
    same_error(lambda: torch.blackman_window(3, dtype=torch.int64),
               lambda: minigrad.blackman_window(3, dtype=minigrad.int64), match=False)


def test_signal_windows_match_torch():
    import minigrad.signal                                 # noqa: F401  (the import works)
    assert minigrad.signal.windows.hann(8).shape == (8,)
    assert sorted(mwin.__all__) == sorted(twin.__all__)
    params = {"general_cosine": [{"a": [0.5, 0.5]}, {"a": (0.4, 0.3, 0.2, 0.1)}],
              "general_hamming": [{}, {"alpha": 0.6}], "kaiser": [{}, {"beta": 2.5}],
              "gaussian": [{}, {"std": 2.5}], "exponential": [{}, {"tau": 3.0}]}
    cases = 0
    for name in twin.__all__:
        for kw in params.get(name, [{}]):
            for m_len in (0, 1, 2, 7, 10):
                for sym in (True, False):
                    for dt in ("float32", "float64"):
                        t = getattr(twin, name)(m_len, sym=sym, dtype=getattr(torch, dt), **kw)
                        m = getattr(mwin, name)(m_len, sym=sym, dtype=getattr(minigrad, dt),
                                                **kw)
                        assert tuple(m.shape) == tuple(t.shape)
                        np.testing.assert_allclose(m.numpy(), t.numpy(), atol=2e-6 if
                                                   dt == "float32" else 1e-12, err_msg=name)
                        cases += 1
    assert cases == 320
    np.testing.assert_allclose(mwin.exponential(6, center=1.5, sym=False).numpy(),
                               twin.exponential(6, center=1.5, sym=False).numpy(), atol=1e-7)
    for name in twin.__all__:
        kw = {"a": [0.5, 0.5]} if name == "general_cosine" else {}
        same_error(lambda: getattr(twin, name)(-1, **kw), lambda: getattr(mwin, name)(-1, **kw))
        same_error(lambda: getattr(twin, name)(3, dtype=torch.int64, **kw),
                   lambda: getattr(mwin, name)(3, dtype=minigrad.int64, **kw), match=False)
    for t_call, m_call in (
            (lambda: twin.exponential(5, center=1.0), lambda: mwin.exponential(5, center=1.0)),
            (lambda: twin.exponential(5, tau=-1.0), lambda: mwin.exponential(5, tau=-1.0)),
            (lambda: twin.gaussian(5, std=0), lambda: mwin.gaussian(5, std=0)),
            (lambda: twin.kaiser(5, beta=-1.0), lambda: mwin.kaiser(5, beta=-1.0)),
            (lambda: twin.general_cosine(5, a=None), lambda: mwin.general_cosine(5, a=None))):
        same_error(t_call, m_call)


# ----------------------------------------------------------------------------------------------
# settings and predicates
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def restore_flags():
    """Put torch's and minigrad's process-level switches back after the test."""
    # torch.use_deterministic_algorithms costs seconds on first call (it imports its compiler's
    # config); set_deterministic_debug_mode sets the same two flags at once, instantly
    saved = (torch.get_deterministic_debug_mode(), None,
             torch.get_float32_matmul_precision(), torch.is_warn_always_enabled())
    m_saved = (minigrad.get_deterministic_debug_mode(), minigrad.get_float32_matmul_precision(),
               minigrad.get_num_interop_threads(), minigrad.is_warn_always_enabled())
    yield
    torch.set_deterministic_debug_mode(saved[0])
    torch.set_float32_matmul_precision(saved[2])
    torch.set_warn_always(saved[3])
    minigrad.set_deterministic_debug_mode(m_saved[0])
    minigrad.set_float32_matmul_precision(m_saved[1])
    minigrad.set_num_interop_threads(m_saved[2])
    minigrad.set_warn_always(m_saved[3])
    minigrad.set_anomaly_enabled(False)
    torch.set_anomaly_enabled(False)


def _state(lib):
    return (lib.are_deterministic_algorithms_enabled(),
            lib.is_deterministic_algorithms_warn_only_enabled(),
            lib.get_deterministic_debug_mode())


def test_determinism_switches(restore_flags):
    for mode in ("warn", "error", "default", 1, 2, 0):
        torch.set_deterministic_debug_mode(mode)
        minigrad.set_deterministic_debug_mode(mode)
        assert _state(minigrad) == _state(torch)
    for mode, warn_only, level in ((True, False, 2), (True, True, 1), (False, False, 0)):
        torch.set_deterministic_debug_mode(level)
        minigrad.use_deterministic_algorithms(mode, warn_only=warn_only)
        assert _state(minigrad) == _state(torch)
    for bad in ("bad", 3, 1.0):
        same_error(lambda: torch.set_deterministic_debug_mode(bad),
                   lambda: minigrad.set_deterministic_debug_mode(bad))
    # torch: TypeError "_set_deterministic_algorithms(): argument 'mode' (position 1) must be
    # bool, not int" (not called here: its first call takes seconds)
    with pytest.raises(TypeError, match="argument 'mode' .* must be bool, not int"):
        minigrad.use_deterministic_algorithms(1)


def test_precision_threads_warnings_denormals(restore_flags):
    for p in ("high", "medium", "highest"):
        torch.set_float32_matmul_precision(p)
        minigrad.set_float32_matmul_precision(p)
        assert minigrad.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    with pytest.warns(UserWarning, match="no effect"):
        minigrad.set_float32_matmul_precision("low")
    assert minigrad.get_float32_matmul_precision() == "highest"
    same_error(lambda: torch.set_float32_matmul_precision(3),
               lambda: minigrad.set_float32_matmul_precision(3))
    assert isinstance(minigrad.get_num_interop_threads(), int)
    minigrad.set_num_interop_threads(3)
    assert minigrad.get_num_interop_threads() == 3
    for bad in (0, "a"):
        same_error(lambda: torch.set_num_interop_threads(bad),
                   lambda: minigrad.set_num_interop_threads(bad))
    for b in (True, False):
        torch.set_warn_always(b)
        minigrad.set_warn_always(b)
        assert minigrad.is_warn_always_enabled() == torch.is_warn_always_enabled()
    same_error(lambda: torch.set_warn_always(0), lambda: minigrad.set_warn_always(0))
    assert minigrad.set_flush_denormal(True) is False       # minigrad leaves the FPU alone
    assert np.finfo(np.float64).smallest_subnormal > 0


def test_anomaly_switch_is_autograd_anomaly_mode(restore_flags):
    for enabled, check_nan in ((True, False), (True, True), (False, False), (False, True)):
        torch.set_anomaly_enabled(enabled, check_nan)
        minigrad.set_anomaly_enabled(enabled, check_nan)
        assert minigrad.is_anomaly_enabled() == torch.is_anomaly_enabled() == enabled
        assert minigrad.is_anomaly_check_nan_enabled() == torch.is_anomaly_check_nan_enabled()
        assert minigrad.autograd.is_anomaly_enabled() == enabled
    minigrad.set_anomaly_enabled(True)
    x = minigrad.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="nan|inf|NaN"):
        (x.sqrt() * 0).sum().backward()                    # 0 * inf: NaN, named by anomaly mode


def test_predicates():
    t, m = torch.zeros(2), minigrad.zeros(2)
    assert minigrad.is_inference_mode_enabled() == torch.is_inference_mode_enabled() is False
    with minigrad.inference_mode(), torch.inference_mode():
        assert minigrad.is_inference_mode_enabled() and torch.is_inference_mode_enabled()
    for name in ("is_inference", "is_complex", "get_device"):
        assert getattr(minigrad, name)(m) == getattr(torch, name)(t)
        same_error(lambda: getattr(torch, name)(3), lambda: getattr(minigrad, name)(3))
    assert minigrad.is_storage(m) == torch.is_storage(t) is False
    for dt in ("float32", "float64", "int64", "bool", "float16", "uint8"):
        assert (minigrad.typename(minigrad.zeros(1, dtype=getattr(minigrad, dt)))
                == torch.typename(torch.zeros(1, dtype=getattr(torch, dt))).replace("torch.",
                                                                                    "minigrad."))
    assert minigrad.typename(3) == torch.typename(3) == "int"
    assert minigrad.typename(minigrad.nn.Linear(1, 1)).endswith(".Linear")


def test_compile_wraps_a_module_as_torch_and_returns_a_function():
    """compile(module) is an OptimizedModule as torch's: its _orig_mod is the module, its
    state-dict keys carry the '_orig_mod.' prefix, attributes and calls reach the module."""
    for lib in (minigrad, torch):
        model = lib.nn.Linear(2, 3)
        compiled = lib.compile(model, mode="reduce-overhead", fullgraph=True)
        assert type(compiled).__name__ == "OptimizedModule"
        assert compiled._orig_mod is model and compiled.weight is model.weight
        assert list(compiled.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
        assert compiled.in_features == 2 and not isinstance(compiled, lib.nn.Linear)
        x = lib.ones(4, 2)
        assert lib.equal(compiled(x), model(x))
        compiled.eval()
        assert not model.training

    @minigrad.compile
    def f(x):
        return x * 2

    @minigrad.compile(dynamic=True, backend="eager")
    def g(x):
        return x + 1
    assert f(3) == 6 and g(3) == 4 and f.__name__ == "f"


# ----------------------------------------------------------------------------------------------
# asarray, frombuffer
# ----------------------------------------------------------------------------------------------
def test_asarray_shares_memory_where_torch_does():
    a = np.arange(6.0).reshape(2, 3)
    for kwargs in ({}, {"copy": True}, {"copy": None}, {"dtype": "float32"},
                   {"dtype": "float64", "copy": False}, {"requires_grad": True}):
        kt = {k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()}
        km = {k: getattr(minigrad, v) if k == "dtype" else v for k, v in kwargs.items()}
        t, m = torch.asarray(a, **kt), minigrad.asarray(a, **km)
        assert np.shares_memory(m.detach().numpy(), a) == np.shares_memory(
            t.detach().numpy(), a), kwargs
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        assert m.requires_grad == t.requires_grad
        np.testing.assert_array_equal(m.detach().numpy(), t.detach().numpy())
    tx, mx = torch.zeros(3), minigrad.zeros(3)
    assert (minigrad.asarray(mx) is mx) == (torch.asarray(tx) is tx) is True
    assert (minigrad.asarray(mx, copy=True) is mx) == (torch.asarray(tx, copy=True) is tx)
    assert minigrad.asarray(mx, dtype=minigrad.float64).dtype == minigrad.float64
    for obj in ([1, 2.5], 3, [True, False], [[1, 2], [3, 4]], np.float32(2.0),
                [minigrad.tensor(1.0), minigrad.tensor(2.0)]):
        tobj = [torch.tensor(1.0), torch.tensor(2.0)] if isinstance(obj, list) and isinstance(
            obj[0], minigrad.Tensor) else obj
        t, m = torch.asarray(tobj), minigrad.asarray(obj)
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], obj
        np.testing.assert_array_equal(m.numpy(), t.numpy())
    same_error(lambda: torch.asarray(tx, dtype=torch.float64, copy=False),
               lambda: minigrad.asarray(mx, dtype=minigrad.float64, copy=False))
    same_error(lambda: torch.asarray(a, dtype=torch.float32, copy=False),
               lambda: minigrad.asarray(a, dtype=minigrad.float32, copy=False))
    same_error(lambda: torch.asarray([1, 2], copy=False),
               lambda: minigrad.asarray([1, 2], copy=False))
    same_error(lambda: torch.asarray(bytearray(b"ab")), lambda: minigrad.asarray(bytearray(b"ab")))


def test_frombuffer():
    buf = bytearray(b"abcdefgh")
    for dt, kw in (("int16", {}), ("uint8", {"offset": 1, "count": 3}), ("float32", {}),
                   ("int64", {"count": 1})):
        t = torch.frombuffer(buf, dtype=getattr(torch, dt), **kw)
        m = minigrad.frombuffer(buf, dtype=getattr(minigrad, dt), **kw)
        assert m.dtype == getattr(minigrad, dt)
        np.testing.assert_array_equal(m.numpy(), t.numpy())
    m = minigrad.frombuffer(buf, dtype=minigrad.uint8)
    buf[0] = 0
    assert m.numpy()[0] == 0                                # the memory is shared
    for kw in ({"dtype": "int16", "offset": 1}, {"dtype": "uint8", "offset": 9},
               {"dtype": "uint8", "count": 9}, {"dtype": "uint8", "count": 0}):
        kt = dict(kw, dtype=getattr(torch, kw["dtype"]))
        km = dict(kw, dtype=getattr(minigrad, kw["dtype"]))
        same_error(lambda: torch.frombuffer(buf, **kt), lambda: minigrad.frombuffer(buf, **km))
    same_error(lambda: torch.frombuffer(3, dtype=torch.uint8),
               lambda: minigrad.frombuffer(3, dtype=minigrad.uint8))


# ----------------------------------------------------------------------------------------------
# minigrad.version, minigrad.random
# ----------------------------------------------------------------------------------------------
def test_version_module():
    import minigrad.version as v
    assert v.__version__ == minigrad.__version__
    for name in ("cuda", "git_version", "debug", "hip"):
        assert hasattr(v, name) and hasattr(torch.version, name)
    assert v.cuda is None and v.debug is False and isinstance(v.git_version, str)


def test_random_module_and_fork_rng():
    import minigrad.random as r
    assert set(r.__all__) <= set(torch.random.__all__)
    r.manual_seed(123)
    assert r.initial_seed() == torch.random.manual_seed(123).initial_seed() == 123
    state = r.get_rng_state()
    first = minigrad.rand(3).numpy()
    r.set_rng_state(state)
    np.testing.assert_array_equal(minigrad.rand(3).numpy(), first)
    r.manual_seed(5)
    expected = minigrad.rand(4).numpy()
    r.manual_seed(5)
    with r.fork_rng():
        minigrad.rand(10)
    with pytest.raises(KeyError):
        with r.fork_rng(devices=[]):
            minigrad.rand(2)
            raise KeyError("inside")
    with r.fork_rng(enabled=False):
        pass
    np.testing.assert_array_equal(minigrad.rand(4).numpy(), expected)


# ----------------------------------------------------------------------------------------------
# minigrad.testing: assert_close, assert_allclose, make_tensor
# ----------------------------------------------------------------------------------------------
def _message(check, *args, **kwargs):
    try:
        check(*args, **kwargs)
    except (AssertionError, TypeError, ValueError) as err:
        return type(err).__name__, str(err).replace("torch.", "minigrad.").replace(
            "minigrad.Tensor", "minigrad.tensor.Tensor")
    return None


def _pair(actual, expected):
    """The same values as torch and minigrad objects (tensors inside structures too)."""
    def conv(lib, x):
        if isinstance(x, np.ndarray):
            return lib.tensor(x)
        if isinstance(x, (list, tuple)):
            return type(x)(conv(lib, v) for v in x)
        if isinstance(x, dict):
            return {k: conv(lib, v) for k, v in x.items()}
        return x
    return (conv(torch, actual), conv(torch, expected)), (conv(minigrad, actual),
                                                         conv(minigrad, expected))


def test_assert_close_messages_match_torch():
    a = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    b = a.copy()
    b[1, 2] += 0.5
    b[2, 3] += 1e-3
    inf, nan = np.inf, np.nan
    f32 = lambda *v: np.array(v, dtype=np.float32)  # noqa: E731
    cases = [
        (a, b, {}), (a, a.copy(), {}), (a, b.astype(np.float64), {}),
        (a, b.astype(np.float64), {"check_dtype": False}), (a, b[:2], {}),
        (np.array([1, 2]), np.array([1, 3]), {}), (np.array([1, 5]), np.array([0, 0]), {}),
        (np.array([True, False]), np.array([True, True]), {}),
        (np.array(1.0, np.float32), np.array(2.0, np.float32), {}),
        (f32(1, inf), f32(1, -inf), {}), (f32(nan, 1), f32(1, 1), {}),
        (f32(1, nan, 7), f32(1, nan, 8), {}), (f32(1, nan), f32(1, nan), {"equal_nan": True}),
        (f32(1, 2, 0.1), f32(1, 0, 0), {}), (f32(1, 2), f32(1, 3), {"rtol": 0.5, "atol": 0}),
        (np.array([1.0, 2.0], np.float16), np.array([1.0, 3.0], np.float16), {}),
        (np.zeros(0), np.zeros(0), {}), (a, b, {"msg": "custom"}),
        (a, b, {"msg": lambda m: "X" + m}), (a, b, {"rtol": 1e-3}), (a, b, {"atol": 1e-3}),
        (1.0, 1.1, {}), (2, 3, {}), (True, False, {}), (1, 1.0, {}), (1, 1.0,
                                                                       {"check_dtype": False}),
        (1.0, 1.0 + 1e-8, {}), (None, None, {}), (None, 1, {}), ("a", "a", {}),
        ([1.0, 2.0], [1.0, 2.5], {}), ([1.0, 2.0], [1.0, 2.0, 3.0], {}),
        ((a, a), (a, b), {}), ({"x": a}, {"x": b}, {}), ({"a": 1.0}, {"b": 1.0}, {}),
        ([[np.zeros(2)]], [[np.ones(2)]], {}), (np.array(1.0), 1.0, {}),
    ]
    for actual, expected, kwargs in cases:
        (ta, te), (ma, me) = _pair(actual, expected)
        t_msg = _message(torch.testing.assert_close, ta, te, **kwargs)
        m_msg = _message(minigrad.testing.assert_close, ma, me, **kwargs)
        assert m_msg == t_msg, (actual, expected, kwargs)
    # two numpy arrays are compared as tensors; a tensor and an array are unrelated types
    assert _message(minigrad.testing.assert_close, a, b) == _message(
        torch.testing.assert_close, a, b)
    assert _message(minigrad.testing.assert_close, minigrad.tensor(a), a)[0] == "TypeError"


def test_assert_allclose_deprecated_form():
    assert hasattr(torch.testing, "assert_allclose")
    for actual, expected in (([1.0, 2.0], [1.0, 2.5]), ([1.0, nan := float("nan")], [1.0, nan]),
                             (np.array([1.0, 2.0]), [1.0, 2.0 + 1e-6])):
        ta = torch.tensor(actual) if isinstance(actual, np.ndarray) else actual
        ma = minigrad.tensor(actual) if isinstance(actual, np.ndarray) else actual
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            t_msg = _message(torch.testing.assert_allclose, ta, expected)
        with pytest.warns(FutureWarning):
            m_msg = _message(minigrad.testing.assert_allclose, ma, expected)
        assert m_msg == t_msg


def test_make_tensor():
    mt = minigrad.testing.make_tensor
    minigrad.manual_seed(0)
    for dt, lo, hi in (("float32", -9, 9), ("float64", -9, 9), ("int64", -9, 9),
                       ("uint8", 0, 9), ("int8", -9, 9)):
        x = mt(50, 40, dtype=getattr(minigrad, dt), device="cpu")
        t = torch.testing.make_tensor(50, 40, dtype=getattr(torch, dt), device="cpu")
        assert x.dtype == getattr(minigrad, dt) and tuple(x.shape) == tuple(t.shape) == (50, 40)
        v = x.numpy()
        assert lo <= v.min() and v.max() <= hi and v.min() < lo + 1 and v.max() > hi - 1
    b = mt((3, 4), dtype=minigrad.bool, device="cpu")
    assert b.dtype == minigrad.bool and tuple(b.shape) == (3, 4)
    x = mt((6, 5), dtype=minigrad.float32, device="cpu", low=2, high=3, requires_grad=True,
           noncontiguous=True)
    t = torch.testing.make_tensor((6, 5), dtype=torch.float32, device="cpu", low=2, high=3,
                                  requires_grad=True, noncontiguous=True)
    assert x.requires_grad and t.requires_grad and not x.is_contiguous() and \
        not t.is_contiguous()
    assert (x.detach().numpy() >= 2).all() and (x.detach().numpy() < 3).all()
    z = mt(200, dtype=minigrad.int64, device="cpu", low=-1, high=2, exclude_zero=True).numpy()
    assert 0 not in z and set(z) <= {-1, 1}
    assert tuple(mt((), dtype=minigrad.float64, device="cpu").shape) == ()
    for kw in ({"low": 3, "high": 2}, {"low": float("nan")},
               {"dtype": "int64", "requires_grad": True}, {"dtype": "int64", "low": 1, "high": 1}):
        dt = kw.pop("dtype", "float32")
        same_error(lambda: torch.testing.make_tensor((4,), dtype=getattr(torch, dt),
                                                     device="cpu", **kw),
                   lambda: mt((4,), dtype=getattr(minigrad, dt), device="cpu", **kw))
    with pytest.raises(TypeError):
        mt((4,), dtype=minigrad.float32)                    # device is required, as in torch


# ----------------------------------------------------------------------------------------------
# vmap
# ----------------------------------------------------------------------------------------------
def _vmap_cases(lib):
    return [
        (lambda a, b: lib.dot(a, b), {}, (arr(3, 4), arr(3, 4))),
        (lambda a, b: a + b, {"in_dims": (0, 1)}, (arr(3, 4), arr(4, 3))),
        (lambda a, w: (a * w).sum(), {"in_dims": (0, None)}, (arr(5, 4), arr(4))),
        (lambda a: (a, a.sum()), {"out_dims": (1, 0)}, (arr(3, 4),)),
        (lambda a: a.t() @ a, {"in_dims": -1}, (arr(2, 3, 4),)),
        (lambda a: [a.exp(), a], {"out_dims": 1}, (arr(3, 4),)),
        (lambda pair: pair[0] * pair[1], {"in_dims": ([0, None],)}, ([arr(3, 4), arr(4)],)),
        (lambda d: d["x"].sum(0), {}, ({"x": arr(3, 2, 5)},)),
        (lambda a, b: lib.vmap(lambda r: r * b.sum())(a), {"in_dims": (1, 0)},
         (arr(3, 4, 2), arr(4, 5))),                            # nested
    ]


def _tensors(lib, obj):
    if isinstance(obj, np.ndarray):
        return lib.tensor(obj, requires_grad=True)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors(lib, o) for o in obj)
    if isinstance(obj, dict):
        return {k: _tensors(lib, v) for k, v in obj.items()}
    return obj


def test_vmap_matches_torch_values_and_gradients():
    for (t_fn, kw, args), (m_fn, _, _) in zip(_vmap_cases(torch), _vmap_cases(minigrad)):
        t_args, m_args = _tensors(torch, args), _tensors(minigrad, args)
        t_out, m_out = torch.vmap(t_fn, **kw)(*t_args), minigrad.vmap(m_fn, **kw)(*m_args)
        t_outs = t_out if isinstance(t_out, (tuple, list)) else [t_out]
        m_outs = m_out if isinstance(m_out, (tuple, list)) else [m_out]
        assert type(m_out) is type(t_out) or not isinstance(t_out, (tuple, list))
        for t, m in zip(t_outs, m_outs):
            np.testing.assert_allclose(_np(m), _np(t), rtol=1e-10, atol=1e-12)
        weights = [RNG.standard_normal(tuple(t.shape)) for t in t_outs]
        t_loss = sum((t * torch.tensor(w)).sum() for t, w in zip(t_outs, weights))
        m_loss = sum((m * minigrad.tensor(w)).sum() for m, w in zip(m_outs, weights))
        t_in, m_in = list(_leaves([t_args[i] if not isinstance(t_args[i], dict) else
                                   list(t_args[i].values()) for i in range(len(t_args))])), \
            list(_leaves([m_args[i] if not isinstance(m_args[i], dict) else
                          list(m_args[i].values()) for i in range(len(m_args))]))
        for tg, mg in zip(torch.autograd.grad(t_loss, t_in),
                          minigrad.autograd.grad(m_loss, m_in)):
            np.testing.assert_allclose(_np(mg), _np(tg), rtol=1e-10, atol=1e-12)


def test_vmap_errors_and_randomness():
    x, y = arr(3, 4), arr(4, 3)
    for t_call, m_call in (
            (lambda: torch.vmap(torch.add)(torch.tensor(x), torch.tensor(y)),
             lambda: minigrad.vmap(minigrad.add)(minigrad.tensor(x), minigrad.tensor(y))),
            (lambda: torch.vmap(lambda a, b: a + b)(torch.tensor(x), 3),
             lambda: minigrad.vmap(lambda a, b: a + b)(minigrad.tensor(x), 3)),
            (lambda: torch.vmap(lambda a: 3.0)(torch.tensor(x)),
             lambda: minigrad.vmap(lambda a: 3.0)(minigrad.tensor(x))),
            (lambda: torch.vmap(lambda a: a, in_dims=2)(torch.tensor(x)),
             lambda: minigrad.vmap(lambda a: a, in_dims=2)(minigrad.tensor(x))),
            (lambda: torch.vmap(lambda a: a, in_dims=None)(torch.tensor(x)),
             lambda: minigrad.vmap(lambda a: a, in_dims=None)(minigrad.tensor(x))),
            (lambda: torch.vmap(lambda a: torch.rand(2))(torch.tensor(x)),
             lambda: minigrad.vmap(lambda a: minigrad.rand(2))(minigrad.tensor(x))),
            (lambda: torch.vmap(lambda a: a, randomness="x")(torch.tensor(x)),
             lambda: minigrad.vmap(lambda a: a, randomness="x")(minigrad.tensor(x)))):
        same_error(t_call, m_call)
    same_error(lambda: torch.vmap(lambda a: a, in_dims=(0,))(torch.tensor(x), torch.tensor(x)),
               lambda: minigrad.vmap(lambda a: a, in_dims=(0,))(minigrad.tensor(x),
                                                                minigrad.tensor(x)),
               match=False)
    same = minigrad.vmap(lambda a: minigrad.rand(2) + a * 0, randomness="same")(
        minigrad.zeros(3, 2)).numpy()
    assert (same == same[0]).all()
    different = minigrad.vmap(lambda a: minigrad.rand(2) + a * 0, randomness="different")(
        minigrad.zeros(3, 2)).numpy()
    assert not (different == different[0]).all()
