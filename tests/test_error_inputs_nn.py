"""Bad arguments to nn.functional's convolutions, pools, margin losses and shrinks, each given
to PyTorch and to minigrad: both must raise the same exception type, and minigrad's message
must begin with PyTorch's whole message (it may add a detail after it: the sizes it got, the
weight's expected layout).

The rows are inputs wrong in several ways at once as well as in one: which error comes first
is PyTorch's order of checks, which minigrad follows. A row with a regex compares only what it
matches, in both messages (minigrad prints ``minigrad.Size``, PyTorch ``torch.Size``).
"""

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

from error_cases import C, check_same_error  # noqa: E402




def F(T):
    return T.nn.functional


def X(T, *shape, dtype=None):
    """A deterministic tensor of that shape (the values never matter to these checks)."""
    data = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)
    t = T.tensor(data, dtype=T.float32)
    return t if dtype is None else t.to(getattr(T, dtype))


def L(T, *shape, add=0):
    return T.zeros(shape, dtype=T.int64) + add


CASES = [
    # -- convolutions: the weight's rank, groups, the int lists, their signs, the shapes -------
    C("conv1d-weight-2d", lambda T: F(T).conv1d(X(T, 1, 1, 4), X(T, 1, 2), X(T, 1))),
    C("conv1d-weight-4d", lambda T: F(T).conv1d(X(T, 1, 2, 5), X(T, 3, 2, 2, 2))),
    C("conv2d-weight-3d", lambda T: F(T).conv2d(X(T, 1, 2, 5, 5), X(T, 3, 2, 2))),
    C("conv2d-weight-3d-same", lambda T: F(T).conv2d(X(T, 1, 1, 4, 3), X(T, 1, 2, 2), X(T, 1),
                                                      padding="same")),
    C("conv3d-weight-4d-same", lambda T: F(T).conv3d(X(T, 1, 1, 3, 4, 5), X(T, 1, 1, 4, 3),
                                                      padding="same")),
    C("conv1d-groups-over-out-channels", lambda T: F(T).conv1d(X(T, 2, 2, 4), X(T, 2, 2, 2),
                                                                X(T, 2), groups=3)),
    C("conv2d-groups-over-out-channels-same",
      lambda T: F(T).conv2d(X(T, 2, 2, 4, 3), X(T, 2, 2, 1, 3), padding="same", groups=3)),
    C("conv2d-padding-before-stride", lambda T: F(T).conv2d(X(T, 1, 2, 5, 5), X(T, 3, 2, 2, 2),
                                                             stride=-1, padding=-1)),
    C("conv2d-groups-before-stride", lambda T: F(T).conv2d(X(T, 1, 2, 5, 5), X(T, 3, 2, 2, 2),
                                                            stride=-1, groups=0)),
    C("conv2d-groups-before-stride-length",
      lambda T: F(T).conv2d(X(T, 1, 2, 5, 5), X(T, 3, 2, 2, 2), stride=(1, 1, 1), groups=0)),
    C("conv2d-padding-length-before-dilation-length",
      lambda T: F(T).conv2d(X(T, 1, 2, 5, 5), X(T, 3, 2, 2, 2), padding=(1, 1, 1),
                            dilation=(1, 1, 1))),
    C("conv2d-bias-dtype-first", lambda T: F(T).conv2d(X(T, 5, 5), X(T, 3, 2),
                                                        X(T, 3, dtype="float64"), groups=2)),
    C("conv2d-unbatched-channels", lambda T: F(T).conv2d(X(T, 3, 5, 5), X(T, 3, 2, 2, 2))),
    C("conv2d-same-padded-input-shown",
      lambda T: F(T).conv2d(X(T, 1, 2, 5, 5), X(T, 3, 2, 2, 3), padding="same", groups=3)),
    C("conv2d-same-stride-length", lambda T: F(T).conv2d(X(T, 1, 2, 5, 5), X(T, 3, 2, 2, 2),
                                                          padding="same", stride=(1, 1, 1))),
    C("conv2d-same-negative-dilation", lambda T: F(T).conv2d(
        X(T, 1, 2, 5, 5), X(T, 3, 2, 2, 2), padding="same", dilation=(1, -1))),
    C("conv2d-same-negative-padding", lambda T: F(T).conv2d(
        X(T, 1, 2, 5, 5), X(T, 3, 2, 3, 3), padding="same", dilation=(1, -1))),
    C("conv2d-same-groups-before-stride", lambda T: F(T).conv2d(
        X(T, 1, 2, 5, 5), X(T, 3, 2, 2, 2), padding="same", groups=0, stride=2)),
    C("conv2d-groups-before-zero-kernel",
      lambda T: F(T).conv2d(X(T, 1, 2, 5, 5), X(T, 3, 2, 0, 2), groups=2)),
    C("conv2d-zero-kernel-dilated", lambda T: F(T).conv2d(X(T, 1, 2, 5, 5), X(T, 3, 2, 0, 3),
                                                           dilation=2)),
    C("conv1d-zero-kernel", lambda T: F(T).conv1d(X(T, 1, 2, 5), X(T, 3, 2, 0))),
    C("conv1d-zero-dilation", lambda T: F(T).conv1d(X(T, 1, 2, 5), X(T, 3, 2, 2), dilation=0)),
    C("conv3d-zero-kernel", lambda T: F(T).conv3d(X(T, 1, 2, 5, 5, 5), X(T, 3, 2, 2, 0, 2))),
    C("conv2d-zero-dilation-before-weight-dtype", lambda T: F(T).conv2d(
        X(T, 1, 2, 5, 5), X(T, 3, 2, 2, 2, dtype="float64"), dilation=0)),
    C("conv2d-kernel-before-weight-dtype", lambda T: F(T).conv2d(
        X(T, 1, 2, 5, 5), X(T, 3, 2, 7, 7, dtype="float64"))),
    C("conv_transpose1d-output-padding", lambda T: F(T).conv_transpose1d(
        X(T, 1, 2, 5), X(T, 2, 3, 2), output_padding=1)),
    C("conv_transpose1d-output-too-small", lambda T: F(T).conv_transpose1d(
        X(T, 1, 2, 5), X(T, 2, 3, 2), padding=9)),
    C("conv_transpose2d-zero-dilation", lambda T: F(T).conv_transpose2d(
        X(T, 1, 2, 5, 5), X(T, 2, 3, 2, 2), dilation=0)),
    C("conv_transpose1d-empty-weight", lambda T: F(T).conv_transpose1d(
        X(T, 1, 2, 5), X(T, 2, 0, 2), padding=9)),
    C("conv_transpose2d-output-padding-before-empty-weight", lambda T: F(T).conv_transpose2d(
        X(T, 1, 2, 5, 5), X(T, 2, 0, 2, 2), output_padding=1)),
    C("conv_transpose3d-zero-kernel", lambda T: F(T).conv_transpose3d(
        X(T, 1, 2, 5, 5, 5), X(T, 2, 3, 0, 2, 2))),
    C("conv_transpose2d-output-padding-sign-before-stride", lambda T: F(T).conv_transpose2d(
        X(T, 1, 2, 5, 5), X(T, 2, 3, 2, 2), output_padding=-1, stride=0)),
    C("conv_transpose2d-no-out-channels", lambda T: F(T).conv_transpose2d(
        X(T, 1, 2, 5, 5), X(T, 0, 3, 2, 2))),
    C("conv_transpose2d-dilation-length-before-output-padding", lambda T: F(T).conv_transpose2d(
        X(T, 1, 3, 5, 5), X(T, 3, 2, 2, 2), output_padding=(1, 1, 1), dilation=(1, 1, 1))),
    C("conv_transpose2d-unbatched-channels", lambda T: F(T).conv_transpose2d(
        X(T, 3, 5, 5), X(T, 2, 3, 2, 2))),

    # -- pools: the window's checks come before the input's shape -----------------------------
    C("avg_pool2d-negative-pad-empty-input", lambda T: F(T).avg_pool2d(
        X(T, 0, 1, 49), (3, 2), stride=50, padding=-1)),
    C("avg_pool2d-pad-over-half-empty-input", lambda T: F(T).avg_pool2d(
        X(T, 0, 1, 49), 2, stride=50, padding=4)),
    C("max_pool2d-pad-over-half-empty-input", lambda T: F(T).max_pool2d(
        X(T, 0, 1, 49), (3, 2), stride=50, padding=4, return_indices=True)),
    C("max_pool3d-negative-pad-empty-input", lambda T: F(T).max_pool3d(
        X(T, 0, 1, 49, 50), 2, stride=50, padding=-1)),
    C("avg_pool3d-pad-over-half-empty-input", lambda T: F(T).avg_pool3d(
        X(T, 0, 1, 49, 50), (3, 2, 2), stride=50, padding=4)),
    C("max_pool2d-axis-by-axis", lambda T: F(T).max_pool2d(X(T, 2, 3, 6, 6), 2,
                                                           padding=(4, -1))),
    C("max_pool2d-pad-before-next-axis-stride", lambda T: F(T).max_pool2d(
        X(T, 2, 3, 6, 6), (2, 0), padding=(4, 0))),
    C("max_pool2d-negative-dilation-effective-kernel", lambda T: F(T).max_pool2d(
        X(T, 2, 3, 6, 6), 7, dilation=-1)),
    C("max_pool2d-pad-before-zero-dilation", lambda T: F(T).max_pool2d(
        X(T, 2, 3, 6, 6), 2, padding=-1, dilation=0)),
    C("avg_pool2d-5d-pad-before-rank", lambda T: F(T).avg_pool2d(X(T, 1, 2, 3, 6, 6), 2,
                                                                 padding=-1)),
    C("max_pool1d-empty-dim-before-lengths", lambda T: F(T).max_pool1d(
        X(T, 2, 0, 6), (2, 2, 2, 2))),
    C("max_pool1d-indices-rank", lambda T: F(T).max_pool1d(X(T, 6), 2, return_indices=True)),
    C("max_pool1d-indices-output-too-small", lambda T: F(T).max_pool1d(
        X(T, 2, 3, 6), 7, return_indices=True)),
    C("max_pool1d-indices-empty-dim", lambda T: F(T).max_pool1d(
        X(T, 2, 0, 6), 7, return_indices=True)),
    C("max_pool1d-indices-pad-over-kernel", lambda T: F(T).max_pool1d(
        X(T, 2, 3, 9), 3, padding=2, dilation=2, return_indices=True)),
    C("max_pool3d-pad-over-kernel", lambda T: F(T).max_pool3d(
        X(T, 2, 3, 9, 9, 9), (1, 3, 1), padding=(0, 2, 0), dilation=2)),

    # -- adaptive pools -------------------------------------------------------------------------
    C("adaptive_avg_pool1d-no-size", lambda T: F(T).adaptive_avg_pool1d(X(T, 1, 2, 3), ())),
    C("adaptive_max_pool1d-two-sizes", lambda T: F(T).adaptive_max_pool1d(X(T, 1, 2, 3),
                                                                          (2, 2))),
    C("adaptive_max_pool1d-rank-before-length", lambda T: F(T).adaptive_max_pool1d(
        X(T, 3), (2, 2))),
    C("adaptive_max_pool1d-negative", lambda T: F(T).adaptive_max_pool1d(X(T, 1, 1, 1), -1)),
    C("adaptive_max_pool1d-empty-before-negative", lambda T: F(T).adaptive_max_pool1d(
        X(T, 2, 0, 6), -1)),
    C("adaptive_max_pool2d-no-size", lambda T: F(T).adaptive_max_pool2d(X(T, 1, 2, 3, 4), ())),
    C("adaptive_max_pool2d-negative", lambda T: F(T).adaptive_max_pool2d(X(T, 1, 1, 1, 1),
                                                                         (-1, 0))),
    C("adaptive_max_pool2d-empty-before-length", lambda T: F(T).adaptive_max_pool2d(
        X(T, 2, 0, 6, 6), (2, 2, 2))),
    C("adaptive_max_pool2d-rank", lambda T: F(T).adaptive_max_pool2d(X(T, 1, 2, 3, 6, 6), 2)),
    C("adaptive_max_pool3d-negative", lambda T: F(T).adaptive_max_pool3d(X(T, 2, 3, 4, 4, 4),
                                                                         (2, -3, -1))),
    C("adaptive_avg_pool2d-length-before-rank", lambda T: F(T).adaptive_avg_pool2d(
        X(T, 1, 2, 3, 6, 6), ())),
    C("adaptive_avg_pool2d-negative-before-rank", lambda T: F(T).adaptive_avg_pool2d(
        X(T, 6, 6), -1)),
    C("adaptive_avg_pool2d-none", lambda T: F(T).adaptive_avg_pool2d(X(T, 2, 3, 6, 6), None)),
    C("adaptive_avg_pool3d-float", lambda T: F(T).adaptive_avg_pool3d(X(T, 2, 3, 4, 4, 4),
                                                                      2.5)),

    # -- max_unpool, lp_pool ------------------------------------------------------------------
    C("max_unpool1d-rank", lambda T: F(T).max_unpool1d(X(T, 4), L(T, 4), 2)),
    C("max_unpool1d-indices-shape", lambda T: F(T).max_unpool1d(X(T, 2, 3, 4), L(T, 2, 3, 2),
                                                                2)),
    C("max_unpool1d-index-out-of-range", lambda T: F(T).max_unpool1d(
        X(T, 2, 3, 4), L(T, 2, 3, 4, add=1000), 2)),
    C("max_unpool2d-kernel-too-long", lambda T: F(T).max_unpool2d(X(T, 2, 3, 4, 4),
                                                                  L(T, 2, 3, 4, 4), (2, 2, 2))),
    C("max_unpool2d-output-size-before-indices", lambda T: F(T).max_unpool2d(
        X(T, 2, 3, 4, 4), L(T, 2, 3, 4, 2).float(), 2, output_size=(100, 100))),
    C("max_unpool3d-rank-before-stride", lambda T: F(T).max_unpool3d(X(T, 4, 4, 4),
                                                                     L(T, 4, 4, 4), 0)),
    C("lp_pool2d-kernel-too-long", lambda T: F(T).lp_pool2d(X(T, 2, 3, 6, 6), 2, (2, 2, 2))),
    C("lp_pool3d-kernel-too-short", lambda T: F(T).lp_pool3d(X(T, 2, 3, 6, 6, 6), 2, (2, 2))),

    # -- margin losses ------------------------------------------------------------------------
    C("multi_margin_loss-weight-0d", lambda T: F(T).multi_margin_loss(
        X(T, 5, 4), L(T, 5), weight=X(T))),
    C("multi_margin_loss-weight-2d-before-target", lambda T: F(T).multi_margin_loss(
        X(T, 5, 4), L(T, 5, 4), weight=X(T, 5, 4))),
    C("multi_margin_loss-target-2d", lambda T: F(T).multi_margin_loss(X(T, 5, 4), L(T, 5, 4))),
    C("multi_margin_loss-target-of-0d-input", lambda T: F(T).multi_margin_loss(X(T), L(T, 5))),
    C("multi_margin_loss-empty-classes-before-target", lambda T: F(T).multi_margin_loss(
        X(T, 5, 0), L(T, 5, 4))),
    C("multi_margin_loss-3d-input", lambda T: F(T).multi_margin_loss(X(T, 5, 4, 3), L(T, 5))),
    C("multi_margin_loss-margin-none", lambda T: F(T).multi_margin_loss(
        X(T, 5, 4), L(T, 5), margin=None)),
    C("multi_margin_loss-input-list", lambda T: F(T).multi_margin_loss([[1.0]], L(T, 1))),
    C("multilabel_margin_loss-empty-classes", lambda T: F(T).multilabel_margin_loss(
        X(T, 5, 0), L(T, 5, 4))),
    C("multilabel_margin_loss-target-after-end", lambda T: F(T).multilabel_margin_loss(
        X(T, 2, 4), T.tensor([[0, -1, 3, -2]] * 2))),
    C("multilabel_margin_loss-range-before-dtype", lambda T: F(T).multilabel_margin_loss(
        X(T, 2, 4), T.tensor([[0, -1, 3, 4]] * 2).float())),
    C("multilabel_margin_loss-target-list", lambda T: F(T).multilabel_margin_loss(
        X(T, 5, 4), [1, 2])),
    C("triplet_margin_with_distance_loss-margin", lambda T: F(T).triplet_margin_with_distance_loss(
        X(T, 3, 4), X(T, 3, 4), X(T, 3, 4), margin=-1.0)),
    C("triplet_margin_loss-anchor-list", lambda T: F(T).triplet_margin_loss(
        [1.0], X(T, 3, 4), X(T, 3, 4))),
    C("margin_ranking_loss-margin-str", lambda T: F(T).margin_ranking_loss(
        X(T, 3), X(T, 3), X(T, 3), margin="a")),
    C("hinge_embedding_loss-margin-str", lambda T: F(T).hinge_embedding_loss(
        X(T, 3), X(T, 3), margin="a")),
    C("cosine_embedding_loss-margin-str", lambda T: F(T).cosine_embedding_loss(
        X(T, 3, 4), X(T, 3, 4), X(T, 3), margin="a")),
    C("margin_ranking_loss-ranks", lambda T: F(T).margin_ranking_loss(X(T, 3), X(T, 3),
                                                                      X(T, 3, 2)),
      r"All input tensors should have same dimension but got sizes: input1: \w+\.Size\(\[3\]\)"),

    # -- shrinks -------------------------------------------------------------------------------
    C("softshrink-negative-float32", lambda T: F(T).softshrink(X(T, 3), -0.5)),
    C("softshrink-negative-float64", lambda T: F(T).softshrink(X(T, 3, dtype="float64"), -1)),
    C("softshrink-over-float16-max", lambda T: F(T).softshrink(X(T, 3, dtype="float16"),
                                                              70000.0)),
    C("softshrink-nan", lambda T: F(T).softshrink(X(T, 3), float("nan"))),
    C("softshrink-inf", lambda T: F(T).softshrink(X(T, 3), float("inf"))),
    C("softshrink-str-before-dtype", lambda T: F(T).softshrink(X(T, 3, dtype="int64"), "a")),
    C("softshrink-dtype-before-lambda", lambda T: F(T).softshrink(X(T, 3, dtype="int64"), -1)),
    C("hardshrink-none", lambda T: F(T).hardshrink(X(T, 3), None)),
]


