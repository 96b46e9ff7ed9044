"""Sweep your own training step: why does it train no faster at batch 256 than at 16?

    /usr/bin/python3 -m batchscope.sweep FILE.py:FUNC --batch-sizes 1,4,16,64,256 [--out DIR] [--json]

(with the repository's python/ folder on PYTHONPATH). FILE.py is imported as a module and
FUNC(B) is called once per batch size B; it must return a callable that performs one training
step (forward, loss, backward, update) on a batch of B images each time it is called. Build the
network and the data inside FUNC, so that only the step is timed:

    def make_step(batch_size):
        net, opt = Net(), SGD(lr=0.01)
        x = np.random.rand(batch_size, 1, 28, 28); y = np.random.randint(0, 10, batch_size)
        def step():
            loss, grads = net.loss_and_grads(x, y)
            opt.update(net.params, grads)
        step.flops_per_image = 72e6   # optional: FLOPs of one trained image (forward + backward)
        return step

For each batch size: warm-up steps, max(3, --images // B) timed steps with no profiler (wall and
CPU time), then as many again under a per-function profiler (sys.setprofile, wall and CPU time
per call; its own overhead is measured and reported). The report fits t_epoch(B) = N*(a/B + b)
for the whole step and for every function that matters, says which functions carry the fixed
cost per step and which the cost per image, how much of the per-image cost ran on several
threads (BLAS) and how much on one, and with FLOPs per image the GFLOP/s against the machine's
measured peak (`batchscope peak`). Exit codes: 0 ok, 1 the user's code failed, 2 bad flags or file.
"""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

PROG = "batchscope.sweep"


