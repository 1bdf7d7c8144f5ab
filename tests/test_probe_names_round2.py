"""Node names and in-place activations, side by side with PyTorch (probe round 2).

* ops composed of others, whose last node now carries PyTorch's name for the whole op:
  ``F.embedding`` (EmbeddingBackward0), the regression and margin losses, pairwise_distance
  (NormBackward1), and the in-place index and scatter writes computed out of place and
  copied in (ScatterBackward0, IndexAddBackward0...), with their gradients unchanged;
* the in-place elu family (``F.elu_``, ``celu_``, ``selu_``, ``inplace=True``): PyTorch's
  node keeps the RESULT (EluBackward1), so a later in-place write into it makes the backward
  refuse; values, first and second derivatives equal PyTorch's in float64.

Every case runs the same code with ``L = torch`` and ``L = minigrad`` on the same numpy data.
"""
import numpy as np
import pytest
import torch

import minigrad

LIBS = (torch, minigrad)
RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))
# the elu family's edges: 0, -0.0, large negatives, a positive
ACT = np.array([[-2.0, -0.5, 0.0, 0.7], [1.5, -3.0, 2.5, -0.0]])


def _leaf(L, data=X):
    return L.tensor(data, requires_grad=True)


def _name(y):
    node = y.grad_fn
    return node.name(), type(node).__name__, repr(y).rsplit("grad_fn=", 1)[1]


