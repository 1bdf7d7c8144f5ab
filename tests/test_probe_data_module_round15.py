"""nn.Module API corners found to differ from PyTorch by side-by-side probes, now matched.

``requires_grad_`` takes a bool only; one module cannot mix the old and the full backward
hooks; ``Module.__init__`` reports surplus arguments in Python's words; ``to(device, dtype,
non_blocking)`` takes the flag positionally; an ``always_call`` forward hook also runs when a
pre-hook or another forward hook raises (with the output so far); ModuleList / ModuleDict
called raise PyTorch's "missing forward" error; ParameterDict keys must be strings; full
backward hooks are skipped (with PyTorch's warning) for a list or dict output.  DataLoader:
``prefetch_factor`` defaults to 2 with workers and may not be negative; ``timeout`` needs
workers.
Every test runs the same code on torch and on minigrad and compares the two.
"""
import warnings

import numpy as np
import pytest
import torch

import minigrad


LIBS = (torch, minigrad)


def _outcome(fn, L):
    """("ok", value) or ("raise", exception type name, message)."""
    try:
        return ("ok", fn(L))
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return ("raise", type(e).__name__, str(e))


def _same(fn):
    t, m = (_outcome(fn, L) for L in LIBS)
    assert t == m
    return t


@pytest.mark.parametrize("value", [1, 0, None, 1.0])
def test_module_requires_grad_needs_bool(value):
    out = _same(lambda L: L.nn.Linear(1, 1).requires_grad_(value))
    assert out[0] == "raise" and out[1] == "TypeError" and "must be bool" in out[2]


def test_module_requires_grad_bool_still_works():
    def run(L):
        m = L.nn.Linear(1, 1)
        return m.requires_grad_(False) is m, [p.requires_grad for p in m.parameters()]
    assert _same(run) == ("ok", (True, [False, False]))


@pytest.mark.parametrize("first_full", [True, False])
def test_mixing_backward_hook_kinds_raises(first_full):
    def run(L):
        m = L.nn.Linear(1, 1)
        full, old = m.register_full_backward_hook, m.register_backward_hook
        first, second = (full, old) if first_full else (old, full)
        first(lambda *a: None).remove()          # removing does not undo the choice
        second(lambda *a: None)
    out = _same(run)
    assert out[0] == "raise" and out[1] == "RuntimeError" and "Cannot use both" in out[2]


def test_backward_pre_hook_goes_with_old_hook():
    def run(L):
        m = L.nn.Linear(2, 1)
        m.register_backward_hook(lambda *a: None)
        m.register_backward_hook(lambda *a: None)
        m.register_full_backward_pre_hook(lambda *a: None)
        x = L.tensor(np.ones((1, 2), np.float32), requires_grad=True)
        m(x).sum().backward()
        return x.grad.shape == (1, 2)
    assert _same(run) == ("ok", True)


@pytest.mark.parametrize("args,kwargs", [((1,), {}), ((), {"foo": 1}), ((1, 2), {"a": 2})])
def test_module_init_surplus_arguments(args, kwargs):
    out = _same(lambda L: L.nn.Module(*args, **kwargs))
    assert out[1] == "TypeError"


def test_module_to_positional_non_blocking():
    def run(L):
        m = L.nn.Linear(1, 1)
        r = m.to("cpu", L.float64, False)
        first = str(m.weight.dtype).split(".")[1]
        m.to("cpu", L.float32, True)
        return r is m, first, str(m.bias.dtype).split(".")[1]
    assert _same(run) == ("ok", (True, "float64", "float32"))


def _always_call_log(L, failing):
    """Run a ReLU whose ``failing`` step ("pre" or "hook") raises; return what the
    always_call forward hook saw."""
    m, log = L.nn.ReLU(), []

    def boom(*args):
        raise KeyError("boom")
    if failing == "pre":
        m.register_forward_pre_hook(boom)
    else:
        m.register_forward_hook(lambda mod, i, o: o * 2)
        m.register_forward_hook(boom)
    m.register_forward_hook(
        lambda mod, i, o: log.append(None if o is None else o.tolist()), always_call=True)
    x = L.tensor(np.array([-1.0, 3.0], np.float32))
    with pytest.raises(KeyError):
        m(x)
    return log


@pytest.mark.parametrize("failing", ["pre", "hook"])
def test_always_call_hook_runs_when_a_hook_raises(failing):
    assert _always_call_log(torch, failing) == _always_call_log(minigrad, failing)
    assert _always_call_log(minigrad, failing) == ([None] if failing == "pre"
                                                   else [[0.0, 6.0]])


