"""torch.jit (eager stand-ins), torch.autocast / amp.GradScaler and torch.cond, side by side
with PyTorch."""
import typing
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as MF

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(shape, seed=0, dtype=np.float32):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return minigrad.tensor(a), torch.tensor(a)


def _error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001  (the type is what we compare)
        return type(exc), str(exc)
    return None, None


# -- torch.jit -----------------------------------------------------------------------------------
def test_jit_script_and_trace_return_a_callable_that_agrees_with_torch():
    def f(x):
        return x.sin() * 2

    m, t = _pair((3,))
    assert minigrad.jit.script(f) is f
    assert minigrad.jit.trace(f, m) is f and minigrad.jit.trace(f, (m,)) is f
    np.testing.assert_allclose(minigrad.jit.script(f)(m).numpy(), torch.jit.script(f)(t).numpy(),
                               rtol=1e-6)
    lin = minigrad.nn.Linear(2, 2)
    assert minigrad.jit.script(lin) is lin
    # a bad example input fails as PyTorch's tracer does
    assert _error(lambda: minigrad.jit.trace(f, 3))[0] is _error(lambda: torch.jit.trace(f, 3))[0]
    two = [(lib.ones(2), lib.ones(2)) for lib in (minigrad, torch)]     # f takes one argument
    got = _error(lambda: minigrad.jit.trace(f, two[0]))
    want = _error(lambda: torch.jit.trace(f, two[1]))
    assert got[0] is want[0] is TypeError


def test_jit_decorators_and_helpers_are_eager_like_torch():
    J, TJ = minigrad.jit, torch.jit
    for name in ("is_scripting", "is_tracing"):
        assert getattr(J, name)() is getattr(TJ, name)() is False

    def g(x):
        return x + 1

    for dec in ("unused", "export", "interface", "script_method", "script_if_tracing"):
        assert getattr(J, dec)(g) is g
    assert J.ignore(g) is g and J.ignore(drop=True)(g) is g
    assert J.annotate(typing.List[int], [1]) == TJ.annotate(typing.List[int], [1])
    assert J.Final is TJ.Final is typing.Final
    assert issubclass(J.Error, Exception) and issubclass(J.ScriptModule, minigrad.nn.Module)
    fut, tfut = J.fork(lambda a, b: a + b, 1, b=2), TJ.fork(lambda a, b: a + b, 1, b=2)
    assert fut.wait() == J.wait(fut) == tfut.wait() == TJ.wait(tfut) == 3
    assert fut.done() and tfut.done()

    class Old(J.ScriptModule):
        @J.script_method
        def forward(self, x):
            return x * 2

    assert Old()(minigrad.ones(2)).tolist() == [2.0, 2.0]


# -- torch.cond ----------------------------------------------------------------------------------
@pytest.mark.parametrize("pred", [True, False, 1, 0, 2.5, "t1", "t0", "tf", "t11"])
def test_cond_picks_the_branch_torch_picks_and_gradients_flow(pred):
    preds = {"t1": ([True], ()), "t0": ([0], ()), "tf": ([2.5], ()), "t11": ([[True]], (1, 1))}
    if isinstance(pred, str):
        values, _ = preds[pred]
        mp, tp = minigrad.tensor(values[0]), torch.tensor(values[0])
        if isinstance(values[0], list):
            mp, tp = minigrad.tensor(values), torch.tensor(values)
    else:
        mp = tp = pred
    m, t = _pair((4,), seed=1, dtype=np.float64)
    m.requires_grad_(True)
    t.requires_grad_(True)
    mo = minigrad.cond(mp, lambda x: (x * x).sum(), lambda x: x.sin().sum(), (m,))
    to = torch.cond(tp, lambda x: (x * x).sum(), lambda x: x.sin().sum(), (t,))
    mo.backward()
    to.backward()
    assert abs(mo.item() - to.item()) < 1e-12
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("pred", ["two", "empty", "str", "none"])
def test_cond_refuses_a_bad_pred_like_torch(pred):
    make = {"two": lambda lib: lib.tensor([True, False]), "empty": lambda lib: lib.tensor([]),
            "str": lambda lib: "a", "none": lambda lib: None}[pred]
    got = _error(lambda: minigrad.cond(make(minigrad), lambda: 1, lambda: 2))
    want = _error(lambda: torch.cond(make(torch), lambda: 1, lambda: 2))
    assert got[0] is want[0] is RuntimeError
    assert got[1].split(", but got")[0] == want[1].split(", but got")[0]


