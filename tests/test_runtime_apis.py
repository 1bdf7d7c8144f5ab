"""The runtime-environment APIs training scripts touch, side by side with PyTorch's CPU build:
``distributed`` (a world of one process, which torch's gloo can form here too), DDP,
``multiprocessing``, ``cuda``'s memory and device queries, and ``compiler``."""
import os
import pickle
import sys
import time

import numpy as np
import pytest

import minigrad
import minigrad.distributed as mdist
import minigrad.multiprocessing as mmp

torch = pytest.importorskip("torch")
from torch_agreement import outcome  # noqa: E402
tdist = pytest.importorskip("torch.distributed")
tmp_mod = pytest.importorskip("torch.multiprocessing")

NO_TORCH_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="compares with torch's "
                                   "answers on a machine without CUDA")
NO_GPU = pytest.mark.skipif(minigrad.cuda.is_available(), reason="checks the no-GPU answers")


def _same_error(mine, theirs, words=True):
    m, t = outcome(mine), outcome(theirs)
    assert m[0] == t[0], (m, t)
    assert m[0] != "ok", m
    if words:
        assert m[1] == t[1], (m, t)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.fixture
def groups(tmp_path):
    """Both worlds of one process formed; destroyed afterwards."""
    tdist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                             world_size=1)
    mdist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store2'}", rank=0,
                             world_size=1)
    yield
    tdist.destroy_process_group()
    if mdist.is_initialized():
        mdist.destroy_process_group()


# --------------------------------------------------------------------------------------------
# distributed: before a group exists
# --------------------------------------------------------------------------------------------
def test_queries_before_init_match_torch():
    assert mdist.is_available() is tdist.is_available() is True
    assert mdist.is_initialized() is tdist.is_initialized() is False
    assert mdist.is_gloo_available() is tdist.is_gloo_available()
    assert mdist.is_mpi_available() is tdist.is_mpi_available()
    assert mdist.group.WORLD is None and tdist.group.WORLD is None
    for name, args in [("get_rank", ()), ("get_world_size", ()), ("get_backend", ()),
                       ("barrier", ()), ("new_group", ())]:
        _same_error(lambda: getattr(mdist, name)(*args), lambda: getattr(tdist, name)(*args))
    _same_error(lambda: mdist.all_reduce(minigrad.ones(2)), lambda: tdist.all_reduce(
        torch.ones(2)))
    _same_error(lambda: mdist.broadcast(minigrad.ones(2), 0),
                lambda: tdist.broadcast(torch.ones(2), 0))
    _same_error(lambda: mdist.all_gather([minigrad.ones(2)], minigrad.ones(2)),
                lambda: tdist.all_gather([torch.ones(2)], torch.ones(2)))
    _same_error(lambda: mdist.all_gather_object([None], 1),
                lambda: tdist.all_gather_object([None], 1))
    _same_error(mdist.destroy_process_group, tdist.destroy_process_group)
    _same_error(lambda: minigrad.nn.parallel.DistributedDataParallel(minigrad.nn.Linear(2, 2)),
                lambda: torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2)))


