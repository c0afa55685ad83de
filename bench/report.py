#!/usr/bin/python3
"""Assembles bench/RESULTS.md from the drivers' sections and figures.

    report.py DIR --command CMD --seconds N > RESULTS.md

DIR holds, per driver, NAME.md (its Markdown section) and NAME.json (its
figures): micro, write_cost, concurrency, reads, lag, throughput,
throughput_single, shmem (+ shmem_large). Missing ones are reported as
missing. The targets table compares figures with the issue's targets:
reporting, never asserting (the exit status does not depend on them).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import common as c


def load(d, name):
    p = os.path.join(d, name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def section(d, name):
    p = os.path.join(d, name + ".md")
    if not os.path.exists(p) or os.path.getsize(p) == 0:
        return f"*({name}: not run or failed; see the benchmark's output.)*\n"
    with open(p) as f:
        return f.read().rstrip() + "\n"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1048576:.1f} GiB"
    except OSError:
        pass
    return cpu, mem


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def git_state():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", ":/src", ":/sql",
                                ":/include"])
        return head + (" + uncommitted changes in src/sql/include" if dirty.returncode else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def verdict(ok):
    if ok is None:
        return "not measured"
    return "**met**" if ok else "**missed**"


def targets(d):
    rows = []

    def add(target, measured, ok):
        rows.append([target, measured, verdict(ok)])

    wc = load(d, "write_cost")
    if wc and "update_all" in wc:
        u = wc["update_all"]
        f, n, o = u["fraiseql"]["median"], u["none"]["median"], u["noop"]["median"]
        add("10k-row UPDATE ≤ 1.25× no trigger", f"{f / n:.2f}× ({f:.1f} vs {n:.1f} ms)",
            f / n <= 1.25)
        add("10k-row UPDATE within 5% of the noop C trigger", f"{f / o:.2f}× ({f:.1f} vs {o:.1f} ms)",
            f / o <= 1.05)
    else:
        add("10k-row UPDATE ≤ 1.25× no trigger", "–", None)
        add("10k-row UPDATE within 5% of the noop C trigger", "–", None)

    cc = load(d, "concurrency")
    if cc:
        t = cc["tps"]
        n = t["none"]["median"]
        f = t["fraiseql"]["median"]
        pr = cc.get("paired", {})

        def per_round(k):
            return f"; per-round median {pr[k]['median']:.2f}×" if k in pr else ""
        add("concurrent writers ≥ 0.95× no-trigger TPS (wait_for_bump = on)",
            f"{f / n:.2f}× ({f:,.0f} vs {n:,.0f} TPS{per_round('fraiseql')})", f / n >= 0.95)
        if "fraiseql_nowait" in t:
            fo = t["fraiseql_nowait"]["median"]
            add("concurrent writers ≥ 0.95× no-trigger TPS (wait_for_bump = off)",
                f"{fo / n:.2f}× ({fo:,.0f} TPS{per_round('fraiseql_nowait')})", fo / n >= 0.95)
        pl = [(k, t[k]["median"] / n) for k in ("naive", "tracker") if k in t]
        if pl:
            add("PL/pgSQL baselines fall below 0.5× no-trigger TPS",
                ", ".join(f"{c.VARIANTS[k]} {r:.2f}×" for k, r in pl), all(r < 0.5 for _, r in pl))
    else:
        add("concurrent writers ≥ 0.95× no-trigger TPS", "–", None)

    rd = load(d, "reads")
    if rd:
        ln = rd["loop_ns"]
        cv, pk = ln["current_version"]["net"]["median"], ln["pk"]["net"]["median"]
        cvr, pkr = ln["current_version"]["raw"]["median"], ln["pk"]["raw"]["median"]
        add("current_version() ≥ 10× faster per call than a PK lookup (in the server)",
            f"{pk / cv:.0f}× net of the loop ({cv:.0f} vs {pk:.0f} ns); {pkr / cvr:.1f}× with "
            f"the loop's own {ln['empty']['raw']['median']:.0f} ns included", pk / cv >= 10)
        e = rd["e2e_tps"]
        r = e["current_version"]["median"] / e["select1"]["median"]
        pr = rd.get("e2e_paired", {}).get("current_version")
        add("current_version() ≥ 0.95× SELECT 1 end to end (pgbench -M prepared)",
            f"{r:.2f}× ({e['current_version']['median']:,.0f} vs "
            f"{e['select1']['median']:,.0f} TPS"
            + (f"; per-round median {pr['median']:.2f}×" if pr else "") + ")", r >= 0.95)
    else:
        add("current_version() ≥ 10× faster per call than a PK lookup", "–", None)
        add("current_version() ≥ 0.95× SELECT 1 end to end", "–", None)

    lg = load(d, "lag")
    if lg:
        on = lg["on"]["lag_sent"]
        off = lg["off"]["lag_sent"]
        add("lag COMMIT → NOTIFY p99 ≤ 5 ms (200 commits/s)",
            f"wait_for_bump on: p99 {on['p99']['median']:.2f} ms (runs {on['p99']['min']:.2f} – "
            f"{on['p99']['max']:.2f}; pooled {on['pooled_p99']:.2f}), p50 "
            f"{on['p50']['median']:.2f} ms; COMMIT's own round trip p99 "
            f"{lg['on']['commit_ms']['p99']['median']:.2f} ms. wait_for_bump off: p99 "
            f"{off['p99']['median']:.2f} ms, from COMMIT returned p99 "
            f"{lg['off']['lag_returned']['p99']['median']:.2f} ms. Commit time = when the "
            "COMMIT was sent",
            on["p99"]["median"] <= 5.0)
    else:
        add("lag COMMIT → NOTIFY p99 ≤ 5 ms", "–", None)

    for name, label in (("throughput", "sustained, default settings"),
                        ("throughput_single", "one 100k-tenant transaction")):
        tp = load(d, name)
        if tp:
            b = tp["bumps_per_s"]
            cpu = tp.get("worker_cpu", {}).get("bumps_per_cpu_s")
            extra = f"; {cpu:,.0f} per worker CPU-second" if cpu else ""
            add(f"≥ 100k pair bumps/s ({label})",
                f"{b['median']:,.0f}/s (runs {b['min']:,.0f} – {b['max']:,.0f}){extra}",
                b["median"] >= 100000)
        else:
            add(f"≥ 100k pair bumps/s ({label})", "–", None)

    sh = load(d, "shmem")
    if sh:
        add("≤ 128 bytes of shared memory per pair (default settings)",
            f"{sh['per_pair_segment']:.0f} bytes (segment {sh['segment_bytes']:,} ÷ max_entries "
            f"{sh['max_entries']:,}); version table alone {sh['per_pair_table']:.0f}",
            sh["per_pair_segment"] <= 128)
    else:
        add("≤ 128 bytes of shared memory per pair", "–", None)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir")
    p.add_argument("--command", default="make benchmark")
    p.add_argument("--seconds", type=float, default=None, help="total run time")
    p.add_argument("--server-version", default=None)
    args = p.parse_args()
    d = args.dir
    cpu, mem = machine()
    meta = load(d, "meta") or {}
    server = args.server_version or meta.get("server_version", "unknown")

    out = []
    out.append("# pg_fraiseql_cache benchmarks\n")
    out.append(f"Generated by `{args.command}` (scripts/benchmark.sh, drivers in bench/): "
               "measurements only — nothing here passes or fails on time, and `make test` "
               "asserts no timing. Every figure is the median of at least 10 interleaved "
               "runs, with min and max, and a ratio to its baseline where it has one "
               "(no trigger, PK lookup, SELECT 1).\n")
    out.append(c.table(["", ""], [
        ["date", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())],
        ["machine", f"{os.cpu_count()} CPUs, {cpu}, "
                    f"{mem} RAM; shared, with noisy neighbours"],
        ["kernel", f"{platform.system()} {platform.release()}"],
        ["load average (1, 5, 15 min)", f"{meta.get('load_at_start', '?')} at the start, "
                                        f"{loadavg()} at the end (above the CPU count "
                                        "means other work was competing)"],
        ["PostgreSQL", server],
        ["cluster", meta.get("cluster", "throwaway, scripts/cluster.sh")],
        ["git (as built)", meta.get("git") or git_state()],
        ["total run time", f"{args.seconds:.0f} s" if args.seconds else "–"],
    ], "ll"))
    out.append("")
    out.append("## Targets\n")
    out.append("The issue's targets, compared with the medians below (the verdict uses the "
               "ratio of the medians; *per-round* is the median of each round's own ratio, "
               "which cancels more of the machine's drift). Reported, never asserted.\n")
    out.append(c.table(["target", "measured (median)", "verdict"], targets(d), "lll"))
    out.append("")
    notes = os.path.join(d, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            out.append(f.read().rstrip() + "\n")
    for name in ("micro", "write_cost", "concurrency", "reads", "lag"):
        out.append(section(d, name))
    out.append("## Worker throughput\n")
    out.append(section(d, "throughput"))
    out.append(section(d, "throughput_single"))
    out.append(section(d, "shmem"))
    out.append(READING)
    sys.stdout.write("\n".join(out))


READING = """## Reading the numbers

- Variants and statements are interleaved round-robin, the starting one rotated every
  round, so drift, checkpoints and neighbours hit them alike; medians, with [min – max].
  On this small shared machine a 5–10% difference between two medians can be noise.
- *noop C trigger* is the floor of any row trigger: its distance to *no trigger* is
  PostgreSQL's trigger machinery, not pg_fraiseql_cache. On COPY it also shows the loss of
  multi-insert batching that every BEFORE ROW INSERT trigger causes.
- pg_fraiseql_cache's COMMIT waits (`fraiseql_cache.wait_for_bump`, on by default) for the
  worker to persist and publish the transaction's bumps. With serial commits that is one
  worker transaction per commit, which dominates the 1-row UPDATE in the write-cost table;
  the concurrency and lag sections show the setting on and off.
- On two cores the background worker competes with the writers for CPU: its time per bump
  (throughput section) is the price of every bump, whether or not a commit waits for it.
- The in-server read loop's *net* figure subtracts the empty loop (generate_series + count),
  which costs more than the version read itself; the raw figure is given alongside.
"""


if __name__ == "__main__":
    sys.exit(main())
