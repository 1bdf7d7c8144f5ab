"""DataLoader with num_workers > 0, beside PyTorch's worker processes.

minigrad loads in its own process but as PyTorch's workers would: batch k by worker k mod N,
each worker with its own dataset copy and random state seeded from the loader's base seed,
worker_init_fn run in each, an IterableDataset iterated once per worker with the workers'
batches taken in turn.  Every case runs the same program on both libraries (torch's side in
real worker processes) and compares what the program sees.
"""
import math
import random
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _data(lib):
    return lib.utils.data


def _augmenting(lib):
    """A map-style dataset drawing from all three random sources, as augmentations do."""
    class Augmenting(_data(lib).Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return lib.rand(2) + i, random.random(), float(np.random.rand())
    return Augmenting()


def _sharded(lib, n):
    """The IterableDataset of PyTorch's documentation pattern: each worker its own range."""
    class Sharded(_data(lib).IterableDataset):
        def __iter__(self):
            info = _data(lib).get_worker_info()
            if info is None:
                return iter(range(n))
            per = math.ceil(n / info.num_workers)
            return iter(range(info.id * per, min(info.id * per + per, n)))
    return Sharded()


def _plain(batch):
    if isinstance(batch, (list, tuple)):
        return [_plain(b) for b in batch]
    return np.asarray(batch.tolist() if hasattr(batch, "tolist") else batch, dtype=float)


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, list):
            _same(x, y)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=0)


def _seeded_epochs(lib, **loader_args):
    lib.manual_seed(3)
    random.seed(1)
    np.random.seed(2)
    loader = _data(lib).DataLoader(_augmenting(lib), **loader_args)
    seen = [_plain(batch) for _ in range(2) for batch in loader]
    # the main program's own draws after the loading: workers must not have moved them
    seen.append([_plain(lib.rand(3)), random.random(), float(np.random.rand())])
    return seen


def _seed_numpy_from_worker_seed(lib):
    # the common recipe: numpy seeded from the worker's own seed
    return lambda worker_id: np.random.seed(_data(lib).get_worker_info().seed % 2 ** 32)


@pytest.mark.parametrize("args", [
    lambda lib: dict(batch_size=3, shuffle=True, num_workers=2),
    lambda lib: dict(batch_size=3, shuffle=True, num_workers=2, persistent_workers=True),
    lambda lib: dict(batch_size=4, num_workers=1, worker_init_fn=lambda w: random.seed(100 + w)),
    lambda lib: dict(batch_size=None, num_workers=2, worker_init_fn=lambda w: lib.manual_seed(w)),
    lambda lib: dict(batch_size=3, num_workers=3, drop_last=True,
                     worker_init_fn=_seed_numpy_from_worker_seed(lib)),
])
def test_worker_random_state_and_order_match_torch(args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # the CPU-count advice on small machines
        _same(_seeded_epochs(minigrad, **args(minigrad)), _seeded_epochs(torch, **args(torch)))


@pytest.mark.parametrize("workers", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("batch_size,drop_last", [(2, False), (3, True), (None, False)])
def test_iterable_dataset_batches_taken_from_workers_in_turn(workers, batch_size, drop_last):
    def batches(lib):
        loader = _data(lib).DataLoader(_sharded(lib, 11), batch_size=batch_size,
                                       drop_last=drop_last, num_workers=workers)
        return [_plain(b) for b in loader]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(batches(minigrad), batches(torch))


def test_unsharded_iterable_dataset_repeats_per_worker_as_torch():
    class Whole(minigrad.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(5))
    out = [b.tolist() for b in minigrad.utils.data.DataLoader(Whole(), batch_size=2,
                                                              num_workers=2)]
    # each worker yields the whole stream (PyTorch's documented pitfall), in turn
    assert out == [[0, 1], [0, 1], [2, 3], [2, 3], [4], [4]]


def test_worker_info_inside_and_outside():
    seen = []

    class Probe(minigrad.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            info = minigrad.utils.data.get_worker_info()
            seen.append((info.id, info.num_workers, info.dataset is self and self is not probe,
                         info.seed))
            return i

    probe = Probe()
    loader = minigrad.utils.data.DataLoader(probe, batch_size=1, num_workers=2)
    it = iter(loader)
    list(it)
    base = it._base_seed
    assert seen == [(0, 2, True, base), (1, 2, True, base + 1)] * 2
    assert minigrad.utils.data.get_worker_info() is None
    info = torch.utils.data.get_worker_info     # the same fields as torch's WorkerInfo
    assert info() is None
    fields = set(torch.utils.data._utils.worker.WorkerInfo.__dataclass_fields__)
    assert fields == set(minigrad.utils.data._utils.worker.WorkerInfo.__dataclass_fields__)


def test_worker_init_fn_sets_attributes_on_the_workers_copy():
    def init(worker_id):
        minigrad.utils.data.get_worker_info().dataset.offset = 100 * worker_id

    class Offset(minigrad.utils.data.Dataset):
        offset = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return i + self.offset

    dataset = Offset()
    loader = minigrad.utils.data.DataLoader(dataset, batch_size=1, num_workers=2,
                                            worker_init_fn=init)
    assert [b.item() for b in loader] == [0, 101, 2, 103]
    assert dataset.offset == 0          # the main program's dataset is untouched


def test_error_in_a_worker_keeps_its_type_and_names_the_worker():
    class Bad(minigrad.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            if i == 1:
                raise KeyError(i)
            return i

    loader = minigrad.utils.data.DataLoader(Bad(), batch_size=1, num_workers=2)
    with pytest.raises(KeyError) as info:
        list(loader)
    assert any("worker 1" in note for note in info.value.__notes__)


def _warnings_of(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
    return [str(w.message) for w in caught]


def test_length_warning_of_an_iterable_dataset_matches_torch():
    def run(lib):
        class Longer(_data(lib).IterableDataset):
            def __iter__(self):
                return iter(range(6))

            def __len__(self):
                return 4

            def __repr__(self):
                return "Longer"

        def make():
            loader = _data(lib).DataLoader(Longer(), batch_size=None)
            len(loader)
            list(loader)
        return _warnings_of(make)
    assert run(minigrad) == run(torch)
    assert len(run(minigrad)) == 2


def test_too_many_workers_warning_matches_torch():
    many = 4 * (len(__import__("os").sched_getaffinity(0)))

    def run(lib):
        return _warnings_of(lambda: iter(_data(lib).DataLoader(list(range(3)),
                                                               num_workers=many)))
    got = run(minigrad)
    assert got == run(torch)
    assert len(got) == 2 and "worker processes in total" in got[0]


def test_pin_memory_warning_words_match_torch():
    def run(lib):
        return _warnings_of(lambda: iter(_data(lib).DataLoader(list(range(3)),
                                                               pin_memory=True)))
    assert run(minigrad) == run(torch)
