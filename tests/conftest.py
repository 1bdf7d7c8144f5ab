"""Shared pytest setup: tests marked ``@pytest.mark.slow`` are skipped unless asked for.

Run them with ``pytest --runslow`` or ``MINIGRAD_SLOW=1 pytest``.

Fixtures several test files share: ``threads`` (the test on 1 and on 2 of minigrad's threads)
and ``threads_restored`` (the thread count a test sets put back after it).
"""
import os
import sys

import pytest

import minigrad


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked @pytest.mark.slow (or set MINIGRAD_SLOW=1)")


def pytest_configure(config):
    # modules that choose their parameters by it read the environment when they are
    # imported: under pytest-xdist that happens in worker processes, whose sys.argv is not
    # the command line, but each of which runs this hook with the options first
    if config.getoption("--runslow"):
        os.environ["MINIGRAD_SLOW"] = "1"


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("MINIGRAD_SLOW", "") not in ("", "0"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or MINIGRAD_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _distribution_checks_on():
    """Every test starts with the distributions' argument checks on, PyTorch's default, on
    both sides. Loading torch's compiler (torch.compile, torch.cond) turns torch's off for the
    whole process, and a test may switch either off: under pytest-xdist the tests a worker
    runs after such a one depend on how the tests were dealt out."""
    for name in ("torch.distributions", "minigrad.distributions"):
        module = sys.modules.get(name)
        if module is not None:
            module.Distribution.set_default_validate_args(True)


@pytest.fixture(autouse=True)
def _default_dtype_kept():
    """Every test starts with float32 as the default dtype on both sides, PyTorch's default.
    A test that sets another and fails before putting it back would otherwise change the
    dtype of every tensor made by the tests its worker runs after it (and their memory
    figures: a float64 default doubles every activation)."""
    yield
    for name in ("torch", "minigrad"):
        module = sys.modules.get(name)
        if module is not None and module.get_default_dtype() != module.float32:
            module.set_default_dtype(module.float32)


@pytest.fixture(params=[1, 2])
def threads(request):
    """The test runs twice, on 1 and on 2 of minigrad's threads (the number is the fixture's
    value); the count it had is put back after."""
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(request.param)
    yield request.param
    minigrad.set_num_threads(before)


@pytest.fixture(params=[2, 3])
def many_threads(request):
    """The test runs on 2 and on 3 of minigrad's threads (more than one part to hand over);
    the count it had is put back after."""
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(request.param)
    yield request.param
    minigrad.set_num_threads(before)


@pytest.fixture(scope="module")
def torch_on_one_thread():
    """torch's reference on one thread while a module's tests run (on a busy machine its
    OpenMP threads spend far longer waiting for a core than small ops take to compute);
    a module asks for it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def threads_restored():
    """For a test that sets minigrad's thread count itself: the count it had is put back
    after."""
    before = minigrad.get_num_threads()
    yield
    minigrad.set_num_threads(before)
