"""Whole programs of round 27, part a: machine-learning methods that lean on autograd, as their
repositories write them.  Implicit layers: a deep-equilibrium layer whose backward is a tensor
hook solving the adjoint fixed point with autograd.grad(f0, z0, g), once by plain iteration
and once by Anderson acceleration (batched bordered least squares by bmm and linalg.solve);
hypergradients through unrolled SGD (log learning rate and weight decay) and Baydin's
hypergradient descent; Koh & Liang's influence functions (LBFGS with strong Wolfe, Hessian-
vector products by double backward, conjugate gradient, LiSSA, the exact Hessian);
implicit MAML by conjugate gradient; an LSTM learned optimiser with truncated unrolls; MAML++
(per-step learning rates in a ParameterDict, functional_call, multi-step loss, first order
later); Reptile.  Flows and densities: Glow (data-dependent ActNorm, the LU-parametrised 1x1
convolution, affine coupling, reverse pass), TransformedDistribution with composed
transforms, planar flows, a VAE's Normal KL and Bernoulli likelihood, a rational-quadratic
spline coupling (searchsorted, cumsum, its inverse), MAF with MADE masks and the BatchNorm
flow, an i-ResNet (spectral_norm, power-series log-det with Hutchinson probes), a mixture
density network by MixtureSameFamily.  Energies and scores: JEM's SGLD with a replay buffer,
sliced and denoising score matching (exact traces, func.jvp / vjp).  Gaussian-process
marginal likelihood by Cholesky under LBFGS; log-domain Sinkhorn divergences as a gradient
flow; PGD with random start, a CW margin and TRADES; integrated gradients, SmoothGrad and a
Jacobian penalty; Bayes by Backprop (scale-mixture prior, local reparameterisation);
natural-gradient and Hessian-free steps with torch.autograd.functional; forward-mode JVP
penalties, the empirical NTK, vmap ensembles and per-sample gradients; a neural ODE's adjoint
by hand checked against backpropagation through RK4.

What they found, fixed in minigrad (1 program of 23 failed before, Bayes by Backprop): a
distribution made from Python floats holds float32 parameters, and scoring float64 values
PyTorch rounds the parameters' own terms in float32 -- Normal's scale^2 and Laplace's
log(2 scale) -- where minigrad divided by the exact scale (a 5e-8 difference in a float64
log-probability, 1e-8 in a prior's gradients); and Gamma (so Chi2) and HalfCauchy cast the
value to the parameters' dtype before scoring it (a float32 result where minigrad gave
float64).  The focused test below checks each of these.

Not copied from the repositories: the penalty program keeps LayerNorm out of its net because
PyTorch 2.13's third derivative of layer_norm is wrong (finite differences side with
minigrad), and MAF trains by SGD because its BatchNorm flow leaves some biases a gradient of
pure rounding, which Adam would blow up into a full step in either library.

The harness is the programs rounds' (tests/side_by_side.py): both libraries run each program
on the same numpy inputs and seeded weights and must agree in values, dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike.
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, import_forward_ad_decompositions, labels as _labels, registry,
    program_harness, leaf as _t, tanh_mlp)


HARNESS = program_harness()
PROGRAMS, program = registry()
import_forward_ad_decompositions()


# ----------------------------------------------------------------------------------------------
# implicit layers, hypergradients, influence
# ----------------------------------------------------------------------------------------------
@program
def deep_equilibrium_fixed_point_with_implicit_backward_hook(L):
    """A deep-equilibrium layer (the scheme of the implicit-layers tutorial, our code): the
    forward fixed point found by Anderson-free plain iteration under no_grad, one more call of f
    with grad, then a tensor hook on the output that solves the backward fixed point g = J^T g +
    grad with autograd.grad(f0, z0, g, retain_graph=True); trained by Adam for a few steps."""
    nn = L.nn
    L.manual_seed(3)

    class Cell(nn.Module):
        """z -> LayerNorm(tanh(W2 relu(W1 z) + x)), contractive enough (weights scaled by
        0.3) for plain iteration to converge."""

        def __init__(self, d, h):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, d))
            self.norm = nn.LayerNorm(d)
            with L.no_grad():
                self.inner[0].weight.mul_(0.3)
                self.inner[2].weight.mul_(0.3)

        def forward(self, z, x):
            return self.norm(L.tanh(self.inner(z) + x))

    def iterate(step, start, tol=1e-10, max_iter=60):
        # plain fixed-point iteration, recording the relative change of each step
        z, trace = start, []
        for _ in range(max_iter):
            nxt = step(z)
            trace.append((nxt - z).norm().item() / (1e-5 + nxt.norm().item()))
            z = nxt
            if trace[-1] < tol:
                break
        return z, trace

    class Equilibrium(nn.Module):
        """Outputs z* = f(z*, x). Forward: iterate without a graph, then one tracked call of
        f. Backward: a hook on z* replaces the incoming gradient g by the solution of
        u = J_f(z*)^T u + g, itself found by iteration of vector-Jacobian products."""

        def __init__(self, f):
            super().__init__()
            self.f = f
            self.handle = None

        def forward(self, x):
            with L.no_grad():
                z, self.forward_trace = iterate(lambda z: self.f(z, x), L.zeros_like(x))
            z = self.f(z, x)
            z_star = z.clone().detach().requires_grad_()
            f_star = self.f(z_star, x)

            def vjp(u):
                return L.autograd.grad(f_star, z_star, u, retain_graph=True)[0]

            def adjoint(g):
                if self.handle is not None:          # this hook is used once
                    self.handle.remove()
                u, self.backward_trace = iterate(lambda u: vjp(u) + g, g)
                return u

            self.handle = z.register_hook(adjoint)
            return z

    x = _t(L, 4, 5, seed=1)
    y = L.tensor(_labels(4, 3, 2))
    model = nn.Sequential(nn.Linear(5, 5), Equilibrium(Cell(5, 8)), nn.Linear(5, 3)).double()
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    deq = model[1]
    return dict(losses=losses, fwd=len(deq.forward_trace), bwd=len(deq.backward_trace),
                grads=grads_of(model), state=model.state_dict())


@program
def hypergradient_through_unrolled_sgd_steps_of_log_lr_and_weight_decay(L):
    """Gradient-based hyperparameter optimisation (Maclaurin et al. / higher-style): the
    weights are plain tensors, K SGD steps are unrolled with autograd.grad(create_graph=True),
    the validation loss is differentiated w.r.t. log learning rate and log weight decay, and
    an outer Adam updates the hyperparameters; then Baydin's hypergradient descent, where the
    learning rate's gradient is the dot of successive gradients."""
    F = L.nn.functional
    xtr, xva = _t(L, 12, 4, seed=1), _t(L, 8, 4, seed=2)
    w_true = _t(L, 4, 1, seed=3)
    ytr = xtr @ w_true + 0.1 * _t(L, 12, 1, seed=4)
    yva = xva @ w_true
    log_lr = L.tensor(math.log(0.1), dtype=L.double, requires_grad=True)
    log_wd = L.tensor(math.log(1e-2), dtype=L.double, requires_grad=True)
    hopt = L.optim.Adam([log_lr, log_wd], lr=0.05)
    history = []
    for _ in range(3):
        w = L.zeros(4, 1, dtype=L.double, requires_grad=True)
        b = L.zeros(1, dtype=L.double, requires_grad=True)
        params = [w, b]
        for _ in range(4):
            loss = F.mse_loss(xtr @ params[0] + params[1], ytr) + \
                log_wd.exp() * params[0].pow(2).sum()
            grads = L.autograd.grad(loss, params, create_graph=True)
            params = [p - log_lr.exp() * g for p, g in zip(params, grads)]
        val = F.mse_loss(xva @ params[0] + params[1], yva)
        hopt.zero_grad()
        val.backward()
        history.append((val.item(), log_lr.grad.clone(), log_wd.grad.clone()))
        hopt.step()
    # hypergradient descent on a learning rate kept as a float
    w = L.zeros(4, 1, dtype=L.double, requires_grad=True)
    lr, beta, prev, lrs = 0.05, 0.01, None, []
    for _ in range(5):
        loss = F.mse_loss(xtr @ w, ytr)
        g, = L.autograd.grad(loss, w)
        if prev is not None:
            lr = lr + beta * L.dot(g.flatten(), prev.flatten()).item()
        with L.no_grad():
            w -= lr * g
        prev = g
        lrs.append(lr)
    return dict(history=history, log_lr=log_lr, log_wd=log_wd, lrs=lrs, w=w)


