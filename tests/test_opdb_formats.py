"""Memory formats, ``zero_`` / ``resize_as_`` and attention dropout, as PyTorch's OpInfo
samples (op_db) exercise them, compared with torch: values, shapes, dtypes, strides, whether
the result is the input itself, gradients and errors."""
import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------------------------------
# scaled_dot_product_attention with dropout_p > 0
# ----------------------------------------------------------------------------------------------
def _qkv(requires_grad=True, shape_q=(2, 3, 4), shape_kv=(2, 5, 4)):
    minigrad.manual_seed(7)
    return [minigrad.randn(*s, dtype=minigrad.float64, requires_grad=requires_grad)
            for s in (shape_q, shape_kv, shape_kv)]


@pytest.mark.parametrize("is_causal", [False, True])
def test_sdpa_dropout_equals_dropout_on_the_weights(is_causal):
    # the same seed draws the same mask as F.dropout on the weights: output and gradients of
    # the explicit composition must agree exactly
    q, k, v = _qkv()
    minigrad.manual_seed(3)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, is_causal=is_causal)
    g = minigrad.randn(*out.shape, dtype=minigrad.float64)
    grads = minigrad.autograd.grad(out, (q, k, v), g, create_graph=True)

    scores = q @ k.transpose(-2, -1) / 2.0
    if is_causal:
        scores = scores.masked_fill(~minigrad.ones(3, 5, dtype=minigrad.bool).tril(), -np.inf)
    minigrad.manual_seed(3)
    ref = F.dropout(minigrad.softmax(scores, -1), 0.4) @ v
    ref_grads = minigrad.autograd.grad(ref, (q, k, v), g, create_graph=True)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    for a, b in zip(grads, ref_grads):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    # second order: differentiate a first-order gradient again, both ways
    gg = minigrad.autograd.grad(grads[0].sum(), (k, v))
    ref_gg = minigrad.autograd.grad(ref_grads[0].sum(), (k, v))
    for a, b in zip(gg, ref_gg):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_sdpa_dropout_shape_dtype_and_statistics():
    q, k, v = (minigrad.ones(2000, 1, 4), minigrad.ones(2000, 8, 4), minigrad.ones(2000, 8, 1))
    tq, tk, tv = (torch.ones(2000, 1, 4), torch.ones(2000, 8, 4), torch.ones(2000, 8, 1))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.25)
    want = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, dropout_p=0.25)
    assert tuple(out.shape) == tuple(want.shape)
    assert out.dtype.name == str(want.dtype).split(".")[-1]
    # each output is (kept weights of 1/8) / 0.75: mean 1, variance p / ((1 - p) * 8)
    a = out.numpy().ravel()
    assert abs(a.mean() - 1.0) < 0.03
    assert abs(a.std() - np.sqrt(0.25 / 0.75 / 8)) < 0.02
    assert set(np.round(a * 6, 6)) <= {float(i) for i in range(9)}      # multiples of 1/6


def test_sdpa_dropout_p_zero_negative_one_and_too_large():
    q, k, v = _qkv(requires_grad=False)
    plain = F.scaled_dot_product_attention(q, k, v)
    for p in (0.0, -0.1):                       # torch drops nothing for p <= 0
        np.testing.assert_array_equal(
            F.scaled_dot_product_attention(q, k, v, dropout_p=p).numpy(), plain.numpy())
    assert not F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy().any()
    tq, tk, tv = (torch.from_numpy(t.numpy()) for t in (q, k, v))
    with pytest.raises(RuntimeError, match="between 0 and 1, but got 1.5"):
        torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, dropout_p=1.5)
    with pytest.raises(RuntimeError, match="between 0 and 1, but got 1.5"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)


# ----------------------------------------------------------------------------------------------
# memory formats
# ----------------------------------------------------------------------------------------------
_FORMATS = ("contiguous_format", "preserve_format", "channels_last", "channels_last_3d")


def _fmt(lib, name):
    return getattr(lib, name)


