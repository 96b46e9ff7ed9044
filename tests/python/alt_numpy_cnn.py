"""A second NumPy CNN, written unlike python/numpy_cnn.py, for testing
`python3 -m batchscope.sweep` on someone else's style of code: float32, plain functions and a
list of arrays instead of a class and a dict, convolution by np.einsum over a sliding-window
view (no im2col copy), 5x5 kernels with 8 channels, max-pool by reshape, SGD without momentum.

    python3 -m batchscope.sweep tests/python/alt_numpy_cnn.py:make_step --batch-sizes 2,16
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

K, C_OUT, CLASSES = 5, 8, 10  # 28 -conv 5-> 24 -pool 2-> 12; 8*12*12 = 1152 features


def init(rng):
    return [rng.standard_normal((C_OUT, K, K), dtype=np.float32) * 0.2, np.zeros(C_OUT, np.float32),
            rng.standard_normal((C_OUT * 12 * 12, CLASSES), dtype=np.float32) * 0.03, np.zeros(CLASSES, np.float32)]


def conv_einsum(x, w, b):
    """x [N,28,28], w [C,K,K] -> y [N,C,24,24]; windows [N,24,24,K,K] are a view, not a copy."""
    win = sliding_window_view(x, (K, K), axis=(1, 2))
    return np.einsum("nhwij,cij->nchw", win, w, optimize=True) + b[None, :, None, None], win


def pool_reshape(y):
    n, c, h, w = y.shape
    blocks = y.reshape(n, c, h // 2, 2, w // 2, 2)
    out = blocks.max(axis=(3, 5))
    return out, blocks == out[:, :, :, None, :, None]


def forward_backward(params, x, labels):
    w1, b1, w2, b2 = params
    y, win = conv_einsum(x, w1, b1)
    r = np.maximum(y, 0)
    p, mask = pool_reshape(r)
    f = p.reshape(len(x), -1)
    logits = f @ w2 + b2
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = z / z.sum(axis=1, keepdims=True)
    probs[np.arange(len(x)), labels] -= 1
    d = probs / len(x)
    dw2, db2 = f.T @ d, d.sum(axis=0)
    dp = (d @ w2.T).reshape(p.shape)
    dr = (mask * dp[:, :, :, None, :, None]).reshape(r.shape)
    dy = dr * (y > 0)
    dw1 = np.einsum("nhwij,nchw->cij", win, dy, optimize=True)
    return [dw1, dy.sum(axis=(0, 2, 3)), dw2, db2]


def sgd(params, grads, lr=0.05):
    for p, g in zip(params, grads):
        p -= lr * g


def make_step(batch_size):
    rng = np.random.default_rng(3)
    params = init(rng)
    x = rng.random((batch_size, 28, 28), dtype=np.float32)
    labels = rng.integers(0, CLASSES, batch_size)

    def step():
        sgd(params, forward_backward(params, x, labels))
    # conv 24*24*8*25 + dense 1152*10 multiply-adds forward; backward-weights of the conv and
    # both backward passes of the dense layer: about 3x the forward's FLOPs.
    step.flops_per_image = 3 * 2 * (24 * 24 * C_OUT * K * K + C_OUT * 12 * 12 * CLASSES)
    return step


# Mistakes a user can make, for the error tests.
def returns_a_number(batch_size):
    return 3


def step_that_fails(batch_size):
    def step():
        raise ValueError(f"shapes (4,{batch_size}) and (5,) do not match")
    return step


NOT_A_FUNCTION = 42
