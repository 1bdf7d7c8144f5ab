"""The memory passes of round 23 beside torch:

* batch_norm's passes in sub-slices of whole images (``_batch_norm_kernels._step``): a
  thread's slice of the batch run a few images at a time, every call of the pass on them
  before the next few -- training forward and backward (every combination of wanted
  gradients, weight and bias absent), eval, a last sub-slice shorter than the others, on one
  and two threads (the threads' slices cut in sub-slices too), second derivatives through
  the same forward; and the shapes that keep whole slices (an image over half a block, a
  batch within one block);
* batch_norm's training backward written over its own input (``BatchNorm.backward``'s
  ``overwrite``) when nothing else holds it -- a convolution's output, as in a ResNet --
  and not when the user holds it, another node keeps it, retain_graph keeps the graph (the
  second, freeing backward does write over it) or saved-tensor hooks are on;
* relu's backward as the gradient's bits times a 1/0 mask (``relu_clamp._pass_mask``):
  bit-exact against torch for NaN and infinite gradients, NaN and signed-zero outputs,
  float16/32/64, in several blocks, through the whole-mask path of other layouts, and over
  the output's own memory.

The blocks are made small (the module's sizes patched) so that small arrays hit the same
branches as a ResNet's 32x32 and 16x16 layers. float64 to 1e-10 against torch's float64,
float32 within torch's float32 tolerances."""
import numpy as np
import pytest

import minigrad
from minigrad import parallel
from minigrad.ops import _batch_norm_kernels as bn, relu_clamp

torch = pytest.importorskip("torch")

F32 = dict(rtol=2e-5, atol=2e-5)
F64 = dict(rtol=1e-10, atol=1e-11)


def _tol(dtype):
    return F64 if np.dtype(dtype) == np.float64 else F32


