"""Transformer and NLP programs of the kind tutorials and popular repositories contain, each
written once against the PyTorch API as ``program(lib)`` and run on both ``torch`` and
``minigrad`` from the same numpy weights and inputs.  Every output (logits, losses over a few
optimiser steps, gradients, updated parameters, state_dict keys) must agree.
"""
import math
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------------- harness

def _np(x):
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _fill_params(lib, model, seed, scale=0.3):
    """Give every parameter (in named_parameters order) the same numpy values on both
    libraries; buffers are left as the model built them."""
    rng = np.random.default_rng(seed)
    with lib.no_grad():
        for _, p in model.named_parameters():
            arr = rng.standard_normal(tuple(p.shape)) * scale
            p.copy_(lib.tensor(arr, dtype=p.dtype))


def _flatten(out):
    """Lists holding tensors become one entry per element."""
    flat = {}
    for key, value in out.items():
        if isinstance(value, (list, tuple)) and any(hasattr(v, "shape") for v in value):
            for i, v in enumerate(value):
                flat[f"{key}[{i}]"] = v
        else:
            flat[key] = value
    return flat


def _compare(program, rtol=1e-6, atol=1e-8, **kw):
    ref = _flatten(program(torch, **kw))
    got = _flatten(program(minigrad, **kw))
    assert sorted(ref) == sorted(got)
    for key in ref:
        r, g = ref[key], got[key]
        if isinstance(r, (list, tuple, str, bool, int)) and not isinstance(r, np.ndarray):
            assert r == g, (key, r, g)
            continue
        r, g = _np(r), _np(g)
        assert r.shape == g.shape, (key, r.shape, g.shape)
        assert r.dtype == g.dtype, (key, r.dtype, g.dtype)
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol, err_msg=key)
    return ref, got


# ----------------------------------------------------------------------------- nanoGPT-like

def _gpt(lib, n_layer=2, n_head=2, n_embd=8, block_size=6, vocab=11, dropout=0.0,
         flash=False, bias=True):
    nn, F = lib.nn, lib.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
            self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
            self.attn_dropout = nn.Dropout(dropout)
            self.resid_dropout = nn.Dropout(dropout)
            self.n_head, self.n_embd, self.dropout = n_head, n_embd, dropout
            self.flash = flash and hasattr(F, "scaled_dot_product_attention")
            if not self.flash:
                self.register_buffer("bias", lib.tril(lib.ones(block_size, block_size))
                                     .view(1, 1, block_size, block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if self.flash:
                y = F.scaled_dot_product_attention(
                    q, k, v, attn_mask=None,
                    dropout_p=self.dropout if self.training else 0, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                att = self.attn_dropout(att)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
            self.gelu = nn.GELU(approximate="tanh")
            self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_size = block_size
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab, n_embd),
                wpe=nn.Embedding(block_size, n_embd),
                drop=nn.Dropout(dropout),
                h=nn.ModuleList([Block() for _ in range(n_layer)]),
                ln_f=nn.LayerNorm(n_embd, bias=bias),
            ))
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    lib.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                lib.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    lib.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                lib.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def get_num_params(self, non_embedding=True):
            n = sum(p.numel() for p in self.parameters())
            if non_embedding:
                n -= self.transformer.wpe.weight.numel()
            return n

        def forward(self, idx, targets=None):
            b, t = idx.size()
            assert t <= self.block_size
            pos = lib.arange(0, t, dtype=lib.long, device=idx.device)
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

        def configure_optimizers(self, weight_decay, learning_rate, betas):
            param_dict = {pn: p for pn, p in self.named_parameters() if p.requires_grad}
            decay = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay = [p for n, p in param_dict.items() if p.dim() < 2]
            groups = [{"params": decay, "weight_decay": weight_decay},
                      {"params": nodecay, "weight_decay": 0.0}]
            return lib.optim.AdamW(groups, lr=learning_rate, betas=betas, fused=False)

        @lib.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = idx if idx.size(1) <= self.block_size \
                    else idx[:, -self.block_size:]
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = lib.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = lib.multinomial(probs, num_samples=1)
                idx = lib.cat((idx, idx_next), dim=1)
            return idx

    return GPT()


def _gpt_program(lib, flash=False, bias=True):
    model = _gpt(lib, flash=flash, bias=bias).double()
    _fill_params(lib, model, 0)
    rng = np.random.default_rng(1)
    data = rng.integers(0, 11, size=(40,))
    out = {"num_params": model.get_num_params(), "keys": list(model.state_dict().keys()),
           "tied": model.lm_head.weight is model.transformer.wte.weight}
    opt = model.configure_optimizers(0.1, 1e-2, (0.9, 0.95))
    warmup, max_iters, lr0, min_lr = 2, 6, 1e-2, 1e-3

    def get_lr(it):
        if it < warmup:
            return lr0 * (it + 1) / (warmup + 1)
        ratio = (it - warmup) / (max_iters - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr0 - min_lr)

    accum = 2
    losses = []
    for it in range(3):
        for g in opt.param_groups:
            g["lr"] = get_lr(it)
        for micro in range(accum):
            start = rng.integers(0, 40 - 7, size=(2,))
            x = lib.from_numpy(np.stack([data[s:s + 6] for s in start]))
            y = lib.from_numpy(np.stack([data[s + 1:s + 7] for s in start]).copy())
            y[0, -1] = -1                                 # an ignored target
            logits, loss = model(x, y)
            loss = loss / accum
            loss.backward()
            losses.append(loss.item())
        norm = lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        out[f"norm{it}"] = norm
        opt.step()
        opt.zero_grad(set_to_none=True)
    out["losses"] = np.array(losses)
    out["grad_is_none"] = model.lm_head.weight.grad is None
    for name, p in model.named_parameters():
        out["p." + name] = p
    model.eval()
    # greedy generation via top_k=1 is deterministic on both libraries, and crosses block_size
    idx = lib.tensor([[1, 2, 3, 4]])
    gen = model.generate(idx, 4, temperature=0.8, top_k=1)
    out["generated"] = gen
    out["last_logits"] = model(gen[:, -6:])[0]
    return out


@pytest.mark.parametrize("flash", [False, True])
def test_nanogpt_training_and_generation(flash):
    ref, got = _compare(_gpt_program, flash=flash)
    assert ref["tied"]


def test_nanogpt_no_bias():
    _compare(_gpt_program, bias=False)


# ----------------------------------------------------------------------------- ViT

