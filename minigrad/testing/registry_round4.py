"""Registry entries added in round 4 of the third-party-code probes (see the module's
entries). Checked like every entry: forward, gradients and second derivatives against torch
and finite differences."""
from __future__ import annotations

from .opinfo import Sample, register  # noqa: F401

S = Sample


# ----------------------------------------------------------------------------------------------
# Pointwise (ops/pointwise_more.py)
# ----------------------------------------------------------------------------------------------
def _pair(make_b=None):
    def samples(g):
        yield S(g.randn(3, 4), g.randn(3, 4) if make_b is None else make_b(g, (3, 4)))
        yield S(g.randn(3, 1), g.randn(4) if make_b is None else make_b(g, (4,)))
        yield S(g.randn(), g.randn(2, 3) if make_b is None else make_b(g, (2, 3)))
    return samples


register("copysign", lambda lib, a, b: lib.copysign(a, b), _pair(lambda g, s: g.away(*s)))
register("hypot", lambda lib, a, b: lib.hypot(a, b), _pair(lambda g, s: g.away(*s)))
register("logaddexp", lambda lib, a, b: lib.logaddexp(a, b), _pair())
register("logaddexp2", lambda lib, a, b: lib.logaddexp2(a, b), _pair())
register("xlogy", lambda lib, a, b: lib.xlogy(a, b), _pair(lambda g, s: g.pos(*s)))
register("special.xlog1py", lambda lib, a, b: lib.special.xlog1py(a, b),
         _pair(lambda g, s: g.pos(*s)))
register("special.entr", lambda lib, a: lib.special.entr(a), lambda g: [S(g.pos(3, 4))])
register("special.ndtr", lambda lib, a: lib.special.ndtr(a), lambda g: [S(g.randn(3, 4))])
register("float_power", lambda lib, a, b: lib.float_power(a, b),
         lambda g: [S(g.pos(3, 4), g.randn(3, 4)), S(g.pos(2, 3), 2.5)])
register("deg2rad", lambda lib, a: lib.deg2rad(a), lambda g: [S(g.randn(3, 4))])
register("rad2deg", lambda lib, a: lib.rad2deg(a), lambda g: [S(g.randn(3, 4))])
register("logit", lambda lib, a, eps=None: lib.logit(a, eps),
         lambda g: [S(g.uniform(3, 4, low=0.05, high=0.95)),
                    S(g.uniform(3, 4, low=0.05, high=0.95), kwargs={"eps": 0.2}, fd=False)])
register("sinc", lambda lib, a: lib.sinc(a), lambda g: [S(g.away(3, 4))])
register("expm1", lambda lib, a: lib.expm1(a), lambda g: [S(g.randn(3, 4))])

# ----------------------------------------------------------------------------------------------
# Products (ops/products.py)
# ----------------------------------------------------------------------------------------------
register("addmm", lambda lib, c, a, b, **k: lib.addmm(c, a, b, **k),
         lambda g: [S(g.randn(3, 5), g.randn(3, 4), g.randn(4, 5)),
                    S(g.randn(5), g.randn(3, 4), g.randn(4, 5), kwargs={"beta": 0.5,
                                                                         "alpha": 2.0})])
register("addmv", lambda lib, c, a, b, **k: lib.addmv(c, a, b, **k),
         lambda g: [S(g.randn(3), g.randn(3, 4), g.randn(4), kwargs={"alpha": -1.5})])
register("addr", lambda lib, c, a, b, **k: lib.addr(c, a, b, **k),
         lambda g: [S(g.randn(3, 4), g.randn(3), g.randn(4), kwargs={"beta": 2.0})])
register("addbmm", lambda lib, c, a, b: lib.addbmm(c, a, b),
         lambda g: [S(g.randn(3, 5), g.randn(2, 3, 4), g.randn(2, 4, 5))])
register("baddbmm", lambda lib, c, a, b: lib.baddbmm(c, a, b, alpha=0.5),
         lambda g: [S(g.randn(2, 3, 5), g.randn(2, 3, 4), g.randn(2, 4, 5))])
register("addcmul", lambda lib, c, a, b: lib.addcmul(c, a, b, value=0.5),
         lambda g: [S(g.randn(3, 4), g.randn(4), g.randn(3, 1))])
register("addcdiv", lambda lib, c, a, b: lib.addcdiv(c, a, b, value=-2.0),
         lambda g: [S(g.randn(3, 4), g.randn(4), g.away(3, 1))])
register("kron", lambda lib, a, b: lib.kron(a, b),
         lambda g: [S(g.randn(2, 3), g.randn(3, 2)), S(g.randn(2), g.randn(2, 3))])