# name -> f(L, F, x): x is (3, 4) float64 requiring grad; the result's node is compared
NAME_CASES = {
    "embedding_2d_index": lambda L, F, x: F.embedding(L.tensor([[0, 2], [1, 1]]), x),
    "embedding_1d_index": lambda L, F, x: F.embedding(L.tensor([0, 2]), x),
    "embedding_padding": lambda L, F, x: F.embedding(L.tensor([0, 2]), x, padding_idx=0),
    "embedding_padding_2d": lambda L, F, x: F.embedding(L.tensor([[0, 2, 2, 1]] * 2), x,
                                                        padding_idx=2),
    "embedding_freq": lambda L, F, x: F.embedding(L.tensor([0, 2, 2]), x,
                                                  scale_grad_by_freq=True),
    "smooth_l1_mean": lambda L, F, x: F.smooth_l1_loss(x, L.tensor(Y)),
    "smooth_l1_none": lambda L, F, x: F.smooth_l1_loss(x, L.tensor(Y), reduction="none"),
    "smooth_l1_sum": lambda L, F, x: F.smooth_l1_loss(x, L.tensor(Y), reduction="sum"),
    "smooth_l1_beta0": lambda L, F, x: F.smooth_l1_loss(x, L.tensor(Y), beta=0.0),
    "huber_mean": lambda L, F, x: F.huber_loss(x, L.tensor(Y)),
    "huber_none": lambda L, F, x: F.huber_loss(x, L.tensor(Y), reduction="none", delta=0.5),
    "huber_sum": lambda L, F, x: F.huber_loss(x, L.tensor(Y), reduction="sum"),
    "soft_margin_mean": lambda L, F, x: F.soft_margin_loss(x, L.tensor(np.sign(Y))),
    "soft_margin_none": lambda L, F, x: F.soft_margin_loss(x, L.tensor(np.sign(Y)),
                                                           reduction="none"),
    "pairwise_distance": lambda L, F, x: F.pairwise_distance(x, L.tensor(Y)),
    "pairwise_distance_p1_keepdim": lambda L, F, x: F.pairwise_distance(x, L.tensor(Y), p=1,
                                                                        keepdim=True),
    "normalize": lambda L, F, x: F.normalize(x),
    "normalize_half": lambda L, F, x: F.normalize(x.half()),
    "clamp_min_": lambda L, F, x: (x * 1).clamp_min_(0.1),
    "clamp_max_": lambda L, F, x: (x * 1).clamp_max_(0.1),
    "clamp_min_tensor_": lambda L, F, x: (x * 1).clamp_min_(L.tensor(Y)),
    "clamp_max_tensor_": lambda L, F, x: (x * 1).clamp_max_(L.tensor(Y)),
    "scatter_src": lambda L, F, x: (x * 1).scatter_(1, L.tensor([[0], [1], [2]]), L.tensor(Y)),
    "scatter_value": lambda L, F, x: (x * 1).scatter_(1, L.tensor([[0], [1], [2]]), 2.0),
    "scatter_add_": lambda L, F, x: (x * 1).scatter_add_(1, L.tensor([[0], [1], [2]]),
                                                         L.tensor(Y)),
    "scatter_reduce_": lambda L, F, x: (x * 1).scatter_reduce_(1, L.tensor([[0], [1], [2]]),
                                                               L.tensor(Y), "amax"),
    "index_add_": lambda L, F, x: (x * 1).index_add_(0, L.tensor([0, 2]), L.tensor(Y[:2])),
    "index_fill_": lambda L, F, x: (x * 1).index_fill_(1, L.tensor([-1]), 1.0),
    "index_fill_tensor": lambda L, F, x: (x * 1).index_fill_(
        0, L.tensor([0, 2]), L.tensor(1.0, dtype=L.float64)),
    "index_copy_": lambda L, F, x: (x * 1).index_copy_(0, L.tensor([0, 2]), L.tensor(Y[:2])),
    "index_put_": lambda L, F, x: (x * 1).index_put_((L.tensor([0, 2]),), L.tensor(Y[:2])),
    "index_put_accumulate": lambda L, F, x: (x * 1).index_put_(
        (L.tensor([0, 0]),), L.tensor(Y[:2]), accumulate=True),
    "index_reduce_": lambda L, F, x: (x * 1).index_reduce_(0, L.tensor([0, 2]),
                                                           L.tensor(Y[:2]), "prod"),
    "masked_scatter_": lambda L, F, x: (x * 1).masked_scatter_(L.tensor(X > 0), L.tensor(Y)),
    "put_": lambda L, F, x: (x * 1).put_(L.tensor([0, 5]), L.tensor(Y[0, :2])),
    "nan_to_num_": lambda L, F, x: (x * 1).nan_to_num_(),
    "sgn_": lambda L, F, x: (x * 1).sgn_(),
    "sinc_": lambda L, F, x: (x * 1).sinc_(),
    "deg2rad_": lambda L, F, x: (x * 1).deg2rad_(),
    "rad2deg_": lambda L, F, x: (x * 1).rad2deg_(),
    "mvlgamma_": lambda L, F, x: (x.abs() + 3).mvlgamma_(2),
    "polygamma_": lambda L, F, x: (x.abs() + 3).polygamma_(1),
    "ldexp_": lambda L, F, x: (x * 1).ldexp_(L.tensor([[1, 2, 3, 1]] * 3)),
    "zero_": lambda L, F, x: (x * 1).zero_(),
    "elu_": lambda L, F, x: F.elu_(x * 1),
    "elu_inplace": lambda L, F, x: F.elu(x * 1, 0.5, inplace=True),
    "celu_": lambda L, F, x: F.celu_(x * 1, 0.5),
    "celu_inplace": lambda L, F, x: F.celu(x * 1, inplace=True),
    "selu_": lambda L, F, x: F.selu_(x * 1),
    "selu_inplace": lambda L, F, x: F.selu(x * 1, inplace=True),
    "leaky_relu_inplace": lambda L, F, x: F.leaky_relu(x * 1, 0.2, inplace=True),
    "threshold_": lambda L, F, x: F.threshold_(x * 1, 0.1, 2.0),
    "threshold_inplace": lambda L, F, x: F.threshold(x * 1, 0.1, 2.0, inplace=True),
}


@pytest.mark.parametrize("case", sorted(NAME_CASES))
def test_node_names_match_torch(case):
    got = [_name(NAME_CASES[case](L, L.nn.functional, _leaf(L))) for L in LIBS]
    assert got[1][:2] == got[0][:2]
    assert got[1][2].replace("minigrad.", "torch.") == got[0][2]


@pytest.mark.parametrize("case", ["embedding_padding_2d", "smooth_l1_none",
                                  "huber_none", "soft_margin_mean", "pairwise_distance",
                                  "scatter_src", "scatter_add_", "index_add_", "index_copy_",
                                  "index_fill_", "masked_scatter_", "put_", "index_put_",
                                  "threshold_", "leaky_relu_inplace", "clamp_min_tensor_"])