@program
def influence_functions_by_conjugate_gradient_on_hessian_vector_products(L):
    """Koh & Liang's influence functions on a logistic regression: train to convergence by
    LBFGS (strong Wolfe), Hessian-vector products by double backward over the parameter list,
    s_test = H^-1 grad_test solved by conjugate gradient with damping, and the influence of
    each training point; the same H^-1 v via LiSSA's recursion, and the explicit Hessian by
    torch.autograd.functional.hessian for comparison."""
    nn, F = L.nn, L.nn.functional
    x = _t(L, 20, 3, seed=5)
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.3 * _t(L, 20, seed=6) > 0).double()
    model = nn.Linear(3, 1).double()
    with L.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    params = list(model.parameters())
    damp = 0.01

    def loss_fn(xb, yb):
        return F.binary_cross_entropy_with_logits(model(xb).squeeze(-1), yb) + \
            damp / 2 * sum(p.pow(2).sum() for p in params)

    opt = L.optim.LBFGS(params, lr=1, max_iter=30, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn(x, y)
        loss.backward()
        return loss

    opt.step(closure)

    def hvp(v):
        loss = loss_fn(x, y)
        g = L.autograd.grad(loss, params, create_graph=True)
        return L.autograd.grad(g, params, grad_outputs=v)

    def dot(a, b):
        return sum((ai * bi).sum() for ai, bi in zip(a, b))

    x_test, y_test = _t(L, 1, 3, seed=7), L.tensor([1.0], dtype=L.double)
    v = L.autograd.grad(loss_fn(x_test, y_test), params)
    # conjugate gradient on H s = v
    s = [L.zeros_like(p) for p in params]
    r = [vi.clone() for vi in v]
    p_ = [ri.clone() for ri in r]
    rs = dot(r, r)
    for _ in range(8):
        Hp = hvp(p_)
        alpha = rs / dot(p_, Hp)
        s = [si + alpha * pi for si, pi in zip(s, p_)]
        r = [ri - alpha * hi for ri, hi in zip(r, Hp)]
        rs_new = dot(r, r)
        if rs_new.sqrt() < 1e-12:
            break
        p_ = [ri + (rs_new / rs) * pi for ri, pi in zip(r, p_)]
        rs = rs_new
    influences = []
    for i in range(0, 20, 4):
        g_i = L.autograd.grad(loss_fn(x[i:i + 1], y[i:i + 1]), params)
        influences.append(-dot(s, g_i).item())
    # LiSSA
    est = [vi.clone() for vi in v]
    for _ in range(10):
        hv = hvp(est)
        est = [vi + e - hvi / 4.0 for vi, e, hvi in zip(v, est, hv)]
    lissa = [e / 4.0 for e in est]
    flat = nn.utils.parameters_to_vector(params).detach()

    def flat_loss(theta):
        w, b = theta[:3].view(1, 3), theta[3:]
        return F.binary_cross_entropy_with_logits((x @ w.t() + b).squeeze(-1), y) + \
            damp / 2 * theta.pow(2).sum()

    H = L.autograd.functional.hessian(flat_loss, flat)
    exact = L.linalg.solve(H, L.cat([vi.flatten() for vi in v]))
    return dict(s=s, influences=influences, lissa=lissa, H=H, exact=exact,
                params=[p.detach() for p in params])


@program
def implicit_maml_meta_gradient_by_conjugate_gradient(L):
    """iMAML (Rajeswaran et al.): the inner problem is the task loss plus a proximal term
    lam/2 |phi - theta|^2 solved by a few gradient steps on a detached copy; the meta-gradient
    solves (I + H/lam) u = grad_val by conjugate gradient with Hessian-vector products of the
    task loss (autograd.grad with grad_outputs), then is written into theta.grad for an outer
    SGD step."""
    F = L.nn.functional
    lam = 2.0
    theta = [_t(L, 3, 2, scale=0.3, seed=10).requires_grad_(),
             L.zeros(2, dtype=L.double, requires_grad=True)]
    meta_opt = L.optim.SGD(theta, lr=0.1, momentum=0.9)

    def net(p, xb):
        return L.tanh(xb @ p[0] + p[1])

    out = []
    for task in range(3):
        xs, ys = _t(L, 6, 3, seed=20 + task), _t(L, 6, 2, scale=0.5, seed=30 + task)
        xq, yq = _t(L, 6, 3, seed=40 + task), _t(L, 6, 2, scale=0.5, seed=50 + task)
        phi = [p.detach().clone().requires_grad_(True) for p in theta]
        inner = L.optim.SGD(phi, lr=0.2)
        for _ in range(5):
            inner.zero_grad()
            reg = sum(((a - b.detach()) ** 2).sum() for a, b in zip(phi, theta))
            (F.mse_loss(net(phi, xs), ys) + lam / 2 * reg).backward()
            inner.step()
        gval = L.autograd.grad(F.mse_loss(net(phi, xq), yq), phi)
        train_loss = F.mse_loss(net(phi, xs), ys)
        gtrain = L.autograd.grad(train_loss, phi, create_graph=True)

        def Av(v):
            hv = L.autograd.grad(gtrain, phi, grad_outputs=v, retain_graph=True)
            return [vi + hvi / lam for vi, hvi in zip(v, hv)]

        u = [L.zeros_like(g) for g in gval]
        r = [g.clone() for g in gval]
        d = [g.clone() for g in gval]
        rr = sum((ri * ri).sum() for ri in r)
        for _ in range(5):
            Ad = Av(d)
            a = rr / sum((di * ai).sum() for di, ai in zip(d, Ad))
            u = [ui + a * di for ui, di in zip(u, d)]
            r = [ri - a * ai for ri, ai in zip(r, Ad)]
            rr_new = sum((ri * ri).sum() for ri in r)
            d = [ri + rr_new / rr * di for ri, di in zip(r, d)]
            rr = rr_new
        meta_opt.zero_grad()
        for p, g in zip(theta, u):
            p.grad = g.detach()
        meta_opt.step()
        out.append((train_loss.item(), [ui.detach() for ui in u]))
    return dict(out=out, theta=[p.detach() for p in theta],
                state=meta_opt.state_dict()["state"])


@program
def learning_to_learn_coordinatewise_lstm_optimizer_with_truncated_unrolls(L):
    """Andrychowicz et al.'s learned optimiser: a coordinatewise two-layer LSTMCell stack
    reads the optimisee's gradients (log-magnitude and sign preprocessing), outputs updates,
    the optimisee's parameters are plain tensors updated out of place; gradients of the
    optimisee loss are taken without create_graph (detached, as the paper does), the meta-loss
    sums the unrolled losses, truncated every few steps (hidden states and parameters
    detached and requires_grad_ again), and the optimiser is trained by Adam."""
    nn = L.nn
    L.manual_seed(7)

    class CoordinatewiseLSTM(nn.Module):
        """The same small LSTM for every coordinate of the optimisee (coordinates are the
        batch), reading each gradient as two features: (log|g| / p, sign g) when |g| is at
        least e^-p, else (-1, e^p g)."""

        def __init__(self, hidden=6, p=10.0):
            super().__init__()
            self.cell1 = nn.LSTMCell(2, hidden)
            self.cell2 = nn.LSTMCell(hidden, hidden)
            self.head = nn.Linear(hidden, 1)
            self.p = p
            self.small = math.exp(-p)

        def features(self, g):
            out = L.zeros(g.size(0), 2, dtype=g.dtype)
            big = (g.abs() >= self.small).squeeze()
            out[:, 0][big] = (L.log(g.abs()[big] + 1e-8) / self.p).squeeze()
            out[:, 1][big] = L.sign(g[big]).squeeze()
            out[:, 0][~big] = -1
            out[:, 1][~big] = (math.exp(self.p) * g[~big]).squeeze()
            return out

        def forward(self, g, hs, cs):
            h1, c1 = self.cell1(self.features(g), (hs[0], cs[0]))
            h2, c2 = self.cell2(h1, (hs[1], cs[1]))
            return self.head(h2), (h1, h2), (c1, c2)

    A, B = _t(L, 5, 5, seed=11), _t(L, 5, seed=12)

    def quad(theta):
        return ((A @ theta - B) ** 2).sum()

    opt_net = CoordinatewiseLSTM().double()
    meta_opt = L.optim.Adam(opt_net.parameters(), lr=1e-2)
    meta_losses = []
    for epoch in range(2):
        theta = L.zeros(5, dtype=L.double, requires_grad=True)
        hidden = [L.zeros(5, 6, dtype=L.double) for _ in range(2)]
        cell = [L.zeros(5, 6, dtype=L.double) for _ in range(2)]
        for unroll in range(2):
            total = None
            for _ in range(3):
                loss = quad(theta)
                total = loss if total is None else total + loss
                loss.backward(retain_graph=True)
                grad = theta.grad.detach()
                update, hidden, cell = opt_net(grad.view(-1, 1), hidden, cell)
                theta = theta + update.view(-1) * 0.1
                theta.retain_grad()
            meta_opt.zero_grad()
            total.backward()
            meta_opt.step()
            meta_losses.append(total.item())
            theta = theta.detach().requires_grad_(True)
            hidden = [h.detach() for h in hidden]
            cell = [c.detach() for c in cell]
    return dict(meta_losses=meta_losses, theta=theta, state=opt_net.state_dict())


# ----------------------------------------------------------------------------------------------
# flows and densities
# ----------------------------------------------------------------------------------------------
@program
def glow_actnorm_lu_invertible_conv_affine_coupling_and_reverse(L):
    """Glow's pieces (the layout of rosinality's glow-pytorch, our code): an activation norm
    with data-dependent initialisation (a uint8 buffer flag), an invertible 1x1 conv built from
    an orthogonal matrix by torch.linalg.lu with masked L and U, sign(s) and log|s| parameters
    and weight = P (L*mask + I)(U*mask^T + diag(sign exp(log s))), the affine coupling with a
    zero-initialised last conv and sigmoid scale, squeeze, the Gaussian prior's log-likelihood,
    the reverse pass reconstructing the input, and a loss's gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(5)

    def log_abs(t):
        return L.log(L.abs(t))

    def as_channels(v):
        # (c,) -> (1, c, 1, 1)
        return v.unsqueeze(1).unsqueeze(2).unsqueeze(3).permute(1, 0, 2, 3)

    class DataInitNorm(nn.Module):
        """y = scale * (x + shift) per channel; the first batch seen sets shift and scale so
        that its output has zero mean and unit std (a uint8 buffer marks it done)."""

        def __init__(self, c):
            super().__init__()
            self.shift = nn.Parameter(L.zeros(1, c, 1, 1))
            self.scale = nn.Parameter(L.ones(1, c, 1, 1))
            self.register_buffer("ready", L.tensor(0, dtype=L.uint8))

        def forward(self, x):
            if self.ready.item() == 0:
                with L.no_grad():
                    per_channel = x.permute(1, 0, 2, 3).contiguous().view(x.shape[1], -1)
                    self.shift.data.copy_(-as_channels(per_channel.mean(1)))
                    self.scale.data.copy_(1 / (as_channels(per_channel.std(1)) + 1e-6))
                self.ready.fill_(1)
            logdet = x.shape[2] * x.shape[3] * L.sum(log_abs(self.scale))
            return self.scale * (x + self.shift), logdet

        def reverse(self, y):
            return y / self.scale - self.shift

    class LUMix(nn.Module):
        """A 1x1 conv whose matrix is kept as P L (U + diag(sign * exp(log|s|))): P, the signs
        and the masks fixed, the strictly-triangular parts and log|s| trained (from an
        orthogonal start), so that log|det| is just the sum of log|s|."""

        def __init__(self, c):
            super().__init__()
            start = L.tensor(np.linalg.qr(np.random.RandomState(0).randn(c, c))[0])
            p, lower, upper = L.linalg.lu(start)
            diag = L.diag(upper)
            above = L.triu(L.ones_like(upper), 1)
            self.register_buffer("p", p)
            self.register_buffer("above", above)
            self.register_buffer("below", above.T)
            self.register_buffer("sign", L.sign(diag))
            self.register_buffer("eye", L.eye(c, dtype=diag.dtype))
            self.lower = nn.Parameter(lower)
            self.log_s = nn.Parameter(log_abs(diag))
            self.upper = nn.Parameter(L.triu(upper, 1))

        def matrix(self):
            lower = self.lower * self.below + self.eye
            upper = self.upper * self.above + L.diag(self.sign * L.exp(self.log_s))
            return self.p @ lower @ upper

        def forward(self, x):
            kernel = self.matrix().unsqueeze(2).unsqueeze(3)
            return F.conv2d(x, kernel), x.shape[2] * x.shape[3] * L.sum(self.log_s)

        def reverse(self, y):
            return F.conv2d(y, self.matrix().inverse().unsqueeze(2).unsqueeze(3))

    class ZeroStartConv(nn.Module):
        """A 3x3 conv (input padded with ones) starting at zero, its output scaled by a
        learned exp(3 * s) per channel."""

        def __init__(self, cin, cout):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, padding=0)
            self.conv.weight.data.zero_()
            self.conv.bias.data.zero_()
            self.scale = nn.Parameter(L.zeros(1, cout, 1, 1))

        def forward(self, x):
            return self.conv(F.pad(x, [1, 1, 1, 1], value=1)) * L.exp(self.scale * 3)

    class HalfCoupling(nn.Module):
        """The second half of the channels shifted and scaled by functions of the first."""

        def __init__(self, c, width=8):
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(c // 2, width, 3, padding=1), nn.ReLU(inplace=True),
                                     nn.Conv2d(width, width, 1), nn.ReLU(inplace=True),
                                     ZeroStartConv(width, c))
            self.net[0].weight.data.normal_(0, 0.05)
            self.net[0].bias.data.zero_()

        def params(self, kept):
            raw_scale, shift = self.net(kept).chunk(2, 1)
            return F.sigmoid(raw_scale + 2), shift       # scale in (0, 1), near 0.88 at start

        def forward(self, x):
            kept, moved = x.chunk(2, 1)
            s, t = self.params(kept)
            return L.cat([kept, (moved + t) * s], 1), L.sum(L.log(s).view(x.shape[0], -1), 1)

        def reverse(self, y):
            kept, moved = y.chunk(2, 1)
            s, t = self.params(kept)
            return L.cat([kept, moved / s - t], 1)

    def space_to_channels(x):
        b, c, h, w = x.shape
        x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return x.contiguous().view(b, c * 4, h // 2, w // 2)

    def normal_log_density(x, mean, log_sd):
        return -0.5 * math.log(2 * math.pi) - log_sd - 0.5 * (x - mean) ** 2 / L.exp(2 * log_sd)

    flows = nn.ModuleList([DataInitNorm(4), LUMix(4), HalfCoupling(4)]).double()
    with L.no_grad():
        flows[2].net[4].conv.weight.normal_(0, 0.05)
    x = space_to_channels(_t(L, 2, 1, 4, 4, seed=9))
    out, logdet = x, 0
    for f in flows:
        out, ld = f(out)
        logdet = logdet + ld
    log_p = normal_log_density(out, L.zeros_like(out), L.zeros_like(out)).view(2, -1).sum(1)
    n_pixel = 16
    # bits per dimension of the 256-level data
    loss = (-(-math.log(256) * n_pixel + logdet + log_p) / (math.log(2) * n_pixel)).mean()
    loss.backward()
    with L.no_grad():
        back = out
        for f in reversed(flows):
            back = f.reverse(back)
    return dict(out=out, logdet=logdet, loss=loss, back=back, err=(back - x).abs().max(),
                grads=grads_of(flows), init=flows[0].ready)


@program
def transformed_distributions_planar_flow_and_normal_kl_in_a_vae_step(L):
    """Normalising flows through torch.distributions: a base Normal pushed through
    ComposeTransform([AffineTransform, TanhTransform]) as a TransformedDistribution
    (rsample, log_prob, the transform's log_abs_det_jacobian), Rezende & Mohamed's planar flow
    with the u-hat constraint (softplus) and its log-determinant, and a VAE step: Normal
    posterior by rsample, kl_divergence against the prior, Independent, and the Bernoulli
    likelihood by logits."""
    nn, F, D = L.nn, L.nn.functional, L.distributions
    L.manual_seed(8)
    loc = _t(L, 3, scale=0.2, seed=1).requires_grad_()
    log_scale = _t(L, 3, scale=0.1, seed=2).requires_grad_()
    base = D.Normal(loc, log_scale.exp())
    tr = D.ComposeTransform([D.AffineTransform(0.5, 2.0), D.TanhTransform(cache_size=1)])
    dist = D.TransformedDistribution(base, tr)
    s = dist.rsample((4,))
    lp = dist.log_prob(s)
    (lp.sum() + s.pow(2).sum()).backward()
    out = dict(s=s, lp=lp, gloc=loc.grad, gscale=log_scale.grad,
               ladj=tr.log_abs_det_jacobian(L.zeros(3, dtype=L.double) + 0.1,
                                            tr(L.zeros(3, dtype=L.double) + 0.1)))

    class TanhRankOneFlow(nn.Module):
        """z + u' tanh(w.z + b), with u' = u moved along w until w.u' = softplus(w.u) - 1,
        which keeps the map invertible; log|det| = log|1 + tanh'(w.z + b) w.u'|."""

        def __init__(self, d):
            super().__init__()
            self.u = nn.Parameter(L.randn(1, d) * 0.1)
            self.w = nn.Parameter(L.randn(1, d) * 0.1)
            self.b = nn.Parameter(L.zeros(1))

        def forward(self, z):
            dot = self.w @ self.u.t()
            shift = (F.softplus(dot) - 1 - dot) / (self.w.norm() ** 2)
            u_inv = self.u + shift * self.w
            pre = z @ self.w.t() + self.b
            act = L.tanh(pre)
            slope = (1 - act ** 2) * self.w
            log_det = L.log((1 + slope @ u_inv.t()).abs() + 1e-8).squeeze(-1)
            return z + u_inv * act, log_det

    flows = nn.ModuleList([TanhRankOneFlow(2) for _ in range(3)]).double()
    target = D.MultivariateNormal(L.tensor([1.0, -1.0], dtype=L.double),
                                  L.tensor([[1.0, 0.5], [0.5, 1.0]], dtype=L.double))
    opt = L.optim.Adam(flows.parameters(), lr=0.05)
    base_q = D.Independent(D.Normal(L.zeros(2, dtype=L.double), L.ones(2, dtype=L.double)), 1)
    kls = []
    for _ in range(3):
        start = base_q.sample((16,))
        moved, total_log_det = start, 0
        for layer in flows:
            moved, log_det = layer(moved)
            total_log_det = total_log_det + log_det
        # reverse KL up to a constant: E_q0[log q0(z0) - sum log|det| - log p(z_K)]
        kl = (base_q.log_prob(start) - total_log_det - target.log_prob(moved)).mean()
        opt.zero_grad()
        kl.backward()
        opt.step()
        kls.append(kl.item())
    out["kls"] = kls
    # VAE step
    enc, dec = nn.Linear(6, 4).double(), nn.Linear(2, 6).double()
    x = (_t(L, 5, 6, seed=3) > 0).double()
    mu, logvar = enc(x).chunk(2, -1)
    q = D.Normal(mu, (0.5 * logvar).exp())
    z = q.rsample()
    prior = D.Normal(L.zeros_like(mu), L.ones_like(mu))
    kl = D.kl_divergence(q, prior).sum(-1)
    kl_closed = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
    rec = D.Independent(D.Bernoulli(logits=dec(z)), 1).log_prob(x)
    elbo = (rec - kl).mean()
    (-elbo).backward()
    out.update(kl=kl, kl_closed=kl_closed, rec=rec, elbo=elbo, genc=enc.weight.grad,
               gdec=dec.weight.grad)
    return out


@program
def rational_quadratic_spline_coupling_with_searchsorted_bins(L):
    """Durkan et al.'s neural spline flow: unconstrained widths, heights and derivatives made
    into bins by softmax, cumsum and F.pad, the bin located by searchsorted on the knots,
    gather of each bin's parameters, the rational-quadratic forward map and its log-derivative,
    identity tails outside [-B, B], the inverse by the quadratic formula; the coupling's
    conditioner trained a couple of Adam steps on the log-likelihood."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(4)
    K, B, min_w, min_d = 4, 3.0, 1e-3, 1e-3

    def knots(unnorm, left):
        w = F.softmax(unnorm, dim=-1)
        w = min_w + (1 - min_w * K) * w
        cw = F.pad(L.cumsum(w, dim=-1), (1, 0), value=0.0)
        cw = 2 * B * cw - B
        cw[..., 0] = -B
        cw[..., -1] = B
        return cw, cw[..., 1:] - cw[..., :-1]

    def rqs(x, uw, uh, ud, inverse=False):
        inside = (x >= -B) & (x <= B)
        out, logdet = x.clone(), L.zeros_like(x)
        ud = F.pad(ud, (1, 1))
        const = math.log(math.exp(1 - min_d) - 1)
        ud[..., 0] = const
        ud[..., -1] = const
        xi, uw, uh, ud = x[inside], uw[inside], uh[inside], ud[inside]
        cw, w = knots(uw, -B)
        ch, h = knots(uh, -B)
        d = min_d + F.softplus(ud)
        grid = ch if inverse else cw
        grid = grid.clone()
        grid[..., -1] += 1e-6
        idx = (L.searchsorted(grid, xi[..., None], right=True) - 1).clamp(0, K - 1)
        g = lambda t: t.gather(-1, idx)[..., 0]  # noqa: E731
        xk, wk, yk, hk = g(cw), g(w), g(ch), g(h)
        dk, dk1 = g(d), d[..., 1:].gather(-1, idx)[..., 0]
        sk = hk / wk
        if not inverse:
            th = (xi - xk) / wk
            t1m = th * (1 - th)
            num = hk * (sk * th.pow(2) + dk * t1m)
            den = sk + (dk1 + dk - 2 * sk) * t1m
            y = yk + num / den
            dnum = sk.pow(2) * (dk1 * th.pow(2) + 2 * sk * t1m + dk * (1 - th).pow(2))
            ld = L.log(dnum) - 2 * L.log(den)
        else:
            a = hk * (sk - dk) + (xi - yk) * (dk1 + dk - 2 * sk)
            b = hk * dk - (xi - yk) * (dk1 + dk - 2 * sk)
            c = -sk * (xi - yk)
            th = (2 * c) / (-b - L.sqrt(b.pow(2) - 4 * a * c))
            y = th * wk + xk
            t1m = th * (1 - th)
            den = sk + (dk1 + dk - 2 * sk) * t1m
            dnum = sk.pow(2) * (dk1 * th.pow(2) + 2 * sk * t1m + dk * (1 - th).pow(2))
            ld = -(L.log(dnum) - 2 * L.log(den))
        out[inside] = y
        logdet[inside] = ld
        return out, logdet

    cond = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 3 * K - 1)).double()
    opt = L.optim.Adam(cond.parameters(), lr=0.02)
    data = L.tensor(np.random.RandomState(2).randn(16, 2) * [1.0, 1.5] + [0.0, 0.5])
    data[0, 1] = 4.0                                     # one point in the identity tail
    normal = L.distributions.Normal(0.0, 1.0)
    losses = []
    for _ in range(3):
        params = cond(data[:, :1])
        uw, uh, ud = params[:, :K], params[:, K:2 * K], params[:, 2 * K:]
        z, ld = rqs(data[:, 1], uw, uh, ud)
        nll = -(normal.log_prob(z) + ld + normal.log_prob(data[:, 0])).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
        losses.append(nll.item())
    with L.no_grad():
        params = cond(data[:, :1])
        uw, uh, ud = params[:, :K], params[:, K:2 * K], params[:, 2 * K:]
        z, ld = rqs(data[:, 1], uw, uh, ud)
        back, ild = rqs(z, uw, uh, ud, inverse=True)
    return dict(losses=losses, z=z, ld=ld, back=back, ild=ild, grads=grads_of(cond))


