"""Optimizers and learning-rate schedules beside PyTorch (round 15): Adagrad's eagerly made
state, the dtype of 0-d state under a float64 default, capturable/fused refusals on the CPU,
and tensor learning rates filled in place by the schedules."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = [torch, minigrad]


def _params(lib, complex_too=False):
    """A (3, 4) float64 parameter, a 0-d one, a (5,) one (complex with ``complex_too``) and
    a (2,) one that never gets a gradient."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal(()), rng.standard_normal(5)]
    if complex_too:
        arrays[2] = arrays[2] + 1j * rng.standard_normal(5)
    arrays.append(rng.standard_normal(2))
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def _feed(lib, params, rng):
    """Gradients from ``rng`` for all but the last parameter."""
    for p in params[:-1]:
        g = rng.standard_normal(tuple(p.shape))
        if p.is_complex():
            g = g + 1j * rng.standard_normal(tuple(p.shape))
        p.grad = lib.tensor(g, dtype=p.dtype)


def _same_state_dict(ours, theirs):
    """Same keys in the same order, same entries, tensors of the same dtype/shape/values."""
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        mine = ours[key]
        if isinstance(value, torch.Tensor):
            assert str(mine.dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
            assert tuple(mine.shape) == tuple(value.shape), key
            np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=1e-12, atol=1e-14)
        elif isinstance(value, dict):
            _same_state_dict(mine, value)
        else:
            assert mine == value, key


# ------------------------------------------------------------------------------------------------
# Adagrad's state is made in its constructor
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("complex_too", [False, True])
def test_adagrad_state_lists_every_parameter_like_torch(complex_too):
    results = {}
    for lib in LIBS:
        params = _params(lib, complex_too)
        opt = lib.optim.Adagrad([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}],
                                lr_decay=0.1, initial_accumulator_value=0.5, weight_decay=0.1)
        built = opt.state_dict()
        rng = np.random.default_rng(1)
        for _ in range(4):
            opt.zero_grad()
            _feed(lib, params, rng)
            opt.step()
        results[lib.__name__] = built, opt.state_dict(), [p.detach().numpy() for p in params]
    (b0, s0, p0), (b1, s1, p1) = results["torch"], results["minigrad"]
    assert sorted(b1["state"]) == sorted(b0["state"]) == [0, 1, 2, 3]
    _same_state_dict(b1["state"], b0["state"])
    _same_state_dict(s1["state"], s0["state"])
    for ours, theirs in zip(p1, p0):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_adagrad_added_group_starts_from_the_constructors_accumulator_value():
    sums = []
    for lib in LIBS:
        x = lib.ones(2, requires_grad=True)
        y = lib.ones(3, requires_grad=True)
        opt = lib.optim.Adagrad([x], initial_accumulator_value=0.25)
        opt.add_param_group({"params": [y], "initial_accumulator_value": 2.0})
        x.grad, y.grad = lib.ones(2), lib.full((3,), 0.5)
        opt.step()
        sums.append((opt.state[y]["sum"].tolist(), y.tolist(), 0 in opt.state_dict()["state"]))
    assert sums[0] == sums[1]


# ------------------------------------------------------------------------------------------------
# 0-d state follows the default dtype (float32 for fused groups)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("Adam", {}), ("Adam", dict(fused=True)),
                                         ("AdamW", {}), ("NAdam", {}), ("RAdam", {}),
                                         ("ASGD", {}), ("Adagrad", {}),
                                         ("Adagrad", dict(fused=True)), ("Rprop", {}),
                                         ("RMSprop", {}), ("Adadelta", {}), ("Adamax", {})])
def test_scalar_state_dtype_under_a_float64_default(name, kwargs):
    dtypes = []
    for lib in LIBS:
        previous = lib.get_default_dtype()
        lib.set_default_dtype(lib.float64)
        try:
            x = lib.zeros(3, requires_grad=True)
            opt = getattr(lib.optim, name)([x], **kwargs)
            x.grad = lib.ones(3)
            opt.step()
            dtypes.append({k: str(v.dtype).split(".")[-1]
                           for k, v in opt.state_dict()["state"][0].items()})
        finally:
            lib.set_default_dtype(previous)
    assert dtypes[0] == dtypes[1]


