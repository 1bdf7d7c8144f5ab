"""Optimizers and schedulers against PyTorch: same initial weights, same batches, same weights
after every step (float64)."""
import math

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.optim as optim

torch = pytest.importorskip("torch")

STEPS = 20


def _models():
    """The same small MLP in torch and in minigrad (float64, identical weights)."""
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(),
                                 torch.nn.Linear(4, 3)).double()
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    model.load_state_dict({k: minigrad.tensor(v.numpy()) for k, v in
                           tmodel.state_dict().items()})
    return model, tmodel


def _batches(n=STEPS):
    rng = np.random.default_rng(1)
    return [(rng.standard_normal((8, 5)), rng.standard_normal((8, 3))) for _ in range(n)]


def _train(lib, model, opt, batches, sched=None):
    for x, y in batches:
        opt.zero_grad()
        loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()


def _assert_same_weights(model, tmodel, rtol=1e-6):
    for (k, v), (tk, tv) in zip(model.state_dict().items(), tmodel.state_dict().items()):
        assert k == tk
        np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=rtol, atol=1e-12, err_msg=k)


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True, decoupled_weight_decay=True, weight_decay=0.5)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.8, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.005, centered=True)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, eps=1e-4)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_optimizer_matches_torch_for_20_steps(name, kwargs):
    model, tmodel = _models()
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
    _train(minigrad, model, opt, _batches())
    _train(torch, tmodel, topt, _batches())
    _assert_same_weights(model, tmodel)
    # state_dict layout: same keys per parameter, same group entries
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for i in tsd["state"]:
        assert list(sd["state"][i]) == list(tsd["state"][i])
        for k, tv in tsd["state"][i].items():
            np.testing.assert_allclose(sd["state"][i][k].numpy(), tv.numpy(), rtol=1e-6,
                                       atol=1e-12)
    assert sd["param_groups"] == tsd["param_groups"]


@pytest.mark.parametrize("name,kwargs", [CONFIGS[2], CONFIGS[7], CONFIGS[14]])
def test_resuming_from_state_dict_continues_like_torch(name, kwargs):
    model, tmodel = _models()
    batches = _batches()
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
    _train(torch, tmodel, topt, batches)
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    _train(minigrad, model, opt, batches[:10])
    saved = opt.state_dict()
    fresh = getattr(optim, name)(model.parameters(), **{**kwargs, "lr": 123.0})
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == kwargs["lr"]
    _train(minigrad, model, fresh, batches[10:])
    _assert_same_weights(model, tmodel)


def test_param_groups_and_add_param_group():
    model, tmodel = _models()
    groups = [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.5}]
    tgroups = [{"params": tmodel[0].parameters()}, {"params": tmodel[2].parameters(), "lr": 0.5}]
    opt = optim.SGD(groups, lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tgroups, lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    _train(minigrad, model, opt, _batches(5))
    _train(torch, tmodel, topt, _batches(5))
    _assert_same_weights(model, tmodel)
    extra = nn.Parameter(minigrad.zeros(2))
    opt.add_param_group({"params": extra, "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["params"] == [extra]
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        opt.add_param_group({"params": [extra]})
    assert repr(opt).startswith("SGD (\nParameter Group 0\n    dampening: 0")


def test_errors_match_torch():
    w = nn.Parameter(minigrad.zeros(2))
    tw = torch.nn.Parameter(torch.zeros(2))
    cases = [
        ("SGD", [], {}), ("SGD", [w], dict(lr=-0.1)), ("SGD", [w], dict(momentum=-1)),
        ("SGD", [w], dict(weight_decay=-1)), ("SGD", [w], dict(nesterov=True)),
        ("Adam", [w], dict(lr=-1)), ("Adam", [w], dict(eps=-1)),
        ("Adam", [w], dict(betas=(1.0, 0.9))), ("Adam", [w], dict(betas=(0.9, -0.1))),
        ("AdamW", [w], dict(weight_decay=-1)), ("RMSprop", [w], dict(alpha=-1)),
        ("RMSprop", [w], dict(momentum=-1)),
    ]
    for name, params, kwargs in cases:
        tparams = [tw] if params else []
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim, name)(tparams, **kwargs)
        with pytest.raises(ValueError) as ours:
            getattr(optim, name)(params, **kwargs)
        assert str(ours.value) == str(theirs.value)
    assert str(ours.value) == "Invalid momentum value: -1"
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(w)
    with pytest.raises(TypeError, match="ordering of tensors in sets"):
        optim.SGD([{"params": {w}}])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([w * 2])
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        optim.SGD([1.0])
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})


def test_zero_grad_closure_and_skipped_params():
    w = nn.Parameter(minigrad.tensor([1.0, 2.0]))
    frozen = nn.Parameter(minigrad.tensor([5.0]))
    opt = optim.SGD([w, frozen], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert loss.item() == 5.0
    assert w.tolist() == [0.0, 0.0]          # w - 0.5 * 2w
    assert frozen.tolist() == [5.0]          # no grad: untouched
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_step_is_in_place_and_bumps_version():
    lin = nn.Linear(2, 1)
    w = lin.weight
    array = w._array
    opt = optim.Adam(lin.parameters(), lr=0.1)
    lin(minigrad.ones(1, 2)).sum().backward()
    v = w._version
    opt.step()
    assert lin.weight is w and w._array is array and w._version == v + 1
    assert not w.requires_grad or w.grad_fn is None


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01)),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULERS)
def test_schedulers_match_torch(name, kwargs):
    w, tw = nn.Parameter(minigrad.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = optim.SGD([w], lr=0.1)
    topt = torch.optim.SGD([tw], lr=0.1)
    sched = getattr(optim.lr_scheduler, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    lrs, tlrs = [], []
    for _ in range(25):
        lrs.append(sched.get_last_lr()[0])
        tlrs.append(tsched.get_last_lr()[0])
        opt.step(), topt.step()
        sched.step(), tsched.step()
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-12)
    assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == tsched.state_dict()["last_epoch"]
    assert set(state) <= set(tsched.state_dict()) | {"_is_initial"}


def test_scheduler_state_dict_round_trip_and_lambda():
    w = nn.Parameter(minigrad.zeros(1))
    opt = optim.SGD([w], lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        sched.step()
    opt2 = optim.SGD([w], lr=1.0)
    opt2.load_state_dict(opt.state_dict())
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=99)
    sched2.load_state_dict(sched.state_dict())
    sched.step(), sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr() == [pytest.approx(0.01)]
    lam = optim.lr_scheduler.LambdaLR(optim.SGD([w], lr=2.0), lambda e: 1 / (e + 1))
    lam.step()
    # as torch: a plain function is stored as None (a callable object by its attributes)
    assert lam.get_last_lr() == [1.0] and lam.state_dict()["lr_lambdas"] == [None]
    with pytest.raises(KeyError, match="initial_lr"):
        optim.lr_scheduler.StepLR(optim.SGD([w], lr=1.0), 2, last_epoch=3)
    assert math.isclose(optim.lr_scheduler.CosineAnnealingLR(
        optim.SGD([w], lr=1.0), T_max=4).get_last_lr()[0], 1.0)