# the same tensor built in both libraries: a layout (strides) and its values
_LAYOUTS = {
    "contiguous4d": lambda lib: lib.arange(120, dtype=lib.float64).reshape(2, 3, 4, 5),
    "channels_last": lambda lib: lib.arange(120, dtype=lib.float64).reshape(2, 3, 4, 5)
    .contiguous(memory_format=lib.channels_last),
    "channels_last_slice": lambda lib: lib.arange(120, dtype=lib.float64).reshape(2, 3, 4, 5)
    .contiguous(memory_format=lib.channels_last)[:, :, ::2],
    "permuted4d": lambda lib: lib.arange(120, dtype=lib.float64).reshape(2, 3, 4, 5)
    .permute(0, 2, 1, 3),
    "permuted_slice": lambda lib: lib.arange(120, dtype=lib.float64).reshape(2, 3, 4, 5)
    .permute(3, 1, 0, 2)[::2],
    "one_channel": lambda lib: lib.arange(40, dtype=lib.float64).reshape(2, 1, 4, 5),
    "channels_last_3d": lambda lib: lib.arange(240, dtype=lib.float64).reshape(2, 3, 2, 4, 5)
    .contiguous(memory_format=lib.channels_last_3d),
    "transposed": lambda lib: lib.arange(12, dtype=lib.float64).reshape(3, 4).t(),
    "strided": lambda lib: lib.arange(24, dtype=lib.float64).reshape(4, 6)[:, ::2],
    "expanded": lambda lib: lib.arange(3, dtype=lib.float64).reshape(3, 1).expand(3, 4),
    "unit_dim": lambda lib: lib.arange(16, dtype=lib.float64).reshape(2, 8)[:1],
    "scalar": lambda lib: lib.tensor(2.5, dtype=lib.float64),
}


def _same_result(make, values=True):
    """Run ``make(lib)`` in both libraries; they must agree on the error, or on values
    (unless ``values`` is False: uninitialised or random ones), shape, dtype, strides and
    whether the result is the input itself."""
    try:
        want = make(torch)
    except Exception as exc:  # noqa: BLE001  (torch's exception is the expectation)
        with pytest.raises(type(exc)) as got:
            make(minigrad)
        first = str(exc).split("(")[0].split(",")[0].replace("torch.", "")
        assert first.strip() in str(got.value).replace("minigrad.", ""), (exc, got.value)
        return
    got = make(minigrad)
    if isinstance(want, tuple):                     # (result, input): compare aliasing
        (want, want_in), (got, got_in) = want, got
        assert (got is got_in) == (want is want_in)
    if isinstance(want, bool):
        assert got == want
        return
    assert tuple(got.shape) == tuple(want.shape)
    assert got.dtype.name == str(want.dtype).split(".")[-1]
    assert got.stride() == want.stride(), (got.stride(), want.stride())
    if values and make.__name__ not in ("empty_like", "rand_like", "randn_like"):
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())


def test_memory_format_objects():
    for name in _FORMATS:
        f = getattr(minigrad, name)
        assert isinstance(f, minigrad.memory_format)
        assert repr(f) == repr(getattr(torch, name)).replace("torch.", "minigrad.")
    assert len({id(getattr(minigrad, n)) for n in _FORMATS}) == 4


@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
@pytest.mark.parametrize("fmt", _FORMATS)
def test_layouts_of_copies_match_torch(layout, fmt):
    build = _LAYOUTS[layout]

    def clone(lib):
        return lib.clone(build(lib), memory_format=_fmt(lib, fmt))

    def contiguous(lib):
        x = build(lib)
        return x.contiguous(memory_format=_fmt(lib, fmt)), x

    def to(lib):
        x = build(lib)
        return x.to(memory_format=_fmt(lib, fmt)), x

    def to_float32(lib):
        x = build(lib)
        return x.float(memory_format=_fmt(lib, fmt)), x

    def to_same_dtype(lib):
        x = build(lib)
        return x.double(memory_format=_fmt(lib, fmt)), x

    def to_int64(lib):
        return build(lib).to(lib.int64, memory_format=_fmt(lib, fmt))

    def is_contiguous(lib):
        return build(lib).is_contiguous(memory_format=_fmt(lib, fmt))

    def empty_like(lib):
        return lib.empty_like(build(lib), memory_format=_fmt(lib, fmt))

    def zeros_like(lib):
        return lib.zeros_like(build(lib), memory_format=_fmt(lib, fmt))

    def ones_like(lib):
        return lib.ones_like(build(lib), dtype=lib.float32, memory_format=_fmt(lib, fmt))

    def full_like(lib):
        return lib.full_like(build(lib), 3.0, memory_format=_fmt(lib, fmt))

    def rand_like(lib):
        return lib.rand_like(build(lib), memory_format=_fmt(lib, fmt))

    def randn_like(lib):
        return lib.randn_like(build(lib), memory_format=_fmt(lib, fmt))

    for make in (clone, contiguous, to, to_float32, to_same_dtype, to_int64, is_contiguous,
                 empty_like, zeros_like, ones_like, full_like, rand_like, randn_like):
        _same_result(make)


