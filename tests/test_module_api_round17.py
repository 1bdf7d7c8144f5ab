"""nn.Module API corners found to differ from PyTorch by side-by-side probes, now matched.

``named_modules(memo=...)`` takes a set of modules (those in it are skipped); ``float()`` /
``double()`` / ``half()`` / ``bfloat16()`` leave complex tensors alone (``to(dtype)`` does
not); ``Module.to`` refuses more than 4 positional arguments and any ``copy`` argument;
``ModuleList.extend`` / ``+=`` accept any iterable and refuse the rest in PyTorch's words;
errors of the mixin methods name ``Module``; a full backward hook removed between forward and
backward still runs for that call; the legacy type names of bfloat16 and complex tensors in
messages and ParameterDict's repr; spectral_norm records its version in the state dict's
metadata.  Every test runs the same code on torch and on minigrad and compares the two
("torch" in messages reads "minigrad" there).
"""
import pytest
import torch

import minigrad


LIBS = (torch, minigrad)


def _norm(x):
    return x.replace("minigrad", "torch") if isinstance(x, str) else x


def _outcome(fn, L):
    """("ok", value) or ("raise", exception type name, message)."""
    try:
        return ("ok", fn(L))
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return ("raise", type(e).__name__, _norm(str(e)))


def _same(fn):
    t, m = (_outcome(fn, L) for L in LIBS)
    assert t == m
    return t


def test_named_modules_memo_holds_modules():
    def run(L):
        m = L.nn.Sequential(L.nn.ReLU(), L.nn.Sequential(L.nn.Tanh()))
        memo = {m[1]}
        names = [n for n, _ in m.named_modules(memo=memo)]
        return names, len(memo)
    assert _same(run) == ("ok", (["", "0"], 3))


@pytest.mark.parametrize("method", ["float", "double", "half", "bfloat16"])
def test_float_casts_keep_complex_and_integer(method):
    def run(L):
        m = L.nn.Linear(1, 1)
        m.register_buffer("c", L.ones(2, dtype=L.complex64))
        m.register_buffer("i", L.ones(2, dtype=L.int32))
        assert getattr(m, method)() is m
        return str(m.weight.dtype), str(m.c.dtype), str(m.i.dtype)
    out = _same(lambda L: tuple(_norm(s) for s in run(L)))
    assert out[0] == "ok" and out[1][1:] == ("torch.complex64", "torch.int32")


def test_to_dtype_still_casts_complex():
    def run(L):
        m = L.nn.Module()
        m.register_buffer("c", L.ones(2, dtype=L.complex64))
        m.to(L.float64)
        return _norm(str(m.c.dtype))
    assert _same(run) == ("ok", "torch.float64")


@pytest.mark.parametrize("args,kwargs", [
    (("cpu", "float32", False, False, 1), {}),
    (("cpu", "float32", False, True), {}),
    (("cpu", "float32", False, False), {}),
    (("float32", True, True), {}),
    ((), {"copy": False}),
    (("float32",), {"copy": True}),
])
def test_module_to_refuses_copy_and_surplus_args(args, kwargs):
    def run(L):
        a = tuple(getattr(L, x) if x == "float32" else x for x in args)
        L.nn.Linear(1, 1).to(*a, **kwargs)
    assert _same(run)[0] == "raise"


def test_module_to_non_blocking_positional_still_works():
    def run(L):
        m = L.nn.Linear(1, 1)
        return m.to("cpu", L.float64, True) is m, _norm(str(m.weight.dtype))
    assert _same(run) == ("ok", (True, "torch.float64"))


@pytest.mark.parametrize("value", [3, None, 2.5])
def test_module_list_extend_needs_iterable(value):
    out = _same(lambda L: L.nn.ModuleList().extend(value))
    assert out[0] == "raise" and out[1] == "TypeError"


def test_module_list_iadd_needs_iterable():
    def run(L):
        ml = L.nn.ModuleList()
        ml += 3
    assert _same(run)[1:] == ("TypeError", "ModuleList.extend should be called with an "
                                           "iterable, but got int")


@pytest.mark.parametrize("make", ["module", "dict"])
def test_module_list_extend_with_module_or_dict(make):
    # a Module that is not iterable is refused; a ModuleDict gives its keys (strings)
    def run(L):
        src = L.nn.ReLU() if make == "module" else L.nn.ModuleDict({"a": L.nn.ReLU()})
        L.nn.ModuleList().extend(src)
    assert _same(run)[0] == "raise"


