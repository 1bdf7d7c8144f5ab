"""PyTorch's own bad inputs (the ``error_inputs`` of its OpInfo database) given to minigrad.

Each ``op_db`` entry minigrad exports may list inputs that PyTorch refuses, with the exception
type and a regular expression its message matches. minigrad must refuse each of them with an
exception of that type whose message matches the same expression: not compute a silent answer,
not fail deep inside numpy. Importing ``op_db`` is slow (see tests/test_opinfo_db.py), so this
is a slow test: ``pytest --runslow tests/test_opinfo_errors.py``.
"""
import re
import warnings

import pytest

import minigrad

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

from test_opinfo_db import OPS, _op_id, _to_minigrad  # noqa: E402

pytestmark = pytest.mark.slow


def _samples(op):
    if op.error_inputs_func is None:
        return []
    return list(op.error_inputs("cpu"))


# error inputs minigrad cannot be given, or answers in its own words on purpose:
# - a meta-device tensor (torch.gradient's): minigrad has no meta device;
# - a tensor of 65 dimensions (amax, amin, aminmax): numpy's arrays stop at 64, so minigrad
#   cannot hold one to refuse;
# - a dtype or layout named in a message: minigrad's print as ``minigrad.int64`` where torch's
#   print ``torch.int64`` (the signal windows' "expects float32 or float64 dtypes, got: ...");
#   the rest of the sentence is torch's.
def _tensors(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors(v)]
    if isinstance(x, dict):
        return _tensors(list(x.values()))
    return []


def _unrepresentable(sample):
    tensors = _tensors([sample.input, *sample.args, sample.kwargs])
    return any(t.device.type == "meta" or t.dim() > 64 for t in tensors)


def _sharing(x, bases):
    """The same arguments for minigrad, tensors that share torch storage sharing minigrad's:
    each dense tensor is a view (``as_strided``) of one minigrad tensor per torch storage, so
    an ``out=`` that overlaps an input overlaps it in minigrad too. (Error inputs need no
    gradients, so every tensor may be a view.)"""
    if isinstance(x, torch.Tensor) and x.layout == torch.strided and not x.is_conj() and \
            not x.is_neg() and x.device.type == "cpu" and x.numel():
        storage = x.untyped_storage()
        key = (storage.data_ptr(), x.dtype)
        if key not in bases:
            whole = torch.empty(0, dtype=x.dtype).set_(storage)
            bases[key] = minigrad.tensor(whole.numpy())
        return bases[key].as_strided(tuple(x.shape), x.stride(), x.storage_offset())
    if isinstance(x, (list, tuple)) and not isinstance(x, torch.Size):
        return type(x)(_sharing(v, bases) for v in x)
    if isinstance(x, dict):
        return {k: _sharing(v, bases) for k, v in x.items()}
    # anything else (an empty tensor, which has no storage to share): one torch tensor given
    # twice (cat's empty out, also one of its inputs) stays one minigrad tensor
    return _to_minigrad(x, bases.setdefault("seen", {}))


def _torch_raises(op, sample):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            op.op(sample.input, *sample.args, **sample.kwargs)
        except Exception:  # noqa: BLE001
            return True
    return False


# (expected failures: none now. gather's out of one element, grown in place within its storage
# over the index beside it, is refused after the resize, as torch refuses it; cat's empty out
# that is also one of the inputs is one minigrad tensor in both places, see _sharing)
_RESIZED_ONTO_AN_INPUT = {}


def _names_a_dtype(regex):
    return re.search(r"torch\.(sparse_coo|sparse_csr|strided|[a-z]+\d*)\b", regex) is not None


CASES = [pytest.param(op, fn, i, e, id=f"{_op_id(op)}-{i}", marks=[pytest.mark.xfail(
    strict=True, reason=_RESIZED_ONTO_AN_INPUT[(op.name, i)])] if (op.name, i) in
    _RESIZED_ONTO_AN_INPUT else []) for op, fn in OPS for i, e in enumerate(_samples(op))]


@pytest.mark.parametrize("op, fn, i, error", CASES)
def test_error_input(op, fn, i, error):
    # a fresh copy of the sample: op_db's error inputs may share tensors, which an earlier
    # test's torch call may have resized
    error = _samples(op)[i]
    sample = error.sample_input
    if _unrepresentable(sample):
        pytest.skip("a meta tensor or more than 64 dimensions: minigrad cannot hold one")
    bases = {}
    args = _sharing([sample.input, *sample.args], bases)
    kwargs = _sharing(sample.kwargs, bases)
    if not _torch_raises(op, sample):
        # an error input of another device or build (torch on CPU computes it): minigrad's
        # answer is then checked by the op table, not here
        pytest.skip("torch itself computes this sample on CPU")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as caught:
            fn(*args, **kwargs)
    exc = caught.value
    assert isinstance(exc, error.error_type), \
        f"{type(exc).__name__}: {exc} (torch: {error.error_type.__name__}: {error.error_regex})"
    message = str(exc)
    if _names_a_dtype(error.error_regex):
        message = re.sub(r"\bminigrad\.", "torch.", message)
    assert re.search(error.error_regex, message), \
        f"{message!r} does not match torch's {error.error_regex!r}"
