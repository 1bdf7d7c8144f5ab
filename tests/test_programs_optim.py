"""Optimizer and learning-rate-scheduler programs, run on minigrad and on PyTorch.

Each ``program(lib)`` drives an optimizer of ``lib.optim`` over several steps with the same
numpy gradients (set on ``.grad`` directly), with per-group options, ``add_param_group``,
``state_dict`` round trips in the middle of training, closures and tensor learning rates, or a
scheduler of ``lib.optim.lr_scheduler`` over epochs; it returns the parameters, the optimizer's
state and hyper-parameters and ``get_last_lr()`` after each step.  Both libraries must give the
same values, or raise the same exception type with torch's words, and warn alike.
"""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import Raised, SideBySide, dotted, err, registry  # noqa: E402,F401


HARNESS = SideBySide(rename=dotted, rename_error=dotted,
                     tol={"float32": 1e-5, "float64": 1e-9}, scalar_tol=(1e-9, 1e-12),
                     first_line=True)
PROGRAMS, program = registry()


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape)


GRADS = [(_rand(3, 2, seed=10 + i), _rand(2, seed=20 + i)) for i in range(6)]


def _params(lib, dtype="float64"):
    dt = getattr(lib, dtype)
    w = lib.nn.Parameter(lib.tensor(_rand(3, 2, seed=1), dtype=dt))
    b = lib.nn.Parameter(lib.tensor(_rand(2, seed=2), dtype=dt))
    return w, b


def _set_grads(lib, params, i):
    for p, g in zip(params, GRADS[i % len(GRADS)]):
        p.grad = lib.tensor(g, dtype=p.dtype)


def _state(opt):
    """The optimizer's state in the state_dict layout, 'step' made a float for both."""
    sd = opt.state_dict()
    out = {}
    for k, st in sd["state"].items():
        out[k] = {n: (v if not hasattr(v, "shape") or v.dim() else float(v))
                  for n, v in sorted(st.items())}
    groups = [{n: v for n, v in sorted(g.items())} for g in sd["param_groups"]]
    return dict(state=out, groups=groups)


def _run(lib, make, steps=4, dtype="float64"):
    w, b = _params(lib, dtype)
    opt = make(lib, [w, b])
    res = {}
    for i in range(steps):
        _set_grads(lib, (w, b), i)
        opt.step()
        res[f"w{i}"] = w.detach().clone()
        res[f"b{i}"] = b.detach().clone()
    res["state"] = _state(opt)
    return res


def _optprog(name, make, steps=4, dtype="float64", **options):
    def prog(lib):
        return _run(lib, make, steps, dtype)
    prog.__name__ = name
    program(**options)(prog)


O = lambda lib: lib.optim  # noqa: E731

# ----------------------------------------------------------------------------------------------
# optimizers over several steps: values, state and param_groups
# ----------------------------------------------------------------------------------------------
_optprog("sgd_nesterov_wd", lambda lib, p: O(lib).SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                                     weight_decay=0.01))
_optprog("sgd_dampening_maximize", lambda lib, p: O(lib).SGD(p, lr=0.05, momentum=0.5,
                                                            dampening=0.3, maximize=True))
_optprog("sgd_plain_float32", lambda lib, p: O(lib).SGD(p, lr=0.1), dtype="float32")
_optprog("adam_amsgrad_wd", lambda lib, p: O(lib).Adam(p, lr=0.01, amsgrad=True,
                                                      weight_decay=0.1, betas=(0.8, 0.95)))
_optprog("adam_maximize", lambda lib, p: O(lib).Adam(p, lr=0.01, maximize=True, eps=1e-6))
_optprog("adam_float32", lambda lib, p: O(lib).Adam(p, lr=0.01), dtype="float32")
_optprog("adamw_amsgrad", lambda lib, p: O(lib).AdamW(p, lr=0.02, amsgrad=True,
                                                     weight_decay=0.05))
_optprog("adamw_default", lambda lib, p: O(lib).AdamW(p))
_optprog("rmsprop_centered_momentum", lambda lib, p: O(lib).RMSprop(
    p, lr=0.01, alpha=0.9, centered=True, momentum=0.8, weight_decay=0.01))
_optprog("rmsprop_plain", lambda lib, p: O(lib).RMSprop(p, lr=0.01, maximize=True))
_optprog("adagrad_lr_decay_init", lambda lib, p: O(lib).Adagrad(
    p, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.5, weight_decay=0.1))
_optprog("adamax_wd", lambda lib, p: O(lib).Adamax(p, lr=0.02, weight_decay=0.1,
                                                  betas=(0.85, 0.99)))
_optprog("nadam_decoupled", lambda lib, p: O(lib).NAdam(
    p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, momentum_decay=0.006))
_optprog("nadam_coupled", lambda lib, p: O(lib).NAdam(p, lr=0.01, weight_decay=0.1))
_optprog("radam_decoupled", lambda lib, p: O(lib).RAdam(
    p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), steps=7)
_optprog("radam_coupled", lambda lib, p: O(lib).RAdam(p, lr=0.01, weight_decay=0.1), steps=7)
_optprog("adadelta_wd", lambda lib, p: O(lib).Adadelta(p, lr=0.5, rho=0.8, weight_decay=0.1))
_optprog("adadelta_maximize", lambda lib, p: O(lib).Adadelta(p, maximize=True))
_optprog("asgd_t0", lambda lib, p: O(lib).ASGD(p, lr=0.05, lambd=0.01, alpha=0.5, t0=2,
                                              weight_decay=0.01), steps=5)
