"""Whole programs of the fifteenth round, part e: equivariance, samplers, associative
memories, graphs, retrieval and factorised layers, and what debugging prints show.  A p4
group-equivariant CNN by rot90 filters, EDM's preconditioning with a Karras schedule and Heun
sampler, modern Hopfield retrieval and pooling, a gated graph neural network, kNN-LM
interpolation, Deep CCA, tensor-train and CP layers; and two programs that print their
intermediates (special functions, linear algebra, unpooling, channel shuffles, unsafe splits,
index_reduce, combinations), whose grad_fn names must be PyTorch's.

The harness is part a's: both libraries run each program on the same numpy inputs and
seeded weights and must agree in values, dtypes, shapes and requires_grad (and printed
tensors, grad_fn names included, where a program prints them).
"""
import math

import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# equivariance, diffusion samplers, associative memories
# ----------------------------------------------------------------------------------------------
@program
def p4_group_convolution_lifting_by_rot90_filters_and_rotation_pooling(L):
    """A rotation-equivariant CNN (p4): the lifting layer convolves with the four rot90
    copies of each filter stacked along a new group axis, the group layer additionally
    rolls the incoming rotation axis, a max over rotations (group pooling) then a spatial
    mean; the logits of a rotated image equal those of the image; one Adam step."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(60)
    w1 = nn.Parameter(_t(L, 3, 1, 3, 3, scale=0.5, seed=61))
    w2 = nn.Parameter(_t(L, 4, 3, 4, 3, 3, scale=0.3, seed=62))
    head = nn.Linear(4, 2).double()

    def lift(x):
        w = L.stack([L.rot90(w1, r, dims=(2, 3)) for r in range(4)], 1)
        out = F.conv2d(x, w.reshape(-1, 1, 3, 3), padding=1)
        return out.view(x.shape[0], 3, 4, *x.shape[-2:])

    def group_conv(h):
        ws = [L.rot90(w2.roll(r, dims=2), r, dims=(3, 4)) for r in range(4)]
        w = L.stack(ws, 1).reshape(4 * 4, 3 * 4, 3, 3)
        out = F.conv2d(h.reshape(h.shape[0], 12, *h.shape[-2:]), w, padding=1)
        return out.view(h.shape[0], 4, 4, *h.shape[-2:])

    def forward(x):
        h = group_conv(F.relu(lift(x)))
        return head(h.amax(2).mean((-2, -1)))

    x = _t(L, 2, 1, 5, 5, seed=63)
    y = L.tensor([0, 1])
    opt = L.optim.Adam([w1, w2, *head.parameters()], lr=0.01)
    logits = forward(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with L.no_grad():
        a, b = forward(x), forward(L.rot90(x, 1, dims=(2, 3)))
    return dict(logits=logits.detach(), loss=loss, gap=(a - b).abs().max(), g1=w1.grad,
                g2=w2.grad, after=a)


@program
def edm_preconditioning_karras_sigmas_and_heun_sampler(L):
    """EDM-style diffusion: a denoiser wrapped with c_skip, c_out, c_in and the noise conditioning
    log(sigma)/4, training sigmas from a log-normal draw after manual_seed, the loss weight
    (sigma^2 + sd^2) / (sigma sd)^2; then a Karras sigma schedule (rho = 7) with a trailing
    zero and Heun's second-order sampler (an Euler step corrected unless the next sigma is
    zero) under no_grad."""
    nn = L.nn
    sd = 0.5
    L.manual_seed(64)
    net = nn.Sequential(nn.Linear(3, 16), nn.SiLU(), nn.Linear(16, 2)).double()

    def denoise(x, sigma):
        """D(x; sigma): the noisy input passed through in part and the network's output
        added in part, both weighted by sigma so that the network's input and its regression
        target have unit variance; the network also sees log(sigma) / 4."""
        s = sigma.view(-1, 1)
        total = s ** 2 + sd ** 2                    # variance of the noisy input
        inner = net(L.cat([(1 / total.sqrt()) * x, s.log() / 4], 1))
        return (sd ** 2 / total) * x + (s * sd / total.sqrt()) * inner

    data = L.tensor([[1.0, 0.5], [-0.5, -1.0], [0.3, 0.2], [0.8, -0.7]], dtype=L.float64)
    opt = L.optim.Adam(net.parameters(), lr=0.01)
    losses = []
    for step in range(3):
        L.manual_seed(65 + step)
        sigma = (L.randn(4, dtype=L.float64) * 1.2 - 1.2).exp()
        noisy = data + L.randn_like(data) * sigma[:, None]
        weight = (sigma ** 2 + sd ** 2) / (sigma * sd) ** 2
        loss = (weight[:, None] * (denoise(noisy, sigma) - data) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    n, smin, smax, rho = 5, 0.002, 80.0, 7.0
    # n noise levels evenly spaced in sigma ** (1 / rho), largest first, then a final zero
    hi, lo = smax ** (1 / rho), smin ** (1 / rho)
    sigmas = (hi + L.linspace(0, 1, n, dtype=L.float64) * (lo - hi)) ** rho
    sigmas = L.cat([sigmas, sigmas.new_zeros(1)])

    def slope(x, s):
        """dx/dsigma of the probability-flow ODE at noise level s."""
        return (x - denoise(x, s.expand(3))) / s

    L.manual_seed(70)
    x = L.randn(3, 2, dtype=L.float64) * sigmas[0]
    with L.no_grad():
        for i in range(n):
            here, there = sigmas[i], sigmas[i + 1]
            d = slope(x, here)
            euler = x + (there - here) * d
            # trapezoid correction with the slope at the Euler point, except into sigma = 0
            x = x + (there - here) * (d + slope(euler, there)) / 2 if there > 0 else euler
    return dict(losses=losses, sigmas=sigmas, x=x, w=net.state_dict())


@program
def modern_hopfield_retrieval_and_hopfield_pooling_layer(L):
    """Modern Hopfield networks: retrieval of stored patterns by iterating xi <- X softmax(beta
    X^T xi) from a corrupted query (one step converges for a large beta), the energy
    -lse(beta, X^T xi) + xi^T xi / 2 decreasing; a Hopfield pooling layer with a learned
    state pattern as query over projected inputs, trained by Adam for two steps."""
    nn, F = L.nn, L.nn.functional
    d, N = 6, 4
    X = F.normalize(_t(L, d, N, seed=66), dim=0) * 2
    xi = X[:, 1] + 0.3 * _t(L, d, seed=67)
    beta = 4.0
    energies, states = [], [xi]
    for _ in range(3):
        e = -L.logsumexp(beta * X.T @ xi, 0) / beta + 0.5 * xi @ xi
        energies.append(e.item())
        xi = X @ F.softmax(beta * X.T @ xi, 0)
        states.append(xi)
    L.manual_seed(68)
    query = nn.Parameter(_t(L, 1, 1, 4, scale=0.5, seed=69))
    wk, wv = nn.Linear(d, 4).double(), nn.Linear(d, 4).double()
    out = nn.Linear(4, 2).double()
    seqs, y = _t(L, 3, 5, d, seed=70), L.tensor([0, 1, 1])
    opt = L.optim.Adam([query, *wk.parameters(), *wv.parameters(), *out.parameters()],
                       lr=0.02)
    losses = []
    for _ in range(2):
        att = F.softmax(beta * query @ wk(seqs).transpose(1, 2) / 2, -1)
        pooled = (att @ wv(seqs)).squeeze(1)
        loss = F.cross_entropy(out(pooled), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(energies=energies, states=L.stack(states), losses=losses, att=att.detach(),
                gq=query.grad, retrieved=(X.T @ xi).argmax())


# ----------------------------------------------------------------------------------------------
# graphs, retrieval, multi-view learning, factorised layers
# ----------------------------------------------------------------------------------------------
@program
def gated_graph_neural_network_propagation_by_gru_cell(L):
    """A gated graph neural network: node annotations zero-padded to the state size, per
    edge type a Linear message, messages summed into targets by index_add over incoming
    edges of each type, several propagation steps of a shared GRUCell, a graph-level
    readout sum(sigmoid(i([h, x])) * j(h)) per graph by index_add over a batch vector."""
    nn, F = L.nn, L.nn.functional
    N, A, Hd, E = 7, 2, 5, 2
    L.manual_seed(71)
    msg = nn.ModuleList([nn.Linear(Hd, Hd, bias=False) for _ in range(E)]).double()
    cell = nn.GRUCell(Hd, Hd).double()
    gate, emb = nn.Linear(Hd + A, 1).double(), nn.Linear(Hd, 3).double()
    ann = _t(L, N, A, seed=72)
    edges = [(L.tensor([0, 1, 2, 4, 5]), L.tensor([1, 2, 3, 5, 6])),
             (L.tensor([3, 1, 6]), L.tensor([0, 3, 4]))]
    batch = L.tensor([0, 0, 0, 0, 1, 1, 1])
    h = F.pad(ann, (0, Hd - A))
    for _ in range(3):
        a = L.zeros_like(h)
        for (src, dst), lin in zip(edges, msg):
            a = a.index_add(0, dst, lin(h[src]))
        h = cell(a, h)
    node = L.sigmoid(gate(L.cat([h, ann], 1))) * emb(h)
    graph = L.zeros(2, 3, dtype=L.float64).index_add(0, batch, node)
    loss = F.cross_entropy(graph, L.tensor([2, 0]))
    loss.backward()
    return dict(h=h.detach(), graph=graph.detach(), loss=loss, gm=grads_of(msg),
                gc=grads_of(cell))


@program
def knn_lm_datastore_interpolation_by_cdist_topk_and_scatter_add(L):
    """kNN-LM: a datastore of (context vector, next token) pairs built under no_grad from a
    tiny LM, the nearest neighbours of each query context by cdist and topk(largest=False),
    a distribution over the vocabulary by softmax of negative distances scatter_add'ed onto
    the neighbours' tokens, interpolated with the LM's in log space by logsumexp of the two
    weighted log-probabilities; the perplexities of the LM, the kNN and the mixture."""
    nn, F = L.nn, L.nn.functional
    V, D, k, lam = 8, 5, 3, 0.3
    L.manual_seed(73)
    emb, rnn, out = nn.Embedding(V, D).double(), nn.GRU(D, D, batch_first=True).double(), \
        nn.Linear(D, V).double()
    train = L.tensor([[1, 2, 3, 4, 5, 6], [2, 3, 4, 7, 7, 1], [5, 6, 1, 2, 3, 0]])
    with L.no_grad():
        keys = rnn(emb(train[:, :-1]))[0].reshape(-1, D)
        vals = train[:, 1:].reshape(-1)
    # (no test prefix is a training one: a query on a stored key is at distance 0, where
    # cdist's gradient is PyTorch's rounding noise, machine by machine)
    test = L.tensor([[3, 2, 1, 4, 7], [6, 5, 2, 1, 0]])
    h = rnn(emb(test[:, :-1]))[0].reshape(-1, D)
    target = test[:, 1:].reshape(-1)
    lm = F.log_softmax(out(h), -1)
    dist, idx = L.cdist(h, keys).topk(k, dim=1, largest=False)
    w = F.softmax(-dist, -1)
    knn = L.zeros(h.shape[0], V, dtype=L.float64).scatter_add(1, vals[idx], w)
    mix = L.logsumexp(L.stack([lm + math.log(1 - lam),
                               L.log(knn.clamp_min(1e-10)) + math.log(lam)]), 0)
    nll = [F.nll_loss(lp, target) for lp in (lm, L.log(knn.clamp_min(1e-10)), mix)]
    nll[2].backward()
    return dict(idx=idx, dist=dist.detach(), knn=knn.detach(), ppl=[n.exp().item() for n in nll],
                g=grads_of(rnn), go=out.weight.grad)


@program
def deep_cca_correlation_by_whitened_cross_covariance_singular_values(L):
    """Deep CCA's objective: two views through their own networks, centred, regularised
    covariances, inverse square roots by eigh (V diag(d^-1/2) V^T), the total correlation as
    the trace norm of T = S11^-1/2 S12 S22^-1/2 (sum of svdvals, also the trace of
    sqrtm(T^T T) by eigh), its negative minimised by two Adam steps."""
    nn = L.nn
    L.manual_seed(74)
    f = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    g = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    z = _t(L, 30, 2, seed=75)
    x1 = L.cat([z, _t(L, 30, 2, seed=76)], 1) @ _t(L, 4, 4, seed=77)
    x2 = L.cat([z, _t(L, 30, 3, seed=78)], 1) @ _t(L, 5, 5, seed=79)
    opt = L.optim.Adam([*f.parameters(), *g.parameters()], lr=0.01)
    r = 1e-3

    def inv_sqrt(S):
        d, V = L.linalg.eigh(S)
        return V @ L.diag_embed(d.clamp_min(1e-9).rsqrt()) @ V.T

    logs = []
    for _ in range(2):
        h1, h2 = f(x1), g(x2)
        h1, h2 = h1 - h1.mean(0), h2 - h2.mean(0)
        m = h1.shape[0] - 1
        S11 = h1.T @ h1 / m + r * L.eye(3, dtype=L.float64)
        S22 = h2.T @ h2 / m + r * L.eye(3, dtype=L.float64)
        S12 = h1.T @ h2 / m
        T = inv_sqrt(S11) @ S12 @ inv_sqrt(S22)
        corr = L.linalg.svdvals(T).sum()
        corr2 = L.linalg.eigvalsh(T.T @ T).clamp_min(1e-12).sqrt().sum()
        loss = -corr
        opt.zero_grad()
        loss.backward()
        opt.step()
        logs.append((corr.item(), corr2.item()))
    return dict(logs=logs, g=grads_of(f), T=T.detach())


@program
def tensor_train_and_cp_factorised_linear_layers(L):
    """Factorised weight layers: a tensor-train linear whose 16 x 9 weight is never formed
    (the input reshaped to (B, 4, 4) and contracted with two TT cores by einsum), checked
    against the dense weight rebuilt from the cores, and a CP (rank-R) bilinear layer
    einsum('bi,bj,ir,jr,or->bo'); trained together by SGD with momentum."""
    nn, F = L.nn, L.nn.functional
    R = 2
    c1 = nn.Parameter(_t(L, 4, 3, R, scale=0.5, seed=80))
    c2 = nn.Parameter(_t(L, R, 4, 3, scale=0.5, seed=81))
    A = nn.Parameter(_t(L, 9, 3, scale=0.5, seed=82))
    B_ = nn.Parameter(_t(L, 4, 3, scale=0.5, seed=83))
    C = nn.Parameter(_t(L, 2, 3, scale=0.5, seed=84))
    x, s = _t(L, 6, 16, seed=85), _t(L, 6, 4, seed=86)
    y = L.tensor(_labels(6, 2, 87))
    opt = L.optim.SGD([c1, c2, A, B_, C], lr=0.1, momentum=0.9)
    gaps = []
    for _ in range(2):
        h = L.einsum("bmn,mir,rnj->bij", x.view(-1, 4, 4), c1, c2).reshape(-1, 9)
        logits = L.einsum("bi,bj,ir,jr,or->bo", L.tanh(h), s, A, B_, C)
        loss = F.cross_entropy(logits, y)
        dense = L.einsum("mir,rnj->mnij", c1, c2).reshape(16, 9)
        gaps.append((x @ dense - h).abs().max().item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return dict(h=h.detach(), loss=loss, gaps=gaps, w=dense.detach(),
                g=[c1.grad, c2.grad, A.grad, B_.grad, C.grad])


# ----------------------------------------------------------------------------------------------
# what debugging prints show
# ----------------------------------------------------------------------------------------------
@program
def probit_gp_classifier_printing_special_and_linalg_intermediates(L):
    """A Gaussian-process probit classifier debugged by printing: an RBF kernel with a learned
    length scale, its Cholesky factor, the latent function through the whitened
    parametrisation, the probit likelihood by special.log_ndtr and the probabilities by
    special.ndtr, the kernel solved by lu_factor/lu_solve, linalg.lu, solve_triangular from
    both sides, qr, eigvals and the LDL factorisation; a robust cap by quantile and
    nanquantile, and the special functions of the von Mises and Student-t terms (i0e, i1e,
    erfcx, ndtri, entr, multigammaln, zeta).  Every intermediate is printed (values and
    grad_fn), then the loss is backpropagated."""
    LA, S = L.linalg, L.special
    x = _t(L, 5, 2, seed=90)
    y = L.tensor([0.0, 1.0, 1.0, 0.0, 1.0], dtype=L.float64)
    log_ls = _t(L, 1, scale=0.1, seed=91, grad=True)
    z = _t(L, 5, scale=0.5, seed=92, grad=True)
    K = L.exp(-L.cdist(x, x) ** 2 / (2 * log_ls.exp() ** 2)) + 1e-2 * L.eye(5, dtype=L.float64)
    C = LA.cholesky(K)
    f = C @ z
    loglik = S.log_ndtr((2 * y - 1) * f)
    probs = S.ndtr(f)
    LU, piv = LA.lu_factor(K)
    alpha = LA.lu_solve(LU, piv, y[:, None])
    P, Lo, U = LA.lu(K)
    left = LA.solve_triangular(C, y[:, None], upper=False)
    right = LA.solve_triangular(C.mT, left.mT, upper=True, left=False)
    Q, R = LA.qr(K)
    ev = LA.eigvals(K)
    LD, pivots = LA.ldl_factor(K)
    cap = L.quantile(f, 0.9)
    caps = L.nanquantile(f.view(5, 1).expand(5, 2), L.tensor([0.25, 0.75], dtype=L.float64),
                         dim=0)
    kappa = f.abs() + 0.5
    special = [S.i0e(kappa), S.i1e(kappa), S.i1(kappa), S.erfcx(f), S.ndtri(probs),
               S.entr(probs), S.multigammaln(kappa + 2, 2),
               S.zeta(kappa.detach() + 2, kappa + 1)]
    shown = [K, C, f, loglik, probs, LU, alpha, Lo, U, left, right, R, ev, LD, cap, caps] + \
        special
    lines = [repr(t) for t in shown] + [str(P), str(Q.grad_fn.name()), str(piv.dtype)]
    loss = -loglik.sum() + 0.5 * (z ** 2).sum() + (f.clamp(max=cap) ** 2).mean() + \
        sum(t.sum() for t in special) + alpha.sum() + right.sum() + R.diagonal().abs().sum() + \
        ev.real.sum() + Lo.sum() + U.sum()
    loss.backward()
    return dict(lines=lines, loss=loss, gz=z.grad, gls=log_ls.grad,
                ldl_grad=err(lambda: LD.sum().backward()))


@program
def pooling_autoencoder_shuffle_unit_and_gate_splits_printed_while_training(L):
    """A SegNet-style pooling autoencoder (max_pool2d with return_indices, max_unpool2d in the
    decoder, a 1-d variant with max_unpool1d), a ShuffleNet unit (channel_shuffle after a
    grouped 1x1 conv, nn.ChannelShuffle), LSTM-style gates cut by unsafe_chunk and
    unsafe_split, per-segment means by index_reduce, pair features by combinations and the
    deprecated triangular_solve of an old script; the intermediates printed as a training
    script logs them, then two SGD steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(93)
    enc = nn.Conv2d(1, 4, 3, padding=1).double()
    mix = nn.Conv2d(4, 4, 1, groups=2).double()
    dec = nn.Conv2d(4, 1, 3, padding=1).double()
    gates = nn.Linear(4, 16).double()
    shuffle = nn.ChannelShuffle(2)
    params = [*enc.parameters(), *mix.parameters(), *dec.parameters(), *gates.parameters()]
    opt = L.optim.SGD(params, lr=0.05)
    img = _t(L, 2, 1, 6, 6, seed=94)
    seg = L.tensor([0, 0, 1, 1])
    lines = []
    for _ in range(2):
        h = F.relu(enc(img))
        p, idx = F.max_pool2d(h, 2, return_indices=True)
        s1 = F.channel_shuffle(mix(p), 2)
        s2 = shuffle(s1)
        up = F.max_unpool2d(s2, idx, 2, output_size=h.shape[-2:])
        recon = dec(up)
        row = h.mean(2)
        p1, i1 = F.max_pool1d(row, 2, return_indices=True)
        un1 = F.max_unpool1d(p1, i1, 2)
        v = s2.mean((2, 3))
        i, f_, g, o = gates(v).unsafe_chunk(4, 1)
        a, b = v.unsafe_split(2, 1)
        c = L.sigmoid(f_) * L.tanh(g) + L.sigmoid(i)
        seg_mean = L.zeros(2, 4, dtype=L.float64).index_reduce(
            1, seg, c * L.sigmoid(o), "mean", include_self=False)
        pairs = L.combinations(v[0], 2)
        T = L.eye(4, dtype=L.float64) + 0.1 * v.T @ v
        sol, cloned = L.triangular_solve(v.T, T, upper=False)
        loss = F.mse_loss(recon, img) + un1.pow(2).mean() + seg_mean.pow(2).mean() + \
            (pairs[:, 0] * pairs[:, 1]).sum() + sol.pow(2).mean() + (a * b).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        lines.append([repr(t) for t in (s1, s2, up.sum(), un1, i, a, seg_mean, pairs, sol,
                                        cloned)])
    return dict(lines=lines, loss=loss, idx=idx, g=grads_of(mix), gg=grads_of(gates))



