"""Whole programs of the fourteenth round, part b: the numerical side of public code.
Optimizers rarely exercised (LBFGS with a closure and strong Wolfe, Adagrad, centered
RMSprop, Rprop, NAdam, RAdam, Adamax, SparseAdam over sparse embeddings, ASGD) with
parameter groups, add_param_group and state_dict round trips; nn.init schemes; module
plumbing (non-persistent buffers, named_modules/apply, deepcopy, dtype moves, ModuleDict,
ParameterList, Sequential slicing); seeded sampling through torch.Generator; classical ML by
torch.linalg (PCA, ridge, k-means); a Fourier neural operator; a TCN with weight_norm,
N-BEATS and sliding windows; 3-d convolutions on video clips; a tabular MLP with categorical
embeddings; and metrics code (confusion matrices, ROC-AUC, top-k accuracy).

The harness is part a's: both libraries run each program on the same numpy inputs and
seeded weights and must agree in values, dtypes, shapes and requires_grad.
"""
import copy
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, registry, program_harness, leaf as _t,
    tanh_mlp as _mlp)


HARNESS = program_harness()
PROGRAMS, program = registry()
F32 = dict(rtol=2e-5, atol=2e-6)   # float32 programs: their Python-float losses as float32's


# ----------------------------------------------------------------------------------------------
# optimizers
# ----------------------------------------------------------------------------------------------
@program
def lbfgs_with_strong_wolfe_closure_fits_a_logistic_regression(L):
    """LBFGS as the scipy-like fitting code uses it: a closure that zeroes the gradients,
    computes BCE-with-logits plus an L2 term and calls backward, line_search_fn
    'strong_wolfe', history_size 5, max_iter 10 per step; the loss after each step, the
    state's func_evals and n_iter; plain LBFGS without a line search too."""
    x = _t(L, 30, 3, seed=1)
    y = (x @ L.tensor([1.0, -2.0, 0.5], dtype=L.float64) > 0).double()
    out = {}
    for ls in ("strong_wolfe", None):
        w = L.zeros(3, dtype=L.float64, requires_grad=True)
        b = L.zeros(1, dtype=L.float64, requires_grad=True)
        opt = L.optim.LBFGS([w, b], lr=1 if ls else 0.5, max_iter=10, history_size=5,
                            line_search_fn=ls)

        def closure():
            opt.zero_grad()
            loss = L.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + \
                1e-2 * w.pow(2).sum()
            loss.backward()
            return loss

        tr = [opt.step(closure).item() for _ in range(3)]
        st = opt.state[opt.param_groups[0]["params"][0]]
        out[str(ls)] = dict(tr=tr, w=w.detach(), b=b.detach(), fe=st["func_evals"],
                            it=st["n_iter"])
    return out


