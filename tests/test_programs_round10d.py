"""Whole programs in the idioms of code people run, a tenth round, part d: recurrent layers
in rarer configurations (proj_size with bidirectional stacks and packed input, relu RNNs
without bias, a GRU's double backward, orthogonal init by name, flatten_parameters, weights
written through .data), distributions people build models from (Gaussian mixtures, Glow's
invertible 1x1 convolution and ActNorm), domain adaptation's gradient reversal, MAML through
functional_call, and losses and decoders from model zoos (sigmoid focal loss, NT-Xent,
Sinkhorn, beam search, CTC, gumbel-softmax, EmbeddingBag, SWA), and reinforcement learning
(PPO with GAE, DQN, SAC).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, labels as _labels, load_seeded, normal64 as _arr, registry, program_harness,
    leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# recurrent layers, rarer settings
# ----------------------------------------------------------------------------------------------
@program
def lstm_bidirectional_proj_size_packed_batch_first_with_hx(L):
    """Every LSTM option at once: two bidirectional layers with proj_size, batch_first,
    a packed unsorted batch, (h0, c0) of shapes (4, N, proj) and (4, N, hidden) requiring
    grad, dropout inert in eval; the outputs' feature width is 2 * proj."""
    nn, U = L.nn, L.nn.utils.rnn
    L.manual_seed(0)
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, proj_size=2,
                   dropout=0.3).double().eval()
    x = _t(L, 3, 4, 3, seed=1, grad=True)
    h0, c0 = _t(L, 4, 3, 2, seed=2, grad=True), _t(L, 4, 3, 5, seed=3, grad=True)
    packed = U.pack_padded_sequence(x, [3, 4, 1], batch_first=True, enforce_sorted=False)
    out, (h, c) = lstm(packed, (h0, c0))
    y, lens = U.pad_packed_sequence(out, batch_first=True)
    (y.pow(2).sum() + h.sum() * 2 + c.pow(2).sum()).backward()
    return dict(y=y, lens=lens, h=h, c=c, gx=x.grad, gh=h0.grad, gc=c0.grad,
                ghr=lstm.weight_hr_l1_reverse.grad, gih=lstm.weight_ih_l1.grad)


@program
def relu_rnn_without_bias_and_tanh_rnn_with_hx_unbatched(L):
    """nn.RNN(nonlinearity='relu', bias=False) stacked two deep; a tanh RNN given an
    unbatched sequence and an unbatched h0; RNN's parameters listed by name (no biases)."""
    nn = L.nn
    L.manual_seed(4)
    r1 = nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bias=False, batch_first=True).double()
    r2 = nn.RNN(3, 4, bidirectional=True).double()
    x = _t(L, 2, 5, 3, seed=5, grad=True)
    y1, h1 = r1(x)
    h0 = _t(L, 2, 4, seed=6, grad=True)
    y2, h2 = r2(x[0], h0)
    (y1.sum() + y2.pow(2).sum() + h2.sum()).backward()
    return dict(y1=y1, h1=h1, y2=y2, h2=h2, gx=x.grad, gh=h0.grad,
                names=[n for n, _ in r1.named_parameters()], g=grads_of(r1))


@program
def gru_double_backward_and_hx_gradient(L):
    """A second derivative through a 2-layer GRU: the input gradient with create_graph,
    a penalty on it backpropagated to the weights and to h0; a Hessian-vector product by
    grad of (grad . v)."""
    nn = L.nn
    L.manual_seed(7)
    gru = nn.GRU(2, 3, num_layers=2).double()
    x = _t(L, 4, 2, 2, seed=8, grad=True)
    h0 = _t(L, 2, 2, 3, seed=9, grad=True)
    out, hn = gru(x, h0)
    s = out.tanh().sum() + hn[-1].pow(2).sum()
    gx, gh = L.autograd.grad(s, (x, h0), create_graph=True)
    v = L.tensor(_arr(4, 2, 2, seed=10))
    (hvp,) = L.autograd.grad((gx * v).sum(), x, retain_graph=True)
    (gx.pow(2).sum() + gh.abs().sum()).backward()
    return dict(gx=gx, gh=gh, hvp=hvp, g=grads_of(gru), gh0=h0.grad)


