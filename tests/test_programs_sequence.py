"""Sequence and NLP programs of the kind tutorials, repositories and papers' code contain
(embeddings with padding and max_norm, packed LSTM/GRU/RNN batches, length masks, masked
softmax, multi-head attention masks, causal transformer stacks, CTC and label-smoothed
losses, greedy and beam decoding, teacher forcing, positional encodings, weight tying), and the
mistakes their users make with them.

Each ``program(lib)`` runs once with ``lib`` = torch and once with ``lib`` = minigrad from the
same numpy weights and inputs; the two must give the same values, dtypes and shapes (NaN where
torch gives NaN), or raise the same exception type with torch's words in the message, and emit
the same warning categories.
"""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    SideBySide, bare, dotted, err, grads_of as _grads, load_seeded as _load, registry)


# ----------------------------------------------------------------------------------------------
# harness
# ----------------------------------------------------------------------------------------------
HARNESS = SideBySide(rename=dotted, rename_error=bare,
                     tol={"float16": 1e-9, "float32": 1e-5, "float64": 1e-9},
                     tag=lambda v: type(v) is list)
_check = HARNESS.check
PROGRAMS, program = registry()


def _err(fn):
    """An exception's type and message, or 'no error' (compared: same type, torch's words in
    ours); the warnings on the way are not compared."""
    return err(fn, quiet=True)


def _rand(*shape, seed=0, scale=1.0):
    return np.random.RandomState(seed).randn(*shape) * scale


# ----------------------------------------------------------------------------------------------
# embeddings
# ----------------------------------------------------------------------------------------------
@program
def emb_negative_padding_idx(lib):
    emb = lib.nn.Embedding(5, 3, padding_idx=-1).double()
    _load(lib, emb, 1)
    out = emb(lib.tensor([[4, 1, 4], [0, 4, 2]]))
    out.pow(2).sum().backward()
    return {"pad": emb.padding_idx, "out": out, "g": emb.weight.grad, "repr": repr(emb)}


@program
def emb_padding_row_zero_at_init(lib):
    lib.manual_seed(0)
    emb = lib.nn.Embedding(6, 4, padding_idx=2)
    return {"row": emb.weight[2], "rg": emb.weight.requires_grad, "dtype": emb.weight.dtype}


@program
def emb_padding_idx_too_small(lib):
    return lib.nn.Embedding(5, 3, padding_idx=-6)


@program
def emb_from_pretrained_1d(lib):
    return lib.nn.Embedding.from_pretrained(lib.ones(5))


@program
def emb_from_pretrained_unfrozen_maxnorm(lib):
    w = lib.tensor(_rand(6, 3, seed=2, scale=2.0))
    emb = lib.nn.Embedding.from_pretrained(w, freeze=False, max_norm=1.0, padding_idx=0)
    idx = lib.tensor([1, 3, 3, 0])
    out = emb(idx)
    out.sum().backward()
    return {"out": out, "w": emb.weight, "orig": w, "g": emb.weight.grad, "rg": emb.weight.requires_grad,
            "same": emb.weight.data_ptr() == w.data_ptr(), "n": emb.num_embeddings}


@program
def emb_weight_shape_mismatch(lib):
    return lib.nn.Embedding(4, 3, _weight=lib.zeros(4, 2))


@program
def emb_index_kinds(lib):
    w = lib.tensor(_rand(5, 2, seed=3))
    F = lib.nn.functional
    res = {}
    res["int32"] = F.embedding(lib.tensor([1, 4], dtype=lib.int32), w)
    res["empty"] = F.embedding(lib.zeros(0, 3, dtype=lib.long), w)
    res["zero_d"] = F.embedding(lib.tensor(2), w)
    res["noncontig"] = F.embedding(lib.tensor([[0, 1, 2], [3, 4, 0]]).t(), w)
    return res


@program
def emb_index_negative(lib):
    return lib.nn.Embedding(4, 2)(lib.tensor([1, -1]))


@program
def emb_index_uint8(lib):
    return lib.nn.Embedding(4, 2)(lib.tensor([1, 2], dtype=lib.uint8))


@program
def emb_max_norm_float32_inplace(lib):
    emb = lib.nn.Embedding(5, 4, max_norm=0.5)
    with lib.no_grad():
        emb.weight.copy_(lib.tensor(_rand(5, 4, seed=4, scale=2.0).astype(np.float32)))
    out = emb(lib.tensor([[0, 2], [2, 2]]))
    out.sum().backward()
    return {"out": out, "w": emb.weight, "norms": emb.weight.norm(dim=1), "g": emb.weight.grad}


@program
def emb_weight_tying_lm(lib):
    nn = lib.nn
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(9, 6, padding_idx=0)
            self.rnn = nn.GRU(6, 6, batch_first=True)
            self.head = nn.Linear(6, 9, bias=False)
            self.head.weight = self.tok.weight
        def forward(self, x):
            o, _ = self.rnn(self.tok(x))
            return self.head(o)
    m = LM().double()
    _load(lib, m, 5)
    x = lib.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    logits = m(x)
    loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 9), x[:, 1:].reshape(-1), ignore_index=0)
    loss.backward()
    opt = lib.optim.SGD(m.parameters(), lr=0.5)
    opt.step()
    return {"loss": loss, "n": len(list(m.parameters())), "keys": list(m.state_dict()),
            "named": [n for n, _ in m.named_parameters()],
            "named_dup": [n for n, _ in m.named_parameters(remove_duplicate=False)],
            "w": m.tok.weight, "g": m.tok.weight.grad, "tied": m.head.weight is m.tok.weight}


# ----------------------------------------------------------------------------------------------
# packing
# ----------------------------------------------------------------------------------------------
@program
def pack_lengths_kinds(lib):
    R = lib.nn.utils.rnn
    x = lib.tensor(_rand(4, 3, 2, seed=6))
    res = {}
    for name, lengths in (("list", [4, 2, 1]), ("np", np.array([4, 2, 1])),
                          ("int32", lib.tensor([4, 2, 1], dtype=lib.int32)),
                          ("float", lib.tensor([4.0, 2.0, 1.0])), ("tuple", (4, 2, 1))):
        p = R.pack_padded_sequence(x, lengths)
        res[name] = p.data
        res[name + "_bs"] = p.batch_sizes
    return res


@program
def pad_packed_total_length_short(lib):
    R = lib.nn.utils.rnn
    p = R.pack_sequence([lib.ones(3, 2), lib.ones(2, 2)])
    return R.pad_packed_sequence(p, total_length=2)


@program
def pack_sequence_unsorted_enforced(lib):
    R = lib.nn.utils.rnn
    return R.pack_sequence([lib.ones(1, 2), lib.ones(3, 2)])


@program
def pad_sequence_mismatched_features(lib):
    R = lib.nn.utils.rnn
    return R.pad_sequence([lib.ones(3, 2), lib.ones(2, 3)])


@program
def pad_sequence_kinds(lib):
    R = lib.nn.utils.rnn
    seqs = [lib.tensor([1, 2, 3]), lib.tensor([4]), lib.tensor([5, 6])]
    res = {"tm": R.pad_sequence(seqs), "bf": R.pad_sequence(seqs, batch_first=True, padding_value=-100)}
    res["bf_float_pad"] = R.pad_sequence(seqs, True, 0.5)
    fl = [lib.tensor(_rand(2, 2, 3, seed=7)), lib.tensor(_rand(1, 2, 3, seed=8))]
    res["3d"] = R.pad_sequence(fl, batch_first=True)
    res["single"] = R.pad_sequence([lib.tensor([1.0, 2.0])])
    res["empty_seq"] = R.pad_sequence([lib.zeros(0, 2), lib.ones(2, 2)], batch_first=True)
    res["bool"] = R.pad_sequence([lib.tensor([True, False]), lib.tensor([True])], batch_first=True)
    return res


@program
def pad_sequence_tuple_and_zero_d(lib):
    R = lib.nn.utils.rnn
    return R.pad_sequence((lib.tensor(1.0), lib.tensor(2.0)))


def _rnn_packed(lib, kind, seed, **kw):
    nn, R = lib.nn, lib.nn.utils.rnn
    rnn = getattr(nn, kind)(3, 4, **kw).double()
    _load(lib, rnn, seed)
    bf = kw.get("batch_first", False)
    x = lib.tensor(_rand(3, 5, 3, seed=seed + 1) if bf else _rand(5, 3, 3, seed=seed + 1), requires_grad=True)
    lengths = lib.tensor([3, 5, 2])
    packed = R.pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False)
    return rnn, x, lengths, packed


@program
def lstm_packed_h0_unsorted_bidirectional_2layer(lib):
    R = lib.nn.utils.rnn
    rnn, x, lengths, packed = _rnn_packed(lib, "LSTM", 10, num_layers=2, bidirectional=True, batch_first=True)
    h0 = lib.tensor(_rand(4, 3, 4, seed=12), requires_grad=True)
    c0 = lib.tensor(_rand(4, 3, 4, seed=13), requires_grad=True)
    out, (h, c) = rnn(packed, (h0, c0))
    padded, lens = R.pad_packed_sequence(out, batch_first=True, padding_value=0.0)
    loss = padded.pow(2).sum() + h.sum() + (c * 0.5).sum()
    loss.backward()
    res = {"padded": padded, "lens": lens, "h": h, "c": c, "gx": x.grad, "gh0": h0.grad, "gc0": c0.grad}
    res.update(_grads(rnn))
    return res


