"""Regressions from round 7's side-by-side probes of everyday tensor semantics against torch."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("y, x", [(0.0, 0.0), (1e-200, 0.0), (0.0, 1e-200), (1e-170, -1e-170),
                                  (float("inf"), 1.0), (3.0, -4.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_atan2_gradient_at_and_near_the_origin(y, x, dtype):
    """atan2 has no derivative at the origin; torch gives 0 there (1/r^2 taken as 0 where
    r^2 is 0, also where it underflows), and nan where y is infinite."""
    grads = []
    for lib in (minigrad, torch):
        ty = lib.tensor([y], dtype=getattr(lib, dtype), requires_grad=True)
        tx = lib.tensor([x], dtype=getattr(lib, dtype), requires_grad=True)
        lib.atan2(ty, tx).sum().backward()
        grads.append(np.concatenate([ty.grad.detach().numpy(), tx.grad.detach().numpy()]))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)
    np.testing.assert_array_equal(np.signbit(grads[0]), np.signbit(grads[1]))


_INPLACE_ACTIVATIONS = {
    "ReLU": lambda L, h: L.nn.ReLU(inplace=True)(h),
    "LeakyReLU": lambda L, h: L.nn.LeakyReLU(0.2, inplace=True)(h),
    "ELU": lambda L, h: L.nn.ELU(inplace=True)(h),
    "CELU": lambda L, h: L.nn.CELU(0.5, inplace=True)(h),
    "SELU": lambda L, h: L.nn.SELU(inplace=True)(h),
    "Hardtanh": lambda L, h: L.nn.Hardtanh(inplace=True)(h),
    "ReLU6": lambda L, h: L.nn.ReLU6(inplace=True)(h),
    "SiLU": lambda L, h: L.nn.SiLU(inplace=True)(h),
    "Hardswish": lambda L, h: L.nn.Hardswish(inplace=True)(h),
    "Hardsigmoid": lambda L, h: L.nn.Hardsigmoid(inplace=True)(h),
    "Mish": lambda L, h: L.nn.Mish(inplace=True)(h),
    "F.relu": lambda L, h: L.nn.functional.relu(h, inplace=True),
    "F.leaky_relu": lambda L, h: L.nn.functional.leaky_relu(h, 0.1, inplace=True),
    "F.elu": lambda L, h: L.nn.functional.elu(h, inplace=True),
    "F.silu": lambda L, h: L.nn.functional.silu(h, inplace=True),
    "F.hardtanh": lambda L, h: L.nn.functional.hardtanh(h, inplace=True),
    "F.elu_": lambda L, h: L.nn.functional.elu_(h),
    "F.celu_": lambda L, h: L.nn.functional.celu_(h),
    "F.selu_": lambda L, h: L.nn.functional.selu_(h),
    "F.leaky_relu_": lambda L, h: L.nn.functional.leaky_relu_(h),
}


@pytest.mark.parametrize("name", sorted(_INPLACE_ACTIVATIONS))
@pytest.mark.parametrize("before", ["exp", "linear", "view"])
def test_inplace_activations_write_into_their_input_and_differentiate(name, before):
    """``inplace=True`` (and the F.*_ spellings) overwrite the input and return it, and the
    gradient through them is torch's, whatever produced the input: an op that saved its
    output (exp), one that saved nothing the write touches (linear), a view."""
    results = []
    for lib in (minigrad, torch):
        x = lib.tensor([[-1.0, 0.5, 2.0], [3.5, -4.0, 0.25]], dtype=lib.float64,
                       requires_grad=True)
        h = {"exp": lambda: x.exp() - 1.5, "linear": lambda: x @ lib.eye(3, dtype=lib.float64),
             "view": lambda: (x * 1.0).t()[1:]}[before]()
        out = _INPLACE_ACTIVATIONS[name](lib, h)
        assert out is h
        (out * lib.arange(out.numel(), dtype=lib.float64).reshape(out.shape)).sum().backward()
        results.append((h.detach().numpy().copy(), x.grad.numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    # (torch's hardsigmoid backward uses 1/6 rounded to float32, in float64 too)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-7, atol=1e-15)


def test_import_paths_and_class_hierarchy_of_pools_and_init_like_torch():
    """Model code imports _AvgPoolNd and _no_grad_trunc_normal_; AvgPool3d is not an
    AvgPool2d in torch, so isinstance checks must answer alike."""
    from minigrad.nn.init import _no_grad_trunc_normal_
    from minigrad.nn.modules.pooling import _AvgPoolNd
    for lib, base in ((minigrad, _AvgPoolNd), (torch, torch.nn.modules.pooling._AvgPoolNd)):
        pools = [lib.nn.AvgPool1d(2), lib.nn.AvgPool2d(2), lib.nn.AvgPool3d(2)]
        assert all(isinstance(p, base) for p in pools)
        assert not isinstance(pools[2], lib.nn.AvgPool2d)
    assert repr(minigrad.nn.AvgPool3d(2, 1)) == repr(torch.nn.AvgPool3d(2, 1))
    t = _no_grad_trunc_normal_(minigrad.empty(1000), 0.0, 1.0, -0.5, 0.5)
    assert float(t.abs().max()) <= 0.5


def test_types_module_has_the_aliases_annotations_use():
    import minigrad.types as types
    assert types.Number == torch.types.Number
    assert isinstance(3.0, types._Number) and not isinstance("3", types._Number)


_INPLACE_RANDOM = {
    "Dropout": lambda L, h: L.nn.Dropout(0.4, inplace=True)(h),
    "Dropout2d": lambda L, h: L.nn.Dropout2d(0.4, inplace=True)(h.unsqueeze(-1)),
    "F.feature_alpha_dropout": lambda L, h: L.nn.functional.feature_alpha_dropout(
        h, 0.4, True, inplace=True),
    "F.dropout": lambda L, h: L.nn.functional.dropout(h, 0.4, True, inplace=True),
    "F.dropout p=1": lambda L, h: L.nn.functional.dropout(h, 1.0, True, inplace=True),
    "F.alpha_dropout": lambda L, h: L.nn.functional.alpha_dropout(h, 0.4, True, inplace=True),
    "F.rrelu training": lambda L, h: L.nn.functional.rrelu(h, training=True, inplace=True),
}


@pytest.mark.parametrize("name", sorted(_INPLACE_RANDOM))
def test_random_inplace_layers_write_into_their_input_and_differentiate(name):
    """The draws differ from torch's, so each side is checked for what torch guarantees: the
    result is the input tensor (a view of it for Dropout2d's unsqueeze), it was written (its
    version went up once), and the gradient through the written tensor is each element's
    factor times exp(x) (the input's own derivative), finite everywhere."""
    for lib in (minigrad, torch):
        x = lib.tensor([[-1.0, 0.5, 2.0], [3.5, -4.0, 0.25]], dtype=lib.float64,
                       requires_grad=True)
        h = x.exp() - 1.5
        before = h.detach().clone()
        out = _INPLACE_RANDOM[name](lib, h)
        assert out is h or out._base is h
        assert int(h._version if lib is minigrad else h._version) >= 1
        out.sum().backward()
        factor = h.detach().numpy() / before.numpy()           # what each element became
        grad = x.grad.numpy()
        assert np.isfinite(grad).all()
        if "alpha" not in name:
            # multiplicative layers: d out / d x = factor * exp(x)
            np.testing.assert_allclose(grad, factor * np.exp(x.detach().numpy()), rtol=1e-9)


def test_alpha_dropout_modules_leave_inplace_unused_like_torch():
    for lib in (minigrad, torch):
        for layer in (lib.nn.AlphaDropout(0.4, inplace=True),
                      lib.nn.FeatureAlphaDropout(0.4, inplace=True)):
            h = lib.randn(2, 3, 4)
            assert layer(h) is not h



_SEQUENCE_INDICES = {   # lib -> the index
    "tuple in a tuple": lambda L: ((0, 1),),
    "two tuples": lambda L: ((0, 1), (1, 2)),
    "tuple then slice": lambda L: ((0, 2), slice(1, None)),
    "list holding a slice": lambda L: [slice(None), 1],
    "list holding a list": lambda L: [0, [1, 2]],
    "list of one list": lambda L: [[0, 2]],
    "list holding None": lambda L: [None, 0],
    "list holding Ellipsis": lambda L: [Ellipsis, 0],
    "list of 0-d tensors": lambda L: [L.tensor(2), L.tensor(1)],
    "long list of ints": lambda L: [1] * 40,
    "list of ints": lambda L: [2, 0],
    "2-d array": lambda L: np.array([[0, 1], [1, 2]]),
}


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.parametrize("name", sorted(_SEQUENCE_INDICES))
def test_sequences_inside_an_index_read_and_write_as_torch(name):
    """A sequence inside an index tuple is an index array; a short list holding slices,
    None, Ellipsis, tensors or sequences stands for a tuple (PyTorch's legacy rule), any
    other list is one index array. Reading, its gradient and writing agree with torch."""
    results = []
    for lib in (minigrad, torch):
        a = lib.arange(12.0, dtype=lib.float64).reshape(3, 4).requires_grad_()
        out = a[_SEQUENCE_INDICES[name](lib)]
        weights = lib.arange(float(out.numel()), dtype=lib.float64).reshape(out.shape)
        (out * weights).sum().backward()
        b = lib.zeros(3, 4, dtype=lib.float64)
        b[_SEQUENCE_INDICES[name](lib)] = -1.0 - weights
        results.append([out.detach().numpy(), a.grad.numpy(), b.numpy()])
    for mine, theirs in zip(*results):
        assert mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)


