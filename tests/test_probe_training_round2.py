"""Training utilities side by side with PyTorch (round 2): pad_sequence's padding_side error,
old weight_norm checkpoints loading into the parametrization, SequentialLR's restarts and
state, CosineAnnealingWarmRestarts' eta_min check, default_collate of mixed numbers, the
generic (subscriptable) data classes, a DataLoader's sampler over an IterableDataset."""
import copy
import importlib
import typing

import numpy as np
import pytest
import torch

import minigrad

LIBS = [torch, minigrad]


def _np(t):
    return t.detach().numpy()


def _raises(fn):
    """(exception type name, message) of what ``fn()`` raises."""
    try:
        fn()
    except Exception as e:          # noqa: BLE001  (the type is what is compared)
        return type(e).__name__, str(e)
    raise AssertionError("no exception")


# -- nn.utils.rnn ---------------------------------------------------------------------------------
def test_pad_sequence_bad_padding_side_is_a_runtime_error():
    got = [_raises(lambda: L.nn.utils.rnn.pad_sequence([L.ones(2), L.ones(3)],
                                                       padding_side="middle")) for L in LIBS]
    assert got[1] == got[0]


# -- parametrizations.weight_norm reading a checkpoint of the old hook -----------------------------
def _linear(L, seed=0):
    rng = np.random.default_rng(seed)
    m = L.nn.Linear(4, 3).double()
    with L.no_grad():
        for p in m.parameters():
            p.copy_(L.tensor(rng.standard_normal(tuple(p.shape))))
    return m


@pytest.mark.parametrize("dim", [0, 1, None])
def test_parametrized_weight_norm_loads_old_weight_norm_state_dict(dim):
    got = []
    for L in LIBS:
        with pytest.warns(FutureWarning):
            old = L.nn.utils.weight_norm(_linear(L), dim=dim)
        sd = old.state_dict()
        new = L.nn.utils.parametrizations.weight_norm(_linear(L, seed=1), dim=dim)
        new.load_state_dict(sd)
        x = L.tensor(np.random.default_rng(2).standard_normal((2, 4)))
        got.append((sorted(new.state_dict()), _np(new.weight), _np(new(x)),
                    _np(new.parametrizations.weight.original0)))
    assert got[1][0] == got[0][0]
    for ours, theirs in zip(got[1][1:], got[0][1:]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


# -- lr_scheduler ----------------------------------------------------------------------------------
def _optimizer(L):
    p, q = L.nn.Parameter(L.zeros(2)), L.nn.Parameter(L.zeros(1))
    return L.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.05}], lr=0.1)


_SEQUENTIAL = {
    "two": lambda S, o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=5),
                                           S.ExponentialLR(o, 0.9)], milestones=[5]),
    "three": lambda S, o: S.SequentialLR(o, [S.ConstantLR(o, 0.5, total_iters=3),
                                             S.CosineAnnealingLR(o, 10), S.StepLR(o, 2)],
                                         milestones=[4, 12]),
    "warm_restarts": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, 0.1, total_iters=3), S.CosineAnnealingWarmRestarts(o, 4, 2)],
        milestones=[3]),
    "milestone_0": lambda S, o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=3),
                                                   S.ExponentialLR(o, 0.9)], milestones=[0]),
}


def _scheduler_state(state):
    """A scheduler's state_dict with floats rounded (the inner schedules' states too)."""
    if isinstance(state, dict):
        return {k: _scheduler_state(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_scheduler_state(v) for v in state]
    return round(state, 12) if isinstance(state, float) else state


@pytest.mark.parametrize("name", list(_SEQUENTIAL))
def test_sequential_lr_rates_state_and_resume_match_torch(name):
    got = []
    for L in LIBS:
        S = L.optim.lr_scheduler
        opt = _optimizer(L)
        sched = _SEQUENTIAL[name](S, opt)
        rates = [sched.get_last_lr()]
        for _ in range(8):
            opt.step()
            sched.step()
            rates.append(sched.get_last_lr())
        state = copy.deepcopy(sched.state_dict())
        opt2 = _optimizer(L)
        sched2 = _SEQUENTIAL[name](S, opt2)
        sched2.load_state_dict(state)
        for _ in range(22):
            opt2.step()
            sched2.step()
            rates.append(sched2.get_last_lr())
        got.append((np.array(rates, dtype=float), _scheduler_state(state)))
    np.testing.assert_allclose(got[1][0], got[0][0], rtol=1e-12, atol=1e-15)
    assert got[1][1] == got[0][1]          # no _step_count of its own; inner counts alike


_NESTED = {
    "nested_sequential": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, 0.1, total_iters=3),
            S.SequentialLR(o, [S.ConstantLR(o, 0.5, total_iters=2), S.ExponentialLR(o, 0.9)],
                           milestones=[4])], milestones=[3]),
    "nested_chained": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, 0.1, total_iters=3),
            S.ChainedScheduler([S.ConstantLR(o, 0.5, total_iters=2), S.ExponentialLR(o, 0.9)])],
        milestones=[3]),
}


