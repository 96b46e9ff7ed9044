#!/usr/bin/env python3
"""The seed's CNN in NumPy, written the way its from-scratch user wrote it: a batchscope peer.

float64 arrays, im2col (stride tricks) + matrix multiply for convolutions, col2im by a loop over
kernel offsets, max-pool with a mask, plain SGD with momentum 0.9, fresh temporaries every step.
It is meant to reproduce the seed's timings, not to be fast; those assume OpenBLAS, and stderr
names the BLAS NumPy loaded. torch_cnn.py imports the command line and the IDX reader from here
(both stdlib only), so the two peers take the same flags.

Usage (from the repository root):
  python3 python/numpy_cnn.py --threads 2 --images 512 --batch-sizes 1,4,8,16,32,64,128,256
  python3 python/numpy_cnn.py --data data/mnist --train-epochs 1 --limit 6000 --batch-sizes 32

Timing mode prints one JSON object per batch size on stdout, flushed as each finishes:
  peer, model, batch_size, threads, warmup_steps, steps, images (= steps * batch_size),
  seconds (timed steps only), ms_per_iteration, images_per_second,
  seconds_per_epoch ((60000 // batch_size) iterations), loss (mean over timed steps), version.
--train-epochs prints {peer, model, batch_size, epochs, lr, images, seconds, loss, test_images,
test_accuracy, version} per batch size instead. Everything else goes to stderr. Exit codes:
0 ok, 1 bad data file, 2 bad flags, 3 NumPy not installed.
"""
import argparse
import collections
import gzip
import json
import math
import os
import struct
import sys
import time

PROG = os.path.basename(sys.argv[0])
MEAN, STD = 0.1307, 0.3081  # MNIST's pixel mean and standard deviation after /255
EPOCH_IMAGES = 60000        # seconds_per_epoch is quoted for an MNIST-sized epoch

# Each model is a list of layers, shared with torch_cnn.py so both peers build the same network.
# ("conv", K): 3x3, stride 1, no padding; ("pool", k): k x k max-pool; ("dense", out).
MODELS = {
    "mnist-cnn": [("conv", 32), ("relu",), ("conv", 64), ("relu",), ("pool", 2), ("flatten",),
                  ("dense", 128), ("relu",), ("dense", 10)],
    "tiny": [("conv", 8), ("relu",), ("pool", 2), ("flatten",), ("dense", 10)],
}
CONV_SIZE = 3


def log(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def fail(msg, code):
    log(msg)
    sys.exit(code)


# ---------------------------------------------------------------- command line (shared)

def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _batch_sizes(text):
    return [_positive(part) for part in text.split(",")]


def _warmup(text):
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is neither 'auto' nor an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def parse_args(description):
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--threads", type=_positive, default=len(os.sched_getaffinity(0)),
                   help="threads for the maths library")
    p.add_argument("--images", type=_positive, default=1024,
                   help="images timed per batch size (steps = max(1, images // batch))")
    p.add_argument("--batch-sizes", type=_batch_sizes, default="1,4,8,16,32,64,128,256",
                   help="comma-separated batch sizes")
    p.add_argument("--warmup-steps", type=_warmup, default="auto", metavar="auto|K",
                   help="untimed steps per batch size; auto = max(2, ceil(64 / batch))")
    p.add_argument("--data", metavar="DIR",
                   help="directory with MNIST IDX files (plain or .gz); random inputs without it")
    p.add_argument("--model", choices=sorted(MODELS), default="mnist-cnn")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (momentum 0.9)")
    p.add_argument("--limit", type=_positive, metavar="K",
                   help="use only the first K training images (or K random ones)")
    p.add_argument("--train-epochs", type=_positive, metavar="E",
                   help="instead of timing: train E epochs on --data, print test accuracy")
    args = p.parse_args()
    if args.train_epochs and not args.data:
        p.error("--train-epochs needs --data")
    return args


def warmup_steps(args, batch):
    return max(2, math.ceil(64 / batch)) if args.warmup_steps is None else args.warmup_steps


