"""Round-18 fuzzing of the layer APIs (``nn.functional`` and ``nn`` modules): differences from
PyTorch found by running both side by side, each case here run against torch in the test.

* the dropout family: a NaN ``p`` is the kernel's RuntimeError, a ``training`` that is not a
  bool the argument parser's TypeError;
* batch_norm / layer_norm backward through inf and NaN inputs: NaN gradients, no numpy
  RuntimeWarning;
* rms_norm's shape message, gumbel_softmax's deprecated ``eps`` and integer logits;
* soft_margin_loss refusing a target that requires grad; huber_loss's weight checks;
* binary_cross_entropy's target gradient at probabilities 0 and 1 (-logit(x), infinite);
  its weight's and the logits version's pos_weight's broadcast errors;
* grid_sample's order of shape checks; embedding_bag's out-of-range index in its generic
  kernel (mode 'max', float64); softmax's non-integer dim; ctc_loss's rank check;
* ``where``'s broadcast error (and so hinge_embedding_loss's) naming its operands in
  PyTorch's order.
"""
import re
import warnings

import numpy as np
import pytest
import torch

import minigrad

LIBS = (torch, minigrad)


def _outcome(fn):
    """('ok', value) or (exception type name, message with torch's names made minigrad's)."""
    try:
        return "ok", fn()
    except Exception as e:      # noqa: BLE001  (the type is what is compared)
        return type(e).__name__, re.sub(r"\btorch\b", "minigrad", str(e))


def _same_refusal(fn, exact=True):
    """Both libraries refuse ``fn(lib)`` with one exception type and (``exact``) one message,
    or minigrad's message starting with PyTorch's words."""
    a, b = (_outcome(lambda lib=lib: fn(lib)) for lib in LIBS)
    assert a[0] != "ok" and a[0] == b[0], (a, b)
    assert a[1] == b[1] if exact else b[1].startswith(a[1]), (a, b)
    return a[1]


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [(w.category, str(w.message)) for w in caught]


def _np(t):
    return t.detach().numpy() if t is not None else None


# ------------------------------------------------------------------------------------------
# 1. dropout arguments
# ------------------------------------------------------------------------------------------
_DROPOUTS = {"dropout": (3, 4), "dropout1d": (2, 3, 4), "dropout2d": (2, 3, 4, 2),
             "dropout3d": (2, 3, 2, 2, 2), "alpha_dropout": (3, 4),
             "feature_alpha_dropout": (2, 3, 4)}


@pytest.mark.parametrize("name", sorted(_DROPOUTS))
@pytest.mark.parametrize("kwargs", [dict(p=float("nan"), training=False),
                                    dict(p=float("nan"), training=True),
                                    dict(p=0.5, training=0), dict(p=0.0, training=1),
                                    dict(p=0.5, training=None), dict(p=1.5, training=True)])
def test_dropout_argument_refusals(name, kwargs):
    shape = _DROPOUTS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same_refusal(lambda L: getattr(L.nn.functional, name)(L.ones(shape), **kwargs))


def test_dropout_tensor_training_flag():
    _same_refusal(lambda L: L.nn.functional.dropout(L.ones(3), 0.5, training=L.tensor(True)))


# ------------------------------------------------------------------------------------------
# 2. norms' backward through inf / NaN: no numpy warning, PyTorch's values
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", [
    lambda L, a: L.nn.functional.batch_norm(a, None, None, training=True),
    lambda L, a: L.nn.functional.layer_norm(a, (2,)),
    lambda L, a: L.nn.functional.layer_norm(a, (5, 2)),
])
def test_norm_backward_of_inf_and_nan_is_quiet(norm):
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 2))
    x[0, 1, 2, 1], x[1, 0, 0, 0] = np.nan, np.inf
    w = np.cos(np.arange(x.size)).reshape(x.shape)
    got = []
    for L in LIBS:
        a = L.tensor(x, requires_grad=True)

        def run():
            y = norm(L, a)
            (y * L.tensor(w)).sum().backward()
            return y
        y, caught = _warnings_of(run)
        assert caught == []
        got.append((_np(y), _np(a.grad)))
    for mine, theirs in zip(got[1], got[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12, equal_nan=True)


# ------------------------------------------------------------------------------------------
# 3. rms_norm's message, gumbel_softmax's eps and dtype
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4,), (5, 2)])
def test_rms_norm_shape_message(shape):
    _same_refusal(lambda L: L.nn.functional.rms_norm(L.ones(3, 4, 4, 2), shape))


def test_gumbel_softmax_eps_warns():
    for L in LIBS:
        _, caught = _warnings_of(lambda: L.nn.functional.gumbel_softmax(L.ones(2, 3), eps=1e-5))
        assert caught == [(UserWarning, "`eps` parameter is deprecated and has no effect.")]
        _, caught = _warnings_of(lambda: L.nn.functional.gumbel_softmax(L.ones(2, 3)))
        assert caught == []


@pytest.mark.parametrize("values", [[1, 2, 3], [True, False], [1 + 1j]])
def test_gumbel_softmax_refuses_non_floating_logits(values):
    _same_refusal(lambda L: L.nn.functional.gumbel_softmax(L.tensor(values)))


