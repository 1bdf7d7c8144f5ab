"""Whole programs of the twelfth round, part b: the training machinery around the models of
part a as public code writes it.  Bayes-by-backprop layers summing kl_divergence between
Normals, knowledge distillation by KLDivLoss(log_target=True) with a temperature, label
smoothing with class weights and ignore_index, multi-class focal and soft Dice losses,
mixup and CutMix drawing lam from torch.distributions.Beta with torch.randperm, a gradient
reversal Function with a scheduled coefficient, MAML's second-order inner loop through
torch.func.functional_call, torch.func's per-sample gradients, jacrev/jacfwd and hessian,
LBFGS with a strong-Wolfe closure, SequentialLR of LinearLR then CosineAnnealingLR over
parameter groups with value clipping, evaluation loops switching Dropout and BatchNorm,
Hamiltonian and Lagrangian networks, a neural SDE by Euler-Maruyama, heteroscedastic
Gaussian NLL, and a deep-kernel GP's batched Cholesky.

The harness is part a's: both libraries run each program on the same numpy inputs and
seeded weights and must agree in values, dtypes, shapes and requires_grad.
"""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# Bayesian layers, distillation, losses
# ----------------------------------------------------------------------------------------------
@program
def bayes_by_backprop_layers_with_kl_divergence_between_normals(L):
    """A Bayesian MLP as in the blitz/BBB repos: weight means and rho parameters, sigma by
    log1p(exp(rho)), weights sampled by mu + sigma * eps with eps from torch.randn_like under
    the seed, the KL by torch.distributions.kl_divergence(Normal(mu, sigma), prior) summed,
    an ELBO of cross_entropy(reduction='sum') plus KL / num_batches averaged over three
    Monte-Carlo samples; predictive entropy under no_grad in eval."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions

    class BayesLinear(nn.Module):
        def __init__(self, cin, cout, prior_sigma=1.0):
            super().__init__()
            self.w_mu = nn.Parameter(L.empty(cout, cin).uniform_(-0.2, 0.2))
            self.w_rho = nn.Parameter(L.empty(cout, cin).uniform_(-5, -4))
            self.b_mu = nn.Parameter(L.empty(cout).uniform_(-0.2, 0.2))
            self.b_rho = nn.Parameter(L.empty(cout).uniform_(-5, -4))
            self.prior = D.Normal(0.0, prior_sigma)

        def forward(self, x):
            w_sigma = L.log1p(L.exp(self.w_rho))
            b_sigma = L.log1p(L.exp(self.b_rho))
            w = self.w_mu + w_sigma * L.randn_like(w_sigma)
            b = self.b_mu + b_sigma * L.randn_like(b_sigma)
            self.kl = D.kl_divergence(D.Normal(self.w_mu, w_sigma), self.prior).sum() + \
                D.kl_divergence(D.Normal(self.b_mu, b_sigma), self.prior).sum()
            return F.linear(x, w, b)

    class BNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = BayesLinear(4, 8), BayesLinear(8, 3)

        def forward(self, x):
            return self.l2(F.relu(self.l1(x)))

        def kl(self):
            return sum(m.kl for m in self.modules() if isinstance(m, BayesLinear))

    L.set_default_dtype(L.float64)
    L.manual_seed(20)
    model = BNN()
    x = _t(L, 10, 4, seed=30)
    y = L.from_numpy(_labels(10, 3, 31))
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        elbo = 0
        for _ in range(3):
            out = model(x)
            elbo = elbo + F.cross_entropy(out, y, reduction="sum") + model.kl() / 5
        loss = elbo / 3
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with L.no_grad():
        probs = L.stack([F.softmax(model(x), -1) for _ in range(4)]).mean(0)
        entropy = -(probs * L.log(probs + 1e-12)).sum(-1)
    return dict(losses=losses, entropy=entropy, kl=model.kl(), g=grads_of(model))


@program
def distillation_by_kldiv_log_target_with_temperature_and_frozen_teacher(L):
    """Hinton distillation as the repos write it: a teacher in eval under no_grad, a student
    in train, soft targets as log_softmax(teacher / T) passed with
    nn.KLDivLoss(reduction='batchmean', log_target=True) scaled by T*T, mixed with hard
    cross_entropy by alpha; the functional kl_div without log_target on probabilities
    checked to agree; the teacher's requires_grad_(False) and its unchanged weights."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(21)
    teacher = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3),
                            nn.Linear(16, 4)).double()
    student = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4)).double()
    teacher.eval().requires_grad_(False)
    before = teacher[0].weight.clone()
    x = _t(L, 12, 6, seed=32)
    y = L.from_numpy(_labels(12, 4, 33))
    T, alpha = 4.0, 0.7
    kd = nn.KLDivLoss(reduction="batchmean", log_target=True)
    opt = L.optim.SGD(student.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    losses, checks = [], []
    for _ in range(3):
        with L.no_grad():
            t_logits = teacher(x)
        s_logits = student(x)
        soft = kd(F.log_softmax(s_logits / T, dim=1), F.log_softmax(t_logits / T, dim=1))
        plain = F.kl_div(F.log_softmax(s_logits / T, dim=1), F.softmax(t_logits / T, dim=1),
                         reduction="batchmean")
        checks.append((soft - plain).abs().item() < 1e-12)
        loss = alpha * soft * T * T + (1 - alpha) * F.cross_entropy(s_logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, checks=checks, same=L.equal(before, teacher[0].weight),
                tg=[p.grad for p in teacher.parameters()], g=grads_of(student))


@program
def label_smoothing_with_class_weights_and_ignore_index_three_ways(L):
    """Label smoothing as F.cross_entropy(label_smoothing=0.1, weight=w, ignore_index=-100),
    as a hand-written module ((1 - eps) * nll + eps * mean of -log_softmax) without
    weights, and as a soft-target cross_entropy with class
    probabilities; on (N, C, d) segmentation-shaped logits too; gradients of all."""
    F = L.nn.functional

    class SmoothedNLL(L.nn.Module):
        """Cross entropy against a target with 1 - eps on the labelled class and eps spread
        evenly over all classes: a mix of the picked log-probability and their average."""

        def __init__(self, eps=0.1):
            super().__init__()
            self.eps = eps

        def forward(self, scores, labels):
            logp = F.log_softmax(scores, dim=-1)
            picked = logp.gather(dim=-1, index=labels.unsqueeze(-1)).squeeze(-1)
            return -((1.0 - self.eps) * picked + self.eps * logp.mean(dim=-1)).mean()

    logits = _t(L, 8, 5, seed=34, grad=True)
    y = L.tensor([0, 3, -100, 4, 1, 1, -100, 2])
    w = L.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=L.float64)
    a = F.cross_entropy(logits, y, weight=w, ignore_index=-100, label_smoothing=0.1)
    a.backward()
    ga = logits.grad.clone()
    logits.grad = None
    y2 = y.clamp(min=0)
    b = SmoothedNLL(0.1)(logits, y2)
    c = F.cross_entropy(logits, y2, label_smoothing=0.1)
    soft = F.one_hot(y2, 5).double() * 0.9 + 0.1 / 5
    d = F.cross_entropy(logits, soft)
    (b + c + d).backward()
    seg = _t(L, 2, 5, 3, 4, seed=35, grad=True)
    ys = L.from_numpy(_labels(24, 5, 36).reshape(2, 3, 4))
    ys[0, 0, 0] = 255
    e = F.cross_entropy(seg, ys, ignore_index=255, label_smoothing=0.2, reduction="none")
    e.sum().backward()
    return dict(a=a, b=b, c=c, d=d, ga=ga, gb=logits.grad, e=e, gs=seg.grad)


