"""Round 38b beside torch: the words of a batched-gradient shape mismatch, fill_diagonal_ on a
leaf that requires grad, and the layout (steps, view or not) of the gradient that a hook sees
after sum() and mean()."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _error(lib, fn):
    with pytest.raises(Exception) as info:
        fn(lib)
    return type(info.value).__name__, str(info.value).replace("torch.", "minigrad.")


# ---- is_grads_batched: the shape named in the error ----------------------------------------

@pytest.mark.parametrize("grad_shape, out_shape", [
    ((1, 2, 2), (2,)), ((3, 2), (2, 2)), ((2, 3, 4), (3,)), ((2, 2), ()), ((4, 1, 3), (3, 1)),
    ((), (2,)), ((), ()),
])
def test_batched_grad_shape_mismatch_words(grad_shape, out_shape):
    def run(lib):
        x = lib.ones(out_shape, dtype=lib.float64, requires_grad=True)
        lib.autograd.grad(x * x, x, lib.ones(grad_shape, dtype=lib.float64),
                          is_grads_batched=True)
    assert _error(minigrad, run) == _error(torch, run)


def test_batched_grad_eye_example():
    def run(lib):
        x = lib.ones(2, dtype=lib.float64, requires_grad=True)
        lib.autograd.grad(x * x, x, lib.eye(2, dtype=lib.float64)[None], is_grads_batched=True)
    assert _error(minigrad, run) == _error(torch, run)


def test_batched_grad_matching_shape_still_works():
    got = []
    for lib in (minigrad, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(x * x, x, lib.eye(2, dtype=lib.float64),
                                 is_grads_batched=True)
        got.append(np.asarray(g.detach().numpy()))
    np.testing.assert_allclose(got[0], got[1])


# ---- fill_diagonal_ on a leaf ---------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3), (3, 3, 3), (4, 2), (3,), (2, 3, 4)])
def test_fill_diagonal_leaf_refused(shape):
    def run(lib):
        lib.ones(shape, dtype=lib.float64, requires_grad=True).fill_diagonal_(0, wrap=True)
    assert _error(minigrad, run) == _error(torch, run)


def test_fill_diagonal_view_of_leaf_refused():
    def run(lib):
        lib.ones(3, 3, dtype=lib.float64, requires_grad=True)[:2].fill_diagonal_(0)
    assert _error(minigrad, run) == _error(torch, run)


def test_fill_diagonal_leaf_under_no_grad_and_non_leaf_grad():
    out = []
    for lib in (minigrad, torch):
        x = lib.ones(3, 4, dtype=lib.float64, requires_grad=True)
        with lib.no_grad():
            x.fill_diagonal_(5.0)
        y = x * 2
        y.fill_diagonal_(0.5, wrap=True)
        (y * y).sum().backward()
        out.append((x.detach().numpy().copy(), y.detach().numpy().copy(),
                    x.grad.numpy().copy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b)


# ---- the gradient a hook sees after a reduction ---------------------------------------------

def _hooked_layouts(lib, shape, reduce, create_graph=False):
    x = lib.ones(shape, dtype=lib.float64, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append((tuple(g.stride()), g._base is not None,
                                           tuple(g.shape))))
    reduce(x).backward(create_graph=create_graph)
    return seen


_REDUCTIONS = {
    "sum": lambda x: x.sum(),
    "sum_dim_none": lambda x: x.sum(dim=None),
    "mean": lambda x: x.mean(),
    "sum_dim0_keepdim": lambda x: x.sum(0, keepdim=True).sum(),
    "sum_dim0": lambda x: x.sum(0).sum(),
    "sum_all_dims": lambda x: x.sum(tuple(range(x.dim()))),
    "sum_all_dims_keepdim": lambda x: x.sum(tuple(range(x.dim())), keepdim=True).sum(),
    "mean_last_keepdim": lambda x: x.mean(-1, keepdim=True).sum(),
    "sum_first_last": lambda x: x.sum((0, -1) if x.dim() > 1 else (0,)).sum(),
    "sum_last_then_first": lambda x: x.sum(-1).sum(0).sum(),
    "mean_first_then_sum": lambda x: x.mean(0).sum(),
    "sum_first_of_expanded": lambda x: (x.sum(-1, keepdim=True).expand(x.shape) * 1.0)
    .sum(0).sum(),
}


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", sorted(_REDUCTIONS))
@pytest.mark.parametrize("shape", [(3, 1, 5), (1,), (1, 1), (4, 4), (3, 1), (2, 1, 1, 3)])
def test_reduction_gradient_layout(shape, name, create_graph):
    fn = _REDUCTIONS[name]
    assert _hooked_layouts(minigrad, shape, fn, create_graph) == \
        _hooked_layouts(torch, shape, fn, create_graph)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "sum_dim_none"])
def test_zero_dim_reduction_gradient_layout(name, create_graph):
    fn = _REDUCTIONS[name]
    assert _hooked_layouts(minigrad, (), fn, create_graph) == \
        _hooked_layouts(torch, (), fn, create_graph)


def test_full_sum_gradient_values_and_double_backward():
    got = []
    for lib in (minigrad, torch):
        x = lib.tensor(np.arange(15.0).reshape(3, 1, 5), dtype=lib.float64,
                       requires_grad=True)
        (g,) = lib.autograd.grad((x * x).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        got.append((g.detach().numpy().copy(), gg.numpy().copy()))
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b)


# ---- the strides of a tensor made from an empty numpy array ---------------------------------

def _empty_arrays():
    """Empty numpy arrays whose steps are not all 0 (numpy gives a fresh empty array zero
    steps, which minigrad reports as row-major; see the report of round 38b)."""
    return {
        "rows_sliced": lambda: np.zeros((3, 4))[:0],
        "transposed": lambda: np.zeros((4, 3)).T[:, :0],
        "permuted": lambda: np.zeros((2, 3, 4)).transpose(2, 0, 1)[:, :0],
        "new_axis": lambda: np.zeros((4, 3)).T[:, :0][None],
        "float32": lambda: np.zeros((5, 2), dtype=np.float32).T[:0],
    }


@pytest.mark.parametrize("name", sorted(_empty_arrays()))
@pytest.mark.parametrize("how", ["tensor", "tensor_f32", "as_tensor", "as_tensor_f32",
                                 "from_numpy", "tensor_grad"])
def test_empty_numpy_array_strides(name, how):
    def make(lib):
        a = _empty_arrays()[name]()
        if how == "from_numpy":
            return lib.from_numpy(a)
        if how == "tensor_grad":
            return lib.tensor(a, dtype=lib.float64, requires_grad=True)
        fn = getattr(lib, how.replace("_f32", ""))
        return fn(a, dtype=lib.float32) if how.endswith("_f32") else fn(a)
    m, t = make(minigrad), make(torch)
    assert tuple(m.shape) == tuple(t.shape)
    assert m.stride() == t.stride()
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
