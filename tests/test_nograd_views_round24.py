"""Views made with grad mode off (no_grad, inference_mode) of a tensor that requires grad,
after their memory is written in place: reading their history raises, as in PyTorch."""
import pytest
import torch

import minigrad

LIBS = (torch, minigrad)


def _outcome(fn):
    try:
        out = fn()
    except RuntimeError as e:
        return ("RuntimeError", str(e))
    if isinstance(out, (torch.Tensor, minigrad.Tensor)):
        return ("tensor", out.requires_grad)
    return ("value", out if out is None or isinstance(out, bool) else type(out).__name__)


def _stale(lib, leaf=False, write="base_grad", make="slice", ctx="no_grad"):
    a = lib.arange(4.0).requires_grad_()
    if not leaf:
        a = a.clone()
    with (lib.inference_mode() if ctx == "inference" else lib.no_grad()):
        v = {"slice": lambda: a[:2], "t": lambda: a.view(4, 1).t(), "unsqueeze":
             lambda: a.unsqueeze(0), "view": lambda: a.view(2, 2), "split":
             lambda: a.split(2)[0], "diag": lambda: a.view(2, 2).diagonal()}[make]()
    if write == "base_grad":
        a.mul_(2)
    elif write == "base_nograd":
        with lib.no_grad():
            a.mul_(2)
    elif write == "view_nograd":
        with lib.no_grad():
            v.mul_(2)
    elif write == "detach":
        a.detach().add_(1)
    elif write == "other_view":
        w = a[1:]
        w.mul_(2)
    elif write == "data":
        a.data.add_(1)
    elif write == "inference":
        with lib.inference_mode():
            a.mul_(2)
    return a, v


READS = {
    "requires_grad": lambda v: v.requires_grad,
    "grad_fn": lambda v: v.grad_fn,
    "is_leaf": lambda v: v.is_leaf,
    "grad": lambda v: v.grad,
    "mul": lambda v: v * 2,
    "sum_backward": lambda v: v.sum().backward(),
    "view": lambda v: v[:1],
    "detach": lambda v: v.detach(),
    "version": lambda v: v._version,
    "mul_": lambda v: v.mul_(2),
    "retains_grad": lambda v: v.retains_grad,
}

CASES = [dict(), dict(write="base_nograd"), dict(write="view_nograd"),
         dict(leaf=True, write="base_nograd"), dict(write="detach"), dict(write="other_view"),
         dict(write="data"), dict(write="inference"), dict(write=None),
         dict(make="t"), dict(make="unsqueeze"), dict(make="view"), dict(make="split"),
         dict(make="diag"), dict(ctx="inference"), dict(ctx="inference", write="base_nograd")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items())
                         or "default")
def test_reads_after_write(case):
    for name, read in READS.items():
        got = [_outcome(lambda: read(_stale(lib, **case)[1])) for lib in LIBS]
        assert got[0] == got[1], (name, got)


def test_reads_under_no_grad():
    for lib in LIBS:
        _, v = _stale(lib)
        with lib.no_grad():
            assert not (v * 2).requires_grad
            assert v[:1].requires_grad
            w = v[:1]
        assert w.grad_fn is None            # made after the write: not stale
        with lib.inference_mode():
            assert not (v * 2).requires_grad


@pytest.mark.parametrize("op", ["setitem", "add_", "clamp_", "relu_", "sigmoid_", "pow_",
                                "fill_", "zero_", "copy_", "masked_fill_"])
def test_write_into_stale_view_under_no_grad(op):
    vals = []
    for lib in LIBS:
        _, v = _stale(lib)
        with lib.no_grad():
            {"setitem": lambda: v.__setitem__(0, 3.0), "add_": lambda: v.add_(1),
             "clamp_": lambda: v.clamp_(0, 1), "relu_": lambda: v.relu_(),
             "sigmoid_": lambda: v.sigmoid_(), "pow_": lambda: v.pow_(2),
             "fill_": lambda: v.fill_(2), "zero_": lambda: v.zero_(),
             "copy_": lambda: v.copy_(lib.ones(2)),
             "masked_fill_": lambda: v.masked_fill_(lib.tensor([True, False]), 1.0)}[op]()
        vals.append(v.detach().numpy().tolist())
        with pytest.raises(RuntimeError, match="created in no_grad mode"):
            v.grad_fn
    assert vals[0] == pytest.approx(vals[1])


