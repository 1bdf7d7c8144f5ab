"""minigrad.func (torch.func) and nn.utils.stateless.functional_call, against torch."""
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import func as mf

torch = pytest.importorskip("torch")
tf = torch.func


def pair(*shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return mg.tensor(a), torch.tensor(a)


def close(a, b, tol=1e-10):
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            close(x, y, tol)
        return
    if isinstance(b, dict):
        assert sorted(a) == sorted(b)
        for k in b:
            close(a[k], b[k], tol)
        return
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


def f_both(lib):
    return lambda x, y: ((x.sin() * y).exp() + x * x * y).sum()


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), -1])
def test_grad_and_value_argnums(argnums):
    (x, tx), (y, ty) = pair(3, 2), pair(3, 2, seed=1)
    g, v = mf.grad_and_value(f_both(mg), argnums)(x, y)
    tg, tv = tf.grad_and_value(f_both(torch), argnums)(tx, ty)
    close(g, tg)
    close(v, tv)
    close(mf.grad(f_both(mg), argnums)(x, y), tf.grad(f_both(torch), argnums)(tx, ty))


def test_grad_has_aux_pytree_and_unused():
    (x, tx), (y, ty) = pair(4), pair(4, seed=1)

    def f(d):
        return (d["a"].tanh() * d["b"][0]).sum(), d["a"] * 2

    g, aux = mf.grad(f, has_aux=True)({"a": x, "b": (y, x)})
    tg, taux = tf.grad(f, has_aux=True)({"a": tx, "b": (ty, tx)})
    close(g, tg)            # the unused d["b"][1] gets zeros, as in torch
    close(aux, taux)
    assert not g["a"].requires_grad


def test_grad_compositions():
    x, tx = pair(5)

    def f(x):
        return (x.sin() * x.cos().exp()).sum()
    close(mf.grad(lambda z: mf.grad(f)(z).sum())(x), tf.grad(lambda z: tf.grad(f)(z).sum())(tx))
    xs, txs = pair(4, 5, seed=2)
    close(mf.vmap(mf.grad(f))(xs), tf.vmap(tf.grad(f))(txs))
    close(mf.hessian(f)(x), tf.hessian(f)(tx))
    close(mf.jacfwd(mf.jacrev(f))(x), tf.jacfwd(tf.jacrev(f))(tx))


def test_grad_errors_match_torch():
    x, tx = pair(3)
    for fn in (lambda x: x * 2, lambda x: 1.0):
        with pytest.raises(RuntimeError) as ours:
            mf.grad(fn)(x)
        with pytest.raises(RuntimeError) as theirs:
            tf.grad(fn)(tx)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match="only 1 positional inputs"):
        mf.grad(lambda x: x.sum(), argnums=2)(x)
    with pytest.raises(RuntimeError, match=r"should be a tuple: \(output, aux\)"):
        mf.grad(lambda x: x.sum(), has_aux=True)(x)


def test_outer_backward_through_grad():
    x, tx = pair(3)
    w, tw = pair(3, seed=3)
    w.requires_grad_()
    tw.requires_grad_()
    g = mf.grad(lambda x, w: (x * x * w).sum())(x, w)
    tg = tf.grad(lambda x, w: (x * x * w).sum())(tx, tw)
    g.sum().backward()
    tg.sum().backward()
    close(w.grad, tw.grad)


def test_vjp_and_jvp():
    (x, tx), (y, ty) = pair(3), pair(3, seed=1)

    def f(x, y):
        return x.sin() * y, (x * y).sum()
    out, fn = mf.vjp(f, x, y)
    tout, tfn = tf.vjp(f, tx, ty)
    close(out, tout)
    (v, tv), (s, ts) = pair(3, seed=4), pair(seed=5)
    close(fn((v, s)), tfn((tv, ts)))
    close(fn((v, s)), tfn((tv, ts)))                  # callable again
    out, aux_fn, aux = mf.vjp(lambda x: (x.exp(), x.sum()), x, has_aux=True)
    tout, taux_fn, taux = tf.vjp(lambda x: (x.exp(), x.sum()), tx, has_aux=True)
    close(aux_fn(v), taux_fn(tv))
    close(aux, taux)
    t, tt = pair(3, seed=6)
    close(mf.jvp(f, (x, y), (t, v)), tf.jvp(f, (tx, ty), (tt, tv)))
    for args in (((x,), (v, v)), (x, (v,)), ((x,), (pair(4)[0],))):
        with pytest.raises(RuntimeError):
            mf.jvp(lambda x: x, *args)


def test_jacrev_structures():
    (x, tx), (y, ty) = pair(2, 3), pair(3, seed=1)

    def f(x, y):
        return (x * y).tanh(), (x.sum(0) * y).exp()
    for argnums in (0, 1, (0, 1)):
        close(mf.jacrev(f, argnums)(x, y), tf.jacrev(f, argnums)(tx, ty))
        close(mf.jacfwd(f, argnums)(x, y), tf.jacfwd(f, argnums)(tx, ty))
    close(mf.hessian(lambda x, y: (x * y).sin().sum(), (0, 1))(x, y),
          tf.hessian(lambda x, y: (x * y).sin().sum(), (0, 1))(tx, ty))
    j, aux = mf.jacrev(lambda x: (x.sin(), x.cos()), has_aux=True)(y)
    tj, taux = tf.jacrev(lambda x: (x.sin(), x.cos()), has_aux=True)(ty)
    close(j, tj)
    close(aux, taux)


def make_models(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).double()


def copy_params(model, tmodel):
    for (_, p), (_, tp) in zip(model.named_parameters(), tmodel.named_parameters()):
        p.data = mg.tensor(tp.detach().numpy().copy())