def log(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def fail(msg, code):
    print(f"{PROG}: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like the C++ commands
        fail(f"{message} (see --help)", 2)


def _positive_list(text):
    out = []
    for part in text.split(","):
        try:
            v = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{part}' in '{text}' is not an integer; expected a list like 1,16,64")
        if v < 1:
            raise argparse.ArgumentTypeError(f"{v} is out of range; batch sizes are at least 1")
        if v in out:
            raise argparse.ArgumentTypeError(f"{v} is listed twice")
        out.append(v)
    return out


def _positive(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer")
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} must be at least 1")
    return v


def parse_args(argv):
    p = _Parser(prog=f"python3 -m {PROG}", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("target", metavar="FILE.py:FUNC", help="your module and the function that builds a step")
    p.add_argument("--batch-sizes", type=_positive_list, default=[1, 4, 16, 64, 256], help="comma-separated batch sizes")
    p.add_argument("--images", type=_positive, default=512, help="images timed per batch size (steps = max(3, images // B))")
    p.add_argument("--epoch-images", type=_positive, default=60000, help="N, the images of one epoch (MNIST: 60000)")
    p.add_argument("--threads", type=_positive, default=len(os.sched_getaffinity(0)),
                   help="threads for the maths libraries (OMP/OPENBLAS/MKL_NUM_THREADS, set before FILE is imported)")
    p.add_argument("--flops-per-image", type=float, help="FLOPs of one trained image (else step.flops_per_image)")
    p.add_argument("--peak", default="auto", help="GFLOP/s to compare with: auto (batchscope peak, cached), none, or a number")
    p.add_argument("--out", help="folder for sweep.md, sweep.csv, sweep.json, epoch_time.svg")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of the text report")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)
    if ":" not in args.target:
        fail(f"'{args.target}': expected FILE.py:FUNC, e.g. net.py:make_step", 2)
    args.file, args.func = args.target.rsplit(":", 1)
    if args.peak not in ("auto", "none"):
        try:
            args.peak = float(args.peak)
        except ValueError:
            fail(f"--peak: '{args.peak}' is not auto, none or a number of GFLOP/s", 2)
        if args.peak <= 0:
            fail(f"--peak: {args.peak} must be positive", 2)
    return args


def load_function(path, name):
    if not os.path.isfile(path):
        fail(f"'{path}': no such file; expected your Python module, FILE.py:FUNC", 2)
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)  # its own imports of neighbouring modules work
    modname = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as e:
        fail(f"importing '{path}' called sys.exit({e.code}); move the script's main code under "
             f"if __name__ == '__main__':", 1)
    except Exception as e:
        fail(f"importing '{path}' raised {type(e).__name__}: {e}", 1)
    fn = getattr(module, name, None)
    if fn is None:
        fail(f"'{path}' has no function '{name}'; expected FUNC(batch_size) returning a step callable", 2)
    if not callable(fn):
        fail(f"'{path}': '{name}' is a {type(fn).__name__}, not a function", 2)
    return fn, os.path.abspath(path)


def blas_note():
    """The BLAS libraries this process has loaded (after the user's import)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return "loaded BLAS unknown"
    libs = sorted({os.path.basename(p) for p in paths if any(w in os.path.basename(p) for w in ("blas", "mkl"))})
    return "loaded " + ", ".join(libs) if libs else "no BLAS library loaded"


def batchscope_binary():
    env = os.environ.get("BATCHSCOPE_BIN")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    built = os.path.normpath(os.path.join(here, "..", "..", "build", "batchscope"))
    return built if os.path.exists(built) else shutil.which("batchscope")


def cached_peak(threads):
    """The peak `batchscope peak` (or sweep, profile) cached for this thread count, if under a week old."""
    base = os.environ.get("BATCHSCOPE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "batchscope")
    path = os.path.join(base, f"peak-{threads}threads.json")
    try:
        if time.time() - os.path.getmtime(path) > 7 * 86400:
            return None
        with open(path) as f:
            j = json.load(f)
        return float(j["peak"]["gflops_all"]), f"cached by batchscope on {j.get('date', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_peak(choice, threads, quiet):
    if choice == "none":
        return None, "not compared (--peak none)"
    if isinstance(choice, float):
        return choice, f"{choice:.1f} GFLOP/s, given with --peak"
    got = cached_peak(threads)
    if got:
        return got[0], f"{got[0]:.1f} GFLOP/s FP32 on {threads} threads, {got[1]}"
    binary = batchscope_binary()
    if not binary:
        return None, "not compared: no batchscope binary found (build it, or set BATCHSCOPE_BIN, or --peak)"
    if not quiet:
        log(f"measuring the peak: {binary} peak --threads {threads} --json")
    try:
        out = subprocess.run([binary, "peak", "--threads", str(threads), "--json"], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120).stdout
        g = float(json.loads(out)["gflops_all"])
        return g, f"{g:.1f} GFLOP/s FP32 on {threads} threads, measured now by batchscope peak"
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
        return None, f"not compared: batchscope peak failed ({e})"


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.out:
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as e:
            fail(f"--out: '{args.out}' is not a folder this user can write to ({e.strerror})", 2)
        if not os.access(args.out, os.W_OK):
            fail(f"--out: '{args.out}' is not a folder this user can write to", 2)
    # Before the user's module imports NumPy, which reads these once when it loads its BLAS.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if "numpy" in sys.modules and not args.quiet:
        log("NumPy was imported before --threads could be set; its BLAS keeps its own thread count")
    make, user_file = load_function(args.file, args.func)

    from batchscope.step_report import analyse, json_report, text_report, write_files
    from batchscope.step_timing import BlasThreads, StepError, time_batches

    peak, peak_note = find_peak(args.peak, args.threads, args.quiet)

    def progress(r):
        if not args.quiet:
            log(f"batch {r['batch_size']}: {r['steps']} steps, {1e3 * r['step_seconds']:.3f} ms/step, "
                f"{r['images_per_second']:.1f} img/s, CPU/wall {r['cpu_per_wall']:.2f}, "
                f"profiled +{100 * r['profiler_overhead']:.0f}%")

    try:
        rows = time_batches(make, args.batch_sizes, args.images, where=args.func, on_row=progress,
                            blas=BlasThreads())
    except StepError as e:
        fail(str(e), 1)
    except KeyboardInterrupt:
        fail("interrupted; nothing written", 130)
    for r in rows:
        if args.flops_per_image:
            r["flops_per_image"] = args.flops_per_image
        r["epoch_seconds"] = (args.epoch_images // r["batch_size"]) * r["step_seconds"]
    an = analyse(rows, args.epoch_images, user_file, peak)
    meta = {"command": f"python3 -m {PROG} " + " ".join(sys.argv[1:] if argv is None else argv),
            "target": args.target, "python": f"{sys.executable} {sys.version.split()[0]}",
            "threads": args.threads, "blas": blas_note(),
            "timing": (f"max(3, {args.images} // B) steps per batch size after max(2, ceil(64/B)) warm-up steps, "
                       f"then as many under the profiler; epochs of N = {args.epoch_images} images extrapolated"),
            "peak_note": peak_note}
    if args.json:
        print(json.dumps(json_report(meta, rows, an), default=str))
    else:
        sys.stdout.write(text_report(meta, rows, an))
    if args.out:
        for path in write_files(args.out, meta, rows, an):
            if not args.quiet:
                log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
