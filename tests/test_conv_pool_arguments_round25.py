"""Convolution and average-pool arguments of the wrong type, refused as PyTorch's parser refuses
them (round 25): a convolution's parser has two signatures (padding as ints or as a string), so
a wrong stride, padding, dilation, groups or bias fits neither and PyTorch lists both ("received
an invalid combination of arguments"); a transposed convolution's and an average pool's name
the argument, with its position only when it came by position; an int list reads a bool after
its first element as an int (its first must be an int), and a later element that is no int
fails to unpack "at pos N". Each call beside torch (``same_refusal`` / ``same_result``)."""
import pytest

from torch_agreement import run, same_refusal, same_result

X2, W2, WT = "torch.ones(1, 2, 5, 5)", "torch.ones(3, 2, 3, 3)", "torch.ones(2, 3, 3, 3)"

REFUSED = [
    # the two signatures of conv1d/2d/3d: keyword and positional
    f"F.conv2d({X2}, {W2}, stride=1.5)",
    f"F.conv2d({X2}, {W2}, None, 1.5)",
    f"F.conv2d({X2}, {W2}, stride=None)",
    f"F.conv2d({X2}, {W2}, padding=None)",
    f"F.conv2d({X2}, {W2}, padding=True)",
    f"F.conv2d({X2}, {W2}, dilation=1.0)",
    f"F.conv2d({X2}, {W2}, dilation='a')",
    f"F.conv2d({X2}, {W2}, groups=1.0)",
    f"F.conv2d({X2}, {W2}, groups=True)",
    f"F.conv2d({X2}, {W2}, groups=None)",
    f"F.conv2d({X2}, {W2}, 1.0)",
    f"F.conv2d({X2}, {W2}, stride=(True, 1))",
    "F.conv1d(torch.ones(1, 2, 5), torch.ones(3, 2, 3), stride=[1.5])",
    "F.conv3d(torch.ones(1, 2, 4, 4, 4), torch.ones(3, 2, 3, 3, 3), padding=2.5)",
    # a later element: its signature matched, the element could not be read
    f"F.conv2d({X2}, {W2}, None, (1, 1.5))",
    f"F.conv2d({X2}, {W2}, dilation=[1, None])",
    # one signature: the argument named, its position only when given by position
    f"F.conv_transpose2d({X2}, {WT}, stride=1.5)",
    f"F.conv_transpose2d({X2}, {WT}, None, 1.5)",
    f"F.conv_transpose2d({X2}, {WT}, groups=1.0)",
    f"F.conv_transpose2d({X2}, {WT}, groups=None)",
    f"F.conv_transpose2d({X2}, {WT}, dilation=None)",
    f"F.conv_transpose2d({X2}, {WT}, output_padding='a')",
    f"F.conv_transpose2d({X2}, {WT}, padding='same')",
    f"F.conv_transpose2d({X2}, {WT}, stride=(True, 1))",
    f"F.conv_transpose2d({X2}, {WT}, stride=(1, 1.5))",
    "F.avg_pool1d(torch.ones(1, 2, 5), 3, stride=1.5)",
    "F.avg_pool1d(torch.ones(1, 2, 5), 3, 1.5)",
    f"F.avg_pool2d({X2}, kernel_size=1.5)",
    f"F.avg_pool2d({X2}, 3, ceil_mode=1)",
    f"F.avg_pool2d({X2}, 3, 1, 0, 1)",
    f"F.avg_pool2d({X2}, 2, divisor_override=1.5)",
    "F.avg_pool3d(torch.ones(1, 2, 5, 5, 5), 3, padding=1.0)",
    f"F.max_pool2d({X2}, 3, stride=1.5)",
    f"F.max_pool2d({X2}, 3, ceil_mode=1)",
]


@pytest.mark.parametrize("code", REFUSED)
def test_refused_as_torch(code):
    same_refusal(run(code))


ACCEPTED = [
    # a bool after an int list's first element is read as an int
    f"F.conv2d({X2}, {W2}, dilation=(1, True))",
    f"F.conv2d({X2}, {W2}, stride=[2, True])",
    f"F.conv2d({X2}, {W2}, padding=(0, True))",
    f"F.conv_transpose2d({X2}, {WT}, stride=(1, True))",
    f"F.max_pool2d({X2}, (2, True))",
]


@pytest.mark.parametrize("code", ACCEPTED)
def test_accepted_as_torch(code):
    same_result(run(code))