@program
def multiclass_focal_loss_and_soft_dice_on_segmentation_logits(L):
    """Segmentation losses: a multi-class focal loss from
    log_softmax gathered at the target with (1 - pt)**gamma and per-class alpha gathered
    the same way, ignoring a void label by masking; a soft Dice loss over one_hot targets
    permuted to (N, C, H, W) with dims=(0, 2, 3) and smooth terms; a small conv net trained
    by their sum with AdamW."""
    nn, F = L.nn, L.nn.functional

    class FocalLoss(nn.Module):
        """-alpha_c (1 - p_c)**gamma log p_c at each pixel's labelled class c, averaged over
        the pixels whose label is not the void one."""

        def __init__(self, alpha, gamma=2.0, void=255):
            super().__init__()
            self.register_buffer("alpha", alpha)
            self.gamma, self.void = gamma, void

        def forward(self, logits, target):
            keep = target.ne(self.void)
            cls = target.clone()
            cls[~keep] = 0                      # any class will do; those pixels are dropped
            logp = F.log_softmax(logits, dim=1).gather(1, cls.unsqueeze(1)).squeeze(1)
            per_class = self.alpha.gather(0, cls.view(-1)).view_as(cls)
            return -(per_class * (1 - logp.exp()) ** self.gamma * logp)[keep].mean()

    def soft_dice(logits, target, k, smooth=1.0, eps=1e-7):
        """Dice of the softmax probabilities with the one-hot labels per class, pooled over
        the batch and the pixels; 1 - the mean score is the loss."""
        p = logits.softmax(dim=1)
        onehot = F.one_hot(target, k).permute(0, 3, 1, 2).type(logits.dtype)
        overlap = L.sum(p * onehot, (0, 2, 3))
        total = L.sum(p + onehot, (0, 2, 3))
        score = (overlap * 2.0 + smooth) / (total + smooth).clamp_min(eps)
        return (1 - score).mean(), score

    L.manual_seed(22)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                        nn.Conv2d(6, 4, 1)).double()
    x = _t(L, 2, 3, 6, 6, seed=37)
    target = L.from_numpy(_labels(72, 4, 38).reshape(2, 6, 6))
    seg_t = target.clone()
    seg_t[:, 0, :2] = 255
    focal = FocalLoss(L.tensor([0.25, 0.75, 0.5, 0.5], dtype=L.float64))
    opt = L.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=1e-2, amsgrad=True)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        logits = net(x)
        dl, dice = soft_dice(logits, target, 4)
        loss = focal(logits, seg_t) + dl
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, dice=dice, buffers=list(dict(focal.named_buffers())),
                g=grads_of(net))


