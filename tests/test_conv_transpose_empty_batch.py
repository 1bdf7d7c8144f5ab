"""A transposed convolution of an empty batch, side by side with torch.

PyTorch makes the empty result before its kernel checks: a zero dilation or an output_padding
past stride and dilation give an empty tensor of the computed size; an empty kernel fails
where PyTorch reads its first size (IndexError), and an output size below zero fails as the
result's shape does. A non-empty batch keeps every check.
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

CASES = [
    ("conv_transpose1d", (0, 4, 5), (4, 2, 3), dict(dilation=0)),
    ("conv_transpose1d", (0, 4, 5), (4, 2, 3), dict(output_padding=5, stride=2)),
    ("conv_transpose2d", (0, 4, 5, 5), (4, 2, 3, 3), dict(output_padding=1)),
    ("conv_transpose2d", (0, 4, 5, 5), (4, 2, 3, 3), dict(stride=2, output_padding=2)),
    ("conv_transpose2d", (0, 4, 3, 3), (4, 2, 3, 3),
     dict(padding=(2, 0), dilation=(0, 2), output_padding=(4, 1), stride=(1, 2))),
    ("conv_transpose3d", (0, 4, 2, 2, 2), (4, 1, 3, 3, 3),
     dict(stride=2, output_padding=(1, 2, 3), groups=2)),
    ("conv_transpose2d", (0, 4, 1, 1), (4, 2, 3, 3), dict(padding=1)),
    # output sizes below zero: the result's shape fails
    ("conv_transpose2d", (0, 4, 1, 1), (4, 2, 3, 3), dict(padding=2)),
    ("conv_transpose2d", (0, 4, 1, 1), (4, 2, 3, 3), dict(padding=3)),
    ("conv_transpose1d", (0, 4, 1), (4, 2, 3), dict(padding=2)),
    ("conv_transpose1d", (0, 4, 1), (4, 2, 3), dict(padding=1, dilation=0)),
    # an empty kernel, an empty weight
    ("conv_transpose2d", (0, 4, 1, 1), (4, 2, 0, 3), {}),
    ("conv_transpose1d", (0, 4, 1), (4, 2, 0), {}),
    ("conv_transpose3d", (0, 4, 1, 1, 1), (4, 2, 0, 1, 1), {}),
    ("conv_transpose1d", (0, 4, 5), (4, 0, 3), dict(groups=2)),
    # checks that stay: the arguments' own, and every check on a non-empty batch
    ("conv_transpose1d", (0, 4, 5), (4, 2, 3), dict(dilation=-1)),
    ("conv_transpose1d", (0, 4, 5), (4, 2, 3), dict(output_padding=-1)),
    ("conv_transpose1d", (0, 3, 5), (4, 2, 3), {}),
    ("conv_transpose1d", (1, 4, 5), (4, 2, 3), dict(dilation=0)),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 2, 3, 3), dict(output_padding=1)),
    ("conv_transpose2d", (2, 4, 1, 1), (4, 2, 3, 3), dict(padding=2)),
]


def _outcome(lib, op, xs, ws, kw, backward=False):
    x = lib.zeros(xs, dtype=lib.float64)
    w = lib.ones(ws, dtype=lib.float64, requires_grad=True)
    try:
        y = getattr(lib.nn.functional, op)(x, w, **kw)
        if backward:
            y.sum().backward()
            return ("ok", tuple(y.shape), np.asarray(w.grad.numpy()).tolist())
        return ("ok", tuple(y.shape), str(y.dtype).split(".")[-1])
    except Exception as e:      # noqa: BLE001 -- the outcome compared is the exception
        return (type(e).__name__, str(e).split(" (")[0])


@pytest.mark.parametrize("op,xs,ws,kw", CASES)
def test_empty_batch_as_torch(op, xs, ws, kw):
    mine, theirs = _outcome(minigrad, op, xs, ws, kw), _outcome(torch, op, xs, ws, kw)
    assert mine[0] == theirs[0]
    if mine[0] == "ok":
        assert mine == theirs
    elif not mine[1].startswith("dilation should be greater than zero"):
        assert mine[1] == theirs[1]


@pytest.mark.parametrize("op,xs,ws,kw", [c for c in CASES[:6]])
def test_empty_batch_backward_as_torch(op, xs, ws, kw):
    """The weight's gradient of an empty batch is zeros, whatever the kernel checks say."""
    assert _outcome(minigrad, op, xs, ws, kw, True) == _outcome(torch, op, xs, ws, kw, True)


