"""Long runs stay flat: memory does not creep, deep graphs backpropagate, threads keep their
own grad mode.

* A training loop's memory, measured with ``tracemalloc`` (numpy reports its buffers to it),
  reaches a plateau after warm-up: the peak of a late window is within 5% of the peak of an
  early one, and the memory held between steps does not grow.  The fast variant (300 steps of
  a small conv net) always runs; seed 001's MNIST net for 2,000 steps is ``@slow``.
* Each step's graph is freed by reference counting alone (no cycles left for the collector).
* A chain of 100,000 ops backpropagates (the engine is iterative, not recursive).
* Threads that use ``no_grad`` / ``set_grad_enabled`` / ``enable_grad`` at the same moment
  (interleaved with a ``threading.Barrier``) do not see each other's mode.
"""
from __future__ import annotations

import gc
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.testing.models import seed001_net


# ----------------------------------------------------------------------------------------------
# Memory over a training run
# ----------------------------------------------------------------------------------------------
class SmallConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):                                  # x: (N, 1, 16, 16)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)       # (N, 8, 7, 7)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)       # (N, 16, 2, 2)
        return self.fc(x.view(x.size(0), -1))


def Seed001Net():
    return seed001_net(minigrad)


def _fill_free_lists():
    """Fill CPython's free lists of small tuples and floats *before* tracing starts.

    A freed tuple goes to a free list (2,000 per size) instead of back to the allocator, so to
    tracemalloc it stays allocated where it was created: on a short run the lists filling up
    look like a slow leak of ~100 KB. Filled beforehand with untraced objects, they hand out
    and take back untraced memory and only real growth is measured.
    """
    junk = [tuple(range(n)) for n in range(1, 21) for _ in range(2100)]
    junk += [float(i) + 0.5 for i in range(1000)]
    del junk


def _train_and_measure(model, optimizer, batches, steps, warmup, after_step=None):
    """Run ``steps`` SGD steps; return (early peak, late peak, held after warm-up, held at end,
    graphs still alive) in bytes as tracemalloc sees them."""
    x_all, y_all = batches
    graphs = []

    def step(i):
        x, y = x_all[i % len(x_all)], y_all[i % len(y_all)]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step()
        if i < warmup:
            # the warm-up steps' graphs only: a reference cycle would keep them alive as
            # well, and a weakref per measured step would itself grow the memory measured
            graphs.append(weakref.ref(loss.grad_fn))
        return loss.item()

    gc.collect()
    _fill_free_lists()
    tracemalloc.start()
    try:
        for i in range(warmup):
            step(i)
        held_after_warmup = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        third = (steps - warmup) // 3
        for i in range(warmup, warmup + third):
            step(i)
        early_peak = tracemalloc.get_traced_memory()[1]
        for i in range(warmup + third, steps - third):
            step(i)
        tracemalloc.reset_peak()
        for i in range(steps - third, steps):
            step(i)
        held_at_end, late_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    alive = sum(ref() is not None for ref in graphs)
    return early_peak, late_peak, held_after_warmup, held_at_end, alive


def _assert_flat(early_peak, late_peak, held_after_warmup, held_at_end, alive, label):
    assert alive == 0, f"{label}: {alive} step graphs are still alive (a reference cycle?)"
    assert late_peak <= 1.05 * early_peak, (
        f"{label}: peak memory grew from {early_peak / 1e6:.2f} MB to {late_peak / 1e6:.2f} MB")
    assert held_at_end <= held_after_warmup + 0.05 * early_peak, (
        f"{label}: memory held between steps grew from {held_after_warmup / 1e6:.2f} MB to "
        f"{held_at_end / 1e6:.2f} MB")


def _batches(rng, n, batch, shape, classes=10):
    xs = [minigrad.tensor(rng.standard_normal((batch,) + shape).astype(np.float32))
          for _ in range(n)]
    ys = [minigrad.tensor(rng.integers(0, classes, batch)) for _ in range(n)]
    return xs, ys


def test_memory_stays_flat_over_300_steps_of_a_small_conv_net():
    minigrad.manual_seed(0)
    model = SmallConvNet()
    optimizer = minigrad.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = _batches(np.random.default_rng(0), 8, 32, (1, 16, 16))
    _assert_flat(*_train_and_measure(model, optimizer, batches, steps=300, warmup=50),
                 "small conv net, 300 steps")


def test_memory_stays_flat_with_adam_and_a_scheduler():
    minigrad.manual_seed(1)
    model = SmallConvNet()
    optimizer = minigrad.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = minigrad.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.9)
    batches = _batches(np.random.default_rng(1), 8, 32, (1, 16, 16))
    _assert_flat(*_train_and_measure(model, optimizer, batches, steps=150, warmup=50,
                                     after_step=scheduler.step),
                 "small conv net with Adam and StepLR, 150 steps")
    assert len(optimizer.state) == len(list(model.parameters()))


