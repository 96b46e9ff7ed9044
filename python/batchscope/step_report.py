"""The analysis and report of `python3 -m batchscope.sweep`: the step's cost model
t_epoch(B) = N*(a/B + b), the same fit for every function that matters, which of them carry the
fixed cost per step (a) and which the cost per image (b), how much of b ran on several threads
(BLAS) against one, achieved GFLOP/s against the machine's peak, and the files (sweep.md,
sweep.csv, sweep.json, epoch_time.svg). Every figure comes from the rows measured in the run.

    an = analyse(rows, epoch_images=60000, user_file="net.py", peak_gflops=471.0)
    print(text_report(meta, rows, an))
"""
import csv
import io
import json
import math
import os

from batchscope.step_timing import fit_line

MATTERS = 0.02          # a function matters when its self time is >= 2% of a step at some batch
SPED_UP = 1.25          # a function this much faster with the BLAS on all threads than on one ran BLAS on several


def _ms(s):
    v = 1e3 * s
    return f"{v:.1f} ms" if abs(v) >= 10 else f"{v:.3f} ms" if abs(v) >= 0.1 else f"{v:.4f} ms"


def analyse(rows, epoch_images, user_file, peak_gflops=None):
    batches = [r["batch_size"] for r in rows]
    steps = [r["step_seconds"] for r in rows]
    a, b, r2 = fit_line(batches, steps)
    an = {"a": a, "b": b, "r2": r2, "epoch_images": epoch_images, "floor_seconds": epoch_images * b,
          "batch_within_10pct": max(1, math.ceil(a / (0.1 * b) - 1e-9)) if b > 0 else None,
          "peak_gflops": peak_gflops}
    # Per-step profiled times scaled to the plain step, so the functions add up to it.
    scale = [r["step_seconds"] / r["profiled_step_seconds"] if r["profiled_step_seconds"] > 0 else 1.0
             for r in rows]
    keys = set()
    for r in rows:
        for k, f in r["functions"].items():
            if f["self_wall"] >= MATTERS * r["profiled_step_seconds"]:
                keys.add(k)
    one = rows[-1].get("blas_one_thread")  # the largest batch again, BLAS on one thread
    pieces = []
    for k in keys:
        self_t = [r["functions"].get(k, {}).get("self_wall", 0.0) * s for r, s in zip(rows, scale)]
        fa, fb, _ = fit_line(batches, self_t)
        big = rows[-1]["functions"].get(k)
        ratio = big["self_cpu"] / big["self_wall"] if big and big["self_wall"] > 0 else None
        speedup = None
        if one and big and big["self_wall"] > 0:
            speedup = one["functions"].get(k, {}).get("self_wall", 0.0) / big["self_wall"]
        pieces.append({"key": k, "label": k.label(), "a": fa, "b": fb, "per_step": self_t,
                       "cpu_per_wall": ratio, "threads_speedup": speedup,
                       "calls": [r["functions"].get(k, {}).get("calls", 0.0) for r in rows]})
    # Everything below 2%: one piece, so that the pieces still add up to the step.
    rest_t = [st - sum(p["per_step"][i] for p in pieces) for i, st in enumerate(steps)]
    ra, rb, _ = fit_line(batches, rest_t)
    pieces.append({"key": None, "label": "everything else (each under 2% of a step)", "a": ra, "b": rb,
                   "per_step": rest_t, "cpu_per_wall": None, "threads_speedup": None, "calls": None})
    pieces.sort(key=lambda p: -(p["a"] + p["b"] * batches[-1]))
    an["pieces"] = pieces
    # The user's own functions, inclusive: what each of their functions costs with all it calls.
    own = []
    for k in {k for r in rows for k in r["functions"] if k.file and os.path.abspath(k.file) == user_file}:
        incl = [r["functions"].get(k, {}).get("incl_wall", 0.0) * s for r, s in zip(rows, scale)]
        if max(t / st for t, st in zip(incl, steps)) < 0.05:
            continue
        fa, fb, _ = fit_line(batches, incl)
        big = rows[-1]["functions"].get(k)
        ratio = big["incl_cpu"] / big["incl_wall"] if big and big["incl_wall"] > 0 else None
        own.append({"key": k, "label": k.label(), "a": fa, "b": fb, "per_step": incl, "cpu_per_wall": ratio})
    own.sort(key=lambda p: -(p["per_step"][-1]))
    an["own"] = own
    # Threads: b split into the functions that ran faster with the BLAS on all its threads.
    an["blas_threads"] = one["blas_threads"] if one else None
    multi = [p for p in pieces if p["threads_speedup"] is not None and p["threads_speedup"] >= SPED_UP]
    an["b_multi_thread"] = sum(max(0.0, p["b"]) for p in multi)
    an["multi_thread"] = [(p["label"], p["threads_speedup"]) for p in sorted(multi, key=lambda p: -p["b"])]
    an["step_one_thread_seconds"] = (one["profiled_step_seconds"] * scale[-1]) if one else None
    an["overhead"] = [r["profiler_overhead"] for r in rows]
    for r in rows:
        f = r["flops_per_image"]
        r["gflops"] = f * r["images_per_second"] * 1e-9 if f else None
        r["percent_of_peak"] = 100 * r["gflops"] / peak_gflops if f and peak_gflops else None
    an["explanation"] = explain(rows, an)
    return an