def test_local_rank_and_torchrun_detection_match_torch(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    _same_error(mdist.get_node_local_rank, tdist.get_node_local_rank)
    assert mdist.get_node_local_rank(3) == tdist.get_node_local_rank(3) == 3
    assert mdist.is_torchelastic_launched() is tdist.is_torchelastic_launched() is False
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    assert mdist.get_node_local_rank() == tdist.get_node_local_rank() == 0
    assert mdist.is_torchelastic_launched() is tdist.is_torchelastic_launched() is True


def test_init_errors_match_torch(monkeypatch, tmp_path):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    _same_error(lambda: mdist.init_process_group("gloo"),
                lambda: tdist.init_process_group("gloo"))
    monkeypatch.setenv("RANK", "0")
    _same_error(lambda: mdist.init_process_group("gloo"),
                lambda: tdist.init_process_group("gloo"))
    url = f"file://{tmp_path / 'x'}"
    _same_error(lambda: mdist.init_process_group("gloo", init_method=url),
                lambda: tdist.init_process_group("gloo", init_method=url))
    _same_error(lambda: mdist.init_process_group("gloo", init_method=url, rank=0),
                lambda: tdist.init_process_group("gloo", init_method=url, rank=0))
    _same_error(lambda: mdist.init_process_group("bogus", init_method=url, rank=0, world_size=1),
                lambda: tdist.init_process_group("bogus", init_method=url, rank=0, world_size=1))
    _same_error(lambda: mdist.init_process_group("mpi", init_method=url, rank=0, world_size=1),
                lambda: tdist.init_process_group("mpi", init_method=url, rank=0, world_size=1),
                words=False)
    if not minigrad.cuda.is_available() and not torch.cuda.is_available():
        _same_error(
            lambda: mdist.init_process_group("nccl", init_method=url, rank=0, world_size=1),
            lambda: tdist.init_process_group("nccl", init_method=url, rank=0, world_size=1))
    assert not mdist.is_initialized() and not tdist.is_initialized()


def test_a_larger_world_is_refused_clearly(monkeypatch):
    with pytest.raises(RuntimeError, match="minigrad runs one process.*world_size 2"):
        mdist.init_process_group("gloo", init_method="tcp://127.0.0.1:1", rank=0, world_size=2)
    with pytest.raises(RuntimeError, match="rank 1"):
        mdist.init_process_group("gloo", init_method="file:///nowhere", rank=1, world_size=1)
    for name, value in {"RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(name, value)         # what torchrun --nproc-per-node 4 sets
    with pytest.raises(RuntimeError, match="minigrad runs one process.*world_size 4"):
        mdist.init_process_group("gloo")
    assert not mdist.is_initialized()


def test_env_init_as_torchrun_sets_it(monkeypatch):
    import socket
    with socket.socket() as s:                  # a free loopback port for torch's store
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)
    tdist.init_process_group("gloo")
    mdist.init_process_group("gloo")
    try:
        assert mdist.get_rank() == tdist.get_rank() == 0
        assert mdist.get_world_size() == tdist.get_world_size() == 1
        assert mdist.get_backend() == tdist.get_backend() == "gloo"
        assert mdist.is_initialized() and tdist.is_initialized()
        _same_error(lambda: mdist.init_process_group("gloo"),
                    lambda: tdist.init_process_group("gloo"))
    finally:
        tdist.destroy_process_group()
        mdist.destroy_process_group()
    assert not mdist.is_initialized() and not tdist.is_initialized()


# --------------------------------------------------------------------------------------------
# distributed: the collectives over one rank
# --------------------------------------------------------------------------------------------
OPS = ["SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
def test_all_reduce_every_op_matches_torch(groups, op, dtype):
    values = np.array([1, 0, 3]).astype(dtype)
    m, t = minigrad.tensor(values), torch.tensor(values)
    mo = outcome(lambda: mdist.all_reduce(m, op=getattr(mdist.ReduceOp, op)))
    to = outcome(lambda: tdist.all_reduce(t, op=getattr(tdist.ReduceOp, op)))
    assert mo == to, (mo, to)
    np.testing.assert_array_equal(_np(m), _np(t))
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]


def test_reduce_op_numbers_match_torch():
    for op in OPS + ["PREMUL_SUM"]:
        assert int(getattr(mdist.ReduceOp, op)) == int(getattr(tdist.ReduceOp, op))
        assert repr(getattr(mdist.ReduceOp, op)) == repr(getattr(tdist.ReduceOp, op))


def test_collectives_match_torch(groups):
    src = np.arange(6.0).reshape(2, 3)
    m, t = minigrad.tensor(src), torch.tensor(src)
    assert mdist.all_reduce(m) is None and tdist.all_reduce(t) is None
    assert mdist.broadcast(m, 0) is None and tdist.broadcast(t, 0) is None
    assert mdist.reduce(m, dst=0) is None and tdist.reduce(t, dst=0) is None
    np.testing.assert_array_equal(_np(m), _np(t))
    cases = [  # (name, minigrad's call, torch's call), each writing into fresh outputs
        ("all_gather", lambda d, T, x: d.all_gather(out := [T.zeros(2, 3, dtype=x.dtype)], x)
         or out),
        ("all_gather_into_tensor", lambda d, T, x: d.all_gather_into_tensor(
            out := T.zeros(2, 3, dtype=x.dtype), x) or out),
        ("reduce_scatter", lambda d, T, x: d.reduce_scatter(
            out := T.zeros(2, 3, dtype=x.dtype), [x]) or out),
        ("reduce_scatter_tensor", lambda d, T, x: d.reduce_scatter_tensor(
            out := T.zeros(2, 3, dtype=x.dtype), x) or out),
        ("gather", lambda d, T, x: d.gather(x, out := [T.zeros(2, 3, dtype=x.dtype)], dst=0)
         or out),
        ("scatter", lambda d, T, x: d.scatter(out := T.zeros(2, 3, dtype=x.dtype), [x * 2],
                                              src=0) or out),
        ("all_to_all", lambda d, T, x: d.all_to_all(out := [T.zeros(2, 3, dtype=x.dtype)], [x])
         or out),
        ("all_to_all_single", lambda d, T, x: d.all_to_all_single(
            out := T.zeros(2, 3, dtype=x.dtype), x) or out),
    ]
    for name, call in cases:
        mine, theirs = call(mdist, minigrad, m), call(tdist, torch, t)
        mine = mine if isinstance(mine, list) else [mine]
        theirs = theirs if isinstance(theirs, list) else [theirs]
        assert len(mine) == len(theirs), name
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(_np(a), _np(b), err_msg=name)
    assert mdist.barrier() is None and tdist.barrier() is None
    assert mdist.monitored_barrier() is None and tdist.monitored_barrier() is None


def test_collectives_write_in_place_without_autograd(groups):
    w = minigrad.ones(3, requires_grad=True)
    tw = torch.ones(3, requires_grad=True)
    out, tout = [minigrad.zeros(3)], [torch.zeros(3)]
    mdist.all_gather(out, w)
    tdist.all_gather(tout, tw)
    assert out[0].requires_grad == tout[0].requires_grad
    np.testing.assert_array_equal(_np(out[0]), _np(tout[0]))
    mdist.all_reduce(w)                # a parameter's data reduced in place: no history kept
    tdist.all_reduce(tw)
    assert w.grad_fn is None and tw.grad_fn is None


def test_collective_errors_match_torch(groups):
    m, t = minigrad.arange(3.0), torch.arange(3.0)
    _same_error(lambda: mdist.broadcast(m), lambda: tdist.broadcast(t))
    _same_error(lambda: mdist.broadcast(m, 1), lambda: tdist.broadcast(t, 1), words=False)
    _same_error(lambda: mdist.all_gather([minigrad.zeros(3)] * 2, m),
                lambda: tdist.all_gather([torch.zeros(3)] * 2, t), words=False)
    _same_error(lambda: mdist.all_gather([minigrad.zeros(4)], m),
                lambda: tdist.all_gather([torch.zeros(4)], t), words=False)
    _same_error(lambda: mdist.all_gather_into_tensor(minigrad.zeros(1, 3), m),
                lambda: tdist.all_gather_into_tensor(torch.zeros(1, 3), t), words=False)
    _same_error(lambda: mdist.gather(m), lambda: tdist.gather(t))
    _same_error(lambda: mdist.all_reduce(3), lambda: tdist.all_reduce(3))
    _same_error(lambda: mdist.all_reduce(m, op=mdist.ReduceOp.PREMUL_SUM),
                lambda: tdist.all_reduce(t, op=tdist.ReduceOp.PREMUL_SUM), words=False)


def test_async_work_and_objects_match_torch(groups):
    m, t = minigrad.ones(2), torch.ones(2)
    mw, tw = mdist.all_reduce(m, async_op=True), tdist.all_reduce(t, async_op=True)
    assert mw.wait() is tw.wait() is True
    assert mw.is_completed() is tw.is_completed() is True
    obj = {"loss": 0.5, "step": [1, 2]}
    mine, theirs = [None], [None]
    mdist.all_gather_object(mine, obj)
    tdist.all_gather_object(theirs, obj)
    assert mine == theirs == [obj]
    assert (mine[0] is obj) == (theirs[0] is obj)          # a pickled copy in both
    mine, theirs = [{"x": 1}, 3], [{"x": 1}, 3]
    mdist.broadcast_object_list(mine, src=0)
    tdist.broadcast_object_list(theirs, src=0)
    assert mine == theirs
    mine, theirs = [None], [None]
    mdist.gather_object("hi", mine, dst=0)
    tdist.gather_object("hi", theirs, dst=0)
    assert mine == theirs == ["hi"]
    mine, theirs = [None], [None]
    mdist.scatter_object_list(mine, ["q"], src=0)
    tdist.scatter_object_list(theirs, ["q"], src=0)
    assert mine == theirs == ["q"]


def test_groups_and_ranks_match_torch(groups):
    assert mdist.get_process_group_ranks(mdist.group.WORLD) == \
        tdist.get_process_group_ranks(tdist.group.WORLD) == [0]
    assert mdist.get_global_rank(mdist.group.WORLD, 0) == 0
    sub, tsub = mdist.new_group([0]), tdist.new_group([0])
    assert mdist.get_rank(sub) == tdist.get_rank(tsub) == 0
    assert mdist.get_world_size(sub) == tdist.get_world_size(tsub) == 1
    assert mdist.get_backend() == tdist.get_backend() == mdist.Backend.GLOO == \
        tdist.Backend.GLOO


def test_distributed_sampler_reads_the_default_group():
    """DistributedSampler without num_replicas/rank asks the group, as torch's: refused before
    init_process_group, the one-process world's share after."""
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        minigrad.utils.data.DistributedSampler(list(range(5)))


def test_distributed_sampler_in_a_group_matches_torch(groups):
    mine = minigrad.utils.data.DistributedSampler(list(range(7)), shuffle=False)
    theirs = torch.utils.data.DistributedSampler(list(range(7)), shuffle=False)
    assert (mine.num_replicas, mine.rank, list(mine)) == \
        (theirs.num_replicas, theirs.rank, list(theirs))


# --------------------------------------------------------------------------------------------
# DistributedDataParallel
# --------------------------------------------------------------------------------------------
def _pair():
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    mnet = minigrad.nn.Sequential(minigrad.nn.Linear(4, 8), minigrad.nn.ReLU(),
                                  minigrad.nn.Linear(8, 2))
    mnet.load_state_dict({k: minigrad.tensor(v.detach().numpy())
                          for k, v in tnet.state_dict().items()})
    return mnet, tnet


def test_ddp_forward_backward_state_dict_match_torch(groups):
    mnet, tnet = _pair()
    mddp = minigrad.nn.parallel.DistributedDataParallel(mnet)
    tddp = torch.nn.parallel.DistributedDataParallel(tnet)
    assert list(mddp.state_dict()) == list(tddp.state_dict())
    assert [n for n, _ in mddp.named_parameters()] == [n for n, _ in tddp.named_parameters()]
    assert mddp.module is mnet and tddp.module is tnet
    for attr in ("device_ids", "output_device", "dim", "broadcast_buffers",
                 "find_unused_parameters", "gradient_as_bucket_view", "static_graph",
                 "require_backward_grad_sync", "require_forward_param_sync"):
        assert getattr(mddp, attr) == getattr(tddp, attr), attr
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    mout, tout = mddp(minigrad.tensor(x)), tddp(torch.tensor(x))
    np.testing.assert_allclose(_np(mout), _np(tout), rtol=1e-6, atol=1e-6)
    mout.square().sum().backward()
    tout.square().sum().backward()
    for (name, a), (_, b) in zip(mnet.named_parameters(), tnet.named_parameters()):
        np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    with mddp.no_sync(), tddp.no_sync():
        assert mddp.require_backward_grad_sync is tddp.require_backward_grad_sync is False
        mddp(minigrad.tensor(x)).sum().backward()
        tddp(torch.tensor(x)).sum().backward()
    assert mddp.require_backward_grad_sync is tddp.require_backward_grad_sync is True
    for a, b in zip(mnet.parameters(), tnet.parameters()):   # accumulated in both
        np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=1e-5, atol=1e-6)
    assert repr(mddp) .replace("minigrad", "torch") .splitlines()[0] == \
        repr(tddp).splitlines()[0]


