"""Whole programs of round 42: whole scripts in the manner of popular repositories.

The PyTorch examples' kinds of scripts (a word-level language model with tied weights,
batchified corpora and hidden-state repackaging; DCGAN; a VAE; actor-critic and REINFORCE;
time-sequence prediction with LSTMCells and L-BFGS; a siamese network; the MNIST,
regression, super-resolution, forward-forward and GAT examples; round 39 has the fast neural
style net), nanoGPT and minGPT (configure_optimizers, causal attention with a buffer mask,
generate with top-k, gradient accumulation, warmup-cosine schedules, checkpoints), timm's
layers (DropPath, LayerScale, squeeze-excite, ConvNeXt blocks, weight EMA, mixup), the
torchvision reference training loop (weight-decay groups by norm class, chained warmup
schedulers, EMA by AveragedModel, top-k accuracy), d2l chapters written from scratch
(softmax regression, an RNN, batch norm, masked-softmax attention, seq2seq) and
Lightning-like loops (seeding, inference-mode validation, early stopping, checkpoints in
memory).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same seeded weights; both must give the same values, dtypes, shapes and requires_grad,
or raise the same exception type with torch's words, and warn alike (tests/side_by_side.py).
"""
import collections
import copy
import inspect
import io
import math
import random
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import labels, normal64, program_harness, registry  # noqa: E402

HARNESS = program_harness()
PROGRAMS, program = registry()


def _t(L, a, grad=False):
    """A float64 tensor of ``L`` holding the numpy array ``a``."""
    return L.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _f32(L, a):
    """A float32 tensor of ``L`` holding the numpy array ``a``."""
    return L.tensor(np.asarray(a, dtype=np.float32))


# ----------------------------------------------------------------------------------------------
# the PyTorch examples
# ----------------------------------------------------------------------------------------------
@program
def word_lm_lstm_tied_weights_batchify_repackage_hidden_and_manual_sgd(L):
    """The word-language-model example: a token stream batchified into columns (narrow to a
    multiple of the batch size, view, t, contiguous), bptt windows cut by get_batch, an
    embedding-LSTM-decoder with the decoder's weight tied to the encoder's, hidden states
    detached between windows by a recursive repackage, gradients clipped by norm and applied
    by hand (p.data.add_(p.grad, alpha=-lr)); an evaluation pass under no_grad gives the
    perplexity and the lr is divided by 4 when it does not improve."""
    nn = L.nn
    L.manual_seed(42)
    ntok, ninp, bsz, bptt = 11, 6, 3, 4

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.2)
            self.encoder = nn.Embedding(ntok, ninp)
            self.rnn = nn.LSTM(ninp, ninp, 2, dropout=0.2)
            self.decoder = nn.Linear(ninp, ntok)
            self.decoder.weight = self.encoder.weight
            self.encoder.weight.data.uniform_(-0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)

        def forward(self, inp, hidden):
            emb = self.drop(self.encoder(inp))
            out, hidden = self.rnn(emb, hidden)
            dec = self.decoder(self.drop(out)).view(-1, ntok)
            return L.nn.functional.log_softmax(dec, dim=1), hidden

        def init_hidden(self, b):
            w = next(self.parameters())
            return (w.new_zeros(2, b, ninp), w.new_zeros(2, b, ninp))

    def batchify(data, b):
        nbatch = data.size(0) // b
        return data.narrow(0, 0, nbatch * b).view(b, -1).t().contiguous()

    def get_batch(src, i):
        n = min(bptt, len(src) - 1 - i)
        return src[i:i + n], src[i + 1:i + 1 + n].view(-1)

    def repackage(h):
        if isinstance(h, L.Tensor):
            return h.detach()
        return tuple(repackage(v) for v in h)

    corpus = L.tensor(labels(40, ntok, seed=1))
    train, val = batchify(corpus[:31], bsz), batchify(corpus[31:], 2)
    model = RNNModel().double()
    crit = nn.NLLLoss()
    lr, best, record = 4.0, None, []
    for epoch in range(2):
        model.train()
        hidden = model.init_hidden(bsz)
        for i in range(0, train.size(0) - 1, bptt):
            data, targets = get_batch(train, i)
            model.zero_grad()
            hidden = repackage(hidden)
            out, hidden = model(data, hidden)
            loss = crit(out, targets)
            loss.backward()
            total = nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            record.append((loss.item(), total))
        model.eval()
        tot, hidden = 0.0, model.init_hidden(2)
        with L.no_grad():
            for i in range(0, val.size(0) - 1, bptt):
                data, targets = get_batch(val, i)
                out, hidden = model(data, hidden)
                hidden = repackage(hidden)
                tot += len(data) * crit(out, targets).item()
        vloss = tot / (len(val) - 1)
        if best is None or vloss < best:
            best = vloss
        else:
            lr /= 4.0
        record.append((vloss, math.exp(vloss), lr))
    return record, model.decoder.weight is model.encoder.weight, model.encoder.weight, \
        len(list(model.parameters())), train.is_contiguous(), train.shape


@program
def word_lm_transformer_positional_buffer_square_mask_and_temperature_generation(L):
    """The transformer variant of the word model: sinusoidal encodings in a registered buffer
    of shape (max_len, 1, d) added after sqrt(d)-scaled embeddings, a TransformerEncoder
    (sequence first) under a square subsequent mask built by the Transformer's static
    method, a log-softmax decoder and NLL training with Adam; then the generate script's
    loop: the last output divided by a temperature, exponentiated, a multinomial draw, the
    input filled with the drawn word."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(7)
    ntok, d, heads = 13, 8, 2

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, max_len=32):
            super().__init__()
            self.dropout = nn.Dropout(p=0.1)
            pe = L.zeros(max_len, d_model)
            position = L.arange(0, max_len, dtype=L.float).unsqueeze(1)
            div_term = L.exp(L.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = L.sin(position * div_term)
            pe[:, 1::2] = L.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

        def forward(self, x):
            return self.dropout(x + self.pe[:x.size(0), :])

    class TransformerModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos = PositionalEncoding(d)
            layer = nn.TransformerEncoderLayer(d, heads, 16, dropout=0.0)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.emb = nn.Embedding(ntok, d)
            self.dec = nn.Linear(d, ntok)
            nn.init.uniform_(self.emb.weight, -0.1, 0.1)
            nn.init.zeros_(self.dec.bias)
            nn.init.uniform_(self.dec.weight, -0.1, 0.1)

        def forward(self, src, mask):
            x = self.pos(self.emb(src) * math.sqrt(d))
            return F.log_softmax(self.dec(self.enc(x, mask)), dim=-1)

    model = TransformerModel().double()
    model.pos.pe = model.pos.pe.double()
    opt = L.optim.Adam(model.parameters(), lr=3e-3)
    seq = L.tensor(labels(5 * 3, ntok, seed=2)).view(5, 3)
    tgt = L.tensor(labels(5 * 3, ntok, seed=3))
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=L.float64)
    losses = []
    model.train()
    for _ in range(3):
        opt.zero_grad()
        out = model(seq, mask)
        loss = F.nll_loss(out.view(-1, ntok), tgt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    inp = L.randint(ntok, (1, 1), dtype=L.long)
    words = []
    with L.no_grad():
        for _ in range(4):
            out = model(inp, nn.Transformer.generate_square_subsequent_mask(inp.size(0)).double())
            weights = out[-1].squeeze().div(0.8).exp().cpu()
            idx = L.multinomial(weights, 1)[0]
            word = L.ones(1, 1, dtype=L.long).fill_(idx)
            inp = L.cat([inp, word], 0)
            words.append(idx.item())
    return losses, words, mask, model.pos.pe.shape, [n for n, _ in model.named_buffers()]


@program
def dcgan_weights_init_by_classname_bce_and_alternating_updates(L):
    """DCGAN: a generator of ConvTranspose2d-BatchNorm-ReLU blocks ending in Tanh and a
    discriminator of strided convs with LeakyReLU(0.2, inplace) and a Sigmoid; weights_init
    applied through Module.apply, dispatching on the class name (N(0, 0.02) for convs,
    N(1, 0.02) and zero bias for batch norms); labels made with L.full and refilled with
    fill_; D trained on real then fake.detach(), G on D(fake) with real labels; Adam with
    betas (0.5, 0.999); D(x), D(G(z)) before and after the D step are recorded."""
    nn = L.nn
    L.manual_seed(999)
    nz, ngf, ndf, nc = 4, 4, 4, 1

    def weights_init(m):
        name = m.__class__.__name__
        if name.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif name.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    netG = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True), nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf), nn.ReLU(True), nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
        nn.Tanh()).double()
    netD = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
        nn.Sigmoid()).double()
    netG.apply(weights_init)
    netD.apply(weights_init)
    crit = nn.BCELoss()
    fixed_noise = L.randn(2, nz, 1, 1, dtype=L.float64)
    real_label, fake_label = 1.0, 0.0
    optD = L.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optG = L.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real = _t(L, np.tanh(normal64(3, 1, 16, 16, seed=4)))
    log = []
    for _ in range(2):
        netD.zero_grad()
        b = real.size(0)
        label = L.full((b,), real_label, dtype=L.float64)
        output = netD(real).view(-1)
        errD_real = crit(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = L.randn(b, nz, 1, 1, dtype=L.float64)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = crit(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        optD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = crit(output, label)
        errG.backward()
        optG.step()
        log.append(((errD_real + errD_fake).item(), errG.item(), D_x, D_G_z1,
                    output.mean().item()))
    with L.no_grad():
        sample = netG(fixed_noise).detach().cpu()
    return log, sample, netG[1].running_mean, netD[3].running_var, netD[0].weight.grad


@program
def vae_reparameterize_bce_sum_plus_kld_and_decoding_samples(L):
    """The VAE example on 16-pixel images: fc1-relu, two heads for mu and logvar, the
    reparameterisation std = exp(0.5 logvar), eps = randn_like(std), z = mu + eps * std,
    a sigmoid decoder, the loss binary_cross_entropy(reduction='sum') plus
    -0.5 * sum(1 + logvar - mu^2 - exp(logvar)); Adam for three steps, a test pass under
    no_grad, and images decoded from randn draws."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(1)

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = nn.Linear(16, 8), nn.Linear(8, 2), nn.Linear(8, 2)
            self.fc3, self.fc4 = nn.Linear(2, 8), nn.Linear(8, 16)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = L.exp(0.5 * logvar)
            eps = L.randn_like(std)
            return mu + eps * std

        def decode(self, z):
            return L.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, 16))
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

    def loss_function(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x.view(-1, 16), reduction="sum")
        kld = -0.5 * L.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld

    model = VAE().double()
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    data = _t(L, 1 / (1 + np.exp(-normal64(6, 1, 4, 4, seed=5))))
    train_loss = []
    model.train()
    for _ in range(3):
        opt.zero_grad()
        recon, mu, logvar = model(data)
        loss = loss_function(recon, data, mu, logvar)
        loss.backward()
        train_loss.append(loss.item() / len(data))
        opt.step()
    model.eval()
    with L.no_grad():
        recon, mu, logvar = model(data[:2])
        test_loss = loss_function(recon, data[:2], mu, logvar).item()
        comparison = L.cat([data[:2], recon.view(2, 1, 4, 4)])
        sample = model.decode(L.randn(3, 2, dtype=L.float64)).view(3, 1, 4, 4)
    return train_loss, test_loss, comparison, sample, model.fc21.weight.grad


@program
def actor_critic_saved_actions_smooth_l1_value_loss_and_normalised_returns(L):
    """The actor-critic example on a small deterministic chain environment: a shared affine
    layer with action and value heads, actions drawn from Categorical and saved with their
    log-probs and values in a namedtuple list, discounted returns built backwards with
    insert(0, R), normalised by (R - mean) / (std + eps) with eps from numpy's float32
    finfo, under a float64 default dtype; the policy loss -log_prob * advantage
    (value.item()), the value loss smooth_l1 against L.tensor([R]), both stacked and
    summed; the reward lists cleared by del."""
    nn, F = L.nn, L.nn.functional
    L.set_default_dtype(L.float64)
    L.manual_seed(543)
    SavedAction = collections.namedtuple("SavedAction", ["log_prob", "value"])
    eps = np.finfo(np.float32).eps.item()

    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.affine1 = nn.Linear(4, 16)
            self.action_head = nn.Linear(16, 2)
            self.value_head = nn.Linear(16, 1)
            self.saved_actions, self.rewards = [], []

        def forward(self, x):
            x = F.relu(self.affine1(x))
            return F.softmax(self.action_head(x), dim=-1), self.value_head(x)

    model = Policy()
    opt = L.optim.Adam(model.parameters(), lr=3e-2)

    def select_action(state):
        state = L.from_numpy(state).to(L.get_default_dtype())
        probs, value = model(state)
        m = L.distributions.Categorical(probs)
        action = m.sample()
        model.saved_actions.append(SavedAction(m.log_prob(action), value))
        return action.item()

    record = []
    for episode in range(3):
        state = np.array([0.1, -0.2, 0.05 * episode, 0.3])
        for _ in range(5):
            action = select_action(state)
            state = state + (0.1 if action == 1 else -0.1) * np.array([1.0, 0.5, -0.5, 0.2])
            model.rewards.append(float(1.0 - abs(state[0])))
        R, returns = 0, []
        for r in model.rewards[::-1]:
            R = r + 0.99 * R
            returns.insert(0, R)
        returns = L.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        policy_losses, value_losses = [], []
        for (log_prob, value), R in zip(model.saved_actions, returns):
            advantage = R - value.item()
            policy_losses.append(-log_prob * advantage)
            value_losses.append(F.smooth_l1_loss(value, L.tensor([R])))
        opt.zero_grad()
        loss = L.stack(policy_losses).sum() + L.stack(value_losses).sum()
        loss.backward()
        opt.step()
        record.append((loss.item(), returns, len(model.saved_actions)))
        del model.rewards[:]
        del model.saved_actions[:]
    return record, model.action_head.weight.grad, model.value_head.bias


@program
def reinforce_log_prob_sum_running_reward_and_episode_batches(L):
    """REINFORCE: a two-layer policy with dropout in train mode, actions from Categorical
    with log-probs kept in a list, returns from a deque with appendleft, normalised; the
    loss the concatenation of -log_prob * R summed (torch.cat of 1-element tensors); a
    running reward 0.05 * ep_reward + 0.95 * running."""
    nn, F = L.nn, L.nn.functional
    L.set_default_dtype(L.float64)
    L.manual_seed(11)
    eps = np.finfo(np.float32).eps.item()
    net = nn.Sequential(nn.Linear(3, 12), nn.Dropout(p=0.3), nn.ReLU(), nn.Linear(12, 3))
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    running, record = 1.0, []
    for ep in range(3):
        state, log_probs, rewards = np.array([0.5, -0.5, 0.1 * ep]), [], []
        for _ in range(6):
            s = L.from_numpy(state).to(L.get_default_dtype()).unsqueeze(0)
            probs = F.softmax(net(s), dim=1)
            m = L.distributions.Categorical(probs)
            a = m.sample()
            log_probs.append(m.log_prob(a))
            state = np.roll(state, a.item()) * 0.9
            rewards.append(float(state.sum()))
        R, returns = 0.0, collections.deque()
        for r in rewards[::-1]:
            R = r + 0.9 * R
            returns.appendleft(R)
        returns = L.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        policy_loss = [-lp * R for lp, R in zip(log_probs, returns)]
        opt.zero_grad()
        policy_loss = L.cat(policy_loss).sum()
        policy_loss.backward()
        opt.step()
        running = 0.05 * sum(rewards) + 0.95 * running
        record.append((policy_loss.item(), running))
    return record, net[3].weight.grad, net[0].bias


@program
def time_sequence_prediction_two_lstm_cells_lbfgs_closure_and_future(L):
    """Time-sequence prediction: sine waves as float64 rows, a model of two LSTMCells (51
    hidden here 6) stepping over input.split(1, dim=1), its outputs cat along dim 1, then
    `future` more steps fed back from its own output; trained by L-BFGS (lr 0.8) with a
    closure that zeroes, computes the MSE, backpropagates and returns the loss; a test
    prediction under no_grad with future steps."""
    nn = L.nn
    L.manual_seed(0)
    T, H = 12, 6
    xs = np.arange(T)[None, :] + np.array([[0.0], [3.0], [6.0]])
    data = np.sin(xs / 2.0)
    inp, tgt = _t(L, data[:, :-1]), _t(L, data[:, 1:])

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1, self.lstm2 = nn.LSTMCell(1, H), nn.LSTMCell(H, H)
            self.linear = nn.Linear(H, 1)

        def forward(self, input, future=0):
            outputs = []
            h_t = L.zeros(input.size(0), H, dtype=L.double)
            c_t = L.zeros(input.size(0), H, dtype=L.double)
            h_t2 = L.zeros(input.size(0), H, dtype=L.double)
            c_t2 = L.zeros(input.size(0), H, dtype=L.double)
            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for _ in range(future):
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            return L.cat(outputs, dim=1)

    seq = Sequence().double()
    crit = nn.MSELoss()
    opt = L.optim.LBFGS(seq.parameters(), lr=0.8, max_iter=4)
    losses = []
    for _ in range(2):
        def closure():
            opt.zero_grad()
            out = seq(inp)
            loss = crit(out, tgt)
            losses.append(loss.item())
            loss.backward()
            return loss
        opt.step(closure)
    with L.no_grad():
        pred = seq(inp[:1], future=3)
        test_loss = crit(pred[:, :-3], tgt[:1])
    return losses, pred, test_loss, seq.linear.weight.grad, \
        sorted(opt.state_dict()["state"][0].keys())


@program
def siamese_pairs_shared_tower_concat_head_bce_adadelta_and_steplr(L):
    """The siamese-network example: a shared small CNN tower (conv-bn-relu, global
    average pool, flatten) applied to both images, the two embeddings concatenated and
    passed through fc-relu-fc, a sigmoid and BCELoss on same/different labels; the head's
    Linear layers xavier-initialised through apply, bias filled with 0.01; Adadelta with
    StepLR(step_size=1, gamma=0.7); test accuracy by thresholding at 0.5 with
    torch.where."""
    nn = L.nn
    L.manual_seed(5)

    class SiameseNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.tower = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                                       nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)),
                                       nn.Flatten())
            self.fc = nn.Sequential(nn.Linear(8, 6), nn.ReLU(inplace=True), nn.Linear(6, 1))
            self.sigmoid = nn.Sigmoid()
            self.fc.apply(self.init_weights)

        def init_weights(self, m):
            if isinstance(m, nn.Linear):
                L.nn.init.xavier_uniform_(m.weight)
                m.bias.data.fill_(0.01)

        def forward_once(self, x):
            return self.tower(x).view(x.size()[0], -1)

        def forward(self, a, b):
            out = L.cat((self.forward_once(a), self.forward_once(b)), 1)
            return self.sigmoid(self.fc(out))

    model = SiameseNetwork().double()
    opt = L.optim.Adadelta(model.parameters(), lr=1.0)
    sched = L.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    crit = nn.BCELoss()
    imgs = _t(L, normal64(8, 1, 6, 6, seed=9))
    pick = labels(8, 8, seed=10)
    same = (labels(8, 2, seed=11)).astype(np.float64)
    a, b = imgs, imgs[L.tensor(pick)]
    target = _t(L, same)
    record = []
    for epoch in range(3):
        model.train()
        opt.zero_grad()
        out = model(a, b).squeeze()
        loss = crit(out, target)
        loss.backward()
        opt.step()
        sched.step()
        model.eval()
        with L.no_grad():
            out = model(a, b).squeeze()
            pred = L.where(out > 0.5, 1, 0)
            correct = pred.eq(target.view_as(pred)).sum().item()
        record.append((loss.item(), correct, sched.get_last_lr()))
    return record, model.fc[0].weight.grad, model.tower[1].num_batches_tracked


