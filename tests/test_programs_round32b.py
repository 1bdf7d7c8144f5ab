"""Whole programs of round 32, part b: graph learning, reinforcement learning, audio and
signal processing, classic machine learning, metric learning and time series, written in plain
torch in our own code, the parts earlier rounds left out.  Graphormer's
spatial encoding by a Floyd-Warshall min-plus closure and padded dense batches; Graph U-Net
top-k pooling per graph with a Set2Set readout; a variational graph autoencoder on a sparse
normalised adjacency (sparse_mask of the logits) with an AUC by ranks; node2vec's biased
walks over CSR row pointers (torch._convert_indices_from_coo_to_csr, as torch_geometric);
IMPALA's V-trace targets; implicit quantile networks; conservative Q-learning and
advantage-weighted actor-critic; a recurrent state-space world model with KL balancing and
free nats; Retrace and tree-backup targets and n-step returns by convolution; linear
prediction by Levinson-Durbin with an IIR synthesis filter; spectral shape features and a
hand-built chroma filterbank; the analytic signal by a Hilbert mask with phase unwrapping;
HiFi-GAN's multi-period and multi-scale discriminators; the MDCT with time-domain alias
cancellation; a multilevel wavelet transform with soft-threshold denoising; YIN pitch
estimation; LinUCB and Thompson-sampling bandits; sparse Laplacians by torch.sparse.spdiags
and neighbourhood sums by torch.hspmm; Wiener-filter speech enhancement; NMF by
multiplicative updates; FastICA with symmetric decorrelation; Isomap, classical MDS and kernel
PCA; mean shift and k-medoids; gradient-boosted stumps; matrix completion by alternating least
squares with batched solves; circle, multi-similarity, proxy-anchor and lifted-structure
losses; Informer's ProbSparse attention.  Below the programs, the fixes of the round one by
one (torch.sparse.spdiags, torch.hspmm, Tensor.sparse_mask and the COO/CSR index conversions,
all missing before).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed``, which gives PyTorch's numbers in minigrad);
both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes, shapes and
requires_grad, or raise the same exception type with torch's words.
"""
import math

import numpy as np
import pytest

import minigrad  # noqa: F401

torch = pytest.importorskip("torch")
from side_by_side import registry, program_harness, normal64  # noqa: E402


HARNESS = program_harness(complex64=(1e-5, 1e-6), complex128=(1e-9, 1e-11))
PROGRAMS, program = registry()


def _t(L, *shape, scale=1.0, seed=0):
    return L.tensor(normal64(*shape, scale=scale, seed=seed))


def _sign_fixed(vecs, L):
    """Eigenvector columns with the sign that makes each column's largest entry positive
    (eigh's signs are LAPACK's choice)."""
    idx = vecs.abs().argmax(dim=0, keepdim=True)
    return vecs * L.sign(vecs.gather(0, idx))


def _random_graphs(L, sizes, p, seed):
    """A batch of undirected random graphs: (edge_index (2, E) long, batch vector); both
    directions of every edge, graphs laid out one after another."""
    rng = np.random.RandomState(seed)
    src, dst, start = [], [], 0
    for n in sizes:
        for i in range(n):
            for j in range(i + 1, n):
                if rng.rand() < p or j == i + 1:
                    src += [start + i, start + j]
                    dst += [start + j, start + i]
        start += n
    edge_index = L.tensor([src, dst], dtype=L.long)
    batch = L.repeat_interleave(L.arange(len(sizes)), L.tensor(sizes))
    return edge_index, batch


# ----------------------------------------------------------------------------------------------
# graph learning
# ----------------------------------------------------------------------------------------------
@program
def graphormer_spatial_encoding_by_floyd_warshall_and_dense_batches(L):
    """The inputs of a Graphormer-like graph transformer, computed with tensor ops: a dense
    padded batch of node features made by scatter through per-graph offsets (cumsum of
    bincount), shortest-path distances by a Floyd-Warshall min-plus closure over the padded
    adjacency (inf where there is no edge), a learnable bias per head looked up from the
    clamped distances, degree-centrality embeddings from bincount, a virtual node with its
    own bias, and a MultiheadAttention with a float (B*H, N, N) mask holding the biases and
    -inf at padding; one Adam step on a graph-regression loss."""
    nn, F = L.nn, L.nn.functional
    sizes = [5, 3, 6]
    ei, batch = _random_graphs(L, sizes, 0.3, seed=1)
    n_all, B, H, D = sum(sizes), len(sizes), 2, 8
    x = _t(L, n_all, 4, seed=2)
    counts = L.bincount(batch)
    offsets = L.cumsum(counts, 0) - counts
    pos = L.arange(n_all) - offsets[batch]
    N = int(counts.max())
    dense = x.new_zeros(B, N, 4)
    dense[batch, pos] = x
    mask = L.zeros(B, N, dtype=L.bool)
    mask[batch, pos] = True
    adj = L.zeros(B, N, N, dtype=L.bool)
    adj[batch[ei[0]], pos[ei[0]], pos[ei[1]]] = True
    dist = L.full((B, N, N), float("inf"), dtype=L.float64)
    dist[adj] = 1.0
    dist[:, L.arange(N), L.arange(N)] = 0.0
    for k in range(N):
        dist = L.minimum(dist, dist[:, :, k:k + 1] + dist[:, k:k + 1, :])
    spd = L.where(L.isinf(dist), L.full_like(dist, 9), dist).long().clamp(max=5)
    degree = L.bincount(ei[0], minlength=n_all)
    deg_dense = L.zeros(B, N, dtype=L.long)
    deg_dense[batch, pos] = degree.clamp(max=4)

    L.manual_seed(0)
    inp = nn.Linear(4, D)
    deg_emb = nn.Embedding(5, D, padding_idx=0)
    spd_bias = nn.Embedding(10, H)
    virtual = nn.Parameter(L.zeros(1, 1, D, dtype=L.float64))
    virtual_bias = nn.Parameter(L.zeros(H, dtype=L.float64))
    attn = nn.MultiheadAttention(D, H, batch_first=True)
    head = nn.Linear(D, 1)
    for m in (inp, deg_emb, spd_bias, attn, head):
        m.double()
    params = [*inp.parameters(), *deg_emb.parameters(), *spd_bias.parameters(), virtual,
              virtual_bias, *attn.parameters(), *head.parameters()]
    opt = L.optim.Adam(params, lr=1e-2)
    target = L.tensor([0.5, -1.0, 2.0], dtype=L.float64)
    losses = []
    for _ in range(2):
        h = inp(dense) + deg_emb(deg_dense)
        h = L.cat([virtual.expand(B, 1, D), h], dim=1)
        bias = spd_bias(spd).permute(0, 3, 1, 2)
        full = F.pad(bias, (1, 0, 1, 0))
        full[:, :, 0, :] = full[:, :, 0, :] + virtual_bias.view(1, H, 1)
        full[:, :, 1:, 0] = full[:, :, 1:, 0] + virtual_bias.view(1, H, 1)
        keep = F.pad(mask, (1, 0), value=True)
        full = full.masked_fill(~keep[:, None, None, :], float("-inf"))
        out, w = attn(h, h, h, attn_mask=full.reshape(B * H, N + 1, N + 1))
        pred = head(out[:, 0]).squeeze(-1)
        loss = F.mse_loss(pred, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(spd=spd, pos=pos, dense=dense, losses=losses, w=w,
                g_bias=spd_bias.weight.grad, g_virtual=virtual.grad, g_deg=deg_emb.weight.grad)


@program
def graph_unet_topk_pool_per_graph_and_set2set_readout(L):
    """Graph U-Net's gPool and a Set2Set readout written without torch_geometric: a projection
    score y = X p / |p|, the top ceil(ratio * n_g) nodes of every graph found by one stable
    sort of (graph id, -score) and a rank inside the graph (position minus the graph's offset),
    features gated by tanh(score), the kept edges through a node-id map filled with -1, a GCN
    layer by index_add_ on the pooled graph, the unpooling by scatter back to the old nodes,
    and Set2Set's LSTMCell queries with a per-graph softmax (scatter_reduce amax, exp,
    index_add_ of the sums); gradients of everything."""
    nn = L.nn
    sizes = [6, 4, 7]
    ei, batch = _random_graphs(L, sizes, 0.35, seed=3)
    n_all, D, B = sum(sizes), 5, len(sizes)
    x = _t(L, n_all, D, seed=4).requires_grad_()
    L.manual_seed(1)
    p = nn.Parameter(L.randn(D, dtype=L.float64))
    lin = nn.Linear(D, D).double()
    lstm = nn.LSTMCell(2 * D, D).double()

    def gcn(h, edges, n):
        loops = L.arange(n)
        src = L.cat([edges[0], loops])
        dst = L.cat([edges[1], loops])
        deg = L.zeros(n, dtype=h.dtype).index_add_(0, dst, L.ones_like(dst, dtype=h.dtype))
        norm = deg[src].rsqrt() * deg[dst].rsqrt()
        msg = lin(h)[src] * norm.unsqueeze(-1)
        return L.zeros(n, D, dtype=h.dtype).index_add_(0, dst, msg).relu()

    h = gcn(x, ei, n_all)
    score = (h @ p) / p.norm()
    counts = L.bincount(batch)
    keep_n = L.ceil(0.5 * counts.double()).long()
    key = batch.double() * 1e3 - score.detach()
    order = L.sort(key, stable=True).indices
    offsets = L.cumsum(counts, 0) - counts
    rank = L.arange(n_all) - offsets[batch[order]]
    perm = order[rank < keep_n[batch[order]]]
    hp = h[perm] * L.tanh(score[perm]).unsqueeze(-1)
    bp = batch[perm]
    new_id = L.full((n_all,), -1, dtype=L.long)
    new_id[perm] = L.arange(perm.numel())
    e_new = new_id[ei]
    e_keep = e_new[:, (e_new >= 0).all(dim=0)]
    hp = gcn(hp, e_keep, perm.numel())
    up = L.zeros_like(h).index_copy(0, perm, hp) + h

    q_star = L.zeros(B, 2 * D, dtype=L.float64)
    state = (L.zeros(B, D, dtype=L.float64), L.zeros(B, D, dtype=L.float64))
    for _ in range(3):
        state = lstm(q_star, state)
        q = state[0]
        e = (up * q[batch]).sum(-1)
        emax = L.zeros(B, dtype=e.dtype).scatter_reduce(0, batch, e, "amax", include_self=False)
        a = (e - emax[batch]).exp()
        a = a / L.zeros(B, dtype=a.dtype).index_add_(0, batch, a)[batch]
        r = L.zeros(B, D, dtype=up.dtype).index_add_(0, batch, a.unsqueeze(-1) * up)
        q_star = L.cat([q, r], dim=-1)
    loss = q_star.pow(2).sum() + up.sin().sum()
    gx, gp, gw = L.autograd.grad(loss, [x, p, lstm.weight_hh])
    return dict(perm=perm, bp=bp, e_keep=e_keep, q_star=q_star, gx=gx, gp=gp, gw=gw)


@program
def variational_graph_autoencoder_on_sparse_adjacency_with_auc_by_ranks(L):
    """A variational graph autoencoder (Kipf and Welling): the symmetric normalised
    adjacency D^-1/2 (A + I) D^-1/2 as a sparse COO tensor (coalesced, then
    torch.sparse.mm), a two-layer GCN encoder giving mu and log sigma, the reparameterised
    latents with randn_like after a seed, an inner-product decoder, a class-balanced
    reconstruction loss (pos_weight for the rare ones, rescaled to a plain mean's size), the
    KL term, a small bonus on the logits at the adjacency's pattern (Tensor.sparse_mask of
    the dense logits by the sparse matrix), an Adam step, and the link-prediction AUC of
    held-out edges against sampled non-edges by the rank statistic (argsort of argsort)."""
    nn, F = L.nn, L.nn.functional
    n, f, hdim, zdim = 12, 6, 8, 4
    ei, _ = _random_graphs(L, [n], 0.25, seed=5)
    A = L.zeros(n, n)
    A[ei[0], ei[1]] = 1.0
    A_loop = A + L.eye(n)
    dinv = A_loop.sum(1).pow(-0.5)
    idx = A_loop.nonzero().t()
    vals = dinv[idx[0]] * A_loop[idx[0], idx[1]] * dinv[idx[1]]
    A_norm = L.sparse_coo_tensor(idx, vals, (n, n)).coalesce()
    feats = _t(L, n, f, seed=6).float()
    L.manual_seed(2)
    W0 = nn.Parameter(nn.init.xavier_uniform_(L.empty(f, hdim)))
    W_mu = nn.Parameter(nn.init.xavier_uniform_(L.empty(hdim, zdim)))
    W_sig = nn.Parameter(nn.init.xavier_uniform_(L.empty(hdim, zdim)))
    opt = L.optim.Adam([W0, W_mu, W_sig], lr=0.01)
    # class balance: the few ones of the dense target are up-weighted by #zeros / #ones,
    # and the mean is rescaled so that the weighted sum keeps the scale of a plain mean
    n_ones = A.sum()
    n_zeros = float(n * n - n_ones)
    pos_weight = L.tensor(n_zeros / n_ones)
    rescale = n * n / float((n * n - n_ones) * 2)

    def propagate(h, W):
        return L.sparse.mm(A_norm, h @ W)

    losses = []
    for _ in range(3):
        hidden = F.relu(propagate(feats, W0))
        mu, logstd = propagate(hidden, W_mu), propagate(hidden, W_sig)
        z = mu + L.randn_like(mu) * logstd.exp()
        logits = z @ z.t()
        bce = F.binary_cross_entropy_with_logits(logits.view(-1), A_loop.view(-1),
                                                 pos_weight=pos_weight)
        recon = rescale * bce
        # KL(N(mu, e^logstd) || N(0, 1)) summed over latent dims, averaged, over n nodes
        neg_kl_terms = 1 + 2 * logstd - mu ** 2 - logstd.exp() ** 2
        kl = -0.5 / n * neg_kl_terms.sum(1).mean()
        on_edges = logits.sparse_mask(A_norm).values()      # the logits at the pattern only
        loss = recon + kl - 1e-2 * F.logsigmoid(on_edges).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with L.no_grad():
        emb = L.sparse.mm(A_norm, F.relu(L.sparse.mm(A_norm, feats @ W0)) @ W_mu)
        pos = ei[:, ei[0] < ei[1]]
        gen = L.Generator().manual_seed(4)
        neg = L.randint(0, n, (2, pos.shape[1]), generator=gen)
        s = L.cat([(emb[pos[0]] * emb[pos[1]]).sum(-1), (emb[neg[0]] * emb[neg[1]]).sum(-1)])
        s = L.sigmoid(s)
        y = L.cat([L.ones(pos.shape[1]), L.zeros(pos.shape[1])])
        ranks = s.argsort(stable=True).argsort(stable=True).double() + 1
        n_pos = y.sum().double()
        auc = (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos))
    return dict(A_norm=A_norm.to_dense(), nnz=A_norm._nnz(), losses=losses, emb=emb, auc=auc,
                neg=neg, g=W0.grad)


