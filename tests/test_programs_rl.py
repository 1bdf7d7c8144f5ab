"""Reinforcement-learning and probabilistic programs, run on minigrad and on PyTorch.

Each ``program(lib)`` is a short piece of the kind found in policy-gradient, actor-critic,
DQN, PPO and SAC code: losses built from ``torch.distributions`` (Categorical, Normal,
Independent, tanh-squashed Gaussians), returns and advantages computed with loops over time
or with cumsum/flip tricks, TD targets with gather/max/argmax/where, soft target updates,
replay buffers, gradient clipping and optimizers stepping twice per update, and the bad
inputs users of that code hand to it.  It runs with ``lib`` = minigrad and ``lib`` = torch on
the same numpy weights and inputs; the two must give the same values, dtypes and shapes, or
raise the same exception type with torch's words in the message, and emit the same kinds of
warnings.  Random draws are compared by shape and dtype only.
"""
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, dotted, err, registry  # noqa: E402


# ----------------------------------------------------------------------------------------------
# Harness
# ----------------------------------------------------------------------------------------------
HARNESS = SideBySide(
    rename=dotted, rename_error=dotted,
    # float32: rounding differs in the last bits; float16: PyTorch's softmax kernels along an
    # inner dim round on the way (an ulp apart)
    tol={"float16": 1e-3, "float32": 1e-5, "float64": 1e-9}, scalar_tol=(1e-6, 1e-8),
    tag=lambda v: type(v) is list, numpy_scalars=True,
    first_line=True)        # the first line of torch's message, where WORDS names no part


def _check(program):
    return HARNESS.check(program, words=WORDS.get(program.__name__))


PROGRAMS, program = registry()
# the parts of torch's message compared where the rest names its internals (graph node names,
# legacy tensor type names, its own hints)
WORDS = {}
_INPLACE = "one of the variables needed for gradient computation has been modified by an " \
    "inplace operation"


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape)


def _mlp(lib, sizes, seed=0, act="Tanh", dtype="float64"):
    """An MLP whose weights are seeded numpy values (the libraries' init streams differ)."""
    nn = lib.nn
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(getattr(nn, act)())
    net = nn.Sequential(*layers).to(getattr(lib, dtype))
    rng = np.random.RandomState(seed)
    with lib.no_grad():
        for p in net.parameters():
            p.copy_(lib.tensor(rng.randn(*p.shape) * 0.4))
    return net


def _params(net, prefix=""):
    return {prefix + k: v.detach().clone() for k, v in net.state_dict().items()}


def _grads(net, prefix="g_"):
    return {prefix + k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}


OBS = _rand(6, 4, seed=1)
ACTIONS = np.array([0, 2, 1, 1, 0, 2])
REWARDS = np.array([1.0, 0.0, -0.5, 2.0, 1.0, 0.3])
DONES = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 1.0])


# ----------------------------------------------------------------------------------------------
# policy gradients with Categorical
# ----------------------------------------------------------------------------------------------
@program
def reinforce_categorical_logits(lib):
    D = lib.distributions
    net = _mlp(lib, [4, 8, 3])
    opt = lib.optim.Adam(net.parameters(), lr=1e-2)
    obs = lib.tensor(OBS)
    actions = lib.tensor(ACTIONS)
    res = {}
    for it in range(2):
        returns = lib.tensor(_discounted(list(REWARDS)))          # numpy float64 items
        returns = (returns - returns.mean()) / (returns.std() + 1e-8)
        dist = D.Categorical(logits=net(obs))
        logp = dist.log_prob(actions)
        loss = -(logp * returns).sum() - 0.01 * dist.entropy().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        res[f"loss{it}"] = loss
        res[f"logp{it}"] = logp
        res.update(_grads(net, f"g{it}_"))
    res.update(_params(net))
    return res


@program
def categorical_attributes(lib):
    D = lib.distributions
    logits = lib.tensor(_rand(3, 4, seed=2), dtype=lib.float32)
    a = D.Categorical(logits=logits)
    b = D.Categorical(probs=lib.softmax(logits, -1) * 3.0)
    return dict(probs=a.probs, logits=a.logits, b_probs=b.probs, b_logits=b.logits,
                ent=a.entropy(), ent_b=b.entropy(), mode=a.mode, mean=a.mean, var=a.variance,
                batch=a.batch_shape, event=a.event_shape, n=a._num_events,
                support=a.enumerate_support(), support_nx=a.enumerate_support(expand=False),
                lp=a.log_prob(lib.tensor([1, 0, 3])), lp_b=b.log_prob(lib.tensor([[1], [2]])),
                s=a.sample().shape, s2=a.sample((5, 2)).shape, sd=a.sample().dtype,
                p_rg=a.probs.requires_grad, param_shape=a.param_shape)


@program
def categorical_log_softmax_gather_equivalence(lib):
    F = lib.nn.functional
    net = _mlp(lib, [4, 8, 3], seed=3)
    obs = lib.tensor(OBS)
    actions = lib.tensor(ACTIONS)
    logits = net(obs)
    lp1 = F.log_softmax(logits, dim=-1).gather(1, actions.unsqueeze(-1)).squeeze(-1)
    lp2 = lib.distributions.Categorical(logits=logits).log_prob(actions)
    lp3 = lib.log_softmax(logits, 1)[lib.arange(6), actions]
    (lp1.sum() + 2 * lp2.sum() + 3 * lp3.sum()).backward()
    return dict(lp1=lp1, lp2=lp2, lp3=lp3, **_grads(net))


@program
def categorical_action_mask(lib):
    D = lib.distributions
    logits = lib.tensor(_rand(4, 5, seed=4), requires_grad=True)
    mask = lib.tensor(np.array([[1, 1, 0, 1, 0], [0, 0, 0, 1, 0],
                                [1, 1, 1, 1, 1], [1, 0, 1, 0, 1]], dtype=bool))
    masked = logits.masked_fill(~mask, float("-inf"))
    dist = D.Categorical(logits=masked)
    ent = dist.entropy()
    lp = dist.log_prob(lib.tensor([0, 3, 4, 2]))
    masked2 = lib.where(mask, logits, lib.tensor(-1e8, dtype=logits.dtype))
    dist2 = D.Categorical(logits=masked2)
    (ent.sum() + lp.sum() + dist2.entropy().sum()).backward()
    return dict(ent=ent, lp=lp, probs=dist.probs, ent2=dist2.entropy(), g=logits.grad,
                mode=dist.mode)


@program
def categorical_batched_sample_shape(lib):
    D = lib.distributions
    d = D.Categorical(probs=lib.full((2, 3, 4), 0.25))
    s = d.sample((7,))
    lp = d.log_prob(s)
    return dict(s=s.shape, sd=s.dtype, lp=lp.shape, lpd=lp.dtype, lpv=lp[0, 0, 0],
                within=bool(((s >= 0) & (s < 4)).all()), bs=d.batch_shape,
                exp=d.expand((5, 2, 3)).batch_shape, ent=d.entropy())


@program
def categorical_actions_column_broadcast(lib):
    # a classic mistake: actions stored as (B, 1) -> log_prob broadcasts to (B, B)
    d = lib.distributions.Categorical(logits=lib.tensor(_rand(4, 3, seed=5)))
    a = lib.tensor([[0], [2], [1], [1]])
    return dict(lp=d.log_prob(a), lp_sq=d.log_prob(a.squeeze(-1)))


@program
def categorical_float_actions(lib):
    d = lib.distributions.Categorical(logits=lib.tensor(_rand(4, 3, seed=5)))
    return d.log_prob(lib.tensor([0.0, 2.0, 1.0, 1.0]))


@program
def categorical_int32_actions(lib):
    d = lib.distributions.Categorical(logits=lib.tensor(_rand(4, 3, seed=5)))
    return d.log_prob(lib.tensor([0, 2, 1, 1], dtype=lib.int32))


@program
def categorical_out_of_range_validated(lib):
    d = lib.distributions.Categorical(logits=lib.zeros(4, 3), validate_args=True)
    return d.log_prob(lib.tensor([0, 3, 1, 1]))


@program
def categorical_fractional_action_validated(lib):
    d = lib.distributions.Categorical(logits=lib.zeros(4, 3), validate_args=True)
    return d.log_prob(lib.tensor([0.5, 1.0, 1.0, 1.0]))


@program
def categorical_out_of_range_unvalidated(lib):
    d = lib.distributions.Categorical(logits=lib.zeros(4, 3), validate_args=False)
    return d.log_prob(lib.tensor([0, 3, 1, 1]))


@program
def categorical_negative_probs(lib):
    return lib.distributions.Categorical(probs=lib.tensor([0.5, -0.1, 0.6]), validate_args=True)


@program
def categorical_nan_logits(lib):
    return lib.distributions.Categorical(logits=lib.tensor([[0.5, float("nan"), 0.6]]),
                                         validate_args=True)


@program
def categorical_nan_logits_default_validation(lib):
    lib.distributions.Distribution.set_default_validate_args(True)
    return lib.distributions.Categorical(logits=lib.tensor([0.5, float("nan"), 0.6]))


@program
def categorical_both_args(lib):
    return lib.distributions.Categorical(probs=lib.ones(3) / 3, logits=lib.zeros(3))


@program
def categorical_no_args(lib):
    return lib.distributions.Categorical()


@program
def categorical_scalar_logits(lib):
    return lib.distributions.Categorical(logits=lib.tensor(1.0))


@program
def categorical_zero_probs_entropy(lib):
    probs = lib.tensor([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], requires_grad=True)
    d = lib.distributions.Categorical(probs=probs)
    e = d.entropy()
    e.sum().backward()
    return dict(e=e, logits=d.logits, lp=d.log_prob(lib.tensor([0, 0])), g=probs.grad)


@program
def categorical_empty_batch(lib):
    # PyTorch's argument check cannot reshape an empty batch of logits, so the default
    # validation refuses; without it the distribution works on zero rows
    refused = err(lambda: lib.distributions.Categorical(logits=lib.zeros(0, 3)))
    d = lib.distributions.Categorical(logits=lib.zeros(0, 3), validate_args=False)
    return dict(refused=refused, e=d.entropy(), s=d.sample(),
                lp=d.log_prob(lib.zeros(0, dtype=lib.long)), bs=d.batch_shape)


@program
def categorical_kl(lib):
    D = lib.distributions
    p_logits = lib.tensor(_rand(5, 4, seed=6), requires_grad=True)
    q_logits = lib.tensor(_rand(5, 4, seed=7))
    p, q = D.Categorical(logits=p_logits), D.Categorical(logits=q_logits)
    kl = D.kl_divergence(p, q)
    kl2 = D.kl.kl_divergence(q, p)
    (kl.mean() + kl2.mean()).backward()
    manual = (p.probs * (p.logits - q.logits)).sum(-1)
    return dict(kl=kl, kl2=kl2, manual=manual, g=p_logits.grad)


@program
def bernoulli_policy(lib):
    D = lib.distributions
    logits = lib.tensor(_rand(5, seed=8), requires_grad=True)
    d = D.Bernoulli(logits=logits)
    a = lib.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    lp = d.log_prob(a)
    ent = d.entropy()
    (-(lp * lib.arange(5.0, dtype=lib.float64)).sum() - ent.sum()).backward()
    return dict(lp=lp, ent=ent, g=logits.grad, probs=d.probs, s=d.sample((3,)).shape,
                sd=d.sample().dtype)


# ----------------------------------------------------------------------------------------------
# Gaussian policies, squashing, Independent
# ----------------------------------------------------------------------------------------------
class _Actor:
    """A SAC-style actor written against the library it is given."""

    def __init__(self, lib, seed=0):
        self.lib = lib
        self.body = _mlp(lib, [4, 16, 4], seed=seed)

    def parameters(self):
        return self.body.parameters()

    def __call__(self, obs, eps):
        lib = self.lib
        mu, log_std = self.body(obs).chunk(2, dim=-1)
        log_std = lib.clamp(log_std, -20, 2)
        std = log_std.exp()
        normal = lib.distributions.Normal(mu, std)
        u = mu + std * eps                   # rsample with fixed noise
        a = lib.tanh(u)
        logp = normal.log_prob(u).sum(-1)
        logp = logp - lib.log(1 - a.pow(2) + 1e-6).sum(-1)
        return a, logp, mu, std