@program
def gru_packed_h0_unsorted(lib):
    R = lib.nn.utils.rnn
    rnn, x, lengths, packed = _rnn_packed(lib, "GRU", 20, num_layers=2)
    h0 = lib.tensor(_rand(2, 3, 4, seed=22), requires_grad=True)
    out, h = rnn(packed, h0)
    padded, lens = R.pad_packed_sequence(out)
    (padded.sum() + h.pow(2).sum()).backward()
    return {"padded": padded, "h": h, "gx": x.grad, "gh0": h0.grad, "w": rnn.weight_hh_l1.grad}


@program
def rnn_relu_packed_bidirectional(lib):
    R = lib.nn.utils.rnn
    rnn, x, lengths, packed = _rnn_packed(lib, "RNN", 30, nonlinearity="relu", bidirectional=True)
    out, h = rnn(packed)
    padded, _ = R.pad_packed_sequence(out, total_length=6)
    (padded.sum() + h.sum()).backward()
    return {"padded": padded, "h": h, "gx": x.grad}


@program
def lstm_proj_packed(lib):
    R = lib.nn.utils.rnn
    rnn, x, lengths, packed = _rnn_packed(lib, "LSTM", 40, num_layers=2, bidirectional=True, proj_size=2)
    h0 = lib.tensor(_rand(4, 3, 2, seed=42))
    c0 = lib.tensor(_rand(4, 3, 4, seed=43))
    out, (h, c) = rnn(packed, (h0, c0))
    padded, _ = R.pad_packed_sequence(out)
    (padded.sum() + h.sum() + c.sum()).backward()
    res = {"padded": padded, "h": h, "c": c, "gx": x.grad, "names": [n for n, _ in rnn.named_parameters()]}
    res.update(_grads(rnn))
    return res


@program
def lstm_proj_bad_h0(lib):
    rnn = lib.nn.LSTM(3, 4, proj_size=2)
    return rnn(lib.zeros(5, 2, 3), (lib.zeros(1, 2, 4), lib.zeros(1, 2, 4)))


@program
def lstm_proj_too_big(lib):
    return lib.nn.LSTM(3, 4, proj_size=4)


@program
def rnn_unbatched(lib):
    res = {}
    for kind in ("RNN", "GRU", "LSTM"):
        rnn = getattr(lib.nn, kind)(3, 2, num_layers=2).double()
        _load(lib, rnn, 50)
        x = lib.tensor(_rand(4, 3, seed=51))
        if kind == "LSTM":
            out, (h, c) = rnn(x, (lib.zeros(2, 2, dtype=lib.float64), lib.ones(2, 2, dtype=lib.float64)))
            res[kind + "_c"] = c
        else:
            out, h = rnn(x, lib.ones(2, 2, dtype=lib.float64))
        res[kind] = out
        res[kind + "_h"] = h
    return res


@program
def rnn_unbatched_h0_3d(lib):
    rnn = lib.nn.GRU(3, 2)
    return rnn(lib.zeros(4, 3), lib.zeros(1, 1, 2))


@program
def rnn_dtype_mismatch(lib):
    rnn = lib.nn.LSTM(3, 2).double()
    return rnn(lib.zeros(4, 1, 3))


@program
def rnn_int_input(lib):
    rnn = lib.nn.GRU(3, 2)
    return rnn(lib.zeros(4, 1, 3, dtype=lib.long))


@program
def rnn_h0_wrong_batch(lib):
    rnn = lib.nn.GRU(3, 2, batch_first=True)
    return rnn(lib.zeros(4, 5, 3), lib.zeros(1, 5, 2))


@program
def rnn_empty_batch(lib):
    rnn = lib.nn.LSTM(3, 2)
    out, (h, c) = rnn(lib.zeros(4, 0, 3))
    return {"out": out, "h": h}


@program
def rnn_noncontiguous_input(lib):
    rnn = lib.nn.GRU(3, 2, batch_first=True).double()
    _load(lib, rnn, 60)
    x = lib.tensor(_rand(5, 2, 3, seed=61)).transpose(0, 1)
    out, h = rnn(x)
    return {"out": out, "h": h}


@program
def packed_sequence_rnn_bad_dtype_lengths(lib):
    R = lib.nn.utils.rnn
    return R.pack_padded_sequence(lib.zeros(3, 2, 1), lib.tensor([[3], [2]]))


# ----------------------------------------------------------------------------------------------
# masks and masked softmax
# ----------------------------------------------------------------------------------------------
@program
def length_mask_softmax(lib):
    lengths = lib.tensor([3, 1, 4])
    T = int(lengths.max())
    mask = lib.arange(T)[None, :] < lengths[:, None]
    scores = lib.tensor(_rand(3, 4, seed=70), requires_grad=True)
    s = scores.masked_fill(~mask, float("-inf"))
    p = lib.softmax(s, dim=-1)
    (p * lib.arange(4.0, dtype=lib.float64)).sum().backward()
    m2 = lib.arange(T).expand(len(lengths), T) >= lengths.unsqueeze(1)
    fin = scores.masked_fill(m2, lib.finfo(scores.dtype).min).softmax(-1)
    return {"mask": mask, "p": p, "g": scores.grad, "m2": m2, "fin": fin, "mask_dtype": mask.dtype}


@program
def fully_masked_row_nan(lib):
    scores = lib.tensor(_rand(2, 3, seed=71), requires_grad=True)
    mask = lib.tensor([[True, True, True], [False, True, False]])
    p = scores.masked_fill(mask, float("-inf")).softmax(-1)
    p.sum().backward()
    lp = lib.log_softmax(scores.detach().masked_fill(mask, float("-inf")), -1)
    return {"p": p, "g": scores.grad, "lp": lp, "nan_to_num": p.nan_to_num(0.0)}


@program
def masked_fill_long_mask(lib):
    return lib.zeros(2, 3).masked_fill(lib.tensor([[1, 0, 1], [0, 0, 1]]), 1.0)


@program
def masked_fill_value_tensor_1d(lib):
    return lib.zeros(2, 3).masked_fill(lib.tensor([[True, False, True]]), lib.tensor([1.0, 2.0, 3.0]))


@program
def masked_fill_inplace_broadcast_self(lib):
    return lib.zeros(1, 3).masked_fill_(lib.ones(2, 3, dtype=lib.bool), 1.0)


@program
def masked_fill_mask_shape(lib):
    return lib.zeros(2, 3).masked_fill(lib.ones(2, 4, dtype=lib.bool), 1.0)


@program
def masked_fill_value_tensor_0d_grad(lib):
    x = lib.tensor(_rand(2, 3, seed=72), requires_grad=True)
    v = lib.tensor(0.5, dtype=lib.float64, requires_grad=True)
    y = x.masked_fill(x > 0, v)
    (y * y).sum().backward()
    return {"y": y, "gx": x.grad, "gv": v.grad}


@program
def masked_fill_int_tensor_float_value(lib):
    t = lib.tensor([[1, 2, 3]])
    return {"a": t.masked_fill(t > 1, 0.7), "b": t.masked_fill(t > 1, lib.tensor(2))}


@program
def causal_masks(lib):
    T = 4
    res = {"triu_bool": lib.triu(lib.ones(T, T), diagonal=1).bool(),
           "full_triu": lib.full((T, T), float("-inf")).triu(1),
           "tril": lib.tril(lib.ones(T, T, dtype=lib.bool)),
           "sq": lib.nn.Transformer.generate_square_subsequent_mask(T),
           "sq64": lib.nn.Transformer.generate_square_subsequent_mask(3, dtype=lib.float64),
           "ones_triu": (lib.triu(lib.ones(T, T)) == 1).transpose(0, 1).float()
           .masked_fill(lib.triu(lib.ones(T, T)).t() == 0, float("-inf")).masked_fill(
               lib.triu(lib.ones(T, T)).t() == 1, 0.0)}
    return res


# ----------------------------------------------------------------------------------------------
# multi-head attention
# ----------------------------------------------------------------------------------------------
def _mha(lib, seed=80, **kw):
    m = lib.nn.MultiheadAttention(8, 2, **kw).double()
    return _load(lib, m, seed)


def _qkv(lib, B=2, L=3, S=4, E=8, batch_first=False, seed=81):
    shp = (lambda n: (B, n, E)) if batch_first else (lambda n: (n, B, E))
    q = lib.tensor(_rand(*shp(L), seed=seed), requires_grad=True)
    k = lib.tensor(_rand(*shp(S), seed=seed + 1), requires_grad=True)
    v = lib.tensor(_rand(*shp(S), seed=seed + 2), requires_grad=True)
    return q, k, v


@program
def mha_bool_key_padding_and_attn_mask(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib)
    kpm = lib.tensor([[False, False, True, True], [False, False, False, False]])
    am = lib.tensor([[False, True, False, False], [False, False, False, True], [False, False, False, False]])
    out, w = m(q, k, v, key_padding_mask=kpm, attn_mask=am)
    out.sum().backward()
    res = {"out": out, "w": w, "gq": q.grad, "gk": k.grad}
    res.update(_grads(m))
    return res


