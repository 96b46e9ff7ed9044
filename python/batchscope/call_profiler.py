"""Per-function wall and CPU time of Python code, through sys.setprofile.

cProfile gives wall time only. Here every call and return, of Python functions and of built-in
(C) functions alike, also reads the process's CPU clock, which counts the CPU time of all its
threads: a function whose CPU time is about twice its wall time ran on two threads (a BLAS
matrix multiply), one whose CPU time equals its wall time ran on one (an element-wise NumPy
pass, a copy). Operators (a @ b, a * b) are not calls: their time is the calling function's.

    prof = CallProfiler()
    with prof:
        step()
    prof.stats  # {FunctionKey: Stat}

Self time is a function's time less the time of the functions it called: the self times of all
functions add up to the profiled time. Inclusive time counts everything below it.
"""
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionKey:
    file: str      # "" for a built-in
    line: int
    name: str      # qualified name, e.g. "Net.loss_and_grads" or "numpy.dot"

    def label(self):
        if not self.file:
            return f"{{built-in {self.name}}}"
        return f"{self.name} ({self.file.rsplit('/', 1)[-1]}:{self.line})"


@dataclass
class Stat:
    calls: int = 0
    self_wall: float = 0.0   # seconds
    incl_wall: float = 0.0
    self_cpu: float = 0.0    # seconds of CPU, all threads of the process
    incl_cpu: float = 0.0


def _builtin_name(fn):
    mod = getattr(fn, "__module__", None) or getattr(type(getattr(fn, "__self__", None)), "__module__", "")
    qual = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
    return f"{mod}.{qual}" if mod and mod != "builtins" else qual


class CallProfiler:
    """Accumulates Stat per FunctionKey over every profiled region (enter/exit, or `with`)."""

    def __init__(self):
        self.stats = {}
        self.events = 0
        self._stack = []  # [key, wall0, cpu0, child_wall, child_cpu]
        self._keys = {}   # code object, or a built-in's name -> FunctionKey

    def _key_for_frame(self, frame):
        code = frame.f_code
        key = self._keys.get(code)
        if key is None:
            name = getattr(code, "co_qualname", code.co_name)
            key = self._keys[code] = FunctionKey(code.co_filename, code.co_firstlineno, name)
        return key

    def _key_for_builtin(self, fn):
        # By name, not by id(fn): a bound method (x.astype) is a new object at every call, and
        # a freed one's id comes back for a different function.
        name = _builtin_name(fn)
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = FunctionKey("", 0, name)
        return key

    def _hook(self, frame, event, arg):
        wall, cpu = time.perf_counter(), time.process_time()
        self.events += 1
        if event == "call":
            self._stack.append([self._key_for_frame(frame), wall, cpu, 0.0, 0.0])
        elif event == "c_call":
            self._stack.append([self._key_for_builtin(arg), wall, cpu, 0.0, 0.0])
        elif event in ("return", "c_return", "c_exception"):
            if not self._stack:
                return  # a return from the frame that entered the profiler
            key, w0, c0, cw, cc = self._stack.pop()
            w, c = wall - w0, cpu - c0
            s = self.stats.get(key)
            if s is None:
                s = self.stats[key] = Stat()
            s.calls += 1
            s.incl_wall += w
            s.incl_cpu += c
            s.self_wall += w - cw
            s.self_cpu += c - cc
            if self._stack:
                self._stack[-1][3] += w
                self._stack[-1][4] += c

    def __enter__(self):
        self._stack.clear()
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)
        self._stack.clear()
        return False


def calibrate_event_seconds(calls=20000):
    """Seconds the profiler adds per profiled call (two events), from an empty function timed
    with and without it."""
    def empty():
        return None

    def run():
        t0 = time.perf_counter()
        for _ in range(calls):
            empty()
        return time.perf_counter() - t0

    plain = min(run() for _ in range(3))
    prof = CallProfiler()
    with prof:
        profiled = min(run() for _ in range(3))
    return max(0.0, (profiled - plain) / calls)
