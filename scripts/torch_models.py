"""torch_models.py — the PyTorch twins of lqabench's models (models/*.c), one definition shared by
the cross-checks (tests/torch_*.py) and the PyTorch bench (scripts/bench_torch.py), and the
readers those share: MNIST's idx files (read_idx, load_mnist) and the meta.txt of a
tools/dump_model dump (read_dump_meta).

    import sys; sys.path.insert(0, "scripts")
    import torch_models
    net = torch_models.build("resnet18", 3, 32, 32, width=64)

The parameters come in the order of each model's tensor table in lqabench (models/*.c), so a flat
parameter vector of one loads into the other. `act` is the ReLU every model applies (default
torch.nn.functional.relu): the models check passes one that also records how close its inputs
come to 0.
"""
import gzip
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    """logreg (no hidden layer) and mlp (784-1000-1000-10): flatten, linear layers, ReLU between."""

    def __init__(self, n_in, hidden, classes=10, act=F.relu):
        super().__init__()
        sizes = [n_in] + list(hidden) + [classes]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.act = act

    def forward(self, x):
        x = torch.flatten(x, 1)
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i + 1 < len(self.fcs):
                x = self.act(x)
        return x


class LeNet(nn.Module):
    """lenet5 (max pooling) / cnn2 (average pooling); pad 2 on 28×28 inputs only."""

    def __init__(self, c, h, w, maxpool, classes=10, act=F.relu):
        super().__init__()
        pad = 2 if (h, w) == (28, 28) else 0
        self.pool = F.max_pool2d if maxpool else F.avg_pool2d
        self.act = act
        self.conv1 = nn.Conv2d(c, 6, 5, padding=pad)
        self.conv2 = nn.Conv2d(6, 16, 5)
        h2 = ((h + 2 * pad - 4) // 2 - 4) // 2
        w2 = ((w + 2 * pad - 4) // 2 - 4) // 2
        self.fc1 = nn.Linear(16 * h2 * w2, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)), 2)
        x = self.pool(self.act(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, act=F.relu):
        super().__init__()
        self.act = act
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.downsample is None else self.downsample(x)
        return self.act(out + sc)


class ResNet18(nn.Module):
    """CIFAR ResNet-18: 3×3 stem, no max-pool, [2,2,2,2] BasicBlocks of width, 2·width, 4·width,
    8·width channels (strides 1/2/2/2), global average pool, FC."""

    def __init__(self, c, width=64, classes=10, act=F.relu):
        super().__init__()
        w = width
        self.act = act
        self.conv1 = nn.Conv2d(c, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        layers, cin = [], w
        for stage in range(4):
            cout = w << stage
            stride = 1 if stage == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, cout, stride, act),
                                        BasicBlock(cout, cout, 1, act)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.act(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def build(name, c, h, w, width=0, classes=10, act=F.relu):
    """The twin of lqabench's model `name` on c×h×w inputs (width: resnet18's, 0 = 64)."""
    if name == "logreg":
        return MLP(c * h * w, (), classes, act)
    if name == "mlp":
        return MLP(c * h * w, (1000, 1000), classes, act)
    if name in ("lenet5", "cnn2"):
        return LeNet(c, h, w, name == "lenet5", classes, act)
    if name == "resnet18":
        return ResNet18(c, width if width > 0 else 64, classes, act)
    raise ValueError("unknown model %r" % (name,))


# ---------------------------------------------------------------------------------------------
# Readers shared by the cross-checks.

def read_idx(path):
    """An unsigned-byte idx file (MNIST format) at path or path + ".gz", as a uint8 array of its
    dimensions; read independently of lqabench's loader."""
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with (gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")) as f:
                data = f.read()
            break
    else:
        raise FileNotFoundError(path)
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_mnist(data_dir, limit):
    """The first `limit` MNIST training samples in data_dir: x [limit][784] float32 in [0, 1]
    (pixel / 255, as lqabench's "unit" normalisation), y int64 labels, both torch tensors."""
    x = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte"))[:limit]
    y = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte"))[:limit]
    x = x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64))


def read_dump_meta(out):
    """meta.txt of a tools/dump_model dump in directory out: ({key: value string}, {k: the loss
    of SGD step k}) — the second empty without --sgd-steps."""
    meta, sgd = {}, {}
    with open(os.path.join(out, "meta.txt")) as f:
        for line in f:
            k, *v = line.split()
            if k == "sgd_loss":
                sgd[int(v[0])] = float(v[1])
            else:
                meta[k] = v[0]
    return meta, sgd