# ------------------------------------------------------------------------------------------------
# capturable / fused refusals on the CPU
# ------------------------------------------------------------------------------------------------
def _step_outcome(lib, name, kwargs, dtype="float64"):
    """(exception type, message, whether the parameter moved) of one step."""
    x = lib.ones(3, dtype=getattr(lib, dtype), requires_grad=True)
    y = lib.ones(2, requires_grad=True)                          # never has a gradient
    opt = getattr(lib.optim, name)([x, y], **kwargs)
    x.grad = lib.ones(3, dtype=x.dtype)
    try:
        opt.step()
    except Exception as error:                      # noqa: BLE001 -- compared with torch's
        return type(error).__name__, str(error).replace("torch.", "minigrad."), \
            bool((x.detach() != 1).any())
    return None, None, bool((x.detach() != 1).any())


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop",
                                  "RMSprop", "Adadelta"])
def test_capturable_step_on_the_cpu_is_refused_like_torch(name):
    theirs = _step_outcome(torch, name, dict(capturable=True))
    ours = _step_outcome(minigrad, name, dict(capturable=True))
    assert theirs[0] == "AssertionError" and ours == theirs
    # with no gradient anywhere the step has nothing to check
    for lib in LIBS:
        getattr(lib.optim, name)([lib.ones(2, requires_grad=True)], capturable=True).step()


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adagrad", "SGD"])
@pytest.mark.parametrize("dtype", ["float64", "complex128", "complex64"])
def test_fused_step_with_complex_parameters_like_torch(name, dtype):
    kwargs = dict(fused=True, lr=0.1)
    theirs = _step_outcome(torch, name, kwargs, dtype)
    ours = _step_outcome(minigrad, name, kwargs, dtype)
    assert ours == theirs


def test_fused_adagrad_checks_the_first_parameter_then_refuses_complex_ones():
    outcomes = []
    for lib in LIBS:
        x = lib.ones(2, requires_grad=True)
        z = lib.ones(2, dtype=lib.complex64, requires_grad=True)
        opt = lib.optim.Adagrad([x, z], fused=True)
        x.grad, z.grad = lib.ones(2), lib.ones(2, dtype=lib.complex64)
        with pytest.raises(RuntimeError) as error:
            opt.step()
        outcomes.append((str(error.value), x.tolist()))
    assert outcomes[0] == outcomes[1]


def test_add_param_group_refusal_names_the_type_like_torch():
    messages = []
    for lib in LIBS:
        opt = lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1)
        with pytest.raises(TypeError) as error:
            opt.add_param_group([lib.ones(1, requires_grad=True)])
        messages.append(str(error.value))
    assert messages[0] == messages[1]


