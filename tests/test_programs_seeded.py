"""Whole seeded programs, run on minigrad and on PyTorch after ``lib.manual_seed(0)``.

Each ``program(lib)`` is a small version of what tutorials and popular repositories run: a
character-level LSTM trained a few steps then sampling text, a VAE step with the
reparameterisation trick, a DCGAN step, a DQN loop with an epsilon-greedy policy and a
replay buffer, a transformer encoder trained with dropout, a CNN over a shuffled DataLoader
and a random split, tensor augmentations, a DDPM training step, a policy-gradient step,
Hugging Face style ``_init_weights`` and ``torch.Generator`` driven reproducibility.  Since a
seed gives PyTorch's numbers in minigrad, the weights, masks, noise and samples are the same,
and the results (losses per step, final weights, sampled indices) are compared: integers and
sampled indices exactly, float32 values to ~1e-5 relative (sums and products round in a
different order; float32 normals of 16 or more may differ in the last place).
"""
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, dotted, registry  # noqa: E402

HARNESS = SideBySide(rename=dotted, rename_error=dotted,
                     tol={"float32": (1e-5, 1e-6), "float64": 1e-10}, scalar_tol=(1e-5, 1e-7),
                     tag=lambda v: type(v) is list, numpy_scalars=True, first_line=True)

PROGRAMS, program = registry()


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------------
# sequence models
# ----------------------------------------------------------------------------------------------
@program
def char_lstm_train_and_sample(lib):
    """A char-RNN: embed, LSTM, linear head; three Adam steps on a fixed text, then sampling
    with temperature through ``multinomial`` and ``Categorical``."""
    nn, F = lib.nn, lib.nn.functional
    lib.manual_seed(0)
    text = "hello world, hello minigrad"
    chars = sorted(set(text))
    idx = lib.tensor([chars.index(c) for c in text])

    class CharRNN(nn.Module):
        def __init__(self, vocab, hidden=16):
            super().__init__()
            self.emb = nn.Embedding(vocab, 8)
            self.lstm = nn.LSTM(8, hidden, batch_first=True)
            self.drop = nn.Dropout(0.1)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, x, state=None):
            out, state = self.lstm(self.emb(x), state)
            return self.head(self.drop(out)), state

    model = CharRNN(len(chars))
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        starts = lib.randint(0, len(text) - 9, (4,))
        x = lib.stack([idx[s:s + 8] for s in starts.tolist()])
        y = lib.stack([idx[s + 1:s + 9] for s in starts.tolist()])
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    sampled, state = [int(idx[0])], None
    with lib.no_grad():
        x = idx[:1].view(1, 1)
        for step in range(12):
            logits, state = model(x, state)
            probs = F.softmax(logits[0, -1] / 0.8, dim=-1)
            if step % 2:
                nxt = lib.multinomial(probs, 1)
            else:
                nxt = lib.distributions.Categorical(logits=logits[0, -1] / 0.8).sample().view(1)
            sampled.append(int(nxt))
            x = nxt.view(1, 1)
    return {"losses": losses, "sampled": sampled, "starts": starts,
            "head": model.head.weight.detach().clone()}


