"""LBFGS, Rprop, Adafactor, SparseAdam and optim.swa_utils against PyTorch: the same initial
parameters and gradients on both sides, many steps, compared after every step."""
import copy

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.optim import swa_utils

torch = pytest.importorskip("torch")


def _lib_dtype(lib, dtype):
    return getattr(lib, dtype)


def _to_minigrad(value):
    """A torch state_dict (nested dicts/lists of tensors) as minigrad tensors."""
    if isinstance(value, torch.Tensor):
        return minigrad.tensor(value.numpy())
    if isinstance(value, dict):
        return {k: _to_minigrad(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_minigrad(v) for v in value]
    return value


def _max_diff(a, b):
    return max(float(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).max())
               for x, y in zip(a, b))


# ------------------------------------------------------------------------------------------------
# LBFGS
# ------------------------------------------------------------------------------------------------
def _lbfgs_problem(lib, dtype):
    """A small non-quadratic least-squares problem over two parameters (4 and 2 entries)."""
    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((6, 4)), rng.standard_normal(6)
    w0, c0 = rng.standard_normal(4) * 2, rng.standard_normal(2)
    dt = _lib_dtype(lib, dtype)
    w = lib.tensor(w0, dtype=dt, requires_grad=True)
    c = lib.tensor(c0, dtype=dt, requires_grad=True)
    At, bt = lib.tensor(A, dtype=dt), lib.tensor(b, dtype=dt)

    def loss_fn():
        r = lib.tanh(At @ w) - bt
        return (r * r).sum() + ((c - 1) ** 4).sum() + 0.1 * (w ** 2).sum() + (w[0] * c[1]) ** 2
    return [w, c], loss_fn


def _run_lbfgs(lib, dtype, steps, state_dict=None, **kwargs):
    params, loss_fn = _lbfgs_problem(lib, dtype)
    opt = lib.optim.LBFGS(params, **kwargs)
    if state_dict is not None:
        opt.load_state_dict(state_dict)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    iterates, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        iterates.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    return iterates, losses, opt


LBFGS_CONFIGS = [
    dict(),
    dict(history_size=3, max_iter=7),
    dict(lr=0.8, max_iter=10, max_eval=15, tolerance_grad=1e-5),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=6, tolerance_change=1e-6),
    dict(line_search_fn="strong_wolfe", lr=0.5, max_iter=50),
]


@pytest.mark.parametrize("kwargs", LBFGS_CONFIGS)
def test_lbfgs_iterates_match_torch_float64(kwargs):
    ours, our_losses, opt = _run_lbfgs(minigrad, "float64", 3, **kwargs)
    theirs, their_losses, topt = _run_lbfgs(torch, "float64", 3, **kwargs)
    assert _max_diff(ours, theirs) < 1e-10
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-9)
    state, tstate = opt.state_dict()["state"][0], topt.state_dict()["state"][0]
    assert sorted(state) == sorted(tstate)
    assert (state["func_evals"], state["n_iter"]) == (tstate["func_evals"], tstate["n_iter"])
    assert len(state["old_dirs"]) == len(tstate["old_dirs"])
    np.testing.assert_allclose(state["d"].numpy(), tstate["d"].numpy(), atol=1e-10)
    assert opt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_float32_follows_torch(line_search_fn):
    ours, _, _ = _run_lbfgs(minigrad, "float32", 1, max_iter=5, line_search_fn=line_search_fn)
    theirs, _, _ = _run_lbfgs(torch, "float32", 1, max_iter=5, line_search_fn=line_search_fn)
    assert ours[0].dtype == np.float32
    assert _max_diff(ours, theirs) < 1e-4


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_resumes_from_its_own_and_torchs_state_dict(line_search_fn):
    kwargs = dict(history_size=4, max_iter=4, line_search_fn=line_search_fn)
    reference, _, _ = _run_lbfgs(torch, "float64", 3, **kwargs)
    _, _, topt = _run_lbfgs(torch, "float64", 1, **kwargs)
    _, _, opt = _run_lbfgs(minigrad, "float64", 1, **kwargs)
    torch_state = _to_minigrad(copy.deepcopy(topt.state_dict()))
    for state_dict in (opt.state_dict(), torch_state):
        params, loss_fn = _lbfgs_problem(minigrad, "float64")
        with minigrad.no_grad():               # where the first step left the parameters
            params[0].copy_(minigrad.tensor(reference[0][:4]))
            params[1].copy_(minigrad.tensor(reference[0][4:]))
        fresh = optim.LBFGS(params, lr=123.0)
        fresh.load_state_dict(state_dict)
        assert fresh.param_groups[0]["lr"] == 1 and fresh.param_groups[0]["history_size"] == 4

        def closure():
            fresh.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss
        for k in (1, 2):                       # steps 2 and 3 continue the history
            fresh.step(closure)
            got = np.concatenate([p.detach().numpy() for p in params])
            assert np.abs(got - reference[k]).max() < 1e-10


