"""Training-script probes against PyTorch: custom autograd.Function arguments given by keyword
or left to their defaults, optimizers loading state dicts from releases without the newer
flags, Adagrad on sparse (embedding) gradients, the DataLoader's iterator length, the RNG
state as a uint8 tensor (and seeds PyTorch accepts), anomaly mode's warning."""
import io
import warnings

import numpy as np
import pytest
import torch

import minigrad

LIBS = [torch, minigrad]


def _np(t):
    return t.detach().numpy()


# -- autograd.Function.apply: keywords and defaults -----------------------------------------------
def _setup_context_function(L):
    class Scale(L.autograd.Function):
        @staticmethod
        def forward(x, k=2.0):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.n_inputs = len(inputs)
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None
    return Scale


@pytest.mark.parametrize("kwargs", [{}, {"k": 4.0}])
def test_setup_context_sees_defaults_and_keywords(kwargs):
    got = []
    for L in LIBS:
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = _setup_context_function(L).apply(x, **kwargs)
        y.sum().backward()
        got.append((_np(y).tolist(), _np(x.grad).tolist(), y.grad_fn.n_inputs))
    assert got[0] == got[1]


def test_ctx_forward_tensor_given_by_keyword_is_an_input():
    got = []
    for L in LIBS:
        class Double(L.autograd.Function):
            @staticmethod
            def forward(ctx, x, scale=1.0):
                return x * 2 * scale

            @staticmethod
            def backward(ctx, g):
                return g * 2, None
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = Double.apply(x=x)
        y.sum().backward()
        got.append((y.requires_grad, _np(x.grad).tolist()))
    assert got[0] == got[1] == (True, [2.0, 2.0])


# -- optimizers: state dicts of older releases ----------------------------------------------------
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                  "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"])
def test_load_state_dict_fills_missing_flags(name):
    groups, params = [], []
    for L in LIBS:
        w = L.nn.Parameter(L.ones(2))
        opt = getattr(L.optim, name)([w], lr=0.1)
        group = {k: v for k, v in opt.state_dict()["param_groups"][0].items()
                 if k in ("lr", "params", "betas", "eps", "weight_decay", "momentum",
                          "dampening", "alpha", "lr_decay", "initial_accumulator_value",
                          "rho", "lambd", "t0", "etas", "step_sizes", "momentum_decay")}
        opt.load_state_dict({"state": {}, "param_groups": [group]})
        w.grad = L.full((2,), 0.5)
        opt.step()
        loaded = opt.param_groups[0]
        groups.append({k: loaded[k] for k in ("amsgrad", "maximize", "foreach", "capturable",
                                              "differentiable", "decoupled_weight_decay",
                                              "nesterov", "centered") if k in loaded})
        params.append(_np(w))
    assert groups[0] == groups[1]
    np.testing.assert_allclose(params[1], params[0], rtol=1e-5)


# -- Adagrad with sparse gradients ----------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(lr=0.1),
                                    dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.2,
                                         maximize=True),
                                    dict(weight_decay=0.1)])
def test_adagrad_sparse_embedding(kwargs):
    got = []
    for L in LIBS:
        emb = L.nn.Embedding(5, 2, sparse=True)
        with L.no_grad():
            emb.weight.copy_(L.arange(10.0).reshape(5, 2) / 10)
        opt = L.optim.Adagrad(emb.parameters(), **kwargs)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for _ in range(3):
                    opt.zero_grad()
                    (emb(L.tensor([1, 3, 1])) ** 2).sum().backward()
                    opt.step()
        except RuntimeError as e:
            got.append(str(e))
            continue
        state = opt.state[emb.weight]
        got.append((_np(emb.weight), _np(state["sum"]), float(state["step"])))
    if isinstance(got[0], str):
        assert got[0] == got[1]
        return
    for a, b in zip(got[0], got[1]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)