@program
def sac_squashed_gaussian(lib):
    F = lib.nn.functional
    actor = _Actor(lib)
    opt = lib.optim.Adam(actor.parameters(), lr=3e-4)
    log_alpha = lib.zeros(1, requires_grad=True, dtype=lib.float64)
    a_opt = lib.optim.Adam([log_alpha], lr=3e-4)
    obs = lib.tensor(OBS)
    eps = lib.tensor(_rand(6, 2, seed=9))
    res = {}
    for it in range(2):
        a, logp, mu, std = actor(obs, eps)
        q = -(a - 0.3).pow(2).sum(-1)
        alpha = log_alpha.exp()
        loss = (alpha.detach() * logp - q).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        alpha_loss = -(log_alpha * (logp + (-2.0)).detach()).mean()
        a_opt.zero_grad()
        alpha_loss.backward()
        a_opt.step()
        # the numerically stable form used by SpinningUp
        u = lib.atanh(a.detach().clamp(-0.999, 0.999))
        corr = (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        res.update({f"a{it}": a, f"logp{it}": logp, f"loss{it}": loss, f"al{it}": alpha_loss,
                    f"corr{it}": corr})
    res["log_alpha"] = log_alpha
    res.update(_params(actor.body))
    return res


@program
def sac_tanh_transform_distribution(lib):
    D = lib.distributions
    mu = lib.tensor(_rand(3, 2, seed=10), requires_grad=True)
    log_std = lib.tensor(_rand(3, 2, seed=11) * 0.3, requires_grad=True)
    base = D.Normal(mu, log_std.exp())
    d = D.TransformedDistribution(base, [D.transforms.TanhTransform(cache_size=1)])
    di = D.Independent(d, 1)
    u = mu + log_std.exp() * lib.tensor(_rand(3, 2, seed=12))
    a = lib.tanh(u)
    lp = d.log_prob(a)
    lpi = di.log_prob(a)
    manual = base.log_prob(u) - lib.log(1 - a.pow(2))
    lpi.sum().backward()
    return dict(lp=lp, lpi=lpi, manual=manual, gm=mu.grad, gs=log_std.grad,
                bs=di.batch_shape, es=di.event_shape, rs=di.rsample((4,)).shape,
                has_rs=di.has_rsample, support=str(type(d.support).__name__))


@program
def sac_tanh_then_affine_bounds(lib):
    D = lib.distributions
    T = D.transforms
    mu = lib.tensor(_rand(3, 2, seed=13), requires_grad=True)
    std = lib.tensor(np.abs(_rand(3, 2, seed=14)) + 0.2)
    low, high = lib.tensor([-2.0, 0.0]).double(), lib.tensor([2.0, 1.0]).double()
    tr = [T.TanhTransform(), T.AffineTransform(loc=(high + low) / 2, scale=(high - low) / 2)]
    d = D.Independent(D.TransformedDistribution(D.Normal(mu, std), tr), 1)
    a = lib.tensor([[0.5, 0.2], [-1.5, 0.9], [1.9, 0.01]], dtype=lib.float64)
    lp = d.log_prob(a)
    lp.sum().backward()
    ct = T.ComposeTransform(tr)
    x = lib.tensor(_rand(3, 2, seed=15))
    return dict(lp=lp, g=mu.grad, y=ct(x), inv=ct.inv(ct(x)),
                ladj=ct.log_abs_det_jacobian(x, ct(x)), s=d.sample().shape)


@program
def tanh_transform_edges(lib):
    T = lib.distributions.transforms.TanhTransform()
    y = lib.tensor([-1.0, -0.999999, 0.0, 0.5, 1.0])
    x = lib.tensor([-30.0, -3.0, 0.0, 3.0, 30.0])
    return dict(inv=T.inv(y), ladj=T.log_abs_det_jacobian(x, T(x)), fwd=T(x),
                sign=T.sign, bij=T.bijective, dom=str(T.domain), cod=str(T.codomain))


@program
def normal_rsample_grad(lib):
    D = lib.distributions
    mu = lib.tensor(_rand(3, 2, seed=16), requires_grad=True)
    std = lib.tensor(np.abs(_rand(3, 2, seed=17)) + 0.1, requires_grad=True)
    d = D.Normal(mu, std)
    x = d.rsample((5,))
    x.sum().backward()
    s = d.sample((5,))
    return dict(shape=x.shape, rg=x.requires_grad, s_rg=s.requires_grad, gmu=mu.grad,
                s_shape=s.shape, dtype=x.dtype, std_grad_shape=std.grad.shape,
                mean=d.mean, stddev=d.stddev, var=d.variance, ent=d.entropy(),
                cdf=d.cdf(lib.zeros(3, 2, dtype=lib.float64)),
                icdf=d.icdf(lib.full((3, 2), 0.3, dtype=lib.float64)))


@program
def normal_scalar_params(lib):
    D = lib.distributions
    d = D.Normal(0.0, 1.0)
    d2 = D.Normal(lib.tensor(0.0), 2)
    return dict(bs=d.batch_shape, lp=d.log_prob(lib.tensor([0.5, -1.0])), s=d.sample().shape,
                s2=d.sample((3,)).shape, dt=d.loc.dtype, lp2=d2.log_prob(lib.tensor(1.0)),
                e=d.entropy(), rs=d2.rsample((2, 2)).shape)


@program
def normal_negative_scale(lib):
    return lib.distributions.Normal(lib.zeros(2), lib.tensor([1.0, -1.0]), validate_args=True)


@program
def normal_zero_scale(lib):
    return lib.distributions.Normal(lib.zeros(2), lib.tensor([1.0, 0.0]), validate_args=True)


@program
def normal_zero_scale_unvalidated(lib):
    d = lib.distributions.Normal(lib.zeros(2), lib.tensor([1.0, 0.0]), validate_args=False)
    return dict(lp=d.log_prob(lib.tensor([0.5, 0.5])), lp0=d.log_prob(lib.zeros(2)),
                e=d.entropy())


@program
def normal_nan_loc(lib):
    return lib.distributions.Normal(lib.tensor([float("nan"), 0.0]), lib.ones(2),
                                    validate_args=True)


@program
def normal_log_prob_nan_value_validated(lib):
    d = lib.distributions.Normal(lib.zeros(2), lib.ones(2), validate_args=True)
    return d.log_prob(lib.tensor([float("nan"), 0.0]))


@program
def normal_log_prob_bad_shape(lib):
    d = lib.distributions.Normal(lib.zeros(3, 2), lib.ones(3, 2), validate_args=True)
    return d.log_prob(lib.zeros(4, 2))


@program
def normal_log_prob_bad_shape_unvalidated(lib):
    d = lib.distributions.Normal(lib.zeros(3, 2), lib.ones(3, 2), validate_args=False)
    return d.log_prob(lib.zeros(4, 2))


@program
def normal_params_mismatched_shapes(lib):
    return lib.distributions.Normal(lib.zeros(3), lib.ones(2))


@program
def normal_integer_params(lib):
    d = lib.distributions.Normal(lib.tensor([0, 1]), lib.tensor([1, 2]))
    return dict(dt=d.loc.dtype, m=d.mean)


@program
def normal_log_prob_of_int_value(lib):
    d = lib.distributions.Normal(lib.zeros(2), lib.ones(2))
    return d.log_prob(lib.tensor([1, 2]))


@program
def normal_float32_vs_float64_value(lib):
    d = lib.distributions.Normal(lib.zeros(2), lib.ones(2))
    return d.log_prob(lib.tensor([1.0, 2.0], dtype=lib.float64))


@program
def independent_normal(lib):
    D = lib.distributions
    mu = lib.tensor(_rand(4, 3, seed=18), requires_grad=True)
    std = lib.tensor(np.abs(_rand(3, seed=19)) + 0.5)
    d = D.Independent(D.Normal(mu, std), 1)
    a = lib.tensor(_rand(4, 3, seed=20))
    lp = d.log_prob(a)
    e = d.entropy()
    (lp.sum() + e.sum()).backward()
    return dict(lp=lp, e=e, g=mu.grad, bs=d.batch_shape, es=d.event_shape,
                mean=d.mean, var=d.variance, rs=d.rsample((2,)).shape,
                rbn=d.reinterpreted_batch_ndims, base_bs=d.base_dist.batch_shape)


@program
def independent_too_many_dims(lib):
    D = lib.distributions
    return D.Independent(D.Normal(lib.zeros(4, 3), lib.ones(4, 3)), 3)


@program
def independent_kl(lib):
    D = lib.distributions
    mu1 = lib.tensor(_rand(4, 3, seed=21), requires_grad=True)
    p = D.Independent(D.Normal(mu1, lib.ones(4, 3, dtype=lib.float64) * 0.5), 1)
    q = D.Independent(D.Normal(lib.zeros(4, 3, dtype=lib.float64),
                               lib.ones(4, 3, dtype=lib.float64)), 1)
    kl = D.kl_divergence(p, q)
    kl.mean().backward()
    return dict(kl=kl, g=mu1.grad)


@program
def independent_kl_mismatched_ndims(lib):
    D = lib.distributions
    p = D.Independent(D.Normal(lib.zeros(4, 3), lib.ones(4, 3)), 1)
    q = D.Independent(D.Normal(lib.zeros(4, 3), lib.ones(4, 3)), 2)
    return D.kl_divergence(p, q)


@program
def normal_kl_and_not_implemented(lib):
    D = lib.distributions
    p = D.Normal(lib.zeros(3), lib.ones(3))
    q = D.Normal(lib.ones(3), lib.full((3,), 2.0))
    kl = D.kl_divergence(p, q)
    try:
        D.kl_divergence(p, D.Categorical(logits=lib.zeros(3)))
        err = None
    except NotImplementedError:
        err = "NotImplementedError"
    return dict(kl=kl, err=err)


@program
def multivariate_normal_ppo(lib):
    # the continuous-action PPO of many tutorials: MultivariateNormal with a diagonal covariance
    D = lib.distributions
    net = _mlp(lib, [4, 8, 2], seed=22)
    action_var = lib.full((2,), 0.36, dtype=lib.float64)
    mean = net(lib.tensor(OBS))
    cov = lib.diag(action_var).unsqueeze(dim=0)
    d = D.MultivariateNormal(mean, cov)
    cov2 = lib.diag_embed(action_var.expand_as(mean))
    d2 = D.MultivariateNormal(mean, cov2)
    a = lib.tensor(_rand(6, 2, seed=23))
    lp, lp2 = d.log_prob(a), d2.log_prob(a)
    (lp.sum() + d.entropy().sum()).backward()
    return dict(lp=lp, lp2=lp2, ent=d.entropy(), bs=d.batch_shape, es=d.event_shape,
                st=d.scale_tril, s=d.sample().shape, **_grads(net))


@program
def multivariate_normal_not_pd(lib):
    D = lib.distributions
    return D.MultivariateNormal(lib.zeros(2), lib.tensor([[1.0, 2.0], [2.0, 1.0]]))


@program
def beta_policy(lib):
    D = lib.distributions
    raw = lib.tensor(_rand(3, 2, seed=24), requires_grad=True)
    F = lib.nn.functional
    alpha, beta = F.softplus(raw) + 1, F.softplus(-raw) + 1
    d = D.Beta(alpha, beta)
    a = lib.tensor([[0.2, 0.7], [0.5, 0.5], [0.9, 0.1]])
    lp = d.log_prob(a).sum(-1)
    ent = d.entropy().sum(-1)
    (lp.sum() + ent.sum()).backward()
    return dict(lp=lp, ent=ent, g=raw.grad, mean=d.mean, s=d.rsample().shape)


# ----------------------------------------------------------------------------------------------
# returns and advantages
# ----------------------------------------------------------------------------------------------
@program
def gae_loop(lib):
    T, N = 5, 3
    rewards = lib.tensor(_rand(T, N, seed=25))
    values = lib.tensor(_rand(T, N, seed=26), requires_grad=True)
    dones = lib.tensor((np.random.RandomState(27).rand(T, N) < 0.3).astype(np.float64))
    next_value = lib.tensor(_rand(N, seed=28))
    gamma, lam = 0.99, 0.95
    adv = lib.zeros_like(rewards)
    last = 0
    with lib.no_grad():
        for t in reversed(range(T)):
            nv = next_value if t == T - 1 else values[t + 1]
            nonterm = 1.0 - dones[t]
            delta = rewards[t] + gamma * nv * nonterm - values[t]
            last = delta + gamma * lam * nonterm * last
            adv[t] = last
    returns = adv + values
    b_adv = adv.reshape(-1)
    b_adv = (b_adv - b_adv.mean()) / (b_adv.std() + 1e-8)
    v_loss = 0.5 * ((values - returns.detach()) ** 2).mean()
    v_loss.backward()
    return dict(adv=adv, ret=returns, b_adv=b_adv, rg=adv.requires_grad,
                ret_rg=returns.requires_grad, v_loss=v_loss, g=values.grad)


@program
def returns_cumsum_flip(lib):
    r = lib.tensor(REWARDS)
    gamma = 0.9
    T = r.shape[0]
    disc = gamma ** lib.arange(T, dtype=lib.float64)
    ret = lib.flip(lib.cumsum(lib.flip(r * disc, dims=[0]), dim=0), dims=[0]) / disc
    ret2 = (r.flip(0) * disc).cumsum(0)
    idx = lib.arange(T)
    mat = lib.triu(gamma ** (idx[None, :] - idx[:, None]).clamp(min=0).double())
    ret3 = mat @ r
    loop = []
    R = 0.0
    for x in r.flip(0):
        R = x + gamma * R
        loop.append(R)
    ret4 = lib.stack(loop[::-1])
    return dict(ret=ret, ret2=ret2, ret3=ret3, ret4=ret4, mat=mat)


@program
def returns_with_done_masks(lib):
    r = lib.tensor(REWARDS, dtype=lib.float32)
    d = lib.tensor(DONES, dtype=lib.float32)
    out = lib.zeros_like(r)
    R = lib.tensor(0.5)
    for t in range(len(r) - 1, -1, -1):
        R = r[t] + 0.99 * R * (1 - d[t])
        out[t] = R
    masks = 1 - d
    return dict(out=out, masks=masks, dt=out.dtype, bool_mask=d.bool(), inv=~d.bool(),
                logical=lib.logical_not(d.bool()).float())


@program
def n_step_returns_unfold(lib):
    r = lib.tensor(REWARDS)
    n, gamma = 3, 0.9
    padded = lib.cat([r, lib.zeros(n - 1, dtype=r.dtype)])
    windows = padded.unfold(0, n, 1)
    w = gamma ** lib.arange(n, dtype=r.dtype)
    nstep = (windows * w).sum(-1)
    conv = lib.nn.functional.conv1d(padded.view(1, 1, -1), w.view(1, 1, -1)).view(-1)
    return dict(windows=windows, nstep=nstep, conv=conv)


@program
def td_lambda_returns(lib):
    T = 6
    rewards = lib.tensor(REWARDS)
    values = lib.tensor(_rand(T + 1, seed=29))
    discounts = 0.99 * (1 - lib.tensor(DONES))
    lam = 0.8
    out = []
    acc = values[-1]
    for t in reversed(range(T)):
        acc = rewards[t] + discounts[t] * ((1 - lam) * values[t + 1] + lam * acc)
        out.append(acc)
    out = lib.stack(out[::-1])
    return dict(out=out, explained=1 - (out - values[:-1]).var() / out.var())


@program
def advantage_normalise_single_element(lib):
    adv = lib.tensor([1.5])
    return dict(std=adv.std(), norm=(adv - adv.mean()) / (adv.std() + 1e-8),
                std0=adv.std(unbiased=False), corr=adv.std(correction=0))


@program
def advantage_normalise_empty(lib):
    adv = lib.zeros(0)
    return dict(mean=adv.mean(), std=adv.std(), s=adv.sum())


# ----------------------------------------------------------------------------------------------
# DQN
# ----------------------------------------------------------------------------------------------
def _dqn_batch(lib, B=8, dtype="float64"):
    rng = np.random.RandomState(30)
    dt = getattr(lib, dtype)
    return (lib.tensor(rng.randn(B, 4), dtype=dt), lib.tensor(rng.randint(0, 3, B)),
            lib.tensor(rng.randn(B), dtype=dt), lib.tensor(rng.randn(B, 4), dtype=dt),
            lib.tensor((rng.rand(B) < 0.25).astype(np.float64), dtype=dt))


@program
def dqn_update(lib):
    F = lib.nn.functional
    q = _mlp(lib, [4, 16, 3], seed=31, act="ReLU")
    tq = _mlp(lib, [4, 16, 3], seed=32, act="ReLU")
    tq.load_state_dict(q.state_dict())
    opt = lib.optim.RMSprop(q.parameters(), lr=1e-3)
    s, a, r, s2, d = _dqn_batch(lib)
    res = {}
    for it in range(2):
        with lib.no_grad():
            next_q = tq(s2).max(1)[0]
            target = r + 0.99 * next_q * (1 - d)
        q_sa = q(s).gather(1, a.unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(q_sa, target)
        opt.zero_grad()
        loss.backward()
        norm = lib.nn.utils.clip_grad_norm_(q.parameters(), 0.5)
        opt.step()
        res.update({f"loss{it}": loss, f"norm{it}": norm, f"t{it}": target,
                    f"trg{it}": target.requires_grad})
    res.update(_params(q))
    return res


@program
def double_dqn_target(lib):
    q = _mlp(lib, [4, 16, 3], seed=33, act="ReLU")
    tq = _mlp(lib, [4, 16, 3], seed=34, act="ReLU")
    s, a, r, s2, d = _dqn_batch(lib)
    with lib.no_grad():
        best = q(s2).argmax(dim=1, keepdim=True)
        nq = tq(s2).gather(1, best).squeeze(-1)
        target = lib.where(d.bool(), r, r + 0.99 * nq)
        maxv, maxi = tq(s2).max(dim=1)
        vals = tq(s2).max(-1).values
    q_sa = q(s)[lib.arange(len(a)), a]
    loss = lib.nn.functional.mse_loss(q_sa, target)
    loss.backward()
    return dict(best=best, nq=nq, target=target, maxv=maxv, maxi=maxi, vals=vals, loss=loss,
                **_grads(q))


@program
def dqn_ties_argmax(lib):
    q = lib.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 0.0]])
    return dict(am=q.argmax(1), mx=q.max(1), amk=lib.argmax(q, dim=-1, keepdim=True))


@program
def dqn_float_actions_gather(lib):
    q = lib.tensor(_rand(4, 3, seed=35))
    a = lib.tensor([0.0, 1.0, 2.0, 1.0])
    return q.gather(1, a.unsqueeze(1))


@program
def dqn_int32_actions_gather(lib):
    q = lib.tensor(_rand(4, 3, seed=35))
    a = lib.tensor([0, 1, 2, 1], dtype=lib.int32)
    return q.gather(1, a.unsqueeze(1))


@program
def dqn_action_out_of_range_gather(lib):
    q = lib.tensor(_rand(4, 3, seed=35))
    return q.gather(1, lib.tensor([[0], [3], [1], [1]]))


@program
def dqn_gather_wrong_rank(lib):
    q = lib.tensor(_rand(4, 3, seed=35))
    return q.gather(1, lib.tensor([0, 1, 2, 1]))


@program
def dqn_target_shape_mismatch_warning(lib):
    # (B,1) prediction against a (B,) target broadcasts to (B,B) and warns
    F = lib.nn.functional
    q = lib.tensor(_rand(4, 1, seed=36), requires_grad=True)
    t = lib.tensor(_rand(4, seed=37))
    loss = F.mse_loss(q, t)
    loss2 = F.smooth_l1_loss(q, t)
    loss3 = F.huber_loss(q, t, delta=0.5)
    (loss + loss2 + loss3).backward()
    return dict(l=loss, l2=loss2, l3=loss3, g=q.grad)


@program
def dqn_epsilon_greedy_shapes(lib):
    q = lib.tensor(_rand(5, 3, seed=38))
    g = lib.Generator().manual_seed(0)
    explore = lib.rand(5, generator=g) < 0.5
    rand_a = lib.randint(0, 3, (5,), generator=g)
    a = lib.where(explore, rand_a, q.argmax(1))
    return dict(shape=a.shape, dt=a.dtype, ok=bool(((a >= 0) & (a < 3)).all()),
                rdt=rand_a.dtype, edt=explore.dtype)


# ----------------------------------------------------------------------------------------------
# soft / hard target updates
# ----------------------------------------------------------------------------------------------
@program
def soft_update_variants(lib):
    net = _mlp(lib, [4, 5, 2], seed=40)
    t1 = _mlp(lib, [4, 5, 2], seed=41)
    t2 = _mlp(lib, [4, 5, 2], seed=41)
    t3 = _mlp(lib, [4, 5, 2], seed=41)
    t4 = _mlp(lib, [4, 5, 2], seed=41)
    tau = 0.05
    for tp, p in zip(t1.parameters(), net.parameters()):
        tp.data.copy_(tau * p.data + (1.0 - tau) * tp.data)
    with lib.no_grad():
        for tp, p in zip(t2.parameters(), net.parameters()):
            tp.mul_(1 - tau)
            tp.add_(p, alpha=tau)
        for tp, p in zip(t3.parameters(), net.parameters()):
            tp.lerp_(p, tau)
        for tp, p in zip(t4.parameters(), net.parameters()):
            tp.data.mul_(1 - tau)
            lib.add(tp.data, p.data, alpha=tau, out=tp.data)
    sd = {k: (1 - tau) * v + tau * net.state_dict()[k] for k, v in t1.state_dict().items()}
    t1.load_state_dict(sd)
    res = {}
    for i, t in enumerate([t1, t2, t3, t4]):
        res.update(_params(t, f"t{i}_"))
        res[f"rg{i}"] = [p.requires_grad for p in t.parameters()]
    return res


@program
def soft_update_foreach(lib):
    net = _mlp(lib, [4, 5, 2], seed=42)
    tgt = _mlp(lib, [4, 5, 2], seed=43)
    tau = 0.1
    tp, p = list(tgt.parameters()), list(net.parameters())
    with lib.no_grad():
        lib._foreach_mul_(tp, 1 - tau)
        lib._foreach_add_(tp, p, alpha=tau)
        lib._foreach_lerp_(tp, p, 0.5)
    return _params(tgt)


@program
def soft_update_without_no_grad(lib):
    net = _mlp(lib, [4, 5, 2], seed=42)
    tgt = _mlp(lib, [4, 5, 2], seed=43)
    for tp, p in zip(tgt.parameters(), net.parameters()):
        tp.mul_(0.9)
    return _params(tgt)


@program
def hard_update_deepcopy_and_freeze(lib):
    import copy
    net = _mlp(lib, [4, 5, 2], seed=44)
    tgt = copy.deepcopy(net)
    for p in tgt.parameters():
        p.requires_grad_(False)
    x = lib.tensor(OBS)
    out = net(x) - tgt(x)
    out.pow(2).sum().backward()
    with lib.no_grad():
        for p in net.parameters():
            p -= 0.1 * p.grad
    tgt.load_state_dict(net.state_dict())
    return dict(out=out, rg=[p.requires_grad for p in tgt.parameters()],
                tg=[p.grad is None for p in tgt.parameters()], **_params(tgt))


@program
def load_state_dict_strict_mismatch(lib):
    net = _mlp(lib, [4, 5, 2], seed=44)
    tgt = _mlp(lib, [4, 6, 2], seed=44)
    tgt.load_state_dict(net.state_dict())


@program
def load_state_dict_missing_keys(lib):
    net = _mlp(lib, [4, 5, 2], seed=44)
    sd = net.state_dict()
    del sd["2.bias"]
    r = net.load_state_dict(sd, strict=False)
    return dict(missing=list(r.missing_keys), unexpected=list(r.unexpected_keys))


# ----------------------------------------------------------------------------------------------
# PPO
# ----------------------------------------------------------------------------------------------
@program
def ppo_update_epochs(lib):
    D = lib.distributions
    actor = _mlp(lib, [4, 8, 3], seed=50)
    critic = _mlp(lib, [4, 8, 1], seed=51)
    params = list(actor.parameters()) + list(critic.parameters())
    opt = lib.optim.Adam(params, lr=2.5e-4, eps=1e-5)
    obs, actions = lib.tensor(OBS), lib.tensor(ACTIONS)
    with lib.no_grad():
        old_logp = D.Categorical(logits=actor(obs)).log_prob(actions)
        old_v = critic(obs).squeeze(-1)
    adv = lib.tensor(_rand(6, seed=52))
    ret = adv + old_v
    res = {}

    def objective(rows):
        # clipped policy surrogate + clipped value error (halved) - an entropy bonus; the
        # advantages normalised within the minibatch
        pi = D.Categorical(logits=actor(obs[rows]))
        new_logp = pi.log_prob(actions[rows])
        r = (new_logp - old_logp[rows]).exp()
        a = adv[rows]
        a = (a - a.mean()) / (a.std() + 1e-8)
        policy = lib.max(-a * r, -a * lib.clamp(r, 1 - 0.2, 1 + 0.2)).mean()
        v = critic(obs[rows]).view(-1)
        v_kept = old_v[rows] + lib.clamp(v - old_v[rows], -0.2, 0.2)
        value = 0.5 * lib.max((v - ret[rows]) ** 2, (v_kept - ret[rows]) ** 2).mean()
        total = policy - 0.01 * pi.entropy().mean() + 0.5 * value
        # diagnostics: the (r - 1) - log r estimate of KL, the share of clipped ratios
        kl = ((r - 1) - (new_logp - old_logp[rows])).mean()
        return total, kl, ((r - 1.0).abs() > 0.2).float().mean().item()

    for epoch in range(2):
        for k, rows in enumerate((np.array([0, 3, 5]), np.array([1, 2, 4]))):
            loss, kl, share = objective(lib.tensor(rows))
            opt.zero_grad()
            loss.backward()
            norm = lib.nn.utils.clip_grad_norm_(params, 0.5)
            opt.step()
            res.update({f"l{epoch}{k}": loss, f"kl{epoch}{k}": kl,
                        f"cf{epoch}{k}": share, f"n{epoch}{k}": norm})
    res.update(_params(actor, "a_"))
    res.update(_params(critic, "c_"))
    return res


