"""Semantics found by running third-party PyTorch code (the tutorials), checked against torch."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import both  # noqa: E402


def test_range_is_an_index_sequence():
    """``x[range(n), labels]`` (the from-scratch tutorial's nll) reads a range as a list."""
    def program(lib):
        x = lib.arange(12.0).view(3, 4)
        picked = x[range(2), lib.tensor([0, 2])].tolist()
        rows = x[range(1, 3)].tolist()
        cols = x[:, range(0, 4, 2)].tolist()
        empty = tuple(x[range(0)].shape)
        x[range(2), 0] = 5
        y = lib.arange(4.0, requires_grad=True)
        y[range(1, 3)].sum().backward()
        return picked, rows, cols, empty, x.tolist(), y.grad.tolist()
    mine, theirs = both(program)
    assert mine == theirs


def test_inplace_version_error_names_the_legacy_type():
    """The "modified by an inplace operation" error names the tensor as torch does:
    ``[torch.FloatTensor [3]]``, ``[torch.LongTensor [2]]``..."""
    def program(lib):
        words = []
        for dtype in (lib.float32, lib.float64, lib.float16):
            a = lib.ones(3, dtype=dtype, requires_grad=True)
            b = a.sigmoid()
            b.add_(1)
            with pytest.raises(RuntimeError) as info:
                b.sum().backward()
            words.append(str(info.value).split("]")[0].replace("minigrad", "torch"))
        return words
    mine, theirs = both(program)
    assert mine == theirs == ["one of the variables needed for gradient computation has been "
                              f"modified by an inplace operation: [torch.{n}Tensor [3"
                              for n in ("Float", "Double", "Half")]


def test_fft_checks_come_in_torch_order():
    """1-D transforms refuse float16 before looking at dim; n-D ones check s and dim first;
    rfft/ihfft/rfftn refuse complex input before dim (ihfftn after): every pair of a bad
    dtype and a bad dim/shape/norm raises what torch raises."""
    def program(lib):
        out = []
        half, cplx = lib.ones(3, dtype=lib.float16), lib.ones(3, dtype=lib.complex64)
        for name in ("fft", "rfft", "ihfft", "irfft", "hfft"):
            for x in (half, cplx):
                for kw in ({"dim": 5}, {"n": 0}):
                    out.append(_dtype_shape_or_error(lambda: getattr(lib.fft, name)(x, **kw)))
        for name in ("fftn", "rfftn", "ihfftn", "irfftn", "hfftn", "rfft2", "fft2", "ihfft2"):
            for x in (half, cplx):
                for kw in ({"dim": (0, 1)}, {"s": (2, 2)}, {"norm": "bad"}):
                    out.append(_dtype_shape_or_error(lambda: getattr(lib.fft, name)(x, **kw)))
        return out
    mine, theirs = both(program)
    assert mine == theirs


def test_bessel_j_refuses_float16():
    for name in ("bessel_j0", "bessel_j1"):
        for lib in (minigrad, torch):
            with pytest.raises(NotImplementedError, match=f"{name}_cpu.*Half"):
                getattr(lib.special, name)(lib.ones(2, dtype=lib.float16))


def _dtype_shape_or_error(f):
    try:
        r = f()
    except Exception as e:  # noqa: BLE001 (compared with the other library's)
        return type(e).__name__, str(e).replace("minigrad", "torch")
    return "ok", str(r.dtype).split(".")[1], tuple(r.shape)


def test_cholesky_inverse_reads_one_triangle():
    """cholesky_inverse reads the named triangle of any input (it used the whole matrix, off
    by ~100 on a random 3x3); its gradient and second derivative are PyTorch's formula."""
    rng = np.random.default_rng(0)
    cases = [(upper, rng.standard_normal(shape), rng.standard_normal(shape))
             for upper in (False, True) for shape in [(3, 3), (2, 4, 4), (0, 2, 2)]]

    def program(lib):
        out = []
        for upper, a, w in cases:
            a = lib.tensor(a, requires_grad=True)
            y = lib.cholesky_inverse(a, upper=upper)
            g, = lib.autograd.grad((y * lib.tensor(w)).sum(), a, create_graph=True)
            gg, = lib.autograd.grad(g.sin().sum(), a)
            out.append([t.detach().numpy() for t in (y, g, gg)])
        return out
    for mine, theirs in zip(*both(program)):
        for m, t in zip(mine, theirs):
            np.testing.assert_allclose(m, t, rtol=1e-7, atol=1e-9)


def test_cond_of_no_matrices_and_svd_of_non_finite():
    """linalg.cond of empty batches or 0x0 matrices is zeros in the input's dtype, whatever it
    is (torch does not check the dtype then); pinv/matrix_rank of a NaN matrix raise torch's
    LinAlgError (not numpy's), and of an infinite one give NaN / rank 0."""
    def program(lib):
        out = []
        for dtype in (lib.float16, lib.int64, lib.bool, lib.float32):
            for shape in [(0, 3, 3), (0, 0), (2, 0, 0)]:
                for p in (None, "fro", 2, 1):
                    r = lib.linalg.cond(lib.zeros(shape, dtype=dtype), p)
                    out.append((str(r.dtype).split(".")[1], tuple(r.shape), r.tolist()))
        for v in (float("nan"), float("inf")):
            a = lib.tensor([[v, 1.0], [1.0, 2.0]])
            for f in (lib.linalg.pinv, lib.pinverse, lib.linalg.matrix_rank):
                try:
                    out.append(f(a).tolist())
                except lib.linalg.LinAlgError as e:
                    out.append(str(e))
        return out
    mine, theirs = both(program)
    assert str(mine) == str(theirs)


def test_cosine_similarity_normalises_each_input_in_its_dtype():
    """float32 against float64: each input is normalised in its own dtype, then the product
    promotes (torch's order); the result differs from an all-float64 one in the 8th digit."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))

    def program(lib):
        r = lib.nn.functional.cosine_similarity(lib.tensor(a, dtype=lib.float32), lib.tensor(b))
        return str(r.dtype).split(".")[1], r.numpy()
    (md, mv), (td, tv) = both(program)
    assert md == td == "float64"
    np.testing.assert_allclose(mv, tv, rtol=1e-13)


def test_quantile_refusals_in_torch_order():
    def program(lib):
        out = []
        for f in (lib.quantile, lib.nanquantile):
            for shape, q, dim in [((0, 2), 0.5, None), ((0, 2), 0.5, 1), ((2, 0), 0.5, 1),
                                  ((0,), 2.0, None), ((3,), 2.0, None), ((3,), -0.5, None),
                                  ((0, 2), lib.tensor([[0.5]]), None), ((0, 2), 0.5, 5)]:
                out.append(_dtype_shape_or_error(lambda: f(lib.zeros(shape), q, dim=dim)))
        return out
    mine, theirs = both(program)
    assert mine == theirs


def test_cond_nuclear_norm_of_float16_is_refused_by_the_svd():
    def program(lib):
        return [_dtype_shape_or_error(
                    lambda: lib.linalg.cond(lib.ones(2, 3, 3, dtype=lib.float16), p))
                for p in ("nuc", "fro", 1, float("inf"), 2, None)]
    mine, theirs = both(program)
    assert mine == theirs


def test_numpy_conversion_and_shared_modules():
    """np.asarray(t) is t.numpy(): refused for a tensor that requires grad; Module.
    share_memory() moves parameters and buffers into shared memory (Hogwild training)."""
    def program(lib):
        out = [_dtype_shape_or_error(lambda: np.asarray(lib.ones(2, requires_grad=True))),
               np.asarray(lib.ones(2)).tolist()]
        m = lib.nn.BatchNorm1d(2).share_memory()
        out.append([t.is_shared() for t in list(m.parameters()) + list(m.buffers())])
        return out
    mine, theirs = both(program)
    assert mine[0][0] == theirs[0][0] == "RuntimeError"
    assert mine[1:] == theirs[1:]


def test_inplace_on_a_view_of_a_non_contiguous_base():
    """In-place ops on a view whose base is not C-contiguous (x.t() * 1 is column-major in
    both libraries, a slice or a permuted product too) are recorded with their gradients."""
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((4, 3)), rng.standard_normal(s)) for s in [(3, 4), (4, 2),
                                                                               (3, 2, 2)]]

    def program(lib):
        out = []
        for layout, (a, w) in zip(("t", "slice", "perm"), data):
            x = lib.tensor(a, requires_grad=True)
            y = {"t": lambda: x.t() * 1.0, "slice": lambda: (x * 1.0)[:, ::2],
                 "perm": lambda: x.reshape(2, 2, 3).permute(2, 0, 1) * 1.0}[layout]()
            y[1:].sigmoid_()
            (y * lib.tensor(w)).sum().backward()
            out.append((y.detach().numpy(), x.grad.numpy()))
        return out
    for mine, theirs in zip(*both(program)):
        for m, t in zip(mine, theirs):
            np.testing.assert_allclose(m, t, rtol=1e-12)


def test_aten_convolution_casts_the_bias_and_pdist_refuses_half():
    """torch.convolution (the aten entry) casts a bias of another dtype to the input's, where
    conv1d refuses it; pdist has no float16 kernel."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 7)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)

    def program(lib):
        out = []
        for bias in (lib.tensor(b, dtype=lib.float16), lib.tensor(b).round().long()):
            r = lib.convolution(lib.tensor(x), lib.tensor(w), bias, [1], [0], [1], False, [0], 2)
            out.append((str(r.dtype), r.numpy()))
            out.append(_dtype_shape_or_error(lambda: lib.nn.functional.conv1d(
                lib.tensor(x), lib.tensor(w), bias, groups=2))[0])
        out.append(_dtype_shape_or_error(lambda: lib.pdist(lib.ones(4, 3, dtype=lib.float16))))
        return out
    mine, theirs = both(program)
    for m, t in zip(mine, theirs):
        if isinstance(t, tuple) and len(t) == 2 and isinstance(t[1], np.ndarray):
            assert m[0].split(".")[1] == t[0].split(".")[1]
            np.testing.assert_allclose(m[1], t[1], rtol=1e-6)
        else:
            assert m == t


def test_size_and_shape_keywords_of_methods():
    """x.new_zeros(size=...), x.view(size=...), x.expand(size=...), x.reshape(shape=...)."""
    def program(lib):
        x = lib.ones(2, 3)
        out = [tuple(x.new_zeros(size=(2, 3)).shape), tuple(x.new_ones(size=[1]).shape),
               tuple(x.new_empty(size=(2,)).shape), tuple(x.view(size=(3, 2)).shape),
               tuple(lib.ones(1, 3).expand(size=(2, 3)).shape),
               tuple(x.reshape(shape=(6,)).shape),
               str(x.new_zeros(size=(2,), dtype=lib.float64).dtype).split(".")[1]]
        for f in (lambda: x.new_zeros((2,), size=(3,)), lambda: x.new_zeros(size=2),
                  lambda: x.view(size=6)):
            out.append(_dtype_shape_or_error(f)[0])
        return out
    mine, theirs = both(program)
    assert mine == theirs


def test_unflatten_refuses_empty_sizes_before_reading_dim():
    def program(lib):
        return [_dtype_shape_or_error(f) for f in (lambda: lib.ones(2, 12, 1).unflatten(-1, ()),
                                      lambda: lib.ones(12).unflatten(5, ()),
                                      lambda: lib.ones(12).unflatten(0, []),
                                      lambda: lib.ones(12).unflatten(0, (3, -1)),
                                      lambda: lib.unflatten(lib.ones(12), 0, (2, 6)))]
    mine, theirs = both(program)
    assert mine == theirs