def test_ddp_refusals_match_torch(groups):
    frozen_m, frozen_t = minigrad.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    frozen_m.requires_grad_(False)
    frozen_t.requires_grad_(False)
    DDPm, DDPt = minigrad.nn.parallel.DistributedDataParallel, \
        torch.nn.parallel.DistributedDataParallel
    _same_error(lambda: DDPm(minigrad.nn.ReLU()), lambda: DDPt(torch.nn.ReLU()))
    _same_error(lambda: DDPm(frozen_m), lambda: DDPt(frozen_t))
    _same_error(lambda: DDPm(minigrad.nn.Linear(2, 2), device_ids=[0]),
                lambda: DDPt(torch.nn.Linear(2, 2), device_ids=[0]), words=False)


# --------------------------------------------------------------------------------------------
# multiprocessing
# --------------------------------------------------------------------------------------------
def test_sharing_strategies_match_torch():
    assert mmp.get_all_sharing_strategies() == tmp_mod.get_all_sharing_strategies()
    assert mmp.get_sharing_strategy() == tmp_mod.get_sharing_strategy()
    _same_error(lambda: mmp.set_sharing_strategy("nope"),
                lambda: tmp_mod.set_sharing_strategy("nope"))
    before = mmp.get_sharing_strategy()
    mmp.set_sharing_strategy("file_system")
    assert mmp.get_sharing_strategy() == "file_system"
    mmp.set_sharing_strategy(before)