def test_lbfgs_errors_and_edge_cases_match_torch():
    w, tw = nn.Parameter(minigrad.ones(2)), torch.nn.Parameter(torch.ones(2))
    for kwargs in (dict(lr=-1.0),):
        with pytest.raises(ValueError) as theirs:
            torch.optim.LBFGS([tw], **kwargs)
        with pytest.raises(ValueError) as ours:
            optim.LBFGS([w], **kwargs)
        assert str(ours.value) == str(theirs.value)
    v, tv = nn.Parameter(minigrad.ones(1)), torch.nn.Parameter(torch.ones(1))
    with pytest.raises(ValueError) as theirs:
        torch.optim.LBFGS([{"params": [tw]}, {"params": [tv]}])
    with pytest.raises(ValueError) as ours:
        optim.LBFGS([{"params": [w]}, {"params": [v]}])
    assert str(ours.value) == str(theirs.value)
    assert optim.LBFGS([w]).defaults == torch.optim.LBFGS([tw]).defaults
    opt = optim.LBFGS([w], line_search_fn="backtracking")
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(lambda: (w * w).sum().backward() or (w * w).sum())
    with pytest.raises(TypeError):
        opt.step()                                     # closure is required, as in torch
    # already optimal: one closure call, the loss returned, nothing changed
    z = nn.Parameter(minigrad.zeros(3))
    opt = optim.LBFGS([z])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (z * z).sum()
        loss.backward()
        return loss
    assert float(opt.step(closure)) == 0.0 and len(calls) == 1
    assert opt.state_dict()["state"][0] == {"func_evals": 1, "n_iter": 0}


# ------------------------------------------------------------------------------------------------
# Rprop, Adafactor
# ------------------------------------------------------------------------------------------------
SHAPES = [(4, 3), (3,), (), (2, 3, 5)]


def _train(lib, name, dtype, kwargs, steps, opt_state=None, start=0):
    rng = np.random.default_rng(0)
    dt = _lib_dtype(lib, dtype)
    params = [lib.tensor(rng.standard_normal(s), dtype=dt, requires_grad=True) for s in SHAPES]
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.03}]
    opt = getattr(lib.optim, name)(groups, **kwargs)
    targets = np.random.default_rng(1)
    history = []
    for k in range(steps):
        batch = [targets.standard_normal(p.shape) for p in params]
        if k == start and opt_state is not None:
            opt.load_state_dict(opt_state(lib, opt))
            with lib.no_grad():
                for p, value in zip(params, opt_state.values):
                    p.copy_(lib.tensor(value, dtype=dt))
        if k < start:
            continue
        opt.zero_grad()
        loss = sum((((p - lib.tensor(t, dtype=dt)) ** 2) * (1 + 0.1 * k)).sum() * (1 + i)
                   for i, (p, t) in enumerate(zip(params, batch)))
        if k == 7:                       # one parameter without a gradient this step
            loss = loss + 0 * params[0].sum().detach()
        loss.backward()
        if k == 7:
            params[1].grad = None
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history, opt