# ------------------------------------------------------------------------------------------
# 4. losses
# ------------------------------------------------------------------------------------------
def test_soft_margin_loss_refuses_a_target_requiring_grad():
    x, y = np.linspace(-1, 1, 6), np.array([1., -1, 1, 1, -1, -1])
    _same_refusal(lambda L: L.nn.functional.soft_margin_loss(
        L.tensor(x), L.tensor(y, requires_grad=True)))
    for L in LIBS:                 # no refusal without grad mode
        with L.no_grad():
            out = L.nn.functional.soft_margin_loss(L.tensor(x), L.tensor(y, requires_grad=True))
        np.testing.assert_allclose(out.item(), np.log1p(np.exp(-x * y)).mean())


@pytest.mark.parametrize("weight_shape,reduction", [((4,), "mean"), ((1, 4), "sum"),
                                                    ((3, 4), "avg")])
def test_huber_loss_weight_checks(weight_shape, reduction):
    rng = np.random.default_rng(1)
    a, b, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.random(weight_shape)
    _same_refusal(lambda L: L.nn.functional.huber_loss(L.tensor(a), L.tensor(b),
                                                       reduction=reduction, weight=L.tensor(w)))


def test_binary_cross_entropy_target_gradient_at_zero_and_one():
    grads = []
    for L in LIBS:
        x = L.tensor([0.0, 1.0, 0.25], dtype=L.float64, requires_grad=True)
        y = L.tensor([1.0, 0.0, 1.0], dtype=L.float64, requires_grad=True)
        L.nn.functional.binary_cross_entropy(x, y, reduction="sum").backward()
        grads.append((_np(x.grad), _np(y.grad)))
    (tx, ty), (mx, my) = grads
    np.testing.assert_allclose(mx, tx, rtol=1e-6)
    np.testing.assert_array_equal(np.isinf(my), [True, True, False])
    np.testing.assert_allclose(my, ty, rtol=1e-12)      # inf, -inf, -logit(0.25)


@pytest.mark.parametrize("weight_shape", [(3,), (5, 7), (2, 5, 7), (5, 4, 1), (2, 3, 4)])
def test_binary_cross_entropy_weight_broadcast_errors(weight_shape):
    p = np.full((3, 4), 0.3)
    msg = _same_refusal(lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor(p), L.tensor(p), weight=L.ones(weight_shape, dtype=L.float64)), exact=False)
    assert msg


@pytest.mark.parametrize("shape", [(3,), (5, 1), (1, 4, 1)])
@pytest.mark.parametrize("what", ["weight", "pos_weight"])
def test_bce_with_logits_weight_broadcast_errors(shape, what):
    p = np.full((3, 4), 0.3)
    _same_refusal(lambda L: L.nn.functional.binary_cross_entropy_with_logits(
        L.tensor(p), L.tensor(p), **{what: L.ones(shape, dtype=L.float64)}), exact=False)


def test_hinge_embedding_loss_shape_error_names_operands_in_order():
    _same_refusal(lambda L: L.nn.functional.hinge_embedding_loss(L.ones(4, 5), L.ones(2, 5)),
                  exact=False)


@pytest.mark.parametrize("shapes", [((2, 5), (4, 5), (4, 5)), ((4, 5), (2, 5), (4, 5)),
                                    ((4, 5), (4, 5), (2, 5)), ((3, 1), (1, 5), (2, 5))])
def test_where_broadcast_error_order(shapes):
    c, x, y = shapes
    _same_refusal(lambda L: L.where(L.ones(c, dtype=L.bool), L.ones(x), L.ones(y)), exact=False)


@pytest.mark.parametrize("shape", [(1, 6, 2, 4), (4,)])
def test_ctc_loss_rank_check(shape):
    _same_refusal(lambda L: L.nn.functional.ctc_loss(
        L.zeros(shape, dtype=L.float64), L.tensor([[1, 2], [1, 2]]), L.tensor([6, 5]),
        L.tensor([2, 2])))


# ------------------------------------------------------------------------------------------
# 5. grid_sample, embedding_bag, softmax's dim
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("input_shape,grid_shape", [
    ((2, 3, 5), (2, 3, 6, 2)), ((2, 3, 5), (2, 6, 1)), ((2, 3, 4, 5), (2, 3, 6, 3)),
    ((2, 3, 4, 5), (2, 3, 4, 6, 2)), ((2, 3, 4, 5), (3, 3, 6, 3)),
    ((2, 3, 4, 5, 2, 2), (2, 1, 1, 1, 1, 4)), ((2, 3, 4, 5), (2, 3, 6, 2, 1)),
    ((2, 3, 4, 5), ())])
def test_grid_sample_shape_checks(input_shape, grid_shape):
    _same_refusal(lambda L: L.nn.functional.grid_sample(
        L.ones(input_shape), L.zeros(grid_shape), align_corners=False))


@pytest.mark.parametrize("dtype,mode", [("float64", "sum"), ("float64", "mean"),
                                        ("float64", "max"), ("float32", "max")])
