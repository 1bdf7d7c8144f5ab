"""Complex tensors side by side with torch: dtypes and promotion, creation, printing, the parts
of a complex number as views, PyTorch's gradient convention, and the refusals (ordering,
sign, clamp, and every op not checked for complex numbers, which says so rather than answer).
Gradients of each complex-capable op are checked in the registry (``registry_complex.py``:
torch, central differences, second order)."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

Z = np.array([[1 + 2j, -0.5 + 0.3j, 0.7 - 1.1j], [0.2 + 0j, -1.5 - 0.4j, 0.9 + 0.6j]])


def both(fn):
    """fn(lib) on torch and minigrad: the same value (or the same exception type)."""
    out = []
    for lib in (torch, minigrad):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append((fn(lib), None))
        except Exception as exc:  # noqa: BLE001
            out.append((None, exc))
    (t, te), (m, me) = out
    if te is not None or me is not None:
        assert te is not None and me is not None and type(me) is type(te), (te, me)
        return te, me
    return t, m


def same(t, m):
    if isinstance(t, torch.Tensor):
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        assert tuple(m.shape) == tuple(t.shape)
        np.testing.assert_allclose(m.detach().numpy(), t.detach().resolve_conj().numpy(),
                                   rtol=1e-6, atol=1e-7)
    else:
        assert type(m) is type(t) and m == t


@pytest.mark.parametrize("case", [
    lambda lib: lib.ones(2) * 1j,
    lambda lib: lib.ones(2, dtype=lib.float64) * 1j,
    lambda lib: lib.ones(2, dtype=lib.int64) * (1 + 1j),
    lambda lib: lib.ones(2, dtype=lib.cfloat) * lib.ones(2, dtype=lib.float64),
    lambda lib: lib.ones(2, dtype=lib.cfloat) * lib.tensor(2.0, dtype=lib.float64),
    lambda lib: lib.ones(2, dtype=lib.cdouble) + lib.ones(2, dtype=lib.cfloat),
    lambda lib: lib.tensor([1 + 2j, 3]),
    lambda lib: lib.tensor([[1, 2.5], [1j, 0]]),
    lambda lib: lib.tensor(2 - 1j, dtype=lib.complex128),
    lambda lib: lib.tensor([1.0, 2.0]).to(lib.cfloat),
    lambda lib: lib.zeros(2, 3, dtype=lib.cdouble),
    lambda lib: lib.full((2,), 1 - 1j),
    lambda lib: lib.arange(3, dtype=lib.cfloat),             # refused
    lambda lib: lib.eye(2, dtype=lib.complex64),
    lambda lib: lib.tensor(Z).real,
    lambda lib: lib.tensor(Z).imag,
    lambda lib: lib.tensor(Z).angle(),
    lambda lib: lib.tensor(Z).abs(),
    lambda lib: lib.tensor(Z).sgn(),
    lambda lib: lib.tensor(Z).conj(),
    lambda lib: lib.tensor(Z).mH,
    lambda lib: lib.tensor(Z).T.adjoint(),
    lambda lib: lib.view_as_real(lib.tensor(Z)),
    lambda lib: lib.view_as_real(lib.tensor(1 + 2j)),
    lambda lib: lib.view_as_complex(lib.arange(12.0).reshape(2, 3, 2)),
    lambda lib: lib.complex(lib.tensor([1.0, 2.0]), lib.tensor([[3.0], [4.0]])),
    lambda lib: lib.polar(lib.tensor([1.0, 2.0]), lib.tensor([0.5, -1.0])),
    lambda lib: lib.tensor(Z).isreal(),
    lambda lib: lib.tensor(Z) == lib.tensor(Z).conj(),
    lambda lib: lib.isclose(lib.tensor(Z), lib.tensor(Z) + 1e-9),
    lambda lib: lib.tensor(Z).sum(),
    lambda lib: lib.tensor(Z).reshape(3, 2).flip(0)[1:],
    lambda lib: lib.cat([lib.tensor(Z), lib.tensor(Z)], 1),
    lambda lib: lib.where(lib.tensor([True, False, True]), lib.tensor(Z)[0], 0),
    lambda lib: lib.tensor(Z).exp().log().sqrt().tanh(),
    lambda lib: (lib.tensor(Z) ** 2.5).reciprocal().sigmoid(),
    lambda lib: lib.tensor(Z).to(lib.float32),          # the real part, with a warning
    lambda lib: lib.tensor(Z).to(lib.int64),
    lambda lib: complex(lib.tensor(1 + 2j)),
    lambda lib: lib.tensor(1 + 2j).item(),
    lambda lib: lib.tensor([1 + 2j]).tolist(),
    lambda lib: float(lib.tensor(1 + 0j)),
    lambda lib: bool(lib.tensor(1j)),
    lambda lib: lib.cfloat.to_real(),
    lambda lib: lib.float64.to_complex(),
    lambda lib: (lib.cfloat.is_complex, lib.cfloat.is_floating_point, lib.cdouble.itemsize),
])
def test_complex_values_match_torch(case):
    t, m = both(case)
    if isinstance(t, Exception):
        return
    if isinstance(t, (torch.dtype,)):
        assert str(m).split(".")[-1] == str(t).split(".")[-1]
    elif isinstance(t, tuple):
        assert t == m
    elif isinstance(t, list):
        assert t == m
    else:
        same(t, m)


@pytest.mark.parametrize("case", [
    lambda lib: lib.tensor(Z) < lib.tensor(Z),
    lambda lib: lib.tensor(Z).ge(0),
    lambda lib: lib.tensor(Z).sign(),
    lambda lib: lib.tensor(Z).round(),
    lambda lib: lib.tensor(Z).floor(),
    lambda lib: lib.tensor(Z).trunc(),
    lambda lib: lib.tensor(Z).clamp(0, 1),
    lambda lib: lib.tensor(Z).clamp_min(0),
    lambda lib: lib.tensor(Z).max(),
    lambda lib: lib.tensor(Z).isposinf(),
    lambda lib: lib.heaviside(lib.tensor(Z), lib.tensor(Z)),
    lambda lib: lib.deg2rad(lib.tensor(Z)),
    lambda lib: lib.nn.functional.relu(lib.tensor(Z)),
    lambda lib: lib.imag(lib.ones(2)),
    lambda lib: lib.view_as_real(lib.ones(2)),
    lambda lib: lib.view_as_complex(lib.ones(2, 3)),
    lambda lib: lib.view_as_complex(lib.ones(3, 2).t()),
    lambda lib: lib.view_as_complex(lib.ones(3, 2, dtype=lib.int64)),
    lambda lib: lib.complex(lib.ones(2), lib.ones(2, dtype=lib.float64)),
    lambda lib: lib.complex(lib.ones(2, dtype=lib.int64), lib.ones(2, dtype=lib.int64)),
    lambda lib: float(lib.tensor(1 + 2j)),
    lambda lib: int(lib.tensor(1 + 2j)),
    lambda lib: lib.tensor(1j, requires_grad=True).backward(),
    lambda lib: lib.tensor(Z, requires_grad=True).sum().backward(lib.ones(())),
    lambda lib: lib.nn.functional.smooth_l1_loss(lib.tensor(Z), lib.tensor(Z)),
    lambda lib: lib.nn.functional.huber_loss(lib.tensor(Z), lib.tensor(Z)),
    lambda lib: lib.nn.functional.kl_div(lib.tensor(Z), lib.tensor(Z)),
    lambda lib: lib.special.entr(lib.tensor(Z)),
    lambda lib: lib.nn.functional.glu(lib.tensor(Z), 0),
    lambda lib: lib.nn.functional.grid_sample(lib.tensor(Z).reshape(1, 1, 2, 3),
                                              lib.zeros(1, 2, 2, 2, dtype=lib.float64),
                                              align_corners=False),
    lambda lib: lib.nn.functional.fractional_max_pool2d(lib.tensor(Z).reshape(1, 1, 2, 3), 2,
                                                        output_size=1),
    lambda lib: lib.tensor(Z).to(lib.cfloat).float_power_(2),    # complex64 can't hold the result
    lambda lib: lib.tensor(Z).scatter_reduce(0, lib.zeros(2, 3, dtype=lib.int64),
                                             lib.tensor(Z), "amax"),
    lambda lib: lib.tensor(Z).index_reduce(0, lib.tensor([0, 1]), lib.tensor(Z), "prod",
                                           include_self=False),
])
def test_complex_refusals_match_torch(case):
    t, m = both(case)
    assert isinstance(t, Exception), f"torch answered {t!r}"


def test_ops_not_checked_for_complex_refuse_it():
    # the gate: an op whose backward has not been made conjugate-correct says so, rather
    # than give a silently wrong gradient
    class Twice(minigrad.autograd.Function):          # complex_ok not set: refused
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return g * 2

    assert Twice.apply(minigrad.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(NotImplementedError, match="\"Twice\" not implemented for "
                                                  "'ComplexFloat'.*docs/complex.md"):
        Twice.apply(minigrad.ones(2, dtype=minigrad.cfloat))


def test_gradient_convention_matches_torch():
    # z.grad = dL/dx + i dL/dy for a real loss L, through every kind of op at once
    def run(lib):
        z = lib.tensor(Z, requires_grad=True)
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        w = z * x + z.conj() * 1j
        loss = (w.abs() ** 2).sum() + lib.view_as_real(w.exp()).sum() + (w.angle() * x).sum()
        loss = loss + (z.real * z.imag).sum() + (z / (z + 3)).imag.sum()
        loss.backward()
        return z.grad, x.grad
    (tz, tx), (mz, mx) = run(torch), run(minigrad)
    same(tz, mz)
    same(tx, mx)                 # a real input gets the real part of its complex gradient


def test_second_derivative_through_complex_ops_matches_torch():
    def run(lib):
        z = lib.tensor(Z[0], requires_grad=True)
        loss = (z * z.exp()).abs().sum()
        g, = lib.autograd.grad(loss, z, create_graph=True)
        h, = lib.autograd.grad((g.real * g.imag).sum(), z)
        return h
    same(run(torch), run(minigrad))


def test_real_and_imag_are_views():
    for lib in (torch, minigrad):
        z = lib.tensor([1 + 2j, 3 - 4j])
        z.real.mul_(10)
        z.imag[1] = 7
        assert z.tolist() == [10 + 2j, 30 + 7j]
        r = lib.view_as_real(z)
        r[0, 1] = -1
        assert z[0].item() == 10 - 1j
        assert z._version == 3


def test_printing_matches_torch():
    cases = [lambda lib: lib.tensor([1 + 2j, 3 - 1j]),
             lambda lib: lib.tensor([1.5 + 2j, 3 - 1j], dtype=lib.cdouble),
             lambda lib: lib.tensor(2 + 0.5j),
             lambda lib: lib.tensor([[1e-5 + 1j, 2 + 300j]]),
             lambda lib: lib.zeros(0, dtype=lib.cfloat),
             lambda lib: lib.tensor([1j], requires_grad=True)]
    for case in cases:
        assert repr(case(minigrad)).replace("minigrad", "torch") == repr(case(torch))


def test_randn_complex_has_unit_variance_split_between_parts():
    minigrad.manual_seed(0)
    z = minigrad.randn(200_000, dtype=minigrad.cfloat)
    assert z.dtype == minigrad.complex64
    assert abs((z.abs() ** 2).mean().item() - 1) < 0.01
    assert abs(z.real.numpy().var() - 0.5) < 0.01 and abs(z.imag.numpy().var() - 0.5) < 0.01
    u = minigrad.rand(1000, dtype=minigrad.cdouble)
    assert 0 <= u.real.min().item() and u.imag.max().item() < 1


def test_from_numpy_and_back_keep_complex():
    a = (np.arange(4) + 1j).astype(np.complex64)
    t = minigrad.from_numpy(a)
    assert t.dtype == minigrad.complex64 and t.numpy() is not None
    t[0] = 5
    assert a[0] == 5           # shares memory, as torch.from_numpy


def test_cast_to_real_warns_as_torch():
    minigrad._warn_once.state.given.clear()   # (its once-a-process warning given anew)
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        out = minigrad.tensor([1 + 2j]).float()
    assert out.tolist() == [1.0]


def test_gradcheck_reads_complex_numbers_as_pairs_of_reals():
    z = minigrad.tensor([1 + 2j, 0.5 - 1j], dtype=minigrad.cdouble, requires_grad=True)
    x = minigrad.tensor([0.3, 2.0], dtype=minigrad.float64, requires_grad=True)
    assert minigrad.autograd.gradcheck(lambda z, x: (z * z * x).exp(), (z, x))
    assert minigrad.autograd.gradgradcheck(lambda z, x: (z * z * x).exp(), (z, x))
    assert minigrad.autograd.gradcheck(lambda z: (z * z).abs(), (z,))

    class MissingConj(minigrad.autograd.Function):
        complex_ok = True

        def forward(self, a):
            self.save_for_backward(a)
            return a * a

        def backward(self, g):
            a, = self.saved_tensors
            return g * 2 * a               # should be g * conj(2a)

    assert not minigrad.autograd.gradcheck(MissingConj.apply, (z,), raise_exception=False)


def test_save_and_load_keep_complex_tensors(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    path = str(tmp_path / "z.safetensors")
    z64 = minigrad.tensor([1 + 2j, 0.5 - 1j])
    z128 = minigrad.tensor([[1j, 2]], dtype=minigrad.cdouble)
    minigrad.save({"z": z64, "w": z128, "nested": {"v": z128 * 2}}, path)
    back = minigrad.load(path)
    assert back["z"].dtype == minigrad.complex64 and back["z"].tolist() == z64.tolist()
    assert back["w"].dtype == minigrad.complex128 and back["w"].tolist() == z128.tolist()
    assert back["nested"]["v"].tolist() == (z128 * 2).tolist()
    # torch reads complex64 as it is; complex128 (which safetensors lacks) as (real, imag)
    theirs = st.load_file(path)
    assert theirs["z"].dtype == torch.complex64
    assert theirs["w"].tolist() == [[[0.0, 1.0], [2.0, 0.0]]]
    st.save_file({"q": torch.tensor([1 + 1j])}, path)
    assert minigrad.load(path)["q"].tolist() == [1 + 1j]


def _set(t, part, value):
    setattr(t, part, value)
    return t


@pytest.mark.parametrize("case", [
    lambda lib: (lib.finfo(lib.cfloat).eps, lib.finfo(lib.cdouble).bits),
    lambda lib: str(lib.promote_types(lib.cfloat, lib.float64)).split(".")[-1],
    lambda lib: (lib.can_cast(lib.cfloat, lib.float32), lib.can_cast(lib.float64, lib.cfloat)),
    lambda lib: _set(lib.tensor(Z), "real", lib.zeros(2, 3)),
    lambda lib: _set(lib.tensor(Z), "imag", lib.ones(3)),
    lambda lib: lib.tensor(Z).type().split(".")[-1],
    lambda lib: lib.ones(2).cfloat(),
    lambda lib: lib.ones(2).cdouble(),
    lambda lib: lib.tensor(Z) == 2j,
    lambda lib: 1j in lib.tensor([1j, 2]),
    lambda lib: lib.tensor(Z).abs_(),
    lambda lib: lib.full((2,), 1j, dtype=lib.float32),
    lambda lib: lib.full((2,), 1 + 0j, dtype=lib.float32),
    lambda lib: lib.tensor([1j], dtype=lib.float32),
    lambda lib: lib.linspace(0, 1j, 3),
    lambda lib: lib.linspace(0, 1j, 3, dtype=lib.float32),
    lambda lib: lib.nan_to_num(lib.tensor([complex(float("nan"), 1), complex(1, float("inf"))])),
    lambda lib: lib.nan_to_num(lib.tensor([1j], requires_grad=True)),
    lambda lib: lib.tensor(Z).t().contiguous(),
    lambda lib: lib.tensor(Z).mul_(1j).add_(lib.ones(2, 3)),
    lambda lib: lib.ones(2, 3).add_(lib.tensor(Z)),
    lambda lib: lib.tensor(Z).masked_fill(lib.tensor([True, False, True]), 1j),
    lambda lib: lib.tensor(Z).fill_(2 - 1j),
    lambda lib: (lib.tensor(Z) / 0).isnan(),
    lambda lib: 2 ** lib.tensor(Z) + 1 / lib.tensor(Z),
    lambda lib: lib.logaddexp(lib.tensor(Z), lib.tensor(Z).flip(1) * 30),
    lambda lib: lib.logaddexp(lib.tensor([1j]), lib.tensor([2.0])),
    lambda lib: lib.logcumsumexp(lib.tensor(Z) * 3, 1),
    lambda lib: lib.logcumsumexp(lib.tensor(Z).t() * (2 - 5j), 0),
    lambda lib: lib.nn.functional.silu(lib.tensor(Z)),
    lambda lib: lib.nn.functional.silu(lib.tensor(Z, requires_grad=True)),
])
def test_complex_api_details_match_torch(case):
    t, m = both(case)
    if isinstance(t, Exception):
        return
    if isinstance(t, torch.Tensor):
        same(t, m)
    else:
        assert t == m


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("Adam", dict(lr=0.1)), ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.1)), ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adagrad", dict(lr=0.1)), ("Adamax", dict(lr=0.1)), ("NAdam", dict(lr=0.1)),
    ("RAdam", dict(lr=0.1)), ("Adadelta", dict(lr=1.0)), ("ASGD", dict(lr=0.1)),
    ("Rprop", dict(lr=0.1)), ("LBFGS", dict(lr=0.5)),
    ("LBFGS", dict(lr=1, line_search_fn="strong_wolfe")),
])
def test_optimizers_update_complex_parameters_as_torch(name, kwargs):
    # PyTorch updates a complex parameter as the real tensor of its (real, imag) pairs
    def run(lib):
        p = lib.tensor(Z[0], requires_grad=True)
        q = lib.tensor([0.5, -2.0], dtype=lib.float64, requires_grad=True)
        opt = getattr(lib.optim, name)([p, q], **kwargs)
        w = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)

        def closure():
            opt.zero_grad()
            loss = ((p * p.conj()).real * w).sum() + p.imag.sum() + (q * p[:2]).abs().sum()
            loss.backward()
            return loss
        for _ in range(4):
            opt.step(closure)
        return p.detach(), q.detach(), opt.state_dict()["state"]
    (tp, tq, ts), (mp, mq, ms) = run(torch), run(minigrad)
    same(tp, mp)
    same(tq, mq)
    for key, value in ts.get(0, {}).items():
        if isinstance(value, torch.Tensor) and value.shape == tp.shape:
            assert ms[0][key].dtype == minigrad.complex128, key      # kept complex, as torch


def test_complex_sampling_and_init_as_torch():
    minigrad.manual_seed(1)
    x = minigrad.empty(100_000, dtype=minigrad.cfloat).normal_(1.0, 2.0)
    assert abs(x.real.mean().item() - 1) < 0.03 and abs(x.imag.numpy().std() - 2 ** 0.5) < 0.03
    x = minigrad.empty(1000, dtype=minigrad.cdouble).uniform_(1.0, 2.0)
    assert 1 <= x.imag.min().item() and x.real.max().item() < 2
    w = minigrad.empty(100_000, dtype=minigrad.cfloat)
    minigrad.nn.init.normal_(w)                       # E|w|^2 = 1: each part variance 1/2
    assert abs(w.real.numpy().var() - 0.5) < 0.02 and abs(w.imag.numpy().var() - 0.5) < 0.02
    m = minigrad.nn.init.kaiming_uniform_(minigrad.empty(400, 500, dtype=minigrad.cfloat))
    assert 0.105 < m.imag.abs().max().item() <= 0.1096


@pytest.mark.parametrize("case", [
    lambda lib: lib.nn.init.orthogonal_(lib.empty(3, 3, dtype=lib.cfloat)),
    lambda lib: lib.nn.init.trunc_normal_(lib.empty(3, 3, dtype=lib.cfloat)),
    lambda lib: lib.empty(3, dtype=lib.cfloat).random_(),
    lambda lib: lib.empty(3, dtype=lib.cfloat).bernoulli_(),
    lambda lib: lib.empty(3, dtype=lib.cfloat).exponential_(),
])
def test_complex_sampling_refusals_match_torch(case):
    t, m = both(case)
    assert isinstance(t, Exception)


def test_module_to_complex_and_back():
    for lib in (torch, minigrad):
        with pytest.warns(UserWarning, match="Complex modules"):
            layer = lib.nn.Linear(2, 3).to(lib.cfloat)
        assert layer.weight.dtype == lib.complex64 and layer.bias.dtype == lib.complex64
        assert layer.to(lib.float64).weight.dtype == lib.float64