@pytest.mark.parametrize("call, regex", CASES)
def test_same_error_as_torch(call, regex):
    check_same_error(call, regex, whole=False)


@pytest.mark.parametrize("input_shape, target_shape", [((1, 4), ()), ((), (1,)), ((4,), ()),
                                                       ((5, 4), (5,))])
def test_multi_margin_loss_unreduced_has_the_targets_shape(input_shape, target_shape):
    """A one-row batch takes a 0-d target too; 'none' gives the target's shape, as torch."""
    results = []
    for lib in (torch, minigrad):
        x = X(lib, *input_shape)
        results.append(F(lib).multi_margin_loss(x, L(lib, *target_shape, add=0),
                                                reduction="none"))
    assert tuple(results[1].shape) == tuple(results[0].shape)
    np.testing.assert_allclose(results[1].numpy(), results[0].numpy(), rtol=1e-6)


def test_pool_checks_pass_a_valid_window():
    """The reordered window checks still let through what torch computes (a pad of half the
    kernel, a dilated window) with torch's values."""
    for lib_call in (lambda T: F(T).max_pool2d(X(T, 1, 2, 7, 7), 3, padding=1, dilation=2),
                     lambda T: F(T).avg_pool2d(X(T, 1, 2, 7, 7), 3, stride=2, padding=1)):
        np.testing.assert_allclose(lib_call(minigrad).numpy(), lib_call(torch).numpy(),
                                   rtol=1e-6)