def test_renamed_ops_keep_torch_gradients(case):
    """Only the names changed: first and second derivatives are PyTorch's."""
    grads = []
    for L in LIBS:
        x = _leaf(L)
        y = NAME_CASES[case](L, L.nn.functional, x)
        (g,) = L.autograd.grad((y * y).sum(), x, create_graph=True)
        (gg,) = L.autograd.grad(g.sum(), x, allow_unused=True)
        grads.append((g.detach().numpy(), None if gg is None else gg.numpy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-12, atol=1e-12)
    if grads[0][1] is not None:
        np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12, atol=1e-12)


def test_view_written_by_named_op_keeps_its_view_node():
    """A view written in place: the write is recorded on the base (CopySlices, as PyTorch);
    the view's own node is not renamed after the op (PyTorch shows a view node there)."""
    for L in LIBS:
        base = _leaf(L) * 1
        view = base[1:]
        view.scatter_(1, L.tensor([[0], [1]]), L.tensor(Y[:2]))
        assert base.grad_fn.name() == "torch::autograd::CopySlices"
        assert view.grad_fn.name() != "ScatterBackward0"
        base = _leaf(L) * 1
        base[1:].zero_()
        assert base.grad_fn.name() == "torch::autograd::CopySlices"


def test_embedding_gradient_with_padding_and_sparse_name():
    grads = []
    for L in LIBS:
        w = _leaf(L)
        out = L.nn.functional.embedding(L.tensor([[0, 1], [2, 1]]), w, padding_idx=1)
        (out * out).sum().backward()
        sparse = L.nn.functional.embedding(L.tensor([[0, 1]]), _leaf(L), sparse=True)
        grads.append((w.grad.numpy(), sparse.grad_fn.name()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-12)
    assert grads[1][1] == grads[0][1]


def _embedding_graph(L, kwargs):
    """An embedding output written in place (``x = emb(tokens); x *= scale``), its nodes,
    saved values and the weight's gradient."""
    w = _leaf(L, RNG_W)
    out = L.nn.functional.embedding(L.tensor([[0, 2, 4], [1, 1, 4]]), w, **kwargs)
    node = out.grad_fn
    saved = (node._saved_padding_idx, node._saved_scale_grad_by_freq, node._saved_sparse,
             node._saved_weight_sym_argsize_0, node._saved_indices.tolist())
    out.mul_(2.0)
    names = (out.grad_fn.name(), [n.name() for n, _ in out.grad_fn.next_functions if n],
             [type(n).__name__ for n, _ in node.next_functions])
    (g,) = L.autograd.grad((out * out).sum(), w, create_graph=True)
    (gg,) = L.autograd.grad(g.pow(2).sum(), w)
    return names, saved, g.detach().numpy(), gg.numpy(), out._base is None


RNG_W = RNG.standard_normal((5, 3))


@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 1}, {"padding_idx": -1},
                                    {"scale_grad_by_freq": True}])
def test_embedding_is_one_node_and_no_view(kwargs):
    """PyTorch's embedding is one node whose output is a tensor of its own: an in-place op on
    it records that op (MulBackward0), not a view's rebase."""
    want, got = (_embedding_graph(L, kwargs) for L in LIBS)
    assert got[0] == want[0]
    assert got[1] == want[1]
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12)
    if not kwargs.get("scale_grad_by_freq"):   # (PyTorch's double backward drops the scaling)
        np.testing.assert_allclose(got[3], want[3], rtol=1e-12)
    assert got[4] and want[4]


# the in-place elu family: name -> f(F, y) writing into y
ELU_INPLACE = {
    "elu_": lambda F, y: F.elu_(y),
    "elu_alpha": lambda F, y: F.elu(y, 0.7, inplace=True),
    "celu_": lambda F, y: F.celu_(y, 0.5),
    "celu_inplace": lambda F, y: F.celu(y, 1.3, inplace=True),
    "selu_": lambda F, y: F.selu_(y),
    "selu_inplace": lambda F, y: F.selu(y, inplace=True),
}