def test_module_list_extend_generator_and_sequential():
    def run(L):
        ml = L.nn.ModuleList()
        ml.extend(L.nn.ReLU() for _ in range(2))
        ml.extend(L.nn.Sequential(L.nn.Tanh()))
        return repr(ml)
    assert _same(run)[0] == "ok"


@pytest.mark.parametrize("call", [
    lambda L, m: m.to_empty("cpu"),
    lambda L, m: m.get_submodule(),
    lambda L, m: m.bfloat16(1),
    lambda L, m: m.register_state_dict_pre_hook(),
])
def test_mixin_method_errors_name_module(call):
    out = _same(lambda L: call(L, L.nn.Linear(1, 1)))
    assert out[0] == "raise" and out[2].startswith("Module.")


def test_backward_hook_removed_after_forward_still_runs():
    def run(L):
        log = []
        m = L.nn.ReLU()
        h = m.register_full_backward_hook(lambda mod, gi, go: log.append("full"))
        hp = m.register_full_backward_pre_hook(lambda mod, go: log.append("pre"))
        x = L.ones(2, requires_grad=True)
        y = m(x)
        h.remove()
        hp.remove()
        m.register_full_backward_hook(lambda mod, gi, go: log.append("late"))
        y.sum().backward()
        y2 = m(x)
        y2.sum().backward()
        return log
    assert _same(run) == ("ok", ["pre", "full", "late"])


@pytest.mark.parametrize("dtype", ["bfloat16", "complex64", "complex128", "float16"])
def test_legacy_type_names_in_messages(dtype):
    def run(L):
        m = L.nn.Linear(1, 1)
        m.weight = L.ones(1, 1, dtype=getattr(L, dtype))
    out = _same(run)
    assert out[0] == "raise" and out[1] == "TypeError"


def test_parameter_dict_repr_legacy_names():
    def run(L):
        return repr(L.nn.ParameterDict({
            "a": L.nn.Parameter(L.ones(2, dtype=L.bfloat16)),
            "b": L.nn.Parameter(L.ones(1, dtype=L.complex128))}))
    out = _same(lambda L: _norm(run(L)))
    assert "BFloat16Tensor" in out[1] and "ComplexDoubleTensor" in out[1]


def test_spectral_norm_state_dict_metadata():
    def run(L):
        L.manual_seed(0)
        m = L.nn.Sequential(L.nn.utils.spectral_norm(L.nn.Linear(2, 2)))
        L.nn.utils.spectral_norm(m[0], name="bias")
        sd = m.state_dict()
        return list(sd), dict(sd._metadata)
    out = _same(run)
    assert out[1][1]["0"]["spectral_norm"] == {"weight.version": 1, "bias.version": 1}


def test_remove_spectral_norm_drops_its_state_dict_hook():
    def run(L):
        m = L.nn.utils.spectral_norm(L.nn.Linear(2, 2))
        L.nn.utils.remove_spectral_norm(m)
        sd = m.state_dict()
        return list(sd), dict(sd._metadata), len(m._state_dict_hooks)
    assert _same(run) == ("ok", (["bias", "weight"], {"": {"version": 1}}, 0))


def test_spectral_norm_state_dict_round_trip():
    def run(L):
        L.manual_seed(0)
        a = L.nn.utils.spectral_norm(L.nn.Linear(2, 2))
        b = L.nn.utils.spectral_norm(L.nn.Linear(2, 2))
        keys = b.load_state_dict(a.state_dict())
        a.eval()
        b.eval()
        x = L.ones(1, 2)
        return repr(keys), bool((a(x) == b(x)).all())
    assert _same(run) == ("ok", ("<All keys matched successfully>", True))


@pytest.mark.parametrize("name", ["_parameters", "_buffers", "_modules"])
def test_registries_are_plain_dicts(name):
    def run(L):
        m = L.nn.Sequential(L.nn.BatchNorm1d(2))
        reg = getattr(m[0], name) if name != "_modules" else m._modules
        return type(reg).__name__, type(reg.keys()).__name__, list(reg)
    assert _same(run)[0] == "ok"