@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
def test_default_layouts_match_torch(layout):
    build = _LAYOUTS[layout]
    for make in (lambda lib: build(lib).clone(), lambda lib: build(lib).contiguous(),
                 lambda lib: build(lib).float(), lambda lib: build(lib).to(lib.int32),
                 lambda lib: lib.zeros_like(build(lib)), lambda lib: build(lib).is_contiguous(),
                 lambda lib: lib.full_like(build(lib), 2, dtype=lib.int64)):
        _same_result(make)


def test_to_copy_flag_and_none_formats():
    x = minigrad.randn(2, 3, 4, 5)
    tx = torch.from_numpy(x.numpy())
    assert x.to(copy=True) is not x and tx.to(copy=True) is not tx
    assert x.to(minigrad.float32, False, True) is not x           # (dtype, non_blocking, copy)
    assert tx.to(torch.float32, False, True) is not tx
    assert x.to(minigrad.float32, True) is x                      # non_blocking only
    # None is the default (preserve_format) where torch takes it, refused where it does not
    for make in (lambda lib, t: t.to(memory_format=None), lambda lib, t: t.float(memory_format=None),
                 lambda lib, t: t.clone(memory_format=None).stride(),
                 lambda lib, t: lib.zeros_like(t, memory_format=None).stride()):
        r, tr = make(minigrad, x), make(torch, tx)
        assert (r is x) == (tr is tx) and (r == tr if isinstance(r, tuple) else True)
    for make in (lambda lib, t: t.contiguous(memory_format=None),
                 lambda lib, t: t.is_contiguous(memory_format=None),
                 lambda lib, t: t.clone(memory_format="channels_last"),
                 lambda lib, t: t.float(lib.channels_last),
                 lambda lib, t: lib.empty_like(t, memory_format=1)):
        with pytest.raises(TypeError):
            make(torch, tx)
        with pytest.raises(TypeError, match="argument 'memory_format' must be|positional"):
            make(minigrad, x)
    with pytest.raises(RuntimeError, match="preserve memory format is unsupported"):
        tx.transpose(0, 1).contiguous(memory_format=torch.preserve_format)
    with pytest.raises(RuntimeError, match="preserve memory format is unsupported"):
        x.transpose(0, 1).contiguous(memory_format=minigrad.preserve_format)


def test_empty_cpu_cuda_take_a_memory_format():
    for make in (lambda lib: lib.empty(2, 3, 4, 5, memory_format=lib.channels_last),
                 lambda lib: lib.empty((2, 3, 4, 5, 6), memory_format=lib.channels_last_3d),
                 lambda lib: lib.empty(2, 3, memory_format=lib.contiguous_format),
                 lambda lib: lib.empty(2, 3, memory_format=lib.channels_last),
                 lambda lib: lib.empty(2, 3, memory_format=lib.preserve_format)):
        _same_result(make, values=False)
    for make in (lambda lib: _LAYOUTS["transposed"](lib).cpu(
                     memory_format=lib.contiguous_format),
                 lambda lib: _LAYOUTS["contiguous4d"](lib).cpu(
                     memory_format=lib.channels_last)):
        _same_result(make)


def test_channels_last_gradients_and_views():
    base = minigrad.randn(2, 3, 4, 5, dtype=minigrad.float64, requires_grad=True)
    tbase = torch.from_numpy(base.detach().numpy()).requires_grad_(True)
    outs = []
    for lib, b in ((minigrad, base), (torch, tbase)):
        y = b.clone(memory_format=lib.channels_last)
        z = y.to(lib.float32, memory_format=lib.contiguous_format).double()
        w = (y * z).sum(dim=1)                       # a channels-last input to an elementwise op
        g, = (minigrad.autograd.grad if lib is minigrad else torch.autograd.grad)(
            (w ** 2).sum(), b, create_graph=True)
        outs.append((y.stride(), (y * 2).stride(), y.permute(0, 2, 3, 1).is_contiguous(),
                     g.detach().numpy(), g.sum().detach().numpy()))
        with pytest.raises(RuntimeError):
            y.view(2, 60)                             # NHWC memory cannot be viewed as N(CHW)
    (a, b) = outs
    assert a[:3] == b[:3]
    np.testing.assert_allclose(a[3], b[3], rtol=1e-5)


