"""Whole programs of round 34: data pipelines (map-style and iterable datasets, samplers,
collate functions, splits and concatenations), training-loop utilities (scheduler combinations
and their state, gradient clipping, parameter groups added mid-run, accumulation, weight
averaging), the Module API's corners (buffers, hooks, parametrizations, pruning, flat
parameter vectors), numerical idioms (distributions in losses, torch.func, einsum, a small
linear-algebra solver, indexed updates, sorting and bucketing) and small vision and sequence
models (a U-Net, a causal temporal conv net, packed recurrent batches, masked attention and a
causal Transformer decoder).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed``); both must give the same values, dtypes,
shapes and requires_grad, or raise the same exception type with torch's words, and warn alike
(tests/side_by_side.py).
"""
import collections
import copy
import importlib
import io
import math
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, import_forward_ad_decompositions, labels, leaf, normal32, normal64,
    program_harness, registry)

import_forward_ad_decompositions()

HARNESS = program_harness()
PROGRAMS, program = registry()

Pair = collections.namedtuple("Pair", "x y")


# ----------------------------------------------------------------------------------------------
# data pipelines
# ----------------------------------------------------------------------------------------------
@program
def dict_samples_default_collate_shuffled_by_a_generator(L):
    """A map-style Dataset whose items are dicts holding a tensor, a nested tuple, an int, a
    float and a string; the DataLoader's default collation stacks, tuples, tensorises and
    lists them; shuffle draws its order from a seeded Generator; drop_last and len."""
    D = L.utils.data
    feats = normal64(7, 3, seed=1)

    class Records(D.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": L.tensor(feats[i]), "meta": (i, float(i) / 2),
                    "name": f"r{i}", "arr": np.arange(2) + i}

    g = L.Generator().manual_seed(5)
    loader = D.DataLoader(Records(), batch_size=3, shuffle=True, drop_last=True, generator=g)
    batches = [b for b in loader]
    first = batches[0]
    return len(loader), len(batches), sorted(first), first["x"], first["meta"], \
        first["name"], first["arr"], [b["meta"][0] for b in batches]


@program
def namedtuple_samples_and_a_padding_collate(L):
    """Samples as namedtuples: default_collate keeps the namedtuple type (its fields batched);
    a custom collate_fn pads variable-length sequences with pad_sequence, sorts by length
    and returns the lengths, as sequence-model training scripts do."""
    D = L.utils.data
    from_rnn = L.nn.utils.rnn
    seqs = [normal64(n, 2, seed=n) for n in (3, 5, 2, 4)]

    class Seqs(D.Dataset):
        def __len__(self):
            return len(seqs)

        def __getitem__(self, i):
            return Pair(L.tensor(seqs[i]), i % 2)

    batch = D.default_collate([Pair(L.tensor([1.0, 2.0]), 3), Pair(L.tensor([4.0, 5.0]), 6)])

    def pad_collate(items):
        items = sorted(items, key=lambda p: p.x.size(0), reverse=True)
        lens = L.tensor([p.x.size(0) for p in items])
        xs = from_rnn.pad_sequence([p.x for p in items], batch_first=True, padding_value=-1.0)
        return xs, lens, L.tensor([p.y for p in items])

    out = list(D.DataLoader(Seqs(), batch_size=2, collate_fn=pad_collate))
    return type(batch).__name__, batch.x, batch.y, out


@program
def iterable_datasets_chained_and_batched(L):
    """IterableDatasets (a range of squares, a generator of tensors) joined by ChainDataset and
    by +; a DataLoader batches the stream (the last batch short); len of a loader over a
    dataset without __len__ raises TypeError; shuffle with an IterableDataset is refused;
    len and iteration of a chain holding a plain list fail its assertion."""
    D = L.utils.data

    class Squares(D.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            for i in range(self.n):
                yield L.tensor([float(i * i), float(i)])

    class Sized(Squares):
        def __len__(self):
            return self.n

    chain = D.ChainDataset([Squares(3), Squares(4)])
    plus = Squares(2) + Squares(1)
    loader = D.DataLoader(chain, batch_size=3)
    got = list(loader)
    return [type(plus).__name__, [b.tolist() for b in got], [t.tolist() for t in plus],
            err(lambda: len(loader)),
            err(lambda: D.DataLoader(chain, shuffle=True)),
            len(D.ChainDataset([Sized(2), Sized(5)])),
            err(lambda: len(D.ChainDataset([Sized(2), [1.0, 2.0]]))),
            err(lambda: list(D.ChainDataset([Sized(1), [1.0, 2.0]])))]


@program
def samplers_weighted_subset_and_batch(L):
    """WeightedRandomSampler (with and without replacement) and SubsetRandomSampler drawing
    from seeded Generators, RandomSampler with num_samples, BatchSampler over a
    SequentialSampler with and without drop_last, and a DataLoader driven by a batch_sampler,
    as class-imbalance training code uses them."""
    D = L.utils.data
    data = D.TensorDataset(L.arange(10.0), L.arange(10) % 3)
    w = [0.1, 0.9, 0.5, 0.5, 2.0, 0.0, 1.0, 0.3, 0.3, 0.4]
    weighted = list(D.WeightedRandomSampler(w, 12, replacement=True,
                                            generator=L.Generator().manual_seed(1)))
    unique = list(D.WeightedRandomSampler(L.tensor(w), 5, replacement=False,
                                          generator=L.Generator().manual_seed(2)))
    subset = list(D.SubsetRandomSampler([9, 3, 4, 7], generator=L.Generator().manual_seed(3)))
    rs = list(D.RandomSampler(data, replacement=True, num_samples=6,
                              generator=L.Generator().manual_seed(4)))
    bs = list(D.BatchSampler(D.SequentialSampler(range(7)), 3, drop_last=False))
    bs_drop = D.BatchSampler(D.SequentialSampler(range(7)), 3, drop_last=True)
    loader = D.DataLoader(data, batch_sampler=[[0, 2], [5, 1, 3]])
    return weighted, unique, subset, rs, bs, list(bs_drop), len(bs_drop), \
        [tuple(b) for b in loader]


@program
def random_split_concat_and_subset(L):
    """random_split by counts and by fractions with a seeded Generator, ConcatDataset's
    cumulative sizes and its negative and out-of-range indices, Subset of a Subset, and
    StackDataset pairing two datasets by keyword."""
    D = L.utils.data
    base = D.TensorDataset(L.arange(10.0) * 2, L.arange(10))
    a, b = D.random_split(base, [7, 3], generator=L.Generator().manual_seed(0))
    c, d, e = D.random_split(range(10), [0.5, 0.3, 0.2], generator=L.Generator().manual_seed(1))
    cat = D.ConcatDataset([a, b, D.TensorDataset(L.tensor([100.0]), L.tensor([100]))])
    sub = D.Subset(D.Subset(base, [9, 8, 7, 6]), [1, 3])
    stack = D.StackDataset(first=base, second=D.TensorDataset(L.arange(10.0) + 0.5))
    return list(a.indices), list(b.indices), list(c), list(d), list(e), \
        cat.cumulative_sizes, len(cat), cat[-1], cat[7], cat[-11], \
        err(lambda: cat[11]), err(lambda: cat[-12]), [sub[i] for i in range(len(sub))], \
        stack[4]


@program
def loader_misuse_errors(L):
    """The words of a DataLoader given batch_size beside a batch_sampler, a sampler beside
    shuffle, a negative batch size, random_split's lengths that do not add up, a
    WeightedRandomSampler with a non-positive num_samples and with too few non-zero weights
    for a draw without replacement."""
    D = L.utils.data
    data = D.TensorDataset(L.arange(4.0))
    return [err(lambda: D.DataLoader(data, batch_size=2, batch_sampler=[[0, 1]])),
            err(lambda: D.DataLoader(data, sampler=D.SequentialSampler(data), shuffle=True)),
            err(lambda: D.DataLoader(data, batch_size=-1)),
            err(lambda: D.random_split(data, [3, 3])),
            err(lambda: D.WeightedRandomSampler([1.0, 2.0], 0)),
            err(lambda: list(D.WeightedRandomSampler([1.0, 0.0, 0.0], 2, replacement=False))),
            err(lambda: D.BatchSampler(D.SequentialSampler(data), 0, False))]


@program
def tensor_dataset_training_epochs_with_a_seeded_loader(L):
    """Two epochs of minibatch SGD on a TensorDataset through a shuffling DataLoader whose
    Generator is seeded once (so the second epoch gets a new order), a float64 linear model
    and MSE: the losses, the orders, and the weights after."""
    D = L.utils.data
    X, y = L.tensor(normal64(10, 3, seed=2)), L.tensor(normal64(10, 1, seed=3))
    loader = D.DataLoader(D.TensorDataset(X, y, L.arange(10)), batch_size=4, shuffle=True,
                          generator=L.Generator().manual_seed(11))
    L.manual_seed(0)
    model = L.nn.Linear(3, 1).double()
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    losses, orders = [], []
    for _ in range(2):
        for xb, yb, ib in loader:
            opt.zero_grad()
            loss = L.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            orders.append(ib.tolist())
    return losses, orders, model.weight, model.bias




@program
def records_decoded_from_a_read_only_byte_buffer(L):
    """A Dataset over fixed-size binary records in one bytes object (as a file read whole, or
    a memory map, gives them): each item is np.frombuffer of its slice (a read-only array)
    made a tensor by from_numpy, which shares the memory and warns that it is not writable
    (every time under set_warn_always, as the harness runs); the loader collates them."""
    D = L.utils.data
    raw = normal32(5, 4, seed=48).tobytes()

    class Records(D.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            row = np.frombuffer(raw, dtype=np.float32, count=4, offset=16 * i)
            return L.from_numpy(row[:3]), int(row[3] > 0)

    batches = list(D.DataLoader(Records(), batch_size=2))
    return batches, L.from_numpy(np.frombuffer(raw, dtype=np.float32)).view(5, 4).sum(0)

# ----------------------------------------------------------------------------------------------
# training-loop utilities
# ----------------------------------------------------------------------------------------------
def _quad_problem(L, seed=0, n=4):
    """A float64 Linear(n, 2) and a least-squares loss on fixed data."""
    L.manual_seed(seed)
    model = L.nn.Linear(n, 2).double()
    X, Y = L.tensor(normal64(6, n, seed=seed + 1)), L.tensor(normal64(6, 2, seed=seed + 2))
    return model, lambda: ((model(X) - Y) ** 2).mean()


@program
def sequential_warmup_then_cosine_with_a_state_dict_resume(L):
    """SequentialLR of a LinearLR warm-up and CosineAnnealingLR on SGD with two param groups;
    after four steps the optimizer's and scheduler's state dicts are loaded into fresh ones,
    which go on as the first would have (the lrs of both runs compared)."""
    S = L.optim.lr_scheduler
    model, loss_of = _quad_problem(L)

    def make():
        opt = L.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.05}],
                          lr=0.1, momentum=0.9)
        warm = S.LinearLR(opt, start_factor=0.25, total_iters=3)
        cos = S.CosineAnnealingLR(opt, T_max=6, eta_min=0.001)
        return opt, S.SequentialLR(opt, [warm, cos], milestones=[3])

    opt, sched = make()
    lrs = []
    for _ in range(4):
        opt.zero_grad()
        loss_of().backward()
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    saved_o, saved_s = opt.state_dict(), sched.state_dict()
    opt2, sched2 = make()
    opt2.load_state_dict(saved_o)
    sched2.load_state_dict(saved_s)
    tail1, tail2 = [], []
    for o, s, out in ((opt, sched, tail1),):
        for _ in range(4):
            s.step()
            out.append([g["lr"] for g in o.param_groups])
    for _ in range(4):
        sched2.step()
        tail2.append([g["lr"] for g in opt2.param_groups])
    return lrs, tail1, tail2, sorted(saved_s), saved_s["_milestones"], \
        saved_s["last_epoch"], opt2.state_dict()["state"][0]["momentum_buffer"]