# ----------------------------------------------------------------------------------------------
# energies and scores
# ----------------------------------------------------------------------------------------------
@program
def jem_energy_from_classifier_logits_sgld_replay_buffer(L):
    """Grathwohl et al.'s JEM: the energy is -logsumexp of a classifier's logits; SGLD samples
    start from a replay buffer (rand_like reinitialisation of a fraction, index by randint),
    take autograd.grad of the summed energy w.r.t. x_k inside the loop, add the step and
    Gaussian noise, are detached and written back into the buffer; the loss is cross-entropy
    plus the energy gap, with the classifier in eval mode while sampling."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(9)
    f = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Dropout(0.1),
                      nn.Linear(16, 3)).double()
    opt = L.optim.Adam(f.parameters(), lr=1e-3, betas=(0.0, 0.999))
    buffer = L.rand(20, 4, dtype=L.double) * 2 - 1
    x, y = _t(L, 8, 4, seed=3), L.tensor(_labels(8, 3, 4))
    def start_points(slots):
        """Buffer entries, each replaced by fresh uniform noise with probability 0.05."""
        kept = buffer[slots]
        fresh = L.rand_like(kept) * 2 - 1
        renew = (L.rand(8) < 0.05).double()[:, None]
        return renew * fresh + (1 - renew) * kept

    def langevin(x0, steps=5, step=1.0, noise=0.01):
        """Ascend -E(x) = logsumexp(f(x)) with noise, by writes into .data of one leaf."""
        walker = x0.clone().requires_grad_(True)
        for _ in range(steps):
            energy = -L.logsumexp(f(walker), 1)
            up = L.autograd.grad(-energy.sum(), [walker], retain_graph=True)[0]
            walker.data += step * up + noise * L.randn_like(walker)
        return walker.detach()

    out = []
    for _ in range(2):
        slots = L.randint(0, 20, (8,))
        x0 = start_points(slots)
        f.eval()                                   # no dropout while sampling
        samples = langevin(x0)
        f.train()
        buffer[slots] = samples
        logits = f(x)
        data_term, model_term = logits.logsumexp(1).mean(), f(samples).logsumexp(1).mean()
        loss = F.cross_entropy(logits, y) + (model_term - data_term)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append((loss.item(), data_term.item(), model_term.item()))
    return dict(out=out, buffer=buffer, grads=grads_of(f))


@program
def sliced_and_denoising_score_matching_with_hutchinson_traces(L):
    """Score matching without the score's full Jacobian.  The sliced objective projects the
    learned score s(x) on random sign vectors p: one backward of p.s(x) with create_graph
    gives p^T (ds/dx) p, which plus half of (p.s)^2 (or half of |s|^2 in the lower-variance
    form) is the per-sample loss; both forms train a softplus net by Adam.  For comparison the
    Jacobian's trace is also summed exactly, one input coordinate per backward; the
    denoising objective regresses s on -noise/sigma; and the same p^T J p is read once more
    through torch.func.jvp and torch.func.vjp."""
    nn = L.nn
    L.manual_seed(10)
    score = nn.Sequential(nn.Linear(3, 16), nn.Softplus(), nn.Linear(16, 16), nn.Softplus(),
                          nn.Linear(16, 3)).double()
    opt = L.optim.Adam(score.parameters(), lr=1e-3)
    data = _t(L, 10, 3, seed=5)
    probes = L.tensor(np.sign(np.random.RandomState(6).randn(2, 10, 3)))

    def projected_terms(points, p):
        # (p . s) per sample, and p^T J p per sample by one double-backward
        s_val = score(points)
        along = (s_val * p).sum(-1)
        (jac_t_p,) = L.autograd.grad(along.sum(), points, create_graph=True)
        return s_val, along, (jac_t_p * p).sum(-1)

    history = []
    for probe in probes:
        pts = data.clone().requires_grad_(True)
        s_val, along, quad = projected_terms(pts, probe)
        sliced = (0.5 * along ** 2 + quad).mean()
        sliced_lowvar = (quad + 0.5 * s_val.pow(2).sum(-1)).mean()
        opt.zero_grad()
        (sliced + sliced_lowvar).backward()
        opt.step()
        history.append((sliced.item(), sliced_lowvar.item()))

    pts = data.clone().requires_grad_(True)
    s_val = score(pts)
    trace = L.zeros(10, dtype=L.double)
    for k in range(3):
        (row,) = L.autograd.grad(s_val[:, k].sum(), pts, create_graph=True)
        trace = trace + row[:, k]
    exact = (trace + 0.5 * s_val.pow(2).sum(-1)).mean()
    exact.backward()
    first_layer_grad = score[0].weight.grad.clone()

    sigma = 0.3
    eps = _t(L, 10, 3, seed=7)
    residual = score(data + sigma * eps) + eps / sigma
    denoising = sigma ** 2 * (0.5 * residual.pow(2).sum(-1).mean())
    probe = probes[0]
    _, forward_jp = L.func.jvp(score, (data,), (probe,))
    _, pull = L.func.vjp(score, data)
    (backward_pj,) = pull(probe)
    return dict(losses=history, tr=trace, exact=exact, g_exact=first_layer_grad,
                dsm=denoising, hutch_jvp=(probe * forward_jp).sum(-1),
                hutch_vjp=(backward_pj * probe).sum(-1))


# ----------------------------------------------------------------------------------------------
# Gaussian processes, optimal transport
# ----------------------------------------------------------------------------------------------
@program
def gaussian_process_marginal_likelihood_by_cholesky_and_lbfgs(L):
    """Exact Gaussian-process regression coded directly: an RBF kernel through cdist whose
    lengthscale, outputscale and noise are softplus of raw values; the jittered kernel's
    Cholesky factor; cholesky_solve for K^-1 y; the negative log marginal likelihood with
    the log-determinant read off the factor's diagonal; LBFGS with a strong-Wolfe line search
    fitting the raw values; the posterior mean and variance at test inputs by
    solve_triangular; and the same likelihood again from a MultivariateNormal built with
    scale_tril."""
    F, D = L.nn.functional, L.distributions
    rng = np.random.RandomState(3)
    X = L.tensor(np.sort(rng.uniform(-3, 3, (12, 1)), 0))
    y = L.sin(X[:, 0]) + 0.1 * L.tensor(rng.randn(12))
    Xs = L.linspace(-3, 3, 7, dtype=L.double).unsqueeze(-1)
    raw = L.tensor([0.0, 0.0, -2.0], dtype=L.double, requires_grad=True)

    def kernel(a, b, ls, os):
        return os * L.exp(-0.5 * L.cdist(a / ls, b / ls).pow(2))

    def nlml():
        ls, os, noise = F.softplus(raw)
        K = kernel(X, X, ls, os) + (noise + 1e-6) * L.eye(12, dtype=L.double)
        Lk = L.linalg.cholesky(K)
        alpha = L.cholesky_solve(y.unsqueeze(-1), Lk)
        return 0.5 * (y.unsqueeze(-1) * alpha).sum() + L.log(L.diagonal(Lk)).sum() + \
            0.5 * 12 * math.log(2 * math.pi)

    opt = L.optim.LBFGS([raw], lr=0.5, max_iter=15, line_search_fn="strong_wolfe")
    seen = []

    def closure():
        opt.zero_grad()
        loss = nlml()
        loss.backward()
        seen.append(loss.item())
        return loss

    opt.step(closure)
    with L.no_grad():
        ls, os, noise = F.softplus(raw)
        K = kernel(X, X, ls, os) + (noise + 1e-6) * L.eye(12, dtype=L.double)
        Lk = L.linalg.cholesky(K)
        Ks = kernel(X, Xs, ls, os)
        v = L.linalg.solve_triangular(Lk, Ks, upper=False)
        a = L.linalg.solve_triangular(Lk, y.unsqueeze(-1), upper=False)
        mean = (v.T @ a).squeeze(-1)
        var = os - v.pow(2).sum(0)
        mvn = D.MultivariateNormal(L.zeros(12, dtype=L.double), scale_tril=Lk)
        ll = mvn.log_prob(y)
    return dict(n=len(seen), first=seen[0], raw=raw, mean=mean, var=var, ll=ll,
                nl=nlml().detach())


@program
def log_domain_sinkhorn_divergence_gradient_flow_of_a_point_cloud(L):
    """Entropic optimal transport between uniform point clouds: half squared distances from
    cdist as the cost; dual potentials f and g updated alternately by logsumexp in the log
    domain while the temperature is lowered geometrically to its floor; the coupling
    rebuilt from the potentials; the debiased divergence OT(x,y) - (OT(x,x) + OT(y,y))/2; and
    three steps of a particle flow that moves x along its gradient, scaled by the number of
    points, through .data with the gradient zeroed in place after each step."""
    x = _t(L, 6, 2, seed=1).requires_grad_(True)
    yb = _t(L, 7, 2, seed=2) + L.tensor([2.0, 0.0], dtype=L.double)

    def sinkhorn(a_pts, b_pts, eps=0.1, iters=25):
        C = L.cdist(a_pts, b_pts) ** 2 / 2
        n, m = C.shape
        log_a = L.full((n,), -math.log(n), dtype=L.double)
        log_b = L.full((m,), -math.log(m), dtype=L.double)
        f, g = L.zeros(n, dtype=L.double), L.zeros(m, dtype=L.double)
        for it in range(iters):
            e = max(eps, 2.0 * 0.5 ** it)
            f = -e * L.logsumexp(log_b[None, :] + (g[None, :] - C) / e, dim=1)
            g = -e * L.logsumexp(log_a[:, None] + (f[:, None] - C) / e, dim=0)
        P = L.exp(log_a[:, None] + log_b[None, :] + (f[:, None] + g[None, :] - C) / eps)
        return f.mean() + g.mean(), P

    out = []
    for _ in range(3):
        sab, P = sinkhorn(x, yb)
        saa, _ = sinkhorn(x, x.detach())
        sbb, _ = sinkhorn(yb, yb)
        div = sab - 0.5 * (saa + sbb)
        div.backward()
        out.append((div.item(), x.grad.clone(), P.sum(1)))
        x.data -= 0.5 * len(x) * x.grad
        x.grad.zero_()
    return dict(out=out, x=x)


# ----------------------------------------------------------------------------------------------
# robustness and attribution
# ----------------------------------------------------------------------------------------------
@program
def pgd_linf_attack_with_random_start_cw_margin_and_trades_training(L):
    """Madry et al.'s PGD attack: a uniform random start
    delta.uniform_(-eps, eps), the input kept in [0, 1] by clamp, steps of alpha * sign(grad)
    with delta.data projected by clamp(-eps, eps), delta.grad.zero_(); the CW margin loss
    from a one-hot mask; then TRADES: x_adv found by maximising KLDivLoss(reduction='sum')
    between log_softmax(adv) and softmax(natural), with torch.min/torch.max projection, and
    the training loss CE + beta * KL(batchmean) stepped by SGD."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(11)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    X = L.tensor(np.random.RandomState(1).uniform(0, 1, (5, 3, 2, 2)))
    y = L.tensor(_labels(5, 4, 2))
    eps, alpha = 0.1, 0.03

    def into_box(x_new):
        """Back into the eps-ball around X (by min/max) and then into [0, 1]."""
        return L.min(L.max(x_new, X - eps), X + eps)

    # PGD on the cross-entropy: a perturbation leaf updated through .data, random start
    pert = L.zeros_like(X).uniform_(-eps, eps)
    pert.data = L.clamp(X + pert.data, min=0, max=1) - X          # the image stays in [0, 1]
    pert.requires_grad = True
    for _ in range(4):
        F.cross_entropy(model(X + pert), y).backward()
        ascent = pert + alpha * pert.grad.detach().sign()
        pert.data = ascent.clamp(-eps, eps)
        pert.data = L.clamp(X + pert.data, 0, 1) - X
        pert.grad.zero_()
    pgd = pert.detach()

    def margin_loss(logits, target, kappa=0.0):
        """Carlini-Wagner: the true logit's lead over the best other one, floored at 0."""
        is_true = F.one_hot(target, 4).double()
        true_logit = (is_true * logits).sum(1)
        best_other = ((1.0 - is_true) * logits - is_true * 10000.0).max(1)[0]
        return L.clamp(true_logit - best_other + kappa, min=0.0).sum()

    x_cw = X.clone().detach().requires_grad_(True)
    for _ in range(3):
        g, = L.autograd.grad(-margin_loss(model(x_cw), y), [x_cw])
        x_cw = into_box(x_cw.detach() + alpha * g.sign()).clamp_(0.0, 1.0).requires_grad_(True)
    model.zero_grad()

    # TRADES: the adversary pushes the prediction away from the clean one (a KL), then the
    # model is trained on the clean loss plus that KL
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    kl_sum = nn.KLDivLoss(reduction="sum")
    model.eval()
    x_adv = X.detach() + 0.001 * L.randn(X.shape, dtype=L.double)
    for _ in range(3):
        x_adv.requires_grad_()
        with L.enable_grad():
            away = kl_sum(F.log_softmax(model(x_adv), dim=1), F.softmax(model(X), dim=1))
        step = L.autograd.grad(away, [x_adv])[0]
        x_adv = L.clamp(into_box(x_adv.detach() + alpha * L.sign(step.detach())), 0.0, 1.0)
    model.train()
    x_adv = L.autograd.Variable(L.clamp(x_adv, 0.0, 1.0), requires_grad=False)
    opt.zero_grad()
    clean = F.cross_entropy(model(X), y)
    robust = (1.0 / 5) * nn.KLDivLoss(reduction="batchmean")(
        F.log_softmax(model(x_adv), dim=1), F.softmax(model(X), dim=1))
    loss = clean + 6.0 * robust
    loss.backward()
    opt.step()
    return dict(pgd=pgd, x_cw=x_cw.detach(), cw=margin_loss(model(x_cw), y), x_adv=x_adv,
                loss=loss, grads=grads_of(model), state=opt.state_dict()["state"])


