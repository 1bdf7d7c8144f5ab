"""Whole programs of round 31, part c: scientific and probabilistic code in plain torch, the
parts earlier rounds left out.  Neural ODEs solved by an adaptive Dormand-Prince 5(4) with a
per-sample step size accepted or rejected through torch.where on a mixed RMS error norm, and
by RK4 with gradients by the adjoint method (autograd.grad of the field against the state
and the parameters with a vector of cotangents, create_graph for a second-order check);
Hamiltonian and Lagrangian networks through every function of torch.autograd.functional
(jacobian with vectorize and strategy, hessian, vjp, jvp, hvp and vhp with create_graph) and
an Euler-Lagrange acceleration by a batched solve; a two-dimensional Fourier neural operator
with cfloat weights by einsum over rfftn/irfftn modes, trained by Adam on complex parameters,
and a DeepONet; sparse Gaussian-process regression by Titsias' bound (triangular solves on
both sides, cholesky_solve, the predictive variance) and a GP classifier by the Laplace
approximation's Newton iterations; Bayesian networks by the local reparameterisation trick
and MC dropout's predictive entropy; flows built only from distributions.transforms
(ComposeTransform, CatTransform, StackTransform, IndependentTransform, ReshapeTransform,
CumulativeDistributionTransform, StickBreaking and CorrCholesky, biject_to) inside
TransformedDistribution; variational inference over MultivariateNormal(scale_tril=...),
LowRankMultivariateNormal, Dirichlet and MixtureSameFamily; a batched Kalman filter with an
RTS smoother and its likelihood's gradient; log-domain Sinkhorn with epsilon scaling, an
unbalanced variant and a debiased divergence; sliced score matching and annealed Langevin
sampling, an energy-based model by contrastive divergence from a replay buffer, and FFJORD's
Hutchinson trace; physics-informed nets with third-order (KdV) and mixed derivatives;
Stein variational gradient descent on cdist kernels and an MMD critic whose gradient penalty
goes through cdist; predictive intervals from float32 probabilities
against float64 laws; and the shape bookkeeping of transforms.  Below the programs, the
fixes of the round one by one (second derivatives through cdist/pdist, which PyTorch refuses,
forward-mode Jacobians that keep their graph, Normal.icdf's order of operations).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed``, which gives PyTorch's numbers in minigrad);
both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes, shapes and
requires_grad, or raise the same exception type with torch's words.
"""
import math

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    registry, program_harness, normal64, normal32, tanh_mlp,
    import_forward_ad_decompositions)

import_forward_ad_decompositions()


HARNESS = program_harness(complex64=(1e-5, 1e-6), complex128=(1e-9, 1e-11))
PROGRAMS, program = registry()


def _t(L, *shape, scale=1.0, seed=0):
    return L.tensor(normal64(*shape, scale=scale, seed=seed))


# ----------------------------------------------------------------------------------------------
# neural ODEs
# ----------------------------------------------------------------------------------------------
_DP_C = [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]
_DP_A = [[],
         [1 / 5],
         [3 / 40, 9 / 40],
         [44 / 45, -56 / 15, 32 / 9],
         [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
         [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
         [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
_DP_B5 = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]
_DP_B4 = [5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]


@program
def dopri5_per_sample_step_control_with_where(L):
    """An adaptive Dormand-Prince 5(4) solver as torchdiffeq-like code writes it, vectorised
    over a batch: each sample keeps its own time and step, the error is the RMS of the
    difference of the two embedded solutions scaled by atol + rtol * max(|y0|, |y1|) (by
    linalg.vector_norm), steps are accepted where err <= 1 and the state, time and step move
    through torch.where; the step factor is 0.9 * err^(-1/5) clamped to [0.2, 10] and never
    beyond the end time.  The solve is differentiated w.r.t. the field's weights and the
    initial state afterwards; the counts of accepted and rejected steps are compared too."""
    nn = L.nn
    L.manual_seed(3)
    f = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2)).double()

    def field(t, y):
        return f(L.cat([y, t.unsqueeze(-1)], dim=-1))

    y0 = _t(L, 5, 2, seed=1).requires_grad_()
    t = L.zeros(5, dtype=L.float64)
    h = L.full((5,), 0.05, dtype=L.float64)
    t_end, rtol, atol = 1.5, 1e-5, 1e-7
    y = y0
    accepted = L.zeros(5, dtype=L.long)
    rejected = L.zeros(5, dtype=L.long)
    for _ in range(60):
        live = t < t_end - 1e-12
        if not bool(live.any()):
            break
        h = L.minimum(h, t_end - t)
        k = [field(t, y)]
        for i in range(1, 7):
            dy = sum(a * kj for a, kj in zip(_DP_A[i], k))
            k.append(field(t + _DP_C[i] * h, y + h.unsqueeze(-1) * dy))
        y5 = y + h.unsqueeze(-1) * sum(b * ki for b, ki in zip(_DP_B5, k))
        y4 = y + h.unsqueeze(-1) * sum(b * ki for b, ki in zip(_DP_B4, k))
        scale = atol + rtol * L.maximum(y.abs(), y5.abs())
        err = L.linalg.vector_norm((y5 - y4) / scale, dim=-1) / math.sqrt(y.shape[-1])
        ok = (err <= 1.0) & live
        y = L.where(ok.unsqueeze(-1), y5, y)
        t = L.where(ok, t + h, t)
        accepted += ok.long()
        rejected += ((~ok) & live).long()
        factor = (0.9 * err.detach().clamp(min=1e-10).pow(-0.2)).clamp(0.2, 10.0)
        h = L.where(live, h * factor, h)
    loss = (y ** 2).sum() + y[:, 0].sin().sum()
    gW, gy0 = L.autograd.grad(loss, [f[0].weight, y0])
    return dict(y=y, t=t, h=h, accepted=accepted, rejected=rejected, gW=gW, gy0=gy0)


def _rk4(field, y, ts):
    ys = [y]
    for i in range(len(ts) - 1):
        t0, dt = ts[i], ts[i + 1] - ts[i]
        k1 = field(t0, y)
        k2 = field(t0 + dt / 2, y + dt / 2 * k1)
        k3 = field(t0 + dt / 2, y + dt / 2 * k2)
        k4 = field(t0 + dt, y + dt * k3)
        y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ys.append(y)
    return ys


@program
def adjoint_method_by_vector_jacobian_products(L):
    """The adjoint sensitivity method written out: the forward RK4 solve is run without a
    graph, then the augmented system (state, adjoint a, parameter gradient) runs backwards in
    time, with a^T df/dz and a^T df/dtheta taken by autograd.grad(f(z), (z, *params),
    grad_outputs=a, allow_unused=True) under enable_grad; the loss reads the state at several
    times, each adding its dL/dz(t_i) to the adjoint.  Checked against backpropagation through
    the same solver (equal up to the discretisation), with create_graph=True once to take a
    Hessian-vector product of the field too."""
    nn = L.nn
    L.manual_seed(7)
    net = nn.Sequential(nn.Linear(2, 12), nn.Softplus(), nn.Linear(12, 2)).double()
    params = tuple(net.parameters())

    def field(t, z):
        return net(z) * (1.0 + 0.1 * t)

    ts = [0.1 * i for i in range(11)]
    z0 = _t(L, 4, 2, seed=2)
    target = _t(L, 4, 2, seed=3)
    obs = [3, 7, 10]

    with L.no_grad():
        traj = _rk4(field, z0, ts)

    def aug(t, state):
        z, a = state[0], state[1]
        with L.enable_grad():
            zz = z.detach().requires_grad_(True)
            fz = field(t, zz)
            got = L.autograd.grad(fz, (zz,) + params, grad_outputs=a, allow_unused=True)
        return [fz.detach(), -got[0]] + [-g for g in got[1:]]

    a = L.zeros_like(z0)
    gp = [L.zeros_like(p) for p in params]
    z = traj[-1]
    for i in range(len(ts) - 1, 0, -1):
        if i in obs:
            a = a + 2 * (traj[i] - target) / 4
        dt = ts[i - 1] - ts[i]
        state = [z, a] + gp
        k1 = aug(ts[i], state)
        k2 = aug(ts[i] + dt / 2, [s + dt / 2 * k for s, k in zip(state, k1)])
        k3 = aug(ts[i] + dt / 2, [s + dt / 2 * k for s, k in zip(state, k2)])
        k4 = aug(ts[i] + dt, [s + dt * k for s, k in zip(state, k3)])
        new = [s + dt / 6 * (p + 2 * q + 2 * r + w) for s, p, q, r, w in zip(state, k1, k2, k3, k4)]
        z, a, gp = new[0], new[1], new[2:]

    ys = _rk4(field, z0, ts)
    loss = sum(((ys[i] - target) ** 2).sum() / 4 for i in obs)
    direct = L.autograd.grad(loss, params)
    zz = z0.clone().requires_grad_()
    fz = field(0.0, zz)
    v = L.ones_like(fz)
    vjp, = L.autograd.grad(fz, zz, grad_outputs=v, create_graph=True)
    hv, = L.autograd.grad(vjp.pow(2).sum(), zz)
    gaps = [(g - d).abs().max().item() for g, d in zip(gp, direct)]
    return dict(adjoint=gp, direct=direct, z_back=z, a0=a, small=[x < 1e-5 for x in gaps],
                loss=loss, hv=hv)


# ----------------------------------------------------------------------------------------------
# Hamiltonian and Lagrangian networks through autograd.functional
# ----------------------------------------------------------------------------------------------
@program
def hamiltonian_net_through_autograd_functional(L):
    """A Hamiltonian network H(q, p) trained on a pendulum: the symplectic gradient by
    autograd.functional.jacobian of the summed H (create_graph) and a J matrix, the loss's
    gradient reaching the weights; then every function of autograd.functional on the trained
    H: hessian (outer_jacobian_strategy='forward-mode' with vectorize), jacobian of the vector
    field (reverse and forward strategies), vjp, jvp, hvp and vhp with create_graph, and a
    leapfrog rollout."""
    AF = L.autograd.functional
    H = tanh_mlp(L, [2, 16, 16, 1], seed=11)
    opt = L.optim.Adam(H.parameters(), lr=3e-3)
    x = _t(L, 24, 2, seed=4)
    q, p = x[:, 0], x[:, 1]
    dx_true = L.stack([p, -L.sin(q)], dim=-1)
    J = L.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=L.float64)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        dH = AF.jacobian(lambda z: H(z).sum(), x, create_graph=True)
        dx = dH @ J.T
        loss = (dx - dx_true).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())

    def h1(z):
        return H(z.unsqueeze(0)).squeeze()

    z0 = L.tensor([0.3, -0.2], dtype=L.float64)
    hes_r = AF.hessian(h1, z0)
    hes_f = AF.hessian(h1, z0, vectorize=True, outer_jacobian_strategy="forward-mode")

    def vf(z):
        g = AF.jacobian(h1, z, create_graph=True)
        return g @ J.T

    jac_r = AF.jacobian(vf, z0)
    jac_v = AF.jacobian(vf, z0, vectorize=True)
    v = L.tensor([1.0, 0.5], dtype=L.float64)
    out, vjp = AF.vjp(vf, z0, v)
    out2, jvp = AF.jvp(vf, z0, v)
    zg = z0.clone().requires_grad_()
    val, hvp = AF.hvp(h1, zg, v, create_graph=True)
    _, vhp = AF.vhp(h1, z0, v)
    hvp.sum().backward()
    # leapfrog with the learned field
    qq, pp = z0[:1].clone(), z0[1:].clone()
    traj = []
    for _ in range(5):
        g = AF.jacobian(h1, L.cat([qq, pp]))
        pp = pp - 0.05 * g[:1]
        g = AF.jacobian(h1, L.cat([qq, pp]))
        qq = qq + 0.1 * g[1:]
        g = AF.jacobian(h1, L.cat([qq, pp]))
        pp = pp - 0.05 * g[:1]
        traj.append(L.cat([qq, pp]))
    return dict(losses=losses, hes_r=hes_r, hes_f=hes_f, jac_r=jac_r, jac_v=jac_v, out=out,
                vjp=vjp, out2=out2, jvp=jvp, val=val, hvp=hvp, vhp=vhp, zg=zg.grad,
                traj=L.stack(traj), sym=(hes_r - hes_r.T).abs().max())


