"""PyTorch's module paths for what minigrad has, side by side with torch: each module third-party
code imports from (``torch.distributions.studentT``, ``torch.optim.adamw``,
``torch.nn.modules.conv``, ``torch.nn.modules.lazy``, ``torch.autograd.anomaly_mode``...) must
import from minigrad too and hold every name torch's ``__all__`` lists, as the same kind of
object.  Plus what those paths brought that computes: ``tril_matrix_to_vec`` /
``vec_to_tril_matrix``, the functional optimizer steps (``adam``, ``sgd``...), the
``LazyModuleMixin`` contract and the global module registration hooks, each against torch."""
import importlib
import inspect
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

DISTRIBUTION_PATHS = ["cauchy", "chi2", "fishersnedecor", "generalized_pareto", "gumbel",
                      "half_cauchy", "half_normal", "inverse_gamma", "kumaraswamy",
                      "one_hot_categorical", "pareto", "studentT", "weibull"]
OPTIMIZERS = ["adam", "adamw", "sgd", "adagrad", "rmsprop", "adadelta", "adamax", "asgd",
              "nadam", "radam", "rprop"]
MODULE_PATHS = (
    [f"torch.distributions.{n}" for n in DISTRIBUTION_PATHS + ["utils"]] +
    [f"torch.optim.{n}" for n in OPTIMIZERS] +
    [f"torch.nn.modules.{n}" for n in ("conv", "linear", "batchnorm", "instancenorm",
                                       "container", "lazy", "loss", "module",
                                       "linear_cross_entropy_options", "linear_cross_entropy")] +
    ["torch.nn.modules", "torch.nn.parameter", "torch.autograd.anomaly_mode"])