register("cross", lambda lib, a, b, dim=None: lib.cross(a, b, dim=dim),
         lambda g: [S(g.randn(4, 3), g.randn(4, 3), kwargs={"dim": 1}),
                    S(g.randn(3, 2), g.randn(3, 1), kwargs={"dim": 0})])
register("linalg.cross", lambda lib, a, b: lib.linalg.cross(a, b),
         lambda g: [S(g.randn(2, 3), g.randn(2, 3))])


def _torch_cdist(torch, a, b, p=2.0):
    """torch's own cdist has no second derivative: where a gradient is asked for (both
    inputs float64), compared with the same norm of differences; elsewhere (other dtypes, with their
    refusals and paths) with torch.cdist itself."""
    if (a.requires_grad or b.requires_grad) and a.dtype == b.dtype == torch.float64:
        return torch.linalg.vector_norm(a.unsqueeze(-2) - b.unsqueeze(-3), p, -1)
    return torch.cdist(a, b, p=p)


register("cdist", lambda lib, a, b, p=2.0: lib.cdist(a, b, p=p), torch_f=_torch_cdist,
         sample_fn=lambda g: [S(g.randn(3, 4), g.randn(5, 4)),
                    S(g.randn(2, 3, 4), g.randn(5, 4), kwargs={"p": 1.0}),
                    S(g.randn(3, 4), g.randn(2, 4), kwargs={"p": 3.0}),
                    S(g.randn(3, 4), g.randn(2, 4), kwargs={"p": float("inf")},
                      desc="p=inf: the largest difference (no ties at random points)")])
register("dist", lambda lib, a, b: lib.dist(a, b, 3), lambda g: [S(g.randn(3, 4), g.randn(4))])
register("block_diag", lambda lib, a, b, c: lib.block_diag(a, b, c),
         lambda g: [S(g.randn(2, 3), g.randn(), g.randn(2))])

# ----------------------------------------------------------------------------------------------
# Sequences and statistics (ops/sequence_more.py, ops/statistics.py)
# ----------------------------------------------------------------------------------------------
register("diff", lambda lib, a, **k: lib.diff(a, **k),
         lambda g: [S(g.randn(3, 5)), S(g.randn(4, 3), kwargs={"n": 2, "dim": 0})])
register("rot90", lambda lib, a: lib.rot90(a, -1, [1, 0]), lambda g: [S(g.randn(3, 4))])
register("diag_embed", lambda lib, a, **k: lib.diag_embed(a, **k),
         lambda g: [S(g.randn(2, 3)), S(g.randn(2, 3), kwargs={"offset": -1, "dim1": 0,
                                                                "dim2": 2})])
register("diagflat", lambda lib, a: lib.diagflat(a, 1), lambda g: [S(g.randn(2, 2))])
register("trapezoid", lambda lib, y, x: lib.trapezoid(y, x, dim=0),
         lambda g: [S(g.randn(4, 3), g.randn(4, 3))])
register("cumulative_trapezoid", lambda lib, y: lib.cumulative_trapezoid(y, dx=0.5),
         lambda g: [S(g.randn(3, 5))])
# torch's vander backward fails (an in-place write in its cumprod); compared with powers
register("vander", lambda lib, x: lib.vander(x, 4),
         torch_f=lambda torch, x: x.unsqueeze(-1) ** torch.arange(3, -1, -1),
         sample_fn=lambda g: [S(g.away(3))])
register("cartesian_prod", lambda lib, a, b: lib.cartesian_prod(a, b),
         lambda g: [S(g.randn(2), g.randn(3))])
register("combinations", lambda lib, a: lib.combinations(a, 2), lambda g: [S(g.randn(4))])
register("renorm", lambda lib, a: lib.renorm(a, 2, 0, 1.0), lambda g: [S(g.randn(3, 4) * 2)])
register("cov", lambda lib, a: lib.cov(a), lambda g: [S(g.randn(3, 6))])
register("corrcoef", lambda lib, a: lib.corrcoef(a), lambda g: [S(g.randn(3, 6))])
register("quantile", lambda lib, a, q=0.3, **k: lib.quantile(a, q, **k),
         lambda g: [S(g.randn(3, 5), kwargs={"dim": 1}), S(g.randn(7)),
                    S(g.randn(3, 5), kwargs={"dim": 0, "interpolation": "midpoint"})])
register("nanquantile", lambda lib, a: lib.nanquantile(a, 0.6, dim=1),
         lambda g: [S(g.randn(3, 5))])