@program
def lagrangian_net_euler_lagrange_by_batched_hessians(L):
    """A Lagrangian network for a double pendulum's state (q, qdot): the accelerations solve
    H_{qdot qdot} qddot = dL/dq - H_{qdot q} qdot, with the per-sample Hessians taken by
    autograd.functional.hessian of the batch sum (create_graph, its blocks read by the einsum
    of a diagonal over the batch) and a batched linalg.solve; trained a few Adam steps on
    accelerations of a known Lagrangian, also computed by the same code as a check."""
    AF = L.autograd.functional
    net = tanh_mlp(L, [4, 20, 20, 1], seed=5)
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    s = _t(L, 6, 4, scale=0.5, seed=8)

    def accel(lag, s, create_graph):
        B = s.shape[0]
        H = AF.hessian(lambda z: lag(z).sum(), s, create_graph=create_graph)
        H = L.einsum("bibj->bij", H.reshape(B, 4, B, 4))
        g = AF.jacobian(lambda z: lag(z).sum(), s, create_graph=create_graph)
        qdot = s[:, 2:]
        rhs = g[:, :2] - (H[:, 2:, :2] @ qdot.unsqueeze(-1)).squeeze(-1)
        return L.linalg.solve(H[:, 2:, 2:] + 1e-3 * L.eye(2, dtype=s.dtype), rhs)

    def true_lag(z):
        q1, q2, w1, w2 = z.unbind(-1)
        T = w1 ** 2 + 0.5 * w2 ** 2 + w1 * w2 * L.cos(q1 - q2)
        V = -2 * L.cos(q1) - L.cos(q2)
        return (T - V).unsqueeze(-1)

    target = accel(true_lag, s, False)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = (accel(net, s, True) - target).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(target=target, losses=losses, w=net[0].weight, pred=accel(net, s, False))


# ----------------------------------------------------------------------------------------------
# operator learning
# ----------------------------------------------------------------------------------------------
@program(rtol=1e-5, atol=1e-6)
def fourier_neural_operator_2d_cfloat_weights_trained_by_adam(L):
    """A two-dimensional Fourier neural operator layer: complex weights as cfloat Parameters
    (a scaled rand(..., dtype=cfloat)), rfftn over the last two dims, the low modes of both
    signs along the first axis mixed across channels by einsum into a zeros(..., dtype=cfloat)
    spectrum, back by irfftn(s=...), plus a 1x1 convolution path and GELU; trained by Adam
    (float32; an eps of 1e-6 keeps the steps of the modes whose gradients round to ~1e-9
    from turning on float32 rounding), the complex gradients and moments compared."""
    return _fno(L, L.cfloat, normal32, steps=3, eps=1e-6)


@program
def fourier_neural_operator_2d_cdouble_weights_trained_by_adam(L):
    """The Fourier neural operator above in double precision under a float64 default dtype
    (cdouble weights, float64 linspace grids), four Adam steps."""
    L.set_default_dtype(L.float64)
    return _fno(L, L.cdouble, normal64, steps=4, eps=1e-8)


def _fno(L, cdt, draw, steps, eps):
    nn, F = L.nn, L.nn.functional

    class LowModeMix(nn.Module):
        """Channel mixing mode by mode on the lowest k x k Fourier modes -- the two corners of
        the half spectrum, for non-negative and for negative first-axis frequencies, each
        with its own complex weights; all other modes are dropped."""

        def __init__(self, width, k):
            super().__init__()
            self.k = k
            init = 1 / (width * width)
            self.pos = nn.Parameter(init * L.rand(width, width, k, k, dtype=cdt))
            self.neg = nn.Parameter(init * L.rand(width, width, k, k, dtype=cdt))

        def forward(self, x):
            n, c, rows, cols = x.shape
            k = self.k
            spec = L.fft.rfftn(x, dim=(-2, -1))
            kept = L.zeros(n, c, rows, cols // 2 + 1, dtype=cdt)
            kept[:, :, :k, :k] = L.einsum("nchw,cdhw->ndhw", spec[:, :, :k, :k], self.pos)
            kept[:, :, -k:, :k] = L.einsum("nchw,cdhw->ndhw", spec[:, :, -k:, :k], self.neg)
            return L.fft.irfftn(kept, s=(rows, cols), dim=(-2, -1))

    class Operator(nn.Module):
        """Lift (a, x, y) to 6 channels, two Fourier layers each added to a 1x1 convolution
        (GELU after the first), project to one channel."""

        def __init__(self, width=6):
            super().__init__()
            self.lift = nn.Linear(3, width)
            self.spectral = nn.ModuleList([LowModeMix(width, 3) for _ in range(2)])
            self.pointwise = nn.ModuleList([nn.Conv2d(width, width, 1) for _ in range(2)])
            self.proj = nn.Linear(width, 1)

        def forward(self, a):
            n, rows, cols = a.shape
            xs = L.linspace(0, 1, rows).reshape(1, rows, 1).expand(n, rows, cols)
            ys = L.linspace(0, 1, cols).reshape(1, 1, cols).expand(n, rows, cols)
            h = self.lift(L.stack([a, xs, ys], dim=-1)).permute(0, 3, 1, 2)
            h = F.gelu(self.spectral[0](h) + self.pointwise[0](h))
            h = self.spectral[1](h) + self.pointwise[1](h)
            return self.proj(h.permute(0, 2, 3, 1)).squeeze(-1)

    L.manual_seed(0)
    model = Operator()
    a = L.tensor(draw(4, 10, 8, seed=5))
    u = L.tensor(draw(4, 10, 8, seed=6, scale=0.3))
    opt = L.optim.Adam(model.parameters(), lr=1e-2, eps=eps)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        pred = model(a)
        loss = (pred - u).norm() / u.norm()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first = model.spectral[0].pos
    moments = opt.state[first]
    return dict(losses=losses, w1=first, g=model.spectral[1].neg.grad,
                m=moments["exp_avg"], v=moments["exp_avg_sq"], dtype=str(first.dtype),
                lift=model.lift.weight.grad, pred=pred)


@program(rtol=1e-5, atol=1e-6)
def deeponet_branch_trunk_with_bias_and_sensor_grid(L):
    """A DeepONet for the antiderivative operator: the branch net reads u at 20 sensors, the
    trunk net reads y, their outputs meet by einsum('bp,bnp->bn') plus a learned scalar bias;
    the targets are cumulative trapezoids (torch.cumulative_trapezoid) interpolated at random
    query points by searchsorted and lerp; trained by Adam with a StepLR in float32, with
    the operator's derivative du/dy by autograd.grad checked near u."""
    nn = L.nn
    L.manual_seed(1)
    branch = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16))
    trunk = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh())
    b0 = nn.Parameter(L.zeros(1))
    xs = L.linspace(0, 1, 20)
    coef = L.tensor(normal32(6, 3, seed=2))
    u = (coef[:, :1] * L.sin(math.pi * xs) + coef[:, 1:2] * L.cos(2 * math.pi * xs)
         + coef[:, 2:] * xs)
    G = L.cumulative_trapezoid(u, xs, dim=-1)
    G = L.cat([L.zeros(6, 1), G], dim=-1)
    y = L.rand(6, 9)
    idx = L.searchsorted(xs, y.contiguous()).clamp(1, 19)
    x0, x1 = xs[idx - 1], xs[idx]
    w = (y - x0) / (x1 - x0)
    target = L.lerp(G.gather(1, idx - 1), G.gather(1, idx), w)
    params = list(branch.parameters()) + list(trunk.parameters()) + [b0]
    opt = L.optim.Adam(params, lr=5e-3)
    sched = L.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    def op(u, y):
        return L.einsum("bp,bnp->bn", branch(u), trunk(y.unsqueeze(-1))) + b0

    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = L.nn.functional.mse_loss(op(u, y), target)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    yg = y.clone().requires_grad_()
    dG, = L.autograd.grad(op(u, yg).sum(), yg)
    return dict(G=G, target=target, losses=losses, dG=dG, lr=sched.get_last_lr(), b0=b0)


