"""Issue #15's spellings, tensor methods, namespaces and refusals, each run on minigrad and on
PyTorch: the same call must give the same values, or the same exception type with PyTorch's
words (minigrad may add the values it saw after them)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import minigrad  # noqa: E402

X = np.random.default_rng(0).standard_normal((3, 4))


def _both(call):
    """call(lib, x) for minigrad and torch on the same data, as numpy."""
    out = []
    for lib in (minigrad, torch):
        r = call(lib, lib.tensor(X.copy()))
        r = r[0] if isinstance(r, tuple) else r
        out.append(r.detach().numpy() if hasattr(r, "detach") else np.asarray(r))
    return out


SPELLINGS = {
    "x.sum(axis=1)": lambda L, x: x.sum(axis=1),
    "x.mean(axis=0, keepdims=True)": lambda L, x: x.mean(axis=0, keepdims=True),
    "x.var(axis=1)": lambda L, x: x.var(axis=1),
    "x.std(axis=0, keepdims=True)": lambda L, x: x.std(axis=0, keepdims=True),
    "x.max(axis=1)": lambda L, x: x.max(axis=1),
    "torch.sum(x, axis=(0, 1))": lambda L, x: L.sum(x, axis=(0, 1)),
    "torch.matmul(input=, other=)": lambda L, x: L.matmul(input=x, other=x.T),
    "torch.add(x, x, out=)": lambda L, x: L.add(x, x, out=L.empty(3, 4, dtype=x.dtype)),
    "torch.sum(x, 1, out=)": lambda L, x: L.sum(x, 1, out=L.empty(0, dtype=x.dtype)),
    "x.norm(p=1, dim=1)": lambda L, x: x.norm(p=1, dim=1),
    "torch.linalg.norm(x)": lambda L, x: L.linalg.norm(x),
    "torch.functional.einsum": lambda L, x: L.functional.einsum("ij,kj->ik", x, x),
    "torch.std_mean(x, 1)": lambda L, x: L.std_mean(x, 1)[0],
    "torch.var_mean(x, 0)[1]": lambda L, x: L.var_mean(x, 0)[1],
    "x.new_ones(2, 3)": lambda L, x: x.new_ones(2, 3),
    "x.new_zeros((2,))": lambda L, x: x.new_zeros((2,)),
    "x.new_full((2, 2), 7)": lambda L, x: x.new_full((2, 2), 7),
    "x.new_tensor([1, 2])": lambda L, x: x.new_tensor([1, 2]),
    "x.unfold(1, 2, 1)": lambda L, x: x.unfold(1, 2, 1),
    "x.scatter_(1, idx, 0.)": lambda L, x: x.scatter_(1, L.tensor([[0], [1], [3]]), 0.0),
    "x.masked_fill_(x > 0, 1.)": lambda L, x: x.masked_fill_(x > 0, 1.0),
    "x.tril_(-1)": lambda L, x: x.tril_(-1),
    "x.index_add_(0, idx, src)": lambda L, x: x.index_add_(0, L.tensor([2, 2]), x[:2].clone()),
    "x.argsort(descending=True)": lambda L, x: x.argsort(descending=True),
    "x.topk(2, largest=False).indices": lambda L, x: x.topk(2, largest=False).indices,
    "x.cumprod(1)": lambda L, x: x.cumprod(1),
    "torch.atan2(x, x.T.T + 1)": lambda L, x: L.atan2(x, x + 1),
    "x.acos().cosh()": lambda L, x: (x / 3).acos().cosh(),
    "torch.repeat_interleave(x, 2, dim=0)": lambda L, x: L.repeat_interleave(x, 2, dim=0),
    "torch.outer(x[0], x[1])": lambda L, x: L.outer(x[0], x[1]),
    "torch.diag(x)": lambda L, x: L.diag(x),
    "torch.meshgrid xy": lambda L, x: L.meshgrid(x[0], x[1, :2], indexing="xy")[1],
    "torch.tensordot(x, x, 2)": lambda L, x: L.tensordot(x, x, 2),
    "F.pad reflect": lambda L, x: L.nn.functional.pad(x[None], (2, 1), mode="reflect"),
    "F.interpolate": lambda L, x: L.nn.functional.interpolate(x[None], size=7, mode="linear",
                                                              align_corners=True),
}


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_spelling_gives_torchs_values(name):
    ours, theirs = _both(SPELLINGS[name])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


REFUSALS = {
    "gather index out of range": lambda L: L.gather(L.zeros(3, 4), 1, L.tensor([[5]])),
    "gather index ndim": lambda L: L.gather(L.zeros(3, 4), 1, L.tensor([1])),
    "scatter index out of range": lambda L: L.zeros(3, 4).scatter(1, L.tensor([[7]]),
                                                                   L.zeros(3, 4)),
    "index_select matrix index": lambda L: L.index_select(L.zeros(3), 0, L.tensor([[0]])),
    "index_select out of range": lambda L: L.index_select(L.zeros(3), 0, L.tensor([9])),
    "masked_fill float mask": lambda L: L.zeros(3).masked_fill(L.tensor([1.0]), 0),
    "topk k too large": lambda L: L.topk(L.zeros(3, 4), 5),
    "sort dim out of range": lambda L: L.sort(L.zeros(3, 4), dim=3),
    "tril of a vector": lambda L: L.tril(L.zeros(3)),
    "outer of a matrix": lambda L: L.outer(L.zeros(2, 2), L.zeros(3)),
    "diag of 3-d": lambda L: L.diag(L.zeros(2, 2, 2)),
    "unfold window too big": lambda L: L.zeros(3).unfold(0, 5, 1),
    "unfold step 0": lambda L: L.zeros(3).unfold(0, 2, 0),
    "repeat_interleave counts": lambda L: L.repeat_interleave(L.zeros(3), L.tensor([1, 2])),
    "pad unknown mode": lambda L: L.nn.functional.pad(L.zeros(1, 1, 3), (1, 1), mode="foo"),
    "pad reflect too wide": lambda L: L.nn.functional.pad(L.zeros(1, 1, 3), (3, 3),
                                                          mode="reflect"),
    "pad circular wraps twice": lambda L: L.nn.functional.pad(L.zeros(1, 1, 3), (4, 0),
                                                              mode="circular"),
    "pad odd length": lambda L: L.nn.functional.pad(L.zeros(1, 1, 3), (1,)),
    "interpolate neither size": lambda L: L.nn.functional.interpolate(L.zeros(1, 1, 3, 3)),
    "interpolate linear on 4-d": lambda L: L.nn.functional.interpolate(
        L.zeros(1, 1, 3, 3), scale_factor=2, mode="linear"),
    "interpolate align_corners nearest": lambda L: L.nn.functional.interpolate(
        L.zeros(1, 1, 3, 3), size=4, align_corners=True),
    "pixel_shuffle channels": lambda L: L.nn.functional.pixel_shuffle(L.zeros(1, 3, 2, 2), 2),
    "layer_norm shape": lambda L: L.nn.functional.layer_norm(L.zeros(2, 6, 3), (4,)),
    "group_norm groups": lambda L: L.nn.functional.group_norm(L.zeros(2, 6, 3), 4),
    "gelu approximate": lambda L: L.nn.functional.gelu(L.zeros(2), approximate="fast"),
    "prelu weight count": lambda L: L.nn.functional.prelu(L.zeros(2, 3), L.zeros(2)),
    "fold channels": lambda L: L.nn.functional.fold(L.zeros(1, 5, 4), 3, 2),
    "einsum operands": lambda L: L.einsum("ij,jk->ik", L.zeros(2, 2)),
    "linalg.norm of ints": lambda L: L.linalg.vector_norm(L.zeros(2, dtype=L.int64)),
    "Adagrad lr": lambda L: L.optim.Adagrad([L.zeros(1, requires_grad=True)], lr=-0.1),
    "OneCycleLR without steps": lambda L: L.optim.lr_scheduler.OneCycleLR(
        L.optim.SGD([L.zeros(1, requires_grad=True)], lr=0.1), 1.0),
    "ReduceLROnPlateau factor": lambda L: L.optim.lr_scheduler.ReduceLROnPlateau(
        L.optim.SGD([L.zeros(1, requires_grad=True)], lr=0.1), factor=1.5),
    "RNN nonlinearity": lambda L: L.nn.RNN(2, 3, nonlinearity="gelu"),
    "LSTM input size": lambda L: L.nn.LSTM(3, 2)(L.zeros(4, 1, 5)),
    "embedding float index": lambda L: L.nn.functional.embedding(L.zeros(2), L.zeros(3, 2)),
    "normal negative std": lambda L: L.normal(0.0, -1.0, (2,)),
    "dropout1d 4-d": lambda L: L.nn.functional.dropout1d(L.zeros(2, 3, 4, 5)),
}


def _first_sentence(message):
    return str(message).split(" (")[0].splitlines()[0].strip()


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusal_is_torchs(name):
    with pytest.raises(Exception) as theirs:
        REFUSALS[name](torch)
    with pytest.raises(Exception) as ours:
        REFUSALS[name](minigrad)
    assert type(ours.value).__name__ == type(theirs.value).__name__, (ours.value, theirs.value)
    assert _first_sentence(ours.value) == _first_sentence(theirs.value)


def test_namespaces_older_tutorials_import():
    assert isinstance(minigrad.ones(1), minigrad.autograd.Variable)
    with minigrad.inference_mode():
        assert not (minigrad.ones(2, requires_grad=True) * 2).requires_grad
    assert minigrad.backends.mps.is_available() is False
    assert minigrad.backends.cudnn.is_available() is False
    minigrad.backends.cudnn.benchmark = True          # accepted, changes nothing
    assert minigrad.backends.cuda.is_built() == minigrad.cuda.is_available()
    from minigrad.functional import einsum, norm  # noqa: F401
    from minigrad.nn.utils import clip_grad_norm_  # noqa: F401


def test_set_printoptions_and_default_device():
    try:
        minigrad.set_printoptions(precision=2)
        assert repr(minigrad.tensor([1.23456])) == "tensor([1.23])"
    finally:
        minigrad.set_printoptions(profile="default")
    assert repr(minigrad.tensor([1.23456])) == "tensor([1.2346])"
    minigrad.set_default_device("cpu")
    assert minigrad.get_default_device().type == "cpu"


def test_device_as_a_block():
    """``with torch.device('cpu'):`` (PyTorch's block form of set_default_device) enters and
    gives the device back; a CUDA device without one is refused as set_default_device does."""
    torch = pytest.importorskip("torch")
    for lib in (minigrad, torch):
        with lib.device("cpu") as d:
            made = lib.zeros(2)
        assert (str(d), str(made.device)) == ("cpu", "cpu")
    if not minigrad.cuda.is_available():
        with pytest.raises(RuntimeError, match="not compiled with CUDA"):
            with minigrad.device("cuda"):
                pass


def test_normal_draws_are_seeded_and_shaped():
    minigrad.manual_seed(3)
    a = minigrad.normal(2.0, 0.5, (4000,))
    minigrad.manual_seed(3)
    b = minigrad.normal(2.0, 0.5, size=(4000,))
    assert minigrad.equal(a, b)
    assert abs(float(a.mean()) - 2.0) < 0.05 and abs(float(a.std()) - 0.5) < 0.05
    c = minigrad.normal(minigrad.zeros(2, 3), minigrad.ones(3))
    assert tuple(c.shape) == (2, 3)


def test_out_refuses_a_tensor_that_requires_grad():
    out = minigrad.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic "
                                           "differentiation"):
        minigrad.add(minigrad.ones(3), minigrad.ones(3), out=out)