@program
def mixup_and_cutmix_with_beta_lam_and_randperm_under_a_seed(L):
    """The mixup/CutMix training step: lam from torch.distributions.Beta(alpha, alpha)
    .sample(), index = torch.randperm(batch), mixed inputs lam * x + (1 - lam) * x[index];
    CutMix's box from sqrt(1 - lam) and torch.randint centres with clamp, the lam corrected
    by the box area; the loss lam * CE(y_a) + (1 - lam) * CE(y_b); mixed soft targets by
    one_hot too."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(23)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3)).double()
    x = _t(L, 6, 2, 8, 8, seed=39)
    y = L.from_numpy(_labels(6, 3, 40))
    beta = D.Beta(L.tensor([0.4]), L.tensor([0.4]))
    opt = L.optim.SGD(net.parameters(), lr=0.05)

    def paste_box(images, order, lam):
        """Copy into each image a box of the image order[i]; the box covers about 1 - lam
        of the area, its centre a random pixel, clipped at the borders.  Returns the pasted
        images and the share of each image left untouched."""
        n2, n3 = images.size(2), images.size(3)
        side = math.sqrt(1.0 - lam)
        half2, half3 = int(n2 * side) // 2, int(n3 * side) // 2
        c2 = L.randint(n2, (1,)).item()
        c3 = L.randint(n3, (1,)).item()

        def clip(v, n):
            return int(L.clamp(L.tensor(v), 0, n))

        a2, b2 = clip(c2 - half2, n2), clip(c2 + half2, n2)
        a3, b3 = clip(c3 - half3, n3), clip(c3 + half3, n3)
        pasted = images.clone()
        pasted[:, :, a2:b2, a3:b3] = images[order, :, a2:b2, a3:b3]
        return pasted, 1 - ((b2 - a2) * (b3 - a3) / (n2 * n3))

    out = []
    for step in range(4):
        lam = beta.sample().item()
        index = L.randperm(x.size(0))
        if step % 2 == 0:                       # mixup: a convex blend with a shuffled batch
            mixed = lam * x + (1 - lam) * x[index, :]
        else:                                   # CutMix: a pasted box, lam from its area
            mixed, lam = paste_box(x, index, lam)
        logits = net(mixed)
        loss = lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[index])
        soft = lam * F.one_hot(y, 3) + (1 - lam) * F.one_hot(y[index], 3)
        loss2 = F.cross_entropy(logits, soft)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append((lam, index, loss.item(), loss2.item()))
    return dict(out=out, g=grads_of(net))


@program
def gradient_reversal_function_with_a_scheduled_coefficient(L):
    """Gradient reversal for domain adaptation: an autograd.Function whose forward returns
    x.view_as(x) and keeps the coefficient on ctx, backward returning the negated gradient
    times it and None; the coefficient
    2 / (1 + exp(-10 p)) - 1 over training progress; a feature extractor shared by a label
    classifier (source only) and a domain classifier (both domains) with BCE on domain
    labels; the gradient reaching the features checked to be reversed."""
    nn, F = L.nn, L.nn.functional

    class GradReverse(L.autograd.Function):
        """Identity going forward; going back, the gradient times -coefficient."""

        @staticmethod
        def forward(ctx, features, coeff):
            ctx.coeff = coeff
            return features.view_as(features)

        @staticmethod
        def backward(ctx, upstream):
            return upstream.neg() * ctx.coeff, None

    L.manual_seed(24)
    feat = nn.Sequential(nn.Linear(5, 8), nn.ReLU()).double()
    cls = nn.Linear(8, 3).double()
    dom = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    xs, xt = _t(L, 6, 5, seed=41), _t(L, 6, 5, seed=42, scale=1.5)
    ys = L.from_numpy(_labels(6, 3, 43))
    params = list(feat.parameters()) + list(cls.parameters()) + list(dom.parameters())
    opt = L.optim.SGD(params, lr=0.01, momentum=0.9)
    losses, alphas = [], []
    for it in range(3):
        p = it / 3
        alpha = 2.0 / (1.0 + np.exp(-10 * p)) - 1
        alphas.append(alpha)
        fs, ft = feat(xs), feat(xt)
        cls_loss = F.cross_entropy(cls(fs), ys)
        f_all = L.cat([fs, ft])
        d_out = dom(GradReverse.apply(f_all, alpha)).squeeze(1)
        d_lab = L.cat([L.zeros(6), L.ones(6)]).double()
        dom_loss = F.binary_cross_entropy_with_logits(d_out, d_lab)
        loss = cls_loss + dom_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    f = feat(xs).detach().requires_grad_()
    r = GradReverse.apply(f, 0.5)
    (r * 2).sum().backward()
    return dict(losses=losses, alphas=alphas, fg=f.grad, name=type(r.grad_fn).__name__,
                g=grads_of(feat))


# ----------------------------------------------------------------------------------------------
# meta-learning and torch.func
# ----------------------------------------------------------------------------------------------
@program
def maml_second_order_inner_loop_by_functional_call_over_a_task_batch(L):
    """MAML for sine regression: params as a dict of named_parameters, two inner SGD steps
    by torch.autograd.grad(create_graph=True) and a dict comprehension, the query loss by
    torch.func.functional_call(model, fast_weights, (x,)), the meta-loss averaged over a
    batch of tasks and stepped by Adam; a first-order variant by detach on the inner
    gradients for comparison."""
    nn, F = L.nn, L.nn.functional
    from_call = L.func.functional_call
    L.manual_seed(25)
    model = nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 1)).double()
    rng = np.random.RandomState(44)

    def task():
        amp, phase = rng.uniform(0.1, 5.0), rng.uniform(0, np.pi)
        xs = rng.uniform(-5, 5, (10, 1))
        xq = rng.uniform(-5, 5, (10, 1))
        return (L.tensor(xs), L.tensor(amp * np.sin(xs + phase)),
                L.tensor(xq), L.tensor(amp * np.sin(xq + phase)))

    tasks = [task() for _ in range(3)]
    meta_opt = L.optim.Adam(model.parameters(), lr=1e-3)

    def adapt(xs, ys, first_order):
        fast = dict(model.named_parameters())
        for _ in range(2):
            loss = F.mse_loss(from_call(model, fast, (xs,)), ys)
            grads = L.autograd.grad(loss, fast.values(), create_graph=not first_order)
            if first_order:
                grads = [g.detach() for g in grads]
            fast = {n: w - 0.01 * g for (n, w), g in zip(fast.items(), grads)}
        return fast

    results = {}
    for first_order in (False, True):
        meta_opt.zero_grad()
        meta_loss = 0.0
        for xs, ys, xq, yq in tasks:
            fast = adapt(xs, ys, first_order)
            meta_loss = meta_loss + F.mse_loss(from_call(model, fast, (xq,)), yq)
        meta_loss = meta_loss / len(tasks)
        meta_loss.backward()
        results[first_order] = (meta_loss.item(), {n: p.grad.clone() for n, p in
                                                    model.named_parameters()})
    meta_opt.step()
    return dict(second=results[False], first=results[True], w=model[4].weight)


@program
def torch_func_per_sample_grads_jacrev_jacfwd_and_hessian(L):
    """Per-sample gradients by torch.func: params and buffers detached into dicts, a
    one-example loss calling functional_call on an unsqueezed sample, vmap(grad(...),
    in_dims=(None, None, 0, 0)) checked against a loop of backward; then jacrev and jacfwd of
    a model's output with respect to its input (vmapped over a batch), and hessian of a
    scalar function of a vector, with its symmetry."""
    nn, F = L.nn, L.nn.functional
    fn = L.func
    L.manual_seed(26)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    weights = {name: t.detach() for name, t in model.named_parameters()}
    bufs = {name: t.detach() for name, t in model.named_buffers()}
    data = _t(L, 5, 4, seed=45)
    targets = L.from_numpy(_labels(5, 3, 46))

    def one_example_loss(weights, bufs, x1, y1):
        """The loss of a single example, run through the model as a batch of one."""
        logits = fn.functional_call(model, (weights, bufs), (x1.unsqueeze(0),))
        return F.cross_entropy(logits, y1.unsqueeze(0))

    per_example = fn.vmap(fn.grad(one_example_loss), in_dims=(None, None, 0, 0))
    per_sample = per_example(weights, bufs, data, targets)
    loop = []
    for i in range(5):
        model.zero_grad()
        F.cross_entropy(model(data[i:i + 1]), targets[i:i + 1]).backward()
        loop.append(model[0].weight.grad.clone())
    loop_ok = L.allclose(per_sample["0.weight"], L.stack(loop))

    def f(x):
        return model(x)

    def energy(x):
        return (x.sin() * x.roll(1)).sum() + (x ** 4).sum() / 4

    jr = fn.vmap(fn.jacrev(f))(data)
    with warnings.catch_warnings():
        # (torch's forward-mode pass scripts a helper, which warns that torch.jit.script is
        # deprecated: torch's internals, not the program's)
        warnings.simplefilter("ignore", DeprecationWarning)
        jf = fn.vmap(fn.jacfwd(f))(data)
        H = fn.hessian(energy)(data[0])
    return dict(ps={k: v for k, v in per_sample.items()}, loop_ok=loop_ok, jr=jr,
                jf_ok=L.allclose(jr, jf), H=H, sym=L.allclose(H, H.T))


@program
def recommender_sparse_embeddings_split_between_sparse_adam_and_adam(L):
    """A recommender trained as the PyTorch recommender examples do: user and item
    nn.Embedding(sparse=True) tables given to optim.SparseAdam, the dense tower to Adam,
    a dot-product plus MLP score and BPR-style loss -logsigmoid(pos - neg); the tables'
    .grad sparse (coalesced indices and values), rows never looked up unchanged."""
    nn, F = L.nn, L.nn.functional

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.user = nn.Embedding(6, 4, sparse=True)
            self.item = nn.Embedding(9, 4, sparse=True)
            self.mlp = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 1))

        def forward(self, u, i):
            eu, ei = self.user(u), self.item(i)
            return (eu * ei).sum(-1) + self.mlp(L.cat([eu, ei], -1)).squeeze(-1)

    L.manual_seed(35)
    model = Model().double()
    sparse_params = [model.user.weight, model.item.weight]
    opt_s = L.optim.SparseAdam(sparse_params, lr=0.05)
    opt_d = L.optim.Adam(model.mlp.parameters(), lr=0.01)
    rng = np.random.RandomState(57)
    before = model.item.weight[8].clone()
    losses = []
    for _ in range(3):
        u = L.from_numpy(rng.randint(0, 6, 5))
        pos = L.from_numpy(rng.randint(0, 8, 5))
        neg = L.from_numpy(rng.randint(0, 8, 5))
        opt_s.zero_grad()
        opt_d.zero_grad()
        loss = -F.logsigmoid(model(u, pos) - model(u, neg)).mean()
        loss.backward()
        opt_s.step()
        opt_d.step()
        losses.append(loss.item())
    g = model.item.weight.grad.coalesce()
    return dict(losses=losses, sparse=model.item.weight.grad.is_sparse, gi=g.indices(),
                gv=g.values(), same=L.equal(before, model.item.weight[8]),
                w=model.user.weight, mlp=grads_of(model.mlp))


# ----------------------------------------------------------------------------------------------
# optimisers, schedules, evaluation loops
# ----------------------------------------------------------------------------------------------
@program
def lbfgs_strong_wolfe_closure_for_logistic_regression_with_l2(L):
    """scipy-style fitting with torch.optim.LBFGS(line_search_fn='strong_wolfe',
    history_size=5, max_iter=20): a closure that zeroes gradients, computes a BCE-with-
    logits loss plus an L2 penalty and calls backward, counted per evaluation; the loss
    returned by each step(closure); the optimiser's state n_iter and func_evals."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(27)
    model = nn.Linear(3, 1).double()
    X = _t(L, 30, 3, seed=47)
    w_true = L.tensor([[1.5], [-2.0], [0.5]], dtype=L.float64)
    y = ((X @ w_true).squeeze(1) + 0.3 * _t(L, 30, seed=48) > 0).double()
    opt = L.optim.LBFGS(model.parameters(), lr=1, max_iter=20, history_size=5,
                        line_search_fn="strong_wolfe")
    calls = [0]

    def closure():
        opt.zero_grad()
        calls[0] += 1
        logits = model(X).squeeze(1)
        loss = F.binary_cross_entropy_with_logits(logits, y) + 1e-2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    step_losses = [opt.step(closure).item() for _ in range(2)]
    state = opt.state[opt._params[0]]
    return dict(step_losses=step_losses, calls=calls[0], w=model.weight, b=model.bias,
                n_iter=state["n_iter"], func_evals=state["func_evals"],
                final=closure().item())