# ----------------------------------------------------------------------------------------------
# Gaussian processes
# ----------------------------------------------------------------------------------------------
def _rbf(L, X, Z, log_ls, log_sf):
    d2 = L.cdist(X / log_ls.exp(), Z / log_ls.exp()).pow(2)
    return (2 * log_sf).exp() * L.exp(-0.5 * d2)


@program
def sparse_gp_titsias_bound_with_inducing_points(L):
    """Sparse GP regression by Titsias' collapsed bound: ARD RBF kernels by cdist of scaled
    inputs, Kuu's Cholesky with jitter (cholesky_ex's info checked), A = Lu^-1 Kuf / sigma by
    solve_triangular, B = I + A A^T and its Cholesky, the bound's log-determinant from
    diagonals and its trace term; the inducing inputs and log hyper-parameters trained by
    Adam; the predictive mean and variance by triangular solves with left=False and
    cholesky_solve, checked against the dense formula."""
    X = L.tensor(np.linspace(-3, 3, 30)[:, None] * np.array([[1.0, 0.5]]))
    X = X + _t(L, 30, 2, scale=0.1, seed=1)
    y = L.sin(X[:, 0]) + 0.3 * X[:, 1] + _t(L, 30, scale=0.05, seed=2)
    Z = L.nn.Parameter(X[::5].clone())
    log_ls = L.nn.Parameter(L.zeros(2, dtype=L.float64))
    log_sf = L.nn.Parameter(L.tensor(0.0, dtype=L.float64))
    log_sn = L.nn.Parameter(L.tensor(-1.0, dtype=L.float64))
    opt = L.optim.Adam([Z, log_ls, log_sf, log_sn], lr=0.05)
    n, m = X.shape[0], Z.shape[0]

    def bound():
        # with Kuu = R R^T and P = R^-1 Kuf / sigma, the Nystrom covariance over sigma^2 is
        # P^T P and the bound needs only the m x m factor S of I + P P^T
        sn = log_sn.exp()
        R, info = L.linalg.cholesky_ex(_rbf(L, Z, Z, log_ls, log_sf) +
                                       1e-6 * L.eye(m, dtype=L.float64))
        P = L.linalg.solve_triangular(R, _rbf(L, Z, X, log_ls, log_sf), upper=False) / sn
        S = L.linalg.cholesky(L.eye(m, dtype=L.float64) + P @ P.T)
        w = L.linalg.solve_triangular(S, P @ y.unsqueeze(-1), upper=False) / sn
        fit = -0.5 * y.pow(2).sum() / sn ** 2 + 0.5 * w.pow(2).sum()
        logdet = -S.diagonal().log().sum() - n * log_sn
        prior_diag = (2 * log_sf).exp().expand(n)
        trace = -0.5 * (prior_diag.sum() / sn ** 2 - P.pow(2).sum())
        val = -0.5 * n * math.log(2 * math.pi) + logdet + fit + trace
        return val, info, R, S, P, w

    bounds = []
    for _ in range(5):
        opt.zero_grad()
        val, info, *_ = bound()
        (-val).backward()
        opt.step()
        bounds.append(val.item())
    with L.no_grad():
        val, info, R, S, P, w = bound()
        Xs = L.linspace(-3, 3, 7, dtype=L.float64).unsqueeze(-1).repeat(1, 2)
        Kus = _rbf(L, Z, Xs, log_ls, log_sf)
        # prior variance, less what the inducing points explain, plus their own uncertainty
        through_R = L.linalg.solve_triangular(R, Kus, upper=False)
        through_S = L.linalg.solve_triangular(S, through_R, upper=False)
        mean = through_S.T @ w
        var = ((2 * log_sf).exp() - through_R.pow(2).sum(0) + through_S.pow(2).sum(0))
        # the same mean by the dense Sigma = (Kuu + Kuf Kfu / s2)^-1 route
        s2 = (2 * log_sn).exp()
        Kuu = _rbf(L, Z, Z, log_ls, log_sf) + 1e-6 * L.eye(m, dtype=L.float64)
        Kuf = _rbf(L, Z, X, log_ls, log_sf)
        Ls = L.linalg.cholesky(Kuu + Kuf @ Kuf.T / s2)
        mean2 = Kus.T @ L.cholesky_solve((Kuf @ y / s2).unsqueeze(-1), Ls)
        right = L.linalg.solve_triangular(R.T, Kus.T, upper=True, left=False)
    return dict(bounds=bounds, info=info, Z=Z, log_ls=log_ls, log_sn=log_sn, mean=mean,
                var=var, mean2=mean2, right=right)


@program
def gp_classification_laplace_newton_iterations(L):
    """Binary GP classification by the Laplace approximation (Rasmussen and Williams'
    algorithm 3.1): Newton iterations on the latent f with W = pi(1 - pi) from sigmoid,
    B = I + W^1/2 K W^1/2 by Cholesky, a = b - W^1/2 L^T \\ (L \\ (W^1/2 K b)) by two
    triangular solves, the approximate log marginal likelihood and its gradient w.r.t. the
    log length-scale by autograd through the converged (detached then re-linearised) mode;
    predictions by the probit approximation with Normal.cdf."""
    X = _t(L, 24, 2, seed=5)
    yb = (X[:, 0] * X[:, 1] > 0).double() * 2 - 1
    log_ls = L.tensor([0.2], dtype=L.float64, requires_grad=True)
    log_sf = L.tensor(0.5, dtype=L.float64, requires_grad=True)
    K = _rbf(L, X, X, log_ls, log_sf)
    n = X.shape[0]
    f = L.zeros(n, dtype=L.float64)
    Kd = K.detach()
    objs = []
    for _ in range(8):
        pi = L.sigmoid(f)
        W = pi * (1 - pi)
        sW = W.sqrt()
        B = L.eye(n, dtype=L.float64) + sW[:, None] * Kd * sW[None, :]
        Lc = L.linalg.cholesky(B)
        t = (yb + 1) / 2
        b = W * f + (t - pi)
        rhs = L.linalg.solve_triangular(Lc, (sW * (Kd @ b)).unsqueeze(-1), upper=False)
        a = b - sW * L.linalg.solve_triangular(Lc.T, rhs, upper=True).squeeze(-1)
        f = Kd @ a
        objs.append((-0.5 * a @ f + L.nn.functional.logsigmoid(yb * f).sum()).item())
    # the Laplace evidence at the mode, differentiated w.r.t. the kernel's hyper-parameters
    fh = f.detach()
    pi = L.sigmoid(fh)
    sW = (pi * (1 - pi)).sqrt()
    B = L.eye(n, dtype=L.float64) + sW[:, None] * K * sW[None, :]
    Lc = L.linalg.cholesky(B)
    alpha = L.linalg.solve(K + 1e-8 * L.eye(n, dtype=L.float64), fh)
    logZ = (-0.5 * alpha @ fh + L.nn.functional.logsigmoid(yb * fh).sum()
            - Lc.diagonal().log().sum())
    logZ.backward()
    Xs = _t(L, 5, 2, seed=6)
    ks = _rbf(L, X, Xs, log_ls.detach(), log_sf.detach())
    mean = ks.T @ (((yb + 1) / 2) - pi)
    v = L.linalg.solve_triangular(Lc.detach(), sW[:, None] * ks, upper=False)
    var = (2 * log_sf.detach()).exp() - v.pow(2).sum(0)
    prob = L.distributions.Normal(0.0, 1.0).cdf(mean / (1 + var).sqrt())
    return dict(objs=objs, f=f, logZ=logZ, g_ls=log_ls.grad, g_sf=log_sf.grad, prob=prob)