@pytest.mark.parametrize("name", list(_NESTED))
def test_sequential_lr_undoes_the_first_step_inside_nested_schedules(name):
    # up to the milestone (PyTorch cannot switch to a nested schedule: its get_lr raises)
    got = []
    for L in LIBS:
        opt = _optimizer(L)
        sched = _NESTED[name](L.optim.lr_scheduler, opt)
        rates = [sched.get_last_lr()]
        for _ in range(2):
            opt.step()
            sched.step()
            rates.append(sched.get_last_lr())
        got.append((np.array(rates, dtype=float), _scheduler_state(sched.state_dict())))
    np.testing.assert_allclose(got[1][0], got[0][0], rtol=1e-12, atol=1e-15)
    assert got[1][1] == got[0][1]


def test_cosine_warm_restarts_refuses_a_non_number_eta_min():
    got = [_raises(lambda: L.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        _optimizer(L), 4, eta_min="0.1")) for L in LIBS]
    assert got[1] == got[0]


# -- utils.data ------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [[1, 2.5], [1, 2.5, True], [True, 2], [2.5, 1], [True, False],
                                   [1, 2 ** 40]])
def test_default_collate_of_mixed_python_numbers_matches_torch(batch):
    got = []
    for L in LIBS:
        out = L.utils.data.default_collate(batch)
        got.append((str(out.dtype).split(".")[-1], _np(out).tolist()))
    assert got[1] == got[0]


def test_default_collate_of_mixed_numbers_in_dicts_follows_the_default_dtype():
    got = []
    for L in LIBS:
        old = L.get_default_dtype()
        L.set_default_dtype(L.float64)
        try:
            out = L.utils.data.default_collate([{"a": 1}, {"a": 0.25}])["a"]
        finally:
            L.set_default_dtype(old)
        got.append((str(out.dtype).split(".")[-1], _np(out).tolist()))
    assert got[1] == got[0]


_GENERIC = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset",
            "StackDataset", "ChainDataset", "Sampler", "SequentialSampler", "RandomSampler",
            "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader",
            "DistributedSampler"]


@pytest.mark.parametrize("name", _GENERIC)
def test_data_classes_are_generic_like_torch(name):
    got = []
    for L in LIBS:
        cls = getattr(L.utils.data, name)
        params = getattr(cls, "__parameters__", None)
        got.append((typing.Generic in cls.__mro__, None if params is None else len(params)))
    assert got[1] == got[0]


def test_typed_dataset_subclasses_work_in_a_loader():
    got = []
    for L in LIBS:
        D = L.utils.data

        class Squares(D.Dataset[typing.Tuple[float, int]]):
            def __len__(self):
                return 5

            def __getitem__(self, i):
                return float(i * i), i

        class Stream(D.IterableDataset[int]):
            def __iter__(self):
                return iter(range(5))

        class Backwards(D.Sampler[int]):
            def __iter__(self):
                return iter(range(4, -1, -1))

            def __len__(self):
                return 5

        loader = D.DataLoader(Squares(), batch_size=2, sampler=Backwards())
        got.append(([[_np(t).tolist() for t in b] for b in loader],
                    [_np(b).tolist() for b in D.DataLoader(Stream(), batch_size=2)]))
    assert got[1] == got[0]


def test_iterable_dataset_without_iter_cannot_be_made():
    got = []
    for L in LIBS:
        class NoIter(L.utils.data.IterableDataset):
            pass
        got.append(_raises(NoIter)[0])
    assert got[1] == got[0] == "TypeError"


@pytest.mark.parametrize("kwargs", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                    dict(batch_size=None)])
def test_loader_over_iterable_dataset_has_torchs_samplers(kwargs):
    got = []
    for L in LIBS:
        class Stream(L.utils.data.IterableDataset):
            def __iter__(self):
                return iter(np.arange(7.0))
        loader = L.utils.data.DataLoader(Stream(), **kwargs)
        bs = loader.batch_sampler
        got.append((type(loader.sampler).__name__, next(iter(loader.sampler)),
                    None if bs is None else (type(bs).__name__, bs.batch_size, bs.drop_last),
                    [_np(b).tolist() for b in loader]))
    assert got[1] == got[0]