_optprog("rprop_etas", lambda lib, p: O(lib).Rprop(p, lr=0.02, etas=(0.4, 1.3),
                                                  step_sizes=(1e-4, 0.05)), steps=6)
_optprog("rprop_maximize", lambda lib, p: O(lib).Rprop(p, maximize=True), steps=5)
_optprog("adafactor_default", lambda lib, p: O(lib).Adafactor(p, lr=0.01))
_optprog("adafactor_wd_beta2", lambda lib, p: O(lib).Adafactor(p, lr=0.02, beta2_decay=-0.5,
                                                              weight_decay=0.1, maximize=True))


def _quad(lib, params):
    """A fixed quadratic in the parameters, for closures."""
    w, b = params
    A = lib.tensor(_rand(2, 3, seed=5), dtype=w.dtype)
    return ((A @ w - 1.0) ** 2).sum() + (b ** 2 * lib.tensor([1.0, 3.0], dtype=b.dtype)).sum()


@program
def lbfgs_closure_strong_wolfe(lib):
    res = {}
    for ls in (None, "strong_wolfe"):
        w, b = _params(lib)
        opt = lib.optim.LBFGS([w, b], lr=0.5, max_iter=5, history_size=3, line_search_fn=ls)
        calls = [0]

        def closure():
            calls[0] += 1
            opt.zero_grad()
            loss = _quad(lib, (w, b))
            loss.backward()
            return loss
        losses = [float(opt.step(closure)) for _ in range(3)]
        res[str(ls)] = dict(losses=losses, w=w.detach().clone(), b=b.detach().clone(),
                            calls=calls[0], n_iter=opt.state[opt._params[0]]["n_iter"],
                            func_evals=opt.state[opt._params[0]]["func_evals"])
    return res


@program
def lbfgs_without_closure(lib):
    w, b = _params(lib)
    opt = lib.optim.LBFGS([w, b])
    return err(lambda: opt.step())


@program
def closure_returned_by_step(lib):
    res = {}
    for name in ("SGD", "Adam", "RMSprop", "Adagrad", "Rprop", "NAdam"):
        w, b = _params(lib)
        opt = getattr(lib.optim, name)([w, b], lr=0.01)

        def closure():
            opt.zero_grad()
            loss = _quad(lib, (w, b))
            loss.backward()
            return loss
        out = opt.step(closure)
        res[name] = (out, w.detach().clone())
    return res


# ----------------------------------------------------------------------------------------------
# groups, add_param_group, zero_grad
# ----------------------------------------------------------------------------------------------
@program
def per_group_options_and_add_group(lib):
    w, b = _params(lib)
    extra = lib.nn.Parameter(lib.tensor(_rand(2, seed=9)))
    opt = lib.optim.Adam([{"params": [w], "lr": 0.1, "betas": (0.5, 0.6)},
                          {"params": b, "weight_decay": 0.2}], lr=0.01, amsgrad=True)
    res = {}
    for i in range(2):
        _set_grads(lib, (w, b), i)
        opt.step()
    opt.add_param_group({"params": extra, "lr": 0.3})
    for i in range(2, 4):
        _set_grads(lib, (w, b), i)
        extra.grad = lib.tensor(GRADS[i][1])
        opt.step()
    res.update(w=w, b=b, extra=extra, state=_state(opt))
    res["dup"] = err(lambda: opt.add_param_group({"params": [w]}))
    res["nonleaf"] = err(lambda: opt.add_param_group({"params": [w * 2]}))
    res["set"] = err(lambda: opt.add_param_group({"params": {extra}}))
    return res


@program
def duplicate_params_warn(lib):
    w, b = _params(lib)
    opt = lib.optim.SGD([w, w, b], lr=0.1)
    return len(opt.param_groups[0]["params"])


@program
def param_errors(lib):
    w, b = _params(lib)
    return dict(
        empty=err(lambda: lib.optim.SGD([], lr=0.1)),
        tensor=err(lambda: lib.optim.SGD(w, lr=0.1)),
        neg_lr=err(lambda: lib.optim.SGD([w], lr=-0.1)),
        neg_mom=err(lambda: lib.optim.SGD([w], lr=0.1, momentum=-1)),
        nesterov=err(lambda: lib.optim.SGD([w], lr=0.1, nesterov=True)),
        nesterov_damp=err(lambda: lib.optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.1,
                                                nesterov=True)),
        neg_wd=err(lambda: lib.optim.SGD([w], lr=0.1, weight_decay=-1)),
        adam_beta=err(lambda: lib.optim.Adam([w], betas=(1.0, 0.9))),
        adam_beta2=err(lambda: lib.optim.Adam([w], betas=(0.9, -0.1))),
        adam_eps=err(lambda: lib.optim.Adam([w], eps=-1e-8)),
        adam_lr=err(lambda: lib.optim.Adam([w], lr=-1)),
        adamw_wd=err(lambda: lib.optim.AdamW([w], weight_decay=-0.1)),
        rms_alpha=err(lambda: lib.optim.RMSprop([w], alpha=-0.1)),
        rms_mom=err(lambda: lib.optim.RMSprop([w], momentum=-0.1)),
        adagrad_lrd=err(lambda: lib.optim.Adagrad([w], lr_decay=-0.1)),
        adagrad_init=err(lambda: lib.optim.Adagrad([w], initial_accumulator_value=-0.1)),
        adadelta_rho=err(lambda: lib.optim.Adadelta([w], rho=1.5)),
        adamax_beta=err(lambda: lib.optim.Adamax([w], betas=(0.9, 1.0))),
        nadam_md=err(lambda: lib.optim.NAdam([w], momentum_decay=-0.1)),
        radam_beta=err(lambda: lib.optim.RAdam([w], betas=(-0.1, 0.9))),
        rprop_etas=err(lambda: lib.optim.Rprop([w], etas=(1.2, 0.5))),
        asgd_wd=err(lambda: lib.optim.ASGD([w], weight_decay=-1)),
        adafactor_lr=err(lambda: lib.optim.Adafactor([w], lr=-1.0)),
        adafactor_beta2=err(lambda: lib.optim.Adafactor([w], beta2_decay=0.5)),
    )