@program
def chained_constant_exponential_and_multiplicative(L):
    """ChainedScheduler of ConstantLR, ExponentialLR and MultiplicativeLR (a lambda), stepped
    together each epoch; get_last_lr and the group lrs, and the chained state dict's
    per-scheduler entries."""
    S = L.optim.lr_scheduler
    model, loss_of = _quad_problem(L, seed=3)
    opt = L.optim.Adam(model.parameters(), lr=0.01)
    chain = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=2),
                                S.ExponentialLR(opt, gamma=0.9),
                                S.MultiplicativeLR(opt, lambda e: 0.95)])
    out = []
    for _ in range(5):
        opt.zero_grad()
        loss_of().backward()
        opt.step()
        chain.step()
        out.append(chain.get_last_lr()[0])
    sd = chain.state_dict()
    return out, sorted(sd), len(sd["_schedulers"]), model.weight


@program
def one_cycle_three_phase_cycles_momentum_and_steps_past_the_end(L):
    """OneCycleLR (three_phase, linear annealing, cycle_momentum on SGD's momentum) over
    epochs x steps_per_epoch; the lr and momentum per step; one step past total_steps raises
    its ValueError."""
    S = L.optim.lr_scheduler
    model, loss_of = _quad_problem(L, seed=5)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=0.5, epochs=2, steps_per_epoch=4, three_phase=True,
                         anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0)
    lrs, moms = [], []
    for _ in range(8):
        opt.zero_grad()
        loss_of().backward()
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        if len(lrs) < 8:
            sched.step()
    sched.step()
    return lrs, moms, err(sched.step), model.weight, \
        err(lambda: S.OneCycleLR(opt, max_lr=0.1)), \
        err(lambda: S.OneCycleLR(opt, max_lr=0.1, total_steps=4, pct_start=1.5))


@program
def cosine_warm_restarts_with_fractional_epochs(L):
    """CosineAnnealingWarmRestarts (T_0=2, T_mult=2) stepped with fractional epochs
    epoch + i / iters inside each epoch, as its documentation suggests; T_cur and the lrs;
    the errors of T_0 <= 0 and a float T_mult."""
    S = L.optim.lr_scheduler
    model, loss_of = _quad_problem(L, seed=7)
    opt = L.optim.AdamW(model.parameters(), lr=0.02, weight_decay=0.1)
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=1e-4)
    iters, lrs, tcur = 3, [], []
    for epoch in range(4):
        for i in range(iters):
            opt.zero_grad()
            loss_of().backward()
            opt.step()
            sched.step(epoch + i / iters)
            lrs.append(sched.get_last_lr()[0])
            tcur.append(sched.T_cur)
    return lrs, tcur, sched.T_i, model.bias, \
        err(lambda: S.CosineAnnealingWarmRestarts(opt, T_0=0)), \
        err(lambda: S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5))


@program
def reduce_on_plateau_max_mode_cooldown_and_state(L):
    """ReduceLROnPlateau in 'max' mode with an absolute threshold, patience, cooldown and
    per-group min_lr, fed a made-up validation accuracy; its state dict loaded into a fresh
    scheduler continues the same; a bad mode raises."""
    S = L.optim.lr_scheduler
    model, _ = _quad_problem(L, seed=9)
    opt = L.optim.SGD([{"params": [model.weight]}, {"params": [model.bias]}], lr=1.0)
    sched = S.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1, threshold=0.01,
                                threshold_mode="abs", cooldown=1, min_lr=[0.1, 0.3])
    acc = [0.5, 0.6, 0.605, 0.6, 0.59, 0.7, 0.69, 0.69, 0.69, 0.69]
    lrs = []
    for a in acc[:5]:
        sched.step(a)
        lrs.append([g["lr"] for g in opt.param_groups])
    state = sched.state_dict()
    sched2 = S.ReduceLROnPlateau(opt, mode="max")
    sched2.load_state_dict(state)
    for a in acc[5:]:
        sched2.step(a)
        lrs.append([g["lr"] for g in opt.param_groups])
    return lrs, state["best"], state["num_bad_epochs"], state["cooldown_counter"], \
        sched2.get_last_lr(), err(lambda: S.ReduceLROnPlateau(opt, mode="up"))


@program
def clip_grad_norm_and_value_foreach_inf_and_nonfinite(L):
    """clip_grad_norm_ with foreach=True (2-norm and inf-norm) and its returned total norm,
    clip_grad_value_ with foreach, a NaN gradient with error_if_nonfinite raising its
    RuntimeError, and get_total_norm / clip_grads_with_norm_ used as two steps."""
    U = L.nn.utils
    L.manual_seed(2)
    net = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.Tanh(), L.nn.Linear(4, 2)).double()
    x = L.tensor(normal64(5, 3, seed=4))
    out = []
    for norm_type in (2.0, float("inf"), 1.0):
        net.zero_grad()
        (net(x) ** 2).sum().backward()
        total = U.clip_grad_norm_(net.parameters(), max_norm=0.5, norm_type=norm_type,
                                  foreach=True)
        out.append((total, [p.grad.clone() for p in net.parameters()]))
    net.zero_grad()
    (net(x) ** 3).sum().backward()
    U.clip_grad_value_(net.parameters(), clip_value=0.1, foreach=True)
    clipped = [p.grad.clone() for p in net.parameters()]
    net[0].weight.grad[0, 0] = float("nan")
    bad = err(lambda: U.clip_grad_norm_(net.parameters(), 1.0, error_if_nonfinite=True))
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    net.zero_grad()
    (net(x) ** 2).sum().backward()
    grads = [p.grad for p in net.parameters()]
    tn = U.get_total_norm(grads, norm_type=2.0)
    U.clip_grads_with_norm_(net.parameters(), 0.25, tn)
    return out, clipped, bad, tn, [p.grad for p in net.parameters()]