@program
def ppo_min_surrogate_form(lib):
    ratio = lib.tensor([0.5, 0.9, 1.0, 1.3, 2.0], requires_grad=True)
    adv = lib.tensor([1.0, -1.0, 0.5, 2.0, -3.0])
    surr1 = ratio * adv
    surr2 = lib.clamp(ratio, 0.8, 1.2) * adv
    loss = -lib.min(surr1, surr2).mean()
    loss.backward()
    r2 = lib.tensor([0.8, 1.2, 1.0], requires_grad=True)
    c = r2.clamp(0.8, 1.2)        # the boundaries: torch passes the gradient through
    c.sum().backward()
    r3 = lib.tensor([0.5, 1.0], requires_grad=True)
    m = lib.minimum(r3, lib.tensor([1.0, 1.0]))   # tie: gradient split
    m.sum().backward()
    return dict(loss=loss, g=ratio.grad, g2=r2.grad, g3=r3.grad,
                clamp_t=lib.clamp(ratio.detach(), lib.tensor(0.8), lib.tensor(1.2)))


@program
def ppo_clamp_min_greater_than_max(lib):
    x = lib.tensor([0.5, 1.0, 1.5])
    return dict(c=lib.clamp(x, min=1.2, max=0.8), c2=x.clamp(1.2, 0.8))


@program
def ppo_clamp_no_bounds(lib):
    return lib.clamp(lib.tensor([0.5, 1.0]))


# ----------------------------------------------------------------------------------------------
# replay buffers
# ----------------------------------------------------------------------------------------------
@program
def replay_buffer_stacked(lib):
    rng = np.random.RandomState(60)
    transitions = [(rng.randn(4).astype(np.float32), int(rng.randint(3)), float(rng.randn()),
                    rng.randn(4).astype(np.float32), bool(rng.rand() < 0.2)) for _ in range(10)]
    s, a, r, s2, d = zip(*transitions)
    S = lib.stack([lib.from_numpy(x) for x in s])
    A = lib.tensor(a)
    R = lib.tensor(r)
    S2 = lib.as_tensor(np.array(s2))
    Dn = lib.tensor(d)
    Df = lib.tensor(d, dtype=lib.float32)
    idx = lib.tensor(rng.randint(0, 10, 6))
    batch = (S[idx], A[idx], R[idx], S2[idx], Dn[idx].float())
    g = lib.Generator().manual_seed(1)
    ridx = lib.randint(0, len(S), (6,), generator=g)
    perm = lib.randperm(10, generator=g)
    return dict(batch=list(batch), dts=[x.dtype for x in (S, A, R, S2, Dn, Df)],
                ridx=(ridx.shape, ridx.dtype), perm=(perm.sort().values, perm.dtype),
                cat=lib.cat([S, S2], 0).shape, unsq=A.unsqueeze(-1).shape)


@program
def replay_buffer_preallocated_ring(lib):
    cap, ptr = 5, 0
    obs_buf = lib.zeros((cap, 3), dtype=lib.float32)
    act_buf = lib.zeros(cap, dtype=lib.long)
    rew_buf = lib.zeros(cap)
    for t in range(8):
        obs_buf[ptr] = lib.tensor([t, t + 1.0, t + 2.0])
        act_buf[ptr] = t % 3
        rew_buf[ptr] = float(t) / 2
        ptr = (ptr + 1) % cap
    idx = lib.tensor([4, 0, 2, 2])
    return dict(obs=obs_buf, act=act_buf, rew=rew_buf, bo=obs_buf[idx], ba=act_buf[idx],
                lst=obs_buf[[1, 3]], np_idx=rew_buf[np.array([0, 4])])


@program
def prioritized_replay_weights(lib):
    prios = lib.tensor([1.0, 0.5, 2.0, 0.1, 0.7, 1.2])
    alpha, beta = 0.6, 0.4
    probs = prios ** alpha
    probs = probs / probs.sum()
    idx = lib.tensor([2, 0, 5, 2])
    w = (len(prios) * probs[idx]) ** (-beta)
    w = w / w.max()
    td = lib.tensor([0.5, -1.0, 0.2, 0.3])
    prios[idx] = td.abs() + 1e-6     # repeated index: last write wins? (unspecified in torch)
    g = lib.Generator().manual_seed(2)
    draw = lib.multinomial(probs, 4, replacement=True, generator=g)
    return dict(probs=probs, w=w, draw=(draw.shape, draw.dtype), p0=prios[0], p5=prios[5])


@program
def multinomial_without_replacement_into_zeros(lib):
    # the zero-probability class comes last once the others are used up (their order is random)
    draw = lib.multinomial(lib.tensor([0.5, 0.5, 0.0]), 3, replacement=False)
    return dict(last=draw[-1], sorted=draw.sort().values)


@program
def multinomial_without_replacement_too_many(lib):
    return lib.multinomial(lib.tensor([0.5, 0.5, 0.0]), 4, replacement=False)


@program
def multinomial_negative_probs(lib):
    return lib.multinomial(lib.tensor([0.5, -0.5, 1.0]), 1)


@program
def randint_bad_range(lib):
    return lib.randint(5, 5, (3,))


@program
def index_buffer_with_float_indices(lib):
    buf = lib.zeros(5, 3)
    return buf[lib.tensor([0.0, 1.0])]


@program
def index_buffer_out_of_range(lib):
    buf = lib.zeros(5, 3)
    return buf[lib.tensor([0, 5])]


@program
def stack_ragged_observations(lib):
    return lib.stack([lib.zeros(4), lib.zeros(3)])


@program
def stack_empty_list(lib):
    return lib.stack([])


# ----------------------------------------------------------------------------------------------
# gradient clipping and optimizers stepping twice
# ----------------------------------------------------------------------------------------------
@program
def clip_grad_variants(lib):
    net = _mlp(lib, [4, 6, 2], seed=70)
    x = lib.tensor(OBS)
    (net(x) ** 3).sum().backward()
    res = {}
    g0 = [p.grad.clone() for p in net.parameters()]
    res["n2"] = lib.nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0)
    res["after2"] = [p.grad.clone() for p in net.parameters()]
    for p, g in zip(net.parameters(), g0):
        p.grad = g.clone()
    res["ninf"] = lib.nn.utils.clip_grad_norm_(net.parameters(), 0.5, norm_type=float("inf"))
    res["afterinf"] = [p.grad.clone() for p in net.parameters()]
    for p, g in zip(net.parameters(), g0):
        p.grad = g.clone()
    res["n1"] = lib.nn.utils.clip_grad_norm_(list(net.parameters()), 1e6, norm_type=1)
    res["after1"] = [p.grad.clone() for p in net.parameters()]
    for p, g in zip(net.parameters(), g0):
        p.grad = g.clone()
    res["cv"] = lib.nn.utils.clip_grad_value_(net.parameters(), clip_value=0.1)
    res["aftercv"] = [p.grad.clone() for p in net.parameters()]
    res["single"] = lib.nn.utils.clip_grad_norm_(net[0].weight, 0.01)
    return res


@program
def clip_grad_norm_no_grads(lib):
    net = _mlp(lib, [4, 6, 2], seed=71)
    n = lib.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    n2 = lib.nn.utils.clip_grad_norm_([], 1.0)
    return dict(n=n, n2=n2)


@program
def clip_grad_norm_nonfinite(lib):
    w = lib.ones(3, requires_grad=True)
    (w * lib.tensor([1.0, float("inf"), 2.0])).sum().backward()
    n = lib.nn.utils.clip_grad_norm_([w], 1.0)
    return dict(n=n, g=w.grad)


@program
def clip_grad_norm_nonfinite_error(lib):
    w = lib.ones(3, requires_grad=True)
    (w * lib.tensor([1.0, float("nan"), 2.0])).sum().backward()
    return lib.nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)


@program
def clip_grad_norm_mixed_dtypes(lib):
    a = lib.ones(2, requires_grad=True)
    b = lib.ones(2, dtype=lib.float64, requires_grad=True)
    (a * 3).sum().backward()
    (b * 4).sum().backward()
    n = lib.nn.utils.clip_grad_norm_([a, b], 1.0)
    return dict(n=n, a=a.grad, b=b.grad)


@program
def actor_critic_two_optimizers_shared_trunk(lib):
    D = lib.distributions
    trunk = _mlp(lib, [4, 8], seed=72)
    pi = _mlp(lib, [8, 3], seed=73)
    vf = _mlp(lib, [8, 1], seed=74)
    a_opt = lib.optim.Adam(list(trunk.parameters()) + list(pi.parameters()), lr=1e-2)
    c_opt = lib.optim.SGD(vf.parameters(), lr=1e-1, momentum=0.9)
    obs, actions = lib.tensor(OBS), lib.tensor(ACTIONS)
    ret = lib.tensor(REWARDS)
    res = {}
    for it in range(2):
        h = lib.tanh(trunk(obs))
        v = vf(h.detach()).squeeze(-1)
        c_loss = (ret - v).pow(2).mean()
        c_opt.zero_grad()
        c_loss.backward()
        c_opt.step()
        adv = (ret - v).detach()
        logp = D.Categorical(logits=pi(h)).log_prob(actions)
        a_loss = -(logp * adv).mean()
        a_opt.zero_grad()
        a_loss.backward()
        a_opt.step()
        res.update({f"c{it}": c_loss, f"a{it}": a_loss, f"vg{it}": vf[0].weight.grad})
    res.update(_params(trunk, "t_"))
    res.update(_params(pi, "p_"))
    res.update(_params(vf, "v_"))
    return res


@program
def backward_twice_without_retain(lib):
    net = _mlp(lib, [4, 3], seed=75)
    out = net(lib.tensor(OBS)).tanh().sum()
    out.backward()
    out.backward()


@program
def backward_twice_with_retain(lib):
    net = _mlp(lib, [4, 3], seed=75)
    out = net(lib.tensor(OBS)).tanh().sum()
    out.backward(retain_graph=True)
    out.backward()
    return _grads(net)


WORDS["actor_step_before_critic_backward"] = [_INPLACE, "is at version 3; expected version 2"]
WORDS["inplace_on_needed_tensor"] = [_INPLACE, "output 0 of", "is at version 1; expected version 0"]
WORDS["inplace_tanh_needed"] = WORDS["inplace_on_needed_tensor"]


@program
def actor_step_before_critic_backward(lib):
    # the classic GAN/actor-critic bug: an optimizer step modifies weights in place that the
    # second loss still needs
    net = _mlp(lib, [4, 5, 1], seed=76)
    opt = lib.optim.SGD(net.parameters(), lr=0.1)
    out = net(lib.tensor(OBS))
    l1 = out.pow(2).mean()
    l2 = out.abs().mean()
    opt.zero_grad()
    l1.backward(retain_graph=True)
    opt.step()
    l2.backward()


@program
def inplace_on_needed_tensor(lib):
    x = lib.tensor(_rand(3, seed=77), requires_grad=True)
    y = x.exp()
    y.add_(1)
    y.sum().backward()
    return x.grad


@program
def inplace_tanh_needed(lib):
    x = lib.tensor(_rand(3, seed=77), requires_grad=True)
    y = x.tanh()
    y.mul_(2)
    y.sum().backward()
    return x.grad