# ----------------------------------------------------------------------------------------------
# Bayesian networks
# ----------------------------------------------------------------------------------------------
@program
def bayesian_mlp_local_reparameterisation(L):
    """A Bayes-by-backprop MLP with the local reparameterisation trick: the pre-activations'
    mean x W_mu^T and variance x^2 sigma^2^T with sigma = softplus(rho) (F.softplus with beta
    and threshold), noise drawn by randn_like after manual_seed, the KL of the factorised
    posterior to a scale-mixture-free Normal prior by kl_divergence(Normal, Normal) summed;
    an ELBO trained by Adam, then predictive mean, epistemic variance and a Normal.log_prob
    of held-out data averaged over 16 forward draws."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions

    class BayesLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.mu = nn.Parameter(L.empty(o, i, dtype=L.float64).uniform_(-0.3, 0.3))
            self.rho = nn.Parameter(L.full((o, i), -4.0, dtype=L.float64))
            self.bmu = nn.Parameter(L.zeros(o, dtype=L.float64))
            self.brho = nn.Parameter(L.full((o,), -4.0, dtype=L.float64))

        def forward(self, x):
            sw, sb = F.softplus(self.rho, beta=2.0, threshold=10.0), F.softplus(self.brho)
            m = F.linear(x, self.mu, self.bmu)
            v = F.linear(x.pow(2), sw.pow(2), sb.pow(2))
            return m + v.sqrt() * L.randn_like(m)

        def kl(self):
            prior = D.Normal(L.zeros(()), L.ones(()))
            q_w = D.Normal(self.mu, F.softplus(self.rho, beta=2.0, threshold=10.0))
            q_b = D.Normal(self.bmu, F.softplus(self.brho))
            return (D.kl_divergence(q_w, prior.expand(self.mu.shape)).sum()
                    + D.kl_divergence(q_b, prior).sum())

    L.manual_seed(4)
    l1, l2 = BayesLinear(1, 16), BayesLinear(16, 1)
    log_noise = nn.Parameter(L.tensor(-1.0, dtype=L.float64))
    params = list(l1.parameters()) + list(l2.parameters()) + [log_noise]
    opt = L.optim.Adam(params, lr=0.02)
    x = L.linspace(-2, 2, 32, dtype=L.float64).unsqueeze(-1)
    y = x.pow(3) / 4 + _t(L, 32, 1, scale=0.1, seed=7)
    elbos = []
    for _ in range(6):
        opt.zero_grad()
        pred = l2(L.tanh(l1(x)))
        nll = -D.Normal(pred, log_noise.exp()).log_prob(y).sum()
        loss = nll + (l1.kl() + l2.kl()) / 4
        loss.backward()
        opt.step()
        elbos.append(-loss.item())
    with L.no_grad():
        xs = L.linspace(-2.5, 2.5, 6, dtype=L.float64).unsqueeze(-1)
        draws = L.stack([l2(L.tanh(l1(xs))) for _ in range(16)])
        mean, epi = draws.mean(0), draws.var(0, unbiased=True)
        lp = D.Normal(draws, log_noise.exp()).log_prob(xs.pow(3) / 4)
        pred_lp = L.logsumexp(lp, dim=0) - math.log(16)
    return dict(elbos=elbos, mean=mean, epi=epi, pred_lp=pred_lp, rho=l1.rho.grad)


@program
def mc_dropout_predictive_entropy_and_mutual_information(L):
    """MC dropout for classification: a network trained with dropout, then kept in train
    mode for 20 stochastic passes (F.dropout with training=True inside the model and
    nn.Dropout in train()), the predictive entropy of the averaged softmax, the expected
    entropy by special.entr and the mutual information (BALD), uncertain points ranked by
    topk; AlphaDropout and Dropout1d's masks drawn from the same generator beside them."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(12)
    net = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 32),
                        nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3)).double()
    X = _t(L, 40, 2, seed=9)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(net(X), y).backward()
        opt.step()
    net.train()
    Xs = _t(L, 8, 2, seed=10)
    with L.no_grad():
        probs = L.stack([F.softmax(net(Xs), dim=-1) for _ in range(20)])
    pbar = probs.mean(0)
    H = L.special.entr(pbar).sum(-1)
    EH = L.special.entr(probs).sum(-1).mean(0)
    bald = H - EH
    top = bald.topk(3)
    ad = nn.AlphaDropout(0.2)(L.ones(2, 5, dtype=L.float64))
    d1 = nn.Dropout1d(0.5)(L.ones(2, 3, 4, dtype=L.float64))
    return dict(pbar=pbar, H=H, EH=EH, bald=bald, top_i=top.indices, top_v=top.values,
                ad=ad, d1=d1)


# ----------------------------------------------------------------------------------------------
# flows and variational inference by torch.distributions
# ----------------------------------------------------------------------------------------------
@program
def flows_built_from_distribution_transforms(L):
    """Normalising flows assembled only from torch.distributions.transforms: a learnable
    affine-then-tanh stack (ComposeTransform of AffineTransform with tensors requiring grad,
    TanhTransform, an inverse SigmoidTransform), IndependentTransform lifting the event dim,
    CatTransform and StackTransform applying different maps to slices, ReshapeTransform,
    CumulativeDistributionTransform of a Normal, PowerTransform, SoftplusTransform; log_prob
    of TransformedDistribution fitted by Adam, rsample after manual_seed, inverses by .inv
    and log_abs_det_jacobian, plus StickBreakingTransform and CorrCholeskyTransform reached by
    biject_to of their constraints."""
    D = L.distributions
    T = D.transforms
    loc = L.zeros(2, dtype=L.float64, requires_grad=True)
    log_scale = L.zeros(2, dtype=L.float64, requires_grad=True)
    base = D.Independent(D.Normal(L.zeros(2, dtype=L.float64), L.ones(2, dtype=L.float64)), 1)
    data = L.tanh(_t(L, 50, 2, scale=0.6, seed=11) + L.tensor([0.3, -0.2], dtype=L.float64))
    opt = L.optim.Adam([loc, log_scale], lr=0.05)
    nlls = []
    for _ in range(6):
        flow = T.ComposeTransform([
            T.IndependentTransform(T.AffineTransform(loc, log_scale.exp()), 1),
            T.IndependentTransform(T.TanhTransform(), 1)])
        dist = D.TransformedDistribution(base, [flow])
        opt.zero_grad()
        nll = -dist.log_prob(data).mean()
        nll.backward()
        opt.step()
        nlls.append(nll.item())
    L.manual_seed(3)
    samples = dist.rsample((4,))
    z = flow.inv(samples)
    ladj = flow.log_abs_det_jacobian(z, samples)
    # slices transformed differently
    cat = T.CatTransform([T.ExpTransform(), T.SigmoidTransform(), T.SoftplusTransform()],
                         dim=-1, lengths=[1, 2, 1])
    stack = T.StackTransform([T.PowerTransform(L.tensor(2.0, dtype=L.float64)),
                              T.AffineTransform(1.0, 3.0)], dim=0)
    x = _t(L, 3, 4, scale=0.5, seed=12)
    cx = cat(x)
    sx = stack(x[:2].abs())
    resh = T.ReshapeTransform((4,), (2, 2))
    cdf = T.CumulativeDistributionTransform(D.Normal(L.tensor(0.0, dtype=L.float64),
                                                     L.tensor(2.0, dtype=L.float64)))
    sig_inv = T.SigmoidTransform().inv
    u = cdf(x)
    # constrained spaces
    sb = D.constraint_registry.biject_to(D.constraints.simplex)
    cc = D.constraint_registry.biject_to(D.constraints.corr_cholesky)
    v = _t(L, 3, scale=0.5, seed=13).requires_grad_()
    simplex = sb(v)
    w6 = _t(L, 6, scale=0.4, seed=14)
    Lcorr = cc(w6)
    ld = sb.log_abs_det_jacobian(v, simplex)
    ld.backward()
    return dict(nlls=nlls, loc=loc, log_scale=log_scale, samples=samples, z=z, ladj=ladj,
                cx=cx, cat_ladj=cat.log_abs_det_jacobian(x, cx), cat_inv=cat.inv(cx), sx=sx,
                stack_ladj=stack.log_abs_det_jacobian(x[:2].abs(), sx),
                resh=resh(x[:, :4]), resh_ev=(resh.domain.event_dim, resh.codomain.event_dim),
                u=u, u_ladj=cdf.log_abs_det_jacobian(x, u), back=cdf.inv(u),
                logit=sig_inv(L.tensor([0.2, 0.7], dtype=L.float64)),
                simplex=simplex, ld=ld, vg=v.grad, back_simplex=sb.inv(simplex),
                Lcorr=Lcorr, rows=Lcorr.pow(2).sum(-1), cc_ladj=cc.log_abs_det_jacobian(w6, Lcorr),
                cc_inv=cc.inv(Lcorr), sign=(flow.sign, cat.bijective, stack.event_dim))