@program
def param_group_added_mid_run_and_zero_grad_modes(L):
    """Fine-tuning code that freezes a backbone, trains the head with Adam, then unfreezes and
    add_param_group's the backbone at a lower lr (defaults filled in), zero_grad with
    set_to_none False (zeroed tensors kept) and True (None), overlapping groups refused,
    and the optimizer state dict's groups."""
    L.manual_seed(4)
    backbone, head = L.nn.Linear(3, 4).double(), L.nn.Linear(4, 1).double()
    for p in backbone.parameters():
        p.requires_grad_(False)
    x, y = L.tensor(normal64(6, 3, seed=5)), L.tensor(normal64(6, 1, seed=6))
    opt = L.optim.Adam(head.parameters(), lr=0.05, betas=(0.8, 0.99))
    loss_of = lambda: L.nn.functional.smooth_l1_loss(head(L.relu(backbone(x))), y, beta=0.5)
    losses = []
    for step in range(4):
        if step == 2:
            for p in backbone.parameters():
                p.requires_grad_(True)
            opt.add_param_group({"params": backbone.parameters(), "lr": 0.01})
        opt.zero_grad(set_to_none=(step % 2 == 0))
        if step == 3:
            kept = [p.grad for p in head.parameters()]
        loss = loss_of()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    groups = [{k: v for k, v in g.items() if k != "params"} for g in
              opt.state_dict()["param_groups"]]
    overlap = err(lambda: opt.add_param_group({"params": [head.bias]}))
    return losses, kept, groups, overlap, backbone.weight, \
        opt.state_dict()["state"][2]["exp_avg_sq"]


@program
def gradient_accumulation_matches_the_full_batch(L):
    """Gradient accumulation over four micro-batches (each loss divided by the number of
    steps) gives the full batch's mean-loss gradient; the step after is the same; a
    BatchNorm-free model in float64."""
    L.manual_seed(6)
    net = L.nn.Sequential(L.nn.Linear(3, 5), L.nn.GELU(), L.nn.Linear(5, 2)).double()
    X, Y = L.tensor(normal64(8, 3, seed=7)), L.tensor(labels(8, 2, seed=8))
    crit = L.nn.CrossEntropyLoss()
    net.zero_grad()
    crit(net(X), Y).backward()
    full = [p.grad.clone() for p in net.parameters()]
    opt = L.optim.SGD(net.parameters(), lr=0.3, nesterov=True, momentum=0.5)
    opt.zero_grad()
    for xb, yb in zip(X.chunk(4), Y.chunk(4)):
        (crit(net(xb), yb) / 4).backward()
    acc = [p.grad.clone() for p in net.parameters()]
    opt.step()
    return full, acc, [p for p in net.parameters()]


@program
def ema_of_weights_by_lerp_and_foreach(L):
    """An exponential moving average of a model's weights kept by hand, as diffusion and
    self-supervised training code does: a deepcopy with requires_grad off, updated under
    no_grad with lerp_ (and once with _foreach_mul_ / _foreach_add_), buffers copied; the
    EMA model's output after three Adam steps."""
    L.manual_seed(8)
    net = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.BatchNorm1d(4), L.nn.Linear(4, 1)).double()
    ema = copy.deepcopy(net).requires_grad_(False)
    x = L.tensor(normal64(6, 3, seed=9))
    opt = L.optim.Adam(net.parameters(), lr=0.1)
    decay = 0.9
    for step in range(3):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
        with L.no_grad():
            if step == 1:
                ps = list(ema.parameters())
                L._foreach_mul_(ps, decay)
                L._foreach_add_(ps, list(net.parameters()), alpha=1 - decay)
            else:
                for e, p in zip(ema.parameters(), net.parameters()):
                    e.lerp_(p, 1 - decay)
            for e, b in zip(ema.buffers(), net.buffers()):
                e.copy_(b)
    ema.eval()
    return ema(x), list(ema.parameters()), ema[1].num_batches_tracked, \
        ema[0].weight.requires_grad


@program
def swa_averaged_model_swalr_and_update_bn(L):
    """Stochastic weight averaging as the PyTorch recipe runs it: AveragedModel (equal average)
    and an EMA AveragedModel from get_ema_multi_avg_fn, SWALR annealing the lr (cos) after a
    start epoch, update_params each epoch, then update_bn recomputing BatchNorm statistics
    over a loader; n_averaged and the averaged model's output."""
    swa = L.optim.swa_utils
    D = L.utils.data
    L.manual_seed(10)
    net = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.BatchNorm1d(4), L.nn.ReLU(),
                          L.nn.Linear(4, 1)).double()
    X, Y = L.tensor(normal64(8, 3, seed=11)), L.tensor(normal64(8, 1, seed=12))
    loader = D.DataLoader(D.TensorDataset(X, Y), batch_size=4)
    avg = swa.AveragedModel(net)
    ema = swa.AveragedModel(net, multi_avg_fn=swa.get_ema_multi_avg_fn(0.8))
    opt = L.optim.SGD(net.parameters(), lr=0.2)
    sched = swa.SWALR(opt, swa_lr=0.05, anneal_epochs=2, anneal_strategy="cos")
    lrs = []
    for epoch in range(4):
        for xb, yb in loader:
            opt.zero_grad()
            L.nn.functional.mse_loss(net(xb), yb).backward()
            opt.step()
        if epoch >= 1:
            avg.update_parameters(net)
            ema.update_parameters(net)
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    swa.update_bn(loader, avg)
    avg.eval()
    ema.eval()
    return lrs, avg.n_averaged, avg(X), ema(X), avg.module[1].running_mean, \
        avg.module[1].running_var, sorted(avg.state_dict())



# ----------------------------------------------------------------------------------------------
# the Module API
# ----------------------------------------------------------------------------------------------
@program
def buffers_persistent_and_not_named_modules_with_duplicates(L):
    """A module with a persistent and a non-persistent buffer (only the first in the state
    dict, both in buffers() and moved by .double()), a submodule reused twice: named_modules
    with a prefix, with remove_duplicate=False, named_parameters(remove_duplicate=False),
    named_buffers(recurse=False), and register_buffer's refusals."""
    nn = L.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(2, 2)
            self.a = self.shared
            self.b = nn.Sequential(self.shared, nn.ReLU())
            self.register_buffer("scale", L.ones(2))
            self.register_buffer("cache", L.zeros(2), persistent=False)
            self.register_buffer("nothing", None)

    m = Block().double()
    return [sorted(m.state_dict()), [n for n, _ in m.named_buffers()],
            [b.dtype for b in m.buffers()],
            [n for n, _ in m.named_modules(prefix="root")],
            [n for n, _ in m.named_modules(remove_duplicate=False)],
            [n for n, _ in m.named_parameters(remove_duplicate=False)],
            [n for n, _ in m.named_buffers(recurse=False)],
            err(lambda: m.register_buffer("a.b", L.zeros(1))),
            err(lambda: m.register_buffer("shared", L.zeros(1))),
            err(lambda: m.register_buffer("", L.zeros(1))),
            err(lambda: m.register_buffer("x", [1.0])),
            err(lambda: m.register_parameter("p", L.zeros(1)))]


@program
def apply_an_init_function_and_load_non_strict(L):
    """Module.apply with an init function (kaiming_normal_ fan_out for convs, constants for
    norms, xavier_uniform_ with a gain for linears) under a seed; load_state_dict with
    strict=False into a model with a new head reports the missing and unexpected keys (and
    its namedtuple fields and repr); strict loading's size-mismatch words."""
    nn = L.nn

    def init(m):
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 0.5)
            nn.init.constant_(m.bias, 0.1)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain("tanh"))

    def make(classes):
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(),
                             nn.Linear(8, classes))

    L.manual_seed(3)
    src = make(3).apply(init)
    dst = make(5)
    sd = {k: v for k, v in src.state_dict().items() if not k.startswith("3.")}
    sd["extra.weight"] = L.zeros(1)
    result = dst.load_state_dict(sd, strict=False)
    return src[0].weight, src[3].weight, src[1].bias, result.missing_keys, \
        result.unexpected_keys, repr(result), dst[0].weight, \
        err(lambda: dst.load_state_dict(src.state_dict()))