# -- optim.optimizer: what third-party optimizers import and subclass ------------------------------
def _optimizer_module(L):
    return importlib.import_module(f"{L.__name__}.optim.optimizer")


def test_optimizer_without_step_refuses_to_step_like_torch():
    got = []
    for L in LIBS:
        class NoStep(L.optim.Optimizer):
            def __init__(self, params):
                super().__init__(params, {"lr": 0.1})
        got.append(_raises(NoStep([L.zeros(2, requires_grad=True)]).step))
    assert got[1] == got[0]


def _copied_optimizer(L):
    """An optimizer written the way third-party code copies PyTorch's: type aliases, the
    differentiable-step decorator, 0-d float 'step' state read with _get_value."""
    m = _optimizer_module(L)

    class DecayingSGD(m.Optimizer):
        def __init__(self, params: m.ParamsT, lr=0.1, differentiable=False):
            super().__init__(params, dict(lr=lr, differentiable=differentiable))

        @m._use_grad_for_differentiable
        def step(self, closure=None) -> m.StateDict:
            params = self.param_groups[0]["params"]
            fused, foreach = zip(m._default_to_fused_or_foreach(params, False),
                                 m._default_to_fused_or_foreach(params, False, use_fused=True),
                                 m._default_to_fused_or_foreach([], False),
                                 m._default_to_fused_or_foreach(params, True, use_fused=True))
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if "step" not in state:
                        state["step"] = L.tensor(0.0, dtype=m._get_scalar_dtype())
                    state["step"] += 1
                    p.add_(p.grad, alpha=-group["lr"] / m._get_value(state["step"]))
            return {"grad_enabled": L.is_grad_enabled(), "fused": fused, "foreach": foreach}
    return DecayingSGD


def test_optimizer_copied_from_torch_sources_runs_like_torch():
    got = []
    for L in LIBS:
        p = L.nn.Parameter(L.tensor(np.linspace(-1.0, 1.0, 5)))
        opt = _copied_optimizer(L)([p], lr=0.5)
        flags = []
        for _ in range(3):
            opt.zero_grad()
            (p ** 3).sum().backward()
            flags.append(opt.step())
        state = opt.state_dict()["state"][0]["step"]
        got.append((_np(p).tolist(), flags, str(state.dtype).split(".")[-1], state.item()))
    assert got[1] == got[0]


def test_batches_of_a_tensor_that_requires_grad_stay_in_its_graph():
    got = []
    for L in LIBS:
        x = L.tensor(np.linspace(0.0, 1.0, 6).reshape(6, 1), requires_grad=True)
        data = L.utils.data.Subset(L.utils.data.TensorDataset(x, L.arange(6.0)), [5, 1, 2, 0])
        rows = []
        for xb, yb in L.utils.data.DataLoader(data, batch_size=3):
            g, = L.autograd.grad((xb ** 3).sum(), xb)
            (xb ** 2).sum().backward()
            rows.append((xb.requires_grad, xb.is_leaf, yb.requires_grad, _np(g).tolist()))
        got.append((rows, _np(x.grad).tolist()))
    assert got[1] == got[0]