@pytest.mark.slow
def test_memory_stays_flat_over_2000_steps_of_the_seed001_mnist_net():
    minigrad.manual_seed(0)
    model = Seed001Net()
    optimizer = minigrad.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    batches = _batches(np.random.default_rng(0), 32, 2, (784,))
    _assert_flat(*_train_and_measure(model, optimizer, batches, steps=2000, warmup=100),
                 "seed 001 MNIST net, 2000 steps, batch 2")


def test_evaluation_under_no_grad_keeps_no_graph():
    model = SmallConvNet()
    x = minigrad.randn(4, 1, 16, 16)
    with minigrad.no_grad():
        outs = [model(x) for _ in range(20)]
    assert all(o.grad_fn is None and not o.requires_grad for o in outs)


# ----------------------------------------------------------------------------------------------
# Deep graphs
# ----------------------------------------------------------------------------------------------
def test_a_chain_of_100000_ops_backpropagates():
    x = minigrad.tensor([1.0], dtype=minigrad.float64, requires_grad=True)
    c = minigrad.tensor([1.00001], dtype=minigrad.float64)
    y = x
    for _ in range(100_000):
        y = y * c
    y.sum().backward()
    # d/dx x * c^n = c^n = 1.00001^100000
    np.testing.assert_allclose(x.grad.numpy(), [1.00001 ** 100_000], rtol=1e-9)
    ref = weakref.ref(y.grad_fn)
    del y
    assert ref() is None            # and the 100,000-node graph is freed without recursing


def test_a_deep_chain_with_retain_graph_backpropagates_twice():
    x = minigrad.tensor([2.0], dtype=minigrad.float64, requires_grad=True)
    y = x
    for _ in range(5_000):
        y = (y + 1.0) - 1.0
    y.backward(minigrad.ones(1, dtype=minigrad.float64), retain_graph=True)
    y.backward(minigrad.ones(1, dtype=minigrad.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0])


# ----------------------------------------------------------------------------------------------
# Grad mode is per thread
# ----------------------------------------------------------------------------------------------
def _run_threads(*targets, rounds=100):
    barrier = threading.Barrier(len(targets), timeout=30)
    errors = []

    def wrap(target):
        def run():
            try:
                for i in range(rounds):
                    target(barrier, i)
            except BaseException as exc:  # noqa: BLE001 -- reported below
                errors.append(exc)
                barrier.abort()
        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    assert not real, real
    assert not errors, errors


def test_no_grad_in_one_thread_does_not_disturb_another():
    w = minigrad.ones(3, requires_grad=True)

    def in_no_grad(barrier, i):
        with minigrad.no_grad():
            barrier.wait()                       # both threads are now inside their blocks
            y = w * 2
            barrier.wait()
            assert not minigrad.is_grad_enabled()
            assert y.grad_fn is None and not y.requires_grad
        assert minigrad.is_grad_enabled()

    def recording(barrier, i):
        barrier.wait()
        y = w * 2
        barrier.wait()
        assert minigrad.is_grad_enabled()
        assert y.requires_grad and y.grad_fn is not None

    _run_threads(in_no_grad, recording)


def test_set_grad_enabled_and_enable_grad_are_per_thread():
    w = minigrad.ones(2, requires_grad=True)

    def switch_off(barrier, i):
        minigrad.set_grad_enabled(False)         # the function form, not a block
        barrier.wait()
        barrier.wait()
        assert (w + 1).grad_fn is None
        minigrad.set_grad_enabled(True)
        barrier.wait()

    def nested(barrier, i):
        with minigrad.no_grad():
            barrier.wait()
            with minigrad.enable_grad():
                y = w + 1
            barrier.wait()
            assert y.grad_fn is not None
            assert (w + 1).grad_fn is None
        barrier.wait()
        assert minigrad.is_grad_enabled()

    @minigrad.no_grad()
    def decorated(barrier, i):
        barrier.wait()
        barrier.wait()
        assert (w * 3).grad_fn is None
        barrier.wait()

    _run_threads(switch_off, nested, decorated)


def test_training_in_one_thread_while_another_evaluates_under_no_grad():
    """The trained weights equal those of the same training run alone."""
    rng = np.random.default_rng(0)
    data = [(minigrad.tensor(rng.standard_normal((8, 5)).astype(np.float32)),
             minigrad.tensor(rng.integers(0, 3, 8))) for _ in range(4)]

    def make():
        minigrad.manual_seed(3)
        model = nn.Linear(5, 3)
        return model, minigrad.optim.SGD(model.parameters(), lr=0.1)

    def train_step(model, opt, i):
        x, y = data[i % len(data)]
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    alone, opt_alone = make()
    for i in range(60):
        train_step(alone, opt_alone, i)

    model, opt = make()
    other = nn.Linear(5, 3)

    def trainer(barrier, i):
        barrier.wait()
        train_step(model, opt, i)
        barrier.wait()

    def evaluator(barrier, i):
        with minigrad.no_grad():
            barrier.wait()
            out = other(data[0][0])
            barrier.wait()
        assert out.grad_fn is None

    _run_threads(trainer, evaluator, rounds=60)
    for a, b in zip(model.parameters(), alone.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
