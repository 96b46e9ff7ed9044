"""`import batchscope` (the pybind11 module in build/python): every call, the same results as the
command line on the same data, the GIL released while C++ works, and every bad input a
ValueError naming the argument. Data are small synthetic digits, so this runs in seconds.

    PYTHONPATH=build/python /usr/bin/python3 -m unittest discover -s tests/python -p test_bindings.py -v
"""
import gzip
import os
import struct
import subprocess
import sys
import tempfile
import threading
import types
import unittest

import numpy as np

import batchscope

BIN = os.environ.get("BATCHSCOPE_BIN", "build/batchscope")
TINY = "conv2d:4:3,relu,maxpool2d:2,flatten,dense:10"


def write_idx(path, array):
    """An IDX file of uint8 data (magic 0x0803 for [N,H,W] images, 0x0801 for [N] labels)."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    head = struct.pack(">BBBB", 0, 0, 8, a.ndim) + b"".join(struct.pack(">I", d) for d in a.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(head + a.tobytes())


def digits(n, seed=0):
    """n 28x28 images of ten easy classes: class c is a bright bar at rows 2c..2c+3, with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(y):
        x[i, 2 * c + 4:2 * c + 7, 4:24] = 230
    return x, y.astype(np.int64)


class Data(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bs-py-")
        cls.x, cls.y = digits(512)
        cls.xt, cls.yt = digits(200, seed=1)
        cls.files = {}
        for name, a in [("train-images-idx3-ubyte", cls.x), ("train-labels-idx1-ubyte", cls.y),
                        ("t10k-images-idx3-ubyte", cls.xt), ("t10k-labels-idx1-ubyte", cls.yt)]:
            cls.files[name] = os.path.join(cls.dir, name)
            write_idx(cls.files[name], a)

    def cli(self, *args):
        r = subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r


class ReadIdx(Data):
    def test_images_and_labels_come_back_as_uint8_arrays(self):
        x = batchscope.read_idx(self.files["train-images-idx3-ubyte"])
        y = batchscope.read_idx(self.files["train-labels-idx1-ubyte"])
        self.assertEqual((x.dtype, x.shape, y.dtype, y.shape), (np.uint8, (512, 28, 28), np.uint8, (512,)))
        np.testing.assert_array_equal(x, self.x)
        np.testing.assert_array_equal(y, self.y)

    def test_gzip_is_read_from_the_content(self):
        path = os.path.join(self.dir, "labels.gz")
        write_idx(path, self.y)
        np.testing.assert_array_equal(batchscope.read_idx(path), self.y)

    def test_bad_files_raise_value_error_naming_the_file(self):
        bad = os.path.join(self.dir, "truncated")
        with open(self.files["train-images-idx3-ubyte"], "rb") as f:
            head = f.read(1000)
        with open(bad, "wb") as f:
            f.write(head)
        for path, words in [(bad, "truncated"), (os.path.join(self.dir, "missing"), "missing"),
                            (os.path.join(os.path.dirname(__file__), "test_bindings.py"), "not an IDX file")]:
            with self.assertRaises(ValueError) as c:
                batchscope.read_idx(path)
            self.assertIn(path, str(c.exception))
            self.assertIn(words, str(c.exception))


class ModelBasics(Data):
    def test_presets_and_specs_build(self):
        names = [p["name"] for p in batchscope.presets()]
        self.assertIn("mnist-cnn", names)
        m = batchscope.Model("mnist-cnn", threads=1)
        self.assertEqual(m.input_shape, (1, 28, 28))
        self.assertEqual(m.num_classes, 10)
        # 32*1*3*3+32 + 64*32*3*3+64 + 9216*128+128 + 128*10+10
        self.assertEqual(m.num_params, 320 + 18496 + 1179776 + 1290)
        self.assertIn("conv2d:32:3", m.spec)
        self.assertEqual(m.threads, 1)
        sd = m.state_dict()
        self.assertEqual(sd["0.weight"].shape, (32, 1, 3, 3))
        self.assertEqual(sum(v.size for v in sd.values()), m.num_params)

    def test_bad_model_arguments_raise_value_error(self):
        for kwargs, words in [({"spec": "conv2d:4:3,wobble"}, "wobble"), ({"backend": "gpu"}, "backend: 'gpu'"),
                              ({"conv_algo": "fft"}, "conv_algo: 'fft'"), ({"threads": 0}, "threads"),
                              ({"input_shape": (28, 28)}, "input_shape"), ({"num_classes": 1}, "num_classes")]:
            with self.subTest(kwargs=kwargs), self.assertRaises(ValueError) as c:
                batchscope.Model(**{"spec": TINY, **kwargs})
            self.assertIn(words, str(c.exception))


class Training(Data):
    def test_fit_learns_and_reports_every_epoch(self):
        m = batchscope.Model(TINY, threads=1, seed=3)
        calls = []
        r = m.fit(self.x, self.y, batch_size=32, epochs=3, validation=(self.xt, self.yt),
                  progress=lambda p: calls.append((p["epoch"], p["step"])))
        self.assertEqual((r["epochs"], r["steps"], len(r["history"])), (3, 3 * 16, 3))
        self.assertEqual(len(calls), 48)
        self.assertEqual(calls[0], (0, 1))
        self.assertEqual(calls[-1], (2, 16))
        self.assertGreater(r["history"][-1]["val_accuracy"], 0.9)
        self.assertLess(r["history"][-1]["loss"], r["history"][0]["loss"])
        self.assertGreater(r["images_per_second"], 0)
        self.assertAlmostEqual(m.evaluate(self.xt, self.yt)["accuracy"], r["history"][-1]["val_accuracy"])

    def test_fit_matches_the_command_line_weight_for_weight(self):
        cli_ckpt = os.path.join(self.dir, "cli.safetensors")
        self.cli("train", "--model", TINY, "--data", self.dir, "--batch-size", "16", "--epochs", "2", "--lr", "0.03",
                 "--optimizer", "adam", "--schedule", "step", "--seed", "7", "--threads", "1", "--quiet",
                 "--save", cli_ckpt)
        m = batchscope.Model(TINY, threads=1, seed=7)
        m.fit(self.x, self.y, batch_size=16, epochs=2, lr=0.03, optimizer="adam", schedule="step")
        theirs = batchscope.load(cli_ckpt, threads=1).state_dict()
        for name, w in m.state_dict().items():
            np.testing.assert_array_equal(w, theirs[name], err_msg=name)

    def test_a_python_checkpoint_loads_here_and_in_the_command_line(self):
        m = batchscope.Model(TINY, threads=1)
        m.fit(self.x, self.y, batch_size=32, epochs=2)
        path = os.path.join(self.dir, "py.safetensors")
        m.save(path)
        back = batchscope.load(path, threads=1)
        self.assertEqual(back.spec, m.spec)
        np.testing.assert_array_equal(back.predict(self.xt), m.predict(self.xt))
        out = self.cli("eval", "--checkpoint", path, "--data", self.dir, "--threads", "1", "--json").stdout
        import json
        self.assertAlmostEqual(json.loads(out)["accuracy"], m.evaluate(self.xt, self.yt)["accuracy"], places=12)
        # It resumes as a run of two epochs, continuing to a third.
        self.cli("train", "--resume", path, "--data", self.dir, "--epochs", "3", "--threads", "1", "--quiet")

    def test_bad_checkpoints_and_paths_raise_naming_the_file(self):
        m = batchscope.Model(TINY, threads=1)
        not_a_checkpoint = self.files["train-labels-idx1-ubyte"]
        with self.assertRaises(ValueError) as c:
            batchscope.load(not_a_checkpoint)
        self.assertIn(not_a_checkpoint, str(c.exception))
        with self.assertRaises(ValueError) as c:
            batchscope.load(os.path.join(self.dir, "no-such.safetensors"))
        self.assertIn("no-such.safetensors", str(c.exception))
        target = os.path.join(self.dir, "no-such-folder", "m.safetensors")
        with self.assertRaises(ValueError) as c:
            m.save(target)
        self.assertIn(target, str(c.exception))
        self.assertFalse(os.path.exists(target))

    def test_ctrl_c_stops_fit_with_keyboard_interrupt(self):
        import signal
        m = batchscope.Model(TINY, threads=1)
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        import time
        t0 = time.perf_counter()
        with self.assertRaises(KeyboardInterrupt):
            m.fit(self.x, self.y, batch_size=8, epochs=1000)
        timer.join()
        # Seen within the 0.1 s check interval plus a step, not after 1000 epochs.
        self.assertLess(time.perf_counter() - t0, 5)
        # The model is still usable.
        self.assertEqual(m.predict(self.xt[:2]).shape, (2, 10))

    def test_threads_can_be_changed(self):
        m = batchscope.Model(TINY, threads=1)
        m.threads = 2
        self.assertEqual(m.threads, 2)
        with self.assertRaises(ValueError):
            m.threads = 0
        self.assertIsNotNone(batchscope.Model(TINY).threads)

    def test_float32_input_is_used_as_given(self):
        mean, std = np.float32(0.1307), np.float32(0.3081)
        xf = ((self.x.astype(np.float32) / np.float32(255) - mean) / std)[:, None, :, :]
        a, b = batchscope.Model(TINY, threads=1), batchscope.Model(TINY, threads=1)
        a.fit(self.x, self.y, batch_size=32)
        b.fit(np.ascontiguousarray(xf), self.y, batch_size=32)
        np.testing.assert_array_equal(a.predict(self.xt), b.predict(
            np.ascontiguousarray(((self.xt.astype(np.float32) / np.float32(255) - mean) / std)[:, None])))

    def test_progress_can_stop_and_its_exceptions_propagate(self):
        m = batchscope.Model(TINY, threads=1)
        r = m.fit(self.x, self.y, batch_size=8, epochs=2, progress=lambda p: p["step"] < 5)
        self.assertTrue(r["stopped"])
        self.assertEqual(r["steps"], 5)

        def boom(p):
            raise KeyError("from the callback")
        with self.assertRaises(KeyError):
            m.fit(self.x, self.y, batch_size=8, progress=boom)

    def test_the_gil_is_released_while_training(self):
        m = batchscope.Model("mnist-cnn", threads=1)
        ticks, done = [0], threading.Event()

        def count():
            while not done.is_set():
                ticks[0] += 1
        t = threading.Thread(target=count)
        t.start()
        r = m.fit(self.x, self.y, batch_size=64, epochs=1)
        done.set()
        t.join()
        # Holding the GIL through fit would leave the counter a few switch intervals (the Ctrl-C
        # checks every 0.1 s); released, it spins the whole time, far more than 20000 times a second.
        self.assertGreater(ticks[0], 20000 * r["seconds"], f"{ticks[0]} ticks in {r['seconds']:.2f} s")


class Predictions(Data):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.m = batchscope.Model(TINY, threads=1)
        cls.m.fit(cls.x, cls.y, batch_size=32, epochs=2)

    def test_predict_gives_probabilities_and_evaluate_agrees(self):
        p = self.m.predict(self.xt, batch_size=64)
        self.assertEqual((p.dtype, p.shape), (np.float32, (200, 10)))
        np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
        ev = self.m.evaluate(self.xt, self.yt)
        self.assertEqual(ev["n"], 200)
        self.assertAlmostEqual(ev["accuracy"], float(np.mean(p.argmax(axis=1) == self.yt)))
        self.assertEqual(ev["confusion"].shape, (10, 10))
        self.assertEqual(int(ev["confusion"].sum()), 200)
        np.testing.assert_array_equal(ev["confusion"].sum(axis=1), np.bincount(self.yt, minlength=10))
        # One image at a time gives the same probabilities as a batch.
        np.testing.assert_allclose(self.m.predict(self.xt[:3], batch_size=1), p[:3], rtol=1e-5, atol=1e-7)

    def test_bad_arrays_raise_value_error_naming_the_argument(self):
        x, y = self.x, self.y
        cases = [
            (lambda: self.m.predict(x.astype(np.float64)), "images: expected uint8 [N, 28, 28]"),
            (lambda: self.m.predict(x[:, :14]), "got uint8 [512, 14, 28]"),
            (lambda: self.m.predict(np.asfortranarray(x)), "C-contiguous"),
            (lambda: self.m.predict(x[:, ::1, ::-1]), "C-contiguous"),
            (lambda: self.m.predict(x[:0]), "at least one image"),
            (lambda: self.m.predict(x.tolist()), "images: expected a NumPy array, got list"),
            (lambda: self.m.evaluate(x, y[:-1]), "labels: 511 labels for 512 images"),
            (lambda: self.m.evaluate(x, y.astype(np.float32)), "labels: expected integer class labels"),
            (lambda: self.m.evaluate(x, np.where(np.arange(512) == 9, 12, y)), "label 12 at index 9 is out of range"),
            (lambda: self.m.evaluate(x, y - 2 * (np.arange(512) == 3) * (y + 1)), "is out of range; expected 0 to 9"),
            (lambda: self.m.fit(x, y, batch_size=1000), "batch_size: 1000 is out of range"),
            (lambda: self.m.fit(x, y, epochs=0), "epochs"),
            (lambda: self.m.fit(x, y, lr=-1.0), "lr"),
            (lambda: self.m.fit(x, y, optimizer="rmsprop"), "optimizer: 'rmsprop' is not an optimizer"),
            (lambda: self.m.fit(x, y, schedule="cyclic"), "schedule: 'cyclic'"),
            (lambda: self.m.fit(x, y, batch_size=30, grad_shards=4), "grad_shards: 4 does not divide"),
            (lambda: self.m.fit(x, y, validation=x), "validation: expected a tuple"),
            (lambda: self.m.fit(x, y, validation=(x, y[:3])), "validation labels: 3 labels"),
            (lambda: self.m.predict(x[:, None].astype(np.float32)[:, :, :27]), "float32 [N, 1, 28, 28]"),
        ]
        for i, (call, words) in enumerate(cases):
            with self.subTest(i=i):
                with self.assertRaises(ValueError) as c:
                    call()
                self.assertIn(words, str(c.exception))


class Commands(Data):
    def test_peak_returns_the_measured_figures(self):
        p = batchscope.peak(threads=1, seconds=0.05, triad_mib=16, no_cache=True)
        self.assertEqual(p["threads"], 1)
        self.assertGreater(p["gflops_1t"], 1)
        self.assertGreater(p["triad_gbs"], 0.1)

    def test_profile_and_sweep_return_their_reports(self):
        data = {"train_images": self.files["train-images-idx3-ubyte"], "train_labels": self.files["train-labels-idx1-ubyte"]}
        pr = batchscope.profile(model=TINY, batch_size=8, threads=1, peak="100:10", **data)
        self.assertEqual(pr["batch_size"], 8)
        self.assertTrue(any(r["layer"].startswith("0 conv2d") or "conv2d" in r["layer"] for r in pr["rows"]))
        # Batch 1 and 64: with 4 and 16 the two step times were close enough that a loaded host
        # (another build on the other core) once gave a negative per-image cost, and no model.
        sw = batchscope.sweep(model=TINY, batch_sizes=[1, 64], images=256, threads=1, peak="100:10", **data)
        self.assertEqual([r["batch_size"] for r in sw["results"]], [1, 64])
        self.assertIn("explanation", sw["cost_model"])

    def test_bad_flags_raise_value_error_in_keyword_terms(self):
        with self.assertRaises(ValueError) as c:
            batchscope.sweep(batch_sizes="x", images=64)
        self.assertIn("batch_sizes", str(c.exception))
        self.assertNotIn("--", str(c.exception))
        with self.assertRaises(ValueError) as c:
            batchscope.profile(wobble=3)
        self.assertIn("wobble", str(c.exception))


class Interpreter(unittest.TestCase):
    def test_another_interpreter_is_refused_with_the_one_to_use(self):
        cfg = types.SimpleNamespace(python_executable="/usr/bin/python3", python_version="3.11.2",
                                    python_base_prefix="/somewhere/else")
        with self.assertRaises(ImportError) as c:
            batchscope._check_interpreter(cfg)
        self.assertIn("run it with /usr/bin/python3", str(c.exception))
        self.assertIn(sys.executable, str(c.exception))
        # The one it was built for passes.
        here = batchscope._build_config
        batchscope._check_interpreter(here)
        self.assertEqual(here.python_base_prefix, sys.base_prefix)


if __name__ == "__main__":
    unittest.main()
