"""DeZero on the benchmark's workloads, for reference (DeZero needs numpy < 1.24, so it cannot
share a process with minigrad's numpy 2; run it in its own virtualenv):

    python -m venv /tmp/dezero && /tmp/dezero/bin/pip install dezero "numpy<1.24" "matplotlib<3.8"
    OPENBLAS_NUM_THREADS=1 /tmp/dezero/bin/python benchmarks/dezero_reference.py
    python benchmarks/run.py --threads 1           # minigrad and torch, same thread count

Same shapes as benchmarks/workloads.py: seed 001's MNIST training step (batch 64, momentum
SGD), conv2d 32x64x32x32 with 64x64x3x3 and padding 1, a 2x2 max-pool of 32x64x32x32, and
Linear 64x4096 -> 4096, and conv2d 8x64x128x128 (conv2d_large), each forward + backward;
median wall-clock ms. DeZero has no conv1d, and no ResNet step is written for it here.
"""
import time, numpy as np, dezero, dezero.functions as F, dezero.layers as L
from dezero import Model, optimizers
np.random.seed(0)
class M(Model):
    def __init__(self):
        super().__init__()
        self.c1 = L.Conv2d(20, 5, in_channels=1); self.c2 = L.Conv2d(50, 5, in_channels=20)
        self.f1 = L.Linear(500, in_size=800); self.f2 = L.Linear(10, in_size=500)
    def forward(self, x):
        x = F.pooling(F.relu(self.c1(x)), 2, 2)
        x = F.pooling(F.relu(self.c2(x)), 2, 2)
        x = F.reshape(x, (x.shape[0], -1))
        return self.f2(F.relu(self.f1(x)))
m = M(); opt = optimizers.MomentumSGD(0.01).setup(m)
x = np.random.randn(64,1,28,28).astype(np.float32); t = np.random.randint(0,10,64)
def step():
    loss = F.softmax_cross_entropy(m(x), t); m.cleargrads(); loss.backward(); opt.update()
for _ in range(3): step()
ts=[]
for _ in range(15):
    s=time.perf_counter(); step(); ts.append(time.perf_counter()-s)
print("dezero mnist step ms", 1000*np.median(ts))
# conv2d 32x64x32x32 k3 pad1 fwd+bwd
W = dezero.Variable(np.random.randn(64,64,3,3).astype(np.float32)*0.05)
xv = dezero.Variable(np.random.randn(32,64,32,32).astype(np.float32))
def conv():
    y = F.conv2d(xv, W, pad=1); W.cleargrad(); xv.cleargrad(); F.sum(y).backward()
conv(); ts=[]
for _ in range(7):
    s=time.perf_counter(); conv(); ts.append(time.perf_counter()-s)
print("dezero conv2d ms", 1000*np.median(ts))
# conv2d_large: 8x64x128x128, same kernel
xbig = dezero.Variable(np.random.randn(8,64,128,128).astype(np.float32))
def conv_large():
    y = F.conv2d(xbig, W, pad=1); W.cleargrad(); xbig.cleargrad(); F.sum(y).backward()
conv_large(); ts=[]
for _ in range(3):
    s=time.perf_counter(); conv_large(); ts.append(time.perf_counter()-s)
print("dezero conv2d_large ms", 1000*np.median(ts))
xp = dezero.Variable(np.random.randn(32,64,32,32).astype(np.float32))
def pool():
    y = F.pooling(xp, 2, 2); xp.cleargrad(); F.sum(y).backward()
pool(); ts=[]
for _ in range(7):
    s=time.perf_counter(); pool(); ts.append(time.perf_counter()-s)
print("dezero maxpool ms", 1000*np.median(ts))
lin = L.Linear(4096, in_size=4096); xl = dezero.Variable(np.random.randn(64,4096).astype(np.float32))
def linf():
    y = lin(xl); lin.cleargrads(); xl.cleargrad(); F.sum(y).backward()
linf(); ts=[]
for _ in range(15):
    s=time.perf_counter(); linf(); ts.append(time.perf_counter()-s)
print("dezero linear ms", 1000*np.median(ts))
