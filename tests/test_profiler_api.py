"""minigrad.profiler (torch.profiler's API) and minigrad.autograd.profiler, side by side with
PyTorch's: event names and counts, memory, the table's layout, Chrome traces, schedules (which
steps are recorded and when on_trace_ready fires), trace handlers, the legacy profiler."""
import gzip
import json
import os
import re
import warnings
from pathlib import Path

import pytest
import torch as real_torch

import minigrad as torch
from minigrad.autograd import function as _function
from minigrad.layer_profile import Profile

LIBS = [pytest.param(real_torch, id="torch"), pytest.param(torch, id="minigrad")]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _program(lib, **kwargs):
    """A forward under a record_function range, and a backward."""
    a = lib.ones(3, 4, requires_grad=True)
    b = lib.full((3, 4), 2.0)
    with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU], **kwargs) as p:
        with lib.profiler.record_function("model_inference"):
            c = a * b
            d = (c * c).sum()
        d.backward()
    return p


def _by_key(p, **kwargs):
    return {e.key: e for e in p.key_averages(**kwargs)}


# the names minigrad gives as PyTorch does, with PyTorch's counts and allocations
SHARED = ["model_inference", "aten::mul", "aten::sum", "aten::expand", "MulBackward0",
          "SumBackward0", "autograd::engine::evaluate_function: MulBackward0",
          "autograd::engine::evaluate_function: SumBackward0",
          "autograd::engine::evaluate_function: torch::autograd::AccumulateGrad",
          "torch::autograd::AccumulateGrad"]


def test_event_names_counts_and_memory_match_torch():
    ours = _by_key(_program(torch, profile_memory=True))
    theirs = _by_key(_program(real_torch, profile_memory=True))
    for key in SHARED:
        assert key in ours and key in theirs, key
        assert ours[key].count == theirs[key].count, key
    for key in ("aten::mul", "aten::sum"):        # bytes of the results, as PyTorch counts
        assert ours[key].self_cpu_memory_usage == theirs[key].self_cpu_memory_usage, key
        assert ours[key].cpu_memory_usage == theirs[key].cpu_memory_usage, key


@pytest.mark.parametrize("n", [1, 7, 50])
def test_call_count_is_the_number_of_ops_run(n):
    counts = []
    for lib in (real_torch, torch):
        a, b = lib.randn(10), lib.randn(10)
        with lib.profiler.profile() as p:
            for _ in range(n):
                a * b
        counts.append(_by_key(p)["aten::mul"].count)
    assert counts == [n, n]


def test_nesting_parents_self_time_and_shapes():
    for lib in (real_torch, torch):
        p = _program(lib, record_shapes=True)
        events = p.events()
        mul = next(e for e in events if e.name == "aten::mul")
        assert mul.cpu_parent is not None and mul.cpu_parent.name == "model_inference"
        assert mul.input_shapes == [[3, 4], [3, 4]]
        top = next(e for e in events if e.name == "model_inference")
        assert mul in top.cpu_children
        assert top.self_cpu_time_total <= top.cpu_time_total
        assert top.cpu_time_total >= sum(c.cpu_time_total for c in top.cpu_children)
        node = next(e for e in events if e.name == "MulBackward0")
        assert node.cpu_parent.name == "autograd::engine::evaluate_function: MulBackward0"
        ka = p.key_averages()
        assert ka[0].input_shapes == "" and p.key_averages(group_by_input_shape=True)
        total = ka.total_average()
        assert total.key == "Total"
        assert abs(total.self_cpu_time_total - ka.self_cpu_time_total) < 1e-6


def _table_parts(text):
    lines = text.rstrip("\n").split("\n")
    rule = lines[0]
    headers = re.split(r"\s{2,}", lines[1].strip())
    widths = [len(w) for w in rule.split()]
    return lines, rule, headers, widths


