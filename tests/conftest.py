"""Shared pytest setup: tests marked ``@pytest.mark.slow`` are skipped unless asked for.

Run them with ``pytest --runslow`` or ``MINIGRAD_SLOW=1 pytest``.
"""
import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked @pytest.mark.slow (or set MINIGRAD_SLOW=1)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("MINIGRAD_SLOW", "") not in ("", "0"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or MINIGRAD_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
