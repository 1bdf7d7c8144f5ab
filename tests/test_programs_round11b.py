"""Whole programs in the idioms of code people run, an eleventh round, part b: training
machinery and extensions of autograd as libraries and tutorials write them.  Autograd
Functions with setup_context, once_differentiable and non-differentiable outputs; module
and tensor hooks; forward-mode AD by dual numbers; a torchsummary-like table built by
hooks; an LR finder by LambdaLR; evolution strategies over parameters_to_vector;
supervised-contrastive and FixMatch/mean-teacher objectives; segmentation mIoU by bincount;
CleanRL's continuous PPO; Beta and multivariate-normal policies; a data pipeline of
ConcatDataset, Subset, random_split, samplers and a padding collate_fn; the LSTM tagger
tutorial; a Luong-attention GRU translator with teacher forcing; masked softmax edge cases;
einsum-heavy layers; an FT-Transformer on tabular features with a padding mask; Mistral's
sliding-window attention with RMSNorm and SwiGLU; NCF with a BPR loss; module
introspection; and the initialisers of nn.init under a seed.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, import_forward_ad_decompositions, labels as _labels, load_seeded,
    normal64 as _arr, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()
import_forward_ad_decompositions()


# ----------------------------------------------------------------------------------------------
# autograd extensions and hooks
# ----------------------------------------------------------------------------------------------
@program
def autograd_function_setup_context_once_differentiable_and_argmax_output(L):
    """A new-style autograd.Function (forward without ctx, setup_context saving tensors and
    a non-tensor, mark_non_differentiable on an argmax output, needs_input_grad consulted),
    a second Function whose backward is @once_differentiable: its first-order gradients,
    then the error double backward through it gives."""
    from_fn = L.autograd.function.once_differentiable

    class ScaledSoftmaxArg(L.autograd.Function):
        @staticmethod
        def forward(x, w, scale):
            y = (x @ w * scale).softmax(-1)
            return y, y.argmax(-1)

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, w, scale = inputs
            y, idx = output
            ctx.save_for_backward(x, w, y)
            ctx.scale = scale
            ctx.mark_non_differentiable(idx)

        @staticmethod
        def backward(ctx, gy, gidx):
            x, w, y = ctx.saved_tensors
            gz = y * (gy - (gy * y).sum(-1, keepdim=True)) * ctx.scale
            gx = gz @ w.t() if ctx.needs_input_grad[0] else None
            gw = x.t() @ gz if ctx.needs_input_grad[1] else None
            return gx, gw, None

    class Cube(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @from_fn
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x ** 2

    x = _t(L, 4, 3, seed=1, grad=True)
    w = _t(L, 3, 5, seed=2, grad=True)
    y, idx = ScaledSoftmaxArg.apply(x, w, 0.5)
    (y * _t(L, 4, 5, seed=3)).sum().backward()
    w2 = _t(L, 3, 5, seed=2)
    y2, _ = ScaledSoftmaxArg.apply(x, w2, 2.0)
    gx_only = L.autograd.grad(y2[:, 0].sum(), x)[0]
    z = _t(L, 5, seed=4, grad=True)
    c = Cube.apply(z)
    g, = L.autograd.grad(c.sum(), z, create_graph=True)
    second = err(lambda: g.sum().backward())
    return dict(y=y, idx=idx, idx_rg=idx.requires_grad, gx=x.grad, gw=w.grad, gx_only=gx_only,
                c=c, g=g.detach(), g_rg=g.requires_grad, second=second)


@program
def module_full_backward_hooks_forward_pre_hooks_with_kwargs_and_tensor_hooks(L):
    """Hooks as feature-visualisation and debugging code uses them: a forward pre-hook with
    kwargs rewriting an argument, forward hooks collecting activations by name over
    named_modules, full backward hooks recording grad_output norms and one replacing
    grad_input (scaled), a tensor hook clipping an activation's gradient, then every handle
    removed and the plain gradients compared."""
    nn, F = L.nn, L.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 6)
            self.act = nn.Tanh()
            self.fc2 = nn.Linear(6, 3)

        def forward(self, x, scale=1.0):
            h = self.act(self.fc1(x))
            if h.requires_grad:
                h.register_hook(lambda g: g.clamp(-0.05, 0.05))
            return self.fc2(h) * scale

    L.manual_seed(0)
    net = load_seeded(L, Net().double(), seed=5)
    acts, gnorms, handles = {}, [], []

    def pre(module, args, kwargs):
        return args, dict(kwargs, scale=2.0)

    handles.append(net.register_forward_pre_hook(pre, with_kwargs=True))
    for name, mod in net.named_modules():
        if isinstance(mod, (nn.Linear, nn.Tanh)):
            handles.append(mod.register_forward_hook(
                lambda m, i, o, name=name: acts.__setitem__(name, o.detach().clone())))
            handles.append(mod.register_full_backward_hook(
                lambda m, gi, go, name=name: gnorms.append((name, go[0].norm().item()))))
    handles.append(net.act.register_full_backward_hook(lambda m, gi, go: (gi[0] * 10,)))
    x = _t(L, 5, 4, seed=6)
    t = L.tensor(_labels(5, 3, 7))
    out = net(x, scale=1.0)
    F.cross_entropy(out, t).backward()
    hooked = grads_of(net)
    for h in handles:
        h.remove()
    net.zero_grad()
    out2 = net(x)
    F.cross_entropy(out2, t).backward()
    return dict(out=out, acts=acts, gnorms=gnorms, hooked=hooked, plain=grads_of(net),
                out2=out2, n=len(handles))


@program
def forward_mode_ad_dual_numbers_and_func_jvp(L):
    """Forward-mode AD as the tutorial shows it: inside fwAD.dual_level(), make_dual inputs
    through an MLP and a functional call, unpack_dual's tangent; the same directional
    derivative from torch.func.jvp and from a reverse-mode vector-Jacobian product."""
    fwAD = L.autograd.forward_ad
    F = L.nn.functional
    W1, b1, W2 = _t(L, 5, 3, seed=8), _t(L, 5, seed=9), _t(L, 2, 5, seed=10)

    def f(x):
        return F.linear(F.softplus(F.linear(x, W1, b1)), W2).sin() * x.sum(-1, keepdim=True)

    x = _t(L, 4, 3, seed=11)
    v = _t(L, 4, 3, seed=12)
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, v)
        out = f(dual)
        primal, tangent = fwAD.unpack_dual(out)
        none_tangent = fwAD.unpack_dual(x).tangent
    p2, t2 = L.func.jvp(f, (x,), (v,))
    xr = x.clone().requires_grad_(True)
    u = _t(L, 4, 2, seed=13)
    vjp, = L.autograd.grad(f(xr), xr, u)
    return dict(primal=primal, tangent=tangent, none=none_tangent is None, p2=p2, t2=t2,
                # <u, J v> == <J^T u, v>
                dot1=float((u * tangent).sum()), dot2=float((vjp * v).sum()))


@program
def torchsummary_style_table_by_hooks_on_leaf_modules(L):
    """A torchsummary clone: a forward hook on every leaf module records class name,
    output shape (list(output.size()) with batch -1) and parameter count, a table printed
    with formatted widths, totals of trainable and frozen parameters (one layer frozen)."""
    nn = L.nn
    L.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5),
                          nn.Dropout(0.1), nn.Linear(5, 2))
    model[1].requires_grad_(False)
    summary, hooks = {}, []

    def register_hook(module):
        def hook(module, input, output):
            class_name = str(module.__class__).split(".")[-1].split("'")[0]
            m_key = "%s-%i" % (class_name, len(summary) + 1)
            summary[m_key] = {"input_shape": [-1] + list(input[0].size())[1:],
                              "output_shape": [-1] + list(output.size())[1:]}
            params = 0
            if hasattr(module, "weight") and hasattr(module.weight, "size"):
                params += L.prod(L.LongTensor(list(module.weight.size()))).item()
                summary[m_key]["trainable"] = module.weight.requires_grad
            if hasattr(module, "bias") and hasattr(module.bias, "size"):
                params += L.prod(L.LongTensor(list(module.bias.size()))).item()
            summary[m_key]["nb_params"] = params

        if not isinstance(module, nn.Sequential) and not (module == model):
            hooks.append(module.register_forward_hook(hook))

    model.apply(register_hook)
    model.eval()
    model(L.rand(2, 1, 6, 6))
    for h in hooks:
        h.remove()
    lines = ["{:>20}  {:>25} {:>15}".format("Layer (type)", "Output Shape", "Param #")]
    total_params = trainable_params = 0
    for layer in summary:
        lines.append("{:>20}  {:>25} {:>15}".format(
            layer, str(summary[layer]["output_shape"]),
            "{0:,}".format(summary[layer]["nb_params"])))
        total_params += summary[layer]["nb_params"]
        if summary[layer].get("trainable", False):
            trainable_params += summary[layer]["nb_params"]
    lines.append("Total params: {0:,}".format(total_params))
    lines.append("Trainable params: {0:,}".format(trainable_params))
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return dict(table="\n".join(lines), n_train=n_train, keys=list(summary))


@program
def lr_finder_lambda_lr_per_group_smoothed_loss_and_divergence_stop(L):
    """An LR range test as fastai/pytorch-lr-finder runs it: LambdaLR with one lambda per
    param group growing the rate exponentially, an exponentially smoothed and bias-corrected
    loss, stopping when it exceeds 4x the best; the model and optimizer restored from
    state_dicts deep-copied before; get_last_lr per group."""
    import copy
    nn, F = L.nn, L.nn.functional
    L.set_default_dtype(L.float64)
    L.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = L.optim.SGD([{"params": model[0].parameters()},
                       {"params": model[2].parameters(), "lr": 1e-4}], lr=1e-3, momentum=0.9)
    saved_m, saved_o = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    end_lr, num_iter = 10.0, 12
    r0 = (end_lr / 1e-3) ** (1 / num_iter)
    r1 = (end_lr / 1e-4) ** (1 / num_iter)
    sched = L.optim.lr_scheduler.LambdaLR(opt, [lambda i: r0 ** i, lambda i: r1 ** i])
    x, y = _t(L, 16, 3, seed=14), _t(L, 16, 1, seed=15)
    history, best, avg, beta = [], None, 0.0, 0.98
    for it in range(num_iter):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        avg = beta * avg + (1 - beta) * loss.item()
        smoothed = avg / (1 - beta ** (it + 1))
        history.append((sched.get_last_lr(), smoothed))
        if best is None or smoothed < best:
            best = smoothed
        if smoothed > 4 * best or not math.isfinite(smoothed):
            break
    model.load_state_dict(saved_m)
    opt.load_state_dict(saved_o)
    return dict(history=history, stopped=it, restored=model[0].weight,
                lr_after=[g["lr"] for g in opt.param_groups],
                initial=["initial_lr" in g for g in opt.param_groups],
                state=len(opt.state))


@program
def evolution_strategies_parameters_to_vector_and_antithetic_noise(L):
    """OpenAI-style evolution strategies on a policy: the parameters flattened by
    parameters_to_vector, antithetic noise from a seeded torch.Generator, fitness of each
    perturbed vector written back by vector_to_parameters under no_grad, centred ranks by
    argsort of argsort, the update vector formed by noise.t() @ weights."""
    nn = L.nn
    P = L.nn.utils
    L.set_default_dtype(L.float64)
    L.manual_seed(3)
    policy = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))
    obs = _t(L, 10, 4, seed=16)
    target = _t(L, 10, 2, seed=17)
    theta = P.parameters_to_vector(policy.parameters()).detach()
    g = L.Generator().manual_seed(123)
    sigma, lr, pop = 0.1, 0.05, 6
    fits = []
    for _ in range(2):
        eps = L.randn(pop // 2, theta.numel(), generator=g)
        eps = L.cat([eps, -eps])
        fitness = L.empty(pop)
        with L.no_grad():
            for i in range(pop):
                P.vector_to_parameters(theta + sigma * eps[i], policy.parameters())
                fitness[i] = -((policy(obs) - target) ** 2).mean()
        ranks = L.empty(pop)
        ranks[fitness.argsort()] = L.arange(pop, dtype=L.float64)
        ranks = ranks / (pop - 1) - 0.5
        theta = theta + lr / (pop * sigma) * (eps.t() @ ranks)
        fits.append(fitness)
    P.vector_to_parameters(theta, policy.parameters())
    return dict(fits=fits, theta=theta, w=policy[2].weight, n=theta.numel(),
                rg=policy[0].weight.requires_grad)


# ----------------------------------------------------------------------------------------------
# self- and semi-supervised objectives, metrics
# ----------------------------------------------------------------------------------------------
@program
def supervised_contrastive_loss_label_mask_and_detached_logits_max(L):
    """SupConLoss (Khosla et al.'s reference): features (bsz, n_views, d) normalised and
    unbound into contrast_feature by torch.cat(torch.unbind(f, 1)), the label mask from
    torch.eq(labels, labels.T) repeated per view, self-contrast removed by torch.scatter of
    an arange into ones_like, logits minus their detached row max, mean log-prob of positives."""
    F = L.nn.functional
    feats = F.normalize(_t(L, 6, 2, 5, seed=18, grad=True), dim=2)
    labels = L.tensor([0, 1, 0, 2, 1, 0])
    temperature, base_temperature = 0.07, 0.07
    batch_size = feats.shape[0]
    labels_c = labels.contiguous().view(-1, 1)
    mask = L.eq(labels_c, labels_c.T).float().to(feats.dtype)
    contrast_count = feats.shape[1]
    contrast_feature = L.cat(L.unbind(feats, dim=1), dim=0)
    anchor_feature, anchor_count = contrast_feature, contrast_count
    anchor_dot_contrast = L.div(L.matmul(anchor_feature, contrast_feature.T), temperature)
    logits_max, _ = L.max(anchor_dot_contrast, dim=1, keepdim=True)
    logits = anchor_dot_contrast - logits_max.detach()
    mask = mask.repeat(anchor_count, contrast_count)
    logits_mask = L.scatter(L.ones_like(mask), 1,
                            L.arange(batch_size * anchor_count).view(-1, 1), 0)
    mask = mask * logits_mask
    exp_logits = L.exp(logits) * logits_mask
    log_prob = logits - L.log(exp_logits.sum(1, keepdim=True))
    mask_pos_pairs = mask.sum(1)
    mask_pos_pairs = L.where(mask_pos_pairs < 1e-6, 1, mask_pos_pairs)
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask_pos_pairs
    loss = -(temperature / base_temperature) * mean_log_prob_pos
    loss = loss.view(anchor_count, batch_size).mean()
    loss.backward()
    return dict(mask=mask, loss=loss, mlpp=mean_log_prob_pos, pos=mask_pos_pairs)


@program
def fixmatch_pseudo_labels_threshold_mask_and_mean_teacher_by_lerp(L):
    """FixMatch's unlabelled loss: weak-view probabilities detached, torch.max for pseudo
    labels, a confidence mask by .ge(threshold).float(), CE(reduction='none') on the strong
    view times the mask; a mean teacher updated by lerp_ on parameters and copy_ of buffers
    under no_grad, its consistency as an MSE of softmaxes."""
    import copy
    nn, F = L.nn, L.nn.functional
    L.set_default_dtype(L.float64)
    L.manual_seed(4)
    student = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    opt = L.optim.SGD(student.parameters(), lr=0.3, momentum=0.9, nesterov=True)
    xl, yl = _t(L, 6, 4, seed=19), L.tensor(_labels(6, 3, 20))
    xu = _t(L, 12, 4, seed=21, scale=3.0)
    weak = xu + 0.01 * _t(L, 12, 4, seed=22)
    strong = xu * 0.7 + 0.3 * _t(L, 12, 4, seed=23)
    log = []
    for step in range(3):
        logits = student(L.cat((xl, weak, strong)))
        logits_x = logits[:6]
        logits_u_w, logits_u_s = logits[6:].chunk(2)
        Lx = F.cross_entropy(logits_x, yl, reduction="mean")
        pseudo_label = L.softmax(logits_u_w.detach() / 1.0, dim=-1)
        max_probs, targets_u = L.max(pseudo_label, dim=-1)
        mask = max_probs.ge(0.5).float()
        Lu = (F.cross_entropy(logits_u_s, targets_u, reduction="none") * mask).mean()
        with L.no_grad():
            t_out = teacher(weak)
        cons = F.mse_loss(F.softmax(logits_u_w, 1), F.softmax(t_out, 1))
        loss = Lx + 1.0 * Lu + 0.5 * cons
        opt.zero_grad()
        loss.backward()
        opt.step()
        alpha = min(1 - 1 / (step + 1), 0.99)
        with L.no_grad():
            for tp, sp in zip(teacher.parameters(), student.parameters()):
                tp.lerp_(sp, 1 - alpha)
            for tb, sb in zip(teacher.buffers(), student.buffers()):
                tb.copy_(sb)
        log.append((Lx.item(), Lu.item(), cons.item(), mask.mean().item()))
    return dict(log=log, t=teacher[3].weight, s=student[3].weight, tb=teacher[1].running_var,
                targets=targets_u)


@program
def segmentation_miou_by_fast_hist_bincount_with_ignore_index(L):
    """The semantic-segmentation metric of many repositories: fast_hist from
    torch.bincount(n * gt[k] + pred[k], minlength=n**2).reshape(n, n) over pixels not equal
    to the ignore label 255, accumulated over batches, per-class IoU by diag / (sum(0) +
    sum(1) - diag) with NaN for absent classes, nanmean, pixel accuracy, and the
    frequency-weighted IoU."""
    n = 4
    rng = np.random.RandomState(24)
    hist = L.zeros(n, n, dtype=L.int64)

    def fast_hist(a, b, n):
        k = (a >= 0) & (a < n)
        return L.bincount(n * a[k].to(L.int64) + b[k], minlength=n ** 2).reshape(n, n)

    for _ in range(3):
        logits = L.tensor(rng.randn(2, n, 5, 5))
        gt = L.tensor(rng.randint(0, n - 1, (2, 5, 5)))
        gt[:, 0, :2] = 255
        pred = logits.argmax(1)
        valid = gt != 255
        hist += fast_hist(gt[valid], pred[valid], n)
    hist_f = hist.to(L.float64)
    iu = L.diag(hist_f) / (hist_f.sum(1) + hist_f.sum(0) - L.diag(hist_f))
    acc = L.diag(hist_f).sum() / hist_f.sum()
    freq = hist_f.sum(1) / hist_f.sum()
    fwiou = (freq[freq > 0] * iu[freq > 0]).sum()
    return dict(hist=hist, iu=iu, miou=L.nanmean(iu), acc=acc, fwiou=fwiou,
                present=L.isnan(iu).logical_not().sum())


# ----------------------------------------------------------------------------------------------
# reinforcement learning
# ----------------------------------------------------------------------------------------------
@program
def cleanrl_ppo_continuous_orthogonal_layer_init_and_minibatch_updates(L):
    """CleanRL's ppo_continuous_action: layer_init by orthogonal_(std) and constant_ bias,
    actor_logstd a Parameter expand_as'd to the mean, Normal(...).log_prob(a).sum(1) and
    entropy().sum(1), GAE by a reversed loop with next-nonterminal masks, minibatches by
    np.random permutation, normalised advantages, the clipped surrogate, approx_kl and
    clipfracs, the clipped value loss, clip_grad_norm_(0.5)."""
    nn = L.nn
    Normal = L.distributions.Normal
    L.set_default_dtype(L.float64)

    def layer_init(layer, std=math.sqrt(2), bias_const=0.0):
        L.nn.init.orthogonal_(layer.weight, std)
        L.nn.init.constant_(layer.bias, bias_const)
        return layer

    class Agent(nn.Module):
        def __init__(self, obs_dim=3, act_dim=2):
            super().__init__()
            self.critic = nn.Sequential(layer_init(nn.Linear(obs_dim, 8)), nn.Tanh(),
                                        layer_init(nn.Linear(8, 1), std=1.0))
            self.actor_mean = nn.Sequential(layer_init(nn.Linear(obs_dim, 8)), nn.Tanh(),
                                            layer_init(nn.Linear(8, act_dim), std=0.01))
            self.actor_logstd = nn.Parameter(L.zeros(1, act_dim))

        def get_value(self, x):
            return self.critic(x)

        def get_action_and_value(self, x, action=None):
            action_mean = self.actor_mean(x)
            action_std = L.exp(self.actor_logstd.expand_as(action_mean))
            probs = Normal(action_mean, action_std)
            if action is None:
                action = probs.sample()
            return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)

    L.manual_seed(5)
    agent = Agent()
    opt = L.optim.Adam(agent.parameters(), lr=3e-3, eps=1e-5)
    T, N = 4, 2
    rng = np.random.RandomState(25)
    obs = L.tensor(rng.randn(T, N, 3))
    rewards = L.tensor(rng.randn(T, N))
    dones = L.tensor((rng.rand(T, N) < 0.3).astype(np.float64))
    with L.no_grad():
        actions, logprobs, _, values = agent.get_action_and_value(obs.reshape(-1, 3))
        actions, logprobs = actions.reshape(T, N, 2), logprobs.reshape(T, N)
        values = values.reshape(T, N)
        next_value = agent.get_value(L.tensor(rng.randn(N, 3))).reshape(1, -1)
        next_done = L.zeros(N)
        advantages = L.zeros_like(rewards)
        lastgaelam = 0
        gamma, lam = 0.99, 0.95
        for t in reversed(range(T)):
            if t == T - 1:
                nextnonterminal, nextvalues = 1.0 - next_done, next_value
            else:
                nextnonterminal, nextvalues = 1.0 - dones[t + 1], values[t + 1]
            delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
            advantages[t] = lastgaelam = delta + gamma * lam * nextnonterminal * lastgaelam
        returns = advantages + values
    b_obs, b_logprobs = obs.reshape(-1, 3), logprobs.reshape(-1)
    b_actions, b_adv = actions.reshape(-1, 2), advantages.reshape(-1)
    b_returns, b_values = returns.reshape(-1), values.reshape(-1)
    perm_rng = np.random.RandomState(26)
    b_inds = np.arange(T * N)
    log = []
    for epoch in range(2):
        perm_rng.shuffle(b_inds)
        for start in range(0, T * N, 4):
            mb = b_inds[start:start + 4]
            _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb],
                                                                          b_actions[mb])
            logratio = newlogprob - b_logprobs[mb]
            ratio = logratio.exp()
            with L.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()
                clipfrac = ((ratio - 1.0).abs() > 0.2).float().mean().item()
            mb_adv = b_adv[mb]
            mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
            pg_loss = L.max(-mb_adv * ratio, -mb_adv * L.clamp(ratio, 0.8, 1.2)).mean()
            newvalue = newvalue.view(-1)
            v_unclipped = (newvalue - b_returns[mb]) ** 2
            v_clipped = b_values[mb] + L.clamp(newvalue - b_values[mb], -0.2, 0.2)
            v_loss = 0.5 * L.max(v_unclipped, (v_clipped - b_returns[mb]) ** 2).mean()
            loss = pg_loss - 0.01 * entropy.mean() + v_loss * 0.5
            opt.zero_grad()
            loss.backward()
            gn = nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            opt.step()
            log.append((loss.item(), approx_kl.item(), clipfrac, gn.item()))
    return dict(actions=actions, adv=advantages, log=log, logstd=agent.actor_logstd,
                w=agent.actor_mean[0].weight)


@program
def beta_policy_multivariate_normal_and_independent_log_probs(L):
    """Bounded-action policies: Beta(alpha, beta) from softplus(+1) heads with log_prob of
    actions rescaled into (0, 1), entropy and mean; a MultivariateNormal with scale_tril
    from a lower-triangular head (diagonal exponentiated via diag_embed); Independent(Normal,
    1) log_prob and kl_divergence against a fixed prior; gradients of all into the heads."""
    D = L.distributions
    F = L.nn.functional
    h = _t(L, 5, 4, seed=27, grad=True)
    W = _t(L, 4, 8, seed=28, scale=0.5)
    out = h @ W
    alpha = F.softplus(out[:, :2]) + 1
    beta = F.softplus(out[:, 2:4]) + 1
    pol = D.Beta(alpha, beta)
    a = L.tensor(np.random.RandomState(29).uniform(-1, 1, (5, 2)))
    lp_beta = pol.log_prob((a + 1) / 2).sum(-1)
    ent_beta = pol.entropy().sum(-1)
    raw = out[:, 4:7]
    tril = L.zeros(5, 2, 2, dtype=L.float64)
    tril[:, 0, 0] = raw[:, 0].exp()
    tril[:, 1, 1] = raw[:, 1].exp()
    tril[:, 1, 0] = raw[:, 2]
    mvn = D.MultivariateNormal(out[:, 7:8].expand(5, 2), scale_tril=tril)
    lp_mvn = mvn.log_prob(a)
    ind = D.Independent(D.Normal(out[:, :2], F.softplus(out[:, 2:4]) + 0.1), 1)
    prior = D.Independent(D.Normal(L.zeros(5, 2, dtype=L.float64),
                                   L.ones(5, 2, dtype=L.float64)), 1)
    kl = D.kl_divergence(ind, prior)
    total = (lp_beta + ent_beta + lp_mvn + ind.log_prob(a) - kl).sum()
    total.backward()
    return dict(lp_beta=lp_beta, ent_beta=ent_beta, mean=pol.mean, lp_mvn=lp_mvn,
                cov=mvn.covariance_matrix, kl=kl, g=h.grad, ev=ind.event_shape,
                bs=ind.batch_shape)


# ----------------------------------------------------------------------------------------------
# data pipelines
# ----------------------------------------------------------------------------------------------
@program
def data_concat_subset_random_split_padding_collate_and_batch_sampler(L):
    """A text pipeline: two map datasets of variable-length sequences joined by
    ConcatDataset (cumulative_sizes, negative indexing), a Subset of it, random_split by
    fractions under a seeded Generator, a collate_fn padding with pad_sequence and returning
    a dict of lengths and labels, DataLoader over a BatchSampler(SequentialSampler,
    drop_last=False) and over shuffle=True with a generator; SubsetRandomSampler draws."""
    data = L.utils.data
    from_rnn = L.nn.utils.rnn
    rng = np.random.RandomState(30)

    class SeqDS(data.Dataset):
        def __init__(self, n, offset):
            self.items = [(L.tensor(rng.randint(1, 9, rng.randint(1, 5))), (i + offset) % 3)
                          for i in range(n)]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    def collate(batch):
        seqs, ys = zip(*batch)
        lengths = L.tensor([len(s) for s in seqs])
        return {"x": from_rnn.pad_sequence(list(seqs), batch_first=True, padding_value=0),
                "len": lengths, "y": L.tensor(ys)}

    ds = data.ConcatDataset([SeqDS(5, 0), SeqDS(4, 1)])
    sub = data.Subset(ds, [0, 2, 4, 6, 8, 7])
    train, val = data.random_split(ds, [0.7, 0.3], generator=L.Generator().manual_seed(42))
    loader = data.DataLoader(sub, batch_sampler=data.BatchSampler(
        data.SequentialSampler(sub), batch_size=4, drop_last=False), collate_fn=collate)
    shuffled = data.DataLoader(train, batch_size=3, shuffle=True, collate_fn=collate,
                               generator=L.Generator().manual_seed(7))
    srs = list(data.SubsetRandomSampler([3, 5, 7, 1], generator=L.Generator().manual_seed(3)))
    return dict(cum=ds.cumulative_sizes, last=ds[-1], n=len(ds), split=(train.indices, val.indices),
                batches=[b for b in loader], shuffled=[b for b in shuffled], srs=srs,
                nb=len(shuffled))


# ----------------------------------------------------------------------------------------------
# sequence models from tutorials
# ----------------------------------------------------------------------------------------------
@program
def lstm_pos_tagger_tutorial_word_to_ix_and_nll_sgd(L):
    """A part-of-speech tagger in the setting of the 'Sequence Models and LSTM Networks'
    tutorial (our code and sentences): a word index built from the training sentences, sequences
    into LongTensors, an LSTM over embeds.view(len, 1, -1), a linear tag scorer and log_softmax,
    NLLLoss and SGD(lr=0.1) for a few epochs, tag scores of the first sentence under no_grad
    before and after."""
    nn, F = L.nn, L.nn.functional
    corpus = [("the cat chased a mouse".split(), ["DET", "NN", "V", "DET", "NN"]),
              ("everyone saw this film".split(), ["NN", "V", "DET", "NN"])]
    vocab = {}
    for words, _ in corpus:
        for word in words:
            vocab.setdefault(word, len(vocab))
    tag_ids = {"DET": 0, "NN": 1, "V": 2}

    def ids(items, table):
        return L.tensor([table[i] for i in items], dtype=L.long)

    class Tagger(nn.Module):
        """One sentence at a time (a batch of one): embed, LSTM, a tag score per word."""

        def __init__(self, emb, hidden, words, tags):
            super().__init__()
            self.embed = nn.Embedding(words, emb)
            self.lstm = nn.LSTM(emb, hidden)
            self.score = nn.Linear(hidden, tags)

        def forward(self, sentence):
            n = len(sentence)
            states, _ = self.lstm(self.embed(sentence).view(n, 1, -1))
            return F.log_softmax(self.score(states.view(n, -1)), dim=1)

    L.set_default_dtype(L.float64)
    L.manual_seed(1)
    model = Tagger(6, 6, len(vocab), len(tag_ids))
    nll = nn.NLLLoss()
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    first = ids(corpus[0][0], vocab)
    with L.no_grad():
        before = model(first)
    losses = []
    for epoch in range(3):
        for words, tags in corpus:
            model.zero_grad()
            loss = nll(model(ids(words, vocab)), ids(tags, tag_ids))
            loss.backward()
            opt.step()
            losses.append(loss.item())
    with L.no_grad():
        after = model(first)
    return dict(before=before, after=after, losses=losses, pred=after.argmax(1))


@program
def luong_attention_gru_translator_with_python_random_teacher_forcing(L):
    """A seq2seq chatbot-tutorial model: a bidirectional GRU encoder over packed padded
    input with its two directions summed, Luong 'general' and 'concat' attention scores
    masked to -inf beyond each length and softmaxed, the decoder's concat layer with tanh,
    teacher forcing decided by random.random() (Python's seeded generator) per batch, the
    masked NLL by gather and masked_select, clip_grad_norm_ over both models."""
    nn, F = L.nn, L.nn.functional
    rnn = L.nn.utils.rnn
    V, H = 9, 6

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, H)
            self.gru = nn.GRU(H, H, 1, bidirectional=True)

        def forward(self, seq, lengths):
            packed = rnn.pack_padded_sequence(self.embedding(seq), lengths)
            outputs, hidden = self.gru(packed)
            outputs, _ = rnn.pad_packed_sequence(outputs)
            return outputs[:, :, :H] + outputs[:, :, H:], hidden

    class Attn(nn.Module):
        def __init__(self, method):
            super().__init__()
            self.method = method
            if method == "general":
                self.attn = nn.Linear(H, H)
            else:
                self.attn = nn.Linear(2 * H, H)
                self.v = nn.Parameter(L.zeros(H).normal_(0, 0.3))

        def forward(self, hidden, enc, mask):
            if self.method == "general":
                energies = L.sum(hidden * self.attn(enc), dim=2)
            else:
                e = self.attn(L.cat((hidden.expand(enc.size(0), -1, -1), enc), 2)).tanh()
                energies = L.sum(self.v * e, dim=2)
            energies = energies.t().masked_fill(~mask, float("-inf"))
            return F.softmax(energies, dim=1).unsqueeze(1)

    class Decoder(nn.Module):
        def __init__(self, method):
            super().__init__()
            self.embedding = nn.Embedding(V, H)
            self.gru = nn.GRU(H, H, 2)
            self.concat = nn.Linear(2 * H, H)
            self.out = nn.Linear(H, V)
            self.attn = Attn(method)

        def forward(self, step, last_hidden, enc, mask):
            rnn_output, hidden = self.gru(self.embedding(step), last_hidden)
            attn_weights = self.attn(rnn_output, enc, mask)
            context = attn_weights.bmm(enc.transpose(0, 1)).squeeze(1)
            concat_output = L.tanh(self.concat(L.cat((rnn_output.squeeze(0), context), 1)))
            return F.softmax(self.out(concat_output), dim=1), hidden, attn_weights

    def maskNLLLoss(inp, target, mask):
        crossEntropy = -L.log(L.gather(inp, 1, target.view(-1, 1)).squeeze(1))
        return crossEntropy.masked_select(mask).mean(), mask.sum().item()

    L.set_default_dtype(L.float64)
    rs = np.random.RandomState(31)
    lengths = L.tensor([5, 4, 2])
    src = L.tensor(rs.randint(1, V, (5, 3)))
    src[4:, 1:] = 0
    src[2:, 2] = 0
    tgt = L.tensor(rs.randint(1, V, (4, 3)))
    tmask = L.tensor(np.array([[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=bool))
    smask = (L.arange(5)[None, :] < lengths[:, None])
    out = {}
    for method in ("general", "concat"):
        L.manual_seed(6)
        enc, dec = Encoder(), Decoder(method)
        opt_e = L.optim.Adam(enc.parameters(), lr=1e-2)
        opt_d = L.optim.Adam(dec.parameters(), lr=5e-2)
        random.seed(0)
        losses = []
        for it in range(3):
            opt_e.zero_grad()
            opt_d.zero_grad()
            enc_out, enc_hidden = enc(src, lengths)
            dec_in = L.LongTensor([[1, 1, 1]])
            dec_hidden = enc_hidden[:2]
            use_tf = random.random() < 0.5
            loss, totals = 0, 0
            for t in range(4):
                probs, dec_hidden, w = dec(dec_in, dec_hidden, enc_out, smask)
                if use_tf:
                    dec_in = tgt[t].view(1, -1)
                else:
                    _, topi = probs.topk(1)
                    dec_in = L.LongTensor([[topi[i][0] for i in range(3)]])
                m_loss, n_total = maskNLLLoss(probs, tgt[t], tmask[t])
                loss = loss + m_loss
                totals += n_total
            loss.backward()
            gn = nn.utils.clip_grad_norm_(list(enc.parameters()) + list(dec.parameters()), 1.0)
            opt_e.step()
            opt_d.step()
            losses.append((loss.item(), use_tf, gn.item(), totals))
        out[method] = dict(losses=losses, w=w, ge=enc.gru.weight_hh_l0_reverse.grad)
    return out


# ----------------------------------------------------------------------------------------------
# attention edge cases and einsum-heavy layers
# ----------------------------------------------------------------------------------------------
@program
def masked_softmax_fully_masked_rows_nan_and_the_usual_repairs(L):
    """What masking code meets: a row masked entirely to -inf softmaxes to NaN (and its
    gradient is NaN), repaired three ways people do -- nan_to_num, torch.where on the
    mask's any(), and masking with finfo(dtype).min instead; the gradients of the repaired
    versions; masked mean pooling guarded by clamp(min=1)."""
    F = L.nn.functional
    scores = _t(L, 3, 4, seed=32, grad=True)
    mask = L.tensor([[True, True, False, True], [False, False, False, False],
                     [True, False, False, False]])
    raw = scores.masked_fill(~mask, float("-inf")).softmax(-1)
    fixed1 = L.nan_to_num(raw, nan=0.0)
    fixed2 = L.where(mask.any(-1, keepdim=True), raw, L.zeros_like(raw))
    fixed3 = scores.masked_fill(~mask, L.finfo(scores.dtype).min).softmax(-1)
    v = _t(L, 4, 2, seed=33)
    g1, = L.autograd.grad((fixed1 @ v).sum(), scores, retain_graph=True)
    g3, = L.autograd.grad((fixed3 @ v).sum(), scores)
    g_raw, = L.autograd.grad(raw.sum(), scores)
    h = _t(L, 3, 4, 2, seed=34)
    pooled = (h * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
    lm = F.log_softmax(scores.detach().masked_fill(~mask, float("-inf")), -1)
    return dict(raw=raw, fixed1=fixed1, fixed2=fixed2, fixed3=fixed3, g1=g1, g3=g3,
                g_raw=g_raw, pooled=pooled, lm=lm, isinf=L.isinf(lm).sum())


@program
def einsum_heavy_layers_bilinear_outer_trace_ellipsis_and_attention(L):
    """Layers written with torch.einsum only: multi-head attention ('bhid,bhjd->bhij' then
    'bhij,bhjd->bhid'), a bilinear form 'bi,oij,bj->bo', an outer product 'i,j->ij', a batch
    trace 'bii->b', a diagonal 'ii->i', ellipsis broadcasting '...ij,...jk->...ik', a
    sum over a repeated index in an operand list form, and their gradients."""
    x = _t(L, 2, 3, 4, 6, seed=35, grad=True)
    w3 = _t(L, 5, 4, 4, seed=36, grad=True)
    a, b = _t(L, 2, 4, seed=37, grad=True), _t(L, 2, 4, seed=38, grad=True)
    q, k, v = x[..., :2], x[..., 2:4], x[..., 4:]
    att = L.einsum("bhid,bhjd->bhij", q, k).mul(2 ** -0.5).softmax(-1)
    o = L.einsum("bhij,bhjd->bhid", att, v)
    bil = L.einsum("bi,oij,bj->bo", a, w3, b)
    outer = L.einsum("i,j->ij", a[0], b[1])
    sq = L.einsum("bij,bjk->bik", x[:, 0], x[:, 0].transpose(1, 2))
    tr = L.einsum("bii->b", sq)
    dg = L.einsum("ii->i", sq[0])
    ell = L.einsum("...ij,...jk->...ik", x, x.transpose(-1, -2))
    lst = L.einsum(a, [0, 1], b, [0, 1], [0])
    total = o.sum() + bil.pow(2).sum() + outer.sum() + tr.sum() + dg.sum() + \
        ell.mean() + lst.sum()
    total.backward()
    return dict(o=o, bil=bil, outer=outer, tr=tr, dg=dg, ell=ell, lst=lst, gx=x.grad,
                gw=w3.grad, ga=a.grad, gb=b.grad)


# ----------------------------------------------------------------------------------------------
# transformers on tabular and text data
# ----------------------------------------------------------------------------------------------
@program
def ft_transformer_numerical_tokenizer_cls_and_pre_norm_encoder_with_padding(L):
    """FT-Transformer: numerical features tokenised by weight[None] * x[..., None] + bias,
    categorical ones by an Embedding with per-feature offsets, a CLS token appended, an
    nn.TransformerEncoder of TransformerEncoderLayer(batch_first=True, norm_first=True,
    activation='gelu') with src_key_padding_mask hiding missing features, the CLS output's
    head; trained two AdamW steps, then eval outputs."""
    nn, F = L.nn, L.nn.functional
    d = 8

    class FTT(nn.Module):
        def __init__(self, n_num=3, cards=(3, 4)):
            super().__init__()
            self.weight = nn.Parameter(L.empty(n_num, d))
            self.bias = nn.Parameter(L.empty(n_num, d))
            self.register_buffer("offsets", L.tensor([0] + list(cards[:-1])).cumsum(0))
            self.cat_emb = nn.Embedding(sum(cards), d)
            self.cls = nn.Parameter(L.empty(1, 1, d))
            layer = nn.TransformerEncoderLayer(d, 2, dim_feedforward=16, dropout=0.0,
                                               activation="gelu", batch_first=True,
                                               norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            self.head = nn.Sequential(nn.LayerNorm(d), nn.ReLU(), nn.Linear(d, 1))

        def forward(self, x_num, x_cat, missing):
            tok = self.weight[None] * x_num[..., None] + self.bias[None]
            tok = L.cat([tok, self.cat_emb(x_cat + self.offsets[None])], 1)
            tok = L.cat([tok, self.cls.expand(len(tok), 1, d)], 1)
            pad = L.cat([missing, L.zeros(len(tok), 1, dtype=L.bool)], 1)
            h = self.encoder(tok, src_key_padding_mask=pad)
            return self.head(h[:, -1]).squeeze(-1)

    L.manual_seed(7)
    m = load_seeded(L, FTT().double(), seed=39)
    rs = np.random.RandomState(40)
    x_num = L.tensor(rs.randn(4, 3))
    x_cat = L.tensor(np.stack([rs.randint(0, 3, 4), rs.randint(0, 4, 4)], 1))
    missing = L.tensor(rs.rand(4, 5) < 0.25)
    y = L.tensor(rs.randn(4))
    opt = L.optim.AdamW(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.mse_loss(m(x_num, x_cat, missing), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    m.eval()
    with L.no_grad():
        ev = m(x_num, x_cat, missing)
    return dict(losses=losses, ev=ev, w=m.weight, offsets=m.offsets,
                keys=[k for k in m.state_dict() if "layers.0" in k])


@program
def mistral_sliding_window_attention_rmsnorm_swiglu_and_bool_sdpa_mask(L):
    """A Mistral-style block: RMSNorm computed in float32 (x.float(), pow(2).mean(-1,
    keepdim=True), torch.rsqrt, type_as back), SwiGLU by F.silu(w1(x)) * w3(x), a sliding
    window causal mask from torch.tril and torch.triu(diagonal=-window) as a bool attn_mask
    for F.scaled_dot_product_attention, compared with the explicit masked softmax."""
    nn, F = L.nn, L.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self, dim, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(L.ones(dim))

        def _norm(self, x):
            return x * L.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

        def forward(self, x):
            return self._norm(x.float()).type_as(x) * self.weight

    class Block(nn.Module):
        def __init__(self, d=8, h=2, window=2):
            super().__init__()
            self.h, self.window = h, window
            self.attention_norm = RMSNorm(d)
            self.wqkv = nn.Linear(d, 3 * d, bias=False)
            self.wo = nn.Linear(d, d, bias=False)
            self.ffn_norm = RMSNorm(d)
            self.w1 = nn.Linear(d, 12, bias=False)
            self.w3 = nn.Linear(d, 12, bias=False)
            self.w2 = nn.Linear(12, d, bias=False)

        def forward(self, x, explicit=False):
            B, T, C = x.shape
            q, k, v = self.wqkv(self.attention_norm(x)).view(B, T, 3, self.h, -1).permute(
                2, 0, 3, 1, 4)
            ones = L.ones(T, T, dtype=L.bool)
            mask = L.tril(ones) & L.triu(ones, diagonal=-self.window)
            if explicit:
                s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
                y = s.masked_fill(~mask, float("-inf")).softmax(-1) @ v
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            x = x + self.wo(y.transpose(1, 2).reshape(B, T, C))
            hN = self.ffn_norm(x)
            return x + self.w2(F.silu(self.w1(hN)) * self.w3(hN)), mask

    L.manual_seed(8)
    blk = load_seeded(L, Block(), seed=41)
    x = L.tensor(_arr(2, 5, 8, seed=42), dtype=L.float32, requires_grad=True)
    y, mask = blk(x)
    y.square().mean().backward()
    gx = x.grad.clone()
    x.grad = None
    y2, _ = blk(x, explicit=True)
    y2.square().mean().backward()
    xd = x.detach().double()
    yd = blk.double()(xd)[0]
    return dict(y=y, mask=mask, gx=gx, gx2=x.grad, y2=y2,
                close=float((y - y2).abs().max()) < 1e-5, yd=(yd.dtype, yd.shape),
                norm_dtype=blk.attention_norm(xd).dtype)


# ----------------------------------------------------------------------------------------------
# recommendation, introspection, init
# ----------------------------------------------------------------------------------------------
@program
def neural_collaborative_filtering_gmf_mlp_and_bpr_loss(L):
    """NeuMF: GMF embeddings multiplied elementwise, MLP embeddings concatenated through a
    tower, both joined and predicted by a Linear; trained by BCEWithLogits on implicit
    labels, and a BPR loss -logsigmoid(pos - neg).mean() with L2 on the used embeddings."""
    nn, F = L.nn, L.nn.functional

    class NeuMF(nn.Module):
        def __init__(self, n_users=6, n_items=7, k=4):
            super().__init__()
            self.embed_user_GMF = nn.Embedding(n_users, k)
            self.embed_item_GMF = nn.Embedding(n_items, k)
            self.embed_user_MLP = nn.Embedding(n_users, k * 2)
            self.embed_item_MLP = nn.Embedding(n_items, k * 2)
            self.MLP_layers = nn.Sequential(nn.Dropout(0.0), nn.Linear(k * 4, k * 2), nn.ReLU(),
                                            nn.Linear(k * 2, k), nn.ReLU())
            self.predict_layer = nn.Linear(k * 2, 1)

        def forward(self, user, item):
            output_GMF = self.embed_user_GMF(user) * self.embed_item_GMF(item)
            interaction = L.cat((self.embed_user_MLP(user), self.embed_item_MLP(item)), -1)
            output_MLP = self.MLP_layers(interaction)
            concat = L.cat((output_GMF, output_MLP), -1)
            return self.predict_layer(concat).view(-1)

    L.manual_seed(9)
    model = load_seeded(L, NeuMF().double(), seed=43)
    rs = np.random.RandomState(44)
    user = L.tensor(rs.randint(0, 6, 10))
    item = L.tensor(rs.randint(0, 7, 10))
    label = L.tensor(rs.randint(0, 2, 10)).float().double()
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = nn.BCEWithLogitsLoss()(model(user, item), label)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    neg = L.tensor(rs.randint(0, 7, 10))
    pos_s, neg_s = model(user, item), model(user, neg)
    reg = 1e-3 * (model.embed_user_GMF(user).norm(dim=1).pow(2).sum() +
                  model.embed_item_GMF(item).norm(dim=1).pow(2).sum())
    bpr = -F.logsigmoid(pos_s - neg_s).mean() + reg
    model.zero_grad()
    bpr.backward()
    hr = (pos_s > neg_s).float().mean()
    return dict(losses=losses, bpr=bpr, hr=hr, g=model.embed_item_GMF.weight.grad)


@program
def module_introspection_get_submodule_parameter_containers_and_freezing(L):
    """Code that walks a model: get_submodule / get_parameter / get_buffer by dotted path,
    named_modules(remove_duplicate=False) with a shared layer, ParameterList and
    ParameterDict printed, named_parameters(prefix=...), freezing by name prefix with
    requires_grad_, counting trainable parameters, register_module and named_children."""
    nn = L.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            shared = nn.Linear(3, 3)
            self.enc = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), shared)
            self.dec = nn.ModuleDict({"a": shared, "b": nn.Linear(3, 1)})
            self.scales = nn.ParameterList([nn.Parameter(L.ones(3)), nn.Parameter(L.zeros(2))])
            self.extra = nn.ParameterDict({"alpha": nn.Parameter(L.tensor(0.5)),
                                           "beta": nn.Parameter(L.ones(2, 2))})
            self.register_buffer("step", L.tensor(0))
            self.register_module("head", nn.Identity())

    L.manual_seed(10)
    net = Net()
    names = [n for n, _ in net.named_modules()]
    names_dup = [n for n, _ in net.named_modules(remove_duplicate=False)]
    for name, p in net.named_parameters():
        if name.startswith("enc.0"):
            p.requires_grad_(False)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    return dict(names=names, names_dup=names_dup,
                sub=repr(net.get_submodule("enc.2")),
                same=net.get_submodule("enc.2") is net.get_submodule("dec.a"),
                p=net.get_parameter("extra.beta"), buf=net.get_buffer("step"),
                plist=repr(net.scales), pdict=repr(net.extra),
                prefixed=[n for n, _ in net.enc.named_parameters(prefix="model.enc")],
                trainable=trainable, children=[n for n, _ in net.named_children()],
                keys=list(net.state_dict().keys()),
                missing=L.nn.Module.get_submodule.__name__,
                bad=err(lambda: net.get_submodule("enc.5")))


@program
def nn_init_zoo_under_a_seed_through_apply(L):
    """An init function applied through model.apply as detection and GAN code write it:
    kaiming_normal_(mode='fan_out', nonlinearity='relu') on convs, xavier_uniform_ with
    calculate_gain('tanh') and ('leaky_relu', 0.2) on linears, orthogonal_ on a recurrent
    weight, dirac_ on a 3x3 conv (an identity), eye_ on a square linear, sparse_ and
    uniform_ / constant_ on biases; the drawn values and the dirac conv's identity action."""
    nn = L.nn
    L.set_default_dtype(L.float64)
    L.manual_seed(11)
    model = nn.ModuleDict({
        "conv": nn.Conv2d(3, 4, 3), "ident": nn.Conv2d(3, 3, 3, padding=1, bias=False),
        "fc": nn.Linear(5, 4), "leaky": nn.Linear(4, 6), "sq": nn.Linear(4, 4),
        "sp": nn.Linear(6, 5), "rnn": nn.GRU(3, 4)})

    def init_fn(m):
        if m is model["ident"]:
            nn.init.dirac_(m.weight)
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0.01)
        elif m is model["fc"]:
            nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain("tanh"))
            nn.init.uniform_(m.bias, -0.1, 0.1)
        elif m is model["leaky"]:
            nn.init.xavier_normal_(m.weight, gain=nn.init.calculate_gain("leaky_relu", 0.2))
            nn.init.zeros_(m.bias)
        elif m is model["sq"]:
            nn.init.eye_(m.weight)
        elif m is model["sp"]:
            nn.init.sparse_(m.weight, sparsity=0.5, std=0.1)
        elif isinstance(m, nn.GRU):
            for name, param in m.named_parameters():
                if "weight_hh" in name:
                    nn.init.orthogonal_(param)
                elif "weight_ih" in name:
                    nn.init.kaiming_uniform_(param, a=math.sqrt(5))
                else:
                    param.data.fill_(0)

    model.apply(init_fn)
    x = _t(L, 1, 3, 5, 5, seed=45)
    gains = [nn.init.calculate_gain(n) for n in ("linear", "relu", "tanh", "selu", "sigmoid")]
    return dict(sd={k: v for k, v in model.state_dict().items()},
                ident=bool((model["ident"](x) == x).all()), gains=gains,
                zeros=(model["sp"].weight == 0).sum(0))