# -- autocast ------------------------------------------------------------------------------------
def _ops(lib, F, x, w, img, k, tgt):
    return {
        "matmul": lambda: lib.matmul(x, w.t()), "mm": lambda: lib.mm(x, w.t()),
        "bmm": lambda: lib.bmm(x[None], w.t()[None]), "mv": lambda: lib.mv(x, w[0]),
        "linear": lambda: F.linear(x, w), "conv2d": lambda: F.conv2d(img, k),
        "conv1d": lambda: F.conv1d(img[:, :, 0], k[:, :, 0]),
        "conv_transpose2d": lambda: F.conv_transpose2d(img, k.transpose(0, 1)),
        "addmm": lambda: lib.addmm(x[:, :3], x, w.t()),
        "baddbmm": lambda: lib.baddbmm(x[None, :, :3], x[None], w.t()[None]),
        "add": lambda: x + 1, "sum": lambda: x.sum(), "softmax": lambda: lib.softmax(x, 0),
        "cross_entropy": lambda: F.cross_entropy(F.linear(x, w), tgt),
        "mse_loss": lambda: F.mse_loss(F.linear(x, w), F.linear(x, w).detach()),
        "l1_loss": lambda: F.l1_loss(F.linear(x, w), F.linear(x, w).detach()),
        "bce_logits": lambda: F.binary_cross_entropy_with_logits(F.linear(x, w),
                                                                 F.linear(x, w).detach().sigmoid()),
        "half_softmax": lambda: lib.softmax(F.linear(x, w), 1),
        "float64_mm": lambda: lib.mm(x.double(), w.double().t()),
    }


def test_autocast_cpu_float16_gives_torchs_dtypes_and_values():
    arrays = [np.random.default_rng(i).standard_normal(s).astype(np.float32) * 0.5
              for i, s in enumerate([(5, 4), (3, 4), (1, 2, 6, 6), (3, 2, 3, 3)])]
    m_in = [minigrad.tensor(a) for a in arrays] + [minigrad.tensor([0, 1, 2, 0, 1])]
    t_in = [torch.tensor(a) for a in arrays] + [torch.tensor([0, 1, 2, 0, 1])]
    m_ops, t_ops = _ops(minigrad, MF, *m_in), _ops(torch, TF, *t_in)
    worst = 0.0
    with minigrad.autocast("cpu", dtype=minigrad.float16), \
            torch.autocast("cpu", dtype=torch.float16):
        assert minigrad.is_autocast_enabled("cpu") and torch.is_autocast_enabled("cpu")
        assert not minigrad.is_autocast_enabled()                 # 'cuda' when not named
        for name in m_ops:
            mo, to = m_ops[name](), t_ops[name]()
            assert str(mo.dtype).split(".")[-1] == str(to.dtype).split(".")[-1], name
            diff = np.abs(mo.numpy().astype(np.float64) - to.double().numpy()).max()
            worst = max(worst, diff)
            assert diff <= 2e-2 * (1 + np.abs(to.double().numpy()).max()), (name, diff)
        with minigrad.autocast("cpu", enabled=False):
            assert minigrad.matmul(m_in[0], m_in[1].t()).dtype == minigrad.float32
    assert not minigrad.is_autocast_enabled("cpu")
    assert minigrad.matmul(m_in[0], m_in[1].t()).dtype == minigrad.float32


def test_autocast_gradients_reach_float32_parameters_like_torch():
    (mx, tx), (mw, tw) = _pair((6, 4), 3), _pair((3, 4), 4)
    for t in (mx, tx, mw, tw):
        t.requires_grad_(True)
    tgt_m, tgt_t = minigrad.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([0, 1, 2, 0, 1, 2])

    @minigrad.autocast("cpu", dtype=minigrad.float16)
    def m_loss():
        return MF.cross_entropy(MF.linear(mx, mw), tgt_m)

    with torch.autocast("cpu", dtype=torch.float16):
        t_loss = TF.cross_entropy(TF.linear(tx, tw), tgt_t)
    ml = m_loss()
    assert ml.dtype == minigrad.float32 and t_loss.dtype == torch.float32
    ml.backward()
    t_loss.backward()
    assert mw.grad.dtype == minigrad.float32 and tw.grad.dtype == torch.float32
    np.testing.assert_allclose(mw.grad.numpy(), tw.grad.numpy(), atol=5e-3)
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), atol=5e-3)


