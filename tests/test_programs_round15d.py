"""Whole programs of the fifteenth round, part d: training details and objectives.  Model
soups and task arithmetic on state dicts, packed documents with a block-diagonal causal mask,
DropBlock, the Carlini-Wagner attack in tanh space, ordinal regression (CORAL and a cumulative
link), listwise and LambdaRank losses, an invertible residual block with a Hutchinson
log-determinant, a conditional-BN generator against a projection discriminator and a
mixture-of-softmaxes output layer; least squares by geqrf's reflectors, printed.

The harness is part a's: both libraries run each program on the same numpy inputs and
seeded weights and must agree in values, dtypes, shapes and requires_grad (and printed
tensors, grad_fn names included, where a program prints them).
"""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# merging models
# ----------------------------------------------------------------------------------------------
@program
def model_soups_uniform_and_greedy_and_task_arithmetic_on_state_dicts(L):
    """Weight-space ensembling: three fine-tunes of a deepcopied base (different seeds of the
    data order, SGD), a uniform soup as the mean of state dicts loaded into a fresh copy, a
    greedy soup that adds ingredients in order of held-out loss while it does not get worse,
    task vectors (fine-tuned minus base) summed and scaled onto the base; the cosine
    similarity of two task vectors by parameters_to_vector."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(24)
    base = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x, y = _t(L, 24, 4, seed=25), L.tensor(_labels(24, 3, 26))
    xv, yv = _t(L, 8, 4, seed=27), L.tensor(_labels(8, 3, 28))

    def finetune(seed, lr):
        m = copy.deepcopy(base)
        opt = L.optim.SGD(m.parameters(), lr=lr)
        g = L.Generator().manual_seed(seed)
        for idx in L.randperm(24, generator=g).split(8):
            opt.zero_grad()
            F.cross_entropy(m(x[idx]), y[idx]).backward()
            opt.step()
        return m

    def val(sd):
        m = copy.deepcopy(base)
        m.load_state_dict(sd)
        with L.no_grad():
            return F.cross_entropy(m(xv), yv).item()

    ing = [finetune(s, lr) for s, lr in ((0, 0.5), (1, 0.3), (2, 0.8))]
    sds = [m.state_dict() for m in ing]
    uniform = {k: sum(sd[k] for sd in sds) / len(sds) for k in sds[0]}
    order = sorted(range(3), key=lambda i: val(sds[i]))
    chosen = [order[0]]
    for i in order[1:]:
        trial = {k: sum(sds[j][k] for j in chosen + [i]) / (len(chosen) + 1) for k in sds[0]}
        best = {k: sum(sds[j][k] for j in chosen) / len(chosen) for k in sds[0]}
        if val(trial) <= val(best):
            chosen.append(i)
    bsd = base.state_dict()
    tv = [{k: sd[k] - bsd[k] for k in bsd} for sd in sds]
    merged = {k: bsd[k] + 0.4 * sum(t[k] for t in tv) for k in bsd}
    vec = [nn.utils.parameters_to_vector(m.parameters()) -
           nn.utils.parameters_to_vector(base.parameters()) for m in ing[:2]]
    cos = F.cosine_similarity(vec[0], vec[1], dim=0)
    return dict(vals=[val(sd) for sd in sds], uniform=val(uniform), order=order,
                chosen=chosen, merged=val(merged), cos=cos.detach(), soup=uniform)


# ----------------------------------------------------------------------------------------------
# language-model training details
# ----------------------------------------------------------------------------------------------
@program
def packed_documents_block_diagonal_causal_mask_and_reset_positions(L):
    """Sequence packing: documents of several lengths concatenated into one row, document
    ids by repeat_interleave, positions restarting per document (arange minus the gathered
    start offsets from cumsum), a block-diagonal causal bool mask for
    scaled_dot_product_attention, labels -100 at document ends; the packed loss equals the
    token-weighted mean of the per-document losses and the packed outputs equal separate
    runs."""
    nn, F = L.nn, L.nn.functional
    V, D = 9, 8
    L.manual_seed(29)
    emb, pos = nn.Embedding(V, D).double(), nn.Embedding(8, D).double()
    qkv, out = nn.Linear(D, 3 * D).double(), nn.Linear(D, V).double()
    docs = [L.tensor([1, 4, 5, 2]), L.tensor([1, 7, 2]), L.tensor([1, 3, 6, 8, 2])]
    lengths = L.tensor([len(d) for d in docs])
    ids = L.cat(docs)
    doc = L.repeat_interleave(L.arange(len(docs)), lengths)
    starts = L.cumsum(lengths, 0) - lengths
    positions = L.arange(len(ids)) - starts[doc]
    mask = (doc[:, None] == doc[None, :]) & L.tril(L.ones(len(ids), len(ids),
                                                          dtype=L.bool))

    def forward(tokens, p, m):
        h = emb(tokens) + pos(p)
        q, k, v = qkv(h).view(len(tokens), 2, 3 * D // 2).transpose(0, 1).chunk(3, -1)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
        return out(a.transpose(0, 1).reshape(len(tokens), D))

    logits = forward(ids, positions, mask)
    labels = L.cat([ids[1:], L.tensor([-100])])
    labels[(starts + lengths - 1)] = -100
    loss = F.cross_entropy(logits, labels, ignore_index=-100)
    loss.backward()
    separate, total = [], 0.0
    for d in docs:
        n = len(d)
        lg = forward(d, L.arange(n), L.tril(L.ones(n, n, dtype=L.bool)))
        separate.append(lg)
        total = total + F.cross_entropy(lg[:-1], d[1:], reduction="sum")
    mean = total / (lengths - 1).sum()
    return dict(doc=doc, positions=positions, labels=labels, loss=loss, mean=mean,
                same=L.allclose(L.cat(separate), logits), g=grads_of(qkv))


# ----------------------------------------------------------------------------------------------
# regularisation and attacks
# ----------------------------------------------------------------------------------------------
@program
def dropblock_by_max_pooled_bernoulli_seeds_under_a_seed(L):
    """DropBlock as a module: gamma from the drop probability, block size and feature size,
    seeds drawn by (rand < gamma).float() over the valid centres after manual_seed, padded,
    dilated into blocks by max_pool2d(stride 1, padding block//2), the kept mask inverted and
    the output rescaled by numel / sum; identity in eval(); the gradient through the mask."""
    nn, F = L.nn, L.nn.functional

    class DropBlock(nn.Module):
        def __init__(self, p=0.3, block=3):
            super().__init__()
            self.p, self.block = p, block

        def forward(self, x):
            if not self.training or self.p == 0:
                return x
            B, C, H, W = x.shape
            bs = self.block
            gamma = self.p / bs ** 2 * (H * W) / ((H - bs + 1) * (W - bs + 1))
            seeds = (L.rand(B, C, H - bs + 1, W - bs + 1, dtype=x.dtype) < gamma).float()
            seeds = F.pad(seeds, [bs // 2] * 4)
            block = 1 - F.max_pool2d(seeds, (bs, bs), stride=1, padding=bs // 2)
            return x * block.to(x.dtype) * block.numel() / block.sum()

        def extra_repr(self):
            return f"p={self.p}, block_size={self.block}"

    db = DropBlock()
    x = _t(L, 2, 2, 7, 7, seed=30, grad=True)
    L.manual_seed(31)
    y = db(x)
    y.pow(2).sum().backward()
    db.eval()
    return dict(y=y, g=x.grad, kept=(y != 0).sum(), ident=db(x) is x, text=repr(db),
                train=db.training)


@program
def carlini_wagner_l2_attack_in_tanh_space_with_best_adversarial_tracking(L):
    """The Carlini-Wagner L2 attack: the image mapped to w = atanh((2x - 1) * 0.999999), the
    adversarial image (tanh(w) + 1) / 2, f = clamp(Z_y - max_{i != y} Z_i, min=-kappa) with
    the other logits' max through a one-hot mask, the L2 distance plus c * f minimised by
    Adam on w alone (the classifier frozen by requires_grad_(False)), the best adversarial
    examples kept by torch.where on success and a smaller distance."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(9, 6), nn.ReLU(),
                          nn.Linear(6, 3)).double().eval().requires_grad_(False)
    x = L.sigmoid(_t(L, 4, 1, 3, 3, seed=33))
    y = model(x).argmax(1)
    w = L.atanh((2 * x - 1) * 0.999999).requires_grad_(True)
    opt = L.optim.Adam([w], lr=0.1)
    c, kappa = 2.0, 0.0
    best = x.clone()
    best_d = L.full((4,), float("inf"), dtype=L.float64)
    onehot = F.one_hot(y, 3).bool()
    trace = []
    for _ in range(5):
        adv = (L.tanh(w) + 1) / 2
        Z = model(adv)
        real = Z[onehot]
        other = Z.masked_fill(onehot, -1e4).amax(1)
        f = L.clamp(real - other, min=-kappa)
        d = (adv - x).pow(2).flatten(1).sum(1)
        loss = (d + c * f).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            ok = (Z.argmax(1) != y) & (d < best_d)
            best_d = L.where(ok, d, best_d)
            best = L.where(ok[:, None, None, None], adv, best)
        trace.append(loss.item())
    return dict(trace=trace, best_d=best_d, best=best, w=w.detach(),
                mgrads=[p.grad for p in model.parameters()])