# ------------------------------------------------------------------------------------------------
# tensor learning rates under the schedules
# ------------------------------------------------------------------------------------------------
def _schedule(lib, name, opt):
    schedules = lib.optim.lr_scheduler
    return {
        "StepLR": lambda: schedules.StepLR(opt, 2, 0.5),
        "CosineAnnealingLR": lambda: schedules.CosineAnnealingLR(opt, 5),
        "CosineAnnealingWarmRestarts": lambda: schedules.CosineAnnealingWarmRestarts(opt, 3),
        "CyclicLR": lambda: schedules.CyclicLR(opt, 0.01, 0.1, step_size_up=2,
                                               cycle_momentum=False),
        "OneCycleLR": lambda: schedules.OneCycleLR(opt, 0.5, total_steps=8),
        "SequentialLR": lambda: schedules.SequentialLR(
            opt, [schedules.ConstantLR(opt, 0.5, total_iters=2),
                  schedules.ExponentialLR(opt, 0.9)], [3]),
        "ChainedScheduler": lambda: schedules.ChainedScheduler(
            [schedules.ConstantLR(opt, 0.5, total_iters=2), schedules.ExponentialLR(opt, 0.9)]),
        "ReduceLROnPlateau": lambda: schedules.ReduceLROnPlateau(opt, patience=0),
        "LinearLR": lambda: schedules.LinearLR(opt, 0.2, total_iters=3),
        "LambdaLR": lambda: schedules.LambdaLR(opt, lambda e: 0.9 ** e),
        "PolynomialLR": lambda: schedules.PolynomialLR(opt, 4, 2.0),
        "MultiplicativeLR": lambda: schedules.MultiplicativeLR(opt, lambda e: 0.9),
        "SWALR": lambda: lib.optim.swa_utils.SWALR(opt, 0.05, anneal_epochs=3),
    }[name]()


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
                                  "CyclicLR", "OneCycleLR", "SequentialLR", "ChainedScheduler",
                                  "ReduceLROnPlateau", "LinearLR", "LambdaLR", "PolynomialLR",
                                  "MultiplicativeLR", "SWALR"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tensor_lr_is_filled_in_place_and_recorded_rates_stay(name, dtype):
    runs = []
    for lib in LIBS:
        lr = lib.tensor(0.1, dtype=getattr(lib, dtype))
        opt = lib.optim.Adam([lib.zeros(2, requires_grad=True)], lr=lr)
        schedule = _schedule(lib, name, opt)
        recorded = []
        for _ in range(7):
            opt.step()
            schedule.step(1.0) if name == "ReduceLROnPlateau" else schedule.step()
            recorded.append(schedule.get_last_lr())   # kept: later steps must not change it
        group = opt.param_groups[0]
        runs.append(dict(
            rates=[[(type(r).__name__, str(getattr(r, "dtype", "")).split(".")[-1], float(r))
                    for r in rates] for rates in recorded],
            same_tensor=group["lr"] is lr, lr=float(lr),
            initial=float(group["initial_lr"]) if "initial_lr" in group else None))
    assert runs[1] == runs[0]


# ------------------------------------------------------------------------------------------------
# small things
# ------------------------------------------------------------------------------------------------
def test_adam_keeps_betas_as_a_tuple_of_scalars_like_torch():
    kept = []
    for lib in LIBS:
        row = []
        for name in ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"]:
            opt = getattr(lib.optim, name)([lib.zeros(2, requires_grad=True)], betas=[0.8, 0.9])
            row.append((type(opt.param_groups[0]["betas"]).__name__,
                        type(opt.state_dict()["param_groups"][0]["betas"]).__name__))
        opt = lib.optim.Adam([lib.zeros(2, requires_grad=True)],
                             betas=(lib.tensor([0.8]), lib.tensor([0.9])))
        row.append([tuple(b.shape) for b in opt.param_groups[0]["betas"]])
        kept.append(row)
    assert kept[0] == kept[1]


def test_step_pre_hook_with_a_bad_result_names_the_step_like_torch():
    messages = []
    for lib in LIBS:
        x = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([x], lr=0.1)
        opt.register_step_pre_hook(lambda *_: 5)
        x.grad = lib.ones(2)
        with pytest.raises(RuntimeError) as error:
            opt.step()
        message = str(error.value)
        messages.append((".step at " in message, message.split(">", 1)[1], x.tolist()))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LambdaLR", "CyclicLR",
                                  "CosineAnnealingWarmRestarts", "ReduceLROnPlateau",
                                  "LinearLR", "MultiplicativeLR"])