def _top(pieces, field, total, k=3):
    ps = sorted((p for p in pieces if p["key"] is not None), key=lambda p: -p[field])
    parts = [f"{p['label']} {_ms(p[field])} ({100 * p[field] / total:.0f}%)" for p in ps[:k]
             if total > 0 and p[field] >= 0.01 * total]
    return ", ".join(parts) if parts else "no single function above 1%"


def explain(rows, an):
    out = []
    a, b, n = an["a"], an["b"], an["epoch_images"]
    first, last = rows[0], rows[-1]
    if b <= 0:
        return ["The per-image cost b came out <= 0: the steps are too short or too noisy for a fit; "
                "time more --images."]
    out.append(
        f"Your step's cost model, fitted over batch {first['batch_size']} to {last['batch_size']}: "
        f"t_epoch(B) = N*(a/B + b) with a = {_ms(a)} per step and b = {_ms(b)} per image (R^2 {an['r2']:.3f}); "
        f"an epoch of N = {n} images takes {n * a:.1f} s / B + {n * b:.1f} s. The fixed part is "
        f"{100 * a / (a + b):.0f}% of the time at batch 1 and under 10% from batch {an['batch_within_10pct']} on: "
        f"from there a larger batch cannot make an epoch more than 10% faster, the curve sits on its floor "
        f"N*b = {n * b:.1f} s. Measured: {_ms(first['step_seconds'])} per step at batch {first['batch_size']}, "
        f"{_ms(last['step_seconds'])} at {last['batch_size']}.")
    pieces = [p for p in an["pieces"] if p["key"] is not None]
    out.append(
        f"The fixed cost per step a = {_ms(a)} is carried by (self time, fitted piece by piece): "
        f"{_top(pieces, 'a', a)}. Things every step does once, whatever its batch: updating every weight, "
        f"the Python calls themselves, allocating fresh arrays.")
    out.append(f"The cost per image b = {_ms(b)} is carried by: {_top(pieces, 'b', b)}.")
    # A straight line a + b*B cannot show a cost per image that rises with the batch; say so
    # where the measurements do (from batch 16 on, where the fixed part is small).
    grew = []
    idx = [i for i, r in enumerate(rows) if r["batch_size"] >= 16]
    if len(idx) >= 2:
        for p in pieces:
            per_img = [p["per_step"][i] / rows[i]["batch_size"] for i in idx]
            lo_i = min(range(len(idx)), key=lambda j: per_img[j])
            hi_i = max(range(len(idx)), key=lambda j: per_img[j])
            if per_img[lo_i] > 0 and hi_i > lo_i and per_img[hi_i] > 1.3 * per_img[lo_i] and per_img[hi_i] >= 0.03 * b:
                grew.append((per_img[hi_i] - per_img[lo_i], p["label"], rows[idx[lo_i]]["batch_size"],
                             per_img[lo_i], rows[idx[hi_i]]["batch_size"], per_img[hi_i]))
    if grew:
        grew.sort(reverse=True)
        parts = [f"{lbl} {_ms(lo)} per image at batch {bl} against {_ms(hi)} at {bh}" for _, lbl, bl, lo, bh, hi in grew[:4]]
        out.append("Some per-image costs grow with the batch instead of staying flat, which is why larger batches "
                   "can even be slower: " + "; ".join(parts) + ". Their arrays grow with B and stop fitting in "
                   "the CPU's caches, so each pass over them runs at memory speed.")
    if an["own"]:
        parts = [f"{p['label']} a = {_ms(p['a'])}, b = {_ms(p['b'])}" for p in an["own"][:5]]
        out.append("Your own functions with everything they call (inclusive, so they overlap): " + "; ".join(parts) + ".")
    bm = an["b_multi_thread"]
    ratio = last["cpu_per_wall"]
    spin = (f"(The process used {ratio:.2f} CPU seconds per second of a step at batch {last['batch_size']}, but "
            f"that overstates the work: OpenBLAS's idle threads spin between calls.)")
    if an["blas_threads"]:
        t1 = an["step_one_thread_seconds"]
        faster = ", ".join(f"{lbl} {s:.2f}x" for lbl, s in an["multi_thread"][:4])
        if an["multi_thread"]:
            out.append(
                f"Threads: the same steps at batch {last['batch_size']} with the BLAS on 1 thread instead of "
                f"{an['blas_threads']} take {_ms(t1)} instead of {_ms(last['step_seconds'])} "
                f"({t1 / last['step_seconds']:.2f}x). The functions that ran at least {SPED_UP}x faster on "
                f"{an['blas_threads']} threads ({faster}) hold the BLAS calls (matrix multiplies, including those "
                f"written a @ b, which count in the function that uses them) and carry {100 * bm / b:.0f}% of b. "
                f"The other {100 * (1 - bm / b):.0f}% of b did not speed up with threads: element-wise NumPy passes, "
                f"copies (im2col, col2im, masks), reductions and Python, which run on one thread. {spin}")
        else:
            out.append(
                f"Threads: with the BLAS on 1 thread instead of {an['blas_threads']} the step at batch "
                f"{last['batch_size']} takes {_ms(t1)} instead of {_ms(last['step_seconds'])}, and no function "
                f"that matters ran {SPED_UP}x faster on more threads: all of b runs on one thread. {spin}")
    else:
        out.append(
            f"Threads: the process used {ratio:.2f} CPU seconds per second of a step at batch {last['batch_size']} "
            f"(1.00 = one thread busy). The BLAS it loaded is neither OpenBLAS nor MKL (or there is none), "
            f"so it could not be set to one thread for comparison, so how much of b ran on several threads was not "
            f"measured.")
    if last["gflops"]:
        peak = an["peak_gflops"]
        tail = (f", {last['percent_of_peak']:.1f}% of this machine's measured peak of {peak:.1f} GFLOP/s "
                f"(batchscope peak); at the peak an image would cost {_ms(last['flops_per_image'] / (peak * 1e9))}"
                if peak else "")
        out.append(
            f"At {last['flops_per_image'] / 1e6:.2f} MFLOP per trained image, batch {last['batch_size']} runs at "
            f"{last['gflops']:.2f} GFLOP/s{tail}.")
    ov = an["overhead"]
    out.append(
        f"The profiler's own cost: profiled steps ran {100 * min(ov):.0f}-{100 * max(ov):.0f}% slower than "
        f"plain ones ({first['profile_events_per_step']:.0f} call events per step at batch {first['batch_size']}); "
        f"the times per function are scaled back to the plain steps, which are timed without it.")
    return out