@program
def sequential_lr_warmup_then_cosine_over_param_groups_with_value_clipping(L):
    """A fine-tuning recipe: a backbone group with lr 1e-3 and weight decay, a head group
    with lr 1e-2 and no weight decay (norm and bias parameters also in the no-decay group),
    AdamW, SequentialLR of LinearLR(start_factor=0.1, total_iters=3) and
    CosineAnnealingLR(T_max=5, eta_min=1e-5) with milestones=[3], clip_grad_value_(0.05)
    before each step, get_last_lr per step, and the scheduler's state_dict keys."""
    nn, F = L.nn, L.nn.functional
    sched = L.optim.lr_scheduler
    L.manual_seed(28)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU(),
                          nn.Linear(8, 2)).double()
    decay, no_decay = [], []
    for name, p in model[:3].named_parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": 0.05},
              {"params": no_decay, "weight_decay": 0.0},
              {"params": model[3].parameters(), "lr": 1e-2, "weight_decay": 0.0}]
    opt = L.optim.AdamW(groups, lr=1e-3)
    warm = sched.LinearLR(opt, start_factor=0.1, total_iters=3)
    cos = sched.CosineAnnealingLR(opt, T_max=5, eta_min=1e-5)
    s = sched.SequentialLR(opt, schedulers=[warm, cos], milestones=[3])
    x, y = _t(L, 8, 4, seed=49), _t(L, 8, 2, seed=50)
    lrs, losses, gmax = [], [], []
    for _ in range(8):
        opt.zero_grad()
        loss = F.smooth_l1_loss(model(x), y, beta=0.5)
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), clip_value=0.05)
        gmax.append(max(p.grad.abs().max().item() for p in model.parameters()))
        opt.step()
        s.step()
        lrs.append(s.get_last_lr())
        losses.append(loss.item())
    return dict(lrs=lrs, losses=losses, gmax=gmax, keys=sorted(s.state_dict()),
                groups=[(len(g["params"]), g["weight_decay"]) for g in opt.param_groups],
                w=model[0].weight)