@program
def mha_float_masks_per_head(lib):
    m = _mha(lib, batch_first=True)
    q, k, v = _qkv(lib, batch_first=True)
    kpm = lib.tensor([[0.0, 0.0, -1e9, 0.5], [0.0, -1.0, 0.0, 0.0]], dtype=lib.float64)
    am = lib.tensor(_rand(4, 3, 4, seed=85), dtype=lib.float64)
    out, w = m(q, k, v, key_padding_mask=kpm, attn_mask=am, average_attn_weights=False)
    out.pow(2).sum().backward()
    return {"out": out, "w": w, "gv": v.grad, "gin": m.in_proj_weight.grad}


@program
def mha_need_weights_false(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib)
    out, w = m(q, k, v, need_weights=False)
    return {"out": out, "w": w}


@program
def mha_mismatched_mask_types(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib)
    kpm = lib.tensor([[False, False, True, True], [False, False, False, False]])
    am = lib.zeros(3, 4, dtype=lib.float64)
    out, w = m(q, k, v, key_padding_mask=kpm, attn_mask=am)
    return {"out": out, "w": w}


@program
def mha_bad_attn_mask_shape(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib)
    return m(q, k, v, attn_mask=lib.zeros(4, 3, dtype=lib.bool))


@program
def mha_bad_3d_attn_mask_shape(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib)
    return m(q, k, v, attn_mask=lib.zeros(2, 3, 4, dtype=lib.bool))


@program
def mha_long_key_padding_mask(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib)
    return m(q, k, v, key_padding_mask=lib.zeros(2, 4, dtype=lib.long))


@program
def mha_bad_key_padding_shape(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib)
    return m(q, k, v, key_padding_mask=lib.zeros(2, 3, dtype=lib.bool))


@program
def mha_is_causal_without_mask(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib, S=3)
    return m(q, k, v, is_causal=True)


@program
def mha_is_causal_with_mask(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib, S=3, L=3)
    mask = lib.nn.Transformer.generate_square_subsequent_mask(3, dtype=lib.float64)
    out, w = m(q, k, v, attn_mask=mask, is_causal=True)
    out2, w2 = m(q, k, v, attn_mask=mask)
    return {"out": out, "w": w, "same": bool(lib.allclose(out, out2))}


@program
def mha_fully_masked_row(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib)
    kpm = lib.tensor([[True, True, True, True], [False, False, True, False]])
    out, w = m(q, k, v, key_padding_mask=kpm)
    return {"out": out, "w": w}


@program
def mha_kdim_vdim_bias_kv_zero_attn(lib):
    m = lib.nn.MultiheadAttention(8, 2, kdim=5, vdim=6, add_bias_kv=True, add_zero_attn=True).double()
    _load(lib, m, 86)
    q = lib.tensor(_rand(3, 2, 8, seed=87), requires_grad=True)
    k = lib.tensor(_rand(4, 2, 5, seed=88))
    v = lib.tensor(_rand(4, 2, 6, seed=89))
    kpm = lib.tensor([[False, False, False, True], [False, False, False, False]])
    out, w = m(q, k, v, key_padding_mask=kpm)
    out.sum().backward()
    res = {"out": out, "w": w, "gq": q.grad, "keys": list(m.state_dict())}
    res.update(_grads(m))
    return res


@program
def mha_unbatched(lib):
    m = _mha(lib, bias=False)
    q = lib.tensor(_rand(3, 8, seed=90))
    k = lib.tensor(_rand(4, 8, seed=91))
    out, w = m(q, k, k, key_padding_mask=lib.tensor([False, False, True, False]),
               attn_mask=lib.tensor(_rand(3, 4, seed=92)), average_attn_weights=False)
    return {"out": out, "w": w}


@program
def mha_embed_dim_not_divisible(lib):
    return lib.nn.MultiheadAttention(10, 3)


@program
def mha_float32_attn_mask_on_double(lib):
    m = _mha(lib)
    q, k, v = _qkv(lib)
    return m(q, k, v, attn_mask=lib.zeros(3, 4))



# ----------------------------------------------------------------------------------------------
# transformer stacks with padding and causal masks
# ----------------------------------------------------------------------------------------------
def _encoder(lib, seed=100, layers=2, **kw):
    layer = lib.nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = lib.nn.TransformerEncoder(layer, layers, norm=lib.nn.LayerNorm(8),
                                        enable_nested_tensor=False).double()
    return _load(lib, enc, seed)


@program
def encoder_causal_and_padding(lib):
    enc = _encoder(lib, batch_first=True, norm_first=True)
    x = lib.tensor(_rand(2, 5, 8, seed=101), requires_grad=True)
    causal = lib.nn.Transformer.generate_square_subsequent_mask(5, dtype=lib.float64)
    pad = lib.tensor([[False] * 5, [False, False, False, True, True]])
    y = enc(x, mask=causal, src_key_padding_mask=pad, is_causal=True)
    y2 = enc(x, mask=causal, src_key_padding_mask=pad)
    (y * lib.arange(8.0, dtype=lib.float64)).sum().backward()
    res = {"y": y, "same": bool(lib.allclose(y, y2)), "gx": x.grad}
    res.update(_grads(enc))
    return res


@program
def encoder_float_padding_mask(lib):
    enc = _encoder(lib, 102, layers=1, activation="gelu")
    x = lib.tensor(_rand(4, 2, 8, seed=103))
    pad = lib.tensor([[0.0, 0.0, -math.inf, -math.inf], [0.0, 0.0, 0.0, 0.0]], dtype=lib.float64)
    return {"y": enc(x, src_key_padding_mask=pad)}


@program
def encoder_bad_padding_shape(lib):
    enc = _encoder(lib, layers=1, batch_first=True)
    return enc(lib.zeros(2, 5, 8, dtype=lib.float64), src_key_padding_mask=lib.zeros(2, 4, dtype=lib.bool))


@program
def encoder_is_causal_without_mask(lib):
    enc = _encoder(lib, layers=1)
    return enc(lib.zeros(3, 2, 8, dtype=lib.float64), is_causal=True)


@program
def decoder_tgt_causal_memory_padding(lib):
    layer = lib.nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, dropout=0.0, batch_first=True)
    dec = _load(lib, lib.nn.TransformerDecoder(layer, 2, norm=lib.nn.LayerNorm(8)).double(), 104)
    tgt = lib.tensor(_rand(2, 3, 8, seed=105), requires_grad=True)
    mem = lib.tensor(_rand(2, 4, 8, seed=106), requires_grad=True)
    tmask = lib.nn.Transformer.generate_square_subsequent_mask(3, dtype=lib.float64)
    mpad = lib.tensor([[False, False, True, True], [False, False, False, False]])
    tpad = lib.tensor([[False, False, False], [False, False, True]])
    y = dec(tgt, mem, tgt_mask=tmask, tgt_key_padding_mask=tpad, memory_key_padding_mask=mpad,
            tgt_is_causal=True)
    y.pow(2).mean().backward()
    return {"y": y, "gt": tgt.grad, "gm": mem.grad,
            "g": dec.layers[1].multihead_attn.in_proj_weight.grad}


@program
def transformer_model_masks(lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = lib.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=10, dropout=0.0).double()
    _load(lib, m, 107)
    src = lib.tensor(_rand(5, 2, 8, seed=108))
    tgt = lib.tensor(_rand(3, 2, 8, seed=109))
    tmask = m.generate_square_subsequent_mask(3, dtype=lib.float64)
    spad = lib.tensor([[False, False, False, True, True], [False] * 5])
    out = m(src, tgt, tgt_mask=tmask, src_key_padding_mask=spad, memory_key_padding_mask=spad,
            tgt_is_causal=True)
    return {"out": out}


@program
def transformer_batch_mismatch(lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = lib.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=10, dropout=0.0)
    return m(lib.zeros(5, 2, 8), lib.zeros(3, 3, 8))


@program
def transformer_dmodel_mismatch(lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = lib.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=10, dropout=0.0)
    return m(lib.zeros(5, 2, 8), lib.zeros(3, 2, 6))


# ----------------------------------------------------------------------------------------------
# losses: CTC and label smoothing
# ----------------------------------------------------------------------------------------------
@program
def ctc_mean_int32_lengths(lib):
    T, N, C = 8, 3, 6
    logits = lib.tensor(_rand(T, N, C, seed=110), requires_grad=True)
    lp = logits.log_softmax(2)
    targets = lib.tensor([[1, 2, 2, 3], [4, 4, 0, 0], [5, 1, 2, 0]], dtype=lib.int32)
    il = lib.tensor([8, 7, 6], dtype=lib.int32)
    tl = lib.tensor([4, 2, 3], dtype=lib.int32)
    loss = lib.nn.functional.ctc_loss(lp, targets, il, tl)
    loss.backward()
    return {"loss": loss, "g": logits.grad}


@program
def ctc_blank_last_and_empty_target(lib):
    T, N, C = 5, 2, 4
    logits = lib.tensor(_rand(T, N, C, seed=111), requires_grad=True)
    lp = logits.log_softmax(-1)
    targets = lib.tensor([0, 1, 2])                       # concatenated, blank is C-1
    il, tl = lib.tensor([5, 4]), lib.tensor([3, 0])
    crit = lib.nn.CTCLoss(blank=C - 1, reduction="none")
    loss = crit(lp, targets, il, tl)
    loss.sum().backward()
    return {"loss": loss, "g": logits.grad}


@program
def ctc_float32_unbatched(lib):
    lp = lib.tensor(_rand(6, 5, seed=112).astype(np.float32), requires_grad=True)
    loss = lib.nn.CTCLoss(reduction="sum")(lp.log_softmax(-1), lib.tensor([1, 3, 3]),
                                             lib.tensor(6), lib.tensor(3))
    loss.backward()
    return {"loss": loss, "g": lp.grad}


