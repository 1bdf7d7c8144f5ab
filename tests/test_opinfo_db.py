"""PyTorch's own sample inputs (the OpInfo database, ``op_db``) run on every op minigrad has.

For each ``op_db`` entry whose name minigrad exports (``minigrad.<name>``,
``minigrad.nn.functional.<name>`` or a Tensor method), every float64 sample is run on both
libraries: the outputs and the gradients of a fixed weighted sum must agree, or both must
refuse with the same exception type. Importing ``op_db`` takes PyTorch half a minute (it needs
the ``expecttest`` package), so this is a slow test: ``pytest --runslow tests/test_opinfo_db.py``.
"""
import inspect
import types
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

pytestmark = pytest.mark.slow


def _translated(wrapper):
    """op_db wraps many ops in a small lambda written against ``torch`` (``lambda x: x.T``,
    ``lambda self, cond, other: torch.where(cond, self, other)``); the same code with ``torch``
    bound to minigrad is minigrad's side of the sample."""
    scope = dict(wrapper.__globals__, torch=minigrad)
    return types.FunctionType(wrapper.__code__, scope, wrapper.__name__, wrapper.__defaults__,
                              wrapper.__closure__)


def _by_name(name):
    short = name.split(".")[-1]
    if name.startswith("nn.functional."):
        return getattr(minigrad.nn.functional, short, None)
    fn = getattr(minigrad, name, None)
    if callable(fn) and not isinstance(fn, minigrad.dtype):
        return fn
    if hasattr(minigrad.Tensor, name):
        return lambda x, *a, **k: getattr(x, name)(*a, **k)
    return None


def _ops():
    from torch.testing._internal.common_methods_invocations import op_db
    found = []
    for op in op_db:
        if op.variant_test_name or not op.supports_dtype(torch.float64, "cpu"):
            continue
        exported = _by_name(op.name) is not None or (
            op.name in ("T", "mT", "mH", "H") and hasattr(minigrad.Tensor, op.name))
        if not exported:
            continue
        wrapper = op.op
        if inspect.isfunction(wrapper) and wrapper.__module__.startswith("torch.testing"):
            found.append((op, _translated(wrapper)))
        else:
            found.append((op, _by_name(op.name)))
    return found


OPS = _ops() if "--runslow" in " ".join(__import__("sys").argv) else []


def _to_minigrad(x, seen=None):
    """The same arguments for minigrad; one torch tensor passed twice (``stack([a, a])``)
    becomes one minigrad tensor passed twice, so that its gradient adds up the same way."""
    seen = {} if seen is None else seen
    if isinstance(x, torch.Tensor):
        if id(x) not in seen:
            t = minigrad.tensor(x.detach().numpy())
            seen[id(x)] = t.requires_grad_(True) if x.requires_grad else t
        return seen[id(x)]
    if isinstance(x, (list, tuple)):
        return type(x)(_to_minigrad(v, seen) for v in x)
    if isinstance(x, dict):
        return {k: _to_minigrad(v, seen) for k, v in x.items()}
    if isinstance(x, (torch.dtype, torch.memory_format)):
        return getattr(minigrad, str(x).replace("torch.", ""))
    if isinstance(x, torch.device):
        return minigrad.device(str(x))
    return x


def _leaves(x):
    if isinstance(x, (torch.Tensor, minigrad.Tensor)):
        return [x] if x.requires_grad else []
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _leaves(v)]
    return []


def _outputs(out):
    return [o for o in (out if isinstance(out, (list, tuple)) else [out])
            if isinstance(o, (torch.Tensor, minigrad.Tensor))]


def _run(fn, args, kwargs, lib, backward=True):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = _outputs(fn(*args, **kwargs))
            floating = [o for o in out if o.requires_grad and backward]
            if floating:
                loss = sum((o.to(lib.float64) * lib.tensor(np.cos(np.arange(o.numel())).reshape(
                    tuple(o.shape)))).sum() for o in floating)
                loss.backward()
            return out, None
    except Exception as exc:  # noqa: BLE001
        return None, exc


# ops whose outputs are random draws (or uninitialised memory, for empty): minigrad's generator
# is not torch's, so only their shapes and dtypes can be compared
_RANDOM = ("rand", "bernoulli", "normal", "dropout", "empty", "multinomial", "uniform",
           "exponential", "cauchy", "geometric", "poisson", "rrelu")


def _is_random(op, kwargs):
    return any(word in op.name for word in _RANDOM) or kwargs.get("dropout_p", 0) > 0


def _same_meta(m, t):
    assert tuple(m.shape) == tuple(t.shape), f"shape {tuple(m.shape)} vs {tuple(t.shape)}"
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], \
        f"dtype {m.dtype} vs {t.dtype}"


def check_op(op, fn):
    """(agreements, disagreements) over the op's float64 samples."""
    agree, disagree = 0, []
    for sample in op.sample_inputs("cpu", torch.float64, requires_grad=op.supports_autograd):
        targs = [sample.input, *sample.args]
        seen = {}
        margs = _to_minigrad(targs, seen)
        random = _is_random(op, sample.kwargs)
        for t in _leaves(targs):          # op_db may hand the same tensor to several samples
            t.grad = None
        theirs, their_error = _run(op.op, targs, sample.kwargs, torch, backward=not random)
        mine, my_error = _run(fn, margs, _to_minigrad(sample.kwargs, seen), minigrad,
                              backward=not random)
        try:
            if their_error is not None or my_error is not None:
                assert their_error is not None and my_error is not None and \
                    isinstance(my_error, type(their_error)), f"{my_error!r} vs {their_error!r}"
            else:
                assert len(mine) == len(theirs), f"{len(mine)} outputs vs {len(theirs)}"
                for m, t in zip(mine, theirs):
                    _same_meta(m, t)
                    if not random:
                        np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(),
                                                   rtol=1e-6, atol=1e-9, equal_nan=True)
                for m, t in zip(_leaves(margs), _leaves(targs)):
                    if t.grad is not None and not random:
                        got = np.zeros(tuple(t.shape)) if m.grad is None else m.grad.numpy()
                        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-6, atol=1e-9,
                                                   equal_nan=True)
            agree += 1
        except Exception as exc:  # noqa: BLE001
            disagree.append(f"{sample.summary() if hasattr(sample, 'summary') else sample}: "
                            f"{str(exc)[:200]}")
    return agree, disagree


@pytest.mark.parametrize("op, fn", OPS, ids=[op.name for op, _ in OPS])
def test_opinfo_samples(op, fn):
    agree, disagree = check_op(op, fn)
    assert not disagree, f"{op.name}: {agree} samples agree, {len(disagree)} do not:\n" + \
        "\n".join(disagree[:5])
