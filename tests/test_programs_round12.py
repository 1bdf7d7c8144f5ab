"""Whole programs in the idioms of code people run, a twelfth round: scientific machine
learning and structured data as their public repositories write it.  Physics-informed nets
(Burgers' residual by autograd.grad with create_graph, a Poisson Laplacian summed over input
dimensions with a hard boundary constraint), neural ODEs through a hand-written RK4 (a
time-dependent field fitted to a trajectory; a continuous normalising flow carrying the exact
divergence), normalising flows (RealNVP with alternating masks over a MultivariateNormal prior,
NICE's additive coupling under a logistic prior made by TransformedDistribution), graph nets
(GCN on a torch.sparse adjacency, GraphSAGE mean aggregation by scatter_reduce with negative
sampling, GATv2's segment softmax), PointNet++'s farthest point sampling and ball query,
WaveNet on mu-law one-hot audio, an STFT log-mel classifier, packed LSTM forecasting, a
recommender of EmbeddingBag sums with per-sample weights and a factorisation machine, and
Gaussian-process regression by Cholesky.  Part b holds the training machinery of the round.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed``, which gives PyTorch's numbers in minigrad);
both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes, shapes and
requires_grad, or raise the same exception type with torch's words.
"""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, labels as _labels, normal64 as _arr, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


def _uniform(L, low, high, shape, seed, grad=False):
    return L.tensor(np.random.RandomState(seed).uniform(low, high, shape), requires_grad=grad)


# ----------------------------------------------------------------------------------------------
# physics-informed networks
# ----------------------------------------------------------------------------------------------
@program
def pinn_burgers_residual_by_autograd_grad_with_create_graph(L):
    """Raissi's Burgers PINN: u(x, t) by a tanh MLP on cat([x, t]); u_t, u_x and u_xx by
    torch.autograd.grad with grad_outputs=ones_like and create_graph=True; the residual
    u_t + u u_x - nu u_xx joins initial and boundary MSE losses; Adam steps backpropagate
    through the second derivatives (and into the collocation points' .grad)."""
    nn = L.nn

    class PhysicsInformedNN(nn.Module):
        def __init__(self, layers):
            super().__init__()
            self.linears = nn.ModuleList(
                [nn.Linear(layers[i], layers[i + 1]) for i in range(len(layers) - 1)])
            for lin in self.linears:
                nn.init.xavier_normal_(lin.weight, gain=1.0)
                nn.init.zeros_(lin.bias)

        def forward(self, x, t):
            a = L.cat([x, t], dim=1)
            for lin in self.linears[:-1]:
                a = L.tanh(lin(a))
            return self.linears[-1](a)

    L.manual_seed(0)
    model = PhysicsInformedNN([2, 12, 12, 1]).double()
    x_f = _uniform(L, -1, 1, (24, 1), 1, grad=True)
    t_f = _uniform(L, 0, 1, (24, 1), 2, grad=True)
    x0 = L.linspace(-1, 1, 10, dtype=L.float64).unsqueeze(1)
    t0 = L.zeros_like(x0)
    u0 = -L.sin(math.pi * x0)
    tb = _uniform(L, 0, 1, (8, 1), 3)
    xb = L.tensor([[-1.0], [1.0]], dtype=L.float64).repeat(4, 1)
    nu = 0.01 / math.pi
    mse = nn.MSELoss()

    def net_f(x, t):
        u = model(x, t)
        u_t = L.autograd.grad(u, t, grad_outputs=L.ones_like(u), retain_graph=True,
                              create_graph=True)[0]
        u_x = L.autograd.grad(u, x, grad_outputs=L.ones_like(u), retain_graph=True,
                              create_graph=True)[0]
        u_xx = L.autograd.grad(u_x, x, grad_outputs=L.ones_like(u_x), retain_graph=True,
                               create_graph=True)[0]
        return u_t + u * u_x - nu * u_xx, u_xx

    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        f, u_xx = net_f(x_f, t_f)
        loss = mse(model(x0, t0), u0) + mse(model(xb, tb), L.zeros_like(tb)) + \
            mse(f, L.zeros_like(f))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, u_xx=u_xx, g=grads_of(model), xg=x_f.grad, tg=t_f.grad,
                gf=f.grad_fn is not None)