@program
def forward_pre_hooks_with_kwargs_and_full_backward_hooks(L):
    """A forward pre-hook with with_kwargs=True that rewrites a keyword argument, a forward
    hook with with_kwargs that sees it, a full backward hook that scales grad_input, a
    backward pre-hook that sees grad_output, prepend=True ordering, and handles removed."""
    nn = L.nn
    calls = []

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x, *, temperature=1.0):
            return self.lin(x) / temperature

    L.manual_seed(5)
    m = Scaled().double()

    def pre(mod, args, kwargs):
        calls.append(("pre", kwargs.get("temperature")))
        return args, {"temperature": kwargs.get("temperature", 1.0) * 2}

    def first(mod, args):
        calls.append("first")

    def fwd(mod, args, kwargs, out):
        calls.append(("fwd", kwargs["temperature"]))
        return out + 1

    def bwd(mod, gin, gout):
        calls.append(("bwd", len(gin), len(gout)))
        return (gin[0] * 3,)

    def bpre(mod, gout):
        calls.append("bpre")
        return (gout[0] * 0.5,)

    hs = [m.register_forward_pre_hook(pre, with_kwargs=True),
          m.register_forward_pre_hook(first, prepend=True),
          m.register_forward_hook(fwd, with_kwargs=True),
          m.register_full_backward_hook(bwd),
          m.register_full_backward_pre_hook(bpre)]
    x = L.tensor(normal64(4, 3, seed=6), requires_grad=True)
    y = m(x, temperature=0.5)
    y.sum().backward()
    gx = x.grad.clone()
    for h in hs:
        h.remove()
    x.grad = None
    m(x).sum().backward()
    return y, gx, x.grad, m.lin.weight.grad, calls


@program
def custom_parametrizations_cached_and_removed(L):
    """register_parametrization with a custom Symmetric module and a second one chained
    (a scaling), right_inverse used on assignment, the state dict's parametrizations keys,
    parametrize.cached() while evaluating twice, is_parametrized, a gradient through the
    chain, saving the parametrized module whole (refused: only its state dict), and
    remove_parametrizations with leave_parametrized True and False."""
    nn = L.nn
    P = nn.utils.parametrize

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu()

    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(L.tensor(2.0, dtype=L.float64))

        def forward(self, X):
            return X * self.s

    L.manual_seed(7)
    lin = nn.Linear(3, 3).double()
    P.register_parametrization(lin, "weight", Symmetric())
    P.register_parametrization(lin, "weight", Scale())
    x = L.tensor(normal64(2, 3, seed=8))
    with P.cached():
        a = lin(x)
        b = lin(x)
    (a + b).pow(2).sum().backward()
    keys = sorted(lin.state_dict())
    g_orig = lin.parametrizations.weight.original.grad
    g_s = lin.parametrizations.weight[1].s.grad
    lin2 = nn.Linear(3, 3).double()
    P.register_parametrization(lin2, "weight", Symmetric())
    with L.no_grad():
        lin2.weight = L.tensor(normal64(3, 3, seed=9))
    orig2 = lin2.parametrizations.weight.original.clone()
    pickled = err(lambda: L.save(lin2, io.BytesIO()))
    P.remove_parametrizations(lin2, "weight", leave_parametrized=False)
    P.remove_parametrizations(lin, "weight", leave_parametrized=True)
    return a, keys, g_orig, g_s, orig2, pickled, lin2.weight, lin.weight, \
        P.is_parametrized(lin), type(lin).__name__, \
        err(lambda: P.remove_parametrizations(lin, "weight"))


@program
def flat_parameter_vectors_and_a_line_search(L):
    """parameters_to_vector / vector_to_parameters as natural-gradient and evolution-strategy
    code uses them: the flat gradient, a backtracking line search along it writing trial
    points back into the model under no_grad, and the errors of a non-tensor vector."""
    U = L.nn.utils
    L.manual_seed(9)
    net = L.nn.Sequential(L.nn.Linear(2, 3), L.nn.Tanh(), L.nn.Linear(3, 1)).double()
    X, Y = L.tensor(normal64(7, 2, seed=10)), L.tensor(normal64(7, 1, seed=11))
    loss_of = lambda: ((net(X) - Y) ** 2).mean()
    loss = loss_of()
    grads = L.autograd.grad(loss, list(net.parameters()))
    g = L.cat([t.reshape(-1) for t in grads])
    theta = U.parameters_to_vector(net.parameters())
    step, tried = 1.0, []
    with L.no_grad():
        while step > 1e-3:
            U.vector_to_parameters(theta - step * g, net.parameters())
            trial = loss_of().item()
            tried.append(trial)
            if trial < loss.item() - 1e-4 * step * g.dot(g).item():
                break
            step *= 0.5
    return theta.shape, g, tried, step, U.parameters_to_vector(net.parameters()), \
        err(lambda: U.vector_to_parameters([1.0], net.parameters()))


@program
def pruning_unstructured_structured_global_and_removed(L):
    """torch.nn.utils.prune: l1_unstructured by amount and by count, ln_structured along
    dim 0 with n=2, global_unstructured over two layers, the weight_orig / weight_mask
    state-dict keys, a forward and gradient through the mask, is_pruned, and remove making
    the pruning permanent; an amount above 1 is refused."""
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    L.manual_seed(11)
    net = L.nn.Sequential(L.nn.Linear(4, 5), L.nn.ReLU(), L.nn.Linear(5, 3)).double()
    prune.l1_unstructured(net[0], "weight", amount=0.3)
    prune.ln_structured(net[2], "weight", amount=1, n=2, dim=0)
    prune.global_unstructured([(net[0], "bias"), (net[2], "bias")],
                              pruning_method=prune.L1Unstructured, amount=3)
    keys = sorted(net.state_dict())
    x = L.tensor(normal64(3, 4, seed=12))
    net(x).sum().backward()
    masks = [net[0].weight_mask, net[2].weight_mask, net[0].bias_mask, net[2].bias_mask]
    g = net[0].weight_orig.grad
    pruned = prune.is_pruned(net)
    for layer, name in ((net[0], "weight"), (net[2], "weight")):
        prune.remove(layer, name)
    return keys, masks, g, pruned, sorted(net.state_dict()), net[0].weight, \
        err(lambda: prune.l1_unstructured(net[2], "weight", amount=1.5)), \
        err(lambda: prune.l1_unstructured(net[2], "weight", amount=30))



# ----------------------------------------------------------------------------------------------
# numerical idioms
# ----------------------------------------------------------------------------------------------
@program
def vae_loss_with_independent_normals_and_a_mixture_prior(L):
    """A VAE-style loss: the encoder's Normal made an Independent over the latent dims,
    rsample under a seed, log_prob and entropy per sample, the analytic KL to a standard
    normal (kl_divergence of two Independents) beside a Monte-Carlo KL to a
    MixtureSameFamily prior, a Bernoulli decoder by logits; gradients to the encoder."""
    dist = L.distributions
    L.manual_seed(12)
    enc = L.nn.Linear(4, 6).double()
    dec = L.nn.Linear(3, 4).double()
    x = L.tensor((normal64(5, 4, seed=13) > 0).astype(np.float64))
    mu, raw = enc(x).chunk(2, -1)
    q = dist.Independent(dist.Normal(mu, L.nn.functional.softplus(raw) + 1e-3), 1)
    p0 = dist.Independent(dist.Normal(L.zeros_like(mu), L.ones_like(mu)), 1)
    z = q.rsample()
    mix = dist.MixtureSameFamily(
        dist.Categorical(logits=L.tensor([0.2, -0.1], dtype=L.float64)),
        dist.Independent(dist.Normal(L.tensor(normal64(2, 3, seed=14)),
                                     L.tensor([[1.0, 0.5, 2.0], [0.7, 1.0, 1.5]],
                                              dtype=L.float64)), 1))
    recon = dist.Independent(dist.Bernoulli(logits=dec(z)), 1).log_prob(x)
    kl = dist.kl_divergence(q, p0)
    mc_kl = q.log_prob(z) - mix.log_prob(z)
    loss = (kl - recon).mean() + 0.1 * mc_kl.mean()
    loss.backward()
    return z, kl, mc_kl, q.entropy(), q.batch_shape, q.event_shape, loss, enc.weight.grad, \
        dec.bias.grad, mix.mean


