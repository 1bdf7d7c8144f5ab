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


# ----------------------------------------------------------------------------- decoder-only LM

def _gpt(lib, depth=2, heads=2, width=8, context=6, vocab=11, p_drop=0.0, fused=False,
         bias=True):
    """A GPT-2 shaped character model: fused qkv projection split three ways, a causal
    mask buffer or SDPA, pre-norm residual blocks, tied input/output embeddings."""
    nn, F = lib.nn, lib.nn.functional
    per_head = width // heads

    def heads_first(t, n, length):                 # (n, L, width) -> (n, heads, L, per_head)
        return t.view(n, length, heads, per_head).transpose(1, 2)

    class MaskedSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(width, 3 * width, bias=bias)
            self.out = nn.Linear(width, width, bias=bias)
            self.drop_weights, self.drop_out = nn.Dropout(p_drop), nn.Dropout(p_drop)
            self.use_sdpa = fused and hasattr(F, "scaled_dot_product_attention")
            if not self.use_sdpa:
                lower = lib.ones(context, context).tril()
                self.register_buffer("causal", lower.view(1, 1, context, context))

        def forward(self, h):
            n, length, _ = h.size()
            parts = self.qkv(h).split(width, dim=2)
            q, k, v = (heads_first(t, n, length) for t in parts)
            if self.use_sdpa:
                mixed = F.scaled_dot_product_attention(
                    q, k, v, attn_mask=None, is_causal=True,
                    dropout_p=p_drop if self.training else 0)
            else:
                logits = q @ k.transpose(-2, -1) / math.sqrt(per_head)
                hidden = self.causal[:, :, :length, :length] == 0
                weights = self.drop_weights(F.softmax(logits.masked_fill(hidden, float("-inf")),
                                                      dim=-1))
                mixed = weights @ v
            merged = mixed.transpose(1, 2).contiguous().view(n, length, width)
            return self.drop_out(self.out(merged))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm_a = nn.LayerNorm(width, bias=bias)
            self.attn = MaskedSelfAttention()
            self.norm_b = nn.LayerNorm(width, bias=bias)
            self.ff = nn.Sequential(nn.Linear(width, 4 * width, bias=bias),
                                    nn.GELU(approximate="tanh"),
                                    nn.Linear(4 * width, width, bias=bias), nn.Dropout(p_drop))

        def forward(self, h):
            h = h + self.attn(self.norm_a(h))
            return h + self.ff(self.norm_b(h))

    def small_normal(mod):
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            nn.init.normal_(mod.weight, mean=0.0, std=0.02)
        if isinstance(mod, nn.Linear) and mod.bias is not None:
            nn.init.zeros_(mod.bias)

    class CharLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.context = context
            self.body = nn.ModuleDict({"tok": nn.Embedding(vocab, width),
                                       "pos": nn.Embedding(context, width),
                                       "drop": nn.Dropout(p_drop),
                                       "layers": nn.ModuleList(Layer() for _ in range(depth)),
                                       "norm": nn.LayerNorm(width, bias=bias)})
            self.unembed = nn.Linear(width, vocab, bias=False)
            self.body.tok.weight = self.unembed.weight       # shared input/output matrix
            self.apply(small_normal)
            scaled = 0.02 / math.sqrt(2 * depth)              # residual output projections
            for name, w in self.named_parameters():
                if name.endswith(("attn.out.weight", "ff.2.weight")):
                    nn.init.normal_(w, mean=0.0, std=scaled)

        def count(self, skip_positions=True):
            total = sum(w.numel() for w in self.parameters())
            return total - self.body.pos.weight.numel() if skip_positions else total

        def forward(self, tokens, labels=None):
            length = tokens.size(1)
            assert length <= self.context
            where = lib.arange(0, length, dtype=lib.long, device=tokens.device)
            h = self.body.drop(self.body.tok(tokens) + self.body.pos(where))
            for layer in self.body.layers:
                h = layer(h)
            h = self.body.norm(h)
            if labels is None:                         # inference: the last position only
                return self.unembed(h[:, [-1], :]), None
            scores = self.unembed(h)
            return scores, F.cross_entropy(scores.view(-1, scores.size(-1)), labels.view(-1),
                                           ignore_index=-1)

        def optimizer(self, decay, lr, betas):
            trainable = [w for w in self.parameters() if w.requires_grad]
            groups = [{"params": [w for w in trainable if w.dim() > 1], "weight_decay": decay},
                      {"params": [w for w in trainable if w.dim() <= 1], "weight_decay": 0.0}]
            return lib.optim.AdamW(groups, lr=lr, betas=betas, fused=False)

        @lib.no_grad()
        def sample(self, tokens, steps, temperature=1.0, keep=None):
            for _ in range(steps):
                window = tokens[:, -self.context:]
                scores = self(window)[0][:, -1, :] / temperature
                if keep is not None:
                    kth = lib.topk(scores, min(keep, scores.size(-1)))[0][:, [-1]]
                    scores[scores < kth] = -float("Inf")
                pick = lib.multinomial(F.softmax(scores, dim=-1), num_samples=1)
                tokens = lib.cat((tokens, pick), dim=1)
            return tokens

    return CharLM()