@pytest.mark.parametrize("kwargs,grouped", [({}, False), ({"profile_memory": True}, False),
                                            ({"record_shapes": True}, True),
                                            ({"record_shapes": True,
                                              "profile_memory": True}, True)])
def test_table_layout_matches_torch(kwargs, grouped):
    parts = []
    for lib in (real_torch, torch):
        p = _program(lib, **kwargs)
        text = p.key_averages(group_by_input_shape=grouped).table(sort_by="cpu_time_total",
                                                                   row_limit=5)
        parts.append((text, _table_parts(text)))
    (t_text, (t_lines, t_rule, t_head, t_w)), (m_text, (m_lines, m_rule, m_head, m_w)) = parts
    assert m_head == t_head
    # the number columns are 12 wide; the name and shapes columns fit their contents
    assert m_w[1:len(m_w) - grouped] == t_w[1:len(t_w) - grouped]
    assert len(m_lines) == len(t_lines) == 5 + 5   # rule, header, rule, 5 rows, rule, total
    assert m_lines[2] == m_rule and m_lines[-2] == m_rule
    assert m_text.endswith("\n") and t_text.endswith("\n")
    assert re.fullmatch(r"Self CPU time total: [0-9.]+(us|ms|s)", m_lines[-1])
    for line in m_lines[3:-2]:          # every row: right-aligned cells, 2 spaces after each
        assert len(line) == len(m_rule)
    # sorted by the column asked for, descending
    totals = [_us(re.split(r"\s{2,}", line.strip())[4]) for line in m_lines[3:-2]]
    assert totals == sorted(totals, reverse=True)


def _us(text):
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def test_table_name_truncation_and_top_level_like_torch():
    for lib in (real_torch, torch):
        p = _program(lib)
        text = p.key_averages().table(max_name_column_width=10, row_limit=3,
                                      top_level_events_only=True,
                                      sort_by="self_cpu_time_total")
        lines = text.split("\n")
        assert lines[1] == "This report only display top-level ops statistics"
        names = [line[:10] for line in lines[5:8]]
        assert all(len(n.strip()) <= 10 for n in names)
        assert any(n.endswith("...") for n in names)


@pytest.mark.parametrize("lib", LIBS)
def test_chrome_trace_is_valid_json(lib, tmp_path):
    p = _program(lib, record_shapes=True)
    path = tmp_path / "trace.json"
    p.export_chrome_trace(str(path))
    doc = json.loads(path.read_text())
    events = [e for e in doc["traceEvents"] if e.get("ph") == "X"]
    names = {e["name"] for e in events}
    assert {"model_inference", "aten::mul", "MulBackward0"} <= names
    for e in events:
        assert isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float))
        assert e["dur"] >= 0 and "pid" in e and "tid" in e
    mul = next(e for e in events if e["name"] == "aten::mul")
    outer = next(e for e in events if e["name"] == "model_inference")
    assert outer["ts"] <= mul["ts"] and mul["ts"] + mul["dur"] <= outer["ts"] + outer["dur"] + 1
    assert mul["args"]["Input Dims"] == [[3, 4], [3, 4]]


SCHEDULES = [dict(wait=1, warmup=1, active=2, repeat=1),
             dict(wait=1, warmup=1, active=2, repeat=2),
             dict(wait=1, warmup=1, active=2, repeat=0, skip_first=2),
             dict(wait=0, warmup=0, active=1, repeat=2),
             dict(wait=2, warmup=1, active=3, repeat=0),
             dict(wait=5, warmup=1, active=1, repeat=1, skip_first=3, skip_first_wait=1),
             dict(wait=1, warmup=0, active=3)]


@pytest.mark.parametrize("kwargs", SCHEDULES)
def test_schedule_actions_match_torch(kwargs):
    theirs = real_torch.profiler.schedule(**kwargs)
    ours = torch.profiler.schedule(**kwargs)
    assert [ours(i).name for i in range(25)] == [theirs(i).name for i in range(25)]