@program
def mnist_example_net_adadelta_steplr_nll_and_argmax_eq_view_as_accuracy(L):
    """The MNIST example's loop on 12x12 digits: conv-relu-conv-relu, max_pool2d, Dropout
    (train mode, seeded), flatten(1), fc-relu-dropout-fc and log_softmax; Adadelta (lr 1)
    with StepLR(gamma 0.7) per epoch, F.nll_loss; the test pass sums the loss with
    reduction='sum', takes output.argmax(dim=1, keepdim=True) and counts
    pred.eq(target.view_as(pred)); the printed percentage."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 4, 3, 1), nn.Conv2d(4, 6, 3, 1)
            self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
            self.fc1, self.fc2 = nn.Linear(6 * 4 * 4, 16), nn.Linear(16, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = self.dropout1(F.max_pool2d(x, 2))
            x = L.flatten(x, 1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    model = Net().double()
    opt = L.optim.Adadelta(model.parameters(), lr=1.0)
    sched = L.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    data = _t(L, (normal64(10, 1, 12, 12, seed=20) - 0.1307) / 0.3081)
    target = L.tensor(labels(10, 10, seed=21))
    record = []
    for epoch in range(1, 3):
        model.train()
        for bidx in range(2):
            x, y = data[bidx * 5:(bidx + 1) * 5], target[bidx * 5:(bidx + 1) * 5]
            opt.zero_grad()
            loss = F.nll_loss(model(x), y)
            loss.backward()
            opt.step()
            record.append("Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                epoch, bidx * len(x), len(data), 100.0 * bidx / 2, loss.item()))
        model.eval()
        test_loss, correct = 0, 0
        with L.no_grad():
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(data)
        record.append((test_loss, correct, 100.0 * correct / len(data)))
        sched.step()
    return record, model.fc1.weight.grad, opt.param_groups[0]["lr"]


@program
def regression_example_poly_features_manual_data_update_and_zero_grad(L):
    """The regression example: a random degree-4 polynomial target, features
    cat([x ** i for i in 1..4], 1), a single Linear(4, 1) fitted by hand (fc.zero_grad,
    smooth_l1 loss, backward, param.data.add_(-lr * param.grad)) until the loss is below a
    threshold or 30 steps; the learned function printed as a polynomial string."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(2)
    W_target = L.randn(4, 1, dtype=L.float64) * 5
    b_target = L.randn(1, dtype=L.float64) * 5

    def make_features(x):
        x = x.unsqueeze(1)
        return L.cat([x ** i for i in range(1, 5)], 1)

    def f(x):
        return x.mm(W_target) + b_target.item()

    def poly_desc(W, b):
        result = "y = "
        for i, w in enumerate(W):
            result += "{:+.2f} x^{} ".format(w, i + 1)
        result += "{:+.2f}".format(b[0])
        return result

    fc = nn.Linear(W_target.size(0), 1).double()
    losses = []
    for batch_idx in range(1, 31):
        x = make_features(L.randn(8, dtype=L.float64) * 0.5)
        y = f(x)
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(x), y)
        loss = output.item()
        output.backward()
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)
        losses.append(loss)
        if loss < 1e-3:
            break
    return losses, batch_idx, poly_desc(fc.weight.view(-1), fc.bias), \
        poly_desc(W_target.view(-1), b_target), fc.weight.grad


@program
def super_resolution_pixel_shuffle_orthogonal_init_with_gain_and_psnr(L):
    """The super-resolution example: conv 5x5 - relu - conv - relu - conv to c * r^2
    channels - PixelShuffle(r), weights initialised by init.orthogonal_ with
    calculate_gain('relu') (the last conv plain), built under a float64 default; trained
    on the Y channel with MSE and Adam;
    the PSNR 10 log10(1 / mse) of a test pass."""
    nn = L.nn
    init = L.nn.init
    L.set_default_dtype(L.float64)
    L.manual_seed(4)
    r = 2

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 8, 5, 1, 2)
            self.conv2 = nn.Conv2d(8, 8, 3, 1, 1)
            self.conv3 = nn.Conv2d(8, r ** 2, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(r)
            init.orthogonal_(self.conv1.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv2.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv3.weight)

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            return self.pixel_shuffle(self.conv3(x))

    model = Net().double()
    crit = nn.MSELoss()
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    hr = _t(L, 0.5 + 0.2 * np.tanh(normal64(2, 1, 8, 8, seed=30)))
    lr_img = L.nn.functional.avg_pool2d(hr, 2)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = crit(model(lr_img), hr)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with L.no_grad():
        mse = crit(model(lr_img), hr)
        psnr = 10 * math.log10(1 / mse.item())
    return losses, psnr, model.conv1.weight.grad, model.pixel_shuffle.upscale_factor


@program
def forward_forward_goodness_per_layer_with_label_overlay(L):
    """The forward-forward example: a label written into the first pixels of each input
    (x.clone(), x_[:, :10] *= 0, x_[range(n), y] = x.max()), layers that normalise their
    input by x / (x.norm(2, 1, keepdim=True) + 1e-4) before Linear-ReLU, each trained on its
    own with loss log(1 + exp(cat([-g_pos + thr, g_neg - thr]))).mean() where g is the mean
    square activation; positive and negative outputs detached to feed the next layer;
    prediction by the summed goodness over candidate labels, argmax."""
    nn = L.nn
    L.manual_seed(8)

    def overlay(x, y):
        x_ = x.clone()
        x_[:, :4] *= 0.0
        x_[range(x.shape[0]), y] = x.max()
        return x_

    class Layer(nn.Linear):
        def __init__(self, i, o):
            super().__init__(i, o, dtype=L.float64)
            self.relu = nn.ReLU()
            self.opt = L.optim.Adam(self.parameters(), lr=0.03)
            self.threshold = 2.0

        def forward(self, x):
            x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)
            return self.relu(L.mm(x_direction, self.weight.T) + self.bias.unsqueeze(0))

        def train_layer(self, x_pos, x_neg, epochs=3):
            losses = []
            for _ in range(epochs):
                g_pos = self.forward(x_pos).pow(2).mean(1)
                g_neg = self.forward(x_neg).pow(2).mean(1)
                loss = L.log(1 + L.exp(L.cat([-g_pos + self.threshold,
                                              g_neg - self.threshold]))).mean()
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                losses.append(loss.item())
            return self.forward(x_pos).detach(), self.forward(x_neg).detach(), losses

    layers = [Layer(12, 10), Layer(10, 10)]
    x = _t(L, normal64(6, 12, seed=31))
    y = L.tensor(labels(6, 4, seed=32))
    rnd = L.randperm(x.size(0))
    h_pos, h_neg = overlay(x, y), overlay(x, y[rnd])
    record = []
    for layer in layers:
        h_pos, h_neg, losses = layer.train_layer(h_pos, h_neg)
        record.append(losses)
    goodness_per_label = []
    for label in range(4):
        h = overlay(x, label)
        goodness = []
        for layer in layers:
            h = layer(h)
            goodness += [h.pow(2).mean(1)]
        goodness_per_label += [sum(goodness).unsqueeze(1)]
    pred = L.cat(goodness_per_label, 1).argmax(1)
    return record, pred, 1.0 - pred.eq(y).float().mean().item(), layers[1].weight.grad


@program
def gat_dense_multihead_attention_where_adjacency_elu_and_log_softmax(L):
    """The GAT example's dense layer: h W, attention logits from a split vector a = [a1; a2]
    (Wh a1 + (Wh a2)^T), LeakyReLU(0.2), masked by torch.where(adj > 0, e, -9e15), softmax,
    dropout, attention times Wh, ELU when concatenating; several heads concatenated, an
    output head averaged; xavier_uniform_ with gain 1.414; trained with NLL and Adam with
    weight decay on a small graph, the accuracy of the masked nodes."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(13)

    class GraphAttentionLayer(nn.Module):
        def __init__(self, fin, fout, concat=True):
            super().__init__()
            self.fout, self.concat = fout, concat
            self.W = nn.Parameter(L.empty(size=(fin, fout), dtype=L.float64))
            nn.init.xavier_uniform_(self.W.data, gain=1.414)
            self.a = nn.Parameter(L.empty(size=(2 * fout, 1), dtype=L.float64))
            nn.init.xavier_uniform_(self.a.data, gain=1.414)
            self.leakyrelu = nn.LeakyReLU(0.2)

        def forward(self, h, adj):
            Wh = L.mm(h, self.W)
            Wh1 = L.matmul(Wh, self.a[:self.fout, :])
            Wh2 = L.matmul(Wh, self.a[self.fout:, :])
            e = self.leakyrelu(Wh1 + Wh2.T)
            zero_vec = -9e15 * L.ones_like(e)
            attention = L.where(adj > 0, e, zero_vec)
            attention = F.softmax(attention, dim=1)
            attention = F.dropout(attention, 0.2, training=self.training)
            h_prime = L.matmul(attention, Wh)
            return F.elu(h_prime) if self.concat else h_prime

    class GAT(nn.Module):
        def __init__(self, nfeat, nhid, nclass, nheads):
            super().__init__()
            self.attentions = [GraphAttentionLayer(nfeat, nhid) for _ in range(nheads)]
            for i, att in enumerate(self.attentions):
                self.add_module("attention_{}".format(i), att)
            self.out_att = GraphAttentionLayer(nhid * nheads, nclass, concat=False)

        def forward(self, x, adj):
            x = F.dropout(x, 0.2, training=self.training)
            x = L.cat([att(x, adj) for att in self.attentions], dim=1)
            x = F.dropout(x, 0.2, training=self.training)
            return F.log_softmax(F.elu(self.out_att(x, adj)), dim=1)

    n = 7
    a = (np.random.RandomState(33).rand(n, n) > 0.6).astype(np.float64)
    adj = _t(L, np.maximum(a, a.T) + np.eye(n))
    feats = _t(L, normal64(n, 5, seed=34))
    y = L.tensor(labels(n, 3, seed=35))
    idx_train = L.LongTensor(range(5))
    model = GAT(5, 4, 3, 2)
    opt = L.optim.Adam(model.parameters(), lr=0.005, weight_decay=5e-4)
    record = []
    for _ in range(3):
        model.train()
        opt.zero_grad()
        out = model(feats, adj)
        loss = F.nll_loss(out[idx_train], y[idx_train])
        loss.backward()
        opt.step()
        model.eval()
        out = model(feats, adj)
        preds = out.max(1)[1].type_as(y)
        acc = preds.eq(y).double().sum() / len(y)
        record.append((loss.item(), acc.item()))
    return record, model.out_att.a.grad, model.attention_1.W, \
        [n for n, _ in model.named_parameters()]


@program
def imagenet_example_average_meters_topk_accuracy_and_adjusted_lr(L):
    """The ImageNet example's bookkeeping around a small classifier: AverageMeter objects
    (val, sum, count, avg) updated with the batch size, accuracy(output, target, topk=(1, 3))
    by output.topk(maxk, 1, True, True), pred.t(), pred.eq(target.view(1, -1)
    .expand_as(pred)), correct[:k].reshape(-1).float().sum(0, keepdim=True) * 100 / n;
    SGD with momentum and weight decay, the lr set by hand each epoch to
    lr * 0.1 ** (epoch // 2); the meters' str() formatting."""
    nn = L.nn
    L.manual_seed(17)

    class AverageMeter:
        def __init__(self, name, fmt=":f"):
            self.name, self.fmt = name, fmt
            self.reset()

        def reset(self):
            self.val = self.avg = self.sum = self.count = 0

        def update(self, val, n=1):
            self.val = val
            self.sum += val * n
            self.count += n
            self.avg = self.sum / self.count

        def __str__(self):
            fmtstr = "{name} {val" + self.fmt + "} ({avg" + self.fmt + "})"
            return fmtstr.format(**self.__dict__)

    def accuracy(output, target, topk=(1,)):
        with L.no_grad():
            maxk = max(topk)
            batch_size = target.size(0)
            _, pred = output.topk(maxk, 1, True, True)
            pred = pred.t()
            correct = pred.eq(target.view(1, -1).expand_as(pred))
            res = []
            for k in topk:
                correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
                res.append(correct_k.mul_(100.0 / batch_size))
            return res

    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 6)).double()
    crit = nn.CrossEntropyLoss()
    base_lr = 0.1
    opt = L.optim.SGD(model.parameters(), base_lr, momentum=0.9, weight_decay=1e-4)
    images = _t(L, normal64(12, 3, 2, 2, seed=40))
    target = L.tensor(labels(12, 6, seed=41))
    lines = []
    for epoch in range(4):
        lr = base_lr * (0.1 ** (epoch // 2))
        for param_group in opt.param_groups:
            param_group["lr"] = lr
        losses, top1, top3 = AverageMeter("Loss", ":.4e"), AverageMeter("Acc@1", ":6.2f"), \
            AverageMeter("Acc@3", ":6.2f")
        for i in range(0, 12, 4):
            x, y = images[i:i + 4], target[i:i + 4]
            output = model(x)
            loss = crit(output, y)
            acc1, acc3 = accuracy(output, y, topk=(1, 3))
            losses.update(loss.item(), x.size(0))
            top1.update(acc1[0], x.size(0))
            top3.update(acc3[0], x.size(0))
            opt.zero_grad()
            loss.backward()
            opt.step()
        lines.append("  ".join(str(m) for m in (losses, top1, top3)))
    return lines, top1.avg, top3.sum, opt.state_dict()["param_groups"][0]["lr"]


# ----------------------------------------------------------------------------------------------
# nanoGPT and minGPT
# ----------------------------------------------------------------------------------------------
@dataclass
class _GPTConfig:
    block_size: int = 8
    vocab_size: int = 11
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 8
    dropout: float = 0.0
    bias: bool = True


def _nanogpt(L):
    """nanoGPT's model written for library ``L``: LayerNorm with an optional bias through
    F.layer_norm, causal self-attention with the tril mask in a registered buffer (split of
    c_attn, heads by view/transpose, masked_fill with -inf), a GELU MLP, pre-norm blocks,
    wte/wpe/drop/h/ln_f in a ModuleDict, lm_head tied to wte, normal(0, 0.02) init with
    the residual projections scaled by 1/sqrt(2 n_layer), configure_optimizers, generate
    and crop_block_size."""
    nn, F = L.nn, L.nn.functional

    class LayerNorm(nn.Module):
        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(L.ones(ndim))
            self.bias = nn.Parameter(L.zeros(ndim)) if bias else None

        def forward(self, input):
            return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self, config):
            super().__init__()
            assert config.n_embd % config.n_head == 0
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.attn_dropout = nn.Dropout(config.dropout)
            self.resid_dropout = nn.Dropout(config.dropout)
            self.n_head, self.n_embd = config.n_head, config.n_embd
            self.register_buffer("bias", L.tril(L.ones(config.block_size, config.block_size))
                                 .view(1, 1, config.block_size, config.block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = self.attn_dropout(F.softmax(att, dim=-1))
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
            self.attn = CausalSelfAttention(config)
            self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
            self.mlp = MLP(config)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=LayerNorm(config.n_embd, bias=config.bias)))
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    L.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

        def get_num_params(self, non_embedding=True):
            n_params = sum(p.numel() for p in self.parameters())
            if non_embedding:
                n_params -= self.transformer.wpe.weight.numel()
            return n_params

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                L.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    L.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                L.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            b, t = idx.size()
            assert t <= self.config.block_size, \
                f"Cannot forward sequence of length {t}, block size is only " \
                f"{self.config.block_size}"
            pos = L.arange(0, t, dtype=L.long, device=idx.device)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            else:
                logits = self.lm_head(x[:, [-1], :])
                loss = None
            return logits, loss

        def crop_block_size(self, block_size):
            assert block_size <= self.config.block_size
            self.config.block_size = block_size
            self.transformer.wpe.weight = nn.Parameter(
                self.transformer.wpe.weight[:block_size])
            for block in self.transformer.h:
                if hasattr(block.attn, "bias"):
                    block.attn.bias = block.attn.bias[:, :, :block_size, :block_size]

        def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
            param_dict = {pn: p for pn, p in self.named_parameters()}
            param_dict = {pn: p for pn, p in param_dict.items() if p.requires_grad}
            decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
            optim_groups = [{"params": decay_params, "weight_decay": weight_decay},
                            {"params": nodecay_params, "weight_decay": 0.0}]
            counts = (sum(p.numel() for p in decay_params),
                      sum(p.numel() for p in nodecay_params))
            fused_available = "fused" in inspect.signature(L.optim.AdamW).parameters
            use_fused = fused_available and device_type == "cuda"
            extra_args = dict(fused=True) if use_fused else dict()
            optimizer = L.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)
            return optimizer, counts, fused_available

        @L.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = idx if idx.size(1) <= self.config.block_size \
                    else idx[:, -self.config.block_size:]
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = L.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = L.multinomial(probs, num_samples=1)
                idx = L.cat((idx, idx_next), dim=1)
            return idx

    return GPT


@program
def nanogpt_model_tied_init_scaled_projections_param_count_and_loss(L):
    """nanoGPT's GPT built from a dataclass config under a float64 default: the parameter
    count without position embeddings (tied weights counted once), the initial loss near
    log(vocab), the inference path's (B, 1, V) logits from x[:, [-1], :], and the gradient
    of the tied embedding; an over-long input trips the model's assertion."""
    L.set_default_dtype(L.float64)
    L.manual_seed(1337)
    GPT = _nanogpt(L)
    model = GPT(_GPTConfig())
    idx = L.tensor(labels(2 * 8, 11, seed=50)).view(2, 8)
    tgt = L.tensor(labels(2 * 8, 11, seed=51)).view(2, 8)
    tgt[0, :3] = -1
    logits, loss = model(idx, tgt)
    loss.backward()
    short, none = model(idx[:, :5])
    try:
        model(L.zeros(1, 9, dtype=L.long))
        too_long = "no error"
    except AssertionError as exc:
        too_long = str(exc)
    return model.get_num_params(), model.get_num_params(False), loss, logits.shape, short, \
        none, model.transformer.wte.weight.grad, model.lm_head.weight is \
        model.transformer.wte.weight, too_long, model.transformer.h[1].attn.c_proj.weight.std()


@program
def nanogpt_train_loop_warmup_cosine_lr_grad_accumulation_disabled_scaler_and_clip(L):
    """nanoGPT's train.py loop: get_batch by randint offsets and stacked from_numpy slices of
    a uint16 token array cast to int64, configure_optimizers's decay/no-decay groups (the
    fused check by inspecting AdamW's signature), get_lr with linear warmup, cosine decay
    and a floor set on every param group, micro-steps of gradient accumulation under a
    nullcontext with the loss divided by the step count, a disabled GradScaler
    (scale/unscale_/step/update are pass-throughs), clip_grad_norm_, zero_grad(set_to_none);
    estimate_loss under no_grad with losses written into a zeros tensor."""
    L.set_default_dtype(L.float64)
    L.manual_seed(1337)
    GPT = _nanogpt(L)
    cfg = _GPTConfig()
    model = GPT(cfg)
    data = np.random.RandomState(52).randint(0, 11, 200).astype(np.uint16)
    block_size, batch_size = 8, 3

    def get_batch():
        ix = L.randint(len(data) - block_size, (batch_size,))
        x = L.stack([L.from_numpy((data[i:i + block_size]).astype(np.int64)) for i in ix])
        y = L.stack([L.from_numpy((data[i + 1:i + 1 + block_size]).astype(np.int64))
                     for i in ix])
        return x, y

    learning_rate, min_lr, warmup_iters, lr_decay_iters = 6e-3, 6e-4, 2, 6

    def get_lr(it):
        if it < warmup_iters:
            return learning_rate * (it + 1) / (warmup_iters + 1)
        if it > lr_decay_iters:
            return min_lr
        decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
        assert 0 <= decay_ratio <= 1
        coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
        return min_lr + coeff * (learning_rate - min_lr)

    @L.no_grad()
    def estimate_loss():
        model.eval()
        losses = L.zeros(2)
        for k in range(2):
            X, Y = get_batch()
            _, loss = model(X, Y)
            losses[k] = loss.item()
        model.train()
        return losses.mean()

    optimizer, counts, fused = model.configure_optimizers(0.1, learning_rate, (0.9, 0.95), "cpu")
    scaler = L.amp.GradScaler("cpu", enabled=False)
    ctx = nullcontext()
    accum = 2
    X, Y = get_batch()
    record = []
    for it in range(4):
        lr = get_lr(it)
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr
        for micro_step in range(accum):
            with ctx:
                logits, loss = model(X, Y)
                loss = loss / accum
            X, Y = get_batch()
            scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norm = L.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        grads = model.lm_head.weight.grad.clone()
        optimizer.zero_grad(set_to_none=True)
        record.append((lr, loss.item() * accum, norm))
    return record, counts, fused, estimate_loss(), grads, \
        model.lm_head.weight.grad is None, scaler.is_enabled(), \
        [g["weight_decay"] for g in optimizer.param_groups]


