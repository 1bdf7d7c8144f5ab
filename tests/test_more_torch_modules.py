"""The PyTorch modules third-party code imports beside the everyday ones: torch.overrides,
torch.utils.dlpack, torch.storage, torch.utils.benchmark, torch._dynamo and torch.library
(torch.utils.flop_counter: test_more_torch_modules_flops.py), each behaviour run on minigrad
and on torch and compared."""
import importlib
import random
import re
from typing import Optional, Sequence, Union

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = [minigrad, torch]


def _outcome(fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__, str(exc).replace("minigrad", "torch")


@pytest.mark.parametrize("name", ["overrides", "storage", "library", "_dynamo",
                                  "_dynamo.config", "utils.dlpack", "utils.benchmark",
                                  "utils.flop_counter"])
def test_modules_import_and_are_attributes(name):
    module = importlib.import_module(f"minigrad.{name}")
    found = minigrad
    for part in name.split("."):
        found = getattr(found, part)
    assert found is module


# ----------------------------------------------------------------------------------------------
# torch.overrides
# ----------------------------------------------------------------------------------------------
def _overrides_story(lib):
    O = lib.overrides  # noqa: N806
    seen = []

    class Diagonal:
        """A Tensor-like, as in PyTorch's extending guide."""

        def __init__(self, n, value):
            self.n, self.value = n, value

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            seen.append((func.__name__, [t.__name__ for t in types], len(args),
                         sorted(kwargs or {})))
            if func is scale:
                return Diagonal(args[0].n, args[0].value * (kwargs or {}).get("factor", 2))
            return NotImplemented

    class SubDiagonal(Diagonal):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            seen.append(("sub", func.__name__))
            return NotImplemented

    def scale(x, factor=2):
        if O.has_torch_function_unary(x):
            return O.handle_torch_function(scale, (x,), x, factor=factor)
        return x * factor

    def pair(a, b):
        if O.has_torch_function_variadic(a, b):
            return O.handle_torch_function(pair, (a, b), a, b)
        return a + b

    out = [scale(lib.ones(2)).tolist(), scale(Diagonal(3, 1.5), factor=4).value, pair(1, 2)]
    out.append(_outcome(lambda: pair(Diagonal(1, 1), SubDiagonal(1, 1))))
    out.append(seen)

    class Sub(lib.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return "sub"

    param = lib.nn.Parameter(lib.ones(1))
    sub = lib.ones(1).as_subclass(Sub)
    out.append([O.has_torch_function((lib.ones(1), param)), O.has_torch_function([Diagonal(1, 1)]),
                O.has_torch_function(()), O.has_torch_function_variadic(),
                O.has_torch_function_unary(3), O.has_torch_function((sub,))])
    out.append(_outcome(lambda: O.has_torch_function(Diagonal(1, 1))))
    out.append([O.is_tensor_like(lib.ones(1)), O.is_tensor_like(Diagonal(1, 1)),
                O.is_tensor_like(Diagonal), O.is_tensor_like(3), O.is_tensor_like([1])])

    @O.wrap_torch_function(lambda x, y=0: (x,))
    def shifted(x, y=0):
        return x + y
    out.append([shifted(1, 2), _outcome(lambda: shifted(Diagonal(1, 1), 2))])
    return out


def test_overrides_dispatch_as_torch():
    ours, theirs = (_overrides_story(lib) for lib in LIBS)
    assert ours[-1][1][0] == "TypeError" and "no implementation found for" in ours[-1][1][1]
    assert ours == theirs


def test_overrides_names_what_takes_part():
    O = minigrad.overrides  # noqa: N806
    offered = O.get_overridable_functions()
    assert minigrad.add in offered[minigrad] and minigrad.Tensor.sum in offered[minigrad.Tensor]
    assert minigrad.nn.functional.relu in offered[minigrad.nn.functional]
    ignored = O.get_ignored_functions()
    assert minigrad.zeros in ignored and minigrad.tensor in ignored
    assert minigrad.add not in ignored
    assert issubclass(O.BaseTorchFunctionMode, O.TorchFunctionMode)
    assert O.resolve_name(minigrad.Tensor.sum).endswith("sum")


# ----------------------------------------------------------------------------------------------
# torch.utils.dlpack and torch.storage
# ----------------------------------------------------------------------------------------------
def _dlpack_story(lib):
    DL = lib.utils.dlpack  # noqa: N806
    out = [DL.from_dlpack is lib.from_dlpack]
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = DL.from_dlpack(a)
    t[0, 0] = 100
    out.append((float(a[0, 0]), str(t.dtype).split(".")[-1], tuple(t.shape)))
    capsule = DL.to_dlpack(t)
    again = DL.from_dlpack(capsule)
    again[0, 1] = -1
    out.append((float(t[0, 1]), float(a[0, 1])))
    out.append(_outcome(lambda: DL.from_dlpack(capsule)))        # used up
    out.append(_outcome(lambda: DL.from_dlpack([1, 2])))
    grad = DL.from_dlpack(DL.to_dlpack(lib.ones(2, requires_grad=True)))
    out.append((grad.tolist(), grad.requires_grad))
    out.append(_outcome(lambda: lib.ones(2, requires_grad=True).__dlpack__()))
    b = np.arange(3.0)
    DL.from_dlpack(b, copy=True)[0] = 5
    DL.from_dlpack(b, device="cpu")[1] = 6
    out.append(b.tolist())
    back = np.from_dlpack(t)
    back[1, 1] = 7
    out.append(float(t[1, 1]))
    out.append([(m.name, int(m)) for m in DL.DLDeviceType])
    return out


def test_dlpack_shares_memory_as_torch():
    assert _dlpack_story(minigrad) == _dlpack_story(torch)


def test_dlpack_capsules_cross_libraries():
    theirs = torch.arange(3.0)
    mine = minigrad.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(theirs))
    mine[2] = 9
    assert theirs.tolist() == [0.0, 1.0, 9.0]
    ours = minigrad.arange(3.0)
    seen = torch.utils.dlpack.from_dlpack(minigrad.utils.dlpack.to_dlpack(ours))
    seen[0] = 4
    assert ours.tolist() == [4.0, 1.0, 2.0]


def test_storage_module_holds_the_storage_classes():
    from minigrad.storage import TypedStorage, UntypedStorage
    assert TypedStorage is minigrad.TypedStorage and UntypedStorage is minigrad.UntypedStorage
    x = minigrad.arange(4.0)
    assert isinstance(x.untyped_storage(), UntypedStorage)
    assert x.untyped_storage().nbytes() == torch.arange(4.0).untyped_storage().nbytes()


# ----------------------------------------------------------------------------------------------
# torch.utils.benchmark
# ----------------------------------------------------------------------------------------------
def _common(lib):
    return importlib.import_module("torch.utils.benchmark.utils.common" if lib is torch
                                   else "minigrad.utils.benchmark.common")


def _measurements(lib):
    common, rng = _common(lib), random.Random(0)
    found = []
    for label in ("add", "mul"):
        for threads in (1, 4):
            for sub in ("small", "large"):
                for desc in ("float32", "float64"):
                    base = {"small": 3e-6, "large": 4.2e-4}[sub] / threads
                    base *= 1.7 if desc == "float64" else 1
                    spread = 0.3 if sub == "large" else 0.02
                    times = [base * 100 * (1 + rng.random() * spread) for _ in range(7)]
                    spec = common.TaskSpec("x + y", "pass", label=label, sub_label=sub,
                                           description=desc, num_threads=threads)
                    found.append(common.Measurement(100, times, spec))
    spec = common.TaskSpec("x + y", "pass", label="add", sub_label="odd",
                           description="float32")
    found.append(common.Measurement(100, [5e-4], spec))
    multi = common.TaskSpec("for i in range(3):\n  pass", "a = 1\nb = 2", sub_label="s")
    found.append(common.Measurement(10, [1e-3, 2e-3, 1.5e-3, 1.2e-3, 3e-3], multi))
    envs = [common.Measurement(10, [1e-3 * (1 + i / 10)], common.TaskSpec(
        "x", "pass", label="e", sub_label=f"s{i % 2}", env=f"env{i // 2}", description="d"))
        for i in range(4)]
    return found, envs


def _benchmark_text(lib):
    B = importlib.import_module(f"{lib.__name__}.utils.benchmark")  # noqa: N806
    found, envs = _measurements(lib)
    out = ["\n".join(repr(m).splitlines()[1:]) for m in found[:3] + found[-2:]]
    m = found[5]
    out.append([m.times[:2], m.significant_figures, m.has_warnings, m.meets_confidence(0.05),
                m.title, m.as_row_name, m.env, m.num_threads, m.number_per_run])
    out.append([round(v / m.median, 9) for v in (m.median, m.mean, m.iqr)])
    table = B.Compare(found[:-1])
    out.append(str(table))
    table.trim_significant_figures()
    out.append(str(table))
    table.highlight_warnings()
    out.append(str(table))
    table.colorize()
    out.append(str(table))
    rowwise = B.Compare(found[:4])
    rowwise.colorize(rowwise=True)
    out.append(str(rowwise))
    out.append(str(B.Compare(envs)))
    out.append([B.select_unit(t) for t in (3e-10, 2e-8, 5e-6, 1e-3, 0.5, 20.0)])
    out.append(B.ordered_unique([3, 1, 3, 2]))
    out.append(_outcome(lambda: B.Compare([1])))
    merged = _common(lib).Measurement.merge([found[0], found[0]])
    out.append([len(merged), len(merged[0].times), merged[0].number_per_run])
    return out


def test_measurement_and_compare_print_as_torch():
    ours, theirs = _benchmark_text(minigrad), _benchmark_text(torch)
    assert ours == theirs


def test_trim_sigfig_as_torch():
    # (torch.utils.benchmark is a submodule torch does not import itself: name it, so the
    # test does not depend on another test having imported it first)
    ours, theirs = (importlib.import_module(f"{lib.__name__}.utils.benchmark")
                    for lib in (minigrad, torch))
    for x, n in ((3.14159, 2), (0.0123456, 3), (987.654, 1), (1.0, 4)):
        assert ours.trim_sigfig(x, n) == pytest.approx(theirs.trim_sigfig(x, n), rel=1e-6)


def _timer_story(lib):
    B = lib.utils.benchmark  # noqa: N806
    calls = []
    t = B.Timer(stmt="\n    z = x + y\n", setup="y = 2", globals={"x": lib.ones(3)}, label="add",
                sub_label="ones", description="d1", num_threads=1)
    one = t.timeit(50)
    blocked = t.blocked_autorange(callback=lambda n, s: calls.append((n, s)), min_run_time=0.02)
    adaptive = t.adaptive_autorange(threshold=0.5, max_run_time=0.2)
    default_torch = B.Timer("torch.ones(2).sum()").timeit(5)
    out = []
    for m in (one, blocked, adaptive, default_torch):
        assert all(s > 0 for s in m.raw_times) and m.median > 0 and m.mean > 0 and m.iqr >= 0
        assert min(m.times) <= m.median <= max(m.times)
        assert m.times == pytest.approx([s / m.number_per_run for s in m.raw_times])
        lines = repr(m).splitlines()
        out.append([re.sub(r"[0-9.]+ (ns|us|ms|s)\b", "T", line) for line in lines[1:]])
    assert one.number_per_run == 50 and len(one.times) == 1
    assert len(calls) == len(blocked.times) and all(n == blocked.number_per_run
                                                     for n, _ in calls)
    assert sum(s for _, s in calls) >= 0.02
    assert len(adaptive.times) >= 4 or sum(adaptive.raw_times) > 0.2
    out.append([one.task_spec.stmt, one.task_spec.setup, one.title, one.description])
    out.append(_outcome(lambda: B.Timer(stmt=len)))
    out.append(_outcome(lambda: B.Timer("pass", global_setup="int x = 1;")))
    out.append(_outcome(lambda: t.autorange()))
    out.append(_outcome(lambda: t.repeat()))
    return out


def test_timer_measures_as_torch():
    ours, theirs = _timer_story(minigrad), _timer_story(torch)
    # the block counts and so the per-block lines depend on the speed measured: compare the
    # shapes of the one-block measurements and everything that is not a time
    assert ours[0] == theirs[0] and ours[3] == theirs[3]
    assert ours[1][:3] == theirs[1][:3] and ours[2][:3] == theirs[2][:3]
    assert ours[4:] == theirs[4:]


# ----------------------------------------------------------------------------------------------
# torch._dynamo
# ----------------------------------------------------------------------------------------------
def _dynamo_story(lib):
    D = lib._dynamo  # noqa: N806
    C = D.config  # noqa: N806
    mine = minigrad._dynamo.config
    out = [{k: getattr(C, k) for k in sorted(mine.get_config_copy())}]
    out.append((C.cache_size_limit, C.accumulated_cache_size_limit))
    C.cache_size_limit = 64
    out.append(C.recompile_limit)
    C.recompile_limit = 8
    out.append(_outcome(lambda: C.not_a_setting))
    out.append(_outcome(lambda: setattr(C, "not_a_setting", 1)))
    out.append(_outcome(lambda: C.patch(not_a_setting=1).__enter__()))
    out.append(_outcome(lambda: C.patch("suppress_errors")))
    with C.patch(suppress_errors=True):
        out.append(C.suppress_errors)
    out.append(C.suppress_errors)

    @C.patch("verbose", True)
    def read():
        return C.verbose
    out.append((read(), C.verbose))
    patch = C.patch({"capture_scalar_outputs": True})
    out.append([patch.__enter__(), C.capture_scalar_outputs])
    patch.__exit__(None, None, None)
    out.append(C.capture_scalar_outputs)
    out.append(importlib.import_module(f"{lib.__name__}._dynamo.config") is C)
    x = lib.ones(3)
    out.append([D.reset(), D.is_compiling(), D.mark_dynamic(x, 0), D.mark_static(x),
                D.maybe_mark_dynamic(x, 0), D.graph_break()])
    out.append(D.disable(lambda v: v + 1)(x).tolist())
    return out


def test_dynamo_config_and_names_as_torch():
    assert _dynamo_story(minigrad) == _dynamo_story(torch)


def test_dynamo_optimize_runs_eagerly_as_compile():
    D = minigrad._dynamo  # noqa: N806
    assert D.disable is minigrad.compiler.disable and D.reset is minigrad.compiler.reset
    assert D.is_compiling is minigrad.compiler.is_compiling
    x = minigrad.ones(3)
    assert minigrad._dynamo.optimize("eager")(lambda v: v * 2)(x).tolist() == [2.0] * 3
    assert minigrad._dynamo.optimize(disable=True)(len) is len
    model = minigrad.nn.Linear(2, 2)
    compiled = minigrad._dynamo.optimize("inductor")(model)
    assert isinstance(compiled, minigrad._dynamo.OptimizedModule)
    assert compiled._orig_mod is model


# ----------------------------------------------------------------------------------------------
# torch.library
# ----------------------------------------------------------------------------------------------
def _schema_story(lib):
    L = lib.library  # noqa: N806
    Tensor = lib.Tensor  # noqa: N806

    def many(x: Tensor, n: int, f: float, b: bool, s: str, o: Optional[Tensor] = None,
             m: Optional[list[int]] = None, *, k: float = 2.0, d: lib.dtype = lib.float32,
             dev: lib.device = "cpu", on: Optional[int] = None, st: str = "hi",
             sc: Union[int, float, bool] = 3) -> tuple[Tensor, Tensor]:
        return x, x

    def lists(x: Tensor, y: list[Tensor], z: Tensor, w: Optional[Tensor],
              v: Sequence[float]) -> list[Tensor]:
        return [z]

    def counts(x: Tensor, y: Tensor) -> int:
        return 1

    def mixed(x: Tensor) -> tuple[Tensor, int, float, bool]:
        return x, 1, 1.0, True

    def no_return(x: Tensor):
        return x

    def no_hint(x) -> Tensor:
        return x

    def varargs(*x: Tensor) -> Tensor:
        return x[0]

    def tuple_default(x: Tensor, ts: Sequence[Tensor] = ()) -> Tensor:
        return x

    def returns_dict(x: Tensor) -> dict:
        return {}

    cases = [(many, ()), (lists, ["x", "y", "w"]), (counts, "unknown"), (mixed, ()),
             (no_return, ()), (no_hint, ()), (varargs, ()), (tuple_default, ()),
             (counts, ("q",)), (returns_dict, ())]
    out = [_outcome(lambda f=f, m=m: L.infer_schema(f, mutates_args=m).split(" Got func")[0])
           for f, m in cases]
    out.append(_outcome(lambda: L.custom_op("z::c", counts, mutates_args="x")))
    out.append(_outcome(lambda: L.custom_op("nonamespace", counts, mutates_args=())))
    return out


def test_custom_op_schemas_and_refusals_as_torch():
    ours, theirs = _schema_story(minigrad), _schema_story(torch)
    assert ours[:4] == theirs[:4] and ours[-2:] == theirs[-2:]
    for mine, ref in zip(ours[4:-2], theirs[4:-2]):       # the errors: type and first words
        assert mine[0] == ref[0] and mine[1][:60] == ref[1][:60]


def _custom_op_story(lib, ns):
    L = lib.library  # noqa: N806
    Tensor = lib.Tensor  # noqa: N806
    out = []

    @L.custom_op(f"{ns}::mysin", mutates_args=())
    def mysin(x: Tensor) -> Tensor:
        return x.sin()
    out.append((repr(mysin).replace(ns, "ns"), mysin._schema))
    x = lib.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = mysin(x)
    out.append((y.requires_grad, type(y.grad_fn).__name__.replace(ns, "ns")))
    out.append(_outcome(lambda: y.sum().backward()))

    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    def backward(ctx, grad):
        saved, = ctx.saved_tensors
        return grad * saved.cos()
    mysin.register_autograd(backward, setup_context=setup_context)
    mysin(x).sum().backward()
    out.append(np.round(x.grad.numpy(), 6).tolist())
    with lib.no_grad():
        out.append(mysin(x).requires_grad)
    out.append(mysin(x=lib.zeros(2)).tolist())
    out.append(_outcome(lambda: mysin(lib.ones(2), 3)))
    out.append(_outcome(lambda: mysin(3)))

    @L.custom_op(f"{ns}::alias", mutates_args=())
    def alias(x: Tensor) -> Tensor:
        return x[:1]
    out.append(_outcome(lambda: alias(lib.ones(2)))[1].split("): ")[-1])

    @L.custom_op(f"{ns}::inc_", mutates_args={"x"})
    def inc_(x: Tensor) -> None:
        x.add_(1)
    t = lib.zeros(2)
    out.append((inc_(t), t.tolist()))
    out.append(_outcome(lambda: inc_.register_autograd(backward)))

    @L.custom_op(f"{ns}::two", mutates_args=(), device_types="cpu")
    def two(x: Tensor, n: int, *, k: float = 1.0) -> tuple[Tensor, Tensor]:
        return x * n, x + k
    out.append([[v.tolist() for v in two(lib.ones(2), 3)],
                [v.tolist() for v in two(lib.ones(2), 3, k=5.0)]])

    @two.register_kernel("cpu")
    def _(x, n, *, k=1.0):
        return x * 0, x * 0 + k
    out.append([v.tolist() for v in two(lib.ones(2), 3)])
    out.append(_outcome(lambda: two.register_kernel("foo")(backward)))

    @L.custom_op(f"{ns}::prod3", mutates_args=())
    def prod3(x: Tensor, y: Tensor, n: int) -> Tensor:
        return x * y * n

    def grads(ctx, g):
        return g * ctx.y * ctx.n, g * ctx.x * ctx.n, None

    def keep(ctx, inputs, output):
        ctx.x, ctx.y, ctx.n = inputs
    L.register_autograd(f"{ns}::prod3", grads, setup_context=keep)
    a, b = lib.ones(2, requires_grad=True), lib.full((2,), 3.0, requires_grad=True)
    prod3(a, b, 2).sum().backward()
    out.append((a.grad.tolist(), b.grad.tolist()))

    def needs(ctx, g):
        out.append(ctx.needs_input_grad)
        return g * 2
    mysin.register_autograd(needs)
    z = lib.ones(2, requires_grad=True)
    mysin(z).sum().backward()
    out.append(z.grad.tolist())

    @L.custom_op(f"{ns}::pieces", mutates_args=())
    def pieces(x: Tensor) -> list[Tensor]:
        return [x.clone(), x * 2]
    result = pieces(lib.ones(1, requires_grad=True))
    out.append((type(result).__name__, [r.tolist() for r in result]))

    @mysin.register_fake
    def _(x):
        return lib.empty_like(x)
    out.append(callable(L.register_fake(f"{ns}::mysin")(lambda v: v)))
    out.append(_outcome(lambda: L.register_autograd(f"{ns}::nonexistent", grads))[0])
    return out


def test_custom_op_runs_and_differentiates_as_torch():
    ours = _custom_op_story(minigrad, "mg_lib")
    theirs = _custom_op_story(torch, "mg_lib")
    assert ours == theirs