def _scheduled_run(lib, kwargs, steps, step_at_end=True, acc_events=False):
    """Step i runs i + 1 multiplications; record what each on_trace_ready call sees."""
    a, b = lib.randn(10), lib.randn(10)
    fired = []

    def handler(prof):
        counts = {e.key: e.count for e in prof.key_averages()}
        fired.append((prof.step_num, counts.get("aten::mul", 0),
                       counts.get("ProfilerStep*", 0)))
    with lib.profiler.profile(schedule=lib.profiler.schedule(**kwargs), on_trace_ready=handler,
                              acc_events=acc_events) as p:
        for i in range(steps):
            for _ in range(i + 1):
                a * b
            if step_at_end or i < steps - 1:
                p.step()
    return fired, p.step_num


@pytest.mark.parametrize("kwargs", SCHEDULES)
@pytest.mark.parametrize("steps", [3, 10])
@pytest.mark.parametrize("step_at_end", [True, False])
def test_scheduled_recording_matches_torch(kwargs, steps, step_at_end):
    ours = _scheduled_run(torch, kwargs, steps, step_at_end)
    theirs = _scheduled_run(real_torch, kwargs, steps, step_at_end)
    assert ours == theirs


def test_acc_events_keeps_every_cycle_like_torch():
    kwargs = dict(wait=1, warmup=1, active=2, repeat=2)
    assert _scheduled_run(torch, kwargs, 10, acc_events=True) == \
        _scheduled_run(real_torch, kwargs, 10, acc_events=True)