def test_a_group_added_after_the_schedule_like_torch(name):
    """Schedules whose rates come from their per-group lists refuse (zip, strict) once the
    optimizer has more groups; those that read every group go on."""
    runs = []
    for lib in LIBS:
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
        schedules = lib.optim.lr_scheduler
        schedule = {
            "StepLR": lambda: schedules.StepLR(opt, 2, 0.5),
            "CosineAnnealingLR": lambda: schedules.CosineAnnealingLR(opt, 4),
            "LambdaLR": lambda: schedules.LambdaLR(opt, lambda e: 0.5 ** e),
            "CyclicLR": lambda: schedules.CyclicLR(opt, 0.01, 0.1, step_size_up=2),
            "CosineAnnealingWarmRestarts": lambda: schedules.CosineAnnealingWarmRestarts(opt, 2),
            "ReduceLROnPlateau": lambda: schedules.ReduceLROnPlateau(opt, patience=0),
            "LinearLR": lambda: schedules.LinearLR(opt, 0.5, total_iters=3),
            "MultiplicativeLR": lambda: schedules.MultiplicativeLR(opt, lambda e: 0.9),
        }[name]()
        record = []
        for i in range(6):
            if i == 2:
                opt.add_param_group({"params": [lib.zeros(3, requires_grad=True)], "lr": 0.3})
            opt.step()
            try:
                schedule.step(1.0) if name == "ReduceLROnPlateau" else schedule.step()
            except ValueError as error:
                record.append(str(error))
                break
            record.append([float(g["lr"]) for g in opt.param_groups])
        runs.append(record)
    assert runs[0] == runs[1]


# ------------------------------------------------------------------------------------------------
# inf / nan gradients
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)),
                                         ("Adam", dict(amsgrad=True)), ("AdamW", {}),
                                         ("Adamax", {}), ("NAdam", {}), ("RAdam", {}),
                                         ("Adagrad", {}), ("Adadelta", {}),
                                         ("RMSprop", dict(centered=True)), ("Rprop", {}),
                                         ("ASGD", {})])
def test_inf_and_nan_gradients_step_silently_like_torch(name, kwargs):
    """No numpy RuntimeWarning escapes the step; the values (nan, inf, signed zeros) are
    PyTorch's, Rprop's included (its sign of a NaN gradient is 0: no move)."""
    grads = [np.array([0.0, np.inf, -np.inf, np.nan, 1e-30, -0.0]),
             np.array([0.0, 1.0, -1.0, 2.0, 1e30, 0.0]), np.zeros(6)]
    results = []
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0, -3.0, 0.5, 0.0, -0.0], dtype=lib.float64, requires_grad=True)
        z = lib.tensor(0.5, dtype=lib.float64, requires_grad=True)         # 0-d
        opt = getattr(lib.optim, name)([x, z], **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for g in grads:
                x.grad = lib.tensor(g, dtype=lib.float64)
                z.grad = lib.tensor(g[3], dtype=lib.float64)
                opt.step()
        results.append(np.append(x.detach().numpy(), z.detach().numpy()))
    theirs, ours = results
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


# ------------------------------------------------------------------------------------------------
# helper names that schedules written outside import from lr_scheduler
# ------------------------------------------------------------------------------------------------
def test_schedule_helpers_imported_by_third_party_code_work_like_torch():
    runs = []
    for lib in LIBS:
        schedules = lib.optim.lr_scheduler

        class Halving(schedules.LRScheduler):
            """A schedule with its own step, in the style that copies PyTorch's helpers."""

            def get_lr(self):
                schedules._warn_get_lr_called_within_step(self)
                return [base * 0.5 ** self.last_epoch for base in self.base_lrs]

            def step(self, epoch=None):
                self.last_epoch += 1
                with schedules._enable_get_lr_call(self):
                    values = self.get_lr()
                for group, lr in zip(self.optimizer.param_groups, values):
                    schedules._update_param_group_val(group, "lr", lr)
                self._last_lr = schedules._param_groups_val_list(self.optimizer, "lr")

        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=lib.tensor(0.8))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            schedule = Halving(opt)
            for _ in range(3):
                opt.step()
                schedule.step()
            schedule.get_lr()                                   # outside a step: warns
            exp = schedules.ExponentialLR(opt, 0.5)
            opt.step()
            exp.step(4)                                         # the deprecated epoch argument
        runs.append(dict(
            rates=[float(r) for r in schedule.get_last_lr()],
            warned=[str(w.message).startswith(schedules.EPOCH_DEPRECATION_WARNING) or
                    "get_last_lr()" in str(w.message) for w in caught],
            formatted=schedules._format_param("max_lr", opt, 0.1)))
    assert runs[0] == runs[1]