def _table(rows):
    head = ["batch", "steps", "ms/step", "img/s", "s/epoch", "CPU/wall", "GFLOP/s", "% peak", "profiler +%"]
    body = []
    for r in rows:
        body.append([str(r["batch_size"]), str(r["steps"]), f"{1e3 * r['step_seconds']:.3f}",
                     f"{r['images_per_second']:.1f}", f"{r['epoch_seconds']:.1f}", f"{r['cpu_per_wall']:.2f}",
                     f"{r['gflops']:.2f}" if r["gflops"] else "-",
                     f"{r['percent_of_peak']:.1f}" if r["percent_of_peak"] else "-",
                     f"{100 * r['profiler_overhead']:.0f}"])
    return head, body


def _pieces_table(an):
    head = ["function (self time)", "a ms/step", "b ms/image", "share of a %", "share of b %",
            f"x faster on {an['blas_threads']} BLAS threads" if an["blas_threads"] else "x faster on more BLAS threads"]
    body = []
    for p in an["pieces"]:
        body.append([p["label"], f"{1e3 * p['a']:.4f}", f"{1e3 * p['b']:.5f}",
                     f"{100 * p['a'] / an['a']:.1f}" if an["a"] > 0 else "-",
                     f"{100 * p['b'] / an['b']:.1f}" if an["b"] > 0 else "-",
                     f"{p['threads_speedup']:.2f}" if p["threads_speedup"] is not None else "-"])
    return head, body