@program
def nanogpt_generate_top_k_multinomial_and_crop_block_size(L):
    """nanoGPT's sampling: generate() decorated with no_grad, the context cropped to the
    block size, logits divided by a temperature, entries below the k-th largest set to
    -inf through boolean-mask assignment with v[:, [-1]], multinomial draws appended;
    then crop_block_size swaps wpe.weight for a sliced new Parameter and slices the
    registered masks, and generation goes on with the shorter context."""
    L.set_default_dtype(L.float64)
    L.manual_seed(1337)
    GPT = _nanogpt(L)
    model = GPT(_GPTConfig())
    model.eval()
    start = L.zeros((2, 1), dtype=L.long)
    out = model.generate(start, 10, temperature=0.8, top_k=3)
    model.crop_block_size(4)
    out2 = model.generate(out[:, :2], 5, temperature=1.2, top_k=20)
    bufs = {n: b.shape for n, b in model.named_buffers()}
    return out, out2, model.transformer.wpe.weight.shape, bufs, \
        model.transformer.wpe.weight.requires_grad, model.config.block_size, \
        out.requires_grad


@program
def nanogpt_checkpoint_to_bytes_strip_compile_prefix_and_resume_optimizer(L):
    """nanoGPT's checkpointing: a dict of the model's and AdamW's state_dicts, the config as
    a dict, iter_num and best_val_loss saved to a BytesIO and loaded back
    (weights_only=False); keys renamed as a compiled model's ('_orig_mod.' prefix) and the
    prefix stripped by the resume code; the model and optimizer restored, and one more
    step taken by both the original and the resumed pair agree."""
    L.set_default_dtype(L.float64)
    L.manual_seed(1337)
    GPT = _nanogpt(L)
    cfg = _GPTConfig(n_layer=1)
    model = GPT(cfg)
    opt, _, _ = model.configure_optimizers(0.1, 1e-2, (0.9, 0.95), "cpu")
    idx = L.tensor(labels(16, 11, seed=53)).view(2, 8)
    tgt = L.tensor(labels(16, 11, seed=54)).view(2, 8)
    for _ in range(2):
        _, loss = model(idx, tgt)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    sd = {"_orig_mod." + k: v for k, v in model.state_dict().items()}
    checkpoint = {"model": sd, "optimizer": opt.state_dict(), "model_args": dict(vars(cfg)),
                  "iter_num": 2, "best_val_loss": loss.detach(), "config": {"lr": 1e-2}}
    buf = io.BytesIO()
    L.save(checkpoint, buf)
    buf.seek(0)
    ck = L.load(buf, map_location="cpu", weights_only=False)
    model2 = GPT(_GPTConfig(**ck["model_args"]))
    state_dict = ck["model"]
    unwanted_prefix = "_orig_mod."
    for k, v in list(state_dict.items()):
        if k.startswith(unwanted_prefix):
            state_dict[k[len(unwanted_prefix):]] = state_dict.pop(k)
    missing = model2.load_state_dict(state_dict)
    opt2, _, _ = model2.configure_optimizers(0.1, 1e-2, (0.9, 0.95), "cpu")
    opt2.load_state_dict(ck["optimizer"])
    outs = []
    for m, o in ((model, opt), (model2, opt2)):
        _, loss = m(idx, tgt)
        loss.backward()
        o.step()
        outs.append((loss, m.lm_head.weight.detach().clone()))
    return outs, str(missing), ck["iter_num"], ck["best_val_loss"], sorted(state_dict)[:4], \
        ck["optimizer"]["state"][0]["step"], len(ck["optimizer"]["param_groups"])


def _mingpt_groups(L, model):
    """minGPT's configure_optimizers sets: every parameter sorted into decay (weights of
    Linear and MultiheadAttention) or no_decay (biases, LayerNorm and Embedding weights) by
    walking named_modules
    and each module's own named_parameters; checks that they partition the parameters."""
    nn = L.nn
    decay, no_decay = set(), set()
    whitelist_weight_modules = (nn.Linear, nn.MultiheadAttention)
    blacklist_weight_modules = (nn.LayerNorm, nn.Embedding)
    for mn, m in model.named_modules():
        for pn, p in m.named_parameters():
            fpn = "%s.%s" % (mn, pn) if mn else pn
            if pn.endswith("bias"):
                no_decay.add(fpn)
            elif pn.endswith("weight") and isinstance(m, whitelist_weight_modules):
                decay.add(fpn)
            elif pn.endswith("weight") and isinstance(m, blacklist_weight_modules):
                no_decay.add(fpn)
    param_dict = {pn: p for pn, p in model.named_parameters()}
    inter_params = decay & no_decay
    union_params = decay | no_decay
    assert len(inter_params) == 0
    assert len(param_dict.keys() - union_params) == 0
    return decay, no_decay, param_dict


@program
def mingpt_configure_optimizers_whitelist_blacklist_and_greedy_or_sampled_generation(L):
    """minGPT: the attention and MLP written with the NewGELU formula
    0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) inside an nn.ModuleDict MLP driven by a
    lambda, LayerNorms and Embeddings; the whitelist/blacklist walk over named_modules
    gives sorted decay and no_decay names and AdamW groups; a sorting task trained with
    targets masked to -1 on the prompt half; generation both greedy (topk(probs, k=1)) and
    sampled (multinomial), with do_sample toggled."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(3407)

    class NewGELU(nn.Module):
        def forward(self, x):
            return 0.5 * x * (1.0 + L.tanh(math.sqrt(2.0 / math.pi) *
                                           (x + 0.044715 * L.pow(x, 3.0))))

    class Block(nn.Module):
        def __init__(self, d, nh, T):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.attn = nn.MultiheadAttention(d, nh, batch_first=True)
            self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(d, 4 * d), c_proj=nn.Linear(4 * d, d),
                                          act=NewGELU(), dropout=nn.Dropout(0.0)))
            m = self.mlp
            self.mlpf = lambda x: m.dropout(m.c_proj(m.act(m.c_fc(x))))
            self.register_buffer("mask", ~L.tril(L.ones(T, T, dtype=L.bool)))

        def forward(self, x):
            T = x.size(1)
            h = self.ln_1(x)
            x = x + self.attn(h, h, h, attn_mask=self.mask[:T, :T], need_weights=False)[0]
            return x + self.mlpf(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self, V=3, T=6, d=8):
            super().__init__()
            self.block_size = T
            self.wte, self.wpe = nn.Embedding(V, d), nn.Embedding(T, d)
            self.h = nn.ModuleList([Block(d, 2, T)])
            self.ln_f, self.lm_head = nn.LayerNorm(d), nn.Linear(d, V, bias=False)

        def forward(self, idx, targets=None):
            pos = L.arange(0, idx.size(1), dtype=L.long).unsqueeze(0)
            x = self.wte(idx) + self.wpe(pos)
            for b in self.h:
                x = b(x)
            logits = self.lm_head(self.ln_f(x))
            loss = None
            if targets is not None:
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            return logits, loss

        @L.no_grad()
        def generate(self, idx, n, do_sample=False, top_k=None):
            for _ in range(n):
                logits, _ = self(idx[:, -self.block_size:])
                logits = logits[:, -1, :]
                if top_k is not None:
                    v, _ = L.topk(logits, top_k)
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                if do_sample:
                    idx_next = L.multinomial(probs, num_samples=1)
                else:
                    _, idx_next = L.topk(probs, k=1, dim=-1)
                idx = L.cat((idx, idx_next), dim=1)
            return idx

    model = GPT().double()
    decay, no_decay, param_dict = _mingpt_groups(L, model)
    optim_groups = [
        {"params": [param_dict[pn] for pn in sorted(list(decay))], "weight_decay": 0.1},
        {"params": [param_dict[pn] for pn in sorted(list(no_decay))], "weight_decay": 0.0}]
    opt = L.optim.AdamW(optim_groups, lr=5e-3, betas=(0.9, 0.95))
    inp = L.tensor(labels(4 * 3, 3, seed=55)).view(4, 3)
    sol = L.sort(inp, dim=1)[0]
    cat = L.cat((inp, sol), dim=1)
    x, y = cat[:, :-1].clone(), cat[:, 1:].clone()
    y[:, :2] = -1
    losses = []
    for _ in range(3):
        _, loss = model(x, y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        L.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    greedy = model.generate(inp[:2], 3, do_sample=False)
    sampled = model.generate(inp[:2], 3, do_sample=True, top_k=2)
    return sorted(decay), sorted(no_decay), losses, greedy, sampled, \
        [len(g["params"]) for g in opt.param_groups]


@program
def mingpt_trainer_random_sampler_with_replacement_and_endless_iterator(L):
    """minGPT's Trainer loop: a Dataset of sorting problems, a DataLoader over a
    RandomSampler with replacement and a huge num_samples (seeded by a Generator), batches
    pulled with next() on an iterator and re-created on StopIteration, moved with
    [t.to(device) for t in batch]; per-iteration callbacks record iter_num, the loss and
    the time-free iteration count."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(3407)

    class SortDataset(L.utils.data.Dataset):
        def __init__(self, n=6, length=4, num_digits=3):
            self.n, self.length, self.num_digits = n, length, num_digits
            self.rng = np.random.RandomState(56)
            self.items = [self.rng.randint(0, num_digits, length) for _ in range(n)]

        def __len__(self):
            return self.n

        def __getitem__(self, idx):
            inp = L.tensor(self.items[idx], dtype=L.long)
            sol = L.sort(inp)[0]
            cat = L.cat((inp, sol), dim=0)
            x, y = cat[:-1].clone(), cat[1:].clone()
            y[:self.length - 1] = -1
            return x, y

    ds = SortDataset()
    model = nn.Sequential(nn.Embedding(3, 6), nn.Linear(6, 6), nn.GELU(approximate="tanh"),
                          nn.Linear(6, 3)).double()
    opt = L.optim.AdamW(model.parameters(), lr=1e-2)
    loader = L.utils.data.DataLoader(
        ds, sampler=L.utils.data.RandomSampler(ds, replacement=True, num_samples=int(1e10),
                                               generator=L.Generator().manual_seed(9)),
        shuffle=False, pin_memory=False, batch_size=2, num_workers=0)
    callbacks = collections.defaultdict(list)
    record = []
    callbacks["on_batch_end"].append(lambda it, loss: record.append((it, loss.item())))
    iter_num, data_iter = 0, iter(loader)
    while True:
        try:
            batch = next(data_iter)
        except StopIteration:
            data_iter = iter(loader)
            batch = next(data_iter)
        batch = [t.to("cpu") for t in batch]
        x, y = batch
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, 3), y.view(-1), ignore_index=-1)
        model.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for cb in callbacks["on_batch_end"]:
            cb(iter_num, loss)
        iter_num += 1
        if iter_num >= 4:
            break
    return record, x, y, len(loader.sampler), model[1].weight.grad


# ----------------------------------------------------------------------------------------------
# timm-style layers
# ----------------------------------------------------------------------------------------------
def _drop_path(L, x, drop_prob=0.0, training=False, scale_by_keep=True):
    """timm's stochastic depth: whole samples zeroed with probability drop_prob, the kept
    ones scaled by 1 / keep_prob; a Bernoulli mask of shape (B, 1, ..., 1) made by
    x.new_empty(shape).bernoulli_(keep_prob)."""
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
    if keep_prob > 0.0 and scale_by_keep:
        random_tensor.div_(keep_prob)
    return x * random_tensor


def _timm_layers(L):
    """(DropPath, LayerScale, LayerNorm2d, ConvNeXtBlock, SqueezeExcite) in library ``L``."""
    nn, F = L.nn, L.nn.functional

    class DropPath(nn.Module):
        def __init__(self, drop_prob=0.0, scale_by_keep=True):
            super().__init__()
            self.drop_prob, self.scale_by_keep = drop_prob, scale_by_keep

        def forward(self, x):
            return _drop_path(L, x, self.drop_prob, self.training, self.scale_by_keep)

        def extra_repr(self):
            return f"drop_prob={round(self.drop_prob, 3):0.3f}"

    class LayerScale(nn.Module):
        def __init__(self, dim, init_values=1e-5, inplace=False):
            super().__init__()
            self.inplace = inplace
            self.gamma = nn.Parameter(init_values * L.ones(dim))

        def forward(self, x):
            return x.mul_(self.gamma) if self.inplace else x * self.gamma

    class LayerNorm2d(nn.LayerNorm):
        def forward(self, x):
            x = x.permute(0, 2, 3, 1)
            x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
            return x.permute(0, 3, 1, 2)

    class ConvNeXtBlock(nn.Module):
        def __init__(self, dim, drop_path=0.0, ls_init_value=1e-6):
            super().__init__()
            self.conv_dw = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
            self.gamma = nn.Parameter(ls_init_value * L.ones(dim)) if ls_init_value > 0 \
                else None
            self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

        def forward(self, x):
            shortcut = x
            x = self.conv_dw(x)
            x = x.permute(0, 2, 3, 1)
            x = self.mlp(self.norm(x))
            if self.gamma is not None:
                x = x.mul(self.gamma.reshape(1, 1, 1, -1))
            x = x.permute(0, 3, 1, 2)
            return self.drop_path(x) + shortcut

    def make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
        min_value = min_value or divisor
        new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
        if new_v < round_limit * v:
            new_v += divisor
        return new_v

    class SqueezeExcite(nn.Module):
        def __init__(self, channels, rd_ratio=1 / 16, rd_divisor=8, gate=nn.Sigmoid):
            super().__init__()
            rd = make_divisible(channels * rd_ratio, rd_divisor, round_limit=0.0)
            self.fc1 = nn.Conv2d(channels, rd, kernel_size=1, bias=True)
            self.act = nn.ReLU(inplace=True)
            self.fc2 = nn.Conv2d(rd, channels, kernel_size=1, bias=True)
            self.gate = gate()

        def forward(self, x):
            x_se = x.mean((2, 3), keepdim=True)
            x_se = self.fc2(self.act(self.fc1(x_se)))
            return x * self.gate(x_se)

    return DropPath, LayerScale, LayerNorm2d, ConvNeXtBlock, SqueezeExcite, make_divisible


@program
def timm_drop_path_scale_by_keep_layer_scale_inplace_and_linear_decay_rule(L):
    """timm's DropPath in train mode (seeded masks, scaled or not by keep_prob), eval mode
    an identity, its extra_repr in the module's repr; drop-path rates rising linearly over
    depth via L.linspace(0, rate, depth) and .tolist(); LayerScale in place (on a
    clone) and out of place, their gradients through a residual stack."""
    nn = L.nn
    DropPath, LayerScale, _, _, _, _ = _timm_layers(L)
    L.manual_seed(21)
    dpr = [x.item() for x in L.linspace(0, 0.3, 4)]
    blocks = nn.Sequential(*[nn.Sequential(nn.Linear(6, 6), LayerScale(6, 0.1),
                                           DropPath(r)) for r in dpr]).double()
    x = _t(L, normal64(8, 6, seed=60), grad=True)
    h = x
    for b in blocks:
        h = h + b(h)
    h.pow(2).mean().backward()
    blocks.eval()
    with L.no_grad():
        e = x
        for b in blocks:
            e = e + b(e)
    ls = LayerScale(6, 0.5, inplace=True).double()
    y = _t(L, normal64(3, 6, seed=61))
    z = ls(y.clone())
    keep = _drop_path(L, L.ones(6, 2, 2, dtype=L.float64), 0.5, True, False)
    return dpr, h, x.grad, blocks[2][1].gamma.grad, e, z, repr(blocks[1][2]), keep, \
        str(blocks[0])


@program
def timm_squeeze_excite_make_divisible_and_hard_sigmoid_gate(L):
    """timm's SE block: the reduced width by make_divisible(channels * rd_ratio, 8) (with
    and without the 0.9 rounding limit), x.mean((2, 3), keepdim=True), 1x1 convs with a
    ReLU in place, a sigmoid or hard-sigmoid gate; forward and input gradients."""
    nn = L.nn
    _, _, _, _, SE, make_divisible = _timm_layers(L)
    L.manual_seed(22)
    se = SE(16, rd_ratio=0.25).double()
    se_h = SE(16, rd_ratio=1 / 3, rd_divisor=4, gate=nn.Hardsigmoid).double()
    x = _t(L, normal64(2, 16, 3, 3, seed=62), grad=True)
    out = se(x) + se_h(x)
    out.sum().backward()
    divs = [make_divisible(v, d) for v in (3, 10.5, 37, 64 * 0.25) for d in (4, 8)]
    return divs, se.fc1.out_channels, se_h.fc1.out_channels, out, x.grad, \
        se_h.fc2.weight.grad


@program
def timm_convnext_block_channels_last_norm_layernorm2d_and_trunc_normal_init(L):
    """A ConvNeXt stage: a stem conv 4x4 stride 4 and LayerNorm2d (an nn.LayerNorm subclass
    that permutes to channels-last), two ConvNeXt blocks (depthwise 7x7, channels-last
    LayerNorm, Linear-GELU-Linear, gamma layer scale, drop path in train mode), a
    downsampling LayerNorm2d + 2x2 conv, a head of global pooling, LayerNorm and Linear;
    weights initialised by trunc_normal_(std=.02) with zero biases through apply; AdamW two
    steps; the input in channels_last memory format."""
    nn = L.nn
    _, _, LayerNorm2d, Block, _, _ = _timm_layers(L)
    L.manual_seed(23)

    class ConvNeXt(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, kernel_size=4, stride=4),
                                      LayerNorm2d(8, eps=1e-6))
            self.stage = nn.Sequential(Block(8, 0.1, 0.5), Block(8, 0.1, 0.5))
            self.down = nn.Sequential(LayerNorm2d(8, eps=1e-6), nn.Conv2d(8, 12, 2, 2))
            self.norm = nn.LayerNorm(12, eps=1e-6)
            self.head = nn.Linear(12, 5)
            self.apply(self._init_weights)

        def _init_weights(self, m):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.constant_(m.bias, 0)

        def forward(self, x):
            x = self.down(self.stage(self.stem(x)))
            return self.head(self.norm(x.mean([-2, -1])))

    model = ConvNeXt().double()
    opt = L.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.05)
    x = _t(L, normal64(3, 3, 16, 16, seed=63)).to(memory_format=L.channels_last)
    y = L.tensor(labels(3, 5, seed=64))
    losses = []
    model.train()
    for _ in range(2):
        loss = nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, model.stage[0].gamma.grad, model.stem[1].weight.grad, \
        model.stage[1].conv_dw.weight.grad.shape, x.is_contiguous(), \
        model.head.weight.abs().max() <= 0.04 + 1e-2


@program
def timm_model_ema_v2_state_dict_copy_and_v3_foreach_lerp_with_warmup_decay(L):
    """Two of timm's weight EMAs beside a model with BatchNorm: V2 deep-copies the model,
    then under no_grad walks zip(ema.state_dict().values(), model.state_dict().values())
    with ema_v.copy_(ema_v * decay + (1 - decay) * model_v) for floating entries (copy_
    for the int counter); V3 uses a warmup decay 1 - (1 + step / gamma) ** -power, lerps
    parameters with L._foreach_lerp_ and copies buffers; SGD steps between updates."""
    nn = L.nn
    L.manual_seed(24)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(),
                          nn.Linear(6, 2)).double()
    ema2 = copy.deepcopy(model).eval()
    ema3 = copy.deepcopy(model).eval()
    for p in ema2.parameters():
        p.requires_grad_(False)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = _t(L, normal64(10, 4, seed=65))
    y = _t(L, normal64(10, 2, seed=66))

    @L.no_grad()
    def update_v2(decay=0.9):
        for ema_v, model_v in zip(ema2.state_dict().values(), model.state_dict().values()):
            if ema_v.is_floating_point():
                ema_v.copy_(ema_v * decay + (1.0 - decay) * model_v)
            else:
                ema_v.copy_(model_v)

    def get_decay(step, power=3 / 4, gamma=1.0, max_decay=0.99):
        decay = 1 - (1 + step / gamma) ** -power
        return max(min(decay, max_decay), 0.0)

    @L.no_grad()
    def update_v3(step):
        decay = get_decay(step)
        ema_lerp = [e for e in ema3.parameters()]
        model_lerp = [m for m in model.parameters()]
        L._foreach_lerp_(ema_lerp, model_lerp, weight=1.0 - decay)
        for ema_b, model_b in zip(ema3.buffers(), model.buffers()):
            ema_b.copy_(model_b)
        return decay

    decays = []
    for step in range(4):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        update_v2()
        decays.append(update_v3(step))
    with L.no_grad():
        out2, out3 = ema2(x), ema3(x)
    return decays, ema2.state_dict(), out2, out3, ema3[1].num_batches_tracked, \
        ema3[0].weight, ema3[0].weight.requires_grad


