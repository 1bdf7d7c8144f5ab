"""Seed 003 ("What Is Convolution In Neural Network?"): a small convolutional network, printed.

The network: Conv2d(1, 6, 3) and Conv2d(6, 16, 3), each followed by ReLU and 2x2 max-pooling,
then Linear(16*6*6, 120), Linear(120, 84) and Linear(84, 10).  On a 32x32 image the sizes go
32 -> 30 -> 15 -> 13 -> 6, so the first linear layer takes 16*6*6 = 576 features.  The program
prints the network as PyTorch prints it, the shapes of the two kernels' weights ([6, 1, 3, 3]
and [16, 6, 3, 3]: out channels, in channels, height, width) and the output of one forward
pass.  (The tutorial's helper that counts the flattened features returns a name it never
defines, so its network cannot run as printed; here the helper returns the count.)

    python examples/seeds/seed003_net_shapes.py
"""
import minigrad
import minigrad.nn.functional as F
from minigrad import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)            # 6 kernels of 3x3 over 1 channel
        self.conv2 = nn.Conv2d(6, 16, 3)           # 16 kernels of 3x3 over 6 channels
        self.fc1 = nn.Linear(16 * 6 * 6, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    @staticmethod
    def flat_features(x):
        count = 1
        for size in x.shape[1:]:
            count *= size
        return count

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.flat_features(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def main():
    minigrad.manual_seed(0)
    net = Net()
    print(net)
    params = list(net.parameters())
    print("conv1.weight", list(params[0].size()), " conv2.weight", list(params[2].size()))
    print("parameter tensors:", len(params), " numbers:", sum(p.numel() for p in params))
    out = net(minigrad.randn(1, 1, 32, 32))
    print("one 32x32 image ->", list(out.shape))
    return {"net": net, "params": params, "out": out}


if __name__ == "__main__":
    main()