# ----------------------------------------------------------------------------------------------
# ordinal regression and learning to rank
# ----------------------------------------------------------------------------------------------
@program
def coral_ordinal_regression_and_cumulative_link_with_softplus_cutpoints(L):
    """Ordinal regression two ways: CORAL (one shared weight vector, K-1 rank biases
    initialised decreasing, binary extended targets by arange < y, the loss written with
    logsigmoid, the predicted rank as the count of probabilities over one half) and a
    cumulative-link model whose ordered cut-points are a cumsum of softplus increments,
    P(y <= k) = sigmoid(c_k - f), class probabilities by differences of padded cumulative
    probabilities, NLL of the gathered class; two Adam steps of their sum."""
    nn, F = L.nn, L.nn.functional
    K = 4
    L.manual_seed(34)
    feat = nn.Sequential(nn.Linear(3, 5), nn.ReLU()).double()
    coral_w = nn.Linear(5, 1, bias=False).double()
    coral_b = nn.Parameter(L.arange(K - 1, 0, -1, dtype=L.float64) / (K - 1))
    link = nn.Linear(5, 1).double()
    first = nn.Parameter(L.tensor([-1.0], dtype=L.float64))
    incr = nn.Parameter(L.zeros(K - 2, dtype=L.float64))
    params = [*feat.parameters(), *coral_w.parameters(), coral_b, *link.parameters(), first,
              incr]
    opt = L.optim.Adam(params, lr=0.02)
    x, y = _t(L, 12, 3, seed=35), L.tensor(_labels(12, K, 36))
    levels = (L.arange(K - 1)[None] < y[:, None]).double()
    logs = []
    for _ in range(2):
        h = feat(x)
        logits = coral_w(h) + coral_b
        coral = -(F.logsigmoid(logits) * levels +
                  (F.logsigmoid(logits) - logits) * (1 - levels)).sum(1).mean()
        cuts = L.cumsum(L.cat([first, F.softplus(incr)]), 0)
        cum = L.sigmoid(cuts - link(h))
        probs = L.diff(F.pad(cum, (1, 1), value=0.0).index_fill(1, L.tensor([K]), 1.0), dim=1)
        nll = -L.log(probs.gather(1, y[:, None]).clamp_min(1e-12)).mean()
        loss = coral + nll
        opt.zero_grad()
        loss.backward()
        opt.step()
        logs.append((coral.item(), nll.item()))
    rank = (L.sigmoid(logits) > 0.5).sum(1)
    return dict(logs=logs, rank=rank, probs=probs.detach(), cuts=cuts.detach(),
                gb=coral_b.grad, gi=incr.grad)


