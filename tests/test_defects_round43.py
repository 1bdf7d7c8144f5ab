"""Round 43 defects, each checked against PyTorch: ``data_ptr()`` of an empty tensor and of an
empty storage (0), the storage an empty view lies in; ``mode`` of short rows holding NaN
(value and index); the parser's refusals of ``round`` / ``round_`` called with a position or
an unknown keyword; the strides of empty LAPACK-style results (ormqr, solve, qr...); ``mean``
into float16 / bfloat16 (summed in float32 first); ``polar`` of half tensors."""
import math

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _error(fn):
    try:
        fn()
    except Exception as exc:            # noqa: BLE001 (the type and words are compared)
        return type(exc).__name__, str(exc).replace("minigrad", "torch")
    return None


# ------------------------------------------------------------------ data_ptr of empty tensors
_EMPTY = {
    "empty": lambda lib: lib.empty(0),
    "empty_2d": lambda lib: lib.zeros(0, 3),
    "slice_front": lambda lib: lib.arange(5.)[:0],
    "slice_end": lambda lib: lib.arange(5.)[5:],
    "slice_middle": lambda lib: lib.arange(5.)[3:3],
    "transposed": lambda lib: lib.empty(2, 0).t(),
    "int64": lambda lib: lib.zeros(0, dtype=lib.int64),
    "from_list": lambda lib: lib.tensor([]),
}


@pytest.mark.parametrize("name", sorted(_EMPTY))
def test_empty_data_ptr_is_null(name):
    for lib in (torch, minigrad):
        t = _EMPTY[name](lib)
        assert t.data_ptr() == 0, (lib.__name__, name)
        assert t.const_data_ptr() == 0


def test_empty_storage_data_ptr():
    for lib in (torch, minigrad):
        e = lib.empty(0)
        assert e.untyped_storage().data_ptr() == 0
        assert e.untyped_storage().nbytes() == 0
        x = lib.arange(5.)
        # an empty view of a tensor with memory: the storage is that memory
        assert x[:0].untyped_storage().data_ptr() == x.data_ptr() != 0
        assert x[:0].untyped_storage().nbytes() == 20


def test_empty_is_set_to_and_resize():
    for lib in (torch, minigrad):
        e = lib.empty(0)
        assert e.is_set_to(e) and e.is_set_to(e.view(0))
        assert not e.is_set_to(lib.empty(0))
        e.resize_(3)
        assert e.data_ptr() != 0


def test_as_strided_of_an_empty_slice_sees_its_base():
    got = {}
    for lib in (torch, minigrad):
        x = lib.arange(5.)
        tail = x[5:]
        got[lib.__name__] = (tail.as_strided((2,), (1,), 1).tolist(),
                             tail.as_strided((1,), (1,), 4).tolist(),
                             x[2:].storage_offset(), x[2:].data_ptr() - x.data_ptr())
    assert got["minigrad"] == got["torch"]


def test_nonempty_addresses_unchanged():
    for lib in (torch, minigrad):
        x = lib.arange(6.).reshape(2, 3)
        assert x[1].data_ptr() - x.data_ptr() == 12
        assert x[1].storage_offset() == 3
        assert x.t().is_set_to(x.t()) and not x.t().is_set_to(x)
        assert x[:, 1:].as_strided((2,), (3,)).tolist() == [1.0, 4.0]


# ------------------------------------------------------------------------- mode with NaN
_NAN = float("nan")
_MODE_ROWS = [[1., _NAN, _NAN, 2.], [_NAN, 1., 1., _NAN, _NAN], [_NAN], [1., 2., _NAN],
              [2., 2., _NAN, _NAN], [_NAN, _NAN, 1., 1.], [math.inf, _NAN, math.inf, _NAN],
              [-0.0, 0.0, _NAN], [_NAN, 3., _NAN], [3., _NAN, 3., _NAN, 3.]]