# -- nn.utils.clip_grad ---------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_of_complex_gradients_is_real(norm_type):
    got = []
    for L in LIBS:
        z = L.nn.Parameter(L.ones(2, dtype=L.complex64))
        z.grad = L.tensor([3 + 4j, 1 - 2j], dtype=L.complex64)
        r = L.nn.Parameter(L.ones(2))
        r.grad = L.tensor([0.5, -2.0])
        total = L.nn.utils.clip_grad_norm_([z, r], 1.0, norm_type=norm_type)
        got.append((str(total.dtype).split(".")[-1], _np(total), _np(z.grad), _np(r.grad)))
    assert got[1][0] == got[0][0]
    for ours, theirs in zip(got[1][1:], got[0][1:]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_loader_iterator_is_torchs_single_process_iterator():
    got = []
    for L in LIBS:
        module = importlib.import_module(f"{L.__name__}.utils.data.dataloader")
        it = iter(L.utils.data.DataLoader(L.utils.data.TensorDataset(L.arange(5)), batch_size=2))
        got.append((isinstance(it, module._BaseDataLoaderIter),
                    isinstance(it, module._SingleProcessDataLoaderIter), len(it)))
    assert got[1] == got[0]


def test_concat_dataset_cumsum_is_a_static_method_like_torch():
    got = []
    for L in LIBS:
        D = L.utils.data
        got.append((D.ConcatDataset.cumsum([[1, 2], [3], []]),
                    D.ConcatDataset([[1, 2], [3], [4, 5, 6]]).cumulative_sizes))
    assert got[1] == got[0]


def test_reduce_lr_on_plateau_subclass_hooks_match_torch():
    got = []
    for L in LIBS:
        class Logged(L.optim.lr_scheduler.ReduceLROnPlateau):
            def _reduce_lr(self, epoch):
                self.reduced_at = getattr(self, "reduced_at", []) + [epoch]
                super()._reduce_lr(epoch)
        sched = Logged(_optimizer(L), patience=0, factor=0.5)
        for metric in [1.0, 2.0, 3.0, 0.5, 0.6]:
            sched.step(metric)
        before = (sched.best, sched.num_bad_epochs)
        sched._reset()
        state = sched.state_dict()
        state["mode"] = "max"
        sched.load_state_dict(state)        # mode_worse follows the loaded mode
        got.append((sched.reduced_at, sched.get_last_lr(), before, sched.best,
                    sched.num_bad_epochs, list(sched.state_dict()), sched.mode_worse))
    assert got[1] == got[0]


@pytest.mark.parametrize("kwargs", [dict(multiprocessing_context="spawn"),
                                    dict(num_workers=1, multiprocessing_context="bogus"),
                                    dict(num_workers=1, multiprocessing_context=5)])
def test_loader_checks_multiprocessing_context_like_torch(kwargs):
    got = [_raises(lambda: L.utils.data.DataLoader([1, 2], **kwargs)) for L in LIBS]
    assert got[1] == got[0]



_NAMING = {
    "named_group_into_unnamed": lambda L, a, b: L.optim.SGD([a], lr=0.1).add_param_group(
        {"params": [("b", b)]}),
    "unnamed_group_into_named": lambda L, a, b: L.optim.SGD([("a", a)], lr=0.1).add_param_group(
        {"params": [b]}),
    "mixed_in_one_group": lambda L, a, b: L.optim.SGD([b, ("a", a)], lr=0.1),
    "mixed_groups": lambda L, a, b: L.optim.SGD([{"params": [("a", a)]}, {"params": [b]}],
                                                 lr=0.1),
}


@pytest.mark.parametrize("case", list(_NAMING))
def test_named_and_unnamed_parameters_do_not_mix_like_torch(case):
    got = []
    for L in LIBS:
        a, b = L.nn.Parameter(L.ones(2)), L.nn.Parameter(L.zeros(3))
        got.append(_raises(lambda: _NAMING[case](L, a, b)))
    assert got[1] == got[0]


# -- differentiable=True (every optimizer that has the flag): the steps are recorded in the graph --
_DIFFERENTIABLE = [
    ("SGD", dict(lr=0.1), 3),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1, maximize=True), 3),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), 3),
    ("Adam", dict(lr=0.1), 3),
    ("Adam", dict(lr=0.1, maximize=True, weight_decay=0.1, decoupled_weight_decay=True), 3),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1), 1),
    ("AdamW", dict(lr=0.1), 3),
    ("AdamW", dict(lr=0.1, amsgrad=True, maximize=True), 1),
    ("RMSprop", dict(lr=0.1), 3),
    ("RMSprop", dict(lr=0.1, momentum=0.9), 3),
    ("RMSprop", dict(lr=0.1, momentum=0.5, centered=True, weight_decay=0.1, maximize=True), 1),
    ("Adagrad", dict(lr=0.1), 3),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5,
                     maximize=True), 3),
    ("Adadelta", dict(lr=1.0), 3),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True), 3),
    ("Adamax", dict(lr=0.1), 1),
    ("Adamax", dict(lr=0.1, weight_decay=0.1, maximize=True), 1),
    ("NAdam", dict(lr=0.1), 3),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, maximize=True, momentum_decay=0.01), 3),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True), 3),
    ("RAdam", dict(lr=0.1), 8),             # (the rectified step from the 6th on)
    ("RAdam", dict(lr=0.1, betas=(0.5, 0.6), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True), 3),
    ("ASGD", dict(lr=0.1), 5),
    ("ASGD", dict(lr=0.1, t0=1, lambd=0.01, alpha=0.5, weight_decay=0.1, maximize=True), 3),
    ("Rprop", dict(lr=0.1), 1),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.01, 0.2), maximize=True), 1),
]