@program
def timm_vit_patch_embed_cls_token_fused_attention_and_param_groups_no_weight_decay(L):
    """A tiny timm ViT: PatchEmbed (conv, flatten(2).transpose(1, 2)), a cls token and a
    position embedding as Parameters (trunc_normal_ std .02, cls normal std 1e-6),
    attention computing qkv.reshape(B, N, 3, heads, hd).permute(2, 0, 3, 1, 4), unbind(0),
    F.scaled_dot_product_attention, Identity q/k norms, blocks with LayerScale and
    partial(nn.LayerNorm, eps=1e-6); param_groups_weight_decay keeping 1-d parameters,
    biases and the no_weight_decay() names out of decay; SoftTargetCrossEntropy on one-hot
    targets with AdamW."""
    nn, F = L.nn, L.nn.functional
    _, LayerScale, _, _, _, _ = _timm_layers(L)
    L.manual_seed(25)
    norm_layer = partial(nn.LayerNorm, eps=1e-6)

    class Attention(nn.Module):
        def __init__(self, dim, num_heads=2, qkv_bias=True):
            super().__init__()
            self.num_heads, self.head_dim = num_heads, dim // num_heads
            self.scale = self.head_dim ** -0.5
            self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
            self.q_norm, self.k_norm = nn.Identity(), nn.Identity()
            self.proj = nn.Linear(dim, dim)

        def forward(self, x):
            B, N, C = x.shape
            qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            q, k = self.q_norm(q), self.k_norm(k)
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0)
            return self.proj(x.transpose(1, 2).reshape(B, N, C))

    class Block(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.norm1, self.attn, self.ls1 = norm_layer(dim), Attention(dim), \
                LayerScale(dim, 1e-1)
            self.norm2 = norm_layer(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
            self.ls2 = LayerScale(dim, 1e-1)

        def forward(self, x):
            x = x + self.ls1(self.attn(self.norm1(x)))
            return x + self.ls2(self.mlp(self.norm2(x)))

    class ViT(nn.Module):
        def __init__(self, dim=8, classes=4):
            super().__init__()
            self.patch_embed = nn.Conv2d(3, dim, 4, 4)
            self.cls_token = nn.Parameter(L.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(L.randn(1, 5, dim) * 0.02)
            self.blocks = nn.Sequential(Block(dim), Block(dim))
            self.norm, self.head = norm_layer(dim), nn.Linear(dim, classes)
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
            nn.init.normal_(self.cls_token, std=1e-6)

        def no_weight_decay(self):
            return {"pos_embed", "cls_token"}

        def forward(self, x):
            x = self.patch_embed(x).flatten(2).transpose(1, 2)
            x = L.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
            x = self.blocks(x + self.pos_embed)
            return self.head(self.norm(x)[:, 0])

    def param_groups_weight_decay(model, weight_decay=1e-5, no_weight_decay_list=()):
        no_weight_decay_list = set(no_weight_decay_list)
        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            if param.ndim <= 1 or name.endswith(".bias") or name in no_weight_decay_list:
                no_decay.append(param)
            else:
                decay.append(param)
        return [{"params": no_decay, "weight_decay": 0.0},
                {"params": decay, "weight_decay": weight_decay}]

    model = ViT().double()
    groups = param_groups_weight_decay(model, 0.05, model.no_weight_decay())
    opt = L.optim.AdamW(groups, lr=1e-3)
    x = _t(L, normal64(2, 3, 8, 8, seed=67))
    target = F.one_hot(L.tensor([1, 3]), 4).double() * 0.9 + 0.025
    losses = []
    for _ in range(2):
        out = model(x)
        loss = L.sum(-target * F.log_softmax(out, dim=-1), dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [len(g["params"]) for g in opt.param_groups], model.cls_token.grad, \
        model.pos_embed.grad, model.blocks[0].attn.qkv.weight.grad


@program
def timm_mixup_cutmix_bbox_flip_blend_and_smoothed_one_hot_targets(L):
    """timm's Mixup in batch mode: lam from numpy's beta (seeded), mixup or cutmix chosen by
    a numpy draw; the cutmix box from rand_bbox (cut ratio sqrt(1 - lam), clipped centre),
    pasted from x.flip(0) by slice assignment and lam corrected by the box area; mixup by
    x.mul_(lam).add_(x.flip(0).mul_(1 - lam)); targets from
    L.full((B, C), off).scatter_(1, y, on) mixed with their flip; a classifier trained on
    the mixed batch with the soft-target loss."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(26)
    rng = np.random.RandomState(68)

    def one_hot(x, num_classes, on_value=1.0, off_value=0.0):
        x = x.long().view(-1, 1)
        return L.full((x.size()[0], num_classes), off_value, dtype=L.float64).scatter_(
            1, x, on_value)

    def mixup_target(target, num_classes, lam=1.0, smoothing=0.0):
        off_value = smoothing / num_classes
        on_value = 1.0 - smoothing + off_value
        y1 = one_hot(target, num_classes, on_value=on_value, off_value=off_value)
        y2 = one_hot(target.flip(0), num_classes, on_value=on_value, off_value=off_value)
        return y1 * lam + y2 * (1.0 - lam)

    def rand_bbox(img_shape, lam, margin=0.0):
        ratio = np.sqrt(1 - lam)
        img_h, img_w = img_shape[-2:]
        cut_h, cut_w = int(img_h * ratio), int(img_w * ratio)
        margin_y, margin_x = int(margin * cut_h), int(margin * cut_w)
        cy = rng.randint(0 + margin_y, img_h - margin_y)
        cx = rng.randint(0 + margin_x, img_w - margin_x)
        yl, yh = np.clip(cy - cut_h // 2, 0, img_h), np.clip(cy + cut_h // 2, 0, img_h)
        xl, xh = np.clip(cx - cut_w // 2, 0, img_w), np.clip(cx + cut_w // 2, 0, img_w)
        return yl, yh, xl, xh

    def mix_batch(x, target):
        lam = float(rng.beta(1.0, 1.0))
        use_cutmix = rng.rand() < 0.5
        if use_cutmix:
            yl, yh, xl, xh = rand_bbox(x.shape, lam)
            x[:, :, yl:yh, xl:xh] = x.flip(0)[:, :, yl:yh, xl:xh]
            lam = 1.0 - (yh - yl) * (xh - xl) / float(x.shape[-2] * x.shape[-1])
        else:
            x_flipped = x.flip(0).mul_(1.0 - lam)
            x.mul_(lam).add_(x_flipped)
        return x, mixup_target(target, 5, lam, 0.1), lam, bool(use_cutmix)

    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 5)).double()
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    record = []
    for step in range(4):
        x = _t(L, normal64(4, 3, 8, 8, seed=69 + step))
        y = L.tensor(labels(4, 5, seed=73 + step))
        x, t, lam, cut = mix_batch(x, y)
        loss = L.sum(-t * F.log_softmax(model(x), dim=-1), dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        record.append((lam, cut, loss.item(), t, x[0, 0]))
    return record, model[0].weight.grad


@program
def timm_label_smoothing_cross_entropy_by_hand_matches_builtin_and_jsd(L):
    """timm's LabelSmoothingCrossEntropy written out: log_softmax, the NLL gathered with
    target.unsqueeze(1) and squeezed, the smoothing term -logprobs.mean(-1), confidence
    (1 - s) times one plus s times the other; compared with cross_entropy(label_smoothing)
    and its gradient; and the JSD loss of AugMix: the clean/aug1/aug2 logits split by
    L.split(logits, n), their softmaxes' mixture clamped and logged, KL divergences with
    reduction 'batchmean'."""
    F = L.nn.functional
    x = _t(L, normal64(6, 5, scale=2, seed=80), grad=True)
    target = L.tensor(labels(6, 5, seed=81))
    s = 0.1
    logprobs = F.log_softmax(x, dim=-1)
    nll_loss = -logprobs.gather(dim=-1, index=target.unsqueeze(1)).squeeze(1)
    smooth_loss = -logprobs.mean(dim=-1)
    loss = ((1.0 - s) * nll_loss + s * smooth_loss).mean()
    g_hand, = L.autograd.grad(loss, x)
    builtin = F.cross_entropy(x, target, label_smoothing=s)
    g_builtin, = L.autograd.grad(builtin, x)
    logits = _t(L, normal64(9, 4, seed=82), grad=True)
    split_size = logits.shape[0] // 3
    logits_split = L.split(logits, split_size)
    ce = F.cross_entropy(logits_split[0], target[:3])
    probs = [F.softmax(lg, dim=1) for lg in logits_split]
    logp_mixture = L.clamp(L.stack(probs).mean(dim=0), 1e-7, 1).log()
    jsd = sum(F.kl_div(logp_mixture, p_split, reduction="batchmean") for p_split in probs)
    total = ce + 12 * jsd / len(probs)
    total.backward()
    return loss, builtin, g_hand, g_builtin, jsd, logits.grad


# ----------------------------------------------------------------------------------------------
# the torchvision reference training scripts
# ----------------------------------------------------------------------------------------------
@program
def tv_reference_set_weight_decay_norm_classes_and_custom_keys(L):
    """torchvision's set_weight_decay: the norm classes tuple (the _BatchNorm and
    _InstanceNorm bases from nn.modules, LayerNorm, GroupNorm, LocalResponseNorm), a
    recursive walk of named_children with a prefix, each parameter put in the 'other',
    'norm' or custom-key group (bias, class_token) with its own decay, empty groups
    dropped; SGD on the groups, one step, each group's decay and size."""
    nn = L.nn
    L.manual_seed(30)
    norm_classes = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm,
                    nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.class_token = nn.Parameter(L.zeros(1, 4))
            self.conv = nn.Conv2d(2, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.inorm = nn.InstanceNorm2d(4, affine=True)
            self.gn = nn.GroupNorm(2, 4)
            self.head = nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 3))

        def forward(self, x):
            h = self.gn(self.inorm(self.bn(self.conv(x)))).mean((2, 3))
            return self.head(h + self.class_token)

    def set_weight_decay(model, weight_decay, norm_weight_decay=None, custom_keys=None):
        params = {"other": [], "norm": []}
        params_weight_decay = {"other": weight_decay, "norm": norm_weight_decay}
        custom_keys = list(custom_keys or [])
        for key, decay in custom_keys:
            params[key] = []
            params_weight_decay[key] = decay

        def _add_params(module, prefix=""):
            for name, p in module.named_parameters(recurse=False):
                if not p.requires_grad:
                    continue
                is_custom_key = False
                for key, _ in custom_keys:
                    target_name = f"{prefix}.{name}" if prefix != "" and "." in key else name
                    if key == target_name:
                        params[key].append(p)
                        is_custom_key = True
                        break
                if not is_custom_key:
                    if norm_weight_decay is not None and isinstance(module, norm_classes):
                        params["norm"].append(p)
                    else:
                        params["other"].append(p)
            for child_name, child_module in module.named_children():
                child_prefix = f"{prefix}.{child_name}" if prefix != "" else child_name
                _add_params(child_module, prefix=child_prefix)

        _add_params(model)
        param_groups = []
        for key in params:
            if len(params[key]) > 0:
                param_groups.append({"params": params[key],
                                     "weight_decay": params_weight_decay[key]})
        return param_groups

    model = Net().double()
    groups = set_weight_decay(model, 1e-4, norm_weight_decay=0.0,
                              custom_keys=[("bias", 0.0), ("class_token", 0.0)])
    opt = L.optim.SGD(groups, lr=0.5, momentum=0.9, weight_decay=1e-4)
    x = _t(L, normal64(2, 2, 5, 5, seed=90))
    loss = nn.functional.cross_entropy(model(x), L.tensor([0, 2]))
    loss.backward()
    opt.step()
    return [(g["weight_decay"], len(g["params"]), g["lr"]) for g in opt.param_groups], \
        model.conv.weight, model.class_token, \
        [isinstance(m, norm_classes) for m in model.modules()]


@program
def tv_reference_linear_warmup_then_cosine_via_sequential_lr_and_resume(L):
    """torchvision's scheduler setup: LinearLR(start_factor=0.1, total_iters=warmup) then
    CosineAnnealingLR(T_max=epochs - warmup, eta_min) chained by SequentialLR with
    milestones=[warmup]; the lr per epoch via get_last_lr; after three epochs a checkpoint
    dict (model, optimizer, lr_scheduler, epoch) round-trips through a BytesIO and a fresh
    model/optimizer/scheduler resume from it, giving the same remaining lrs."""
    nn = L.nn
    L.manual_seed(31)

    def build():
        model = nn.Linear(3, 2).double()
        opt = L.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=2e-5)
        warm = L.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=2)
        main = L.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=1e-3)
        sched = L.optim.lr_scheduler.SequentialLR(opt, schedulers=[warm, main], milestones=[2])
        return model, opt, sched

    model, opt, sched = build()
    x, y = _t(L, normal64(5, 3, seed=91)), _t(L, normal64(5, 2, seed=92))
    lrs = []
    for epoch in range(3):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict(),
                  "lr_scheduler": sched.state_dict(), "epoch": 2}
    buf = io.BytesIO()
    L.save(checkpoint, buf)
    buf.seek(0)
    ck = L.load(buf, map_location="cpu", weights_only=False)
    model2, opt2, sched2 = build()
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optimizer"])
    sched2.load_state_dict(ck["lr_scheduler"])
    start_epoch = ck["epoch"] + 1
    rest = ([], [])
    for k, (m, o, s) in enumerate(((model, opt, sched), (model2, opt2, sched2))):
        for epoch in range(start_epoch, 6):
            loss = nn.functional.mse_loss(m(x), y)
            o.zero_grad()
            loss.backward()
            o.step()
            s.step()
            rest[k].append((s.get_last_lr()[0], loss.item()))
    return lrs, rest, sorted(ck["lr_scheduler"]), ck["lr_scheduler"]["_milestones"], \
        model2.weight


@program
def tv_reference_ema_averaged_model_use_buffers_and_warmup_reset(L):
    """torchvision's ExponentialMovingAverage: an AveragedModel subclass whose avg_fn is
    ema * decay + param * (1 - decay), with use_buffers=True; the decay adjusted for the
    update period and batch size; update_parameters every 2 iterations, n_averaged reset
    by fill_(0) during warmup epochs; evaluated with the EMA's module; the BatchNorm
    buffers averaged too."""
    nn = L.nn
    swa_utils = L.optim.swa_utils
    L.manual_seed(32)

    class ExponentialMovingAverage(swa_utils.AveragedModel):
        def __init__(self, model, decay, device="cpu"):
            def ema_avg(avg_model_param, model_param, num_averaged):
                return decay * avg_model_param + (1 - decay) * model_param
            super().__init__(model, device, ema_avg, use_buffers=True)

    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(12, 2)).double()
    adjust = 1 * 4 * 2 / 6
    alpha = min(1.0, (1.0 - 0.9) * adjust)
    ema = ExponentialMovingAverage(model, decay=1.0 - alpha)
    opt = L.optim.SGD(model.parameters(), lr=0.05)
    x = _t(L, normal64(8, 1, 4, 4, seed=93))
    y = L.tensor(labels(8, 2, seed=94))
    record = []
    for epoch in range(3):
        for i in range(2):
            xb, yb = x[i * 4:(i + 1) * 4], y[i * 4:(i + 1) * 4]
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i % 2 == 1:
                ema.update_parameters(model)
                if epoch < 1:
                    ema.n_averaged.fill_(0)
        ema.eval()
        with L.inference_mode():
            acc = (ema(x).argmax(1) == y).float().mean()
        record.append((acc.item(), ema.n_averaged.clone()))
    sd = ema.state_dict()
    return record, sorted(sd), sd["module.1.running_mean"], ema.module[4].weight, alpha


@program
def tv_reference_random_mixup_cutmix_collate_with_sample_dirichlet(L):
    """torchvision's classification reference RandomMixup / RandomCutmix applied in a
    collate_fn after default_collate: a coin flip by L.rand(1).item() >= p, lam from
    float(L._sample_dirichlet(L.tensor([alpha, alpha]))[0]), the batch rolled by one,
    targets one-hot (F.one_hot(...).to(dtype=batch.dtype)) and blended; cutmix's box from
    L.randint(W, (1,)) centres and int(L.clamp(...)) corners, pasted from the rolled
    batch; a DataLoader with that collate over a TensorDataset, one training pass."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(33)
    num_classes = 3

    def mixup(batch, target, p=1.0, alpha=1.0):
        if target.ndim == 1:
            target = F.one_hot(target, num_classes=num_classes).to(dtype=batch.dtype)
        batch, target = batch.clone(), target.clone()
        if L.rand(1).item() >= p:
            return batch, target
        batch_rolled = batch.roll(1, 0)
        target_rolled = target.roll(1, 0)
        lambda_param = float(L._sample_dirichlet(L.tensor([alpha, alpha]))[0])
        batch_rolled.mul_(1.0 - lambda_param)
        batch.mul_(lambda_param).add_(batch_rolled)
        target_rolled.mul_(1.0 - lambda_param)
        target.mul_(lambda_param).add_(target_rolled)
        return batch, target

    def cutmix(batch, target, p=1.0, alpha=1.0):
        if target.ndim == 1:
            target = F.one_hot(target, num_classes=num_classes).to(dtype=batch.dtype)
        batch, target = batch.clone(), target.clone()
        if L.rand(1).item() >= p:
            return batch, target
        batch_rolled = batch.roll(1, 0)
        target_rolled = target.roll(1, 0)
        lambda_param = float(L._sample_dirichlet(L.tensor([alpha, alpha]))[0])
        H, W = batch.shape[-2:]
        r_x = L.randint(W, (1,))
        r_y = L.randint(H, (1,))
        r = 0.5 * math.sqrt(1.0 - lambda_param)
        r_w_half, r_h_half = int(r * W), int(r * H)
        x1 = int(L.clamp(r_x - r_w_half, min=0))
        y1 = int(L.clamp(r_y - r_h_half, min=0))
        x2 = int(L.clamp(r_x + r_w_half, max=W))
        y2 = int(L.clamp(r_y + r_h_half, max=H))
        batch[:, :, y1:y2, x1:x2] = batch_rolled[:, :, y1:y2, x1:x2]
        lambda_param = float(1.0 - (x2 - x1) * (y2 - y1) / (W * H))
        target_rolled.mul_(1.0 - lambda_param)
        target.mul_(lambda_param).add_(target_rolled)
        return batch, target

    choice = [0]

    def collate_fn(batch):
        b, t = L.utils.data.default_collate(batch)
        choice[0] += 1
        return (mixup if choice[0] % 2 else cutmix)(b, t)

    ds = L.utils.data.TensorDataset(_t(L, normal64(8, 2, 6, 6, seed=95)),
                                    L.tensor(labels(8, 3, seed=96)))
    loader = L.utils.data.DataLoader(ds, batch_size=4, shuffle=True, collate_fn=collate_fn)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).double()
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    record = []
    for image, target in loader:
        loss = crit(model(image), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        record.append((loss.item(), target, image[:, 0, 0]))
    return record, model[0].weight.grad


@program
def tv_reference_train_one_epoch_autocast_off_clip_and_topk_metrics(L):
    """torchvision's train_one_epoch on the CPU with AMP off: the forward under
    L.autocast('cpu', enabled=False) (and the cuda alias disabled), no scaler so the plain
    backward/clip_grad_norm_/step path, label-smoothed CrossEntropyLoss, metrics by
    accuracy(output, target, topk=(1, 2)) with correct[:k].flatten().sum(dtype=float32);
    evaluate under inference_mode with the metric averaged over samples; the
    reduce-across-processes stand-in converts a float to a float64 tensor and back."""
    nn = L.nn
    L.manual_seed(34)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 4)).double()
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = _t(L, normal64(12, 5, seed=97))
    y = L.tensor(labels(12, 4, seed=98))

    def accuracy(output, target, topk=(1,)):
        with L.inference_mode():
            maxk = max(topk)
            batch_size = target.size(0)
            if target.ndim == 2:
                target = target.max(dim=1)[1]
            _, pred = output.topk(maxk, 1, True, True)
            pred = pred.t()
            correct = pred.eq(target[None])
            res = []
            for k in topk:
                correct_k = correct[:k].flatten().sum(dtype=L.float32)
                res.append(correct_k * (100.0 / batch_size))
            return res

    def reduce_across_processes(val):
        t = L.tensor(val, device="cpu", dtype=L.float64)
        return t

    record = []
    model.train()
    for i in range(0, 12, 4):
        image, target = x[i:i + 4], y[i:i + 4]
        with L.autocast("cpu", enabled=False):
            output = model(image)
            loss = crit(output, target)
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        acc1, acc2 = accuracy(output, target, topk=(1, 2))
        record.append((loss.item(), norm, acc1.item(), acc2.item(), output.dtype))
    model.eval()
    num_processed = 0
    total = 0.0
    with L.inference_mode():
        output = model(x)
        acc1, = accuracy(output, y)
        total += acc1.item() * x.shape[0]
        num_processed += x.shape[0]
        out_inf = output.is_inference()
    num_processed = reduce_across_processes(num_processed)
    return record, total / num_processed.item(), num_processed, out_inf, \
        model[0].weight.grad


# ----------------------------------------------------------------------------------------------
# d2l chapters written from scratch
# ----------------------------------------------------------------------------------------------
class _Accumulator:
    """d2l's Accumulator: n running sums."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]