@program
def listnet_and_lambdarank_losses_with_ndcg_at_k(L):
    """Learning to rank over a batch of queries: ListNet's cross entropy between the
    softmaxes of labels and scores; LambdaRank's pairwise logistic loss weighted by |delta
    NDCG| of swapping each pair, computed without grad from ranks by a double argsort,
    gains 2^rel - 1 and log2 discounts, pairs where rel_i > rel_j; NDCG@3 by topk and
    gather; three SGD steps of a linear scorer."""
    nn, F = L.nn, L.nn.functional
    Q, n, k = 3, 5, 3
    L.manual_seed(37)
    scorer = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1)).double()
    x = _t(L, Q, n, 4, seed=38)
    rel = L.tensor(np.random.RandomState(39).randint(0, 3, (Q, n))).double()

    def dcg(r):
        return ((2 ** r - 1) / L.log2(L.arange(r.shape[1], dtype=L.float64) + 2)).sum(1)

    def ndcg_at(scores, k):
        top = scores.topk(k, dim=1)[1]
        ideal = rel.sort(1, descending=True)[0][:, :k]
        return dcg(rel.gather(1, top)) / dcg(ideal)

    opt = L.optim.SGD(scorer.parameters(), lr=0.1)
    logs = []
    for _ in range(3):
        s = scorer(x).squeeze(-1)
        listnet = -(F.softmax(rel, 1) * F.log_softmax(s, 1)).sum(1).mean()
        with L.no_grad():
            ranks = s.argsort(1, descending=True).argsort(1)
            disc = 1 / L.log2(ranks.double() + 2)
            gain = 2 ** rel - 1
            idcg = dcg(rel.sort(1, descending=True)[0])
            delta = ((gain[:, :, None] - gain[:, None, :]) *
                     (disc[:, :, None] - disc[:, None, :])).abs() / idcg[:, None, None]
        pairs = (rel[:, :, None] > rel[:, None, :]).double()
        diff = s[:, :, None] - s[:, None, :]
        lambdarank = (delta * pairs * F.softplus(-diff)).sum() / pairs.sum()
        loss = listnet + lambdarank
        opt.zero_grad()
        loss.backward()
        opt.step()
        logs.append((listnet.item(), lambdarank.item(), ndcg_at(s.detach(), k).mean().item()))
    return dict(logs=logs, ranks=ranks, delta=delta, g=grads_of(scorer))


