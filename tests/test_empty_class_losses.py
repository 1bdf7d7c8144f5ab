"""Class losses at the edges of their shapes, and the checks PyTorch makes before them, beside
torch: no classes, no samples, a weight of the wrong dtype on an empty batch, a cell's
many-dimensional state."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch_agreement import LIBS, outcome  # noqa: E402


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("shape, target", [((0, 0), (0,)), ((0, 3), (0,)), ((0, 0, 2), (0, 2))])
def test_cross_entropy_without_samples_or_classes(shape, target, smoothing, reduction):
    def run(lib):
        x = lib.zeros(shape, dtype=lib.float64, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.zeros(target, dtype=lib.long),
                                               reduction=reduction, label_smoothing=smoothing)
        loss.sum().backward()
        return loss.detach().numpy(), tuple(x.grad.shape)
    (mine_kind, mine), (their_kind, theirs) = (outcome(run, lib) for lib in LIBS)
    assert mine_kind == their_kind == "ok", (mine, theirs)
    np.testing.assert_array_equal(mine[0], theirs[0])
    assert mine[1] == theirs[1]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_without_classes(reduction):
    def run(lib):
        return lib.nn.functional.nll_loss(lib.zeros(0, 0), lib.zeros(0, dtype=lib.long),
                                          reduction=reduction).numpy()
    (mine_kind, mine), (their_kind, theirs) = (outcome(run, lib) for lib in LIBS)
    assert mine_kind == their_kind == "ok"
    np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("weight_dtype", ["float16", "float64"])
@pytest.mark.parametrize("shape", [(0, 0), (3, 2)])
def test_class_weight_dtype_is_checked_first(shape, weight_dtype):
    def run(lib):
        weight = lib.ones(shape[1], dtype=getattr(lib, weight_dtype))
        return lib.nn.NLLLoss(weight=weight)(lib.zeros(shape),
                                             lib.zeros(shape[0], dtype=lib.long))
    mine, theirs = (outcome(run, lib) for lib in LIBS)
    assert mine == theirs and mine[0] == "RuntimeError"


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cell_state_of_too_many_dims(cell):
    def run(lib):
        layer = getattr(lib.nn, cell)(4, 5)
        h = lib.zeros(3, 1, 1, 5)
        return layer(lib.zeros(3, 4), (h, h) if cell == "LSTMCell" else h)
    mine, theirs = (outcome(run, lib) for lib in LIBS)
    assert mine == theirs and mine[0] == "ValueError"