@program
def d2l_softmax_regression_from_scratch_range_indexing_and_minibatch_sgd(L):
    """d2l's softmax regression from scratch: W from L.normal(0, 0.01, size=...) with
    requires_grad, b zeros; softmax by exp over a keepdim partition; cross-entropy as
    -log(y_hat[range(len(y_hat)), y]); accuracy by argmax(axis=1) compared after
    y_hat.type(y.dtype); the minibatch SGD updater under no_grad (param -= lr * grad / n,
    grad.zero_()); an Accumulator over two epochs of three batches."""
    L.manual_seed(0)
    num_inputs, num_outputs = 12, 4
    W = L.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = L.zeros(num_outputs, requires_grad=True)

    def softmax(X):
        X_exp = L.exp(X)
        partition = X_exp.sum(1, keepdim=True)
        return X_exp / partition

    def net(X):
        return softmax(L.matmul(X.reshape((-1, W.shape[0])), W) + b)

    def cross_entropy(y_hat, y):
        return -L.log(y_hat[range(len(y_hat)), y])

    def accuracy(y_hat, y):
        if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
            y_hat = y_hat.argmax(axis=1)
        cmp = y_hat.type(y.dtype) == y
        return float(cmp.type(y.dtype).sum())

    def sgd(params, lr, batch_size):
        with L.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    X_all = _f32(L, normal64(18, 3, 2, 2, seed=100))
    y_all = L.tensor(labels(18, 4, seed=101))
    record = []
    for epoch in range(2):
        metric = _Accumulator(3)
        for i in range(0, 18, 6):
            X, y = X_all[i:i + 6], y_all[i:i + 6]
            y_hat = net(X)
            lo = cross_entropy(y_hat, y)
            lo.sum().backward()
            sgd([W, b], 0.5, X.shape[0])
            metric.add(float(lo.sum()), accuracy(y_hat, y), y.numel())
        record.append((round(metric[0] / metric[2], 4), metric[1] / metric[2]))
    return record, W, b, accuracy(net(X_all), y_all)


@program
def d2l_linear_regression_synthetic_data_shuffled_iterator_and_squared_loss(L):
    """d2l's linear regression from scratch: synthetic_data (X ~ normal(0, 1), y = Xw + b
    plus normal(0, 0.01) noise, reshaped to a column), a data_iter that shuffles a list
    with Python's random (seeded) and indexes with L.tensor(batch_indices),
    squared_loss (y_hat - y.reshape(y_hat.shape)) ** 2 / 2, SGD by hand; the estimation
    errors of w and b."""
    L.set_default_dtype(L.float64)
    L.manual_seed(1)
    true_w, true_b = L.tensor([2, -3.4]), 4.2

    def synthetic_data(w, b, num_examples):
        X = L.normal(0, 1, (num_examples, len(w)))
        y = L.matmul(X, w) + b
        y += L.normal(0, 0.01, y.shape)
        return X, y.reshape((-1, 1))

    features, lbls = synthetic_data(true_w, true_b, 30)
    py_rng = random.Random(2)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        py_rng.shuffle(indices)
        for i in range(0, num_examples, batch_size):
            batch_indices = L.tensor(indices[i: min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    w = L.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = L.zeros(1, requires_grad=True)

    def linreg(X, w, b):
        return L.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    losses = []
    for epoch in range(3):
        for X, y in data_iter(8, features, lbls):
            lo = squared_loss(linreg(X, w, b), y)
            lo.sum().backward()
            with L.no_grad():
                for param in (w, b):
                    param -= 0.03 * param.grad / 8
                    param.grad.zero_()
        with L.no_grad():
            losses.append(float(squared_loss(linreg(features, w, b), lbls).mean()))
    return losses, true_w - w.reshape(true_w.shape), true_b - b, features.dtype


@program(rtol=2e-5, atol=1e-6)        # (float32 throughout, as d2l writes it)
def d2l_rnn_from_scratch_one_hot_inputs_grad_clipping_and_prediction(L):
    """d2l's RNN from scratch: parameters from randn * 0.01 and zeros with
    requires_grad_(True), inputs F.one_hot(X.T, vocab).type(float32), the tanh recurrence
    stepped over time with mm, outputs cat along dim 0; loss on Y.T.reshape(-1) with
    CrossEntropyLoss; grad clipping by the global norm sqrt(sum(sum(p.grad ** 2))) and
    param.grad[:] *= theta / norm; state detached between batches with detach_() on a
    tuple's tensors; predict() primes the state and greedily extends a prefix with
    int(y.argmax(dim=1).reshape(1)); the perplexity."""
    F = L.nn.functional
    L.manual_seed(3)
    vocab_size, num_hiddens = 7, 8

    def get_params():
        def normal(shape):
            return L.randn(size=shape) * 0.01
        W_xh, W_hh = normal((vocab_size, num_hiddens)), normal((num_hiddens, num_hiddens))
        b_h = L.zeros(num_hiddens)
        W_hq, b_q = normal((num_hiddens, vocab_size)), L.zeros(vocab_size)
        params = [W_xh, W_hh, b_h, W_hq, b_q]
        for param in params:
            param.requires_grad_(True)
        return params

    def init_rnn_state(batch_size):
        return (L.zeros((batch_size, num_hiddens)), )

    def rnn(inputs, state, params):
        W_xh, W_hh, b_h, W_hq, b_q = params
        H, = state
        outputs = []
        for X in inputs:
            H = L.tanh(L.mm(X, W_xh) + L.mm(H, W_hh) + b_h)
            outputs.append(L.mm(H, W_hq) + b_q)
        return L.cat(outputs, dim=0), (H,)

    params = get_params()

    def forward(X, state):
        X = F.one_hot(X.T, vocab_size).type(L.float32)
        return rnn(X, state, params)

    def grad_clipping(theta):
        norm = L.sqrt(sum(L.sum((p.grad ** 2)) for p in params))
        if norm > theta:
            for param in params:
                param.grad[:] *= theta / norm
        return norm

    loss = L.nn.CrossEntropyLoss()
    corpus = labels(40, vocab_size, seed=102)
    state, record = None, []
    metric = _Accumulator(2)
    for i in range(0, 30, 5):
        X = L.tensor(corpus[i:i + 10].reshape(2, 5))
        Y = L.tensor(corpus[i + 1:i + 11].reshape(2, 5))
        if state is None:
            state = init_rnn_state(X.shape[0])
        else:
            for s in state:
                s.detach_()
        y = Y.T.reshape(-1)
        y_hat, state = forward(X, state)
        lo = loss(y_hat, y.long()).mean()
        lo.backward()
        norm = grad_clipping(0.05)
        with L.no_grad():
            for p in params:
                p -= 1.0 * p.grad
                p.grad.zero_()
        metric.add(lo * y.numel(), y.numel())
        record.append((lo.item(), norm.item()))

    def predict(prefix, num_preds):
        st = init_rnn_state(1)
        outputs = [prefix[0]]
        get_input = lambda: L.tensor([outputs[-1]]).reshape((1, 1))  # noqa: E731
        for y in prefix[1:]:
            _, st = forward(get_input(), st)
            outputs.append(y)
        for _ in range(num_preds):
            y, st = forward(get_input(), st)
            outputs.append(int(y.argmax(dim=1).reshape(1)))
        return outputs

    return record, math.exp(metric[0] / metric[1]), predict([1, 2, 3], 5), params[1].grad


@program
def d2l_batch_norm_from_scratch_grad_enabled_switch_and_moving_stats_lenet(L):
    """d2l's batch norm from scratch: batch_norm() branches on L.is_grad_enabled() (the
    moving statistics in prediction, batch statistics otherwise over dims (0, 2, 3) or 0
    with keepdim), moving averages momentum * moving + (1 - momentum) * batch, returns
    their .data; a BatchNorm module keeping gamma/beta Parameters and moving buffers as
    plain attributes moved with .to(X.device); in a small LeNet with sigmoid, trained with
    SGD; then evaluated under no_grad; the learned gamma and the moving variance."""
    nn = L.nn

    def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
        if not L.is_grad_enabled():
            X_hat = (X - moving_mean) / L.sqrt(moving_var + eps)
        else:
            assert len(X.shape) in (2, 4)
            if len(X.shape) == 2:
                mean = X.mean(dim=0)
                var = ((X - mean) ** 2).mean(dim=0)
            else:
                mean = X.mean(dim=(0, 2, 3), keepdim=True)
                var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            X_hat = (X - mean) / L.sqrt(var + eps)
            moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
            moving_var = momentum * moving_var + (1.0 - momentum) * var
        Y = gamma * X_hat + beta
        return Y, moving_mean.data, moving_var.data

    class BatchNorm(nn.Module):
        def __init__(self, num_features, num_dims):
            super().__init__()
            shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
            self.gamma = nn.Parameter(L.ones(shape, dtype=L.float64))
            self.beta = nn.Parameter(L.zeros(shape, dtype=L.float64))
            self.moving_mean = L.zeros(shape, dtype=L.float64)
            self.moving_var = L.ones(shape, dtype=L.float64)

        def forward(self, X):
            if self.moving_mean.device != X.device:
                self.moving_mean = self.moving_mean.to(X.device)
                self.moving_var = self.moving_var.to(X.device)
            Y, self.moving_mean, self.moving_var = batch_norm(
                X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5,
                momentum=0.9)
            return Y

    L.manual_seed(4)
    net = nn.Sequential(
        nn.Conv2d(1, 3, kernel_size=3), BatchNorm(3, num_dims=4), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(3 * 3 * 3, 8), BatchNorm(8, num_dims=2), nn.Sigmoid(),
        nn.Linear(8, 4)).double()
    opt = L.optim.SGD(net.parameters(), lr=0.9)
    X = _t(L, normal64(6, 1, 8, 8, seed=103))
    y = L.tensor(labels(6, 4, seed=104))
    losses = []
    for _ in range(3):
        lo = nn.functional.cross_entropy(net(X), y)
        opt.zero_grad()
        lo.backward()
        opt.step()
        losses.append(lo.item())
    with L.no_grad():
        pred = net(X)
    return losses, pred, net[1].gamma.reshape((-1,)), net[1].moving_var.reshape((-1,)), \
        net[6].moving_mean, net[6].beta.grad, len(list(net.parameters()))


def _masked_softmax(L, X, valid_lens):
    """d2l's masked_softmax: entries past each row's valid length set to -1e6 through
    the sequence mask (arange(maxlen)[None, :] < valid_len[:, None], X[~mask] = value)
    before the softmax; valid_lens 1-d (repeated over the rows by repeat_interleave) or
    2-d (flattened)."""
    def _sequence_mask(X, valid_len, value=0):
        maxlen = X.size(1)
        mask = L.arange((maxlen), dtype=L.float32, device=X.device)[None, :] < valid_len[:, None]
        X[~mask] = value
        return X

    if valid_lens is None:
        return L.nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = L.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = _sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
    return L.nn.functional.softmax(X.reshape(shape), dim=-1)


@program
def d2l_masked_softmax_additive_and_scaled_dot_product_attention(L):
    """d2l's attention scoring: masked_softmax with 1-d and 2-d valid lengths;
    AdditiveAttention (queries.unsqueeze(2) + keys.unsqueeze(1), tanh, w_v squeezed, the
    weights kept on the module, bmm with dropout in eval) and DotProductAttention
    (bmm(queries, keys.transpose(1, 2)) / sqrt(d)); values from arange(40).reshape(1, 10, 4)
    .repeat(2, 1, 1); gradients to the queries and the layer weights."""
    nn = L.nn
    L.manual_seed(5)

    class AdditiveAttention(nn.Module):
        def __init__(self, key_size, query_size, num_hiddens, dropout):
            super().__init__()
            self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
            self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
            self.w_v = nn.Linear(num_hiddens, 1, bias=False)
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens):
            queries, keys = self.W_q(queries), self.W_k(keys)
            features = L.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))
            scores = self.w_v(features).squeeze(-1)
            self.attention_weights = _masked_softmax(L, scores, valid_lens)
            return L.bmm(self.dropout(self.attention_weights), values)

    class DotProductAttention(nn.Module):
        def __init__(self, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens=None):
            d = queries.shape[-1]
            scores = L.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
            self.attention_weights = _masked_softmax(L, scores, valid_lens)
            return L.bmm(self.dropout(self.attention_weights), values)

    m1 = _masked_softmax(L, _t(L, normal64(2, 2, 4, seed=105)), L.tensor([2, 3]))
    m2 = _masked_softmax(L, _t(L, normal64(2, 2, 4, seed=106)), L.tensor([[1, 3], [2, 4]]))
    queries = _t(L, normal64(2, 1, 20, seed=107), grad=True)
    keys = L.ones((2, 10, 2), dtype=L.float64)
    values = L.arange(40, dtype=L.float64).reshape(1, 10, 4).repeat(2, 1, 1)
    valid_lens = L.tensor([2, 6])
    att = AdditiveAttention(2, 20, 8, dropout=0.1).double()
    att.eval()
    out = att(queries, keys, values, valid_lens)
    dot = DotProductAttention(dropout=0.5)
    dot.eval()
    q2 = _t(L, normal64(2, 1, 2, seed=108), grad=True)
    out2 = dot(q2, keys, values, valid_lens)
    (out.sum() + out2.pow(2).sum()).backward()
    return m1, m2, out, att.attention_weights, out2, queries.grad, q2.grad, att.W_q.weight.grad


@program(rtol=1e-6, atol=1e-7)        # (the encodings' sin/cos are taken in float32)
def d2l_multihead_attention_transpose_qkv_and_pow_positional_encoding(L):
    """d2l's MultiHeadAttention: transpose_qkv (reshape to heads, permute(0, 2, 1, 3),
    reshape to batch * heads) and transpose_output, valid_lens repeated per head with
    repeat_interleave(repeats=heads, dim=0), dot-product attention with masked softmax;
    d2l's PositionalEncoding: P built from arange(max_len).reshape(-1, 1) divided by
    L.pow(10000, arange(0, d, 2) / d), sin and cos written into P[:, :, 0::2] and
    P[:, :, 1::2]; an encoder block with AddNorm (dropout, LayerNorm) and a position-wise
    FFN; Adam for two steps."""
    nn = L.nn
    L.set_default_dtype(L.float64)
    L.manual_seed(6)

    def transpose_qkv(X, num_heads):
        X = X.reshape(X.shape[0], X.shape[1], num_heads, -1)
        X = X.permute(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def transpose_output(X, num_heads):
        X = X.reshape(-1, num_heads, X.shape[1], X.shape[2])
        X = X.permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)

    class MultiHeadAttention(nn.Module):
        def __init__(self, num_hiddens, num_heads, bias=False):
            super().__init__()
            self.num_heads = num_heads
            self.W_q = nn.LazyLinear(num_hiddens, bias=bias)
            self.W_k = nn.LazyLinear(num_hiddens, bias=bias)
            self.W_v = nn.LazyLinear(num_hiddens, bias=bias)
            self.W_o = nn.LazyLinear(num_hiddens, bias=bias)

        def forward(self, queries, keys, values, valid_lens):
            queries = transpose_qkv(self.W_q(queries), self.num_heads)
            keys = transpose_qkv(self.W_k(keys), self.num_heads)
            values = transpose_qkv(self.W_v(values), self.num_heads)
            if valid_lens is not None:
                valid_lens = L.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
            d = queries.shape[-1]
            scores = L.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
            self.attention_weights = _masked_softmax(L, scores, valid_lens)
            output = L.bmm(self.attention_weights, values)
            return self.W_o(transpose_output(output, self.num_heads))

    class PositionalEncoding(nn.Module):
        def __init__(self, num_hiddens, dropout, max_len=50):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.P = L.zeros((1, max_len, num_hiddens))
            X = L.arange(max_len, dtype=L.float32).reshape(-1, 1) / L.pow(
                10000, L.arange(0, num_hiddens, 2, dtype=L.float32) / num_hiddens)
            self.P[:, :, 0::2] = L.sin(X)
            self.P[:, :, 1::2] = L.cos(X)

        def forward(self, X):
            X = X + self.P[:, :X.shape[1], :].to(X.device)
            return self.dropout(X)

    class AddNorm(nn.Module):
        def __init__(self, norm_shape, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.ln = nn.LayerNorm(norm_shape)

        def forward(self, X, Y):
            return self.ln(self.dropout(Y) + X)

    class EncoderBlock(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.attention = MultiHeadAttention(d, heads)
            self.addnorm1 = AddNorm(d, 0.0)
            self.ffn = nn.Sequential(nn.LazyLinear(2 * d), nn.ReLU(), nn.LazyLinear(d))
            self.addnorm2 = AddNorm(d, 0.0)

        def forward(self, X, valid_lens):
            Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
            return self.addnorm2(Y, self.ffn(Y))

    d, heads = 8, 2
    emb = nn.Embedding(9, d)
    pos = PositionalEncoding(d, 0.0)
    blk = EncoderBlock(d, heads)
    tokens = L.tensor(labels(2 * 5, 9, seed=109)).view(2, 5)
    valid_lens = L.tensor([3, 5])
    blk(pos(emb(tokens) * math.sqrt(d)), valid_lens)
    params = list(emb.parameters()) + list(blk.parameters())
    opt = L.optim.Adam(params, lr=0.01)
    losses = []
    for _ in range(2):
        out = blk(pos(emb(tokens) * math.sqrt(d)), valid_lens)
        lo = out[:, 0].pow(2).mean()
        opt.zero_grad()
        lo.backward()
        opt.step()
        losses.append(lo.item())
    return losses, pos.P[0, :4], pos.P.dtype, blk.attention.attention_weights.shape, \
        blk.attention.W_q.weight.grad, emb.weight.grad


@program
def d2l_seq2seq_gru_xavier_flat_weights_masked_ce_subclass_and_bos_teacher_forcing(L):
    """d2l's seq2seq: a GRU encoder (embedding, GRU, the last state) and decoder (context
    from state[-1] repeated over time and concatenated with the embeddings, a dense
    output), initialised by an apply() that xavier-initialises Linear weights and, for a
    GRU, each name in m._flat_weights_names containing 'weight' via m._parameters[name];
    MaskedSoftmaxCELoss subclassing CrossEntropyLoss, setting self.reduction = 'none' in
    forward and calling super().forward(pred.permute(0, 2, 1), label) before the
    sequence mask; teacher forcing with a <bos> column cat'd to Y[:, :-1]; gradients
    clipped by the d2l grad_clipping."""
    nn = L.nn
    L.manual_seed(7)
    V, E, H = 9, 4, 6

    def sequence_mask(X, valid_len, value=0):
        maxlen = X.size(1)
        mask = L.arange((maxlen), dtype=L.float32)[None, :] < valid_len[:, None]
        X[~mask] = value
        return X

    class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
        def forward(self, pred, label, valid_len):
            weights = L.ones_like(label)
            weights = sequence_mask(weights, valid_len)
            self.reduction = "none"
            unweighted_loss = super().forward(pred.permute(0, 2, 1), label)
            return (unweighted_loss * weights).mean(dim=1)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, E)
            self.rnn = nn.GRU(E, H, 2)

        def forward(self, X):
            X = self.embedding(X).permute(1, 0, 2)
            output, state = self.rnn(X)
            return output, state

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, E)
            self.rnn = nn.GRU(E + H, H, 2)
            self.dense = nn.Linear(H, V)

        def forward(self, X, state):
            X = self.embedding(X).permute(1, 0, 2)
            context = state[-1].repeat(X.shape[0], 1, 1)
            output, state = self.rnn(L.cat((X, context), 2), state)
            return self.dense(output).permute(1, 0, 2), state

    def xavier_init_weights(m):
        if type(m) == nn.Linear:
            nn.init.xavier_uniform_(m.weight)
        if type(m) == nn.GRU:
            for param in m._flat_weights_names:
                if "weight" in param:
                    nn.init.xavier_uniform_(m._parameters[param])

    enc, dec = Encoder(), Decoder()
    enc.apply(xavier_init_weights)
    dec.apply(xavier_init_weights)
    enc, dec = enc.double(), dec.double()
    params = list(enc.parameters()) + list(dec.parameters())
    opt = L.optim.Adam(params, lr=5e-3)
    loss = MaskedSoftmaxCELoss()
    X = L.tensor(labels(3 * 5, V, seed=110)).view(3, 5)
    Y = L.tensor(labels(3 * 5, V, seed=111)).view(3, 5)
    Y_valid_len = L.tensor([5, 3, 4])
    record = []
    for _ in range(3):
        opt.zero_grad()
        bos = L.tensor([1] * Y.shape[0]).reshape(-1, 1)
        dec_input = L.cat([bos, Y[:, :-1]], 1)
        _, enc_state = enc(X)
        Y_hat, _ = dec(dec_input, enc_state)
        lo = loss(Y_hat, Y, Y_valid_len)
        lo.sum().backward()
        norm = L.sqrt(sum(L.sum((p.grad ** 2)) for p in params if p.requires_grad))
        if norm > 1.0:
            for p in params:
                p.grad[:] *= 1.0 / norm
        opt.step()
        record.append((lo.detach(), norm.item(), loss.reduction))
    return record, enc.rnn._flat_weights_names, enc.rnn.weight_hh_l1.grad, dec.dense.bias


