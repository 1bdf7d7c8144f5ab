"""Round 30 of the argument words: a call that PyTorch's argument parser refuses is refused in
the parser's words by the ops that minigrad already wraps (``_torch_args``, ``worded``, the
functions that refuse a first argument not a Tensor, the methods that take a Tensor second,
numpy's keyword names, the factories' ``out=``, autocast's float32 ops).

The wrappers ask the table of PyTorch's signatures only once the op has raised a TypeError or
an AttributeError: Python's refusal of the call (``tan_() missing 1 required positional
arguments: "input"``, ``hypot() takes 1 positional argument but 9 were given``), an unknown
keyword where PyTorch finds a required argument missing first, an argument the op could not
read, or the list of signatures ("received an invalid combination of arguments").  An error
the op raised in the parser's words, and an error of the values (RuntimeError), stand; so does
the op's error where the table cannot tell whether PyTorch takes the call (a None, a number
for a Tensor).  Each case runs on torch and on minigrad: the same exception type and message.
"""
import pytest
import torch

import minigrad


def _x(lib):
    return lib.arange(6.0).reshape(2, 3)


# (an id, the call on a library: lib, a tensor x)
CASES = [
    # functions refusing a first argument that is not a Tensor (``guarded``)
    ("tan_()", lambda L, x: L.tan_()),
    ("arccos()", lambda L, x: L.arccos()),
    ("arcsin(x, 0, 0)", lambda L, x: L.arcsin(x, 0, 0)),
    ("masked_scatter()", lambda L, x: L.masked_scatter()),
    ("convolution()", lambda L, x: L.convolution()),
    ("full_like()", lambda L, x: L.full_like()),
    ("unsqueeze_copy(x, bogus=1)", lambda L, x: L.unsqueeze_copy(x, bogus=1)),
    ("lu_solve(x, bogus=1)", lambda L, x: L.lu_solve(x, bogus=1)),
    ("transpose(x, bogus=1)", lambda L, x: L.transpose(x, bogus=1)),
    ("addcmul('a')", lambda L, x: L.addcmul("a")),
    ("addbmm([1.0])", lambda L, x: L.addbmm([1.0])),
    ("addbmm(x, bogus=1)", lambda L, x: L.addbmm(x, bogus=1)),
    ("bitwise_xor(x, bogus=1)", lambda L, x: L.bitwise_xor(x, bogus=1)),
    ("remainder(x, bogus=1)", lambda L, x: L.remainder(x, bogus=1)),
    ("hsplit(x, 0, 0, 0)", lambda L, x: L.hsplit(x, 0, 0, 0)),
    ("tensor_split(x, 0, 0, 0)", lambda L, x: L.tensor_split(x, 0, 0, 0)),
    ("ctc_loss(x, 0, 0, 0, 0, 0, 0, 0)", lambda L, x: L.ctc_loss(x, 0, 0, 0, 0, 0, 0, 0)),
    # ... whose second argument is a Tensor too
    ("logical_xor(x, 0, 0)", lambda L, x: L.logical_xor(x, 0, 0)),
    ("masked_select(x, 0, 0)", lambda L, x: L.masked_select(x, 0, 0)),
    ("grid_sampler(x, 0, 0, 0, 0, 0)", lambda L, x: L.grid_sampler(x, 0, 0, 0, 0, 0)),
    ("matmul(x, bogus=1)", lambda L, x: L.matmul(x, bogus=1)),
    ("take(x, bogus=1)", lambda L, x: L.take(x, bogus=1)),
    ("arctan2(x, bogus=1)", lambda L, x: L.arctan2(x, bogus=1)),
    ("triplet_margin_loss(x, bogus=1)", lambda L, x: L.triplet_margin_loss(x, bogus=1)),
    # functions and methods of ``_torch_args``
    ("mul('a')", lambda L, x: L.mul("a")),
    ("subtract()", lambda L, x: L.subtract()),
    ("polygamma([1.0])", lambda L, x: L.polygamma([1.0])),
    ("xlogy_(x, 0, 0, 0)", lambda L, x: L.xlogy_(x, 0, 0, 0)),
    ("x.pow()", lambda L, x: x.pow()),
    ("x.true_divide([1.0])", lambda L, x: x.true_divide([1.0])),
    ("x.multiply('a')", lambda L, x: x.multiply("a")),
    ("x.multiply(0, 0, 0)", lambda L, x: x.multiply(0, 0, 0)),
    ("x.gather(bogus=1)", lambda L, x: x.gather(bogus=1)),
    ("x.cummax(bogus=1)", lambda L, x: x.cummax(bogus=1)),
    ("x.logsumexp(bogus=1)", lambda L, x: x.logsumexp(bogus=1)),
    ("x.add(bogus=1)", lambda L, x: x.add(bogus=1)),
    ("x.sum(bogus=1)", lambda L, x: x.sum(bogus=1)),
    ("x.max(bogus=1)", lambda L, x: x.max(bogus=1)),
    ("x.max('a')", lambda L, x: x.max("a")),
    ("x.min([1.0])", lambda L, x: x.min([1.0])),
    ("x.min(0, 0, 0, 0)", lambda L, x: x.min(0, 0, 0, 0)),
    # methods of ``worded``
    ("x.swapaxes(bogus=1)", lambda L, x: x.swapaxes(bogus=1)),
    ("x.swapdims([1])", lambda L, x: x.swapdims([1])),
    ("x.divide_()", lambda L, x: x.divide_()),
    ("x.divide_(bogus=1)", lambda L, x: x.divide_(bogus=1)),
    ("x.transpose('a')", lambda L, x: x.transpose("a")),
    ("x.scatter_add('a')", lambda L, x: x.scatter_add("a")),
    # methods taking a Tensor second (its check after the count of arguments, as PyTorch's)
    ("x.hypot(0, 0, 0)", lambda L, x: x.hypot(0, 0, 0)),
    ("x.kron(0, 0)", lambda L, x: x.kron(0, 0)),
    ("x.minimum(bogus=1)", lambda L, x: x.minimum(bogus=1)),
    ("x.heaviside(bogus=1)", lambda L, x: x.heaviside(bogus=1)),
    ("x.nextafter_(bogus=1)", lambda L, x: x.nextafter_(bogus=1)),
    ("x.ger()", lambda L, x: x.ger()),
    # numpy's names (``numpy_names``)
    ("x.tensor_split(bogus=1)", lambda L, x: x.tensor_split(bogus=1)),
    ("x.squeeze([1.0])", lambda L, x: x.squeeze([1.0])),
    ("x.squeeze_('a')", lambda L, x: x.squeeze_("a")),
    ("x.unsqueeze(bogus=1)", lambda L, x: x.unsqueeze(bogus=1)),
    ("x.cumprod_('a')", lambda L, x: x.cumprod_("a")),
    ("x.slice_scatter(0, 0, 0, 0, 0, 0)", lambda L, x: x.slice_scatter(0, 0, 0, 0, 0, 0)),
    # factories (``out=``)
    ("eye()", lambda L, x: L.eye()),
    ("eye(x, bogus=1)", lambda L, x: L.eye(x, bogus=1)),
    ("randperm()", lambda L, x: L.randperm()),
    ("linspace([1.0])", lambda L, x: L.linspace([1.0])),
    ("logspace('a')", lambda L, x: L.logspace("a")),
    ("full('a')", lambda L, x: L.full("a")),
    # autocast's float32 ops
    ("x.orgqr()", lambda L, x: x.orgqr()),
    ("x.ormqr([1.0])", lambda L, x: x.ormqr([1.0])),
    ("x.triangular_solve('a')", lambda L, x: x.triangular_solve("a")),
    ("x.cholesky(bogus=1)", lambda L, x: x.cholesky(bogus=1)),
    ("x.inverse([1.0])", lambda L, x: x.inverse([1.0])),
    ("x.geqrf(bogus=1)", lambda L, x: x.geqrf(bogus=1)),
    ("x.cholesky_inverse(0, 0)", lambda L, x: x.cholesky_inverse(0, 0)),
    # the functional forms that are PyTorch's C functions
    ("F.avg_pool1d([1.0])", lambda L, x: L.nn.functional.avg_pool1d([1.0])),
    ("F.conv_transpose2d(x, dim='a')",
     lambda L, x: L.nn.functional.conv_transpose2d(x, dim="a")),
    # a wrong second argument, or one too many
    ("float_power(x, dim='a')", lambda L, x: L.float_power(x, dim="a")),
    ("threshold_(x, 1.5)", lambda L, x: L.threshold_(x, 1.5)),
    ("native_layer_norm(x, [1, 2])", lambda L, x: L.native_layer_norm(x, [1, 2])),
    ("native_layer_norm(x, x, x)", lambda L, x: L.native_layer_norm(x, x, x)),
    ("celu_(x, 'a')", lambda L, x: L.celu_(x, "a")),
    ("logit_(x, x, x)", lambda L, x: L.logit_(x, x, x)),
    ("concatenate(x, x, 'a')", lambda L, x: L.concatenate(x, x, "a")),
    ("x.qr(dim='a')", lambda L, x: x.qr(dim="a")),
    ("x.aminmax(1.5)", lambda L, x: x.aminmax(1.5)),
    ("x.index_select([1, 2])", lambda L, x: x.index_select([1, 2])),
    ("x.index_add('a')", lambda L, x: x.index_add("a")),
    ("x.outer(x, x)", lambda L, x: x.outer(x, x)),
    ("x.pinverse(x, 'a')", lambda L, x: x.pinverse(x, "a")),
]