# ----------------------------------------------------------------------------------------------
# detach / no_grad
# ----------------------------------------------------------------------------------------------
@program
def detach_semantics(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    d = y.detach()
    with lib.no_grad():
        z = w * 3
        zz = z.requires_grad_()
    with lib.inference_mode():
        inf = w * 4
    e = lib.enable_grad
    with lib.no_grad():
        with e():
            k = w * 5
    @lib.no_grad()
    def f(t):
        return t * 6
    return dict(d_rg=d.requires_grad, d_leaf=d.is_leaf, z_rg=z.requires_grad,
                z_leaf=z.is_leaf, zz_rg=zz.requires_grad, inf_rg=inf.requires_grad,
                k_rg=k.requires_grad, f_rg=f(w).requires_grad, y_fn=y.grad_fn is not None,
                d_fn=d.grad_fn is None, grad_enabled=lib.is_grad_enabled(),
                y_leaf=y.is_leaf)


@program
def detach_shares_storage(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    d = w.detach()
    d.add_(1)
    c = w.detach().clone()
    c.mul_(10)
    return dict(w=w, d=d, c=c)


@program
def backward_through_no_grad_output(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    with lib.no_grad():
        y = (w * 2).sum()
    y.backward()


@program
def inplace_on_leaf_requiring_grad(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    w.mul_(0.5)


@program
def item_of_multi_element(lib):
    return lib.tensor([1.0, 2.0]).item()


@program
def numpy_of_requires_grad(lib):
    return lib.tensor([1.0, 2.0], requires_grad=True).numpy()


@program
def grad_of_nonleaf_warns(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    y.sum().backward()
    return dict(g=y.grad, wg=w.grad)


@program
def autograd_grad_policy(lib):
    # TRPO-style: gradient of the surrogate, Fisher-vector product via a double backward of KL
    D = lib.distributions
    net = _mlp(lib, [4, 5, 3], seed=78)
    obs, actions = lib.tensor(OBS), lib.tensor(ACTIONS)
    params = list(net.parameters())
    logits = net(obs)
    dist = D.Categorical(logits=logits)
    old = D.Categorical(logits=logits.detach())
    surr = (dist.log_prob(actions).exp() / old.log_prob(actions).exp()).mean()
    # the KL below goes back through the same logits: keep the graph for it
    g = lib.autograd.grad(surr, params, retain_graph=True)
    flat_g = lib.cat([x.reshape(-1) for x in g])
    kl = D.kl_divergence(old, dist).mean()
    gk = lib.autograd.grad(kl, params, create_graph=True)
    flat_gk = lib.cat([x.reshape(-1) for x in gk])
    v = lib.tensor(np.linspace(-1, 1, flat_gk.numel()))
    hvp = lib.autograd.grad((flat_gk * v).sum(), params)
    flat_hvp = lib.cat([x.reshape(-1) for x in hvp])
    pv = lib.nn.utils.parameters_to_vector(params)
    lib.nn.utils.vector_to_parameters(pv + 0.01 * flat_g, params)
    return dict(g=flat_g, hvp=flat_hvp, kl=kl, pv=pv, new=lib.nn.utils.parameters_to_vector(
        net.parameters()))


# ----------------------------------------------------------------------------------------------
# misc: one-hot, entropy of squashed, gumbel
# ----------------------------------------------------------------------------------------------
@program
def one_hot_actions(lib):
    F = lib.nn.functional
    a = lib.tensor(ACTIONS)
    return dict(oh=F.one_hot(a, 3), ohf=F.one_hot(a, num_classes=4).float(),
                oh_auto=F.one_hot(a))


@program
def one_hot_negative_action(lib):
    return lib.nn.functional.one_hot(lib.tensor([0, -1]), 3)


@program
def gumbel_softmax_shapes(lib):
    F = lib.nn.functional
    logits = lib.tensor(_rand(4, 3, seed=80), requires_grad=True)
    y = F.gumbel_softmax(logits, tau=0.5, hard=True)
    y.sum().backward()
    ys = F.gumbel_softmax(logits, tau=1.0)
    return dict(shape=y.shape, rowsum=y.sum(-1), onehot=bool(((y == 0) | (y == 1)).all()),
                soft_sum=ys.sum(-1), gshape=logits.grad.shape)


@program
def relaxed_categorical(lib):
    D = lib.distributions
    d = D.RelaxedOneHotCategorical(lib.tensor(0.5), logits=lib.tensor(_rand(4, 3, seed=81)))
    x = d.rsample()
    return dict(shape=x.shape, sums=x.sum(-1), bs=d.batch_shape, es=d.event_shape,
                lp=d.log_prob(lib.tensor([[0.2, 0.3, 0.5]] * 4)))


@program
def one_hot_categorical(lib):
    D = lib.distributions
    d = D.OneHotCategorical(logits=lib.tensor(_rand(4, 3, seed=82)))
    a = lib.nn.functional.one_hot(lib.tensor([0, 1, 2, 0]), 3).float()
    return dict(lp=d.log_prob(a), ent=d.entropy(), s=d.sample((2,)).shape,
                sd=d.sample().dtype, mode=d.mode, bs=d.batch_shape, es=d.event_shape)


@program
def entropy_of_transformed_raises(lib):
    D = lib.distributions
    d = D.TransformedDistribution(D.Normal(lib.zeros(2), lib.ones(2)),
                                  [D.transforms.TanhTransform()])
    return d.entropy()


@program
def normal_sample_then_log_prob_no_grad(lib):
    D = lib.distributions
    mu = lib.tensor([0.5, -0.5], requires_grad=True)
    d = D.Normal(mu, lib.ones(2))
    a = d.sample()
    lp = d.log_prob(a)
    return dict(a_rg=a.requires_grad, lp_rg=lp.requires_grad, lp_shape=lp.shape)


@program
def distribution_repr(lib):
    D = lib.distributions
    return dict(n=repr(D.Normal(lib.zeros(2), lib.ones(2))),
                c=repr(D.Categorical(logits=lib.zeros(2, 3))),
                i=repr(D.Independent(D.Normal(lib.zeros(2), lib.ones(2)), 1)),
                b=repr(D.Bernoulli(probs=lib.tensor(0.3))))


@program
def normal_expand_and_batch_log_prob(lib):
    D = lib.distributions
    d = D.Normal(lib.zeros(2, dtype=lib.float64), lib.ones(2, dtype=lib.float64))
    e = d.expand((3, 2))
    a = lib.tensor(_rand(5, 3, 2, seed=83))
    return dict(lp=e.log_prob(a), bs=e.batch_shape, loc=e.loc)


@program
def categorical_empty_events(lib):
    return lib.distributions.Categorical(logits=lib.zeros(3, 0)).entropy()


@program
def float16_policy_logits(lib):
    d = lib.distributions.Categorical(logits=lib.tensor([[0.1, 0.5, -0.2]], dtype=lib.float16))
    return dict(lp=d.log_prob(lib.tensor([1])), p=d.probs, e=d.entropy())


# ----------------------------------------------------------------------------------------------
# the shapes of well-known tutorial and library training steps, written out here
# ----------------------------------------------------------------------------------------------
@program
def pytorch_dqn_tutorial_optimize(lib):
    # a DQN step on a batch of single transitions kept as lists of tensors: terminal next
    # states are None, a bool mask picks the rest; Huber loss, value clipping of the gradient,
    # and a Polyak target update written through state_dict / load_state_dict
    nn = lib.nn
    online = _mlp(lib, [4, 16, 2], seed=90, act="ReLU", dtype="float32")
    frozen = _mlp(lib, [4, 16, 2], seed=91, act="ReLU", dtype="float32")
    opt = lib.optim.AdamW(online.parameters(), lr=1e-4, amsgrad=True)
    rng = np.random.RandomState(92)
    obs = [lib.tensor(rng.randn(1, 4), dtype=lib.float32) for _ in range(5)]
    after = [None if k in (1, 3) else lib.tensor(rng.randn(1, 4), dtype=lib.float32)
             for k in range(5)]
    acts = [lib.tensor([[int(a)]]) for a in rng.randint(0, 2, 5)]
    pays = [lib.tensor([float(r)]) for r in rng.randn(5)]
    gamma, tau = 0.99, 0.005
    huber = nn.SmoothL1Loss()
    res = {}
    for it in range(2):
        alive = lib.tensor(tuple(s is not None for s in after), device="cpu", dtype=lib.bool)
        taken = online(lib.cat(obs)).gather(1, lib.cat(acts))
        bootstrap = lib.zeros(5, device="cpu")
        with lib.no_grad():
            bootstrap[alive] = frozen(lib.cat([s for s in after if s is not None])).max(1).values
        wanted = lib.cat(pays) + gamma * bootstrap
        loss = huber(taken, wanted.unsqueeze(1))
        opt.zero_grad()
        loss.backward()
        lib.nn.utils.clip_grad_value_(online.parameters(), 100)
        opt.step()
        mine = frozen.state_dict()
        frozen.load_state_dict({name: tau * w + (1 - tau) * mine[name]
                                for name, w in online.state_dict().items()})
        greedy = online(obs[0]).max(1).indices.view(1, 1)
        res.update({f"loss{it}": loss, f"nsv{it}": bootstrap, f"act{it}": greedy})
    res.update(_params(frozen))
    res.update(_params(online, "p_"))
    return res


def _discounted(rewards, gamma=0.99):
    """Reward-to-go of an episode, as a Python list."""
    out = [0.0] * len(rewards)
    running = 0.0
    for k in range(len(rewards) - 1, -1, -1):
        running = rewards[k] + gamma * running
        out[k] = running
    return out


@program
def pytorch_examples_reinforce(lib):
    # REINFORCE over one episode: log-probabilities kept per step as (1,) tensors, returns
    # standardised with float32's machine epsilon, the loss a cat of the per-step terms
    F = lib.nn.functional
    D = lib.distributions
    net = _mlp(lib, [4, 8, 2], seed=93, act="ReLU", dtype="float32")
    opt = lib.optim.Adam(net.parameters(), lr=1e-2)
    tiny = np.finfo(np.float32).eps.item()
    rng = np.random.RandomState(94)
    logps, rewards = [], []
    for t in range(5):
        obs = lib.from_numpy(rng.randn(4)).float().unsqueeze(0)
        pi = D.Categorical(F.softmax(net(obs), dim=1))
        logps.append(pi.log_prob(lib.tensor([t % 2])))
        rewards.append(float(rng.rand()))
    scores = lib.tensor(_discounted(rewards))
    scores = (scores - scores.mean()) / (scores.std() + tiny)
    opt.zero_grad()
    loss = lib.cat([-lp * g for lp, g in zip(logps, scores)]).sum()
    loss.backward()
    opt.step()
    return dict(loss=loss, returns=scores, saved=logps, **_params(net))


@program
def pytorch_examples_actor_critic(lib):
    # one-step actor-critic on an unbatched episode: a shared trunk with a softmax head and a
    # value head, the advantage from value.item(), Huber value losses, stacked losses
    F = lib.nn.functional
    D = lib.distributions
    nn = lib.nn

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Linear(4, 8)
            self.pi = nn.Linear(8, 2)
            self.v = nn.Linear(8, 1)

        def forward(self, obs):
            feat = F.relu(self.trunk(obs))
            return F.softmax(self.pi(feat), dim=-1), self.v(feat)

    model = TwoHeads()
    rng = np.random.RandomState(95)
    with lib.no_grad():
        for w in model.parameters():
            w.copy_(lib.tensor(rng.randn(*w.shape) * 0.5))
    opt = lib.optim.Adam(model.parameters(), lr=3e-2)
    steps, rewards = [], []
    for t in range(4):
        probs, value = model(lib.from_numpy(rng.randn(4).astype(np.float32)))
        steps.append((D.Categorical(probs).log_prob(lib.tensor((t * 7) % 2)), value))
        rewards.append(float(rng.rand()))
    targets = lib.tensor(_discounted(rewards))
    targets = (targets - targets.mean()) / (targets.std() + 1e-8)
    actor_terms = [-lp * (g - v.item()) for (lp, v), g in zip(steps, targets)]
    critic_terms = [F.smooth_l1_loss(v, lib.tensor([g])) for (_, v), g in zip(steps, targets)]
    opt.zero_grad()
    loss = lib.stack(actor_terms).sum() + lib.stack(critic_terms).sum()
    loss.backward()
    opt.step()
    return dict(loss=loss, lp_shape=steps[0][0].shape, v_shape=steps[0][1].shape,
                **_params(model))


@program
def cat_of_zero_dim_log_probs(lib):
    d = lib.distributions.Categorical(logits=lib.zeros(3))
    return lib.cat([d.log_prob(lib.tensor(0)), d.log_prob(lib.tensor(1))])


@program
def spinningup_sac_logp(lib):
    # a squashed Gaussian's log-density with the tanh correction in its softplus form:
    # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)); numpy's log(2) meets a tensor
    F = lib.nn.functional
    D = lib.distributions
    net = _mlp(lib, [3, 8, 4], seed=96, dtype="float32")
    obs = lib.as_tensor(_rand(5, 3, seed=97), dtype=lib.float32)
    centre, log_scale = net(obs).chunk(2, -1)
    scale = lib.clamp(log_scale, -20, 2).exp()
    noise = lib.as_tensor(_rand(5, 2, seed=98), dtype=lib.float32)
    raw = centre + scale * noise
    density = D.Normal(centre, scale).log_prob(raw).sum(axis=-1)
    # log of tanh's slope per dimension, with numpy's log(2) on the left of a tensor
    log_slope = 2 * (np.log(2) - raw - F.softplus(-2 * raw))
    density -= log_slope.sum(axis=1)
    bounded = 2.0 * lib.tanh(raw)
    (density.mean() - bounded.sum()).backward()
    return dict(logp=density, a=bounded, **_grads(net))


@program
def numpy_scalar_with_tensor(lib):
    t = lib.tensor([1.0, 2.0])
    return dict(a=np.log(2) - t, b=np.float32(2) * t, c=t * np.float64(0.5),
                d=np.float64(3.0) / t, e=t + np.int64(1), f=np.float64(1.0) - t.double(),
                g=lib.tensor(np.float64(2.5)), h=lib.tensor([np.float32(1.0), 2.0]))


@program
def spinningup_ppo_buffer(lib):
    # a rollout buffer's arrays handed over with as_tensor: float32 copies, an integer array
    # kept as int64, and a float64 array shared without a copy
    arrays = {"obs": np.random.RandomState(99).randn(4, 3), "act": np.array([0, 1, 1, 0]),
              "ret": np.array([1.0, 2.0, 0.5, -1.0], dtype=np.float32),
              "adv": np.array([0.1, -0.2, 0.3, 0.0])}
    out = {name: lib.as_tensor(arr, dtype=lib.float32) for name, arr in arrays.items()}
    out["act_long"] = lib.as_tensor(arrays["act"])
    out["shared"] = lib.as_tensor(arrays["adv"])
    arrays["adv"][0] = 9.0          # seen through "shared", not through the float32 copy
    return out


@program
def td3_update(lib):
    # twin critics and a delayed actor: the target action smoothed by clipped noise, the
    # smaller of the two target critics, the actor stepped every other critic step, then
    # Polyak averaging of every target through .data
    F = lib.nn.functional
    gamma, tau, limit = 0.99, 0.005, 1.0

    def pair(seed):
        return _mlp(lib, [5, 8, 1], seed=seed, act="ReLU"), _mlp(lib, [5, 8, 1], seed=seed,
                                                                 act="ReLU")

    pi, pi_slow = _mlp(lib, [3, 8, 2], seed=100, act="ReLU"), _mlp(lib, [3, 8, 2], seed=100,
                                                                    act="ReLU")
    (qa, qa_slow), (qb, qb_slow) = pair(101), pair(102)
    q_opt = lib.optim.Adam([*qa.parameters(), *qb.parameters()], lr=1e-3)
    pi_opt = lib.optim.Adam(pi.parameters(), lr=1e-3)
    rng = np.random.RandomState(103)
    s, s2 = lib.tensor(rng.randn(6, 3)), lib.tensor(rng.randn(6, 3))
    a = lib.tensor(rng.uniform(-1, 1, (6, 2)))
    r, d = lib.tensor(rng.randn(6, 1)), lib.tensor((rng.rand(6, 1) < 0.3) * 1.0)
    jitter = lib.tensor(rng.randn(6, 2))

    def act(net, states):
        return limit * lib.tanh(net(states))

    res = {}
    for it in range(2):
        with lib.no_grad():
            smoothed = act(pi_slow, s2) + (0.2 * jitter).clamp(-0.5, 0.5)
            joint = lib.cat([s2, smoothed.clamp(-limit, limit)], 1)
            y = r + gamma * (1 - d) * lib.min(qa_slow(joint), qb_slow(joint))
        here = lib.cat([s, a], 1)
        q_loss = F.mse_loss(qa(here), y) + F.mse_loss(qb(here), y)
        q_opt.zero_grad()
        q_loss.backward()
        q_opt.step()
        if it % 2 == 0:
            pi_loss = -qa(lib.cat([s, act(pi, s)], 1)).mean()
            pi_opt.zero_grad()
            pi_loss.backward()
            pi_opt.step()
            with lib.no_grad():
                for fast, slow in ((qa, qa_slow), (qb, qb_slow), (pi, pi_slow)):
                    for w, w_slow in zip(fast.parameters(), slow.parameters()):
                        w_slow.data.copy_(w.data * tau + w_slow.data * (1 - tau))
            res[f"a{it}"] = pi_loss
        res.update({f"c{it}": q_loss, f"tq{it}": y,
                    f"q_grads_cleared{it}": [w.grad is not None for w in qa.parameters()]})
    res.update(_params(pi_slow, "at_"))
    res.update(_params(qa, "q1_"))
    return res


@program
def per_dimension_action_bounds(lib):
    low = lib.tensor([-1.0, 0.0, -2.0])
    high = lib.tensor([1.0, 0.5, 2.0])
    a = lib.tensor([[1.5, -0.2, 0.0], [-3.0, 0.7, 2.5]], requires_grad=True)
    c1 = a.clamp(low, high)
    c2 = lib.max(lib.min(a, high), low)
    c3 = lib.clamp(a, min=low)
    (c1.sum() + 2 * c2.sum() + 3 * c3.sum()).backward()
    scaled = low + (lib.tanh(a.detach()) + 1.0) * 0.5 * (high - low)
    return dict(c1=c1, c2=c2, c3=c3, g=a.grad, scaled=scaled)


@program
def c51_projection(lib):
    # a distributional target on a fixed grid of atoms: each next-state atom is moved by the
    # Bellman update and clipped to the grid's range; its mass then goes to the two grid
    # points either side of it in proportion to closeness. Both halves land through
    # index_add_ on a flat view of the (batch, atoms) table, row r owning slots
    # [r * atoms, (r + 1) * atoms). When an atom falls exactly on a grid point, floor and
    # ceil agree and both weights would be zero, so one of the two indices is nudged (the
    # left one, except at grid point 0 where the right one moves)
    B, atoms = 4, 11
    lo, hi = -5.0, 5.0
    support = lib.linspace(lo, hi, atoms)
    step = (hi - lo) / (atoms - 1)
    rng = np.random.RandomState(104)
    next_mass = lib.softmax(lib.tensor(rng.randn(B, atoms), dtype=lib.float32), 1)
    rewards = lib.tensor([0.5, -1.0, 10.0, 0.0]).unsqueeze(1)
    done = lib.tensor([0.0, 1.0, 0.0, 0.0]).unsqueeze(1)
    moved = (rewards + 0.99 * (1 - done) * support[None, :]).clamp(min=lo, max=hi)
    where_on_grid = (moved - lo) / step                 # fractional grid coordinate
    left, right = where_on_grid.floor().long(), where_on_grid.ceil().long()
    on_grid = left == right
    left[on_grid * (right > 0)] -= 1
    right[(left == right) * (left < atoms - 1)] += 1      # only grid point 0 is still tied
    row_start = lib.linspace(0, (B - 1) * atoms, B).long().unsqueeze(1).expand(B, atoms)
    to_left = next_mass * (right.float() - where_on_grid)
    to_right = next_mass * (where_on_grid - left.float())
    target = lib.zeros(next_mass.size())
    slots = target.view(-1)
    for idx, share in ((left, to_left), (right, to_right)):
        slots.index_add_(0, (row_start + idx).view(-1), share.view(-1))
    logits = lib.tensor(rng.randn(B, atoms), dtype=lib.float32, requires_grad=True)
    cross_entropy = (target * lib.log_softmax(logits, 1)).sum(1).mean().neg()
    cross_entropy.backward()
    return dict(support=support, l=left, u=right, offset=row_start, proj=target,
                sums=target.sum(1), loss=cross_entropy, g=logits.grad)


@program
def qr_dqn_quantile_huber(lib):
    N = 5
    rng = np.random.RandomState(105)
    theta = lib.tensor(rng.randn(3, N), requires_grad=True)
    target = lib.tensor(rng.randn(3, N))
    tau = (lib.arange(N, dtype=lib.float64) + 0.5) / N
    td = target.unsqueeze(1) - theta.unsqueeze(2)
    huber = lib.where(td.abs() <= 1.0, 0.5 * td.pow(2), td.abs() - 0.5)
    loss = (lib.abs(tau.view(1, N, 1) - (td.detach() < 0).float()) * huber).sum(1).mean()
    loss.backward()
    cos = lib.cos(lib.arange(1, 9, dtype=lib.float64) * math.pi * tau.unsqueeze(-1))
    return dict(loss=loss, g=theta.grad, cos=cos, td=td)


@program
def noisy_linear_factorised(lib):
    rng = np.random.RandomState(106)
    f = lambda x: x.sign() * x.abs().sqrt()
    eps_in = f(lib.tensor(rng.randn(4)))
    eps_out = f(lib.tensor(rng.randn(3)))
    w_mu = lib.tensor(rng.randn(3, 4), requires_grad=True)
    w_sigma = lib.full((3, 4), 0.5 / math.sqrt(4), dtype=lib.float64, requires_grad=True)
    w = w_mu + w_sigma * eps_out.ger(eps_in)
    w2 = w_mu + w_sigma * lib.outer(eps_out, eps_in)
    x = lib.tensor(rng.randn(2, 4))
    y = lib.nn.functional.linear(x, w)
    y.sum().backward()
    return dict(w=w, w2=w2, y=y, gmu=w_mu.grad, gs=w_sigma.grad)


@program
def dueling_head(lib):
    rng = np.random.RandomState(107)
    value = lib.tensor(rng.randn(4, 1), requires_grad=True)
    adv = lib.tensor(rng.randn(4, 3), requires_grad=True)
    q = value + adv - adv.mean(dim=1, keepdim=True)
    q2 = value + (adv - adv.max(dim=1, keepdim=True)[0])
    (q.sum() + q2.pow(2).sum()).backward()
    return dict(q=q, q2=q2, gv=value.grad, ga=adv.grad)


@program
def policy_distillation_kl_div(lib):
    F = lib.nn.functional
    rng = np.random.RandomState(108)
    student = lib.tensor(rng.randn(4, 3), requires_grad=True)
    teacher = lib.softmax(lib.tensor(rng.randn(4, 3)), -1)
    l1 = F.kl_div(F.log_softmax(student, -1), teacher, reduction="batchmean")
    l2 = F.kl_div(F.log_softmax(student, -1), teacher.log(), reduction="sum", log_target=True)
    l3 = F.kl_div(F.log_softmax(student, -1), teacher, reduction="none")
    (l1 + l2).backward()
    return dict(l1=l1, l2=l2, l3=l3, g=student.grad)


@program
def policy_distillation_kl_div_mean_warns(lib):
    F = lib.nn.functional
    return F.kl_div(lib.log_softmax(lib.zeros(2, 3), -1), lib.full((2, 3), 1 / 3))


@program
def behaviour_cloning_float_targets(lib):
    return lib.nn.functional.cross_entropy(lib.zeros(3, 4), lib.tensor([0.0, 1.0, 2.0]))


@program
def behaviour_cloning_target_out_of_range(lib):
    return lib.nn.functional.cross_entropy(lib.zeros(3, 4), lib.tensor([0, 1, 4]))


# ----------------------------------------------------------------------------------------------
# more bad inputs users of RL code hand to it
# ----------------------------------------------------------------------------------------------
@program
def bool_dones_subtraction(lib):
    d = lib.tensor([True, False])
    return 1 - d


@program
def bool_dones_logical(lib):
    d = lib.tensor([True, False])
    q = lib.tensor([2.0, 3.0])
    return dict(a=q * (~d), b=q * d.logical_not(), c=lib.where(d, 0.0, q),
                d=q * (1 - d.float()), e=lib.where(d, lib.tensor(0), q), f=q.masked_fill(d, 0))


@program
def invert_float_dones(lib):
    return ~lib.tensor([1.0, 0.0])


@program
def max_of_empty_batch(lib):
    q = lib.zeros(0, 3)
    m = q.max(1)
    return dict(v=m.values, i=m.indices, am=q.argmax(1))


@program
def max_of_empty_batch_over_batch_dim(lib):
    return lib.zeros(0, 3).max(0)


@program
def max_of_empty_no_dim(lib):
    return lib.zeros(0, 3).max()


@program
def gather_index_larger_than_input(lib):
    return lib.zeros(4, 3).gather(1, lib.zeros(5, 1, dtype=lib.long))


@program
def load_state_dict_casts_dtype(lib):
    net = _mlp(lib, [2, 2], seed=110, dtype="float32")
    sd = {k: v.double() * 2 for k, v in net.state_dict().items()}
    net.load_state_dict(sd)
    return dict(dt=[p.dtype for p in net.parameters()], **_params(net))


@program
def load_state_dict_size_mismatch_message(lib):
    net = _mlp(lib, [4, 5, 2], seed=44)
    tgt = _mlp(lib, [4, 6, 2], seed=44)
    tgt.load_state_dict(net.state_dict())


WORDS["load_state_dict_size_mismatch_message"] = [
    "Error(s) in loading state_dict for Sequential",
    "size mismatch for 0.weight: copying a param with shape",
    "[5, 4]) from checkpoint, the shape in current model is", "[6, 4])"]


@program
def copy_into_target_of_other_dtype(lib):
    t = lib.zeros(3)
    with lib.no_grad():
        t.copy_(lib.tensor([1.1, 2.2, 3.3], dtype=lib.float64))
        t.lerp_(lib.ones(3), lib.tensor([0.0, 0.5, 1.0]))
    return t


@program
def lerp_with_mismatched_dtype(lib):
    t = lib.zeros(3)
    return t.lerp_(lib.ones(3, dtype=lib.float64), 0.5)


@program
def optimizer_generator_consumed(lib):
    net = _mlp(lib, [2, 2], seed=111)
    params = net.parameters()
    lib.optim.Adam(params, lr=1e-3)
    lib.optim.Adam(params, lr=1e-3)


@program
def optimizer_non_leaf(lib):
    w = lib.ones(2, requires_grad=True) * 2
    lib.optim.SGD([w], lr=0.1)


@program
def optimizer_given_module(lib):
    lib.optim.SGD(_mlp(lib, [2, 2], seed=112), lr=0.1)


@program
def optimizer_param_in_two_groups(lib):
    net = _mlp(lib, [2, 2], seed=113)
    lib.optim.SGD([{"params": net.parameters()}, {"params": [net[0].weight], "lr": 1.0}], lr=0.1)


@program
def optimizer_duplicate_params_warns(lib):
    net = _mlp(lib, [2, 2], seed=114)
    opt = lib.optim.SGD([net[0].weight, net[0].weight], lr=0.1)
    return len(opt.param_groups[0]["params"])


@program
def optimizer_steps_twice_per_update(lib):
    net = _mlp(lib, [3, 4, 1], seed=115)
    nets = [net, _mlp(lib, [3, 4, 1], seed=115), _mlp(lib, [3, 4, 1], seed=115)]
    opts = [lib.optim.Adam(nets[0].parameters(), lr=1e-2),
            lib.optim.SGD(nets[1].parameters(), lr=1e-2, momentum=0.9, nesterov=True),
            lib.optim.Adam(nets[2].parameters(), lr=1e-2, maximize=True, weight_decay=0.1)]
    x = lib.tensor(_rand(5, 3, seed=116))
    res = {}
    for i, (n, o) in enumerate(zip(nets, opts)):
        o.zero_grad()
        n(x).pow(2).mean().backward()
        o.step()
        o.step()                      # same gradients, the state advances twice
        st = o.state_dict()["state"][0]
        res[f"state{i}"] = {k: v for k, v in st.items()}
        res.update(_params(n, f"n{i}_"))
    return res


@program
def lr_annealing_by_param_groups(lib):
    net = _mlp(lib, [3, 1], seed=117)
    opt = lib.optim.Adam(net.parameters(), lr=2.5e-4, eps=1e-5)
    x = lib.tensor(_rand(4, 3, seed=118))
    lrs = []
    for update in range(1, 4):
        frac = 1.0 - (update - 1.0) / 3
        opt.param_groups[0]["lr"] = frac * 2.5e-4
        opt.zero_grad(set_to_none=False)
        net(x).sum().backward()
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
    sched_net = _mlp(lib, [3, 1], seed=117)
    opt2 = lib.optim.Adam(sched_net.parameters(), lr=1.0)
    sched = lib.optim.lr_scheduler.LambdaLR(opt2, lambda e: 1 - e / 10)
    sl = []
    for _ in range(3):
        opt2.step()
        sched.step()
        sl.append(sched.get_last_lr()[0])
    return dict(lrs=lrs, sl=sl, **_params(net))


@program
def backward_of_non_scalar_loss(lib):
    w = lib.ones(3, requires_grad=True)
    (w * 2).backward()


@program
def clip_grad_norm_string_inf(lib):
    w = lib.tensor([3.0, -4.0], requires_grad=True)
    (w * w).sum().backward()
    n = lib.nn.utils.clip_grad_norm_([w], 1.0, norm_type="inf")
    return dict(n=n, g=w.grad)


@program
def clip_grad_norm_logging_only(lib):
    w = lib.tensor([3.0, -4.0], requires_grad=True)
    (w * w).sum().backward()
    n = lib.nn.utils.clip_grad_norm_([w], max_norm=float("inf"))
    return dict(n=n, g=w.grad)


# ----------------------------------------------------------------------------------------------
# distributions: more API and bad inputs
# ----------------------------------------------------------------------------------------------
@program
def log_prob_of_python_number(lib):
    d = lib.distributions.Normal(lib.zeros(2), lib.ones(2), validate_args=True)
    return d.log_prob(0.5)


@program
def categorical_log_prob_of_python_int(lib):
    d = lib.distributions.Categorical(logits=lib.zeros(3), validate_args=True)
    return d.log_prob(1)


@program
def sample_shape_given_as_int(lib):
    return lib.distributions.Normal(lib.zeros(2), lib.ones(2)).sample(5)


@program
def sample_shape_as_list(lib):
    d = lib.distributions.Normal(lib.zeros(2), lib.ones(2))
    c = lib.distributions.Categorical(logits=lib.zeros(2, 3))
    return dict(s=d.sample([3]).shape, r=d.rsample([2, 1]).shape, c=c.sample([4]).shape,
                t=d.sample(lib.Size([2])).shape)


@program
def categorical_rsample(lib):
    return lib.distributions.Categorical(logits=lib.zeros(3)).rsample()


@program
def categorical_zero_dim_action_broadcast(lib):
    d = lib.distributions.Categorical(logits=lib.tensor(_rand(4, 3, seed=120)))
    return dict(lp=d.log_prob(lib.tensor(1)), lp2=d.log_prob(lib.tensor([2])))


@program
def categorical_time_batch(lib):
    d = lib.distributions.Categorical(logits=lib.tensor(_rand(5, 2, 3, seed=121)))
    a = lib.tensor(np.random.RandomState(122).randint(0, 3, (5, 2)))
    return dict(lp=d.log_prob(a), ent=d.entropy(), lp_b=d.log_prob(a[0]))


@program
def categorical_all_zero_probs(lib):
    return lib.distributions.Categorical(probs=lib.zeros(2, 3), validate_args=True)


@program
def categorical_all_zero_probs_unvalidated(lib):
    d = lib.distributions.Categorical(probs=lib.zeros(2, 3), validate_args=False)
    return dict(p=d.probs, l=d.logits)


@program
def multinomial_all_zero(lib):
    return lib.multinomial(lib.zeros(3), 1)


@program
def independent_categorical(lib):
    D = lib.distributions
    logits = lib.tensor(_rand(4, 2, 3, seed=123), requires_grad=True)
    d = D.Independent(D.Categorical(logits=logits), 1)
    a = lib.tensor(np.random.RandomState(124).randint(0, 3, (4, 2)))
    lp, e = d.log_prob(a), d.entropy()
    (lp.sum() + e.sum()).backward()
    return dict(lp=lp, e=e, g=logits.grad, bs=d.batch_shape, es=d.event_shape,
                s=d.sample((3,)).shape)


@program
def kl_independent_vs_plain(lib):
    D = lib.distributions
    p = D.Independent(D.Normal(lib.zeros(2), lib.ones(2)), 1)
    return D.kl_divergence(p, D.Normal(lib.zeros(2), lib.ones(2)))


@program
def kl_normal_broadcast(lib):
    D = lib.distributions
    mu = lib.tensor(_rand(3, 1, seed=125), requires_grad=True)
    p = D.Normal(mu, lib.tensor(0.5, dtype=lib.float64))
    q = D.Normal(lib.zeros(4, dtype=lib.float64), lib.ones(4, dtype=lib.float64))
    kl = D.kl_divergence(p, q)
    kl.sum().backward()
    return dict(kl=kl, g=mu.grad)


@program
def kl_categorical_mismatched_events(lib):
    D = lib.distributions
    return D.kl_divergence(D.Categorical(logits=lib.zeros(3)), D.Categorical(logits=lib.zeros(4)))


@program
def kl_with_zero_prob_actions(lib):
    D = lib.distributions
    p = D.Categorical(probs=lib.tensor([0.5, 0.5, 0.0]))
    q = D.Categorical(probs=lib.tensor([0.5, 0.0, 0.5]))
    return dict(pq=D.kl_divergence(p, q), qp=D.kl_divergence(q, p),
                pp=D.kl_divergence(p, p))


@program
def normal_log_prob_grad_wrt_value(lib):
    D = lib.distributions
    a = lib.tensor([0.3, -1.2], requires_grad=True)
    mu = lib.tensor([0.0, 1.0], requires_grad=True)
    d = D.Normal(mu, 2.0)
    lp = d.log_prob(a)
    lp.sum().backward()
    return dict(lp=lp, ga=a.grad, gmu=mu.grad)


@program
def normal_rsample_zero_scale(lib):
    D = lib.distributions
    mu = lib.tensor([0.5, -0.5], requires_grad=True)
    s = lib.zeros(2, requires_grad=True)
    x = D.Normal(mu, s, validate_args=False).rsample()
    x.sum().backward()
    return dict(x=x, gmu=mu.grad)


@program
def normal_icdf_edges(lib):
    d = lib.distributions.Normal(lib.tensor(1.0), lib.tensor(2.0))
    return dict(i=d.icdf(lib.tensor([0.0, 0.5, 1.0])), c=d.cdf(lib.tensor([-math.inf, math.inf])),
                lp=d.log_prob(lib.tensor([math.inf])))


@program
def normal_icdf_out_of_range_validated(lib):
    d = lib.distributions.Normal(lib.tensor(1.0), lib.tensor(2.0), validate_args=True)
    return d.icdf(lib.tensor([1.5]))


@program
def bernoulli_probs_at_edges(lib):
    D = lib.distributions
    d = D.Bernoulli(probs=lib.tensor([1.0, 0.0, 0.5]))
    return dict(lp0=d.log_prob(lib.zeros(3)), lp1=d.log_prob(lib.ones(3)), e=d.entropy(),
                logits=d.logits)


@program
def bernoulli_non_binary_value_validated(lib):
    d = lib.distributions.Bernoulli(probs=lib.tensor([0.3]), validate_args=True)
    return d.log_prob(lib.tensor([0.5]))


@program
def beta_value_at_boundary_validated(lib):
    d = lib.distributions.Beta(lib.tensor([2.0]), lib.tensor([2.0]), validate_args=True)
    return d.log_prob(lib.tensor([1.0]))


@program
def dirichlet_portfolio_policy(lib):
    D = lib.distributions
    raw = lib.tensor(_rand(3, 4, seed=126), requires_grad=True)
    conc = lib.nn.functional.softplus(raw) + 0.5
    d = D.Dirichlet(conc)
    w = lib.softmax(lib.tensor(_rand(3, 4, seed=127)), -1)
    lp, e = d.log_prob(w), d.entropy()
    (lp.sum() + e.sum()).backward()
    return dict(lp=lp, e=e, g=raw.grad, m=d.mean, s=d.rsample((2,)).shape,
                bs=d.batch_shape, es=d.event_shape)


@program
def transformed_distribution_sample_shapes(lib):
    D = lib.distributions
    base = D.Normal(lib.zeros(3, 2), lib.ones(3, 2))
    d = D.TransformedDistribution(base, D.transforms.TanhTransform(cache_size=1))
    x = d.rsample((4,))
    return dict(x=x.shape, inside=bool((x.abs() <= 1).all()), lp=d.log_prob(x).shape,
                bs=d.batch_shape, es=d.event_shape, has=d.has_rsample)


@program
def tanh_transform_cache_size_bad(lib):
    return lib.distributions.transforms.TanhTransform(cache_size=2)


@program
def affine_transform_event_dim(lib):
    D = lib.distributions
    T = D.transforms
    base = D.Independent(D.Normal(lib.zeros(3, 2, dtype=lib.float64),
                                  lib.ones(3, 2, dtype=lib.float64)), 1)
    tr = T.AffineTransform(lib.tensor([1.0, -1.0], dtype=lib.float64),
                           lib.tensor([2.0, 0.5], dtype=lib.float64), event_dim=1)
    d = D.TransformedDistribution(base, tr)
    v = lib.tensor(_rand(3, 2, seed=128))
    return dict(lp=d.log_prob(v), bs=d.batch_shape, es=d.event_shape, mean_shape=d.sample().shape)


@program
def log_prob_float32_dist_float64_action_grad(lib):
    D = lib.distributions
    mu = lib.zeros(2, requires_grad=True)
    d = D.Normal(mu, lib.ones(2))
    lp = d.log_prob(lib.tensor([0.5, 1.5], dtype=lib.float64))
    lp.sum().backward()
    return dict(lp=lp, g=mu.grad)


# ----------------------------------------------------------------------------------------------
# older RL code: legacy constructors, conversions between numpy, lists and tensors
# ----------------------------------------------------------------------------------------------
@program
def legacy_constructors(lib):
    rng = np.random.RandomState(130)
    states = rng.randn(3, 4)
    V = lib.autograd.Variable
    return dict(f=lib.FloatTensor(states), l=lib.LongTensor([[1], [0], [2]]),
                b=lib.ByteTensor([1, 0, 1]), bt=lib.BoolTensor([True, False]),
                d=lib.DoubleTensor([1.5, 2.5]), empty=lib.FloatTensor(2, 3).shape,
                v=V(lib.FloatTensor([1.0, 2.0]), requires_grad=True).requires_grad,
                v2=V(lib.FloatTensor([1.0])).requires_grad, ft=lib.FloatTensor(states).dtype)


@program
def legacy_constructor_bad_dtype(lib):
    return lib.LongTensor(np.array([1.5, 2.5]))


@program
def tensor_from_list_of_tensors(lib):
    a = [lib.tensor(1.5), lib.tensor(2.5)]
    b = [lib.tensor([1.5]), lib.tensor([2.5])]
    return dict(a=lib.tensor(a), b=lib.tensor(b), c=lib.tensor([lib.tensor(3), 4]))


@program
def tensor_from_list_of_multi_element_tensors(lib):
    return lib.tensor([lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])])


@program
def tensor_from_list_of_arrays_warns(lib):
    arrs = [np.ones(3), np.zeros(3)]
    return lib.tensor(arrs)


@program
def stack_of_numpy_arrays(lib):
    return lib.stack([np.ones(3), np.zeros(3)])


@program
def scalar_conversions(lib):
    q = lib.tensor([[0.1, 0.7, 0.2]])
    a = q.argmax()
    return dict(item=a.item(), it=type(a.item()).__name__, i=int(a), f=float(q[0, 1]),
                arr=np.asarray(q), data=q.data.numpy()[0], cpu=q.cpu().data.numpy().shape,
                lst=q.tolist(), b=bool(q[0, 0] > 0), idx=[0, 1, 2][a],
                arr_dtype=str(np.asarray(lib.tensor([1, 2])).dtype))


@program
def float_of_multi_element(lib):
    return float(lib.tensor([1.0, 2.0]))


@program
def bool_of_multi_element(lib):
    if lib.tensor([True, False]):
        return 1


@program
def from_numpy_dtypes(lib):
    return dict(b=lib.from_numpy(np.array([True, False])),
                u=lib.from_numpy(np.array([1, 255], dtype=np.uint8)),
                i=lib.from_numpy(np.array([1, 2], dtype=np.int32)),
                f=lib.from_numpy(np.array([1.0], dtype=np.float16)),
                bf=lib.from_numpy(np.array([True, False])).float(),
                obs=lib.from_numpy(np.ones((2, 2))).float().to("cpu").unsqueeze(0))


@program
def from_numpy_of_list(lib):
    return lib.from_numpy([1.0, 2.0])


@program
def from_numpy_negative_strides(lib):
    a = np.arange(6.0)[::-1]
    return lib.from_numpy(a)


@program
def as_tensor_of_flipped_array(lib):
    a = np.arange(6.0)[::-1]
    return dict(t=lib.as_tensor(a), t2=lib.tensor(a), t3=lib.as_tensor(a.copy(), dtype=lib.float32))


@program
def cumulative_discounts(lib):
    d = lib.tensor(DONES)
    g = lib.full((6,), 0.9, dtype=lib.float64)
    disc = lib.cumprod(g * (1 - d), 0)
    steps = lib.cumsum(lib.tensor([True, False, True, True]), 0)
    csd = lib.cumsum(lib.tensor([1, 2, 3], dtype=lib.int32), 0, dtype=lib.float32)
    episode_ids = lib.cat([lib.zeros(1, dtype=lib.long), d[:-1].long().cumsum(0)])
    return dict(disc=disc, steps=steps, csd=csd, ids=episode_ids,
                lengths=lib.bincount(episode_ids), flipud=lib.flipud(d), fl=d.flip(-1))


@program
def default_validation_catches_bad_probs(lib):
    return lib.distributions.Categorical(probs=lib.tensor([0.5, -0.1, 0.6]))


@program
def default_validation_catches_bad_action(lib):
    d = lib.distributions.Categorical(logits=lib.zeros(2, 3))
    return d.log_prob(lib.tensor([0, 5]))


@program
def validation_turned_off_globally(lib):
    lib.distributions.Distribution.set_default_validate_args(False)
    d = lib.distributions.Normal(lib.zeros(2), lib.tensor([1.0, -1.0]))
    return dict(lp=d.log_prob(lib.tensor([0.0, 0.0])), v=d._validate_args)


@program
def distributions_utils(lib):
    U = lib.distributions.utils
    p = lib.tensor([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])
    return dict(l=U.probs_to_logits(p), lb=U.probs_to_logits(lib.tensor([0.0, 0.25, 1.0]),
                                                            is_binary=True),
                p=U.logits_to_probs(lib.tensor([[1.0, 2.0, 3.0]])),
                pb=U.logits_to_probs(lib.tensor([0.0, 2.0]), is_binary=True),
                c=U.clamp_probs(lib.tensor([0.0, 0.5, 1.0])))


@program
def categorical_grads_through_probs_attribute(lib):
    logits = lib.tensor(_rand(2, 3, seed=131), requires_grad=True)
    d = lib.distributions.Categorical(logits=logits)
    (d.probs[:, 0].sum() + d.logits[:, 1].sum()).backward()
    return dict(g=logits.grad, rg=d.probs.requires_grad)


@program
def normal_perplexity_and_shapes(lib):
    d = lib.distributions.Normal(lib.tensor(_rand(2, 3, seed=132)), 0.5)
    return dict(p=d.perplexity(), bs=d.batch_shape, scale=d.scale, m=d.mode,
                support=str(d.support), lp_scalar=d.log_prob(lib.tensor(0.3, dtype=lib.float64)))


@program
def categorical_mean_is_nan(lib):
    d = lib.distributions.Categorical(logits=lib.zeros(2, 3))
    return dict(m=d.mean, v=d.variance, support=str(d.support), ub=d.support.upper_bound)


@program
def register_kl_custom(lib):
    D = lib.distributions

    class Point(D.Normal):
        pass

    @D.register_kl(Point, Point)
    def _kl(p, q):
        return (p.loc - q.loc).abs()

    a, b = Point(lib.tensor([1.0]), lib.tensor([1.0])), Point(lib.tensor([3.0]), lib.tensor([1.0]))
    n = D.Normal(lib.tensor([3.0]), lib.tensor([1.0]))
    return dict(kl=D.kl_divergence(a, b), kl_n=D.kl_divergence(a, n))


@program
def independent_expand(lib):
    D = lib.distributions
    d = D.Independent(D.Normal(lib.zeros(3), lib.ones(3)), 1)
    e = d.expand((4,))
    return dict(bs=e.batch_shape, es=e.event_shape, lp=e.log_prob(lib.zeros(4, 3)),
                s=e.sample((2,)).shape)


@program
def independent_expand_bad(lib):
    D = lib.distributions
    d = D.Independent(D.Normal(lib.zeros(2, 3), lib.ones(2, 3)), 1)
    return d.expand((4,))


@program
def tanh_transform_cache_round_trip(lib):
    T = lib.distributions.transforms.TanhTransform(cache_size=1)
    x = lib.tensor([0.5, 12.0, -20.0])
    y = T(x)
    return dict(y=y, back=T.inv(y), other=T.inv(y.clone()))


@program
def squashed_gaussian_no_cache_at_saturation(lib):
    D = lib.distributions
    d = D.TransformedDistribution(D.Normal(lib.zeros(2), lib.ones(2)),
                                  [D.transforms.TanhTransform()])
    return d.log_prob(lib.tensor([1.0, -1.0]))


@program
def squashed_gaussian_out_of_support_validated(lib):
    D = lib.distributions
    d = D.TransformedDistribution(D.Normal(lib.zeros(2), lib.ones(2)),
                                  [D.transforms.TanhTransform()], validate_args=True)
    return d.log_prob(lib.tensor([1.5, 0.0]))


@program
def kl_transformed_same_transform(lib):
    D = lib.distributions
    T = D.transforms
    p = D.TransformedDistribution(D.Normal(lib.zeros(2), lib.ones(2)), [T.TanhTransform()])
    q = D.TransformedDistribution(D.Normal(lib.ones(2), lib.ones(2)), [T.TanhTransform()])
    return D.kl_divergence(p, q)


@program
def entropy_bonus_gradient_continuous(lib):
    D = lib.distributions
    log_std = lib.nn.Parameter(lib.zeros(2, dtype=lib.float64) - 0.5)
    mu = lib.tensor(_rand(4, 2, seed=133), requires_grad=True)
    d = D.Normal(mu, log_std.exp().expand_as(mu))
    a = lib.tensor(_rand(4, 2, seed=134))
    loss = -(d.log_prob(a).sum(1) * lib.tensor([1.0, -1.0, 0.5, 2.0], dtype=lib.float64)).mean()
    loss = loss - 0.01 * d.entropy().sum(-1).mean()
    loss.backward()
    return dict(loss=loss, gl=log_std.grad, gm=mu.grad, leaf=log_std.is_leaf,
                ty=type(log_std).__name__)


@program
def sample_inside_no_grad_and_log_prob_outside(lib):
    D = lib.distributions
    mu = lib.tensor([0.5, -0.5], requires_grad=True)
    with lib.no_grad():
        d0 = D.Normal(mu, lib.ones(2))
        a = d0.sample()
        lp0 = d0.log_prob(a)
    d = D.Normal(mu, lib.ones(2))
    lp = d.log_prob(a)
    return dict(lp0_rg=lp0.requires_grad, lp_rg=lp.requires_grad, a_rg=a.requires_grad,
                same=bool(lib.allclose(lp0, lp.detach())))


@program
def entropy_of_empty_normal(lib):
    d = lib.distributions.Normal(lib.zeros(0, 2), lib.ones(0, 2))
    return dict(e=d.entropy(), lp=d.log_prob(lib.zeros(0, 2)), s=d.sample().shape,
                m=d.entropy().sum(-1).mean())


@program
def non_contiguous_action_views(lib):
    D = lib.distributions
    logits = lib.tensor(_rand(3, 4, seed=135)).t()           # (4, 3), non-contiguous
    a = lib.tensor([[0, 1, 2, 1], [2, 2, 0, 0]]).t()[:, 0]   # strided view
    d = D.Categorical(logits=logits)
    mu = lib.tensor(_rand(2, 4, seed=136)).t()
    n = D.Normal(mu, lib.ones(4, 2, dtype=lib.float64))
    v = lib.tensor(_rand(2, 4, seed=137)).t()
    return dict(lp=d.log_prob(a), ent=d.entropy(), nlp=n.log_prob(v), c=logits.is_contiguous(),
                g=logits.gather(1, a.unsqueeze(1)))


@program
def network_given_numpy_observation(lib):
    net = _mlp(lib, [4, 2], seed=140, dtype="float32")
    return net(np.ones(4, dtype=np.float32))


@program
def exp_of_numpy_scalar(lib):
    return lib.exp(np.float64(1.0))


@program
def clamp_of_numpy_action(lib):
    return lib.clamp(np.array([1.5, -2.0]), -1, 1)


@program
def clamp_of_list_action_max_only(lib):
    return lib.clamp([1.5, -2.0], max=1.0)


@program
def max_of_numpy_q_values(lib):
    return lib.max(np.array([1.0, 2.0]))


@program
def min_of_python_list(lib):
    return lib.min([1.0, 2.0])


@program
def cat_with_python_list(lib):
    return lib.cat([lib.ones(2), [1.0]])


@program
def normal_of_numpy_loc(lib):
    return lib.distributions.Normal(np.zeros(2), 1.0)


@program
def optimizer_given_tensor(lib):
    return lib.optim.SGD(lib.ones(2, requires_grad=True), lr=0.1)


@program
def optimizer_given_list_of_floats(lib):
    return lib.optim.SGD([1.0, 2.0], lr=0.1)


# ----------------------------------------------------------------------------------------------
# clipped PPO over a vectorised rollout, and the distribution wrappers of actor-critic libraries
# ----------------------------------------------------------------------------------------------
def _agent(lib, continuous, seed=150):
    nn = lib.nn
    D = lib.distributions
    n_act = 2 if continuous else 3

    class Policy(nn.Module):
        """a value MLP, a policy MLP (means or logits), and for continuous actions one
        state-independent log-std row broadcast over the batch"""
        def __init__(self):
            super().__init__()
            self.value = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
            self.policy = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, n_act))
            if continuous:
                self.log_std = nn.Parameter(lib.zeros(1, int(np.prod((n_act,)))))

        def law(self, obs):
            head = self.policy(obs)
            if continuous:
                return D.Normal(head, self.log_std.expand_as(head).exp())
            return D.Categorical(logits=head)

        def evaluate(self, obs, act=None):
            """(action, log-prob, entropy, value); the action drawn when not given"""
            law = self.law(obs)
            act = law.sample() if act is None else act
            logp, ent = law.log_prob(act), law.entropy()
            if continuous:                       # independent dimensions
                logp, ent = logp.sum(1), ent.sum(1)
            return act, logp, ent, self.value(obs)

    agent = Policy()
    rng = np.random.RandomState(seed)
    with lib.no_grad():
        for w in agent.parameters():
            w.copy_(lib.tensor(rng.randn(*w.shape) * 0.3))
    return agent


def _cleanrl_ppo(lib, continuous):
    agent = _agent(lib, continuous)
    nn = lib.nn
    opt = lib.optim.Adam(agent.parameters(), lr=2.5e-4, eps=1e-5)
    T, N, clip, gamma, lam = 4, 2, 0.2, 0.99, 0.95
    act_shape = (2,) if continuous else ()
    rng = np.random.RandomState(151)
    # preallocated rollout storage, (time, env, ...), filled one step at a time
    store = {"obs": lib.zeros((T, N, 4)), "act": lib.zeros((T, N) + act_shape),
             "logp": lib.zeros((T, N)), "rew": lib.zeros((T, N)), "done": lib.zeros((T, N)),
             "val": lib.zeros((T, N))}
    obs, done = lib.Tensor(rng.randn(N, 4)), lib.zeros(N)
    for t in range(T):
        store["obs"][t], store["done"][t] = obs, done
        with lib.no_grad():
            chosen = lib.Tensor(rng.randn(N, 2)) if continuous else lib.tensor(
                rng.randint(0, 3, N))
            chosen, logp, _, value = agent.evaluate(obs, chosen)
            store["val"][t] = value.flatten()
        store["act"][t], store["logp"][t] = chosen, logp
        store["rew"][t] = lib.tensor(rng.randn(N)).to("cpu").view(-1)
        obs, done = lib.Tensor(rng.randn(N, 4)), lib.Tensor(rng.rand(N) < 0.3)
    # generalised advantage estimation, backwards in time; a done flag cuts the bootstrap
    with lib.no_grad():
        last_value = agent.value(obs).reshape(1, -1)
        adv = lib.zeros_like(store["rew"])
        carry = 0
        for t in range(T - 1, -1, -1):
            later_done = done if t == T - 1 else store["done"][t + 1]
            later_value = last_value if t == T - 1 else store["val"][t + 1]
            live = 1.0 - later_done
            delta = store["rew"][t] - store["val"][t] + gamma * live * later_value
            carry = delta + gamma * lam * live * carry
            adv[t] = carry
        ret = adv + store["val"]
    flat = {"obs": store["obs"].reshape((-1, 4)), "logp": store["logp"].reshape(-1),
            "act": store["act"].reshape((-1,) + act_shape), "adv": adv.reshape(-1),
            "ret": ret.reshape(-1), "val": store["val"].reshape(-1)}
    order = np.arange(T * N)
    res, clipped = {}, []
    for epoch in range(2):
        order = order[::-1].copy() if epoch else order
        for start in range(0, T * N, 4):
            idx = order[start:start + 4]
            act = flat["act"][idx] if continuous else flat["act"].long()[idx]
            _, logp, ent, v = agent.evaluate(flat["obs"][idx], act)
            log_ratio = logp - flat["logp"][idx]
            ratio = log_ratio.exp()
            with lib.no_grad():                  # diagnostics: two KL estimates, clip rate
                kl_naive = log_ratio.neg().mean()
                kl = (ratio - 1 - log_ratio).mean()
                clipped.append(((ratio - 1.0).abs() > clip).float().mean().item())
            a = flat["adv"][idx]
            a = (a - a.mean()) / (a.std() + 1e-8)
            surrogate = lib.max(-a * ratio, -a * lib.clamp(ratio, 1 - clip, 1 + clip)).mean()
            v = v.view(-1)
            v_clip = flat["val"][idx] + lib.clamp(v - flat["val"][idx], -clip, clip)
            v_loss = lib.max((v - flat["ret"][idx]) ** 2,
                             (v_clip - flat["ret"][idx]) ** 2).mean() / 2
            loss = surrogate + 0.5 * v_loss - 0.01 * ent.mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            opt.step()
            res[f"loss{epoch}{start}"] = loss
            res[f"kl{epoch}{start}"] = (kl_naive, kl)
        if kl > 10.0:                            # a 0-d tensor in an if
            break
    pred, true = flat["val"].cpu().numpy(), flat["ret"].cpu().numpy()
    spread = np.var(true)
    res["ev"] = np.nan if spread == 0 else 1 - np.var(true - pred) / spread
    res["clipfracs"] = clipped
    res["adv"] = adv
    res["actions_dtype"] = store["act"].dtype
    res.update(_params(agent))
    return res


@program
def cleanrl_ppo_discrete(lib):
    return _cleanrl_ppo(lib, continuous=False)


@program
def cleanrl_ppo_continuous(lib):
    return _cleanrl_ppo(lib, continuous=True)


@program
def capital_tensor_constructor(lib):
    rng = np.random.RandomState(152)
    return dict(f=lib.Tensor(rng.randn(2, 2)), i=lib.Tensor(np.array([1, 2])),
                b=lib.Tensor(np.array([True, False])), l=lib.Tensor([1, 2]),
                n=lib.Tensor(3).shape, e=lib.Tensor().shape, z=lib.zeros(1, np.int64(2)).shape,
                sh=lib.zeros((2,) + (3,)).shape, idx=lib.arange(5.0)[np.int64(2)])


@program
def ikostrikov_fixed_distributions(lib):
    # distribution subclasses that give column-shaped samples and log-probs summed to (B, 1),
    # and a mode(), as actor-critic libraries wrap them
    D = lib.distributions

    class ColumnCategorical(D.Categorical):
        def mode(self):                          # the likeliest class, as a column
            return self.probs.argmax(dim=-1, keepdim=True)

        def sample(self):
            draws = super().sample()
            return draws.unsqueeze(-1)

        def summed_log_prob(self, actions):
            flat = actions.squeeze(-1)
            rows = actions.size(0)
            return super().log_prob(flat).view(rows, -1).sum(-1)[..., None]

    class RowNormal(D.Normal):
        def mode(self):
            return self.mean

        def summed_log_prob(self, actions):
            per_dim = D.Normal.log_prob(self, actions)
            return per_dim.sum(-1, keepdim=True)

        def entropy(self):
            return D.Normal.entropy(self).sum(-1)

    class RowBernoulli(D.Bernoulli):
        def mode(self):                          # 1 where p > 1/2
            return lib.gt(self.probs, 0.5).float()

        def summed_log_prob(self, actions):
            per_dim = D.Bernoulli.log_prob(self, actions).reshape(len(actions), -1)
            return per_dim.sum(-1)[..., None]

        def entropy(self):
            return D.Bernoulli.entropy(self).sum(-1)

    logits = lib.tensor(_rand(4, 3, seed=153), requires_grad=True)
    c = ColumnCategorical(logits=logits)
    a = lib.tensor([[0], [2], [1], [1]])
    mu = lib.tensor(_rand(4, 2, seed=154), requires_grad=True)
    n = RowNormal(mu, lib.full((4, 2), 0.7, dtype=lib.float64))
    an = lib.tensor(_rand(4, 2, seed=155))
    b = RowBernoulli(logits=lib.tensor(_rand(4, 2, seed=156)))
    ab = lib.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=lib.float64)
    lp = c.summed_log_prob(a) + n.summed_log_prob(an) + b.summed_log_prob(ab)
    ent = c.entropy().mean() + n.entropy().mean() + b.entropy().mean()
    (lp.sum() - ent).backward()
    return dict(lp=lp, ent=ent, gl=logits.grad, gm=mu.grad, mode=c.mode(), nmode=n.mode(),
                bmode=b.mode(), s=c.sample().shape, sn=n.sample().shape,
                kl=D.kl_divergence(c, ColumnCategorical(logits=lib.zeros(4, 3))))