# ----------------------------------------------------------------------------------------------
# Lightning-like loops
# ----------------------------------------------------------------------------------------------
def _seed_everything(L, seed):
    """What a Lightning-style seed_everything sets: Python's, numpy's and the library's
    generators (and the CUDA ones, a no-op on the CPU); the seed back."""
    random.seed(seed)
    np.random.seed(seed)
    L.manual_seed(seed)
    L.cuda.manual_seed_all(seed)
    return seed


@program
def lightning_loop_seed_everything_inference_mode_validation_and_early_stopping(L):
    """A LightningModule-shaped model (training_step and validation_step returning dicts,
    configure_optimizers giving an optimizer and a scheduler config dict) driven by a
    hand-written trainer: seed_everything, cudnn flags set, train() / eval() switches,
    validation under inference_mode with the epoch's mean val_loss from torch.stack of
    the steps' outputs, early stopping on val_loss (patience 2, min_delta 1e-3, mode min)
    that keeps the best state_dict by deepcopy and restores it at the end."""
    nn, F = L.nn, L.nn.functional
    seed = _seed_everything(L, 123)
    L.backends.cudnn.deterministic = True
    L.backends.cudnn.benchmark = False

    class LitModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1),
                                     nn.Linear(16, 1))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.mse_loss(self(x), y)
            return {"loss": loss, "log": {"train_loss": loss.detach()}}

        def validation_step(self, batch, batch_idx):
            x, y = batch
            return {"val_loss": F.mse_loss(self(x), y)}

        def configure_optimizers(self):
            opt = L.optim.Adam(self.parameters(), lr=0.05)
            sched = L.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    model = LitModel().double()
    cfg = model.configure_optimizers()
    opt, sched = cfg["optimizer"], cfg["lr_scheduler"]["scheduler"]
    x = L.from_numpy(np.random.randn(24, 4))
    y = (x[:, :1] * 2 - x[:, 1:2]) + 0.1 * L.from_numpy(np.random.randn(24, 1))
    train = L.utils.data.TensorDataset(x[:16], y[:16])
    val = L.utils.data.TensorDataset(x[16:], y[16:])
    train_dl = L.utils.data.DataLoader(train, batch_size=4, shuffle=True)
    val_dl = L.utils.data.DataLoader(val, batch_size=4)
    best, best_state, wait, history, stopped = math.inf, None, 0, [], None
    for epoch in range(12):
        model.train()
        for bidx, batch in enumerate(train_dl):
            out = model.training_step(batch, bidx)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
        sched.step()
        model.eval()
        with L.inference_mode():
            outs = [model.validation_step(b, i) for i, b in enumerate(val_dl)]
            val_loss = L.stack([o["val_loss"] for o in outs]).mean()
        history.append((val_loss.item(), out["log"]["train_loss"].item(), sched.get_last_lr()))
        if val_loss < best - 1e-3:
            best, wait = val_loss.item(), 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            wait += 1
            if wait >= 2:
                stopped = epoch
                break
    model.load_state_dict(best_state)
    with L.no_grad():
        final = F.mse_loss(model(x[16:]), y[16:])
    return seed, history, stopped, best, final, val_loss.is_inference(), \
        L.backends.cudnn.deterministic


@program
def lightning_checkpoint_top_k_in_memory_plateau_scheduler_and_inference_tensor_error(L):
    """Checkpointing the Lightning way, in memory: each epoch's state (epoch, global_step,
    state_dict, optimizer_states list, lr_schedulers list, a callbacks dict) saved to a
    BytesIO and kept for the top-2 by a monitored metric (a dict of score -> bytes,
    worst popped); ReduceLROnPlateau stepped with the metric; the best checkpoint loaded
    back with weights_only=True into a fresh model and optimizer; and the error of
    using an inference-mode tensor in a graph that saves it for backward."""
    nn, F = L.nn, L.nn.functional
    _seed_everything(L, 7)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    opt = L.optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
    sched = L.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=0)
    x = _t(L, normal64(10, 3, seed=112))
    y = _t(L, normal64(10, 1, seed=113))
    top_k, global_step, record = {}, 0, []
    for epoch in range(5):
        model.train()
        for i in range(0, 10, 5):
            loss = F.mse_loss(model(x[i:i + 5]), y[i:i + 5])
            opt.zero_grad()
            loss.backward()
            opt.step()
            global_step += 1
        with L.inference_mode():
            metric = F.l1_loss(model(x), y)
        sched.step(metric)
        ck = {"epoch": epoch, "global_step": global_step, "state_dict": model.state_dict(),
              "optimizer_states": [opt.state_dict()], "lr_schedulers": [sched.state_dict()],
              "callbacks": {"ModelCheckpoint": {"monitor": "val_mae", "best": None}}}
        buf = io.BytesIO()
        L.save(ck, buf)
        top_k[metric.item()] = buf.getvalue()
        if len(top_k) > 2:
            top_k.pop(max(top_k))
        record.append((metric.item(), opt.param_groups[0]["lr"], sorted(top_k)))
    best = min(top_k)
    ck = L.load(io.BytesIO(top_k[best]), weights_only=True)
    fresh = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    fresh.load_state_dict(ck["state_dict"])
    fresh_opt = L.optim.SGD(fresh.parameters(), lr=0.2, momentum=0.5)
    fresh_opt.load_state_dict(ck["optimizer_states"][0])
    with L.inference_mode():
        feats = fresh[0](x)
    w = L.ones(8, 1, dtype=L.float64, requires_grad=True)
    try:
        (feats @ w).sum().backward()
        err = "no error"
    except RuntimeError as exc:
        err = str(exc)
    return record, ck["epoch"], ck["global_step"], fresh[2].weight, \
        fresh_opt.param_groups[0]["lr"], ck["lr_schedulers"][0]["num_bad_epochs"], err


@program
def lightning_manual_optimization_gan_toggle_requires_grad_and_untoggle(L):
    """A Lightning manual-optimization GAN step: two optimizers from
    configure_optimizers, toggle_optimizer-like switching that sets requires_grad False on
    the parameters not owned by the active optimizer (remembering their flags) and
    restores them after; manual_backward as a plain backward; d loss with
    binary_cross_entropy_with_logits on real/fake, g loss with the non-saturating target;
    gradient norms per parameter group recorded."""
    nn, F = L.nn, L.nn.functional
    _seed_everything(L, 17)
    G = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 3)).double()
    D = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)).double()
    opt_g = L.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = L.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    all_params = list(G.parameters()) + list(D.parameters())
    saved = {}

    def toggle(opt):
        own = {id(p) for g in opt.param_groups for p in g["params"]}
        for p in all_params:
            saved[id(p)] = p.requires_grad
            if id(p) not in own:
                p.requires_grad = False

    def untoggle():
        for p in all_params:
            p.requires_grad = saved[id(p)]

    real = _t(L, normal64(6, 3, seed=114))
    record = []
    for step in range(3):
        z = L.randn(6, 2, dtype=L.float64)
        toggle(opt_g)
        fake = G(z)
        g_loss = F.binary_cross_entropy_with_logits(D(fake), L.ones(6, 1, dtype=L.float64))
        opt_g.zero_grad()
        g_loss.backward()
        g_norm = nn.utils.clip_grad_norm_(G.parameters(), 10.0)
        opt_g.step()
        d_has_grad = [p.grad is None for p in D.parameters()]
        untoggle()
        toggle(opt_d)
        d_real = F.binary_cross_entropy_with_logits(D(real), L.ones(6, 1, dtype=L.float64))
        d_fake = F.binary_cross_entropy_with_logits(D(fake.detach()),
                                                    L.zeros(6, 1, dtype=L.float64))
        d_loss = (d_real + d_fake) / 2
        opt_d.zero_grad()
        d_loss.backward()
        d_norm = nn.utils.clip_grad_norm_(D.parameters(), 10.0)
        opt_d.step()
        untoggle()
        record.append((g_loss.item(), d_loss.item(), g_norm, d_norm, d_has_grad,
                       [p.requires_grad for p in all_params]))
    return record, G[2].weight, D[0].weight.grad


# ----------------------------------------------------------------------------------------------
# tutorials and lecture notebooks
# ----------------------------------------------------------------------------------------------
@program
def dqn_tutorial_replay_memory_transition_zip_non_final_mask_and_soft_update(L):
    """The DQN tutorial: a ReplayMemory over a deque of Transition namedtuples, batches
    made by Transition(*zip(*transitions)), the non-final mask from
    tuple(map(lambda s: s is not None, ...)) as a bool tensor, Q(s, a) by gather(1, a),
    next-state values written through the mask under no_grad from the target network's
    max(1).values, SmoothL1Loss, clip_grad_value_(100), AdamW with amsgrad; epsilon-greedy
    actions with max(1).indices.view(1, 1); the target network soft-updated through its
    state_dict (tau) and load_state_dict."""
    nn = L.nn
    L.manual_seed(60)
    rng = random.Random(61)
    Transition = collections.namedtuple("Transition",
                                        ("state", "action", "next_state", "reward"))

    class ReplayMemory:
        def __init__(self, capacity):
            self.memory = collections.deque([], maxlen=capacity)

        def push(self, *args):
            self.memory.append(Transition(*args))

        def sample(self, batch_size):
            return rng.sample(self.memory, batch_size)

        def __len__(self):
            return len(self.memory)

    def dqn():
        return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)).double()

    policy_net, target_net = dqn(), dqn()
    target_net.load_state_dict(policy_net.state_dict())
    opt = L.optim.AdamW(policy_net.parameters(), lr=1e-3, amsgrad=True)
    memory = ReplayMemory(50)
    steps_done, GAMMA, TAU = 0, 0.99, 0.005

    def select_action(state):
        nonlocal steps_done
        sample = rng.random()
        eps_threshold = 0.05 + (0.9 - 0.05) * math.exp(-1.0 * steps_done / 10)
        steps_done += 1
        if sample > eps_threshold:
            with L.no_grad():
                return policy_net(state).max(1).indices.view(1, 1)
        return L.tensor([[rng.randrange(2)]], dtype=L.long)

    def optimize_model():
        transitions = memory.sample(6)
        batch = Transition(*zip(*transitions))
        non_final_mask = L.tensor(tuple(map(lambda s: s is not None, batch.next_state)),
                                  dtype=L.bool)
        non_final_next_states = L.cat([s for s in batch.next_state if s is not None])
        state_batch = L.cat(batch.state)
        action_batch = L.cat(batch.action)
        reward_batch = L.cat(batch.reward)
        state_action_values = policy_net(state_batch).gather(1, action_batch)
        next_state_values = L.zeros(6, dtype=L.float64)
        with L.no_grad():
            next_state_values[non_final_mask] = target_net(non_final_next_states).max(1).values
        expected = (next_state_values * GAMMA) + reward_batch
        loss = nn.SmoothL1Loss()(state_action_values, expected.unsqueeze(1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(policy_net.parameters(), 100)
        opt.step()
        return loss.item()

    record = []
    for episode in range(2):
        obs = np.array([0.02, -0.01, 0.03 * episode, 0.0])
        state = L.tensor(obs, dtype=L.float64).unsqueeze(0)
        for t in range(6):
            action = select_action(state)
            obs = obs + (0.1 if action.item() == 1 else -0.1) * np.array([1, 0.5, -0.3, 0.2])
            terminated = t == 5 or abs(obs[0]) > 0.25
            reward = L.tensor([1.0 - abs(obs[0])], dtype=L.float64)
            next_state = None if terminated else \
                L.tensor(obs, dtype=L.float64).unsqueeze(0)
            memory.push(state, action, next_state, reward)
            state = next_state
            if len(memory) >= 6:
                record.append(optimize_model())
            target_sd, policy_sd = target_net.state_dict(), policy_net.state_dict()
            for key in policy_sd:
                target_sd[key] = policy_sd[key] * TAU + target_sd[key] * (1 - TAU)
            target_net.load_state_dict(target_sd)
            if terminated:
                break
    return record, steps_done, target_net[2].bias, policy_net[0].weight.grad, len(memory)


@program
def makemore_mlp_generator_draws_embedding_lookup_and_sampling(L):
    """makemore's MLP language model: parameters drawn from an explicit Generator seeded
    with 2147483647 (C, W1, b1, W2, b2), emb = C[X] and a view to (B, block * d),
    minibatches by L.randint(0, n, (8,), generator=g), F.cross_entropy, the step-size
    schedule lr = 0.1 if i < k else 0.01 and p.data += -lr * p.grad; the dev loss under
    no_grad; names sampled with multinomial(..., generator=g) until the end token."""
    F = L.nn.functional
    g = L.Generator().manual_seed(2147483647)
    V, block, d = 6, 3, 4
    words = labels(60, V, seed=120)
    X = L.tensor(np.stack([words[i:i + block] for i in range(50)]))
    Y = L.tensor(words[block:block + 50])
    C = L.randn((V, d), generator=g, dtype=L.float64)
    W1 = L.randn((block * d, 16), generator=g, dtype=L.float64) * 0.2
    b1 = L.randn(16, generator=g, dtype=L.float64) * 0.01
    W2 = L.randn((16, V), generator=g, dtype=L.float64) * 0.01
    b2 = L.randn(V, generator=g, dtype=L.float64) * 0
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    lossi = []
    for i in range(6):
        ix = L.randint(0, X.shape[0], (8,), generator=g)
        emb = C[X[ix]]
        h = L.tanh(emb.view(-1, block * d) @ W1 + b1)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Y[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < 4 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        lossi.append(loss.log10().item())
    with L.no_grad():
        emb = C[X[40:]]
        dev = F.cross_entropy(L.tanh(emb.view(emb.shape[0], -1) @ W1 + b1) @ W2 + b2, Y[40:])
    samples = []
    for _ in range(3):
        out, context = [], [0] * block
        while True:
            emb = C[L.tensor([context])]
            h = L.tanh(emb.view(1, -1) @ W1 + b1)
            probs = F.softmax(h @ W2 + b2, dim=1)
            ix = L.multinomial(probs, num_samples=1, generator=g).item()
            context = context[1:] + [ix]
            out.append(ix)
            if ix == 0 or len(out) > 8:
                break
        samples.append(out)
    return lossi, dev.item(), samples, C.grad, sum(p.nelement() for p in parameters)


@program
def makemore_backprop_ninja_retain_grad_manual_gradients_and_cmp(L):
    """makemore's manual backprop exercise: a two-layer MLP with batch norm written out
    step by step (logits, max-subtraction, exp, sum, inverse, probs, log), retain_grad()
    on every intermediate, loss.backward(); then the same gradients derived by hand
    (dlogprobs[range(n), Yb] = -1/n, the chain through counts_sum_inv, norm_logits,
    the batch-norm and the embedding) and compared with cmp(): exact equality via
    (dt == t.grad).all().item(), allclose, and the max abs difference."""
    F = L.nn.functional
    g = L.Generator().manual_seed(42)
    n, nin, nh, V = 8, 6, 10, 5
    Xb = L.randn((n, nin), generator=g, dtype=L.float64)
    Yb = L.randint(0, V, (n,), generator=g)
    W1 = (L.randn((nin, nh), generator=g, dtype=L.float64) * 0.3).requires_grad_()
    b1 = (L.randn(nh, generator=g, dtype=L.float64) * 0.1).requires_grad_()
    W2 = (L.randn((nh, V), generator=g, dtype=L.float64) * 0.1).requires_grad_()
    b2 = (L.randn(V, generator=g, dtype=L.float64) * 0.1).requires_grad_()
    bngain = (1.0 + 0.1 * L.randn((1, nh), generator=g, dtype=L.float64)).requires_grad_()
    bnbias = (0.1 * L.randn((1, nh), generator=g, dtype=L.float64)).requires_grad_()
    hprebn = Xb @ W1 + b1
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff ** 2
    bnvar = 1 / (n - 1) * (bndiff2).sum(0, keepdim=True)
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = L.tanh(hpreact)
    logits = h @ W2 + b2
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum ** -1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()
    inter = [logprobs, probs, counts_sum_inv, counts_sum, counts, norm_logits, logit_maxes,
             logits, h, hpreact, bnraw, bnvar_inv, bnvar, bndiff2, bndiff, hprebn, bnmeani]
    for t in inter:
        t.retain_grad()
    loss.backward()
    dlogprobs = L.zeros_like(logprobs)
    dlogprobs[range(n), Yb] = -1.0 / n
    dprobs = (1.0 / probs) * dlogprobs
    dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)
    dcounts = counts_sum_inv * dprobs
    dcounts_sum = (-counts_sum ** -2) * dcounts_sum_inv
    dcounts += L.ones_like(counts) * dcounts_sum
    dnorm_logits = counts * dcounts
    dlogits = dnorm_logits.clone()
    dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True)
    dlogits += F.one_hot(logits.max(1).indices, num_classes=logits.shape[1]) * dlogit_maxes
    dh = dlogits @ W2.T
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(0)
    dhpreact = (1.0 - h ** 2) * dh
    dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
    dbnraw = bngain * dhpreact
    dbnbias = dhpreact.sum(0, keepdim=True)
    dbndiff = bnvar_inv * dbnraw
    dbnvar_inv = (bndiff * dbnraw).sum(0, keepdim=True)
    dbnvar = (-0.5 * (bnvar + 1e-5) ** -1.5) * dbnvar_inv
    dbndiff2 = (1.0 / (n - 1)) * L.ones_like(bndiff2) * dbnvar
    dbndiff += (2 * bndiff) * dbndiff2
    dhprebn = dbndiff.clone()
    dbnmeani = (-dbndiff).sum(0)
    dhprebn += 1.0 / n * (L.ones_like(hprebn) * dbnmeani)
    dW1 = Xb.T @ dhprebn
    db1 = dhprebn.sum(0)

    def cmp(s, dt, t):
        ex = bool((dt == t.grad).all().item())
        app = L.allclose(dt, t.grad)
        maxdiff = (dt - t.grad).abs().max().item()
        return f"{s:15s} | exact: {str(ex):5s} | approximate: {str(app):5s}", maxdiff < 1e-12

    checks = [cmp(s, d, t) for s, d, t in (
        ("logprobs", dlogprobs, logprobs), ("probs", dprobs, probs),
        ("counts_sum_inv", dcounts_sum_inv, counts_sum_inv), ("counts", dcounts, counts),
        ("logit_maxes", dlogit_maxes, logit_maxes), ("logits", dlogits, logits),
        ("h", dh, h), ("W2", dW2, W2), ("b2", db2, b2), ("hpreact", dhpreact, hpreact),
        ("bngain", dbngain, bngain), ("bnbias", dbnbias, bnbias),
        ("bnvar", dbnvar, bnvar), ("bndiff", dbndiff, bndiff), ("hprebn", dhprebn, hprebn),
        ("W1", dW1, W1), ("b1", db1, b1))]
    fast = F.softmax(logits, 1)
    fast[range(n), Yb] -= 1
    fast /= n
    return loss, [c[1] for c in checks], (fast - logits.grad).abs().max() < 1e-12, \
        logits.grad, W1.grad, bnvar.grad, [t.is_leaf for t in inter[:3]]


@program
def makemore_manual_batchnorm_running_stats_kaiming_scale_and_split_loss(L):
    """makemore part 3: kaiming-scaled init W1 * (5/3) / sqrt(fan_in), b1 * 0.01, W2 * 0.01,
    a batch norm written inline (bnmeani, bnstdi = hpreact.std(0, keepdim=True)) with
    running estimates updated under no_grad (0.999 running + 0.001 batch); training
    steps with p.grad = None; split_loss evaluated with the running stats under the
    no_grad decorator; the saturation fraction (h.abs() > 0.97).float().mean()."""
    F = L.nn.functional
    g = L.Generator().manual_seed(2147483647)
    V, block, d, nh = 7, 3, 4, 12
    words = labels(80, V, seed=121)
    X = L.tensor(np.stack([words[i:i + block] for i in range(70)]))
    Y = L.tensor(words[block:block + 70])
    C = L.randn((V, d), generator=g, dtype=L.float64)
    W1 = L.randn((d * block, nh), generator=g, dtype=L.float64) * (5 / 3) / \
        ((d * block) ** 0.5)
    b1 = L.randn(nh, generator=g, dtype=L.float64) * 0.01
    W2 = L.randn((nh, V), generator=g, dtype=L.float64) * 0.01
    b2 = L.randn(V, generator=g, dtype=L.float64) * 0
    bngain, bnbias = L.ones((1, nh), dtype=L.float64), L.zeros((1, nh), dtype=L.float64)
    bnmean_running = L.zeros((1, nh), dtype=L.float64)
    bnstd_running = L.ones((1, nh), dtype=L.float64)
    parameters = [C, W1, b1, W2, b2, bngain, bnbias]
    for p in parameters:
        p.requires_grad = True
    record = []
    for i in range(5):
        ix = L.randint(0, X.shape[0], (10,), generator=g)
        Xb, Yb = X[ix], Y[ix]
        emb = C[Xb]
        embcat = emb.view(emb.shape[0], -1)
        hpreact = embcat @ W1 + b1
        bnmeani = hpreact.mean(0, keepdim=True)
        bnstdi = hpreact.std(0, keepdim=True)
        hpreact = bngain * (hpreact - bnmeani) / bnstdi + bnbias
        with L.no_grad():
            bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
            bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
        h = L.tanh(hpreact)
        loss = F.cross_entropy(h @ W2 + b2, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data += -0.1 * p.grad
        record.append((loss.item(), (h.abs() > 0.97).float().mean().item()))

    @L.no_grad()
    def split_loss(x, y):
        emb = C[x]
        hpre = emb.view(emb.shape[0], -1) @ W1 + b1
        hpre = bngain * (hpre - bnmean_running) / bnstd_running + bnbias
        return F.cross_entropy(L.tanh(hpre) @ W2 + b2, y).item()

    return record, split_loss(X[:50], Y[:50]), split_loss(X[50:], Y[50:]), bnmean_running, \
        bnstd_running.requires_grad, bngain.grad


@program(rtol=1e-5, atol=1e-6)        # (float32, as the tutorial runs it)
def translation_transformer_tutorial_create_mask_padding_and_greedy_decode(L):
    """The translation tutorial's Seq2SeqTransformer: token embeddings scaled by
    sqrt(emb), a sinusoidal PositionalEncoding buffer of shape (maxlen, 1, emb), the full
    nn.Transformer (sequence first), a generator Linear; create_mask gives a float
    causal tgt mask (masked_fill of -inf and 0.0 on a triu-based bool mask), a zero bool
    src mask and bool padding masks (tokens == PAD).transpose(0, 1); the loss ignores PAD;
    greedy_decode calls encode/decode step by step and stops at EOS."""
    nn = L.nn
    L.manual_seed(70)
    PAD, BOS, EOS, V, E = 1, 2, 3, 10, 8

    class PositionalEncoding(nn.Module):
        def __init__(self, emb_size, maxlen=20):
            super().__init__()
            den = L.exp(- L.arange(0, emb_size, 2) * math.log(10000) / emb_size)
            pos = L.arange(0, maxlen).reshape(maxlen, 1)
            pos_embedding = L.zeros((maxlen, emb_size))
            pos_embedding[:, 0::2] = L.sin(pos * den)
            pos_embedding[:, 1::2] = L.cos(pos * den)
            pos_embedding = pos_embedding.unsqueeze(-2)
            self.dropout = nn.Dropout(0.0)
            self.register_buffer("pos_embedding", pos_embedding)

        def forward(self, token_embedding):
            return self.dropout(token_embedding + self.pos_embedding[:token_embedding.size(0), :])

    class TokenEmbedding(nn.Module):
        def __init__(self, vocab_size, emb_size):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, emb_size)
            self.emb_size = emb_size

        def forward(self, tokens):
            return self.embedding(tokens.long()) * math.sqrt(self.emb_size)

    class Seq2SeqTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.Transformer(d_model=E, nhead=2, num_encoder_layers=1,
                                              num_decoder_layers=1, dim_feedforward=16,
                                              dropout=0.0)
            self.generator = nn.Linear(E, V)
            self.src_tok_emb = TokenEmbedding(V, E)
            self.tgt_tok_emb = TokenEmbedding(V, E)
            self.positional_encoding = PositionalEncoding(E)

        def forward(self, src, trg, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask,
                    memory_key_padding_mask):
            src_emb = self.positional_encoding(self.src_tok_emb(src))
            tgt_emb = self.positional_encoding(self.tgt_tok_emb(trg))
            outs = self.transformer(src_emb, tgt_emb, src_mask, tgt_mask, None,
                                    src_padding_mask, tgt_padding_mask, memory_key_padding_mask)
            return self.generator(outs)

        def encode(self, src, src_mask):
            return self.transformer.encoder(self.positional_encoding(self.src_tok_emb(src)),
                                            src_mask)

        def decode(self, tgt, memory, tgt_mask):
            return self.transformer.decoder(self.positional_encoding(self.tgt_tok_emb(tgt)),
                                            memory, tgt_mask)

    def generate_square_subsequent_mask(sz):
        mask = (L.triu(L.ones((sz, sz))) == 1).transpose(0, 1)
        return mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(
            mask == 1, float(0.0))

    def create_mask(src, tgt):
        src_seq_len, tgt_seq_len = src.shape[0], tgt.shape[0]
        tgt_mask = generate_square_subsequent_mask(tgt_seq_len)
        src_mask = L.zeros((src_seq_len, src_seq_len)).type(L.bool)
        src_padding_mask = (src == PAD).transpose(0, 1)
        tgt_padding_mask = (tgt == PAD).transpose(0, 1)
        return src_mask, tgt_mask, src_padding_mask, tgt_padding_mask

    model = Seq2SeqTransformer()
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    opt = L.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-9)
    src = L.tensor([[BOS, BOS], [5, 6], [7, 4], [EOS, 8], [PAD, EOS]])
    tgt = L.tensor([[BOS, BOS], [4, 9], [EOS, 5], [PAD, 6], [PAD, EOS]])
    losses = []
    model.train()
    for _ in range(2):
        tgt_input = tgt[:-1, :]
        src_mask, tgt_mask, src_padding_mask, tgt_padding_mask = create_mask(src, tgt_input)
        logits = model(src, tgt_input, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask,
                       src_padding_mask)
        opt.zero_grad()
        tgt_out = tgt[1:, :]
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    s = src[:, :1]
    memory = model.encode(s, L.zeros(s.shape[0], s.shape[0]).type(L.bool))
    ys = L.ones(1, 1).fill_(BOS).type(L.long)
    for _ in range(5):
        tm = generate_square_subsequent_mask(ys.size(0)).type(L.bool)
        out = model.decode(ys, memory, tm).transpose(0, 1)
        prob = model.generator(out[:, -1])
        _, next_word = L.max(prob, dim=1)
        next_word = next_word.item()
        ys = L.cat([ys, L.ones(1, 1).type_as(s.data).fill_(next_word)], dim=0)
        if next_word == EOS:
            break
    return losses, ys.flatten(), model.generator.weight.grad, create_mask(src, tgt[:-1])