@program
def vi_full_rank_and_low_rank_gaussians(L):
    """Variational inference for Bayesian logistic regression with a full-rank Gaussian
    q = MultivariateNormal(mu, scale_tril=tril(raw, -1) + diag(softplus)), built by
    tril_indices and diag_embed, the ELBO by rsample((8,)) after manual_seed and an analytic
    kl_divergence to the MultivariateNormal prior; then a LowRankMultivariateNormal q with
    cov_factor and cov_diag fitted the same way (its log_prob, entropy, variance and
    kl_divergence against the full-rank one), and an Independent Normal for contrast."""
    D, F = L.distributions, L.nn.functional
    X = _t(L, 30, 3, seed=15)
    w_true = L.tensor([1.5, -1.0, 0.5], dtype=L.float64)
    y = (X @ w_true + _t(L, 30, scale=0.5, seed=16) > 0).double()
    d = 3
    prior = D.MultivariateNormal(L.zeros(d, dtype=L.float64), 2.0 * L.eye(d, dtype=L.float64))
    mu = L.zeros(d, dtype=L.float64, requires_grad=True)
    raw_off = L.zeros(d * (d - 1) // 2, dtype=L.float64, requires_grad=True)
    raw_diag = L.full((d,), -1.0, dtype=L.float64, requires_grad=True)
    rows, cols = L.tril_indices(d, d, offset=-1)
    opt = L.optim.Adam([mu, raw_off, raw_diag], lr=0.05)
    L.manual_seed(8)
    elbos = []

    def ll(w):
        return -F.binary_cross_entropy_with_logits(w @ X.T, y.expand(w.shape[0], -1),
                                                   reduction="none").sum(-1)

    for _ in range(6):
        tril = L.zeros(d, d, dtype=L.float64).index_put((rows, cols), raw_off)
        tril = tril + L.diag_embed(F.softplus(raw_diag))
        q = D.MultivariateNormal(mu, scale_tril=tril)
        opt.zero_grad()
        elbo = ll(q.rsample((8,))).mean() - D.kl_divergence(q, prior)
        (-elbo).backward()
        opt.step()
        elbos.append(elbo.item())
    cf = L.full((d, 2), 0.1, dtype=L.float64).requires_grad_()
    cd_raw = L.zeros(d, dtype=L.float64, requires_grad=True)
    mu2 = mu.detach().clone().requires_grad_()
    opt2 = L.optim.Adam([cf, cd_raw, mu2], lr=0.05)
    elbos2 = []
    for _ in range(5):
        q2 = D.LowRankMultivariateNormal(mu2, cf, F.softplus(cd_raw))
        opt2.zero_grad()
        elbo2 = ll(q2.rsample((8,))).mean() + q2.entropy() + prior.log_prob(q2.rsample((8,))).mean()
        (-elbo2).backward()
        opt2.step()
        elbos2.append(elbo2.item())
    with L.no_grad():
        q = D.MultivariateNormal(mu, scale_tril=tril)
        q2 = D.LowRankMultivariateNormal(mu2, cf, F.softplus(cd_raw))
        pts = _t(L, 4, 3, seed=17)
        out = dict(q_lp=q.log_prob(pts), q2_lp=q2.log_prob(pts), q2_H=q2.entropy(),
                   q2_var=q2.variance, q2_cov=q2.covariance_matrix, q2_prec=q2.precision_matrix,
                   q2_tril=q2.scale_tril, kl_lr_full=D.kl_divergence(q2, q),
                   kl_full_lr=D.kl_divergence(q, q2), kl_lr_lr=D.kl_divergence(q2, q2),
                   q_prec=q.precision_matrix, q_H=q.entropy())
    ind = D.Independent(D.Normal(mu.detach(), tril.detach().diagonal()), 1)
    out.update(elbos=elbos, elbos2=elbos2, mu=mu, tril=tril, cf=cf,
               kl_ind=D.kl_divergence(ind, D.Independent(D.Normal(L.zeros(d, dtype=L.float64),
                                                                   L.ones(d, dtype=L.float64)), 1)))
    return out


@program(rtol=1e-4, atol=1e-6)
def dirichlet_topic_posterior_by_rsample_and_kl(L):
    """A Dirichlet posterior over topic proportions fitted by its rsample (pathwise gradients
    through the Beta marginals) and the analytic kl_divergence(Dirichlet, Dirichlet) to an
    expanded prior, the concentrations through softplus; its mean, variance, entropy and
    log_prob after.  PyTorch evaluates the pathwise gradient by closed-form approximations
    (relative error ~1e-4) where minigrad sums its series exactly, hence the tolerance."""
    D, F = L.distributions, L.nn.functional
    counts = L.tensor([[5.0, 1.0, 0.0, 2.0], [0.0, 3.0, 4.0, 1.0]], dtype=L.float64)
    raw = L.zeros(2, 4, dtype=L.float64, requires_grad=True)
    prior = D.Dirichlet(L.full((4,), 0.5, dtype=L.float64))
    opt = L.optim.Adam([raw], lr=0.1)
    L.manual_seed(21)
    elbos = []
    for _ in range(5):
        q = D.Dirichlet(F.softplus(raw) + 0.1)
        theta = q.rsample((6,))
        ll = (counts * theta.clamp_min(1e-12).log()).sum(-1).mean(0).sum()
        elbo = ll - D.kl_divergence(q, prior.expand((2,))).sum()
        opt.zero_grad()
        (-elbo).backward()
        opt.step()
        elbos.append(elbo.item())
    q = D.Dirichlet(F.softplus(raw.detach()) + 0.1)
    return dict(elbos=elbos, q_mean=q.mean, q_var=q.variance, H=q.entropy(),
                lp=q.log_prob(theta.detach()[0]), g=raw.grad, theta=theta)


@program
def mixture_same_family_gaussians_fitted_by_adam(L):
    """A MixtureSameFamily of 2-d Gaussians (Categorical logits, Independent Normal
    components) fitted by Adam to two blobs: its log_prob, mean and variance, sample() after
    manual_seed, and posterior component responsibilities by the components' log_prob
    against the mixture's; a mixture of MultivariateNormals with a shared batch dim beside
    it (log_prob, mean, variance and sample), and the batch and event shapes."""
    D = L.distributions
    data = L.cat([_t(L, 20, 2, scale=0.4, seed=22) + 2, _t(L, 20, 2, scale=0.6, seed=23) - 1])
    logits = L.zeros(3, dtype=L.float64, requires_grad=True)
    locs = _t(L, 3, 2, seed=24).requires_grad_()
    log_sc = L.zeros(3, 2, dtype=L.float64, requires_grad=True)
    opt = L.optim.Adam([logits, locs, log_sc], lr=0.1)
    nlls = []
    for _ in range(8):
        mix = D.MixtureSameFamily(D.Categorical(logits=logits),
                                  D.Independent(D.Normal(locs, log_sc.exp()), 1))
        nll = -mix.log_prob(data).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
        nlls.append(nll.item())
    L.manual_seed(5)
    with L.no_grad():
        samp = mix.sample((5,))
        comp_lp = mix.component_distribution.log_prob(data[:6].unsqueeze(-2))
        resp = (comp_lp + mix.mixture_distribution.logits
                - mix.log_prob(data[:6]).unsqueeze(-1)).exp()
    A = _t(L, 2, 3, 2, 2, scale=0.5, seed=25)
    cov = A @ A.mT + 0.5 * L.eye(2, dtype=L.float64)
    mvm = D.MixtureSameFamily(D.Categorical(probs=L.softmax(_t(L, 2, 3, seed=26), -1)),
                              D.MultivariateNormal(_t(L, 2, 3, 2, seed=27), cov))
    L.manual_seed(6)
    return dict(nlls=nlls, samp=samp, mean=mix.mean, var=mix.variance, resp=resp,
                shapes=(tuple(mix.batch_shape), tuple(mix.event_shape)),
                mvm_lp=mvm.log_prob(data[:4].unsqueeze(-2)), mvm_mean=mvm.mean,
                mvm_var=mvm.variance, mvm_samp=mvm.sample((3,)),
                mvm_shapes=(tuple(mvm.batch_shape), tuple(mvm.event_shape)))

# ----------------------------------------------------------------------------------------------
# state-space models and optimal transport
# ----------------------------------------------------------------------------------------------
@program
def batched_kalman_filter_rts_smoother_and_likelihood_gradient(L):
    """A constant-velocity Kalman filter run over a batch of tracks at once: predict with
    F P F^T + Q by matmul over the batch, innovations' covariance S, the gain by
    linalg.solve(S, H P^T).mT (no inverse), the Joseph-form covariance update, the
    log-likelihood by MultivariateNormal(zeros, S).log_prob of the innovations; then the
    Rauch-Tung-Striebel smoother backwards (gain by cholesky_solve) and the likelihood's
    gradient w.r.t. the log process and measurement noise, a few Adam steps on them."""
    D = L.distributions
    B, T, dt = 3, 8, 0.5
    Fm = L.tensor([[1, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=L.float64)
    Hm = L.tensor([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=L.float64)
    truth = L.cumsum(_t(L, B, T, 2, scale=0.3, seed=30), dim=1)
    obs = truth + _t(L, B, T, 2, scale=0.2, seed=31)
    log_q = L.tensor(-2.0, dtype=L.float64, requires_grad=True)
    log_r = L.tensor(-1.0, dtype=L.float64, requires_grad=True)
    I4 = L.eye(4, dtype=L.float64)

    def run(log_q, log_r, smooth=False):
        Q = log_q.exp() * L.tensor([[dt ** 3 / 3, 0, dt ** 2 / 2, 0], [0, dt ** 3 / 3, 0, dt ** 2 / 2],
                                    [dt ** 2 / 2, 0, dt, 0], [0, dt ** 2 / 2, 0, dt]],
                                   dtype=L.float64)
        R = log_r.exp() * L.eye(2, dtype=L.float64)
        m = L.cat([obs[:, 0], L.zeros(B, 2, dtype=L.float64)], dim=-1)
        P = L.eye(4, dtype=L.float64).repeat(B, 1, 1)
        ll = 0.0
        ms, Ps, mps, Pps = [], [], [], []
        for t in range(T):
            mp = m @ Fm.T
            Pp = Fm @ P @ Fm.T + Q
            v = obs[:, t] - mp @ Hm.T
            S = Hm @ Pp @ Hm.T + R
            K = L.linalg.solve(S, Hm @ Pp.mT).mT
            m = mp + (K @ v.unsqueeze(-1)).squeeze(-1)
            IKH = I4 - K @ Hm
            P = IKH @ Pp @ IKH.mT + K @ R @ K.mT
            ll = ll + D.MultivariateNormal(L.zeros(2, dtype=L.float64), S).log_prob(v)
            ms.append(m)
            Ps.append(P)
            mps.append(mp)
            Pps.append(Pp)
        if not smooth:
            return ll.sum()
        msm, Psm = [ms[-1]], [Ps[-1]]
        for t in range(T - 2, -1, -1):
            Lp = L.linalg.cholesky(Pps[t + 1])
            G = L.cholesky_solve(Fm @ Ps[t], Lp).mT
            mt = ms[t] + ((msm[0] - mps[t + 1]).unsqueeze(1) @ G.mT).squeeze(1)
            Pt = Ps[t] + G @ (Psm[0] - Pps[t + 1]) @ G.mT
            msm.insert(0, mt)
            Psm.insert(0, Pt)
        return ll.sum(), L.stack(ms, 1), L.stack(msm, 1), L.stack(Psm, 1)

    ll, filt, smth, Psm = run(log_q, log_r, smooth=True)
    ll.backward()
    g = (log_q.grad.clone(), log_r.grad.clone())
    opt = L.optim.Adam([log_q, log_r], lr=0.1)
    lls = []
    for _ in range(2):
        opt.zero_grad()
        nll = -run(log_q, log_r)
        nll.backward()
        opt.step()
        lls.append(-nll.item())
    err_f = (filt[..., :2] - truth).pow(2).mean()
    err_s = (smth[..., :2] - truth).pow(2).mean()
    return dict(ll=ll, filt=filt, smth=smth, Psm=Psm[:, ::3], g=g, lls=lls, log_q=log_q,
                log_r=log_r, smoother_helps=bool(err_s < err_f))


def _sinkhorn_log(L, x, y, a, b, eps, iters, f=None, g=None, rho=None):
    C = L.cdist(x, y) ** 2 / 2
    f = L.zeros_like(a) if f is None else f
    g = L.zeros_like(b) if g is None else g
    damp = 1.0 if rho is None else rho / (rho + eps)
    for _ in range(iters):
        f = -damp * eps * L.logsumexp((g.unsqueeze(-2) - C) / eps + b.log().unsqueeze(-2), -1)
        g = -damp * eps * L.logsumexp((f.unsqueeze(-1) - C) / eps + a.log().unsqueeze(-1), -2)
    logP = (f.unsqueeze(-1) + g.unsqueeze(-2) - C) / eps + a.log().unsqueeze(-1) + b.log().unsqueeze(-2)
    return f, g, logP, C


@program
def log_domain_sinkhorn_eps_scaling_unbalanced_and_debiased(L):
    """Entropic optimal transport in the log domain, batched over pairs of clouds: dual
    potentials by alternating logsumexp updates, epsilon-scaling from 1.0 down to 0.05 with
    warm starts, the plan's marginals, the primal cost by exp of the log plan; unbalanced OT
    with a KL marginal penalty (the rho / (rho + eps) damping of the updates); the debiased
    Sinkhorn divergence S(a,b) - (S(a,a) + S(b,b)) / 2 by dual values; its gradient w.r.t. the
    source points (through the unrolled loop) used for a few steps of a gradient flow."""
    x = _t(L, 2, 9, 2, seed=32)
    y = _t(L, 2, 7, 2, scale=0.7, seed=33) + 1.0
    a = L.softmax(_t(L, 2, 9, seed=34), -1)
    b = L.full((2, 7), 1 / 7, dtype=L.float64)
    f = g = None
    for eps in (1.0, 0.5, 0.2, 0.1, 0.05):
        f, g, logP, C = _sinkhorn_log(L, x, y, a, b, eps, 20, f, g)
    P = logP.exp()
    cost = (P * C).sum((-2, -1))
    fu, gu, logPu, _ = _sinkhorn_log(L, x, y, a, b, 0.1, 40, rho=1.0)
    Pu = logPu.exp()

    def divergence(xs):
        def dual(p, q, wp, wq):
            fp, gq, _, _ = _sinkhorn_log(L, p, q, wp, wq, 0.1, 30)
            return (fp * wp).sum(-1) + (gq * wq).sum(-1)
        return dual(xs, y, a, b) - 0.5 * dual(xs, xs, a, a) - 0.5 * dual(y, y, b, b)

    xs = x.clone().requires_grad_()
    flow = []
    for _ in range(3):
        S = divergence(xs)
        gx, = L.autograd.grad(S.sum(), xs)
        with L.no_grad():
            xs -= 2.0 * gx / a.unsqueeze(-1)
        flow.append(S.detach())
    return dict(f=f, g=g, row=P.sum(-1) - a, col=P.sum(-2) - b, cost=cost, Pu_mass=Pu.sum((-2, -1)),
                fu=fu, flow=L.stack(flow), xs=xs, gx=gx)


# ----------------------------------------------------------------------------------------------
# score-based models
# ----------------------------------------------------------------------------------------------
@program
def sliced_score_matching_and_annealed_langevin(L):
    """Sliced score matching (Song et al. 2019) for a score network s(x): random projections
    v drawn by randn_like after manual_seed (and Rademacher ones by randint * 2 - 1), the
    loss v^T (ds/dx) v + (v^T s)^2 / 2 with the Jacobian-vector product by autograd.grad of
    (s * v).sum() with create_graph, trained by Adam; the exact trace of the Jacobian by a
    loop over dims beside it (the loss with variance reduction); then annealed Langevin
    dynamics over a geometric noise ladder with a noise-conditional score (sigma as an
    input), step sizes alpha_i = eps sigma_i^2 / sigma_L^2, seeded noise."""
    net = tanh_mlp(L, [3, 24, 24, 2], seed=13)
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    data = L.cat([_t(L, 20, 2, scale=0.3, seed=35) + 1, _t(L, 20, 2, scale=0.3, seed=36) - 1])
    L.manual_seed(9)
    losses = []
    for it in range(4):
        sigma = 0.5
        x = (data + sigma * L.randn_like(data)).requires_grad_()
        s = net(L.cat([x, L.full_like(x[:, :1], sigma)], -1))
        v = L.randn_like(x) if it % 2 == 0 else (L.randint(0, 2, x.shape).double() * 2 - 1)
        gv, = L.autograd.grad((s * v).sum(), x, create_graph=True)
        loss = ((gv * v).sum(-1) + 0.5 * (s * v).sum(-1).pow(2)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    x = data[:10].clone().requires_grad_()
    s = net(L.cat([x, L.full_like(x[:, :1], 0.5)], -1))
    tr = sum(L.autograd.grad(s[:, i].sum(), x, create_graph=True)[0][:, i] for i in range(2))
    exact = (tr + 0.5 * s.pow(2).sum(-1)).mean()
    exact.backward()
    sigmas = L.exp(L.linspace(math.log(1.0), math.log(0.05), 5, dtype=L.float64))
    L.manual_seed(10)
    xk = L.rand(8, 2, dtype=L.float64) * 4 - 2
    with L.no_grad():
        for sg in sigmas:
            alpha = 0.1 * sg ** 2 / sigmas[-1] ** 2
            for _ in range(3):
                score = net(L.cat([xk, sg.expand(8, 1)], -1))
                xk = xk + alpha / 2 * score + alpha.sqrt() * L.randn_like(xk) * 0.1
    return dict(losses=losses, exact=exact, g=net[0].weight.grad, xk=xk, sigmas=sigmas)


@program
def ebm_replay_buffer_langevin_contrastive_divergence(L):
    """An energy-based model trained by contrastive divergence as in Du and Mordatch's
    recipe: negatives drawn from a replay buffer by randint, refined by a few Langevin steps
    with autograd.grad w.r.t. the samples only (the weights' requires_grad switched off and
    on), clamped and re-leafed by detach().requires_grad_(); the buffer written back by
    index, the loss with an energy-magnitude regulariser, clip_grad_norm_ and Adam with
    beta1 = 0; then a Langevin chain that writes through .data with a gradient hook."""
    L.manual_seed(1)
    E = L.nn.Sequential(L.nn.Linear(2, 16), L.nn.Softplus(), L.nn.Linear(16, 1)).double()
    opt = L.optim.Adam(E.parameters(), lr=1e-3, betas=(0.0, 0.999))
    data = _t(L, 8, 2, seed=3)
    buf = L.rand(20, 2, dtype=L.float64) * 2 - 1
    losses, norms = [], []
    for _ in range(3):
        idx = L.randint(0, 20, (8,))
        xs = buf[idx].clone().requires_grad_(True)
        for p in E.parameters():
            p.requires_grad_(False)
        for _ in range(5):
            g, = L.autograd.grad(E(xs).sum(), xs)
            xs = (xs - 0.05 * g + 0.01 * L.randn_like(xs)).clamp(-2, 2).detach().requires_grad_(True)
        for p in E.parameters():
            p.requires_grad_(True)
        buf[idx] = xs.detach()
        opt.zero_grad()
        pos, neg = E(data), E(xs.detach())
        loss = pos.mean() - neg.mean() + 0.1 * (pos ** 2 + neg ** 2).mean()
        loss.backward()
        norms.append(L.nn.utils.clip_grad_norm_(E.parameters(), 0.1))
        opt.step()
        losses.append(loss.item())
    x = L.randn(6, 2, dtype=L.float64).requires_grad_(True)
    chain = []
    for k in range(4):
        E(x).sum().backward()
        x.data.add_(-0.1 * x.grad + 0.05 * L.randn_like(x))
        x.grad.zero_()
        chain.append(x.detach().clone())
        if k == 1:
            x.register_hook(lambda g: g.clamp(-0.1, 0.1))
    return dict(losses=losses, norms=norms, buf=buf, w=E[0].weight, chain=L.stack(chain),
                leaf=(x.is_leaf, x.requires_grad))


@program
def ffjord_hutchinson_trace_cnf(L):
    """A continuous normalising flow in FFJORD's manner: the augmented state (z, -log det)
    integrated by RK4 in t from 0 to 1, the divergence of the field estimated by Hutchinson's
    e^T (df/dz) e with a fixed Gaussian e per solve (autograd.grad with create_graph inside
    the solver), the log-likelihood under a standard Normal base and its training by Adam;
    the exact divergence by the Jacobian's trace (autograd.functional.jacobian of a single
    sample, vmap-free) compared at the end."""
    nn = L.nn
    L.manual_seed(14)
    net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2)).double()
    base = L.distributions.Normal(L.tensor(0.0, dtype=L.float64), L.tensor(1.0, dtype=L.float64))
    data = _t(L, 16, 2, scale=0.5, seed=37) + L.tensor([0.5, -0.5], dtype=L.float64)
    opt = L.optim.Adam(net.parameters(), lr=5e-3)

    def field(t, z):
        return net(L.cat([z, L.full_like(z[:, :1], t)], -1))

    def aug(t, z, e):
        with L.enable_grad():
            z = z if z.requires_grad else z.requires_grad_()
            dz = field(t, z)
            ej, = L.autograd.grad(dz, z, grad_outputs=e, create_graph=True)
        return dz, (ej * e).sum(-1)

    def loglik(x, e, steps=4):
        z, dlog = x, L.zeros(x.shape[0], dtype=L.float64)
        h = 1.0 / steps
        for i in range(steps):
            t = i * h
            k1 = aug(t, z, e)
            k2 = aug(t + h / 2, z + h / 2 * k1[0], e)
            k3 = aug(t + h / 2, z + h / 2 * k2[0], e)
            k4 = aug(t + h, z + h * k3[0], e)
            z = z + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
            dlog = dlog + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        return base.log_prob(z).sum(-1) + dlog

    L.manual_seed(15)
    lls = []
    for _ in range(3):
        e = L.randn_like(data)
        ll = loglik(data, e).mean()
        opt.zero_grad()
        (-ll).backward()
        opt.step()
        lls.append(ll.item())
    z0 = data[0]
    J = L.autograd.functional.jacobian(lambda z: field(0.3, z.unsqueeze(0)).squeeze(0), z0)
    zb = data[:1].clone().requires_grad_()
    e = L.eye(2, dtype=L.float64)
    hutch_exact = sum(aug(0.3, zb, e[i:i + 1])[1] for i in range(2))
    return dict(lls=lls, J=J, trace=J.trace(), hutch_exact=hutch_exact,
                w=net[2].weight)


# ----------------------------------------------------------------------------------------------
# physics-informed networks
# ----------------------------------------------------------------------------------------------
@program
def pinn_kdv_third_order_and_mixed_derivatives(L):
    """A physics-informed net for the Korteweg-de Vries equation u_t + 6 u u_x + u_xxx = 0:
    the third derivative in x by three nested autograd.grad calls with create_graph (sum of
    outputs, then grad_outputs=ones_like), the initial condition of a soliton and periodic
    boundary terms, trained by Adam then two LBFGS steps with a closure; a wave equation's
    mixed derivative u_xt on the same net by grad of a column of the gradient, and a
    Laplacian by the trace of autograd.functional.hessian of one point against it."""
    net = tanh_mlp(L, [2, 20, 20, 1], seed=16)
    L.manual_seed(17)
    xt = L.rand(40, 2, dtype=L.float64) * L.tensor([4.0, 1.0], dtype=L.float64) \
        - L.tensor([2.0, 0.0], dtype=L.float64)
    x0 = L.linspace(-2, 2, 20, dtype=L.float64)
    u0 = 0.5 / L.cosh(0.5 * x0) ** 2
    tb = L.linspace(0, 1, 10, dtype=L.float64)

    def residual(xt):
        xt = xt.clone().requires_grad_(True)
        u = net(xt)
        g, = L.autograd.grad(u.sum(), xt, create_graph=True)
        u_x, u_t = g[:, :1], g[:, 1:]
        u_xx, = L.autograd.grad(u_x, xt, grad_outputs=L.ones_like(u_x), create_graph=True)
        u_xxx, = L.autograd.grad(u_xx[:, :1].sum(), xt, create_graph=True)
        return u_t + 6 * u * u_x + u_xxx[:, :1]

    def loss_fn():
        r = residual(xt)
        ic = net(L.stack([x0, L.zeros_like(x0)], -1)).squeeze(-1) - u0
        left = net(L.stack([L.full_like(tb, -2.0), tb], -1))
        right = net(L.stack([L.full_like(tb, 2.0), tb], -1))
        return r.pow(2).mean() + 10 * ic.pow(2).mean() + (left - right).pow(2).mean()

    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    lbfgs = L.optim.LBFGS(net.parameters(), lr=0.5, max_iter=4, history_size=5)

    def closure():
        lbfgs.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    for _ in range(2):
        losses.append(lbfgs.step(closure).item())
    p = xt[:5].clone().requires_grad_()
    u = net(p)
    g, = L.autograd.grad(u.sum(), p, create_graph=True)
    u_xt, = L.autograd.grad(g[:, 0].sum(), p, retain_graph=True)
    H = L.autograd.functional.hessian(lambda z: net(z.unsqueeze(0)).squeeze(), p[0].detach())
    u_xx_t, = L.autograd.grad(g[:, 0].sum(), p)
    return dict(losses=losses, r=residual(xt[:6]), u_xt=u_xt[:, 1], H=H, lap=H.trace(),
                u_xx=u_xx_t[:, 0], w=net[0].weight)


# ----------------------------------------------------------------------------------------------
# kernels between samples
# ----------------------------------------------------------------------------------------------
@program
def svgd_rbf_kernel_with_median_bandwidth(L):
    """Stein variational gradient descent towards a banana-shaped target: particles' pairwise
    squared distances by cdist, the median heuristic for the bandwidth (median of the upper
    triangle by triu_indices), the kernel's gradient by autograd.grad of its sum w.r.t. the
    particles (first order through cdist's own kernel), the target's score by autograd.grad
    of log_prob, and the phi update; then pdist's gradient against cdist's upper triangle."""
    D = L.distributions
    base = D.MultivariateNormal(L.zeros(2, dtype=L.float64),
                                L.tensor([[1.0, 0.5], [0.5, 1.0]], dtype=L.float64))

    def log_p(x):
        y = L.stack([x[:, 0], x[:, 1] + 0.5 * x[:, 0] ** 2 - 1.0], -1)
        return base.log_prob(y)

    x = _t(L, 12, 2, seed=40)
    n = x.shape[0]
    iu = L.triu_indices(n, n, offset=1)
    trace = []
    for _ in range(6):
        xg = x.clone().requires_grad_()
        score, = L.autograd.grad(log_p(xg).sum(), xg)
        xk = x.clone().requires_grad_()
        d2 = L.cdist(xk, x.detach()) ** 2
        h = d2.detach()[iu[0], iu[1]].median() / math.log(n + 1)
        K = L.exp(-d2 / h)
        gradK, = L.autograd.grad(K.sum(), xk)
        phi = (K.detach() @ score + gradK) / n
        x = x + 0.3 * phi
        trace.append(log_p(x).mean().item())
    xp = x.clone().requires_grad_()
    pd = L.pdist(xp, p=1.5)
    pd.pow(2).sum().backward()
    return dict(x=x, trace=trace, h=h, pd=pd, g=xp.grad,
                same=L.allclose(pd, L.cdist(x, x, p=1.5)[iu[0], iu[1]]))


@program
def mmd_critic_gradient_penalty_meets_cdist_kernel(L):
    """An MMD-GAN style critic: features by a small net, an RBF mixture kernel on cdist of
    the features, the unbiased MMD^2; the gradient penalty on interpolates by autograd.grad
    with create_graph, cdist by matrix products (compute_mode='use_mm_for_euclid_dist': with
    at most 25 rows PyTorch's cdist otherwise runs its own kernel, whose backward it cannot
    differentiate; minigrad's can be, see test_distance_second_derivatives below)."""
    nn = L.nn
    L.manual_seed(18)
    f = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 4)).double()
    real = _t(L, 10, 3, seed=41) + 1.0
    fake = _t(L, 10, 3, seed=42)

    def mmd(a, b, mode):
        fa, fb = f(a), f(b)
        z = L.cat([fa, fb])
        d2 = L.cdist(z, z, compute_mode=mode) ** 2
        K = sum(L.exp(-d2 / (2 * s * s)) for s in (0.5, 1.0, 2.0))
        m = a.shape[0]
        Kxx, Kyy, Kxy = K[:m, :m], K[m:, m:], K[:m, m:]
        off = 1 - L.eye(m, dtype=L.float64)
        return ((Kxx * off).sum() + (Kyy * off).sum()) / (m * (m - 1)) - 2 * Kxy.mean()

    def penalty(mode):
        L.manual_seed(19)
        eps = L.rand(10, 1, dtype=L.float64)
        inter = (eps * real + (1 - eps) * fake).requires_grad_()
        out = mmd(inter, fake, mode)
        g, = L.autograd.grad(out, inter, create_graph=True)
        return (g.norm(dim=1) - 1).pow(2).mean()

    opt = L.optim.Adam(f.parameters(), lr=1e-2)
    vals = []
    for _ in range(3):
        opt.zero_grad()
        loss = -mmd(real, fake, "use_mm_for_euclid_dist") + 0.1 * penalty("use_mm_for_euclid_dist")
        loss.backward()
        opt.step()
        vals.append(loss.item())
    return dict(vals=vals, w=f[0].weight,
                first=mmd(real, fake, "donot_use_mm_for_euclid_dist"))


@program
def predictive_intervals_with_float32_probabilities(L):
    """A heteroscedastic regressor's float64 predictive Normal queried the way notebooks do,
    with probabilities written as torch.tensor([0.025, 0.5, 0.975]) (float32): icdf,
    HalfNormal's icdf of the absolute error, LogNormal and Laplace quantiles, coverage of the
    intervals and the pinball loss of the quantiles; the float32 probabilities meet the
    float64 scale in PyTorch's order of operations."""
    D = L.distributions
    mu = _t(L, 8, scale=0.5, seed=43)
    sigma = _t(L, 8, scale=0.3, seed=44).exp()
    y = mu + sigma * _t(L, 8, seed=45)
    q = L.tensor([0.025, 0.5, 0.975])
    pred = D.Normal(mu.unsqueeze(-1), sigma.unsqueeze(-1))
    quant = pred.icdf(q)
    inside = ((y >= quant[:, 0]) & (y <= quant[:, 2])).double().mean()
    err_q = D.HalfNormal(sigma.unsqueeze(-1)).icdf(q[1:2] + 0.45)
    ln_q = D.LogNormal(mu.unsqueeze(-1), sigma.unsqueeze(-1)).icdf(q)
    lap = D.Laplace(mu.unsqueeze(-1), sigma.unsqueeze(-1)).icdf(q)
    diff = y.unsqueeze(-1) - quant
    pinball = L.maximum(q * diff, (q - 1) * diff).mean()
    return dict(quant=quant, inside=inside, err_q=err_q, ln=ln_q, lap=lap, pinball=pinball,
                dtypes=(str(quant.dtype), str(err_q.dtype)))


@program
def transform_shapes_and_supports(L):
    """Shape bookkeeping of transforms as flow libraries use it: forward_shape and
    inverse_shape of CorrCholesky, StickBreaking, Reshape and Affine (a tuple stays a tuple,
    a Size stays a Size), the event dims of domains and codomains, the support of a
    TransformedDistribution (its repr) and LKJCholesky's log_prob of a CorrCholesky image."""
    D = L.distributions
    T = D.transforms
    cc, sb = T.CorrCholeskyTransform(), T.StickBreakingTransform()
    r = T.ReshapeTransform((6,), (2, 3))
    af = T.AffineTransform(L.zeros(3, dtype=L.float64), 2.0, event_dim=1)
    shapes = [cc.forward_shape((6,)), cc.inverse_shape((4, 4)),
              cc.forward_shape(L.Size([2, 3])), cc.inverse_shape(L.Size([5, 3, 3])),
              sb.forward_shape((5, 3)), sb.inverse_shape(L.Size([5, 4])),
              r.forward_shape((4, 6)), r.inverse_shape(L.Size([4, 2, 3])),
              af.forward_shape((2, 3)), af.inverse_shape(L.Size([1, 3]))]
    kinds = [type(s).__name__ for s in shapes]
    base = D.Independent(D.Normal(_t(L, 3, seed=46), L.ones(3, dtype=L.float64)), 1)
    td = D.TransformedDistribution(base, [cc])
    lkj = D.LKJCholesky(3, L.tensor([0.5, 2.0], dtype=L.float64))
    Lc = cc(_t(L, 4, 3, scale=0.5, seed=47))
    return dict(shapes=[tuple(s) for s in shapes], kinds=kinds, support=repr(td.support),
                ev=(cc.domain.event_dim, cc.codomain.event_dim, td.event_shape),
                lkj=lkj.log_prob(Lc.unsqueeze(1)), td_lp=td.log_prob(Lc))


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None


# the fixes of this round, each alone
@pytest.mark.parametrize("call", [
    lambda L, a, b: L.cdist(a, b),
    lambda L, a, b: L.cdist(a, b, p=1.0),
    lambda L, a, b: L.cdist(a, b, p=math.inf),
    lambda L, a, b: L.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"),
    lambda L, a, b: L.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
    lambda L, a, b: L.cdist(L.cat([a] * 9), b),
    lambda L, a, b: L.cdist(L.cat([a] * 9), b, p=3.0),
    lambda L, a, b: L.pdist(a),
    lambda L, a, b: L.nn.functional.pdist(a, p=0.5),
    lambda L, a, b: L.dist(a[:3], b),
], ids=["cdist", "p1", "pinf", "donot_mm", "mm", "mm_by_size", "big_p3", "pdist", "pdist_half",
        "dist"])
def test_distance_second_derivatives(call):
    """cdist by its own kernel (p other than 2, or at most 25 rows without forcing matrix
    products) and pdist are differentiable once in PyTorch (differentiating their gradient
    raises NotImplementedError naming _cdist_backward / _pdist_backward); minigrad's
    gradients are made of differentiable ops, so it differentiates them again: the first
    derivative against torch's, the second against central finite differences."""
    def run(L):
        a = L.tensor(normal64(4, 3, seed=1), requires_grad=True)
        b = L.tensor(normal64(3, 3, seed=2), requires_grad=True)
        d = call(L, a, b)
        g = L.autograd.grad(d.pow(2).sum(), (a, b), create_graph=True, allow_unused=True,
                            materialize_grads=True)
        return d, g
    HARNESS.check(run)
    a = minigrad.tensor(normal64(4, 3, seed=1), requires_grad=True)
    b = minigrad.tensor(normal64(3, 3, seed=2), requires_grad=True)
    assert minigrad.autograd.gradgradcheck(lambda a, b: call(minigrad, a, b), (a, b),
                                           atol=1e-5, rtol=1e-4)


def _blocks(J):
    """The tensors of a (possibly nested) Jacobian, in order."""
    return [J] if not isinstance(J, (list, tuple)) else [b for part in J for b in _blocks(part)]


@pytest.mark.parametrize("fn, grad_inputs", [
    (lambda L, w: lambda z: (z * w).sin(), False),
    (lambda L, w: lambda z: z ** 3, True),
    (lambda L, w: lambda z: z ** 3, False),
    (lambda L, w: lambda z, y: ((z * w).exp(), z.sum() * y), True),
    (lambda L, w: lambda z, y: (z * w.detach()).exp() * y.sum(), False),
], ids=["closure", "input", "nothing", "tuple", "detached"])
def test_forward_mode_jacobian_keeps_its_graph(fn, grad_inputs):
    """jacobian(strategy='forward-mode', vectorize=True) is not detached in PyTorch: it
    requires grad through the inputs and through tensors the function closes over, and
    backward through it reaches them; one output's blocks require grad together."""
    def run(L):
        w = L.tensor(normal64(3, seed=3), requires_grad=True)
        x = L.tensor(normal64(3, seed=4), requires_grad=grad_inputs)
        y = L.tensor(normal64(2, seed=5), requires_grad=grad_inputs)
        f = fn(L, w)
        inputs = (x, y) if f.__code__.co_argcount == 2 else x
        J = L.autograd.functional.jacobian(f, inputs, vectorize=True, strategy="forward-mode")
        flat = _blocks(J)
        live = [b for b in flat if b.requires_grad]
        if live and w.requires_grad:
            sum(b.pow(2).sum() for b in live).backward()
        return J, [b.requires_grad for b in flat], w.grad
    HARNESS.check(run)


def test_normal_icdf_of_float32_probabilities_with_float64_scale():
    """Normal.icdf multiplies scale by erfinv(2p - 1) before the factor sqrt 2, as PyTorch:
    a float32 p meets a float64 scale at the same step (HalfNormal and LogNormal inherit)."""
    def run(L):
        D = L.distributions
        s = L.tensor(np.exp(normal64(3, seed=1)))
        p = L.tensor([0.05, 0.3, 0.975])
        return (D.Normal(1.0, s).icdf(p), D.HalfNormal(s).icdf(p),
                D.LogNormal(L.zeros(3, dtype=L.float64), s).icdf(p))
    HARNESS.check(run)