@program
def pinn_poisson_laplacian_summed_over_dimensions_with_hard_boundary(L):
    """A 2-d Poisson problem -lap u = f on the unit square: the Laplacian by a loop over input
    dimensions of grad(du[:, i].sum(), X, create_graph=True)[0][:, i]; the boundary enforced
    exactly by u = x(1-x)y(1-y) N(X); SiLU layers; two Adam steps and a relative L2 error
    under no_grad against the exact solution sin(pi x) sin(pi y)."""
    nn = L.nn
    L.manual_seed(1)
    net = nn.Sequential(nn.Linear(2, 10), nn.SiLU(), nn.Linear(10, 10), nn.SiLU(),
                        nn.Linear(10, 1)).double()

    def u_of(X):
        x, y = X[:, 0:1], X[:, 1:2]
        return x * (1 - x) * y * (1 - y) * net(X)

    def laplacian(u, X):
        du = L.autograd.grad(u.sum(), X, create_graph=True)[0]
        lap = L.zeros_like(u.squeeze(-1))
        for i in range(X.shape[1]):
            lap = lap + L.autograd.grad(du[:, i].sum(), X, create_graph=True)[0][:, i]
        return lap

    X = _uniform(L, 0, 1, (20, 2), 4).requires_grad_(True)
    f = 2 * math.pi ** 2 * L.sin(math.pi * X[:, 0]) * L.sin(math.pi * X[:, 1])
    f = f.detach()
    opt = L.optim.Adam(net.parameters(), lr=5e-3)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        u = u_of(X)
        res = -laplacian(u, X) - f
        loss = (res ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    Xt = _uniform(L, 0, 1, (15, 2), 5)
    with L.no_grad():
        exact = L.sin(math.pi * Xt[:, 0]) * L.sin(math.pi * Xt[:, 1])
        pred = u_of(Xt).squeeze(-1)
        rel = L.linalg.norm(pred - exact) / L.linalg.norm(exact)
    return dict(losses=losses, rel=rel, g=grads_of(net), xg=X.grad, pred=pred)


@program
def pinn_in_torch_func_laplacian_by_vmapped_hessian_trace(L):
    """The functorch way of writing a PINN: u(params, x) by functional_call on one point,
    the Laplacian as torch.trace of hessian(u, argnums=1) vmapped over the collocation
    points (checked against the trace of jacrev(jacrev(...))), the gradient in x by
    vmap(grad(u, argnums=1)), and the parameters' gradient of the residual loss by
    torch.func.grad, applied by hand as an SGD step on the detached parameter dict."""
    nn, fn = L.nn, L.func
    L.manual_seed(15)
    model = nn.Sequential(nn.Linear(2, 10), nn.Tanh(), nn.Linear(10, 10), nn.SiLU(),
                          nn.Linear(10, 1)).double()
    params = {k: v.detach() for k, v in model.named_parameters()}

    def u(p, x):
        return fn.functional_call(model, p, (x.unsqueeze(0),)).squeeze()

    X = L.tensor(np.random.RandomState(28).uniform(0, 1, (8, 2)))
    f = -2 * math.pi ** 2 * L.sin(math.pi * X[:, 0]) * L.sin(math.pi * X[:, 1])

    def laplacian(p, x):
        return L.trace(fn.hessian(u, argnums=1)(p, x))

    def loss_fn(p):
        lap = fn.vmap(laplacian, in_dims=(None, 0))(p, X)
        return ((lap - f) ** 2).mean()

    losses = []
    with warnings.catch_warnings():
        # (torch's forward-mode pass in hessian scripts a helper, which warns that
        # torch.jit.script is deprecated: torch's internals, not the program's)
        warnings.simplefilter("ignore", DeprecationWarning)
        for _ in range(2):
            loss, grads = loss_fn(params), fn.grad(loss_fn)(params)
            params = {k: v - 1e-3 * grads[k] for k, v in params.items()}
            losses.append(loss.item())
        lap = fn.vmap(laplacian, in_dims=(None, 0))(params, X)
    lap2 = fn.vmap(lambda x: L.trace(fn.jacrev(fn.jacrev(u, argnums=1), argnums=1)(params, x)))(X)
    du = fn.vmap(fn.grad(u, argnums=1), in_dims=(None, 0))(params, X)
    return dict(losses=losses, lap=lap, same=L.allclose(lap, lap2), du=du, grads=grads)


# ----------------------------------------------------------------------------------------------
# neural ODEs
# ----------------------------------------------------------------------------------------------
def _rk4_step(func, t, dt, y):
    k1 = func(t, y)
    k2 = func(t + dt / 2, y + dt * k1 / 2)
    k3 = func(t + dt / 2, y + dt * k2 / 2)
    k4 = func(t + dt, y + dt * k3)
    return y + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6


@program
def neural_ode_time_dependent_field_fitted_by_rk4_through_the_solver(L):
    """The torchdiffeq demo without the library: an ODEFunc whose input is cat([y, t
    expanded]), y**3 features as in the spiral example, odeint by fixed-step RK4 over a
    linspace grid with torch.stack of the states, a batch of initial points gathered by
    np.random.choice indices, L1 trajectory loss, RMSprop steps backpropagated through every
    solver stage."""
    nn = L.nn

    class ODEFunc(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))
            for m in self.net.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, mean=0, std=0.1)
                    nn.init.constant_(m.bias, val=0)
            self.nfe = 0

        def forward(self, t, y):
            self.nfe += 1
            tt = L.ones_like(y[..., :1]) * t
            return self.net(L.cat([y ** 3, tt], dim=-1))

    def odeint(func, y0, t):
        ys = [y0]
        y = y0
        for i in range(len(t) - 1):
            y = _rk4_step(func, t[i], t[i + 1] - t[i], y)
            ys.append(y)
        return L.stack(ys)

    true_A = L.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=L.float64)
    t = L.linspace(0.0, 1.0, 6, dtype=L.float64)
    with L.no_grad():
        true_y = odeint(lambda t, y: L.mm(y ** 3, true_A), L.tensor([[2.0, 0.0]],
                        dtype=L.float64), t)
    rng = np.random.RandomState(6)
    s = L.from_numpy(rng.choice(np.arange(4, dtype=np.int64), 3, replace=False))
    batch_y0 = true_y[s]
    batch_t = t[:3]
    batch_y = L.stack([true_y[s + i] for i in range(3)], dim=0)

    L.manual_seed(2)
    func = ODEFunc().double()
    opt = L.optim.RMSprop(func.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        pred_y = odeint(func, batch_y0, batch_t)
        loss = L.mean(L.abs(pred_y - batch_y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, true_y=true_y, pred=pred_y, nfe=func.nfe, g=grads_of(func))


@program
def continuous_normalising_flow_with_exact_divergence_by_autograd(L):
    """FFJORD's exact-trace CNF in two dimensions: a hypernet-free field f(t, z) by a small
    MLP with softplus; the augmented state [z, -logp] integrated by RK4 from t1 back to t0
    with the divergence sum_i d f_i / d z_i from autograd.grad(create_graph=True); the log
    likelihood logp(z0) under a standard Normal minus the integrated trace; Adam on the
    negative log-likelihood."""
    nn, F = L.nn, L.nn.functional

    class CNF(nn.Module):
        def __init__(self, hidden=12):
            super().__init__()
            self.l1 = nn.Linear(3, hidden)
            self.l2 = nn.Linear(hidden, 2)

        def forward(self, t, state):
            z, _ = state
            with L.set_grad_enabled(True):
                if not z.requires_grad:
                    z.requires_grad_(True)
                h = F.softplus(self.l1(L.cat([z, t.expand(z.shape[0], 1)], 1)))
                dz = self.l2(h)
                div = 0.0
                for i in range(z.shape[1]):
                    div = div + L.autograd.grad(dz[:, i].sum(), z, create_graph=True)[0][:, i]
            return dz, -div.view(-1, 1)

    L.manual_seed(3)
    cnf = CNF().double()
    x = _t(L, 16, 2, scale=0.7, seed=7)
    ts = L.tensor([1.0, 0.5, 0.0], dtype=L.float64)
    base = L.distributions.Normal(L.tensor(0.0, dtype=L.float64),
                                  L.tensor(1.0, dtype=L.float64))
    opt = L.optim.Adam(cnf.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        z, dlogp = x.clone(), L.zeros(16, 1, dtype=L.float64)
        for i in range(len(ts) - 1):
            dt = ts[i + 1] - ts[i]
            t0 = ts[i].view(1, 1)

            def f(t, s):
                return cnf(t, s)

            k1 = f(t0, (z, dlogp))
            k2 = f(t0 + dt / 2, (z + dt * k1[0] / 2, None))
            k3 = f(t0 + dt / 2, (z + dt * k2[0] / 2, None))
            k4 = f(t0 + dt, (z + dt * k3[0], None))
            z = z + dt * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]) / 6
            dlogp = dlogp + dt * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]) / 6
        logp_z0 = base.log_prob(z).sum(1, keepdim=True)
        logp_x = logp_z0 - dlogp
        loss = -logp_x.mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, z=z, dlogp=dlogp, g=grads_of(cnf))


