"""What users see printed, side by side with PyTorch: the autograd node names (``grad_fn``'s
``name()``, its class name, and the ``grad_fn=<...>`` of a tensor's repr), for the ops whose
node minigrad records under a name that depends on the call (a reshape of contiguous memory
is a ViewBackward0, a sum over dims a SumBackward1, a loss its own node) or whose last step
stands for a composite op (masked_fill, norm, interpolate...).

Every case runs the same code with ``L = torch`` and ``L = minigrad`` on the same numpy input
and compares the strings, with the library prefix of the repr normalised.
"""
import numpy as np
import pytest
import torch

import minigrad

LIBS = (torch, minigrad)
RNG = np.random.default_rng(0)
X3 = RNG.standard_normal((2, 3, 4))
IMG = RNG.standard_normal((2, 3, 6, 6))
W34 = RNG.standard_normal((3, 4))


def _x(L, data=X3):
    return L.tensor(data, requires_grad=True)


def _text(s):
    return s.replace("minigrad.", "torch.")


# name -> f(L, F, x) with x = X3 (2, 3, 4) float64 requiring grad; the result's node is compared
NODE_CASES = {
    "reshape_contiguous": lambda L, F, x: x.reshape(6, 4),
    "reshape_same_shape": lambda L, F, x: x.reshape(2, 3, 4),
    "reshape_copies": lambda L, F, x: x.transpose(1, 2).reshape(2, 12),
    "reshape_strided_view": lambda L, F, x: x[:, :2].reshape(2, 8),
    "flatten": lambda L, F, x: x.flatten(1),
    "flatten_transposed": lambda L, F, x: x.transpose(0, 1).flatten(),
    "unflatten": lambda L, F, x: x.unflatten(2, (2, 2)),
    "view": lambda L, F, x: x.view(-1),
    "unsqueeze": lambda L, F, x: x.unsqueeze(-1),
    "squeeze_all": lambda L, F, x: x[:, :1].squeeze(),
    "squeeze_dim": lambda L, F, x: x[:, :1].squeeze(1),
    "squeeze_dims": lambda L, F, x: x[:, :1].squeeze((1,)),
    "linear_2d_bias": lambda L, F, x: F.linear(x[0], L.tensor(W34), L.ones(3, dtype=L.float64)),
    "linear_2d": lambda L, F, x: F.linear(x[0], L.tensor(W34)),
    "linear_3d_bias": lambda L, F, x: F.linear(x, L.tensor(W34), L.ones(3, dtype=L.float64)),
    "linear_3d": lambda L, F, x: F.linear(x, L.tensor(W34)),
    "linear_1d_bias": lambda L, F, x: F.linear(x[0, 0], L.tensor(W34),
                                               L.ones(3, dtype=L.float64)),
    "linear_1d": lambda L, F, x: F.linear(x[0, 0], L.tensor(W34)),
    "linear_strided_bias": lambda L, F, x: F.linear(x.transpose(0, 1), L.tensor(W34),
                                                    L.ones(3, dtype=L.float64)),
    "matmul_batch_matrix": lambda L, F, x: x @ L.tensor(W34.T),
    "matmul_batch_batch": lambda L, F, x: x @ x.transpose(1, 2),
    "matmul_matrix_batch": lambda L, F, x: x[0].T @ x,
    "matmul_batch_vector": lambda L, F, x: x @ x[0, 0],
    "max_all": lambda L, F, x: x.max(),
    "min_all": lambda L, F, x: x.min(),
    "max_dim": lambda L, F, x: x.max(dim=1).values,
    "min_dim_keepdim": lambda L, F, x: x.min(1, keepdim=True)[0],
    "amax": lambda L, F, x: x.amax(1),
    "amin": lambda L, F, x: x.amin((0, 1)),
    "aminmax": lambda L, F, x: L.aminmax(x, dim=1).max,
    "kthvalue": lambda L, F, x: x.kthvalue(2, 1)[0],
    "median_all": lambda L, F, x: x.median(),
    "median_dim": lambda L, F, x: x.median(1)[0],
    "nanmedian_dim": lambda L, F, x: x.nanmedian(1)[0],
    "sum_all": lambda L, F, x: x.sum(),
    "sum_dim": lambda L, F, x: x.sum(1),
    "sum_dims_keepdim": lambda L, F, x: x.sum((0, 2), keepdim=True),
    "mean_all": lambda L, F, x: x.mean(),
    "mean_dim": lambda L, F, x: x.mean(-1),
    "split": lambda L, F, x: x.split(2, dim=2)[1],
    "split_sizes": lambda L, F, x: x.split([1, 3], dim=2)[1],
    "chunk": lambda L, F, x: x.chunk(2, dim=2)[0],
    "unbind": lambda L, F, x: x.unbind(1)[2],
    "cross_entropy": lambda L, F, x: F.cross_entropy(x[0], L.tensor([0, 1, 2])),
    "cross_entropy_sum": lambda L, F, x: F.cross_entropy(x[0], L.tensor([0, 1, 2]),
                                                         reduction="sum"),
    "cross_entropy_none": lambda L, F, x: F.cross_entropy(x[0], L.tensor([0, 1, 2]),
                                                          reduction="none"),
    "cross_entropy_spatial": lambda L, F, x: F.cross_entropy(
        x, L.tensor([[0, 1, 2, 0], [1, 1, 1, 1]])),
    "cross_entropy_smoothing": lambda L, F, x: F.cross_entropy(x[0], L.tensor([0, 1, 2]),
                                                               label_smoothing=0.1),
    "cross_entropy_probabilities": lambda L, F, x: F.cross_entropy(x[0], x[1].softmax(-1)
                                                                   .detach()),
    "nll_loss": lambda L, F, x: F.nll_loss(x[0], L.tensor([0, 1, 2])),
    "mse_loss": lambda L, F, x: F.mse_loss(x, x.detach() * 2),
    "mse_loss_sum": lambda L, F, x: F.mse_loss(x, x.detach() * 2, reduction="sum"),
    "mse_loss_none": lambda L, F, x: F.mse_loss(x, x.detach() * 2, reduction="none"),
    "bce": lambda L, F, x: F.binary_cross_entropy(x.sigmoid(), L.ones(2, 3, 4,
                                                                      dtype=L.float64)),
    "bce_with_logits": lambda L, F, x: F.binary_cross_entropy_with_logits(
        x, L.ones(2, 3, 4, dtype=L.float64)),
    "bce_with_logits_none": lambda L, F, x: F.binary_cross_entropy_with_logits(
        x, L.ones(2, 3, 4, dtype=L.float64), reduction="none"),
    "pow_tensor_exponent": lambda L, F, x: x ** x,
    "pow_number_base": lambda L, F, x: 2 ** x,
    "pow_number": lambda L, F, x: x ** 2,
    "square": lambda L, F, x: x.square(),
    "rsub": lambda L, F, x: 1 - x,
    "rsub_tensor": lambda L, F, x: L.rsub(x, x),
    "sub": lambda L, F, x: x - 1,
    "rsqrt": lambda L, F, x: x.abs().rsqrt(),
    "exp2": lambda L, F, x: x.exp2(),
    "log2": lambda L, F, x: x.abs().log2(),
    "log10": lambda L, F, x: x.abs().log10(),
    "log1p": lambda L, F, x: x.abs().log1p(),
    "frac": lambda L, F, x: x.frac(),
    "cumsum": lambda L, F, x: x.cumsum(0),
    "cumprod": lambda L, F, x: x.cumprod(1),
    "cummax": lambda L, F, x: x.cummax(0)[0],
    "logsumexp": lambda L, F, x: x.logsumexp(-1),
    "clamp_min": lambda L, F, x: x.clamp_min(0),
    "clamp_max_tensor": lambda L, F, x: x.clamp_max(L.zeros(4, dtype=L.float64)),
    "clamp_tensors": lambda L, F, x: x.clamp(min=L.zeros(4, dtype=L.float64)),
    "hardtanh": lambda L, F, x: F.hardtanh(x),
    "relu6": lambda L, F, x: F.relu6(x),
    "hardsigmoid": lambda L, F, x: F.hardsigmoid(x),
    "hardshrink": lambda L, F, x: F.hardshrink(x),
    "softshrink": lambda L, F, x: F.softshrink(x),
    "threshold": lambda L, F, x: F.threshold(x, 0.1, 2.0),
    "celu": lambda L, F, x: F.celu(x),
    "mish": lambda L, F, x: F.mish(x),
    "glu": lambda L, F, x: F.glu(x, -1),
    "prelu": lambda L, F, x: F.prelu(x, L.tensor([0.1], dtype=L.float64)),
    "masked_fill": lambda L, F, x: x.masked_fill(x > 0, 0.0),
    "masked_fill_tensor": lambda L, F, x: x.masked_fill(x > 0, L.tensor(1.0, dtype=L.float64)),
    "masked_select": lambda L, F, x: x.masked_select(x > 0),
    "sort": lambda L, F, x: x.sort(-1)[0],
    "topk": lambda L, F, x: x.topk(2)[0],
    "tril": lambda L, F, x: x.tril(),
    "triu": lambda L, F, x: x.triu(1),
    "roll": lambda L, F, x: x.roll(1, 0),
    "unfold": lambda L, F, x: x.unfold(2, 2, 1),
    "norm": lambda L, F, x: x.norm(),
    "norm_dim": lambda L, F, x: x.norm(dim=1),
    "linalg_norm": lambda L, F, x: L.linalg.norm(x),
    "vector_norm_1": lambda L, F, x: L.linalg.vector_norm(x, 1),
    "addmm": lambda L, F, x: L.addmm(L.ones(3, 3, dtype=L.float64), x[0], x[1].T),
    "addmv": lambda L, F, x: L.addmv(L.ones(3, dtype=L.float64), x[0], x[1, 0]),
    "baddbmm": lambda L, F, x: L.baddbmm(L.zeros(2, 3, 3, dtype=L.float64), x,
                                         x.transpose(1, 2)),
    "addbmm": lambda L, F, x: L.addbmm(L.zeros(3, 3, dtype=L.float64), x, x.transpose(1, 2)),
    "addr": lambda L, F, x: L.addr(x[0], x[1, 0, :3], x[1, 1]),
    "pad_reflect": lambda L, F, x: F.pad(x, (1, 1), mode="reflect"),
    "pad_replicate_2d": lambda L, F, x: F.pad(x, (1, 1, 1, 0), mode="replicate"),
    "pad_circular": lambda L, F, x: F.pad(x, (1, 1), mode="circular"),
    "pad_zero_amounts": lambda L, F, x: F.pad(x, (0, 0)),
    "interpolate_nearest": lambda L, F, x: F.interpolate(x, scale_factor=2),
    "interpolate_linear": lambda L, F, x: F.interpolate(x, scale_factor=2, mode="linear"),
    "interpolate_same_size": lambda L, F, x: F.interpolate(x, size=4),
    "lerp_number": lambda L, F, x: x.lerp(x * 2, 0.3),
    "lerp_tensor": lambda L, F, x: L.lerp(x, x * 2, x.detach()),
    "addcmul": lambda L, F, x: x.addcmul(x, x, value=0.5),
    "addcdiv": lambda L, F, x: x.addcdiv(x, x.abs() + 1),
    "trace": lambda L, F, x: x[0, :, :3].trace(),
    "dist": lambda L, F, x: L.dist(x, x.detach() * 2),
    "cdist": lambda L, F, x: L.cdist(x, x.detach() + 1),
    "linalg_cross": lambda L, F, x: L.linalg.cross(x[..., :3], x[..., 1:]),
    "block_diag": lambda L, F, x: L.block_diag(x[0], x[1]),
    "diag_embed": lambda L, F, x: L.diag_embed(x),
    "diagonal": lambda L, F, x: x.diagonal(dim1=-2, dim2=-1),
    "renorm": lambda L, F, x: x.renorm(2, 0, 1.0),
    "scatter_src": lambda L, F, x: x.scatter(2, L.zeros(2, 3, 1, dtype=L.long), x[..., :1]),
    "scatter_value": lambda L, F, x: x.scatter(2, L.zeros(2, 3, 1, dtype=L.long), 1.0),
    "scatter_add": lambda L, F, x: x.scatter_add(2, L.zeros(2, 3, 1, dtype=L.long), x[..., :1]),
    "index_add": lambda L, F, x: x.index_add(0, L.tensor([1]), x[:1]),
    "index_fill": lambda L, F, x: x.index_fill(2, L.tensor([0]), 1.0),
    "index_copy": lambda L, F, x: x.index_copy(0, L.tensor([1]), x[:1]),
    "take": lambda L, F, x: x.take(L.tensor([0, 5])),
    "prod_all": lambda L, F, x: x.prod(),
    "prod_dim": lambda L, F, x: x.prod(1),
    "nansum": lambda L, F, x: x.nansum(),
    "xlogy": lambda L, F, x: x.xlogy(x.abs() + 1),
    "pixel_shuffle": lambda L, F, x: F.pixel_shuffle(x.reshape(1, 4, 3, 2), 2),
    "pixel_unshuffle": lambda L, F, x: F.pixel_unshuffle(x.reshape(1, 1, 4, 6), 2),
    "fold_unfold": lambda L, F, x: F.unfold(x.reshape(1, 2, 3, 4), 2),
    "fold": lambda L, F, x: F.fold(x.reshape(1, 4, 6), (3, 4), 2),
    "linalg_inv": lambda L, F, x: L.linalg.inv(x[0, :, :3]),
    "linalg_det": lambda L, F, x: L.linalg.det(x[0, :, :3]),
    "linalg_slogdet": lambda L, F, x: L.linalg.slogdet(x[0, :, :3])[1],
    "linalg_solve": lambda L, F, x: L.linalg.solve(x[0, :, :3], x[1, :, :2]),
    "linalg_pinv": lambda L, F, x: L.linalg.pinv(x[0]),
    "linalg_svd": lambda L, F, x: L.linalg.svd(x[0], full_matrices=False)[1],
    "linalg_eigh": lambda L, F, x: L.linalg.eigh(x[0, :, :3] + x[0, :, :3].mT)[0],
    "linalg_qr": lambda L, F, x: L.linalg.qr(x[0])[0],
    "linalg_cholesky": lambda L, F, x: L.linalg.cholesky(
        x[0, :, :3] @ x[0, :, :3].mT + L.eye(3, dtype=L.float64)),
    "linalg_matrix_exp": lambda L, F, x: L.linalg.matrix_exp(x[0, :, :3]),
    "copysign_number": lambda L, F, x: L.copysign(x, 1.0),
    "copysign_tensor": lambda L, F, x: L.copysign(x, x),
    "xlogy_number_other": lambda L, F, x: L.xlogy(x, 2.0),
    "xlogy_number_input": lambda L, F, x: L.xlogy(2.0, x.abs()),
    "xlogy_tensors": lambda L, F, x: L.xlogy(x, x.abs()),
    "fmod_tensor": lambda L, F, x: L.fmod(x, x.detach() + 3),
    "fmod_number": lambda L, F, x: L.fmod(x, 2),
    "remainder_tensor": lambda L, F, x: x % (x.detach() + 3),
    "remainder_number_input": lambda L, F, x: L.remainder(2.0, x),
    "floor_divide": lambda L, F, x: x // 2,
    "fmax": lambda L, F, x: L.fmax(x, x * 2),
    "fmin": lambda L, F, x: L.fmin(x, x * 2),
    "diag_of_vector": lambda L, F, x: x[0, 0].diag(),
    "diag_of_matrix": lambda L, F, x: x[0].diag(1),
}