@program
def gru_classifier_with_packed_dropout(lib):
    """A two-layer GRU with inter-layer dropout, trained two SGD steps on random sequences."""
    nn = lib.nn
    lib.manual_seed(0)
    gru = nn.GRU(5, 7, num_layers=2, dropout=0.3, batch_first=True)
    head = nn.Linear(7, 3)
    opt = lib.optim.SGD(list(gru.parameters()) + list(head.parameters()), lr=0.1, momentum=0.9)
    x, y = lib.randn(4, 6, 5), lib.randint(0, 3, (4,))
    losses = []
    for _ in range(2):
        out, h = gru(x)
        loss = nn.functional.cross_entropy(head(h[-1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, head.weight.detach().clone(), y


@program
def transformer_encoder_with_dropout(lib):
    """A small TransformerEncoder (train mode, dropout 0.1) trained three AdamW steps on a
    token-classification task with a padding mask."""
    nn = lib.nn
    lib.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, dropout=0.1,
                                       batch_first=True)
    enc = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    emb, head = nn.Embedding(11, 16), nn.Linear(16, 11)
    params = list(enc.parameters()) + list(emb.parameters()) + list(head.parameters())
    opt = lib.optim.AdamW(params, lr=1e-3)
    tokens = lib.randint(1, 11, (3, 7))
    pad = lib.zeros(3, 7, dtype=lib.bool)
    pad[0, 5:] = True
    losses = []
    for _ in range(3):
        out = head(enc(emb(tokens), src_key_padding_mask=pad))
        loss = nn.functional.cross_entropy(out.reshape(-1, 11), tokens.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, head.bias.detach().clone()


# ----------------------------------------------------------------------------------------------
# generative models
# ----------------------------------------------------------------------------------------------
@program
def vae_reparameterisation_steps(lib):
    """A VAE on random 'images': encoder to (mu, logvar), z = mu + eps * std with
    ``randn_like``, BCE reconstruction plus KL; three Adam steps."""
    nn, F = lib.nn, lib.nn.functional
    lib.manual_seed(0)

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.mu, self.logvar = nn.Linear(20, 12), nn.Linear(12, 3), nn.Linear(12, 3)
            self.fc3, self.fc4 = nn.Linear(3, 12), nn.Linear(12, 20)

        def forward(self, x):
            h = F.relu(self.fc1(x))
            mu, logvar = self.mu(h), self.logvar(h)
            z = mu + lib.randn_like(mu) * lib.exp(0.5 * logvar)
            return lib.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar

    model = VAE()
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    data = lib.rand(6, 20)
    losses = []
    for _ in range(3):
        recon, mu, logvar = model(data)
        bce = F.binary_cross_entropy(recon, data, reduction="sum")
        kld = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = bce + kld
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with lib.no_grad():
        samples = model.fc4(F.relu(model.fc3(lib.randn(2, 3))))
    return losses, samples


@program
def dcgan_step(lib):
    """Two adversarial iterations at 8x8: a generator from ``randn(b, nz, 1, 1)`` noise
    through ConvTranspose2d + BatchNorm, a LeakyReLU discriminator, both initialised by an
    ``apply`` function that dispatches on the class name (N(0, 0.02) conv weights,
    N(1, 0.02) batch-norm scales), BCE against one label tensor refilled in place."""
    nn = lib.nn
    lib.manual_seed(0)
    nz = 6

    def gan_init(layer):
        kind = type(layer).__name__
        if "Conv" in kind:
            nn.init.normal_(layer.weight.data, 0.0, 0.02)
        elif "BatchNorm" in kind:
            nn.init.normal_(layer.weight.data, 1.0, 0.02)
            nn.init.constant_(layer.bias.data, 0)

    G = nn.Sequential(nn.ConvTranspose2d(nz, 8, 4, 1, 0, bias=False), nn.BatchNorm2d(8),
                      nn.ReLU(True), nn.ConvTranspose2d(8, 1, 4, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                      nn.Conv2d(8, 1, 4, 1, 0, bias=False), nn.Sigmoid())
    for net in (G, D):
        net.apply(gan_init)
    bce = nn.BCELoss()
    adam = {net: lib.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
            for net in (D, G)}
    fixed = lib.randn(2, nz, 1, 1)
    real = lib.rand(4, 1, 8, 8) * 2 - 1
    target = lib.full((4,), 1.0)

    def judged(images, truth):
        target.fill_(truth)
        return bce(D(images).view(-1), target)

    out = []
    for _ in range(2):
        # the critic first: real images towards 1, generated ones (cut from G) towards 0
        D.zero_grad()
        on_real = judged(real, 1.0)
        on_real.backward()
        made = G(lib.randn(4, nz, 1, 1))
        on_made = judged(made.detach(), 0.0)
        on_made.backward()
        adam[D].step()
        # then the generator, through the updated critic, towards 1
        G.zero_grad()
        fooled = judged(made, 1.0)
        fooled.backward()
        adam[G].step()
        out.append([on_real.item() + on_made.item(), fooled.item()])
    with lib.no_grad():
        G.eval()
        grid = G(fixed)
    return out, grid, G[1].running_mean.clone()


@program
def ddpm_training_step(lib):
    """A DDPM step: t from ``randint``, noise from ``randn_like``, x_t from the cumulative
    alphas, an MLP predicting the noise; two steps and one sampling step with fresh noise."""
    nn, F = lib.nn, lib.nn.functional
    lib.manual_seed(0)
    T = 50
    betas = lib.linspace(1e-4, 0.02, T)
    alphas_cumprod = lib.cumprod(1.0 - betas, dim=0)
    net = nn.Sequential(nn.Linear(9, 32), nn.SiLU(), nn.Linear(32, 8))
    opt = lib.optim.Adam(net.parameters(), lr=1e-3)
    x0 = lib.randn(16, 8)
    losses, ts = [], []
    for _ in range(2):
        t = lib.randint(0, T, (x0.shape[0],), dtype=lib.long)
        noise = lib.randn_like(x0)
        a = alphas_cumprod.gather(-1, t).reshape(-1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        pred = net(lib.cat([xt, (t.float() / T).unsqueeze(1)], dim=1))
        loss = F.mse_loss(pred, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        ts.append(t)
    with lib.no_grad():
        x = lib.randn(4, 8)
        t = T - 1
        eps = net(lib.cat([x, lib.full((4, 1), t / T)], dim=1))
        mean = (x - betas[t] / (1 - alphas_cumprod[t]).sqrt() * eps) / (1 - betas[t]).sqrt()
        x = mean + betas[t].sqrt() * lib.randn_like(x)
    return losses, ts, x


# ----------------------------------------------------------------------------------------------
# reinforcement learning
# ----------------------------------------------------------------------------------------------
@program
def dqn_epsilon_greedy_with_replay(lib):
    """A DQN loop on a made-up environment: epsilon-greedy with ``rand(1).item()`` and
    ``randint``, a list replay buffer sampled by ``randperm`` and by ``randint`` indices,
    Huber loss on TD targets, a target network synced every few steps."""
    nn, F = lib.nn, lib.nn.functional
    lib.manual_seed(0)
    q = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    target = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    target.load_state_dict(q.state_dict())
    opt = lib.optim.RMSprop(q.parameters(), lr=1e-2)
    buffer, actions, losses = [], [], []
    state = lib.rand(4)
    for step in range(24):
        eps = max(0.1, 1.0 - step / 12)
        if lib.rand(1).item() < eps:
            action = lib.randint(0, 2, (1,)).item()
        else:
            with lib.no_grad():
                action = q(state).argmax().item()
        actions.append(action)
        next_state = (state + lib.randn(4) * 0.1).clamp(0, 1)
        reward = float(next_state[action] > 0.5)
        buffer.append((state, action, reward, next_state, float(step % 8 == 7)))
        state = next_state
        if len(buffer) >= 8:
            if step % 2:
                idx = lib.randperm(len(buffer))[:6].tolist()
            else:
                idx = lib.randint(0, len(buffer), (6,)).tolist()
            s, a, r, s2, d = zip(*[buffer[i] for i in idx])
            s, s2 = lib.stack(s), lib.stack(s2)
            a, r, d = lib.tensor(a), lib.tensor(r), lib.tensor(d)
            qsa = q(s).gather(1, a.unsqueeze(1)).squeeze(1)
            with lib.no_grad():
                tgt = r + 0.99 * target(s2).max(1)[0] * (1 - d)
            loss = F.smooth_l1_loss(qsa, tgt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if step % 6 == 5:
            target.load_state_dict(q.state_dict())
    return actions, losses, _params(q)


# the loss is a sum of log-probabilities times normalised returns, which cancel to ~0.005:
# the policy's float32 softmax, an ulp apart here and there, leaves ~2e-6 of absolute error
@program(rtol=1e-5, atol=1e-5)
def reinforce_with_categorical(lib):
    """REINFORCE: actions sampled from ``Categorical(probs)``, log_prob times normalised
    discounted returns, two episodes of updates."""
    nn = lib.nn
    lib.manual_seed(0)
    policy = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 4), nn.Softmax(dim=-1))
    opt = lib.optim.Adam(policy.parameters(), lr=1e-2)
    out = []
    for _ in range(2):
        logps, rewards, acts = [], [], []
        s = lib.randn(3)
        for _ in range(6):
            m = lib.distributions.Categorical(policy(s))
            a = m.sample()
            logps.append(m.log_prob(a))
            acts.append(a.item())
            rewards.append(1.0 if a.item() == 2 else -0.1)
            s = lib.randn(3)
        R, returns = 0.0, []
        for r in reversed(rewards):
            R = r + 0.9 * R
            returns.insert(0, R)
        returns = lib.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + 1e-8)
        loss = -(lib.stack(logps) * returns).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append((acts, loss.item()))
    return out, _params(policy)


@program
def gaussian_policy_rsample(lib):
    """An actor-critic style continuous policy: Normal(mu, std).rsample(), tanh squashing,
    entropy bonus; one step."""
    nn = lib.nn
    lib.manual_seed(0)
    actor = nn.Linear(3, 4)
    log_std = nn.Parameter(lib.zeros(2))
    obs = lib.randn(5, 3)
    mu = actor(obs)[:, :2]
    dist = lib.distributions.Normal(mu, log_std.exp())
    u = dist.rsample()
    a = lib.tanh(u)
    logp = dist.log_prob(u).sum(-1) - lib.log(1 - a.pow(2) + 1e-6).sum(-1)
    loss = (logp - a.sum(-1)).mean() - 0.01 * dist.entropy().mean()
    loss.backward()
    return a, logp, actor.weight.grad, log_std.grad, dist.sample((2,))


@program
def gamma_family_samplers(lib):
    """Samplers built on PyTorch's gamma kernel (Marsaglia and Tsang's rejection from the
    generator's float64 uniforms and normals, alpha < 1 boosted): Gamma (float32 and
    float64, alpha below and above 1), Dirichlet (gammas normalised in float64), Beta,
    Chi2, StudentT, a Gamma rsample's gradient in the rate; then the stream goes on."""
    D = lib.distributions
    lib.manual_seed(0)
    rate = lib.tensor([1.0, 2.0, 0.5, 4.0], requires_grad=True)
    g = D.Gamma(lib.tensor([0.3, 1.0, 2.5, 7.0]), rate).rsample((3,))
    g.sum().backward()
    return [g, rate.grad,
            D.Gamma(lib.tensor([0.05, 0.7, 30.0], dtype=lib.float64), 1.0).sample((4,)),
            D.Dirichlet(lib.tensor([[0.5, 1.0, 2.0], [3.0, 0.2, 1.0]])).sample((2,)),
            D.Dirichlet(lib.tensor([0.1, 1.0, 10.0], dtype=lib.float64)).rsample(),
            D.Beta(lib.tensor([0.5, 2.0]), lib.tensor([1.0, 3.0])).sample((3,)),
            D.Chi2(lib.tensor([1.0, 4.0])).sample((2,)),
            D.StudentT(lib.tensor([3.0, 5.0])).sample((2,)),
            lib.rand(3)]


@program
def count_samplers(lib):
    """PyTorch's serial count kernels: Poisson (product of uniforms below rate 10, Hormann's
    transformed rejection from 10), Binomial (inversion below n q = 10, BTRS from it, a draw
    for p > 1/2 counted down from n), NegativeBinomial (a Poisson of a Gamma rate), the
    ``torch.poisson``/``torch.binomial`` functions with and without a generator."""
    D = lib.distributions
    lib.manual_seed(0)
    return [lib.poisson(lib.tensor([0.0, 0.5, 3.0, 9.9, 10.0, 50.0, 1000.0])),
            lib.poisson(lib.full((5,), 12.5, dtype=lib.float64),
                        generator=lib.Generator().manual_seed(3)),
            D.Poisson(lib.tensor([1.0, 30.0])).sample((3,)),
            D.Binomial(lib.tensor([100.0, 50.0, 1000.0, 30.0, 10.0]),
                       lib.tensor([0.3, 0.8, 0.5, 0.05, 0.7])).sample((6,)),
            lib.binomial(lib.tensor([10.0, 100.0, 3.5, -2.0, 5.0]),
                         lib.tensor([0.2, 0.6, 0.5, 0.5, 1.0])),
            lib.binomial(lib.full((4,), 40.0, dtype=lib.float64),
                         lib.full((4,), 0.45, dtype=lib.float64)),
            D.NegativeBinomial(lib.tensor([3.0, 10.0]), probs=lib.tensor([0.3, 0.8])).sample((3,)),
            lib.rand(2)]


@program
def mixup_with_beta(lib):
    """Mixup as in the papers' code: lam from ``Beta(alpha, alpha).sample()``, a ``randperm``
    partner per row, the loss mixed by lam; two SGD steps."""
    nn, F = lib.nn, lib.nn.functional
    lib.manual_seed(0)
    model = nn.Linear(6, 3)
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    x, y = lib.randn(8, 6), lib.randint(0, 3, (8,))
    beta = lib.distributions.Beta(lib.tensor([0.4]), lib.tensor([0.4]))
    out = []
    for _ in range(2):
        lam = beta.sample().item()
        perm = lib.randperm(x.size(0))
        pred = model(lam * x + (1 - lam) * x[perm])
        loss = lam * F.cross_entropy(pred, y) + (1 - lam) * F.cross_entropy(pred, y[perm])
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append((lam, perm, loss.item()))
    return out, _params(model)


@program
def wishart_samples_warn_as_torch(lib):
    """Wishart draws (Bartlett: chi-squares, then normals for the strictly lower entries row
    by row); PyTorch's first check flags the draws that pass it, so even a well-conditioned
    draw warns "Singular sample detected." and is drawn again once, as here."""
    D = lib.distributions
    lib.manual_seed(0)
    tril = lib.tensor([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [0.1, 0.2, 1.0]])
    return [D.Wishart(lib.tensor([4.0, 6.0]), scale_tril=tril).rsample((2,)),
            D.Wishart(lib.tensor(3.0), precision_matrix=2 * lib.eye(3)).sample(),
            lib.rand(2)]


# ----------------------------------------------------------------------------------------------
# vision and data pipelines
# ----------------------------------------------------------------------------------------------
@program
def cnn_two_epochs_shuffled_loader(lib):
    """A CNN on random images: ``random_split`` into train/val, ``DataLoader(shuffle=True)``
    over two epochs, dropout, SGD with momentum; losses per batch and validation accuracy."""
    nn, F = lib.nn, lib.nn.functional
    data = lib.utils.data
    lib.manual_seed(0)
    X, Y = lib.randn(20, 1, 8, 8), lib.randint(0, 3, (20,))
    train, val = data.random_split(data.TensorDataset(X, Y), [14, 6])
    loader = data.DataLoader(train, batch_size=4, shuffle=True)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.25), nn.Linear(64, 3))
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses, seen = [], []
    for _ in range(2):
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            seen.append(yb)
    model.eval()
    with lib.no_grad():
        xv, yv = next(iter(data.DataLoader(val, batch_size=6)))
        acc = (model(xv).argmax(1) == yv).float().mean().item()
    return losses, seen, acc, list(val.indices)


@program
def tensor_augmentations(lib):
    """Augmentations written on tensors: random crop offsets by ``randint``, horizontal flip
    if ``rand(1) < 0.5``, per-sample brightness by ``rand``, gaussian noise, random erasing
    and mixup with a ``randperm``."""
    lib.manual_seed(0)
    imgs = lib.arange(2 * 3 * 10 * 10, dtype=lib.float32).reshape(2, 3, 10, 10) / 600
    out = []
    for img in imgs:
        i = lib.randint(0, 10 - 8 + 1, size=(1,)).item()
        j = lib.randint(0, 10 - 8 + 1, size=(1,)).item()
        img = img[:, i:i + 8, j:j + 8]
        if lib.rand(1) < 0.5:
            img = img.flip(-1)
        img = img * (0.8 + 0.4 * lib.rand(1))
        img = img + 0.05 * lib.randn(img.shape)
        if lib.rand(1).item() < 0.7:
            h, w = lib.randint(2, 5, (2,)).tolist()
            y0, x0 = lib.randint(0, 8 - h, (1,)).item(), lib.randint(0, 8 - w, (1,)).item()
            img = img.clone()
            img[:, y0:y0 + h, x0:x0 + w] = lib.empty(3, h, w).normal_()
        out.append(img)
    batch = lib.stack(out)
    lam = lib.distributions.Beta(lib.tensor([1.0]), lib.tensor([1.0]))
    perm = lib.randperm(batch.size(0))
    mixed = 0.3 * batch + 0.7 * batch[perm]
    flips = lib.rand(5) < 0.5
    return batch, perm, mixed, flips, lam.batch_shape


# ----------------------------------------------------------------------------------------------
# initialisation and generators
# ----------------------------------------------------------------------------------------------
@program
def hf_init_weights_then_forward(lib):
    """A Hugging Face style ``_init_weights`` (normal_(0, 0.02) for Linear and Embedding,
    zeroed padding row and biases, LayerNorm ones/zeros, xavier/kaiming/orthogonal/
    trunc_normal_ elsewhere) followed by a forward pass in eval mode."""
    nn = lib.nn
    lib.manual_seed(0)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(13, 8, padding_idx=0)
            self.wpe = nn.Embedding(6, 8)
            self.ln = nn.LayerNorm(8)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8))
            self.conv = nn.Conv1d(8, 8, 3, padding=1)
            self.rnn = nn.GRU(8, 8, batch_first=True)
            self.lm_head = nn.Linear(8, 13, bias=False)
            self.apply(self._init_weights)
            nn.init.xavier_uniform_(self.mlp[0].weight)
            nn.init.kaiming_uniform_(self.conv.weight, a=5 ** 0.5)
            nn.init.trunc_normal_(self.wpe.weight, std=0.02)
            for name, p in self.rnn.named_parameters():
                if "weight_hh" in name:
                    nn.init.orthogonal_(p)
                elif "weight_ih" in name:
                    nn.init.xavier_normal_(p)

        def _init_weights(self, module):
            # N(0, 0.02) matrices for Linear and Embedding, zero biases and padding row,
            # identity LayerNorms; all written through .data
            if isinstance(module, nn.LayerNorm):
                module.weight.data.fill_(1.0)
                module.bias.data.zero_()
                return
            if not isinstance(module, (nn.Linear, nn.Embedding)):
                return
            table = module.weight.data
            table.normal_(mean=0.0, std=0.02)
            if isinstance(module, nn.Embedding):
                if module.padding_idx is not None:
                    table[module.padding_idx].zero_()
            elif module.bias is not None:
                module.bias.data.zero_()

        def forward(self, ids):
            pos = lib.arange(ids.shape[1])
            h = self.ln(self.wte(ids) + self.wpe(pos))
            a, _ = self.attn(h, h, h, need_weights=False)
            h = h + a + self.mlp(h)
            h = h + self.conv(h.transpose(1, 2)).transpose(1, 2)
            h, _ = self.rnn(h)
            return self.lm_head(h)

    model = Tiny().eval()
    ids = lib.randint(0, 13, (2, 6))
    with lib.no_grad():
        logits = model(ids)
    return logits, ids, _params(model)