# ----------------------------------------------------------------------------------------------
# normalising flows
# ----------------------------------------------------------------------------------------------
@program
def realnvp_alternating_masks_over_a_multivariate_normal_prior(L):
    """RealNVP on 2-d data: affine couplings with their masks in a Parameter that does not
    require grad, the scale by a tanh-ended MLP and the shift by a leaky-ReLU one, the
    x -> z direction subtracting s.sum(dim=1) from the log-determinant in place, log_prob by
    prior.log_prob(z) + logdet; the prior a MultivariateNormal(zeros(2), eye(2));
    sampling by prior.sample((n,)) under a seed and the inverse g(z); Adam on -log_prob."""
    nn = L.nn
    dist = L.distributions

    class MaskedAffineFlow(nn.Module):
        """x -> z through couplings that each keep the masked coordinates and scale and shift
        the others by functions of the kept ones; z ~ prior.  The masks sit in a Parameter
        that does not require grad."""

        def __init__(self, make_scale, make_shift, masks, prior):
            super().__init__()
            self.prior = prior
            self.masks = nn.Parameter(masks, requires_grad=False)
            self.shift = nn.ModuleList([make_shift() for _ in range(len(masks))])
            self.scale = nn.ModuleList([make_scale() for _ in range(len(masks))])

        def _scale_shift(self, i, kept):
            free = 1 - self.masks[i]
            return self.scale[i](kept) * free, self.shift[i](kept) * free, free

        def generate(self, z):
            """z -> x, the couplings in order."""
            x = z
            for i in range(len(self.masks)):
                kept = x * self.masks[i]
                s, t, free = self._scale_shift(i, kept)
                x = kept + free * (x * L.exp(s) + t)
            return x

        def encode(self, x):
            """x -> z, the couplings in reverse, with log|det dz/dx|."""
            z, logdet = x, x.new_zeros(x.shape[0])
            for i in reversed(range(len(self.masks))):
                kept = self.masks[i] * z
                s, t, free = self._scale_shift(i, kept)
                z = free * (z - t) * L.exp(-s) + kept
                logdet -= s.sum(dim=1)
            return z, logdet

        def log_prob(self, x):
            z, logdet = self.encode(x)
            return self.prior.log_prob(z) + logdet

        def sample(self, n):
            return self.generate(self.prior.sample((n,)))

    def make_scale():
        return nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(), nn.Linear(16, 2), nn.Tanh())

    def make_shift():
        return nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(), nn.Linear(16, 2))

    L.set_default_dtype(L.float64)
    masks = L.from_numpy(np.array([[0, 1], [1, 0]] * 2).astype(np.float64))
    prior = dist.MultivariateNormal(L.zeros(2), L.eye(2))
    L.manual_seed(4)
    flow = MaskedAffineFlow(make_scale, make_shift, masks, prior)
    x = _t(L, 32, 2, seed=8) * L.tensor([1.0, 0.4]) + L.tensor([0.5, -0.2])
    opt = L.optim.Adam([p for p in flow.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(3):
        loss = -flow.log_prob(x).mean()
        opt.zero_grad()
        loss.backward(retain_graph=True)
        opt.step()
        losses.append(loss.item())
    z, ld = flow.encode(x)
    back = flow.generate(z)
    L.manual_seed(5)
    samples = flow.sample(6)
    ind = dist.Independent(dist.Normal(L.zeros(2), L.ones(2)), 1)
    return dict(losses=losses, back_err=(back - x).abs().max(), ld=ld, samples=samples,
                mask_grad=flow.masks.grad, n_params=len(list(flow.parameters())),
                same=L.allclose(ind.log_prob(z), prior.log_prob(z)),
                keys=[k for k in flow.state_dict()], g=grads_of(flow))


@program
def nice_additive_coupling_with_scaling_and_a_logistic_prior(L):
    """NICE: additive coupling layers on even/odd halves picked by reshape(-1, D//2, 2), a
    diagonal scaling layer exp(s) whose log-determinant is s.sum(), and the logistic prior
    built as TransformedDistribution(Uniform(0, 1), [SigmoidTransform().inv,
    AffineTransform(loc=0., scale=1.)]); log-likelihood summed over dimensions, Adam with
    betas and eps as in the paper, and the exact inverse."""
    nn = L.nn
    dist = L.distributions
    T = dist.transforms

    class AdditiveCoupling(nn.Module):
        """The features taken as interleaved pairs (a reshape to (B, D/2, 2)): one member of
        every pair passes unchanged and shifts the other by an MLP of it; ``parity`` picks
        which member moves."""

        def __init__(self, dim, width, depth, parity):
            super().__init__()
            self.parity = parity
            self.first = nn.Sequential(nn.Linear(dim // 2, width), nn.ReLU())
            self.middle = nn.ModuleList([nn.Sequential(nn.Linear(width, width), nn.ReLU())
                                         for _ in range(depth - 1)])
            self.last = nn.Linear(width, dim // 2)

        def shift_of(self, fixed):
            h = self.first(fixed)
            for layer in self.middle:
                h = layer(h)
            return self.last(h)

        def forward(self, x, inverse=False):
            n, d = x.size()
            pairs = x.reshape((n, d // 2, 2))
            col = 0 if self.parity else 1
            moved, fixed = pairs[:, :, col], pairs[:, :, 1 - col]
            shift = self.shift_of(fixed)
            moved = moved - shift if inverse else moved + shift
            cols = (moved, fixed) if self.parity else (fixed, moved)
            return L.stack(cols, dim=2).reshape((n, d))

    class DiagonalScale(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.log_scale = nn.Parameter(L.zeros((1, dim)), requires_grad=True)

        def forward(self, x, inverse=False):
            factor = L.exp(-self.log_scale) if inverse else L.exp(self.log_scale)
            return x * factor, L.sum(self.log_scale)

    class AdditiveFlow(nn.Module):
        def __init__(self, prior, n_layers, dim, width, depth, first_parity):
            super().__init__()
            self.prior = prior
            self.layers = nn.ModuleList([AdditiveCoupling(dim, width, depth,
                                                          (first_parity + i) % 2)
                                         for i in range(n_layers)])
            self.scale = DiagonalScale(dim)

        def to_latent(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.scale(x)

        def to_data(self, z):
            x = self.scale(z, inverse=True)[0]
            for layer in reversed(self.layers):
                x = layer(x, inverse=True)
            return x

        def log_prob(self, x):
            z, logdet = self.to_latent(x)
            return L.sum(self.prior.log_prob(z), dim=1) + logdet

    L.set_default_dtype(L.float64)
    prior = dist.TransformedDistribution(
        dist.Uniform(L.tensor(0.0), L.tensor(1.0)),
        [T.SigmoidTransform().inv, T.AffineTransform(loc=0.0, scale=1.0)])
    L.manual_seed(6)
    flow = AdditiveFlow(prior, n_layers=4, dim=6, width=10, depth=2, first_parity=1)
    x = _t(L, 12, 6, scale=0.5, seed=9)
    opt = L.optim.Adam(flow.parameters(), lr=1e-3, betas=(0.9, 0.01), eps=1e-4)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = -flow.log_prob(x).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    z, ld = flow.to_latent(x)
    return dict(losses=losses, inv_err=(flow.to_data(z) - x).abs().max(), ld=ld,
                lp=prior.log_prob(L.tensor([[-1.0, 0.0, 2.5]])), g=grads_of(flow))


# ----------------------------------------------------------------------------------------------
# graph networks
# ----------------------------------------------------------------------------------------------
def _edges(n, m, seed):
    rng = np.random.RandomState(seed)
    src = rng.randint(0, n, m)
    dst = (src + rng.randint(1, n, m)) % n
    return np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])])


@program
def kipf_gcn_on_a_sparse_normalised_adjacency_with_masks(L):
    """A two-layer GCN in the setting of Kipf's pygcn (our code): the adjacency as a
    sparse_coo_tensor of ones plus the identity, made symmetric by coalesce, row degrees by
    torch.sparse.sum(...).to_dense(), D^-1/2 A D^-1/2 rebuilt from the indices and values; graph
    convolutions as torch.spmm(adj, input @ W) + b with uniform_(-stdv, stdv) init; dropout
    under the seed, log_softmax and nll_loss on the train mask, accuracy on the test mask in
    eval under no_grad; edge multiplicities by the product of the raw (uncoalesced) and
    coalesced sparse tensors."""
    nn, F = L.nn, L.nn.functional

    class PropagateDense(nn.Module):
        """adj @ (x W) + b with W and b uniform in +-1/sqrt(out), the adjacency sparse."""

        def __init__(self, n_in, n_out):
            super().__init__()
            bound = 1.0 / math.sqrt(n_out)
            self.weight = nn.Parameter(L.empty(n_in, n_out))
            self.bias = nn.Parameter(L.empty(n_out))
            for p in (self.weight, self.bias):
                p.data.uniform_(-bound, bound)

        def forward(self, x, adj):
            return L.spmm(adj, L.mm(x, self.weight)) + self.bias

    class TwoLayerGCN(nn.Module):
        def __init__(self, n_in, hidden, classes, p_drop):
            super().__init__()
            self.layers = nn.ModuleList([PropagateDense(n_in, hidden),
                                         PropagateDense(hidden, classes)])
            self.p_drop = p_drop

        def forward(self, x, adj):
            h = F.dropout(F.relu(self.layers[0](x, adj)), self.p_drop, training=self.training)
            return F.log_softmax(self.layers[1](h, adj), dim=1)

    n = 12
    ei = L.from_numpy(_edges(n, 14, 10))
    loops = L.arange(n).repeat(2, 1)
    idx = L.cat([ei, loops], 1)
    raw = L.sparse_coo_tensor(idx, L.ones(idx.shape[1], dtype=L.float64), (n, n))
    adj = raw.coalesce()
    adj = L.sparse_coo_tensor(adj.indices(), L.ones_like(adj.values()), (n, n)).coalesce()
    multi = raw * adj                     # edge multiplicities (uncoalesced * coalesced)
    deg = L.sparse.sum(adj, dim=1).to_dense()
    d = deg.pow(-0.5)
    r, c = adj.indices()
    adj_n = L.sparse_coo_tensor(adj.indices(), d[r] * adj.values() * d[c], (n, n))
    feats = _t(L, n, 5, seed=11)
    labels = L.from_numpy(_labels(n, 3, 12))
    idx_train, idx_test = L.arange(0, 8), L.arange(8, n)
    L.manual_seed(7)
    model = TwoLayerGCN(5, 8, 3, 0.5).double()
    opt = L.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    losses = []
    for _ in range(3):
        model.train()
        opt.zero_grad()
        output = model(feats, adj_n)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        loss_train.backward()
        opt.step()
        losses.append(loss_train.item())
    model.eval()
    with L.no_grad():
        output = model(feats, adj_n)
        preds = output[idx_test].max(1)[1].type_as(labels)
        acc = preds.eq(labels[idx_test]).double().sum() / len(idx_test)
    return dict(losses=losses, deg=deg, vals=adj_n.coalesce().values(), out=output, acc=acc,
                nnz=adj._nnz(), multi=multi.to_dense(), multi_c=multi.is_coalesced(),
                g=grads_of(model))


@program
def pygcn_legacy_constructors_sparse_float_tensor_and_spmm(L):
    """pygcn's utils as written in 2017 and still run: a scipy-free COO built from numpy
    row/col arrays, row-normalised D^-1 (A + I) (an isolated node's infinite inverse degree
    set to 0), torch.from_numpy(np.vstack((row, col)).astype(np.int64)), torch.sparse.FloatTensor of
    indices, values and torch.Size, torch.LongTensor index lists and torch.FloatTensor
    features, then torch.spmm inside the layer and a float32 training step."""
    nn, F = L.nn, L.nn.functional
    n = 7
    ei = _edges(n, 8, 29)
    A = np.zeros((n, n), dtype=np.float32)
    A[ei[0], ei[1]] = 1.0
    A = A + np.eye(n, dtype=np.float32)
    with np.errstate(divide="ignore"):
        inverse_degree = 1.0 / A.sum(1)
    A = A * np.where(np.isinf(inverse_degree), 0.0, inverse_degree)[:, None].astype(np.float32)
    row, col = np.nonzero(A)
    indices = L.from_numpy(np.vstack((row, col)).astype(np.int64))
    values = L.from_numpy(A[row, col].astype(np.float32))
    adj = L.sparse.FloatTensor(indices, values, L.Size([n, n]))
    features = L.FloatTensor(np.random.RandomState(30).randn(n, 4).astype(np.float32))
    labels = L.LongTensor(_labels(n, 2, 31))
    idx_train = L.LongTensor(range(5))
    L.manual_seed(16)
    W1 = nn.Parameter(L.FloatTensor(4, 6).uniform_(-0.4, 0.4))
    W2 = nn.Parameter(L.FloatTensor(6, 2).uniform_(-0.4, 0.4))
    opt = L.optim.Adam([W1, W2], lr=0.01, weight_decay=5e-4)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        h = F.relu(L.spmm(adj, L.mm(features, W1)))
        out = F.log_softmax(L.spmm(adj, L.mm(h, W2)), dim=1)
        loss = F.nll_loss(out[idx_train], labels[idx_train])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=L.tensor(losses), out=out, dense=adj.to_dense(), is_sparse=adj.is_sparse,
                dtype=adj.dtype, g1=W1.grad)


@program
def graphsage_mean_aggregation_and_link_prediction_with_negative_sampling(L):
    """GraphSAGE as people write it without PyG: neighbour means by scatter_reduce('mean',
    include_self=False) into a zeros tensor, the root and neighbour linears concatenated,
    F.normalize of the embeddings; link prediction with negative edges drawn by torch.randint
    under a seed, dot-product scores and binary_cross_entropy_with_logits on cat of ones and
    zeros labels; roc-style ranking by argsort in eval."""
    nn, F = L.nn, L.nn.functional

    class SAGEConv(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.lin_l = nn.Linear(cin, cout)
            self.lin_r = nn.Linear(cin, cout, bias=False)

        def forward(self, x, edge_index):
            src, dst = edge_index
            index = dst.unsqueeze(-1).expand(-1, x.size(1))
            agg = L.zeros(x.size(0), x.size(1), dtype=x.dtype).scatter_reduce(
                0, index, x[src], reduce="mean", include_self=False)
            return self.lin_l(agg) + self.lin_r(x)

    class SAGE(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList([SAGEConv(6, 8), SAGEConv(8, 8)])

        def forward(self, x, ei):
            for i, conv in enumerate(self.convs):
                x = conv(x, ei)
                if i < len(self.convs) - 1:
                    x = x.relu()
            return F.normalize(x, p=2, dim=-1)

    n = 10
    ei = L.from_numpy(_edges(n, 12, 13))
    x = _t(L, n, 6, seed=14)
    L.manual_seed(8)
    model = SAGE().double()
    opt = L.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        z = model(x, ei)
        neg = L.randint(0, n, (2, ei.size(1)), dtype=L.long)       # random non-edges
        pairs = L.cat([ei, neg], dim=-1)
        is_edge = L.cat([L.ones(ei.size(1)), L.zeros(neg.size(1))]).double()
        score = (z[pairs[0]] * z[pairs[1]]).sum(dim=-1)
        loss = F.binary_cross_entropy_with_logits(score, is_edge)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with L.no_grad():
        z = model(x, ei)
        scores = (z[pairs[0]] * z[pairs[1]]).sum(-1).sigmoid()
        order = scores.argsort(descending=True, stable=True)
    return dict(losses=losses, neg=neg, z=z, order=order, g=grads_of(model))


@program
def gatv2_segment_softmax_by_gather_of_scatter_amax(L):
    """GATv2 (attention after the nonlinearity): per-edge scores a^T leaky_relu(W x_i + W
    x_j) for H heads, a segment softmax over incoming edges by scatter_reduce('amax') into
    -inf, gather of the maxima by index_select, exp, a denominator by index_add_ and a
    +1e-16 guard; attention dropout under the seed, messages weighted and summed by
    index_add_, heads concatenated then averaged in the last layer; an isolated node."""
    nn, F = L.nn, L.nn.functional

    def softmax(src, index, num_nodes):
        H = src.size(1)
        mx = L.full((num_nodes, H), float("-inf"), dtype=src.dtype)
        mx = mx.scatter_reduce(0, index.view(-1, 1).expand(-1, H), src, reduce="amax",
                               include_self=True)
        out = (src - mx.index_select(0, index)).exp()
        den = L.zeros((num_nodes, H), dtype=src.dtype).index_add_(0, index, out)
        return out / (den.index_select(0, index) + 1e-16)

    class GATv2Conv(nn.Module):
        def __init__(self, cin, cout, heads, concat=True, dropout=0.0):
            super().__init__()
            self.H, self.C, self.concat, self.dropout = heads, cout, concat, dropout
            self.lin_l = nn.Linear(cin, heads * cout)
            self.lin_r = nn.Linear(cin, heads * cout)
            self.att = nn.Parameter(L.empty(1, heads, cout))
            nn.init.xavier_uniform_(self.att)
            self.bias = nn.Parameter(L.zeros(heads * cout if concat else cout))

        def forward(self, x, edge_index):
            N = x.size(0)
            xl = self.lin_l(x).view(-1, self.H, self.C)
            xr = self.lin_r(x).view(-1, self.H, self.C)
            j, i = edge_index
            e = F.leaky_relu(xl[j] + xr[i], 0.2)
            alpha = (e * self.att).sum(-1)
            alpha = softmax(alpha, i, N)
            alpha = F.dropout(alpha, p=self.dropout, training=self.training)
            msg = xl[j] * alpha.unsqueeze(-1)
            out = L.zeros(N, self.H, self.C, dtype=x.dtype).index_add_(0, i, msg)
            out = out.view(-1, self.H * self.C) if self.concat else out.mean(dim=1)
            return out + self.bias, alpha

    n = 9
    ei = _edges(n - 1, 10, 15)        # node n-1 has no edges
    loops = np.arange(n - 1)
    ei = L.from_numpy(np.concatenate([ei, np.stack([loops, loops])], 1))
    x = _t(L, n, 4, seed=16)
    y = L.from_numpy(_labels(n, 3, 17))
    L.manual_seed(9)
    c1 = GATv2Conv(4, 5, heads=3, dropout=0.3).double()
    c2 = GATv2Conv(15, 3, heads=2, concat=False).double()
    opt = L.optim.Adam(list(c1.parameters()) + list(c2.parameters()), lr=0.005,
                       weight_decay=5e-4)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        h, a1 = c1(F.dropout(x, 0.2, training=True), ei)
        out, a2 = c2(F.elu(h), ei)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, a1=a1, a2=a2, out=out, g1=grads_of(c1), g2=grads_of(c2))


# ----------------------------------------------------------------------------------------------
# point clouds
# ----------------------------------------------------------------------------------------------
@program
def pointnet2_farthest_point_sampling_ball_query_and_grouping(L):
    """PointNet++'s sampling and grouping in plain tensor code: farthest-point sampling by a
    loop keeping each point's distance to the chosen set (masked writes, argmax through
    max, a seeded randint start), squared distances by -2 matmul plus the squared norms,
    ball query by setting the out-of-radius indices to N, sorting and replacing the N's by
    the first neighbour, batched gathers through an arange index view-and-repeated to the
    index's shape; a set-abstraction MLP of Conv2d-BatchNorm-ReLU and a max over the
    neighbours, then a kNN interpolation by cdist and topk(largest=False) with
    inverse-distance weights."""
    nn, F = L.nn, L.nn.functional

    def pairwise_sq_dist(a, b):
        """|a_i - b_j|^2 for (B, N, 3) and (B, M, 3) point sets."""
        nb, n, m = a.shape[0], a.shape[1], b.shape[1]
        out = -2 * L.matmul(a, b.permute(0, 2, 1))
        out += L.sum(a ** 2, -1).view(nb, n, 1)
        out += L.sum(b ** 2, -1).view(nb, 1, m)
        return out

    def gather_points(pts, idx):
        """pts[b, idx[b, ...], :] for every cloud b of the batch."""
        shape = [idx.shape[0]] + [1] * (idx.dim() - 1)
        reps = [1] + list(idx.shape[1:])
        rows = L.arange(pts.shape[0], dtype=L.long).view(shape).repeat(reps)
        return pts[rows, idx, :]

    def farthest_points(xyz, k):
        """k indices per cloud: a random start, then each time the point farthest from all
        those chosen so far."""
        nb, n, _ = xyz.shape
        chosen = L.zeros(nb, k, dtype=L.long)
        to_set = L.ones(nb, n, dtype=xyz.dtype) * 1e10
        current = L.randint(0, n, (nb,), dtype=L.long)
        rows = L.arange(nb, dtype=L.long)
        for j in range(k):
            chosen[:, j] = current
            d = L.sum((xyz - xyz[rows, current, :].view(nb, 1, 3)) ** 2, -1)
            closer = d < to_set
            to_set[closer] = d[closer]
            current = L.max(to_set, -1)[1]
        return chosen

    def ball_neighbours(radius, k, xyz, centres):
        """k point indices per centre within ``radius``, lowest first; when there are fewer,
        the first one fills the rest."""
        nb, n, _ = xyz.shape
        n_centres = centres.shape[1]
        idx = L.arange(n, dtype=L.long).view(1, 1, n).repeat([nb, n_centres, 1])
        idx[pairwise_sq_dist(centres, xyz) > radius ** 2] = n       # n sorts after all
        idx = idx.sort(dim=-1)[0][:, :, :k]
        first = idx[:, :, 0].view(nb, n_centres, 1).repeat([1, 1, k])
        missing = idx == n
        idx[missing] = first[missing]
        return idx

    class SampleGroupEncode(nn.Module):
        def __init__(self, n_centres, radius, k, c_in, widths):
            super().__init__()
            self.n_centres, self.radius, self.k = n_centres, radius, k
            self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
            for c_out in widths:
                self.convs.append(nn.Conv2d(c_in, c_out, 1))
                self.norms.append(nn.BatchNorm2d(c_out))
                c_in = c_out

        def forward(self, xyz, feats):
            centre_idx = farthest_points(xyz, self.n_centres)
            centres = gather_points(xyz, centre_idx)
            nbr = ball_neighbours(self.radius, self.k, xyz, centres)
            offsets = gather_points(xyz, nbr) - centres.unsqueeze(2)
            h = L.cat([offsets, gather_points(feats, nbr)], dim=-1).permute(0, 3, 2, 1)
            for conv, norm in zip(self.convs, self.norms):
                h = F.relu(norm(conv(h)))
            return centres, L.max(h, 2)[0], centre_idx, nbr

    xyz = _t(L, 2, 20, 3, seed=18)
    feats = _t(L, 2, 20, 2, seed=19)
    L.manual_seed(10)
    sa = SampleGroupEncode(6, 1.2, 4, 5, [8, 8]).double()
    head = nn.Linear(8 + 2, 3).double()
    opt = L.optim.SGD(list(sa.parameters()) + list(head.parameters()), lr=0.05, momentum=0.9)
    target = L.from_numpy(_labels(40, 3, 20)).view(2, 20)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        new_xyz, new_pts, fps_idx, idx = sa(xyz, feats)
        d = L.cdist(xyz, new_xyz)
        dists, knn = d.topk(3, dim=-1, largest=False)
        w = 1.0 / (dists + 1e-8)
        w = w / w.sum(-1, keepdim=True)
        interp = L.sum(gather_points(new_pts.transpose(1, 2), knn) * w.unsqueeze(-1), dim=2)
        logits = head(L.cat([interp, feats], -1))
        loss = F.cross_entropy(logits.transpose(1, 2), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, fps=fps_idx, idx=idx, knn=knn, interp=interp,
                g=grads_of(sa), rv=sa.norms[1].running_var)


# ----------------------------------------------------------------------------------------------
# audio
# ----------------------------------------------------------------------------------------------
@program
def wavenet_mu_law_one_hot_causal_dilations_and_skip_sum(L):
    """A small WaveNet: mu-law companding sign(x) log1p(mu |x|) / log1p(mu) quantised to 16
    classes, the one_hot input moved to (N, C, T), dilated causal conv1d layers made causal
    by left padding with F.pad, the tanh * sigmoid gate, a 1x1 convolution back into the
    residual stream and another to the skip path, the skips cropped to the output length
    and summed, cross_entropy over (N, C, T) logits against the next samples; decoding by
    the inverse companding of the argmax."""
    nn, F = L.nn, L.nn.functional
    mu = 15

    def compand(x):
        y = L.sign(x) * L.log1p(mu * L.abs(x)) / math.log1p(mu)     # in [-1, 1]
        return ((y + 1) / 2 * mu + 0.5).long()

    def expand(q):
        y = 2 * (q.double() / mu) - 1
        return L.sign(y) * (1.0 / mu) * ((1 + mu) ** L.abs(y) - 1)

    class LeftPaddedConv(nn.Conv1d):
        """A bias-free conv1d that sees only the present and the past."""

        def __init__(self, cin, cout, k, dilation=1):
            super().__init__(cin, cout, k, dilation=dilation, bias=False)
            self.history = (k - 1) * dilation

        def forward(self, x):
            return super().forward(F.pad(x, (self.history, 0)))

    class GatedLayer(nn.Module):
        def __init__(self, width, skip_width, dilation):
            super().__init__()
            self.conv = LeftPaddedConv(width, 2 * width, 2, dilation)
            self.back = nn.Conv1d(width, width, 1)
            self.to_skip = nn.Conv1d(width, skip_width, 1)

        def forward(self, x, keep):
            filt, gate = self.conv(x).chunk(2, dim=1)
            h = L.tanh(filt) * L.sigmoid(gate)
            return x + self.back(h), self.to_skip(h)[:, :, -keep:]

    class SmallWaveNet(nn.Module):
        def __init__(self, depth=3, repeats=2, classes=16, width=6):
            super().__init__()
            self.first = LeftPaddedConv(classes, width, 2)
            self.layers = nn.ModuleList([GatedLayer(width, classes, 2 ** k)
                                         for _ in range(repeats) for k in range(depth)])
            self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(classes, classes, 1),
                                      nn.ReLU(), nn.Conv1d(classes, classes, 1))
            self.receptive = sum(2 ** k for k in range(depth)) * repeats

        def forward(self, x):
            h = self.first(x.transpose(1, 2))
            keep = h.size(2) - self.receptive
            skips = []
            for layer in self.layers:
                h, s = layer(h, keep)
                skips.append(s)
            return self.head(L.stack(skips).sum(dim=0))

    t = np.linspace(0, 1, 40)
    wav = L.tensor(0.6 * np.sin(2 * np.pi * 5 * t)[None] * np.array([[1.0], [0.5]]) +
                   0.05 * _arr(2, 40, seed=21))
    q = compand(wav)
    x = F.one_hot(q, 16).double()
    L.manual_seed(11)
    net = SmallWaveNet().double()
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        logits = net(x[:, :-1])
        target = q[:, net.receptive + 1:]
        loss = F.cross_entropy(logits, target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    decoded = expand(logits.argmax(1))
    return dict(losses=losses, q=q, logits=logits, decoded=decoded, g=grads_of(net))


@program
def stft_log_mel_front_end_conv_classifier_and_istft_check(L):
    """An audio classifier's front end: torch.stft with n_fft 32, hop 8, hann_window(32,
    periodic) and return_complex=True, power spectrogram by .abs().pow(2), a triangular mel
    matrix built by hand, log(mel + 1e-6), per-utterance normalisation, a Conv1d-BatchNorm-
    ReLU-AdaptiveMaxPool stack over frames and cross_entropy; gradients reach the waveform;
    istft of the same STFT gives the signal back."""
    nn, F = L.nn, L.nn.functional
    n_fft, hop, n_mels = 32, 8, 6

    def mel_fb(n_freqs, n_mels):
        pts = np.linspace(0, n_freqs - 1, n_mels + 2)
        fb = np.zeros((n_freqs, n_mels))
        f = np.arange(n_freqs)
        for m in range(n_mels):
            lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
            fb[:, m] = np.maximum(0, np.minimum((f - lo) / (c - lo), (hi - f) / (hi - c)))
        return fb

    fb = L.tensor(mel_fb(n_fft // 2 + 1, n_mels))
    wav = _t(L, 3, 96, scale=0.3, seed=22, grad=True)
    window = L.hann_window(n_fft, dtype=L.float64)
    spec = L.stft(wav, n_fft, hop_length=hop, window=window, return_complex=True)
    power = spec.abs().pow(2)
    mel = L.matmul(power.transpose(1, 2), fb).transpose(1, 2)
    logmel = L.log(mel + 1e-6)
    logmel = (logmel - logmel.mean(dim=(1, 2), keepdim=True)) / \
        logmel.std(dim=(1, 2), keepdim=True)
    L.manual_seed(12)
    net = nn.Sequential(nn.Conv1d(n_mels, 8, 3, padding=1), nn.BatchNorm1d(8), nn.ReLU(),
                        nn.Conv1d(8, 8, 3, padding=1), nn.BatchNorm1d(8), nn.ReLU(),
                        nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(8, 2)).double()
    y = L.tensor([0, 1, 1])
    loss = F.cross_entropy(net(logmel), y)
    loss.backward()
    back = L.istft(spec.detach(), n_fft, hop_length=hop, window=window, length=96)
    return dict(loss=loss, shape=tuple(spec.shape), logmel=logmel, wg=wav.grad,
                err=(back - wav.detach()).abs().max(), g=grads_of(net))


# ----------------------------------------------------------------------------------------------
# sequences, recommenders, Gaussian processes
# ----------------------------------------------------------------------------------------------
@program
def lstm_forecaster_on_sorted_lengths_packed_with_masked_mse(L):
    """A multi-step forecaster over variable-length series: lengths sorted descending with
    sort(descending=True) and the batch reordered, pack_padded_sequence(batch_first=True,
    enforce_sorted=True), a 2-layer LSTM with dropout, pad_packed_sequence with total_length,
    the last valid step gathered by lengths - 1, a linear head to a 3-step horizon, and an
    MSE masked by a sequence mask for an auxiliary per-step loss; order restored by the
    inverse permutation."""
    nn = L.nn
    rnn = nn.utils.rnn

    class Forecaster(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(2, 8, num_layers=2, batch_first=True, dropout=0.2)
            self.step = nn.Linear(8, 2)
            self.head = nn.Linear(8, 3)

        def forward(self, x, lengths):
            lengths, perm = lengths.sort(descending=True)
            x = x[perm]
            packed = rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                              enforce_sorted=True)
            out, (h, c) = self.lstm(packed)
            out, out_lens = rnn.pad_packed_sequence(out, batch_first=True,
                                                    total_length=x.size(1))
            idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.size(2))
            last = out.gather(1, idx).squeeze(1)
            inv = L.empty_like(perm)
            inv[perm] = L.arange(perm.numel())
            return self.head(last)[inv], self.step(out)[inv], out_lens[inv], h[-1][inv]

    x = _t(L, 4, 7, 2, seed=23)
    lengths = L.tensor([5, 7, 3, 6])
    mask = (L.arange(7).unsqueeze(0) < lengths.unsqueeze(1)).double()
    x = x * mask.unsqueeze(-1)
    target = _t(L, 4, 3, seed=24)
    L.manual_seed(13)
    model = Forecaster().double()
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        model.train()
        opt.zero_grad()
        pred, steps, lens, h = model(x, lengths)
        aux = (((steps[:, :-1] - x[:, 1:]) ** 2).sum(-1) * mask[:, 1:]).sum() / mask[:, 1:].sum()
        loss = nn.functional.mse_loss(pred, target) + 0.1 * aux
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with L.no_grad():
        pred_eval = model(x, lengths)[0]
    return dict(losses=losses, lens=lens, h=h, pred=pred_eval, g=grads_of(model))


@program
def embedding_bag_sums_with_per_sample_weights_and_fm_interactions(L):
    """A DLRM/FM-style recommender: sparse multi-hot features fed to nn.EmbeddingBag(mode=
    'sum') with offsets, include_last_offset=True and per_sample_weights, a padding_idx bag,
    dense features through a bottom MLP, the factorisation machine's second-order term
    0.5 * ((sum v)^2 - sum v^2) over stacked field embeddings, a first-order bias by an
    EmbeddingBag of width 1, and Adagrad steps (sparse-style features, dense gradients)."""
    nn, F = L.nn, L.nn.functional

    class FMRecommender(nn.Module):
        def __init__(self, num_items, num_users, k=4):
            super().__init__()
            self.items = nn.EmbeddingBag(num_items, k, mode="sum", include_last_offset=True,
                                         padding_idx=0)
            self.item_bias = nn.EmbeddingBag(num_items, 1, mode="sum",
                                             include_last_offset=True)
            self.users = nn.Embedding(num_users, k)
            self.user_bias = nn.Embedding(num_users, 1)
            self.bottom = nn.Sequential(nn.Linear(3, k), nn.ReLU())
            self.global_bias = nn.Parameter(L.zeros(1))

        def forward(self, users, item_idx, offsets, weights, dense):
            v_items = self.items(item_idx, offsets, per_sample_weights=weights)
            v_users = self.users(users)
            v_dense = self.bottom(dense)
            V = L.stack([v_items, v_users, v_dense], dim=1)
            square_of_sum = V.sum(dim=1).pow(2)
            sum_of_square = V.pow(2).sum(dim=1)
            second = 0.5 * (square_of_sum - sum_of_square).sum(dim=1)
            first = self.item_bias(item_idx, offsets, per_sample_weights=weights).squeeze(1) \
                + self.user_bias(users).squeeze(1)
            return self.global_bias + first + second

    rng = np.random.RandomState(25)
    item_idx = L.from_numpy(np.array([3, 5, 0, 7, 2, 2, 9, 1, 4], dtype=np.int64))
    offsets = L.tensor([0, 3, 4, 4, 9])        # one empty bag, include_last_offset
    weights = L.tensor(rng.uniform(0.5, 1.5, 9))
    users = L.tensor([1, 0, 2, 1])
    dense = _t(L, 4, 3, seed=26)
    y = L.tensor([1.0, 0.0, 1.0, 0.0], dtype=L.float64)
    L.manual_seed(14)
    model = FMRecommender(10, 3).double()
    opt = L.optim.Adagrad(model.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        logit = model(users, item_idx, offsets, weights, dense)
        loss = F.binary_cross_entropy_with_logits(logit, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, logit=logit, pad_row=model.items.weight[0],
                g=grads_of(model), keys=list(model.state_dict()))


@program
def gaussian_process_regression_by_cholesky_with_learned_hyperparameters(L):
    """Exact GP regression as the tutorials write it: an RBF kernel with lengthscale,
    outputscale and noise kept positive by softplus of raw parameters, K + noise I
    factorised by torch.linalg.cholesky, alpha by cholesky_solve, the marginal likelihood
    0.5 y^T alpha + sum log diag(Lc) + n/2 log 2pi (checked against logdet), Adam on the
    hyperparameters, then the predictive mean and variance by solve_triangular."""
    nn, F = L.nn, L.nn.functional

    class ExactGP(nn.Module):
        def __init__(self):
            super().__init__()
            self.raw_lengthscale = nn.Parameter(L.tensor(0.0))
            self.raw_outputscale = nn.Parameter(L.tensor(0.0))
            self.raw_noise = nn.Parameter(L.tensor(-2.0))

        def kernel(self, a, b):
            ls = F.softplus(self.raw_lengthscale)
            d2 = (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)
            return F.softplus(self.raw_outputscale) * L.exp(-0.5 * d2 / ls ** 2)

        def nll(self, X, y):
            n = X.shape[0]
            K = self.kernel(X, X) + F.softplus(self.raw_noise) * L.eye(n, dtype=X.dtype)
            Lc = L.linalg.cholesky(K)
            alpha = L.cholesky_solve(y.unsqueeze(-1), Lc)
            nll = 0.5 * (y.unsqueeze(-1) * alpha).sum() + L.log(L.diagonal(Lc)).sum() + \
                0.5 * n * math.log(2 * math.pi)
            return nll, K

        def predict(self, X, y, Xs):
            n = X.shape[0]
            K = self.kernel(X, X) + F.softplus(self.raw_noise) * L.eye(n, dtype=X.dtype)
            Lc = L.linalg.cholesky(K)
            Ks = self.kernel(X, Xs)
            alpha = L.cholesky_solve(y.unsqueeze(-1), Lc)
            mean = (Ks.T @ alpha).squeeze(-1)
            v = L.linalg.solve_triangular(Lc, Ks, upper=False)
            var = F.softplus(self.raw_outputscale) - (v ** 2).sum(0)
            return mean, var

    rng = np.random.RandomState(27)
    Xn = np.sort(rng.uniform(-3, 3, (12, 1)), axis=0)
    X = L.tensor(Xn)
    y = L.tensor(np.sin(Xn[:, 0]) + 0.1 * rng.randn(12))
    gp = ExactGP().double()
    opt = L.optim.Adam(gp.parameters(), lr=0.1)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        nll, K = gp.nll(X, y)
        nll.backward()
        opt.step()
        losses.append(nll.item())
    check = 0.5 * L.logdet(K) - L.log(L.diagonal(L.linalg.cholesky(K))).sum()
    Xs = L.linspace(-3, 3, 5, dtype=L.float64).unsqueeze(-1)
    with L.no_grad():
        mean, var = gp.predict(X, y, Xs)
    return dict(losses=losses, check=check, mean=mean, var=var,
                hypers={n: F.softplus(p) for n, p in gp.named_parameters()}, g=grads_of(gp))


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