@program
def evaluation_loop_switches_dropout_and_batchnorm_and_counts_accuracy(L):
    """The classic train()/evaluate() pair over a DataLoader: model.train() with Dropout and
    BatchNorm1d updating running stats, then model.eval() under torch.no_grad() summing the
    loss with reduction='sum' and correct predictions by argmax(dim=1, keepdim=True)
    .eq(target.view_as(pred)).sum().item(); eval twice gives the same outputs and leaves the
    running stats alone; inference_mode outputs are not inference-grad tensors' peers."""
    nn, F = L.nn, L.nn.functional
    data = L.utils.data
    L.manual_seed(29)
    model = nn.Sequential(nn.Linear(5, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Dropout(0.4),
                          nn.Linear(12, 3)).double()
    X, Y = _t(L, 20, 5, seed=51), L.from_numpy(_labels(20, 3, 52))
    ds = data.TensorDataset(X, Y)
    train_loader = data.DataLoader(ds, batch_size=6, shuffle=True,
                                   generator=L.Generator().manual_seed(3))
    test_loader = data.DataLoader(ds, batch_size=8)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    log = []
    for epoch in range(2):
        model.train()
        for batch_idx, (xb, yb) in enumerate(train_loader):
            opt.zero_grad()
            loss = F.nll_loss(F.log_softmax(model(xb), dim=1), yb)
            loss.backward()
            opt.step()
            log.append((epoch, batch_idx, len(xb), loss.item()))
        model.eval()
        test_loss, correct = 0, 0
        rm = model[1].running_mean.clone()
        with L.no_grad():
            for xb, yb in test_loader:
                output = F.log_softmax(model(xb), dim=1)
                test_loss += F.nll_loss(output, yb, reduction="sum").item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(yb.view_as(pred)).sum().item()
        log.append((test_loss / len(test_loader.dataset), correct,
                    L.equal(rm, model[1].running_mean)))
    with L.inference_mode():
        a, b = model(X), model(X)
    return dict(log=log, same=L.equal(a, b), rg=a.requires_grad, out=a,
                nbt=model[1].num_batches_tracked, rv=model[1].running_var)


# ----------------------------------------------------------------------------------------------
# physics-structured networks and stochastic dynamics
# ----------------------------------------------------------------------------------------------
@program
def hamiltonian_neural_network_symplectic_gradient_loss(L):
    """A Hamiltonian neural network: an MLP with two outputs, the second the Hamiltonian H;
    the symplectic gradient from autograd.grad(H.sum(), x, create_graph=True) with the
    matrix J = [[0, 1], [-1, 0]] applied by matmul, MSE to the true time derivatives of a
    spring's (q, p), Adam with weight decay; then a leapfrog-free rollout by RK4 of the
    learned field under enable_grad inside no_grad."""
    nn, F = L.nn, L.nn.functional

    class EnergyNet(nn.Module):
        """Two outputs, the second read as the energy H(q, p); the predicted motion is its
        symplectic gradient (dH/dp, -dH/dq), the gradient times J^T."""

        def __init__(self):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16),
                                     nn.Tanh(), nn.Linear(16, 2, bias=False))
            rows = L.eye(2)
            self.register_buffer("J", L.cat([rows[1:], -rows[:1]]))   # [[0, 1], [-1, 0]]

        def forward(self, x):
            return self.mlp(x).split(1, 1)

        def time_derivative(self, x):
            energy = self.forward(x)[1]
            slope = L.autograd.grad(energy.sum(), x, create_graph=True)[0]
            return slope @ self.J.t()

    L.set_default_dtype(L.float64)
    L.manual_seed(30)
    model = EnergyNet()
    x = _t(L, 16, 2, seed=53).requires_grad_()
    dxdt = L.cat([x[:, 1:], -x[:, :1]], 1).detach()
    opt = L.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model.time_derivative(x), dxdt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    traj = []
    with L.no_grad():
        state = L.tensor([[1.0, 0.0]])
        for _ in range(3):
            with L.enable_grad():
                s = state.clone().requires_grad_()
                k1 = model.time_derivative(s)
                k2 = model.time_derivative(s + 0.05 * k1)
                k3 = model.time_derivative(s + 0.05 * k2)
                k4 = model.time_derivative(s + 0.1 * k3)
            state = state + 0.1 * (k1 + 2 * k2 + 2 * k3 + k4).detach() / 6
            traj.append(state.clone())
    return dict(losses=losses, traj=L.cat(traj), M=model.J, xg=x.grad, g=grads_of(model))