@program
def ikostrikov_add_bias(lib):
    # a learnable bias stored as a column Parameter, reshaped to broadcast over (B, C) or
    # (B, C, H, W) inputs
    nn = lib.nn

    class ChannelBias(nn.Module):
        def __init__(self, init):
            super().__init__()
            self._bias = nn.Parameter(init[:, None])

        def forward(self, x):
            shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
            return x + self._bias.t().view(*shape)

    m = ChannelBias(lib.tensor([0.5, -0.5]))
    y = m(lib.ones(3, 2))
    y.sum().backward()
    y4 = m(lib.ones(1, 2, 2, 2))
    return dict(y=y, y4=y4, g=m._bias.grad, names=[n for n, _ in m.named_parameters()])


@program
def rollout_storage_returns(lib):
    # discounted returns written backwards into a (T + 1, N, 1) buffer whose masks zero the
    # bootstrap after an episode end; then the samplers that cut such a rollout into batches
    T, N = 5, 2
    rewards = lib.tensor(_rand(T, N, 1, seed=157), dtype=lib.float32)
    alive = lib.ones(T + 1, N, 1)
    alive[3, 0] = 0.0
    returns = lib.zeros(T + 1, N, 1)
    returns[-1] = lib.tensor([[0.5], [-0.5]])
    for t in range(T - 1, -1, -1):
        returns[t] = rewards[t] + 0.99 * alive[t + 1] * returns[t + 1]
    S = lib.utils.data
    batches = list(S.BatchSampler(S.SequentialSampler(range(10)), 3, drop_last=False))
    batches_d = list(S.BatchSampler(range(10), 4, drop_last=True))
    g = lib.Generator().manual_seed(0)
    rand = list(S.BatchSampler(S.SubsetRandomSampler(range(10), generator=g), 5, drop_last=True))
    return dict(returns=returns, batches=batches, bd=batches_d,
                rand=sorted(i for b in rand for i in b), n=len(rand),
                lens=len(S.BatchSampler(range(10), 3, drop_last=False)))