OPT_CONFIGS = [
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("Rprop", dict(lr=0.05, foreach=False, capturable=False, differentiable=False)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5,
                       weight_decay=0.1, maximize=True)),
    ("Adafactor", dict(eps=(1e-3, 1e-3), foreach=False, weight_decay=0.5)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,kwargs", OPT_CONFIGS)
def test_optimizer_matches_torch_step_by_step(name, kwargs, dtype):
    ours, opt = _train(minigrad, name, dtype, kwargs, 30)
    theirs, topt = _train(torch, name, dtype, kwargs, 30)
    tol = 1e-12 if dtype == "float64" else 1e-5
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a[0].dtype == b[0].dtype
        assert _max_diff(a, b) < tol, f"step {k}"
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    for i, tstate in tsd["state"].items():
        assert list(sd["state"][i]) == list(tstate)
        for key, value in tstate.items():
            assert tuple(sd["state"][i][key].shape) == tuple(value.shape), key
            assert str(sd["state"][i][key].dtype).split(".")[1] == str(value.dtype).split(".")[1]
            np.testing.assert_allclose(sd["state"][i][key].numpy(), value.numpy(),
                                       rtol=1e-5, atol=tol)


@pytest.mark.parametrize("name,kwargs", [OPT_CONFIGS[1], OPT_CONFIGS[4]])
def test_resume_from_own_and_torch_state_dict(name, kwargs):
    reference, _ = _train(torch, name, "float64", kwargs, 20)
    ours10, opt = _train(minigrad, name, "float64", kwargs, 10)
    _, topt = _train(torch, name, "float64", kwargs, 10)
    for source in (opt.state_dict(), _to_minigrad(copy.deepcopy(topt.state_dict()))):
        def loader(lib, fresh, source=source):
            return source
        loader.values = ours10[-1]
        resumed, fresh = _train(minigrad, name, "float64", {**kwargs, "lr": 7.0}, 20,
                                opt_state=loader, start=10)
        assert fresh.param_groups[0]["lr"] == kwargs.get("lr", 1e-2)
        assert _max_diff(resumed[-1], reference[-1]) < 1e-12


def test_constructor_errors_match_torch():
    w, tw = nn.Parameter(minigrad.ones(2)), torch.nn.Parameter(torch.ones(2))
    cases = [("Rprop", dict(lr=-1.0)), ("Rprop", dict(etas=(1.5, 1.2))),
             ("Rprop", dict(etas=(0.5, 0.9))),
             ("Adafactor", dict(lr=-1.0)), ("Adafactor", dict(beta2_decay=0.5)),
             ("Adafactor", dict(eps=(-1.0, 1e-3))), ("Adafactor", dict(eps=(None, -1.0))),
             ("Adafactor", dict(d=0.5)), ("Adafactor", dict(weight_decay=-0.1)),
             ("SparseAdam", dict(lr=0.0)), ("SparseAdam", dict(eps=0.0)),
             ("SparseAdam", dict(betas=(1.0, 0.9))), ("SparseAdam", dict(betas=(0.9, 1.0)))]
    for name, kwargs in cases:
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim, name)([tw], **kwargs)
        with pytest.raises(ValueError) as ours:
            getattr(optim, name)([w], **kwargs)
        assert str(ours.value) == str(theirs.value), (name, kwargs)
    for name in ("Rprop", "Adafactor", "SparseAdam", "LBFGS"):
        assert getattr(optim, name)([w]).defaults == getattr(torch.optim, name)([tw]).defaults


def test_sparse_adam_refuses_dense_gradients_like_torch():
    w, tw = nn.Parameter(minigrad.ones(3)), torch.nn.Parameter(torch.ones(3))
    opt, topt = optim.SparseAdam([w]), torch.optim.SparseAdam([tw])
    opt.step(), topt.step()                        # no gradient yet: nothing happens
    (w * w).sum().backward(), (tw * tw).sum().backward()
    with pytest.raises(RuntimeError) as theirs:
        topt.step()
    with pytest.raises(RuntimeError) as ours:
        opt.step()
    assert str(ours.value) == str(theirs.value)
    assert opt.state_dict() == {"state": {}, "param_groups": topt.state_dict()["param_groups"]}


# ------------------------------------------------------------------------------------------------
# swa_utils
# ------------------------------------------------------------------------------------------------
def _bn_models():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                 torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                          nn.Linear(4, 2)).double()
    model.load_state_dict({k: minigrad.tensor(v.numpy()) for k, v in
                           tmodel.state_dict().items()})
    return model, tmodel


def _swa_run(lib, model, avg_kwargs, steps=6, dtype="float64"):
    swa = lib.optim.swa_utils.AveragedModel(model, **avg_kwargs)
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(2)
    for _ in range(steps):
        x = lib.tensor(rng.standard_normal((5, 3)), dtype=getattr(lib, dtype))
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        swa.update_parameters(model)
    return swa