@program
def lagrangian_network_accelerations_by_func_hessian_and_jacrev(L):
    """Cranmer's Lagrangian neural network in torch.func: the Lagrangian of (q, qdot) by an
    MLP through functional_call, its Hessian in qdot and the mixed Jacobian by
    jacrev(jacrev(...)) sliced, accelerations by torch.linalg.pinv(H_vv) @ (dL/dq -
    H_vq qdot), vmapped over a batch, and a loss backpropagated to the parameters."""
    nn, F = L.nn, L.nn.functional
    fn = L.func
    L.manual_seed(31)
    net = nn.Sequential(nn.Linear(2, 12), nn.Softplus(), nn.Linear(12, 12), nn.Softplus(),
                        nn.Linear(12, 1)).double()
    params = dict(net.named_parameters())

    def lagrangian(params, state):
        return fn.functional_call(net, params, (state,)).squeeze(-1)

    def accel(params, state):  # (hessian's forward pass warns as in the program above)
        H = fn.hessian(lagrangian, argnums=1)(params, state)
        J = fn.jacrev(lagrangian, argnums=1)(params, state)
        qdot = state[1:]
        H_vv = H[1:, 1:]
        H_vq = H[1:, :1]
        return (L.linalg.pinv(H_vv) @ (J[:1] - H_vq @ qdot)).squeeze(-1)

    states = _t(L, 6, 2, seed=54)
    target = -states[:, :1].squeeze(-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        a = fn.vmap(accel, in_dims=(None, 0))(params, states)
    loss = F.mse_loss(a, target)
    loss.backward()
    return dict(a=a, loss=loss, g=grads_of(net))


@program
def neural_sde_euler_maruyama_with_seeded_brownian_increments(L):
    """A latent neural SDE trained by simulation: drift and diffusion nets (diffusion kept
    positive by sigmoid), Euler-Maruyama steps y + f dt + g sqrt(dt) * randn_like(y) under
    manual_seed, a Monte-Carlo batch of paths, the terminal distribution matched by the MSE
    of its mean and std to targets; gradients through the noise; torch.Generator-driven
    increments give the same paths when reseeded."""
    nn = L.nn
    L.set_default_dtype(L.float64)
    L.manual_seed(32)
    drift = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    diffusion = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())
    opt = L.optim.Adam(list(drift.parameters()) + list(diffusion.parameters()), lr=1e-2)

    def simulate(n, steps=5, T=1.0, gen=None):
        dt = T / steps
        y = L.zeros(n, 1)
        ts = L.linspace(0, T, steps + 1)
        for i in range(steps):
            inp = L.cat([y, ts[i].expand(n, 1)], 1)
            noise = L.randn(y.shape, generator=gen) if gen is not None else L.randn_like(y)
            y = y + drift(inp) * dt + diffusion(inp) * math.sqrt(dt) * noise
        return y

    losses = []
    for _ in range(3):
        opt.zero_grad()
        yT = simulate(32)
        loss = (yT.mean() - 0.5) ** 2 + (yT.std() - 0.8) ** 2
        loss.backward()
        opt.step()
        losses.append(loss.item())
    g = L.Generator().manual_seed(7)
    p1 = simulate(4, gen=g)
    g.manual_seed(7)
    p2 = simulate(4, gen=g)
    return dict(losses=losses, p1=p1, same=L.equal(p1, p2), g=grads_of(diffusion))


