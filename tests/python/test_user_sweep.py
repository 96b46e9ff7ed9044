"""`python3 -m batchscope.sweep` as a user runs it, on the seed's NumPy CNN (python/numpy_cnn.py)
and on a differently written one (alt_numpy_cnn.py), plus its pieces: the profiler's
bookkeeping, the cost-model fit, and every bad input's one-line error. Timings are never
asserted, only the report's shape and the facts that do not depend on speed.

    PYTHONPATH=python /usr/bin/python3 -m unittest discover -s tests/python -v
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))

from batchscope.call_profiler import CallProfiler  # noqa: E402
from batchscope.step_timing import fit_line  # noqa: E402

ALT = os.path.join(REPO, "tests", "python", "alt_numpy_cnn.py")
SEED = os.path.join(REPO, "python", "numpy_cnn.py")


def sweep(*args):
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    return subprocess.run([sys.executable, "-m", "batchscope.sweep", *args], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)


class Pieces(unittest.TestCase):
    def test_self_times_add_up_and_nest(self):
        leaf_cpu = []

        def leaf():
            t, c = time.perf_counter(), time.process_time()
            while time.perf_counter() - t < 0.02:
                pass
            leaf_cpu.append(time.process_time() - c)

        def parent():
            leaf()
            leaf()
            t = time.perf_counter()
            while time.perf_counter() - t < 0.01:
                pass

        prof = CallProfiler()
        with prof:
            parent()
        by_name = {k.name: s for k, s in prof.stats.items()}
        p, l = by_name["Pieces.test_self_times_add_up_and_nest.<locals>.parent"], \
            by_name["Pieces.test_self_times_add_up_and_nest.<locals>.leaf"]
        self.assertEqual(l.calls, 2)
        self.assertEqual(p.calls, 1)
        self.assertGreaterEqual(l.incl_wall, 0.04)
        # Everything ran inside parent: the self times of all functions add up to its inclusive time.
        self.assertAlmostEqual(sum(s.self_wall for s in prof.stats.values()), p.incl_wall, delta=0.002)
        self.assertLessEqual(l.incl_wall, p.incl_wall - p.self_wall + 1e-9)
        # The parent's own 10 ms loop lies outside its children's calls (part of it is spent in
        # the built-in perf_counter it calls, which counts as a child of its own, so the
        # parent's self time alone depends on how often the machine preempts those calls).
        self.assertGreaterEqual(p.incl_wall - l.incl_wall, 0.01)
        # CPU time is the process's, as the leaf itself measured it (how much of the wall time
        # that is depends on what else the machine runs, so it is not asserted), and never more
        # than one busy thread's worth.
        self.assertAlmostEqual(l.incl_cpu, sum(leaf_cpu), delta=0.004)
        self.assertLess(l.incl_cpu, 1.2 * l.incl_wall)
        # Built-ins are counted by name, without a file.
        self.assertTrue(any(not k.file and "perf_counter" in k.name for k in prof.stats))

    def test_fit_recovers_the_line(self):
        a, b = 2e-3, 5e-4
        bs = [1, 4, 16, 64, 256]
        fa, fb, r2 = fit_line(bs, [a + b * x for x in bs])
        self.assertAlmostEqual(fa, a, places=12)
        self.assertAlmostEqual(fb, b, places=12)
        self.assertAlmostEqual(r2, 1.0, places=9)
        self.assertEqual(fit_line([8, 8], [1.0, 1.0]), (0.0, 0.0, 0.0))


class SeedNet(unittest.TestCase):
    """The network of the question this project answers, profiled per function."""

    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.mkdtemp()
        cls.r = sweep(f"{SEED}:batchscope_step", "--batch-sizes", "1,8,32", "--images", "32",
                      "--threads", "1", "--peak", "100", "--json", "--out", cls.out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, ignore_errors=True)

    def test_runs_and_reports_every_batch(self):
        self.assertEqual(self.r.returncode, 0, self.r.stderr)
        j = json.loads(self.r.stdout)
        self.assertEqual([x["batch_size"] for x in j["results"]], [1, 8, 32])
        for x in j["results"]:
            self.assertGreater(x["step_seconds"], 0)
            self.assertGreater(x["cpu_per_wall"], 0)
            # 3 passes x 2 FLOPs x 11,992,448 multiply-adds of mnist-cnn's forward
            self.assertEqual(x["flops_per_image"], 6 * 11992448)
            self.assertGreater(x["percent_of_peak"], 0)
        self.assertGreater(j["cost_model"]["b_seconds_per_image"], 0)
        names = " ".join(f["function"] for f in j["functions_self"])
        for fn in ("conv_backward", "conv_forward"):
            self.assertIn(fn, names)
        inclusive = " ".join(f["function"] for f in j["functions_inclusive"])
        self.assertIn("Net.loss_and_grads", inclusive)
        # The self-time pieces add up to the step at every batch size.
        for i, x in enumerate(j["results"]):
            total = sum(f["seconds_per_step"][i] for f in j["functions_self"])
            self.assertAlmostEqual(total, x["step_seconds"], delta=1e-9 + 1e-6 * x["step_seconds"])
        text = " ".join(j["explanation"])
        for phrase in ("t_epoch(B) = N*(a/B + b)", "fixed cost per step", "cost per image", "Threads:",
                       "GFLOP/s", "profiler's own cost", "100.0 GFLOP/s"):
            self.assertIn(phrase, text)

    def test_writes_the_four_files(self):
        self.assertEqual(self.r.returncode, 0, self.r.stderr)
        self.assertEqual(sorted(os.listdir(self.out)), ["epoch_time.svg", "sweep.csv", "sweep.json", "sweep.md"])
        with open(os.path.join(self.out, "sweep.md")) as f:
            md = f.read()
        self.assertIn("## Where it goes, per function", md)
        self.assertIn("| conv_backward", md)
        with open(os.path.join(self.out, "sweep.csv")) as f:
            rows = list(csv.DictReader(io.StringIO(f.read())))
        self.assertEqual([r["batch_size"] for r in rows if r["kind"] == "step"], ["1", "8", "32"])
        self.assertTrue(any(r["kind"] == "function_self" and "conv_backward" in r["name"] for r in rows))
        ET.parse(os.path.join(self.out, "epoch_time.svg"))  # well-formed
        with open(os.path.join(self.out, "sweep.json")) as f:
            json.load(f)


class AnotherNet(unittest.TestCase):
    def test_a_differently_written_cnn(self):
        r = sweep(f"{ALT}:make_step", "--batch-sizes", "2,16", "--images", "32", "--threads", "1",
                  "--peak", "none")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("# batchscope sweep of your step", r.stdout)
        self.assertIn("forward_backward (alt_numpy_cnn.py:", r.stdout)
        self.assertIn("not compared (--peak none)", r.stdout)
        self.assertIn("GFLOP/s", r.stdout)  # FLOPs from step.flops_per_image, no peak to compare


class BadInput(unittest.TestCase):
    def expect(self, args, code, *phrases):
        r = sweep(*args)
        self.assertEqual(r.returncode, code, r.stderr)
        lines = [l for l in r.stderr.splitlines() if "error:" in l]
        self.assertEqual(len(lines), 1, r.stderr)
        for p in phrases:
            self.assertIn(p, lines[0])
        self.assertEqual(r.stdout, "")

    def test_each_mistake_is_one_line(self):
        self.expect(["nosuch.py:f"], 2, "'nosuch.py': no such file")
        self.expect([f"{ALT}"], 2, "expected FILE.py:FUNC")
        self.expect([f"{ALT}:nosuch"], 2, "has no function 'nosuch'")
        self.expect([f"{ALT}:NOT_A_FUNCTION"], 2, "'NOT_A_FUNCTION' is a int, not a function")
        self.expect([f"{ALT}:returns_a_number", "--batch-sizes", "4"], 1,
                    "returns_a_number(4) returned int; expected a callable")
        self.expect([f"{ALT}:step_that_fails", "--batch-sizes", "4"], 1,
                    "the step from step_that_fails(4) raised ValueError: shapes (4,4) and (5,) do not match")
        self.expect([f"{ALT}:make_step", "--batch-sizes", "0"], 2, "--batch-sizes", "at least 1")
        self.expect([f"{ALT}:make_step", "--batch-sizes", "4,x"], 2, "--batch-sizes", "'x'")
        self.expect([f"{ALT}:make_step", "--peak", "fast"], 2, "--peak: 'fast'")
        self.expect([f"{ALT}:make_step", "--out", "/proc/nope"], 2, "--out")


if __name__ == "__main__":
    unittest.main()