# ----------------------------------------------------------------------------------------------
# seeded float32 and bfloat16 models
# ----------------------------------------------------------------------------------------------
@program
def float32_seeded_normal_initialisers_bit_for_bit(L):
    """Seeded float32 models as training scripts build them, compared bit for bit through
    their integer views: kaiming_normal_(mode='fan_out') on a conv, trunc_normal_(std=.02)
    and normal_(1, 0.02) on a Linear, nn.Embedding's default N(0, 1) table, randn of 16 or
    more numbers with a ragged end, and half/bfloat16 draws (PyTorch's float32 Box-Muller in
    16-number blocks)."""
    L.manual_seed(0)
    m = L.nn.Sequential(L.nn.Conv2d(3, 8, 3), L.nn.Linear(20, 30))
    L.nn.init.kaiming_normal_(m[0].weight, mode="fan_out")
    L.nn.init.trunc_normal_(m[1].weight, std=0.02)
    L.nn.init.normal_(m[1].bias, 1.0, 0.02)
    e = L.nn.Embedding(50, 7)
    r = L.randn(5, 17)
    h = L.randn(33, dtype=L.float16)
    b = L.randn(40, dtype=L.bfloat16)
    x = L.empty(1000).normal_(0.5, 3.0)
    as32 = [t.detach().view(L.int32) for t in (m[0].weight, m[1].weight, m[1].bias, e.weight, r, x)]
    return dict(f32=as32, f16=h.view(L.int16), bf16=b.view(L.int16))


