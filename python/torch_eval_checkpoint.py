#!/usr/bin/env python3
"""Proves a batchscope checkpoint is a PyTorch state_dict: builds the same network as a
torch.nn.Sequential from the checkpoint's model spec, loads the weights with
load_state_dict(strict=True), and reports test accuracy on an IDX test set.

Usage: torch_eval_checkpoint.py CHECKPOINT.safetensors [DATA_DIR]   (Debian: python3-torch)
"""
import gzip
import math
import os
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_to_torch import load_safetensors  # noqa: E402


def sequential_from_spec(spec, in_shape):
    """conv2d:K:R:stride=S:pad=P, relu, maxpool2d:R:stride=S, flatten, dense:O, dropout:p."""
    layers, shape = [], list(in_shape)
    for token in spec.split(","):
        kind, *args = token.split(":")
        pos = [a for a in args if "=" not in a]
        kw = dict(a.split("=", 1) for a in args if "=" in a)
        if kind == "conv2d":
            k, r = int(pos[0]), int(pos[1])
            s, p = int(kw.get("stride", 1)), int(kw.get("pad", 0))
            layers.append(nn.Conv2d(shape[0], k, r, stride=s, padding=p))
            shape = [k] + [(d + 2 * p - r) // s + 1 for d in shape[1:]]
        elif kind == "maxpool2d":
            r = int(pos[0])
            s = int(kw.get("stride", r))
            layers.append(nn.MaxPool2d(r, stride=s))
            shape = [shape[0]] + [(d - r) // s + 1 for d in shape[1:]]
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "flatten":
            layers.append(nn.Flatten())
            shape = [math.prod(shape)]
        elif kind == "dropout":
            layers.append(nn.Dropout(float(pos[0]) if pos else float(kw.get("p", 0.5))))
        elif kind == "dense":
            layers.append(nn.Linear(shape[0], int(pos[0])))
            shape = [int(pos[0])]
        else:
            raise ValueError(f"unknown layer '{kind}' in spec '{spec}'")
    return nn.Sequential(*layers)


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        blob = f.read()
    magic, = struct.unpack(">I", blob[:4])
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, blob[4:4 + 4 * rank])
    return torch.frombuffer(bytearray(blob[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)


def find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{data_dir}: no {stem}[.gz]")


def main():
    ckpt = sys.argv[1]
    data_dir = sys.argv[2] if len(sys.argv) > 2 else "data/mnist"
    tensors, meta = load_safetensors(ckpt)
    in_shape = [int(x) for x in meta["input_shape"].split(",")]
    net = sequential_from_spec(meta["model"], in_shape)
    state = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    net.load_state_dict(state, strict=True)
    net.eval()
    images = read_idx(find(data_dir, "t10k-images-idx3-ubyte")).float() / 255.0
    labels = read_idx(find(data_dir, "t10k-labels-idx1-ubyte")).long()
    x = ((images - float(meta["norm_mean"])) / float(meta["norm_std"])).unsqueeze(1)
    with torch.no_grad():
        pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    acc = (pred == labels).float().mean().item()
    print(f"torch {torch.__version__}: loaded {len(state)} tensors into {type(net).__name__} "
          f"of {len(net)} modules; test accuracy {100 * acc:.2f}% on {len(labels)} images")


if __name__ == "__main__":
    main()