@program
def sparse_adam_errors(lib):
    w, b = _params(lib)
    res = dict(
        eps=err(lambda: lib.optim.SparseAdam([w], eps=0.0)),
        beta=err(lambda: lib.optim.SparseAdam([w], betas=(1.0, 0.9))),
        lr=err(lambda: lib.optim.SparseAdam([w], lr=-1.0)),
    )
    opt = lib.optim.SparseAdam([w], lr=0.01)
    w.grad = lib.tensor(GRADS[0][0])
    res["dense"] = err(lambda: opt.step())
    return res


@program
def zero_grad_modes(lib):
    w, b = _params(lib)
    opt = lib.optim.SGD([w, b], lr=0.1)
    res = {}
    _set_grads(lib, (w, b), 0)
    g = w.grad
    opt.zero_grad(set_to_none=False)
    res["zeroed"] = w.grad
    res["same_obj"] = w.grad is g
    opt.zero_grad()
    res["none"] = w.grad is None and b.grad is None
    res["step_no_grad"] = err(lambda: opt.step())
    res["w"] = w
    return res


@program
def tensor_lr(lib):
    res = {}
    for name in ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam",
                 "Adadelta", "ASGD", "Rprop", "Adafactor"):
        w, b = _params(lib)
        kw = dict(momentum=0.9) if name in ("SGD", "RMSprop") else {}
        kw.update(weight_decay=0.1) if name in ("Adam", "AdamW", "NAdam", "RAdam") else None
        opt = getattr(lib.optim, name)([w, b], lr=lib.tensor(0.01), **kw)
        for i in range(3):
            _set_grads(lib, (w, b), i)
            opt.step()
        res[name] = (w.detach().clone(), opt.param_groups[0]["lr"])
    return res


@program
def tensor_lr_errors(lib):
    w, b = _params(lib)
    return dict(
        **{name: err(lambda: getattr(lib.optim, name)([w], lr=lib.tensor([0.1, 0.2])))
           for name in ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adamax", "NAdam",
                        "RAdam", "Adadelta", "ASGD", "Rprop", "Adafactor", "SparseAdam",
                        "LBFGS")},
        one_elem=len(lib.optim.SGD([w], lr=lib.tensor([0.1])).param_groups),
    )


# ----------------------------------------------------------------------------------------------
# state_dict round trips in the middle of training
# ----------------------------------------------------------------------------------------------
def _resume(lib, make, steps=2, more=2):
    w, b = _params(lib)
    opt = make(lib, [w, b])
    for i in range(steps):
        _set_grads(lib, (w, b), i)
        opt.step()
    sd = opt.state_dict()
    w2 = lib.nn.Parameter(w.detach().clone())
    b2 = lib.nn.Parameter(b.detach().clone())
    opt2 = make(lib, [w2, b2])
    opt2.load_state_dict(sd)
    for i in range(steps, steps + more):
        _set_grads(lib, (w, b), i)
        _set_grads(lib, (w2, b2), i)
        opt.step()
        opt2.step()
    return dict(w=w, w2=w2, b2=b2, state=_state(opt2),
                keys=sorted(sd["param_groups"][0].keys()),
                same_state=[sorted(v.keys()) for v in sd["state"].values()])


def _resprog(name, make):
    def prog(lib):
        return _resume(lib, make)
    prog.__name__ = name
    program(prog)


_resprog("resume_sgd", lambda lib, p: O(lib).SGD(p, lr=0.1, momentum=0.9, nesterov=True))
_resprog("resume_adam", lambda lib, p: O(lib).Adam(p, lr=0.01, amsgrad=True))
_resprog("resume_adamw", lambda lib, p: O(lib).AdamW(p, lr=0.01))
_resprog("resume_rmsprop", lambda lib, p: O(lib).RMSprop(p, lr=0.01, centered=True,
                                                        momentum=0.5))
_resprog("resume_adagrad", lambda lib, p: O(lib).Adagrad(p, lr=0.1, lr_decay=0.1))
_resprog("resume_adamax", lambda lib, p: O(lib).Adamax(p))
_resprog("resume_nadam", lambda lib, p: O(lib).NAdam(p))
_resprog("resume_radam", lambda lib, p: O(lib).RAdam(p))
_resprog("resume_adadelta", lambda lib, p: O(lib).Adadelta(p))
_resprog("resume_asgd", lambda lib, p: O(lib).ASGD(p, t0=1))
_resprog("resume_rprop", lambda lib, p: O(lib).Rprop(p))
_resprog("resume_adafactor", lambda lib, p: O(lib).Adafactor(p))
_resprog("resume_lbfgs_params", lambda lib, p: O(lib).SGD(p, lr=0.1))