def test_functional_call_gradients_and_restore():
    m, tm = make_models(mg), make_models(torch)
    copy_params(m, tm)
    x, tx = pair(5, 3)
    new = {k: mg.tensor(v.detach().numpy() * 0.5, requires_grad=True)
           for k, v in tm.named_parameters()}
    tnew = {k: (v.detach() * 0.5).requires_grad_() for k, v in tm.named_parameters()}
    out = mf.functional_call(m, new, (x,))
    tout = tf.functional_call(tm, tnew, (tx,))
    close(out, tout)
    out.pow(2).sum().backward()
    tout.pow(2).sum().backward()
    close({k: v.grad for k, v in new.items()}, {k: v.grad for k, v in tnew.items()})
    close(m(x), tm(tx))                               # originals restored
    assert m[0].weight.grad is None
    # a split dict and a single (non-tuple) argument
    keys = list(new)
    out2 = mf.functional_call(m, ({k: new[k] for k in keys[:2]}, {k: new[k] for k in keys[2:]}),
                              x)
    close(out2, tout)
    # restored even when the forward raises
    with pytest.raises(RuntimeError):
        mf.functional_call(m, new, (mg.zeros(5, 7, dtype=mg.float64),))
    close(m(x), tm(tx))
    # meta-learning: the gradient of a loss after one inner SGD step
    def inner(p):
        loss = mf.functional_call(m, p, x).pow(2).sum()
        g = mg.autograd.grad(loss, list(p.values()), create_graph=True)
        fast = {k: v - 0.1 * gk for (k, v), gk in zip(p.items(), g)}
        return mf.functional_call(m, fast, x).sum()

    def tinner(p):
        loss = tf.functional_call(tm, p, tx).pow(2).sum()
        g = torch.autograd.grad(loss, list(p.values()), create_graph=True)
        fast = {k: v - 0.1 * gk for (k, v), gk in zip(p.items(), g)}
        return tf.functional_call(tm, fast, tx).sum()
    close(mf.grad(inner)(new), tf.grad(tinner)(tnew))


def test_functional_call_errors_and_ties():
    m, tm = mg.nn.Linear(2, 2).double(), torch.nn.Linear(2, 2).double()
    x, tx = pair(3, 2)
    for values, kw in (({"weight": 0}, {"strict": True}),
                       ({"weight": 0, "bias": 0, "foo": 1}, {"strict": True}),
                       ({"weight": 0, "foo": 1}, {"strict": True})):
        ours = {k: mg.zeros(2, 2, dtype=mg.float64) if k == "weight" else
                mg.zeros(2 if k == "bias" else 1, dtype=mg.float64) for k in values}
        theirs = {k: torch.tensor(v.numpy()) for k, v in ours.items()}
        with pytest.raises(RuntimeError) as a:
            mf.functional_call(m, ours, (x,), **kw)
        with pytest.raises(RuntimeError) as b:
            tf.functional_call(tm, theirs, (tx,), **kw)
        assert str(a.value) == str(b.value)
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        mf.functional_call(m, ({"weight": m.weight}, {"weight": m.weight}), x)
    mf.functional_call(m, {"foo": mg.ones(1)}, x)        # non-strict: set, then removed
    assert not hasattr(m, "foo")

    class Tied(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = mg.nn.Linear(2, 2), mg.nn.Linear(2, 2)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))
    t = Tied().double()
    w = mg.zeros(2, 2, dtype=mg.float64)
    out = mf.functional_call(t, {"a.weight": w}, x)
    close(out, torch.tensor(t.b.bias.detach().numpy()).expand(3, 2))       # both weights 0
    out = mf.functional_call(t, {"a.weight": w}, x, tie_weights=False)
    assert not np.allclose(out.detach().numpy(), t.b.bias.detach().numpy())
    with pytest.raises(ValueError, match="which are tied"):
        mf.functional_call(t, {"a.weight": w, "b.weight": mg.ones(2, 2, dtype=mg.float64)}, x)


def test_stateless_spelling_warns():
    m = mg.nn.Linear(2, 2)
    x = mg.randn(3, 2)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = mg.nn.utils.stateless.functional_call(m, {"bias": mg.zeros(2)}, (x,))
    assert [c.category for c in w] == [FutureWarning]
    np.testing.assert_allclose(out.detach().numpy(), (x @ m.weight.T).detach().numpy(),
                               rtol=1e-6)


def test_stack_module_state_and_vmap_ensemble():
    models = [make_models(mg) for _ in range(3)]
    tmodels = [make_models(torch) for _ in range(3)]
    for m, tm in zip(models, tmodels):
        copy_params(m, tm)
    params, buffers = mf.stack_module_state(models)
    tparams, tbuffers = tf.stack_module_state(tmodels)
    close(params, tparams)
    assert all(p.requires_grad and p.grad_fn is None for p in params.values())
    x, tx = pair(5, 3)

    def run(p, b, x, mod=models[0], call=mf.functional_call):
        return call(mod, (p, b), (x,))

    out = mf.vmap(run, in_dims=(0, 0, None))(params, buffers, x)
    tout = tf.vmap(lambda p, b, x: tf.functional_call(tmodels[0], (p, b), (x,)),
                   in_dims=(0, 0, None))(tparams, tbuffers, tx)
    close(out, tout)
    for bad in ([], [mg.nn.Linear(2, 2), mg.nn.Linear(2, 2).eval()]):
        with pytest.raises(RuntimeError, match="stack_module_state"):
            mf.stack_module_state(bad)


def test_namespace():
    assert mf.vmap is mg.vmap
    for name in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
                 "functional_call", "stack_module_state", "vmap"):
        assert name in tf.__all__ and hasattr(mg.func, name)