def test_python_multiprocessing_names_are_there():
    for name in ("Process", "Queue", "SimpleQueue", "Pool", "Pipe", "Lock", "Event",
                 "set_start_method", "get_start_method", "get_context", "cpu_count",
                 "current_process", "spawn", "start_processes", "ProcessContext",
                 "ProcessRaisedException", "ProcessExitedException"):
        assert hasattr(mmp, name) and hasattr(tmp_mod, name), name
    assert mmp.cpu_count() == tmp_mod.cpu_count()
    assert mmp.get_all_start_methods() == tmp_mod.get_all_start_methods()


def test_tensors_travel_through_a_queue():
    ctx = mmp.get_context("spawn")
    q = ctx.SimpleQueue()
    x = minigrad.arange(6.0).reshape(2, 3).t()
    q.put(x)
    y = q.get()
    assert isinstance(y, minigrad.Tensor) and y.shape == x.shape
    np.testing.assert_array_equal(_np(y), _np(x))
    assert pickle.loads(pickle.dumps(x)).tolist() == torch.arange(6.0).reshape(2, 3).t().tolist()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses the fork start method")
def test_start_processes_results_and_errors_match_torch():
    # the children run builtins, so that nothing (not even this file) is imported in them
    for lib in (mmp, tmp_mod):
        q = lib.get_context("fork").SimpleQueue()
        assert lib.start_processes(q.put, nprocs=3, start_method="fork") is None
        assert sorted(q.get() for _ in range(3)) == [0, 1, 2]
    outcomes = []
    for lib in (mmp, tmp_mod):
        with pytest.raises(lib.ProcessRaisedException) as info:   # int(i, "x"): TypeError
            lib.start_processes(int, args=("x",), nprocs=2, start_method="fork")
        assert "TypeError" in str(info.value) and "terminated with the following error" in \
            str(info.value)
        with pytest.raises(lib.ProcessExitedException) as exited:   # sys.exit(i)
            lib.start_processes(sys.exit, nprocs=2, start_method="fork")
        outcomes.append((exited.value.error_index, exited.value.exit_code, str(exited.value)))
        ctx = lib.start_processes(time.sleep, args=(), nprocs=1, join=False,
                                  start_method="fork")      # sleep(0)
        assert isinstance(ctx, lib.ProcessContext) and len(ctx.pids()) == 1
        while not ctx.join():
            pass
    assert outcomes[0] == outcomes[1]