@program
def policy_gradient_with_categorical_and_entropy_bonus(L):
    """REINFORCE with a baseline on fixed trajectories: Categorical(logits) over actions,
    log_prob of the taken actions, discounted returns computed backwards, normalised
    advantages, an entropy bonus, a value loss, clip_grad_norm_ and an Adam step; also
    Categorical(probs) normalisation, its entropy, enumerate_support and a KL between
    two Categoricals."""
    dist = L.distributions
    L.manual_seed(13)
    policy = L.nn.Sequential(L.nn.Linear(3, 8), L.nn.Tanh(), L.nn.Linear(8, 4)).double()
    value = L.nn.Linear(3, 1).double()
    obs = L.tensor(normal64(6, 3, seed=15))
    actions = L.tensor(labels(6, 4, seed=16))
    rewards = [1.0, 0.0, -0.5, 1.0, 0.2, 0.0]
    R, returns = 0.0, []
    for r in reversed(rewards):
        R = r + 0.9 * R
        returns.insert(0, R)
    returns = L.tensor(returns, dtype=L.float64)
    pi = dist.Categorical(logits=policy(obs))
    v = value(obs).squeeze(-1)
    adv = returns - v.detach()
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    loss = -(pi.log_prob(actions) * adv).mean() - 0.01 * pi.entropy().mean() + \
        0.5 * L.nn.functional.mse_loss(v, returns)
    params = list(policy.parameters()) + list(value.parameters())
    opt = L.optim.Adam(params, lr=0.01)
    opt.zero_grad()
    loss.backward()
    norm = L.nn.utils.clip_grad_norm_(params, 0.5)
    opt.step()
    c = dist.Categorical(probs=L.tensor([[2.0, 1.0, 1.0], [0.1, 0.1, 0.8]], dtype=L.float64))
    d = dist.Categorical(logits=L.zeros(2, 3, dtype=L.float64))
    return loss, norm, pi.probs, c.probs, c.entropy(), c.enumerate_support(), \
        dist.kl_divergence(c, d), policy[0].weight


@program
def torch_func_per_sample_grads_jacrev_and_hessian(L):
    """torch.func on a small model: functional_call with a params dict, grad of the loss
    (argnums over the params), per-sample gradients by vmap(grad) with in_dims
    (None, 0, 0), jacrev of the outputs wrt the inputs, hessian of a scalar function, and
    jvp; compared with the ordinary backward where they meet."""
    fn = L.func
    L.manual_seed(14)
    model = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.Tanh(), L.nn.Linear(4, 1)).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    X, Y = L.tensor(normal64(5, 3, seed=17)), L.tensor(normal64(5, 1, seed=18))

    def loss(p, x, y):
        out = fn.functional_call(model, p, (x.unsqueeze(0),))
        return ((out - y.unsqueeze(0)) ** 2).mean()

    per = fn.vmap(fn.grad(loss), in_dims=(None, 0, 0))(params, X, Y)
    whole = fn.grad(lambda p: sum(loss(p, X[i], Y[i]) for i in range(5)) / 5)(params)
    jac = fn.jacrev(lambda x: fn.functional_call(model, params, (x,)))(X[:2])
    hess = fn.hessian(lambda x: (x.sin() * x.roll(1)).sum())(X[0])
    _, tangent = fn.jvp(lambda x: x.exp().cumsum(0), (X[1],), (L.ones(3, dtype=L.float64),))
    return {k: v.shape for k, v in per.items()}, per["0.weight"][2], whole["2.bias"], \
        per["2.bias"].mean(0), jac.shape, jac[1, 0, 1], hess, tangent


@program
def einsum_heavy_bilinear_attention_and_tensor_contractions(L):
    """einsum the way research code leans on it: a bilinear score b q W k, multi-head
    attention with '...' batching, a batched trace and diagonal, an outer product over two
    batches, a three-operand contraction, implicit output order and repeated sublist form;
    gradients of all the operands."""
    q = leaf(L, 2, 3, 4, seed=19, grad=True)
    k = leaf(L, 2, 5, 4, seed=20, grad=True)
    W = leaf(L, 4, 4, seed=21, grad=True)
    M = leaf(L, 3, 3, 3, seed=22, grad=True)
    score = L.einsum("bqd,de,bke->bqk", q, W, k)
    heads = q.view(2, 3, 2, 2)
    att = L.einsum("...qhd,...khd->...hqk", heads, k.view(2, 5, 2, 2)).softmax(-1)
    ctx = L.einsum("...hqk,...khd->...qhd", att, k.view(2, 5, 2, 2))
    tr = L.einsum("bii->b", M)
    dg = L.einsum("bii->bi", M)
    outer = L.einsum("bi,bj->bij", q[:, 0], k[:, 0])
    implicit = L.einsum("ij,jk", W, W)
    sub = L.einsum(M, [0, 1, 1], W[:3, :3], [1, 2], [0, 2])
    total = score.sum() + ctx.pow(2).sum() + tr.sum() + dg.prod() + outer.sum() + \
        implicit.trace() + sub.sum()
    total.backward()
    return score, ctx, tr, dg, implicit, sub, q.grad, k.grad, W.grad, M.grad


@program
def small_linear_algebra_solver(L):
    """A Gauss-Newton / ridge solver: normal equations solved by cholesky + cholesky_solve and
    by linalg.solve, lstsq for the overdetermined system, a QR solve with
    solve_triangular, PCA by eigh of the covariance (signs fixed), slogdet and inv, a
    gradient through the ridge solution to the regularisation weight, and the error of a
    singular solve."""
    la = L.linalg
    A = L.tensor(normal64(8, 3, seed=23))
    b = L.tensor(normal64(8, 2, seed=24))
    lam = L.tensor(0.3, dtype=L.float64, requires_grad=True)
    G = A.T @ A + lam * L.eye(3, dtype=L.float64)
    Lc = la.cholesky(G)
    x1 = L.cholesky_solve(A.T @ b, Lc)
    x2 = la.solve(G, A.T @ b)
    ls = la.lstsq(A, b)
    Q, R = la.qr(A)
    x3 = la.solve_triangular(R, Q.T @ b, upper=True)
    C = L.cov(A.T)
    evals, evecs = la.eigh(C)
    evecs = evecs * evecs[0:1].sign()
    sign, logdet = la.slogdet(G)
    x1.pow(2).sum().backward()
    singular = L.zeros(2, 2, dtype=L.float64)
    return x1, x2, ls.solution, x3, evals, evecs, sign, logdet, la.inv(G), lam.grad, \
        err(lambda: la.solve(singular, L.ones(2, 1, dtype=L.float64))), \
        err(lambda: la.cholesky(-L.eye(2, dtype=L.float64)))


@program
def segment_sums_scatter_reduce_and_masked_updates(L):
    """GNN-style message passing and indexed updates: index_add_ of edge messages into nodes
    (differentiable, out of place), scatter_reduce 'amax' and 'mean' with include_self
    False, scatter_add for degrees, masked_scatter filling a mask from a source,
    index_put_ with accumulate, index_copy and index_fill; gradients back to the features."""
    feats = leaf(L, 5, 3, seed=25, grad=True)
    src = L.tensor([0, 1, 2, 3, 4, 0, 2])
    dst = L.tensor([1, 2, 3, 4, 0, 2, 2])
    msgs = feats[src] * 0.5
    summed = L.zeros(5, 3, dtype=L.float64).index_add(0, dst, msgs)
    amax = L.zeros(5, 3, dtype=L.float64).scatter_reduce(
        0, dst[:, None].expand(-1, 3), msgs, reduce="amax", include_self=False)
    mean = L.full((5, 3), 7.0, dtype=L.float64).scatter_reduce(
        0, dst[:, None].expand(-1, 3), msgs, reduce="mean", include_self=False)
    deg = L.zeros(5, dtype=L.long).scatter_add(0, dst, L.ones_like(dst))
    mask = feats.detach() > 0
    filled = L.zeros(5, 3, dtype=L.float64).masked_scatter(mask, feats * 10)
    acc = L.zeros(5, dtype=L.float64)
    acc.index_put_((dst,), L.arange(7, dtype=L.float64), accumulate=True)
    copied = L.zeros(5, 3, dtype=L.float64).index_copy(0, L.tensor([4, 0]), feats[:2])
    fill = feats.index_fill(1, L.tensor([1]), -1.0)
    (summed.sum() + (amax * mean).sum() + filled.pow(2).sum() + copied.sum() +
     fill.sum()).backward()
    return summed, amax, mean, deg, filled, acc, copied, fill, feats.grad


@program
def data_processing_sort_topk_kthvalue_searchsorted_bucketize(L):
    """Data-processing code on scores: stable descending sort with ties, topk (largest and
    smallest, unsorted compared as sets), kthvalue and median along a dim, searchsorted
    (right, a sorter), bucketize of values into bin edges (right), torch.where with
    broadcasting to clamp outliers, unique with inverse and counts, histc, and a
    differentiable top-k mean."""
    s = leaf(L, 3, 6, seed=26, grad=True)
    ties = L.tensor([3, 1, 3, 2, 1, 3])
    order = L.sort(ties, descending=True, stable=True)
    top = s.topk(2, dim=1)
    low = s.topk(3, dim=1, largest=False, sorted=True)
    kth = s.kthvalue(2, dim=0, keepdim=True)
    med = s.median(dim=1)
    edges = L.tensor([-1.0, 0.0, 0.5, 2.0], dtype=L.float64)
    buckets = L.bucketize(s.detach(), edges, right=True)
    unsorted = L.tensor([5.0, 1.0, 3.0])
    ss = L.searchsorted(unsorted, L.tensor([2.0, 3.0, 6.0]), right=True,
                        sorter=L.argsort(unsorted))
    ss2 = L.searchsorted(edges, s.detach()[0], side="left")
    lim = L.tensor([[0.5], [1.0], [1.5]], dtype=L.float64)
    clamped = L.where(s.abs() > lim, lim * s.sign(), s)
    u, inv, cnt = L.unique(ties, sorted=True, return_inverse=True, return_counts=True)
    h = L.histc(s.detach(), bins=4, min=-2, max=2)
    (top.values.mean() + clamped.sum() + kth.values.sum() + med.values.sum()).backward()
    return order, top, low, kth, med, buckets, ss, ss2, clamped, u, inv, cnt, h, s.grad