@program(rtol=2e-2, atol=1e-2)
def bfloat16_model_training_with_adamw(L):
    """model.to(torch.bfloat16) as low-memory fine-tuning does: a seeded float32 MLP with
    GELU and LayerNorm cast to bfloat16 (the cast weights bit for bit), cross entropy on
    bfloat16 logits and two AdamW steps in bfloat16; logits, losses and weights to about a
    bfloat16 unit (float32 sums in another order may round a logit the other way)."""
    F = L.nn.functional
    L.manual_seed(1)
    m = L.nn.Sequential(L.nn.Linear(8, 16), L.nn.GELU(), L.nn.LayerNorm(16),
                        L.nn.Linear(16, 3)).to(L.bfloat16)
    cast = [p.detach().view(L.int16).clone() for p in m.parameters()]
    opt = L.optim.AdamW(m.parameters(), lr=1e-2)
    x = L.tensor(_arr(6, 8, seed=46)).to(L.bfloat16)
    y = L.tensor([0, 1, 2, 0, 1, 2])
    losses = []
    for _ in range(2):
        opt.zero_grad()
        out = m(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        losses.append(loss.float().item())
    return dict(cast=cast, out=out.detach().double(), losses=losses, dtype=loss.dtype,
                w=[p.detach().double() for p in m.parameters()],
                state=[t.dtype for t in opt.state[m[0].weight].values()])


@program
def averaged_model_ema_multi_avg_fn_with_buffers_and_fractional_warm_restarts(L):
    """torch.optim.swa_utils.AveragedModel with multi_avg_fn=get_ema_multi_avg_fn(0.9) and
    use_buffers=True (BatchNorm statistics averaged too, n_averaged counted), trained under
    CosineAnnealingWarmRestarts(T_0=2, T_mult=2) stepped with fractional epochs
    epoch + i / iters as its docstring shows."""
    sw = L.optim.swa_utils
    L.set_default_dtype(L.float64)
    L.manual_seed(12)
    m = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.BatchNorm1d(4), L.nn.ReLU(), L.nn.Linear(4, 1))
    ema = sw.AveragedModel(m, multi_avg_fn=sw.get_ema_multi_avg_fn(0.9), use_buffers=True)
    opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    sched = L.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=1e-3)
    x, y = _t(L, 8, 3, seed=47), _t(L, 8, 1, seed=48)
    iters, lrs, losses = 2, [], []
    for epoch in range(3):
        for i in range(iters):
            opt.zero_grad()
            loss = L.nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
            sched.step(epoch + i / iters)
            ema.update_parameters(m)
            lrs.append(sched.get_last_lr()[0])
            losses.append(loss.item())
    ema.eval()
    return dict(lrs=lrs, losses=losses, T_i=sched.T_i, keys=list(ema.state_dict().keys()),
                sd=dict(ema.state_dict()), out=ema(x))