@program
def load_state_dict_errors(lib):
    w, b = _params(lib)
    opt = lib.optim.Adam([w, b])
    _set_grads(lib, (w, b), 0)
    opt.step()
    sd = opt.state_dict()
    other = lib.optim.Adam([w])
    two = lib.optim.Adam([{"params": [w]}, {"params": [b]}])
    return dict(size=err(lambda: other.load_state_dict(sd)),
                groups=err(lambda: two.load_state_dict(sd)))


@program
def load_state_dict_changes_lr(lib):
    w, b = _params(lib)
    opt = lib.optim.SGD([w, b], lr=0.1, momentum=0.9)
    _set_grads(lib, (w, b), 0)
    opt.step()
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.5
    opt2 = lib.optim.SGD([w, b], lr=0.01, momentum=0.9)
    opt2.load_state_dict(sd)
    _set_grads(lib, (w, b), 1)
    opt2.step()
    return dict(w=w, lr=opt2.param_groups[0]["lr"], orig=opt.param_groups[0]["lr"],
                buf=opt2.state[w]["momentum_buffer"])


@program
def state_dtype_cast_on_load(lib):
    w, b = _params(lib, "float32")
    opt = lib.optim.Adam([w, b])
    _set_grads(lib, (w, b), 0)
    opt.step()
    sd = opt.state_dict()
    w2 = lib.nn.Parameter(w.detach().double())
    b2 = lib.nn.Parameter(b.detach().double())
    opt2 = lib.optim.Adam([w2, b2])
    opt2.load_state_dict(sd)
    st = opt2.state[w2]
    return dict(exp_avg=st["exp_avg"].dtype, step=st["step"].dtype, step_v=float(st["step"]))


# ----------------------------------------------------------------------------------------------
# schedulers
# ----------------------------------------------------------------------------------------------
def _sgd(lib, lr=0.1, **kw):
    w, b = _params(lib)
    return lib.optim.SGD([{"params": [w]}, {"params": [b], "lr": lr * 2}], lr=lr,
                         momentum=0.9, **kw), (w, b)


def _drive(lib, opt, params, sch, n, metrics=None):
    lrs = []
    for i in range(n):
        _set_grads(lib, params, i)
        opt.step()
        if metrics is not None:
            sch.step(metrics[i])
        else:
            sch.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    return lrs


def _epoch(sch):
    """A scheduler's last_epoch; ChainedScheduler keeps none of its own (each scheduler it
    chains counts its own steps)."""
    if hasattr(sch, "last_epoch"):
        return sch.last_epoch
    return [s.last_epoch for s in sch._schedulers]


def _schedprog(name, make, n=10, mom=False, **options):
    def prog(lib):
        opt, params = _sgd(lib)
        sch = make(lib.optim.lr_scheduler, opt)
        res = dict(init=[g["lr"] for g in opt.param_groups], last0=sch.get_last_lr())
        lrs, last = [], []
        for i in range(n):
            _set_grads(lib, params, i)
            opt.step()
            sch.step()
            lrs.append([g["lr"] for g in opt.param_groups])
            last.append(sch.get_last_lr())
            if mom:
                res.setdefault("mom", []).append(opt.param_groups[0]["momentum"])
        res.update(lrs=lrs, last=last, epoch=_epoch(sch), w=params[0])
        sd = sch.state_dict()
        res["keys"] = sorted(k for k in sd if not k.startswith("_"))
        opt2, _ = _sgd(lib)
        sch2 = make(lib.optim.lr_scheduler, opt2)
        sch2.load_state_dict(sd)
        res["loaded_epoch"] = _epoch(sch2)
        res["loaded_last"] = sch2.get_last_lr()
        return res
    prog.__name__ = name
    program(**options)(prog)


_schedprog("steplr", lambda S, o: S.StepLR(o, step_size=3, gamma=0.5))
_schedprog("multisteplr_repeat", lambda S, o: S.MultiStepLR(o, milestones=[2, 2, 5], gamma=0.1))
_schedprog("exponential", lambda S, o: S.ExponentialLR(o, gamma=0.7))
_schedprog("cosine_past_tmax", lambda S, o: S.CosineAnnealingLR(o, T_max=4, eta_min=0.01), n=12)
_schedprog("cawr_tmult", lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3,
                                                                    eta_min=0.001), n=12)
_schedprog("linear_lr", lambda S, o: S.LinearLR(o, start_factor=0.25, end_factor=0.9,
                                                total_iters=4))
_schedprog("constant_lr", lambda S, o: S.ConstantLR(o, factor=0.3, total_iters=3))
_schedprog("polynomial", lambda S, o: S.PolynomialLR(o, total_iters=5, power=0.5))
_schedprog("lambda_lr_groups", lambda S, o: S.LambdaLR(o, [lambda e: 1 / (e + 1),
                                                          lambda e: 0.9 ** e]))
_schedprog("multiplicative", lambda S, o: S.MultiplicativeLR(o, lambda e: 0.95))
_schedprog("onecycle_cos", lambda S, o: S.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=12,
                                                     pct_start=0.25, div_factor=10,
                                                     final_div_factor=100), n=12, mom=True)
_schedprog("onecycle_linear_three", lambda S, o: S.OneCycleLR(
    o, max_lr=0.5, epochs=3, steps_per_epoch=4, anneal_strategy="linear", three_phase=True,
    base_momentum=0.8, max_momentum=0.95), n=12, mom=True)
_schedprog("onecycle_no_mom", lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=10,
                                                        cycle_momentum=False), mom=True)
_schedprog("cyclic_triangular", lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                        step_size_up=2, step_size_down=3),
           n=12, mom=True)