def test_autocast_arguments_and_refusals_match_torch():
    got = _error(lambda: minigrad.autocast(1))
    assert got[0] is _error(lambda: torch.autocast(1))[0] is ValueError
    assert got[1] == "Expected `device_type` of type `str`, got: `<class 'int'>`"
    with pytest.raises(TypeError, match="must be a minigrad dtype"):   # torch's, not minigrad's
        minigrad.autocast("cpu", dtype=torch.bfloat16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with minigrad.autocast("cpu", dtype=minigrad.float32), \
                torch.autocast("cpu", dtype=torch.float32):
            assert minigrad.is_autocast_enabled("cpu") is torch.is_autocast_enabled("cpu")
    assert sum("not supported" in str(w.message) for w in caught) == 2
    if not minigrad.cuda.is_available() and not torch.cuda.is_available():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with minigrad.autocast("cuda"), torch.autocast("cuda"):
                assert minigrad.is_autocast_enabled("cuda") is torch.is_autocast_enabled("cuda")
    assert str(minigrad.get_autocast_dtype("cpu")).split(".")[1] == \
        str(torch.get_autocast_dtype("cpu")).split(".")[1] == "bfloat16"
    assert minigrad.is_autocast_cache_enabled() is torch.is_autocast_cache_enabled()
    from minigrad.cuda.amp import GradScaler, autocast    # the old import path works
    assert issubclass(GradScaler, minigrad.amp.GradScaler)
    assert issubclass(autocast, minigrad.amp.autocast)
    assert issubclass(minigrad.cpu.amp.autocast, minigrad.amp.autocast)


# -- GradScaler ----------------------------------------------------------------------------------
def _scaler_run(lib, F, steps, bad_steps):
    """A small float32 regression trained with a GradScaler; an inf is injected in the gradient
    at ``bad_steps``. Returns per-step (scale, growth tracker, stepped?) and the weights."""
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal((2, 3)).astype(np.float32)
    xs = rng.standard_normal((steps, 4, 3)).astype(np.float32)
    ys = rng.standard_normal((steps, 4, 2)).astype(np.float32)
    w = lib.nn.Parameter(lib.tensor(w0))
    opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
    log = []
    for i in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(F.linear(lib.tensor(xs[i]), w), lib.tensor(ys[i]))
        scaler.scale(loss).backward()
        if i in bad_steps:
            w.grad[0, 0] = float("inf")
        before = w.detach().clone()
        scaler.step(opt)
        stepped = not bool((w.detach() == before).all())
        scaler.update()
        log.append((scaler.get_scale(), scaler._get_growth_tracker(), stepped))
    return log, w.detach().numpy(), scaler.state_dict()


def test_gradscaler_matches_torch_step_by_step_with_an_injected_inf():
    m_log, m_w, m_sd = _scaler_run(minigrad, MF, 7, {2, 3})
    t_log, t_w, t_sd = _scaler_run(torch, TF, 7, {2, 3})
    assert m_log == t_log
    assert [s for _, _, s in m_log].count(False) == 2
    assert m_sd == t_sd
    np.testing.assert_allclose(m_w, t_w, rtol=1e-6)


def test_gradscaler_state_scale_and_errors_match_torch():
    for lib in (minigrad, torch):
        sc = lib.amp.GradScaler("cpu")
        assert sc.get_scale() == 65536.0 and sc.is_enabled()
        out = sc.scale([lib.ones(1), (lib.ones(1, dtype=lib.float16),)])
        assert out[0].dtype == lib.float32 and out[1][0].dtype == lib.float16
        assert out[0].item() == 65536.0
        off = lib.amp.GradScaler("cpu", enabled=False)
        assert off.state_dict() == {} and off.get_scale() == 1.0
    pairs = {
        "empty_sd": lambda lib: lib.amp.GradScaler("cpu").load_state_dict({}),
        "scale_num": lambda lib: lib.amp.GradScaler("cpu").scale(3.0),
        "no_scale": lambda lib: lib.amp.GradScaler("cpu").update(),
        "growth": lambda lib: lib.amp.GradScaler("cpu", growth_factor=1.0),
        "backoff": lambda lib: lib.amp.GradScaler("cpu", backoff_factor=1.0),
    }
    for name, make in pairs.items():
        got, want = _error(lambda: make(minigrad)), _error(lambda: make(torch))
        assert got == want, name

    def twice(lib, action):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        sc = lib.amp.GradScaler("cpu")
        sc.scale(p.sum()).backward()
        action(sc, opt)

    actions = {"unscale2": lambda sc, o: (sc.unscale_(o), sc.unscale_(o)),
               "step2": lambda sc, o: (sc.step(o), sc.step(o)),
               "unscale_after_step": lambda sc, o: (sc.step(o), sc.unscale_(o)),
               "closure": lambda sc, o: sc.step(o, closure=lambda: 0)}
    for name, action in actions.items():
        got = _error(lambda: twice(minigrad, action))
        assert got == _error(lambda: twice(torch, action)) and got[0] is RuntimeError, name
