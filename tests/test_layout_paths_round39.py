"""Round 39's layout copies, checked against PyTorch: transposed and channels-last copies
(``contiguous``, ``clone(memory_format=...)``, a ``reshape`` that must copy, a leaf's
gradient laid out as the leaf) go through one tiled two-pass copy where numpy's single
walk is slow (arrays of 256 KiB and more whose source jumps by a multiple of 1 KiB); a
binary op with a transposed operand relays it first; constant ``pad`` fills only its
border; permuted heads (B, T, H, D) -> (B, H, T, D) copy their runs of D elements as one
void element each.  Each keeps PyTorch's values (bit for bit), strides, node names and
gradients (float64, first and second order)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import leaves, same_tensor  # noqa: E402


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-100, 100, shape).astype(dtype)
    if np.dtype(dtype).kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# (shape, a view of it): shapes big enough for the tiled path, and some just beside it
VIEWS = [
    ((1024, 1024), lambda x: x.t()),
    ((512, 512), lambda x: x.t()),
    ((1000, 1000), lambda x: x.t()),                      # a jump that is no multiple of 1 KiB
    ((300, 1024), lambda x: x.t()),                       # a last, narrower strip
    ((1024, 300), lambda x: x.t()),
    ((64, 4096), lambda x: x.t()),
    ((16, 64, 32, 32), lambda x: x.permute(0, 2, 3, 1)),  # to channels-last order
    ((16, 32, 32, 64), lambda x: x.permute(0, 3, 1, 2)),  # back from it
    ((8, 256, 512), lambda x: x.transpose(1, 2)),         # a batch of transposes
    ((32, 128, 12, 64), lambda x: x.permute(0, 2, 1, 3)),  # attention heads: inner axis kept
    ((1024, 1024), lambda x: x.flip(0).t()),              # a negative step (a copy in torch)
    ((1024, 2048), lambda x: x[:, ::2].t()),              # a source that is not dense
    ((1024, 1024), lambda x: x[3:1000, 5:900].t()),       # an offset window
    ((2, 1024, 1024), lambda x: x[1].t()),
]


@pytest.mark.parametrize("case", range(len(VIEWS)))
def test_contiguous_of_views_matches_torch(case):
    shape, make = VIEWS[case]
    m, t = leaves(_data(shape, np.float32), grad=False)
    ym, yt = make(m).contiguous(), make(t).contiguous()
    same_tensor(ym, yt, strides=True)
    assert ym.is_contiguous()


@pytest.mark.parametrize("dtype", [np.float64, np.int8, np.int32, np.bool_, np.complex128,
                                   np.float16])
def test_transposed_contiguous_of_every_dtype(dtype):
    m, t = leaves(_data((768, 1024), dtype), grad=False)
    same_tensor(m.t().contiguous(), t.t().contiguous(), strides=True)
    same_tensor(m.t().reshape(-1), t.t().reshape(-1), strides=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.bool_, np.complex64,
                                   np.float16])
@pytest.mark.parametrize("shape", [(16, 256, 8, 16), (8, 128, 12, 64), (4, 64, 4, 600)])
def test_head_permutes_copy_runs_as_torch(shape, dtype):
    """(B, T, H, D) -> (B, H, T, D): runs of D elements kept in both layouts."""
    m, t = leaves(_data(shape, dtype), grad=False)
    same_tensor(m.permute(0, 2, 1, 3).contiguous(), t.permute(0, 2, 1, 3).contiguous(),
                strides=True)
    same_tensor(m.transpose(1, 2).reshape(shape[0], shape[2], -1),
                t.transpose(1, 2).reshape(shape[0], shape[2], -1), strides=True)
    same_tensor(m[:, ::2].permute(0, 2, 1, 3).clone(memory_format=minigrad.contiguous_format),
                t[:, ::2].permute(0, 2, 1, 3).clone(memory_format=torch.contiguous_format),
                strides=True)


@pytest.mark.parametrize("case", [0, 1, 6, 7, 8, 11])
def test_copying_reshape_matches_torch(case):
    shape, make = VIEWS[case]
    m, t = leaves(_data(shape, np.float64), grad=True)
    vm, vt = make(m), make(t)
    ym, yt = vm.reshape(-1), vt.reshape(-1)
    same_tensor(ym, yt, strides=True)
    assert ym.grad_fn.name() == yt.grad_fn.name() == "UnsafeViewBackward0"
    g = _data(ym.shape, np.float64, 1)
    (gm,), (gt,) = (minigrad.autograd.grad(ym, [m], minigrad.tensor(g)),
                    torch.autograd.grad(yt, [t], torch.tensor(g)))
    same_tensor(gm, gt, strides=True)


@pytest.mark.parametrize("fmt", ["channels_last", "contiguous_format", "preserve_format"])
@pytest.mark.parametrize("start", ["row_major", "channels_last", "permuted"])
def test_clone_and_contiguous_in_formats(fmt, start):
    a = _data((8, 64, 32, 32), np.float32)
    m, t = leaves(a, grad=False)
    if start == "channels_last":
        m, t = (m.contiguous(memory_format=minigrad.channels_last),
                t.contiguous(memory_format=torch.channels_last))
    elif start == "permuted":
        m, t = m.permute(1, 0, 3, 2), t.permute(1, 0, 3, 2)
    same_tensor(m.clone(memory_format=getattr(minigrad, fmt)),
                t.clone(memory_format=getattr(torch, fmt)), strides=True)
    if fmt != "preserve_format":
        same_tensor(m.contiguous(memory_format=getattr(minigrad, fmt)),
                    t.contiguous(memory_format=getattr(torch, fmt)), strides=True)


def test_channels_last_3d_round_trip():
    m, t = leaves(_data((4, 32, 8, 16, 32), np.float32), grad=False)
    cm = m.contiguous(memory_format=minigrad.channels_last_3d)
    ct = t.contiguous(memory_format=torch.channels_last_3d)
    same_tensor(cm, ct, strides=True)
    same_tensor(cm.contiguous(), ct.contiguous(), strides=True)


BINARY = ["add", "sub", "mul"]
# (shape of x, how the first operand is made, how the second is made)
OPERANDS = [
    ((1024, 1024), lambda x, y: (x.t(), y)),
    ((1024, 1024), lambda x, y: (y, x.t())),
    ((512, 512), lambda x, y: (x.t(), y.t())),
    ((1000, 1000), lambda x, y: (x.t(), y)),
    ((16, 64, 32, 32), lambda x, y: (x.permute(0, 2, 3, 1), y.permute(0, 2, 3, 1))),
    ((16, 64, 32, 32), lambda x, y: (x, y.contiguous(memory_format=_fmt(y)))),
    ((16, 64, 32, 32), lambda x, y: (x.contiguous(memory_format=_fmt(x)), y)),
    ((1024, 1024), lambda x, y: (x.t()[::2], y[::2])),
    ((8, 128, 12, 64), lambda x, y: (x.permute(0, 2, 1, 3), y.permute(0, 2, 1, 3).contiguous())),
    ((8, 128, 12, 64), lambda x, y: (y.permute(0, 2, 1, 3).contiguous(), x.permute(0, 2, 1, 3))),
    ((64, 1, 64, 64), lambda x, y: (x.transpose(2, 3), y)),          # a size-1 dim
    ((64, 1, 64, 64), lambda x, y: (y, x.permute(1, 0, 3, 2).reshape(64, 1, 64, 64))),
]


def _fmt(x):
    return minigrad.channels_last if isinstance(x, minigrad.Tensor) else torch.channels_last


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("case", range(len(OPERANDS)))
def test_binary_with_a_transposed_operand_float32(op, case):
    shape, make = OPERANDS[case]
    x, y = _data(shape, np.float32), _data(shape, np.float32, 1)
    (xm, xt), (ym, yt) = leaves(x, grad=False), leaves(y, grad=False)
    am, bm = make(xm, ym)
    at, bt = make(xt, yt)
    same_tensor(getattr(minigrad, op)(am, bm), getattr(torch, op)(at, bt), strides=True)


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("case", [0, 1, 4, 6])
def test_binary_with_a_transposed_operand_gradients(op, case):
    shape, make = OPERANDS[case]
    shape = (512, 512) if len(shape) == 2 else (4, 64, 16, 32)
    x, y = _data(shape, np.float64), _data(shape, np.float64, 1)
    (xm, xt), (ym, yt) = leaves(x, grad=True), leaves(y, grad=True)
    am, bm = make(xm, ym)
    at, bt = make(xt, yt)
    om, ot = getattr(minigrad, op)(am, bm), getattr(torch, op)(at, bt)
    same_tensor(om, ot, strides=True)
    assert om.grad_fn.name() == ot.grad_fn.name()
    g = _data(om.shape, np.float64, 2)
    gm = minigrad.tensor(g, requires_grad=True)
    gt = torch.tensor(g, requires_grad=True)
    dm = minigrad.autograd.grad(om, [xm, ym], gm, create_graph=True)
    dt = torch.autograd.grad(ot, [xt, yt], gt, create_graph=True)
    for a, b in zip(dm, dt):
        same_tensor(a, b, strides=True)
    if op == "mul":             # second order: d(sum(dx * w))/dy
        w = _data(shape, np.float64, 3)
        (hm,) = minigrad.autograd.grad((dm[0] * minigrad.tensor(w)).sum(), [ym])
        (ht,) = torch.autograd.grad((dt[0] * torch.tensor(w)).sum(), [yt])
        same_tensor(hm, ht, strides=True)


@pytest.mark.parametrize("make", [lambda x: x.t(), lambda x: torch_exp(x.t()),
                                  lambda x: x.t() * 2.0])
def test_leaf_gradient_through_a_transpose_is_laid_out_as_the_leaf(make):
    a = _data((512, 1024), np.float32)
    m, t = leaves(a, grad=True)
    g = _data((1024, 512), np.float32, 1)
    make(m).backward(minigrad.tensor(g))
    make(t).backward(torch.tensor(g))
    assert m.grad.stride() == t.grad.stride() == (1024, 1)
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=0)
    # a second backward adds into the same .grad
    make(m).backward(minigrad.tensor(g))
    make(t).backward(torch.tensor(g))
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=0)


def torch_exp(x):
    return (minigrad if isinstance(x, minigrad.Tensor) else torch).exp(x)


def test_transposed_leaf_keeps_its_layout_in_grad():
    a = _data((1024, 512), np.float32)
    m, t = minigrad.tensor(a).t().requires_grad_(), torch.tensor(a).t().requires_grad_()
    g = _data((512, 1024), np.float32, 1)
    (m * 3.0).backward(minigrad.tensor(g))
    (t * 3.0).backward(torch.tensor(g))
    same_tensor(m.grad, t.grad, strides=True)


PADS = [((1024, 1024), (1, 1, 1, 1), 0.0), ((4, 64, 32, 32), (2, 0, 0, 3), 1.5),
        ((4, 64, 32, 32), (-1, 2, 3, -2), -2.0), ((8, 256, 128), (0, 0, 0, 0, 1, 2), 7.0),
        ((2, 3), (1, 2, 0, 1), 0.0), ((5,), (3, 3), 0.0), ((4, 4), (-4, 1, 0, 0), 3.0),
        ((0, 4), (1, 1), 2.0), ((3, 4), (0, 0), 1.0)]


@pytest.mark.parametrize("shape, pad, value", PADS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_constant_pad_matches_torch(shape, pad, value, dtype):
    m, t = leaves(_data(shape, dtype), grad=False)
    same_tensor(minigrad.nn.functional.pad(m, pad, value=value),
                torch.nn.functional.pad(t, pad, value=value), strides=True)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.0, True])
def test_constant_pad_special_values(value):
    m, t = leaves(_data((6, 7), np.float32), grad=False)
    same_tensor(minigrad.nn.functional.pad(m, (1, 2, 2, 1), value=value),
                torch.nn.functional.pad(t, (1, 2, 2, 1), value=value), strides=True)
    mb, tb = leaves(_data((6, 7), np.bool_), grad=False)
    same_tensor(minigrad.nn.functional.pad(mb, (1, 1), value=True),
                torch.nn.functional.pad(tb, (1, 1), value=True), strides=True)


@pytest.mark.parametrize("start", ["transposed", "channels_last"])
def test_constant_pad_of_strided_inputs_and_gradients(start):
    a = _data((4, 32, 16, 64), np.float64)
    m, t = leaves(a, grad=True)
    if start == "transposed":
        vm, vt = m.transpose(2, 3), t.transpose(2, 3)
    else:
        vm = m.contiguous(memory_format=minigrad.channels_last)
        vt = t.contiguous(memory_format=torch.channels_last)
    om = minigrad.nn.functional.pad(vm, (1, 2, 3, 0), value=0.5)
    ot = torch.nn.functional.pad(vt, (1, 2, 3, 0), value=0.5)
    same_tensor(om, ot, strides=True)
    assert om.grad_fn.name() == ot.grad_fn.name()
    g = _data(om.shape, np.float64, 1)
    gm, gt = minigrad.tensor(g, requires_grad=True), torch.tensor(g, requires_grad=True)
    (dm,) = minigrad.autograd.grad(om, [m], gm, create_graph=True)
    (dt,) = torch.autograd.grad(ot, [t], gt, create_graph=True)
    same_tensor(dm, dt, strides=True)
    w = _data(dm.shape, np.float64, 2)
    (hm,) = minigrad.autograd.grad((dm * minigrad.tensor(w)).sum(), [gm])
    (ht,) = torch.autograd.grad((dt * torch.tensor(w)).sum(), [gt])
    same_tensor(hm, ht, strides=True)


@pytest.mark.parametrize("dim", [0, 1])
def test_cat_of_transposed_and_plain_operands(dim):
    x, y = _data((512, 1024), np.float32), _data((1024, 512), np.float32, 1)
    (xm, xt), (ym, yt) = leaves(x, grad=False), leaves(y, grad=False)
    same_tensor(minigrad.cat([xm.t(), ym], dim), torch.cat([xt.t(), yt], dim), strides=True)


def test_zero_d_and_empty_copies():
    m, t = leaves(np.float32(2.5), grad=False)
    same_tensor(m.contiguous(), t.contiguous(), strides=True)
    same_tensor(m.clone(), t.clone(), strides=True)
    m, t = minigrad.zeros(0, 1024), torch.zeros(0, 1024)
    same_tensor(m.t().contiguous(), t.t().contiguous(), strides=True)
    same_tensor(m.t().reshape(-1), t.t().reshape(-1), strides=True)
    same_tensor(m.t() * 2.0, t.t() * 2.0)


@pytest.mark.parametrize("shifts, dims", [(3, 0), ((5, -7), (0, 1)), (-1, 1)])
def test_roll_of_a_transposed_input_is_row_major(shifts, dims):
    m, t = leaves(_data((1024, 512), np.float32), grad=False)
    same_tensor(minigrad.roll(m.t(), shifts, dims), torch.roll(t.t(), shifts, dims), strides=True)


@pytest.mark.parametrize("channels_last", [False, True])
def test_pixel_shuffle_round_trip(channels_last):
    m, t = leaves(_data((8, 64, 32, 32), np.float32), grad=False)
    if channels_last:
        m = m.contiguous(memory_format=minigrad.channels_last)
        t = t.contiguous(memory_format=torch.channels_last)
    sm, st = (minigrad.nn.functional.pixel_shuffle(m, 2),
              torch.nn.functional.pixel_shuffle(t, 2))
    same_tensor(sm, st, strides=True)
    same_tensor(minigrad.nn.functional.pixel_unshuffle(sm, 2),
                torch.nn.functional.pixel_unshuffle(st, 2), strides=True)


@pytest.mark.parametrize("shape, make", [((3, 4), lambda x: x.t()),
                                         ((2, 3, 4, 5), lambda x: x.permute(0, 2, 3, 1)),
                                         ((0, 3, 4, 5), lambda x: x.permute(0, 2, 3, 1))])
def test_small_clones_keep_the_layout(shape, make):
    # (torch.tensor of an empty numpy array has strides 0: zeros() for the empty one)
    m, t = leaves(_data(shape, np.float32), grad=False) if 0 not in shape else \
        (minigrad.zeros(*shape), torch.zeros(*shape))
    cm, ct = make(m).clone(), make(t).clone()
    same_tensor(cm, ct, strides=True)
    cm.add_(1.0)            # a clone owns writable memory of its own
    ct.add_(1.0)
    same_tensor(cm, ct, strides=True)
    same_tensor(m, t, strides=True)