@program
def lstm_init_by_parameter_name_and_data_writes(L):
    """The init loops LSTM users write: orthogonal_ on weight_hh, xavier_uniform_ on
    weight_ih, biases zeroed with the forget gate's quarter set to one by slicing .data;
    flatten_parameters() called before forward; a weight replaced by .data.copy_ between
    two calls takes effect."""
    nn = L.nn
    L.manual_seed(11)
    lstm = nn.LSTM(3, 4, num_layers=2).double()
    for name, p in lstm.named_parameters():
        if "weight_hh" in name:
            nn.init.orthogonal_(p)
        elif "weight_ih" in name:
            nn.init.xavier_uniform_(p)
        elif "bias" in name:
            p.data.fill_(0)
            n = p.size(0)
            p.data[n // 4:n // 2].fill_(1.0)
    lstm.flatten_parameters()
    x = _t(L, 3, 2, 3, seed=12)
    y1, _ = lstm(x)
    with L.no_grad():
        lstm.weight_ih_l0.data.copy_(L.tensor(_arr(16, 3, seed=13, scale=0.3)))
    y2, (h, c) = lstm(x)
    y2.sum().backward()
    ortho = lstm.weight_hh_l0 @ lstm.weight_hh_l0.t()
    return dict(y1=y1, y2=y2, c=c, ortho=ortho, g=grads_of(lstm), b=lstm.bias_hh_l1)


@program
def lstm_language_model_with_tied_weights_and_detached_hidden(L):
    """A word-level LSTM language model trained in segments: Embedding, a two-layer LSTM
    with inter-layer dropout (train mode, seeded), and an output Linear sharing the
    embedding's weight; the zero initial state made by new_zeros on a parameter, the state
    cut off from the previous segment's graph by detach, gradients clipped to norm 0.25 and
    applied by hand with p.data.add_(p.grad, alpha=-lr)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(14)
    V, d = 9, 4
    enc, rnn = nn.Embedding(V, d), nn.LSTM(d, d, 2, dropout=0.2)
    dec = nn.Linear(d, V)
    dec.weight = enc.weight                  # one matrix for input and output words
    model = nn.ModuleList([enc, rnn, dec]).double()
    load_seeded(L, enc, 15, scale=0.1)
    stream = L.tensor(_labels(26, V, 16).reshape(13, 2))     # (time, 2 columns)
    first = next(model.parameters())
    hidden = tuple(first.new_zeros(2, 2, d) for _ in "hc")
    L.manual_seed(17)

    def segment(lo, carry):
        """One truncated-BPTT update on rows lo..lo+3 predicting rows lo+1..lo+4."""
        model.zero_grad()
        feats, carry = rnn(F.dropout(enc(stream[lo:lo + 4]), 0.2, True), carry)
        loss = F.cross_entropy(dec(feats).view(-1, V), stream[lo + 1:lo + 5].reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for w in model.parameters():
            w.data.add_(w.grad, alpha=-1.0)
        return loss.item(), carry

    losses = []
    for lo in (0, 4, 8):
        loss, hidden = segment(lo, tuple(h.detach() for h in hidden))
        losses.append(loss)
    return dict(losses=losses, w=enc.weight, h=hidden[0], rg=hidden[1].requires_grad,
                n=len(list(model.parameters())))


@program
def orthogonal_parametrization_on_a_tall_recurrent_weight(L):
    """parametrizations.orthogonal on an LSTM's weight_hh_l0 (16 x 4, tall): the base
    buffer completed to 16 x 16 by standard normal columns drawn from the default generator
    as PyTorch draws them, so the base, the original's gradient and a seeded draw after
    registration all agree; the weight's columns stay orthonormal after an SGD step."""
    nn = L.nn
    L.manual_seed(71)
    lstm = nn.LSTM(3, 4).double()
    nn.utils.parametrizations.orthogonal(lstm, "weight_hh_l0")
    after = L.rand(2)
    x = _t(L, 5, 2, 3, seed=72)
    opt = L.optim.SGD(lstm.parameters(), lr=0.5)
    y, _ = lstm(x)
    (y * L.tensor(_arr(5, 2, 4, seed=73))).sum().backward()
    g = lstm.parametrizations.weight_hh_l0.original.grad
    opt.step()
    w = lstm.weight_hh_l0
    return dict(after=after, y=y, g=g, base=lstm.parametrizations.weight_hh_l0[0].base,
                w=w, gram=w.T @ w)


# left: PyTorch's forward reads a parametrized recurrent weight a fixed number of times (its
# changed-weights check, then a re-read of all): spectral_norm's train-mode power iteration
# runs once per read, and minigrad reads it three times where PyTorch reads it four
_RNN_READS = "spectral_norm's power iterations on a recurrent weight: 3 reads, PyTorch's 4"


@pytest.mark.xfail(strict=True, reason=_RNN_READS)
def test_spectral_norm_on_a_recurrent_weight_runs_the_power_iteration_as_torch():
    """spectral_norm on a GRU's weight_ih_l0 in train mode: PyTorch's forward reads a
    parametrized recurrent weight four times (its changed-weights check, then the re-read of
    all), each read one power iteration, so the outputs and u follow that count."""
    def program(L):
        L.manual_seed(74)
        gru = L.nn.GRU(3, 4).double()
        L.nn.utils.parametrizations.spectral_norm(gru, "weight_ih_l0")
        x = _t(L, 5, 2, 3, seed=75)
        outs = [gru(x)[0] for _ in range(2)]
        outs[-1].sum().backward()
        p = gru.parametrizations.weight_ih_l0
        return dict(outs=outs, u=p[0]._u, g=p.original.grad)

    assert HARNESS.check(program) is None


def test_gru_given_an_lstm_state_tuple_fails_as_torch():
    """A GRU handed an LSTM's (h, c) tuple: AttributeError "'tuple' object has no attribute
    'dim'", batched and unbatched."""
    from side_by_side import err

    def program(L):
        x = L.zeros(5, 2, 3)
        gru = L.nn.GRU(3, 4)
        return dict(b=err(lambda: gru(x, (L.zeros(1, 2, 4), L.zeros(1, 2, 4)))),
                    u=err(lambda: gru(x[:, 0], (L.zeros(1, 4), L.zeros(1, 4)))))

    assert HARNESS.check(program) is None


# ----------------------------------------------------------------------------------------------
# distributions and flows
# ----------------------------------------------------------------------------------------------
@program
def gaussian_mixture_density_network_by_mixture_same_family(L):
    """A mixture density network's head: logits, means and softplus scales from a Linear,
    MixtureSameFamily(Categorical(logits), Independent(Normal, 1)) log_prob as the loss, the
    same by logsumexp written out; mean, variance and seeded samples of the mixture."""
    nn, F, D = L.nn, L.nn.functional, L.distributions
    L.manual_seed(20)
    K, dim = 3, 2
    head = nn.Linear(4, K + 2 * K * dim).double()
    x = _t(L, 5, 4, seed=21)
    y = _t(L, 5, dim, seed=22)
    out = head(x)
    logits = out[:, :K]
    mu = out[:, K:K + K * dim].view(5, K, dim)
    sigma = F.softplus(out[:, K + K * dim:]).view(5, K, dim) + 1e-3
    mix = D.MixtureSameFamily(D.Categorical(logits=logits), D.Independent(D.Normal(mu, sigma), 1))
    nll = -mix.log_prob(y).mean()
    comp = D.Normal(mu, sigma).log_prob(y.unsqueeze(1)).sum(-1)
    nll2 = -L.logsumexp(F.log_softmax(logits, -1) + comp, dim=-1).mean()
    (nll + nll2).backward()
    L.manual_seed(23)
    s = mix.sample((2,))
    return dict(nll=nll, nll2=nll2, mean=mix.mean, var=mix.variance, s=s, g=grads_of(head),
                bs=tuple(mix.batch_shape), es=tuple(mix.event_shape))


@program
def glow_actnorm_data_init_and_invertible_1x1_conv_by_lu(L):
    """Two invertible layers of a Glow-type flow. A per-channel affine normalisation whose
    shift and log-scale are set from the first batch it sees (mean and std of each channel
    via permute / contiguous / view, written with .data.copy_, a uint8 flag buffer switched
    by fill_), log-determinant H * W * sum of log-scales. A 1x1 convolution whose weight is
    kept factorised as P @ L @ U (P fixed, L unit lower triangular by a tril(-1) mask plus
    eye, U's diagonal stored as sign and log-magnitude), applied by F.conv2d, its
    log-determinant H * W * sum(log|diag U|) checked against slogdet; the inverse by
    inverse()."""
    nn, F = L.nn, L.nn.functional
    C = 3

    class DataInitAffine(nn.Module):
        def __init__(self):
            super().__init__()
            self.shift = nn.Parameter(L.zeros(1, C, 1, 1, dtype=L.float64))
            self.log_scale = nn.Parameter(L.zeros(1, C, 1, 1, dtype=L.float64))
            self.register_buffer("ready", L.tensor(0, dtype=L.uint8))

        def _fit(self, x):
            per_channel = x.permute(1, 0, 2, 3).contiguous().view(C, -1)
            self.shift.data.copy_(-per_channel.mean(1).view(1, C, 1, 1))
            inv_std = 1 / (per_channel.std(1) + 1e-6)
            self.log_scale.data.copy_(L.log(inv_std).view(1, C, 1, 1))

        def forward(self, x):
            if self.ready.item() == 0:          # first call: output zero mean, unit std
                with L.no_grad():
                    self._fit(x)
                    self.ready.fill_(1)
            pixels = x.shape[2] * x.shape[3]
            return L.exp(self.log_scale) * (x + self.shift), pixels * self.log_scale.sum()

    w0 = np.linalg.qr(np.random.RandomState(24).randn(C, C))[0]
    P_np, L_np, U_np = [np.asarray(m) for m in _lu_numpy(w0)]
    perm = L.tensor(P_np)
    below = nn.Parameter(L.tensor(L_np))
    diag_u = L.tensor(np.diag(U_np).copy())
    diag_sign = L.sign(diag_u)
    log_s = nn.Parameter(L.log(L.abs(diag_u)))
    above = nn.Parameter(L.triu(L.tensor(U_np), 1))
    strictly_lower = L.tril(L.ones(C, C, dtype=L.float64), -1)

    def assembled():
        unit_lower = below * strictly_lower + L.eye(C, dtype=L.float64)
        upper = above * strictly_lower.T + L.diag(diag_sign * L.exp(log_s))
        return perm @ unit_lower @ upper

    an = DataInitAffine()
    x = _t(L, 2, C, 3, 3, seed=25, grad=True)
    y, ld1 = an(x)
    w = assembled()
    z = F.conv2d(y, w.unsqueeze(2).unsqueeze(3))
    ld2 = 9 * log_s.sum()                      # 3 x 3 pixels
    sd = L.linalg.slogdet(w)
    back = F.conv2d(z, L.inverse(w).unsqueeze(2).unsqueeze(3))
    (z.pow(2).sum() - ld1 - ld2).backward()
    y2, _ = an(x)
    return dict(z=z, ld1=ld1, ld2=ld2, slog=sd.logabsdet * 9, sign=sd.sign,
                back=float((back - y).abs().max()) < 1e-10, init=an.ready,
                g=[below.grad, above.grad, log_s.grad, an.log_scale.grad, x.grad], y2=y2)


def _lu_numpy(a):
    """P, L, U with a = P @ L @ U by partial pivoting (the test's own, library-free)."""
    n = a.shape[0]
    U, Lm, P = a.copy(), np.eye(n), np.eye(n)
    for k in range(n - 1):
        piv = k + int(np.argmax(np.abs(U[k:, k])))
        U[[k, piv]] = U[[piv, k]]
        P[:, [k, piv]] = P[:, [piv, k]]
        Lm[[k, piv], :k] = Lm[[piv, k], :k]
        for i in range(k + 1, n):
            Lm[i, k] = U[i, k] / U[k, k]
            U[i] -= Lm[i, k] * U[k]
    return P, Lm, U


@program
def gradient_reversal_layer_for_domain_adversarial_training(L):
    """Domain-adversarial training through a gradient-flipping layer: a custom
    autograd.Function that returns its input as a view (view_as) and, going back, negates
    and scales the incoming gradient (neg), giving None for its float argument; the shared
    features thus get the label loss's gradient minus the scaled domain loss's; the
    strength follows 2 / (1 + exp(-10 p)) - 1 over training progress p."""
    nn, F = L.nn, L.nn.functional

    class FlipGradient(L.autograd.Function):
        @staticmethod
        def forward(ctx, feats, strength):
            ctx.strength = strength
            return feats.view_as(feats)         # a view, so the Function owns the output

        @staticmethod
        def backward(ctx, upstream):
            return upstream.neg() * ctx.strength, None

    L.manual_seed(26)
    feat = nn.Sequential(nn.Linear(4, 6), nn.ReLU()).double()
    cls, dom = nn.Linear(6, 3).double(), nn.Linear(6, 2).double()
    xs, xt = _t(L, 5, 4, seed=27), _t(L, 5, 4, seed=28)
    ys = L.tensor(_labels(5, 3, 29))
    out = []
    for p in (0.1, 0.5):
        lam = 2.0 / (1.0 + math.exp(-10 * p)) - 1
        fs, ft = feat(xs), feat(xt)
        cl = F.cross_entropy(cls(fs), ys)
        f_all = FlipGradient.apply(L.cat([fs, ft]), lam)
        dl = F.cross_entropy(dom(f_all), L.cat([L.zeros(5), L.ones(5)]).long())
        feat.zero_grad()
        dom.zero_grad()
        (cl + dl).backward()
        out.append(dict(lam=lam, g=feat[0].weight.grad.clone(), gd=dom.weight.grad.clone()))
    return out


@program
def maml_inner_loop_by_functional_call_and_create_graph(L):
    """MAML with torch.func.functional_call: fast weights as a dict updated by
    autograd.grad(create_graph=True) for two inner steps, the query loss backpropagated
    through the inner updates to the meta-parameters (second order), a first-order variant
    detaching the inner gradients, the meta step by Adam."""
    nn, F = L.nn, L.nn.functional
    from_func = L.func.functional_call
    L.manual_seed(30)
    net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    meta = L.optim.Adam(net.parameters(), lr=1e-2)
    xs, xq = _t(L, 5, 1, seed=31), _t(L, 5, 1, seed=32)
    ys, yq = L.sin(xs * 2), L.sin(xq * 2)
    out = {}
    for first_order in (False, True):
        params = dict(net.named_parameters())
        for _ in range(2):
            loss = F.mse_loss(from_func(net, params, (xs,)), ys)
            grads = L.autograd.grad(loss, list(params.values()), create_graph=not first_order)
            params = {k: v - 0.1 * g for (k, v), g in zip(params.items(), grads)}
        q = F.mse_loss(from_func(net, params, (xq,)), yq)
        meta.zero_grad()
        q.backward()
        out[first_order] = (q.item(), grads_of(net))
        meta.step()
    out["w"] = net[2].weight
    return out


# ----------------------------------------------------------------------------------------------
# losses and decoders from model zoos
# ----------------------------------------------------------------------------------------------
@program
def sigmoid_focal_loss_and_generalised_dice(L):
    """The sigmoid focal loss of RetinaNet (what torchvision.ops.sigmoid_focal_loss computes)
    by hand: unreduced BCE-with-logits damped by (1 - probability of the true label)^2 and
    weighted 0.25 / 0.75 for positives / negatives, reduced by mean and by sum; the softmax
    focal loss from gathered log-probabilities; a soft multi-class dice over
    one_hot(...).permute(0, 3, 1, 2) with one class's pixels left out."""
    F = L.nn.functional
    logits = _t(L, 2, 3, 4, 4, seed=40, grad=True)
    tgt = L.tensor(_labels(32, 3, 41).reshape(2, 4, 4))
    onehot = F.one_hot(tgt, 3).permute(0, 3, 1, 2).double()
    def focal_terms(z, is_pos, gamma=2, pos_weight=0.25):
        prob = L.sigmoid(z)
        right = prob * is_pos + (1 - prob) * (1 - is_pos)   # probability given to the truth
        damped = F.binary_cross_entropy_with_logits(z, is_pos, reduction="none") * \
            ((1 - right) ** gamma)
        weight = pos_weight * is_pos + (1 - pos_weight) * (1 - is_pos)
        return weight * damped

    per_elem = focal_terms(logits, onehot)
    fl, fls = per_elem.mean(), per_elem.sum()
    logp = F.log_softmax(logits, 1).gather(1, tgt.unsqueeze(1)).squeeze(1)
    sfl = (-(1 - logp.exp()) ** 2 * logp).mean()
    valid = (tgt != 2).unsqueeze(1)
    prob = F.softmax(logits, 1) * valid
    inter = (prob * onehot * valid).sum((0, 2, 3))
    card = (prob + onehot * valid).sum((0, 2, 3))
    dice = 1 - (2 * inter / card.clamp_min(1e-7)).mean()
    (fl + fls * 0.1 + sfl + dice).backward()
    return dict(fl=fl, fls=fls, sfl=sfl, dice=dice, g=logits.grad)


@program
def simclr_nt_xent_with_self_similarity_masked(L):
    """SimCLR's NT-Xent: two views' projections normalised and concatenated, the cosine
    similarity matrix by F.cosine_similarity on broadcast unsqueezes, the diagonal removed
    by masked_fill with -inf (an eye mask), positives at i +- N, cross entropy over the
    temperature-scaled rows; the same by the mask-select-view form."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(42)
    proj = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    a, b = _t(L, 4, 4, seed=43), _t(L, 4, 4, seed=44)
    z = F.normalize(L.cat([proj(a), proj(b)]), dim=1)
    N, tau = 4, 0.5
    sim = F.cosine_similarity(z.unsqueeze(1), z.unsqueeze(0), dim=2) / tau
    sim = sim.masked_fill(L.eye(2 * N, dtype=L.bool), float("-inf"))
    target = L.cat([L.arange(N, 2 * N), L.arange(0, N)])
    l1 = F.cross_entropy(sim, target)
    s2 = z @ z.T / tau
    mask = ~L.eye(2 * N, dtype=L.bool)
    s2 = s2[mask].view(2 * N, 2 * N - 1)
    pos = L.cat([L.diag(z @ z.T, N), L.diag(z @ z.T, -N)]) / tau
    l2 = (-pos + L.logsumexp(s2, dim=1)).mean()
    (l1 + l2).backward()
    return dict(l1=l1, l2=l2, sim=sim, g=grads_of(proj))


@program
def sinkhorn_optimal_transport_in_log_space(L):
    """Entropic optimal transport by Sinkhorn iterations in log space (SuperGlue / SwAV
    style): a cost by cdist(p=2)**2, log_mu and log_nu marginals, u and v updated by
    logsumexp over the rows and columns for a fixed number of iterations, the plan's
    marginals matched; the transport cost differentiated to the point positions."""
    x = _t(L, 5, 2, seed=45, grad=True)
    y = _t(L, 4, 2, seed=46)
    C = L.cdist(x, y, p=2) ** 2
    eps = 0.5
    log_mu = L.full((5,), -math.log(5), dtype=L.float64)
    log_nu = L.full((4,), -math.log(4), dtype=L.float64)
    u, v = L.zeros(5, dtype=L.float64), L.zeros(4, dtype=L.float64)
    for _ in range(30):
        u = eps * (log_mu - L.logsumexp((-C + v[None, :]) / eps, 1))
        v = eps * (log_nu - L.logsumexp((-C + u[:, None]) / eps, 0))
    plan = L.exp((-C + u[:, None] + v[None, :]) / eps)
    cost = (plan * C).sum()
    cost.backward()
    return dict(plan=plan, rows=plan.sum(1), cols=plan.sum(0), cost=cost, gx=x.grad)


@program
def beam_search_over_flattened_scores_with_backpointers(L):
    """Beam search over a GRUCell decoder, three beams: log-probs plus running beam scores,
    topk over the flattened (beam * vocab) scores, beam index by floor division
    (torch.div rounding_mode='floor') and token by remainder, histories re-ordered by
    index_select and extended by cat, finished hypotheses scored with a length penalty."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(47)
    V, d, K = 6, 4, 3
    emb = load_seeded(L, nn.Embedding(V, d).double(), 48)
    cell = nn.GRUCell(d, d).double()
    out = nn.Linear(d, V).double()
    with L.no_grad():
        h = L.zeros(1, d, dtype=L.float64)
        tokens = L.zeros(1, 1, dtype=L.long)
        scores = L.zeros(1, dtype=L.float64)
        finished = []
        for step in range(4):
            h = cell(emb(tokens[:, -1]), h)
            lp = F.log_softmax(out(h), -1)
            cand = (scores.unsqueeze(1) + lp).view(-1)
            top, idx = cand.topk(K)
            beam = L.div(idx, V, rounding_mode="floor")
            tok = idx % V
            tokens = L.cat([tokens.index_select(0, beam), tok.unsqueeze(1)], 1)
            h = h.index_select(0, beam)
            scores = top
            done = tok == 5
            for i in done.nonzero().flatten().tolist():
                penalty = ((5 + step + 1) / 6) ** 0.6
                finished.append((tokens[i].tolist(), (scores[i] / penalty).item()))
            scores = scores.masked_fill(done, float("-inf"))
    return dict(tokens=tokens, scores=scores, finished=finished)


@program
def ctc_loss_for_a_speech_model_and_greedy_decoding(L):
    """A speech model's CTC training: log_softmax over (T, N, C) outputs of a
    bidirectional GRU, nn.CTCLoss(blank=0, zero_infinity=True) with padded targets and
    per-sample lengths, mean and sum reductions and concatenated 1-d targets; greedy
    decoding by argmax, unique_consecutive and removing blanks."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(49)
    gru = nn.GRU(3, 4, bidirectional=True).double()
    fc = nn.Linear(8, 5).double()
    x = _t(L, 7, 2, 3, seed=50)
    lp = F.log_softmax(fc(gru(x)[0]), dim=2)
    targets = L.tensor([[1, 2, 2], [3, 4, 0]])
    in_len, tgt_len = L.tensor([7, 5]), L.tensor([3, 2])
    l_mean = nn.CTCLoss(blank=0, zero_infinity=True)(lp, targets, in_len, tgt_len)
    l_sum = F.ctc_loss(lp, L.tensor([1, 2, 2, 3, 4]), in_len, tgt_len, reduction="sum")
    (l_mean + l_sum).backward()
    best = lp.argmax(2).T
    decoded = []
    for row, n in zip(best, in_len):
        u = L.unique_consecutive(row[:n])
        decoded.append(u[u != 0].tolist())
    return dict(l_mean=l_mean, l_sum=l_sum, decoded=decoded, g=grads_of(fc),
                gg=gru.weight_hh_l0_reverse.grad)


@program
def gumbel_softmax_hard_and_embedding_bag_offsets(L):
    """Discrete latents by F.gumbel_softmax(tau, hard=True) under a seed (one-hot forward,
    soft gradient) picking codebook rows; nn.EmbeddingBag with offsets in mean and sum
    modes, per_sample_weights, padding_idx and include_last_offset; EmbeddingBag.from_pretrained."""
    nn, F = L.nn, L.nn.functional
    logits = _t(L, 4, 5, seed=51, grad=True)
    book = _t(L, 5, 3, seed=52, grad=True)
    L.manual_seed(53)
    y = F.gumbel_softmax(logits, tau=0.5, hard=True)
    z = y @ book
    z.pow(2).sum().backward()
    w = L.tensor(_arr(7, 3, seed=54))
    bag = nn.EmbeddingBag.from_pretrained(w, mode="mean", freeze=False, padding_idx=0)
    inp = L.tensor([1, 2, 0, 4, 5, 6, 0])
    off = L.tensor([0, 3, 5])
    m = bag(inp, off)
    s = nn.EmbeddingBag.from_pretrained(w, mode="sum", include_last_offset=True)(
        inp, L.tensor([0, 2, 7]), per_sample_weights=L.tensor(_arr(7, seed=55)))
    (m.sum() + s.pow(2).sum()).backward()
    return dict(y=y, z=z, gl=logits.grad, gb=book.grad, m=m, s=s, gbag=bag.weight.grad)


@program
def swa_averaged_model_swalr_and_update_bn(L):
    """Stochastic weight averaging: torch.optim.swa_utils.AveragedModel collecting the
    running average after a start epoch, SWALR annealing the rate (cos, anneal_epochs),
    update_bn recomputing BatchNorm statistics over a loader; an EMA AveragedModel by
    get_ema_multi_avg_fn; n_averaged."""
    nn, F = L.nn, L.nn.functional
    swa = L.optim.swa_utils
    L.manual_seed(56)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 1)).double()
    avg = swa.AveragedModel(model)
    ema = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.8))
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    sched = swa.SWALR(opt, swa_lr=0.02, anneal_epochs=2, anneal_strategy="cos")
    x, y = _t(L, 8, 3, seed=57), _t(L, 8, 1, seed=58)
    lrs = []
    for epoch in range(5):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
        if epoch >= 2:
            avg.update_parameters(model)
            sched.step()
        ema.update_parameters(model)
        lrs.append(opt.param_groups[0]["lr"])
    loader = [x[:4], x[4:]]
    swa.update_bn(loader, avg)
    return dict(lrs=lrs, n=avg.n_averaged, w=avg.module[0].weight, rm=avg.module[1].running_mean,
                rv=avg.module[1].running_var, ew=ema.module[3].weight, out=avg(x))


@program
def fused_attention_gqa_dropout_and_decoder_layer_masks(L):
    """F.scaled_dot_product_attention as Llama-style code calls it: grouped keys and values
    with enable_gqa=True, a boolean attn_mask broadcast over batch and heads, an explicit
    scale and dropout_p under a seed (the generator moves on as torch's does); is_causal
    against repeat_interleave-d keys; a TransformerDecoderLayer given tgt_is_causal with a
    float causal mask and a float memory_mask."""
    F = L.nn.functional
    q = _t(L, 2, 4, 3, 4, seed=60, grad=True)
    k, v = _t(L, 2, 2, 5, 4, seed=61), _t(L, 2, 2, 5, 4, seed=62)
    m = L.tensor(_arr(3, 5, seed=63)) > 0
    L.manual_seed(64)
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=m, dropout_p=0.3, scale=0.7,
                                       enable_gqa=True)
    b = F.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1),
                                       is_causal=True)
    (a.sum() + b.sum()).backward()
    after = L.rand(2)
    L.manual_seed(65)
    dec = L.nn.TransformerDecoderLayer(4, 2, 8, dropout=0.0, batch_first=True).double()
    t, mem = _t(L, 2, 3, 4, seed=66, grad=True), _t(L, 2, 5, 4, seed=67)
    causal = L.nn.Transformer.generate_square_subsequent_mask(3, dtype=L.float64)
    y = dec(t, mem, tgt_mask=causal, memory_mask=_t(L, 3, 5, seed=68), tgt_is_causal=True)
    y.sum().backward()
    return dict(a=a, b=b, gq=q.grad, after=after, y=y, gt=t.grad)


@program
def one_cycle_cyclic_polynomial_and_a_group_added_mid_training(L):
    """Schedulers that also move momentum: OneCycleLR three-phase over SGD's momentum and
    linear-annealed over Adam's betas (epochs x steps_per_epoch), CyclicLR exp_range;
    LambdaLR and PolynomialLR stepping the same optimizer; an Adam param group added after
    two steps with its own lr and betas, its state in state_dict()."""
    sch = L.optim.lr_scheduler
    p = [L.zeros(1, requires_grad=True)]
    o = L.optim.SGD(p, lr=0.1, momentum=0.9)
    s = sch.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=0.3, three_phase=True)
    o2 = L.optim.SGD(p, lr=0.1, momentum=0.9)
    s2 = sch.CyclicLR(o2, 0.01, 0.1, step_size_up=2, mode="exp_range", gamma=0.9)
    o3 = L.optim.Adam(p, lr=0.1)
    s3 = sch.OneCycleLR(o3, max_lr=0.5, epochs=2, steps_per_epoch=3, anneal_strategy="linear")
    o4 = L.optim.AdamW(p, lr=0.1)
    s4a = sch.LambdaLR(o4, lambda e: 0.9 ** e)
    s4b = sch.PolynomialLR(o4, total_iters=4, power=2.0)
    rates = []
    for _ in range(6):
        for opt, sc in ((o, s), (o2, s2), (o3, s3), (o4, s4a)):
            opt.step()
            sc.step()
        s4b.step()
        rates.append((o.param_groups[0]["lr"], o.param_groups[0]["momentum"],
                      o2.param_groups[0]["lr"], o2.param_groups[0]["momentum"],
                      o3.param_groups[0]["lr"], o3.param_groups[0]["betas"],
                      o4.param_groups[0]["lr"]))
    L.manual_seed(69)
    a, b = L.nn.Linear(3, 2).double(), L.nn.Linear(2, 1).double()
    opt = L.optim.Adam(a.parameters(), lr=0.1)
    x = _t(L, 4, 3, seed=70)
    losses = []
    for i in range(4):
        opt.zero_grad()
        loss = b(a(x)).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if i == 1:
            opt.add_param_group({"params": b.parameters(), "lr": 0.01, "betas": (0.5, 0.6)})
    sd = opt.state_dict()
    return dict(rates=rates, poly=s4b.state_dict()["last_epoch"], losses=losses, wa=a.weight,
                wb=b.weight, betas=sd["param_groups"][1]["betas"], ids=sorted(sd["state"]),
                exp_avg=sd["state"][2]["exp_avg"])


# ----------------------------------------------------------------------------------------------
# reinforcement learning
# ----------------------------------------------------------------------------------------------
@program
def ppo_gae_reversed_loop_clipped_objective_and_value_clipping(L):
    """One PPO update on a small rollout, in the shape single-file PPO implementations give
    it: generalised advantage estimates accumulated backwards in time (episode ends cutting
    the bootstrap, the value of the state after the rollout closing it), returns as
    advantage plus value, minibatches from a seeded randperm with advantages standardised
    in each, the clipped policy surrogate, a clipped value loss, an entropy bonus, the
    (r - 1) - log r estimate of KL logged under no_grad, clip_grad_norm_, Adam(eps=1e-5)."""
    nn, D = L.nn, L.distributions
    L.manual_seed(50)
    steps, envs, obs_dim, n_act = 5, 2, 3, 3
    actor = nn.Sequential(nn.Linear(obs_dim, 8), nn.Tanh(), nn.Linear(8, n_act)).double()
    critic = nn.Sequential(nn.Linear(obs_dim, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    params = list(actor.parameters()) + list(critic.parameters())
    opt = L.optim.Adam(params, lr=2.5e-3, eps=1e-5)
    obs = _t(L, steps, envs, obs_dim, seed=51)
    rewards = L.tensor(_arr(steps, envs, seed=52))
    dones = L.tensor([[0, 0], [0, 1], [0, 0], [1, 0], [0, 0]], dtype=L.float64)
    with L.no_grad():
        behaviour = D.Categorical(logits=actor(obs))
        L.manual_seed(53)
        actions = behaviour.sample()
        old_lp = behaviour.log_prob(actions)
        values = critic(obs).squeeze(-1)
        after_value = critic(_t(L, envs, obs_dim, seed=54)).reshape(1, -1)
        after_done = L.tensor([0.0, 1.0], dtype=L.float64)
    gamma, lam = 0.99, 0.95
    # what follows step t: its value and whether the episode goes on into it
    follow_value = [values[t + 1] for t in range(steps - 1)] + [after_value]
    goes_on = [1.0 - dones[t + 1] for t in range(steps - 1)] + [1.0 - after_done]
    advantages = L.zeros_like(rewards)
    running = 0
    for t in range(steps - 1, -1, -1):
        td_error = rewards[t] + gamma * follow_value[t] * goes_on[t] - values[t]
        running = td_error + gamma * lam * goes_on[t] * running
        advantages[t] = running
    returns = advantages + values
    flat = dict(obs=obs.reshape(-1, obs_dim), act=actions.reshape(-1), lp=old_lp.reshape(-1),
                adv=advantages.reshape(-1), ret=returns.reshape(-1), val=values.reshape(-1))
    L.manual_seed(55)
    inds = L.randperm(steps * envs)
    kls, losses = [], []
    for mb in inds.split(5):
        pi = D.Categorical(logits=actor(flat["obs"][mb]))
        log_ratio = pi.log_prob(flat["act"][mb]) - flat["lp"][mb]
        ratio = log_ratio.exp()
        with L.no_grad():
            kls.append(((ratio - 1) - log_ratio).mean().item())
        a = flat["adv"][mb]
        a = (a - a.mean()) / (a.std() + 1e-8)
        policy_loss = L.max(-a * ratio, -a * L.clamp(ratio, 0.8, 1.2)).mean()
        v_new, v_old, target = critic(flat["obs"][mb]).view(-1), flat["val"][mb], flat["ret"][mb]
        v_kept_close = v_old + L.clamp(v_new - v_old, -0.2, 0.2)
        value_loss = 0.5 * L.max((v_new - target) ** 2, (v_kept_close - target) ** 2).mean()
        loss = policy_loss - 0.01 * pi.entropy().mean() + value_loss * 0.5
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 0.5)
        opt.step()
        losses.append(loss.item())
    return dict(actions=actions, advantages=advantages, returns=returns, inds=inds, kls=kls,
                losses=losses, w=actor[2].weight, v=critic[2].bias)


@program
def dqn_target_network_huber_and_epsilon_greedy(L):
    """A DQN update: the online network's Q(s, a) by gather on the taken actions, the
    target network's max over next actions (detached, masked by done), smooth_l1_loss,
    the target refreshed by load_state_dict(state_dict()) and softly by lerp_; Double DQN's
    argmax-from-online variant; epsilon-greedy by a seeded torch.rand draw."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(60)
    q = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    tq = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    tq.load_state_dict(q.state_dict())
    opt = L.optim.RMSprop(q.parameters(), lr=1e-2)
    s, s2 = _t(L, 8, 4, seed=61), _t(L, 8, 4, seed=62)
    a = L.tensor(_labels(8, 3, 63))
    r = L.tensor(_arr(8, seed=64))
    done = L.tensor([0, 0, 1, 0, 0, 1, 0, 0], dtype=L.bool)
    losses = []
    for step in range(3):
        qsa = q(s).gather(1, a.unsqueeze(1)).squeeze(1)
        with L.no_grad():
            if step % 2:
                a2 = q(s2).argmax(dim=1, keepdim=True)
                nxt = tq(s2).gather(1, a2).squeeze(1)
            else:
                nxt = tq(s2).max(1)[0]
            target = r + 0.9 * nxt * (~done)
        loss = F.smooth_l1_loss(qsa, target)
        opt.zero_grad()
        loss.backward()
        for p in q.parameters():
            p.grad.data.clamp_(-1, 1)
        opt.step()
        losses.append(loss.item())
        with L.no_grad():
            for tp, p in zip(tq.parameters(), q.parameters()):
                tp.lerp_(p, 0.5)
    L.manual_seed(65)
    eps = 0.3
    explore = L.rand(8) < eps
    greedy = q(s).argmax(1)
    act = L.where(explore, L.randint(0, 3, (8,)), greedy)
    return dict(losses=losses, act=act, explore=explore, tw=tq[2].weight, w=q[0].weight)


@program
def sac_squashed_gaussian_actor_twin_q_and_temperature(L):
    """SAC's actor: a Normal from mean and clamped log_std, rsample under a seed, tanh
    squashing with the log-prob correction log(1 - tanh^2 + eps) summed over actions
    (and the softplus form), twin Q critics' min, the entropy temperature log_alpha trained
    against a target entropy, polyak target updates with mul_/add_."""
    nn, F, D = L.nn, L.nn.functional, L.distributions
    L.manual_seed(70)
    pi = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    q1 = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1)).double()
    q2 = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1)).double()
    q1_t = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1)).double()
    q1_t.load_state_dict(q1.state_dict())
    log_alpha = L.zeros(1, dtype=L.float64, requires_grad=True)
    a_opt = L.optim.Adam([log_alpha], lr=3e-3)
    obs = _t(L, 6, 3, seed=71)
    mean, log_std = pi(obs).chunk(2, dim=-1)
    log_std = L.clamp(log_std, -5, 2)
    normal = D.Normal(mean, log_std.exp())
    L.manual_seed(72)
    u = normal.rsample()
    act = L.tanh(u)
    logp = normal.log_prob(u).sum(-1) - L.log(1 - act.pow(2) + 1e-6).sum(-1)
    logp2 = normal.log_prob(u).sum(-1) - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
    sa = L.cat([obs, act], -1)
    qmin = L.min(q1(sa), q2(sa)).squeeze(-1)
    alpha = log_alpha.exp().detach()
    actor_loss = (alpha * logp - qmin).mean()
    actor_loss.backward()
    alpha_loss = -(log_alpha * (logp + (-2.0)).detach()).mean()
    alpha_loss.backward()
    a_opt.step()
    with L.no_grad():
        for p, pt in zip(q1.parameters(), q1_t.parameters()):
            pt.data.mul_(0.995)
            pt.data.add_(0.005 * p.data)
    return dict(act=act, logp=logp, logp2=logp2, loss=actor_loss, g=grads_of(pi),
                la=log_alpha, gla=log_alpha.grad, tb=q1_t[2].bias, gq=q1[0].weight.grad)


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn) is None       # each program runs through in torch
