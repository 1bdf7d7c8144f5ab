"""The fast paths added for speed, side by side with PyTorch on their edge cases: ``topk`` by
partition (ties, -0.0, integer and unsigned dtypes, NaN, k near the size), ``unique`` of
integers by counting (negative and narrow dtypes, wide ranges), the gradient of ``x[idx]`` by
sorted slices (repeats, negative indices, a middle dim, several index dims), ``einsum`` of two
operands as one matrix product (batch, contracted and summed-alone letters, transposed
outputs, empty dims, complex), ``F.pad`` in constant mode as one node (crops, fill values,
integer and bool inputs, first and second derivatives), ``clip_grad_norm_``'s 2-norm,
``F.normalize``'s 2-norm (zero vectors) and ``F.one_hot``.  Each case runs the same code with
``lib`` bound to minigrad and to PyTorch and compares values, dtypes and shapes (and where
marked, gradients)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import same_tensor  # noqa: E402

_RNG = np.random.default_rng(20261205)


def _numpy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


# ---------------------------------------------------------------------------------- topk
def _topk_input(kind, shape, dim, dtype):
    if kind == "distinct":          # a permutation along dim, centred (shifted for unsigned)
        moved = np.moveaxis(np.empty(shape), dim, -1).shape
        a = np.moveaxis(np.argsort(_RNG.random(moved), axis=-1), -1, dim) - shape[dim] // 2
    elif kind == "ties":
        a = _RNG.integers(-3, 3, shape)
    else:
        a = np.zeros(shape)
    a = a.astype(dtype) if np.dtype(dtype).kind != "u" else (a - a.min()).astype(dtype)
    if kind == "ties" and np.dtype(dtype).kind == "f":
        a.reshape(-1)[::5] = -0.0
    return a


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.uint8,
                                   np.float16])
@pytest.mark.parametrize("kind", ["distinct", "ties", "constant"])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("shape,dim,k", [((6, 300), -1, 7), ((300, 4), 0, 1),
                                         ((2, 128, 3), 1, 32), ((100,), 0, 25)])
def test_topk_matches_torch(dtype, kind, largest, shape, dim, k):
    a = _topk_input(kind, shape, dim, dtype)
    m = minigrad.topk(minigrad.tensor(a), k, dim, largest)
    t = torch.topk(torch.tensor(a), k, dim, largest)
    same_tensor(m.values, t.values)
    if kind == "distinct" and (np.dtype(dtype).kind != "u" or shape[dim] <= 256):
        same_tensor(m.indices, t.indices)     # ties (uint8 wraps past 255): order unspecified
    # the indices point at the values returned
    picked = np.take_along_axis(a, _numpy(m.indices), axis=dim)
    np.testing.assert_array_equal(picked, _numpy(m.values))


def test_topk_ties_in_torch_order():
    # the tied values torch's kernel keeps (its partial sort's heap), not a stable sort's
    a = np.array([[5, 1, 5, 5, 0, 5] * 20], dtype=np.float32)
    m = minigrad.topk(minigrad.tensor(a), 3, -1)
    t = torch.topk(torch.tensor(a), 3, -1)
    same_tensor(m.indices, t.indices)
    same_tensor(m.values, t.values)


def test_topk_with_nan_and_inf():
    a = _RNG.standard_normal((3, 200)).astype(np.float32)
    a[0, 7], a[1, 9], a[2, 11] = np.nan, np.inf, -np.inf
    for largest in (True, False):
        m = minigrad.topk(minigrad.tensor(a), 5, 1, largest)
        t = torch.topk(torch.tensor(a), 5, 1, largest)
        same_tensor(m.values, t.values)
        same_tensor(m.indices, t.indices)


def test_topk_gradient():
    a = _RNG.standard_normal((4, 256))
    grads = []
    for lib in (minigrad, torch):
        x = lib.tensor(a, requires_grad=True)
        (lib.topk(x, 10, 1).values * lib.arange(10.0, dtype=lib.float64)).sum().backward()
        grads.append(x.grad)
    same_tensor(*grads)


# -------------------------------------------------------------------------------- unique
@pytest.mark.parametrize("dtype,low,high", [(np.int64, 0, 1000), (np.int64, -50, 50),
                                            (np.int8, -128, 127), (np.uint8, 0, 255),
                                            (np.int32, 0, 10 ** 9), (np.int16, 7, 8)])
@pytest.mark.parametrize("extras", [{}, {"return_inverse": True, "return_counts": True},
                                    {"return_counts": True}])
def test_unique_of_integers(dtype, low, high, extras):
    a = _RNG.integers(low, high, 4096, endpoint=True).astype(dtype).reshape(64, 64)
    same_tensor(minigrad.unique(minigrad.tensor(a), **extras),
                torch.unique(torch.tensor(a), **extras))


def test_unique_of_extreme_int64():
    a = np.array([0, 2 ** 63 - 1, -2 ** 63, 5] * 400, dtype=np.int64)
    kw = {"return_inverse": True, "return_counts": True}
    same_tensor(minigrad.unique(minigrad.tensor(a), **kw), torch.unique(torch.tensor(a), **kw))


# ------------------------------------------------------------------ x[idx], its gradient
_INDEXES = {
    "rows": lambda lib, x: x[lib.tensor([0, 3, 3, -1, 2, 0])],
    "rows 2-d": lambda lib, x: x[lib.tensor([[0, 3], [3, -1]])],
    "columns": lambda lib, x: x[:, lib.tensor([1, 1, 0, -2])],
    "middle dim": lambda lib, x: x[:, :, lib.tensor([1, 1, 0])],
    "many repeats": lambda lib, x: x[lib.tensor(np.arange(300) % 3)],
    "two arrays": lambda lib, x: x[lib.tensor([0, 0]), lib.tensor([1, 1])],
    "empty": lambda lib, x: x[lib.tensor(np.zeros(0, dtype=np.int64))],
    "0-d index": lambda lib, x: x[lib.tensor(2)],
    "transposed": lambda lib, x: x.transpose(0, 1)[lib.tensor([1, 1, 0])],
}


@pytest.mark.parametrize("name", sorted(_INDEXES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_index_gradient(name, dtype):
    a = _RNG.standard_normal((5, 4, 70))
    if dtype == np.complex128:
        a = a + 1j * _RNG.standard_normal(a.shape)
    a = a.astype(dtype)
    grads = []
    for lib in (minigrad, torch):
        x = lib.tensor(a, requires_grad=True)
        y = _INDEXES[name](lib, x)
        w = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))
        (y.abs() if dtype == np.complex128 else y).mul(w.to(y.real.dtype)).sum().backward()
        grads.append(x.grad)
    # (float32: 100 repeats summed one by one in index order, as torch's one thread sums
    # them; its threads can split the sum, a few float32 steps apart)
    same_tensor(*grads, tol=1e-5 if dtype == np.float32 else 1e-6)


# -------------------------------------------------------------------------------- einsum
_EQUATIONS = [("bhqd,bhkd->bhqk", [(2, 3, 5, 4), (2, 3, 6, 4)]),
              ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]),
              ("ij,kj->ik", [(3, 4), (5, 4)]), ("i,i->", [(7,), (7,)]),
              ("ij,ij->i", [(3, 4), (3, 4)]), ("ijk,jkl->il", [(2, 3, 4), (3, 4, 5)]),
              ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
              ("ijx,jk->ki", [(3, 4, 2), (4, 5)]), ("ij,jky->kyi", [(3, 4), (4, 5, 2)]),
              ("ij,jk->ik", [(3, 0), (0, 5)]), ("ij,jk->ik", [(0, 4), (4, 5)]),
              ("bi,bi->b", [(1, 4), (3, 4)]), ("abcd,dcba->", [(2, 3, 4, 5), (5, 4, 3, 2)]),
              ("i,j->ij", [(3,), (4,)])]


@pytest.mark.parametrize("equation,shapes", _EQUATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_einsum_pairs(equation, shapes, dtype):
    arrays = [_RNG.standard_normal(s) for s in shapes]
    if dtype == np.complex64:
        arrays = [a + 1j * _RNG.standard_normal(a.shape) for a in arrays]
    arrays = [a.astype(dtype) for a in arrays]
    tol = 1e-12 if dtype == np.float64 else 1e-5
    results = []
    for lib in (minigrad, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        y = lib.einsum(equation, *xs)
        (y.abs() if dtype == np.complex64 else y * 1.5).sum().backward()
        results.append([y] + [x.grad for x in xs])
    same_tensor(*results, tol=tol)


def test_einsum_pair_second_derivative():
    a, b = _RNG.standard_normal((2, 3, 4)), _RNG.standard_normal((2, 4, 5))
    out = []
    for lib in (minigrad, torch):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        g, = lib.autograd.grad((lib.einsum("bij,bjk->bik", x, y) ** 2).sum(), x,
                               create_graph=True)
        out.append(lib.autograd.grad(g.sum(), y)[0])
    same_tensor(*out, tol=1e-10)


# ------------------------------------------------------------------------ constant pad
_PADS = [((2, 3, 5, 4), (1, 2, 1, 1), None), ((2, 3, 5, 4), (1, 2, 1, 1), 2.5),
         ((2, 5, 4), (-1, 2, 1, -2), None), ((2, 5), (-2, -1), 3.0),
         ((3, 4), (0, 0, 2, 0), None), ((2, 3, 4), (1, 1, 1, 1, 1, 1), -1.0),
         ((0, 3), (1, 1), 1.0), ((2, 3), (-3, 0), None), ((4,), (3, -2), float("nan")),
         ((2, 3), (-4, 0), None)]


@pytest.mark.parametrize("shape,pad,value", _PADS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int64, np.bool_])
def test_constant_pad(shape, pad, value, dtype):
    if np.dtype(dtype).kind in "bi" and value is not None and value != value:
        pytest.skip("NaN has no integer value")
    if dtype == np.bool_ and value is not None:
        pytest.skip("a bool tensor padded with a float")
    a = _RNG.standard_normal(shape)
    a = (a > 0) if dtype == np.bool_ else a.astype(dtype)
    kw = {} if value is None else {"value": value}
    differentiable = np.dtype(dtype).kind in "fc"
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor(a, requires_grad=differentiable)
        try:
            y = lib.nn.functional.pad(x, pad, **kw)
        except RuntimeError as e:
            out.append(type(e))
            continue
        res = [y]
        if differentiable:
            assert type(y.grad_fn).__name__ == "ConstantPadNdBackward0"
            loss = (y * y).sum()
            gx, = lib.autograd.grad(loss.real if dtype == np.complex64 else loss, x,
                                    create_graph=True)
            loss = gx.abs().sum() if dtype == np.complex64 else (gx * gx).sum()
            res += [gx, lib.autograd.grad(loss, x)[0]]
        out.append(res)
    if not isinstance(out[1], list):
        assert out[0] is out[1]                     # both refuse the crop
        return
    same_tensor(*out, tol=1e-6)


def test_constant_pad_keeps_channels_last():
    a = _RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    for lib in (minigrad, torch):
        x = lib.tensor(a).to(memory_format=lib.channels_last)
        y = lib.nn.functional.pad(x, (1, 1, 2, 0))
        assert y.is_contiguous(memory_format=lib.channels_last)
    same_tensor(minigrad.nn.functional.pad(minigrad.tensor(a), (1, 1, 2, 0), value=0.5),
                torch.nn.functional.pad(torch.tensor(a), (1, 1, 2, 0), value=0.5))


# ------------------------------------------------------------- clip_grad_norm_, normalize
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_norm", [0.5, 1e9])
def test_clip_grad_norm_two_norm(dtype, max_norm):
    grads = [_RNG.standard_normal((300, 200)), _RNG.standard_normal(50), np.zeros(3),
             np.zeros(0)]
    out = []
    for lib in (minigrad, torch):
        params = [lib.zeros(g.shape, dtype=getattr(lib, np.dtype(dtype).name),
                            requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = lib.tensor(g.astype(dtype))
        total = lib.nn.utils.clip_grad_norm_(params, max_norm)
        out.append([total] + [p.grad for p in params])
    same_tensor(*out, tol=1e-6 if dtype == np.float32 else 1e-12)


def test_clip_grad_norm_nonfinite():
    for bad in (np.inf, np.nan):
        out = []
        for lib in (minigrad, torch):
            p = lib.zeros(3, requires_grad=True)
            p.grad = lib.tensor([1.0, bad, 2.0])
            out.append([lib.nn.utils.clip_grad_norm_([p], 1.0), p.grad])
        same_tensor(*out)


@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((3, 4, 5), -1), ((3, 4, 5), (1, 2)),
                                       ((6,), 0), ((2, 0, 3), 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_normalize_two_norm(shape, dim, dtype):
    a = _RNG.standard_normal(shape)
    if dtype == np.complex64:
        a = a + 1j * _RNG.standard_normal(shape)
    a = a.astype(dtype)
    if a.size:
        a.reshape(-1)[:a.shape[-1]] = 0             # a zero vector (or zeros in one)
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor(a, requires_grad=True)
        y = lib.nn.functional.normalize(x, dim=dim)
        w = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)).astype(np.float32))
        ((y.abs() if dtype == np.complex64 else y) * w).sum().backward()
        out.append([y, x.grad])
    same_tensor(*out, tol=1e-10 if dtype == np.float64 else 2e-5)


def test_normalize_second_derivative():
    a = _RNG.standard_normal((3, 6))
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor(a, requires_grad=True)
        y = lib.nn.functional.normalize(x, dim=1)
        g, = lib.autograd.grad((y * lib.tensor(np.cos(np.arange(18.0)).reshape(3, 6))).sum(),
                               x, create_graph=True)
        out.append(lib.autograd.grad((g * g).sum(), x)[0])
    same_tensor(*out, tol=1e-10)


# ------------------------------------------------------------------------------- one_hot
@pytest.mark.parametrize("values,classes", [([[1, 0], [3, 3]], -1), ([2], 5),
                                            (np.zeros((0, 3), np.int64), 4), (3, 4),
                                            (np.arange(6).reshape(2, 3)[:, ::2], 7),
                                            ([0, 5], 5)])
def test_one_hot(values, classes):
    a = np.asarray(values, dtype=np.int64)
    out = []
    for lib in (minigrad, torch):
        try:
            out.append(lib.nn.functional.one_hot(lib.tensor(a), classes))
        except RuntimeError as e:
            out.append(type(e))
    if isinstance(out[1], type):
        assert out[0] is out[1]
        return
    same_tensor(*out)
    assert out[0].is_contiguous()


# ------------------------------------------------ gradients of pieces (unbind, x[t] loops)
def _piece_programs():
    """Programs whose gradients come back through many basic reads of one tensor."""
    def loop_over_time(lib, x, w):
        h = lib.zeros(x.shape[0], x.shape[2], dtype=x.dtype)
        for t in range(x.shape[1]):
            h = lib.tanh(x[:, t] + h * w)
        return h.sum()

    def unbind_and_mix(lib, x, w):
        parts = lib.unbind(x * 1.0, 1)
        return sum((p * (i + 1) * w).sum() for i, p in enumerate(parts)) + x.sum()

    def chunks_and_reuse(lib, x, w):
        a, b, c = lib.chunk(x, 3, -1)
        y = x[0] * 2 + x[:, 1:2].sum()      # the same tensor read whole and in pieces
        return (a * b).sum() + (c * w[:, None, :c.shape[-1]]).sum() + y.sum() + x[1, 2].sum()

    def same_piece_twice(lib, x, w):
        v = x[:, 0]
        return (v * v * w).sum() + (x[None, :, 0] * 3).sum() + x[..., -1].sum()

    def split_sizes(lib, x, w):
        parts = x.split([1, 2, 1], 1)
        return sum((p.exp() * (i - 1.5) * w[:, None]).sum() for i, p in enumerate(parts))
    return {f.__name__: f for f in (loop_over_time, unbind_and_mix, chunks_and_reuse,
                                    same_piece_twice, split_sizes)}


_PIECE_PROGRAMS = _piece_programs()


@pytest.mark.parametrize("name", sorted(_PIECE_PROGRAMS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_through_pieces(name, dtype):
    x0 = _RNG.standard_normal((3, 4, 6)).astype(dtype)
    w0 = _RNG.standard_normal((3, 6)).astype(dtype)
    out = []
    for lib in (minigrad, torch):
        x, w = lib.tensor(x0, requires_grad=True), lib.tensor(w0, requires_grad=True)
        loss = _PIECE_PROGRAMS[name](lib, x, w)
        loss.backward(retain_graph=True)
        first = [g.clone() for g in (x.grad, w.grad) if g is not None]
        loss.backward()                             # accumulated into .grad a second time
        out.append(first + [g for g in (x.grad, w.grad) if g is not None])
    same_tensor(*out, tol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", sorted(_PIECE_PROGRAMS))
def test_second_derivatives_through_pieces(name):
    x0, w0 = _RNG.standard_normal((3, 4, 6)), _RNG.standard_normal((3, 6))
    out = []
    for lib in (minigrad, torch):
        x, w = lib.tensor(x0, requires_grad=True), lib.tensor(w0, requires_grad=True)
        gx, gw = lib.autograd.grad(_PIECE_PROGRAMS[name](lib, x, w), (x, w), create_graph=True)
        out.append([gx, gw] + list(lib.autograd.grad((gx * gx).sum() + gw.sum(), (x, w),
                                                      allow_unused=True)))
    out = [[g for g in row if g is not None] for row in out]
    same_tensor(*out, tol=1e-10)


def test_piece_gradients_with_hooks():
    x0 = _RNG.standard_normal((4, 5))
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor(x0, requires_grad=True)
        seen = []
        pieces = list(x.unbind(0))
        pieces[1].register_hook(lambda g: g * 10)                     # on a piece
        pieces[2] = x[2]                    # a select: a node of its own in PyTorch too
        pieces[2].grad_fn.register_hook(lambda gi, go: (gi[0] * -1,))  # on that node
        x.register_hook(lambda g: seen.append(g.clone()))
        sum((p * (i + 1)).sum() for i, p in enumerate(pieces)).backward()
        out.append([x.grad, seen[0]])
    same_tensor(*out, tol=1e-12)


def test_piece_gradients_into_autograd_grad():
    x0 = _RNG.standard_normal((5, 3))
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor(x0, requires_grad=True)
        y = x * 2
        loss = sum((p ** 2).sum() for p in y.unbind(0)) + y[:, 1].sum()
        out.append(list(lib.autograd.grad(loss, (x, y))))
    same_tensor(*out, tol=1e-12)


@pytest.mark.parametrize("pieces", [1, 2, 3])
def test_piece_gradients_keep_pytorchs_signed_zeros(pieces):
    """A -0.0 in one piece's gradient: PyTorch's sum of full-size gradients keeps it for a lone
    piece and turns it into +0.0 once a second piece's zeros are added."""
    signs = []
    for lib in (minigrad, torch):
        x = lib.zeros(3, 4, dtype=lib.float64, requires_grad=True)
        minus_zero = lib.tensor(-0.0, dtype=lib.float64)
        sum((x[:, t] * minus_zero).sum() for t in range(pieces)).backward()
        signs.append(np.signbit(x.grad.numpy()))
    np.testing.assert_array_equal(*signs)