@program
def symmetric_parametrization_cached_and_right_inverse_assignment(L):
    """nn.utils.parametrize as its tutorial uses it: a Symmetric module (triu plus the
    transposed strict triu) registered on a Linear weight, two forwards under
    parametrize.cached(), the gradient on parametrizations.weight.original, then assigning
    m.weight = A going through right_inverse; the printed module and its state_dict keys."""
    P = L.nn.utils.parametrize

    class Symmetric(L.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu()

    L.manual_seed(13)
    m = L.nn.Linear(3, 3).double()
    P.register_parametrization(m, "weight", Symmetric())
    x = _t(L, 2, 3, seed=49)
    with P.cached():
        y = m(x) + m(x)
    y.sum().backward()
    g = m.parametrizations.weight.original.grad
    m.weight = _t(L, 3, 3, seed=50)
    return dict(y=y, g=g, w=m.weight, orig=m.parametrizations.weight.original,
                isp=P.is_parametrized(m, "weight"), r=repr(m), keys=list(m.state_dict().keys()),
                sym=bool((m.weight == m.weight.T).all()))


@program
def channels_last_training_with_a_deepcopied_ema_keeps_memory_format(L):
    """timm's train script with --channels-last and --model-ema: the model moved to
    memory_format=channels_last, its EMA made by copy.deepcopy (the copies keep the
    parameters' channels-last strides, as PyTorch's storage copy does; a transposed
    parameter keeps its strides too), inputs converted each step, the EMA updated by
    mul_/add_ over state_dict values; strides, contiguity and values compared."""
    import copy
    nn, F = L.nn, L.nn.functional
    cl = L.channels_last
    L.manual_seed(14)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()).double()
    model = model.to(memory_format=cl)
    model.register_parameter("proj", nn.Parameter(_t(L, 3, 2, seed=51).t()))
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    # (a size-1 dimension's stride is left out: numpy lays a copy's out its own way)
    layout = [(n, p.stride() if 1 not in p.shape else None, p.is_contiguous(),
               p.is_contiguous(memory_format=cl) if p.dim() == 4 else None)
              for n, p in ema.named_parameters()]
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    x = _t(L, 2, 3, 5, 5, seed=52).contiguous(memory_format=cl)
    y = L.tensor([0, 1])
    for _ in range(2):
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y) + model.proj.pow(2).sum()
        loss.backward()
        opt.step()
        with L.no_grad():
            for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                if e.dtype.is_floating_point:
                    e.mul_(0.9).add_(m, alpha=0.1)
                else:
                    e.copy_(m)
    return dict(layout=layout, out=out, ema_w=ema[0].weight, ema_proj=ema.proj,
                grad_layout=model[0].weight.grad.stride())


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn) is None       # each program runs through in torch