# errors that stand: the op's own in the parser's words, errors of the values, calls whose
# words the table cannot be sure of, and names of other namespaces
KEPT = [
    ("linalg.matrix_power('a', 2)", lambda L, x: L.linalg.matrix_power("a", 2)),
    ("linalg.matrix_power(x, 'a')", lambda L, x: L.linalg.matrix_power(x, "a")),
    ("matrix_power('a', 2)", lambda L, x: L.matrix_power("a", 2)),
    ("hamming_window(5, 'a')", lambda L, x: L.hamming_window(5, "a")),
    ("hamming_window()", lambda L, x: L.hamming_window()),
    ("x.add(None)", lambda L, x: x.add(None)),
    ("add(x, None)", lambda L, x: L.add(x, None)),
    ("x.atan2(None)", lambda L, x: x.atan2(None)),
    ("atan2(x, 2)", lambda L, x: L.atan2(x, 2)),
    ("cumsum(x, None)", lambda L, x: L.cumsum(x, None)),
    ("cumsum(x, dim=None)", lambda L, x: L.cumsum(x, dim=None)),
    ("softmax(x, None)", lambda L, x: L.softmax(x, None)),
    ("diag(x, None)", lambda L, x: L.diag(x, None)),
    ("layer_norm(x, [3], 'a')", lambda L, x: L.layer_norm(x, [3], "a")),
    ("cat([x, 1])", lambda L, x: L.cat([x, 1])),
    ("x.sum(1, out=x)", lambda L, x: x.sum(1, out=x)),
    ("zeros(2, out=[1])", lambda L, x: L.zeros(2, out=[1])),
    ("sin(x, out=1)", lambda L, x: L.sin(x, out=1)),
    ("x.clamp('a')", lambda L, x: x.clamp("a")),
    ("x.view('a')", lambda L, x: x.view("a")),
    ("x.det() of a 2x3", lambda L, x: x.det()),
    # a wrapper inside another (the function's, around the method's): the function's words
    ("cholesky_inverse(x, x, x)", lambda L, x: L.cholesky_inverse(x, x, x)),
    ("pinverse(x, x, 'a')", lambda L, x: L.pinverse(x, x, "a")),
    ("x.cholesky() of a 2x3", lambda L, x: L.cholesky(x)),
    ("native_group_norm of None weights", lambda L, x: L.native_group_norm(
        x.reshape(1, 2, 3), None, None, 1, 2, 3, 1, 1e-5)[0].sum().item()),
]