def _elu_run(L, case, dtype, write_after):
    """Values, node name, then the first and second derivatives w.r.t. the leaf (or the
    error's type and words when the backward refuses)."""
    x = L.tensor(ACT, dtype=getattr(L, dtype), requires_grad=True)
    y = x * 1
    out = ELU_INPLACE[case](L.nn.functional, y)
    result = [out is y, out.grad_fn.name(), out.detach().double().numpy().tolist()]
    if write_after:
        y.add_(1.0)
    try:
        (g,) = L.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = L.autograd.grad(g.sum(), x)
    except RuntimeError as e:
        return result + ["refused", "modified by an inplace operation" in str(e)]
    return result + [g.detach().double().numpy(), gg.double().numpy()]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(ELU_INPLACE))
def test_inplace_elu_family_matches_torch(case, dtype):
    want, got = (_elu_run(L, case, dtype, write_after=False) for L in LIBS)
    assert got[:2] == want[:2]
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[2], want[2], **tol)
    np.testing.assert_allclose(got[3], want[3], **tol)     # first derivative
    np.testing.assert_allclose(got[4], want[4], **tol)     # second derivative


@pytest.mark.parametrize("case", sorted(ELU_INPLACE))
def test_inplace_elu_family_refuses_after_a_later_write(case):
    """PyTorch's in-place elu keeps its result: writing into it before the backward is
    caught by the version check (minigrad used to keep a copy of the input and differ)."""
    want, got = (_elu_run(L, case, "float64", write_after=True) for L in LIBS)
    assert want[3:] == ["refused", True]
    assert got[3:] == want[3:]