@program
def heteroscedastic_regression_gaussian_nll_and_beta_nll(L):
    """Deep-ensemble-style heteroscedastic regression: a two-headed net giving mean and
    softplus variance + 1e-6, F.gaussian_nll_loss(full=True) against a hand-written
    0.5 * (log var + (y - mu)^2 / var + log 2 pi), the beta-NLL weighting by var.detach() **
    beta, nn.GaussianNLLLoss with a scalar variance per sample (shape (N, 1)), and an
    ensemble's mixture mean and variance from three seeded members."""
    nn, F = L.nn, L.nn.functional

    class MeanVar(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(1, 10), nn.ReLU())
            self.mu, self.var = nn.Linear(10, 2), nn.Linear(10, 2)

        def forward(self, x):
            h = self.body(x)
            return self.mu(h), F.softplus(self.var(h)) + 1e-6

    x = L.tensor(np.linspace(-2, 2, 12)[:, None])
    y = L.cat([x.sin(), x.cos()], 1) + 0.1 * _t(L, 12, 2, seed=55)
    members, out = [], {}
    for seed in range(3):
        L.manual_seed(33 + seed)
        m = MeanVar().double()
        opt = L.optim.Adam(m.parameters(), lr=1e-2)
        for step in range(2):
            opt.zero_grad()
            mu, var = m(x)
            nll = F.gaussian_nll_loss(mu, y, var, full=True)
            manual = (0.5 * (var.log() + (y - mu) ** 2 / var + math.log(2 * math.pi))).mean()
            beta_nll = (0.5 * (var.log() + (y - mu) ** 2 / var) * var.detach() ** 0.5).mean()
            (nll + beta_nll).backward()
            opt.step()
        out[seed] = (nll.item(), (nll - manual).abs().item() < 1e-12, beta_nll.item())
        members.append(m)
    with L.no_grad():
        mus, vars_ = zip(*[m(x) for m in members])
        mus, vars_ = L.stack(mus), L.stack(vars_)
        mix_mu = mus.mean(0)
        mix_var = (vars_ + mus ** 2).mean(0) - mix_mu ** 2
    crit = nn.GaussianNLLLoss(eps=1e-4)
    scalar_var = crit(mus[0], y, vars_[0][:, :1])
    return dict(out=out, mix_mu=mix_mu, mix_var=mix_var, scalar_var=scalar_var)


