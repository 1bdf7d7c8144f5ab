"""minigrad.utils.data as a package with PyTorch's submodules (dataset, sampler, dataloader,
distributed, _utils.collate), StackDataset and DistributedSampler, against torch."""
import importlib

import numpy as np
import pytest

import minigrad
from minigrad.utils import data

torch = pytest.importorskip("torch")
tdata = pytest.importorskip("torch.utils.data")

PATHS = {
    "dataset": ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
                "ChainDataset", "Subset", "random_split"],
    "sampler": ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
                "WeightedRandomSampler", "BatchSampler"],
    "dataloader": ["DataLoader", "default_collate", "default_convert", "get_worker_info"],
    "distributed": ["DistributedSampler"],
    "_utils.collate": ["default_collate", "default_convert"],
    "_utils.worker": ["get_worker_info"],
}


@pytest.mark.parametrize("sub", sorted(PATHS))
def test_submodules_hold_the_names_torch_has_there(sub):
    theirs = importlib.import_module(f"torch.utils.data.{sub}")
    ours = importlib.import_module(f"minigrad.utils.data.{sub}")
    for name in PATHS[sub]:
        assert hasattr(theirs, name), (sub, name)
        assert getattr(ours, name) is getattr(data, name), (sub, name)


def test_every_public_name_of_torch_utils_data_we_offer_is_at_the_top():
    ours = set(data.__all__)
    assert {"StackDataset", "DistributedSampler"} <= ours
    for name in ours:
        assert hasattr(tdata, name), name
        assert hasattr(data, name), name


# ----------------------------------------------------------------------------------------------
# StackDataset
# ----------------------------------------------------------------------------------------------
def _pairs(lib, n=4):
    return lib.utils.data.TensorDataset(lib.arange(n)), lib.utils.data.TensorDataset(
        lib.arange(n) * 10)


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):       # (minigrad's collate keeps tuples, torch's lists)
        return [_plain(v) for v in x]
    return x.tolist()


def test_stack_dataset_matches_torch():
    (ta, tb), (oa, ob) = _pairs(torch), _pairs(minigrad)
    for theirs, ours in [(tdata.StackDataset(ta, tb), data.StackDataset(oa, ob)),
                         (tdata.StackDataset(x=ta, y=tb), data.StackDataset(x=oa, y=ob))]:
        assert len(ours) == len(theirs)
        assert _plain(ours[2]) == _plain(theirs[2])
        assert _plain(ours.__getitems__([0, 3])) == _plain(theirs.__getitems__([0, 3]))
        batches = [_plain(b) for b in data.DataLoader(ours, batch_size=3)]
        assert batches == [_plain(b) for b in tdata.DataLoader(theirs, batch_size=3)]


@pytest.mark.parametrize("case", ["none", "both", "sizes", "sizes_kw"])
def test_stack_dataset_errors_match_torch(case):
    def make(lib):
        a, b = _pairs(lib)
        short = lib.utils.data.TensorDataset(lib.arange(3))
        args = {"none": ((), {}), "both": ((a,), {"k": b}), "sizes": ((a, short), {}),
                "sizes_kw": ((), {"a": a, "b": short})}[case]
        return lib.utils.data.StackDataset(*args[0], **args[1])
    with pytest.raises(ValueError) as theirs:
        make(torch)
    with pytest.raises(ValueError) as ours:
        make(minigrad)
    assert str(ours.value) == str(theirs.value)


# ----------------------------------------------------------------------------------------------
# DistributedSampler
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (9, 3, False),
                                                  (2, 4, False), (7, 2, True)])
def test_distributed_sampler_unshuffled_matches_torch(n, replicas, drop_last):
    for rank in range(replicas):
        kw = {"num_replicas": replicas, "rank": rank, "shuffle": False, "drop_last": drop_last}
        theirs = tdata.DistributedSampler(range(n), **kw)
        ours = data.DistributedSampler(range(n), **kw)
        assert list(ours) == list(theirs)
        assert (len(ours), ours.num_samples, ours.total_size) == (
            len(theirs), theirs.num_samples, theirs.total_size)


def test_distributed_sampler_shuffle_splits_one_permutation_per_epoch():
    # torch's order comes from its own generator; what must hold is the contract: every
    # replica draws the same permutation (seed + epoch), so the shares partition the dataset
    shares = [list(data.DistributedSampler(range(12), 3, r, seed=5)) for r in range(3)]
    assert sorted(sum(shares, [])) == list(range(12))
    s = data.DistributedSampler(range(12), 3, 0, seed=5)
    s.set_epoch(1)
    assert list(s) != shares[0] and len(s) == len(tdata.DistributedSampler(range(12), 3, 0))


@pytest.mark.parametrize("kw", [{}, {"num_replicas": 2}, {"num_replicas": 2, "rank": 2},
                                {"num_replicas": 2, "rank": -1}])
def test_distributed_sampler_errors_match_torch(kw):
    with pytest.raises(ValueError) as theirs:
        tdata.DistributedSampler(range(10), **kw)
    with pytest.raises(ValueError) as ours:
        data.DistributedSampler(range(10), **kw)
    assert str(ours.value) == str(theirs.value)


def test_collate_path_gives_torch_batches():
    from minigrad.utils.data._utils.collate import default_collate
    from torch.utils.data._utils.collate import default_collate as torch_collate
    batch = [(1, 2.5, np.array([1.0, 2.0])), (3, 4.5, np.array([3.0, 4.0]))]
    ours, theirs = default_collate(batch), torch_collate(batch)
    for o, t in zip(ours, theirs):
        assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_array_equal(o.numpy(), t.numpy())