def test_module_on_empty_batch():
    """nn.ConvTranspose2d with an output_size on an empty batch, as torch's."""
    shapes = []
    for lib in (torch, minigrad):
        lib.manual_seed(0)
        m = lib.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1)
        shapes.append(tuple(m(lib.zeros(0, 4, 5, 5), output_size=[10, 10]).shape))
    assert shapes[0] == shapes[1] == (0, 3, 10, 10)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "complex64"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("batch", [None, 1, 2, 16])
def test_an_output_size_of_zero_follows_torchs_kernel_choice(threads, dtype, nd, batch):
    """PyTorch's oneDNN kernel (bfloat16; float32 and complex64 past its small-problem rule)
    returns an empty result for an output size of 0 and fails with its own words below 0;
    its other kernels refuse both as too small."""
    old = (torch.get_num_threads(), minigrad.get_num_threads())
    torch.set_num_threads(threads)
    minigrad.set_num_threads(threads)
    try:
        for channels, groups in ((1, 1), (4, 2)):
            for k in (1, 2, 4):
                for stride, dilation, padding in ((1, 1, 3), (1, 3, 3), (2, 1, 3), (1, 3, 4)):
                    shape = ((batch,) if batch else ()) + (channels, 3) + (5,) * (nd - 1)
                    kernel = (channels, 2, k) + (k,) * (nd - 1)
                    seen = []
                    for lib in (minigrad, torch):
                        x = lib.ones(shape, dtype=getattr(lib, dtype))
                        w = lib.ones(kernel, dtype=getattr(lib, dtype))
                        f = getattr(lib.nn.functional, f"conv_transpose{nd}d")
                        try:
                            seen.append(tuple(f(x, w, stride=stride, padding=padding,
                                                dilation=dilation, groups=groups).shape))
                        except RuntimeError as e:
                            seen.append(str(e))
                    assert seen[0] == seen[1], (channels, groups, k, stride, dilation, padding)
    finally:
        torch.set_num_threads(old[0])
        minigrad.set_num_threads(old[1])


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_an_empty_transposed_result_has_a_zero_weight_gradient(dtype, nd):
    seen = []
    for lib in (minigrad, torch):
        x = lib.ones((2, 2, 3) + (5,) * (nd - 1), dtype=getattr(lib, dtype))
        w = lib.ones((2, 2, 2) + (3,) * (nd - 1), dtype=getattr(lib, dtype), requires_grad=True)
        try:
            y = getattr(lib.nn.functional, f"conv_transpose{nd}d")(x, w, padding=3, dilation=3)
        except RuntimeError as e:
            seen.append(str(e))
            continue
        y.float().sum().backward()
        seen.append((tuple(y.shape), float(w.grad.float().abs().sum())))
    assert seen[0] == seen[1]


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("options", [{}, {"dilation": 2}, {"stride": 2}, {"groups": 2},
                                     {"padding": 1}, {"padding": "same"}])
@pytest.mark.parametrize("k", [1, 2])
def test_a_bool_convolution_names_pytorchs_kernel(nd, options, k):
    """A 3-d bool convolution fails in PyTorch's column copy (compute_columns3d) unless its
    ungrouped 1x1x1 kernel needs none; a dilated one in slow_conv_dilated."""
    seen = []
    for lib in (torch, minigrad):
        groups = options.get("groups", 1)
        x = lib.ones((2, 2) + (4,) * nd, dtype=lib.bool)
        w = lib.ones((2, 2 // groups) + (k,) * nd, dtype=lib.bool)
        with pytest.raises(NotImplementedError) as info:
            getattr(lib.nn.functional, f"conv{nd}d")(x, w, **options)
        seen.append(str(info.value))
    assert seen[0] == seen[1]