# -- DataLoader -----------------------------------------------------------------------------------
@pytest.mark.parametrize("drop_last", [False, True])
def test_dataloader_iterator_has_len(drop_last):
    got = []
    for L in LIBS:
        loader = L.utils.data.DataLoader(range(10), batch_size=4, drop_last=drop_last)
        it = iter(loader)
        first = next(it).tolist()
        got.append((len(it), first, len(list(it))))
    assert got[0] == got[1]


# -- random number generator state ----------------------------------------------------------------
def test_rng_state_is_a_byte_tensor_that_restores():
    got = []
    for L in LIBS:
        L.manual_seed(5)
        state = L.get_rng_state()
        a = L.rand(4)
        L.manual_seed(9)
        L.set_rng_state(state)
        b = L.rand(4)
        g = L.Generator().manual_seed(3)
        gs = g.get_state()
        c = L.randn(3, generator=g)
        g.set_state(gs)
        d = L.randn(3, generator=g)
        got.append((str(state.dtype).split(".")[-1], tuple(state.shape), state.requires_grad,
                    bool((a == b).all()), L.initial_seed(), str(gs.dtype).split(".")[-1],
                    bool((c == d).all()), state.clone().equal(state)))
    assert got[0] == got[1]


def test_rng_state_survives_a_checkpoint():
    minigrad.manual_seed(0)
    buf = io.BytesIO()
    minigrad.save({"rng": minigrad.get_rng_state()}, buf)
    expected = minigrad.rand(3)
    buf.seek(0)
    minigrad.set_rng_state(minigrad.load(buf)["rng"])
    assert minigrad.rand(3).equal(expected)


@pytest.mark.parametrize("bad", ["list", "float", "short"])
def test_set_rng_state_errors(bad):
    errors = []
    for L in LIBS:
        value = {"list": [1, 2], "float": L.ones(3),
                 "short": L.zeros(3, dtype=L.uint8)}[bad]
        with pytest.raises((TypeError, RuntimeError)) as info:
            L.set_rng_state(value)
        errors.append((info.type, str(info.value).replace("torch.", "minigrad.")))
    assert errors[0] == errors[1]


@pytest.mark.parametrize("seed", [-1, -2 ** 63, 2 ** 64 - 1])
def test_manual_seed_range(seed):
    assert [L.manual_seed(seed).initial_seed() for L in LIBS] == [torch.initial_seed()] * 2


def test_manual_seed_overflow():
    for L in LIBS:
        with pytest.raises(ValueError, match="Overflow when unpacking long long"):
            L.manual_seed(2 ** 64)


# -- anomaly mode ---------------------------------------------------------------------------------
def test_detect_anomaly_warns_when_enabled():
    messages = []
    for L in LIBS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with L.autograd.detect_anomaly():
                pass
        messages.append([str(w.message) for w in caught])
    assert messages[0] == messages[1] and len(messages[0]) == 1


@pytest.mark.parametrize("name", ["batch_size", "sampler", "drop_last", "dataset"])
def test_dataloader_refuses_changes_after_init(name):
    errors = []
    for L in LIBS:
        loader = L.utils.data.DataLoader(range(10), batch_size=4)
        with pytest.raises(ValueError) as info:
            setattr(loader, name, getattr(loader, name))
        errors.append(str(info.value))
    assert errors[0] == errors[1]


# -- hooks over several tensors, callbacks at the end of backward ---------------------------------
def test_register_multi_grad_hook_all_and_any():
    got = []
    for L in LIBS:
        x = L.ones(2, requires_grad=True)
        z = L.ones(2, requires_grad=True)
        seen = []
        handle = L.autograd.graph.register_multi_grad_hook(
            (x, z), lambda grads: seen.append([None if g is None else _np(g).tolist()
                                               for g in grads]))
        (x * 2 + z * 3).sum().backward()
        (x * 2).sum().backward()
        handle.remove()
        (x * 2).sum().backward()
        a = L.ones(2, requires_grad=True)
        b = a * 2
        L.autograd.graph.register_multi_grad_hook(
            (b,), lambda g: seen.append(("any", _np(g).tolist())), mode="any")
        (b * 3).sum().backward()
        with pytest.raises(ValueError) as info:
            L.autograd.graph.register_multi_grad_hook((x,), print, mode="bad")
        got.append((seen, str(info.value)))
    assert got[0] == got[1]