# ----------------------------------------------------------------------------------------------
# vision and sequence models
# ----------------------------------------------------------------------------------------------
@program
def small_unet_transposed_convs_interpolate_and_pixel_shuffle(L):
    """A two-level U-Net: double 3x3 conv blocks with BatchNorm, max-pool down, one up path by
    ConvTranspose2d (stride 2, output_padding to an odd size), one by bilinear F.interpolate
    (align_corners False) and one by a conv + pixel_shuffle, the skip crops by F.pad, a
    1x1 head and BCE-with-logits against a mask; float32 forward and gradients, an SGD step."""
    nn, F = L.nn, L.nn.functional

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.d1, self.d2, self.mid = block(1, 4), block(4, 6), block(6, 8)
            self.up2 = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=0)
            self.u2 = block(12, 6)
            self.u1 = block(10, 4)
            self.shuf = nn.Conv2d(4, 4 * 4, 1)
            self.head = nn.Conv2d(4 + 1, 1, 1)

        def forward(self, x):
            s1 = self.d1(x)
            s2 = self.d2(F.max_pool2d(s1, 2))
            m = self.mid(F.max_pool2d(s2, 2, ceil_mode=True))
            u = self.up2(m)
            u = F.pad(u, [0, s2.size(3) - u.size(3), 0, s2.size(2) - u.size(2)])
            u = self.u2(L.cat([u, s2], 1))
            u = F.interpolate(u, size=s1.shape[-2:], mode="bilinear", align_corners=False)
            u = self.u1(L.cat([u, s1], 1))
            fine = F.pixel_shuffle(self.shuf(u), 2)
            fine = F.avg_pool2d(fine, 2)
            return self.head(L.cat([fine, x], 1))

    L.manual_seed(15)
    net = UNet()
    x = L.tensor(normal32(2, 1, 10, 10, seed=27))
    mask = L.tensor((normal32(2, 1, 10, 10, seed=28) > 0).astype(np.float32))
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    out = net(x)
    loss = F.binary_cross_entropy_with_logits(out, mask, pos_weight=L.tensor([2.0]))
    opt.zero_grad()
    loss.backward()
    g = net.up2.weight.grad.clone()
    opt.step()
    net.eval()
    return out, loss, g, net.d1[0].weight.grad, net(x), net.mid[1].running_var