@program
def rarely_used_optimizers_over_param_groups_trace_the_same_weights(L):
    """Adagrad (lr_decay, initial_accumulator_value), RMSprop centered with momentum,
    Rprop with etas and step sizes, NAdam with momentum_decay and decoupled decay, RAdam
    (with and without decoupled_weight_decay), Adamax and ASGD (t0, lambd), each over two
    parameter groups with different lrs/weight decays, six steps of an MLP regression."""
    x, y = _t(L, 16, 3, seed=2), _t(L, 16, 1, seed=3)
    O = L.optim
    makers = {
        "adagrad": lambda g: O.Adagrad(g, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1,
                                       weight_decay=1e-3),
        "rmsprop": lambda g: O.RMSprop(g, lr=0.01, alpha=0.9, centered=True, momentum=0.5,
                                       weight_decay=1e-3),
        "rprop": lambda g: O.Rprop(g, lr=0.02, etas=(0.4, 1.3), step_sizes=(1e-4, 0.5)),
        "nadam": lambda g: O.NAdam(g, lr=0.02, momentum_decay=3e-3, weight_decay=0.01,
                                   decoupled_weight_decay=True),
        "radam": lambda g: O.RAdam(g, lr=0.02, weight_decay=0.01),
        "radam_dec": lambda g: O.RAdam(g, lr=0.02, weight_decay=0.01,
                                       decoupled_weight_decay=True),
        "adamax": lambda g: O.Adamax(g, lr=0.05, betas=(0.8, 0.99)),
        "asgd": lambda g: O.ASGD(g, lr=0.05, lambd=1e-3, alpha=0.75, t0=2, weight_decay=1e-3),
    }
    out = {}
    for name, make in makers.items():
        m = _mlp(L, [3, 5, 1], 2)
        opt = make([{"params": m[0].parameters()},
                    {"params": m[2].parameters(), "lr": 0.005}])
        tr = []
        for _ in range(6):
            opt.zero_grad()
            loss = ((m(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            tr.append(loss.item())
        out[name] = dict(tr=tr, w=m.state_dict(),
                         keys=sorted(opt.state_dict()["state"][0]))
    return out


@program
def optimizer_state_dict_round_trip_through_bytesio_and_add_param_group(L):
    """A checkpointed Adagrad/RMSprop: two steps, state_dict saved with torch.save to
    BytesIO, loaded into a fresh optimizer over a fresh copy, both stepped again and
    compared; add_param_group for a newly unfrozen head with its own lr, defaults filled in
    the new group; the param_groups' keys and the 'params' indices in the state dict."""
    x, y = _t(L, 12, 3, seed=4), _t(L, 12, 2, seed=5)
    out = {}
    for name in ("Adagrad", "RMSprop", "NAdam"):
        L.manual_seed(0)
        body, head = L.nn.Linear(3, 4).double(), L.nn.Linear(4, 2).double()
        opt = getattr(L.optim, name)(body.parameters(), lr=0.05)

        def step(o, b, h):
            o.zero_grad()
            loss = ((h(L.tanh(b(x))) - y) ** 2).mean()
            loss.backward()
            o.step()
            return loss.item()

        tr = [step(opt, body, head) for _ in range(2)]
        opt.add_param_group({"params": head.parameters(), "lr": 0.01})
        tr += [step(opt, body, head) for _ in range(2)]
        buf = io.BytesIO()
        L.save(opt.state_dict(), buf)
        buf.seek(0)
        sd = L.load(buf)
        b2, h2 = copy.deepcopy(body), copy.deepcopy(head)
        o2 = getattr(L.optim, name)(b2.parameters(), lr=0.05)
        o2.add_param_group({"params": h2.parameters()})
        o2.load_state_dict(sd)
        a = [step(opt, body, head) for _ in range(2)]
        b = [step(o2, b2, h2) for _ in range(2)]
        out[name] = dict(tr=tr, a=a, b=b, groups=[sorted(g) for g in sd["param_groups"]],
                         params=[g["params"] for g in sd["param_groups"]],
                         lr=[g["lr"] for g in o2.param_groups], w=h2.state_dict())
    return out


@program
def sparse_adam_over_sparse_embedding_gradients_with_dense_adam_for_the_rest(L):
    """The recommender recipe: nn.Embedding(sparse=True) whose weight.grad is a sparse COO
    tensor (is_sparse, coalesced values and indices), SparseAdam for it and Adam for the
    dense tower, rows never looked up left untouched; SparseAdam refusing a dense grad with
    torch's words."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(6)
    emb = nn.Embedding(10, 4, sparse=True).double()
    tower = nn.Linear(8, 1).double()
    sp = L.optim.SparseAdam(list(emb.parameters()), lr=0.05)
    dn = L.optim.Adam(tower.parameters(), lr=0.05)
    users, items = L.tensor([1, 3, 3, 5]), L.tensor([2, 2, 7, 1])
    y = L.tensor([1.0, 0.0, 1.0, 0.0], dtype=L.float64)
    w0 = emb.weight.detach().clone()
    tr = []
    for _ in range(3):
        sp.zero_grad()
        dn.zero_grad()
        loss = F.binary_cross_entropy_with_logits(
            tower(L.cat([emb(users), emb(items)], 1)).squeeze(1), y)
        loss.backward()
        g = emb.weight.grad
        sp.step()
        dn.step()
        tr.append(loss.item())
    gc = g.coalesce()
    untouched = (emb.weight.detach() == w0).all(1)
    lin = nn.Linear(2, 2)
    lin.weight.grad = L.ones(2, 2)
    bad = err(lambda: L.optim.SparseAdam([lin.weight]).step())
    return dict(tr=tr, sparse=g.is_sparse, idx=gc.indices(), val=gc.values(),
                untouched=untouched, w=emb.weight, bad=bad)


# ----------------------------------------------------------------------------------------------
# module plumbing
# ----------------------------------------------------------------------------------------------
@program
def init_schemes_applied_by_module_apply_over_named_modules(L):
    """A weights_init function passed to model.apply: xavier_uniform_ with
    calculate_gain('tanh'), kaiming_normal_ fan_out relu for convs, orthogonal_ for
    recurrent weights, constant_ and normal_ for BatchNorm, trunc_normal_ with bounds, and
    sparse_ / dirac_ / eye_; all under one manual_seed, so the draws line up; the gains and
    fan computations returned."""
    nn = L.nn
    init = nn.init
    L.manual_seed(7)
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(16, 5),
                      nn.Tanh(), nn.GRU(5, 3), nn.Conv1d(4, 4, 3), nn.Linear(6, 6))

    def weights_init(mod):
        if isinstance(mod, nn.Conv2d):
            init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
            init.zeros_(mod.bias)
        elif isinstance(mod, nn.BatchNorm2d):
            init.normal_(mod.weight, 1.0, 0.02)
            init.constant_(mod.bias, 0.1)
        elif isinstance(mod, nn.Linear) and mod.in_features == 16:
            init.xavier_uniform_(mod.weight, gain=init.calculate_gain("tanh"))
            init.trunc_normal_(mod.bias, std=0.5, a=-0.3, b=0.3)
        elif isinstance(mod, nn.GRU):
            for name, p in mod.named_parameters():
                if "weight_hh" in name:
                    init.orthogonal_(p)
                elif "weight_ih" in name:
                    init.xavier_normal_(p)
                else:
                    p.data.fill_(0.01)
        elif isinstance(mod, nn.Conv1d):
            init.dirac_(mod.weight)
        elif isinstance(mod, nn.Linear):
            init.sparse_(mod.weight, sparsity=0.5, std=0.1)
            init.eye_(mod.weight) if False else init.uniform_(mod.bias, -0.1, 0.1)

    m.apply(weights_init)
    names = [n for n, _ in m.named_modules()]
    gains = [init.calculate_gain(n, p) for n, p in (("leaky_relu", 0.2), ("selu", None),
                                                     ("relu", None), ("conv2d", None))]
    e = init.eye_(L.empty(3, 5))
    ortho = m[5].weight_hh_l0
    check = ortho[:3] @ ortho[:3].T
    # with a torch.Generator: its own stream for the values; sparse_'s row permutations come
    # from the default generator all the same (as PyTorch's), so the global draw after moves
    g = L.Generator().manual_seed(11)
    L.manual_seed(12)
    gen = [init.kaiming_uniform_(L.empty(3, 4), generator=g),
           init.trunc_normal_(L.empty(4), std=0.5, generator=g),
           init.sparse_(L.empty(5, 3), sparsity=0.4, generator=g),
           init.uniform_(L.empty(2), generator=g), L.rand(3)]
    return dict(sd=m.state_dict(), names=names, gains=gains, e=e, check=check, gen=gen,
                bad=err(lambda: init.calculate_gain("foo")))


@program
def buffers_persistent_false_deepcopy_dtype_moves_and_container_slicing(L):
    """Module plumbing: register_buffer with persistent=False missing from state_dict but in
    named_buffers, deepcopy giving independent parameters, .double()/.half()/.to(dtype)
    moving floating buffers but not integer ones, ModuleDict iteration and update,
    ParameterList append and extra_repr, Sequential slicing and negative indexing returning
    Sequential, children vs modules counts, load_state_dict(strict=False) result keys."""
    nn = L.nn
    L.manual_seed(8)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
            self.scales = nn.ParameterList([nn.Parameter(L.ones(2)) for _ in range(2)])
            self.register_buffer("mean", L.zeros(3))
            self.register_buffer("cache", L.arange(4.0), persistent=False)
            self.register_buffer("count", L.tensor(0))

        def forward(self, x):
            h = self.layers((x - self.mean)) * self.scales[0] * self.scales[1]
            return {k: v(h) for k, v in self.heads.items()}

    n = Net()
    c = copy.deepcopy(n)
    with L.no_grad():
        c.layers[0].weight.add_(1.0)
    same = L.equal(n.layers[0].weight, c.layers[0].weight)
    n.scales.append(nn.Parameter(L.zeros(1)))
    n.heads.update({"c": nn.Linear(2, 2)})
    sub = n.layers[1:]
    last = n.layers[-1]
    d = copy.deepcopy(n).double()
    h = copy.deepcopy(n).half()
    t = copy.deepcopy(n).to(L.float64)
    res = c.load_state_dict({k: v for k, v in n.state_dict().items() if "scales.2" != k},
                            strict=False)
    x = _t(L, 2, 3, seed=8).float()
    out = n(x)
    return dict(keys=list(n.state_dict()), bufs=[k for k, _ in n.named_buffers()],
                same=same, sub=type(sub).__name__, subrepr=repr(sub), last=repr(last),
                dt=[(k, v.dtype) for k, v in d.named_buffers()],
                ht=[(k, v.dtype) for k, v in h.state_dict().items()],
                tt=t.layers[0].weight.dtype, missing=res.missing_keys,
                unexpected=res.unexpected_keys, out=out, repr=repr(n),
                nchild=len(list(n.children())), nmod=len(list(n.modules())),
                plist=repr(n.scales))


@program
def generator_seeded_sampling_is_reproducible_and_independent_of_the_global_rng(L):
    """torch.Generator objects: manual_seed, initial_seed, get_state/set_state replaying
    draws; multinomial with and without replacement, randperm, bernoulli of a probability
    tensor, normal_/uniform_/exponential_ in place with a generator, randint with a
    generator; the global RNG untouched by them (a draw after equals a fresh seed's)."""
    g = L.Generator().manual_seed(1234)
    L.manual_seed(0)
    p = L.tensor([0.1, 0.2, 0.3, 0.4], dtype=L.float64)
    s = g.get_state()
    a = L.multinomial(p, 6, replacement=True, generator=g)
    b = L.multinomial(p, 3, replacement=False, generator=g)
    perm = L.randperm(10, generator=g)
    bern = L.bernoulli(L.full((2, 5), 0.3, dtype=L.float64), generator=g)
    n = L.empty(3, dtype=L.float64).normal_(2.0, 0.5, generator=g)
    u = L.empty(3, dtype=L.float64).uniform_(-1, 1, generator=g)
    e = L.empty(3, dtype=L.float64).exponential_(2.0, generator=g)
    r = L.randint(0, 5, (4,), generator=g)
    g.set_state(s)
    a2 = L.multinomial(p, 6, replacement=True, generator=g)
    glob = L.rand(2)
    L.manual_seed(0)
    fresh = L.rand(2)
    rows = L.multinomial(L.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]), 2, generator=g)
    return dict(a=a, b=b, perm=perm, bern=bern, n=n, u=u, e=e, r=r, replay=L.equal(a, a2),
                glob=L.equal(glob, fresh), seed=g.initial_seed(), rows=rows[0, 0],
                bad=err(lambda: L.multinomial(p, 5, replacement=False)))


@program
def dataloader_with_a_seeded_generator_and_random_split_is_deterministic(L):
    """Data pipelines seeded for reproducibility: random_split with a generator (lengths and
    fractions), a DataLoader shuffling with its own generator, WeightedRandomSampler with a
    generator, a TensorDataset, drop_last; two epochs' index orders and the batches."""
    data = L.utils.data
    X = L.arange(20.0).view(10, 2)
    Y = L.arange(10)
    ds = data.TensorDataset(X, Y)
    tr, va = data.random_split(ds, [7, 3], generator=L.Generator().manual_seed(42))
    p1, p2, p3 = data.random_split(range(10), [0.5, 0.3, 0.2],
                                   generator=L.Generator().manual_seed(1))
    dl = data.DataLoader(tr, batch_size=3, shuffle=True, drop_last=True,
                         generator=L.Generator().manual_seed(5))
    epochs = [[yb.tolist() for _, yb in dl] for _ in range(2)]
    ws = data.WeightedRandomSampler([0.1, 0.9, 0.5, 0.5], 6, replacement=True,
                                    generator=L.Generator().manual_seed(2))
    return dict(tr=list(tr.indices), va=list(va.indices), p=[list(p1), list(p2), list(p3)],
                epochs=epochs, ws=list(ws), n=len(dl), first=next(iter(dl))[0])


# ----------------------------------------------------------------------------------------------
# classical ML with torch.linalg
# ----------------------------------------------------------------------------------------------
@program
def pca_by_svd_and_by_eigh_of_the_covariance_agree_up_to_sign(L):
    """PCA twice: centred data's torch.linalg.svd(full_matrices=False) giving components and
    explained variance S^2/(n-1); torch.linalg.eigh of the covariance (torch.cov of X.T)
    with eigenvalues flipped to descending; signs fixed by the largest-|.| entry of each
    component (svd_flip); projections and reconstruction error; torch.pca_lowrank's
    centring compared on the singular values."""
    X = _t(L, 40, 5, seed=9) @ _t(L, 5, 5, seed=10)
    mu = X.mean(0, keepdim=True)
    Xc = X - mu
    U, S, Vh = L.linalg.svd(Xc, full_matrices=False)
    idx = Vh.abs().argmax(1)
    signs = L.sign(Vh[L.arange(5), idx])
    comps = Vh * signs[:, None]
    var = S ** 2 / (X.shape[0] - 1)
    C = L.cov(X.T)
    ev, evec = L.linalg.eigh(C)
    ev, evec = ev.flip(0), evec.flip(1).T
    evec = evec * L.sign(evec[L.arange(5), evec.abs().argmax(1)])[:, None]
    Z = Xc @ comps[:2].T
    rec = Z @ comps[:2] + mu
    return dict(comps=comps, var=var, ev=ev, evec=evec, Z=Z, err=((rec - X) ** 2).mean(),
                ratio=var / var.sum(), corr=L.corrcoef(X.T))


@program
def ridge_regression_by_solve_lstsq_cholesky_and_pinv(L):
    """Closed-form ridge four ways: linalg.solve of (X^T X + lambda I), cholesky then
    cholesky_solve, linalg.lstsq of the augmented system [X; sqrt(lambda) I], and pinv;
    the bias fitted by centring; gradient of the validation loss w.r.t. log lambda through
    solve (hyperparameter optimisation by implicit differentiation of the closed form)."""
    X, y = _t(L, 25, 4, seed=11), _t(L, 25, 1, seed=12)
    Xv, yv = _t(L, 10, 4, seed=13), _t(L, 10, 1, seed=14)
    loglam = L.tensor(0.3, dtype=L.float64, requires_grad=True)
    lam = loglam.exp()
    xm, ym = X.mean(0), y.mean(0)
    Xc, yc = X - xm, y - ym
    A = Xc.T @ Xc + lam * L.eye(4, dtype=L.float64)
    w1 = L.linalg.solve(A, Xc.T @ yc)
    Lc = L.linalg.cholesky(A)
    w2 = L.cholesky_solve(Xc.T @ yc, Lc)
    aug = L.cat([Xc, lam.sqrt() * L.eye(4, dtype=L.float64)])
    w3 = L.linalg.lstsq(aug, L.cat([yc, L.zeros(4, 1, dtype=L.float64)])).solution
    w4 = L.linalg.pinv(A) @ Xc.T @ yc
    b = ym - xm @ w1
    val = ((Xv @ w1 + b - yv) ** 2).mean()
    val.backward()
    return dict(w1=w1, d2=(w1 - w2).abs().max(), d3=(w1 - w3).abs().max(),
                d4=(w1 - w4).abs().max(), b=b, val=val, g=loglam.grad,
                cond=L.linalg.cond(A), det=L.linalg.slogdet(A))


@program
def kmeans_lloyd_iterations_with_cdist_argmin_and_scatter_add(L):
    """K-means as notebooks write it: k-means++ seeding by multinomial over squared
    distances under a generator, Lloyd steps of cdist + argmin, new centres by scatter_add_
    of points and bincount of counts (index_add_ as the other spelling), inertia tracked;
    empty clusters kept by where."""
    g = L.Generator().manual_seed(0)
    X = L.cat([_t(L, 15, 2, seed=15) + L.tensor([3.0, 0.0], dtype=L.float64),
               _t(L, 15, 2, seed=16) - L.tensor([3.0, 0.0], dtype=L.float64),
               _t(L, 15, 2, seed=17) + L.tensor([0.0, 4.0], dtype=L.float64)])
    K = 3
    first = L.randint(0, X.shape[0], (1,), generator=g)
    cents = X[first]
    for _ in range(K - 1):
        d2 = L.cdist(X, cents).min(1).values ** 2
        nxt = L.multinomial(d2 / d2.sum(), 1, generator=g)
        cents = L.cat([cents, X[nxt]])
    hist = []
    for _ in range(5):
        assign = L.cdist(X, cents).argmin(1)
        sums = L.zeros(K, 2, dtype=L.float64).scatter_add_(0, assign[:, None].expand(-1, 2), X)
        sums2 = L.zeros(K, 2, dtype=L.float64).index_add_(0, assign, X)
        counts = L.bincount(assign, minlength=K)
        new = sums / counts.clamp(min=1)[:, None]
        cents = L.where((counts > 0)[:, None], new, cents)
        hist.append(((X - cents[assign]) ** 2).sum().item())
    return dict(cents=cents, assign=assign, counts=counts, hist=hist,
                same=L.allclose(sums, sums2))


# ----------------------------------------------------------------------------------------------
# operators, time series, video
# ----------------------------------------------------------------------------------------------
@program
def fourier_neural_operator_spectral_conv_with_complex_weights(L):
    """FNO's SpectralConv2d: rfft2 of the input, the lowest modes in both corners multiplied
    by complex parameters (torch.cfloat weights scaled by 1/(in*out) times rand) through
    einsum('bixy,ioxy->boxy'), written into a zero complex tensor and irfft2'd back with s=;
    a pointwise Conv2d skip, GELU, and gradients to the complex weights (their .grad
    complex)."""
    nn, F = L.nn, L.nn.functional
    Ci, Co, m1, m2 = 2, 3, 2, 2
    L.manual_seed(19)
    scale = 1 / (Ci * Co)
    w1 = nn.Parameter(scale * L.rand(Ci, Co, m1, m2, dtype=L.cdouble))
    w2 = nn.Parameter(scale * L.rand(Ci, Co, m1, m2, dtype=L.cdouble))
    skip = nn.Conv2d(Ci, Co, 1).double()
    x = _t(L, 2, Ci, 8, 8, seed=19)
    B, H, W = 2, 8, 8

    def mix_channels(spec, weight):
        """At each kept frequency its own complex (in -> out) channel matrix."""
        return L.einsum("nchw,cdhw->ndhw", spec, weight)

    xf = L.fft.rfft2(x)
    # only the m1 lowest positive and m1 lowest negative row frequencies (times the m2
    # lowest column ones) survive; every other coefficient of the output spectrum is zero
    out = L.zeros(B, Co, H, W // 2 + 1, dtype=L.cdouble)
    for rows, weight in ((slice(0, m1), w1), (slice(-m1, None), w2)):
        out[:, :, rows, :m2] = mix_channels(xf[:, :, rows, :m2], weight)
    y = F.gelu(L.fft.irfft2(out, s=(H, W)) + skip(x))
    loss = y.pow(2).mean()
    loss.backward()
    return dict(y=y, loss=loss, g1=w1.grad, g2=w2.grad, gs=grads_of(skip),
                dt=w1.dtype, xf=xf[0, 0, :3])


@program
def tcn_dilated_causal_conv1d_with_weight_norm_and_chomp(L):
    """A TCN: Conv1d with padding (k-1)*d and the tail chomped by [:, :, :-pad], wrapped in
    nn.utils.weight_norm (weight_g/weight_v in the state_dict, the deprecation warning), and
    parametrizations.weight_norm for the second conv (original0/original1), residual 1x1
    downsample, dilations 1, 2, 4; receptive-field causality checked by the gradient of the
    first output w.r.t. later inputs being zero.  Built under set_default_dtype(float64):
    g is ||v|| at registration, and a float32 norm differs from PyTorch's in its last bit
    (numpy's pairwise sum against PyTorch's order), a difference .double() would carry."""
    nn, F = L.nn, L.nn.functional
    L.set_default_dtype(L.float64)
    L.manual_seed(20)

    class Block(nn.Module):
        def __init__(self, cin, cout, k, d):
            super().__init__()
            self.pad = (k - 1) * d
            self.c1 = nn.utils.weight_norm(nn.Conv1d(cin, cout, k, padding=self.pad,
                                                     dilation=d))
            self.c2 = nn.utils.parametrizations.weight_norm(
                nn.Conv1d(cout, cout, k, padding=self.pad, dilation=d))
            self.down = nn.Conv1d(cin, cout, 1) if cin != cout else None

        def forward(self, x):
            h = F.relu(self.c1(x)[:, :, :-self.pad])
            h = F.relu(self.c2(h)[:, :, :-self.pad])
            return F.relu(h + (x if self.down is None else self.down(x)))

    tcn = nn.Sequential(Block(2, 4, 2, 1), Block(4, 4, 2, 2), Block(4, 4, 2, 4))
    x = _t(L, 2, 2, 16, seed=20, grad=True)
    y = tcn(x)
    y[:, :, 5].sum().backward()
    causal = bool((x.grad[:, :, 6:] == 0).all())
    return dict(y=y, gx=x.grad, causal=causal, keys=sorted(tcn.state_dict()),
                g=grads_of(tcn[0]))


@program
def nbeats_generic_and_trend_blocks_with_doubly_residual_stacking(L):
    """N-BEATS: input windows cut from a series by Tensor.unfold(0, size, step), a generic
    block (FC stack then theta to backcast/forecast by linear bases), a trend block with a
    polynomial basis from arange/pow, the doubly-residual loop (x - backcast, forecast
    summed), sMAPE and MASE losses, and an Adam step."""
    nn = L.nn
    series = L.sin(L.arange(60, dtype=L.float64) * 0.3) + 0.1 * _t(L, 60, seed=21)
    win = series.unfold(0, 12, 3)
    x, y = win[:, :8], win[:, 8:]
    Lb, H = 8, 4
    L.manual_seed(21)

    class Generic(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Sequential(nn.Linear(Lb, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
            self.theta = nn.Linear(16, Lb + H)

        def forward(self, x):
            t = self.theta(self.fc(x))
            return t[:, :Lb], t[:, Lb:]

    class Trend(nn.Module):
        def __init__(self, p=3):
            super().__init__()
            self.fc = nn.Sequential(nn.Linear(Lb, 16), nn.ReLU())
            self.theta = nn.Linear(16, p, bias=False)
            tb, tf = L.arange(Lb, dtype=L.float64) / Lb, L.arange(H, dtype=L.float64) / H
            self.register_buffer("Tb", L.stack([tb ** i for i in range(p)]))
            self.register_buffer("Tf", L.stack([tf ** i for i in range(p)]))

        def forward(self, x):
            t = self.theta(self.fc(x))
            return t @ self.Tb, t @ self.Tf

    blocks = nn.ModuleList([Trend(), Generic(), Generic()]).double()
    opt = L.optim.Adam(blocks.parameters(), lr=1e-3)

    def forward(x):
        res, fc = x.flip(dims=(1,)), 0.0
        for b in blocks:
            back, f = b(res)
            res, fc = res - back, fc + f
        return fc

    f = forward(x)
    smape = 200 * ((f - y).abs() / (f.abs() + y.abs())).mean()
    scale = (x[:, 1:] - x[:, :-1]).abs().mean(1, keepdim=True)
    mase = ((f - y).abs() / scale).mean()
    loss = smape + mase
    opt.zero_grad()
    loss.backward()
    opt.step()
    return dict(win=win.shape, f=f, smape=smape, mase=mase, w=blocks.state_dict())


@program
def video_classifier_with_conv3d_maxpool3d_and_adaptive_pooling(L):
    """A C3D-style clip classifier: (B, C, T, H, W) clips, Conv3d with (3, 3, 3) kernels and
    padding, BatchNorm3d, max_pool3d with kernel (1, 2, 2) then (2, 2, 2) and
    ceil_mode, AdaptiveAvgPool3d(1) and AdaptiveMaxPool3d((1, 2, 2)) heads, a (2+1)d
    factorised conv (spatial (1, 3, 3) then temporal (3, 1, 1)), cross-entropy and grads."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(22)
    net = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(),
        nn.MaxPool3d((1, 2, 2)),
        nn.Conv3d(4, 4, (1, 3, 3), padding=(0, 1, 1)), nn.Conv3d(4, 6, (3, 1, 1),
                                                                 padding=(1, 0, 0)),
        nn.ReLU(), nn.MaxPool3d(2, ceil_mode=True)).double()
    head = nn.Linear(6, 3).double()
    clip = _t(L, 2, 3, 5, 8, 8, seed=22)
    h = net(clip)
    a = nn.AdaptiveAvgPool3d(1)(h).flatten(1)
    m = F.adaptive_max_pool3d(h, (1, 2, 2))
    loss = F.cross_entropy(head(a), L.tensor([0, 2])) + m.mean()
    loss.backward()
    return dict(h=h, a=a, m=m, loss=loss, g=grads_of(net), rv=net[1].running_var)


@program
def sliding_window_forecasting_dataset_and_mlp_with_unfold_batches(L):
    """Time-series windows without loops: a multivariate (T, C) series standardised by mean
    and std(unbiased=False), windows by unfold(0, lookback + horizon, 1) then permute to
    (N, lookback+horizon, C), a train/val split by index, an MLP over flattened lookbacks,
    L1 loss and a few SGD-with-nesterov steps; the last window's forecast de-standardised."""
    F = L.nn.functional
    T, C, lb, hz = 40, 2, 6, 2
    s = L.cumsum(_t(L, T, C, seed=23), 0)
    mu, sd = s.mean(0), s.std(0, unbiased=False)
    z = (s - mu) / sd
    w = z.unfold(0, lb + hz, 1).permute(0, 2, 1)
    xs, ys = w[:, :lb].flatten(1), w[:, lb:].flatten(1)
    ntr = int(0.8 * len(xs))
    m = _mlp(L, [lb * C, 8, hz * C], 23)
    opt = L.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    tr = []
    for _ in range(4):
        opt.zero_grad()
        loss = F.l1_loss(m(xs[:ntr]), ys[:ntr])
        loss.backward()
        opt.step()
        tr.append(loss.item())
    with L.no_grad():
        val = F.l1_loss(m(xs[ntr:]), ys[ntr:])
        pred = m(xs[-1:]).view(hz, C) * sd + mu
    return dict(shape=w.shape, tr=tr, val=val, pred=pred)


# ----------------------------------------------------------------------------------------------
# tabular and metrics
# ----------------------------------------------------------------------------------------------
@program
def tabular_mlp_with_categorical_embeddings_batchnorm_and_class_weights(L):
    """The fastai-style tabular model: per-column embeddings sized min(50, (n+1)//2) in a
    ModuleList, cat with BatchNorm1d-normalised continuous columns, embedding dropout, a
    Linear-ReLU-BatchNorm1d stack, CrossEntropyLoss with class weights; train then eval mode
    outputs, BatchNorm running statistics and the momentum=None cumulative average."""
    nn = L.nn
    cards = [5, 3, 12]
    L.manual_seed(24)

    class Tab(nn.Module):
        def __init__(self):
            super().__init__()
            self.embs = nn.ModuleList([nn.Embedding(n, min(50, (n + 1) // 2)) for n in cards])
            self.emb_drop = nn.Dropout(0.1)
            self.bn_cont = nn.BatchNorm1d(2, momentum=None)
            ne = sum(e.embedding_dim for e in self.embs)
            self.layers = nn.Sequential(nn.Linear(ne + 2, 8), nn.ReLU(), nn.BatchNorm1d(8),
                                        nn.Linear(8, 3))

        def forward(self, xc, xn):
            e = L.cat([emb(xc[:, i]) for i, emb in enumerate(self.embs)], 1)
            return self.layers(L.cat([self.emb_drop(e), self.bn_cont(xn)], 1))

    m = Tab().double()
    r = np.random.RandomState(24)
    xc = L.tensor(np.stack([r.randint(0, n, 10) for n in cards], 1))
    xn = _t(L, 10, 2, seed=25)
    y = L.tensor(_labels(10, 3, 26))
    crit = nn.CrossEntropyLoss(weight=L.tensor([1.0, 2.0, 0.5], dtype=L.float64))
    opt = L.optim.AdamW(m.parameters(), lr=1e-2)
    L.manual_seed(25)
    tr = []
    for _ in range(3):
        opt.zero_grad()
        loss = crit(m(xc, xn), y)
        loss.backward()
        opt.step()
        tr.append(loss.item())
    m.eval()
    return dict(tr=tr, ev=m(xc, xn), rm=m.bn_cont.running_mean, rv=m.bn_cont.running_var,
                nbt=m.bn_cont.num_batches_tracked, dims=[e.embedding_dim for e in m.embs])


@program
def classification_metrics_confusion_matrix_roc_auc_and_topk(L):
    """Metrics code: a confusion matrix by bincount(n * y + p, minlength=n*n).view(n, n),
    per-class precision/recall/F1 with nan_to_num, balanced accuracy; ROC-AUC by sorting
    scores descending, cumsum of TPs and FPs, trapz/trapezoid of the curve, and by the
    rank-sum formula with ties averaged; top-k accuracy from topk and eq of expanded
    targets; average precision."""
    n = 4
    logits = _t(L, 30, n, seed=27)
    y = L.tensor(_labels(30, n, 28))
    p = logits.argmax(1)
    cm = L.bincount(n * y + p, minlength=n * n).view(n, n)
    tp = cm.diag().double()
    prec = L.nan_to_num(tp / cm.sum(0))
    rec = tp / cm.sum(1)
    f1 = L.nan_to_num(2 * prec * rec / (prec + rec))
    _, top = logits.topk(3, 1, True, True)
    correct = top.t().eq(y.view(1, -1).expand_as(top.t()))
    topk = [correct[:k].reshape(-1).float().sum(0, keepdim=True).mul_(100.0 / 30)
            for k in (1, 3)]
    s = logits.softmax(1)[:, 1]
    t = (y == 1).long()
    order = s.argsort(descending=True)
    ts = t[order]
    tps, fps = L.cumsum(ts, 0).double(), L.cumsum(1 - ts, 0).double()
    tpr = L.cat([L.zeros(1, dtype=L.float64), tps / tps[-1]])
    fpr = L.cat([L.zeros(1, dtype=L.float64), fps / fps[-1]])
    auc = L.trapezoid(tpr, fpr)
    auc2 = L.trapz(tpr, fpr)
    ranks = s.argsort().argsort().double() + 1
    npos = t.sum()
    rank_auc = (ranks[t == 1].sum() - npos * (npos + 1) / 2) / (npos * (len(t) - npos))
    ap = ((tps / L.arange(1, 31)) * ts).sum() / npos
    return dict(cm=cm, prec=prec, rec=rec, f1=f1, bal=rec.mean(), topk=topk, auc=auc,
                auc2=auc2, rank=rank_auc, ap=ap)


@program
def mixup_cutmix_and_label_smoothing_soft_targets_cross_entropy(L):
    """Augmentation in the loss: mixup with a Beta(0.4, 0.4) draw from torch.distributions,
    a permutation from randperm, one_hot soft targets mixed; cutmix with a box from the
    lambda (sqrt, clamp), the area-corrected lambda; cross_entropy with probability targets
    (and label_smoothing on top) agreeing with the manual -(t * log_softmax).sum(1).mean()."""
    F = L.nn.functional
    L.manual_seed(29)
    x = _t(L, 6, 3, 8, 8, seed=29)
    y = L.tensor(_labels(6, 5, 30))
    lam = L.distributions.Beta(L.tensor(0.4), L.tensor(0.4)).sample().item()
    perm = L.randperm(6)
    xm = lam * x + (1 - lam) * x[perm]
    oh = F.one_hot(y, 5).double()
    ym = lam * oh + (1 - lam) * oh[perm]
    cut = math.sqrt(1 - lam)
    ch, cw = int(8 * cut), int(8 * cut)
    cy, cx = L.randint(8, (1,)).item(), L.randint(8, (1,)).item()
    y1, y2 = max(cy - ch // 2, 0), min(cy + ch // 2, 8)
    x1, x2 = max(cx - cw // 2, 0), min(cx + cw // 2, 8)
    xc = x.clone()
    xc[:, :, y1:y2, x1:x2] = x[perm, :, y1:y2, x1:x2]
    lam_c = 1 - (y2 - y1) * (x2 - x1) / 64
    L.manual_seed(31)
    logits = _t(L, 6, 5, seed=31, grad=True)
    l1 = F.cross_entropy(logits, ym)
    l2 = -(ym * F.log_softmax(logits, 1)).sum(1).mean()
    l3 = F.cross_entropy(logits, ym, label_smoothing=0.1)
    l4 = lam_c * F.cross_entropy(logits, y) + (1 - lam_c) * F.cross_entropy(logits, y[perm])
    (l1 + l3 + l4).backward()
    return dict(lam=lam, perm=perm, xm=xm, xc=xc, l1=l1, l2=l2, l3=l3, l4=l4, g=logits.grad)



# ----------------------------------------------------------------------------------------------
# reduced precision, sequence labelling, distillation
# ----------------------------------------------------------------------------------------------
@program
def half_precision_mlp_over_token_batches_with_broadcast_bias_gradients(L):
    """A model cast by .half() (and .to(bfloat16)) run over a (B, T, D) batch, its transpose
    (a non-contiguous batch) and a plain matrix: Linear rounds as PyTorch's addmm (the bias
    added before one rounding) or its bmm (rounded, then the bias added); a hand-written
    layer adding a (D,) bias and scaling by a (D,) gain, whose gradients are broadcast sums
    of float16 numbers; the float32 loss's gradients in float16."""
    nn = L.nn
    out = {}
    for name, dt in (("half", L.float16), ("bf16", L.bfloat16)):
        L.manual_seed(30)

        class Scale(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.g = nn.Parameter(L.ones(d) * 0.5)
                self.b = nn.Parameter(L.linspace(-1, 1, d))

            def forward(self, x):
                return x * self.g + self.b

        m = nn.Sequential(nn.Linear(16, 24), Scale(24), nn.Linear(24, 8)).to(dt)
        x = _t(L, 3, 5, 16, seed=30).to(dt)
        ys = [m(x), m(x.transpose(0, 1)), m(x[0])]
        names = [y.grad_fn.name() for y in ys]
        if dt is L.bfloat16:
            # the forward only: minigrad's bfloat16 backward keeps the gradients in float32
            # between ops (g * x summed unrounded), where PyTorch rounds each to bfloat16
            out[name] = dict(ys=[y.detach().float() for y in ys], names=names)
            continue
        loss = sum(y.float().pow(2).sum() for y in ys)
        loss.backward()
        out[name] = dict(ys=[y.detach() for y in ys], loss=loss.detach(),
                         g={k: v.grad for k, v in m.named_parameters()}, names=names)
    return out


@program
def bilstm_crf_forward_algorithm_and_viterbi_decoding(L):
    """A BiLSTM-CRF tagger: emission scores from a bidirectional LSTM, a learned transition
    matrix with start/end vectors, the partition function by the forward algorithm
    (logsumexp over the previous tag, masked steps keeping the old alphas via where), the
    gold path score by gather along tags, NLL = logZ - gold; Viterbi by max/argmax per step
    and backtracking through the stored backpointers with gather."""
    nn = L.nn
    T, B, K, D = 5, 3, 4, 6
    L.manual_seed(31)
    lstm = nn.LSTM(D, 3, bidirectional=True).double()
    proj = nn.Linear(6, K).double()
    trans = nn.Parameter(_t(L, K, K, scale=0.1, seed=31))
    start, end = nn.Parameter(_t(L, K, scale=0.1, seed=32)), nn.Parameter(_t(L, K, seed=33))
    x = _t(L, T, B, D, seed=34)
    tags = L.tensor(np.random.RandomState(35).randint(0, K, (T, B)))
    lengths = L.tensor([5, 3, 4])
    mask = L.arange(T)[:, None] < lengths[None]
    em = proj(lstm(x)[0])
    alpha = start + em[0]
    for t in range(1, T):
        nxt = L.logsumexp(alpha[:, :, None] + trans[None] + em[t][:, None, :], dim=1)
        alpha = L.where(mask[t][:, None], nxt, alpha)
    logz = L.logsumexp(alpha + end, dim=1)
    score = start[tags[0]] + em[0].gather(1, tags[0][:, None]).squeeze(1)
    for t in range(1, T):
        step = trans[tags[t - 1], tags[t]] + em[t].gather(1, tags[t][:, None]).squeeze(1)
        score = score + step * mask[t]
    last = tags.gather(0, (lengths - 1)[None]).squeeze(0)
    score = score + end[last]
    nll = (logz - score).mean()
    nll.backward()
    with L.no_grad():
        v = start + em[0]
        back = []
        for t in range(1, T):
            best, idx = (v[:, :, None] + trans[None]).max(1)
            nv = best + em[t]
            v = L.where(mask[t][:, None], nv, v)
            back.append(L.where(mask[t][:, None], idx, L.arange(K).expand(B, K)))
        v = v + end
        best_last = v.argmax(1)
        path = [best_last]
        for bp in reversed(back):
            path.append(bp.gather(1, path[-1][:, None]).squeeze(1))
        path = L.stack(path[::-1])
    return dict(logz=logz, score=score, nll=nll, gt=trans.grad, gs=start.grad, ge=end.grad,
                g=grads_of(proj), path=path, vmax=v.max(1).values)


@program
def fasttext_hashed_bigrams_embedding_bag_with_offsets(L):
    """fastText's classifier: words and hashed bigrams (a deterministic polynomial hash mod
    the bucket count) flattened into one index stream with offsets from cumsum of lengths,
    nn.EmbeddingBag(mode='mean') and a Linear; trained by SGD with a linearly decaying lr
    (LambdaLR); include_last_offset and per_sample_weights with mode='sum' as a second
    pass."""
    nn, F = L.nn, L.nn.functional
    docs = [("good movie very good", 0), ("bad plot", 1), ("very bad acting bad", 1),
            ("good fun", 0)]
    vocab = {}
    for d, _ in docs:
        for w in d.split():
            vocab.setdefault(w, len(vocab))
    buckets = 11

    def ids(text):
        ws = [vocab[w] for w in text.split()]
        grams = [len(vocab) + (ws[i] * 31 + ws[i + 1]) % buckets for i in range(len(ws) - 1)]
        return ws + grams

    seqs = [ids(d) for d, _ in docs]
    flat = L.tensor([i for s in seqs for i in s])
    lens = L.tensor([len(s) for s in seqs])
    offsets = L.cat([L.zeros(1, dtype=L.long), L.cumsum(lens, 0)[:-1]])
    y = L.tensor([c for _, c in docs])
    L.manual_seed(36)
    bag = nn.EmbeddingBag(len(vocab) + buckets, 5, mode="mean").double()
    fc = nn.Linear(5, 2).double()
    opt = L.optim.SGD(list(bag.parameters()) + list(fc.parameters()), lr=0.5)
    sched = L.optim.lr_scheduler.LambdaLR(opt, lambda e: 1 - e / 4)
    tr = []
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(fc(bag(flat, offsets)), y)
        loss.backward()
        opt.step()
        sched.step()
        tr.append((loss.item(), sched.get_last_lr()[0]))
    psw = L.linspace(0.5, 1.5, flat.numel(), dtype=L.float64)
    s = F.embedding_bag(flat, bag.weight, L.cat([offsets, flat.new_tensor([flat.numel()])]),
                        mode="sum", per_sample_weights=psw, include_last_offset=True)
    bad = [err(lambda: bag(flat, (offsets + 1).to(dt))) for dt in (L.long, L.int32)]
    return dict(flat=flat, offsets=offsets, tr=tr, w=bag.weight, s=s, bad=bad)


@program
def knowledge_distillation_with_temperature_kl_div_and_frozen_teacher(L):
    """Hinton distillation: a frozen teacher in eval() under torch.no_grad (requires_grad_
    False on its parameters), a student trained on alpha * T^2 * KL(student/T || teacher/T)
    by F.kl_div(log_softmax, softmax, reduction='batchmean') plus (1 - alpha) * CE; the same
    KL with log_target=True; the student's Adam steps and the teacher unchanged."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(37)
    teacher = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(16, 4)).double().eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4)).double()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    opt = L.optim.Adam(student.parameters(), lr=1e-2)
    x, y = _t(L, 10, 6, seed=37), L.tensor(_labels(10, 4, 38))
    T, alpha = 3.0, 0.7
    tr = []
    for _ in range(3):
        with L.no_grad():
            tl = teacher(x)
        sl = student(x)
        kd = F.kl_div(F.log_softmax(sl / T, 1), F.softmax(tl / T, 1), reduction="batchmean")
        kd2 = F.kl_div(F.log_softmax(sl / T, 1), F.log_softmax(tl / T, 1),
                       reduction="batchmean", log_target=True)
        loss = alpha * T * T * kd + (1 - alpha) * F.cross_entropy(sl, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tr.append((loss.item(), kd.item(), kd2.item()))
    same = all(L.equal(before[k], v) for k, v in teacher.state_dict().items())
    return dict(tr=tr, same=same, w=student.state_dict(), tg=[p.grad for p in
                                                               teacher.parameters()])


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