# ----------------------------------------------------------------------------------------------
# zero_ and resize_as_
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (5,), (5, 5, 5)])
def test_zero_function(shape):
    x = minigrad.randn(shape, dtype=minigrad.float64)
    view = x.reshape(-1)
    out = minigrad.zero_(x)
    assert out is x and not x.numpy().any() and not view.numpy().any()
    y = minigrad.randn(shape, requires_grad=True)
    ty = torch.from_numpy(y.detach().numpy()).requires_grad_(True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        torch.zero_(ty)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        minigrad.zero_(y)
    # on a non-leaf: the gradient through the zeroed tensor is zero, as torch's
    grads = []
    for lib, leaf in ((minigrad, y), (torch, ty)):
        z = leaf * 2
        lib.zero_(z)
        (z + leaf).sum().backward()
        grads.append(leaf.grad.numpy())
    np.testing.assert_array_equal(*grads)


@pytest.mark.parametrize("case", ["same", "scalar", "smaller", "larger", "transposed",
                                  "channels_last_keep", "to_channels_last", "preserve",
                                  "preserve_other_size"])
def test_resize_as_matches_torch(case):
    def make(lib):
        cl = lib.channels_last
        x = {"transposed": lib.arange(12, dtype=lib.float64).reshape(3, 4).t(),
             "scalar": lib.tensor(1.5, dtype=lib.float64)}.get(
            case, lib.arange(120, dtype=lib.float64).reshape(2, 3, 4, 5))
        if case == "channels_last_keep":
            x = x.contiguous(memory_format=cl)
        template, kw = {
            "same": (lib.zeros(2, 3, 4, 5), {}),
            "scalar": (lib.zeros(()), {}),
            "smaller": (lib.zeros(3, 7), {}),
            "larger": (lib.zeros(2, 3), {}),
            "transposed": (lib.zeros(2, 6), {}),
            "channels_last_keep": (lib.zeros(2, 3, 4, 5), {}),
            "to_channels_last": (lib.zeros(2, 3, 4, 5), {"memory_format": cl}),
            "preserve": (lib.zeros(2, 3, 4, 5).contiguous(memory_format=cl),
                         {"memory_format": lib.preserve_format}),
            "preserve_other_size": (lib.zeros(1, 3, 4, 5).contiguous(memory_format=cl),
                                    {"memory_format": lib.preserve_format}),
        }[case]
        if case == "larger":
            x = x[0, 0, 0]                            # 5 elements grown to 6
        out = lib.resize_as_(x, template, **kw)
        assert out is x
        return out

    got, want = make(minigrad), make(torch)
    assert tuple(got.shape) == tuple(want.shape) and got.stride() == want.stride()
    n = min(got.numel(), 5 if case == "larger" else got.numel())  # torch leaves new ones unset
    np.testing.assert_array_equal(got.numpy().reshape(-1)[:n] if case == "larger" else
                                  got.numpy(), want.numpy().reshape(-1)[:n]
                                  if case == "larger" else want.numpy())


@pytest.mark.parametrize("shape, sizes", [((), (1, 1, 1)), ((5,), ()), ((2, 3), (6,)),
                                           ((2, 3, 4, 5), (2, 3, 4, 5))])
def test_resize_matches_torch(shape, sizes):
    def make(lib):
        x = lib.arange(int(np.prod(shape)), dtype=lib.float64).reshape(shape)
        out = x.resize_(*sizes) if sizes else x.resize_(sizes)
        assert out is x
        return out
    got, want = make(minigrad), make(torch)
    assert tuple(got.shape) == tuple(want.shape) and got.stride() == want.stride()
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    # an explicit format restrides the same memory, as torch's (the values move with it)
    if len(shape) == 4:
        cl = [lib.arange(120, dtype=lib.float64).reshape(shape).resize_(
            *sizes, memory_format=lib.channels_last) for lib in (minigrad, torch)]
        assert cl[0].stride() == cl[1].stride()
        np.testing.assert_array_equal(cl[0].numpy(), cl[1].numpy())


def test_resize_keeps_memory_and_refuses_what_torch_refuses():
    x = minigrad.arange(12, dtype=minigrad.float64)
    view = x[:6]
    x.resize_as_(minigrad.zeros(3, 2))
    x[0, 0] = 100.0
    assert view[0].item() == 100.0                   # still the same memory, as torch
    for make in (lambda lib: lib.resize_as_(lib.zeros(2, 3, requires_grad=True), lib.zeros(3)),
                 lambda lib: lib.resize_as_(lib.zeros(2, 3), [3, 2]),
                 lambda lib: lib.resize_as_(lib.zeros(2, 3), lib.zeros(3, 2),
                                            memory_format=lib.channels_last),
                 lambda lib: lib.zeros(2, 3).resize_(3, 2, memory_format=lib.preserve_format)):
        with pytest.raises(Exception) as want:
            make(torch)
        with pytest.raises(type(want.value)):
            make(minigrad)