def test_inplace_elu_nan_takes_positive_slope():
    """PyTorch's result-based backward tests result <= 0: a NaN result gets the slope of the
    positive side."""
    grads = []
    for L in LIBS:
        x = L.tensor([np.nan, -1.0, 2.0], dtype=L.float64, requires_grad=True)
        y = L.nn.functional.elu(x * 1, 0.5, inplace=True)
        (g,) = L.autograd.grad(y.sum(), x)
        grads.append(g.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


def test_inplace_elu_negative_alpha_backward_refused():
    errors = []
    for L in LIBS:
        x = L.tensor([-1.0, 2.0], dtype=L.float64, requires_grad=True)
        y = L.nn.functional.elu_(x * 1, -1.0)
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
        errors.append(str(info.value))
    assert "negative slope" in errors[1] and "out-of-place" in errors[1]
    assert errors[1] == errors[0]


def test_inplace_elu_without_grad_and_on_views():
    for L in LIBS:
        F = L.nn.functional
        y = L.tensor(ACT)
        assert F.elu_(y) is y
    got = []
    for L in LIBS:
        x = L.tensor(ACT, requires_grad=True)
        base = x * 1
        L.nn.functional.selu_(base[1:])
        (g,) = L.autograd.grad((base * base).sum(), x)
        got.append((base.detach().numpy(), g.numpy()))
    np.testing.assert_allclose(got[1][0], got[0][0], rtol=1e-12)
    np.testing.assert_allclose(got[1][1], got[0][1], rtol=1e-12)


def test_inplace_elu_in_training_loop_style():
    """A block written with inplace activations (as some model code is): loss and weight
    gradient equal PyTorch's."""
    w_data = RNG.standard_normal((4, 4))
    got = []
    for L in LIBS:
        w = L.tensor(w_data, requires_grad=True)
        h = L.tensor(X) @ w
        h = L.nn.functional.elu(h, inplace=True)
        h = L.nn.functional.celu(h @ w, 0.8, inplace=True)
        loss = h.pow(2).mean()
        loss.backward()
        got.append((loss.item(), w.grad.numpy()))
    assert got[1][0] == pytest.approx(got[0][0], rel=1e-12)
    np.testing.assert_allclose(got[1][1], got[0][1], rtol=1e-10)


@pytest.mark.parametrize("name, args", [("ELU", ()), ("CELU", (1.5,)), ("SELU", ()),
                                        ("LeakyReLU", (0.1,)), ("Hardtanh", ()), ("SiLU", ()),
                                        ("Mish", ()), ("Hardswish", ()), ("Hardsigmoid", ()),
                                        ("ReLU6", ()), ("Threshold", (0.1, 20.0))])
def test_inplace_activation_modules_record_what_the_functionals_do(name, args):
    """``nn.ELU(inplace=True)`` and its kin run the functional's in-place form: PyTorch's node
    name, gradient, and refusal of a backward after a later write into the output."""
    seen = []
    for lib in (minigrad, torch):
        x = lib.tensor([-2.0, -0.5, 0.3, 1.7], dtype=lib.float64, requires_grad=True)
        module = getattr(lib.nn, name)(*args, inplace=True)
        y = module(x * 1)
        node = type(y.grad_fn).__name__
        y.sum().backward()
        grad = x.grad.numpy().copy()
        y = module(x * 1)
        y.add_(1)
        try:
            y.sum().backward()
            refused = False
        except RuntimeError as exc:
            refused = "modified by an inplace operation" in str(exc)
        seen.append((node, refused, grad))
    assert seen[0][:2] == seen[1][:2]
    # (PyTorch's hardsigmoid slope is 1/6 rounded to float32, in float64 too)
    np.testing.assert_allclose(seen[0][2], seen[1][2], rtol=1e-7 if name == "Hardsigmoid"
                               else 1e-12, atol=0)


def test_views_of_a_base_written_in_place_record_as_strided():
    names = []
    for lib in (minigrad, torch):
        x = lib.ones(3, 4, requires_grad=True)
        y = x * 1
        row, col = y[0], y[:, 1]
        y.add_(1)
        z = x * 1
        tail = z[1:]
        tail.mul_(2)
        names.append([type(t.grad_fn).__name__ for t in (row, col, z, tail)])
    assert names[0] == names[1]


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("weights", [False, True])
def test_embedding_bag_records_one_node(mode, weights):
    names = []
    for lib in (minigrad, torch):
        w = lib.ones(10, 3, requires_grad=True)
        idx, offsets = lib.tensor([1, 2, 4, 5, 4, 3]), lib.tensor([0, 3])
        psw = lib.ones(6) if weights and mode == "sum" else None
        out = lib.nn.functional.embedding_bag(idx, w, offsets, mode=mode,
                                              per_sample_weights=psw)
        names.append(type(out.grad_fn).__name__)
    assert names[0] == names[1]


def test_tril_and_triu_in_place_record_their_own_nodes():
    seen = []
    for lib in (minigrad, torch):
        x = lib.ones(3, 3, dtype=lib.float64, requires_grad=True)
        lower, upper, rows = x * 1, x * 1, (x * 1)[1:]
        lower.tril_()
        upper.triu_(1)
        rows.tril_()
        (lower.sum() + 2 * upper.sum() + 3 * rows.sum()).backward()
        seen.append(([type(t.grad_fn).__name__ for t in (lower, upper, rows)],
                     x.grad.numpy().tolist()))
    assert seen[0] == seen[1]


@pytest.mark.parametrize("slope", [0.1, -0.1])
def test_leaky_relu_in_place_with_a_negative_slope_refuses_its_backward(slope):
    seen = []
    for lib in (minigrad, torch):
        x = lib.tensor([-2.0, -0.5, 0.3, 1.7], dtype=lib.float64, requires_grad=True)
        y = lib.nn.functional.leaky_relu(x * 1, slope, inplace=True)
        try:
            y.sum().backward()
            seen.append((type(y.grad_fn).__name__, x.grad.numpy().tolist()))
        except RuntimeError as exc:
            seen.append((type(y.grad_fn).__name__, str(exc)))
    assert seen[0] == seen[1]


@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "complex128"])
@pytest.mark.parametrize("inplace", [False, True])
def test_rsqrt_keeps_its_result(dtype, inplace):
    """PyTorch's rsqrt reads its result in the backward: a later write into it makes the
    backward refuse; name and gradient as PyTorch's."""
    seen = []
    for lib in (minigrad, torch):
        x = lib.tensor([1.0, 4.0], dtype=getattr(lib, dtype), requires_grad=True)
        y = x * 1
        y = y.rsqrt_() if inplace else y.rsqrt()
        node = type(y.grad_fn).__name__
        y.sum().abs().backward(retain_graph=True)
        grad = x.grad.to(lib.complex128).numpy().tolist()
        y.mul_(2)
        try:
            (y * 1).sum().abs().backward()
            refused = False
        except RuntimeError as exc:
            refused = "modified by an inplace operation" in str(exc)
        seen.append((node, grad, refused))
    assert seen[0] == seen[1]
