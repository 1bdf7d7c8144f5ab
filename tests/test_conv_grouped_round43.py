"""Round 43: the reformulated convolutions of ``_conv_grouped`` against torch.

* every group in one batched product (stride-1 grouped convolutions with few channels per
  group: ``grouped_shift``), forward and the input gradient (its adjoint);
* strides sharing a factor with the dilation (only every f-th pixel read: ``common_step``);
* im2col's strided windows read from the stride's phase planes (``_im2col_phases``).

Each case checks, in float64 against torch: the output, x's / w's / b's gradients, and the
second-order gradients through ``autograd.grad(..., create_graph=True)``; some in float32,
batch-less, channels_last and on non-contiguous views. Each also checks that its geometry
takes the path it is meant to test.
"""
import numpy as np
import pytest
import torch

import minigrad
from minigrad.ops import conv_kernels as K
from minigrad.ops import _conv_grouped as GR
from minigrad.ops import _conv_im2col as COLS

RNG = np.random.default_rng(43)
OPS = {1: "conv1d", 2: "conv2d", 3: "conv3d"}


def _arrays(x_shape, w_shape, bias, dtype):
    x = RNG.standard_normal(x_shape).astype(dtype)
    w = RNG.standard_normal(w_shape).astype(dtype)
    b = RNG.standard_normal(w_shape[0]).astype(dtype) if bias else None
    return x, w, b


def _run(lib, op, x, w, b, kw, second, layout=None):
    """y, first-order grads and (when ``second``) second-order grads, as numpy arrays."""
    ts = [lib.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    xt = ts[0]
    if layout == "channels_last":
        xt = xt.to(memory_format=lib.channels_last)
    elif layout == "view":
        xt = xt.transpose(-1, -2).contiguous().transpose(-1, -2)
    y = getattr(lib.nn.functional, op)(xt, ts[1], ts[2], **kw)
    v = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)).astype(x.dtype))
    inputs = [t for t in ts if t is not None]
    grads = lib.autograd.grad((y * v).sum(), inputs, create_graph=second)
    out = [y.detach().numpy()] + [g.detach().numpy() for g in grads]
    if second:
        u = [lib.tensor(np.sin(np.arange(g.numel()) + k).reshape(tuple(g.shape)).astype(
            x.dtype)) for k, g in enumerate(grads)]
        total = sum((g * uk).sum() for g, uk in zip(grads, u))
        out += [g.detach().numpy() for g in lib.autograd.grad(total, inputs[:2])]
    return out


def _compare(x_shape, w_shape, kw, bias=True, dtype=np.float64, second=True, layout=None):
    nd = len(w_shape) - 2
    op = OPS[nd]
    x, w, b = _arrays(x_shape, w_shape, bias, dtype)
    got = _run(minigrad, op, x, w, b, kw, second, layout)
    want = _run(torch, op, x, w, b, kw, second, layout)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4)
    assert len(got) == len(want)
    for g, t in zip(got, want):
        assert g.shape == t.shape and g.dtype == t.dtype
        np.testing.assert_allclose(g, t, **tol)


def _geometry(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1):
    """The kernels' Geometry of a convolution (integer padding), to check the path taken."""
    nd = len(w_shape) - 2
    S, k = x_shape[-nd:], w_shape[2:]
    st, pd, dl = ([v] * nd if isinstance(v, int) else list(v) for v in (stride, padding,
                                                                       dilation))
    L = tuple((n + 2 * p - d * (kk - 1) - 1) // s + 1 for n, p, d, kk, s in
              zip(S, pd, dl, k, st))
    return K.Geometry(tuple(k), tuple(st), tuple((p, p) for p in pd), tuple(dl), groups,
                      tuple(S), L)