def test_spawn_with_the_spawn_start_method():
    ctx = mmp.get_context("spawn")
    q = ctx.SimpleQueue()
    start = time.perf_counter()
    mmp.spawn(q.put, nprocs=2)            # each child: q.put(i)
    if time.perf_counter() - start > 3:
        pytest.skip("starting two interpreters took over 3 s here")
    assert sorted(q.get() for _ in range(2)) == [0, 1]


# --------------------------------------------------------------------------------------------
# cuda, on a machine without a usable GPU
# --------------------------------------------------------------------------------------------
ZERO_ARG = ["empty_cache", "memory_allocated", "max_memory_allocated", "memory_reserved",
            "max_memory_reserved", "get_device_name", "get_device_properties",
            "current_device", "mem_get_info", "ipc_collect", "memory_stats", "is_available",
            "device_count", "is_initialized", "get_device_capability", "init", "get_arch_list",
            "synchronize", "is_bf16_supported"]


@NO_GPU
@NO_TORCH_CUDA
@pytest.mark.parametrize("name", ZERO_ARG)
def test_cuda_without_a_gpu_matches_torch_cpu_build(name):
    mine = outcome(getattr(minigrad.cuda, name))
    theirs = outcome(getattr(torch.cuda, name))
    if name == "is_bf16_supported":            # bfloat16 is numpy-only: cupy has none
        assert mine == ("ok", False)
        return
    assert mine == theirs, (mine, theirs)


