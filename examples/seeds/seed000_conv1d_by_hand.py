"""Seed 000 ("Convolution Explained"): what a Conv1d layer computes, checked by hand.

The experiment: a Conv1d with 2 input channels, 3 output channels and kernels 4 wide runs
over one signal of length 11, giving 11 - 4 + 1 = 8 outputs per channel; MaxPool1d(2)
keeps the larger of each pair, 4 per channel.  Every output number is one window of the input
(both channels, 4 positions) times one output channel's kernel, summed, plus that channel's
bias -- which the program recomputes without the layer.

Part 1 uses a random signal and layer (``minigrad.manual_seed(0)``).  Part 2 starts from the
signal the tutorial prints, solves for the kernel and bias that turn it into the convolution
output the tutorial prints (8 windows, 8 weights per output channel: a square linear system),
and then recomputes the tutorial's other printed numbers -- the max-pool output and the
by-hand sums -- from that layer.  (The solved biases, 0.82, 1.35 and -2.08, are outside the
range +-1/sqrt(8) = +-0.35 a fresh layer draws them from; the printed numbers are consistent
with each other all the same.)

    python examples/seeds/seed000_conv1d_by_hand.py
"""
import numpy as np

import minigrad
from minigrad import nn

KERNEL, LENGTH, C_IN, C_OUT = 4, 11, 2, 3

# The numbers the tutorial prints (4 decimals): its random input, the Conv1d output, and the
# first output column summed by hand without the bias.
PRINTED_INPUT = [[0.1239, 0.5952, 1.0756, -2.2702, 1.6780, 0.0190, 0.4516, 0.4840, -0.0495,
                  -0.4430, -0.4189],
                 [-0.9282, 0.4426, 1.2979, 1.0455, -1.7439, -0.7124, -1.0452, 0.8563, -0.6842,
                  0.9176, -0.3238]]
PRINTED_CONV = [[0.1685, 0.0135, -0.1587, -0.5499, 1.1779, 0.1952, 0.6602, 0.2691],
                [0.5304, -0.3837, -0.2284, 1.5512, -0.1850, 0.7031, -0.0674, 0.1530],
                [-1.0494, 2.0614, -0.5140, 0.4273, -1.5438, -0.4942, -0.6291, 0.0829]]
PRINTED_POOL = [[0.1685, -0.1587, 1.1779, 0.6602],
                [0.5304, 1.5512, 0.7031, 0.1530],
                [2.0614, 0.4273, -0.4942, 0.0829]]
PRINTED_SUM_NO_BIAS = [-0.6469, -0.8232, 1.0262]


def first_column_by_hand(signal, layer):
    """Output position 0 of ``layer(signal)`` without the layer: window x kernel, summed."""
    window = signal[:, :, :KERNEL]                       # (1, C_in, K): what position 0 sees
    products = window * layer.weight                     # (C_out, C_in, K), broadcast
    no_bias = products.sum(dim=(1, 2))                   # one number per output channel
    return no_bias, no_bias + layer.bias


def part1_random():
    print("## 1. A random signal through Conv1d(2, 3, 4) and MaxPool1d(2)")
    minigrad.manual_seed(0)
    signal = minigrad.randn(1, C_IN, LENGTH)
    conv = nn.Conv1d(C_IN, C_OUT, KERNEL)
    pool = nn.MaxPool1d(2)
    out = conv(signal)
    pooled = pool(out)
    print("input", tuple(signal.shape), "-> conv", tuple(out.shape), "-> pool",
          tuple(pooled.shape))
    print("weight", tuple(conv.weight.shape), "bias", tuple(conv.bias.shape))
    _, by_hand = first_column_by_hand(signal, conv)
    gap = (by_hand - out[0, :, 0]).abs().max().item()
    print(f"first column by hand equals conv(...)[0, :, 0]: {gap < 1e-6}")
    return {"signal": signal, "conv": conv, "out": out, "pooled": pooled, "by_hand": by_hand}


def solve_layer(signal, conv_out, no_bias_first):
    """The Conv1d weights and bias that map ``signal`` (C_in, L) to ``conv_out`` (C_out, 8)."""
    bias = conv_out[:, 0] - no_bias_first
    windows = np.stack([signal[:, t:t + KERNEL].ravel() for t in range(conv_out.shape[1])])
    weight = np.linalg.solve(windows, (conv_out - bias[:, None]).T).T
    return weight.reshape(C_OUT, C_IN, KERNEL), bias


def part2_the_tutorials_numbers():
    print("\n## 2. The tutorial's printed numbers, recomputed")
    signal_np = np.array(PRINTED_INPUT)
    weight, bias = solve_layer(signal_np, np.array(PRINTED_CONV), np.array(PRINTED_SUM_NO_BIAS))
    conv = nn.Conv1d(C_IN, C_OUT, KERNEL)
    with minigrad.no_grad():
        conv.weight.copy_(minigrad.tensor(weight, dtype=minigrad.float32))
        conv.bias.copy_(minigrad.tensor(bias, dtype=minigrad.float32))
    signal = minigrad.tensor(PRINTED_INPUT).unsqueeze(0)
    out = conv(signal)
    pooled = nn.MaxPool1d(2)(out)
    no_bias, by_hand = first_column_by_hand(signal, conv)
    print("solved bias:", [round(b, 4) for b in bias.tolist()])
    print("max-pool of the conv output:")
    print(pooled.detach()[0])
    print("first column by hand:", by_hand.detach())
    print("the same without the bias:", no_bias.detach())
    checks = [("conv output", out[0], PRINTED_CONV), ("max-pool", pooled[0], PRINTED_POOL),
              ("sum without bias", no_bias, PRINTED_SUM_NO_BIAS)]
    for name, got, printed in checks:
        gap = np.abs(got.detach().numpy() - np.array(printed)).max()
        print(f"{name}: matches the tutorial to 4 decimals: {gap < 5e-5 + 1e-6}")
    return {"out": out, "pooled": pooled, "no_bias": no_bias, "by_hand": by_hand,
            "weight": weight, "bias": bias}


def main():
    return {"random": part1_random(), "printed": part2_the_tutorials_numbers()}


if __name__ == "__main__":
    main()