@program
def joint_angles_in_degrees_and_a_voxel_decoder_printed_while_fitting(L):
    """Forward kinematics of a planar arm written in degrees (deg2rad in, atan2 and rad2deg
    out), the end-effector covariance jittered by fill_diagonal_ and factored by the old
    torch.cholesky, the Jacobian factored by torch.lu and unpacked by lu_unpack, the
    rotation's eigenvalues by linalg.eig, the state cut by unsafe_split_with_sizes; a
    voxel decoder unpooling with max_unpool3d; every intermediate printed with its grad_fn,
    then the fit's gradient."""
    F = L.nn.functional
    deg = L.tensor([30.0, -45.0, 60.0], dtype=L.float64, requires_grad=True)
    links = L.tensor([1.0, 0.8, 0.5], dtype=L.float64)
    th = L.cumsum(L.deg2rad(deg), 0)
    xy = L.stack([(links * th.cos()).sum(), (links * th.sin()).sum()])
    heading = L.rad2deg(L.atan2(xy[1], xy[0]))
    J = L.stack([-(links * th.sin()).flip(0).cumsum(0).flip(0),
                 (links * th.cos()).flip(0).cumsum(0).flip(0)])
    cov = J @ J.T
    cov.fill_diagonal_(20.0)
    C = L.cholesky(cov)
    LU, piv = L.lu(J[:, :2])
    P, Lo, U = L.lu_unpack(LU, piv)
    rot = L.stack([L.stack([th[-1].cos(), -th[-1].sin()]), L.stack([th[-1].sin(), th[-1].cos()])])
    vals, vecs = L.linalg.eig(rot)
    a, b = L.cat([xy, th]).unsafe_split_with_sizes([2, 3])
    vox = _t(L, 1, 1, 4, 4, 4, seed=95, grad=True)
    pooled, idx = F.max_pool3d(vox, 2, return_indices=True)
    up = F.max_unpool3d(pooled * 2, idx, 2)
    shown = [th, xy, heading, cov, C, LU, Lo, U, vals, vecs, a, b, up.sum()]
    loss = (xy - L.tensor([1.2, 0.9], dtype=L.float64)).pow(2).sum() + heading / 100 + \
        C.diagonal().sum() + Lo.sum() + U.sum() + vals.real.sum() + up.pow(2).sum() + b.sum()
    loss.backward()
    return dict(lines=[repr(t) for t in shown], gdeg=deg.grad, gvox=vox.grad, loss=loss)

# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