@program
def causal_temporal_conv_net_with_dilation(L):
    """A TCN: residual blocks of two dilated Conv1d layers (dilation 1, 2, 4) made causal by
    left padding with F.pad and by padding both sides then chomping the right, weight-normed
    by the parametrization, a 1x1 downsample where channels change, dropout off; the causal
    property checked by perturbing a late input step; float64 gradients."""
    nn, F = L.nn, L.nn.functional
    wn = L.nn.utils.parametrizations.weight_norm

    class Chomp(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.n = n

        def forward(self, x):
            return x[:, :, :-self.n].contiguous()

    class Block(nn.Module):
        def __init__(self, cin, cout, k, dil):
            super().__init__()
            self.pad = (k - 1) * dil
            self.c1 = wn(nn.Conv1d(cin, cout, k, dilation=dil))
            self.c2 = wn(nn.Conv1d(cout, cout, k, dilation=dil, padding=self.pad))
            self.chomp = Chomp(self.pad)
            self.down = nn.Conv1d(cin, cout, 1) if cin != cout else None

        def forward(self, x):
            h = F.relu(self.c1(F.pad(x, (self.pad, 0))))
            h = F.relu(self.chomp(self.c2(h)))
            return F.relu(h + (x if self.down is None else self.down(x)))

    L.manual_seed(16)
    net = nn.Sequential(Block(2, 3, 2, 1), Block(3, 3, 2, 2), Block(3, 4, 3, 4)).double()
    x = L.tensor(normal64(2, 2, 12, seed=29), requires_grad=True)
    y = net(x)
    x2 = x.detach().clone()
    x2[:, :, 9] += 1.0
    y2 = net(x2)
    y[:, :, -1].sum().backward()
    return y, (y2 - y)[:, :, :9].abs().max(), x.grad, net[2].c1.parametrizations.weight.original0.grad


@program
def packed_gru_and_lstm_unsorted_lengths_total_length(L):
    """Variable-length batches through a bidirectional GRU and a two-layer LSTM by
    pack_padded_sequence with enforce_sorted=False: the PackedSequence's batch_sizes and
    sorted/unsorted indices, pad_packed_sequence with total_length and padding_value,
    the final hidden states (in the original order), a masked mean-pool over time, and
    the gradients; pack_padded_sequence's words for a zero length and for unsorted
    lengths with enforce_sorted."""
    nn = L.nn
    R = nn.utils.rnn
    lens = [3, 5, 1, 4]
    x = L.tensor(normal64(4, 5, 3, seed=30), requires_grad=True)
    L.manual_seed(17)
    gru = nn.GRU(3, 4, batch_first=True, bidirectional=True).double()
    lstm = nn.LSTM(3, 2, num_layers=2, batch_first=True).double()
    packed = R.pack_padded_sequence(x, L.tensor(lens), batch_first=True, enforce_sorted=False)
    out, h = gru(packed)
    pad, got_lens = R.pad_packed_sequence(out, batch_first=True, total_length=6,
                                          padding_value=-9.0)
    out2, (h2, c2) = lstm(packed)
    mask = (L.arange(6)[None, :] < got_lens[:, None]).unsqueeze(-1)
    pooled = (pad * mask).sum(1) / got_lens[:, None]
    (pooled.sum() + h2[-1].pow(2).sum() + c2.sum()).backward()
    return packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices, pad, got_lens, \
        h, h2, pooled, x.grad, gru.weight_hh_l0_reverse.grad, \
        err(lambda: R.pack_padded_sequence(x, [3, 0, 1, 2], batch_first=True,
                                           enforce_sorted=False)), \
        err(lambda: R.pack_padded_sequence(x, [3, 5, 1, 4], batch_first=True))


@program
def multihead_attention_padding_and_float_masks(L):
    """nn.MultiheadAttention (batch_first) with a boolean key_padding_mask and a float
    attn_mask (a relative-position bias per head, 3-d), per-head weights
    (average_attn_weights=False), kdim/vdim differing from embed_dim, add_bias_kv and
    add_zero_attn; the gradients of the inputs; mask shape errors."""
    nn = L.nn
    L.manual_seed(18)
    mha = nn.MultiheadAttention(4, 2, batch_first=True).double()
    cross = nn.MultiheadAttention(4, 2, kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True,
                                  batch_first=True).double()
    q = L.tensor(normal64(2, 3, 4, seed=31), requires_grad=True)
    kv = L.tensor(normal64(2, 5, 4, seed=32), requires_grad=True)
    k3, v5 = L.tensor(normal64(2, 5, 3, seed=33)), L.tensor(normal64(2, 5, 5, seed=34))
    kpm = L.tensor([[False, False, False, True, True], [False] * 5])
    bias = L.tensor(normal64(2 * 2, 3, 5, seed=35))
    out, w = mha(q, kv, kv, key_padding_mask=kpm, attn_mask=bias, average_attn_weights=False)
    out2, w2 = cross(q, k3, v5, key_padding_mask=kpm)
    (out.sum() + out2.pow(2).sum()).backward()
    return out, w, out2, w2, q.grad, kv.grad, mha.in_proj_weight.grad, cross.bias_k.grad, \
        err(lambda: mha(q, kv, kv, attn_mask=L.zeros(3, 4, dtype=L.float64))), \
        err(lambda: mha(q, kv, kv, key_padding_mask=L.zeros(2, 4, dtype=L.bool)))


@program
def causal_transformer_decoder_training_step(L):
    """A pre-norm nn.TransformerDecoder (gelu, dropout 0, batch_first) over a memory from a
    TransformerEncoder, with a causal mask from generate_square_subsequent_mask (and
    tgt_is_causal), tgt and memory key padding masks, a final LayerNorm and a tied output
    head; the loss, an AdamW step and the logits after; the causal property checked."""
    nn, F = L.nn, L.nn.functional
    V, E, T = 7, 8, 4
    L.manual_seed(19)
    emb = nn.Embedding(V, E).double()
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, 2, 16, dropout=0.0,
                                                           batch_first=True), 1,
                                enable_nested_tensor=False).double()
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, 2, 16, dropout=0.0,
                                                           activation="gelu",
                                                           batch_first=True, norm_first=True),
                                2, norm=nn.LayerNorm(E)).double()
    src = L.tensor([[1, 2, 3, 4, 0], [5, 6, 2, 0, 0]])
    tgt = L.tensor([[1, 3, 5, 2], [4, 6, 0, 0]])
    causal = nn.Transformer.generate_square_subsequent_mask(T, dtype=L.float64)
    params = [*emb.parameters(), *enc.parameters(), *dec.parameters()]
    opt = L.optim.AdamW(params, lr=1e-2)

    def logits(tgt_in):
        mem = enc(emb(src), src_key_padding_mask=src == 0)
        h = dec(emb(tgt_in), mem, tgt_mask=causal, tgt_is_causal=True,
                tgt_key_padding_mask=tgt_in == 0, memory_key_padding_mask=src == 0)
        return h @ emb.weight.T

    out = logits(tgt)
    loss = F.cross_entropy(out[:, :-1].reshape(-1, V), tgt[:, 1:].reshape(-1), ignore_index=0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    changed = tgt.clone()
    changed[0, 3] = 6
    after = logits(changed)
    return causal, out, loss, after, emb.weight.grad, \
        (after[0, :3] - logits(tgt)[0, :3]).abs().max()



# ----------------------------------------------------------------------------------------------
# whole training recipes
# ----------------------------------------------------------------------------------------------
@program
def wgan_gp_critic_steps_with_a_gradient_penalty(L):
    """A WGAN-GP critic update: interpolates between real and fake samples at seeded mixing
    weights, the critic's gradient wrt them by autograd.grad(create_graph=True), the penalty
    (||g|| - 1)^2 added to the Wasserstein loss and backpropagated (a double backward
    through Linear, LeakyReLU and LayerNorm), two Adam(betas=(0, 0.9)) steps."""
    nn = L.nn
    L.manual_seed(20)
    critic = nn.Sequential(nn.Linear(2, 6), nn.LayerNorm(6), nn.LeakyReLU(0.2),
                           nn.Linear(6, 1)).double()
    opt = L.optim.Adam(critic.parameters(), lr=1e-2, betas=(0.0, 0.9))
    real = L.tensor(normal64(5, 2, seed=36) + 1.0)
    fake = L.tensor(normal64(5, 2, seed=37))
    alpha = L.tensor(np.random.RandomState(38).rand(5, 1))
    out = []
    for _ in range(2):
        mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        score = critic(mix)
        g, = L.autograd.grad(score, mix, grad_outputs=L.ones_like(score), create_graph=True)
        penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
        loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
        opt.zero_grad()
        loss.backward()
        out.append((loss.item(), penalty.item(), critic[1].weight.grad.clone()))
        opt.step()
    return out, critic[0].weight


@program
def distillation_with_feature_hooks_and_temperature(L):
    """Knowledge distillation: a teacher in eval mode under no_grad, forward hooks on both
    networks capturing an intermediate feature map, a KL loss between temperature-softened
    distributions (KLDivLoss(reduction='batchmean', log_target=True)) scaled by T^2, a
    feature-matching MSE through a 1x1 projection, hard-label cross-entropy, and an SGD
    step of the student only."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(21)
    teacher = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                            nn.Flatten(), nn.Linear(16, 3)).double().eval()
    student = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                            nn.Flatten(), nn.Linear(8, 3)).double()
    proj = nn.Conv2d(2, 4, 1).double()
    feats = {}
    teacher[1].register_forward_hook(lambda m, i, o: feats.__setitem__("t", o))
    student[1].register_forward_hook(lambda m, i, o: feats.__setitem__("s", o))
    x = L.tensor(normal64(4, 1, 5, 5, seed=39))
    y = L.tensor(labels(4, 3, seed=40))
    T = 3.0
    opt = L.optim.SGD([*student.parameters(), *proj.parameters()], lr=0.1)
    with L.no_grad():
        t_logits = teacher(x)
    s_logits = student(x)
    kd = nn.KLDivLoss(reduction="batchmean", log_target=True)(
        F.log_softmax(s_logits / T, -1), F.log_softmax(t_logits / T, -1)) * T * T
    fm = F.mse_loss(proj(feats["s"]), feats["t"])
    loss = 0.7 * kd + 0.2 * fm + 0.1 * F.cross_entropy(s_logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return kd, fm, loss, feats["t"].requires_grad, teacher[0].weight.grad, \
        student[0].weight.grad, proj.weight


@program
def learning_rate_range_test_and_state_restore(L):
    """An lr range test: LambdaLR ramping the lr exponentially from 1e-4 to 1 over the
    steps, an exponentially smoothed loss with bias correction, stopping when it exceeds
    four times the best; then the model and optimizer restored from deep-copied state
    dicts taken before the test."""
    L.manual_seed(22)
    model = L.nn.Sequential(L.nn.Linear(3, 8), L.nn.ReLU(), L.nn.Linear(8, 1)).double()
    X, Y = L.tensor(normal64(16, 3, seed=41)), L.tensor(normal64(16, 1, seed=42))
    opt = L.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    saved_m, saved_o = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    n = 12
    sched = L.optim.lr_scheduler.LambdaLR(opt, lambda i: (1.0 / 1e-4) ** (i / (n - 1)))
    avg, best, history = 0.0, float("inf"), []
    for i in range(n):
        opt.zero_grad()
        loss = L.nn.functional.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
        avg = 0.8 * avg + 0.2 * loss.item()
        smooth = avg / (1 - 0.8 ** (i + 1))
        history.append((sched.get_last_lr()[0], smooth))
        best = min(best, smooth)
        if smooth > 4 * best:
            break
        sched.step()
    model.load_state_dict(saved_m)
    opt.load_state_dict(saved_o)
    return history, model[0].weight, opt.param_groups[0]["lr"], len(opt.state)


@program
def imbalanced_classes_weighted_sampling_and_a_confusion_matrix(L):
    """Class-imbalanced training: per-sample weights 1/count(class) for a
    WeightedRandomSampler with a seeded Generator, a DataLoader over it, CrossEntropyLoss
    with class weights and label smoothing, then evaluation: predictions, a confusion
    matrix by index_put_ with accumulate and by bincount, per-class recall and macro F1."""
    D = L.utils.data
    X = L.tensor(normal64(12, 3, seed=43))
    y = L.tensor([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2])
    counts = L.bincount(y)
    w = (1.0 / counts.double())[y]
    sampler = D.WeightedRandomSampler(w, num_samples=12, replacement=True,
                                      generator=L.Generator().manual_seed(44))
    loader = D.DataLoader(D.TensorDataset(X, y), batch_size=4, sampler=sampler)
    L.manual_seed(23)
    model = L.nn.Linear(3, 3).double()
    crit = L.nn.CrossEntropyLoss(weight=counts.sum() / (3.0 * counts.double()),
                                 label_smoothing=0.1)
    opt = L.optim.Adam(model.parameters(), lr=0.05)
    seen = []
    for xb, yb in loader:
        opt.zero_grad()
        loss = crit(model(xb), yb)
        loss.backward()
        opt.step()
        seen.append(yb.tolist())
    with L.no_grad():
        pred = model(X).argmax(1)
    cm = L.zeros(3, 3, dtype=L.long)
    cm.index_put_((y, pred), L.ones_like(y), accumulate=True)
    cm2 = L.bincount(y * 3 + pred, minlength=9).view(3, 3)
    tp = cm.diag().double()
    recall = tp / cm.sum(1).clamp(min=1)
    precision = tp / cm.sum(0).clamp(min=1)
    f1 = L.where(tp > 0, 2 * precision * recall / (precision + recall), L.zeros_like(tp))
    return seen, loss, cm, L.equal(cm, cm2), recall, f1.mean(), model.bias


@program
def triplet_and_contrastive_metric_learning(L):
    """Metric learning: L2-normalised embeddings, batch-hard triplet mining (the hardest
    positive by a masked max, the hardest negative by masked_fill and min) fed to
    TripletMarginLoss and to triplet_margin_with_distance_loss with a cosine distance,
    CosineEmbeddingLoss on pairs, and an NT-Xent loss (diagonal masked by -inf, positives
    by index arithmetic) at a temperature; gradients to the encoder."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(24)
    enc = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    x = L.tensor(normal64(6, 4, seed=45))
    y = L.tensor([0, 0, 1, 1, 2, 2])
    z = F.normalize(enc(x), dim=1)
    dist = L.cdist(z, z)
    same = y[:, None] == y[None, :]
    eye = L.eye(6, dtype=L.bool)
    hardest_pos = (dist * (same & ~eye)).argmax(1)
    hardest_neg = dist.masked_fill(same, float("inf")).argmin(1)
    trip = nn.TripletMarginLoss(margin=0.5, p=2, swap=True)(z, z[hardest_pos], z[hardest_neg])
    cos_trip = F.triplet_margin_with_distance_loss(
        z, z[hardest_pos], z[hardest_neg],
        distance_function=lambda a, b: 1 - F.cosine_similarity(a, b), margin=0.3)
    pair_t = L.where(y[:3] == y[3:], 1, -1)
    cos_emb = nn.CosineEmbeddingLoss(margin=0.1)(z[:3], z[3:], pair_t)
    view2 = F.normalize(enc(x + 0.1), dim=1)
    both = L.cat([z, view2])
    sim = (both @ both.T / 0.5).masked_fill(L.eye(12, dtype=L.bool), float("-inf"))
    target = (L.arange(12) + 6) % 12
    ntx = F.cross_entropy(sim, target)
    total = trip + cos_trip + cos_emb + ntx
    total.backward()
    return hardest_pos, hardest_neg, trip, cos_trip, cos_emb, ntx, enc[0].weight.grad


@program
def gaussian_process_hyperparameters_by_lbfgs(L):
    """Gaussian-process regression: an RBF kernel with log length-scale, log signal and log
    noise as leaf tensors, the negative log marginal likelihood by cholesky,
    cholesky_solve and the log of the diagonal, minimised by LBFGS (strong Wolfe) through
    a closure; the posterior mean and variance at test points."""
    X = L.tensor(np.linspace(-2, 2, 7)[:, None])
    y = L.tensor(np.sin(np.linspace(-2, 2, 7) * 1.5) + 0.1 * normal64(7, seed=46))
    Xs = L.tensor(np.array([[-1.5], [0.25], [1.8]]))
    log_ell = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    log_sf = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    log_sn = L.tensor(-1.0, dtype=L.float64, requires_grad=True)

    def kernel(a, b):
        d2 = (a[:, None, :] - b[None, :, :]).pow(2).sum(-1)
        return log_sf.mul(2).exp() * L.exp(-0.5 * d2 / log_ell.mul(2).exp())

    def nlml():
        K = kernel(X, X) + log_sn.mul(2).exp() * L.eye(7, dtype=L.float64)
        Lc = L.linalg.cholesky(K)
        alpha = L.cholesky_solve(y[:, None], Lc)
        return 0.5 * (y[:, None] * alpha).sum() + Lc.diagonal().log().sum() + \
            3.5 * math.log(2 * math.pi)

    opt = L.optim.LBFGS([log_ell, log_sf, log_sn], lr=0.5, max_iter=6,
                        line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nlml()
        loss.backward()
        return loss

    first = opt.step(closure)
    with L.no_grad():
        K = kernel(X, X) + log_sn.mul(2).exp() * L.eye(7, dtype=L.float64)
        Ks = kernel(Xs, X)
        mean = Ks @ L.linalg.solve(K, y)
        var = kernel(Xs, Xs).diagonal() - (Ks @ L.linalg.solve(K, Ks.T)).diagonal()
    return first, nlml(), log_ell, log_sf, log_sn, mean, var


@program(rtol=1e-8, atol=1e-10)
def realnvp_affine_couplings_with_masks_as_buffers(L):
    """A RealNVP-style flow: affine coupling layers whose alternating binary masks are
    non-persistent buffers, scale by tanh-bounded exp, the log-determinant summed per
    sample, the base Normal's log_prob through Independent, inverse passes checked to
    recover the input, and two Adam steps on the negative log-likelihood."""
    nn = L.nn
    dist = L.distributions

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask, persistent=False)
            self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8))

        def forward(self, x):
            s, t = self.net(x * self.mask).chunk(2, -1)
            s = L.tanh(s) * (1 - self.mask)
            t = t * (1 - self.mask)
            return x * self.mask + (1 - self.mask) * (x * s.exp() + t), s.sum(-1)

        def inverse(self, y):
            s, t = self.net(y * self.mask).chunk(2, -1)
            s = L.tanh(s) * (1 - self.mask)
            t = t * (1 - self.mask)
            return y * self.mask + (1 - self.mask) * ((y - t) * (-s).exp())

    L.manual_seed(25)
    m = L.tensor([1.0, 0.0, 1.0, 0.0], dtype=L.float64)
    flows = nn.ModuleList([Coupling(m), Coupling(1 - m), Coupling(m)]).double()
    base = dist.Independent(dist.Normal(L.zeros(4, dtype=L.float64),
                                        L.ones(4, dtype=L.float64)), 1)
    x = L.tensor(normal64(6, 4, seed=47) * [1.0, 0.5, 2.0, 1.0])
    opt = L.optim.Adam(flows.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        z, logdet = x, 0
        for f in flows:
            z, ld = f(z)
            logdet = logdet + ld
        nll = -(base.log_prob(z) + logdet).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
        losses.append(nll.item())
    with L.no_grad():
        back = z
        for f in reversed(flows):
            back = f.inverse(back)
    return losses, z, logdet, (back - x).abs().max() < 1e-9, sorted(flows.state_dict())[:3], \
        [n for n, _ in flows.named_buffers()]


# ----------------------------------------------------------------------------------------------
# misuse, and what this round fixed
# ----------------------------------------------------------------------------------------------
@program
def linear_layers_fed_the_wrong_features_and_dtypes(L):
    """What a Linear layer says when the input has the wrong number of features and also the
    wrong dtype (or a bias of another dtype): addmm compares the dtypes (the bias's, then
    the input's) before the sizes; a 3-d input that is not contiguous goes through bmm,
    whose size check words it first; a 2-d one without a bias is mm's size message."""
    L.manual_seed(26)
    layer = L.nn.Linear(2, 4).double()
    plain = L.nn.Linear(2, 4, bias=False).double()
    f32_bias = L.nn.functional.linear
    w = layer.weight.detach()
    return [err(lambda: layer(L.zeros(3, 3))),
            err(lambda: layer(L.zeros(2, 5, 3, dtype=L.float32))),
            err(lambda: f32_bias(L.zeros(3, 3, dtype=L.float64), w, L.zeros(4))),
            err(lambda: f32_bias(L.zeros(3, 3), w, L.zeros(4))),
            err(lambda: layer(L.zeros(3, 3))),
            err(lambda: layer(L.zeros(2, 3, 3, dtype=L.float64).transpose(0, 1))),
            err(lambda: layer(L.zeros(5, 2, 3, 3, dtype=L.float64).transpose(1, 2))),
            err(lambda: plain(L.zeros(3, 3))),
            err(lambda: layer(L.zeros(3, dtype=L.float32))),
            err(lambda: layer(L.zeros(3, 2, dtype=L.float32)))]


@program(words=["Weights only load failed.", "WeightsUnpickler error: Unsupported global: "
                "GLOBAL torch.nn.modules.container.Sequential was not an allowed global by "
                "default. Please use `torch.serialization.add_safe_globals([torch.nn.modules."
                "container.Sequential])` or the `torch.serialization.safe_globals([torch.nn."
                "modules.container.Sequential])` context manager to allowlist this global if "
                "you trust this class/function"])
def a_whole_model_checkpoint_refused_by_weights_only(L):
    """Saving the whole model object (not its state dict), as older scripts do, then loading
    it with the default weights_only=True: refused with torch.load's UnpicklingError,
    naming the class and how to allowlist it."""
    buf = io.BytesIO()
    L.save(L.nn.Sequential(L.nn.Linear(2, 2), L.nn.ReLU()), buf)
    buf.seek(0)
    L.load(buf)


_SLOW = set()
# programs that end in torch's exception (minigrad must raise the same, with its words)
_RAISING = {"a_whole_model_checkpoint_refused_by_weights_only"}


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    raised = HARNESS.check(fn, **fn.options)
    assert (raised is not None) == (fn.__name__ in _RAISING), raised


def test_read_only_array_warning_follows_set_warn_always():
    """PyTorch's not-writable warning of from_numpy is once per process unless
    set_warn_always(True), when it comes every time; minigrad gave it once only, whatever
    the setting (here it has been given before the program runs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        minigrad.from_numpy(np.frombuffer(b"\x00" * 8, dtype=np.float32))
        torch.from_numpy(np.frombuffer(b"\x00" * 8, dtype=np.float32))
    assert HARNESS.check(records_decoded_from_a_read_only_byte_buffer) is None