def _gpt_program(lib, flash=False, bias=True):
    model = _gpt(lib, fused=flash, bias=bias).double()
    _fill_params(lib, model, 0)
    rng = np.random.default_rng(1)
    stream = rng.integers(0, 11, size=(40,))
    out = {"num_params": model.count(), "keys": list(model.state_dict().keys()),
           "tied": model.unembed.weight is model.body.tok.weight}
    opt = model.optimizer(0.1, 1e-2, (0.9, 0.95))
    peak, floor, ramp, horizon = 1e-2, 1e-3, 2, 6

    def rate(step):                                    # linear warm-up, then half a cosine
        if step < ramp:
            return peak * (step + 1) / (ramp + 1)
        done = (step - ramp) / (horizon - ramp)
        return floor + (peak - floor) * (math.cos(math.pi * done) + 1.0) / 2

    micro_batches = 2
    losses = []
    for step in range(3):
        for group in opt.param_groups:
            group["lr"] = rate(step)
        for _ in range(micro_batches):
            offsets = rng.integers(0, 40 - 7, size=(2,))
            windows = np.stack([stream[o:o + 7] for o in offsets])
            inputs = lib.from_numpy(windows[:, :-1].copy())
            labels = lib.from_numpy(windows[:, 1:].copy())
            labels[0, -1] = -1                                 # an ignored target
            loss = model(inputs, labels)[1] / micro_batches
            loss.backward()
            losses.append(loss.item())
        out[f"norm{step}"] = lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    out["losses"] = np.array(losses)
    out["grad_is_none"] = model.unembed.weight.grad is None
    out.update({"p." + name: w for name, w in model.named_parameters()})
    model.eval()
    # top-1 sampling is deterministic on both libraries; the prompt outgrows the context
    grown = model.sample(lib.tensor([[1, 2, 3, 4]]), 4, temperature=0.8, keep=1)
    out["generated"] = grown
    out["last_logits"] = model(grown[:, -6:])[0]
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

    class PatchClassifier(nn.Module):
        """non-overlapping PxP patches by a strided conv, a learned summary token in front,
        learned positions, a stock encoder, and the summary token's features classified"""
        def __init__(self, img=8, n_classes=5, depth=2):
            super().__init__()
            self.patchify = nn.Conv2d(C, D, kernel_size=P, stride=P)
            self.summary = nn.Parameter(lib.zeros(1, 1, D))
            self.where = nn.Parameter(lib.zeros(1, (img // P) ** 2 + 1, D))
            self.drop = nn.Dropout(p=0.0)
            block = nn.TransformerEncoderLayer(d_model=D, nhead=H, dim_feedforward=16,
                                               dropout=0.0, activation=activation,
                                               batch_first=True, norm_first=norm_first)
            self.encoder = nn.TransformerEncoder(block, num_layers=depth,
                                                 enable_nested_tensor=False)
            self.norm = nn.LayerNorm(D, eps=1e-6)
            self.classify = nn.Linear(D, n_classes)
            nn.init.trunc_normal_(self.where, std=0.02)

        def forward(self, images):
            seq = self.patchify(images).flatten(2).transpose(1, 2)      # (B, patches, D)
            front = self.summary.expand(seq.shape[0], -1, -1)
            seq = lib.cat((front, seq), dim=1) + self.where
            return self.classify(self.norm(self.encoder(self.drop(seq)))[:, 0])

    model = PatchClassifier().double()
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
    out["cls_grad"] = model.summary.grad
    out["conv_grad"] = model.patchify.weight.grad
    model.eval()
    with lib.no_grad():
        out["eval_logits"] = model(imgs)
        out["pred"] = model(imgs).argmax(dim=-1)
    return out


@pytest.mark.parametrize("norm_first,activation", [(True, "gelu"), (False, "relu")])
def test_vit_classifier(norm_first, activation):
    _compare(_vit_program, norm_first=norm_first, activation=activation)


# ----------------------------------------------------------------------------- encoder with segments

def _bert_program(lib, pad_id=0):
    nn, F = lib.nn, lib.nn.functional
    V, D, T, H = 13, 8, 6, 2

    class InputLayer(nn.Module):
        """token + position + segment embeddings, normalised; positions from a buffer that
        is not saved"""
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(V, D, padding_idx=pad_id)
            self.positions = nn.Embedding(T, D)
            self.segments = nn.Embedding(2, D)
            self.norm = nn.LayerNorm(D, eps=1e-12)
            self.drop = nn.Dropout(0.0)
            self.register_buffer("slots", lib.arange(T).expand((1, -1)), persistent=False)

        def forward(self, ids, segment=None):
            if segment is None:
                segment = lib.zeros_like(ids)
            summed = (self.tokens(ids) + self.segments(segment)
                      + self.positions(self.slots[:, :ids.size(1)]))
            return self.drop(self.norm(summed))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = InputLayer()
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
    out["word_grad"] = model.embeddings.tokens.weight.grad
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
    rows = x.view(-1, x.size(-1))                 # (2 * 3, 4)
    size_out = x.size()[:-1] + (6,)
    y = lib.addmm(b, rows, w).view(size_out)
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


def test_nanogpt_dtype_table_and_autocast_choices():
    # nanoGPT: dtype = 'bfloat16' if cuda and is_bf16_supported() else 'float16', then a dict
    # naming torch.bfloat16, float32 and float16: all three exist (bfloat16 on the CPU only)
    assert torch.cuda.is_bf16_supported() == minigrad.cuda.is_bf16_supported() is False
    table = {name: getattr(minigrad, name) for name in ("float32", "bfloat16", "float16")}
    assert [str(d) for d in table.values()] == \
        [str(getattr(torch, n)).replace("torch", "minigrad") for n in table]
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
    wrapped = ck["model"]
    sd = {name.split(".", 1)[1] if name.startswith("_orig_mod.") else name: value
          for name, value in wrapped.items()}
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
    # nucleus filtering: drop the tail once the sorted mass passes 0.8, but always keep the
    # most likely token (a shifted copy of the bool mask, scattered back to vocabulary order)
    ranked, order = lib.sort(logits, descending=True)
    mass = lib.cumsum(F.softmax(ranked, dim=-1), dim=-1)
    drop = mass > 0.8
    drop[..., 1:] = drop[..., :-1].clone()
    drop[..., 0] = 0
    top_p = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    # penalise tokens already produced: shrink positive scores, grow negative ones
    seen = lib.tensor([[1, 3, 3], [0, 6, 2]])
    picked = lib.gather(logits, 1, seen)
    picked = lib.where(picked < 0, picked * 1.3, picked / 1.3)
    penalised = logits.clone().scatter_(1, seen, picked)
    # position ids of left-padded rows, and a finished flag per row
    attend = lib.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    pos = attend.long().cumsum(-1) - 1
    pos.masked_fill_(attend == 0, 1)
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
    # idioms of encoder code on the Hugging Face pattern: head splitting through Size + tuple
    # and permute, an additive mask scaled by finfo.min, erf GELU, a bias Parameter shared with
    # the decoder, parameter groups picked by name, mean pooling and cosine similarity
    nn, F = lib.nn, lib.nn.functional
    width, n_heads = 8, 2
    per_head = width // n_heads

    class ScaledAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.to_q, self.to_k, self.to_v = (nn.Linear(width, width) for _ in range(3))

        @staticmethod
        def split(t):                              # (B, L, width) -> (B, heads, L, per_head)
            return t.view(t.size()[:-1] + (n_heads, per_head)).permute(0, 2, 1, 3)

        def forward(self, h, additive):
            q, k, v = self.split(self.to_q(h)), self.split(self.to_k(h)), self.split(self.to_v(h))
            weights = F.softmax(lib.matmul(q, k.transpose(-1, -2)) / math.sqrt(per_head)
                                + additive, dim=-1)
            joined = lib.matmul(weights, v).permute(0, 2, 1, 3).contiguous()
            return joined.view(joined.size()[:-2] + (width,)), weights

    class MaskedLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = ScaledAttention()
            self.transform = nn.Linear(width, width)
            self.ln = nn.LayerNorm(width, eps=1e-12)
            self.vocab = nn.Linear(width, 6, bias=False)
            self.vocab_bias = nn.Parameter(lib.zeros(6))
            self.vocab.bias = self.vocab_bias       # one Parameter under two names

        def forward(self, h, additive):
            mixed, weights = self.attn(h, additive)
            t = self.transform(mixed)
            t = 0.5 * t * (lib.erf(t / math.sqrt(2.0)) + 1.0)
            return self.vocab(self.ln(t)), weights

    model = MaskedLM().double()
    _fill_params(lib, model, 1)
    undecayed = ("bias", "ln.weight")
    named = list(model.named_parameters())
    plain = [w for n, w in named if n.endswith(undecayed)]
    groups = [{"params": [w for n, w in named if not n.endswith(undecayed)],
               "weight_decay": 0.01},
              {"params": plain, "weight_decay": 0.0}]
    opt = lib.optim.AdamW(groups, lr=1e-2, eps=1e-6)
    rng = np.random.default_rng(2)
    h = lib.tensor(rng.standard_normal((2, 3, 8)))
    keep = lib.tensor([[1, 1, 0], [1, 1, 1]])
    blocked = 1.0 - keep[:, None, None, :].to(dtype=lib.float64)     # 1 where padded
    additive = blocked * lib.finfo(lib.float64).min
    labels = lib.tensor([[1, 5, -100], [0, -100, 2]])
    losses, norms = [], []
    for _ in range(2):
        scores, weights = model(h, additive)
        loss = F.cross_entropy(scores.view(-1, 6), labels.view(-1))
        loss.backward()
        norms.append(lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    # sentence vectors: the average over kept tokens, and the last kept token
    states = model.attn(h, additive)[0]
    counts = keep.sum(1, keepdim=True).clamp(min=1e-9)
    pooled = (states * keep.unsqueeze(-1)).sum(1) / counts
    final = states[lib.arange(2), keep.sum(dim=1) - 1]
    unit = F.normalize(pooled, p=2, dim=1)
    return {"losses": np.array(losses), "norms": np.array(norms), "probs": weights,
            "params": list(model.parameters()),
            "names": [n for n, _ in model.named_parameters()],
            "keys": list(model.state_dict()), "sizes": [len(g["params"]) for g in groups],
            "ppl": lib.exp(lib.tensor(losses[-1])), "cos": unit @ unit.T, "last": final,
            "cos2": F.cosine_similarity(pooled[:, None], final[None], dim=-1)}


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


# ----------------------------------------------------------------------------- rotary, grouped-query LM

def _llama(lib, dim=8, n_heads=4, n_kv_heads=2, n_layers=2, vocab=13, max_seq=8):
    """RMSNorm pre-norm blocks, rotary position angles kept as cos/sin buffers, fewer key/value
    heads than query heads, a SwiGLU feed-forward and a key/value cache for decoding."""
    nn, F = lib.nn, lib.nn.functional
    hd = dim // n_heads
    group = n_heads // n_kv_heads

    def angle_tables(base=10000.0):
        exponents = lib.arange(0, hd, 2)[: hd // 2].float() / hd
        angles = lib.outer(lib.arange(max_seq, dtype=lib.float32), base ** -exponents)
        return angles.cos(), angles.sin()

    def spin(t, cos, sin):                        # rotate (even, odd) feature pairs
        pairs = t.float().reshape(*t.shape[:-1], hd // 2, 2)
        even, odd = pairs.unbind(-1)
        cos, sin = cos[None, :, None, :], sin[None, :, None, :]
        turned = lib.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
        return turned.flatten(3).type_as(t)

    def widen(t):                                 # (B, L, kv, hd) -> (B, L, kv * group, hd)
        if group == 1:
            return t
        b, length = t.shape[:2]
        return t.unsqueeze(3).expand(b, length, n_kv_heads, group, hd).reshape(
            b, length, n_heads, hd)

    class RootMeanSquareNorm(nn.Module):
        def __init__(self, eps=1e-6):
            super().__init__()
            self.weight, self.eps = nn.Parameter(lib.ones(dim)), eps

        def forward(self, t):
            wide = t.float()                      # the statistics in float32 at least
            mean_square = wide.pow(2).mean(-1, keepdim=True)
            return (wide * lib.rsqrt(self.eps + mean_square)).type_as(t) * self.weight

    class GroupedAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(dim, n_heads * hd, bias=False)
            self.k = nn.Linear(dim, n_kv_heads * hd, bias=False)
            self.v = nn.Linear(dim, n_kv_heads * hd, bias=False)
            self.o = nn.Linear(n_heads * hd, dim, bias=False)
            self.past_k = self.past_v = None

        def forward(self, t, cos, sin, bias):
            b, length, _ = t.shape
            q = spin(self.q(t).view(b, length, n_heads, hd), cos, sin)
            k = spin(self.k(t).view(b, length, n_kv_heads, hd), cos, sin)
            v = self.v(t).view(b, length, n_kv_heads, hd)
            if self.past_k is not None:           # decoding: prepend what was seen before
                k, v = lib.cat([self.past_k, k], dim=1), lib.cat([self.past_v, v], dim=1)
            if not self.training:
                self.past_k, self.past_v = k, v
            # the two ways of repeating kv heads, one for keys and one for values
            keys = widen(k).transpose(1, 2)
            vals = lib.repeat_interleave(v, group, dim=2).transpose(1, 2)
            q = q.transpose(1, 2)
            logits = lib.matmul(q, keys.transpose(2, 3)) / math.sqrt(hd)
            if bias is not None:
                logits = logits + bias
            weights = F.softmax(logits.float(), dim=-1).type_as(q)
            merged = lib.matmul(weights, vals).transpose(1, 2).contiguous()
            return self.o(merged.view(b, length, -1))

    class GatedFeedForward(nn.Module):
        def __init__(self, hidden=12):
            super().__init__()
            self.gate = nn.Linear(dim, hidden, bias=False)
            self.up = nn.Linear(dim, hidden, bias=False)
            self.down = nn.Linear(hidden, dim, bias=False)

        def forward(self, t):
            return self.down(self.up(t) * F.silu(self.gate(t)))

    class RotaryBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.pre_attn, self.attn = RootMeanSquareNorm(), GroupedAttention()
            self.pre_ff, self.ff = RootMeanSquareNorm(), GatedFeedForward()

        def forward(self, t, cos, sin, bias):
            t = t + self.attn(self.pre_attn(t), cos, sin, bias)
            return t + self.ff(self.pre_ff(t))

    class RotaryLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.stack = nn.ModuleList(RotaryBlock() for _ in range(n_layers))
            self.final_norm = RootMeanSquareNorm()
            self.head = nn.Linear(dim, vocab, bias=False)
            cos, sin = angle_tables()
            self.register_buffer("cos_table", cos, persistent=False)
            self.register_buffer("sin_table", sin, persistent=False)

        def forward(self, tokens, offset=0):
            length = tokens.shape[1]
            t = self.embed(tokens)
            window = slice(offset, offset + length)
            cos, sin = self.cos_table[window], self.sin_table[window]
            bias = None
            if length > 1:                       # future blocked; cached prefix visible
                future = lib.triu(lib.full((length, length), float("-inf"),
                                           device=tokens.device), diagonal=1)
                prefix = lib.zeros((length, offset), device=tokens.device)
                bias = lib.hstack([prefix, future]).type_as(t)
            for block in self.stack:
                t = block(t, cos, sin, bias)
            return self.head(self.final_norm(t)).float()

    return RotaryLM()


def _llama_program(lib):
    model = _llama(lib)
    _fill_params(lib, model, 11, scale=0.4)
    rng = np.random.default_rng(12)
    tokens = lib.tensor(rng.integers(0, 13, (2, 6)))
    opt = lib.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    losses = []
    for _ in range(2):
        scores = model(tokens[:, :-1])
        loss = lib.nn.functional.cross_entropy(scores.reshape(-1, 13), tokens[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out = {"losses": np.array(losses), "keys": list(model.state_dict()),
           "buffers": [n for n, _ in model.named_buffers()],
           "grad": model.stack[0].attn.k.weight.grad}
    model.eval()
    with lib.inference_mode():
        prompt = tokens[:, :3]
        scores = model(prompt, 0)
        produced = [prompt]
        for offset in range(3, 6):               # one token per call, through the cache
            produced.append(lib.argmax(scores[:, -1], dim=-1, keepdim=True))
            scores = model(produced[-1], offset)
        out["generated"] = lib.cat(produced, dim=1)
        out["cached_logits"] = scores
        out["cache_shape"] = list(model.stack[0].attn.past_k.shape)
    return out


def test_llama_like_training_and_cached_decoding():
    _compare(_llama_program, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- seq2seq nn.Transformer

def _seq2seq_program(lib):
    # a sequence-first nn.Transformer translator: bool padding masks with a float causal
    # target mask (PyTorch warns that the mask types differ), then greedy decoding through
    # the encoder and decoder separately
    nn = lib.nn
    PAD, BOS, EOS, V, E = 1, 2, 3, 11, 8

    def sinusoid_table(rows):                    # (rows, 1, E): sin on even, cos on odd columns
        where = lib.arange(0, rows).reshape(rows, 1)
        freq = lib.exp(lib.arange(0, E, 2) * (-math.log(10000) / E))
        table = lib.zeros((rows, E))
        table[:, 0::2] = lib.sin(where * freq)
        table[:, 1::2] = lib.cos(where * freq)
        return table.unsqueeze(-2)

    class TinyTranslator(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_vocab, self.tgt_vocab = nn.Embedding(V, E), nn.Embedding(V, E)
            self.register_buffer("table", sinusoid_table(20))
            self.drop = nn.Dropout(0.0)
            self.core = nn.Transformer(d_model=E, nhead=2, num_encoder_layers=1,
                                       num_decoder_layers=1, dim_feedforward=16, dropout=0.0)
            self.to_vocab = nn.Linear(E, V)

        def embed(self, table, ids):
            scaled = table(ids.long()) * math.sqrt(E)
            return self.drop(scaled + self.table[:ids.size(0), :])

        def forward(self, src, tgt, src_attn, tgt_attn, src_pad, tgt_pad, memory_pad):
            hidden = self.core(self.embed(self.src_vocab, src), self.embed(self.tgt_vocab, tgt),
                               src_attn, tgt_attn, None, src_pad, tgt_pad, memory_pad)
            return self.to_vocab(hidden)

        def read(self, src, src_attn):
            return self.core.encoder(self.embed(self.src_vocab, src), src_attn)

        def write(self, tgt, memory, tgt_attn):
            return self.core.decoder(self.embed(self.tgt_vocab, tgt), memory, tgt_attn)

    def look_ahead(n):                           # 0 on and below the diagonal, -inf above
        allowed = (lib.triu(lib.ones((n, n))) == 1).transpose(0, 1)
        return allowed.float().masked_fill(allowed == 0, float("-inf")).masked_fill(
            allowed == 1, 0.0)

    def masks_for(src, tgt):
        return (look_ahead(tgt.shape[0]),
                lib.zeros((src.shape[0], src.shape[0])).type(lib.bool),
                (src == PAD).transpose(0, 1), (tgt == PAD).transpose(0, 1))

    model = TinyTranslator()
    _fill_params(lib, model, 21, scale=0.3)
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-9)
    src = lib.tensor([[BOS, BOS], [5, 6], [7, EOS], [EOS, PAD]])          # (S, N)
    tgt = lib.tensor([[BOS, BOS], [8, 9], [EOS, 4], [PAD, EOS]])
    teacher, wanted = tgt[:-1, :], tgt[1:, :]
    out = {"losses": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            tgt_attn, src_attn, src_pad, tgt_pad = masks_for(src, teacher)
            scores = model(src, teacher, src_attn, tgt_attn, src_pad, tgt_pad, src_pad)
            opt.zero_grad()
            loss = criterion(scores.reshape(-1, scores.shape[-1]), wanted.reshape(-1))
            loss.backward()
            opt.step()
            out["losses"].append(loss.item())
    out["warnings"] = sorted({str(w.message) for w in caught})
    out["losses"] = np.array(out["losses"])
    model.eval()
    first = src[:, :1]
    memory = model.read(first, lib.zeros(4, 4).type(lib.bool))
    decoded = lib.ones(1, 1).fill_(BOS).type(lib.long)
    for _ in range(3):
        states = model.write(decoded, memory, look_ahead(decoded.size(0)).type(lib.bool))
        prob = model.to_vocab(states.transpose(0, 1)[:, -1])
        best = lib.max(prob, dim=1)[1]
        step = lib.ones(1, 1).type_as(first.data).fill_(best.item())
        decoded = lib.cat([decoded, step], dim=0)
    out["decoded"] = decoded
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


# activations whose torch gradient at a NaN input depends on where the element falls: its
# vectorised loop gives one value, its scalar loop over the last few elements another
# (tests/opinfo_wrong_torch.py); _EDGES' NaN is in the scalar tail on an AVX2 machine, in a
# vector on a wider one. minigrad gives the vectorised loop's value, checked here instead
_GRAD_AT_NAN = {"softshrink": 0.0, "elu": float("nan"), "selu": float("nan"),
                "celu": float("nan")}


@pytest.mark.parametrize("name", ["softplus", "logsigmoid", "hardswish", "softshrink", "mish",
                                  "silu", "gelu", "elu", "selu", "celu"])
def test_activation_edges(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # no numpy RuntimeWarning may leak out
        got = _activation_edges_program(minigrad, name)
    ref = _activation_edges_program(torch, name)
    nan_input = np.isnan(_EDGES)
    for key in ref:
        r, g = _np(ref[key]), _np(got[key])
        if key != "y" and name in _GRAD_AT_NAN:
            if key == "g":
                np.testing.assert_array_equal(g[nan_input], _GRAD_AT_NAN[name])
            r, g = r[~nan_input], g[~nan_input]
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r), err_msg=f"{name} {key}")
        np.testing.assert_allclose(g, r, rtol=1e-7, atol=1e-8, err_msg=f"{name} {key}")
        if key == "y":                              # signed zeros too
            finite = ~np.isnan(r)
            np.testing.assert_array_equal(np.signbit(g[finite]), np.signbit(r[finite]),
                                          err_msg=name)


# ----------------------------------------------------------------------------- sequence labelling

def _crf_program(lib):
    # a linear-chain CRF over BiLSTM emissions (time-major): the gold path's score by fancy
    # indexing, the log partition by a logsumexp recursion, Viterbi with max/argmax and a
    # backtrack in Python
    nn = lib.nn
    T = 4

    class ChainCRF(nn.Module):
        def __init__(self):
            super().__init__()
            self.pair = nn.Parameter(lib.empty(T, T).uniform_(-0.1, 0.1))    # tag a -> tag b
            self.first = nn.Parameter(lib.empty(T).uniform_(-0.1, 0.1))
            self.last = nn.Parameter(lib.empty(T).uniform_(-0.1, 0.1))

        def gold(self, em, tags, mask):
            steps, batch = tags.shape
            rows, on = lib.arange(batch), mask.type_as(em)
            total = em[0, rows, tags[0]] + self.first[tags[0]]
            for t in range(1, steps):
                total += on[t] * (self.pair[tags[t - 1], tags[t]] + em[t, rows, tags[t]])
            final = tags[on.long().sum(dim=0) - 1, rows]
            return total + self.last[final]

        def partition(self, em, mask):
            alpha = em[0] + self.first
            for t in range(1, len(em)):
                moved = lib.logsumexp(alpha[:, :, None] + self.pair + em[t][:, None, :], dim=1)
                alpha = lib.where(mask[t][:, None], moved, alpha)
            return lib.logsumexp(alpha + self.last, dim=1)

        def forward(self, em, tags, mask):
            return (self.gold(em, tags, mask) - self.partition(em, mask)).sum()

        def viterbi(self, em, mask):
            best, back = em[0] + self.first, []
            for t in range(1, em.size(0)):
                cand, arg = (best[:, :, None] + self.pair + em[t][:, None, :]).max(dim=1)
                best = lib.where(mask[t][:, None], cand, best)
                back.append(arg)
            best += self.last
            lengths = mask.long().sum(dim=0)
            paths = []
            for b in range(em.size(1)):
                path = [best[b].argmax(dim=0).item()]
                for arg in back[:lengths[b] - 1][::-1]:
                    path.insert(0, arg[b][path[0]].item())
                paths.append(path)
            return paths

    crf = ChainCRF().double()
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
    return {"ll": ll, "grads": [crf.pair.grad, crf.first.grad,
                                lstm.weight_hh_l0_reverse.grad, proj.weight.grad],
            "decoded": crf.viterbi(em, mask)}


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


# ----------------------------------------------------------------------------- a hand-written encoder-decoder

def _annotated_program(lib):
    # an encoder-decoder written out by hand, the way teaching notebooks do it: layers cloned
    # by deepcopy, a LayerNorm with the unbiased std, uint8 look-ahead masks, masked_fill(-1e9),
    # label smoothing as a KL divergence (fill_/scatter_/index_fill_), an inverse-square-root
    # warm-up through LambdaLR, and greedy decoding with .data
    import copy
    nn, F = lib.nn, lib.nn.functional
    d, h, V, PAD = 8, 2, 7, 0

    def copies(module, n):
        return nn.ModuleList(copy.deepcopy(module) for _ in range(n))

    class Norm(nn.Module):
        def __init__(self, eps=1e-6):
            super().__init__()
            self.gain, self.shift, self.eps = nn.Parameter(lib.ones(d)), \
                nn.Parameter(lib.zeros(d)), eps

        def forward(self, x):
            centred = x - x.mean(-1, keepdim=True)
            return self.gain * centred / (x.std(-1, keepdim=True) + self.eps) + self.shift

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = copies(nn.Linear(d, d), 4)         # q, k, v, out

        def forward(self, q_in, kv_in, allowed):
            n = q_in.size(0)
            q, k, v = (lin(t).view(n, -1, h, d // h).transpose(1, 2)
                       for lin, t in zip(self.proj, (q_in, kv_in, kv_in)))
            scores = lib.matmul(q, k.transpose(-2, -1)) / math.sqrt(d // h)
            if allowed is not None:
                scores = scores.masked_fill(allowed.unsqueeze(1) == 0, -1e9)
            self.weights = scores.softmax(dim=-1)
            mixed = lib.matmul(self.weights, v).transpose(1, 2).contiguous()
            return self.proj[3](mixed.view(n, -1, d))

    class Stage(nn.Module):
        def __init__(self):
            super().__init__()
            self.own, self.cross = Heads(), Heads()
            self.ff = nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, d))
            self.norms = copies(Norm(), 3)

        def forward(self, x, memory, src_allowed, tgt_allowed):
            y = self.norms[0](x)
            x = x + self.own(y, y, tgt_allowed)
            x = x + self.cross(self.norms[1](x), memory, src_allowed)
            return x + self.ff(self.norms[2](x))

    class CopyModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_emb, self.tgt_emb = nn.Embedding(V, d), nn.Embedding(V, d)
            self.reader = nn.Sequential(nn.Linear(d, d), nn.Tanh())
            self.layers = copies(Stage(), 2)
            self.norm = Norm()
            self.to_vocab = nn.Linear(d, V)
            for w in self.parameters():
                if w.dim() > 1:
                    nn.init.xavier_uniform_(w)

        def forward(self, src, tgt, src_allowed, tgt_allowed):
            memory = self.reader(math.sqrt(d) * self.src_emb(src))
            x = math.sqrt(d) * self.tgt_emb(tgt)
            for stage in self.layers:
                x = stage(x, memory, src_allowed, tgt_allowed)
            return F.log_softmax(self.to_vocab(self.norm(x)), dim=-1)

    def look_ahead(n):                          # uint8 upper triangle, compared to give bools
        return lib.triu(lib.ones((1, n, n)), diagonal=1).type(lib.uint8) == 0

    class SmoothedKL(nn.Module):
        def __init__(self, eps=0.1):
            super().__init__()
            self.kl = nn.KLDivLoss(reduction="sum")
            self.eps = eps

        def forward(self, logp, target):
            wanted = logp.data.clone()
            wanted.fill_(self.eps / (V - 2))                 # neither the gold nor the pad
            gold = target.data.unsqueeze(1)
            wanted.scatter_(1, gold, 1.0 - self.eps)
            wanted[:, PAD] = 0
            pad_rows = lib.nonzero(target.data == PAD)
            if pad_rows.dim() > 0:
                wanted.index_fill_(0, pad_rows.squeeze(), 0.0)
            return self.kl(logp, wanted.clone().detach())

    model = CopyModel().double()
    _fill_params(lib, model, 31, scale=0.3)
    crit = SmoothedKL()
    opt = lib.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    warm = 4

    def factor(step):
        step = max(step, 1)
        return min(step ** -0.5, step / warm ** 1.5) / math.sqrt(d)

    sched = lib.optim.lr_scheduler.LambdaLR(opt, lr_lambda=factor)
    src = lib.tensor([[1, 3, 4, 5, 2], [1, 6, 2, 0, 0]])
    shifted_in, shifted_out = src[:, :-1], src[:, 1:]           # copy task
    src_allowed = (src != PAD).unsqueeze(-2)
    tgt_allowed = (shifted_in != PAD).unsqueeze(-2) & look_ahead(shifted_in.size(-1)).type_as(
        src_allowed.data)
    ntokens = (shifted_out != PAD).data.sum()
    losses, lrs = [], []
    for _ in range(3):
        logp = model(src, shifted_in, src_allowed, tgt_allowed)
        loss = crit(logp.contiguous().view(-1, V), shifted_out.contiguous().view(-1)) / ntokens
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        losses.append(loss.item())
        lrs.append(opt.param_groups[0]["lr"])
    model.eval()
    with lib.no_grad():
        decoded = lib.zeros(1, 1).fill_(1).type_as(src.data)
        for _ in range(3):
            logp = model(src[:1], decoded, src_allowed[:1],
                         look_ahead(decoded.size(1)).type_as(src.data))
            best = lib.max(logp[:, -1], dim=1)[1]
            step = lib.zeros(1, 1).type_as(decoded).fill_(best.data[0])
            decoded = lib.cat([decoded, step], dim=1)
    return {"losses": np.array(losses), "lrs": np.array(lrs), "ntokens": ntokens,
            "decoded": decoded, "attn": model.layers[0].own.weights,
            "params": list(model.parameters())}


def test_annotated_transformer():
    _compare(_annotated_program, rtol=1e-5, atol=1e-7)