@program
def ctc_impossible_zero_infinity(lib):
    lp = lib.tensor(_rand(3, 2, 4, seed=113), requires_grad=True)
    tgt = lib.tensor([[1, 1, 1], [2, 3, 0]])                 # repeats need blanks: 5 frames
    res = {}
    for zi in (False, True):
        loss = lib.nn.functional.ctc_loss(lp.log_softmax(-1), tgt, [3, 3], [3, 2], reduction="none",
                                          zero_infinity=zi)
        g, = lib.autograd.grad(loss.sum(), lp) if zi else (None,)
        res[f"loss{zi}"] = loss
        if zi:
            res["g"] = g
    return res


@program
def ctc_input_length_too_long(lib):
    lp = lib.zeros(3, 1, 4).log_softmax(-1)
    return lib.nn.functional.ctc_loss(lp, lib.tensor([[1]]), [4], [1])


@program
def ctc_float_lengths(lib):
    lp = lib.zeros(3, 1, 4).log_softmax(-1)
    return lib.nn.functional.ctc_loss(lp, lib.tensor([[1]]), lib.tensor([3.0]), lib.tensor([1.0]))


@program
def label_smoothing_ignore_index(lib):
    rng = np.random.RandomState(114)
    logits = lib.tensor(rng.randn(6, 5), requires_grad=True)
    y = lib.tensor([0, 4, -100, 2, -100, 1])
    w = lib.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=lib.float64)
    res = {}
    for red in ("mean", "sum", "none"):
        res[red] = lib.nn.functional.cross_entropy(logits, y, label_smoothing=0.1, reduction=red)
        res[red + "_w"] = lib.nn.CrossEntropyLoss(weight=w, label_smoothing=0.2, reduction=red)(logits, y)
    (res["mean"] + res["mean_w"]).backward()
    res["g"] = logits.grad
    return res


@program
def label_smoothing_seq_dim(lib):
    logits = lib.tensor(_rand(2, 5, 4, seed=115), requires_grad=True)     # (N, C, T)
    y = lib.tensor([[1, 2, 0, 0], [3, 4, 4, 0]])
    loss = lib.nn.functional.cross_entropy(logits, y, ignore_index=0, label_smoothing=0.15)
    loss.backward()
    return {"loss": loss, "g": logits.grad}


@program
def label_smoothing_all_ignored(lib):
    logits = lib.tensor(_rand(3, 4, seed=116), requires_grad=True)
    loss = lib.nn.functional.cross_entropy(logits, lib.tensor([0, 0, 0]), ignore_index=0, label_smoothing=0.1)
    loss.backward()
    return {"loss": loss, "g": logits.grad}


@program
def label_smoothing_prob_targets(lib):
    logits = lib.tensor(_rand(3, 4, seed=117), requires_grad=True)
    tgt = lib.tensor(_rand(3, 4, seed=118)).softmax(-1)
    loss = lib.nn.functional.cross_entropy(logits, tgt, label_smoothing=0.25,
                                           weight=lib.tensor([1.0, 0.5, 2.0, 1.0], dtype=lib.float64))
    loss.backward()
    return {"loss": loss, "g": logits.grad}


@program
def label_smoothing_out_of_range(lib):
    return lib.nn.functional.cross_entropy(lib.zeros(2, 3), lib.tensor([0, 1]), label_smoothing=1.5)


@program
def cross_entropy_target_out_of_range(lib):
    return lib.nn.functional.cross_entropy(lib.zeros(2, 3), lib.tensor([0, 3]))


@program
def cross_entropy_int32_target(lib):
    return lib.nn.functional.cross_entropy(lib.zeros(2, 3), lib.tensor([0, 1], dtype=lib.int32))


@program
def cross_entropy_seq_wrong_layout(lib):
    # (N, T, C) logits given where (N, C, T) is expected
    return lib.nn.functional.cross_entropy(lib.zeros(2, 4, 5), lib.zeros(2, 4, dtype=lib.long))


@program
def nll_ignore_index_negative_other(lib):
    lp = lib.tensor(_rand(4, 3, seed=119)).log_softmax(-1)
    return lib.nn.functional.nll_loss(lp, lib.tensor([0, -1, 2, 1]), ignore_index=-1, reduction="sum")


# ----------------------------------------------------------------------------------------------
# decoding: greedy, beam search, sampling filters
# ----------------------------------------------------------------------------------------------
def _decoder(lib, seed=120, V=7, H=5):
    emb = _load(lib, lib.nn.Embedding(V, 4).double(), seed)
    cell = _load(lib, lib.nn.GRUCell(4, H).double(), seed + 1)
    head = _load(lib, lib.nn.Linear(H, V).double(), seed + 2, scale=1.0)
    return emb, cell, head


@program
def greedy_decode_with_eos(lib):
    emb, cell, head = _decoder(lib)
    B, EOS = 3, 2
    h = lib.tensor(_rand(B, 5, seed=123))
    tok = lib.zeros(B, dtype=lib.long)
    finished = lib.zeros(B, dtype=lib.bool)
    out, scores = [], []
    with lib.no_grad():
        for _ in range(6):
            h = cell(emb(tok), h)
            logp = head(h).log_softmax(-1)
            best, tok = logp.max(-1)
            tok = tok.masked_fill(finished, 0)
            scores.append(best.masked_fill(finished, 0.0))
            out.append(tok)
            finished |= tok == EOS
            if bool(finished.all()):
                break
    seq = lib.stack(out, 1)
    lengths = (seq != 0).sum(1)
    return {"seq": seq, "score": lib.stack(scores, 1).sum(1), "lengths": lengths, "fin": finished}


@program
def beam_search(lib):
    emb, cell, head = _decoder(lib, 130, V=6)
    K, V, EOS = 3, 6, 5
    h = lib.tensor(_rand(1, 5, seed=133)).expand(K, 5).contiguous()
    scores = lib.tensor([0.0] + [-math.inf] * (K - 1), dtype=lib.float64)
    tokens = lib.zeros(K, 1, dtype=lib.long)
    with lib.no_grad():
        for step in range(4):
            h = cell(emb(tokens[:, -1]), h)
            logp = head(h).log_softmax(-1)
            cand = (scores.unsqueeze(1) + logp).view(-1)
            top, idx = cand.topk(K, largest=True, sorted=True)
            beam = lib.div(idx, V, rounding_mode="floor")
            word = idx % V
            tokens = lib.cat([tokens.index_select(0, beam), word.unsqueeze(1)], 1)
            h = h.index_select(0, beam)
            scores = top
    lengths = lib.tensor([tokens.size(1) - 1] * K, dtype=lib.float64)
    norm = scores / lengths ** 0.7
    best = norm.argmax()
    return {"tokens": tokens, "scores": scores, "norm": norm, "best": best,
            "best_seq": tokens[best]}


@program
def batched_beam_gather(lib):
    # batch x beam search state reordering with gather on flattened (B*K) rows
    B, K, V = 2, 3, 5
    logp = lib.tensor(_rand(B, K, V, seed=134)).log_softmax(-1)
    prev = lib.tensor([[0.0, -1.0, -2.0], [-0.5, -0.7, -3.0]], dtype=lib.float64)
    total = (prev.unsqueeze(-1) + logp).view(B, K * V)
    top, idx = total.topk(K, dim=1)
    origin = idx // V
    word = idx % V
    flat = (origin + lib.arange(B).unsqueeze(1) * K).view(-1)
    hist = lib.arange(B * K * 2).view(B * K, 2)
    hist = lib.cat([hist[flat], word.view(-1, 1)], 1)
    onehot = lib.zeros(B, K, V).scatter_(2, word.unsqueeze(-1), 1.0)
    return {"top": top, "origin": origin, "word": word, "hist": hist, "onehot": onehot,
            "g": total.gather(1, idx)}


@program
def top_k_top_p_filtering(lib):
    logits = lib.tensor(_rand(2, 8, seed=135), requires_grad=True)
    k, p = 4, 0.8
    # keep the k best, then the smallest prefix of the rest whose mass reaches p
    floor = logits.topk(k, dim=-1).values[..., -1, None]
    f = logits.masked_fill(logits < floor, float("-inf"))
    ranked, sorted_idx = lib.sort(f, descending=True, dim=-1)
    past = ranked.softmax(-1).cumsum(-1) > p
    past[..., 1:] = past[..., :-1].clone()                  # the token crossing p stays
    past[..., 0] = False
    remove_orig = past.scatter(1, sorted_idx, past)
    f = f.masked_fill(remove_orig, -math.inf)
    probs = f.softmax(-1)
    probs.pow(2).sum().backward()
    return {"probs": probs, "remove": remove_orig, "g": logits.grad, "idx": sorted_idx}


@program
def repetition_penalty(lib):
    logits = lib.tensor(_rand(2, 6, seed=136))
    prev = lib.tensor([[1, 1, 3], [0, 5, 5]])
    score = lib.gather(logits, 1, prev)
    score = lib.where(score < 0, score * 1.3, score / 1.3)
    out = logits.scatter(1, prev, score)
    return {"out": out, "argmax": out.argmax(-1), "max": out.max(dim=-1)}


@program
def topk_errors(lib):
    return lib.tensor([[1.0, 2.0]]).topk(3, dim=1)