def test_embedding_bag_index_out_of_range(dtype, mode):
    # (PyTorch's generic kernel; its float32 sum/mean kernel names a position of its own)
    _same_refusal(lambda L: L.nn.functional.embedding_bag(
        L.tensor([1, 2, 9]), L.ones(7, 3, dtype=getattr(L, dtype)), L.tensor([0, 1]),
        mode=mode))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dim", [1.0, "a", [1], True])
def test_functional_softmax_non_integer_dim(name, dim):
    _same_refusal(lambda L: getattr(L.nn.functional, name)(L.ones(2, 3), dim))


# ------------------------------------------------------------------------------------------
# 6. reflection / replication padding with a negative output size
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 4, 1), (-2, 0, -3, 1)),
                                       ((2, 3, 4, 1), (0, 0, -3, -2)),
                                       ((1, 2, 2, 2, 2), (-1, -2, 0, 0, 0, 0)),
                                       ((2, 2, 1, 2), (-2, -3, -3, 1, 3, 3))])
def test_pad_negative_output_size(mode, shape, pad):
    _same_refusal(lambda L: L.nn.functional.pad(L.ones(shape), pad, mode=mode))


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_pad_empty_output_still_allowed(mode):
    got = [tuple(L.nn.functional.pad(L.ones(2, 3, 4, 1), (-1, 0, 0, 0), mode=mode).shape)
           for L in LIBS]
    assert got[0] == got[1] == (2, 3, 4, 0)


# ------------------------------------------------------------------------------------------
# 7. class losses' shape and weight checks
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 2), (2, 3, 2, 2), (2, 3, 2, 2, 2)])
def test_class_weight_of_wrong_size(fn, shape):
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    _same_refusal(lambda L: getattr(L.nn.functional, fn)(
        L.ones(shape), L.zeros(tshape, dtype=L.int64), weight=L.ones(4)))


def test_nll_loss_reads_the_weight_before_the_integer_input():
    _same_refusal(lambda L: L.nn.functional.nll_loss(
        L.ones(2, 3, dtype=L.int64), L.zeros(2, dtype=L.int64), weight=L.ones(4)))


@pytest.mark.parametrize("tshape", [(1,), (2,), (1, 2)])
def test_cross_entropy_of_a_0d_input(tshape):
    _same_refusal(lambda L: L.nn.functional.cross_entropy(L.ones(()),
                                                          L.zeros(tshape, dtype=L.int64)))


@pytest.mark.parametrize("tshape", [(), (1,), (3, 4)])
def test_multilabel_soft_margin_loss_of_a_0d_input(tshape):
    _same_refusal(lambda L: L.nn.functional.multilabel_soft_margin_loss(L.ones(()),
                                                                        L.zeros(tshape)))


@pytest.mark.parametrize("target_dtype", ["bool", "float64", "int64"])
def test_hinge_embedding_loss_of_a_bool_input(target_dtype):
    _same_refusal(lambda L: L.nn.functional.hinge_embedding_loss(
        L.ones(3, 4, dtype=L.bool), L.ones(3, 4, dtype=getattr(L, target_dtype))))


# ------------------------------------------------------------------------------------------
# 8. scaled_dot_product_attention: a mask may not enlarge the scores
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask_dtype", ["bool", "float64"])
@pytest.mark.parametrize("q_shape,mask_shape", [((3, 1, 3), (2, 1)), ((1, 1, 3), (2, 1)),
                                                ((2, 4, 3), (3, 4, 4))])
def test_sdpa_mask_that_enlarges_the_scores(q_shape, mask_shape, mask_dtype):
    q = np.random.default_rng(2).standard_normal(q_shape)
    _same_refusal(lambda L: L.nn.functional.scaled_dot_product_attention(
        L.tensor(q), L.tensor(q), L.tensor(q),
        attn_mask=L.ones(mask_shape, dtype=getattr(L, mask_dtype))), exact=False)


def test_sdpa_mask_that_broadcasts_still_works():
    rng = np.random.default_rng(3)
    q, k, m = rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 2, 5, 4)), \
        rng.standard_normal((2, 1, 1, 5))
    got = [L.nn.functional.scaled_dot_product_attention(L.tensor(q), L.tensor(k), L.tensor(k),
                                                        attn_mask=L.tensor(m)).numpy()
           for L in LIBS]
    np.testing.assert_allclose(got[1], got[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["greater", "greater_equal", "less", "less_equal",
                                  "not_equal"])
def test_comparison_aliases_refuse_an_array_under_their_own_names(name):
    """torch.greater is gt under another name, and its refusal of an ndarray names greater()."""
    got = []
    for L in (torch, minigrad):
        with pytest.raises(TypeError) as info:
            getattr(L, name)(L.ones(2), np.ones(2))
        got.append(str(info.value).split(" - ")[0])
        assert getattr(L, name)(L.tensor([1.0, 2.0]), 1.5).tolist() == \
            getattr(torch, name)(torch.tensor([1.0, 2.0]), 1.5).tolist()
    assert got[0] == got[1] == f"{name}() received an invalid combination of arguments"
