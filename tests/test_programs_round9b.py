"""Whole programs in the idioms of code people run, a ninth round (part b): the shapes of code
around models.  Code written in 2017's style (Variable, typed tensor constructors, .data), a
LightningModule-like loop, stateful metrics in torchmetrics' manner, a scikit-learn-like
wrapper with numpy in and out, an adaptive-softmax language model, attention with kdim/vdim
and extra key/value biases, ranking losses, the schedulers and optimizers seldom used,
temperature scaling by L-BFGS with a calibration error; Bayesian layers, importance-weighted
and flow objectives, count likelihoods and neural processes, an RBM; GAN generators
(modulated convolutions, CycleGAN's pieces, ESRGAN's dense blocks) and detection heads
decoded by hand (CenterNet, YOLO with CIoU, soft-argmax keypoints).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, labels as _labels, load_seeded, normal64 as _arr, params_of, registry,
    program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()

# ----------------------------------------------------------------------------------------------
# the shapes of the code around models
# ----------------------------------------------------------------------------------------------
@program(rtol=2e-6, atol=1e-7)   # float32 losses (or Adam on tiny gradients)
def code_in_2017_style_variable_typed_constructors_and_data(L):
    """A script as written for PyTorch 0.3: typed constructors (FloatTensor(n, m) filled in
    place, LongTensor of a list), Variable wrappers with requires_grad, the update by hand
    through .data and .grad.data.zero_(), .type() strings and .type(DoubleTensor), the loss
    read through .data and size()[0]."""
    from_var = L.autograd.Variable
    x = L.FloatTensor(4, 3).zero_()
    x += L.from_numpy(_arr(4, 3, seed=1).astype(np.float32))
    y = L.LongTensor([0, 2, 1, 2])
    w = from_var(L.FloatTensor(3, 3).fill_(0.1), requires_grad=True)
    b = from_var(L.zeros(3), requires_grad=True)
    X = from_var(x)
    losses = []
    for _ in range(3):
        out = X.mm(w) + b.unsqueeze(0).expand_as(X.mm(w))
        loss = L.nn.functional.cross_entropy(out, from_var(y))
        loss.backward()
        w.data -= 0.5 * w.grad.data
        b.data.add_(b.grad.data, alpha=-0.5)
        w.grad.data.zero_()
        b.grad.data.zero_()
        losses.append(float(loss.data))
    d = x.type(L.DoubleTensor)
    return dict(losses=losses, w=w, kinds=[x.type(), y.type(), d.type()], n=X.size()[0],
                is_var=isinstance(X, L.Tensor), leaf=[X.is_leaf, w.is_leaf, out.is_leaf])


@program(rtol=1e-7, atol=1e-10)   # float32 losses (or Adam on tiny gradients)
def lightning_style_module_steps_and_optimizer_config(L):
    """A LightningModule-like class run by a tiny trainer: training_step returning a dict with
    the loss, validation_step under no_grad in eval mode, configure_optimizers returning an
    optimizer and a scheduler dict stepped per epoch, self.log collecting detached values."""
    nn, F = L.nn, L.nn.functional

    class LitClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                     nn.Dropout(0.0), nn.Linear(8, 3))
            self.logged = {}

        def log(self, name, value):
            self.logged.setdefault(name, []).append(value.detach().clone())

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return {"loss": loss}

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self.net(x)
            self.log("val_acc", (logits.argmax(-1) == y).float().mean())

        def configure_optimizers(self):
            opt = L.optim.Adam(self.parameters(), lr=1e-2)
            sched = L.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    L.manual_seed(30)
    module = LitClassifier().double()
    cfg = module.configure_optimizers()
    opt, sched = cfg["optimizer"], cfg["lr_scheduler"]["scheduler"]
    xs, ys = _t(L, 12, 4, seed=2), L.tensor(_labels(12, 3, 3))
    batches = list(zip(xs.split(4), ys.split(4)))
    for epoch in range(2):
        module.train()
        for i, batch in enumerate(batches[:2]):
            opt.zero_grad()
            module.training_step(batch, i)["loss"].backward()
            opt.step()
        module.eval()
        with L.no_grad():
            module.validation_step(batches[2], 0)
        sched.step()
    return dict(logged=module.logged, lr=sched.get_last_lr(), w=params_of(module),
                rm=module.net[1].running_mean, nbt=module.net[1].num_batches_tracked)


@program
def torchmetrics_style_stateful_metrics(L):
    """Stateful metrics in torchmetrics' manner: states registered as non-persistent buffers
    (and a list state), update() accumulating per batch, compute() reducing (a mean squared
    error, a macro F1 from a confusion matrix by bincount, a cat of the list state), reset();
    the buffers follow .double() and are absent from the state dict."""
    nn = L.nn

    class Metric(nn.Module):
        def __init__(self):
            super().__init__()
            self._defaults = {}

        def add_state(self, name, default):
            self._defaults[name] = default
            if isinstance(default, list):
                setattr(self, name, [])
            else:
                self.register_buffer(name, default.clone(), persistent=False)

        def reset(self):
            for name, default in self._defaults.items():
                setattr(self, name, [] if isinstance(default, list) else default.clone())

    class MSE(Metric):
        def __init__(self):
            super().__init__()
            self.add_state("sum_sq", L.tensor(0.0))
            self.add_state("total", L.tensor(0))

        def update(self, p, t):
            self.sum_sq += ((p - t) ** 2).sum()
            self.total += t.numel()

        def compute(self):
            return self.sum_sq / self.total

    class F1(Metric):
        def __init__(self, k):
            super().__init__()
            self.k = k
            self.add_state("cm", L.zeros(k, k, dtype=L.long))
            self.add_state("preds", [])

        def update(self, logits, t):
            p = logits.argmax(-1)
            self.preds.append(p)
            self.cm += L.bincount(t * self.k + p, minlength=self.k ** 2).view(self.k, self.k)

        def compute(self):
            tp = self.cm.diag().double()
            prec = tp / self.cm.sum(0).clamp(min=1)
            rec = tp / self.cm.sum(1).clamp(min=1)
            f1 = 2 * prec * rec / (prec + rec).clamp(min=1e-12)
            return f1.mean(), L.cat(self.preds)

    mse, f1 = MSE().double(), F1(3)
    for s in range(3):
        mse.update(_t(L, 5, seed=s), _t(L, 5, seed=s + 10))
        f1.update(_t(L, 4, 3, seed=s + 20), L.tensor(_labels(4, 3, s)))
    out = dict(mse=mse.compute(), dtype=mse.sum_sq.dtype, f1=f1.compute(),
               keys=list(mse.state_dict()), bufs=[n for n, _ in f1.named_buffers()])
    mse.reset()
    f1.reset()
    out.update(after=mse.sum_sq, cm=f1.cm.sum(), preds=len(f1.preds))
    return out


@program(rtol=2e-6, atol=1e-7)   # float32 losses (or Adam on tiny gradients)
def sklearn_like_wrapper_numpy_in_and_out(L):
    """A scikit-learn-like estimator around a module: fit(X, y) with numpy arrays (as_tensor,
    a DataLoader over a TensorDataset with a seeded generator), predict_proba returning
    numpy through detach().cpu().numpy(), score by numpy; the arrays' dtypes and values."""
    nn, F = L.nn, L.nn.functional
    data = L.utils.data

    class NeuralNetClassifier:
        def __init__(self, module, lr=0.1, epochs=2, batch_size=4):
            self.module, self.lr, self.epochs, self.batch_size = module, lr, epochs, batch_size

        def fit(self, X, y):
            ds = data.TensorDataset(L.as_tensor(X), L.as_tensor(y))
            loader = data.DataLoader(ds, batch_size=self.batch_size, shuffle=True,
                                     generator=L.Generator().manual_seed(0))
            opt = L.optim.SGD(self.module.parameters(), lr=self.lr)
            self.history_ = []
            for _ in range(self.epochs):
                total = 0.0
                for xb, yb in loader:
                    opt.zero_grad()
                    loss = F.cross_entropy(self.module(xb), yb)
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(xb)
                self.history_.append(total / len(ds))
            return self

        def predict_proba(self, X):
            self.module.eval()
            with L.no_grad():
                return F.softmax(self.module(L.as_tensor(X)), -1).detach().cpu().numpy()

        def score(self, X, y):
            return float((self.predict_proba(X).argmax(1) == y).mean())

    L.manual_seed(31)
    X = _arr(10, 4, seed=4).astype(np.float32)
    y = _labels(10, 3, 5)
    clf = NeuralNetClassifier(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)))
    clf.fit(X, y)
    proba = clf.predict_proba(X)
    return dict(history=clf.history_, proba=proba, score=clf.score(X, y),
                sums=proba.sum(1))


