"""nn.LSTM under CPU autocast: PyTorch's LSTM layer is among the ops autocast runs in
bfloat16 (a packed sequence's is not), so its output and states come out in bfloat16; the
values agree with torch's within a bfloat16 unit (PyTorch's fused layer keeps the gates in
float32, minigrad rounds each step's ops)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _run(lib, packed, batch_first):
    rng = np.random.default_rng(0)
    lib.manual_seed(0)
    m = lib.nn.LSTM(8, 16, num_layers=2, batch_first=batch_first)
    shape = (3, 5, 8) if batch_first else (5, 3, 8)          # 3 sequences of up to 5 steps
    x = lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    with lib.autocast("cpu", dtype=lib.bfloat16):
        if packed:
            seq = lib.nn.utils.rnn.pack_padded_sequence(x, [5, 4, 2], batch_first=batch_first)
            out, (h, c) = m(seq)
            out = lib.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first)[0]
        else:
            out, (h, c) = m(x)
        loss = out.float().pow(2).sum() + h.float().sum() + c.float().sum()
    loss.backward()
    return ([str(t.dtype).split(".")[-1] for t in (out, h, c, x.grad, m.weight_hh_l0.grad)],
            [t.float().detach().numpy() for t in (out, h, c, x.grad, m.weight_hh_l0.grad)])


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_under_autocast_as_torch(packed, batch_first):
    (mine_dtypes, mine), (their_dtypes, theirs) = (_run(lib, packed, batch_first)
                                                   for lib in (minigrad, torch))
    assert mine_dtypes == their_dtypes
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, atol=8e-3 * max(1.0, np.abs(b).max()), rtol=0)
