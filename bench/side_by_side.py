#!/usr/bin/python3
"""batchscope and PyTorch side by side, in one run, on the same threads and image budget: the
machine's measured peak (batchscope peak), batchscope's sweep, and the PyTorch peer under several
OpenBLAS environments (its best per batch size counts). Prints a Markdown report.
Usage: /usr/bin/python3 bench/side_by_side.py [--threads 2] [--images 4096] [--out docs/performance.md]
Stdlib only; run from anywhere (paths are relative to the repository root).
"""
import argparse
import datetime
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = "mnist-cnn"  # the peer implements only this network
TORCH_LINE = re.compile(r"^torch bs=\s*(\d+)\s+img/s=\s*([0-9.]+)")

# PyTorch's own intra-op threads plus OpenBLAS's threads oversubscribe the cores, and this
# machine's environment pins OpenBLAS to AVX2 kernels; a careful user would try each fix, so the
# peer runs under all four combinations and its best figure per batch size is compared.
TORCH_VARIANTS = [
    ("default", {}, []),
    ("OPENBLAS_NUM_THREADS=1", {"OPENBLAS_NUM_THREADS": "1"}, []),
    ("no CORETYPE/L2_SIZE", {}, ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]),
    ("OPENBLAS_NUM_THREADS=1, no CORETYPE/L2_SIZE", {"OPENBLAS_NUM_THREADS": "1"},
     ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]),
]


def log(msg):
    print(f"side_by_side: {msg}", file=sys.stderr, flush=True)


def run_json(cmd):
    log("running " + shlex.join(cmd))
    out = subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def torch_available(python):
    probe = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def run_torch(python, bench, threads, images, batch_sizes, env_set, env_unset):
    env = {k: v for k, v in os.environ.items() if k not in env_unset}
    env.update(env_set)
    cmd = [python, str(bench), str(threads), str(images), ",".join(map(str, batch_sizes))]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    rates = {}
    for line in proc.stdout.splitlines():
        m = TORCH_LINE.match(line)
        if m:
            rates[int(m.group(1))] = float(m.group(2))
    if proc.returncode != 0:
        log(f"torch peer exited with {proc.returncode}; keeping the {len(rates)} rows it printed")
    return rates