def _import(module, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(module.replace("torch", lib, 1))


def _kind(obj):
    if inspect.isclass(obj):
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "callable" if callable(obj) else type(obj).__name__


@pytest.mark.parametrize("path", MODULE_PATHS)
def test_module_path_has_torchs_names(path):
    reference, ours = _import(path, "torch"), _import(path, "minigrad")
    names = list(reference.__all__)
    missing = [n for n in names if not hasattr(ours, n)]
    assert not missing, f"{path} lacks {missing}"
    kinds = {n: (_kind(getattr(reference, n)), _kind(getattr(ours, n))) for n in names}
    wrong = {n: k for n, k in kinds.items() if k[0] != k[1]}
    assert not wrong, f"{path}: kinds differ (torch, minigrad): {wrong}"


@pytest.mark.parametrize("path", DISTRIBUTION_PATHS)
def test_distribution_paths_reexport_the_same_classes(path):
    module = _import(f"torch.distributions.{path}", "minigrad")
    for name in module.__all__:
        assert getattr(module, name) is getattr(minigrad.distributions, name)


def test_lazy_layers_live_beside_their_eager_classes():
    # as torch's: the class's module is the path third-party code imports it from
    nn = minigrad.nn
    for cls, path in [(nn.LazyLinear, "linear"), (nn.LazyConv2d, "conv"),
                      (nn.LazyConvTranspose3d, "conv"), (nn.LazyBatchNorm1d, "batchnorm"),
                      (nn.LazyInstanceNorm2d, "instancenorm"), (nn.ParameterList, "container"),
                      (nn.ParameterDict, "container"),
                      (nn.TripletMarginWithDistanceLoss, "loss"),
                      (nn.LinearCrossEntropyLoss, "loss")]:
        theirs = getattr(torch.nn, cls.__name__).__module__
        assert theirs == f"torch.nn.modules.{path}"
        assert cls.__module__ == f"minigrad.nn.modules.{path}"
    assert minigrad.optim.AdamW.__module__ == "minigrad.optim.adamw"


# ----------------------------------------------------------------------------------------------
# tril_matrix_to_vec / vec_to_tril_matrix
# ----------------------------------------------------------------------------------------------
def _outcome(fn, *args):
    try:
        return fn(*args).detach().numpy()
    except Exception as e:      # noqa: BLE001  (the error is the result compared)
        return type(e), str(e).split(" (")[0]


@pytest.mark.parametrize("diag", [-3, -2, -1, 0, 1, 2, 3])
def test_tril_matrix_to_vec_matches_torch(diag):
    from torch.distributions.utils import tril_matrix_to_vec as theirs
    from minigrad.distributions.utils import tril_matrix_to_vec as ours
    data = np.arange(2 * 3 * 4 * 4, dtype=np.float64).reshape(2, 3, 4, 4)
    for shape in [(4, 4), (3, 4, 4), (2, 3, 4, 4)]:
        a = data.reshape(-1)[:int(np.prod(shape))].reshape(shape)
        expected = _outcome(theirs, torch.tensor(a), diag)
        got = _outcome(ours, minigrad.tensor(a), diag)
        assert type(expected) is type(got)
        if isinstance(expected, tuple):
            assert got == expected
        else:
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("diag", [-5, 4, 9])
def test_tril_matrix_to_vec_refuses_a_diag_outside_the_matrix(diag):
    from torch.distributions.utils import tril_matrix_to_vec as theirs
    from minigrad.distributions.utils import tril_matrix_to_vec as ours
    expected = _outcome(theirs, torch.zeros(4, 4), diag)
    assert _outcome(ours, minigrad.zeros(4, 4), diag) == expected


@pytest.mark.parametrize("diag", [-2, -1, 0, 1, 2])
def test_vec_to_tril_matrix_matches_torch(diag):
    from torch.distributions.utils import vec_to_tril_matrix as theirs
    from minigrad.distributions.utils import vec_to_tril_matrix as ours
    for length in range(0, 16):
        for batch in [(), (2,), (2, 3)]:
            a = np.arange(int(np.prod(batch)) * length, dtype=np.float32).reshape(
                batch + (length,))
            expected = _outcome(theirs, torch.tensor(a), diag)
            got = _outcome(ours, minigrad.tensor(a), diag)
            assert type(expected) is type(got), (length, batch, expected, got)
            if isinstance(expected, tuple):
                assert got[0] is expected[0], (length, batch)
                if expected[0] is ValueError:
                    assert got == expected
            else:
                assert got.dtype == expected.dtype
                np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("diag", [-1, 0, 1])
def test_tril_round_trip_gradients_match_torch(diag):
    from torch.distributions import utils as tu
    from minigrad.distributions import utils as mu
    rng = np.random.default_rng(diag + 5)
    a = rng.standard_normal((2, 4, 4))
    w = rng.standard_normal((2, 4, 4))
    results = []
    for lib, u in ((torch, tu), (minigrad, mu)):
        x = lib.tensor(a, requires_grad=True)
        vec = u.tril_matrix_to_vec(x * 3, diag)
        back = u.vec_to_tril_matrix(vec.exp(), diag)
        (back * lib.tensor(w)).sum().backward()
        results.append((vec.detach().numpy(), back.detach().numpy(), x.grad.numpy()))
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# functional optimizer steps
# ----------------------------------------------------------------------------------------------
def test_functional_optimizer_signatures_match_torch():
    for name in OPTIMIZERS:
        theirs = inspect.signature(getattr(_import(f"torch.optim.{name}", "torch"), name))
        ours = inspect.signature(getattr(_import(f"torch.optim.{name}", "minigrad"), name))
        describe = [[(p.name, p.kind, p.default) for p in s.parameters.values()]
                    for s in (theirs, ours)]
        assert describe[1] == describe[0], name


# name -> (state lists: kind per list, hyper-parameters); a kind is 'zeros' (shaped like the
# parameter), 'step' (a 0-d counter), 'one' (0-d, 1.0), 'lr' (0-d, the lr), 'lr_full'
# (shaped like the parameter, filled with the lr), 'none' (a None per parameter) or 'empty'
_CASES = [
    ("adam", ["zeros", "zeros", "zeros", "step"],
     dict(amsgrad=True, beta1=0.9, beta2=0.99, lr=0.01, weight_decay=0.1, eps=1e-8,
          maximize=False)),
    ("adam", ["zeros", "zeros", "empty", "step"],
     dict(amsgrad=False, beta1=0.8, beta2=0.9, lr=0.05, weight_decay=0.0, eps=1e-6,
          maximize=True)),
    ("adamw", ["zeros", "zeros", "empty", "step"],
     dict(amsgrad=False, beta1=0.9, beta2=0.99, lr=0.01, weight_decay=0.1, eps=1e-8,
          maximize=False)),
    ("adamw", ["zeros", "zeros", "zeros", "step"],
     dict(amsgrad=True, beta1=0.9, beta2=0.99, lr=0.01, weight_decay=0.3, eps=1e-8,
          maximize=True)),
    ("sgd", ["none"], dict(weight_decay=0.1, momentum=0.9, lr=0.1, dampening=0.0,
                           nesterov=True, maximize=False)),
    ("sgd", ["none"], dict(weight_decay=0.0, momentum=0.5, lr=0.1, dampening=0.3,
                           nesterov=False, maximize=True)),
    ("sgd", ["none"], dict(weight_decay=0.01, momentum=0.0, lr=0.1, dampening=0.0,
                           nesterov=False, maximize=False)),
    ("adagrad", ["zeros", "step"], dict(lr=0.1, weight_decay=0.1, lr_decay=0.01, eps=1e-10,
                                        maximize=False)),
    ("rmsprop", ["zeros", "zeros", "zeros", "step"],
     dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.1, momentum=0.5, centered=True)),
    ("rmsprop", ["zeros", "empty", "empty", "step"],
     dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False)),
    ("adadelta", ["zeros", "zeros", "step"],
     dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.1, maximize=True)),
    ("adamax", ["zeros", "zeros", "step"],
     dict(eps=1e-8, beta1=0.9, beta2=0.99, lr=0.01, weight_decay=0.1)),
    ("asgd", ["zeros", "one", "lr", "step"],
     dict(lambd=1e-2, lr=0.01, t0=2, alpha=0.75, weight_decay=0.1)),
    ("nadam", ["zeros", "zeros", "one", "step"],
     dict(beta1=0.9, beta2=0.99, lr=0.01, weight_decay=0.1, momentum_decay=4e-3, eps=1e-8)),
    ("nadam", ["zeros", "zeros", "one", "step"],
     dict(decoupled_weight_decay=True, beta1=0.9, beta2=0.99, lr=0.01, weight_decay=0.1,
          momentum_decay=4e-3, eps=1e-8)),
    ("radam", ["zeros", "zeros", "step"],
     dict(beta1=0.9, beta2=0.99, lr=0.01, weight_decay=0.1, eps=1e-8)),
    ("radam", ["zeros", "zeros", "step"],
     dict(decoupled_weight_decay=True, beta1=0.9, beta2=0.99, lr=0.01, weight_decay=0.1,
          eps=1e-8)),
    ("rprop", ["zeros", "lr_full", "step"],
     dict(step_size_min=1e-6, step_size_max=50, etaminus=0.5, etaplus=1.2)),
]