def test_schedule_argument_checks_and_warmup_warning():
    for lib in (real_torch, torch):
        with pytest.raises(AssertionError, match="Invalid profiler schedule arguments"):
            lib.profiler.schedule(wait=0, warmup=1, active=0)
        with pytest.raises(AssertionError, match="Step must be non-negative"):
            lib.profiler.schedule(wait=0, warmup=1, active=1)(-1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.profiler.schedule(wait=0, warmup=0, active=1)
        assert any("won't be using warmup" in str(w.message) for w in caught)


def test_enums_match_torch():
    assert {k: v.value for k, v in torch.profiler.ProfilerActivity.__members__.items()} == \
        {k: v.value for k, v in real_torch.profiler.ProfilerActivity.__members__.items()}
    assert [a.name for a in torch.profiler.ProfilerAction] == \
        [a.name for a in real_torch.profiler.ProfilerAction]
    assert torch.profiler.ProfilerActivity.CPU in torch.profiler.supported_activities()


@pytest.mark.parametrize("worker,gz", [(None, False), ("w0", False), ("w1", True)])
def test_tensorboard_trace_handler_names_files_as_torch(tmp_path, worker, gz):
    files = []
    for lib in (real_torch, torch):
        out = tmp_path / lib.__name__
        a = lib.randn(4)
        with lib.profiler.profile(schedule=lib.profiler.schedule(wait=0, warmup=1, active=1,
                                                                 repeat=2),
                                  on_trace_ready=lib.profiler.tensorboard_trace_handler(
                                      str(out), worker_name=worker, use_gzip=gz)) as p:
            for _ in range(5):
                a * a
                p.step()
        names = sorted(os.listdir(out))
        files.append([re.sub(r"\.\d+\.", ".N.", n) for n in names])
        for name in names:
            opener = gzip.open if gz else open
            with opener(out / name, "rt") as f:
                doc = json.load(f)
            assert any(e.get("name") == "aten::mul" for e in doc["traceEvents"])
    assert files[0] == files[1] and len(files[0]) == 2


def test_record_function_as_decorator_and_outside_a_profiler():
    counts = []
    for lib in (real_torch, torch):
        @lib.autograd.profiler.record_function("my_block")
        def block(x):
            return x * 2

        x = lib.ones(3)
        block(x)                                  # no profiler: nothing happens
        with lib.autograd.profiler.record_function("outside"):
            x + 1
        with lib.profiler.profile() as p:
            block(x)
            block(x)
        counts.append((_by_key(p)["my_block"].count, _by_key(p)["aten::mul"].count))
    assert counts[0] == counts[1] == (2, 2)


def test_legacy_autograd_profiler_like_torch():
    results = []
    for lib in (real_torch, torch):
        a, b = lib.randn(10), lib.randn(10)
        with lib.autograd.profiler.profile(record_shapes=True, profile_memory=True) as prof:
            for _ in range(3):
                a * b
        ka = prof.key_averages()
        table = prof.key_averages().table(sort_by="self_cpu_time_total")
        results.append((ka[0].key, ka[0].count, _table_parts(table)[2],
                        prof.function_events[0].input_shapes))
        assert "Self CPU time total" in str(prof)
        assert prof.self_cpu_time_total > 0
        with lib.autograd.profiler.profile(enabled=False) as off:
            a * b
        assert off is None                # a disabled profiler gives nothing to read, as torch's
    assert results[0] == results[1]


def test_emit_nvtx_needs_cuda_as_torch():
    if torch.cuda.is_available() or real_torch.cuda.is_available():
        pytest.skip("a GPU is usable here")
    for lib in (real_torch, torch):
        with pytest.raises(AssertionError, match="not compiled with CUDA"):
            with lib.autograd.profiler.emit_nvtx():
                pass
        with lib.autograd.profiler.emit_nvtx(enabled=False):
            lib.ones(2) * 2


def test_slot_is_empty_outside_a_profiler_even_after_an_error():
    assert _function._profiler is None
    with pytest.raises(ZeroDivisionError):
        with torch.profiler.profile():
            torch.ones(2) * 2
            1 / 0
    assert _function._profiler is None
    with torch.profiler.profile() as p:       # the span closed by the error is still complete
        with pytest.raises(RuntimeError):
            torch.ones(2, 3) @ torch.ones(2, 3)
        torch.ones(2) + 1
    assert _function._profiler is None
    assert {"aten::add"} <= set(_by_key(p))


def test_autograd_does_not_import_the_torch_profiler_module():
    """Layering: the autograd layer holds the slot; minigrad.profiler fills it."""
    package = Path(torch.__file__).parent / "autograd"
    upward = re.compile(r"^\s*(from\s+\.\.\s+import\s+.*\bprofiler\b|from\s+\.\.profiler\b|"
                        r"from\s+minigrad\s+import\s+.*\bprofiler\b|"
                        r"(from|import)\s+minigrad\.profiler\b)", re.M)
    for path in package.glob("*.py"):
        assert not upward.search(path.read_text(encoding="utf-8")), path


def test_layer_profile_is_still_minigrad_profile():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5), torch.nn.ReLU())
    p = torch.profile(net, (1, 3, 32, 32), measure=False, verbose=False)
    assert p.total_flops == 940800
    assert isinstance(p, Profile)


def test_custom_function_events_named_as_torch():
    seen = []
    for lib in (real_torch, torch):
        class MyFn(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2

        x = lib.randn(3, requires_grad=True)
        with lib.profiler.profile() as p:
            MyFn.apply(x).sum().backward()
        seen.append(sorted((e.key, e.count) for e in p.key_averages()
                           if "MyFn" in e.key or e.key == "aten::mul"))
    assert seen[0] == seen[1]


def test_start_stop_and_nested_profilers():
    p = torch.profiler.profile()
    p.start()
    torch.ones(2) * 3
    p.step()
    p.stop()
    assert [e.key for e in p.key_averages()] == ["aten::mul"]
    with torch.profiler.profile() as outer:
        torch.ones(2) + 1
        with torch.autograd.profiler.profile() as inner:    # takes over, then gives back
            torch.ones(2) * 2
        torch.ones(2) - 1
    assert [e.key for e in inner.key_averages()] == ["aten::mul"]
    assert [e.key for e in outer.key_averages()] == ["aten::add", "aten::sub"]
    assert _function._profiler is None
