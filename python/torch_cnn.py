#!/usr/bin/env python3
"""The PyTorch peer of batchscope: the same networks as numpy_cnn.py, given PyTorch's best CPU
settings: torch.set_num_threads(T) with OPENBLAS_NUM_THREADS=1, because PyTorch's intra-op
threads plus OpenBLAS's own threads oversubscribe the cores otherwise.

mnist-cnn is nn.Conv2d(1,32,3), ReLU, nn.Conv2d(32,64,3), ReLU, max-pool 2, flatten,
nn.Linear(9216,128), ReLU, nn.Linear(128,10), F.cross_entropy, torch.optim.SGD(momentum=0.9),
float32. Each batch size gets a fresh network and optimizer, untimed warm-up steps, then timed
steps. The command line, the IDX reader and the JSON lines are numpy_cnn.py's (imported from it),
with "peer": "torch" and torch.__version__; exit code 3 when PyTorch is not installed.

Usage (from the repository root):
  python3 python/torch_cnn.py --threads 2 --images 1024 --batch-sizes 1,4,8,16,32,64,128,256
  python3 python/torch_cnn.py --data data/mnist --train-epochs 1 --batch-sizes 64
"""
import os
import time

from numpy_cnn import (CONV_SIZE, EPOCH_IMAGES, MEAN, MODELS, STD, blas_note, check_batches,
                       emit_results, fail, load_mnist, log, parse_args,
                       time_steps)


def build(model):
    """nn.Sequential of numpy_cnn.MODELS[model]; PyTorch's default initialisation."""
    layers, features, side = [], 1, 28
    for layer in MODELS[model]:
        kind = layer[0]
        if kind == "conv":
            layers.append(nn.Conv2d(features, layer[1], CONV_SIZE))
            features, side = layer[1], side - CONV_SIZE + 1
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "pool":
            layers.append(nn.MaxPool2d(layer[1]))
            side //= layer[1]
        elif kind == "flatten":
            layers.append(nn.Flatten())
            features *= side * side
        else:
            layers.append(nn.Linear(features, layer[1]))
            features = layer[1]
    return nn.Sequential(*layers)


class Batches:
    """Rows of a uint8 image tensor in a shuffled order, reshuffled after each pass."""

    def __init__(self, images, labels, generator):
        self.images, self.labels, self.generator = images, labels, generator
        self.order, self.pos = torch.randperm(len(labels), generator=generator), 0

    def next(self, batch):
        if self.pos + batch > len(self.order):
            self.order, self.pos = torch.randperm(len(self.labels), generator=self.generator), 0
        idx = self.order[self.pos:self.pos + batch]
        self.pos += batch
        return (self.images[idx].float() / 255 - MEAN) / STD, self.labels[idx]


def step(net, opt, batches, batch):
    x, labels = batches.next(batch)
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(net(x), labels)
    loss.backward()
    opt.step()
    return loss.item()


def fresh(args, images, labels):
    torch.manual_seed(args.seed)
    net = build(args.model)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    return net, opt, Batches(images, labels, torch.Generator().manual_seed(args.seed))


def time_batch(args, images, labels, batch):
    net, opt, batches = fresh(args, images, labels)
    return time_steps(args, batch, "torch", torch.__version__, lambda: step(net, opt, batches, batch))


def train_batch(args, images, labels, test_images, test_labels, batch):
    net, opt, batches = fresh(args, images, labels)
    steps = args.train_epochs * (len(labels) // batch)
    log(f"batch {batch}: training {steps} steps ({args.train_epochs} epoch(s) of {len(labels)})")
    t0, losses = time.perf_counter(), []
    for _ in range(steps):
        losses.append(step(net, opt, batches, batch))
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        x = (test_images.float() / 255 - MEAN) / STD
        correct = sum(int((net(x[i:i + 1000]).argmax(1) == test_labels[i:i + 1000]).sum())
                      for i in range(0, len(test_labels), 1000))
    recent = losses[-100:]
    return {"peer": "torch", "model": args.model, "batch_size": batch,
            "epochs": args.train_epochs, "lr": args.lr, "images": steps * batch,
            "seconds": round(seconds, 3), "loss": round(sum(recent) / len(recent), 6),
            "test_images": len(test_labels),
            "test_accuracy": round(correct / len(test_labels), 4), "version": torch.__version__}


def as_tensors(n, image_bytes, label_bytes):
    # bytearray: torch.frombuffer wants a writable buffer; the copy also owns its memory.
    images = torch.frombuffer(bytearray(image_bytes), dtype=torch.uint8).reshape(n, 1, 28, 28)
    return images, torch.frombuffer(bytearray(label_bytes), dtype=torch.uint8).long()


def main():
    args = parse_args("Time (or train) the PyTorch peer of the seed's CNN per batch size.")
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read once, when torch loads OpenBLAS
    global torch, nn, F
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError:
        fail("PyTorch is not installed (Debian: apt-get install python3-torch)", 3)
    torch.set_num_threads(args.threads)
    if args.data:
        train = as_tensors(*load_mnist(args.data, "train", args.limit))
    else:
        n = args.limit or EPOCH_IMAGES
        g = torch.Generator().manual_seed(args.seed)
        train = (torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g),
                 torch.randint(0, 10, (n,), generator=g))
    check_batches(args, len(train[1]))
    log(f"PyTorch {torch.__version__}, model {args.model}, {torch.get_num_threads()} thread(s), "
        f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, "
        f"{'data ' + args.data if args.data else 'random inputs'}, {len(train[1])} images, "
        f"lr {args.lr}, seed {args.seed}")
    log(blas_note())
    emit_results(args, train, lambda: as_tensors(*load_mnist(args.data, "t10k")), time_batch, train_batch)


if __name__ == "__main__":
    main()