def _state_lists(lib, kinds, params, lr):
    made = {"zeros": lambda p: lib.zeros_like(p), "step": lambda p: lib.tensor(0.0),
            "one": lambda p: lib.tensor(1.0), "lr": lambda p: lib.tensor(lr),
            "lr_full": lambda p: lib.full_like(p, lr), "none": lambda p: None}
    return [[] if k == "empty" else [made[k](p) for p in params] for k in kinds]


def _run_functional(lib, name, kinds, hyper, arrays, grads, lr_tensor=False):
    fn = getattr(_import(f"torch.optim.{name}", lib.__name__), name)
    params = [lib.tensor(a.copy()) for a in arrays]
    states = _state_lists(lib, kinds, params, 0.01)
    if lr_tensor:
        hyper = dict(hyper, lr=lib.tensor(hyper["lr"]))
    for step_grads in grads:
        fn(params, [lib.tensor(g) for g in step_grads], *states, **hyper)
    return params, states


def _arrays(dtype, steps=6, complex_=False):
    rng = np.random.default_rng(7)
    shapes = [(3, 4), (5,), ()]

    def draw(shape):
        a = rng.standard_normal(shape)
        if complex_:
            a = a + 1j * rng.standard_normal(shape)
        return a.astype(dtype)
    return [draw(s) for s in shapes], [[draw(s) for s in shapes] for _ in range(steps)]