@program
def node2vec_biased_second_order_walks_and_negative_sampling(L):
    """node2vec's walks without torch_cluster: the graph in CSR form (argsort of the sources,
    the row pointers by torch._convert_indices_from_coo_to_csr as torch_geometric's index2ptr,
    checked against bincount and cumsum, and back to COO), each step's neighbour weights 1/p
    to return to the previous node, 1 to a common neighbour and 1/q otherwise (isin), the next
    node drawn by torch.multinomial under a Generator; skip-gram pairs by unfold of the walks,
    negatives from the unigram^0.75 distribution, and the loss logsigmoid of positive minus
    negative scores through two nn.Embedding tables and a SparseAdam/Adam pair of steps."""
    nn, F = L.nn, L.nn.functional
    n = 10
    ei, _ = _random_graphs(L, [n], 0.3, seed=45)
    order = L.argsort(ei[0] * n + ei[1])
    src, dst = ei[0][order], ei[1][order]
    rowptr = L._convert_indices_from_coo_to_csr(src, n)          # torch_geometric's index2ptr
    check_ptr = L.cat([L.zeros(1, dtype=L.long), L.cumsum(L.bincount(src, minlength=n), 0)])
    gen = L.Generator().manual_seed(5)
    p_ret, q_io, walk_len = 0.5, 2.0, 6
    walks = []
    for start in range(n):
        walk = [start]
        nbrs = dst[rowptr[start]:rowptr[start + 1]]
        walk.append(int(nbrs[L.randint(len(nbrs), (1,), generator=gen)]))
        for _ in range(walk_len - 2):
            prev, cur = walk[-2], walk[-1]
            cand = dst[rowptr[cur]:rowptr[cur + 1]]
            prev_nbrs = dst[rowptr[prev]:rowptr[prev + 1]]
            w = L.where(cand == prev, 1.0 / p_ret,
                        L.where(L.isin(cand, prev_nbrs), 1.0, 1.0 / q_io))
            walk.append(int(cand[L.multinomial(w, 1, generator=gen)]))
        walks.append(walk)
    walks = L.tensor(walks)
    ctx = walks.unfold(1, 3, 1)
    centre = ctx[:, :, 1].reshape(-1)
    pos = L.cat([ctx[:, :, 0].reshape(-1), ctx[:, :, 2].reshape(-1)])
    centre = L.cat([centre, centre])
    freq = L.bincount(walks.flatten(), minlength=n).double() ** 0.75
    neg = L.multinomial(freq / freq.sum(), centre.numel() * 2, replacement=True,
                        generator=gen).view(-1, 2)
    L.manual_seed(6)
    emb_in = nn.Embedding(n, 4, sparse=True).double()
    emb_out = nn.Embedding(n, 4).double()
    opt_s = L.optim.SparseAdam(list(emb_in.parameters()), lr=0.05)
    opt_d = L.optim.Adam(emb_out.parameters(), lr=0.05)
    losses = []
    for _ in range(2):
        c = emb_in(centre)
        pos_score = (c * emb_out(pos)).sum(-1)
        neg_score = L.bmm(emb_out(neg), c.unsqueeze(-1)).squeeze(-1)
        loss = -(F.logsigmoid(pos_score) + F.logsigmoid(-neg_score).sum(-1)).mean()
        opt_s.zero_grad()
        opt_d.zero_grad()
        loss.backward()
        opt_s.step()
        opt_d.step()
        losses.append(loss.item())
    return dict(walks=walks, neg=neg, losses=losses, w_in=emb_in.weight, w_out=emb_out.weight,
                rowptr=rowptr, same_ptr=bool((rowptr == check_ptr).all()),
                back=L._convert_indices_from_csr_to_coo(rowptr, dst))


# ----------------------------------------------------------------------------------------------
# reinforcement learning
# ----------------------------------------------------------------------------------------------
@program
def impala_vtrace_targets_with_clipped_importance_weights(L):
    """IMPALA's learner: behaviour and target policy logits over a [T, B] rollout,
    log-importance ratios from Categorical.log_prob, rho and c clipped at rho_bar and c_bar,
    the V-trace targets by a reversed loop over time (vs_t = V_t + delta_t + gamma c_t (vs_t+1
    - V_t+1)) with discounts zeroed at episode ends, the policy-gradient advantages with the
    bootstrap, then the policy, baseline and entropy losses, gradient clipping by norm and an
    RMSprop step (alpha, eps, momentum-free, as the paper's settings)."""
    nn, D = L.nn, L.distributions
    T, B, A, S = 6, 3, 4, 5
    L.manual_seed(3)
    net = nn.Sequential(nn.Linear(S, 16), nn.ReLU(), nn.Linear(16, A + 1)).double()
    obs = _t(L, T + 1, B, S, seed=7)
    beh_logits = _t(L, T, B, A, seed=8)
    actions = L.tensor(np.random.RandomState(9).randint(0, A, (T, B)))
    rewards = _t(L, T, B, seed=10)
    done = L.tensor(np.random.RandomState(11).rand(T, B) < 0.2)
    discounts = (~done).double() * 0.99
    opt = L.optim.RMSprop(net.parameters(), lr=5e-3, alpha=0.99, eps=0.01)
    stats = []
    for _ in range(2):
        out = net(obs)
        logits, values = out[:-1, :, :A], out[..., A]
        bootstrap = values[-1]
        values = values[:-1]
        tgt = D.Categorical(logits=logits)
        log_rhos = tgt.log_prob(actions) - D.Categorical(logits=beh_logits).log_prob(actions)
        with L.no_grad():
            ratio = log_rhos.exp()
            rho_bar, c_bar = 1.0, 1.0
            v = values.detach()
            last = bootstrap.detach().unsqueeze(0)

            def shifted(seq):                  # seq[t + 1], the bootstrap after the end
                return L.cat([seq[1:], last], dim=0)

            # corrections vs_t - V_t, accumulated backwards through the traces c_t
            td = L.clamp(ratio, max=rho_bar) * (rewards + discounts * shifted(v) - v)
            trace_c = L.clamp(ratio, max=c_bar)
            corr = [None] * T
            carry = L.zeros_like(bootstrap)
            for t in range(T - 1, -1, -1):
                carry = td[t] + discounts[t] * trace_c[t] * carry
                corr[t] = carry
            vs = L.stack(corr) + v
            pg_adv = L.clamp(ratio, max=rho_bar) * (rewards + discounts * shifted(vs) - v)
        pg_loss = -(tgt.log_prob(actions) * pg_adv).sum()
        baseline_loss = 0.5 * ((vs - values) ** 2).sum()
        entropy_loss = -tgt.entropy().sum()
        loss = pg_loss + 0.5 * baseline_loss + 0.01 * entropy_loss
        opt.zero_grad()
        loss.backward()
        gnorm = nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        stats.append((loss.item(), gnorm))
    return dict(vs=vs, pg_adv=pg_adv, stats=stats, w=net[0].weight)