@program
def generators_side_by_side(lib):
    """Two ``torch.Generator``s and the global stream kept apart: ``generator=`` on rand,
    randn, randint, randperm, multinomial, normal_/uniform_/bernoulli_, DataLoader and
    random_split; a generator's state saved and restored."""
    data = lib.utils.data
    lib.manual_seed(0)
    g1, g2 = lib.Generator().manual_seed(1), lib.Generator().manual_seed(2)
    out = [lib.rand(3, generator=g1), lib.randn(3, generator=g2), lib.rand(2)]
    state = g1.get_state()
    out.append(lib.randint(0, 100, (5,), generator=g1))
    g1.set_state(state)
    out.append(lib.randint(0, 100, (5,), generator=g1))
    out.append(lib.randperm(7, generator=g2))
    out.append(lib.multinomial(lib.tensor([0.1, 0.2, 0.7]), 4, replacement=True, generator=g1))
    out.append(lib.multinomial(lib.tensor([0.1, 0.2, 0.3, 0.4]), 3, generator=g2))
    out.append(lib.empty(4).normal_(generator=g1))
    out.append(lib.empty(4).uniform_(-1, 1, generator=g2))
    out.append(lib.empty(6).bernoulli_(0.5, generator=g1))
    out.append(lib.bernoulli(lib.full((6,), 0.3), generator=g2))
    out.append(lib.normal(0.0, 1.0, (3,), generator=g1))
    loader = data.DataLoader(list(range(10)), batch_size=3, shuffle=True,
                             generator=lib.Generator().manual_seed(5))
    out.append([b.tolist() for b in loader])
    out.append([b.tolist() for b in loader])
    split = data.random_split(range(10), [0.5, 0.3, 0.2], generator=lib.Generator().manual_seed(42))
    out.append([list(s.indices) for s in split])
    out.append(lib.randn(2))
    out.append(g1.initial_seed())
    return out


@program
def seeding_twice_repeats_the_run(lib):
    """A helper that seeds and builds a model twice gives the same weights; ``seed()`` after
    ``manual_seed`` and ``initial_seed`` report as PyTorch's."""
    def build():
        lib.manual_seed(1234)
        return lib.nn.Linear(3, 2).weight.detach().clone(), lib.randn(2)
    (w1, r1), (w2, r2) = build(), build()
    return w1, r1, bool((w1 == w2).all()), bool((r1 == r2).all()), lib.initial_seed()


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__ for p in PROGRAMS])
def test_seeded_program(program):
    HARNESS.check(program)