_schedprog("cyclic_exp_range", lambda S, o: S.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1,
                                                       step_size_up=3, mode="exp_range",
                                                       gamma=0.95, scale_mode="iterations"),
           n=12, mom=True)
_schedprog("cyclic_scale_fn", lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2,
                                                      scale_fn=lambda x: 0.5 ** x,
                                                      cycle_momentum=False), n=10)
_schedprog("sequential", lambda S, o: S.SequentialLR(
    o, [S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, gamma=0.8),
        S.StepLR(o, 2)], milestones=[3, 6]), n=10)
_schedprog("chained", lambda S, o: S.ChainedScheduler([S.LinearLR(o, 0.5, total_iters=3),
                                                       S.StepLR(o, 2, gamma=0.5)]), n=8)


@program
def reduce_on_plateau_modes(lib):
    res = {}
    metrics = [1.0, 0.99, 0.995, 0.98, 0.985, 0.99, 0.97, 0.971, 0.975, 0.96, 0.965, 0.97,
               0.99, 0.99, 0.99]
    for mode, tmode, thr, cooldown, min_lr in [("min", "rel", 1e-2, 0, 0.0),
                                               ("min", "abs", 0.01, 1, 0.02),
                                               ("max", "rel", 1e-3, 0, [0.01, 0.05]),
                                               ("max", "abs", 0.0, 2, 0.0)]:
        opt, params = _sgd(lib)
        sch = lib.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=mode, factor=0.5, patience=1, threshold=thr, threshold_mode=tmode,
            cooldown=cooldown, min_lr=min_lr, eps=1e-3)
        lrs = _drive(lib, opt, params, sch, len(metrics), metrics)
        key = f"{mode}_{tmode}_{cooldown}"
        res[key] = lrs
        res[key + "_last"] = sch.get_last_lr()
        res[key + "_best"] = sch.best
        res[key + "_bad"] = sch.num_bad_epochs
        sd = sch.state_dict()
        opt2, _ = _sgd(lib)
        sch2 = lib.optim.lr_scheduler.ReduceLROnPlateau(opt2, mode=mode)
        sch2.load_state_dict(sd)
        res[key + "_loaded"] = (sch2.best, sch2.patience, sch2.cooldown_counter, sch2.last_epoch)
    res["tensor_metric"] = err(lambda: sch.step(lib.tensor(0.5)))
    return res


@program
def reduce_on_plateau_errors(lib):
    opt, _ = _sgd(lib)
    S = lib.optim.lr_scheduler
    return dict(
        factor=err(lambda: S.ReduceLROnPlateau(opt, factor=1.0)),
        mode=err(lambda: S.ReduceLROnPlateau(opt, mode="avg")),
        tmode=err(lambda: S.ReduceLROnPlateau(opt, threshold_mode="pct")),
        min_lr=err(lambda: S.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2, 0.3])),
    )


@program
def scheduler_errors(lib):
    opt, _ = _sgd(lib)
    S = lib.optim.lr_scheduler
    return dict(
        not_opt=err(lambda: S.StepLR(object(), 2)),
        linear_start=err(lambda: S.LinearLR(opt, start_factor=0.0)),
        linear_end=err(lambda: S.LinearLR(opt, end_factor=1.5)),
        constant=err(lambda: S.ConstantLR(opt, factor=1.5)),
        lambda_n=err(lambda: S.LambdaLR(opt, [lambda e: 1.0])),
        cawr_t0=err(lambda: S.CosineAnnealingWarmRestarts(opt, T_0=0)),
        cawr_tmult=err(lambda: S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0)),
        cawr_tmult_f=err(lambda: S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5)),
        onecycle_none=err(lambda: S.OneCycleLR(opt, max_lr=0.1)),
        onecycle_total=err(lambda: S.OneCycleLR(opt, max_lr=0.1, total_steps=0)),
        onecycle_epochs=err(lambda: S.OneCycleLR(opt, max_lr=0.1, epochs=0,
                                                 steps_per_epoch=2)),
        onecycle_pct=err(lambda: S.OneCycleLR(opt, max_lr=0.1, total_steps=5, pct_start=1.5)),
        onecycle_anneal=err(lambda: S.OneCycleLR(opt, max_lr=0.1, total_steps=5,
                                                 anneal_strategy="exp")),
        onecycle_maxlr=err(lambda: S.OneCycleLR(opt, max_lr=[0.1], total_steps=5)),
        cyclic_mode=err(lambda: S.CyclicLR(opt, 0.01, 0.1, mode="sine")),
        seq_milestones=err(lambda: S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 3)],
                                                  milestones=[1, 2])),
    )


@program
def onecycle_past_total(lib):
    opt, params = _sgd(lib)
    sch = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=3)
    _drive(lib, opt, params, sch, 3)
    return err(lambda: sch.step())


@program
def cyclic_momentum_without_momentum(lib):
    w, b = _params(lib)
    opt = lib.optim.Adam([w, b], lr=0.01)
    S = lib.optim.lr_scheduler
    res = dict(cyc=err(lambda: S.CyclicLR(opt, 0.01, 0.1)))
    opt2 = lib.optim.Adam([w, b], lr=0.01, betas=(0.9, 0.99))
    sch = S.OneCycleLR(opt2, max_lr=0.1, total_steps=6)
    lrs = _drive(lib, opt2, (w, b), sch, 5)
    res.update(lrs=lrs, betas=opt2.param_groups[0]["betas"],
               keys=sorted(opt2.param_groups[0].keys()))
    opt3 = lib.optim.SGD([w], lr=0.1)
    res["sgd_nomom"] = err(lambda: S.OneCycleLR(opt3, max_lr=0.1, total_steps=6))
    return res