def _assert_same(ours, theirs, rtol, atol):
    (p_ours, s_ours), (p_theirs, s_theirs) = ours, theirs
    for a, b in zip(p_ours, p_theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=atol)
    assert len(s_ours) == len(s_theirs)
    for list_ours, list_theirs in zip(s_ours, s_theirs):
        assert len(list_ours) == len(list_theirs)
        for a, b in zip(list_ours, list_theirs):
            assert (a is None) == (b is None)
            if a is not None:
                assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", range(len(_CASES)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional_optimizer_steps_match_torch(case, dtype):
    name, kinds, hyper = _CASES[case]
    arrays, grads = _arrays(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    _assert_same(_run_functional(minigrad, name, kinds, hyper, arrays, grads),
                 _run_functional(torch, name, kinds, hyper, arrays, grads), **tol)


@pytest.mark.parametrize("case", [0, 2, 4, 7, 8, 14])
def test_functional_optimizer_steps_on_complex_parameters_match_torch(case):
    name, kinds, hyper = _CASES[case]
    arrays, grads = _arrays(np.complex128, complex_=True)
    _assert_same(_run_functional(minigrad, name, kinds, hyper, arrays, grads),
                 _run_functional(torch, name, kinds, hyper, arrays, grads),
                 rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [0, 2, 4, 7])
def test_functional_optimizer_with_a_tensor_lr_matches_torch(case):
    name, kinds, hyper = _CASES[case]
    arrays, grads = _arrays(np.float32)
    _assert_same(_run_functional(minigrad, name, kinds, hyper, arrays, grads, True),
                 _run_functional(torch, name, kinds, hyper, arrays, grads, True),
                 rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", [0, 2, 4, 7])
@pytest.mark.parametrize("found", [0.0, 1.0])
def test_fused_functional_step_unscales_or_skips_as_torch(case, found):
    name, kinds, hyper = _CASES[case]
    arrays, grads = _arrays(np.float32, steps=1)
    results = []
    for lib in (torch, minigrad):
        fn = getattr(_import(f"torch.optim.{name}", lib.__name__), name)
        params = [lib.tensor(a.copy()) for a in arrays]
        states = _state_lists(lib, kinds, params, 0.01)
        step_grads = [lib.tensor(g * 4) for g in grads[0]]
        fn(params, step_grads, *states, fused=True, grad_scale=lib.tensor(4.0),
           found_inf=lib.tensor(found), **hyper)
        results.append((params + step_grads, [s for s in states if name != "sgd"]))
    _assert_same(results[1], results[0], rtol=1e-5, atol=1e-6)


def test_sgd_functional_puts_new_momentum_buffers_in_the_list():
    for lib in (torch, minigrad):
        buffers = [None]
        p = lib.tensor([1.0, 2.0])
        sgd = _import("torch.optim.sgd", lib.__name__).sgd
        sgd([p], [lib.tensor([0.5, -1.0])], buffers, weight_decay=0.0, momentum=0.9, lr=0.1,
            dampening=0.0, nesterov=False, maximize=False)
        assert isinstance(buffers[0], lib.Tensor)
        np.testing.assert_allclose(buffers[0].numpy(), [0.5, -1.0])


def test_functional_optimizer_errors_match_torch():
    def outcome(lib, call):
        try:
            call(lib)
        except Exception as e:   # noqa: BLE001  (the error is the result compared)
            return type(e), str(e)
        return None

    def optim(lib, name):     # torch.optim drops its submodules' names: import them
        return getattr(_import(f"torch.optim.{name}", lib.__name__), name)

    def steps_not_tensors(lib):
        optim(lib, "adam")([lib.ones(2)], [lib.ones(2)], [lib.zeros(2)], [lib.zeros(2)], [],
                            [0], amsgrad=False, beta1=0.9, beta2=0.99, lr=0.1,
                            weight_decay=0.0, eps=1e-8, maximize=False)

    def mu_products_not_tensors(lib):
        optim(lib, "nadam")([lib.ones(2)], [lib.ones(2)], [lib.zeros(2)], [lib.zeros(2)],
                              [1.0], [lib.tensor(0.0)], beta1=0.9, beta2=0.99, lr=0.1,
                              weight_decay=0.0, momentum_decay=4e-3, eps=1e-8)

    def scale_without_fused(lib):
        optim(lib, "sgd")([lib.ones(2)], [lib.ones(2)], [None], grad_scale=lib.tensor(2.0),
                          weight_decay=0.0, momentum=0.0, lr=0.1, dampening=0.0,
                          nesterov=False, maximize=False)

    for call in (steps_not_tensors, mu_products_not_tensors, scale_without_fused):
        expected = outcome(torch, call)
        assert expected is not None
        assert outcome(minigrad, call) == expected, call.__name__


# ----------------------------------------------------------------------------------------------
# LazyModuleMixin
# ----------------------------------------------------------------------------------------------
def _lazy_classes(lib):
    nn = lib.nn
    mixin = _import("torch.nn.modules.lazy", lib.__name__).LazyModuleMixin
    parameter = _import("torch.nn.parameter", lib.__name__)

    class LazyScale(mixin, nn.Module):
        """A custom lazy module: a per-feature scale, sized by the first input; it keeps its
        own class and forward (cls_to_become None)."""

        def __init__(self):
            super().__init__()
            self.scale = parameter.UninitializedParameter()
            self.register_buffer("seen", parameter.UninitializedBuffer())

        def initialize_parameters(self, x, *, shift=0.0):
            if self.has_uninitialized_params():
                with lib.no_grad():
                    self.scale.materialize((x.shape[-1],))
                    self.scale.fill_(2.0 + shift)
                    self.seen.materialize((1,))
                    self.seen.fill_(1.0)

        def forward(self, x, *, shift=0.0):
            return x * self.scale + shift

    class HalfLazy(mixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.a = parameter.UninitializedParameter()
            self.b = parameter.UninitializedParameter()

        def initialize_parameters(self, x):
            self.a.materialize((1,))

        def forward(self, x):
            return x

    class Bare(mixin, nn.Module):
        def forward(self, x):
            return x

    class BecomesLinear(mixin, nn.Linear):
        cls_to_become = nn.Linear

        def __init__(self, out_features):
            super().__init__(0, out_features)
            self.weight = parameter.UninitializedParameter()

        def initialize_parameters(self, x):
            with lib.no_grad():
                self.weight.materialize((self.out_features, x.shape[-1]))
                self.weight.copy_(lib.ones(self.out_features, x.shape[-1]))
                self.in_features = x.shape[-1]

    return LazyScale, HalfLazy, Bare, BecomesLinear, parameter


def test_custom_lazy_module_initializes_from_its_first_call_as_torch():
    records = []
    for lib in (torch, minigrad):
        LazyScale, _, _, BecomesLinear, parameter = _lazy_classes(lib)
        m = LazyScale()
        record = [m.has_uninitialized_params(), parameter.is_lazy(m.scale),
                  len(m._forward_pre_hooks)]
        out = m(lib.ones(2, 3), shift=1.0)
        record += [m.has_uninitialized_params(), parameter.is_lazy(m.scale),
                   len(m._forward_pre_hooks), type(m).__name__, out.detach().numpy().tolist(),
                   m(lib.ones(1, 3)).detach().numpy().tolist(), sorted(m.state_dict())]
        lin = BecomesLinear(2)
        y = lin(lib.ones(4, 3))
        record += [type(lin).__name__, tuple(lin.weight.shape), tuple(y.shape),
                   len(lin._forward_pre_hooks), repr(lin)]
        records.append(record)
    assert records[1] == records[0]


def test_lazy_module_errors_match_torch():
    def outcome(call):
        try:
            call()
        except Exception as e:   # noqa: BLE001  (the error is the result compared)
            return type(e), str(e)
        return None
    results = []
    for lib in (torch, minigrad):
        _, HalfLazy, Bare, _, _ = _lazy_classes(lib)
        bare = Bare()
        results.append([outcome(lambda: HalfLazy()(lib.ones(1))),
                        outcome(lambda: bare(lib.ones(1))),
                        outcome(lambda: bare.initialize_parameters()),
                        outcome(lambda: bare._replicate_for_data_parallel()),
                        bare.has_uninitialized_params()])
    assert results[1] == results[0]
    assert all(r is not None for r in results[0][:4])


@pytest.mark.parametrize("name, shape", [("LazyLinear", (2, 5)), ("LazyConv2d", (1, 3, 6, 6)),
                                         ("LazyConvTranspose1d", (2, 3, 5)),
                                         ("LazyBatchNorm2d", (2, 3, 4, 4)),
                                         ("LazyInstanceNorm1d", (2, 3, 5))])
def test_builtin_lazy_layers_as_torch_after_the_mixin_move(name, shape):
    args = {"LazyLinear": (4,), "LazyConv2d": (4, 3), "LazyConvTranspose1d": (2, 3)}.get(name, ())
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    results = []
    for lib in (torch, minigrad):
        m = getattr(lib.nn, name)(*args)
        hooks_before = len(m._forward_pre_hooks)
        m(lib.tensor(x))
        results.append((hooks_before, len(m._forward_pre_hooks), type(m).__name__, repr(m),
                        {k: tuple(v.shape) for k, v in m.state_dict().items()}))
    assert results[1] == results[0]


def test_lazy_layer_filled_by_load_state_dict_as_torch():
    results = []
    for lib in (torch, minigrad):
        m = lib.nn.LazyLinear(3)
        source = lib.nn.Linear(4, 3)
        m.load_state_dict(source.state_dict())
        out = m(lib.ones(2, 4))
        expected = source(lib.ones(2, 4))
        results.append((type(m).__name__, repr(m), len(m._forward_pre_hooks)))
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy())
    assert results[1] == results[0]


# ----------------------------------------------------------------------------------------------
# torch.nn.modules.module's global registration hooks, Container, anomaly_mode
# ----------------------------------------------------------------------------------------------
def _registration_log(lib):
    module = _import("torch.nn.modules.module", lib.__name__)
    nn = lib.nn
    log = []

    def show(value):
        return tuple(value.shape) if isinstance(value, lib.Tensor) else type(value).__name__

    def logger(kind):
        return lambda m, name, value: log.append((kind, type(m).__name__, name, show(value)))
    handles = [module.register_module_buffer_registration_hook(logger("buffer")),
               module.register_module_parameter_registration_hook(logger("parameter")),
               module.register_module_module_registration_hook(logger("module"))]
    try:
        nn.Sequential(nn.Linear(2, 3, bias=False), nn.BatchNorm1d(3))
        ml = nn.ModuleList([nn.ReLU()])
        ml.append(nn.Tanh())
        ml.extend([nn.ReLU()])
        ml.insert(0, nn.Sigmoid())
        ml[1] = nn.GELU()
        nn.ModuleDict({"a": nn.ReLU()}).update({"b": nn.Tanh()})
        nn.ParameterList([nn.Parameter(lib.ones(2))]).append(nn.Parameter(lib.ones(3)))
        nn.ParameterDict({"a": nn.Parameter(lib.ones(2))})["b"] = nn.Parameter(lib.ones(1))
        m = nn.Module()
        m.register_buffer("b", None)
        m.register_parameter("p", None)
        m.add_module("c", None)
        m.c = nn.ReLU()
        m.c = None
        m.b = lib.ones(1)
        m.b = None
        m.p = nn.Parameter(lib.ones(2))
        m.p = None
        m.q = nn.Buffer(lib.ones(3))
    finally:
        for h in handles:
            h.remove()
    nn.Linear(1, 1)                       # removed: no more entries
    return log


def test_global_registration_hooks_see_what_torchs_see():
    assert _registration_log(minigrad) == _registration_log(torch)


def test_global_registration_hooks_can_replace_the_value():
    results = []
    for lib in (torch, minigrad):
        module = _import("torch.nn.modules.module", lib.__name__)
        nn = lib.nn
        given = []

        def weight_of_ones(m, name, param):
            if name == "weight" and isinstance(m, nn.Linear):
                given.append(nn.Parameter(lib.ones(3, 2)))
                return given[-1]
            return None
        handles = [
            module.register_module_parameter_registration_hook(weight_of_ones),
            module.register_module_buffer_registration_hook(
                lambda m, n, b: lib.full((2,), 7.0) if n == "running_mean" else None),
            module.register_module_module_registration_hook(
                lambda m, n, c: nn.Tanh() if isinstance(c, nn.ReLU) else None)]
        try:
            seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.BatchNorm1d(2))
        finally:
            for h in handles:
                h.remove()
        results.append((repr(seq), seq[0].weight is given[0], tuple(seq[0].weight.shape),
                        seq[2].running_mean.numpy().tolist()))
    assert results[1] == results[0]


def test_global_backward_hook_kinds_cannot_be_mixed(monkeypatch):
    hooks = _import("torch.nn.modules.hooks", "minigrad")
    monkeypatch.setattr(torch.nn.modules.module, "_global_is_full_backward_hook", None)
    monkeypatch.setitem(hooks._global_backward_kind, "full", None)
    results = []
    for lib in (torch, minigrad):
        module = _import("torch.nn.modules.module", lib.__name__)
        seen = []
        handle = module.register_module_backward_hook(
            lambda m, gi, go: seen.append((type(m).__name__, tuple(go[0].shape))))
        lin = lib.nn.Linear(2, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lin(lib.ones(3, 2, requires_grad=True)).sum().backward()
        handle.remove()
        try:
            module.register_module_full_backward_hook(lambda *a: None)
            error = None
        except RuntimeError as e:
            error = str(e)
        results.append((seen, error))
    assert results[1] == results[0]
    assert results[0][1] is not None


def test_container_is_deprecated_as_in_torch():
    results = []
    for lib in (torch, minigrad):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = _import("torch.nn.modules.container", lib.__name__).Container(
                a=lib.nn.ReLU(), b=lib.nn.Tanh())
        results.append(([(w.category, str(w.message)) for w in caught], list(dict(
            c.named_children())), repr(c)))
    assert results[1] == results[0]


def test_anomaly_mode_path_is_the_grad_mode_switch():
    anomaly = _import("torch.autograd.anomaly_mode", "minigrad")
    assert anomaly.detect_anomaly is minigrad.autograd.detect_anomaly
    assert anomaly.set_detect_anomaly is minigrad.autograd.set_detect_anomaly
    with anomaly.set_detect_anomaly(True):
        assert minigrad.is_anomaly_enabled()
    assert not minigrad.is_anomaly_enabled()