@pytest.mark.parametrize("row", range(len(_MODE_ROWS)))
def test_mode_with_nan(row):
    values = _MODE_ROWS[row]
    t = torch.mode(torch.tensor(values, dtype=torch.float64))
    m = minigrad.mode(minigrad.tensor(values, dtype=minigrad.float64))
    np.testing.assert_array_equal(m.values.numpy(), t.values.numpy())
    assert m.indices.item() == t.indices.item()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("n", [2, 5, 11, 16])
def test_mode_with_nan_random_rows(dtype, n):
    rng = np.random.default_rng(43 + n)
    a = rng.integers(0, 4, size=(40, n)).astype(dtype)
    a[rng.random(a.shape) < 0.3] = np.nan
    for dim, rows in ((1, a), (0, np.ascontiguousarray(a.T))):
        t = torch.mode(torch.from_numpy(rows), dim)
        m = minigrad.mode(minigrad.tensor(rows), dim)
        np.testing.assert_array_equal(m.values.numpy(), t.values.numpy())
        np.testing.assert_array_equal(m.indices.numpy(), t.indices.numpy())


def test_mode_with_nan_gradient():
    a = np.array([[1., np.nan, np.nan, 2.], [np.nan, 3., 3., np.nan]])
    grads = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        lib.mode(x, 1).values.sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])


# ---------------------------------------------------------------- round's parser refusals
_ROUND_CALLS = {
    "method_two_positions": lambda lib, x: x.round(1, 2),
    "method_one_position": lambda lib, x: x.round(1),
    "method_unknown_keyword": lambda lib, x: x.round(foo=1),
    "method_float_position": lambda lib, x: x.round(1.0),
    "inplace_two_positions": lambda lib, x: x.round_(1, 2),
    "inplace_one_position": lambda lib, x: x.round_(1),
    "inplace_unknown_keyword": lambda lib, x: x.round_(foo=1),
    "function_position": lambda lib, x: lib.round(x, 1),
    "function_two_positions": lambda lib, x: lib.round(x, 1, 2),
    "function_unknown_keyword": lambda lib, x: lib.round(x, foo=2),
    "function_inplace_position": lambda lib, x: lib.round_(x, 1),
    "function_inplace_keyword": lambda lib, x: lib.round_(x, foo=1),
    "decimals_float": lambda lib, x: lib.round(x, decimals=1.5),
    "decimals_none": lambda lib, x: x.round(decimals=None),
    "inplace_decimals_float": lambda lib, x: x.round_(decimals=1.5),
}


@pytest.mark.parametrize("name", sorted(_ROUND_CALLS))
def test_round_refusals(name):
    got = [_error(lambda: _ROUND_CALLS[name](lib, lib.tensor([1.234, 2.5])))
           for lib in (torch, minigrad)]
    assert got[0] is not None
    assert got[1] == got[0]


def test_round_calls_that_work():
    for decimals in (0, 1, -1):
        t = torch.tensor([1.234, 25.5, -3.75]).round(decimals=decimals)
        m = minigrad.tensor([1.234, 25.5, -3.75]).round(decimals=decimals)
        np.testing.assert_array_equal(m.numpy(), t.numpy())
        x, y = torch.tensor([1.25, 2.5]), minigrad.tensor([1.25, 2.5])
        x.round_(decimals=decimals)
        y.round_(decimals=decimals)
        np.testing.assert_array_equal(y.numpy(), x.numpy())
    assert minigrad.tensor([2.5]).round_().tolist() == torch.tensor([2.5]).round_().tolist()


# ------------------------------------------------------- strides of empty LAPACK results
def _zeros(lib, *shape):
    return lib.zeros(*shape, dtype=lib.float64)


def _eye(lib):
    return lib.eye(3, dtype=lib.float64)