@program
def scheduler_before_optimizer_warns(lib):
    opt, params = _sgd(lib)
    sch = lib.optim.lr_scheduler.StepLR(opt, 2)
    sch.step()
    return [g["lr"] for g in opt.param_groups]


@program
def scheduler_epoch_argument_deprecated(lib):
    opt, params = _sgd(lib)
    sch = lib.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
    _set_grads(lib, params, 0)
    opt.step()
    sch.step(5)
    return dict(lr=[g["lr"] for g in opt.param_groups], last=sch.get_last_lr(),
                epoch=sch.last_epoch)


@program
def cawr_fractional_epoch(lib):
    opt, params = _sgd(lib)
    sch = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for e in [0.5, 1.0, 2.5, 3.0, 4.7, 9.5, 20.0]:
            _set_grads(lib, params, 0)
            opt.step()
            sch.step(e)
            out.append((sch.get_last_lr(), sch.T_cur, sch.T_i))
    return out


@program
def last_epoch_resume_requires_initial_lr(lib):
    opt, _ = _sgd(lib)
    S = lib.optim.lr_scheduler
    res = dict(missing=err(lambda: S.StepLR(opt, 2, last_epoch=3)))
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    sch = S.StepLR(opt, 2, gamma=0.5, last_epoch=3)
    res["lr"] = [g["lr"] for g in opt.param_groups]
    res["last"] = sch.get_last_lr()
    res["keys"] = sorted(opt.param_groups[0].keys())
    return res


@program
def scheduler_with_tensor_lr(lib):
    w, b = _params(lib)
    opt = lib.optim.Adam([w, b], lr=lib.tensor(0.1))
    sch = lib.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for i in range(3):
        _set_grads(lib, (w, b), i)
        opt.step()
        sch.step()
    return dict(lr=opt.param_groups[0]["lr"], last=sch.get_last_lr(), w=w,
                lr_is_tensor=isinstance(opt.param_groups[0]["lr"], lib.Tensor))


@program
def two_schedulers_stack(lib):
    opt, params = _sgd(lib)
    S = lib.optim.lr_scheduler
    a = S.ExponentialLR(opt, gamma=0.9)
    b = S.MultiStepLR(opt, [2, 4], gamma=0.1)
    out = []
    for i in range(6):
        _set_grads(lib, params, i)
        opt.step()
        a.step()
        b.step()
        out.append((a.get_last_lr(), b.get_last_lr()))
    return out


@program
def optimizer_state_dict_layout(lib):
    w, b = _params(lib)
    opt = lib.optim.RMSprop([{"params": [w]}, {"params": [b], "momentum": 0.5}], lr=0.01)
    res = dict(before=opt.state_dict())
    _set_grads(lib, (w, b), 0)
    opt.step()
    sd = opt.state_dict()
    res["after"] = _state(opt)
    res["step_type"] = type(sd["state"][0]["step"]).__name__
    res["step_dtype"] = sd["state"][0]["step"].dtype
    res["repr"] = repr(opt)
    return res


@program
def get_lr_outside_step_warns(lib):
    opt, params = _sgd(lib)
    sch = lib.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
    return sch.get_lr()


@program
def plateau_epoch_argument(lib):
    opt, params = _sgd(lib)
    sch = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    _set_grads(lib, params, 0)
    opt.step()
    sch.step(1.0, 3)
    sch.step(2.0)
    return dict(lr=sch.get_last_lr(), epoch=sch.last_epoch, bad=sch.num_bad_epochs)


@program
def optimizer_step_overridden_warns(lib):
    opt, params = _sgd(lib)
    sch = lib.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    opt.step = lambda closure=None: None
    opt.step()
    sch.step()
    return sch.get_last_lr()


@program
def nested_schedulers_other_optimizer(lib):
    opt, _ = _sgd(lib)
    opt2, _ = _sgd(lib)
    S = lib.optim.lr_scheduler
    return dict(
        seq=err(lambda: S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt2, 2)], [2])),
        chain=err(lambda: S.ChainedScheduler([S.StepLR(opt, 2), S.StepLR(opt2, 2)])),
        seq_opt=err(lambda: S.SequentialLR(opt2, [S.StepLR(opt, 2), S.StepLR(opt, 2)], [2])),
        seq_plateau=err(lambda: S.SequentialLR(opt, [S.StepLR(opt, 2),
                                                     S.ReduceLROnPlateau(opt)], [2])),
        chain_opt=err(lambda: S.ChainedScheduler([S.StepLR(opt, 2)], optimizer=opt2)),
    )


@program(rtol=1e-7)     # torch computes with the float32 betas tensors (ulps of float32)
def betas_int_and_tensor(lib):
    w, b = _params(lib)
    res = dict(int_beta=err(lambda: lib.optim.Adam([w], betas=(0, 0.99))),
               mixed=err(lambda: lib.optim.Adam([w], betas=(lib.tensor(0.9), 0.99))))
    opt = lib.optim.Adam([w, b], betas=(lib.tensor(0.8), lib.tensor(0.9)), lr=0.01)
    for i in range(3):
        _set_grads(lib, (w, b), i)
        opt.step()
    res.update(w=w, betas=opt.param_groups[0]["betas"])
    return res