@program
def word_lm_with_adaptive_log_softmax(L):
    """A word-level language model whose output is nn.AdaptiveLogSoftmaxWithLoss (a head over
    the frequent words and two tail clusters with reduced projections): the loss and
    per-target log-probabilities from forward, log_prob over the whole vocabulary, predict,
    two Adagrad steps."""
    nn = L.nn
    L.manual_seed(32)
    V = 20
    rnn = nn.GRU(5, 8, batch_first=True).double()
    emb = load_seeded(L, nn.Embedding(V, 5).double(), 6)
    asm = nn.AdaptiveLogSoftmaxWithLoss(8, V, cutoffs=[6, 12], div_value=2.0,
                                        head_bias=True).double()
    params = list(rnn.parameters()) + list(emb.parameters()) + list(asm.parameters())
    opt = L.optim.Adagrad(params, lr=0.1, lr_decay=0.01)
    ids = L.tensor(_labels(3 * 6, V, 7).reshape(3, 6))
    losses = []
    for _ in range(2):
        opt.zero_grad()
        h, _ = rnn(emb(ids[:, :-1]))
        out = asm(h.reshape(-1, 8), ids[:, 1:].reshape(-1))
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    with L.no_grad():
        h, _ = rnn(emb(ids[:, :-1]))
        lp = asm.log_prob(h.reshape(-1, 8))
        pred = asm.predict(h.reshape(-1, 8))
    return dict(losses=losses, output=out.output.detach(), lp=lp, norm=lp.exp().sum(1),
                pred=pred, same=L.equal(pred, lp.argmax(1)),
                shapes=[tuple(m.weight.shape) for m in asm.tail.modules()
                        if isinstance(m, nn.Linear)])