def test_module_dict_and_parameter_dict_key_views():
    def run(L):
        md = L.nn.ModuleDict({"b": L.nn.ReLU(), "a": L.nn.Tanh()})
        pd = L.nn.ParameterDict({"b": L.ones(1), "a": L.ones(1)})
        pd.popitem()
        return (type(md.keys()).__name__, type(md.items()).__name__, list(md.keys()),
                type(pd.keys()).__name__, list(pd.keys()), list(reversed(pd)))
    assert _same(run) == ("ok", ("dict_keys", "dict_items", ["b", "a"], "dict_keys", ["a"],
                                 ["a"]))


def test_load_state_dict_bumps_version_even_of_own_values():
    def run(L):
        m = L.nn.Linear(1, 1)
        before = m.weight._version, m.bias._version
        m.load_state_dict(m.state_dict())
        return m.weight._version - before[0], m.bias._version - before[1]
    assert _same(run) == ("ok", (1, 1))


def test_load_state_dict_own_values_then_backward_sees_change():
    # the version bump makes a graph saved before the load refuse to run, as in PyTorch
    def run(L):
        m = L.nn.Linear(2, 1)
        y = (m.weight * m.weight).sum()
        m.load_state_dict(m.state_dict())
        y.backward()
    out = _same(run)
    assert out[0] == "raise" and out[1] == "RuntimeError"


@pytest.mark.parametrize("max_norm", [None, "x"])
def test_clip_grad_norm_max_norm_must_be_a_number(max_norm):
    def run(L):
        p = L.nn.Parameter(L.ones(2))
        p.grad = L.tensor([3.0, 4.0])
        L.nn.utils.clip_grad_norm_([p], max_norm)
    out = _same(run)
    assert out[0] == "raise"


def test_clip_grad_norm_max_norm_checked_without_grads():
    def run(L):
        L.nn.utils.clip_grads_with_norm_([L.nn.Parameter(L.ones(2))], None, L.tensor(1.0))
    assert _same(run)[:2] == ("raise", "TypeError")


@pytest.mark.parametrize("max_norm_tensor", [True, False])
def test_clip_grads_with_norm_number_total(max_norm_tensor):
    def run(L):
        p = L.nn.Parameter(L.ones(2))
        p.grad = L.tensor([3.0, 4.0])
        L.nn.utils.clip_grads_with_norm_([p], L.tensor(1.0) if max_norm_tensor else 1.0, 5.0)
    out = _same(run)
    assert out[:2] == ("raise", "TypeError")


def test_clip_grads_with_norm_tensor_max_norm():
    def run(L):
        p = L.nn.Parameter(L.ones(2))
        p.grad = L.tensor([3.0, 4.0])
        L.nn.utils.clip_grads_with_norm_([p], L.tensor(1.0), L.tensor(5.0))
        return [round(v, 6) for v in p.grad.tolist()]
    assert _same(run)[0] == "ok"


@pytest.mark.parametrize("name", ["get_submodule", "to_empty", "bfloat16",
                                  "register_load_state_dict_post_hook"])
def test_module_methods_pickle_by_reference(name):
    import pickle

    def run(L):
        fn = getattr(L.nn.Module, name)
        return pickle.loads(pickle.dumps(fn)) is fn, fn.__qualname__
    assert _same(run) == ("ok", (True, f"Module.{name}"))


def test_to_empty_refuses_uninitialized_parameters():
    def run(L):
        m = L.nn.LazyLinear(2)
        m.to_empty(device="cpu")
    out = _same(lambda L: _outcome(run, L)[:2])
    assert out == ("ok", ("raise", "ValueError"))


def test_to_empty_after_materialize():
    def run(L):
        m = L.nn.LazyLinear(2)
        m(L.ones(1, 3))
        return m.to_empty(device="cpu") is m, tuple(m.weight.shape), type(m).__name__
    assert _same(run) == ("ok", (True, (2, 3), "Linear"))


def test_call_super_init_hands_arguments_on():
    def run(L):
        class Mix:
            def __init__(self, *a, **k):
                self.mix = (a, k)

        class On(L.nn.Module, Mix):
            call_super_init = True

        class Off(L.nn.Module, Mix):
            pass
        on = On(1, x=2)
        return on.mix, on.training, hasattr(Off(), "mix"), L.nn.Module.call_super_init
    assert _same(run) == ("ok", (((1,), {"x": 2}), True, False, False))


@pytest.mark.parametrize("kwargs", [{}, {"a": 1}])
def test_call_super_init_surplus_arguments_reach_object(kwargs):
    def run(L):
        class M(L.nn.Module):
            call_super_init = True
        M(*(() if kwargs else (1,)), **kwargs)
    assert _same(run)[:2] == ("raise", "TypeError")