@program
def deep_kernel_gp_batched_cholesky_over_outputs(L):
    """Deep kernel learning with independent outputs as a batch: an MLP feature extractor,
    an RBF kernel per output (lengthscales shaped (T, 1, 1)), the batched K + noise I
    factorised by linalg.cholesky_ex (info checked zero), batched cholesky_solve and
    solve_triangular(left=True), the summed marginal likelihood through
    MultivariateNormal(zeros, scale_tril=Lc).log_prob, and SGD on network and kernel."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(34)
    feat = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    raw_ls = nn.Parameter(L.zeros(2, 1, 1, dtype=L.float64))
    raw_noise = nn.Parameter(L.full((2, 1, 1), -2.0, dtype=L.float64))
    X = _t(L, 10, 3, seed=56)
    Y = L.stack([X[:, 0].sin(), X[:, 1] * X[:, 2]])
    opt = L.optim.SGD(list(feat.parameters()) + [raw_ls, raw_noise], lr=0.01)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        z = feat(X)
        d2 = L.cdist(z, z).pow(2).unsqueeze(0)
        K = L.exp(-0.5 * d2 / F.softplus(raw_ls) ** 2) + \
            F.softplus(raw_noise) * L.eye(10, dtype=L.float64)
        Lc, info = L.linalg.cholesky_ex(K)
        mvn = D.MultivariateNormal(L.zeros(2, 10, dtype=L.float64), scale_tril=Lc)
        loss = -mvn.log_prob(Y).sum() / 10
        loss.backward()
        opt.step()
        losses.append(loss.item())
    alpha = L.cholesky_solve(Y.unsqueeze(-1), Lc)
    v = L.linalg.solve_triangular(Lc, Y.unsqueeze(-1), upper=False, left=True)
    quad = (v ** 2).sum((-2, -1))
    return dict(losses=losses, info=info, alpha=alpha, quad=quad,
                quad_check=(Y.unsqueeze(-1) * alpha).sum((-2, -1)), ls=raw_ls.grad,
                g=grads_of(feat))


@program
def gp_in_2019_style_with_the_deprecated_top_level_linear_algebra(L):
    """Gaussian-process and Bayesian-regression code written before torch.linalg and still
    run: torch.cholesky(K) and torch.cholesky(K, True), torch.triangular_solve(b, A,
    upper=False).solution for the whitened targets, torch.cholesky_solve for alpha,
    torch.lu and torch.lu_solve for a posterior mean, torch.qr of a random matrix for an
    orthogonal feature map; each gives PyTorch's deprecation UserWarning (the harness counts
    them); gradients through all of them to the kernel's lengthscale; and a shuffle by
    torch.randperm with a negative size refused as PyTorch does."""
    L.set_default_dtype(L.float64)
    X = _t(L, 8, 2, seed=58)
    y = X[:, 0].sin() + 0.1 * _t(L, 8, seed=59)
    log_ls = L.tensor(0.2, requires_grad=True)
    K = L.exp(-0.5 * L.cdist(X, X).pow(2) / L.exp(log_ls) ** 2) + 0.1 * L.eye(8)
    Lc = L.cholesky(K)
    U = L.cholesky(K, True)
    white = L.triangular_solve(y.unsqueeze(1), Lc, upper=False).solution
    alpha = L.cholesky_solve(y.unsqueeze(1), Lc)
    LU, piv = L.lu(K)
    mean = L.lu_solve(y.unsqueeze(1), LU, piv)
    nll = 0.5 * (white ** 2).sum() + L.log(L.diagonal(Lc)).sum()
    nll.backward()
    L.manual_seed(36)
    Q, R = L.qr(L.randn(4, 3))
    return dict(nll=nll, up=(U - Lc.T).abs().max(), alpha=alpha, mean=mean,
                g=log_ls.grad, QtQ=Q.T @ Q, R=R, bad=err(lambda: L.randperm(-3)))


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