@program
def multihead_attention_kdim_vdim_bias_kv_and_zero_attn(L):
    """nn.MultiheadAttention with keys and values of other widths (kdim, vdim: separate
    projection weights), add_bias_kv and add_zero_attn (one more key position each), a key
    padding mask and per-head weights (average_attn_weights=False); gradients of the
    projection weights and of the biases added to the keys."""
    nn = L.nn
    L.manual_seed(33)
    mha = nn.MultiheadAttention(6, 2, kdim=4, vdim=5, add_bias_kv=True, add_zero_attn=True,
                                batch_first=True).double()
    q, k, v = _t(L, 2, 3, 6, seed=8), _t(L, 2, 4, 4, seed=9), _t(L, 2, 4, 5, seed=10)
    pad = L.tensor([[False, False, False, True], [False, False, False, False]])
    out, w = mha(q, k, v, key_padding_mask=pad, average_attn_weights=False)
    out.pow(2).sum().backward()
    return dict(out=out, w=w, names=sorted(n for n, _ in mha.named_parameters()),
                gbk=mha.bias_k.grad, gq=mha.q_proj_weight.grad, gv=mha.v_proj_weight.grad)


@program
def ranking_losses_margin_hinge_cosine_and_custom_triplet(L):
    """The ranking losses of retrieval code: MarginRankingLoss on score pairs, a
    HingeEmbeddingLoss on distances with +1/-1 targets, CosineEmbeddingLoss with a margin,
    TripletMarginWithDistanceLoss with a cosine distance and swap; each with its reductions,
    and the gradients of the embeddings."""
    nn, F = L.nn, L.nn.functional
    a, p, n = (_t(L, 5, 4, seed=s, grad=True) for s in (11, 12, 13))
    s1, s2 = (a * p).sum(1), (a * n).sum(1)
    target = L.tensor([1., -1, 1, 1, -1], dtype=L.float64)
    out = {}
    for red in ("mean", "sum", "none"):
        out["rank_" + red] = nn.MarginRankingLoss(margin=0.5, reduction=red)(s1, s2, target)
        out["hinge_" + red] = nn.HingeEmbeddingLoss(margin=2.0, reduction=red)(
            (a - n).norm(dim=1), target)
        out["cos_" + red] = nn.CosineEmbeddingLoss(margin=0.2, reduction=red)(a, p, target)
    trip = nn.TripletMarginWithDistanceLoss(
        distance_function=lambda x, y: 1.0 - F.cosine_similarity(x, y), margin=0.3, swap=True)
    out["trip"] = trip(a, p, n)
    total = sum(v.sum() for v in out.values())
    out["grads"] = L.autograd.grad(total, (a, p, n))
    return out


@program
def rarely_used_schedulers_in_one_run(L):
    """The schedulers seldom seen in tests: LinearLR then PolynomialLR joined by
    SequentialLR, a ChainedScheduler of ConstantLR and MultiplicativeLR, CyclicLR in
    exp_range mode (momentum cycled), CosineAnnealingWarmRestarts with T_mult=2 stepped with
    fractional epochs; the lr of every step and the state dicts' scalar entries."""
    w = L.nn.Parameter(L.zeros(2, dtype=L.float64))
    sched_lrs = {}
    opt = L.optim.SGD([w], lr=0.1)
    s = L.optim.lr_scheduler.SequentialLR(opt, [
        L.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3),
        L.optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)], milestones=[3])
    sched_lrs["seq"] = [opt.step() or s.step() or s.get_last_lr()[0] for _ in range(8)]
    opt = L.optim.SGD([w], lr=0.1)
    s = L.optim.lr_scheduler.ChainedScheduler([
        L.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2),
        L.optim.lr_scheduler.MultiplicativeLR(opt, lr_lambda=lambda e: 0.9)])
    sched_lrs["chain"] = [opt.step() or s.step() or opt.param_groups[0]["lr"] for _ in range(5)]
    opt = L.optim.SGD([w], lr=0.1, momentum=0.9)
    s = L.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                      mode="exp_range", gamma=0.9)
    cyc = []
    for _ in range(6):
        opt.step()
        s.step()
        cyc.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
    sched_lrs["cyclic"] = cyc
    opt = L.optim.SGD([w], lr=0.1)
    s = L.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.001)
    warm = []
    for epoch in range(4):
        for i in range(2):
            opt.step()
            s.step(epoch + i / 2)
            warm.append(opt.param_groups[0]["lr"])
    sched_lrs["warm"] = warm
    sched_lrs["state"] = {k: v for k, v in s.state_dict().items()
                          if isinstance(v, (int, float))}
    return sched_lrs