@program
def resume_optimizer_and_scheduler_checkpoint(lib):
    S = lib.optim.lr_scheduler

    def make(params):
        opt = lib.optim.AdamW(params, lr=0.05, weight_decay=0.1)
        sch = S.SequentialLR(opt, [S.LinearLR(opt, 0.1, total_iters=2),
                                   S.CosineAnnealingLR(opt, T_max=5, eta_min=1e-3)], [2])
        return opt, sch
    w, b = _params(lib)
    opt, sch = make([w, b])
    lrs = []
    for i in range(3):
        _set_grads(lib, (w, b), i)
        opt.step()
        sch.step()
    ckpt = dict(opt=opt.state_dict(), sch=sch.state_dict())
    w2, b2 = lib.nn.Parameter(w.detach().clone()), lib.nn.Parameter(b.detach().clone())
    opt2, sch2 = make([w2, b2])
    opt2.load_state_dict(ckpt["opt"])
    sch2.load_state_dict(ckpt["sch"])
    for i in range(3, 6):
        for ws, o, s in (((w, b), opt, sch), ((w2, b2), opt2, sch2)):
            _set_grads(lib, ws, i)
            o.step()
            s.step()
        lrs.append((sch.get_last_lr(), sch2.get_last_lr()))
    return dict(lrs=lrs, w=w, w2=w2, lr2=opt2.param_groups[0]["lr"],
                init=opt2.param_groups[0]["initial_lr"])


@program
def named_parameters_state_dict(lib):
    m = lib.nn.Linear(2, 2).double()
    with lib.no_grad():
        m.weight.copy_(lib.tensor(_rand(2, 2, seed=3)))
        m.bias.copy_(lib.tensor(_rand(2, seed=4)))
    opt = lib.optim.SGD(m.named_parameters(), lr=0.1, momentum=0.9)
    m(lib.tensor(_rand(3, 2, seed=5))).sum().backward()
    opt.step()
    sd = opt.state_dict()
    return dict(groups=sd["param_groups"], state=_state(opt), w=m.weight)


@program
def lambda_lr_state_dict_callable(lib):
    class Decay:
        def __init__(self, r):
            self.r = r

        def __call__(self, e):
            return self.r ** e
    opt, params = _sgd(lib)
    sch = lib.optim.lr_scheduler.LambdaLR(opt, [Decay(0.5), lambda e: 1.0 / (1 + e)])
    _drive(lib, opt, params, sch, 3)
    sd = sch.state_dict()
    opt2, _ = _sgd(lib)
    sch2 = lib.optim.lr_scheduler.LambdaLR(opt2, [Decay(0.9), lambda e: 1.0])
    sch2.load_state_dict(sd)
    return dict(lambdas=sd["lr_lambdas"], r=sch2.lr_lambdas[0].r, last=sch2.get_last_lr(),
                keys=sorted(sd))


@program
def lbfgs_state_and_tolerances(lib):
    w, b = _params(lib)
    opt = lib.optim.LBFGS([w, b], lr=1, max_iter=20, tolerance_grad=1e-3,
                          tolerance_change=1e-6, history_size=4)

    def closure():
        opt.zero_grad()
        loss = _quad(lib, (w, b))
        loss.backward()
        return loss
    loss = opt.step(closure)
    st = opt.state_dict()["state"][0]
    return dict(loss=loss, w=w, b=b, n_iter=st["n_iter"], evals=st["func_evals"],
                hist=len(st["old_dirs"]), keys=sorted(st),
                groups=opt.state_dict()["param_groups"],
                multi=err(lambda: lib.optim.LBFGS([{"params": [w]}, {"params": [b]}])))


@program
def scheduler_zero_total_iters(lib):
    S = lib.optim.lr_scheduler
    res = {}
    for name, make in (("linear", lambda o: S.LinearLR(o, 0.5, total_iters=0)),
                       ("constant", lambda o: S.ConstantLR(o, 0.5, total_iters=0)),
                       ("poly", lambda o: S.PolynomialLR(o, total_iters=0))):
        opt, params = _sgd(lib)
        sch = err(lambda: make(opt)) if name == "poly" else make(opt)
        if name == "poly":
            res[name] = sch
            continue
        res[name] = [sch.get_last_lr()] + _drive(lib, opt, params, sch, 2)
    return res


@program
def add_param_group_after_scheduler(lib):
    opt, params = _sgd(lib)
    S = lib.optim.lr_scheduler
    sch = S.StepLR(opt, 1, gamma=0.5)
    plateau = S.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0, 0.01])
    plateau_default = S.ReduceLROnPlateau(opt, patience=0)
    extra = lib.nn.Parameter(lib.tensor(_rand(2, seed=7)))
    opt.add_param_group({"params": [extra], "lr": 0.3})
    res = {}
    _set_grads(lib, params, 0)
    extra.grad = lib.tensor(GRADS[0][1])
    opt.step()
    sch.step()
    res["step"] = [g["lr"] for g in opt.param_groups]
    res["last"] = sch.get_last_lr()
    res["keys"] = sorted(opt.param_groups[2].keys())
    plateau_default.step(1.0)
    plateau_default.step(2.0)
    res["plateau_default"] = plateau_default.get_last_lr()
    res["plateau"] = err(lambda: (plateau.step(1.0), plateau.step(2.0)))
    return res


@program
def zero_grad_of_graph_grad(lib):
    w, b = _params(lib)
    opt = lib.optim.SGD([w, b], lr=0.1)
    loss = (w ** 3).sum()
    loss.backward(create_graph=True)
    res = dict(grad_fn=w.grad.grad_fn is not None)
    opt.zero_grad(set_to_none=False)
    res.update(zero=w.grad, has_fn=w.grad.grad_fn is not None, rg=w.grad.requires_grad)
    return res