@pytest.fixture(params=[1, 2])
def threads(request, monkeypatch):
    # small arrays split over the threads as large ones are
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 1 << 10)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(request.param)
    yield request.param
    minigrad.set_num_threads(before)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 KB, and a record of the sub-slices the passes ran on."""
    monkeypatch.setattr(bn, "BLOCK_BYTES", 1 << 12)
    seen = []
    real = bn._step

    def step(like):
        k = real(like)
        seen.append(k)
        return k
    monkeypatch.setattr(bn, "_step", step)
    return seen


def _bn_case(lib, x, g, w, b, want_x=True, training=True, create_graph=False):
    """y, running stats and the wanted gradients of batch_norm on both libraries."""
    xt = lib.tensor(x, requires_grad=want_x)
    wt = None if w is None else lib.tensor(w, requires_grad=True)
    bt = None if b is None else lib.tensor(b, requires_grad=True)
    c = x.shape[1]
    rm = lib.tensor(np.linspace(-0.5, 0.5, c).astype(x.dtype))
    rv = lib.tensor(np.linspace(0.5, 2.0, c).astype(x.dtype))
    y = lib.nn.functional.batch_norm(xt, rm, rv, wt, bt, training=training, momentum=0.2)
    inputs = [t for t in (xt, wt, bt) if t is not None and t.requires_grad]
    out = [y.detach().numpy(), rm.numpy(), rv.numpy()]
    if not inputs:
        return out
    grads = lib.autograd.grad(y, inputs, lib.tensor(g), create_graph=create_graph)
    out += [t.detach().numpy() for t in grads]
    if create_graph:
        # a second derivative through the same forward (of the x and weight gradients: the
        # bias's, sum g, does not depend on the inputs)
        second = lib.autograd.grad(sum((t * t).sum() for t in grads[:2]), inputs[:2])
        out += [t.numpy() for t in second]
    return out


def _check(mine, ref, dtype, **tol):
    assert len(mine) == len(ref)
    for m, r in zip(mine, ref):
        assert m.dtype == r.dtype and m.shape == r.shape
        np.testing.assert_allclose(m, r, **(tol or _tol(dtype)))


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 0.7).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    return x, g, (rng.random(c) + 0.5).astype(dtype), rng.standard_normal(c).astype(dtype)


# ---- batch norm in sub-slices --------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(11, 2, 8, 8), (9, 2, 100), (13, 4, 4, 4, 2)])
def test_batch_norm_in_sub_slices_matches_torch(threads, small_blocks, shape, dtype):
    x, g, w, b = _data(shape, dtype)
    mine = _bn_case(minigrad, x, g, w, b)
    # the passes did run in sub-slices of at least two images, fewer than the batch
    assert any(k is not None and 2 <= k < shape[0] for k in small_blocks)
    _check(mine, _bn_case(torch, x, g, w, b), dtype)


@pytest.mark.parametrize("affine", ["none", "weight", "bias"])
@pytest.mark.parametrize("want_x", [True, False])
def test_batch_norm_sub_slices_wanted_gradients(threads, small_blocks, affine, want_x):
    x, g, w, b = _data((10, 3, 6, 6), np.float64, seed=1)
    w = w if affine == "weight" else None
    b = b if affine == "bias" else None
    if not want_x and w is None and b is None:
        pytest.skip("nothing to differentiate")
    mine = _bn_case(minigrad, x, g, w, b, want_x=want_x)
    _check(mine, _bn_case(torch, x, g, w, b, want_x=want_x), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_eval_in_sub_slices(threads, small_blocks, dtype):
    x, g, w, b = _data((13, 2, 9, 7), dtype, seed=2)
    mine = _bn_case(minigrad, x, g, w, b, training=False)
    assert any(k is not None for k in small_blocks)
    _check(mine, _bn_case(torch, x, g, w, b, training=False), dtype)


def test_batch_norm_second_order_through_sub_sliced_forward(threads, small_blocks):
    x, g, w, b = _data((9, 2, 5, 5), np.float64, seed=3)
    mine = _bn_case(minigrad, x, g, w, b, create_graph=True)
    _check(mine, _bn_case(torch, x, g, w, b, create_graph=True), np.float64)


def test_batch_norm_large_mean_in_sub_slices(threads, small_blocks):
    # a mean far from zero: the variance still about each channel's mean (no cancellation);
    # the float32 mean itself is rounded to about 300 * 2^-24 (so was it before round 23)
    x, g, w, b = _data((12, 2, 8, 8), np.float32, seed=4)
    x = x + np.float32(300)
    _check(_bn_case(minigrad, x, g, w, b), _bn_case(torch, x, g, w, b), np.float32,
           rtol=2e-5, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(64, 256), (7, 3), (2, 5), (9, 4, 1), (6, 3, 1, 1)])
@pytest.mark.parametrize("affine", ["both", "none", "weight"])
def test_batch_norm_of_rows_without_positions(shape, dtype, affine):
    """BatchNorm1d on (N, C) (one position per channel) takes the rows path: its values,
    running statistics, gradients and (float64) second derivatives are PyTorch's."""
    x, g, w, b = _data(shape, dtype, seed=5)
    w = None if affine == "none" else w
    b = b if affine == "both" else None
    for training in (True, False):
        mine = _bn_case(minigrad, x, g, w, b, training=training)
        _check(mine, _bn_case(torch, x, g, w, b, training=training), dtype)
    if dtype == np.float64 and w is not None:
        mine = _bn_case(minigrad, x, g, w, b, create_graph=True)
        _check(mine, _bn_case(torch, x, g, w, b, create_graph=True), dtype)


def test_batch_norm_of_rows_large_mean_and_wanted_gradients():
    """A mean far from the spread (each channel centred before its variance), and the
    weight's gradient alone (no input gradient) on the rows path."""
    x, g, w, b = _data((32, 6), np.float32, seed=6)
    x = x + np.float32(300)
    _check(_bn_case(minigrad, x, g, w, b), _bn_case(torch, x, g, w, b), np.float32,
           rtol=2e-5, atol=1e-4)
    x, g, w, b = _data((32, 6), np.float64, seed=7)
    _check(_bn_case(minigrad, x, g, w, b, want_x=False), _bn_case(torch, x, g, w, b,
                                                                  want_x=False), np.float64)