def _outcome(lib, call):
    try:
        result = call(lib, _x(lib))
    except Exception as exc:            # noqa: BLE001 (compared with torch's)
        return type(exc).__name__, str(exc)
    return "returned", result


@pytest.mark.parametrize("call", [c for _, c in CASES], ids=[n for n, _ in CASES])
def test_refused_in_the_parsers_words(call):
    expected = _outcome(torch, call)
    assert expected[0] == "TypeError"
    assert _outcome(minigrad, call) == expected


@pytest.mark.parametrize("call", [c for _, c in KEPT], ids=[n for n, _ in KEPT])
def test_other_errors_stand(call):
    expected = _outcome(torch, call)
    got = _outcome(minigrad, call)
    if expected[0] == "returned":
        assert got[0] == "returned"
        assert got[1] == pytest.approx(expected[1], rel=1e-5)
    elif expected[0] == "RuntimeError":      # (the values' errors: minigrad's own words)
        assert got[0] == "RuntimeError"
    else:
        assert got == expected


def test_calls_that_work_are_unchanged():
    for lib in (torch, minigrad):
        x = _x(lib)
        assert x.add(x).tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
        assert lib.atan2(x, x).shape == (2, 3)
        assert x.hypot(x).shape == (2, 3)
        assert lib.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
        assert x.squeeze(axis=0).shape == (2, 3)