def _node_names(L, case):
    F = L.nn.functional
    y = NODE_CASES[case](L, F, _x(L))
    return y.grad_fn.name(), type(y.grad_fn).__name__, _text(repr(y)).rsplit("grad_fn=", 1)[1]


@pytest.mark.parametrize("case", sorted(NODE_CASES))
def test_node_names_match_torch(case):
    assert _node_names(minigrad, case) == _node_names(torch, case)


IMAGE_CASES = {
    "batch_norm_train": lambda L, F, x: F.batch_norm(x, None, None, training=True),
    "batch_norm_eval": lambda L, F, x: F.batch_norm(x, L.zeros(3, dtype=L.float64),
                                                    L.ones(3, dtype=L.float64)),
    "interpolate_bilinear": lambda L, F, x: F.interpolate(x, scale_factor=2, mode="bilinear"),
    "interpolate_bicubic_aa": lambda L, F, x: F.interpolate(x, scale_factor=0.5,
                                                            mode="bicubic", antialias=True),
    "interpolate_nearest_exact": lambda L, F, x: F.interpolate(x, scale_factor=2,
                                                               mode="nearest-exact"),
    "upsample_module": lambda L, F, x: L.nn.Upsample(scale_factor=2)(x),
    "pad_reflect_2d": lambda L, F, x: L.nn.ReflectionPad2d(1)(x),
    "flatten_linear": lambda L, F, x: F.linear(x.flatten(1), L.ones(2, 108, dtype=L.float64),
                                               L.zeros(2, dtype=L.float64)),
}