def epoch_seconds(ms_per_iteration, batch):
    return (EPOCH_IMAGES // batch) * ms_per_iteration / 1000


# ---------------------------------------------------------------- IDX files (shared, stdlib)

def _read_idx(path, magic, dims):
    """Returns (shape, payload bytes) of an IDX file of uint8 with the given magic and rank."""
    kinds = {0x801: "labels", 0x803: "images"}
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        fail(f"reading '{path}': {e.strerror if getattr(e, 'strerror', None) else e}", 1)
    header = 4 + 4 * dims
    if len(raw) < header:
        fail(f"reading '{path}': {len(raw)} bytes; expected an IDX header of {header} bytes", 1)
    found = struct.unpack(">I", raw[:4])[0]
    if found != magic:
        seen = f"0x{found:08x}" + (f" ({kinds[found]})" if found in kinds else "")
        fail(f"reading '{path}': magic {seen}; expected 0x{magic:08x} ({kinds[magic]})", 1)
    shape = struct.unpack(f">{dims}I", raw[4:header])
    if dims == 3 and shape[1:] != (28, 28):
        fail(f"reading '{path}': images of {shape[1]}x{shape[2]}; expected 28x28", 1)
    expected = header + math.prod(shape)
    if len(raw) != expected:
        fail(f"reading '{path}': {len(raw)} bytes; expected {expected} for shape {shape}", 1)
    return shape, raw[header:]


def _find(directory, name):
    plain = os.path.join(directory, name)
    for path in (plain, plain + ".gz"):
        if os.path.exists(path):
            return path
    fail(f"reading '{plain}': no such file (nor '{name}.gz')", 1)


def load_mnist(directory, split, limit=None):
    """Returns (n, image bytes [n*28*28], label bytes [n]) of split 'train' or 't10k'."""
    img_path = _find(directory, f"{split}-images-idx3-ubyte")
    lbl_path = _find(directory, f"{split}-labels-idx1-ubyte")
    (n, _, _), images = _read_idx(img_path, 0x803, 3)
    (m,), labels = _read_idx(lbl_path, 0x801, 1)
    if m != n:
        fail(f"reading '{lbl_path}': {m} labels; expected {n}, one per image in '{img_path}'", 1)
    if n and max(labels) > 9:
        fail(f"reading '{lbl_path}': label {max(labels)}; expected 0..9", 1)
    if limit is not None and limit < n:
        n, images, labels = limit, images[:limit * 784], labels[:limit]
    return n, images, labels


def blas_note():
    """Names the BLAS, LAPACK and oneDNN libraries this process has loaded (Linux only), and
    warns about the reference BLAS, which leaves every matrix multiply unoptimised."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return "loaded BLAS unknown"
    libs = sorted(os.path.join(os.path.basename(os.path.dirname(p)), os.path.basename(p))
                  for p in paths if any(w in os.path.basename(p) for w in ("blas", "mkl", "dnnl")))
    if not libs:
        return "no BLAS library found among the loaded ones"
    note = "loaded " + ", ".join(libs)
    if any(lib.startswith("blas/libblas.so") for lib in libs):
        note += ("; WARNING: that is the reference BLAS (unoptimised, one thread), several times"
                 " slower than OpenBLAS (Debian: apt-get install libopenblas0-pthread)")
    return note


def check_batches(args, n):
    too_big = [b for b in args.batch_sizes if b > n]
    if too_big:
        fail(f"--batch-sizes: {too_big[0]} is larger than the {n} training images", 2)


# ---------------------------------------------------------------- layers (NumPy, NCHW)

def im2col(x, r, s):
    """x: [N,C,H,W] in -> cols [N*P*Q, C*R*S], a copy."""
    n, c, h, w = x.shape
    p, q = h - r + 1, w - s + 1
    sn, sc, sh, sw = x.strides
    view = np.lib.stride_tricks.as_strided(x, (n, p, q, c, r, s), (sn, sh, sw, sc, sh, sw))
    return view.reshape(n * p * q, c * r * s)


def col2im(dcols, x_shape, r, s):
    """dcols: [N*P*Q, C*R*S] in -> dx [N,C,H,W], summing the overlapping windows."""
    n, c, h, w = x_shape
    p, q = h - r + 1, w - s + 1
    d = dcols.reshape(n, p, q, c, r, s)
    dx = np.zeros(x_shape)
    for i in range(r):
        for j in range(s):
            dx[:, :, i:i + p, j:j + q] += d[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dx


def conv_forward(x, w, b):
    """x: [N,C,H,W], w: [K,C,R,S], b: [K] -> y [N,K,P,Q], cols (cached for backward)."""
    n, _, h, wd = x.shape
    k, _, r, s = w.shape
    cols = im2col(x, r, s)
    y = cols @ w.reshape(k, -1).T + b
    return y.reshape(n, h - r + 1, wd - s + 1, k).transpose(0, 3, 1, 2), cols


def conv_backward(dy, cols, x_shape, w, need_dx):
    """dy: [N,K,P,Q] -> dx [N,C,H,W] (None unless need_dx), dw [K,C,R,S], db [K]."""
    k, _, r, s = w.shape
    dy_mat = dy.transpose(0, 2, 3, 1).reshape(-1, k)
    dw = (dy_mat.T @ cols).reshape(w.shape)
    db = dy_mat.sum(axis=0)
    dx = col2im(dy_mat @ w.reshape(k, -1), x_shape, r, s) if need_dx else None
    return dx, dw, db


def relu_forward(x):
    return np.maximum(x, 0)


def relu_backward(dy, y):
    """y: the forward output; the gradient passes where it is positive."""
    return dy * (y > 0)


def maxpool_forward(x, k):
    """x: [N,C,H,W] with H, W multiples of k -> y [N,C,H/k,W/k], mask of the maxima."""
    n, c, h, w = x.shape
    xr = x.reshape(n, c, h // k, k, w // k, k)
    y = xr.max(axis=(3, 5))
    return y, xr == y[:, :, :, None, :, None]


def maxpool_backward(dy, mask):
    """dy: [N,C,H/k,W/k] -> dx [N,C,H,W]; ties share the gradient (they are rare in float64)."""
    n, c, ph, k, pw, _ = mask.shape
    return (mask * dy[:, :, :, None, :, None]).reshape(n, c, ph * k, pw * k)


def dense_forward(x, w, b):
    """x: [N,IN], w: [OUT,IN] (PyTorch's layout), b: [OUT] -> y [N,OUT]."""
    return x @ w.T + b


def dense_backward(dy, x, w):
    return dy @ w, dy.T @ x, dy.sum(axis=0)


def softmax_xent(logits, labels):
    """logits: [N,10], labels: [N] -> mean loss, dlogits [N,10]."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    probs = e / e.sum(axis=1, keepdims=True)
    n = logits.shape[0]
    loss = -np.log(probs[np.arange(n), labels]).mean()
    dlogits = probs.copy()
    dlogits[np.arange(n), labels] -= 1
    return loss, dlogits / n


# ---------------------------------------------------------------- network and optimizer

class Net:
    """Parameters are named as in PyTorch's state_dict: conv1.weight, ..., fc2.bias."""

    def __init__(self, model, rng):
        self.layers, self.params = [], {}
        shape, convs, denses = (1, 28, 28), 0, 0
        for layer in MODELS[model]:
            kind = layer[0]
            if kind == "conv":
                convs += 1
                name, fan_in = f"conv{convs}", shape[0] * CONV_SIZE * CONV_SIZE
                self._init(rng, name, (layer[1], shape[0], CONV_SIZE, CONV_SIZE), fan_in)
                shape = (layer[1], shape[1] - CONV_SIZE + 1, shape[2] - CONV_SIZE + 1)
            elif kind == "dense":
                denses += 1
                name = f"fc{denses}"
                self._init(rng, name, (layer[1], shape[0]), shape[0])
                shape = (layer[1],)
            elif kind == "pool":
                name, shape = None, (shape[0], shape[1] // layer[1], shape[2] // layer[1])
            elif kind == "flatten":
                name, shape = None, (math.prod(shape),)
            else:
                name = None
            self.layers.append((kind, layer[1] if len(layer) > 1 else None, name))

    def _init(self, rng, name, shape, fan_in):
        # PyTorch's default for Conv2d and Linear: kaiming_uniform_(a=sqrt(5)) for the weight,
        # which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias.
        bound = 1 / math.sqrt(fan_in)
        self.params[name + ".weight"] = rng.uniform(-bound, bound, shape)
        self.params[name + ".bias"] = rng.uniform(-bound, bound, shape[:1])

    def loss_and_grads(self, x, labels):
        """x: [N,1,28,28] float64, labels: [N] -> mean loss, {name: gradient}."""
        p, caches = self.params, []
        for kind, arg, name in self.layers:
            if kind == "conv":
                y, cols = conv_forward(x, p[name + ".weight"], p[name + ".bias"])
                caches.append((x.shape, cols))
            elif kind == "relu":
                y = relu_forward(x)
                caches.append(y)
            elif kind == "pool":
                y, mask = maxpool_forward(x, arg)
                caches.append(mask)
            elif kind == "flatten":
                y = x.reshape(x.shape[0], -1)
                caches.append(x.shape)
            else:
                y = dense_forward(x, p[name + ".weight"], p[name + ".bias"])
                caches.append(x)
            x = y
        loss, d = softmax_xent(x, labels)
        grads = {}
        for i in reversed(range(len(self.layers))):
            kind, arg, name = self.layers[i]
            cache = caches[i]
            if kind == "conv":
                d, grads[name + ".weight"], grads[name + ".bias"] = conv_backward(
                    d, cache[1], cache[0], p[name + ".weight"], need_dx=i > 0)
            elif kind == "relu":
                d = relu_backward(d, cache)
            elif kind == "pool":
                d = maxpool_backward(d, cache)
            elif kind == "flatten":
                d = d.reshape(cache)
            else:
                d, grads[name + ".weight"], grads[name + ".bias"] = dense_backward(
                    d, cache, p[name + ".weight"])
        return loss, grads

    def logits(self, x):
        for kind, arg, name in self.layers:
            if kind == "conv":
                x = conv_forward(x, self.params[name + ".weight"], self.params[name + ".bias"])[0]
            elif kind == "relu":
                x = relu_forward(x)
            elif kind == "pool":
                x = maxpool_forward(x, arg)[0]
            elif kind == "flatten":
                x = x.reshape(x.shape[0], -1)
            else:
                x = dense_forward(x, self.params[name + ".weight"], self.params[name + ".bias"])
        return x


class Momentum:
    """SGD with (heavy-ball, not Nesterov) momentum as torch.optim.SGD does it:
    v = mu * v + g; p -= lr * v (Sutskever et al. 2013, in PyTorch's formulation)."""

    def __init__(self, params, lr, mu=0.9):
        self.params, self.lr, self.mu = params, lr, mu
        self.velocity = {name: np.zeros_like(value) for name, value in params.items()}

    def step(self, grads):
        for name, g in grads.items():
            self.velocity[name] = self.mu * self.velocity[name] + g
            self.params[name] -= self.lr * self.velocity[name]


# ---------------------------------------------------------------- data, timing, training

class Batches:
    """Rows of a uint8 image array in a shuffled order, reshuffled after each pass."""

    def __init__(self, images, labels, rng):
        self.images, self.labels, self.rng = images, labels, rng
        self.order, self.pos = rng.permutation(len(labels)), 0

    def next(self, batch):
        if self.pos + batch > len(self.order):
            self.order, self.pos = self.rng.permutation(len(self.labels)), 0
        idx = self.order[self.pos:self.pos + batch]
        self.pos += batch
        x = (self.images[idx].astype(np.float64) / 255 - MEAN) / STD
        return x, self.labels[idx]


def step(net, opt, batches, batch):
    x, labels = batches.next(batch)
    loss, grads = net.loss_and_grads(x, labels)
    opt.step(grads)
    return loss


def time_steps(args, batch, peer, version, one_step):
    """Warm-up, then timed calls of one_step() (which returns the loss): one result record."""
    warm, steps = warmup_steps(args, batch), max(1, args.images // batch)
    log(f"batch {batch}: {warm} warm-up + {steps} timed steps")
    for _ in range(warm):
        one_step()
    total_loss = 0.0
    t0 = time.perf_counter()
    for _ in range(steps):
        total_loss += one_step()
    seconds = time.perf_counter() - t0
    ms = seconds / steps * 1000
    return {"peer": peer, "model": args.model, "batch_size": batch, "threads": args.threads,
            "warmup_steps": warm, "steps": steps, "images": steps * batch,
            "seconds": round(seconds, 6), "ms_per_iteration": round(ms, 4),
            "images_per_second": round(steps * batch / seconds, 2),
            "seconds_per_epoch": round(epoch_seconds(ms, batch), 3),
            "loss": round(total_loss / steps, 6), "version": version}


def emit_results(args, train, load_test, time_batch, train_batch):
    """One JSON line per batch size: timings, or with --train-epochs the test accuracy."""
    if args.train_epochs:
        test = load_test()
        for batch in args.batch_sizes:
            print(json.dumps(train_batch(args, *train, *test, batch)), flush=True)
    else:
        for batch in args.batch_sizes:
            print(json.dumps(time_batch(args, *train, batch)), flush=True)


def time_batch(args, images, labels, batch):
    rng = np.random.default_rng(args.seed)
    net = Net(args.model, rng)
    opt = Momentum(net.params, args.lr)
    batches = Batches(images, labels, rng)
    return time_steps(args, batch, "numpy", np.__version__, lambda: step(net, opt, batches, batch))


def train_batch(args, images, labels, test_images, test_labels, batch):
    rng = np.random.default_rng(args.seed)
    net = Net(args.model, rng)
    opt = Momentum(net.params, args.lr)
    batches = Batches(images, labels, rng)
    steps = args.train_epochs * (len(labels) // batch)
    log(f"batch {batch}: training {steps} steps ({args.train_epochs} epoch(s) of {len(labels)})")
    t0, recent = time.perf_counter(), collections.deque(maxlen=100)  # loss of the last 100 steps
    for i in range(steps):
        recent.append(step(net, opt, batches, batch))
        if (i + 1) % max(1, steps // 10) == 0:
            log(f"  step {i + 1}/{steps}, loss {sum(recent) / len(recent):.4f}")
    seconds = time.perf_counter() - t0
    correct = 0
    for start in range(0, len(test_labels), 100):  # 100 at a time keeps im2col's copy small
        x = (test_images[start:start + 100].astype(np.float64) / 255 - MEAN) / STD
        correct += int((net.logits(x).argmax(axis=1) == test_labels[start:start + 100]).sum())
    return {"peer": "numpy", "model": args.model, "batch_size": batch,
            "epochs": args.train_epochs, "lr": args.lr, "images": steps * batch,
            "seconds": round(seconds, 3), "loss": round(sum(recent) / len(recent), 6),
            "test_images": len(test_labels),
            "test_accuracy": round(correct / len(test_labels), 4), "version": np.__version__}


def macs_per_image(model):
    """Multiply-adds of one image's forward pass through MODELS[model]."""
    shape, macs = (1, 28, 28), 0
    for layer in MODELS[model]:
        if layer[0] == "conv":
            p, q = shape[1] - CONV_SIZE + 1, shape[2] - CONV_SIZE + 1
            macs += layer[1] * shape[0] * CONV_SIZE * CONV_SIZE * p * q
            shape = (layer[1], p, q)
        elif layer[0] == "pool":
            shape = (shape[0], shape[1] // layer[1], shape[2] // layer[1])
        elif layer[0] == "flatten":
            shape = (math.prod(shape),)
        elif layer[0] == "dense":
            macs += shape[0] * layer[1]
            shape = (layer[1],)
    return macs


def batchscope_step(batch_size, model="mnist-cnn", seed=1):
    """The step for `python3 -m batchscope.sweep python/numpy_cnn.py:batchscope_step`: one SGD
    step of the seed's network on a batch of `batch_size` random MNIST-shaped images, drawn
    from a pool as the timing mode draws them."""
    global np
    import numpy as np
    rng = np.random.default_rng(seed)
    n = max(1024, batch_size)
    images, labels = rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)
    net = Net(model, rng)
    opt = Momentum(net.params, 0.01)
    batches = Batches(images, labels, rng)

    def one_step():
        return step(net, opt, batches, batch_size)
    # Forward, backward-data and backward-weights: three forward passes' multiply-adds, 2 FLOPs each.
    one_step.flops_per_image = 6 * macs_per_image(model)
    return one_step


def as_arrays(n, image_bytes, label_bytes):
    images = np.frombuffer(image_bytes, dtype=np.uint8).reshape(n, 1, 28, 28)
    return images, np.frombuffer(label_bytes, dtype=np.uint8).astype(np.int64)


def main():
    args = parse_args("Time (or train) the seed's NumPy CNN per batch size.")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # read once, when NumPy loads its BLAS
    global np
    try:
        import numpy as np
    except ImportError:
        fail("NumPy is not installed (Debian: apt-get install python3-numpy)", 3)
    if args.data:
        train = as_arrays(*load_mnist(args.data, "train", args.limit))
    else:
        n = args.limit or EPOCH_IMAGES
        rng = np.random.default_rng(args.seed)
        train = (rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, n))
    check_batches(args, len(train[1]))
    log(f"NumPy {np.__version__}, model {args.model}, {args.threads} thread(s), "
        f"{'data ' + args.data if args.data else 'random inputs'}, {len(train[1])} images, "
        f"lr {args.lr}, seed {args.seed}")
    log(blas_note())
    emit_results(args, train, lambda: as_arrays(*load_mnist(args.data, "t10k")), time_batch, train_batch)


if __name__ == "__main__":
    main()