def _text_table(head, body):
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head)] + [line(r) for r in body]) + "\n"


def _md_table(head, body):
    out = "| " + " | ".join(head) + " |\n|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|\n"
    return out + "".join("| " + " | ".join(r) + " |\n" for r in body)


def _header(meta):
    return [f"command   {meta['command']}", f"step      {meta['target']}", f"python    {meta['python']}",
            f"threads   {meta['threads']} ({meta['blas']})", f"timing    {meta['timing']}",
            f"peak      {meta['peak_note']}"]


def text_report(meta, rows, an):
    out = "# batchscope sweep of your step: time per batch size, and where it goes\n"
    out += "".join(f"# {l}\n" for l in _header(meta)) + "#\n"
    out += _text_table(*_table(rows)) + "#\n"
    out += _text_table(*_pieces_table(an))
    out += "#\n# why (every figure measured in this run):\n" + "".join(f"# - {p}\n" for p in an["explanation"])
    return out


def markdown_report(meta, rows, an):
    out = "# batchscope sweep of your step\n\n" + "".join(f"    {l}\n" for l in _header(meta))
    out += "\n## Time per batch size\n\n" + _md_table(*_table(rows))
    out += "\n![seconds per epoch against batch size](epoch_time.svg)\n"
    out += ("\n## Where it goes, per function\n\nSelf time (a function's own time, less the functions it "
            "called), fitted as a + b*B per step; the rows add up to the step.\n\n" + _md_table(*_pieces_table(an)))
    out += "\n## Why\n\nEvery figure below was measured in this run.\n\n" + "".join(f"- {p}\n" for p in an["explanation"])
    return out


def csv_report(rows, an):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["kind", "name", "batch_size", "seconds_per_step", "images_per_second", "seconds_per_epoch",
                "cpu_per_wall", "gflops", "percent_of_peak", "calls_per_step"])
    for r in rows:
        w.writerow(["step", "step", r["batch_size"], f"{r['step_seconds']:.6g}", f"{r['images_per_second']:.6g}",
                    f"{r['epoch_seconds']:.6g}", f"{r['cpu_per_wall']:.4g}",
                    f"{r['gflops']:.6g}" if r["gflops"] else "", f"{r['percent_of_peak']:.4g}" if r["percent_of_peak"] else "", ""])
    for p in an["pieces"]:
        for i, r in enumerate(rows):
            w.writerow(["function_self", p["label"], r["batch_size"], f"{p['per_step'][i]:.6g}", "", "", "", "", "",
                        f"{p['calls'][i]:.6g}" if p["calls"] else ""])
    return buf.getvalue()