@pytest.mark.parametrize("case", sorted(IMAGE_CASES))
def test_image_node_names_match_torch(case):
    got = []
    for L in LIBS:
        y = IMAGE_CASES[case](L, L.nn.functional, _x(L, IMG))
        got.append((y.grad_fn.name(), type(y.grad_fn).__name__))
    assert got[1] == got[0]


def _written(L, how):
    x = _x(L)
    y = x * 1
    if how == "setitem":
        y[0] = 1.0
    elif how == "view_inplace":
        y[0].mul_(2.0)
    elif how == "fill_":
        y.fill_(2.0)
    elif how == "fill_tensor":
        y.fill_(L.tensor(2.0, dtype=L.float64))
    elif how == "zero_":
        y.zero_()
    elif how == "copy_":
        y.copy_(x.detach())
    elif how == "masked_fill_":
        y.masked_fill_(y > 0, 2.0)
    elif how == "clamp_tensors_":
        y.clamp_(min=L.zeros(4, dtype=L.float64))
    elif how == "clamp_min_":
        L.clamp_min_(y, 0.0)
    elif how == "addcmul_":
        y.addcmul_(x.detach(), x.detach(), value=2)
    elif how == "addcdiv_":
        y.addcdiv_(x.detach(), x.detach().abs() + 1)
    elif how == "lerp_":
        y.lerp_(x.detach(), 0.3)
    elif how == "transpose_":
        y.transpose_(0, 1)
    elif how == "t_":
        y = y[0] * 1
        y.t_()
    elif how == "squeeze_dim_":
        y = y[:, :1] * 1
        y.squeeze_(1)
    elif how == "unsqueeze_":
        y.unsqueeze_(0)
    return y