@program
def neural_style_tutorial_rebuilt_sequential_loss_modules_slicing_and_lbfgs_image(L):
    """The neural-style tutorial (Gatys): a Normalization module from mean/std tensors
    viewed (-1, 1, 1); a feature net's children walked and renamed into a new Sequential
    ('conv_1', 'relu_1' replaced by ReLU(inplace=False), 'pool_1'), ContentLoss and
    StyleLoss modules (targets detached; the loss stored on the module and the input
    passed through) inserted by add_module; the model cut after the last loss module by
    scanning backwards and slicing model[:(i + 1)]; the input image optimised by L-BFGS
    (requires_grad_ on the image, the network's parameters frozen by requires_grad_(False)),
    the closure clamping the image in place under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(80)
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True),
                        nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1),
                        nn.ReLU(inplace=True), nn.Conv2d(4, 4, 3, padding=1)).double().eval()
    mean = L.tensor([0.485, 0.456, 0.406], dtype=L.float64)
    std = L.tensor([0.229, 0.224, 0.225], dtype=L.float64)

    class ContentLoss(nn.Module):
        def __init__(self, target):
            super().__init__()
            self.target = target.detach()

        def forward(self, input):
            self.loss = F.mse_loss(input, self.target)
            return input

    def gram_matrix(input):
        a, b, c, d = input.size()
        features = input.view(a * b, c * d)
        G = L.mm(features, features.t())
        return G.div(a * b * c * d)

    class StyleLoss(nn.Module):
        def __init__(self, target_feature):
            super().__init__()
            self.target = gram_matrix(target_feature).detach()

        def forward(self, input):
            self.loss = F.mse_loss(gram_matrix(input), self.target)
            return input

    class Normalization(nn.Module):
        def __init__(self, mean, std):
            super().__init__()
            self.mean = mean.clone().detach().view(-1, 1, 1)
            self.std = std.clone().detach().view(-1, 1, 1)

        def forward(self, img):
            return (img - self.mean) / self.std

    style_img = _t(L, np.random.RandomState(122).rand(1, 3, 8, 8))
    content_img = _t(L, np.random.RandomState(123).rand(1, 3, 8, 8))
    content_layers, style_layers = ["conv_2"], ["conv_1", "conv_2"]
    model = nn.Sequential(Normalization(mean, std))
    content_losses, style_losses, names = [], [], []
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = "conv_{}".format(i)
        elif isinstance(layer, nn.ReLU):
            name = "relu_{}".format(i)
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = "pool_{}".format(i)
        else:
            raise RuntimeError("Unrecognized layer: {}".format(layer.__class__.__name__))
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module("content_loss_{}".format(i), content_loss)
            content_losses.append(content_loss)
        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module("style_loss_{}".format(i), style_loss)
            style_losses.append(style_loss)
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], ContentLoss) or isinstance(model[i], StyleLoss):
            break
    model = model[:(i + 1)]
    names = [n for n, _ in model.named_children()]
    input_img = content_img.clone()
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = L.optim.LBFGS([input_img])
    run, history = [0], []
    while run[0] <= 6:
        def closure():
            with L.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_img)
            style_score = sum(sl.loss for sl in style_losses) * 1e4
            content_score = sum(cl.loss for cl in content_losses)
            loss = style_score + content_score
            loss.backward()
            run[0] += 1
            history.append((style_score.item(), content_score.item()))
            return style_score + content_score
        optimizer.step(closure)
    with L.no_grad():
        input_img.clamp_(0, 1)
    return names, history, input_img, type(model).__name__, len(model), \
        any(p.requires_grad for p in model.parameters())


@program
def transfer_learning_tutorial_frozen_backbone_phases_set_grad_enabled_and_best_weights(L):
    """The transfer-learning tutorial's train_model: a backbone with every parameter's
    requires_grad set False, its fc replaced by a new Linear(num_ftrs, 2); SGD on
    model.fc.parameters() only, StepLR; per epoch a 'train' and a 'val' phase, each under
    L.set_grad_enabled(phase == 'train'), preds from max(outputs, 1), running_loss +=
    loss.item() * inputs.size(0) and running_corrects += L.sum(preds == labels.data),
    epoch_acc = running_corrects.double() / size; the best weights kept by deepcopy of
    the state_dict and loaded at the end."""
    nn = L.nn
    L.manual_seed(81)

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU(),
                                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc = nn.Linear(6, 10)

        def forward(self, x):
            return self.fc(self.features(x))

    model = Backbone().double()
    for param in model.parameters():
        param.requires_grad = False
    num_ftrs = model.fc.in_features
    model.fc = nn.Linear(num_ftrs, 2).double()
    criterion = nn.CrossEntropyLoss()
    opt = L.optim.SGD(model.fc.parameters(), lr=0.01, momentum=0.9)
    sched = L.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    data = {"train": (_t(L, normal64(8, 3, 5, 5, seed=124)), L.tensor(labels(8, 2, seed=125))),
            "val": (_t(L, normal64(4, 3, 5, 5, seed=126)), L.tensor(labels(4, 2, seed=127)))}
    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc, log = 0.0, []
    for epoch in range(3):
        for phase in ["train", "val"]:
            if phase == "train":
                model.train()
            else:
                model.eval()
            running_loss, running_corrects = 0.0, 0
            X, Y = data[phase]
            for i in range(0, len(X), 4):
                inputs, labels_ = X[i:i + 4], Y[i:i + 4]
                opt.zero_grad()
                with L.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    _, preds = L.max(outputs, 1)
                    loss = criterion(outputs, labels_)
                    if phase == "train":
                        loss.backward()
                        opt.step()
                running_loss += loss.item() * inputs.size(0)
                running_corrects += L.sum(preds == labels_.data)
            if phase == "train":
                sched.step()
            epoch_loss = running_loss / len(X)
            epoch_acc = running_corrects.double() / len(X)
            log.append("{} Loss: {:.4f} Acc: {:.4f}".format(phase, epoch_loss, epoch_acc))
            if phase == "val" and epoch_acc > best_acc:
                best_acc = epoch_acc
                best_model_wts = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_model_wts)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    return log, best_acc, model.fc.weight, model.features[1].running_mean, frozen, \
        model.features[0].weight.grad, loss.requires_grad


@program
def hf_linear_and_cosine_warmup_lambdas_scheduler_state_and_grad_accumulation(L):
    """The transformers-style schedules written as LambdaLR factories: linear warmup then
    linear decay to zero, and warmup then half-cosine (num_cycles 0.5), each a closure over
    the step counts, with last_epoch=-1; optimizer steps every 2 micro-batches with the
    loss divided by the accumulation count, the schedulers stepped after each optimizer
    step; the schedulers' state_dict keys and last_epoch, the lrs over steps, and the
    parameters' update."""
    nn = L.nn
    L.manual_seed(83)

    def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps,
                                        last_epoch=-1):
        def lr_lambda(current_step):
            if current_step < num_warmup_steps:
                return float(current_step) / float(max(1, num_warmup_steps))
            return max(0.0, float(num_training_steps - current_step) /
                       float(max(1, num_training_steps - num_warmup_steps)))
        return L.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda, last_epoch)

    def get_cosine_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps,
                                        num_cycles=0.5, last_epoch=-1):
        def lr_lambda(current_step):
            if current_step < num_warmup_steps:
                return float(current_step) / float(max(1, num_warmup_steps))
            progress = float(current_step - num_warmup_steps) / \
                float(max(1, num_training_steps - num_warmup_steps))
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 *
                                                  progress)))
        return L.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda, last_epoch)

    model = nn.Linear(4, 2).double()
    head = nn.Linear(2, 1).double()
    opt1 = L.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    opt2 = L.optim.SGD(head.parameters(), lr=0.1)
    s1 = get_linear_schedule_with_warmup(opt1, 2, 6)
    s2 = get_cosine_schedule_with_warmup(opt2, 1, 6)
    x, y = _t(L, normal64(12, 4, seed=130)), _t(L, normal64(12, 1, seed=131))
    accum, record = 2, []
    for step, i in enumerate(range(0, 12, 1)):
        loss = nn.functional.mse_loss(head(model(x[i:i + 1])), y[i:i + 1]) / accum
        loss.backward()
        if (step + 1) % accum == 0:
            opt1.step()
            opt2.step()
            s1.step()
            s2.step()
            opt1.zero_grad()
            opt2.zero_grad()
            record.append((s1.get_last_lr()[0], s2.get_last_lr()[0], loss.item()))
    return record, sorted(s1.state_dict()), s1.last_epoch, s2.state_dict()["_step_count"], \
        model.weight, head.bias


@program
def confusion_matrix_metric_states_bincount_reset_and_per_class_f1(L):
    """A torchmetrics-style multiclass metric kept as tensor states: update() adds
    bincount(target * C + preds, minlength=C * C).reshape(C, C) to a confusion matrix,
    compute() gives accuracy, per-class precision/recall/F1 with zero-division guarded by
    torch.where, macro and weighted averages; reset() zeros the state with zero_(); fed
    argmax predictions of a small classifier over several batches."""
    nn = L.nn
    L.manual_seed(84)
    C = 4

    class ConfMat:
        def __init__(self, num_classes):
            self.num_classes = num_classes
            self.confmat = L.zeros(num_classes, num_classes, dtype=L.long)

        def update(self, preds, target):
            if preds.ndim == target.ndim + 1:
                preds = preds.argmax(dim=1)
            unique_mapping = target.to(L.long) * self.num_classes + preds.to(L.long)
            bins = L.bincount(unique_mapping, minlength=self.num_classes ** 2)
            self.confmat += bins.reshape(self.num_classes, self.num_classes)

        def compute(self):
            cm = self.confmat.double()
            tp = cm.diag()
            fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
            precision = L.where(tp + fp > 0, tp / (tp + fp), L.zeros_like(tp))
            recall = L.where(tp + fn > 0, tp / (tp + fn), L.zeros_like(tp))
            denom = precision + recall
            f1 = L.where(denom > 0, 2 * precision * recall / denom, L.zeros_like(denom))
            support = cm.sum(1)
            return {"acc": tp.sum() / cm.sum(), "f1": f1, "macro_f1": f1.mean(),
                    "weighted_f1": (f1 * support).sum() / support.sum(),
                    "precision": precision}

        def reset(self):
            self.confmat.zero_()

    model = nn.Linear(5, C).double()
    metric = ConfMat(C)
    results = []
    for epoch in range(2):
        for b in range(3):
            x = _t(L, normal64(6, 5, seed=132 + 3 * epoch + b))
            y = L.tensor(labels(6, C, seed=140 + 3 * epoch + b))
            with L.no_grad():
                metric.update(model(x), y)
        results.append((metric.compute(), metric.confmat.clone()))
        metric.reset()
    return results, metric.confmat.sum()


