"""The ``__torch_function__`` protocol, side by side with PyTorch: Tensor subclasses keep
their class through ops, a subclass's handler sees the public function or method that was
called, Tensor-likes that are not Tensors take over the functions they are passed to, and
the protocol can be switched off."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_function_names import public_name  # noqa: E402


def _subclass(lib):
    class Tagged(lib.Tensor):
        pass
    return Tagged


def _logging(lib, seen):
    class Logged(lib.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            seen.append(func)
            return super().__torch_function__(func, types, args, kwargs)
    return Logged


EXPRESSIONS = {
    "method chain": lambda lib, x: x.exp().sum(0),
    "operators": lambda lib, x: (x * 2 + 1) / 3,
    "function": lambda lib, x: lib.add(x, 1),
    "function of two": lambda lib, x: lib.maximum(x, lib.zeros(2, 3)),
    "plain first": lambda lib, x: lib.ones(2, 3) + x,
    "nn.functional": lambda lib, x: lib.nn.functional.linear(x, lib.ones(4, 3)),
    "indexing": lambda lib, x: x[0],
    "transpose property": lambda lib, x: x.T,
    "list argument": lambda lib, x: lib.cat([x, x]),
    "reduction with indices": lambda lib, x: x.max(1).values,
    "matmul": lambda lib, x: x @ lib.ones(3, 2),
    "reshape": lambda lib, x: x.reshape(3, 2),
    "reflected operators": lambda lib, x: (2 * x, 1 - x, 2 / x, 2 ** x, -x, +x),
    "comparisons": lambda lib, x: (x != 1, x < 2, x >= 0),
    "in place": lambda lib, x: x.clone().__iadd__(1),
}


@pytest.mark.parametrize("case", sorted(EXPRESSIONS))
def test_a_subclass_keeps_its_class(case):
    fn = EXPRESSIONS[case]
    data = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    answers = {}
    for lib in (minigrad, torch):
        cls = _subclass(lib)
        x = lib.tensor(data).as_subclass(cls)
        ys = fn(lib, x)
        answers[lib] = [(type(y).__name__, y.detach().numpy().tolist())
                        for y in (ys if isinstance(ys, tuple) else (ys,))]
    assert answers[minigrad] == answers[torch]


@pytest.mark.parametrize("case", sorted(EXPRESSIONS))
def test_the_handler_sees_the_calls_torch_makes(case):
    fn = EXPRESSIONS[case]
    data = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    calls = {}
    for lib in (minigrad, torch):
        seen = []
        x = lib.tensor(data).as_subclass(_logging(lib, seen))
        fn(lib, x)
        # PyTorch also offers every property read (shape, dtype); minigrad offers those whose
        # value is a tensor, so the comparison leaves the others out
        calls[lib] = [public_name(lib, f) for f in seen
                      if not (public_name(lib, f).endswith("__get__") and
                              public_name(lib, f).split(".")[1] not in ("T", "mT", "data"))]
    assert calls[minigrad] == calls[torch]


def test_modules_offer_the_functional_call():
    for lib in (minigrad, torch):
        seen = []
        lib.manual_seed(0)
        layer = lib.nn.Linear(3, 4)
        x = lib.ones(2, 3).as_subclass(_logging(lib, seen))
        y = layer(x)
        assert [public_name(lib, f) for f in seen] == ["F.linear"]
        assert type(y).__name__ == "Logged"


def test_gradients_flow_through_subclass_results():
    data = np.linspace(-1, 1, 6).reshape(2, 3)
    grads = {}
    for lib in (minigrad, torch):
        leaf = lib.tensor(data, requires_grad=True)
        x = leaf.as_subclass(_subclass(lib))
        y = (x.sin() * x).sum()
        assert type(y).__name__ == "Tagged"
        y.backward()
        grads[lib] = leaf.grad.numpy()
        assert type(leaf.grad) is lib.Tensor
    np.testing.assert_allclose(grads[minigrad], grads[torch], rtol=1e-12)


def test_parameters_and_their_subclasses_give_plain_tensors():
    for lib in (minigrad, torch):
        p = lib.nn.Parameter(lib.ones(2))

        class Mine(lib.nn.Parameter):
            pass
        assert type(p * 2) is lib.Tensor
        assert type(Mine(lib.ones(2)) + 1) is lib.Tensor


def test_disabled_subclass_and_the_context_managers():
    for lib in (minigrad, torch):
        class Quiet(lib.Tensor):
            __torch_function__ = lib._C._disabled_torch_function_impl
        assert type(lib.ones(2).as_subclass(Quiet) + 1) is lib.Tensor
        x = lib.ones(2).as_subclass(_subclass(lib))
        with lib._C.DisableTorchFunctionSubclass():
            assert type(x + 1) is lib.Tensor
        assert type(x + 1).__name__ == "Tagged"
        with lib._C.DisableTorchFunction():
            assert not lib._C._is_torch_function_enabled()
        assert lib._C._is_torch_function_enabled()


def _scalar_tensor_class(lib):
    """The diagonal 'ScalarTensor' of PyTorch's extending guide: not a Tensor, it implements
    torch.mean and torch.add, and declines the rest."""
    handled = {}

    class ScalarTensor:
        def __init__(self, n, value):
            self.n, self.value = n, value

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func not in handled:
                return NotImplemented
            return handled[func](*args, **(kwargs or {}))

    handled[lib.mean] = lambda s, *a, **k: float(s.value) / s.n
    handled[lib.add] = lambda a, b, **k: (a.value * lib.eye(a.n) + b)
    return ScalarTensor


def test_a_tensor_like_takes_over_the_functions_it_implements():
    results = {}
    for lib in (minigrad, torch):
        ScalarTensor = _scalar_tensor_class(lib)
        s = ScalarTensor(3, 2.0)
        results[lib] = (lib.mean(s), lib.add(s, lib.ones(3, 3)).numpy().tolist())
    assert results[minigrad] == results[torch]


def test_a_declined_call_is_refused_in_torchs_words():
    words = {}
    for lib in (minigrad, torch):
        ScalarTensor = _scalar_tensor_class(lib)
        with pytest.raises(TypeError) as info:
            lib.sum(ScalarTensor(3, 2.0))
        words[lib] = str(info.value).replace("minigrad", "torch")
    assert words[minigrad] == words[torch]


def test_types_and_order_of_asking():
    for lib in (minigrad, torch):
        order = []

        class Parent(lib.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                order.append(("Parent", tuple(t.__name__ for t in types)))
                return NotImplemented

        class Child(Parent):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                order.append(("Child", tuple(t.__name__ for t in types)))
                return NotImplemented

        a, b = lib.ones(2).as_subclass(Parent), lib.ones(2).as_subclass(Child)
        with pytest.raises(TypeError, match="Multiple dispatch failed for 'torch.add'"):
            lib.add(a, b)
        assert order == [("Child", ("Child", "Parent")), ("Parent", ("Child", "Parent"))]


def test_overrides_helpers_see_subclasses():
    for lib in (minigrad, torch):
        x = lib.ones(2).as_subclass(_subclass(lib))
        assert lib.overrides.has_torch_function((x,))
        assert not lib.overrides.has_torch_function((lib.ones(2),))
        assert lib.add in lib.overrides.get_overridable_functions()[lib]
        assert lib.zeros in lib.overrides.get_ignored_functions()


def _image_classes(lib):
    """The pattern of torchvision's tensor subclasses: made in ``__new__`` (with keyword
    arguments of their own), a handler that runs ops with the protocol off and gives plain
    Tensors back except for a few ops that keep the class."""
    keep = {lib.Tensor.clone, lib.Tensor.to, lib.Tensor.detach}

    class Wrapped(lib.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            with lib._C.DisableTorchFunctionSubclass():
                out = func(*args, **(kwargs or {}))
            if func in keep and isinstance(args[0], cls):
                return out.as_subclass(cls)
            return out.as_subclass(lib.Tensor) if isinstance(out, cls) else out

    class Boxes(Wrapped):
        def __new__(cls, data, *, format, canvas_size):
            boxes = lib.as_tensor(data, dtype=lib.float32).as_subclass(cls)
            boxes.format, boxes.canvas_size = format, canvas_size
            return boxes

    class Legacy(lib.Tensor):
        def __new__(cls, data, extra):
            return super().__new__(cls, data)

        def __init__(self, data, extra):
            self.extra = extra
    return Boxes, Legacy


def test_subclasses_made_in_their_own_new():
    seen = {}
    for lib in (minigrad, torch):
        Boxes, Legacy = _image_classes(lib)
        b = Boxes([[0, 0, 10, 10]], format="XYXY", canvas_size=(4, 4))
        legacy = Legacy([1.0, 2.0], "kept")
        seen[lib] = (type(b).__name__, b.format, type(b * 2).__name__, type(b.clone()).__name__,
                     type(b.clone()).__name__ == "Boxes" and b.clone().tolist(),
                     type(legacy).__name__, legacy.extra, (legacy * 2).tolist(),
                     type(legacy * 2).__name__)
    assert seen[minigrad] == seen[torch]


def test_an_operator_refused_by_the_handler_is_pythons_refusal():
    words = {}
    for lib in (minigrad, torch):
        x = lib.ones(2).as_subclass(_subclass(lib))
        with pytest.raises(TypeError) as info:
            x + "a"
        words[lib] = str(info.value)
    assert words[minigrad] == words[torch] == \
        "unsupported operand type(s) for +: 'Tagged' and 'str'"


def test_results_are_aliases_in_the_graph():
    names = {}
    for lib in (minigrad, torch):
        leaf = lib.ones(2, requires_grad=True)
        y = leaf.as_subclass(_subclass(lib)) * 2
        names[lib] = (y.grad_fn.name(), y.grad_fn.next_functions[0][0].name(), y._base is None)
    assert names[minigrad] == names[torch]


def _first_lines(lib):
    F, t = lib.nn.functional, lib.ones(2) > 0
    words = []
    for call in (lambda: F.softmax(), lambda: lib.where(cond=t)):
        try:
            call()
        except TypeError as exc:
            words.append(str(exc).splitlines()[0])
    return words


def test_the_first_subclass_changes_no_other_behaviour():
    """In a fresh process: importing minigrad installs nothing; a function taken before the
    first subclass existed still pickles by reference; refusals keep PyTorch's words, before
    the functions have twins and after."""
    import inspect
    import subprocess
    import sys
    code = inspect.getsource(_first_lines) + f"""
import pickle
import minigrad
torch_words = {_first_lines(torch)!r}
assert not minigrad._torch_function._functions_installed      # nothing done at import
F = minigrad.nn.functional
kept = F.relu                                  # taken before any subclass exists
assert _first_lines(minigrad) == torch_words, _first_lines(minigrad)

class Tagged(minigrad.Tensor):
    pass

assert F.relu is not kept and pickle.loads(pickle.dumps(kept)) is kept
assert pickle.loads(pickle.dumps(F.relu)) is F.relu
assert _first_lines(minigrad) == torch_words, _first_lines(minigrad)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
