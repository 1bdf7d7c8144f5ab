"""PyTorch's own sample inputs (the OpInfo database, ``op_db``) run on every op minigrad has.

For each ``op_db`` entry whose name minigrad exports (``minigrad.<name>``,
``minigrad.nn.functional.<name>`` or a Tensor method), every float64 sample is run on both
libraries: the outputs and the gradients of a fixed weighted sum must agree, or both must
refuse with the same exception type. Importing ``op_db`` takes PyTorch half a minute (it needs
the ``expecttest`` package), so this is a slow test: ``pytest --runslow tests/test_opinfo_db.py``.
"""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

pytestmark = pytest.mark.slow


def _ops():
    from torch.testing._internal.common_methods_invocations import op_db
    found = []
    for op in op_db:
        if op.variant_test_name or not op.supports_dtype(torch.float64, "cpu"):
            continue
        short = op.name.split(".")[-1]
        if op.name.startswith("nn.functional."):
            fn = getattr(minigrad.nn.functional, short, None)
        else:
            fn = getattr(minigrad, op.name, None) or (
                (lambda name: lambda x, *a, **k: getattr(x, name)(*a, **k))(op.name)
                if hasattr(minigrad.Tensor, op.name) else None)
        if fn is not None:
            found.append((op, fn))
    return found


OPS = _ops() if "--runslow" in " ".join(__import__("sys").argv) else []


def _to_minigrad(x):
    if isinstance(x, torch.Tensor):
        t = minigrad.tensor(x.detach().numpy())
        return t.requires_grad_(True) if x.requires_grad else t
    if isinstance(x, (list, tuple)):
        return type(x)(_to_minigrad(v) for v in x)
    if isinstance(x, torch.dtype):
        return getattr(minigrad, str(x).replace("torch.", ""))
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


def _run(fn, args, kwargs, lib):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = _outputs(fn(*args, **kwargs))
            floating = [o for o in out if o.requires_grad]
            if floating:
                loss = sum((o.to(lib.float64) * lib.tensor(np.cos(np.arange(o.numel())).reshape(
                    tuple(o.shape)))).sum() for o in floating)
                loss.backward()
            return out, None
    except Exception as exc:  # noqa: BLE001
        return None, exc


def check_op(op, fn):
    """(agreements, disagreements) over the op's float64 samples."""
    agree, disagree = 0, []
    for sample in op.sample_inputs("cpu", torch.float64, requires_grad=op.supports_autograd):
        targs = [sample.input, *sample.args]
        margs = _to_minigrad(targs)
        theirs, their_error = _run(op.op, targs, sample.kwargs, torch)
        mine, my_error = _run(fn, margs, _to_minigrad(sample.kwargs), minigrad)
        try:
            if their_error is not None or my_error is not None:
                assert their_error is not None and my_error is not None and \
                    isinstance(my_error, type(their_error)), f"{my_error!r} vs {their_error!r}"
            else:
                assert len(mine) == len(theirs)
                for m, t in zip(mine, theirs):
                    np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(),
                                               rtol=1e-6, atol=1e-9, equal_nan=True)
                for m, t in zip(_leaves(margs), _leaves(targs)):
                    if t.grad is not None:
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