@program
def integrated_gradients_smoothgrad_and_input_jacobian_regularisation(L):
    """Attribution and smoothness the captum-free way: integrated gradients by a Riemann sum
    over scaled inputs (one batched backward, grads reshaped and averaged), with the
    completeness check; SmoothGrad averaging the gradients of noisy copies; then Hoffman et
    al.'s Jacobian regulariser: random unit projections v, J^T v by autograd.grad(y, x, v,
    create_graph=True), the Frobenius estimate C * |J^T v|^2 added to the loss, and the exact
    Frobenius norm by torch.autograd.functional.jacobian(create_graph=True)."""
    F = L.nn.functional
    model = tanh_mlp(L, [4, 8, 3], seed=12)
    x = _t(L, 2, 4, seed=3)
    baseline = L.zeros_like(x)
    target = L.tensor([0, 2])
    steps = 16
    alphas = L.linspace(0, 1, steps + 1, dtype=L.double)[1:].view(-1, 1, 1)
    scaled = (baseline + alphas * (x - baseline)).reshape(-1, 4).requires_grad_(True)
    out = F.softmax(model(scaled), -1).gather(1, target.repeat(steps).view(-1, 1))
    grads = L.autograd.grad(out.sum(), scaled)[0].view(steps, 2, 4)
    ig = (x - baseline) * grads.mean(0)
    with L.no_grad():
        p_x = F.softmax(model(x), -1).gather(1, target.view(-1, 1)).squeeze(1)
        p_b = F.softmax(model(baseline), -1).gather(1, target.view(-1, 1)).squeeze(1)
    noise = _t(L, 5, 2, 4, scale=0.1, seed=8)
    noisy = (x.unsqueeze(0) + noise).requires_grad_(True)
    sel = model(noisy).gather(2, target.view(1, 2, 1).expand(5, 2, 1)).sum()
    smooth = L.autograd.grad(sel, noisy)[0].mean(0)

    opt = L.optim.SGD(model.parameters(), lr=0.05)
    xb, yb = _t(L, 6, 4, seed=4).requires_grad_(True), L.tensor(_labels(6, 3, 5))
    vs = _t(L, 2, 6, 3, seed=6)
    regs = []
    for step in range(2):
        opt.zero_grad()
        logits = model(xb)
        v = vs[step] / vs[step].norm(dim=1, keepdim=True)
        Jv, = L.autograd.grad(logits, xb, grad_outputs=v, create_graph=True)
        R = 3 * Jv.pow(2).sum() / 6
        loss = F.cross_entropy(logits, yb) + 0.01 * 0.5 * R
        loss.backward()
        opt.step()
        regs.append(R.item())
    x1 = _t(L, 4, seed=9)
    J = L.autograd.functional.jacobian(lambda inp: model(inp), x1, create_graph=True)
    fro = J.pow(2).sum()
    fro.backward()
    return dict(ig=ig, completeness=(ig.sum(1), p_x - p_b), smooth=smooth, regs=regs, J=J,
                fro=fro, grads=grads_of(model))