def test_not_stale_cases_keep_working():
    for lib in LIBS:
        a = lib.arange(3.0, requires_grad=True).clone()
        a.mul_(2)                           # written before the view was made
        with lib.no_grad():
            v = a[:2]
        assert v.grad_fn is None and v.requires_grad and v.is_leaf
        (v * 2).sum().backward()            # the gradient goes nowhere
        assert v.grad is None
        b = lib.arange(3.0)                 # a base that requires no grad
        with lib.no_grad():
            w = b[:2]
        b.mul_(2)
        assert w.grad_fn is None and not w.requires_grad
        c = lib.arange(3.0, requires_grad=True)
        with lib.no_grad():
            x = c[:2]
        c.requires_grad_(False)             # the base no longer requires grad
        with lib.no_grad():
            c.mul_(2)
        assert x.grad_fn is None


@pytest.mark.parametrize("ctx", ["no_grad", "inference"])
@pytest.mark.parametrize("write", ["grad", "no_grad"])
def test_view_of_nograd_view_in_grad_mode(ctx, write):
    msgs = []
    for lib in LIBS:
        a = lib.arange(4.0, requires_grad=True).clone()
        with (lib.inference_mode() if ctx == "inference" else lib.no_grad()):
            v = a[:2]
        u = v.unsqueeze(0).t()
        assert u.requires_grad and u.grad_fn is not None and not u.is_leaf
        assert isinstance(u, lib.Tensor) and type(v).__name__ == "Tensor"
        with pytest.raises(RuntimeError) as direct:
            u.mul_(2)
        if write == "grad":
            a.mul_(2)
        else:
            with lib.no_grad():
                a.mul_(2)
        with pytest.raises(RuntimeError) as use:
            u * 2
        with pytest.raises(RuntimeError) as read:
            u.grad_fn
        msgs.append((str(direct.value), str(read.value), str(use.value)))
    assert msgs[0] == msgs[1]


def test_checked_view_pickles_and_copies_as_tensor():
    import copy
    import pickle
    a = minigrad.arange(3.0, requires_grad=True).clone()
    with minigrad.no_grad():
        v = a[:2]
    for c in (pickle.loads(pickle.dumps(v)), copy.deepcopy(v)):
        assert type(c) is minigrad.Tensor and c.requires_grad and c.grad_fn is None
        (c * 2).sum().backward()            # a fresh leaf: its gradient is kept
        assert c.grad.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("stale", [False, True])
def test_requires_grad_false_and_retain_grad(stale):
    got = []
    for lib in LIBS:
        a = lib.arange(3.0, requires_grad=True).clone()
        with lib.no_grad():
            v = a[:2]
        if stale:
            a.mul_(2)
        v.retain_grad()                     # a leaf: nothing to do, nothing read
        assert v.requires_grad_(False) is v
        got.append((v.requires_grad, _outcome(lambda: v * 2)))
    assert got[0] == got[1]


@pytest.mark.parametrize("make", ["split", "chunk", "unbind", "slice_of_split"])
@pytest.mark.parametrize("write", ["base", "sibling"])
def test_several_views_after_recorded_write(make, write):
    got = []
    for lib in LIBS:
        a = lib.arange(4.0, requires_grad=True).clone()
        parts = {"split": lambda: a.split(2), "chunk": lambda: a.chunk(2), "unbind":
                 lambda: a.unbind(), "slice_of_split": lambda: [p[:1] for p in a.split(2)]}[make]()
        if write == "base":
            a.mul_(2)
        else:
            a[-1:].mul_(2)
        got.append([_outcome(lambda: parts[0].grad_fn), _outcome(lambda: parts[0] * 2),
                    _outcome(lambda: parts[0].requires_grad)])
    assert got[0] == got[1]


def test_inference_view_direct_write_message():
    msgs = []
    for lib in LIBS:
        a = lib.arange(3.0, requires_grad=True).clone()
        with lib.inference_mode():
            v = a[:2]
        with pytest.raises(RuntimeError) as e:
            v.mul_(2)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1] and "inference mode" in msgs[0]


def test_missing_attribute_still_attribute_error():
    t = minigrad.ones(2)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        t.nope
    assert getattr(t, "nope", 5) == 5 and not hasattr(t, "nope")


@pytest.mark.parametrize("write", ["base_grad", "base_nograd", "data"])
def test_printing_a_view_whose_history_went_stale(write):
    """PyTorch prints a stale view's history as grad_fn=<Invalid> (repr and str do not raise;
    a write through .data leaves the view's history as it was)."""
    shown = [repr(_stale(lib, write=write)[1]).split(", ", 2)[-1] for lib in LIBS]
    assert shown[0] == shown[1]
    v = _stale(minigrad, write=write)[1]
    assert str(v) == repr(v)