@program
def rarely_used_optimizers_rprop_asgd_adamax_nadam_radam(L):
    """Three steps of each seldom-used optimizer on the same small regression: Rprop (step
    sizes by sign agreement), ASGD (its averaged weights 'ax' and eta/mu), Adamax, NAdam
    with decoupled weight decay and momentum decay, RAdam with decoupled weight decay (the
    rectification off for the first steps); weights and state tensors."""
    F = L.nn.functional
    makers = dict(
        rprop=lambda ps: L.optim.Rprop(ps, lr=0.05, etas=(0.4, 1.3), step_sizes=(1e-4, 1)),
        asgd=lambda ps: L.optim.ASGD(ps, lr=0.05, t0=1, lambd=1e-3),
        adamax=lambda ps: L.optim.Adamax(ps, lr=0.05, weight_decay=0.01),
        nadam=lambda ps: L.optim.NAdam(ps, lr=0.05, weight_decay=0.1,
                                       decoupled_weight_decay=True, momentum_decay=0.005),
        radam=lambda ps: L.optim.RAdam(ps, lr=0.05, weight_decay=0.1,
                                       decoupled_weight_decay=True))
    out = {}
    x, y = _t(L, 6, 3, seed=14), _t(L, 6, 1, seed=15)
    for name, make in makers.items():
        w = L.nn.Parameter(_t(L, 3, 1, seed=16))
        opt = make([w])
        for _ in range(7):
            opt.zero_grad()
            F.mse_loss(x @ w, y).backward()
            opt.step()
        st = opt.state[w]
        out[name] = (w.detach().clone(), {k: v for k, v in st.items() if k != "step"})
    return out


@program
def temperature_scaling_by_lbfgs_and_expected_calibration_error(L):
    """Post-hoc calibration: one temperature fitted on held-out logits by LBFGS with a strong
    Wolfe line search and a closure, then the expected calibration error over 5 bins by
    bucketize of the confidences, before and after."""
    F = L.nn.functional
    logits = _t(L, 40, 4, scale=3.0, seed=17)
    y = L.tensor(_labels(40, 4, 18))
    T = L.nn.Parameter(L.ones(1, dtype=L.float64) * 1.5)
    opt = L.optim.LBFGS([T], lr=0.1, max_iter=30, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / T, y)
        loss.backward()
        return loss

    opt.step(closure)

    def ece(lg):
        conf, pred = F.softmax(lg, 1).max(1)
        acc = (pred == y).double()
        bins = L.bucketize(conf, L.linspace(0, 1, 6, dtype=L.float64)[1:-1])
        total = L.zeros(5, dtype=L.float64).index_add_(0, bins, conf - acc).abs()
        return total.sum() / len(y), L.bincount(bins, minlength=5)

    return dict(T=T.detach(), before=ece(logits), after=ece(logits / T.detach()),
                n_iter=opt.state[T]["n_iter"], evals=opt.state[T]["func_evals"])


