#!/usr/bin/python3
"""Google Benchmark (bench/micro_bench.cpp) summary: median, min and max.

Runs the micro_bench program with --repetitions repetitions of every
benchmark (JSON output), and prints per benchmark the median, min and max
of the repetitions: time per iteration and items per second, and ns per item
(1e9 / median items per second; for the threaded ring benchmarks, items of
all threads together). No server involved.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import common as c


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", default="build/bench/micro_bench")
    p.add_argument("--repetitions", type=int, default=10)
    p.add_argument("--min-time", default="0.05", help="--benchmark_min_time (seconds)")
    p.add_argument("--json", help="write the summary here")
    args = p.parse_args()

    with tempfile.NamedTemporaryFile(suffix=".json", prefix="fc_micro_", delete=False) as f:
        out = f.name
    started = time.time()
    try:
        cmd = [args.binary, f"--benchmark_repetitions={args.repetitions}",
               f"--benchmark_min_time={args.min_time}", f"--benchmark_out={out}",
               "--benchmark_out_format=json"]
        run = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            sys.exit(f"micro_bench failed ({run.returncode}): {run.stderr[-2000:]}")
        with open(out) as f:
            data = json.load(f)
    finally:
        os.unlink(out)

    runs = {}
    order = []
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = b["run_name"]
        if name not in runs:
            runs[name] = {"time": [], "items": [], "unit": b.get("time_unit", "ns")}
            order.append(name)
        runs[name]["time"].append(b["real_time"])
        if "items_per_second" in b:
            runs[name]["items"].append(b["items_per_second"])
    errors = [b["run_name"] for b in data["benchmarks"] if b.get("error_occurred")]

    ctx = data.get("context", {})
    summary = {}
    rows = []
    for name in order:
        r = runs[name]
        t = c.summary(r["time"])
        it = c.summary(r["items"]) if r["items"] else None
        per_item = 1e9 / it["median"] if it else None
        summary[name] = {"time": t, "unit": r["unit"], "items_per_s": it, "ns_per_item": per_item}
        rows.append([f"`{name}`", f"{c.num(t['median'])} {r['unit']}",
                     f"{c.num(t['min'])} – {c.num(t['max'])}",
                     c.num(it["median"] / 1e6) if it else "–",
                     f"{c.num(it['min'] / 1e6)} – {c.num(it['max'] / 1e6)}" if it else "–",
                     c.num(per_item) if per_item else "–"])
    print("## In-process structures (Google Benchmark)\n")
    print(f"`{os.path.basename(args.binary)} --benchmark_repetitions={args.repetitions} "
          f"--benchmark_min_time={args.min_time}` (bench/micro_bench.cpp, meson "
          f"buildtype=release); {ctx.get('num_cpus', '?')} CPUs at "
          f"{ctx.get('mhz_per_cpu', '?')} MHz (the Google Benchmark library itself, Debian's "
          f"package, reports a {ctx.get('library_build_type', '?')} build). "
          f"Median of {args.repetitions} repetitions, [min – max]; wall-clock time. "
          f"Run time {time.time() - started:.0f}s.\n")
    print(c.table(["benchmark", "time per iteration", "[min – max]", "M items/s",
                   "[min – max]", "ns per item"], rows, "lrrrrr"))
    print()
    print("Reading: `VersionTableLookupHit` is the shared-memory read behind current_version() "
          "(writer:1 with the worker's stores running on another thread); `PairSetAdd*` is the "
          "row trigger's per-row dedup; `Ring*` the commit hand-off (items = pairs); "
          "`DomainDictFind` the domain-name lookup every current_version() call makes.\n")
    if errors:
        print(f"Benchmarks that reported an error: {', '.join(errors)}\n")
    c.write_json(args.json, summary)


if __name__ == "__main__":
    sys.exit(main())