def fmt(x, digits=1):
    return "n/a" if x is None else f"{x:,.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="threads for every run (default 2)")
    ap.add_argument("--images", type=int, default=4096, help="images timed per batch size (default 4096)")
    ap.add_argument("--batch-sizes", default="1,4,8,16,32,64,128,256", help="comma-separated list")
    ap.add_argument("--binary", default=str(REPO / "build" / "batchscope"), help="the batchscope binary")
    ap.add_argument("--torch-bench", default=str(REPO / ".." / "shared" / "peers" / "torch_bench.py"),
                    help="the PyTorch peer script (default: ../shared/peers/torch_bench.py from the repo root)")
    ap.add_argument("--python", default="/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable,
                    help="interpreter with torch installed (default /usr/bin/python3, Debian's python3-torch)")
    ap.add_argument("--out", help="also append the report to this Markdown file")
    args = ap.parse_args()
    if args.threads < 1:
        ap.error("--threads: expected at least 1")
    if args.images < 1:
        ap.error("--images: expected at least 1")
    try:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    except ValueError:
        ap.error(f"--batch-sizes: '{args.batch_sizes}' is not a comma-separated list of integers")
    if any(b < 1 for b in batch_sizes):
        ap.error("--batch-sizes: batch sizes are at least 1")

    command = shlex.join([os.path.relpath(sys.argv[0], REPO) if Path(sys.argv[0]).exists() else sys.argv[0]]
                         + sys.argv[1:])
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    host = socket.gethostname()
    binary = args.binary

    models = run_json([binary, "models", "--json"])["models"]
    mflop = next(m["mflop_trained"] for m in models if m["name"] == MODEL)
    peak = run_json([binary, "peak", "--json", "--threads", str(args.threads)])
    sweep = run_json([binary, "sweep", "--json", "--threads", str(args.threads), "--images", str(args.images),
                      "--model", MODEL, "--batch-sizes", ",".join(map(str, batch_sizes))])
    ours = {r["batch_size"]: r["images_per_second"] for r in sweep["results"]}

    bench = Path(args.torch_bench)
    torch_version = torch_available(args.python)
    torch_note = None
    per_variant = {}
    if not bench.is_file():
        torch_note = f"PyTorch peer not run: '{bench}' is not a file (pass --torch-bench PATH)"
    elif torch_version is None:
        torch_note = f"PyTorch peer not run: '{args.python}' cannot import torch (apt-get install python3-torch)"
    else:
        for name, env_set, env_unset in TORCH_VARIANTS:
            log(f"running the PyTorch peer ({name})")
            per_variant[name] = run_torch(args.python, bench, args.threads, args.images, batch_sizes,
                                          env_set, env_unset)
    if torch_note:
        log(torch_note)

    peak_all, peak_cpu = peak["gflops_all"], peak["gflops_all_cpu_time"]
    lines = []
    lines.append(f"## batchscope vs PyTorch: {MODEL}, {args.threads} thread(s), {args.images} images per batch size")
    lines.append("")
    lines.append(f"- command: `{command}`")
    lines.append(f"- date: {date}; host: {host}; build: {sweep.get('build', peak.get('build', '?'))}")
    lines.append(f"- peak (`batchscope peak`, median of {peak['repetitions']} x "
                 f"{1e3 * peak['seconds_per_repetition']:.0f} ms): FP32 FMA {peak['gflops_1t']:.1f} GFLOP/s on 1 thread "
                 f"(max {peak['gflops_1t_max']:.1f}), {peak_all:.1f} on {peak['threads']} threads "
                 f"(max {peak['gflops_all_max']:.1f}); per second of CPU time the threads got: "
                 f"{peak['gflops_1t_cpu_time']:.1f} and {peak['gflops_all_cpu_time']:.1f}")
    lines.append(f"- bandwidth: triad {peak['triad_gbs']:.1f} GB/s counting 12 B/element as STREAM does "
                 f"({peak['triad_gbs_write_allocate']:.1f} GB/s with the write-allocate read, 16 B/element), "
                 f"{peak['threads']} threads, 3 x {peak['triad_mib_per_array']} MiB")
    lines.append(f"- work: {mflop:.2f} MFLOP per trained image (3 x 2 x multiply-adds of one forward, "
                 f"`batchscope models`); batchscope back-end {sweep['backend']}")
    if torch_note:
        lines.append(f"- {torch_note}")
    else:
        lines.append(f"- PyTorch {torch_version} (`{bench.name}`), best of: " +
                     "; ".join(f"`{n}`" for n, _, _ in TORCH_VARIANTS))
    lines.append("")
    # Two denominators: the wall-clock peak measured in this run (the same contention as the
    # sweep) and the peak per second of CPU time (what the cores do when they are ours).
    lines.append("| batch size | batchscope img/s | PyTorch best img/s (variant) | ratio | batchscope GFLOP/s "
                 "| % of peak | % of CPU-time peak |")
    lines.append("|---:|---:|---|---:|---:|---:|---:|")
    for b in batch_sizes:
        mine = ours.get(b)
        best, best_name = None, None
        for name, rates in per_variant.items():
            if b in rates and (best is None or rates[b] > best):
                best, best_name = rates[b], name
        gflops = mine * mflop * 1e-3 if mine is not None else None
        torch_cell = f"{fmt(best)} ({best_name})" if best is not None else "n/a"
        ratio = f"{mine / best:.2f}x" if mine is not None and best else "n/a"
        pct = f"{100 * gflops / peak_all:.1f}%" if gflops is not None and peak_all > 0 else "n/a"
        pct_cpu = f"{100 * gflops / peak_cpu:.1f}%" if gflops is not None and peak_cpu > 0 else "n/a"
        lines.append(f"| {b} | {fmt(mine)} | {torch_cell} | {ratio} | {fmt(gflops)} | {pct} | {pct_cpu} |")
    if per_variant:
        lines.append("")
        lines.append("PyTorch img/s per environment variant:")
        lines.append("")
        lines.append("| batch size | " + " | ".join(n for n, _, _ in TORCH_VARIANTS) + " |")
        lines.append("|---:|" + "---:|" * len(TORCH_VARIANTS))
        for b in batch_sizes:
            lines.append(f"| {b} | " + " | ".join(fmt(per_variant[n].get(b)) for n, _, _ in TORCH_VARIANTS) + " |")
    report = "\n".join(lines) + "\n"
    sys.stdout.write(report)
    if args.out:
        out = Path(args.out)
        with out.open("a") as f:
            f.write(("\n" if out.stat().st_size else "") + report)
        log(f"appended the report to {out}")


if __name__ == "__main__":
    main()