def test_a_list_read_as_a_tuple_warns_as_torch():
    for lib in (minigrad, torch):
        with pytest.warns(UserWarning, match="non-tuple sequence"):
            lib.zeros(2, 3)[[slice(None), 1]]


@pytest.mark.parametrize("write", ["relu_", "ReLU", "leaky_relu", "LeakyReLU"])
def test_relu_in_place_without_a_copy_keeps_gradients_and_version_checks(write):
    """relu_ and leaky_relu(inplace=True) run on the tensor itself (their backward keeps
    only a new mask): the gradient, the second derivative, and the version check that
    catches a value saved before the write all agree with torch."""
    apply = {"relu_": lambda L, h: h.relu_(),
             "ReLU": lambda L, h: L.nn.ReLU(inplace=True)(h),
             "leaky_relu": lambda L, h: L.nn.functional.leaky_relu(h, 0.2, inplace=True),
             "LeakyReLU": lambda L, h: L.nn.LeakyReLU(0.2, inplace=True)(h)}[write]
    x0 = np.random.default_rng(0).standard_normal((3, 4))
    grads, errors = [], []
    for lib in (minigrad, torch):
        x = lib.tensor(x0, requires_grad=True)
        h = x * x
        out = apply(lib, h)
        assert out is h
        g, = lib.autograd.grad((out * out).sum(), x, create_graph=True)
        gg, = lib.autograd.grad(g.sum(), x)
        grads.append((g.detach().numpy(), gg.numpy()))
        saved = x * 1.0
        y = saved * saved                       # mul keeps `saved` for its backward
        apply(lib, saved)
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
        errors.append(str(info.value))
    for mine, theirs in zip(*grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    assert "modified by an inplace operation" in errors[0]