@pytest.mark.parametrize("how", ["setitem", "view_inplace", "fill_", "fill_tensor", "zero_",
                                 "copy_", "masked_fill_", "clamp_tensors_", "clamp_min_",
                                 "addcmul_", "addcdiv_", "lerp_", "transpose_", "t_",
                                 "squeeze_dim_", "unsqueeze_"])
def test_inplace_write_node_names_match_torch(how):
    """PyTorch's C++ nodes keep their namespace in name() (torch::autograd::CopySlices) but not
    in their class name or in the tensor's repr (grad_fn=<CopySlices>)."""
    got = []
    for L in LIBS:
        y = _written(L, how)
        got.append((y.grad_fn.name(), type(y.grad_fn).__name__,
                    _text(repr(y)).rsplit("grad_fn=", 1)[1]))
    assert got[1] == got[0]


def test_written_tensor_gradient_unchanged_by_naming():
    grads = []
    for L in LIBS:
        x = _x(L)
        y = x * 1
        y[0] = 1.0
        y.masked_fill_(y > 0.5, 3.0)
        (y * y).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


def test_renamed_ops_give_torch_gradients():
    """The renamed nodes are the same ops: their gradients, first and second order, are
    PyTorch's (the pieces of split and unbind each read their own part)."""
    grads = []
    for L in LIBS:
        F = L.nn.functional
        x = _x(L)
        parts = x.split([1, 3], dim=2)
        loss = (parts[0].sum() * 2 + parts[1].square().sum() + x.unbind(1)[2].sum()
                + F.mse_loss(x, x.detach() * 2, reduction="none").mean()
                + x.transpose(1, 2).reshape(2, 12).pow(3).sum() + (1 - x).max(dim=1).values.sum()
                + x.amax(1).sum() + F.linear(x, L.tensor(W34)).sum())
        (g,) = L.autograd.grad(loss, x, create_graph=True)
        (gg,) = L.autograd.grad(g.sum(), x)
        grads.append((g.detach().numpy(), gg.numpy()))
    for got, want in zip(grads[1], grads[0]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_renamed_composites_give_torch_gradients():
    """A composite op whose last node was renamed (rename_node) still differentiates as
    before, to the second order."""
    grads = []
    for L in LIBS:
        F = L.nn.functional
        x = _x(L)
        loss = (x.masked_fill(x > 0.5, 0.0).square().sum() + x.norm() + x.lerp(x * x, 0.3).sum()
                + F.pad(x, (1, 1), mode="reflect").pow(2).sum() + x.addcmul(x, x).sum()
                + F.interpolate(x, scale_factor=2, mode="linear").pow(2).sum()
                + x.scatter(2, L.zeros(2, 3, 1, dtype=L.long), x[..., :1] ** 2).sum())
        (g,) = L.autograd.grad(loss, x, create_graph=True)
        (gg,) = L.autograd.grad(g.sum(), x)
        grads.append((g.detach().numpy(), gg.numpy()))
    for got, want in zip(grads[1], grads[0]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_next_functions_chain_of_a_view():
    """A chain users walk by hand: names of the nodes and of their next functions."""
    def chain(L):
        x = _x(L)
        y = (x.reshape(6, 4).sum(0) * 2).unsqueeze(0)
        out, node = [], y.grad_fn
        while node is not None:
            out.append(node.name())
            node = node.next_functions[0][0] if node.next_functions else None
        return out
    assert chain(minigrad) == chain(torch)


def test_loss_repr_in_training_loop_style():
    """print(output) and print(loss) of the usual training step show PyTorch's nodes."""
    torch.manual_seed(0)
    torch_net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                    torch.nn.Linear(8, 3))
    mini_net = minigrad.nn.Sequential(minigrad.nn.Linear(4, 8), minigrad.nn.ReLU(),
                                      minigrad.nn.Linear(8, 3))
    mini_net.load_state_dict({k: minigrad.tensor(v.numpy())
                              for k, v in torch_net.state_dict().items()})
    data = RNG.standard_normal((5, 4)).astype(np.float32)
    target = [0, 2, 1, 1, 0]
    shown = []
    for L, net in ((torch, torch_net), (minigrad, mini_net)):
        out = net(L.tensor(data))
        loss = L.nn.functional.cross_entropy(out, L.tensor(target))
        mse = L.nn.MSELoss()(out, L.zeros(5, 3))
        # (f"{loss:.4f}": the loss's last float32 bit may differ, its summation order does)
        shown.append(_text(f"{out[:1]}\n{loss!r}\n{mse!r}\n{loss:.4f} {mse:.3e}"))
    assert shown[1] == shown[0]


def test_max_along_dim_return_type_repr():
    reprs = [_text(repr(_x(L)[0].max(1))) for L in LIBS]
    assert reprs[1] == reprs[0]


@pytest.mark.parametrize("dim", [0, 1, (0, 2), None])
def test_float16_sum_prints_as_torch(dim):
    """A float16 sum is accumulated in float32 and rounded once, as PyTorch's: summed in
    float16 along a dim it drifted by an ulp or more, which its repr showed."""
    a = (np.random.default_rng(3).standard_normal((4, 7, 3)) * 100).astype(np.float16)
    shown = []
    for L in LIBS:
        t = L.tensor(a, requires_grad=True)
        shown.append(_text(repr(t.sum() if dim is None else t.sum(dim))))
    assert shown[1] == shown[0]