@NO_GPU
@NO_TORCH_CUDA
def test_cuda_device_arguments_without_a_gpu_match_torch():
    for name in ("memory_allocated", "max_memory_allocated", "memory_reserved"):
        for dev in (0, "cuda:0", "cpu", minigrad.device("cuda")):
            tdev = torch.device("cuda") if isinstance(dev, minigrad.device) else dev
            assert getattr(minigrad.cuda, name)(dev) == getattr(torch.cuda, name)(tdev) == 0
    assert minigrad.cuda.set_device(-1) is torch.cuda.set_device(-1) is None
    _same_error(lambda: minigrad.cuda.set_device("cpu"), lambda: torch.cuda.set_device("cpu"))
    _same_error(lambda: minigrad.cuda.get_device_name(0), lambda: torch.cuda.get_device_name(0))
    _same_error(lambda: minigrad.cuda.mem_get_info(0), lambda: torch.cuda.mem_get_info(0))
    with pytest.warns(FutureWarning, match="renamed to `torch.cuda.memory_reserved`"):
        assert minigrad.cuda.memory_cached() == 0


@NO_GPU
def test_cuda_where_torchs_cpu_build_breaks():
    # torch's CPU build raises AttributeError / KeyError from its own internals here; minigrad
    # answers what the calls mean on a machine without a GPU
    assert minigrad.cuda.reset_peak_memory_stats() is None
    summary = minigrad.cuda.memory_summary()
    assert "Allocated memory" in summary and "Reserved memory" in summary
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        minigrad.cuda.set_device(0)


@pytest.mark.skipif(not minigrad.cuda.is_available(), reason="needs cupy and a GPU")
def test_cuda_memory_counters_follow_allocations():
    minigrad.cuda.empty_cache()
    minigrad.cuda.reset_peak_memory_stats()
    before = minigrad.cuda.memory_allocated()
    x = minigrad.zeros(1 << 20, device="cuda")          # 4 MiB
    assert minigrad.cuda.memory_allocated() >= before + (4 << 20)
    assert minigrad.cuda.memory_reserved() >= minigrad.cuda.memory_allocated()
    peak = minigrad.cuda.max_memory_allocated()
    del x
    assert minigrad.cuda.memory_allocated() <= peak - (4 << 20)
    assert minigrad.cuda.max_memory_allocated() == peak
    free, total = minigrad.cuda.mem_get_info()
    assert 0 < free <= total
    props = minigrad.cuda.get_device_properties(0)
    assert props.total_memory == total and props.name == minigrad.cuda.get_device_name()
    assert minigrad.cuda.current_device() == 0
    assert set(minigrad.cuda.memory_stats()) >= {"allocated_bytes.all.current",
                                                  "reserved_bytes.all.peak"}
    if torch.cuda.is_available():
        assert minigrad.cuda.get_device_name(0) == torch.cuda.get_device_name(0)
        assert minigrad.cuda.get_device_capability(0) == torch.cuda.get_device_capability(0)
        assert props.total_memory == torch.cuda.get_device_properties(0).total_memory