def _differentiable_run(L, name, kwargs, steps):
    """Steps of a differentiable optimizer on a non-leaf parameter (a function of w) with
    given gradients; then the gradient of a loss of the result w.r.t. w and the gradients."""
    rng = np.random.default_rng(0)
    w = L.tensor(rng.standard_normal(4), requires_grad=True)
    grads = [L.tensor(rng.standard_normal(4), requires_grad=True) for _ in range(steps)]
    p = w.clone()
    opt = getattr(L.optim, name)([p], differentiable=True, **kwargs)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    loss = (p ** 2).sum()
    state = opt.state[p]
    if steps > 1:     # (PyTorch cannot go back through several steps of some of the states)
        for key in ("momentum_buffer", "exp_avg", "exp_avg_sq", "square_avg", "sum"):
            if key in state:
                loss = loss + (state[key] ** 2).sum() * 0.5
    loss.backward()
    return (_np(p), _np(w.grad), [None if g.grad is None else _np(g.grad) for g in grads],
            {k: (str(v.dtype).split(".")[-1], v.requires_grad, _np(v)) for k, v in state.items()})


@pytest.mark.parametrize("name,kwargs,steps", _DIFFERENTIABLE)
def test_differentiable_optimizer_steps_and_gradients_match_torch(name, kwargs, steps):
    theirs = _differentiable_run(torch, name, kwargs, steps)
    ours = _differentiable_run(minigrad, name, kwargs, steps)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-10, atol=1e-12)
    assert [g is None for g in ours[2]] == [g is None for g in theirs[2]]
    for g, tg in zip(ours[2], theirs[2]):
        if tg is not None:
            np.testing.assert_allclose(g, tg, rtol=1e-10, atol=1e-12)
    assert {k: v[:2] for k, v in ours[3].items()} == {k: v[:2] for k, v in theirs[3].items()}
    for key, value in theirs[3].items():
        np.testing.assert_allclose(ours[3][key][2], value[2], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                  "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"])
def test_differentiable_optimizer_on_leaf_parameters_refuses_like_torch(name):
    got = []
    for L in LIBS:
        p = L.nn.Parameter(L.ones(3))
        opt = getattr(L.optim, name)([p], lr=0.1, differentiable=True)
        (p ** 2).sum().backward()
        got.append(_raises(opt.step))
    assert got[1][0] == got[0][0] and got[1][1].startswith(got[0][1])    # (ours adds a hint)


def test_non_leaf_that_retains_grad_can_be_optimized_like_torch():
    got = []
    for L in LIBS:
        w = L.tensor([1.0, 2.0], requires_grad=True)
        p = w * 2
        p.retain_grad()
        opt = L.optim.SGD([p], lr=0.1)
        (p ** 2).sum().backward()
        opt.step()
        got.append((_np(p).tolist(), _np(p.grad).tolist(), _raises(
            lambda: L.optim.SGD([w * 3], lr=0.1))))
    assert got[1] == got[0]


def test_base_sampler_iteration_is_not_implemented_like_torch():
    got = [_raises(lambda: iter(L.utils.data.Sampler()))[0] for L in LIBS]
    assert got[1] == got[0] == "NotImplementedError"


def test_weight_norm_class_apply_warns_and_removes_like_torch():
    got = []
    for L in LIBS:
        module = importlib.import_module(f"{L.__name__}.nn.utils.weight_norm")
        layer = _linear(L)
        with pytest.warns(FutureWarning, match="weight_norm` is deprecated"):
            fn = module.WeightNorm.apply(layer, "weight", 0)
        keys = sorted(layer.state_dict())
        weight = _np(fn.compute_weight(layer))
        fn.remove(layer)
        got.append((keys, weight, sorted(layer.state_dict()), _np(layer.weight)))
    assert got[1][0] == got[0][0] and got[1][2] == got[0][2]
    np.testing.assert_allclose(got[1][1], got[0][1], rtol=1e-12)
    np.testing.assert_allclose(got[1][3], got[0][3], rtol=1e-12)


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_state_dict_keys_in_pytorchs_order(three_phase):
    """A checkpoint's scheduler state lists its keys in PyTorch's order (code that zips or
    prints them sees the same)."""
    keys = []
    for lib in (minigrad, torch):
        opt = lib.optim.SGD(lib.nn.Linear(2, 2).parameters(), 0.1)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, 1.0, total_steps=10,
                                                  three_phase=three_phase)
        keys.append(list(sched.state_dict()))
    assert keys[0] == keys[1]