def test_queue_callback_runs_after_accumulation():
    got = []
    for L in LIBS:
        seen = []
        x = L.ones(2, requires_grad=True)
        engine = L.autograd.Variable._execution_engine
        x.register_hook(lambda g: engine.queue_callback(lambda: seen.append(_np(x.grad).tolist())))
        (x * 2).sum().backward()
        with pytest.raises(RuntimeError) as info:
            engine.queue_callback(lambda: None)
        got.append((seen, str(info.value)))
    assert got[0] == got[1]


# -- optimizer state written by older releases: plain-number 'step' (and scalars) ----------------
@pytest.mark.parametrize("name,entries", [
    ("Adam", {"step": 3, "exp_avg": "T", "exp_avg_sq": "T"}),
    ("AdamW", {"step": 3.0, "exp_avg": "T", "exp_avg_sq": "T"}),
    ("RMSprop", {"step": 2, "square_avg": "T"}),
    ("Adagrad", {"step": 2, "sum": "T"}),
    ("NAdam", {"step": 2, "exp_avg": "T", "exp_avg_sq": "T", "mu_product": 0.9}),
    ("Adamax", {"step": 2, "exp_avg": "T", "exp_inf": "T"}),
    ("RAdam", {"step": 2, "exp_avg": "T", "exp_avg_sq": "T"}),
    ("Adadelta", {"step": 2, "square_avg": "T", "acc_delta": "T"}),
    ("ASGD", {"step": 2, "eta": 0.01, "mu": 1.0, "ax": "T"}),
    ("Rprop", {"step": 2, "prev": "T", "step_size": "T"}),
])
def test_load_state_with_number_step(name, entries):
    got = []
    for L in LIBS:
        w = L.nn.Parameter(L.ones(2))
        opt = getattr(L.optim, name)([w], lr=0.1)
        sd = opt.state_dict()
        sd["state"] = {0: {k: (L.full((2,), 0.5) if v == "T" else v)
                           for k, v in entries.items()}}
        opt.load_state_dict(sd)
        w.grad = L.ones(2)
        opt.step()
        state = opt.state[w]
        got.append((_np(w), {k: (type(v).__name__, str(v.dtype).split(".")[-1],
                                 _np(v).tolist()) for k, v in state.items()}))
    np.testing.assert_allclose(got[1][0], got[0][0], rtol=1e-5)
    assert got[0][1].keys() == got[1][1].keys()
    for k in got[0][1]:
        assert got[0][1][k][:2] == got[1][1][k][:2], k
        np.testing.assert_allclose(got[1][1][k][2], got[0][1][k][2], rtol=1e-5)


# -- utils.checkpoint helpers that training code imports ------------------------------------------
def test_checkpoint_helpers():
    got = []
    for L in LIBS:
        C = L.utils.checkpoint
        x = L.ones(2, requires_grad=True)
        a, b, c = C.detach_variable((x, 3, L.ones(1)))
        with pytest.raises(RuntimeError) as info:
            C.detach_variable([x])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            C.check_backward_validity((L.ones(1), 2))
        policy = C.create_selective_checkpoint_contexts
        with C.set_checkpoint_debug_enabled(True), pytest.raises(ValueError) as debug_info:
            C.checkpoint(lambda t: t * 2, x, use_reentrant=False,
                         context_fn=lambda: policy(lambda *args, **kw: None))
        with C.set_checkpoint_debug_enabled(False), C.set_checkpoint_early_stop(False):
            y = C.checkpoint(lambda t: (t * 2).sin(), x, use_reentrant=False,
                             context_fn=lambda: policy(
                                 lambda ctx, op, *args, **kw: C.CheckpointPolicy.MUST_SAVE))
            y.sum().backward()
        z = C.checkpoint(lambda t: t * 3, x, use_reentrant=True, context_fn=C.noop_context_fn)
        got.append((a.requires_grad, a.is_leaf, b, c.requires_grad, str(info.value),
                    str(debug_info.value),
                    [str(w.message) for w in caught], _np(x.grad).round(5).tolist(),
                    z.requires_grad, issubclass(C.CheckpointError, RuntimeError),
                    [(p.name, p.value) for p in C.CheckpointPolicy]))
    assert got[0] == got[1]


