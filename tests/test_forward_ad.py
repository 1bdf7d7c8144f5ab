"""minigrad.autograd.forward_ad beside torch.autograd.forward_ad: the same programs, written
once with ``lib``, give the same primals and tangents (JVPs), the same None tangents and the
same errors; forward-over-reverse gives torch's Hessian-vector products."""
import numpy as np
import pytest
import torch

import minigrad

RNG = np.random.default_rng(0)
LIBS = (minigrad, torch)


def arr(*shape, dtype=np.float64):
    a = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * RNG.standard_normal(shape)
    return a.astype(dtype)


def fw(lib):
    return lib.autograd.forward_ad


def to_np(t):
    return None if t is None else t.detach().numpy()


def jvp_in(lib, f, primals, tangents, consts=()):
    """(primal, tangent) of f(*duals, *consts) in ``lib``, as numpy arrays."""
    ad = fw(lib)
    with ad.dual_level():
        duals = [ad.make_dual(lib.tensor(p), lib.tensor(t)) for p, t in zip(primals, tangents)]
        out = f(lib, *duals, *[lib.tensor(c) for c in consts])
        p, t = ad.unpack_dual(out)
        return to_np(p), to_np(t)


def check_jvp(f, primals, consts=(), tangents=None, rtol=1e-7, atol=1e-9):
    tangents = tangents or [arr(*np.shape(p), dtype=np.asarray(p).dtype) for p in primals]
    (mp, mt), (tp, tt) = (jvp_in(lib, f, primals, tangents, consts) for lib in LIBS)
    np.testing.assert_allclose(mp, tp, rtol=rtol, atol=atol)
    assert (mt is None) == (tt is None)
    if tt is not None:
        assert mt.dtype == tt.dtype and mt.shape == tt.shape
        np.testing.assert_allclose(mt, tt, rtol=rtol, atol=atol)
    return mt


