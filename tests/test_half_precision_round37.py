"""Round 37, side by side with torch:

* the optimizers' steps on float16 and bfloat16 parameters: PyTorch rounds every operation of
  its update to the half dtype (and keeps its state in it); compared bit for bit over a few
  steps, foreach on, off and left to the default;
* ``add``/``sub`` of half tensors with ``alpha`` (alpha rounded to the tensor's dtype);
* ``torch.norm_except_dim`` and ``torch._weight_norm``, with gradients in float64;
* vmap's error for an in-place op whose self lacks the batch dimension;
* ``type(t.device).__name__``.
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

HALVES = ["float16", "bfloat16"]


def _bits(t):
    """The raw 16-bit patterns of a half tensor (torch's or minigrad's)."""
    return np.array(t.detach().float().tolist(), dtype=np.float32)


def _run(lib, make, dtype, steps=4, seed=0):
    """The parameters after ``steps`` steps of the optimizer ``make(lib, params)`` from the
    same random parameters and gradients (two parameters: a matrix and a vector)."""
    rng = np.random.default_rng(seed)
    shapes = [(7, 9), (11,), (64,)]
    starts = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(steps)]
    dt = getattr(lib, dtype)
    params = [lib.tensor(a, dtype=dt, requires_grad=True) for a in starts]
    opt = make(lib, params)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = lib.tensor(g, dtype=dt)
        opt.step()
    return [np.array(p.detach().float().tolist(), dtype=np.float32) for p in params], opt


OPTIMIZERS = {
    "sgd": lambda o, f: o.SGD(f["params"], lr=0.05),
    "sgd_momentum": lambda o, f: o.SGD(f["params"], lr=0.05, momentum=0.9, dampening=0.1,
                                       weight_decay=0.01, foreach=f["foreach"]),
    "sgd_nesterov": lambda o, f: o.SGD(f["params"], lr=0.03, momentum=0.8, nesterov=True,
                                       maximize=True, foreach=f["foreach"]),
    "adam": lambda o, f: o.Adam(f["params"], lr=0.01, foreach=f["foreach"]),
    "adam_wd_amsgrad": lambda o, f: o.Adam(f["params"], lr=0.02, weight_decay=0.1,
                                           amsgrad=True, eps=1e-3, foreach=f["foreach"]),
    "adamw": lambda o, f: o.AdamW(f["params"], lr=0.01, maximize=True, foreach=f["foreach"]),
    "adamw_amsgrad": lambda o, f: o.AdamW(f["params"], lr=0.02, amsgrad=True,
                                          foreach=f["foreach"]),
    "rmsprop": lambda o, f: o.RMSprop(f["params"], lr=0.01, foreach=f["foreach"]),
    "rmsprop_centered": lambda o, f: o.RMSprop(f["params"], lr=0.01, momentum=0.5,
                                               centered=True, weight_decay=0.1,
                                               foreach=f["foreach"]),
    "adagrad": lambda o, f: o.Adagrad(f["params"], lr=0.1, lr_decay=0.01,
                                      foreach=f["foreach"]),
    "adagrad_wd": lambda o, f: o.Adagrad(f["params"], lr=0.1, weight_decay=0.1,
                                         initial_accumulator_value=0.3, maximize=True,
                                         foreach=f["foreach"]),
    "adadelta": lambda o, f: o.Adadelta(f["params"], lr=1.0, foreach=f["foreach"]),
    "adadelta_wd": lambda o, f: o.Adadelta(f["params"], lr=0.5, rho=0.8, weight_decay=0.1,
                                           maximize=True, foreach=f["foreach"]),
    "adamax": lambda o, f: o.Adamax(f["params"], lr=0.02, foreach=f["foreach"]),
    "adamax_wd": lambda o, f: o.Adamax(f["params"], lr=0.02, weight_decay=0.1, maximize=True,
                                       foreach=f["foreach"]),
    "nadam": lambda o, f: o.NAdam(f["params"], lr=0.02, foreach=f["foreach"]),
    "nadam_decoupled": lambda o, f: o.NAdam(f["params"], lr=0.02, weight_decay=0.1,
                                            decoupled_weight_decay=True, foreach=f["foreach"]),
    "radam": lambda o, f: o.RAdam(f["params"], lr=0.02, foreach=f["foreach"]),
    "radam_wd": lambda o, f: o.RAdam(f["params"], lr=0.02, weight_decay=0.1,
                                     foreach=f["foreach"]),
}


@pytest.mark.parametrize("foreach", [None, False, True])
@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_half_precision_optimizer_steps_match_bit_for_bit(name, dtype, foreach):
    steps = 8 if name.startswith("radam") else 4      # RAdam rectifies from step 6 on
    results = []
    for lib in (minigrad, torch):
        make = (lambda o: lambda l, ps: OPTIMIZERS[name](o, dict(params=ps, foreach=foreach)))(
            lib.optim)
        results.append(_run(lib, make, dtype, steps=steps))
    (mine, m_opt), (theirs, t_opt) = results
    for a, b in zip(mine, theirs):
        np.testing.assert_array_equal(a, b)
    # the state is kept in the parameter's dtype, with the same numbers
    for mp, tp in zip(m_opt.param_groups[0]["params"], t_opt.param_groups[0]["params"]):
        m_state, t_state = m_opt.state[mp], t_opt.state[tp]
        assert sorted(m_state) == sorted(t_state)
        for key, value in t_state.items():
            if value.dim() == 0:
                continue
            assert str(m_state[key].dtype).split(".")[-1] == str(value.dtype).split(".")[-1]
            np.testing.assert_array_equal(_bits(m_state[key]), _bits(value), err_msg=key)


# ---------------------------------------------------------------------------------------------
# add / sub with alpha on half tensors

def _half_pair(lib, dtype, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    return lib.tensor(a, dtype=getattr(lib, dtype)), lib.tensor(b, dtype=getattr(lib, dtype))


ALPHA_FORMS = {
    "method_sub": lambda lib, a, b: a.sub(b, alpha=0.3),
    "torch_add": lambda lib, a, b: lib.add(a, b, alpha=0.3),
    "torch_sub_negative": lambda lib, a, b: lib.sub(a, b, alpha=-1.7),
    "integer_alpha": lambda lib, a, b: a.add(b, alpha=3),
    "number_other": lambda lib, a, b: lib.add(a, 2.3, alpha=0.3),
    "number_other_sub": lambda lib, a, b: a.sub(0.77, alpha=0.45),
    "broadcast_row": lambda lib, a, b: lib.add(a.reshape(50, 200), b[:200], alpha=0.6),
    "broadcast_column": lambda lib, a, b: lib.sub(a.reshape(200, 50), b[:200].reshape(200, 1),
                                                  alpha=0.6),
}


# (63 numbers: a loop with a tail PyTorch computes one element at a time; over 32768, the op is
# split over threads, each piece with its tail; the broadcast forms reshape 10000 numbers)
@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("form,n", [(f, n) for f in sorted(ALPHA_FORMS) for n in (10000, 63)
                                    if n == 10000 or not f.startswith("broadcast")] +
                         [("method_sub", 40001), ("number_other", 65537)])
def test_half_add_sub_alpha_match_bit_for_bit(form, n, dtype):
    if n > 32768 and minigrad.get_num_threads() != torch.get_num_threads():
        pytest.skip("PyTorch splits a large op over its threads: the same count is needed")
    outs = [ALPHA_FORMS[form](lib, *_half_pair(lib, dtype, n, 3)) for lib in (minigrad, torch)]
    assert str(outs[0].dtype).split(".")[-1] == str(outs[1].dtype).split(".")[-1]
    np.testing.assert_array_equal(_bits(outs[0]), _bits(outs[1]))


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("name", ["add_", "sub_"])
def test_half_inplace_add_sub_alpha_match_bit_for_bit(name, dtype):
    outs = []
    for lib in (minigrad, torch):
        a, b = _half_pair(lib, dtype, 10000, 7)
        getattr(a, name)(b, alpha=0.3)
        outs.append(_bits(a))
    np.testing.assert_array_equal(*outs)


def test_half_scaled_add_inplace_helper_matches_torch():
    """The helper the in-place forms are to call (``_half_add.half_scaled_add_``)."""
    from minigrad.ops._half_add import half_scaled_add_
    for dtype in HALVES:
        a, b = _half_pair(minigrad, dtype, 10000, 8)
        ta, tb = _half_pair(torch, dtype, 10000, 8)
        assert half_scaled_add_(a, b, 0.3, "sub") is a
        ta.sub_(tb, alpha=0.3)
        np.testing.assert_array_equal(_bits(a), _bits(ta))
        assert a._version == ta._version


@pytest.mark.parametrize("dtype", HALVES)
def test_half_add_alpha_gradients_match(dtype):
    grads = []
    for lib in (minigrad, torch):
        a, b = (t.requires_grad_() for t in _half_pair(lib, dtype, 100, 4))
        g = _half_pair(lib, dtype, 100, 5)[0]
        (lib.add(a, b, alpha=0.3) - a.sub(b, alpha=0.7)).backward(g)
        grads.append((_bits(a.grad), _bits(b.grad)))
    for mine, theirs in zip(*grads):
        np.testing.assert_array_equal(mine, theirs)


# ---------------------------------------------------------------------------------------------
# norm_except_dim and _weight_norm

def _weight_norm_fns(lib):
    if lib is torch:
        return torch.norm_except_dim, torch._weight_norm
    from minigrad.ops import weight_norm_parts
    return (getattr(minigrad, "norm_except_dim", weight_norm_parts.norm_except_dim),
            getattr(minigrad, "_weight_norm", weight_norm_parts._weight_norm))


@pytest.mark.parametrize("shape,dim,pow", [((3, 4, 5), 0, 2), ((3, 4, 5), 1, 2),
                                           ((3, 4, 5), 2, 3), ((3, 4, 5), -1, 2),
                                           ((3, 4, 5), -2, 2), ((6,), 0, 2), ((4, 7), 1, 1)])
def test_norm_except_dim_and_weight_norm_match_torch(shape, dim, pow):
    rng = np.random.default_rng(6)
    v0 = rng.standard_normal(shape)
    results = []
    for lib in (minigrad, torch):
        norm_except_dim, weight_norm = _weight_norm_fns(lib)
        v = lib.tensor(v0, dtype=lib.float64, requires_grad=True)
        n = norm_except_dim(v, pow, dim)
        g = lib.tensor(rng.standard_normal(tuple(n.shape)) + 2.0, dtype=lib.float64,
                       requires_grad=True) if lib is minigrad else \
            torch.tensor(results[0][4], requires_grad=True)
        w = weight_norm(v, g, dim)
        up = lib.tensor(np.linspace(-1, 1, w.numel()).reshape(shape), dtype=lib.float64)
        gv, gg = lib.autograd.grad((w * up).sum() + n.sum(), [v, g])
        results.append([np.array(x.detach().tolist()) for x in (n, w, gv, gg)] +
                       [np.array(g.detach().tolist())])
    for mine, theirs in zip(results[0][:4], results[1][:4]):
        assert mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_norm_except_dim_refusals_words():
    for lib in (minigrad, torch):
        norm_except_dim, weight_norm = _weight_norm_fns(lib)
        with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in "
                                             r"range of \[-3, 2\], but got 3\)"):
            norm_except_dim(lib.ones(3, 4, 5), 2, 3)
        with pytest.raises(TypeError, match=r"^norm_except_dim\(\): argument 'pow' \(position "
                                            r"2\) must be int, not float$"):
            norm_except_dim(lib.ones(3, 4), 2.0, 0)
        with pytest.raises(TypeError, match=r"^_weight_norm\(\): argument 'dim' \(position "
                                            r"3\) must be int, not float$"):
            weight_norm(lib.ones(3, 4), lib.ones(3, 1), 0.5)


# ---------------------------------------------------------------------------------------------
# vmap's broadcast errors, with the batch dimension in the shapes

@pytest.mark.parametrize("case", ["scalar_example", "size_clash", "out_of_place_clash",
                                  "column_example"])
def test_vmap_inplace_broadcast_error_words(case):
    def run(lib):
        if case == "scalar_example":
            return lib.vmap(lambda a: a.add_(lib.ones(2, 3)))(lib.ones(2))
        if case == "size_clash":
            return lib.vmap(lambda a: a.add_(lib.ones(2, 3)))(lib.ones(2, 4))
        if case == "out_of_place_clash":
            return lib.vmap(lambda a: a + lib.ones(2, 3))(lib.ones(2, 4))
        return lib.vmap(lambda a: a.mul_(lib.ones(3)))(lib.ones(5, 1))
    words = []
    for lib in (torch, minigrad):
        with pytest.raises(RuntimeError) as info:
            run(lib)
        words.append(str(info.value))
    # minigrad may add its own note in parentheses after torch's words
    assert words[1].startswith(words[0]), words


# ---------------------------------------------------------------------------------------------
# the device class

def test_device_class_name_is_torchs():
    assert type(minigrad.ones(2).device).__name__ == type(torch.ones(2).device).__name__
    assert type(minigrad.device("cpu")) is minigrad.device
    assert isinstance(minigrad.ones(2).device, minigrad.device)
    import pickle
    back = pickle.loads(pickle.dumps(minigrad.device("cpu")))
    assert back == minigrad.device("cpu") and type(back) is minigrad.device