def test_sub_slice_sizes():
    # an image more than half a block, or a batch within one block: whole slices
    f4 = np.dtype(np.float32).itemsize
    assert bn._step(np.empty((16, 32, 4096), np.float32)) is None        # 512 KB an image
    assert bn._step(np.empty((16, 64, 1024), np.float32)) == 2
    assert bn._step(np.empty((16, 128, 256), np.float32)) == 4
    assert bn._step(np.empty((3, 128, 256), np.float32)) is None         # batch fits a block
    assert bn._step(np.empty((16, 64, 1024), np.float64)) is None
    assert bn.BLOCK_BYTES // (128 * 256 * f4) == 4


def test_resnet_shapes_keep_torch_results(threads):
    # the real block size on a ResNet-like 16x16 layer: sub-slices of 4 images, float32
    x, g, w, b = _data((16, 128, 16, 16), np.float32, seed=5)
    assert bn._step(x.reshape(16, 128, -1)) == 4
    _check(_bn_case(minigrad, x, g, w, b), _bn_case(torch, x, g, w, b), np.float32)


# ---- relu backward: the gradient's bits times a bool mask ------------------------------------

def _specials(shape, dtype, seed=0):
    """Random values with NaN (both signs), +-inf and +-0 spread through input and
    gradient."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    specials = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, -1.0, 2.0, -np.nan], dtype)
    xf, gf = x.reshape(-1), g.reshape(-1)
    xf[::97] = specials[np.arange(xf[::97].size) % 8]
    gf[::89] = specials[(np.arange(gf[::89].size) + 3) % 8]
    return x, g


def _relu_grads(x, g, build=lambda F, t: F.relu(t), layout=None):
    out = []
    for lib, make in ((minigrad, minigrad.tensor), (torch, torch.tensor)):
        t = make(x, requires_grad=True)
        src = t if layout is None else layout(t)
        build(lib.nn.functional, src).backward(make(g))
        out.append(t.grad.numpy())
    return out


def _same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.ascontiguousarray(a).view(np.uint8),
                                  np.ascontiguousarray(b).view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_backward_blocks_bit_exact(threads, monkeypatch, dtype):
    # several blocks, the last one short, over the threads' pieces
    monkeypatch.setattr(relu_clamp, "_RELU_BLOCK", 1000)
    x, g = _specials((3, 7, 701), dtype)
    _same_bits(*_relu_grads(x, g))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_over_its_own_output_bit_exact(threads, dtype):
    # the output held only by the node: the gradient is written over it
    x, g = _specials((5, 20011), dtype, seed=1)
    _same_bits(*_relu_grads(x, g, lambda F, t: F.relu(t * 1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_whole_mask_layouts_bit_exact(threads, dtype):
    x, g = _specials((3, 5, 40, 30), dtype, seed=2)
    # a channels-last output, and a broadcast gradient
    cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    _same_bits(*_relu_grads(cl, g))
    grads = []
    for lib, make in ((minigrad, minigrad.tensor), (torch, torch.tensor)):
        t = make(cl, requires_grad=True)
        lib.nn.functional.relu(t).sum().backward()
        grads.append(t.grad.numpy())
    _same_bits(*grads)


def test_pass_mask_is_not_less_equal_zero():
    # every kind of value a relu output holds: +-0 (stop), positive, +inf, NaN of both signs
    o = np.array([np.nan, -np.nan, -0.0, 0.0, 1e-45, 1.0, np.inf, 3e38], np.float32)
    mask = np.empty(o.shape, np.int32)
    relu_clamp._pass_mask(o, mask)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(mask, (~(o <= 0)).astype(np.int32))
    # against torch's threshold_backward on the same outputs, infinite and NaN gradients
    for fill in (np.inf, -np.inf, np.nan, -2.5):
        g = np.full(o.shape, fill, np.float32)
        ref = torch.ops.aten.threshold_backward(torch.tensor(g), torch.tensor(o), 0).numpy()
        _same_bits(relu_clamp._pass_where_positive(g, o), ref)