# ----------------------------------------------------------------------------------------------
# Bayesian layers, natural gradient, MAML++
# ----------------------------------------------------------------------------------------------
@program
def bayes_by_backprop_scale_mixture_prior_and_local_reparameterisation(L):
    """Bayes by Backprop (Blundell et al.): each weight has a Gaussian posterior with mean m
    and scale softplus(r) written log1p(exp(r)), sampled as m + scale * eps with eps from
    normal_(); the prior is a two-component scale mixture whose log-density is a logsumexp
    over the components' Normal log_probs; the posterior's own log_prob enters the ELBO,
    which averages two samples and weighs the complexity term for a minibatch.  A second
    layer uses the local reparameterisation: it samples its pre-activations from
    N(x m, x^2 var) and carries the closed-form Gaussian KL.  Trained by Adam."""
    nn, F, D = L.nn, L.nn.functional, L.distributions
    L.manual_seed(13)
    mix_weight, wide, narrow = 0.5, math.exp(-0), math.exp(-6)   # the paper's prior settings

    def mixture_log_prior(sample):
        per_component = L.stack([
            D.Normal(0, wide).log_prob(sample) + math.log(mix_weight),
            D.Normal(0, narrow).log_prob(sample) + math.log(1 - mix_weight)])
        return L.logsumexp(per_component, 0).sum()

    def gaussian_draw(mean, raw_scale):
        scale = L.log1p(L.exp(raw_scale))
        return mean + scale * L.empty_like(scale).normal_(), scale

    class SampledWeightsLinear(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.weight_mean = nn.Parameter(L.empty(n_out, n_in).uniform_(-0.2, 0.2))
            self.weight_raw_scale = nn.Parameter(L.empty(n_out, n_in).uniform_(-5, -4))
            self.bias_mean = nn.Parameter(L.empty(n_out).uniform_(-0.2, 0.2))
            self.bias_raw_scale = nn.Parameter(L.empty(n_out).uniform_(-5, -4))

        def forward(self, x):
            weight, weight_scale = gaussian_draw(self.weight_mean, self.weight_raw_scale)
            bias, bias_scale = gaussian_draw(self.bias_mean, self.bias_raw_scale)
            self.log_prior = mixture_log_prior(weight) + mixture_log_prior(bias)
            self.log_posterior = (
                D.Normal(self.weight_mean, weight_scale).log_prob(weight).sum()
                + D.Normal(self.bias_mean, bias_scale).log_prob(bias).sum())
            return F.linear(x, weight, bias)

    class SampledActivationsLinear(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.mean = nn.Parameter(L.randn(n_out, n_in) * 0.1)
            self.log_var = nn.Parameter(L.full((n_out, n_in), -6.0))

        def forward(self, x):
            var = self.log_var.exp()
            act_mean = F.linear(x, self.mean)
            act_var = F.linear(x.pow(2), var)
            self.kl = 0.5 * (var + self.mean.pow(2) - 1 - self.log_var).sum()
            return act_mean + act_var.sqrt() * L.randn_like(act_mean)

    layers = nn.ModuleList([SampledWeightsLinear(3, 8), SampledActivationsLinear(8, 2)])
    layers = layers.double()
    opt = L.optim.Adam(layers.parameters(), lr=1e-2)
    x, y = _t(L, 10, 3, seed=1), _t(L, 10, 2, scale=0.5, seed=2)
    n_samples, n_batches = 2, 4
    trace = []
    for _ in range(2):
        opt.zero_grad()
        fit, prior_sum, post_sum, kl_sum = 0, 0, 0, 0
        for _ in range(n_samples):
            pred = layers[1](F.relu(layers[0](x)))
            fit = fit + F.mse_loss(pred, y, reduction="sum") / 2
            prior_sum = prior_sum + layers[0].log_prior
            post_sum = post_sum + layers[0].log_posterior
            kl_sum = kl_sum + layers[1].kl
        elbo_loss = ((post_sum - prior_sum + kl_sum) / n_batches + fit) / n_samples
        elbo_loss.backward()
        opt.step()
        trace.append((elbo_loss.item(), (prior_sum / n_samples).item(),
                      (post_sum / n_samples).item()))
    return dict(out=trace, grads=grads_of(layers), state=layers.state_dict())


@program
def natural_gradient_and_hessian_free_steps_with_autograd_functional(L):
    """Second-order steps on a small regression net with its parameters as one flat vector
    (functional_call over an unflattened dict): the Gauss-Newton / Fisher matrix J^T J from
    torch.autograd.functional.jacobian (vectorize=True and not), a damped natural-gradient
    step by linalg.solve; Martens' Hessian-free step with torch.autograd.functional.hvp
    inside conjugate gradient; vhp and the full hessian agree; the step applied by
    vector_to_parameters."""
    nn, F = L.nn, L.nn.functional
    model = tanh_mlp(L, [2, 4, 1], seed=14)
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    x, y = _t(L, 8, 2, seed=1), _t(L, 8, 1, seed=2)

    def unflatten(theta):
        return {n: t.view(s) for n, t, s in zip(names, theta.split(sizes), shapes)}

    def outputs(theta):
        return L.func.functional_call(model, unflatten(theta), (x,)).squeeze(-1)

    def loss_fn(theta):
        return F.mse_loss(outputs(theta), y.squeeze(-1))

    theta = nn.utils.parameters_to_vector(model.parameters()).detach()
    J = L.autograd.functional.jacobian(outputs, theta)
    Jv = L.autograd.functional.jacobian(outputs, theta, vectorize=True)
    G = 2 * J.T @ J / 8
    g = L.autograd.functional.jacobian(loss_fn, theta)
    ng = L.linalg.solve(G + 1e-2 * L.eye(len(theta), dtype=L.double), g)
    H = L.autograd.functional.hessian(loss_fn, theta)
    _, hv = L.autograd.functional.hvp(loss_fn, theta, g)
    _, vh = L.autograd.functional.vhp(loss_fn, theta, g)
    # Hessian-free: CG on (H + lam I) d = -g
    lam = 0.1
    d = L.zeros_like(theta)
    r = -g - (L.autograd.functional.hvp(loss_fn, theta, d)[1] + lam * d)
    p = r.clone()
    for _ in range(6):
        Ap = L.autograd.functional.hvp(loss_fn, theta, p)[1] + lam * p
        a = r.dot(r) / p.dot(Ap)
        d = d + a * p
        r_new = r - a * Ap
        p = r_new + r_new.dot(r_new) / r.dot(r) * p
        r = r_new
    nn.utils.vector_to_parameters(theta + d, model.parameters())
    after = F.mse_loss(model(x), y)
    ratio = (after.item() - loss_fn(theta).item()) / (g.dot(d) + 0.5 * d.dot(H @ d)).item()
    return dict(J=J, Jv=Jv, G=G, ng=ng, H=H, hv=hv, vh=vh, d=d, after=after, ratio=ratio,
                theta=nn.utils.parameters_to_vector(model.parameters()))


@program
def maml_plus_plus_per_step_learning_rates_and_multi_step_loss(L):
    """MAML++ (Antoniou et al.): learnable per-layer, per-step inner learning rates in a
    ParameterDict (names with dots replaced), inner steps by autograd.grad(create_graph=True,
    allow_unused=True) over a dict of named weights and torch.func.functional_call, the
    multi-step loss weighting each step's query loss (annealed importance vector), derivative
    order switched to first order by create_graph=False for a later epoch; Adam on both
    the network and the learning rates; the cosine annealing schedule."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(15)
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                        nn.Linear(8, 1)).double()
    net.register_buffer("unused", L.zeros(1, dtype=L.double))
    steps = 3
    lrs = nn.ParameterDict({n.replace(".", "-"): nn.Parameter(L.ones(steps + 1,
                                                                     dtype=L.double) * 0.1)
                            for n, _ in net.named_parameters()})
    opt = L.optim.Adam(list(net.parameters()) + list(lrs.parameters()), lr=1e-3)
    sched = L.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=1e-5)
    out = []
    for epoch in range(2):
        second_order = epoch == 0
        imp = L.ones(steps, dtype=L.double) / steps
        imp[:-1] = imp[:-1] * 0.9
        imp[-1] = 1 - imp[:-1].sum()
        meta_loss = 0
        for task in range(2):
            amp = 0.5 + task
            xs = _t(L, 5, 2, seed=task + 1)
            ys = amp * L.sin(xs.sum(1, keepdim=True))
            xq = _t(L, 5, 2, seed=task + 11)
            yq = amp * L.sin(xq.sum(1, keepdim=True))
            weights = dict(net.named_parameters())
            for s in range(steps):
                loss = F.mse_loss(L.func.functional_call(net, weights, (xs,)), ys)
                grads = L.autograd.grad(loss, list(weights.values()),
                                        create_graph=second_order, allow_unused=True)
                weights = {n: w - lrs[n.replace(".", "-")][s] * g
                           for (n, w), g in zip(weights.items(), grads)}
                q = F.mse_loss(L.func.functional_call(net, weights, (xq,)), yq)
                meta_loss = meta_loss + imp[s] * q
        opt.zero_grad()
        (meta_loss / 2).backward()
        opt.step()
        sched.step()
        out.append((meta_loss.item(), sched.get_last_lr()))
    return dict(out=out, lrs=dict(lrs.items()), grads=grads_of(net),
                lr_grads={k: v.grad for k, v in lrs.items()})


@program
def anderson_accelerated_equilibrium_solver_batched_least_squares(L):
    """Anderson acceleration for a deep-equilibrium layer: iterates and their images kept
    in preallocated (batch, memory, n) ring buffers written by index, the bordered
    system H[:, 1:n+1, 1:n+1] = G G^T + lam I built by bmm and solved per batch by
    torch.linalg.solve, the mixing step beta * (alpha F) + (1 - beta) * (alpha X), the
    residual history; then the equilibrium's implicit backward via the same solver on
    y -> J^T y + g (autograd.grad with grad_outputs) and a loss's parameter gradients."""
    nn = L.nn
    L.manual_seed(16)

    def anderson_fixed_point(f, x0, memory=4, reg=1e-4, max_iter=25, tol=1e-10, mix=1.0):
        """x = f(x) for a batch by Anderson acceleration.  The last ``memory`` iterates and
        their images sit in ring buffers; the next iterate combines the images (and, by
        1 - mix, the iterates) with weights a that minimise |sum a_i (f(x_i) - x_i)|^2 +
        reg |a|^2 under sum a_i = 1: the bordered system [[0, 1^T], [1, R R^T + reg I]]
        [mu; a] = [1; 0].  Returns the last iterate and the relative residuals."""
        nb, d = x0.shape
        xs = L.zeros(nb, memory, d, dtype=x0.dtype)
        fs = L.zeros(nb, memory, d, dtype=x0.dtype)
        xs[:, 0], fs[:, 0] = x0, f(x0)
        xs[:, 1], fs[:, 1] = fs[:, 0], f(fs[:, 0])
        bordered = L.zeros(nb, memory + 1, memory + 1, dtype=x0.dtype)
        bordered[:, 0, 1:] = bordered[:, 1:, 0] = 1
        rhs = L.zeros(nb, memory + 1, 1, dtype=x0.dtype)
        rhs[:, 0] = 1

        def weights(used):
            r = fs[:, :used] - xs[:, :used]
            bordered[:, 1:used + 1, 1:used + 1] = L.bmm(r, r.transpose(1, 2)) + \
                reg * L.eye(used, dtype=x0.dtype)[None]
            sol = L.linalg.solve(bordered[:, :used + 1, :used + 1], rhs[:, :used + 1])
            return sol[:, 1:used + 1, 0]

        rel = []
        slot = 2 % memory
        for k in range(2, max_iter):
            used, slot = min(k, memory), k % memory
            a = weights(used)[:, None]
            xs[:, slot] = mix * (a @ fs[:, :used])[:, 0] + (1 - mix) * (a @ xs[:, :used])[:, 0]
            fs[:, slot] = f(xs[:, slot])
            rel.append((fs[:, slot] - xs[:, slot]).norm().item() /
                       (1e-5 + fs[:, slot].norm().item()))
            if rel[-1] < tol:
                break
        return xs[:, slot], rel

    lin_z, lin_x = nn.Linear(6, 6, bias=False).double(), nn.Linear(3, 6).double()
    with L.no_grad():
        lin_z.weight.mul_(0.5)
    head = nn.Linear(6, 2).double()
    x = _t(L, 5, 3, seed=2)
    target = _t(L, 5, 2, seed=3)

    def f(z, inj):
        return L.tanh(lin_z(z) + inj)

    inj = lin_x(x)
    with L.no_grad():
        z_star, fres = anderson_fixed_point(lambda z: f(z, inj), L.zeros(5, 6, dtype=L.double))
    z = f(z_star, inj)                       # one step with a graph, to reach the weights
    z_leaf = z.clone().detach().requires_grad_()
    f_at = f(z_leaf, inj)
    stored = {}

    def implicit_backward(grad):
        # the gradient g solves g = J^T g + grad, J = df/dz at the fixed point: the same
        # solver on the map v -> J^T v + grad, J^T v by autograd.grad
        def step(v):
            return L.autograd.grad(f_at, z_leaf, v, retain_graph=True)[0] + grad

        g, hist = anderson_fixed_point(step, grad)
        stored["bres"] = len(hist)
        return g

    z.register_hook(implicit_backward)
    loss = ((head(z) - target) ** 2).mean()
    loss.backward()
    return dict(z=z, fres=len(fres), bres=stored["bres"], loss=loss,
                g=[lin_z.weight.grad, lin_x.weight.grad, lin_x.bias.grad, head.weight.grad])


@program
def forward_mode_jacobian_penalty_ntk_and_model_ensembles(L):
    """Forward-mode and torch.func work on small nets.  A Jacobian-vector product is read
    from forward_ad dual numbers through a GELU/Softplus net; the same product, obtained by
    differentiating a vector-Jacobian product with respect to its dummy cotangent, becomes a
    squared-norm penalty trained by Adam.  Then the empirical tangent kernel between two
    halves of a batch, from per-example Jacobians (jacrev under vmap) contracted by einsum;
    three small nets merged by stack_module_state and run under vmap on one shared batch
    and on a batch split per model; and per-example weight gradients by vmap(grad) set
    against one backward per example."""
    nn, F = L.nn, L.nn.functional
    fw = L.autograd.forward_ad
    L.manual_seed(17)
    # (no LayerNorm here: PyTorch 2.13's third derivative of layer_norm, which the penalty's
    # gradient takes, is wrong -- finite differences side with minigrad)
    net = nn.Sequential(nn.Linear(3, 8), nn.GELU(), nn.Linear(8, 8), nn.Softplus(),
                        nn.Linear(8, 2)).double()
    x = _t(L, 6, 3, seed=1)
    tangent = _t(L, 6, 3, seed=2)
    with fw.dual_level():
        primal, dual_jvp = fw.unpack_dual(net(fw.make_dual(x, tangent)))

    def jvp_by_two_backwards(inp):
        # y = f(inp); g(c) = J^T c is linear in the cotangent c, so d<g(c), t>/dc = J t
        outp = net(inp)
        cot = L.zeros_like(outp, requires_grad=True)
        (jt_c,) = L.autograd.grad(outp, inp, cot, create_graph=True)
        (j_t,) = L.autograd.grad(jt_c, cot, tangent, create_graph=True)
        return outp, j_t

    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    penalties = []
    for _ in range(2):
        outp, j_t = jvp_by_two_backwards(x.clone().requires_grad_(True))
        penalty = j_t.pow(2).sum(1).mean()
        opt.zero_grad()
        (outp.pow(2).mean() + 0.1 * penalty).backward()
        opt.step()
        penalties.append((penalty.item(), j_t.detach()))

    frozen = {name: w.detach() for name, w in net.named_parameters()}

    def one_example(weights, row):
        return L.func.functional_call(net, weights, (row[None],))[0]

    per_example_jac = L.func.vmap(L.func.jacrev(one_example), (None, 0))
    left, right = per_example_jac(frozen, x[:3]), per_example_jac(frozen, x[3:])
    kernel = sum(L.einsum("iop,jqp->ijoq", left[k].flatten(2), right[k].flatten(2))
                 for k in left)

    members = [nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).double()
               for _ in range(3)]
    stacked_w, stacked_b = L.func.stack_module_state(members)
    template = members[0]

    def run_member(w, b, batch):
        return L.func.functional_call(template, (w, b), (batch,))

    on_shared = L.vmap(run_member, in_dims=(0, 0, None))(stacked_w, stacked_b, x)
    on_split = L.vmap(run_member)(stacked_w, stacked_b, x.view(3, 2, 3))
    one_by_one = L.stack([m(x) for m in members])

    first = members[0]
    targets = _t(L, 6, 1, seed=4)

    def example_loss(weights, row, tgt):
        return F.mse_loss(L.func.functional_call(first, weights, (row[None],)), tgt[None])

    weights0 = {name: w.detach() for name, w in first.named_parameters()}
    vmapped = L.vmap(L.func.grad(example_loss), in_dims=(None, 0, 0))(weights0, x, targets)
    by_backward = []
    for i in range(6):
        first.zero_grad()
        F.mse_loss(first(x[i:i + 1]), targets[i:i + 1]).backward()
        by_backward.append(first[0].weight.grad.clone())
    return dict(primal=primal, jvp_fwd=dual_jvp, pens=penalties, ntk=kernel,
                shared=on_shared, own=on_split, loop=one_by_one, psg=vmapped,
                looped=L.stack(by_backward))


@program
def mixture_density_network_with_mixture_same_family_and_reptile(L):
    """Bishop's mixture density network written with torch.distributions: pi logits, means
    and softplus scales from one head, MixtureSameFamily(Categorical, Independent(Normal))
    log_prob as the loss, sampling by the mixture, and the closed-form mean/variance; the
    network meta-trained by Reptile across two sine tasks (deepcopy of state_dict, inner SGD,
    the interpolation written back with load_state_dict), and fine-tuned once more."""
    import copy
    nn, F, D = L.nn, L.nn.functional, L.distributions
    L.manual_seed(18)
    K = 3

    class MDN(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(1, 12), nn.Tanh())
            self.head = nn.Linear(12, K * 3 * 1)

        def forward(self, x):
            h = self.head(self.body(x))
            logits, mu, s = h.split(K, dim=-1)
            comp = D.Independent(D.Normal(mu.unsqueeze(-1), F.softplus(s).unsqueeze(-1) + 1e-3), 1)
            return D.MixtureSameFamily(D.Categorical(logits=logits), comp)

    model = MDN().double()
    losses = []
    for it in range(2):
        start_weights = copy.deepcopy(model.state_dict())
        inner = L.optim.SGD(model.parameters(), lr=0.05)
        phase = 0.5 * it
        xs = _t(L, 10, 1, seed=it + 1)
        ys = L.sin(xs + phase) + 0.1 * _t(L, 10, 1, seed=it + 5)
        for _ in range(3):
            inner.zero_grad()
            loss = -model(xs).log_prob(ys).mean()
            loss.backward()
            inner.step()
            losses.append(loss.item())
        adapted = model.state_dict()
        # Reptile's outer step: move halfway from the start towards the adapted weights
        model.load_state_dict({name: start_weights[name] + 0.5 * (adapted[name] -
                                                                  start_weights[name])
                               for name in start_weights})
    xq = L.linspace(-1, 1, 4, dtype=L.double).unsqueeze(-1)
    mix = model(xq)
    samples = mix.sample((2,))
    lp = mix.log_prob(samples)
    return dict(losses=losses, mean=mix.mean, var=mix.variance, samples=samples, lp=lp,
                state=model.state_dict())


@program
def masked_autoregressive_flow_made_masks_batchnorm_flow_and_inverse(L):
    """A masked autoregressive flow (the layout of ikostrikov's pytorch-flows, our code): MADE
    masks built from degrees, a masked linear layer whose mask is a buffer multiplied into
    F.linear, the Gaussian MADE's u = (x - m) exp(-a) with log-det -sum(a), a batch-norm flow
    (running mean/var buffers updated in training, logdet sum(log_gamma - 0.5 log(var + eps))),
    reversing permutations, a Sequential subclass summing log-dets, log_probs from a unit
    Gaussian; SGD steps, then eval mode and the autoregressive inverse loop over dimensions."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(19)
    D_in, H = 3, 8

    def degree_mask(n_in, n_out, dims, kind=None):
        # unit j may see unit i when degree(j) >= degree(i); inputs carry degrees 0..dims-1,
        # hidden units 0..dims-2, outputs one less than the inputs they predict
        deg_in = L.arange(n_in) % (dims if kind == "input" else dims - 1)
        deg_out = L.arange(n_out) % dims - 1 if kind == "output" else \
            L.arange(n_out) % (dims - 1)
        return (deg_out.unsqueeze(-1) >= deg_in.unsqueeze(0)).float()

    class MaskedDense(nn.Module):
        def __init__(self, n_in, n_out, mask):
            super().__init__()
            self.linear = nn.Linear(n_in, n_out)
            self.register_buffer("mask", mask)

        def forward(self, x):
            return F.linear(x, self.linear.weight * self.mask, self.linear.bias)

    class GaussianMADE(nn.Module):
        """u = (x - m(x_<)) exp(-a(x_<)); the inverse fills x one dimension at a time."""

        def __init__(self):
            super().__init__()
            self.joiner = MaskedDense(D_in, H, degree_mask(D_in, H, D_in, "input"))
            self.trunk = nn.Sequential(nn.ReLU(), MaskedDense(H, H, degree_mask(H, H, D_in)),
                                       nn.ReLU(), MaskedDense(H, 2 * D_in, degree_mask(
                                           H, 2 * D_in, D_in, "output")))

        def shift_logscale(self, x):
            return self.trunk(self.joiner(x)).chunk(2, 1)

        def forward(self, x, mode="direct"):
            if mode == "direct":
                m, a = self.shift_logscale(x)
                return (x - m) * L.exp(-a), -a.sum(-1, keepdim=True)
            out = L.zeros_like(x)
            for col in range(x.shape[1]):
                m, a = self.shift_logscale(out)
                out[:, col] = x[:, col] * L.exp(a[:, col]) + m[:, col]
            return out, -a.sum(-1, keepdim=True)

    class BatchStatsFlow(nn.Module):
        """An invertible batch norm: batch statistics in training (folded into running
        buffers with the momentum), running ones otherwise; log-det sum(log_gamma - log sd)."""

        def __init__(self, n, momentum=0.0, eps=1e-5):
            super().__init__()
            self.log_gamma = nn.Parameter(L.zeros(n))
            self.beta = nn.Parameter(L.full((n,), 0.1))     # (zero: a gradient of pure rounding)
            self.momentum, self.eps = momentum, eps
            self.register_buffer("running_mean", L.zeros(n))
            self.register_buffer("running_var", L.ones(n))

        def stats(self, x):
            if not self.training:
                return self.running_mean, self.running_var
            mean = x.mean(0)
            var = (x - mean).pow(2).mean(0) + self.eps
            for buf, new in ((self.running_mean, mean), (self.running_var, var)):
                buf.mul_(self.momentum)
                buf.add_(new.data * (1 - self.momentum))
            return mean, var

        def forward(self, x, mode="direct"):
            if mode == "direct":
                mean, var = self.stats(x)
                y = L.exp(self.log_gamma) * ((x - mean) / var.sqrt()) + self.beta
                return y, (self.log_gamma - 0.5 * L.log(var)).sum(-1, keepdim=True)
            mean, var = self.running_mean, self.running_var
            y = (x - self.beta) / L.exp(self.log_gamma) * var.sqrt() + mean
            return y, (-self.log_gamma + 0.5 * L.log(var)).sum(-1, keepdim=True)

    class FlipOrder(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.order = np.array(np.arange(0, n)[::-1])
            self.undo = np.argsort(self.order)

        def forward(self, x, mode="direct"):
            cols = self.order if mode == "direct" else self.undo
            return x[:, cols], L.zeros(x.size(0), 1, dtype=x.dtype)

    class Flow(nn.Sequential):
        def forward(self, x, mode="direct"):
            total = L.zeros(x.size(0), 1, dtype=x.dtype)
            steps = list(self._modules.values())
            for step in (steps if mode == "direct" else reversed(steps)):
                x, logdet = step(x, mode)
                total += logdet
            return x, total

        def log_probs(self, x):
            u, logdet = self(x)
            base = (-0.5 * u.pow(2) - 0.5 * math.log(2 * math.pi)).sum(-1, keepdim=True)
            return (base + logdet).sum(-1, keepdim=True)

    model = Flow(GaussianMADE(), BatchStatsFlow(D_in), FlipOrder(D_in), GaussianMADE(),
                 BatchStatsFlow(D_in), FlipOrder(D_in)).double()
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.orthogonal_(module.weight)
            module.bias.data.fill_(0)
    # (SGD, not Adam: the batch-norm flow makes some MADE biases' gradients pure
    # rounding, which Adam would scale up to a full step)
    opt = L.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=1e-6)
    data = L.tensor(np.random.RandomState(5).randn(12, D_in) @ [[1, 0.5, 0], [0, 1, 0.3],
                                                                 [0, 0, 1]])
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = -model.log_probs(data).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with L.no_grad():
        u, ld = model(data[:4])
        back, _ = model(u, mode="inverse")
        lp = model.log_probs(data[:4])
    return dict(losses=losses, u=u, ld=ld, back=back, lp=lp, mask=model[0].joiner.mask,
                state=model.state_dict())


@program
def invertible_resnet_spectral_norm_power_series_log_det(L):
    """i-ResNet (Behrmann et al.): residual blocks x + g(x) with g's linear layers under
    nn.utils.spectral_norm (power iteration buffers, coefficient scaling by c / sigma), the
    log-determinant estimated by the truncated power series sum_k (-1)^(k+1)/k tr(J^k)
    with Hutchinson's v and repeated vector-Jacobian products (autograd.grad with
    create_graph), the exact log-det by jacobian + slogdet for comparison, inversion by
    fixed-point iteration; trained a step by Adam."""
    nn = L.nn
    L.manual_seed(20)

    class Block(nn.Module):
        def __init__(self, d, h, coeff=0.7):
            super().__init__()
            self.l1 = nn.utils.spectral_norm(nn.Linear(d, h), n_power_iterations=3)
            self.l2 = nn.utils.spectral_norm(nn.Linear(h, d), n_power_iterations=3)
            self.coeff = coeff

        def g(self, x):
            return self.coeff * self.l2(L.nn.functional.elu(self.coeff * self.l1(x)))

        def forward(self, x, v, n_terms=6):
            x = x.requires_grad_(True) if not x.requires_grad else x
            gx = self.g(x)
            w = v
            logdet = 0
            for k in range(1, n_terms + 1):
                w = L.autograd.grad(gx, x, w, create_graph=True)[0]
                logdet = logdet + (-1) ** (k + 1) / k * (w * v).sum(1)
            return x + gx, logdet

        def inverse(self, y, iters=40):
            x = y
            for _ in range(iters):
                x = y - self.g(x)
            return x

    blocks = nn.ModuleList([Block(2, 6), Block(2, 6)]).double()
    opt = L.optim.Adam(blocks.parameters(), lr=1e-3)
    x = _t(L, 5, 2, seed=2)
    vs = _t(L, 2, 5, 2, seed=3)
    out = []
    for step in range(2):
        z, total = x.clone(), 0
        for b, v in zip(blocks, vs):
            z, ld = b(z, v)
            total = total + ld
        lp = (-0.5 * z.pow(2)).sum(1) - math.log(2 * math.pi) + total
        loss = -lp.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append((loss.item(), total.detach()))
    blocks.eval()
    x0 = x[0]
    J = L.autograd.functional.jacobian(lambda a: a + blocks[0].g(a), x0)
    sign, exact = L.linalg.slogdet(J)
    with L.no_grad():
        y = x + blocks[0].g(x)
        back = blocks[0].inverse(y)
    return dict(out=out, sign=sign, exact=exact, back=back, err=(back - x).abs().max(),
                sigma=blocks[0].l1.weight_u, state=blocks.state_dict())


@program
def neural_ode_adjoint_method_by_hand_with_rk4(L):
    """The adjoint sensitivity method written out by hand: a fixed-grid RK4 integrator over
    lists of tensors, the forward solve under no_grad, then a backward solve of the joint
    state (z, dL/dz, dL/dtheta), whose right-hand side takes one vector-Jacobian product
    autograd.grad(f(z, t), (z, *params), grad_outputs=adjoint, allow_unused=True) and
    fills an unused layer's gradients with zeros; the parameter gradients are set as .grad,
    and flattened by torch.cat they are compared with backpropagation through the solver."""
    nn = L.nn
    L.manual_seed(21)

    class TimeConditionedField(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(3, 8)
            self.l2 = nn.Linear(8, 2)
            self.unused = nn.Linear(2, 2)

        def forward(self, z, t):
            with_time = L.cat([z, t.expand(z.shape[0], 1)], 1)
            return self.l2(L.tanh(self.l1(with_time)))

    field = TimeConditionedField().double()
    params = list(field.parameters())
    grid = L.linspace(0, 1, 6, dtype=L.double)

    def axpy(state, slope, step):
        return [s + step * d for s, d in zip(state, slope)]

    def rk4_span(rhs, state, t_from, t_to, substeps=2):
        h = (t_to - t_from) / substeps
        t = t_from
        for _ in range(substeps):
            s1 = rhs(state, t)
            s2 = rhs(axpy(state, s1, h / 2), t + h / 2)
            s3 = rhs(axpy(state, s2, h / 2), t + h / 2)
            s4 = rhs(axpy(state, s3, h), t + h)
            state = [s + h / 6 * (a + 2 * b + 2 * c + d)
                     for s, a, b, c, d in zip(state, s1, s2, s3, s4)]
            t = t + h
        return state

    def plain_rhs(state, t):
        return [field(state[0], t)]

    z0 = _t(L, 4, 2, seed=1)
    target = _t(L, 4, 2, seed=2)
    # reference: differentiate through every RK4 stage
    z = [z0]
    for k in range(5):
        z = rk4_span(plain_rhs, z, grid[k], grid[k + 1])
    direct = ((z[0] - target) ** 2).sum()
    direct_grads = L.autograd.grad(direct, params, allow_unused=True, materialize_grads=True)
    # adjoint: solve forward without a graph, then integrate the joint state back in time
    with L.no_grad():
        trajectory = [z0]
        for k in range(5):
            trajectory.append(rk4_span(plain_rhs, [trajectory[-1]], grid[k], grid[k + 1])[0])
    z_end = trajectory[-1]
    adjoint_end = 2 * (z_end - target)

    def joint_rhs(state, t):
        z_now, adjoint = state[0], state[1]
        with L.enable_grad():
            z_now = z_now.detach().requires_grad_(True)
            dz = field(z_now, t)
            vjps = L.autograd.grad(dz, (z_now, *params), grad_outputs=adjoint,
                                   allow_unused=True)
        vjps = [L.zeros_like(w) if v is None else v for w, v in zip((z_now, *params), vjps)]
        return [dz.detach()] + [-v for v in vjps]

    with L.no_grad():
        joint = [z_end, adjoint_end] + [L.zeros_like(w) for w in params]
        for k in range(5, 0, -1):
            joint = rk4_span(joint_rhs, joint, grid[k], grid[k - 1])
    for w, g in zip(params, joint[2:]):
        w.grad = g.clone()
    flat_adj = L.cat([w.grad.flatten() for w in params])
    flat_direct = L.cat([g.flatten() for g in direct_grads])
    return dict(zT=z_end, z0_back=joint[0], a0=joint[1], direct=direct, flat_adj=flat_adj,
                flat_direct=flat_direct, gap=(flat_adj - flat_direct).abs().max())


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None


@pytest.mark.parametrize("make", [
    lambda D: D.Normal(0.1, math.exp(-6)), lambda D: D.Normal(0.0, 0.37),
    lambda D: D.Laplace(0.1, 0.37), lambda D: D.Gamma(1.3, 1.7), lambda D: D.Chi2(2.3),
    lambda D: D.HalfCauchy(0.37)], ids=["normal_tiny", "normal", "laplace", "gamma", "chi2",
                                        "half_cauchy"])
def test_float_parameters_scoring_float64_values_round_as_torch(make):
    """A distribution made from Python floats holds float32 parameters; scoring float64
    values, PyTorch rounds the parameters' own terms (scale^2, log(2 scale)) in float32, and
    Gamma and HalfCauchy cast the value to float32 first (a float32 result)."""
    import minigrad
    vals = np.array([0.3, 0.71, 1.9, 0.05, 1e-3])
    out = {}
    for L in (minigrad, torch):
        v = L.tensor(vals, requires_grad=True)
        lp = make(L.distributions).log_prob(v)
        lp.sum().backward()
        out[L.__name__] = (str(lp.dtype).split(".")[-1], lp.detach().numpy(), v.grad.numpy())
    mine, theirs = out["minigrad"], out["torch"]
    assert mine[0] == theirs[0]
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-13, atol=0)
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-13, atol=0)
