"""Round 7, part H, against torch: AdaptiveLogSoftmaxWithLoss, CrossMapLRN2d, the lazy transposed
convolutions and instance norms, nn.Buffer, UninitializedParameter/Buffer, DataParallel,
nn.grad, the deprecated upsample_* wrappers, embedding_bag and adaptive_max_pool*_with_indices
in nn.functional, and the import paths third-party code uses (torch.nn.modules.batchnorm...)."""
import importlib
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy()


def _close(a, b, tol=1e-12):
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


def _raises_like(torch_call, our_call):
    """Both raise the same exception type with the same message."""
    with pytest.raises(Exception) as theirs:
        torch_call()
    with pytest.raises(type(theirs.value)) as ours:
        our_call()
    assert str(ours.value).replace("minigrad", "torch") == str(theirs.value)


# ----------------------------------------------------------------------------------------------
# AdaptiveLogSoftmaxWithLoss
# ----------------------------------------------------------------------------------------------
def _asm_pair(**kw):
    kw.setdefault("div_value", 2.0)            # every tail keeps at least one hidden unit
    torch.manual_seed(0)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], **kw).double()
    ours = nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], **kw).double()
    ours.load_state_dict({k: minigrad.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return theirs, ours


@pytest.mark.parametrize("kw", [{"div_value": 2.0}, {"head_bias": True}])
def test_adaptive_log_softmax_structure_matches_torch(kw):
    theirs, ours = _asm_pair(**kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name in ("cutoffs", "shortlist_size", "n_clusters", "head_size", "in_features",
                 "n_classes", "div_value", "head_bias"):
        assert getattr(ours, name) == getattr(theirs, name)


def test_adaptive_log_softmax_forward_log_prob_predict_and_gradients_match_torch():
    theirs, ours = _asm_pair(div_value=2.0)
    rng = np.random.default_rng(0)
    x, target = rng.standard_normal((9, 16)), np.array([0, 5, 12, 19, 3, 10, 15, 4, 9])
    xt, xo = torch.tensor(x, requires_grad=True), minigrad.tensor(x, requires_grad=True)
    a, b = theirs(xt, torch.tensor(target)), ours(xo, minigrad.tensor(target))
    assert type(b).__name__ == "_ASMoutput" and b._fields == ("output", "loss")
    _close(b.output, a.output)
    _close(b.loss, a.loss)
    a.loss.backward()
    b.loss.backward()
    _close(xo.grad, xt.grad)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        _close(p.grad, q.grad)
    _close(ours.log_prob(minigrad.tensor(x)), theirs.log_prob(torch.tensor(x)))
    many = rng.standard_normal((64, 16)) * 3          # rows of both predict branches
    assert (ours.predict(minigrad.tensor(many)).numpy() ==
            theirs.predict(torch.tensor(many)).numpy()).all()
    one_t, one_o = theirs(torch.tensor(x[0]), torch.tensor(12)), ours(minigrad.tensor(x[0]),
                                                                      minigrad.tensor(12))
    assert tuple(one_o.output.shape) == tuple(one_t.output.shape) == ()
    _close(one_o.output, one_t.output)


@pytest.mark.parametrize("cutoffs", [[4, 4], [0, 5], [5, 20], [5, 3], [4.5], []])
def test_adaptive_log_softmax_bad_cutoffs_raise_as_torch(cutoffs):
    _raises_like(lambda: torch.nn.AdaptiveLogSoftmaxWithLoss(16, 20, cutoffs),
                 lambda: nn.AdaptiveLogSoftmaxWithLoss(16, 20, cutoffs))


@pytest.mark.parametrize("x_shape,target", [((5, 16), [0, 20, 1, 2, 3]), ((5, 16), [0, 1]),
                                            ((5, 16), [[0, 1, 2, 3, 4]]), ((5, 16), 3),
                                            ((5, 16), [0., 1., 2., 3., 4.])])
def test_adaptive_log_softmax_bad_targets_raise_as_torch(x_shape, target):
    theirs, ours = _asm_pair()
    x = np.zeros(x_shape)
    _raises_like(lambda: theirs(torch.tensor(x), torch.tensor(target)),
                 lambda: ours(minigrad.tensor(x), minigrad.tensor(target)))


# ----------------------------------------------------------------------------------------------
# CrossMapLRN2d: torch's values everywhere; the gradient against finite differences of
# torch's forward (torch's own legacy backward fails torch.autograd.gradcheck)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 2, 3, 6])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_cross_map_lrn2d_matches_torch(channels, size):
    x = np.random.default_rng(channels * 10 + size).standard_normal((2, channels, 3, 2))
    theirs = torch.nn.CrossMapLRN2d(size, 0.4, 0.7, 1.5)
    ours = nn.CrossMapLRN2d(size, 0.4, 0.7, 1.5)
    assert repr(ours) == repr(theirs)
    _close(ours(minigrad.tensor(x)), theirs(torch.tensor(x)))


def test_cross_map_lrn2d_gradient_matches_finite_differences_of_torch_forward():
    rng = np.random.default_rng(1)
    x, v = rng.standard_normal((1, 5, 2, 2)), rng.standard_normal((1, 5, 2, 2))
    xo = minigrad.tensor(x, requires_grad=True)
    (nn.CrossMapLRN2d(3, 0.5, 0.75, 1.0)(xo) * minigrad.tensor(v)).sum().backward()
    theirs = torch.nn.CrossMapLRN2d(3, 0.5, 0.75, 1.0)
    f = (lambda a: float((theirs(torch.tensor(a)) * torch.tensor(v)).sum()))
    eps, numeric = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        numeric[i] = (f(x + d) - f(x - d)) / (2 * eps)
    np.testing.assert_allclose(xo.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_cross_map_lrn2d_needs_4d_input_as_torch():
    _raises_like(lambda: torch.nn.CrossMapLRN2d(3)(torch.zeros(3, 4, 4)),
                 lambda: nn.CrossMapLRN2d(3)(minigrad.zeros(3, 4, 4)))


# ----------------------------------------------------------------------------------------------
# Lazy transposed convolutions and instance norms; UninitializedParameter / Buffer
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_lazy_conv_transpose_matches_torch(nd):
    kw = {"stride": 2, "groups": 2, "output_padding": 1}
    theirs = getattr(torch.nn, f"LazyConvTranspose{nd}d")(4, 3, **kw).double()
    ours = getattr(nn, f"LazyConvTranspose{nd}d")(4, 3, **kw).double()
    assert repr(ours) == repr(theirs)
    assert isinstance(ours.weight, nn.UninitializedParameter)
    x = np.random.default_rng(nd).standard_normal((2, 6) + (4,) * nd)
    y_t = theirs(torch.tensor(x))
    ours(minigrad.tensor(x))
    assert type(ours).__name__ == type(theirs).__name__ and repr(ours) == repr(theirs)
    assert type(ours.weight) is nn.Parameter
    with minigrad.no_grad():
        ours.weight.copy_(minigrad.tensor(_np(theirs.weight)))
        ours.bias.copy_(minigrad.tensor(_np(theirs.bias)))
    _close(ours(minigrad.tensor(x)), y_t)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_lazy_instance_norm_matches_torch(nd):
    theirs = getattr(torch.nn, f"LazyInstanceNorm{nd}d")().double()
    ours = getattr(nn, f"LazyInstanceNorm{nd}d")().double()
    assert repr(ours) == repr(theirs)
    assert isinstance(ours.running_mean, nn.UninitializedBuffer)
    x = np.random.default_rng(nd).standard_normal((2, 3) + (4,) * nd)
    y_t, y_o = theirs(torch.tensor(x)), ours(minigrad.tensor(x))
    assert repr(ours) == repr(theirs)
    _close(y_o, y_t)
    _close(ours.running_var, theirs.running_var)


@pytest.mark.parametrize("lazy,eager,args,x_shape", [
    ("LazyLinear", "Linear", ((3,), (4, 3)), (2, 4)),
    ("LazyConv2d", "Conv2d", ((3, 2), (4, 3, 2)), (2, 4, 5, 5)),
    ("LazyBatchNorm1d", "BatchNorm1d", ((), (4,)), (2, 4))])
def test_lazy_layer_loads_a_state_dict_as_torch(lazy, eager, args, x_shape):
    reprs = []
    for lib in (torch, minigrad):
        m = getattr(lib.nn, lazy)(*args[0])
        m.load_state_dict(getattr(lib.nn, eager)(*args[1]).state_dict())
        m(lib.zeros(*x_shape))
        reprs.append((repr(m), type(m).__name__, tuple(m.weight.shape)))
    assert reprs[0] == reprs[1]


def test_uninitialized_parameter_and_buffer_as_torch():
    for cls in ("UninitializedParameter", "UninitializedBuffer"):
        theirs, ours = getattr(torch.nn, cls)(), getattr(nn, cls)()
        assert repr(ours) == repr(theirs) and ours.requires_grad == theirs.requires_grad
        _raises_like(lambda: theirs.shape, lambda: ours.shape)
        theirs.materialize((2, 3))
        ours.materialize((2, 3))
        assert type(ours).__name__ == type(theirs).__name__
        assert tuple(ours.shape) == tuple(theirs.shape)
    assert isinstance(nn.UninitializedParameter(), nn.Parameter)


# ----------------------------------------------------------------------------------------------
# nn.Buffer, DataParallel
# ----------------------------------------------------------------------------------------------
def _with_buffers(lib):
    class M(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = lib.nn.Buffer(lib.ones(2))
            self.b = lib.nn.Buffer(lib.zeros(1), persistent=False)
            self.lin = lib.nn.Linear(2, 2)
    return M()


def test_buffer_registers_as_torch():
    theirs, ours = _with_buffers(torch), _with_buffers(minigrad)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    t = minigrad.arange(3.0)
    b = nn.Buffer(t, persistent=False)
    assert isinstance(b, nn.Buffer) and not isinstance(t, nn.Buffer)
    assert b.persistent is False and type(b) is minigrad.Tensor
    assert tuple(nn.Buffer().shape) == tuple(torch.nn.Buffer().shape)
    ours.c, theirs.c = 5, 5
    _raises_like(lambda: setattr(theirs, "c", torch.nn.Buffer(torch.ones(1))),
                 lambda: setattr(ours, "c", nn.Buffer(minigrad.ones(1))))


def test_data_parallel_runs_the_module_as_torch_on_the_cpu():
    torch.manual_seed(0)
    inner = torch.nn.Linear(2, 3).double()
    theirs = torch.nn.DataParallel(inner)
    ours = nn.DataParallel(nn.Linear(2, 3).double())
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["module.weight",
                                                                    "module.bias"]
    ours.load_state_dict({k: minigrad.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    assert ours.device_ids == theirs.device_ids
    x = np.random.default_rng(0).standard_normal((4, 2))
    _close(ours(minigrad.tensor(x)), theirs(torch.tensor(x)))
    assert isinstance(ours.module, nn.Linear)
    assert nn.parallel.DataParallel is nn.DataParallel


# ----------------------------------------------------------------------------------------------
# nn.grad
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_nn_grad_matches_torch(nd):
    rng = np.random.default_rng(nd)
    x, w = rng.standard_normal((2, 4) + (6,) * nd), rng.standard_normal((6, 2) + (3,) * nd)
    kw = {"stride": 2, "padding": 1, "dilation": 1, "groups": 2}
    y = getattr(torch.nn.functional, f"conv{nd}d")(torch.tensor(x), torch.tensor(w), **kw)
    g = rng.standard_normal(tuple(y.shape))
    tg, og = torch.nn.grad, nn.grad
    _close(getattr(og, f"conv{nd}d_input")(x.shape, minigrad.tensor(w), minigrad.tensor(g), **kw),
           getattr(tg, f"conv{nd}d_input")(x.shape, torch.tensor(w), torch.tensor(g), **kw))
    _close(getattr(og, f"conv{nd}d_weight")(minigrad.tensor(x), w.shape, minigrad.tensor(g), **kw),
           getattr(tg, f"conv{nd}d_weight")(torch.tensor(x), w.shape, torch.tensor(g), **kw))


def test_nn_grad_shape_errors_as_torch():
    w, g = np.zeros((6, 2, 3, 3)), np.zeros((2, 6, 4, 4))
    _raises_like(lambda: torch.nn.grad.conv2d_input((2, 4, 9, 9), torch.tensor(w),
                                                    torch.tensor(g), 2, 1, 1, 2),
                 lambda: nn.grad.conv2d_input((2, 4, 9, 9), minigrad.tensor(w),
                                              minigrad.tensor(g), 2, 1, 1, 2))
    _raises_like(lambda: torch.nn.grad.conv2d_input([4, 7, 7], torch.tensor(w),
                                                    torch.tensor(g[0]), 2, 1, 1, 2),
                 lambda: nn.grad.conv2d_input([4, 7, 7], minigrad.tensor(w),
                                              minigrad.tensor(g[0]), 2, 1, 1, 2))


# ----------------------------------------------------------------------------------------------
# nn.functional additions
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", [("upsample_nearest", {"scale_factor": 2}),
                                     ("upsample_nearest", {"size": 5}),
                                     ("upsample_bilinear", {"size": (5, 4)}),
                                     ("upsample_bilinear", {"scale_factor": 2})])
def test_deprecated_upsample_wrappers_match_torch(name, kw):
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 3))
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        y_t = getattr(torch.nn.functional, name)(torch.tensor(x), **kw)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        y_o = getattr(F, name)(minigrad.tensor(x), **kw)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert [w.category for w in ours] == [w.category for w in theirs]
    _close(y_o, y_t)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_max_pool_with_indices_matches_torch(nd):
    x = np.random.default_rng(nd).standard_normal((2, 3) + (5,) * nd)
    name = f"adaptive_max_pool{nd}d_with_indices"
    out_t, idx_t = getattr(torch.nn.functional, name)(torch.tensor(x), 3)
    out_o, idx_o = getattr(F, name)(minigrad.tensor(x), 3)
    _close(out_o, out_t)
    assert (idx_o.numpy() == idx_t.numpy()).all()


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_functional_embedding_bag_matches_torch(mode):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((10, 3))
    idx, offsets = np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 3, 3, 6])
    wt, wo = torch.tensor(w, requires_grad=True), minigrad.tensor(w, requires_grad=True)
    y_t = torch.nn.functional.embedding_bag(torch.tensor(idx), wt, torch.tensor(offsets),
                                            mode=mode)
    y_o = F.embedding_bag(minigrad.tensor(idx), wo, minigrad.tensor(offsets), mode=mode)
    _close(y_o, y_t)
    y_t.sum().backward()
    y_o.sum().backward()
    _close(wo.grad, wt.grad)
    assert nn.modules.sparse.embedding_bag is F.embedding_bag


# ----------------------------------------------------------------------------------------------
# Import paths: each name torch has there, minigrad has there, and it is the real class
# ----------------------------------------------------------------------------------------------
PATHS = {
    "nn.modules.batchnorm": ["_NormBase", "_BatchNorm", "BatchNorm1d", "BatchNorm2d",
                             "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm2d"],
    "nn.modules.instancenorm": ["_InstanceNorm", "InstanceNorm1d", "InstanceNorm2d",
                                "InstanceNorm3d", "LazyInstanceNorm2d", "_NormBase"],
    "nn.modules.normalization": ["LayerNorm", "GroupNorm", "LocalResponseNorm", "CrossMapLRN2d",
                                 "RMSNorm"],
    "nn.modules.utils": ["_single", "_pair", "_triple", "_quadruple", "_ntuple",
                         "_reverse_repeat_tuple"],
    "nn.modules.loss": ["_Loss", "_WeightedLoss"],
    "nn.modules.conv": ["_ConvNd", "_ConvTransposeNd"],
    "nn.modules.module": ["Module", "Buffer"],
    "nn.modules.activation": ["ReLU", "MultiheadAttention", "NonDynamicallyQuantizableLinear"],
    "nn.modules.pooling": ["MaxPool2d", "_MaxPoolNd", "_AdaptiveAvgPoolNd",
                           "FractionalMaxPool2d"],
    "nn.modules.dropout": ["_DropoutNd"],
    "nn.modules.linear": ["NonDynamicallyQuantizableLinear", "Identity"],
    "nn.modules.adaptive": ["AdaptiveLogSoftmaxWithLoss"],
    "nn.modules.fold": ["Fold", "Unfold"],
    "nn.modules.pixelshuffle": ["PixelShuffle", "PixelUnshuffle"],
    "nn.modules.channelshuffle": ["ChannelShuffle"],
    "nn.parameter": ["Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"],
    "nn.parallel": ["DataParallel"],
    "nn.common_types": ["_size_1_t", "_size_2_t", "_size_3_t", "_size_any_t", "_ratio_2_t",
                        "_size_2_opt_t", "_tensor_list_t"],
    "nn.grad": ["conv1d_input", "conv2d_weight", "conv3d_input"],
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_third_party_import_paths_exist(path):
    theirs = importlib.import_module(f"torch.{path}")
    ours = importlib.import_module(f"minigrad.{path}")
    for name in PATHS[path]:
        assert hasattr(theirs, name), (path, name)        # the list itself is torch's
        assert hasattr(ours, name), (path, name)
        top = getattr(nn, name, None)
        if isinstance(top, type):
            assert getattr(ours, name) is top, (path, name)


def test_isinstance_against_the_path_classes_answers_as_torch():
    from minigrad.nn.modules import batchnorm, instancenorm, normalization  # noqa: F401
    questions = [("BatchNorm2d", (3,), "batchnorm", "_BatchNorm"),
                 ("BatchNorm2d", (3,), "batchnorm", "_NormBase"),
                 ("InstanceNorm2d", (3,), "instancenorm", "_NormBase"),
                 ("InstanceNorm2d", (3,), "batchnorm", "_BatchNorm"),
                 ("SyncBatchNorm", (3,), "batchnorm", "_BatchNorm"),
                 ("LayerNorm", (3,), "batchnorm", "_NormBase"),
                 ("Dropout2d", (), "dropout", "_DropoutNd"),
                 ("Conv2d", (1, 1, 1), "conv", "_ConvNd"),
                 ("CrossEntropyLoss", (), "loss", "_WeightedLoss"),
                 ("LazyBatchNorm1d", (), "batchnorm", "_BatchNorm")]
    for layer, args, path, base in questions:
        t_mod = importlib.import_module(f"torch.nn.modules.{path}")
        o_mod = importlib.import_module(f"minigrad.nn.modules.{path}")
        expected = isinstance(getattr(torch.nn, layer)(*args), getattr(t_mod, base))
        assert isinstance(getattr(nn, layer)(*args), getattr(o_mod, base)) == expected, \
            (layer, base)