# ----------------------------------------------------------------------------------------------
# probabilistic models
# ----------------------------------------------------------------------------------------------
@program
def bayes_by_backprop_local_reparameterisation(L):
    """A Bayesian linear layer: weight means and softplus-parametrised standard deviations, the
    local reparameterisation trick (activations sampled from their Gaussian by a seeded
    randn_like), the closed-form KL to a N(0, 1) prior by kl_divergence of Normals,
    an ELBO trained two steps; predictions averaged over samples in eval."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions

    class BayesLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.mu = nn.Parameter(L.zeros(o, i, dtype=L.float64).uniform_(-0.2, 0.2))
            self.rho = nn.Parameter(L.full((o, i), -3.0, dtype=L.float64))

        def forward(self, x):
            sigma = F.softplus(self.rho)
            m = F.linear(x, self.mu)
            s = L.sqrt(F.linear(x ** 2, sigma ** 2) + 1e-16)
            return m + s * L.randn_like(m)

        def kl(self):
            q = D.Normal(self.mu, F.softplus(self.rho))
            return D.kl_divergence(q, D.Normal(L.zeros_like(self.mu), 1.0)).sum()

    L.manual_seed(34)
    l1, l2 = BayesLinear(3, 6), BayesLinear(6, 2)
    opt = L.optim.Adam(list(l1.parameters()) + list(l2.parameters()), lr=0.05)
    x, y = _t(L, 8, 3, seed=19), L.tensor(_labels(8, 2, 20))
    losses = []
    for _ in range(2):
        opt.zero_grad()
        nll = F.cross_entropy(l2(F.relu(l1(x))), y, reduction="sum")
        loss = nll + (l1.kl() + l2.kl()) / 10
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with L.no_grad():
        probs = L.stack([F.softmax(l2(F.relu(l1(x))), -1) for _ in range(4)]).mean(0)
    return dict(losses=losses, probs=probs, mu=l1.mu.detach(), rho=l2.rho.detach())


@program
def importance_weighted_bound_and_planar_flows(L):
    """An importance-weighted autoencoder bound with K samples (logsumexp over samples minus
    log K) from a seeded rsample, and a posterior refined by two planar flows with the
    invertibility fix of u and the log-determinant log|1 + u^T psi|; gradients of the
    encoder output and the flow parameters."""
    D, F = L.distributions, L.nn.functional
    L.manual_seed(35)
    K, B, d = 5, 3, 2
    mu = _t(L, B, d, scale=0.5, seed=21, grad=True)
    logvar = _t(L, B, d, scale=0.2, seed=22, grad=True)
    q = D.Normal(mu, (0.5 * logvar).exp())
    z0 = q.rsample((K,))
    log_q = q.log_prob(z0).sum(-1)
    us = [_t(L, d, scale=0.5, seed=23 + i, grad=True) for i in range(2)]
    ws = [_t(L, d, scale=0.5, seed=25 + i, grad=True) for i in range(2)]
    bs = [L.tensor(0.1 * i, dtype=L.float64, requires_grad=True) for i in range(2)]
    z = z0
    for u, w, b in zip(us, ws, bs):
        wu = w @ u
        u_hat = u + (-1 + F.softplus(wu) - wu) * w / (w @ w)
        lin = z @ w + b
        psi = (1 - L.tanh(lin) ** 2).unsqueeze(-1) * w
        log_q = log_q - L.log((1 + psi @ u_hat).abs() + 1e-9)
        z = z + u_hat * L.tanh(lin).unsqueeze(-1)
    x = _t(L, B, d, seed=27)
    log_p = D.Normal(0.0, 1.0).log_prob(z).sum(-1) + D.Normal(z, 0.5).log_prob(x).sum(-1)
    log_w = log_p - log_q
    iwae = (L.logsumexp(log_w, 0) - math.log(K)).mean()
    elbo = log_w.mean()
    grads = L.autograd.grad(-iwae, [mu, logvar] + us + ws + bs)
    return dict(iwae=iwae, elbo=elbo, z=z, grads=grads)


@program
def deepar_negative_binomial_and_neural_process(L):
    """Two likelihood heads: DeepAR's negative binomial for counts (total_count and logits
    from softplus'ed mean and shape, log_prob, the mean and a seeded sample) and a
    conditional neural process (context encoded and mean-pooled, a Normal with softplus'ed
    scale over the targets; its log_prob and entropy)."""
    nn, F, D = L.nn, L.nn.functional, L.distributions
    L.manual_seed(36)
    rnn = nn.LSTM(2, 6, batch_first=True).double()
    proj = nn.Linear(6, 2).double()
    counts = L.tensor(_labels(2 * 7, 6, 28).reshape(2, 7)).double()
    inp = L.stack([L.log1p(counts[:, :-1]), L.arange(6.0, dtype=L.float64).expand(2, 6)], -1)
    h, _ = rnn(inp)
    mu_raw, alpha_raw = proj(h).unbind(-1)
    mu, alpha = F.softplus(mu_raw), F.softplus(alpha_raw)
    r = 1.0 / alpha
    nb = D.NegativeBinomial(total_count=r, logits=L.log(mu * alpha))
    nll = -nb.log_prob(counts[:, 1:]).mean()
    sample = nb.sample()
    enc = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8)).double()
    dec = nn.Sequential(nn.Linear(9, 8), nn.ReLU(), nn.Linear(8, 2)).double()
    cx, cy, tx = _t(L, 2, 5, 1, seed=29), _t(L, 2, 5, 1, seed=30), _t(L, 2, 4, 1, seed=31)
    ty = _t(L, 2, 4, 1, seed=32)
    rep = enc(L.cat([cx, cy], -1)).mean(1, keepdim=True).expand(-1, 4, -1)
    m, s = dec(L.cat([rep, tx], -1)).chunk(2, -1)
    pred = D.Normal(m, 0.1 + 0.9 * F.softplus(s))
    cnp = -pred.log_prob(ty).mean()
    (nll + cnp).backward()
    return dict(nll=nll, mean=nb.mean.detach(), var=nb.variance.detach(), sample=sample,
                cnp=cnp, ent=pred.entropy().detach(), g=grads_of(proj), ge=grads_of(enc))


@program
def restricted_boltzmann_machine_contrastive_divergence(L):
    """A binary restricted Boltzmann machine trained by one-step contrastive divergence: one
    Gibbs round trip from the data (hidden probabilities by sigmoid of F.linear, a bernoulli
    draw under the seed, visible probabilities through the transposed weight, another draw,
    detached), and as loss the mean free energy of the data minus that of the sample, whose
    gradient is the CD-1 update; three SGD steps, each recording the reconstruction MSE."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(37)
    W = nn.Parameter(L.randn(4, 6, dtype=L.float64) * 0.1)             # (hidden, visible)
    vb, hb = nn.Parameter(L.zeros(6, dtype=L.float64)), nn.Parameter(L.zeros(4, dtype=L.float64))
    opt = L.optim.SGD([W, vb, hb], lr=0.1)
    v = (L.rand(8, 6, dtype=L.float64) > 0.5).double()

    def free_energy(vis):
        # F(v) = -b.v - sum_j log(1 + exp(c_j + W_j.v)), the hidden units summed out
        return -(vis @ vb) - F.softplus(F.linear(vis, W, hb)).sum(1)

    def gibbs_round_trip(vis):
        p_hid = L.sigmoid(F.linear(vis, W, hb))
        hid = L.bernoulli(p_hid)
        p_vis = L.sigmoid(F.linear(hid, W.t(), vb))
        return hid, p_vis, L.bernoulli(p_vis).detach()

    errs = []
    for _ in range(3):
        h, pv, v1 = gibbs_round_trip(v)
        loss = free_energy(v).mean() - free_energy(v1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        errs.append(F.mse_loss(pv, v).item())
    return dict(errs=errs, W=W.detach(), v1=v1, h=h)


# ----------------------------------------------------------------------------------------------
# generators and image models
# ----------------------------------------------------------------------------------------------
@program
def stylegan2_modulated_convolution_by_grouped_conv(L):
    """StyleGAN2's modulated convolution: a per-sample style scales the weight's input
    channels, demodulation by rsqrt of the squared sum, the batch folded into groups of one
    conv2d; equal to a per-sample loop; noise injection scaled by a learned strength and a
    bias with leaky ReLU times sqrt(2)."""
    F = L.nn.functional
    B, Cin, Cout, k = 2, 3, 4, 3
    weight = _t(L, Cout, Cin, k, k, seed=33, grad=True)
    affine = L.nn.Linear(5, Cin).double()
    with L.no_grad():
        affine.weight.copy_(_t(L, Cin, 5, scale=0.3, seed=34))
        affine.bias.fill_(1.0)
    x, wlat = _t(L, B, Cin, 6, 6, seed=35, grad=True), _t(L, B, 5, seed=36)
    noise, strength = _t(L, B, 1, 6, 6, seed=37), L.tensor(0.1, dtype=L.float64,
                                                            requires_grad=True)
    style = affine(wlat)
    w = weight.unsqueeze(0) * style.view(B, 1, Cin, 1, 1)
    w = w * L.rsqrt(w.pow(2).sum([2, 3, 4], keepdim=True) + 1e-8)
    mod = F.conv2d(x.reshape(1, B * Cin, 6, 6), w.view(B * Cout, Cin, k, k), padding=1,
                   groups=B).view(B, Cout, 6, 6)
    loop = L.cat([F.conv2d(x[i:i + 1], w[i], padding=1) for i in range(B)])
    out = F.leaky_relu(mod + strength * noise, 0.2) * math.sqrt(2)
    out.square().mean().backward()
    return dict(out=out, same=L.allclose(loop, mod), gw=weight.grad, gx=x.grad,
                gs=strength.grad, ga=affine.weight.grad)


@program
def cyclegan_generator_pieces_image_pool_and_lsgan(L):
    """CycleGAN's pieces: a ResNet block with ReflectionPad2d and InstanceNorm2d, downsampling
    and a ConvTranspose2d with output_padding back up, Tanh; LSGAN's MSE against ones and
    zeros, cycle and identity L1 losses, two Adam optimizers over itertools.chain of two
    generators, the discriminator fed through an image pool whose choice uses torch.rand;
    a LambdaLR linear decay."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(38)

    def gen():
        return nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4), nn.ReLU(True),
            nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.InstanceNorm2d(8), nn.ReLU(True),
            nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(4, affine=True), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(4, 3, 3), nn.Tanh()).double()

    G_AB, G_BA = gen(), gen()
    D_B = nn.Sequential(nn.Conv2d(3, 4, 4, 2, 1), nn.LeakyReLU(0.2, True),
                        nn.Conv2d(4, 1, 3, 1, 1)).double()
    opt_G = L.optim.Adam(itertools.chain(G_AB.parameters(), G_BA.parameters()), lr=2e-3,
                         betas=(0.5, 0.999))
    opt_D = L.optim.Adam(D_B.parameters(), lr=2e-3, betas=(0.5, 0.999))
    sched = L.optim.lr_scheduler.LambdaLR(opt_G, lambda e: 1.0 - max(0, e - 1) / 3)
    pool, losses = [], []
    real_A, real_B = _t(L, 2, 3, 8, 8, seed=39).tanh(), _t(L, 2, 3, 8, 8, seed=40).tanh()
    for _ in range(2):
        fake_B = G_AB(real_A)
        rec_A = G_BA(fake_B)
        pred = D_B(fake_B)
        loss_G = F.mse_loss(pred, L.ones_like(pred)) + 10 * F.l1_loss(rec_A, real_A) + \
            5 * F.l1_loss(G_AB(real_B), real_B)
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        for img in fake_B.detach():
            if len(pool) < 2:
                pool.append(img)
            elif L.rand(1).item() > 0.5:
                i = int(L.randint(0, 2, (1,)).item())
                pool[i] = img
        pooled = L.stack(pool)
        p_real, p_fake = D_B(real_B), D_B(pooled)
        loss_D = 0.5 * (F.mse_loss(p_real, L.ones_like(p_real)) +
                        F.mse_loss(p_fake, L.zeros_like(p_fake)))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        sched.step()
        losses.append((loss_G.item(), loss_D.item()))
    return dict(losses=losses, lr=sched.get_last_lr(), gD=grads_of(D_B), pool=pooled)


@program
def esrgan_residual_in_residual_dense_block_and_pixel_shuffle(L):
    """ESRGAN's RRDB: dense blocks whose convs read the concatenation of all earlier
    features, LeakyReLU(0.2), residuals scaled by 0.2, kaiming_normal_ init scaled by 0.1
    in float64 after a seed; upsampling by conv and PixelShuffle; an L1 loss and its
    gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(39)

    class DenseBlock(nn.Module):
        def __init__(self, nf=4, gc=3):
            super().__init__()
            self.convs = nn.ModuleList([nn.Conv2d(nf + i * gc, gc if i < 2 else nf, 3, 1, 1)
                                        for i in range(3)])

        def forward(self, x):
            feats = [x]
            for i, conv in enumerate(self.convs):
                out = conv(L.cat(feats, 1))
                if i < 2:
                    feats.append(F.leaky_relu(out, 0.2))
            return out * 0.2 + x

    class RRDB(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(DenseBlock(), DenseBlock())

        def forward(self, x):
            return self.blocks(x) * 0.2 + x

    net = nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1), RRDB(), nn.Conv2d(4, 12, 3, 1, 1),
                        nn.PixelShuffle(2), nn.LeakyReLU(0.2)).double()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            m.weight.data *= 0.1
            m.bias.data.zero_()
    x, hr = _t(L, 1, 3, 4, 4, seed=41), _t(L, 1, 3, 8, 8, seed=42)
    loss = F.l1_loss(net(x), hr)
    loss.backward()
    return dict(loss=loss, w0=net[0].weight.detach(), g=grads_of(net[1]))