# ----------------------------------------------------------------------------------------------
# all groups in one batched product
# ----------------------------------------------------------------------------------------------
GROUPED = [
    # (x shape, w shape, kwargs)
    ((2, 12, 12, 13), (12, 1, 3, 3), dict(padding=1, groups=12)),        # depthwise: not ours
    ((2, 12, 12, 13), (6, 2, 3, 3), dict(padding=1, groups=6)),
    ((2, 8, 12, 12), (8, 4, 3, 3), dict(padding=1, groups=2)),          # two: group by group
    ((2, 16, 12, 12), (32, 4, 3, 3), dict(padding=1, groups=4)),
    ((2, 32, 12, 12), (32, 1, 3, 3), dict(padding=1, groups=32)),
    ((3, 64, 12, 12), (64, 2, 3, 3), dict(padding=1, groups=32)),
    ((2, 24, 13, 12), (12, 6, 5, 3), dict(padding=(2, 1), groups=4)),
    ((2, 12, 14, 14), (12, 3, 3, 3), dict(padding=2, dilation=2, groups=4)),
    ((2, 12, 14, 14), (12, 3, 3, 2), dict(padding="same", groups=4)),
    ((2, 12, 16, 16), (24, 2, 3, 3), dict(padding="valid", groups=6)),
    ((2, 8, 150), (16, 2, 5), dict(padding=2, groups=4)),
    ((2, 8, 150), (8, 1, 3), dict(padding="same", dilation=3, groups=8)),
    ((2, 8, 7, 7, 7), (8, 2, 3, 3, 3), dict(padding=1, groups=4)),
    ((2, 8, 6, 7, 8), (16, 2, 3, 3, 3), dict(padding=1, groups=4)),
]


def _batched(x_shape, w_shape, kw):
    """Whether this convolution's forward takes ``grouped_shift``."""
    groups = kw.get("groups", 1)
    C, O = x_shape[1], w_shape[0]
    padding = kw.get("padding", 0)
    if padding == "same":
        padding = [d * (k - 1) // 2 for d, k in zip(
            [kw.get("dilation", 1)] * (len(w_shape) - 2), w_shape[2:])]
    elif padding == "valid":
        padding = 0
    geom = _geometry(x_shape, w_shape, kw.get("stride", 1), padding, kw.get("dilation", 1),
                     groups)
    return groups != C and K.path(geom, C, x_shape[0]) == "shift" and \
        GR.batched(geom, C, O, 8)


@pytest.mark.parametrize("x_shape,w_shape,kw", GROUPED)
def test_grouped_float64_first_and_second_order(x_shape, w_shape, kw):
    _compare(x_shape, w_shape, kw)


def test_grouped_cases_take_the_batched_path():
    taken = [_batched(x, w, kw) for x, w, kw in GROUPED]
    assert taken.count(False) == 4, taken          # three depthwise, the two groups
    assert not GR.batched(_geometry((2, 128, 16, 16), (128, 64, 3, 3), 1, 1, 1, 2),
                                 128, 128, 4)      # 64 channels a group: group by group


