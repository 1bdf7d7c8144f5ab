"""docs/api-coverage.md is generated from the code; this test regenerates it and fails when
the committed page differs (then run: python -m minigrad._api_table --write)."""
import os

from minigrad import _api_table

DOC = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "api-coverage.md")


def test_committed_api_table_is_fresh():
    with open(DOC, encoding="utf-8") as f:
        committed = f.read()
    assert committed == _api_table.table(), (
        "docs/api-coverage.md is stale: run `python -m minigrad._api_table --write` and commit")


def test_table_lists_the_breadth_of_issue_15_and_says_what_is_left_out():
    rows = dict(_api_table.namespaces())
    assert {"einsum", "topk", "gather", "cumsum", "atan2", "normal"} <= set(rows[
        "torch (functions and classes)"])
    assert {"LayerNorm", "GRU", "LazyConv2d", "Upsample", "Fold"} <= set(rows[
        "torch.nn (layers and containers)"])
    assert {"OneCycleLR", "ReduceLROnPlateau"} <= set(rows["torch.optim.lr_scheduler"])
    last = _api_table.table().rstrip().splitlines()[-1]
    assert last.startswith("Deliberately left out:")