# ----------------------------------------------------------------------------------------------
# detection heads and keypoints decoded by hand
# ----------------------------------------------------------------------------------------------
@program
def centernet_gaussian_heatmaps_focal_loss_and_peak_decoding(L):
    """Keypoint heatmaps in the CenterNet manner: targets as Gaussian bumps (meshgrid) merged by
    amax, a focal loss with background near a centre penalised less (positives where the
    target is exactly 1), peaks kept where a 3x3 max_pool2d leaves the value unchanged, the
    top three over the flattened map turned into (row, column) by // and %."""
    F = L.nn.functional
    H = W = 8
    ys, xs = L.meshgrid(L.arange(H, dtype=L.float64), L.arange(W, dtype=L.float64),
                        indexing="ij")
    centers = L.tensor([[2., 3.], [6., 5.]], dtype=L.float64)
    g = L.exp(-((xs - centers[:, 0, None, None]) ** 2 + (ys - centers[:, 1, None, None]) ** 2)
              / (2 * 1.5 ** 2))
    gt = g.amax(0)
    logits = _t(L, 1, 1, H, W, seed=43, grad=True)
    pred = L.sigmoid(logits).clamp(1e-4, 1 - 1e-4)[0, 0]
    at_centre = gt.eq(1).double()
    # focal terms: (1 - p)^2 down-weights easy centres, p^2 easy background, and the
    # background near a centre is further forgiven by (1 - gt)^4
    centre_term = (L.log(pred) * L.pow(1 - pred, 2) * at_centre).sum()
    elsewhere = (L.log(1 - pred) * L.pow(pred, 2) * L.pow(1 - gt, 4) * (1 - at_centre)).sum()
    loss = -(centre_term + elsewhere) / at_centre.sum().clamp(min=1)
    loss.backward()
    heat = L.sigmoid(logits.detach())
    hmax = F.max_pool2d(heat, 3, stride=1, padding=1)
    is_peak = hmax == heat                      # a local maximum of its 3 x 3 window
    scores, inds = (heat * is_peak.double()).view(1, -1).topk(3)
    return dict(gt=gt, loss=loss, grad=logits.grad, scores=scores,
                yx=L.stack([inds // W, inds % W], -1), npeaks=int(is_peak.sum()))


@program
def yolo_grid_decoding_and_ciou_loss(L):
    """Anchor-based box decoding and a CIoU loss written out: cell indices from meshgrid (ij),
    centres as sigmoid offsets plus the cell, sizes as exp of the raw output times the
    anchors, corner boxes; 1 - CIoU against targets (IoU, centre distance over the enclosing
    box's diagonal, an atan aspect term with a no_grad weight) and its gradients."""
    B, A, S = 1, 2, 3
    raw = _t(L, B, A, S, S, 4, scale=0.5, seed=44, grad=True)
    anchors = L.tensor([[1.0, 1.5], [2.0, 1.0]], dtype=L.float64)
    gy, gx = L.meshgrid(L.arange(S), L.arange(S), indexing="ij")
    grid = L.stack((gx, gy), -1).view(1, 1, S, S, 2).double()
    xy = L.sigmoid(raw[..., :2]) + grid
    wh = L.exp(raw[..., 2:]) * anchors.view(1, A, 1, 1, 2)
    box = L.cat([xy - wh / 2, xy + wh / 2], -1).view(-1, 4)
    tgt = L.tensor(_arr(box.shape[0], 4, seed=45)).abs()
    tgt = L.cat([tgt[:, :2], tgt[:, :2] + tgt[:, 2:] + 0.5], 1)

    def ciou(p, q, eps=1e-7):
        """Complete IoU of corner boxes p, q (n, 4): IoU minus the squared centre distance
        over the enclosing box's squared diagonal minus a weighted aspect-ratio gap (the
        weight treated as a constant); eps keeps heights and denominators off zero."""
        (px0, py0, px1, py1), (qx0, qy0, qx1, qy1) = p.unbind(1), q.unbind(1)
        p_w, p_h = px1 - px0, py1 - py0 + eps
        q_w, q_h = qx1 - qx0, qy1 - qy0 + eps
        overlap_w = (L.min(px1, qx1) - L.max(px0, qx0)).clamp(0)
        overlap_h = (L.min(py1, qy1) - L.max(py0, qy0)).clamp(0)
        shared = overlap_w * overlap_h
        iou = shared / (p_w * p_h + q_w * q_h - shared + eps)
        hull_w = L.max(px1, qx1) - L.min(px0, qx0)
        hull_h = L.max(py1, qy1) - L.min(py0, qy0)
        diag_sq = hull_w ** 2 + hull_h ** 2 + eps
        # sums of corners are twice the centres, hence the / 4
        centre_sq = ((qx0 + qx1 - px0 - px1) ** 2 + (qy0 + qy1 - py0 - py1) ** 2) / 4
        aspect_gap = (4 / math.pi ** 2) * L.pow(L.atan(q_w / q_h) - L.atan(p_w / p_h), 2)
        with L.no_grad():
            trade = aspect_gap / (aspect_gap - iou + (1 + eps))
        return iou - (centre_sq / diag_sq + aspect_gap * trade)

    c = ciou(box, tgt)
    loss = (1.0 - c).mean()
    loss.backward()
    return dict(box=box, ciou=c, loss=loss, g=raw.grad)


@program
def soft_argmax_keypoints_and_object_keypoint_similarity(L):
    """Integral pose regression: per-joint heatmaps normalised by a spatial softmax (flatten
    then view back), expected coordinates by sums against linspace grids, an L1 loss on
    visible joints only (boolean-mask indexing), and OKS with per-joint sigmas."""
    F = L.nn.functional
    B, J, H, W = 2, 3, 5, 6
    heat = _t(L, B, J, H, W, seed=46, grad=True)
    prob = F.softmax(heat.flatten(2) * 2.0, -1).view_as(heat)
    xs = L.linspace(0, W - 1, W, dtype=L.float64)
    ys = L.linspace(0, H - 1, H, dtype=L.float64)
    x = (prob.sum(2) * xs).sum(-1)
    y = (prob.sum(3) * ys).sum(-1)
    coords = L.stack([x, y], -1)
    gt = L.tensor(_arr(B, J, 2, seed=47)).abs() * 2
    vis = L.tensor([[1, 1, 0], [1, 0, 1]], dtype=L.bool)
    loss = F.l1_loss(coords[vis], gt[vis])
    loss.backward()
    sigmas = L.tensor([0.26, 0.25, 0.35], dtype=L.float64) / 10
    d2 = ((coords.detach() - gt) ** 2).sum(-1)
    area = L.tensor([20.0, 30.0], dtype=L.float64)
    e = d2 / (2 * area[:, None] * (2 * sigmas) ** 2)
    oks = (L.exp(-e) * vis).sum(1) / vis.sum(1)
    return dict(coords=coords, loss=loss, grad=heat.grad, oks=oks)



# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)
