"""Round 6 of the nn breadth work, against PyTorch: RMSNorm, TripletMarginWithDistanceLoss,
FractionalMaxPool2d/3d (with fixed samples), pdist, get_total_norm / clip_grads_with_norm_."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import minigrad as mg  # noqa: E402


def test_rmsnorm_module():
    for eps in (None, 1e-3):
        tm = torch.nn.RMSNorm([3, 4], eps=eps, dtype=torch.float64)
        mm = mg.nn.RMSNorm([3, 4], eps=eps, dtype=mg.float64)
        assert repr(tm) == repr(mm) and list(tm.state_dict()) == list(mm.state_dict())
        w = np.random.randn(3, 4)
        tm.weight.data = torch.tensor(w)
        mm.load_state_dict({"weight": mg.tensor(w)})
        x = np.random.randn(2, 3, 4)
        tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
        tm(tx).pow(3).sum().backward()
        mm(mx).pow(3).sum().backward()
        np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(mm.weight.grad.numpy(), tm.weight.grad.numpy(), atol=1e-10)
    assert repr(mg.nn.RMSNorm(5, elementwise_affine=False)) == \
        repr(torch.nn.RMSNorm(5, elementwise_affine=False))
    with pytest.raises(RuntimeError):
        mg.nn.functional.rms_norm(mg.randn(2, 3), [4])


def test_triplet_with_distance_module():
    a, p, n = (np.random.randn(4, 3) for _ in range(3))
    for kw in ({}, {"swap": True, "margin": 2.0, "reduction": "none"}):
        tl = torch.nn.TripletMarginWithDistanceLoss(**kw)
        ml = mg.nn.TripletMarginWithDistanceLoss(**kw)
        assert repr(tl) == repr(ml)
        np.testing.assert_allclose(
            ml(*(mg.tensor(v) for v in (a, p, n))).numpy(),
            tl(*(torch.tensor(v) for v in (a, p, n))).numpy(), atol=1e-12)
    cos_t = lambda x, y: 1 - torch.nn.functional.cosine_similarity(x, y)  # noqa: E731
    cos_m = lambda x, y: 1 - mg.nn.functional.cosine_similarity(x, y)  # noqa: E731
    np.testing.assert_allclose(
        mg.nn.TripletMarginWithDistanceLoss(distance_function=cos_m)(
            *(mg.tensor(v) for v in (a, p, n))).numpy(),
        torch.nn.TripletMarginWithDistanceLoss(distance_function=cos_t)(
            *(torch.tensor(v) for v in (a, p, n))).numpy(), atol=1e-12)
    with pytest.raises(ValueError):
        mg.nn.TripletMarginWithDistanceLoss(margin=0)


def test_fractional_max_pool_modules():
    for d, shape, kw in ((2, (2, 3, 9, 10), dict(output_size=(4, 5))),
                         (2, (3, 9, 10), dict(output_ratio=0.5)),
                         (3, (2, 2, 6, 7, 8), dict(output_size=3))):
        x = np.random.randn(*shape)
        s = np.random.rand(shape[0] if len(shape) == d + 2 else 1, shape[-d - 1], d)
        T = getattr(torch.nn, f"FractionalMaxPool{d}d")
        M = getattr(mg.nn, f"FractionalMaxPool{d}d")
        tp = T(2, return_indices=True, _random_samples=torch.tensor(s), **kw)
        mp = M(2, return_indices=True, _random_samples=mg.tensor(s), **kw)
        assert repr(tp) == repr(mp)
        tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
        (ty, ti), (my, mi) = tp(tx), mp(mx)
        np.testing.assert_array_equal(mi.numpy(), ti.numpy())
        np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy())
        w = np.random.randn(*ty.shape)
        (ty * torch.tensor(w)).sum().backward()
        (my * mg.tensor(w)).sum().backward()
        np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy())
    with pytest.raises(ValueError):
        mg.nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError):
        mg.nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)
    assert mg.nn.FractionalMaxPool2d(2, output_ratio=0.5)(mg.randn(1, 2, 8, 8)).shape == \
        (1, 2, 4, 4)


def test_pdist_and_total_norm():
    x = np.random.randn(5, 3)
    for p in (1.0, 2.0, float("inf")):
        np.testing.assert_allclose(mg.nn.functional.pdist(mg.tensor(x), p).numpy(),
                                   torch.nn.functional.pdist(torch.tensor(x), p).numpy(),
                                   atol=1e-12)
    with pytest.raises(RuntimeError):
        mg.nn.functional.pdist(mg.randn(2, 3, 4))
    gs = [np.random.randn(3, 2), np.random.randn(4)]
    for nt in (2.0, 1.0, float("inf")):
        tn = torch.nn.utils.get_total_norm([torch.tensor(g) for g in gs], nt)
        mn = mg.nn.utils.get_total_norm([mg.tensor(g) for g in gs], nt)
        np.testing.assert_allclose(float(mn), float(tn), rtol=1e-12)
    tps = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in gs]
    mps = [mg.nn.Parameter(mg.zeros(*g.shape, dtype=mg.float64)) for g in gs]
    for t, m, g in zip(tps, mps, gs):
        t.grad, m.grad = torch.tensor(g), mg.tensor(g)
    torch.nn.utils.clip_grads_with_norm_(tps, 0.5, torch.tensor(3.0))
    mg.nn.utils.clip_grads_with_norm_(mps, 0.5, mg.tensor(3.0))
    for t, m in zip(tps, mps):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-12)
