"""Seed 001 ("Convolution details in PyTorch"): shapes, an edge kernel, parameter counts.

Six small experiments:

1. ``F.conv1d`` on a batch of 2 one-channel signals of width 2 with one width-2 filter gives
   one number per signal (size ``[2, 1, 1]``); run here on the very inputs the tutorial prints.
2. ``F.conv2d`` with a 3x3 horizontal-edge kernel (rows 1, 0, -1) and padding 1 keeps a 28x28
   digit 28x28 and lights up its horizontal strokes.
3. The MNIST network -- Conv2d(1, 20, 5), pool, Conv2d(20, 50, 5), pool, Linear(4*4*50, 500),
   Linear(500, 10) -- traced on a batch of 64: where the 800 of ``4*4*50`` comes from.
4. ``Conv2d(5, 10, 2, 2)`` holds 10*5*2*2 = 200 weights and 10 biases.
5. A stride-2 convolution is not a stride-1 convolution followed by 2x2 max-pooling: same
   shape, other numbers.
6. ``bias=False`` leaves a layer without a bias.

    python examples/seeds/seed001_conv_details.py
"""
import minigrad
import minigrad.nn.functional as F
from minigrad import nn

# The tutorial's printed inputs and filter for the conv1d example, and what it printed.
PRINTED_INPUTS = [[[-1.3681, 0.8410]], [[-1.1009, 0.0678]]]
PRINTED_FILTERS = [[[1.5199, 0.8276]]]
PRINTED_RESULT = [-1.3833, -1.6172]


def conv1d_example():
    print("## 1. conv1d: batch 2, one channel, width 2; one filter of width 2")
    inputs, filters = minigrad.tensor(PRINTED_INPUTS), minigrad.tensor(PRINTED_FILTERS)
    res = F.conv1d(inputs, filters)
    print("size:", res.size())
    print("values:", [round(v, 4) for v in res.flatten().tolist()],
          "(the tutorial prints", PRINTED_RESULT, "from its unrounded inputs)")
    return res


def stand_in_digit():
    """A 28x28 "7" in 0..255: a horizontal bar on top and a slanted stroke below it."""
    img = minigrad.zeros(28, 28)
    img[5:8, 6:22] = 255.0
    for row in range(8, 24):
        left = 20 - (row - 8) // 2
        img[row, left:left + 3] = 255.0
    return img


def edge_example():
    print("\n## 2. conv2d with a horizontal-edge kernel, padding 1")
    img = (stand_in_digit() / 255).reshape(1, 1, 28, 28)
    k = minigrad.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]]).reshape(1, 1, 3, 3)
    res = F.conv2d(img, k, padding=1)
    print("image", img.size(), "kernel", k.size(), "->", res.size())
    print("the kernel sums to", k.sum().item(), "so flat regions give 0; strongest responses:",
          res.max().item(), res.min().item())
    return img, k, res


def mnist_trace():
    print("\n## 3. The MNIST network, size after every step (batch of 64)")
    minigrad.manual_seed(0)
    conv1, conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
    fc1, fc2 = nn.Linear(4 * 4 * 50, 500), nn.Linear(500, 10)
    steps = [("input", lambda x: x),
             ("view(-1, 1, 28, 28)", lambda x: x.view(-1, 1, 28, 28)),
             ("relu(conv1)", lambda x: F.relu(conv1(x))),
             ("max_pool2d 2", lambda x: F.max_pool2d(x, 2)),
             ("relu(conv2)", lambda x: F.relu(conv2(x))),
             ("max_pool2d 2", lambda x: F.max_pool2d(x, 2)),
             ("view(N, -1)", lambda x: x.view(x.size(0), -1)),
             ("relu(fc1)", lambda x: F.relu(fc1(x))),
             ("fc2", fc2)]
    x = minigrad.randn(64, 784)
    sizes = []
    for name, step in steps:
        x = step(x)
        sizes.append(list(x.shape))
        print(f"  {name:<20} {list(x.shape)}")
    print("28 -5+1-> 24 -pool-> 12 -5+1-> 8 -pool-> 4, so fc1 takes 4*4*50 =", 4 * 4 * 50)
    return sizes


def parameter_count():
    print("\n## 4. Parameters of Conv2d(5, 10, 2, 2)")
    c = nn.Conv2d(5, 10, 2, 2)
    for name, p in c.named_parameters():
        print(f"  {name}: {list(p.size())}, {p.nelement()} numbers")
    return c


def stride_versus_pool():
    print("\n## 5. Stride 2, or stride 1 and max-pool 2?")
    minigrad.manual_seed(1)
    image, kernel = minigrad.randn(1, 1, 6, 6), minigrad.randn(1, 1, 3, 3)
    strided = F.conv2d(image, kernel, stride=2)
    pooled = F.max_pool2d(F.conv2d(image, kernel, stride=1), 2)
    print("shapes:", list(strided.shape), list(pooled.shape))
    print("same values:", bool((strided - pooled).abs().max() < 1e-6))
    return strided, pooled


def no_bias():
    print("\n## 6. A convolution without bias")
    layer = nn.Conv2d(1, 20, 5, bias=False)
    print(layer, "| bias:", layer.bias)
    return layer


def main():
    return {"conv1d": conv1d_example(), "edge": edge_example(), "sizes": mnist_trace(),
            "count": parameter_count(), "stride": stride_versus_pool(), "no_bias": no_bias()}


if __name__ == "__main__":
    main()