def json_report(meta, rows, an):
    def piece(p):
        return {"function": p["label"], "a_seconds_per_step": p["a"], "b_seconds_per_image": p["b"],
                "cpu_per_wall": p["cpu_per_wall"], "faster_on_blas_threads": p.get("threads_speedup"),
                "seconds_per_step": p["per_step"]}
    results = [{k: v for k, v in r.items() if k not in ("functions", "blas_one_thread")} for r in rows]
    return {**meta, "results": results,
            "cost_model": {"a_seconds_per_step": an["a"], "b_seconds_per_image": an["b"], "r2": an["r2"],
                           "floor_seconds_per_epoch": an["floor_seconds"],
                           "batch_within_10pct_of_floor": an["batch_within_10pct"]},
            "functions_self": [piece(p) for p in an["pieces"]],
            "functions_inclusive": [piece(p) for p in an["own"]],
            "blas_threads": an["blas_threads"],
            "step_seconds_blas_one_thread": an["step_one_thread_seconds"],
            "b_multi_thread_seconds_per_image": an["b_multi_thread"],
            "explanation": an["explanation"]}


def epoch_svg(meta, rows, an):
    """Seconds per epoch against batch size (log-2 x axis): measured points and the fit."""
    W, H, L, R, T, B = 720, 420, 70, 20, 40, 60
    xs = [r["batch_size"] for r in rows]
    ys = [r["epoch_seconds"] for r in rows]
    lo, hi = math.log2(min(xs)), math.log2(max(xs))
    hi = hi if hi > lo else lo + 1
    ymax = max(ys) * 1.1
    px = lambda b: L + (math.log2(b) - lo) / (hi - lo) * (W - L - R)
    py = lambda s: H - B - s / ymax * (H - T - B)
    n = an["epoch_images"]
    fit = [(b, n * (an["a"] / b + an["b"])) for b in (2 ** (lo + i * (hi - lo) / 64) for i in range(65))]
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{esc("Seconds per epoch against batch size: " + meta["target"])}</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for b in xs:
        out.append(f'<text x="{px(b):.1f}" y="{H - B + 16}" text-anchor="middle">{b}</text>')
    for i in range(6):
        s = ymax * i / 5
        out.append(f'<text x="{L - 6}" y="{py(s) + 4:.1f}" text-anchor="end">{s:.0f}</text>')
    out.append(f'<text x="{W / 2}" y="{H - 22}" text-anchor="middle">batch size</text>')
    out.append(f'<text x="16" y="{H / 2}" transform="rotate(-90 16 {H / 2})" text-anchor="middle">seconds per epoch</text>')
    if an["b"] > 0:
        pts = " ".join(f"{px(b):.1f},{py(min(s, ymax)):.1f}" for b, s in fit)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#d62728" stroke-width="1.5"/>')
        out.append(f'<line x1="{L}" y1="{py(an["floor_seconds"]):.1f}" x2="{W - R}" y2="{py(an["floor_seconds"]):.1f}" '
                   f'stroke="#7f7f7f" stroke-dasharray="4 3"/>')
    pts = " ".join(f"{px(b):.1f},{py(s):.1f}" for b, s in zip(xs, ys))
    out.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    out += [f'<circle cx="{px(b):.1f}" cy="{py(s):.1f}" r="3.5" fill="#1f77b4"/>' for b, s in zip(xs, ys)]
    out.append(f'<text x="{L + 8}" y="{T + 14}" fill="#1f77b4">measured</text>')
    out.append(f'<text x="{L + 8}" y="{T + 30}" fill="#d62728">fit N(a/B + b): a = {1e3 * an["a"]:.3f} ms, b = {1e3 * an["b"]:.4f} ms</text>')
    out.append(f'<text x="{L + 8}" y="{T + 46}" fill="#7f7f7f">floor N*b = {an["floor_seconds"]:.1f} s</text>')
    out.append("</svg>\n")
    return "\n".join(out)


def write_files(out_dir, meta, rows, an):
    """The four files, each written to a temporary name and renamed: never half-written."""
    os.makedirs(out_dir, exist_ok=True)
    files = {"sweep.md": markdown_report(meta, rows, an), "sweep.csv": csv_report(rows, an),
             "sweep.json": json.dumps(json_report(meta, rows, an), indent=2) + "\n",
             "epoch_time.svg": epoch_svg(meta, rows, an)}
    written = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        written.append(path)
    return written