# ----------------------------------------------------------------------------------------------
# flows and GANs
# ----------------------------------------------------------------------------------------------
@program
def invertible_residual_block_spectral_norm_and_hutchinson_log_det(L):
    """An i-ResNet block: g(x) = 0.9 * MLP with spectral_norm parametrizations (ELU between),
    y = x + g(x); the log-determinant by the power series sum_k (-1)^(k+1)/k tr(J^k),
    each trace estimated by Hutchinson with one seeded Gaussian probe and vector-Jacobian
    products by autograd.grad(create_graph=True); the exact slogdet of the batch Jacobian
    by torch.func-free loops for comparison; inversion by fixed-point iteration; an
    NLL-like step."""
    nn, F = L.nn, L.nn.functional
    P = nn.utils.parametrizations
    D, B = 3, 4
    L.manual_seed(40)
    l1, l2 = P.spectral_norm(nn.Linear(D, 6).double()), P.spectral_norm(nn.Linear(6, D).double())

    def g(x):
        return 0.9 * l2(F.elu(l1(x)))

    x = _t(L, B, D, seed=41, grad=True)
    gx = g(x)
    y = x + gx
    L.manual_seed(42)
    v = L.randn(B, D, dtype=L.float64)
    w, logdet = v, 0.0
    for k in range(1, 6):
        w = L.autograd.grad(gx, x, w, create_graph=True)[0]
        logdet = logdet + (-1) ** (k + 1) / k * (w * v).sum(1)
    rows = []
    for i in range(D):
        e = L.zeros(B, D, dtype=L.float64)
        e[:, i] = 1.0
        rows.append(L.autograd.grad(y, x, e, retain_graph=True)[0])
    J = L.stack(rows, 1)
    exact = L.linalg.slogdet(J)[1]
    z = -0.5 * (y ** 2).sum(1) + logdet
    loss = -z.mean()
    loss.backward()
    with L.no_grad():
        inv = y.detach().clone()
        for _ in range(20):
            inv = y - g(inv)
    return dict(logdet=logdet.detach(), exact=exact.detach(), loss=loss,
                inv_err=(inv - x).abs().max(), g1=grads_of(l1), gx=x.grad,
                keys=sorted(l1.state_dict()))