@pytest.mark.parametrize("per_group", [1, 2, 3, 5, 8, 16, 17, 32, 64])
def test_grouped_channels_per_group(per_group):
    G = 4 if per_group <= 16 else 2
    C = G * per_group
    _compare((2, C, 12, 12), (G * max(1, per_group // 2), per_group, 3, 3),
             dict(padding=1, groups=G), second=per_group <= 16)


@pytest.mark.parametrize("groups", [2, 3, 4, 6, 12, 24])
def test_grouped_group_counts(groups):
    _compare((2, 24, 12, 12), (48, 24 // groups, 3, 3), dict(padding=1, groups=groups))


def test_grouped_batchless_channels_last_views_float32():
    _compare((12, 12, 12), (12, 3, 3, 3), dict(padding=1, groups=4))
    _compare((8, 140), (8, 2, 3), dict(padding=1, groups=4))
    _compare((2, 16, 12, 12), (16, 4, 3, 3), dict(padding=1, groups=4),
             layout="channels_last")
    _compare((2, 16, 12, 12), (16, 2, 3, 3), dict(padding=1, groups=8), layout="view")
    _compare((4, 128, 16, 16), (128, 4, 3, 3), dict(padding=1, groups=32),
             dtype=np.float32, second=False)


def test_grouped_nonfinite_weight_matches_torch():
    x, w, _ = _arrays((2, 8, 12, 12), (8, 2, 3, 3), False, np.float64)
    w[0, 0, 0, 0] = np.inf
    kw = dict(padding=1, groups=4)
    got = minigrad.nn.functional.conv2d(minigrad.tensor(x), minigrad.tensor(w), **kw)
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **kw)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-10)


def test_grouped_shift_chunks_over_groups():
    """Images too large for all groups at once: the groups go in chunks."""
    n, g = GR._chunks(4, 32, 3 << 20, 2)
    assert n == 1 and 1 <= g < 32
    _compare((1, 64, 40, 40), (64, 2, 3, 3), dict(padding=1, groups=32), second=False)


def test_grouped_adjoint_weight_is_the_transposed_flip():
    w = RNG.standard_normal((6, 2, 3, 2))
    adj = GR.grouped_adjoint_weight(w, 3)
    assert adj.shape == (6, 2, 3, 2)
    for q in range(3):
        block = w[2 * q:2 * q + 2].swapaxes(0, 1)[:, :, ::-1, ::-1]
        np.testing.assert_array_equal(adj[2 * q:2 * q + 2], block)


# ----------------------------------------------------------------------------------------------
# stride and dilation sharing a factor
# ----------------------------------------------------------------------------------------------
COMMON = [
    ((2, 6, 100), (5, 6, 5), dict(stride=2, dilation=2)),
    ((2, 6, 101), (5, 6, 5), dict(stride=4, dilation=2, padding=3)),
    ((2, 6, 101), (5, 6, 4), dict(stride=6, dilation=4, padding=5)),
    ((2, 6, 31, 29), (5, 6, 3, 3), dict(stride=(2, 3), dilation=(4, 3), padding=(1, 2))),
    ((2, 6, 20, 21), (6, 2, 3, 2), dict(stride=2, dilation=2, padding=1, groups=3)),
    ((2, 6, 20, 21), (6, 1, 3, 3), dict(stride=2, dilation=2, padding=2, groups=6)),
    ((1, 3, 9, 10, 11), (4, 3, 2, 3, 2), dict(stride=(2, 1, 3), dilation=(2, 2, 3),
                                              padding=(1, 0, 2))),
    ((2, 4, 9), (3, 4, 3), dict(stride=3, dilation=3, padding=4)),
    # reduced to stride-1 convolutions on the shifted GEMMs (input gradient too)
    ((2, 8, 600), (8, 8, 5), dict(stride=2, dilation=2)),
    ((2, 16, 30, 30), (16, 16, 3, 3), dict(stride=2, dilation=2, padding=2)),
    ((2, 16, 31, 30), (12, 16, 3, 3), dict(stride=2, dilation=2, padding=1)),
]


@pytest.mark.parametrize("x_shape,w_shape,kw", COMMON)
def test_common_factor_float64_first_and_second_order(x_shape, w_shape, kw):
    geom = _geometry(x_shape, w_shape, kw.get("stride", 1), kw.get("padding", 0),
                     kw.get("dilation", 1), kw.get("groups", 1))
    assert GR.common_step(geom) is not None
    _compare(x_shape, w_shape, kw)


def test_common_factor_batchless_and_float32():
    _compare((6, 100), (5, 6, 5), dict(stride=2, dilation=2))
    _compare((32, 64, 128), (64, 64, 5), dict(stride=2, dilation=2), dtype=np.float32,
             second=False)
    _compare((2, 6, 20, 21), (5, 6, 3, 3), dict(stride=2, dilation=2, padding=1),
             layout="channels_last")


def test_common_factor_reduced_to_shifted_gemms():
    for x_shape, w_shape, kw in COMMON[-3:]:
        geom = _geometry(x_shape, w_shape, kw["stride"], kw.get("padding", 0), kw["dilation"])
        reduced = GR.common_step(geom)[2]
        assert K.path(reduced, x_shape[1], x_shape[0]) == "shift"
        assert K.path(reduced, w_shape[0], x_shape[0]) == "shift"


def test_common_factor_geometry():
    geom = _geometry((1, 1, 512), (1, 1, 5), stride=2, dilation=2)
    factors, first, reduced = GR.common_step(geom)
    assert factors == [2] and first == [0]
    assert reduced.stride == (1,) and reduced.dilation == (1,) and reduced.in_size == (256,)
    assert reduced.out_size == geom.out_size
    assert GR.common_step(_geometry((1, 1, 50), (1, 1, 5), stride=2, dilation=3)) is None


# ----------------------------------------------------------------------------------------------
# im2col of strided windows from phase planes
# ----------------------------------------------------------------------------------------------
PHASES = [
    ((2, 3, 30, 29), (5, 3, 7, 7), dict(stride=2, padding=3)),
    ((2, 3, 30, 29), (5, 3, 5, 4), dict(stride=(2, 3), padding=(2, 1))),
    ((2, 4, 17, 18), (6, 4, 3, 3), dict(stride=2, padding=1)),
    ((2, 4, 17, 18), (6, 4, 2, 2), dict(stride=3)),                  # kernel below stride
    ((2, 4, 16, 16), (6, 4, 4, 4), dict(stride=4, padding=1)),
    ((2, 4, 17, 18), (6, 2, 3, 3), dict(stride=2, padding=1, groups=2)),
    ((2, 3, 40), (4, 3, 7), dict(stride=3, padding=2)),
    ((2, 2, 7, 8, 9), (3, 2, 3, 3, 3), dict(stride=(1, 2, 2), padding=1)),
    ((2, 4, 17, 18), (6, 4, 3, 3), dict(stride=(2, 1), padding=1)),   # last axis stride 1
]


@pytest.mark.parametrize("x_shape,w_shape,kw", PHASES)
def test_phase_columns_float64_first_and_second_order(x_shape, w_shape, kw):
    _compare(x_shape, w_shape, kw)


@pytest.mark.parametrize("x_shape,w_shape,kw", PHASES)
def test_phase_columns_equal_the_strided_windows(x_shape, w_shape, kw):
    """The phase-plane columns are exactly the strided windows (bit for bit)."""
    x = RNG.standard_normal(x_shape)
    geom = _geometry(x_shape, w_shape, kw.get("stride", 1), kw.get("padding", 0), 1,
                     kw.get("groups", 1))
    nd = len(w_shape) - 2
    xpad = np.pad(x, [(0, 0), (0, 0)] + [(l, r) for l, r in geom.padding])
    want = np.empty((x_shape[1],) + geom.kernel + (x_shape[0],) + geom.out_size)
    for tap in np.ndindex(*geom.kernel):
        idx = tuple(slice(p, p + s * (m - 1) + 1, s) for p, s, m in
                    zip(tap, geom.stride, geom.out_size))
        want[(slice(None),) + tap] = xpad[(slice(None), slice(None)) + idx].swapaxes(0, 1)
    for make in (COLS.im2col, COLS._im2col_phases):
        got = make(x, geom)
        assert got.shape[0] == geom.groups
        np.testing.assert_array_equal(np.asarray(got).reshape(want.shape), want)
        del got
    assert nd == len(geom.kernel)


def test_phase_columns_taken_for_wide_kernels():
    """Kernels of at least 4 taps per phase read phase planes (7x7, 4x4 stride 2); 3x3
    stride 2 reads the windows."""
    calls = []
    real = COLS._im2col_phases

    def counted(x, geom):
        calls.append(geom.kernel)
        return real(x, geom)
    COLS._im2col_phases = counted
    try:
        _compare((2, 3, 30, 29), (5, 3, 7, 7), dict(stride=2, padding=3), second=False)
        _compare((2, 3, 16, 16), (5, 3, 4, 4), dict(stride=2, padding=1), second=False)
        _compare((2, 4, 17, 18), (6, 4, 3, 3), dict(stride=2, padding=1), second=False)
    finally:
        COLS._im2col_phases = real
    assert (7, 7) in calls and (4, 4) in calls and (3, 3) not in calls


def test_stem_shape_float32_and_channels_last():
    _compare((2, 3, 64, 64), (8, 3, 7, 7), dict(stride=2, padding=3), dtype=np.float32,
             second=False)
    _compare((2, 3, 30, 29), (5, 3, 7, 7), dict(stride=2, padding=3), layout="channels_last")
    _compare((3, 30, 29), (5, 3, 7, 7), dict(stride=2, padding=3))


def test_conv_transpose_strided_grouped():
    """conv_transpose is the input gradient; its own gradients use the strided forward."""
    for kw, x_shape, w_shape in [(dict(stride=2, padding=1), (2, 6, 8, 8), (6, 4, 4, 4)),
                                 (dict(stride=2, padding=1, groups=3), (2, 6, 8, 8),
                                  (6, 2, 3, 3))]:
        x, w, _ = _arrays(x_shape, w_shape, False, np.float64)
        b = RNG.standard_normal(w_shape[1] * kw.get("groups", 1))
        outs = []
        for lib in (minigrad, torch):
            ts = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
            y = lib.nn.functional.conv_transpose2d(*ts, **kw)
            grads = lib.autograd.grad((y * y).sum(), ts, create_graph=True)
            second = lib.autograd.grad(sum((g * g).sum() for g in grads), ts[:2])
            outs.append([t.detach().numpy() for t in (y, *grads, *second)])
        for g, t in zip(*outs):
            np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-10)