def test_cuda_gpu_path_reads_cupys_pool_and_runtime(monkeypatch):
    """CI has no GPU: a stand-in for the few cupy calls minigrad.cuda makes checks how their
    answers become PyTorch's (test_cuda_memory_counters_follow_allocations is the real one)."""
    import types

    class Pool:
        used, total = 100, 200

        def used_bytes(self):
            return self.used

        def total_bytes(self):
            return self.total

        def free_all_blocks(self):
            self.total = self.used

    class Device:
        def __init__(self, index=None):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def synchronize(self):
            pass

    pool, current = Pool(), [0]
    runtime = types.SimpleNamespace(
        getDevice=lambda: current[0], setDevice=lambda i: current.__setitem__(0, i),
        memGetInfo=lambda: (70 << 30, 80 << 30),
        getDeviceProperties=lambda i: {"name": b"Stand-in GPU", "major": 9, "minor": 0,
                                       "totalGlobalMem": 80 << 30, "multiProcessorCount": 132})
    cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime, Device=Device),
                                 get_default_memory_pool=lambda: pool,
                                 get_default_pinned_memory_pool=lambda: pool)
    backend = minigrad.backend
    monkeypatch.setattr(backend, "is_cuda_available", lambda: True)
    monkeypatch.setattr(backend, "cuda_device_count", lambda: 2)
    monkeypatch.setattr(backend, "array_module", lambda dev: cupy)
    monkeypatch.setattr(minigrad.cuda, "_peaks", {"allocated": {}, "reserved": {}})
    cuda = minigrad.cuda
    assert (cuda.memory_allocated(), cuda.memory_reserved()) == (100, 200)
    pool.used, pool.total = 50, 300
    assert (cuda.memory_allocated(), cuda.max_memory_allocated()) == (50, 100)
    assert cuda.max_memory_reserved() == 300
    cuda.reset_peak_memory_stats()
    assert cuda.max_memory_allocated() == 50
    cuda.empty_cache()
    assert cuda.memory_reserved() == 50
    assert cuda.get_device_name("cuda:1") == "Stand-in GPU"
    assert cuda.get_device_capability(minigrad.device("cuda")) == (9, 0)
    assert cuda.get_device_properties(0).total_memory == 80 << 30
    assert cuda.mem_get_info() == (70 << 30, 80 << 30)
    cuda.set_device(1)
    assert cuda.current_device() == 1
    with pytest.raises(AssertionError, match="Invalid device id"):
        cuda.get_device_properties(2)
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        cuda.memory_allocated("cpu")


# --------------------------------------------------------------------------------------------
# compiler
# --------------------------------------------------------------------------------------------
def test_compiler_names_match_torch():
    import torch.compiler as tc
    mc = minigrad.compiler
    for name in ("is_compiling", "is_dynamo_compiling", "is_exporting", "reset",
                 "cudagraph_mark_step_begin"):
        assert getattr(mc, name)() == getattr(tc, name)(), name

    def f(x):
        return x * 2

    for deco_m, deco_t in [(mc.disable, tc.disable),
                           (mc.disable(recursive=False), tc.disable(recursive=False)),
                           (mc.allow_in_graph, tc.allow_in_graph),
                           (mc.assume_constant_result, tc.assume_constant_result)]:
        assert deco_m(f)(3) == deco_t(f)(3) == 6
    _same_error(lambda: mc.disable(3), lambda: tc.disable(3))
    _same_error(lambda: mc.allow_in_graph(3), lambda: tc.allow_in_graph(3))
    with mc.set_stance("force_eager"), tc.set_stance("force_eager"):
        assert f(2) == 4
    assert mc.compile is minigrad.compile


def test_compiler_wrap_numpy_matches_torch():
    import torch.compiler as tc

    def np_fn(a, b):
        return np.sum(a * b, axis=0), a.T

    x = np.arange(6.0).reshape(2, 3)
    mine = minigrad.compiler.wrap_numpy(np_fn)(minigrad.tensor(x), minigrad.tensor(x))
    theirs = tc.wrap_numpy(np_fn)(torch.tensor(x), torch.tensor(x))
    assert type(mine) is tuple and type(theirs) is tuple
    for a, b in zip(mine, theirs):
        assert isinstance(a, minigrad.Tensor) and isinstance(b, torch.Tensor)
        np.testing.assert_array_equal(_np(a), _np(b))


def test_import_sets_no_start_method():
    # importing minigrad.multiprocessing must leave the start method unchosen
    assert "minigrad.multiprocessing" in sys.modules
    code = ("import multiprocessing as mp, minigrad, sys; "
            "sys.exit(0 if mp.get_start_method(allow_none=True) is None else 1)")
    assert os.system(f'"{sys.executable}" -c "{code}"') == 0