@program
def conditional_batchnorm_generator_against_a_projection_discriminator(L):
    """A class-conditional GAN step: the generator's BatchNorm1d(affine=False) followed by
    per-class gamma and beta from embeddings (gamma initialised to ones), the discriminator's
    output plus the inner product of its features with a class embedding (projection
    discriminator), hinge losses, the discriminator stepped on generator samples under
    detach(), then the generator through the updated discriminator; Adam with betas (0,
    0.9) for both."""
    nn, F = L.nn, L.nn.functional
    Z, K, D = 4, 3, 5
    L.manual_seed(43)

    class CBN(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.bn = nn.BatchNorm1d(c, affine=False)
            self.gamma, self.beta = nn.Embedding(K, c), nn.Embedding(K, c)
            nn.init.ones_(self.gamma.weight)
            nn.init.zeros_(self.beta.weight)

        def forward(self, x, y):
            return self.gamma(y) * self.bn(x) + self.beta(y)

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.cbn, self.out = nn.Linear(Z, 8), CBN(8), nn.Linear(8, D)

        def forward(self, z, y):
            return L.tanh(self.out(F.relu(self.cbn(self.fc(z), y))))

    class Dis(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(D, 8), nn.LeakyReLU(0.1))
            self.lin, self.embed = nn.Linear(8, 1), nn.Embedding(K, 8)

        def forward(self, x, y):
            h = self.body(x)
            return self.lin(h).squeeze(1) + (self.embed(y) * h).sum(1)

    gen, dis = G().double(), Dis().double()
    og = L.optim.Adam(gen.parameters(), lr=2e-3, betas=(0.0, 0.9))
    od = L.optim.Adam(dis.parameters(), lr=2e-3, betas=(0.0, 0.9))
    real, yr = L.tanh(_t(L, 6, D, seed=44)), L.tensor(_labels(6, K, 45))
    logs = []
    for step in range(2):
        L.manual_seed(50 + step)
        z, yf = L.randn(6, Z, dtype=L.float64), L.randint(0, K, (6,))
        fake = gen(z, yf)
        d_loss = F.relu(1 - dis(real, yr)).mean() + F.relu(1 + dis(fake.detach(), yf)).mean()
        od.zero_grad()
        d_loss.backward()
        od.step()
        g_loss = -dis(fake, yf).mean()
        og.zero_grad()
        g_loss.backward()
        og.step()
        logs.append((d_loss.item(), g_loss.item()))
    return dict(logs=logs, fake=fake.detach(), rm=gen.cbn.bn.running_mean,
                gg=grads_of(gen), gd=grads_of(dis), gamma=gen.cbn.gamma.weight.detach())


@program
def mixture_of_softmaxes_output_layer(L):
    """The mixture-of-softmaxes language-model head: priors by a softmax over K components,
    K latent contexts by tanh of one projection viewed as (N, K, d), each softmaxed against a
    tied embedding matrix, the probabilities mixed by the priors and logged, nll_loss; the
    rank of the log-probability matrix against a single softmax's."""
    nn, F = L.nn, L.nn.functional
    V, d, K, N = 8, 3, 3, 10
    L.manual_seed(46)
    emb = nn.Embedding(V, d).double()
    prior, latent = nn.Linear(5, K, bias=False).double(), nn.Linear(5, K * d).double()
    h, y = _t(L, N, 5, seed=47), L.tensor(_labels(N, V, 48))
    pi = F.softmax(prior(h), -1)
    ctx = L.tanh(latent(h)).view(N, K, d)
    probs = (F.softmax(ctx @ emb.weight.T, -1) * pi.unsqueeze(-1)).sum(1)
    logp = L.log(probs.add(1e-8))
    loss = F.nll_loss(logp, y)
    loss.backward()
    single = F.log_softmax(ctx[:, 0] @ emb.weight.T, -1).detach()
    return dict(loss=loss, ge=emb.weight.grad, gp=prior.weight.grad,
                rank=L.linalg.matrix_rank(logp.detach() - logp.detach().mean(1, keepdim=True)),
                rank1=L.linalg.matrix_rank(single - single.mean(1, keepdim=True)),
                bad=err(lambda: F.nll_loss(logp.detach(), y.double())))



@program
def least_squares_by_geqrf_reflectors_printed_with_condition_numbers(L):
    """Least squares the LAPACK way, as a numerics notebook prints it: geqrf's packed
    reflectors, Q rebuilt by householder_product, Q^T b applied by ormqr, the triangular
    solve (continued from detached copies of geqrf's results, which have no derivative);
    condition numbers in several norms, a tensorinv of a reshaped operator and a
    bias-free bilinear readout of the residual; reprs with grad_fn names, then gradients."""
    F = L.nn.functional
    A = _t(L, 5, 3, seed=99, grad=True)
    b = _t(L, 5, 1, seed=100)
    packed, tau = L.geqrf(A)                     # no derivative: continued from detached copies
    pk, tu = packed.detach().requires_grad_(), tau.detach().requires_grad_()
    Q = L.linalg.householder_product(pk, tu)
    qtb = L.ormqr(pk, tu, b, transpose=True)
    R = pk[:3].triu()
    x = L.linalg.solve_triangular(R, qtb[:3], upper=True)
    conds = [L.linalg.cond(A.T @ A, p) for p in (None, "fro", "nuc", 1, -2)]
    op = L.eye(6, dtype=L.float64) + 0.1 * (A.T @ A).repeat(2, 2)
    inv = L.linalg.tensorinv(op.reshape(6, 2, 3), ind=1)
    r = (A @ x - b).squeeze(1)
    score = F.bilinear(r[None], r[None], _t(L, 2, 5, 5, seed=101))
    shown = [packed, tau, Q, qtb, x, *conds, inv.sum(), score]
    # (only the 2-norm and nuclear ones enter the loss: PyTorch's backward of the others
    # fails on its own in-place nan_to_num)
    loss = x.pow(2).sum() + (conds[0] + conds[2]) / 100 + inv.diagonal().sum() + \
        score.sum() + Q.sum()
    loss.backward()
    return dict(lines=[repr(t) for t in shown], loss=loss, gA=A.grad, gp=pk.grad, gt=tu.grad)

# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