@program
def gather_index_wrong_dtype(lib):
    return lib.zeros(2, 3).gather(1, lib.tensor([[0], [1]], dtype=lib.int32))


@program
def index_select_float_index(lib):
    return lib.zeros(2, 3).index_select(0, lib.tensor([0.0]))



@program
def ctc_bad_lengths(lib):
    lp = lib.zeros(3, 2, 4).log_softmax(-1)
    F, tg = lib.nn.functional, lib.tensor([[1], [1]])
    return {"neg_second": _err(lambda: F.ctc_loss(lp, tg, [3, -1], [1, 1])),
            "float_targets_len": _err(lambda: F.ctc_loss(lp, tg, lib.tensor([3, 3]), lib.tensor([1.0, 1.0]))),
            "n_inputs": _err(lambda: F.ctc_loss(lp, tg, [3], [1, 1])),
            "n_targets": _err(lambda: F.ctc_loss(lp, tg, [3, 3], [1])),
            "half": _err(lambda: F.ctc_loss(lp.half(), tg, [3, 3], [1, 1])),
            "long": _err(lambda: F.ctc_loss(lp.long(), tg, [3, 3], [1, 1])),
            "unbatched_two_lengths": _err(lambda: F.ctc_loss(lp[:, 0], lib.tensor([1]), [3, 3], [1, 1])),
            "unbatched_0d": F.ctc_loss(lp[:, 0], lib.tensor([1]), lib.tensor(3), lib.tensor(1))}


@program
def ctc_greedy_decode(lib):
    lp = lib.tensor(_rand(9, 2, 5, seed=140)).log_softmax(-1)
    lengths = lib.tensor([9, 6])
    best = lp.argmax(-1).t()                              # (N, T)
    keep = lib.ones_like(best, dtype=lib.bool)
    keep[:, 1:] = best[:, 1:] != best[:, :-1]
    keep &= best != 0
    keep &= lib.arange(best.size(1)).unsqueeze(0) < lengths.unsqueeze(1)
    out = [best[b][keep[b]] for b in range(best.size(0))]
    u, counts = lib.unique_consecutive(best[0], return_counts=True)
    return {"keep": keep, "out0": out[0], "out1": out[1], "u": u, "counts": counts,
            "padded": lib.nn.utils.rnn.pad_sequence(out, batch_first=True, padding_value=-1)}



# ----------------------------------------------------------------------------------------------
# teacher forcing, positional encodings, character-level models
# ----------------------------------------------------------------------------------------------
@program
def teacher_forcing_seq2seq(lib):
    nn, F = lib.nn, lib.nn.functional
    V, E, H = 8, 4, 5
    enc_emb = _load(lib, nn.Embedding(V, E, padding_idx=0).double(), 150)
    encoder = _load(lib, nn.LSTM(E, H, batch_first=True).double(), 151)
    dec_emb = _load(lib, nn.Embedding(V, E, padding_idx=0).double(), 152)
    cell = _load(lib, nn.LSTMCell(E + H, H).double(), 153)
    out = _load(lib, nn.Linear(H, V).double(), 154)
    params = [p for m in (enc_emb, encoder, dec_emb, cell, out) for p in m.parameters()]
    opt = lib.optim.Adam(params, lr=0.02)
    src = lib.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    tgt = lib.tensor([[1, 5, 6, 2], [1, 7, 2, 0]])
    force = [True, False, True]                      # the coin flips, fixed
    res = {}
    for it in range(2):
        opt.zero_grad()
        lengths = (src != 0).sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(enc_emb(src), lengths, batch_first=True)
        enc_out, (h, c) = encoder(packed)
        enc_out, _ = nn.utils.rnn.pad_packed_sequence(enc_out, batch_first=True)
        h, c = h[0], c[0]
        ctx = enc_out.sum(1) / lengths.unsqueeze(1)
        inp = tgt[:, 0]
        logits = []
        for t in range(1, tgt.size(1)):
            h, c = cell(lib.cat([dec_emb(inp), ctx], -1), (h, c))
            step = out(h)
            logits.append(step)
            inp = tgt[:, t] if force[t - 1] else step.argmax(-1)
        logits = lib.stack(logits, 1)
        loss = F.cross_entropy(logits.reshape(-1, V), tgt[:, 1:].reshape(-1), ignore_index=0,
                               label_smoothing=0.1)
        loss.backward()
        res[f"norm{it}"] = nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        res[f"loss{it}"] = loss
    res["w"] = cell.weight_hh
    res["emb_pad"] = dec_emb.weight[0]
    return res


class _SinCos:
    """A fixed sinusoid position table (sin in even columns, cos in odd ones) kept as a buffer,
    time-major, with the sqrt(d) scale of the embeddings as a non-persistent buffer."""
    @staticmethod
    def make(lib, d_model=6, max_len=10):
        class SinusoidPositions(lib.nn.Module):
            def __init__(self):
                super().__init__()
                steps = lib.arange(max_len).unsqueeze(1)                       # (max_len, 1)
                rates = lib.exp(-math.log(10000.0) * lib.arange(0, d_model, 2) / d_model)
                table = lib.zeros(max_len, 1, d_model)
                table[:, 0, 0::2] = lib.sin(steps * rates)
                table[:, 0, 1::2] = lib.cos(steps * rates)
                self.register_buffer("pe", table)
                self.register_buffer("scale", lib.tensor(math.sqrt(d_model)), persistent=False)

            def forward(self, x):
                return self.pe[:x.size(0)] + self.scale * x
        return SinusoidPositions()


@program
def sincos_positional_buffer(lib):
    pe = _SinCos.make(lib)
    x = lib.tensor(_rand(4, 2, 6, seed=160).astype(np.float32), requires_grad=True)
    y = pe(x)
    y.sum().backward()
    pe64 = _SinCos.make(lib).double()
    res = {"y": y, "g": x.grad, "keys": list(pe.state_dict()), "bufs": [n for n, _ in pe.named_buffers()],
           "pe_dtype": pe.pe.dtype, "pe64": pe64.pe.dtype, "scale64": pe64.scale,
           "rg": pe.pe.requires_grad, "nparams": len(list(pe.parameters()))}
    return res


@program
def sincos_odd_d_model(lib):
    # the classic bug: an odd width leaves one column fewer for cos than the sin values
    width, rows = 5, 3
    angles = lib.arange(rows).unsqueeze(1) * lib.exp(
        -math.log(10000.0) * lib.arange(0, width, 2) / width)
    table = lib.zeros(rows, width)
    table[:, 0::2] = lib.sin(angles)
    table[:, 1::2] = lib.cos(angles)
    return table


@program
def sincos_too_long(lib):
    pe = _SinCos.make(lib, max_len=3)
    return pe(lib.zeros(5, 2, 6))


@program
def learned_positions_and_rope_like(lib):
    B, T, D = 2, 5, 4
    pos_emb = _load(lib, lib.nn.Embedding(8, D).double(), 161)
    tok = _load(lib, lib.nn.Embedding(10, D).double(), 162)
    ids = lib.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 0, 0]])
    positions = lib.arange(T, dtype=lib.long).unsqueeze(0).expand_as(ids)
    real = ids.ne(0).int()
    count = lib.cumsum(real, dim=1).type_as(real)        # 1, 2, 3, ... along each row
    pos_ids = (count * real).long()                       # positions from 1, padding at 0
    x = tok(ids) + pos_emb(positions) + pos_emb(pos_ids)
    inv = 1.0 / (10000 ** (lib.arange(0, D, 2).double() / D))
    freqs = lib.outer(lib.arange(T).double(), inv)
    cos, sin = freqs.cos().repeat_interleave(2, -1), freqs.sin().repeat_interleave(2, -1)
    x1, x2 = x[..., ::2], x[..., 1::2]
    rot = lib.stack((-x2, x1), -1).flatten(-2)
    y = x * cos + rot * sin
    y.pow(2).sum().backward()
    return {"y": y, "pos_ids": pos_ids, "g_pos": pos_emb.weight.grad, "g_tok": tok.weight.grad,
            "pos_dtype": pos_ids.dtype}


@program
def char_rnn_training(lib):
    text = "hello world, hello sequence"
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = lib.tensor([stoi[c] for c in text], dtype=lib.long)
    V = len(chars)
    nn = lib.nn
    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, 6)
            self.rnn = nn.LSTM(6, 8, num_layers=2, batch_first=True)
            self.fc = nn.Linear(8, V)
        def forward(self, x, state=None):
            o, state = self.rnn(self.emb(x), state)
            return self.fc(o), state
    m = _load(lib, CharRNN().double(), 163)
    opt = lib.optim.RMSprop(m.parameters(), lr=0.01)
    seq = 6
    starts = [0, 7, 14]
    x = lib.stack([data[s:s + seq] for s in starts])
    y = lib.stack([data[s + 1:s + 1 + seq] for s in starts])
    res = {"x": x}
    for it in range(3):
        opt.zero_grad()
        logits, _ = m(x)
        loss = nn.functional.cross_entropy(logits.transpose(1, 2), y)
        loss.backward()
        opt.step()
        res[f"loss{it}"] = loss
    with lib.no_grad():
        tok = data[:1].view(1, 1)
        state = None
        out = []
        for _ in range(5):
            logits, state = m(tok, state)
            tok = logits[:, -1].argmax(-1, keepdim=True)
            out.append(int(tok))
    res["gen"] = out
    res["state_h"] = state[0]
    return res