@program
def implicit_quantile_network_cosine_embedding_and_pairwise_quantile_huber(L):
    """IQN (Dabney et al.): quantile fractions tau ~ U(0, 1) from torch.rand after a seed, the
    cosine embedding cos(pi i tau) for i = 0..63 through a Linear and ReLU, multiplied into the
    state features; the target network's greedy action by the mean over its own taus (argmax),
    the Bellman targets, the pairwise TD errors [B, N, N'], the Huber loss (kappa = 1) weighted
    by |tau - 1{u < 0}|, summed over N and averaged over N'; an Adam step and a soft update
    of the target network by lerp_ on every parameter pair (Polyak averaging)."""
    nn, F = L.nn, L.nn.functional
    B, S, A, N, Np, E = 4, 3, 3, 8, 6, 16

    class IQN(nn.Module):
        def __init__(self):
            super().__init__()
            self.feat = nn.Linear(S, E)
            self.phi = nn.Linear(64, E)
            self.out = nn.Sequential(nn.Linear(E, 16), nn.ReLU(), nn.Linear(16, A))

        def forward(self, s, taus):
            i = L.arange(64, dtype=taus.dtype)
            cos = L.cos(math.pi * i * taus.unsqueeze(-1))
            phi = F.relu(self.phi(cos))
            h = F.relu(self.feat(s)).unsqueeze(1) * phi
            return self.out(h)

    L.manual_seed(4)
    online, target = IQN().double(), IQN().double()
    target.load_state_dict(online.state_dict())
    s = _t(L, B, S, seed=12)
    s2 = _t(L, B, S, seed=13)
    a = L.tensor([0, 2, 1, 1])
    r = _t(L, B, seed=14)
    d = L.tensor([0.0, 0.0, 1.0, 0.0], dtype=L.float64)
    opt = L.optim.Adam(online.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        taus = L.rand(B, N, dtype=L.float64)
        taus2 = L.rand(B, Np, dtype=L.float64)
        with L.no_grad():
            q_next = target(s2, taus2)
            a_star = q_next.mean(1).argmax(-1)
            z_next = q_next.gather(2, a_star.view(B, 1, 1).expand(B, Np, 1)).squeeze(-1)
            tz = r.unsqueeze(1) + 0.99 * (1 - d.unsqueeze(1)) * z_next
        z = online(s, taus).gather(2, a.view(B, 1, 1).expand(B, N, 1)).squeeze(-1)
        u = tz.unsqueeze(1) - z.unsqueeze(2)
        huber = F.huber_loss(z.unsqueeze(2).expand_as(u), tz.unsqueeze(1).expand_as(u),
                             reduction="none", delta=1.0)
        weight = (taus.unsqueeze(2) - (u.detach() < 0).double()).abs()
        loss = (weight * huber).sum(1).mean(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            for pt, po in zip(target.parameters(), online.parameters()):
                pt.lerp_(po, 0.05)
        losses.append(loss.item())
    return dict(losses=losses, a_star=a_star, tz=tz, tw=target.phi.weight,
                g=online.feat.weight.grad)


@program
def conservative_q_learning_and_advantage_weighted_actor(L):
    """Offline RL in the style of CQL and AWAC on a continuous action space: twin Q networks
    on (s, a), a tanh-Normal policy; the CQL regulariser logsumexp over Q at uniformly random
    actions and policy actions (with their importance corrections log(0.5^d) and log pi)
    minus Q at dataset actions; the AWAC actor loss weighted by exp(A / lambda) clamped at 20
    (advantages against E_pi Q by a few samples); rsample after a seed; Adam steps on both."""
    nn, D = L.nn, L.distributions
    B, S, A_dim, M = 5, 3, 2, 4
    L.manual_seed(5)

    def mlp(i, o):
        return nn.Sequential(nn.Linear(i, 16), nn.ReLU(), nn.Linear(16, o)).double()

    q1, q2, actor = mlp(S + A_dim, 1), mlp(S + A_dim, 1), mlp(S, 2 * A_dim)
    q_opt = L.optim.Adam([*q1.parameters(), *q2.parameters()], lr=3e-4)
    pi_opt = L.optim.Adam(actor.parameters(), lr=3e-4)
    s = _t(L, B, S, seed=15)
    a_data = L.tanh(_t(L, B, A_dim, seed=16))
    y = _t(L, B, 1, seed=17)

    def log_one_minus_tanh_sq(pre):
        # log(1 - tanh(x)^2) = log(4 e^-2x / (1 + e^-2x)^2), written without cancellation
        return 2 * (math.log(2) - pre - nn.functional.softplus(-2 * pre))

    def policy(states):
        centre, raw_log_scale = actor(states).chunk(2, -1)
        gauss = D.Normal(centre, raw_log_scale.clamp(-5, 2).exp())
        pre = gauss.rsample()
        # density of tanh(pre): the Gaussian's, divided by |d tanh / d pre|
        log_density = gauss.log_prob(pre).sum(-1) - log_one_minus_tanh_sq(pre).sum(-1)
        return L.tanh(pre), log_density, gauss

    def q(net, states, acts):
        return net(L.cat([states, acts], dim=-1))

    out = {}
    for step in range(2):
        rep_s = s.unsqueeze(1).expand(B, M, S).reshape(B * M, S)
        rand_a = L.rand(B * M, A_dim, dtype=L.float64) * 2 - 1
        pi_a, pi_logp, _ = policy(rep_s)
        pi_a, pi_logp = pi_a.detach(), pi_logp.detach()
        cql = 0.0
        bellman = 0.0
        for net in (q1, q2):
            q_rand = q(net, rep_s, rand_a).view(B, M)
            q_pi = q(net, rep_s, pi_a).view(B, M)
            cat = L.cat([q_rand - math.log(0.5 ** A_dim), q_pi - pi_logp.view(B, M)], dim=1)
            cql = cql + (L.logsumexp(cat, dim=1) - q(net, s, a_data).squeeze(-1)).mean()
            bellman = bellman + nn.functional.mse_loss(q(net, s, a_data), y)
        q_loss = bellman + 5.0 * cql
        q_opt.zero_grad()
        q_loss.backward()
        q_opt.step()

        _, _, dist = policy(s)
        with L.no_grad():
            samples = [policy(s)[0] for _ in range(3)]
            v = L.stack([L.minimum(q(q1, s, a_), q(q2, s, a_)) for a_ in samples]).mean(0)
            adv = L.minimum(q(q1, s, a_data), q(q2, s, a_data)) - v
            w = (adv / 0.3).exp().clamp(max=20.0).squeeze(-1)
        u_data = L.atanh(a_data.clamp(-0.999, 0.999))
        pi_loss = -(dist.log_prob(u_data).sum(-1) * w).mean()
        pi_opt.zero_grad()
        pi_loss.backward()
        pi_opt.step()
        out[step] = (q_loss.item(), cql.item(), pi_loss.item())
    return dict(out=out, w=w, q1=q1[0].weight, actor=actor[2].bias)


@program
def recurrent_state_space_model_with_kl_balancing_and_free_nats(L):
    """A PlaNet/Dreamer-v1 style RSSM over a short sequence: a GRUCell deterministic path fed
    by a Linear of the previous stochastic state and action, a prior and a posterior Normal
    with softplus(std) + 0.1, rsample after a seed, observation decoding by a Linear, the KL
    of Independent Normals balanced as 0.8 KL(sg(post) || prior) + 0.2 KL(post || sg(prior))
    and clamped below at free nats by torch.clamp(min=...) of the mean; then an imagined
    rollout of the prior under a tanh policy with lambda-returns by a reversed loop."""
    nn, D, F = L.nn, L.distributions, L.nn.functional
    T, B, O, A, Hd, Z = 5, 2, 4, 2, 8, 3
    L.manual_seed(6)
    cell = nn.GRUCell(Hd, Hd).double()
    inp = nn.Linear(Z + A, Hd).double()
    prior_net = nn.Linear(Hd, 2 * Z).double()
    post_net = nn.Linear(Hd + O, 2 * Z).double()
    dec = nn.Linear(Hd + Z, O).double()
    rew = nn.Linear(Hd + Z, 1).double()
    pol = nn.Linear(Hd + Z, A).double()
    obs = _t(L, T, B, O, seed=18)
    act = L.tanh(_t(L, T, B, A, seed=19))

    def dist_of(stats):
        mean, std = stats.chunk(2, -1)
        return D.Independent(D.Normal(mean, F.softplus(std) + 0.1), 1)

    def sg(d):
        return D.Independent(D.Normal(d.base_dist.loc.detach(), d.base_dist.scale.detach()), 1)

    h = L.zeros(B, Hd, dtype=L.float64)
    z = L.zeros(B, Z, dtype=L.float64)
    kls, recon, states = [], 0.0, []
    for t in range(T):
        h = cell(F.elu(inp(L.cat([z, act[t]], -1))), h)
        prior = dist_of(prior_net(h))
        post = dist_of(post_net(L.cat([h, obs[t]], -1)))
        z = post.rsample()
        recon = recon + D.Independent(D.Normal(dec(L.cat([h, z], -1)), 1.0), 1).log_prob(
            obs[t]).mean()
        kl = 0.8 * D.kl_divergence(sg(post), prior) + 0.2 * D.kl_divergence(post, sg(prior))
        kls.append(kl)
        states.append((h, z))
    kl_loss = L.clamp(L.stack(kls).mean(), min=1.0)
    model_loss = kl_loss - recon
    h, z = states[-1][0].detach(), states[-1][1].detach()
    rewards, values = [], []
    for _ in range(4):
        a = L.tanh(pol(L.cat([h, z], -1)))
        h = cell(F.elu(inp(L.cat([z, a], -1))), h)
        z = dist_of(prior_net(h)).rsample()
        rewards.append(rew(L.cat([h, z], -1)).squeeze(-1))
        values.append(L.cat([h, z], -1).pow(2).mean(-1))
    ret = values[-1]
    lam_returns = []
    for t in reversed(range(3)):
        ret = rewards[t] + 0.99 * ((1 - 0.95) * values[t + 1] + 0.95 * ret)
        lam_returns.append(ret)
    actor_loss = -L.stack(lam_returns).mean()
    g_model = L.autograd.grad(model_loss, [cell.weight_ih, post_net.weight], retain_graph=True)
    g_actor = L.autograd.grad(actor_loss, [pol.weight, cell.bias_hh])
    return dict(kls=L.stack(kls), kl_loss=kl_loss, recon=recon, actor_loss=actor_loss,
                g_model=g_model, g_actor=g_actor)


@program
def retrace_lambda_targets_and_n_step_returns_by_convolution(L):
    """Off-policy return targets side by side: Retrace(lambda) (Munos et al.) with traces
    c_t = lambda min(1, pi(a_t|s_t) / mu(a_t|s_t)) and the expected next value under pi, by a
    reversed loop with a running correction; tree-backup traces (c_t = lambda pi(a_t|s_t));
    n-step discounted returns for every start by conv1d of the reward sequence with a
    discount kernel (flipped, padded with zeros at the end) plus the bootstrapped value
    gamma^n V(s_t+n) gathered with a clamp; the Q-network regressed on the Retrace targets
    with an Adam step."""
    nn, F = L.nn, L.nn.functional
    T, S, A, gamma, lam, n_step = 8, 3, 4, 0.95, 0.9, 3
    L.manual_seed(14)
    qnet = nn.Sequential(nn.Linear(S, 16), nn.Tanh(), nn.Linear(16, A)).double()
    states = _t(L, T + 1, S, seed=50)
    actions = L.tensor(np.random.RandomState(51).randint(0, A, T))
    rewards = _t(L, T, seed=52)
    mu = _t(L, T, A, seed=53).softmax(-1)
    pi = F.softmax(qnet(states).detach() * 2.0, dim=-1)
    q_all = qnet(states)
    q_taken = q_all[:-1].gather(1, actions.unsqueeze(1)).squeeze(1)
    with L.no_grad():
        q_d = q_all.detach()
        v_pi = (pi * q_d).sum(-1)
        ratio = pi[:-1].gather(1, actions.unsqueeze(1)).squeeze(1) / \
            mu.gather(1, actions.unsqueeze(1)).squeeze(1)
        out = {}
        for name, c in (("retrace", lam * ratio.clamp(max=1.0)),
                        ("tree_backup", lam * pi[:-1].gather(1, actions.unsqueeze(1)).squeeze(1))):
            targets = L.empty(T, dtype=L.float64)
            g = v_pi[T]
            for t in reversed(range(T)):
                g = rewards[t] + gamma * g
                targets[t] = g
                g = c[t] * (g - q_d[t, actions[t]]) + v_pi[t]
            out[name] = targets
        kernel = (gamma ** L.arange(n_step, dtype=L.float64)).view(1, 1, -1)
        nstep = F.conv1d(F.pad(rewards.view(1, 1, -1), (0, n_step - 1)), kernel).view(-1)
        boot_idx = (L.arange(T) + n_step).clamp(max=T)
        live = (L.arange(T) + n_step <= T).double()
        nstep = nstep + live * gamma ** n_step * v_pi[boot_idx]
    opt = L.optim.Adam(qnet.parameters(), lr=1e-3)
    loss = F.smooth_l1_loss(q_taken, out["retrace"])
    opt.zero_grad()
    loss.backward()
    opt.step()
    return dict(ratio=ratio, targets=out, nstep=nstep, loss=loss, w=qnet[2].weight)


# ----------------------------------------------------------------------------------------------
# audio and signal processing
# ----------------------------------------------------------------------------------------------
def _chirp(L, n, sr, seed):
    t = L.arange(n, dtype=L.float64) / sr
    noise = _t(L, n, scale=0.05, seed=seed)
    return L.sin(2 * math.pi * (200 * t + 900 * t ** 2)) + 0.3 * L.sin(2 * math.pi * 60 * t) + noise


@program
def linear_prediction_by_levinson_durbin_and_iir_synthesis(L):
    """Speech-codec LPC analysis: pre-emphasis y[n] = x[n] - 0.97 x[n-1] by conv1d with a flipped
    two-tap kernel, framing by unfold, a Hamming window (periodic=False), the autocorrelation
    by irfft of |rfft|^2 with zero padding to twice the frame, Levinson-Durbin batched over
    frames (reflection coefficients, prediction error), the LPC spectral envelope
    gain / |A(e^jw)| by rfft of the coefficients, and the all-pole synthesis filter of the
    residual run sample by sample (an IIR loop) that reconstructs the pre-emphasised frame;
    the gradient of the envelope's log energy w.r.t. the signal."""
    F = L.nn.functional
    sr, n, frame, hop, order = 8000, 400, 80, 40, 6
    x = _chirp(L, n, sr, seed=20).requires_grad_()
    pre = F.conv1d(x.view(1, 1, -1), L.tensor([[[-0.97, 1.0]]], dtype=L.float64)).view(-1)
    pre = L.cat([x[:1], pre])
    frames = pre.unfold(0, frame, hop) * L.hamming_window(frame, periodic=False,
                                                         dtype=L.float64)
    spec = L.fft.rfft(frames, n=2 * frame)
    r = L.fft.irfft(spec.abs() ** 2, n=2 * frame)[:, :order + 1]
    nf = frames.shape[0]
    a = L.zeros(nf, order + 1, dtype=L.float64)
    a[:, 0] = 1.0
    err = r[:, 0].clone()
    ks = []
    for i in range(1, order + 1):
        acc = (a[:, :i] * r[:, 1:i + 1].flip(-1)).sum(-1)
        k = -acc / err
        ks.append(k)
        a_new = a.clone()
        a_new[:, 1:i + 1] = a[:, 1:i + 1] + k.unsqueeze(-1) * a[:, :i].flip(-1)
        a = a_new
        err = err * (1 - k ** 2)
    gain = err.clamp(min=1e-12).sqrt()
    env = gain.unsqueeze(-1) / L.fft.rfft(a, n=128).abs()
    log_energy = L.log(env ** 2 + 1e-9).mean()
    (g,) = L.autograd.grad(log_energy, x, retain_graph=True)

    f0 = frames[2].detach()
    coef = a[2].detach()
    resid = F.conv1d(F.pad(f0.view(1, 1, -1), (order, 0)), coef.flip(0).view(1, 1, -1)).view(-1)
    out = []
    for t in range(frame):
        past = sum(-coef[j] * out[t - j] for j in range(1, order + 1) if t - j >= 0)
        out.append(resid[t] + past)
    synth = L.stack(out)
    return dict(a=a, k=L.stack(ks, -1), gain=gain, env=env, g=g, synth_err=(synth - f0).abs().max())


@program
def spectral_shape_features_and_a_hand_built_chroma_filterbank(L):
    """Music-information-retrieval features by hand (librosa's definitions): the magnitude STFT
    with a hann window and center=True reflect padding, the spectral centroid and bandwidth
    as weighted moments over torch.fft.rfftfreq bins, the roll-off frequency as the first bin
    where the cumulative energy reaches 85% (argmax of a boolean turned to int), the spectral
    flatness exp(mean log S) / mean S, the zero-crossing rate over unfolded frames by
    sign changes, the spectral flux by a positive diff, and a 12-bin chroma from a filterbank
    built from log2 of the bin frequencies with one-hot scatter_ and L-inf normalised
    columns; the gradient of a loss of centroid and chroma w.r.t. the waveform."""
    sr, n_fft, hop = 4000, 128, 32
    x = _chirp(L, 800, sr, seed=21).float().requires_grad_()
    S = L.stft(x, n_fft, hop_length=hop, window=L.hann_window(n_fft), center=True,
               pad_mode="reflect", return_complex=True).abs()
    power = S ** 2
    freqs = L.fft.rfftfreq(n_fft, d=1.0 / sr)
    norm = S.sum(0, keepdim=True).clamp(min=1e-10)
    centroid = (freqs.unsqueeze(-1) * S).sum(0) / norm.squeeze(0)
    bandwidth = ((S / norm) * (freqs.unsqueeze(-1) - centroid) ** 2).sum(0).sqrt()
    cum = L.cumsum(power, 0)
    roll_bin = (cum >= 0.85 * cum[-1:]).int().argmax(0)
    rolloff = freqs[roll_bin]
    flatness = L.exp(L.log(power + 1e-10).mean(0)) / (power + 1e-10).mean(0)
    frames = x.detach().unfold(0, n_fft, hop)
    zcr = (frames[:, 1:].sign() != frames[:, :-1].sign()).float().mean(-1)
    flux = L.relu(S[:, 1:] - S[:, :-1]).sum(0)
    f = freqs[1:]
    pitch_class = L.remainder(L.round(12 * L.log2(f / 440.0)) + 9, 12).long()
    fb = L.zeros(12, f.numel()).scatter_(0, pitch_class.unsqueeze(0), 1.0)
    fb = fb * (1.0 / (1.0 + ((f - 1000.0) / 1000.0) ** 2))
    fb = fb / fb.amax(dim=1, keepdim=True).clamp(min=1e-10)
    chroma = fb @ power[1:]
    chroma = chroma / chroma.norm(p=float("inf"), dim=0, keepdim=True).clamp(min=1e-10)
    loss = centroid.mean() / 1000 + chroma.var(0).sum()
    (g,) = L.autograd.grad(loss, x)
    return dict(centroid=centroid, bandwidth=bandwidth, roll_bin=roll_bin, rolloff=rolloff,
                flatness=flatness, zcr=zcr, flux=flux, chroma=chroma, pc=pitch_class, g=g)


@program
def analytic_signal_by_hilbert_mask_and_instantaneous_frequency(L):
    """The analytic signal computed in the frequency domain: the FFT of a real batch
    weighted 1 at DC (and at Nyquist for an even length), 2 on the positive frequencies and
    0 on the negative ones, for an even and an odd length, and the inverse FFT; the
    amplitude envelope (abs); the instantaneous phase (angle) unwrapped by hand (diff
    wrapped into [-pi, pi) by remainder, cumulative sum) and the instantaneous frequency;
    fftshift/fftfreq of a spectrum; an envelope-matching loss whose gradient runs through
    abs of a complex tensor and fft/ifft."""
    sr = 1000.0

    def analytic(sig):
        # keep DC (and Nyquist for an even length), double the positive frequencies, drop
        # the negative ones: the inverse FFT is then sig + i * (its Hilbert transform)
        n = sig.shape[-1]
        n_pos = (n - 1) // 2                 # positive bins strictly below Nyquist
        weight = L.zeros(n, dtype=sig.dtype)
        weight[0] = 1.0
        weight[1:1 + n_pos] = 2.0
        if n % 2 == 0:
            weight[n // 2] = 1.0
        return L.fft.ifft(L.fft.fft(sig, dim=-1) * weight, dim=-1)

    results = {}
    for n in (256, 255):
        t = L.arange(n, dtype=L.float64) / sr
        mod = 1 + 0.5 * L.sin(2 * math.pi * 3 * t)
        base = _t(L, 2, 1, scale=0.1, seed=22)
        x = (mod * L.cos(2 * math.pi * (50 + 40 * t) * t + base)).requires_grad_()
        z = analytic(x)
        env = z.abs()
        phase = z.angle()
        d = phase.diff(dim=-1)
        d = L.remainder(d + math.pi, 2 * math.pi) - math.pi
        unwrapped = L.cat([phase[..., :1], phase[..., :1] + L.cumsum(d, -1)], dim=-1)
        inst_f = unwrapped.diff(dim=-1) * sr / (2 * math.pi)
        loss = ((env - mod) ** 2)[..., 20:-20].mean() + inst_f[..., 20:-20].std()
        (g,) = L.autograd.grad(loss, x)
        shifted = L.fft.fftshift(L.fft.fft(x.detach()).abs(), dim=-1)
        fr = L.fft.fftshift(L.fft.fftfreq(n, d=1 / sr))
        results[n] = dict(env=env, unwrapped=unwrapped, inst_f=inst_f, g=g,
                          peak=fr[(shifted * (fr > 0)).argmax(-1)], z=z)
    return results


@program(rtol=1e-7, atol=1e-9)      # after an Adam step: weight-norm gradients' rounding
def hifigan_multi_period_and_multi_scale_discriminators(L):
    """HiFi-GAN's discriminators: for each period p the waveform is reflect-padded to a
    multiple of p and viewed as (B, 1, T/p, p), then Conv2d layers with (k, 1) kernels and
    (3, 1) strides under weight_norm (torch.nn.utils.parametrizations) and leaky_relu(0.1);
    the multi-scale one runs Conv1d groups after AvgPool1d(4, 2, padding=2) poolings, its first
    scale under spectral_norm; the least-squares GAN losses and the feature-matching L1 loss
    over every intermediate map, and one Adam(betas=(0.8, 0.99)) step of the discriminators."""
    nn, F = L.nn, L.nn.functional
    P = nn.utils.parametrizations

    class FeatureStack(nn.Module):
        """Leaky-ReLU'd convs then a last conv; returns the flat scores and every map."""

        def run(self, x):
            maps = []
            for conv in self.convs:
                x = F.leaky_relu(conv(x), 0.1)
                maps.append(x)
            x = self.post(x)
            maps.append(x)
            return L.flatten(x, 1, -1), maps

    class DiscP(FeatureStack):
        """The waveform folded into (length / period, period) columns, reflect-padded to a
        whole number of periods, seen by (k, 1) convs."""

        def __init__(self, period):
            super().__init__()
            self.period = period
            self.convs = nn.ModuleList([P.weight_norm(nn.Conv2d(cin, cout, (5, 1), (3, 1), (2, 0)))
                                        for cin, cout in ((1, 4), (4, 8))])
            self.post = P.weight_norm(nn.Conv2d(8, 1, (3, 1), 1, (1, 0)))

        def forward(self, x):
            short = -x.shape[-1] % self.period
            if short:
                x = F.pad(x, (0, short), "reflect")
            b, c, t = x.shape
            return self.run(x.view(b, c, t // self.period, self.period))

    class DiscS(FeatureStack):
        def __init__(self, spectral):
            super().__init__()
            norm = P.spectral_norm if spectral else P.weight_norm
            self.convs = nn.ModuleList([norm(nn.Conv1d(1, 4, 15, 1, padding=7)),
                                        norm(nn.Conv1d(4, 8, 41, 4, groups=4, padding=20))])
            self.post = norm(nn.Conv1d(8, 1, 3, 1, padding=1))

        def forward(self, x):
            return self.run(x)

    L.manual_seed(7)
    mpd = nn.ModuleList([DiscP(p) for p in (2, 3, 5)]).double()
    msd = nn.ModuleList([DiscS(True), DiscS(False)]).double()
    pools = [nn.AvgPool1d(4, 2, padding=2)]
    real = _t(L, 2, 1, 200, scale=0.5, seed=23)
    fake = (_t(L, 2, 1, 200, scale=0.5, seed=24) * 0.8).requires_grad_()
    opt = L.optim.Adam([*mpd.parameters(), *msd.parameters()], lr=2e-4, betas=(0.8, 0.99))

    def run_all(y):
        outs, maps = [], []
        for d in mpd:
            o, f = d(y)
            outs.append(o)
            maps.append(f)
        for i, d in enumerate(msd):
            yy = y if i == 0 else pools[i - 1](y)
            o, f = d(yy)
            outs.append(o)
            maps.append(f)
        return outs, maps

    r_out, r_maps = run_all(real)
    f_out, f_maps = run_all(fake.detach())
    d_loss = sum(((1 - dr) ** 2).mean() + (dg ** 2).mean() for dr, dg in zip(r_out, f_out))
    opt.zero_grad()
    d_loss.backward()
    opt.step()
    r_out, r_maps = run_all(real)
    g_out, g_maps = run_all(fake)
    adv = sum(((1 - dg) ** 2).mean() for dg in g_out)
    fm = sum(L.mean(L.abs(rl.detach() - gl)) for dr, dg in zip(r_maps, g_maps)
             for rl, gl in zip(dr, dg))
    g_loss = adv + 2 * fm
    (gf,) = L.autograd.grad(g_loss, fake)
    return dict(d_loss=d_loss, adv=adv, fm=fm, gf=gf, shapes=[tuple(o.shape) for o in g_out],
                w0=mpd[0].convs[0].parametrizations.weight.original1,
                sn=msd[0].convs[1].weight)


@program
def mdct_with_sine_window_and_time_domain_alias_cancellation(L):
    """The modified discrete cosine transform as audio codecs compute it: 2N-sample frames with
    50% overlap by unfold of a zero-padded signal, the sine window (Princen-Bradley), the
    MDCT by a cosine matrix cos(pi/N (n + 1/2 + N/2)(k + 1/2)), the inverse MDCT with the
    2/N scale, windowed again and overlap-added by fold; the interior samples come back
    exactly (TDAC).  Coefficients are quantised with a straight-through round, and the
    gradient of a perceptual-ish weighted loss w.r.t. the signal runs back through fold."""
    F = L.nn.functional
    N = 16
    x = _chirp(L, 160, 2000, seed=25).requires_grad_()
    padded = F.pad(x.view(1, 1, -1), (N, N)).view(-1)
    frames = padded.unfold(0, 2 * N, N)
    n = L.arange(2 * N, dtype=L.float64)
    k = L.arange(N, dtype=L.float64)
    win = L.sin(math.pi / (2 * N) * (n + 0.5))
    C = L.cos(math.pi / N * (n.unsqueeze(1) + 0.5 + N / 2) * (k.unsqueeze(0) + 0.5))
    X = (frames * win) @ C
    Xq = X + (L.round(X * 8) / 8 - X).detach()
    y = (Xq @ C.t()) * (2.0 / N) * win
    total = padded.numel()
    out = F.fold(y.t().unsqueeze(0), output_size=(1, total), kernel_size=(1, 2 * N),
                 stride=(1, N)).view(-1)[N:-N]
    weights = 1.0 / (1.0 + k)
    loss = ((out - x) ** 2).mean() + (weights * X.abs()).mean() * 1e-2
    (g,) = L.autograd.grad(loss, x)
    exact = (((frames * win) @ C @ C.t()) * (2.0 / N) * win)
    recon = F.fold(exact.t().unsqueeze(0), output_size=(1, total), kernel_size=(1, 2 * N),
                   stride=(1, N)).view(-1)[N:-N]
    return dict(X=X, out=out, g=g, tdac_err=(recon - x).abs().max())


@program
def multilevel_wavelet_transform_and_soft_threshold_denoising(L):
    """A three-level discrete wavelet transform built from convolutions: the
    Daubechies-2 analysis filters (low-pass from the closed form, high-pass by the quadrature
    mirror), conv1d with stride 2 after reflect padding for each level, the synthesis by
    conv_transpose1d of the flipped filters; the universal threshold sigma sqrt(2 log n) with
    sigma the median absolute detail / 0.6745 (torch.median), soft thresholding by
    sign * relu(|d| - t) on the detail bands, and the gradient of a denoising loss w.r.t. the
    threshold scale through every level; Haar too, whose reconstruction is exact."""
    F = L.nn.functional
    s3 = math.sqrt(3)
    db2 = [(1 + s3) / (4 * math.sqrt(2)), (3 + s3) / (4 * math.sqrt(2)),
           (3 - s3) / (4 * math.sqrt(2)), (1 - s3) / (4 * math.sqrt(2))]
    haar = [1 / math.sqrt(2), 1 / math.sqrt(2)]
    clean = L.sin(L.linspace(0, 6 * math.pi, 64, dtype=L.float64)).view(1, 1, -1)
    noisy = clean + _t(L, 1, 1, 64, scale=0.2, seed=40)
    out = {}
    for name, taps in (("haar", haar), ("db2", db2)):
        lo = L.tensor(taps, dtype=L.float64)
        hi = lo.flip(0) * L.tensor([(-1.0) ** k for k in range(len(taps))], dtype=L.float64)
        filt = L.stack([lo, hi]).unsqueeze(1)               # (2, 1, K)
        K = len(taps)

        def analysis(x):
            xp = F.pad(x, (0, K - 2), mode="reflect") if K > 2 else x
            y = F.conv1d(xp, filt.flip(-1), stride=2)
            return y[:, :1], y[:, 1:]

        def synthesis(a, d, n):
            y = F.conv_transpose1d(L.cat([a, d], 1), filt.flip(-1), stride=2)
            return y[..., :n]

        scale = L.tensor(1.0, dtype=L.float64, requires_grad=True)
        a, details, lengths = noisy, [], []
        for _ in range(3):
            lengths.append(a.shape[-1])
            a, d = analysis(a)
            details.append(d)
        sigma = details[0].abs().flatten().median() / 0.6745
        t = scale * sigma * math.sqrt(2 * math.log(64))
        shrunk = [L.sign(d) * F.relu(d.abs() - t) for d in details]
        rec = a
        plain = a
        for d, sd, n in zip(reversed(details), reversed(shrunk), reversed(lengths)):
            rec = synthesis(rec, sd, n)
            plain = synthesis(plain, d, n)
        loss = F.mse_loss(rec, clean)
        (g,) = L.autograd.grad(loss, scale)
        out[name] = dict(details=details, sigma=sigma, rec=rec, plain=plain, loss=loss, g=g)
    out["haar_exact"] = (out["haar"]["plain"] - noisy).abs().max()
    return out


@program
def yin_pitch_estimation_by_cumulative_mean_normalised_difference(L):
    """The YIN pitch detector over frames of a tone with vibrato: the difference function
    d(tau) = r(0) + r_tau(0) - 2 r(tau) from an FFT autocorrelation (rfft/irfft with zero
    padding) and cumulative sums of squares, the cumulative mean normalised difference
    d'(tau) = d(tau) tau / cumsum(d), the first tau under the threshold found by argmax of a
    boolean mask (falling back to the global argmin where none is), parabolic interpolation
    around it by gather, and the frequencies; framing by unfold with a hop."""
    sr, n, W, hop, tau_max = 8000, 1200, 200, 100, 120
    t = L.arange(n, dtype=L.float64) / sr
    f_inst = 220 + 30 * L.sin(2 * math.pi * 4 * t)
    phase = 2 * math.pi * L.cumsum(f_inst, 0) / sr
    x = L.sin(phase) + 0.4 * L.sin(2 * phase) + _t(L, n, scale=0.01, seed=41)
    frames = x.unfold(0, W + tau_max, hop)
    spec = L.fft.rfft(frames, n=2 * (W + tau_max))
    head = frames[:, :W]
    corr = L.fft.irfft(L.fft.rfft(head, n=2 * (W + tau_max)).conj() * spec)[:, :tau_max]
    sq = L.cumsum(frames ** 2, dim=1)
    energy0 = sq[:, W - 1:W]
    lagged = sq[:, W - 1:W - 1 + tau_max] - L.cat([L.zeros_like(sq[:, :1]), sq[:, :tau_max - 1]], 1)
    diff = energy0 + lagged - 2 * corr
    taus = L.arange(tau_max, dtype=L.float64)
    cmnd = L.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * taus[1:] / L.cumsum(diff[:, 1:], 1).clamp(min=1e-12)
    below = cmnd < 0.15
    below[:, :2] = False
    first = below.int().argmax(1)
    while_below = below.gather(1, first.unsqueeze(1)).squeeze(1)
    tau0 = L.where(while_below, first, cmnd[:, 2:].argmin(1) + 2)
    nxt = (tau0 + 1).clamp(max=tau_max - 1)
    # walk down to the local minimum after the threshold crossing
    for _ in range(5):
        step = cmnd.gather(1, nxt.unsqueeze(1)) < cmnd.gather(1, tau0.unsqueeze(1))
        tau0 = L.where(step.squeeze(1) & while_below, nxt, tau0)
        nxt = (tau0 + 1).clamp(max=tau_max - 1)
    idx = L.stack([tau0 - 1, tau0, tau0 + 1], 1).clamp(0, tau_max - 1)
    y = cmnd.gather(1, idx)
    denom = y[:, 0] - 2 * y[:, 1] + y[:, 2]
    shift = L.where(denom.abs() > 1e-12, 0.5 * (y[:, 0] - y[:, 2]) / denom, L.zeros_like(denom))
    f0 = sr / (tau0.double() + shift)
    return dict(cmnd=cmnd, tau0=tau0, shift=shift, f0=f0, first=first)


@program
def contextual_bandits_linucb_sherman_morrison_and_thompson_sampling(L):
    """Contextual bandits in torch: LinUCB with a per-arm inverse design matrix kept by
    Sherman-Morrison rank-one updates (torch.outer, addr_ with alpha), upper confidence bounds
    sqrt(x^T A^-1 x) by einsum over the arms, argmax choices; linear Thompson sampling from
    MultivariateNormal posteriors (covariance_matrix = v^2 A^-1, after a seed); Beta-Bernoulli
    Thompson sampling with Beta.sample for every arm; the regrets of all three, and the
    inverses checked against torch.linalg.inv of the accumulated designs."""
    D = L.distributions
    n_arms, d, T, alpha = 3, 4, 25, 0.5
    rng = np.random.RandomState(42)
    theta = L.tensor(rng.randn(n_arms, d))
    contexts = L.tensor(rng.randn(T, n_arms, d))
    noise = L.tensor(0.1 * rng.randn(T))
    A_inv = L.eye(d, dtype=L.float64).repeat(n_arms, 1, 1)
    A = L.eye(d, dtype=L.float64).repeat(n_arms, 1, 1)
    b = L.zeros(n_arms, d, dtype=L.float64)
    L.manual_seed(13)
    A_inv_ts, b_ts = A_inv.clone(), b.clone()
    chosen, regret_ucb, regret_ts = [], 0.0, 0.0
    for t in range(T):
        x = contexts[t]
        means = (theta * x).sum(-1)
        th_hat = L.einsum("aij,aj->ai", A_inv, b)
        ucb = (th_hat * x).sum(-1) + alpha * L.einsum("ai,aij,aj->a", x, A_inv, x).sqrt()
        arm = int(ucb.argmax())
        r = means[arm] + noise[t]
        v = A_inv[arm] @ x[arm]
        A_inv[arm] = A_inv[arm].addr(v, v, alpha=-1.0 / (1.0 + x[arm] @ v))
        A[arm].addr_(x[arm], x[arm])
        b[arm] += r * x[arm]
        chosen.append(arm)
        regret_ucb += (means.max() - means[arm]).item()

        mu = L.einsum("aij,aj->ai", A_inv_ts, b_ts)
        cov = 0.25 * A_inv_ts
        cov = 0.5 * (cov + cov.mT)
        sample = D.MultivariateNormal(mu, covariance_matrix=cov).sample()
        arm_ts = int((sample * x).sum(-1).argmax())
        r_ts = means[arm_ts] + noise[t]
        v = A_inv_ts[arm_ts] @ x[arm_ts]
        A_inv_ts[arm_ts] -= L.outer(v, v) / (1.0 + x[arm_ts] @ v)
        b_ts[arm_ts] += r_ts * x[arm_ts]
        regret_ts += (means.max() - means[arm_ts]).item()

    probs = L.tensor([0.2, 0.5, 0.7], dtype=L.float64)
    a_s, b_s = L.ones(3, dtype=L.float64), L.ones(3, dtype=L.float64)
    pulls = []
    for t in range(30):
        arm = int(D.Beta(a_s, b_s).sample().argmax())
        reward = float(rng.rand() < probs[arm].item())
        a_s[arm] += reward
        b_s[arm] += 1 - reward
        pulls.append(arm)
    return dict(chosen=chosen, regret_ucb=regret_ucb, regret_ts=regret_ts, A_inv=A_inv,
                check=(A_inv - L.linalg.inv(A)).abs().max(), b=b, pulls=pulls, ab=(a_s, b_s))


@program
def spdiags_laplacians_for_a_heat_equation_and_graph_diffusion(L):
    """Sparse operators built with torch.sparse.spdiags, as scientific code does: the 1-d
    second-difference matrix (offsets -1, 0, 1) in COO and CSR layouts, one Crank-Nicolson
    step of the heat equation (I - r/2 K) u1 = (I + r/2 K) u0 through torch.sparse.mm and a
    dense solve, its gradient w.r.t. the initial profile; the degree matrix of a graph from
    spdiags of its degrees, the random-walk Laplacian applied by torch.sparse.mm, explicit
    diffusion steps, and neighbourhood sums by torch.hspmm (a hybrid sparse result over the
    rows that have neighbours)."""
    n, r = 12, 0.4
    ones = L.ones(3, n, dtype=L.float64)
    ones[1] = -2.0
    K = L.sparse.spdiags(ones, L.tensor([-1, 0, 1]), (n, n))
    K_csr = L.sparse.spdiags(ones, L.tensor([-1, 0, 1]), (n, n), layout=L.sparse_csr)
    u0 = L.exp(-((L.arange(n, dtype=L.float64) - 5.5) / 2) ** 2).requires_grad_()
    rhs = u0 + 0.5 * r * L.sparse.mm(K, u0.unsqueeze(1)).squeeze(1)
    M = L.eye(n, dtype=L.float64) - 0.5 * r * K.to_dense()
    u1 = L.linalg.solve(M, rhs)
    (g,) = L.autograd.grad(u1.pow(2).sum(), u0)

    ei, _ = _random_graphs(L, [n], 0.2, seed=43)
    adj = L.sparse_coo_tensor(ei, L.ones(ei.shape[1], dtype=L.float64), (n, n)).coalesce()
    deg = L.sparse.sum(adj, dim=1).to_dense()
    Dinv = L.sparse.spdiags(1.0 / deg, L.tensor(0), (n, n))
    x = _t(L, n, 3, seed=44)
    h = x
    for _ in range(3):
        h = h - 0.5 * (h - L.sparse.mm(Dinv, L.sparse.mm(adj, h)))
    sub = L.sparse_coo_tensor(ei[:, ei[0] < 5], L.ones(int((ei[0] < 5).sum()), dtype=L.float64),
                              (n, n))
    agg = L.hspmm(sub, x)
    return dict(K=K.to_dense(), K_idx=K._indices(), K_vals=K._values(),
                csr=(K_csr.crow_indices(), K_csr.col_indices(), K_csr.values()),
                u1=u1, g=g, deg=deg, h=h, agg_idx=agg._indices(), agg=agg._values(),
                agg_dense=agg.to_dense())


@program
def wiener_filter_speech_enhancement_with_decision_directed_snr(L):
    """Classic single-channel speech enhancement: the STFT of a noisy chirp (hann window,
    hop a quarter of the frame), the noise power spectrum estimated from the first frames,
    the a-posteriori SNR, the decision-directed a-priori SNR run frame by frame
    (alpha G^2 gamma_prev + (1 - alpha) max(gamma - 1, 0)), the Wiener gain xi / (1 + xi) with
    a floor, then power spectral subtraction with over-subtraction for comparison, both
    resynthesised by istft with the original length, and the SNR improvements; the gradient of
    the enhanced signal's error w.r.t. the floor, through istft."""
    n_fft, hop = 64, 16
    clean = _chirp(L, 600, 4000, seed=55) * 0.5
    noisy = clean + _t(L, 600, scale=0.3, seed=56)
    win = L.hann_window(n_fft, dtype=L.float64)
    X = L.stft(noisy, n_fft, hop, window=win, return_complex=True)
    P = X.abs() ** 2
    noise_psd = P[:, :4].mean(1, keepdim=True)
    gamma = P / noise_psd
    floor = L.tensor(0.05, dtype=L.float64, requires_grad=True)
    alpha = 0.98
    gains = []
    prev = L.ones(P.shape[0], dtype=L.float64)
    for t in range(P.shape[1]):
        xi = alpha * prev + (1 - alpha) * L.clamp(gamma[:, t] - 1, min=0.0)
        G = L.maximum(xi / (1 + xi), floor)
        gains.append(G)
        prev = (G ** 2 * gamma[:, t]).detach()
    G = L.stack(gains, 1)
    enhanced = L.istft(X * G, n_fft, hop, window=win, length=noisy.shape[0])
    sub = L.clamp(P - 2.0 * noise_psd, min=0.01 * P)
    sub_sig = L.istft(X * (sub / P.clamp(min=1e-12)).sqrt(), n_fft, hop, window=win,
                      length=noisy.shape[0])

    def snr(est):
        return 10 * L.log10(clean.pow(2).sum() / (clean - est).pow(2).sum())

    err = (enhanced - clean).pow(2).mean()
    (g,) = L.autograd.grad(err, floor)
    return dict(G=G, enhanced=enhanced, snr=(snr(noisy), snr(enhanced), snr(sub_sig)), g=g)


# ----------------------------------------------------------------------------------------------
# classic machine learning
# ----------------------------------------------------------------------------------------------
@program
def nmf_by_multiplicative_updates_frobenius_and_kl(L):
    """Non-negative matrix factorisation by Lee and Seung's multiplicative updates, both
    objectives: the Frobenius updates H *= (W^T V) / (W^T W H) and W *= (V H^T) / (W H H^T),
    and the generalised KL updates with the column and row sums of W and H as denominators,
    an eps floor by clamp_ against division by zero, the initialisation scaled by
    sqrt(mean(V) / k) from torch.rand after a seed, the objective after every iteration, and
    the columns of W normalised to unit L1 (H rescaled to match) by torch.diag."""
    V = L.tensor(np.abs(normal64(10, 8, seed=30)) + 0.05)
    k, eps = 3, 1e-10
    out = {}
    for beta in ("fro", "kl"):
        L.manual_seed(8)
        init_scale = (V.mean() / k).sqrt()      # so that W @ H starts near V's mean
        W = L.rand(V.shape[0], k, dtype=L.float64) * init_scale
        H = L.rand(k, V.shape[1], dtype=L.float64) * init_scale
        objs = []
        for _ in range(15):
            if beta == "fro":
                H *= (W.t() @ V) / (W.t() @ W @ H).clamp_(min=eps)
                W *= (V @ H.t()) / (W @ H @ H.t()).clamp_(min=eps)
                objs.append(0.5 * L.linalg.matrix_norm(V - W @ H, "fro").item() ** 2)
            else:
                WH = (W @ H).clamp(min=eps)
                H *= (W.t() @ (V / WH)) / W.sum(0).unsqueeze(1)
                WH = (W @ H).clamp(min=eps)
                W *= ((V / WH) @ H.t()) / H.sum(1).unsqueeze(0)
                WH = (W @ H).clamp(min=eps)
                objs.append((V * L.log(V / WH) - V + WH).sum().item())
        scale = W.sum(0)
        out[beta] = dict(W=W @ L.diag(1 / scale), H=L.diag(scale) @ H, objs=objs)
    return out


@program
def fastica_with_whitening_and_symmetric_decorrelation(L):
    """Independent component analysis by the symmetric (all-components-at-once) fixed-point
    iteration of Hyvarinen's FastICA: centred mixtures whitened by eigh of torch.cov; the
    log-cosh contrast, whose derivative is tanh and second derivative 1 - tanh^2; each
    sweep replaces the unmixing matrix B by E[tanh(BZ) Z^T] - diag(E[1 - tanh^2(BZ)]) B and
    re-orthonormalises it as (B B^T)^(-1/2) B through eigh; it stops when every row's
    |cos| with its previous value is within 1e-10 of one; the recovered sources are matched
    to the true ones by the absolute correlation matrix (torch.corrcoef) and its row argmax."""
    n = 400
    t = L.linspace(0, 8, n, dtype=L.float64)
    S = L.stack([L.sin(2 * t), L.sign(L.sin(3 * t)), L.remainder(t, 1.0) - 0.5])
    A = L.tensor([[1.0, 1.0, 1.0], [0.5, 2.0, 1.0], [1.5, 1.0, 2.0]], dtype=L.float64)
    X = A @ S + _t(L, 3, n, scale=0.02, seed=31)
    Xc = X - X.mean(1, keepdim=True)
    d, E = L.linalg.eigh(L.cov(Xc))
    E = _sign_fixed(E, L)
    K = E @ L.diag(d.rsqrt()) @ E.t()
    Z = K @ Xc

    def orthonormalise_rows(M):
        evals, evecs = L.linalg.eigh(M @ M.t())
        inv_root = evecs @ L.diag(evals.rsqrt()) @ evecs.t()
        return inv_root @ M

    B = orthonormalise_rows(_t(L, 3, 3, seed=32))
    changes = []
    for _ in range(30):
        act = L.tanh(B @ Z)
        slope = (1 - act ** 2).mean(-1)
        updated = orthonormalise_rows(act @ Z.t() / n - slope.unsqueeze(1) * B)
        change = ((updated * B).sum(1).abs() - 1).abs().max()
        changes.append(change.item())
        B = updated
        if change < 1e-10:
            break
    W = B
    Y = W @ Z
    C = L.corrcoef(L.cat([Y, S]))[:3, 3:].abs()
    return dict(K=K, W=W.abs(), lims=len(changes), match=C.argmax(1), best=C.amax(1))


# (cdist of 30 points by products: a point's distance to itself is the square root of the
# products' rounding, 0 or 1.2e-7 by machine and library, so absolute differences of 1e-6
# are let through)
@program(atol=1e-6)
def isomap_classical_mds_and_kernel_pca(L):
    """Manifold learning by hand: the k-nearest-neighbour graph of points on a swiss-roll strip
    by cdist and topk(largest=False), symmetrised by torch.maximum with its transpose, graph
    geodesics by a Floyd-Warshall min-plus closure, classical MDS (double centring by
    J = I - 11^T/n, eigh, the top two eigenpairs, coordinates scaled by sqrt of the
    eigenvalues, signs fixed); then kernel PCA with an RBF kernel centred in feature space and
    the projection of new points through the training kernel's centring."""
    n, k = 30, 5
    u = L.tensor(np.sort(np.random.RandomState(33).rand(n)) * 3 * math.pi + 1.5)
    h = _t(L, n, scale=1.0, seed=34)
    X = L.stack([u * L.cos(u), h, u * L.sin(u)], dim=1)
    Dm = L.cdist(X, X)
    nn_d, nn_i = Dm.topk(k + 1, dim=1, largest=False)
    G = L.full((n, n), float("inf"), dtype=L.float64)
    G.scatter_(1, nn_i, nn_d)
    G = L.minimum(G, G.t())
    for m in range(n):
        G = L.minimum(G, G[:, m:m + 1] + G[m:m + 1, :])
    J = L.eye(n, dtype=L.float64) - 1.0 / n
    B = -0.5 * J @ (G ** 2) @ J
    evals, evecs = L.linalg.eigh(B)
    top = evals.flip(0)[:2]
    coords = _sign_fixed(evecs.flip(1)[:, :2], L) * top.sqrt()

    gamma = 0.1
    Kx = L.exp(-gamma * L.cdist(X, X) ** 2)
    one = L.full((n, n), 1.0 / n, dtype=L.float64)
    Kc = Kx - one @ Kx - Kx @ one + one @ Kx @ one
    lam, alpha = L.linalg.eigh(Kc)
    lam, alpha = lam.flip(0)[:3], _sign_fixed(alpha.flip(1)[:, :3], L)
    alpha = alpha / lam.sqrt()
    Xn = X[:4] + _t(L, 4, 3, scale=0.1, seed=35)
    Kn = L.exp(-gamma * L.cdist(Xn, X) ** 2)
    one_n = L.full((4, n), 1.0 / n, dtype=L.float64)
    Kn_c = Kn - one_n @ Kx - Kn @ one + one_n @ Kx @ one
    proj = Kn_c @ alpha
    return dict(nn_i=nn_i, geodesic=G, top=top, coords=coords, lam=lam, proj=proj,
                finite=bool(L.isfinite(G).all()))


@program
def mean_shift_clustering_and_k_medoids_by_swaps(L):
    """Two clusterers in torch: mean shift with a Gaussian kernel (weights exp(-d^2 / 2 h^2) of
    cdist, every point shifted to its weighted mean until the largest move is under a
    tolerance), the modes merged by rounding and torch.unique(dim=0, return_inverse=True);
    and k-medoids (PAM's swap phase): the total cost of every (medoid, candidate) swap from
    the distance matrix with amin over the other medoids, the best swap by argmin of the
    flattened cost, repeated until no swap improves; the assignments by argmin."""
    rng = np.random.RandomState(36)
    centers = np.array([[0.0, 0.0], [4.0, 4.0], [0.0, 5.0]])
    pts = np.concatenate([c + 0.5 * rng.randn(10, 2) for c in centers])
    X = L.tensor(pts)
    Y = X.clone()
    moves = 0
    for _ in range(100):
        w = L.exp(-L.cdist(Y, X) ** 2 / (2 * 1.0 ** 2))
        Y_new = (w @ X) / w.sum(1, keepdim=True)
        shift = (Y_new - Y).norm(dim=1).max()
        Y = Y_new
        moves += 1
        if shift < 1e-8:
            break
    modes, inverse, counts = L.unique(L.round(Y * 10) / 10, dim=0, return_inverse=True,
                                      return_counts=True)

    Dm = L.cdist(X, X)
    n = X.shape[0]
    medoids = L.tensor([0, 1, 2])
    swaps = 0
    while True:
        cost = Dm[:, medoids].amin(1).sum()
        others = [L.cat([medoids[:i], medoids[i + 1:]]) for i in range(len(medoids))]
        rest = L.stack([Dm[:, o].amin(1) for o in others])
        swap_cost = L.minimum(rest.unsqueeze(2), Dm.t().unsqueeze(0)).sum(1)
        best = swap_cost.view(-1).argmin()
        i, c = divmod(int(best), n)
        if swap_cost[i, c] >= cost - 1e-12:
            break
        medoids = medoids.clone()
        medoids[i] = c
        swaps += 1
    assign = Dm[:, medoids].argmin(1)
    return dict(Y=Y, moves=moves, modes=modes, inverse=inverse, counts=counts,
                medoids=L.sort(medoids).values, swaps=swaps, cost=cost,
                assign_sizes=L.bincount(assign))


@program
def matrix_completion_by_alternating_least_squares_with_batched_solves(L):
    """Collaborative filtering by ALS on an observed-entries mask: for every user the normal
    equations (sum over its rated items of v v^T + lambda n_u I) built at once by einsum into a
    batch of k x k matrices and solved by torch.linalg.solve on the batch, then the same for
    the items; the held-out RMSE every sweep, then the same model fitted by gradient descent
    from the ALS solution with torch.optim.SGD and nesterov momentum, its gradient checked
    at the fixed point (near zero)."""
    rng = np.random.RandomState(37)
    n_u, n_i, k, lam = 9, 7, 2, 0.1
    truth = rng.randn(n_u, k) @ rng.randn(k, n_i)
    mask_np = rng.rand(n_u, n_i) < 0.6
    R = L.tensor(truth + 0.1 * rng.randn(n_u, n_i))
    M = L.tensor(mask_np.astype(np.float64))
    test = L.tensor(~mask_np)
    L.manual_seed(9)
    U = L.randn(n_u, k, dtype=L.float64) * 0.1
    V = L.randn(n_i, k, dtype=L.float64) * 0.1
    rmse = []
    eye = L.eye(k, dtype=L.float64)
    for _ in range(6):
        A = L.einsum("ui,ik,il->ukl", M, V, V) + lam * M.sum(1).view(-1, 1, 1) * eye
        b = L.einsum("ui,ui,ik->uk", M, R, V)
        U = L.linalg.solve(A, b)
        A = L.einsum("ui,uk,ul->ikl", M, U, U) + lam * M.sum(0).view(-1, 1, 1) * eye
        b = L.einsum("ui,ui,uk->ik", M, R, U)
        V = L.linalg.solve(A, b.unsqueeze(-1)).squeeze(-1)
        err = (R - U @ V.t())[test]
        rmse.append(err.pow(2).mean().sqrt().item())
    Up = U.clone().requires_grad_()
    Vp = V.clone().requires_grad_()
    opt = L.optim.SGD([Up, Vp], lr=0.01, momentum=0.9, nesterov=True)

    def objective():
        return ((M * (R - Up @ Vp.t())) ** 2).sum() + lam * (
            (M.sum(1) * Up.pow(2).sum(1)).sum() + (M.sum(0) * Vp.pow(2).sum(1)).sum())

    obj = objective()
    obj.backward()
    g_at_fixed = Vp.grad.clone()
    for _ in range(3):
        opt.zero_grad()
        o = objective()
        o.backward()
        opt.step()
    return dict(U=U @ V.t(), rmse=rmse, g_at_fixed=g_at_fixed, obj=obj, Up=Up @ Vp.t())


@program
def gradient_boosted_stumps_by_sorted_cumulative_gain(L):
    """Gradient boosting of depth-one regression trees in torch, as hand-written GBDT code
    does it: every feature sorted once (torch.sort), the gradient and hessian prefix sums along
    the sorted order (cumsum), the XGBoost gain G_L^2/(H_L + lambda) + G_R^2/(H_R + lambda)
    - G^2/(H + lambda) for every split at once, ties between equal feature values masked
    out, the best (feature, threshold) by argmax over the flattened gains, leaf weights
    -G/(H + lambda) with shrinkage; squared loss and logistic loss (hessian p(1 - p)), and the
    training losses after each round."""
    rng = np.random.RandomState(57)
    X = L.tensor(np.round(rng.randn(40, 3), 1))
    y_reg = L.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2
    y_cls = (X[:, 0] + X[:, 2] > 0).double()
    lam, eta = 1.0, 0.3
    sorted_x, order = L.sort(X, dim=0, stable=True)
    out = {}
    for task in ("squared", "logistic"):
        F_ = L.zeros(40, dtype=L.float64)
        losses, splits = [], []
        for _ in range(6):
            if task == "squared":
                g, h = F_ - y_reg, L.ones_like(F_)
                losses.append(0.5 * (F_ - y_reg).pow(2).mean().item())
            else:
                p = L.sigmoid(F_)
                g, h = p - y_cls, p * (1 - p)
                losses.append(L.nn.functional.binary_cross_entropy_with_logits(F_, y_cls).item())
            Gs, Hs = g[order], h[order]
            GL, HL = Gs.cumsum(0)[:-1], Hs.cumsum(0)[:-1]
            G, H = g.sum(), h.sum()
            gain = GL ** 2 / (HL + lam) + (G - GL) ** 2 / (H - HL + lam) - G ** 2 / (H + lam)
            valid = sorted_x[1:] > sorted_x[:-1]
            gain = gain.masked_fill(~valid, float("-inf"))
            best = int(gain.argmax())
            i, f = divmod(best, X.shape[1])
            thr = 0.5 * (sorted_x[i, f] + sorted_x[i + 1, f])
            left = X[:, f] <= thr
            wl = -g[left].sum() / (h[left].sum() + lam)
            wr = -g[~left].sum() / (h[~left].sum() + lam)
            F_ = F_ + eta * L.where(left, wl, wr)
            splits.append((f, thr.item(), gain.max().item()))
        out[task] = dict(losses=losses, splits=splits, F=F_)
    return out


# ----------------------------------------------------------------------------------------------
# metric learning and time series
# ----------------------------------------------------------------------------------------------
@program
def circle_multi_similarity_proxy_anchor_and_lifted_structure_losses(L):
    """Four pair-based metric-learning losses from their papers' formulas, on one batch of
    unit-normalised embeddings.  Circle loss: each similarity gets a self-paced weight,
    the distance past its optimum clamped at zero (clamp_min on detached similarities), and
    the loss is softplus of the positives' plus the negatives' logsumexp, with excluded
    pairs set to -inf.  Multi-Similarity: pairs mined against each anchor's hardest pair of
    the other kind (masked amin/amax), then soft maxima by log1p of sums of exps.
    Proxy-Anchor: one learned proxy per class, cosine to the proxies by F.linear, the
    membership of each sample by one_hot and its complement, terms chosen by torch.where,
    the positive part averaged over proxies that have samples (nonzero).  Lifted structure:
    a logsumexp over every anchor's negatives of (margin - distance), paired up for each
    positive pair, relu squared.  An AdamW step on the embedder and the proxies."""
    nn, F = L.nn, L.nn.functional
    n, d, C = 12, 6, 4
    L.manual_seed(10)
    embed = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, d)).double()
    proxies = nn.Parameter(L.randn(C, d, dtype=L.float64))
    nn.init.kaiming_normal_(proxies, mode="fan_out")
    x = _t(L, n, 5, seed=38)
    y = L.tensor([0, 1, 2, 3] * 3)
    opt = L.optim.AdamW([*embed.parameters(), proxies], lr=1e-3, weight_decay=1e-2)
    same = y.unsqueeze(0) == y.unsqueeze(1)
    is_pos = same & ~L.eye(n, dtype=L.bool)
    is_neg = ~same
    NEG_INF, POS_INF = float("-inf"), float("inf")

    def circle_loss(sim, margin=0.25, scale=32.0):
        fixed = sim.detach()
        w_pos = L.clamp_min(1 + margin - fixed, 0.0)       # optimum 1 + m for positives
        w_neg = L.clamp_min(fixed + margin, 0.0)           # optimum -m for negatives
        pos_logit = (scale * -w_pos * (sim - (1 - margin))).masked_fill(~is_pos, NEG_INF)
        neg_logit = (scale * w_neg * (sim - margin)).masked_fill(~is_neg, NEG_INF)
        return F.softplus(L.logsumexp(neg_logit, 1) + L.logsumexp(pos_logit, 1)).mean()

    def multi_similarity_loss(sim, a_pos=2.0, b_neg=50.0, centre=0.5, slack=0.1):
        weakest_pos = sim.masked_fill(~is_pos, POS_INF).amin(1, keepdim=True)
        strongest_neg = sim.masked_fill(~is_neg, NEG_INF).amax(1, keepdim=True)
        hard_neg = is_neg & (sim + slack > weakest_pos)
        hard_pos = is_pos & (sim - slack < strongest_neg)
        soft_pos = L.log1p((hard_pos * L.exp(-a_pos * (sim - centre))).sum(1)) / a_pos
        soft_neg = L.log1p((hard_neg * L.exp(b_neg * (sim - centre))).sum(1)) / b_neg
        return (soft_pos + soft_neg).mean()

    def proxy_anchor_loss(emb, scale=32.0, margin=0.1):
        cos = F.linear(emb, F.normalize(proxies, dim=1))          # (n, C)
        member = F.one_hot(y, C).double()
        outsider = 1 - member
        zero = L.zeros_like(cos)
        pull = L.where(member == 1, L.exp(-scale * (cos - margin)), zero).sum(0)
        push = L.where(outsider == 1, L.exp(scale * (cos + margin)), zero).sum(0)
        n_used = len(L.nonzero(member.sum(0) != 0).squeeze(1))
        return L.log(1 + pull).sum() / n_used + L.log(1 + push).sum() / C

    def lifted_structure_loss(emb, margin=1.0):
        dist = L.cdist(emb, emb).clamp(min=1e-12)
        per_anchor = L.logsumexp((margin - dist).masked_fill(~is_neg, NEG_INF), dim=1)
        pair_term = per_anchor.unsqueeze(1) + per_anchor.unsqueeze(0) + dist
        return (F.relu(pair_term[is_pos]) ** 2).sum() / (2 * is_pos.sum())

    out = {}
    for step in range(2):
        e = F.normalize(embed(x), dim=1)
        sim = e @ e.t()
        parts = [circle_loss(sim), multi_similarity_loss(sim), proxy_anchor_loss(e),
                 lifted_structure_loss(e)]
        total = parts[0] + parts[1] + parts[2] + parts[3]
        opt.zero_grad()
        total.backward()
        opt.step()
        out[step] = [p.item() for p in parts]
    return dict(out=out, proxies=proxies, g=embed[2].weight.grad)


@program
def informer_probsparse_self_attention_with_sampled_keys(L):
    """Informer's ProbSparse attention: for every query a random sample of keys
    (torch.randint after a seed) gives the sparsity measure M = max(QK_sample) - sum/L_K, the
    top-u queries (u = c ln L_Q) by topk(sorted=False) attend in full while the others take the
    mean of V (or, with the causal mask, its cumulative sum), the results written back by
    advanced-index assignment into the initial context; then the distilling layer (Conv1d,
    BatchNorm1d, ELU, MaxPool1d(3, 2, 1)); gradients of a loss of both."""
    nn = L.nn
    B, H, Lq, D = 2, 2, 16, 4
    L.manual_seed(11)
    Q = L.randn(B, H, Lq, D, dtype=L.float64, requires_grad=True)
    K = L.randn(B, H, Lq, D, dtype=L.float64, requires_grad=True)
    V = L.randn(B, H, Lq, D, dtype=L.float64, requires_grad=True)
    factor = 2
    n_full = min(factor * int(np.ceil(np.log(Lq))), Lq)     # queries that attend in full
    n_probe = n_full                                         # keys sampled per query
    bi, hi = L.arange(B)[:, None, None], L.arange(H)[None, :, None]
    out = {}
    for causal in (False, True):
        probe_idx = L.randint(Lq, (Lq, n_probe))             # a key subset per query
        every_key = K.unsqueeze(-3).expand(B, H, Lq, Lq, D)
        probes = every_key[:, :, L.arange(Lq).unsqueeze(1), probe_idx, :]    # (B, H, Lq, n, D)
        probe_scores = L.matmul(Q.unsqueeze(-2), probes.transpose(-2, -1)).squeeze(-2)
        # max less mean of the sampled scores: large where a query's attention is peaked
        peaked = probe_scores.max(-1)[0] - L.div(probe_scores.sum(-1), Lq)
        chosen = peaked.topk(n_full, sorted=False)[1]
        scores = L.matmul(Q[bi, hi, chosen, :], K.transpose(-2, -1)) / math.sqrt(D)
        if causal:
            ctx = V.cumsum(dim=-2)          # the other queries: the values up to them
            future = L.ones(Lq, Lq, dtype=L.bool).triu(1)[None, None].expand(B, H, Lq, Lq)
            scores = scores.masked_fill(future[bi, hi, chosen, :], -np.inf)
        else:
            ctx = V.mean(dim=-2).unsqueeze(-2).expand(B, H, Lq, D).clone()
        ctx[bi, hi, chosen, :] = L.matmul(L.softmax(scores, dim=-1), V).type_as(ctx)
        out[causal] = ctx
    L.manual_seed(12)
    distil = nn.Sequential(nn.Conv1d(H * D, H * D, 3, padding=1, padding_mode="circular"),
                           nn.BatchNorm1d(H * D), nn.ELU(),
                           nn.MaxPool1d(3, 2, 1)).double()
    y = distil(out[False].permute(0, 1, 3, 2).reshape(B, H * D, Lq))
    loss = out[False].pow(2).sum() + out[True].sin().sum() + y.pow(2).mean()
    g = L.autograd.grad(loss, [Q, K, V])
    return dict(ctx=out[False], ctx_causal=out[True], y=y, g=g,
                running=distil[1].running_var)


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None


# the fixes of this round, each alone
@pytest.mark.parametrize("offsets, shape, width", [
    ((0, -1, 2), (3, 5), 5), ((0, 1, 2), (3, 6), 4), ((1, -2, 0), (5, 3), 3),
    ((-1, 1), (4, 4), 4)], ids=["wide", "columns_past_the_diagonals", "tall", "square"])
def test_spdiags_places_diagonals_as_torch(offsets, shape, width):
    """torch.sparse.spdiags (missing before): diagonals[k, c] lands at (c - offsets[k], c),
    columns past the diagonals' width stay empty, entries in offset-major order and not
    coalesced; the CSR layout holds the same matrix; the values keep their graph.  (PyTorch
    2.13 writes out of bounds for diagonals wider than the matrix or offsets outside it, so
    the cases keep inside; minigrad drops such entries.)"""
    def run(L):
        d = L.tensor(normal64(len(offsets), width, seed=1), requires_grad=True)
        s = L.sparse.spdiags(d, L.tensor(offsets), shape)
        c = L.sparse.spdiags(d.detach(), L.tensor(offsets), shape, layout=L.sparse_csr)
        return (s._indices(), s._values(), s.to_dense(), s.is_coalesced(), s.requires_grad,
                str(s.layout), c.crow_indices(), c.col_indices(), c.values(), str(c.layout))
    HARNESS.check(run)


def test_spdiags_vector_and_scalar_offsets_and_its_gradient():
    """A 1-d diagonals tensor with a 0-d or 1-element offsets tensor; PyTorch has no derivative
    for spdiags, minigrad's values come from differentiable indexing: checked against
    finite differences."""
    def run(L):
        d = L.tensor(normal64(4, seed=2))
        return (L.sparse.spdiags(d, L.tensor(0), (3, 3)).to_dense(),
                L.sparse.spdiags(d, L.tensor([1]), [2, 4]).to_dense())
    HARNESS.check(run)
    d = minigrad.tensor(normal64(2, 4, seed=3), requires_grad=True)
    assert minigrad.autograd.gradcheck(
        lambda d: minigrad.sparse.spdiags(d, minigrad.tensor([0, -1]), (4, 3)).to_dense(), (d,))


@pytest.mark.parametrize("args", [
    lambda L, d: (d, L.tensor([0, 0, 1]), (3, 3)),
    lambda L, d: (d, L.tensor([0, 1]), (3, 3)),
    lambda L, d: (d, L.tensor([0.0, 1, 2]), (3, 3)),
    lambda L, d: (d, L.tensor([0, 1, 2], dtype=L.int32), (3, 3)),
    lambda L, d: (d, L.tensor([0, 1, 2]), (3, 3, 3)),
    lambda L, d: (d, L.tensor([[0, 1, 2]]), (3, 3)),
    lambda L, d: (d, L.tensor([0, 1, 2]), (3, 3), L.strided),
    lambda L, d: (d, (0, 1, 2), (3, 3)),
], ids=["duplicates", "count", "float", "int32", "3d_shape", "2d_offsets", "strided", "tuple"])
def test_spdiags_refuses_as_torch(args):
    def run(L):
        return L.sparse.spdiags(*args(L, L.tensor(normal64(3, 4, seed=4))))
    assert HARNESS.check(run) is not None


def test_hspmm_gives_a_hybrid_tensor_over_the_rows_with_entries():
    """torch.hspmm (missing before): sparse (n, m) @ dense (m, p) as a (1 + 1)-d hybrid COO
    tensor whose indices are the rows of mat1 holding an entry; its size and dtype errors in
    PyTorch's words; the gradient w.r.t. the dense matrix against finite differences."""
    def run(L):
        a = L.sparse_coo_tensor(L.tensor([[0, 3, 3, 0], [2, 0, 2, 1]]),
                                L.tensor(normal64(4, seed=5)), (5, 3))
        b = L.tensor(normal64(3, 2, seed=6))
        h = L.hspmm(a, b)
        errors = []
        for bad in (b[:2], b[:, 0], b.float()):
            try:
                L.hspmm(a, bad)
            except RuntimeError as exc:
                errors.append(str(exc))
        return (h._indices(), h._values(), h.to_dense(), h.is_coalesced(), h.sparse_dim(),
                h.dense_dim(), h.shape, errors)
    HARNESS.check(run)
    a = minigrad.sparse_coo_tensor(minigrad.tensor([[0, 3, 3], [2, 0, 1]]),
                                   minigrad.tensor(normal64(3, seed=7)), (5, 3))
    b = minigrad.tensor(normal64(3, 2, seed=8), requires_grad=True)
    assert minigrad.autograd.gradcheck(lambda b: minigrad.hspmm(a, b).to_dense(), (b,))


@pytest.mark.parametrize("make_mask", [
    lambda L: L.sparse_coo_tensor(L.tensor([[2, 0, 2], [1, 3, 1]]), L.ones(3), (3, 4)),
    lambda L: L.sparse_coo_tensor(L.tensor([[2, 0, 2], [1, 3, 1]]), L.ones(3), (3, 4)).coalesce(),
    lambda L: L.sparse_coo_tensor(L.tensor([[2, 0]]), L.ones(2, 4), (3, 4)),
    lambda L: L.tensor([[0.0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 4, 0]]).to_sparse_csr(),
], ids=["uncoalesced", "coalesced", "hybrid", "csr"])
def test_sparse_mask_gathers_self_at_the_masks_pattern(make_mask):
    """Tensor.sparse_mask (missing before): the mask's indices as they are (a repeat kept, the
    coalesced flag passed on), self's values there, whole rows for a hybrid mask, the CSR
    layout for a CSR mask; the values' gradient reaches self (a repeated position twice)."""
    def run(L):
        d = L.tensor(normal64(3, 4, seed=9), requires_grad=True)
        mask = make_mask(L)
        r = d.sparse_mask(mask)
        dense = r.to_dense()
        if r.layout == L.sparse_csr:       # (PyTorch's backward of this one fails)
            parts, g = (r.crow_indices(), r.col_indices(), r.values()), None
        else:
            parts = (r._indices(), r._values(), r.is_coalesced())
            (g,) = L.autograd.grad((dense * L.arange(12.0, dtype=L.float64).view(3, 4)).sum(),
                                   d)
        return parts, dense, g, str(r.layout), r.grad_fn.name()
    HARNESS.check(run)


def test_sparse_mask_refuses_a_mask_of_another_size():
    def run(L):
        return L.zeros(3, 4).sparse_mask(L.sparse_coo_tensor(L.tensor([[0]]), L.ones(1), (3,)))
    assert HARNESS.check(run) is not None


@pytest.mark.parametrize("out_int32", [False, True])
def test_index_conversions_between_coo_and_csr(out_int32):
    """torch._convert_indices_from_coo_to_csr / _csr_to_coo (missing before; torch_geometric's
    index2ptr calls the first): row pointers of sorted rows, empty rows and trailing rows
    included, and back, transposed too, in int64 or int32."""
    def run(L):
        rows = L.tensor([0, 0, 1, 3, 3, 3])
        crow = L._convert_indices_from_coo_to_csr(rows, 6, out_int32=out_int32)
        col = L.tensor([1, 2, 0, 0, 1, 2])
        return (crow, L._convert_indices_from_csr_to_coo(crow, col, out_int32=out_int32),
                L._convert_indices_from_csr_to_coo(crow, col, out_int32=out_int32,
                                                   transpose=True),
                L._convert_indices_from_coo_to_csr(L.tensor([], dtype=L.long), 3))
    HARNESS.check(run)