# -- save/load keeps one object for a tensor met twice --------------------------------------------
def test_save_load_keeps_tensor_identity():
    got = []
    for L in LIBS:
        p = L.nn.Parameter(L.ones(2))
        x = L.arange(3.0).requires_grad_()
        buf = io.BytesIO()
        L.save({"a": [p, p, x], "b": x, "c": {"p": p}, "d": x.detach()}, buf)
        buf.seek(0)
        d = L.load(buf)
        got.append((d["a"][0] is d["a"][1], d["a"][0] is d["c"]["p"],
                    type(d["a"][0]).__name__, d["a"][2] is d["b"], d["b"].requires_grad,
                    d["d"] is d["b"], d["d"].requires_grad, _np(d["b"]).tolist()))
    assert got[0] == got[1]


@pytest.mark.parametrize("name", ["custom", "SparseAdam"])
def test_load_state_keeps_number_step_elsewhere(name):
    got = []
    for L in LIBS:
        class Custom(L.optim.Optimizer):
            def __init__(self, params):
                super().__init__(params, dict(lr=0.1))

            def step(self, closure=None):
                pass
        w = L.nn.Parameter(L.ones(2))
        opt = Custom([w]) if name == "custom" else L.optim.SparseAdam([w])
        sd = opt.state_dict()
        sd["state"] = {0: {"step": 4, "exp_avg": L.zeros(2), "exp_avg_sq": L.zeros(2)}}
        opt.load_state_dict(sd)
        got.append(type(opt.state[w]["step"]).__name__)
    assert got[0] == got[1] == "int"


# -- vmap: out_dims=None on an output that depends on the batch -----------------------------------
def test_vmap_out_dims_none_refuses_batched_output():
    got = []
    for L in LIBS:
        const = L.ones(2)
        ok = L.func.vmap(lambda x: (x * 2, const), out_dims=(0, None))(L.ones(3, 2))
        with pytest.raises(ValueError) as info:
            L.func.vmap(lambda x: x * 2, out_dims=None)(L.arange(3.0))
        got.append((_np(ok[0]).tolist(), _np(ok[1]).tolist(),
                    str(info.value).replace("torch", "minigrad")))
    assert got[0] == got[1]


# -- pickling a tensor that has views (multiprocessing, DataLoader workers, joblib) ---------------
def test_pickle_and_deepcopy_tensor_with_views_and_attributes():
    import copy
    import pickle
    out = []
    for L in LIBS:
        t = L.tensor([1.0, 2.0], requires_grad=True)
        t.tag = "w"
        y = t * 1
        _ = y[0], t.detach()[1:]                  # views of t and of y
        t.register_post_accumulate_grad_hook(lambda p: None)
        back = pickle.loads(pickle.dumps(t))
        w = L.ones(3)
        _ = w[1:]
        dist = L.distributions.Beta(L.tensor([2.0]), L.tensor([3.0]))
        dist_back = pickle.loads(pickle.dumps(dist))
        out.append((_np(back), back.tag, back.requires_grad, _np(pickle.loads(pickle.dumps(w))),
                    copy.deepcopy(t).tag, _np(dist_back.mean)))
    a, b = out
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