@program
def ddpg_select_action(lib):
    actor = _mlp(lib, [3, 8, 2], seed=158, act="ReLU", dtype="float32")
    state = np.random.RandomState(159).randn(3)
    batch_of_one = state[None, :]
    a = actor(lib.FloatTensor(batch_of_one)).cpu().data.numpy().ravel()
    a2 = actor(lib.as_tensor(state, dtype=lib.float32).unsqueeze(0)).detach().numpy()[0]
    noise = (0.1 * np.random.RandomState(160).randn(2)).astype(np.float32)
    return dict(a=a, a2=a2, clipped=np.clip(a + noise, -1, 1), dt=str(a.dtype),
                w=actor[0].weight.data.numpy().dtype.name)


@program
def orthogonal_layer_init(lib):
    nn = lib.nn

    def orthogonal(linear, gain=math.sqrt(2.0), fill=0.0):   # a scaled orthogonal weight
        nn.init.orthogonal_(linear.weight, gain)
        nn.init.constant_(linear.bias, fill)
        return linear

    lib.manual_seed(0)
    wide = orthogonal(nn.Linear(4, 6))
    tall = orthogonal(nn.Linear(6, 3), gain=0.01, fill=0.5)
    w, t = wide.weight.detach(), tall.weight.detach()
    # the draw differs; what is specified is orthogonality with the gain
    return dict(wtw=(w.t() @ w / 2.0).round(decimals=5), ttt=(t @ t.t() / 1e-4).round(decimals=4),
                b=tall.bias, rg=wide.weight.requires_grad, shape=w.shape)


