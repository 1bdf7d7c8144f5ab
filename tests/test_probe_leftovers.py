"""Leftovers of earlier probing rounds, side by side with PyTorch: Module.__setstate__ /
__getstate__, F.conv_tbc, the refusals of ``tensor.data = ...``, embedding_bag's per-sample
weight dtype and trailing indices with include_last_offset, clip_grads_with_norm_ with a plain
number, an empty TensorDataset, nn.utils.init and detect_anomaly (no decorator)."""
import copy
import importlib
import pickle

import numpy as np
import pytest
import torch

import minigrad

LIBS = (torch, minigrad)


def outcome(f, lib):
    """("ok", value) or (exception type name, message)."""
    try:
        return "ok", f(lib)
    except Exception as e:       # noqa: BLE001 - the type is what is compared
        return type(e).__name__, str(e)


def same_error(f, words):
    """Both libraries raise the same exception type, with ``words`` in the message."""
    got = [outcome(f, lib) for lib in LIBS]
    assert got[0][0] != "ok", got
    assert got[0][0] == got[1][0], got
    for kind, message in got:
        assert words in message, (kind, message)


# ---- 1. Module.__setstate__ / __getstate__ -------------------------------------------------
def _old_style_module(lib):
    """A module class whose __setstate__ fills in an attribute and defers to Module's."""
    class Old(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 2)
            self.register_buffer("scratch", lib.zeros(2), persistent=False)

        def forward(self, x):
            return self.fc(x)

        def __setstate__(self, state):
            state.setdefault("extra", 5)
            super().__setstate__(state)
    Old.__qualname__ = Old.__name__ = f"Old_{lib.__name__}"
    globals()[Old.__name__] = Old          # pickle finds the class by its module-level name
    return Old


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_module_setstate_via_super(how):
    w = np.arange(6.0).reshape(2, 3)
    results = []
    for lib in LIBS:
        Old = _old_style_module(lib)
        m = Old()
        with lib.no_grad():
            m.fc.weight.copy_(lib.tensor(w, dtype=lib.float32))
            m.fc.bias.fill_(0.5)
        m2 = pickle.loads(pickle.dumps(m)) if how == "pickle" else copy.deepcopy(m)
        out = m2(lib.ones(1, 3)).detach().numpy()
        results.append((m2.extra, sorted(m2.state_dict()), "scratch" in m2._buffers, out))
    assert results[0][:3] == results[1][:3]
    np.testing.assert_allclose(results[0][3], results[1][3], rtol=1e-6)


def test_module_setstate_fills_missing_containers():
    results = []
    for lib in LIBS:
        Old = _old_style_module(lib)
        m = Old()
        # as if unpickled from an old checkpoint: no non-persistent set, no pre-hooks...
        state = {k: v for k, v in m.__dict__.items()
                 if k in ("training", "_parameters", "_buffers", "_modules", "_forward_hooks",
                          "_backward_hooks")}
        m2 = Old.__new__(Old)
        m2.__setstate__(state)
        calls = []
        m2.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
        m2.register_forward_hook(lambda mod, args, out: calls.append("post"))
        m2.register_full_backward_hook(lambda mod, gi, go: calls.append("backward"))
        m2(lib.ones(1, 3, requires_grad=True)).sum().backward()
        # the non-persistent set came back empty, so the buffer is saved again (as PyTorch)
        results.append((m2.extra, sorted(m2.state_dict()), calls))
    assert results[0] == results[1]


def test_module_getstate_is_a_copy():
    for lib in LIBS:
        m = lib.nn.Linear(2, 2)
        state = m.__getstate__()
        state.pop("training")
        assert "training" in m.__dict__


# ---- 2. F.conv_tbc ---------------------------------------------------------------------------
@pytest.mark.parametrize("pad", [0, 1, 2])
def test_functional_conv_tbc(pad):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((6, 2, 3)), rng.standard_normal((3, 3, 4)), \
        rng.standard_normal(4)
    got = []
    for lib in LIBS:
        ts = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = lib.nn.functional.conv_tbc(*ts, pad)
        y.backward(lib.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape))))
        got.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, m in zip(*got):
        np.testing.assert_allclose(m, a, rtol=1e-12, atol=1e-12)


