"""torch.func / torch.autograd.functional as third-party code uses them, against torch: vmap
over a batch of size 0, in-place writes into unmapped inputs, batch norm's running
statistics under vmap, and the errors of jacrev/jacfwd/hessian, functional_call and
autograd.functional.jacobian."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.autograd.functional as maf
from minigrad import func as mf
from minigrad.ops import normalization as mg_normalization

torch = pytest.importorskip("torch")
tf = torch.func
taf = torch.autograd.functional


def pair(*shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return mg.tensor(a), torch.tensor(a)


def close(a, b, tol=1e-10):
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            close(x, y, tol)
        return
    assert tuple(a.shape) == tuple(b.shape)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


def same_error(run):
    """run(lib, func) raises the same exception type and message on both libraries."""
    with pytest.raises(Exception) as theirs:
        run(torch, tf)
    with pytest.raises(type(theirs.value)) as ours:
        run(mg, mf)
    assert str(ours.value) == str(theirs.value)


# ----------------------------------------------------------------------------------------------
# vmap over a mapped dimension of size 0
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["mul", "sum", "in1_out", "nested_outer", "nested_inner",
                                  "int", "out_none", "grad"])
def test_vmap_empty_batch(case):
    def run(L, F):
        if case == "mul":
            return F.vmap(lambda x: x * 2)(L.ones(0, 3, dtype=L.float64))
        if case == "sum":
            return F.vmap(lambda x: x.sum())(L.ones(0, 3, dtype=L.float64))
        if case == "in1_out":
            return F.vmap(lambda x: (x * 2, x.sum()), in_dims=1, out_dims=(1, 0))(
                L.ones(3, 0, 2, dtype=L.float64))
        if case == "nested_outer":
            return F.vmap(F.vmap(lambda x: x.exp()))(L.ones(0, 3, 2, dtype=L.float64))
        if case == "nested_inner":
            return F.vmap(F.vmap(lambda x: x.exp()))(L.ones(3, 0, 2, dtype=L.float64))
        if case == "int":
            return F.vmap(lambda x: x + 1)(L.zeros(0, 3, dtype=L.int64))
        if case == "out_none":
            y = L.tensor(np.arange(4.0))
            return F.vmap(lambda x, w: (x * w, w * 2), in_dims=(0, None), out_dims=(0, None))(
                L.ones(0, 4, dtype=L.float64), y)
        w = L.tensor(np.arange(4.0))        # per-sample gradients of an empty batch
        return F.vmap(F.grad(lambda w, x: (w * x).sin().sum()), in_dims=(None, 0))(
            w, L.ones(0, 4, dtype=L.float64))
    close(run(mg, mf), run(torch, tf))


def test_vmap_empty_batch_backward():
    x, tx = mg.ones(0, 3, dtype=mg.float64, requires_grad=True), \
        torch.ones(0, 3, dtype=torch.float64, requires_grad=True)
    mf.vmap(lambda v: v.sin().sum())(x).sum().backward()
    tf.vmap(lambda v: v.sin().sum())(tx).sum().backward()
    close(x.grad, tx.grad)


def test_vmap_empty_batch_mismatch_still_refused():
    same_error(lambda L, F: F.vmap(lambda x, y: x + y)(L.ones(0, 3), L.ones(2, 3)))


# ----------------------------------------------------------------------------------------------
# in-place writes into an unmapped input
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [lambda x, y: y.add_(1), lambda x, y: x * y.add_(1),
                                lambda x, y: y[1:].mul_(2).sum() + x])
def test_vmap_unbatched_write_into_unmapped_input_happens_once(fn):
    (x, tx), (y, ty) = pair(3, 4), pair(4, seed=1)
    out = mf.vmap(fn, in_dims=(0, None))(x, y)
    tout = tf.vmap(fn, in_dims=(0, None))(tx, ty)
    close(out, tout)
    close(y, ty)            # written once, as torch's single write (not once per example)


@pytest.mark.parametrize("fn", [lambda x, y: y.copy_(x),
                                lambda x, y: y.__setitem__(slice(None), x) or y])
def test_vmap_batched_write_into_unmapped_input_refused(fn):
    (x, tx), (y, ty) = pair(3, 4), pair(4, seed=1)
    same_error(lambda L, F: F.vmap(fn, in_dims=(0, None))(*((x, y) if L is mg else (tx, ty))))
    close(y, ty)            # left as it was: torch raises before writing


def test_vmap_write_into_mapped_input_reaches_it():
    (x, tx) = pair(3, 4)
    mf.vmap(lambda r: r.mul_(2))(x)
    tf.vmap(lambda r: r.mul_(2))(tx)
    close(x, tx)


# ----------------------------------------------------------------------------------------------
# batch norm's running statistics under vmap
# ----------------------------------------------------------------------------------------------
_HOOKED = "vmap_running_stats_check" in mg_normalization.batch_norm.__code__.co_names


@pytest.mark.skipif(not _HOOKED, reason="ops/normalization.batch_norm does not ask the vmap "
                                        "hook yet")
@pytest.mark.parametrize("case", ["module", "functional"])
def test_vmap_training_batch_norm_with_unbatched_running_stats_refused(case):
    a = np.random.default_rng(0).standard_normal((3, 2, 4))

    def run(L, F):
        x = L.tensor(a)
        if case == "module":
            return F.vmap(L.nn.BatchNorm1d(4).double())(x)
        return F.vmap(lambda v: L.nn.functional.batch_norm(
            v, L.zeros(4, dtype=L.float64), L.ones(4, dtype=L.float64), training=True))(x)
    same_error(run)


@pytest.mark.parametrize("track", [False, True])
def test_vmap_batch_norm_ensemble_with_stacked_buffers(track):
    """Batched running statistics (stacked buffers, in_dims 0) are allowed, and updated."""
    a = np.random.default_rng(1).standard_normal((5, 4))

    def run(L, F):
        models = []
        for i in range(3):
            m = L.nn.Sequential(L.nn.Linear(4, 4), L.nn.BatchNorm1d(4, track_running_stats=track))
            m = m.double()
            with L.no_grad():
                for j, p in enumerate(m.parameters()):
                    p.copy_(L.tensor(np.random.default_rng(10 * i + j).standard_normal(
                        tuple(p.shape))))
            models.append(m)
        params, buffers = F.stack_module_state(models)
        out = F.vmap(lambda p, b, x: F.functional_call(models[0], (p, b), (x,)),
                     in_dims=(0, 0, None))(params, buffers, L.tensor(a))
        return [out] + [buffers[k] for k in sorted(buffers) if buffers[k].is_floating_point()]
    close(run(mg, mf), run(torch, tf))


def test_vmap_eval_batch_norm_allowed():
    a = np.random.default_rng(2).standard_normal((3, 2, 4))
    close(mf.vmap(mg.nn.BatchNorm1d(4).double().eval())(mg.tensor(a)),
          tf.vmap(torch.nn.BatchNorm1d(4).double().eval())(torch.tensor(a)))


# ----------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------
def test_vmap_out_dims_checked_before_the_inputs():
    same_error(lambda L, F: F.vmap(lambda x: x, out_dims="a")(L.ones(3, 2)))
    same_error(lambda L, F: F.vmap(lambda x: x, out_dims=(0, "a"))(3.0))


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd", "hessian"])
def test_jacobian_transforms_of_non_tensor_outputs(transform):
    same_error(lambda L, F: getattr(F, transform)(lambda x: 3.0)(L.ones(2)))
    same_error(lambda L, F: getattr(F, transform)(lambda x: (x.sin().sum(), 3.0))(L.ones(2)))


def test_functional_call_repeated_keys_in_first_seen_order():
    def run(L, F):
        m = L.nn.Linear(2, 2)
        params = dict(m.named_parameters())
        return F.functional_call(m, (params, {"bias": params["bias"], "weight": params["weight"]}),
                                 (L.ones(2),))
    same_error(run)


@pytest.mark.parametrize("dicts", [lambda L: [1], lambda L: ({"weight": L.ones(2, 2)}, 1)])
def test_functional_call_non_dict_element(dicts):
    same_error(lambda L, F: F.functional_call(L.nn.Linear(2, 2), dicts(L), (L.ones(2),)))


@pytest.mark.parametrize("fn", ["jacobian", "vjp", "hessian"])
def test_autograd_functional_integer_input(fn):
    f = (lambda x: (x * 2.0).sum()) if fn == "hessian" else (lambda x: x * 2.0)
    same_error(lambda L, F: getattr(taf if L is torch else maf, fn)(
        f, L.arange(3), *((L.ones(3),) if fn == "vjp" else ())))


@pytest.mark.parametrize("transform", ["grad", "vjp", "jvp", "jacrev", "jacfwd"])
@pytest.mark.parametrize("aux", [lambda x: 3, lambda x: (x.cos(), None), lambda x: {"a": "b"}])
def test_has_aux_with_non_tensor_aux(transform, aux):
    def run(L, F):
        x = L.ones(3, dtype=L.float64)
        if transform == "grad":
            return F.grad(lambda v: (v.sin().sum(), aux(v)), has_aux=True)(x)
        if transform == "vjp":
            return F.vjp(lambda v: (v.sin(), aux(v)), x, has_aux=True)
        if transform == "jvp":
            return F.jvp(lambda v: (v.sin(), aux(v)), (x,), (x,), has_aux=True)
        return getattr(F, transform)(lambda v: (v.sin(), aux(v)), has_aux=True)(x)
    same_error(run)


@pytest.mark.parametrize("transform", [lambda F, f: F.jacfwd(f), lambda F, f: F.hessian(f),
                                       lambda F, f: F.jacfwd(f, randomness="error")])
def test_jacfwd_and_hessian_refuse_random_draws(transform):
    same_error(lambda L, F: transform(F, lambda x: (x * L.rand(3)).sum())(L.ones(3)))


def test_jacfwd_randomness_same_allows_draws_independent_of_input():
    (x, tx) = pair(3)
    close(mf.jacfwd(lambda v: v.sin() + mg.rand(3) * 0, randomness="same")(x),
          tf.jacfwd(lambda v: v.sin() + torch.rand(3) * 0, randomness="same")(tx))


def test_functional_call_refuses_a_value_that_is_not_a_tensor():
    """A non-tensor value in the dict is refused by name as torch's (None passes)."""
    outcomes = []
    for lib in (torch, mg):
        m = lib.nn.Linear(2, 2)
        row = []
        for values in ({"weight": 1}, {"bias": "x", "weight": 2}, {"foo": 3}):
            with pytest.raises(TypeError) as info:
                lib.func.functional_call(m, values, (lib.ones(1, 2),))
            row.append(str(info.value))
        out = lib.func.functional_call(m, {"bias": None}, (lib.ones(1, 2),))
        row.append(tuple(out.shape))
        outcomes.append(row)
    assert outcomes[0] == outcomes[1]
