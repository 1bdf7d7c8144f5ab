"""Seed 004 ("What's Convolution", a cognitiveclass.ai lab): set a kernel by hand, then see
how kernel size, stride and padding decide the output size.

1. A 3x3 kernel with columns 1, 0, -1 (weighted 1, 2, 1 down the rows) and bias 0, written
   into a ``Conv2d`` through ``state_dict()`` (its tensors share memory with the layer), turns
   a 5x5 image whose middle column is 1 into three rows of [-4, 0, 4].
2. A 2x2 kernel of ones on a 4x4 image of ones, with the output size
   M_new = (M - K + 2p) / s + 1, rounded down:
   K 2: 3x3 of 4s; stride 2: 2x2 of 4s; stride 3: (4-2)/3 + 1 = 1.67 -> 1x1;
   stride 3 and padding 1: (4-2+2)/3 + 1 = 2.33 -> 2x2, [[1, 2], [2, 4]] (the windows at the
   corners see padding).
3. A kernel of zeros gives zeros whatever the image: here the lab's printed random 4x4 image.

    python examples/seeds/seed004_output_size.py
"""
import minigrad
from minigrad import nn

EDGE_KERNEL = [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
PRINTED_IMAGE = [[-0.4685, -1.2821, -0.2023, -0.0950], [-0.4453, -1.3130, -0.4968, -0.2610],
                 [-0.9570, 0.7594, -0.0128, -1.7785], [1.0972, 0.6900, -0.5578, -1.1260]]


def conv_with_kernel(kernel, **options):
    """A one-channel Conv2d whose weights are written through ``state_dict()``."""
    kernel = minigrad.tensor(kernel)
    conv = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=kernel.shape[0], **options)
    state = conv.state_dict()
    state["weight"][0][0] = kernel
    state["bias"][0] = 0.0
    return conv


def output_size(M, K, s=1, p=0):
    exact = (M - K + 2 * p) / s + 1
    return exact, int((M - K + 2 * p) // s + 1)


def edge_detector():
    print("## 1. A vertical-edge kernel on a vertical line")
    conv = conv_with_kernel(EDGE_KERNEL)
    print(conv)
    image = minigrad.zeros(1, 1, 5, 5)
    image[0, 0, :, 2] = 1
    z = conv(image)
    print(z.detach()[0, 0])
    return conv, z


def sizes():
    print("\n## 2. Kernel size, stride and padding: M_new = (M - K + 2p)/s + 1, rounded down")
    image = minigrad.ones(1, 1, 4, 4)
    results = {}
    for name, s, p in [("K=2", 1, 0), ("K=2, stride 2", 2, 0), ("K=2, stride 3", 3, 0),
                       ("K=2, stride 3, padding 1", 3, 1)]:
        conv = conv_with_kernel([[1.0, 1.0], [1.0, 1.0]], stride=s, padding=p)
        z = conv(image).detach()[0, 0]
        exact, size = output_size(4, 2, s, p)
        print(f"{name}: (4 - 2 + {2 * p})/{s} + 1 = {exact:.3g} -> {size}; got "
              f"{list(z.shape)}: {z.tolist()}")
        results[name] = z
    return results


def zero_kernel():
    print("\n## 3. A kernel of zeros")
    conv = conv_with_kernel([[0.0] * 3] * 3)
    z = conv(minigrad.tensor(PRINTED_IMAGE)[None, None]).detach()[0, 0]
    print(z)
    return z


def main():
    conv, z = edge_detector()
    return {"conv": conv, "z": z, "sizes": sizes(), "zeros": zero_kernel()}


if __name__ == "__main__":
    main()