def test_functional_conv_tbc_refusal():
    same_error(lambda lib: lib.nn.functional.conv_tbc(lib.ones(2, 3), lib.ones(1, 3, 2),
                                                      lib.ones(2)), "Input must have 3 dims")


# ---- 3. tensor.data = ... --------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.Parameter(lib.ones(3)),
    lambda lib: lib.ones(3, requires_grad=True),
    lambda lib: lib.ones(3, requires_grad=True) * 2,
], ids=["parameter", "leaf", "non-leaf"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_data_of_grad_tensor_must_be_float(make, dtype):
    def f(lib):
        t = make(lib)
        t.data = lib.zeros(3, dtype=getattr(lib, dtype))
    same_error(f, "data set to a tensor that requires gradients must be floating point or "
                  "complex dtype")


@pytest.mark.parametrize("value", [lambda lib: np.ones(3), lambda lib: [1.0, 2.0],
                                   lambda lib: 3.0, lambda lib: None],
                         ids=["ndarray", "list", "float", "None"])
def test_data_must_be_a_tensor(value):
    def f(lib):
        t = lib.ones(3)
        t.data = value(lib)
    same_error(f, "Variable data has to be a tensor, but got")
    msgs = [outcome(f, lib)[1] for lib in LIBS]
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("case", ["no grad int", "float64 new shape", "complex", "non-leaf"])
def test_data_accepted(case):
    def f(lib):
        if case == "no grad int":
            t = lib.ones(3)
            t.data = lib.arange(4)
        elif case == "float64 new shape":
            t = lib.nn.Parameter(lib.ones(3))
            t.data = lib.ones(2, 2, dtype=lib.float64)
        elif case == "complex":
            t = lib.ones(3, requires_grad=True)
            t.data = lib.ones(2, dtype=lib.complex64)
        else:
            t = lib.ones(3, requires_grad=True) * 2
            t.data = lib.zeros(5, dtype=lib.float64)
        return str(t.dtype).split(".")[1], list(t.shape), t.requires_grad, t.is_leaf
    got = [outcome(f, lib) for lib in LIBS]
    assert got[0] == got[1]


def test_vector_to_parameters_int_vector():
    def f(lib):
        p = lib.nn.Parameter(lib.ones(4))
        lib.nn.utils.vector_to_parameters(lib.arange(4), [p])
    same_error(f, "must be floating point or complex dtype")


# ---- 4. embedding_bag ------------------------------------------------------------------------
_W = np.arange(12.0).reshape(6, 2)


@pytest.mark.parametrize("weight_dtype,psw_dtype", [("float32", "float64"),
                                                    ("float64", "float32"),
                                                    ("float32", "int64")])
def test_embedding_bag_per_sample_weights_dtype(weight_dtype, psw_dtype):
    def f(lib):
        return lib.nn.functional.embedding_bag(
            lib.tensor([0, 1, 2]), lib.tensor(_W, dtype=getattr(lib, weight_dtype)),
            lib.tensor([0]), mode="sum", per_sample_weights=lib.ones(3, dtype=getattr(
                lib, psw_dtype)))
    same_error(f, "Expected tensor for argument #1 'weight' to have the same type as tensor "
                  "for argument #1 'per_sample_weights'")
    msgs = [outcome(f, lib)[1] for lib in LIBS]
    assert msgs[0] == msgs[1]


def test_embedding_bag_per_sample_weights_dtype_before_index_checks():
    # PyTorch compares the dtypes before it looks at the index values
    same_error(lambda lib: lib.nn.functional.embedding_bag(
        lib.tensor([0, 1, 9]), lib.tensor(_W), lib.tensor([0]), mode="sum",
        per_sample_weights=lib.ones(3)), "does not equal torch.FloatTensor")


def test_embedding_bag_2d_input_with_offsets():
    same_error(lambda lib: lib.nn.functional.embedding_bag(
        lib.tensor([[0, 1], [2, 3]]), lib.tensor(_W), lib.tensor([0, 1])),
        "if input is 2D, then offsets has to be None")


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("inputs,offsets", [
    ([0, 1, 2, 3, 4], [0, 2, 3]), ([0, 1, 2], [0, 0]),
    ([0, 1, 2], [0, 0, 3]), ([5, 1, 2, 0], [0, 1])])
def test_embedding_bag_include_last_offset_trailing_float64(mode, inputs, offsets):
    # indices past the last offset join the last bag (PyTorch's float64 kernel, and every
    # dtype's max mode and gradients)
    got = []
    for lib in LIBS:
        w = lib.tensor(_W, requires_grad=True)
        y = lib.nn.functional.embedding_bag(
            lib.tensor(inputs, dtype=lib.int64), w, lib.tensor(offsets, dtype=lib.int64),
            mode=mode, include_last_offset=True)
        y.backward(lib.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape))))
        got.append((y.detach().numpy(), w.grad.numpy()))
    for a, m in zip(*got):
        np.testing.assert_allclose(m, a, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_bag_include_last_offset_trailing_max_and_padding_idx(dtype):
    for kwargs in ({"mode": "max"}, {"mode": "sum", "padding_idx": 3},
                   {"mode": "mean", "padding_idx": 3}):
        got = [lib.nn.functional.embedding_bag(
            lib.tensor([0, 1, 2, 3, 4]), lib.tensor(_W, dtype=getattr(lib, dtype)),
            lib.tensor([0, 2, 3]), include_last_offset=True, **kwargs).numpy() for lib in LIBS]
        np.testing.assert_allclose(got[1], got[0], rtol=1e-6)


# ---- 6. small ones ---------------------------------------------------------------------------
@pytest.mark.parametrize("total", [2.0, 4])
def test_clip_grads_with_norm_refuses_plain_number(total):
    def f(lib):
        p = lib.nn.Parameter(lib.ones(3))
        p.grad = lib.ones(3)
        lib.nn.utils.clip_grads_with_norm_([p], 1.0, total)
    same_error(f, "clamp() received an invalid combination of arguments - got (float, "
                  "max=float)")


def test_clip_grads_with_norm_tensor_or_no_grads():
    got = []
    for lib in LIBS:
        p, q = lib.nn.Parameter(lib.ones(3)), lib.nn.Parameter(lib.ones(2))
        p.grad = lib.full((3,), 2.0)
        lib.nn.utils.clip_grads_with_norm_([p], 1.0, lib.tensor(4.0))
        lib.nn.utils.clip_grads_with_norm_([q], 1.0, 4.0)    # no gradients: nothing to refuse
        got.append(p.grad.numpy())
    np.testing.assert_allclose(got[1], got[0], rtol=1e-6)


def test_empty_tensor_dataset():
    for lib in LIBS:
        ds = lib.utils.data.TensorDataset()
        assert ds.tensors == () and ds[0] == ()
    same_error(lambda lib: len(lib.utils.data.TensorDataset()), "index out of range")


@pytest.mark.parametrize("tensors", [lambda lib: (lib.tensor(1.0),),
                                     lambda lib: (lib.ones(2), lib.tensor(1.0)),
                                     lambda lib: (lib.ones(2), lib.ones(3), lib.tensor(1.0))])
def test_tensor_dataset_zero_dim(tensors):
    got = [outcome(lambda L: L.utils.data.TensorDataset(*tensors(L)), lib)[0] for lib in LIBS]
    assert got[0] == got[1] != "ok"


def test_nn_utils_init_module():
    got = []
    for lib in LIBS:
        mod = importlib.import_module(lib.__name__ + ".nn.utils.init")
        assert mod is lib.nn.utils.init
        layer = mod.skip_init(lib.nn.Linear, 2, 3, bias=False)
        got.append((type(layer).__name__, list(layer.weight.shape), layer.bias))
    assert got[0] == got[1]


def test_detect_anomaly_is_not_a_decorator():
    def f(lib):
        @lib.autograd.detect_anomaly()
        def step():
            return 1
        return step()
    with pytest.warns(UserWarning):          # both warn on construction, then refuse the call
        same_error(f, "'detect_anomaly' object is not callable")
    for lib in LIBS:
        assert not lib.is_anomaly_enabled()