@program
def one_hot_char_inputs(lib):
    idx = lib.tensor([[0, 3, 1], [2, 2, 4]])
    oh = lib.nn.functional.one_hot(idx, 5)
    rnn = _load(lib, lib.nn.RNN(5, 3, batch_first=True).double(), 164)
    out, h = rnn(oh.double())
    res = {"oh": oh, "out": out, "h": h, "oh_dtype": oh.dtype}
    res["oh_auto"] = lib.nn.functional.one_hot(idx)
    res["err_float"] = _err(lambda: rnn(oh))
    res["err_neg"] = _err(lambda: lib.nn.functional.one_hot(lib.tensor([-1, 2]), 5))
    res["err_small"] = _err(lambda: lib.nn.functional.one_hot(lib.tensor([7]), 5))
    return res


# ----------------------------------------------------------------------------------------------
# more recurrent-layer mistakes
# ----------------------------------------------------------------------------------------------
@program
def rnn_state_mistakes(lib):
    lstm = lib.nn.LSTM(3, 4, num_layers=2, batch_first=True)
    gru = lib.nn.GRU(3, 4, batch_first=True)
    x = lib.zeros(2, 5, 3)
    return {
        "h0_batch_first_layout": _err(lambda: gru(x, lib.zeros(2, 1, 4))),
        "lstm_h_only": _err(lambda: lstm(x, lib.zeros(2, 2, 4))),
        "lstm_c_wrong": _err(lambda: lstm(x, (lib.zeros(2, 2, 4), lib.zeros(2, 2, 3)))),
        "lstm_layers_wrong": _err(lambda: lstm(x, (lib.zeros(1, 2, 4), lib.zeros(1, 2, 4)))),
        "lstm_h0_2d": _err(lambda: lstm(x, (lib.zeros(2, 4), lib.zeros(2, 4)))),
        "gru_h0_double": _err(lambda: gru(x, lib.zeros(1, 2, 4, dtype=lib.float64))),
        "input_1d": _err(lambda: gru(lib.zeros(3))),
        "cell_batch": _err(lambda: lib.nn.GRUCell(3, 4)(lib.zeros(2, 3), lib.zeros(3, 4))),
        "cell_3d": _err(lambda: lib.nn.LSTMCell(3, 4)(lib.zeros(1, 2, 3))),
        "cell_feat": _err(lambda: lib.nn.RNNCell(3, 4)(lib.zeros(2, 5))),
        "bad_nonlin": _err(lambda: lib.nn.RNN(3, 4, nonlinearity="sigmoid")),
        "dropout_one_layer": [str(w.category.__name__) for w in _warns(lambda: lib.nn.GRU(3, 4, dropout=0.5))],
        "neg_hidden": _err(lambda: lib.nn.LSTM(3, 0)),
        "float_hidden": _err(lambda: lib.nn.LSTM(3, 4.0)),
        "zero_layers": _err(lambda: lib.nn.GRU(3, 4, num_layers=0)),
    }


def _warns(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return caught


@program
def lstm_dropout_eval_multilayer(lib):
    lstm = _load(lib, lib.nn.LSTM(3, 4, num_layers=3, dropout=0.3, bidirectional=True).double(), 170)
    lstm.eval()
    x = lib.tensor(_rand(4, 2, 3, seed=171))
    out, (h, c) = lstm(x)
    lstm.train()
    lib.manual_seed(0)
    out_t, _ = lstm(x)
    return {"out": out, "h": h, "c": c, "train_shape": out_t.shape,
            "train_differs": bool((out_t != out).any()), "flat": [n for n in lstm._flat_weights_names][:4]}


@program
def cells_unbatched_and_default_state(lib):
    res = {}
    for kind in ("RNNCell", "GRUCell", "LSTMCell"):
        cell = _load(lib, getattr(lib.nn, kind)(3, 2).double(), 172)
        x = lib.tensor(_rand(3, seed=173))
        out = cell(x)
        res[kind] = out
        res[kind + "_b"] = cell(x.unsqueeze(0))
    return res


@program
def packed_through_linear(lib):
    R = lib.nn.utils.rnn
    seqs = [lib.tensor(_rand(n, 3, seed=180 + n)) for n in (4, 2, 3)]
    packed = R.pack_sequence(seqs, enforce_sorted=False)
    lin = _load(lib, lib.nn.Linear(3, 2).double(), 185)
    mapped = R.PackedSequence(lin(packed.data), packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices)
    padded, lens = R.pad_packed_sequence(mapped, batch_first=True, padding_value=float("nan"))
    mean = lib.nan_to_num(padded).sum(1) / lens.unsqueeze(1)
    res = {"padded": padded, "lens": lens, "mean": mean, "len_dtype": lens.dtype,
           "fields": list(packed._fields), "err": _err(lambda: lin(packed)),
           "unpacked": R.unpack_sequence(mapped)}
    return res


@program
def sort_by_length_manually(lib):
    lengths = lib.tensor([2, 5, 3, 5])
    sorted_len, order = lengths.sort(descending=True, stable=True)
    inverse = order.argsort()
    x = lib.arange(20.0).view(4, 5, 1)
    packed = lib.nn.utils.rnn.pack_padded_sequence(x[order], sorted_len, batch_first=True)
    back, _ = lib.nn.utils.rnn.pad_packed_sequence(packed, batch_first=True)
    return {"order": order, "inverse": inverse, "back": back[inverse], "bs": packed.batch_sizes}


# ----------------------------------------------------------------------------------------------
# attention, embedding and packing odds and ends
# ----------------------------------------------------------------------------------------------


@program
def mha_nw_false_f32mask(lib):
    m = _load(lib, lib.nn.MultiheadAttention(8, 2).double(), 1)
    q = lib.tensor(_rand(3, 2, 8, seed=2))
    out, w = m(q, q, q, attn_mask=lib.zeros(3, 3), need_weights=False)
    return {"out": out}


@program
def mha_nw_false_kpm_and_mask(lib):
    m = _load(lib, lib.nn.MultiheadAttention(8, 2, batch_first=True).double(), 1)
    q = lib.tensor(_rand(2, 3, 8, seed=2))
    kpm = lib.tensor([[False, False, True], [False, False, False]])
    am = lib.tensor([[False, True, True], [False, False, True], [False, False, False]])
    out, w = m(q, q, q, attn_mask=am, key_padding_mask=kpm, need_weights=False)
    out2, w2 = m(q, q, q, attn_mask=am, key_padding_mask=kpm, need_weights=False, is_causal=True)
    return {"out": out, "out2": out2, "w": w}


@program
def mha_eval_fastpath_kpm(lib):
    m = _load(lib, lib.nn.MultiheadAttention(8, 2, batch_first=True).double(), 1)
    m.eval()
    q = lib.tensor(_rand(2, 3, 8, seed=2))
    kpm = lib.tensor([[False, False, True], [False, False, False]])
    with lib.no_grad():
        out, w = m(q, q, q, key_padding_mask=kpm)
        out2, w2 = m(q, q, q, key_padding_mask=kpm, need_weights=False)
    return {"out": out, "w": w, "out2": out2}


@program
def sdpa_masks(lib):
    F = lib.nn.functional
    q = lib.tensor(_rand(2, 2, 3, 4, seed=3), requires_grad=True)
    k = lib.tensor(_rand(2, 2, 5, 4, seed=4))
    v = lib.tensor(_rand(2, 2, 5, 4, seed=5))
    bm = lib.tensor([[True, True, True, False, False], [True] * 5]).view(2, 1, 1, 5)
    o1 = F.scaled_dot_product_attention(q, k, v, attn_mask=bm)
    fm = lib.zeros(2, 1, 1, 5, dtype=lib.float64).masked_fill(~bm, -math.inf)
    o2 = F.scaled_dot_product_attention(q, k, v, attn_mask=fm, scale=0.3)
    o3 = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    (o1.sum() + o2.sum() + o3.sum()).backward()
    return {"o1": o1, "o2": o2, "o3": o3, "g": q.grad}


@program
def sdpa_bad_mask_dtype(lib):
    q = lib.zeros(1, 1, 3, 4)
    return lib.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=lib.ones(3, 3, dtype=lib.long))


@program
def sdpa_mask_bad_shape(lib):
    q = lib.zeros(1, 1, 3, 4)
    return lib.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=lib.ones(3, 4, dtype=lib.bool))


@program
def emb_max_norm_noncontig(lib):
    emb = lib.nn.Embedding(5, 3, max_norm=1.0).double()
    _load(lib, emb, 3, scale=2.0)
    idx = lib.tensor([[0, 1], [2, 0], [4, 4]]).t()
    out = emb(idx)
    out.sum().backward()
    return {"out": out, "w": emb.weight, "g": emb.weight.grad}


@program
def emb_load_wrong_size(lib):
    emb = lib.nn.Embedding(5, 3)
    return emb.load_state_dict({"weight": lib.zeros(6, 3)})


@program
def emb_from_pretrained_freeze_opt(lib):
    w = lib.tensor(_rand(4, 3, seed=9))
    e = lib.nn.Embedding.from_pretrained(w)
    lin = lib.nn.Linear(3, 1).double()
    _load(lib, lin, 4)
    opt = lib.optim.SGD([p for p in list(e.parameters()) + list(lin.parameters()) if p.requires_grad], lr=0.1)
    loss = lin(e(lib.tensor([0, 3]))).sum()
    loss.backward()
    opt.step()
    return {"grad_none": e.weight.grad is None, "w": e.weight, "lw": lin.weight}