def _vit_program(lib, norm_first=True, activation="gelu", train_steps=2):
    nn, F = lib.nn, lib.nn.functional
    D, P, C, H = 8, 4, 3, 2

    class PatchEmbed(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Conv2d(C, D, kernel_size=P, stride=P)

        def forward(self, x):
            return self.proj(x).flatten(2).transpose(1, 2)      # (B, N, D)

    class ViT(nn.Module):
        def __init__(self, img=8, n_classes=5, depth=2):
            super().__init__()
            self.patch_embed = PatchEmbed()
            n = (img // P) ** 2
            self.cls_token = nn.Parameter(lib.zeros(1, 1, D))
            self.pos_embed = nn.Parameter(lib.zeros(1, n + 1, D))
            self.pos_drop = nn.Dropout(p=0.0)
            layer = nn.TransformerEncoderLayer(d_model=D, nhead=H, dim_feedforward=16,
                                               dropout=0.0, activation=activation,
                                               batch_first=True, norm_first=norm_first)
            self.encoder = nn.TransformerEncoder(layer, num_layers=depth,
                                                 enable_nested_tensor=False)
            self.norm = nn.LayerNorm(D, eps=1e-6)
            self.head = nn.Linear(D, n_classes)
            nn.init.trunc_normal_(self.pos_embed, std=0.02)

        def forward(self, x):
            x = self.patch_embed(x)
            cls = self.cls_token.expand(x.shape[0], -1, -1)
            x = lib.cat((cls, x), dim=1) + self.pos_embed
            x = self.encoder(self.pos_drop(x))
            return self.head(self.norm(x)[:, 0])

    model = ViT().double()
    _fill_params(lib, model, 3)
    rng = np.random.default_rng(4)
    imgs = lib.tensor(rng.standard_normal((3, C, 8, 8)))
    labels = lib.tensor([0, 3, 4])
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    out = {"keys": list(model.state_dict().keys())}
    losses = []
    for _ in range(train_steps):
        opt.zero_grad()
        logits = model(imgs)
        loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    out["losses"] = np.array(losses)
    out["lr"] = np.array(sched.get_last_lr())
    out["cls_grad"] = model.cls_token.grad
    out["conv_grad"] = model.patch_embed.proj.weight.grad
    model.eval()
    with lib.no_grad():
        out["eval_logits"] = model(imgs)
        out["pred"] = model(imgs).argmax(dim=-1)
    return out


@pytest.mark.parametrize("norm_first,activation", [(True, "gelu"), (False, "relu")])
def test_vit_classifier(norm_first, activation):
    _compare(_vit_program, norm_first=norm_first, activation=activation)


# ----------------------------------------------------------------------------- BERT-like

def _bert_program(lib, pad_id=0):
    nn, F = lib.nn, lib.nn.functional
    V, D, T, H = 13, 8, 6, 2

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(V, D, padding_idx=pad_id)
            self.position_embeddings = nn.Embedding(T, D)
            self.token_type_embeddings = nn.Embedding(2, D)
            self.LayerNorm = nn.LayerNorm(D, eps=1e-12)
            self.dropout = nn.Dropout(0.0)
            self.register_buffer("position_ids", lib.arange(T).expand((1, -1)),
                                 persistent=False)

        def forward(self, input_ids, token_type_ids=None):
            seq = input_ids.size(1)
            pos = self.position_ids[:, :seq]
            if token_type_ids is None:
                token_type_ids = lib.zeros_like(input_ids)
            e = self.word_embeddings(input_ids) + self.position_embeddings(pos) \
                + self.token_type_embeddings(token_type_ids)
            return self.dropout(self.LayerNorm(e))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = Embeddings()
            layer = nn.TransformerEncoderLayer(D, H, dim_feedforward=16, dropout=0.0,
                                               activation="gelu", batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2)
            self.pooler = nn.Sequential(nn.Linear(D, D), nn.Tanh())
            self.mlm_head = nn.Linear(D, V)
            self.cls = nn.Linear(D, 3)

        def forward(self, ids, types, attention_mask):
            x = self.embeddings(ids, types)
            x = self.encoder(x, src_key_padding_mask=~attention_mask.bool())
            pooled = self.pooler(x[:, 0])
            return self.mlm_head(x), self.cls(pooled)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Bert().double()
    _fill_params(lib, model, 5)
    ids = lib.tensor([[1, 5, 7, 9, 2, pad_id], [1, 4, 2, pad_id, pad_id, pad_id]])
    types = lib.tensor([[0, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 0]])
    attn = (ids != pad_id).long()
    mlm_labels = lib.full_like(ids, -100)
    mlm_labels[0, 2] = 7
    mlm_labels[1, 1] = 4
    cls_labels = lib.tensor([2, 0])
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    out = {"keys": list(model.state_dict().keys()),
           "buffers": [n for n, _ in model.named_buffers()]}
    losses = []
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        mlm, cls = model(ids, types, attn)
        loss = F.cross_entropy(mlm.view(-1, V), mlm_labels.view(-1)) \
            + nn.CrossEntropyLoss(label_smoothing=0.1)(cls, cls_labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out["losses"] = np.array(losses)
    out["word_grad"] = model.embeddings.word_embeddings.weight.grad
    model.eval()
    with lib.no_grad():
        mlm, cls = model(ids, types, attn)
        # the encoder runs on nested tensors in eval: padded outputs are zeros in PyTorch
        out["eval_mlm"] = mlm
        out["eval_cls"] = cls
    return out


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_bert_like_encoder_with_padding_mask():
    _compare(_bert_program)


# ----------------------------------------------------------------------------- small idioms

def _gpt2_conv1d_program(lib):
    # HF GPT-2's Conv1D: the output shape is built as Size + tuple, and stays a Size
    rng = np.random.default_rng(0)
    w, b = lib.tensor(rng.standard_normal((4, 6))), lib.tensor(rng.standard_normal(6))
    x = lib.tensor(rng.standard_normal((2, 3, 4)))
    size_out = x.size()[:-1] + (6,)
    y = lib.addmm(b, x.view(-1, x.size(-1)), w).view(size_out)
    front = (1,) + x.size()
    return {"y": y, "size_out": repr(size_out).replace("minigrad", "torch"),
            "front": repr(front).replace("minigrad", "torch"),
            "twice": repr(x.size()[1:] * 2).replace("minigrad", "torch"),
            "type": type(size_out).__name__}


def test_gpt2_conv1d_size_arithmetic():
    _compare(_gpt2_conv1d_program)
    with pytest.raises(TypeError, match="can only concatenate tuple"):
        minigrad.zeros(2).size() + [1]


def _sdpa_kernel_program(lib, backends, case):
    F = lib.nn.functional
    sdpa_kernel, SDPBackend = lib.nn.attention.sdpa_kernel, lib.nn.attention.SDPBackend
    q = lib.tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 4)))
    calls = {"plain": lambda: F.scaled_dot_product_attention(q, q, q, is_causal=True),
             "dropout": lambda: F.scaled_dot_product_attention(q, q, q, dropout_p=0.3).shape,
             "3d": lambda: F.scaled_dot_product_attention(q[0], q[0], q[0]),
             "vdim": lambda: F.scaled_dot_product_attention(q, q, lib.cat([q, q], -1))}
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with sdpa_kernel([getattr(SDPBackend, b) for b in backends]):
            cuda = lib.backends.cuda
            out["flags"] = [cuda.flash_sdp_enabled(), cuda.math_sdp_enabled(),
                            cuda.mem_efficient_sdp_enabled(), cuda.cudnn_sdp_enabled()]
            try:
                res = calls[case]()
                out["result"] = res if case != "dropout" else list(res)
            except RuntimeError as e:
                out["error"] = str(e)
    out["warnings"] = [str(w.message) for w in caught if "Triggered internally" not in
                       str(w.message)] + [str(w.message).split(" (Triggered")[0]
                                          for w in caught if "Triggered" in str(w.message)]
    out["restored"] = lib.backends.cuda.math_sdp_enabled()
    return out


@pytest.mark.parametrize("backends", [["MATH"], ["FLASH_ATTENTION"], ["EFFICIENT_ATTENTION"],
                                      ["CUDNN_ATTENTION", "MATH"], []])
@pytest.mark.parametrize("case", ["plain", "dropout", "3d", "vdim"])
def test_sdpa_kernel_selection(backends, case):
    _compare(_sdpa_kernel_program, backends=backends, case=case)


def _sdp_switches_program(lib):
    cuda = lib.backends.cuda
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with cuda.sdp_kernel(enable_flash=False, enable_math=True, enable_mem_efficient=False):
            out["inside"] = [cuda.flash_sdp_enabled(), cuda.math_sdp_enabled()]
    out["after"] = [cuda.flash_sdp_enabled(), cuda.math_sdp_enabled()]
    out["warned"] = [w.category.__name__ for w in caught]
    cuda.enable_flash_sdp(False)
    out["off"] = cuda.flash_sdp_enabled()
    cuda.enable_flash_sdp(True)
    try:
        cuda.enable_math_sdp(1)
    except RuntimeError as e:
        out["bad_flag"] = str(e)
    try:
        with lib.nn.attention.sdpa_kernel("math"):
            pass
    except AssertionError as e:
        out["bad_backend"] = str(e)
    out["repr"] = repr(lib.nn.attention.SDPBackend.FLASH_ATTENTION)
    out["bf16"] = lib.cuda.is_bf16_supported()
    out["flash_available"] = cuda.is_flash_attention_available()
    return out