@program
def ddpg_final_layer_uniform(lib):
    lin = lib.nn.Linear(8, 2)
    lib.nn.init.uniform_(lin.weight, -3e-3, 3e-3)
    lin.bias.data.uniform_(-3e-3, 3e-3)
    return dict(inside=bool((lin.weight.abs() <= 3e-3).all() and (lin.bias.abs() <= 3e-3).all()),
                rg=lin.weight.requires_grad, fn=lin.weight.grad_fn is None)


@program
def dqn_nature_rmsprop(lib):
    q = _mlp(lib, [4, 8, 3], seed=161, act="ReLU")
    opt = lib.optim.RMSprop(q.parameters(), lr=2.5e-4, alpha=0.95, eps=0.01, centered=True)
    s, a, r, s2, d = _dqn_batch(lib)
    for _ in range(3):
        with lib.no_grad():
            target = r + 0.99 * q(s2).max(1)[0] * (1 - d)
        loss = lib.nn.functional.huber_loss(q(s).gather(1, a[:, None]).squeeze(1), target)
        opt.zero_grad()
        loss.backward()
        for p in q.parameters():
            p.grad.data.clamp_(-1, 1)
        opt.step()
    return dict(loss=loss, state=opt.state_dict()["state"][0], **_params(q))


@program
def optimizer_state_dict_mismatch(lib):
    a = lib.optim.Adam(_mlp(lib, [2, 2], seed=162).parameters())
    b = lib.optim.Adam(_mlp(lib, [2, 3, 2], seed=162).parameters())
    b.load_state_dict(a.state_dict())


@program
def optimizer_state_round_trip(lib):
    net = _mlp(lib, [3, 2], seed=163)
    opt = lib.optim.Adam(net.parameters(), lr=1e-2)
    x = lib.tensor(_rand(4, 3, seed=164))
    net(x).sum().backward()
    opt.step()
    net2 = _mlp(lib, [3, 2], seed=163)
    net2.load_state_dict(net.state_dict())
    opt2 = lib.optim.Adam(net2.parameters(), lr=1.0)
    opt2.load_state_dict(opt.state_dict())
    for n, o in ((net, opt), (net2, opt2)):
        o.zero_grad()
        n(x).pow(2).sum().backward()
        o.step()
    return dict(lr=opt2.param_groups[0]["lr"], same=[bool(lib.equal(p, q)) for p, q in
                                                      zip(net.parameters(), net2.parameters())],
                **_params(net2))


@program
def mvn_kl_and_scale_tril(lib):
    D = lib.distributions
    mu = lib.tensor(_rand(3, 2, seed=165), requires_grad=True)
    L = lib.tensor([[1.0, 0.0], [0.3, 0.8]], dtype=lib.float64)
    p = D.MultivariateNormal(mu, scale_tril=L)
    q = D.MultivariateNormal(lib.zeros(2, dtype=lib.float64),
                             covariance_matrix=lib.eye(2, dtype=lib.float64) * 2)
    kl = D.kl_divergence(p, q)
    kl.sum().backward()
    return dict(kl=kl, g=mu.grad, cov=p.covariance_matrix, prec=q.precision_matrix,
                lp=p.log_prob(lib.zeros(3, 2, dtype=lib.float64)), var=p.variance,
                rs=p.rsample((4,)).shape)


@program
def mvn_wrong_event_size(lib):
    D = lib.distributions
    d = D.MultivariateNormal(lib.zeros(2), lib.eye(2), validate_args=True)
    return d.log_prob(lib.zeros(3))


@program
def mvn_loc_cov_mismatch(lib):
    # not refused by torch: the event size comes from the covariance
    d = lib.distributions.MultivariateNormal(lib.zeros(3), lib.eye(2))
    return dict(r=repr(d), bs=d.batch_shape, es=d.event_shape)


@program
def mvn_zero_dim_loc(lib):
    return lib.distributions.MultivariateNormal(lib.tensor(0.0), lib.eye(1))


@program
def next_values_with_roll(lib):
    v = lib.tensor(_rand(5, seed=166))
    nv = lib.roll(v, -1, 0)
    nv[-1] = 0.0
    d = lib.tensor(DONES[:5])
    return dict(nv=nv, td=lib.tensor(REWARDS[:5]) + 0.99 * nv * (1 - d) - v,
                filled=v.clone().index_fill_(0, lib.tensor([1, 3]), 0.0),
                new=v.new_zeros(3), nt=v.new_tensor([1, 2]), nf=v.new_full((2,), 7))


@program
def reversed_numpy_returns_to_tensor(lib):
    r = np.array([1.0, 0.0, 2.0])
    disc = np.zeros_like(r)
    run = 0.0
    for t in reversed(range(3)):
        run = r[t] + 0.9 * run
        disc[t] = run
    flipped = disc[::-1]
    return dict(a=lib.from_numpy(flipped.copy()), b=lib.tensor(flipped, dtype=lib.float32),
                c=lib.as_tensor(flipped.copy()).float())


# ----------------------------------------------------------------------------------------------
# what a backward keeps: targets, actions and masks made under inference_mode or changed in
# place between the forward and the backward
# ----------------------------------------------------------------------------------------------
def _inference_target_program(loss_name):
    def run(lib):
        F = lib.nn.functional
        q = _mlp(lib, [4, 8, 3], seed=170, act="ReLU")
        tq = _mlp(lib, [4, 8, 3], seed=171, act="ReLU")
        s, a, r, s2, d = _dqn_batch(lib)
        with lib.inference_mode():
            target = r + 0.99 * tq(s2).max(1)[0] * (1 - d)
        q_sa = q(s).gather(1, a.unsqueeze(1)).squeeze(1)
        loss = getattr(F, loss_name)(q_sa, target)
        loss.backward()
        return loss
    run.__name__ = f"dqn_inference_mode_target_{loss_name}"
    return run


for _name in ("mse_loss", "smooth_l1_loss", "huber_loss", "l1_loss"):
    program(_inference_target_program(_name))


@program
def dqn_inference_mode_target_cloned(lib):
    q = _mlp(lib, [4, 8, 3], seed=170, act="ReLU")
    s, a, r, s2, d = _dqn_batch(lib)
    with lib.inference_mode():
        target = r * 2
    loss = lib.nn.functional.mse_loss(q(s).gather(1, a.unsqueeze(1)).squeeze(1), target.clone())
    loss.backward()
    return dict(loss=loss, g=q[0].weight.grad, inf=target.is_inference())


@program
def inference_mode_actions_log_prob(lib):
    logits = lib.tensor(_rand(4, 3, seed=172), requires_grad=True)
    with lib.inference_mode():
        actions = lib.tensor([0, 2, 1, 1])
    lp = lib.distributions.Categorical(logits=logits).log_prob(actions)
    lp.sum().backward()


@program
def inference_mode_actions_cross_entropy(lib):
    logits = lib.tensor(_rand(4, 3, seed=172), requires_grad=True)
    with lib.inference_mode():
        actions = lib.tensor([0, 2, 1, 1])
    lib.nn.functional.cross_entropy(logits, actions).backward()


@program
def inference_mode_action_mask(lib):
    logits = lib.tensor(_rand(2, 3, seed=173), requires_grad=True)
    with lib.inference_mode():
        mask = lib.tensor([[True, False, True], [False, True, True]])
    lib.where(mask, logits, -1e8).sum().backward()


@program
def actions_changed_in_place_before_backward(lib):
    q = lib.tensor(_rand(4, 3, seed=174), requires_grad=True)
    actions = lib.tensor([[0], [2], [1], [1]])
    q_sa = q.gather(1, actions)
    actions[0, 0] = 2                   # the buffer slot reused before the update
    q_sa.sum().backward()


@program
def target_changed_in_place_before_backward(lib):
    q = lib.tensor(_rand(4, seed=175), requires_grad=True)
    target = lib.tensor(_rand(4, seed=176))
    loss = lib.nn.functional.smooth_l1_loss(q, target)
    target.mul_(0.99)
    loss.backward()


@program
def mask_changed_in_place_before_backward(lib):
    logits = lib.tensor(_rand(2, 3, seed=177), requires_grad=True)
    mask = lib.tensor([[True, False, True], [False, True, True]])
    out = logits.masked_fill(~mask, float("-inf")).log_softmax(-1)
    mask2 = lib.tensor([[True, False, True], [False, True, True]])
    out2 = logits.masked_fill(mask2, 0.0)
    mask2[0, 0] = False
    (out.exp().sum() + out2.sum()).backward()


@program
def buffer_indices_changed_after_sampling(lib):
    obs = lib.tensor(_rand(6, 2, seed=178), requires_grad=True)
    idx = lib.tensor([4, 0, 2])
    batch = obs[idx]
    idx.add_(1)
    batch.sum().backward()


@program
def embedding_of_actions_changed(lib):
    emb = lib.nn.Embedding(3, 2)
    a = lib.tensor([0, 2, 1])
    out = emb(a)
    a.zero_()
    out.sum().backward()


@program
def gather_then_in_place_on_output_is_fine(lib):
    q = lib.tensor(_rand(4, 3, seed=179), requires_grad=True)
    actions = lib.tensor([[0], [2], [1], [1]])
    q_sa = q.gather(1, actions)
    q_sa.mul_(2)
    idx = lib.tensor([1, 3])
    picked = q[idx]
    other = idx.clone()
    other.add_(1)
    (q_sa.sum() + picked.sum()).backward()
    return q.grad


for _name in ("actions_changed_in_place_before_backward", "target_changed_in_place_before_backward",
              "mask_changed_in_place_before_backward", "buffer_indices_changed_after_sampling",
              "embedding_of_actions_changed"):
    WORDS[_name] = [_INPLACE, "is at version 1; expected version 0 instead"]