_LAPACK = {
    "ormqr_left": lambda lib: lib.ormqr(*lib.geqrf(_zeros(lib, 4, 3) + 1), _zeros(lib, 4, 0)),
    "ormqr_right": lambda lib: lib.ormqr(*lib.geqrf(_zeros(lib, 4, 3) + 1), _zeros(lib, 0, 4),
                                         left=False),
    "ormqr_batch": lambda lib: lib.ormqr(*lib.geqrf(_zeros(lib, 2, 4, 3) + 1),
                                         _zeros(lib, 2, 4, 0), transpose=True),
    "ormqr_right_batch": lambda lib: lib.ormqr(*lib.geqrf(_zeros(lib, 3, 4, 3) + 1),
                                               _zeros(lib, 3, 0, 4), left=False),
    "ormqr_empty_batch": lambda lib: lib.ormqr(_zeros(lib, 0, 4, 3), _zeros(lib, 0, 3),
                                               _zeros(lib, 0, 4, 2)),
    "householder_product": lambda lib: lib.linalg.householder_product(_zeros(lib, 4, 0),
                                                                      _zeros(lib, 0)),
    "geqrf_no_rows": lambda lib: lib.geqrf(_zeros(lib, 0, 3))[0],
    "geqrf_batch": lambda lib: lib.geqrf(_zeros(lib, 2, 0, 3))[0],
    "solve_no_rows": lambda lib: lib.linalg.solve(_zeros(lib, 0, 0), _zeros(lib, 0, 3)),
    "solve_no_columns": lambda lib: lib.linalg.solve(_eye(lib), _zeros(lib, 3, 0)),
    "solve_batch": lambda lib: lib.linalg.solve(_eye(lib).expand(2, 3, 3), _zeros(lib, 2, 3, 0)),
    "qr_q": lambda lib: lib.linalg.qr(_zeros(lib, 3, 0)).Q,
    "qr_r": lambda lib: lib.linalg.qr(_zeros(lib, 0, 3)).R,
    "lu_factor_tall": lambda lib: lib.linalg.lu_factor(_zeros(lib, 3, 0)).LU,
    "lu_factor_wide": lambda lib: lib.linalg.lu_factor(_zeros(lib, 0, 3)).LU,
    "lstsq": lambda lib: lib.linalg.lstsq(_zeros(lib, 3, 2) + lib.eye(3, 2, dtype=lib.float64),
                                          _zeros(lib, 3, 0)).solution,
    "cholesky_solve": lambda lib: lib.cholesky_solve(_zeros(lib, 3, 0), _eye(lib)),
    "solve_triangular": lambda lib: lib.linalg.solve_triangular(_eye(lib), _zeros(lib, 3, 0),
                                                                upper=True),
    "lu_solve": lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(_eye(lib)),
                                                _zeros(lib, 3, 0)),
    "inv": lambda lib: lib.linalg.inv(_zeros(lib, 2, 0, 0)),
    "pinv": lambda lib: lib.linalg.pinv(_zeros(lib, 3, 0)),
}


@pytest.mark.parametrize("name", sorted(_LAPACK))
def test_empty_lapack_result_strides(name):
    t, m = _LAPACK[name](torch), _LAPACK[name](minigrad)
    assert tuple(m.shape) == tuple(t.shape)
    assert m.stride() == t.stride()
    assert m.is_contiguous() == t.is_contiguous()


_LAPACK_GRAD = {
    "ormqr": lambda lib, z: lib.ormqr(*lib.geqrf(_zeros(lib, 4, 3) + 1), z(4, 0)),
    "householder_product": lambda lib, z: lib.linalg.householder_product(z(4, 0), z(0)),
    "solve": lambda lib, z: lib.linalg.solve(_eye(lib), z(3, 0)),
    "solve_triangular": lambda lib, z: lib.linalg.solve_triangular(_eye(lib), z(3, 0),
                                                                   upper=True),
    "cholesky_solve": lambda lib, z: lib.cholesky_solve(z(3, 0), _eye(lib)),
    "lstsq": lambda lib, z: lib.linalg.lstsq(_eye(lib), z(3, 0)).solution,
    "qr": lambda lib, z: lib.linalg.qr(z(3, 0)).Q,
}


