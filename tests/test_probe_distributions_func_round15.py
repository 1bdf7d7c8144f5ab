"""Round 15 probes of distributions and torch.func (vmap out_dims pytrees, Multinomial
entropy), each run beside torch 2.13."""
import functools
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")
from torch_agreement import TORCH_FIRST, both  # noqa: E402

# fn(lib) in each library: [fn(torch), fn(minigrad)]
_both = functools.partial(both, order=TORCH_FIRST)


def _close(t, m, tol=1e-12):
    assert tuple(m.shape) == tuple(t.shape)
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def _raises_like(fn):
    """fn(lib) raises the same exception type in both libraries; returns both messages."""
    msgs = []
    for lib in (torch, mg):
        with pytest.raises(Exception) as info:
            fn(lib)
        msgs.append(info)
    assert msgs[1].type is msgs[0].type
    return str(msgs[0].value), str(msgs[1].value)


X = np.random.default_rng(0).standard_normal((2, 3))


def test_vmap_out_dims_dict_matches_output_dict():
    def run(lib):
        f = lambda x: {"a": x, "b": x.sum()}
        return lib.func.vmap(f, out_dims={"a": 1, "b": 0})(lib.tensor(X))
    t, m = _both(run)
    _close(t["a"], m["a"])
    _close(t["b"], m["b"])


def test_vmap_out_dims_nested_tuple_and_one_tuple():
    def run(lib):
        f = lambda x: (x, (x * 2, x.sum()))
        return lib.func.vmap(f, out_dims=(0, (1, 0)))(lib.tensor(X))
    t, m = _both(run)
    _close(t[0], m[0])
    _close(t[1][0], m[1][0])
    _close(t[1][1], m[1][1])
    # a 1-tuple wraps the out_dim of a single Tensor output
    t, m = _both(lambda lib: lib.func.vmap(lambda x: x, out_dims=(1,))(lib.tensor(X)))
    _close(t, m)


@pytest.mark.parametrize("out_dims, make", [
    ([0, 1], lambda x: (x, x)),                  # list against a tuple output
    ((0, (1, 0)), lambda x: (x, [x, x])),        # nested tuple against a list
    ((1, 0), lambda x: x),                       # 2 dims, one output
    ({"b": 1}, lambda x: {"a": x}),              # other keys
])
def test_vmap_out_dims_structure_mismatch_raises(out_dims, make):
    t, m = _raises_like(lambda lib: lib.func.vmap(make, out_dims=out_dims)(lib.tensor(X)))
    assert "out_dims is not compatible with the structure of `outputs`" in t
    assert "out_dims is not compatible with the structure of `outputs`" in m


def test_vmap_out_dims_bad_type_raises():
    t, m = _raises_like(lambda lib: lib.func.vmap(lambda x: x, out_dims="a")(lib.tensor(X)))
    assert "`out_dims` must be an int, None or a python collection of ints" in t
    assert "`out_dims` must be an int, None or a python collection of ints" in m


def test_vmap_no_inputs_raises():
    t, m = _raises_like(lambda lib: lib.func.vmap(lambda: 1)())
    assert "got no inputs" in t and "got no inputs" in m


def test_vmap_out_dims_none_leaf_in_nested_output():
    def run(lib):
        w = lib.tensor(X[0])
        return lib.func.vmap(lambda x: (x * 2, {"w": w}), out_dims=(0, {"w": None}))(
            lib.tensor(X))
    t, m = _both(run)
    _close(t[0], m[0])
    _close(t[1]["w"], m[1]["w"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_multinomial_entropy_rounds_log_n_factorial_like_torch(dtype):
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])

    def run(lib):
        p = lib.tensor(probs, dtype=getattr(lib, dtype))
        return lib.distributions.Multinomial(5, p).entropy()
    t, m = _both(run)
    _close(t, m, tol=1e-14 if dtype == "float64" else 1e-6)


@pytest.mark.parametrize("make, cot", [
    (lambda x: {"s": x * 2}, lambda lib: lib.ones(3, dtype=lib.float64)),        # dict out
    (lambda x: x * 2, lambda lib: (lib.ones(3, dtype=lib.float64),)),           # 1-tuple
    (lambda x: (x * 2, x), lambda lib: [lib.ones(3, dtype=lib.float64)] * 2),   # list vs tuple
])
def test_vjp_cotangent_structure_must_match_output(make, cot):
    def run(lib):
        _, vjp_fn = lib.func.vjp(make, lib.tensor(X[0]))
        return vjp_fn(cot(lib))
    t, m = _raises_like(run)
    assert "Expected pytree structure of cotangents to be the same" in t
    assert "Expected pytree structure of cotangents to be the same" in m


def test_vjp_matching_dict_cotangent_still_works():
    def run(lib):
        _, vjp_fn = lib.func.vjp(lambda d: {"s": d["a"] * d["b"]},
                                 {"a": lib.tensor(X[0]), "b": lib.tensor(X[1])})
        return vjp_fn({"s": lib.tensor(np.arange(3.0))})[0]
    t, m = _both(run)
    _close(t["a"], m["a"])
    _close(t["b"], m["b"])


def test_gumbel_icdf_at_0_and_1_is_finite_like_torch():
    # torch's Gumbel quantile goes through its base Uniform(tiny, 1 - eps), so the ends of
    # [0, 1] land on finite values
    q = np.array([[0.0], [1.0], [0.3], [1e-300]])

    def run(lib):
        loc = lib.tensor([1.0, 0.0], dtype=lib.float64, requires_grad=True)
        scale = lib.tensor([2.0, 1.0], dtype=lib.float64, requires_grad=True)
        x = lib.distributions.Gumbel(loc, scale).icdf(lib.tensor(q))
        return (x,) + lib.autograd.grad(x.sum(), (loc, scale))
    for t, m in zip(*_both(run)):
        _close(t, m, tol=1e-12)


@pytest.mark.parametrize("in_dims, as_list", [(((0, None),), True), (([0, None],), False)])
def test_vmap_in_dims_container_type_must_match_input(in_dims, as_list):
    def run(lib):
        x = lib.tensor(X)
        pair = [x, x] if as_list else (x, x)
        return lib.func.vmap(lambda p: p[0] + p[1], in_dims=in_dims)(pair)
    t, m = _raises_like(run)
    assert "in_dims is not compatible with the structure of `inputs`" in t
    assert "in_dims is not compatible with the structure of `inputs`" in m