@program(rtol=1e-3)
def half_params(lib):
    res = {}
    for name in ("SGD", "Adam"):
        w = lib.nn.Parameter(lib.tensor(_rand(4, seed=1), dtype=lib.float16))
        opt = getattr(lib.optim, name)([w], lr=0.01)
        w.grad = lib.tensor(_rand(4, seed=2), dtype=lib.float16)
        opt.step()
        res[name] = (w.detach().double(), w.dtype,
                     {k: v.dtype for k, v in opt.state[w].items()})
    return res


@program
def scheduler_state_dict_keys_values(lib):
    S = lib.optim.lr_scheduler
    res = {}
    for name, make in (("step", lambda o: S.StepLR(o, 2)),
                       ("cos", lambda o: S.CosineAnnealingLR(o, 5)),
                       ("cawr", lambda o: S.CosineAnnealingWarmRestarts(o, 2, 2)),
                       ("plateau", lambda o: S.ReduceLROnPlateau(o)),
                       ("poly", lambda o: S.PolynomialLR(o, 4)),
                       ("onecycle", lambda o: S.OneCycleLR(o, 1.0, total_steps=10))):
        opt, params = _sgd(lib)
        sch = make(opt)
        _set_grads(lib, params, 0)
        opt.step()
        sch.step(1.0) if name == "plateau" else sch.step()
        sd = sch.state_dict()
        res[name] = {k: sd[k] for k in sorted(sd)       # (attribute order aside)
                     if not callable(sd[k]) and k not in ("_get_lr_called_within_step",)}
    return res


@program
def epoch_argument_closed_forms(lib):
    S = lib.optim.lr_scheduler
    res = {}
    for name, make in (("step", lambda o: S.StepLR(o, 2, gamma=0.5)),
                       ("multistep", lambda o: S.MultiStepLR(o, [1, 3], gamma=0.5)),
                       ("exp", lambda o: S.ExponentialLR(o, 0.8)),
                       ("cos", lambda o: S.CosineAnnealingLR(o, 6, eta_min=0.01)),
                       ("linear", lambda o: S.LinearLR(o, 0.2, total_iters=4)),
                       ("constant", lambda o: S.ConstantLR(o, 0.5, total_iters=3)),
                       ("poly", lambda o: S.PolynomialLR(o, 5, power=2.0))):
        opt, params = _sgd(lib)
        sch = make(opt)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in (2, 5, 1, 3):
                _set_grads(lib, params, 0)
                opt.step()
                sch.step(e)
                out.append(sch.get_last_lr())
        res[name] = out
    return res


@program
def manual_lr_change_then_schedule(lib):
    S = lib.optim.lr_scheduler
    res = {}
    for name, make in (("step", lambda o: S.StepLR(o, 1, gamma=0.5)),
                       ("cos", lambda o: S.CosineAnnealingLR(o, 4)),
                       ("lambda", lambda o: S.LambdaLR(o, lambda e: 0.5 ** e)),
                       ("mult", lambda o: S.MultiplicativeLR(o, lambda e: 0.5))):
        opt, params = _sgd(lib)
        sch = make(opt)
        lrs = _drive(lib, opt, params, sch, 2)
        for g in opt.param_groups:
            g["lr"] = 1.0
        lrs += _drive(lib, opt, params, sch, 2)
        res[name] = lrs
    return res


@program
def cyclic_lr_with_adam_betas(lib):
    w, b = _params(lib)
    opt = lib.optim.Adam([w, b], lr=0.01)
    sch = lib.optim.lr_scheduler.CyclicLR(opt, 0.001, 0.01, step_size_up=2,
                                          base_momentum=0.8, max_momentum=0.9)
    out = []
    for i in range(5):
        _set_grads(lib, (w, b), i)
        opt.step()
        sch.step()
        out.append((sch.get_last_lr(), opt.param_groups[0]["betas"]))
    return dict(out=out, w=w, keys=sorted(opt.param_groups[0]))


@program
def optimizer_defaults_every_kind(lib):
    w, b = _params(lib)
    res = {}
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam",
                 "Adadelta", "ASGD", "Rprop", "Adafactor", "SparseAdam", "LBFGS"):
        opt = getattr(lib.optim, name)([w, b], lr=0.01)
        res[name] = dict(defaults=dict(sorted(opt.defaults.items())),
                         keys=sorted(opt.param_groups[0]))
    return res


@program
def foreach_fused_flags(lib):
    w, b = _params(lib)
    res = dict(
        tensor_lr_foreach=err(lambda: lib.optim.Adam([w], lr=lib.tensor(0.01), foreach=True)),
        fused_foreach=err(lambda: lib.optim.Adam([w], fused=True, foreach=True)),
    )
    for flag in ("foreach", "fused"):
        w2, b2 = _params(lib)
        opt = lib.optim.AdamW([w2, b2], lr=0.01, **{flag: True})
        for i in range(2):
            _set_grads(lib, (w2, b2), i)
            opt.step()
        res[flag] = w2
    return res


@program
def plateau_inf_nan_metrics(lib):
    opt, params = _sgd(lib)
    sch = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    out = []
    for m in (float("inf"), 1.0, float("nan"), float("nan"), 0.5, float("nan"), float("nan")):
        _set_grads(lib, params, 0)
        opt.step()
        sch.step(m)
        out.append((sch.get_last_lr(), sch.num_bad_epochs, sch.best))
    return out


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program_matches_torch(program):
    HARNESS.check(program)