@program
def emb_float_weight_long(lib):
    return lib.nn.functional.embedding(lib.tensor([0, 1]), lib.tensor([[1, 2], [3, 4]]))


@program
def arange_mask_int_lengths(lib):
    lengths = lib.tensor([3, 1, 2], dtype=lib.int32)
    m = lib.arange(3, device=lengths.device)[None, :] < lengths[:, None]
    m2 = lib.arange(3).unsqueeze(0).lt(lengths.unsqueeze(1).float())
    m3 = (lib.arange(3).expand(3, 3) < lengths.view(-1, 1)).float()
    return {"m": m, "m2": m2, "m3": m3, "s": m3.sum(1), "idx": m.nonzero(), "w": lib.where(m, 1.0, 0.0)}


@program
def emb_renorm_fn(lib):
    w = lib.tensor(_rand(4, 3, seed=9, scale=3.0))
    with lib.no_grad():
        lib.embedding_renorm_(w, lib.tensor([0, 2, 2]), 1.0, 2.0)
    return w


@program
def emb_sparse_repr(lib):
    e = lib.nn.Embedding(4, 3, sparse=True, scale_grad_by_freq=True, padding_idx=1)
    return {"repr": repr(e), "sparse": e.sparse}


@program
def enc_layer_3d_mask(lib):
    layer = _load(lib, lib.nn.TransformerEncoderLayer(8, 2, 12, 0.0, batch_first=True).double(), 1)
    x = lib.tensor(_rand(2, 3, 8, seed=2))
    m = lib.tensor(_rand(4, 3, 3, seed=3) > 0.5)
    m[:, :, 0] = False
    return {"y": layer(x, src_mask=m)}


@program
def dec_layer_causal_no_mask(lib):
    layer = lib.nn.TransformerDecoderLayer(8, 2, 12, 0.0)
    return layer(lib.zeros(3, 2, 8), lib.zeros(4, 2, 8), tgt_is_causal=True)


@program
def enc_mask_kpm_mismatch_warn(lib):
    enc = lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, 12, 0.0), 1, enable_nested_tensor=False).double()
    _load(lib, enc, 4)
    x = lib.tensor(_rand(3, 2, 8, seed=5))
    return enc(x, mask=lib.zeros(3, 3, dtype=lib.float64), src_key_padding_mask=lib.tensor([[False, False, True], [False] * 3]))


@program
def gen_mask_kwargs(lib):
    T = lib.nn.Transformer
    return {"a": T.generate_square_subsequent_mask(4, device="cpu"), "b": T.generate_square_subsequent_mask(0),
            "c": T.generate_square_subsequent_mask(2, dtype=lib.float16)}


@program
def rnn_nobias_packed_h0_noncontig(lib):
    R = lib.nn.utils.rnn
    gru = _load(lib, lib.nn.GRU(3, 4, bias=False, batch_first=True, bidirectional=True).double(), 6)
    x = lib.tensor(_rand(3, 4, 3, seed=7))
    h0 = lib.tensor(_rand(3, 2, 4, seed=8), requires_grad=True)
    packed = R.pack_padded_sequence(x, [2, 4, 1], batch_first=True, enforce_sorted=False)
    out, h = gru(packed, h0.transpose(0, 1))
    p, _ = R.pad_packed_sequence(out, batch_first=True)
    (p.sum() + h.sum()).backward()
    return {"p": p, "h": h, "g": h0.grad, "names": [n for n, _ in gru.named_parameters()], "nw": len(gru.all_weights)}


@program
def packed_wrong_h0_batch(lib):
    R = lib.nn.utils.rnn
    gru = lib.nn.GRU(3, 4)
    packed = R.pack_sequence([lib.zeros(3, 3), lib.zeros(2, 3)])
    return gru(packed, lib.zeros(1, 3, 4))


@program
def packed_dtype_mismatch(lib):
    R = lib.nn.utils.rnn
    gru = lib.nn.GRU(3, 4).double()
    packed = R.pack_sequence([lib.zeros(3, 3), lib.zeros(2, 3)])
    return gru(packed)


@program
def packed_to_double(lib):
    R = lib.nn.utils.rnn
    gru = _load(lib, lib.nn.GRU(3, 4).double(), 9)
    packed = R.pack_sequence([lib.ones(3, 3), lib.ones(2, 3)], enforce_sorted=False).to(lib.float64)
    out, h = gru(packed)
    return {"d": out.data, "h": h, "bs": out.batch_sizes, "dt": packed.data.dtype, "si": out.sorted_indices}


@program
def packed_seq_methods(lib):
    R = lib.nn.utils.rnn
    packed = R.pack_sequence([lib.ones(3, 2), lib.ones(1, 2) * 2, lib.ones(2, 2) * 3], enforce_sorted=False)
    return {"double": packed.double().data, "long": packed.long().data, "bs_dtype": packed.batch_sizes.dtype,
            "is_cuda": packed.is_cuda, "pinned": packed.is_pinned(), "cpu": packed.cpu().data,
            "len": len(packed), "t": type(packed.to("cpu")).__name__}


@program
def pad_packed_batch_first_padding(lib):
    R = lib.nn.utils.rnn
    packed = R.pack_sequence([lib.ones(3, 2), lib.ones(1, 2) * 2, lib.ones(2, 2) * 3], enforce_sorted=False)
    p, l = R.pad_packed_sequence(packed, batch_first=True, padding_value=-9, total_length=4)
    return {"p": p, "l": l}


@program
def pack_zero_dim_features(lib):
    R = lib.nn.utils.rnn
    x = lib.arange(6).view(3, 2)     # (T, B) token ids, no feature dim
    p = R.pack_padded_sequence(x, lib.tensor([3, 2]))
    back, l = R.pad_packed_sequence(p)
    return {"d": p.data, "back": back}


@program
def unsorted_enforce_sorted_msg(lib):
    R = lib.nn.utils.rnn
    return R.pack_padded_sequence(lib.zeros(3, 3, 1), [1, 3, 2])


@program
def rnn_zero_length_seq(lib):
    gru = lib.nn.GRU(2, 3)
    return gru(lib.zeros(0, 2, 2))


@program
def lstm_cell_hx_one(lib):
    cell = lib.nn.LSTMCell(2, 3)
    return cell(lib.zeros(1, 2), lib.zeros(1, 3))


@program
def neg_inf_rows(lib):
    x = lib.tensor([[-math.inf, -math.inf, -math.inf], [0.0, -math.inf, 1.0]], dtype=lib.float64, requires_grad=True)
    lse = x.logsumexp(-1)
    am = x.argmax(-1)
    mx = x.max(-1)
    ls = x.log_softmax(-1)
    (lse[1] + ls[1, 0]).backward()
    return {"lse": lse, "am": am, "mxv": mx.values, "mxi": mx.indices, "ls": ls, "g": x.grad}


@program
def pad_ids(lib):
    F = lib.nn.functional
    ids = lib.tensor([[5, 6, 7], [8, 9, 1]])
    p = F.pad(ids, (0, 2), value=1)
    lp = F.pad(ids, (2, 0), value=0)
    labels = ids.masked_fill(ids == 1, -100)
    labels2 = lib.full_like(ids, -100)
    labels2[:, :-1] = ids[:, 1:]
    return {"p": p, "lp": lp, "labels": labels, "labels2": labels2, "dt": p.dtype}


@program
def ce_none_ignored(lib):
    logits = lib.tensor(_rand(2, 3, 5, seed=20), requires_grad=True)
    labels = lib.tensor([[1, -100, 2], [-100, -100, 4]])
    l = lib.nn.functional.cross_entropy(logits.view(-1, 5), labels.view(-1), reduction="none")
    l2 = lib.nn.functional.cross_entropy(logits.permute(0, 2, 1), labels, reduction="none")
    l3 = lib.nn.functional.cross_entropy(logits.permute(0, 2, 1), labels, reduction="sum", label_smoothing=0.3)
    (l.sum() + l3).backward()
    return {"l": l, "l2": l2, "l3": l3, "g": logits.grad}


@program
def repeat_interleave_beams(lib):
    enc = lib.arange(12.0).view(2, 3, 2)
    e = enc.repeat_interleave(3, dim=0)
    e2 = enc.unsqueeze(1).expand(-1, 3, -1, -1).reshape(6, 3, 2)
    lens = lib.tensor([3, 1]).repeat_interleave(lib.tensor([2, 3]))
    return {"e": e, "eq": bool(lib.equal(e, e2)), "lens": lens}


@program
def einsum_attention(lib):
    q = lib.tensor(_rand(2, 3, 2, 4, seed=24), requires_grad=True)   # b t h d
    k = lib.tensor(_rand(2, 5, 2, 4, seed=25))
    s = lib.einsum("bthd,bshd->bhts", q, k) / 2.0
    mask = lib.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()
    s = s.masked_fill(~mask[:, None, None, :], lib.finfo(s.dtype).min)
    a = s.softmax(-1)
    o = lib.einsum("bhts,bshd->bthd", a, k)
    o.sum().backward()
    return {"o": o, "g": q.grad}