def test_always_call_hook_not_run_twice_and_errors_silenced():
    def run(L):
        class Boom(L.nn.Module):
            def forward(self, x):
                return x + 1
        m, log = Boom(), []
        m.register_forward_hook(lambda mod, i, o: log.append("always"), always_call=True)

        def bad(*args):
            raise ValueError("second")
        m.register_forward_hook(bad)

        def bad_always(*args):
            raise IndexError("silenced")
        m.register_forward_hook(bad_always, always_call=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                m(L.ones(1))
            except ValueError as e:
                log.append(str(e))
        log.append(any("silenced" in str(x.message) for x in w))
        return log
    assert _same(run) == ("ok", ["always", "second", True])


@pytest.mark.parametrize("cls", ["ModuleList", "ModuleDict"])
def test_calling_module_containers(cls):
    out = _same(lambda L: getattr(L.nn, cls)()(1))
    assert out[1] == "NotImplementedError"


@pytest.mark.parametrize("op", ["get", "set", "update", "init"])
def test_parameter_dict_non_string_key(op):
    def run(L):
        pd = L.nn.ParameterDict({"a": L.zeros(1)})
        if op == "get":
            return pd[1]
        if op == "set":
            pd[1] = L.zeros(1)
        if op == "update":
            pd.update({2: L.zeros(1)})
        if op == "init":
            L.nn.ParameterDict({3: L.zeros(1)})
    out = _same(run)
    assert out[1] == "TypeError" and "not a string" in out[2]


def test_parameter_dict_delete_missing_key():
    out = _same(lambda L: L.nn.ParameterDict({"a": L.zeros(1)}).__delitem__(1))
    assert out[:2] == ("raise", "KeyError")


def test_parameter_dict_string_keys_still_work():
    def run(L):
        pd = L.nn.ParameterDict({"a": L.zeros(1)})
        pd["b"] = L.ones(2)
        del pd["a"]
        return list(pd.keys()), type(pd["b"]).__name__
    assert _same(run) == ("ok", (["b"], "Parameter"))


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_full_backward_hook_skipped_for_list_or_dict_output(kind):
    def run(L):
        class A(L.nn.Module):
            def forward(self, x):
                return [x * 2, x * 3] if kind == "list" else {"a": x * 2}
        m, log = A(), []
        m.register_full_backward_hook(lambda mod, gi, go: log.append("hook"))
        m.register_full_backward_pre_hook(lambda mod, go: log.append("pre"))
        x = L.tensor(np.array([1.0, 2.0]), requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = m(x)
        first = out[0] if kind == "list" else out["a"]
        first.sum().backward()
        said = [str(x.message) for x in w if "module output should be a Tensor" in str(x.message)]
        return log, len(said), x.grad.tolist()
    assert _same(run) == ("ok", ([], 1, [2.0, 2.0]))


def test_full_backward_hooks_on_retained_graph_run_each_pass():
    def run(L):
        m, log = L.nn.Linear(2, 1), []
        m.register_full_backward_hook(lambda mod, gi, go: log.append(len(go)))
        y = m(L.tensor(np.ones((1, 2), np.float32), requires_grad=True)).sum()
        y.backward(retain_graph=True)
        y.backward()
        return log
    assert _same(run) == ("ok", [1, 1])


def test_backward_pre_hook_wrong_count_message():
    def run(L):
        m = L.nn.ReLU()
        m.register_full_backward_pre_hook(lambda mod, go: (go[0], go[0]))
        L.relu(m(L.tensor(np.array([1.0, 2.0]), requires_grad=True))).sum().backward()
    out = _same(run)
    assert out[:2] == ("raise", "RuntimeError") and "pre hook" in out[2]


def test_dataloader_negative_prefetch_factor():
    out = _same(lambda L: L.utils.data.DataLoader([1, 2], num_workers=1, prefetch_factor=-1))
    assert out[:2] == ("raise", "ValueError") and "non-negative" in out[2]


def test_dataloader_prefetch_factor_default():
    def run(L):
        D = L.utils.data.DataLoader
        return (D([1, 2], num_workers=1).prefetch_factor,
                D([1, 2], num_workers=1, prefetch_factor=3).prefetch_factor,
                D([1, 2]).prefetch_factor)
    assert _same(run) == ("ok", (2, 3, None))


def test_dataloader_timeout_without_workers():
    def run(L):
        loader = L.utils.data.DataLoader([1, 2], timeout=5)
        return [b.tolist() for b in loader]
    out = _same(run)
    assert out[:2] == ("raise", "AssertionError") and "timeout == 0" in out[2]
