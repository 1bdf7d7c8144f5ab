"""minigrad.utils.data: batching, seeded reproducible shuffling, splits, collation."""
import numpy as np
import pytest

import minigrad
from minigrad.utils.data import (BatchSampler, DataLoader, Dataset, RandomSampler,
                                 SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                                 default_collate, random_split)


def _dataset(n=10):
    x = minigrad.arange(n * 2, dtype=minigrad.float32).reshape(n, 2)
    y = minigrad.arange(n)
    return TensorDataset(x, y)


def _order(loader):
    return [int(v) for _, yb in loader for v in yb.tolist()]


def test_sequential_batches_len_and_drop_last():
    ds = _dataset(10)
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert [tuple(xb.shape) for xb, _ in batches] == [(4, 2), (4, 2), (2, 2)]
    assert batches[0][0].tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert batches[2][1].dtype == minigrad.int64 and batches[2][1].tolist() == [8, 9]
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2 == len(list(loader))
    assert len(DataLoader(ds)) == 10


def test_shuffle_is_a_seeded_permutation_each_epoch():
    ds = _dataset(50)
    minigrad.manual_seed(0)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    first, second = _order(loader), _order(loader)
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert first != second                       # a new order every epoch
    minigrad.manual_seed(0)
    assert _order(loader) == first and _order(loader) == second   # reproducible
    g = minigrad.Generator().manual_seed(5)
    a = _order(DataLoader(ds, batch_size=8, shuffle=True, generator=g))
    minigrad.manual_seed(123)                    # the default generator does not matter
    g.manual_seed(5)
    assert _order(DataLoader(ds, batch_size=8, shuffle=True, generator=g)) == a


def test_batches_are_the_indexed_rows():
    ds = _dataset(12)
    minigrad.manual_seed(1)
    for xb, yb in DataLoader(ds, batch_size=5, shuffle=True):
        idx = np.array(yb.tolist())
        assert xb.tolist() == ds.tensors[0].numpy()[idx].tolist()
        assert not xb.requires_grad


def test_tensor_dataset_batching_is_vectorised(monkeypatch):
    ds = _dataset(9)

    def no_per_sample(self, index):
        raise AssertionError("per-sample __getitem__ used for a TensorDataset")
    monkeypatch.setattr(TensorDataset, "__getitem__", no_per_sample)
    assert len(list(DataLoader(ds, batch_size=4, shuffle=True))) == 3
    sub = Subset(ds, [8, 1, 3])
    (xb, yb), = list(DataLoader(sub, batch_size=3))
    assert yb.tolist() == [8, 1, 3]


def test_tensor_dataset_checks_sizes_and_indexes():
    ds = _dataset(4)
    x, y = ds[2]
    assert x.tolist() == [4.0, 5.0] and y.item() == 2 and len(ds) == 4
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(minigrad.zeros(3, 2), minigrad.zeros(4))


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": minigrad.tensor([float(i), float(i * i)]), "i": i, "f": i / 2,
                "name": f"s{i}"}


def test_generic_dataset_default_collate_like_torch():
    # torch.utils.data.default_collate makes int64 from Python ints and float64 from floats
    # (not imported here: importing torch.utils.data takes seconds)
    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].tolist() == [[0, 0], [1, 1], [2, 4]]
    assert batch["i"].dtype == minigrad.int64 and batch["i"].tolist() == [0, 1, 2]
    assert batch["f"].dtype == minigrad.float64 and batch["f"].tolist() == [0, 0.5, 1]
    assert batch["name"] == ["s0", "s1", "s2"]
    assert len(DataLoader(Squares(), batch_size=3)) == 3
    pairs = default_collate([(minigrad.ones(2), 1), (minigrad.zeros(2), 0)])
    assert isinstance(pairs, list) and pairs[0].shape     # a list, as torch's == (2, 2) and pairs[1].tolist() == [1, 0]
    custom = DataLoader(Squares(), batch_size=2, collate_fn=lambda b: [s["i"] for s in b])
    assert list(custom) == [[0, 1], [2, 3], [4, 5], [6]]
    single = list(DataLoader(Squares(), batch_size=None))
    assert len(single) == 7 and single[3]["i"] == 3


def test_random_split_lengths_fractions_and_seed():
    ds = _dataset(10)
    a, b = random_split(ds, [7, 3], generator=minigrad.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3
    assert sorted(a.indices + b.indices) == list(range(10))
    c, d = random_split(ds, [7, 3], generator=minigrad.Generator().manual_seed(0))
    assert c.indices == a.indices
    # fractions: floor(11 * f) = 5, 3, 2, the remainder 1 to the first split (torch's rule)
    parts = random_split(_dataset(11), [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [6, 3, 2]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [3, 3])
    x, y = a[0]
    assert y.item() == a.indices[0]


def test_samplers():
    ds = _dataset(6)
    assert list(SequentialSampler(ds)) == list(range(6))
    minigrad.manual_seed(0)
    perm = list(RandomSampler(ds))
    assert sorted(perm) == list(range(6))
    assert sorted(SubsetRandomSampler([4, 5, 1])) == [1, 4, 5]
    assert list(BatchSampler(SequentialSampler(ds), 4, False)) == [[0, 1, 2, 3], [4, 5]]
    assert list(BatchSampler(range(5), 2, True)) == [[0, 1], [2, 3]]
    loader = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 3, False))
    assert [yb.tolist() for _, yb in loader] == [[0, 1, 2], [3, 4, 5]]
    loader = DataLoader(ds, sampler=SubsetRandomSampler([0, 2]), batch_size=2)
    assert sorted(next(iter(loader))[1].tolist()) == [0, 2]
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)


def test_batches_stay_on_the_tensors_device():
    ds = _dataset(4)
    xb, yb = next(iter(DataLoader(ds, batch_size=2)))
    assert xb.device == ds.tensors[0].device
