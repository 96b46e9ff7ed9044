"""Times a user's training step per batch size, then profiles it per function.

For each batch size B: make(B) builds the step (untimed), warm-up calls, then timed calls with
no profiler (the step's true wall and CPU time), then as many calls again under CallProfiler
(where the time goes, per function). The profiler's cost is measured as the profiled steps'
extra time over the plain ones.

    rows = time_batches(make, [1, 16, 64], images=512, on_row=print)
"""
import ctypes
import math
import os
import time

from batchscope.call_profiler import CallProfiler


class BlasThreads:
    """The thread count of the BLAS this process loaded (OpenBLAS or MKL), set through its own
    C API as threadpoolctl does; available is False for any other (or none). Looked up when
    first used, since the user's code may import NumPy only when it builds its step."""

    def __init__(self):
        self.name, self._get, self._set = None, None, None

    def _find(self):
        if self._set:
            return
        try:
            with open("/proc/self/maps") as f:
                paths = sorted({line.split()[-1] for line in f if "/" in line})
        except OSError:
            paths = []
        for p in paths:
            base = os.path.basename(p)
            try:
                if "openblas" in base:
                    lib = ctypes.CDLL(p)
                    self.name, self._get, self._set = base, lib.openblas_get_num_threads, lib.openblas_set_num_threads
                elif base.startswith("libmkl_rt"):
                    lib = ctypes.CDLL(p)
                    self.name, self._get, self._set = base, lib.mkl_get_max_threads, lib.mkl_set_num_threads
            except (OSError, AttributeError):
                continue
            if self._set:
                return

    @property
    def available(self):
        self._find()
        return self._set is not None

    def get(self):
        self._find()
        return int(self._get()) if self._get else None

    def set(self, n):
        if self._set:
            self._set(int(n))


class StepError(Exception):
    """The user's function or step failed; the message says which and how."""


def warmup_steps(batch):
    return max(2, math.ceil(64 / batch))


def timed_steps(batch, images):
    return max(3, images // batch)


def _build(make, batch, where):
    try:
        step = make(batch)
    except Exception as e:  # the user's code: any exception is theirs to see
        raise StepError(f"{where}({batch}) raised {type(e).__name__}: {e}") from e
    if not callable(step):
        raise StepError(f"{where}({batch}) returned {type(step).__name__}; expected a callable "
                        f"that runs one training step on a batch of {batch}")
    return step


def _run(step, n, where, batch):
    try:
        for _ in range(n):
            step()
    except Exception as e:
        raise StepError(f"the step from {where}({batch}) raised {type(e).__name__}: {e}") from e


def _per_step(prof, steps):
    return {key: {"calls": s.calls / steps, "self_wall": s.self_wall / steps, "incl_wall": s.incl_wall / steps,
                  "self_cpu": s.self_cpu / steps, "incl_cpu": s.incl_cpu / steps}
            for key, s in prof.stats.items()}


def time_batch(make, batch, images, where="FUNC", blas=None):
    """One row: timings of plain and profiled steps at `batch`, and per-function stats. With
    `blas` (a BlasThreads running more than one thread) the profiled steps run once more with
    the BLAS on one thread: the functions that slow down then are the ones BLAS ran on several.
    (CPU time cannot tell: OpenBLAS's idle threads spin, so they burn CPU between calls too.)"""
    step = _build(make, batch, where)
    warm, steps = warmup_steps(batch), timed_steps(batch, images)
    _run(step, warm, where, batch)
    w0, c0 = time.perf_counter(), time.process_time()
    _run(step, steps, where, batch)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    prof = CallProfiler()
    w1 = time.perf_counter()
    with prof:
        _run(step, steps, where, batch)
    profiled = time.perf_counter() - w1
    one_thread = None
    if blas is not None and blas.available and (blas.get() or 1) > 1:
        threads = blas.get()
        prof1 = CallProfiler()
        blas.set(1)
        try:
            w2 = time.perf_counter()
            with prof1:
                _run(step, steps, where, batch)
            one_thread = {"blas_threads": threads, "profiled_step_seconds": (time.perf_counter() - w2) / steps,
                          "functions": _per_step(prof1, steps)}
        finally:
            blas.set(threads)
    flops = getattr(step, "flops_per_image", None)
    return {
        "batch_size": batch, "warmup_steps": warm, "steps": steps,
        "seconds": wall, "cpu_seconds": cpu,
        "step_seconds": wall / steps, "cpu_per_wall": cpu / wall if wall > 0 else 0.0,
        "images_per_second": steps * batch / wall if wall > 0 else 0.0,
        "profiled_step_seconds": profiled / steps,
        "profiler_overhead": profiled / wall - 1 if wall > 0 else 0.0,
        "profile_events_per_step": prof.events / steps,
        "flops_per_image": float(flops) if flops is not None else None,
        "functions": _per_step(prof, steps),  # per step, from the profiled run
        "blas_one_thread": one_thread,          # the same, with the BLAS on one thread
    }


def time_batches(make, batches, images, where="FUNC", on_row=None, blas=None):
    rows = []
    for b in batches:
        rows.append(time_batch(make, b, images, where, blas))
        if on_row:
            on_row(rows[-1])
    return rows


def fit_line(batches, step_seconds):
    """t(B) = a + b*B by least squares on the per-image time t/B against 1/B, as batchscope's
    epoch cost model t_epoch(B) = N*(a/B + b) is fitted. Returns (a, b, r2 of t_epoch)."""
    n = len(batches)
    if n < 2 or len(set(batches)) < 2:
        return 0.0, 0.0, 0.0
    xs = [1.0 / b for b in batches]
    ys = [t / b for t, b in zip(step_seconds, batches)]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    a = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    b = my - a * mx
    # R^2 on the epoch time (proportional to the per-image time).
    pred = [a * x + b for x in xs]
    ss_res = sum((y - p) ** 2 for y, p in zip(ys, pred))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return a, b, (1 - ss_res / ss_tot) if ss_tot > 0 else 1.0