@pytest.mark.parametrize("name", sorted(_LAPACK_GRAD))
def test_empty_lapack_result_gradients(name):
    """An empty result keeps its node (PyTorch's name) and passes empty gradients back."""
    got = []
    for lib in (torch, minigrad):
        leaves = []

        def tracked(*shape, _lib=lib, _leaves=leaves):
            leaf = _zeros(_lib, *shape).requires_grad_()
            _leaves.append(leaf)
            return leaf
        out = _LAPACK_GRAD[name](lib, tracked)
        out.sum().backward()
        got.append((type(out.grad_fn).__name__, out.stride(),
                    [None if leaf.grad is None else (tuple(leaf.grad.shape), leaf.grad.stride())
                     for leaf in leaves]))
    assert got[1] == got[0]


# ------------------------------------------------------------------ mean into half floats
_MEAN_INPUTS = {
    "int_over_half": ([70000, 1], "int64"),
    "float_over_half": ([70000., 1.], "float32"),
    "double_over_half": ([70000., 1.], "float64"),
    "cancelling": ([1e30, -1e30, 1e30], "float32"),
    "big_ints": ([2 ** 62, -2 ** 62 + 1, 1], "int64"),
    "rounding_in_bf16": ([257, 1, 3], "int64"),
    "int32": ([70000, 1], "int32"),
    "bool": ([True, True, False], "bool"),
    "half_input": ([60000., 60000.], "float16"),
}


@pytest.mark.parametrize("target", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(_MEAN_INPUTS))
def test_mean_into_half_dtypes(name, target):
    values, dtype = _MEAN_INPUTS[name]
    got = []
    for lib in (torch, minigrad):
        x = lib.tensor(values, dtype=getattr(lib, dtype))
        whole = x.mean(dtype=getattr(lib, target)) if x.dtype != lib.float16 else x.mean()
        along = x.reshape(1, -1).mean(1, dtype=whole.dtype)
        got.append((str(whole.dtype).split(".")[-1], whole.float().item(),
                    along.float().tolist()))
    assert got[1] == got[0]


def test_mean_into_half_gradient():
    got = []
    for lib in (torch, minigrad):
        x = lib.tensor([[70000., 1., 3.]], dtype=lib.float64, requires_grad=True)
        y = x.mean(1, dtype=lib.float16)
        (y.float() * 2).sum().backward()
        got.append((type(y.grad_fn).__name__, str(x.grad.dtype).split(".")[-1],
                    x.grad.tolist()))
    assert got[1] == got[0]


# ------------------------------------------------------------------------------- polar
def test_polar_half_refused_in_torch_words():
    got = [_error(lambda: lib.polar(lib.ones(2, dtype=lib.half), lib.ones(2, dtype=lib.half)))
           for lib in (torch, minigrad)]
    assert got[0] is not None and got[1] == got[0]


# ------------------------------------------------------- quantile's layout with keepdim
@pytest.mark.parametrize("fn", ["quantile", "nanquantile"])
@pytest.mark.parametrize("dim", [None, 0, 1, 2, -1])
@pytest.mark.parametrize("q", [0.3, "0d", [0.1, 0.6], [0.5]])
def test_quantile_keepdim_strides(fn, dim, q):
    got = []
    for lib in (torch, minigrad):
        x = lib.arange(24., dtype=lib.float64).reshape(2, 3, 4).requires_grad_()
        qq = q if isinstance(q, float) else lib.tensor(0.3 if q == "0d" else q,
                                                       dtype=lib.float64)
        out = getattr(lib, fn)(x, qq, dim=dim, keepdim=True)
        out.backward(lib.ones_like(out))
        got.append((tuple(out.shape), out.stride(), out.detach().numpy().round(9).tolist(),
                    x.grad.numpy().round(9).tolist()))
    assert got[1] == got[0]