@pytest.mark.parametrize("which", ["swa", "ema", "ema_multi", "swa_multi", "buffers"])
def test_averaged_model_matches_torch(which):
    def kwargs(lib):
        utils = lib.optim.swa_utils
        return {"swa": {}, "ema": dict(avg_fn=utils.get_ema_avg_fn(0.8)),
                "ema_multi": dict(multi_avg_fn=utils.get_ema_multi_avg_fn(0.7)),
                "swa_multi": dict(multi_avg_fn=utils.get_swa_multi_avg_fn()),
                "buffers": dict(use_buffers=True, avg_fn=utils.get_swa_avg_fn())}[which]
    model, tmodel = _bn_models()
    swa, tswa = _swa_run(minigrad, model, kwargs(minigrad)), _swa_run(torch, tmodel,
                                                                      kwargs(torch))
    sd, tsd = swa.state_dict(), tswa.state_dict()
    assert list(sd) == list(tsd)
    for key in tsd:
        np.testing.assert_allclose(sd[key].numpy(), tsd[key].numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=key)
    assert int(swa.n_averaged) == 6 and swa.n_averaged.dtype == minigrad.long
    x = np.random.default_rng(5).standard_normal((4, 3))
    swa.eval(), tswa.eval()
    np.testing.assert_allclose(swa(minigrad.tensor(x)).detach().numpy(),
                               tswa(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_averaged_model_float32_and_errors():
    torch.manual_seed(1)
    tlin = torch.nn.Linear(3, 2)
    lin = nn.Linear(3, 2)
    lin.load_state_dict({k: minigrad.tensor(v.numpy()) for k, v in tlin.state_dict().items()})
    swa, tswa = _swa_run(minigrad, lin, {}, 5, "float32"), _swa_run(torch, tlin, {}, 5, "float32")
    assert swa.module.weight.dtype == minigrad.float32
    np.testing.assert_allclose(swa.module.weight.detach().numpy(),
                               tswa.module.weight.detach().numpy(), rtol=1e-6)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(lin, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    for factory in ("get_ema_avg_fn", "get_ema_multi_avg_fn"):
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim.swa_utils, factory)(1.5)
        with pytest.raises(ValueError) as ours:
            getattr(swa_utils, factory)(1.5)
        assert str(ours.value) == str(theirs.value)


def test_update_bn_matches_torch():
    model, tmodel = _bn_models()
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((6, 3)) for _ in range(4)]
    model[1].momentum = tmodel[1].momentum = 0.3
    model.eval(), tmodel.eval()
    swa_utils.update_bn([(minigrad.tensor(b), 0) for b in batches], model)
    torch.optim.swa_utils.update_bn([(torch.tensor(b), 0) for b in batches], tmodel)
    assert not model.training and model[1].momentum == 0.3
    for key, value in tmodel.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key].numpy(), value.numpy(), rtol=1e-12,
                                   err_msg=key)
    swa_utils.update_bn([], nn.Linear(2, 2))          # no BatchNorm: nothing to do


@pytest.mark.parametrize("kwargs", [dict(swa_lr=0.05), dict(swa_lr=[0.05, 0.2],
                                                               anneal_strategy="linear"),
                                    dict(swa_lr=0.01, anneal_epochs=0),
                                    dict(swa_lr=0.3, anneal_epochs=3, anneal_strategy="cos")])
def test_swalr_matches_torch(kwargs):
    def make(lib):
        a = lib.zeros(2, requires_grad=True)
        b = lib.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=1.0)
        return opt, lib.optim.swa_utils.SWALR(opt, **kwargs)
    (opt, sched), (topt, tsched) = make(minigrad), make(torch)
    ours, theirs = [], []
    for epoch in range(14):
        if epoch == 8:                     # resume halfway from a state_dict
            opt2, sched2 = make(minigrad)
            opt2.load_state_dict(opt.state_dict())
            sched2.load_state_dict(sched.state_dict())
            opt, sched = opt2, sched2
        opt.step(), topt.step()
        sched.step(), tsched.step()
        ours.append(sched.get_last_lr()), theirs.append(tsched.get_last_lr())
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)
    assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in topt.param_groups]


def test_swalr_errors_match_torch():
    w, tw = minigrad.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    for kwargs in (dict(swa_lr=[0.1, 0.2]), dict(swa_lr=0.1, anneal_strategy="step"),
                   dict(swa_lr=0.1, anneal_epochs=-1), dict(swa_lr=0.1, anneal_epochs=2.5)):
        with pytest.raises(ValueError) as theirs:
            torch.optim.swa_utils.SWALR(torch.optim.SGD([tw], lr=1.0), **kwargs)
        with pytest.raises(ValueError) as ours:
            swa_utils.SWALR(optim.SGD([w], lr=1.0), **kwargs)
        assert str(ours.value) == str(theirs.value)


def test_utils_hooks_removable_handle_is_the_modules_handle():
    from minigrad.utils.hooks import RemovableHandle
    lin = nn.Linear(2, 2)
    calls = []
    handle = lin.register_forward_hook(lambda *a: calls.append(1))
    assert isinstance(handle, RemovableHandle)
    lin(minigrad.ones(1, 2))
    handle.remove()
    lin(minigrad.ones(1, 2))
    assert calls == [1]
    assert torch.utils.hooks.RemovableHandle.__name__ == RemovableHandle.__name__