@program
def endless_random_samplers_sliced_with_islice_and_block_boundaries(L):
    """Training scripts that iterate 'forever' through a sampler: RandomSampler with
    replacement and num_samples 10**12 (iterated with itertools.islice past the first
    drawn blocks), without replacement and a num_samples many epochs long, with and
    without an explicit generator (the fresh seed taken from the default generator at the
    first index), their lengths, a BatchSampler over one with drop_last, and a DataLoader
    whose len() is huge but whose first batches come at once."""
    import itertools
    D = L.utils.data
    L.manual_seed(90)
    out = []
    for n, rep, num in ((7, True, 10 ** 12), (5, True, 70001), (3, False, 10 ** 12),
                        (4, False, 9)):
        def fresh():
            return D.RandomSampler(range(n), replacement=rep, num_samples=num,
                                   generator=L.Generator().manual_seed(n))
        s = fresh()
        out.append((len(s), sum(itertools.islice(iter(s), 70040)),
                    list(itertools.islice(iter(fresh()), 65530, 65545))))
        it = iter(D.RandomSampler(range(n), replacement=rep, num_samples=num))
        first = L.randn(2)
        out.append((next(it), first, list(itertools.islice(it, 40))))
    bs = D.BatchSampler(D.RandomSampler(range(6), True, 10 ** 9), 4, drop_last=True)
    loader = D.DataLoader(D.TensorDataset(L.arange(6.0)), batch_size=3,
                          sampler=D.RandomSampler(range(6), True, 10 ** 11))
    batches = [b[0] for b in itertools.islice(iter(loader), 3)]
    return out, len(bs), list(itertools.islice(iter(bs), 3)), len(loader), batches


@program
def gcn_example_sparse_normalised_adjacency_spmm_layers_and_masked_accuracy(L):
    """The GCN example: edges symmetrised and self-looped, the adjacency built as a
    sparse COO tensor (indices stacked from row/col arrays, ones as values), degree from a
    dense row sum, D^-1/2 A D^-1/2 by scaling the COO values and coalescing; layers
    support = input @ W then L.sparse.mm(adj, support) + bias (uniform(-1/sqrt(out),
    1/sqrt(out)) init), ReLU and dropout between, log_softmax output; NLL on train
    indices, Adam with weight decay, accuracy on val indices via max(1)[1].type_as."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(91)
    n = 8
    rng = np.random.RandomState(150)
    src, dst = rng.randint(0, n, 12), rng.randint(0, n, 12)
    row = np.concatenate([src, dst, np.arange(n)])
    col = np.concatenate([dst, src, np.arange(n)])
    pairs = np.unique(np.stack([row, col], 1), axis=0)
    indices = L.from_numpy(pairs.T.copy()).long()
    values = L.ones(indices.shape[1], dtype=L.float64)
    adj = L.sparse_coo_tensor(indices, values, (n, n))
    deg = adj.to_dense().sum(1)
    d_inv_sqrt = deg.pow(-0.5)
    d_inv_sqrt[L.isinf(d_inv_sqrt)] = 0.0
    norm_vals = d_inv_sqrt[indices[0]] * values * d_inv_sqrt[indices[1]]
    adj = L.sparse_coo_tensor(indices, norm_vals, (n, n)).coalesce()

    class GraphConvolution(nn.Module):
        def __init__(self, fin, fout):
            super().__init__()
            self.weight = nn.Parameter(L.empty(fin, fout, dtype=L.float64))
            self.bias = nn.Parameter(L.empty(fout, dtype=L.float64))
            stdv = 1.0 / math.sqrt(self.weight.size(1))
            self.weight.data.uniform_(-stdv, stdv)
            self.bias.data.uniform_(-stdv, stdv)

        def forward(self, input, adj):
            support = L.mm(input, self.weight)
            return L.sparse.mm(adj, support) + self.bias

    class GCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.gc1, self.gc2 = GraphConvolution(5, 6), GraphConvolution(6, 3)

        def forward(self, x, adj):
            x = F.relu(self.gc1(x, adj))
            x = F.dropout(x, 0.5, training=self.training)
            return F.log_softmax(self.gc2(x, adj), dim=1)

    feats = _t(L, normal64(n, 5, seed=151))
    y = L.tensor(labels(n, 3, seed=152))
    idx_train, idx_val = L.LongTensor(range(5)), L.LongTensor(range(5, 8))
    model = GCN()
    opt = L.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    record = []
    for _ in range(3):
        model.train()
        opt.zero_grad()
        out = model(feats, adj)
        loss = F.nll_loss(out[idx_train], y[idx_train])
        loss.backward()
        opt.step()
        model.eval()
        out = model(feats, adj)
        preds = out[idx_val].max(1)[1].type_as(y)
        record.append((loss.item(), preds.eq(y[idx_val]).double().sum() / len(idx_val)))
    return record, adj.to_dense(), adj.is_coalesced(), model.gc1.weight.grad, \
        model.gc2.bias.grad


@program
def tv_reference_smoothed_value_deque_median_metric_logger_and_constant_warmup(L):
    """torchvision's SmoothedValue: a deque window plus running total/count, median by
    L.tensor(list(deque)).median().item(), avg by a float32 tensor's mean(), global_avg
    and the format string '{median:.4f} ({global_avg:.4f})'; a MetricLogger of them via a
    defaultdict, fed loss and lr each iteration of a loop whose warmup is ConstantLR
    (factor 0.25, 2 iterations) chained to ExponentialLR by SequentialLR."""
    nn = L.nn
    L.manual_seed(92)

    class SmoothedValue:
        def __init__(self, window_size=3, fmt=None):
            if fmt is None:
                fmt = "{median:.4f} ({global_avg:.4f})"
            self.deque = collections.deque(maxlen=window_size)
            self.total, self.count, self.fmt = 0.0, 0, fmt

        def update(self, value, n=1):
            self.deque.append(value)
            self.count += n
            self.total += value * n

        @property
        def median(self):
            return L.tensor(list(self.deque)).median().item()

        @property
        def avg(self):
            return L.tensor(list(self.deque), dtype=L.float32).mean().item()

        @property
        def global_avg(self):
            return self.total / self.count

        @property
        def max(self):
            return max(self.deque)

        def __str__(self):
            return self.fmt.format(median=self.median, avg=self.avg,
                                   global_avg=self.global_avg, max=self.max,
                                   value=self.deque[-1])

    meters = collections.defaultdict(SmoothedValue)
    model = nn.Linear(3, 1).double()
    opt = L.optim.SGD(model.parameters(), lr=0.2)
    warm = L.optim.lr_scheduler.ConstantLR(opt, factor=0.25, total_iters=2)
    main = L.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    sched = L.optim.lr_scheduler.SequentialLR(opt, [warm, main], milestones=[2])
    x, y = _t(L, normal64(6, 3, seed=153)), _t(L, normal64(6, 1, seed=154))
    lines = []
    for it in range(6):
        loss = nn.functional.mse_loss(model(x[it:it + 1]), y[it:it + 1])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        meters["loss"].update(loss.item())
        meters["lr"].update(opt.param_groups[0]["lr"])
        lines.append("  ".join(f"{k}: {v}" for k, v in meters.items()))
    return lines, meters["loss"].avg, meters["lr"].max, model.weight


@program
def peek_one_batch_then_train_with_seeded_loader_generator(L):
    """The tutorials' first look at the data, images, labels = next(iter(loader)), on a
    shuffling loader seeded through generator=g (the reproducibility recipe, with a
    seed_worker that would seed numpy and random from initial_seed), then full epochs;
    the peeked batch, every epoch's order and the generator's next draw must be
    PyTorch's: an abandoned epoch leaves the generator where PyTorch's leaves it; the
    same with a sampler of 2.5 epochs (num_samples=25) left in its second epoch."""
    D = L.utils.data

    def seed_worker(worker_id):
        worker_seed = L.initial_seed() % 2 ** 32
        np.random.seed(worker_seed)
        random.seed(worker_seed)

    g = L.Generator()
    g.manual_seed(0)
    ds = D.TensorDataset(_t(L, normal64(10, 2, seed=160)), L.tensor(labels(10, 3, seed=161)))
    loader = D.DataLoader(ds, batch_size=4, shuffle=True, worker_init_fn=seed_worker,
                          generator=g)
    images, lbls = next(iter(loader))
    epochs = [[y.tolist() for _, y in loader] for _ in range(2)]
    g2 = L.Generator().manual_seed(1)
    rs = D.RandomSampler(ds, num_samples=25, generator=g2)
    rl = D.DataLoader(ds, batch_size=3, sampler=rs)
    it = iter(rl)
    first = [next(it)[1] for _ in range(4)]
    del it
    rest = [y for _, y in rl]
    return images, lbls, epochs, L.rand(2, generator=g), first, rest, \
        L.randint(0, 9, (3,), generator=g2)


@program
def mixup_lambda_from_private_gamma_and_dirichlet_samplers_with_dtype_errors(L):
    """Mixup code that draws its Beta(a, a) weight through the private samplers: two
    L._standard_gamma draws normalised (g1 / (g1 + g2)), and rows of
    L._sample_dirichlet over a (B, 2) concentration in float32 and float64 (including a
    zero concentration, kept inside (0, 1)); the grad_fn name of a gamma draw of a leaf
    that requires grad; integer concentrations refused with the kernels' words."""
    L.manual_seed(93)
    a = L.tensor([0.4, 0.4])
    g = L._standard_gamma(a)
    lam = (g[0] / (g[0] + g[1])).item()
    conc64 = L.tensor([[0.2, 0.2], [1.0, 3.0], [0.0, 2.0]], dtype=L.float64)
    d64 = L._sample_dirichlet(conc64)
    d32 = L._sample_dirichlet(conc64.float())
    leaf = L.tensor([0.5, 1.5], requires_grad=True)
    draw = L._standard_gamma(leaf)
    errs = []
    for f in (L._sample_dirichlet, L._standard_gamma):
        try:
            f(L.tensor([1, 2]))
            errs.append("no error")
        except NotImplementedError as exc:
            errs.append(str(exc))
    return lam, g, d64, d32, d64.sum(-1), draw.detach(), draw.grad_fn.name(), \
        draw.requires_grad, errs


# ----------------------------------------------------------------------------------------------
# more repositories' training-script idioms
# ----------------------------------------------------------------------------------------------
@program
def yolo_style_smart_optimizer_groups_interp_warmup_and_inplace_state_dict_ema(L):
    """A YOLO-style training script: the norm classes found by scanning nn.__dict__ for
    'Norm' in the name; parameters split into weights with decay, norm weights and biases
    by named_parameters(recurse=False) over modules(); SGD built on the biases with
    nesterov, the other two added by add_param_group; a LambdaLR linear decay lf with
    last_epoch set by hand; warmup per iteration by np.interp of each group's lr (the bias
    group falling from a warmup bias lr) and of the momentum; a ModelEMA whose update
    multiplies the EMA's floating state_dict entries in place (v *= d; v += (1 - d) *
    msd[k].detach()) with d = decay * (1 - exp(-updates / tau))."""
    nn = L.nn
    L.manual_seed(95)
    bn = tuple(v for k, v in nn.__dict__.items() if "Norm" in k)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.SiLU(),
                          nn.Conv2d(4, 5, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()).double()
    g = [], [], []
    for v in model.modules():
        for p_name, p in v.named_parameters(recurse=False):
            if p_name == "bias":
                g[2].append(p)
            elif p_name == "weight" and isinstance(v, bn):
                g[1].append(p)
            else:
                g[0].append(p)
    lr0, momentum, decay = 0.01, 0.937, 5e-4
    opt = L.optim.SGD(g[2], lr=lr0, momentum=momentum, nesterov=True)
    opt.add_param_group({"params": g[0], "weight_decay": decay})
    opt.add_param_group({"params": g[1], "weight_decay": 0.0})
    epochs, lrf = 4, 0.01

    def lf(x):
        return (1 - x / epochs) * (1.0 - lrf) + lrf

    sched = L.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lf)
    sched.last_epoch = -1

    class ModelEMA:
        def __init__(self, model, decay=0.9999, tau=2, updates=0):
            self.ema = copy.deepcopy(model).eval()
            self.updates = updates
            self.decay = lambda x: decay * (1 - math.exp(-x / tau))
            for p in self.ema.parameters():
                p.requires_grad_(False)

        def update(self, model):
            self.updates += 1
            d = self.decay(self.updates)
            msd = model.state_dict()
            for k, v in self.ema.state_dict().items():
                if v.dtype.is_floating_point:
                    v *= d
                    v += (1 - d) * msd[k].detach()

    ema = ModelEMA(model)
    x = _t(L, normal64(8, 3, 5, 5, seed=170))
    y = _t(L, normal64(8, 5, seed=171))
    nb, nw = 2, 3
    record = []
    for epoch in range(epochs):
        for i in range(nb):
            ni = i + nb * epoch
            if ni <= nw:
                xi = [0, nw]
                for j, group in enumerate(opt.param_groups):
                    group["lr"] = float(np.interp(ni, xi, [0.1 if j == 0 else 0.0,
                                                           group["initial_lr"] * lf(epoch)]))
                    group["momentum"] = float(np.interp(ni, xi, [0.8, momentum]))
            loss = nn.functional.mse_loss(model(x[i * 4:(i + 1) * 4]), y[i * 4:(i + 1) * 4])
            opt.zero_grad()
            loss.backward()
            opt.step()
            ema.update(model)
            record.append((loss.item(), [round(gp["lr"], 12) for gp in opt.param_groups]))
        sched.step()
    return record, [len(x) for x in g], sorted(b.__name__ for b in bn), ema.ema[1].running_var, \
        ema.ema[0].weight, ema.updates, sched.get_last_lr()


@program
def deit_distillation_loss_hard_soft_log_target_kl_and_layerwise_lr_decay(L):
    """DeiT's DistillationLoss around a student with a class and a distillation head: the
    base cross-entropy on the class head, the distillation head matched to a frozen
    teacher either softly (kl_div of log-softmaxes at temperature T with log_target=True,
    reduction 'sum', times T^2 / numel) or hard (cross-entropy against the teacher's
    argmax), mixed by alpha; the optimizer built with layer-wise lr decay as in BEiT/MAE
    fine-tuning (a layer id per parameter name, lr_scale = decay ** (layers - id), stored
    in each group and applied by a scheduler function that sets group['lr'] = lr *
    group['lr_scale'] with a half-cosine after warmup)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(96)

    class Student(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = nn.Linear(6, 8)
            self.blocks = nn.ModuleList([nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 8),
                                                       nn.GELU()) for _ in range(2)])
            self.head, self.head_dist = nn.Linear(8, 3), nn.Linear(8, 3)

        def forward(self, x):
            x = self.patch_embed(x)
            for b in self.blocks:
                x = x + b(x)
            return self.head(x), self.head_dist(x)

    student = Student().double()
    teacher = nn.Sequential(nn.Linear(6, 3)).double().eval()
    for p in teacher.parameters():
        p.requires_grad = False

    def get_layer_id(name, num_layers):
        if name.startswith("patch_embed"):
            return 0
        if name.startswith("blocks"):
            return int(name.split(".")[1]) + 1
        return num_layers

    num_layers, layer_decay, base_lr = 3, 0.75, 0.02
    groups = {}
    for n, p in student.named_parameters():
        no_decay = p.ndim == 1
        layer_id = get_layer_id(n, num_layers)
        key = "layer_%d_%s" % (layer_id, "no_decay" if no_decay else "decay")
        if key not in groups:
            groups[key] = {"params": [], "weight_decay": 0.0 if no_decay else 0.05,
                           "lr_scale": layer_decay ** (num_layers - layer_id)}
        groups[key]["params"].append(p)
    opt = L.optim.AdamW(list(groups.values()), lr=base_lr)

    def adjust_learning_rate(optimizer, epoch, warmup=1, total=4, min_lr=1e-4):
        if epoch < warmup:
            lr = base_lr * epoch / warmup
        else:
            lr = min_lr + (base_lr - min_lr) * 0.5 * \
                (1.0 + math.cos(math.pi * (epoch - warmup) / (total - warmup)))
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr * param_group.get("lr_scale", 1.0)
        return lr

    def distillation_loss(inputs, outputs, labels_, kind, alpha=0.5, tau=2.0):
        outputs, outputs_kd = outputs
        base_loss = F.cross_entropy(outputs, labels_, label_smoothing=0.1)
        with L.no_grad():
            teacher_outputs = teacher(inputs)
        if kind == "soft":
            T = tau
            distillation = F.kl_div(F.log_softmax(outputs_kd / T, dim=1),
                                    F.log_softmax(teacher_outputs / T, dim=1),
                                    reduction="sum", log_target=True) * (T * T) / \
                outputs_kd.numel()
        else:
            distillation = F.cross_entropy(outputs_kd, teacher_outputs.argmax(dim=1))
        return base_loss * (1 - alpha) + distillation * alpha

    x = _t(L, normal64(6, 6, seed=172))
    y = L.tensor(labels(6, 3, seed=173))
    record = []
    for epoch in range(4):
        lr = adjust_learning_rate(opt, epoch + 0.5)
        loss = distillation_loss(x, student(x), y, "soft" if epoch % 2 else "hard")
        opt.zero_grad()
        loss.backward()
        opt.step()
        record.append((lr, loss.item(), [round(gp["lr"], 12) for gp in opt.param_groups]))
    with L.no_grad():
        cls, dist = student(x)
        pred = (cls.softmax(-1) + dist.softmax(-1)) / 2
    return record, sorted(groups), pred, student.blocks[0][1].weight.grad, \
        student.head_dist.weight.grad


@program
def timm_checkpoint_filter_resize_pos_embed_bicubic_and_non_strict_load(L):
    """timm's pretrained-loading path: a checkpoint's position embedding for a 3x3 grid
    plus a class token resized to a 4x4 grid (prefix tokens split off, the grid reshaped
    to (1, C, 3, 3), F.interpolate bicubic with antialias and align_corners=False,
    permuted back and concatenated); a checkpoint_filter_fn dropping the classifier
    when the class count differs and renaming an old key; load_state_dict(strict=False)
    giving missing and unexpected keys; the loaded model's output and gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(97)

    def resample_abs_pos_embed(posemb, new_size, num_prefix_tokens=1):
        prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
        old = int(math.sqrt(grid.shape[1]))
        embed_dim = grid.shape[-1]
        grid = grid.reshape(1, old, old, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=new_size, mode="bicubic", antialias=True,
                             align_corners=False)
        grid = grid.permute(0, 2, 3, 1).reshape(1, -1, embed_dim)
        return L.cat([prefix, grid], dim=1)

    class Tiny(nn.Module):
        def __init__(self, grid=4, dim=6, classes=2):
            super().__init__()
            self.cls_token = nn.Parameter(L.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(L.zeros(1, 1 + grid * grid, dim))
            self.proj = nn.Linear(3, dim)
            self.head = nn.Linear(dim, classes)

        def forward(self, x):
            x = self.proj(x)
            x = L.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
            return self.head(x.mean(1))

    ckpt = {"cls_token": _t(L, normal64(1, 1, 6, seed=180)),
            "pos_embed": _t(L, normal64(1, 10, 6, seed=181)),
            "patch_embed.weight": _t(L, normal64(6, 3, seed=182)),
            "proj.bias": _t(L, normal64(6, seed=183)),
            "head.weight": _t(L, normal64(5, 6, seed=184)),
            "head.bias": _t(L, normal64(5, seed=185)),
            "dist_token": _t(L, normal64(1, 1, 6, seed=186))}
    model = Tiny().double()

    def checkpoint_filter_fn(state_dict, model):
        out = {}
        for k, v in state_dict.items():
            if k == "patch_embed.weight":
                k = "proj.weight"
            if k == "pos_embed" and v.shape[1] != model.pos_embed.shape[1]:
                v = resample_abs_pos_embed(v, (4, 4))
            if k.startswith("head") and v.shape[0] != model.head.out_features:
                continue
            out[k] = v
        return out

    filtered = checkpoint_filter_fn(ckpt, model)
    result = model.load_state_dict(filtered, strict=False)
    x = _t(L, normal64(2, 16, 3, seed=187))
    out = model(x)
    out.sum().backward()
    return sorted(result.missing_keys), sorted(result.unexpected_keys), \
        filtered["pos_embed"], out, model.pos_embed.grad, model.proj.weight


# ----------------------------------------------------------------------------------------------
# the test
# ----------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("torch_on_one_thread")     # (torch's pool waits ~20x longer here)
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