# ----------------------------------------------------------------------------------------------
# JVPs of single ops and of small models
# ----------------------------------------------------------------------------------------------
UNARY = {
    "exp": lambda L, x: x.exp(),
    "log_abs": lambda L, x: (x.abs() + 0.5).log(),
    "tanh": lambda L, x: L.tanh(x),
    "sigmoid": lambda L, x: L.sigmoid(x),
    "relu": lambda L, x: L.relu(x),
    "gelu": lambda L, x: L.nn.functional.gelu(x),
    "pow": lambda L, x: (x * x + 1) ** 1.5,
    "div": lambda L, x: 1 / (x * x + 1),
    "sum_mean": lambda L, x: x.sum(0) * x.mean(),
    "max": lambda L, x: x.max(dim=1).values,
    "softmax": lambda L, x: L.softmax(x, dim=-1),
    "log_softmax": lambda L, x: L.log_softmax(x, dim=0),
    "norm": lambda L, x: L.linalg.vector_norm(x),
    "views": lambda L, x: x.t().reshape(-1)[1:5].flip(0),
    "cat_stack": lambda L, x: L.stack([L.cat([x, x * 2], 0), L.cat([x.sin(), x], 0)]),
    "cumsum": lambda L, x: x.cumsum(1) * x,
    "where": lambda L, x: L.where(x > 0, x * 3, x.cos()),
    "layer_norm": lambda L, x: L.nn.functional.layer_norm(x, (4,)),
    "matmul_self": lambda L, x: x @ x.t(),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_jvp_of_ops(name):
    check_jvp(UNARY[name], [arr(3, 4)])


def mlp(L, x, w1, b1, w2, b2):
    F = L.nn.functional
    return F.linear(F.gelu(F.linear(x, w1, b1)), w2, b2).softmax(-1)


def test_jvp_of_mlp_in_every_argument():
    primals = [arr(5, 3), arr(8, 3), arr(8), arr(2, 8), arr(2)]
    check_jvp(mlp, primals)                             # all five duals at once
    for i in range(5):                                  # one dual, the rest constants
        check_jvp(lambda L, d, *rest, i=i: mlp(L, *rest[:i], d, *rest[i:]),
                  [primals[i]], consts=primals[:i] + primals[i + 1:])


def conv_net(L, x, w, k):
    F = L.nn.functional
    h = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
    h = F.batch_norm(h, None, None, training=True)
    return F.cross_entropy(h.flatten(1) @ k, L.tensor([0, 2]))


def test_jvp_of_conv_net_and_losses():
    check_jvp(conv_net, [arr(2, 1, 6, 6), arr(3, 1, 3, 3), arr(27, 4)])
    F = lambda L: L.nn.functional      # noqa: E731
    check_jvp(lambda L, a, b: F(L).mse_loss(a, b) + F(L).smooth_l1_loss(a, b), [arr(4, 3),
                                                                                  arr(4, 3)])
    check_jvp(lambda L, a, b: F(L).binary_cross_entropy_with_logits(a, b.sigmoid()),
              [arr(6), arr(6)])
    check_jvp(lambda L, a: F(L).nll_loss(a.log_softmax(1), L.tensor([1, 0, 2])), [arr(3, 3)])


def test_nested_functions_and_reuse():
    def f(L, x, y):
        def g(t):
            return L.tanh(t @ y).sum(0)
        return g(x) * g(x * 2) + (x * y.t()).sum()
    check_jvp(f, [arr(3, 3), arr(3, 3)])


def test_float32():
    check_jvp(lambda L, x: x.exp() @ x, [arr(3, 3, dtype=np.float32)], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# What has a tangent, and what has none
# ----------------------------------------------------------------------------------------------
def tangents_of(lib):
    ad = fw(lib)
    x = lib.tensor([1.0, 2.0, -3.0])
    out = {}
    with ad.dual_level() as level:
        out["level"] = level
        d = ad.make_dual(x, lib.tensor([1.0, 0.5, 2.0]))
        y = d * d
        out["dual"] = ad.unpack_dual(d)
        out["plain"] = ad.unpack_dual(x)
        out["plain_other_level"] = ad.unpack_dual(x, level=3)
        out["zero"] = ad.unpack_dual(d * 0 + x)          # depends on the dual: zeros
        out["detached"] = ad.unpack_dual(d.detach() * 2)
        out["argmax"] = ad.unpack_dual(d.argmax())
        out["compare"] = ad.unpack_dual(d > 0)
        out["y"] = ad.unpack_dual(y)
        out["fields"] = ad.UnpackedDualTensor._fields
    out["after"] = ad.unpack_dual(y)                        # the level is gone
    out["dual_after"] = ad.unpack_dual(d)
    return {k: tuple(to_np(t) if hasattr(t, "detach") else t for t in v)
            if isinstance(v, tuple) else v for k, v in out.items()}


def test_tangent_none_and_zero_cases():
    m, t = tangents_of(minigrad), tangents_of(torch)
    assert m.keys() == t.keys()
    for key in t:
        if isinstance(t[key], tuple):
            for a, b in zip(m[key], t[key]):
                if isinstance(b, str):
                    assert a == b
                    continue
                assert (a is None) == (b is None), key
                if b is not None:
                    np.testing.assert_allclose(a, b, err_msg=key)
        else:
            assert m[key] == t[key]
    assert type(fw(minigrad).unpack_dual(minigrad.zeros(1))).__name__ == "UnpackedDualTensor"


def test_primal_shares_memory_and_unpacked_tensors_are_plain():
    ad = fw(minigrad)
    x = minigrad.tensor([1.0, 2.0])
    with ad.dual_level():
        d = ad.make_dual(x, minigrad.ones(2))
        assert d.data_ptr() == x.data_ptr()
        p, t = ad.unpack_dual((d * 3).exp())
        assert not p.requires_grad and not t.requires_grad
        x.mul_(2)                           # seen through the dual, as in torch
        assert d.tolist() == [2.0, 4.0]


def test_several_duals_and_tangent_dtype():
    check_jvp(lambda L, a, b, c: (a * b).sum() * c + a.sin() @ b.t(),
              [arr(2, 3), arr(2, 3), arr(2)])
    for lib in LIBS:                # the dual's own tangent comes back as given
        ad = fw(lib)
        with ad.dual_level():
            d = ad.make_dual(lib.tensor([1.0], dtype=lib.float64), lib.tensor([2.0]))
            assert ad.unpack_dual(d).tangent.dtype == lib.float32
            assert ad.unpack_dual(d * 2).tangent.dtype == lib.float64


def test_dual_level_as_decorator_and_enter_exit():
    for lib in LIBS:
        ad = fw(lib)

        @ad.dual_level()
        def f(x, v):
            return ad.unpack_dual(ad.make_dual(x, v).exp()).tangent

        np.testing.assert_allclose(to_np(f(lib.tensor([0.0]), lib.tensor([3.0]))), [3.0])
        level = ad.enter_dual_level()
        assert level == 0
        ad.exit_dual_level(level=level)


def test_no_grad_inside_the_level():
    for lib in LIBS:
        ad = fw(lib)
        with ad.dual_level():
            with lib.no_grad():     # make_dual and unpack_dual themselves work here
                d = ad.make_dual(lib.tensor([1.0]), lib.tensor([2.0]))
            y = d * 3
            with lib.no_grad():
                assert ad.unpack_dual(y).tangent.tolist() == [6.0]


# ----------------------------------------------------------------------------------------------
# Errors, in torch's words
# ----------------------------------------------------------------------------------------------
def error_of(lib, program):
    try:
        program(lib, fw(lib))
    except Exception as e:              # noqa: BLE001
        return type(e).__name__, str(e)
    finally:
        while fw(lib)._current_level >= 0:
            fw(lib).exit_dual_level()
    return None


def _nested(L, ad):
    with ad.dual_level():
        with ad.dual_level():
            pass


def _dual_of_dual(L, ad):
    with ad.dual_level():
        d = ad.make_dual(L.ones(2), L.ones(2))
        ad.make_dual(d * 2, L.ones(2))


def _enter_twice(L, ad):
    ad.enter_dual_level()
    ad.enter_dual_level()


ERRORS = {
    "outside": lambda L, ad: ad.make_dual(L.ones(3), L.ones(3)),
    "size": lambda L, ad: ad.enter_dual_level() or ad.make_dual(L.ones(2, 3), L.ones(3, 2)),
    "int_primal": lambda L, ad: ad.enter_dual_level() or ad.make_dual(L.arange(3), L.ones(3)),
    "int_tangent": lambda L, ad: ad.enter_dual_level() or ad.make_dual(L.ones(3), L.arange(3)),
    "nested": _nested,
    "enter_twice": _enter_twice,
    "exit_none": lambda L, ad: ad.exit_dual_level(),
    "exit_wrong": lambda L, ad: ad.enter_dual_level() or ad.exit_dual_level(level=3),
    "bad_level": lambda L, ad: ad.enter_dual_level() or ad.make_dual(L.ones(1), L.ones(1),
                                                                     level=4),
    "unpack_level": lambda L, ad: ad.enter_dual_level() or ad.unpack_dual(
        ad.make_dual(L.ones(1), L.ones(1)) * 2, level=2),
    "unpack_int": lambda L, ad: ad.enter_dual_level() or ad.unpack_dual(3),
    "dual_of_dual": _dual_of_dual,
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_in_torchs_words(name):
    m, t = error_of(minigrad, ERRORS[name]), error_of(torch, ERRORS[name])
    assert t is not None and m is not None
    assert m[0] == t[0] and m[1].replace("minigrad.", "torch.") == t[1], (m, t)


def test_in_place_write_to_a_dual_of_a_leaf_is_refused():
    for lib in LIBS:
        ad = fw(lib)
        with ad.dual_level():
            d = ad.make_dual(lib.ones(2, requires_grad=True), lib.ones(2))
            with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires"):
                d.mul_(2)


def test_in_place_op_on_a_dual_moves_its_tangent():
    check_jvp(lambda L, x: x.clone().mul_(3).exp_(), [arr(4)])
    for lib in LIBS:
        ad = fw(lib)
        with ad.dual_level():
            d = ad.make_dual(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 1.0]))
            d.mul_(2)
            assert ad.unpack_dual(d).tangent.tolist() == [2.0, 2.0]


# ----------------------------------------------------------------------------------------------
# Reverse mode inside the level, forward-over-reverse (HVP), reverse-over-forward
# ----------------------------------------------------------------------------------------------
def hvp_and_more(lib, x0, v0, w0):
    ad = fw(lib)
    x = lib.tensor(x0, requires_grad=True)
    w = lib.tensor(w0, requires_grad=True)
    with ad.dual_level():
        d = ad.make_dual(x, lib.tensor(v0))
        loss = (lib.tanh(d @ w) ** 2).sum() + (d ** 3).sum()
        g, = lib.autograd.grad(loss, x, create_graph=True)
        primal, hv = ad.unpack_dual(g)                  # H v, H the Hessian in x
        jv = ad.unpack_dual(loss).tangent
        jv.backward()                                   # reverse over forward: d(Jv)/dw
        return [to_np(t) for t in (g, primal, hv, jv, w.grad)]


def test_forward_over_reverse_hvp_and_reverse_over_forward():
    x0, v0, w0 = arr(3, 4), arr(3, 4), arr(4, 2)
    m, t = hvp_and_more(minigrad, x0, v0, w0), hvp_and_more(torch, x0, v0, w0)
    for a, b in zip(m, t):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_backward_inside_the_level_reaches_the_primal():
    for lib in LIBS:
        ad = fw(lib)
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with ad.dual_level():
            d = ad.make_dual(x, lib.tensor([1.0, 1.0]))
            (d * d).sum().backward()
        assert x.grad.tolist() == [2.0, 4.0]


# ----------------------------------------------------------------------------------------------
# Complex tensors: the tangent is the plain (non-conjugated) derivative along v
# ----------------------------------------------------------------------------------------------
COMPLEX = {
    "holomorphic": lambda L, z: (z * z).exp() / (z + 3),
    "conj_times": lambda L, z: z.conj() * z * z,
    "abs": lambda L, z: z.abs(),
    "real_imag": lambda L, z: z.real * z.imag + z.angle(),
    "matmul": lambda L, z: z @ z.mT,
    "sum_mean": lambda L, z: (z.sum() + z.mean(0)) * z,
    "fft": lambda L, z: L.fft.fft(z, dim=-1),
}


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("name", sorted(COMPLEX))
def test_complex_jvps(name, dtype):
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.complex64 else {}
    check_jvp(COMPLEX[name], [arr(3, 3, dtype=dtype)], **tol)


def test_real_to_complex_and_back():
    check_jvp(lambda L, a, b: L.view_as_real(L.fft.fft(L.complex(a, b) ** 2)),
              [arr(5), arr(5)])
    check_jvp(lambda L, z, r: (z * r).abs() + (z.conj() * r).real,
              [arr(4, dtype=np.complex128), arr(4)])


def test_complex_hvp():
    def program(lib, z0, v0):
        ad = fw(lib)
        z = lib.tensor(z0, requires_grad=True)
        with ad.dual_level():
            d = ad.make_dual(z, lib.tensor(v0))
            loss = (d.abs() ** 3).sum() + (d * d).real.sum()
            g, = lib.autograd.grad(loss, z, create_graph=True)
            return to_np(ad.unpack_dual(g).tangent)
    z0, v0 = arr(4, dtype=np.complex128), arr(4, dtype=np.complex128)
    np.testing.assert_allclose(program(minigrad, z0, v0), program(torch, z0, v0), rtol=1e-9)