def test_global_hook_registries_readable_from_module_module():
    def run(L):
        mm = L.nn.modules.module
        before = len(mm._global_forward_hooks), len(mm._global_forward_pre_hooks)
        h = mm.register_module_forward_hook(lambda *a: None, with_kwargs=True)
        hp = mm.register_module_forward_pre_hook(lambda *a: None)
        try:
            during = (len(mm._global_forward_hooks), len(mm._global_forward_hooks_with_kwargs),
                      len(mm._global_forward_pre_hooks))
        finally:
            h.remove()
            hp.remove()
        return before, during, len(mm._global_forward_hooks)
    assert _same(run) == ("ok", ((0, 0), (1, 1, 1), 0))


def test_prune_importance_scores_shape_message():
    def run(L):
        import importlib
        prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
        L.manual_seed(0)
        prune.l1_unstructured(L.nn.Linear(2, 2), "weight", amount=2,
                              importance_scores=L.ones(3))
    out = _same(run)
    assert out[:2] == ("raise", "AssertionError") and "got torch.Size([3]) vs" in out[2]


@pytest.mark.parametrize("flag", [1, 0, None, 1.0, "yes"])
def test_parameter_requires_grad_must_be_bool(flag):
    out = _same(lambda L: L.nn.Parameter(L.ones(1), flag))
    assert out[:2] == ("raise", "TypeError")


@pytest.mark.parametrize("flag", [True, False])
def test_parameter_requires_grad_bool(flag):
    assert _same(lambda L: L.nn.Parameter(L.ones(1), flag).requires_grad) == ("ok", flag)


def test_lazy_linear_loaded_weights_of_another_width_refuse_the_input():
    """A LazyLinear whose weight came from load_state_dict checks the input's features
    against it before running, in torch's words, and keeps in_features 0 then."""
    outcomes = []
    for lib in (torch, minigrad):
        m = lib.nn.LazyLinear(2)
        m.load_state_dict({"weight": lib.zeros(2, 3), "bias": lib.zeros(2)})
        with pytest.raises(AssertionError) as info:
            m(lib.ones(5, 4))
        outcomes.append((str(info.value), m.in_features, tuple(m(lib.ones(5, 3)).shape),
                         m.in_features))
    assert outcomes[0] == outcomes[1]


_TO_CALLS = [
    "t.to(0)", "t.to(-1)", "t.to(lib.float64, dtype=lib.float32)", "t.to(foo=3)",
    "t.to('cpu', lib.float64, foo=1)", "m.to(0)", "m.to(foo=1)", "t.to(lib.float64, lib.float32)",
    "t.to('cpu', 'cpu')", "t.to(None)", "t.to(t, dtype=lib.float64)", "t.to('cpu', device='cpu')",
    "t.to('cpu', dtype=lib.float64)", "t.to(device='cpu', dtype=lib.float64, copy=True)",
    "m.to('cpu', lib.float64, False)", "t.to(lib.float64, False, True)",
    "m.to(lib.float64, copy=True)", "lib.ones(2, device=0)", "lib.ones(2, device=-1)",
]


@pytest.mark.parametrize("call", _TO_CALLS)
def test_to_arguments_parsed_as_torch_parses_them(call):
    """Tensor.to and Module.to: an int is an accelerator's index (none here), a keyword that
    repeats a positional argument or is unknown fits none of torch's signatures."""
    outcomes = []
    for lib in (torch, minigrad):
        t, m = lib.ones(2), lib.nn.Linear(2, 2)
        try:
            r = eval(call, {"lib": lib, "t": t, "m": m})
            outcomes.append(str(getattr(r, "dtype", type(r).__name__)).split(".")[-1])
        except Exception as e:      # noqa: BLE001  (the type and words are compared)
            outcomes.append((type(e).__name__, str(e)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("fmt", ["channels_last", "channels_last_3d"])
def test_channels_last_of_the_wrong_rank_in_torch_words(fmt):
    messages = []
    for lib in (torch, minigrad):
        x = lib.randn(3, 4)
        row = []
        for call in (lambda: x.contiguous(memory_format=getattr(lib, fmt)),
                     lambda: x.to(memory_format=getattr(lib, fmt))):
            with pytest.raises(RuntimeError) as info:
                call()
            row.append(str(info.value))
        messages.append(row)
    assert messages[0] == messages[1]