@program
def clamp_in_place_with_tensor_bounds(lib):
    a = lib.tensor([[1.5, -0.2, 0.0], [-3.0, 0.7, 2.5]], requires_grad=True)
    low = lib.tensor([-1.0, 0.0, -2.0], requires_grad=True)
    high = lib.tensor([1.0, 0.5, 2.0], requires_grad=True)
    x = a * 1
    x.clamp_(low, high)
    (x * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return dict(x=x, ga=a.grad, gl=low.grad, gh=high.grad)


@program
def scatter_reduce_in_place_grad(lib):
    res = {}
    for mode in ("sum", "amax", "prod", "mean"):
        w = lib.tensor([[0.1, 0.9], [0.6, 0.3]], requires_grad=True)
        t = lib.tensor([[0.5], [0.7]], requires_grad=True)
        x = w * 1
        out = x.scatter_reduce_(1, lib.tensor([[1], [0]]), t, mode)
        out.sum().backward()
        res[mode] = (out, w.grad, t.grad)
    return res


@program
def variable_volatile_warns(lib):
    V = lib.autograd.Variable
    v = V(lib.ones(2), volatile=True)
    return dict(v=v, rg=v.requires_grad, inst=isinstance(lib.ones(1), V))


@program
def variable_of_list(lib):
    return lib.autograd.Variable([1.0, 2.0])


@program
def variable_volatile_and_requires_grad(lib):
    return lib.autograd.Variable(lib.ones(2), requires_grad=True, volatile=True)


@program
def variable_detaches(lib):
    V = lib.autograd.Variable
    w = lib.ones(2, requires_grad=True)
    y = w * 2
    v = V(y)
    v2 = V(y, requires_grad=True)
    return dict(rg=v.requires_grad, leaf=v.is_leaf, fn=v.grad_fn is None, rg2=v2.requires_grad,
                leaf2=v2.is_leaf, empty=V(), bad_int=str(type(V).__name__))


@program
def float16_softmax_policy(lib):
    x = lib.tensor(_rand(3, 7, seed=180) * 3, dtype=lib.float16)
    F = lib.nn.functional
    d = lib.distributions.Categorical(logits=x)
    return dict(sm=F.softmax(x, -1), sm0=F.softmax(x, 0), lsm0=F.log_softmax(x, 0),
                lsm=F.log_softmax(x, -1), lsm1d=lib.log_softmax(x[0], 0), probs=d.probs,
                logits=d.logits, ent=d.entropy(), lp=d.log_prob(lib.tensor([0, 6, 3])))


# ----------------------------------------------------------------------------------------------
# draws that are specified: certain outcomes, seeds replayed within one library
# ----------------------------------------------------------------------------------------------
@program
def certain_draws(lib):
    D = lib.distributions
    c = D.Categorical(probs=lib.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    cl = D.Categorical(logits=lib.tensor([float("-inf"), 0.0, float("-inf")]))
    b = D.Bernoulli(probs=lib.tensor([0.0, 1.0]))
    n = D.Normal(lib.tensor([0.5, -1.0]), lib.zeros(2), validate_args=False)
    m = lib.multinomial(lib.tensor([[0.0, 0.0, 3.0], [1.0, 0.0, 0.0]]), 2, replacement=True)
    oh = D.OneHotCategorical(probs=lib.tensor([0.0, 0.0, 1.0]))
    return dict(c=c.sample((4,)), cl=cl.sample((3,)), b=b.sample((2,)), n=n.sample((2,)),
                m=m, oh=oh.sample((2,)), mn=lib.multinomial(lib.tensor([0.0, 1.0]), 1))


@program
def seeded_draws_replay(lib):
    D = lib.distributions
    d = D.Normal(lib.zeros(3), lib.ones(3))
    c = D.Categorical(logits=lib.zeros(4, 5))
    out = []
    for _ in range(2):
        lib.manual_seed(123)
        out.append((d.sample(), c.sample(), lib.randint(0, 10, (4,)), lib.rand(2),
                    lib.randperm(6)))
    g1, g2 = lib.Generator().manual_seed(7), lib.Generator().manual_seed(7)
    same_gen = bool((lib.randn(5, generator=g1) == lib.randn(5, generator=g2)).all())
    return dict(same=[bool((a == b).all()) for a, b in zip(*out)], same_gen=same_gen,
                shapes=[x.shape for x in out[0]], dtypes=[x.dtype for x in out[0]])


@program
def categorical_nan_probs_sample_unvalidated(lib):
    d = lib.distributions.Categorical(probs=lib.tensor([0.5, float("nan"), 0.5]),
                                      validate_args=False)
    return d.sample()


@program
def multinomial_zero_row(lib):
    return lib.multinomial(lib.tensor([[0.5, 0.5], [0.0, 0.0]]), 1)


@program
def randint_empty_range(lib):
    return lib.randint(0, 0, (3,))


@program
def gather_negative_action(lib):
    return lib.zeros(2, 3).gather(1, lib.tensor([[0], [-1]]))


@program
def categorical_bool_actions(lib):
    d = lib.distributions.Categorical(logits=lib.tensor(_rand(3, 2, seed=190)))
    return d.log_prob(lib.tensor([True, False, True]))


@program
def categorical_bool_actions_validated(lib):
    d = lib.distributions.Categorical(logits=lib.tensor(_rand(3, 2, seed=190)), validate_args=True)
    return d.log_prob(lib.tensor([True, False, True]))


@program
def beta_zero_concentration(lib):
    return lib.distributions.Beta(lib.tensor([0.0]), lib.tensor([1.0]), validate_args=True)


@program
def dirichlet_off_simplex_validated(lib):
    d = lib.distributions.Dirichlet(lib.ones(3), validate_args=True)
    return d.log_prob(lib.tensor([0.5, 0.5, 0.5]))


@program
def independent_negative_ndims(lib):
    D = lib.distributions
    d = D.Independent(D.Normal(lib.zeros(2), lib.ones(2)), -1)      # not refused by torch
    return dict(r=repr(d), bs=d.batch_shape, es=d.event_shape)


@program
def categorical_negative_probs_sample_unvalidated(lib):
    d = lib.distributions.Categorical(probs=lib.tensor([[1.0, -0.5], [0.5, 0.5]]),
                                      validate_args=False)
    return d.sample()


@program
def categorical_zero_row_sample_unvalidated(lib):
    d = lib.distributions.Categorical(probs=lib.tensor([[1.0, 0.0], [0.0, 0.0]]),
                                      validate_args=False)
    return d.sample()


@program
def independent_zero_ndims(lib):
    D = lib.distributions
    d = D.Independent(D.Normal(lib.zeros(2), lib.ones(2)), 0)
    return dict(bs=d.batch_shape, es=d.event_shape, lp=d.log_prob(lib.zeros(2)))


@program
def kl_normal_unbroadcastable(lib):
    D = lib.distributions
    return D.kl_divergence(D.Normal(lib.zeros(3), lib.ones(3)), D.Normal(lib.zeros(2), lib.ones(2)))


@program
def zero_grad_sets_none(lib):
    net = _mlp(lib, [2, 2], seed=191)
    opt = lib.optim.SGD(net.parameters(), lr=0.1)
    net(lib.ones(1, 2, dtype=lib.float64)).sum().backward()
    opt.zero_grad()
    a = [p.grad is None for p in net.parameters()]
    net(lib.ones(1, 2, dtype=lib.float64)).sum().backward()
    opt.zero_grad(set_to_none=False)
    b = [p.grad for p in net.parameters()]
    net.zero_grad()
    return dict(a=a, b=b, c=[p.grad is None for p in net.parameters()])


@program
def backward_of_integer_metric(lib):
    acc = (lib.tensor([1, 2]) == lib.tensor([1, 3])).sum()
    acc.backward()


@program
def target_not_detached_gets_gradient(lib):
    F = lib.nn.functional
    q = _mlp(lib, [4, 3], seed=192)
    s, a, r, s2, d = _dqn_batch(lib)
    target = r + 0.99 * q(s2).max(1)[0] * (1 - d)       # the bug: no no_grad / detach
    loss = F.smooth_l1_loss(q(s).gather(1, a.unsqueeze(1)).squeeze(1), target)
    loss.backward()
    return dict(loss=loss, g=q[0].weight.grad, rg=target.requires_grad)


# ----------------------------------------------------------------------------------------------
# model-based and search code: lambda returns, free nats, MuZero supports, AlphaZero losses
# ----------------------------------------------------------------------------------------------
@program
def dreamer_lambda_returns_and_kl(lib):
    D = lib.distributions
    T, B = 4, 2
    rng = np.random.RandomState(193)
    reward = lib.tensor(rng.randn(T, B))
    value = lib.tensor(rng.randn(T, B), requires_grad=True)
    pcont = lib.tensor(rng.rand(T, B) * 0.99)
    lam = 0.95
    # lambda-returns in imagination: G_t = r_t + c_t ((1 - lam) v_{t+1} + lam G_{t+1}),
    # with the last value as G_T; the non-recursive part is precomputed for all t
    tail = value[-1]
    v_after = lib.cat([value[1:], tail[None]], 0)
    direct = reward + pcont * v_after * (1 - lam)
    acc, backwards = tail, []
    for t in range(T - 1, -1, -1):
        acc = direct[t] + pcont[t] * lam * acc
        backwards.append(acc)
    returns = lib.stack(list(reversed(backwards)), 0)
    # weight of step t: product of the continuation probabilities before it
    before = lib.cat([lib.ones_like(pcont[:1]), pcont[:-1]], 0)
    disc = lib.cumprod(before, 0).detach()
    mean = lib.tensor(rng.randn(B, 3), requires_grad=True)
    std = lib.nn.functional.softplus(lib.tensor(rng.randn(B, 3))) + 0.1
    post = D.Independent(D.Normal(mean, std), 1)
    prior = D.Independent(D.Normal(lib.zeros(B, 3, dtype=lib.float64),
                                   lib.ones(B, 3, dtype=lib.float64)), 1)
    kl = D.kl_divergence(post, prior)
    free = lib.max(kl.mean(), lib.tensor(3.0, dtype=lib.float64))
    free2 = lib.clamp(kl, min=1.0).mean()
    post_sg = D.Independent(D.Normal(mean.detach(), std.detach()), 1)
    balanced = 0.8 * D.kl_divergence(post_sg, prior).mean() + 0.2 * kl.mean()
    cont = D.Bernoulli(logits=lib.tensor(rng.randn(T, B)))
    lp = cont.log_prob(lib.tensor((rng.rand(T, B) < 0.5) * 1.0))
    (-(disc * returns).mean() + free2 + balanced - lp.mean()).backward()
    return dict(returns=returns, disc=disc, kl=kl, free=free, free2=free2, bal=balanced,
                gv=value.grad, gm=mean.grad, lp=lp)


@program
def muzero_support_transforms(lib):
    # values squashed by h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps x, then written as a
    # two-hot vector over the integers -5..5 (weight split between the two neighbours, the
    # upper one dropped when it falls off the end), and decoded back: expectation under a
    # sharpened softmax, then the closed-form inverse of h
    eps, half = 0.001, 5
    width = 2 * half + 1
    raw = lib.tensor([-7.3, -0.4, 0.0, 2.5, 40.0])
    h = lib.clamp(lib.sign(raw) * (lib.sqrt(lib.abs(raw) + 1) - 1) + eps * raw, -half, half)
    lower = h.floor()
    upper_share = h - lower
    two_hot = lib.zeros(raw.shape[0], width)
    lower_slot = (lower + half).long().unsqueeze(-1)
    two_hot.scatter_(1, lower_slot, (1 - upper_share).unsqueeze(-1))
    upper_slot = lower + half + 1
    past_end = upper_slot > 2 * half
    upper_share = upper_share.masked_fill_(past_end, 0.0)     # in place, result used too
    upper_slot = upper_slot.masked_fill_(past_end, 0.0)
    two_hot.scatter_(1, upper_slot.long().unsqueeze(-1), upper_share.unsqueeze(-1))
    weights = lib.softmax(lib.log(two_hot + 1e-9) * 50, dim=1)
    grid = lib.tensor([k for k in range(-half, half + 1)]).expand(weights.shape).float()
    y = lib.sum(grid * weights, dim=1, keepdim=True)
    root = (lib.sqrt(1 + 4 * eps * (lib.abs(y) + 1 + eps)) - 1) / (2 * eps)
    inv = lib.sign(y) * (root ** 2 - 1)
    return dict(h=h, logits=two_hot, y=y, inv=inv, sd=grid.dtype)


@program
def alphazero_losses(lib):
    F = lib.nn.functional
    rng = np.random.RandomState(194)
    out_pi = lib.tensor(rng.randn(4, 6), requires_grad=True)
    out_v = lib.tensor(rng.randn(4, 1), requires_grad=True)
    target_pi = lib.softmax(lib.tensor(rng.randn(4, 6)), 1)
    target_v = lib.tensor(rng.uniform(-1, 1, 4))
    # policy: cross entropy against the search's visit distribution; value: squared
    # error against the game outcome; both as a sum divided by the batch size
    rows = target_pi.size()[0]
    l_pi = lib.sum(F.log_softmax(out_pi, dim=1) * target_pi).neg() / rows
    miss = out_v.view(-1) - target_v
    l_v = lib.sum(miss ** 2) / target_v.size()[0]
    l_v2 = F.mse_loss(lib.tanh(out_v).view(-1), target_v)
    (l_pi + l_v + l_v2).backward()
    legal = lib.tensor([1, 0, 1, 1, 0, 1], dtype=lib.bool)
    probs = lib.softmax(out_pi.detach()[0].masked_fill(~legal, float("-inf")), 0)
    visits = lib.tensor([10.0, 0.0, 3.0, 7.0, 0.0, 0.0])
    temp_pi = visits ** (1 / 0.5)
    temp_pi = temp_pi / temp_pi.sum()
    return dict(l_pi=l_pi, l_v=l_v, l_v2=l_v2, gp=out_pi.grad, gv=out_v.grad, probs=probs,
                temp_pi=temp_pi, best=lib.argmax(visits), topk=lib.topk(visits, 2))


@program
def cem_and_es_updates(lib):
    rng = np.random.RandomState(195)
    returns = lib.tensor(rng.permutation(10).astype(np.float64))
    samples = lib.tensor(rng.randn(10, 3))
    elite_idx = lib.topk(returns, 3).indices
    elite = samples[elite_idx]
    ranks = returns.argsort().argsort().double()
    centered = ranks / (len(ranks) - 1) - 0.5
    grad = (centered.unsqueeze(1) * samples).sum(0) / (10 * 0.1)
    return dict(mean=elite.mean(0), std=elite.std(0), idx=elite_idx, ranks=ranks,
                centered=centered, grad=grad,
                sorted=lib.sort(returns, descending=True, stable=True))


@program
def running_mean_std(lib):
    # observation statistics merged batch by batch (the pairwise form of the mean and
    # variance update), starting from a tiny pseudo-count, then used to standardise
    rng = np.random.RandomState(196)
    mean, var, count = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64), 1e-4
    for n in (5, 1, 7):
        x = lib.tensor(rng.randn(n, 3) * 2 + 1)
        m_new, v_new, n_new = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        merged = count + n_new
        gap = m_new - mean
        # sums of squared deviations of both parts, plus the between-parts term
        spread = (var * count + v_new * n_new) + gap ** 2 * count * n_new / merged
        mean = mean + gap * n_new / merged
        var, count = spread / merged, merged
    obs = lib.tensor(rng.randn(2, 3) * 10)
    normed = lib.clamp((obs - mean) / lib.sqrt(var + 1e-8), -5, 5)
    vm = lib.var_mean(obs, 0)
    return dict(mean=mean, var=var, normed=normed, vm=vm, count=count)


@program
def std_of_single_sample_along_dim(lib):
    x = lib.tensor([[1.0, 2.0, 3.0]])
    return dict(s=x.std(0), v=x.var(0), s1=x.std(1))


@program
def icm_curiosity_losses(lib):
    F = lib.nn.functional
    rng = np.random.RandomState(197)
    phi = lib.tensor(rng.randn(4, 5), requires_grad=True)
    phi_next = lib.tensor(rng.randn(4, 5), requires_grad=True)
    pred_next = phi * 0.5 + 0.1
    fwd = F.mse_loss(pred_next, phi_next.detach(), reduction="none").sum(-1)
    intrinsic = 0.5 * fwd.detach()
    logits = lib.cat([phi, phi_next], 1)[:, :3]
    inv = F.cross_entropy(logits, lib.tensor([0, 2, 1, 1]), reduction="none")
    (fwd.mean() + inv.mean()).backward()
    return dict(fwd=fwd, intrinsic=intrinsic, inv=inv, g=phi.grad, gn=phi_next.grad,
                dist=lib.norm(phi.detach() - phi_next.detach(), dim=-1),
                ldist=lib.linalg.norm(phi.detach(), dim=1),
                reached=(lib.norm(phi.detach(), dim=-1) < 2.0).float())


@program
def reparameterised_gradients_are_the_noise(lib):
    # x = loc + eps * scale: d sum(x) / d scale = eps = (x - loc) / scale, whatever the draw
    D = lib.distributions
    loc = lib.tensor(_rand(3, seed=200), requires_grad=True)
    scale = lib.tensor(np.abs(_rand(3, seed=201)) + 0.5, requires_grad=True)
    x = D.Normal(loc, scale).rsample((4,))
    x.sum().backward()
    eps = ((x - loc) / scale).detach()
    loc2 = lib.tensor(_rand(2, seed=202), requires_grad=True)
    scale2 = lib.tensor([0.5, 1.5], requires_grad=True)
    tr = D.TransformedDistribution(D.Normal(loc2, scale2), [D.transforms.TanhTransform()])
    y = tr.rsample()
    y.sum().backward()
    u = lib.atanh(y.detach().double())
    want = (1 - y.detach().double() ** 2) * (u - loc2.detach().double()) / scale2.detach().double()
    return dict(gloc=loc.grad, gscale_ok=bool(lib.allclose(scale.grad, eps.sum(0))),
                tanh_ok=bool(lib.allclose(scale2.grad.double(), want, atol=1e-4)),
                x_shape=x.shape)


@program
def empty_minibatch_losses(lib):
    F = lib.nn.functional
    q = lib.zeros(0, requires_grad=True)
    t = lib.zeros(0)
    logits = lib.zeros(0, 3, requires_grad=True)
    l1 = F.mse_loss(q, t)
    l2 = F.smooth_l1_loss(q, t)
    l3 = F.cross_entropy(logits, lib.zeros(0, dtype=lib.long))
    ratio = q.exp()
    l4 = -lib.min(ratio * t, lib.clamp(ratio, 0.8, 1.2) * t).mean()
    (l1 + l2 + l3 + l4).backward()
    C = lib.distributions.Categorical
    return dict(l1=l1, l2=l2, l3=l3, l4=l4, gq=q.grad, gl=logits.grad,
                refused=err(lambda: C(logits=logits)),        # the default validation's
                ent=C(logits=logits, validate_args=False).entropy().mean())


@program
def nan_in_logits_propagates_unvalidated(lib):
    logits = lib.tensor([[0.1, float("nan"), 0.3], [0.2, 0.1, 0.0]], requires_grad=True)
    d = lib.distributions.Categorical(logits=logits, validate_args=False)
    lp = d.log_prob(lib.tensor([0, 2]))
    e = d.entropy()
    (lp.sum() + e.sum()).backward()
    return dict(lp=lp, e=e, g=logits.grad, p=d.probs)


@program
def inf_reward_advantage_normalisation(lib):
    adv = lib.tensor([1.0, float("inf"), -2.0, 0.5])
    norm = (adv - adv.mean()) / (adv.std() + 1e-8)
    w = lib.tensor([0.5, 0.5, 0.5, 0.5], requires_grad=True)
    loss = (w * lib.nan_to_num(norm, nan=0.0, posinf=10.0, neginf=-10.0)).sum()
    loss.backward()
    return dict(norm=norm, loss=loss, g=w.grad, finite=bool(lib.isfinite(adv).all()))


@program
def actor_critic_param_groups_and_alpha(lib):
    actor = _mlp(lib, [3, 4, 2], seed=210)
    critic = _mlp(lib, [3, 4, 1], seed=211)
    opt = lib.optim.Adam([{"params": actor.parameters(), "lr": 3e-4},
                          {"params": critic.parameters(), "lr": 1e-3, "weight_decay": 0.01}],
                         betas=(0.9, 0.99))
    log_alpha = lib.zeros(1, dtype=lib.float64, requires_grad=True)
    opt.add_param_group({"params": [log_alpha], "lr": 1e-2})
    x = lib.tensor(_rand(5, 3, seed=212))
    for _ in range(2):
        opt.zero_grad()
        loss = actor(x).pow(2).mean() + critic(x).abs().mean() + (log_alpha.exp() * 0.3).sum()
        loss.backward()
        opt.step()
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    return dict(groups=groups, alpha=log_alpha, n=[len(g["params"]) for g in opt.param_groups],
                **_params(actor, "a_"), **_params(critic, "c_"))


@program
def add_param_group_duplicate(lib):
    net = _mlp(lib, [2, 2], seed=213)
    opt = lib.optim.Adam(net.parameters())
    opt.add_param_group({"params": [net[0].bias]})


@program
def frozen_target_network(lib):
    q = _mlp(lib, [4, 3], seed=214)
    target = _mlp(lib, [4, 3], seed=215)
    target.requires_grad_(False)
    s, a, r, s2, d = _dqn_batch(lib)
    t = r + 0.99 * target(s2).max(1)[0] * (1 - d)
    loss = lib.nn.functional.mse_loss(q(s).gather(1, a.unsqueeze(1)).squeeze(1), t)
    loss.backward()
    return dict(t_rg=t.requires_grad, t_fn=t.grad_fn is None, loss=loss,
                tg=[p.grad is None for p in target.parameters()], **_grads(q))


@program
def eval_mode_policy_with_dropout(lib):
    nn = lib.nn
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2)).double()
    rng = np.random.RandomState(216)
    with lib.no_grad():
        for p in net.parameters():
            p.copy_(lib.tensor(rng.randn(*p.shape)))
    net.eval()
    x = lib.tensor(_rand(3, 4, seed=217))
    with lib.no_grad():
        a = net(x).argmax(-1)
        logits = net(x)
    return dict(a=a, logits=logits, training=net.training, sub=[m.training for m in net])


@program
def checkpoint_round_trip(lib):
    actor = _mlp(lib, [3, 2], seed=218)
    opt = lib.optim.Adam(actor.parameters(), lr=1e-3)
    actor(lib.tensor(_rand(2, 3, seed=219))).sum().backward()
    opt.step()
    buf = io.BytesIO()
    lib.save({"actor": actor.state_dict(), "opt": opt.state_dict(), "step": 7}, buf)
    buf.seek(0)
    ck = lib.load(buf, weights_only=True)
    actor2 = _mlp(lib, [3, 2], seed=0)
    actor2.load_state_dict(ck["actor"])
    opt2 = lib.optim.Adam(actor2.parameters(), lr=5.0)
    opt2.load_state_dict(ck["opt"])
    return dict(step=ck["step"], lr=opt2.param_groups[0]["lr"],
                st=opt2.state_dict()["state"][0], **_params(actor2))


@program
def squashed_gaussian_orders_of_wrapping(lib):
    D = lib.distributions
    T = D.transforms
    mu = lib.tensor(_rand(4, 2, seed=220), requires_grad=True)
    std = lib.tensor(np.abs(_rand(4, 2, seed=221)) + 0.3)
    a = lib.tanh(lib.tensor(_rand(4, 2, seed=222)))
    d1 = D.Independent(D.TransformedDistribution(D.Normal(mu, std), [T.TanhTransform()]), 1)
    d2 = D.TransformedDistribution(D.Independent(D.Normal(mu, std), 1), [T.TanhTransform()])
    mvn = D.MultivariateNormal(mu, scale_tril=lib.diag_embed(std))
    lp1, lp2 = d1.log_prob(a), d2.log_prob(a)
    u = lib.atanh(a)
    lp3 = mvn.log_prob(u) - lib.log1p(-a.pow(2)).sum(-1)
    (lp1.sum() + lp2.sum() + lp3.sum()).backward()
    return dict(lp1=lp1, lp2=lp2, lp3=lp3, g=mu.grad, bs2=d2.batch_shape, es2=d2.event_shape,
                bs1=d1.batch_shape, es1=d1.event_shape)


@program
def log_normal_and_exp_transform(lib):
    D = lib.distributions
    loc = lib.tensor([0.0, 0.5], requires_grad=True)
    d = D.LogNormal(loc, lib.tensor([1.0, 0.5]))
    t = D.TransformedDistribution(D.Normal(loc, lib.tensor([1.0, 0.5])),
                                  [D.transforms.ExpTransform()])
    v = lib.tensor([0.5, 2.0])
    (d.log_prob(v).sum() + t.log_prob(v).sum()).backward()
    s = D.TransformedDistribution(D.Normal(lib.zeros(2), lib.ones(2)),
                                  [D.transforms.SigmoidTransform()])
    return dict(lp=d.log_prob(v), lpt=t.log_prob(v), g=loc.grad, mean=d.mean, ent=d.entropy(),
                sig=s.log_prob(lib.tensor([0.2, 0.7])))


@program
def uniform_warmup_and_exploration_noise(lib):
    D = lib.distributions
    u = D.Uniform(-1.0, 1.0)
    a = u.sample((5, 2))
    ub = D.Uniform(lib.tensor([-2.0, 0.0]), lib.tensor([2.0, 1.0]))
    action = lib.tensor(_rand(3, 2, seed=230))
    noise = D.Normal(0.0, 0.1).sample(action.shape)
    noisy = (action + lib.randn_like(action) * 0.1).clip(-1, 1)
    clipped = action.clone().clip_(-0.5, 0.5)
    return dict(a=(a.shape, a.dtype, bool(((a >= -1) & (a < 1)).all())),
                lp=ub.log_prob(lib.tensor([0.0, 0.5])), ent=ub.entropy(), mean=ub.mean,
                noise=(noise.shape, noise.dtype), noisy=(noisy.shape, noisy.dtype,
                                                         bool((noisy.abs() <= 1).all())),
                clipped=clipped, sb=ub.sample((2,)).shape)


@program
def uniform_out_of_support_validated(lib):
    d = lib.distributions.Uniform(lib.tensor([0.0]), lib.tensor([1.0]), validate_args=True)
    return d.log_prob(lib.tensor([1.5]))


@program
def uniform_out_of_support_unvalidated(lib):
    d = lib.distributions.Uniform(lib.tensor([0.0, 0.0]), lib.tensor([1.0, 1.0]),
                                  validate_args=False)
    return dict(lp=d.log_prob(lib.tensor([1.5, 0.5])), cdf=d.cdf(lib.tensor([1.5, -0.5])))


@program
def uniform_low_not_below_high(lib):
    return lib.distributions.Uniform(lib.tensor([1.0]), lib.tensor([1.0]), validate_args=True)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program_matches_torch(program):
    _check(program)