@program
def causal_triu_inplace(lib):
    s = lib.tensor(_rand(1, 4, 4, seed=26))
    mask = lib.ones(4, 4, dtype=lib.bool).triu(1)
    s.masked_fill_(mask, float("-inf"))
    bias = lib.tril(lib.ones(6, 6)).view(1, 1, 6, 6)
    s2 = lib.tensor(_rand(1, 1, 4, 4, seed=27)).masked_fill(bias[:, :, :4, :4] == 0, float("-inf"))
    return {"s": s.softmax(-1), "s2": s2.softmax(-1)}


@program
def gather_oob(lib):
    return lib.zeros(2, 3).gather(1, lib.tensor([[0], [3]]))


@program
def scatter_src_small(lib):
    x = lib.zeros(2, 4)
    return x.scatter_(1, lib.tensor([[0, 1], [2, 3]]), lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))


@program
def masked_fill_value_conversions(lib):
    on = lib.ones(2, dtype=lib.bool)
    return {
        "half_minus_1e9": _err(lambda: lib.zeros(2, dtype=lib.float16).masked_fill(on, -1e9)),
        "half_minus_1e4": lib.zeros(2, dtype=lib.float16).masked_fill(on, -1e4),
        "half_minus_inf": lib.zeros(2, dtype=lib.float16).masked_fill(on, -math.inf),
        "half_finfo_min": lib.zeros(2, dtype=lib.float16).masked_fill(on, lib.finfo(lib.float16).min),
        "half_tensor_value": _err(lambda: lib.zeros(2, dtype=lib.float16).masked_fill(on, lib.tensor(-1e9))),
        "half_inplace": _err(lambda: lib.zeros(2, dtype=lib.float16).masked_fill_(on, -1e9)),
        "float_1e300": _err(lambda: lib.zeros(2).masked_fill(on, 1e300)),
        "long_minus_inf": _err(lambda: lib.zeros(2, dtype=lib.long).masked_fill(on, -math.inf)),
        "long_nan": _err(lambda: lib.zeros(2, dtype=lib.long).masked_fill(on, math.nan)),
        "long_float": lib.zeros(2, dtype=lib.long).masked_fill(on, 2.7),
        "uint8_minus_one": lib.zeros(2, dtype=lib.uint8).masked_fill(on, -1),
        "uint8_300": _err(lambda: lib.zeros(2, dtype=lib.uint8).masked_fill(on, 300)),
        "complex_real": lib.zeros(2).masked_fill(on, 1 + 0j),
        "complex_imag": _err(lambda: lib.zeros(2).masked_fill(on, 1 + 1j)),
        "bool_value": lib.zeros(2, dtype=lib.long).masked_fill(on, True),
        "value_requires_grad": lib.zeros(2).masked_fill(on, lib.tensor(2.5, requires_grad=True)).requires_grad,
    }


@program
def pad_sequence_mixed(lib):
    R = lib.nn.utils.rnn
    return {"long_first": R.pad_sequence([lib.tensor([1, 2, 3]), lib.tensor([4.7, 5.2])], batch_first=True),
            "float_first": R.pad_sequence([lib.tensor([4.5]), lib.tensor([1, 2])], batch_first=True),
            "broadcast_row": R.pad_sequence([lib.ones(3, 2), lib.tensor([[5.0], [6.0]])]),
            "more_dims": _err(lambda: R.pad_sequence([lib.ones(3), lib.ones(2, 2)])),
            "last_dim_clash": _err(lambda: R.pad_sequence([lib.ones(3, 3, 2), lib.ones(2, 3)])),
            "later_0d": _err(lambda: R.pad_sequence([lib.ones(3), lib.tensor(1.0)]))}


@program
def broadcast_errors_name_last_dim(lib):
    return {"add": _err(lambda: lib.ones(2, 3, 4) + lib.ones(3, 2, 4)),
            "expand": _err(lambda: lib.ones(2, 3).expand(4, 3, 2)),
            "expand_fewer": _err(lambda: lib.ones(2, 3, dtype=lib.float64).expand(3)),
            "copy_more_dims": _err(lambda: lib.zeros(4, 3).copy_(lib.ones(1, 4, 3))),
            "copy_clash": _err(lambda: lib.zeros(4, 3).copy_(lib.ones(4))),
            "setitem_row": _err(lambda: lib.zeros(4, 3).__setitem__(0, lib.ones(2, 3))),
            "setitem_slice": _err(lambda: lib.zeros(4, 3).__setitem__(slice(1, 3), lib.ones(3, 3))),
            "setitem_index": _err(lambda: lib.zeros(4, 3).__setitem__([0, 1], lib.ones(3, 3)))}


@program
def embedding_index_dtypes(lib):
    w = lib.zeros(3, 2)
    F = lib.nn.functional
    return {name: _err(lambda d=d: F.embedding(lib.tensor([1], dtype=d), w))
            for name, d in (("int16", lib.int16), ("int8", lib.int8), ("bool", lib.bool),
                            ("int32", lib.int32), ("float", lib.float32))} | {
        "bag_uint8": _err(lambda: F.embedding_bag(lib.tensor([[1]], dtype=lib.uint8), w))}


@program
def enc_double_f32_mask(lib):
    enc = _encoder(lib, 1, layers=1)
    x = lib.tensor(_rand(5, 2, 8, seed=2))
    m = lib.nn.Transformer.generate_square_subsequent_mask(5)
    y = enc(x, mask=m)
    enc.eval()
    with lib.no_grad():
        y2 = enc(x, mask=m)
    return {"y": y, "y2": y2}


@program
def mha_double_f32_kpm_need_weights(lib):
    m = _load(lib, lib.nn.MultiheadAttention(8, 2).double(), 1)
    q = lib.tensor(_rand(3, 2, 8, seed=2))
    return m(q, q, q, key_padding_mask=lib.zeros(2, 3))


@program
def mha_double_bool_mask_plus_f32(lib):
    m = _load(lib, lib.nn.MultiheadAttention(8, 2).double(), 1)
    q = lib.tensor(_rand(3, 2, 8, seed=2))
    out, w = m(q, q, q, key_padding_mask=lib.tensor([[False, False, True], [False] * 3]), attn_mask=lib.zeros(3, 3))
    return {"out": out, "w": w}


@program
def pack_float_list(lib):
    R = lib.nn.utils.rnn
    p = R.pack_padded_sequence(lib.zeros(3, 2, 1), [3.0, 2.0])
    return p.batch_sizes


@program
def pack_np_int32(lib):
    R = lib.nn.utils.rnn
    p = R.pack_padded_sequence(lib.zeros(3, 2, 1), np.array([2, 3], dtype=np.int32), enforce_sorted=False)
    return {"bs": p.batch_sizes, "si": p.sorted_indices}


@program
def pack_1d_input(lib):
    R = lib.nn.utils.rnn
    p = R.pack_padded_sequence(lib.arange(3), [3])
    return {"d": p.data, "bs": p.batch_sizes}


@program
def pack_empty_batch(lib):
    R = lib.nn.utils.rnn
    return R.pack_padded_sequence(lib.zeros(3, 0, 2), lib.tensor([], dtype=lib.long))


@program
def pad_packed_wrong_type(lib):
    return lib.nn.utils.rnn.pad_packed_sequence(lib.zeros(3, 2))


@program
def unpad_seq(lib):
    R = lib.nn.utils.rnn
    x = lib.arange(12.0).view(3, 4)
    return {"a": R.unpad_sequence(x, lib.tensor([2, 4, 1]), batch_first=True),
            "b": R.unpad_sequence(x.t(), lib.tensor([2, 4, 1]))}


@program
def emb_grad_scale_freq_pad(lib):
    emb = _load(lib, lib.nn.Embedding(5, 2, padding_idx=0, scale_grad_by_freq=True).double(), 3)
    idx = lib.tensor([[0, 1, 1, 1], [2, 2, 0, 0]])
    out = emb(idx)
    (out * lib.arange(2.0, dtype=lib.float64)).sum().backward()
    opt = lib.optim.Adam(emb.parameters(), lr=0.1, weight_decay=0.1)
    opt.step()
    return {"g": emb.weight.grad, "w": emb.weight}


@program
def emb_from_pretrained_kw(lib):
    w = lib.tensor(_rand(4, 3, seed=1))
    e = lib.nn.Embedding.from_pretrained(w, freeze=False, padding_idx=-1, norm_type=1.0, scale_grad_by_freq=True, sparse=False)
    return {"pad": e.padding_idx, "repr": repr(e), "w0": e.weight[3]}


@program
def emb_wrong_dims(lib):
    return lib.nn.functional.embedding(lib.tensor([0]), lib.zeros(3))


@program
def pack_check_order(lib):
    R = lib.nn.utils.rnn
    x = lib.zeros(3, 3, 1)
    return {"zero_last_unsorted": _err(lambda: R.pack_padded_sequence(x, [1, 3, 0])),
            "zero_middle_unsorted": _err(lambda: R.pack_padded_sequence(x, [3, 0, 2])),
            "zero_not_enforced": _err(lambda: R.pack_padded_sequence(x, [3, 0, 2], enforce_sorted=False)),
            "empty_time": _err(lambda: R.pack_padded_sequence(lib.zeros(0, 2, 2), [0, 0])),
            "scalar": _err(lambda: R.pack_padded_sequence(lib.tensor(1.0), [1])),
            "no_lengths": _err(lambda: R.pack_padded_sequence(lib.zeros(3, 2), []))}


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program(program):
    _check(program)