def test_sdp_backend_switches():
    _compare(_sdp_switches_program)


def test_sdpa_needs_two_dims():
    q = np.ones(4)
    with pytest.raises(RuntimeError) as ref:
        torch.nn.functional.scaled_dot_product_attention(*[torch.tensor(q)] * 3)
    with pytest.raises(RuntimeError) as got:
        minigrad.nn.functional.scaled_dot_product_attention(*[minigrad.tensor(q)] * 3)
    assert str(got.value) == str(ref.value)


def test_bfloat16_is_an_honest_error():
    # nanoGPT: dtype = 'bfloat16' if cuda and is_bf16_supported() else 'float16', then a dict
    # naming torch.bfloat16.  minigrad has no bfloat16 (README): naming it must say so.
    assert torch.cuda.is_bf16_supported() == minigrad.cuda.is_bf16_supported() is False
    assert not hasattr(minigrad, "bfloat16")
    with pytest.raises(AttributeError, match="no bfloat16 dtype"):
        minigrad.bfloat16
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'$"):
        minigrad.not_a_name
    # PyTorch's own bfloat16 handed to minigrad's autocast is refused, not ignored
    with pytest.raises(TypeError, match="bfloat16"):
        with minigrad.autocast(device_type="cpu", dtype=torch.bfloat16):
            pass
    # float16 autocast runs the linear layers in half precision and the loss in float32
    for lib in (torch, minigrad):
        lin = lib.nn.Linear(3, 2)
        with lib.autocast(device_type="cpu", dtype=lib.float16):
            y = lin(lib.ones(2, 3))
            loss = lib.nn.functional.cross_entropy(y, lib.tensor([0, 1]))
        assert (str(y.dtype).split(".")[1], str(loss.dtype).split(".")[1]) == \
            ("float16", "float32")


def _from_pretrained_program(lib):
    # GloVe-style: the embedding shares the pretrained tensor's storage
    rng = np.random.default_rng(0)
    w = lib.tensor(rng.standard_normal((5, 3)))
    frozen = lib.nn.Embedding.from_pretrained(w, freeze=True, padding_idx=1)
    renorm = lib.nn.Embedding.from_pretrained(w, freeze=False, max_norm=1.0)
    ids = lib.tensor([[0, 1, 4]])
    out = {"renormed": renorm(ids)}
    out["frozen"] = frozen(ids)                   # sees the renormalised rows
    bag = lib.nn.EmbeddingBag.from_pretrained(w, freeze=False)
    opt = lib.optim.SGD(bag.parameters(), lr=1.0)
    bag(ids).sum().backward()
    opt.step()
    out["w"] = w
    out["requires_grad"] = [frozen.weight.requires_grad, bag.weight.requires_grad]
    try:
        lib.nn.Embedding(3, 2, _weight=lib.zeros(2, 2))
    except AssertionError as e:
        out["bad_shape"] = str(e)
    return out


def test_embedding_from_pretrained_shares_storage():
    _compare(_from_pretrained_program)


# ----------------------------------------------------------------------------- inference fast path

_KPM = np.array([[False, False, True], [True, True, True]])     # the 2nd sequence is all padding


def _encoder_layer(lib, heads=2, **kw):
    layer = lib.nn.TransformerEncoderLayer(8, heads, 16, 0.0, batch_first=True, **kw).double()
    _fill_params(lib, layer, 0)
    return layer.eval()


def _fast_path_program(lib):
    # PyTorch runs MultiheadAttention / TransformerEncoderLayer in eval mode without autograd
    # on a fused kernel: a query whose keys are all padding gives NaN there (0 on the other
    # path), is_causal is not looked at, and the layer reads float masks as bool.
    F = lib.nn.functional
    rng = np.random.default_rng(7)
    x = lib.tensor(rng.standard_normal((2, 3, 8)))
    kpm = lib.tensor(_KPM)
    causal_b = lib.ones(3, 3, dtype=lib.bool).triu(1)
    causal_f = lib.nn.Transformer.generate_square_subsequent_mask(3, dtype=lib.float64)
    bias = lib.tensor([[0.0, 0.5, -2.0], [0.3, 0.0, 0.0], [0.0, 0.0, 0.0]])
    out = {}
    for norm_first in (False, True):
        for heads in (2, 1):
            layer = _encoder_layer(lib, heads, norm_first=norm_first)
            calls = {"kpm": dict(src_key_padding_mask=kpm), "causal": dict(src_mask=causal_b),
                     "both_float": dict(src_mask=causal_f,
                                        src_key_padding_mask=kpm.double() * -1e30),
                     "both": dict(src_mask=causal_b, src_key_padding_mask=kpm),
                     "hint": dict(is_causal=True), "bias": dict(src_mask=bias)}
            with lib.no_grad():
                for name, kw in calls.items():
                    try:
                        out[f"{norm_first}.{heads}.{name}"] = layer(x, **kw)
                    except RuntimeError as e:          # odd heads: no fast path, no mask
                        out[f"{norm_first}.{heads}.{name}"] = str(e)
    layer = _encoder_layer(lib, activation=lambda t: F.silu(t))
    with lib.no_grad():
        out["silu"] = layer(x, src_key_padding_mask=kpm)
        out["silu_hint"] = layer(x, is_causal=True)
    layer = _encoder_layer(lib)
    handle = layer.linear1.register_forward_hook(lambda m, i, o: None)
    with lib.no_grad():
        out["hooked"] = layer(x, src_key_padding_mask=kpm)
    handle.remove()
    lib.backends.mha.set_fastpath_enabled(False)
    try:
        with lib.no_grad():
            out["switched_off"] = layer(x, src_key_padding_mask=kpm)
    finally:
        lib.backends.mha.set_fastpath_enabled(True)
    out["recording"] = layer(x, src_key_padding_mask=kpm)
    layer.requires_grad_(False)
    out["frozen"] = layer(x, src_key_padding_mask=kpm)
    # MultiheadAttention alone
    y = lib.tensor(rng.standard_normal((2, 3, 8)))
    for i, kw in enumerate([{}, dict(bias=False), dict(add_bias_kv=True),
                            dict(batch_first=False)]):
        mha = lib.nn.MultiheadAttention(8, 2, **{"batch_first": True, **kw}).double()
        _fill_params(lib, mha, 1)
        mha.eval()
        if not mha.batch_first:
            x, y = x.transpose(0, 1), y.transpose(0, 1)
        with lib.no_grad():
            out[f"mha{i}.self"] = mha(x, x, x, key_padding_mask=kpm, need_weights=False)[0]
            o, w = mha(x, x, x, key_padding_mask=kpm)
            out[f"mha{i}.weights"] = [o, w]
            out[f"mha{i}.cross"] = mha(x, y, y, key_padding_mask=kpm, need_weights=False)[0]
            out[f"mha{i}.hint"] = mha(x, x, x, is_causal=True, need_weights=False)[0] \
                if i == 0 else 0
            out[f"mha{i}.float"] = mha(x, x, x, key_padding_mask=kpm.double(),
                                       need_weights=False)[0]
            o, w = mha(x, x, x, attn_mask=causal_f != 0, key_padding_mask=kpm,
                       average_attn_weights=False)
            out[f"mha{i}.per_head"] = [o, w]
        if not mha.batch_first:
            x, y = x.transpose(0, 1), y.transpose(0, 1)
    # the encoder's nested-tensor path: padded positions are zeros, even a whole sequence's
    for nested in (True, False):
        enc = lib.nn.TransformerEncoder(_encoder_layer(lib), 2, enable_nested_tensor=nested,
                                        norm=lib.nn.LayerNorm(8).double()).eval()
        with lib.no_grad():
            out[f"enc{nested}.full"] = enc(x, src_key_padding_mask=kpm)
            out[f"enc{nested}.right"] = enc(x, src_key_padding_mask=lib.tensor(
                [[False, False, True], [True, False, False]]))
            lib.backends.mha.set_fastpath_enabled(False)
            try:                     # no nested tensors either: padded outputs are not zeroed
                out[f"enc{nested}.off"] = enc(x, src_key_padding_mask=lib.tensor(
                    [[False, False, True], [False, True, True]]))
            finally:
                lib.backends.mha.set_fastpath_enabled(True)
    dec = lib.nn.TransformerDecoderLayer(8, 2, 16, 0.0, batch_first=True).double()
    _fill_params(lib, dec, 2)
    dec.eval()
    memory = lib.tensor(rng.standard_normal((2, 4, 8)))
    with lib.no_grad():
        out["dec.kpm"] = dec(x, memory, tgt_key_padding_mask=kpm)
        out["dec.hint"] = dec(x, memory, tgt_is_causal=True)
    model = lib.nn.Transformer(8, 2, 1, 1, 16, 0.0, batch_first=True).double()
    _fill_params(lib, model, 3)
    model.eval()
    with lib.no_grad():
        out["transformer"] = model(memory, x, src_key_padding_mask=lib.tensor(
            [[False] * 4, [True] * 4]), tgt_mask=model.generate_square_subsequent_mask(
            3, dtype=lib.float64))
    return out


def _nan_aware(ref, got):
    for key in ref:
        r, g = ref[key], got[key]
        pairs = zip(r, g) if isinstance(r, list) else [(r, g)]
        for a, b in pairs:
            if isinstance(a, (int, str)):
                assert a == b, key
                continue
            a, b = _np(a), _np(b)
            assert a.shape == b.shape, key
            np.testing.assert_array_equal(np.isnan(b), np.isnan(a), err_msg=key)
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-8, err_msg=key)


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_inference_fast_path_of_attention_layers():
    ref = _fast_path_program(torch)
    got = _fast_path_program(minigrad)
    assert sorted(ref) == sorted(got)
    assert np.isnan(_np(ref["False.2.kpm"])[1]).all()         # the case this test is about
    assert not np.isnan(_np(ref["recording"])).any()
    _nan_aware(ref, got)
    assert minigrad.backends.mha.get_fastpath_enabled() is True


# ----------------------------------------------------------------------------- training infrastructure

def _tiny_lm(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Embedding(7, 4), nn.LayerNorm(4), nn.Linear(4, 7, bias=False))
    model[2].weight = model[0].weight
    model = model.double()
    _fill_params(lib, model, 0)
    return model


def _fused_adamw_program(lib, fused):
    # nanoGPT: fused=True when the signature has it and the device is CUDA; a hint only
    import inspect
    model = _tiny_lm(lib)
    extra = dict(fused=True) if fused and "fused" in inspect.signature(
        lib.optim.AdamW).parameters else dict()
    opt = lib.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95), **extra)
    x = lib.tensor([[1, 2, 3, 6]])
    losses = []
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        loss = lib.nn.functional.cross_entropy(model(x)[:, :-1].reshape(-1, 7),
                                               x[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out = {"losses": np.array(losses), "params": list(model.parameters()),
           "fused_flag": str(opt.param_groups[0]["fused"])}
    p = lib.nn.Parameter(lib.ones(2))
    for kw in (dict(fused=True, foreach=True), dict(fused=True, differentiable=True)):
        try:
            lib.optim.AdamW([p], **kw)
        except RuntimeError as e:
            out[str(sorted(kw))] = str(e)
    return out


@pytest.mark.parametrize("fused", [False, True])
def test_adamw_fused_flag(fused):
    _compare(_fused_adamw_program, fused=fused)


def _resume_program(lib):
    # nanoGPT's checkpoint: model + optimizer + counters in one dict, '_orig_mod.' stripped
    import io
    model = _tiny_lm(lib)
    opt = lib.optim.AdamW(model.parameters(), lr=1e-2)
    x = lib.tensor([[1, 2, 3]])
    F = lib.nn.functional

    def step(m, o):
        o.zero_grad()
        loss = F.cross_entropy(m(x).view(-1, 7), x.view(-1))
        loss.backward()
        o.step()
        return loss.item()

    first = step(model, opt)
    buf = io.BytesIO()
    lib.save({"model": {"_orig_mod." + k: v for k, v in model.state_dict().items()},
              "optimizer": opt.state_dict(), "iter_num": 1, "best_val_loss": first}, buf)
    buf.seek(0)
    ck = lib.load(buf, map_location="cpu")
    sd = ck["model"]
    for k in list(sd):
        if k.startswith("_orig_mod."):
            sd[k[len("_orig_mod."):]] = sd.pop(k)
    model2 = _tiny_lm(lib)
    model2.load_state_dict(sd)
    opt2 = lib.optim.AdamW(model2.parameters(), lr=1e-2)
    opt2.load_state_dict(ck["optimizer"])
    second = step(model2, opt2)
    return {"losses": np.array([first, second]), "params": list(model2.parameters()),
            "step": opt2.state_dict()["state"][0]["step"], "iter": ck["iter_num"],
            "names": [n for n, _ in model2.named_parameters()],
            "all_names": [n for n, _ in model2.named_parameters(remove_duplicate=False)]}


def test_checkpoint_resume_with_tied_weights():
    _compare(_resume_program)


def _checkpointed_blocks_program(lib):
    # activation checkpointing of transformer blocks (use_reentrant=False, as HF does)
    import importlib
    checkpoint = importlib.import_module(lib.__name__ + ".utils.checkpoint").checkpoint
    nn = lib.nn
    blocks = nn.ModuleList([nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True)
                            for _ in range(2)]).double()
    _fill_params(lib, blocks, 0)
    x = lib.tensor(np.random.default_rng(0).standard_normal((2, 3, 8)), requires_grad=True)
    h = x
    for b in blocks:
        h = checkpoint(b, h, use_reentrant=False)
    h.pow(2).sum().backward()
    return {"h": h, "x_grad": x.grad, "w_grad": blocks[0].linear1.weight.grad}


def test_gradient_checkpointed_blocks():
    _compare(_checkpointed_blocks_program)


# ----------------------------------------------------------------------------- decoding and NLP idioms

def _sampling_filters_program(lib):
    F = lib.nn.functional
    rng = np.random.default_rng(3)
    logits = lib.tensor(rng.standard_normal((2, 7)))
    # top-p (nucleus) filtering, HF style: a bool scatter of a shifted bool mask
    sorted_logits, sorted_idx = lib.sort(logits, descending=True)
    cum = lib.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
    remove = cum > 0.8
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = 0
    remove = remove.scatter(1, sorted_idx, remove)
    top_p = logits.masked_fill(remove, float("-inf"))
    # repetition penalty
    ids = lib.tensor([[1, 3, 3], [0, 6, 2]])
    score = lib.gather(logits, 1, ids)
    score = lib.where(score < 0, score * 1.3, score / 1.3)
    penalised = logits.clone().scatter_(1, ids, score)
    # left-padded position ids, finished flags
    am = lib.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    pos = am.long().cumsum(-1) - 1
    pos.masked_fill_(am == 0, 1)
    finished = lib.zeros(2, dtype=lib.bool)
    nxt = lib.argmax(penalised, dim=-1, keepdim=True)
    finished |= nxt.squeeze(-1) == 3
    # beam search bookkeeping
    lp = F.log_softmax(logits, -1)
    beams = lib.tensor([0.0, -0.5], dtype=lib.float64)[:, None] + lp
    top, flat = beams.view(-1).topk(3)
    return {"top_p": top_p, "probs": F.softmax(top_p, -1), "penalised": penalised,
            "pos": pos, "finished": finished, "tok": lib.where(finished, 0, nxt.squeeze(-1)),
            "top": top, "beam": lib.div(flat, 7, rounding_mode="floor"), "word": flat % 7,
            "beam2": flat // 7}


def test_sampling_filters():
    _compare(_sampling_filters_program)


def test_multinomial_without_replacement_past_the_nonzero_categories():
    # torch.multinomial(p, n) with fewer than n non-zero weights: PyTorch's CPU kernel gives
    # every non-zero category first, then zero-weight ones; it does not raise
    p = np.zeros((2, 12))
    p[0, [3, 7]] = [1.0, 2.0]
    p[1, 5] = 1.0
    for n in (2, 5, 12):
        ref = torch.multinomial(torch.tensor(p), n).numpy()
        got = minigrad.multinomial(minigrad.tensor(p), n).numpy()
        assert ref.shape == got.shape and got.dtype == ref.dtype
        for r, g, row in zip(ref, got, p):
            live = min(n, np.count_nonzero(row))
            assert set(g[:live]) == set(r[:live]) == set(np.flatnonzero(row)[:n]) \
                if live < n else set(g) == set(r)
            assert len(set(g)) == n                          # without replacement
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist"):
        minigrad.multinomial(minigrad.tensor(p), 13)


def _hf_bert_program(lib):
    nn, F = lib.nn, lib.nn.functional

    class SelfAttention(nn.Module):
        def __init__(self, hidden=8, heads=2):
            super().__init__()
            self.num_attention_heads, self.attention_head_size = heads, hidden // heads
            self.all_head_size = hidden
            self.query = nn.Linear(hidden, hidden)
            self.key = nn.Linear(hidden, hidden)
            self.value = nn.Linear(hidden, hidden)

        def transpose_for_scores(self, x):
            shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
            return x.view(shape).permute(0, 2, 1, 3)

        def forward(self, h, ext_mask):
            q, k, v = (self.transpose_for_scores(f(h)) for f in (self.query, self.key,
                                                                   self.value))
            scores = lib.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
            probs = F.softmax(scores + ext_mask, dim=-1)
            ctx = lib.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
            return ctx.view(ctx.size()[:-2] + (self.all_head_size,)), probs

    class Head(nn.Module):                  # MLM head: decoder bias tied to a Parameter
        def __init__(self):
            super().__init__()
            self.attn = SelfAttention()
            self.dense = nn.Linear(8, 8)
            self.LayerNorm = nn.LayerNorm(8, eps=1e-12)
            self.decoder = nn.Linear(8, 6, bias=False)
            self.bias = nn.Parameter(lib.zeros(6))
            self.decoder.bias = self.bias

        def forward(self, h, ext_mask):
            x, probs = self.attn(h, ext_mask)
            x = self.dense(x)
            x = x * 0.5 * (1.0 + lib.erf(x / math.sqrt(2.0)))
            return self.decoder(self.LayerNorm(x)), probs

    model = Head().double()
    _fill_params(lib, model, 1)
    no_decay = ["bias", "LayerNorm.weight"]
    groups = [{"params": [p for n, p in model.named_parameters()
                          if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
              {"params": [p for n, p in model.named_parameters()
                          if any(nd in n for nd in no_decay)], "weight_decay": 0.0}]
    opt = lib.optim.AdamW(groups, lr=1e-2, eps=1e-6)
    rng = np.random.default_rng(2)
    h = lib.tensor(rng.standard_normal((2, 3, 8)))
    am = lib.tensor([[1, 1, 0], [1, 1, 1]])
    ext = (1.0 - am[:, None, None, :].to(dtype=lib.float64)) * lib.finfo(lib.float64).min
    labels = lib.tensor([[1, 5, -100], [0, -100, 2]])
    losses, norms = [], []
    for _ in range(2):
        logits, probs = model(h, ext)
        loss = F.cross_entropy(logits.view(-1, 6), labels.view(-1))
        loss.backward()
        norms.append(lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    # sentence embedding: mean pooling over the mask, then cosine similarities
    hidden = model.attn(h, ext)[0]
    mean = (hidden * am.unsqueeze(-1)).sum(1) / am.sum(1, keepdim=True).clamp(min=1e-9)
    last = hidden[lib.arange(2), am.sum(dim=1) - 1]
    unit = F.normalize(mean, p=2, dim=1)
    return {"losses": np.array(losses), "norms": np.array(norms), "probs": probs,
            "params": list(model.parameters()), "names": [n for n, _ in
                                                          model.named_parameters()],
            "keys": list(model.state_dict()), "sizes": [len(g["params"]) for g in groups],
            "ppl": lib.exp(lib.tensor(losses[-1])), "cos": unit @ unit.T, "last": last,
            "cos2": F.cosine_similarity(mean[:, None], last[None], dim=-1)}


def test_hf_bert_idioms():
    _compare(_hf_bert_program)


def _double_backward_attention_program(lib):
    # gradient penalty through attention; PyTorch's flash kernel has no double backward,
    # so the region asks for the math kernel (minigrad's only one)
    F = lib.nn.functional
    rng = np.random.default_rng(4)
    q, k, v = (lib.tensor(rng.standard_normal((2, 2, 3, 4)), requires_grad=True)
               for _ in range(3))
    mha = lib.nn.MultiheadAttention(8, 2, batch_first=True).double()
    _fill_params(lib, mha, 0)
    x = lib.tensor(rng.standard_normal((2, 3, 8)), requires_grad=True)
    out = {}
    with lib.nn.attention.sdpa_kernel(lib.nn.attention.SDPBackend.MATH):
        for name, kw in (("causal", dict(is_causal=True)),
                         ("bool", dict(attn_mask=lib.tensor([[True, False, True],
                                                             [True, True, False],
                                                             [False, False, True]]))),
                         ("scale", dict(scale=0.3))):
            o = F.scaled_dot_product_attention(q, k, v, **kw)
            g = lib.autograd.grad((o ** 2).sum(), [q, k, v], create_graph=True)
            gg = lib.autograd.grad(sum((t ** 2).sum() for t in g), [q, k, v])
            out[name] = [o, *g, *gg]
        o, _ = mha(x, x, x, key_padding_mask=lib.tensor([[False, False, True]] * 2),
                   need_weights=False)
        g, = lib.autograd.grad(o.sum(), x, create_graph=True)
        penalty = (g.norm(2, dim=-1) - 1).pow(2).mean()
        penalty.backward()
    out["mha"] = [o, g, penalty, mha.in_proj_weight.grad, mha.out_proj.weight.grad]
    return out


def test_double_backward_through_attention():
    ref = _flatten(_double_backward_attention_program(torch))
    got = _flatten(_double_backward_attention_program(minigrad))
    assert sorted(ref) == sorted(got)
    for key in ref:
        np.testing.assert_allclose(_np(got[key]), _np(ref[key]), rtol=1e-6, atol=1e-9,
                                   err_msg=key)


# ----------------------------------------------------------------------------- Llama-like

def _llama(lib, dim=8, n_heads=4, n_kv_heads=2, n_layers=2, vocab=13, max_seq=8):
    nn, F = lib.nn, lib.nn.functional
    head_dim = dim // n_heads

    def precompute(theta=10000.0):
        inv = 1.0 / (theta ** (lib.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
        t = lib.arange(max_seq, dtype=lib.float32)
        freqs = lib.outer(t, inv)
        return freqs.cos(), freqs.sin()

    def rotate(x, cos, sin):                        # interleaved pairs, real arithmetic
        xr = x.float().reshape(*x.shape[:-1], -1, 2)
        a, b = xr.unbind(-1)
        cos, sin = cos[None, :, None, :], sin[None, :, None, :]
        out = lib.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(3)
        return out.type_as(x)

    def repeat_kv(x, n_rep):
        bs, slen, kv, hd = x.shape
        if n_rep == 1:
            return x
        return x[:, :, :, None, :].expand(bs, slen, kv, n_rep, hd).reshape(bs, slen, kv * n_rep,
                                                                             hd)

    class RMSNorm(nn.Module):
        def __init__(self, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(lib.ones(dim))

        def forward(self, x):
            out = x.float() * lib.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)
            return out.type_as(x) * self.weight

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.wq = nn.Linear(dim, n_heads * head_dim, bias=False)
            self.wk = nn.Linear(dim, n_kv_heads * head_dim, bias=False)
            self.wv = nn.Linear(dim, n_kv_heads * head_dim, bias=False)
            self.wo = nn.Linear(n_heads * head_dim, dim, bias=False)
            self.cache_k = self.cache_v = None

        def forward(self, x, start, cos, sin, mask):
            bsz, seqlen, _ = x.shape
            xq = self.wq(x).view(bsz, seqlen, n_heads, head_dim)
            xk = self.wk(x).view(bsz, seqlen, n_kv_heads, head_dim)
            xv = self.wv(x).view(bsz, seqlen, n_kv_heads, head_dim)
            xq, xk = rotate(xq, cos, sin), rotate(xk, cos, sin)
            if self.cache_k is not None:
                xk = lib.cat([self.cache_k, xk], dim=1)
                xv = lib.cat([self.cache_v, xv], dim=1)
            if not self.training:
                self.cache_k, self.cache_v = xk, xv
            keys = repeat_kv(xk, n_heads // n_kv_heads).transpose(1, 2)
            values = lib.repeat_interleave(xv, n_heads // n_kv_heads, dim=2).transpose(1, 2)
            xq = xq.transpose(1, 2)
            scores = lib.matmul(xq, keys.transpose(2, 3)) / math.sqrt(head_dim)
            if mask is not None:
                scores = scores + mask
            scores = F.softmax(scores.float(), dim=-1).type_as(xq)
            out = lib.matmul(scores, values).transpose(1, 2).contiguous().view(bsz, seqlen, -1)
            return self.wo(out)

    class FeedForward(nn.Module):
        def __init__(self, hidden=12):
            super().__init__()
            self.w1 = nn.Linear(dim, hidden, bias=False)
            self.w2 = nn.Linear(hidden, dim, bias=False)
            self.w3 = nn.Linear(dim, hidden, bias=False)

        def forward(self, x):
            return self.w2(F.silu(self.w1(x)) * self.w3(x))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention, self.feed_forward = Attention(), FeedForward()
            self.attention_norm, self.ffn_norm = RMSNorm(), RMSNorm()

        def forward(self, x, start, cos, sin, mask):
            h = x + self.attention(self.attention_norm(x), start, cos, sin, mask)
            return h + self.feed_forward(self.ffn_norm(h))

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok_embeddings = nn.Embedding(vocab, dim)
            self.layers = nn.ModuleList(Block() for _ in range(n_layers))
            self.norm = RMSNorm()
            self.output = nn.Linear(dim, vocab, bias=False)
            cos, sin = precompute()
            self.register_buffer("freqs_cos", cos, persistent=False)
            self.register_buffer("freqs_sin", sin, persistent=False)

        def forward(self, tokens, start=0):
            _, seqlen = tokens.shape
            h = self.tok_embeddings(tokens)
            cos = self.freqs_cos[start:start + seqlen]
            sin = self.freqs_sin[start:start + seqlen]
            mask = None
            if seqlen > 1:
                mask = lib.full((seqlen, seqlen), float("-inf"), device=tokens.device)
                mask = lib.triu(mask, diagonal=1)
                mask = lib.hstack([lib.zeros((seqlen, start), device=tokens.device),
                                   mask]).type_as(h)
            for layer in self.layers:
                h = layer(h, start, cos, sin, mask)
            return self.output(self.norm(h)).float()

    return Transformer()


def _llama_program(lib):
    model = _llama(lib)
    _fill_params(lib, model, 11, scale=0.4)
    rng = np.random.default_rng(12)
    tokens = lib.tensor(rng.integers(0, 13, (2, 6)))
    opt = lib.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    losses = []
    for _ in range(2):
        logits = model(tokens[:, :-1])
        loss = lib.nn.functional.cross_entropy(logits.reshape(-1, 13), tokens[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out = {"losses": np.array(losses), "keys": list(model.state_dict()),
           "buffers": [n for n, _ in model.named_buffers()],
           "grad": model.layers[0].attention.wk.weight.grad}
    model.eval()
    with lib.inference_mode():
        prompt = tokens[:, :3]
        logits = model(prompt, 0)
        seq = [prompt]
        nxt = lib.argmax(logits[:, -1], dim=-1, keepdim=True)
        for pos in range(3, 6):
            seq.append(nxt)
            logits = model(nxt, pos)                 # one token at a time, through the cache
            nxt = lib.argmax(logits[:, -1], dim=-1, keepdim=True)
        out["generated"] = lib.cat(seq, dim=1)
        out["cached_logits"] = logits
        out["cache_shape"] = list(model.layers[0].attention.cache_k.shape)
    return out


def test_llama_like_training_and_cached_decoding():
    _compare(_llama_program, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- seq2seq nn.Transformer

def _seq2seq_program(lib):
    # the translation tutorial's Seq2SeqTransformer: sequence-first, bool padding masks with a
    # float causal target mask (PyTorch warns that the mask types differ), greedy decoding
    nn = lib.nn
    PAD, BOS, EOS, V, E = 1, 2, 3, 11, 8

    class PositionalEncoding(nn.Module):
        def __init__(self, emb_size, dropout, maxlen=20):
            super().__init__()
            den = lib.exp(- lib.arange(0, emb_size, 2) * math.log(10000) / emb_size)
            pos = lib.arange(0, maxlen).reshape(maxlen, 1)
            pe = lib.zeros((maxlen, emb_size))
            pe[:, 0::2] = lib.sin(pos * den)
            pe[:, 1::2] = lib.cos(pos * den)
            self.dropout = nn.Dropout(dropout)
            self.register_buffer("pos_embedding", pe.unsqueeze(-2))

        def forward(self, tok):
            return self.dropout(tok + self.pos_embedding[:tok.size(0), :])

    class TokenEmbedding(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, E)

        def forward(self, tokens):
            return self.embedding(tokens.long()) * math.sqrt(E)

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.Transformer(d_model=E, nhead=2, num_encoder_layers=1,
                                              num_decoder_layers=1, dim_feedforward=16,
                                              dropout=0.0)
            self.generator = nn.Linear(E, V)
            self.src_tok_emb, self.tgt_tok_emb = TokenEmbedding(), TokenEmbedding()
            self.positional_encoding = PositionalEncoding(E, dropout=0.0)

        def forward(self, src, trg, src_mask, tgt_mask, src_pad, tgt_pad, mem_pad):
            s = self.positional_encoding(self.src_tok_emb(src))
            t = self.positional_encoding(self.tgt_tok_emb(trg))
            outs = self.transformer(s, t, src_mask, tgt_mask, None, src_pad, tgt_pad, mem_pad)
            return self.generator(outs)

        def encode(self, src, src_mask):
            return self.transformer.encoder(self.positional_encoding(self.src_tok_emb(src)),
                                            src_mask)

        def decode(self, tgt, memory, tgt_mask):
            return self.transformer.decoder(self.positional_encoding(self.tgt_tok_emb(tgt)),
                                            memory, tgt_mask)

    def square_mask(sz):
        mask = (lib.triu(lib.ones((sz, sz))) == 1).transpose(0, 1)
        return mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1, 0.0)

    def create_mask(src, tgt):
        s, t = src.shape[0], tgt.shape[0]
        return (square_mask(t), lib.zeros((s, s)).type(lib.bool),
                (src == PAD).transpose(0, 1), (tgt == PAD).transpose(0, 1))

    model = Seq2Seq()
    _fill_params(lib, model, 21, scale=0.3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-9)
    src = lib.tensor([[BOS, BOS], [5, 6], [7, EOS], [EOS, PAD]])          # (S, N)
    tgt = lib.tensor([[BOS, BOS], [8, 9], [EOS, 4], [PAD, EOS]])
    out = {"losses": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            tgt_in = tgt[:-1, :]
            tgt_mask, src_mask, src_pad, tgt_pad = create_mask(src, tgt_in)
            logits = model(src, tgt_in, src_mask, tgt_mask, src_pad, tgt_pad, src_pad)
            opt.zero_grad()
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt[1:, :].reshape(-1))
            loss.backward()
            opt.step()
            out["losses"].append(loss.item())
    out["warnings"] = sorted({str(w.message) for w in caught})
    out["losses"] = np.array(out["losses"])
    model.eval()
    one = src[:, :1]
    memory = model.encode(one, lib.zeros(4, 4).type(lib.bool))
    ys = lib.ones(1, 1).fill_(BOS).type(lib.long)
    for _ in range(3):
        o = model.decode(ys, memory, square_mask(ys.size(0)).type(lib.bool)).transpose(0, 1)
        prob = model.generator(o[:, -1])
        _, next_word = lib.max(prob, dim=1)
        ys = lib.cat([ys, lib.ones(1, 1).type_as(one.data).fill_(next_word.item())], dim=0)
    out["decoded"] = ys
    out["prob"] = prob
    return out


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_seq2seq_translation_tutorial():
    _compare(_seq2seq_program, rtol=1e-4, atol=1e-5)


def _gqa_program(lib):
    # grouped-query attention through SDPA: key and value may have different head counts,
    # each dividing the query's (a multi-query value head with grouped key heads)
    F = lib.nn.functional
    rng = np.random.default_rng(5)
    q = lib.tensor(rng.standard_normal((2, 4, 3, 2)), requires_grad=True)
    k = lib.tensor(rng.standard_normal((2, 2, 5, 2)), requires_grad=True)
    v = lib.tensor(rng.standard_normal((2, 1, 5, 3)), requires_grad=True)
    with lib.nn.attention.sdpa_kernel(lib.nn.attention.SDPBackend.MATH):
        o = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    o.pow(2).sum().backward()
    out = {"o": o, "grads": [q.grad, k.grad, v.grad]}
    try:
        F.scaled_dot_product_attention(q, k[:, :1].expand(2, 3, 5, 2), v, enable_gqa=True)
    except RuntimeError as e:
        out["error"] = str(e)
    return out


def test_grouped_query_attention_head_counts():
    _compare(_gqa_program)


# ----------------------------------------------------------------------------- activations at the edges

_EDGES = [-float("inf"), -100.0, -3.0, -1.0, -0.0, 0.0, 0.5, 3.0, 20.0, 100.0, float("inf"),
          float("nan")]


def _activation_edges_program(lib, name):
    # value, gradient and second derivative at zero, the kinks and +-inf: SwiGLU/Mish-style
    # feed-forwards and softplus-parametrised scales meet these (zero padding, masked -inf)
    F = lib.nn.functional
    x = lib.tensor(_EDGES, dtype=lib.float64, requires_grad=True)
    y = getattr(F, name)(x)
    g, = lib.autograd.grad(y.sum(), x, create_graph=True)
    gg, = lib.autograd.grad(g.sum(), x)
    return {"y": y, "g": g, "gg": gg}


@pytest.mark.parametrize("name", ["softplus", "logsigmoid", "hardswish", "softshrink", "mish",
                                  "silu", "gelu", "elu", "selu", "celu"])
def test_activation_edges(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # no numpy RuntimeWarning may leak out
        got = _activation_edges_program(minigrad, name)
    ref = _activation_edges_program(torch, name)
    for key in ref:
        r, g = _np(ref[key]), _np(got[key])
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r), err_msg=f"{name} {key}")
        np.testing.assert_allclose(g, r, rtol=1e-7, atol=1e-8, err_msg=f"{name} {key}")
        if key == "y":                              # signed zeros too
            finite = ~np.isnan(r)
            np.testing.assert_array_equal(np.signbit(g[finite]), np.signbit(r[finite]),
                                          err_msg=name)


# ----------------------------------------------------------------------------- sequence labelling

def _crf_program(lib):
    # a linear-chain CRF (BiLSTM-CRF taggers): forward algorithm with logsumexp, gold-path
    # score by fancy indexing, Viterbi decoding with max/argmax and Python backtracking
    nn = lib.nn
    T = 4

    class CRF(nn.Module):
        def __init__(self):
            super().__init__()
            self.start_transitions = nn.Parameter(lib.empty(T).uniform_(-0.1, 0.1))
            self.end_transitions = nn.Parameter(lib.empty(T).uniform_(-0.1, 0.1))
            self.transitions = nn.Parameter(lib.empty(T, T).uniform_(-0.1, 0.1))

        def forward(self, em, tags, mask):
            return (self._score(em, tags, mask) - self._norm(em, mask)).sum()

        def _score(self, em, tags, mask):
            L, B = tags.shape
            m = mask.type_as(em)
            score = self.start_transitions[tags[0]] + em[0, lib.arange(B), tags[0]]
            for i in range(1, L):
                score += self.transitions[tags[i - 1], tags[i]] * m[i]
                score += em[i, lib.arange(B), tags[i]] * m[i]
            last = tags[m.long().sum(dim=0) - 1, lib.arange(B)]
            return score + self.end_transitions[last]

        def _norm(self, em, mask):
            score = self.start_transitions + em[0]
            for i in range(1, em.size(0)):
                nxt = lib.logsumexp(score.unsqueeze(2) + self.transitions + em[i].unsqueeze(1),
                                    dim=1)
                score = lib.where(mask[i].unsqueeze(1), nxt, score)
            return lib.logsumexp(score + self.end_transitions, dim=1)

        def decode(self, em, mask):
            score, history = self.start_transitions + em[0], []
            for i in range(1, em.size(0)):
                nxt, idx = (score.unsqueeze(2) + self.transitions + em[i].unsqueeze(1)).max(dim=1)
                score = lib.where(mask[i].unsqueeze(1), nxt, score)
                history.append(idx)
            score += self.end_transitions
            ends = mask.long().sum(dim=0) - 1
            best = []
            for b in range(em.size(1)):
                tags = [score[b].argmax(dim=0).item()]
                for hist in reversed(history[:ends[b]]):
                    tags.append(hist[b][tags[-1]].item())
                best.append(tags[::-1])
            return best

    crf = CRF().double()
    _fill_params(lib, crf, 0)
    lstm = nn.LSTM(3, 2, bidirectional=True).double()
    proj = nn.Linear(4, T).double()
    _fill_params(lib, lstm, 1)
    _fill_params(lib, proj, 2)
    x = lib.tensor(np.random.default_rng(1).standard_normal((5, 2, 3)))
    em = proj(lstm(x)[0])
    tags = lib.tensor([[0, 1], [2, 3], [1, 1], [3, 0], [0, 0]])
    mask = lib.tensor([[1, 1], [1, 1], [1, 1], [1, 0], [1, 0]], dtype=lib.bool)
    ll = crf(em, tags, mask)
    (-ll).backward()
    return {"ll": ll, "grads": [crf.transitions.grad, crf.start_transitions.grad,
                                lstm.weight_hh_l0_reverse.grad, proj.weight.grad],
            "decoded": crf.decode(em, mask)}


def test_bilstm_crf_tagger():
    _compare(_crf_program)


# ----------------------------------------------------------------------------- mixed precision

def _amp_accumulation_program(lib):
    # float16 autocast, GradScaler, gradient accumulation, unscale + clip, and one step with an
    # infinite input: the scaler skips it and halves its scale, with no warning on the way
    model = lib.nn.Linear(3, 2)
    _fill_params(lib, model, 0)
    opt = lib.optim.AdamW(model.parameters(), lr=0.1)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 16, growth_interval=2)
    scales, weights, norms = [], [], []
    rng = np.random.default_rng(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(4):
            x = lib.tensor(rng.standard_normal((2, 3)), dtype=lib.float32)
            if step == 1:
                x[0, 0] = float("inf")
            for _ in range(2):
                with lib.autocast(device_type="cpu", dtype=lib.float16):
                    loss = model(x).float().pow(2).mean() / 2
                scaler.scale(loss).backward()
            scaler.unscale_(opt)
            norms.append(lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            scales.append(scaler.get_scale())
            weights.append(model.weight.detach().clone())
    sd = scaler.state_dict()
    return {"scales": np.array(scales), "weights": weights, "norms": np.array(norms),
            "keys": sorted(sd), "growth": sd["_growth_tracker"],
            "steps": opt.state_dict()["state"][0]["step"],
            "warnings": [str(w.message) for w in caught]}


def test_amp_gradient_accumulation_with_a_skipped_step():
    _compare(_amp_accumulation_program, rtol=1e-2, atol=1e-3)


# ----------------------------------------------------------------------------- the Annotated Transformer

def _annotated_program(lib):
    # Harvard NLP's Annotated Transformer, reduced: clones by deepcopy, a hand-written
    # LayerNorm with the unbiased std, uint8 subsequent masks, masked_fill(-1e9), KLDiv label
    # smoothing with scatter_/index_fill_, and the Noam rate through LambdaLR
    import copy
    nn, F = lib.nn, lib.nn.functional
    d, h, V, PAD = 8, 2, 7, 0

    def clones(module, n):
        return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])

    class LayerNorm(nn.Module):
        def __init__(self, features, eps=1e-6):
            super().__init__()
            self.a_2, self.b_2, self.eps = nn.Parameter(lib.ones(features)), \
                nn.Parameter(lib.zeros(features)), eps

        def forward(self, x):
            mean, std = x.mean(-1, keepdim=True), x.std(-1, keepdim=True)
            return self.a_2 * (x - mean) / (std + self.eps) + self.b_2

    def attention(query, key, value, mask=None):
        scores = lib.matmul(query, key.transpose(-2, -1)) / math.sqrt(query.size(-1))
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        p_attn = scores.softmax(dim=-1)
        return lib.matmul(p_attn, value), p_attn

    class MultiHeaded(nn.Module):
        def __init__(self):
            super().__init__()
            self.d_k, self.h = d // h, h
            self.linears = clones(nn.Linear(d, d), 4)

        def forward(self, query, key, value, mask=None):
            if mask is not None:
                mask = mask.unsqueeze(1)
            nb = query.size(0)
            query, key, value = [lin(x).view(nb, -1, self.h, self.d_k).transpose(1, 2)
                                 for lin, x in zip(self.linears, (query, key, value))]
            x, self.attn = attention(query, key, value, mask=mask)
            x = x.transpose(1, 2).contiguous().view(nb, -1, self.h * self.d_k)
            return self.linears[-1](x)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.self_attn, self.src_attn = MultiHeaded(), MultiHeaded()
            self.ff = nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, d))
            self.norms = clones(LayerNorm(d), 3)

        def forward(self, x, memory, src_mask, tgt_mask):
            x = x + self.self_attn(*[self.norms[0](x)] * 3, tgt_mask)
            y = self.norms[1](x)
            x = x + self.src_attn(y, memory, memory, src_mask)
            return x + self.ff(self.norms[2](x))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed, self.tgt_embed = nn.Embedding(V, d), nn.Embedding(V, d)
            self.enc = nn.Sequential(nn.Linear(d, d), nn.Tanh())
            self.dec = clones(Layer(), 2)
            self.norm = LayerNorm(d)
            self.proj = nn.Linear(d, V)
            for p in self.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)

        def forward(self, src, tgt, src_mask, tgt_mask):
            memory = self.enc(self.src_embed(src) * math.sqrt(d))
            x = self.tgt_embed(tgt) * math.sqrt(d)
            for layer in self.dec:
                x = layer(x, memory, src_mask, tgt_mask)
            return F.log_softmax(self.proj(self.norm(x)), dim=-1)

    def subsequent_mask(size):
        return lib.triu(lib.ones((1, size, size)), diagonal=1).type(lib.uint8) == 0

    class LabelSmoothing(nn.Module):
        def __init__(self, smoothing=0.1):
            super().__init__()
            self.criterion = nn.KLDivLoss(reduction="sum")
            self.confidence, self.smoothing = 1.0 - smoothing, smoothing

        def forward(self, x, target):
            true_dist = x.data.clone()
            true_dist.fill_(self.smoothing / (V - 2))
            true_dist.scatter_(1, target.data.unsqueeze(1), self.confidence)
            true_dist[:, PAD] = 0
            mask = lib.nonzero(target.data == PAD)
            if mask.dim() > 0:
                true_dist.index_fill_(0, mask.squeeze(), 0.0)
            return self.criterion(x, true_dist.clone().detach())

    model = Model().double()
    _fill_params(lib, model, 31, scale=0.3)
    crit = LabelSmoothing()
    opt = lib.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    rate = lambda step: d ** -0.5 * min(max(step, 1) ** -0.5, max(step, 1) * 4 ** -1.5)
    sched = lib.optim.lr_scheduler.LambdaLR(opt, lr_lambda=rate)
    src = lib.tensor([[1, 3, 4, 5, 2], [1, 6, 2, 0, 0]])
    tgt = lib.tensor([[1, 3, 4, 5, 2], [1, 6, 2, 0, 0]])
    tgt_in, tgt_y = tgt[:, :-1], tgt[:, 1:]
    src_mask = (src != PAD).unsqueeze(-2)
    tgt_mask = (tgt_in != PAD).unsqueeze(-2) & subsequent_mask(tgt_in.size(-1)).type_as(
        src_mask.data)
    ntokens = (tgt_y != PAD).data.sum()
    losses, lrs = [], []
    for _ in range(3):
        out = model(src, tgt_in, src_mask, tgt_mask)
        loss = crit(out.contiguous().view(-1, V), tgt_y.contiguous().view(-1)) / ntokens
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        losses.append(loss.item())
        lrs.append(opt.param_groups[0]["lr"])
    model.eval()
    with lib.no_grad():
        ys = lib.zeros(1, 1).fill_(1).type_as(src.data)
        for _ in range(3):
            out = model(src[:1], ys, src_mask[:1], subsequent_mask(ys.size(1)).type_as(
                src.data))
            _, next_word = lib.max(out[:, -1], dim=1)
            ys = lib.cat([ys, lib.zeros(1, 1).type_as(src.data).fill_(next_word.data[0])],
                         dim=1)
    return {"losses": np.array(losses), "lrs": np.array(lrs), "ntokens": ntokens,
            "decoded": ys, "attn": model.dec[0].self_attn.attn,
            "params": list(model.parameters())}


def test_annotated_transformer():
    _compare(_annotated_program, rtol=1e-5, atol=1e-7)
